/*
 * gpuplex lease create|ls|rm: leases through the one client interface, so
 * the same flags give the same lease, the same JSON and the same exit status
 * with gpuplexd or without it (the engine in-process). Flags are read once,
 * into the engine's gpx_lease_spec, and checked by its one validation, with
 * messages that name the flags.
 */
#include "cdi/cdi.h"
#include "cli/cli.h"
#include "core/size.h"
#include "engine/views.h"
#include "gpuplex/client.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* `gpuplex lease create` and `gpuplex run --mode`: one flag, one spec field. */
int gpx_cli_spec_flag(struct gpx_lease_spec *s, int c, const char *arg, gpx_error *err)
{
    static const struct {
        int c;
        enum gpx_field f;
    } map[] = {{'g', GPX_F_GPU}, {'m', GPX_F_MEMORY},      {'M', GPX_F_MODE},  {'w', GPX_F_WEIGHT},
               {'c', GPX_F_CAP}, {'P', GPX_F_MIG_PROFILE}, {'L', GPX_F_LABELS}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].c == c)
            return gpx_lease_spec_set(s, map[i].f, arg, GPX_NAMING_CLI, err) < 0 ? -1 : 1;
    return 0;
}

static void print_created(const struct gpx_lease *x)
{
    const struct gpx_lease_rec *l = &x->rec;
    printf("%s\n", l->id);
    fprintf(stderr, "lease %s: %s on GPU %u (%s) for tenant %s", l->id,
            gpx_lease_mode_name((enum gpx_lease_mode)l->mode), l->gpu_index, l->gpu_uuid,
            l->tenant);
    if (l->memory_quota) {
        char q[32];
        gpx_size_format(l->memory_quota, q, sizeof q);
        fprintf(stderr, ", memory %s", q);
    }
    if (l->mode == GPX_MODE_VGPU || l->mode == GPX_MODE_TIMESLICE)
        fprintf(stderr, ", weight %u", l->weight ? l->weight : 1);
    if (l->cap)
        fprintf(stderr, ", cap %u%%", l->cap);
    if (l->mode == GPX_MODE_MIG)
        fprintf(stderr, ", MIG %s (GPU instance %d, %s)", l->mig_profile, l->mig_gi, l->mig_uuid);
    fprintf(stderr, "\nrun a workload with: gpuplex run --lease %s -- CMD\nor set:\n", l->id);
    json_t *o = gpx_view_lease(x, 0);
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(o, "env"), k, v)
    {
        fprintf(stderr, "  %s=%s\n", k, json_string_value(v));
    }
    json_decref(o);
}

static int lease_create(int argc, char **argv)
{
    static const struct option opts[] = {GPX_CLI_LEASE_OPTIONS,
                                         {"json", no_argument, NULL, 'j'},
                                         {"for-container", no_argument, NULL, 'F'},
                                         {NULL, 0, NULL, 0}};
    struct gpx_lease_spec spec;
    gpx_lease_spec_init(&spec);
    const char *server = NULL;
    int json = 0, c, rc = 0;
    gpx_error err = {0};
    optind = 1;
    opterr = 0;
    while (rc == 0 &&
           (c = getopt_long(argc, argv, GPX_CLI_LEASE_OPTSTRING "jF", opts, NULL)) != -1) {
        int r = gpx_cli_spec_flag(&spec, c, optarg, &err);
        if (r < 0)
            rc = gpx_cli_usage_error(&gpx_cmd_lease, "%s", err.msg);
        else if (r > 0)
            continue;
        else if (c == 's')
            server = optarg;
        else if (c == 'j')
            json = 1;
        else if (c == 'F')
            spec.for_container = 1; /* the engine adds its label (reserved to gpuplex) */
        else if (c == 'h')
            rc = -gpx_cli_print_usage(&gpx_cmd_lease) - 1;
        else
            rc = gpx_cli_usage_error(&gpx_cmd_lease, "unknown or incomplete option '%s'",
                                     argv[optind - 1]);
    }
    if (rc == 0 && optind < argc)
        rc = gpx_cli_usage_error(&gpx_cmd_lease, "unexpected argument '%s'", argv[optind]);
    if (rc == 0 && gpx_lease_spec_check(&spec, 1, GPX_NAMING_CLI, &err) < 0)
        rc = gpx_cli_usage_error(&gpx_cmd_lease, "%s", err.msg);
    struct gpx_conn *cn = NULL;
    struct gpx_lease *l = NULL;
    if (rc == 0)
        rc = gpx_cli_connect(server, &cn);
    if (rc == 0) {
        l = malloc(sizeof *l);
        if (!l)
            rc = gpx_cli_fail(&(gpx_error){.code = GPX_E_NOMEM, .msg = "out of memory"});
        else if (gpx_lease_create(cn, &spec, l, &err) < 0)
            rc = gpx_cli_fail(&err);
    }
    gpx_conn_close(cn);
    gpx_lease_spec_clear(&spec);
    if (rc == 0) {
        if (json) {
            json_t *o = gpx_view_lease(l, 0);
            gpx_view_print(o);
            json_decref(o);
        } else {
            print_created(l);
        }
    }
    free(l);
    return rc < 0 ? 0 : rc;
}

static int lease_ls(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"turns", no_argument, NULL, 't'},
                                         {"all", no_argument, NULL, 'a'},
                                         {"state", required_argument, NULL, 'S'},
                                         {"tenant", required_argument, NULL, 'T'},
                                         {"server", required_argument, NULL, 's'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int json = 0, quiet = 0, c;
    const char *server = NULL;
    struct gpx_lease_query q = {.state = -1};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "jtaS:T:s:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = 1;
            break;
        case 'q':
            quiet = 1;
            break;
        case 't':
            q.turns = 1;
            break;
        case 'a':
            q.state = GPX_LS_ALL;
            break;
        case 'S':
            q.state = gpx_lease_state_parse(optarg);
            if (q.state != GPX_LS_ACTIVE && q.state != GPX_LS_RELEASED && q.state != GPX_LS_ALL)
                return gpx_cli_usage_error(
                    &gpx_cmd_lease, "--state must be active, released or all, not '%s'", optarg);
            break;
        case 'T':
            q.tenant = optarg;
            break;
        case 's':
            server = optarg;
            break;
        case 'h':
            return gpx_cli_print_usage(&gpx_cmd_lease);
        default:
            return gpx_cli_usage_error(&gpx_cmd_lease, "unknown or incomplete option '%s'",
                                       argv[optind - 1]);
        }
    }
    if (optind < argc)
        return gpx_cli_usage_error(&gpx_cmd_lease, "unexpected argument '%s'", argv[optind]);
    struct gpx_conn *cn = NULL;
    int rc = gpx_cli_connect(server, &cn);
    if (rc)
        return rc;
    gpx_error err = {0};
    struct gpx_lease *l = NULL;
    unsigned n = 0;
    if (gpx_lease_list(cn, &q, &l, &n, &err) < 0)
        rc = gpx_cli_fail(&err);
    gpx_conn_close(cn);
    if (rc)
        return rc;
    for (unsigned i = 0; i < n; i++)
        if (l[i].region_error[0]) {
            gpx_error e = {.code = GPX_E_STATE};
            snprintf(e.msg, sizeof e.msg, "lease %s: %.400s", l[i].rec.id, l[i].region_error);
            rc = gpx_cli_fail(&e);
        }
    if (quiet) {
        /* ids alone, one a line: for scripts and shell completion */
        for (unsigned i = 0; i < n; i++)
            printf("%s\n", l[i].rec.id);
    } else if (json) {
        json_t *a = gpx_view_leases(l, n, q.turns ? GPX_VIEW_TURNS : 0);
        gpx_view_print(a);
        json_decref(a);
    } else {
        int states = q.state != -1 && q.state != GPX_LS_ACTIVE; /* released ones too: say so */
        printf("%-16s %-9s %3s %10s %10s %10s %7s %5s %-*s%s\n", "ID", "MODE", "GPU", "QUOTA",
               "USED", "PEAK", "REFUSED", "PROCS", states ? 12 : 0, "TENANT",
               states ? " STATE" : "");
        for (unsigned i = 0; i < n; i++) {
            const struct gpx_lease *x = &l[i];
            char qt[32] = "-", u[32], p[32];
            /* a mig lease holds its instance's memory (as tenant limits and /metrics count) */
            uint64_t quota = x->rec.mode == GPX_MODE_MIG ? x->rec.gpu_memory : x->rec.memory_quota;
            if (quota)
                gpx_size_format(quota, qt, sizeof qt);
            gpx_size_format(x->used_bytes, u, sizeof u);
            gpx_size_format(x->peak_bytes, p, sizeof p);
            printf("%-16s %-9s %3u %10s %10s %10s %7llu %5u %-*s%s%s\n", x->rec.id,
                   gpx_lease_mode_name((enum gpx_lease_mode)x->rec.mode), x->rec.gpu_index, qt, u,
                   p, (unsigned long long)x->refused, x->nprocs, states ? 12 : 0, x->rec.tenant,
                   states ? " " : "", states ? gpx_lease_state_name(x->rec.state) : "");
        }
    }
    free(l);
    return rc;
}

static int lease_rm(int argc, char **argv)
{
    static const struct option opts[] = {{"server", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *server = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
        if (c == 's')
            server = optarg;
        else if (c == 'h')
            return gpx_cli_print_usage(&gpx_cmd_lease);
        else
            return gpx_cli_usage_error(&gpx_cmd_lease, "unknown option '%s'", argv[optind - 1]);
    }
    if (optind >= argc)
        return gpx_cli_usage_error(&gpx_cmd_lease, "rm needs a lease ID");
    int status = 0, first = optind;
    for (int i = first; i < argc; i++)
        if (!gpx_lease_id_valid(argv[i])) {
            gpx_error err = {0};
            gpx_error_set(&err, GPX_E_INVALID, "invalid lease id '%s'", argv[i]);
            status = gpx_cli_fail(&err);
        }
    struct gpx_conn *cn = NULL;
    int rc = gpx_cli_connect(server, &cn);
    if (rc)
        return rc;
    for (int i = first; i < argc; i++) {
        gpx_error err = {0};
        if (gpx_lease_id_valid(argv[i]) && gpx_lease_release(cn, argv[i], NULL, &err) < 0)
            status = gpx_cli_fail(&err);
    }
    gpx_conn_close(cn);
    return status;
}

static int run(int argc, char **argv)
{
    if (argc < 2)
        return gpx_cli_usage_error(&gpx_cmd_lease, "missing subcommand (create, ls or rm)");
    const char *sub = argv[1];
    if (strcmp(sub, "create") == 0)
        return lease_create(argc - 1, argv + 1);
    if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0)
        return lease_ls(argc - 1, argv + 1);
    if (strcmp(sub, "rm") == 0 || strcmp(sub, "remove") == 0)
        return lease_rm(argc - 1, argv + 1);
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
        return gpx_cli_print_usage(&gpx_cmd_lease);
    return gpx_cli_usage_error(&gpx_cmd_lease, "unknown subcommand '%s' (create, ls or rm)", sub);
}

const struct gpx_cmd gpx_cmd_lease = {
    "lease",
    run,
    "create, list and remove leases (a GPU, or a slice of one, for a workload)",
    "usage: gpuplex lease create [--gpu INDEX|UUID] [--memory SIZE]\n"
    "                            [--mode vgpu|timeslice|exclusive|mig] [--weight W]\n"
    "                            [--cap PCT] [--mig-profile P] [--label KEY=VALUE]...\n"
    "                            [--for-container] [--server S] [--json]\n"
    "       gpuplex lease ls [--state active|released|all | --all] [--tenant NAME]\n"
    "                        [--server S] [--json [--turns] | --quiet]\n"
    "       gpuplex lease rm ID... [--server S]\n"
    "\n"
    "A lease gives a workload a GPU or a slice of one. The same engine grants it\n"
    "with gpuplexd or without (see 'gpuplex status' for which, and docs/cli.md for\n"
    "the rule): it places, persists (SQLite, in the state directory), meters and\n"
    "releases leases for your tenant, and writes the lease's region in the run\n"
    "directory, where the interposer enforces it.\n"
    "\n"
    "create: prints the lease id on stdout and, on stderr, the environment a\n"
    "workload needs (or run it with 'gpuplex run --lease ID -- CMD').\n"
    "  --gpu INDEX|UUID  the GPU (see 'gpuplex ls'); default: where placement puts\n"
    "                    it (binpack or spread, gpuplexd.conf)\n"
    "  --memory SIZE     device-memory quota with a unit: 4G, 4096M, 512MiB, 1.5GiB\n"
    "                    (a bare number is refused); the quotas of a GPU's vgpu and\n"
    "                    timeslice leases together fit its memory x oversubscription\n"
    "  --mode MODE       vgpu: a fixed slice, memory quota (required) and optional\n"
    "                    compute cap, enforced by the interposer (the default with\n"
    "                    --memory); timeslice: weighted time-sharing, optional quota\n"
    "                    (the default with --weight or --cap alone); exclusive: the\n"
    "                    whole GPU, only on a GPU with no other lease (the default);\n"
    "                    mig: a MIG device of --mig-profile (docs/mig.md)\n"
    "  --weight W        share of GPU time, 1..10000 (default 1), vgpu and timeslice\n"
    "  --cap PCT         hard compute cap in percent, 1..100 (default: none), for\n"
    "                    vgpu and timeslice leases; holds even on an idle GPU\n"
    "  --mig-profile P   a MIG profile such as 3g.40gb (implies --mode mig)\n"
    "  --label KEY=VALUE a label, repeatable; keys starting with 'gpuplex.' are\n"
    "                    reserved to gpuplexd (refused, exit 2)\n"
    "  --for-container   made for containers (label gpuplex.container=1): released\n"
    "                    when the last container given its CDI device stops\n"
    "  --json            print the lease object (docs/api.md: id, tenant, state, mode,\n"
    "                    gpu {index, uuid}, gpu_uuid, memory_bytes, weight, cap, env\n"
    "                    {CUDA_VISIBLE_DEVICES, GPUPLEX_LEASE, GPUPLEX_RUN_DIR,\n"
    "                    LD_PRELOAD}, usage, ...)\n"
    "\n"
    "ls: your active leases (an admin's: everybody's) with mode, GPU, quota (a mig\n"
    "lease's: its instance's memory), memory used now (exclusive and mig: the GPU's\n"
    "or instance's, from NVML) and at peak, allocations refused for the quota, live\n"
    "processes and tenant. --json prints an array of\n"
    "lease objects, each with used_bytes, peak_bytes, refused, processes [{pid,\n"
    "used_bytes}], gpu_seconds, wait_seconds, turns, drains, wait_p99_ms; with\n"
    "--turns also recent_turns [{grant_ms, wait_us}] (the last 256 turns). --quiet\n"
    "(-q) prints the lease ids alone, one a line.\n"
    "\n"
    "rm: releases leases. Processes still running keep their limits until they exit.\n"
    "\n"
    "  --server S  gpuplexd's socket or http://HOST:PORT (default: GPUPLEX_SERVER;\n"
    "              'none': the engine in-process, refused while a daemon owns the\n"
    "              state directory)\n"
    "\n"
    "exit status: 0 ok; 2 bad usage, bad size/mode/weight/cap, invalid lease id;\n"
    "5 no such GPU or lease; 6 the GPU is held exclusively, or exclusive asked of a\n"
    "GPU with leases, or the state is owned by gpuplexd and GPUPLEX_SERVER=none;\n"
    "7 the lease does not fit; 9 gpuplexd unreachable; 10 not allowed; 3 no driver.\n",
};
