/*
 * Views (views.h): the JSON of leases, GPUs, usage, tenants, callers, health
 * and MIG state, written here and only here, and read back here for the
 * HTTP client. An encoder and its decoder sit side by side so that a key
 * added to one is seen missing in the other (tests/unit/test_views.c
 * round-trips every struct). Decoders trust nothing: numbers are clamped
 * into their C types, times into int64 nanoseconds.
 *
 * Unit rule: a quantity's key names its unit. Older keys that did not
 * (weight and cap are unitless or percent; "utilization_gpu") stay as they
 * were, next to the unit-named ones (cap_pct, utilization_gpu_pct).
 */
#define _GNU_SOURCE
#include "engine/views.h"
#include "core/watchdog.h"
#include "nvml/mig_json.h"
#include "shm/arbiter.h"

#include <stdatomic.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIB (1024ULL * 1024ULL)

static json_t *opt_u64(int valid, uint64_t v)
{
    return valid ? json_integer((json_int_t)v) : json_null();
}

static json_t *opt_str(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

json_t *gpx_view_time(int64_t ns)
{
    if (ns <= 0)
        return json_null();
    time_t t = (time_t)(ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char b[64];
    size_t n = strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(b + n, sizeof b - n, ".%03dZ", (int)(ns / 1000000 % 1000));
    return json_string(b);
}

static json_t *gpu_ref(unsigned index, const char *uuid)
{
    json_t *g = json_object();
    json_object_set_new(g, "index", json_integer(index));
    json_object_set_new(g, "uuid", json_string(uuid));
    return g;
}

/* --- leases --------------------------------------------------------------------------------- */

static int shared_mode(int mode)
{
    return mode == GPX_MODE_VGPU || mode == GPX_MODE_TIMESLICE;
}

json_t *gpx_view_lease(const struct gpx_lease *x, unsigned flags)
{
    const struct gpx_lease_rec *l = &x->rec;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(l->id));
    json_object_set_new(o, "tenant", json_string(l->tenant));
    json_object_set_new(o, "state", json_string(gpx_lease_state_name(l->state)));
    json_object_set_new(o, "mode", json_string(gpx_lease_mode_name((enum gpx_lease_mode)l->mode)));
    json_object_set_new(o, "gpu", gpu_ref(l->gpu_index, l->gpu_uuid));
    json_object_set_new(o, "gpu_index", json_integer(l->gpu_index));
    json_object_set_new(o, "gpu_uuid", json_string(l->gpu_uuid));
    json_object_set_new(o, "memory_bytes", opt_u64(l->memory_quota != 0, l->memory_quota));
    uint64_t held = gpx_lease_held_memory(l);
    json_object_set_new(o, "held_memory_bytes", opt_u64(held != 0, held));
    json_object_set_new(
        o, "weight", shared_mode(l->mode) ? json_integer(l->weight ? l->weight : 1) : json_null());
    json_object_set_new(o, "cap", l->cap ? json_integer(l->cap) : json_null());
    json_object_set_new(o, "cap_pct", l->cap ? json_integer(l->cap) : json_null());
    json_object_set_new(o, "mig_profile", opt_str(l->mig_profile));
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
    json_t *labels = json_loads(l->labels[0] ? l->labels : "{}", 0, NULL);
    json_object_set_new(o, "labels", labels ? labels : json_object());
    json_t *owners = json_array();
    for (unsigned i = 0; i < l->n_owners; i++)
        json_array_append_new(owners, json_integer(l->owners[i].pid));
    json_object_set_new(o, "owner_pids", owners);
    json_object_set_new(o, "uid", json_integer(x->uid));
    json_object_set_new(o, "created", gpx_view_time(l->created_ns));
    json_object_set_new(o, "created_ns", json_integer(l->created_ns));
    json_object_set_new(o, "released", gpx_view_time(l->released_ns));
    json_object_set_new(o, "release_reason", opt_str(l->reason));

    /* what the region says now (flat, as `gpuplex lease ls --json` always printed) */
    json_object_set_new(o, "used_bytes", json_integer((json_int_t)x->used_bytes));
    json_object_set_new(o, "used_source", opt_str(gpx_figure_source_name(x->used_source)));
    json_object_set_new(o, "gpu_util_source", opt_str(gpx_figure_source_name(x->util_source)));
    json_object_set_new(o, "gpu_util_pct",
                        x->util_source == GPX_SRC_NVML ? json_integer(x->util_pct) : json_null());
    json_object_set_new(o, "peak_bytes", json_integer((json_int_t)x->peak_bytes));
    json_object_set_new(o, "refused", json_integer((json_int_t)x->refused));
    json_object_set_new(o, "gpu_seconds", json_real((double)x->gpu_ns / 1e9));
    json_object_set_new(o, "wait_seconds", json_real((double)x->wait_ns / 1e9));
    json_object_set_new(o, "turns", json_integer((json_int_t)x->turns));
    json_object_set_new(o, "drains", json_integer((json_int_t)x->drains));
    json_object_set_new(o, "wait_p99_ms", json_real((double)x->wait_p99_ns / 1e6));
    json_t *procs = json_array();
    for (unsigned i = 0; i < x->nprocs; i++) {
        json_t *p = json_object();
        json_object_set_new(p, "pid", json_integer(x->pids[i]));
        json_object_set_new(p, "used_bytes", json_integer((json_int_t)x->proc_used[i]));
        json_array_append_new(procs, p);
    }
    json_object_set_new(o, "processes", procs);
    json_object_set_new(o, "region_error", opt_str(x->region_error));
    if (flags & GPX_VIEW_TURNS) {
        json_t *ring = json_array();
        for (unsigned k = 0; k < x->nturns; k++) {
            json_t *t = json_object();
            json_object_set_new(t, "grant_ms", json_integer((json_int_t)(x->turn_ring[k] >> 32)));
            json_object_set_new(t, "wait_us",
                                json_integer((json_int_t)(x->turn_ring[k] & 0xffffffffULL)));
            json_array_append_new(ring, t);
        }
        json_object_set_new(o, "recent_turns", ring);
    }

    json_t *us = json_object();
    json_object_set_new(us, "lease_seconds", json_real(x->lease_seconds));
    json_object_set_new(us, "gpu_seconds", json_real((double)x->gpu_ns / 1e9));
    json_object_set_new(us, "wait_seconds", json_real((double)x->wait_ns / 1e9));
    json_object_set_new(us, "memory_used_bytes", json_integer((json_int_t)x->used_bytes));
    json_object_set_new(us, "memory_peak_bytes", json_integer((json_int_t)x->peak_bytes));
    json_object_set_new(us, "processes", json_integer(x->nprocs));
    json_object_set_new(o, "usage", us);

    json_t *env = json_null();
    if (l->state == GPX_LS_ACTIVE) {
        env = json_object();
        json_object_set_new(env, "CUDA_VISIBLE_DEVICES",
                            json_string(l->mode == GPX_MODE_MIG ? l->mig_uuid : l->gpu_uuid));
        json_object_set_new(env, "GPUPLEX_LEASE", json_string(l->id));
        json_object_set_new(env, "GPUPLEX_RUN_DIR", json_string(x->run_dir));
        if (x->interposer[0])
            json_object_set_new(env, "LD_PRELOAD", json_string(x->interposer));
    }
    json_object_set_new(o, "env", env);
    return o;
}

json_t *gpx_view_leases(const struct gpx_lease *l, unsigned n, unsigned flags)
{
    json_t *a = json_array();
    for (unsigned i = 0; i < n; i++)
        json_array_append_new(a, gpx_view_lease(&l[i], flags));
    return a;
}

/* --- GPUs ----------------------------------------------------------------------------------- */

static json_t *opt_uint(const struct gpx_gpu_info *g, uint32_t bit, unsigned v)
{
    return (g->valid & bit) ? json_integer(v) : json_null();
}

static const char *mig_name(unsigned mode)
{
    return mode == NVML_DEVICE_MIG_ENABLE ? "enabled" : "disabled";
}

json_t *gpx_view_gpu(const struct gpx_gpu *x)
{
    const struct gpx_gpu_info *g = &x->info;
    json_t *o = json_object();
    json_object_set_new(o, "index", json_integer(g->index));
    json_object_set_new(o, "name", json_string(g->name));
    json_object_set_new(o, "uuid", json_string(g->uuid));
    json_object_set_new(o, "pci_bus_id",
                        (g->valid & GPX_INV_PCI) ? json_string(g->pci_bus_id) : json_null());
    json_object_set_new(o, "memory_total_bytes", json_integer((json_int_t)g->memory_total));
    json_object_set_new(o, "memory_used_bytes", json_integer((json_int_t)g->memory_used));
    json_object_set_new(o, "memory_free_bytes", json_integer((json_int_t)g->memory_free));
    json_object_set_new(o, "memory_total_mib", json_integer((json_int_t)(g->memory_total / MIB)));
    json_object_set_new(o, "memory_used_mib", json_integer((json_int_t)(g->memory_used / MIB)));
    json_object_set_new(o, "memory_free_mib", json_integer((json_int_t)(g->memory_free / MIB)));
    json_object_set_new(o, "utilization_gpu", opt_uint(g, GPX_INV_UTIL, g->util_gpu));
    json_object_set_new(o, "utilization_memory", opt_uint(g, GPX_INV_UTIL, g->util_memory));
    json_object_set_new(o, "utilization_gpu_pct", opt_uint(g, GPX_INV_UTIL, g->util_gpu));
    json_object_set_new(o, "utilization_memory_pct", opt_uint(g, GPX_INV_UTIL, g->util_memory));
    json_object_set_new(o, "temperature_c", opt_uint(g, GPX_INV_TEMP, g->temperature_c));
    json_object_set_new(o, "power_w",
                        (g->valid & GPX_INV_POWER) ? json_real(g->power_mw / 1000.0) : json_null());
    json_object_set_new(o, "power_limit_w",
                        (g->valid & GPX_INV_POWER_LIMIT) ? json_real(g->power_limit_mw / 1000.0)
                                                         : json_null());
    json_object_set_new(o, "sm_clock_mhz", opt_uint(g, GPX_INV_SM_CLOCK, g->sm_clock_mhz));
    json_object_set_new(o, "sm_clock_max_mhz",
                        opt_uint(g, GPX_INV_SM_CLOCK_MAX, g->sm_clock_max_mhz));
    json_object_set_new(o, "mem_clock_mhz", opt_uint(g, GPX_INV_MEM_CLOCK, g->mem_clock_mhz));
    json_object_set_new(o, "mig_mode",
                        (g->valid & GPX_INV_MIG) ? json_string(mig_name(g->mig_current))
                                                 : json_null());
    json_object_set_new(o, "mig_mode_pending",
                        (g->valid & GPX_INV_MIG) ? json_string(mig_name(g->mig_pending))
                                                 : json_null());
    if (g->valid & GPX_INV_CC) {
        char cc[16];
        snprintf(cc, sizeof cc, "%d.%d", g->cc_major, g->cc_minor);
        json_object_set_new(o, "compute_capability", json_string(cc));
    } else {
        json_object_set_new(o, "compute_capability", json_null());
    }
    json_t *procs = json_null();
    if (x->show_procs && (g->valid & GPX_INV_PROCS)) {
        procs = json_array();
        for (unsigned k = 0; k < g->proc_count; k++) {
            json_t *p = json_object();
            int known = g->procs[k].used_bytes != UINT64_MAX;
            json_object_set_new(p, "pid", json_integer(g->procs[k].pid));
            json_object_set_new(p, "used_memory_bytes", opt_u64(known, g->procs[k].used_bytes));
            json_object_set_new(p, "used_memory_mib", opt_u64(known, g->procs[k].used_bytes / MIB));
            json_array_append_new(procs, p);
        }
    }
    /* a tenant must not see other tenants' processes: the key is left out, as before */
    if (x->show_procs)
        json_object_set_new(o, "processes", procs);
    else
        json_decref(procs);
    json_t *leases = json_array();
    for (unsigned k = 0; k < x->n_leases; k++) {
        const struct gpx_gpu_lease *l = &x->leases[k];
        json_t *lo = json_object();
        json_object_set_new(lo, "id", json_string(l->id));
        json_object_set_new(lo, "tenant", json_string(l->tenant));
        json_object_set_new(lo, "mode",
                            json_string(gpx_lease_mode_name((enum gpx_lease_mode)l->mode)));
        json_object_set_new(lo, "memory_bytes", opt_u64(l->memory_quota != 0, l->memory_quota));
        json_array_append_new(leases, lo);
    }
    json_object_set_new(o, "leases", leases);
    json_object_set_new(o, "exclusive", json_boolean(x->exclusive));
    json_object_set_new(o, "memory_quota_free_bytes", json_integer((json_int_t)x->quota_free));
    return o;
}

json_t *gpx_view_gpus(const struct gpx_node *n)
{
    json_t *a = json_array();
    for (unsigned i = 0; i < n->count; i++)
        json_array_append_new(a, gpx_view_gpu(&n->gpus[i]));
    return a;
}

/* --- usage ---------------------------------------------------------------------------------- */

static void usage_figures(json_t *o, const struct gpx_usage_row *r)
{
    json_object_set_new(o, "lease_seconds", json_real(r->lease_seconds));
    json_object_set_new(o, "gpu_seconds", json_real(r->gpu_seconds));
    json_object_set_new(o, "wait_seconds", json_real(r->wait_seconds));
    json_object_set_new(o, "memory_quota_gib_seconds", json_real(r->memory_quota_gib_seconds));
    json_object_set_new(o, "memory_used_gib_seconds", json_real(r->memory_used_gib_seconds));
    json_object_set_new(o, "memory_peak_bytes", json_integer((json_int_t)r->memory_peak_bytes));
}

json_t *gpx_view_usage(const struct gpx_usage *u)
{
    json_t *o = json_object();
    /* an open start is the epoch (as the API always said), not null */
    json_object_set_new(o, "from", gpx_view_time(u->from_ns > 0 ? u->from_ns : 1));
    json_object_set_new(o, "to", gpx_view_time(u->to_ns));
    json_t *ts = json_array();
    for (unsigned i = 0; i < u->n_tenants; i++) {
        const struct gpx_usage_row *r = &u->tenants[i];
        json_t *t = json_object();
        json_object_set_new(t, "tenant", json_string(r->tenant));
        json_object_set_new(t, "leases", json_integer(r->leases));
        usage_figures(t, r);
        json_array_append_new(ts, t);
    }
    json_object_set_new(o, "tenants", ts);
    json_t *ls = json_array();
    for (unsigned i = 0; i < u->n_leases; i++) {
        const struct gpx_usage_row *r = &u->leases[i];
        json_t *t = json_object();
        json_object_set_new(t, "id", json_string(r->id));
        json_object_set_new(t, "tenant", json_string(r->tenant));
        json_object_set_new(t, "mode",
                            json_string(gpx_lease_mode_name((enum gpx_lease_mode)r->mode)));
        json_object_set_new(t, "gpu", gpu_ref(r->gpu_index, r->gpu_uuid));
        json_object_set_new(t, "gpu_index", json_integer(r->gpu_index));
        json_object_set_new(t, "state", json_string(gpx_lease_state_name(r->state)));
        usage_figures(t, r);
        json_array_append_new(ls, t);
    }
    json_object_set_new(o, "leases", ls);
    return o;
}

/* --- tenants, callers, health --------------------------------------------------------------- */

json_t *gpx_view_tenant(const struct gpx_tenant *t, const char *token)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(t->name));
    json_object_set_new(o, "role", json_string(t->admin ? "admin" : "tenant"));
    json_object_set_new(o, "uid", t->has_uid ? json_integer(t->uid) : json_null());
    json_object_set_new(o, "max_gpus", t->max_gpus ? json_integer(t->max_gpus) : json_null());
    json_object_set_new(o, "max_memory_bytes", opt_u64(t->max_memory != 0, t->max_memory));
    json_object_set_new(o, "max_leases", t->max_leases ? json_integer(t->max_leases) : json_null());
    json_object_set_new(o, "created_ns", json_integer(t->created_ns));
    json_object_set_new(o, "created", gpx_view_time(t->created_ns));
    if (token)
        json_object_set_new(o, "token", json_string(token));
    return o;
}

json_t *gpx_view_tenants(const struct gpx_tenant *t, unsigned n)
{
    json_t *a = json_array();
    for (unsigned i = 0; i < n; i++)
        json_array_append_new(a, gpx_view_tenant(&t[i], NULL));
    return a;
}

json_t *gpx_view_caller(const struct gpx_caller *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "tenant", json_string(c->tenant));
    json_object_set_new(o, "role", json_string(c->admin ? "admin" : "tenant"));
    json_object_set_new(o, "via",
                        json_string(c->in_process ? "local"
                                    : c->via_unix ? "unix"
                                                  : "tcp"));
    json_object_set_new(o, "uid", c->via_unix ? json_integer(c->uid) : json_null());
    json_object_set_new(o, "max_gpus", c->max_gpus ? json_integer(c->max_gpus) : json_null());
    json_object_set_new(o, "max_memory_bytes", opt_u64(c->max_memory != 0, c->max_memory));
    json_object_set_new(o, "max_leases", c->max_leases ? json_integer(c->max_leases) : json_null());
    return o;
}

json_t *gpx_view_health(const struct gpx_health *h)
{
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string("ok"));
    json_object_set_new(o, "version", json_string(h->version));
    json_object_set_new(o, "host", json_string(h->host));
    json_object_set_new(o, "gpus", json_integer(h->gpus));
    json_object_set_new(o, "driver_version", json_string(h->driver_version));
    json_object_set_new(o, "cuda_version",
                        h->cuda_version ? json_integer(h->cuda_version) : json_null());
    if (h->show_leases)
        json_object_set_new(o, "leases_active", json_integer(h->leases_active));
    json_object_set_new(o, "schema_version", json_integer(h->schema_version));
    json_object_set_new(o, "uptime_seconds", json_real(h->uptime_seconds));
    json_object_set_new(o, "placement", json_string(h->placement));
    json_object_set_new(o, "oversubscription", json_real(h->oversubscription));
    json_object_set_new(o, "run_dir", json_string(h->run_dir));
    json_object_set_new(o, "state_dir", json_string(h->state_dir));
    return o;
}

/* --- MIG ------------------------------------------------------------------------------------ */

json_t *gpx_view_mig(const struct gpx_mig_view *v)
{
    const struct gpx_mig_gpu_state *s = v->s;
    json_t *j = gpx_mig_state_json(s);
    json_t *insts = json_object_get(j, "instances");
    for (unsigned g = 0; g < s->ngi && g < GPX_MIG_MAX_GI; g++) {
        json_t *o = json_array_get(insts, g);
        json_object_set_new(o, "leased", json_boolean(v->leased[g]));
        json_object_set_new(o, "lease", opt_str(v->lease_of[g]));
    }
    json_t *profs = json_object_get(j, "profiles");
    for (unsigned i = 0; i < json_array_size(profs) && i < s->table.profile_count; i++) {
        json_t *o = json_array_get(profs, i);
        json_object_set_new(o, "free_instances",
                            v->mig_on ? json_integer(v->free_instances[i]) : json_null());
        json_object_set_new(o, "available",
                            v->have_available ? json_integer(v->available[i]) : json_null());
    }
    return j;
}

json_t *gpx_view_mig_applied(const struct gpx_mig_applied *a)
{
    return gpx_mig_demand_json(a->s, a->demand, a->res, a->dry_run);
}

/* --- the watchdog and the arbiters --------------------------------------------------------- */

static const char *watch_action(const struct gpx_watch_violation *v, int enforce)
{
    if (enforce != GPX_WATCH_KILL)
        return "reported";
    if (v->killed == v->npids)
        return "killed";
    return v->killed ? "partly killed" : "kill failed";
}

json_t *gpx_view_violation(const struct gpx_watch_violation *v, int enforce)
{
    json_t *o = json_object();
    json_object_set_new(o, "kind", json_string(gpx_watch_kind_name(v->kind)));
    json_object_set_new(o, "lease", opt_str(v->lease));
    json_object_set_new(o, "gpu", gpu_ref(v->gpu_index, v->gpu_uuid));
    json_object_set_new(o, "gpu_index", json_integer(v->gpu_index));
    json_object_set_new(o, "gpu_uuid", json_string(v->gpu_uuid));
    json_object_set_new(o, "quota_bytes", opt_u64(v->kind == GPX_WATCH_OVER_QUOTA, v->quota_bytes));
    json_object_set_new(o, "used_bytes", json_integer((json_int_t)v->used_bytes));
    json_t *pids = json_array();
    for (unsigned i = 0; i < v->npids; i++)
        json_array_append_new(pids, json_integer(v->pids[i]));
    json_object_set_new(o, "pids", pids);
    json_object_set_new(o, "action", json_string(watch_action(v, enforce)));
    json_object_set_new(o, "killed", json_integer(v->killed));
    if (v->kill_errno)
        json_object_set_new(o, "kill_error", json_string(strerror(v->kill_errno)));
    return o;
}

/* A lease's id by its arbiter key, or null where the caller may not know it. */
static json_t *arb_lease(const char *key, const char *(*lease_of)(const char *key, void *arg),
                         void *arg)
{
    const char *id = lease_of ? lease_of(key, arg) : NULL;
    return id ? json_string(id) : json_null();
}

json_t *gpx_view_arbiter(unsigned gpu_index, const char *gpu_uuid, struct gpx_arb *a,
                         const char *(*lease_of)(const char *key, void *arg), void *arg)
{
    json_t *o = json_object();
    json_object_set_new(o, "gpu", gpu_ref(gpu_index, gpu_uuid));
    json_object_set_new(o, "gpu_index", json_integer(gpu_index));
    json_object_set_new(o, "gpu_uuid", json_string(gpu_uuid));
    json_object_set_new(o, "quantum_ms", json_real((double)a->quantum_ns / 1e6));
    json_object_set_new(o, "grace_ms", json_real((double)a->grace_ns / 1e6));
    int h = atomic_load(&a->holder);
    json_object_set_new(o, "holder_pid", h >= 0 ? json_integer(a->procs[h].pid) : json_null());
    json_object_set_new(o, "holder_lease",
                        h >= 0 ? arb_lease(a->leases[a->procs[h].lease].id, lease_of, arg)
                               : json_null());
    json_object_set_new(o, "waiting", json_integer(atomic_load(&a->nwaiting)));
    json_t *leases = json_array();
    for (int i = 0; i < GPX_ARB_MAX_LEASES; i++) {
        if (!a->leases[i].id[0])
            continue;
        struct gpx_arb_stats st;
        if (gpx_arb_stats(a, a->leases[i].id, &st) < 0)
            continue;
        json_t *l = json_object();
        json_object_set_new(l, "id", arb_lease(a->leases[i].id, lease_of, arg));
        json_object_set_new(l, "key", json_string(a->leases[i].id));
        json_object_set_new(l, "weight", json_integer(st.weight));
        json_object_set_new(l, "cap", st.cap_percent ? json_integer(st.cap_percent) : json_null());
        json_object_set_new(l, "cap_pct",
                            st.cap_percent ? json_integer(st.cap_percent) : json_null());
        json_object_set_new(l, "processes", json_integer(st.procs));
        json_object_set_new(l, "gpu_seconds", json_real((double)st.granted_ns / 1e9));
        json_object_set_new(l, "wait_seconds", json_real((double)st.wait_ns / 1e9));
        json_object_set_new(l, "turns", json_integer((json_int_t)st.turns));
        json_object_set_new(l, "drains", json_integer((json_int_t)st.drains));
        json_object_set_new(l, "hangs", json_integer((json_int_t)st.hangs));
        json_array_append_new(leases, l);
    }
    json_object_set_new(o, "leases", leases);
    return o;
}

json_t *gpx_view_error(const gpx_error *e)
{
    json_t *o = json_object(), *in = json_object();
    json_object_set_new(in, "code", json_string(gpx_error_name(e->code)));
    json_object_set_new(in, "message",
                        json_string(e->msg[0] ? e->msg : gpx_error_default(e->code)));
    json_object_set_new(o, "error", in);
    return o;
}

void gpx_view_print(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10) |
                                JSON_ENCODE_ANY);
    if (s)
        puts(s);
    free(s);
}

/* --- reading back (the HTTP client) --------------------------------------------------------- */

static int bad(gpx_error *err, const char *what)
{
    return gpx_error_set(err, GPX_E_IO, "gpuplexd sent an unexpected answer (%s)", what);
}

static void get_str(json_t *o, const char *k, char *buf, size_t len)
{
    const char *s = json_string_value(json_object_get(o, k));
    snprintf(buf, len, "%s", s ? s : "");
}

static uint64_t get_u64(json_t *o, const char *k)
{
    json_int_t v = json_integer_value(json_object_get(o, k));
    return v > 0 ? (uint64_t)v : 0;
}

static double get_real(json_t *o, const char *k)
{
    double v = json_number_value(json_object_get(o, k));
    return v == v ? v : 0; /* NaN: 0 */
}

/* A real scaled to an unsigned count, clamped: a hostile answer is never undefined behaviour. */
static uint64_t real_u64(double v, double scale)
{
    v = v * scale + 0.5;
    if (!(v > 0))
        return 0;
    return v >= 18446744073709549568.0 ? UINT64_MAX : (uint64_t)v;
}

static unsigned real_uint(double v, double scale)
{
    uint64_t x = real_u64(v, scale);
    return x > 0xffffffffu ? 0xffffffffu : (unsigned)x;
}

static int64_t get_ns(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    int64_t ns = 0;
    if (!s)
        return 0;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return 0;
    time_t t = timegm(&tm);
    if (t < 0 || t > 9200000000LL) /* ns must fit in int64 */
        return 0;
    ns = (int64_t)t * 1000000000LL;
    if (p[0] == '.' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' && p[3] >= '0' &&
        p[3] <= '9')
        ns += ((p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0')) * 1000000LL;
    return ns;
}

int gpx_view_lease_read(json_t *o, struct gpx_lease *x, gpx_error *err)
{
    memset(x, 0, sizeof *x);
    if (!json_is_object(o) || !json_is_string(json_object_get(o, "id")))
        return bad(err, "a lease without an id");
    struct gpx_lease_rec *l = &x->rec;
    get_str(o, "id", l->id, sizeof l->id);
    get_str(o, "tenant", l->tenant, sizeof l->tenant);
    l->state = gpx_lease_state_parse(json_string_value(json_object_get(o, "state")));
    l->mode = gpx_lease_mode_parse(json_string_value(json_object_get(o, "mode")));
    if (l->state < 0 || l->mode < 0)
        return bad(err, "a lease's state or mode");
    json_t *g = json_object_get(o, "gpu");
    l->gpu_index = (unsigned)get_u64(g, "index");
    get_str(g, "uuid", l->gpu_uuid, sizeof l->gpu_uuid);
    l->memory_quota = get_u64(o, "memory_bytes");
    l->weight = (unsigned)get_u64(o, "weight");
    l->cap = (unsigned)get_u64(o, "cap");
    get_str(o, "mig_profile", l->mig_profile, sizeof l->mig_profile);
    json_t *mig = json_object_get(o, "mig");
    l->mig_gi = l->mig_ci = l->mig_start = -1;
    if (json_is_object(mig)) {
        l->mig_gi = (int)get_u64(mig, "gpu_instance_id");
        l->mig_ci = (int)get_u64(mig, "compute_instance_id");
        l->mig_start = (int)get_u64(mig, "start");
        l->gpu_memory = get_u64(mig, "memory_bytes");
        get_str(mig, "uuid", l->mig_uuid, sizeof l->mig_uuid);
        l->mig_created = json_is_true(json_object_get(mig, "created"));
    }
    /* a whole GPU's memory travels only as what the lease holds */
    if (!l->gpu_memory && (l->mode == GPX_MODE_EXCLUSIVE || l->mode == GPX_MODE_MIG))
        l->gpu_memory = get_u64(o, "held_memory_bytes");
    char *labels = json_dumps(json_object_get(o, "labels"), JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(l->labels, sizeof l->labels, "%s", labels ? labels : "{}");
    free(labels);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(o, "owner_pids"), i, v)
    {
        if (l->n_owners < GPX_MAX_OWNERS)
            l->owners[l->n_owners++].pid = (int32_t)json_integer_value(v);
    }
    x->uid = (uint32_t)get_u64(o, "uid");
    l->created_ns = (int64_t)get_u64(o, "created_ns");
    if (!l->created_ns)
        l->created_ns = get_ns(o, "created");
    l->released_ns = get_ns(o, "released");
    get_str(o, "release_reason", l->reason, sizeof l->reason);
    x->used_bytes = get_u64(o, "used_bytes");
    x->used_source = gpx_figure_source_parse(json_string_value(json_object_get(o, "used_source")));
    x->util_source =
        gpx_figure_source_parse(json_string_value(json_object_get(o, "gpu_util_source")));
    x->util_pct = (unsigned)get_u64(o, "gpu_util_pct");
    x->peak_bytes = get_u64(o, "peak_bytes");
    x->refused = get_u64(o, "refused");
    x->gpu_ns = real_u64(get_real(o, "gpu_seconds"), 1e9);
    x->wait_ns = real_u64(get_real(o, "wait_seconds"), 1e9);
    x->turns = get_u64(o, "turns");
    x->drains = get_u64(o, "drains");
    x->wait_p99_ns = real_u64(get_real(o, "wait_p99_ms"), 1e6);
    json_array_foreach(json_object_get(o, "processes"), i, v)
    {
        if (x->nprocs < GPX_LEASE_MAX_PROCS) {
            x->pids[x->nprocs] = (int32_t)get_u64(v, "pid");
            x->proc_used[x->nprocs++] = get_u64(v, "used_bytes");
        }
    }
    json_array_foreach(json_object_get(o, "recent_turns"), i, v)
    {
        if (x->nturns < GPX_LEASE_TURN_RING)
            x->turn_ring[x->nturns++] =
                get_u64(v, "grant_ms") << 32 | (get_u64(v, "wait_us") & 0xffffffffULL);
    }
    get_str(o, "region_error", x->region_error, sizeof x->region_error);
    json_t *us = json_object_get(o, "usage");
    x->lease_seconds = get_real(us, "lease_seconds");
    x->live = 1;
    json_t *env = json_object_get(o, "env");
    get_str(env, "GPUPLEX_RUN_DIR", x->run_dir, sizeof x->run_dir);
    get_str(env, "LD_PRELOAD", x->interposer, sizeof x->interposer);
    return 0;
}

int gpx_view_leases_read(json_t *j, struct gpx_lease **out, unsigned *n, gpx_error *err)
{
    if (!json_is_array(j))
        return bad(err, "not a list of leases");
    size_t cnt = json_array_size(j);
    struct gpx_lease *a = calloc(cnt ? cnt : 1, sizeof *a);
    if (!a)
        return gpx_error_set(err, GPX_E_NOMEM, "lease list");
    for (size_t i = 0; i < cnt; i++)
        if (gpx_view_lease_read(json_array_get(j, i), &a[i], err) < 0) {
            free(a);
            return -1;
        }
    *out = a;
    *n = (unsigned)cnt;
    return 0;
}

static void opt_read(json_t *o, const char *k, uint32_t bit, uint32_t *valid, unsigned *v)
{
    json_t *x = json_object_get(o, k);
    if (json_is_number(x)) {
        *valid |= bit;
        *v = real_uint(json_number_value(x), 1.0);
    }
}

int gpx_view_gpus_read(json_t *j, struct gpx_node *out, gpx_error *err)
{
    memset(out, 0, sizeof *out);
    if (!json_is_array(j))
        return bad(err, "not a list of GPUs");
    size_t cnt = json_array_size(j);
    out->gpus = calloc(cnt ? cnt : 1, sizeof *out->gpus);
    if (!out->gpus)
        return gpx_error_set(err, GPX_E_NOMEM, "GPU list");
    for (size_t i = 0; i < cnt; i++) {
        json_t *o = json_array_get(j, i);
        struct gpx_gpu *x = &out->gpus[out->count++];
        struct gpx_gpu_info *g = &x->info;
        g->index = (unsigned)get_u64(o, "index");
        get_str(o, "name", g->name, sizeof g->name);
        get_str(o, "uuid", g->uuid, sizeof g->uuid);
        if (json_is_string(json_object_get(o, "pci_bus_id"))) {
            g->valid |= GPX_INV_PCI;
            get_str(o, "pci_bus_id", g->pci_bus_id, sizeof g->pci_bus_id);
        }
        g->memory_total = get_u64(o, "memory_total_bytes");
        g->memory_used = get_u64(o, "memory_used_bytes");
        g->memory_free = get_u64(o, "memory_free_bytes");
        opt_read(o, "utilization_gpu", GPX_INV_UTIL, &g->valid, &g->util_gpu);
        opt_read(o, "utilization_memory", GPX_INV_UTIL, &g->valid, &g->util_memory);
        opt_read(o, "temperature_c", GPX_INV_TEMP, &g->valid, &g->temperature_c);
        json_t *p = json_object_get(o, "power_w");
        if (json_is_number(p)) {
            g->valid |= GPX_INV_POWER;
            g->power_mw = real_uint(json_number_value(p), 1000.0);
        }
        p = json_object_get(o, "power_limit_w");
        if (json_is_number(p)) {
            g->valid |= GPX_INV_POWER_LIMIT;
            g->power_limit_mw = real_uint(json_number_value(p), 1000.0);
        }
        opt_read(o, "sm_clock_mhz", GPX_INV_SM_CLOCK, &g->valid, &g->sm_clock_mhz);
        opt_read(o, "sm_clock_max_mhz", GPX_INV_SM_CLOCK_MAX, &g->valid, &g->sm_clock_max_mhz);
        opt_read(o, "mem_clock_mhz", GPX_INV_MEM_CLOCK, &g->valid, &g->mem_clock_mhz);
        const char *mm = json_string_value(json_object_get(o, "mig_mode"));
        const char *mp = json_string_value(json_object_get(o, "mig_mode_pending"));
        if (mm && mp) {
            g->valid |= GPX_INV_MIG;
            g->mig_current = !strcmp(mm, "enabled") ? NVML_DEVICE_MIG_ENABLE : 0;
            g->mig_pending = !strcmp(mp, "enabled") ? NVML_DEVICE_MIG_ENABLE : 0;
        }
        const char *cc = json_string_value(json_object_get(o, "compute_capability"));
        char *dot = NULL;
        long major = cc ? strtol(cc, &dot, 10) : -1;
        if (cc && dot && *dot == '.' && major >= 0 && major < 100) {
            char *end;
            long minor = strtol(dot + 1, &end, 10);
            if (end != dot + 1 && !*end && minor >= 0 && minor < 100) {
                g->cc_major = (int)major;
                g->cc_minor = (int)minor;
                g->valid |= GPX_INV_CC;
            }
        }
        json_t *procs = json_object_get(o, "processes");
        x->show_procs = procs != NULL;
        if (json_is_array(procs)) {
            g->valid |= GPX_INV_PROCS;
            size_t k;
            json_t *pr;
            json_array_foreach(procs, k, pr)
            {
                if (g->proc_count == GPX_INV_MAX_PROCS)
                    break;
                struct gpx_gpu_proc *gp = &g->procs[g->proc_count++];
                gp->pid = (uint32_t)get_u64(pr, "pid");
                json_t *ub = json_object_get(pr, "used_memory_bytes");
                gp->used_bytes =
                    json_is_integer(ub) ? (uint64_t)json_integer_value(ub) : UINT64_MAX;
            }
        }
        json_t *ls = json_object_get(o, "leases");
        x->leases = calloc(json_array_size(ls) + 1, sizeof *x->leases);
        if (!x->leases) {
            gpx_node_free(out);
            return gpx_error_set(err, GPX_E_NOMEM, "GPU list");
        }
        size_t k;
        json_t *lo;
        json_array_foreach(ls, k, lo)
        {
            struct gpx_gpu_lease *gl = &x->leases[x->n_leases++];
            get_str(lo, "id", gl->id, sizeof gl->id);
            get_str(lo, "tenant", gl->tenant, sizeof gl->tenant);
            gl->mode = gpx_lease_mode_parse(json_string_value(json_object_get(lo, "mode")));
            gl->memory_quota = get_u64(lo, "memory_bytes");
        }
        x->exclusive = json_is_true(json_object_get(o, "exclusive"));
        x->quota_free = get_u64(o, "memory_quota_free_bytes");
    }
    return 0;
}

static void usage_row_read(json_t *o, struct gpx_usage_row *r)
{
    memset(r, 0, sizeof *r);
    get_str(o, "id", r->id, sizeof r->id);
    get_str(o, "tenant", r->tenant, sizeof r->tenant);
    r->mode = gpx_lease_mode_parse(json_string_value(json_object_get(o, "mode")));
    r->state = gpx_lease_state_parse(json_string_value(json_object_get(o, "state")));
    json_t *g = json_object_get(o, "gpu");
    r->gpu_index = (unsigned)get_u64(g, "index");
    get_str(g, "uuid", r->gpu_uuid, sizeof r->gpu_uuid);
    r->leases = (unsigned)get_u64(o, "leases");
    r->lease_seconds = get_real(o, "lease_seconds");
    r->gpu_seconds = get_real(o, "gpu_seconds");
    r->wait_seconds = get_real(o, "wait_seconds");
    r->memory_quota_gib_seconds = get_real(o, "memory_quota_gib_seconds");
    r->memory_used_gib_seconds = get_real(o, "memory_used_gib_seconds");
    r->memory_peak_bytes = get_u64(o, "memory_peak_bytes");
}

int gpx_view_usage_read(json_t *j, struct gpx_usage *u, gpx_error *err)
{
    memset(u, 0, sizeof *u);
    json_t *ts = json_object_get(j, "tenants"), *ls = json_object_get(j, "leases");
    if (!json_is_array(ts) || !json_is_array(ls))
        return bad(err, "usage without tenants or leases");
    u->from_ns = get_ns(j, "from");
    if (!u->from_ns && json_is_string(json_object_get(j, "from")))
        u->from_ns = 1; /* the epoch: "from the start", as the engine says it */
    u->to_ns = get_ns(j, "to");
    u->tenants = calloc(json_array_size(ts) + 1, sizeof *u->tenants);
    u->leases = calloc(json_array_size(ls) + 1, sizeof *u->leases);
    if (!u->tenants || !u->leases) {
        gpx_usage_free(u);
        return gpx_error_set(err, GPX_E_NOMEM, "usage");
    }
    size_t i;
    for (i = 0; i < json_array_size(ts); i++)
        usage_row_read(json_array_get(ts, i), &u->tenants[u->n_tenants++]);
    for (i = 0; i < json_array_size(ls); i++)
        usage_row_read(json_array_get(ls, i), &u->leases[u->n_leases++]);
    return 0;
}

int gpx_view_tenant_read(json_t *o, struct gpx_tenant *t, char *token, size_t token_len,
                         gpx_error *err)
{
    memset(t, 0, sizeof *t);
    if (!json_is_string(json_object_get(o, "name")))
        return bad(err, "a tenant without a name");
    get_str(o, "name", t->name, sizeof t->name);
    const char *role = json_string_value(json_object_get(o, "role"));
    t->admin = role && !strcmp(role, "admin");
    t->has_uid = json_is_integer(json_object_get(o, "uid"));
    t->uid = (uint32_t)get_u64(o, "uid");
    t->max_gpus = (unsigned)get_u64(o, "max_gpus");
    t->max_memory = get_u64(o, "max_memory_bytes");
    t->max_leases = (unsigned)get_u64(o, "max_leases");
    t->created_ns = (int64_t)get_u64(o, "created_ns");
    if (token)
        get_str(o, "token", token, token_len);
    return 0;
}

int gpx_view_tenants_read(json_t *j, struct gpx_tenant **out, unsigned *n, gpx_error *err)
{
    if (!json_is_array(j))
        return bad(err, "not a list of tenants");
    size_t cnt = json_array_size(j);
    struct gpx_tenant *a = calloc(cnt ? cnt : 1, sizeof *a);
    if (!a)
        return gpx_error_set(err, GPX_E_NOMEM, "tenant list");
    for (size_t i = 0; i < cnt; i++)
        if (gpx_view_tenant_read(json_array_get(j, i), &a[i], NULL, 0, err) < 0) {
            free(a);
            return -1;
        }
    *out = a;
    *n = (unsigned)cnt;
    return 0;
}

int gpx_view_caller_read(json_t *o, struct gpx_caller *c, gpx_error *err)
{
    memset(c, 0, sizeof *c);
    if (!json_is_string(json_object_get(o, "tenant")))
        return bad(err, "whoami without a tenant");
    get_str(o, "tenant", c->tenant, sizeof c->tenant);
    const char *role = json_string_value(json_object_get(o, "role"));
    c->admin = role && !strcmp(role, "admin");
    const char *via = json_string_value(json_object_get(o, "via"));
    c->via_unix = via && strcmp(via, "tcp") != 0;
    c->in_process = via && !strcmp(via, "local");
    c->uid = (uint32_t)get_u64(o, "uid");
    c->max_gpus = (unsigned)get_u64(o, "max_gpus");
    c->max_memory = get_u64(o, "max_memory_bytes");
    c->max_leases = (unsigned)get_u64(o, "max_leases");
    return 0;
}

int gpx_view_health_read(json_t *o, struct gpx_health *h, gpx_error *err)
{
    memset(h, 0, sizeof *h);
    if (!json_is_object(o))
        return bad(err, "health");
    get_str(o, "version", h->version, sizeof h->version);
    get_str(o, "host", h->host, sizeof h->host);
    if (!h->host[0])
        snprintf(h->host, sizeof h->host, "gpuplexd");
    h->gpus = (unsigned)get_u64(o, "gpus");
    get_str(o, "driver_version", h->driver_version, sizeof h->driver_version);
    h->cuda_version = (int)get_u64(o, "cuda_version");
    h->show_leases = json_is_integer(json_object_get(o, "leases_active"));
    h->leases_active = (unsigned)get_u64(o, "leases_active");
    h->schema_version = (int)get_u64(o, "schema_version");
    h->uptime_seconds = get_real(o, "uptime_seconds");
    get_str(o, "placement", h->placement, sizeof h->placement);
    h->oversubscription = get_real(o, "oversubscription");
    get_str(o, "run_dir", h->run_dir, sizeof h->run_dir);
    get_str(o, "state_dir", h->state_dir, sizeof h->state_dir);
    return 0;
}

int gpx_view_error_read(json_t *j, gpx_error *out)
{
    json_t *e = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (!code)
        return -1;
    out->code = GPX_E_INTERNAL;
    for (int c = 0; c < GPX_E__COUNT; c++)
        if (!strcmp(gpx_error_name((enum gpx_code)c), code))
            out->code = (enum gpx_code)c;
    snprintf(out->msg, sizeof out->msg, "%s", msg ? msg : gpx_error_default(out->code));
    return 0;
}
