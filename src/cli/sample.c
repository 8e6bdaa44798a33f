/*
 * Monitoring samples for `gpuplex dmon` and `gpuplex top` (see sample.h):
 * one snapshot of GPUs, leases and MIG instances through the client
 * connection, and the per-lease figures between two snapshots.
 */
#include "cli/sample.h"
#include "cli/cli.h"
#include "gpuplex/client.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIB (1024ULL * 1024ULL)

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void copy_str(char *dst, size_t len, json_t *v)
{
    snprintf(dst, len, "%s", json_is_string(v) ? json_string_value(v) : "");
}

/* The instances of one GPU's MIG document (the view of GET /v1/gpus/N/mig). */
static int add_mig(struct gpx_sample *s, unsigned gpu, json_t *doc, gpx_error *err)
{
    json_t *insts = json_object_get(doc, "instances");
    size_t n = json_array_size(insts);
    if (!n)
        return 0;
    struct gpx_sample_mig *m = realloc(s->mig, (s->n_mig + n) * sizeof *m);
    if (!m)
        return gpx_error_set(err, GPX_E_NOMEM, "out of memory");
    s->mig = m;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(insts, i);
        struct gpx_sample_mig *x = &s->mig[s->n_mig++];
        memset(x, 0, sizeof *x);
        x->gpu = gpu;
        x->gi_id = (unsigned)json_integer_value(json_object_get(o, "gpu_instance_id"));
        copy_str(x->profile, sizeof x->profile, json_object_get(o, "profile"));
        copy_str(x->uuid, sizeof x->uuid, json_object_get(o, "uuid"));
        copy_str(x->lease, sizeof x->lease, json_object_get(o, "lease"));
        x->memory_total = (uint64_t)json_integer_value(json_object_get(o, "memory_mib")) * MIB;
        x->leased = json_is_true(json_object_get(o, "leased")) || x->lease[0];
        x->procs = (unsigned)json_integer_value(json_object_get(o, "processes"));
        /* the instance's own memory, where the view carries NVML's figures for it */
        json_t *tb = json_object_get(o, "memory_total_bytes");
        json_t *ub = json_object_get(o, "memory_used_bytes");
        json_t *um = json_object_get(o, "memory_used_mib");
        if (json_is_integer(tb) && json_integer_value(tb) > 0)
            x->memory_total = (uint64_t)json_integer_value(tb);
        if (json_is_integer(ub) || json_is_integer(um)) {
            x->used_known = 1;
            x->memory_used = json_is_integer(ub) ? (uint64_t)json_integer_value(ub)
                                                 : (uint64_t)json_integer_value(um) * MIB;
        }
    }
    return 0;
}

/* By GPU, then GPU instance id (the view lists them in the driver's order). */
static int by_gpu_gi(const void *a, const void *b)
{
    const struct gpx_sample_mig *x = a, *y = b;
    if (x->gpu != y->gpu)
        return x->gpu < y->gpu ? -1 : 1;
    return x->gi_id < y->gi_id ? -1 : x->gi_id > y->gi_id;
}

int gpx_sample_take(struct gpx_conn *c, struct gpx_sample *s, gpx_error *err)
{
    memset(s, 0, sizeof *s);
    if (gpx_gpus_list(c, &s->node, err) < 0)
        return -1;
    struct gpx_lease_query q = {.state = -1};
    if (gpx_lease_list(c, &q, &s->leases, &s->n_leases, err) < 0) {
        gpx_sample_free(s);
        return -1;
    }
    for (unsigned g = 0; g < s->node.count; g++) {
        const struct gpx_gpu_info *gi = &s->node.gpus[g].info;
        if (!(gi->valid & GPX_INV_MIG) || gi->mig_current != NVML_DEVICE_MIG_ENABLE)
            continue;
        char idx[16];
        snprintf(idx, sizeof idx, "%u", gi->index);
        json_t *doc = NULL;
        if (gpx_mig_get(c, idx, &doc, err) < 0 || add_mig(s, gi->index, doc, err) < 0) {
            json_decref(doc);
            gpx_sample_free(s);
            return -1;
        }
        json_decref(doc);
    }
    if (s->n_mig > 1)
        qsort(s->mig, s->n_mig, sizeof *s->mig, by_gpu_gi);
    /* after the calls: the interval between two samples is the one the counters span */
    s->t_ns = mono_ns();
    return 0;
}

int gpx_sample_take_server(const char *server, struct gpx_conn **cn, struct gpx_sample *s,
                           gpx_error *err)
{
    if (!*cn) {
        char pre[4096];
        struct gpx_conn_opts o = {.server = server};
        if (gpx_cli_interposer_path(pre, sizeof pre, NULL) == 0)
            o.interposer = pre;
        if (gpx_conn_open(&o, cn, err) < 0) {
            *cn = NULL;
            memset(s, 0, sizeof *s);
            return -1;
        }
    }
    int rc = gpx_sample_take(*cn, s, err);
    if (rc < 0 || !gpx_conn_is_daemon(*cn)) {
        /* in-process: never hold the state's lock between samples; a daemon's
         * connection that failed is opened afresh next time */
        gpx_conn_close(*cn);
        *cn = NULL;
    }
    return rc;
}

void gpx_sample_free(struct gpx_sample *s)
{
    if (!s)
        return;
    gpx_node_free(&s->node);
    free(s->leases);
    free(s->mig);
    memset(s, 0, sizeof *s);
}

int gpx_sample_find_lease(const struct gpx_sample *s, const char *id)
{
    for (unsigned i = 0; s && i < s->n_leases; i++)
        if (strcmp(s->leases[i].rec.id, id) == 0)
            return (int)i;
    return -1;
}

double gpx_sample_lease_share(const struct gpx_sample *a, const struct gpx_sample *b, unsigned i,
                              double *wait_ms)
{
    if (wait_ms)
        *wait_ms = -1;
    if (!b || i >= b->n_leases)
        return -1;
    const struct gpx_lease *lb = &b->leases[i];
    int k = a ? gpx_sample_find_lease(a, lb->rec.id) : -1;
    /* an absent lease counts from 0 at a's time; without a, NVML's figures still hold */
    uint64_t gpu0 = k >= 0 ? a->leases[k].gpu_ns : 0, wait0 = k >= 0 ? a->leases[k].wait_ns : 0;
    double dt = a && b->t_ns > a->t_ns ? (double)(b->t_ns - a->t_ns) / 1e9 : 0;
    if (wait_ms && dt > 0) /* counters only grow; a smaller one: a re-attached region */
        *wait_ms = (double)(lb->wait_ns >= wait0 ? lb->wait_ns - wait0 : lb->wait_ns) / 1e6;
    return gpx_lease_util(lb, gpu0, dt);
}

int gpx_sample_lease_memory(const struct gpx_sample *s, unsigned i, uint64_t *used)
{
    if (!s || i >= s->n_leases || s->leases[i].used_source == GPX_SRC_NONE)
        return 0;
    *used = s->leases[i].used_bytes;
    return 1;
}

const struct gpx_gpu *gpx_sample_gpu(const struct gpx_sample *s, unsigned gpu)
{
    for (unsigned i = 0; s && i < s->node.count; i++)
        if (s->node.gpus[i].info.index == gpu)
            return &s->node.gpus[i];
    return NULL;
}
