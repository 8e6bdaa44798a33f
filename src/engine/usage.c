/*
 * Usage reports: per lease and per tenant, over a time window, from the
 * metering samples in the store plus what the regions hold beyond the last
 * sample when the window reaches now. GPU-seconds of a whole GPU or instance
 * are the time held; of a shared lease the GPU time its arbiter granted.
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "engine/internal.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GIB 1073741824.0

/* --- usage ---------------------------------------------------------------------------------- */

struct sample_row {
    char id[64];
    struct gpx_sample_sum s;
};

struct usage_ctx {
    struct gpx_engine *d;
    struct sample_row *samples;
    unsigned ns, caps;
    struct gpx_usage *u;
    unsigned capl, capt;
    int64_t from, to, now;
    const char *label_key, *label_value; /* NULL: every lease */
    int nomem;
};

static int usage_sample(const char *id, const struct gpx_sample_sum *s, void *arg)
{
    struct usage_ctx *x = arg;
    if (x->ns == x->caps) {
        unsigned cap = x->caps ? x->caps * 2 : 64;
        struct sample_row *n = realloc(x->samples, cap * sizeof *n);
        if (!n) {
            x->nomem = 1;
            return 1;
        }
        x->samples = n;
        x->caps = cap;
    }
    snprintf(x->samples[x->ns].id, sizeof x->samples[x->ns].id, "%s", id);
    x->samples[x->ns++].s = *s;
    return 0;
}

static int by_sample_id(const void *a, const void *b)
{
    return strcmp(((const struct sample_row *)a)->id, ((const struct sample_row *)b)->id);
}

static struct gpx_usage_row *tenant_row(struct usage_ctx *x, const char *tenant)
{
    struct gpx_usage *u = x->u;
    for (unsigned i = 0; i < u->n_tenants; i++)
        if (strcmp(u->tenants[i].tenant, tenant) == 0)
            return &u->tenants[i];
    if (u->n_tenants == x->capt) {
        unsigned cap = x->capt ? x->capt * 2 : 8;
        struct gpx_usage_row *n = realloc(u->tenants, cap * sizeof *n);
        if (!n)
            return NULL;
        u->tenants = n;
        x->capt = cap;
    }
    struct gpx_usage_row *t = &u->tenants[u->n_tenants++];
    memset(t, 0, sizeof *t);
    snprintf(t->tenant, sizeof t->tenant, "%s", tenant);
    return t;
}

/* The lease carries label key=value (its labels are the canonical JSON object). */
static int has_label(const struct gpx_lease_rec *l, const char *key, const char *value)
{
    json_t *o = json_loads(l->labels[0] ? l->labels : "{}", 0, NULL);
    const char *v = json_string_value(json_object_get(o, key));
    int yes = v && strcmp(v, value) == 0;
    json_decref(o);
    return yes;
}

static int usage_lease(const struct gpx_lease_rec *l, void *arg)
{
    struct usage_ctx *x = arg;
    if (x->label_key && !has_label(l, x->label_key, x->label_value))
        return 0;
    int64_t end = l->released_ns ? l->released_ns : x->now;
    int64_t s = l->created_ns > x->from ? l->created_ns : x->from;
    int64_t e = end < x->to ? end : x->to;
    double secs = e > s ? (double)(e - s) / 1e9 : 0;
    uint64_t gpu_ns = 0, wait_ns = 0, peak = 0;
    double used_gib_s = 0;
    struct sample_row key = {0};
    snprintf(key.id, sizeof key.id, "%s", l->id);
    const struct sample_row *smp =
        x->ns ? bsearch(&key, x->samples, x->ns, sizeof *x->samples, by_sample_id) : NULL;
    if (smp) {
        gpu_ns = smp->s.gpu_ns;
        wait_ns = smp->s.wait_ns;
        used_gib_s = smp->s.used_gib_s;
        peak = smp->s.peak_bytes;
    }
    /* what the regions hold beyond the last sample, when the window reaches now */
    struct gpx_active *a = l->state == GPX_LS_ACTIVE ? gpx__find_active(x->d, l->id, NULL) : NULL;
    if (a && x->to >= x->now && gpx__region_usable(x->d, a)) {
        const struct gpx_lease_usage *u = a->region.usage;
        uint64_t g = atomic_load(&u->gpu_ns_granted), w = atomic_load(&u->wait_ns);
        gpu_ns += g >= a->gpu_ns_seen ? g - a->gpu_ns_seen : g;
        wait_ns += w >= a->wait_ns_seen ? w - a->wait_ns_seen : w;
        uint64_t used = gpx_lease_used(u), p = atomic_load(&u->peak);
        if (x->now > a->last_sample_ns)
            used_gib_s += (double)used / GIB * (double)(x->now - a->last_sample_ns) / 1e9;
        if (p > peak)
            peak = p;
    }
    const struct gpx__backend *b = gpx__backend_of(l->mode);
    double gpu_s = b && !b->interposed ? secs : (double)gpu_ns / 1e9;
    double quota_gib_s = (double)gpx__held_memory(l) / GIB * secs;

    struct gpx_usage *u = x->u;
    if (u->n_leases == x->capl) {
        unsigned cap = x->capl ? x->capl * 2 : 16;
        struct gpx_usage_row *n = realloc(u->leases, cap * sizeof *n);
        if (!n) {
            x->nomem = 1;
            return 1;
        }
        u->leases = n;
        x->capl = cap;
    }
    struct gpx_usage_row *o = &u->leases[u->n_leases++];
    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", l->id);
    snprintf(o->tenant, sizeof o->tenant, "%s", l->tenant);
    o->mode = l->mode;
    o->state = l->state;
    o->gpu_index = l->gpu_index;
    snprintf(o->gpu_uuid, sizeof o->gpu_uuid, "%s", l->gpu_uuid);
    o->lease_seconds = secs;
    o->gpu_seconds = gpu_s;
    o->wait_seconds = (double)wait_ns / 1e9;
    o->memory_quota_gib_seconds = quota_gib_s;
    o->memory_used_gib_seconds = used_gib_s;
    o->memory_peak_bytes = peak;

    struct gpx_usage_row *t = tenant_row(x, l->tenant);
    if (!t) {
        x->nomem = 1;
        return 1;
    }
    t->leases++;
    t->lease_seconds += secs;
    t->gpu_seconds += gpu_s;
    t->wait_seconds += (double)wait_ns / 1e9;
    t->memory_quota_gib_seconds += quota_gib_s;
    t->memory_used_gib_seconds += used_gib_s;
    if (peak > t->memory_peak_bytes)
        t->memory_peak_bytes = peak;
    return 0;
}

void gpx_usage_free(struct gpx_usage *u)
{
    if (!u)
        return;
    free(u->tenants);
    free(u->leases);
    memset(u, 0, sizeof *u);
}

int gpx_engine_usage(struct gpx_engine *d, const struct gpx_caller *c, const char *tenant,
                     int64_t from_ns, int64_t to_ns, struct gpx_usage *out, gpx_error *err)
{
    return gpx_engine_usage_labeled(d, c, tenant, NULL, from_ns, to_ns, out, err);
}

int gpx_engine_usage_labeled(struct gpx_engine *d, const struct gpx_caller *c, const char *tenant,
                             const char *label, int64_t from_ns, int64_t to_ns,
                             struct gpx_usage *out, gpx_error *err)
{
    memset(out, 0, sizeof *out);
    char key[GPX_LABELS_JSON_MAX] = "";
    const char *eq = label ? strchr(label, '=') : NULL;
    if (label && (!eq || eq == label || (size_t)(eq - label) >= sizeof key))
        return gpx_error_set(err, GPX_E_INVALID, "label '%.64s': not KEY=VALUE (e.g. slurm_job=42)",
                             label);
    if (eq)
        memcpy(key, label, (size_t)(eq - label));
    if (tenant && !c->admin && strcmp(tenant, c->tenant) != 0)
        return gpx_error_set(err, GPX_E_PERM, "tenant '%s' may read only its own usage", c->tenant);
    if (!c->admin)
        tenant = c->tenant;
    struct usage_ctx x = {.d = d, .u = out, .now = gpx_now_ns()};
    if (eq) {
        x.label_key = key;
        x.label_value = eq + 1;
    }
    x.from = from_ns;
    x.to = to_ns > 0 ? to_ns : x.now;
    if (x.to <= x.from)
        return gpx_error_set(err, GPX_E_INVALID, "the window's start must be before its end");
    pthread_mutex_lock(&d->lock);
    int rc = gpx_store_sample_each(d->store, tenant, x.from, x.to, usage_sample, &x, err);
    if (rc == 0 && x.ns > 1)
        qsort(x.samples, x.ns, sizeof *x.samples, by_sample_id);
    if (rc == 0)
        rc = gpx_store_lease_each(d->store, 1u << GPX_LS_ACTIVE | 1u << GPX_LS_RELEASED, tenant,
                                  x.from, x.to, usage_lease, &x, err);
    pthread_mutex_unlock(&d->lock);
    free(x.samples);
    if (rc == 0 && x.nomem)
        rc = gpx_error_set(err, GPX_E_NOMEM, "usage");
    if (rc < 0) {
        gpx_usage_free(out);
        return -1;
    }
    out->from_ns = x.from > 0 ? x.from : 1;
    out->to_ns = x.to;
    return 0;
}

/* --- a lease's utilization over an interval (engine.h) --------------------------------------- */

const char *gpx_figure_source_name(int src)
{
    switch (src) {
    case GPX_SRC_REGION:
        return "region";
    case GPX_SRC_ARBITER:
        return "arbiter";
    case GPX_SRC_NVML:
        return "nvml";
    default:
        return NULL;
    }
}

int gpx_figure_source_parse(const char *s)
{
    for (int k = GPX_SRC_REGION; k <= GPX_SRC_NVML; k++)
        if (s && strcmp(s, gpx_figure_source_name(k)) == 0)
            return k;
    return GPX_SRC_NONE;
}

int gpx_lease_arbitrated(const struct gpx_lease_rec *l)
{
    return l->mode == GPX_MODE_TIMESLICE || (l->mode == GPX_MODE_VGPU && l->cap);
}

double gpx_lease_util(const struct gpx_lease *l, uint64_t prev_gpu_ns, double interval_s)
{
    if (l->util_source == GPX_SRC_NVML)
        return l->util_pct >= 100 ? 1.0 : l->util_pct / 100.0;
    if (l->util_source != GPX_SRC_ARBITER || interval_s <= 0)
        return -1;
    /* a re-attached region counts from zero; a turn is credited when it ends, so one
     * that began before the interval may credit more than the interval held */
    uint64_t dg = l->gpu_ns >= prev_gpu_ns ? l->gpu_ns - prev_gpu_ns : l->gpu_ns;
    double u = (double)dg / 1e9 / interval_s;
    return u > 1 ? 1 : u;
}
