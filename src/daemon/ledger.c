/*
 * The lease ledger: create, release, list and meter leases; reconcile with
 * the lease regions on start and with dead owner processes while running.
 *
 * Crash safety, in the order of the steps (docs/daemon.md has the table):
 *   create:  row 'pending' -> region created -> row 'active' (durable) -> 201
 *   release: row 'released' (durable) -> region removed -> 200
 * So after a crash at any instant: a 'pending' row was never acknowledged
 * (its region, if any, is removed and the row aborted); an 'active' row was
 * or may have been acknowledged (its region is re-attached, re-created if
 * the run directory lost it); a region whose row is 'released' or 'aborted'
 * is removed. Regions with no row at all were not made by this daemon (the
 * CLI's direct leases share the run directory) and are left alone.
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "core/placement.h"
#include "core/size.h"
#include "daemon/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GIB 1073741824.0

int64_t gpxd_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t proc_start_ticks(int32_t pid)
{
    return gpx_lease_proc_start_ticks(pid);
}

static int owner_alive(const struct gpxd_owner *o)
{
    uint64_t t = proc_start_ticks(o->pid);
    return t != 0 && (o->start_ticks == 0 || t == o->start_ticks);
}

static void iso_time(int64_t ns, char *buf, size_t len)
{
    time_t t = (time_t)(ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03dZ", (int)(ns / 1000000 % 1000));
}

static json_t *time_json(int64_t ns)
{
    if (ns <= 0)
        return json_null();
    char b[64];
    iso_time(ns, b, sizeof b);
    return json_string(b);
}

/* --- the active lease table (lock held) --- */

static struct gpxd_active *find_active(struct gpxd *d, const char *id, unsigned *pos)
{
    for (unsigned i = 0; i < d->n_leases; i++)
        if (strcmp(d->leases[i]->rec.id, id) == 0) {
            if (pos)
                *pos = i;
            return d->leases[i];
        }
    return NULL;
}

static int add_active(struct gpxd *d, struct gpxd_active *a, gpx_error *err)
{
    if (d->n_leases == d->cap_leases) {
        unsigned cap = d->cap_leases ? d->cap_leases * 2 : 64;
        /* an array of pointers: sizeof *n is the size of a pointer, as meant */
        struct gpxd_active **n =
            realloc(d->leases, cap * sizeof *n); // NOLINT(bugprone-sizeof-expression)
        if (!n)
            return gpx_error_set(err, GPX_E_NOMEM, "lease table");
        d->leases = n;
        d->cap_leases = cap;
    }
    d->leases[d->n_leases++] = a;
    return 0;
}

static void drop_active(struct gpxd *d, unsigned pos)
{
    struct gpxd_active *a = d->leases[pos];
    if (a->mapped)
        gpx_lease_region_close(&a->region);
    free(a);
    memmove(&d->leases[pos], &d->leases[pos + 1],
            (d->n_leases - pos - 1) * sizeof *d->leases); // NOLINT(bugprone-sizeof-expression)
    d->n_leases--;
}

unsigned gpxd_lease_count(struct gpxd *d)
{
    pthread_mutex_lock(&d->lock);
    unsigned n = d->n_leases;
    pthread_mutex_unlock(&d->lock);
    return n;
}

static int visible(const struct gpxd_caller *c, const struct gpxd_lease *l)
{
    return c->admin || strcmp(c->tenant, l->tenant) == 0;
}

int gpxd_lease_visible(const struct gpxd_caller *c, const struct gpxd_lease *l)
{
    return visible(c, l);
}

/* --- JSON --- */

static json_t *env_json(struct gpxd *d, const struct gpxd_lease *l)
{
    json_t *e = json_object();
    json_object_set_new(e, "CUDA_VISIBLE_DEVICES",
                        json_string(l->mode == GPX_MODE_MIG ? l->mig_uuid : l->gpu_uuid));
    json_object_set_new(e, "GPUPLEX_LEASE", json_string(l->id));
    json_object_set_new(e, "GPUPLEX_RUN_DIR", json_string(d->run_dir));
    if ((l->mode == GPX_MODE_VGPU || l->mode == GPX_MODE_TIMESLICE) && d->interposer[0])
        json_object_set_new(e, "LD_PRELOAD", json_string(d->interposer));
    return e;
}

static json_t *lease_json(struct gpxd *d, const struct gpxd_lease *l, const struct gpxd_active *a)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(l->id));
    json_object_set_new(o, "tenant", json_string(l->tenant));
    json_object_set_new(o, "state", json_string(gpxd_lease_state_name(l->state)));
    json_object_set_new(o, "mode", json_string(gpx_lease_mode_name((enum gpx_lease_mode)l->mode)));
    json_t *g = json_object();
    json_object_set_new(g, "index", json_integer(l->gpu_index));
    json_object_set_new(g, "uuid", json_string(l->gpu_uuid));
    json_object_set_new(o, "gpu", g);
    json_object_set_new(o, "memory_bytes",
                        l->memory_quota ? json_integer((json_int_t)l->memory_quota) : json_null());
    json_object_set_new(o, "weight",
                        l->mode == GPX_MODE_TIMESLICE || l->mode == GPX_MODE_VGPU
                            ? json_integer(l->weight ? l->weight : 1)
                            : json_null());
    json_object_set_new(o, "cap", l->cap ? json_integer(l->cap) : json_null());
    json_object_set_new(o, "mig_profile",
                        l->mig_profile[0] ? json_string(l->mig_profile) : json_null());
    json_t *mig = json_null();
    if (l->mode == GPX_MODE_MIG && l->mig_gi >= 0) {
        mig = json_object();
        json_object_set_new(mig, "gpu_instance_id", json_integer(l->mig_gi));
        json_object_set_new(mig, "compute_instance_id", json_integer(l->mig_ci));
        json_object_set_new(mig, "start", json_integer(l->mig_start));
        json_object_set_new(mig, "memory_bytes", json_integer((json_int_t)l->gpu_memory));
        json_object_set_new(mig, "uuid", json_string(l->mig_uuid));
        json_object_set_new(mig, "created", json_boolean(l->mig_created));
    }
    json_object_set_new(o, "mig", mig);
    json_t *labels = json_loads(l->labels, 0, NULL);
    json_object_set_new(o, "labels", labels ? labels : json_object());
    json_t *owners = json_array();
    for (unsigned i = 0; i < l->n_owners; i++)
        json_array_append_new(owners, json_integer(l->owners[i].pid));
    json_object_set_new(o, "owner_pids", owners);
    json_object_set_new(o, "created", time_json(l->created_ns));
    json_object_set_new(o, "released", time_json(l->released_ns));
    json_object_set_new(o, "release_reason", l->reason[0] ? json_string(l->reason) : json_null());

    uint64_t used = 0, peak = l->peak_used, gpu_ns = l->gpu_ns, wait_ns = l->wait_ns;
    unsigned procs = 0;
    if (a && a->mapped) {
        const struct gpx_lease_usage *u = a->region.usage;
        used = atomic_load(&u->used);
        uint64_t p = atomic_load(&u->peak);
        peak = p > peak ? p : peak;
        uint64_t g2 = atomic_load(&u->gpu_ns_granted), w2 = atomic_load(&u->wait_ns);
        gpu_ns += g2 >= a->gpu_ns_seen ? g2 - a->gpu_ns_seen : g2;
        wait_ns += w2 >= a->wait_ns_seen ? w2 - a->wait_ns_seen : w2;
        for (unsigned i = 0; i < GPX_LEASE_MAX_PROCS; i++)
            procs += atomic_load(&u->procs[i].pid) > 0;
    }
    int64_t end = l->released_ns ? l->released_ns : gpxd_now_ns();
    double held = l->created_ns && end > l->created_ns ? (double)(end - l->created_ns) / 1e9 : 0;
    if (l->mode == GPX_MODE_EXCLUSIVE || l->mode == GPX_MODE_MIG)
        gpu_ns = (uint64_t)(held * 1e9);
    json_t *us = json_object();
    json_object_set_new(us, "lease_seconds", json_real(held));
    json_object_set_new(us, "gpu_seconds", json_real((double)gpu_ns / 1e9));
    json_object_set_new(us, "wait_seconds", json_real((double)wait_ns / 1e9));
    json_object_set_new(us, "memory_used_bytes", json_integer((json_int_t)used));
    json_object_set_new(us, "memory_peak_bytes", json_integer((json_int_t)peak));
    json_object_set_new(us, "processes", json_integer(procs));
    json_object_set_new(o, "usage", us);
    json_object_set_new(o, "env", l->state == GPXD_ACTIVE ? env_json(d, l) : json_null());
    return o;
}

/* --- inventory snapshot for placement --- */

struct gpu_view {
    unsigned index;
    char uuid[96];
    uint64_t memory_total;
    int mig;
};

static int gpu_views(struct gpxd *d, struct gpu_view **out, unsigned *n, gpx_error *err)
{
    pthread_mutex_lock(&d->inv_lock);
    unsigned cnt = d->inv.count;
    struct gpu_view *v = calloc(cnt ? cnt : 1, sizeof *v);
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
static uint64_t held_memory(const struct gpxd_lease *l)
{
    return l->mode == GPX_MODE_EXCLUSIVE || l->mode == GPX_MODE_MIG ? l->gpu_memory
                                                                    : l->memory_quota;
}

/* --- create --- */

static void fill_limits(const struct gpxd_lease *l, uint32_t uid, struct gpx_lease_limits *lim)
{
    memset(lim, 0, sizeof *lim);
    lim->magic = GPX_LEASE_MAGIC_LIMITS;
    lim->version = GPX_LEASE_VERSION;
    lim->size = sizeof *lim;
    snprintf(lim->id, sizeof lim->id, "%s", l->id);
    lim->mode = (uint32_t)l->mode;
    lim->gpu_index = l->gpu_index;
    snprintf(lim->gpu_uuid, sizeof lim->gpu_uuid, "%s", l->gpu_uuid);
    lim->memory_quota = l->mode == GPX_MODE_EXCLUSIVE ? 0 : l->memory_quota;
    lim->weight = l->weight ? l->weight : 1;
    lim->cap_percent = l->cap;
    lim->uid = uid;
    lim->created_ns = (uint64_t)l->created_ns;
}

static void map_region(struct gpxd *d, struct gpxd_active *a)
{
    gpx_error e = {0};
    if (gpx_lease_region_open(d->run_dir, a->rec.id, &a->region, &e) == 0)
        a->mapped = 1;
    else
        gpx_warn("lease %s: cannot map its region (no metering): %s", a->rec.id, e.msg);
}

static int create_locked(struct gpxd *d, const struct gpxd_caller *c,
                         const struct gpxd_lease_req *r, json_t **out, gpx_error *err)
{
    struct gpu_view *gv = NULL;
    unsigned ng = 0;
    if (gpu_views(d, &gv, &ng, err) < 0)
        return -1;
    if (ng == 0) {
        free(gv);
        return gpx_error_set(err, GPX_E_NO_GPU, "this node has no GPU to lease");
    }
    int rc = -1, made = 0;
    struct gpxd_mig_choice *mc = NULL;
    struct gpx_place_gpu *pg = calloc(ng ? ng : 1, sizeof *pg);
    struct gpxd_active *a = calloc(1, sizeof *a);
    if (!pg || !a) {
        gpx_error_set(err, GPX_E_NOMEM, "placement");
        goto out;
    }

    /* owners first: they belong to the request's validation */
    struct gpxd_lease *l = &a->rec;
    for (unsigned i = 0; i < r->n_owners; i++) {
        uint64_t t = proc_start_ticks(r->owners[i]);
        if (!t) {
            gpx_error_set(err, GPX_E_INVALID, "owner pid %d is not a running process",
                          (int)r->owners[i]);
            goto out;
        }
        l->owners[l->n_owners].pid = r->owners[i];
        l->owners[l->n_owners].start_ticks = t;
        l->n_owners++;
    }

    struct gpx_place_req pr = {.mode = r->mode, .gpu = r->gpu_index, .memory = r->memory};
    if (r->gpu_uuid[0]) {
        for (unsigned i = 0; i < ng; i++)
            if (strcmp(gv[i].uuid, r->gpu_uuid) == 0)
                pr.gpu = (int)gv[i].index;
        if (pr.gpu < 0) {
            gpx_error_set(err, GPX_E_INVALID, "no GPU with UUID %s on this node", r->gpu_uuid);
            goto out;
        }
    }

    /* the node as placement sees it, and the tenant's share of it */
    uint64_t tenant_mem = 0;
    unsigned tenant_gpus = 0;
    for (unsigned i = 0; i < ng; i++) {
        pg[i].index = gv[i].index;
        pg[i].memory_total = gv[i].memory_total;
        pg[i].mig_enabled = gv[i].mig;
        int mine = 0;
        for (unsigned k = 0; k < d->n_leases; k++) {
            const struct gpxd_lease *o = &d->leases[k]->rec;
            if (o->gpu_index != gv[i].index)
                continue;
            pg[i].leases++;
            if (o->mode == GPX_MODE_EXCLUSIVE)
                pg[i].exclusive = 1;
            else
                pg[i].quota_sum += o->memory_quota;
            if (strcmp(o->tenant, c->tenant) == 0) {
                mine = 1;
                tenant_mem += held_memory(o);
            }
        }
        pg[i].allowed = mine;
        tenant_gpus += (unsigned)mine;
    }
    if (!c->max_gpus || tenant_gpus < c->max_gpus)
        for (unsigned i = 0; i < ng; i++)
            pg[i].allowed = 1;

    unsigned at = 0;
    if (r->mode == GPX_MODE_MIG) {
        /* src/daemon/mig.c: a free instance of the profile, or room for a new one */
        if (gpxd_mig_place(d, r->mig_profile, pr.gpu, pg, ng, &mc, err) < 0)
            goto out;
        while (mc && at < ng && gv[at].index != mc->s->index)
            at++;
        if (!mc || at == ng) {
            gpx_error_set(err, GPX_E_INTERNAL, "MIG placement chose an unknown GPU");
            goto out;
        }
    } else if (gpx_place(pg, ng, &pr, d->cfg.placement, d->cfg.oversubscription, &at, err) < 0) {
        goto out;
    }
    uint64_t want = r->mode == GPX_MODE_EXCLUSIVE ? gv[at].memory_total
                    : mc                          ? mc->memory
                                                  : r->memory;
    if (c->max_memory && tenant_mem + want > c->max_memory) {
        char a1[32], a2[32], a3[32];
        gpx_size_format(want, a1, sizeof a1);
        gpx_size_format(tenant_mem, a2, sizeof a2);
        gpx_size_format(c->max_memory, a3, sizeof a3);
        gpx_error_set(err, GPX_E_NO_SPACE,
                      "tenant '%s' holds %s of GPU memory; %s more would pass its max_memory of "
                      "%s",
                      c->tenant, a2, a1, a3);
        goto out;
    }

    snprintf(l->tenant, sizeof l->tenant, "%s", c->tenant);
    l->mode = r->mode;
    l->gpu_index = gv[at].index;
    snprintf(l->gpu_uuid, sizeof l->gpu_uuid, "%s", gv[at].uuid);
    l->memory_quota = r->mode == GPX_MODE_EXCLUSIVE ? 0 : r->memory;
    l->gpu_memory = mc ? mc->memory : gv[at].memory_total;
    /* mig: where the instance is (journalled before it is made) and, reused, which */
    l->mig_start = mc ? (int)mc->start : -1;
    l->mig_created = mc && !mc->reuse;
    l->mig_gi = mc && mc->reuse ? (int)mc->gi : -1;
    l->mig_ci = mc && mc->reuse ? (int)mc->ci : -1;
    if (mc && mc->reuse)
        snprintf(l->mig_uuid, sizeof l->mig_uuid, "%s", mc->uuid);
    l->weight = r->weight;
    l->cap = r->cap;
    snprintf(l->mig_profile, sizeof l->mig_profile, "%s", r->mig_profile);
    snprintf(l->labels, sizeof l->labels, "%s", r->labels ? r->labels : "{}");
    l->created_ns = gpxd_now_ns();
    l->state = GPXD_PENDING;

    /* 1. pending row (an id collision is retried with a new id) */
    int inserted = 0;
    for (int attempt = 0; attempt < 4 && !inserted; attempt++) {
        gpx_lease_new_id(l->id);
        gpx_error e = {0};
        if (gpxd_store_lease_insert(d->store, l, &e) == 0)
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

    /* 2. region */
    struct gpx_lease_limits lim;
    fill_limits(l, c->uid, &lim);
    if (gpx_lease_region_create(d->run_dir, &lim, err) < 0) {
        gpx_error_wrap(err, "creating the region of lease %s", l->id);
        l->state = GPXD_ABORTED;
        l->released_ns = gpxd_now_ns();
        snprintf(l->reason, sizeof l->reason, "region creation failed");
        gpxd_store_lease_update(d->store, l, NULL);
        goto out;
    }

    /* 2b. mig: the instance, made only now that the pending row says where it goes */
    if (mc && !mc->reuse) {
        if (gpxd_mig_make(d, mc, err) < 0) {
            gpx_lease_region_remove(d->run_dir, l->id, NULL);
            l->state = GPXD_ABORTED;
            l->released_ns = gpxd_now_ns();
            snprintf(l->reason, sizeof l->reason, "MIG instance creation failed");
            gpxd_store_lease_update(d->store, l, NULL);
            goto out;
        }
        made = 1;
        l->mig_gi = (int)mc->gi;
        l->mig_ci = (int)mc->ci;
        snprintf(l->mig_uuid, sizeof l->mig_uuid, "%s", mc->uuid);
        gpxd_fault(d, "after_mig_create"); /* tests: a crash between create and commit */
    }

    /* 3. active, durably: from here on the lease is acknowledged */
    l->state = GPXD_ACTIVE;
    if (gpxd_store_lease_update(d->store, l, err) < 0) {
        gpx_error_wrap(err, "recording lease %s", l->id);
        if (made)
            gpxd_mig_undo(d, l);
        gpx_lease_region_remove(d->run_dir, l->id, NULL);
        l->state = GPXD_ABORTED;
        l->released_ns = gpxd_now_ns();
        snprintf(l->reason, sizeof l->reason, "commit failed");
        gpxd_store_lease_update(d->store, l, NULL);
        goto out;
    }
    map_region(d, a);
    a->last_sample_ns = l->created_ns;
    if (add_active(d, a, err) < 0)
        goto out; /* cannot happen short of ENOMEM; the row stays active and reloads on start */
    atomic_fetch_add(&d->leases_created, 1);
    if (mc)
        gpx_info("lease %s: mig %s on GPU %u (GPU instance %d, %s, %s) for tenant %s", l->id,
                 l->mig_profile, l->gpu_index, l->mig_gi, l->mig_uuid,
                 mc->reuse ? "reused" : "created", l->tenant);
    else
        gpx_info("lease %s: %s on GPU %u for tenant %s", l->id,
                 gpx_lease_mode_name((enum gpx_lease_mode)l->mode), l->gpu_index, l->tenant);
    *out = lease_json(d, l, a);
    a = NULL;
    rc = 0;
out:
    if (a && a->mapped)
        gpx_lease_region_close(&a->region);
    gpxd_mig_choice_free(mc);
    free(a);
    free(pg);
    free(gv);
    return rc;
}

int gpxd_lease_create(struct gpxd *d, const struct gpxd_caller *c, const struct gpxd_lease_req *r,
                      json_t **out, gpx_error *err)
{
    pthread_mutex_lock(&d->lock);
    int rc = create_locked(d, c, r, out, err);
    pthread_mutex_unlock(&d->lock);
    return rc;
}

/* --- metering --- */

/* Takes one sample of a lease into the store and its record (inside a transaction). */
static int meter_one(struct gpxd *d, struct gpxd_active *a, int64_t now, gpx_error *err)
{
    if (!a->mapped)
        return 0;
    const struct gpx_lease_usage *u = a->region.usage;
    uint64_t g = atomic_load(&u->gpu_ns_granted), w = atomic_load(&u->wait_ns);
    uint64_t used = atomic_load(&u->used), peak = atomic_load(&u->peak);
    uint64_t dg = g >= a->gpu_ns_seen ? g - a->gpu_ns_seen : g;
    uint64_t dw = w >= a->wait_ns_seen ? w - a->wait_ns_seen : w;
    int64_t dt = now > a->last_sample_ns ? now - a->last_sample_ns : 0;
    a->gpu_ns_seen = g;
    a->wait_ns_seen = w;
    a->last_sample_ns = now;
    a->rec.gpu_ns += dg;
    a->rec.wait_ns += dw;
    int new_peak = peak > a->rec.peak_used;
    if (new_peak)
        a->rec.peak_used = peak;
    if (!dg && !dw && !used && !new_peak)
        return 0;
    struct gpxd_sample s = {.lease_id = a->rec.id,
                            .tenant = a->rec.tenant,
                            .ts_ns = now,
                            .dt_ns = dt,
                            .gpu_ns = dg,
                            .wait_ns = dw,
                            .used_bytes = used,
                            .peak_bytes = peak};
    return gpxd_store_sample_insert(d->store, &s, err);
}

void gpxd_meter_tick(struct gpxd *d)
{
    pthread_mutex_lock(&d->lock);
    gpx_error e = {0};
    int64_t now = gpxd_now_ns();
    if (d->n_leases && gpxd_store_begin(d->store, 0, &e) == 0) {
        int bad = 0;
        for (unsigned i = 0; i < d->n_leases && !bad; i++) {
            struct gpxd_active *a = d->leases[i];
            if (meter_one(d, a, now, &e) < 0 || gpxd_store_lease_update(d->store, &a->rec, &e) < 0)
                bad = 1;
        }
        if (bad)
            gpxd_store_rollback(d->store);
        else if (gpxd_store_commit(d->store, &e) == 0)
            e.code = GPX_E_OK;
    }
    if (e.code != GPX_E_OK)
        gpx_warn("metering: %s", e.msg);
    pthread_mutex_unlock(&d->lock);
}

/* --- release --- */

static int release_locked(struct gpxd *d, unsigned pos, const char *reason, json_t **out,
                          gpx_error *err)
{
    struct gpxd_active *a = d->leases[pos];
    struct gpxd_lease saved = a->rec;
    int64_t now = gpxd_now_ns();
    if (gpxd_store_begin(d->store, 1, err) < 0)
        return gpx_error_wrap(err, "releasing lease %s", a->rec.id);
    a->rec.state = GPXD_RELEASED;
    a->rec.released_ns = now;
    snprintf(a->rec.reason, sizeof a->rec.reason, "%s", reason);
    if (meter_one(d, a, now, err) < 0 || gpxd_store_lease_update(d->store, &a->rec, err) < 0 ||
        gpxd_store_commit(d->store, err) < 0) {
        gpxd_store_rollback(d->store);
        a->rec = saved;
        return gpx_error_wrap(err, "releasing lease %s", a->rec.id);
    }
    if (out)
        *out = lease_json(d, &a->rec, a);
    if (a->mapped) {
        gpx_lease_region_close(&a->region);
        a->mapped = 0;
    }
    gpx_error e = {0};
    if (gpx_lease_region_remove(d->run_dir, a->rec.id, &e) < 0)
        gpx_warn("lease %s: removing its region: %s (removed at next start)", a->rec.id, e.msg);
    gpx_info("lease %s released (%s)", a->rec.id, reason);
    atomic_fetch_add(&d->leases_released, 1);
    drop_active(d, pos);
    return 0;
}

int gpxd_lease_release(struct gpxd *d, const struct gpxd_caller *c, const char *id, json_t **out,
                       gpx_error *err)
{
    pthread_mutex_lock(&d->lock);
    unsigned pos;
    struct gpxd_active *a = find_active(d, id, &pos);
    int rc;
    if (a && visible(c, &a->rec)) {
        char reason[96];
        snprintf(reason, sizeof reason, "released by %s", c->tenant);
        rc = release_locked(d, pos, reason, out, err);
    } else {
        struct gpxd_lease *l = malloc(sizeof *l);
        gpx_error e = {0};
        if (l && gpxd_store_lease_get(d->store, id, l, &e) == 0 && visible(c, l) &&
            l->state == GPXD_RELEASED)
            rc = gpx_error_set(err, GPX_E_NOT_FOUND, "lease %s is already released", id);
        else
            rc = gpx_error_set(err, GPX_E_NOT_FOUND, "no lease %s", id);
        free(l);
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

int gpxd_lease_get(struct gpxd *d, const struct gpxd_caller *c, const char *id, json_t **out,
                   gpx_error *err)
{
    pthread_mutex_lock(&d->lock);
    int rc = 0;
    struct gpxd_active *a = find_active(d, id, NULL);
    if (a && visible(c, &a->rec)) {
        *out = lease_json(d, &a->rec, a);
    } else {
        struct gpxd_lease *l = malloc(sizeof *l);
        gpx_error e = {0};
        if (l && gpxd_store_lease_get(d->store, id, l, &e) == 0 && visible(c, l) &&
            (l->state == GPXD_RELEASED || l->state == GPXD_ACTIVE))
            *out = lease_json(d, l, NULL);
        else
            rc = gpx_error_set(err, GPX_E_NOT_FOUND, "no lease %s", id);
        free(l);
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

struct list_ctx {
    struct gpxd *d;
    json_t *arr;
};

static int list_one(const struct gpxd_lease *l, void *arg)
{
    struct list_ctx *x = arg;
    struct gpxd_active *a = l->state == GPXD_ACTIVE ? find_active(x->d, l->id, NULL) : NULL;
    json_array_append_new(x->arr, lease_json(x->d, a ? &a->rec : l, a));
    return 0;
}

int gpxd_lease_list(struct gpxd *d, const struct gpxd_caller *c, const char *state,
                    const char *tenant, json_t **out, gpx_error *err)
{
    unsigned states;
    if (!state || !strcmp(state, "active"))
        states = 1u << GPXD_ACTIVE;
    else if (!strcmp(state, "released"))
        states = 1u << GPXD_RELEASED;
    else if (!strcmp(state, "all"))
        states = 1u << GPXD_ACTIVE | 1u << GPXD_RELEASED;
    else
        return gpx_error_set(err, GPX_E_INVALID,
                             "query 'state' must be active, released or all, not '%.32s'", state);
    if (tenant && !c->admin && strcmp(tenant, c->tenant) != 0)
        return gpx_error_set(err, GPX_E_PERM, "tenant '%s' may list only its own leases",
                             c->tenant);
    if (!c->admin)
        tenant = c->tenant;
    json_t *arr = json_array();
    pthread_mutex_lock(&d->lock);
    int rc = 0;
    if (states == 1u << GPXD_ACTIVE) {
        for (unsigned i = 0; i < d->n_leases; i++) {
            const struct gpxd_active *a = d->leases[i];
            if (!tenant || !strcmp(tenant, a->rec.tenant))
                json_array_append_new(arr, lease_json(d, &a->rec, a));
        }
    } else {
        struct list_ctx x = {d, arr};
        rc = gpxd_store_lease_each(d->store, states, tenant, 0, 0, list_one, &x, err);
    }
    pthread_mutex_unlock(&d->lock);
    if (rc < 0) {
        json_decref(arr);
        return -1;
    }
    *out = arr;
    return 0;
}

/* --- GPUs --- */

static json_t *opt_uint(const struct gpx_gpu_info *g, uint32_t bit, unsigned v)
{
    return (g->valid & bit) ? json_integer(v) : json_null();
}

int gpxd_gpus(struct gpxd *d, const struct gpxd_caller *c, json_t **out, gpx_error *err)
{
    (void)err;
    json_t *arr = json_array();
    pthread_mutex_lock(&d->lock);
    pthread_mutex_lock(&d->inv_lock);
    for (unsigned i = 0; i < d->inv.count; i++) {
        const struct gpx_gpu_info *g = &d->inv.gpus[i];
        json_t *o = json_object();
        json_object_set_new(o, "index", json_integer(g->index));
        json_object_set_new(o, "name", json_string(g->name));
        json_object_set_new(o, "uuid", json_string(g->uuid));
        json_object_set_new(o, "pci_bus_id",
                            (g->valid & GPX_INV_PCI) ? json_string(g->pci_bus_id) : json_null());
        json_object_set_new(o, "memory_total_bytes", json_integer((json_int_t)g->memory_total));
        json_object_set_new(o, "memory_used_bytes", json_integer((json_int_t)g->memory_used));
        json_object_set_new(o, "utilization_gpu", opt_uint(g, GPX_INV_UTIL, g->util_gpu));
        json_object_set_new(o, "temperature_c", opt_uint(g, GPX_INV_TEMP, g->temperature_c));
        json_object_set_new(o, "power_w",
                            (g->valid & GPX_INV_POWER) ? json_real(g->power_mw / 1000.0)
                                                       : json_null());
        json_object_set_new(o, "sm_clock_mhz", opt_uint(g, GPX_INV_SM_CLOCK, g->sm_clock_mhz));
        int mig = (g->valid & GPX_INV_MIG) && g->mig_current == NVML_DEVICE_MIG_ENABLE;
        json_object_set_new(o, "mig_mode",
                            (g->valid & GPX_INV_MIG) ? json_string(mig ? "enabled" : "disabled")
                                                     : json_null());
        struct gpx_place_gpu pg = {.index = g->index, .memory_total = g->memory_total};
        json_t *leases = json_array();
        for (unsigned k = 0; k < d->n_leases; k++) {
            const struct gpxd_lease *l = &d->leases[k]->rec;
            if (l->gpu_index != g->index)
                continue;
            pg.leases++;
            if (l->mode == GPX_MODE_EXCLUSIVE)
                pg.exclusive = 1;
            else
                pg.quota_sum += l->memory_quota;
            if (!visible(c, l))
                continue;
            json_t *lo = json_object();
            json_object_set_new(lo, "id", json_string(l->id));
            json_object_set_new(lo, "tenant", json_string(l->tenant));
            json_object_set_new(lo, "mode",
                                json_string(gpx_lease_mode_name((enum gpx_lease_mode)l->mode)));
            json_object_set_new(lo, "memory_bytes",
                                l->memory_quota ? json_integer((json_int_t)l->memory_quota)
                                                : json_null());
            json_array_append_new(leases, lo);
        }
        json_object_set_new(o, "leases", leases);
        json_object_set_new(o, "exclusive", json_boolean(pg.exclusive));
        json_object_set_new(
            o, "memory_quota_free_bytes",
            json_integer(
                (json_int_t)(mig ? 0 : gpx_place_free_quota(&pg, d->cfg.oversubscription))));
        if (c->admin && (g->valid & GPX_INV_PROCS)) {
            json_t *procs = json_array();
            for (unsigned k = 0; k < g->proc_count; k++) {
                json_t *p = json_object();
                json_object_set_new(p, "pid", json_integer(g->procs[k].pid));
                json_object_set_new(p, "used_memory_bytes",
                                    g->procs[k].used_bytes == UINT64_MAX
                                        ? json_null()
                                        : json_integer((json_int_t)g->procs[k].used_bytes));
                json_array_append_new(procs, p);
            }
            json_object_set_new(o, "processes", procs);
        }
        json_array_append_new(arr, o);
    }
    pthread_mutex_unlock(&d->inv_lock);
    pthread_mutex_unlock(&d->lock);
    *out = arr;
    return 0;
}

void gpxd_inventory_refresh(struct gpxd *d)
{
    struct gpx_inventory inv;
    memset(&inv, 0, sizeof inv);
    gpx_error e = {0};
    if (gpx_inventory_read(&d->nv, &inv, &e) < 0) {
        gpx_warn("inventory: %s (keeping the last snapshot)", e.msg);
        return;
    }
    pthread_mutex_lock(&d->inv_lock);
    struct gpx_inventory old = d->inv;
    d->inv = inv;
    pthread_mutex_unlock(&d->inv_lock);
    gpx_inventory_free(&old);
}

/* --- usage --- */

struct usage_ctx {
    struct gpxd *d;
    json_t *samples; /* id -> [gpu_ns, wait_ns, used_gib_s, peak] */
    json_t *leases;
    json_t *tenants; /* name -> totals object */
    int64_t from, to, now;
};

static int usage_sample(const char *id, const struct gpxd_sample_sum *s, void *arg)
{
    struct usage_ctx *x = arg;
    json_t *a = json_array();
    json_array_append_new(a, json_integer((json_int_t)s->gpu_ns));
    json_array_append_new(a, json_integer((json_int_t)s->wait_ns));
    json_array_append_new(a, json_real(s->used_gib_s));
    json_array_append_new(a, json_integer((json_int_t)s->peak_bytes));
    json_object_set_new(x->samples, id, a);
    return 0;
}

static void add_real(json_t *o, const char *k, double v)
{
    json_t *cur = json_object_get(o, k);
    json_object_set_new(o, k, json_real((cur ? json_real_value(cur) : 0) + v));
}

static int usage_lease(const struct gpxd_lease *l, void *arg)
{
    struct usage_ctx *x = arg;
    int64_t end = l->released_ns ? l->released_ns : x->now;
    int64_t s = l->created_ns > x->from ? l->created_ns : x->from;
    int64_t e = end < x->to ? end : x->to;
    double secs = e > s ? (double)(e - s) / 1e9 : 0;
    uint64_t gpu_ns = 0, wait_ns = 0, peak = 0;
    double used_gib_s = 0;
    json_t *smp = json_object_get(x->samples, l->id);
    if (smp) {
        gpu_ns = (uint64_t)json_integer_value(json_array_get(smp, 0));
        wait_ns = (uint64_t)json_integer_value(json_array_get(smp, 1));
        used_gib_s = json_real_value(json_array_get(smp, 2));
        peak = (uint64_t)json_integer_value(json_array_get(smp, 3));
    }
    /* what the regions hold beyond the last sample, when the window reaches now */
    struct gpxd_active *a = l->state == GPXD_ACTIVE ? find_active(x->d, l->id, NULL) : NULL;
    if (a && a->mapped && x->to >= x->now) {
        const struct gpx_lease_usage *u = a->region.usage;
        uint64_t g = atomic_load(&u->gpu_ns_granted), w = atomic_load(&u->wait_ns);
        gpu_ns += g >= a->gpu_ns_seen ? g - a->gpu_ns_seen : g;
        wait_ns += w >= a->wait_ns_seen ? w - a->wait_ns_seen : w;
        uint64_t used = atomic_load(&u->used), p = atomic_load(&u->peak);
        if (x->now > a->last_sample_ns)
            used_gib_s += (double)used / GIB * (double)(x->now - a->last_sample_ns) / 1e9;
        if (p > peak)
            peak = p;
    }
    double gpu_s =
        (l->mode == GPX_MODE_EXCLUSIVE || l->mode == GPX_MODE_MIG) ? secs : (double)gpu_ns / 1e9;
    double quota_gib_s = (double)held_memory(l) / GIB * secs;

    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(l->id));
    json_object_set_new(o, "tenant", json_string(l->tenant));
    json_object_set_new(o, "mode", json_string(gpx_lease_mode_name((enum gpx_lease_mode)l->mode)));
    json_object_set_new(o, "gpu", json_integer(l->gpu_index));
    json_object_set_new(o, "state", json_string(gpxd_lease_state_name(l->state)));
    json_object_set_new(o, "lease_seconds", json_real(secs));
    json_object_set_new(o, "gpu_seconds", json_real(gpu_s));
    json_object_set_new(o, "wait_seconds", json_real((double)wait_ns / 1e9));
    json_object_set_new(o, "memory_quota_gib_seconds", json_real(quota_gib_s));
    json_object_set_new(o, "memory_used_gib_seconds", json_real(used_gib_s));
    json_object_set_new(o, "memory_peak_bytes", json_integer((json_int_t)peak));
    json_array_append_new(x->leases, o);

    json_t *t = json_object_get(x->tenants, l->tenant);
    if (!t) {
        t = json_object();
        json_object_set_new(t, "tenant", json_string(l->tenant));
        json_object_set_new(t, "leases", json_integer(0));
        json_object_set_new(t, "memory_peak_bytes", json_integer(0));
        json_object_set_new(x->tenants, l->tenant, t);
    }
    json_object_set_new(t, "leases",
                        json_integer(json_integer_value(json_object_get(t, "leases")) + 1));
    add_real(t, "lease_seconds", secs);
    add_real(t, "gpu_seconds", gpu_s);
    add_real(t, "wait_seconds", (double)wait_ns / 1e9);
    add_real(t, "memory_quota_gib_seconds", quota_gib_s);
    add_real(t, "memory_used_gib_seconds", used_gib_s);
    if ((json_int_t)peak > json_integer_value(json_object_get(t, "memory_peak_bytes")))
        json_object_set_new(t, "memory_peak_bytes", json_integer((json_int_t)peak));
    return 0;
}

int gpxd_usage(struct gpxd *d, const struct gpxd_caller *c, const char *tenant, int64_t from_ns,
               int64_t to_ns, json_t **out, gpx_error *err)
{
    if (tenant && !c->admin && strcmp(tenant, c->tenant) != 0)
        return gpx_error_set(err, GPX_E_PERM, "tenant '%s' may read only its own usage", c->tenant);
    if (!c->admin)
        tenant = c->tenant;
    struct usage_ctx x = {.d = d,
                          .samples = json_object(),
                          .leases = json_array(),
                          .tenants = json_object(),
                          .now = gpxd_now_ns()};
    x.from = from_ns;
    x.to = to_ns > 0 ? to_ns : x.now;
    if (x.to <= x.from) {
        json_decref(x.samples);
        json_decref(x.leases);
        json_decref(x.tenants);
        return gpx_error_set(err, GPX_E_INVALID, "query 'from' must be before 'to'");
    }
    pthread_mutex_lock(&d->lock);
    int rc = gpxd_store_sample_each(d->store, tenant, x.from, x.to, usage_sample, &x, err);
    if (rc == 0)
        rc = gpxd_store_lease_each(d->store, 1u << GPXD_ACTIVE | 1u << GPXD_RELEASED, tenant,
                                   x.from, x.to, usage_lease, &x, err);
    pthread_mutex_unlock(&d->lock);
    json_decref(x.samples);
    if (rc < 0) {
        json_decref(x.leases);
        json_decref(x.tenants);
        return -1;
    }
    json_t *o = json_object();
    json_object_set_new(o, "from", time_json(x.from > 0 ? x.from : 1));
    json_object_set_new(o, "to", time_json(x.to));
    json_t *ts = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(x.tenants, k, v)
    {
        (void)k;
        json_array_append(ts, v);
    }
    json_decref(x.tenants);
    json_object_set_new(o, "tenants", ts);
    json_object_set_new(o, "leases", x.leases);
    *out = o;
    return 0;
}

/* --- reconciliation --- */

void gpxd_reconcile_tick(struct gpxd *d)
{
    pthread_mutex_lock(&d->lock);
    int64_t now = gpxd_now_ns();
    for (unsigned i = d->n_leases; i-- > 0;) {
        struct gpxd_active *a = d->leases[i];
        if (a->mapped)
            gpx_lease_reap(&a->region);
        if (a->rec.n_owners == 0)
            continue;
        int alive = 0;
        for (unsigned k = 0; k < a->rec.n_owners && !alive; k++)
            alive = owner_alive(&a->rec.owners[k]);
        if (!alive && a->mapped)
            for (unsigned k = 0; k < GPX_LEASE_MAX_PROCS && !alive; k++)
                alive = atomic_load(&a->region.usage->procs[k].pid) != 0; /* <0: being reaped */
        if (alive) {
            a->orphan_since_ns = 0;
            continue;
        }
        if (!a->orphan_since_ns)
            a->orphan_since_ns = now;
        if (now - a->orphan_since_ns < (int64_t)d->cfg.grace_ms * 1000000LL)
            continue;
        gpx_error e = {0};
        if (release_locked(d, i, "owner processes exited", NULL, &e) < 0)
            gpx_warn("reconciler: %s", e.msg);
        else
            atomic_fetch_add(&d->leases_reaped, 1);
    }
    pthread_mutex_unlock(&d->lock);
}

struct load_ctx {
    struct gpxd_lease *rows;
    unsigned n, cap;
};

static int load_row(const struct gpxd_lease *l, void *arg)
{
    struct load_ctx *x = arg;
    if (x->n == x->cap) {
        unsigned cap = x->cap ? x->cap * 2 : 64;
        struct gpxd_lease *r = realloc(x->rows, cap * sizeof *r);
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
    struct gpxd *d = arg;
    if (find_active(d, id, NULL))
        return 0;
    struct gpxd_lease *l = malloc(sizeof *l);
    gpx_error e = {0};
    if (l && gpxd_store_lease_get(d->store, id, l, &e) == 0) {
        gpx_info("start-up: removing the region of %s lease %s", gpxd_lease_state_name(l->state),
                 id);
        if (gpx_lease_region_remove(d->run_dir, id, &e) < 0)
            gpx_warn("start-up: %s", e.msg);
    } else if (l) {
        gpx_debug("start-up: region %s is not this daemon's (no row); left alone", id);
    }
    free(l);
    return 0;
}

int gpxd_ledger_open(struct gpxd *d, gpx_error *err)
{
    pthread_mutex_lock(&d->lock);
    int rc = -1;
    struct load_ctx x = {0};
    if (gpxd_tenants_load(d, err) < 0)
        goto out;
    if (gpxd_store_lease_each(d->store, 1u << GPXD_PENDING | 1u << GPXD_ACTIVE, NULL, 0, 0,
                              load_row, &x, err) < 0)
        goto out;
    /* mig: instances of pending leases destroyed; active ones whose instance is gone released */
    if (gpxd_mig_startup(d, x.rows, x.n, err) < 0)
        goto out;
    unsigned aborted = 0, recreated = 0;
    for (unsigned i = 0; i < x.n; i++) {
        struct gpxd_lease *l = &x.rows[i];
        if (l->state == GPXD_RELEASED)
            continue; /* by gpxd_mig_startup */
        if (l->state == GPXD_PENDING) {
            gpx_lease_region_remove(d->run_dir, l->id, NULL);
            l->state = GPXD_ABORTED;
            l->released_ns = gpxd_now_ns();
            snprintf(l->reason, sizeof l->reason, "daemon stopped before acknowledging it");
            if (gpxd_store_lease_update(d->store, l, err) < 0)
                goto out;
            aborted++;
            continue;
        }
        struct gpxd_active *a = calloc(1, sizeof *a);
        if (!a) {
            gpx_error_set(err, GPX_E_NOMEM, "lease table");
            goto out;
        }
        a->rec = *l;
        a->gpu_ns_seen = l->gpu_ns;
        a->wait_ns_seen = l->wait_ns;
        a->last_sample_ns = gpxd_now_ns();
        gpx_error e = {0};
        if (gpx_lease_region_open(d->run_dir, l->id, &a->region, &e) == 0) {
            a->mapped = 1;
        } else {
            gpx_warn("start-up: lease %s: %s; re-creating its region", l->id, e.msg);
            gpx_lease_region_remove(d->run_dir, l->id, NULL);
            struct gpx_lease_limits lim;
            fill_limits(l, 0, &lim);
            gpx_error_clear(&e);
            if (gpx_lease_region_create(d->run_dir, &lim, &e) < 0)
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
    gpx_info("start-up: %u active lease%s re-attached (%u region%s re-created), %u unacknowledged "
             "lease%s aborted",
             d->n_leases, d->n_leases == 1 ? "" : "s", recreated, recreated == 1 ? "" : "s",
             aborted, aborted == 1 ? "" : "s");
    rc = 0;
out:
    free(x.rows);
    pthread_mutex_unlock(&d->lock);
    return rc;
}

void gpxd_ledger_close(struct gpxd *d)
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
