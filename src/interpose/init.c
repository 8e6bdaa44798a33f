/*
 * Interposer state: what the environment said when the process started, the
 * real driver, and the lease decision. Everything is decided once; hooks
 * only read the result (interpose.h).
 *
 * Why the environment is read in a constructor: a workload must not be able
 * to raise its quota by editing its environment. GPUPLEX_LEASE (and the run
 * dir that says where leases live) are read before main() runs, or at the
 * first hooked call if something calls the driver even earlier; whichever
 * comes first wins (pthread_once), and later setenv/unsetenv change nothing.
 * The constructor also maps the named lease region and copies its limits
 * into private memory, so that a process that rewrites the limits file
 * (root can, mode 0444 or not) changes nothing for itself or for processes
 * already running. It does nothing else and logs nothing (every process
 * that inherits LD_PRELOAD runs it): the driver is opened, the process's
 * slot taken and any lease error reported on the first hooked call, with no
 * assumption about which other constructors have run.
 */
#define _GNU_SOURCE
#include "interpose/interpose.h"
#include "interpose/ptrtable.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct gpx_ip_state gpx__ip;
struct gpx_ip_real_nvml gpx__ip_nvml;
void (*gpx__submit_enter)(void);
void (*gpx__submit_exit)(void);
int gpx__ip_log_level = GPX_IP_LOG_ERROR;

static char driver_dir[PATH_MAX];
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_once_t nvml_once = PTHREAD_ONCE_INIT;
static _Atomic int closed_logged;

/* ---- logging ------------------------------------------------------------------------------ */

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void gpx__ip_log(int level, const char *fmt, ...)
{
    if (level < GPX_IP_LOG_ERROR || level > GPX_IP_LOG_DEBUG)
        return;
    int saved = errno;
    char line[512];
    int n =
        snprintf(line, sizeof line, "gpuplex-cuda[%d]: %s: ", (int)getpid(), level_names[level]);
    if (n < 0 || (size_t)n >= sizeof line)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    for (size_t off = 0; off < len;) {
        ssize_t w = write(STDERR_FILENO, line + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    errno = saved;
}

static void map_lease(void);

/* ---- environment, captured once ----------------------------------------------------------- */

static void capture_env(void)
{
    const char *lvl = getenv("GPUPLEX_LOG");
    if (lvl) {
        if (strcmp(lvl, "off") == 0 || strcmp(lvl, "none") == 0)
            gpx__ip_log_level = GPX_IP_LOG_OFF;
        for (int i = 0; i < 4; i++)
            if (strcmp(lvl, level_names[i]) == 0)
                gpx__ip_log_level = i;
    }
    const char *dir = getenv("GPUPLEX_DRIVER_DIR");
    size_t n;
    if (dir && *dir && (n = strlen(dir)) < sizeof driver_dir)
        memcpy(driver_dir, dir, n + 1);
    const char *id = getenv("GPUPLEX_LEASE");
    if (id) {
        gpx__ip.lease_set = 1;
        if ((n = strlen(id)) < sizeof gpx__ip.lease_id)
            memcpy(gpx__ip.lease_id, id, n + 1);
        else
            gpx__ip.lease_bad = 1;
        /* Pins the run dir now too (gpx_run_dir() reads GPUPLEX_RUN_DIR once). */
        (void)gpx_run_dir();
        map_lease();
    }
}

__attribute__((constructor)) static void capture_env_early(void)
{
    int saved = errno;
    pthread_once(&env_once, capture_env);
    errno = saved;
}

/* ---- the real driver ---------------------------------------------------------------------- */

static void *open_driver(const char *soname)
{
    const int flags = RTLD_LAZY | RTLD_LOCAL | RTLD_NODELETE;
    if (driver_dir[0]) {
        char path[PATH_MAX + 64];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", driver_dir, soname) < sizeof path) {
            void *h = dlopen(path, flags);
            if (h)
                return h;
            GPX_IP_LOG(GPX_IP_LOG_WARN, "GPUPLEX_DRIVER_DIR: %s", dlerror());
        }
    }
    void *h = dlopen(soname, flags);
    if (!h)
        GPX_IP_LOG(GPX_IP_LOG_INFO, "cannot open %s: %s", soname, dlerror());
    return h;
}

static void resolve_cuda(void)
{
    void *h = open_driver("libcuda.so.1");
    gpx__ip.cuda_lib = h;
    gpx__ip.have_cuda = h != NULL;
    if (!h)
        return;
#define GPX_IP_RESOLVE_(name, base, since, pt)                                                     \
    gpx__ip.real.name = (gpx_##name##_fn)gpx__real_dlsym(h, #name);
    GPX_IP_CUDA_HOOKS(GPX_IP_RESOLVE_)
#undef GPX_IP_RESOLVE_
}

CUresult gpx__ip_missing(const char *name)
{
    GPX_IP_LOG(GPX_IP_LOG_DEBUG, "%s: the driver does not export it", name);
    return gpx__ip.have_cuda ? CUDA_ERROR_NOT_SUPPORTED : CUDA_ERROR_NOT_INITIALIZED;
}

static void resolve_nvml(void)
{
    void *h = open_driver("libnvidia-ml.so.1");
    if (!h)
        return;
#define GPX_IP_NRESOLVE_(name, type) gpx__ip_nvml.name = (type)gpx__real_dlsym(h, #name);
    GPX_IP_NVML_HOOKS(GPX_IP_NRESOLVE_)
    GPX_IP_NVML_USED(GPX_IP_NRESOLVE_)
#undef GPX_IP_NRESOLVE_
}

void gpx__ip_nvml_ensure(void)
{
    int saved = errno;
    gpx__ip_dlsym_ensure();
    pthread_once(&nvml_once, resolve_nvml);
    errno = saved;
}

/* ---- the lease ---------------------------------------------------------------------------- */

static void fail_closed(const char *why)
{
    gpx__ip.mode = GPX_IP_CLOSED;
    if (!atomic_exchange(&closed_logged, 1))
        GPX_IP_LOG(GPX_IP_LOG_ERROR,
                   "lease '%s': %s; device memory allocations will fail (fail closed)",
                   gpx__ip.lease_bad ? "(too long)" : gpx__ip.lease_id, why);
}

/* Why the lease named at start could not be opened ("" if it could, or none was named). */
static char lease_error[GPX_ERROR_MSG_MAX];

/*
 * At start (with the environment): maps the region and copies the limits.
 * Nothing is logged here: this runs in every process that inherits
 * LD_PRELOAD (shells, tools), most of which never touch the driver.
 */
static void map_lease(void)
{
    if (!gpx__ip.lease_set)
        return;
    if (gpx__ip.lease_bad || !gpx_lease_id_valid(gpx__ip.lease_id)) {
        snprintf(lease_error, sizeof lease_error, "not a valid lease id");
        return;
    }
    gpx_error err;
    struct gpx_lease_region r;
    if (gpx_lease_region_open(gpx_run_dir(), gpx__ip.lease_id, &r, &err) < 0) {
        snprintf(lease_error, sizeof lease_error, "%s", err.msg);
        return;
    }
    /*
     * A lease is its tenant's: another uid fails closed even where the files
     * would let it in (a file system without ACLs, a region made before them).
     * Root may use any lease (it could read and write the files anyway).
     */
    uid_t uid = getuid();
    if (uid != 0 && uid != (uid_t)r.limits->uid) {
        snprintf(lease_error, sizeof lease_error, "the lease belongs to uid %u, not to uid %u",
                 (unsigned)r.limits->uid, (unsigned)uid);
        gpx_lease_region_close(&r);
        return;
    }
    gpx__ip.limits = *r.limits;
    gpx__ip.limits_map = r.limits;
    gpx__ip.region.usage = r.usage;
    gpx__ip.region.limits = &gpx__ip.limits;
    gpx__ip.quota = gpx__ip.limits.memory_quota;
}

/*
 * This thread's credit cell in the process's slot (shm/lease.h): what it frees is kept there for
 * its own next allocations, moved with plain loads and stores. State 0: not looked for yet; 1:
 * my_lcell is it; 2: none (none free, no membarrier, or handed back at the thread's exit: later
 * key destructors use the slot).
 */
static __thread struct gpx_lease_cell *my_lcell __attribute__((tls_model("initial-exec")));
static __thread int my_lcell_state __attribute__((tls_model("initial-exec")));
static int cells_ok; /* this process is registered for the reclaimers' membarrier */

void gpx__ip_cells_init(void)
{
    my_lcell = NULL;
    my_lcell_state = 0;
    cells_ok = gpx_lease_cells_register() == 0;
}

/* At the first hooked call: takes this process's slot and decides the mode. */
static void open_lease(void)
{
    if (!gpx__ip.lease_set) {
        gpx__ip.mode = GPX_IP_PASS;
        return;
    }
    if (!gpx__ip.region.usage) {
        fail_closed(lease_error[0] ? lease_error : "the lease region is not mapped");
        return;
    }
    gpx__ip.slot = gpx_lease_attach(&gpx__ip.region, (int32_t)getpid());
    if (!gpx__ip.slot) {
        fail_closed("no free process slot in the lease region");
        return;
    }
    gpx__ip.mode = GPX_IP_ENFORCE;
    gpx__ip_cells_init();
    GPX_IP_LOG(GPX_IP_LOG_INFO, "lease %s: device memory quota %llu bytes", gpx__ip.lease_id,
               (unsigned long long)gpx__ip.quota);
}

/* ---- fork --------------------------------------------------------------------------------- */

static void atfork_prepare(void)
{
    gpx__pt_fork_prepare();
}

static void atfork_parent(void)
{
    gpx__pt_fork_parent();
}

static void atfork_child(void)
{
    gpx__pt_fork_child();
    gpx__ip_slice_atfork_child();
    gpx__ip_local_reset();
    if (gpx__ip.mode == GPX_IP_ENFORCE) {
        gpx__ip_cells_init(); /* the parent's credit cell is in the parent's slot */
        gpx__ip.slot = gpx_lease_attach(&gpx__ip.region, (int32_t)getpid());
        if (!gpx__ip.slot)
            fail_closed("no free process slot in the lease region");
    }
}

/* ---- init --------------------------------------------------------------------------------- */

static void init(void)
{
    gpx__ip_dlsym_ensure();
    resolve_cuda();
    open_lease();
    if (gpx__ip.mode == GPX_IP_ENFORCE)
        gpx__ip_slice_init();
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    atomic_store_explicit(&gpx__ip.ready, 1, memory_order_release);
}

void gpx__ip_init_slow(void)
{
    int saved = errno;
    pthread_once(&env_once, capture_env);
    pthread_once(&init_once, init);
    errno = saved;
}

/* ---- accounting --------------------------------------------------------------------------- */

static void log_refusal(uint64_t bytes, const char *why)
{
    GPX_IP_LOG(GPX_IP_LOG_INFO, "refused %llu bytes: %s (quota %llu, lease used %llu)",
               (unsigned long long)bytes, why, (unsigned long long)gpx__ip.quota,
               (unsigned long long)gpx_lease_used(gpx__ip.region.usage));
}

/*
 * The private count: each thread adds and subtracts in a cell of its own, a
 * plain load and store (no atomic read-modify-write on the allocation path);
 * the count is the sum of the cells. A free on another thread than the
 * allocation's makes one cell negative and another positive: the sum stays
 * exact. A thread's cell outlives it (its net is still held) and is adopted
 * by a later thread. Threads past COUNT_CELLS share one atomic cell.
 */
#define COUNT_CELLS 256

struct count_cell {
    _Atomic int64_t net;
    _Atomic int owned;
} __attribute__((aligned(64)));

static struct count_cell cells[COUNT_CELLS];
static struct count_cell shared_cell;
static _Atomic unsigned cells_seen; /* cells ever handed out: the sum reads these */
static __thread struct count_cell *my_cell __attribute__((tls_model("initial-exec")));
static pthread_key_t cell_key;
static int cell_key_ok;
static pthread_once_t cell_once = PTHREAD_ONCE_INIT;

/* The key's destructor: the thread is leaving. */
static void cell_release(void *c)
{
    /* its credit cell goes back to the slot, and what later key destructors allocate or free
     * goes through the slot and the shared cell */
    if (my_lcell)
        gpx_lease_cell_drop(&gpx__ip.region, gpx__ip.slot, my_lcell);
    my_lcell = NULL;
    my_lcell_state = 2;
    my_cell = &shared_cell;
    atomic_store_explicit(&((struct count_cell *)c)->owned, 0, memory_order_release);
}

static void cell_key_init(void)
{
    cell_key_ok = pthread_key_create(&cell_key, cell_release) == 0;
}

static struct count_cell *cell_take(void)
{
    pthread_once(&cell_once, cell_key_init);
    my_cell = &shared_cell;
    for (unsigned i = 0; cell_key_ok && i < COUNT_CELLS; i++) {
        int free_ = 0;
        if (atomic_load_explicit(&cells[i].owned, memory_order_relaxed) ||
            !atomic_compare_exchange_strong(&cells[i].owned, &free_, 1))
            continue;
        unsigned seen = atomic_load(&cells_seen);
        while (seen < i + 1 && !atomic_compare_exchange_weak(&cells_seen, &seen, i + 1))
            ;
        if (pthread_setspecific(cell_key, &cells[i]) != 0) {
            atomic_store_explicit(&cells[i].owned, 0, memory_order_release);
            break;
        }
        my_cell = &cells[i];
        break;
    }
    return my_cell;
}

static inline void local_add(int64_t delta)
{
    struct count_cell *c = my_cell;
    if (GPX_UNLIKELY(!c))
        c = cell_take();
    if (GPX_UNLIKELY(c == &shared_cell))
        atomic_fetch_add_explicit(&c->net, delta, memory_order_relaxed);
    else /* only this thread writes its cell */
        atomic_store_explicit(&c->net, atomic_load_explicit(&c->net, memory_order_relaxed) + delta,
                              memory_order_relaxed);
}

/*
 * This thread's credit cell, claimed at its first release; NULL: it uses the slot's credit. Out
 * of line: inlined into gpx__ip_release it cost ~1.5 ns per alloc+free pair (bench/interpose).
 */
static __attribute__((noinline)) struct gpx_lease_cell *lcell_get(struct gpx_lease_proc *slot)
{
    if (my_lcell_state != 0)
        return my_lcell;
    my_lcell_state = 2;
    if (!cells_ok || !slot)
        return NULL;
    if (!my_cell)
        cell_take();
    if (my_cell == &shared_cell)
        return NULL; /* no key destructor would hand the cell back at the thread's exit */
    my_lcell = gpx_lease_cell_claim(slot);
    if (my_lcell)
        my_lcell_state = 1;
    return my_lcell;
}

uint64_t gpx__ip_local_used(void)
{
    int64_t sum = atomic_load_explicit(&shared_cell.net, memory_order_relaxed);
    unsigned n = atomic_load(&cells_seen);
    for (unsigned i = 0; i < n && i < COUNT_CELLS; i++)
        sum += atomic_load_explicit(&cells[i].net, memory_order_relaxed);
    return sum > 0 ? (uint64_t)sum : 0;
}

void gpx__ip_local_reset(void)
{
    for (unsigned i = 0; i < COUNT_CELLS; i++)
        atomic_store(&cells[i].net, 0);
    atomic_store(&shared_cell.net, 0);
}

int gpx__ip_reserve(uint64_t bytes)
{
    if (GPX_UNLIKELY(gpx__ip.mode != GPX_IP_ENFORCE)) {
        GPX_IP_LOG(GPX_IP_LOG_DEBUG, "refused %llu bytes: no usable lease",
                   (unsigned long long)bytes);
        return -1;
    }
    const uint64_t quota = gpx__ip.quota;
    if (GPX_UNLIKELY(bytes == UINT64_MAX)) { /* a size that overflowed: never fits */
        atomic_fetch_add_explicit(&gpx__ip.region.usage->refused, 1, memory_order_relaxed);
        log_refusal(bytes, "size overflows");
        return -1;
    }
    /*
     * Bytes this thread freed and still holds (its cell's credit), or this
     * process (its slot's credit), were checked when it was charged for them;
     * a reserve that charges the lease checks the private count first.
     */
    struct gpx_lease_proc *slot = gpx__ip.slot;
    struct gpx_lease_cell *lc = my_lcell;
    if (GPX_LIKELY(lc != NULL) && gpx_lease_cell_take(lc, bytes)) {
        local_add((int64_t)bytes);
        return 0;
    }
    if (lc && atomic_load_explicit(&lc->credit, memory_order_relaxed))
        gpx_lease_cell_flush(&gpx__ip.region, slot, lc); /* short of bytes: it counts toward them */
    if (quota && (!slot || atomic_load_explicit(&slot->credit, memory_order_relaxed) < bytes)) {
        uint64_t mine = gpx__ip_local_used();
        if (mine > quota || bytes > quota - mine) {
            atomic_fetch_add_explicit(&gpx__ip.region.usage->refused, 1, memory_order_relaxed);
            log_refusal(bytes, "over quota in this process");
            return -1;
        }
    }
    if (gpx_lease_reserve(&gpx__ip.region, slot, bytes) != 0) {
        log_refusal(bytes, "over the lease's quota");
        return -1;
    }
    local_add((int64_t)bytes);
    return 0;
}

void gpx__ip_release(uint64_t bytes)
{
    if (gpx__ip.mode != GPX_IP_ENFORCE)
        return;
    local_add(-(int64_t)bytes);
    struct gpx_lease_proc *slot = gpx__ip.slot;
    struct gpx_lease_cell *lc = my_lcell;
    if (GPX_UNLIKELY(!lc))
        lc = lcell_get(slot);
    if (GPX_LIKELY(lc != NULL)) {
        if (!gpx_lease_cell_give(lc, slot, bytes))
            gpx_lease_cell_unaccount(&gpx__ip.region, slot, lc, bytes); /* full, or a reclaim */
        return;
    }
    gpx_lease_unaccount(&gpx__ip.region, slot, bytes);
}
