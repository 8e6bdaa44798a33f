/*
 * The host's driver files for containers, found the way nvidia-container-toolkit
 * finds them (its internal/lookup: the ld.so cache, then well-known library
 * directories; binaries in well-known bin directories), in the subset
 * docs/containers.md states: fixed lists of SONAMEs and binary names, the
 * new-format /etc/ld.so.cache read directly (no `ldconfig -p` child, no hooks).
 */
#define _GNU_SOURCE
#include "cdi/cdi.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The user-space driver libraries a CUDA/NVML workload opens (by SONAME). */
static const char *const driver_libs[] = {
    "libcuda.so.1",
    "libnvidia-ml.so.1",
    "libnvidia-ptxjitcompiler.so.1",
    "libnvidia-nvvm.so.4",
    "libcudadebugger.so.1",
    "libnvidia-opencl.so.1",
    "libnvidia-cfg.so.1",
    "libnvidia-allocator.so.1",
    "libnvidia-pkcs11.so.1",
    "libnvidia-gpucomp.so.1",
    "libnvidia-fatbinaryloader.so.1",
};
/* The tools nvidia-ctk mounts with them. */
static const char *const driver_bins[] = {
    "nvidia-smi",
    "nvidia-debugdump",
    "nvidia-persistenced",
    "nvidia-cuda-mps-control",
    "nvidia-cuda-mps-server",
};
/* nvidia-ctk's library search path after the ld.so cache (internal/lookup/library.go). */
static const char *const lib_dirs[] = {
    "/usr/lib64",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib64",
    "/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib",
    "/lib",
};
static const char *const bin_dirs[] = {
    "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin",
};
#define N(a) (sizeof(a) / sizeof((a)[0]))

void gpx_cdi_files_free(struct gpx_cdi_files *f)
{
    for (unsigned i = 0; i < f->n; i++) {
        free(f->host[i]);
        free(f->container[i]);
    }
    free(f->host);
    free(f->container);
    memset(f, 0, sizeof *f);
}

/* Adds `path` (the container sees it there) with its resolved file; each target once. */
static int add_file(struct gpx_cdi_files *f, const char *path, gpx_error *err)
{
    char real[PATH_MAX];
    if (!realpath(path, real))
        return 0; /* a dangling link: skipped */
    for (unsigned i = 0; i < f->n; i++)
        if (strcmp(f->container[i], path) == 0)
            return 0;
    char **h = realloc(f->host, (f->n + 1) * sizeof *h);
    if (h)
        f->host = h;
    char **c = realloc(f->container, (f->n + 1) * sizeof *c);
    if (c)
        f->container = c;
    if (!h || !c)
        return gpx_error_set(err, GPX_E_NOMEM, "driver file list");
    f->host[f->n] = strdup(real);
    f->container[f->n] = strdup(path);
    if (!f->host[f->n] || !f->container[f->n]) {
        free(f->host[f->n]);
        free(f->container[f->n]);
        return gpx_error_set(err, GPX_E_NOMEM, "driver file list");
    }
    f->n++;
    return 0;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int in_dir(const char *dir, const char *name, char *out, size_t len)
{
    return (size_t)snprintf(out, len, "%s/%s", dir, name) < len && is_file(out);
}

/* --- the ld.so cache (glibc's new format, elf/cache.c) --------------------------------------- */

#define CACHE_MAGIC_NEW "glibc-ld.so.cache1.1"
struct cache_header {
    char magic[sizeof CACHE_MAGIC_NEW - 1];
    uint32_t nlibs, len_strings;
    uint8_t flags, pad[3];
    uint32_t extension_offset, unused[3];
};
struct cache_entry {
    int32_t flags;
    uint32_t key, value; /* offsets of NUL-terminated strings from the file's start */
    uint32_t osversion;
    uint64_t hwcap;
};
#define FLAG_ELF_LIBC6 0x0003
#if defined(__x86_64__)
#define FLAG_NATIVE 0x0300 /* FLAG_X8664_LIB64 */
#elif defined(__aarch64__)
#define FLAG_NATIVE 0x0a00 /* FLAG_AARCH64_LIB64 */
#else
#define FLAG_NATIVE 0x0000
#endif

static int cache_string(const char *base, size_t size, uint32_t off, const char **out)
{
    if (off >= size || !memchr(base + off, '\0', size - off))
        return -1;
    *out = base + off;
    return 0;
}

int gpx_cdi_ldcache_lookup(const char *cache, const char *soname, char *path, size_t len,
                           gpx_error *err)
{
    int fd = open(cache, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return gpx_error_errno(err, GPX_E_IO, errno, "opening %s", cache);
    struct stat st;
    if (fstat(fd, &st) < 0 || (size_t)st.st_size < sizeof(struct cache_header)) {
        close(fd);
        return gpx_error_set(err, GPX_E_STATE, "%s: too short for an ld.so cache", cache);
    }
    size_t size = (size_t)st.st_size;
    const char *base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (base == MAP_FAILED)
        return gpx_error_errno(err, GPX_E_IO, errno, "mapping %s", cache);
    const struct cache_header *h = (const void *)base;
    int rc = 0;
    if (memcmp(h->magic, CACHE_MAGIC_NEW, sizeof h->magic) != 0) {
        rc = gpx_error_set(err, GPX_E_STATE,
                           "%s: not a new-format ld.so cache (glibc >= 2.32 writes one)", cache);
    } else if (h->nlibs > (size - sizeof *h) / sizeof(struct cache_entry)) {
        rc = gpx_error_set(err, GPX_E_STATE, "%s: %u entries do not fit", cache, h->nlibs);
    } else {
        const struct cache_entry *e = (const void *)(base + sizeof *h);
        for (uint32_t i = 0; i < h->nlibs && rc == 0; i++) {
            const char *key, *value;
            if ((e[i].flags & 0xff) != FLAG_ELF_LIBC6 || (e[i].flags & 0xff00) != FLAG_NATIVE ||
                cache_string(base, size, e[i].key, &key) < 0 ||
                cache_string(base, size, e[i].value, &value) < 0 || strcmp(key, soname) != 0)
                continue;
            if ((size_t)snprintf(path, len, "%s", value) < len)
                rc = 1;
        }
    }
    munmap((void *)base, size);
    return rc;
}

/* --- the search ----------------------------------------------------------------------------- */

/* Each ':'-separated entry of `list`: a directory (searched) or a file (taken). */
static int each_entry(const char *list, int want_dirs, const char *name, char *out, size_t len,
                      struct gpx_cdi_files *f, gpx_error *err)
{
    if (!list || !*list)
        return 0;
    char *copy = strdup(list), *save = NULL;
    if (!copy)
        return gpx_error_set(err, GPX_E_NOMEM, "cdi_driver_libs");
    int rc = 0;
    for (char *p = strtok_r(copy, ":", &save); p && rc == 0; p = strtok_r(NULL, ":", &save)) {
        struct stat st;
        if (stat(p, &st) < 0)
            continue;
        if (want_dirs && name && S_ISDIR(st.st_mode) && in_dir(p, name, out, len))
            rc = 1;
        else if (!want_dirs && S_ISREG(st.st_mode) && add_file(f, p, err) < 0)
            rc = -1;
    }
    free(copy);
    return rc;
}

int gpx_cdi_find_driver_files(const struct gpx_cdi_opts *o, struct gpx_cdi_files *out,
                              gpx_error *err)
{
    memset(out, 0, sizeof *out);
    const char *cache = o->ld_cache && *o->ld_cache ? o->ld_cache : "/etc/ld.so.cache";
    int cache_ok = 1;
    char path[PATH_MAX];
    for (size_t i = 0; i < N(driver_libs); i++) {
        int found = each_entry(o->driver_libs, 1, driver_libs[i], path, sizeof path, out, err);
        if (found < 0)
            goto fail;
        if (!found && cache_ok) {
            gpx_error ce = {0};
            found = gpx_cdi_ldcache_lookup(cache, driver_libs[i], path, sizeof path, &ce);
            if (found < 0) {
                cache_ok = 0; /* said once; the directories below still serve */
                gpx_debug("cdi: %s; searching the library directories only", ce.msg);
                found = 0;
            } else if (found && !is_file(path)) {
                found = 0;
            }
        }
        for (size_t d = 0; !found && d < N(lib_dirs); d++)
            found = in_dir(lib_dirs[d], driver_libs[i], path, sizeof path);
        if (found && add_file(out, path, err) < 0)
            goto fail;
    }
    for (size_t i = 0; i < N(driver_bins); i++)
        for (size_t d = 0; d < N(bin_dirs); d++)
            if (in_dir(bin_dirs[d], driver_bins[i], path, sizeof path)) {
                if (add_file(out, path, err) < 0)
                    goto fail;
                break;
            }
    if (each_entry(o->driver_libs, 0, NULL, path, sizeof path, out, err) < 0)
        goto fail;
    return 0;
fail:
    gpx_cdi_files_free(out);
    return -1;
}

/* --- MIG capability nodes ------------------------------------------------------------------- */

static int read_minor(const char *path, unsigned *minor)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    char line[128];
    int rc = -1;
    while (rc < 0 && fgets(line, sizeof line, f))
        if (sscanf(line, "DeviceFileMinor: %u", minor) == 1)
            rc = 0;
    fclose(f);
    return rc;
}

unsigned gpx_cdi_mig_caps(const char *caps_root, unsigned gpu_minor, unsigned gi, unsigned ci,
                          unsigned minors[2])
{
    const char *root = caps_root && *caps_root ? caps_root : "/proc/driver/nvidia/capabilities";
    char path[PATH_MAX];
    unsigned n = 0;
    snprintf(path, sizeof path, "%s/gpu%u/mig/gi%u/access", root, gpu_minor, gi);
    if (read_minor(path, &minors[n]) == 0)
        n++;
    snprintf(path, sizeof path, "%s/gpu%u/mig/gi%u/ci%u/access", root, gpu_minor, gi, ci);
    if (read_minor(path, &minors[n]) == 0)
        n++;
    return n;
}
