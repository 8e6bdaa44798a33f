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

#include <getopt.h>
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
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *gpus = NULL, *state = default_state(), *driver = NULL, *cuda = NULL;
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

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("missing subcommand (init, models)");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return print_usage();
    if (strcmp(argv[1], "init") == 0)
        return sim_init(argc - 1, argv + 1);
    if (strcmp(argv[1], "models") == 0)
        return sim_models();
    return usage_error("unknown subcommand '%s' (init, models)", argv[1]);
}
