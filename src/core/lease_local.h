/*
 * Leases before the daemon: create, describe and list lease regions directly
 * in the run directory, checked against the NVML inventory. Used by
 * `gpuplex lease` and `gpuplex watch` until gpuplexd takes creation over; the
 * daemon's ledger then becomes the authority and these regions its output.
 *
 * Admission here (the same rules as src/core/placement.h, for one GPU the
 * caller named): an exclusive lease needs a GPU with no lease; vgpu and
 * timeslice leases share a GPU, never with an exclusive one, and their quotas
 * together stay within the GPU's memory. Creations are serialized by an
 * advisory lock on <run_dir>/leases/.lock, which dies with its holder.
 */
#ifndef GPX_LEASE_LOCAL_H
#define GPX_LEASE_LOCAL_H

#include "gpuplex/error.h"
#include "nvml/nvml.h"
#include "shm/lease.h"

#include <stdint.h>

struct gpx_lease_request {
    const char *gpu; /* "0" (index) or "GPU-..." (UUID) */
    int mode;        /* enum gpx_lease_mode; -1: vgpu when memory is given, else exclusive */
    uint64_t memory; /* quota in bytes; 0 = not given */
    unsigned weight; /* >= 1; 0 = default (1) */
    unsigned cap;    /* compute cap %, 1..100; 0 = none */
};

/*
 * Validates `req` against NVML's inventory (`nv` open) and the leases already
 * in `run_dir`, then creates the region. On success *out holds the limits
 * written (id included). Errors: INVALID (bad request), NOT_FOUND (unknown GPU), NO_SPACE
 * (the quota does not fit the GPU), BUSY (an exclusive lease is in the way).
 */
int gpx_lease_local_create(struct gpx_nvml *nv, const char *run_dir,
                           const struct gpx_lease_request *req, struct gpx_lease_limits *out,
                           gpx_error *err);

/* One lease as `gpuplex lease ls` and the watchdog see it. */
struct gpx_lease_info {
    struct gpx_lease_limits limits; /* a copy */
    uint64_t used, peak, refused;
    /* time-slicing (timeslice and capped vgpu leases) */
    uint64_t gpu_ns_granted, wait_ns, turns, drains;
    uint64_t wait_hist[24];                  /* turns by wait: bucket i holds waits below 2^i us */
    uint64_t turn_ring[GPX_LEASE_TURN_RING]; /* the last turns, oldest first; 0 = none */
    unsigned nprocs;                         /* live slots */
    int32_t pids[GPX_LEASE_MAX_PROCS];
    uint64_t proc_used[GPX_LEASE_MAX_PROCS];
};

/* The wait below which `pct` percent of the lease's turns were granted (ns; 0 if none). */
uint64_t gpx_lease_info_wait_percentile(const struct gpx_lease_info *in, double pct);

/* Opens lease `id`, reaps dead slots when `reap`, and copies its figures into *out. */
int gpx_lease_info_read(const char *run_dir, const char *id, int reap, struct gpx_lease_info *out,
                        gpx_error *err);

/*
 * The ids of every lease in `run_dir`, sorted. Caller frees *ids with free().
 * An absent run directory is an empty list.
 */
int gpx_lease_ids(const char *run_dir, char (**ids)[GPX_LEASE_ID_MAX], unsigned *n, gpx_error *err);

#endif
