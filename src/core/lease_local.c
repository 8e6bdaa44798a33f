/*
 * Leases before the daemon (see lease_local.h): admission against the
 * inventory and the other leases of the GPU, then gpx_lease_region_create.
 *
 * Invariant: a lease is only written after the checks, under the creation
 * lock, so two concurrent `gpuplex lease create` cannot both take the last
 * quota of a GPU. Leases that can't be read (a damaged region) are skipped by
 * admission; `gpuplex lease ls` reports them.
 */
#define _GNU_SOURCE
#include "core/lease_local.h"
#include "core/size.h"
#include "nvml/inventory.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int is_index(const char *s)
{
    if (!*s || strlen(s) > 4)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

static const struct gpx_gpu_info *find_gpu(const struct gpx_inventory *inv, const char *spec,
                                           gpx_error *err)
{
    if (!spec || !*spec)
        return gpx_error_set(err, GPX_E_INVALID, "no GPU given (--gpu INDEX or UUID)"), NULL;
    if (is_index(spec)) {
        unsigned i = (unsigned)strtoul(spec, NULL, 10); /* 1 to 4 digits: see is_index */
        if (i < inv->count)
            return &inv->gpus[i];
    } else {
        for (unsigned i = 0; i < inv->count; i++)
            if (strcasecmp(inv->gpus[i].uuid, spec) == 0)
                return &inv->gpus[i];
    }
    if (inv->count == 0)
        gpx_error_set(err, GPX_E_NOT_FOUND, "no GPU '%s': this node has no GPU", spec);
    else
        gpx_error_set(err, GPX_E_NOT_FOUND,
                      "no GPU '%s' (this node has GPUs 0-%u; see 'gpuplex ls')", spec,
                      inv->count - 1);
    return NULL;
}

struct gpu_load {
    const char *uuid;
    unsigned leases;
    int exclusive;
    uint64_t quota_sum;
    char first[GPX_LEASE_ID_MAX]; /* a lease in the way, for messages */
};

static int tally(const char *run_dir, struct gpu_load *load, gpx_error *err)
{
    char(*ids)[GPX_LEASE_ID_MAX] = NULL;
    unsigned n = 0;
    if (gpx_lease_ids(run_dir, &ids, &n, err) < 0)
        return -1;
    for (unsigned i = 0; i < n; i++) {
        struct gpx_lease_region r;
        if (gpx_lease_region_open(run_dir, ids[i], &r, NULL) < 0)
            continue;
        if (strcmp(r.limits->gpu_uuid, load->uuid) == 0) {
            if (load->leases++ == 0)
                snprintf(load->first, sizeof load->first, "%s", r.limits->id);
            if (r.limits->mode == GPX_MODE_EXCLUSIVE || r.limits->mode == GPX_MODE_MIG) {
                if (r.limits->mode == GPX_MODE_EXCLUSIVE && !load->exclusive)
                    snprintf(load->first, sizeof load->first, "%s", r.limits->id);
                load->exclusive |= r.limits->mode == GPX_MODE_EXCLUSIVE;
            } else {
                load->quota_sum += r.limits->memory_quota;
            }
        }
        gpx_lease_region_close(&r);
    }
    free(ids);
    return 0;
}

/* Takes the creation lock: an flock on <run_dir>/leases itself; returns its fd. */
static int lock_leases(const char *run_dir, gpx_error *err)
{
    int fd = gpx_lease_dir_open(run_dir, 1, err);
    if (fd < 0)
        return -1;
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return gpx_error_errno(err, GPX_E_IO, e, "locking %s/leases", run_dir);
        }
    }
    return fd;
}

int gpx_lease_local_create(struct gpx_nvml *nv, const char *run_dir,
                           const struct gpx_lease_request *req, struct gpx_lease_limits *out,
                           gpx_error *err)
{
    int mode = req->mode;
    if (mode < 0)
        mode = req->memory ? GPX_MODE_VGPU : GPX_MODE_EXCLUSIVE;
    switch (mode) {
    case GPX_MODE_VGPU:
        if (!req->memory)
            return gpx_error_set(err, GPX_E_INVALID,
                                 "a vgpu lease needs a memory quota (--memory SIZE)");
        break;
    case GPX_MODE_TIMESLICE:
        break;
    case GPX_MODE_EXCLUSIVE:
        if (req->memory)
            return gpx_error_set(err, GPX_E_INVALID,
                                 "an exclusive lease has the whole GPU; --memory does not apply "
                                 "(use --mode vgpu or timeslice for a quota)");
        if (req->cap)
            return gpx_error_set(err, GPX_E_INVALID,
                                 "an exclusive lease has the whole GPU; --cap does not apply");
        break;
    case GPX_MODE_MIG:
        return gpx_error_set(err, GPX_E_INVALID, "mig leases are made by gpuplexd, not yet here");
    default:
        return gpx_error_set(err, GPX_E_INVALID, "invalid lease mode %d", mode);
    }
    if (req->cap > 100)
        return gpx_error_set(err, GPX_E_INVALID, "compute cap %u%% is not in 1..100", req->cap);

    struct gpx_inventory inv;
    if (gpx_inventory_read(nv, &inv, err) < 0)
        return gpx_error_wrap(err, "reading the GPU inventory");
    int rc = -1, lock = -1;
    const struct gpx_gpu_info *g = find_gpu(&inv, req->gpu, err);
    if (!g)
        goto out;
    char need[32], have[32];
    gpx_size_format(req->memory, need, sizeof need);
    gpx_size_format(g->memory_total, have, sizeof have);
    if (req->memory > g->memory_total) {
        gpx_error_set(err, GPX_E_NO_SPACE, "memory quota %s is larger than GPU %u's %s (%s)", need,
                      g->index, have, g->name);
        goto out;
    }

    lock = lock_leases(run_dir, err);
    if (lock < 0)
        goto out;
    struct gpu_load load = {.uuid = g->uuid};
    if (tally(run_dir, &load, err) < 0)
        goto out;
    if (load.exclusive) {
        gpx_error_set(err, GPX_E_BUSY, "GPU %u is held exclusively by lease %s", g->index,
                      load.first);
        goto out;
    }
    if (mode == GPX_MODE_EXCLUSIVE && load.leases) {
        gpx_error_set(err, GPX_E_BUSY, "GPU %u has %u lease%s (%s...); exclusive needs an idle GPU",
                      g->index, load.leases, load.leases == 1 ? "" : "s", load.first);
        goto out;
    }
    if (req->memory >
        g->memory_total - (load.quota_sum < g->memory_total ? load.quota_sum : g->memory_total)) {
        char left[32];
        gpx_size_format(load.quota_sum < g->memory_total ? g->memory_total - load.quota_sum : 0,
                        left, sizeof left);
        gpx_error_set(err, GPX_E_NO_SPACE,
                      "memory quota %s does not fit GPU %u: %s of its %s are free for quotas "
                      "(%u lease%s)",
                      need, g->index, left, have, load.leases, load.leases == 1 ? "" : "s");
        goto out;
    }

    struct gpx_lease_limits l;
    memset(&l, 0, sizeof l);
    l.mode = (uint32_t)mode;
    l.gpu_index = g->index;
    snprintf(l.gpu_uuid, sizeof l.gpu_uuid, "%s", g->uuid);
    l.memory_quota = req->memory;
    l.weight = req->weight ? req->weight : 1;
    l.cap_percent = req->cap;
    l.uid = (uint32_t)getuid();
    for (int attempt = 0;; attempt++) {
        gpx_lease_new_id(l.id);
        if (gpx_lease_region_create(run_dir, &l, err) == 0)
            break;
        if (err->code != GPX_E_EXISTS || attempt == 3)
            goto out;
    }
    /* Read back what was written (nonce, created_ns). */
    struct gpx_lease_region r;
    if (gpx_lease_region_open(run_dir, l.id, &r, err) < 0)
        goto out;
    *out = *r.limits;
    gpx_lease_region_close(&r);
    rc = 0;
out:
    if (lock >= 0)
        close(lock);
    gpx_inventory_free(&inv);
    return rc;
}

uint64_t gpx_lease_info_wait_percentile(const struct gpx_lease_info *in, double pct)
{
    uint64_t total = 0, seen = 0;
    for (unsigned b = 0; b < 24; b++)
        total += in->wait_hist[b];
    if (!total)
        return 0;
    for (unsigned b = 0; b < 24; b++) {
        seen += in->wait_hist[b];
        if ((double)seen >= (double)total * pct / 100.0)
            return (1ULL << b) * 1000ULL; /* the bucket's upper bound */
    }
    return (1ULL << 23) * 1000ULL;
}

int gpx_lease_info_read(const char *run_dir, const char *id, int reap, struct gpx_lease_info *out,
                        gpx_error *err)
{
    struct gpx_lease_region r;
    if (gpx_lease_region_open(run_dir, id, &r, err) < 0)
        return -1;
    if (reap)
        gpx_lease_reap(&r);
    memset(out, 0, sizeof *out);
    out->limits = *r.limits;
    out->used = atomic_load(&r.usage->used);
    out->peak = atomic_load(&r.usage->peak);
    out->refused = atomic_load(&r.usage->refused);
    out->gpu_ns_granted = atomic_load(&r.usage->gpu_ns_granted);
    out->wait_ns = atomic_load(&r.usage->wait_ns);
    out->turns = atomic_load(&r.usage->turns);
    out->drains = atomic_load(&r.usage->drains);
    for (unsigned b = 0; b < 24; b++)
        out->wait_hist[b] = atomic_load(&r.usage->wait_hist[b]);
    uint32_t pos = atomic_load(&r.usage->turn_ring_pos);
    for (unsigned k = 0; k < GPX_LEASE_TURN_RING; k++)
        out->turn_ring[k] = atomic_load(&r.usage->turn_ring[(pos + k) % GPX_LEASE_TURN_RING]);
    for (unsigned i = 0; i < GPX_LEASE_MAX_PROCS; i++) {
        int32_t pid = atomic_load(&r.usage->procs[i].pid);
        if (pid <= 0)
            continue;
        out->pids[out->nprocs] = pid;
        out->proc_used[out->nprocs] = atomic_load(&r.usage->procs[i].used);
        out->nprocs++;
    }
    gpx_lease_region_close(&r);
    return 0;
}

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

int gpx_lease_ids(const char *run_dir, char (**ids)[GPX_LEASE_ID_MAX], unsigned *n, gpx_error *err)
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
