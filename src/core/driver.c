/*
 * Where the driver libraries come from (see driver.h). No simulator logic
 * lives here: only a directory choice, made the same way for the CLI and the
 * daemon, before anything loads NVML.
 */
#define _GNU_SOURCE
#include "core/driver.h"
#include "core/paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int has_lib(const char *dir)
{
    char p[PATH_MAX];
    if ((size_t)snprintf(p, sizeof p, "%s/libnvidia-ml.so.1", dir) >= sizeof p)
        return 0;
    return access(p, R_OK) == 0;
}

void gpx_driver_select(void)
{
    const char *sim = getenv("GPUPLEX_SIM");
    const char *dir = getenv("GPUPLEX_DRIVER_DIR");
    if (!sim || !*sim || (dir && *dir))
        return;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = '\0';
    static const char *const rel[] = {GPX_PKGLIB_REL "/sim", GPX_BUILDLIB_REL "/sim"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        char cand[PATH_MAX];
        if ((size_t)snprintf(cand, sizeof cand, "%s%s", exe, rel[i]) >= sizeof cand)
            continue;
        char real[PATH_MAX];
        if (!realpath(cand, real) || !has_lib(real))
            continue;
        setenv("GPUPLEX_DRIVER_DIR", real, 1);
        const char *old = getenv("LD_LIBRARY_PATH");
        size_t len = strlen(real) + (old ? strlen(old) : 0) + 2;
        char *v = malloc(len);
        if (!v)
            return;
        snprintf(v, len, "%s%s%s", real, old && *old ? ":" : "", old && *old ? old : "");
        setenv("LD_LIBRARY_PATH", v, 1);
        free(v);
        return;
    }
}
