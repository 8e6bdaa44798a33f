/*
 * The views (src/engine/views.c): every encoder/decoder pair of views.h
 * round-trips. A struct with every field set (a lease of each kind, a node of
 * two GPUs with leases and processes, usage, tenants with and without a
 * token, callers of every transport, health, errors) is encoded, decoded and
 * encoded again, and the two JSON texts (json_dumps with JSON_SORT_KEYS) must
 * be equal. Decoders must refuse garbage (not an object or array, a lease
 * without an id, ...) with GPX_E_IO, and survive hostile values of every key
 * (wrong types, negative and huge numbers) without crashing.
 *
 * Why: gpuplexd writes these objects and the CLI reads them back through the
 * HTTP client, so a key written by an encoder but not read by its decoder (or
 * read differently) would make `gpuplex --json` print different objects with
 * and without a daemon.
 */
#define _GNU_SOURCE
#include "engine/views.h"
#include "gpuplex/error.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define GIB (1024ULL * 1024ULL * 1024ULL)
#define MIB (1024ULL * 1024ULL)

/* 2024-05-01T12:00:00.123Z plus some nanoseconds the views drop */
#define T0 1714564800123456789LL

static char *dump(json_t *j)
{
    assert_non_null(j);
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
    assert_non_null(s);
    return s;
}

/* The two texts are equal; says where they differ when not. Frees both. */
static void same_text(char *a, char *b, const char *what)
{
    if (strcmp(a, b) != 0) {
        size_t i = 0;
        while (a[i] && a[i] == b[i])
            i++;
        size_t from = i > 60 ? i - 60 : 0;
        fprintf(stderr, "%s: first:  ...%.160s\n%s: second: ...%.160s\n", what, a + from, what,
                b + from);
        free(a);
        free(b);
        fail_msg("%s does not round-trip", what);
    }
    free(a);
    free(b);
}

/* --- leases --------------------------------------------------------------------------------- */

static void fill_lease(struct gpx_lease *x, int mode, int state)
{
    memset(x, 0, sizeof *x);
    struct gpx_lease_rec *l = &x->rec;
    snprintf(l->id, sizeof l->id, "l-0123456789ab");
    snprintf(l->tenant, sizeof l->tenant, "team-a");
    l->state = state;
    l->mode = mode;
    l->gpu_index = 1;
    snprintf(l->gpu_uuid, sizeof l->gpu_uuid, "GPU-11111111-2222-3333-4444-555555555555");
    l->memory_quota = mode == GPX_MODE_VGPU || mode == GPX_MODE_TIMESLICE ? 4 * GIB : 0;
    l->gpu_memory = 10 * GIB;
    l->weight = 3;
    l->cap = 40;
    snprintf(l->mig_profile, sizeof l->mig_profile, "1g.10gb");
    snprintf(l->labels, sizeof l->labels, "{\"job\":\"a \\\"quoted\\\" b\",\"team\":\"ml\"}");
    l->n_owners = 2;
    l->owners[0].pid = 4242;
    l->owners[1].pid = 4343;
    l->created_ns = T0;
    l->released_ns = state == GPX_LS_RELEASED ? T0 + 3600LL * 1000000000LL + 456000000LL : 0;
    snprintf(l->reason, sizeof l->reason, "%s",
             state == GPX_LS_RELEASED ? "released by team-a" : "");
    l->gpu_ns = 11;
    l->wait_ns = 12;
    l->peak_used = 13;
    l->mig_start = 0; /* 0 is a valid start, id and compute instance: not "absent" */
    l->mig_created = 1;
    l->mig_gi = 0;
    l->mig_ci = 0;
    snprintf(l->mig_uuid, sizeof l->mig_uuid, "MIG-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
    x->live = 1;
    snprintf(x->region_error, sizeof x->region_error, "limits: bad magic");
    x->uid = 1000;
    x->used_bytes = 3 * GIB + 5;
    x->peak_bytes = 3 * GIB + 7;
    x->refused = 9;
    x->gpu_ns = 1234567890123ULL;
    x->wait_ns = 987654321ULL;
    x->turns = 42;
    x->drains = 3;
    x->wait_p99_ns = 2048000ULL;
    x->lease_seconds = 3600.456;
    x->nprocs = 2;
    x->pids[0] = 100;
    x->pids[1] = 200;
    x->proc_used[0] = GIB;
    x->proc_used[1] = 2 * GIB + 5;
    x->nturns = 3;
    x->turn_ring[0] = (123456ULL << 32) | 10;
    x->turn_ring[1] = (123457ULL << 32) | 0xffffffffULL;
    x->turn_ring[2] = (4294967295ULL << 32) | 1;
    snprintf(x->run_dir, sizeof x->run_dir, "/run/gpuplex");
    snprintf(x->interposer, sizeof x->interposer, "/usr/lib/gpuplex/libgpuplex-cuda.so");
}

/* encode -> decode -> encode, with and without recent turns; returns the decoded lease */
static void lease_round_trip(const struct gpx_lease *x, struct gpx_lease *back)
{
    for (unsigned flags = 0; flags <= GPX_VIEW_TURNS; flags += GPX_VIEW_TURNS) {
        json_t *j = gpx_view_lease(x, flags);
        gpx_error err = {0};
        if (gpx_view_lease_read(j, back, &err) < 0)
            fail_msg("lease_read: %s", err.msg);
        json_t *j2 = gpx_view_lease(back, flags);
        same_text(dump(j), dump(j2), flags ? "lease (turns)" : "lease");
        json_decref(j);
        json_decref(j2);
    }
}

static void test_lease(void **state)
{
    (void)state;
    struct gpx_lease *x = malloc(sizeof *x), *back = malloc(sizeof *back);
    assert_non_null(x);
    assert_non_null(back);
    static const int modes[] = {GPX_MODE_EXCLUSIVE, GPX_MODE_MIG, GPX_MODE_VGPU,
                                GPX_MODE_TIMESLICE};
    for (size_t m = 0; m < 4; m++)
        for (int st = GPX_LS_PENDING; st <= GPX_LS_ABORTED; st++) {
            fill_lease(x, modes[m], st);
            lease_round_trip(x, back);
            /* what the client needs came back as it was */
            const struct gpx_lease_rec *a = &x->rec, *b = &back->rec;
            assert_string_equal(b->id, a->id);
            assert_string_equal(b->tenant, a->tenant);
            assert_int_equal(b->state, a->state);
            assert_int_equal(b->mode, a->mode);
            assert_int_equal(b->gpu_index, a->gpu_index);
            assert_string_equal(b->gpu_uuid, a->gpu_uuid);
            assert_int_equal(b->memory_quota, a->memory_quota);
            assert_int_equal(b->cap, a->cap);
            assert_string_equal(b->mig_profile, a->mig_profile);
            assert_string_equal(b->labels, a->labels);
            assert_int_equal(b->n_owners, 2);
            assert_int_equal(b->owners[1].pid, 4343);
            assert_int_equal(b->created_ns, a->created_ns);
            /* released times travel at millisecond precision */
            assert_int_equal(b->released_ns, a->released_ns / 1000000 * 1000000);
            assert_string_equal(b->reason, a->reason);
            assert_string_equal(back->region_error, x->region_error);
            assert_int_equal(back->uid, x->uid);
            assert_int_equal(back->used_bytes, x->used_bytes);
            assert_int_equal(back->peak_bytes, x->peak_bytes);
            assert_int_equal(back->refused, x->refused);
            assert_int_equal(back->gpu_ns, x->gpu_ns);
            assert_int_equal(back->wait_ns, x->wait_ns);
            assert_int_equal(back->wait_p99_ns, x->wait_p99_ns);
            assert_int_equal(back->turns, x->turns);
            assert_int_equal(back->drains, x->drains);
            assert_true(back->lease_seconds == x->lease_seconds);
            assert_int_equal(back->nprocs, 2);
            assert_int_equal(back->pids[1], 200);
            assert_int_equal(back->proc_used[1], x->proc_used[1]);
            assert_int_equal(back->nturns, 3);
            assert_memory_equal(back->turn_ring, x->turn_ring, 3 * sizeof x->turn_ring[0]);
            if (a->mode == GPX_MODE_VGPU || a->mode == GPX_MODE_TIMESLICE)
                assert_int_equal(b->weight, a->weight);
            if (a->mode == GPX_MODE_MIG) {
                assert_int_equal(b->mig_gi, 0);
                assert_int_equal(b->mig_ci, 0);
                assert_int_equal(b->mig_start, 0);
                assert_int_equal(b->mig_created, 1);
                assert_int_equal(b->gpu_memory, a->gpu_memory);
                assert_string_equal(b->mig_uuid, a->mig_uuid);
            } else {
                assert_int_equal(b->mig_gi, -1);
            }
            if (a->state == GPX_LS_ACTIVE) {
                assert_string_equal(back->run_dir, x->run_dir);
                assert_string_equal(back->interposer, x->interposer);
            }
        }
    /* the least a lease can be: no labels, owners, processes, turns, times or figures */
    memset(x, 0, sizeof *x);
    snprintf(x->rec.id, sizeof x->rec.id, "l-000000000001");
    x->rec.mode = GPX_MODE_MIG;
    x->rec.mig_gi = x->rec.mig_ci = x->rec.mig_start = -1;
    x->rec.state = GPX_LS_ACTIVE;
    lease_round_trip(x, back);
    assert_string_equal(back->rec.labels, "{}");
    assert_int_equal(back->rec.mig_gi, -1);
    assert_int_equal(back->rec.created_ns, 0);
    assert_int_equal(back->rec.released_ns, 0);

    /* a list */
    struct gpx_lease *arr = calloc(3, sizeof *arr);
    assert_non_null(arr);
    fill_lease(&arr[0], GPX_MODE_VGPU, GPX_LS_ACTIVE);
    fill_lease(&arr[1], GPX_MODE_MIG, GPX_LS_RELEASED);
    fill_lease(&arr[2], GPX_MODE_EXCLUSIVE, GPX_LS_ACTIVE);
    snprintf(arr[2].rec.id, sizeof arr[2].rec.id, "l-third");
    for (unsigned flags = 0; flags <= GPX_VIEW_TURNS; flags += GPX_VIEW_TURNS) {
        json_t *j = gpx_view_leases(arr, 3, flags);
        struct gpx_lease *got = NULL;
        unsigned n = 0;
        gpx_error err = {0};
        assert_int_equal(gpx_view_leases_read(j, &got, &n, &err), 0);
        assert_int_equal(n, 3);
        assert_string_equal(got[2].rec.id, "l-third");
        json_t *j2 = gpx_view_leases(got, n, flags);
        same_text(dump(j), dump(j2), "lease list");
        json_decref(j);
        json_decref(j2);
        free(got);
    }
    /* an empty list */
    json_t *j = gpx_view_leases(arr, 0, 0);
    struct gpx_lease *got = NULL;
    unsigned n = 99;
    gpx_error err = {0};
    assert_int_equal(gpx_view_leases_read(j, &got, &n, &err), 0);
    assert_int_equal(n, 0);
    free(got);
    json_decref(j);
    free(arr);
    free(x);
    free(back);
}

/* --- GPUs ----------------------------------------------------------------------------------- */

static void fill_node(struct gpx_node *n)
{
    memset(n, 0, sizeof *n);
    snprintf(n->driver_version, sizeof n->driver_version, "550.54.15");
    n->cuda_version = 12040;
    n->count = 2;
    n->gpus = calloc(2, sizeof *n->gpus);
    assert_non_null(n->gpus);

    /* GPU 0: every figure, two processes (one of unknown memory), two leases */
    struct gpx_gpu *g = &n->gpus[0];
    struct gpx_gpu_info *i = &g->info;
    i->index = 0;
    i->valid = GPX_INV_PCI | GPX_INV_UTIL | GPX_INV_TEMP | GPX_INV_POWER | GPX_INV_POWER_LIMIT |
               GPX_INV_SM_CLOCK | GPX_INV_MEM_CLOCK | GPX_INV_MIG | GPX_INV_PROCS | GPX_INV_CC |
               GPX_INV_SM_CLOCK_MAX;
    snprintf(i->name, sizeof i->name, "NVIDIA H100 80GB HBM3");
    snprintf(i->uuid, sizeof i->uuid, "GPU-00000000-1111-2222-3333-444444444444");
    snprintf(i->pci_bus_id, sizeof i->pci_bus_id, "00000000:18:00.0");
    i->memory_total = 81559 * MIB;
    i->memory_used = 1234 * MIB + 17;
    i->memory_free = i->memory_total - i->memory_used;
    i->util_gpu = 87;
    i->util_memory = 0; /* zero is a figure, not "absent" */
    i->temperature_c = 61;
    i->power_mw = 345678;
    i->power_limit_mw = 700000;
    i->sm_clock_mhz = 1980;
    i->sm_clock_max_mhz = 1980;
    i->mem_clock_mhz = 2619;
    i->mig_current = NVML_DEVICE_MIG_ENABLE;
    i->mig_pending = 0;
    i->cc_major = 9;
    i->cc_minor = 0;
    i->proc_count = 2;
    i->procs[0].pid = 100;
    i->procs[0].used_bytes = 512 * MIB;
    i->procs[1].pid = 200;
    i->procs[1].used_bytes = UINT64_MAX;
    g->exclusive = 0;
    g->quota_free = 70 * GIB;
    g->show_procs = 1;
    g->n_leases = 2;
    g->leases = calloc(2, sizeof *g->leases);
    assert_non_null(g->leases);
    snprintf(g->leases[0].id, sizeof g->leases[0].id, "l-aaaaaaaaaaaa");
    snprintf(g->leases[0].tenant, sizeof g->leases[0].tenant, "team-a");
    g->leases[0].mode = GPX_MODE_VGPU;
    g->leases[0].memory_quota = 8 * GIB;
    snprintf(g->leases[1].id, sizeof g->leases[1].id, "l-bbbbbbbbbbbb");
    snprintf(g->leases[1].tenant, sizeof g->leases[1].tenant, "admin");
    g->leases[1].mode = GPX_MODE_TIMESLICE;
    g->leases[1].memory_quota = 0;

    /* GPU 1: as little as a driver may say; processes hidden (a tenant's view); exclusive */
    g = &n->gpus[1];
    i = &g->info;
    i->index = 1;
    i->valid = 0;
    snprintf(i->name, sizeof i->name, "NVIDIA A100-SXM4-40GB");
    snprintf(i->uuid, sizeof i->uuid, "GPU-99999999-1111-2222-3333-444444444444");
    i->memory_total = 40 * GIB;
    g->exclusive = 1;
    g->quota_free = 0;
    g->show_procs = 0;
    g->n_leases = 1;
    g->leases = calloc(1, sizeof *g->leases);
    assert_non_null(g->leases);
    snprintf(g->leases[0].id, sizeof g->leases[0].id, "l-cccccccccccc");
    snprintf(g->leases[0].tenant, sizeof g->leases[0].tenant, "team-b");
    g->leases[0].mode = GPX_MODE_EXCLUSIVE;
}

static void test_gpus(void **state)
{
    (void)state;
    struct gpx_node n, back;
    fill_node(&n);
    gpx_error err = {0};
    json_t *j = gpx_view_gpus(&n);
    assert_int_equal(gpx_view_gpus_read(j, &back, &err), 0);
    json_t *j2 = gpx_view_gpus(&back);
    same_text(dump(j), dump(j2), "GPU list");
    json_decref(j2);
    /* each GPU on its own, too */
    for (unsigned i = 0; i < 2; i++) {
        json_t *a = gpx_view_gpu(&n.gpus[i]), *b = gpx_view_gpu(&back.gpus[i]);
        same_text(dump(a), dump(b), "GPU");
        json_decref(a);
        json_decref(b);
    }
    assert_int_equal(back.count, 2);
    const struct gpx_gpu_info *a = &n.gpus[0].info, *b = &back.gpus[0].info;
    assert_int_equal(b->valid, a->valid);
    assert_int_equal(b->power_mw, a->power_mw);
    assert_int_equal(b->power_limit_mw, a->power_limit_mw);
    assert_int_equal(b->memory_used, a->memory_used);
    assert_int_equal(b->util_memory, 0);
    assert_int_equal(b->proc_count, 2);
    assert_int_equal(b->procs[1].used_bytes, UINT64_MAX);
    assert_int_equal(b->mig_current, NVML_DEVICE_MIG_ENABLE);
    assert_int_equal(b->cc_major, 9);
    assert_true(back.gpus[0].show_procs);
    assert_false(back.gpus[1].show_procs);
    assert_int_equal(back.gpus[1].info.valid, 0);
    assert_true(back.gpus[1].exclusive);
    assert_int_equal(back.gpus[0].n_leases, 2);
    assert_int_equal(back.gpus[0].leases[0].memory_quota, 8 * GIB);
    assert_int_equal(back.gpus[1].leases[0].mode, GPX_MODE_EXCLUSIVE);
    /* a tenant's view hides processes by leaving the key out */
    assert_null(json_object_get(json_array_get(j, 1), "processes"));
    json_decref(j);
    gpx_node_free(&back);
    /* processes shown, but the driver said nothing of them: null, and it stays null */
    n.gpus[0].info.valid &= ~(uint32_t)GPX_INV_PROCS;
    j = gpx_view_gpus(&n);
    assert_true(json_is_null(json_object_get(json_array_get(j, 0), "processes")));
    assert_int_equal(gpx_view_gpus_read(j, &back, &err), 0);
    j2 = gpx_view_gpus(&back);
    same_text(dump(j), dump(j2), "GPU list without processes");
    json_decref(j);
    json_decref(j2);
    gpx_node_free(&back);
    gpx_node_free(&n);
    /* a node without GPUs */
    memset(&n, 0, sizeof n);
    j = gpx_view_gpus(&n);
    assert_int_equal(gpx_view_gpus_read(j, &back, &err), 0);
    assert_int_equal(back.count, 0);
    gpx_node_free(&back);
    json_decref(j);
}

/* --- usage ---------------------------------------------------------------------------------- */

static void fill_row(struct gpx_usage_row *r, const char *id, const char *tenant, int mode,
                     int state, double k)
{
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", id);
    snprintf(r->tenant, sizeof r->tenant, "%s", tenant);
    r->mode = mode;
    r->state = state;
    r->gpu_index = id[0] ? 1 : 0;
    snprintf(r->gpu_uuid, sizeof r->gpu_uuid, "%s",
             id[0] ? "GPU-11111111-2222-3333-4444-555555555555" : "");
    r->leases = id[0] ? 0 : 3;
    r->lease_seconds = 3600.25 * k;
    r->gpu_seconds = 1800.125 * k;
    r->wait_seconds = 0.001 * k;
    r->memory_quota_gib_seconds = 28801.0 / 3.0 * k;
    r->memory_used_gib_seconds = 1e-9 * k;
    r->memory_peak_bytes = (uint64_t)(7 * k) * GIB + 3;
}

static void test_usage(void **state)
{
    (void)state;
    struct gpx_usage u, back;
    memset(&u, 0, sizeof u);
    u.from_ns = T0;
    u.to_ns = T0 + 86400LL * 1000000000LL;
    u.n_tenants = 2;
    u.n_leases = 3;
    u.tenants = calloc(2, sizeof *u.tenants);
    u.leases = calloc(3, sizeof *u.leases);
    assert_non_null(u.tenants);
    assert_non_null(u.leases);
    fill_row(&u.tenants[0], "", "team-a", 0, 0, 1.0);
    fill_row(&u.tenants[1], "", "team-b", 0, 0, 2.0);
    fill_row(&u.leases[0], "l-000000000001", "team-a", GPX_MODE_VGPU, GPX_LS_ACTIVE, 0.5);
    fill_row(&u.leases[1], "l-000000000002", "team-a", GPX_MODE_MIG, GPX_LS_RELEASED, 0.25);
    fill_row(&u.leases[2], "l-000000000003", "team-b", GPX_MODE_EXCLUSIVE, GPX_LS_RELEASED, 2);
    gpx_error err = {0};
    json_t *j = gpx_view_usage(&u);
    assert_int_equal(gpx_view_usage_read(j, &back, &err), 0);
    json_t *j2 = gpx_view_usage(&back);
    same_text(dump(j), dump(j2), "usage");
    json_decref(j);
    json_decref(j2);
    assert_int_equal(back.n_tenants, 2);
    assert_int_equal(back.n_leases, 3);
    assert_int_equal(back.from_ns, u.from_ns / 1000000 * 1000000);
    assert_int_equal(back.to_ns, u.to_ns / 1000000 * 1000000);
    assert_string_equal(back.tenants[1].tenant, "team-b");
    assert_int_equal(back.tenants[1].leases, 3);
    assert_string_equal(back.leases[1].id, "l-000000000002");
    assert_int_equal(back.leases[1].mode, GPX_MODE_MIG);
    assert_int_equal(back.leases[1].state, GPX_LS_RELEASED);
    assert_string_equal(back.leases[1].gpu_uuid, u.leases[1].gpu_uuid);
    assert_true(back.leases[2].memory_quota_gib_seconds == u.leases[2].memory_quota_gib_seconds);
    assert_int_equal(back.leases[2].memory_peak_bytes, u.leases[2].memory_peak_bytes);
    gpx_usage_free(&back);
    gpx_usage_free(&u);
    /* nothing used */
    memset(&u, 0, sizeof u);
    u.from_ns = T0 - 86400LL * 1000000000LL;
    u.to_ns = T0;
    j = gpx_view_usage(&u);
    assert_int_equal(gpx_view_usage_read(j, &back, &err), 0);
    j2 = gpx_view_usage(&back);
    same_text(dump(j), dump(j2), "empty usage");
    json_decref(j);
    json_decref(j2);
    gpx_usage_free(&back);
    gpx_usage_free(&back); /* twice is harmless */
    {
        /* Was a bug (fixed): the engine's default window starts at from_ns = 1
         * (src/engine/ledger.c, gpx_engine_usage: "out->from_ns = x.from > 0 ? x.from : 1"), which
         * gpx_view_usage writes as "from": "1970-01-01T00:00:00.000Z"; get_ns() in
         * src/engine/views.c reads that back as 0, and gpx_view_time(0) writes null. So
         * `gpuplex usage --json` prints "from": null through gpuplexd but the epoch without
         * one, and the text form (src/cli/cmd_usage.c) passes json_string_value(null) ==
         * NULL to printf("%s"). */
        memset(&u, 0, sizeof u);
        u.from_ns = 1;
        u.to_ns = T0;
        j = gpx_view_usage(&u);
        assert_int_equal(gpx_view_usage_read(j, &back, &err), 0);
        assert_true(back.from_ns > 0);
        j2 = gpx_view_usage(&back);
        same_text(dump(j), dump(j2), "usage from the epoch");
        json_decref(j);
        json_decref(j2);
        gpx_usage_free(&back);
    }
}

/* --- tenants, callers, health, errors ------------------------------------------------------- */

static void test_tenants(void **state)
{
    (void)state;
    struct gpx_tenant t[2], back;
    memset(t, 0, sizeof t);
    snprintf(t[0].name, sizeof t[0].name, "team-a");
    t[0].admin = 0;
    snprintf(t[0].token_sha256, sizeof t[0].token_sha256, "%064d", 7); /* never shown */
    t[0].has_uid = 1;
    t[0].uid = 0; /* uid 0 is a uid, not "none" */
    t[0].max_gpus = 2;
    t[0].max_memory = 16 * GIB;
    t[0].created_ns = T0;
    snprintf(t[1].name, sizeof t[1].name, "ops");
    t[1].admin = 1;
    t[1].created_ns = T0 + 1;
    const char *token = "gpx_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    gpx_error err = {0};
    for (int i = 0; i < 2; i++)
        for (int with_token = 0; with_token < 2; with_token++) {
            json_t *j = gpx_view_tenant(&t[i], with_token ? token : NULL);
            char tok[80] = "untouched";
            assert_int_equal(gpx_view_tenant_read(j, &back, tok, sizeof tok, &err), 0);
            assert_string_equal(tok, with_token ? token : "");
            json_t *j2 = gpx_view_tenant(&back, tok[0] ? tok : NULL);
            same_text(dump(j), dump(j2), "tenant");
            json_decref(j);
            json_decref(j2);
            assert_string_equal(back.name, t[i].name);
            assert_int_equal(back.admin, t[i].admin);
            assert_int_equal(back.has_uid, t[i].has_uid);
            assert_int_equal(back.uid, t[i].uid);
            assert_int_equal(back.max_gpus, t[i].max_gpus);
            assert_int_equal(back.max_memory, t[i].max_memory);
            assert_int_equal(back.created_ns, t[i].created_ns);
            assert_string_equal(back.token_sha256, ""); /* the digest never leaves */
            /* a reader that does not want the token */
            j = gpx_view_tenant(&t[i], token);
            assert_int_equal(gpx_view_tenant_read(j, &back, NULL, 0, &err), 0);
            assert_string_equal(back.name, t[i].name);
            json_decref(j);
        }
    /* the digest is not in the JSON */
    json_t *j = gpx_view_tenant(&t[0], token);
    char *s = dump(j);
    assert_null(strstr(s, t[0].token_sha256));
    assert_null(json_object_get(j, "token_sha256"));
    free(s);
    json_decref(j);
    /* a list */
    j = gpx_view_tenants(t, 2);
    struct gpx_tenant *got = NULL;
    unsigned n = 0;
    assert_int_equal(gpx_view_tenants_read(j, &got, &n, &err), 0);
    assert_int_equal(n, 2);
    json_t *j2 = gpx_view_tenants(got, n);
    same_text(dump(j), dump(j2), "tenant list");
    json_decref(j);
    json_decref(j2);
    free(got);
}

static void test_callers(void **state)
{
    (void)state;
    /* tcp (uid not known), unix socket, the CLI's own engine */
    struct gpx_caller c[4];
    memset(c, 0, sizeof c);
    snprintf(c[0].tenant, sizeof c[0].tenant, "team-a");
    c[0].max_gpus = 1;
    c[0].max_memory = 8 * GIB;
    snprintf(c[1].tenant, sizeof c[1].tenant, "admin");
    c[1].admin = 1;
    c[1].via_unix = 1;
    c[1].uid = 0;
    snprintf(c[2].tenant, sizeof c[2].tenant, "admin");
    c[2].admin = 1;
    c[2].via_unix = 1;
    c[2].in_process = 1;
    c[2].uid = 1000;
    snprintf(c[3].tenant, sizeof c[3].tenant, "team-b");
    c[3].via_unix = 1;
    c[3].uid = 4242;
    c[3].max_gpus = 3;
    static const char *const via[] = {"tcp", "unix", "local", "unix"};
    for (int i = 0; i < 4; i++) {
        struct gpx_caller back;
        gpx_error err = {0};
        json_t *j = gpx_view_caller(&c[i]);
        assert_string_equal(json_string_value(json_object_get(j, "via")), via[i]);
        assert_int_equal(gpx_view_caller_read(j, &back, &err), 0);
        json_t *j2 = gpx_view_caller(&back);
        same_text(dump(j), dump(j2), "caller");
        json_decref(j);
        json_decref(j2);
        assert_string_equal(back.tenant, c[i].tenant);
        assert_int_equal(back.admin, c[i].admin);
        assert_int_equal(back.via_unix, c[i].via_unix);
        assert_int_equal(back.in_process, c[i].in_process);
        assert_int_equal(back.uid, c[i].uid);
        assert_int_equal(back.max_gpus, c[i].max_gpus);
        assert_int_equal(back.max_memory, c[i].max_memory);
    }
}

static void test_health(void **state)
{
    (void)state;
    for (int admin = 0; admin < 2; admin++) {
        struct gpx_health h, back;
        memset(&h, 0, sizeof h);
        snprintf(h.version, sizeof h.version, "0.1.0");
        h.gpus = 2;
        snprintf(h.driver_version, sizeof h.driver_version, "550.54.15");
        h.show_leases = admin;
        h.leases_active = admin ? 0 : 5; /* hidden from tenants; 0 shown to admins */
        h.schema_version = 2;
        h.uptime_seconds = 12.345678;
        snprintf(h.placement, sizeof h.placement, "spread");
        h.oversubscription = 1.5;
        snprintf(h.run_dir, sizeof h.run_dir, "/run/gpuplex");
        snprintf(h.state_dir, sizeof h.state_dir, "/var/lib/gpuplex");
        snprintf(h.host, sizeof h.host, "%s", admin ? "local" : "gpuplexd");
        gpx_error err = {0};
        json_t *j = gpx_view_health(&h);
        assert_int_equal(json_object_get(j, "leases_active") != NULL, admin);
        assert_int_equal(gpx_view_health_read(j, &back, &err), 0);
        json_t *j2 = gpx_view_health(&back);
        same_text(dump(j), dump(j2), "health");
        json_decref(j);
        json_decref(j2);
        assert_int_equal(back.show_leases, admin);
        assert_int_equal(back.leases_active, 0);
        assert_string_equal(back.host, h.host);
        assert_true(back.oversubscription == 1.5);
    }
    /* an older gpuplexd said no host: it was one */
    json_t *j = json_pack("{s:s}", "version", "0.0.9");
    struct gpx_health back;
    gpx_error err = {0};
    assert_int_equal(gpx_view_health_read(j, &back, &err), 0);
    assert_string_equal(back.host, "gpuplexd");
    json_decref(j);
}

static void test_errors(void **state)
{
    (void)state;
    for (int c = 0; c < GPX_E__COUNT; c++) {
        gpx_error e = {.code = (enum gpx_code)c}, back = {0};
        if (c % 2)
            snprintf(e.msg, sizeof e.msg, "message %d: \"quoted\" \\ and UTF-8 \xc3\xa9", c);
        json_t *j = gpx_view_error(&e);
        assert_int_equal(gpx_view_error_read(j, &back), 0);
        assert_int_equal(back.code, e.code);
        assert_string_equal(back.msg, e.msg[0] ? e.msg : gpx_error_default(e.code));
        json_t *j2 = gpx_view_error(&back);
        same_text(dump(j), dump(j2), "error");
        json_decref(j);
        json_decref(j2);
    }
    /* an unknown code is INTERNAL; garbage is -1 */
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", "NEW_CODE", "message", "m");
    gpx_error back = {0};
    assert_int_equal(gpx_view_error_read(j, &back), 0);
    assert_int_equal(back.code, GPX_E_INTERNAL);
    assert_string_equal(back.msg, "m");
    json_decref(j);
    json_t *junk[] = {NULL, json_integer(1), json_object(), json_pack("{s:i}", "error", 1),
                      json_pack("{s:{s:i}}", "error", "code", 5)};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        assert_int_equal(gpx_view_error_read(junk[i], &back), -1);
        json_decref(junk[i]);
    }
}

static void test_time(void **state)
{
    (void)state;
    json_t *j = gpx_view_time(0);
    assert_true(json_is_null(j));
    json_decref(j);
    j = gpx_view_time(-1);
    assert_true(json_is_null(j));
    json_decref(j);
    j = gpx_view_time(T0);
    assert_string_equal(json_string_value(j), "2024-05-01T12:00:00.123Z");
    json_decref(j);
    j = gpx_view_time(1);
    assert_string_equal(json_string_value(j), "1970-01-01T00:00:00.000Z");
    json_decref(j);
}

/* --- garbage -------------------------------------------------------------------------------- */

static void expect_io(int rc, const gpx_error *err, const char *what)
{
    if (rc != -1)
        fail_msg("%s: accepted", what);
    if (err->code != GPX_E_IO)
        fail_msg("%s: code %d (%s)", what, (int)err->code, err->msg);
    assert_non_null(strstr(err->msg, "unexpected answer"));
}

/* Every decoder on `j`: refusals must be IO, and nothing may crash. */
static void feed_all(json_t *j)
{
    gpx_error err = {0};
    struct gpx_lease *l = malloc(sizeof *l), *ls = NULL;
    assert_non_null(l);
    unsigned n = 0;
    if (gpx_view_lease_read(j, l, &err) < 0)
        assert_int_equal(err.code, GPX_E_IO);
    free(l);
    if (gpx_view_leases_read(j, &ls, &n, &err) < 0)
        assert_int_equal(err.code, GPX_E_IO);
    else
        free(ls);
    struct gpx_node node;
    if (gpx_view_gpus_read(j, &node, &err) < 0)
        assert_int_equal(err.code, GPX_E_IO);
    else
        gpx_node_free(&node);
    struct gpx_usage u;
    if (gpx_view_usage_read(j, &u, &err) < 0)
        assert_int_equal(err.code, GPX_E_IO);
    else
        gpx_usage_free(&u);
    struct gpx_tenant t, *ts = NULL;
    char tok[8];
    if (gpx_view_tenant_read(j, &t, tok, sizeof tok, &err) < 0)
        assert_int_equal(err.code, GPX_E_IO);
    if (gpx_view_tenants_read(j, &ts, &n, &err) < 0)
        assert_int_equal(err.code, GPX_E_IO);
    else
        free(ts);
    struct gpx_caller c;
    if (gpx_view_caller_read(j, &c, &err) < 0)
        assert_int_equal(err.code, GPX_E_IO);
    struct gpx_health h;
    if (gpx_view_health_read(j, &h, &err) < 0)
        assert_int_equal(err.code, GPX_E_IO);
    gpx_error e2 = {0};
    (void)gpx_view_error_read(j, &e2);
}

static void test_garbage(void **state)
{
    (void)state;
    gpx_error err = {0};
    struct gpx_lease *l = malloc(sizeof *l), *ls = NULL;
    assert_non_null(l);
    unsigned n = 0;
    json_t *scalars[] = {NULL,
                         json_null(),
                         json_true(),
                         json_integer(-1),
                         json_real(1e300),
                         json_string(""),
                         json_string("{\"id\":\"x\"}")};
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
        json_t *j = scalars[i];
        expect_io(gpx_view_lease_read(j, l, &err), &err, "lease: a scalar");
        expect_io(gpx_view_leases_read(j, &ls, &n, &err), &err, "leases: a scalar");
        struct gpx_node node;
        expect_io(gpx_view_gpus_read(j, &node, &err), &err, "gpus: a scalar");
        struct gpx_usage u;
        expect_io(gpx_view_usage_read(j, &u, &err), &err, "usage: a scalar");
        struct gpx_tenant t, *ts = NULL;
        expect_io(gpx_view_tenant_read(j, &t, NULL, 0, &err), &err, "tenant: a scalar");
        expect_io(gpx_view_tenants_read(j, &ts, &n, &err), &err, "tenants: a scalar");
        struct gpx_caller c;
        expect_io(gpx_view_caller_read(j, &c, &err), &err, "caller: a scalar");
        struct gpx_health h;
        expect_io(gpx_view_health_read(j, &h, &err), &err, "health: a scalar");
        feed_all(j);
        json_decref(j);
    }
    /* objects where arrays belong, and the other way round */
    json_t *o = json_object(), *a = json_array();
    expect_io(gpx_view_leases_read(o, &ls, &n, &err), &err, "leases: an object");
    struct gpx_node node;
    expect_io(gpx_view_gpus_read(o, &node, &err), &err, "gpus: an object");
    struct gpx_tenant *ts = NULL;
    expect_io(gpx_view_tenants_read(o, &ts, &n, &err), &err, "tenants: an object");
    expect_io(gpx_view_lease_read(a, l, &err), &err, "lease: an array");
    struct gpx_health h;
    expect_io(gpx_view_health_read(a, &h, &err), &err, "health: an array");
    struct gpx_usage u;
    expect_io(gpx_view_usage_read(o, &u, &err), &err, "usage: no arrays");
    json_decref(o);
    json_decref(a);

    /* a lease without an id, with a non-string one, with an unknown state or mode */
    static const char *const leases[] = {
        "{}",
        "{\"tenant\":\"a\",\"state\":\"active\",\"mode\":\"vgpu\"}",
        "{\"id\":7,\"state\":\"active\",\"mode\":\"vgpu\"}",
        "{\"id\":null,\"state\":\"active\",\"mode\":\"vgpu\"}",
        "{\"id\":\"l-1\",\"state\":\"gone\",\"mode\":\"vgpu\"}",
        "{\"id\":\"l-1\",\"state\":\"active\",\"mode\":\"shared\"}",
        "{\"id\":\"l-1\",\"mode\":\"vgpu\"}",
        "{\"id\":\"l-1\",\"state\":\"active\"}",
    };
    for (size_t i = 0; i < sizeof leases / sizeof leases[0]; i++) {
        json_t *j = json_loads(leases[i], 0, NULL);
        assert_non_null(j);
        expect_io(gpx_view_lease_read(j, l, &err), &err, leases[i]);
        json_t *arr =
            json_pack("[{s:s,s:s,s:s},O]", "id", "l-ok", "state", "active", "mode", "vgpu", j);
        expect_io(gpx_view_leases_read(arr, &ls, &n, &err), &err, "a list with a bad lease");
        json_decref(arr);
        feed_all(j);
        json_decref(j);
    }
    /* tenants without names, whoami without a tenant */
    static const char *const nameless[] = {"{}", "{\"name\":1}", "{\"role\":\"admin\"}"};
    for (size_t i = 0; i < sizeof nameless / sizeof nameless[0]; i++) {
        json_t *j = json_loads(nameless[i], 0, NULL);
        struct gpx_tenant t;
        expect_io(gpx_view_tenant_read(j, &t, NULL, 0, &err), &err, nameless[i]);
        json_t *arr = json_pack("[O]", j);
        expect_io(gpx_view_tenants_read(arr, &ts, &n, &err), &err, "a list with a bad tenant");
        json_decref(arr);
        struct gpx_caller c;
        expect_io(gpx_view_caller_read(j, &c, &err), &err, nameless[i]);
        json_decref(j);
    }
    free(l);
}

/* A JSON text whose every key (of every struct) holds `v`. */
static json_t *every_key(json_t *v)
{
    static const char *const keys[] = {"id",
                                       "tenant",
                                       "state",
                                       "mode",
                                       "gpu",
                                       "gpu_index",
                                       "gpu_uuid",
                                       "memory_bytes",
                                       "weight",
                                       "cap",
                                       "cap_pct",
                                       "mig_profile",
                                       "mig",
                                       "labels",
                                       "owner_pids",
                                       "uid",
                                       "created",
                                       "created_ns",
                                       "released",
                                       "release_reason",
                                       "used_bytes",
                                       "peak_bytes",
                                       "refused",
                                       "turns",
                                       "drains",
                                       "processes",
                                       "region_error",
                                       "recent_turns",
                                       "usage",
                                       "env",
                                       "index",
                                       "uuid",
                                       "name",
                                       "pci_bus_id",
                                       "memory_total_bytes",
                                       "memory_used_bytes",
                                       "memory_free_bytes",
                                       "mig_mode",
                                       "mig_mode_pending",
                                       "compute_capability",
                                       "leases",
                                       "exclusive",
                                       "memory_quota_free_bytes",
                                       "from",
                                       "to",
                                       "tenants",
                                       "role",
                                       "max_gpus",
                                       "max_memory_bytes",
                                       "token",
                                       "via",
                                       "version",
                                       "host",
                                       "gpus",
                                       "driver_version",
                                       "leases_active",
                                       "schema_version",
                                       "uptime_seconds",
                                       "placement",
                                       "oversubscription",
                                       "run_dir",
                                       "state_dir",
                                       "gpu_instance_id",
                                       "compute_instance_id",
                                       "start",
                                       "pid",
                                       "grant_ms",
                                       "wait_us",
                                       "lease_seconds",
                                       "memory_quota_gib_seconds",
                                       "memory_used_gib_seconds",
                                       "memory_peak_bytes",
                                       "error",
                                       "code",
                                       "message",
                                       NULL};
    json_t *o = json_object();
    for (size_t i = 0; keys[i]; i++)
        json_object_set(o, keys[i], v);
    return o;
}

/* Hostile but finite values in every key, nested one level too: refused or read, never a crash. */
static void test_hostile_values(void **state)
{
    (void)state;
    json_t *values[] = {json_null(),
                        json_false(),
                        json_integer(-1),
                        json_integer(0),
                        json_integer(INT64_MAX),
                        json_integer(INT64_MIN),
                        json_string(""),
                        json_string("active"),
                        json_string("1970-01-01T00:00:00.999Z"),
                        json_string("not a time"),
                        json_array(),
                        json_pack("[i,s,n,{}]", -5, "x"),
                        json_object()};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        json_t *o = every_key(values[i]);
        feed_all(o);
        /* the same object as a lease (with what makes it one), nested values included */
        json_t *lease = every_key(values[i]);
        json_object_set_new(lease, "id", json_string("l-hostile"));
        json_object_set_new(lease, "state", json_string("active"));
        json_object_set_new(lease, "mode", json_string("mig"));
        json_object_set(lease, "gpu", o);
        json_object_set(lease, "mig", o);
        json_object_set(lease, "usage", o);
        json_object_set(lease, "env", o);
        json_t *arr = json_pack("[O,O]", o, values[i]);
        json_object_set(lease, "processes", arr);
        json_object_set(lease, "recent_turns", arr);
        json_object_set(lease, "owner_pids", arr);
        json_object_set(lease, "leases", arr);
        json_object_set(lease, "tenants", arr);
        feed_all(lease);
        struct gpx_lease *l = malloc(sizeof *l);
        gpx_error err = {0};
        assert_int_equal(gpx_view_lease_read(lease, l, &err), 0);
        assert_string_equal(l->rec.id, "l-hostile");
        json_t *re = gpx_view_lease(l, GPX_VIEW_TURNS); /* what was read can be written */
        assert_non_null(re);
        json_decref(re);
        free(l);
        /* lists of it */
        json_t *list = json_pack("[O,O,O]", lease, o, values[i]);
        feed_all(list);
        json_decref(list);
        json_decref(arr);
        json_decref(lease);
        json_decref(o);
        json_decref(values[i]);
    }
    /* long strings are cut to their fields, never past them */
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    json_t *s = json_string(big);
    json_t *o = every_key(s);
    json_object_set_new(o, "state", json_string("active"));
    json_object_set_new(o, "mode", json_string("vgpu"));
    json_t *labels = json_object();
    for (int i = 0; i < 200; i++) {
        char k[16];
        snprintf(k, sizeof k, "key%03d", i);
        json_object_set(labels, k, s);
    }
    json_object_set_new(o, "labels", labels);
    feed_all(o);
    struct gpx_lease *l = malloc(sizeof *l);
    gpx_error err = {0};
    assert_int_equal(gpx_view_lease_read(o, l, &err), 0);
    assert_int_equal(strlen(l->rec.id), sizeof l->rec.id - 1);
    assert_true(strlen(l->rec.labels) < sizeof l->rec.labels);
    json_t *re = gpx_view_lease(l, 0);
    assert_non_null(re);
    assert_true(json_is_object(json_object_get(re, "labels")));
    json_decref(re);
    free(l);
    json_decref(o);
    json_decref(s);
}

/*
 * Numbers a hostile (or broken) server may send that the decoders convert
 * without a range check: times past year 2262 (int64 nanoseconds overflow in
 * get_ns) and reals out of range of the integer they are cast to.
 */
static void test_hostile_numbers(void **state)
{
    (void)state;
    gpx_error err = {0};
    struct gpx_lease *l = malloc(sizeof *l);
    assert_non_null(l);
    {
        /* Was a bug (fixed): src/engine/views.c get_ns() (used by gpx_view_lease_read for
         * "released" and "created", gpx_view_usage_read for "from"/"to") computes
         * (int64_t)timegm(&tm) * 1000000000LL and adds strtol(fraction) * 1000000LL with no
         * range check: "released": "9999-12-31T23:59:59.000Z" (any time after
         * 2262-04-11T23:47:16Z), or a fraction such as ".99999999999999999999Z", is a
         * signed-integer overflow (undefined behaviour; under -fsanitize=undefined with
         * -fno-sanitize-recover the client aborts). Decoders must never crash. */
        json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "id", "l-1", "state", "released", "mode", "vgpu",
                              "released", "9999-12-31T23:59:59.000Z");
        assert_int_equal(gpx_view_lease_read(j, l, &err), 0);
        json_decref(j);
        j = json_pack("{s:s,s:s,s:s,s:s}", "id", "l-1", "state", "released", "mode", "vgpu",
                      "released", "2024-05-01T12:00:00.99999999999999999999Z");
        assert_int_equal(gpx_view_lease_read(j, l, &err), 0);
        json_decref(j);
        j = json_pack("{s:s,s:s,s:[],s:[]}", "from", "9999-12-31T23:59:59Z", "to",
                      "9999-12-31T23:59:59Z", "tenants", "leases");
        struct gpx_usage u;
        assert_int_equal(gpx_view_usage_read(j, &u, &err), 0);
        gpx_usage_free(&u);
        json_decref(j);
    }
    {
        /* Was a bug (fixed): src/engine/views.c casts reals to unsigned integers with no range
         * check: gpx_view_lease_read: (uint64_t)(get_real(o, "gpu_seconds") * 1e9 + 0.5), the same
         * for "wait_seconds" and "wait_p99_ms"; gpx_view_gpus_read: opt_read()'s
         * (unsigned)json_number_value(x) ("utilization_gpu", "temperature_c", clocks...) and
         * (unsigned)(json_number_value(p) * 1000.0 + 0.5) for "power_w"/"power_limit_w".
         * A negative value ("gpu_seconds": -1, "temperature_c": -1) or a huge one (1e300) is
         * a float-cast-overflow: undefined behaviour (flagged by clang's
         * -fsanitize=float-cast-overflow, part of its -fsanitize=undefined). */
        json_t *j =
            json_pack("{s:s,s:s,s:s,s:f,s:f,s:f}", "id", "l-1", "state", "active", "mode", "vgpu",
                      "gpu_seconds", -1.0, "wait_seconds", 1e300, "wait_p99_ms", -1e300);
        assert_int_equal(gpx_view_lease_read(j, l, &err), 0);
        json_decref(j);
        j = json_pack("[{s:i,s:f,s:i,s:f}]", "index", 0, "utilization_gpu", 1e300, "temperature_c",
                      -1, "power_w", -5.0);
        struct gpx_node n;
        assert_int_equal(gpx_view_gpus_read(j, &n, &err), 0);
        gpx_node_free(&n);
        json_decref(j);
    }
    free(l);
}

static int near(double a, double b)
{
    return a - b < 1e-9 && b - a < 1e-9;
}

/* The one utilization rule (engine.h gpx_lease_util) and its keys' round trip. */
static void test_lease_util(void **state)
{
    (void)state;
    struct gpx_lease *x = calloc(1, sizeof *x), *back = malloc(sizeof *back);
    assert_non_null(x);
    assert_non_null(back);
    x->rec.mode = GPX_MODE_TIMESLICE;
    x->util_source = GPX_SRC_ARBITER;
    x->gpu_ns = 3000000000ULL;
    /* granted 0.75 s of GPU time over a 1 s interval */
    assert_true(near(gpx_lease_util(x, 2250000000ULL, 1.0), 0.75));
    assert_true(gpx_lease_util(x, 0, 1.0) == 1.0);              /* credited turns never pass 1 */
    assert_true(gpx_lease_util(x, 4000000000ULL, 4.0) == 0.75); /* a new region: from 0 */
    assert_true(gpx_lease_util(x, 0, 0) < 0);                   /* no interval: not known */
    x->util_source = GPX_SRC_NVML; /* the driver's figure needs no interval */
    x->util_pct = 42;
    assert_true(near(gpx_lease_util(x, 0, 0), 0.42));
    x->util_source = GPX_SRC_NONE; /* mig without a per-instance figure */
    assert_true(gpx_lease_util(x, 0, 1.0) < 0);
    assert_true(gpx_lease_arbitrated(&x->rec));
    x->rec.mode = GPX_MODE_VGPU;
    assert_false(gpx_lease_arbitrated(&x->rec));
    x->rec.cap = 50;
    assert_true(gpx_lease_arbitrated(&x->rec));
    /* sources and the held memory travel */
    static const int srcs[] = {GPX_SRC_NONE, GPX_SRC_REGION, GPX_SRC_ARBITER, GPX_SRC_NVML};
    for (size_t k = 0; k < 4; k++) {
        fill_lease(x, GPX_MODE_MIG, GPX_LS_ACTIVE);
        x->used_source = srcs[k] == GPX_SRC_ARBITER ? GPX_SRC_NVML : srcs[k];
        x->util_source = srcs[k] == GPX_SRC_REGION ? GPX_SRC_NONE : srcs[k];
        x->util_pct = srcs[k] == GPX_SRC_NVML ? 17 : 0;
        lease_round_trip(x, back);
        assert_int_equal(back->used_source, x->used_source);
        assert_int_equal(back->util_source, x->util_source);
        assert_int_equal(back->util_pct, x->util_pct);
        assert_int_equal(gpx_lease_held_memory(&back->rec), gpx_lease_held_memory(&x->rec));
    }
    assert_int_equal(gpx_figure_source_parse("nvml"), GPX_SRC_NVML);
    assert_int_equal(gpx_figure_source_parse("bogus"), GPX_SRC_NONE);
    assert_int_equal(gpx_figure_source_parse(NULL), GPX_SRC_NONE);
    free(x);
    free(back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lease_util),     cmocka_unit_test(test_lease),
        cmocka_unit_test(test_gpus),           cmocka_unit_test(test_usage),
        cmocka_unit_test(test_tenants),        cmocka_unit_test(test_callers),
        cmocka_unit_test(test_health),         cmocka_unit_test(test_errors),
        cmocka_unit_test(test_time),           cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_hostile_values), cmocka_unit_test(test_hostile_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
