/*
 * The simulated libcuda.so.1, called directly: devices, contexts, every
 * allocation path and its accounting in the state file (what the simulated
 * NVML reports), copies, streams/events in virtual time, modules, launches,
 * error codes and NULL out-parameters. One process, one node of
 * 2xH100-80GB + 1xA100-40GB created in setup.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "abi/cuda_abi.h"
#include "sim_node.h"
#include "state.h"

#define MiB (1ULL << 20)

static char path[256];
static struct gpx_sim_state st; /* the test's own view of the node */
static CUcontext ctx0;

static const char ptx[] = "//\n// a test module\n//\n"
                          ".version 7.0\n.target sm_70\n.address_size 64\n"
                          ".global .align 8 .b8 table[64];\n"
                          ".visible .entry spin(\n    .param .u64 ns\n)\n{\n    ret;\n}\n"
                          ".visible .entry spin32(.param .u32 ns)\n{\n    ret;\n}\n";

static uint64_t used(uint32_t gpu)
{
    return atomic_load(&st.gpus[gpu].memory_used);
}

static uint64_t slot_used(uint32_t gpu)
{
    for (uint32_t i = 0; i < GPX_SIM_MAX_PROCS; i++)
        if (atomic_load(&st.gpus[gpu].procs[i].pid) == (int32_t)getpid())
            return atomic_load(&st.gpus[gpu].procs[i].used_bytes);
    return 0;
}

static int slot_contexts(uint32_t gpu)
{
    for (uint32_t i = 0; i < GPX_SIM_MAX_PROCS; i++)
        if (atomic_load(&st.gpus[gpu].procs[i].pid) == (int32_t)getpid())
            return (int)st.gpus[gpu].procs[i].contexts;
    return -1; /* no slot */
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int setup(void **state)
{
    (void)state;
    return sim_state_make("cuda", "2xH100-80GB,1xA100-40GB", path, sizeof path, &st);
}

static int teardown(void **state)
{
    (void)state;
    sim_state_remove(path, &st);
    return 0;
}

static void test_init(void **state)
{
    (void)state;
    int n = -1;
    assert_int_equal(cuDeviceGetCount(&n), CUDA_ERROR_NOT_INITIALIZED);
    int v = 0;
    assert_int_equal(cuDriverGetVersion(&v), CUDA_SUCCESS); /* works before cuInit */
    assert_int_equal(v, 12040);
    assert_int_equal(cuInit(1), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuInit(0), CUDA_SUCCESS);
    assert_int_equal(cuInit(0), CUDA_SUCCESS);
    assert_int_equal(cuDeviceGetCount(&n), CUDA_SUCCESS);
    assert_int_equal(n, 3);
    assert_int_equal(cuDeviceGetCount(NULL), CUDA_ERROR_INVALID_VALUE);
}

static void test_devices(void **state)
{
    (void)state;
    CUdevice d;
    char name[128];
    assert_int_equal(cuDeviceGet(&d, 3), CUDA_ERROR_INVALID_DEVICE);
    assert_int_equal(cuDeviceGet(NULL, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuDeviceGet(&d, 2), CUDA_SUCCESS);
    assert_int_equal(cuDeviceGetName(name, sizeof name, d), CUDA_SUCCESS);
    assert_string_equal(name, "NVIDIA A100-SXM4-40GB");
    assert_int_equal(cuDeviceGetName(name, 6, d), CUDA_SUCCESS);
    assert_string_equal(name, "NVIDI");
    assert_int_equal(cuDeviceGetName(NULL, 10, d), CUDA_ERROR_INVALID_VALUE);

    int v;
    assert_int_equal(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0), 0);
    assert_int_equal(v, 132);
    assert_int_equal(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 2), 0);
    assert_int_equal(v, 108);
    assert_int_equal(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 0), 0);
    assert_int_equal(v, 9);
    assert_int_equal(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 0), 0);
    assert_int_equal(v, 32);
    /* deviceQuery's texture lines, as on a real H100 (attribute numbers: cuda.h). */
    const int tex[][2] = {{21, 131072}, {22, 131072}, {23, 65536}, {24, 16384},  {25, 16384},
                          {26, 16384},  {42, 32768},  {43, 2048},  {27, 32768},  {28, 32768},
                          {29, 2048},   {30, 512},    {54, 2046},  {72, 2097120}};
    for (size_t i = 0; i < sizeof tex / sizeof tex[0]; i++) {
        assert_int_equal(cuDeviceGetAttribute(&v, (CUdevice_attribute)tex[i][0], 0), 0);
        assert_int_equal(v, tex[i][1]);
    }
    assert_int_equal(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, 1), 0);
    assert_int_equal(v, (int)st.gpus[1].pci_bus);
    assert_int_equal(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, 0), 0);
    assert_int_equal(v, 1);
    assert_int_equal(cuDeviceGetAttribute(&v, (CUdevice_attribute)9999, 0),
                     CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuDeviceGetAttribute(NULL, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 0),
                     CUDA_ERROR_INVALID_VALUE);
    int maj, min;
    assert_int_equal(cuDeviceComputeCapability(&maj, &min, 2), 0);
    assert_int_equal(maj * 10 + min, 80);

    size_t total;
    assert_int_equal(cuDeviceTotalMem_v2(&total, 0), 0);
    assert_int_equal(total, 81559ULL * MiB);

    /* The UUID's 16 bytes are the hex digits of the NVML "GPU-…" string. */
    CUuuid u;
    assert_int_equal(cuDeviceGetUuid_v2(&u, 1), 0);
    char hex[40] = "GPU-";
    for (int i = 0; i < 16; i++)
        snprintf(hex + 4 + i * 2, 3, "%02x", (unsigned char)u.bytes[i]);
    char plain[80];
    size_t k = 0;
    for (const char *p = st.gpus[1].uuid; *p && k < sizeof plain - 1; p++)
        if (*p != '-' || k < 4)
            plain[k++] = *p;
    plain[k] = '\0';
    assert_string_equal(hex, plain);

    char bus[32];
    assert_int_equal(cuDeviceGetPCIBusId(bus, sizeof bus, 1), 0);
    assert_int_equal(cuDeviceGetByPCIBusId(&d, bus), 0);
    assert_int_equal(d, 1);
    assert_int_equal(cuDeviceGetByPCIBusId(&d, st.gpus[2].pci_bus_id), 0); /* NVML's form */
    assert_int_equal(d, 2);
    assert_int_equal(cuDeviceGetByPCIBusId(&d, "nonsense"), CUDA_ERROR_INVALID_VALUE);
}

static void test_contexts(void **state)
{
    (void)state;
    CUdeviceptr p;
    CUcontext cur = (CUcontext)0x1;
    assert_int_equal(cuCtxGetCurrent(&cur), 0);
    assert_null(cur);
    assert_int_equal(cuMemAlloc_v2(&p, 1024), CUDA_ERROR_INVALID_CONTEXT);
    assert_int_equal(cuCtxSynchronize(), CUDA_ERROR_INVALID_CONTEXT);

    assert_int_equal(slot_contexts(0), -1);
    assert_int_equal(cuDevicePrimaryCtxRetain(&ctx0, 0), 0);
    CUcontext again;
    assert_int_equal(cuDevicePrimaryCtxRetain(&again, 0), 0);
    assert_ptr_equal(again, ctx0);
    assert_int_equal(slot_contexts(0), 1); /* one context, however often retained */
    unsigned flags;
    int active;
    assert_int_equal(cuDevicePrimaryCtxGetState(0, &flags, &active), 0);
    assert_int_equal(active, 1);
    assert_int_equal(cuDevicePrimaryCtxRelease_v2(0), 0);
    assert_int_equal(cuCtxSetCurrent(ctx0), 0);
    CUdevice d = -1;
    assert_int_equal(cuCtxGetDevice(&d), 0);
    assert_int_equal(d, 0);

    /* A created context is pushed, counted, and takes its allocations with it. */
    CUcontext c2;
    assert_int_equal(cuCtxCreate_v2(&c2, 0, 1), 0);
    assert_int_equal(cuCtxGetCurrent(&cur), 0);
    assert_ptr_equal(cur, c2);
    assert_int_equal(slot_contexts(1), 1);
    assert_int_equal(cuMemAlloc_v2(&p, 10 * MiB), 0);
    assert_int_equal(used(1), 10 * MiB);
    assert_int_equal(cuCtxDestroy_v2(c2), 0);
    assert_int_equal(used(1), 0);
    assert_int_equal(slot_contexts(1), -1); /* the process left GPU 1's list */
    assert_int_equal(cuCtxGetCurrent(&cur), 0);
    assert_ptr_equal(cur, ctx0); /* popped */
    assert_int_equal(cuCtxDestroy_v2(c2), CUDA_ERROR_INVALID_CONTEXT);
    assert_int_equal(cuCtxDestroy_v2(ctx0), CUDA_ERROR_INVALID_CONTEXT); /* primary */

    assert_int_equal(cuCtxPushCurrent_v2(ctx0), 0);
    CUcontext popped;
    assert_int_equal(cuCtxPopCurrent_v2(&popped), 0);
    assert_ptr_equal(popped, ctx0);
    int lo, hi;
    assert_int_equal(cuCtxGetStreamPriorityRange(&lo, &hi), 0);
    assert_true(hi < lo);
}

static void test_alloc_accounting(void **state)
{
    (void)state;
    CUdeviceptr a, b;
    size_t fr, tot;
    assert_int_equal(cuMemGetInfo_v2(&fr, &tot), 0);
    assert_int_equal(tot, 81559ULL * MiB);
    assert_int_equal(fr, tot);
    assert_int_equal(cuMemGetInfo_v2(NULL, &tot), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuMemGetInfo_v2(&fr, NULL), CUDA_ERROR_INVALID_VALUE);

    assert_int_equal(cuMemAlloc_v2(&a, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuMemAlloc_v2(NULL, 16), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuMemAlloc_v2(&a, 100), 0);
    assert_int_equal(a % 256, 0);
    assert_int_equal(cuMemAlloc_v2(&b, 300 * MiB), 0);
    assert_int_equal(used(0), 300 * MiB + 100);
    assert_int_equal(slot_used(0), 300 * MiB + 100);
    assert_int_equal(cuMemGetInfo_v2(&fr, &tot), 0);
    assert_int_equal(fr, tot - used(0));

    /* Interior pointers and unknown addresses are not freeable. */
    assert_int_equal(cuMemFree_v2(b + 16), CUDA_ERROR_INVALID_VALUE);
    CUdeviceptr base;
    size_t size;
    assert_int_equal(cuMemGetAddressRange_v2(&base, &size, b + 4096), 0);
    assert_int_equal(base, b);
    assert_int_equal(size, 300 * MiB);
    assert_int_equal(cuMemFree_v2(b), 0);
    assert_int_equal(cuMemFree_v2(b), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuMemFree_v2(a), 0);
    assert_int_equal(used(0), 0);

    /* Past capacity: refused, nothing charged. */
    assert_int_equal(cuMemAlloc_v2(&a, 81559ULL * MiB + 1), CUDA_ERROR_OUT_OF_MEMORY);
    assert_int_equal(cuMemAlloc_v2(&a, 81000ULL * MiB), 0);
    assert_int_equal(cuMemAlloc_v2(&b, 600ULL * MiB), CUDA_ERROR_OUT_OF_MEMORY);
    assert_int_equal(used(0), 81000ULL * MiB);
    assert_int_equal(cuMemFree_v2(a), 0);

    /* Pitch, managed: charged. Host memory: never. */
    size_t pitch;
    assert_int_equal(cuMemAllocPitch_v2(&a, &pitch, 1000, 10, 4), 0);
    assert_int_equal(pitch % 512, 0);
    assert_true(pitch >= 1000);
    assert_int_equal(used(0), pitch * 10);
    assert_int_equal(cuMemAllocPitch_v2(&b, &pitch, 1000, 10, 3), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuMemFree_v2(a), 0);
    assert_int_equal(cuMemAllocManaged(&a, 5 * MiB, CU_MEM_ATTACH_GLOBAL), 0);
    assert_int_equal(used(0), 5 * MiB);
    assert_int_equal(cuMemAllocManaged(&b, 5 * MiB, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuMemFree_v2(a), 0);
    void *h;
    assert_int_equal(cuMemHostAlloc(&h, 8 * MiB, CU_MEMHOSTALLOC_PORTABLE), 0);
    assert_int_equal(cuMemAllocHost_v2(&h, 8 * MiB), 0);
    assert_int_equal(used(0), 0);
    memset(h, 1, 8 * MiB);
    assert_int_equal(cuMemFreeHost(h), 0);
    assert_int_equal(cuMemFreeHost(h), CUDA_ERROR_INVALID_VALUE);

    /* The 32-bit legacy entry points still work, below 4 GiB. */
    CUdeviceptr_v1 p32;
    assert_int_equal(cuMemAlloc(&p32, 4096), 0);
    assert_int_equal(used(0), 4096);
    assert_int_equal(cuMemFree(p32), 0);
    assert_int_equal(used(0), 0);
}

static void test_copies(void **state)
{
    (void)state;
    enum { N = 1 << 16 };
    unsigned char in[N], out[N];
    for (int i = 0; i < N; i++)
        in[i] = (unsigned char)(i * 7 + 3);
    CUdeviceptr a, b;
    assert_int_equal(cuMemAlloc_v2(&a, N), 0);
    assert_int_equal(cuMemAlloc_v2(&b, N), 0);
    assert_int_equal(cuMemcpyHtoD_v2(a, in, N), 0);
    assert_int_equal(cuMemcpyDtoD_v2(b, a, N), 0);
    memset(out, 0, N);
    assert_int_equal(cuMemcpyDtoH_v2(out, b, N), 0);
    assert_memory_equal(in, out, N);
    assert_int_equal(cuMemcpy(a, (CUdeviceptr)(uintptr_t)in + 1, N - 1), 0); /* unified */
    assert_int_equal(cuMemcpyDtoH_v2(out, a, 1), 0);
    assert_int_equal(out[0], in[1]);

    assert_int_equal(cuMemsetD8_v2(a, 0x5a, N), 0);
    assert_int_equal(cuMemcpyDtoH_v2(out, a, N), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(out[i], 0x5a);
    assert_int_equal(cuMemsetD32_v2(a, 0x01020304U, N / 4), 0);
    uint32_t w;
    assert_int_equal(cuMemcpyDtoH_v2(&w, a + 40, 4), 0);
    assert_int_equal(w, 0x01020304U);

    /* Out of bounds or unknown: refused, not a crash. */
    assert_int_equal(cuMemcpyHtoD_v2(a + 1, in, N), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuMemcpyDtoH_v2(out, 0x10, 4), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuMemsetD8_v2(a + N - 1, 0, 2), CUDA_ERROR_INVALID_VALUE); /* past the end */
    assert_int_equal(cuMemcpyHtoD_v2(a, NULL, 4), CUDA_ERROR_INVALID_VALUE);

    /* 2D: a 3x4 window out of a pitched source. */
    CUDA_MEMCPY2D c;
    memset(&c, 0, sizeof c);
    c.srcMemoryType = CU_MEMORYTYPE_HOST;
    c.srcHost = in;
    c.srcPitch = 100;
    c.srcXInBytes = 5;
    c.srcY = 2;
    c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
    c.dstDevice = b;
    c.dstPitch = 16;
    c.WidthInBytes = 3;
    c.Height = 4;
    assert_int_equal(cuMemcpy2D_v2(&c), 0);
    assert_int_equal(cuMemcpyDtoH_v2(out, b, 64), 0);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 3; x++)
            assert_int_equal(out[y * 16 + x], in[(2 + y) * 100 + 5 + x]);
    c.dstPitch = 2; /* narrower than a row */
    assert_int_equal(cuMemcpy2D_v2(&c), CUDA_ERROR_INVALID_VALUE);

    /* Async copies land too (the stream only orders their time). */
    CUstream s;
    assert_int_equal(cuStreamCreate(&s, 0), 0);
    assert_int_equal(cuMemcpyHtoDAsync_v2(a, in, N, s), 0);
    assert_int_equal(cuMemcpyDtoHAsync_v2(out, a, N, s), 0);
    assert_int_equal(cuStreamSynchronize(s), 0);
    assert_memory_equal(in, out, N);
    assert_int_equal(cuStreamDestroy_v2(s), 0);
    assert_int_equal(cuMemFree_v2(a), 0);
    assert_int_equal(cuMemFree_v2(b), 0);
    assert_int_equal(used(0), 0);
}

static void test_vmm(void **state)
{
    (void)state;
    CUmemAllocationProp prop;
    memset(&prop, 0, sizeof prop);
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = 1;
    size_t g;
    assert_int_equal(cuMemGetAllocationGranularity(&g, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM), 0);
    assert_int_equal(g, 2 * MiB);

    CUmemGenericAllocationHandle h, hh;
    assert_int_equal(cuMemCreate(&h, 3 * MiB, &prop, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuMemCreate(&h, 4 * MiB, &prop, 0), 0);
    assert_int_equal(used(1), 4 * MiB); /* counted on the GPU of its location */
    assert_int_equal(used(0), 0);

    /* Host-located: host memory, not counted. */
    CUmemAllocationProp hp = prop;
    hp.location.type = CU_MEM_LOCATION_TYPE_HOST_NUMA;
    hp.location.id = 0;
    assert_int_equal(cuMemCreate(&hh, 4 * MiB, &hp, 0), 0);
    assert_int_equal(used(0) + used(1), 4 * MiB);

    CUdeviceptr va;
    assert_int_equal(cuMemAddressReserve(&va, 8 * MiB, 0, 0, 0), 0);
    assert_int_equal(va % (2 * MiB), 0);
    assert_int_equal(cuMemMap(va, 4 * MiB, 0, h, 0), 0);
    assert_int_equal(cuMemMap(va, 4 * MiB, 0, h, 0), CUDA_ERROR_ALREADY_MAPPED);
    assert_int_equal(cuMemMap(va + 4 * MiB, 4 * MiB, 0, hh, 0), 0);
    char buf[16] = "hello, vmm";
    /* Not accessible before cuMemSetAccess. */
    assert_int_equal(cuMemcpyHtoD_v2(va, buf, sizeof buf), CUDA_ERROR_INVALID_VALUE);
    CUmemAccessDesc acc = {.location = {CU_MEM_LOCATION_TYPE_DEVICE, 1},
                           .flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
    assert_int_equal(cuMemSetAccess(va, 8 * MiB, &acc, 1), 0);
    assert_int_equal(cuMemcpyHtoD_v2(va + 4 * MiB - 8, buf, sizeof buf), 0); /* across both */
    char back[16] = {0};
    assert_int_equal(cuMemcpyDtoH_v2(back, va + 4 * MiB - 8, sizeof back), 0);
    assert_memory_equal(buf, back, sizeof buf);

    /* Released while mapped: the memory stays until unmapped. */
    assert_int_equal(cuMemRelease(h), 0);
    assert_int_equal(used(1), 4 * MiB);
    assert_int_equal(cuMemUnmap(va, 2 * MiB), CUDA_ERROR_INVALID_VALUE); /* half a mapping */
    assert_int_equal(cuMemUnmap(va, 8 * MiB), 0);
    assert_int_equal(used(1), 0);
    assert_int_equal(cuMemRelease(hh), 0);
    assert_int_equal(cuMemAddressFree(va, 8 * MiB), 0);
    assert_int_equal(cuMemCreate(&h, 100000ULL * MiB, &prop, 0), CUDA_ERROR_OUT_OF_MEMORY);
    assert_int_equal(used(1), 0);
}

static void test_pools(void **state)
{
    (void)state;
    CUmemoryPool def, pool;
    CUdeviceptr a, b;
    assert_int_equal(cuDeviceGetDefaultMemPool(&def, 0), 0);
    assert_int_equal(cuMemAllocAsync(&a, 64 * MiB, NULL), 0);
    assert_int_equal(used(0), 64 * MiB);
    assert_int_equal(cuMemFreeAsync(a, NULL), 0);
    assert_int_equal(used(0), 0); /* release threshold 0: given back */

    /* With a threshold the pool keeps freed memory (still used on the GPU) until trimmed. */
    cuuint64_t thr = 1ULL << 40, v = 0;
    assert_int_equal(cuMemPoolSetAttribute(def, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &thr), 0);
    assert_int_equal(cuMemAllocAsync(&a, 64 * MiB, NULL), 0);
    assert_int_equal(cuMemFreeAsync(a, NULL), 0);
    assert_int_equal(used(0), 64 * MiB);
    assert_int_equal(cuMemAllocAsync(&a, 32 * MiB, NULL), 0); /* reused, not charged again */
    assert_int_equal(used(0), 64 * MiB);
    assert_int_equal(cuMemPoolGetAttribute(def, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &v), 0);
    assert_int_equal(v, 32 * MiB);
    assert_int_equal(cuMemFreeAsync(a, NULL), 0);
    assert_int_equal(cuMemPoolTrimTo(def, 0), 0);
    assert_int_equal(used(0), 0);
    thr = 0;
    assert_int_equal(cuMemPoolSetAttribute(def, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &thr), 0);

    /* An explicit pool on GPU 1, and cuMemAllocFromPoolAsync. */
    CUmemPoolProps pp;
    memset(&pp, 0, sizeof pp);
    pp.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    pp.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    pp.location.id = 1;
    assert_int_equal(cuMemPoolCreate(&pool, &pp), 0);
    assert_int_equal(cuMemAllocFromPoolAsync(&b, 16 * MiB, pool, NULL), 0);
    assert_int_equal(used(1), 16 * MiB);
    assert_int_equal(cuMemAllocFromPoolAsync(&b, 16 * MiB, NULL, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuMemPoolDestroy(pool), 0); /* outstanding allocation stays valid */
    assert_int_equal(cuMemsetD8_v2(b, 1, 16 * MiB), 0);
    assert_int_equal(cuMemFreeAsync(b, NULL), 0);
    assert_int_equal(used(1), 0);
    assert_int_equal(cuMemPoolDestroy(def), CUDA_ERROR_INVALID_VALUE);
}

static void test_arrays_and_external(void **state)
{
    (void)state;
    CUDA_ARRAY3D_DESCRIPTOR d = {
        .Width = 1024, .Height = 256, .Depth = 4, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 4};
    CUarray arr;
    assert_int_equal(cuArray3DCreate_v2(&arr, &d), 0);
    assert_int_equal(used(0), 1024ULL * 256 * 4 * 16);
    assert_int_equal(cuArrayDestroy(arr), 0);
    assert_int_equal(used(0), 0);
    CUDA_ARRAY_DESCRIPTOR d2 = {
        .Width = 100, .Height = 0, .Format = CU_AD_FORMAT_HALF, .NumChannels = 2};
    assert_int_equal(cuArrayCreate_v2(&arr, &d2), 0);
    assert_int_equal(used(0), 400);
    assert_int_equal(cuArrayDestroy(arr), 0);
    d2.NumChannels = 3;
    assert_int_equal(cuArrayCreate_v2(&arr, &d2), CUDA_ERROR_INVALID_VALUE);

    CUmipmappedArray mm;
    CUDA_ARRAY3D_DESCRIPTOR md = {
        .Width = 64, .Height = 64, .Format = CU_AD_FORMAT_UNSIGNED_INT8, .NumChannels = 1};
    assert_int_equal(cuMipmappedArrayCreate(&mm, &md, 3), 0);
    assert_int_equal(used(0), 64 * 64 + 32 * 32 + 16 * 16);
    assert_int_equal(cuMipmappedArrayDestroy(mm), 0);
    assert_int_equal(used(0), 0);

    int fd = memfd_create("ext", 0);
    assert_true(fd >= 0);
    CUDA_EXTERNAL_MEMORY_HANDLE_DESC ed;
    memset(&ed, 0, sizeof ed);
    ed.type = CU_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD;
    ed.handle.fd = fd;
    ed.size = 32 * MiB;
    CUexternalMemory ext;
    assert_int_equal(cuImportExternalMemory(&ext, &ed), 0);
    assert_int_equal(used(0), 32 * MiB);
    CUDA_EXTERNAL_MEMORY_BUFFER_DESC bd = {.offset = MiB, .size = MiB};
    CUdeviceptr p;
    assert_int_equal(cuExternalMemoryGetMappedBuffer(&p, ext, &bd), 0);
    assert_int_equal(cuMemsetD8_v2(p, 7, MiB), 0);
    assert_int_equal(cuMemFree_v2(p), 0); /* the view, not the import */
    assert_int_equal(used(0), 32 * MiB);
    bd.offset = 32 * MiB;
    assert_int_equal(cuExternalMemoryGetMappedBuffer(&p, ext, &bd), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuDestroyExternalMemory(ext), 0);
    assert_int_equal(used(0), 0);
    assert_int_equal(cuDestroyExternalMemory(ext), CUDA_ERROR_INVALID_HANDLE);
}

static void test_modules(void **state)
{
    (void)state;
    CUmodule m, bin;
    CUfunction f;
    assert_int_equal(cuModuleLoadData(&m, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuModuleLoadData(&m, ".version 7.0\n.entry"), CUDA_ERROR_INVALID_PTX);
    assert_int_equal(cuModuleLoadData(&m, ptx), 0);
    assert_int_equal(cuModuleGetFunction(&f, m, "spin"), 0);
    assert_int_equal(cuModuleGetFunction(&f, m, "spin32"), 0);
    assert_int_equal(cuModuleGetFunction(&f, m, "nope"), CUDA_ERROR_NOT_FOUND);
    assert_int_equal(cuModuleGetFunction(NULL, m, "spin"), CUDA_ERROR_INVALID_VALUE);
    CUdeviceptr g;
    size_t gs;
    assert_int_equal(cuModuleGetGlobal_v2(&g, &gs, m, "table"), 0);
    assert_int_equal(gs, 64);
    assert_int_equal(used(0), 64);
    int v;
    assert_int_equal(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_PTX_VERSION, f), 0);
    assert_int_equal(v, 70);
    assert_int_equal(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 100000),
                     0);
    assert_int_equal(
        cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 1 << 30),
        CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuOccupancyMaxActiveBlocksPerMultiprocessor(&v, f, 256, 0), 0);
    assert_true(v >= 1 && v <= 32);
    assert_int_equal(cuModuleUnload(m), 0);
    assert_int_equal(used(0), 0);
    assert_int_equal(cuModuleUnload(m), CUDA_ERROR_INVALID_HANDLE);

    /* A binary image (an ELF cubin here): any function name resolves. */
    static const unsigned char elf[64] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
    assert_int_equal(cuModuleLoadData(&bin, elf), 0);
    assert_int_equal(cuModuleGetFunction(&f, bin, "_Z6kernelPf"), 0);
    assert_int_equal(cuModuleUnload(bin), 0);
}

static void test_launch_and_time(void **state)
{
    (void)state;
    CUmodule m;
    CUfunction f, f32;
    assert_int_equal(cuModuleLoadData(&m, ptx), 0);
    assert_int_equal(cuModuleGetFunction(&f, m, "spin"), 0);
    assert_int_equal(cuModuleGetFunction(&f32, m, "spin32"), 0);
    CUstream s;
    CUevent e0, e1, et;
    assert_int_equal(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), 0);
    assert_int_equal(cuEventCreate(&e0, 0), 0);
    assert_int_equal(cuEventCreate(&e1, CU_EVENT_DEFAULT), 0);
    assert_int_equal(cuEventCreate(&et, CU_EVENT_DISABLE_TIMING), 0);

    uint64_t ns = 30000000; /* 30 ms */
    void *args[] = {&ns};
    uint64_t k0 = atomic_load(&st.gpus[0].kernels_total);
    assert_int_equal(cuEventRecord(e0, s), 0);
    uint64_t t0 = now_ns();
    assert_int_equal(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, s, args, NULL), 0);
    assert_true(now_ns() - t0 < ns); /* asynchronous */
    assert_int_equal(cuEventRecord(e1, s), 0);
    assert_int_equal(cuStreamQuery(s), CUDA_ERROR_NOT_READY);
    assert_int_equal(cuEventQuery(e1), CUDA_ERROR_NOT_READY);
    float ms;
    assert_int_equal(cuEventElapsedTime(&ms, e0, e1), CUDA_ERROR_NOT_READY);
    assert_int_equal(cuEventSynchronize(e1), 0);
    assert_true(now_ns() - t0 >= ns);
    assert_int_equal(cuStreamQuery(s), 0);
    assert_int_equal(cuEventElapsedTime(&ms, e0, e1), 0);
    assert_true(ms >= 29.9f && ms < 40.0f);
    assert_int_equal(cuEventElapsedTime(&ms, e0, et), CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(cuEventElapsedTime(NULL, e0, e1), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(atomic_load(&st.gpus[0].kernels_total), k0 + 1);
    assert_true(atomic_load(&st.gpus[0].engine_busy_total) >= ns);

    /* A 32-bit first parameter is read as 32 bits; the extra-buffer form works too. */
    uint32_t ns32 = 1000000;
    void *args32[] = {&ns32};
    assert_int_equal(cuLaunchKernel(f32, 1, 1, 1, 1, 1, 1, 0, NULL, args32, NULL), 0);
    uint64_t buf = 1000000;
    size_t bufsize = sizeof buf;
    void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &bufsize,
                     CU_LAUNCH_PARAM_END};
    assert_int_equal(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, extra), 0);
    assert_int_equal(cuCtxSynchronize(), 0);

    /* Stream order: two kernels on one stream end one after the other. */
    ns = 10000000;
    t0 = now_ns();
    assert_int_equal(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, s, args, NULL), 0);
    assert_int_equal(cuLaunchKernel_ptsz(f, 1, 1, 1, 1, 1, 1, 0, s, args, NULL), 0);
    CUlaunchConfig cfg = {.gridDimX = 1,
                          .gridDimY = 1,
                          .gridDimZ = 1,
                          .blockDimX = 64,
                          .blockDimY = 1,
                          .blockDimZ = 1,
                          .hStream = s};
    assert_int_equal(cuLaunchKernelEx(&cfg, f, args, NULL), 0);
    assert_int_equal(cuLaunchCooperativeKernel(f, 2, 1, 1, 64, 1, 1, 0, s, args), 0);
    assert_int_equal(cuStreamSynchronize(s), 0);
    assert_true(now_ns() - t0 >= 4 * ns);

    /* Invalid launches. */
    assert_int_equal(cuLaunchKernel(f, 0, 1, 1, 1, 1, 1, 0, s, args, NULL),
                     CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuLaunchKernel(f, 1, 1, 1, 1025, 1, 1, 0, s, args, NULL),
                     CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuLaunchKernel(NULL, 1, 1, 1, 1, 1, 1, 0, s, args, NULL),
                     CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(cuLaunchCooperativeKernel(f, 1000000, 1, 1, 1024, 1, 1, 0, s, args),
                     CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE);
    assert_int_equal(cuLaunchKernelEx(NULL, f, args, NULL), CUDA_ERROR_INVALID_VALUE);

    /* Utilization sees the busy engine. */
    assert_true(gpx_sim_util_percent(st.gpus[0].util, now_ns()) > 0);

    assert_int_equal(cuEventDestroy_v2(e0), 0);
    assert_int_equal(cuEventDestroy_v2(e0), CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(cuEventDestroy_v2(e1), 0);
    assert_int_equal(cuEventDestroy_v2(et), 0);
    assert_int_equal(cuStreamDestroy_v2(s), 0);
    assert_int_equal(cuStreamDestroy_v2(s), CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(cuStreamSynchronize(s), CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(cuModuleUnload(m), 0);
}

static void test_errors(void **state)
{
    (void)state;
    const char *s = NULL;
    assert_int_equal(cuGetErrorName(CUDA_ERROR_OUT_OF_MEMORY, &s), 0);
    assert_string_equal(s, "CUDA_ERROR_OUT_OF_MEMORY");
    assert_int_equal(cuGetErrorString(CUDA_ERROR_OUT_OF_MEMORY, &s), 0);
    assert_string_equal(s, "out of memory");
    assert_int_equal(cuGetErrorName((CUresult)12345, &s), CUDA_ERROR_INVALID_VALUE);
    assert_null(s);
    assert_int_equal(cuGetErrorName(CUDA_SUCCESS, NULL), CUDA_ERROR_INVALID_VALUE);
    const void *tbl = (const void *)1;
    CUuuid id = {{0}};
    assert_int_equal(cuGetExportTable(&tbl, &id), CUDA_ERROR_NOT_SUPPORTED);
    assert_null(tbl);
}

/* Many threads allocating, launching and recording at once: accounting ends at zero. */
static void *worker(void *arg)
{
    CUcontext c = arg;
    CUmodule m = NULL;
    CUfunction f = NULL;
    if (cuCtxSetCurrent(c) != CUDA_SUCCESS || cuModuleLoadData(&m, ptx) != CUDA_SUCCESS ||
        cuModuleGetFunction(&f, m, "spin") != CUDA_SUCCESS)
        return (void *)1;
    uint64_t ns = 0;
    void *args[] = {&ns};
    uintptr_t bad = 0;
    for (int i = 0; i < 2000 && !bad; i++) {
        CUdeviceptr p, q;
        CUstream s;
        CUevent e;
        size_t n = (size_t)(i % 7 + 1) * 4096 * (i % 3 ? 1 : 40);
        bad |= cuMemAlloc_v2(&p, n) != CUDA_SUCCESS;
        bad |= cuMemAllocAsync(&q, 4096, NULL) != CUDA_SUCCESS;
        bad |= cuStreamCreate(&s, 0) != CUDA_SUCCESS;
        bad |= cuEventCreate(&e, 0) != CUDA_SUCCESS;
        bad |= cuMemsetD8Async(p, (unsigned char)i, n, s) != CUDA_SUCCESS;
        bad |= cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, s, args, NULL) != CUDA_SUCCESS;
        bad |= cuLaunchKernel_ptsz(f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL) != CUDA_SUCCESS;
        bad |= cuEventRecord(e, s) != CUDA_SUCCESS;
        bad |= cuEventSynchronize(e) != CUDA_SUCCESS;
        bad |= cuStreamDestroy_v2(s) != CUDA_SUCCESS;
        bad |= cuEventDestroy_v2(e) != CUDA_SUCCESS;
        bad |= cuMemFreeAsync(q, NULL) != CUDA_SUCCESS;
        bad |= cuMemFree_v2(p) != CUDA_SUCCESS;
    }
    bad |= cuModuleUnload(m) != CUDA_SUCCESS;
    return (void *)bad;
}

static void test_threads(void **state)
{
    (void)state;
    enum { T = 8 };
    pthread_t t[T];
    for (int i = 0; i < T; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, ctx0), 0);
    for (int i = 0; i < T; i++) {
        void *rc;
        assert_int_equal(pthread_join(t[i], &rc), 0);
        assert_null(rc);
    }
    assert_int_equal(cuCtxSynchronize(), 0);
    assert_int_equal(used(0), 0);
    assert_int_equal(slot_used(0), 0);
}

/* A forked child cannot use its parent's driver, and its exit leaves the parent's memory alone. */
static void test_fork(void **state)
{
    (void)state;
    CUdeviceptr p;
    assert_int_equal(cuMemAlloc_v2(&p, MiB), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        CUdeviceptr q;
        int ok = cuMemAlloc_v2(&q, MiB) == CUDA_ERROR_NOT_INITIALIZED &&
                 cuInit(0) == CUDA_ERROR_NOT_INITIALIZED && cuMemFree_v2(p) != CUDA_SUCCESS;
        exit(ok ? 0 : 1); /* exit, not _exit: the driver's exit handling must run */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(used(0), MiB);
    assert_int_equal(slot_used(0), MiB);
    assert_int_equal(cuMemFree_v2(p), 0);
    assert_int_equal(used(0), 0);
}

static void test_primary_release_frees(void **state)
{
    (void)state;
    /* Releasing the last reference destroys the primary context and what it owns. */
    CUdeviceptr p;
    assert_int_equal(cuMemAlloc_v2(&p, 3 * MiB), 0);
    assert_int_equal(used(0), 3 * MiB);
    assert_int_equal(cuDevicePrimaryCtxRelease_v2(0), 0);
    assert_int_equal(used(0), 0);
    assert_int_equal(slot_contexts(0), -1);
    assert_int_equal(cuMemAlloc_v2(&p, 1), CUDA_ERROR_CONTEXT_IS_DESTROYED);
    assert_int_equal(cuDevicePrimaryCtxRelease_v2(0), CUDA_ERROR_INVALID_CONTEXT);
    assert_int_equal(cuCtxSetCurrent(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* clang-format off */ /* in the order they depend on */
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_devices),
        cmocka_unit_test(test_contexts),
        cmocka_unit_test(test_alloc_accounting),
        cmocka_unit_test(test_copies),
        cmocka_unit_test(test_vmm),
        cmocka_unit_test(test_pools),
        cmocka_unit_test(test_arrays_and_external),
        cmocka_unit_test(test_modules),
        cmocka_unit_test(test_launch_and_time),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_fork),
        cmocka_unit_test(test_primary_release_frees),
        /* clang-format on */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
