/*
 * gpuplex sim: the simulator's own tool (lib/sim/gpuplex-sim, sim/gpuplex_sim.c)
 * behind the CLI's command table. The simulator is a test double of the
 * NVIDIA driver; gpuplex links none of it: this command finds the tool next to
 * the simulated driver (<bin>/../lib/sim or <bin>/../lib/gpuplex/sim) and
 * executes it with the same arguments.
 */
#define _GNU_SOURCE
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int run(int argc, char **argv)
{
    (void)argc;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    gpx_error err = {0};
    if (n <= 0) {
        gpx_error_errno(&err, GPX_E_INTERNAL, errno, "finding the gpuplex binary");
        return gpx_cli_fail(&err);
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    static const char *const rel[] = {"/../lib/sim/gpuplex-sim", "/../lib/gpuplex/sim/gpuplex-sim"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        char tool[PATH_MAX + 64];
        snprintf(tool, sizeof tool, "%s%s", exe, rel[i]);
        if (access(tool, X_OK) == 0) {
            fflush(NULL);
            argv[0] = tool;
            execv(tool, argv);
            gpx_error_errno(&err, GPX_E_INTERNAL, errno, "running %s", tool);
            return gpx_cli_fail(&err);
        }
    }
    gpx_error_set(&err, GPX_E_NO_DRIVER,
                  "the simulator is not installed (no gpuplex-sim in %s/../lib/sim or "
                  "%s/../lib/gpuplex/sim)",
                  exe, exe);
    return gpx_cli_fail(&err);
}

const struct gpx_cmd gpx_cmd_sim = {
    "sim",
    run,
    "create a simulated GPU node (testing without a GPU)",
    "usage: gpuplex sim init --gpus SPEC [--state FILE]\n"
    "       gpuplex sim models\n"
    "\n"
    "The simulator provides ABI-compatible libnvidia-ml.so.1 and libcuda.so.1 over\n"
    "one shared state file, so gpuplex, its tests and third-party tools run without\n"
    "an NVIDIA GPU. 'sim init' creates (or replaces) a node; then set\n"
    "GPUPLEX_SIM=FILE and every gpuplex command uses it.\n"
    "\n"
    "  --gpus SPEC    comma-separated [Nx]MODEL items, e.g. 2xH100-80GB,1xA100-40GB\n"
    "                 models: A100-40GB, A100-80GB, H100-80GB, H200-141GB\n"
    "                 (at most 16 GPUs)\n"
    "  --state FILE   the state file to write (default: $GPUPLEX_SIM)\n"
    "\n"
    "'sim models' lists the models with their SM counts, memory and power limits.\n",
};
