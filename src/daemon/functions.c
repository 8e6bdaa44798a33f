/*
 * GPU functions (docs/functions.md): registry, worker pool, router and meter.
 *
 * Registry: one record per function in the store's functions table (the
 * spec's JSON plus its owner), loaded at open. Worker leases left active by a
 * daemon that died are released at open (their workers died with it: each
 * worker gets PR_SET_PDEATHSIG).
 *
 * Pool: one manager thread for every function. It starts workers (a lease
 * from the function's spec, as its owner, labelled gpuplex.function=NAME;
 * then fork/exec with the lease's environment and GPUPLEX_WORKER_SOCKET),
 * probes starting ones with GET /ready, reaps exited ones (their leases are
 * released), stops idle ones beyond min_workers after idle_timeout_s, keeps
 * min_workers, scales up to max_workers while calls wait, answers calls that
 * waited past their timeout (504), reads the workers' output into per-worker
 * tails and flushes the meter to the store. The engine tells it (an observer)
 * when a worker's lease ends some other way: that worker is killed.
 *
 * Router: POST .../invoke makes a call (gpxd_fn_call_new) and http.c runs it
 * (gpxd_fn_call_run) on the connection's own thread (http.c serves a thread
 * per connection): the call joins the function's bounded queue (429 when
 * full); when it is first in line and a ready worker has a free slot (the
 * least busy), that same thread proxies it over the worker's unix socket
 * (fn_http.c: a small HTTP/1.1 client; connections are kept alive, one per
 * call slot, when the worker's answers allow), completes it and returns; until
 * then it sleeps on its own condition variable, which whoever may let it go
 * signals (a slot freed, a worker ready, the call before it gone). No thread
 * hand-off on the way: a routed call wakes two threads of gpuplexd's (the
 * request, the worker's answer), where the dispatcher threads this replaced
 * woke four (bench/functions/RESULTS.md).
 *
 * Polling: the wake-up on the worker's answer costs what a thread's wake-up
 * costs on the machine, about 50 µs on a VM whose idle vCPUs halt without
 * polling first (bench/functions/RESULTS.md). While a function's answers come
 * within fn_spin_us (f->answer_ns: a moving average of how long its calls take
 * on the worker, from connecting or sending to the answer), its calls poll the
 * worker's socket for that long (recv, then sched_yield) before sleeping: the
 * answer finds the thread awake. Longer answers sleep at once
 * (polling would burn the CPU for nothing), and at most one thread per two
 * of the CPUs gpuplexd may run on polls at a time (m->spinners; none with
 * one CPU). sched_yield() gives way only within gpuplexd's own cgroup: a
 * worker in another CPU cgroup sharing the poller's CPU waits for the
 * budget to run out (docs/functions.md says when to set fn_spin_us = 0).
 * Every accepted call is completed exactly once: by its own thread (the
 * worker's answer, 502, 504), the manager (504 while queued, 503 when no
 * worker can start) or the stop (503).
 *
 * Locking: m->lock guards the functions, workers, queues and counters; the
 * engine is never called with it held (lease creation is slow, and engine
 * observers run under the engine's lock). The observer only touches
 * m->ev_lock and the wake pipe. The meter buffer has its own lock.
 */
#define _GNU_SOURCE
#include "daemon/functions.h"
#include "core/log.h"
#include "daemon/daemon.h"
#include "engine/views.h"
#include "shm/arbiter.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FUNCTIONS   64
#define LOG_MAX         (256 * 1024) /* bytes of output kept per worker */
#define STOP_GRACE_NS   5000000000LL /* SIGTERM, then SIGKILL this much later */
#define START_BACKOF_NS 500000000LL  /* after a failed start */
#define METER_FLUSH_NS  250000000LL
#define N_BUCKETS       14
#define N_STATUS        24
#define MAX_EVENTS      256
#define MAX_IDLE_CONNS  32 /* kept-alive connections to one worker */

static const double buckets[N_BUCKETS - 1] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                              0.1,    0.25,  0.5,    1,     2.5,  10};

enum wstate { W_FREE = 0, W_STARTING, W_READY, W_STOPPING };
static const char *const wstate_names[] = {"exited", "starting", "ready", "stopping"};

struct worker {
    enum wstate state;
    int busy;   /* the manager is starting it (no lease or pid yet): only it touches it */
    unsigned n; /* its number within the function: id NAME-n */
    char lease[64];
    int arbitrated; /* its lease's GPU time comes from the arbiter */
    /* that arbiter (the module's mapping of its GPU's file) and the lease's key in it; NULL:
     * read through the engine */
    struct gpx_arb *arb;
    char arb_key[GPX_ARB_ID_MAX];
    char sock[108];
    /* an image worker's podman container (gpuplex-fn-NAME-n-PREFIX) and the directory of its
     * socket, the one path of gpuplexd's it sees; "" for a command worker */
    char ctr[96];
    char sock_dir[100];
    pid_t pid;
    unsigned gen; /* the spec generation it was started with */
    unsigned in_flight;
    uint64_t requests;
    int64_t started_ns, ready_ns, idle_since; /* CLOCK_MONOTONIC */
    int64_t next_probe, probe_step, ready_deadline, kill_at;
    int lease_ended; /* the engine ended its lease */
    int was_ready;   /* it answered /ready once (a later exit is a crash, not a failed start) */
    int log_fd;
    char *log;
    size_t log_len;
    /* kept-alive connections to it, idle (one per call slot at most; closed when it goes) */
    int idle_fd[MAX_IDLE_CONNS];
    unsigned n_idle;
};

struct gpxd_fn_call {
    char id[32];
    char tenant[GPX_NAME_MAX];
    char fn[GPXD_FN_NAME_MAX];
    char *body;
    size_t len;
    char ctype[128];
    int64_t t0, deadline; /* CLOCK_MONOTONIC */
    double price_req, price_gpu;
    struct gpxd_fn_call *next;
    pthread_cond_t *wait; /* its thread (gpxd_fn_call_run) sleeps on it while it waits */
    int finished;
    /* the answer */
    int status;
    char rctype[128];
    char *rbody;
    size_t rlen;
    double queue_ms, gpu_ms;
    int retry_after;
    char h_id[32], h_gpu[32], h_queue[32], h_retry[16];
    const char *headers[10];
};

struct fn {
    struct gpxd_fn_spec s;
    char owner[GPX_NAME_MAX];
    int64_t created_ns;
    unsigned gen;
    int gone;
    struct worker w[GPXD_FN_MAX_WORKERS];
    unsigned next_n;
    struct gpxd_fn_call *qhead, *qtail;
    unsigned qlen;
    /* connection threads in a call of this function (gpxd_fn_call_run) */
    unsigned threads;
    int64_t start_after; /* no start before (backoff after a failure) */
    char start_error[GPX_ERROR_MSG_MAX];
    uint64_t cold_starts, requests;
    uint64_t restarts;    /* workers that exited or were killed unasked (replaced as needed) */
    unsigned fail_streak; /* worker starts failed in a row */
    int reaping;          /* removed: its DELETE still waits for its workers */
    struct {
        int status;
        uint64_t n;
    } st[N_STATUS];
    uint64_t hist[N_BUCKETS];
    double hist_sum;
    uint64_t hist_count;
    int64_t answer_ns; /* moving average (1/8) of its calls' times on a worker; 0: none yet */
};

struct gpxd_functions {
    struct gpxd *d;
    pthread_mutex_t lock;
    /* threads polling for a worker's answer now, at most max_spinners ("Polling") */
    atomic_uint spinners;
    unsigned max_spinners;
    struct fn *f[MAX_FUNCTIONS];
    unsigned n;
    struct fn *graveyard[256]; /* removed, freed at close (their threads may still run) */
    unsigned ngrave;
    char dir[80]; /* the workers' sockets (sun_path is 108 bytes with the name) */
    unsigned sock_seq;
    pthread_t mgr;
    int started, stopping;
    int wake[2];
    /* lease ids the engine ended (the observer's; its own lock) */
    pthread_mutex_t ev_lock;
    char ev[MAX_EVENTS][64];
    unsigned nev;
    /* the meter rows not yet stored */
    pthread_mutex_t meter_lock;
    struct gpx_fn_request *rows;
    unsigned nrows, caprows;
    uint32_t id_prefix;
    _Atomic uint64_t id_seq;
    /* the GPUs' arbiter files, mapped once (workers' GPU time per call); under lock */
    struct {
        char uuid[96];
        struct gpx_arb *arb;
    } arbs[32];
    unsigned narbs;
};

/* The pool acts as this (it releases its workers' leases). */
static const struct gpx_caller supervisor = {.tenant = "gpuplexd", .admin = 1};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void wake(struct gpxd_functions *m)
{
    char c = 1;
    ssize_t r = write(m->wake[1], &c, 1);
    (void)r; /* full: a wake-up is pending anyway */
}

static struct fn *find(struct gpxd_functions *m, const char *name)
{
    for (unsigned i = 0; i < m->n; i++)
        if (!strcmp(m->f[i]->s.name, name))
            return m->f[i];
    return NULL;
}

/* --- calls ------------------------------------------------------------------------------------ */

static void set_answer(struct gpxd_fn_call *c, int status, const char *ctype, char *body,
                       size_t len)
{
    c->status = status;
    snprintf(c->rctype, sizeof c->rctype, "%s", ctype ? ctype : "application/octet-stream");
    free(c->rbody);
    c->rbody = body;
    c->rlen = len;
}

/* A gpuplexd error as the API writes it. */
static void set_error(struct gpxd_fn_call *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_error(struct gpxd_fn_call *c, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *j =
        json_pack("{s:{s:s,s:s,s:s}}", "error", "code", code, "message", msg, "request_id", c->id);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    size_t n = s ? strlen(s) : 0;
    set_answer(c, status, "application/json", s, n);
}

static int status_slot(struct fn *f, int status)
{
    for (int i = 0; i < N_STATUS; i++)
        if (f->st[i].status == status || f->st[i].status == 0) {
            f->st[i].status = status;
            return i;
        }
    return N_STATUS - 1;
}

static void meter_add(struct gpxd_functions *m, const struct gpxd_fn_call *c, double latency_ms)
{
    pthread_mutex_lock(&m->meter_lock);
    if (m->nrows == m->caprows) {
        unsigned cap = m->caprows ? m->caprows * 2 : 256;
        struct gpx_fn_request *r = realloc(m->rows, cap * sizeof *r);
        if (!r) {
            pthread_mutex_unlock(&m->meter_lock);
            gpx_warn("function %s: request %s not metered: out of memory", c->fn, c->id);
            return;
        }
        m->rows = r;
        m->caprows = cap;
    }
    struct gpx_fn_request *r = &m->rows[m->nrows++];
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", c->id);
    snprintf(r->tenant, sizeof r->tenant, "%s", c->tenant);
    snprintf(r->function, sizeof r->function, "%s", c->fn);
    r->status = c->status;
    r->ts_ns = gpx_now_ns();
    r->latency_ms = latency_ms;
    r->queue_ms = c->queue_ms;
    r->gpu_ms = c->gpu_ms;
    r->price_per_request = c->price_req;
    r->price_per_gpu_second = c->price_gpu;
    pthread_mutex_unlock(&m->meter_lock);
}

/* Stores the meter rows taken so far (the manager's timer, usage queries, the stop). */
static void meter_flush(struct gpxd_functions *m)
{
    pthread_mutex_lock(&m->meter_lock);
    struct gpx_fn_request *rows = m->rows;
    unsigned n = m->nrows;
    m->rows = NULL;
    m->nrows = m->caprows = 0;
    pthread_mutex_unlock(&m->meter_lock);
    gpx_error e = {0};
    if (n && gpx_engine_fn_requests_add(m->d->eng, rows, n, &e) < 0)
        gpx_warn("functions: storing %u metered requests failed: %s", n, e.msg);
    free(rows);
}

/*
 * Completes a call: the answer's headers, the counters, the meter (calls that
 * were accepted: not 429s), then its thread wakes to hand it back. With m->lock
 * held (f may be NULL: the function is gone).
 */
static void finish(struct gpxd_functions *m, struct fn *f, struct gpxd_fn_call *c, int metered)
{
    if (c->finished)
        return;
    c->finished = 1;
    double latency_s = (double)(mono_ns() - c->t0) / 1e9;
    unsigned h = 0;
    snprintf(c->h_id, sizeof c->h_id, "%s", c->id);
    c->headers[h++] = "X-Gpuplex-Request-Id";
    c->headers[h++] = c->h_id;
    if (metered) {
        snprintf(c->h_gpu, sizeof c->h_gpu, "%.3f", c->gpu_ms);
        snprintf(c->h_queue, sizeof c->h_queue, "%.3f", c->queue_ms);
        c->headers[h++] = "X-Gpuplex-Gpu-Ms";
        c->headers[h++] = c->h_gpu;
        c->headers[h++] = "X-Gpuplex-Queue-Ms";
        c->headers[h++] = c->h_queue;
    }
    if (c->retry_after > 0) {
        snprintf(c->h_retry, sizeof c->h_retry, "%d", c->retry_after);
        c->headers[h++] = "Retry-After";
        c->headers[h++] = c->h_retry;
    }
    c->headers[h] = NULL;
    if (f) {
        f->st[status_slot(f, c->status)].n++;
        if (metered) {
            f->requests++;
            unsigned b = 0;
            while (b < N_BUCKETS - 1 && latency_s > buckets[b])
                b++;
            f->hist[b]++;
            f->hist_sum += latency_s;
            f->hist_count++;
        }
    }
    if (metered)
        meter_add(m, c, latency_s * 1e3);
    if (c->wait)
        pthread_cond_signal(c->wait);
}

/* The call first in line may have its turn now (a slot freed, a worker ready, the call before
 * it gone): its thread looks. Under m->lock. */
static void kick(struct fn *f)
{
    if (f->qhead && f->qhead->wait)
        pthread_cond_signal(f->qhead->wait);
}

struct gpxd_fn_call *gpxd_fn_call_new(struct gpxd *d, const struct gpx_caller *who,
                                      const char *name, const char *body, size_t len,
                                      const char *content_type, gpx_error *err)
{
    struct gpxd_functions *m = d->fn;
    pthread_mutex_lock(&m->lock);
    struct fn *f = find(m, name);
    double pr = f ? f->s.price_per_request : 0, pg = f ? f->s.price_per_gpu_second : 0;
    uint64_t max_body = f ? f->s.max_body_bytes : 0;
    pthread_mutex_unlock(&m->lock);
    if (!f) {
        gpx_error_set(err, GPX_E_NOT_FOUND, "no function '%.64s'", name);
        return NULL;
    }
    if (len > max_body) {
        gpx_error_set(err, GPX_E_TOO_LARGE, "request body is larger than %llu bytes",
                      (unsigned long long)max_body);
        return NULL;
    }
    struct gpxd_fn_call *c = calloc(1, sizeof *c);
    if (!c || !(c->body = malloc(len + 1))) {
        free(c);
        gpx_error_set(err, GPX_E_NOMEM, "call");
        return NULL;
    }
    if (len)
        memcpy(c->body, body, len);
    c->len = len;
    snprintf(c->id, sizeof c->id, "r-%08x%08llx", m->id_prefix,
             (unsigned long long)atomic_fetch_add(&m->id_seq, 1));
    snprintf(c->tenant, sizeof c->tenant, "%s", who->tenant);
    snprintf(c->fn, sizeof c->fn, "%s", name);
    snprintf(c->ctype, sizeof c->ctype, "%s",
             content_type && strlen(content_type) < sizeof c->ctype ? content_type
                                                                    : "application/octet-stream");
    for (char *p = c->ctype; *p; p++) /* no header injection towards the worker */
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    c->price_req = pr;
    c->price_gpu = pg;
    c->t0 = mono_ns();
    return c;
}

static unsigned wanted(const struct fn *f);
static unsigned live(const struct fn *f, int ready_only);
static void take_turn(struct gpxd_functions *m, struct fn *f, struct gpxd_fn_call *c,
                      pthread_cond_t *wait);

/*
 * Runs a call on the calling (connection) thread until it is answered: it
 * waits in the queue on its own condition variable (no other thread is woken
 * to take it), then proxies it to a worker itself. The queue bound, the
 * timeouts (the manager answers a call that waited past its deadline) and the
 * answers are the same as when dispatcher threads did this.
 */
void gpxd_fn_call_run(struct gpxd *d, struct gpxd_fn_call *c)
{
    struct gpxd_functions *m = d->fn;
    pthread_mutex_lock(&m->lock);
    struct fn *f = find(m, c->fn);
    if (m->stopping || !f) {
        set_error(c, 503, "UNAVAILABLE",
                  m->stopping ? "gpuplexd is stopping" : "function '%s' was removed", c->fn);
        finish(m, f, c, 0);
        pthread_mutex_unlock(&m->lock);
        return;
    }
    if (f->qlen >= f->s.queue_max) {
        c->retry_after = 1;
        set_error(c, 429, "QUEUE_FULL",
                  "function '%s' has %u calls waiting (its queue_max): retry later", c->fn,
                  f->qlen);
        finish(m, f, c, 0);
        pthread_mutex_unlock(&m->lock);
        return;
    }
    c->deadline = c->t0 + (int64_t)(f->s.timeout_s * 1e9);
    if (f->qtail)
        f->qtail->next = c;
    else
        f->qhead = c;
    f->qtail = c;
    f->qlen++;
    if (live(f, 0) < wanted(f))
        wake(m); /* the pool should grow: the manager starts a worker */
    pthread_cond_t wait;
    pthread_cond_init(&wait, NULL);
    c->wait = &wait;
    f->threads++; /* f stays (a removed one in the graveyard) while we use it */
    take_turn(m, f, c, &wait);
    c->wait = NULL;
    f->threads--;
    pthread_mutex_unlock(&m->lock);
    pthread_cond_destroy(&wait);
}

int gpxd_fn_call_answer(const struct gpxd_fn_call *c, int *status, const char **ctype,
                        const char **body, size_t *len, const char *const **headers)
{
    if (!c->finished)
        return -1;
    *status = c->status;
    *ctype = c->rctype;
    *body = c->rbody ? c->rbody : "";
    *len = c->rlen;
    *headers = c->headers;
    return 0;
}

void gpxd_fn_call_free(struct gpxd_fn_call *c)
{
    if (!c)
        return;
    free(c->body);
    free(c->rbody);
    free(c);
}

/* Closes a worker's kept-alive connections (it stops, died, or its slot is freed). */
static void drop_conns(struct worker *w)
{
    for (unsigned i = 0; i < w->n_idle; i++)
        close(w->idle_fd[i]);
    w->n_idle = 0;
}

/* --- the router: a call's turn, on its connection's thread ----------------------------------- */

/* The ready worker with a free slot and the fewest calls in flight (current ones first). */
static struct worker *pick(struct fn *f)
{
    struct worker *best = NULL;
    for (unsigned i = 0; i < GPXD_FN_MAX_WORKERS; i++) {
        struct worker *w = &f->w[i];
        if (w->state != W_READY || w->busy || w->in_flight >= f->s.max_concurrency)
            continue;
        if (!best || (w->gen == f->gen && best->gen != f->gen) ||
            ((w->gen == f->gen) == (best->gen == f->gen) && w->in_flight < best->in_flight))
            best = w;
    }
    return best;
}

/*
 * GPU time of the lease with arbiter key `key` so far, read from the mapped
 * arbiter without its lock: what turns have been charged plus the turn it
 * holds now (charged only when the turn ends: a call's last turn would else
 * land in the next call's window). Read again when a turn changed meanwhile.
 * 0 before the lease's first process joined.
 */
static int64_t arb_gpu_ns(struct gpx_arb *a, const char *key)
{
    int idx = -1;
    for (int i = 0; i < GPX_ARB_MAX_LEASES && idx < 0; i++)
        if (!strncmp(a->leases[i].id, key, GPX_ARB_ID_MAX))
            idx = i;
    if (idx < 0)
        return 0;
    uint64_t g = 0;
    for (int tries = 0; tries < 8; tries++) {
        uint32_t seq = atomic_load(&a->seq);
        uint64_t since = atomic_load(&a->holder_since_ns);
        g = atomic_load(&a->leases[idx].granted_ns);
        int32_t h = atomic_load(&a->holder);
        uint64_t now = gpx_arb_now_ns();
        if (atomic_load(&a->seq) != seq || atomic_load(&a->holder_since_ns) != since)
            continue;
        if (h >= 0 && h < GPX_ARB_MAX_PROCS && a->procs[h].lease == (uint32_t)idx && now > since)
            g += now - since;
        break;
    }
    return (int64_t)g;
}

/* The mapping of GPU uuid's arbiter, made once (m->lock not held); NULL when it cannot be. */
static struct gpx_arb *arb_of(struct gpxd_functions *m, const char *uuid)
{
    struct gpx_arb *a = NULL;
    pthread_mutex_lock(&m->lock);
    for (unsigned i = 0; i < m->narbs && !a; i++)
        if (!strcmp(m->arbs[i].uuid, uuid))
            a = m->arbs[i].arb;
    pthread_mutex_unlock(&m->lock);
    if (a)
        return a;
    char path[PATH_MAX];
    gpx_error e = {0};
    if (gpx_arb_path(gpx_engine_run_dir(m->d->eng), uuid, path, sizeof path, &e) < 0 ||
        gpx_arb_open(path, 0, &a, &e) < 0) {
        gpx_warn("functions: the arbiter of GPU %s: %s (GPU time per call from the engine)", uuid,
                 e.msg);
        return NULL;
    }
    pthread_mutex_lock(&m->lock);
    if (m->narbs < sizeof m->arbs / sizeof m->arbs[0]) {
        snprintf(m->arbs[m->narbs].uuid, sizeof m->arbs[0].uuid, "%s", uuid);
        m->arbs[m->narbs++].arb = a;
    } else {
        gpx_arb_close(a);
        a = NULL;
    }
    pthread_mutex_unlock(&m->lock);
    return a;
}

/* w's arbiter and key in it (its lease l is arbitrated); left NULL when not found. */
static void worker_arb(struct gpxd_functions *m, struct worker *w, const struct gpx_lease *l)
{
    struct gpx_lease_region r;
    gpx_error e = {0};
    w->arb = NULL;
    if (gpx_lease_region_open(gpx_engine_run_dir(m->d->eng), l->rec.id, &r, &e) < 0)
        return;
    gpx_arb_key(r.limits->nonce, w->arb_key);
    gpx_lease_region_close(&r);
    w->arb = arb_of(m, l->rec.gpu_uuid);
}

/* GPU time of a lease so far (the arbiter's, as the engine reads it), or -1 when it has none. */
static int64_t lease_gpu_ns(struct gpxd *d, const char *lease)
{
    struct gpx_lease *l = malloc(sizeof *l);
    gpx_error e = {0};
    int64_t v = -1;
    if (l && gpx_engine_lease_get(d->eng, &supervisor, lease, 0, l, &e) == 0 &&
        l->util_source == GPX_SRC_ARBITER)
        v = (int64_t)l->gpu_ns;
    free(l);
    return v;
}

/* Proxies c to w (the caller holds a slot of w, not the lock): worker_http's result; the
 * answer is set unless it is -3 (not sent). *took: how long the worker's exchange took. */
static int serve(struct gpxd_functions *m, struct gpxd_fn_call *c, const char *sock,
                 const char *lease, int arbitrated, struct gpx_arb *arb, const char *key,
                 unsigned sharing, int reuse, int *keep, int64_t spin_ns, int64_t *took)
{
    int64_t g0 = arb ? arb_gpu_ns(arb, key) : arbitrated ? lease_gpu_ns(m->d, lease) : -1;
    int64_t t1 = mono_ns(); /* after the engine read: *took is the worker's exchange alone */
    c->queue_ms = (double)(t1 - c->t0) / 1e6;
    struct gpxd_fn_wresp r;
    int rc = gpxd_fn_http(sock, "POST", "/invoke", c->ctype, c->id, c->body, c->len, c->deadline,
                          reuse, keep, spin_ns, &r);
    int64_t t2 = mono_ns();
    *took = t2 - t1;
    int64_t g1 = g0 < 0 ? -1 : arb ? arb_gpu_ns(arb, key) : lease_gpu_ns(m->d, lease);
    /* the arbiter's GPU time over the span, shared by the calls in flight on the worker;
     * without arbiter accounting, the time the worker held the call */
    if (g0 >= 0 && g1 >= g0)
        c->gpu_ms = (double)(g1 - g0) / 1e6 / (sharing ? sharing : 1);
    else
        c->gpu_ms = (double)(t2 - t1) / 1e6;
    if (rc == -3)
        return rc;
    if (rc == 0) {
        set_answer(c, r.status, r.ctype, r.body, r.len);
    } else if (rc == -2) {
        set_error(c, 504, "TIMEOUT", "function '%s' did not answer within its timeout_s", c->fn);
    } else {
        set_error(c, 502, "WORKER_FAILED",
                  "the worker of function '%s' failed while serving the request (it exited or "
                  "broke the connection); retry",
                  c->fn);
    }
    return rc;
}

/*
 * The queued call c waits for its turn (first in line, a worker with a free
 * slot) and is served, until it is finished (here, or by the manager or the
 * stop while it waits). Under m->lock, which it drops while the worker works.
 */
static void take_turn(struct gpxd_functions *m, struct fn *f, struct gpxd_fn_call *c,
                      pthread_cond_t *wait)
{
    while (!c->finished) {
        struct worker *w = f->qhead == c && !f->gone && !m->stopping ? pick(f) : NULL;
        if (!w) {
            pthread_cond_wait(wait, &m->lock);
            continue;
        }
        f->qhead = c->next;
        if (!f->qhead)
            f->qtail = NULL;
        f->qlen--;
        c->next = NULL;
        w->in_flight++;
        /* another slot may be free for the next in line (a worker that just got ready) */
        if (f->qhead && pick(f))
            kick(f);
        char sock[sizeof w->sock], lease[sizeof w->lease];
        memcpy(sock, w->sock, sizeof sock);
        memcpy(lease, w->lease, sizeof lease);
        int arbitrated = w->arbitrated;
        struct gpx_arb *arb = w->arb;
        char key[GPX_ARB_ID_MAX];
        memcpy(key, w->arb_key, sizeof key);
        unsigned sharing = w->in_flight;
        /* a kept-alive connection to it when one is idle and still open: no connect, and no
         * new connection for the worker to accept (the most of the routing's cost) */
        int reuse = -1, keep = -1;
        while (reuse < 0 && w->n_idle) {
            reuse = w->idle_fd[--w->n_idle];
            if (!gpxd_fn_conn_alive(reuse)) {
                close(reuse);
                reuse = -1;
            }
        }
        /* "Polling": while this function answers within the budget and a poller is free */
        int64_t spin = gpxd_fn_spin_ns(m->d->cfg.fn_spin_us, f->answer_ns);
        if (spin && atomic_fetch_add(&m->spinners, 1) >= m->max_spinners) {
            atomic_fetch_sub(&m->spinners, 1);
            spin = 0;
        }
        pthread_mutex_unlock(&m->lock);

        int64_t took = 0;
        int rc = serve(m, c, sock, lease, arbitrated, arb, key, sharing, reuse, &keep, spin, &took);
        if (spin)
            atomic_fetch_sub(&m->spinners, 1);

        pthread_mutex_lock(&m->lock);
        if (rc == 0)
            f->answer_ns = f->answer_ns ? f->answer_ns + (took - f->answer_ns) / 8 : took;
        /* the slot is the same worker's: a worker slot is only reused once it has no calls */
        if (keep >= 0 && w->state == W_READY && w->n_idle < MAX_IDLE_CONNS)
            w->idle_fd[w->n_idle++] = keep;
        else if (keep >= 0)
            close(keep);
        w->in_flight--;
        w->idle_since = mono_ns();
        if ((rc == -1 || rc == -3) && w->state == W_READY) {
            /* dead or broken: no more calls until /ready answers again (or it is reaped) */
            int64_t t = mono_ns();
            w->state = W_STARTING;
            drop_conns(w);
            w->next_probe = t;
            w->probe_step = 2000000;
            w->ready_deadline = t + (int64_t)(f->s.timeout_s * 1e9);
            wake(m);
        }
        if (rc == -3 && !f->gone && !m->stopping && mono_ns() < c->deadline) {
            c->next = f->qhead; /* not sent: first in line for another worker */
            f->qhead = c;
            if (!f->qtail)
                f->qtail = c;
            f->qlen++;
            continue;
        }
        if (rc == -3)
            set_error(c, 502, "WORKER_FAILED",
                      "the worker of function '%s' could not be reached; retry", c->fn);
        w->requests++;
        finish(m, f, c, 1);
        kick(f); /* its slot is free */
    }
}

/* --- the pool: workers ------------------------------------------------------------------------ */

static void keep_tail(struct worker *w, const char *p, size_t n)
{
    if (!w->log && !(w->log = malloc(LOG_MAX + 1)))
        return;
    if (n >= LOG_MAX) {
        memcpy(w->log, p + n - LOG_MAX, LOG_MAX);
        w->log_len = LOG_MAX;
    } else {
        if (w->log_len + n > LOG_MAX) {
            size_t drop = w->log_len + n - LOG_MAX;
            memmove(w->log, w->log + drop, w->log_len - drop);
            w->log_len -= drop;
        }
        memcpy(w->log + w->log_len, p, n);
        w->log_len += n;
    }
    w->log[w->log_len] = '\0';
}

static void note(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct worker *w, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        keep_tail(w, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* argv[0] as execve needs it: a path (searched in PATH when it has no '/'). */
static int resolve(const char *cmd, char *out, size_t len)
{
    if (strchr(cmd, '/')) {
        snprintf(out, len, "%s", cmd);
        return access(out, X_OK) == 0 ? 0 : -1;
    }
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
    char *save = NULL;
    for (char *dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        snprintf(out, len, "%s/%s", *dir ? dir : ".", cmd);
        if (access(out, X_OK) == 0)
            return 0;
    }
    return -1;
}

/* The lease for a worker: the spec's, as the owner, labelled with the function. */
static int worker_lease(struct gpxd *d, const struct fn *f, json_t *lease_json, const char *owner,
                        struct gpx_lease *l, gpx_error *err)
{
    struct gpx_caller who = {.admin = 1, .via_unix = 1, .uid = (uint32_t)getuid()};
    snprintf(who.tenant, sizeof who.tenant, "%s", owner);
    struct gpx_tenant t;
    gpx_error e = {0};
    if (gpx_engine_tenant_get(d->eng, &supervisor, owner, &t, &e) == 0) {
        who.admin = t.admin;
        who.max_gpus = t.max_gpus;
        who.max_memory = t.max_memory;
        who.max_leases = t.max_leases;
        who.tenant_created_ns = t.created_ns;
    } else if (strcmp(owner, GPX_BUILTIN_ADMIN) != 0) {
        return gpx_error_set(err, GPX_E_PERM, "the function's owner '%s' is no longer a tenant",
                             owner);
    }
    char *s = json_dumps(lease_json, JSON_COMPACT);
    struct gpx_lease_spec sp;
    int rc = s ? gpxd_lease_spec_parse(s, strlen(s), &sp, err)
               : gpx_error_set(err, GPX_E_NOMEM, "lease");
    free(s);
    if (rc < 0)
        return -1;
    rc = gpx_lease_spec_label(&sp, "gpuplex.function", f->s.name, GPX_NAMING_API, err);
    if (rc == 0)
        rc = gpx_engine_lease_create(d->eng, &who, &sp, l, err);
    gpx_lease_spec_clear(&sp);
    return rc;
}

static void release_lease(struct gpxd *d, const char *fn, const char *lease)
{
    struct gpx_lease *l = malloc(sizeof *l);
    gpx_error e = {0};
    if (l && gpx_engine_lease_release(d->eng, &supervisor, lease, l, &e) < 0 &&
        e.code != GPX_E_NOT_FOUND)
        gpx_warn("function %s: releasing lease %s failed: %s", fn, lease, e.msg);
    free(l);
}

/* Appends "KEY=VALUE" to envp (n used of cap). */
static int env_add(char **envp, unsigned *n, unsigned cap, const char *k, const char *v)
{
    if (*n + 1 >= cap || asprintf(&envp[*n], "%s=%s", k, v) < 0)
        return -1;
    (*n)++;
    envp[*n] = NULL;
    return 0;
}

/*
 * The worker's argv and environment, built before fork (the child of a
 * threaded process may only call async-signal-safe functions): the
 * environment of gpuplexd without its own lease variables, the lease's (the
 * views' "env", as `gpuplex run` gives it; the interposer ahead of LD_PRELOAD),
 * then the worker's.
 */
static int worker_exec_args(struct gpxd *d, const struct gpxd_fn_spec *s, const struct gpx_lease *l,
                            const struct worker *w, char ***argv_out, char ***envp_out, char *path,
                            size_t plen, gpx_error *err)
{
    extern char **environ;
    unsigned cap = 32, n = 0;
    for (char **e = environ; *e; e++)
        cap++;
    char **envp = calloc(cap, sizeof *envp);
    char **argv = calloc(GPXD_FN_MAX_ARGS + 40, sizeof *argv);
    if (!envp || !argv)
        goto nomem;
    json_t *o = gpx_view_lease(l, 0), *lenv = json_object_get(o, "env");
    const char *preload_old = getenv("LD_PRELOAD");
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t kl = eq ? (size_t)(eq - *e) : strlen(*e);
        if ((json_is_object(lenv) && eq && json_object_getn(lenv, *e, kl)) ||
            !strncmp(*e, "GPUPLEX_WORKER_", 15) || !strncmp(*e, "GPUPLEX_FUNCTION=", 17) ||
            (kl == 10 && !strncmp(*e, "LD_PRELOAD", 10)))
            continue;
        if (!(envp[n] = strdup(*e)))
            goto nomem_o;
        n++;
    }
    const char *k;
    json_t *v;
    /* an image worker gets the lease's environment from its CDI device; podman none of it */
    json_object_foreach(s->command ? lenv : NULL, k, v)
    {
        const char *val = json_string_value(v);
        if (!val)
            continue;
        char buf[2 * GPX_ENV_PATH_MAX + 2];
        if (!strcmp(k, "LD_PRELOAD") && preload_old && *preload_old) {
            snprintf(buf, sizeof buf, "%s:%s", val, preload_old);
            val = buf;
        }
        if (env_add(envp, &n, cap, k, val) < 0)
            goto nomem_o;
    }
    if (preload_old && *preload_old && (!s->command || !json_object_get(lenv, "LD_PRELOAD")) &&
        env_add(envp, &n, cap, "LD_PRELOAD", preload_old) < 0)
        goto nomem_o;
    json_decref(o);
    char wid[GPXD_FN_NAME_MAX + 16];
    snprintf(wid, sizeof wid, "%s-%u", s->name, w->n);
    if (env_add(envp, &n, cap, "GPUPLEX_WORKER_SOCKET", w->sock) < 0 ||
        env_add(envp, &n, cap, "GPUPLEX_FUNCTION", s->name) < 0 ||
        env_add(envp, &n, cap, "GPUPLEX_WORKER_ID", wid) < 0)
        goto nomem;
    unsigned a = 0;
    size_t i;
    if (s->command) {
        json_array_foreach(s->command, i, v) argv[a++] = strdup(json_string_value(v));
        if (resolve(argv[0], path, plen) < 0) {
            gpx_error_set(err, GPX_E_NOT_FOUND, "command '%.200s' not found or not executable",
                          argv[0]);
            goto fail;
        }
    } else {
        /* the image through podman and the lease's CDI device, as managed containers run
         * (the node's podman and podman_args); the socket's directory bind-mounted at its
         * path; named, so that a container whose podman was killed can be removed */
        char dev[128], vol[2 * sizeof w->sock_dir + 2], lab[GPXD_FN_NAME_MAX + 20];
        char extra[sizeof d->cfg.podman_args], *save = NULL;
        snprintf(dev, sizeof dev, "gpuplex.dev/gpu=lease-%s", l->rec.id);
        snprintf(vol, sizeof vol, "%s:%s", w->sock_dir, w->sock_dir);
        snprintf(lab, sizeof lab, "gpuplex.function=%s", s->name);
        snprintf(extra, sizeof extra, "%s", d->cfg.podman_args);
        argv[a++] = strdup(d->cfg.podman);
        for (char *t = strtok_r(extra, " \t", &save); t && a < 16; t = strtok_r(NULL, " \t", &save))
            argv[a++] = strdup(t);
        const char *pre[] = {"run",      "--rm", "--name", w->ctr, "--label", lab,
                             "--device", dev,    "-v",     vol,    NULL};
        for (unsigned p = 0; pre[p]; p++)
            argv[a++] = strdup(pre[p]);
        for (unsigned e = n - 3; e < n; e++) { /* GPUPLEX_WORKER_SOCKET, _FUNCTION, _WORKER_ID */
            argv[a++] = strdup("-e");
            argv[a++] = strdup(envp[e]);
        }
        argv[a++] = strdup("--");
        argv[a++] = strdup(s->image);
        if (resolve(argv[0], path, plen) < 0) {
            gpx_error_set(err, GPX_E_NOT_FOUND, "podman '%.200s' not found", argv[0]);
            goto fail;
        }
    }
    argv[a] = NULL;
    for (unsigned j = 0; j < a; j++)
        if (!argv[j])
            goto nomem;
    *argv_out = argv;
    *envp_out = envp;
    return 0;
nomem_o:
    json_decref(o);
nomem:
    gpx_error_set(err, GPX_E_NOMEM, "worker environment");
fail:
    for (unsigned j = 0; envp && envp[j]; j++)
        free(envp[j]);
    for (unsigned j = 0; argv && argv[j]; j++)
        free(argv[j]);
    free(envp);
    free(argv);
    return -1;
}

static void free_vec(char **v)
{
    for (unsigned j = 0; v && v[j]; j++)
        free(v[j]);
    free(v);
}

/*
 * An image worker's container name and socket: the socket in a directory of
 * its own (the container sees that one, not the other workers' sockets).
 */
static int image_paths(struct gpxd_functions *m, const char *fn, struct worker *w)
{
    snprintf(w->ctr, sizeof w->ctr, "gpuplex-fn-%s-%u-%08x", fn, w->n, m->id_prefix);
    char sock[sizeof w->sock];
    snprintf(sock, sizeof sock, "%s", w->sock); /* DIR/wN.sock */
    char *dot = strrchr(sock, '.');
    if (dot)
        *dot = '\0';
    /* (m->dir leaves room for both: sun_path's 108 bytes) */
    if (snprintf(w->sock_dir, sizeof w->sock_dir, "%s.d", sock) >= (int)sizeof w->sock_dir ||
        snprintf(w->sock, sizeof w->sock, "%s/s", w->sock_dir) >= (int)sizeof w->sock)
        return errno = ENAMETOOLONG, -1;
    if (mkdir(w->sock_dir, 0700) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

/*
 * Runs `podman [podman_args] rm -f -t 0 ARGS...`: in the background when
 * wait_s is 0 (a grandchild: nothing is left to reap, the manager never waits
 * for podman), else waiting up to wait_s seconds (then it is killed).
 */
static void podman_rm(struct gpxd *d, const char *const *args, int wait_s)
{
    char extra[sizeof d->cfg.podman_args], *save = NULL, *argv[40];
    unsigned a = 0;
    snprintf(extra, sizeof extra, "%s", d->cfg.podman_args);
    argv[a++] = d->cfg.podman;
    for (char *t = strtok_r(extra, " \t", &save); t && a < 24; t = strtok_r(NULL, " \t", &save))
        argv[a++] = t;
    const char *rm[] = {"rm", "-f", "-t", "0"};
    for (unsigned i = 0; i < 4; i++)
        argv[a++] = (char *)rm[i];
    for (unsigned i = 0; args[i] && a < 39; i++)
        argv[a++] = (char *)args[i];
    argv[a] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        /* async-signal-safe only from here */
        if (!wait_s && fork() != 0)
            _exit(0);
        setsid();
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(nul, 0);
            dup2(nul, 1);
            dup2(nul, 2);
        }
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        for (int sg = 1; sg < NSIG; sg++)
            sigaction(sg, &dfl, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        close_range(3, ~0u, 0);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (pid < 0)
        return;
    int64_t until = mono_ns() + (int64_t)(wait_s ? wait_s : 30) * 1000000000LL;
    while (waitpid(pid, NULL, WNOHANG) == 0) {
        if (mono_ns() >= until) {
            gpx_warn("functions: podman rm ran past %d s: killed", wait_s);
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return;
        }
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
}

/* After an image worker's podman is reaped: its container removed if podman did not (killed),
 * its socket's directory removed. */
static void image_cleanup(struct gpxd *d, struct worker *w, int status)
{
    if (w->ctr[0] && WIFSIGNALED(status)) {
        const char *args[] = {w->ctr, NULL};
        podman_rm(d, args, 0);
    }
    if (w->sock_dir[0]) {
        unlink(w->sock);
        rmdir(w->sock_dir);
    }
    w->ctr[0] = w->sock_dir[0] = '\0';
}

/*
 * Starts worker w of f (reserved busy by the manager, lock not held): its
 * lease, then the process with stdout and stderr into a pipe we read.
 */
static int worker_spawn(struct gpxd_functions *m, struct fn *f, struct gpxd_fn_spec *s,
                        const char *owner, struct worker *w, gpx_error *err)
{
    struct gpxd *d = m->d;
    struct gpx_lease *l = malloc(sizeof *l);
    if (!l)
        return gpx_error_set(err, GPX_E_NOMEM, "lease");
    if (worker_lease(d, f, s->lease, owner, l, err) < 0) {
        free(l);
        return -1;
    }
    snprintf(w->lease, sizeof w->lease, "%s", l->rec.id);
    w->arbitrated = gpx_lease_arbitrated(&l->rec);
    w->arb = NULL;
    if (w->arbitrated)
        worker_arb(m, w, l);
    w->ctr[0] = w->sock_dir[0] = '\0';
    if (!s->command && image_paths(m, s->name, w) < 0) {
        gpx_error_errno(err, GPX_E_IO, errno, "the socket directory of worker %s", w->ctr);
        free(l);
        release_lease(d, s->name, w->lease);
        w->lease[0] = w->sock_dir[0] = w->ctr[0] = '\0';
        return -1;
    }
    unlink(w->sock);
    char **argv = NULL, **envp = NULL, path[PATH_MAX];
    int pfd[2] = {-1, -1};
    if (worker_exec_args(d, s, l, w, &argv, &envp, path, sizeof path, err) < 0 ||
        pipe2(pfd, O_CLOEXEC) < 0) {
        if (pfd[0] < 0 && argv)
            gpx_error_errno(err, GPX_E_IO, errno, "pipe");
        free_vec(argv);
        free_vec(envp);
        free(l);
        release_lease(d, s->name, w->lease);
        w->lease[0] = '\0';
        return -1;
    }
    free(l);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* async-signal-safe only from here */
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null >= 0)
            dup2(null, 0);
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(path, argv, envp);
        static const char msg[] = "gpuplexd: exec of the worker failed\n";
        ssize_t wr = write(2, msg, sizeof msg - 1);
        (void)wr;
        _exit(127);
    }
    int e = errno;
    close(pfd[1]);
    free_vec(argv);
    free_vec(envp);
    if (pid < 0) {
        close(pfd[0]);
        release_lease(d, s->name, w->lease);
        w->lease[0] = '\0';
        return gpx_error_errno(err, GPX_E_IO, e, "fork");
    }
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);
    w->pid = pid;
    w->log_fd = pfd[0];
    return 0;
}

/* Signals the worker's process group (it may have children: podman, a shell...). */
static void worker_signal(struct worker *w, int sig)
{
    if (w->pid > 0 && kill(-w->pid, sig) < 0)
        kill(w->pid, sig);
}

static void worker_stop(struct worker *w, const char *why, const char *fn)
{
    if (w->state == W_STOPPING)
        return;
    gpx_info("function %s: stopping worker %s-%u (pid %d): %s", fn, fn, w->n, (int)w->pid, why);
    note(w, "gpuplexd: stopping the worker: %s\n", why);
    w->state = W_STOPPING;
    w->kill_at = mono_ns() + STOP_GRACE_NS;
    drop_conns(w);
    worker_signal(w, SIGTERM);
}

/* --- the pool: the manager -------------------------------------------------------------------- */

/* How many workers f should have now: min_workers, or what its calls need, up to max_workers. */
static unsigned wanted(const struct fn *f)
{
    unsigned in_flight = 0;
    for (unsigned i = 0; i < GPXD_FN_MAX_WORKERS; i++)
        in_flight += f->w[i].in_flight;
    unsigned need = (in_flight + f->qlen + f->s.max_concurrency - 1) / f->s.max_concurrency;
    if (need < f->s.min_workers)
        need = f->s.min_workers;
    return need < f->s.max_workers ? need : f->s.max_workers;
}

static unsigned live(const struct fn *f, int ready_only)
{
    unsigned n = 0;
    for (unsigned i = 0; i < GPXD_FN_MAX_WORKERS; i++)
        n += ready_only ? f->w[i].state == W_READY
                        : f->w[i].state == W_STARTING || f->w[i].state == W_READY;
    return n;
}

/* Answers the calls of f that waited past their deadline (504), or all of them with `status`. */
static void expire_queue(struct gpxd_functions *m, struct fn *f, int64_t now, int status,
                         const char *why)
{
    struct gpxd_fn_call **pp = &f->qhead, *prev = NULL;
    while (*pp) {
        struct gpxd_fn_call *c = *pp;
        if (!status && c->deadline > now) {
            prev = c;
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        if (f->qtail == c)
            f->qtail = prev;
        f->qlen--;
        c->next = NULL;
        c->queue_ms = (double)(now - c->t0) / 1e6;
        if (status)
            set_error(c, status, status == 503 ? "UNAVAILABLE" : "TIMEOUT", "%s", why);
        else
            set_error(c, 504, "TIMEOUT",
                      "no worker of function '%s' took the request within its timeout_s (%g s)",
                      c->fn, f->s.timeout_s);
        finish(m, f, c, 1);
    }
    kick(f); /* the new first in line */
}

/* A worker's process is gone: its lease is released (unlocked, by the caller, from `lease`). */
/*
 * A worker could not start (lease refused, exec failed, it exited or was not
 * ready in time; lock held): the next start waits, longer after each failure in
 * a row (0.5 s doubling to 32 s; a worker that gets ready resets it), and when
 * no other worker is there the waiting calls are answered 503 with the reason
 * now, rather than 504 at their timeout.
 */
static void start_failed(struct gpxd_functions *m, struct fn *f, const char *why)
{
    unsigned shift = f->fail_streak < 6 ? f->fail_streak : 6;
    f->fail_streak++;
    f->start_after = mono_ns() + (START_BACKOF_NS << shift);
    snprintf(f->start_error, sizeof f->start_error, "%s", why);
    if (live(f, 0) == 0 && f->qhead) {
        char msg[GPX_ERROR_MSG_MAX + 128];
        snprintf(msg, sizeof msg, "no worker of function '%s' could start: %s", f->s.name, why);
        expire_queue(m, f, mono_ns(), 503, msg);
    }
}

static void worker_gone(struct gpxd_functions *m, struct fn *f, struct worker *w, int status,
                        char *lease, size_t len)
{
    char how[64];
    if (WIFSIGNALED(status))
        snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status));
    if (w->state != W_STOPPING) {
        gpx_warn("function %s: worker %s-%u (pid %d) %s%s", f->s.name, f->s.name, w->n, (int)w->pid,
                 how, w->state == W_STARTING ? " before it was ready" : "");
        f->restarts++;
    }
    note(w, "gpuplexd: worker %s\n", how);
    snprintf(lease, len, "%s", w->lease);
    image_cleanup(m->d, w, status);
    int starting = w->state == W_STARTING && !w->was_ready; /* a failed start, not a crash */
    w->lease[0] = '\0';
    w->pid = 0;
    w->state = W_FREE;
    drop_conns(w);
    if (starting) {
        char why[160];
        snprintf(why, sizeof why, "its worker %s before it was ready (see the function's logs)",
                 how);
        start_failed(m, f, why);
    }
}

struct todo_probe {
    struct fn *f;
    struct worker *w;
    char sock[108];
};

/* One pass over every function; returns when the manager should look again (mono ns). */
static int64_t manage(struct gpxd_functions *m)
{
    int64_t now = mono_ns(), next = now + 100000000LL;
    char releases[GPXD_FN_MAX_WORKERS][64]; /* leases to release once unlocked */
    unsigned nrel = 0;
    struct todo_probe probes[64];
    unsigned nprobe = 0;
    struct fn *start_f = NULL;
    struct worker *start_w = NULL;

    /* the engine ended these leases: their workers go */
    char ev[MAX_EVENTS][64];
    pthread_mutex_lock(&m->ev_lock);
    unsigned nev = m->nev;
    memcpy(ev, m->ev, nev * sizeof ev[0]);
    m->nev = 0;
    pthread_mutex_unlock(&m->ev_lock);

    pthread_mutex_lock(&m->lock);
    for (unsigned i = 0; i < m->n; i++) {
        struct fn *f = m->f[i];
        for (unsigned k = 0; k < GPXD_FN_MAX_WORKERS; k++) {
            struct worker *w = &f->w[k];
            if (w->busy || w->state == W_FREE)
                continue;
            for (unsigned e = 0; e < nev; e++)
                if (!strcmp(ev[e], w->lease) && !w->lease_ended) {
                    w->lease_ended = 1;
                    note(w, "gpuplexd: its lease %s ended\n", w->lease);
                    gpx_warn("function %s: lease %s of worker %s-%u ended: killing it", f->s.name,
                             w->lease, f->s.name, w->n);
                    w->state = W_STOPPING;
                    w->kill_at = now;
                    drop_conns(w);
                }
            int st;
            /* (reaped on a later pass when this one has as many leases to release as it holds) */
            pid_t r = w->pid > 0 && nrel < GPXD_FN_MAX_WORKERS ? waitpid(w->pid, &st, WNOHANG) : 0;
            if (r == w->pid && r > 0) {
                if (w->lease_ended)
                    w->lease[0] = '\0';
                worker_gone(m, f, w, st, releases[nrel], sizeof releases[nrel]);
                nrel += releases[nrel][0] != '\0';
                continue;
            }
            if (w->state == W_STOPPING && now >= w->kill_at) {
                worker_signal(w, SIGKILL);
                w->kill_at = now + STOP_GRACE_NS;
            }
            if (w->state == W_STARTING) {
                if (now >= w->ready_deadline) {
                    gpx_warn("function %s: worker %s-%u was not ready within %g s", f->s.name,
                             f->s.name, w->n, f->s.timeout_s);
                    worker_stop(w, "not ready within timeout_s", f->s.name);
                    start_failed(m, f, "its worker was not ready within timeout_s");
                    w->kill_at = now;
                } else if (now >= w->next_probe && nprobe < 64) {
                    probes[nprobe].f = f;
                    probes[nprobe].w = w;
                    memcpy(probes[nprobe].sock, w->sock, sizeof w->sock);
                    nprobe++;
                } else if (w->next_probe < next) {
                    next = w->next_probe;
                }
            }
            if (w->state == W_READY && w->in_flight == 0) {
                unsigned ready = live(f, 1);
                int64_t idle_ns = (int64_t)(f->s.idle_timeout_s * 1e9);
                if (w->gen != f->gen && !f->qhead)
                    worker_stop(w, "its function's settings changed", f->s.name);
                else if (ready > f->s.min_workers && !f->qhead && now - w->idle_since >= idle_ns)
                    worker_stop(w, "idle for idle_timeout_s", f->s.name);
                else if (ready > f->s.min_workers && w->idle_since + idle_ns < next)
                    next = w->idle_since + idle_ns;
            }
        }
        expire_queue(m, f, now, 0, NULL);
        for (struct gpxd_fn_call *c = f->qhead; c; c = c->next)
            if (c->deadline < next)
                next = c->deadline;
        /* grow (one start per pass; the next pass starts the next) */
        if (!start_f && live(f, 0) < wanted(f) && now >= f->start_after) {
            for (unsigned k = 0; k < GPXD_FN_MAX_WORKERS && !start_w; k++)
                if (f->w[k].state == W_FREE && !f->w[k].busy && f->w[k].in_flight == 0)
                    start_w = &f->w[k];
            if (start_w) {
                start_f = f;
                start_w->busy = 1;
                start_w->state = W_STARTING;
                start_w->n = ++f->next_n;
                start_w->gen = f->gen;
                start_w->lease_ended = 0;
                start_w->was_ready = 0;
                start_w->started_ns = now;
                snprintf(start_w->sock, sizeof start_w->sock, "%s/w%u.sock", m->dir, ++m->sock_seq);
                if (f->qhead && live(f, 1) == 0)
                    f->cold_starts++;
            }
        } else if (live(f, 0) < wanted(f) && f->start_after < next) {
            next = f->start_after;
        }
    }
    struct gpxd_fn_spec spec = {0};
    char owner[GPX_NAME_MAX] = "";
    if (start_f) {
        spec = start_f->s;
        spec.command = json_incref(spec.command);
        spec.lease = json_incref(spec.lease);
        snprintf(owner, sizeof owner, "%s", start_f->owner);
    }
    pthread_mutex_unlock(&m->lock);

    for (unsigned i = 0; i < nrel; i++)
        release_lease(m->d, "-", releases[i]);

    /* probes, without the lock */
    for (unsigned i = 0; i < nprobe; i++) {
        struct gpxd_fn_wresp r;
        int ok = gpxd_fn_http(probes[i].sock, "GET", "/ready", NULL, NULL, NULL, 0,
                              mono_ns() + 200000000LL, -1, NULL, 0, &r) == 0 &&
                 r.status == 200;
        free(r.body);
        pthread_mutex_lock(&m->lock);
        struct worker *w = probes[i].w;
        struct fn *f = probes[i].f;
        if (w->state == W_STARTING && !strcmp(w->sock, probes[i].sock)) {
            int64_t t = mono_ns();
            if (ok) {
                w->state = W_READY;
                w->was_ready = 1;
                f->fail_streak = 0;
                w->ready_ns = w->idle_since = t;
                gpx_info("function %s: worker %s-%u (pid %d, lease %s) ready in %.1f ms", f->s.name,
                         f->s.name, w->n, (int)w->pid, w->lease, (double)(t - w->started_ns) / 1e6);
                note(w, "gpuplexd: ready in %.1f ms\n", (double)(t - w->started_ns) / 1e6);
                kick(f); /* the first waiting call takes a slot and kicks the next */
            } else {
                /* every 2 ms while a fast worker may come up (the cold start is what a
                 * caller waits for), then backing off to 50 ms for slow loaders */
                if (t - w->started_ns > 200000000LL)
                    w->probe_step = w->probe_step < 50000000 ? w->probe_step * 2 : 50000000;
                w->next_probe = t + w->probe_step;
                if (w->next_probe < next)
                    next = w->next_probe;
            }
        }
        pthread_mutex_unlock(&m->lock);
    }

    if (start_f) {
        gpx_error e = {0};
        int rc = worker_spawn(m, start_f, &spec, owner, start_w, &e);
        pthread_mutex_lock(&m->lock);
        start_w->busy = 0;
        if (rc < 0) {
            start_w->state = W_FREE;
            note(start_w, "gpuplexd: starting a worker failed: %s\n", e.msg);
            gpx_warn("function %s: starting a worker failed: %s", spec.name, e.msg);
            if (!start_f->gone)
                start_failed(m, start_f, e.msg);
        } else {
            int64_t t = mono_ns();
            start_w->started_ns = t;
            start_w->probe_step = 2000000;
            start_w->next_probe = t + 1000000;
            start_w->ready_deadline = t + (int64_t)(spec.timeout_s * 1e9);
            start_f->start_error[0] = '\0';
            next = now; /* probe it soon, and start the next one if needed */
        }
        /* removed meanwhile: nobody else reaps this one */
        pid_t orphan = rc == 0 && start_f->gone ? start_w->pid : 0;
        char orphan_lease[64];
        snprintf(orphan_lease, sizeof orphan_lease, "%s", start_w->lease);
        if (orphan) {
            worker_signal(start_w, SIGKILL);
            start_w->pid = 0;
            start_w->lease[0] = '\0';
            start_w->state = W_FREE;
        }
        pthread_mutex_unlock(&m->lock);
        if (orphan) {
            int st = 0;
            waitpid(orphan, &st, 0);
            pthread_mutex_lock(&m->lock);
            image_cleanup(m->d, start_w, st);
            pthread_mutex_unlock(&m->lock);
            release_lease(m->d, spec.name, orphan_lease);
        }
        gpxd_fn_spec_clear(&spec);
    }
    return next;
}

/* Reads what the workers wrote; waits up to until (mono ns) or a wake-up. */
static void read_logs(struct gpxd_functions *m, int64_t until)
{
    struct pollfd p[1 + MAX_FUNCTIONS * 8];
    struct worker *who[1 + MAX_FUNCTIONS * 8];
    unsigned n = 0;
    p[n].fd = m->wake[0];
    p[n].events = POLLIN;
    who[n++] = NULL;
    pthread_mutex_lock(&m->lock);
    for (unsigned i = 0; i < m->n; i++)
        for (unsigned k = 0; k < GPXD_FN_MAX_WORKERS && n < sizeof p / sizeof p[0]; k++)
            if (m->f[i]->w[k].log_fd > 0) {
                p[n].fd = m->f[i]->w[k].log_fd;
                p[n].events = POLLIN;
                who[n++] = &m->f[i]->w[k];
            }
    pthread_mutex_unlock(&m->lock);
    int64_t left = until - mono_ns();
    int ms = left <= 0 ? 0 : left > 1000000000LL ? 1000 : (int)((left + 999999) / 1000000);
    if (poll(p, n, ms) <= 0)
        return;
    if (p[0].revents) {
        char buf[256];
        while (read(m->wake[0], buf, sizeof buf) > 0)
            ;
    }
    char buf[16384];
    for (unsigned i = 1; i < n; i++) {
        if (!p[i].revents)
            continue;
        ssize_t r = read(p[i].fd, buf, sizeof buf);
        pthread_mutex_lock(&m->lock);
        if (r > 0)
            keep_tail(who[i], buf, (size_t)r);
        else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
            close(p[i].fd);
            who[i]->log_fd = -1;
        }
        pthread_mutex_unlock(&m->lock);
    }
}

static void *manager(void *arg)
{
    struct gpxd_functions *m = arg;
    int64_t next_flush = mono_ns() + METER_FLUSH_NS;
    pthread_mutex_lock(&m->lock);
    while (!m->stopping) {
        pthread_mutex_unlock(&m->lock);
        int64_t next = manage(m);
        if (mono_ns() >= next_flush) {
            meter_flush(m);
            next_flush = mono_ns() + METER_FLUSH_NS;
        }
        read_logs(m, next < next_flush ? next : next_flush);
        pthread_mutex_lock(&m->lock);
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

/* --- the registry ----------------------------------------------------------------------------- */

static json_t *record(const struct fn *f)
{
    json_t *j = gpxd_fn_spec_json(&f->s);
    json_object_set_new(j, "owner", json_string(f->owner));
    json_object_set_new(j, "created_ns", json_integer(f->created_ns));
    return j;
}

static int save(struct gpxd *d, const struct fn *f, gpx_error *err)
{
    json_t *j = record(f);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    int rc = s ? gpx_engine_function_put(d->eng, f->s.name, f->owner, s, err)
               : gpx_error_set(err, GPX_E_NOMEM, "function record");
    free(s);
    return rc;
}

/* The function object (lock held). */
static json_t *view(const struct fn *f)
{
    json_t *j = record(f);
    json_object_del(j, "created_ns");
    json_object_set_new(j, "created", gpx_view_time(f->created_ns));
    json_t *ws = json_array();
    int64_t now = mono_ns(), wall = gpx_now_ns();
    for (unsigned k = 0; k < GPXD_FN_MAX_WORKERS; k++) {
        const struct worker *w = &f->w[k];
        if (w->state == W_FREE)
            continue;
        char id[GPXD_FN_NAME_MAX + 16];
        snprintf(id, sizeof id, "%s-%u", f->s.name, w->n);
        json_array_append_new(ws, json_pack("{s:s,s:s?,s:i,s:s,s:I,s:I,s:o,s:b}", "id", id, "lease",
                                            w->lease[0] ? w->lease : NULL, "pid", (int)w->pid,
                                            "state", wstate_names[w->state], "in_flight",
                                            (json_int_t)w->in_flight, "requests",
                                            (json_int_t)w->requests, "started",
                                            gpx_view_time(wall - (now - w->started_ns)), "current",
                                            w->gen == f->gen));
        if (w->ctr[0])
            json_object_set_new(json_array_get(ws, json_array_size(ws) - 1), "container",
                                json_string(w->ctr));
    }
    json_object_set_new(j, "workers", ws);
    json_object_set_new(j, "queue_depth", json_integer(f->qlen));
    json_object_set_new(j, "cold_starts", json_integer((json_int_t)f->cold_starts));
    json_object_set_new(j, "requests", json_integer((json_int_t)f->requests));
    json_object_set_new(j, "restarts", json_integer((json_int_t)f->restarts));
    json_object_set_new(j, "start_error",
                        f->start_error[0] ? json_string(f->start_error) : json_null());
    return j;
}

static struct fn *fn_new(const struct gpxd_fn_spec *s, const char *owner, int64_t created_ns)
{
    struct fn *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->s = *s;
    snprintf(f->owner, sizeof f->owner, "%s", owner);
    f->created_ns = created_ns;
    for (unsigned k = 0; k < GPXD_FN_MAX_WORKERS; k++)
        f->w[k].log_fd = -1;
    return f;
}

static void fn_free(struct fn *f)
{
    gpxd_fn_spec_clear(&f->s);
    for (unsigned k = 0; k < GPXD_FN_MAX_WORKERS; k++) {
        if (f->w[k].log_fd >= 0)
            close(f->w[k].log_fd);
        drop_conns(&f->w[k]);
        free(f->w[k].log);
    }
    free(f);
}

static int load_one(const char *name, const char *owner, const char *text, void *arg)
{
    struct gpxd_functions *m = arg;
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    json_int_t created = json_integer_value(json_object_get(j, "created_ns"));
    json_object_del(j, "owner");
    json_object_del(j, "created_ns");
    json_object_del(j, json_is_null(json_object_get(j, "image")) ? "image" : "command");
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    struct gpxd_fn_spec s;
    gpx_error e = {0};
    if (!body || gpxd_fn_spec_parse(body, strlen(body), name, &s, &e) < 0) {
        gpx_warn("function %s: its stored record is not valid (%s): skipped", name, e.msg);
    } else if (m->n < MAX_FUNCTIONS) {
        struct fn *f = fn_new(&s, owner, created);
        if (f)
            m->f[m->n++] = f;
        else
            gpxd_fn_spec_clear(&s);
    } else {
        gpxd_fn_spec_clear(&s);
    }
    free(body);
    return 0;
}

/* The engine ended a lease: if it is a worker's, the manager hears of it. */
static void on_lease(void *arg, enum gpx_lease_event ev, const struct gpx_lease_rec *l)
{
    struct gpxd_functions *m = arg;
    if (ev != GPX_EV_RELEASED || !strstr(l->labels, "\"gpuplex.function\""))
        return;
    pthread_mutex_lock(&m->ev_lock);
    if (m->nev < MAX_EVENTS)
        snprintf(m->ev[m->nev++], sizeof m->ev[0], "%s", l->id);
    pthread_mutex_unlock(&m->ev_lock);
    wake(m);
}

/* Leases of workers of a daemon that is gone (its workers died with it): released. */
static void release_orphans(struct gpxd *d)
{
    /* the containers of image workers (killed with the previous gpuplexd's podman, they
     * outlived it) go first, then their leases and CDI devices */
    int images = 0;
    for (unsigned i = 0; i < d->fn->n; i++)
        images |= !d->fn->f[i]->s.command;
    if (images) {
        const char *args[] = {"--filter", "label=gpuplex.function", NULL};
        podman_rm(d, args, 30);
    }
    struct gpx_lease *l = NULL;
    unsigned n = 0;
    gpx_error e = {0};
    struct gpx_lease_query q = {.state = -1};
    if (gpx_engine_lease_list(d->eng, &supervisor, &q, &l, &n, &e) < 0)
        return;
    for (unsigned i = 0; i < n; i++)
        if (strstr(l[i].rec.labels, "\"gpuplex.function\"")) {
            gpx_info("functions: releasing lease %s of a worker of the previous gpuplexd",
                     l[i].rec.id);
            release_lease(d, "-", l[i].rec.id);
        }
    free(l);
}

int gpxd_functions_open(struct gpxd *d, gpx_error *err)
{
    struct gpxd_functions *m = calloc(1, sizeof *m);
    if (!m)
        return gpx_error_set(err, GPX_E_NOMEM, "functions");
    m->d = d;
    d->fn = m;
    m->wake[0] = m->wake[1] = -1;
    /* the CPUs gpuplexd may run on (a container's cpuset, taskset), not the machine's; with
     * one, a poller would only delay the worker it waits for */
    cpu_set_t cpus;
    long ncpu = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus)
                                                              : sysconf(_SC_NPROCESSORS_ONLN);
    m->max_spinners = ncpu >= 4 ? (unsigned)(ncpu / 2) : ncpu >= 2 ? 1 : 0;
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->ev_lock, NULL);
    pthread_mutex_init(&m->meter_lock, NULL);
    if (getrandom(&m->id_prefix, sizeof m->id_prefix, 0) != sizeof m->id_prefix)
        m->id_prefix = (uint32_t)getpid() ^ (uint32_t)gpx_now_ns();
    if (pipe2(m->wake, O_CLOEXEC | O_NONBLOCK) < 0)
        return gpx_error_errno(err, GPX_E_IO, errno, "pipe");
    /* the workers' sockets: a private directory with a short path (sun_path is 108 bytes) */
    const char *run = gpx_engine_run_dir(d->eng);
    if (snprintf(m->dir, sizeof m->dir, "%s/fn", run) < (int)sizeof m->dir - 24 &&
        (mkdir(m->dir, 0700) == 0 || errno == EEXIST)) {
        chmod(m->dir, 0700);
    } else {
        snprintf(m->dir, sizeof m->dir, "/tmp/gpuplexd-fn-XXXXXX");
        if (!mkdtemp(m->dir))
            return gpx_error_errno(err, GPX_E_IO, errno, "creating %s", m->dir);
    }
    if (gpx_engine_function_each(d->eng, load_one, m, err) < 0)
        return -1;
    struct gpx_observer o = {.name = "functions", .on_event = on_lease, .arg = m};
    if (gpx_engine_observe(d->eng, &o, err) < 0)
        return -1;
    release_orphans(d);
    return 0;
}

int gpxd_functions_start(struct gpxd *d, gpx_error *err)
{
    struct gpxd_functions *m = d->fn;
    if (pthread_create(&m->mgr, NULL, manager, m) != 0)
        return gpx_error_set(err, GPX_E_INTERNAL, "starting the functions' manager thread");
    m->started = 1;
    return 0;
}

/* Waits (up to ~6 s) for f's workers to exit after SIGTERM, then SIGKILLs the rest (unlocked). */
static void reap_all(struct gpxd_functions *m, struct fn **fs, unsigned n)
{
    int64_t until = mono_ns() + STOP_GRACE_NS;
    for (int killed = 0;;) {
        unsigned alive = 0;
        for (unsigned i = 0; i < n; i++)
            for (unsigned k = 0; k < GPXD_FN_MAX_WORKERS; k++) {
                struct worker *w = &fs[i]->w[k];
                int st = 0;
                if (w->pid <= 0 || w->busy)
                    continue;
                pid_t r = waitpid(w->pid, &st, WNOHANG);
                if (r == w->pid || (r < 0 && errno == ECHILD)) {
                    image_cleanup(m->d, w, st);
                    if (w->lease[0] && !w->lease_ended)
                        release_lease(m->d, fs[i]->s.name, w->lease);
                    w->lease[0] = '\0';
                    w->pid = 0;
                    w->state = W_FREE;
                    continue;
                }
                alive++;
                if (killed)
                    worker_signal(w, SIGKILL);
            }
        if (!alive)
            return;
        if (!killed && mono_ns() >= until)
            killed = 1;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
}

/* Waits up to ms for every connection thread in a call to leave it; how many are left. */
static unsigned wait_threads(struct gpxd_functions *m, int ms)
{
    for (int waited = 0;; waited += 5) {
        pthread_mutex_lock(&m->lock);
        unsigned threads = 0;
        for (unsigned i = 0; i < m->n; i++)
            threads += m->f[i]->threads;
        for (unsigned i = 0; i < m->ngrave; i++)
            threads += m->graveyard[i]->threads;
        pthread_mutex_unlock(&m->lock);
        if (!threads || waited >= ms)
            return threads;
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
}

void gpxd_functions_stop(struct gpxd *d)
{
    struct gpxd_functions *m = d ? d->fn : NULL;
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    if (m->stopping) {
        pthread_mutex_unlock(&m->lock);
        return;
    }
    m->stopping = 1;
    for (unsigned i = 0; i < m->n; i++) {
        expire_queue(m, m->f[i], mono_ns(), 503, "gpuplexd is stopping");
    }
    pthread_mutex_unlock(&m->lock);
    wake(m);
    if (m->started)
        pthread_join(m->mgr, NULL);
    m->started = 0;
    /* the connection threads finish the calls they hold (the workers are still there) */
    wait_threads(m, 10000);
    pthread_mutex_lock(&m->lock);
    for (unsigned i = 0; i < m->n; i++)
        for (unsigned k = 0; k < GPXD_FN_MAX_WORKERS; k++)
            if (m->f[i]->w[k].pid > 0)
                worker_stop(&m->f[i]->w[k], "gpuplexd is stopping", m->f[i]->s.name);
    pthread_mutex_unlock(&m->lock);
    reap_all(m, m->f, m->n);
    reap_all(m, m->graveyard, m->ngrave);
    /* calls still held end with their workers (EOF: 502); their connections answer before
     * the listeners stop */
    if (wait_threads(m, 10000))
        gpx_warn("functions: calls still in progress at the stop");
    meter_flush(m);
}

void gpxd_functions_close(struct gpxd *d)
{
    struct gpxd_functions *m = d ? d->fn : NULL;
    if (!m)
        return;
    gpxd_functions_stop(d);
    if (wait_threads(m, 0)) {
        /* a thread still uses them (it cannot be stopped): leak rather than free under it */
        gpx_warn("functions: calls still in progress at exit: not freed");
        return;
    }
    for (unsigned i = 0; i < m->n; i++)
        fn_free(m->f[i]);
    for (unsigned i = 0; i < m->ngrave; i++)
        fn_free(m->graveyard[i]);
    if (m->wake[0] >= 0)
        close(m->wake[0]);
    if (m->wake[1] >= 0)
        close(m->wake[1]);
    if (strncmp(m->dir, "/tmp/gpuplexd-fn-", 17) == 0)
        rmdir(m->dir);
    for (unsigned i = 0; i < m->narbs; i++)
        gpx_arb_close(m->arbs[i].arb);
    free(m->rows);
    pthread_mutex_destroy(&m->lock);
    pthread_mutex_destroy(&m->ev_lock);
    pthread_mutex_destroy(&m->meter_lock);
    free(m);
    d->fn = NULL;
}

/* An image function runs only images the node allows, as managed containers do. */
static int image_check(const struct gpxd *d, const struct gpxd_fn_spec *s, gpx_error *err)
{
    if (!s->image[0])
        return 0;
    if (!d->cfg.container_images[0])
        return gpx_error_set(err, GPX_E_INVALID,
                             "field 'image': containers are off on this node (gpuplexd's "
                             "container_images is empty); give 'command' instead");
    if (!gpxd_image_allowed(d->cfg.container_images, s->image))
        return gpx_error_set(err, GPX_E_INVALID,
                             "field 'image': '%s' is not in this node's container_images (%.400s)",
                             s->image, d->cfg.container_images);
    return 0;
}

/* A registration's body (POST, or PUT of `name`) as a spec this node can run: parsed, and its
 * image allowed here. */
static int spec_read(const struct gpxd *d, const char *body, size_t len, const char *name,
                     struct gpxd_fn_spec *s, gpx_error *err)
{
    if (gpxd_fn_spec_parse(body, len, name, s, err) < 0)
        return -1;
    if (image_check(d, s, err) < 0) {
        gpxd_fn_spec_clear(s);
        return -1;
    }
    return 0;
}

int gpxd_function_create(struct gpxd *d, const struct gpx_caller *who, const char *body, size_t len,
                         json_t **out, gpx_error *err)
{
    struct gpxd_functions *m = d->fn;
    struct gpxd_fn_spec s;
    if (spec_read(d, body, len, NULL, &s, err) < 0)
        return -1;
    struct fn *f = fn_new(&s, who->tenant, gpx_now_ns());
    if (!f) {
        gpxd_fn_spec_clear(&s);
        return gpx_error_set(err, GPX_E_NOMEM, "function");
    }
    pthread_mutex_lock(&m->lock);
    int rc = 0;
    if (find(m, s.name))
        rc = gpx_error_set(err, GPX_E_EXISTS, "function '%s' exists (PUT changes it)", s.name);
    else if (m->n >= MAX_FUNCTIONS)
        rc = gpx_error_set(err, GPX_E_NO_SPACE, "gpuplexd has %d functions already", MAX_FUNCTIONS);
    else if (m->stopping)
        rc = gpx_error_set(err, GPX_E_BUSY, "gpuplexd is stopping");
    if (rc == 0 && save(d, f, err) < 0)
        rc = -1;
    if (rc == 0) {
        m->f[m->n++] = f;
        *out = view(f);
    }
    pthread_mutex_unlock(&m->lock);
    if (rc < 0) {
        fn_free(f);
        return -1;
    }
    gpx_info("function %s registered by %s", s.name, who->tenant);
    wake(m); /* min_workers */
    return 0;
}

int gpxd_function_update(struct gpxd *d, const struct gpx_caller *who, const char *name,
                         const char *body, size_t len, json_t **out, gpx_error *err)
{
    struct gpxd_functions *m = d->fn;
    struct gpxd_fn_spec s;
    if (spec_read(d, body, len, name, &s, err) < 0)
        return -1;
    pthread_mutex_lock(&m->lock);
    struct fn *f = find(m, name);
    int rc = 0;
    if (!f) {
        rc = gpx_error_set(err, GPX_E_NOT_FOUND, "no function '%.64s'", name);
    } else {
        struct gpxd_fn_spec old = f->s;
        int same = json_equal(old.lease, s.lease) &&
                   (old.command ? s.command && json_equal(old.command, s.command)
                                : !s.command && !strcmp(old.image, s.image));
        f->s = s;
        if (save(d, f, err) < 0) {
            f->s = old;
            rc = -1;
        } else {
            gpxd_fn_spec_clear(&old);
            if (!same)
                f->gen++; /* workers of the old settings are replaced once idle */
            *out = view(f);
            kick(f);
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (rc < 0) {
        gpxd_fn_spec_clear(&s);
        return -1;
    }
    gpx_info("function %s changed by %s", name, who->tenant);
    wake(m);
    return 0;
}

int gpxd_function_list(struct gpxd *d, const struct gpx_caller *who, json_t **out, gpx_error *err)
{
    (void)who;
    (void)err;
    struct gpxd_functions *m = d->fn;
    json_t *a = json_array();
    pthread_mutex_lock(&m->lock);
    for (unsigned i = 0; i < m->n; i++)
        json_array_append_new(a, view(m->f[i]));
    pthread_mutex_unlock(&m->lock);
    *out = json_pack("{s:o}", "functions", a);
    return 0;
}

int gpxd_function_get(struct gpxd *d, const struct gpx_caller *who, const char *name, json_t **out,
                      gpx_error *err)
{
    (void)who;
    struct gpxd_functions *m = d->fn;
    pthread_mutex_lock(&m->lock);
    struct fn *f = find(m, name);
    if (f)
        *out = view(f);
    pthread_mutex_unlock(&m->lock);
    return f ? 0 : gpx_error_set(err, GPX_E_NOT_FOUND, "no function '%.64s'", name);
}

/* Frees the removed functions nothing uses any more: no call in progress, no worker process,
 * none being started (lock held). */
static void sweep_graveyard(struct gpxd_functions *m)
{
    unsigned kept = 0;
    for (unsigned i = 0; i < m->ngrave; i++) {
        struct fn *f = m->graveyard[i];
        int used = f->threads > 0 || f->reaping;
        for (unsigned k = 0; k < GPXD_FN_MAX_WORKERS && !used; k++)
            used = f->w[k].pid > 0 || f->w[k].busy || f->w[k].in_flight;
        if (used)
            m->graveyard[kept++] = f;
        else
            fn_free(f);
    }
    m->ngrave = kept;
}

int gpxd_function_remove(struct gpxd *d, const struct gpx_caller *who, const char *name,
                         json_t **out, gpx_error *err)
{
    struct gpxd_functions *m = d->fn;
    pthread_mutex_lock(&m->lock);
    struct fn *f = find(m, name);
    if (!f) {
        pthread_mutex_unlock(&m->lock);
        return gpx_error_set(err, GPX_E_NOT_FOUND, "no function '%.64s'", name);
    }
    sweep_graveyard(m);
    if (m->ngrave >= sizeof m->graveyard / sizeof m->graveyard[0]) {
        pthread_mutex_unlock(&m->lock);
        return gpx_error_set(err, GPX_E_BUSY,
                             "too many functions removed since gpuplexd started: restart it");
    }
    if (gpx_engine_function_delete(d->eng, name, err) < 0) {
        pthread_mutex_unlock(&m->lock);
        return -1;
    }
    for (unsigned i = 0; i < m->n; i++)
        if (m->f[i] == f) {
            memmove(&m->f[i], &m->f[i + 1], (m->n - i - 1) * sizeof m->f[0]);
            m->n--;
            break;
        }
    f->gone = 1;
    f->reaping = 1;
    m->graveyard[m->ngrave++] = f;
    expire_queue(m, f, mono_ns(), 503, "the function was removed");
    for (unsigned k = 0; k < GPXD_FN_MAX_WORKERS; k++)
        if (f->w[k].pid > 0)
            worker_stop(&f->w[k], "its function was removed", name);
    *out = view(f);
    pthread_mutex_unlock(&m->lock);
    gpx_info("function %s removed by %s", name, who->tenant);
    /* the workers exit on SIGTERM; their leases are released as they are reaped */
    struct fn *one[1] = {f};
    reap_all(m, one, 1);
    pthread_mutex_lock(&m->lock);
    f->reaping = 0; /* the graveyard's sweep may free it from now on */
    pthread_mutex_unlock(&m->lock);
    return 0;
}

/* The last `tail` lines of s (len bytes). */
static const char *last_lines(const char *s, size_t len, unsigned tail)
{
    const char *p = s + len;
    if (p > s && p[-1] == '\n')
        p--;
    while (p > s) {
        if (p[-1] == '\n' && tail-- <= 1)
            break;
        p--;
    }
    return p;
}

int gpxd_function_logs(struct gpxd *d, const struct gpx_caller *who, const char *name,
                       const char *worker, unsigned tail, json_t **out, gpx_error *err)
{
    (void)who;
    struct gpxd_functions *m = d->fn;
    pthread_mutex_lock(&m->lock);
    struct fn *f = find(m, name);
    if (!f) {
        pthread_mutex_unlock(&m->lock);
        return gpx_error_set(err, GPX_E_NOT_FOUND, "no function '%.64s'", name);
    }
    json_t *ws = json_array();
    for (unsigned k = 0; k < GPXD_FN_MAX_WORKERS; k++) {
        const struct worker *w = &f->w[k];
        if (!w->log_len && w->state == W_FREE)
            continue;
        char id[GPXD_FN_NAME_MAX + 16];
        snprintf(id, sizeof id, "%s-%u", f->s.name, w->n);
        if (worker && strcmp(worker, id))
            continue;
        const char *text = w->log ? last_lines(w->log, w->log_len, tail) : "";
        json_array_append_new(ws, json_pack("{s:s,s:s,s:s%}", "id", id, "state",
                                            wstate_names[w->state], "logs", text, strlen(text)));
    }
    pthread_mutex_unlock(&m->lock);
    if (worker && json_array_size(ws) == 0) {
        json_decref(ws);
        return gpx_error_set(err, GPX_E_NOT_FOUND, "function '%.64s' has no worker '%.80s'", name,
                             worker);
    }
    *out = json_pack("{s:s,s:o}", "function", name, "workers", ws);
    return 0;
}

size_t gpxd_function_body_limit(struct gpxd *d, const char *path)
{
    static const char pre[] = "/v1/functions/", post[] = "/invoke";
    size_t pl = sizeof pre - 1, n = strlen(path);
    if (!d->fn || strncmp(path, pre, pl) || n <= pl + sizeof post - 1 ||
        strcmp(path + n - (sizeof post - 1), post))
        return 0;
    char name[GPXD_FN_NAME_MAX];
    size_t nl = n - pl - (sizeof post - 1);
    if (nl >= sizeof name)
        return 0;
    memcpy(name, path + pl, nl);
    name[nl] = '\0';
    pthread_mutex_lock(&d->fn->lock);
    struct fn *f = find(d->fn, name);
    size_t lim = f ? (size_t)f->s.max_body_bytes : 0;
    pthread_mutex_unlock(&d->fn->lock);
    return lim;
}

json_t *gpxd_function_usage(struct gpxd *d, const char *tenant, int64_t from_ns, int64_t to_ns,
                            gpx_error *err)
{
    meter_flush(d->fn);
    struct gpx_fn_usage_row *rows = NULL;
    unsigned n = 0;
    if (gpx_engine_fn_usage(d->eng, tenant, from_ns, to_ns, &rows, &n, err) < 0)
        return NULL;
    json_t *a = json_array();
    for (unsigned i = 0; i < n; i++) {
        const struct gpx_fn_usage_row *r = &rows[i];
        json_array_append_new(
            a, json_pack("{s:s,s:s,s:I,s:I,s:f,s:f,s:f,s:f}", "tenant", r->tenant, "function",
                         r->function, "requests", (json_int_t)r->requests, "errors",
                         (json_int_t)r->errors, "gpu_seconds", r->gpu_seconds, "bill", r->bill,
                         "latency_ms_avg", r->requests ? r->latency_ms_sum / r->requests : 0.0,
                         "queue_ms_avg", r->requests ? r->queue_ms_sum / r->requests : 0.0));
    }
    free(rows);
    return a;
}

/* --- /metrics --------------------------------------------------------------------------------- */

void gpxd_function_metrics(struct gpxd *d, void (*put)(void *b, const char *line), void *b)
{
    struct gpxd_functions *m = d->fn;
    if (!m)
        return;
    char line[512];
    pthread_mutex_lock(&m->lock);
    put(b, "# HELP gpuplex_function_requests_total Function calls answered, by function and "
           "HTTP status.\n# TYPE gpuplex_function_requests_total counter\n");
    for (unsigned i = 0; i < m->n; i++)
        for (int s = 0; s < N_STATUS && m->f[i]->st[s].status; s++) {
            snprintf(line, sizeof line,
                     "gpuplex_function_requests_total{function=\"%s\",status=\"%d\"} %llu\n",
                     m->f[i]->s.name, m->f[i]->st[s].status, (unsigned long long)m->f[i]->st[s].n);
            put(b, line);
        }
    put(b, "# HELP gpuplex_function_request_duration_seconds Latency of accepted function "
           "calls (queue and worker), seconds.\n"
           "# TYPE gpuplex_function_request_duration_seconds histogram\n");
    for (unsigned i = 0; i < m->n; i++) {
        const struct fn *f = m->f[i];
        uint64_t cum = 0;
        for (int k = 0; k < N_BUCKETS; k++) {
            cum += f->hist[k];
            char le[32];
            if (k < N_BUCKETS - 1)
                snprintf(le, sizeof le, "%g", buckets[k]);
            else
                snprintf(le, sizeof le, "+Inf");
            snprintf(line, sizeof line,
                     "gpuplex_function_request_duration_seconds_bucket{function=\"%s\",le=\"%s\"}"
                     " %llu\n",
                     f->s.name, le, (unsigned long long)cum);
            put(b, line);
        }
        snprintf(line, sizeof line,
                 "gpuplex_function_request_duration_seconds_sum{function=\"%s\"} %.6f\n"
                 "gpuplex_function_request_duration_seconds_count{function=\"%s\"} %llu\n",
                 f->s.name, f->hist_sum, f->s.name, (unsigned long long)f->hist_count);
        put(b, line);
    }
    put(b, "# HELP gpuplex_function_queue_depth Calls waiting for a worker.\n"
           "# TYPE gpuplex_function_queue_depth gauge\n");
    for (unsigned i = 0; i < m->n; i++) {
        snprintf(line, sizeof line, "gpuplex_function_queue_depth{function=\"%s\"} %u\n",
                 m->f[i]->s.name, m->f[i]->qlen);
        put(b, line);
    }
    put(b, "# HELP gpuplex_function_workers Workers of a function, by state.\n"
           "# TYPE gpuplex_function_workers gauge\n");
    for (unsigned i = 0; i < m->n; i++)
        for (int st = W_STARTING; st <= W_STOPPING; st++) {
            unsigned c = 0;
            for (unsigned k = 0; k < GPXD_FN_MAX_WORKERS; k++)
                c += m->f[i]->w[k].state == (enum wstate)st;
            snprintf(line, sizeof line,
                     "gpuplex_function_workers{function=\"%s\",state=\"%s\"} %u\n", m->f[i]->s.name,
                     wstate_names[st], c);
            put(b, line);
        }
    put(b, "# HELP gpuplex_function_cold_starts_total Workers started while a call waited and "
           "no worker was ready.\n# TYPE gpuplex_function_cold_starts_total counter\n");
    for (unsigned i = 0; i < m->n; i++) {
        snprintf(line, sizeof line, "gpuplex_function_cold_starts_total{function=\"%s\"} %llu\n",
                 m->f[i]->s.name, (unsigned long long)m->f[i]->cold_starts);
        put(b, line);
    }
    pthread_mutex_unlock(&m->lock);
}
