/*
 * src/vm's inside: the sysfs access every backend goes through (sysfs.c) and
 * the backend table (one struct of functions per backend, picked by kind the
 * way crun picks a cgroup manager; vm.c never branches on a backend's details).
 * Nothing outside src/vm includes this file.
 */
#ifndef GPX_VM_INTERNAL_H
#define GPX_VM_INTERNAL_H

#include "vm/vm.h"

#include <limits.h>
#include <stddef.h>

/* --- sysfs.c: every path is relative to gpx_vm_sysfs_root() ------------------------------- */

#define GPX__SYSFS_PATH 512

/* Reads a small attribute, trailing whitespace trimmed; -1 (errno set) when absent. */
int gpx__sysfs_read(const char *rel, char *buf, size_t len);
/* Reads an attribute as a number (decimal or 0x hex); -1 when absent or not a number. */
int gpx__sysfs_read_ulong(const char *rel, unsigned long *out);
int gpx__sysfs_exists(const char *rel);
/* The last component of the symlink `rel` points to ("vfio-pci", "17"); -1 when absent. */
int gpx__sysfs_link_base(const char *rel, char *out, size_t len);
/* The entries of directory `rel`, sorted, malloc'd (free each and the array); -1 if absent. */
int gpx__sysfs_list(const char *rel, char ***names, size_t *n);
void gpx__sysfs_list_free(char **names, size_t n);
/*
 * Journals then writes `value` to `rel`: the journal's record comes first (a failure
 * there stops the write). GPUPLEXD_FAULT=after_sysfs_write exits the process (137) right
 * after the first write: the crash-safety tests' fault point.
 */
int gpx__sysfs_write(const struct gpx_vm_journal *j, const char *lease_id, const char *rel,
                     const char *value, const char *undo, gpx_error *err);
/*
 * Waits until the device's driver is `driver` ("" = unbound) / the path exists or not:
 * a real kernel answers at once, the simulated one (sim/kernel.c) within a poll.
 * GPUPLEX_SYSFS_SETTLE_MS bounds the wait (default 5000).
 */
int gpx__sysfs_wait_driver(const char *bdf, const char *driver, gpx_error *err);
int gpx__sysfs_wait_exists(const char *rel, int want, gpx_error *err);
/* Waits (as long) for any driver to bind the device; 0 bound, -1 still unbound (no error:
 * a device the kernel has no driver for stays unbound). */
int gpx__sysfs_wait_bound(const char *bdf);

/* The device's driver name, "" when unbound. */
void gpx__pci_driver(const char *bdf, char *out, size_t len);

/* --- the backends -------------------------------------------------------------------------- */

struct gpx__vm_backend {
    enum gpx_vm_backend kind;
    const char *name;
    /* 1 when the GPU offers this backend */
    int (*detect)(const char *bdf);
    /* types with capacity; NULL for passthrough */
    int (*types)(const char *bdf, struct gpx_vm_type_list *out, gpx_error *err);
    int (*acquire)(const char *bdf, const struct gpx_vm_request *req,
                   const struct gpx_vm_journal *j, struct gpx_vm_hold *out, gpx_error *err);
    int (*release)(const struct gpx_vm_hold *h, const struct gpx_vm_journal *j,
                   const char *lease_id, gpx_error *err);
    int (*restore)(const struct gpx_vm_hold *h, const struct gpx_vm_journal *j,
                   const char *lease_id, gpx_error *err);
};
extern const struct gpx__vm_backend gpx__vm_passthrough, gpx__vm_mdev, gpx__vm_vendor_vfio;

/* passthrough.c: the group probe that `vm check` and every acquire read */
int gpx__passthrough_probe(const char *bdf, struct gpx_vm_probe *out, gpx_error *err);
/* passthrough.c: one device back to its host driver (clear override, unbind, probe) */
int gpx__pci_give_back(const char *bdf, const char *orig_driver, const struct gpx_vm_journal *j,
                       const char *lease_id, gpx_error *err);

/* vm.c: appends a type (grows the list); -1 on allocation failure */
int gpx__type_push(struct gpx_vm_type_list *l, const struct gpx_vm_type *t);

#endif
