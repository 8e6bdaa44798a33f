/*
 * /metrics in the Prometheus text format (version 0.0.4).
 *
 * Per GPU: the series dcgm-exporter publishes, with its names, units and
 * labels (gpu, UUID, modelName, Hostname, pci_bus_id, device), so dashboards
 * and alerts written for dcgm-exporter work unchanged. `promtool check
 * metrics` flags dcgm-exporter's camelCase label modelName; with
 * metrics_labels = snake the labels are written model_name, uuid, hostname
 * instead and the output lints clean (docs/daemon.md).
 * Per lease (labels lease, tenant, mode, gpu): gpuplex_lease_* gauges and
 * counters, and its GPU utilization over the scrape interval, also as a
 * DCGM_FI_DEV_GPU_UTIL series with the GPU's labels plus lease and tenant
 * (the per-GPU series have no lease label; metrics_dcgm_leases = false
 * leaves these out, for dashboards that average every series). Per MIG GPU instance: its memory
 * (gpuplex_mig_instance_*, and DCGM_FI_DEV_FB_USED/FREE with dcgm-exporter's
 * GPU_I_ID, GPU_I_PROFILE) and the lease holding it. Per daemon: request and
 * lease counters. docs/monitoring.md lists every series.
 * Figures the driver does not report are left out, never invented.
 */
#include "daemon/daemon.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
    char *p;
    size_t len, cap;
    int oom;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct buf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* put() for callers outside this file (functions.c's series). */
static void put_line(void *b, const char *line)
{
    put(b, "%s", line);
}

/* Label value escaping: backslash, double quote and newline. */
static void esc(char *out, size_t len, const char *in)
{
    size_t o = 0;
    for (; *in && o + 3 < len; in++) {
        if (*in == '\\' || *in == '"') {
            out[o++] = '\\';
            out[o++] = *in;
        } else if (*in == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
}

static void head(struct buf *b, const char *name, const char *type, const char *help)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* dcgm-exporter's per-GPU labels, in the spelling metrics_labels asks for. */
static void gpu_labels(struct buf *b, const struct gpx_gpu_info *g, int snake, const char *host)
{
    char model[256], uuid[256], pci[64];
    esc(model, sizeof model, g->name);
    esc(uuid, sizeof uuid, g->uuid);
    esc(pci, sizeof pci, (g->valid & GPX_INV_PCI) ? g->pci_bus_id : "");
    put(b, "gpu=\"%u\",%s=\"%s\",pci_bus_id=\"%s\",device=\"nvidia%u\",%s=\"%s\",%s=\"%s\"",
        g->index, snake ? "uuid" : "UUID", uuid, pci, g->index, snake ? "model_name" : "modelName",
        model, snake ? "hostname" : "Hostname", host);
}

static const struct gpx_gpu_info *gpu_of(const struct gpx_node *n, unsigned index)
{
    for (unsigned i = 0; i < n->count; i++)
        if (n->gpus[i].info.index == index)
            return &n->gpus[i].info;
    return NULL;
}

/* A lease's figures in one scrape. */
struct lease_fig {
    int util_known; /* the lease's GPU utilization is known (below) */
    double util;    /* ratio, 0..1, over the scrape interval */
    double wait;    /* seconds waited per second of the interval */
    uint64_t used;  /* device memory used now (the engine's used_bytes: mig, its instance's) */
};

/*
 * What one scrape knows: the node, the active leases with their figures over
 * the scrape interval, and the MIG layout of every GPU in MIG mode.
 */
struct scrape {
    struct gpx_node node;
    struct gpx_lease *leases;
    unsigned nl;
    struct lease_fig *fig;
    struct gpx_mig_view *mig; /* per node.gpus[i]; .s NULL when not in MIG mode (or unreadable) */
};

static void scrape_free(struct scrape *s)
{
    if (s->mig)
        for (unsigned i = 0; i < s->node.count; i++)
            gpx_mig_view_free(&s->mig[i]);
    free(s->mig);
    free(s->fig);
    free(s->leases);
    gpx_node_free(&s->node);
}

/*
 * GPU time and wait of each lease since the previous scrape (the first time:
 * since the lease started), from the marks the previous scrape left; then
 * this scrape's marks replace them (released leases drop out).
 */
static int interval_figures(struct gpxd *d, struct scrape *s)
{
    struct gpxd_lease_mark *marks = calloc(s->nl ? s->nl : 1, sizeof *marks);
    if (!marks)
        return -1;
    int64_t now = gpx_now_ns();
    pthread_mutex_lock(&d->metrics_lock);
    for (unsigned i = 0; i < s->nl; i++) {
        const struct gpx_lease *x = &s->leases[i];
        struct lease_fig *f = &s->fig[i];
        uint64_t g0 = 0, w0 = 0;
        int64_t t0 = x->rec.created_ns;
        for (unsigned k = 0; k < d->n_marks; k++)
            if (!strcmp(d->marks[k].id, x->rec.id)) {
                g0 = d->marks[k].gpu_ns;
                w0 = d->marks[k].wait_ns;
                t0 = d->marks[k].t_ns;
                break;
            }
        snprintf(marks[i].id, sizeof marks[i].id, "%s", x->rec.id);
        marks[i].gpu_ns = x->gpu_ns;
        marks[i].wait_ns = x->wait_ns;
        marks[i].t_ns = now;
        double dt = (double)(now - t0) / 1e9;
        /* the engine's one rule (gpx_lease_util): the arbiter's grants over the interval,
         * NVML's figure for exclusive, uncapped vgpu and mig where the driver has one;
         * unknown is left out, never guessed */
        f->util = gpx_lease_util(x, g0, dt);
        f->util_known = f->util >= 0;
        if (dt <= 0)
            continue;
        double dw = x->wait_ns >= w0 ? (double)(x->wait_ns - w0) / 1e9 : 0;
        f->wait = dw / dt;
    }
    free(d->marks);
    d->marks = marks;
    d->n_marks = s->nl;
    pthread_mutex_unlock(&d->metrics_lock);
    return 0;
}

/* The MIG layout of each GPU in MIG mode. */
static void read_mig(struct gpxd *d, const struct gpx_caller *admin, struct scrape *s)
{
    for (unsigned i = 0; i < s->node.count; i++) {
        const struct gpx_gpu_info *g = &s->node.gpus[i].info;
        if (!(g->valid & GPX_INV_MIG) || g->mig_current != NVML_DEVICE_MIG_ENABLE)
            continue;
        char idx[16];
        snprintf(idx, sizeof idx, "%u", g->index);
        gpx_error e = {0};
        if (gpx_engine_mig_get(d->eng, admin, idx, &s->mig[i], &e) < 0)
            gpx_mig_view_free(&s->mig[i]); /* its series are left out this time */
    }
}

static int scrape_take(struct gpxd *d, struct scrape *s, gpx_error *err)
{
    memset(s, 0, sizeof *s);
    /* the engine's views of the node and its leases, as an admin sees them */
    struct gpx_caller admin = {.admin = 1};
    snprintf(admin.tenant, sizeof admin.tenant, "%s", GPX_BUILTIN_ADMIN);
    struct gpx_lease_query q = {.state = -1};
    if (gpx_engine_gpus(d->eng, &admin, &s->node, err) < 0)
        return -1;
    if (gpx_engine_lease_list(d->eng, &admin, &q, &s->leases, &s->nl, err) < 0) {
        scrape_free(s);
        return -1;
    }
    s->fig = calloc(s->nl ? s->nl : 1, sizeof *s->fig);
    s->mig = calloc(s->node.count ? s->node.count : 1, sizeof *s->mig);
    if (!s->fig || !s->mig || interval_figures(d, s) < 0) {
        scrape_free(s);
        return gpx_error_set(err, GPX_E_NOMEM, "metrics");
    }
    for (unsigned i = 0; i < s->nl; i++)
        s->fig[i].used = s->leases[i].used_bytes;
    read_mig(d, &admin, s);
    return 0;
}

/* The lease holding GPU instance `gi` of MIG view v, or NULL. */
static const struct gpx_lease *holder(const struct scrape *s, const struct gpx_mig_view *v,
                                      unsigned gi)
{
    if (!v->lease_of[gi][0])
        return NULL;
    for (unsigned k = 0; k < s->nl; k++)
        if (!strcmp(s->leases[k].rec.id, v->lease_of[gi]))
            return &s->leases[k];
    return NULL;
}

/*
 * The GPU instances of GPUs in MIG mode whose memory the driver reports, GPU by GPU:
 *   for (struct gi_iter it = {0}; gi_next(s, &it);) ...
 * with it.i the GPU's index in s->node, it.v its MIG view, it.m the instance and it.x the
 * lease holding it (NULL: free).
 */
struct gi_iter {
    unsigned i, gi; /* gi: the next instance of GPU i to look at */
    const struct gpx_mig_view *v;
    const struct gpx_mig_gi_state *m;
    const struct gpx_lease *x;
};

static int gi_next(const struct scrape *s, struct gi_iter *it)
{
    for (; it->i < s->node.count; it->i++, it->gi = 0) {
        const struct gpx_mig_view *v = &s->mig[it->i];
        while (v->s && it->gi < v->s->ngi && it->gi < GPX_MIG_MAX_GI) {
            unsigned gi = it->gi++;
            if (!v->s->gi[gi].memory_known)
                continue;
            it->v = v;
            it->m = &v->s->gi[gi];
            it->x = holder(s, v, gi);
            return 1;
        }
    }
    return 0;
}

/*
 * Per GPU instance of each GPU in MIG mode, after the whole GPU's series of
 * the same family: dcgm-exporter's MIG labels (GPU_I_PROFILE, GPU_I_ID) plus
 * the lease holding it. what: 1 used, 2 free (MiB).
 */
static void mig_fb_series(struct buf *b, const struct scrape *s, const char *name, int what,
                          int snake, const char *host)
{
    for (struct gi_iter it = {0}; gi_next(s, &it);) {
        const struct gpx_mig_gi_state *m = it.m;
        const struct gpx_lease *x = it.x;
        uint64_t bytes =
            what == 1 ? m->memory_used
                      : (m->memory_total > m->memory_used ? m->memory_total - m->memory_used : 0);
        put(b, "%s{", name);
        gpu_labels(b, &s->node.gpus[it.i].info, snake, host);
        put(b, ",%s=\"%s\",%s=\"%u\",lease=\"%s\",tenant=\"%s\"} %llu\n",
            snake ? "gpu_i_profile" : "GPU_I_PROFILE",
            m->profile >= 0 ? it.v->s->table.profiles[m->profile].name : "",
            snake ? "gpu_i_id" : "GPU_I_ID", m->id, x ? x->rec.id : "", x ? x->rec.tenant : "",
            (unsigned long long)(bytes >> 20));
    }
}

/* Per lease whose utilization is known, after the per-GPU series: the GPU's labels + lease. */
static void lease_util_series(struct buf *b, const struct scrape *s, int snake, const char *host)
{
    for (unsigned k = 0; k < s->nl; k++) {
        const struct gpx_gpu_info *g = gpu_of(&s->node, s->leases[k].rec.gpu_index);
        if (!s->fig[k].util_known || !g)
            continue;
        put(b, "DCGM_FI_DEV_GPU_UTIL{");
        gpu_labels(b, g, snake, host);
        put(b, ",lease=\"%s\",tenant=\"%s\"} %.17g\n", s->leases[k].rec.id, s->leases[k].rec.tenant,
            s->fig[k].util * 100.0);
    }
}

static void gpu_section(struct buf *b, const struct scrape *s, int snake, int per_lease,
                        const char *host)
{
    static const struct {
        const char *name, *help;
        uint32_t bit; /* 0 = always valid */
        int what;
    } gpu_series[] = {
        {"DCGM_FI_DEV_GPU_UTIL",
         "GPU utilization (in %). Series with a lease label: that lease's share over the last "
         "scrape interval.",
         GPX_INV_UTIL, 0},
        {"DCGM_FI_DEV_FB_USED",
         "Framebuffer memory used (in MiB). Series with GPU_I_ID: one MIG GPU instance.", 0, 1},
        {"DCGM_FI_DEV_FB_FREE",
         "Framebuffer memory free (in MiB). Series with GPU_I_ID: one MIG GPU instance.", 0, 2},
        {"DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).", GPX_INV_TEMP, 3},
        {"DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", GPX_INV_POWER, 4},
        {"DCGM_FI_DEV_SM_CLOCK", "SM clock frequency (in MHz).", GPX_INV_SM_CLOCK, 5},
        {"DCGM_FI_DEV_MEM_CLOCK", "Memory clock frequency (in MHz).", GPX_INV_MEM_CLOCK, 6},
    };
    for (size_t k = 0; k < sizeof gpu_series / sizeof gpu_series[0]; k++) {
        head(b, gpu_series[k].name, "gauge", gpu_series[k].help);
        for (unsigned i = 0; i < s->node.count; i++) {
            const struct gpx_gpu_info *g = &s->node.gpus[i].info;
            if (gpu_series[k].bit && !(g->valid & gpu_series[k].bit))
                continue;
            double v = 0;
            switch (gpu_series[k].what) {
            case 0:
                v = g->util_gpu;
                break;
            case 1:
                v = (double)(g->memory_used >> 20);
                break;
            case 2:
                v = (double)(g->memory_free >> 20);
                break;
            case 3:
                v = g->temperature_c;
                break;
            case 4:
                v = g->power_mw / 1000.0;
                break;
            case 5:
                v = g->sm_clock_mhz;
                break;
            case 6:
                v = g->mem_clock_mhz;
                break;
            }
            put(b, "%s{", gpu_series[k].name);
            gpu_labels(b, g, snake, host);
            put(b, "} %.17g\n", v);
        }
        if (gpu_series[k].what == 0 && per_lease)
            lease_util_series(b, s, snake, host);
        else if (gpu_series[k].what == 1 || gpu_series[k].what == 2)
            mig_fb_series(b, s, gpu_series[k].name, gpu_series[k].what, snake, host);
    }
}

static void lease_section(struct buf *b, const struct scrape *s)
{
    static const struct {
        const char *name, *type, *help;
    } lease_series[] = {
        {"gpuplex_lease_memory_quota_bytes", "gauge",
         "Device memory the lease holds: its quota (0: none), the whole GPU's (exclusive) or "
         "its MIG instance's (mig)."},
        {"gpuplex_lease_memory_used_bytes", "gauge",
         "Device memory the lease uses now: its processes' (vgpu, timeslice), the GPU's "
         "(exclusive) or its MIG instance's (mig), from the driver; left out when not known."},
        {"gpuplex_lease_memory_peak_bytes", "gauge", "Most device memory the lease has held."},
        {"gpuplex_lease_gpu_seconds_total", "counter",
         "GPU time of the lease: granted by the arbiter (timeslice, vgpu with a cap), the time "
         "held (exclusive, mig)."},
        {"gpuplex_lease_wait_seconds_total", "counter",
         "Time the lease's launches waited for their turn on a shared GPU."},
        {"gpuplex_lease_processes", "gauge", "Processes attached to the lease's region."},
        {"gpuplex_lease_start_time_seconds", "gauge", "When the lease was granted (Unix time)."},
        {"gpuplex_lease_gpu_utilization", "gauge",
         "The lease's GPU utilization over the last scrape interval, as a ratio (0-1): GPU time "
         "the arbiter granted it (timeslice, vgpu with a cap); the driver's figure for the "
         "GPU (exclusive), its processes (vgpu without a cap) or its MIG device; left out when "
         "the driver has none."},
        {"gpuplex_lease_wait_ratio", "gauge",
         "Seconds the lease's launches waited for their turn per second of the last scrape "
         "interval (above 1 when several of its processes wait at once)."},
    };
    for (size_t k = 0; k < sizeof lease_series / sizeof lease_series[0]; k++) {
        head(b, lease_series[k].name, lease_series[k].type, lease_series[k].help);
        for (unsigned i = 0; i < s->nl; i++) {
            const struct gpx_lease *x = &s->leases[i];
            const struct gpx_lease_rec *l = &x->rec;
            double v = 0;
            switch (k) {
            case 0:
                v = (double)gpx_lease_held_memory(l);
                break;
            case 1:
                if (x->used_source == GPX_SRC_NONE)
                    continue;
                v = (double)s->fig[i].used;
                break;
            case 2:
                v = (double)x->peak_bytes;
                break;
            case 3:
                v = (double)x->gpu_ns / 1e9;
                break;
            case 4:
                v = (double)x->wait_ns / 1e9;
                break;
            case 5:
                v = x->nprocs;
                break;
            case 6:
                v = (double)l->created_ns / 1e9;
                break;
            case 7:
                if (!s->fig[i].util_known)
                    continue;
                v = s->fig[i].util;
                break;
            case 8:
                v = s->fig[i].wait;
                break;
            }
            put(b, "%s{lease=\"%s\",tenant=\"%s\",mode=\"%s\",gpu=\"%u\"} %.17g\n",
                lease_series[k].name, l->id, l->tenant,
                gpx_lease_mode_name((enum gpx_lease_mode)l->mode), l->gpu_index, v);
        }
    }
}

/* Per MIG GPU instance: its memory and the lease holding it ("" when free). */
static void mig_section(struct buf *b, const struct scrape *s)
{
    static const char *const names[2] = {"gpuplex_mig_instance_memory_used_bytes",
                                         "gpuplex_mig_instance_memory_total_bytes"};
    static const char *const helps[2] = {
        "Device memory used in the MIG GPU instance (from the driver).",
        "Device memory of the MIG GPU instance."};
    for (int k = 0; k < 2; k++) {
        head(b, names[k], "gauge", helps[k]);
        for (struct gi_iter it = {0}; gi_next(s, &it);) {
            const struct gpx_mig_gi_state *m = it.m;
            const struct gpx_lease *x = it.x;
            char ci[16] = "";
            if (m->nci)
                snprintf(ci, sizeof ci, "%u", m->ci[0].id);
            put(b,
                "%s{gpu=\"%u\",gpu_instance=\"%u\",compute_instance=\"%s\",profile=\"%s\","
                "lease=\"%s\",tenant=\"%s\"} %llu\n",
                names[k], it.v->s->index, m->id, ci,
                m->profile >= 0 ? it.v->s->table.profiles[m->profile].name : "", x ? x->rec.id : "",
                x ? x->rec.tenant : "", (unsigned long long)(k ? m->memory_total : m->memory_used));
        }
    }
}

int gpxd_metrics(struct gpxd *d, char **out, size_t *len, gpx_error *err)
{
    struct buf b = {.p = malloc(16384), .cap = 16384};
    if (!b.p)
        return gpx_error_set(err, GPX_E_NOMEM, "metrics");
    b.p[0] = '\0';
    int snake = d->cfg.metrics_snake_labels;
    char host[512];
    esc(host, sizeof host, d->hostname);
    struct scrape s;
    if (scrape_take(d, &s, err) < 0) {
        free(b.p);
        return -1;
    }
    gpu_section(&b, &s, snake, d->cfg.metrics_dcgm_leases, host);
    lease_section(&b, &s);
    mig_section(&b, &s);

    /* active leases per tenant and mode */
    head(&b, "gpuplex_leases_active", "gauge", "Active leases per tenant and mode.");
    for (unsigned i = 0; i < s.nl; i++) {
        const struct gpx_lease_rec *l = &s.leases[i].rec;
        int seen = 0;
        for (unsigned k = 0; k < i && !seen; k++)
            seen = !strcmp(s.leases[k].rec.tenant, l->tenant) && s.leases[k].rec.mode == l->mode;
        if (seen)
            continue;
        unsigned n = 0;
        for (unsigned k = i; k < s.nl; k++)
            n += !strcmp(s.leases[k].rec.tenant, l->tenant) && s.leases[k].rec.mode == l->mode;
        put(&b, "gpuplex_leases_active{tenant=\"%s\",mode=\"%s\"} %u\n", l->tenant,
            gpx_lease_mode_name((enum gpx_lease_mode)l->mode), n);
    }
    unsigned ngpus = s.node.count;
    scrape_free(&s);

    struct gpx_engine_counters cnt;
    gpx_engine_counters(d->eng, &cnt);
    head(&b, "gpuplex_leases_created_total", "counter", "Leases granted since the daemon started.");
    put(&b, "gpuplex_leases_created_total %llu\n", (unsigned long long)cnt.created);
    head(&b, "gpuplex_leases_released_total", "counter",
         "Leases released since the daemon started (including by the reconciler).");
    put(&b, "gpuplex_leases_released_total %llu\n", (unsigned long long)cnt.released);
    head(&b, "gpuplex_leases_reaped_total", "counter",
         "Leases the reconciler released because their owner processes had exited.");
    put(&b, "gpuplex_leases_reaped_total %llu\n", (unsigned long long)cnt.reaped);
    head(&b, "gpuplex_http_requests_total", "counter", "HTTP requests answered, by status class.");
    for (int c = 1; c <= 5; c++)
        put(&b, "gpuplex_http_requests_total{code=\"%dxx\"} %llu\n", c,
            (unsigned long long)atomic_load(&d->http_by_class[c]));
    gpxd_function_metrics(d, put_line, &b);
    head(&b, "gpuplex_gpus", "gauge", "GPUs the daemon manages.");
    put(&b, "gpuplex_gpus %u\n", ngpus);
    head(&b, "gpuplex_build_info", "gauge", "Always 1; the version is a label.");
    put(&b, "gpuplex_build_info{version=\"%s\"} 1\n", GPX_VERSION);
    head(&b, "gpuplex_start_time_seconds", "gauge", "When the daemon started (Unix time).");
    put(&b, "gpuplex_start_time_seconds %.3f\n", (double)d->started_ns / 1e9);

    if (b.oom) {
        free(b.p);
        return gpx_error_set(err, GPX_E_NOMEM, "metrics");
    }
    *out = b.p;
    *len = b.len;
    return 0;
}
