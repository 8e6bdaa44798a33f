/*
 * libgpuplex-cuda.so internals: the table of hooked driver entry points, the
 * process-wide state every hook reads, and the few internal functions the
 * hook files share. Nothing here is exported: the library's only exports are
 * the hooked cu* / nvml* names and dlsym (exports.map).
 *
 * Invariants:
 * - gpx__ip.ready is set (release) once, after the real entry points are
 *   resolved and the lease decision is made; every field below is read-only
 *   after that, so a hook pays one acquire load (a plain load on x86) and a
 *   predicted branch to know it may proceed.
 * - The launch path reads gpx__ip.ready, gpx__submit_enter and the real
 *   pointer: no getenv, no lock, no syscall, no shared-memory access.
 * - mode is PASS (no GPUPLEX_LEASE: everything forwarded untouched), ENFORCE
 *   (a valid lease: every device allocation reserved against its quota
 *   before the driver sees it) or CLOSED (GPUPLEX_LEASE set but unusable:
 *   every counted allocation refused). It never changes after init.
 */
#ifndef GPX_INTERPOSE_H
#define GPX_INTERPOSE_H

#include "abi/cuda_abi.h"
#include "abi/nvml_abi.h"
#include "shm/lease.h"

#include <stdatomic.h>
#include <stdint.h>

#define GPX_EXPORT      __attribute__((visibility("default")))
#define GPX_LIKELY(x)   __builtin_expect(!!(x), 1)
#define GPX_UNLIKELY(x) __builtin_expect(!!(x), 0)

/*
 * The hooked CUDA entry points: X(name, base, since, per_thread).
 * `base` is the name an application asks cuGetProcAddress for, `since` the
 * CUDA version (1000 * major + 10 * minor) from which the driver hands out
 * this variant for `base`, `per_thread` 1 for the _ptsz variant that
 * CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM selects. Every variant has
 * its own hook and forwards to its own real counterpart.
 */
/* clang-format off */
#define GPX_IP_CUDA_HOOKS(X)                                                                       \
    X(cuGetProcAddress,               cuGetProcAddress,        11030, 0)                           \
    X(cuGetProcAddress_v2,            cuGetProcAddress,        12000, 0)                           \
    X(cuMemGetInfo,                   cuMemGetInfo,             2000, 0)                           \
    X(cuMemGetInfo_v2,                cuMemGetInfo,             3020, 0)                           \
    X(cuDeviceTotalMem,               cuDeviceTotalMem,         2000, 0)                           \
    X(cuDeviceTotalMem_v2,            cuDeviceTotalMem,         3020, 0)                           \
    X(cuMemAlloc,                     cuMemAlloc,               2000, 0)                           \
    X(cuMemAlloc_v2,                  cuMemAlloc,               3020, 0)                           \
    X(cuMemAllocPitch,                cuMemAllocPitch,          2000, 0)                           \
    X(cuMemAllocPitch_v2,             cuMemAllocPitch,          3020, 0)                           \
    X(cuMemAllocManaged,              cuMemAllocManaged,        6000, 0)                           \
    X(cuMemFree,                      cuMemFree,                2000, 0)                           \
    X(cuMemFree_v2,                   cuMemFree,                3020, 0)                           \
    X(cuMemCreate,                    cuMemCreate,             10020, 0)                           \
    X(cuMemRelease,                   cuMemRelease,            10020, 0)                           \
    X(cuMemMap,                       cuMemMap,                10020, 0)                           \
    X(cuMemUnmap,                     cuMemUnmap,              10020, 0)                           \
    X(cuMemAllocAsync,                cuMemAllocAsync,         11020, 0)                           \
    X(cuMemAllocAsync_ptsz,           cuMemAllocAsync,         11020, 1)                           \
    X(cuMemAllocFromPoolAsync,        cuMemAllocFromPoolAsync, 11020, 0)                           \
    X(cuMemAllocFromPoolAsync_ptsz,   cuMemAllocFromPoolAsync, 11020, 1)                           \
    X(cuMemFreeAsync,                 cuMemFreeAsync,          11020, 0)                           \
    X(cuMemFreeAsync_ptsz,            cuMemFreeAsync,          11020, 1)                           \
    X(cuMemPoolCreate,                cuMemPoolCreate,         11020, 0)                           \
    X(cuMemPoolDestroy,               cuMemPoolDestroy,        11020, 0)                           \
    X(cuArrayCreate,                  cuArrayCreate,            2000, 0)                           \
    X(cuArrayCreate_v2,               cuArrayCreate,            3020, 0)                           \
    X(cuArray3DCreate,                cuArray3DCreate,          2000, 0)                           \
    X(cuArray3DCreate_v2,             cuArray3DCreate,          3020, 0)                           \
    X(cuArrayDestroy,                 cuArrayDestroy,           2000, 0)                           \
    X(cuMipmappedArrayCreate,         cuMipmappedArrayCreate,   5000, 0)                           \
    X(cuMipmappedArrayDestroy,        cuMipmappedArrayDestroy,  5000, 0)                           \
    X(cuImportExternalMemory,         cuImportExternalMemory,  10000, 0)                           \
    X(cuDestroyExternalMemory,        cuDestroyExternalMemory, 10000, 0)                           \
    X(cuLaunchKernel,                 cuLaunchKernel,           4000, 0)                           \
    X(cuLaunchKernel_ptsz,            cuLaunchKernel,           7000, 1)                           \
    X(cuLaunchKernelEx,               cuLaunchKernelEx,        11060, 0)                           \
    X(cuLaunchKernelEx_ptsz,          cuLaunchKernelEx,        11060, 1)                           \
    X(cuLaunchCooperativeKernel,      cuLaunchCooperativeKernel, 9000, 0)                          \
    X(cuLaunchCooperativeKernel_ptsz, cuLaunchCooperativeKernel, 9000, 1)                          \
    X(cuCtxDestroy_v2,                cuCtxDestroy,             4000, 0)                           \
    X(cuMemPrefetchAsync,             cuMemPrefetchAsync,       8000, 0)                           \
    X(cuMemPrefetchAsync_ptsz,        cuMemPrefetchAsync,       8000, 1)                           \
    X(cuMemPrefetchAsync_v2,          cuMemPrefetchAsync,      12020, 0)                           \
    X(cuMemPrefetchAsync_v2_ptsz,     cuMemPrefetchAsync,      12020, 1)                           \
    X(cuStreamBeginCapture_v2,        cuStreamBeginCapture,    10010, 0)                           \
    X(cuStreamBeginCapture_v2_ptsz,   cuStreamBeginCapture,    10010, 1)                           \
    X(cuStreamEndCapture,             cuStreamEndCapture,      10000, 0)                           \
    X(cuStreamEndCapture_ptsz,        cuStreamEndCapture,      10000, 1)                           \
    X(cuGraphLaunch,                  cuGraphLaunch,           10000, 0)                           \
    X(cuGraphLaunch_ptsz,             cuGraphLaunch,           10000, 1)                           \
    X(cuMemcpyAsync, cuMemcpyAsync, 4000, 0)                           \
    X(cuMemcpyAsync_ptsz, cuMemcpyAsync, 7000, 1)                           \
    X(cuMemcpyHtoDAsync_v2, cuMemcpyHtoDAsync, 3020, 0)                           \
    X(cuMemcpyHtoDAsync_v2_ptsz, cuMemcpyHtoDAsync, 7000, 1)                           \
    X(cuMemcpyDtoHAsync_v2, cuMemcpyDtoHAsync, 3020, 0)                           \
    X(cuMemcpyDtoHAsync_v2_ptsz, cuMemcpyDtoHAsync, 7000, 1)                           \
    X(cuMemcpyDtoDAsync_v2, cuMemcpyDtoDAsync, 3020, 0)                           \
    X(cuMemcpyDtoDAsync_v2_ptsz, cuMemcpyDtoDAsync, 7000, 1)                           \
    X(cuMemcpy2DAsync_v2, cuMemcpy2DAsync, 3020, 0)                           \
    X(cuMemcpy2DAsync_v2_ptsz, cuMemcpy2DAsync, 7000, 1)                           \
    X(cuMemcpy3DAsync_v2, cuMemcpy3DAsync, 3020, 0)                           \
    X(cuMemcpy3DAsync_v2_ptsz, cuMemcpy3DAsync, 7000, 1)                           \
    X(cuMemsetD8Async, cuMemsetD8Async, 3020, 0)                           \
    X(cuMemsetD8Async_ptsz, cuMemsetD8Async, 7000, 1)                           \
    X(cuMemsetD16Async, cuMemsetD16Async, 3020, 0)                           \
    X(cuMemsetD16Async_ptsz, cuMemsetD16Async, 7000, 1)                           \
    X(cuMemsetD32Async, cuMemsetD32Async, 3020, 0)                           \
    X(cuMemsetD32Async_ptsz, cuMemsetD32Async, 7000, 1)                           \
    X(cuGraphInstantiate,             cuGraphInstantiate,      10000, 0)                           \
    X(cuGraphInstantiate_v2,          cuGraphInstantiate,      11000, 0)                           \
    X(cuGraphInstantiateWithFlags,    cuGraphInstantiate,      12000, 0)                           \
    X(cuGraphInstantiateWithParams,   cuGraphInstantiateWithParams, 12000, 0)                      \
    X(cuGraphInstantiateWithParams_ptsz, cuGraphInstantiateWithParams, 12000, 1)                   \
    X(cuGraphExecDestroy,             cuGraphExecDestroy,      10000, 0)                           \
    X(cuMemcpyPeerAsync,              cuMemcpyPeerAsync,        4000, 0)                           \
    X(cuMemcpyPeerAsync_ptsz,         cuMemcpyPeerAsync,        7000, 1)                           \
    X(cuMemsetD2D8Async,              cuMemsetD2D8Async,        3020, 0)                           \
    X(cuMemsetD2D8Async_ptsz,         cuMemsetD2D8Async,        7000, 1)                           \
    X(cuMemsetD2D16Async,             cuMemsetD2D16Async,       3020, 0)                           \
    X(cuMemsetD2D16Async_ptsz,        cuMemsetD2D16Async,       7000, 1)                           \
    X(cuMemsetD2D32Async,             cuMemsetD2D32Async,       3020, 0)                           \
    X(cuMemsetD2D32Async_ptsz,        cuMemsetD2D32Async,       7000, 1)
/* clang-format on */

/* The hooked NVML entry points, and the ones the hooks call besides. */
#define GPX_IP_NVML_HOOKS(X)                                                                       \
    X(nvmlDeviceGetMemoryInfo, nvml_device_memory_fn)                                              \
    X(nvmlDeviceGetMemoryInfo_v2, nvml_device_memory_v2_fn)                                        \
    GPX_IP_NVML_PROC_HOOKS(X)
/* The process queries procs.c filters to the caller's lease. */
#define GPX_IP_NVML_PROC_HOOKS(X)                                                                  \
    X(nvmlDeviceGetComputeRunningProcesses, nvml_device_processes_v1_fn)                           \
    X(nvmlDeviceGetComputeRunningProcesses_v2, nvml_device_processes_fn)                           \
    X(nvmlDeviceGetComputeRunningProcesses_v3, nvml_device_processes_fn)                           \
    X(nvmlDeviceGetGraphicsRunningProcesses, nvml_device_processes_v1_fn)                          \
    X(nvmlDeviceGetGraphicsRunningProcesses_v2, nvml_device_processes_fn)                          \
    X(nvmlDeviceGetGraphicsRunningProcesses_v3, nvml_device_processes_fn)                          \
    X(nvmlDeviceGetMPSComputeRunningProcesses, nvml_device_processes_v1_fn)                        \
    X(nvmlDeviceGetMPSComputeRunningProcesses_v2, nvml_device_processes_fn)                        \
    X(nvmlDeviceGetMPSComputeRunningProcesses_v3, nvml_device_processes_fn)                        \
    X(nvmlDeviceGetProcessUtilization, nvml_device_process_util_fn)                                \
    X(nvmlDeviceGetRunningProcessDetailList, nvml_device_opaque_fn)                                \
    X(nvmlDeviceGetProcessesUtilizationInfo, nvml_device_opaque_fn)                                \
    X(nvmlDeviceGetAccountingPids, nvml_device_accounting_pids_fn)                                 \
    X(nvmlDeviceGetAccountingStats, nvml_device_accounting_stats_fn)                               \
    X(nvmlDeviceGetAccountingStats_v2, nvml_device_opaque_fn)                                      \
    X(nvmlDeviceGetEncoderSessions, nvml_device_sessions_fn)                                       \
    X(nvmlDeviceGetFBCSessions, nvml_device_sessions_fn)
/* Newer than nvml_abi.h: its struct (the pid first) is read here, never declared (procs.c). */
nvmlReturn_t nvmlDeviceGetAccountingStats_v2(nvmlDevice_t dev, void *stats);
typedef nvmlReturn_t (*nvml_device_sessions_fn)(nvmlDevice_t, unsigned int *, void *);
typedef nvmlReturn_t (*nvml_device_accounting_pids_fn)(nvmlDevice_t, unsigned int *,
                                                       unsigned int *);
typedef nvmlReturn_t (*nvml_device_accounting_stats_fn)(nvmlDevice_t, unsigned int,
                                                        nvmlAccountingStats_t *);
/* Not in nvml_abi.h: their versioned structs are only passed through (procs.c). */
nvmlReturn_t nvmlDeviceGetRunningProcessDetailList(nvmlDevice_t dev, void *versioned);
nvmlReturn_t nvmlDeviceGetProcessesUtilizationInfo(nvmlDevice_t dev, void *versioned);
#define GPX_IP_NVML_USED(X)                                                                        \
    X(nvmlDeviceGetUUID, nvml_device_string_fn)                                                    \
    X(nvmlDeviceGetIndex, nvml_device_uint_fn)

enum gpx_ip_hook {
#define GPX_IP_ENUM_(name, base, since, pt) GPX_IP_##name,
    GPX_IP_CUDA_HOOKS(GPX_IP_ENUM_)
#undef GPX_IP_ENUM_
        GPX_IP_CUDA_COUNT
};

/* The real driver's entry points, resolved once. NULL where it lacks one. */
struct gpx_ip_real {
#define GPX_IP_FIELD_(name, base, since, pt) gpx_##name##_fn name;
    GPX_IP_CUDA_HOOKS(GPX_IP_FIELD_)
#undef GPX_IP_FIELD_
};

struct gpx_ip_real_nvml {
#define GPX_IP_NFIELD_(name, type) type name;
    GPX_IP_NVML_HOOKS(GPX_IP_NFIELD_) GPX_IP_NVML_USED(GPX_IP_NFIELD_)
#undef GPX_IP_NFIELD_
};

enum gpx_ip_mode { GPX_IP_PASS = 0, GPX_IP_ENFORCE = 1, GPX_IP_CLOSED = 2 };

struct gpx_ip_state {
    _Atomic int ready;
    int mode;       /* enum gpx_ip_mode */
    int have_cuda;  /* libcuda.so.1 was opened */
    void *cuda_lib; /* its handle */
    struct gpx_ip_real real;
    /* ENFORCE only */
    struct gpx_lease_region region; /* region.limits points at `limits` */
    struct gpx_lease_limits limits; /* private snapshot: writes to the file change nothing */
    const struct gpx_lease_limits *limits_map;
    struct gpx_lease_proc *slot;
    uint64_t quota; /* limits.memory_quota; 0 = account, never refuse */
    /* host-located memory pools alive; while 0, pool allocations skip the look-up */
    _Atomic uint32_t host_pools;
    /* captured once from the environment, before the application can change it */
    char lease_id[GPX_LEASE_ID_MAX];
    int lease_set;
    int lease_bad; /* set but too long to be an id */
};

extern struct gpx_ip_state gpx__ip;
extern struct gpx_ip_real_nvml gpx__ip_nvml;

/*
 * Time-slicing hook points around work submission (kernel and graph launches,
 * async copies and memsets): NULL unless the lease is timeslice or a capped
 * vgpu (slice.c installs them once, at init). Until then a hook pays one load
 * and a not-taken branch. enter() returns once this process holds the GPU's
 * turn; exit() follows the driver call.
 */
extern void (*gpx__submit_enter)(void);
extern void (*gpx__submit_exit)(void);

/* Starts time-slicing for the lease when its mode asks for it (init, ENFORCE only). */
void gpx__ip_slice_init(void);
/* In a forked child: the parent's turn is not the child's. */
void gpx__ip_slice_atfork_child(void);
/*
 * Stream capture began / ended in this process. While one runs, launches are
 * recorded into a graph, not run, and a drain (cuCtxSynchronize) would
 * invalidate the capture: submissions skip the turn and drains are put off.
 */
void gpx__ip_capture_begin(void);
void gpx__ip_capture_end(void);
int gpx__ip_capturing(void); /* captures running now */
/* 1 if the driver says `stream` is being captured (graph.c); ptsz: the per-thread-stream call */
int gpx__ip_stream_capturing(CUstream stream, int ptsz);
/* A context was destroyed: the drain must not push it any more. */
void gpx__ip_context_gone(CUcontext ctx);

void gpx__ip_init_slow(void);

static inline void gpx__ip_ensure(void)
{
    if (GPX_UNLIKELY(!atomic_load_explicit(&gpx__ip.ready, memory_order_acquire)))
        gpx__ip_init_slow();
}

/* Brackets a submission on the slow path: returns the exit hook to call after it, or NULL. */
static inline void (*gpx__ip_submit_begin(void))(void)
{
    void (*enter)(void) = gpx__submit_enter;
    if (GPX_UNLIKELY(enter != NULL)) {
        enter();
        return gpx__submit_exit;
    }
    return NULL;
}

/* What a hook returns when the driver lacks the entry point. */
CUresult gpx__ip_missing(const char *name);

/* A hook's real entry point, and its first step: resolve the driver, or say it lacks `name`. */
#define GPX_IP_REAL(name) gpx__ip.real.name
#define GPX_IP_NEED(name)                                                                          \
    do {                                                                                           \
        gpx__ip_ensure();                                                                          \
        if (GPX_UNLIKELY(!GPX_IP_REAL(name)))                                                      \
            return gpx__ip_missing(#name);                                                         \
    } while (0)

/*
 * One submission hook: a fast path that calls the real entry point directly
 * when init is done, no time-slice turn is installed and the driver has it
 * (the acquire load orders the read of the real pointer after init; it is
 * re-read on the slow path otherwise), and a cold slow path for the rest:
 * first-call init, a missing entry point, or taking the turn around the call.
 * No getenv, no lock, no syscall, no shared memory on the fast path.
 */
#define GPX_IP_SUBMIT_HOOK(name, params, args)                                                     \
    __attribute__((noinline, cold)) static CUresult name##_slow params                             \
    {                                                                                              \
        gpx__ip_ensure();                                                                          \
        if (!gpx__ip.real.name)                                                                    \
            return gpx__ip_missing(#name);                                                         \
        void (*exit_hook)(void) = gpx__ip_submit_begin();                                          \
        CUresult r = gpx__ip.real.name args;                                                       \
        if (exit_hook)                                                                             \
            exit_hook();                                                                           \
        return r;                                                                                  \
    }                                                                                              \
    GPX_EXPORT CUresult name params                                                                \
    {                                                                                              \
        gpx_##name##_fn fn = gpx__ip.real.name;                                                    \
        if (GPX_UNLIKELY(!atomic_load_explicit(&gpx__ip.ready, memory_order_acquire) ||            \
                         gpx__submit_enter || !fn))                                                \
            return name##_slow args;                                                               \
        return fn args;                                                                            \
    }

/* NVML: resolved on first use (most CUDA programs never touch NVML). */
void gpx__ip_nvml_ensure(void);

/* dlsym as the C library defines it; resolved on first use, never NULL after. */
extern void *(*gpx__real_dlsym)(void *handle, const char *name);
void gpx__ip_dlsym_ensure(void);
/* Our hook for a cu* or nvml* name, or NULL. */
void *gpx__ip_hook_by_name(const char *name);
/* Our hook for a real entry point the driver handed out, or NULL. */
void *gpx__ip_hook_by_real(const void *fn);
/* Our hook for cuGetProcAddress(base, version, flags) by the table's rules, or NULL. */
void *gpx__ip_hook_by_base(const char *base, int cuda_version, cuuint64_t flags);
int gpx__ip_is_hook(const void *fn);

/* Accounting (quota.c). kinds of counted objects: */
enum gpx_ip_kind {
    GPX_IP_KIND_DPTR = 1, /* linear, pitched, managed, stream-ordered */
    GPX_IP_KIND_VMM = 2,  /* cuMemCreate handles */
    GPX_IP_KIND_ARRAY = 3,
    GPX_IP_KIND_MIPMAP = 4,
    GPX_IP_KIND_EXTMEM = 5,
    GPX_IP_KIND_HOST_POOL =
        6,                   /* a memory pool located in host memory: its allocations don't count */
    GPX_IP_KIND_VMM_MAP = 7, /* a mapping's address -> the cuMemCreate handle it maps */
    GPX_IP_KIND_VMM_REFS = 8, /* a counted handle -> how many mappings of it are alive */
    GPX_IP_KIND_VMM_DEAD =
        9, /* a released handle still mapped -> its bytes, returned at the last unmap */
    GPX_IP_KIND_GRAPH_EXEC = 10, /* an executable graph -> its memory-allocation nodes' bytes */
};
/* Reserves `bytes` for this process: 0, or -1 when it would pass the quota (or CLOSED). */
int gpx__ip_reserve(uint64_t bytes);
void gpx__ip_release(uint64_t bytes);
/*
 * Bytes this process holds, kept privately (init.c: a cell per thread, summed
 * here): a process that zeroes the shared usage still cannot pass the quota
 * on its own when it next charges the lease.
 */
uint64_t gpx__ip_local_used(void);
/* Forgets the private count (a forked child, a test's new lease). */
void gpx__ip_local_reset(void);
/*
 * Registers the process for the membarrier that lets it use per-thread credit
 * cells (shm/lease.h) and forgets the calling thread's cell (the lease's
 * opening, a forked child, a test's new lease). Other threads keep theirs:
 * only tests map a second lease in one process, and their threads do not
 * outlive the lease they started under.
 */
void gpx__ip_cells_init(void);

/* Logging to stderr; level from GPUPLEX_LOG at init (error by default). */
enum { GPX_IP_LOG_OFF = -1, GPX_IP_LOG_ERROR, GPX_IP_LOG_WARN, GPX_IP_LOG_INFO, GPX_IP_LOG_DEBUG };
extern int gpx__ip_log_level;
void gpx__ip_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define GPX_IP_LOG(lvl, ...)                                                                       \
    do {                                                                                           \
        if ((lvl) <= gpx__ip_log_level)                                                            \
            gpx__ip_log((lvl), __VA_ARGS__);                                                       \
    } while (0)

#endif
