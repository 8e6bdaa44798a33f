/*
 * The mig backend: `mode: mig` leases, and a GPU's MIG state and changes
 * (GET/POST /v1/gpus/{id}/mig, `gpuplex mig ls|apply`).
 *
 * A mig lease gets one MIG device (a GPU instance of the asked-for profile
 * with its default compute instance): a free instance of that profile when
 * there is one, else a new one where the planner (src/core/mig_plan.c,
 * non-exact) finds room, destroying no leased instance and as few unleased
 * ones as it can (none when there is room). A released lease leaves its
 * instance in place, free: the next lease of that profile takes it at once
 * (creating one costs the driver time on hardware), and a lease or a demand
 * that needs the room destroys it (docs/mig.md, "Leases").
 *
 * Invariants (the engine's lock is held for all but gpx__mig_open):
 * - an instance is leased when an active mig lease names its (GPU, GPU
 *   instance id); one with processes but no lease is someone else's: never
 *   reused, never destroyed;
 * - an instance is created only after its lease's 'pending' row journals the
 *   GPU, profile and placement with mig_created = 1, so that start-up finds
 *   and destroys an instance whose lease never became active;
 * - NVML is read afresh for every decision: the driver says what exists.
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "engine/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MIB (1024ULL * 1024ULL)

void gpx__mig_open(struct gpx_engine *d)
{
    gpx_error e = {0};
    d->mig_ok = gpx_nvml_mig_open(&d->nv, &d->mig, &e) == 0;
    if (!d->mig_ok) {
        snprintf(d->mig_why, sizeof d->mig_why, "%.200s", e.msg);
        gpx_info("MIG: %s; mig leases will be refused", e.msg);
    }
    const char *f = getenv("GPUPLEXD_FAULT");
    if (f && *f) {
        snprintf(d->fault, sizeof d->fault, "%s", f);
        gpx_warn("GPUPLEXD_FAULT=%s: test-only fault injection is on", d->fault);
    }
}

void gpx__fault(struct gpx_engine *d, const char *point)
{
    if (d->fault[0] && strcmp(d->fault, point) == 0) {
        gpx_warn("GPUPLEXD_FAULT: exiting at %s", point);
        _exit(137);
    }
}

/* --- reading ------------------------------------------------------------------------- */

static const struct gpx_lease_rec *lease_on(struct gpx_engine *d, unsigned gpu, unsigned gi)
{
    for (unsigned i = 0; i < d->n_leases; i++) {
        const struct gpx_lease_rec *l = &d->leases[i]->rec;
        if (l->mode == GPX_MODE_MIG && l->gpu_index == gpu && l->mig_gi == (int)gi)
            return l;
    }
    return NULL;
}

/* Reads GPU `index` and marks the instances active leases hold. Caller frees. */
static struct gpx_mig_gpu_state *read_gpu(struct gpx_engine *d, unsigned index, gpx_error *err)
{
    struct gpx_mig_gpu_state *s = malloc(sizeof *s);
    if (!s) {
        gpx_error_set(err, GPX_E_NOMEM, "MIG state");
        return NULL;
    }
    if (gpx_mig_read(&d->nv, &d->mig, index, s, err) < 0) {
        gpx_error_wrap(err, "GPU %u", index);
        free(s);
        return NULL;
    }
    for (unsigned g = 0; g < s->ngi; g++)
        s->gi[g].leased = lease_on(d, index, s->gi[g].id) != NULL;
    return s;
}

static int mig_on(const struct gpx_mig_gpu_state *s)
{
    return s && s->supported && s->mode_current == NVML_DEVICE_MIG_ENABLE;
}

/* A free instance of profile p: unleased, idle, with its MIG device. Index in s->gi, or -1. */
static int free_instance(const struct gpx_mig_gpu_state *s, int p)
{
    for (unsigned g = 0; g < s->ngi; g++) {
        const struct gpx_mig_gi_state *gi = &s->gi[g];
        if (gi->profile == p && !gi->leased && gi->procs == 0 && gi->nci > 0 && gi->ci[0].uuid[0])
            return (int)g;
    }
    return -1;
}

static unsigned used_slices(const struct gpx_mig_model *t, const struct gpx_mig_plan_item *it,
                            unsigned n)
{
    unsigned used = 0;
    for (unsigned i = 0; i < n; i++)
        used += t->profiles[it[i].profile].compute_slices;
    return used;
}

/* Leases on GPU `gpu` that are not mig leases (exclusive ones included). */
static unsigned other_leases(struct gpx_engine *d, unsigned gpu, const struct gpx_lease_rec **first)
{
    unsigned n = 0;
    *first = NULL;
    for (unsigned i = 0; i < d->n_leases; i++) {
        const struct gpx_lease_rec *l = &d->leases[i]->rec;
        if (l->gpu_index == gpu && l->mode != GPX_MODE_MIG && n++ == 0)
            *first = l;
    }
    return n;
}

static unsigned mig_leases(struct gpx_engine *d, unsigned gpu)
{
    unsigned n = 0;
    for (unsigned i = 0; i < d->n_leases; i++)
        n += d->leases[i]->rec.mode == GPX_MODE_MIG && d->leases[i]->rec.gpu_index == gpu;
    return n;
}

/* Per profile of s->table: how many more leases of it the GPU could take. */
static int available(const struct gpx_mig_gpu_state *s, unsigned out[GPX_MIG_MAX_PROFILES],
                     gpx_error *err)
{
    struct gpx_mig_instance cur[GPX_MIG_MAX_INSTANCES];
    unsigned ncur = gpx_mig_current(s, cur);
    struct gpx_mig_planner *p = NULL;
    int rc = gpx_mig_planner_new(&s->table, &p, err);
    if (rc == 0)
        rc = gpx_mig_available(p, cur, ncur, out, err);
    gpx_mig_planner_free(p);
    return rc;
}

/* "GPU 0 (H100-80GB): 1g.10gb x3, 2g.20gb x1" or "...: nothing" */
static size_t fits_line(const struct gpx_mig_gpu_state *s, char *buf, size_t len)
{
    unsigned av[GPX_MIG_MAX_PROFILES] = {0};
    gpx_error e = {0};
    size_t n = (size_t)snprintf(buf, len, "GPU %u (%s): ", s->index, s->table.spec_name);
    if (n >= len)
        return len;
    if (available(s, av, &e) < 0)
        return n + (size_t)snprintf(buf + n, len - n, "unknown (%s)", e.msg);
    int any = 0;
    for (unsigned i = 0; i < s->table.profile_count && n < len; i++)
        if (av[i]) {
            n += (size_t)snprintf(buf + n, len - n, "%s%s x%u", any ? ", " : "",
                                  s->table.profiles[i].name, av[i]);
            any = 1;
        }
    if (!any && n < len)
        n += (size_t)snprintf(buf + n, len - n, "nothing");
    return n < len ? n : len;
}

/* --- placement ----------------------------------------------------------------------- */

struct cand {
    struct gpx_mig_gpu_state *s;
    int profile; /* -1: the model lacks it */
    int usable;  /* MIG on, no exclusive or non-mig lease */
    int reuse_gi;
    struct gpx_mig_plan plan;
    unsigned start;
};

static const char how_to_enable[] =
    "an admin enables it while the GPU is idle: gpuplex mig apply --gpu N --demand PROFILE=COUNT, "
    "or POST /v1/gpus/N/mig {\"enabled\": true}";

/* Whether a new instance of c->profile fits beside the leased ones; fills the option. */
static int plan_new(struct cand *c, struct gpx_place_mig *o, gpx_error *err)
{
    const struct gpx_mig_model *t = &c->s->table;
    struct gpx_mig_instance cur[GPX_MIG_MAX_INSTANCES];
    unsigned ncur = gpx_mig_current(c->s, cur);
    unsigned demand[GPX_MIG_MAX_PROFILES] = {0};
    for (unsigned k = 0; k < ncur; k++)
        demand[c->profile] += cur[k].profile == c->profile;
    if (demand[c->profile] >= t->profiles[c->profile].max_count)
        return 0;
    demand[c->profile]++;
    struct gpx_mig_planner *p = NULL;
    int rc = gpx_mig_planner_new(t, &p, err);
    if (rc == 0)
        rc = gpx_mig_plan(p, cur, ncur, demand, 0, &c->plan, err);
    gpx_mig_planner_free(p);
    if (rc < 0)
        return gpx_error_wrap(err, "GPU %u", c->s->index);
    if (c->plan.satisfied < c->plan.demanded || c->plan.create_count != 1)
        return 0;
    for (unsigned i = 0; i < c->plan.count; i++)
        if (c->plan.items[i].current < 0)
            c->start = c->plan.items[i].start;
    o->fits = 1;
    o->destroys = c->plan.destroy_count;
    o->free_slices = GPX_MIG_COMPUTE_SLICES - used_slices(t, c->plan.items, c->plan.count);
    return 0;
}

static int mig_place(struct gpx_engine *d, const char *profile, int gpu,
                     const struct gpx_place_gpu *pg, unsigned ng, struct gpx_mig_choice **out,
                     gpx_error *err)
{
    *out = NULL;
    if (!d->mig_ok)
        return gpx_error_set(err, GPX_E_NO_SPACE, "mode mig needs a driver that manages MIG: %s",
                             d->mig_why);
    int named = -1; /* position of the named GPU in pg */
    for (unsigned i = 0; i < ng; i++)
        if (gpu >= 0 && pg[i].index == (unsigned)gpu)
            named = (int)i;
    if (gpu >= 0 && named < 0)
        return gpx_error_set(err, GPX_E_INVALID, "no GPU %d on this node (it has %u GPU%s)", gpu,
                             ng, ng == 1 ? "" : "s");
    struct cand *cands = calloc(ng ? ng : 1, sizeof *cands);
    struct gpx_place_mig *opt = calloc(ng ? ng : 1, sizeof *opt);
    char *msg = malloc(GPX_ERROR_MSG_MAX);
    int rc = -1;
    if (!cands || !opt || !msg) {
        gpx_error_set(err, GPX_E_NOMEM, "MIG placement");
        goto out;
    }
    unsigned mig_gpus = 0, knows = 0;
    for (unsigned i = 0; i < ng; i++) {
        struct cand *c = &cands[i];
        struct gpx_place_mig *o = &opt[i];
        c->profile = -1;
        o->index = pg[i].index;
        o->allowed = pg[i].allowed;
        o->leases = pg[i].leases;
        gpx_error e = {0};
        c->s = read_gpu(d, pg[i].index, &e);
        if (!c->s) {
            if ((int)i == named) {
                *err = e;
                goto out;
            }
            gpx_warn("mig placement: %s (GPU left out)", e.msg);
            continue;
        }
        if (!mig_on(c->s))
            continue;
        mig_gpus++;
        const struct gpx_lease_rec *first;
        c->usable = !pg[i].exclusive && other_leases(d, pg[i].index, &first) == 0;
        c->profile = gpx_mig_profile_find(&c->s->table, profile);
        if (c->profile < 0)
            continue;
        knows++;
        if (!c->usable || (named >= 0 && (int)i != named))
            continue;
        c->reuse_gi = free_instance(c->s, c->profile);
        if (c->reuse_gi >= 0) {
            const struct gpx_mig_gi_state *g = &c->s->gi[c->reuse_gi];
            struct gpx_mig_instance cur[GPX_MIG_MAX_INSTANCES];
            unsigned ncur = gpx_mig_current(c->s, cur), used = 0;
            for (unsigned k = 0; k < ncur; k++)
                used += c->s->table.profiles[cur[k].profile].compute_slices;
            o->fits = o->reuse = 1;
            o->free_slices = GPX_MIG_COMPUTE_SLICES - used;
            c->start = g->start;
        } else if (plan_new(c, o, err) < 0) {
            goto out;
        }
    }

    /* the named GPU: say exactly why it cannot */
    if (named >= 0) {
        const struct cand *c = &cands[named];
        const struct gpx_mig_gpu_state *s = c->s;
        const struct gpx_lease_rec *first = NULL;
        if (!s->supported) {
            gpx_error_set(err, GPX_E_NO_SPACE, "GPU %d (%s) does not support MIG", gpu, s->name);
            goto out;
        }
        if (!mig_on(s)) {
            gpx_error_set(err, GPX_E_NO_SPACE,
                          "GPU %d needs MIG mode for a mig lease, and its MIG mode is disabled%s; "
                          "%s",
                          gpu,
                          s->mode_pending == NVML_DEVICE_MIG_ENABLE ? " (enabling pending)" : "",
                          how_to_enable);
            goto out;
        }
        if (c->profile < 0) {
            gpx_mig_profile_parse(&s->table, profile, err);
            gpx_error_wrap(err, "GPU %d", gpu);
            goto out;
        }
        if (other_leases(d, (unsigned)gpu, &first) || pg[named].exclusive) {
            gpx_error_set(err, GPX_E_NO_SPACE, "GPU %d is held by %s lease %s", gpu,
                          first ? gpx_lease_mode_name((enum gpx_lease_mode)first->mode) : "an",
                          first ? first->id : "exclusive");
            goto out;
        }
        if (!pg[named].allowed) {
            gpx_error_set(err, GPX_E_NO_SPACE, "GPU %d would exceed the tenant's max_gpus", gpu);
            goto out;
        }
    } else if (mig_gpus == 0) {
        gpx_error_set(err, GPX_E_NO_SPACE,
                      "mode mig needs a MIG-enabled GPU; none of this node's %u GPU%s has MIG "
                      "mode enabled: %s",
                      ng, ng == 1 ? "" : "s", how_to_enable);
        goto out;
    } else if (knows == 0) {
        size_t n = (size_t)snprintf(msg, GPX_ERROR_MSG_MAX,
                                    "unknown MIG profile '%s' on this node's MIG-enabled GPUs "
                                    "(valid: ",
                                    profile);
        for (unsigned i = 0, first = 1; i < ng && n < GPX_ERROR_MSG_MAX; i++) {
            if (!mig_on(cands[i].s))
                continue;
            char names[256];
            gpx_mig_profile_names(&cands[i].s->table, names, sizeof names);
            n += (size_t)snprintf(msg + n, GPX_ERROR_MSG_MAX - n, "%sGPU %u (%s): %s",
                                  first ? "" : "; ", cands[i].s->index, cands[i].s->table.spec_name,
                                  names);
            first = 0;
        }
        gpx_error_set(err, GPX_E_INVALID, "%s)", msg);
        goto out;
    }

    unsigned at;
    int blocked = 0;
    if (gpx_place_mig(opt, ng, d->placement, &at, &blocked) < 0) {
        if (blocked) {
            gpx_error_set(err, GPX_E_NO_SPACE,
                          "the tenant's max_gpus is reached and none of its GPUs can take a %s "
                          "instance",
                          profile);
            goto out;
        }
        size_t n = 0;
        for (unsigned i = 0; i < ng && n < GPX_ERROR_MSG_MAX; i++) {
            if (!mig_on(cands[i].s) || !cands[i].usable || !pg[i].allowed)
                continue;
            if (n)
                n += (size_t)snprintf(msg + n, GPX_ERROR_MSG_MAX - n, "; ");
            if (n < GPX_ERROR_MSG_MAX)
                n += fits_line(cands[i].s, msg + n, GPX_ERROR_MSG_MAX - n);
        }
        if (named >= 0)
            gpx_error_set(err, GPX_E_NO_SPACE,
                          "no %s instance fits on GPU %d beside its leased instances; what would "
                          "fit: %s",
                          profile, gpu, n ? msg : "nothing");
        else
            gpx_error_set(err, GPX_E_NO_SPACE,
                          "no MIG-enabled GPU can take a %s instance beside its leased "
                          "instances; what would fit: %s",
                          profile, n ? msg : "nothing");
        goto out;
    }

    struct gpx_mig_choice *ch = calloc(1, sizeof *ch);
    if (!ch) {
        gpx_error_set(err, GPX_E_NOMEM, "MIG placement");
        goto out;
    }
    struct cand *c = &cands[at];
    ch->s = c->s;
    c->s = NULL;
    ch->profile = c->profile;
    ch->reuse = opt[at].reuse;
    ch->start = c->start;
    ch->memory = (uint64_t)ch->s->table.profiles[c->profile].memory_mib * MIB;
    if (ch->reuse) {
        const struct gpx_mig_gi_state *g = &ch->s->gi[c->reuse_gi];
        ch->gi = g->id;
        ch->ci = g->ci[0].id;
        snprintf(ch->uuid, sizeof ch->uuid, "%s", g->ci[0].uuid);
    } else {
        ch->plan = c->plan;
    }
    *out = ch;
    rc = 0;
out:
    for (unsigned i = 0; cands && i < ng; i++)
        free(cands[i].s);
    free(cands);
    free(opt);
    free(msg);
    return rc;
}

void gpx__mig_choice_free(struct gpx_mig_choice *c)
{
    if (!c)
        return;
    free(c->s);
    free(c);
}

/* --- changing the GPU ---------------------------------------------------------------- */

static void log_actions(const struct gpx_mig_gpu_state *s, const struct gpx_mig_apply_result *res,
                        const char *why)
{
    for (unsigned i = 0; i < res->n; i++) {
        const struct gpx_mig_action *a = &res->actions[i];
        if (!a->done)
            continue;
        const char *pn = a->profile >= 0 ? s->table.profiles[a->profile].name : "";
        switch (a->kind) {
        case GPX_MIG_ACT_ENABLE:
        case GPX_MIG_ACT_DISABLE:
            gpx_info("GPU %u: MIG mode %s (%s)", s->index,
                     a->kind == GPX_MIG_ACT_ENABLE ? "enabled" : "disabled", why);
            break;
        case GPX_MIG_ACT_DESTROY:
            gpx_info("GPU %u: destroyed MIG instance %s at %u:%u (GPU instance %u) (%s)", s->index,
                     pn, a->start, a->size, a->gi_id, why);
            break;
        case GPX_MIG_ACT_CREATE:
        case GPX_MIG_ACT_CREATE_CI:
            gpx_info("GPU %u: created MIG instance %s at %u:%u (GPU instance %u, compute instance "
                     "%u, %s) (%s)",
                     s->index, pn, a->start, a->size, a->gi_id, a->ci_id, a->uuid, why);
            break;
        }
    }
}

/* Destroys GPU instance s->gi[g] (and its compute instances). */
static int destroy_one(struct gpx_engine *d, const struct gpx_mig_gpu_state *s, unsigned g,
                       const char *why, gpx_error *err)
{
    struct gpx_mig_plan plan;
    memset(&plan, 0, sizeof plan);
    struct gpx_mig_instance cur[GPX_MIG_MAX_INSTANCES];
    unsigned ncur = gpx_mig_current(s, cur);
    for (unsigned k = 0; k < ncur; k++)
        if (gpx_mig_current_gi(s, k) == &s->gi[g])
            plan.destroy[plan.destroy_count++] = (uint8_t)k;
    if (plan.destroy_count != 1)
        return gpx_error_set(err, GPX_E_INTERNAL, "GPU %u: GPU instance %u has no known profile",
                             s->index, s->gi[g].id);
    struct gpx_mig_apply_result *res = malloc(sizeof *res);
    if (!res)
        return gpx_error_set(err, GPX_E_NOMEM, "MIG apply");
    int rc = gpx_mig_apply(&d->nv, &d->mig, s, &plan, 0, 0, res, err);
    log_actions(s, res, why);
    free(res);
    return rc;
}

/* The unleased, idle instance of `profile` at `start` on GPU `gpu`, destroyed if there. */
static void destroy_at(struct gpx_engine *d, unsigned gpu, const char *profile, int start,
                       const char *why)
{
    gpx_error e = {0};
    struct gpx_mig_gpu_state *s = read_gpu(d, gpu, &e);
    if (!s) {
        gpx_warn("%s: %s", why, e.msg);
        return;
    }
    for (unsigned g = 0; mig_on(s) && g < s->ngi; g++) {
        const struct gpx_mig_gi_state *gi = &s->gi[g];
        if (gi->profile < 0 || (int)gi->start != start ||
            strcmp(s->table.profiles[gi->profile].name, profile) != 0)
            continue;
        if (gi->leased || gi->procs) {
            gpx_warn("GPU %u: MIG instance %s at %d is in use; %s: left in place", gpu, profile,
                     start, why);
            break;
        }
        if (destroy_one(d, s, g, why, &e) < 0)
            gpx_warn("GPU %u: %s: %s", gpu, why, e.msg);
        break;
    }
    free(s);
}

static int mig_make_choice(struct gpx_engine *d, struct gpx_mig_choice *c, gpx_error *err)
{
    if (c->reuse)
        return 0;
    const struct gpx_mig_gi_profile *p = &c->s->table.profiles[c->profile];
    struct gpx_mig_apply_result *res = malloc(sizeof *res);
    if (!res)
        return gpx_error_set(err, GPX_E_NOMEM, "MIG apply");
    int rc = gpx_mig_apply(&d->nv, &d->mig, c->s, &c->plan, 0, 0, res, err);
    log_actions(c->s, res, "for a mig lease");
    int found = 0;
    for (unsigned i = 0; rc == 0 && i < res->n; i++) {
        const struct gpx_mig_action *a = &res->actions[i];
        if (a->kind == GPX_MIG_ACT_CREATE && a->done && a->profile == c->profile &&
            a->start == c->start) {
            c->gi = a->gi_id;
            c->ci = a->ci_id;
            snprintf(c->uuid, sizeof c->uuid, "%s", a->uuid);
            found = 1;
        }
    }
    free(res);
    if (rc == 0 && (!found || !c->uuid[0]))
        rc = gpx_error_set(err, GPX_E_DRIVER,
                           "GPU %u: the driver created %s at %u but reports no MIG device UUID "
                           "for it",
                           c->s->index, p->name, c->start);
    if (rc < 0) {
        gpx_error_wrap(err, "creating a %s instance", p->name);
        destroy_at(d, c->s->index, p->name, (int)c->start, "undoing a failed mig lease");
    }
    return rc;
}

static void mig_undo(struct gpx_engine *d, const struct gpx_lease_rec *l)
{
    if (l->mode == GPX_MODE_MIG && l->mig_created && l->mig_start >= 0)
        destroy_at(d, l->gpu_index, l->mig_profile, l->mig_start, "undoing a failed mig lease");
}

/* --- start-up ------------------------------------------------------------------------ */

/* Marks the instances of s that active rows hold (the lease table is not loaded yet). */
static void mark_rows(struct gpx_mig_gpu_state *s, const struct gpx_lease_rec *rows, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        for (unsigned g = 0; g < s->ngi; g++)
            if (rows[i].mode == GPX_MODE_MIG && rows[i].state == GPX_LS_ACTIVE &&
                rows[i].gpu_index == s->index && rows[i].mig_gi == (int)s->gi[g].id)
                s->gi[g].leased = 1;
}

static int mig_startup(struct gpx_engine *d, struct gpx_lease_rec *rows, unsigned n, gpx_error *err)
{
    unsigned nmig = 0;
    for (unsigned i = 0; i < n; i++)
        nmig += rows[i].mode == GPX_MODE_MIG;
    if (!nmig)
        return 0;
    if (!d->mig_ok) {
        gpx_warn("start-up: %u mig lease%s, but %s: their instances are not checked", nmig,
                 nmig == 1 ? "" : "s", d->mig_why);
        return 0;
    }
    unsigned ngpu = 0;
    pthread_mutex_lock(&d->inv_lock);
    ngpu = d->inv.count;
    pthread_mutex_unlock(&d->inv_lock);
    struct gpx_mig_gpu_state **st = calloc(ngpu ? ngpu : 1, sizeof(struct gpx_mig_gpu_state *));
    if (!st)
        return gpx_error_set(err, GPX_E_NOMEM, "MIG start-up");
    int rc = 0;
    unsigned gone = 0, destroyed = 0;
    /* 1. active leases re-attach to their instances, or are released when those are gone */
    for (unsigned i = 0; i < n && rc == 0; i++) {
        struct gpx_lease_rec *l = &rows[i];
        if (l->mode != GPX_MODE_MIG || l->state != GPX_LS_ACTIVE || l->gpu_index >= ngpu)
            continue;
        gpx_error e = {0};
        if (!st[l->gpu_index] && !(st[l->gpu_index] = read_gpu(d, l->gpu_index, &e))) {
            gpx_warn("start-up: lease %s: cannot check its MIG instance: %s", l->id, e.msg);
            continue;
        }
        struct gpx_mig_gpu_state *s = st[l->gpu_index];
        int ok = 0;
        for (unsigned g = 0; mig_on(s) && g < s->ngi && !ok; g++) {
            struct gpx_mig_gi_state *gi = &s->gi[g];
            if ((int)gi->id != l->mig_gi || gi->profile < 0 ||
                strcmp(s->table.profiles[gi->profile].name, l->mig_profile) != 0)
                continue;
            for (unsigned k = 0; k < gi->nci; k++)
                ok |= (int)gi->ci[k].id == l->mig_ci;
        }
        if (ok)
            continue;
        gpx_warn("start-up: lease %s: its MIG instance (%s, GPU instance %d on GPU %u, %s) is "
                 "gone; releasing the lease",
                 l->id, l->mig_profile, l->mig_gi, l->gpu_index, l->mig_uuid);
        l->state = GPX_LS_RELEASED;
        l->released_ns = gpx_now_ns();
        snprintf(l->reason, sizeof l->reason, "its MIG instance is gone");
        if ((rc = gpx_store_lease_update(d->store, l, err)) < 0)
            gpx_error_wrap(err, "releasing lease %s", l->id);
        gpx_lease_region_remove(d->run_dir, l->id, NULL);
        gone++;
    }
    /* 2. instances made for leases that never became active are destroyed (at most one
     * pending row per crash: creation holds the lock) */
    for (unsigned i = 0; i < n && rc == 0; i++) {
        struct gpx_lease_rec *l = &rows[i];
        if (l->mode != GPX_MODE_MIG || l->state != GPX_LS_PENDING || !l->mig_created ||
            l->mig_start < 0 || l->gpu_index >= ngpu)
            continue;
        gpx_error e = {0};
        free(st[l->gpu_index]);
        struct gpx_mig_gpu_state *s = st[l->gpu_index] = read_gpu(d, l->gpu_index, &e);
        if (!s) {
            gpx_warn("start-up: lease %s: cannot check for its MIG instance: %s", l->id, e.msg);
            continue;
        }
        mark_rows(s, rows, n);
        for (unsigned g = 0; mig_on(s) && g < s->ngi; g++) {
            const struct gpx_mig_gi_state *gi = &s->gi[g];
            if ((int)gi->start != l->mig_start || gi->profile < 0 ||
                strcmp(s->table.profiles[gi->profile].name, l->mig_profile) != 0)
                continue;
            if (gi->leased || gi->procs) {
                gpx_warn("start-up: MIG instance %s at %d on GPU %u (of unacknowledged lease "
                         "%s) is in use; left in place",
                         l->mig_profile, l->mig_start, l->gpu_index, l->id);
                break;
            }
            char why[128];
            snprintf(why, sizeof why, "made for lease %s, never acknowledged", l->id);
            if (destroy_one(d, s, g, why, &e) < 0)
                gpx_warn("start-up: %s", e.msg);
            else
                destroyed++;
            break;
        }
    }
    for (unsigned i = 0; i < ngpu; i++)
        free(st[i]);
    free(st);
    if (rc == 0)
        gpx_info("start-up: %u mig lease%s checked: %u lost %s instance (released), %u instance%s "
                 "of unacknowledged leases destroyed",
                 nmig, nmig == 1 ? "" : "s", gone, gone == 1 ? "its" : "their", destroyed,
                 destroyed == 1 ? "" : "s");
    return rc;
}

/* --- the backend ---------------------------------------------------------------------- */

static int place(struct gpx_engine *d, struct gpx__create *c, gpx_error *err)
{
    if (mig_place(d, c->spec->mig_profile, c->gpu, c->pg, c->ng, &c->mig, err) < 0)
        return -1;
    c->at = 0;
    while (c->mig && c->at < c->ng && c->gv[c->at].index != c->mig->s->index)
        c->at++;
    if (!c->mig || c->at == c->ng)
        return gpx_error_set(err, GPX_E_INTERNAL, "MIG placement chose an unknown GPU");
    c->held_memory = c->mig->memory;
    return 0;
}

/* where the instance is (journalled in the pending row before it is made) and, reused, which */
static void fill(struct gpx_engine *d, struct gpx__create *c, struct gpx_lease_rec *l)
{
    (void)d;
    struct gpx_mig_choice *mc = c->mig;
    snprintf(l->mig_profile, sizeof l->mig_profile, "%s", c->spec->mig_profile);
    l->gpu_memory = mc->memory;
    l->mig_start = (int)mc->start;
    l->mig_created = !mc->reuse;
    l->mig_gi = mc->reuse ? (int)mc->gi : -1;
    l->mig_ci = mc->reuse ? (int)mc->ci : -1;
    if (mc->reuse)
        snprintf(l->mig_uuid, sizeof l->mig_uuid, "%s", mc->uuid);
}

static int make(struct gpx_engine *d, struct gpx__create *c, struct gpx_lease_rec *l,
                gpx_error *err)
{
    struct gpx_mig_choice *mc = c->mig;
    if (mc->reuse)
        return 0;
    if (mig_make_choice(d, mc, err) < 0)
        return -1;
    l->mig_gi = (int)mc->gi;
    l->mig_ci = (int)mc->ci;
    snprintf(l->mig_uuid, sizeof l->mig_uuid, "%s", mc->uuid);
    gpx__fault(d, "after_mig_create"); /* tests: a crash between create and commit */
    return 0;
}

const struct gpx__backend gpx__backend_mig = {
    .mode = GPX_MODE_MIG,
    .name = "mig",
    .place = place,
    .fill = fill,
    .make = make,
    .undo = mig_undo,
    .startup = mig_startup,
    .interposed = 0,
};

/* --- a GPU's MIG state and changes (GET/POST /v1/gpus/{id}/mig, gpuplex mig) ------------- */

/* A GPU index or UUID of this node; -1 with NOT_FOUND. */
static int resolve_gpu(struct gpx_engine *d, const char *id, gpx_error *err)
{
    int index = -1;
    pthread_mutex_lock(&d->inv_lock);
    char *end;
    unsigned long v = strtoul(id, &end, 10);
    if (id[0] >= '0' && id[0] <= '9' && !*end && v < d->inv.count)
        index = (int)d->inv.gpus[v].index;
    for (unsigned i = 0; index < 0 && i < d->inv.count; i++)
        if (strcasecmp(d->inv.gpus[i].uuid, id) == 0)
            index = (int)d->inv.gpus[i].index;
    unsigned count = d->inv.count;
    pthread_mutex_unlock(&d->inv_lock);
    if (index < 0)
        return gpx_error_set(err, GPX_E_NOT_FOUND, "no GPU '%.64s' on this node (it has %u GPU%s)",
                             id, count, count == 1 ? "" : "s");
    return index;
}

void gpx_mig_view_free(struct gpx_mig_view *v)
{
    if (!v)
        return;
    free(v->s);
    v->s = NULL;
}

void gpx_mig_applied_free(struct gpx_mig_applied *a)
{
    if (!a)
        return;
    free(a->s);
    free(a->res);
    a->s = NULL;
    a->res = NULL;
}

/*
 * Each instance's lease (its id when the caller may see it), each profile's
 * free instances and how many more leases of it would fit.
 */
static void view_of(struct gpx_engine *d, const struct gpx_caller *c, struct gpx_mig_view *v)
{
    const struct gpx_mig_gpu_state *s = v->s;
    for (unsigned g = 0; g < s->ngi && g < GPX_MIG_MAX_GI; g++) {
        const struct gpx_lease_rec *l = lease_on(d, s->index, s->gi[g].id);
        v->leased[g] = l != NULL;
        if (l && gpx__lease_visible(c, l))
            snprintf(v->lease_of[g], sizeof v->lease_of[g], "%s", l->id);
    }
    gpx_error e = {0};
    v->mig_on = mig_on(s);
    v->have_available = v->mig_on && available(s, v->available, &e) == 0;
    for (unsigned i = 0; i < s->table.profile_count && i < GPX_MIG_MAX_PROFILES; i++)
        for (unsigned g = 0; g < s->ngi; g++) {
            const struct gpx_mig_gi_state *gi = &s->gi[g];
            v->free_instances[i] += gi->profile == (int)i && !gi->leased && gi->procs == 0;
        }
}

int gpx_engine_mig_get(struct gpx_engine *d, const struct gpx_caller *c, const char *gpu,
                       struct gpx_mig_view *out, gpx_error *err)
{
    memset(out, 0, sizeof *out);
    int index = resolve_gpu(d, gpu, err);
    if (index < 0)
        return -1;
    pthread_mutex_lock(&d->lock);
    int rc = -1;
    if (!d->mig_ok)
        gpx_error_set(err, GPX_E_NO_DRIVER, "%s", d->mig_why);
    else if ((out->s = read_gpu(d, (unsigned)index, err)) != NULL) {
        view_of(d, c, out);
        rc = 0;
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

/* The request's profile names as counts of s's profiles; unknown names list the valid ones. */
static int demand_of(const struct gpx_mig_gpu_state *s, const struct gpx_mig_req *r,
                     unsigned demand[GPX_MIG_MAX_PROFILES], gpx_error *err)
{
    memset(demand, 0, GPX_MIG_MAX_PROFILES * sizeof demand[0]);
    for (unsigned i = 0; i < r->n; i++) {
        int p = gpx_mig_profile_parse(&s->table, r->counts[i].profile, err);
        if (p < 0)
            return gpx_error_wrap(err, "GPU %u", s->index);
        demand[p] += r->counts[i].count;
        if (demand[p] > GPX_MIG_MAX_COUNT)
            return gpx_error_set(err, GPX_E_INVALID, "GPU %u: %s counted more than %d times",
                                 s->index, s->table.profiles[p].name, GPX_MIG_MAX_COUNT);
    }
    return 0;
}

static int apply_locked(struct gpx_engine *d, unsigned index, const struct gpx_mig_req *r,
                        struct gpx_mig_applied *out, gpx_error *err)
{
    if (!d->mig_ok)
        return gpx_error_set(err, GPX_E_NO_DRIVER, "%s", d->mig_why);
    struct gpx_mig_gpu_state *s = read_gpu(d, index, err);
    if (!s)
        return -1;
    struct gpx_mig_demand_result *res = NULL;
    int rc = -1;
    const struct gpx_lease_rec *first;
    unsigned others = other_leases(d, index, &first), migs = mig_leases(d, index);
    if (!s->supported) {
        gpx_error_set(err, GPX_E_INVALID, "GPU %u (%s) does not support MIG", index, s->name);
        goto out;
    }
    if (r->enabled == 1 && !mig_on(s) && others) {
        gpx_error_set(err, GPX_E_BUSY,
                      "GPU %u has %u lease%s (%s lease %s): MIG mode can be enabled only on a GPU "
                      "without leases; release %s first",
                      index, others, others == 1 ? "" : "s",
                      gpx_lease_mode_name((enum gpx_lease_mode)first->mode), first->id,
                      others == 1 ? "it" : "them");
        goto out;
    }
    if (r->enabled == 0 && migs) {
        gpx_error_set(err, GPX_E_BUSY,
                      "GPU %u has %u mig lease%s: MIG mode can be turned off only once %s "
                      "released",
                      index, migs, migs == 1 ? "" : "s", migs == 1 ? "it is" : "they are");
        goto out;
    }
    if (r->enabled < 0 && !mig_on(s)) {
        gpx_error_set(err, GPX_E_BUSY,
                      "GPU %u has MIG mode disabled: add \"enabled\": true to enable it (only "
                      "while the GPU is idle)",
                      index);
        goto out;
    }
    if (demand_of(s, r, out->demand, err) < 0)
        goto out;
    res = malloc(sizeof *res);
    if (!res) {
        gpx_error_set(err, GPX_E_NOMEM, "MIG apply");
        goto out;
    }
    struct gpx_mig_demand_opts o = {.enabled = r->enabled != 0,
                                    .exact = r->exact,
                                    .partial = r->partial,
                                    .dry_run = r->dry_run};
    rc = gpx_mig_apply_demand(&d->nv, &d->mig, s, out->demand, &o, res, err);
    if (!r->dry_run)
        log_actions(s, &res->res, "MIG apply");
    if (rc == 0) {
        out->s = s;
        out->res = res;
        out->dry_run = r->dry_run;
        s = NULL;
        res = NULL;
    } else if (res->res.n && !r->dry_run) {
        gpx_error_wrap(err, "GPU %u: stopped after %u of its MIG actions (see the log)", index,
                       res->res.n - 1);
    }
out:
    free(res);
    free(s);
    return rc;
}

int gpx_engine_mig_apply(struct gpx_engine *d, const char *gpu, const struct gpx_mig_req *r,
                         struct gpx_mig_applied *out, gpx_error *err)
{
    memset(out, 0, sizeof *out);
    int index = resolve_gpu(d, gpu, err);
    if (index < 0)
        return -1;
    pthread_mutex_lock(&d->lock);
    int rc = apply_locked(d, (unsigned)index, r, out, err);
    if (!r->dry_run)
        gpx__inventory_refresh_locked(d); /* MIG mode decides where other leases may go */
    pthread_mutex_unlock(&d->lock);
    return rc;
}
