/*
 * The newer driver surface as a toolkit user reaches it: built at test time
 * against the installed toolkit's cuda.h (CUDA 13: cuCtxCreate is
 * cuCtxCreate_v4, cuGraphInstantiate is cuGraphInstantiateWithFlags,
 * cuGraphAddKernelNode is cuGraphAddKernelNode_v2) and linked with -lcuda.
 * tests/integration/cuda_surface.sh compiles it where the toolkit exists;
 * the build also makes it without one (gpx-toolkit-graph, GPX_OWN_ABI:
 * src/abi/cuda_abi.h with the names CUDA 13's cuda.h maps to), so the
 * behaviour is checked on every machine.
 *
 *   toolkit_graph procaddr FILE  every base name in FILE (one a line) resolves
 *                                through cuGetProcAddress at the driver's version
 *   toolkit_graph graph          a graph of every modelled node kind, and a captured one
 *   toolkit_graph graph-oom MIB  a graph allocating MIB MiB: instantiate=, launch= codes
 *   toolkit_graph peer           peer copies, 2D memsets, pointer attributes, cache
 *                                configs, pool access, the linker, IPC and a stub
 *   toolkit_graph loop MS        launches a one-kernel graph (200 us) for MS ms
 *
 * Prints key=value lines; exit status 1 on any unexpected CUDA answer, with
 * the call and the error's name.
 */
#define _POSIX_C_SOURCE 200809L
#if defined(GPX_OWN_ABI)
/* Without a toolkit: our declarations, and what CUDA 13's cuda.h maps each name to. */
#include "abi/cuda_abi.h"
#define CUDA_VERSION         13000
#define cuCtxCreate          cuCtxCreate_v4
#define cuCtxDestroy         cuCtxDestroy_v2
#define cuGetProcAddress     cuGetProcAddress_v2
#define cuMemGetInfo         cuMemGetInfo_v2
#define cuMemAlloc           cuMemAlloc_v2
#define cuMemFree            cuMemFree_v2
#define cuMemcpyHtoD         cuMemcpyHtoD_v2
#define cuMemcpyDtoH         cuMemcpyDtoH_v2
#define cuMemcpyDtoHAsync    cuMemcpyDtoHAsync_v2
#define cuMemsetD8           cuMemsetD8_v2
#define cuMemsetD32          cuMemsetD32_v2
#define cuMemsetD2D8         cuMemsetD2D8_v2
#define cuMemsetD2D16        cuMemsetD2D16_v2
#define cuMemsetD2D32        cuMemsetD2D32_v2
#define cuLinkCreate         cuLinkCreate_v2
#define cuLinkAddData        cuLinkAddData_v2
#define cuStreamBeginCapture cuStreamBeginCapture_v2
#define cuGraphInstantiate   cuGraphInstantiateWithFlags
#define cuGraphAddKernelNode cuGraphAddKernelNode_v2
CUresult cuGraphClone(CUgraph *phGraphClone, CUgraph originalGraph); /* a stub: not in cuda_abi.h */
#else
#include <cuda.h>
#endif
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIB (1024ULL * 1024ULL)

static const char ptx[] = ".version 7.0\n.target sm_70\n.address_size 64\n"
                          ".visible .entry spin(\n    .param .u64 ns\n)\n{\n    ret;\n}\n";

static const char *err_name(CUresult r)
{
    const char *name = NULL;
    if (cuGetErrorName(r, &name) != CUDA_SUCCESS || !name)
        name = "?";
    return name;
}

static void check(CUresult r, const char *what)
{
    if (r == CUDA_SUCCESS)
        return;
    fprintf(stderr, "toolkit_graph: %s: %s (%d)\n", what, err_name(r), (int)r);
    exit(1);
}

static void expect(CUresult r, CUresult want, const char *what)
{
    if (r == want)
        return;
    fprintf(stderr, "toolkit_graph: %s: %s (%d), expected %s\n", what, err_name(r), (int)r,
            err_name(want));
    exit(1);
}

static void need(int ok, const char *what)
{
    if (ok)
        return;
    fprintf(stderr, "toolkit_graph: %s\n", what);
    exit(1);
}

static CUcontext ctx_on(int ordinal)
{
    CUdevice dev;
    CUcontext ctx;
    check(cuDeviceGet(&dev, ordinal), "cuDeviceGet");
#if CUDA_VERSION >= 13000
    check(cuCtxCreate(&ctx, NULL, 0, dev), "cuCtxCreate");
#else
    check(cuCtxCreate(&ctx, 0, dev), "cuCtxCreate");
#endif
    return ctx;
}

static CUfunction spin_function(void)
{
    CUmodule mod;
    CUfunction f;
    check(cuModuleLoadData(&mod, ptx), "cuModuleLoadData");
    check(cuModuleGetFunction(&f, mod, "spin"), "cuModuleGetFunction");
    return f;
}

static CUDA_KERNEL_NODE_PARAMS spin_params(CUfunction f, uint64_t *ns, void **args)
{
    args[0] = ns;
    CUDA_KERNEL_NODE_PARAMS p;
    memset(&p, 0, sizeof p);
    p.func = f;
    p.gridDimX = p.gridDimY = p.gridDimZ = 1;
    p.blockDimX = p.blockDimY = p.blockDimZ = 1;
    p.kernelParams = args;
    return p;
}

static CUDA_MEM_ALLOC_NODE_PARAMS alloc_params(size_t bytes)
{
    CUDA_MEM_ALLOC_NODE_PARAMS p;
    memset(&p, 0, sizeof p);
    p.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    p.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    p.poolProps.location.id = 0;
    p.bytesize = bytes;
    return p;
}

static int procaddr(const char *path)
{
    FILE *f = fopen(path, "r");
    need(f != NULL, "cannot open the name list");
    check(cuInit(0), "cuInit");
    int version = 0, names = 0, bad = 0;
    check(cuDriverGetVersion(&version), "cuDriverGetVersion");
    char line[256];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line)
            continue;
        void *fn = NULL;
        CUdriverProcAddressQueryResult st = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
        CUresult r = cuGetProcAddress(line, &fn, version, CU_GET_PROC_ADDRESS_DEFAULT, &st);
        names++;
        if (r != CUDA_SUCCESS || !fn || st != CU_GET_PROC_ADDRESS_SUCCESS) {
            printf("unresolved=%s (%s, status %d)\n", line, err_name(r), (int)st);
            bad++;
        }
    }
    fclose(f);
    printf("driver=%d\nnames=%d\nunresolved=%d\n", version, names, bad);
    return bad ? 1 : 0;
}

static int host_calls;
static void host_fn(void *arg)
{
    (void)arg;
    host_calls++;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* alloc -> memset -> kernel (2 ms) -> memcpy to the host -> free, plus host and empty nodes. */
static int graph(void)
{
    check(cuInit(0), "cuInit");
    CUcontext ctx = ctx_on(0);
    CUfunction spin = spin_function();
    CUstream s;
    check(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
    const size_t n = 16 * MIB / 4;
    uint32_t *host = calloc(n, 4);
    need(host != NULL, "out of host memory");
    size_t free0, total;
    check(cuMemGetInfo(&free0, &total), "cuMemGetInfo");

    CUgraph g;
    check(cuGraphCreate(&g, 0), "cuGraphCreate");
    CUgraphNode alloc, set, kern, copy, hostn, empty, freen;
    CUDA_MEM_ALLOC_NODE_PARAMS ap = alloc_params(n * 4);
    check(cuGraphAddMemAllocNode(&alloc, g, NULL, 0, &ap), "cuGraphAddMemAllocNode");
    need(ap.dptr != 0, "no address from cuGraphAddMemAllocNode");
    CUDA_MEMSET_NODE_PARAMS mp;
    memset(&mp, 0, sizeof mp);
    mp.dst = ap.dptr;
    mp.value = 0x11223344;
    mp.elementSize = 4;
    mp.width = n;
    mp.height = 1;
    check(cuGraphAddMemsetNode(&set, g, &alloc, 1, &mp, ctx), "cuGraphAddMemsetNode");
    uint64_t ns = 2000000;
    void *args[1];
    CUDA_KERNEL_NODE_PARAMS kp = spin_params(spin, &ns, args);
    check(cuGraphAddKernelNode(&kern, g, &set, 1, &kp), "cuGraphAddKernelNode");
    ns = 1; /* the node copied the parameters when it was added */
    CUDA_MEMCPY3D cp;
    memset(&cp, 0, sizeof cp);
    cp.srcMemoryType = CU_MEMORYTYPE_DEVICE;
    cp.srcDevice = ap.dptr;
    cp.dstMemoryType = CU_MEMORYTYPE_HOST;
    cp.dstHost = host;
    cp.WidthInBytes = n * 4;
    cp.Height = cp.Depth = 1;
    check(cuGraphAddMemcpyNode(&copy, g, &kern, 1, &cp, ctx), "cuGraphAddMemcpyNode");
    CUDA_HOST_NODE_PARAMS hp = {host_fn, NULL};
    check(cuGraphAddHostNode(&hostn, g, &copy, 1, &hp), "cuGraphAddHostNode");
    check(cuGraphAddEmptyNode(&empty, g, &hostn, 1), "cuGraphAddEmptyNode");
    check(cuGraphAddMemFreeNode(&freen, g, &empty, 1, ap.dptr), "cuGraphAddMemFreeNode");
    size_t count = 0;
    check(cuGraphGetNodes(g, NULL, &count), "cuGraphGetNodes");
    printf("nodes=%zu\n", count);
    CUgraphNodeType t;
    check(cuGraphNodeGetType(alloc, &t), "cuGraphNodeGetType");
    need(t == CU_GRAPH_NODE_TYPE_MEM_ALLOC, "alloc node type");

    CUgraphExec exec;
    check(cuGraphInstantiate(&exec, g, 0), "cuGraphInstantiate");
    for (int round = 0; round < 2; round++) {
        memset(host, 0, n * 4);
        double t0 = now_ms();
        check(cuGraphLaunch(exec, s), "cuGraphLaunch");
        check(cuStreamSynchronize(s), "cuStreamSynchronize");
        double ms = now_ms() - t0;
        size_t bad = 0;
        for (size_t i = 0; i < n; i++)
            bad += host[i] != 0x11223344;
        printf("launch%d_ms=%.1f\nlaunch%d_bad_words=%zu\n", round, ms, round, bad);
        need(bad == 0, "the graph's memcpy did not bring back the memset's words");
        need(ms >= 1.9, "the kernel node did not take its 2 ms");
    }
    printf("host_calls=%d\n", host_calls);
    need(host_calls == 2, "the host node did not run once per launch");
    size_t free1;
    check(cuMemGetInfo(&free1, &total), "cuMemGetInfo");
    /* 0 on the bare driver (the free node gave it back); under a lease the executable graph
     * holds its allocation nodes' bytes of the quota until it is destroyed. */
    printf("graph_mem_held_mib=%lld\n", ((long long)free0 - (long long)free1) / (long long)MIB);

    /* Captured: the work is recorded, not run, until the graph is launched. */
    CUdeviceptr d;
    check(cuMemAlloc(&d, 4096), "cuMemAlloc");
    check(cuMemsetD32(d, 0, 1024), "cuMemsetD32");
    uint32_t out[1024] = {0};
    size_t freec0, freec1;
    check(cuMemGetInfo(&freec0, &total), "cuMemGetInfo");
    check(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL), "cuStreamBeginCapture");
    CUstreamCaptureStatus cs;
    check(cuStreamIsCapturing(s, &cs), "cuStreamIsCapturing");
    need(cs == CU_STREAM_CAPTURE_STATUS_ACTIVE, "stream not capturing");
    /* A stream-ordered allocation captured: an allocation node, its address now, no memory. */
    CUdeviceptr ga = 0;
    check(cuMemAllocAsync(&ga, 8 * MIB, s), "cuMemAllocAsync (captured)");
    need(ga != 0, "captured cuMemAllocAsync gave no address");
    check(cuMemsetD32Async(d, 0xabcdef01, 1024, s), "cuMemsetD32Async (captured)");
    ns = 1000000;
    check(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, args, NULL), "cuLaunchKernel (captured)");
    check(cuMemcpyDtoHAsync(out, d, sizeof out, s), "cuMemcpyDtoHAsync (captured)");
    CUgraph cg;
    check(cuStreamEndCapture(s, &cg), "cuStreamEndCapture");
    check(cuStreamIsCapturing(s, &cs), "cuStreamIsCapturing");
    need(cs == CU_STREAM_CAPTURE_STATUS_NONE, "stream still capturing");
    check(cuGraphGetNodes(cg, NULL, &count), "cuGraphGetNodes (captured)");
    printf("captured_nodes=%zu\n", count);
    need(count == 4, "capture did not record 4 nodes");
    need(out[0] == 0 && out[1023] == 0, "captured work ran during capture");
    check(cuMemGetInfo(&freec1, &total), "cuMemGetInfo");
    /* 0 everywhere: the captured allocation is a node, not memory (nor quota) yet. */
    printf("captured_alloc_held_mib=%lld\n",
           ((long long)freec0 - (long long)freec1) / (long long)MIB);
    CUgraphExec cexec;
    CUDA_GRAPH_INSTANTIATE_PARAMS ip;
    memset(&ip, 0, sizeof ip);
    check(cuGraphInstantiateWithParams(&cexec, cg, &ip), "cuGraphInstantiateWithParams");
    need(ip.result_out == CUDA_GRAPH_INSTANTIATE_SUCCESS, "instantiate result_out");
    check(cuGraphLaunch(cexec, s), "cuGraphLaunch (captured)");
    check(cuStreamSynchronize(s), "cuStreamSynchronize");
    need(out[0] == 0xabcdef01 && out[1023] == 0xabcdef01, "captured graph's results");
    check(cuMemGetInfo(&freec1, &total), "cuMemGetInfo");
    /* 8: bare, the launch made the allocation; under a lease the executable graph holds the
     * captured allocation's 8 MiB once, as an allocation node of its own (not twice). */
    printf("captured_exec_held_mib=%lld\n",
           ((long long)freec0 - (long long)freec1) / (long long)MIB);
    check(cuMemFreeAsync(ga, s), "cuMemFreeAsync (a captured allocation, outside the graph)");
    check(cuStreamSynchronize(s), "cuStreamSynchronize");
    printf("captured_ok=1\n");

    check(cuGraphExecDestroy(cexec), "cuGraphExecDestroy");
    check(cuGraphDestroy(cg), "cuGraphDestroy");
    check(cuGraphExecDestroy(exec), "cuGraphExecDestroy");
    check(cuGraphDestroy(g), "cuGraphDestroy");
    check(cuMemFree(d), "cuMemFree");
    check(cuMemGetInfo(&free1, &total), "cuMemGetInfo");
    need(free1 == free0, "memory still held after the graphs were destroyed");
    check(cuCtxDestroy(ctx), "cuCtxDestroy");
    free(host);
    printf("graph_ok=1\n");
    return 0;
}

static int graph_oom(size_t mib)
{
    check(cuInit(0), "cuInit");
    CUcontext ctx = ctx_on(0);
    CUstream s;
    check(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
    CUgraph g;
    CUgraphNode a, fr;
    check(cuGraphCreate(&g, 0), "cuGraphCreate");
    CUDA_MEM_ALLOC_NODE_PARAMS ap = alloc_params(mib * MIB);
    check(cuGraphAddMemAllocNode(&a, g, NULL, 0, &ap), "cuGraphAddMemAllocNode");
    check(cuGraphAddMemFreeNode(&fr, g, &a, 1, ap.dptr), "cuGraphAddMemFreeNode");
    CUgraphExec exec = NULL;
    /* As applications reach it: through cuGetProcAddress (cudart's way) and dlsym, then directly.
     * Each must answer alike (the interposer hooks every way). */
    typedef CUresult (*inst_fn)(CUgraphExec *, CUgraph, unsigned long long);
    void *fn = NULL;
    CUdriverProcAddressQueryResult st;
    check(cuGetProcAddress("cuGraphInstantiate", &fn, 12000, CU_GET_PROC_ADDRESS_DEFAULT, &st),
          "cuGetProcAddress(cuGraphInstantiate)");
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    inst_fn by_dlsym = lib ? (inst_fn)dlsym(lib, "cuGraphInstantiateWithFlags") : NULL;
    need(by_dlsym != NULL, "dlsym(libcuda.so.1, cuGraphInstantiateWithFlags)");
    const char *ways[2] = {"instantiate_procaddr", "instantiate_dlsym"};
    inst_fn fns[2] = {(inst_fn)fn, by_dlsym};
    for (int i = 0; i < 2; i++) {
        CUresult r = fns[i](&exec, g, 0);
        printf("%s=%s\n", ways[i], err_name(r));
        if (r == CUDA_SUCCESS)
            check(cuGraphExecDestroy(exec), "cuGraphExecDestroy");
    }
    CUresult r = cuGraphInstantiate(&exec, g, 0);
    printf("instantiate=%s\n", err_name(r));
    if (r == CUDA_SUCCESS) {
        CUresult l = cuGraphLaunch(exec, s);
        if (l == CUDA_SUCCESS)
            l = cuStreamSynchronize(s);
        printf("launch=%s\n", err_name(l));
        check(cuGraphExecDestroy(exec), "cuGraphExecDestroy");
    }
    check(cuGraphDestroy(g), "cuGraphDestroy");
    check(cuCtxDestroy(ctx), "cuCtxDestroy");
    return 0;
}

/* 2D memset check: rows of `w` elements of `es` bytes set to `v`, the pitch's padding untouched. */
static void check_rows(const unsigned char *b, size_t pitch, size_t w, size_t h, size_t es,
                       uint32_t v, const char *what)
{
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < pitch; x++) {
            unsigned char want = x < w * es ? (unsigned char)(v >> (8 * (x % es))) : 0x5a;
            if (b[y * pitch + x] != want) {
                fprintf(stderr, "toolkit_graph: %s: byte %zu of row %zu is %#x, expected %#x\n",
                        what, x, y, b[y * pitch + x], want);
                exit(1);
            }
        }
}

static int peer(void)
{
    check(cuInit(0), "cuInit");
    int ndev = 0;
    check(cuDeviceGetCount(&ndev), "cuDeviceGetCount");
    /* two devices when there are two; else two contexts of one (a peer copy all the same) */
    int d1 = ndev > 1 ? 1 : 0;
    CUcontext c0 = ctx_on(0), c1 = ctx_on(d1);
    printf("devices=%d\n", ndev);
    enum { N = 1 << 20 };
    unsigned char *h = malloc(N), *back = malloc(N);
    need(h && back, "out of host memory");
    for (int i = 0; i < N; i++)
        h[i] = (unsigned char)(i * 7 + 1);
    CUdeviceptr a0, a1;
    check(cuCtxSetCurrent(c0), "cuCtxSetCurrent");
    check(cuMemAlloc(&a0, N), "cuMemAlloc (device 0)");
    check(cuMemcpyHtoD(a0, h, N), "cuMemcpyHtoD");
    check(cuCtxSetCurrent(c1), "cuCtxSetCurrent");
    check(cuMemAlloc(&a1, N), "cuMemAlloc (device 1)");
    if (d1 != 0) {
        int can = 0;
        CUdevice dev0, dev1;
        check(cuDeviceGet(&dev0, 0), "cuDeviceGet");
        check(cuDeviceGet(&dev1, 1), "cuDeviceGet");
        check(cuDeviceCanAccessPeer(&can, dev1, dev0), "cuDeviceCanAccessPeer");
        need(can == 1, "H100s cannot access each other");
        check(cuCtxEnablePeerAccess(c0, 0), "cuCtxEnablePeerAccess");
        expect(cuCtxEnablePeerAccess(c0, 0), CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED,
               "cuCtxEnablePeerAccess again");
        check(cuCtxDisablePeerAccess(c0), "cuCtxDisablePeerAccess");
        expect(cuCtxDisablePeerAccess(c0), CUDA_ERROR_PEER_ACCESS_NOT_ENABLED,
               "cuCtxDisablePeerAccess again");
    }
    check(cuMemcpyPeer(a1, c1, a0, c0, N), "cuMemcpyPeer");
    check(cuMemcpyDtoH(back, a1, N), "cuMemcpyDtoH");
    need(memcmp(h, back, N) == 0, "cuMemcpyPeer: bytes differ");
    CUstream s;
    check(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
    check(cuMemsetD8(a1, 0, N), "cuMemsetD8");
    check(cuMemcpyPeerAsync(a1 + 4096, c1, a0, c0, N / 2, s), "cuMemcpyPeerAsync");
    check(cuStreamSynchronize(s), "cuStreamSynchronize");
    check(cuMemcpyDtoH(back, a1, N), "cuMemcpyDtoH");
    need(back[4095] == 0 && memcmp(back + 4096, h, N / 2) == 0 && back[4096 + N / 2] == 0,
         "cuMemcpyPeerAsync: bytes differ");
    printf("peer_ok=1\n");

    /* 2D memsets, synchronous and on a stream, each element size; padding stays 0x5a. */
    const size_t pitch = 512, w = 100, rows = 64;
    struct {
        int es, async;
        uint32_t v;
    } sets[] = {{1, 0, 0xab}, {2, 0, 0xbeef}, {4, 0, 0xdeadbeef},
                {1, 1, 0x17}, {2, 1, 0x1234}, {4, 1, 0x89abcdef}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        CUresult r;
        check(cuMemsetD8(a1, 0x5a, pitch * rows), "cuMemsetD8");
        size_t we = w * 4 / sets[i].es; /* 400 bytes a row */
        if (sets[i].es == 1)
            r = sets[i].async ? cuMemsetD2D8Async(a1, pitch, (unsigned char)sets[i].v, we, rows, s)
                              : cuMemsetD2D8(a1, pitch, (unsigned char)sets[i].v, we, rows);
        else if (sets[i].es == 2)
            r = sets[i].async
                    ? cuMemsetD2D16Async(a1, pitch, (unsigned short)sets[i].v, we, rows, s)
                    : cuMemsetD2D16(a1, pitch, (unsigned short)sets[i].v, we, rows);
        else
            r = sets[i].async ? cuMemsetD2D32Async(a1, pitch, sets[i].v, we, rows, s)
                              : cuMemsetD2D32(a1, pitch, sets[i].v, we, rows);
        check(r, "cuMemsetD2D*");
        check(cuStreamSynchronize(s), "cuStreamSynchronize");
        check(cuMemcpyDtoH(back, a1, pitch * rows), "cuMemcpyDtoH");
        check_rows(back, pitch, we, rows, (size_t)sets[i].es, sets[i].v, "cuMemsetD2D");
    }
    expect(cuMemsetD2D32(a1, 100, 0, 100, 2), CUDA_ERROR_INVALID_VALUE, "pitch below the row");
    printf("memset2d_ok=1\n");

    /* Pointer attributes, several at once; a foreign pointer reads as zeros, not an error. */
    CUpointer_attribute at[3] = {CU_POINTER_ATTRIBUTE_CONTEXT, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
                                 CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL};
    CUcontext pc = NULL;
    unsigned int mt = 0;
    int ord = -1;
    void *vals[3] = {&pc, &mt, &ord};
    check(cuPointerGetAttributes(3, at, vals, a0 + 10), "cuPointerGetAttributes");
    need(pc == c0 && mt == CU_MEMORYTYPE_DEVICE && ord == 0, "cuPointerGetAttributes values");
    check(cuPointerGetAttributes(3, at, vals, (CUdeviceptr)(uintptr_t)h), "foreign pointer");
    need(pc == NULL && mt == 0, "foreign pointer attributes not cleared");

    /* Cache and bank configuration: recorded and read back. */
    CUfunc_cache cc;
    check(cuCtxSetCacheConfig(CU_FUNC_CACHE_PREFER_L1), "cuCtxSetCacheConfig");
    check(cuCtxGetCacheConfig(&cc), "cuCtxGetCacheConfig");
    need(cc == CU_FUNC_CACHE_PREFER_L1, "cache config not kept");
    CUfunction spin = spin_function();
    check(cuFuncSetCacheConfig(spin, CU_FUNC_CACHE_PREFER_SHARED), "cuFuncSetCacheConfig");

    /* Pool access from another device. */
    if (d1 != 0) {
        CUmemoryPool pool;
        CUdevice dev0;
        check(cuDeviceGet(&dev0, 0), "cuDeviceGet");
        check(cuDeviceGetDefaultMemPool(&pool, dev0), "cuDeviceGetDefaultMemPool");
        CUmemLocation loc = {CU_MEM_LOCATION_TYPE_DEVICE, 1};
        CUmemAccess_flags fl;
        check(cuMemPoolGetAccess(&fl, pool, &loc), "cuMemPoolGetAccess");
        need(fl == CU_MEM_ACCESS_FLAGS_PROT_NONE, "peer access to a pool before SetAccess");
        CUmemAccessDesc desc = {loc, CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
        check(cuMemPoolSetAccess(pool, &desc, 1), "cuMemPoolSetAccess");
        check(cuMemPoolGetAccess(&fl, pool, &loc), "cuMemPoolGetAccess");
        need(fl == CU_MEM_ACCESS_FLAGS_PROT_READWRITE, "pool access not granted");
        printf("pool_access_ok=1\n");
    }

    /* The linker joins PTX into an image cuModuleLoadData reads. */
    CUlinkState ls;
    check(cuLinkCreate(0, NULL, NULL, &ls), "cuLinkCreate");
    check(cuLinkAddData(ls, CU_JIT_INPUT_PTX, (void *)ptx, sizeof ptx, "spin.ptx", 0, NULL, NULL),
          "cuLinkAddData");
    void *img = NULL;
    size_t img_size = 0;
    check(cuLinkComplete(ls, &img, &img_size), "cuLinkComplete");
    CUmodule lm;
    CUfunction lf;
    check(cuModuleLoadData(&lm, img), "cuModuleLoadData (linked)");
    check(cuModuleGetFunction(&lf, lm, "spin"), "cuModuleGetFunction (linked)");
    expect(cuModuleGetFunction(&lf, lm, "nope"), CUDA_ERROR_NOT_FOUND, "a name not linked");
    check(cuLinkDestroy(ls), "cuLinkDestroy");
    printf("link_ok=1\n");

    /* Not simulated: refused, not crashed. */
    CUipcMemHandle ipc;
    expect(cuIpcGetMemHandle(&ipc, a0), CUDA_ERROR_NOT_SUPPORTED, "cuIpcGetMemHandle");
    CUgraph g, clone;
    check(cuGraphCreate(&g, 0), "cuGraphCreate");
    expect(cuGraphClone(&clone, g), CUDA_ERROR_NOT_SUPPORTED, "cuGraphClone (a stub)");
    check(cuGraphDestroy(g), "cuGraphDestroy");
    printf("refusals_ok=1\n");

    check(cuMemFree(a1), "cuMemFree");
    check(cuCtxSetCurrent(c0), "cuCtxSetCurrent");
    check(cuMemFree(a0), "cuMemFree");
    check(cuCtxDestroy(c1), "cuCtxDestroy");
    check(cuCtxDestroy(c0), "cuCtxDestroy");
    free(h);
    free(back);
    return 0;
}

static int loop(double ms)
{
    check(cuInit(0), "cuInit");
    CUcontext ctx = ctx_on(0);
    CUfunction spin = spin_function();
    CUstream s;
    check(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
    CUgraph g;
    CUgraphNode k;
    check(cuGraphCreate(&g, 0), "cuGraphCreate");
    uint64_t ns = 200000;
    void *args[1];
    CUDA_KERNEL_NODE_PARAMS kp = spin_params(spin, &ns, args);
    check(cuGraphAddKernelNode(&k, g, NULL, 0, &kp), "cuGraphAddKernelNode");
    CUgraphExec exec;
    check(cuGraphInstantiate(&exec, g, 0), "cuGraphInstantiate");
    long launches = 0;
    double end = now_ms() + ms;
    while (now_ms() < end) {
        check(cuGraphLaunch(exec, s), "cuGraphLaunch");
        launches++;
    }
    check(cuStreamSynchronize(s), "cuStreamSynchronize");
    printf("launches=%ld\n", launches);
    check(cuGraphExecDestroy(exec), "cuGraphExecDestroy");
    check(cuGraphDestroy(g), "cuGraphDestroy");
    check(cuCtxDestroy(ctx), "cuCtxDestroy");
    return 0;
}

int main(int argc, char **argv)
{
    printf("cuda_h=%d\n", CUDA_VERSION);
    if (argc == 3 && strcmp(argv[1], "procaddr") == 0)
        return procaddr(argv[2]);
    if (argc == 2 && strcmp(argv[1], "graph") == 0)
        return graph();
    if (argc == 3 && strcmp(argv[1], "graph-oom") == 0)
        return graph_oom(strtoull(argv[2], NULL, 10));
    if (argc == 2 && strcmp(argv[1], "peer") == 0)
        return peer();
    if (argc == 3 && strcmp(argv[1], "loop") == 0)
        return loop(strtod(argv[2], NULL));
    fprintf(stderr,
            "usage: toolkit_graph procaddr FILE | graph | graph-oom MIB | peer | loop MS\n");
    return 2;
}
