/*
 * Paths beside the running binary, and mkdir -p (paths.h). Every result is
 * checked for length: a path that does not fit is an error, never a
 * truncated name.
 */
#define _GNU_SOURCE
#include "core/paths.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int gpx_exe_dir(char *out, size_t len, gpx_error *err)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return gpx_error_errno(err, GPX_E_INTERNAL, errno, "finding the running binary");
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    if ((size_t)snprintf(out, len, "%s", exe) >= len)
        return gpx_error_set(err, GPX_E_INTERNAL, "path too long: %s", exe);
    return 0;
}

int gpx_beside_exe(const char *const *rel, size_t n, char *out, size_t len, gpx_error *err)
{
    char dir[PATH_MAX], first[PATH_MAX] = "";
    if (gpx_exe_dir(dir, sizeof dir, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char cand[PATH_MAX], real[PATH_MAX];
        if ((size_t)snprintf(cand, sizeof cand, "%s%s", dir, rel[i]) >= sizeof cand)
            continue;
        if (!first[0])
            memcpy(first, cand, strlen(cand) + 1);
        if (realpath(cand, real) && access(real, R_OK) == 0) {
            if ((size_t)snprintf(out, len, "%s", real) >= len)
                return gpx_error_set(err, GPX_E_INTERNAL, "path too long: %s", real);
            return 0;
        }
    }
    return gpx_error_set(err, GPX_E_NOT_FOUND, "%s is missing", first);
}

int gpx_interposer_path(char *out, size_t len, gpx_error *err)
{
    /* build tree and `make install` (<prefix>/lib), then a distribution's <prefix>/lib/gpuplex */
    static const char *const rel[] = {"/../lib/" GPX_INTERPOSER_NAME,
                                      "/../lib/gpuplex/" GPX_INTERPOSER_NAME};
    return gpx_beside_exe(rel, sizeof rel / sizeof rel[0], out, len, err);
}

int gpx_mkdirs(const char *path, mode_t mode, gpx_error *err)
{
    char p[PATH_MAX];
    if ((size_t)snprintf(p, sizeof p, "%s", path) >= sizeof p)
        return gpx_error_set(err, GPX_E_INVALID, "path too long: %s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return gpx_error_errno(err, GPX_E_IO, errno, "creating %s", p);
        *s = '/';
    }
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        return gpx_error_errno(err, GPX_E_IO, errno, "creating %s", p);
    return 0;
}
