/*
 * Internals shared by the files of the simulated libcuda.so.1 (cuda_sim*.c).
 * Nothing here is exported: the library is built with hidden visibility and
 * only the CUDA entry points carry SIM_EXPORT.
 *
 * Invariants:
 * - Process-local tables (contexts, allocations, modules, streams, pools,
 *   VMM objects) change only under gpx__cu.mu. Shared figures (GPU memory,
 *   the engine clock, utilization) change with atomics in the state file.
 * - Every handle given to the application points at a struct whose first
 *   field is a magic number; handles are checked before use, and structs of
 *   destroyed streams/events are kept on free lists (never handed back to
 *   malloc), so a stale handle reads a dead magic rather than freed memory.
 * - Times are CLOCK_MONOTONIC ns. A stream's `tail` is when its last queued
 *   work ends in virtual time; work never starts before its stream's tail.
 */
#ifndef GPX_CUDA_SIM_H
#define GPX_CUDA_SIM_H

#include "abi/cuda_abi.h"
#include "state.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_EXPORT __attribute__((visibility("default")))

/* The CUDA version a node made without --driver reports (12.4). */
#define GPX_SIM_CUDA_VERSION 12040

/*
 * The CUDA version the node's driver reports (gpuplex sim init --driver:
 * 13000 for 580.65.06), also before cuInit; GPX_SIM_CUDA_VERSION without a
 * node. cuDriverGetVersion returns it and cuGetProcAddress resolves no newer
 * version of an entry point than it, as a real driver of that branch.
 */
int gpx__cu_node_version(void);

#define MAGIC_CTX    0x43545831U /* "CTX1" */
#define MAGIC_STREAM 0x53545231U
#define MAGIC_EVENT  0x45564e31U
#define MAGIC_MODULE 0x4d4f4431U
#define MAGIC_FUNC   0x46554e31U
#define MAGIC_POOL   0x504f4f31U
#define MAGIC_ARRAY  0x41525231U
#define MAGIC_EXTMEM 0x45584d31U
#define MAGIC_DEAD   0xdeadbeefU

struct sim_ctx;

struct sim_stream {
    uint32_t magic;
    struct sim_ctx *ctx;
    unsigned flags; /* CU_STREAM_NON_BLOCKING or 0 */
    int priority;
    int kind; /* STREAM_USER, STREAM_LEGACY, STREAM_PER_THREAD */
    int tid;  /* owning thread of a per-thread stream */
    _Atomic uint64_t tail;
    struct sim_graph *capture; /* the graph being captured into, or NULL (cuda_sim_graph.c) */
    uint64_t capture_id;
    struct sim_stream *next; /* ctx's list, or the free list */
};

enum { STREAM_USER = 0, STREAM_LEGACY = 1, STREAM_PER_THREAD = 2 };

struct sim_ctx {
    uint32_t magic;
    int device;        /* CUDA ordinal (after CUDA_VISIBLE_DEVICES) */
    uint32_t gpu;      /* physical index in the state file */
    int primary;       /* the device's primary context */
    int refs;          /* primary: retain count; created: 1 until destroyed */
    _Atomic int alive; /* holds a process-slot context count (read without the lock) */
    unsigned flags;
    size_t limits[7];
    CUfunc_cache cache_config;   /* cuCtxSetCacheConfig: recorded, changes nothing */
    CUsharedconfig shmem_config; /* cuCtxSetSharedMemConfig: recorded, changes nothing */
    uint32_t peers;              /* cuCtxEnablePeerAccess: bit per peer context's device ordinal */
    _Atomic uint64_t queue_end;  /* when this context's last queued kernel ends */
    struct sim_stream legacy;
    struct sim_stream *streams;   /* user and per-thread streams */
    struct sim_ctx *next_created; /* every created (non-primary) context, dead or alive */
};

/* What an allocation record holds. */
enum sim_alloc_kind {
    AK_DEVICE,  /* cuMemAlloc, cuMemAllocPitch */
    AK_LEGACY,  /* the 32-bit cuMemAlloc / cuMemAllocPitch */
    AK_MANAGED, /* cuMemAllocManaged */
    AK_ASYNC,   /* cuMemAllocAsync, cuMemAllocFromPoolAsync */
    AK_HOST,    /* cuMemHostAlloc, cuMemAllocHost: never charged */
    AK_HOSTREG, /* cuMemHostRegister: the caller's memory */
    AK_ARRAY,   /* cuArrayCreate, cuArray3DCreate, cuMipmappedArrayCreate */
    AK_EXTMEM,  /* cuImportExternalMemory */
    AK_EXTBUF,  /* cuExternalMemoryGetMappedBuffer: a view, freed by cuMemFree */
    AK_RESERVE, /* cuMemAddressReserve: a VA range holding VMM mappings */
    AK_GRAPH    /* a graph's memory-allocation node: charged while a launch holds it */
};

struct sim_pool;
struct sim_vmm_map;

struct sim_alloc {
    uint32_t magic; /* MAGIC_ARRAY / MAGIC_EXTMEM when handed out as a handle */
    enum sim_alloc_kind kind;
    uintptr_t base; /* addressable range, 0 when none */
    size_t size;
    uint64_t charged; /* bytes charged to `gpu` (0: host memory) */
    uint32_t gpu;
    struct sim_ctx *ctx;     /* freed with this context (NULL: not context-owned) */
    struct sim_pool *pool;   /* AK_ASYNC */
    struct sim_alloc *owner; /* AK_EXTBUF: its AK_EXTMEM */
    void *mem;               /* what to release: mmap'd (map_len) or malloc'd */
    size_t map_len;
    struct sim_vmm_map *maps; /* AK_RESERVE */
    struct sim_alloc *prev, *next;
};

struct sim_pool {
    uint32_t magic;
    int device;   /* -1: host pool */
    uint32_t gpu; /* physical index when device >= 0 */
    int is_default;
    int destroyed;
    CUmemPoolProps props;
    uint64_t used, idle, used_high, reserved_high, threshold;
    unsigned char access[GPX_SIM_MAX_GPUS]; /* cuMemPoolSetAccess, by ordinal (CUmemAccess_flags) */
};

struct sim_vmm_phys {
    uint32_t magic;
    int fd;
    size_t size;
    int device; /* -1: host-located */
    uint32_t gpu;
    uint64_t charged;
    int refs; /* the handle plus one per mapping */
    CUmemAllocationProp prop;
};

struct sim_vmm_map {
    uintptr_t va;
    size_t size;
    struct sim_vmm_phys *phys;
    int prot;
    struct sim_vmm_map *next;
};

/*
 * The MIG device a process sees on a physical GPU (CUDA_VISIBLE_DEVICES=MIG-…,
 * or a MIG-enabled GPU standing for its first MIG device). A process sees at
 * most one MIG device (CUDA 11/12 semantics), so one per GPU is enough.
 */
struct sim_mig_view {
    int on;
    unsigned gi, ci;       /* GPU and compute instance ids */
    uint32_t sm_count;     /* the compute instance's SMs */
    uint64_t memory_total; /* bytes: the GPU instance's memory */
    char name[96];         /* "NVIDIA H100 80GB HBM3 MIG 3g.40gb" */
    char uuid[80];         /* "MIG-…" */
};

/* Process-wide simulator state. */
struct sim_global {
    pthread_mutex_t mu;
    _Atomic int inited;      /* 1 after a successful cuInit */
    _Atomic int init_failed; /* cuInit failed once: it keeps failing */
    _Atomic int forked;      /* a child forked from an initialised process: unusable */
    int32_t pid;             /* the process that initialised */
    struct gpx_sim_state st;
    int ndev;
    uint32_t vis[GPX_SIM_MAX_GPUS];                 /* ordinal -> physical index */
    struct gpx_sim_proc *slot[GPX_SIM_MAX_GPUS];    /* by physical index */
    struct sim_mig_view mig[GPX_SIM_MAX_GPUS];      /* by physical index */
    struct sim_ctx primary[GPX_SIM_MAX_GPUS];       /* by ordinal */
    struct sim_pool default_pool[GPX_SIM_MAX_GPUS]; /* by ordinal */
    struct sim_pool *cur_pool[GPX_SIM_MAX_GPUS];    /* by ordinal */
    struct sim_alloc *allocs;                       /* every record */
    struct sim_alloc **index;                       /* addressable, sorted by base */
    size_t index_n, index_cap;
    struct sim_stream *free_streams;
};

extern struct sim_global gpx__cu;

/* cuda_sim.c */
struct sim_ctx *gpx__cu_current(void);
CUresult gpx__cu_ctx_check(struct sim_ctx *c);
struct sim_alloc *gpx__cu_lookup(uintptr_t p); /* under mu */
/* Checks [p, p+n) is device-addressable memory; host pointers pass with `host_ok`. */
CUresult gpx__cu_check_range(uintptr_t p, size_t n, int host_ok);
CUresult gpx__cu_free_alloc(struct sim_alloc *a);      /* under mu */
void gpx__cu_ctx_release_resources(struct sim_ctx *c); /* under mu */
/* SMs of what the process sees as physical GPU `gpu` (its MIG device's, if one). */
uint32_t gpx__cu_sm_count(uint32_t gpu);
/* Device memory for a module's __device__ variable, owned by `c`. Under mu. */
CUresult gpx__cu_alloc_global(struct sim_ctx *c, size_t size, struct sim_alloc **out);

/* Graph memory (cuda_sim_graph.c): an addressable, uncharged record owned by a graph. Under mu. */
CUresult gpx__cu_graph_mem_new(struct sim_ctx *c, size_t size, struct sim_alloc **out);
/* Charges / gives back its bytes (the allocation node ran / was freed). Under mu. */
CUresult gpx__cu_graph_mem_charge(struct sim_alloc *a);
void gpx__cu_graph_mem_uncharge(struct sim_alloc *a);
/* The copy and set engines of cuda_sim.c, for graph nodes and peer copies. */
CUresult gpx__cu_copy(uintptr_t dst, int dst_host, uintptr_t src, int src_host, size_t n,
                      CUstream hs, int async, int pt);
CUresult gpx__cu_copy3d(const CUDA_MEMCPY3D *p, CUstream hs, int async, int pt);
/* Sets `height` rows of `width` elements of `esize` bytes, `pitch` bytes apart. */
CUresult gpx__cu_memset2d(uintptr_t dst, size_t pitch, uint32_t value, size_t esize, size_t width,
                          size_t height, CUstream hs, int async, int pt);

/* cuda_sim_exec.c */
void gpx__cu_sleep_until(uint64_t t);
/* Resolves a stream handle (NULL, LEGACY, PER_THREAD or a created one). */
CUresult gpx__cu_stream(CUstream h, int per_thread, struct sim_stream **out);
/* Earliest virtual start for new work on `s` (legacy-stream rules included). */
uint64_t gpx__cu_stream_floor(struct sim_stream *s);
void gpx__cu_stream_push_tail(struct sim_stream *s, uint64_t end);
/* Accounts copy traffic of `bytes` in the GPU's memory-utilization buckets. */
void gpx__cu_copy_traffic(uint32_t gpu, size_t bytes);
/* Synchronous-call semantics: waits for the stream(s) the call is ordered after. */
void gpx__cu_sync_before(struct sim_ctx *c, int per_thread);
void gpx__cu_ctx_drop_streams(struct sim_ctx *c); /* under mu */
void gpx__cu_ctx_drop_modules(struct sim_ctx *c); /* under mu */
/* Checks a kernel launch and returns its simulated duration; the function's context in *ctx. */
CUresult gpx__cu_kernel_check(CUfunction hf, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                              unsigned by, unsigned bz, unsigned smem, void **params, void **extra,
                              struct sim_ctx **ctx, uint64_t *ns);
/* Runs `ns` of kernel work of context `c` on stream `s` (the engine, utilization, the tail). */
void gpx__cu_kernel_run(struct sim_ctx *c, struct sim_stream *s, uint64_t ns);
/* An accepted function handle, or NULL. */
int gpx__cu_func_valid(CUfunction hf);

/* cuda_sim_graph.c: work issued to a capturing stream becomes a node of its graph. */
CUresult gpx__cu_capture_kernel(struct sim_stream *s, CUfunction f, const unsigned dims[7],
                                uint64_t ns);
CUresult gpx__cu_capture_copy(struct sim_stream *s, const CUDA_MEMCPY3D *p);
CUresult gpx__cu_capture_memset(struct sim_stream *s, uintptr_t dst, size_t pitch, uint32_t value,
                                size_t esize, size_t width, size_t height);
CUresult gpx__cu_capture_host(struct sim_stream *s, CUhostFn fn, void *ud);
/* A stream-ordered allocation (device -1: a host pool) or free, captured as a memory node. */
CUresult gpx__cu_capture_alloc(struct sim_stream *s, int device, size_t size, CUdeviceptr *dptr);
CUresult gpx__cu_capture_free(struct sim_stream *s, CUdeviceptr dptr);

#define CU_CHECK_INIT()                                                                            \
    do {                                                                                           \
        if (!atomic_load_explicit(&gpx__cu.inited, memory_order_acquire))                          \
            return gpx__cu.init_failed ? CUDA_ERROR_NO_DEVICE : CUDA_ERROR_NOT_INITIALIZED;        \
    } while (0)

/* The current context, checked: the opening of most calls. `c` names the variable it declares,
 * so it cannot be parenthesized. */
#define CURRENT_OR_RETURN(c)                                                                       \
    CU_CHECK_INIT();                                                                               \
    struct sim_ctx *c = gpx__cu_current(); /* NOLINT(bugprone-macro-parentheses) */                \
    do {                                                                                           \
        CUresult cr_ = gpx__cu_ctx_check(c);                                                       \
        if (cr_)                                                                                   \
            return cr_;                                                                            \
    } while (0)

#endif
