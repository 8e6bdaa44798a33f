/*
 * Per-GPU arbiter (see arbiter.h for the model and the invariants).
 *
 * Locking: the robust mutex guards leases[], procs[] and the holder fields at
 * turn boundaries (join, acquire, renew, release, leave). The launch path of
 * the interposer never calls in here: it only reads its own process's
 * "holding" flag and deadline. Waiters sleep on their own futex word (`wake`) with a
 * timeout, so a lost wake-up costs at most GPX_ARB_POLL_NS.
 *
 * Invariants (under the lock):
 * - holder is -1 or a slot with pid != 0 and waiting == 0;
 * - nwaiting == number of slots with waiting == 1;
 * - leases[l].active == waiting slots of l + (holder's lease == l);
 * - leases[l].procs == slots of l; an entry with an id and procs == 0 is a
 *   departed lease whose figures stay readable until its entry is needed.
 */
#define _GNU_SOURCE
#include "shm/arbiter.h"
#include "shm/lease.h"
#include "shm/pidns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

uint64_t gpx_arb_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void futex_wait(_Atomic uint32_t *word, uint32_t seen, uint64_t timeout_ns)
{
    struct timespec ts = {(time_t)(timeout_ns / 1000000000ULL), (long)(timeout_ns % 1000000000ULL)};
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, seen, &ts, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *word)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/*
 * Wakes the process just granted the turn, and it alone: waking every waiter
 * at each hand-over (a thundering herd on a few CPUs, all taking the lock to
 * find the turn is not theirs) delayed the new holder's first launch.
 */
static void wake_granted(struct gpx_arb_proc *p)
{
    atomic_fetch_add(&p->wake, 1);
    futex_wake_all(&p->wake);
}

/*
 * A process died holding the lock, maybe half way through a change: rebuild
 * what is derived (waiting count, per-lease active counts, the holder's
 * validity) from the process slots, which each change writes first.
 */
static void repair_locked(struct gpx_arb *a)
{
    int h = atomic_load(&a->holder);
    if (h >= GPX_ARB_MAX_PROCS || (h >= 0 && (!a->procs[h].pid || a->procs[h].waiting)))
        h = -1;
    atomic_store(&a->holder, h);
    uint32_t waiting = 0;
    for (int l = 0; l < GPX_ARB_MAX_LEASES; l++)
        a->leases[l].active = 0;
    for (int i = 0; i < GPX_ARB_MAX_PROCS; i++) {
        struct gpx_arb_proc *p = &a->procs[i];
        if (!p->pid || p->lease >= GPX_ARB_MAX_LEASES)
            continue;
        if (p->waiting) {
            waiting++;
            a->leases[p->lease].active++;
        } else if (i == h) {
            a->leases[p->lease].active++;
        }
    }
    atomic_store(&a->nwaiting, waiting);
}

static void lock(struct gpx_arb *a)
{
    if (pthread_mutex_lock(&a->lock) == EOWNERDEAD) {
        pthread_mutex_consistent(&a->lock);
        repair_locked(a);
    }
}

static void unlock(struct gpx_arb *a)
{
    pthread_mutex_unlock(&a->lock);
}

/* Threads of `pid` other than its leader: a zombie leader whose threads run is alive. */
static int has_other_threads(int32_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 2)
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
            n++;
    closedir(d);
    return n > 1;
}

/*
 * A process of another pid namespace is judged by a walk of /proc (pidns.c):
 * too dear for every turn boundary, so a verdict "alive" is remembered per
 * proc slot for FOREIGN_RECHECK_NS (a dead holder is then reclaimed that much
 * later, well within its deadline + grace). Process-local; a torn entry can
 * only make a dead process look alive a little longer.
 */
#define FOREIGN_RECHECK_NS 250000000ULL
static struct {
    uint32_t ns;
    int32_t pid;
    uint64_t ticks, at;
} foreign_alive[GPX_ARB_MAX_PROCS];

static int foreign_proc_alive(const struct gpx_arb *a, const struct gpx_arb_proc *p)
{
    size_t i = (size_t)(p - a->procs);
    uint64_t now = gpx_arb_now_ns();
    if (i < GPX_ARB_MAX_PROCS && foreign_alive[i].ns == p->pidns &&
        foreign_alive[i].pid == p->pid && foreign_alive[i].ticks == p->start_ticks &&
        now - foreign_alive[i].at < FOREIGN_RECHECK_NS)
        return 1;
    /* can't tell (a container we cannot look into): alive, as below */
    int alive = gpx_pidns_alive(p->pidns, p->pid, p->start_ticks) != 0;
    if (alive && i < GPX_ARB_MAX_PROCS) {
        foreign_alive[i].ns = p->pidns;
        foreign_alive[i].pid = p->pid;
        foreign_alive[i].ticks = p->start_ticks;
        foreign_alive[i].at = now;
    }
    return alive;
}

/*
 * Dead means: gone (ESRCH), a zombie with no thread left, or the pid now
 * belongs to a later process (start time differs). What cannot be read
 * (hidepid, a container we cannot see into) counts as alive: taking a live
 * process's turn away would be worse than waiting for its deadline + grace.
 * A process of another pid namespace is never judged by its number here
 * (two containers' pid 1 are two processes): see foreign_proc_alive.
 */
static int proc_alive(const struct gpx_arb *a, const struct gpx_arb_proc *p)
{
    if (p->pid <= 0)
        return 0;
    uint32_t me = gpx_pidns_self();
    if (p->pidns && me && p->pidns != me)
        return foreign_proc_alive(a, p);
    if (kill(p->pid, 0) != 0 && errno == ESRCH)
        return 0;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)p->pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 1;
    buf[n] = '\0';
    char *s = strrchr(buf, ')');
    if (!s || s[1] != ' ')
        return 1;
    if (s[2] == 'Z' || s[2] == 'X')
        return has_other_threads(p->pid);
    uint64_t t = gpx_lease_proc_start_ticks(p->pid);
    return t == 0 || p->start_ticks == 0 || t == p->start_ticks;
}

/*
 * The check made on the hand-over path, before a waiter is granted the turn:
 * one kill(0) for a process of our namespace (the full check reads /proc
 * twice: tens of microseconds on a VM, during which the GPU idles). A
 * waiter that died unnoticed (a zombie, a reused pid) is found by the other
 * waiters' poll of the holder (proc_alive) within GPX_ARB_POLL_NS.
 */
static int waiter_alive(const struct gpx_arb *a, const struct gpx_arb_proc *p)
{
    uint32_t me = gpx_pidns_self();
    if (p->pid <= 0)
        return 0;
    if (p->pidns && me && p->pidns != me)
        return foreign_proc_alive(a, p);
    return !(kill(p->pid, 0) != 0 && errno == ESRCH);
}

static void charge(struct gpx_arb *a, struct gpx_arb_lease *l, uint64_t used)
{
    l->vtime += used * 1024 / (l->weight ? l->weight : 1);
    atomic_fetch_add(&l->granted_ns, used);
    if (l->cap_percent)
        l->tokens_ns -= (int64_t)used;
    (void)a;
}

/* Size of a capped lease's bucket: its share of four quanta. */
static int64_t burst(const struct gpx_arb *a, const struct gpx_arb_lease *l)
{
    return (int64_t)(4 * a->quantum_ns * l->cap_percent / 100);
}

/*
 * Time a capped lease needs in its bucket to start a turn: a whole quantum, or
 * the whole bucket when that is smaller. Turns of a capped lease are then
 * long enough that handing the GPU over costs little, and its share over any
 * window of a few quanta stays at its cap.
 */
static int64_t threshold(const struct gpx_arb *a, const struct gpx_arb_lease *l)
{
    int64_t b = burst(a, l);
    return b < (int64_t)a->quantum_ns ? b : (int64_t)a->quantum_ns;
}

static void refill(struct gpx_arb *a, struct gpx_arb_lease *l, uint64_t now)
{
    if (!l->cap_percent)
        return;
    if (now > l->tokens_at_ns) {
        l->tokens_ns += (int64_t)((now - l->tokens_at_ns) * l->cap_percent / 100);
        l->tokens_at_ns = now;
    }
    if (l->tokens_ns > burst(a, l))
        l->tokens_ns = burst(a, l);
}

static int eligible(struct gpx_arb *a, struct gpx_arb_lease *l, uint64_t now)
{
    refill(a, l, now);
    return !l->cap_percent || l->tokens_ns >= threshold(a, l);
}

static uint64_t deadline_for(struct gpx_arb *a, struct gpx_arb_lease *l, uint64_t now)
{
    uint64_t q = a->quantum_ns;
    if (l->cap_percent && (uint64_t)l->tokens_ns < q)
        q = (uint64_t)l->tokens_ns;
    return now + q;
}

static void bump(struct gpx_arb *a)
{
    atomic_fetch_add(&a->seq, 1);
    futex_wake_all(&a->seq);
}

/* The smallest virtual time among active leases other than `skip`; UINT64_MAX if none. */
static uint64_t min_active_vtime(const struct gpx_arb *a, int skip)
{
    uint64_t m = UINT64_MAX;
    for (int i = 0; i < GPX_ARB_MAX_LEASES; i++)
        if (i != skip && a->leases[i].id[0] && a->leases[i].active && a->leases[i].vtime < m)
            m = a->leases[i].vtime;
    return m;
}

/*
 * The virtual time a lease starts from when it joins or wakes from idle: the
 * smallest among the active leases; when none is active, the largest any
 * known lease reached (where the arbiter's virtual clock stood when the GPU
 * went idle). Starting a lease at 0 instead would let it take the GPU from a
 * lease that idled meanwhile, for as long as that lease had run before;
 * starting it below the active ones would bank it credit. 0 when no lease is
 * known.
 */
static uint64_t start_vtime(const struct gpx_arb *a, int skip)
{
    uint64_t m = min_active_vtime(a, skip);
    if (m != UINT64_MAX)
        return m;
    int any = 0;
    for (int i = 0; i < GPX_ARB_MAX_LEASES; i++) {
        const struct gpx_arb_lease *l = &a->leases[i];
        /* differences, not values, compare (virtual times may wrap) */
        if (i != skip && l->id[0] && (!any || (int64_t)(l->vtime - m) > 0)) {
            m = l->vtime;
            any = 1;
        }
    }
    return any ? m : 0;
}

/* Virtual-time differences this small are treated as equal (see select_locked). */
static uint64_t tolerance(const struct gpx_arb *a)
{
    return a->quantum_ns * 1024 / 4;
}

static void remove_proc_locked(struct gpx_arb *a, int i, uint64_t now);

/* Gives the turn to the best eligible waiter, or leaves it free. */
static void select_locked(struct gpx_arb *a, uint64_t now)
{
    int best = -1;
    for (int i = 0; i < GPX_ARB_MAX_PROCS; i++) {
        struct gpx_arb_proc *p = &a->procs[i];
        if (!p->pid || !p->waiting)
            continue;
        struct gpx_arb_lease *l = &a->leases[p->lease];
        if (!eligible(a, l, now))
            continue;
        if (best < 0) {
            best = i;
            continue;
        }
        struct gpx_arb_proc *b = &a->procs[best];
        uint64_t lv = l->vtime, bv = a->leases[b->lease].vtime;
        /* Differences, not values, compare (virtual times may wrap after months). */
        int64_t d = (int64_t)(lv - bv);
        uint64_t diff = d < 0 ? (uint64_t)-d : (uint64_t)d;
        /* Lags within a quarter quantum are noise (drain overruns): serve them FIFO,
         * which bounds every waiter's wait to one turn of each other lease. */
        if (diff <= tolerance(a) ? p->wait_since_ns < b->wait_since_ns : d < 0)
            best = i;
    }
    if (best >= 0) {
        struct gpx_arb_proc *p = &a->procs[best];
        if (!waiter_alive(a, p)) { /* a waiter that died waiting: drop it, choose again */
            remove_proc_locked(a, best, now);
            select_locked(a, now);
            return;
        }
        struct gpx_arb_lease *l = &a->leases[p->lease];
        p->waiting = 0;
        atomic_fetch_sub(&a->nwaiting, 1);
        atomic_fetch_add(&l->wait_ns, now - p->wait_since_ns);
        atomic_fetch_add(&l->turns, 1);
        atomic_store(&a->holder_since_ns, now);
        atomic_store(&a->holder_deadline_ns, deadline_for(a, l, now));
        atomic_store(&a->holder, best);
        wake_granted(p);
    } else {
        atomic_store(&a->holder, -1);
    }
    bump(a);
}

/* Ends the current holder's turn, charging it up to `now`. */
static uint64_t end_turn_locked(struct gpx_arb *a, uint64_t now)
{
    int h = atomic_load(&a->holder);
    if (h < 0)
        return 0;
    struct gpx_arb_lease *l = &a->leases[a->procs[h].lease];
    uint64_t since = atomic_load(&a->holder_since_ns);
    /* A holder found dead or hung long after its deadline is charged up to its deadline
     * + grace only: the time it lay dead was nobody's. */
    uint64_t limit = atomic_load(&a->holder_deadline_ns) + a->grace_ns;
    uint64_t end = now < limit ? now : limit;
    uint64_t used = end > since ? end - since : 0;
    charge(a, l, used);
    l->active--;
    atomic_store(&a->holder, -1);
    return used;
}

static void remove_proc_locked(struct gpx_arb *a, int i, uint64_t now)
{
    struct gpx_arb_proc *p = &a->procs[i];
    struct gpx_arb_lease *l = &a->leases[p->lease];
    if (atomic_load(&a->holder) == i)
        end_turn_locked(a, now);
    if (p->waiting) {
        p->waiting = 0;
        atomic_fetch_sub(&a->nwaiting, 1);
        l->active--;
    }
    if (l->procs > 0)
        l->procs--; /* an entry without processes keeps its figures until its slot is needed */
    memset(p, 0, sizeof *p);
}

/* Removes dead processes; returns 1 if the holder was among them. */
static int reap_locked(struct gpx_arb *a, uint64_t now)
{
    int holder_gone = 0;
    for (int i = 0; i < GPX_ARB_MAX_PROCS; i++) {
        if (a->procs[i].pid && !proc_alive(a, &a->procs[i])) {
            if (atomic_load(&a->holder) == i)
                holder_gone = 1;
            remove_proc_locked(a, i, now);
        }
    }
    return holder_gone;
}

static void read_boot_id(char out[40])
{
    memset(out, 0, 40);
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, out, 36);
    (void)n;
    close(fd);
}

/* Stored after the struct in the file: the boot the mutex and pids belong to. */
struct arb_file_tail {
    char boot_id[40];
};

static size_t file_size(void)
{
    return sizeof(struct gpx_arb) + sizeof(struct arb_file_tail);
}

static int init_arb(struct gpx_arb *a, uint64_t quantum_ns, const char *boot)
{
    memset(a, 0, file_size());
    a->magic = GPX_ARB_MAGIC;
    a->version = GPX_ARB_VERSION;
    a->size = (uint32_t)sizeof *a;
    a->quantum_ns = quantum_ns ? quantum_ns : GPX_ARB_DEFAULT_QUANTUM_NS;
    a->grace_ns = GPX_ARB_DEFAULT_GRACE_NS;
    atomic_store(&a->holder, -1);
    pthread_mutexattr_t at;
    pthread_mutexattr_init(&at);
    pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
    int rc = pthread_mutex_init(&a->lock, &at);
    pthread_mutexattr_destroy(&at);
    struct arb_file_tail *t = (struct arb_file_tail *)(a + 1);
    memcpy(t->boot_id, boot, sizeof t->boot_id);
    return rc;
}

int gpx_arb_path(const char *run_dir, const char *gpu_uuid, char *out, size_t len, gpx_error *err)
{
    for (const char *c = gpu_uuid; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_'))
            return gpx_error_set(err, GPX_E_INVALID, "bad GPU UUID '%s'", gpu_uuid);
    char dir[4096];
    if (mkdir(run_dir, 0755) != 0 && errno != EEXIST)
        return gpx_error_errno(err, GPX_E_IO, errno, "creating '%s'", run_dir);
    snprintf(dir, sizeof dir, "%s/arbiter", run_dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return gpx_error_errno(err, GPX_E_IO, errno, "creating '%s'", dir);
    chmod(dir, 0755);
    if ((size_t)snprintf(out, len, "%s/%s.arb", dir, gpu_uuid) >= len)
        return gpx_error_set(err, GPX_E_INVALID, "arbiter path too long");
    return 0;
}

int gpx_arb_open(const char *path, uint64_t quantum_ns, struct gpx_arb **out, gpx_error *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return gpx_error_errno(err, GPX_E_IO, errno, "opening arbiter '%s'", path);
    fchmod(fd, 0666); /* every tenant's processes on this GPU join it */
    while (flock(fd, LOCK_EX) != 0 && errno == EINTR)
        ;
    struct stat sb;
    int rc = fstat(fd, &sb);
    size_t size = file_size();
    int fresh = rc != 0 || (size_t)sb.st_size != size;
    if (fresh && ftruncate(fd, 0) == 0 && ftruncate(fd, (off_t)size) != 0) {
        int e = errno;
        flock(fd, LOCK_UN);
        close(fd);
        return gpx_error_errno(err, GPX_E_IO, e, "sizing arbiter '%s'", path);
    }
    struct gpx_arb *a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (a == MAP_FAILED) {
        int e = errno;
        flock(fd, LOCK_UN);
        close(fd);
        return gpx_error_errno(err, GPX_E_IO, e, "mapping arbiter '%s'", path);
    }
    char boot[40];
    read_boot_id(boot);
    const struct arb_file_tail *t = (const struct arb_file_tail *)(a + 1);
    /* Stale or foreign state (other version, other boot: its mutex and pids mean nothing). */
    if (fresh || a->magic != GPX_ARB_MAGIC || a->version != GPX_ARB_VERSION ||
        a->size != sizeof *a || memcmp(t->boot_id, boot, sizeof boot) != 0)
        init_arb(a, quantum_ns, boot);
    else if (quantum_ns)
        a->quantum_ns = quantum_ns;
    flock(fd, LOCK_UN);
    close(fd);
    *out = a;
    return 0;
}

void gpx_arb_close(struct gpx_arb *arb)
{
    if (arb)
        munmap(arb, file_size());
}

int gpx_arb_join(struct gpx_arb *a, const char *lease_id, uint32_t weight, uint32_t cap_percent,
                 int32_t pid, struct gpx_arb_handle *h, gpx_error *err)
{
    if (!lease_id[0] || strlen(lease_id) >= GPX_ARB_ID_MAX)
        return gpx_error_set(err, GPX_E_INVALID, "bad lease id for the arbiter");
    if (cap_percent > 100)
        return gpx_error_set(err, GPX_E_INVALID, "cap %u%% is over 100%%", cap_percent);
    memset(h, 0, sizeof *h);
    h->arb = a;
    h->slot = -1;
    uint64_t now = gpx_arb_now_ns();
    lock(a);
    if (reap_locked(a, now))
        select_locked(a, now);
    int li = -1, free_l = -1, idle_l = -1;
    for (int i = 0; i < GPX_ARB_MAX_LEASES; i++) {
        if (a->leases[i].id[0] && strcmp(a->leases[i].id, lease_id) == 0) {
            li = i;
            break;
        }
        if (!a->leases[i].id[0] && free_l < 0)
            free_l = i;
        if (a->leases[i].id[0] && !a->leases[i].procs && !a->leases[i].active && idle_l < 0)
            idle_l = i; /* a departed lease's figures: reused when nothing is free */
    }
    if (free_l < 0)
        free_l = idle_l;
    int pi = -1;
    for (int i = 0; i < GPX_ARB_MAX_PROCS && pi < 0; i++)
        if (!a->procs[i].pid)
            pi = i;
    if ((li < 0 && free_l < 0) || pi < 0) {
        unlock(a);
        return gpx_error_set(err, GPX_E_NO_SPACE,
                             "the GPU's arbiter is full (%d leases, %d processes)",
                             GPX_ARB_MAX_LEASES, GPX_ARB_MAX_PROCS);
    }
    if (li < 0) {
        li = free_l;
        struct gpx_arb_lease *l = &a->leases[li];
        memset(l, 0, sizeof *l);
        snprintf(l->id, sizeof l->id, "%s", lease_id);
        l->weight = weight ? weight : 1;
        l->cap_percent = cap_percent;
        l->vtime = start_vtime(a, li);
        l->tokens_ns = burst(a, l);
        l->tokens_at_ns = now;
    }
    a->leases[li].procs++;
    struct gpx_arb_proc *p = &a->procs[pi];
    memset(p, 0, sizeof *p);
    p->pid = pid;
    p->lease = (uint32_t)li;
    p->start_ticks = gpx_lease_proc_start_ticks(pid);
    p->pidns = gpx_pidns_self();
    unlock(a);
    h->slot = pi;
    return 0;
}

void gpx_arb_leave(struct gpx_arb_handle *h)
{
    if (!h->arb || h->slot < 0)
        return;
    struct gpx_arb *a = h->arb;
    uint64_t now = gpx_arb_now_ns();
    lock(a);
    int was_holder = atomic_load(&a->holder) == h->slot;
    remove_proc_locked(a, h->slot, now);
    if (was_holder)
        select_locked(a, now);
    unlock(a);
    h->slot = -1;
}

/* How long a waiter may sleep before it must look at the holder again. */
static uint64_t wait_timeout(struct gpx_arb *a, uint64_t now)
{
    uint64_t t = GPX_ARB_POLL_NS;
    int h = atomic_load(&a->holder);
    if (h >= 0) {
        uint64_t limit = atomic_load(&a->holder_deadline_ns) + a->grace_ns;
        if (limit > now && limit - now < t)
            t = limit - now + 100000;
        return t;
    }
    /* Free GPU, waiters all capped out: sleep until the first bucket has tokens. */
    for (int i = 0; i < GPX_ARB_MAX_PROCS; i++) {
        struct gpx_arb_proc *p = &a->procs[i];
        if (!p->pid || !p->waiting)
            continue;
        struct gpx_arb_lease *l = &a->leases[p->lease];
        if (l->cap_percent && l->tokens_ns < threshold(a, l)) {
            uint64_t need = (uint64_t)(threshold(a, l) - l->tokens_ns) * 100 / l->cap_percent + 1;
            if (need < t)
                t = need;
        }
    }
    return t;
}

uint64_t gpx_arb_acquire(struct gpx_arb_handle *h)
{
    if (!h->arb || h->slot < 0)
        return 0;
    struct gpx_arb *a = h->arb;
    uint64_t now = gpx_arb_now_ns();
    uint64_t start = now;
    lock(a);
    struct gpx_arb_proc *me = &a->procs[h->slot];
    if (atomic_load(&a->holder) == h->slot) {
        uint64_t d = atomic_load(&a->holder_deadline_ns);
        unlock(a);
        return d;
    }
    struct gpx_arb_lease *l = &a->leases[me->lease];
    me->hung = 0;
    me->waiting = 1;
    me->wait_since_ns = now;
    atomic_fetch_add(&a->nwaiting, 1);
    if (l->active++ == 0) {
        /* waking from idle: no banked credit, and no debt to a lease that joined meanwhile */
        uint64_t m = start_vtime(a, (int)me->lease);
        if ((int64_t)(m - l->vtime) > 0)
            l->vtime = m;
    }
    if (atomic_load(&a->holder) < 0)
        select_locked(a, now);
    for (;;) {
        int holder = atomic_load(&a->holder);
        if (holder == h->slot)
            break;
        uint32_t seen = atomic_load(&me->wake);
        uint64_t timeout = wait_timeout(a, now);
        unlock(a);
        futex_wait(&me->wake, seen, timeout);
        lock(a);
        now = gpx_arb_now_ns();
        holder = atomic_load(&a->holder);
        if (holder == h->slot)
            break;
        if (!me->waiting) { /* a selector died between taking us off the queue and granting */
            me->waiting = 1;
            atomic_fetch_add(&a->nwaiting, 1);
            a->leases[me->lease].active++;
        }
        if (holder < 0) {
            select_locked(a, now);
        } else if (!proc_alive(a, &a->procs[holder])) {
            remove_proc_locked(a, holder, now); /* crashed holder: reclaim its turn */
            select_locked(a, now);
        } else if (now > atomic_load(&a->holder_deadline_ns) + a->grace_ns) {
            /* hung holder: its drain never finished; skip it */
            struct gpx_arb_proc *hp = &a->procs[holder];
            hp->hung = 1;
            atomic_fetch_add(&a->leases[hp->lease].hangs, 1);
            end_turn_locked(a, now);
            select_locked(a, now);
        }
    }
    uint64_t d = atomic_load(&a->holder_deadline_ns);
    h->turn_start_ns = atomic_load(&a->holder_since_ns);
    h->wait_ns_last = h->turn_start_ns > start ? h->turn_start_ns - start : 0;
    unlock(a);
    return d;
}

uint64_t gpx_arb_renew_or_release(struct gpx_arb_handle *h)
{
    if (!h->arb || h->slot < 0)
        return 0;
    struct gpx_arb *a = h->arb;
    uint64_t now = gpx_arb_now_ns();
    h->charged_ns_last = 0;
    lock(a);
    if (atomic_load(&a->holder) != h->slot) {
        unlock(a);
        return 0;
    }
    struct gpx_arb_proc *me = &a->procs[h->slot];
    struct gpx_arb_lease *l = &a->leases[me->lease];
    uint64_t since = atomic_load(&a->holder_since_ns);
    h->charged_ns_last = now > since ? now - since : 0;
    charge(a, l, h->charged_ns_last);
    atomic_store(&a->holder_since_ns, now);
    /* Continue unless a waiter's lease is owed the GPU (virtual time not ahead of ours). */
    int yield = l->cap_percent && !eligible(a, l, now);
    for (int i = 0; i < GPX_ARB_MAX_PROCS && !yield; i++) {
        struct gpx_arb_proc *p = &a->procs[i];
        if (p->pid && p->waiting && eligible(a, &a->leases[p->lease], now) &&
            (int64_t)(a->leases[p->lease].vtime - l->vtime) <= (int64_t)tolerance(a))
            yield = 1;
    }
    if (yield) {
        l->active--;
        atomic_store(&a->holder, -1);
        select_locked(a, now);
        unlock(a);
        return 0;
    }
    uint64_t d = deadline_for(a, l, now);
    atomic_store(&a->holder_deadline_ns, d);
    unlock(a);
    return d;
}

uint64_t gpx_arb_renew_if_alone(struct gpx_arb_handle *h)
{
    if (!h->arb || h->slot < 0 || atomic_load(&h->arb->nwaiting) > 0)
        return 0;
    struct gpx_arb *a = h->arb;
    uint64_t now = gpx_arb_now_ns(), d = 0;
    h->charged_ns_last = 0;
    lock(a);
    struct gpx_arb_lease *l = &a->leases[a->procs[h->slot].lease];
    if (atomic_load(&a->holder) == h->slot && atomic_load(&a->nwaiting) == 0 && !l->cap_percent) {
        uint64_t since = atomic_load(&a->holder_since_ns);
        h->charged_ns_last = now > since ? now - since : 0;
        charge(a, l, h->charged_ns_last);
        atomic_store(&a->holder_since_ns, now);
        d = deadline_for(a, l, now);
        atomic_store(&a->holder_deadline_ns, d);
    }
    unlock(a);
    return d;
}

void gpx_arb_release(struct gpx_arb_handle *h)
{
    struct gpx_arb *a = h->arb;
    if (!a || h->slot < 0)
        return;
    uint64_t now = gpx_arb_now_ns();
    h->charged_ns_last = 0;
    lock(a);
    if (atomic_load(&a->holder) == h->slot) {
        h->charged_ns_last = end_turn_locked(a, now);
        select_locked(a, now);
    }
    unlock(a);
}

int gpx_arb_holding(const struct gpx_arb_handle *h)
{
    return h->arb && h->slot >= 0 && atomic_load(&h->arb->holder) == h->slot;
}

int gpx_arb_contended(const struct gpx_arb_handle *h)
{
    return atomic_load(&h->arb->nwaiting) > 0;
}

void gpx_arb_count_drain(struct gpx_arb_handle *h)
{
    if (h->arb && h->slot >= 0)
        atomic_fetch_add(&h->arb->leases[h->arb->procs[h->slot].lease].drains, 1);
}

int gpx_arb_stats(struct gpx_arb *a, const char *lease_id, struct gpx_arb_stats *out)
{
    int rc = -1;
    lock(a);
    for (int i = 0; i < GPX_ARB_MAX_LEASES; i++) {
        struct gpx_arb_lease *l = &a->leases[i];
        if (!l->id[0] || strcmp(l->id, lease_id) != 0)
            continue;
        out->granted_ns = atomic_load(&l->granted_ns);
        out->wait_ns = atomic_load(&l->wait_ns);
        out->turns = atomic_load(&l->turns);
        out->drains = atomic_load(&l->drains);
        out->hangs = atomic_load(&l->hangs);
        out->weight = l->weight;
        out->cap_percent = l->cap_percent;
        out->procs = l->procs;
        rc = 0;
        break;
    }
    unlock(a);
    return rc;
}
