/*
 * Lease regions: the shared memory through which a lease's limits reach the
 * interposer in every process of the lease, and through which those
 * processes account device memory together. No daemon round trip, ever.
 *
 * A region is two files under <run_dir>/leases/ (0711: nobody else lists the
 * ids), fenced for the lease's uid (limits->uid):
 *   <id>.limits  written once by the lease's creator, mode 0400 (the engine
 *                adds a POSIX ACL letting the lease's uid read it), mapped
 *                PROT_READ by workloads: the quota, weight and cap can only
 *                be read by a tenant (mprotect to write fails: the file is
 *                opened O_RDONLY; a non-root tenant cannot open it for write).
 *   <id>.usage   the shared accounting, mode 0600 owned by the lease's uid,
 *                mapped read-write by every process of the lease: atomics
 *                only, no lock a dead process could keep.
 * Both carry the same random nonce so a usage file can't be paired with the
 * limits of another lease.
 *
 * Invariants:
 * - usage->used == sum of procs[].used of live slots (+ slots not yet reaped):
 *   the bytes charged to the lease, i.e. allocated + the slots' credits.
 *   What is allocated is gpx_lease_used() (used minus the credits); every
 *   reader of a lease's or a process's usage goes through it.
 * - reserve() never lets used exceed limits->memory_quota (CAS loop: a check
 *   and an add are one atomic step; concurrent reservers cannot overshoot).
 * - A pid slot holds pid > 0 (a process), 0 (free) or -(reaper pid) while a
 *   reaper returns a dead process's bytes; a slot left so by a dead reaper is
 *   finished by the next one.
 * - A slot whose process died is reaped (its bytes returned) by the next
 *   reserve that would fail (unless a reap ran < 1 ms before), by any
 *   reserve past a thread's credit cell at most once a second (looked at
 *   every 64th gpx_lease_reserve call), and by gpx_lease_reap() (the
 *   watchdog / daemon). A zombie counts as dead; a reused pid is told apart
 *   by its start time.
 * - A slot names its process as (pidns, pid, start_ticks), all as the
 *   process sees itself (shm/pidns.h). A reaper that cannot see a slot's
 *   namespace (a process in another container) leaves the slot alone; one
 *   that sees every namespace (the daemon, the CLI, anything on the host)
 *   reaps it when no process there has that identity.
 */
#ifndef GPX_SHM_LEASE_H
#define GPX_SHM_LEASE_H

#include "gpuplex/error.h"

#include <stdatomic.h>
#include <stdint.h>

#define GPX_LEASE_ID_MAX       64
#define GPX_LEASE_MAX_PROCS    256
#define GPX_LEASE_MAGIC_LIMITS 0x54494d4c58504750ULL /* "PGPXLMIT" little-endian */
#define GPX_LEASE_MAGIC_USAGE  0x45475355585047ULL   /* "GPXUSGE" little-endian */
/* 3: a slot grew to a cache line of its own and gained `credit` (the allocation fast path) */
/* 4: a slot gained per-thread credit cells (the fast path without an atomic read-modify-write) */
#define GPX_LEASE_VERSION      4U
#define GPX_LEASE_CELLS        8
#define GPX_LEASE_TURN_RING    256

enum gpx_lease_mode {
    GPX_MODE_EXCLUSIVE = 0,
    GPX_MODE_MIG = 1,
    GPX_MODE_VGPU = 2,
    GPX_MODE_TIMESLICE = 3,
};
/* "exclusive", "mig", "vgpu", "timeslice"; -1 if unknown. */
int gpx_lease_mode_parse(const char *s);
const char *gpx_lease_mode_name(enum gpx_lease_mode m);

struct gpx_lease_limits {
    uint64_t magic;
    uint32_t version;
    uint32_t size; /* sizeof(struct gpx_lease_limits) */
    uint64_t nonce;
    char id[GPX_LEASE_ID_MAX];
    uint32_t mode; /* enum gpx_lease_mode */
    uint32_t gpu_index;
    char gpu_uuid[96];
    uint64_t memory_quota; /* bytes of device memory; 0 = no quota */
    uint32_t weight;       /* timeslice weight, >= 1 */
    uint32_t cap_percent;  /* vgpu compute cap, 0 = none */
    uint32_t uid;          /* the tenant's uid */
    uint32_t reserved0;
    uint64_t created_ns; /* CLOCK_REALTIME */
    /*
     * A mig lease's MIG instance as NVML numbers it (nvmlProcessInfo_t's
     * gpuInstanceId, computeInstanceId), valid with GPX_LIMITS_MIG_INSTANCE:
     * the watchdog counts only the tenant's processes in it. Carved out of
     * reserved bytes (zero in regions written before, so the flag is clear
     * there): the size and version stay, and every region still opens.
     */
    uint32_t flags;
    uint32_t mig_gi;
    uint32_t mig_ci;
    uint32_t reserved1;
    uint8_t reserved[240];
};
#define GPX_LIMITS_MIG_INSTANCE 0x1U /* flags: mig_gi and mig_ci are set */

/*
 * A thread's credit cell (lease.c, "Cells"): freed bytes one thread of the
 * slot's process keeps for its next allocations, part of the slot's `credit`
 * total in every reader's eyes (gpx_lease_used). Only its owner thread writes
 * `credit` with plain stores, between raising `busy` and lowering it, and only
 * while `steal` is 0; anyone else takes it with an exchange after raising
 * `steal`, a membarrier, and seeing `busy` low.
 */
struct gpx_lease_cell {
    _Alignas(64) _Atomic uint64_t credit;
    _Atomic uint32_t busy;  /* the owner is between its look at `steal` and its last store */
    _Atomic uint32_t steal; /* reclaimers at work on it */
    _Atomic uint32_t owned; /* a thread of the slot's process has it */
};

struct gpx_lease_proc {
    _Alignas(64) _Atomic int32_t pid; /* 0: free; in namespace pidns (see shm/pidns.h) */
    /*
     * The inode of the process's pid namespace (a container's processes have
     * other pids inside than on the host); 0 in slots written before: the
     * reader's own namespace. Was padding: the layout and version stay.
     */
    _Atomic uint32_t pidns;
    _Atomic uint64_t start_ticks; /* /proc/PID/stat starttime: tells pid reuse apart */
    _Atomic uint64_t used;        /* bytes charged to this process: allocated + credit */
    _Atomic uint64_t peak;        /* the most it had allocated (at a charge; see lease.c) */
    /*
     * Bytes the process freed but still holds against the lease (part of
     * `used`, and of usage->used): its next allocations take them back
     * with one atomic on this line, without touching the shared total.
     * Any reserve that would be refused takes every slot's credit back
     * first (lease.c, "Credits"). Readers of what is allocated use
     * gpx_lease_used() / gpx_lease_slot_used(), never `used` itself.
     */
    _Atomic uint64_t credit;
    struct gpx_lease_cell cells[GPX_LEASE_CELLS]; /* per thread; the rest use `credit` */
};

struct gpx_lease_usage {
    uint64_t magic;
    uint32_t version;
    uint32_t size; /* sizeof(struct gpx_lease_usage) */
    uint64_t nonce;
    _Atomic uint64_t used; /* bytes held by all processes of the lease */
    _Atomic uint64_t peak;
    _Atomic uint64_t refused; /* allocations refused for the quota */
    _Atomic uint64_t last_reap_ns;
    /* arbiter figures (the time-slicing issue fills these) */
    _Atomic uint64_t gpu_ns_granted;
    _Atomic uint64_t wait_ns;
    _Atomic uint64_t turns;
    _Atomic uint64_t drains;
    /* turns by how long they waited: bucket i counts waits below 2^i microseconds */
    _Atomic uint64_t wait_hist[24];
    /*
     * The last GPX_LEASE_TURN_RING turns: (grant time in CLOCK_MONOTONIC ms,
     * low 32 bits) << 32 | wait in microseconds (saturated). Written at
     * turn_ring_pos++ % GPX_LEASE_TURN_RING; for benchmarks and monitors.
     */
    _Atomic uint64_t turn_ring[GPX_LEASE_TURN_RING];
    _Atomic uint32_t turn_ring_pos;
    /*
     * 1 + the highest slot index ever attached (a hint, raised only): the
     * credits are summed and taken back over procs[0, slots_hi) only, which
     * keeps a new peak and a near-quota reserve cheap with few processes. A
     * tenant that writes it lower only hides its own credits (its lease
     * reads fuller and refuses earlier, never later).
     */
    _Atomic uint32_t slots_hi;
    struct gpx_lease_proc procs[GPX_LEASE_MAX_PROCS];
};

struct gpx_lease_region {
    const struct gpx_lease_limits *limits; /* PROT_READ */
    struct gpx_lease_usage *usage;         /* PROT_READ|PROT_WRITE */
};

/* GPUPLEX_RUN_DIR, else /run/gpuplex when writable, else /tmp/gpuplex-<uid>. */
const char *gpx_run_dir(void);

/* A new random lease id ("l-" + 12 hex digits). */
void gpx_lease_new_id(char out[GPX_LEASE_ID_MAX]);
/*
 * 1 if `id` may name a lease: 1..63 characters of [a-zA-Z0-9._-], not starting
 * with '.', no "..". Every id that comes from outside is checked with it (the
 * region functions check it too).
 */
int gpx_lease_id_valid(const char *id);

/*
 * Opens <run_dir>/leases as an O_DIRECTORY descriptor (caller closes it);
 * with `create`, makes it first (mode 0755, parents too) and refuses one owned
 * by another uid than ours or root's. Absent without `create`: NOT_FOUND.
 * (`gpuplex lease create` flocks it to serialize admission.)
 */
int gpx_lease_dir_open(const char *run_dir, int create, gpx_error *err);
/*
 * Creates both files (limits first, atomically by rename). Fails if the id
 * exists, and with GPX_E_PERM if lim->uid is not ours and we are not root.
 */
int gpx_lease_region_create(const char *run_dir, const struct gpx_lease_limits *lim,
                            gpx_error *err);
/* Maps an existing region; validates magic, version, sizes and the nonce pairing. */
int gpx_lease_region_open(const char *run_dir, const char *id, struct gpx_lease_region *r,
                          gpx_error *err);
void gpx_lease_region_close(struct gpx_lease_region *r);
/* Removes both files (mapped processes keep their mappings until they exit). */
int gpx_lease_region_remove(const char *run_dir, const char *id, gpx_error *err);
/* Calls fn for every lease id under run_dir; stops when fn returns non-zero. */
int gpx_lease_region_list(const char *run_dir, int (*fn)(const char *id, void *arg), void *arg,
                          gpx_error *err);

/*
 * Finds or takes the slot of `pid`, a process of our own pid namespace (in
 * practice getpid()); NULL when all slots are held by live processes.
 */
struct gpx_lease_proc *gpx_lease_attach(struct gpx_lease_region *r, int32_t pid);
/*
 * Atomically reserves `bytes` against the quota: 0 on success, -1 if it would
 * pass it (counted in usage->refused). Takes the bytes from slot->credit when
 * it holds enough (one atomic on the slot); else charges the lease, and
 * before refusing takes every slot's credit back (lease.c, "Credits"). `slot` may be NULL (then the
 * bytes are the lease's but no process's, and no reap returns them). Lock-free, no allocation;
 * errno is preserved. No syscall and no clock read on the common path (tests/unit/test_lease.c,
 * test_reserve_no_syscall): one reserve in 64 of the process reads the clock (vDSO) to see whether
 * the periodic reap is due; /proc reads only in a reap: at most once a second per lease, and when
 * the reserve would fail (unless another reap started in the last 1 ms, which bounds the cost of a
 * storm of refusals).
 */
int gpx_lease_reserve(struct gpx_lease_region *r, struct gpx_lease_proc *slot, uint64_t bytes);
/*
 * Gives `bytes` back: into slot->credit (still charged to the lease, for
 * this process's next reserves; above 32 MiB the excess goes back to the
 * lease), or to the lease when slot is NULL. Never below zero (a double
 * release is clamped, not wrapped).
 */
void gpx_lease_unaccount(struct gpx_lease_region *r, struct gpx_lease_proc *slot, uint64_t bytes);
/*
 * Per-thread credit cells (lease.c, "Cells"). A process may use them only
 * once gpx_lease_cells_register() returned 0 (the membarrier its reclaimers
 * rely on reaches it); a thread claims one with gpx_lease_cell_claim() (NULL:
 * none free, use the slot) and hands it back, with its credit, with
 * gpx_lease_cell_drop(). The owner's take and give are inline below: plain
 * loads and stores, no atomic read-modify-write.
 */
int gpx_lease_cells_register(void);
struct gpx_lease_cell *gpx_lease_cell_claim(struct gpx_lease_proc *slot);
void gpx_lease_cell_drop(struct gpx_lease_region *r, struct gpx_lease_proc *slot,
                         struct gpx_lease_cell *c);
/*
 * What the owner gives back when its cell refused it (full, or a double release): into the
 * slot's credit, which is then trimmed to what the slot's charge backs less the cells' credit.
 */
void gpx_lease_cell_unaccount(struct gpx_lease_region *r, struct gpx_lease_proc *slot,
                              struct gpx_lease_cell *c, uint64_t bytes);
/* A cell's `steal` with this bit set stays off its owner's fast path for good (see lease.c). */
#define GPX_LEASE_STEAL_OFF (1U << 30)
/* Moves the cell's credit into the slot's (the owner, before it charges the lease). */
void gpx_lease_cell_flush(struct gpx_lease_region *r, struct gpx_lease_proc *slot,
                          struct gpx_lease_cell *c);
#define GPX_LEASE_CELL_KEEP (32ULL << 20) /* the most credit a cell holds */

/* The owner opens and closes its cell around a plain read-modify-write (see lease.c, "Cells"). */
static inline int gpx_lease_cell_open(struct gpx_lease_cell *c)
{
    atomic_store_explicit(&c->busy, 1, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst); /* the compiler keeps the store before the load */
    /* acquire: a reclaimer's exchange of `credit` is seen once its lowered `steal` is (arm64 could
     * read `credit` before `steal` otherwise, and spend credit that was taken) */
    return atomic_load_explicit(&c->steal, memory_order_acquire) == 0;
}

static inline void gpx_lease_cell_close(struct gpx_lease_cell *c)
{
    atomic_store_explicit(&c->busy, 0, memory_order_release);
}

/* The owner takes `bytes` from its cell: 1 when it held enough. */
static inline int gpx_lease_cell_take(struct gpx_lease_cell *c, uint64_t bytes)
{
    int ok = 0;
    if (gpx_lease_cell_open(c)) {
        uint64_t v = atomic_load_explicit(&c->credit, memory_order_relaxed);
        if (v >= bytes) {
            atomic_store_explicit(&c->credit, v - bytes, memory_order_relaxed);
            ok = 1;
        }
    }
    gpx_lease_cell_close(c);
    return ok;
}

/*
 * The owner gives `bytes` back into its cell: 1 when kept there (up to GPX_LEASE_CELL_KEEP, and
 * never more, with the slot's own credit, than the slot was charged: a double release); 0: the
 * caller uses gpx_lease_cell_unaccount.
 */
static inline int gpx_lease_cell_give(struct gpx_lease_cell *c, const struct gpx_lease_proc *s,
                                      uint64_t bytes)
{
    int ok = 0;
    if (gpx_lease_cell_open(c)) {
        uint64_t v = atomic_load_explicit(&c->credit, memory_order_relaxed) + bytes;
        if (v >= bytes && v <= GPX_LEASE_CELL_KEEP &&
            v + atomic_load_explicit(&s->credit, memory_order_relaxed) <=
                atomic_load_explicit(&s->used, memory_order_relaxed)) {
            atomic_store_explicit(&c->credit, v, memory_order_relaxed);
            ok = 1;
        }
    }
    gpx_lease_cell_close(c);
    return ok;
}

/*
 * Bytes allocated by the lease's processes: usage->used minus the slots'
 * credits (freed bytes a process keeps charged for its next allocations),
 * never below zero. Exact when no reserve or release is in flight. The one
 * reader of "used" for views, metrics, the CLI and the interposer's answers.
 */
uint64_t gpx_lease_used(const struct gpx_lease_usage *u);
/* The same for one process's slot: used minus credit, never below zero. */
uint64_t gpx_lease_slot_used(const struct gpx_lease_proc *s);
/* Returns the usage of slots whose process is gone; returns how many were reaped. */
int gpx_lease_reap(struct gpx_lease_region *r);
/*
 * The real uid of `pid` (/proc/PID/status, the first "Uid:" field): 0, or -1
 * with errno (ENOENT or ESRCH: the process is gone).
 */
int gpx_proc_uid(int32_t pid, uint32_t *uid);
/*
 * A /proc/PID/stat line (NUL-terminated): 1 for a live process (its start time, clock ticks
 * since boot, in *ticks), 0 for a zombie or a dead one, -1 when it is not a stat line.
 */
int gpx_proc_stat_parse(const char *stat, uint64_t *ticks);
/* /proc/PID/stat start time (clock ticks since boot); 0 if the process is gone or a zombie. */
uint64_t gpx_lease_proc_start_ticks(int32_t pid);

#endif
