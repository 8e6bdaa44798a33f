/*
 * sysfs access for the VM backends: every read and write goes through the root
 * GPUPLEX_SYSFS_ROOT (default /sys), so that tests run against the tree
 * `gpuplex sim init --sysfs DIR` writes, with sim/kernel.c playing the kernel.
 *
 * Writes are journaled first (struct gpx_vm_journal): the daemon records each
 * one in its store before the file is touched, which is what lets a restarted
 * daemon undo the writes of an acquire that never committed.
 *
 * Writes never create files (real sysfs attributes exist or the write is
 * meaningless); a kernel that refuses a write answers with errno, which the
 * error names with the path.
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "vm/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *gpx_vm_sysfs_root(void)
{
    const char *r = getenv("GPUPLEX_SYSFS_ROOT");
    return r && *r ? r : "/sys";
}

static int full(const char *rel, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/%s", gpx_vm_sysfs_root(), rel);
    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int gpx__sysfs_read(const char *rel, char *buf, size_t len)
{
    char p[PATH_MAX];
    if (len == 0 || full(rel, p, sizeof p) < 0)
        return -1;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    while (got + 1 < len) {
        ssize_t r = read(fd, buf + got, len - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == ' ' || buf[got - 1] == '\t'))
        buf[--got] = '\0';
    return 0;
}

int gpx__sysfs_read_ulong(const char *rel, unsigned long *out)
{
    char b[64];
    if (gpx__sysfs_read(rel, b, sizeof b) < 0)
        return -1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(b, &end, 0);
    if (errno || end == b || *end)
        return -1;
    *out = v;
    return 0;
}

int gpx__sysfs_exists(const char *rel)
{
    char p[PATH_MAX];
    /* the last component itself, a link counting even where its target is gone: the
     * kernel makes and removes a device's links atomically, a file tree does not */
    return full(rel, p, sizeof p) == 0 && faccessat(AT_FDCWD, p, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int gpx__sysfs_link_base(const char *rel, char *out, size_t len)
{
    char p[PATH_MAX], t[PATH_MAX];
    if (full(rel, p, sizeof p) < 0)
        return -1;
    ssize_t n = readlink(p, t, sizeof t - 1);
    if (n < 0)
        return -1;
    t[n] = '\0';
    const char *b = strrchr(t, '/');
    b = b ? b + 1 : t;
    if (strlen(b) >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(out, b);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void gpx__sysfs_list_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int gpx__sysfs_list(const char *rel, char ***names, size_t *n)
{
    char p[PATH_MAX];
    *names = NULL;
    *n = 0;
    if (full(rel, p, sizeof p) < 0)
        return -1;
    DIR *d = opendir(p);
    if (!d)
        return -1;
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nv = realloc(v, nc * sizeof *nv);
            if (!nv)
                goto oom;
            v = nv;
            cap = nc;
        }
        if (!(v[cnt] = strdup(de->d_name)))
            goto oom;
        cnt++;
    }
    closedir(d);
    if (cnt)
        qsort(v, cnt, sizeof *v, cmp_names);
    *names = v;
    *n = cnt;
    return 0;
oom:
    closedir(d);
    gpx__sysfs_list_free(v, cnt);
    errno = ENOMEM;
    return -1;
}

/*
 * GPUPLEXD_FAULT=after_sysfs_write[:N]: the process exits (137, as SIGKILL) right after its
 * N-th sysfs write (default 1), before anything is committed: the crash-safety tests' fault
 * point, built into the product like the engine's after_mig_create (docs/daemon.md).
 */
static void fault_point(void)
{
    static long writes;
    const char *f = getenv("GPUPLEXD_FAULT");
    const char *point = "after_sysfs_write";
    if (!f || strncmp(f, point, strlen(point)) != 0)
        return;
    const char *n = f + strlen(point);
    long at = *n == ':' ? strtol(n + 1, NULL, 10) : *n ? 0 : 1;
    if (at > 0 && ++writes == at) {
        gpx_warn("GPUPLEXD_FAULT: exiting after sysfs write %ld", at);
        _exit(137);
    }
}

int gpx__sysfs_write(const struct gpx_vm_journal *j, const char *lease_id, const char *rel,
                     const char *value, const char *undo, gpx_error *err)
{
    if (j && j->record) {
        struct gpx_vm_change c = {.path = rel, .value = value, .undo = undo};
        if (j->record(j->ctx, lease_id ? lease_id : "", &c, err) < 0)
            return gpx_error_wrap(err, "journaling the write of '%s' to %s", value, rel);
    }
    char p[PATH_MAX];
    if (full(rel, p, sizeof p) < 0)
        return gpx_error_errno(err, GPX_E_IO, errno, "%s", rel);
    int fd = open(p, O_WRONLY | O_CLOEXEC | O_TRUNC);
    if (fd < 0)
        return gpx_error_errno(err, GPX_E_IO, errno, "writing '%s' to %s", value, p);
    size_t len = strlen(value);
    ssize_t w;
    do
        w = write(fd, value, len);
    while (w < 0 && errno == EINTR);
    int e = errno;
    if (close(fd) < 0 && w >= 0) {
        e = errno;
        w = -1;
    }
    if (w < 0 || (size_t)w != len)
        return gpx_error_errno(err, GPX_E_IO, w < 0 ? e : EIO, "writing '%s' to %s", value, p);
    gpx_debug("sysfs: wrote '%s' to %s", value, rel);
    fault_point();
    return 0;
}

void gpx__pci_driver(const char *bdf, char *out, size_t len)
{
    char rel[GPX__SYSFS_PATH];
    snprintf(rel, sizeof rel, "bus/pci/devices/%s/driver", bdf);
    if (gpx__sysfs_link_base(rel, out, len) < 0 && len)
        out[0] = '\0';
}

static long settle_ms(void)
{
    const char *s = getenv("GPUPLEX_SYSFS_SETTLE_MS");
    long v = s ? strtol(s, NULL, 10) : 0;
    return v > 0 ? v : 5000;
}

static void nap(void)
{
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

int gpx__sysfs_wait_driver(const char *bdf, const char *driver, gpx_error *err)
{
    char now[GPX_VM_NAME_MAX];
    for (long waited = 0;; waited += 5) {
        gpx__pci_driver(bdf, now, sizeof now);
        if (strcmp(now, driver) == 0)
            return 0;
        if (waited >= settle_ms())
            break;
        nap();
    }
    return gpx_error_set(
        err, GPX_E_DRIVER, "%s: driver is '%s', expected '%s' (the kernel did not %s)", bdf,
        now[0] ? now : "none", driver[0] ? driver : "none", driver[0] ? "bind it" : "unbind it");
}

int gpx__sysfs_wait_exists(const char *rel, int want, gpx_error *err)
{
    for (long waited = 0;; waited += 5) {
        if (gpx__sysfs_exists(rel) == !!want)
            return 0;
        if (waited >= settle_ms())
            break;
        nap();
    }
    return gpx_error_set(err, GPX_E_DRIVER, "%s/%s: still %s after %ld ms", gpx_vm_sysfs_root(),
                         rel, want ? "absent" : "present", settle_ms());
}

int gpx__sysfs_wait_bound(const char *bdf)
{
    char now[GPX_VM_NAME_MAX];
    for (long waited = 0;; waited += 5) {
        gpx__pci_driver(bdf, now, sizeof now);
        if (now[0])
            return 0;
        if (waited >= settle_ms())
            return -1;
        nap();
    }
}
