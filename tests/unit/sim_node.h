/*
 * A simulated node in a fresh temporary directory, for the unit tests that
 * open the lease engine or gpuplexd on it (test_engine.c, test_api.c): the
 * directory, its state file selected through GPUPLEX_SIM and the simulated
 * driver through GPUPLEX_DRIVER_DIR (GPX_SIM_LIB_DIR, set by CMake), and its
 * removal. Static functions: each test program includes it once.
 */
#ifndef GPX_TEST_SIM_NODE_H
#define GPX_TEST_SIM_NODE_H

#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* dir = $TMPDIR/gpx-PREFIX-XXXXXX with node.sim of `spec` in it (sim = its path); 0 or -1. */
static int sim_node_make(const char *prefix, const char *spec, char *dir, size_t dlen, char *sim,
                         size_t slen)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    if ((size_t)snprintf(dir, dlen, "%s/gpx-%s-XXXXXX", tmp, prefix) >= dlen || strlen(dir) > 40 ||
        !mkdtemp(dir))
        return -1;
    if ((size_t)snprintf(sim, slen, "%s/node.sim", dir) >= slen)
        return -1;
    struct gpx_sim_spec s;
    gpx_error err = {0};
    if (gpx_sim_spec_parse(spec, &s, &err) < 0 || gpx_sim_create(sim, &s, &err) < 0) {
        fprintf(stderr, "sim: %s\n", err.msg);
        return -1;
    }
    setenv("GPUPLEX_SIM", sim, 1);
    setenv("GPUPLEX_DRIVER_DIR", GPX_SIM_LIB_DIR, 1);
    return 0;
}

/* rm -rf dir; 0 or -1. */
static int sim_node_remove(const char *dir)
{
    char cmd[160];
    if ((size_t)snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir) >= sizeof cmd)
        return -1;
    return system(cmd) == 0 ? 0 : -1;
}

#endif
