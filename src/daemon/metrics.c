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
 * counters; per daemon: request and lease counters.
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

int gpxd_metrics(struct gpxd *d, char **out, size_t *len, gpx_error *err)
{
    struct buf b = {.p = malloc(16384), .cap = 16384};
    if (!b.p)
        return gpx_error_set(err, GPX_E_NOMEM, "metrics");
    b.p[0] = '\0';
    int snake = d->cfg.metrics_snake_labels;
    char host[512];
    esc(host, sizeof host, d->hostname);

    static const struct {
        const char *name, *help;
        uint32_t bit; /* 0 = always valid */
        int what;
    } gpu_series[] = {
        {"DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", GPX_INV_UTIL, 0},
        {"DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).", 0, 1},
        {"DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).", 0, 2},
        {"DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).", GPX_INV_TEMP, 3},
        {"DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", GPX_INV_POWER, 4},
        {"DCGM_FI_DEV_SM_CLOCK", "SM clock frequency (in MHz).", GPX_INV_SM_CLOCK, 5},
        {"DCGM_FI_DEV_MEM_CLOCK", "Memory clock frequency (in MHz).", GPX_INV_MEM_CLOCK, 6},
    };
    /* the engine's views of the node and its leases, as an admin sees them */
    struct gpx_caller admin = {.admin = 1};
    snprintf(admin.tenant, sizeof admin.tenant, "%s", GPX_BUILTIN_ADMIN);
    struct gpx_node node;
    struct gpx_lease *leases = NULL;
    unsigned nl = 0;
    struct gpx_lease_query q = {.state = -1};
    if (gpx_engine_gpus(d->eng, &admin, &node, err) < 0) {
        free(b.p);
        return -1;
    }
    if (gpx_engine_lease_list(d->eng, &admin, &q, &leases, &nl, err) < 0) {
        gpx_node_free(&node);
        free(b.p);
        return -1;
    }
    for (size_t s = 0; s < sizeof gpu_series / sizeof gpu_series[0]; s++) {
        head(&b, gpu_series[s].name, "gauge", gpu_series[s].help);
        for (unsigned i = 0; i < node.count; i++) {
            const struct gpx_gpu_info *g = &node.gpus[i].info;
            if (gpu_series[s].bit && !(g->valid & gpu_series[s].bit))
                continue;
            char model[256], uuid[256], pci[64];
            esc(model, sizeof model, g->name);
            esc(uuid, sizeof uuid, g->uuid);
            esc(pci, sizeof pci, (g->valid & GPX_INV_PCI) ? g->pci_bus_id : "");
            double v = 0;
            switch (gpu_series[s].what) {
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
            put(&b,
                "%s{gpu=\"%u\",%s=\"%s\",pci_bus_id=\"%s\",device=\"nvidia%u\",%s=\"%s\",%s=\"%s\"}"
                " "
                "%.17g\n",
                gpu_series[s].name, g->index, snake ? "uuid" : "UUID", uuid, pci, g->index,
                snake ? "model_name" : "modelName", model, snake ? "hostname" : "Hostname", host,
                v);
        }
    }
    unsigned ngpus = node.count;
    gpx_node_free(&node);

    static const struct {
        const char *name, *type, *help;
    } lease_series[] = {
        {"gpuplex_lease_memory_quota_bytes", "gauge",
         "Device memory quota of the lease (0: none; exclusive leases hold the whole GPU)."},
        {"gpuplex_lease_memory_used_bytes", "gauge",
         "Device memory the lease's processes hold now."},
        {"gpuplex_lease_memory_peak_bytes", "gauge", "Most device memory the lease has held."},
        {"gpuplex_lease_gpu_seconds_total", "counter",
         "GPU time granted to the lease (shared modes: by the arbiter; exclusive: wall time)."},
        {"gpuplex_lease_wait_seconds_total", "counter",
         "Time the lease's launches waited for their turn on a shared GPU."},
        {"gpuplex_lease_processes", "gauge", "Processes attached to the lease's region."},
        {"gpuplex_lease_start_time_seconds", "gauge", "When the lease was granted (Unix time)."},
    };
    for (size_t s = 0; s < sizeof lease_series / sizeof lease_series[0]; s++) {
        head(&b, lease_series[s].name, lease_series[s].type, lease_series[s].help);
        for (unsigned i = 0; i < nl; i++) {
            const struct gpx_lease *x = &leases[i];
            const struct gpx_lease_rec *l = &x->rec;
            double v = 0;
            switch (s) {
            case 0:
                v = (double)(l->mode == GPX_MODE_EXCLUSIVE ? l->gpu_memory : l->memory_quota);
                break;
            case 1:
                v = (double)x->used_bytes;
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
            }
            put(&b, "%s{lease=\"%s\",tenant=\"%s\",mode=\"%s\",gpu=\"%u\"} %.17g\n",
                lease_series[s].name, l->id, l->tenant,
                gpx_lease_mode_name((enum gpx_lease_mode)l->mode), l->gpu_index, v);
        }
    }
    /* active leases per tenant and mode */
    head(&b, "gpuplex_leases_active", "gauge", "Active leases per tenant and mode.");
    for (unsigned i = 0; i < nl; i++) {
        const struct gpx_lease_rec *l = &leases[i].rec;
        int seen = 0;
        for (unsigned k = 0; k < i && !seen; k++)
            seen = !strcmp(leases[k].rec.tenant, l->tenant) && leases[k].rec.mode == l->mode;
        if (seen)
            continue;
        unsigned n = 0;
        for (unsigned k = i; k < nl; k++)
            n += !strcmp(leases[k].rec.tenant, l->tenant) && leases[k].rec.mode == l->mode;
        put(&b, "gpuplex_leases_active{tenant=\"%s\",mode=\"%s\"} %u\n", l->tenant,
            gpx_lease_mode_name((enum gpx_lease_mode)l->mode), n);
    }
    free(leases);

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
