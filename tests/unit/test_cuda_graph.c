/*
 * The simulated driver's newer surface, called directly (no toolkit needed):
 * graphs of every modelled node kind and their memory, stream capture,
 * cuCtxCreate_v4, peer access and peer copies, 2D memsets, pointer
 * attributes, cache configs, pool access, the linker, external semaphores,
 * IPC refusals and the unmodelled entry points (sim/cuda_sim_graph.c,
 * cuda_sim_more.c, cuda_sim_stubs.c).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "abi/cuda_abi.h"
#include "sim_node.h"
#include "state.h"

#define MIB (1024ULL * 1024ULL)

static char path[128];
static struct gpx_sim_state st;
static CUcontext ctx0;
static CUfunction spin;

static const char ptx[] = ".version 7.0\n.target sm_70\n.address_size 64\n"
                          ".visible .entry spin(\n    .param .u64 ns\n)\n{\n    ret;\n}\n";

typedef CUresult (*stub2_fn)(void *, void *);

static uint64_t used(uint32_t gpu)
{
    return atomic_load(&st.gpus[gpu].memory_used);
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
    return sim_state_make("cuda-graph", "2xH100-80GB", path, sizeof path, &st);
}

static int teardown(void **state)
{
    (void)state;
    sim_state_remove(path, &st);
    return 0;
}

static void test_init_and_stubs(void **state)
{
    (void)state;
    /* An unmodelled entry point, exported and found by cuGetProcAddress, answers like the
     * others before cuInit, then refuses. */
    stub2_fn clone = (stub2_fn)dlsym(RTLD_DEFAULT, "cuGraphClone");
    assert_non_null(clone);
    void *fn = NULL;
    assert_int_equal(cuGetProcAddress("cuGraphClone", &fn, 12000, 0), CUDA_SUCCESS);
    assert_ptr_equal(fn, (void *)clone);
    void *a = NULL, *b = NULL;
    assert_int_equal(clone(&a, b), CUDA_ERROR_NOT_INITIALIZED);
    assert_int_equal(cuInit(0), CUDA_SUCCESS);
    assert_int_equal(clone(&a, b), CUDA_ERROR_NOT_SUPPORTED);

    CUctxCreateParams p = {0};
    int cig = 0;
    assert_int_equal(cuCtxCreate_v4(&ctx0, &p, 0, 0), CUDA_SUCCESS);
    assert_int_equal(cuCtxDestroy_v2(ctx0), CUDA_SUCCESS);
    p.cigParams = (CUctxCigParam *)&cig;
    assert_int_equal(cuCtxCreate_v4(&ctx0, &p, 0, 0), CUDA_ERROR_NOT_SUPPORTED);
    p.execAffinityParams = (CUexecAffinityParam *)&cig;
    p.numExecAffinityParams = 1;
    assert_int_equal(cuCtxCreate_v4(&ctx0, &p, 0, 0), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuCtxCreate_v4(&ctx0, NULL, 0, 0), CUDA_SUCCESS); /* stays current */
    CUmodule m;
    assert_int_equal(cuModuleLoadData(&m, ptx), CUDA_SUCCESS);
    assert_int_equal(cuModuleGetFunction(&spin, m, "spin"), CUDA_SUCCESS);
}

static int host_calls;
static void host_fn(void *arg)
{
    host_calls += *(int *)arg;
}

static CUDA_MEM_ALLOC_NODE_PARAMS alloc_params(size_t bytes)
{
    CUDA_MEM_ALLOC_NODE_PARAMS p;
    memset(&p, 0, sizeof p);
    p.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    p.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    p.bytesize = bytes;
    return p;
}

static void test_graph(void **state)
{
    (void)state;
    const size_t n = 1 << 20;
    uint32_t *host = calloc(n, 4);
    assert_non_null(host);
    CUstream s;
    assert_int_equal(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
    uint64_t base = used(0);

    CUgraph g;
    CUgraphNode alloc, set, kern, copy, hostn, empty, freen, bad;
    assert_int_equal(cuGraphCreate(&g, 1), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuGraphCreate(&g, 0), CUDA_SUCCESS);
    CUDA_MEM_ALLOC_NODE_PARAMS ap = alloc_params(n * 4);
    assert_int_equal(cuGraphAddMemAllocNode(&alloc, g, NULL, 0, &ap), CUDA_SUCCESS);
    assert_true(ap.dptr != 0);
    assert_int_equal(used(0), base); /* an address now, memory when the graph runs */
    CUDA_MEMSET_NODE_PARAMS mp = {ap.dptr, 0, 0x5a5a0101, 4, n, 1};
    assert_int_equal(cuGraphAddMemsetNode(&set, g, &alloc, 1, &mp, ctx0), CUDA_SUCCESS);
    mp.elementSize = 3;
    assert_int_equal(cuGraphAddMemsetNode(&bad, g, NULL, 0, &mp, ctx0), CUDA_ERROR_INVALID_VALUE);
    uint64_t ns = 3000000;
    void *args[1] = {&ns};
    CUDA_KERNEL_NODE_PARAMS kp;
    memset(&kp, 0, sizeof kp);
    kp.func = spin;
    kp.gridDimX = kp.gridDimY = kp.gridDimZ = kp.blockDimX = kp.blockDimY = kp.blockDimZ = 1;
    kp.kernelParams = args;
    assert_int_equal(cuGraphAddKernelNode_v2(&kern, g, &set, 1, &kp), CUDA_SUCCESS);
    ns = 1; /* copied when the node was added */
    CUDA_MEMCPY3D cp;
    memset(&cp, 0, sizeof cp);
    cp.srcMemoryType = CU_MEMORYTYPE_DEVICE;
    cp.srcDevice = ap.dptr;
    cp.dstMemoryType = CU_MEMORYTYPE_HOST;
    cp.dstHost = host;
    cp.WidthInBytes = n * 4;
    cp.Height = cp.Depth = 1;
    assert_int_equal(cuGraphAddMemcpyNode(&copy, g, &kern, 1, &cp, ctx0), CUDA_SUCCESS);
    int one = 1;
    CUDA_HOST_NODE_PARAMS hp = {host_fn, &one};
    assert_int_equal(cuGraphAddHostNode(&hostn, g, &copy, 1, &hp), CUDA_SUCCESS);
    assert_int_equal(cuGraphAddEmptyNode(&empty, g, &hostn, 1), CUDA_SUCCESS);
    assert_int_equal(cuGraphAddMemFreeNode(&freen, g, &empty, 1, ap.dptr), CUDA_SUCCESS);
    /* only graph allocations can be freed by a graph; dependencies must be the graph's */
    CUdeviceptr plain;
    assert_int_equal(cuMemAlloc_v2(&plain, 4096), CUDA_SUCCESS);
    assert_int_equal(cuGraphAddMemFreeNode(&bad, g, NULL, 0, plain), CUDA_ERROR_INVALID_VALUE);
    CUgraph other;
    assert_int_equal(cuGraphCreate(&other, 0), CUDA_SUCCESS);
    assert_int_equal(cuGraphAddEmptyNode(&bad, other, &alloc, 1), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuGraphDestroy(other), CUDA_SUCCESS);

    size_t count = 0;
    assert_int_equal(cuGraphGetNodes(g, NULL, &count), CUDA_SUCCESS);
    assert_int_equal(count, 7);
    CUgraphNode nodes[8];
    count = 8;
    assert_int_equal(cuGraphGetNodes(g, nodes, &count), CUDA_SUCCESS);
    assert_int_equal(count, 7);
    assert_ptr_equal(nodes[0], alloc);
    assert_null(nodes[7]);
    CUgraphNodeType t;
    assert_int_equal(cuGraphNodeGetType(kern, &t), CUDA_SUCCESS);
    assert_int_equal(t, CU_GRAPH_NODE_TYPE_KERNEL);
    CUDA_MEM_ALLOC_NODE_PARAMS got;
    assert_int_equal(cuGraphMemAllocNodeGetParams(alloc, &got), CUDA_SUCCESS);
    assert_int_equal(got.bytesize, n * 4);
    assert_true(got.dptr == ap.dptr);
    CUdeviceptr fd;
    assert_int_equal(cuGraphMemFreeNodeGetParams(freen, &fd), CUDA_SUCCESS);
    assert_true(fd == ap.dptr);

    CUgraphExec exec;
    assert_int_equal(cuGraphInstantiateWithFlags(&exec, g, CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD),
                     CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuGraphInstantiateWithFlags(&exec, g, 0), CUDA_SUCCESS);
    for (int round = 0; round < 2; round++) {
        memset(host, 0, n * 4);
        uint64_t t0 = now_ns();
        assert_int_equal(cuGraphLaunch(exec, s), CUDA_SUCCESS);
        assert_int_equal(cuStreamSynchronize(s), CUDA_SUCCESS);
        assert_true(now_ns() - t0 >= 3000000); /* the kernel node's 3 ms of virtual time */
        assert_int_equal(host[0], 0x5a5a0101);
        assert_int_equal(host[n - 1], 0x5a5a0101);
        assert_int_equal(used(0), base + 4096); /* the free node gave the graph's bytes back */
    }
    assert_int_equal(host_calls, 2);

    /* Without the free node the allocation outlives the launch: a relaunch is refused unless
     * the graph frees it on launch; cuMemFree gives its bytes back. */
    CUgraph g2;
    CUgraphNode a2;
    assert_int_equal(cuGraphCreate(&g2, 0), CUDA_SUCCESS);
    CUDA_MEM_ALLOC_NODE_PARAMS ap2 = alloc_params(8 * MIB);
    assert_int_equal(cuGraphAddMemAllocNode(&a2, g2, NULL, 0, &ap2), CUDA_SUCCESS);
    CUgraphExec e2, e3;
    assert_int_equal(cuGraphInstantiate_v2(&e2, g2, NULL, NULL, 0), CUDA_SUCCESS);
    assert_int_equal(cuGraphLaunch(e2, s), CUDA_SUCCESS);
    assert_int_equal(used(0), base + 4096 + 8 * MIB);
    assert_int_equal(cuGraphLaunch(e2, s), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuMemFree_v2(ap2.dptr), CUDA_SUCCESS);
    assert_int_equal(used(0), base + 4096);
    assert_int_equal(
        cuGraphInstantiateWithFlags(&e3, g2, CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH),
        CUDA_SUCCESS);
    assert_int_equal(cuGraphLaunch(e3, s), CUDA_SUCCESS);
    assert_int_equal(cuGraphLaunch(e3, s), CUDA_SUCCESS);
    assert_int_equal(used(0), base + 4096 + 8 * MIB);
    cuuint64_t flags;
    assert_int_equal(cuGraphExecGetFlags(e3, &flags), CUDA_SUCCESS);
    assert_int_equal(flags, CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH);
    assert_int_equal(cuGraphExecDestroy(e2), CUDA_SUCCESS);
    assert_int_equal(cuGraphExecDestroy(e3), CUDA_SUCCESS);
    assert_int_equal(cuGraphDestroy(g2), CUDA_SUCCESS); /* the last owner: bytes back */
    assert_int_equal(used(0), base + 4096);

    /* Past the GPU's memory: refused when the node runs. */
    CUgraph g3;
    CUgraphNode a3;
    CUgraphExec e4;
    assert_int_equal(cuGraphCreate(&g3, 0), CUDA_SUCCESS);
    CUDA_MEM_ALLOC_NODE_PARAMS ap3 = alloc_params(200ULL * 1024 * MIB);
    assert_int_equal(cuGraphAddMemAllocNode(&a3, g3, NULL, 0, &ap3), CUDA_SUCCESS);
    assert_int_equal(cuGraphInstantiateWithFlags(&e4, g3, 0), CUDA_SUCCESS);
    assert_int_equal(cuGraphLaunch(e4, s), CUDA_ERROR_OUT_OF_MEMORY);
    assert_int_equal(cuGraphExecDestroy(e4), CUDA_SUCCESS);
    assert_int_equal(cuGraphDestroy(g3), CUDA_SUCCESS);

    assert_int_equal(cuGraphExecDestroy(exec), CUDA_SUCCESS);
    assert_int_equal(cuGraphExecDestroy(exec), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuGraphDestroy(g), CUDA_SUCCESS);
    assert_int_equal(cuMemFree_v2(plain), CUDA_SUCCESS);
    assert_int_equal(used(0), base);
    assert_int_equal(cuStreamDestroy_v2(s), CUDA_SUCCESS);
    free(host);
}

static void test_capture(void **state)
{
    (void)state;
    CUstream s;
    assert_int_equal(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
    assert_int_equal(cuStreamBeginCapture_v2(CU_STREAM_LEGACY, CU_STREAM_CAPTURE_MODE_GLOBAL),
                     CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    CUdeviceptr d;
    assert_int_equal(cuMemAlloc_v2(&d, 4096), CUDA_SUCCESS);
    assert_int_equal(cuMemsetD32_v2(d, 0, 1024), CUDA_SUCCESS);
    uint32_t out[1024] = {0};
    CUgraph g;
    assert_int_equal(cuStreamEndCapture(s, &g), CUDA_ERROR_ILLEGAL_STATE);
    assert_int_equal(cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_RELAXED), CUDA_SUCCESS);
    assert_int_equal(cuStreamBeginCapture(s), CUDA_ERROR_ILLEGAL_STATE);
    assert_int_equal(cuMemsetD32Async(d, 0x0badcafe, 1024, s), CUDA_SUCCESS);
    uint64_t ns = 5000000;
    void *args[1] = {&ns};
    uint64_t t0 = now_ns();
    assert_int_equal(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, args, NULL), CUDA_SUCCESS);
    assert_int_equal(cuMemcpyDtoHAsync_v2(out, d, sizeof out, s), CUDA_SUCCESS);
    CUstreamCaptureStatus cs;
    cuuint64_t id = 0;
    CUgraph cg = NULL;
    const CUgraphNode *deps = NULL;
    const CUgraphEdgeData *edges = (const CUgraphEdgeData *)1;
    size_t ndeps = 0;
    assert_int_equal(cuStreamGetCaptureInfo_v3(s, &cs, &id, &cg, &deps, &edges, &ndeps),
                     CUDA_SUCCESS);
    assert_int_equal(cs, CU_STREAM_CAPTURE_STATUS_ACTIVE);
    assert_true(id != 0 && cg != NULL && deps != NULL && edges == NULL);
    assert_int_equal(ndeps, 1);
    assert_int_equal(cuStreamSynchronize(s), CUDA_SUCCESS);
    assert_true(now_ns() - t0 < 5000000); /* recorded, not run */
    assert_int_equal(out[0], 0);
    assert_int_equal(cuStreamEndCapture(s, &g), CUDA_SUCCESS);
    assert_ptr_equal(g, cg);
    assert_int_equal(cuStreamIsCapturing(s, &cs), CUDA_SUCCESS);
    assert_int_equal(cs, CU_STREAM_CAPTURE_STATUS_NONE);
    size_t count = 0;
    assert_int_equal(cuGraphGetNodes(g, NULL, &count), CUDA_SUCCESS);
    assert_int_equal(count, 3);
    CUgraphExec e;
    CUDA_GRAPH_INSTANTIATE_PARAMS ip = {CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD, s, NULL,
                                        CUDA_GRAPH_INSTANTIATE_ERROR};
    assert_int_equal(cuGraphInstantiateWithParams(&e, g, &ip), CUDA_SUCCESS);
    assert_int_equal(ip.result_out, CUDA_GRAPH_INSTANTIATE_SUCCESS);
    t0 = now_ns();
    assert_int_equal(cuGraphLaunch(e, s), CUDA_SUCCESS);
    assert_int_equal(cuStreamSynchronize(s), CUDA_SUCCESS);
    assert_true(now_ns() - t0 >= 5000000);
    assert_int_equal(out[0], 0x0badcafe);
    assert_int_equal(out[1023], 0x0badcafe);
    CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_RELAXED;
    assert_int_equal(cuThreadExchangeStreamCaptureMode(&mode), CUDA_SUCCESS);
    assert_int_equal(mode, CU_STREAM_CAPTURE_MODE_GLOBAL);
    assert_int_equal(cuThreadExchangeStreamCaptureMode(&mode), CUDA_SUCCESS);
    assert_int_equal(cuGraphExecDestroy(e), CUDA_SUCCESS);
    assert_int_equal(cuGraphDestroy(g), CUDA_SUCCESS);
    assert_int_equal(cuMemFree_v2(d), CUDA_SUCCESS);
    assert_int_equal(cuStreamDestroy_v2(s), CUDA_SUCCESS);
}

static void test_peer_and_memset2d(void **state)
{
    (void)state;
    CUcontext c1;
    assert_int_equal(cuCtxCreate_v2(&c1, 0, 1), CUDA_SUCCESS);                 /* now current */
    assert_int_equal(cuCtxEnablePeerAccess(c1, 0), CUDA_ERROR_INVALID_DEVICE); /* itself */
    assert_int_equal(cuCtxEnablePeerAccess(ctx0, 1), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuCtxEnablePeerAccess(ctx0, 0), CUDA_SUCCESS);
    assert_int_equal(cuCtxEnablePeerAccess(ctx0, 0), CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED);
    assert_int_equal(cuCtxDisablePeerAccess(ctx0), CUDA_SUCCESS);
    assert_int_equal(cuCtxDisablePeerAccess(ctx0), CUDA_ERROR_PEER_ACCESS_NOT_ENABLED);
    enum { N = 65536 };
    static unsigned char h[N], back[N];
    for (int i = 0; i < N; i++)
        h[i] = (unsigned char)(i * 13 + 5);
    CUdeviceptr d1, d0;
    assert_int_equal(cuMemAlloc_v2(&d1, N), CUDA_SUCCESS);
    CUcontext cur;
    assert_int_equal(cuCtxPopCurrent_v2(&cur), CUDA_SUCCESS);
    assert_ptr_equal(cur, c1);
    assert_int_equal(cuMemAlloc_v2(&d0, N), CUDA_SUCCESS); /* ctx0 */
    assert_int_equal(cuMemcpyHtoD_v2(d0, h, N), CUDA_SUCCESS);
    assert_int_equal(cuMemcpyPeer(d1, c1, d0, ctx0, N), CUDA_SUCCESS);
    assert_int_equal(cuMemcpyDtoH_v2(back, d1, N), CUDA_SUCCESS);
    assert_memory_equal(back, h, N);
    assert_int_equal(cuMemsetD8_v2(d1, 0, N), CUDA_SUCCESS);
    assert_int_equal(cuMemcpyPeerAsync_ptsz(d1 + 100, c1, d0, ctx0, 1000, NULL), CUDA_SUCCESS);
    assert_int_equal(cuStreamSynchronize_ptsz(NULL), CUDA_SUCCESS);
    assert_int_equal(cuMemcpyDtoH_v2(back, d1, N), CUDA_SUCCESS);
    assert_int_equal(back[99], 0);
    assert_memory_equal(back + 100, h, 1000);
    assert_int_equal(back[1100], 0);
    assert_int_equal(cuMemcpyPeer(d1, NULL, d0, ctx0, 16), CUDA_ERROR_INVALID_CONTEXT);
    assert_int_equal(cuMemcpyPeer(d1, c1, d0, ctx0, N + 1), CUDA_ERROR_INVALID_VALUE);

    /* 2D: rows of 60 bytes, 256 apart; the padding keeps its 0xee. */
    const size_t pitch = 256, rows = 32;
    for (int k = 0; k < 7; k++) {
        assert_int_equal(cuMemsetD8_v2(d1, 0xee, pitch * rows), CUDA_SUCCESS);
        CUresult r;
        uint32_t v = 0;
        size_t es = 1;
        switch (k) {
        case 0:
            r = cuMemsetD2D8_v2(d1, pitch, 0x42, 60, rows), v = 0x42;
            break;
        case 1:
            r = cuMemsetD2D16_v2(d1, pitch, 0x1234, 30, rows), v = 0x1234, es = 2;
            break;
        case 2:
            r = cuMemsetD2D32_v2(d1, pitch, 0xa1b2c3d4, 15, rows), v = 0xa1b2c3d4, es = 4;
            break;
        case 3:
            r = cuMemsetD2D8Async(d1, pitch, 0x24, 60, rows, NULL), v = 0x24;
            break;
        case 4:
            r = cuMemsetD2D16Async_ptsz(d1, pitch, 0x4321, 30, rows, NULL), v = 0x4321, es = 2;
            break;
        case 5:
            r = cuMemsetD2D32_v2_ptds(d1, pitch, 0x01020304, 15, rows), v = 0x01020304, es = 4;
            break;
        default:
            r = cuMemsetD2D32Async(d1, pitch, 0xfeedf00d, 15, rows, NULL), v = 0xfeedf00d, es = 4;
        }
        assert_int_equal(r, CUDA_SUCCESS);
        assert_int_equal(cuCtxSynchronize(), CUDA_SUCCESS);
        assert_int_equal(cuMemcpyDtoH_v2(back, d1, pitch * rows), CUDA_SUCCESS);
        for (size_t y = 0; y < rows; y++)
            for (size_t x = 0; x < pitch; x++) {
                unsigned char want = x < 60 ? (unsigned char)(v >> (8 * (x % es))) : 0xee;
                if (back[y * pitch + x] != want)
                    fail_msg("case %d: row %zu byte %zu is %#x, want %#x", k, y, x,
                             back[y * pitch + x], want);
            }
    }
    assert_int_equal(cuMemsetD2D32_v2(d1, 30, 0, 15, 2), CUDA_ERROR_INVALID_VALUE);   /* pitch */
    assert_int_equal(cuMemsetD2D8_v2(d1, 4096, 0, 10, 17), CUDA_ERROR_INVALID_VALUE); /* past */
    assert_int_equal(cuMemsetD2D16_v2(d1 + 1, 256, 0, 10, 2), CUDA_ERROR_INVALID_VALUE);

    /* pointer attributes: several at once; unknown pointers read as zero */
    CUpointer_attribute at[3] = {CU_POINTER_ATTRIBUTE_CONTEXT, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
                                 CU_POINTER_ATTRIBUTE_RANGE_SIZE};
    CUcontext pc = NULL;
    unsigned mt = 0;
    size_t rs = 0;
    void *vals[3] = {&pc, &mt, &rs};
    assert_int_equal(cuPointerGetAttributes(3, at, vals, d1 + 5), CUDA_SUCCESS);
    assert_ptr_equal(pc, c1);
    assert_int_equal(mt, CU_MEMORYTYPE_DEVICE);
    assert_int_equal(rs, N);
    assert_int_equal(cuPointerGetAttributes(3, at, vals, (CUdeviceptr)(uintptr_t)h), 0);
    assert_null(pc);
    assert_int_equal(mt, 0);
    assert_int_equal(rs, 0);

    assert_int_equal(cuMemFree_v2(d0), CUDA_SUCCESS);
    assert_int_equal(cuMemFree_v2(d1), CUDA_SUCCESS);
    assert_int_equal(cuCtxDestroy_v2(c1), CUDA_SUCCESS);
}

static void test_configs_pools_linker_ipc(void **state)
{
    (void)state;
    CUfunc_cache cc;
    assert_int_equal(cuCtxGetCacheConfig(&cc), CUDA_SUCCESS);
    assert_int_equal(cc, CU_FUNC_CACHE_PREFER_NONE);
    assert_int_equal(cuCtxSetCacheConfig(CU_FUNC_CACHE_PREFER_EQUAL), CUDA_SUCCESS);
    assert_int_equal(cuCtxGetCacheConfig(&cc), CUDA_SUCCESS);
    assert_int_equal(cc, CU_FUNC_CACHE_PREFER_EQUAL);
    assert_int_equal(cuCtxSetCacheConfig((CUfunc_cache)9), CUDA_ERROR_INVALID_VALUE);
    CUsharedconfig sc;
    assert_int_equal(cuCtxSetSharedMemConfig(CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE), 0);
    assert_int_equal(cuCtxGetSharedMemConfig(&sc), CUDA_SUCCESS);
    assert_int_equal(sc, CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE);
    assert_int_equal(cuFuncSetCacheConfig(spin, CU_FUNC_CACHE_PREFER_L1), CUDA_SUCCESS);
    assert_int_equal(cuFuncSetCacheConfig((CUfunction)&sc, CU_FUNC_CACHE_PREFER_L1),
                     CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(cuFuncSetSharedMemConfig(spin, CU_SHARED_MEM_CONFIG_DEFAULT_BANK_SIZE), 0);

    CUmemoryPool pool;
    assert_int_equal(cuDeviceGetDefaultMemPool(&pool, 0), CUDA_SUCCESS);
    CUmemLocation own = {CU_MEM_LOCATION_TYPE_DEVICE, 0}, peer = {CU_MEM_LOCATION_TYPE_DEVICE, 1};
    CUmemAccess_flags f;
    assert_int_equal(cuMemPoolGetAccess(&f, pool, &own), CUDA_SUCCESS);
    assert_int_equal(f, CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
    assert_int_equal(cuMemPoolGetAccess(&f, pool, &peer), CUDA_SUCCESS);
    assert_int_equal(f, CU_MEM_ACCESS_FLAGS_PROT_NONE);
    CUmemAccessDesc rw = {peer, CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
    CUmemAccessDesc ro = {peer, CU_MEM_ACCESS_FLAGS_PROT_READ};
    CUmemAccessDesc revoke_own = {own, CU_MEM_ACCESS_FLAGS_PROT_NONE};
    assert_int_equal(cuMemPoolSetAccess(pool, &ro, 1), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuMemPoolSetAccess(pool, &revoke_own, 1), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuMemPoolSetAccess(pool, &rw, 1), CUDA_SUCCESS);
    assert_int_equal(cuMemPoolGetAccess(&f, pool, &peer), CUDA_SUCCESS);
    assert_int_equal(f, CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
    rw.flags = CU_MEM_ACCESS_FLAGS_PROT_NONE;
    assert_int_equal(cuMemPoolSetAccess(pool, &rw, 1), CUDA_SUCCESS);
    assert_int_equal(cuMemPoolGetAccess(&f, pool, &peer), CUDA_SUCCESS);
    assert_int_equal(f, CU_MEM_ACCESS_FLAGS_PROT_NONE);

    /* the linker: PTX in, a PTX image out; a binary input makes a binary image */
    CUlinkState ls;
    assert_int_equal(cuLinkCreate_v2(0, NULL, NULL, &ls), CUDA_SUCCESS);
    void *img = NULL;
    size_t size = 0;
    assert_int_equal(cuLinkComplete(ls, &img, &size), CUDA_ERROR_INVALID_VALUE); /* empty */
    assert_int_equal(
        cuLinkAddData_v2(ls, CU_JIT_INPUT_PTX, (void *)ptx, sizeof ptx, "a", 0, NULL, NULL),
        CUDA_SUCCESS);
    assert_int_equal(cuLinkComplete(ls, &img, &size), CUDA_SUCCESS);
    CUmodule m;
    CUfunction fn;
    assert_int_equal(cuModuleLoadData(&m, img), CUDA_SUCCESS);
    assert_int_equal(cuModuleGetFunction(&fn, m, "spin"), CUDA_SUCCESS);
    assert_int_equal(cuModuleGetFunction(&fn, m, "other"), CUDA_ERROR_NOT_FOUND);
    assert_int_equal(cuModuleUnload(m), CUDA_SUCCESS);
    assert_int_equal(cuLinkAddFile_v2(ls, CU_JIT_INPUT_PTX, "/nonexistent/x.ptx", 0, NULL, NULL),
                     CUDA_ERROR_FILE_NOT_FOUND);
    static const char cubin[8] = {0x7f, 'E', 'L', 'F'};
    assert_int_equal(
        cuLinkAddData(ls, CU_JIT_INPUT_CUBIN, (void *)cubin, sizeof cubin, "b", 0, NULL, NULL),
        CUDA_SUCCESS);
    assert_int_equal(cuLinkComplete(ls, &img, &size), CUDA_SUCCESS);
    assert_int_equal(cuModuleLoadData(&m, img), CUDA_SUCCESS);
    assert_int_equal(cuModuleGetFunction(&fn, m, "any_name"), CUDA_SUCCESS);
    assert_int_equal(cuModuleUnload(m), CUDA_SUCCESS);
    assert_int_equal(cuLinkDestroy(ls), CUDA_SUCCESS);
    assert_int_equal(cuLinkDestroy(ls), CUDA_ERROR_INVALID_VALUE);

    CUipcMemHandle ih;
    CUipcEventHandle eh;
    CUdeviceptr d;
    assert_int_equal(cuIpcGetMemHandle(&ih, 0), CUDA_ERROR_NOT_SUPPORTED);
    memset(&ih, 0, sizeof ih);
    assert_int_equal(cuIpcOpenMemHandle_v2(&d, ih, 1), CUDA_ERROR_NOT_SUPPORTED);
    assert_int_equal(cuIpcGetEventHandle(&eh, NULL), CUDA_ERROR_NOT_SUPPORTED);

    /* external semaphores: imported from a descriptor (which the driver takes), ordered on a
     * stream, destroyed; Windows handles are refused */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    CUDA_EXTERNAL_SEMAPHORE_HANDLE_DESC sd;
    memset(&sd, 0, sizeof sd);
    sd.type = CU_EXTERNAL_SEMAPHORE_HANDLE_TYPE_OPAQUE_WIN32;
    CUexternalSemaphore sem;
    assert_int_equal(cuImportExternalSemaphore(&sem, &sd), CUDA_ERROR_NOT_SUPPORTED);
    sd.type = CU_EXTERNAL_SEMAPHORE_HANDLE_TYPE_TIMELINE_SEMAPHORE_FD;
    sd.handle.fd = -1;
    assert_int_equal(cuImportExternalSemaphore(&sem, &sd), CUDA_ERROR_INVALID_HANDLE);
    sd.handle.fd = fds[0];
    assert_int_equal(cuImportExternalSemaphore(&sem, &sd), CUDA_SUCCESS);
    assert_int_equal(fcntl(fds[0], F_GETFD), -1); /* taken and closed */
    close(fds[1]);
    char params[144] = {0}; /* the caller's parameter structs: read by nobody here */
    CUstream ss;
    assert_int_equal(cuStreamCreate(&ss, 0), CUDA_SUCCESS);
    assert_int_equal(cuSignalExternalSemaphoresAsync(&sem, (const void *)params, 1, ss), 0);
    assert_int_equal(cuWaitExternalSemaphoresAsync_ptsz(&sem, (const void *)params, 1, NULL), 0);
    assert_int_equal(cuWaitExternalSemaphoresAsync(&sem, NULL, 1, ss), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuStreamSynchronize(ss), CUDA_SUCCESS);
    assert_int_equal(cuDestroyExternalSemaphore(sem), CUDA_SUCCESS);
    assert_int_equal(cuDestroyExternalSemaphore(sem), CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(cuSignalExternalSemaphoresAsync(&sem, (const void *)params, 1, ss),
                     CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(cuStreamDestroy_v2(ss), CUDA_SUCCESS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* clang-format off */ /* in the order they depend on */
        cmocka_unit_test(test_init_and_stubs),
        cmocka_unit_test(test_graph),
        cmocka_unit_test(test_capture),
        cmocka_unit_test(test_peer_and_memset2d),
        cmocka_unit_test(test_configs_pools_linker_ipc),
        /* clang-format on */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
