/*
 * gpuplex ls: every GPU of the node with memory, utilization, temperature,
 * power, clocks, MIG mode and processes — nvidia-smi's summary, read through
 * NVML. --json prints an array of objects (keys documented in docs/cli.md);
 * figures the driver does not report are "-" in the table and null in JSON.
 */
#include "cli/cli.h"
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

static json_t *opt_int(const struct gpx_gpu_info *g, uint32_t bit, long long v)
{
    return (g->valid & bit) ? json_integer(v) : json_null();
}

static json_t *gpu_json(const struct gpx_gpu_info *g)
{
    json_t *o = json_object();
    json_object_set_new(o, "index", json_integer(g->index));
    json_object_set_new(o, "name", json_string(g->name));
    json_object_set_new(o, "uuid", json_string(g->uuid));
    json_object_set_new(o, "pci_bus_id",
                        (g->valid & GPX_INV_PCI) ? json_string(g->pci_bus_id) : json_null());
    json_object_set_new(o, "memory_total_mib", json_integer((json_int_t)(g->memory_total / MIB)));
    json_object_set_new(o, "memory_used_mib", json_integer((json_int_t)(g->memory_used / MIB)));
    json_object_set_new(o, "memory_free_mib", json_integer((json_int_t)(g->memory_free / MIB)));
    json_object_set_new(o, "utilization_gpu", opt_int(g, GPX_INV_UTIL, g->util_gpu));
    json_object_set_new(o, "utilization_memory", opt_int(g, GPX_INV_UTIL, g->util_memory));
    json_object_set_new(o, "temperature_c", opt_int(g, GPX_INV_TEMP, g->temperature_c));
    json_object_set_new(o, "power_w",
                        (g->valid & GPX_INV_POWER) ? json_real(g->power_mw / 1000.0) : json_null());
    json_object_set_new(o, "power_limit_w",
                        (g->valid & GPX_INV_POWER_LIMIT) ? json_real(g->power_limit_mw / 1000.0)
                                                         : json_null());
    json_object_set_new(o, "sm_clock_mhz", opt_int(g, GPX_INV_SM_CLOCK, g->sm_clock_mhz));
    json_object_set_new(o, "sm_clock_max_mhz",
                        opt_int(g, GPX_INV_SM_CLOCK_MAX, g->sm_clock_max_mhz));
    json_object_set_new(o, "mem_clock_mhz", opt_int(g, GPX_INV_MEM_CLOCK, g->mem_clock_mhz));
    json_object_set_new(o, "mig_mode",
                        (g->valid & GPX_INV_MIG) ? json_string(mig_name(g->mig_current))
                                                 : json_null());
    json_object_set_new(o, "mig_mode_pending",
                        (g->valid & GPX_INV_MIG) ? json_string(mig_name(g->mig_pending))
                                                 : json_null());
    if (g->valid & GPX_INV_CC) {
        char cc[16];
        snprintf(cc, sizeof cc, "%d.%d", g->cc_major, g->cc_minor);
        json_object_set_new(o, "compute_capability", json_string(cc));
    } else {
        json_object_set_new(o, "compute_capability", json_null());
    }
    json_t *procs = json_array();
    for (unsigned i = 0; i < g->proc_count; i++) {
        json_t *p = json_object();
        json_object_set_new(p, "pid", json_integer(g->procs[i].pid));
        json_object_set_new(p, "used_memory_mib",
                            g->procs[i].used_bytes == NVML_VALUE_NOT_AVAILABLE_ULL
                                ? json_null()
                                : json_integer((json_int_t)(g->procs[i].used_bytes / MIB)));
        json_array_append_new(procs, p);
    }
    json_object_set_new(o, "processes", (g->valid & GPX_INV_PROCS) ? procs : json_null());
    if (!(g->valid & GPX_INV_PROCS))
        json_decref(procs);
    return o;
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

static void print_table(const struct gpx_inventory *inv)
{
    printf("driver %s, CUDA %d.%d, %u GPU%s\n", inv->driver_version[0] ? inv->driver_version : "-",
           inv->cuda_version / 1000, inv->cuda_version % 1000 / 10, inv->count,
           inv->count == 1 ? "" : "s");
    printf("%-3s %-24s %-16s %19s %5s %5s %5s %13s %8s %-8s %s\n", "GPU", "NAME", "BUS-ID",
           "MEMORY USED/TOTAL", "UTIL", "MEM", "TEMP", "POWER/CAP", "SM-CLK", "MIG", "UUID");
    for (unsigned i = 0; i < inv->count; i++) {
        const struct gpx_gpu_info *g = &inv->gpus[i];
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
        total += inv->gpus[i].proc_count;
    printf("\nPROCESSES%s\n", total ? "" : ": none");
    if (!total)
        return;
    printf("%-3s %-8s %12s\n", "GPU", "PID", "USED MiB");
    for (unsigned i = 0; i < inv->count; i++)
        for (unsigned k = 0; k < inv->gpus[i].proc_count; k++) {
            const struct gpx_gpu_proc *p = &inv->gpus[i].procs[k];
            if (p->used_bytes == NVML_VALUE_NOT_AVAILABLE_ULL)
                printf("%-3u %-8u %12s\n", i, p->pid, "-");
            else
                printf("%-3u %-8u %12llu\n", i, p->pid, (unsigned long long)(p->used_bytes / MIB));
        }
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = 1;
            break;
        case 'h':
            return gpx_cli_print_usage(&gpx_cmd_ls);
        default:
            return gpx_cli_usage_error(&gpx_cmd_ls, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return gpx_cli_usage_error(&gpx_cmd_ls, "unexpected argument '%s'", argv[optind]);

    gpx_error err = {0};
    struct gpx_inventory inv;
    if (gpx_inventory_load(&inv, &err) < 0)
        return gpx_cli_fail(&err);
    if (json) {
        json_t *arr = json_array();
        for (unsigned i = 0; i < inv.count; i++)
            json_array_append_new(arr, gpu_json(&inv.gpus[i]));
        char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s)
            puts(s);
        free(s);
        json_decref(arr);
    } else {
        print_table(&inv);
    }
    gpx_inventory_free(&inv);
    return 0;
}

const struct gpx_cmd gpx_cmd_ls = {
    "ls",
    run,
    "list the node's GPUs (memory, utilization, power, MIG, processes)",
    "usage: gpuplex ls [--json]\n"
    "\n"
    "Lists every GPU of this node as NVML reports it: index, name, PCI bus id,\n"
    "memory used/total, GPU and memory utilization, temperature, power draw and\n"
    "limit, SM clock, MIG mode (current; 'pending+'/'pending-' while a change waits\n"
    "for the GPU to go idle), UUID, then the compute processes on each GPU.\n"
    "\n"
    "options:\n"
    "  --json   print a JSON array, one object per GPU, with the keys index, name,\n"
    "           uuid, pci_bus_id, memory_total_mib, memory_used_mib, memory_free_mib,\n"
    "           utilization_gpu, utilization_memory, temperature_c, power_w,\n"
    "           power_limit_w, sm_clock_mhz, sm_clock_max_mhz, mem_clock_mhz,\n"
    "           mig_mode, mig_mode_pending, compute_capability and processes\n"
    "           ([{pid, used_memory_mib}]); null where the driver reports nothing\n"
    "  -h, --help\n"
    "\n"
    "Without an NVIDIA driver, use the simulator: GPUPLEX_SIM=FILE gpuplex ls\n"
    "(see 'gpuplex help sim').\n",
};
