/*
 * gpuplex usage: metering from gpuplexd, per tenant (and per lease with
 * --leases): lease-seconds, GPU-seconds, memory GiB-seconds of quota held
 * and of memory really used, peak memory. A tenant sees its own usage; an
 * admin sees every tenant's, or one with --tenant.
 */
#include "cli/cli.h"
#include "core/size.h"
#include "engine/views.h"
#include "gpuplex/client.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double num(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

static void row(json_t *o, const char *first, const char *name)
{
    char peak[32];
    gpx_size_format((uint64_t)json_integer_value(json_object_get(o, "memory_peak_bytes")), peak,
                    sizeof peak);
    printf("%-*s %12.1f %12.1f %12.1f %14.1f %14.1f %10s\n", first ? 20 : 16, name,
           num(o, "lease_seconds"), num(o, "gpu_seconds"), num(o, "wait_seconds"),
           num(o, "memory_quota_gib_seconds"), num(o, "memory_used_gib_seconds"), peak);
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {{"tenant", required_argument, NULL, 't'},
                                         {"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 'T'},
                                         {"leases", no_argument, NULL, 'l'},
                                         {"server", required_argument, NULL, 's'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"label", required_argument, NULL, 'L'},
                                         {NULL, 0, NULL, 0}};
    const char *tenant = NULL, *from = NULL, *to = NULL, *server = NULL, *label = NULL;
    int json = 0, leases = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "t:f:T:ls:jhL:", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            tenant = optarg;
            break;
        case 'f':
            from = optarg;
            break;
        case 'T':
            to = optarg;
            break;
        case 'l':
            leases = 1;
            break;
        case 'L':
            label = optarg;
            break;
        case 's':
            server = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            return gpx_cli_print_usage(&gpx_cmd_usage);
        default:
            return gpx_cli_usage_error(&gpx_cmd_usage, "unknown or incomplete option '%s'",
                                       argv[optind - 1]);
        }
    }
    if (optind < argc)
        return gpx_cli_usage_error(&gpx_cmd_usage, "unexpected argument '%s'", argv[optind]);
    gpx_error err = {0};
    int64_t when;
    if (from && gpx_parse_time(from, &when, &err) < 0)
        return gpx_cli_usage_error(&gpx_cmd_usage, "--from: %s", err.msg);
    if (to && gpx_parse_time(to, &when, &err) < 0)
        return gpx_cli_usage_error(&gpx_cmd_usage, "--to: %s", err.msg);
    if (label && (!strchr(label, '=') || *label == '='))
        return gpx_cli_usage_error(&gpx_cmd_usage, "--label: '%s' is not KEY=VALUE", label);
    struct gpx_conn *cn = NULL;
    int rc = gpx_cli_connect(server, &cn);
    if (rc)
        return rc;
    struct gpx_usage u;
    json_t *fns = NULL; /* GPU function calls (gpuplexd only; they carry no lease labels) */
    if (gpx_usage_labeled(cn, tenant, label, from, to, &u, &err) < 0) {
        rc = gpx_cli_fail(&err);
    } else if (!label && gpx_function_usage(cn, tenant, from, to, &fns, &err) < 0) {
        rc = gpx_cli_fail(&err);
        gpx_usage_free(&u);
    }
    gpx_conn_close(cn);
    if (rc)
        return rc;
    json_t *out = gpx_view_usage(&u);
    gpx_usage_free(&u);
    if (fns)
        json_object_set_new(out, "functions", fns);
    if (json) {
        gpx_view_print(out);
        json_decref(out);
        return 0;
    }
    printf("usage from %s to %s\n", json_string_value(json_object_get(out, "from")),
           json_string_value(json_object_get(out, "to")));
    printf("%-20s %12s %12s %12s %14s %14s %10s\n", "TENANT", "LEASE-S", "GPU-S", "WAIT-S",
           "QUOTA-GIB-S", "USED-GIB-S", "PEAK");
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(out, "tenants"), i, t)
    {
        row(t, "tenant", json_string_value(json_object_get(t, "tenant")));
    }
    if (leases) {
        printf("\n%-16s %12s %12s %12s %14s %14s %10s  TENANT MODE GPU STATE\n", "LEASE", "LEASE-S",
               "GPU-S", "WAIT-S", "QUOTA-GIB-S", "USED-GIB-S", "PEAK");
        json_array_foreach(json_object_get(out, "leases"), i, t)
        {
            char peak[32];
            gpx_size_format((uint64_t)json_integer_value(json_object_get(t, "memory_peak_bytes")),
                            peak, sizeof peak);
            printf("%-16s %12.1f %12.1f %12.1f %14.1f %14.1f %10s  %s %s %lld %s\n",
                   json_string_value(json_object_get(t, "id")), num(t, "lease_seconds"),
                   num(t, "gpu_seconds"), num(t, "wait_seconds"),
                   num(t, "memory_quota_gib_seconds"), num(t, "memory_used_gib_seconds"), peak,
                   json_string_value(json_object_get(t, "tenant")),
                   json_string_value(json_object_get(t, "mode")),
                   (long long)json_integer_value(json_object_get(t, "gpu_index")),
                   json_string_value(json_object_get(t, "state")));
        }
    }
    if (json_array_size(json_object_get(out, "functions"))) {
        printf("\n%-20s %-20s %9s %7s %12s %14s\n", "TENANT", "FUNCTION", "REQUESTS", "ERRORS",
               "GPU-S", "BILL");
        json_array_foreach(json_object_get(out, "functions"), i, t)
        {
            printf("%-20s %-20s %9lld %7lld %12.3f %14.6f\n",
                   json_string_value(json_object_get(t, "tenant")),
                   json_string_value(json_object_get(t, "function")),
                   (long long)json_integer_value(json_object_get(t, "requests")),
                   (long long)json_integer_value(json_object_get(t, "errors")),
                   num(t, "gpu_seconds"), num(t, "bill"));
        }
    }
    json_decref(out);
    return 0;
}

const struct gpx_cmd gpx_cmd_usage = {
    "usage",
    run,
    "GPU usage per tenant and lease, as the lease engine metered it",
    "usage: gpuplex usage [--tenant NAME] [--label KEY=VALUE] [--from TIME] [--to TIME]\n"
    "                     [--leases] [--server S] [--json]\n"
    "\n"
    "Metering over a time window (default: everything until now), from gpuplexd or\n"
    "the engine in-process (samples taken by gpuplexd's timer, or as each command\n"
    "starts).\n"
    "Per tenant, and per lease with --leases:\n"
    "  LEASE-S      seconds leases were held (within the window)\n"
    "  GPU-S        GPU-seconds: for exclusive leases the time held; for vgpu and\n"
    "               timeslice leases the GPU time the arbiter granted\n"
    "  WAIT-S       seconds launches waited for their turn on a shared GPU\n"
    "  QUOTA-GIB-S  GiB-seconds of memory quota held (exclusive: the whole GPU)\n"
    "  USED-GIB-S   GiB-seconds of device memory really held by the processes\n"
    "  PEAK         the most device memory held at once\n"
    "With gpuplexd, the calls of GPU functions per tenant and function too\n"
    "(docs/functions.md): REQUESTS (429s are not counted), ERRORS (status >= 400),\n"
    "GPU-S and BILL from the function's prices.\n"
    "A tenant sees only its own usage; an admin every tenant's.\n"
    "\n"
    "  --tenant NAME  one tenant (admins)\n"
    "  --label KEY=VALUE  only leases with this label, e.g. slurm_job=42: a Slurm\n"
    "                 job's leases on this node (docs/slurm.md)\n"
    "  --from TIME    window start, RFC 3339 UTC (2024-05-01T00:00:00Z) or Unix seconds\n"
    "  --to TIME      window end (default: now)\n"
    "  --leases       also list each lease\n"
    "  --server S     gpuplexd's socket path or http://HOST:PORT (default: the rule\n"
    "                 of 'gpuplex status')\n"
    "  --json         print {from, to, tenants: [{tenant, leases, lease_seconds,\n"
    "                 gpu_seconds, wait_seconds, memory_quota_gib_seconds,\n"
    "                 memory_used_gib_seconds, memory_peak_bytes}], leases: [{id,\n"
    "                 tenant, mode, gpu, state, ...the same figures}], functions:\n"
    "                 [{tenant, function, requests, errors, gpu_seconds, bill,\n"
    "                 latency_ms_avg, queue_ms_avg}] (gpuplexd, without --label)}\n"
    "\n"
    "exit status: 0 ok; 2 bad usage or time; 9 gpuplexd unreachable; 10 not\n"
    "authenticated, or another tenant's usage asked by a tenant.\n",
};
