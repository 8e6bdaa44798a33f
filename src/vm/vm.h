/*
 * gpx_vm: what a VM lease holds on the host, behind one interface.
 *
 * Three backends hand a GPU (or a slice of it) to a virtual machine:
 *   passthrough  the whole GPU and every endpoint of its IOMMU group bound to
 *                vfio-pci the way libvirt does (driver_override, unbind,
 *                drivers_probe); the domain gets <hostdev type='pci' managed='no'>.
 *   mdev         NVIDIA vGPU up to Ampere: a mediated device created from
 *                mdev_supported_types/<type>/create; <hostdev type='mdev'> with the UUID.
 *   vendor-vfio  NVIDIA vGPU 17+ (Ada, Hopper, Blackwell, kernel 6.8+): an SR-IOV VF
 *                whose nvidia/current_vgpu_type is set; the VF stays on the nvidia
 *                driver (its VFIO provider): <hostdev type='pci' managed='no'> with
 *                the VF's address.
 * All sysfs access goes through GPUPLEX_SYSFS_ROOT (default /sys) so tests run on
 * the tree `gpuplex sim init --sysfs DIR` writes.
 *
 * Crash safety: every sysfs write is announced to the caller's journal BEFORE it
 * is made (struct gpx_vm_journal), so a daemon killed between the write and its
 * own commit can undo or redo it on start (gpx_vm_reconcile).
 *
 * This header is the contract between the host half (src/vm, helper "vm") and
 * the libvirt half (domain XML, /v1/vms): a struct gpx_vm_hold says everything a
 * <hostdev> needs.
 */
#ifndef GPUPLEX_VM_H
#define GPUPLEX_VM_H

#include "gpuplex/error.h"

#include <stdbool.h>
#include <stddef.h>

enum gpx_vm_backend {
    GPX_VM_NONE = 0,    /* nothing usable: no IOMMU group, no vGPU */
    GPX_VM_PASSTHROUGH, /* whole GPU through vfio-pci */
    GPX_VM_MDEV,        /* vGPU as a mediated device (Ampere and older) */
    GPX_VM_VENDOR_VFIO, /* vGPU as an SR-IOV VF on the nvidia driver (Ada+) */
};
#define GPX_VM_BACKEND_COUNT 4

/* "none", "passthrough", "mdev", "vendor-vfio" (the API's and the CLI's words). */
const char *gpx_vm_backend_name(enum gpx_vm_backend b);
/* Parses those words; -1 when unknown. */
int gpx_vm_backend_parse(const char *name);

#define GPX_VM_BDF_MAX   16 /* "0000:3b:00.0" + NUL, rounded up */
#define GPX_VM_UUID_MAX  40 /* 36 chars + NUL, rounded up */
#define GPX_VM_NAME_MAX  64 /* driver names, vGPU type names */
#define GPX_VM_GROUP_MAX 16 /* endpoints of one IOMMU group we handle */

/* A PCI address split the way libvirt's <address domain= bus= slot= function=> wants. */
struct gpx_vm_pci_addr {
    unsigned domain, bus, slot, function;
};
/* Parses "0000:3b:00.0", "3b:00.0" or NVML's "00000000:3B:00.0"; -1 when malformed. */
int gpx_vm_bdf_parse(const char *text, struct gpx_vm_pci_addr *out);
/* Writes the sysfs form "0000:3b:00.0" (lowercase, 4-digit domain). */
void gpx_vm_bdf_format(const struct gpx_vm_pci_addr *a, char out[GPX_VM_BDF_MAX]);

/* One vGPU type on offer (mdev type or vendor-vfio type id). */
struct gpx_vm_type {
    char id[GPX_VM_NAME_MAX];   /* mdev: "nvidia-471"; vendor-vfio: "1032" (decimal id) */
    char name[GPX_VM_NAME_MAX]; /* "A100-4C", "H100-1-10C" */
    char description[128];      /* mdev description line(s), flattened; "" when absent */
    unsigned available;         /* instances creatable now */
    unsigned framebuffer_mib;   /* from the name ("-10C" = 10 GiB), 0 when unknown */
    bool mig_backed;            /* "H100-1-10C": needs a GPU instance (gpu_instance_id) */
};

struct gpx_vm_type_list {
    struct gpx_vm_type *types; /* owned; gpx_vm_type_list_free */
    size_t n;
};
void gpx_vm_type_list_free(struct gpx_vm_type_list *l);

/* One member of the GPU's IOMMU group, as `gpuplex vm check` shows it. */
struct gpx_vm_member {
    char bdf[GPX_VM_BDF_MAX];
    char driver[GPX_VM_NAME_MAX]; /* "" when unbound */
    unsigned pci_class;           /* 0x030200 GPU, 0x040300 audio, 0x060400 bridge */
    unsigned vendor, device;
    bool bridge;  /* class 0x0604: tolerated on pcieport, never leased */
    bool blocker; /* a foreign endpoint held by a host driver: passthrough refused */
};

/* What `gpuplex vm check` and the daemon know about one GPU, changing nothing. */
struct gpx_vm_probe {
    char bdf[GPX_VM_BDF_MAX];
    int iommu_group; /* -1: none (IOMMU off or not in the kernel) */
    struct gpx_vm_member members[GPX_VM_GROUP_MAX];
    size_t nmembers;
    enum gpx_vm_backend vgpu_backend; /* GPX_VM_MDEV / GPX_VM_VENDOR_VFIO / GPX_VM_NONE */
    bool passthrough_ok;              /* a passthrough lease could be granted now */
    char why_not[256];                /* when !passthrough_ok: the first blocker, in words */
    unsigned sriov_totalvfs, sriov_numvfs;
};

/* What a VM lease holds on the host: written by acquire, read by release, by
 * reconcile and by the libvirt half to write <hostdev>. Plain data (stored as
 * JSON by the daemon: gpx_vm_hold_to_json / _from_json in the engine's views). */
struct gpx_vm_hold {
    enum gpx_vm_backend backend;
    char gpu_bdf[GPX_VM_BDF_MAX]; /* the physical GPU (all backends) */
    /* passthrough: every endpoint bound to vfio-pci, GPU first, and the driver each
     * had before (restored on release: "" = was unbound). */
    char pci[GPX_VM_GROUP_MAX][GPX_VM_BDF_MAX];
    char orig_driver[GPX_VM_GROUP_MAX][GPX_VM_NAME_MAX];
    size_t npci;
    /* mdev: the mediated device */
    char mdev_uuid[GPX_VM_UUID_MAX];
    char mdev_type[GPX_VM_NAME_MAX]; /* "nvidia-471" */
    /* vendor-vfio: the VF and the type id written to current_vgpu_type */
    char vf_bdf[GPX_VM_BDF_MAX];
    unsigned vgpu_type_id;
    int gpu_instance_id; /* MIG-backed types: the GI the VF is pinned to; -1 when none */
    char type_name[GPX_VM_NAME_MAX]; /* "A100-4C" / "H100-1-10C"; "" for passthrough */
};

/* <hostdev> inputs, derived from a hold: the libvirt half writes
 *   kind PCI : <hostdev mode='subsystem' type='pci' managed='no'><source><address
 *              domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/></source></hostdev>
 *              (one per address: passthrough's endpoints, or the VF)
 *   kind MDEV: <hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address
 *              uuid='%s'/></source></hostdev> */
enum gpx_vm_hostdev_kind { GPX_VM_HOSTDEV_PCI, GPX_VM_HOSTDEV_MDEV };
struct gpx_vm_hostdev {
    enum gpx_vm_hostdev_kind kind;
    struct gpx_vm_pci_addr addr; /* PCI */
    char uuid[GPX_VM_UUID_MAX];  /* MDEV */
};
/* Fills up to `max` hostdevs from `h`; returns how many (0 for GPX_VM_NONE). */
size_t gpx_vm_hostdevs(const struct gpx_vm_hold *h, struct gpx_vm_hostdev *out, size_t max);

/* The journal: one sysfs change, announced before it is made. */
struct gpx_vm_change {
    const char
        *path; /* relative to the sysfs root, e.g. "bus/pci/devices/0000:3b:00.0/driver_override" */
    const char *value; /* what is written */
    const char *undo;  /* what a reconcile would write to undo it, or NULL (none needed) */
};
struct gpx_vm_journal {
    /* Called before each write with the lease it serves; a negative return stops the
     * operation before the write. NULL record: no journal (vm check, unit tests). */
    int (*record)(void *ctx, const char *lease_id, const struct gpx_vm_change *c, gpx_error *err);
    void *ctx;
};

/* What to acquire. */
struct gpx_vm_request {
    enum gpx_vm_backend backend; /* GPX_VM_NONE: passthrough */
    const char *type;     /* mdev / vendor-vfio: type name ("A100-4C") or id; NULL: passthrough */
    int gpu_instance_id;  /* vendor-vfio MIG-backed types; -1: none/any */
    const char *lease_id; /* passed to the journal */
};

/* All calls read and write under the sysfs root: gpx_vm_sysfs_root() is
 * $GPUPLEX_SYSFS_ROOT or "/sys". */
const char *gpx_vm_sysfs_root(void);

/* Which backend a GPU offers for vGPU: GPX_VM_VENDOR_VFIO when it has SR-IOV and
 * the nvidia/ VF files, GPX_VM_MDEV when mdev_supported_types exist, else
 * GPX_VM_PASSTHROUGH when it has an IOMMU group, else GPX_VM_NONE. */
enum gpx_vm_backend gpx_vm_detect(const char *gpu_bdf);

/* Reads the GPU's group, drivers and vGPU capability (changes nothing). */
int gpx_vm_probe(const char *gpu_bdf, struct gpx_vm_probe *out, gpx_error *err);

/* The vGPU types the GPU offers, each with its available instances (empty list for a
 * passthrough-only GPU). */
int gpx_vm_types(const char *gpu_bdf, struct gpx_vm_type_list *out, gpx_error *err);

/* Takes what `req` asks of `gpu_bdf` and fills `out`. On failure, undoes what it did.
 * The caller has checked that the GPU holds no other lease and no process. */
int gpx_vm_acquire(const char *gpu_bdf, const struct gpx_vm_request *req,
                   const struct gpx_vm_journal *j, struct gpx_vm_hold *out, gpx_error *err);

/* Gives back what `h` holds (remove the mdev / reset the VF type / rebind to the
 * original drivers). Idempotent: what is already given back is skipped. */
int gpx_vm_release(const struct gpx_vm_hold *h, const struct gpx_vm_journal *j,
                   const char *lease_id, gpx_error *err);

/* Makes sysfs match `h` for a lease that is live (after a host reboot: enable VFs,
 * set current_vgpu_type, re-create the mdev with the same UUID, bind to vfio-pci).
 * Idempotent. */
int gpx_vm_restore(const struct gpx_vm_hold *h, const struct gpx_vm_journal *j,
                   const char *lease_id, gpx_error *err);

/* Daemon start: `live` are the holds of live VM leases, `ended` those of leases that
 * ended (or whose commit never happened) and may still hold host devices. Restores
 * the first, releases the second, and gives back to its host driver any GPU found on
 * vfio-pci that no live hold names. Logs and carries on past one failure; returns
 * the number of failures (0: all consistent). */
int gpx_vm_reconcile(const char *const *gpu_bdfs, size_t ngpus, const struct gpx_vm_hold *live,
                     size_t nlive, const struct gpx_vm_hold *ended, size_t nended,
                     const struct gpx_vm_journal *j);

/* Gives back what one journaled write may have done, for a lease whose acquire never
 * committed (the daemon died between the write and its store commit): a driver_override
 * write -> the device back to its host driver; an mdev create -> remove it; a
 * current_vgpu_type write -> "0" if it still holds `value`; sriov_numvfs -> `undo` when
 * no VF has a vGPU type. Other writes need nothing. Idempotent. */
int gpx_vm_undo_change(const char *path, const char *value, const char *undo,
                       const struct gpx_vm_journal *j, const char *lease_id, gpx_error *err);

/* A GPU left on vfio-pci (or with driver_override set) that no live hold names: back to
 * its host driver. 1 when something was given back, 0 when nothing was needed. */
int gpx_vm_give_back_orphan(const char *gpu_bdf, const struct gpx_vm_hold *live, size_t nlive,
                            const struct gpx_vm_journal *j, gpx_error *err);

/* A hold as JSON text (malloc'd) and back: what the daemon stores and the API shows. */
char *gpx_vm_hold_to_json(const struct gpx_vm_hold *h);
int gpx_vm_hold_from_json(const char *text, struct gpx_vm_hold *out, gpx_error *err);

/* JSON of the types and of a probe, for `gpuplex vm check --json` and
 * GET /v1/gpus/{id}/vgpu-types (jansson's json_t, new reference). */
struct json_t;
struct json_t *gpx_vm_types_json(const struct gpx_vm_type_list *l);
struct json_t *gpx_vm_probe_json(const struct gpx_vm_probe *p);
/* "GPU", "audio", "bridge", "network", ... : a PCI class in one word */
const char *gpx_vm_class_word(unsigned pci_class);

/* Parsers, exposed for unit tests and fuzzers. */
/* nvidia/creatable_vgpu_types: a header line then "ID : name" lines. */
int gpx_vm_parse_creatable(const char *text, struct gpx_vm_type_list *out, gpx_error *err);
/* Framebuffer in MiB from a vGPU type name ("A100-4C" 4096, "H100-1-10C" 10240); 0 unknown. */
unsigned gpx_vm_type_framebuffer_mib(const char *name);

#endif
