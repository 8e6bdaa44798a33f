/*
 * Time-slicing in the workload: for a timeslice lease, or a vgpu lease with
 * a compute cap, every submission takes this process's turn on the GPU's
 * arbiter first (src/shm/turn.h, arbiter.h). Installed once at init by
 * setting gpx__submit_enter/exit; leases of other modes never pay more than
 * the NULL test in launch.c / copy.c.
 *
 * Draining: before the turn is handed over, the process waits for all its
 * GPU work. The contexts it submitted from are recorded (a small fixed set;
 * frameworks use one primary context per device) and each is synchronized
 * in turn: push, cuCtxSynchronize, pop — from whichever thread drains.
 */
#define _GNU_SOURCE
#include "interpose/interpose.h"
#include "shm/turn.h"

#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define MAX_CTX 16

static struct gpx_turn turn;
static _Atomic int active;
static _Atomic int captures;  /* stream captures running in this process */
static __thread int bypassed; /* this thread's submission skipped the turn */
static _Atomic(CUcontext) contexts[MAX_CTX];
static __thread CUcontext last_ctx;

static gpx_cuCtxGetCurrent_fn real_get_current;
static gpx_cuCtxPushCurrent_v2_fn real_push;
static gpx_cuCtxPopCurrent_v2_fn real_pop;
static gpx_cuCtxSynchronize_fn real_sync;

static _Atomic unsigned ctx_gen; /* bumped when a context is destroyed */
static __thread unsigned last_gen;

static void remember_context(void)
{
    CUcontext c = NULL;
    unsigned gen = atomic_load(&ctx_gen);
    if (real_get_current(&c) != CUDA_SUCCESS || !c || (c == last_ctx && gen == last_gen))
        return;
    last_ctx = c;
    last_gen = gen;
    for (int i = 0; i < MAX_CTX; i++)
        if (atomic_load(&contexts[i]) == c)
            return;
    for (int i = 0; i < MAX_CTX; i++) {
        CUcontext expected = NULL;
        if (atomic_compare_exchange_strong(&contexts[i], &expected, c) || expected == c)
            return;
    }
    GPX_IP_LOG(GPX_IP_LOG_WARN, "more than %d contexts: later ones are not drained", MAX_CTX);
}

static void drain(void *arg)
{
    (void)arg;
    if (atomic_load(&captures) > 0)
        return; /* a sync now would invalidate the capture; its recorded work runs later */
    for (int i = 0; i < MAX_CTX; i++) {
        CUcontext c = atomic_load(&contexts[i]);
        if (!c)
            continue;
        CUcontext popped;
        if (real_push(c) != CUDA_SUCCESS)
            continue; /* destroyed: nothing of it left to wait for */
        real_sync();
        real_pop(&popped);
    }
}

static void enter(void)
{
    if (atomic_load(&captures) > 0) {
        bypassed = 1; /* recorded into a graph, not run: the graph's launch takes the turn */
        return;
    }
    remember_context();
    gpx_turn_enter(&turn);
}

static void leave(void)
{
    if (bypassed) {
        bypassed = 0;
        return;
    }
    gpx_turn_exit(&turn);
}

void gpx__ip_capture_begin(void)
{
    atomic_fetch_add(&captures, 1);
}

void gpx__ip_context_gone(CUcontext ctx)
{
    for (int i = 0; i < MAX_CTX; i++) {
        CUcontext expected = ctx;
        atomic_compare_exchange_strong(&contexts[i], &expected, NULL);
    }
    atomic_fetch_add(&ctx_gen, 1);
}

int gpx__ip_capturing(void)
{
    return atomic_load(&captures);
}

void gpx__ip_capture_end(void)
{
    int n = atomic_load(&captures);
    while (n > 0 && !atomic_compare_exchange_weak(&captures, &n, n - 1))
        ;
}

void gpx__ip_slice_init(void)
{
    const struct gpx_lease_limits *l = &gpx__ip.limits;
    int wanted = l->mode == GPX_MODE_TIMESLICE || (l->mode == GPX_MODE_VGPU && l->cap_percent);
    if (!wanted)
        return;
    void *h = gpx__ip.cuda_lib;
    if (h) {
        real_get_current = (gpx_cuCtxGetCurrent_fn)gpx__real_dlsym(h, "cuCtxGetCurrent");
        real_push = (gpx_cuCtxPushCurrent_v2_fn)gpx__real_dlsym(h, "cuCtxPushCurrent_v2");
        real_pop = (gpx_cuCtxPopCurrent_v2_fn)gpx__real_dlsym(h, "cuCtxPopCurrent_v2");
        real_sync = (gpx_cuCtxSynchronize_fn)gpx__real_dlsym(h, "cuCtxSynchronize");
    }
    if (!real_get_current || !real_push || !real_pop || !real_sync) {
        GPX_IP_LOG(GPX_IP_LOG_ERROR, "lease %s: the driver lacks context calls; no time-slicing",
                   gpx__ip.lease_id);
        return;
    }
    gpx_error err;
    char key[GPX_ARB_ID_MAX];
    gpx_arb_key(l->nonce, key);
    if (gpx_turn_start(&turn, gpx_run_dir(), l->gpu_uuid, key, l->weight, l->cap_percent,
                       gpx__ip.region.usage, drain, NULL, &err) < 0) {
        GPX_IP_LOG(GPX_IP_LOG_ERROR, "lease %s: time-slicing off: %s", gpx__ip.lease_id, err.msg);
        return;
    }
    atomic_store(&active, 1);
    gpx__submit_exit = leave;
    gpx__submit_enter = enter;
    GPX_IP_LOG(GPX_IP_LOG_INFO, "lease %s: time-slicing on GPU %s, weight %u, cap %u%%",
               gpx__ip.lease_id, l->gpu_uuid, l->weight, l->cap_percent);
}

void gpx__ip_slice_atfork_child(void)
{
    /* The child is not the process the arbiter knows; it runs unarbitrated. */
    if (atomic_exchange(&active, 0)) {
        gpx__submit_enter = NULL;
        gpx__submit_exit = NULL;
    }
}

/* At exit: hand the turn over now rather than leave the others to find us dead. */
__attribute__((destructor)) static void slice_fini(void)
{
    if (!atomic_exchange(&active, 0) || turn.h.slot < 0)
        return;
    gpx__submit_enter = NULL;
    gpx__submit_exit = NULL;
    /* The driver may be torn down already and other threads may still run: hand the turn
     * over if that needs no waiting, else let the arbiter reclaim it from the dead process. */
    gpx_turn_abandon(&turn);
}
