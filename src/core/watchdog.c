/*
 * Watchdog check (see watchdog.h): one pass over NVML's compute processes on
 * every GPU and the leases of the run directory. Stateless between passes,
 * so the daemon can call it on any schedule and a restart loses nothing.
 *
 * Invariants: a process is only killed when NVML shows it on the GPU right
 * now and it is either counted by an over-quota lease of that GPU (its slot
 * and its uid both say so) or counted by none; nothing is killed in report
 * mode. A process counted by a lease is never charged to another uid's
 * lease, so what one tenant writes in its own region can't get another
 * tenant's process killed. A figure NVML does not give (used memory not
 * available) counts as 0, and a GPU whose processes NVML does not list is
 * skipped: the watchdog does not act on what it cannot see.
 */
#define _GNU_SOURCE
#include "core/watchdog.h"
#include "shm/lease.h"
#include "shm/pidns.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int gpx_watch_enforce_parse(const char *s)
{
    if (!s)
        return -1;
    if (strcmp(s, "report") == 0)
        return GPX_WATCH_REPORT;
    if (strcmp(s, "kill") == 0)
        return GPX_WATCH_KILL;
    return -1;
}

const char *gpx_watch_kind_name(enum gpx_watch_kind k)
{
    return k == GPX_WATCH_UNLEASED ? "unleased" : "over_quota";
}

/* What the watchdog needs of one lease. */
struct lease_view {
    char id[GPX_LEASE_ID_MAX];
    char gpu_uuid[96];
    int mode;
    uint32_t uid; /* limits->uid: whose processes the lease may count */
    bool has_gi;  /* a mig lease whose limits name its GPU instance */
    uint32_t gi;
    uint64_t quota;
    unsigned npids;
    int32_t pids[GPX_LEASE_MAX_PROCS];   /* its slots' pids, each in its own namespace: */
    uint32_t pidns[GPX_LEASE_MAX_PROCS]; /* the slot's pid namespace (0 = ours) */
};

static struct gpx_watch_violation *add_violation(struct gpx_watch_report *rep, unsigned *cap)
{
    if (rep->n == *cap) {
        unsigned c = *cap ? *cap * 2 : 8;
        void *p = realloc(rep->v, c * sizeof *rep->v);
        if (!p)
            return NULL;
        rep->v = p;
        *cap = c;
    }
    struct gpx_watch_violation *v = &rep->v[rep->n++];
    memset(v, 0, sizeof *v);
    return v;
}

static void enforce_kill(struct gpx_watch_violation *v)
{
    for (unsigned i = 0; i < v->npids; i++) {
        if (kill(v->pids[i], SIGKILL) == 0)
            v->killed++;
        else if (errno != ESRCH && !v->kill_errno)
            v->kill_errno = errno;
    }
}

void gpx_watch_opts_defaults(struct gpx_watch_opts *o)
{
    memset(o, 0, sizeof *o);
    o->enforce = GPX_WATCH_REPORT;
    o->allowance = GPX_WATCH_ALLOWANCE_DEFAULT;
    o->lease_allowance = GPX_WATCH_LEASE_ALLOWANCE_DEFAULT;
}

/*
 * A lease whose usage region can't be opened (damaged, or rewritten by its
 * tenant) still has its read-only limits: read them alone. Such a lease
 * counts no process by slot (its processes are reported as unleased), but an
 * exclusive or mig lease, which counts by uid (and a mig lease by instance),
 * still counts its tenant's.
 */
static int read_limits_only(const char *run_dir, const char *id, struct gpx_lease_limits *out)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/leases/%s.limits", run_dir, id) >= sizeof path)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = pread(fd, out, sizeof *out, 0);
    close(fd);
    if (n != (ssize_t)sizeof *out || out->magic != GPX_LEASE_MAGIC_LIMITS ||
        out->version != GPX_LEASE_VERSION || out->size != sizeof *out)
        return -1;
    out->id[sizeof out->id - 1] = '\0';
    out->gpu_uuid[sizeof out->gpu_uuid - 1] = '\0';
    return 0;
}

/* The ids of every lease in run_dir, sorted by the listing; *ids malloc'd. */
struct id_list {
    char (*ids)[GPX_LEASE_ID_MAX];
    unsigned n, cap;
    int nomem;
};

static int add_id(const char *id, void *arg)
{
    struct id_list *l = arg;
    if (l->n == l->cap) {
        unsigned cap = l->cap ? l->cap * 2 : 16;
        void *p = realloc(l->ids, cap * sizeof *l->ids);
        if (!p) {
            l->nomem = 1;
            return 1;
        }
        l->ids = p;
        l->cap = cap;
    }
    snprintf(l->ids[l->n++], GPX_LEASE_ID_MAX, "%s", id);
    return 0;
}

static int lease_ids(const char *run_dir, char (**ids)[GPX_LEASE_ID_MAX], unsigned *n,
                     gpx_error *err)
{
    struct id_list l = {0};
    *ids = NULL;
    *n = 0;
    if (gpx_lease_region_list(run_dir, add_id, &l, err) < 0) {
        free(l.ids);
        return -1;
    }
    if (l.nomem) {
        free(l.ids);
        return gpx_error_set(err, GPX_E_NOMEM, "listing leases");
    }
    *ids = l.ids;
    *n = l.n;
    return 0;
}

/* What a lease's limits say (the pids come from its usage, when it can be read). */
static void view_of(const struct gpx_lease_limits *lim, struct lease_view *l)
{
    memcpy(l->id, lim->id, sizeof l->id);
    l->id[sizeof l->id - 1] = '\0';
    memcpy(l->gpu_uuid, lim->gpu_uuid, sizeof l->gpu_uuid);
    l->gpu_uuid[sizeof l->gpu_uuid - 1] = '\0';
    l->mode = (int)lim->mode;
    l->uid = lim->uid;
    l->has_gi = lim->mode == GPX_MODE_MIG && (lim->flags & GPX_LIMITS_MIG_INSTANCE);
    l->gi = lim->mig_gi;
    l->quota = lim->memory_quota;
}

static int read_leases(const char *run_dir, struct lease_view **out, unsigned *count,
                       struct gpx_watch_report *rep, gpx_error *err)
{
    char(*ids)[GPX_LEASE_ID_MAX] = NULL;
    unsigned n = 0;
    *out = NULL;
    *count = 0;
    if (lease_ids(run_dir, &ids, &n, err) < 0)
        return gpx_error_wrap(err, "listing leases");
    struct lease_view *views = n ? calloc(n, sizeof *views) : NULL;
    if (n && !views) {
        free(ids);
        return gpx_error_set(err, GPX_E_NOMEM, "watchdog: %u leases", n);
    }
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        struct gpx_lease_region r;
        if (gpx_lease_region_open(run_dir, ids[i], &r, NULL) < 0) {
            rep->skipped++; /* removed meanwhile, or damaged: `lease ls` says which */
            struct gpx_lease_limits lim;
            if (read_limits_only(run_dir, ids[i], &lim) == 0)
                view_of(&lim, &views[k++]); /* damaged usage: no process by slot */
            continue;
        }
        rep->reaped += (unsigned)gpx_lease_reap(&r);
        struct lease_view *l = &views[k++];
        view_of(r.limits, l);
        for (unsigned s = 0; s < GPX_LEASE_MAX_PROCS; s++) {
            int32_t pid = atomic_load(&r.usage->procs[s].pid);
            if (pid <= 0)
                continue;
            l->pidns[l->npids] = atomic_load(&r.usage->procs[s].pidns);
            l->pids[l->npids++] = pid;
        }
        gpx_lease_region_close(&r);
    }
    free(ids);
    rep->leases = k;
    *out = views;
    *count = k;
    return 0;
}

/*
 * One compute process of a GPU, as NVML shows it (its host pid), with its uid
 * from /proc and its identity in its own pid namespace (a container's).
 */
struct gpu_proc {
    int32_t pid;
    uint32_t ns;    /* its pid namespace */
    int32_t inner;  /* its pid there: what its lease slot says */
    uint64_t bytes; /* 0 when NVML does not say */
    uint32_t gi;    /* NVML's gpuInstanceId: 0xFFFFFFFF outside MIG */
    uint32_t uid;
    bool uid_known;
    bool gone;    /* exited since NVML listed it: nothing to report */
    bool counted; /* by one of the GPU's leases */
};

/*
 * Whether a slot of `l` names `gp`: the same pid in the same pid namespace.
 * NVML lists host pids; a slot holds what the process saw of itself, so both
 * are compared as (namespace, pid there). A slot from before namespaces (0)
 * was written in ours.
 */
static int lease_has(const struct lease_view *l, const struct gpu_proc *gp)
{
    uint32_t me = gpx_pidns_self();
    for (unsigned i = 0; i < l->npids; i++)
        if (l->pids[i] == gp->inner && (l->pidns[i] ? l->pidns[i] : me) == gp->ns)
            return 1;
    return 0;
}

struct gpu_view {
    unsigned index;
    char uuid[96];
    unsigned n;
    struct gpu_proc *procs; /* n entries, malloc'd */
};

/*
 * Every compute process of GPU `index` (not only the first few: a process
 * past a fixed-size list would go unseen). 1 when listed, 0 when NVML does
 * not list this GPU's processes, -1 on error.
 */
static int read_gpu(struct gpx_nvml *nv, unsigned index, struct gpu_view *g, gpx_error *err)
{
    memset(g, 0, sizeof *g);
    g->index = index;
    nvmlDevice_t dev;
    nvmlReturn_t r = nv->device_by_index(index, &dev);
    if (r != NVML_SUCCESS)
        return gpx_nvml_fail(nv, r, err, "nvmlDeviceGetHandleByIndex");
    if ((r = nv->device_uuid(dev, g->uuid, sizeof g->uuid)) != NVML_SUCCESS)
        return gpx_nvml_fail(nv, r, err, "nvmlDeviceGetUUID");
    g->uuid[sizeof g->uuid - 1] = '\0';
    if (!nv->device_processes)
        return 0;
    unsigned cap = 64;
    nvmlProcessInfo_t *infos = NULL;
    /* processes come and go between the calls: grow on INSUFFICIENT_SIZE, a few times */
    for (int attempt = 0; attempt < 8; attempt++) {
        free(infos);
        infos = calloc(cap, sizeof *infos);
        if (!infos)
            return gpx_error_set(err, GPX_E_NOMEM, "listing the processes of GPU %u", index);
        unsigned n = cap;
        r = nv->device_processes(dev, &n, infos);
        if (r == NVML_ERROR_INSUFFICIENT_SIZE) {
            cap = (n > cap ? n : cap) * 2;
            continue;
        }
        if (r != NVML_SUCCESS)
            break;
        g->procs = calloc(n ? n : 1, sizeof *g->procs);
        if (!g->procs) {
            free(infos);
            return gpx_error_set(err, GPX_E_NOMEM, "listing the processes of GPU %u", index);
        }
        for (unsigned i = 0; i < n; i++) {
            struct gpu_proc *p = &g->procs[i];
            p->pid = (int32_t)infos[i].pid;
            p->bytes = infos[i].usedGpuMemory == NVML_VALUE_NOT_AVAILABLE_ULL
                           ? 0
                           : (uint64_t)infos[i].usedGpuMemory;
            p->gi = infos[i].gpuInstanceId;
            if (gpx_proc_uid(p->pid, &p->uid) == 0)
                p->uid_known = true;
            else if (errno == ENOENT || errno == ESRCH)
                p->gone = true;
            if (gpx_pidns_ident(p->pid, &p->ns, &p->inner) < 0) {
                p->ns = gpx_pidns_self(); /* no NSpid (old kernel): our numbers */
                p->inner = p->pid;
            }
        }
        g->n = n;
        free(infos);
        return 1;
    }
    free(infos);
    if (r == NVML_ERROR_NOT_SUPPORTED || r == NVML_SUCCESS)
        return 0;
    return gpx_nvml_fail(nv, r, err, "nvmlDeviceGetComputeRunningProcesses");
}

static bool same_uid(const struct gpu_proc *p, const struct lease_view *l)
{
    return p->uid_known && p->uid == l->uid;
}

/*
 * Whether an exclusive or mig lease counts `p`: its tenant's, and for a mig
 * lease only in its own GPU instance (where NVML says the process runs), so
 * that a tenant's process in another tenant's instance of the same GPU, or in
 * an instance no lease holds, is unleased. A mig lease whose limits predate
 * the instance being recorded counts its tenant's anywhere on the GPU, as the
 * watchdog did then: it does not act on what it cannot tell.
 */
static bool counts_by_uid(const struct gpu_proc *p, const struct lease_view *l)
{
    if (!same_uid(p, l))
        return false;
    return l->mode != GPX_MODE_MIG || !l->has_gi || p->gi == l->gi;
}

static bool counts_by_slot(const struct lease_view *l)
{
    return l->mode == GPX_MODE_VGPU || l->mode == GPX_MODE_TIMESLICE;
}

/*
 * A shared lease: counts its tenant's processes that hold its slots, and
 * reports it when they hold more than its quota and the allowance.
 */
static int check_shared(const struct gpx_watch_opts *o, const struct lease_view *l,
                        struct gpu_view *g, struct gpx_watch_report *rep, unsigned *cap,
                        gpx_error *err)
{
    uint64_t used = 0;
    unsigned np = 0;
    int32_t pids[GPX_WATCH_MAX_PIDS];
    for (unsigned p = 0; p < g->n; p++) {
        struct gpu_proc *gp = &g->procs[p];
        if (gp->gone || !same_uid(gp, l) || !lease_has(l, gp))
            continue;
        gp->counted = true;
        used += gp->bytes;
        if (np < GPX_WATCH_MAX_PIDS)
            pids[np++] = gp->pid;
    }
    if (l->quota == 0) /* no memory quota (a timeslice lease): nothing to exceed */
        return 0;
    uint64_t allowance = (uint64_t)np * o->allowance;
    if (np && allowance / np != o->allowance) /* overflow: the lease bound applies */
        allowance = UINT64_MAX;
    if (allowance > o->lease_allowance)
        allowance = o->lease_allowance;
    uint64_t bound = l->quota + allowance < l->quota ? UINT64_MAX : l->quota + allowance;
    if (used <= bound)
        return 0;
    struct gpx_watch_violation *v = add_violation(rep, cap);
    if (!v)
        return gpx_error_set(err, GPX_E_NOMEM, "watchdog report");
    v->kind = GPX_WATCH_OVER_QUOTA;
    memcpy(v->lease, l->id, sizeof v->lease);
    v->gpu_index = g->index;
    memcpy(v->gpu_uuid, g->uuid, sizeof v->gpu_uuid);
    v->quota_bytes = l->quota;
    v->allowance_bytes = allowance;
    v->used_bytes = used;
    v->uid = l->uid;
    v->uid_known = 1;
    v->npids = np;
    memcpy(v->pids, pids, np * sizeof *pids);
    /* all of them: which one holds what the interposer did not count, NVML can't say */
    if (o->enforce == GPX_WATCH_KILL)
        enforce_kill(v);
    return 0;
}

/* One GPU: its leases count their processes; every process left is unleased. */
static int check_gpu(const struct gpx_watch_opts *o, struct gpu_view *g,
                     const struct lease_view *leases, unsigned nleases,
                     struct gpx_watch_report *rep, unsigned *cap, gpx_error *err)
{
    for (unsigned li = 0; li < nleases; li++) {
        const struct lease_view *l = &leases[li];
        if (strcmp(l->gpu_uuid, g->uuid) != 0)
            continue;
        if (counts_by_slot(l)) {
            if (check_shared(o, l, g, rep, cap, err) < 0)
                return -1;
            continue;
        }
        /* exclusive, mig: the whole GPU (or an instance of it) is the tenant's, its workloads
         * run without the interposer */
        for (unsigned p = 0; p < g->n; p++)
            if (counts_by_uid(&g->procs[p], l))
                g->procs[p].counted = true;
    }
    for (unsigned p = 0; p < g->n; p++) {
        const struct gpu_proc *gp = &g->procs[p];
        if (gp->counted || gp->gone)
            continue;
        struct gpx_watch_violation *v = add_violation(rep, cap);
        if (!v)
            return gpx_error_set(err, GPX_E_NOMEM, "watchdog report");
        v->kind = GPX_WATCH_UNLEASED;
        v->gpu_index = g->index;
        memcpy(v->gpu_uuid, g->uuid, sizeof v->gpu_uuid);
        v->used_bytes = gp->bytes;
        v->uid = gp->uid;
        v->uid_known = gp->uid_known;
        v->npids = 1;
        v->pids[0] = gp->pid;
        if (o->enforce == GPX_WATCH_KILL)
            enforce_kill(v);
    }
    return 0;
}

static void free_gpus(struct gpu_view *gpus, unsigned n)
{
    for (unsigned i = 0; gpus && i < n; i++)
        free(gpus[i].procs);
    free(gpus);
}

/* Every GPU with its processes; a GPU whose processes NVML does not list has none. */
static int read_gpus(struct gpx_nvml *nv, struct gpu_view **out, unsigned *count, gpx_error *err)
{
    unsigned n = 0;
    *out = NULL;
    *count = 0;
    nvmlReturn_t r = nv->device_count(&n);
    if (r != NVML_SUCCESS)
        return gpx_nvml_fail(nv, r, err, "nvmlDeviceGetCount");
    struct gpu_view *gpus = calloc(n ? n : 1, sizeof *gpus);
    if (!gpus)
        return gpx_error_set(err, GPX_E_NOMEM, "watchdog: %u GPUs", n);
    for (unsigned i = 0; i < n; i++) {
        if (read_gpu(nv, i, &gpus[i], err) < 0) {
            free_gpus(gpus, i + 1);
            return gpx_error_wrap(err, "GPU %u", i);
        }
    }
    *out = gpus;
    *count = n;
    return 0;
}

int gpx_watchdog_check(struct gpx_nvml *nv, const char *run_dir, const struct gpx_watch_opts *o,
                       struct gpx_watch_report *rep, gpx_error *err)
{
    memset(rep, 0, sizeof *rep);
    /* NVML first, leases second: the interposer takes its slot before its first driver call,
     * so every process in NVML's snapshot already holds its slot when the leases are read. */
    struct gpu_view *gpus = NULL;
    unsigned ngpus = 0;
    if (read_gpus(nv, &gpus, &ngpus, err) < 0)
        return gpx_error_wrap(err, "watchdog: reading the GPUs' processes");
    struct lease_view *leases = NULL;
    unsigned nleases = 0, cap = 0;
    if (read_leases(run_dir, &leases, &nleases, rep, err) < 0) {
        free_gpus(gpus, ngpus);
        return -1;
    }
    int rc = 0;
    for (unsigned gi = 0; gi < ngpus && rc == 0; gi++)
        rc = check_gpu(o, &gpus[gi], leases, nleases, rep, &cap, err);
    free_gpus(gpus, ngpus);
    free(leases);
    if (rc < 0)
        gpx_watch_report_free(rep);
    return rc;
}

void gpx_watch_report_free(struct gpx_watch_report *rep)
{
    if (!rep)
        return;
    free(rep->v);
    rep->v = NULL;
    rep->n = 0;
}
