/*
 * A simulated node in a fresh temporary directory, for the unit tests that
 * open the lease engine or gpuplexd on it (test_engine.c, test_api.c): the
 * directory, its state file selected through GPUPLEX_SIM and the simulated
 * driver through GPUPLEX_DRIVER_DIR (GPX_SIM_LIB_DIR, set by CMake), and its
 * removal; and the state file alone for the simulated driver's own tests. Static
 * functions: each test program includes it once.
 */
#ifndef GPX_TEST_SIM_NODE_H
#define GPX_TEST_SIM_NODE_H

#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef GPX_SIM_LIB_DIR
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
#endif

/* rm -rf dir; 0 or -1. */
static inline int sim_node_remove(const char *dir)
{
    char cmd[160];
    if ((size_t)snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir) >= sizeof cmd)
        return -1;
    return system(cmd) == 0 ? 0 : -1;
}

/*
 * The node of the simulated driver's own tests (test_cuda_sim.c, test_cuda_graph.c), which
 * link it directly: the state file path = /tmp/gpx-unit-PREFIX-PID.state of `spec`, mapped
 * into *st (the test's own view of it) and selected through GPUPLEX_SIM, with
 * CUDA_VISIBLE_DEVICES unset; 0 or -1. sim_state_remove unmaps and removes it.
 */
static inline int sim_state_make(const char *prefix, const char *spec, char *path, size_t len,
                                 struct gpx_sim_state *st)
{
    snprintf(path, len, "/tmp/gpx-unit-%s-%d.state", prefix, (int)getpid());
    struct gpx_sim_spec s;
    gpx_error e = {0};
    if (gpx_sim_spec_parse(spec, &s, &e) < 0 || gpx_sim_create(path, &s, &e) < 0 ||
        gpx_sim_open(path, st, &e) < 0)
        return -1;
    setenv("GPUPLEX_SIM", path, 1);
    unsetenv("CUDA_VISIBLE_DEVICES");
    return 0;
}

static inline void sim_state_remove(const char *path, struct gpx_sim_state *st)
{
    gpx_sim_close(st);
    unlink(path);
}

#endif
