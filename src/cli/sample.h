/*
 * One monitoring sample of the node, for the CLI's live views (`gpuplex dmon`,
 * `gpuplex top`): the GPUs as `gpuplex ls` sees them, the caller's active
 * leases as `gpuplex lease ls` sees them (with their metering counters:
 * gpu_ns, wait_ns, used_bytes), the MIG instances of every GPU in MIG mode
 * with the lease holding each, and a monotonic timestamp. Taken through the
 * one client connection, so it works with gpuplexd and in-process alike.
 *
 * Per-lease figures over an interval come from two samples: its GPU
 * utilization by the engine's one rule (gpx_lease_util: the arbiter's GPU
 * time for arbitrated leases over the wall time between the samples, NVML's
 * figure for the others, unknown for mig without a per-instance figure), and
 * the time it waited for its turn.
 *
 * Note for loops: an in-process connection (gpx_conn_is_daemon() == 0) holds
 * the state directory's engine lock for its whole life, blocking every other
 * gpuplex command; open it for each sample and close it in between
 * (gpx_sample_take_server does that), keep only a daemon's connection open.
 */
#ifndef GPX_CLI_SAMPLE_H
#define GPX_CLI_SAMPLE_H

#include "engine/engine.h"
#include "gpuplex/error.h"

#include <stdint.h>

struct gpx_conn;

/* One MIG GPU instance (with its first compute instance's device UUID). */
struct gpx_sample_mig {
    unsigned gpu;          /* the parent GPU's index */
    unsigned gi_id;        /* GPU instance id */
    char profile[32];      /* "1g.10gb"; "" when the catalog lacks it */
    char uuid[96];         /* "MIG-..." or "" */
    uint64_t memory_total; /* bytes; 0 unknown */
    int used_known;        /* memory_used was reported (NVML on the MIG device) */
    uint64_t memory_used;  /* bytes */
    char lease[64];        /* the lease holding it, if the caller may see it; else "" */
    int leased;            /* held by a lease (visible or not) */
    unsigned procs;        /* compute processes on it */
};

struct gpx_sample {
    int64_t t_ns; /* CLOCK_MONOTONIC when the sample was taken */
    struct gpx_node node;
    struct gpx_lease *leases; /* active leases the caller may see (admins: all) */
    unsigned n_leases;
    struct gpx_sample_mig *mig; /* instances of GPUs in MIG mode, by GPU, then GI id */
    unsigned n_mig;
};

/* Fills *s (zeroed first); 0, or -1 with err set and *s empty. */
int gpx_sample_take(struct gpx_conn *c, struct gpx_sample *s, gpx_error *err);
/*
 * The same through a connection opened by the command rule (--server S or
 * NULL): reuses *cn when it is a daemon's, opens one otherwise; an in-process
 * connection is closed again before returning (*cn NULL), so the lock is not
 * held between samples. Close *cn with gpx_conn_close when done. Failures
 * are in err (exit status: gpx_error_exit_status(err->code)).
 */
int gpx_sample_take_server(const char *server, struct gpx_conn **cn, struct gpx_sample *s,
                           gpx_error *err);
void gpx_sample_free(struct gpx_sample *s);

/* Index of the lease `id` in s, or -1. */
int gpx_sample_find_lease(const struct gpx_sample *s, const char *id);
/*
 * Lease i of b against the same lease id in a (a may be NULL; a lease absent
 * from a counts from 0 at a's time): its GPU utilization over the interval
 * (gpx_lease_util), in [0,1], or -1 when not known (an arbitrated lease
 * without a; mig without the driver's figure); and (wait_ms, may be NULL)
 * the milliseconds it waited for its turn in the interval, -1 without a.
 */
double gpx_sample_lease_share(const struct gpx_sample *a, const struct gpx_sample *b, unsigned i,
                              double *wait_ms);
/*
 * The device memory lease i of s uses now, as the engine's lease view says
 * (used_bytes with used_source): a vgpu/timeslice lease's own count (its
 * usage region); an exclusive lease's whole GPU and a mig lease's MIG
 * instance (NVML, where the driver reports it). 1 with *used set, 0 when not
 * known.
 */
int gpx_sample_lease_memory(const struct gpx_sample *s, unsigned i, uint64_t *used);
/* The GPU of s with index `gpu`, or NULL. */
const struct gpx_gpu *gpx_sample_gpu(const struct gpx_sample *s, unsigned gpu);

#endif
