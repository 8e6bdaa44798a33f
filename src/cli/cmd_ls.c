/*
 * gpuplex ls: every GPU of the node with memory, utilization, temperature,
 * power, clocks, MIG mode and processes — nvidia-smi's summary, as the lease
 * engine sees it through NVML (gpuplexd's, or in-process: the same rule as
 * every command). --json prints the GPU objects of GET /v1/gpus (views.c;
 * docs/api.md); figures the driver does not report are "-" and null.
 */
#include "cli/cli.h"
#include "cli/query.h"
#include "cli/sample.h"
#include "engine/views.h"
#include "gpuplex/client.h"
#include "nvml/inventory.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024ULL * 1024ULL)

static const char *mig_name(unsigned mode)
{
    return mode == NVML_DEVICE_MIG_ENABLE ? "enabled" : "disabled";
}

/* "<v><unit>" when the figure is valid, "-" otherwise. */
static void cell(char *buf, size_t len, const struct gpx_gpu_info *g, uint32_t bit, unsigned v,
                 const char *unit)
{
    if (g->valid & bit)
        snprintf(buf, len, "%u%s", v, unit);
    else
        snprintf(buf, len, "-");
}

static void print_table(const struct gpx_node *inv)
{
    /* nvidia-smi's header: the driver and the CUDA version it reports */
    char cuda[16] = "-";
    if (inv->cuda_version > 0)
        snprintf(cuda, sizeof cuda, "%d.%d", inv->cuda_version / 1000,
                 inv->cuda_version % 1000 / 10);
    printf("driver %s, CUDA %s, %u GPU%s\n", inv->driver_version[0] ? inv->driver_version : "-",
           cuda, inv->count, inv->count == 1 ? "" : "s");
    printf("%-3s %-24s %-16s %19s %5s %5s %5s %13s %8s %-8s %s\n", "GPU", "NAME", "BUS-ID",
           "MEMORY USED/TOTAL", "UTIL", "MEM", "TEMP", "POWER/CAP", "SM-CLK", "MIG", "UUID");
    for (unsigned i = 0; i < inv->count; i++) {
        const struct gpx_gpu_info *g = &inv->gpus[i].info;
        char mem[48], util[16], memu[16], temp[16], pwr[32], clk[24];
        snprintf(mem, sizeof mem, "%llu/%llu MiB", (unsigned long long)(g->memory_used / MIB),
                 (unsigned long long)(g->memory_total / MIB));
        cell(util, sizeof util, g, GPX_INV_UTIL, g->util_gpu, "%");
        cell(memu, sizeof memu, g, GPX_INV_UTIL, g->util_memory, "%");
        cell(temp, sizeof temp, g, GPX_INV_TEMP, g->temperature_c, "C");
        if ((g->valid & GPX_INV_POWER) && (g->valid & GPX_INV_POWER_LIMIT))
            snprintf(pwr, sizeof pwr, "%uW/%uW", g->power_mw / 1000, g->power_limit_mw / 1000);
        else
            snprintf(pwr, sizeof pwr, "-");
        cell(clk, sizeof clk, g, GPX_INV_SM_CLOCK, g->sm_clock_mhz, "MHz");
        const char *mig = !(g->valid & GPX_INV_MIG)          ? "-"
                          : g->mig_current == g->mig_pending ? mig_name(g->mig_current)
                          : g->mig_pending                   ? "pending+"
                                                             : "pending-";
        printf("%-3u %-24.24s %-16s %19s %5s %5s %5s %13s %8s %-8s %s\n", g->index, g->name,
               (g->valid & GPX_INV_PCI) ? g->pci_bus_id : "-", mem, util, memu, temp, pwr, clk, mig,
               g->uuid);
    }
    unsigned total = 0;
    for (unsigned i = 0; i < inv->count; i++)
        total += inv->gpus[i].info.proc_count;
    printf("\nPROCESSES%s\n", total ? "" : ": none");
    if (!total)
        return;
    printf("%-3s %-8s %12s\n", "GPU", "PID", "USED MiB");
    for (unsigned i = 0; i < inv->count; i++)
        for (unsigned k = 0; k < inv->gpus[i].info.proc_count; k++) {
            const struct gpx_gpu_proc *p = &inv->gpus[i].info.procs[k];
            if (p->used_bytes == NVML_VALUE_NOT_AVAILABLE_ULL)
                printf("%-3u %-8u %12s\n", i, p->pid, "-");
            else
                printf("%-3u %-8u %12llu\n", i, p->pid, (unsigned long long)(p->used_bytes / MIB));
        }
}

/*
 * The query modes (--query-gpu, --query-lease, -L): one sample (GPUs, leases,
 * MIG devices) through the connection, printed as nvidia-smi does (query.c).
 */
static int run_query(const char *server, const struct gpx_query *q)
{
    gpx_error err = {0};
    struct gpx_conn *cn = NULL;
    struct gpx_sample s;
    int rc = gpx_cli_connect(server, &cn);
    if (rc)
        return rc;
    rc = gpx_sample_take(cn, &s, &err) < 0 ? gpx_cli_fail(&err) : 0;
    gpx_conn_close(cn);
    if (rc)
        return rc;
    if (q)
        gpx_query_print(q, &s);
    else
        gpx_query_list_gpus(&s);
    gpx_sample_free(&s);
    return 0;
}

enum { OPT_QUERY_GPU = 1000, OPT_QUERY_LEASE, OPT_FORMAT };

static int run(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"server", required_argument, NULL, 's'},
                                         {"query-gpu", required_argument, NULL, OPT_QUERY_GPU},
                                         {"query-lease", required_argument, NULL, OPT_QUERY_LEASE},
                                         {"format", required_argument, NULL, OPT_FORMAT},
                                         {"list-gpus", no_argument, NULL, 'L'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *server = NULL, *query = NULL, *format = NULL;
    int json = 0, list = 0, lease = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "js:Lh", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = 1;
            break;
        case 's':
            server = optarg;
            break;
        case 'L':
            list = 1;
            break;
        case OPT_QUERY_GPU:
        case OPT_QUERY_LEASE:
            if (query)
                return gpx_cli_usage_error(&gpx_cmd_ls,
                                           "one of --query-gpu and --query-lease at a time");
            query = optarg;
            lease = c == OPT_QUERY_LEASE;
            break;
        case OPT_FORMAT:
            format = optarg;
            break;
        case 'h':
            return gpx_cli_print_usage(&gpx_cmd_ls);
        default:
            return gpx_cli_usage_error(&gpx_cmd_ls, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return gpx_cli_usage_error(&gpx_cmd_ls, "unexpected argument '%s'", argv[optind]);
    if ((query != NULL) + list + json > 1)
        return gpx_cli_usage_error(&gpx_cmd_ls, "--json, -L and --query-%s exclude each other",
                                   lease ? "lease" : "gpu");
    if (format && !query)
        return gpx_cli_usage_error(&gpx_cmd_ls, "--format goes with --query-gpu or --query-lease");
    if (list)
        return run_query(server, NULL);
    if (query) {
        struct gpx_query q;
        gpx_error qe = {0};
        if (gpx_query_fields(&q, lease, query, &qe) < 0 ||
            gpx_query_format(&q, format ? format : "csv", &qe) < 0)
            return gpx_cli_usage_error(&gpx_cmd_ls, "%s", qe.msg);
        return run_query(server, &q);
    }

    gpx_error err = {0};
    struct gpx_conn *cn = NULL;
    int rc = gpx_cli_connect(server, &cn);
    if (rc)
        return rc;
    struct gpx_node inv;
    if (gpx_gpus_list(cn, &inv, &err) < 0)
        rc = gpx_cli_fail(&err);
    gpx_conn_close(cn);
    if (rc)
        return rc;
    if (json) {
        json_t *arr = gpx_view_gpus(&inv);
        gpx_view_print(arr);
        json_decref(arr);
    } else {
        print_table(&inv);
    }
    gpx_node_free(&inv);
    return 0;
}

const struct gpx_cmd gpx_cmd_ls = {
    "ls",
    run,
    "list the node's GPUs (memory, utilization, power, MIG, processes)",
    "usage: gpuplex ls [--server S] [--json]\n"
    "       gpuplex ls --query-gpu FIELD,... [--format FORMAT] [--server S]\n"
    "       gpuplex ls --query-lease FIELD,... [--format FORMAT] [--server S]\n"
    "       gpuplex ls -L|--list-gpus [--server S]\n"
    "\n"
    "Lists every GPU of this node as NVML reports it: index, name, PCI bus id,\n"
    "memory used/total, GPU and memory utilization, temperature, power draw and\n"
    "limit, SM clock, MIG mode (current; 'pending+'/'pending-' while a change waits\n"
    "for the GPU to go idle), UUID, then the compute processes on each GPU.\n"
    "\n"
    "options:\n"
    "  --json   print a JSON array, one object per GPU (the objects of GET /v1/gpus),\n"
    "           with the keys index, name, uuid, pci_bus_id, memory_total_mib,\n"
    "           memory_used_mib, memory_free_mib (and the same as _bytes),\n"
    "           utilization_gpu, utilization_memory (and _pct), temperature_c,\n"
    "           power_w, power_limit_w, sm_clock_mhz, sm_clock_max_mhz, mem_clock_mhz,\n"
    "           mig_mode, mig_mode_pending, compute_capability, processes\n"
    "           ([{pid, used_memory_mib, used_memory_bytes}], admins only), leases,\n"
    "           exclusive and memory_quota_free_bytes; null where nothing is known\n"
    "  --server S  gpuplexd's socket or URL (default: the rule of 'gpuplex status')\n"
    "  -h, --help\n"
    "\n"
    "nvidia-smi's query mode, for scripts (the same names and CSV shape; the\n"
    "flags take their value after '=' or a space):\n"
    "  --query-gpu=FIELD,...   one line per GPU; fields: index, name, uuid,\n"
    "           pci.bus_id, memory.total, memory.used, memory.free (MiB),\n"
    "           utilization.gpu, utilization.memory (%), temperature.gpu,\n"
    "           power.draw, power.limit (W), clocks.sm, clocks.mem (MHz; headed\n"
    "           clocks.current.sm and clocks.current.memory), mig.mode.current,\n"
    "           driver_version\n"
    "  --query-lease=FIELD,... one line per active lease you may see (admins: all);\n"
    "           fields: id, tenant, state, mode, gpu.index, gpu.uuid, memory.quota,\n"
    "           memory.used, memory.peak (MiB), utilization.gpu (%: NVML's now, an\n"
    "           arbitrated lease's average since it began; mig: [N/A]),\n"
    "           processes, weight, cap (%),\n"
    "           mig.profile, mig.uuid, gpu_seconds, wait_seconds, lease_seconds (s),\n"
    "           created (RFC 3339, UTC)\n"
    "  --format=FORMAT  csv[,noheader][,nounits]:\n"
    "           csv (the default): a header of the field names with units in\n"
    "           brackets ('memory.used [MiB]'), values with units ('1024 MiB'),\n"
    "           joined by ', '; noheader drops the header, nounits the units;\n"
    "           a value gpuplex cannot know prints [N/A]\n"
    "  -L, --list-gpus\n"
    "           as nvidia-smi -L: 'GPU 0: NAME (UUID: GPU-...)', and under a GPU\n"
    "           in MIG mode '  MIG 3g.40gb     Device  0: (UUID: MIG-...)'\n"
    "\n"
    "example: gpuplex ls --query-gpu=index,memory.used,utilization.gpu --format=csv,noheader\n"
    "\n"
    "Without an NVIDIA driver, use the simulator: GPUPLEX_SIM=FILE gpuplex ls\n"
    "(see 'gpuplex help sim').\n",
};
