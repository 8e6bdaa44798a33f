/*
 * Simulated MIG state shared by the simulated NVML and CUDA drivers (see
 * mig_state.h): MIG device lookup and naming, process bindings, and the
 * pending -> current MIG mode change that happens once the GPU is idle.
 *
 * Profile figures (memory, SMs) come from gpuplex's MIG catalog
 * (src/core/mig_catalog.c), the same table the planner uses: the simulator
 * is a model of the documented hardware, not a second opinion on it.
 */
#define _GNU_SOURCE
#include "mig_state.h"

#include "abi/nvml_abi.h"
#include "core/mig_catalog.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct gpx_mig_model *model_of(const struct gpx_sim_gpu *g)
{
    const struct gpx_sim_model_info *mi = gpx_sim_model((enum gpx_sim_model)g->model);
    int m = mi ? gpx_mig_model_find(mi->spec_name) : -1;
    return m < 0 ? NULL : gpx_mig_model_get((enum gpx_mig_model_id)m);
}

static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void gpx_sim_mig_uuid(const struct gpx_sim_gpu *g, unsigned gi, unsigned ci, char out[80])
{
    uint64_t h = 0x4d4947ULL; /* "MIG" */
    for (const char *s = g->uuid; *s; s++)
        h = mix(h ^ (unsigned char)*s);
    h = mix(h ^ ((uint64_t)gi << 8 | ci));
    uint64_t a = mix(h), b = mix(h ^ a);
    /* version-5 style, as the driver's MIG UUIDs are */
    snprintf(out, 80, "MIG-%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffffU, ((unsigned)a & 0x0fffU) | 0x5000U,
             ((unsigned)(b >> 48) & 0x3fffU) | 0x8000U,
             (unsigned long long)(b & 0xffffffffffffULL));
}

static int binding_live(const struct gpx_sim_gpu *g, const struct gpx_sim_mig *m, unsigned slot)
{
    const struct gpx_sim_mig_binding *b = &m->proc[slot];
    const struct gpx_sim_proc *p = &g->procs[slot];
    return b->gi && b->pid != 0 && atomic_load(&p->pid) == b->pid &&
           p->start_ticks == b->start_ticks && gpx_sim_proc_alive(p);
}

int gpx_sim_mig_proc_ids_locked(struct gpx_sim_gpu *g, unsigned slot, unsigned *gi, unsigned *ci)
{
    struct gpx_sim_mig *m = gpx_sim_mig_of(g);
    if (slot >= GPX_SIM_MAX_PROCS || !binding_live(g, m, slot))
        return -1;
    *gi = m->proc[slot].gi - 1U;
    *ci = m->proc[slot].ci - 1U;
    return 0;
}

int gpx_sim_mig_device_get_locked(struct gpx_sim_state *st, uint32_t gpu, unsigned gi, unsigned ci,
                                  struct gpx_sim_mig_device *out)
{
    if (gpu >= st->hdr->gpu_count || gi >= GPX_SIM_MIG_MAX_GI || ci >= GPX_SIM_MIG_MAX_CI)
        return -1;
    struct gpx_sim_gpu *g = &st->gpus[gpu];
    struct gpx_sim_mig *m = gpx_sim_mig_of(g);
    const struct gpx_sim_mig_gi *G = &m->gi[gi];
    if (g->mig_current != NVML_DEVICE_MIG_ENABLE || !G->used || !G->ci[ci].used)
        return -1;
    const struct gpx_mig_model *model = model_of(g);
    int p = model ? gpx_mig_profile_by_id(model, G->profile_id) : -1;
    if (p < 0)
        return -1;
    memset(out, 0, sizeof *out);
    out->gpu = gpu;
    out->gi = gi;
    out->ci = ci;
    out->memory_total = (uint64_t)model->profiles[p].memory_mib << 20;
    out->sm_count = model->profiles[p].sm_count;
    snprintf(out->profile, sizeof out->profile, "%s", model->profiles[p].name);
    struct gpx_mig_ci_profile cps[GPX_MIG_MAX_CI_PROFILES];
    unsigned n = gpx_mig_ci_profiles(model, (unsigned)p, cps);
    for (unsigned k = 0; k < n; k++) {
        if (cps[k].id == G->ci[ci].profile_id) {
            out->sm_count = cps[k].sm_count;
            snprintf(out->profile, sizeof out->profile, "%.40s", cps[k].name);
        }
    }
    snprintf(out->name, sizeof out->name, "%.40s MIG %s", g->name, out->profile);
    gpx_sim_mig_uuid(g, gi, ci, out->uuid);
    return 0;
}

int gpx_sim_mig_find_uuid(struct gpx_sim_state *st, const char *uuid,
                          struct gpx_sim_mig_device *out)
{
    if (!uuid || strncasecmp(uuid, "MIG-", 4) != 0)
        return -1;
    int rc = -1;
    gpx_sim_lock(st);
    for (uint32_t k = 0; k < st->hdr->gpu_count && rc < 0; k++) {
        struct gpx_sim_gpu *g = &st->gpus[k];
        if (g->mig_current != NVML_DEVICE_MIG_ENABLE)
            continue;
        struct gpx_sim_mig *m = gpx_sim_mig_of(g);
        for (unsigned gi = 0; gi < GPX_SIM_MIG_MAX_GI && rc < 0; gi++) {
            for (unsigned ci = 0; m->gi[gi].used && ci < GPX_SIM_MIG_MAX_CI && rc < 0; ci++) {
                if (!m->gi[gi].ci[ci].used)
                    continue;
                char u[80];
                gpx_sim_mig_uuid(g, gi, ci, u);
                if (strcasecmp(u, uuid) == 0)
                    rc = gpx_sim_mig_device_get_locked(st, k, gi, ci, out);
            }
        }
    }
    gpx_sim_unlock(st);
    return rc;
}

unsigned gpx_sim_mig_device_count(struct gpx_sim_state *st, uint32_t gpu)
{
    if (gpu >= st->hdr->gpu_count)
        return 0;
    unsigned n = 0;
    gpx_sim_lock(st);
    struct gpx_sim_gpu *g = &st->gpus[gpu];
    struct gpx_sim_mig *m = gpx_sim_mig_of(g);
    for (unsigned gi = 0; g->mig_current == NVML_DEVICE_MIG_ENABLE && gi < GPX_SIM_MIG_MAX_GI; gi++)
        for (unsigned ci = 0; m->gi[gi].used && ci < GPX_SIM_MIG_MAX_CI; ci++)
            n += m->gi[gi].ci[ci].used;
    gpx_sim_unlock(st);
    return n;
}

int gpx_sim_mig_device_at(struct gpx_sim_state *st, uint32_t gpu, unsigned index,
                          struct gpx_sim_mig_device *out)
{
    if (gpu >= st->hdr->gpu_count)
        return -1;
    int rc = -1;
    unsigned n = 0;
    gpx_sim_lock(st);
    struct gpx_sim_gpu *g = &st->gpus[gpu];
    struct gpx_sim_mig *m = gpx_sim_mig_of(g);
    for (unsigned gi = 0; g->mig_current == NVML_DEVICE_MIG_ENABLE && gi < GPX_SIM_MIG_MAX_GI;
         gi++) {
        for (unsigned ci = 0; m->gi[gi].used && ci < GPX_SIM_MIG_MAX_CI; ci++) {
            if (m->gi[gi].ci[ci].used && n++ == index) {
                rc = gpx_sim_mig_device_get_locked(st, gpu, gi, ci, out);
                goto done;
            }
        }
    }
done:
    gpx_sim_unlock(st);
    return rc;
}

int gpx_sim_mig_bind(struct gpx_sim_state *st, uint32_t gpu, const struct gpx_sim_proc *p,
                     uint32_t gi, uint32_t ci)
{
    if (gpu >= st->hdr->gpu_count)
        return -1;
    struct gpx_sim_gpu *g = &st->gpus[gpu];
    if (p < g->procs || p >= g->procs + GPX_SIM_MAX_PROCS)
        return -1;
    unsigned slot = (unsigned)(p - g->procs);
    struct gpx_sim_mig *m = gpx_sim_mig_of(g);
    int rc = 0;
    gpx_sim_lock(st);
    struct gpx_sim_mig_binding *b = &m->proc[slot];
    if (gi == UINT32_MAX && ci == UINT32_MAX) {
        memset(b, 0, sizeof *b);
    } else if (g->mig_current != NVML_DEVICE_MIG_ENABLE || gi >= GPX_SIM_MIG_MAX_GI ||
               ci >= GPX_SIM_MIG_MAX_CI || !m->gi[gi].used || !m->gi[gi].ci[ci].used) {
        rc = -1;
    } else {
        b->pid = atomic_load(&p->pid);
        b->start_ticks = p->start_ticks;
        b->gi = (uint8_t)(gi + 1);
        b->ci = (uint8_t)(ci + 1);
        m->generation++;
    }
    gpx_sim_unlock(st);
    return rc;
}

uint64_t gpx_sim_mig_used(struct gpx_sim_state *st, uint32_t gpu, unsigned gi)
{
    if (gpu >= st->hdr->gpu_count)
        return 0;
    uint64_t used = 0;
    struct gpx_sim_gpu *g = &st->gpus[gpu];
    gpx_sim_lock(st);
    for (unsigned i = 0; i < GPX_SIM_MAX_PROCS; i++) {
        unsigned bgi, bci;
        if (gpx_sim_mig_proc_ids_locked(g, i, &bgi, &bci) == 0 && bgi == gi)
            used += atomic_load(&g->procs[i].used_bytes);
    }
    gpx_sim_unlock(st);
    return used;
}

unsigned gpx_sim_mig_live_procs_locked(struct gpx_sim_state *st, uint32_t gpu)
{
    struct gpx_sim_gpu *g = &st->gpus[gpu];
    unsigned n = 0;
    for (unsigned i = 0; i < GPX_SIM_MAX_PROCS; i++)
        if (atomic_load(&g->procs[i].pid) != 0 && gpx_sim_proc_alive(&g->procs[i]))
            n++;
    return n;
}

static int any_gi(const struct gpx_sim_mig *m)
{
    for (unsigned i = 0; i < GPX_SIM_MIG_MAX_GI; i++)
        if (m->gi[i].used)
            return 1;
    return 0;
}

/* Applies the pending mode if nothing holds the GPU; caller holds the lock. */
static void settle_locked(struct gpx_sim_state *st, uint32_t gpu)
{
    struct gpx_sim_gpu *g = &st->gpus[gpu];
    struct gpx_sim_mig *m = gpx_sim_mig_of(g);
    if (g->mig_pending == g->mig_current)
        return;
    if (gpx_sim_mig_live_procs_locked(st, gpu) > 0 ||
        (g->mig_pending == NVML_DEVICE_MIG_DISABLE && any_gi(m))) {
        m->activation_status = NVML_ERROR_IN_USE;
        return;
    }
    g->mig_current = g->mig_pending;
    memset(m->gi, 0, sizeof m->gi);
    memset(m->proc, 0, sizeof m->proc);
    m->activation_status = NVML_SUCCESS;
    m->generation++;
}

unsigned gpx_sim_mig_settle(struct gpx_sim_state *st, uint32_t gpu)
{
    if (gpu >= st->hdr->gpu_count)
        return NVML_DEVICE_MIG_DISABLE;
    gpx_sim_reap(st, gpu);
    gpx_sim_lock(st);
    settle_locked(st, gpu);
    unsigned cur = st->gpus[gpu].mig_current;
    gpx_sim_unlock(st);
    return cur;
}

int gpx_sim_mig_set_mode(struct gpx_sim_state *st, uint32_t gpu, unsigned mode)
{
    if (gpu >= st->hdr->gpu_count)
        return NVML_ERROR_INVALID_ARGUMENT;
    gpx_sim_reap(st, gpu);
    gpx_sim_lock(st);
    struct gpx_sim_gpu *g = &st->gpus[gpu];
    struct gpx_sim_mig *m = gpx_sim_mig_of(g);
    g->mig_pending = mode;
    if (g->mig_current == mode)
        m->activation_status = NVML_SUCCESS;
    else
        settle_locked(st, gpu);
    int status = m->activation_status;
    gpx_sim_unlock(st);
    return status;
}

/* What live-looking bindings to `gi` hold (no /proc check: dead slots count until reaped). */
static uint64_t held_locked(struct gpx_sim_gpu *g, unsigned gi)
{
    struct gpx_sim_mig *m = gpx_sim_mig_of(g);
    uint64_t used = 0;
    for (unsigned i = 0; i < GPX_SIM_MAX_PROCS; i++) {
        const struct gpx_sim_mig_binding *b = &m->proc[i];
        if (b->gi == gi + 1U && b->pid != 0 && atomic_load(&g->procs[i].pid) == b->pid &&
            g->procs[i].start_ticks == b->start_ticks)
            used += atomic_load(&g->procs[i].used_bytes);
    }
    return used;
}

uint64_t gpx_sim_mig_held(struct gpx_sim_state *st, uint32_t gpu, unsigned gi)
{
    if (gpu >= st->hdr->gpu_count || gi >= GPX_SIM_MIG_MAX_GI)
        return 0;
    gpx_sim_lock(st);
    uint64_t used = held_locked(&st->gpus[gpu], gi);
    gpx_sim_unlock(st);
    return used;
}

int gpx_sim_mig_charge(struct gpx_sim_state *st, uint32_t gpu, struct gpx_sim_proc *p, unsigned gi,
                       uint64_t gi_total, uint64_t bytes)
{
    if (gpu >= st->hdr->gpu_count || gi >= GPX_SIM_MIG_MAX_GI)
        return -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (attempt)
            gpx_sim_reap(st, gpu); /* a dead process's memory may be in the way */
        gpx_sim_lock(st);
        uint64_t used = held_locked(&st->gpus[gpu], gi);
        int rc = -1;
        if (bytes <= gi_total && used <= gi_total - bytes)
            rc = gpx_sim_mem_charge(st, gpu, p, bytes);
        gpx_sim_unlock(st);
        if (rc == 0)
            return 0;
    }
    return -1;
}

uint64_t gpx_sim_mig_engine_submit_after(struct gpx_sim_state *st, uint32_t gpu, unsigned gi,
                                         unsigned ci, uint64_t not_before, uint64_t ns,
                                         uint64_t gpu_ns, uint64_t *start_out)
{
    struct gpx_sim_gpu *g = &st->gpus[gpu];
    _Atomic uint64_t *busy =
        &gpx_sim_mig_of(g)->engine_busy_until[gi % GPX_SIM_MIG_MAX_GI][ci % GPX_SIM_MIG_MAX_CI];
    uint64_t now = gpx_sim_now_ns();
    uint64_t floor = not_before > now ? not_before : now;
    uint64_t prev = atomic_load(busy);
    uint64_t start, end;
    do {
        start = prev > floor ? prev : floor;
        end = start + ns;
        if (ns == 0)
            break;
    } while (!atomic_compare_exchange_weak(busy, &prev, end));
    if (gpu_ns)
        atomic_fetch_add(&g->engine_busy_total, gpu_ns);
    atomic_fetch_add(&g->kernels_total, 1);
    if (start_out)
        *start_out = start;
    return end;
}
