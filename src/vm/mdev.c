/*
 * The mdev backend: NVIDIA vGPU up to Ampere (A100, A30, A10...), where the
 * vGPU manager registers the GPU as a mediated-device parent. Types are the
 * directories of /sys/class/mdev_bus/<bdf>/mdev_supported_types, each with
 * name, description and available_instances; writing a UUID to a type's
 * `create` makes a vGPU (/sys/bus/mdev/devices/<uuid>), writing 1 to its
 * `remove` destroys it. The VM gets <hostdev type='mdev'> with the UUID.
 *
 * available_instances is the driver's word on capacity (it drops to 0 for the
 * other types once a GPU holds vGPUs of one): acquire refuses a type at 0
 * rather than letting the kernel fail the write. A restore after a host
 * reboot re-creates the vGPU with the same UUID, so the domain's XML holds.
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "vm/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void types_dir(char *out, size_t len, const char *bdf)
{
    snprintf(out, len, "class/mdev_bus/%s/mdev_supported_types", bdf);
}

static int md_detect(const char *bdf)
{
    char p[GPX__SYSFS_PATH];
    types_dir(p, sizeof p, bdf);
    return gpx__sysfs_exists(p);
}

static void flatten(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\t')
            *s = ' ';
}

static int md_types(const char *bdf, struct gpx_vm_type_list *out, gpx_error *err)
{
    char p[2 * GPX__SYSFS_PATH], d[GPX__SYSFS_PATH];
    char **names;
    size_t n;
    memset(out, 0, sizeof *out);
    types_dir(d, sizeof d, bdf);
    if (gpx__sysfs_list(d, &names, &n) < 0)
        return gpx_error_errno(err, GPX_E_IO, errno, "listing %s/%s", gpx_vm_sysfs_root(), d);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct gpx_vm_type t = {0};
        unsigned long avail = 0;
        snprintf(t.id, sizeof t.id, "%s", names[i]);
        snprintf(p, sizeof p, "%s/%s/name", d, names[i]);
        if (gpx__sysfs_read(p, t.name, sizeof t.name) < 0)
            snprintf(t.name, sizeof t.name, "%s", names[i]);
        snprintf(p, sizeof p, "%s/%s/description", d, names[i]);
        if (gpx__sysfs_read(p, t.description, sizeof t.description) == 0)
            flatten(t.description);
        snprintf(p, sizeof p, "%s/%s/available_instances", d, names[i]);
        if (gpx__sysfs_read_ulong(p, &avail) == 0)
            t.available = (unsigned)avail;
        t.framebuffer_mib = gpx_vm_type_framebuffer_mib(t.name);
        if (gpx__type_push(out, &t) < 0)
            rc = gpx_error_set(err, GPX_E_NOMEM, "listing vGPU types");
    }
    gpx__sysfs_list_free(names, n);
    if (rc < 0)
        gpx_vm_type_list_free(out);
    return rc;
}

static int new_uuid(char out[GPX_VM_UUID_MAX], gpx_error *err)
{
    int fd = open("/proc/sys/kernel/random/uuid", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, out, 36);
    if (fd >= 0)
        close(fd);
    if (n != 36)
        return gpx_error_errno(err, GPX_E_IO, errno, "making a UUID for the vGPU");
    out[36] = '\0';
    return 0;
}

static int create(const char *bdf, const char *type, const char *uuid,
                  const struct gpx_vm_journal *j, const char *lease_id, gpx_error *err)
{
    char p[GPX__SYSFS_PATH];
    unsigned long avail = 0;
    types_dir(p, sizeof p, bdf);
    size_t used = strlen(p);
    snprintf(p + used, sizeof p - used, "/%s/available_instances", type);
    if (gpx__sysfs_read_ulong(p, &avail) < 0)
        return gpx_error_set(err, GPX_E_NOT_FOUND, "%s offers no vGPU type %s", bdf, type);
    if (avail == 0)
        return gpx_error_set(err, GPX_E_NO_SPACE,
                             "vGPU type %s on %s: no instance available (available_instances 0)",
                             type, bdf);
    snprintf(p + used, sizeof p - used, "/%s/create", type);
    if (gpx__sysfs_write(j, lease_id, p, uuid, NULL, err) < 0)
        return -1;
    snprintf(p, sizeof p, "bus/mdev/devices/%s", uuid);
    return gpx__sysfs_wait_exists(p, 1, err);
}

static int md_acquire(const char *bdf, const struct gpx_vm_request *req,
                      const struct gpx_vm_journal *j, struct gpx_vm_hold *out, gpx_error *err)
{
    struct gpx_vm_type_list l;
    if (!req->type || !*req->type)
        return gpx_error_set(err, GPX_E_INVALID, "field 'vgpu_type': a vGPU type is needed");
    if (md_types(bdf, &l, err) < 0)
        return -1;
    const struct gpx_vm_type *t = NULL;
    for (size_t i = 0; i < l.n && !t; i++)
        if (strcmp(l.types[i].name, req->type) == 0 || strcmp(l.types[i].id, req->type) == 0)
            t = &l.types[i];
    if (!t) {
        gpx_error_set(err, GPX_E_INVALID,
                      "field 'vgpu_type': %s offers no type '%s' (see "
                      "GET /v1/gpus/{id}/vgpu-types)",
                      bdf, req->type);
        gpx_vm_type_list_free(&l);
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->backend = GPX_VM_MDEV;
    out->gpu_instance_id = -1;
    snprintf(out->gpu_bdf, sizeof out->gpu_bdf, "%s", bdf);
    snprintf(out->mdev_type, sizeof out->mdev_type, "%s", t->id);
    snprintf(out->type_name, sizeof out->type_name, "%s", t->name);
    gpx_vm_type_list_free(&l);
    if (new_uuid(out->mdev_uuid, err) < 0)
        return -1;
    return create(bdf, out->mdev_type, out->mdev_uuid, j, req->lease_id, err);
}

static int md_release(const struct gpx_vm_hold *h, const struct gpx_vm_journal *j,
                      const char *lease_id, gpx_error *err)
{
    char p[GPX__SYSFS_PATH];
    snprintf(p, sizeof p, "bus/mdev/devices/%s", h->mdev_uuid);
    if (!gpx__sysfs_exists(p))
        return 0;
    snprintf(p, sizeof p, "bus/mdev/devices/%s/remove", h->mdev_uuid);
    if (gpx__sysfs_write(j, lease_id, p, "1", NULL, err) < 0)
        return -1;
    snprintf(p, sizeof p, "bus/mdev/devices/%s", h->mdev_uuid);
    return gpx__sysfs_wait_exists(p, 0, err);
}

static int md_restore(const struct gpx_vm_hold *h, const struct gpx_vm_journal *j,
                      const char *lease_id, gpx_error *err)
{
    char p[GPX__SYSFS_PATH];
    snprintf(p, sizeof p, "bus/mdev/devices/%s", h->mdev_uuid);
    if (gpx__sysfs_exists(p))
        return 0;
    gpx_info("vm: re-creating vGPU %s (%s) on %s", h->mdev_uuid, h->type_name, h->gpu_bdf);
    return create(h->gpu_bdf, h->mdev_type, h->mdev_uuid, j, lease_id, err);
}

const struct gpx__vm_backend gpx__vm_mdev = {
    .kind = GPX_VM_MDEV,
    .name = "mdev",
    .detect = md_detect,
    .types = md_types,
    .acquire = md_acquire,
    .release = md_release,
    .restore = md_restore,
};
