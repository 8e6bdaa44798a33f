/*
 * gpx-ipcheck: checks of the interposer (libgpuplex-cuda.so) that need more
 * than gpuplex-burn: the allocation paths burn does not take (arrays,
 * mipmaps, external memory, pools, VMM by location, worker threads), the
 * three ways to reach the driver (direct calls, dlsym, cuGetProcAddress with
 * versions and flags), memory-info and device-size answers, NVML's process
 * lists, and attempts to raise the quota (environment, region). Driven by
 * tests/integration/interpose_*.sh.
 *
 * Each subcommand prints what it saw and exits 0 when every expectation
 * held, 1 (with a FAIL line naming the expectation) otherwise. Expected
 * sizes are read from the lease region (GPUPLEX_LEASE, GPUPLEX_RUN_DIR),
 * which the program opens itself through lease.h, as the daemon would.
 *
 * The driver is always the simulator's libcuda.so.1 found on
 * LD_LIBRARY_PATH; entry points are resolved with dlsym on its handle unless
 * a subcommand says otherwise ("direct" calls the linked symbols).
 */
#define _GNU_SOURCE
#include "abi/cuda_abi.h"
#include "abi/nvml_abi.h"
#include "shm/lease.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MiB ((uint64_t)1 << 20)

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define CU_OK(call)                                                                                \
    do {                                                                                           \
        CUresult rc_ = (call);                                                                     \
        CHECK(rc_ == CUDA_SUCCESS, "%s returned %d", #call, (int)rc_);                             \
    } while (0)

/* ---- entry points ------------------------------------------------------------------------- */

#define API(X)                                                                                     \
    X(cuInit)                                                                                      \
    X(cuDeviceGet)                                                                                 \
    X(cuDeviceGetCount)                                                                            \
    X(cuDevicePrimaryCtxRetain)                                                                    \
    X(cuCtxSetCurrent)                                                                             \
    X(cuCtxGetCurrent)                                                                             \
    X(cuCtxSynchronize)                                                                            \
    X(cuDeviceGetDefaultMemPool)                                                                   \
    X(cuMemGetInfo_v2)                                                                             \
    X(cuMemGetInfo)                                                                                \
    X(cuMemAlloc_v2)                                                                               \
    X(cuMemAlloc)                                                                                  \
    X(cuMemAllocPitch_v2)                                                                          \
    X(cuMemAllocManaged)                                                                           \
    X(cuMemFree_v2)                                                                                \
    X(cuMemFree)                                                                                   \
    X(cuMemAllocAsync)                                                                             \
    X(cuMemAllocAsync_ptsz)                                                                        \
    X(cuMemFreeAsync)                                                                              \
    X(cuMemFreeAsync_ptsz)                                                                         \
    X(cuMemAllocFromPoolAsync)                                                                     \
    X(cuMemPoolCreate)                                                                             \
    X(cuMemPoolDestroy)                                                                            \
    X(cuMemCreate)                                                                                 \
    X(cuMemRelease)                                                                                \
    X(cuMemAddressReserve)                                                                         \
    X(cuMemAddressFree)                                                                            \
    X(cuMemMap)                                                                                    \
    X(cuMemUnmap)                                                                                  \
    X(cuMemGetAllocationGranularity)                                                               \
    X(cuArrayCreate_v2)                                                                            \
    X(cuArrayCreate)                                                                               \
    X(cuArray3DCreate_v2)                                                                          \
    X(cuArrayDestroy)                                                                              \
    X(cuMipmappedArrayCreate)                                                                      \
    X(cuMipmappedArrayDestroy)                                                                     \
    X(cuImportExternalMemory)                                                                      \
    X(cuDestroyExternalMemory)                                                                     \
    X(cuMemHostAlloc)                                                                              \
    X(cuMemFreeHost)                                                                               \
    X(cuStreamSynchronize)                                                                         \
    X(cuLaunchKernel)                                                                              \
    X(cuLaunchKernel_ptsz)                                                                         \
    X(cuGetProcAddress)                                                                            \
    X(cuGetProcAddress_v2)                                                                         \
    X(cuDeviceTotalMem_v2)                                                                         \
    X(cuDeviceTotalMem)                                                                            \
    X(cuDeviceGetPCIBusId)

static struct {
#define FIELD(name) gpx_##name##_fn name;
    API(FIELD)
#undef FIELD
} cu;

static void *libcuda;

static void load_dlsym(void)
{
    libcuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    CHECK(libcuda, "dlopen libcuda.so.1: %s", dlerror());
#define RESOLVE(name) cu.name = (gpx_##name##_fn)dlsym(libcuda, #name);
    API(RESOLVE)
#undef RESOLVE
    CHECK(cu.cuInit && cu.cuMemAlloc_v2, "libcuda.so.1 lacks cuInit/cuMemAlloc_v2");
}

static void setup_context(void)
{
    CUdevice dev;
    CUcontext ctx;
    CU_OK(cu.cuInit(0));
    CU_OK(cu.cuDeviceGet(&dev, 0));
    CU_OK(cu.cuDevicePrimaryCtxRetain(&ctx, dev));
    CU_OK(cu.cuCtxSetCurrent(ctx));
}

/* ---- the lease, as the region says -------------------------------------------------------- */

static struct gpx_lease_region region;
static char lease_id[GPX_LEASE_ID_MAX];

static void open_region(void)
{
    const char *id = getenv("GPUPLEX_LEASE");
    CHECK(id && strlen(id) < sizeof lease_id, "GPUPLEX_LEASE must name a lease");
    strcpy(lease_id, id);
    gpx_error err;
    CHECK(gpx_lease_region_open(gpx_run_dir(), lease_id, &region, &err) == 0, "%s", err.msg);
}

static uint64_t used(void)
{
    return gpx_lease_used(region.usage); /* allocated: the shared total less the credits */
}

static uint64_t refused(void)
{
    return atomic_load(&region.usage->refused);
}

static uint64_t quota(void)
{
    return region.limits->memory_quota;
}

/* ---- objects: every allocation path burn does not take ------------------------------------ */

static uint64_t array_case(const char *what, const CUDA_ARRAY3D_DESCRIPTOR *d, unsigned levels,
                           uint64_t expect)
{
    uint64_t before = used();
    if (levels) {
        CUmipmappedArray m;
        CU_OK(cu.cuMipmappedArrayCreate(&m, d, levels));
        CHECK(used() == before + expect, "%s: used grew by %" PRIu64 ", expected %" PRIu64, what,
              used() - before, expect);
        CU_OK(cu.cuMipmappedArrayDestroy(m));
    } else {
        CUarray a;
        CU_OK(cu.cuArray3DCreate_v2(&a, d));
        CHECK(used() == before + expect, "%s: used grew by %" PRIu64 ", expected %" PRIu64, what,
              used() - before, expect);
        CU_OK(cu.cuArrayDestroy(a));
    }
    CHECK(used() == before, "%s: destroy gave back %" PRIu64 " of %" PRIu64, what,
          before + expect - used(), expect);
    printf("%s: %" PRIu64 " bytes counted and returned\n", what, expect);
    return expect;
}

static int cmd_objects(void)
{
    open_region();
    load_dlsym();
    setup_context();
    const uint64_t q = quota();
    CHECK(q >= 32 * MiB && q < 1024 * MiB, "objects expects a quota of 32 MiB..1 GiB");
    const uint64_t base = used();

    /* 2D arrays, both descriptor versions: width x height x channels x element size. */
    CUDA_ARRAY_DESCRIPTOR d2 = {
        .Width = 1024, .Height = 256, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 4};
    CUarray a;
    CU_OK(cu.cuArrayCreate_v2(&a, &d2));
    CHECK(used() == base + 4 * MiB, "cuArrayCreate_v2 counted %" PRIu64, used() - base);
    CU_OK(cu.cuArrayDestroy(a));
    CHECK(used() == base, "cuArrayDestroy");
    CUDA_ARRAY_DESCRIPTOR_v1 d1 = {
        .Width = 512, .Height = 512, .Format = CU_AD_FORMAT_HALF, .NumChannels = 2};
    if (cu.cuArrayCreate) {
        CU_OK(cu.cuArrayCreate(&a, &d1));
        CHECK(used() == base + 1 * MiB, "cuArrayCreate (v1) counted %" PRIu64, used() - base);
        CU_OK(cu.cuArrayDestroy(a));
        CHECK(used() == base, "cuArrayDestroy (v1)");
    }
    printf("2D arrays: counted from the descriptor and returned\n");

    /* 3D, layered, 1D, mipmapped (levels summed; layers are not halved). */
    CUDA_ARRAY3D_DESCRIPTOR d3 = {.Width = 256,
                                  .Height = 256,
                                  .Depth = 16,
                                  .Format = CU_AD_FORMAT_UNSIGNED_INT8,
                                  .NumChannels = 1};
    array_case("3D array", &d3, 0, 1 * MiB);
    CUDA_ARRAY3D_DESCRIPTOR dl = {.Width = 256,
                                  .Height = 256,
                                  .Depth = 8,
                                  .Format = CU_AD_FORMAT_FLOAT,
                                  .NumChannels = 1,
                                  .Flags = CUDA_ARRAY3D_LAYERED};
    array_case("layered array", &dl, 0, 2 * MiB);
    CUDA_ARRAY3D_DESCRIPTOR d1d = {
        .Width = 65536, .Format = CU_AD_FORMAT_SIGNED_INT32, .NumChannels = 1};
    array_case("1D array", &d1d, 0, 256 * 1024);
    CUDA_ARRAY3D_DESCRIPTOR dm = {
        .Width = 1024, .Height = 1024, .Format = CU_AD_FORMAT_UNSIGNED_INT8, .NumChannels = 1};
    array_case("mipmapped array (3 levels)", &dm, 3, 1024 * 1024 + 512 * 512 + 256 * 256);
    CUDA_ARRAY3D_DESCRIPTOR dml = {.Width = 256,
                                   .Height = 256,
                                   .Depth = 4,
                                   .Format = CU_AD_FORMAT_UNSIGNED_INT8,
                                   .NumChannels = 1,
                                   .Flags = CUDA_ARRAY3D_LAYERED};
    array_case("layered mipmapped array (2 levels)", &dml, 2, 256 * 256 * 4 + 128 * 128 * 4);

    /* Past the quota: refused before the driver (which would have had room). */
    uint64_t r0 = refused();
    CUDA_ARRAY3D_DESCRIPTOR big = {
        .Width = 8192, .Height = 8192, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 4};
    CHECK(cu.cuArray3DCreate_v2(&a, &big) == CUDA_ERROR_OUT_OF_MEMORY, "1 GiB array not refused");
    CUmipmappedArray m;
    CHECK(cu.cuMipmappedArrayCreate(&m, &big, 4) == CUDA_ERROR_OUT_OF_MEMORY,
          "1.3 GiB mipmapped array not refused");
    CUDA_ARRAY_DESCRIPTOR big2 = {
        .Width = 8192, .Height = 8192, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 4};
    CHECK(cu.cuArrayCreate_v2(&a, &big2) == CUDA_ERROR_OUT_OF_MEMORY, "1 GiB 2D array not refused");
    CHECK(used() == base && refused() == r0 + 3, "refusals: used %" PRIu64 ", refused +%" PRIu64,
          used() - base, refused() - r0);
    printf("arrays past the quota: refused\n");

    /* External memory: counted by its size. */
    int fd = memfd_create("gpx-ipcheck-ext", MFD_CLOEXEC);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)(8 * MiB)) == 0, "memfd: %s", strerror(errno));
    CUDA_EXTERNAL_MEMORY_HANDLE_DESC ed = {.type = CU_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD,
                                           .size = 8 * MiB};
    ed.handle.fd = fd;
    CUexternalMemory ext;
    CU_OK(cu.cuImportExternalMemory(&ext, &ed));
    CHECK(used() == base + 8 * MiB, "cuImportExternalMemory counted %" PRIu64, used() - base);
    CU_OK(cu.cuDestroyExternalMemory(ext));
    CHECK(used() == base, "cuDestroyExternalMemory");
    CUDA_EXTERNAL_MEMORY_HANDLE_DESC eb = ed;
    eb.size = q + MiB;
    eb.handle.fd = fd;
    CHECK(cu.cuImportExternalMemory(&ext, &eb) == CUDA_ERROR_OUT_OF_MEMORY,
          "external memory past the quota not refused");
    printf("external memory: counted by size, returned, refused past the quota\n");

    /* Pools: each allocation counts once, the pool itself not at all. */
    CUmemPoolProps pp = {.allocType = CU_MEM_ALLOCATION_TYPE_PINNED,
                         .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0}};
    CUmemoryPool pool;
    CU_OK(cu.cuMemPoolCreate(&pool, &pp));
    CUdeviceptr p1, p2;
    CU_OK(cu.cuMemAllocFromPoolAsync(&p1, 4 * MiB, pool, NULL));
    CU_OK(cu.cuMemAllocFromPoolAsync(&p2, 6 * MiB, pool, NULL));
    CHECK(used() == base + 10 * MiB, "pool allocations counted %" PRIu64, used() - base);
    CHECK(cu.cuMemAllocFromPoolAsync(&p1, q, pool, NULL) == CUDA_ERROR_OUT_OF_MEMORY,
          "pool allocation past the quota not refused");
    CU_OK(cu.cuMemFreeAsync(p1, NULL));
    CU_OK(cu.cuMemFreeAsync(p2, NULL));
    CU_OK(cu.cuStreamSynchronize(NULL));
    CHECK(used() == base, "pool frees gave back %" PRIu64, base + 10 * MiB - used());
    /* Reuse in the pool (the same addresses again) counts again, once each. */
    for (int i = 0; i < 100; i++) {
        CU_OK(cu.cuMemAllocFromPoolAsync(&p1, 2 * MiB, pool, NULL));
        CHECK(used() == base + 2 * MiB, "pool reuse %d: %" PRIu64, i, used() - base);
        CU_OK(cu.cuMemFreeAsync(p1, NULL));
    }
    CU_OK(cu.cuMemPoolDestroy(pool));
    CUmemoryPool dpool;
    CU_OK(cu.cuDeviceGetDefaultMemPool(&dpool, 0));
    CU_OK(cu.cuMemAllocFromPoolAsync(&p1, 3 * MiB, dpool, NULL));
    CHECK(used() == base + 3 * MiB, "default-pool allocation counted %" PRIu64, used() - base);
    CU_OK(cu.cuMemFreeAsync(p1, NULL));
    CHECK(used() == base, "default-pool free");
    printf("pools: each allocation counted once, frees returned\n");

    /* A host-located pool is not device memory. */
    CUmemPoolProps hp = {.allocType = CU_MEM_ALLOCATION_TYPE_PINNED,
                         .location = {.type = CU_MEM_LOCATION_TYPE_HOST, .id = 0}};
    CUresult hrc = cu.cuMemPoolCreate(&pool, &hp);
    if (hrc == CUDA_SUCCESS) {
        CU_OK(cu.cuMemAllocFromPoolAsync(&p1, 4 * MiB, pool, NULL));
        CHECK(used() == base, "host-pool allocation counted %" PRIu64, used() - base);
        CU_OK(cu.cuMemFreeAsync(p1, NULL));
        CU_OK(cu.cuStreamSynchronize(NULL));
        CU_OK(cu.cuMemPoolDestroy(pool));
        printf("host-located pool: not counted\n");
    } else {
        printf("host-located pool: the driver refused one (%d), skipped\n", (int)hrc);
    }

    /* VMM: device-located handles count by size, host-located ones do not. */
    CUmemAllocationProp dp = {.type = CU_MEM_ALLOCATION_TYPE_PINNED,
                              .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0}};
    size_t gran = 2 * MiB;
    if (cu.cuMemGetAllocationGranularity)
        cu.cuMemGetAllocationGranularity(&gran, &dp, CU_MEM_ALLOC_GRANULARITY_MINIMUM);
    CUmemGenericAllocationHandle h;
    CU_OK(cu.cuMemCreate(&h, 4 * gran, &dp, 0));
    CHECK(used() == base + 4 * gran, "device cuMemCreate counted %" PRIu64, used() - base);
    CU_OK(cu.cuMemRelease(h));
    CHECK(used() == base, "cuMemRelease");
    CHECK(cu.cuMemCreate(&h, (q / gran + 1) * gran, &dp, 0) == CUDA_ERROR_OUT_OF_MEMORY,
          "cuMemCreate past the quota not refused");
    /* The usual sequence releases the handle while it is mapped: the memory (and the
     * quota) stays held until the last unmap. */
    CUdeviceptr va;
    CU_OK(cu.cuMemCreate(&h, 4 * gran, &dp, 0));
    CU_OK(cu.cuMemAddressReserve(&va, 4 * gran, 0, 0, 0));
    CU_OK(cu.cuMemMap(va, 2 * gran, 0, h, 0));
    CU_OK(cu.cuMemMap(va + 2 * gran, 2 * gran, 2 * gran, h, 0));
    CU_OK(cu.cuMemRelease(h));
    CHECK(used() == base + 4 * gran, "a released but mapped handle was given back early");
    CU_OK(cu.cuMemUnmap(va, 2 * gran));
    CHECK(used() == base + 4 * gran, "given back before the last unmap");
    CU_OK(cu.cuMemUnmap(va + 2 * gran, 2 * gran));
    CHECK(used() == base, "not given back at the last unmap");
    CU_OK(cu.cuMemAddressFree(va, 4 * gran));
    CUmemAllocationProp hprop = dp;
    hprop.location.type = CU_MEM_LOCATION_TYPE_HOST;
    hrc = cu.cuMemCreate(&h, 4 * gran, &hprop, 0);
    if (hrc == CUDA_SUCCESS) {
        CHECK(used() == base, "host cuMemCreate counted %" PRIu64, used() - base);
        CU_OK(cu.cuMemRelease(h));
        CHECK(used() == base, "host cuMemRelease changed used");
        printf("VMM: device handles counted, host handles not\n");
    } else {
        printf("VMM: device handles counted; host-located refused by the driver (%d)\n", (int)hrc);
    }

    /* Pitch x height as returned; managed by size; the legacy 32-bit entry points. */
    CUdeviceptr pp2;
    size_t pitch = 0;
    CU_OK(cu.cuMemAllocPitch_v2(&pp2, &pitch, 1000, 300, 4));
    CHECK(pitch >= 1000 && used() == base + pitch * 300, "pitched: pitch %zu, counted %" PRIu64,
          pitch, used() - base);
    CU_OK(cu.cuMemFree_v2(pp2));
    CU_OK(cu.cuMemAllocManaged(&pp2, 5 * MiB, CU_MEM_ATTACH_GLOBAL));
    CHECK(used() == base + 5 * MiB, "managed counted %" PRIu64, used() - base);
    CU_OK(cu.cuMemFree_v2(pp2));
    CHECK(used() == base, "pitched/managed frees");
    CUdeviceptr_v1 p32;
    if (cu.cuMemAlloc && cu.cuMemAlloc(&p32, (unsigned)MiB) == CUDA_SUCCESS) {
        CHECK(used() == base + MiB, "cuMemAlloc (v1) counted %" PRIu64, used() - base);
        CU_OK(cu.cuMemFree(p32));
        CHECK(used() == base, "cuMemFree (v1)");
        CHECK(cu.cuMemAlloc(&p32, (unsigned)(q + MiB)) == CUDA_ERROR_OUT_OF_MEMORY,
              "cuMemAlloc (v1) past the quota not refused");
    }
    printf("pitched, managed, legacy: counted as returned\n");

    /* What we did not count passes straight through, and changes nothing. */
    CHECK(cu.cuMemFree_v2((CUdeviceptr)0xdead0000ULL) != CUDA_SUCCESS, "bogus free succeeded");
    void *host;
    CU_OK(cu.cuMemHostAlloc(&host, 16 * MiB, 0));
    CHECK(used() == base, "host memory counted");
    CU_OK(cu.cuMemFreeHost(host));
    CHECK(used() == base, "uncounted frees changed used");
    printf("uncounted frees: passed through\n");
    printf("objects: ok\n");
    return 0;
}

/* ---- cuMemCreate on worker threads (vLLM, NCCL, expandable_segments) ------------------------ */

struct vmm_job {
    int ctx_device; /* -1: no current context; else make this device's primary context current */
    CUresult rc;
    uint64_t counted, after_release;
};

static void *vmm_worker(void *arg)
{
    struct vmm_job *j = arg;
    if (j->ctx_device >= 0) {
        CUdevice dev;
        CUcontext ctx;
        CU_OK(cu.cuDeviceGet(&dev, j->ctx_device));
        CU_OK(cu.cuDevicePrimaryCtxRetain(&ctx, dev));
        CU_OK(cu.cuCtxSetCurrent(ctx));
    }
    CUcontext cur = (CUcontext)1;
    CU_OK(cu.cuCtxGetCurrent(&cur));
    CHECK((cur == NULL) == (j->ctx_device < 0), "the worker's current context");
    /* The allocation is on device 0, whatever the thread's context says. */
    CUmemAllocationProp dp = {.type = CU_MEM_ALLOCATION_TYPE_PINNED,
                              .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0}};
    CUmemGenericAllocationHandle h;
    uint64_t before = used();
    j->rc = cu.cuMemCreate(&h, 8 * MiB, &dp, 0);
    j->counted = used() - before;
    if (j->rc == CUDA_SUCCESS)
        CU_OK(cu.cuMemRelease(h));
    j->after_release = used() - before;
    return NULL;
}

static void run_vmm_job(struct vmm_job *j)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, vmm_worker, j) == 0, "pthread_create");
    pthread_join(t, NULL);
}

static int cmd_worker_vmm(void)
{
    open_region();
    load_dlsym();
    CU_OK(cu.cuInit(0)); /* no context made current on the main thread either */
    int ndev = 1;
    CU_OK(cu.cuDeviceGetCount(&ndev));

    /* No context at all: no crash, and exactly what the driver allocated is counted. */
    struct vmm_job none = {.ctx_device = -1};
    run_vmm_job(&none);
    if (none.rc == CUDA_SUCCESS)
        CHECK(none.counted == 8 * MiB, "counted %" PRIu64 " without a context", none.counted);
    else
        CHECK(none.counted == 0, "a failed cuMemCreate (%d) left %" PRIu64 " counted", (int)none.rc,
              none.counted);
    CHECK(none.after_release == 0, "release left %" PRIu64, none.after_release);
    printf("worker without a context: cuMemCreate -> %d, counted %" PRIu64 "\n", (int)none.rc,
           none.counted);

    /* Another device's context current: the allocation is still device 0's 8 MiB. */
    struct vmm_job other = {.ctx_device = ndev > 1 ? 1 : 0};
    run_vmm_job(&other);
    CHECK(other.rc == CUDA_SUCCESS && other.counted == 8 * MiB && other.after_release == 0,
          "worker with device %d's context: rc %d, counted %" PRIu64 ", after release %" PRIu64,
          other.ctx_device, (int)other.rc, other.counted, other.after_release);
    printf("worker with device %d's context: 8 MiB on device 0 counted, returned\n",
           other.ctx_device);
    printf("worker-vmm: ok\n");
    return 0;
}

/* ---- cuGetProcAddress ---------------------------------------------------------------------- */

static void *exported(const char *name)
{
    /* What a direct call would reach: the interposer's hook when preloaded, else the driver. */
    return dlsym(RTLD_DEFAULT, name);
}

static void *proc_v2(const char *sym, int version, cuuint64_t flags,
                     CUdriverProcAddressQueryResult *st)
{
    void *p = NULL;
    *st = (CUdriverProcAddressQueryResult)-1;
    CUresult rc = cu.cuGetProcAddress_v2(sym, &p, version, flags, st);
    return rc == CUDA_SUCCESS ? p : NULL;
}

static int cmd_procaddr(void)
{
    open_region();
    load_dlsym();
    /* Load libcuda globally so RTLD_DEFAULT look-ups reach the driver when not preloaded. */
    CHECK(dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD), "libcuda global");
    setup_context();
    const uint64_t q = quota();
    CHECK(cu.cuGetProcAddress_v2 && cu.cuGetProcAddress, "both cuGetProcAddress signatures");

    static const struct {
        const char *sym;
        int version;
        cuuint64_t flags;
        const char *variant;
    } cases[] = {
        {"cuMemAlloc", 12000, CU_GET_PROC_ADDRESS_DEFAULT, "cuMemAlloc_v2"},
        {"cuMemAlloc", 3000, CU_GET_PROC_ADDRESS_DEFAULT, "cuMemAlloc"},
        {"cuMemFree", 11030, CU_GET_PROC_ADDRESS_DEFAULT, "cuMemFree_v2"},
        {"cuMemGetInfo", 12040, CU_GET_PROC_ADDRESS_LEGACY_STREAM, "cuMemGetInfo_v2"},
        {"cuMemAllocAsync", 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
         "cuMemAllocAsync_ptsz"},
        {"cuMemAllocAsync", 12000, CU_GET_PROC_ADDRESS_DEFAULT, "cuMemAllocAsync"},
        {"cuMemFreeAsync", 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
         "cuMemFreeAsync_ptsz"},
        {"cuLaunchKernel", 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
         "cuLaunchKernel_ptsz"},
        {"cuLaunchKernel", 12000, CU_GET_PROC_ADDRESS_LEGACY_STREAM, "cuLaunchKernel"},
        {"cuGraphLaunch", 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
         "cuGraphLaunch_ptsz"},
        {"cuMemCreate", 12000, CU_GET_PROC_ADDRESS_DEFAULT, "cuMemCreate"},
        {"cuArrayCreate", 12000, CU_GET_PROC_ADDRESS_DEFAULT, "cuArrayCreate_v2"},
        {"cuGetProcAddress", 12000, CU_GET_PROC_ADDRESS_DEFAULT, "cuGetProcAddress_v2"},
        {"cuGetProcAddress", 11030, CU_GET_PROC_ADDRESS_DEFAULT, "cuGetProcAddress"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CUdriverProcAddressQueryResult st;
        void *p = proc_v2(cases[i].sym, cases[i].version, cases[i].flags, &st);
        void *want = exported(cases[i].variant);
        CHECK(p && st == CU_GET_PROC_ADDRESS_SUCCESS, "%s@%d/%llu: status %d", cases[i].sym,
              cases[i].version, (unsigned long long)cases[i].flags, (int)st);
        CHECK(p == want, "%s@%d/%llu: not the %s entry point (%p, want %p)", cases[i].sym,
              cases[i].version, (unsigned long long)cases[i].flags, cases[i].variant, p, want);
        void *p1 = NULL;
        CU_OK(cu.cuGetProcAddress(cases[i].sym, &p1, cases[i].version, cases[i].flags));
        CHECK(p1 == want, "v1 signature: %s@%d gave %p, want %p", cases[i].sym, cases[i].version,
              p1, want);
        printf("cuGetProcAddress(%s, %d, %llu) -> %s\n", cases[i].sym, cases[i].version,
               (unsigned long long)cases[i].flags, cases[i].variant);
    }

    /* symbolStatus for what the driver does not have. */
    CUdriverProcAddressQueryResult st;
    CHECK(!proc_v2("cuNoSuchEntryPoint", 12000, 0, &st) &&
              st == CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND,
          "unknown symbol: status %d", (int)st);
    CHECK(!proc_v2("cuMemAllocAsync", 11000, 0, &st) &&
              st == CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT,
          "too old a version: status %d", (int)st);
    printf("symbolStatus: SYMBOL_NOT_FOUND and VERSION_NOT_SUFFICIENT reported\n");

    /* The handed-out pointers enforce the quota (when a lease is set). */
    gpx_cuMemAlloc_v2_fn alloc = (gpx_cuMemAlloc_v2_fn)proc_v2("cuMemAlloc", 12000, 0, &st);
    gpx_cuMemFree_v2_fn mfree = (gpx_cuMemFree_v2_fn)proc_v2("cuMemFree", 12000, 0, &st);
    gpx_cuMemAlloc_fn alloc_v1 = (gpx_cuMemAlloc_fn)proc_v2("cuMemAlloc", 3000, 0, &st);
    gpx_cuMemAllocAsync_fn alloc_pt = (gpx_cuMemAllocAsync_fn)proc_v2(
        "cuMemAllocAsync", 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, &st);
    gpx_cuMemFreeAsync_fn free_pt = (gpx_cuMemFreeAsync_fn)proc_v2(
        "cuMemFreeAsync", 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, &st);
    gpx_cuGetProcAddress_v2_fn gpa =
        (gpx_cuGetProcAddress_v2_fn)proc_v2("cuGetProcAddress", 12000, 0, &st);
    CUdeviceptr d;
    CHECK(alloc(&d, q + MiB) == CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc_v2 from cuGetProcAddress");
    CHECK(alloc_pt(&d, q + MiB, CU_STREAM_PER_THREAD) == CUDA_ERROR_OUT_OF_MEMORY,
          "cuMemAllocAsync_ptsz from cuGetProcAddress");
    CUdeviceptr_v1 d1;
    CUresult r1 = alloc_v1(&d1, (unsigned)(q + MiB));
    CHECK(r1 == CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc (v1) from cuGetProcAddress: %d", (int)r1);
    /* cuGetProcAddress found through cuGetProcAddress is still ours. */
    void *again = NULL;
    CU_OK(gpa("cuMemAlloc", &again, 12000, 0, &st));
    CHECK(again == (void *)alloc, "cuGetProcAddress via cuGetProcAddress");
    uint64_t before = used();
    CU_OK(alloc(&d, 4 * MiB));
    CHECK(used() == before + 4 * MiB, "counted %" PRIu64, used() - before);
    CU_OK(mfree(d));
    CU_OK(alloc_pt(&d, 4 * MiB, CU_STREAM_PER_THREAD));
    CHECK(used() == before + 4 * MiB, "ptsz counted %" PRIu64, used() - before);
    CU_OK(free_pt(d, CU_STREAM_PER_THREAD));
    CHECK(used() == before, "frees through cuGetProcAddress pointers");
    printf("procaddr: ok\n");
    return 0;
}

/* ---- dlsym --------------------------------------------------------------------------------- */

static int cmd_dlsym(void)
{
    open_region();
    load_dlsym(); /* dlopen("libcuda.so.1") + dlsym on its handle */
    setup_context();
    const uint64_t q = quota();
    CUdeviceptr d;
    CHECK(cu.cuMemAlloc_v2(&d, q + MiB) == CUDA_ERROR_OUT_OF_MEMORY, "dlsym'd cuMemAlloc_v2");
    uint64_t before = used();
    CU_OK(cu.cuMemAlloc_v2(&d, 2 * MiB));
    CHECK(used() == before + 2 * MiB, "dlsym'd cuMemAlloc_v2 counted %" PRIu64, used() - before);
    CU_OK(cu.cuMemFree_v2(d));
    CHECK(used() == before, "dlsym'd cuMemFree_v2");

    /* RTLD_DEFAULT and RTLD_NEXT look-ups of driver names. */
    gpx_cuMemAlloc_v2_fn viadef = (gpx_cuMemAlloc_v2_fn)dlsym(RTLD_DEFAULT, "cuMemAlloc_v2");
    if (viadef)
        CHECK(viadef(&d, q + MiB) == CUDA_ERROR_OUT_OF_MEMORY, "RTLD_DEFAULT cuMemAlloc_v2");
    gpx_cuMemAlloc_v2_fn vianext = (gpx_cuMemAlloc_v2_fn)dlsym(RTLD_NEXT, "cuMemAlloc_v2");
    if (vianext)
        CHECK(vianext(&d, q + MiB) == CUDA_ERROR_OUT_OF_MEMORY, "RTLD_NEXT cuMemAlloc_v2");

    /* Everything else still resolves as the C library would: RTLD_NEXT is "after the caller". */
    void *next_malloc = dlsym(RTLD_NEXT, "malloc");
    void *def_malloc = dlsym(RTLD_DEFAULT, "malloc");
    CHECK(next_malloc && def_malloc, "dlsym(RTLD_NEXT/DEFAULT, malloc)");
    CHECK(dlsym(RTLD_NEXT, "gpx_no_such_symbol") == NULL && dlerror() != NULL,
          "a missing symbol sets dlerror");
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    void *libc_strlen = libc ? dlsym(libc, "strlen") : NULL;
    Dl_info info;
    CHECK(libc_strlen && dladdr(libc_strlen, &info) && strstr(info.dli_fname, "libc.so"),
          "dlsym(libc handle, strlen) is not libc's");

    /* NVML through dlsym: the leased GPU shows the quota. */
    void *nv = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    CHECK(nv, "dlopen libnvidia-ml.so.1: %s", dlerror());
    nvml_init_fn init = (nvml_init_fn)dlsym(nv, "nvmlInit_v2");
    nvml_device_by_index_fn by_index =
        (nvml_device_by_index_fn)dlsym(nv, "nvmlDeviceGetHandleByIndex_v2");
    nvml_device_memory_fn meminfo = (nvml_device_memory_fn)dlsym(nv, "nvmlDeviceGetMemoryInfo");
    CHECK(init && by_index && meminfo && init() == NVML_SUCCESS, "nvml init");
    nvmlDevice_t dev;
    CHECK(by_index(region.limits->gpu_index, &dev) == NVML_SUCCESS, "nvml handle");
    nvmlMemory_t m;
    CHECK(meminfo(dev, &m) == NVML_SUCCESS && m.total == q,
          "dlsym'd nvmlDeviceGetMemoryInfo: "
          "total %llu, quota %" PRIu64,
          m.total, q);
    printf("dlsym: ok\n");
    return 0;
}

/* ---- direct calls (the linked symbols, as a program built against libcuda) ----------------- */

#ifdef GPX_IPCHECK_DIRECT
static int cmd_direct(void)
{
    open_region();
    const uint64_t q = quota();
    CUdevice dev;
    CUcontext ctx;
    CU_OK(cuInit(0));
    CU_OK(cuDeviceGet(&dev, 0));
    CU_OK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CU_OK(cuCtxSetCurrent(ctx));
    CUdeviceptr d;
    CHECK(cuMemAlloc_v2(&d, q + MiB) == CUDA_ERROR_OUT_OF_MEMORY, "direct cuMemAlloc_v2");
    uint64_t before = used();
    CU_OK(cuMemAlloc_v2(&d, 2 * MiB));
    CHECK(used() == before + 2 * MiB, "direct counted %" PRIu64, used() - before);
    CU_OK(cuMemFree_v2(d));
    CHECK(used() == before, "direct free");
    size_t f, t;
    CU_OK(cuMemGetInfo_v2(&f, &t));
    CHECK(t == q, "direct cuMemGetInfo_v2: total %zu", t);
    printf("direct: ok\n");
    return 0;
}
#endif

/* ---- the device's size, every way an application asks ------------------------------------- */

static void size_is(const char *how, uint64_t got, uint64_t want)
{
    CHECK(got == want, "%s: %" PRIu64 " bytes, expected %" PRIu64, how, got, want);
    printf("%s: %" PRIu64 "\n", how, got);
}

/*
 * sizes BYTES [NVML_BYTES [UUID]]: cuDeviceTotalMem_v2 / cuDeviceTotalMem of device 0
 * (what deviceQuery and cudaGetDeviceProperties read) through direct calls,
 * dlsym on the driver's handle and RTLD_DEFAULT, and cuGetProcAddress in both
 * signatures (CUDA 12 picks _v2, CUDA 3.0 the 32-bit original) answer BYTES
 * (the 32-bit one saturated); cuMemGetInfo_v2's total agrees; with
 * NVML_BYTES, nvmlDeviceGetMemoryInfo(_v2) of the same GPU (by PCI bus id,
 * or by UUID: a MIG device's) answers that. Runs with or without a lease.
 */
static int cmd_sizes(uint64_t want, int64_t want_nvml, const char *uuid)
{
    const uint64_t want32 = want > 0xffffffffULL ? 0xffffffffULL : want;
    load_dlsym();
    CHECK(dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD), "libcuda global");
    setup_context();
    CUdevice dev = 0;
    size_t b = 0;
    unsigned int u = 0;
#ifdef GPX_IPCHECK_DIRECT
    CU_OK(cuDeviceTotalMem_v2(&b, dev));
    size_is("direct cuDeviceTotalMem_v2", b, want);
    CU_OK(cuDeviceTotalMem(&u, dev));
    size_is("direct cuDeviceTotalMem", u, want32);
#endif
    CU_OK(cu.cuDeviceTotalMem_v2(&b, dev));
    size_is("dlsym(libcuda) cuDeviceTotalMem_v2", b, want);
    CU_OK(cu.cuDeviceTotalMem(&u, dev));
    size_is("dlsym(libcuda) cuDeviceTotalMem", u, want32);
    gpx_cuDeviceTotalMem_v2_fn def =
        (gpx_cuDeviceTotalMem_v2_fn)dlsym(RTLD_DEFAULT, "cuDeviceTotalMem_v2");
    CHECK(def, "dlsym(RTLD_DEFAULT, cuDeviceTotalMem_v2)");
    CU_OK(def(&b, dev));
    size_is("dlsym(RTLD_DEFAULT) cuDeviceTotalMem_v2", b, want);

    CUdriverProcAddressQueryResult st;
    gpx_cuDeviceTotalMem_v2_fn p2 =
        (gpx_cuDeviceTotalMem_v2_fn)proc_v2("cuDeviceTotalMem", 12000, 0, &st);
    CHECK(p2 && st == CU_GET_PROC_ADDRESS_SUCCESS, "cuGetProcAddress_v2(cuDeviceTotalMem, 12000)");
    CU_OK(p2(&b, dev));
    size_is("cuGetProcAddress_v2(cuDeviceTotalMem, 12000)", b, want);
    gpx_cuDeviceTotalMem_fn p1 = (gpx_cuDeviceTotalMem_fn)proc_v2("cuDeviceTotalMem", 3000, 0, &st);
    CHECK(p1 && st == CU_GET_PROC_ADDRESS_SUCCESS, "cuGetProcAddress_v2(cuDeviceTotalMem, 3000)");
    CU_OK(p1(&u, dev));
    size_is("cuGetProcAddress_v2(cuDeviceTotalMem, 3000)", u, want32);
    void *v1 = NULL;
    CU_OK(cu.cuGetProcAddress("cuDeviceTotalMem", &v1, 12040,
                              CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM));
    CU_OK(((gpx_cuDeviceTotalMem_v2_fn)v1)(&b, dev));
    size_is("cuGetProcAddress(cuDeviceTotalMem, 12040, per-thread)", b, want);
    CU_OK(cu.cuGetProcAddress("cuDeviceTotalMem", &v1, 3020, 0));
    CU_OK(((gpx_cuDeviceTotalMem_v2_fn)v1)(&b, dev));
    size_is("cuGetProcAddress(cuDeviceTotalMem, 3020)", b, want);

    size_t f = 0, t = 0;
    CU_OK(cu.cuMemGetInfo_v2(&f, &t));
    size_is("cuMemGetInfo_v2 total", t, want);
    CHECK(f <= t, "cuMemGetInfo_v2: free %zu above total %zu", f, t);

    if (want_nvml >= 0) {
        char bus[32];
        CU_OK(cu.cuDeviceGetPCIBusId(bus, sizeof bus, dev));
        void *nv = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
        CHECK(nv, "dlopen libnvidia-ml.so.1: %s", dlerror());
        nvml_init_fn init = (nvml_init_fn)dlsym(nv, "nvmlInit_v2");
        nvml_device_by_string_fn by_key = (nvml_device_by_string_fn)dlsym(
            nv, uuid ? "nvmlDeviceGetHandleByUUID" : "nvmlDeviceGetHandleByPciBusId_v2");
        nvml_device_memory_fn mi = (nvml_device_memory_fn)dlsym(nv, "nvmlDeviceGetMemoryInfo");
        nvml_device_memory_v2_fn mi2 =
            (nvml_device_memory_v2_fn)dlsym(nv, "nvmlDeviceGetMemoryInfo_v2");
        CHECK(init && by_key && mi && mi2 && init() == NVML_SUCCESS, "nvml init");
        nvmlDevice_t h;
        CHECK(by_key(uuid ? uuid : bus, &h) == NVML_SUCCESS, "nvml handle of %s",
              uuid ? uuid : bus);
        nvmlMemory_t m;
        nvmlMemory_v2_t m2 = {.version = nvmlMemory_v2};
        CHECK(mi(h, &m) == NVML_SUCCESS && mi2(h, &m2) == NVML_SUCCESS, "nvml memory info");
        size_is("nvmlDeviceGetMemoryInfo total", m.total, (uint64_t)want_nvml);
        size_is("nvmlDeviceGetMemoryInfo_v2 total", m2.total, (uint64_t)want_nvml);
    }
    printf("sizes: ok\n");
    return 0;
}

/* ---- NVML's process lists ------------------------------------------------------------------ */

/*
 * nvml-procs MIB: holds MIB of device memory (a context, so it is listed),
 * then prints, as JSON, what NVML's process queries on the GPU of CUDA device
 * 0 answer: {"self": pid, "v1"/"v2"/"v3": [[pid, used], ...], "util": [pid,
 * ...], "size_query": n}. Checks NVML's size protocol on the way: asking with
 * no room says NVML_ERROR_INSUFFICIENT_SIZE and the number to make room for,
 * which is then exactly what one call fills.
 */
typedef nvmlReturn_t (*list_v1_fn)(nvmlDevice_t, unsigned int *, nvmlProcessInfo_v1_t *);
typedef nvmlReturn_t (*util_fn)(nvmlDevice_t, nvmlProcessUtilizationSample_t *, unsigned int *,
                                unsigned long long);

static int cmd_nvml_procs(uint64_t hold)
{
    load_dlsym();
    setup_context();
    CUdeviceptr d = 0;
    if (hold)
        CU_OK(cu.cuMemAlloc_v2(&d, hold));
    char bus[32];
    CU_OK(cu.cuDeviceGetPCIBusId(bus, sizeof bus, 0));
    void *nv = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    CHECK(nv, "dlopen libnvidia-ml.so.1: %s", dlerror());
    nvml_init_fn init = (nvml_init_fn)dlsym(nv, "nvmlInit_v2");
    nvml_device_by_string_fn by_bus =
        (nvml_device_by_string_fn)dlsym(nv, "nvmlDeviceGetHandleByPciBusId_v2");
    list_v1_fn v1 = (list_v1_fn)dlsym(nv, "nvmlDeviceGetComputeRunningProcesses");
    nvml_device_processes_fn v2 =
        (nvml_device_processes_fn)dlsym(nv, "nvmlDeviceGetComputeRunningProcesses_v2");
    nvml_device_processes_fn v3 =
        (nvml_device_processes_fn)dlsym(nv, "nvmlDeviceGetComputeRunningProcesses_v3");
    util_fn util = (util_fn)dlsym(nv, "nvmlDeviceGetProcessUtilization");
    CHECK(init && by_bus && v1 && v2 && v3 && util && init() == NVML_SUCCESS, "nvml entry points");
    /* What a direct call reaches (the interposer's hook when preloaded) agrees with dlsym's. */
    CHECK(dlsym(RTLD_DEFAULT, "nvmlDeviceGetComputeRunningProcesses_v3") == NULL ||
              dlsym(RTLD_DEFAULT, "nvmlDeviceGetComputeRunningProcesses_v3") == (void *)v3,
          "RTLD_DEFAULT and the handle disagree");
    nvmlDevice_t dev;
    CHECK(by_bus(bus, &dev) == NVML_SUCCESS, "nvml handle of %s", bus);

    /* The size protocol: no room -> INSUFFICIENT_SIZE and the count (or SUCCESS and 0). */
    unsigned int n = 0;
    nvmlReturn_t r = v3(dev, &n, NULL);
    CHECK((r == NVML_ERROR_INSUFFICIENT_SIZE && n > 0) || (r == NVML_SUCCESS && n == 0),
          "size query: %d, count %u", (int)r, n);
    const unsigned int size_query = n;
    nvmlProcessInfo_t p[256];
    nvmlProcessInfo_v1_t q[256];
    if (n > 1) {
        unsigned int less = n - 1;
        CHECK(v3(dev, &less, p) == NVML_ERROR_INSUFFICIENT_SIZE && less == n,
              "one entry short: count %u, expected %u", less, n);
    }
    unsigned int got = n;
    CHECK(n <= 256 && v3(dev, &got, p) == NVML_SUCCESS && got == n,
          "the size it asked for: %u of %u", got, n);

    printf("{\"self\": %d, \"size_query\": %u", (int)getpid(), size_query);
    printf(", \"v3\": [");
    for (unsigned int i = 0; i < got; i++)
        printf("%s[%u, %llu]", i ? ", " : "", p[i].pid, p[i].usedGpuMemory);
    got = 256;
    CHECK(v2(dev, &got, p) == NVML_SUCCESS, "v2");
    printf("], \"v2\": [");
    for (unsigned int i = 0; i < got; i++)
        printf("%s[%u, %llu]", i ? ", " : "", p[i].pid, p[i].usedGpuMemory);
    got = 256;
    CHECK(v1(dev, &got, q) == NVML_SUCCESS, "v1");
    printf("], \"v1\": [");
    for (unsigned int i = 0; i < got; i++)
        printf("%s[%u, %llu]", i ? ", " : "", q[i].pid, q[i].usedGpuMemory);
    printf("], \"util\": [");
    nvmlProcessUtilizationSample_t s[256];
    unsigned int ns = 0;
    r = util(dev, NULL, &ns, 0);
    CHECK(r == NVML_ERROR_INSUFFICIENT_SIZE || r == NVML_ERROR_NOT_FOUND, "util size query: %d",
          (int)r);
    if (r == NVML_ERROR_INSUFFICIENT_SIZE) {
        unsigned int want = ns;
        CHECK(ns <= 256 && util(dev, s, &ns, 0) == NVML_SUCCESS && ns == want,
              "util: %u samples of %u", ns, want);
        for (unsigned int i = 0; i < ns; i++)
            printf("%s%u", i ? ", " : "", s[i].pid);
    }
    printf("]}\n");
    if (hold)
        CU_OK(cu.cuMemFree_v2(d));
    return 0;
}

/* ---- memory information -------------------------------------------------------------------- */

static int cmd_meminfo(void)
{
    open_region();
    load_dlsym();
    setup_context();
    const uint64_t q = quota();
    size_t f = 0, t = 0;
    CU_OK(cu.cuMemGetInfo_v2(&f, &t));
    printf("cuMemGetInfo_v2: free %zu total %zu quota %" PRIu64 " used %" PRIu64 "\n", f, t, q,
           used());
    CHECK(t == q, "total %zu is not the quota", t);
    CHECK(f <= q - used(), "free %zu above what the lease leaves", f);
    /* NULL out-parameters: whatever the driver answers, no crash; total still the quota. */
    size_t t2 = 0, f2 = 0;
    CUresult r1 = cu.cuMemGetInfo_v2(NULL, &t2);
    CHECK(r1 != CUDA_SUCCESS || t2 == q, "cuMemGetInfo_v2(NULL, &total): %d, total %zu", (int)r1,
          t2);
    CUresult r2 = cu.cuMemGetInfo_v2(&f2, NULL);
    CHECK(r2 != CUDA_SUCCESS || f2 <= q, "cuMemGetInfo_v2(&free, NULL): %d, free %zu", (int)r2, f2);
    (void)cu.cuMemGetInfo_v2(NULL, NULL);
    printf("NULL out-parameters: rc %d / %d, no crash\n", (int)r1, (int)r2);
    unsigned int f32, t32;
    if (cu.cuMemGetInfo && cu.cuMemGetInfo(&f32, &t32) == CUDA_SUCCESS)
        CHECK(t32 == (q > 0xffffffffULL ? 0xffffffffU : (unsigned)q), "v1 total %u", t32);

    /* Use most of it: free follows, and reaches exactly 0 at the quota. */
    CUdeviceptr d[64];
    int n = 0;
    uint64_t chunk = q / 8;
    while (n < 64 && cu.cuMemAlloc_v2(&d[n], chunk) == CUDA_SUCCESS)
        n++;
    CU_OK(cu.cuMemGetInfo_v2(&f, &t));
    CHECK(t == q && f == q - used(), "after %d chunks: free %zu, expected %" PRIu64, n, f,
          q - used());
    CUdeviceptr rest;
    if (q - used() > 0)
        CU_OK(cu.cuMemAlloc_v2(&rest, q - used()));
    CU_OK(cu.cuMemGetInfo_v2(&f, &t));
    CHECK(f == 0 && t == q, "at the quota: free %zu total %zu", f, t);
    CHECK(cu.cuMemAlloc_v2(&rest, 1) == CUDA_ERROR_OUT_OF_MEMORY, "1 byte past the quota");

    /* Used above the quota (another process's view, or a scribbled region): free stays 0. */
    uint64_t real_used = used();
    atomic_store(&region.usage->used, q + 1024 * MiB);
    CU_OK(cu.cuMemGetInfo_v2(&f, &t));
    CHECK(f == 0, "free underflowed to %zu", f);
    atomic_store(&region.usage->used, real_used);
    printf("free reaches 0 at the quota, never underflows\n");

    /* NVML agrees on the leased GPU, not on the others. */
    void *nv = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_GLOBAL);
    CHECK(nv, "dlopen libnvidia-ml.so.1");
    nvml_init_fn init = (nvml_init_fn)dlsym(nv, "nvmlInit_v2");
    nvml_device_count_fn count = (nvml_device_count_fn)dlsym(nv, "nvmlDeviceGetCount_v2");
    nvml_device_by_index_fn by_index =
        (nvml_device_by_index_fn)dlsym(nv, "nvmlDeviceGetHandleByIndex_v2");
    nvml_device_memory_fn mi = (nvml_device_memory_fn)dlsym(nv, "nvmlDeviceGetMemoryInfo");
    nvml_device_memory_v2_fn mi2 =
        (nvml_device_memory_v2_fn)dlsym(nv, "nvmlDeviceGetMemoryInfo_v2");
    CHECK(init() == NVML_SUCCESS, "nvmlInit_v2");
    unsigned ngpu = 0;
    CHECK(count(&ngpu) == NVML_SUCCESS && ngpu >= 1, "nvml count");
    for (unsigned i = 0; i < ngpu; i++) {
        nvmlDevice_t dev;
        CHECK(by_index(i, &dev) == NVML_SUCCESS, "nvml handle %u", i);
        nvmlMemory_t m;
        nvmlMemory_v2_t m2 = {.version = nvmlMemory_v2};
        CHECK(mi(dev, &m) == NVML_SUCCESS && mi2(dev, &m2) == NVML_SUCCESS, "nvml meminfo %u", i);
        printf("nvml GPU %u: total %llu free %llu used %llu | v2 total %llu free %llu\n", i,
               m.total, m.free, m.used, m2.total, m2.free);
        if (i == region.limits->gpu_index) {
            CHECK(m.total == q && m2.total == q, "leased GPU: total %llu/%llu", m.total, m2.total);
            CHECK(m.free == 0 && m2.free == 0 && m.used == q, "leased GPU full: free %llu", m.free);
        } else {
            CHECK(m.total > q, "GPU %u is not leased but shows %llu", i, m.total);
        }
    }
    for (int i = 0; i < n; i++)
        CU_OK(cu.cuMemFree_v2(d[i]));
    printf("meminfo: ok\n");
    return 0;
}

/* ---- attempts to raise the quota ----------------------------------------------------------- */

static int cmd_env_tamper(const char *other)
{
    open_region();
    const uint64_t q = quota();
    /* Before the first CUDA call: point at a bigger lease, drop ours, invent limits. */
    if (other)
        setenv("GPUPLEX_LEASE", other, 1);
    else
        unsetenv("GPUPLEX_LEASE");
    setenv("GPUPLEX_MEMORY_QUOTA", "1T", 1);
    setenv("GPUPLEX_QUOTA", "1099511627776", 1);
    setenv("CUDA_DEVICE_MEMORY_LIMIT", "1024g", 1); /* HAMi-core's variable */
    setenv("GPUPLEX_RUN_DIR", "/tmp", 1);
    load_dlsym();
    setup_context();
    CUdeviceptr d;
    CHECK(cu.cuMemAlloc_v2(&d, q + MiB) == CUDA_ERROR_OUT_OF_MEMORY,
          "an edited environment raised the quota");
    size_t f, t;
    CU_OK(cu.cuMemGetInfo_v2(&f, &t));
    CHECK(t == q, "total %zu after editing the environment", t);
    /* And again after init. */
    setenv("GPUPLEX_LEASE", other ? other : "nope", 1);
    CHECK(cu.cuMemAlloc_v2(&d, q + MiB) == CUDA_ERROR_OUT_OF_MEMORY, "after init");
    uint64_t before = used();
    CU_OK(cu.cuMemAlloc_v2(&d, MiB));
    CHECK(used() == before + MiB, "still counted against the original lease");
    CU_OK(cu.cuMemFree_v2(d));
    printf("env-tamper: the quota stayed %" PRIu64 "\n", q);
    return 0;
}

static int cmd_region_tamper(void)
{
    open_region();
    load_dlsym();
    setup_context();
    const uint64_t q = quota();
    CUdeviceptr d;

    /* Through the mapping: read-only, and it cannot be made writable. */
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        ((struct gpx_lease_limits *)region.limits)->memory_quota = 1ULL << 40;
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    /* A fault kills the child (or, under ASan, makes it report and exit non-zero). */
    CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0),
          "writing the limits mapping did not fault");
    uintptr_t page = (uintptr_t)region.limits & ~((uintptr_t)sysconf(_SC_PAGESIZE) - 1);
    CHECK(mprotect((void *)page, sizeof *region.limits, PROT_READ | PROT_WRITE) != 0,
          "the limits mapping was made writable");
    printf("limits mapping: read-only, mprotect refused (%s)\n", strerror(errno));

    /* Through the file: a tenant cannot open it for writing; root can, and it changes nothing. */
    char path[4096];
    snprintf(path, sizeof path, "%s/leases/%s.limits", gpx_run_dir(), lease_id);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        struct gpx_lease_limits l = *region.limits;
        l.memory_quota = 1ULL << 40;
        CHECK(pwrite(fd, &l, sizeof l, 0) == (ssize_t)sizeof l, "pwrite");
        close(fd);
        printf("limits file: writable by this uid (%u); rewritten with a 1 TiB quota\n",
               (unsigned)getuid());
    } else {
        printf("limits file: not writable (%s)\n", strerror(errno));
    }
    CHECK(cu.cuMemAlloc_v2(&d, q + MiB) == CUDA_ERROR_OUT_OF_MEMORY,
          "a rewritten limits file raised the quota");
    size_t f, t;
    CU_OK(cu.cuMemGetInfo_v2(&f, &t));
    CHECK(t == q, "total %zu after rewriting the limits", t);

    /* Through the usage: zeroing it does not let this process past its quota. */
    CU_OK(cu.cuMemAlloc_v2(&d, q - MiB));
    atomic_store(&region.usage->used, 0);
    CUdeviceptr e;
    CHECK(cu.cuMemAlloc_v2(&e, 2 * MiB) == CUDA_ERROR_OUT_OF_MEMORY,
          "zeroing the shared usage let the process pass its quota");
    /* Nor another process of the lease: the total is raised back to what the
     * processes hold at the next reap (at most a second later). */
    atomic_store(&region.usage->used, 0);
    usleep(1100 * 1000);
    /* (the limits file was rewritten above: reserve against the quota as it was) */
    struct gpx_lease_limits lim = *region.limits;
    lim.memory_quota = q;
    struct gpx_lease_region other = {.limits = &lim, .usage = region.usage};
    CHECK(gpx_lease_reserve(&other, NULL, 2 * MiB) != 0,
          "a zeroed total let another process of the lease past the quota");
    CHECK(atomic_load(&region.usage->used) >= q - MiB, "the total was not raised back");
    CU_OK(cu.cuMemFree_v2(d));
    printf("region-tamper: the quota stayed %" PRIu64 "\n", q);
    return 0;
}

/* ---- 10 000 mixed cycles, and racing threads ----------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

struct held {
    int kind; /* 0 dptr (sync free), 1 async dptr, 2 vmm, 3 array, 4 mipmap */
    uint64_t h;
};

static void release_one(const struct held *x)
{
    switch (x->kind) {
    case 0:
        CU_OK(cu.cuMemFree_v2((CUdeviceptr)x->h));
        break;
    case 1:
        CU_OK(cu.cuMemFreeAsync((CUdeviceptr)x->h, NULL));
        break;
    case 2:
        CU_OK(cu.cuMemRelease((CUmemGenericAllocationHandle)x->h));
        break;
    case 3:
        CU_OK(cu.cuArrayDestroy((CUarray)(uintptr_t)x->h));
        break;
    case 4:
        CU_OK(cu.cuMipmappedArrayDestroy((CUmipmappedArray)(uintptr_t)x->h));
        break;
    }
}

static int cmd_cycles(long n)
{
    open_region();
    load_dlsym();
    setup_context();
    const uint64_t start = used();
    CUmemoryPool pool;
    CU_OK(cu.cuDeviceGetDefaultMemPool(&pool, 0));
    CUmemAllocationProp dp = {.type = CU_MEM_ALLOCATION_TYPE_PINNED,
                              .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0}};
    size_t gran = 2 * MiB;
    cu.cuMemGetAllocationGranularity(&gran, &dp, CU_MEM_ALLOC_GRANULARITY_MINIMUM);
    enum { HOLD = 32 };
    struct held held[HOLD];
    int nheld = 0;
    long ok = 0, oom = 0;
    for (long i = 0; i < n; i++) {
        if (nheld == HOLD || (nheld > 0 && rnd() % 3 == 0)) {
            int k = (int)(rnd() % (uint64_t)nheld);
            release_one(&held[k]);
            held[k] = held[--nheld];
            continue;
        }
        uint64_t size = (rnd() % (4 * MiB)) + 1;
        struct held x = {.kind = (int)(rnd() % 8)};
        CUresult rc;
        switch (x.kind) {
        case 0: {
            CUdeviceptr d;
            rc = cu.cuMemAlloc_v2(&d, size);
            x.h = d;
            break;
        }
        case 1: {
            CUdeviceptr d;
            size_t pitch;
            rc = cu.cuMemAllocPitch_v2(&d, &pitch, size % 8192 + 1, size / 8192 + 1, 4);
            x.h = d;
            x.kind = 0;
            break;
        }
        case 2: {
            CUdeviceptr d;
            rc = cu.cuMemAllocManaged(&d, size, CU_MEM_ATTACH_GLOBAL);
            x.h = d;
            x.kind = 0;
            break;
        }
        case 3: {
            CUdeviceptr d;
            rc = cu.cuMemAllocAsync(&d, size, NULL);
            x.h = d;
            x.kind = 1;
            break;
        }
        case 4: {
            CUdeviceptr d;
            rc = cu.cuMemAllocFromPoolAsync(&d, size, pool, NULL);
            x.h = d;
            x.kind = rnd() % 2 ? 1 : 0; /* cuMemFree of an async allocation is legal too */
            break;
        }
        case 5: {
            CUmemGenericAllocationHandle h;
            rc = cu.cuMemCreate(&h, gran * (1 + rnd() % 2), &dp, 0);
            x.h = h;
            x.kind = 2;
            break;
        }
        case 6: {
            CUarray a;
            CUDA_ARRAY_DESCRIPTOR ad = {.Width = 1 + rnd() % 1024,
                                        .Height = 1 + rnd() % 512,
                                        .Format = CU_AD_FORMAT_FLOAT,
                                        .NumChannels = 1};
            rc = cu.cuArrayCreate_v2(&a, &ad);
            x.h = (uintptr_t)a;
            x.kind = 3;
            break;
        }
        default: {
            CUmipmappedArray m;
            CUDA_ARRAY3D_DESCRIPTOR md = {.Width = 1 + rnd() % 512,
                                          .Height = 1 + rnd() % 512,
                                          .Format = CU_AD_FORMAT_UNSIGNED_INT8,
                                          .NumChannels = 4};
            rc = cu.cuMipmappedArrayCreate(&m, &md, 1 + (unsigned)(rnd() % 4));
            x.h = (uintptr_t)m;
            x.kind = 4;
            break;
        }
        }
        if (rc == CUDA_SUCCESS) {
            held[nheld++] = x;
            ok++;
        } else {
            CHECK(rc == CUDA_ERROR_OUT_OF_MEMORY, "cycle %ld: %d", i, (int)rc);
            oom++;
        }
        CHECK(used() <= quota(), "cycle %ld: used %" PRIu64 " over the quota", i, used());
    }
    while (nheld > 0)
        release_one(&held[--nheld]);
    CU_OK(cu.cuCtxSynchronize());
    printf("cycles: %ld operations, %ld allocations, %ld refused, used %" PRIu64 " -> %" PRIu64
           "\n",
           n, ok, oom, start, used());
    CHECK(used() == start, "used %" PRIu64 " after all frees (started at %" PRIu64 ")", used(),
          start);
    return 0;
}

struct racer {
    uint64_t chunk;
    uint64_t got;
    pthread_barrier_t *go;
};

static void *race_thread(void *arg)
{
    struct racer *r = arg;
    CUdevice dev;
    CUcontext ctx;
    CU_OK(cu.cuDeviceGet(&dev, 0));
    CU_OK(cu.cuDevicePrimaryCtxRetain(&ctx, dev));
    CU_OK(cu.cuCtxSetCurrent(ctx));
    pthread_barrier_wait(r->go);
    CUdeviceptr d;
    for (;;) {
        CUresult rc = cu.cuMemAlloc_v2(&d, r->chunk);
        if (rc != CUDA_SUCCESS) {
            CHECK(rc == CUDA_ERROR_OUT_OF_MEMORY, "race: %d", (int)rc);
            break;
        }
        r->got += r->chunk;
        CHECK(used() <= quota(), "used %" PRIu64 " passed the quota", used());
    }
    return NULL;
}

static int cmd_race(int threads, uint64_t chunk, long hold_ms)
{
    open_region();
    load_dlsym();
    CU_OK(cu.cuInit(0));
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)threads);
    pthread_t t[64];
    struct racer r[64];
    for (int i = 0; i < threads; i++) {
        r[i] = (struct racer){.chunk = chunk, .go = &go};
        CHECK(pthread_create(&t[i], NULL, race_thread, &r[i]) == 0, "pthread_create");
    }
    uint64_t got = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        got += r[i].got;
    }
    printf("{\"got\": %" PRIu64 ", \"quota\": %" PRIu64 ", \"peak\": %" PRIu64 "}\n", got, quota(),
           (uint64_t)atomic_load(&region.usage->peak));
    fflush(stdout);
    CHECK(got <= quota(), "this process got %" PRIu64 " of a %" PRIu64 " quota", got, quota());
    if (hold_ms > 0) {
        struct timespec ts = {.tv_sec = hold_ms / 1000, .tv_nsec = (hold_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* ---- fork: the child is a process of its own in the lease ---------------------------------- */

/* The credit in the cells of `pid`'s slot (its threads' freed bytes, shm/lease.h). */
static uint64_t cells_credit_of(int32_t pid)
{
    uint64_t sum = 0;
    for (int i = 0; i < GPX_LEASE_MAX_PROCS; i++)
        if (atomic_load(&region.usage->procs[i].pid) == pid)
            for (int k = 0; k < GPX_LEASE_CELLS; k++)
                sum += atomic_load(&region.usage->procs[i].cells[k].credit);
    return sum;
}

static int cmd_fork(void)
{
    open_region();
    load_dlsym();
    setup_context();
    const uint64_t base = used();
    CUdeviceptr d;
    CU_OK(cu.cuMemAlloc_v2(&d, 8 * MiB));
    CHECK(used() == base + 8 * MiB, "parent counted %" PRIu64, used() - base);
    /* freed bytes the parent's thread keeps in its credit cell: never the child's to take */
    CUdeviceptr kept;
    CU_OK(cu.cuMemAlloc_v2(&kept, 8 * MiB));
    CU_OK(cu.cuMemFree_v2(kept));
    const int32_t parent = (int32_t)getpid();
    const uint64_t parent_cells = cells_credit_of(parent);
    CHECK(parent_cells == 8 * MiB, "the thread's credit cell holds %" PRIu64 " of 8 MiB freed",
          parent_cells);
    int pipefd[2];
    CHECK(pipe(pipefd) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        /* No deadlock on the interposer's locks; the parent's pointer is not the child's. */
        close(pipefd[0]);
        uint64_t before = used();
        CUresult free_rc = cu.cuMemFree_v2(d); /* the parent's: not counted here */
        CUdeviceptr c;
        CUresult rc = cu.cuMemAlloc_v2(&c, 4 * MiB);
        uint64_t r[4] = {(uint64_t)rc, used() - before, (uint64_t)free_rc, cells_credit_of(parent)};
        if (write(pipefd[1], r, sizeof r) != (ssize_t)sizeof r)
            _exit(3);
        _exit(0); /* without freeing: the lease gets it back when the slot is reaped */
    }
    close(pipefd[1]);
    uint64_t r[4] = {0};
    CHECK(read(pipefd[0], r, sizeof r) == (ssize_t)sizeof r, "child report");
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    printf("child: parent's pointer freed -> %d, 4 MiB -> %d, counted %" PRIu64
           "; the parent's cells held %" PRIu64 " before, %" PRIu64 " after\n",
           (int)r[2], (int)r[0], r[1], parent_cells, r[3]);
    CHECK(r[3] == parent_cells, "the child took from the parent's credit cells");
    /* The parent's free in the child must not have returned the parent's bytes. */
    if ((CUresult)r[0] == CUDA_SUCCESS)
        CHECK(r[1] == 4 * MiB, "the child's allocation counted %" PRIu64, r[1]);
    else
        CHECK(r[1] == 0, "a failed child allocation left %" PRIu64, r[1]);
    gpx_lease_reap(&region);
    CHECK(used() == base + 8 * MiB, "after reaping the child: %" PRIu64, used() - base);
    CU_OK(cu.cuMemFree_v2(d));
    CHECK(used() == base, "parent free");
    printf("fork: ok\n");
    return 0;
}

/* ---- region figures, for the shell scripts (no CUDA) --------------------------------------- */

static int cmd_region(void)
{
    open_region();
    printf("{\"quota\": %" PRIu64 ", \"used\": %" PRIu64 ", \"peak\": %" PRIu64
           ", \"refused\": %" PRIu64 "}\n",
           quota(), used(), (uint64_t)atomic_load(&region.usage->peak), refused());
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: gpx-ipcheck objects|worker-vmm|procaddr|dlsym|direct|meminfo|"
                    "env-tamper [OTHER_LEASE]|region-tamper|cycles N|race THREADS CHUNK_MIB "
                    "[HOLD_MS]|region|fork|sizes BYTES [NVML_BYTES [UUID]]|nvml-procs HOLD_MIB\n");
    exit(2);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2)
        usage();
    const char *c = argv[1];
    if (strcmp(c, "objects") == 0)
        return cmd_objects();
    if (strcmp(c, "worker-vmm") == 0)
        return cmd_worker_vmm();
    if (strcmp(c, "procaddr") == 0)
        return cmd_procaddr();
    if (strcmp(c, "dlsym") == 0)
        return cmd_dlsym();
#ifdef GPX_IPCHECK_DIRECT
    if (strcmp(c, "direct") == 0)
        return cmd_direct();
#endif
    if (strcmp(c, "meminfo") == 0)
        return cmd_meminfo();
    if (strcmp(c, "sizes") == 0 && argc > 2)
        return cmd_sizes((uint64_t)strtoull(argv[2], NULL, 10),
                         argc > 3 ? (int64_t)strtoll(argv[3], NULL, 10) : -1,
                         argc > 4 ? argv[4] : NULL);
    if (strcmp(c, "nvml-procs") == 0 && argc > 2)
        return cmd_nvml_procs((uint64_t)atoll(argv[2]) * MiB);
    if (strcmp(c, "env-tamper") == 0)
        return cmd_env_tamper(argc > 2 ? argv[2] : NULL);
    if (strcmp(c, "region-tamper") == 0)
        return cmd_region_tamper();
    if (strcmp(c, "cycles") == 0 && argc > 2)
        return cmd_cycles(atol(argv[2]));
    if (strcmp(c, "race") == 0 && argc > 3)
        return cmd_race(atoi(argv[2]), (uint64_t)atoll(argv[3]) * MiB,
                        argc > 4 ? atol(argv[4]) : 0);
    if (strcmp(c, "region") == 0)
        return cmd_region();
    if (strcmp(c, "fork") == 0)
        return cmd_fork();
    usage();
    return 2;
}
