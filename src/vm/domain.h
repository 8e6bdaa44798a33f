/*
 * gpx_virt: libvirt domains for gpuplexd's VMs (src/vm/libvirt.c), through the
 * libvirt C API on a configurable URI (qemu:///system on hosts, test:///default
 * in tests).
 *
 * gpx_vm_domain_xml writes the one domain XML gpuplex defines: a direct kernel
 * boot (kernel + initrd, the tenant's SSH key on the kernel command line as
 * gpuplex.ssh_key=<base64>) or a disk image with a cloud-init NoCloud seed (a
 * CD-ROM the caller made with gpx_vm_seed_iso); user-mode networking whose TCP
 * port forward (host address:port -> guest 22) is the SSH endpoint; and one
 * <hostdev> per struct gpx_vm_hostdev (src/vm/vm.h). Names it writes are
 * escaped; the caller checks that paths are ones the tenant may boot.
 *
 * A connection is opened lazily and reopened once when libvirtd went away;
 * every call takes a gpx_error. Thread-safe (libvirt's connections are).
 */
#ifndef GPX_VM_DOMAIN_H
#define GPX_VM_DOMAIN_H

#include "gpuplex/error.h"
#include "vm/vm.h"

#include <stddef.h>
#include <stdint.h>

#define GPX_VM_DOMAIN_PREFIX "gpuplex-" /* every domain gpuplexd defines: gpuplex-<vm id> */

struct gpx_vm_domain_spec {
    const char *name;        /* domain name */
    const char *type;        /* <domain type=>: "kvm" (hosts) or "qemu" (software emulation) */
    unsigned vcpus;          /* >= 1 */
    uint64_t memory_mib;     /* >= 64 */
    const char *kernel;      /* direct kernel boot: kernel and initrd; NULL: image */
    const char *initrd;      /* may be NULL with a kernel */
    const char *cmdline;     /* extra kernel arguments; may be NULL */
    const char *ssh_key;     /* kernel boot: the authorized key, on the command line */
    const char *image;       /* disk image (qcow2 by its name's .qcow2, else raw) */
    const char *seed_iso;    /* image boot: the NoCloud seed, as a CD-ROM; NULL: none */
    const char *console_log; /* the serial console's file; NULL: none */
    const char *ssh_address; /* the forward's host address, "127.0.0.1" */
    unsigned ssh_port;       /* its host port; 0: no network */
    const struct gpx_vm_hostdev *hostdevs;
    size_t n_hostdevs;
};

/* The domain XML for s into *out (malloc'd). INVALID when s lacks a boot source. */
int gpx_vm_domain_xml(const struct gpx_vm_domain_spec *s, char **out, gpx_error *err);

/*
 * Writes a cloud-init NoCloud seed (volume id "cidata": meta-data with the
 * instance id and hostname, user-data with ssh_authorized_keys for the default
 * user and root) to path with genisoimage. dir: a scratch directory.
 */
int gpx_vm_seed_iso(const char *path, const char *dir, const char *instance_id, const char *ssh_key,
                    gpx_error *err);

struct gpx_virt;
/* A handle on uri (not yet connected: the first call connects). *out: gpx_virt_free. */
int gpx_virt_new(const char *uri, struct gpx_virt **out, gpx_error *err);
void gpx_virt_free(struct gpx_virt *v);
const char *gpx_virt_uri(const struct gpx_virt *v);

/* Defines the domain from xml and starts it; on a failed start it is undefined again. */
int gpx_virt_create(struct gpx_virt *v, const char *xml, gpx_error *err);
/* Starts a defined, stopped domain (reconcile after a host reboot). */
int gpx_virt_start(struct gpx_virt *v, const char *name, gpx_error *err);
/* Stops (destroy: power cut) and undefines name; a domain that is not there is no error. */
int gpx_virt_remove(struct gpx_virt *v, const char *name, gpx_error *err);

enum gpx_virt_state { GPX_VIRT_MISSING = 0, GPX_VIRT_RUNNING, GPX_VIRT_STOPPED };
/* Whether name exists and runs; -1 with err when libvirt cannot be asked. */
int gpx_virt_state(struct gpx_virt *v, const char *name, enum gpx_virt_state *out, gpx_error *err);
/* The domain's live XML (malloc'd). */
int gpx_virt_xml(struct gpx_virt *v, const char *name, char **out, gpx_error *err);
/* The names of all domains (defined or running) that start with prefix: *names malloc'd,
 * each name too (gpx_virt_names_free). */
int gpx_virt_list(struct gpx_virt *v, const char *prefix, char ***names, size_t *n, gpx_error *err);
void gpx_virt_names_free(char **names, size_t n);

#endif
