/*
 * gpuplex timeslice: the per-GPU arbiters of time-sliced leases (docs/timeslice.md).
 * `ls` shows each GPU's quantum, holder, waiters and per-lease figures; `set`
 * changes a GPU's quantum (and grace), effective from the next turn.
 */
#include "cli/cli.h"
#include "engine/views.h"
#include "gpuplex/client.h"
#include "nvml/inventory.h"
#include "shm/arbiter.h"
#include "shm/lease.h"

#include <getopt.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * The run directory of the engine commands use (gpuplexd's, or the in-process
 * engine's), by the same rule as every command: the arbiters live there.
 */
static char run_dir[4096];

static int find_run_dir(void)
{
    struct gpx_conn *cn = NULL;
    int rc = gpx_cli_connect(NULL, &cn);
    if (rc)
        return rc;
    struct gpx_health h;
    gpx_error err = {0};
    if (gpx_health(cn, &h, &err) < 0)
        rc = gpx_cli_fail(&err);
    else
        snprintf(run_dir, sizeof run_dir, "%s", h.run_dir[0] ? h.run_dir : gpx_run_dir());
    gpx_conn_close(cn);
    return rc;
}

/* Opens GPU `uuid`'s arbiter if one exists (1), 0 if none, -1 on error. */
static int open_arb(const char *uuid, uint64_t quantum_ns, int create, struct gpx_arb **out,
                    gpx_error *err)
{
    char path[4096];
    if (gpx_arb_path(run_dir, uuid, path, sizeof path, err) < 0)
        return -1;
    if (!create && access(path, F_OK) != 0)
        return 0;
    return gpx_arb_open(path, quantum_ns, out, err) < 0 ? -1 : 1;
}

/*
 * The caller's leases by arbiter key: the key is made from the region's
 * nonce, which only the lease's tenant (and root) can read, so this maps
 * exactly the leases the caller may know.
 */
struct key_map {
    unsigned n;
    char (*key)[GPX_ARB_ID_MAX];
    char (*id)[GPX_LEASE_ID_MAX];
};

static void key_map_load(struct key_map *m)
{
    memset(m, 0, sizeof *m);
    struct gpx_conn *cn = NULL;
    if (gpx_cli_connect(NULL, &cn))
        return;
    struct gpx_lease *ls = NULL;
    unsigned n = 0;
    struct gpx_lease_query q = {.state = -1};
    gpx_error err = {0};
    if (gpx_lease_list(cn, &q, &ls, &n, &err) == 0 && n) {
        m->key = calloc(n, sizeof *m->key);
        m->id = calloc(n, sizeof *m->id);
        for (unsigned i = 0; m->key && m->id && i < n; i++) {
            struct gpx_lease_region r;
            if (gpx_lease_region_open(run_dir, ls[i].rec.id, &r, NULL) < 0)
                continue;
            gpx_arb_key(r.limits->nonce, m->key[m->n]);
            snprintf(m->id[m->n], sizeof m->id[m->n], "%s", ls[i].rec.id);
            m->n++;
            gpx_lease_region_close(&r);
        }
    }
    free(ls);
    gpx_conn_close(cn);
}

static const char *key_lease(const char *key, void *arg)
{
    const struct key_map *m = arg;
    for (unsigned i = 0; i < m->n; i++)
        if (strcmp(m->key[i], key) == 0)
            return m->id[i];
    return NULL;
}

static json_t *arb_json(const struct gpx_gpu_info *g, struct gpx_arb *a, struct key_map *m)
{
    return gpx_view_arbiter(g->index, g->uuid, a, key_lease, m);
}

static int ts_ls(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return gpx_cli_print_usage(&gpx_cmd_timeslice);
        else
            return gpx_cli_usage_error(&gpx_cmd_timeslice, "unknown argument '%s'", argv[i]);
    }
    gpx_error err = {0};
    struct gpx_inventory inv;
    if (gpx_inventory_load(&inv, &err) < 0)
        return gpx_cli_fail(&err);
    json_t *arr = json_array();
    int status = 0;
    struct key_map keys;
    key_map_load(&keys);
    for (unsigned i = 0; i < inv.count; i++) {
        struct gpx_arb *a = NULL;
        int r = open_arb(inv.gpus[i].uuid, 0, 0, &a, &err);
        if (r < 0) {
            status = gpx_cli_fail(&err);
            continue;
        }
        if (r == 0)
            continue;
        json_array_append_new(arr, arb_json(&inv.gpus[i], a, &keys));
        gpx_arb_close(a);
    }
    gpx_inventory_free(&inv);
    free(keys.key);
    free(keys.id);
    if (json) {
        gpx_view_print(arr);
    } else if (json_array_size(arr) == 0) {
        printf("no time-sliced GPU (an arbiter appears when a timeslice or capped vgpu lease "
               "runs)\n");
    } else {
        size_t gi;
        json_t *g;
        json_array_foreach(arr, gi, g)
        {
            json_t *hl = json_object_get(g, "holder_lease");
            printf("GPU %lld %s: quantum %.1f ms, holder %s, %lld waiting\n",
                   (long long)json_integer_value(json_object_get(g, "gpu_index")),
                   json_string_value(json_object_get(g, "gpu_uuid")),
                   json_real_value(json_object_get(g, "quantum_ms")),
                   json_is_string(hl)                               ? json_string_value(hl)
                   : json_is_null(json_object_get(g, "holder_pid")) ? "none"
                                                                    : "(another tenant's lease)",
                   (long long)json_integer_value(json_object_get(g, "waiting")));
            printf("  %-16s %6s %4s %5s %10s %10s %7s %7s %5s\n", "LEASE", "WEIGHT", "CAP", "PROCS",
                   "GPU-S", "WAIT-S", "TURNS", "DRAINS", "HANGS");
            size_t li;
            json_t *l;
            json_array_foreach(json_object_get(g, "leases"), li, l)
            {
                json_t *cap = json_object_get(l, "cap");
                char capbuf[16] = "-";
                if (json_is_integer(cap))
                    snprintf(capbuf, sizeof capbuf, "%lld%%", (long long)json_integer_value(cap));
                json_t *id = json_object_get(l, "id");
                printf("  %-16s %6lld %4s %5lld %10.3f %10.3f %7lld %7lld %5lld\n",
                       json_is_string(id) ? json_string_value(id) : "(another's)",
                       (long long)json_integer_value(json_object_get(l, "weight")), capbuf,
                       (long long)json_integer_value(json_object_get(l, "processes")),
                       json_real_value(json_object_get(l, "gpu_seconds")),
                       json_real_value(json_object_get(l, "wait_seconds")),
                       (long long)json_integer_value(json_object_get(l, "turns")),
                       (long long)json_integer_value(json_object_get(l, "drains")),
                       (long long)json_integer_value(json_object_get(l, "hangs")));
            }
        }
    }
    json_decref(arr);
    return status;
}

static int parse_ms(const char *s, uint64_t lo, uint64_t hi, uint64_t *ns)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || v < (double)lo || v > (double)hi)
        return -1;
    *ns = (uint64_t)(v * 1e6);
    return 0;
}

static int ts_set(int argc, char **argv)
{
    static const struct option opts[] = {{"gpu", required_argument, NULL, 'g'},
                                         {"quantum-ms", required_argument, NULL, 'q'},
                                         {"grace-ms", required_argument, NULL, 'G'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *gpu = NULL;
    uint64_t quantum = 0, grace = 0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "g:q:G:h", opts, NULL)) != -1) {
        switch (c) {
        case 'g':
            gpu = optarg;
            break;
        case 'q':
            if (parse_ms(optarg, 1, 1000, &quantum) < 0)
                return gpx_cli_usage_error(&gpx_cmd_timeslice,
                                           "--quantum-ms must be 1..1000, not '%s'", optarg);
            break;
        case 'G':
            if (parse_ms(optarg, 1, 60000, &grace) < 0)
                return gpx_cli_usage_error(&gpx_cmd_timeslice,
                                           "--grace-ms must be 1..60000, not '%s'", optarg);
            break;
        case 'h':
            return gpx_cli_print_usage(&gpx_cmd_timeslice);
        default:
            return gpx_cli_usage_error(&gpx_cmd_timeslice, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!gpu || (!quantum && !grace))
        return gpx_cli_usage_error(&gpx_cmd_timeslice,
                                   "'timeslice set' needs --gpu and --quantum-ms or --grace-ms");
    gpx_error err = {0};
    struct gpx_inventory inv;
    if (gpx_inventory_load(&inv, &err) < 0)
        return gpx_cli_fail(&err);
    int rc;
    const struct gpx_gpu_info *g = NULL;
    for (unsigned i = 0; i < inv.count && !g; i++) {
        char idx[16];
        snprintf(idx, sizeof idx, "%u", inv.gpus[i].index);
        if (!strcmp(gpu, idx) || !strcmp(gpu, inv.gpus[i].uuid))
            g = &inv.gpus[i];
    }
    if (!g) {
        gpx_inventory_free(&inv);
        gpx_error_set(&err, GPX_E_NOT_FOUND, "no GPU '%s' (see 'gpuplex ls')", gpu);
        return gpx_cli_fail(&err);
    }
    struct gpx_arb *a = NULL;
    rc = open_arb(g->uuid, quantum, 1, &a, &err);
    if (rc > 0) {
        if (grace)
            a->grace_ns = grace;
        printf("GPU %u: quantum %.1f ms, grace %.1f ms\n", g->index, (double)a->quantum_ns / 1e6,
               (double)a->grace_ns / 1e6);
        gpx_arb_close(a);
    }
    gpx_inventory_free(&inv);
    return rc < 0 ? gpx_cli_fail(&err) : 0;
}

static int run(int argc, char **argv)
{
    int wants_help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    for (int i = 2; i < argc; i++)
        wants_help |= !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h");
    if (!wants_help) {
        int rc = find_run_dir();
        if (rc)
            return rc;
    }
    if (argc < 2 || !strcmp(argv[1], "ls"))
        return ts_ls(argc < 2 ? 1 : argc - 1, argv + (argc < 2 ? 0 : 1));
    if (!strcmp(argv[1], "set"))
        return ts_set(argc - 1, argv + 1);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return gpx_cli_print_usage(&gpx_cmd_timeslice);
    return gpx_cli_usage_error(&gpx_cmd_timeslice, "unknown subcommand '%s' (ls, set)", argv[1]);
}

const struct gpx_cmd gpx_cmd_timeslice = {
    "timeslice",
    run,
    "show or tune the per-GPU time-slice arbiters",
    "usage: gpuplex timeslice [ls] [--json]\n"
    "       gpuplex timeslice set --gpu INDEX|UUID [--quantum-ms Q] [--grace-ms G]\n"
    "\n"
    "Time-sliced leases (timeslice, and vgpu with --cap) share a GPU through its\n"
    "arbiter (docs/timeslice.md). 'ls' shows each arbiter: quantum, the lease holding\n"
    "the GPU, how many processes wait, and per lease its weight, cap, processes, GPU\n"
    "time granted, time waited, turns, drains and hangs (holders skipped for not\n"
    "draining in time). --json prints [{gpu, gpu_uuid, quantum_ms, grace_ms,\n"
    "holder_pid, holder_lease, waiting, leases: [{id, weight, cap, processes,\n"
    "gpu_seconds, wait_seconds, turns, drains, hangs}]}].\n"
    "\n"
    "'set' changes a GPU's quantum (1..1000 ms; default 10) and the grace a holder\n"
    "has past its quantum to drain (default 200 ms; kernels longer than it look hung); they apply "
    "from the next turn.\n"
    "\n"
    "The arbiters live in the run directory of the lease engine the command uses:\n"
    "gpuplexd's (its --run-dir) when a daemon owns the state, else the in-process\n"
    "engine's ($GPUPLEX_RUN_DIR, else /run/gpuplex when writable, else\n"
    "/tmp/gpuplex-UID); 'gpuplex status --json' shows it as daemon.run_dir.\n",
};
