/* Container records of leases made for containers: see container_rec.h. */
#define _GNU_SOURCE
#include "shm/container_rec.h"

#include "shm/lease.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A container id as a file name: what runtimes use (hex, names), nothing that walks paths. */
static int ctr_id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 127 || s[0] == '.')
        return 0;
    for (; *s; s++)
        if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') && !(*s >= '0' && *s <= '9') &&
            *s != '_' && *s != '-' && *s != '.')
            return 0;
    return 1;
}

static int lease_dir(char *out, size_t len, const char *run_dir, const char *id, gpx_error *err)
{
    if (!gpx_lease_id_valid(id))
        return gpx_error_set(err, GPX_E_INVALID, "invalid lease id '%.64s'", id ? id : "");
    if ((size_t)snprintf(out, len, "%s/containers/%s", run_dir, id) >= len)
        return gpx_error_set(err, GPX_E_INVALID, "run dir path too long: %.200s", run_dir);
    return 0;
}

int gpx_ctr_attach(const char *run_dir, const char *id, const char *ctr, int32_t pid,
                   gpx_error *err)
{
    char dir[PATH_MAX], path[PATH_MAX + 160];
    if (lease_dir(dir, sizeof dir, run_dir, id, err) < 0)
        return -1;
    if (!ctr_id_ok(ctr))
        return gpx_error_set(err, GPX_E_INVALID, "invalid container id '%.64s'", ctr ? ctr : "");
    if (pid <= 0)
        return gpx_error_set(err, GPX_E_INVALID, "container %s: no pid in the OCI state", ctr);
    snprintf(path, sizeof path, "%s/containers", run_dir);
    if ((mkdir(path, 0700) < 0 && errno != EEXIST) || (mkdir(dir, 0700) < 0 && errno != EEXIST))
        return gpx_error_errno(err, GPX_E_IO, errno, "creating %s", dir);
    snprintf(path, sizeof path, "%s/%s", dir, ctr);
    FILE *f = fopen(path, "we");
    if (!f)
        return gpx_error_errno(err, GPX_E_IO, errno, "creating %s", path);
    fprintf(f, "%" PRId32 " %" PRIu64 "\n", pid, gpx_lease_proc_start_ticks(pid));
    if (fclose(f) != 0)
        return gpx_error_errno(err, GPX_E_IO, errno, "writing %s", path);
    return 0;
}

int gpx_ctr_detach(const char *run_dir, const char *id, const char *ctr, gpx_error *err)
{
    char dir[PATH_MAX], path[PATH_MAX + 160];
    if (lease_dir(dir, sizeof dir, run_dir, id, err) < 0)
        return -1;
    if (!ctr_id_ok(ctr))
        return gpx_error_set(err, GPX_E_INVALID, "invalid container id '%.64s'", ctr ? ctr : "");
    snprintf(path, sizeof path, "%s/%s", dir, ctr);
    if (unlink(path) < 0 && errno != ENOENT)
        return gpx_error_errno(err, GPX_E_IO, errno, "removing %s", path);
    return 0;
}

static int rec_alive(int dfd, const char *name)
{
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    long long pid = 0;
    unsigned long long ticks = 0;
    if (sscanf(buf, "%lld %llu", &pid, &ticks) != 2 || pid <= 0 || pid > INT32_MAX)
        return 0;
    uint64_t now = gpx_lease_proc_start_ticks((int32_t)pid);
    return now != 0 && (ticks == 0 || now == ticks);
}

int gpx_ctr_alive(const char *run_dir, const char *id)
{
    char dir[PATH_MAX];
    if (lease_dir(dir, sizeof dir, run_dir, id, NULL) < 0)
        return -1;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int recs = 0, alive = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!ctr_id_ok(e->d_name))
            continue;
        recs++;
        alive += rec_alive(dirfd(d), e->d_name);
    }
    closedir(d);
    return recs ? alive : -1;
}

void gpx_ctr_forget(const char *run_dir, const char *id)
{
    char dir[PATH_MAX];
    if (lease_dir(dir, sizeof dir, run_dir, id, NULL) < 0)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (ctr_id_ok(e->d_name))
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
    rmdir(dir);
}
