/*
 * Paths beside the running binary, mkdir -p, and private state files
 * (paths.h). Every result is checked for length: a path that does not fit is
 * an error, never a truncated name. Modes are changed through an open fd
 * (fchmod), never by a path that could be swapped for a link meanwhile.
 */
#define _GNU_SOURCE
#include "core/paths.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
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

int gpx_pkglib_path(const char *name, char *out, size_t len, gpx_error *err)
{
    /* installed first: from /usr/bin, "../lib/NAME" could be some other package's file */
    char inst[PATH_MAX], build[PATH_MAX];
    if ((size_t)snprintf(inst, sizeof inst, "%s/%s", GPX_PKGLIB_REL, name) >= sizeof inst ||
        (size_t)snprintf(build, sizeof build, "%s/%s", GPX_BUILDLIB_REL, name) >= sizeof build)
        return gpx_error_set(err, GPX_E_INTERNAL, "path too long: %s", name);
    const char *const rel[] = {inst, build};
    return gpx_beside_exe(rel, sizeof rel / sizeof rel[0], out, len, err);
}

int gpx_interposer_path(char *out, size_t len, gpx_error *err)
{
    return gpx_pkglib_path(GPX_INTERPOSER_NAME, out, len, err);
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

/* fd's mode without group/other bits that `keep` lacks, when fd is ours; what it was told. */
static void tighten(int fd, const char *path, mode_t keep, const char *what)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_uid != geteuid())
        return;
    mode_t was = st.st_mode & 07777, now = was & ~(077 & ~keep);
    if (now == was)
        return;
    if (fchmod(fd, now) < 0)
        gpx_warn("%s %s is mode %04o, readable or writable by others, and can't be made "
                 "%04o: %s",
                 what, path, (unsigned)was, (unsigned)now, strerror(errno));
    else
        gpx_warn("%s %s was mode %04o, readable or writable by others: now %04o", what, path,
                 (unsigned)was, (unsigned)now);
}

int gpx_mkdirs_private(const char *path, mode_t mode, gpx_error *err)
{
    char parent[PATH_MAX];
    if ((size_t)snprintf(parent, sizeof parent, "%s", path) >= sizeof parent)
        return gpx_error_set(err, GPX_E_INVALID, "path too long: %s", path);
    char *slash = strrchr(parent, '/');
    while (slash && slash > parent && slash[1] == '\0') { /* "dir/" */
        *slash = '\0';
        slash = strrchr(parent, '/');
    }
    if (slash && slash > parent) {
        *slash = '\0';
        if (gpx_mkdirs(parent, 0755, err) < 0)
            return -1;
    }
    if (mkdir(path, mode) < 0 && errno != EEXIST)
        return gpx_error_errno(err, GPX_E_IO, errno, "creating %s", path);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == EACCES)
        /* another user's private state: only its owner (or the daemon on it) may use it */
        return gpx_error_set(err, GPX_E_PERM,
                             "%s is another user's state directory (mode 0711): use the "
                             "gpuplexd that serves it, or a state directory of your own "
                             "(GPUPLEX_STATE_DIR)",
                             path);
    if (fd < 0)
        return gpx_error_errno(err, GPX_E_IO, errno, "opening %s", path);
    tighten(fd, path, mode, "the state directory");
    close(fd);
    return 0;
}

void gpx_file_private(const char *dir, const char *name, mode_t mode, int create)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return;
    int fd =
        open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | (create ? O_CREAT : 0), mode);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        tighten(fd, path, mode, "the state file");
    close(fd);
}
