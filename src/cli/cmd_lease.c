/*
 * gpuplex lease create|ls|rm: leases before the daemon. Creation writes the
 * lease region directly (src/core/lease_local.c); once gpuplexd exists it
 * takes creation over and these become its clients.
 */
#include "cli/cli.h"
#include "core/lease_local.h"
#include "core/size.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v < lo || v > hi)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static void print_json(json_t *o)
{
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s)
        puts(s);
    free(s);
    json_decref(o);
}

/* The environment a workload of lease `l` needs (gpuplex run sets exactly this). */
static json_t *env_json(const struct gpx_lease_limits *l)
{
    json_t *env = json_object();
    json_object_set_new(env, "CUDA_VISIBLE_DEVICES", json_string(l->gpu_uuid));
    json_object_set_new(env, "GPUPLEX_LEASE", json_string(l->id));
    json_object_set_new(env, "GPUPLEX_RUN_DIR", json_string(gpx_run_dir()));
    if (l->mode == GPX_MODE_VGPU || l->mode == GPX_MODE_TIMESLICE) {
        char pre[4096];
        if (gpx_cli_interposer_path(pre, sizeof pre, NULL) == 0)
            json_object_set_new(env, "LD_PRELOAD", json_string(pre));
    }
    return env;
}

static int lease_create(int argc, char **argv)
{
    static const struct option opts[] = {
        {"gpu", required_argument, NULL, 'g'},  {"memory", required_argument, NULL, 'm'},
        {"mode", required_argument, NULL, 'M'}, {"weight", required_argument, NULL, 'w'},
        {"cap", required_argument, NULL, 'c'},  {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    struct gpx_lease_request req = {.mode = -1};
    int json = 0, c, weight_given = 0, cap_given = 0;
    gpx_error err = {0};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "g:m:M:w:c:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'g':
            req.gpu = optarg;
            break;
        case 'm':
            if (gpx_size_parse(optarg, &req.memory, &err) < 0)
                return gpx_cli_usage_error(&gpx_cmd_lease, "--memory: %s", err.msg);
            if (req.memory == 0)
                return gpx_cli_usage_error(&gpx_cmd_lease, "--memory must be more than 0");
            break;
        case 'M':
            req.mode = gpx_lease_mode_parse(optarg);
            if (req.mode < 0 || req.mode == GPX_MODE_MIG)
                return gpx_cli_usage_error(
                    &gpx_cmd_lease, "unknown mode '%s' (vgpu, timeslice or exclusive)", optarg);
            break;
        case 'w':
            if (parse_uint(optarg, 1, 10000, &req.weight) < 0)
                return gpx_cli_usage_error(&gpx_cmd_lease,
                                           "--weight must be a whole number in 1..10000, not '%s'",
                                           optarg);
            weight_given = 1;
            break;
        case 'c':
            if (parse_uint(optarg, 1, 100, &req.cap) < 0)
                return gpx_cli_usage_error(
                    &gpx_cmd_lease, "--cap must be a percentage in 1..100, not '%s'", optarg);
            cap_given = 1;
            break;
        case 'j':
            json = 1;
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
    if (req.mode == GPX_MODE_VGPU && !req.memory)
        return gpx_cli_usage_error(&gpx_cmd_lease, "a vgpu lease needs --memory SIZE");
    if (req.mode == GPX_MODE_EXCLUSIVE && (weight_given || cap_given))
        return gpx_cli_usage_error(&gpx_cmd_lease,
                                   "--weight and --cap apply to vgpu and timeslice leases");

    struct gpx_nvml nv;
    if (gpx_nvml_open(&nv, &err) < 0)
        return gpx_cli_fail(&err);
    struct gpx_lease_limits l;
    int rc;
    if (req.gpu) {
        rc = gpx_lease_local_create(&nv, gpx_run_dir(), &req, &l, &err);
    } else {
        /* No --gpu: the first GPU where the lease fits (lower indexes fill first). */
        unsigned n = 0;
        rc = nv.device_count(&n) == NVML_SUCCESS && n > 0 ? -1 : -2;
        if (rc == -2)
            gpx_error_set(&err, GPX_E_NO_GPU, "no GPU on this node");
        for (unsigned i = 0; i < n; i++) {
            char idx[16];
            snprintf(idx, sizeof idx, "%u", i);
            req.gpu = idx;
            gpx_error e = {0};
            rc = gpx_lease_local_create(&nv, gpx_run_dir(), &req, &l, &e);
            req.gpu = NULL;
            if (rc == 0)
                break;
            if (e.code != GPX_E_NO_SPACE && e.code != GPX_E_BUSY) {
                err = e;
                break;
            }
            if (i == 0 || err.code == GPX_E_OK)
                err = e;
        }
        if (rc < 0 && (err.code == GPX_E_NO_SPACE || err.code == GPX_E_BUSY))
            gpx_error_wrap(&err, "no GPU has room for it, e.g.");
    }
    gpx_nvml_close(&nv);
    if (rc < 0)
        return gpx_cli_fail(&err);

    json_t *env = env_json(&l);
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(l.id));
        json_object_set_new(o, "mode", json_string(gpx_lease_mode_name(l.mode)));
        json_object_set_new(o, "gpu", json_integer(l.gpu_index));
        json_object_set_new(o, "gpu_uuid", json_string(l.gpu_uuid));
        json_object_set_new(o, "memory_bytes", json_integer((json_int_t)l.memory_quota));
        json_object_set_new(o, "weight", json_integer(l.weight));
        json_object_set_new(o, "cap", l.cap_percent ? json_integer(l.cap_percent) : json_null());
        json_object_set_new(o, "env", env);
        print_json(o);
        return 0;
    }
    char q[32];
    gpx_size_format(l.memory_quota, q, sizeof q);
    printf("%s\n", l.id);
    fprintf(stderr, "lease %s: %s on GPU %u (%s)", l.id, gpx_lease_mode_name(l.mode), l.gpu_index,
            l.gpu_uuid);
    if (l.memory_quota)
        fprintf(stderr, ", memory %s", q);
    if (l.mode != GPX_MODE_EXCLUSIVE)
        fprintf(stderr, ", weight %u", l.weight);
    if (l.cap_percent)
        fprintf(stderr, ", cap %u%%", l.cap_percent);
    fprintf(stderr, "\nrun a workload with: gpuplex run --lease %s -- CMD\nor set:\n", l.id);
    const char *key;
    json_t *val;
    json_object_foreach(env, key, val)
    {
        fprintf(stderr, "  %s=%s\n", key, json_string_value(val));
    }
    json_decref(env);
    return 0;
}

static json_t *info_json(const struct gpx_lease_info *in, int turns)
{
    const struct gpx_lease_limits *l = &in->limits;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(l->id));
    json_object_set_new(o, "mode", json_string(gpx_lease_mode_name(l->mode)));
    json_object_set_new(o, "gpu", json_integer(l->gpu_index));
    json_object_set_new(o, "gpu_uuid", json_string(l->gpu_uuid));
    json_object_set_new(o, "memory_bytes", json_integer((json_int_t)l->memory_quota));
    json_object_set_new(o, "used_bytes", json_integer((json_int_t)in->used));
    json_object_set_new(o, "peak_bytes", json_integer((json_int_t)in->peak));
    json_object_set_new(o, "refused", json_integer((json_int_t)in->refused));
    json_object_set_new(o, "gpu_seconds", json_real((double)in->gpu_ns_granted / 1e9));
    json_object_set_new(o, "wait_seconds", json_real((double)in->wait_ns / 1e9));
    json_object_set_new(o, "turns", json_integer((json_int_t)in->turns));
    json_object_set_new(o, "drains", json_integer((json_int_t)in->drains));
    json_object_set_new(o, "wait_p99_ms",
                        json_real((double)gpx_lease_info_wait_percentile(in, 99.0) / 1e6));
    json_object_set_new(o, "weight", json_integer(l->weight));
    json_object_set_new(o, "cap", l->cap_percent ? json_integer(l->cap_percent) : json_null());
    json_object_set_new(o, "uid", json_integer(l->uid));
    json_object_set_new(o, "created_ns", json_integer((json_int_t)l->created_ns));
    json_t *procs = json_array();
    for (unsigned i = 0; i < in->nprocs; i++) {
        json_t *p = json_object();
        json_object_set_new(p, "pid", json_integer(in->pids[i]));
        json_object_set_new(p, "used_bytes", json_integer((json_int_t)in->proc_used[i]));
        json_array_append_new(procs, p);
    }
    json_object_set_new(o, "processes", procs);
    if (turns) {
        json_t *ring = json_array();
        for (unsigned k = 0; k < GPX_LEASE_TURN_RING; k++) {
            if (!in->turn_ring[k])
                continue;
            json_t *t = json_object();
            json_object_set_new(t, "grant_ms", json_integer((json_int_t)(in->turn_ring[k] >> 32)));
            json_object_set_new(t, "wait_us",
                                json_integer((json_int_t)(in->turn_ring[k] & 0xffffffffULL)));
            json_array_append_new(ring, t);
        }
        json_object_set_new(o, "recent_turns", ring);
    }
    return o;
}

static int lease_ls(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"turns", no_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int json = 0, turns = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "jth", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = 1;
            break;
        case 't':
            turns = 1;
            break;
        case 'h':
            return gpx_cli_print_usage(&gpx_cmd_lease);
        default:
            return gpx_cli_usage_error(&gpx_cmd_lease, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return gpx_cli_usage_error(&gpx_cmd_lease, "unexpected argument '%s'", argv[optind]);

    gpx_error err = {0};
    const char *dir = gpx_run_dir();
    char(*ids)[GPX_LEASE_ID_MAX] = NULL;
    unsigned n = 0;
    if (gpx_lease_ids(dir, &ids, &n, &err) < 0)
        return gpx_cli_fail(&err);
    int status = 0;
    json_t *arr = json ? json_array() : NULL;
    if (!json)
        printf("%-16s %-9s %3s %10s %10s %10s %7s %5s\n", "ID", "MODE", "GPU", "QUOTA", "USED",
               "PEAK", "REFUSED", "PROCS");
    for (unsigned i = 0; i < n; i++) {
        struct gpx_lease_info in;
        gpx_error e = {0};
        if (gpx_lease_info_read(dir, ids[i], 1, &in, &e) < 0) {
            if (e.code == GPX_E_NOT_FOUND)
                continue; /* removed while we listed */
            status = gpx_cli_fail(&e);
            continue;
        }
        if (json) {
            json_array_append_new(arr, info_json(&in, turns));
            continue;
        }
        char q[32], u[32], p[32];
        if (in.limits.memory_quota)
            gpx_size_format(in.limits.memory_quota, q, sizeof q);
        else
            snprintf(q, sizeof q, "-");
        gpx_size_format(in.used, u, sizeof u);
        gpx_size_format(in.peak, p, sizeof p);
        printf("%-16s %-9s %3u %10s %10s %10s %7llu %5u\n", in.limits.id,
               gpx_lease_mode_name(in.limits.mode), in.limits.gpu_index, q, u, p,
               (unsigned long long)in.refused, in.nprocs);
    }
    free(ids);
    if (json)
        print_json(arr);
    return status;
}

static int lease_rm(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h')
            return gpx_cli_print_usage(&gpx_cmd_lease);
        return gpx_cli_usage_error(&gpx_cmd_lease, "unknown option '%s'", argv[optind - 1]);
    }
    if (optind >= argc)
        return gpx_cli_usage_error(&gpx_cmd_lease, "rm needs a lease ID");
    int status = 0;
    for (int i = optind; i < argc; i++) {
        gpx_error err = {0};
        if (!gpx_lease_id_valid(argv[i])) {
            gpx_error_set(&err, GPX_E_INVALID, "invalid lease id '%s'", argv[i]);
            status = gpx_cli_fail(&err);
            continue;
        }
        if (gpx_lease_region_remove(gpx_run_dir(), argv[i], &err) < 0)
            status = gpx_cli_fail(&err);
    }
    return status;
}

static int run(int argc, char **argv)
{
    if (argc < 2)
        return gpx_cli_usage_error(&gpx_cmd_lease, "missing subcommand (create, ls or rm)");
    int handled, rc = gpx_cli_lease_daemon(argc, argv, &handled); /* gpuplexd, if configured */
    if (handled)
        return rc;
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
    "                            [--mode vgpu|timeslice|exclusive] [--weight W] [--cap PCT]\n"
    "                            [--json]\n"
    "       gpuplex lease ls [--json [--turns]]\n"
    "       gpuplex lease rm ID...\n"
    "\n"
    "A lease gives a workload a GPU or a slice of one. Until gpuplexd runs, leases\n"
    "are regions in the run directory ($GPUPLEX_RUN_DIR, else /run/gpuplex when\n"
    "writable, else /tmp/gpuplex-UID) and these commands write them directly.\n"
    "\n"
    "create: checks through NVML that the GPU exists and that the lease fits it,\n"
    "prints the lease id on stdout and, on stderr, the environment a workload\n"
    "needs (or run it with 'gpuplex run --lease ID -- CMD').\n"
    "  --gpu INDEX|UUID  the GPU (see 'gpuplex ls'); default: the first GPU where\n"
    "                    the lease fits\n"
    "  --memory SIZE     device-memory quota: 4G, 4096M, 512MiB, 1.5GiB, bytes;\n"
    "                    at most the GPU's memory, and the quotas of all vgpu and\n"
    "                    timeslice leases of a GPU together fit in its memory\n"
    "  --mode MODE       vgpu: a fixed slice, memory quota (required) and optional\n"
    "                    compute cap, enforced by the interposer (the default when\n"
    "                    --memory is given); timeslice: weighted time-sharing,\n"
    "                    optional quota; exclusive: the whole GPU, only on a GPU\n"
    "                    with no other lease (the default without --memory)\n"
    "  --weight W        share of GPU time, 1..10000 (default 1), for timeslice\n"
    "                    and vgpu leases\n"
    "  --cap PCT         hard compute cap in percent, 1..100 (default: none), for\n"
    "                    vgpu and timeslice leases; holds even on an idle GPU\n"
    "  --json            print {id, mode, gpu, gpu_uuid, memory_bytes, weight, cap,\n"
    "                    env: {CUDA_VISIBLE_DEVICES, GPUPLEX_LEASE, GPUPLEX_RUN_DIR,\n"
    "                    LD_PRELOAD}} (cap null when none; no LD_PRELOAD for exclusive)\n"
    "\n"
    "ls: every lease with its mode, GPU, quota, memory used now and at peak,\n"
    "allocations refused for the quota, and live processes (slots of dead\n"
    "processes are reaped first). --json prints an array of {id, mode, gpu,\n"
    "gpu_uuid, memory_bytes, used_bytes, peak_bytes, refused, weight, cap, uid,\n"
    "created_ns, processes: [{pid, used_bytes}], and for time-sliced leases\n"
    "gpu_seconds (GPU time granted), wait_seconds, turns, drains and wait_p99_ms\n"
    "(upper bound of the 99th percentile wait for a turn)}. With --turns, each\n"
    "also carries recent_turns: [{grant_ms, wait_us}] for the last 256 turns\n"
    "(grant_ms: CLOCK_MONOTONIC milliseconds, low 32 bits).\n"
    "\n"
    "rm: removes leases. Processes still running keep their limits until they exit.\n"
    "\n"
    "With gpuplexd (--server S, GPUPLEX_SERVER, or its default socket answering;\n"
    "GPUPLEX_SERVER=none: never) these commands ask the daemon, which places,\n"
    "persists and meters leases for your tenant (GPUPLEX_TOKEN): --gpu is optional\n"
    "(the daemon places the lease), --label KEY=VALUE tags it, --mig-profile P asks\n"
    "for a MIG device of profile P (mode mig: a free instance, or one the daemon\n"
    "creates; docs/mig.md), ls shows your leases with their tenant, and --json\n"
    "prints the daemon's lease objects (docs/api.md).\n"
    "\n"
    "exit status: 0 ok; 2 bad usage, bad size/mode/weight/cap; 5 no such GPU,\n"
    "or no such lease (rm); 6 the GPU is held exclusively, or exclusive asked of a\n"
    "GPU with leases; 7 the quota does not fit the GPU; 3 no driver.\n",
};
