/*
 * Per-GPU arbiter: weighted, work-conserving time-slicing between the leases
 * that share one GPU, with optional compute caps, in shared memory. The
 * interposer of every process on the GPU takes the GPU's turn before it
 * submits work and gives it back at the end of its quantum or when it goes
 * idle, draining its own work first, so the next lease really owns the
 * engine. No daemon round trip: the turn is a futex word, the bookkeeping is
 * done under a robust process-shared mutex at turn boundaries only (never
 * per launch).
 *
 * Scheduling: each lease has a virtual time, advanced at every release by
 * the GPU time it held (turn start to drain end) divided by its weight. The
 * next turn goes to the waiting process whose lease has the smallest virtual
 * time (stride scheduling); a lease that wakes from idle starts at the
 * smallest virtual time of the active leases, so idling banks no credit.
 * Shares are per lease, whatever its number of processes and streams.
 * A lease with a cap of P % holds a token bucket of GPU time that fills at
 * P % of wall time; it is eligible only with tokens left, and its turn ends
 * when they run out — even when the GPU is otherwise idle.
 *
 * Faults: waiters sleep with a timeout and check the holder. A dead holder's
 * turn is reclaimed at once (within the 20 ms poll); a holder that passes
 * its deadline + grace without releasing is marked hung, reported and
 * skipped. A stale arbiter file (other version, dead processes) is repaired
 * or recreated on attach.
 */
#ifndef GPX_SHM_ARBITER_H
#define GPX_SHM_ARBITER_H

#include "gpuplex/error.h"

#include <pthread.h>
#include <stdint.h>

#define GPX_ARB_MAGIC              0x3142524158504750ULL /* "GPXARB1" */
/* 2: procs carry their pid namespace. A file of another version is recreated on open. */
#define GPX_ARB_VERSION            2U
#define GPX_ARB_MAX_LEASES         64
#define GPX_ARB_MAX_PROCS          128
#define GPX_ARB_ID_MAX             64
#define GPX_ARB_DEFAULT_QUANTUM_NS 10000000ULL  /* 10 ms: see docs/timeslice.md */
#define GPX_ARB_DEFAULT_GRACE_NS   200000000ULL /* 200 ms: longer kernels look hung */
#define GPX_ARB_POLL_NS            20000000ULL  /* waiters re-check the holder this often */

/*
 * The key a lease joins an arbiter by: "t-" + its region's nonce in hex, never
 * its id. Every tenant on the GPU reads the arbiter (it must take turns through
 * it); the nonce is in the limits only the lease's uid may read, so another
 * tenant learns no lease id from it, and whoever may read the lease's region
 * maps the key back (gpuplex timeslice ls).
 */
static inline void gpx_arb_key(uint64_t nonce, char out[GPX_ARB_ID_MAX])
{
    static const char hex[] = "0123456789abcdef";
    out[0] = 't';
    out[1] = '-';
    for (int i = 0; i < 16; i++)
        out[2 + i] = hex[(nonce >> (60 - 4 * i)) & 0xf];
    out[18] = '\0';
}

struct gpx_arb_lease {
    char id[GPX_ARB_ID_MAX]; /* a gpx_arb_key(); "" = free entry */
    uint32_t weight;         /* >= 1 */
    uint32_t cap_percent;    /* 0 = none */
    uint32_t procs;          /* attached processes */
    uint32_t active;         /* processes waiting or holding */
    uint64_t vtime;          /* virtual time, ns * 1024 / weight */
    int64_t tokens_ns;       /* cap bucket (capped leases) */
    uint64_t tokens_at_ns;   /* last refill */
    /* statistics, monotonic */
    _Atomic uint64_t granted_ns;
    _Atomic uint64_t wait_ns;
    _Atomic uint64_t turns;
    _Atomic uint64_t drains;
    _Atomic uint64_t hangs;
};

struct gpx_arb_proc {
    int32_t pid;          /* 0 = free slot; in namespace pidns */
    uint32_t lease;       /* index into leases */
    uint64_t start_ticks; /* tells pid reuse apart */
    uint32_t pidns;       /* its pid namespace (shm/pidns.h): two containers' pid 1 differ */
    /* futex word this process waits on: bumped when it is granted the turn, so that a
     * hand-over wakes the next holder only, not every waiter (was: the `seq` word) */
    _Atomic uint32_t wake;
    uint32_t waiting; /* wants the turn */
    uint32_t hung;    /* lost its turn for not draining in time */
    uint64_t wait_since_ns;
};

struct gpx_arb {
    uint64_t magic;
    uint32_t version;
    uint32_t size;
    uint64_t quantum_ns;
    uint64_t grace_ns;
    pthread_mutex_t lock;   /* robust, process-shared; turn boundaries only */
    _Atomic uint32_t seq;   /* bumped at every change of holder (and woken, for waiters of
                               an earlier build; waiters now sleep on their proc's `wake`) */
    _Atomic int32_t holder; /* proc index, or -1 */
    _Atomic uint64_t holder_since_ns;
    _Atomic uint64_t holder_deadline_ns;
    _Atomic uint32_t nwaiting; /* procs waiting: the holder's cheap "anyone else?" */
    uint32_t pad;
    struct gpx_arb_lease leases[GPX_ARB_MAX_LEASES];
    struct gpx_arb_proc procs[GPX_ARB_MAX_PROCS];
};

/* A process's handle on one GPU's arbiter. */
struct gpx_arb_handle {
    struct gpx_arb *arb;
    int slot; /* our proc index */
    uint64_t turn_start_ns;
    uint64_t wait_ns_last;    /* wait of the last acquire */
    uint64_t charged_ns_last; /* GPU time charged by the last renew/release */
};

/* Path of GPU `uuid`'s arbiter: <run_dir>/arbiter/<uuid>.arb */
int gpx_arb_path(const char *run_dir, const char *gpu_uuid, char *out, size_t len, gpx_error *err);

/*
 * Maps (creating or repairing when needed) the arbiter file at `path`.
 * `quantum_ns` = 0 keeps the file's quantum (or the default for a new file).
 */
int gpx_arb_open(const char *path, uint64_t quantum_ns, struct gpx_arb **out, gpx_error *err);
void gpx_arb_close(struct gpx_arb *arb);

/* Joins `lease_id` (weight, cap) as process `pid`, of our own pid namespace. */
int gpx_arb_join(struct gpx_arb *arb, const char *lease_id, uint32_t weight, uint32_t cap_percent,
                 int32_t pid, struct gpx_arb_handle *h, gpx_error *err);
/* Leaves (releasing the turn if held, charging `used_ns` of it). */
void gpx_arb_leave(struct gpx_arb_handle *h);

/*
 * Blocks until this process holds the turn. Returns the deadline (CLOCK_MONOTONIC
 * ns) by which it should drain and release or renew.
 */
uint64_t gpx_arb_acquire(struct gpx_arb_handle *h);
/*
 * At the deadline, after draining: if no other eligible process waits (and the
 * lease's cap allows), charges the time so far and returns a new deadline (> 0):
 * the turn continues. Otherwise releases the turn and returns 0.
 */
uint64_t gpx_arb_renew_or_release(struct gpx_arb_handle *h);
/*
 * Renews the turn without a drain when nobody else waits and the lease has no
 * cap: charges the time so far and returns a new deadline. Returns 0 and
 * changes nothing otherwise (the caller then drains and calls
 * gpx_arb_renew_or_release): a holder alone keeps its queue full across
 * quanta, and drains only before it hands the GPU over.
 */
uint64_t gpx_arb_renew_if_alone(struct gpx_arb_handle *h);
/* Releases the turn (charging the time held). No-op if not the holder. */
void gpx_arb_release(struct gpx_arb_handle *h);
/* 1 while this process holds the turn (it may have been taken for a hang). */
int gpx_arb_holding(const struct gpx_arb_handle *h);
/* 1 when another process waits for the turn. */
int gpx_arb_contended(const struct gpx_arb_handle *h);
/* Counts a drain for statistics. */
void gpx_arb_count_drain(struct gpx_arb_handle *h);

/* Statistics of a lease on this GPU; -1 if the lease is not attached. */
struct gpx_arb_stats {
    uint64_t granted_ns, wait_ns, turns, drains, hangs;
    uint32_t weight, cap_percent, procs;
};
int gpx_arb_stats(struct gpx_arb *arb, const char *lease_id, struct gpx_arb_stats *out);

uint64_t gpx_arb_now_ns(void);

#endif
