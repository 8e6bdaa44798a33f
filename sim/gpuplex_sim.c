/*
 * gpuplex-sim: creates and lists simulated nodes. Part of the simulator (a
 * test double of the NVIDIA driver), not of the product: it lives in the
 * simulated driver's directory (lib/sim), and `gpuplex sim ...` runs it, so
 * that neither gpuplex nor gpuplexd links any simulator code. Everything
 * else reaches the simulated GPUs through the ordinary driver libraries.
 */
#include "gpuplex/error.h"
#include "sim_usage.h"
#include "state.h"
#include "sysfs_tree.h"

#include <getopt.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] = GPX_SIM_USAGE;

static int print_usage(void)
{
    fputs(usage_text, stdout);
    return 0;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("gpuplex sim: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\ntry 'gpuplex help sim'\n", stderr);
    return gpx_error_exit_status(GPX_E_USAGE);
}

static int fail(const gpx_error *err)
{
    fprintf(stderr, "gpuplex: %s\n", err->msg[0] ? err->msg : gpx_error_default(err->code));
    return gpx_error_exit_status(err->code);
}

static const char *default_state(void)
{
    const char *env = getenv("GPUPLEX_SIM");
    return env && *env ? env : NULL;
}

static int sim_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"gpus", required_argument, NULL, 'g'},   {"state", required_argument, NULL, 's'},
        {"driver", required_argument, NULL, 'd'}, {"cuda-version", required_argument, NULL, 'c'},
        {"sysfs", required_argument, NULL, 'S'},  {"sysfs-foreign", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *gpus = NULL, *state = default_state(), *driver = NULL, *cuda = NULL;
    const char *sysfs = NULL;
    int foreign = -1;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "g:s:d:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'g':
            gpus = optarg;
            break;
        case 's':
            state = optarg;
            break;
        case 'd':
            driver = optarg;
            break;
        case 'c':
            cuda = optarg;
            break;
        case 'S':
            sysfs = optarg;
            break;
        case 'F': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 0 || v >= GPX_SIM_MAX_GPUS)
                return usage_error("--sysfs-foreign '%s': a GPU index (0..%d)", optarg,
                                   GPX_SIM_MAX_GPUS - 1);
            foreign = (int)v;
            break;
        }
        case 'h':
            return print_usage();
        default:
            return usage_error("bad option '%s' for 'sim init'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (!gpus)
        return usage_error("'sim init' needs --gpus (e.g. 2xH100-80GB)");
    if (!state)
        return usage_error("'sim init' needs --state FILE (or GPUPLEX_SIM=FILE)");
    gpx_error err = {0};
    struct gpx_sim_spec spec;
    /* --cuda-version alone: the default driver reporting another CUDA version */
    if (gpx_sim_spec_parse(gpus, &spec, &err) < 0 ||
        ((driver || cuda) &&
         gpx_sim_driver_parse(driver ? driver : GPX_SIM_DEFAULT_DRIVER, cuda, &spec, &err) < 0) ||
        gpx_sim_create(state, &spec, &err) < 0)
        return fail(&err);
    if (foreign >= 0 && !sysfs)
        return usage_error("--sysfs-foreign needs --sysfs DIR");
    if (sysfs) {
        struct gpx_sim_state st;
        if (gpx_sim_open(state, &st, &err) < 0)
            return fail(&err);
        int rc = gpx_sim_sysfs_create(sysfs, &st, foreign);
        gpx_sim_close(&st);
        if (rc < 0)
            return gpx_error_exit_status(GPX_E_IO);
    }
    uint32_t cv = spec.cuda_version ? spec.cuda_version : GPX_SIM_DEFAULT_CUDA;
    printf("simulated node with %u GPU%s in %s (driver %s, CUDA %u.%u)\n", spec.gpu_count,
           spec.gpu_count == 1 ? "" : "s", state,
           spec.driver_version[0] ? spec.driver_version : GPX_SIM_DEFAULT_DRIVER, cv / 1000,
           cv % 1000 / 10);
    for (uint32_t i = 0; i < spec.gpu_count; i++) {
        const struct gpx_sim_model_info *m = gpx_sim_model((enum gpx_sim_model)spec.models[i]);
        printf("  GPU %u: %s (%u SMs, %u MiB)\n", i, m->name, m->sm_count, m->memory_mib);
    }
    printf("use it with: export GPUPLEX_SIM=%s\n", state);
    if (sysfs)
        printf("sysfs tree in %s: export GPUPLEX_SYSFS_ROOT=%s (run gpuplex-sim-kernel --sysfs "
               "%s to play the kernel)\n",
               sysfs, sysfs, sysfs);
    return 0;
}

static int sim_models(void)
{
    printf("%-11s %-24s %5s %10s %4s %7s\n", "MODEL", "NAME", "SMS", "MEMORY", "CC", "POWER");
    for (int i = 0; i < GPX_SIM_MODEL_COUNT; i++) {
        const struct gpx_sim_model_info *m = gpx_sim_model((enum gpx_sim_model)i);
        printf("%-11s %-24s %5u %6u MiB %u.%u %5u W\n", m->spec_name, m->name, m->sm_count,
               m->memory_mib, m->cc_major, m->cc_minor, m->power_limit_w);
    }
    return 0;
}

/*
 * The engine's own accounting: per GPU and per process, the GPU time kernels
 * have taken up to now, exact (a benchmark's ground truth; a real node has
 * no such figure, a profiler's comes closest).
 */
static int sim_engine(int argc, char **argv)
{
    static const struct option opts[] = {{"state", required_argument, NULL, 's'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *state = default_state();
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "s:jh", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            state = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            return print_usage();
        default:
            return usage_error("bad option '%s' for 'sim engine' (--state FILE, --json)",
                               argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (!state)
        return usage_error("'sim engine' needs --state FILE (or GPUPLEX_SIM=FILE)");
    gpx_error err = {0};
    struct gpx_sim_state st;
    if (gpx_sim_open(state, &st, &err) < 0)
        return fail(&err);
    uint64_t now = gpx_sim_now_ns();
    if (json)
        printf("{\"now_ns\": %llu, \"gpus\": [", (unsigned long long)now);
    else
        printf("%-4s %-8s %14s %12s %10s %s\n", "GPU", "PID", "GPU_MS_RUN", "QUEUED_MS", "KERNELS",
               "EXACT");
    for (uint32_t g = 0; g < st.hdr->gpu_count; g++) {
        struct gpx_sim_gpu *gp = &st.gpus[g];
        if (json)
            printf("%s{\"index\": %u, \"kernels\": %llu, \"submitted_ns\": %llu, \"procs\": [",
                   g ? ", " : "", g, (unsigned long long)atomic_load(&gp->kernels_total),
                   (unsigned long long)atomic_load(&gp->engine_busy_total));
        int n = 0;
        for (uint32_t i = 0; i < GPX_SIM_MAX_PROCS; i++) {
            const struct gpx_sim_proc *p = &gp->procs[i];
            if (atomic_load(&p->pid) == 0)
                continue;
            uint64_t ran = 0, queued = 0, kernels = 0;
            int exact = gpx_sim_proc_gpu_ns(p, now, &ran, &queued, &kernels);
            int32_t pid = gpx_sim_proc_pid(p);
            if (json)
                printf("%s{\"pid\": %d, \"gpu_ns\": %llu, \"queued_ns\": %llu, \"kernels\": "
                       "%llu, \"exact\": %s}",
                       n ? ", " : "", (int)pid, (unsigned long long)ran, (unsigned long long)queued,
                       (unsigned long long)kernels, exact == 1 ? "true" : "false");
            else
                printf("%-4u %-8d %14.3f %12.3f %10llu %s\n", g, (int)pid, ran / 1e6, queued / 1e6,
                       (unsigned long long)kernels, exact == 1 ? "yes" : "no");
            n++;
        }
        if (json)
            printf("]}");
    }
    if (json)
        printf("]}\n");
    gpx_sim_close(&st);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("missing subcommand (init, models, engine)");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return print_usage();
    if (strcmp(argv[1], "init") == 0)
        return sim_init(argc - 1, argv + 1);
    if (strcmp(argv[1], "models") == 0)
        return sim_models();
    if (strcmp(argv[1], "engine") == 0)
        return sim_engine(argc - 1, argv + 1);
    return usage_error("unknown subcommand '%s' (init, models, engine)", argv[1]);
}
