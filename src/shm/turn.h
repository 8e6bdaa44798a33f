/*
 * The process side of time-slicing: keeps this process's turn on one GPU's
 * arbiter (arbiter.h) for the interposer. The interposer brackets every
 * submission of work (kernel launch, async copy/memset, graph launch) with
 * gpx_turn_enter() / gpx_turn_exit().
 *
 * Fast path (holding the turn, budget left): two atomic adds and a load — no
 * lock, no syscall, no clock read. The budget bounds how much work is queued
 * on the GPU ahead of the deadline: it is the number of submissions that fit
 * in what is left of the quantum at the measured cost per submission;
 * when it runs out the process drains (synchronizes its contexts), measures,
 * and goes on — or, at the deadline, renews or hands the turn over. A
 * holder nobody waits for skips the drain (it drains only when about 1.5
 * quanta are queued by its estimate, and once in 8 quanta to measure again). A timer
 * thread ends the turn at the deadline when the process is between
 * submissions, and early when it idles while others wait. Before the turn
 * is handed over, the process's own work is drained, so the next lease
 * really owns the engine.
 *
 * Figures (GPU time granted, time waited, turns, drains) are added to the
 * lease's usage region.
 */
#ifndef GPX_SHM_TURN_H
#define GPX_SHM_TURN_H

#include "gpuplex/error.h"
#include "shm/arbiter.h"
#include "shm/lease.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define GPX_TURN_PACE_WINDOW 4

struct gpx_turn {
    _Atomic int holding;        /* submissions may go ahead */
    _Atomic int64_t left;       /* submissions left in this burst */
    _Atomic int32_t inflight;   /* submissions between enter and exit */
    _Atomic uint64_t submitted; /* in this turn (idle detection) */

    struct gpx_arb *arb;
    struct gpx_arb_handle h;
    struct gpx_lease_usage *usage; /* may be NULL */
    void (*drain)(void *ctx);      /* waits until this process's GPU work is done; NULL: don't */
    void *drain_ctx;

    pthread_mutex_t mu; /* slow path and timer */
    pthread_cond_t cv;
    pthread_t timer;
    int timer_started;
    int stop;
    int capped; /* the lease has a compute cap: every turn ends drained */
    uint64_t deadline_ns;
    uint64_t burst_start_ns;
    uint64_t burst_submitted;
    uint64_t quantum_submitted; /* `submitted` when this quantum began (idle detection) */
    uint64_t est_ns;            /* measured cost of one submission, 0 = unknown */
    uint64_t queued_until;      /* when the work submitted so far should end (estimate) */
    uint64_t quantum_ns;        /* of the last grant or renewal */
    int queued;                 /* work submitted since the queue was last empty */
    uint64_t recent_per[GPX_TURN_PACE_WINDOW]; /* the last costs measured (pace_ns) */
    unsigned recent_pos;
    unsigned undrained_renewals;
};

/*
 * Joins GPU `gpu_uuid`'s arbiter under run_dir for lease `lease_id` and starts
 * the timer thread. `drain` must wait for all GPU work of this process.
 */
int gpx_turn_start(struct gpx_turn *t, const char *run_dir, const char *gpu_uuid,
                   const char *lease_id, uint32_t weight, uint32_t cap_percent,
                   struct gpx_lease_usage *usage, void (*drain)(void *), void *drain_ctx,
                   gpx_error *err);
/* Releases the turn, leaves the arbiter, stops the timer. */
void gpx_turn_stop(struct gpx_turn *t);
/*
 * At process exit: hands the turn over (without draining: the process's work
 * dies with it) and leaves the arbiter, if that can be done without waiting;
 * otherwise does nothing and the arbiter reclaims the turn of the dead
 * process. Never blocks, never unmaps (other threads may still run).
 */
void gpx_turn_abandon(struct gpx_turn *t);

void gpx__turn_slow(struct gpx_turn *t);

static inline void gpx_turn_enter(struct gpx_turn *t)
{
    atomic_fetch_add_explicit(&t->inflight, 1, memory_order_seq_cst);
    if (__builtin_expect(atomic_load_explicit(&t->holding, memory_order_seq_cst), 1) &&
        atomic_fetch_sub_explicit(&t->left, 1, memory_order_relaxed) > 0)
        return;
    gpx__turn_slow(t); /* returns holding the turn, inflight counted */
}

static inline void gpx_turn_exit(struct gpx_turn *t)
{
    atomic_fetch_add_explicit(&t->submitted, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&t->inflight, 1, memory_order_release);
}

#endif
