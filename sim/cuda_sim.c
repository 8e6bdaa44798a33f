/*
 * Simulated libcuda.so.1, part 1: initialisation, devices, contexts and
 * device memory of every kind, over the simulator's state file (GPUPLEX_SIM).
 *
 * Device memory is real host memory (anonymous mappings, so copies can be
 * checked), and every device-backed allocation is charged to its GPU's
 * memory_used and to this process's slot there, atomically against the GPU's
 * capacity: the simulated NVML then shows it, per process. Host memory
 * (cuMemHostAlloc, host-located cuMemCreate or pools) is never charged.
 *
 * A MIG device (CUDA_VISIBLE_DEVICES=MIG-<uuid>) is its parent GPU seen
 * through a sim_mig_view: the instance's name, memory and SMs, and every
 * charge checked against the GPU instance too (gpx_sim_mig_charge).
 *
 * Invariants (see cuda_sim.h): tables change under gpx__cu.mu; a context
 * holds one `contexts` count on its GPU's process slot while alive; every
 * allocation owned by a context is freed, and uncharged, with it.
 */
#define _GNU_SOURCE
#include "cuda_sim.h"

#include "abi/nvml_abi.h"
#include "mig_state.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

struct sim_global gpx__cu = {.mu = PTHREAD_MUTEX_INITIALIZER};

#define CTX_STACK_MAX 32
static __thread struct sim_ctx *tls_stack[CTX_STACK_MAX];
static __thread int tls_depth;

static struct sim_ctx *created_ctxs; /* reachable list of cuCtxCreate'd contexts */

/* Below this, allocations come from malloc: faster, and no mapping per 4-byte buffer. */
#define SMALL_ALLOC     ((size_t)64 * 1024)
#define DEVICE_ALIGN    256U
#define PITCH_ALIGN     512U
#define VMM_GRANULARITY (2ULL << 20)

/* ---------------------------------------------------------------- init */

static int listed(uint32_t idx)
{
    for (int k = 0; k < gpx__cu.ndev; k++)
        if (gpx__cu.vis[k] == idx)
            return 1;
    return 0;
}

static int sees_mig(void)
{
    for (int k = 0; k < gpx__cu.ndev; k++)
        if (gpx__cu.mig[gpx__cu.vis[k]].on)
            return 1;
    return 0;
}

/* Physical GPU `idx` becomes the next ordinal: the whole GPU, or MIG device `md`. */
static void add_device(uint32_t idx, const struct gpx_sim_mig_device *md)
{
    struct sim_mig_view *v = &gpx__cu.mig[idx];
    memset(v, 0, sizeof *v);
    if (md) {
        v->on = 1;
        v->gi = md->gi;
        v->ci = md->ci;
        v->sm_count = md->sm_count;
        v->memory_total = md->memory_total;
        snprintf(v->name, sizeof v->name, "%s", md->name);
        snprintf(v->uuid, sizeof v->uuid, "%s", md->uuid);
    }
    gpx__cu.vis[gpx__cu.ndev++] = idx;
}

/*
 * A GPU named by index or GPU UUID, or enumerated by default. CUDA cannot use
 * a MIG-enabled GPU as a whole: it stands for its first MIG device, or for
 * nothing when it has none or the process already sees a MIG device. Returns
 * -1 when the GPU is listed already (which ends the list).
 */
static int add_gpu(uint32_t idx)
{
    struct gpx_sim_state *st = &gpx__cu.st;
    if (listed(idx))
        return -1;
    if (st->gpus[idx].mig_current != NVML_DEVICE_MIG_ENABLE) {
        add_device(idx, NULL);
        return 0;
    }
    struct gpx_sim_mig_device md;
    if (!sees_mig() && gpx_sim_mig_device_at(st, idx, 0, &md) == 0)
        add_device(idx, &md);
    return 0;
}

/*
 * CUDA_VISIBLE_DEVICES: indices, GPU UUIDs (unique prefixes) or MIG device
 * UUIDs, in order; the first invalid or repeated entry ends the list, as with
 * the real driver. A process sees at most one MIG device (CUDA 11 and 12:
 * "only enumeration of a single MIG instance is supported"): MIG entries
 * after the first are skipped.
 */
static void parse_visible(void)
{
    struct gpx_sim_state *st = &gpx__cu.st;
    uint32_t count = st->hdr->gpu_count;
    const char *env = getenv("CUDA_VISIBLE_DEVICES");
    gpx__cu.ndev = 0;
    memset(gpx__cu.mig, 0, sizeof gpx__cu.mig);
    if (!env) {
        for (uint32_t i = 0; i < count; i++)
            add_gpu(i);
        return;
    }
    const char *p = env;
    while (*p && gpx__cu.ndev < (int)GPX_SIM_MAX_GPUS) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == 0 || len >= 96)
            return;
        char tok[96];
        memcpy(tok, p, len);
        tok[len] = '\0';
        long idx = -1;
        if (strspn(tok, "0123456789") == len) {
            idx = strtol(tok, NULL, 10);
            if (idx >= (long)count)
                return;
        } else if (strncasecmp(tok, "GPU-", 4) == 0) {
            for (uint32_t i = 0; i < count; i++) {
                if (strncasecmp(st->gpus[i].uuid, tok, len) == 0) {
                    if (idx >= 0)
                        return; /* ambiguous prefix */
                    idx = (long)i;
                }
            }
            if (idx < 0)
                return;
        } else if (strncasecmp(tok, "MIG-", 4) == 0) {
            /* A MIG device UUID (R470+ form; the older MIG-GPU-…/gi/ci is invalid). */
            struct gpx_sim_mig_device md;
            if (gpx_sim_mig_find_uuid(st, tok, &md) < 0)
                return;
            if (!sees_mig()) {
                if (listed(md.gpu))
                    return;
                add_device(md.gpu, &md);
            }
        } else {
            return;
        }
        if (idx >= 0 && add_gpu((uint32_t)idx) < 0)
            return;
        if (!end)
            break;
        p = end + 1;
    }
}

static void pool_init_default(int dev)
{
    struct sim_pool *p = &gpx__cu.default_pool[dev];
    memset(p, 0, sizeof *p);
    p->magic = MAGIC_POOL;
    p->device = dev;
    p->gpu = gpx__cu.vis[dev];
    p->is_default = 1;
    p->props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    p->props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    p->props.location.id = dev;
    gpx__cu.cur_pool[dev] = p;
}

/*
 * A child forked from a process that initialised the driver cannot use it
 * (its contexts and slots are the parent's), as with the real driver: every
 * call in it fails, and its exit must not give back the parent's memory.
 */
static void atfork_child(void)
{
    pthread_mutex_init(&gpx__cu.mu, NULL);
    if (atomic_load(&gpx__cu.inited)) {
        atomic_store(&gpx__cu.inited, 0);
        atomic_store(&gpx__cu.forked, 1);
    }
}

SIM_EXPORT CUresult cuInit(unsigned int Flags)
{
    if (Flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (atomic_load(&gpx__cu.inited))
        return CUDA_SUCCESS;
    if (atomic_load(&gpx__cu.forked))
        return CUDA_ERROR_NOT_INITIALIZED;
    pthread_mutex_lock(&gpx__cu.mu);
    if (!atomic_load(&gpx__cu.inited) && !atomic_load(&gpx__cu.init_failed)) {
        gpx_error err;
        if (gpx_sim_open_env(&gpx__cu.st, &err) < 0) {
            /* The simulated driver's dmesg: say why, or nobody can tell. */
            fprintf(stderr, "gpuplex-sim: %s\n", err.msg);
            atomic_store(&gpx__cu.init_failed, 1);
        } else {
            parse_visible();
            if (gpx__cu.ndev == 0) {
                const char *cvd = getenv("CUDA_VISIBLE_DEVICES");
                if (cvd)
                    fprintf(stderr,
                            "gpuplex-sim: CUDA_VISIBLE_DEVICES='%s' selects none of the %u "
                            "simulated GPUs%s\n",
                            cvd, gpx__cu.st.hdr->gpu_count,
                            strcasestr(cvd, "MIG-") ? " (MIG devices: see 'gpuplex mig ls')" : "");
                else
                    fprintf(stderr, "gpuplex-sim: every simulated GPU has MIG mode on and no "
                                    "MIG device\n");
                gpx_sim_close(&gpx__cu.st);
                atomic_store(&gpx__cu.init_failed, 1);
            } else {
                for (int d = 0; d < gpx__cu.ndev; d++) {
                    struct sim_ctx *c = &gpx__cu.primary[d];
                    c->magic = MAGIC_CTX;
                    c->device = d;
                    c->gpu = gpx__cu.vis[d];
                    c->primary = 1;
                    pool_init_default(d);
                }
                gpx__cu.pid = (int32_t)getpid();
                pthread_atfork(NULL, NULL, atfork_child);
                atomic_store_explicit(&gpx__cu.inited, 1, memory_order_release);
            }
        }
    }
    pthread_mutex_unlock(&gpx__cu.mu);
    return atomic_load(&gpx__cu.inited) ? CUDA_SUCCESS : CUDA_ERROR_NO_DEVICE;
}

int gpx__cu_node_version(void)
{
    if (atomic_load(&gpx__cu.inited))
        return (int)gpx__cu.st.hdr->driver_version_cuda;
    /* Before cuInit (cudart asks first): the node's header, read and let go. */
    struct gpx_sim_state s;
    gpx_error err;
    if (gpx_sim_open_env(&s, &err) < 0)
        return GPX_SIM_CUDA_VERSION;
    int v = (int)s.hdr->driver_version_cuda;
    gpx_sim_close(&s);
    return v;
}

SIM_EXPORT CUresult cuDriverGetVersion(int *driverVersion)
{
    if (!driverVersion)
        return CUDA_ERROR_INVALID_VALUE;
    *driverVersion = gpx__cu_node_version();
    return CUDA_SUCCESS;
}

/* ---------------------------------------------------------------- devices */

static CUresult dev_check(CUdevice d)
{
    CU_CHECK_INIT();
    if (d < 0 || d >= gpx__cu.ndev)
        return CUDA_ERROR_INVALID_DEVICE;
    return CUDA_SUCCESS;
}

static struct gpx_sim_gpu *gpu_of(CUdevice d)
{
    return &gpx__cu.st.gpus[gpx__cu.vis[d]];
}

/* The MIG device ordinal `d` stands for, or NULL for a whole GPU. */
static const struct sim_mig_view *mig_of(CUdevice d)
{
    const struct sim_mig_view *v = &gpx__cu.mig[gpx__cu.vis[d]];
    return v->on ? v : NULL;
}

uint32_t gpx__cu_sm_count(uint32_t gpu)
{
    const struct sim_mig_view *v = &gpx__cu.mig[gpu];
    return v->on ? v->sm_count : gpx__cu.st.gpus[gpu].sm_count;
}

SIM_EXPORT CUresult cuDeviceGet(CUdevice *device, int ordinal)
{
    CU_CHECK_INIT();
    if (!device)
        return CUDA_ERROR_INVALID_VALUE;
    if (ordinal < 0 || ordinal >= gpx__cu.ndev)
        return CUDA_ERROR_INVALID_DEVICE;
    *device = ordinal;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuDeviceGetCount(int *count)
{
    CU_CHECK_INIT();
    if (!count)
        return CUDA_ERROR_INVALID_VALUE;
    *count = gpx__cu.ndev;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
    CUresult r = dev_check(dev);
    if (r)
        return r;
    if (!name || len <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    const struct sim_mig_view *m = mig_of(dev);
    snprintf(name, (size_t)len, "%s", m ? m->name : gpu_of(dev)->name);
    return CUDA_SUCCESS;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The 16 bytes of a "GPU-…" or "MIG-…" UUID string. */
static void uuid_bytes(const char *text, CUuuid *uuid)
{
    memset(uuid, 0, sizeof *uuid);
    const char *s = text + 4; /* after "GPU-" / "MIG-" */
    int n = 0;
    for (; *s && n < 32; s++) {
        int v = hexval(*s);
        if (v < 0)
            continue;
        uuid->bytes[n / 2] = (char)(uuid->bytes[n / 2] | (n % 2 ? v : v << 4));
        n++;
    }
}

/* _v2 (CUDA 11.4 on) gives a MIG device's own UUID; the original call its GPU's. */
SIM_EXPORT CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev)
{
    CUresult r = dev_check(dev);
    if (r)
        return r;
    if (!uuid)
        return CUDA_ERROR_INVALID_VALUE;
    const struct sim_mig_view *m = mig_of(dev);
    uuid_bytes(m ? m->uuid : gpu_of(dev)->uuid, uuid);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev)
{
    CUresult r = dev_check(dev);
    if (r)
        return r;
    if (!uuid)
        return CUDA_ERROR_INVALID_VALUE;
    uuid_bytes(gpu_of(dev)->uuid, uuid);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
    CUresult r = dev_check(dev);
    if (r)
        return r;
    if (!bytes)
        return CUDA_ERROR_INVALID_VALUE;
    const struct sim_mig_view *m = mig_of(dev);
    *bytes = (size_t)(m ? m->memory_total : gpu_of(dev)->memory_total);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuDeviceTotalMem(unsigned int *bytes, CUdevice dev)
{
    size_t b = 0;
    CUresult r = bytes ? cuDeviceTotalMem_v2(&b, dev) : CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS)
        *bytes = b > UINT_MAX ? UINT_MAX : (unsigned int)b;
    return r;
}

/* Per-architecture figures deviceQuery reports. */
struct arch_info {
    int bus_width, l2, smem_per_sm, smem_optin, copy_engines, clusters, sync_domains;
};

static struct arch_info arch_of(const struct gpx_sim_gpu *g)
{
    switch (g->model) {
    case GPX_SIM_A100_40GB:
    case GPX_SIM_A100_80GB:
        return (struct arch_info){5120, 40 << 20, 167936, 166912, 3, 0, 1};
    case GPX_SIM_H200_141GB:
        return (struct arch_info){6144, 50 << 20, 233472, 232448, 5, 1, 4};
    default:
        return (struct arch_info){5120, 50 << 20, 233472, 232448, 5, 1, 4};
    }
}

/*
 * The texture and surface limits of compute capability 8.x and 9.x (the CUDA
 * programming guide's technical specifications; what deviceQuery prints for an
 * A100 or H100: 1D=(131072), 2D=(131072, 65536), 3D=(16384, 16384, 16384),
 * layered 1D=(32768) and 2D=(32768, 32768) with 2048 layers, surface alignment
 * 512). By attribute number: most have no name in src/abi/cuda_abi.h. -1 for a
 * number in 21-77 that is no texture or surface limit.
 */
static int texture_limit(int a)
{
    switch (a) {
    case 21: /* TEXTURE1D_WIDTH */
    case 22: /* TEXTURE2D_WIDTH */
    case 56: /* SURFACE2D_WIDTH */
    case 70: /* TEXTURE2D_LINEAR_WIDTH */
        return 131072;
    case 23: /* TEXTURE2D_HEIGHT */
    case 57: /* SURFACE2D_HEIGHT */
        return 65536;
    case 71: /* TEXTURE2D_LINEAR_HEIGHT */
        return 65000;
    case 72: /* TEXTURE2D_LINEAR_PITCH */
        return 2097120;
    case 24: /* TEXTURE3D_WIDTH, HEIGHT, DEPTH */
    case 25:
    case 26:
    case 58: /* SURFACE3D_WIDTH, HEIGHT, DEPTH */
    case 59:
    case 60:
        return 16384;
    case 47: /* TEXTURE3D_WIDTH_ALTERNATE, HEIGHT_ALTERNATE */
    case 48:
        return 8192;
    case 29: /* TEXTURE2D_LAYERED_LAYERS */
    case 43: /* TEXTURE1D_LAYERED_LAYERS */
    case 62: /* SURFACE1D_LAYERED_LAYERS */
    case 65: /* SURFACE2D_LAYERED_LAYERS */
        return 2048;
    case 54: /* TEXTURECUBEMAP_LAYERED_LAYERS */
    case 68: /* SURFACECUBEMAP_LAYERED_LAYERS */
        return 2046;
    case 30: /* SURFACE_ALIGNMENT */
        return 512;
    case 69: /* TEXTURE1D_LINEAR_WIDTH (deprecated) */
        return 268435456;
    case 31: /* CONCURRENT_KERNELS .. not limits: answered above or 0 */
    case 32:
    case 33:
    case 34:
    case 35:
    case 36:
    case 37:
    case 38:
    case 39:
    case 40:
    case 41:
    case 44:
    case 50:
    case 51:
        return -1;
    default: /* the other widths and heights: 1D/2D layered, gather, cubemap, mipmapped, surfaces */
        return 32768;
    }
}
static int attr_value(const struct gpx_sim_gpu *g, CUdevice_attribute a, int *v)
{
    struct arch_info ai = arch_of(g);
    switch (a) {
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X:
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y:
        *v = 1024;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z:
        *v = 64;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X:
        *v = INT_MAX;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y:
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z:
        *v = 65535;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK:
        *v = 49152;
        break;
    case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY:
        *v = 65536;
        break;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE:
        *v = 32;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_PITCH:
        *v = INT_MAX;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK:
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR:
        *v = 65536;
        break;
    case CU_DEVICE_ATTRIBUTE_CLOCK_RATE:
        *v = (int)g->sm_clock_max_mhz * 1000;
        break;
    case CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT:
        *v = 512;
        break;
    case CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT:
        *v = 32;
        break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
        *v = (int)g->sm_count;
        break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_MODE:
        *v = CU_COMPUTEMODE_DEFAULT;
        break;
    case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID:
        *v = (int)g->pci_bus;
        break;
    case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID:
        *v = (int)g->pci_device;
        break;
    case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID:
        *v = (int)g->pci_domain;
        break;
    case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE:
        *v = (int)g->mem_clock_mhz * 1000;
        break;
    case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH:
        *v = ai.bus_width;
        break;
    case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE:
        *v = ai.l2;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE:
        *v = ai.l2 / 8 * 5;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_ACCESS_POLICY_WINDOW_SIZE:
        *v = 134213632;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR:
        *v = 2048;
        break;
    case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT:
        *v = ai.copy_engines;
        break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
        *v = (int)g->cc_major;
        break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
        *v = (int)g->cc_minor;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR:
        *v = ai.smem_per_sm;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
        *v = ai.smem_optin;
        break;
    case CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK:
        *v = 1024;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR:
        *v = 32;
        break;
    case CU_DEVICE_ATTRIBUTE_SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO:
        *v = 2;
        break;
    case CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH:
    case CU_DEVICE_ATTRIBUTE_TENSOR_MAP_ACCESS_SUPPORTED:
        *v = ai.clusters;
        break;
    case CU_DEVICE_ATTRIBUTE_MEM_SYNC_DOMAIN_COUNT:
        *v = ai.sync_domains;
        break;
    case CU_DEVICE_ATTRIBUTE_MEMPOOL_SUPPORTED_HANDLE_TYPES:
        *v = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
        break;
    case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_FLUSH_WRITES_OPTIONS:
        *v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_WRITES_ORDERING:
        *v = 100;
        break;
    case CU_DEVICE_ATTRIBUTE_NUMA_ID:
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_ID:
        *v = -1;
        break;
    /* Boolean capabilities a data-centre GPU has. */
    case CU_DEVICE_ATTRIBUTE_GPU_OVERLAP:
    case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY:
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS:
    case CU_DEVICE_ATTRIBUTE_ECC_ENABLED:
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING:
    case CU_DEVICE_ATTRIBUTE_STREAM_PRIORITIES_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_GLOBAL_L1_CACHE_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_LOCAL_L1_CACHE_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY:
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS:
    case CU_DEVICE_ATTRIBUTE_COMPUTE_PREEMPTION_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM:
    case CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH:
    case CU_DEVICE_ATTRIBUTE_COOPERATIVE_MULTI_DEVICE_LAUNCH:
    case CU_DEVICE_ATTRIBUTE_CAN_FLUSH_REMOTE_WRITES:
    case CU_DEVICE_ATTRIBUTE_HOST_REGISTER_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_GENERIC_COMPRESSION_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_WITH_CUDA_VMM_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_SPARSE_CUDA_ARRAY_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_READ_ONLY_HOST_REGISTER_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_TIMELINE_SEMAPHORE_INTEROP_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_DEFERRED_MAPPING_CUDA_ARRAY_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_CAN_USE_64_BIT_STREAM_MEM_OPS:
    case CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_WAIT_VALUE_NOR:
    case CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_IPC_EVENT_SUPPORTED:
        *v = 1;
        break;
    /* Capabilities it lacks (or that are off on a compute node). */
    case CU_DEVICE_ATTRIBUTE_KERNEL_EXEC_TIMEOUT:
    case CU_DEVICE_ATTRIBUTE_INTEGRATED:
    case CU_DEVICE_ATTRIBUTE_TCC_DRIVER:
    case CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD:
    case CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD_GROUP_ID:
    case CU_DEVICE_ATTRIBUTE_HOST_NATIVE_ATOMIC_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS:
    case CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS_USES_HOST_PAGE_TABLES:
    case CU_DEVICE_ATTRIBUTE_DIRECT_MANAGED_MEM_ACCESS_FROM_HOST:
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_WIN32_HANDLE_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_WIN32_KMT_HANDLE_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_UNIFIED_FUNCTION_POINTERS:
    case CU_DEVICE_ATTRIBUTE_NUMA_CONFIG:
    case CU_DEVICE_ATTRIBUTE_MULTICAST_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_MPS_ENABLED:
        *v = 0;
        break;
    default:
        /* Texture and surface limits (21–77) that are not listed above. */
        if ((int)a >= 21 && (int)a <= 77 && texture_limit((int)a) >= 0) {
            *v = texture_limit((int)a);
            break;
        }
        if ((int)a > 0 && (int)a <= 134) {
            *v = 0;
            break;
        }
        return -1;
    }
    return 0;
}

SIM_EXPORT CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)
{
    CUresult r = dev_check(dev);
    if (r)
        return r;
    if (!pi)
        return CUDA_ERROR_INVALID_VALUE;
    if (attr_value(gpu_of(dev), attrib, pi) < 0)
        return CUDA_ERROR_INVALID_VALUE;
    /* A MIG device has its compute instance's SMs; other figures are the board's. */
    if (attrib == CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
        *pi = (int)gpx__cu_sm_count(gpx__cu.vis[dev]);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuDeviceComputeCapability(int *major, int *minor, CUdevice dev)
{
    CUresult r = dev_check(dev);
    if (r)
        return r;
    if (!major || !minor)
        return CUDA_ERROR_INVALID_VALUE;
    *major = (int)gpu_of(dev)->cc_major;
    *minor = (int)gpu_of(dev)->cc_minor;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuDeviceGetPCIBusId(char *pciBusId, int len, CUdevice dev)
{
    CUresult r = dev_check(dev);
    if (r)
        return r;
    if (!pciBusId || len <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    const struct gpx_sim_gpu *g = gpu_of(dev);
    snprintf(pciBusId, (size_t)len, "%04X:%02X:%02X.0", g->pci_domain, g->pci_bus, g->pci_device);
    return CUDA_SUCCESS;
}

/* One hexadecimal field of a PCI bus id and the separator `sep` after it ('\0': anything may
 * follow, as with sscanf's %x). Returns where the next field starts, NULL when there is none. */
static const char *pci_field(const char *s, char sep, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 16);
    if (end == s || v > UINT_MAX || (sep && *end != sep))
        return NULL;
    *out = (unsigned)v;
    return sep ? end + 1 : end;
}

SIM_EXPORT CUresult cuDeviceGetByPCIBusId(CUdevice *dev, const char *pciBusId)
{
    CU_CHECK_INIT();
    if (!dev || !pciBusId)
        return CUDA_ERROR_INVALID_VALUE;
    unsigned dom = 0, bus = 0, d = 0, fn = 0;
    /* "domain:bus:device.function" with a 4- or 8-digit domain, or "bus:device.function". */
    const char *s = pci_field(pciBusId, ':', &dom);
    s = s ? pci_field(s, ':', &bus) : NULL;
    s = s ? pci_field(s, '.', &d) : NULL;
    s = s ? pci_field(s, '\0', &fn) : NULL;
    if (!s) {
        dom = 0;
        s = pci_field(pciBusId, ':', &bus);
        s = s ? pci_field(s, '.', &d) : NULL;
        s = s ? pci_field(s, '\0', &fn) : NULL;
        if (!s)
            return CUDA_ERROR_INVALID_VALUE;
    }
    for (int i = 0; i < gpx__cu.ndev; i++) {
        const struct gpx_sim_gpu *g = gpu_of(i);
        if (g->pci_domain == dom && g->pci_bus == bus && g->pci_device == d && fn == 0) {
            *dev = i;
            return CUDA_SUCCESS;
        }
    }
    return CUDA_ERROR_INVALID_DEVICE;
}

SIM_EXPORT CUresult cuDeviceCanAccessPeer(int *canAccessPeer, CUdevice dev, CUdevice peerDev)
{
    CUresult r = dev_check(dev);
    if (!r)
        r = dev_check(peerDev);
    if (r)
        return r;
    if (!canAccessPeer)
        return CUDA_ERROR_INVALID_VALUE;
    /* NVLink-connected boards; MIG devices have no peer access. */
    *canAccessPeer = dev != peerDev && !mig_of(dev) && !mig_of(peerDev);
    return CUDA_SUCCESS;
}

/* ---------------------------------------------------------------- contexts */

struct sim_ctx *gpx__cu_current(void)
{
    return tls_depth ? tls_stack[tls_depth - 1] : NULL;
}

CUresult gpx__cu_ctx_check(struct sim_ctx *c)
{
    if (!c || c->magic != MAGIC_CTX)
        return CUDA_ERROR_INVALID_CONTEXT;
    if (!c->alive)
        return c->primary ? CUDA_ERROR_CONTEXT_IS_DESTROYED : CUDA_ERROR_INVALID_CONTEXT;
    return CUDA_SUCCESS;
}

/*
 * This process's slot on physical GPU `gpu`, taken on first use, and bound to
 * the MIG device the process sees there (NVML then lists it with its GI/CI
 * ids). NULL with *why set when every slot is taken or the MIG device has
 * been destroyed since cuInit. Under mu.
 */
static struct gpx_sim_proc *slot_get(uint32_t gpu, CUresult *why)
{
    *why = CUDA_ERROR_OUT_OF_MEMORY;
    if (gpx__cu.slot[gpu])
        return gpx__cu.slot[gpu];
    struct gpx_sim_proc *p = gpx_sim_proc_attach(&gpx__cu.st, gpu, (int32_t)getpid());
    const struct sim_mig_view *m = &gpx__cu.mig[gpu];
    if (p && m->on && gpx_sim_mig_bind(&gpx__cu.st, gpu, p, m->gi, m->ci) < 0) {
        gpx_sim_proc_contexts_add(&gpx__cu.st, gpu, p, 0); /* gives the empty slot back */
        *why = CUDA_ERROR_DEVICE_UNAVAILABLE;
        p = NULL;
    }
    gpx__cu.slot[gpu] = p;
    return p;
}

static struct gpx_sim_proc *slot_of(uint32_t gpu)
{
    CUresult why;
    return slot_get(gpu, &why);
}

/* Makes `c` a live context on its GPU. Under mu. */
static CUresult ctx_open(struct sim_ctx *c)
{
    CUresult why;
    struct gpx_sim_proc *p = slot_get(c->gpu, &why);
    if (!p)
        return why; /* every process slot of the GPU is taken, or the MIG device is gone */
    gpx_sim_proc_contexts_add(&gpx__cu.st, c->gpu, p, +1);
    c->alive = 1;
    c->streams = NULL;
    atomic_store(&c->queue_end, 0);
    c->limits[CU_LIMIT_STACK_SIZE] = 1024;
    c->limits[CU_LIMIT_PRINTF_FIFO_SIZE] = 1 << 20;
    c->limits[CU_LIMIT_MALLOC_HEAP_SIZE] = 8 << 20;
    c->limits[CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH] = 2;
    c->limits[CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT] = 2048;
    c->limits[CU_LIMIT_MAX_L2_FETCH_GRANULARITY] = 64;
    c->limits[CU_LIMIT_PERSISTING_L2_CACHE_SIZE] = 0;
    memset(&c->legacy, 0, sizeof c->legacy);
    c->legacy.magic = MAGIC_STREAM;
    c->legacy.ctx = c;
    c->legacy.kind = STREAM_LEGACY;
    return CUDA_SUCCESS;
}

void gpx__cu_ctx_release_resources(struct sim_ctx *c)
{
    gpx__cu_ctx_drop_modules(c); /* first: they free their variables' memory */
    /* Freeing an imported object frees its views too, which may be anywhere in the
     * list: everything else first (each free unlinks only itself), then imports. */
    for (struct sim_alloc *a = gpx__cu.allocs, *next; a; a = next) {
        next = a->next;
        if (a->ctx == c && a->kind != AK_EXTMEM)
            gpx__cu_free_alloc(a);
    }
    for (struct sim_alloc *a = gpx__cu.allocs; a;) {
        if (a->ctx == c) {
            gpx__cu_free_alloc(a);
            a = gpx__cu.allocs;
        } else {
            a = a->next;
        }
    }
    gpx__cu_ctx_drop_streams(c);
}

/* Frees everything `c` owns and gives its context count back. Under mu. */
static void ctx_close(struct sim_ctx *c)
{
    if (!c->alive)
        return;
    gpx__cu_ctx_release_resources(c);
    c->alive = 0;
    struct gpx_sim_proc *p = gpx__cu.slot[c->gpu];
    if (p && gpx_sim_proc_contexts_add(&gpx__cu.st, c->gpu, p, -1))
        gpx__cu.slot[c->gpu] = NULL;
}

static void stack_remove(struct sim_ctx *c)
{
    if (tls_depth && tls_stack[tls_depth - 1] == c)
        tls_depth--;
}

SIM_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
    CUresult r = dev_check(dev);
    if (r)
        return r;
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_ctx *c = &gpx__cu.primary[dev];
    pthread_mutex_lock(&gpx__cu.mu);
    if (!c->alive)
        r = ctx_open(c);
    if (!r)
        c->refs++;
    pthread_mutex_unlock(&gpx__cu.mu);
    if (!r)
        *pctx = (CUcontext)c;
    return r;
}

SIM_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
    CUresult r = dev_check(dev);
    if (r)
        return r;
    struct sim_ctx *c = &gpx__cu.primary[dev];
    pthread_mutex_lock(&gpx__cu.mu);
    if (c->refs <= 0) {
        r = CUDA_ERROR_INVALID_CONTEXT;
    } else if (--c->refs == 0) {
        ctx_close(c);
    }
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

SIM_EXPORT CUresult cuDevicePrimaryCtxRelease(CUdevice dev)
{
    return cuDevicePrimaryCtxRelease_v2(dev);
}

SIM_EXPORT CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
    CUresult r = dev_check(dev);
    if (r)
        return r;
    struct sim_ctx *c = &gpx__cu.primary[dev];
    pthread_mutex_lock(&gpx__cu.mu);
    ctx_close(c);
    c->refs = 0;
    c->flags = 0;
    pthread_mutex_unlock(&gpx__cu.mu);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuDevicePrimaryCtxReset(CUdevice dev)
{
    return cuDevicePrimaryCtxReset_v2(dev);
}

SIM_EXPORT CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags)
{
    CUresult r = dev_check(dev);
    if (r)
        return r;
    if (flags & ~(unsigned)CU_CTX_FLAGS_MASK)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&gpx__cu.mu);
    gpx__cu.primary[dev].flags = flags;
    pthread_mutex_unlock(&gpx__cu.mu);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags)
{
    CUresult r = dev_check(dev);
    if (r)
        return r;
    /* The pre-11.0 entry point refuses while the context is active. */
    if (gpx__cu.primary[dev].alive)
        return CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE;
    return cuDevicePrimaryCtxSetFlags_v2(dev, flags);
}

SIM_EXPORT CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active)
{
    CUresult r = dev_check(dev);
    if (r)
        return r;
    if (!flags || !active)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&gpx__cu.mu);
    *flags = gpx__cu.primary[dev].flags;
    *active = gpx__cu.primary[dev].alive;
    pthread_mutex_unlock(&gpx__cu.mu);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    CUresult r = dev_check(dev);
    if (r)
        return r;
    if (!pctx || (flags & ~(unsigned)CU_CTX_FLAGS_MASK))
        return CUDA_ERROR_INVALID_VALUE;
    if (tls_depth >= CTX_STACK_MAX)
        return CUDA_ERROR_UNKNOWN;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_ctx *c = NULL;
    for (struct sim_ctx *k = created_ctxs; k; k = k->next_created)
        if (k->magic == MAGIC_DEAD) {
            c = k;
            break;
        }
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c) {
            pthread_mutex_unlock(&gpx__cu.mu);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        c->next_created = created_ctxs;
        created_ctxs = c;
    }
    c->magic = MAGIC_CTX;
    c->device = dev;
    c->gpu = gpx__cu.vis[dev];
    c->primary = 0;
    c->refs = 1;
    c->flags = flags;
    r = ctx_open(c);
    if (r)
        c->magic = MAGIC_DEAD;
    pthread_mutex_unlock(&gpx__cu.mu);
    if (r)
        return r;
    tls_stack[tls_depth++] = c;
    *pctx = (CUcontext)c;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    return cuCtxCreate_v2(pctx, flags, dev);
}

SIM_EXPORT CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *paramsArray, int numParams,
                                   unsigned int flags, CUdevice dev)
{
    /* Execution affinity (SM partitioning) is not simulated: every context gets the whole GPU. */
    if (numParams < 0 || (numParams > 0 && !paramsArray))
        return CUDA_ERROR_INVALID_VALUE;
    return cuCtxCreate_v2(pctx, flags, dev);
}

SIM_EXPORT CUresult cuCtxDestroy_v2(CUcontext ctx)
{
    CU_CHECK_INIT();
    struct sim_ctx *c = (struct sim_ctx *)ctx;
    pthread_mutex_lock(&gpx__cu.mu);
    CUresult r = gpx__cu_ctx_check(c);
    if (!r && c->primary)
        r = CUDA_ERROR_INVALID_CONTEXT;
    if (!r) {
        ctx_close(c);
        c->magic = MAGIC_DEAD;
    }
    pthread_mutex_unlock(&gpx__cu.mu);
    if (!r)
        stack_remove(c);
    return r;
}

SIM_EXPORT CUresult cuCtxDestroy(CUcontext ctx)
{
    return cuCtxDestroy_v2(ctx);
}

SIM_EXPORT CUresult cuCtxPushCurrent_v2(CUcontext ctx)
{
    CU_CHECK_INIT();
    struct sim_ctx *c = (struct sim_ctx *)ctx;
    CUresult r = gpx__cu_ctx_check(c);
    if (r)
        return r;
    if (tls_depth >= CTX_STACK_MAX)
        return CUDA_ERROR_UNKNOWN;
    tls_stack[tls_depth++] = c;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxPushCurrent(CUcontext ctx)
{
    return cuCtxPushCurrent_v2(ctx);
}

SIM_EXPORT CUresult cuCtxPopCurrent_v2(CUcontext *pctx)
{
    CU_CHECK_INIT();
    if (tls_depth == 0)
        return CUDA_ERROR_INVALID_CONTEXT;
    struct sim_ctx *c = tls_stack[--tls_depth];
    if (pctx)
        *pctx = (CUcontext)c;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxPopCurrent(CUcontext *pctx)
{
    return cuCtxPopCurrent_v2(pctx);
}

SIM_EXPORT CUresult cuCtxSetCurrent(CUcontext ctx)
{
    CU_CHECK_INIT();
    struct sim_ctx *c = (struct sim_ctx *)ctx;
    if (!c) {
        if (tls_depth)
            tls_depth--;
        return CUDA_SUCCESS;
    }
    CUresult r = gpx__cu_ctx_check(c);
    if (r)
        return r;
    if (tls_depth)
        tls_stack[tls_depth - 1] = c;
    else
        tls_stack[tls_depth++] = c;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxGetCurrent(CUcontext *pctx)
{
    CU_CHECK_INIT();
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    *pctx = (CUcontext)gpx__cu_current();
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxGetDevice(CUdevice *device)
{
    CURRENT_OR_RETURN(c);
    if (!device)
        return CUDA_ERROR_INVALID_VALUE;
    *device = c->device;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxGetFlags(unsigned int *flags)
{
    CURRENT_OR_RETURN(c);
    if (!flags)
        return CUDA_ERROR_INVALID_VALUE;
    *flags = c->flags;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxGetApiVersion(CUcontext ctx, unsigned int *version)
{
    CU_CHECK_INIT();
    struct sim_ctx *c = ctx ? (struct sim_ctx *)ctx : gpx__cu_current();
    CUresult r = gpx__cu_ctx_check(c);
    if (r)
        return r;
    if (!version)
        return CUDA_ERROR_INVALID_VALUE;
    *version = 3020;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxSetLimit(CUlimit limit, size_t value)
{
    CURRENT_OR_RETURN(c);
    if ((unsigned)limit > CU_LIMIT_PERSISTING_L2_CACHE_SIZE)
        return CUDA_ERROR_UNSUPPORTED_LIMIT;
    c->limits[limit] = value;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxGetLimit(size_t *pvalue, CUlimit limit)
{
    CURRENT_OR_RETURN(c);
    if (!pvalue)
        return CUDA_ERROR_INVALID_VALUE;
    if ((unsigned)limit > CU_LIMIT_PERSISTING_L2_CACHE_SIZE)
        return CUDA_ERROR_UNSUPPORTED_LIMIT;
    *pvalue = c->limits[limit];
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxGetStreamPriorityRange(int *leastPriority, int *greatestPriority)
{
    CURRENT_OR_RETURN(c);
    (void)c;
    if (leastPriority)
        *leastPriority = 0;
    if (greatestPriority)
        *greatestPriority = -5;
    return CUDA_SUCCESS;
}

/* ---------------------------------------------------------------- allocation records */

/* The index is an array of pointers sorted by base: the size of one of its entries. */
static const size_t index_entry = sizeof(struct sim_alloc *); // NOLINT(bugprone-sizeof-expression)

static size_t page_round(size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    return (n + pg - 1) / pg * pg;
}

struct sim_alloc *gpx__cu_lookup(uintptr_t p)
{
    size_t lo = 0, hi = gpx__cu.index_n;
    while (lo < hi) { /* first index with base > p */
        size_t mid = (lo + hi) / 2;
        if (gpx__cu.index[mid]->base <= p)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    struct sim_alloc *a = gpx__cu.index[lo - 1];
    return p - a->base < (a->size ? a->size : 1) ? a : NULL;
}

static int index_add(struct sim_alloc *a)
{
    if (gpx__cu.index_n == gpx__cu.index_cap) {
        size_t cap = gpx__cu.index_cap ? gpx__cu.index_cap * 2 : 64;
        struct sim_alloc **v = realloc(gpx__cu.index, cap * index_entry);
        if (!v)
            return -1;
        gpx__cu.index = v;
        gpx__cu.index_cap = cap;
    }
    size_t lo = 0, hi = gpx__cu.index_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (gpx__cu.index[mid]->base < a->base)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(&gpx__cu.index[lo + 1], &gpx__cu.index[lo], (gpx__cu.index_n - lo) * index_entry);
    gpx__cu.index[lo] = a;
    gpx__cu.index_n++;
    return 0;
}

static void index_del(struct sim_alloc *a)
{
    for (size_t lo = 0, hi = gpx__cu.index_n; lo < hi;) {
        size_t mid = (lo + hi) / 2;
        if (gpx__cu.index[mid]->base < a->base) {
            lo = mid + 1;
        } else {
            /* Equal bases are possible for external-memory views: scan the run. */
            for (size_t i = mid; i < gpx__cu.index_n && gpx__cu.index[i]->base == a->base; i++)
                if (gpx__cu.index[i] == a) {
                    memmove(&gpx__cu.index[i], &gpx__cu.index[i + 1],
                            (gpx__cu.index_n - i - 1) * index_entry);
                    gpx__cu.index_n--;
                    return;
                }
            for (size_t i = mid; i-- > 0 && gpx__cu.index[i]->base == a->base;)
                if (gpx__cu.index[i] == a) {
                    memmove(&gpx__cu.index[i], &gpx__cu.index[i + 1],
                            (gpx__cu.index_n - i - 1) * index_entry);
                    gpx__cu.index_n--;
                    return;
                }
            hi = mid;
        }
    }
}

static void list_add(struct sim_alloc *a)
{
    a->prev = NULL;
    a->next = gpx__cu.allocs;
    if (a->next)
        a->next->prev = a;
    gpx__cu.allocs = a;
}

static void list_del(struct sim_alloc *a)
{
    if (a->prev)
        a->prev->next = a->next;
    else
        gpx__cu.allocs = a->next;
    if (a->next)
        a->next->prev = a->prev;
}

/* On a MIG device, allocations must also fit its GPU instance's memory. */
static CUresult charge(uint32_t gpu, uint64_t bytes)
{
    if (!bytes)
        return CUDA_SUCCESS;
    struct gpx_sim_proc *p = slot_of(gpu);
    const struct sim_mig_view *m = &gpx__cu.mig[gpu];
    if (!p)
        return CUDA_ERROR_OUT_OF_MEMORY;
    int rc = m->on ? gpx_sim_mig_charge(&gpx__cu.st, gpu, p, m->gi, m->memory_total, bytes)
                   : gpx_sim_mem_charge(&gpx__cu.st, gpu, p, bytes);
    return rc < 0 ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_SUCCESS;
}

static void uncharge(uint32_t gpu, uint64_t bytes)
{
    struct gpx_sim_proc *p = gpx__cu.slot[gpu];
    if (!bytes)
        return;
    gpx_sim_mem_uncharge(&gpx__cu.st, gpu, p, bytes);
    /* Memory on a GPU where the process holds no context: leave its list when it is gone. */
    if (p && p->contexts == 0 && atomic_load(&p->used_bytes) == 0 &&
        gpx_sim_proc_contexts_add(&gpx__cu.st, gpu, p, 0))
        gpx__cu.slot[gpu] = NULL;
}

/* Host memory standing in for `size` bytes of device memory; NULL when the host has none. */
static void *backing_new(size_t size, int low32, size_t *map_len)
{
    if (!low32 && size <= SMALL_ALLOC) {
        void *p = NULL;
        *map_len = 0;
        return posix_memalign(&p, DEVICE_ALIGN, size ? size : 1) == 0 ? p : NULL;
    }
    size_t len = page_round(size ? size : 1);
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
#ifdef MAP_32BIT
    if (low32)
        flags |= MAP_32BIT;
#endif
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (low32 && (uintptr_t)p + len > UINT32_MAX) {
        munmap(p, len);
        return NULL;
    }
    *map_len = len;
    return p;
}

static void backing_free(void *mem, size_t map_len)
{
    if (!mem)
        return;
    if (map_len)
        munmap(mem, map_len);
    else
        free(mem);
}

/*
 * Creates a record: charges `charged` bytes to `gpu` first (refusing past the
 * GPU's capacity), then finds host memory, then files the record. Under mu.
 */
static CUresult alloc_new(enum sim_alloc_kind kind, struct sim_ctx *ctx, uint32_t gpu, size_t size,
                          uint64_t charged, int with_memory, int low32, struct sim_alloc **out)
{
    CUresult r = charge(gpu, charged);
    if (r)
        return r;
    struct sim_alloc *a = calloc(1, sizeof *a);
    if (!a) {
        uncharge(gpu, charged);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    a->kind = kind;
    a->ctx = ctx;
    a->gpu = gpu;
    a->size = size;
    a->charged = charged;
    if (with_memory) {
        a->mem = backing_new(size, low32, &a->map_len);
        if (!a->mem) {
            free(a);
            uncharge(gpu, charged);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        a->base = (uintptr_t)a->mem;
        if (index_add(a) < 0) {
            backing_free(a->mem, a->map_len);
            free(a);
            uncharge(gpu, charged);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
    }
    list_add(a);
    *out = a;
    return CUDA_SUCCESS;
}

static void pool_release(struct sim_pool *p, uint64_t bytes);
static void vmm_unmap_all(struct sim_alloc *res);

CUresult gpx__cu_free_alloc(struct sim_alloc *a)
{
    if (a->kind == AK_RESERVE)
        vmm_unmap_all(a);
    if (a->base)
        index_del(a);
    list_del(a);
    if (a->kind == AK_EXTMEM) {
        /* Views of an imported object go with it. `a` leaves the list first, so no link of
         * `a` is read after a view it pointed to is freed. */
        for (struct sim_alloc *b = gpx__cu.allocs, *next; b; b = next) {
            next = b->next;
            if (b->kind == AK_EXTBUF && b->owner == a)
                gpx__cu_free_alloc(b);
        }
    }
    if (a->kind == AK_ASYNC && a->pool) {
        struct sim_pool *p = a->pool;
        p->used -= a->size;
        pool_release(p, a->size);
        if (p->destroyed && p->used == 0 && !p->is_default) {
            p->magic = MAGIC_DEAD;
            free(p);
        }
    } else {
        uncharge(a->gpu, a->charged);
    }
    if (a->kind == AK_RESERVE)
        munmap(a->mem, a->map_len);
    else if (a->kind != AK_EXTBUF && a->kind != AK_HOSTREG)
        backing_free(a->mem, a->map_len);
    a->magic = MAGIC_DEAD;
    free(a);
    return CUDA_SUCCESS;
}

CUresult gpx__cu_check_range(uintptr_t p, size_t n, int host_ok)
{
    struct sim_alloc *a = gpx__cu_lookup(p);
    if (!a)
        return host_ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    if (a->kind == AK_RESERVE) {
        /* Every byte must lie in a mapping that allows access. */
        uintptr_t cur = p, end = p + n;
        while (cur < end) {
            struct sim_vmm_map *m = a->maps;
            for (; m; m = m->next)
                if (cur >= m->va && cur < m->va + m->size)
                    break;
            if (!m || !(m->prot & PROT_READ))
                return CUDA_ERROR_INVALID_VALUE;
            cur = m->va + m->size;
        }
        return CUDA_SUCCESS;
    }
    if (n > a->size || p - a->base > a->size - n)
        return CUDA_ERROR_INVALID_VALUE;
    return CUDA_SUCCESS;
}

CUresult gpx__cu_alloc_global(struct sim_ctx *c, size_t size, struct sim_alloc **out)
{
    return alloc_new(AK_DEVICE, c, c->gpu, size ? size : 1, size ? size : 1, 1, 0, out);
}

CUresult gpx__cu_graph_mem_new(struct sim_ctx *c, size_t size, struct sim_alloc **out)
{
    /* Owned by its graph, not the context: its address is fixed when the node is added. */
    return alloc_new(AK_GRAPH, NULL, c->gpu, size, 0, 1, 0, out);
}

CUresult gpx__cu_graph_mem_charge(struct sim_alloc *a)
{
    if (a->charged)
        return CUDA_SUCCESS;
    CUresult r = charge(a->gpu, a->size);
    if (!r)
        a->charged = a->size;
    return r;
}

void gpx__cu_graph_mem_uncharge(struct sim_alloc *a)
{
    uncharge(a->gpu, a->charged);
    a->charged = 0;
}

/* ---------------------------------------------------------------- linear memory */

static CUresult mem_alloc(CUdeviceptr *dptr, size_t size, enum sim_alloc_kind kind, int low32)
{
    CURRENT_OR_RETURN(c);
    if (!dptr || size == 0)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_alloc *a;
    pthread_mutex_lock(&gpx__cu.mu);
    CUresult r = alloc_new(kind, c, c->gpu, size, size, 1, low32, &a);
    pthread_mutex_unlock(&gpx__cu.mu);
    if (!r)
        *dptr = (CUdeviceptr)a->base;
    return r;
}

SIM_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
    return mem_alloc(dptr, bytesize, AK_DEVICE, 0);
}

SIM_EXPORT CUresult cuMemAlloc(CUdeviceptr_v1 *dptr, unsigned int bytesize)
{
    if (!dptr)
        return CUDA_ERROR_INVALID_VALUE;
    CUdeviceptr p = 0;
    CUresult r = mem_alloc(&p, bytesize, AK_LEGACY, 1);
    if (!r)
        *dptr = (CUdeviceptr_v1)p;
    return r;
}

static CUresult mem_alloc_pitch(CUdeviceptr *dptr, size_t *pitch, size_t width, size_t height,
                                unsigned elem, enum sim_alloc_kind kind, int low32)
{
    if (!dptr || !pitch || width == 0 || height == 0 || (elem != 4 && elem != 8 && elem != 16))
        return CUDA_ERROR_INVALID_VALUE;
    size_t p = (width + PITCH_ALIGN - 1) / PITCH_ALIGN * PITCH_ALIGN;
    if (p < width || height > SIZE_MAX / p)
        return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult r = mem_alloc(dptr, p * height, kind, low32);
    if (!r)
        *pitch = p;
    return r;
}

SIM_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes,
                                       size_t Height, unsigned int ElementSizeBytes)
{
    return mem_alloc_pitch(dptr, pPitch, WidthInBytes, Height, ElementSizeBytes, AK_DEVICE, 0);
}

SIM_EXPORT CUresult cuMemAllocPitch(CUdeviceptr_v1 *dptr, unsigned int *pPitch,
                                    unsigned int WidthInBytes, unsigned int Height,
                                    unsigned int ElementSizeBytes)
{
    if (!dptr || !pPitch)
        return CUDA_ERROR_INVALID_VALUE;
    CUdeviceptr p = 0;
    size_t pitch = 0;
    CUresult r = mem_alloc_pitch(&p, &pitch, WidthInBytes, Height, ElementSizeBytes, AK_LEGACY, 1);
    if (!r) {
        *dptr = (CUdeviceptr_v1)p;
        *pPitch = (unsigned int)pitch;
    }
    return r;
}

SIM_EXPORT CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
    if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST)
        return CUDA_ERROR_INVALID_VALUE;
    return mem_alloc(dptr, bytesize, AK_MANAGED, 0);
}

/* Frees a cuMemAlloc-family pointer (or an external-memory view). */
static CUresult mem_free(CUdeviceptr dptr, int legacy)
{
    CURRENT_OR_RETURN(c);
    (void)c;
    if (dptr == 0)
        return CUDA_SUCCESS;
    CUresult r = CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_alloc *a = gpx__cu_lookup((uintptr_t)dptr);
    if (a && a->base == dptr && a->kind == AK_GRAPH && !legacy) {
        /* Graph memory freed outside the graph: its bytes go back, its graph keeps the address. */
        r = a->charged ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
        gpx__cu_graph_mem_uncharge(a);
    } else if (a && a->base == dptr &&
               (a->kind == AK_DEVICE || a->kind == AK_MANAGED || a->kind == AK_ASYNC ||
                a->kind == AK_EXTBUF || a->kind == AK_LEGACY) &&
               (!legacy || a->kind == AK_LEGACY))
        r = gpx__cu_free_alloc(a);
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

SIM_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr)
{
    return mem_free(dptr, 0);
}

SIM_EXPORT CUresult cuMemFree(CUdeviceptr_v1 dptr)
{
    return mem_free(dptr, 1);
}

SIM_EXPORT CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total)
{
    CURRENT_OR_RETURN(c);
    if (!free_bytes || !total)
        return CUDA_ERROR_INVALID_VALUE;
    struct gpx_sim_gpu *g = &gpx__cu.st.gpus[c->gpu];
    uint64_t cap = g->memory_total > g->memory_reserved ? g->memory_total - g->memory_reserved : 0;
    uint64_t used = atomic_load(&g->memory_used);
    uint64_t free_b = used < cap ? cap - used : 0;
    *total = (size_t)g->memory_total;
    const struct sim_mig_view *m = &gpx__cu.mig[c->gpu];
    if (m->on) {
        /* The GPU instance's memory, less what every process on it holds. */
        uint64_t held = gpx_sim_mig_held(&gpx__cu.st, c->gpu, m->gi);
        uint64_t mig_free = held < m->memory_total ? m->memory_total - held : 0;
        free_b = mig_free < free_b ? mig_free : free_b;
        *total = (size_t)m->memory_total;
    }
    *free_bytes = (size_t)free_b;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuMemGetInfo(unsigned int *free_bytes, unsigned int *total)
{
    size_t f = 0, t = 0;
    if (!free_bytes || !total)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = cuMemGetInfo_v2(&f, &t);
    if (!r) {
        *free_bytes = f > UINT_MAX ? UINT_MAX : (unsigned int)f;
        *total = t > UINT_MAX ? UINT_MAX : (unsigned int)t;
    }
    return r;
}

SIM_EXPORT CUresult cuMemGetAddressRange_v2(CUdeviceptr *pbase, size_t *psize, CUdeviceptr dptr)
{
    CURRENT_OR_RETURN(c);
    (void)c;
    CUresult r = CUDA_ERROR_NOT_FOUND;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_alloc *a = gpx__cu_lookup((uintptr_t)dptr);
    if (a && a->kind == AK_RESERVE) {
        for (struct sim_vmm_map *m = a->maps; m; m = m->next)
            if (dptr >= m->va && dptr < m->va + m->size) {
                if (pbase)
                    *pbase = m->va;
                if (psize)
                    *psize = m->size;
                r = CUDA_SUCCESS;
            }
    } else if (a && a->kind != AK_HOST && a->kind != AK_HOSTREG) {
        if (pbase)
            *pbase = a->base;
        if (psize)
            *psize = a->size;
        r = CUDA_SUCCESS;
    }
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

SIM_EXPORT CUresult cuMemGetAddressRange(CUdeviceptr_v1 *pbase, unsigned int *psize,
                                         CUdeviceptr_v1 dptr)
{
    CUdeviceptr b = 0;
    size_t s = 0;
    CUresult r = cuMemGetAddressRange_v2(&b, &s, dptr);
    if (!r) {
        if (pbase)
            *pbase = (CUdeviceptr_v1)b;
        if (psize)
            *psize = (unsigned int)s;
    }
    return r;
}

SIM_EXPORT CUresult cuPointerGetAttribute(void *data, CUpointer_attribute attribute,
                                          CUdeviceptr ptr)
{
    CU_CHECK_INIT();
    if (!data)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_alloc *a = gpx__cu_lookup((uintptr_t)ptr);
    if (!a) {
        r = CUDA_ERROR_INVALID_VALUE;
        goto out;
    }
    int host = a->kind == AK_HOST || a->kind == AK_HOSTREG;
    switch (attribute) {
    case CU_POINTER_ATTRIBUTE_CONTEXT:
        *(CUcontext *)data = (CUcontext)a->ctx;
        break;
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
        *(unsigned int *)data = host ? CU_MEMORYTYPE_HOST : CU_MEMORYTYPE_DEVICE;
        break;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
        *(CUdeviceptr *)data = ptr;
        break;
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
        if (!host && a->kind != AK_MANAGED)
            r = CUDA_ERROR_INVALID_VALUE;
        else
            *(void **)data = (void *)(uintptr_t)ptr;
        break;
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:
    case CU_POINTER_ATTRIBUTE_MAPPED:
        *(int *)data = 1;
        break;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID:
        *(unsigned long long *)data = (unsigned long long)(uintptr_t)a;
        break;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED:
        *(int *)data = a->kind == AK_MANAGED;
        break;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL:
        *(int *)data = a->ctx ? a->ctx->device : 0;
        break;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
        *(CUdeviceptr *)data = a->base;
        break;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
        *(size_t *)data = a->size;
        break;
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE:
        *(CUmemoryPool *)data = (CUmemoryPool)a->pool;
        break;
    default:
        r = CUDA_ERROR_INVALID_VALUE;
    }
out:
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

static CUresult managed_range(CUdeviceptr p, size_t n)
{
    CURRENT_OR_RETURN(c);
    (void)c;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_alloc *a = gpx__cu_lookup((uintptr_t)p);
    CUresult r = a && a->kind == AK_MANAGED ? gpx__cu_check_range((uintptr_t)p, n, 0)
                                            : CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

SIM_EXPORT CUresult cuMemAdvise(CUdeviceptr devPtr, size_t count, CUmem_advise advice,
                                CUdevice device)
{
    if (advice < CU_MEM_ADVISE_SET_READ_MOSTLY || advice > CU_MEM_ADVISE_UNSET_ACCESSED_BY)
        return CUDA_ERROR_INVALID_VALUE;
    if (device != CU_DEVICE_CPU) {
        CUresult r = dev_check(device);
        if (r)
            return r;
    }
    return managed_range(devPtr, count);
}

SIM_EXPORT CUresult cuMemAdvise_v2(CUdeviceptr devPtr, size_t count, CUmem_advise advice,
                                   CUmemLocation location)
{
    CUdevice d = location.type == CU_MEM_LOCATION_TYPE_DEVICE ? location.id : CU_DEVICE_CPU;
    return cuMemAdvise(devPtr, count, advice, d);
}

/* ---------------------------------------------------------------- host memory */

static CUresult host_alloc(void **pp, size_t size)
{
    CURRENT_OR_RETURN(c);
    if (!pp || size == 0)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_alloc *a;
    pthread_mutex_lock(&gpx__cu.mu);
    CUresult r = alloc_new(AK_HOST, c, c->gpu, size, 0, 1, 0, &a);
    pthread_mutex_unlock(&gpx__cu.mu);
    if (!r)
        *pp = (void *)a->base;
    return r;
}

SIM_EXPORT CUresult cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags)
{
    if (Flags & ~(unsigned)(CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP |
                            CU_MEMHOSTALLOC_WRITECOMBINED))
        return CUDA_ERROR_INVALID_VALUE;
    return host_alloc(pp, bytesize);
}

SIM_EXPORT CUresult cuMemAllocHost_v2(void **pp, size_t bytesize)
{
    return host_alloc(pp, bytesize);
}

SIM_EXPORT CUresult cuMemAllocHost(void **pp, unsigned int bytesize)
{
    return host_alloc(pp, bytesize);
}

SIM_EXPORT CUresult cuMemFreeHost(void *p)
{
    CURRENT_OR_RETURN(c);
    (void)c;
    CUresult r = CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_alloc *a = gpx__cu_lookup((uintptr_t)p);
    if (p && a && a->kind == AK_HOST && a->base == (uintptr_t)p)
        r = gpx__cu_free_alloc(a);
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

SIM_EXPORT CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr *pdptr, void *p, unsigned int Flags)
{
    CURRENT_OR_RETURN(c);
    (void)c;
    if (!pdptr || !p || Flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_alloc *a = gpx__cu_lookup((uintptr_t)p);
    CUresult r = a && (a->kind == AK_HOST || a->kind == AK_HOSTREG) ? CUDA_SUCCESS
                                                                    : CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_unlock(&gpx__cu.mu);
    if (!r)
        *pdptr = (CUdeviceptr)(uintptr_t)p; /* unified addressing: the same address */
    return r;
}

SIM_EXPORT CUresult cuMemHostRegister_v2(void *p, size_t bytesize, unsigned int Flags)
{
    CURRENT_OR_RETURN(c);
    if (!p || bytesize == 0 ||
        (Flags & ~(unsigned)(CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP |
                             CU_MEMHOSTREGISTER_IOMEMORY | CU_MEMHOSTREGISTER_READ_ONLY)))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&gpx__cu.mu);
    if (gpx__cu_lookup((uintptr_t)p) || gpx__cu_lookup((uintptr_t)p + bytesize - 1)) {
        r = CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
    } else {
        struct sim_alloc *a;
        r = alloc_new(AK_HOSTREG, c, c->gpu, bytesize, 0, 0, 0, &a);
        if (!r) {
            a->base = (uintptr_t)p;
            if (index_add(a) < 0) {
                list_del(a);
                free(a);
                r = CUDA_ERROR_OUT_OF_MEMORY;
            }
        }
    }
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

SIM_EXPORT CUresult cuMemHostRegister(void *p, size_t bytesize, unsigned int Flags)
{
    return cuMemHostRegister_v2(p, bytesize, Flags);
}

SIM_EXPORT CUresult cuMemHostUnregister(void *p)
{
    CURRENT_OR_RETURN(c);
    (void)c;
    CUresult r = CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_alloc *a = gpx__cu_lookup((uintptr_t)p);
    if (p && a && a->kind == AK_HOSTREG && a->base == (uintptr_t)p)
        r = gpx__cu_free_alloc(a);
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

/* ---------------------------------------------------------------- arrays */

static size_t format_bytes(CUarray_format f)
{
    switch (f) {
    case CU_AD_FORMAT_UNSIGNED_INT8:
    case CU_AD_FORMAT_SIGNED_INT8:
    case CU_AD_FORMAT_NV12:
        return 1;
    case CU_AD_FORMAT_UNSIGNED_INT16:
    case CU_AD_FORMAT_SIGNED_INT16:
    case CU_AD_FORMAT_HALF:
        return 2;
    case CU_AD_FORMAT_UNSIGNED_INT32:
    case CU_AD_FORMAT_SIGNED_INT32:
    case CU_AD_FORMAT_FLOAT:
        return 4;
    default:
        return 0;
    }
}

/* Bytes of a w×h×d array (h, d: 0 means 1), 0 when the description is invalid. */
static uint64_t array_bytes(size_t w, size_t h, size_t d, CUarray_format f, unsigned ch)
{
    size_t eb = format_bytes(f);
    if (!eb || w == 0 || (ch != 1 && ch != 2 && ch != 4))
        return 0;
    if ((h == 0 && d != 0) || w > (1ULL << 20) || h > (1ULL << 20) || d > (1ULL << 20))
        return 0;
    uint64_t n = (uint64_t)w * (h ? h : 1) * (d ? d : 1) * eb * ch;
    if (f == CU_AD_FORMAT_NV12)
        n = n * 3 / 2;
    return n;
}

static CUresult array_new(CUarray *out, uint64_t bytes, uint32_t magic)
{
    CURRENT_OR_RETURN(c);
    if (!out || !bytes)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_alloc *a;
    pthread_mutex_lock(&gpx__cu.mu);
    CUresult r = alloc_new(AK_ARRAY, c, c->gpu, (size_t)bytes, bytes, 0, 0, &a);
    if (!r)
        a->magic = magic;
    pthread_mutex_unlock(&gpx__cu.mu);
    if (!r)
        *out = (CUarray)a;
    return r;
}

SIM_EXPORT CUresult cuArrayCreate_v2(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR *d)
{
    if (!d)
        return CUDA_ERROR_INVALID_VALUE;
    return array_new(pHandle, array_bytes(d->Width, d->Height, 0, d->Format, d->NumChannels),
                     MAGIC_ARRAY);
}

SIM_EXPORT CUresult cuArrayCreate(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR_v1 *d)
{
    if (!d)
        return CUDA_ERROR_INVALID_VALUE;
    return array_new(pHandle, array_bytes(d->Width, d->Height, 0, d->Format, d->NumChannels),
                     MAGIC_ARRAY);
}

SIM_EXPORT CUresult cuArray3DCreate_v2(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *d)
{
    if (!d)
        return CUDA_ERROR_INVALID_VALUE;
    return array_new(pHandle, array_bytes(d->Width, d->Height, d->Depth, d->Format, d->NumChannels),
                     MAGIC_ARRAY);
}

SIM_EXPORT CUresult cuArray3DCreate(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR_v1 *d)
{
    if (!d)
        return CUDA_ERROR_INVALID_VALUE;
    return array_new(pHandle, array_bytes(d->Width, d->Height, d->Depth, d->Format, d->NumChannels),
                     MAGIC_ARRAY);
}

static CUresult array_destroy(void *h, uint32_t magic)
{
    CU_CHECK_INIT();
    struct sim_alloc *a = h;
    CUresult r = CUDA_ERROR_INVALID_HANDLE;
    pthread_mutex_lock(&gpx__cu.mu);
    /* Only records still on the list are dereferenced: a stale handle is refused, not read. */
    for (struct sim_alloc *k = gpx__cu.allocs; k; k = k->next)
        if (k == a && k->kind == AK_ARRAY && k->magic == magic) {
            r = gpx__cu_free_alloc(a);
            break;
        }
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

SIM_EXPORT CUresult cuArrayDestroy(CUarray hArray)
{
    return array_destroy(hArray, MAGIC_ARRAY);
}

#define MAGIC_MIPMAP 0x4d495031U

SIM_EXPORT CUresult cuMipmappedArrayCreate(CUmipmappedArray *pHandle,
                                           const CUDA_ARRAY3D_DESCRIPTOR *d,
                                           unsigned int numMipmapLevels)
{
    if (!d || !pHandle || numMipmapLevels == 0)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t total = 0;
    size_t w = d->Width, h = d->Height, dep = d->Depth;
    for (unsigned l = 0; l < numMipmapLevels; l++) {
        uint64_t b = array_bytes(w, h, dep, d->Format, d->NumChannels);
        if (!b)
            return CUDA_ERROR_INVALID_VALUE;
        total += b;
        if (w == 1 && (h <= 1) && (dep <= 1))
            break;
        w = w > 1 ? w / 2 : 1;
        h = h > 1 ? h / 2 : h;
        dep = dep > 1 ? dep / 2 : dep;
    }
    CUarray a;
    CUresult r = array_new(&a, total, MAGIC_MIPMAP);
    if (!r)
        *pHandle = (CUmipmappedArray)a;
    return r;
}

SIM_EXPORT CUresult cuMipmappedArrayDestroy(CUmipmappedArray hMipmappedArray)
{
    return array_destroy(hMipmappedArray, MAGIC_MIPMAP);
}

/* ---------------------------------------------------------------- external memory */

SIM_EXPORT CUresult cuImportExternalMemory(CUexternalMemory *extMem_out,
                                           const CUDA_EXTERNAL_MEMORY_HANDLE_DESC *desc)
{
    CURRENT_OR_RETURN(c);
    if (!extMem_out || !desc || desc->size == 0)
        return CUDA_ERROR_INVALID_VALUE;
    switch (desc->type) {
    case CU_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD:
    case CU_EXTERNAL_MEMORY_HANDLE_TYPE_DMABUF_FD:
        if (desc->handle.fd < 0)
            return CUDA_ERROR_INVALID_VALUE;
        break;
    case CU_EXTERNAL_MEMORY_HANDLE_TYPE_NVSCIBUF:
        return CUDA_ERROR_NOT_SUPPORTED;
    default:
        return CUDA_ERROR_INVALID_VALUE; /* Windows handle types */
    }
    struct sim_alloc *a;
    pthread_mutex_lock(&gpx__cu.mu);
    CUresult r = alloc_new(AK_EXTMEM, c, c->gpu, (size_t)desc->size, desc->size, 0, 0, &a);
    if (!r) {
        a->magic = MAGIC_EXTMEM;
        a->mem = backing_new((size_t)desc->size, 0, &a->map_len);
        if (!a->mem) {
            gpx__cu_free_alloc(a);
            r = CUDA_ERROR_OUT_OF_MEMORY;
        }
    }
    pthread_mutex_unlock(&gpx__cu.mu);
    if (r)
        return r;
    /* On success the driver owns an opaque fd (and closes it). */
    if (desc->type == CU_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD)
        close(desc->handle.fd);
    *extMem_out = (CUexternalMemory)a;
    return CUDA_SUCCESS;
}

static struct sim_alloc *extmem_find(CUexternalMemory h)
{
    for (struct sim_alloc *k = gpx__cu.allocs; k; k = k->next)
        if (k == (struct sim_alloc *)h && k->kind == AK_EXTMEM)
            return k;
    return NULL;
}

SIM_EXPORT CUresult cuExternalMemoryGetMappedBuffer(CUdeviceptr *devPtr, CUexternalMemory extMem,
                                                    const CUDA_EXTERNAL_MEMORY_BUFFER_DESC *bd)
{
    CURRENT_OR_RETURN(c);
    if (!devPtr || !bd || bd->size == 0)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_alloc *e = extmem_find(extMem), *b;
    if (!e) {
        r = CUDA_ERROR_INVALID_HANDLE;
    } else if (bd->offset > e->size || bd->size > e->size - bd->offset) {
        r = CUDA_ERROR_INVALID_VALUE;
    } else if (!(r = alloc_new(AK_EXTBUF, c, e->gpu, (size_t)bd->size, 0, 0, 0, &b))) {
        b->owner = e;
        b->base = (uintptr_t)e->mem + bd->offset;
        if (index_add(b) < 0) {
            list_del(b);
            free(b);
            r = CUDA_ERROR_OUT_OF_MEMORY;
        } else {
            *devPtr = (CUdeviceptr)b->base;
        }
    }
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

SIM_EXPORT CUresult cuDestroyExternalMemory(CUexternalMemory extMem)
{
    CU_CHECK_INIT();
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_alloc *e = extmem_find(extMem);
    CUresult r = e ? gpx__cu_free_alloc(e) : CUDA_ERROR_INVALID_HANDLE;
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

/* ---------------------------------------------------------------- virtual memory management */

static CUresult prop_check(const CUmemAllocationProp *prop, int *device)
{
    if (!prop || prop->type != CU_MEM_ALLOCATION_TYPE_PINNED)
        return CUDA_ERROR_INVALID_VALUE;
    switch (prop->location.type) {
    case CU_MEM_LOCATION_TYPE_DEVICE:
        if (prop->location.id < 0 || prop->location.id >= gpx__cu.ndev)
            return CUDA_ERROR_INVALID_DEVICE;
        *device = prop->location.id;
        return CUDA_SUCCESS;
    case CU_MEM_LOCATION_TYPE_HOST:
    case CU_MEM_LOCATION_TYPE_HOST_NUMA:
    case CU_MEM_LOCATION_TYPE_HOST_NUMA_CURRENT:
        *device = -1;
        return CUDA_SUCCESS;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
}

SIM_EXPORT CUresult cuMemGetAllocationGranularity(size_t *granularity,
                                                  const CUmemAllocationProp *prop,
                                                  CUmemAllocationGranularity_flags option)
{
    CU_CHECK_INIT();
    int dev;
    if (!granularity || (option != CU_MEM_ALLOC_GRANULARITY_MINIMUM &&
                         option != CU_MEM_ALLOC_GRANULARITY_RECOMMENDED))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = prop_check(prop, &dev);
    if (r)
        return r;
    *granularity = VMM_GRANULARITY;
    return CUDA_SUCCESS;
}

static void phys_unref(struct sim_vmm_phys *ph)
{
    if (--ph->refs > 0)
        return;
    if (ph->charged)
        uncharge(ph->gpu, ph->charged);
    close(ph->fd);
    ph->magic = MAGIC_DEAD;
    free(ph);
}

SIM_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
                                const CUmemAllocationProp *prop, unsigned long long flags)
{
    CURRENT_OR_RETURN(c);
    (void)c;
    int dev;
    if (!handle || size == 0 || size % VMM_GRANULARITY || flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = prop_check(prop, &dev);
    if (r)
        return r;
    struct sim_vmm_phys *ph = calloc(1, sizeof *ph);
    if (!ph)
        return CUDA_ERROR_OUT_OF_MEMORY;
    ph->magic = 0x564d4d31U;
    ph->size = size;
    ph->device = dev;
    ph->prop = *prop;
    ph->refs = 1;
    ph->fd = memfd_create("gpuplex-sim-vmm", MFD_CLOEXEC);
    if (ph->fd < 0 || ftruncate(ph->fd, (off_t)size) != 0) {
        if (ph->fd >= 0)
            close(ph->fd);
        free(ph);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (dev >= 0) { /* host-located memory is not device memory: never charged */
        ph->gpu = gpx__cu.vis[dev];
        pthread_mutex_lock(&gpx__cu.mu);
        r = charge(ph->gpu, size);
        pthread_mutex_unlock(&gpx__cu.mu);
        if (r) {
            close(ph->fd);
            free(ph);
            return r;
        }
        ph->charged = size;
    }
    *handle = (CUmemGenericAllocationHandle)(uintptr_t)ph;
    return CUDA_SUCCESS;
}

/* Live physical allocations are reachable only through their handle; validate by magic. */
static struct sim_vmm_phys *phys_of(CUmemGenericAllocationHandle h)
{
    struct sim_vmm_phys *ph = (struct sim_vmm_phys *)(uintptr_t)h;
    return ph && ph->magic == 0x564d4d31U ? ph : NULL;
}

SIM_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
    CU_CHECK_INIT();
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_vmm_phys *ph = phys_of(handle);
    if (ph)
        phys_unref(ph);
    pthread_mutex_unlock(&gpx__cu.mu);
    return ph ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

SIM_EXPORT CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment,
                                        CUdeviceptr addr, unsigned long long flags)
{
    CURRENT_OR_RETURN(c);
    (void)c;
    (void)addr; /* a hint */
    if (!ptr || size == 0 || size % VMM_GRANULARITY || flags != 0 || (alignment & (alignment - 1)))
        return CUDA_ERROR_INVALID_VALUE;
    size_t align = alignment > VMM_GRANULARITY ? alignment : VMM_GRANULARITY;
    size_t len = size + align;
    if (len < size)
        return CUDA_ERROR_OUT_OF_MEMORY;
    char *raw = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED)
        return CUDA_ERROR_OUT_OF_MEMORY;
    uintptr_t base = ((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1);
    if (base > (uintptr_t)raw)
        munmap(raw, base - (uintptr_t)raw);
    if ((uintptr_t)raw + len > base + size)
        munmap((void *)(base + size), (uintptr_t)raw + len - (base + size));
    struct sim_alloc *a = calloc(1, sizeof *a);
    if (!a) {
        munmap((void *)base, size);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    a->kind = AK_RESERVE;
    a->base = base;
    a->size = size;
    a->mem = (void *)base;
    a->map_len = size;
    pthread_mutex_lock(&gpx__cu.mu);
    int bad = index_add(a);
    if (!bad)
        list_add(a);
    pthread_mutex_unlock(&gpx__cu.mu);
    if (bad) {
        munmap((void *)base, size);
        free(a);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *ptr = (CUdeviceptr)base;
    return CUDA_SUCCESS;
}

/* Puts an unmapped, inaccessible reservation back over [va, va+size). */
static void vmm_hole(uintptr_t va, size_t size)
{
    /* Best effort: should it fail, the range is merely left unmapped. */
    (void)mmap((void *)va, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
               -1, 0);
}

static void vmm_unmap_all(struct sim_alloc *res)
{
    while (res->maps) {
        struct sim_vmm_map *m = res->maps;
        res->maps = m->next;
        vmm_hole(m->va, m->size);
        phys_unref(m->phys);
        free(m);
    }
}

SIM_EXPORT CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
    CU_CHECK_INIT();
    CUresult r = CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_alloc *a = gpx__cu_lookup((uintptr_t)ptr);
    if (a && a->kind == AK_RESERVE && a->base == ptr && a->size == size)
        r = gpx__cu_free_alloc(a);
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

SIM_EXPORT CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
                             CUmemGenericAllocationHandle handle, unsigned long long flags)
{
    CU_CHECK_INIT();
    if (size == 0 || size % VMM_GRANULARITY || offset % VMM_GRANULARITY || flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_vmm_phys *ph = phys_of(handle);
    struct sim_alloc *a = gpx__cu_lookup((uintptr_t)ptr);
    if (!ph) {
        r = CUDA_ERROR_INVALID_HANDLE;
        goto out;
    }
    if (!a || a->kind != AK_RESERVE || size > a->size || ptr - a->base > a->size - size ||
        offset > ph->size || size > ph->size - offset) {
        r = CUDA_ERROR_INVALID_VALUE;
        goto out;
    }
    for (struct sim_vmm_map *m = a->maps; m; m = m->next)
        if (ptr < m->va + m->size && m->va < ptr + size) {
            r = CUDA_ERROR_ALREADY_MAPPED;
            goto out;
        }
    struct sim_vmm_map *m = calloc(1, sizeof *m);
    if (!m) {
        r = CUDA_ERROR_OUT_OF_MEMORY;
        goto out;
    }
    if (mmap((void *)(uintptr_t)ptr, size, PROT_NONE, MAP_SHARED | MAP_FIXED, ph->fd,
             (off_t)offset) == MAP_FAILED) {
        free(m);
        r = CUDA_ERROR_OUT_OF_MEMORY;
        goto out;
    }
    m->va = (uintptr_t)ptr;
    m->size = size;
    m->phys = ph;
    m->prot = PROT_NONE; /* until cuMemSetAccess, as on a GPU */
    m->next = a->maps;
    a->maps = m;
    ph->refs++;
out:
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

SIM_EXPORT CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
    CU_CHECK_INIT();
    if (size == 0)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_alloc *a = gpx__cu_lookup((uintptr_t)ptr);
    if (!a || a->kind != AK_RESERVE || size > a->size || ptr - a->base > a->size - size) {
        r = CUDA_ERROR_INVALID_VALUE;
        goto out;
    }
    /* Only whole mappings can be unmapped. */
    for (struct sim_vmm_map *m = a->maps; m; m = m->next)
        if (m->va < ptr + size && ptr < m->va + m->size &&
            (m->va < ptr || m->va + m->size > ptr + size)) {
            r = CUDA_ERROR_INVALID_VALUE;
            goto out;
        }
    for (struct sim_vmm_map **pm = &a->maps; *pm;) {
        struct sim_vmm_map *m = *pm;
        if (m->va >= ptr && m->va + m->size <= ptr + size) {
            *pm = m->next;
            vmm_hole(m->va, m->size);
            phys_unref(m->phys);
            free(m);
        } else {
            pm = &m->next;
        }
    }
out:
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

SIM_EXPORT CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc,
                                   size_t count)
{
    CU_CHECK_INIT();
    if (!desc || count == 0 || size == 0)
        return CUDA_ERROR_INVALID_VALUE;
    int prot = PROT_NONE;
    for (size_t i = 0; i < count; i++) {
        if (desc[i].location.type == CU_MEM_LOCATION_TYPE_DEVICE &&
            (desc[i].location.id < 0 || desc[i].location.id >= gpx__cu.ndev))
            return CUDA_ERROR_INVALID_DEVICE;
        if (desc[i].flags == CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
            prot = PROT_READ | PROT_WRITE;
        else if (desc[i].flags == CU_MEM_ACCESS_FLAGS_PROT_READ && prot == PROT_NONE)
            prot = PROT_READ;
        else if (desc[i].flags != CU_MEM_ACCESS_FLAGS_PROT_NONE &&
                 desc[i].flags != CU_MEM_ACCESS_FLAGS_PROT_READ)
            return CUDA_ERROR_INVALID_VALUE;
    }
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_alloc *a = gpx__cu_lookup((uintptr_t)ptr);
    if (!a || a->kind != AK_RESERVE || size > a->size || ptr - a->base > a->size - size) {
        r = CUDA_ERROR_INVALID_VALUE;
        goto out;
    }
    /* The whole range must be mapped. */
    for (uintptr_t cur = ptr; cur < ptr + size;) {
        struct sim_vmm_map *m = a->maps;
        for (; m; m = m->next)
            if (cur >= m->va && cur < m->va + m->size)
                break;
        if (!m) {
            r = CUDA_ERROR_INVALID_VALUE;
            goto out;
        }
        cur = m->va + m->size;
    }
    for (struct sim_vmm_map *m = a->maps; m; m = m->next)
        if (m->va < ptr + size && ptr < m->va + m->size) {
            uintptr_t s = m->va > ptr ? m->va : ptr;
            uintptr_t e = m->va + m->size < ptr + size ? m->va + m->size : ptr + size;
            mprotect((void *)s, e - s, prot);
            m->prot = prot;
        }
out:
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

SIM_EXPORT CUresult cuMemGetAccess(unsigned long long *flags, const CUmemLocation *location,
                                   CUdeviceptr ptr)
{
    CU_CHECK_INIT();
    if (!flags || !location)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_alloc *a = gpx__cu_lookup((uintptr_t)ptr);
    if (a && a->kind == AK_RESERVE)
        for (struct sim_vmm_map *m = a->maps; m; m = m->next)
            if (ptr >= m->va && ptr < m->va + m->size) {
                *flags = (m->prot & PROT_WRITE)  ? CU_MEM_ACCESS_FLAGS_PROT_READWRITE
                         : (m->prot & PROT_READ) ? CU_MEM_ACCESS_FLAGS_PROT_READ
                                                 : CU_MEM_ACCESS_FLAGS_PROT_NONE;
                r = CUDA_SUCCESS;
            }
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

SIM_EXPORT CUresult cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp *prop,
                                                           CUmemGenericAllocationHandle handle)
{
    CU_CHECK_INIT();
    if (!prop)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_vmm_phys *ph = phys_of(handle);
    if (ph)
        *prop = ph->prop;
    pthread_mutex_unlock(&gpx__cu.mu);
    return ph ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

SIM_EXPORT CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *handle, void *addr)
{
    CU_CHECK_INIT();
    if (!handle)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_alloc *a = gpx__cu_lookup((uintptr_t)addr);
    if (a && a->kind == AK_RESERVE)
        for (struct sim_vmm_map *m = a->maps; m; m = m->next)
            if ((uintptr_t)addr >= m->va && (uintptr_t)addr < m->va + m->size) {
                m->phys->refs++;
                *handle = (CUmemGenericAllocationHandle)(uintptr_t)m->phys;
                r = CUDA_SUCCESS;
                break;
            }
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

/* ---------------------------------------------------------------- memory pools */

/* Gives idle pool memory back to the GPU above what the pool keeps. Under mu. */
static void pool_trim(struct sim_pool *p, uint64_t keep)
{
    uint64_t reserved = p->used + p->idle;
    if (reserved <= keep || p->idle == 0)
        return;
    uint64_t give = reserved - keep < p->idle ? reserved - keep : p->idle;
    p->idle -= give;
    if (p->device >= 0)
        uncharge(p->gpu, give);
}

static void pool_release(struct sim_pool *p, uint64_t bytes)
{
    p->idle += bytes;
    pool_trim(p, p->destroyed ? 0 : p->threshold);
}

SIM_EXPORT CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool_out, CUdevice dev)
{
    CUresult r = dev_check(dev);
    if (r)
        return r;
    if (!pool_out)
        return CUDA_ERROR_INVALID_VALUE;
    *pool_out = (CUmemoryPool)&gpx__cu.default_pool[dev];
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuDeviceGetMemPool(CUmemoryPool *pool, CUdevice dev)
{
    CUresult r = dev_check(dev);
    if (r)
        return r;
    if (!pool)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&gpx__cu.mu);
    *pool = (CUmemoryPool)gpx__cu.cur_pool[dev];
    pthread_mutex_unlock(&gpx__cu.mu);
    return CUDA_SUCCESS;
}

static struct sim_pool *pool_of(CUmemoryPool h)
{
    struct sim_pool *p = (struct sim_pool *)h;
    return p && p->magic == MAGIC_POOL && !p->destroyed ? p : NULL;
}

SIM_EXPORT CUresult cuDeviceSetMemPool(CUdevice dev, CUmemoryPool pool)
{
    CUresult r = dev_check(dev);
    if (r)
        return r;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_pool *p = pool_of(pool);
    if (!p || p->device != dev)
        r = CUDA_ERROR_INVALID_VALUE;
    else
        gpx__cu.cur_pool[dev] = p;
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

SIM_EXPORT CUresult cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *props)
{
    CU_CHECK_INIT();
    if (!pool || !props || props->allocType != CU_MEM_ALLOCATION_TYPE_PINNED)
        return CUDA_ERROR_INVALID_VALUE;
    int dev;
    switch (props->location.type) {
    case CU_MEM_LOCATION_TYPE_DEVICE:
        if (props->location.id < 0 || props->location.id >= gpx__cu.ndev)
            return CUDA_ERROR_INVALID_DEVICE;
        dev = props->location.id;
        break;
    case CU_MEM_LOCATION_TYPE_HOST:
    case CU_MEM_LOCATION_TYPE_HOST_NUMA:
    case CU_MEM_LOCATION_TYPE_HOST_NUMA_CURRENT:
        dev = -1;
        break;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
    struct sim_pool *p = calloc(1, sizeof *p);
    if (!p)
        return CUDA_ERROR_OUT_OF_MEMORY;
    p->magic = MAGIC_POOL;
    p->device = dev;
    p->gpu = dev >= 0 ? gpx__cu.vis[dev] : 0;
    p->props = *props;
    *pool = (CUmemoryPool)p;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuMemPoolDestroy(CUmemoryPool pool)
{
    CU_CHECK_INIT();
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_pool *p = pool_of(pool);
    if (!p || p->is_default) {
        r = CUDA_ERROR_INVALID_VALUE;
    } else {
        /* Outstanding allocations stay valid; the pool goes when they are freed. */
        p->destroyed = 1;
        pool_trim(p, 0);
        for (int d = 0; d < gpx__cu.ndev; d++)
            if (gpx__cu.cur_pool[d] == p)
                gpx__cu.cur_pool[d] = &gpx__cu.default_pool[d];
        if (p->used == 0) {
            p->magic = MAGIC_DEAD;
            free(p);
        }
    }
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

SIM_EXPORT CUresult cuMemPoolTrimTo(CUmemoryPool pool, size_t minBytesToKeep)
{
    CU_CHECK_INIT();
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_pool *p = pool_of(pool);
    if (p)
        pool_trim(p, minBytesToKeep);
    pthread_mutex_unlock(&gpx__cu.mu);
    return p ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

SIM_EXPORT CUresult cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value)
{
    CU_CHECK_INIT();
    if (!value)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_pool *p = pool_of(pool);
    if (!p) {
        r = CUDA_ERROR_INVALID_VALUE;
    } else {
        switch (attr) {
        case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
        case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
        case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES:
            break;
        case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
            p->threshold = *(cuuint64_t *)value;
            pool_trim(p, p->threshold);
            break;
        case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
            if (*(cuuint64_t *)value != 0)
                r = CUDA_ERROR_INVALID_VALUE;
            else
                p->reserved_high = p->used + p->idle;
            break;
        case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
            if (*(cuuint64_t *)value != 0)
                r = CUDA_ERROR_INVALID_VALUE;
            else
                p->used_high = p->used;
            break;
        default:
            r = CUDA_ERROR_INVALID_VALUE;
        }
    }
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

SIM_EXPORT CUresult cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value)
{
    CU_CHECK_INIT();
    if (!value)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_pool *p = pool_of(pool);
    if (!p) {
        r = CUDA_ERROR_INVALID_VALUE;
    } else {
        switch (attr) {
        case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
        case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
        case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES:
            *(int *)value = 1;
            break;
        case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
            *(cuuint64_t *)value = p->threshold;
            break;
        case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT:
            *(cuuint64_t *)value = p->used + p->idle;
            break;
        case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
            *(cuuint64_t *)value = p->reserved_high;
            break;
        case CU_MEMPOOL_ATTR_USED_MEM_CURRENT:
            *(cuuint64_t *)value = p->used;
            break;
        case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
            *(cuuint64_t *)value = p->used_high;
            break;
        default:
            r = CUDA_ERROR_INVALID_VALUE;
        }
    }
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

/* A stream-ordered allocation from `pool` (NULL: the stream's device's current pool). */
static CUresult alloc_async(CUdeviceptr *dptr, size_t size, struct sim_pool *pool, CUstream hs,
                            int pt)
{
    CURRENT_OR_RETURN(c);
    if (!dptr || size == 0)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_stream *s;
    CUresult r = gpx__cu_stream(hs, pt, &s);
    if (r)
        return r;
    pthread_mutex_lock(&gpx__cu.mu);
    if (!pool)
        pool = gpx__cu.cur_pool[s->ctx->device];
    else if (!pool_of((CUmemoryPool)pool)) {
        pthread_mutex_unlock(&gpx__cu.mu);
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (s->capture) { /* a graph allocation node, not memory now */
        int device = pool->device;
        pthread_mutex_unlock(&gpx__cu.mu);
        return gpx__cu_capture_alloc(s, device, size, dptr);
    }
    /* Idle pool memory is reused before the GPU is asked for more. */
    uint64_t from_idle = pool->idle < size ? pool->idle : size;
    uint64_t fresh = pool->device >= 0 ? size - from_idle : 0;
    struct sim_alloc *a;
    r = alloc_new(AK_ASYNC, c, pool->device >= 0 ? pool->gpu : c->gpu, size, fresh, 1, 0, &a);
    if (!r) {
        a->pool = pool;
        pool->idle -= from_idle;
        pool->used += size;
        if (pool->used > pool->used_high)
            pool->used_high = pool->used;
        if (pool->used + pool->idle > pool->reserved_high)
            pool->reserved_high = pool->used + pool->idle;
        *dptr = (CUdeviceptr)a->base;
    }
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

SIM_EXPORT CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
    return alloc_async(dptr, bytesize, NULL, hStream, 0);
}

SIM_EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
    return alloc_async(dptr, bytesize, NULL, hStream, 1);
}

SIM_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                            CUstream hStream)
{
    if (!pool)
        return CUDA_ERROR_INVALID_VALUE;
    return alloc_async(dptr, bytesize, (struct sim_pool *)pool, hStream, 0);
}

SIM_EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytesize,
                                                 CUmemoryPool pool, CUstream hStream)
{
    if (!pool)
        return CUDA_ERROR_INVALID_VALUE;
    return alloc_async(dptr, bytesize, (struct sim_pool *)pool, hStream, 1);
}

static CUresult free_async(CUdeviceptr dptr, CUstream hs, int pt)
{
    CURRENT_OR_RETURN(c);
    (void)c;
    struct sim_stream *s;
    CUresult r = gpx__cu_stream(hs, pt, &s);
    if (r)
        return r;
    if (s->capture)
        return gpx__cu_capture_free(s, dptr);
    /* Kernels do not touch memory here, so stream order cannot be observed: free now. */
    r = CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_alloc *a = gpx__cu_lookup((uintptr_t)dptr);
    if (a && a->base == dptr && a->kind == AK_GRAPH) {
        /* Graph memory freed outside the graph, as mem_free does (the driver allows both). */
        r = a->charged ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
        gpx__cu_graph_mem_uncharge(a);
    } else if (a && a->base == dptr &&
               (a->kind == AK_ASYNC || a->kind == AK_DEVICE || a->kind == AK_MANAGED)) {
        r = gpx__cu_free_alloc(a);
    }
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

SIM_EXPORT CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
    return free_async(dptr, hStream, 0);
}

SIM_EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream)
{
    return free_async(dptr, hStream, 1);
}

/* ---------------------------------------------------------------- copies and sets */

/* The stream an asynchronous copy or memset is ordered on; *s NULL for a synchronous one. */
static CUresult async_stream(CUstream hs, int async, int pt, struct sim_stream **s)
{
    *s = NULL;
    return async ? gpx__cu_stream(hs, pt, s) : CUDA_SUCCESS;
}

/* An asynchronous copy or memset of n bytes on s (NULL: synchronous, nothing) moves its
 * stream's tail past it, at ~1 TB/s from when the stream is free. */
static void async_tail(struct sim_stream *s, uint64_t n)
{
    if (!s)
        return;
    uint64_t start = gpx__cu_stream_floor(s), now = gpx_sim_now_ns();
    gpx__cu_stream_push_tail(s, (start > now ? start : now) + n / 1000);
}

/*
 * One copy: both ranges are checked (device ranges must lie in one
 * allocation; `*_host` ranges may also be plain host memory), then copied at
 * once on the host. Synchronous copies first wait for the work they are
 * ordered after; asynchronous ones extend their stream's tail.
 */
static CUresult copy(uintptr_t dst, int dst_host, uintptr_t src, int src_host, size_t n,
                     CUstream hs, int async, int pt)
{
    CURRENT_OR_RETURN(c);
    struct sim_stream *s;
    CUresult sr = async_stream(hs, async, pt, &s);
    if (sr)
        return sr;
    if (n == 0)
        return CUDA_SUCCESS;
    if (!dst || !src)
        return CUDA_ERROR_INVALID_VALUE;
    if (s && s->capture) {
        CUDA_MEMCPY3D q;
        memset(&q, 0, sizeof q);
        q.srcMemoryType = q.dstMemoryType = CU_MEMORYTYPE_UNIFIED;
        q.srcDevice = src;
        q.dstDevice = dst;
        q.WidthInBytes = n;
        q.Height = q.Depth = 1;
        return gpx__cu_capture_copy(s, &q);
    }
    pthread_mutex_lock(&gpx__cu.mu);
    CUresult r = gpx__cu_check_range(dst, n, dst_host);
    if (!r)
        r = gpx__cu_check_range(src, n, src_host);
    pthread_mutex_unlock(&gpx__cu.mu);
    if (r)
        return r;
    if (!async)
        gpx__cu_sync_before(c, pt);
    memmove((void *)dst, (const void *)src, n);
    gpx__cu_copy_traffic(c->gpu, n);
    async_tail(s, n);
    return CUDA_SUCCESS;
}

#define D(p) ((uintptr_t)(p))

SIM_EXPORT CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
    return copy(D(dst), 1, D(src), 1, n, NULL, 0, 0);
}
SIM_EXPORT CUresult cuMemcpy_ptds(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
    return copy(D(dst), 1, D(src), 1, n, NULL, 0, 1);
}
SIM_EXPORT CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{
    return copy(D(dst), 1, D(src), 1, n, s, 1, 0);
}
SIM_EXPORT CUresult cuMemcpyAsync_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{
    return copy(D(dst), 1, D(src), 1, n, s, 1, 1);
}
SIM_EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n)
{
    return copy(D(dst), 0, D(src), 1, n, NULL, 0, 0);
}
SIM_EXPORT CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr dst, const void *src, size_t n)
{
    return copy(D(dst), 0, D(src), 1, n, NULL, 0, 1);
}
SIM_EXPORT CUresult cuMemcpyHtoD(CUdeviceptr_v1 dst, const void *src, unsigned int n)
{
    return copy(D(dst), 0, D(src), 1, n, NULL, 0, 0);
}
SIM_EXPORT CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n)
{
    return copy(D(dst), 1, D(src), 0, n, NULL, 0, 0);
}
SIM_EXPORT CUresult cuMemcpyDtoH_v2_ptds(void *dst, CUdeviceptr src, size_t n)
{
    return copy(D(dst), 1, D(src), 0, n, NULL, 0, 1);
}
SIM_EXPORT CUresult cuMemcpyDtoH(void *dst, CUdeviceptr_v1 src, unsigned int n)
{
    return copy(D(dst), 1, D(src), 0, n, NULL, 0, 0);
}
SIM_EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
    return copy(D(dst), 0, D(src), 0, n, NULL, 0, 0);
}
SIM_EXPORT CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
    return copy(D(dst), 0, D(src), 0, n, NULL, 0, 1);
}
SIM_EXPORT CUresult cuMemcpyDtoD(CUdeviceptr_v1 dst, CUdeviceptr_v1 src, unsigned int n)
{
    return copy(D(dst), 0, D(src), 0, n, NULL, 0, 0);
}
SIM_EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, CUstream s)
{
    return copy(D(dst), 0, D(src), 1, n, s, 1, 0);
}
SIM_EXPORT CUresult cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr dst, const void *src, size_t n,
                                              CUstream s)
{
    return copy(D(dst), 0, D(src), 1, n, s, 1, 1);
}
SIM_EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, CUstream s)
{
    return copy(D(dst), 1, D(src), 0, n, s, 1, 0);
}
SIM_EXPORT CUresult cuMemcpyDtoHAsync_v2_ptsz(void *dst, CUdeviceptr src, size_t n, CUstream s)
{
    return copy(D(dst), 1, D(src), 0, n, s, 1, 1);
}
SIM_EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{
    return copy(D(dst), 0, D(src), 0, n, s, 1, 0);
}
SIM_EXPORT CUresult cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t n,
                                              CUstream s)
{
    return copy(D(dst), 0, D(src), 0, n, s, 1, 1);
}

/* One side of a 2D/3D copy: its first byte, and whether plain host memory is allowed. */
static CUresult side(CUmemorytype t, const void *host, CUdeviceptr dev, size_t x, size_t y,
                     size_t z, size_t pitch, size_t height, uintptr_t *base, int *host_ok)
{
    uintptr_t b;
    switch (t) {
    case CU_MEMORYTYPE_HOST:
        b = (uintptr_t)host;
        *host_ok = 1;
        break;
    case CU_MEMORYTYPE_DEVICE:
        b = (uintptr_t)dev;
        *host_ok = 0;
        break;
    case CU_MEMORYTYPE_UNIFIED:
        b = (uintptr_t)dev;
        *host_ok = 1;
        break;
    case CU_MEMORYTYPE_ARRAY:
        return CUDA_ERROR_NOT_SUPPORTED; /* simulated arrays have no texels to copy */
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (!b)
        return CUDA_ERROR_INVALID_VALUE;
    *base = b + (z * height + y) * pitch + x;
    return CUDA_SUCCESS;
}

static CUresult copy3d(const CUDA_MEMCPY3D *p, CUstream hs, int async, int pt)
{
    CURRENT_OR_RETURN(c);
    if (!p)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_stream *s;
    CUresult sr = async_stream(hs, async, pt, &s);
    if (sr)
        return sr;
    size_t w = p->WidthInBytes, h = p->Height ? p->Height : 1, d = p->Depth ? p->Depth : 1;
    if (w == 0)
        return CUDA_SUCCESS;
    if (s && s->capture)
        return gpx__cu_capture_copy(s, p);
    if ((h > 1 || d > 1) && (p->srcPitch < w || p->dstPitch < w))
        return CUDA_ERROR_INVALID_VALUE;
    if (d > 1 && (p->srcHeight < h || p->dstHeight < h))
        return CUDA_ERROR_INVALID_VALUE;
    uintptr_t sb, db;
    int sh, dh;
    CUresult r = side(p->srcMemoryType, p->srcHost, p->srcDevice, p->srcXInBytes, p->srcY, p->srcZ,
                      p->srcPitch, p->srcHeight, &sb, &sh);
    if (!r)
        r = side(p->dstMemoryType, p->dstHost, p->dstDevice, p->dstXInBytes, p->dstY, p->dstZ,
                 p->dstPitch, p->dstHeight, &db, &dh);
    if (r)
        return r;
    size_t sspan = ((d - 1) * p->srcHeight + (h - 1)) * p->srcPitch + w;
    size_t dspan = ((d - 1) * p->dstHeight + (h - 1)) * p->dstPitch + w;
    if (d == 1) {
        sspan = (h - 1) * p->srcPitch + w;
        dspan = (h - 1) * p->dstPitch + w;
    }
    pthread_mutex_lock(&gpx__cu.mu);
    r = gpx__cu_check_range(sb, sspan, sh);
    if (!r)
        r = gpx__cu_check_range(db, dspan, dh);
    pthread_mutex_unlock(&gpx__cu.mu);
    if (r)
        return r;
    if (!async)
        gpx__cu_sync_before(c, pt);
    for (size_t z = 0; z < d; z++)
        for (size_t y = 0; y < h; y++)
            memmove((void *)(db + (z * p->dstHeight + y) * p->dstPitch),
                    (const void *)(sb + (z * p->srcHeight + y) * p->srcPitch), w);
    gpx__cu_copy_traffic(c->gpu, w * h * d);
    async_tail(s, w * h * d);
    return CUDA_SUCCESS;
}

static void to3d(const CUDA_MEMCPY2D *p, CUDA_MEMCPY3D *q)
{
    memset(q, 0, sizeof *q);
    q->srcXInBytes = p->srcXInBytes;
    q->srcY = p->srcY;
    q->srcMemoryType = p->srcMemoryType;
    q->srcHost = p->srcHost;
    q->srcDevice = p->srcDevice;
    q->srcArray = p->srcArray;
    q->srcPitch = p->srcPitch;
    q->srcHeight = p->Height;
    q->dstXInBytes = p->dstXInBytes;
    q->dstY = p->dstY;
    q->dstMemoryType = p->dstMemoryType;
    q->dstHost = p->dstHost;
    q->dstDevice = p->dstDevice;
    q->dstArray = p->dstArray;
    q->dstPitch = p->dstPitch;
    q->dstHeight = p->Height;
    q->WidthInBytes = p->WidthInBytes;
    q->Height = p->Height;
    q->Depth = 1;
}

static CUresult copy2d(const CUDA_MEMCPY2D *p, CUstream hs, int async, int pt)
{
    if (!p)
        return CUDA_ERROR_INVALID_VALUE;
    CUDA_MEMCPY3D q;
    to3d(p, &q);
    /* 2D rows are addressed with srcY/dstY only; heights do not offset them. */
    q.srcHeight = q.dstHeight = 0;
    return copy3d(&q, hs, async, pt);
}

SIM_EXPORT CUresult cuMemcpy2D_v2(const CUDA_MEMCPY2D *p)
{
    return copy2d(p, NULL, 0, 0);
}
SIM_EXPORT CUresult cuMemcpy2D_v2_ptds(const CUDA_MEMCPY2D *p)
{
    return copy2d(p, NULL, 0, 1);
}
SIM_EXPORT CUresult cuMemcpy2DUnaligned_v2(const CUDA_MEMCPY2D *p)
{
    return copy2d(p, NULL, 0, 0);
}
SIM_EXPORT CUresult cuMemcpy2DUnaligned_v2_ptds(const CUDA_MEMCPY2D *p)
{
    return copy2d(p, NULL, 0, 1);
}
SIM_EXPORT CUresult cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D *p, CUstream s)
{
    return copy2d(p, s, 1, 0);
}
SIM_EXPORT CUresult cuMemcpy2DAsync_v2_ptsz(const CUDA_MEMCPY2D *p, CUstream s)
{
    return copy2d(p, s, 1, 1);
}
SIM_EXPORT CUresult cuMemcpy3D_v2(const CUDA_MEMCPY3D *p)
{
    return copy3d(p, NULL, 0, 0);
}
SIM_EXPORT CUresult cuMemcpy3D_v2_ptds(const CUDA_MEMCPY3D *p)
{
    return copy3d(p, NULL, 0, 1);
}
SIM_EXPORT CUresult cuMemcpy3DAsync_v2(const CUDA_MEMCPY3D *p, CUstream s)
{
    return copy3d(p, s, 1, 0);
}
SIM_EXPORT CUresult cuMemcpy3DAsync_v2_ptsz(const CUDA_MEMCPY3D *p, CUstream s)
{
    return copy3d(p, s, 1, 1);
}

/* cuMemsetD8/16/32: `n` elements of `esize` bytes, each set to `value`. */
static CUresult memset_n(uintptr_t dst, uint32_t value, size_t esize, size_t n, CUstream hs,
                         int async, int pt)
{
    CURRENT_OR_RETURN(c);
    struct sim_stream *s;
    CUresult sr = async_stream(hs, async, pt, &s);
    if (sr)
        return sr;
    if (n == 0)
        return CUDA_SUCCESS;
    if (!dst || n > SIZE_MAX / esize || dst % esize)
        return CUDA_ERROR_INVALID_VALUE;
    if (s && s->capture)
        return gpx__cu_capture_memset(s, dst, n * esize, value, esize, n, 1);
    pthread_mutex_lock(&gpx__cu.mu);
    CUresult r = gpx__cu_check_range(dst, n * esize, 0);
    pthread_mutex_unlock(&gpx__cu.mu);
    if (r)
        return r;
    if (!async)
        gpx__cu_sync_before(c, pt);
    if (esize == 1) {
        memset((void *)dst, (int)value, n);
    } else if (esize == 2) {
        uint16_t v = (uint16_t)value;
        for (size_t i = 0; i < n; i++)
            memcpy((char *)dst + i * 2, &v, 2);
    } else {
        for (size_t i = 0; i < n; i++)
            memcpy((char *)dst + i * 4, &value, 4);
    }
    gpx__cu_copy_traffic(c->gpu, n * esize);
    async_tail(s, n * esize);
    return CUDA_SUCCESS;
}

CUresult gpx__cu_copy(uintptr_t dst, int dst_host, uintptr_t src, int src_host, size_t n,
                      CUstream hs, int async, int pt)
{
    return copy(dst, dst_host, src, src_host, n, hs, async, pt);
}

CUresult gpx__cu_copy3d(const CUDA_MEMCPY3D *p, CUstream hs, int async, int pt)
{
    return copy3d(p, hs, async, pt);
}

CUresult gpx__cu_memset2d(uintptr_t dst, size_t pitch, uint32_t value, size_t esize, size_t width,
                          size_t height, CUstream hs, int async, int pt)
{
    if (height <= 1)
        return memset_n(dst, value, esize, width, hs, async, pt);
    CURRENT_OR_RETURN(c);
    struct sim_stream *s;
    CUresult sr = async_stream(hs, async, pt, &s);
    if (sr)
        return sr;
    if (width == 0)
        return CUDA_SUCCESS;
    if (!dst || width > SIZE_MAX / esize || dst % esize || pitch < width * esize ||
        pitch > SIZE_MAX / height)
        return CUDA_ERROR_INVALID_VALUE;
    if (s && s->capture)
        return gpx__cu_capture_memset(s, dst, pitch, value, esize, width, height);
    pthread_mutex_lock(&gpx__cu.mu);
    CUresult r = gpx__cu_check_range(dst, (height - 1) * pitch + width * esize, 0);
    pthread_mutex_unlock(&gpx__cu.mu);
    if (r)
        return r;
    if (!async)
        gpx__cu_sync_before(c, pt);
    for (size_t y = 0; y < height; y++) {
        char *row = (char *)dst + y * pitch;
        if (esize == 1) {
            memset(row, (int)value, width);
        } else {
            for (size_t i = 0; i < width; i++)
                memcpy(row + i * esize, &value, esize); /* little-endian: the low bytes */
        }
    }
    gpx__cu_copy_traffic(c->gpu, width * esize * height);
    async_tail(s, width * esize * height);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n)
{
    return memset_n(D(d), v, 1, n, NULL, 0, 0);
}
SIM_EXPORT CUresult cuMemsetD8_v2_ptds(CUdeviceptr d, unsigned char v, size_t n)
{
    return memset_n(D(d), v, 1, n, NULL, 0, 1);
}
SIM_EXPORT CUresult cuMemsetD8(CUdeviceptr_v1 d, unsigned char v, unsigned int n)
{
    return memset_n(D(d), v, 1, n, NULL, 0, 0);
}
SIM_EXPORT CUresult cuMemsetD16_v2(CUdeviceptr d, unsigned short v, size_t n)
{
    return memset_n(D(d), v, 2, n, NULL, 0, 0);
}
SIM_EXPORT CUresult cuMemsetD16_v2_ptds(CUdeviceptr d, unsigned short v, size_t n)
{
    return memset_n(D(d), v, 2, n, NULL, 0, 1);
}
SIM_EXPORT CUresult cuMemsetD32_v2(CUdeviceptr d, unsigned int v, size_t n)
{
    return memset_n(D(d), v, 4, n, NULL, 0, 0);
}
SIM_EXPORT CUresult cuMemsetD32_v2_ptds(CUdeviceptr d, unsigned int v, size_t n)
{
    return memset_n(D(d), v, 4, n, NULL, 0, 1);
}
SIM_EXPORT CUresult cuMemsetD32(CUdeviceptr_v1 d, unsigned int v, unsigned int n)
{
    return memset_n(D(d), v, 4, n, NULL, 0, 0);
}
SIM_EXPORT CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, CUstream s)
{
    return memset_n(D(d), v, 1, n, s, 1, 0);
}
SIM_EXPORT CUresult cuMemsetD8Async_ptsz(CUdeviceptr d, unsigned char v, size_t n, CUstream s)
{
    return memset_n(D(d), v, 1, n, s, 1, 1);
}
SIM_EXPORT CUresult cuMemsetD16Async(CUdeviceptr d, unsigned short v, size_t n, CUstream s)
{
    return memset_n(D(d), v, 2, n, s, 1, 0);
}
SIM_EXPORT CUresult cuMemsetD16Async_ptsz(CUdeviceptr d, unsigned short v, size_t n, CUstream s)
{
    return memset_n(D(d), v, 2, n, s, 1, 1);
}
SIM_EXPORT CUresult cuMemsetD32Async(CUdeviceptr d, unsigned int v, size_t n, CUstream s)
{
    return memset_n(D(d), v, 4, n, s, 1, 0);
}
SIM_EXPORT CUresult cuMemsetD32Async_ptsz(CUdeviceptr d, unsigned int v, size_t n, CUstream s)
{
    return memset_n(D(d), v, 4, n, s, 1, 1);
}

static CUresult prefetch(CUdeviceptr p, size_t n, int dev, CUstream hs, int pt)
{
    CURRENT_OR_RETURN(c);
    (void)c;
    struct sim_stream *s;
    CUresult r = gpx__cu_stream(hs, pt, &s);
    if (r)
        return r;
    if (dev != CU_DEVICE_CPU && (r = dev_check(dev)))
        return r;
    return managed_range(p, n);
}

SIM_EXPORT CUresult cuMemPrefetchAsync(CUdeviceptr devPtr, size_t count, CUdevice dstDevice,
                                       CUstream hStream)
{
    return prefetch(devPtr, count, dstDevice, hStream, 0);
}

SIM_EXPORT CUresult cuMemPrefetchAsync_ptsz(CUdeviceptr devPtr, size_t count, CUdevice dstDevice,
                                            CUstream hStream)
{
    return prefetch(devPtr, count, dstDevice, hStream, 1);
}

SIM_EXPORT CUresult cuMemPrefetchAsync_v2(CUdeviceptr devPtr, size_t count, CUmemLocation location,
                                          unsigned int flags, CUstream hStream)
{
    if (flags)
        return CUDA_ERROR_INVALID_VALUE;
    int d = location.type == CU_MEM_LOCATION_TYPE_DEVICE ? location.id : CU_DEVICE_CPU;
    return prefetch(devPtr, count, d, hStream, 0);
}

SIM_EXPORT CUresult cuMemPrefetchAsync_v2_ptsz(CUdeviceptr devPtr, size_t count,
                                               CUmemLocation location, unsigned int flags,
                                               CUstream hStream)
{
    if (flags)
        return CUDA_ERROR_INVALID_VALUE;
    int d = location.type == CU_MEM_LOCATION_TYPE_DEVICE ? location.id : CU_DEVICE_CPU;
    return prefetch(devPtr, count, d, hStream, 1);
}

/* At exit, give back what this process holds, as the driver does when its fds close. */
__attribute__((destructor)) static void sim_fini(void)
{
    if (!atomic_load(&gpx__cu.inited) || gpx__cu.pid != (int32_t)getpid())
        return;
    if (pthread_mutex_trylock(&gpx__cu.mu) != 0)
        return; /* another thread is inside the driver: leave it to the reaper */
    for (uint32_t g = 0; g < GPX_SIM_MAX_GPUS; g++) {
        struct gpx_sim_proc *p = gpx__cu.slot[g];
        if (!p)
            continue;
        uint64_t used = atomic_exchange(&p->used_bytes, 0);
        atomic_fetch_sub(&gpx__cu.st.gpus[g].memory_used, used);
        gpx_sim_proc_contexts_add(&gpx__cu.st, g, p, -(int)p->contexts);
        gpx__cu.slot[g] = NULL;
    }
    pthread_mutex_unlock(&gpx__cu.mu);
}
