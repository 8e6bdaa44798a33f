/*
 * CDI (Container Device Interface) specs for gpuplex's GPUs, MIG instances and
 * leases: what podman, containerd, CRI-O and Docker >= 28.2 read to give a
 * container a device (`podman run --device gpuplex.dev/gpu=lease-<id>`).
 *
 * A front end of the lease engine, not a part of it: the daemon's writer is an
 * observer (gpx_engine_observe) that keeps a copy of the active leases and
 * rewrites the spec file on every lease event; `gpuplex cdi generate` renders
 * the same spec from what the client API returns. Nothing here asks whether
 * the driver is simulated: the device-node root, driver library directories,
 * extra environment and mounts are configuration (docs/containers.md).
 */
#ifndef GPX_CDI_H
#define GPX_CDI_H

#include "engine/engine.h"
#include "gpuplex/error.h"
#include "nvml/nvml.h"

#include <stddef.h>

#define GPX_CDI_KIND            "gpuplex.dev/gpu"
#define GPX_CDI_DEFAULT_VERSION "0.5.0" /* the newest Debian 12's podman 4.3 accepts */
#define GPX_CDI_DEFAULT_SPEC    "/var/run/cdi/gpuplex.json"
#define GPX_CDI_MAX_MIG         (GPX_MIG_MAX_GI * GPX_MIG_MAX_CI)

/* One MIG device as nvidia-ctk names it: "<gpu index>:<mig index>" and its UUID. */
struct gpx_cdi_mig {
    unsigned index; /* the MIG device's index on its GPU (nvmlDeviceGetMigDeviceHandleByIndex) */
    unsigned gi, ci;
    char uuid[96];
};

struct gpx_cdi_gpu {
    unsigned index;
    unsigned minor; /* /dev/nvidia<minor> (nvmlDeviceGetMinorNumber; the index when unknown) */
    char uuid[96];
    unsigned n_mig;
    struct gpx_cdi_mig mig[GPX_CDI_MAX_MIG];
};

struct gpx_cdi_node {
    unsigned count;
    struct gpx_cdi_gpu *gpus; /* malloc'd */
};
void gpx_cdi_node_free(struct gpx_cdi_node *n);

/* Reads the GPUs, their minor numbers and MIG devices from an open NVML. */
int gpx_cdi_node_read(struct gpx_nvml *nv, struct gpx_cdi_node *out, gpx_error *err);

/* What the writer is configured with (gpuplexd.conf's cdi_* keys; docs/containers.md). */
struct gpx_cdi_opts {
    const char *cdi_version; /* NULL/"": GPX_CDI_DEFAULT_VERSION */
    const char *dev_root;    /* where the device nodes are on the host; NULL/"": /dev */
    const char *caps_root;   /* MIG capabilities; NULL/"": /proc/driver/nvidia/capabilities */
    /* ':'-separated: directories searched for driver libraries before the ld.so cache, and
     * files mounted as they are (cdi_driver_libs) */
    const char *driver_libs;
    const char *ld_cache;   /* NULL/"": /etc/ld.so.cache */
    const char *env;        /* extra environment, ' '-separated KEY=VALUE (cdi_env) */
    const char *mounts;     /* extra mounts, ','-separated HOST[:CONTAINER[:rw]] (cdi_mounts) */
    const char *run_dir;    /* the engine's run directory: lease regions, arbiters */
    const char *interposer; /* LD_PRELOAD of vgpu/timeslice leases; NULL/"": none */
    /* leases labelled gpuplex.container=1 (made for containers): the program their
     * createRuntime and poststop hooks run on the host (`gpuplex cdi-hook`), with the engine's
     * state dir and cdi_env in its environment; NULL/"": no hooks (the reconciler alone) */
    const char *hook;
    const char *state_dir;
};

/* The label of a lease made for containers: their hooks release it when the last one stops. */
#define GPX_CDI_CONTAINER_LABEL "gpuplex.container"

/* The host's driver files found for containers: absolute paths, each once. */
struct gpx_cdi_files {
    unsigned n;
    char **host;      /* the file to mount (symlinks resolved) */
    char **container; /* where it goes (the path it was found as) */
};
void gpx_cdi_files_free(struct gpx_cdi_files *f);

/*
 * The driver's libraries and binaries, found as nvidia-container-toolkit finds
 * them, in a documented subset (docs/containers.md): each library by its
 * SONAME in the cdi_driver_libs directories, then in the ld.so cache (the
 * native-architecture entries of /etc/ld.so.cache, new format), then in the
 * well-known library directories; binaries in the well-known bin directories.
 * Explicit files in cdi_driver_libs are added as they are. Missing ones are
 * skipped (a node without nvidia-smi still gets its libraries).
 */
int gpx_cdi_find_driver_files(const struct gpx_cdi_opts *o, struct gpx_cdi_files *out,
                              gpx_error *err);

/*
 * Looks `soname` up in an ld.so cache file (glibc's new format). 1 found (path
 * filled), 0 not there, -1 the file is unreadable or not a new-format cache.
 */
int gpx_cdi_ldcache_lookup(const char *cache, const char *soname, char *path, size_t len,
                           gpx_error *err);

/*
 * The MIG capability device nodes of a MIG device: the minor in
 * <caps_root>/gpu<minor>/mig/gi<G>/access and .../ci<C>/access
 * ("DeviceFileMinor: N"), as /dev/nvidia-caps/nvidia-cap<N>. Fills up to 2;
 * returns how many (0 when the files are absent: not a real MIG host).
 */
unsigned gpx_cdi_mig_caps(const char *caps_root, unsigned gpu_minor, unsigned gi, unsigned ci,
                          unsigned minors[2]);

/*
 * The whole spec (a jansson json_t *, as void * so that callers need not
 * include jansson): a device per GPU (index, UUID), per MIG device (i:j, UUID)
 * and per active lease in `leases` ("lease-<id>"; others are skipped). NULL
 * with err on failure. Free with json_decref.
 */
void *gpx_cdi_render(const struct gpx_cdi_opts *o, const struct gpx_cdi_node *node,
                     const struct gpx_cdi_files *drv, const struct gpx_lease_rec *leases,
                     unsigned n_leases, gpx_error *err);

/* The device names of a rendered spec, "gpuplex.dev/gpu=NAME", in the spec's order. */
int gpx_cdi_names(const void *spec, char ***names, unsigned *n);

/*
 * Writes `spec` to `path` atomically: a temporary file in the same directory
 * (made if missing), renamed over `path`. A reader sees the old spec or the new
 * one, never a part (also after kill -9). Not fsync'd: the spec is derived state
 * that gpuplexd rewrites from the ledger at every start.
 */
int gpx_cdi_write(const char *path, const void *spec, gpx_error *err);

/*
 * gpuplexd's writer: renders and writes `path` now, and again after every
 * lease committed or released (an engine observer). The node is re-read from
 * the engine's NVML at each rewrite (MIG devices come and go with leases).
 */
struct gpx_cdi_writer;
int gpx_cdi_writer_start(struct gpx_engine *e, const struct gpx_cdi_opts *o, const char *path,
                         struct gpx_cdi_writer **out, gpx_error *err);
void gpx_cdi_writer_stop(struct gpx_cdi_writer *w);

#endif
