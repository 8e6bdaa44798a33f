/*
 * The passthrough backend: a whole GPU, with every endpoint of its IOMMU group
 * that is a function of the GPU (its HDMI/DP audio function), bound to vfio-pci
 * for a VM that gets it as <hostdev type='pci' managed='no'>.
 *
 * The group decides what can be passed through: VFIO hands a group to one user
 * as a whole, so another endpoint in it that a host driver holds (a NIC behind
 * the same switch without ACS) blocks the lease; bridges (class 0x0604, on
 * pcieport) are tolerated, as the kernel does. Binding follows libvirt
 * (virPCIDeviceBindToStub): driver_override "vfio-pci", unbind from the host
 * driver, drivers_probe; a device already on vfio-pci is left as found. Giving
 * back is the mirror: clear driver_override, unbind from vfio-pci, drivers_probe,
 * which returns it to the driver it had.
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "vm/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void dev_path(char *out, size_t len, const char *bdf, const char *attr)
{
    snprintf(out, len, "bus/pci/devices/%s/%s", bdf, attr);
}

/* "0000:3b:00.1" and "0000:3b:00.0" are functions of one device (same slot). */
static int same_slot(const char *a, const char *b)
{
    const char *da = strrchr(a, '.'), *db = strrchr(b, '.');
    return da && db && da - a == db - b && strncmp(a, b, (size_t)(da - a)) == 0;
}

static void read_member(const char *bdf, struct gpx_vm_member *m)
{
    char p[GPX__SYSFS_PATH];
    unsigned long v;
    memset(m, 0, sizeof *m);
    snprintf(m->bdf, sizeof m->bdf, "%s", bdf);
    gpx__pci_driver(bdf, m->driver, sizeof m->driver);
    dev_path(p, sizeof p, bdf, "class");
    if (gpx__sysfs_read_ulong(p, &v) == 0)
        m->pci_class = (unsigned)v;
    dev_path(p, sizeof p, bdf, "vendor");
    if (gpx__sysfs_read_ulong(p, &v) == 0)
        m->vendor = (unsigned)v;
    dev_path(p, sizeof p, bdf, "device");
    if (gpx__sysfs_read_ulong(p, &v) == 0)
        m->device = (unsigned)v;
    m->bridge = (m->pci_class >> 8) == 0x0604;
}

/* The first blocker found is the one `vm check` and a refusal name. */
__attribute__((format(printf, 2, 3))) static void why(struct gpx_vm_probe *out, const char *fmt,
                                                      ...)
{
    if (!out->passthrough_ok)
        return;
    out->passthrough_ok = false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->why_not, sizeof out->why_not, fmt, ap);
    va_end(ap);
}

int gpx__passthrough_probe(const char *bdf, struct gpx_vm_probe *out, gpx_error *err)
{
    char p[GPX__SYSFS_PATH], grp[32];
    memset(out, 0, sizeof *out);
    snprintf(out->bdf, sizeof out->bdf, "%s", bdf);
    out->iommu_group = -1;
    dev_path(p, sizeof p, bdf, "vendor");
    if (!gpx__sysfs_exists(p))
        return gpx_error_set(err, GPX_E_NOT_FOUND, "no PCI device %s under %s/bus/pci/devices", bdf,
                             gpx_vm_sysfs_root());
    unsigned long v;
    dev_path(p, sizeof p, bdf, "sriov_totalvfs");
    if (gpx__sysfs_read_ulong(p, &v) == 0)
        out->sriov_totalvfs = (unsigned)v;
    dev_path(p, sizeof p, bdf, "sriov_numvfs");
    if (gpx__sysfs_read_ulong(p, &v) == 0)
        out->sriov_numvfs = (unsigned)v;
    out->passthrough_ok = true;
    dev_path(p, sizeof p, bdf, "iommu_group");
    if (gpx__sysfs_link_base(p, grp, sizeof grp) < 0) {
        /* still list the GPU itself, so `vm check` shows its driver */
        read_member(bdf, &out->members[0]);
        out->nmembers = 1;
        why(out,
            "%s has no IOMMU group: turn the IOMMU on (intel_iommu=on or amd_iommu=on, "
            "and iommu=pt, on the kernel command line)",
            bdf);
        return 0;
    }
    out->iommu_group = atoi(grp);
    char **names;
    size_t n;
    snprintf(p, sizeof p, "kernel/iommu_groups/%s/devices", grp);
    if (gpx__sysfs_list(p, &names, &n) < 0)
        return gpx_error_errno(err, GPX_E_IO, errno, "listing %s/%s", gpx_vm_sysfs_root(), p);
    /* the GPU first: the order acquire binds in and `vm check` shows */
    read_member(bdf, &out->members[out->nmembers++]);
    for (size_t i = 0; i < n && out->nmembers < GPX_VM_GROUP_MAX; i++)
        if (strcmp(names[i], bdf) != 0)
            read_member(names[i], &out->members[out->nmembers++]);
    if (n > GPX_VM_GROUP_MAX)
        why(out, "IOMMU group of %s has more than %d endpoints", bdf, GPX_VM_GROUP_MAX);
    gpx__sysfs_list_free(names, n);

    for (size_t i = 0; i < out->nmembers; i++) {
        struct gpx_vm_member *m = &out->members[i];
        if (m->bridge || same_slot(m->bdf, bdf) || !m->driver[0])
            continue;
        /* another endpoint a host driver holds: VFIO would take it from the host */
        m->blocker = true;
        why(out,
            "%s shares IOMMU group %d with %s, which host driver %s holds: unbind it, or "
            "move the GPU to a slot with its own group (ACS)",
            bdf, out->iommu_group, m->bdf, m->driver);
    }
    if (out->sriov_numvfs > 0)
        why(out, "%s has %u SR-IOV virtual functions enabled (vGPUs): disable them first", bdf,
            out->sriov_numvfs);
    if (!gpx__sysfs_exists("bus/pci/drivers/vfio-pci"))
        why(out, "the vfio-pci driver is not loaded (modprobe vfio-pci)");
    return 0;
}

/* Binds one device to vfio-pci the way libvirt does; nothing when it is there already. */
static int bind_vfio(const char *bdf, const char *orig, const struct gpx_vm_journal *j,
                     const char *lease_id, gpx_error *err)
{
    char p[GPX__SYSFS_PATH];
    if (strcmp(orig, "vfio-pci") == 0)
        return 0;
    dev_path(p, sizeof p, bdf, "driver_override");
    if (gpx__sysfs_write(j, lease_id, p, "vfio-pci", NULL, err) < 0)
        return -1;
    if (orig[0]) {
        snprintf(p, sizeof p, "bus/pci/drivers/%s/unbind", orig);
        if (gpx__sysfs_write(j, lease_id, p, bdf, NULL, err) < 0 ||
            gpx__sysfs_wait_driver(bdf, "", err) < 0)
            return -1;
    }
    if (gpx__sysfs_write(j, lease_id, "bus/pci/drivers_probe", bdf, NULL, err) < 0 ||
        gpx__sysfs_wait_driver(bdf, "vfio-pci", err) < 0)
        return -1;
    return 0;
}

int gpx__pci_give_back(const char *bdf, const char *orig, const struct gpx_vm_journal *j,
                       const char *lease_id, gpx_error *err)
{
    char p[GPX__SYSFS_PATH], ov[GPX_VM_NAME_MAX], now[GPX_VM_NAME_MAX];
    if (orig && strcmp(orig, "vfio-pci") == 0)
        return 0; /* it was there before the lease: leave it */
    dev_path(p, sizeof p, bdf, "driver_override");
    if (gpx__sysfs_read(p, ov, sizeof ov) == 0 && ov[0] && strcmp(ov, "(null)") != 0 &&
        gpx__sysfs_write(j, lease_id, p, "\n", NULL, err) < 0)
        return -1;
    gpx__pci_driver(bdf, now, sizeof now);
    if (strcmp(now, "vfio-pci") == 0) {
        if (gpx__sysfs_write(j, lease_id, "bus/pci/drivers/vfio-pci/unbind", bdf, NULL, err) < 0 ||
            gpx__sysfs_wait_driver(bdf, "", err) < 0)
            return -1;
        now[0] = '\0';
    }
    if (now[0] || (orig && !orig[0]))
        return 0; /* on a host driver already, or it had none */
    if (gpx__sysfs_write(j, lease_id, "bus/pci/drivers_probe", bdf, NULL, err) < 0)
        return -1;
    if (orig)
        return gpx__sysfs_wait_driver(bdf, orig, err);
    /* unknown original driver: the kernel picks one; wait for it, not for a name */
    return gpx__sysfs_wait_bound(bdf);
}

static int pt_detect(const char *bdf)
{
    char p[GPX__SYSFS_PATH];
    dev_path(p, sizeof p, bdf, "iommu_group");
    return gpx__sysfs_exists(p);
}

static int pt_release(const struct gpx_vm_hold *h, const struct gpx_vm_journal *j,
                      const char *lease_id, gpx_error *err)
{
    int rc = 0;
    for (size_t i = h->npci; i-- > 0;) {
        gpx_error e = {0};
        if (gpx__pci_give_back(h->pci[i], h->orig_driver[i], j, lease_id, &e) < 0) {
            gpx_warn("giving back %s: %s", h->pci[i], e.msg);
            if (rc == 0 && err)
                *err = e;
            rc = -1;
        }
    }
    return rc;
}

static int pt_acquire(const char *bdf, const struct gpx_vm_request *req,
                      const struct gpx_vm_journal *j, struct gpx_vm_hold *out, gpx_error *err)
{
    struct gpx_vm_probe pr;
    if (gpx__passthrough_probe(bdf, &pr, err) < 0)
        return -1;
    if (!pr.passthrough_ok)
        return gpx_error_set(err, GPX_E_BUSY, "passthrough of %s refused: %s", bdf, pr.why_not);
    memset(out, 0, sizeof *out);
    out->backend = GPX_VM_PASSTHROUGH;
    out->gpu_instance_id = -1;
    snprintf(out->gpu_bdf, sizeof out->gpu_bdf, "%s", bdf);
    for (size_t i = 0; i < pr.nmembers; i++) {
        const struct gpx_vm_member *m = &pr.members[i];
        if (m->bridge || !same_slot(m->bdf, bdf))
            continue;
        size_t k = out->npci;
        snprintf(out->pci[k], sizeof out->pci[k], "%s", m->bdf);
        snprintf(out->orig_driver[k], sizeof out->orig_driver[k], "%s", m->driver);
        out->npci++;
        if (bind_vfio(m->bdf, m->driver, j, req->lease_id, err) < 0) {
            gpx_error_wrap(err, "binding %s to vfio-pci", m->bdf);
            pt_release(out, j, req->lease_id, NULL);
            return -1;
        }
    }
    return 0;
}

static int pt_restore(const struct gpx_vm_hold *h, const struct gpx_vm_journal *j,
                      const char *lease_id, gpx_error *err)
{
    for (size_t i = 0; i < h->npci; i++) {
        char now[GPX_VM_NAME_MAX];
        gpx__pci_driver(h->pci[i], now, sizeof now);
        if (strcmp(now, "vfio-pci") != 0 && bind_vfio(h->pci[i], now, j, lease_id, err) < 0)
            return gpx_error_wrap(err, "binding %s to vfio-pci again", h->pci[i]);
    }
    return 0;
}

const struct gpx__vm_backend gpx__vm_passthrough = {
    .kind = GPX_VM_PASSTHROUGH,
    .name = "passthrough",
    .detect = pt_detect,
    .types = NULL,
    .acquire = pt_acquire,
    .release = pt_release,
    .restore = pt_restore,
};
