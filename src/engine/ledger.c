/*
 * The lease ledger: the one place that creates, releases, gets and lists
 * leases, and reconciles them with their regions and their owners (node.c,
 * usage.c and meter.c read what it keeps).
 *
 * Crash safety, in the order of the steps (docs/daemon.md has the table):
 *   create:  row 'pending' -> region -> backend make -> row 'active' (durable) -> answer
 *   release: row 'released' (durable) -> region removed -> backend release -> answer
 * So after a crash at any instant: a 'pending' row was never acknowledged
 * (its region, if any, is removed and the row aborted; its backend undoes
 * what it made); an 'active' row was or may have been acknowledged (its
 * region is re-attached, re-created if the run directory lost it); a region
 * whose row is 'released' or 'aborted' is removed. Regions with no row were
 * made by an older gpuplex and are left alone.
 *
 * What differs between modes lives in the backends (internal.h's struct
 * gpx__backend, the table in backend.c, mode_mig.c); this file never branches
 * on a mode, only on what a backend says (whole_gpu, interposed).
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "core/size.h"
#include "engine/internal.h"
#include "shm/container_rec.h"
#include "shm/pidns.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

int64_t gpx_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int owner_alive(const struct gpx_owner *o)
{
    uint64_t t = gpx_lease_proc_start_ticks(o->pid);
    return t != 0 && (o->start_ticks == 0 || t == o->start_ticks);
}

/* --- the active lease table (lock held) ----------------------------------------------------- */

struct gpx_active *gpx__find_active(struct gpx_engine *d, const char *id, unsigned *pos)
{
    for (unsigned i = 0; i < d->n_leases; i++)
        if (strcmp(d->leases[i]->rec.id, id) == 0) {
            if (pos)
                *pos = i;
            return d->leases[i];
        }
    return NULL;
}

static int add_active(struct gpx_engine *d, struct gpx_active *a, gpx_error *err)
{
    if (d->n_leases == d->cap_leases) {
        unsigned cap = d->cap_leases ? d->cap_leases * 2 : 64;
        /* an array of pointers: sizeof *n is the size of a pointer, as meant */
        struct gpx_active **n =
            realloc(d->leases, cap * sizeof *n); // NOLINT(bugprone-sizeof-expression)
        if (!n)
            return gpx_error_set(err, GPX_E_NOMEM, "lease table");
        d->leases = n;
        d->cap_leases = cap;
    }
    d->leases[d->n_leases++] = a;
    return 0;
}

static void drop_active(struct gpx_engine *d, unsigned pos)
{
    struct gpx_active *a = d->leases[pos];
    if (a->mapped)
        gpx_lease_region_close(&a->region);
    free(a);
    memmove(&d->leases[pos], &d->leases[pos + 1],
            (d->n_leases - pos - 1) * sizeof *d->leases); // NOLINT(bugprone-sizeof-expression)
    d->n_leases--;
}

unsigned gpx_engine_lease_count(struct gpx_engine *d)
{
    pthread_mutex_lock(&d->lock);
    unsigned n = d->n_leases;
    pthread_mutex_unlock(&d->lock);
    return n;
}

int gpx__lease_visible(const struct gpx_caller *c, const struct gpx_lease_rec *l)
{
    return c->admin || strcmp(c->tenant, l->tenant) == 0;
}

static void notify(struct gpx_engine *d, enum gpx_lease_event ev, const struct gpx_lease_rec *l)
{
    for (unsigned i = 0; i < d->n_observers; i++)
        d->observers[i].on_event(d->observers[i].arg, ev, l);
}

int gpx_engine_observe(struct gpx_engine *d, const struct gpx_observer *o, gpx_error *err)
{
    pthread_mutex_lock(&d->lock);
    int rc = 0;
    if (d->n_observers == GPX_MAX_OBSERVERS)
        rc = gpx_error_set(err, GPX_E_NOMEM, "more than %d lease observers", GPX_MAX_OBSERVERS);
    else
        d->observers[d->n_observers++] = *o;
    pthread_mutex_unlock(&d->lock);
    return rc;
}

static int make_region(struct gpx_engine *d, const struct gpx_lease_rec *l, uint32_t uid,
                       gpx_error *err);

/*
 * Whether a's region may be read, checked afresh each time, as a CLI command
 * checks it when it opens the engine, so that both hosts say the same of a
 * lease: a region whose files are gone is re-created from the row (with a
 * warning); a damaged one (truncated, overwritten: a tampering tenant) is
 * reported in region_error and never read, since reading a truncated mapping
 * would SIGBUS the engine's host. The mapping is the one just validated.
 */
int gpx__region_usable(struct gpx_engine *d, struct gpx_active *a)
{
    if (!a)
        return 0;
    struct gpx_lease_region r;
    gpx_error e = {0};
    int rc = gpx_lease_region_open(d->run_dir, a->rec.id, &r, &e);
    if (rc < 0 && e.code == GPX_E_NOT_FOUND) {
        gpx_warn("lease %s: its region is gone (%s); re-creating it", a->rec.id, e.msg);
        uint32_t uid = a->rec.uid >= 0 ? (uint32_t)a->rec.uid
                       : a->mapped     ? a->region.limits->uid
                                       : 0;
        gpx_error_clear(&e);
        gpx_lease_region_remove(d->run_dir, a->rec.id, NULL);
        rc = make_region(d, &a->rec, uid, &e) < 0
                 ? -1
                 : gpx_lease_region_open(d->run_dir, a->rec.id, &r, &e);
        a->gpu_ns_seen = a->wait_ns_seen = 0; /* the new region counts from zero */
    }
    if (a->mapped) {
        gpx_lease_region_close(&a->region);
        a->mapped = 0;
    }
    if (rc < 0) {
        if (strcmp(a->region_error, e.msg) != 0)
            gpx_warn("lease %s: %s; its region is not read", a->rec.id, e.msg);
        snprintf(a->region_error, sizeof a->region_error, "%s", e.msg);
        return 0;
    }
    a->region = r;
    a->mapped = 1;
    a->region_error[0] = '\0';
    return 1;
}

/* --- what callers see of a lease ------------------------------------------------------------ */

static uint64_t wait_percentile(const struct gpx_lease_usage *u, double pct)
{
    uint64_t hist[24], total = 0, seen = 0;
    for (unsigned b = 0; b < 24; b++)
        total += hist[b] = atomic_load(&u->wait_hist[b]);
    if (!total)
        return 0;
    for (unsigned b = 0; b < 24; b++) {
        seen += hist[b];
        if ((double)seen >= (double)total * pct / 100.0)
            return (1ULL << b) * 1000ULL; /* the bucket's upper bound */
    }
    return (1ULL << 23) * 1000ULL;
}

/*
 * NVML's per-process utilization of the processes in pids[0..n) on `dev`, summed
 * (a percent of the GPU): the newest sample of each from the driver's last
 * second. 1 with *pct set (0 when none of them ran), 0 when the driver has
 * no such figure.
 */
static int process_util(struct gpx_engine *d, nvmlDevice_t dev, const int32_t *pids, unsigned n,
                        unsigned *pct)
{
    nvml_device_process_util_fn fn = d->nv.device_process_util;
    if (!fn)
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long since =
        (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL;
    since = since > 1000000ULL ? since - 1000000ULL : 0;
    unsigned int cnt = 0;
    nvmlReturn_t r = fn(dev, NULL, &cnt, since);
    *pct = 0;
    if (r == NVML_ERROR_NOT_FOUND || (r == NVML_SUCCESS && cnt == 0))
        return 1; /* no process ran on the GPU in the window */
    if (r != NVML_ERROR_INSUFFICIENT_SIZE || cnt == 0)
        return 0;
    cnt += 8; /* room for processes that start between the two calls */
    nvmlProcessUtilizationSample_t *smp = calloc(cnt, sizeof *smp);
    if (!smp)
        return 0;
    r = fn(dev, smp, &cnt, since);
    if (r == NVML_ERROR_NOT_FOUND) {
        free(smp);
        return 1;
    }
    if (r != NVML_SUCCESS) {
        free(smp);
        return 0;
    }
    unsigned sum = 0;
    for (unsigned k = 0; k < n; k++) {
        /* several samples of one process: its newest */
        unsigned long long best = 0;
        unsigned util = 0;
        for (unsigned i = 0; i < cnt; i++)
            if (smp[i].pid == (unsigned)pids[k] && smp[i].timeStamp >= best) {
                best = smp[i].timeStamp;
                util = smp[i].smUtil;
            }
        sum += util;
    }
    free(smp);
    *pct = sum > 100 ? 100 : sum;
    return 1;
}

/*
 * The compute processes of a whole-device lease, from NVML on its GPU (a mig
 * lease: those in its GPU instance); no region lists them, no interposer runs.
 */
static void device_processes(struct gpx_engine *d, const struct gpx_lease_rec *l,
                             struct gpx_lease *out)
{
    nvmlDevice_t gpu;
    if (!d->nv.device_processes || d->nv.device_by_uuid(l->gpu_uuid, &gpu) != NVML_SUCCESS)
        return;
    nvmlProcessInfo_t infos[64];
    unsigned n = 64;
    if (d->nv.device_processes(gpu, &n, infos) != NVML_SUCCESS)
        return;
    for (unsigned i = 0; i < n && i < 64 && out->nprocs < GPX_LEASE_MAX_PROCS; i++) {
        if (l->mode == GPX_MODE_MIG && infos[i].gpuInstanceId != (unsigned)l->mig_gi)
            continue;
        out->pids[out->nprocs] = (int32_t)infos[i].pid;
        out->proc_used[out->nprocs++] =
            infos[i].usedGpuMemory == NVML_VALUE_NOT_AVAILABLE_ULL ? 0 : infos[i].usedGpuMemory;
    }
}

/*
 * The figures of an active lease that come from the driver: its whole
 * device's used memory (exclusive: the GPU; mig: its instance, which no
 * interposer counts) and its utilization where no arbiter meters it.
 */
static void nvml_figures(struct gpx_engine *d, const struct gpx_lease_rec *l, struct gpx_lease *out)
{
    if (gpx_lease_arbitrated(l)) {
        out->util_source = out->live ? GPX_SRC_ARBITER : GPX_SRC_NONE;
        return;
    }
    const char *uuid = l->mode == GPX_MODE_MIG ? l->mig_uuid : l->gpu_uuid;
    nvmlDevice_t dev;
    if (!uuid[0] || !d->nv.lib || !d->nv.device_by_uuid ||
        d->nv.device_by_uuid(uuid, &dev) != NVML_SUCCESS)
        return;
    const struct gpx__backend *b = gpx__backend_of(l->mode);
    if (b && !b->interposed) {
        nvmlMemory_t mem;
        if (d->nv.device_memory && d->nv.device_memory(dev, &mem) == NVML_SUCCESS) {
            out->used_bytes = mem.used;
            out->used_source = GPX_SRC_NVML;
            if (mem.used > out->peak_bytes) /* at least what it uses now (not metered) */
                out->peak_bytes = mem.used;
        }
        /* the GPU's figure; a MIG device's where the driver has one (today's do not) */
        nvmlUtilization_t u;
        if (d->nv.device_util && d->nv.device_util(dev, &u) == NVML_SUCCESS) {
            out->util_pct = u.gpu > 100 ? 100 : u.gpu;
            out->util_source = GPX_SRC_NVML;
        }
        if (!out->nprocs)
            device_processes(d, l, out);
        return;
    }
    /* vgpu without a cap runs unarbitrated: its processes' share, as the driver saw it */
    if (out->live && process_util(d, dev, out->pids, out->nprocs, &out->util_pct))
        out->util_source = GPX_SRC_NVML;
}

/* The lease `l` (with its active entry `a`, or NULL) as callers see it. */
void gpx__lease_view(struct gpx_engine *d, const struct gpx_lease_rec *l, struct gpx_active *a,
                     int turns, struct gpx_lease *out)
{
    memset(out, 0, sizeof *out);
    out->rec = *l;
    uint64_t gpu_ns = l->gpu_ns, wait_ns = l->wait_ns, peak = l->peak_used;
    if (gpx__region_usable(d, a)) {
        /* dead processes' bytes go back before anyone reads the figures, on either host */
        gpx_lease_reap(&a->region);
        const struct gpx_lease_usage *u = a->region.usage;
        out->live = 1;
        out->uid = a->region.limits->uid;
        out->used_bytes = gpx_lease_used(u); /* allocated: used less credits */
        uint64_t p = atomic_load(&u->peak);
        peak = p > peak ? p : peak;
        out->refused = atomic_load(&u->refused);
        uint64_t g2 = atomic_load(&u->gpu_ns_granted), w2 = atomic_load(&u->wait_ns);
        gpu_ns += g2 >= a->gpu_ns_seen ? g2 - a->gpu_ns_seen : g2;
        wait_ns += w2 >= a->wait_ns_seen ? w2 - a->wait_ns_seen : w2;
        out->turns = atomic_load(&u->turns);
        out->drains = atomic_load(&u->drains);
        out->wait_p99_ns = wait_percentile(u, 99.0);
        for (unsigned i = 0; i < GPX_LEASE_MAX_PROCS; i++) {
            int32_t pid = atomic_load(&u->procs[i].pid);
            if (pid <= 0)
                continue;
            /* a container's process by the pid we know it by (kill, nvidia-smi), not its own */
            int32_t here = gpx_pidns_find(atomic_load(&u->procs[i].pidns), pid,
                                          atomic_load(&u->procs[i].start_ticks));
            out->pids[out->nprocs] = here > 0 ? here : pid;
            out->proc_used[out->nprocs] = gpx_lease_slot_used(&u->procs[i]);
            out->nprocs++;
        }
        if (turns) {
            uint32_t pos = atomic_load(&u->turn_ring_pos);
            for (unsigned k = 0; k < GPX_LEASE_TURN_RING; k++) {
                uint64_t t = atomic_load(&u->turn_ring[(pos + k) % GPX_LEASE_TURN_RING]);
                if (t)
                    out->turn_ring[out->nturns++] = t;
            }
        }
    }
    int64_t end = l->released_ns ? l->released_ns : gpx_now_ns();
    out->lease_seconds =
        l->created_ns && end > l->created_ns ? (double)(end - l->created_ns) / 1e9 : 0;
    const struct gpx__backend *b = gpx__backend_of(l->mode);
    if (b && !b->interposed) /* a whole GPU or instance: GPU time is the time held */
        gpu_ns = (uint64_t)(out->lease_seconds * 1e9);
    out->gpu_ns = gpu_ns;
    out->wait_ns = wait_ns;
    out->peak_bytes = peak;
    if (a)
        snprintf(out->region_error, sizeof out->region_error, "%s", a->region_error);
    snprintf(out->run_dir, sizeof out->run_dir, "%s", d->run_dir);
    if (b && b->interposed)
        snprintf(out->interposer, sizeof out->interposer, "%s", d->interposer);
    if (out->live && b && b->interposed)
        out->used_source = GPX_SRC_REGION;
    if (a && l->state == GPX_LS_ACTIVE)
        nvml_figures(d, l, out);
}

/* --- the node as placement sees it ---------------------------------------------------------- */

static int gpu_views(struct gpx_engine *d, struct gpx__gpu_view **out, unsigned *n, gpx_error *err)
{
    pthread_mutex_lock(&d->inv_lock);
    unsigned cnt = d->inv.count;
    struct gpx__gpu_view *v = calloc(cnt ? cnt : 1, sizeof *v);
    if (!v) {
        pthread_mutex_unlock(&d->inv_lock);
        return gpx_error_set(err, GPX_E_NOMEM, "inventory");
    }
    for (unsigned i = 0; i < cnt; i++) {
        const struct gpx_gpu_info *g = &d->inv.gpus[i];
        v[i].index = g->index;
        snprintf(v[i].uuid, sizeof v[i].uuid, "%s", g->uuid);
        v[i].memory_total = g->memory_total;
        v[i].mig = (g->valid & GPX_INV_MIG) && g->mig_current == NVML_DEVICE_MIG_ENABLE;
    }
    pthread_mutex_unlock(&d->inv_lock);
    *out = v;
    *n = cnt;
    return 0;
}

/* Memory a lease holds against a tenant's max_memory: a whole GPU's or instance's, or its quota. */
uint64_t gpx__held_memory(const struct gpx_lease_rec *l)
{
    const struct gpx__backend *b = gpx__backend_of(l->mode);
    return b && !b->interposed ? l->gpu_memory : l->memory_quota;
}

uint64_t gpx_lease_held_memory(const struct gpx_lease_rec *l)
{
    return gpx__held_memory(l);
}

int gpx__place_shared(struct gpx_engine *d, struct gpx__create *c, gpx_error *err)
{
    struct gpx_place_req pr = {.mode = c->spec->mode, .gpu = c->gpu, .memory = c->spec->memory};
    if (gpx_place(c->pg, c->ng, &pr, d->placement, d->oversubscription, &c->at, err) < 0)
        return -1;
    const struct gpx__backend *b = gpx__backend_of(c->spec->mode);
    c->held_memory = b && b->whole_gpu ? c->gv[c->at].memory_total : c->spec->memory;
    return 0;
}

/* --- create --------------------------------------------------------------------------------- */

static void fill_limits(const struct gpx_lease_rec *l, uint32_t uid, struct gpx_lease_limits *lim)
{
    memset(lim, 0, sizeof *lim);
    lim->magic = GPX_LEASE_MAGIC_LIMITS;
    lim->version = GPX_LEASE_VERSION;
    lim->size = sizeof *lim;
    snprintf(lim->id, sizeof lim->id, "%s", l->id);
    lim->mode = (uint32_t)l->mode;
    lim->gpu_index = l->gpu_index;
    snprintf(lim->gpu_uuid, sizeof lim->gpu_uuid, "%s", l->gpu_uuid);
    lim->memory_quota = l->memory_quota;
    lim->weight = l->weight ? l->weight : 1;
    lim->cap_percent = l->cap;
    lim->uid = uid;
    lim->created_ns = (uint64_t)l->created_ns;
    /* the row has the instance once the backend made (or chose) it, so a region re-created
     * from the row says where the lease is as the first one did */
    if (l->mode == GPX_MODE_MIG && l->mig_gi >= 0 && l->mig_ci >= 0) {
        lim->flags |= GPX_LIMITS_MIG_INSTANCE;
        lim->mig_gi = (uint32_t)l->mig_gi;
        lim->mig_ci = (uint32_t)l->mig_ci;
    }
}

/*
 * The lease's region, fenced for `uid`: the usage file is uid's alone (0600;
 * chowned when the engine is root), the limits the engine's with read access
 * for uid only, so that no other local user reads, writes or uses the lease.
 */
static int make_region(struct gpx_engine *d, const struct gpx_lease_rec *l, uint32_t uid,
                       gpx_error *err)
{
    struct gpx_lease_limits lim;
    fill_limits(l, uid, &lim);
    if (gpx_lease_region_create(d->run_dir, &lim, err) < 0)
        return -1;
    if (gpx__region_grant(d->run_dir, l->id, uid, err) < 0) {
        gpx_lease_region_remove(d->run_dir, l->id, NULL);
        return -1;
    }
    return 0;
}

static void map_region(struct gpx_engine *d, struct gpx_active *a)
{
    gpx_error e = {0};
    if (gpx_lease_region_open(d->run_dir, a->rec.id, &a->region, &e) == 0)
        a->mapped = 1;
    else
        gpx_warn("lease %s: cannot map its region (no metering): %s", a->rec.id, e.msg);
}

/* Marks row `l` aborted (best effort: start-up aborts a pending row anyway). */
static void abort_row(struct gpx_engine *d, struct gpx_lease_rec *l, const char *why)
{
    gpx_lease_region_remove(d->run_dir, l->id, NULL);
    l->state = GPX_LS_ABORTED;
    l->released_ns = gpx_now_ns();
    snprintf(l->reason, sizeof l->reason, "%s", why);
    gpx_store_lease_update(d->store, l, NULL);
}

/* The node's GPUs with their leases, and which the caller may add (its max_gpus). */
static uint64_t snapshot(struct gpx_engine *d, struct gpx__create *c)
{
    uint64_t tenant_mem = 0;
    unsigned tenant_gpus = 0;
    for (unsigned i = 0; i < c->ng; i++) {
        struct gpx_place_gpu *pg = &c->pg[i];
        pg->index = c->gv[i].index;
        pg->memory_total = c->gv[i].memory_total;
        pg->mig_enabled = c->gv[i].mig;
        int mine = 0;
        for (unsigned k = 0; k < d->n_leases; k++) {
            const struct gpx_lease_rec *o = &d->leases[k]->rec;
            if (o->gpu_index != c->gv[i].index)
                continue;
            pg->leases++;
            const struct gpx__backend *ob = gpx__backend_of(o->mode);
            if (ob && ob->whole_gpu)
                pg->exclusive = 1;
            else if (o->memory_quota)
                pg->quota_sum += o->memory_quota;
            else
                pg->unquoted++;
            if (strcmp(o->tenant, c->caller->tenant) == 0) {
                mine = 1;
                tenant_mem += gpx__held_memory(o);
            }
        }
        pg->allowed = mine;
        tenant_gpus += (unsigned)mine;
    }
    if (!c->caller->max_gpus || tenant_gpus < c->caller->max_gpus)
        for (unsigned i = 0; i < c->ng; i++)
            c->pg[i].allowed = 1;
    return tenant_mem;
}

/* --- admission: who may lease, how many, naming which processes ---------------------------- */

/*
 * The caller's tenant row (*out), or NULL for the built-in admin. A caller
 * authenticated as a tenant that has been removed since (and maybe added
 * again: another generation, another created_ns) is refused: its lease would
 * land in the name of a tenant that did not ask for it.
 */
static int current_tenant(struct gpx_engine *d, const struct gpx_caller *c,
                          const struct gpx_tenant **out, gpx_error *err)
{
    *out = NULL;
    if (c->tenant_created_ns == 0 && strcmp(c->tenant, GPX_BUILTIN_ADMIN) == 0)
        return 0;
    for (unsigned i = 0; i < d->n_tenants; i++)
        if (strcmp(d->tenants[i].name, c->tenant) == 0 &&
            d->tenants[i].created_ns == c->tenant_created_ns) {
            *out = &d->tenants[i];
            return 0;
        }
    return gpx_error_set(err, GPX_E_UNAUTH, "tenant '%s' was removed: it can no longer lease",
                         c->tenant);
}

/*
 * A tenant's active leases stay within its max_leases, else the engine's
 * max_leases_per_tenant (each lease costs the engine a row, a region and
 * work on every pass); the built-in admin has no limit unless given one.
 */
static int lease_cap(struct gpx_engine *d, const struct gpx_caller *c, const struct gpx_tenant *t,
                     gpx_error *err)
{
    unsigned cap = c->max_leases ? c->max_leases : t ? d->max_leases_per_tenant : 0;
    if (!cap)
        return 0;
    unsigned held = 0;
    for (unsigned i = 0; i < d->n_leases; i++)
        held += strcmp(d->leases[i]->rec.tenant, c->tenant) == 0;
    if (held < cap)
        return 0;
    return gpx_error_set(err, GPX_E_NO_SPACE,
                         "tenant '%s' holds %u active lease%s, its max_leases%s: release one first",
                         c->tenant, held, held == 1 ? "" : "s",
                         c->max_leases ? "" : " (the daemon's max_leases_per_tenant)");
}

/*
 * An owner pid's start time, or 0 (err set). An admin may name any running
 * process. A tenant only its own uid's: one that does not exist and one of
 * another user get the same answer, so that the error tells a tenant nothing
 * about the node it could not see otherwise; and a tenant whose uid is not
 * known (over TCP, with no --uid) can name none.
 */
static uint64_t owner_ticks(const struct gpx_caller *c, const struct gpx_tenant *t, int32_t pid,
                            gpx_error *err)
{
    if (c->admin) {
        uint64_t ticks = gpx_lease_proc_start_ticks(pid);
        if (!ticks)
            gpx_error_set(err, GPX_E_INVALID, "owner pid %d is not a running process", (int)pid);
        return ticks;
    }
    /* a pid is set only with the peer's credentials (unix socket, in-process) */
    int uid_known = c->pid > 0 || (t && t->has_uid);
    uint64_t ticks = 0;
    uint32_t puid;
    if (uid_known && gpx_proc_uid(pid, &puid) == 0 && puid == c->uid)
        ticks = gpx_lease_proc_start_ticks(pid);
    if (!ticks)
        gpx_error_set(err, GPX_E_INVALID, "%s: pid %d is not a process of yours",
                      gpx_field_name(GPX_F_OWNERS, GPX_NAMING_API), (int)pid);
    return ticks;
}

static int create_locked(struct gpx_engine *d, const struct gpx_caller *caller,
                         const struct gpx_lease_spec *s, struct gpx_lease *out, gpx_error *err)
{
    const struct gpx__backend *b = gpx__backend_of(s->mode);
    if (!b)
        return gpx_error_set(err, GPX_E_INVALID, "invalid lease mode %d", s->mode);
    struct gpx__create c = {.caller = caller, .spec = s, .gpu = s->gpu_index};
    if (gpu_views(d, &c.gv, &c.ng, err) < 0)
        return -1;
    if (c.ng == 0) {
        free(c.gv);
        return gpx_error_set(err, GPX_E_NO_GPU, "this node has no GPU to lease");
    }
    int rc = -1, made = 0;
    c.pg = calloc(c.ng, sizeof *c.pg);
    struct gpx_active *a = calloc(1, sizeof *a);
    if (!c.pg || !a) {
        gpx_error_set(err, GPX_E_NOMEM, "placement");
        goto out;
    }

    /* the tenant as it is now, and its lease count, before anything is looked at for it */
    const struct gpx_tenant *tn;
    if (current_tenant(d, caller, &tn, err) < 0 || lease_cap(d, caller, tn, err) < 0)
        goto out;

    /* owners next: they belong to the request's validation */
    struct gpx_lease_rec *l = &a->rec;
    for (unsigned i = 0; i < s->n_owners; i++) {
        int dup = 0;
        for (unsigned k = 0; k < l->n_owners; k++)
            dup |= l->owners[k].pid == s->owners[i];
        if (dup)
            continue; /* one process, one owner */
        uint64_t t = owner_ticks(caller, tn, s->owners[i], err);
        if (!t)
            goto out;
        l->owners[l->n_owners].pid = s->owners[i];
        l->owners[l->n_owners].start_ticks = t;
        l->n_owners++;
    }
    if (s->gpu_uuid[0]) {
        for (unsigned i = 0; i < c.ng; i++)
            if (strcasecmp(c.gv[i].uuid, s->gpu_uuid) == 0)
                c.gpu = (int)c.gv[i].index;
        if (c.gpu < 0) {
            gpx_error_set(err, GPX_E_NOT_FOUND, "no GPU '%s' on this node (see 'gpuplex ls')",
                          s->gpu_uuid);
            goto out;
        }
    } else if (c.gpu >= 0 && (unsigned)c.gpu >= c.ng) {
        gpx_error_set(err, GPX_E_NOT_FOUND,
                      "no GPU '%d' (this node has GPUs 0-%u; see 'gpuplex ls')", c.gpu, c.ng - 1);
        goto out;
    }

    /* admission and placement: the backend chooses, the tenant's quota decides */
    if (caller->max_memory && b->interposed && !s->memory) {
        /* a shared lease without a quota may take all of its GPU's memory: nothing to count */
        char m[32];
        gpx_size_format(caller->max_memory, m, sizeof m);
        gpx_error_set(err, GPX_E_NO_SPACE,
                      "tenant '%s' has a max_memory of %s: its %s leases need a memory quota "
                      "within it (--memory SIZE; field 'memory' in the API)",
                      caller->tenant, m, b->name);
        goto out;
    }
    uint64_t tenant_mem = snapshot(d, &c);
    if (b->place(d, &c, err) < 0)
        goto out;
    if (caller->max_memory && tenant_mem + c.held_memory > caller->max_memory) {
        char a1[32], a2[32], a3[32];
        gpx_size_format(c.held_memory, a1, sizeof a1);
        gpx_size_format(tenant_mem, a2, sizeof a2);
        gpx_size_format(caller->max_memory, a3, sizeof a3);
        gpx_error_set(err, GPX_E_NO_SPACE,
                      "tenant '%s' holds %s of GPU memory; %s more would pass its max_memory of "
                      "%s",
                      caller->tenant, a2, a1, a3);
        goto out;
    }

    snprintf(l->tenant, sizeof l->tenant, "%s", caller->tenant);
    l->uid = caller->uid;
    l->mode = s->mode;
    l->gpu_index = c.gv[c.at].index;
    snprintf(l->gpu_uuid, sizeof l->gpu_uuid, "%s", c.gv[c.at].uuid);
    l->memory_quota = b->interposed ? s->memory : 0;
    l->gpu_memory = c.gv[c.at].memory_total;
    l->mig_start = l->mig_gi = l->mig_ci = -1;
    l->weight = s->weight;
    l->cap = s->cap;
    snprintf(l->labels, sizeof l->labels, "%s", s->labels ? s->labels : "{}");
    if (b->fill)
        b->fill(d, &c, l);
    l->created_ns = gpx_now_ns();
    l->state = GPX_LS_PENDING;

    /* 1. pending row (an id collision is retried with a new id) */
    int inserted = 0;
    for (int attempt = 0; attempt < 4 && !inserted; attempt++) {
        gpx_lease_new_id(l->id);
        gpx_error e = {0};
        if (gpx_store_lease_insert(d->store, l, &e) == 0)
            inserted = 1;
        else if (e.code != GPX_E_EXISTS) {
            *err = e;
            gpx_error_wrap(err, "recording lease");
            goto out;
        }
    }
    if (!inserted) {
        gpx_error_set(err, GPX_E_INTERNAL, "could not find a free lease id");
        goto out;
    }

    /* 2. what the mode makes outside the engine, now that the pending row says where (a crash
     * from here to 4 leaves a pending row, whose instance and region start-up removes) */
    if (b->make) {
        if (b->make(d, &c, l, err) < 0) {
            abort_row(d, l, "the backend could not make it");
            goto out;
        }
        made = 1;
    }

    /* 3. region, after the backend: a mig lease's limits name the instance it made */
    if (make_region(d, l, (uint32_t)l->uid, err) < 0) {
        gpx_error_wrap(err, "creating the region of lease %s", l->id);
        if (made && b->undo)
            b->undo(d, l);
        abort_row(d, l, "region creation failed");
        goto out;
    }

    /* 4. active, durably: from here on the lease is acknowledged */
    l->state = GPX_LS_ACTIVE;
    if (gpx_store_lease_update(d->store, l, err) < 0) {
        gpx_error_wrap(err, "recording lease %s", l->id);
        if (made && b->undo)
            b->undo(d, l);
        abort_row(d, l, "commit failed");
        goto out;
    }
    map_region(d, a);
    a->last_sample_ns = l->created_ns;
    if (add_active(d, a, err) < 0)
        goto out; /* cannot happen short of ENOMEM; the row stays active and reloads on start */
    atomic_fetch_add(&d->leases_created, 1);
    gpx_info("lease %s: %s on GPU %u%s%s for tenant %s", l->id, b->name, l->gpu_index,
             l->mig_uuid[0] ? " as " : "", l->mig_uuid, l->tenant);
    notify(d, GPX_EV_COMMITTED, l);
    if (out)
        gpx__lease_view(d, l, a, 0, out);
    a = NULL;
    rc = 0;
out:
    if (a && a->mapped)
        gpx_lease_region_close(&a->region);
    gpx__mig_choice_free(c.mig);
    free(a);
    free(c.pg);
    free(c.gv);
    return rc;
}

int gpx_engine_lease_create(struct gpx_engine *d, const struct gpx_caller *c,
                            const struct gpx_lease_spec *s, struct gpx_lease *out, gpx_error *err)
{
    /* the hosts checked with their own naming; this check is for callers that did not */
    struct gpx_lease_spec chk = *s;
    chk.labels = NULL;
    if (gpx_lease_spec_check(&chk, 0, GPX_NAMING_API, err) < 0)
        return -1;
    chk.labels = s->labels;
    /* made for containers: the reserved label, added here and nowhere a caller's labels go */
    struct gpx_lease_spec ctr;
    gpx_lease_spec_init(&ctr);
    if (s->for_container) {
        if (s->labels && !(ctr.labels = strdup(s->labels)))
            return gpx_error_set(err, GPX_E_NOMEM, "labels");
        if (gpx_lease_spec_label(&ctr, GPX_LABEL_FOR_CONTAINER, "1", GPX_NAMING_API, err) < 0) {
            gpx_lease_spec_clear(&ctr);
            return -1;
        }
        chk.labels = ctr.labels;
    }
    pthread_mutex_lock(&d->lock);
    int rc = create_locked(d, c, &chk, out, err);
    pthread_mutex_unlock(&d->lock);
    gpx_lease_spec_clear(&ctr);
    return rc;
}

/* --- release -------------------------------------------------------------------------------- */

static int release_locked(struct gpx_engine *d, unsigned pos, const char *reason,
                          struct gpx_lease *out, gpx_error *err)
{
    struct gpx_active *a = d->leases[pos];
    struct gpx_lease_rec saved = a->rec;
    int64_t now = gpx_now_ns();
    if (gpx_store_begin(d->store, 1, err) < 0)
        return gpx_error_wrap(err, "releasing lease %s", a->rec.id);
    a->rec.state = GPX_LS_RELEASED;
    a->rec.released_ns = now;
    snprintf(a->rec.reason, sizeof a->rec.reason, "%s", reason);
    if (gpx__meter_one(d, a, now, err) < 0 || gpx_store_lease_update(d->store, &a->rec, err) < 0 ||
        gpx_store_commit(d->store, err) < 0) {
        gpx_store_rollback(d->store);
        a->rec = saved;
        return gpx_error_wrap(err, "releasing lease %s", a->rec.id);
    }
    if (out)
        gpx__lease_view(d, &a->rec, a, 0, out);
    if (a->mapped) {
        gpx_lease_region_close(&a->region);
        a->mapped = 0;
    }
    gpx_error e = {0};
    if (gpx_lease_region_remove(d->run_dir, a->rec.id, &e) < 0)
        gpx_warn("lease %s: removing its region: %s (removed at next start)", a->rec.id, e.msg);
    gpx_ctr_forget(d->run_dir, a->rec.id); /* its containers' records, when made for some */
    const struct gpx__backend *b = gpx__backend_of(a->rec.mode);
    if (b && b->release)
        b->release(d, &a->rec);
    gpx_info("lease %s released (%s)", a->rec.id, reason);
    atomic_fetch_add(&d->leases_released, 1);
    notify(d, GPX_EV_RELEASED, &a->rec);
    drop_active(d, pos);
    return 0;
}

int gpx_engine_lease_release(struct gpx_engine *d, const struct gpx_caller *c, const char *id,
                             struct gpx_lease *out, gpx_error *err)
{
    if (!gpx_lease_id_valid(id))
        return gpx_error_set(err, GPX_E_INVALID, "invalid lease id '%.64s'", id);
    pthread_mutex_lock(&d->lock);
    unsigned pos;
    struct gpx_active *a = gpx__find_active(d, id, &pos);
    int rc;
    if (a && gpx__lease_visible(c, &a->rec)) {
        char reason[96];
        snprintf(reason, sizeof reason, "released by %s", c->tenant);
        rc = release_locked(d, pos, reason, out, err);
    } else {
        struct gpx_lease_rec *l = malloc(sizeof *l);
        gpx_error e = {0};
        if (l && gpx_store_lease_get(d->store, id, l, &e) == 0 && gpx__lease_visible(c, l) &&
            l->state == GPX_LS_RELEASED)
            rc = gpx_error_set(err, GPX_E_NOT_FOUND, "lease %s is already released", id);
        else
            rc = gpx_error_set(err, GPX_E_NOT_FOUND, "no lease %s (see 'gpuplex lease ls')", id);
        free(l);
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

int gpx_engine_lease_get(struct gpx_engine *d, const struct gpx_caller *c, const char *id,
                         int turns, struct gpx_lease *out, gpx_error *err)
{
    if (!gpx_lease_id_valid(id))
        return gpx_error_set(err, GPX_E_INVALID, "invalid lease id '%.64s'", id);
    pthread_mutex_lock(&d->lock);
    int rc = 0;
    struct gpx_active *a = gpx__find_active(d, id, NULL);
    if (a && gpx__lease_visible(c, &a->rec)) {
        gpx__lease_view(d, &a->rec, a, turns, out);
    } else {
        struct gpx_lease_rec *l = malloc(sizeof *l);
        gpx_error e = {0};
        if (l && gpx_store_lease_get(d->store, id, l, &e) == 0 && gpx__lease_visible(c, l) &&
            (l->state == GPX_LS_RELEASED || l->state == GPX_LS_ACTIVE))
            gpx__lease_view(d, l, NULL, 0, out);
        else
            rc = gpx_error_set(err, GPX_E_NOT_FOUND, "no lease %s (see 'gpuplex lease ls')", id);
        free(l);
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

struct list_ctx {
    struct gpx_engine *d;
    struct gpx_lease *arr;
    unsigned n, cap;
    int turns;
};

static int list_push(struct list_ctx *x, const struct gpx_lease_rec *l, struct gpx_active *a)
{
    if (x->n == x->cap) {
        unsigned cap = x->cap ? x->cap * 2 : 16;
        struct gpx_lease *n = realloc(x->arr, cap * sizeof *n);
        if (!n)
            return 1;
        x->arr = n;
        x->cap = cap;
    }
    gpx__lease_view(x->d, l, a, x->turns, &x->arr[x->n++]);
    return 0;
}

static int list_one(const struct gpx_lease_rec *l, void *arg)
{
    struct list_ctx *x = arg;
    struct gpx_active *a = l->state == GPX_LS_ACTIVE ? gpx__find_active(x->d, l->id, NULL) : NULL;
    return list_push(x, a ? &a->rec : l, a);
}

static int by_id(const void *a, const void *b)
{
    return strcmp(((const struct gpx_lease *)a)->rec.id, ((const struct gpx_lease *)b)->rec.id);
}

int gpx_engine_lease_list(struct gpx_engine *d, const struct gpx_caller *c,
                          const struct gpx_lease_query *q, struct gpx_lease **out, unsigned *n,
                          gpx_error *err)
{
    int state = q && q->state >= 0 ? q->state : GPX_LS_ACTIVE;
    const char *tenant = q ? q->tenant : NULL;
    unsigned states =
        state == GPX_LS_ALL ? (1u << GPX_LS_ACTIVE | 1u << GPX_LS_RELEASED) : 1u << state;
    if (state != GPX_LS_ACTIVE && state != GPX_LS_RELEASED && state != GPX_LS_ALL)
        return gpx_error_set(err, GPX_E_INVALID, "state must be active, released or all");
    if (tenant && !c->admin && strcmp(tenant, c->tenant) != 0)
        return gpx_error_set(err, GPX_E_PERM, "tenant '%s' may list only its own leases",
                             c->tenant);
    if (!c->admin)
        tenant = c->tenant;
    struct list_ctx x = {.d = d, .turns = q ? q->turns : 0};
    pthread_mutex_lock(&d->lock);
    int rc = 0;
    if (states == 1u << GPX_LS_ACTIVE) {
        for (unsigned i = 0; i < d->n_leases && rc == 0; i++) {
            struct gpx_active *a = d->leases[i];
            if (!tenant || !strcmp(tenant, a->rec.tenant))
                rc = list_push(&x, &a->rec, a) ? gpx_error_set(err, GPX_E_NOMEM, "lease list") : 0;
        }
    } else {
        rc = gpx_store_lease_each(d->store, states, tenant, 0, 0, list_one, &x, err);
    }
    pthread_mutex_unlock(&d->lock);
    if (rc < 0) {
        free(x.arr);
        return -1;
    }
    if (states == 1u << GPX_LS_ACTIVE && x.n > 1)
        qsort(x.arr, x.n, sizeof *x.arr, by_id);
    *out = x.arr;
    *n = x.n;
    return 0;
}

/* --- reconciliation ------------------------------------------------------------------------- */

void gpx_engine_reconcile(struct gpx_engine *d)
{
    pthread_mutex_lock(&d->lock);
    int64_t now = gpx_now_ns();
    /* a CLI command sees the node once: owners gone now are gone (no grace to wait out) */
    int64_t grace = d->daemon ? (int64_t)d->grace_ms * 1000000LL : 0;
    for (unsigned i = d->n_leases; i-- > 0;) {
        struct gpx_active *a = d->leases[i];
        if (gpx__region_usable(d, a))
            gpx_lease_reap(&a->region);
        /* a lease made for containers: the containers its hooks recorded (container_rec.h);
         * -1 when none was; while one runs the lease is held */
        int ctrs = gpx_ctr_alive(d->run_dir, a->rec.id);
        if (a->rec.n_owners == 0 && ctrs < 0)
            continue;
        int alive = ctrs > 0;
        for (unsigned k = 0; k < a->rec.n_owners && !alive; k++)
            alive = owner_alive(&a->rec.owners[k]);
        /* the region's process slots count only when no container was recorded: a recorded
         * container's processes all ended with its first one (its pid namespace), and the
         * pids in its slots are the container's own, not the host's */
        if (!alive && ctrs < 0 && a->mapped)
            for (unsigned k = 0; k < GPX_LEASE_MAX_PROCS && !alive; k++)
                alive = atomic_load(&a->region.usage->procs[k].pid) != 0; /* <0: being reaped */
        if (alive) {
            a->orphan_since_ns = 0;
            continue;
        }
        if (!a->orphan_since_ns)
            a->orphan_since_ns = now;
        if (now - a->orphan_since_ns < grace)
            continue;
        gpx_error e = {0};
        if (release_locked(d, i, ctrs >= 0 ? "containers exited" : "owner processes exited", NULL,
                           &e) < 0)
            gpx_warn("reconciler: %s", e.msg);
        else
            atomic_fetch_add(&d->leases_reaped, 1);
    }
    pthread_mutex_unlock(&d->lock);
}

struct load_ctx {
    struct gpx_lease_rec *rows;
    unsigned n, cap;
};

static int load_row(const struct gpx_lease_rec *l, void *arg)
{
    struct load_ctx *x = arg;
    if (x->n == x->cap) {
        unsigned cap = x->cap ? x->cap * 2 : 64;
        struct gpx_lease_rec *r = realloc(x->rows, cap * sizeof *r);
        if (!r)
            return 1;
        x->rows = r;
        x->cap = cap;
    }
    x->rows[x->n++] = *l;
    return 0;
}

static int orphan_region(const char *id, void *arg)
{
    struct gpx_engine *d = arg;
    if (gpx__find_active(d, id, NULL))
        return 0;
    struct gpx_lease_rec *l = malloc(sizeof *l);
    gpx_error e = {0};
    if (l && gpx_store_lease_get(d->store, id, l, &e) == 0) {
        gpx_info("start-up: removing the region of %s lease %s", gpx_lease_state_name(l->state),
                 id);
        if (gpx_lease_region_remove(d->run_dir, id, &e) < 0)
            gpx_warn("start-up: %s", e.msg);
    } else if (l) {
        gpx_debug("start-up: region %s has no row (made by an older gpuplex); left alone", id);
    }
    free(l);
    return 0;
}

/* Loads tenants and active leases and reconciles them with the regions; lock not held. */
int gpx__ledger_open(struct gpx_engine *d, gpx_error *err)
{
    pthread_mutex_lock(&d->lock);
    int rc = -1;
    struct load_ctx x = {0};
    if (gpx__tenants_load(d, err) < 0)
        goto out;
    if (gpx_store_lease_each(d->store, 1u << GPX_LS_PENDING | 1u << GPX_LS_ACTIVE, NULL, 0, 0,
                             load_row, &x, err) < 0)
        goto out;
    /* each backend reconciles its rows first (mig: instances of pending leases destroyed,
     * active leases whose instance is gone released) */
    const struct gpx__backend *b;
    for (unsigned m = 0; (b = gpx__backend_at(m)) != NULL; m++)
        if (b->startup && b->startup(d, x.rows, x.n, err) < 0)
            goto out;
    unsigned aborted = 0, recreated = 0;
    for (unsigned i = 0; i < x.n; i++) {
        struct gpx_lease_rec *l = &x.rows[i];
        if (l->state == GPX_LS_RELEASED)
            continue; /* by a backend's start-up */
        if (l->state == GPX_LS_PENDING) {
            gpx_lease_region_remove(d->run_dir, l->id, NULL);
            l->state = GPX_LS_ABORTED;
            l->released_ns = gpx_now_ns();
            snprintf(l->reason, sizeof l->reason, "stopped before acknowledging it");
            if (gpx_store_lease_update(d->store, l, err) < 0)
                goto out;
            aborted++;
            continue;
        }
        struct gpx_active *a = calloc(1, sizeof *a);
        if (!a) {
            gpx_error_set(err, GPX_E_NOMEM, "lease table");
            goto out;
        }
        a->rec = *l;
        a->gpu_ns_seen = l->gpu_ns;
        a->wait_ns_seen = l->wait_ns;
        a->last_sample_ns = gpx_now_ns();
        gpx_error e = {0};
        if (gpx_lease_region_open(d->run_dir, l->id, &a->region, &e) == 0) {
            a->mapped = 1;
        } else if (e.code != GPX_E_NOT_FOUND) {
            /* damaged (tampered with?): reported by every view of the lease, never silently
             * replaced, so that its processes keep no limits the watchdog could trust */
            gpx_warn("lease %s: %s", l->id, e.msg);
            snprintf(a->region_error, sizeof a->region_error, "%s", e.msg);
        } else {
            gpx_warn("start-up: lease %s: %s; re-creating its region", l->id, e.msg);
            gpx_lease_region_remove(d->run_dir, l->id, NULL);
            gpx_error_clear(&e);
            if (make_region(d, l, l->uid >= 0 ? (uint32_t)l->uid : 0, &e) < 0)
                gpx_error_log("start-up: lease %s: %s", l->id, e.msg);
            else
                map_region(d, a);
            a->gpu_ns_seen = a->wait_ns_seen = 0;
            recreated++;
        }
        if (add_active(d, a, err) < 0) {
            free(a);
            goto out;
        }
    }
    gpx_error e = {0};
    if (gpx_lease_region_list(d->run_dir, orphan_region, d, &e) < 0)
        gpx_warn("start-up: listing regions: %s", e.msg);
    if (d->daemon || aborted || recreated)
        gpx_info("start-up: %u active lease%s re-attached (%u region%s re-created), %u "
                 "unacknowledged lease%s aborted",
                 d->n_leases, d->n_leases == 1 ? "" : "s", recreated, recreated == 1 ? "" : "s",
                 aborted, aborted == 1 ? "" : "s");
    rc = 0;
out:
    free(x.rows);
    pthread_mutex_unlock(&d->lock);
    return rc;
}

void gpx__ledger_close(struct gpx_engine *d)
{
    pthread_mutex_lock(&d->lock);
    while (d->n_leases)
        drop_active(d, d->n_leases - 1);
    free(d->leases);
    d->leases = NULL;
    d->cap_leases = 0;
    free(d->tenants);
    d->tenants = NULL;
    d->n_tenants = 0;
    pthread_mutex_unlock(&d->lock);
}
