/*
 * Simulated libcuda.so.1, part 2: execution in virtual time. Streams, events,
 * modules, functions and kernel launches.
 *
 * A launch of a module function occupies its GPU's single engine, shared by
 * every process through the state file, for the nanoseconds its first
 * parameter gives. Nothing runs: a launch computes start = max(now, the
 * stream's tail, the engine's queue end), moves the engine's queue end to
 * start + ns with a compare-and-swap, and sets the stream's tail. Waiting
 * (stream/event/context synchronize) sleeps until the relevant tail; queries
 * compare it with the clock. So launches are asynchronous and in stream
 * order, and processes contend as contexts time-slicing a real GPU do.
 * A MIG device has an engine of its own (MIG isolates compute).
 *
 * A launch of real work first waits until its context has at most a short
 * window queued (see ctx_window): a GPU's launch queue is finite and
 * contexts time-slice, so competing processes interleave instead of one
 * running its whole queue first.
 *
 * Utilization: each launch's busy interval is credited to the GPU's
 * utilization buckets, but only up to a horizon shortly ahead of now (the
 * bucket ring is short); the rest waits in a per-process list that a helper
 * thread credits as time reaches it. A killed process's queued work is
 * dropped from utilization, as a killed context's work is on a GPU.
 */
#define _GNU_SOURCE
#include "cuda_sim.h"

#include "mig_state.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A first parameter above this is not a duration (a pointer, say): cap it. */
#define KERNEL_MAX_NS (60ULL * 1000000000ULL)

/* ---------------------------------------------------------------- time */

/*
 * A real driver's synchronize returns microseconds after the work ends (it
 * spins or yields, cudaDeviceScheduleAuto). A sleep with the kernel's default
 * timer slack (50 us) wakes later, and every drain would then leave the
 * simulated engine idle for that long: each thread that waits here sleeps
 * with 1 us of slack.
 */
#define SIM_TIMER_SLACK_NS 1000UL
static __thread int slack_set;

void gpx__cu_sleep_until(uint64_t t)
{
    if (!slack_set) {
        prctl(PR_SET_TIMERSLACK, SIM_TIMER_SLACK_NS, 0, 0, 0);
        slack_set = 1;
    }
    struct timespec ts = {(time_t)(t / 1000000000ULL), (long)(t % 1000000000ULL)};
    while (gpx_sim_now_ns() < t &&
           clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void atomic_max(_Atomic uint64_t *v, uint64_t x)
{
    uint64_t cur = atomic_load(v);
    while (cur < x && !atomic_compare_exchange_weak(v, &cur, x))
        ;
}

/* ---------------------------------------------------------------- utilization crediting */

#define UTIL_HORIZON_NS (10ULL * GPX_SIM_UTIL_BUCKET_NS)

struct span {
    uint64_t s, e;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int thread; /* the helper runs */
    struct span *v[GPX_SIM_MAX_GPUS];
    size_t n[GPX_SIM_MAX_GPUS], cap[GPX_SIM_MAX_GPUS];
} ut = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* Credits what lies before now + horizon; returns 1 if anything is left. Under ut.mu. */
static int credit_locked(uint64_t now)
{
    int left = 0;
    uint64_t lim = now + UTIL_HORIZON_NS;
    for (uint32_t g = 0; g < GPX_SIM_MAX_GPUS; g++) {
        size_t keep = 0;
        for (size_t i = 0; i < ut.n[g]; i++) {
            struct span sp = ut.v[g][i];
            if (sp.s < lim) {
                uint64_t e = sp.e < lim ? sp.e : lim;
                gpx_sim_util_add(gpx__cu.st.gpus[g].util, sp.s, e);
                sp.s = e;
            }
            if (sp.s < sp.e)
                ut.v[g][keep++] = sp;
        }
        ut.n[g] = keep;
        left |= keep > 0;
    }
    return left;
}

static void *util_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&ut.mu);
    for (;;) {
        if (credit_locked(gpx_sim_now_ns())) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)GPX_SIM_UTIL_BUCKET_NS;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&ut.cv, &ut.mu, &ts);
        } else {
            pthread_cond_wait(&ut.cv, &ut.mu);
        }
    }
    return NULL;
}

static void util_atfork_child(void)
{
    /* The helper did not survive fork; a child that uses the driver starts its own. */
    pthread_mutex_init(&ut.mu, NULL);
    pthread_cond_init(&ut.cv, NULL);
    ut.thread = 0;
    for (uint32_t g = 0; g < GPX_SIM_MAX_GPUS; g++)
        ut.n[g] = 0;
}

static pthread_once_t util_once = PTHREAD_ONCE_INIT;
static void util_once_init(void)
{
    pthread_atfork(NULL, NULL, util_atfork_child);
}

static void util_start_locked(void)
{
    if (ut.thread)
        return;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    /* The helper must not take the application's signals. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    if (pthread_create(&t, &a, util_main, NULL) == 0)
        ut.thread = 1;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&a);
}

/* Records that GPU `gpu` is busy over [s, e). */
static void util_busy(uint32_t gpu, uint64_t s, uint64_t e)
{
    if (e <= s)
        return;
    uint64_t now = gpx_sim_now_ns();
    if (e <= now + UTIL_HORIZON_NS) {
        gpx_sim_util_add(gpx__cu.st.gpus[gpu].util, s, e);
        return;
    }
    pthread_once(&util_once, util_once_init);
    pthread_mutex_lock(&ut.mu);
    size_t n = ut.n[gpu];
    if (n && ut.v[gpu][n - 1].e == s) {
        ut.v[gpu][n - 1].e = e; /* back-to-back work: one span */
    } else {
        if (n == ut.cap[gpu]) {
            size_t cap = ut.cap[gpu] ? ut.cap[gpu] * 2 : 64;
            struct span *v = realloc(ut.v[gpu], cap * sizeof *v);
            if (!v) {
                pthread_mutex_unlock(&ut.mu);
                return;
            }
            ut.v[gpu] = v;
            ut.cap[gpu] = cap;
        }
        ut.v[gpu][ut.n[gpu]++] = (struct span){s, e};
    }
    credit_locked(now);
    util_start_locked();
    pthread_cond_signal(&ut.cv);
    pthread_mutex_unlock(&ut.mu);
}

void gpx__cu_copy_traffic(uint32_t gpu, size_t bytes)
{
    uint64_t now = gpx_sim_now_ns();
    uint64_t dur = bytes / 1000; /* ~1 TB/s */
    if (dur > UTIL_HORIZON_NS)
        dur = UTIL_HORIZON_NS;
    if (dur)
        gpx_sim_util_add(gpx__cu.st.gpus[gpu].mem_util, now, now + dur);
}

/* ---------------------------------------------------------------- streams */

static struct sim_stream *stream_new(struct sim_ctx *c, unsigned flags, int prio, int kind)
{
    struct sim_stream *s = gpx__cu.free_streams;
    if (s)
        gpx__cu.free_streams = s->next;
    else if (!(s = calloc(1, sizeof *s)))
        return NULL;
    s->magic = MAGIC_STREAM;
    s->ctx = c;
    s->flags = flags;
    s->priority = prio;
    s->kind = kind;
    s->tid = kind == STREAM_PER_THREAD ? gettid() : 0;
    atomic_store(&s->tail, 0);
    s->next = c->streams;
    c->streams = s;
    return s;
}

static void stream_drop(struct sim_stream *s)
{
    s->magic = MAGIC_DEAD;
    s->next = gpx__cu.free_streams;
    gpx__cu.free_streams = s;
}

void gpx__cu_ctx_drop_streams(struct sim_ctx *c)
{
    while (c->streams) {
        struct sim_stream *s = c->streams;
        c->streams = s->next;
        stream_drop(s);
    }
    c->legacy.magic = MAGIC_DEAD;
}

static __thread struct sim_stream *tls_pts;

static CUresult per_thread_stream(struct sim_ctx *c, struct sim_stream **out)
{
    struct sim_stream *s = tls_pts;
    int tid = gettid();
    /* Stream structs are never freed, so a stale cache reads a dead magic at worst. */
    if (s && s->magic == MAGIC_STREAM && s->ctx == c && s->kind == STREAM_PER_THREAD &&
        s->tid == tid) {
        *out = s;
        return CUDA_SUCCESS;
    }
    pthread_mutex_lock(&gpx__cu.mu);
    for (s = c->streams; s; s = s->next)
        if (s->kind == STREAM_PER_THREAD && s->tid == tid)
            break;
    if (!s)
        s = stream_new(c, 0, 0, STREAM_PER_THREAD);
    pthread_mutex_unlock(&gpx__cu.mu);
    if (!s)
        return CUDA_ERROR_OUT_OF_MEMORY;
    tls_pts = s;
    *out = s;
    return CUDA_SUCCESS;
}

CUresult gpx__cu_stream(CUstream h, int per_thread, struct sim_stream **out)
{
    CU_CHECK_INIT();
    struct sim_ctx *c = gpx__cu_current();
    if (!h || h == CU_STREAM_LEGACY || h == CU_STREAM_PER_THREAD) {
        CUresult r = gpx__cu_ctx_check(c);
        if (r)
            return r;
        if (h == CU_STREAM_PER_THREAD || (!h && per_thread))
            return per_thread_stream(c, out);
        *out = &c->legacy;
        return CUDA_SUCCESS;
    }
    struct sim_stream *s = (struct sim_stream *)h;
    if (s->magic != MAGIC_STREAM || s->kind != STREAM_USER)
        return CUDA_ERROR_INVALID_HANDLE;
    *out = s;
    return CUDA_SUCCESS;
}

uint64_t gpx__cu_stream_floor(struct sim_stream *s)
{
    uint64_t t = atomic_load(&s->tail);
    struct sim_ctx *c = s->ctx;
    if (s->kind == STREAM_LEGACY) {
        /* The legacy stream waits for every blocking stream of its context. */
        pthread_mutex_lock(&gpx__cu.mu);
        for (struct sim_stream *k = c->streams; k; k = k->next)
            if (!(k->flags & CU_STREAM_NON_BLOCKING)) {
                uint64_t kt = atomic_load(&k->tail);
                t = kt > t ? kt : t;
            }
        pthread_mutex_unlock(&gpx__cu.mu);
    } else if (!(s->flags & CU_STREAM_NON_BLOCKING)) {
        /* ... and every blocking stream waits for the legacy stream. */
        uint64_t lt = atomic_load(&c->legacy.tail);
        t = lt > t ? lt : t;
    }
    return t;
}

void gpx__cu_stream_push_tail(struct sim_stream *s, uint64_t end)
{
    atomic_max(&s->tail, end);
}

void gpx__cu_sync_before(struct sim_ctx *c, int per_thread)
{
    struct sim_stream *s = &c->legacy;
    if (per_thread && per_thread_stream(c, &s) != CUDA_SUCCESS)
        s = &c->legacy;
    gpx__cu_sleep_until(gpx__cu_stream_floor(s));
}

static CUresult stream_create(CUstream *ph, unsigned flags, int prio)
{
    CU_CHECK_INIT();
    struct sim_ctx *c = gpx__cu_current();
    CUresult r = gpx__cu_ctx_check(c);
    if (r)
        return r;
    if (!ph || (flags & ~(unsigned)CU_STREAM_NON_BLOCKING))
        return CUDA_ERROR_INVALID_VALUE;
    prio = prio > 0 ? 0 : prio < -5 ? -5 : prio; /* clamped to the context's range */
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_stream *s = stream_new(c, flags, prio, STREAM_USER);
    pthread_mutex_unlock(&gpx__cu.mu);
    if (!s)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *ph = (CUstream)s;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags)
{
    return stream_create(phStream, Flags, 0);
}

SIM_EXPORT CUresult cuStreamCreateWithPriority(CUstream *phStream, unsigned int flags, int priority)
{
    return stream_create(phStream, flags, priority);
}

SIM_EXPORT CUresult cuStreamDestroy_v2(CUstream hStream)
{
    CU_CHECK_INIT();
    struct sim_stream *s = (struct sim_stream *)hStream;
    if (!s || hStream == CU_STREAM_LEGACY || hStream == CU_STREAM_PER_THREAD)
        return CUDA_ERROR_INVALID_HANDLE;
    CUresult r = CUDA_ERROR_INVALID_HANDLE;
    pthread_mutex_lock(&gpx__cu.mu);
    if (s->magic == MAGIC_STREAM && s->kind == STREAM_USER) {
        /* Queued work completes on its own: nothing waits for a destroyed stream. */
        for (struct sim_stream **p = &s->ctx->streams; *p; p = &(*p)->next)
            if (*p == s) {
                *p = s->next;
                break;
            }
        stream_drop(s);
        r = CUDA_SUCCESS;
    }
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

SIM_EXPORT CUresult cuStreamDestroy(CUstream hStream)
{
    return cuStreamDestroy_v2(hStream);
}

static CUresult stream_query(CUstream h, int pt)
{
    struct sim_stream *s;
    CUresult r = gpx__cu_stream(h, pt, &s);
    if (r)
        return r;
    return gpx_sim_now_ns() >= gpx__cu_stream_floor(s) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

SIM_EXPORT CUresult cuStreamQuery(CUstream hStream)
{
    return stream_query(hStream, 0);
}

SIM_EXPORT CUresult cuStreamQuery_ptsz(CUstream hStream)
{
    return stream_query(hStream, 1);
}

static CUresult stream_sync(CUstream h, int pt)
{
    struct sim_stream *s;
    CUresult r = gpx__cu_stream(h, pt, &s);
    if (r)
        return r;
    gpx__cu_sleep_until(gpx__cu_stream_floor(s));
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuStreamSynchronize(CUstream hStream)
{
    return stream_sync(hStream, 0);
}

SIM_EXPORT CUresult cuStreamSynchronize_ptsz(CUstream hStream)
{
    return stream_sync(hStream, 1);
}

static CUresult stream_priority(CUstream h, int *prio, int pt)
{
    struct sim_stream *s;
    CUresult r = gpx__cu_stream(h, pt, &s);
    if (r)
        return r;
    if (!prio)
        return CUDA_ERROR_INVALID_VALUE;
    *prio = s->priority;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuStreamGetPriority(CUstream hStream, int *priority)
{
    return stream_priority(hStream, priority, 0);
}

SIM_EXPORT CUresult cuStreamGetPriority_ptsz(CUstream hStream, int *priority)
{
    return stream_priority(hStream, priority, 1);
}

static CUresult stream_flags(CUstream h, unsigned *flags, int pt)
{
    struct sim_stream *s;
    CUresult r = gpx__cu_stream(h, pt, &s);
    if (r)
        return r;
    if (!flags)
        return CUDA_ERROR_INVALID_VALUE;
    *flags = s->flags;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuStreamGetFlags(CUstream hStream, unsigned int *flags)
{
    return stream_flags(hStream, flags, 0);
}

SIM_EXPORT CUresult cuStreamGetFlags_ptsz(CUstream hStream, unsigned int *flags)
{
    return stream_flags(hStream, flags, 1);
}

static CUresult stream_ctx(CUstream h, CUcontext *pctx, int pt)
{
    struct sim_stream *s;
    CUresult r = gpx__cu_stream(h, pt, &s);
    if (r)
        return r;
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    *pctx = (CUcontext)s->ctx;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuStreamGetCtx(CUstream hStream, CUcontext *pctx)
{
    return stream_ctx(hStream, pctx, 0);
}

SIM_EXPORT CUresult cuStreamGetCtx_ptsz(CUstream hStream, CUcontext *pctx)
{
    return stream_ctx(hStream, pctx, 1);
}

static CUresult host_func(CUstream h, CUhostFn fn, void *data, int pt)
{
    struct sim_stream *s;
    CUresult r = gpx__cu_stream(h, pt, &s);
    if (r)
        return r;
    if (!fn)
        return CUDA_ERROR_INVALID_VALUE;
    if (s->capture)
        return gpx__cu_capture_host(s, fn, data);
    /* Runs in order, after the stream's work, on the caller's thread. */
    gpx__cu_sleep_until(gpx__cu_stream_floor(s));
    fn(data);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuLaunchHostFunc(CUstream hStream, CUhostFn fn, void *userData)
{
    return host_func(hStream, fn, userData, 0);
}

SIM_EXPORT CUresult cuLaunchHostFunc_ptsz(CUstream hStream, CUhostFn fn, void *userData)
{
    return host_func(hStream, fn, userData, 1);
}

SIM_EXPORT CUresult cuCtxSynchronize(void)
{
    CU_CHECK_INIT();
    struct sim_ctx *c = gpx__cu_current();
    CUresult r = gpx__cu_ctx_check(c);
    if (r)
        return r;
    pthread_mutex_lock(&gpx__cu.mu);
    uint64_t t = atomic_load(&c->legacy.tail);
    for (struct sim_stream *k = c->streams; k; k = k->next) {
        uint64_t kt = atomic_load(&k->tail);
        t = kt > t ? kt : t;
    }
    pthread_mutex_unlock(&gpx__cu.mu);
    gpx__cu_sleep_until(t);
    return CUDA_SUCCESS;
}

/* ---------------------------------------------------------------- events */

struct sim_event {
    uint32_t magic;
    unsigned flags;
    _Atomic uint64_t time; /* when the work it follows ends */
    _Atomic int recorded;
    struct sim_event *next; /* free list */
};

static struct sim_event *free_events;

static struct sim_event *event_of(CUevent h)
{
    struct sim_event *e = (struct sim_event *)h;
    return e && e->magic == MAGIC_EVENT ? e : NULL;
}

SIM_EXPORT CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags)
{
    CU_CHECK_INIT();
    CUresult r = gpx__cu_ctx_check(gpx__cu_current());
    if (r)
        return r;
    if (!phEvent || (Flags & ~(unsigned)(CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING |
                                         CU_EVENT_INTERPROCESS)))
        return CUDA_ERROR_INVALID_VALUE;
    if ((Flags & CU_EVENT_INTERPROCESS) && !(Flags & CU_EVENT_DISABLE_TIMING))
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_event *e = free_events;
    if (e)
        free_events = e->next;
    else
        e = calloc(1, sizeof *e);
    pthread_mutex_unlock(&gpx__cu.mu);
    if (!e)
        return CUDA_ERROR_OUT_OF_MEMORY;
    e->flags = Flags;
    atomic_store(&e->time, 0);
    atomic_store(&e->recorded, 0);
    e->next = NULL;
    e->magic = MAGIC_EVENT;
    *phEvent = (CUevent)e;
    return CUDA_SUCCESS;
}

static CUresult event_record(CUevent h, CUstream hs, unsigned flags, int pt)
{
    CU_CHECK_INIT();
    struct sim_event *e = event_of(h);
    if (!e)
        return CUDA_ERROR_INVALID_HANDLE;
    if (flags & ~1U) /* CU_EVENT_RECORD_EXTERNAL */
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_stream *s;
    CUresult r = gpx__cu_stream(hs, pt, &s);
    if (r)
        return r;
    uint64_t t = gpx__cu_stream_floor(s), now = gpx_sim_now_ns();
    atomic_store(&e->time, t > now ? t : now);
    atomic_store(&e->recorded, 1);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuEventRecord(CUevent hEvent, CUstream hStream)
{
    return event_record(hEvent, hStream, 0, 0);
}

SIM_EXPORT CUresult cuEventRecord_ptsz(CUevent hEvent, CUstream hStream)
{
    return event_record(hEvent, hStream, 0, 1);
}

SIM_EXPORT CUresult cuEventRecordWithFlags(CUevent hEvent, CUstream hStream, unsigned int flags)
{
    return event_record(hEvent, hStream, flags, 0);
}

SIM_EXPORT CUresult cuEventRecordWithFlags_ptsz(CUevent hEvent, CUstream hStream,
                                                unsigned int flags)
{
    return event_record(hEvent, hStream, flags, 1);
}

SIM_EXPORT CUresult cuEventQuery(CUevent hEvent)
{
    CU_CHECK_INIT();
    struct sim_event *e = event_of(hEvent);
    if (!e)
        return CUDA_ERROR_INVALID_HANDLE;
    if (!atomic_load(&e->recorded))
        return CUDA_SUCCESS;
    return gpx_sim_now_ns() >= atomic_load(&e->time) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

SIM_EXPORT CUresult cuEventSynchronize(CUevent hEvent)
{
    CU_CHECK_INIT();
    struct sim_event *e = event_of(hEvent);
    if (!e)
        return CUDA_ERROR_INVALID_HANDLE;
    if (atomic_load(&e->recorded))
        gpx__cu_sleep_until(atomic_load(&e->time));
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
    CU_CHECK_INIT();
    if (!pMilliseconds)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_event *a = event_of(hStart), *b = event_of(hEnd);
    if (!a || !b || (a->flags & CU_EVENT_DISABLE_TIMING) || (b->flags & CU_EVENT_DISABLE_TIMING))
        return CUDA_ERROR_INVALID_HANDLE;
    if (!atomic_load(&a->recorded) || !atomic_load(&b->recorded))
        return CUDA_ERROR_INVALID_HANDLE;
    uint64_t ta = atomic_load(&a->time), tb = atomic_load(&b->time), now = gpx_sim_now_ns();
    if (now < ta || now < tb)
        return CUDA_ERROR_NOT_READY;
    *pMilliseconds = (float)(((double)tb - (double)ta) / 1e6);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuEventElapsedTime_v2(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
    return cuEventElapsedTime(pMilliseconds, hStart, hEnd);
}

SIM_EXPORT CUresult cuEventDestroy_v2(CUevent hEvent)
{
    CU_CHECK_INIT();
    CUresult r = CUDA_ERROR_INVALID_HANDLE;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_event *e = event_of(hEvent);
    if (e) {
        e->magic = MAGIC_DEAD;
        e->next = free_events;
        free_events = e;
        r = CUDA_SUCCESS;
    }
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

SIM_EXPORT CUresult cuEventDestroy(CUevent hEvent)
{
    return cuEventDestroy_v2(hEvent);
}

static CUresult stream_wait_event(CUstream hs, CUevent he, unsigned flags, int pt)
{
    CU_CHECK_INIT();
    struct sim_stream *s;
    CUresult r = gpx__cu_stream(hs, pt, &s);
    if (r)
        return r;
    struct sim_event *e = event_of(he);
    if (!e)
        return CUDA_ERROR_INVALID_HANDLE;
    if (flags & ~1U) /* CU_EVENT_WAIT_EXTERNAL */
        return CUDA_ERROR_INVALID_VALUE;
    if (atomic_load(&e->recorded))
        gpx__cu_stream_push_tail(s, atomic_load(&e->time));
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags)
{
    return stream_wait_event(hStream, hEvent, Flags, 0);
}

SIM_EXPORT CUresult cuStreamWaitEvent_ptsz(CUstream hStream, CUevent hEvent, unsigned int Flags)
{
    return stream_wait_event(hStream, hEvent, Flags, 1);
}

/* ---------------------------------------------------------------- modules */

struct sim_func {
    uint32_t magic;
    struct sim_module *mod;
    char name[256];
    int param4; /* the first parameter is 32-bit (PTX .u32/.s32/.b32/.f32) */
    int max_dyn_smem, carveout;
    struct sim_func *next;
};

struct sim_global_var {
    char name[256];
    size_t size;
    CUdeviceptr ptr;
    struct sim_global_var *next;
};

struct sim_module {
    uint32_t magic;
    struct sim_ctx *ctx;
    int is_ptx; /* a PTX image: only its .entry functions exist */
    int ptx_version;
    struct sim_func *funcs; /* PTX: every entry; other images: those asked for */
    struct sim_global_var *globals;
    struct sim_module *next;
};

static struct sim_module *modules;

static const char *skip_ws(const char *p)
{
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (p[0] == '/' && p[1] == '/') {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            p = e ? e + 2 : p + strlen(p);
        } else {
            return p;
        }
    }
}

static int ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || c == '.';
}

static size_t ident(const char *p, char *out, size_t cap)
{
    size_t n = 0;
    while (ident_char(p[n]) && n + 1 < cap) {
        out[n] = p[n];
        n++;
    }
    out[n] = '\0';
    return n;
}

static struct sim_func *func_add(struct sim_module *m, const char *name, int param4)
{
    struct sim_func *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->magic = MAGIC_FUNC;
    f->mod = m;
    snprintf(f->name, sizeof f->name, "%s", name);
    f->param4 = param4;
    f->carveout = -1;
    f->next = m->funcs;
    m->funcs = f;
    return f;
}

/* Reads the PTX text's .version, .entry functions and .global variables. */
static CUresult ptx_parse(struct sim_module *m, const char *text)
{
    const char *v = strstr(text, ".version");
    if (!v)
        return CUDA_ERROR_INVALID_PTX;
    /* ".version MAJOR.MINOR" */
    char *end;
    unsigned long maj = strtoul(v + 8, &end, 10);
    if (end == v + 8 || *end != '.')
        return CUDA_ERROR_INVALID_PTX;
    const char *mp = end + 1;
    unsigned long min = strtoul(mp, &end, 10);
    if (end == mp)
        return CUDA_ERROR_INVALID_PTX;
    m->ptx_version = (int)(maj * 10 + min);
    for (const char *p = strstr(text, ".entry"); p; p = strstr(p + 6, ".entry")) {
        if (p > text && ident_char(p[-1]))
            continue;
        char name[256];
        const char *q = skip_ws(p + 6);
        if (!ident(q, name, sizeof name))
            return CUDA_ERROR_INVALID_PTX;
        /* The first parameter's width: ".param .u32 x" reads 4 bytes, anything else 8. */
        int param4 = 0;
        const char *par = strchr(q, '(');
        const char *body = strchr(q, '{');
        if (par && (!body || par < body)) {
            const char *t = strstr(par, ".param");
            if (t && (!body || t < body)) {
                t = skip_ws(t + 6);
                param4 = !strncmp(t, ".u32", 4) || !strncmp(t, ".s32", 4) ||
                         !strncmp(t, ".b32", 4) || !strncmp(t, ".f32", 4);
            }
        }
        if (!func_add(m, name, param4))
            return CUDA_ERROR_OUT_OF_MEMORY;
    }
    for (const char *p = strstr(text, ".global"); p; p = strstr(p + 7, ".global")) {
        /* ".global [.align N] .TYPE name[N];" */
        const char *q = skip_ws(p + 7);
        size_t esize = 8;
        char tok[256];
        while (*q == '.') {
            size_t n = ident(q, tok, sizeof tok);
            if (!strcmp(tok, ".align")) {
                q = skip_ws(q + n);
                while (*q >= '0' && *q <= '9')
                    q++;
            } else {
                if (!strcmp(tok, ".b8") || !strcmp(tok, ".u8") || !strcmp(tok, ".s8"))
                    esize = 1;
                else if (!strcmp(tok, ".b16") || !strcmp(tok, ".u16") || !strcmp(tok, ".s16") ||
                         !strcmp(tok, ".f16"))
                    esize = 2;
                else if (!strcmp(tok, ".b32") || !strcmp(tok, ".u32") || !strcmp(tok, ".s32") ||
                         !strcmp(tok, ".f32"))
                    esize = 4;
                q += n;
            }
            q = skip_ws(q);
        }
        if (!ident(q, tok, sizeof tok))
            continue;
        q += strlen(tok);
        size_t count = 1;
        if (*q == '[')
            count = strtoul(q + 1, NULL, 10);
        struct sim_global_var *g = calloc(1, sizeof *g);
        if (!g)
            return CUDA_ERROR_OUT_OF_MEMORY;
        snprintf(g->name, sizeof g->name, "%s", tok);
        g->size = esize * (count ? count : 1);
        g->next = m->globals;
        m->globals = g;
    }
    return CUDA_SUCCESS;
}

static void module_free(struct sim_module *m)
{
    while (m->funcs) {
        struct sim_func *f = m->funcs;
        m->funcs = f->next;
        f->magic = MAGIC_DEAD;
        free(f);
    }
    while (m->globals) {
        struct sim_global_var *g = m->globals;
        m->globals = g->next;
        if (g->ptr) {
            struct sim_alloc *a = gpx__cu_lookup((uintptr_t)g->ptr);
            if (a && a->base == g->ptr)
                gpx__cu_free_alloc(a);
        }
        free(g);
    }
    m->magic = MAGIC_DEAD;
    free(m);
}

void gpx__cu_ctx_drop_modules(struct sim_ctx *c)
{
    for (struct sim_module **p = &modules; *p;) {
        struct sim_module *m = *p;
        if (m->ctx == c) {
            *p = m->next;
            module_free(m);
        } else {
            p = &m->next;
        }
    }
}

/* Binary images the driver knows by their first bytes: ELF cubins and fatbins. */
static int is_binary_image(const void *image)
{
    /* Byte by byte, so a short text image is never read past its end. */
    static const unsigned char magics[3][4] = {
        {0x7f, 'E', 'L', 'F'}, {0x50, 0xED, 0x55, 0xBA}, {0xB1, 0x43, 0x62, 0x46}};
    const unsigned char *b = image;
    for (int m = 0; m < 3; m++) {
        int i = 0;
        while (i < 4 && b[i] == magics[m][i])
            i++;
        if (i == 4)
            return 1;
    }
    return 0;
}

static CUresult module_load(CUmodule *out, const void *image)
{
    CU_CHECK_INIT();
    struct sim_ctx *c = gpx__cu_current();
    CUresult r = gpx__cu_ctx_check(c);
    if (r)
        return r;
    if (!out || !image)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_module *m = calloc(1, sizeof *m);
    if (!m)
        return CUDA_ERROR_OUT_OF_MEMORY;
    m->magic = MAGIC_MODULE;
    m->ctx = c;
    if (!is_binary_image(image)) {
        /* PTX is text: it opens with a directive or a comment. */
        const char *t = skip_ws(image);
        if (*t == '.') {
            m->is_ptx = 1;
            r = ptx_parse(m, image);
        }
    }
    pthread_mutex_lock(&gpx__cu.mu);
    for (struct sim_global_var *g = r ? NULL : m->globals; g; g = g->next) {
        struct sim_alloc *a;
        r = gpx__cu_alloc_global(c, g->size, &a);
        if (r)
            break;
        memset((void *)a->base, 0, g->size);
        g->ptr = (CUdeviceptr)a->base;
    }
    if (!r) {
        m->next = modules;
        modules = m;
    } else {
        module_free(m);
    }
    pthread_mutex_unlock(&gpx__cu.mu);
    if (!r)
        *out = (CUmodule)m;
    return r;
}

SIM_EXPORT CUresult cuModuleLoadData(CUmodule *module, const void *image)
{
    return module_load(module, image);
}

SIM_EXPORT CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions,
                                       CUjit_option *options, void **optionValues)
{
    if (numOptions && (!options || !optionValues))
        return CUDA_ERROR_INVALID_VALUE;
    return module_load(module, image);
}

SIM_EXPORT CUresult cuModuleLoadFatBinary(CUmodule *module, const void *fatCubin)
{
    return module_load(module, fatCubin);
}

SIM_EXPORT CUresult cuModuleLoad(CUmodule *module, const char *fname)
{
    CU_CHECK_INIT();
    if (!module || !fname)
        return CUDA_ERROR_INVALID_VALUE;
    int fd = open(fname, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return CUDA_ERROR_FILE_NOT_FOUND;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || sb.st_size <= 0 || sb.st_size > (64 << 20)) {
        close(fd);
        return CUDA_ERROR_INVALID_IMAGE;
    }
    size_t n = (size_t)sb.st_size;
    char *buf = malloc(n + 4); /* NUL-terminated; room for the 4-byte magic check */
    if (!buf) {
        close(fd);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    memset(buf + got, 0, 4);
    CUresult r = got == n ? module_load(module, buf) : CUDA_ERROR_INVALID_IMAGE;
    free(buf);
    return r;
}

static struct sim_module *module_of(CUmodule h)
{
    for (struct sim_module *m = modules; m; m = m->next)
        if (m == (struct sim_module *)h)
            return m;
    return NULL;
}

SIM_EXPORT CUresult cuModuleUnload(CUmodule hmod)
{
    CU_CHECK_INIT();
    CUresult r = CUDA_ERROR_INVALID_HANDLE;
    pthread_mutex_lock(&gpx__cu.mu);
    for (struct sim_module **p = &modules; *p; p = &(*p)->next)
        if (*p == (struct sim_module *)hmod) {
            struct sim_module *m = *p;
            *p = m->next;
            module_free(m);
            r = CUDA_SUCCESS;
            break;
        }
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

SIM_EXPORT CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
{
    CU_CHECK_INIT();
    if (!hfunc || !name)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = CUDA_ERROR_NOT_FOUND;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_module *m = module_of(hmod);
    struct sim_func *f = NULL;
    if (!m) {
        r = CUDA_ERROR_INVALID_HANDLE;
    } else {
        for (f = m->funcs; f; f = f->next)
            if (!strcmp(f->name, name))
                break;
        /* A binary image is opaque here: any name it is asked for exists. */
        if (!f && !m->is_ptx && *name)
            f = func_add(m, name, 0);
        if (f)
            r = CUDA_SUCCESS;
    }
    pthread_mutex_unlock(&gpx__cu.mu);
    if (f)
        *hfunc = (CUfunction)f;
    return r;
}

SIM_EXPORT CUresult cuModuleGetGlobal_v2(CUdeviceptr *dptr, size_t *bytes, CUmodule hmod,
                                         const char *name)
{
    CU_CHECK_INIT();
    if (!name)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = CUDA_ERROR_NOT_FOUND;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_module *m = module_of(hmod);
    if (!m) {
        r = CUDA_ERROR_INVALID_HANDLE;
    } else {
        for (struct sim_global_var *g = m->globals; g; g = g->next)
            if (!strcmp(g->name, name)) {
                if (dptr)
                    *dptr = g->ptr;
                if (bytes)
                    *bytes = g->size;
                r = CUDA_SUCCESS;
                break;
            }
    }
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

static struct sim_func *func_of(CUfunction h)
{
    struct sim_func *f = (struct sim_func *)h;
    return f && f->magic == MAGIC_FUNC ? f : NULL;
}

SIM_EXPORT CUresult cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc)
{
    CU_CHECK_INIT();
    if (!pi)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_func *f = func_of(hfunc);
    if (!f)
        return CUDA_ERROR_INVALID_HANDLE;
    const struct gpx_sim_gpu *g = &gpx__cu.st.gpus[f->mod->ctx->gpu];
    switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
        *pi = 1024;
        break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS:
        *pi = 32;
        break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION:
        *pi = f->mod->is_ptx ? f->mod->ptx_version : (int)(g->cc_major * 10 + g->cc_minor);
        break;
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION:
        *pi = (int)(g->cc_major * 10 + g->cc_minor);
        break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
        *pi = f->max_dyn_smem ? f->max_dyn_smem : 49152;
        break;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
        *pi = f->carveout;
        break;
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES:
    case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES:
    case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES:
    case CU_FUNC_ATTRIBUTE_CACHE_MODE_CA:
    case CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH:
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
        *pi = 0;
        break;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value)
{
    CU_CHECK_INIT();
    struct sim_func *f = func_of(hfunc);
    if (!f)
        return CUDA_ERROR_INVALID_HANDLE;
    int optin = 0;
    cuDeviceGetAttribute(&optin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                         f->mod->ctx->device);
    switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
        if (value < 0 || value > optin)
            return CUDA_ERROR_INVALID_VALUE;
        f->max_dyn_smem = value;
        return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
        if (value < -1 || value > 100)
            return CUDA_ERROR_INVALID_VALUE;
        f->carveout = value;
        return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH:
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
        return CUDA_SUCCESS;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
}

/* Blocks of `block` threads (with `smem` dynamic shared bytes) one SM holds at once. */
static int blocks_per_sm(const struct sim_func *f, int block, size_t smem)
{
    if (block <= 0 || block > 1024)
        return 0;
    int warps = (block + 31) / 32;
    int n = 64 / warps; /* 64 resident warps per SM */
    if (n > 32)
        n = 32;
    int per_sm = 0;
    cuDeviceGetAttribute(&per_sm, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR,
                         f->mod->ctx->device);
    if (smem) {
        int k = (int)((size_t)per_sm / (smem + 1024));
        n = k < n ? k : n;
    }
    return n;
}

SIM_EXPORT CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks, CUfunction func,
                                                                int blockSize,
                                                                size_t dynamicSMemSize)
{
    CU_CHECK_INIT();
    if (!numBlocks || blockSize <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_func *f = func_of(func);
    if (!f)
        return CUDA_ERROR_INVALID_HANDLE;
    *numBlocks = blocks_per_sm(f, blockSize, dynamicSMemSize);
    return CUDA_SUCCESS;
}

/* ---------------------------------------------------------------- launches */

/*
 * A GPU's launch queue is finite, and contexts time-slice rather than run
 * their whole queues one after another. So a launch waits (as a launch into a
 * full queue does) until its context's queued work ends at most
 * LAUNCH_WINDOW_NS from now. Each context then keeps about one window of
 * work on the shared engine, and contexts of different processes interleave
 * on it, each seeing the slowdown of sharing the GPU; alone, a context still
 * keeps the engine busy without gaps. The window is 10 ms (it was 2 ms): a
 * launching thread that the host does not run for longer than the window
 * leaves the engine idle, which a real GPU's deeper queue does not, and on a
 * loaded 2-CPU host 2 ms was often too short (bench/timeslice lost 2-7 % of
 * the engine's time alone to it).
 */
#define LAUNCH_WINDOW_NS (10ULL * 1000000ULL)

static void ctx_window(struct sim_ctx *c)
{
    for (;;) {
        uint64_t q = atomic_load(&c->queue_end), now = gpx_sim_now_ns();
        if (q <= now + LAUNCH_WINDOW_NS)
            return;
        gpx__cu_sleep_until(q - LAUNCH_WINDOW_NS);
    }
}

/* The simulated duration: the first kernel parameter, in ns. */
static uint64_t launch_ns(const struct sim_func *f, void **params, void **extra)
{
    uint64_t ns = 0;
    size_t width = f->param4 ? 4 : 8;
    if (params && params[0]) {
        if (width == 4) {
            uint32_t v;
            memcpy(&v, params[0], 4);
            ns = v;
        } else {
            memcpy(&ns, params[0], 8);
        }
    } else if (extra) {
        const void *buf = NULL;
        size_t size = 0;
        for (size_t i = 0; i < 16 && extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
            if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER)
                buf = extra[i + 1];
            else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE && extra[i + 1])
                memcpy(&size, extra[i + 1], sizeof size);
        }
        if (buf && size >= width) {
            if (width == 4) {
                uint32_t v;
                memcpy(&v, buf, 4);
                ns = v;
            } else {
                memcpy(&ns, buf, 8);
            }
        }
    }
    return ns > KERNEL_MAX_NS ? KERNEL_MAX_NS : ns;
}

int gpx__cu_func_valid(CUfunction hf)
{
    return func_of(hf) != NULL;
}

/* Checks shared by launches and kernel nodes: the function, the geometry, the parameters. */
static CUresult kernel_check(struct sim_func *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                             unsigned by, unsigned bz, unsigned smem, void **params, void **extra)
{
    if (!gx || !gy || !gz || !bx || !by || !bz || gx > 0x7fffffffU || gy > 65535 || gz > 65535 ||
        bx > 1024 || by > 1024 || bz > 64 || (uint64_t)bx * by * bz > 1024)
        return CUDA_ERROR_INVALID_VALUE;
    if (smem > (unsigned)(f->max_dyn_smem > 49152 ? f->max_dyn_smem : 49152))
        return CUDA_ERROR_INVALID_VALUE;
    if (params && extra)
        return CUDA_ERROR_INVALID_VALUE;
    return CUDA_SUCCESS;
}

CUresult gpx__cu_kernel_check(CUfunction hf, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                              unsigned by, unsigned bz, unsigned smem, void **params, void **extra,
                              struct sim_ctx **ctx, uint64_t *ns)
{
    struct sim_func *f = func_of(hf);
    if (!f)
        return CUDA_ERROR_INVALID_HANDLE;
    CUresult r = kernel_check(f, gx, gy, gz, bx, by, bz, smem, params, extra);
    if (r)
        return r;
    *ctx = f->mod->ctx;
    *ns = launch_ns(f, params, extra);
    return CUDA_SUCCESS;
}

static CUresult launch(CUfunction hf, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                       unsigned by, unsigned bz, unsigned smem, CUstream hs, void **params,
                       void **extra, int pt, int cooperative)
{
    CU_CHECK_INIT();
    struct sim_ctx *c = gpx__cu_current();
    CUresult r = gpx__cu_ctx_check(c);
    if (r)
        return r;
    struct sim_func *f = func_of(hf);
    if (!f)
        return CUDA_ERROR_INVALID_HANDLE;
    if (f->mod->ctx != c)
        return CUDA_ERROR_INVALID_CONTEXT;
    r = kernel_check(f, gx, gy, gz, bx, by, bz, smem, params, extra);
    if (r)
        return r;
    if (cooperative) {
        int per_sm = blocks_per_sm(f, (int)(bx * by * bz), smem);
        uint64_t max = (uint64_t)per_sm * gpx__cu_sm_count(c->gpu);
        if ((uint64_t)gx * gy * gz > max)
            return CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE;
    }
    struct sim_stream *s;
    r = gpx__cu_stream(hs, pt, &s);
    if (r)
        return r;
    if (s->ctx != c)
        return CUDA_ERROR_INVALID_HANDLE;
    uint64_t ns = launch_ns(f, params, extra);
    if (s->capture) {
        const unsigned dims[7] = {gx, gy, gz, bx, by, bz, smem};
        return gpx__cu_capture_kernel(s, hf, dims, ns);
    }
    gpx__cu_kernel_run(c, s, ns);
    return CUDA_SUCCESS;
}

void gpx__cu_kernel_run(struct sim_ctx *c, struct sim_stream *s, uint64_t ns)
{
    uint64_t start;
    if (ns)
        ctx_window(c);
    const struct sim_mig_view *m = &gpx__cu.mig[c->gpu];
    uint64_t end;
    if (m->on) {
        /* Its own engine; the board is busy in proportion to the SMs it has. */
        uint64_t share = ns * m->sm_count / gpx__cu.st.gpus[c->gpu].sm_count;
        end = gpx_sim_mig_engine_submit_after(&gpx__cu.st, c->gpu, m->gi, m->ci,
                                              gpx__cu_stream_floor(s), ns, share, &start);
        util_busy(c->gpu, start, start + share);
    } else {
        end = gpx_sim_engine_submit_after(&gpx__cu.st, c->gpu, gpx__cu_stream_floor(s), ns, &start);
        util_busy(c->gpu, start, end);
    }
    if (ns)
        gpx_sim_proc_account(gpx__cu.slot[c->gpu], start, end);
    gpx__cu_stream_push_tail(s, end);
    atomic_max(&c->queue_end, end);
}

SIM_EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                                   unsigned int bx, unsigned int by, unsigned int bz,
                                   unsigned int smem, CUstream s, void **params, void **extra)
{
    return launch(f, gx, gy, gz, bx, by, bz, smem, s, params, extra, 0, 0);
}

SIM_EXPORT CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy,
                                        unsigned int gz, unsigned int bx, unsigned int by,
                                        unsigned int bz, unsigned int smem, CUstream s,
                                        void **params, void **extra)
{
    return launch(f, gx, gy, gz, bx, by, bz, smem, s, params, extra, 1, 0);
}

static CUresult launch_ex(const CUlaunchConfig *cfg, CUfunction f, void **params, void **extra,
                          int pt)
{
    if (!cfg || (cfg->numAttrs && !cfg->attrs))
        return CUDA_ERROR_INVALID_VALUE;
    int coop = 0;
    for (unsigned i = 0; i < cfg->numAttrs; i++)
        if (cfg->attrs[i].id == CU_LAUNCH_ATTRIBUTE_COOPERATIVE)
            coop = cfg->attrs[i].value.cooperative != 0;
    return launch(f, cfg->gridDimX, cfg->gridDimY, cfg->gridDimZ, cfg->blockDimX, cfg->blockDimY,
                  cfg->blockDimZ, cfg->sharedMemBytes, cfg->hStream, params, extra, pt, coop);
}

SIM_EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f,
                                     void **kernelParams, void **extra)
{
    return launch_ex(config, f, kernelParams, extra, 0);
}

SIM_EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig *config, CUfunction f,
                                          void **kernelParams, void **extra)
{
    return launch_ex(config, f, kernelParams, extra, 1);
}

SIM_EXPORT CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned int gx, unsigned int gy,
                                              unsigned int gz, unsigned int bx, unsigned int by,
                                              unsigned int bz, unsigned int smem, CUstream s,
                                              void **params)
{
    return launch(f, gx, gy, gz, bx, by, bz, smem, s, params, NULL, 0, 1);
}

SIM_EXPORT CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy,
                                                   unsigned int gz, unsigned int bx,
                                                   unsigned int by, unsigned int bz,
                                                   unsigned int smem, CUstream s, void **params)
{
    return launch(f, gx, gy, gz, bx, by, bz, smem, s, params, NULL, 1, 1);
}
