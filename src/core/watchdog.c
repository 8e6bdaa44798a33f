/*
 * Watchdog check (see watchdog.h): one pass over the leases and NVML's
 * compute processes. Stateless between passes, so the daemon can call it on
 * any schedule and a restart loses nothing.
 *
 * Invariants: a process is only killed when NVML shows it on the GPU right
 * now and it is either in an over-quota lease of that GPU or, on a GPU with
 * shared (vgpu/timeslice) leases, in none; nothing is killed in report mode.
 * A figure NVML does not give (used memory not available) counts as 0: the
 * watchdog does not act on what it cannot see.
 */
#define _GNU_SOURCE
#include "core/watchdog.h"
#include "shm/lease.h"
#include "nvml/inventory.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
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
    uint64_t quota;
    unsigned npids;
    int32_t pids[GPX_LEASE_MAX_PROCS];
};

static int lease_has(const struct lease_view *l, int32_t pid)
{
    for (unsigned i = 0; i < l->npids; i++)
        if (l->pids[i] == pid)
            return 1;
    return 0;
}

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

uint64_t gpx_watchdog_allowance = 512ULL << 20;

/*
 * A lease whose usage region can't be opened (damaged, or rewritten by its
 * tenant) still has its read-only limits: read them alone, so its GPU counts
 * as shared and its processes, now in no readable lease, are reported.
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

static uint64_t proc_bytes(const struct gpx_gpu_proc *p)
{
    return p->used_bytes == UINT64_MAX ? 0 : p->used_bytes;
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
            if (read_limits_only(run_dir, ids[i], &lim) == 0) {
                /* damaged usage: the lease owns no process the watchdog can trust */
                struct lease_view *l = &views[k++];
                memcpy(l->id, lim.id, sizeof l->id);
                l->id[sizeof l->id - 1] = '\0';
                memcpy(l->gpu_uuid, lim.gpu_uuid, sizeof l->gpu_uuid);
                l->gpu_uuid[sizeof l->gpu_uuid - 1] = '\0';
                l->mode = (int)lim.mode;
                l->quota = lim.memory_quota;
            }
            continue;
        }
        rep->reaped += (unsigned)gpx_lease_reap(&r);
        struct lease_view *l = &views[k++];
        memcpy(l->id, r.limits->id, sizeof l->id);
        l->id[sizeof l->id - 1] = '\0';
        memcpy(l->gpu_uuid, r.limits->gpu_uuid, sizeof l->gpu_uuid);
        l->gpu_uuid[sizeof l->gpu_uuid - 1] = '\0';
        l->mode = (int)r.limits->mode;
        l->quota = r.limits->memory_quota;
        for (unsigned s = 0; s < GPX_LEASE_MAX_PROCS; s++) {
            int32_t pid = atomic_load(&r.usage->procs[s].pid);
            if (pid > 0)
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

int gpx_watchdog_check(struct gpx_nvml *nv, const char *run_dir, enum gpx_watch_enforce enforce,
                       struct gpx_watch_report *rep, gpx_error *err)
{
    memset(rep, 0, sizeof *rep);
    /* NVML first, leases second: the interposer takes its slot before its first driver call,
     * so every process in NVML's snapshot already holds its slot when the leases are read. */
    struct gpx_inventory inv;
    if (gpx_inventory_read(nv, &inv, err) < 0)
        return gpx_error_wrap(err, "watchdog: reading the GPU inventory");
    struct lease_view *leases = NULL;
    unsigned nleases = 0, cap = 0;
    if (read_leases(run_dir, &leases, &nleases, rep, err) < 0) {
        gpx_inventory_free(&inv);
        return -1;
    }
    int rc = 0;
    for (unsigned gi = 0; gi < inv.count && rc == 0; gi++) {
        const struct gpx_gpu_info *g = &inv.gpus[gi];
        if (!(g->valid & GPX_INV_PROCS))
            continue;
        int shared = 0;
        for (unsigned li = 0; li < nleases; li++) {
            const struct lease_view *l = &leases[li];
            if (strcmp(l->gpu_uuid, g->uuid) != 0)
                continue;
            if (l->mode == GPX_MODE_VGPU || l->mode == GPX_MODE_TIMESLICE)
                shared = 1;
            if (l->quota == 0)
                continue;
            uint64_t used = 0;
            unsigned np = 0;
            int32_t pids[GPX_WATCH_MAX_PIDS];
            for (unsigned p = 0; p < g->proc_count; p++) {
                if (!lease_has(l, (int32_t)g->procs[p].pid))
                    continue;
                used += proc_bytes(&g->procs[p]);
                if (np < GPX_WATCH_MAX_PIDS)
                    pids[np++] = (int32_t)g->procs[p].pid;
            }
            if (used <= l->quota + (uint64_t)np * gpx_watchdog_allowance)
                continue;
            struct gpx_watch_violation *v = add_violation(rep, &cap);
            if (!v) {
                rc = gpx_error_set(err, GPX_E_NOMEM, "watchdog report");
                break;
            }
            v->kind = GPX_WATCH_OVER_QUOTA;
            memcpy(v->lease, l->id, sizeof v->lease);
            v->gpu_index = g->index;
            memcpy(v->gpu_uuid, g->uuid, sizeof v->gpu_uuid);
            v->quota_bytes = l->quota;
            v->used_bytes = used;
            v->npids = np;
            memcpy(v->pids, pids, np * sizeof *pids);
            if (enforce == GPX_WATCH_KILL)
                enforce_kill(v);
        }
        if (!shared || rc < 0)
            continue;
        for (unsigned p = 0; p < g->proc_count; p++) {
            int32_t pid = (int32_t)g->procs[p].pid;
            int leased = 0;
            for (unsigned li = 0; li < nleases && !leased; li++)
                leased = strcmp(leases[li].gpu_uuid, g->uuid) == 0 && lease_has(&leases[li], pid);
            if (leased)
                continue;
            struct gpx_watch_violation *v = add_violation(rep, &cap);
            if (!v) {
                rc = gpx_error_set(err, GPX_E_NOMEM, "watchdog report");
                break;
            }
            v->kind = GPX_WATCH_UNLEASED;
            v->gpu_index = g->index;
            memcpy(v->gpu_uuid, g->uuid, sizeof v->gpu_uuid);
            v->used_bytes = proc_bytes(&g->procs[p]);
            v->npids = 1;
            v->pids[0] = pid;
            if (enforce == GPX_WATCH_KILL)
                enforce_kill(v);
        }
    }
    gpx_inventory_free(&inv);
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
