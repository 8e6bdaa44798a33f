/*
 * The vendor-vfio backend: NVIDIA vGPU 17+ on Ada, Hopper and Blackwell with
 * kernel 6.8+, where vGPUs are SR-IOV virtual functions and there is no mdev.
 * The PF's sriov_numvfs enables the VFs (NVIDIA's sriov-manage does the same);
 * each VF has nvidia/creatable_vgpu_types (a header line, then "ID : name"
 * lines: the types this VF can take now), nvidia/current_vgpu_type (write a
 * type id to make the vGPU, 0 to remove it) and, for MIG-backed types, an
 * nvidia/gpu_instance_id that pins it to a GPU instance.
 *
 * The VFs stay bound to the nvidia driver, which is their VFIO provider
 * (binding them to vfio-pci fails): the VM gets the VF as an unmanaged PCI
 * hostdev. After a host reboot the VFs are gone and current_vgpu_type is 0:
 * restore enables them again and sets the same type on the same VF, so the
 * domain's XML (the VF's address) holds.
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "vm/internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void dev_path(char *out, size_t len, const char *bdf, const char *attr)
{
    snprintf(out, len, "bus/pci/devices/%s/%s", bdf, attr);
}

static unsigned read_u(const char *bdf, const char *attr)
{
    char p[GPX__SYSFS_PATH];
    unsigned long v = 0;
    dev_path(p, sizeof p, bdf, attr);
    return gpx__sysfs_read_ulong(p, &v) == 0 ? (unsigned)v : 0;
}

/* The bdf of the PF's i-th VF, from its virtfnN link. */
static int vf_bdf(const char *pf, unsigned i, char out[GPX_VM_BDF_MAX])
{
    char p[GPX__SYSFS_PATH], a[24];
    snprintf(a, sizeof a, "virtfn%u", i);
    dev_path(p, sizeof p, pf, a);
    return gpx__sysfs_link_base(p, out, GPX_VM_BDF_MAX);
}

static int vf_detect(const char *bdf)
{
    if (read_u(bdf, "sriov_totalvfs") == 0)
        return 0;
    char vf[GPX_VM_BDF_MAX], p[GPX__SYSFS_PATH], drv[GPX_VM_NAME_MAX];
    if (read_u(bdf, "sriov_numvfs") > 0 && vf_bdf(bdf, 0, vf) == 0) {
        dev_path(p, sizeof p, vf, "nvidia/creatable_vgpu_types");
        return gpx__sysfs_exists(p);
    }
    /* VFs not enabled (after a reboot): the vGPU manager's driver on an SR-IOV GPU */
    gpx__pci_driver(bdf, drv, sizeof drv);
    return strcmp(drv, "nvidia") == 0;
}

static int read_creatable(const char *vf, struct gpx_vm_type_list *out, gpx_error *err)
{
    char p[GPX__SYSFS_PATH], text[8192];
    dev_path(p, sizeof p, vf, "nvidia/creatable_vgpu_types");
    if (gpx__sysfs_read(p, text, sizeof text) < 0)
        return gpx_error_errno(err, GPX_E_IO, errno, "reading %s/%s", gpx_vm_sysfs_root(), p);
    return gpx_vm_parse_creatable(text, out, err);
}

static int vf_types(const char *bdf, struct gpx_vm_type_list *out, gpx_error *err)
{
    memset(out, 0, sizeof *out);
    unsigned n = read_u(bdf, "sriov_numvfs");
    for (unsigned i = 0; i < n; i++) {
        char vf[GPX_VM_BDF_MAX];
        if (vf_bdf(bdf, i, vf) < 0 || read_u(vf, "nvidia/current_vgpu_type") != 0)
            continue;
        struct gpx_vm_type_list one;
        if (read_creatable(vf, &one, err) < 0) {
            gpx_vm_type_list_free(out);
            return -1;
        }
        /* a type creatable on k free VFs has k instances available */
        for (size_t t = 0; t < one.n; t++) {
            size_t k = 0;
            while (k < out->n && strcmp(out->types[k].id, one.types[t].id) != 0)
                k++;
            if (k < out->n) {
                out->types[k].available++;
                continue;
            }
            one.types[t].available = 1;
            if (gpx__type_push(out, &one.types[t]) < 0) {
                gpx_vm_type_list_free(&one);
                gpx_vm_type_list_free(out);
                return gpx_error_set(err, GPX_E_NOMEM, "listing vGPU types");
            }
        }
        gpx_vm_type_list_free(&one);
    }
    return 0;
}

/* Enables the PF's VFs when none are (the first vGPU, or after a reboot): 1 when it did,
 * 0 when they were there. */
static int enable_vfs(const char *pf, unsigned want, const struct gpx_vm_journal *j,
                      const char *lease_id, gpx_error *err)
{
    unsigned total = read_u(pf, "sriov_totalvfs"), have = read_u(pf, "sriov_numvfs");
    if (have > 0)
        return 0;
    if (total == 0)
        return gpx_error_set(err, GPX_E_INVALID, "%s has no SR-IOV (sriov_totalvfs 0)", pf);
    if (want == 0 || want > total)
        want = total;
    char p[GPX__SYSFS_PATH], v[24];
    snprintf(v, sizeof v, "%u", want);
    dev_path(p, sizeof p, pf, "sriov_numvfs");
    gpx_info("vm: enabling %u SR-IOV VFs on %s", want, pf);
    if (gpx__sysfs_write(j, lease_id, p, v, "0", err) < 0)
        return -1;
    snprintf(v, sizeof v, "virtfn%u", want - 1);
    dev_path(p, sizeof p, pf, v);
    char vf[GPX_VM_BDF_MAX];
    int rc = gpx__sysfs_wait_exists(p, 1, err);
    if (rc == 0 && vf_bdf(pf, want - 1, vf) < 0)
        rc = gpx_error_errno(err, GPX_E_IO, errno, "reading %s's VF %u", pf, want - 1);
    if (rc == 0) {
        dev_path(p, sizeof p, vf, "nvidia/creatable_vgpu_types");
        rc = gpx__sysfs_wait_exists(p, 1, err);
    }
    if (rc < 0) {
        /* no vGPU manager behind these VFs: as they were */
        dev_path(p, sizeof p, pf, "sriov_numvfs");
        gpx__sysfs_write(j, lease_id, p, "0", NULL, NULL);
        return gpx_error_wrap(err,
                              "%s's VFs have no nvidia/creatable_vgpu_types (is the vGPU "
                              "manager installed?)",
                              pf);
    }
    return 1;
}

static int set_type(const char *vf, unsigned id, int gi, const struct gpx_vm_journal *j,
                    const char *lease_id, gpx_error *err)
{
    char p[GPX__SYSFS_PATH], v[16];
    if (gi >= 0) {
        dev_path(p, sizeof p, vf, "nvidia/gpu_instance_id");
        if (gpx__sysfs_exists(p)) {
            snprintf(v, sizeof v, "%d", gi);
            if (gpx__sysfs_write(j, lease_id, p, v, NULL, err) < 0)
                return -1;
        }
    }
    snprintf(v, sizeof v, "%u", id);
    dev_path(p, sizeof p, vf, "nvidia/current_vgpu_type");
    return gpx__sysfs_write(j, lease_id, p, v, "0", err);
}

static int vf_acquire(const char *bdf, const struct gpx_vm_request *req,
                      const struct gpx_vm_journal *j, struct gpx_vm_hold *out, gpx_error *err)
{
    if (!req->type || !*req->type)
        return gpx_error_set(err, GPX_E_INVALID, "field 'vgpu_type': a vGPU type is needed");
    int enabled = enable_vfs(bdf, 0, j, req->lease_id, err);
    if (enabled < 0)
        return gpx_error_wrap(err, "enabling the VFs of %s", bdf);
    unsigned n = read_u(bdf, "sriov_numvfs");
    for (unsigned i = 0; i < n; i++) {
        char vf[GPX_VM_BDF_MAX];
        struct gpx_vm_type_list l;
        if (vf_bdf(bdf, i, vf) < 0 || read_u(vf, "nvidia/current_vgpu_type") != 0)
            continue;
        if (read_creatable(vf, &l, err) < 0)
            return -1;
        const struct gpx_vm_type *t = NULL;
        for (size_t k = 0; k < l.n && !t; k++)
            if (strcmp(l.types[k].name, req->type) == 0 || strcmp(l.types[k].id, req->type) == 0)
                t = &l.types[k];
        if (!t) {
            gpx_vm_type_list_free(&l);
            continue;
        }
        memset(out, 0, sizeof *out);
        out->backend = GPX_VM_VENDOR_VFIO;
        snprintf(out->gpu_bdf, sizeof out->gpu_bdf, "%s", bdf);
        snprintf(out->vf_bdf, sizeof out->vf_bdf, "%s", vf);
        snprintf(out->type_name, sizeof out->type_name, "%s", t->name);
        out->vgpu_type_id = (unsigned)strtoul(t->id, NULL, 10);
        out->gpu_instance_id = t->mig_backed ? req->gpu_instance_id : -1;
        gpx_vm_type_list_free(&l);
        return set_type(vf, out->vgpu_type_id, out->gpu_instance_id, j, req->lease_id, err);
    }
    if (enabled) { /* this acquire enabled them for nothing: as they were */
        char p[GPX__SYSFS_PATH];
        dev_path(p, sizeof p, bdf, "sriov_numvfs");
        gpx__sysfs_write(j, req->lease_id, p, "0", NULL, NULL);
    }
    return gpx_error_set(err, GPX_E_NO_SPACE,
                         "vGPU type '%s' on %s: no free VF can take it now (see "
                         "GET /v1/gpus/{id}/vgpu-types for what is available)",
                         req->type, bdf);
}

static int vf_release(const struct gpx_vm_hold *h, const struct gpx_vm_journal *j,
                      const char *lease_id, gpx_error *err)
{
    if (read_u(h->vf_bdf, "nvidia/current_vgpu_type") != h->vgpu_type_id)
        return 0; /* gone already (a reboot, or given back before) */
    char p[GPX__SYSFS_PATH];
    dev_path(p, sizeof p, h->vf_bdf, "nvidia/current_vgpu_type");
    return gpx__sysfs_write(j, lease_id, p, "0", NULL, err);
}

static int vf_restore(const struct gpx_vm_hold *h, const struct gpx_vm_journal *j,
                      const char *lease_id, gpx_error *err)
{
    if (enable_vfs(h->gpu_bdf, 0, j, lease_id, err) < 0)
        return gpx_error_wrap(err, "enabling the VFs of %s again", h->gpu_bdf);
    char p[GPX__SYSFS_PATH];
    dev_path(p, sizeof p, h->vf_bdf, "nvidia/current_vgpu_type");
    if (gpx__sysfs_wait_exists(p, 1, err) < 0)
        return gpx_error_wrap(err, "VF %s of %s", h->vf_bdf, h->gpu_bdf);
    unsigned now = read_u(h->vf_bdf, "nvidia/current_vgpu_type");
    if (now == h->vgpu_type_id)
        return 0;
    if (now != 0)
        return gpx_error_set(err, GPX_E_BUSY, "VF %s holds vGPU type %u, not %u", h->vf_bdf, now,
                             h->vgpu_type_id);
    gpx_info("vm: setting vGPU type %u (%s) on %s again", h->vgpu_type_id, h->type_name, h->vf_bdf);
    return set_type(h->vf_bdf, h->vgpu_type_id, h->gpu_instance_id, j, lease_id, err);
}

const struct gpx__vm_backend gpx__vm_vendor_vfio = {
    .kind = GPX_VM_VENDOR_VFIO,
    .name = "vendor-vfio",
    .detect = vf_detect,
    .types = vf_types,
    .acquire = vf_acquire,
    .release = vf_release,
    .restore = vf_restore,
};
