/*
 * Turn keeping for one process on one GPU (see turn.h).
 *
 * Invariants:
 * - `holding` is set only under `mu`, by the thread that holds the arbiter
 *   turn for this process; it is cleared under `mu` before any drain, and
 *   the drain starts only when `inflight` is 0, so no submission can slip
 *   past a drain into another lease's turn.
 * - Exactly one of {the slow path, the timer} talks to the arbiter at a time
 *   (both under `mu`).
 */
#define _GNU_SOURCE
#include "shm/turn.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define FIRST_BURST     8 /* submissions before the first measurement */
#define MAX_BURST       65536
#define IDLE_POLL_NS    2000000ULL /* a holder idle this long while others wait yields */
/*
 * A drain empties the GPU's queue, so the engine idles from the last kernel's
 * end until the next submission: every drain costs GPU time. A turn therefore
 * drains once, at its end, when its budget (what fits in the rest of the
 * quantum) is spent: what is left after that drain is worth another burst
 * only if it holds a few submissions and MIN_BURST_NS; otherwise the turn
 * ends early. A holder nobody waits for does not drain at all (below).
 */
#define MIN_BURST_NS    1000000ULL
#define MIN_BURST_COUNT 4
/* A holder alone drains once in this many quanta (see go_on_alone_locked). */
#define RESYNC_QUANTA   8
/* Timer slack of the timer thread: the kernel's default (50 us) is late for a deadline. */
#define TIMER_SLACK_NS  1000UL

static void add_stat(_Atomic uint64_t *f, uint64_t v)
{
    if (f)
        atomic_fetch_add(f, v);
}

static void abs_time(struct timespec *ts, uint64_t mono_ns)
{
    ts->tv_sec = (time_t)(mono_ns / 1000000000ULL);
    ts->tv_nsec = (long)(mono_ns % 1000000000ULL);
}

/*
 * The cost of a submission that bursts are sized and the queue paced by: the
 * least of the last few measured. Noise only makes a measurement too high
 * (the host left the process unscheduled while it drained), and too high a
 * cost means short bursts, drains in the middle of a turn, an idle GPU; a
 * cost that really grew shows in every measurement and is taken within
 * GPX_TURN_PACE_WINDOW drains (meanwhile a turn overruns its deadline by
 * what is queued, and is charged for it).
 */
static uint64_t pace_ns(const struct gpx_turn *t)
{
    uint64_t m = t->est_ns;
    for (unsigned i = 0; i < GPX_TURN_PACE_WINDOW && i < t->recent_pos; i++)
        if (t->recent_per[i] < m)
            m = t->recent_per[i];
    return m;
}

/* Submissions that fit in what is left of the turn, at the measured cost of one. */
static int64_t burst_for(const struct gpx_turn *t, uint64_t now)
{
    if (!t->est_ns)
        return FIRST_BURST;
    uint64_t rest = t->deadline_ns > now ? t->deadline_ns - now : 0;
    int64_t n = (int64_t)(rest / pace_ns(t));
    return n < 1 ? 1 : n > MAX_BURST ? MAX_BURST : n;
}

/* Room for another burst after a drain: a few submissions and MIN_BURST_NS. */
static int worth_a_burst(const struct gpx_turn *t, uint64_t now)
{
    uint64_t rest = t->deadline_ns > now ? t->deadline_ns - now : 0;
    return rest >= MIN_BURST_NS && rest >= MIN_BURST_COUNT * pace_ns(t);
}

/* Until in-flight submissions have returned (one may sit in the driver's full queue). */
static void wait_inflight(struct gpx_turn *t)
{
    for (int i = 0; atomic_load(&t->inflight) > 0; i++) {
        if (i < 64) {
            sched_yield();
        } else {
            struct timespec ts = {0, 20000}; /* don't spin a CPU the submitter may need */
            nanosleep(&ts, NULL);
        }
    }
}

/* Waits for in-flight submissions, then drains the GPU; updates the cost estimate. */
static void drain_locked(struct gpx_turn *t)
{
    wait_inflight(t);
    if (t->drain)
        t->drain(t->drain_ctx);
    gpx_arb_count_drain(&t->h);
    add_stat(t->usage ? &t->usage->drains : NULL, 1);
    uint64_t now = gpx_arb_now_ns();
    t->queued_until = now; /* drained: nothing queued */
    uint64_t n = atomic_load(&t->submitted) - t->burst_submitted;
    if (n > 0) {
        uint64_t per = (now - t->burst_start_ns) / n;
        t->est_ns = t->est_ns ? (t->est_ns * 3 + per) / 4 : per;
        if (t->est_ns == 0)
            t->est_ns = 1;
        t->recent_per[t->recent_pos++ % GPX_TURN_PACE_WINDOW] = per ? per : 1;
    }
    t->burst_start_ns = now;
    t->burst_submitted = atomic_load(&t->submitted);
    t->queued = 0;
}

static void start_burst_locked(struct gpx_turn *t, uint64_t now)
{
    int64_t n = burst_for(t, now);
    /* The cost estimate is measured from an empty queue to the drain that empties it
     * again, over however many bursts went between (undrained ones included). */
    if (!t->queued) {
        t->burst_start_ns = now;
        t->burst_submitted = atomic_load(&t->submitted);
        t->queued = 1;
    }
    /* where this process's queue will end, at the measured cost of a submission */
    t->queued_until = (t->queued_until > now ? t->queued_until : now) + (uint64_t)n * pace_ns(t);
    atomic_store(&t->left, n);
    atomic_store(&t->holding, 1);
    pthread_cond_broadcast(&t->cv);
}

static void renewed_locked(struct gpx_turn *t, uint64_t d)
{
    uint64_t now = gpx_arb_now_ns();
    if (d > now)
        t->quantum_ns = d - now;
    t->deadline_ns = d;
    t->quantum_submitted = atomic_load(&t->submitted);
    start_burst_locked(t, gpx_arb_now_ns());
}

/* At the deadline (drained): renew, or hand over. Returns 1 if still holding. */
static int renew_locked(struct gpx_turn *t)
{
    uint64_t d = gpx_arb_renew_or_release(&t->h);
    add_stat(t->usage ? &t->usage->gpu_ns_granted : NULL, t->h.charged_ns_last);
    if (!d)
        return 0;
    renewed_locked(t, d);
    return 1;
}

/*
 * Nobody waits and no cap applies: nothing to hand over to, so no drain. The
 * turn goes on (a new burst, renewed at the deadline) with the queue kept
 * full — but not much more than a quantum ahead (a driver's queue can hold
 * far more): work queued when another tenant comes is what it waits for
 * first.
 * Needs a cost estimate (made by a drain) to size bursts. Returns 1 if it
 * went on, 0 if the caller must drain. Under mu, holding.
 */
static int go_on_alone_locked(struct gpx_turn *t, uint64_t now)
{
    if (t->capped || !t->est_ns || gpx_arb_contended(&t->h))
        return 0;
    /* More than a quantum and a half queued by the estimate: drain (which waits exactly as
     * long as the work really takes, and measures the cost again) rather than sleep on an
     * estimate that may be too high and leave the GPU idle. */
    if (t->quantum_ns && t->queued_until > now + t->quantum_ns * 3 / 2)
        return 0;
    if (now < t->deadline_ns && worth_a_burst(t, now)) {
        start_burst_locked(t, now);
        return 1;
    }
    /* Every RESYNC_QUANTA-th renewal drains anyway: the estimate that paces the queue
     * (queued_until) drifts by its error, and only a drain measures it again. */
    if (++t->undrained_renewals % RESYNC_QUANTA == 0)
        return 0;
    uint64_t d = gpx_arb_renew_if_alone(&t->h);
    add_stat(t->usage ? &t->usage->gpu_ns_granted : NULL, t->h.charged_ns_last);
    if (!d)
        return 0;
    renewed_locked(t, d);
    return 1;
}

static void release_locked(struct gpx_turn *t)
{
    atomic_store(&t->holding, 0);
    drain_locked(t);
    gpx_arb_release(&t->h);
    add_stat(t->usage ? &t->usage->gpu_ns_granted : NULL, t->h.charged_ns_last);
}

void gpx__turn_slow(struct gpx_turn *t)
{
    atomic_fetch_sub(&t->inflight, 1);
    pthread_mutex_lock(&t->mu);
    for (;;) {
        if (t->stop || t->h.slot < 0)
            break; /* the process is exiting: submit without a turn */
        if (atomic_load(&t->holding)) {
            if (atomic_fetch_sub(&t->left, 1) > 0)
                break; /* another thread refreshed the budget */
            /* budget spent: go on undrained if alone, else drain, measure, and go on if
             * the turn has room for another burst */
            if (go_on_alone_locked(t, gpx_arb_now_ns()))
                continue;
            atomic_store(&t->holding, 0);
            drain_locked(t);
            uint64_t now = gpx_arb_now_ns();
            if (now < t->deadline_ns && worth_a_burst(t, now) && gpx_arb_holding(&t->h)) {
                start_burst_locked(t, now);
                continue;
            }
            if (renew_locked(t))
                continue;
        }
        /* not holding: wait for the turn */
        uint64_t d = gpx_arb_acquire(&t->h);
        add_stat(t->usage ? &t->usage->wait_ns : NULL, t->h.wait_ns_last);
        add_stat(t->usage ? &t->usage->turns : NULL, 1);
        if (t->usage) {
            uint64_t us = t->h.wait_ns_last / 1000;
            unsigned b = 0;
            while (b < 23 && (1ULL << b) <= us)
                b++;
            atomic_fetch_add(&t->usage->wait_hist[b], 1);
            uint64_t grant_ms = t->h.turn_start_ns / 1000000ULL;
            uint64_t rec =
                (grant_ms & 0xffffffffULL) << 32 | (us > 0xffffffffULL ? 0xffffffffULL : us);
            uint32_t pos = atomic_fetch_add(&t->usage->turn_ring_pos, 1);
            atomic_store(&t->usage->turn_ring[pos % GPX_LEASE_TURN_RING], rec);
        }
        t->queued = 0; /* drained before it let the turn go */
        renewed_locked(t, d);
    }
    atomic_fetch_add(&t->inflight, 1);
    pthread_mutex_unlock(&t->mu);
}

static void *timer_main(void *arg)
{
    struct gpx_turn *t = arg;
    prctl(PR_SET_TIMERSLACK, TIMER_SLACK_NS, 0, 0, 0);
    pthread_mutex_lock(&t->mu);
    uint64_t seen = atomic_load(&t->submitted);
    while (!t->stop) {
        if (!atomic_load(&t->holding)) {
            pthread_cond_wait(&t->cv, &t->mu);
            seen = atomic_load(&t->submitted);
            continue;
        }
        uint64_t now = gpx_arb_now_ns();
        if (!gpx_arb_holding(&t->h)) {
            /* taken from us for a hang: stop submitting, the next submission re-queues */
            atomic_store(&t->holding, 0);
            continue;
        }
        if (now < t->deadline_ns) {
            uint64_t wake = t->deadline_ns;
            int contended = gpx_arb_contended(&t->h);
            if (contended && now + IDLE_POLL_NS < wake)
                wake = now + IDLE_POLL_NS;
            struct timespec ts;
            abs_time(&ts, wake);
            pthread_cond_timedwait(&t->cv, &t->mu, &ts);
            uint64_t sub = atomic_load(&t->submitted);
            if (contended && sub == seen && atomic_load(&t->inflight) == 0 &&
                atomic_load(&t->holding) && gpx_arb_now_ns() < t->deadline_ns &&
                gpx_arb_contended(&t->h)) {
                release_locked(t); /* idle while others wait: give the turn back */
            }
            seen = sub;
            continue;
        }
        /* deadline: drain and renew or hand over; a process that submitted nothing
         * in the whole quantum is idle: it hands over (and is billed no more); one
         * that nobody waits for renews undrained */
        uint64_t sub = atomic_load(&t->submitted);
        if (sub != t->quantum_submitted && ++t->undrained_renewals % RESYNC_QUANTA != 0) {
            uint64_t d = t->capped || !t->est_ns ? 0 : gpx_arb_renew_if_alone(&t->h);
            if (d) {
                add_stat(t->usage ? &t->usage->gpu_ns_granted : NULL, t->h.charged_ns_last);
                t->deadline_ns = d;
                t->quantum_submitted = sub;
                seen = sub;
                continue;
            }
        }
        atomic_store(&t->holding, 0);
        drain_locked(t);
        sub = atomic_load(&t->submitted);
        if (sub == t->quantum_submitted && atomic_load(&t->inflight) == 0) {
            gpx_arb_release(&t->h);
            add_stat(t->usage ? &t->usage->gpu_ns_granted : NULL, t->h.charged_ns_last);
        } else if (!renew_locked(t)) {
            sub = atomic_load(&t->submitted);
        }
        seen = sub;
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

int gpx_turn_start(struct gpx_turn *t, const char *run_dir, const char *gpu_uuid,
                   const char *lease_id, uint32_t weight, uint32_t cap_percent,
                   struct gpx_lease_usage *usage, void (*drain)(void *), void *drain_ctx,
                   gpx_error *err)
{
    memset(t, 0, sizeof *t);
    char path[4096];
    if (gpx_arb_path(run_dir, gpu_uuid, path, sizeof path, err) < 0 ||
        gpx_arb_open(path, 0, &t->arb, err) < 0)
        return -1;
    if (gpx_arb_join(t->arb, lease_id, weight, cap_percent, getpid(), &t->h, err) < 0) {
        gpx_arb_close(t->arb);
        t->arb = NULL;
        return -1;
    }
    t->usage = usage;
    t->capped = cap_percent > 0;
    t->drain = drain;
    t->drain_ctx = drain_ctx;
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    /* The timer must not receive the application's signals. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&t->timer, NULL, timer_main, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        gpx_arb_leave(&t->h);
        gpx_arb_close(t->arb);
        t->arb = NULL;
        return gpx_error_errno(err, GPX_E_INTERNAL, rc, "starting the time-slice timer");
    }
    t->timer_started = 1;
    return 0;
}

void gpx_turn_abandon(struct gpx_turn *t)
{
    if (!t->arb || pthread_mutex_trylock(&t->mu) != 0)
        return;
    t->stop = 1;
    atomic_store(&t->holding, 0);
    gpx_arb_leave(&t->h); /* releases the turn if held, charging it */
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

void gpx_turn_stop(struct gpx_turn *t)
{
    if (!t->arb)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    if (atomic_load(&t->holding) || gpx_arb_holding(&t->h))
        release_locked(t);
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    if (t->timer_started)
        pthread_join(t->timer, NULL);
    gpx_arb_leave(&t->h);
    gpx_arb_close(t->arb);
    t->arb = NULL;
}
