/*
 * gpuplex-fn-worker: a minimal GPU function worker (docs/functions.md, "Worker
 * protocol" and "Writing a worker"). Copy it: it is the whole protocol in one file.
 *
 * gpuplexd starts a worker under the function's lease with the environment of
 * `gpuplex run` (CUDA_VISIBLE_DEVICES, GPUPLEX_LEASE, LD_PRELOAD for shared
 * modes) plus GPUPLEX_WORKER_SOCKET, the path of a unix socket the worker
 * creates and serves HTTP/1.1 on:
 *   GET  /ready   503 while loading, 200 once it can serve (gpuplexd routes
 *                 no request to a worker before that);
 *   POST /invoke  the caller's body in, the answer (status, Content-Type,
 *                 body) goes back to the caller as it is.
 * Several requests may arrive at once (up to the function's max_concurrency):
 * a fixed pool of executor threads (--executors) runs them, each with the
 * shared CUDA context current and a stream of its own, so requests overlap on
 * the GPU; libmicrohttpd's one thread reads requests and suspends each call's
 * connection until an executor has its answer. Executors made once keep the
 * per-thread and per-stream setup off every call (gpuplexd opens a
 * connection per call: a thread per connection would pay it each time).
 *
 * "Loaded" means what a model server means by it: the CUDA driver opened,
 * a context on the leased device, and the module with the kernels it runs
 * (a real worker would load its weights here too; --load-ms pretends to).
 * An invocation runs simulated work: {"kernels": N, "kernel_us": U,
 * "alloc_mib": M, "host_us": H} launches N spin kernels of U µs each after
 * allocating M MiB, with H µs of host-side work (pre/post-processing) around
 * them, and answers what ran and how long it took, as JSON. On a GPU the
 * kernel spins on %globaltimer; the simulator (GPUPLEX_SIM) reads the same
 * parameter as the time the launch occupies its engine, so the whole path
 * runs without a GPU.
 *
 * The driver is opened with dlopen (GPUPLEX_DRIVER_DIR first), its entry
 * points declared by gpuplex's own headers (src/abi/): no CUDA SDK needed to
 * build. With the SDK, include <cuda.h> and link -lcuda instead.
 *
 * Exit status: 0 after SIGTERM/SIGINT, 1 the driver or the socket failed
 * (the reason on stderr, which `gpuplex fn logs` shows), 2 usage.
 */
#define _GNU_SOURCE
#include "abi/cuda_abi.h"

#include <dlfcn.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY      ((size_t)1 << 20) /* a larger request gets 413 */
#define MAX_KERNELS   100000
#define MAX_KERNEL_US 10000000ULL /* 10 s per kernel */
#define MAX_ALLOC_MIB (1 << 20)
#define MAX_HOST_US   60000000ULL /* 60 s */

/* Spins until its parameter's nanoseconds have passed on the GPU's global timer. */
static const char spin_ptx[] = ".version 7.0\n"
                               ".target sm_70\n"
                               ".address_size 64\n"
                               ".visible .entry gpx_spin(.param .u64 gpx_spin_ns)\n"
                               "{\n"
                               "    .reg .pred %p<2>;\n"
                               "    .reg .b64 %rd<5>;\n"
                               "    ld.param.u64 %rd1, [gpx_spin_ns];\n"
                               "    mov.u64 %rd2, %globaltimer;\n"
                               "$L_spin:\n"
                               "    mov.u64 %rd3, %globaltimer;\n"
                               "    sub.s64 %rd4, %rd3, %rd2;\n"
                               "    setp.lt.u64 %p1, %rd4, %rd1;\n"
                               "    @%p1 bra $L_spin;\n"
                               "    ret;\n"
                               "}\n";

/* ---------------------------------------------------------------- the driver */

/* The entry points this worker uses, resolved once at load time. */
static struct {
    gpx_cuInit_fn init;
    gpx_cuGetErrorName_fn error_name;
    gpx_cuDeviceGet_fn device_get;
    gpx_cuDeviceGetName_fn device_name;
    gpx_cuDevicePrimaryCtxRetain_fn ctx_retain;
    gpx_cuCtxSetCurrent_fn ctx_set_current;
    gpx_cuModuleLoadData_fn module_load;
    gpx_cuModuleGetFunction_fn module_function;
    gpx_cuStreamCreate_fn stream_create;
    gpx_cuStreamDestroy_v2_fn stream_destroy;
    gpx_cuStreamSynchronize_fn stream_sync;
    gpx_cuMemAlloc_v2_fn mem_alloc;
    gpx_cuMemFree_v2_fn mem_free;
    gpx_cuMemsetD8Async_fn memset_async;
    gpx_cuLaunchKernel_fn launch;
} cu;

/* {name cuGetProcAddress takes, exported symbol for older drivers, where it goes} */
static const struct {
    const char *base, *exported;
    void **fp;
} entries[] = {
    {"cuInit", "cuInit", (void **)&cu.init},
    {"cuGetErrorName", "cuGetErrorName", (void **)&cu.error_name},
    {"cuDeviceGet", "cuDeviceGet", (void **)&cu.device_get},
    {"cuDeviceGetName", "cuDeviceGetName", (void **)&cu.device_name},
    {"cuDevicePrimaryCtxRetain", "cuDevicePrimaryCtxRetain", (void **)&cu.ctx_retain},
    {"cuCtxSetCurrent", "cuCtxSetCurrent", (void **)&cu.ctx_set_current},
    {"cuModuleLoadData", "cuModuleLoadData", (void **)&cu.module_load},
    {"cuModuleGetFunction", "cuModuleGetFunction", (void **)&cu.module_function},
    {"cuStreamCreate", "cuStreamCreate", (void **)&cu.stream_create},
    {"cuStreamDestroy", "cuStreamDestroy_v2", (void **)&cu.stream_destroy},
    {"cuStreamSynchronize", "cuStreamSynchronize", (void **)&cu.stream_sync},
    {"cuMemAlloc", "cuMemAlloc_v2", (void **)&cu.mem_alloc},
    {"cuMemFree", "cuMemFree_v2", (void **)&cu.mem_free},
    {"cuMemsetD8Async", "cuMemsetD8Async", (void **)&cu.memset_async},
    {"cuLaunchKernel", "cuLaunchKernel", (void **)&cu.launch},
};

#define CUDA_VERSION_USED 12000 /* the entry points' version this file was written for */

/* What loading made, shared read-only by every request thread. */
static struct {
    CUcontext ctx;
    CUfunction spin;
    char device[128];
    double load_ms;
    atomic_int ready;     /* GET /ready answers 200 once set */
    atomic_ulong served;  /* invocations answered 200 */
    atomic_int in_flight; /* invocations running now */
} w;

static const char *cu_name(CUresult r)
{
    const char *s = NULL;
    if (cu.error_name && cu.error_name(r, &s) == CUDA_SUCCESS && s)
        return s;
    return "CUDA_ERROR_?";
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Resolves the entry points through cuGetProcAddress as the CUDA runtime does (so an
 * interposer sees what a framework's calls would), falling back to the exported symbols. */
static int load_driver(void)
{
    char path[PATH_MAX];
    const char *dir = getenv("GPUPLEX_DRIVER_DIR");
    snprintf(path, sizeof path, "%s%slibcuda.so.1", dir && *dir ? dir : "", dir && *dir ? "/" : "");
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "fn-worker: cannot load %s: %s\n", path, dlerror());
        return -1;
    }
    gpx_cuGetProcAddress_v2_fn gpa = (gpx_cuGetProcAddress_v2_fn)dlsym(lib, "cuGetProcAddress_v2");
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        void *fp = NULL;
        CUdriverProcAddressQueryResult st;
        if (gpa)
            gpa(entries[i].base, &fp, CUDA_VERSION_USED, CU_GET_PROC_ADDRESS_DEFAULT, &st);
        if (!fp)
            fp = dlsym(lib, entries[i].exported);
        if (!fp) {
            fprintf(stderr, "fn-worker: %s lacks %s: driver too old?\n", path, entries[i].exported);
            return -1;
        }
        *entries[i].fp = fp;
    }
    return 0; /* the library stays loaded for the life of the process */
}

#define LOAD_CHECK(call, what)                                                                     \
    do {                                                                                           \
        CUresult r_ = (call);                                                                      \
        if (r_ != CUDA_SUCCESS) {                                                                  \
            fprintf(stderr, "fn-worker: loading: %s: %s (%d)\n", what, cu_name(r_), (int)r_);      \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

/* Everything a request needs, done once before /ready says 200; failures on stderr. */
static int load(unsigned load_ms)
{
    double t0 = now_ms();
    if (load_driver() < 0)
        return -1;
    CUdevice dev;
    CUmodule mod;
    LOAD_CHECK(cu.init(0), "cuInit");
    /* device 0 is the leased one: the lease's CUDA_VISIBLE_DEVICES shows only it */
    LOAD_CHECK(cu.device_get(&dev, 0), "cuDeviceGet");
    LOAD_CHECK(cu.device_name(w.device, sizeof w.device, dev), "cuDeviceGetName");
    LOAD_CHECK(cu.ctx_retain(&w.ctx, dev), "cuDevicePrimaryCtxRetain");
    LOAD_CHECK(cu.ctx_set_current(w.ctx), "cuCtxSetCurrent");
    LOAD_CHECK(cu.module_load(&mod, spin_ptx), "cuModuleLoadData");
    LOAD_CHECK(cu.module_function(&w.spin, mod, "gpx_spin"), "cuModuleGetFunction");
    if (load_ms) { /* a model's weights would be read and copied to the GPU here */
        struct timespec ts = {(time_t)(load_ms / 1000), (long)(load_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    w.load_ms = now_ms() - t0;
    return 0;
}

/* ---------------------------------------------------------------- one invocation */

struct job {
    uint64_t kernels, kernel_us, alloc_mib, host_us;
    int status; /* the HTTP status to answer with: lets a caller test pass-through */
};

/* What a request leaves out: the flags --kernels, --kernel-us, --alloc-mib, --host-us. */
static struct job defaults = {.kernels = 4, .kernel_us = 1000, .status = 200};

static void sleep_us(uint64_t us)
{
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* One field of the request: absent keeps the default; else a whole number up to max. */
static int field(json_t *req, const char *key, uint64_t max, uint64_t *out, char *why, size_t len)
{
    json_t *v = json_object_get(req, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max) {
        snprintf(why, len, "\"%s\" must be a whole number from 0 to %llu", key,
                 (unsigned long long)max);
        return -1;
    }
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* The request body (may be empty: all defaults) into a job. */
static int parse_job(const char *body, size_t n, struct job *j, char *why, size_t len)
{
    *j = defaults;
    if (n == 0)
        return 0;
    json_error_t je;
    json_t *req = json_loadb(body, n, 0, &je);
    if (!json_is_object(req)) {
        snprintf(why, len,
                 "the body must be a JSON object like {\"kernels\": 4, \"kernel_us\": "
                 "1000, \"alloc_mib\": 0, \"host_us\": 0}%s%s",
                 req ? "" : ": ", req ? "" : je.text);
        json_decref(req);
        return -1;
    }
    uint64_t status = 200;
    int rc = field(req, "kernels", MAX_KERNELS, &j->kernels, why, len) < 0 ||
             field(req, "kernel_us", MAX_KERNEL_US, &j->kernel_us, why, len) < 0 ||
             field(req, "alloc_mib", MAX_ALLOC_MIB, &j->alloc_mib, why, len) < 0 ||
             field(req, "host_us", MAX_HOST_US, &j->host_us, why, len) < 0 ||
             field(req, "status", 599, &status, why, len) < 0;
    json_decref(req);
    if (rc == 0 && status < 200) {
        snprintf(why, len, "\"status\" must be an HTTP status from 200 to 599");
        return -1;
    }
    j->status = (int)status;
    return rc ? -1 : 0;
}

#define RUN_CHECK(call, what)                                                                      \
    do {                                                                                           \
        CUresult r_ = (call);                                                                      \
        if (r_ != CUDA_SUCCESS && rc == 0) {                                                       \
            snprintf(why, len, "%s: %s (%d)", what, cu_name(r_), (int)r_);                         \
            rc = -1;                                                                               \
        }                                                                                          \
    } while (0)

/* Runs the job on stream s (the executor's); *gpu_ms: first launch to the last kernel's end. */
static int run_job(const struct job *j, CUstream s, double *gpu_ms, char *why, size_t len)
{
    int rc = 0;
    CUdeviceptr buf = 0;
    if (j->alloc_mib) { /* activations, say: a lease's memory limit applies here */
        RUN_CHECK(cu.mem_alloc(&buf, (size_t)j->alloc_mib << 20), "cuMemAlloc");
        if (rc == 0)
            RUN_CHECK(cu.memset_async(buf, 0, (size_t)j->alloc_mib << 20, s), "cuMemsetD8Async");
    }
    sleep_us(j->host_us / 2); /* pre-processing (tokenizing, decoding an image...) */
    double t0 = now_ms();
    uint64_t ns = j->kernel_us * 1000;
    void *args[] = {&ns};
    for (uint64_t k = 0; rc == 0 && k < j->kernels; k++)
        RUN_CHECK(cu.launch(w.spin, 1, 1, 1, 1, 1, 1, 0, s, args, NULL), "cuLaunchKernel");
    RUN_CHECK(cu.stream_sync(s), "cuStreamSynchronize");
    *gpu_ms = now_ms() - t0;
    sleep_us(j->host_us - j->host_us / 2); /* post-processing */
    if (buf)
        RUN_CHECK(cu.mem_free(buf), "cuMemFree");
    return rc;
}

/* ---------------------------------------------------------------- HTTP */

/*
 * One request: its body as it arrives (libmicrohttpd hands it over in pieces),
 * then, for an invocation, its job and the answer an executor made for it.
 */
struct call {
    char *p;
    size_t len;
    int too_large;
    struct MHD_Connection *conn;
    struct job job;
    int queued;      /* handed to the executors: the connection is suspended until answered */
    unsigned status; /* the answer, set by the executor before it resumes the connection */
    json_t *doc;
    struct call *next; /* in the queue */
};

/* The executors' queue. Invariant: a queued call's connection stays suspended until the
 * executor that took it resumes it; `stopping` (under mu) ends the executors once the queue
 * is empty, and no call is queued after it is set. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct call *head, *tail;
    int stopping;
} q = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    /* out of memory: an empty answer with the status still tells the caller something */
    struct MHD_Response *r =
        text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(0, (char *)"", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result error(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    return answer(conn, status, json_pack("{s:{s:s}}", "error", "message", msg));
}

/* An executor's work on one call: the job, then its answer into the call. */
static void execute(struct call *c, CUstream s)
{
    char why[512] = "";
    const struct job *j = &c->job;
    atomic_fetch_add(&w.in_flight, 1);
    double t0 = now_ms(), gpu_ms = 0;
    int rc = run_job(j, s, &gpu_ms, why, sizeof why);
    double wall_ms = now_ms() - t0;
    int concurrent = atomic_fetch_sub(&w.in_flight, 1);
    if (rc < 0) {
        fprintf(stderr, "fn-worker: invoke failed: %s\n", why);
        c->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        c->doc = json_pack("{s:{s:s}}", "error", "message", why);
        return;
    }
    unsigned long served = atomic_fetch_add(&w.served, 1) + 1;
    c->status = (unsigned)j->status;
    c->doc = json_pack("{s:I, s:I, s:I, s:I, s:f, s:f, s:s, s:i, s:i, s:I}", "kernels",
                       (json_int_t)j->kernels, "kernel_us", (json_int_t)j->kernel_us, "alloc_mib",
                       (json_int_t)j->alloc_mib, "host_us", (json_int_t)j->host_us, "gpu_ms",
                       gpu_ms, "wall_ms", wall_ms, "device", w.device, "pid", (int)getpid(),
                       "concurrent", concurrent, "served", (json_int_t)served);
}

/* An executor: the shared context current on its thread, its own stream (arg), calls from
 * the queue until stopping leaves it empty. */
static void *executor(void *arg)
{
    CUstream s = arg;
    /* the context is per thread in CUDA: make the shared one current on this one, once */
    CUresult r = cu.ctx_set_current(w.ctx);
    for (;;) {
        pthread_mutex_lock(&q.mu);
        while (!q.head && !q.stopping)
            pthread_cond_wait(&q.cv, &q.mu);
        struct call *c = q.head;
        if (c && !(q.head = c->next))
            q.tail = NULL;
        pthread_mutex_unlock(&q.mu);
        if (!c)
            return NULL;
        if (r != CUDA_SUCCESS) {
            c->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
            c->doc = json_pack("{s:{s:s}}", "error", "message", "cuCtxSetCurrent failed");
        } else {
            execute(c, s);
        }
        MHD_resume_connection(c->conn); /* the handler answers; c is not touched after this */
    }
}

/* POST /invoke once its body is in: 413/400 at once, else queued for an executor. */
static enum MHD_Result invoke(struct MHD_Connection *conn, struct call *c)
{
    char why[512] = "";
    if (c->queued) { /* resumed: the executor's answer */
        json_t *doc = c->doc;
        c->doc = NULL;
        return answer(conn, c->status, doc);
    }
    if (c->too_large) {
        snprintf(why, sizeof why, "the body is larger than %zu bytes", MAX_BODY);
        return error(conn, MHD_HTTP_CONTENT_TOO_LARGE, why);
    }
    if (parse_job(c->p, c->len, &c->job, why, sizeof why) < 0)
        return error(conn, MHD_HTTP_BAD_REQUEST, why);
    pthread_mutex_lock(&q.mu);
    if (q.stopping) {
        pthread_mutex_unlock(&q.mu);
        return error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping");
    }
    c->conn = conn;
    c->queued = 1;
    MHD_suspend_connection(conn);
    *(q.tail ? &q.tail->next : &q.head) = c;
    q.tail = c;
    pthread_cond_signal(&q.cv);
    pthread_mutex_unlock(&q.mu);
    return MHD_YES;
}

/* libmicrohttpd's handler, on its one thread: first with the headers, then with each piece
 * of the body, then once more with none (*upload_data_size 0) — and for an invocation once
 * more when its executor resumes the connection. */
static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    (void)cls, (void)version;
    struct call *u = *con_cls;
    if (!u) { /* the headers: start collecting the body */
        if (!(u = calloc(1, sizeof *u)))
            return MHD_NO;
        *con_cls = u;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (u->too_large || u->len + n > MAX_BODY) {
            u->too_large = 1; /* read it to the end, then answer 413 */
            return MHD_YES;
        }
        char *p = realloc(u->p, u->len + n + 1);
        if (!p)
            return MHD_NO;
        memcpy(p + u->len, upload_data, n);
        u->p = p;
        u->len += n;
        return MHD_YES;
    }
    if (!strcmp(url, "/ready")) {
        if (strcmp(method, "GET") != 0)
            return error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET /ready");
        /* what loading wrote is read only once `ready` says it is complete */
        if (!atomic_load(&w.ready))
            return answer(conn, MHD_HTTP_SERVICE_UNAVAILABLE, json_pack("{s:b}", "ready", 0));
        return answer(
            conn, MHD_HTTP_OK,
            json_pack("{s:b, s:s, s:f}", "ready", 1, "device", w.device, "load_ms", w.load_ms));
    }
    if (!strcmp(url, "/invoke")) {
        if (strcmp(method, "POST") != 0)
            return error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "POST /invoke");
        if (!atomic_load(&w.ready))
            return error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "still loading: wait for GET /ready");
        return invoke(conn, u);
    }
    return error(conn, MHD_HTTP_NOT_FOUND, "this worker serves GET /ready and POST /invoke");
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    struct call *u = *con_cls;
    if (u) {
        free(u->p);
        json_decref(u->doc);
    }
    free(u);
    *con_cls = NULL;
}

/* The executors, each with a stream of its own (made here, with the context current). */
static int start_executors(pthread_t *threads, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        CUstream s;
        CUresult r = cu.stream_create(&s, CU_STREAM_NON_BLOCKING);
        if (r != CUDA_SUCCESS) {
            fprintf(stderr, "fn-worker: loading: cuStreamCreate: %s (%d)\n", cu_name(r), (int)r);
            return -1;
        }
        if ((errno = pthread_create(&threads[i], NULL, executor, s)) != 0) {
            fprintf(stderr, "fn-worker: starting executor %u: %s\n", i, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* The socket gpuplexd named: created here (a stale one from a killed worker replaced). */
static int listen_unix(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "fn-worker: GPUPLEX_WORKER_SOCKET is longer than %zu bytes: %s\n",
                sizeof sa.sun_path - 1, path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct stat sb;
    if (fd >= 0 && lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode))
        unlink(path);
    /* owner only: gpuplexd, running as root, is the one client */
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(path, 0600) < 0 ||
        listen(fd, 128) < 0) {
        fprintf(stderr, "fn-worker: listening on %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* ---------------------------------------------------------------- main */

static const char usage[] =
    "usage: GPUPLEX_WORKER_SOCKET=PATH gpuplex-fn-worker [OPTIONS]\n"
    "\n"
    "The example GPU function worker (docs/functions.md). Serves GET /ready and\n"
    "POST /invoke on the unix socket PATH; an invocation's body\n"
    "  {\"kernels\": 4, \"kernel_us\": 1000, \"alloc_mib\": 0, \"host_us\": 0}\n"
    "(every field optional; the flags below set the defaults) runs that many spin kernels on\n"
    "the GPU after allocating alloc_mib MiB, with host_us µs of host work around\n"
    "them, and answers JSON: kernels, kernel_us, alloc_mib, host_us, gpu_ms (first\n"
    "launch to the last kernel's end), wall_ms, device, pid, concurrent (requests\n"
    "running on this worker then), served. \"status\": S answers with HTTP status S.\n"
    "\n"
    "  --kernels N          kernels of a request that names none (default 4)\n"
    "  --kernel-us U        µs each kernel runs (default 1000)\n"
    "  --alloc-mib M        MiB of device memory a request allocates (default 0)\n"
    "  --host-us H          µs of host work per request, half before the kernels and\n"
    "                       half after (default 0)\n"
    "  --load-ms N          pretend loading a model takes N ms more (default 0)\n"
    "  --executors N        calls run at once, each on a thread and stream of its own;\n"
    "                       give the function's max_concurrency (default 8)\n"
    "  --max-connections N  connections open at once (default 64); calls beyond\n"
    "                       --executors wait in the worker's queue\n"
    "\n"
    "Without a GPU, set GPUPLEX_SIM to a node from 'gpuplex sim init' and\n"
    "GPUPLEX_DRIVER_DIR to the simulated driver's directory (gpuplexd --sim does).\n";

static int number(const char *flag, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v = s && *s >= '0' && *s <= '9' ? strtoull(s, &end, 10) : ULLONG_MAX;
    if (v < min || v > max || !end || *end) {
        fprintf(stderr, "gpuplex-fn-worker: %s takes a number from %llu to %llu, not '%s'\n", flag,
                (unsigned long long)min, (unsigned long long)max, s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t load_ms = 0, max_conn = 64, nexec = 8;
    const struct {
        const char *flag;
        uint64_t min, max, *to;
    } flags[] = {
        {"--kernels", 0, MAX_KERNELS, &defaults.kernels},
        {"--kernel-us", 0, MAX_KERNEL_US, &defaults.kernel_us},
        {"--alloc-mib", 0, MAX_ALLOC_MIB, &defaults.alloc_mib},
        {"--host-us", 0, MAX_HOST_US, &defaults.host_us},
        {"--load-ms", 0, 600000, &load_ms},
        {"--executors", 1, 1024, &nexec},
        {"--max-connections", 1, 4096, &max_conn},
    };
    for (int i = 1; i < argc; i += 2) { /* FLAG VALUE pairs */
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return 0;
        }
        size_t k = 0;
        while (k < sizeof flags / sizeof flags[0] && strcmp(argv[i], flags[k].flag) != 0)
            k++;
        if (k == sizeof flags / sizeof flags[0]) {
            fprintf(stderr, "gpuplex-fn-worker: unknown argument '%s'\n%s", argv[i], usage);
            return 2;
        }
        if (number(argv[i], argv[i + 1], flags[k].min, flags[k].max, flags[k].to) < 0)
            return 2;
    }
    const char *path = getenv("GPUPLEX_WORKER_SOCKET");
    if (!path || !*path) {
        fprintf(stderr, "gpuplex-fn-worker: GPUPLEX_WORKER_SOCKET is not set: gpuplexd sets it "
                        "when it starts a function's worker\n");
        return 2;
    }
    /* SIGTERM/SIGINT are taken by sigwait below: block them before any thread exists */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN); /* a caller that hangs up is not a reason to die */

    /* Listen first, load second: gpuplexd sees the socket at once and polls /ready. */
    int fd = listen_unix(path);
    if (fd < 0)
        return 1;
    struct MHD_Daemon *mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, handler, NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED,
        completed, NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)max_conn, MHD_OPTION_END);
    if (!mhd) {
        fprintf(stderr, "fn-worker: starting the HTTP server on %s failed\n", path);
        unlink(path);
        return 1;
    }
    pthread_t *threads = calloc(nexec, sizeof *threads);
    if (!threads || load((unsigned)load_ms) < 0 || start_executors(threads, (unsigned)nexec) < 0) {
        MHD_stop_daemon(mhd); /* no call was queued: nothing is suspended */
        free(threads);
        unlink(path);
        return 1; /* executors already started end with the process */
    }
    atomic_store(&w.ready, 1);
    fprintf(stderr, "fn-worker: ready on %s (%s, loaded in %.1f ms)\n", path, w.device, w.load_ms);

    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "fn-worker: %s: stopping after %lu invocations\n", strsignal(sig),
            atomic_load(&w.served));
    /* the calls queued or running are finished and answered; then no new ones */
    pthread_mutex_lock(&q.mu);
    q.stopping = 1;
    pthread_cond_broadcast(&q.cv);
    pthread_mutex_unlock(&q.mu);
    for (unsigned i = 0; i < nexec; i++)
        pthread_join(threads[i], NULL);
    int lfd = MHD_quiesce_daemon(mhd); /* no new connections; the socket is ours again */
    for (int i = 0;
         i < 100 &&
         MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS)->num_connections > 0;
         i++)
        sleep_us(10000); /* at most 1 s for the last answers to be sent */
    MHD_stop_daemon(mhd);
    if (lfd >= 0)
        close(lfd);
    free(threads);
    unlink(path);
    return 0;
}
