/*
 * gpuplex sim: the simulator's own tool (lib/sim/gpuplex-sim, sim/gpuplex_sim.c)
 * behind the CLI's command table. The simulator is a test double of the
 * NVIDIA driver; gpuplex links none of it: this command finds the tool next to
 * the simulated driver (<bin>/../lib/gpuplex/sim, or the build tree's lib/sim) and
 * executes it with the same arguments.
 */
#define _GNU_SOURCE
#include "cli/cli.h"
#include "core/paths.h"
#include "sim_usage.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int run(int argc, char **argv)
{
    (void)argc;
    char tool[4096];
    gpx_error err = {0};
    if (gpx_pkglib_path("sim/gpuplex-sim", tool, sizeof tool, &err) < 0) {
        err.code = GPX_E_NO_DRIVER;
        gpx_error_wrap(&err, "the simulator is not installed");
        return gpx_cli_fail(&err);
    }
    fflush(NULL);
    argv[0] = tool;
    execv(tool, argv);
    gpx_error_errno(&err, GPX_E_INTERNAL, errno, "running %s", tool);
    return gpx_cli_fail(&err);
}

const struct gpx_cmd gpx_cmd_sim = {
    "sim",
    run,
    "create a simulated GPU node (testing without a GPU)",
    GPX_SIM_USAGE,
};
