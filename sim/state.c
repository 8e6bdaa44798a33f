/*
 * Simulator state file: creation, validated mapping, the robust lock,
 * process slots and the shared engine clock. See state.h for the invariants.
 *
 * Creation writes a temporary file and renames it over the target, so a
 * reader sees either the old node or the new one, never half of one.
 */
#define _GNU_SOURCE
#include "state.h"
#include "shm/pidns.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* DGX H100 / DGX A100 bus numbers, so the first eight look like a real node. */
static const uint8_t dgx_bus[8] = {0x18, 0x2a, 0x3a, 0x5d, 0x9a, 0xab, 0xba, 0xdb};

size_t gpx_sim_file_size(uint32_t gpu_count)
{
    return sizeof(struct gpx_sim_header) + (size_t)gpu_count * sizeof(struct gpx_sim_gpu);
}

uint64_t gpx_sim_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Deterministic UUID from (index, model): the same spec always gives the same node. */
static void make_uuid(char out[80], uint32_t index, uint32_t model)
{
    uint64_t seed = 0x67707870ULL * 1000003ULL + index * 131ULL + model;
    uint64_t a = splitmix(&seed), b = splitmix(&seed);
    snprintf(out, 80, "GPU-%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffffU, ((unsigned)a & 0x0fffU) | 0x4000U,
             ((unsigned)(b >> 48) & 0x3fffU) | 0x8000U,
             (unsigned long long)(b & 0xffffffffffffULL));
}

static void fill_gpu(struct gpx_sim_gpu *g, uint32_t index, uint32_t model)
{
    const struct gpx_sim_model_info *m = gpx_sim_model((enum gpx_sim_model)model);
    memset(g, 0, sizeof *g);
    g->model = model;
    g->index = index;
    g->minor = index;
    g->sm_count = m->sm_count;
    g->cc_major = m->cc_major;
    g->cc_minor = m->cc_minor;
    g->memory_total = (uint64_t)m->memory_mib << 20;
    g->memory_reserved = 0;
    snprintf(g->name, sizeof g->name, "%s", m->name);
    make_uuid(g->uuid, index, model);
    g->pci_domain = 0;
    g->pci_bus = index < 8 ? dgx_bus[index] : 0xdc + index;
    g->pci_device = 0;
    snprintf(g->pci_bus_id, sizeof g->pci_bus_id, "%08X:%02X:%02X.0", g->pci_domain, g->pci_bus,
             g->pci_device);
    g->pci_device_id = m->pci_device_id;
    g->pci_subsystem_id = m->pci_subsystem_id;
    g->power_limit_mw = m->power_limit_w * 1000U;
    g->power_idle_mw = m->power_idle_w * 1000U;
    g->sm_clock_max_mhz = m->sm_clock_max_mhz;
    g->sm_clock_idle_mhz = m->sm_clock_idle_mhz;
    g->mem_clock_mhz = m->mem_clock_mhz;
    g->mig_current = 0;
    g->mig_pending = 0;
}

static int init_lock(pthread_mutex_t *mu)
{
    pthread_mutexattr_t a;
    int rc = pthread_mutexattr_init(&a);
    if (!rc)
        rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (!rc)
        rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (!rc)
        rc = pthread_mutex_init(mu, &a);
    pthread_mutexattr_destroy(&a);
    return rc;
}

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int gpx_sim_create(const char *path, const struct gpx_sim_spec *spec, gpx_error *err)
{
    if (spec->gpu_count == 0 || spec->gpu_count > GPX_SIM_MAX_GPUS)
        return gpx_error_set(err, GPX_E_INVALID, "a simulated node has 1..%u GPUs",
                             GPX_SIM_MAX_GPUS);
    size_t size = gpx_sim_file_size(spec->gpu_count);
    char *buf = calloc(1, size);
    if (!buf)
        return gpx_error_set(err, GPX_E_NOMEM, "allocating %zu bytes", size);
    struct gpx_sim_header *h = (struct gpx_sim_header *)buf;
    h->magic = GPX_SIM_MAGIC;
    h->version = GPX_SIM_VERSION;
    h->header_size = sizeof *h;
    h->gpu_size = sizeof(struct gpx_sim_gpu);
    h->gpu_count = spec->gpu_count;
    h->file_size = size;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    h->created_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
    h->driver_version_cuda = spec->cuda_version ? spec->cuda_version : GPX_SIM_DEFAULT_CUDA;
    snprintf(h->driver_version, sizeof h->driver_version, "%s",
             spec->driver_version[0] ? spec->driver_version : GPX_SIM_DEFAULT_DRIVER);
    if (init_lock(&h->lock) != 0) {
        free(buf);
        return gpx_error_set(err, GPX_E_INTERNAL, "initialising the state lock");
    }
    struct gpx_sim_gpu *gpus = (struct gpx_sim_gpu *)(buf + sizeof *h);
    for (uint32_t i = 0; i < spec->gpu_count; i++)
        fill_gpu(&gpus[i], i, spec->models[i]);

    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= sizeof tmp) {
        free(buf);
        return gpx_error_set(err, GPX_E_INVALID, "state path too long");
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        free(buf);
        return gpx_error_errno(err, GPX_E_IO, errno, "creating '%s'", tmp);
    }
    /* 0666 minus umask: every tenant's process must be able to map the node. */
    int rc = write_all(fd, buf, size);
    int saved = errno;
    free(buf);
    if (rc == 0 && fsync(fd) != 0) {
        rc = -1;
        saved = errno;
    }
    close(fd);
    if (rc != 0) {
        unlink(tmp);
        return gpx_error_errno(err, GPX_E_IO, saved, "writing '%s'", tmp);
    }
    if (rename(tmp, path) != 0) {
        saved = errno;
        unlink(tmp);
        return gpx_error_errno(err, GPX_E_IO, saved, "renaming to '%s'", path);
    }
    return 0;
}

int gpx_sim_open(const char *path, struct gpx_sim_state *st, gpx_error *err)
{
    memset(st, 0, sizeof *st);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return gpx_error_errno(err, errno == ENOENT ? GPX_E_NOT_FOUND : GPX_E_IO, errno,
                               "simulator state '%s'", path);
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return gpx_error_errno(err, GPX_E_IO, e, "simulator state '%s'", path);
    }
    size_t size = (size_t)sb.st_size;
    struct gpx_sim_header hdr;
    if (size < sizeof hdr) {
        close(fd);
        return gpx_error_set(err, GPX_E_STATE,
                             "simulator state '%s' is truncated (%zu bytes, header needs %zu); "
                             "recreate it with 'gpuplex sim init'",
                             path, size, sizeof hdr);
    }
    ssize_t n;
    do
        n = pread(fd, &hdr, sizeof hdr, 0);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof hdr) {
        close(fd);
        return gpx_error_set(err, GPX_E_IO, "reading simulator state '%s'", path);
    }
    if (hdr.magic != GPX_SIM_MAGIC) {
        close(fd);
        return gpx_error_set(err, GPX_E_STATE,
                             "'%s' is not a gpuplex simulator state file (bad magic); "
                             "create one with 'gpuplex sim init --gpus 2xH100-80GB --state %s'",
                             path, path);
    }
    if (hdr.version != GPX_SIM_VERSION || hdr.header_size != sizeof hdr ||
        hdr.gpu_size != sizeof(struct gpx_sim_gpu)) {
        close(fd);
        return gpx_error_set(err, GPX_E_STATE,
                             "simulator state '%s' has version %u (layout %u/%u), this gpuplex "
                             "reads version %u; recreate it with 'gpuplex sim init'",
                             path, hdr.version, hdr.header_size, hdr.gpu_size, GPX_SIM_VERSION);
    }
    if (hdr.gpu_count == 0 || hdr.gpu_count > GPX_SIM_MAX_GPUS ||
        hdr.file_size != gpx_sim_file_size(hdr.gpu_count) || size != hdr.file_size) {
        close(fd);
        return gpx_error_set(err, GPX_E_STATE,
                             "simulator state '%s' is damaged or truncated (%zu bytes, %u GPUs "
                             "need %zu); recreate it with 'gpuplex sim init'",
                             path, size, hdr.gpu_count,
                             hdr.gpu_count <= GPX_SIM_MAX_GPUS ? gpx_sim_file_size(hdr.gpu_count)
                                                               : 0);
    }
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED)
        return gpx_error_errno(err, GPX_E_IO, e, "mapping simulator state '%s'", path);
    st->hdr = map;
    st->gpus = (struct gpx_sim_gpu *)((char *)map + sizeof(struct gpx_sim_header));
    st->map_size = size;
    for (uint32_t i = 0; i < hdr.gpu_count; i++) {
        if (st->gpus[i].model >= GPX_SIM_MODEL_COUNT || st->gpus[i].index != i) {
            gpx_sim_close(st);
            return gpx_error_set(err, GPX_E_STATE,
                                 "simulator state '%s' is damaged (GPU %u record invalid); "
                                 "recreate it with 'gpuplex sim init'",
                                 path, i);
        }
        /* Names come from the file: make sure every string is terminated. */
        st->gpus[i].name[sizeof st->gpus[i].name - 1] = '\0';
        st->gpus[i].uuid[sizeof st->gpus[i].uuid - 1] = '\0';
        st->gpus[i].pci_bus_id[sizeof st->gpus[i].pci_bus_id - 1] = '\0';
    }
    st->hdr->driver_version[sizeof st->hdr->driver_version - 1] = '\0';
    return 0;
}

void gpx_sim_close(struct gpx_sim_state *st)
{
    if (st && st->hdr)
        munmap(st->hdr, st->map_size);
    if (st)
        memset(st, 0, sizeof *st);
}

int gpx_sim_open_env(struct gpx_sim_state *st, gpx_error *err)
{
    const char *path = getenv("GPUPLEX_SIM");
    if (!path || !*path)
        return gpx_error_set(err, GPX_E_NO_GPU,
                             "GPUPLEX_SIM is not set: the simulated driver needs a node; create "
                             "one with 'gpuplex sim init --gpus 2xH100-80GB --state FILE' and "
                             "set GPUPLEX_SIM=FILE");
    return gpx_sim_open(path, st, err);
}

void gpx_sim_lock(struct gpx_sim_state *st)
{
    int rc = pthread_mutex_lock(&st->hdr->lock);
    if (rc == EOWNERDEAD)
        pthread_mutex_consistent(&st->hdr->lock);
}

void gpx_sim_unlock(struct gpx_sim_state *st)
{
    pthread_mutex_unlock(&st->hdr->lock);
}

uint64_t gpx_sim_proc_start_ticks(int32_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* Field 22 (starttime), counted after the ')' that ends the command name. */
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    int field = 2;
    for (p++; *p && field < 22; p++)
        if (*p == ' ')
            field++;
    return strtoull(p, NULL, 10);
}

/* The state letter of /proc/PID/stat (after the command name), or 0. */
static char proc_state(int32_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : 0;
}

int gpx_sim_proc_alive(const struct gpx_sim_proc *p)
{
    int32_t pid = atomic_load(&p->pid);
    if (pid <= 0)
        return 0;
    uint32_t me = gpx_pidns_self();
    if (p->pidns && me && p->pidns != me) /* a container's: what we cannot see counts as alive */
        return gpx_pidns_alive(p->pidns, pid, p->start_ticks) != 0;
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return 0;
    /* A killed process whose parent has not waited yet holds no GPU memory. */
    char state = proc_state(pid);
    if (state == 'Z' || state == 'X')
        return 0;
    uint64_t st = gpx_sim_proc_start_ticks(pid);
    return st == 0 || p->start_ticks == 0 || st == p->start_ticks;
}

int32_t gpx_sim_proc_pid(const struct gpx_sim_proc *p)
{
    int32_t pid = atomic_load(&p->pid);
    uint32_t me = gpx_pidns_self();
    if (pid <= 0 || !p->pidns || !me || p->pidns == me)
        return pid;
    return gpx_pidns_find(p->pidns, pid, p->start_ticks);
}

static void release_slot(struct gpx_sim_gpu *g, struct gpx_sim_proc *p)
{
    uint64_t used = atomic_exchange(&p->used_bytes, 0);
    atomic_fetch_sub(&g->memory_used, used);
    p->contexts = 0;
    p->start_ticks = 0;
    atomic_store(&p->pid, 0);
}

static void reap_locked(struct gpx_sim_gpu *g)
{
    for (uint32_t i = 0; i < GPX_SIM_MAX_PROCS; i++) {
        struct gpx_sim_proc *p = &g->procs[i];
        if (atomic_load(&p->pid) != 0 && !gpx_sim_proc_alive(p))
            release_slot(g, p);
    }
}

void gpx_sim_reap(struct gpx_sim_state *st, uint32_t gpu)
{
    gpx_sim_lock(st);
    reap_locked(&st->gpus[gpu]);
    gpx_sim_unlock(st);
}

struct gpx_sim_proc *gpx_sim_proc_attach(struct gpx_sim_state *st, uint32_t gpu, int32_t pid)
{
    struct gpx_sim_gpu *g = &st->gpus[gpu];
    uint64_t ticks = gpx_sim_proc_start_ticks(pid);
    uint32_t ns = gpx_pidns_self();
    struct gpx_sim_proc *found = NULL, *free_slot = NULL;
    gpx_sim_lock(st);
    reap_locked(g);
    for (uint32_t i = 0; i < GPX_SIM_MAX_PROCS; i++) {
        struct gpx_sim_proc *p = &g->procs[i];
        int32_t cur = atomic_load(&p->pid);
        if (cur == pid && p->start_ticks == ticks && (!p->pidns || p->pidns == ns)) {
            found = p;
            break;
        }
        if (cur == 0 && !free_slot)
            free_slot = p;
    }
    if (!found && free_slot) {
        found = free_slot;
        found->contexts = 0;
        found->start_ticks = ticks;
        found->pidns = ns;
        atomic_store(&found->used_bytes, 0);
        /* a new process: its own engine accounting (a writer that died left the lock) */
        atomic_store(&found->gpu_ns_submitted, 0);
        atomic_store(&found->kernels, 0);
        atomic_store(&found->span_pos, 0);
        atomic_store(&found->span_seq, 0);
        atomic_store(&found->span_lock, 0);
        atomic_store(&found->pid, pid);
    }
    gpx_sim_unlock(st);
    return found;
}

void gpx_sim_proc_account(struct gpx_sim_proc *p, uint64_t s, uint64_t e)
{
    if (!p || e <= s)
        return;
    while (atomic_exchange_explicit(&p->span_lock, 1, memory_order_acquire))
        sched_yield(); /* only this process's threads take it, for a few stores */
    atomic_fetch_add_explicit(&p->span_seq, 1, memory_order_acq_rel);
    uint64_t pos = atomic_load_explicit(&p->span_pos, memory_order_relaxed);
    uint32_t last = (uint32_t)((pos + GPX_SIM_PROC_SPANS - 1) % GPX_SIM_PROC_SPANS);
    if (pos && atomic_load_explicit(&p->spans[last].e, memory_order_relaxed) == s) {
        atomic_store_explicit(&p->spans[last].e, e, memory_order_relaxed); /* back to back */
    } else {
        uint32_t i = (uint32_t)(pos % GPX_SIM_PROC_SPANS);
        atomic_store_explicit(&p->spans[i].s, s, memory_order_relaxed);
        atomic_store_explicit(&p->spans[i].e, e, memory_order_relaxed);
        atomic_store_explicit(&p->span_pos, pos + 1, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&p->gpu_ns_submitted, e - s, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->kernels, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->span_seq, 1, memory_order_release);
    atomic_store_explicit(&p->span_lock, 0, memory_order_release);
}

int gpx_sim_proc_gpu_ns(const struct gpx_sim_proc *p, uint64_t now, uint64_t *ran, uint64_t *queued,
                        uint64_t *kernels)
{
    for (int tries = 0; tries < 10000; tries++) {
        uint32_t seq = atomic_load_explicit(&p->span_seq, memory_order_acquire);
        if (seq & 1) {
            sched_yield();
            continue;
        }
        uint64_t total = atomic_load_explicit(&p->gpu_ns_submitted, memory_order_relaxed);
        uint64_t k = atomic_load_explicit(&p->kernels, memory_order_relaxed);
        uint64_t pos = atomic_load_explicit(&p->span_pos, memory_order_relaxed);
        uint64_t ahead = 0;
        int exact = 1;
        uint32_t n = pos < GPX_SIM_PROC_SPANS ? (uint32_t)pos : GPX_SIM_PROC_SPANS;
        for (uint32_t j = 0; j < n; j++) {
            uint64_t ss = atomic_load_explicit(&p->spans[j].s, memory_order_relaxed);
            uint64_t ee = atomic_load_explicit(&p->spans[j].e, memory_order_relaxed);
            if (ee > now)
                ahead += ee - (ss > now ? ss : now);
        }
        if (pos > GPX_SIM_PROC_SPANS) {
            /* the oldest span kept still ends in the future: older ones may too */
            uint32_t oldest = (uint32_t)(pos % GPX_SIM_PROC_SPANS);
            exact = atomic_load_explicit(&p->spans[oldest].s, memory_order_relaxed) <= now;
        }
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&p->span_seq, memory_order_relaxed) != seq)
            continue;
        if (ahead > total)
            ahead = total;
        *ran = total - ahead;
        *queued = ahead;
        *kernels = k;
        return exact;
    }
    return -1;
}

void gpx_sim_util_add(struct gpx_sim_util_bucket *b, uint64_t start_ns, uint64_t end_ns)
{
    /* Intervals further ahead than the ring covers are credited to its last bucket. */
    uint64_t first = start_ns / GPX_SIM_UTIL_BUCKET_NS;
    for (uint64_t e = first; e < first + GPX_SIM_UTIL_BUCKETS && start_ns < end_ns; e++) {
        uint64_t bucket_end = (e + 1) * GPX_SIM_UTIL_BUCKET_NS;
        uint64_t seg_end = end_ns < bucket_end ? end_ns : bucket_end;
        if (e == first + GPX_SIM_UTIL_BUCKETS - 1)
            seg_end = end_ns;
        struct gpx_sim_util_bucket *k = &b[e % GPX_SIM_UTIL_BUCKETS];
        uint64_t old = atomic_load(&k->epoch);
        if (old != e) {
            /* A newer epoch owns it only if a writer is ahead of us; older data is stale. */
            if (old > e)
                break;
            if (atomic_compare_exchange_strong(&k->epoch, &old, e))
                atomic_store(&k->busy_ns, 0);
        }
        atomic_fetch_add(&k->busy_ns, seg_end - start_ns);
        start_ns = seg_end;
    }
}

unsigned gpx_sim_util_percent(const struct gpx_sim_util_bucket *b, uint64_t now_ns)
{
    uint64_t cur = now_ns / GPX_SIM_UTIL_BUCKET_NS;
    uint64_t busy = 0;
    /* The last GPX_SIM_UTIL_WINDOW_BUCKETS complete buckets plus the elapsed part of this one. */
    uint64_t span = GPX_SIM_UTIL_WINDOW_BUCKETS * GPX_SIM_UTIL_BUCKET_NS;
    for (uint64_t e = cur - GPX_SIM_UTIL_WINDOW_BUCKETS; e <= cur; e++) {
        const struct gpx_sim_util_bucket *k = &b[e % GPX_SIM_UTIL_BUCKETS];
        if (atomic_load(&k->epoch) != e)
            continue;
        uint64_t v = atomic_load(&k->busy_ns);
        if (e == cur) {
            /* only the part of the current bucket that has elapsed counts */
            uint64_t elapsed = now_ns - cur * GPX_SIM_UTIL_BUCKET_NS;
            v = v < elapsed ? v : elapsed;
            span += elapsed;
        }
        busy += v;
    }
    if (span == 0)
        return 0;
    uint64_t pct = busy * 100 / span;
    return pct > 100 ? 100 : (unsigned)pct;
}

uint64_t gpx_sim_engine_submit(struct gpx_sim_state *st, uint32_t gpu, uint64_t ns)
{
    struct gpx_sim_gpu *g = &st->gpus[gpu];
    uint64_t now = gpx_sim_now_ns();
    uint64_t prev = atomic_load(&g->engine_busy_until);
    uint64_t start, end;
    do {
        start = prev > now ? prev : now;
        end = start + ns;
    } while (!atomic_compare_exchange_weak(&g->engine_busy_until, &prev, end));
    atomic_fetch_add(&g->engine_busy_total, ns);
    atomic_fetch_add(&g->kernels_total, 1);
    gpx_sim_util_add(g->util, start, end);
    return end;
}

uint64_t gpx_sim_engine_submit_after(struct gpx_sim_state *st, uint32_t gpu, uint64_t not_before,
                                     uint64_t ns, uint64_t *start_out)
{
    struct gpx_sim_gpu *g = &st->gpus[gpu];
    uint64_t now = gpx_sim_now_ns();
    uint64_t floor = not_before > now ? not_before : now;
    uint64_t prev = atomic_load(&g->engine_busy_until);
    uint64_t start, end;
    do {
        start = prev > floor ? prev : floor;
        end = start + ns;
        /* Empty work changes nothing shared: it only has to come after the queue. */
        if (ns == 0)
            break;
    } while (!atomic_compare_exchange_weak(&g->engine_busy_until, &prev, end));
    if (ns)
        atomic_fetch_add(&g->engine_busy_total, ns);
    atomic_fetch_add(&g->kernels_total, 1);
    if (start_out)
        *start_out = start;
    return end;
}

int gpx_sim_proc_contexts_add(struct gpx_sim_state *st, uint32_t gpu, struct gpx_sim_proc *p,
                              int delta)
{
    struct gpx_sim_gpu *g = &st->gpus[gpu];
    int freed = 0;
    gpx_sim_lock(st);
    int64_t n = (int64_t)p->contexts + delta;
    p->contexts = n > 0 ? (uint32_t)n : 0;
    if (p->contexts == 0 && atomic_load(&p->used_bytes) == 0) {
        release_slot(g, p);
        freed = 1;
    }
    gpx_sim_unlock(st);
    return freed;
}

int gpx_sim_mem_charge(struct gpx_sim_state *st, uint32_t gpu, struct gpx_sim_proc *p,
                       uint64_t bytes)
{
    struct gpx_sim_gpu *g = &st->gpus[gpu];
    uint64_t cap = g->memory_total > g->memory_reserved ? g->memory_total - g->memory_reserved : 0;
    uint64_t cur = atomic_load(&g->memory_used);
    do {
        if (bytes > cap || cur > cap - bytes)
            return -1;
    } while (!atomic_compare_exchange_weak(&g->memory_used, &cur, cur + bytes));
    if (p)
        atomic_fetch_add(&p->used_bytes, bytes);
    return 0;
}

void gpx_sim_mem_uncharge(struct gpx_sim_state *st, uint32_t gpu, struct gpx_sim_proc *p,
                          uint64_t bytes)
{
    struct gpx_sim_gpu *g = &st->gpus[gpu];
    if (p)
        atomic_fetch_sub(&p->used_bytes, bytes);
    atomic_fetch_sub(&g->memory_used, bytes);
}
