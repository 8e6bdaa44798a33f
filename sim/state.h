/*
 * The simulator's shared state: one file, mapped by every process that opens
 * the simulated libnvidia-ml.so.1 or libcuda.so.1 (GPUPLEX_SIM=PATH), and
 * created by `gpuplex sim init`.
 *
 * Invariants:
 * - The file is exactly gpx_sim_file_size(gpu_count) bytes; the header's
 *   magic, version, sizes and gpu_count are checked before anything is read,
 *   so a truncated, foreign or garbage file is an error, never a crash.
 * - Static facts (model, name, UUID, PCI id, SMs, memory size, clocks, power
 *   limit) are written once at creation and never change.
 * - Dynamic figures are changed with atomics (counters, the engine clock) or
 *   under the header's robust, process-shared mutex (process slots); a
 *   process killed while holding it cannot wedge the others (EOWNERDEAD is
 *   recovered).
 * - Times are CLOCK_MONOTONIC nanoseconds, comparable across processes.
 */
#ifndef GPX_SIM_STATE_H
#define GPX_SIM_STATE_H

#include "gpuplex/error.h"

#include <pthread.h>
#include <stdint.h>
#include <stddef.h>

#define GPX_SIM_MAGIC               0x314d495358504750ULL /* "GPXSIM1" little-endian */
/* 2: procs carry their pid namespace; 3: procs account the GPU time their kernels take */
#define GPX_SIM_VERSION             3U
#define GPX_SIM_MAX_GPUS            16U
#define GPX_SIM_MAX_PROCS           64U /* process slots per GPU */
#define GPX_SIM_PROC_SPANS          16U /* engine spans a process slot remembers */
#define GPX_SIM_UTIL_BUCKETS        32U
#define GPX_SIM_UTIL_BUCKET_NS      50000000ULL /* 50 ms buckets */
#define GPX_SIM_UTIL_WINDOW_BUCKETS 20U         /* utilization over the last 1 s */

enum gpx_sim_model {
    GPX_SIM_A100_40GB = 0,
    GPX_SIM_A100_80GB = 1,
    GPX_SIM_H100_80GB = 2,
    GPX_SIM_H200_141GB = 3,
    GPX_SIM_MODEL_COUNT
};

/* A board model with the figures the real board reports. */
struct gpx_sim_model_info {
    const char *spec_name; /* as written in --gpus: "H100-80GB" */
    const char *alias;     /* a second accepted spelling, or NULL */
    const char *name;      /* nvmlDeviceGetName / cuDeviceGetName */
    uint32_t sm_count;
    uint32_t memory_mib;
    uint32_t cc_major, cc_minor;
    uint32_t power_limit_w;
    uint32_t power_idle_w;
    uint32_t sm_clock_max_mhz;
    uint32_t sm_clock_idle_mhz;
    uint32_t mem_clock_mhz;
    uint32_t pci_device_id;
    uint32_t pci_subsystem_id;
};

const struct gpx_sim_model_info *gpx_sim_model(enum gpx_sim_model m);
/* Case-insensitive lookup of a spec name or alias; -1 if unknown. */
int gpx_sim_model_find(const char *spec_name);
/* "A100-40GB, A100-80GB, H100-80GB, H200-141GB": for error messages. */
const char *gpx_sim_model_list(void);

struct gpx_sim_spec {
    uint32_t gpu_count;
    uint8_t models[GPX_SIM_MAX_GPUS];
    /* the driver the node claims to be; "" and 0: GPX_SIM_DEFAULT_DRIVER and its CUDA */
    char driver_version[32];
    uint32_t cuda_version;
};

/* Parses "2xH100-80GB,1xA100-40GB" ("N x" optional, meaning 1); the default driver. */
int gpx_sim_spec_parse(const char *text, struct gpx_sim_spec *out, gpx_error *err);

/* The driver of a node made without --driver, and the CUDA version it reports. */
#define GPX_SIM_DEFAULT_DRIVER "550.54.15"
#define GPX_SIM_DEFAULT_CUDA   12040U

/*
 * Sets spec's driver to `version` ("580.65.06"), reporting the CUDA version of
 * its branch (NVIDIA's toolkit/driver table: 580 -> 13000), or `cuda` ("12.8",
 * NULL for the branch's). An unknown branch is refused with the list of
 * accepted ones (drivers.c).
 */
int gpx_sim_driver_parse(const char *version, const char *cuda, struct gpx_sim_spec *spec,
                         gpx_error *err);
/* "525 (CUDA 12.0), 530 (CUDA 12.1), ...": for messages and help. */
const char *gpx_sim_driver_branches(void);

/*
 * A process as it sees itself (pid and pid namespace): the real driver knows
 * every process by its host pid whatever namespace calls it; the simulator,
 * running inside its processes, records what they see (src/shm/pidns.h) and
 * translates to the caller's view when it lists them.
 */
struct gpx_sim_proc {
    _Atomic int32_t pid; /* 0: free slot; in namespace pidns */
    uint32_t contexts;   /* contexts this process holds on the GPU */
    _Atomic uint64_t used_bytes;
    uint64_t start_ticks; /* /proc/PID/stat starttime: tells pid reuse apart */
    uint32_t pidns;       /* its pid namespace (0: unknown, the reader's) */
    uint32_t pad;
    /*
     * The engine's own accounting of this process's kernels (simulator only,
     * as a profiler's; the product never reads it): GPU time and kernels
     * submitted, and the latest spans they occupy the engine, merged when back
     * to back, so that what has run by any time can be told exactly
     * (gpx_sim_proc_gpu_ns). Written by the process's threads under
     * span_lock, read by anyone under the span_seq seqlock.
     */
    _Atomic uint64_t gpu_ns_submitted;
    _Atomic uint64_t kernels;
    _Atomic uint32_t span_lock;
    _Atomic uint32_t span_seq; /* odd while a writer changes spans */
    _Atomic uint64_t span_pos; /* spans written, ever */
    struct {
        _Atomic uint64_t s, e;
    } spans[GPX_SIM_PROC_SPANS];
};

/*
 * GPU time slot p's kernels have occupied the engine up to `now` (ns), and in
 * *queued what is submitted but not yet run. Exact while the process has at
 * most GPX_SIM_PROC_SPANS separate spans queued (always under time-slicing,
 * where a holder's kernels run back to back); returns 1 when exact, 0 when
 * older queued spans had to be counted as run, -1 when a writer kept the
 * spans busy.
 */
int gpx_sim_proc_gpu_ns(const struct gpx_sim_proc *p, uint64_t now, uint64_t *ran, uint64_t *queued,
                        uint64_t *kernels);
/* Adds a kernel of this process that occupies the engine over [s, e). */
void gpx_sim_proc_account(struct gpx_sim_proc *p, uint64_t s, uint64_t e);

struct gpx_sim_util_bucket {
    _Atomic uint64_t epoch; /* time / GPX_SIM_UTIL_BUCKET_NS this bucket holds */
    _Atomic uint64_t busy_ns;
};

struct gpx_sim_gpu {
    /* static */
    uint32_t model;
    uint32_t index;
    uint32_t minor;
    uint32_t sm_count;
    uint32_t cc_major, cc_minor;
    uint64_t memory_total;    /* bytes */
    uint64_t memory_reserved; /* bytes the driver keeps (nvmlMemory_v2 reserved) */
    char name[96];
    char uuid[80];
    char pci_bus_id[32]; /* "00000000:18:00.0" */
    uint32_t pci_domain, pci_bus, pci_device;
    uint32_t pci_device_id, pci_subsystem_id;
    uint32_t power_limit_mw, power_idle_mw;
    uint32_t sm_clock_max_mhz, sm_clock_idle_mhz, mem_clock_mhz;
    uint32_t mig_current, mig_pending;

    /* dynamic */
    _Atomic uint64_t memory_used;       /* device memory allocated by all processes */
    _Atomic uint64_t engine_busy_until; /* the single engine's queue end (ns) */
    _Atomic uint64_t engine_busy_total; /* ns of kernels run, ever */
    _Atomic uint64_t kernels_total;
    struct gpx_sim_util_bucket util[GPX_SIM_UTIL_BUCKETS];
    struct gpx_sim_util_bucket mem_util[GPX_SIM_UTIL_BUCKETS];
    struct gpx_sim_proc procs[GPX_SIM_MAX_PROCS];
    uint8_t reserved_for_mig[4096]; /* the MIG issue defines this area */
};

struct gpx_sim_header {
    uint64_t magic;
    uint32_t version;
    uint32_t header_size; /* sizeof(struct gpx_sim_header) */
    uint32_t gpu_size;    /* sizeof(struct gpx_sim_gpu) */
    uint32_t gpu_count;
    uint64_t file_size;
    uint64_t created_ns;          /* CLOCK_REALTIME at creation */
    uint32_t driver_version_cuda; /* cuDriverGetVersion: 12040 (--driver's branch) */
    char driver_version[32];      /* nvmlSystemGetDriverVersion: "550.54.15" (--driver) */
    pthread_mutex_t lock;         /* robust, process-shared */
    uint8_t pad[64];
};

struct gpx_sim_state {
    struct gpx_sim_header *hdr;
    struct gpx_sim_gpu *gpus; /* hdr->gpu_count entries */
    size_t map_size;
};

size_t gpx_sim_file_size(uint32_t gpu_count);

/* Creates (or replaces, atomically by rename) the state file at `path`. */
int gpx_sim_create(const char *path, const struct gpx_sim_spec *spec, gpx_error *err);
/* Maps an existing state file read-write and validates it. */
int gpx_sim_open(const char *path, struct gpx_sim_state *st, gpx_error *err);
void gpx_sim_close(struct gpx_sim_state *st);

/* The state file named by GPUPLEX_SIM, or an error that says how to make one. */
int gpx_sim_open_env(struct gpx_sim_state *st, gpx_error *err);

/* Robust lock of the header mutex (recovers from a dead owner). */
void gpx_sim_lock(struct gpx_sim_state *st);
void gpx_sim_unlock(struct gpx_sim_state *st);

uint64_t gpx_sim_now_ns(void);

/*
 * Process slots. attach finds or takes `pid`'s slot on GPU `gpu` (reaping dead
 * processes' slots, whose memory goes back); returns the slot or NULL if full.
 */
struct gpx_sim_proc *gpx_sim_proc_attach(struct gpx_sim_state *st, uint32_t gpu, int32_t pid);
/* Frees slots of processes that no longer exist, returning their memory. */
void gpx_sim_reap(struct gpx_sim_state *st, uint32_t gpu);
/* True when `pid` runs (a zombie does not) and is the process that took the slot. */
int gpx_sim_proc_alive(const struct gpx_sim_proc *p);
/*
 * The pid the caller's /proc shows slot p's process by (its host pid, seen
 * from the host); 0 when the caller cannot see it (another container's).
 */
int32_t gpx_sim_proc_pid(const struct gpx_sim_proc *p);
uint64_t gpx_sim_proc_start_ticks(int32_t pid);

/*
 * Contexts a process holds on GPU `gpu` (the slot's `contexts`), changed under
 * the lock. When the count drops to 0 and the slot holds no memory, the slot
 * is freed (the process leaves NVML's process list) and 1 is returned: the
 * caller must forget `p`. Returns 0 otherwise.
 */
int gpx_sim_proc_contexts_add(struct gpx_sim_state *st, uint32_t gpu, struct gpx_sim_proc *p,
                              int delta);

/*
 * Device memory accounting: charge adds `bytes` to the GPU's memory_used and
 * to slot `p` atomically against the GPU's capacity (total - reserved);
 * returns -1, charging nothing, when they do not fit. uncharge gives them back.
 */
int gpx_sim_mem_charge(struct gpx_sim_state *st, uint32_t gpu, struct gpx_sim_proc *p,
                       uint64_t bytes);
void gpx_sim_mem_uncharge(struct gpx_sim_state *st, uint32_t gpu, struct gpx_sim_proc *p,
                          uint64_t bytes);

/* Engine: occupies GPU `gpu` for `ns` after everything queued; returns the end time. */
uint64_t gpx_sim_engine_submit(struct gpx_sim_state *st, uint32_t gpu, uint64_t ns);
/*
 * Like gpx_sim_engine_submit, but the work starts no earlier than `not_before`
 * (its stream's tail), and utilization is left to the caller (work queued far
 * ahead must be credited to the buckets as time reaches it). Stores the start
 * time in *start and returns the end time.
 */
uint64_t gpx_sim_engine_submit_after(struct gpx_sim_state *st, uint32_t gpu, uint64_t not_before,
                                     uint64_t ns, uint64_t *start);
/* Adds a busy interval to a utilization bucket array. */
void gpx_sim_util_add(struct gpx_sim_util_bucket *b, uint64_t start_ns, uint64_t end_ns);
/* Percent busy over the last second. */
unsigned gpx_sim_util_percent(const struct gpx_sim_util_bucket *b, uint64_t now_ns);

#endif
