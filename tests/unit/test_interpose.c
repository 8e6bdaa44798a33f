/*
 * Unit tests of the interposer (src/interpose) against a fake driver living in
 * this program: the hooks' objects are linked in, init is skipped (ready is
 * set by hand) and the "real" entry points are the fakes below, which record
 * what reached them. This covers what the simulator cannot show:
 * - a driver whose cuGetProcAddress hands out internal addresses (a real
 *   libcuda's do not match its exports): routed by base name, version and
 *   flags; and a driver with only the v1 cuGetProcAddress;
 * - every hooked variant forwarding to its own real counterpart; the
 *   arbiter's hook point;
 * - the accounting rules one by one (what counts, as how much, roll-back on
 *   driver failure, pitch correction, a refused top-up freeing, a failed free
 *   keeping its bytes, a recycled address, the private per-process bound,
 *   fail closed, uncounted frees passing through, memory-info clamping);
 * - the pointer table against a reference (growth, backward-shift deletion),
 *   and its per-thread tables (cross-thread frees, exited threads, adoption,
 *   spill to the global tables, fork, many threads at once).
 */
#define _GNU_SOURCE
#include "interpose/interpose.h"
#include "interpose/ptrtable.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define MiB ((uint64_t)1 << 20)

/* ---- the fake driver ---------------------------------------------------------------------- */

static const char *called; /* the last fake entry point reached */
static int calls;
static CUresult next_rc;                     /* what the next fake allocation/free returns */
static _Atomic uint64_t next_addr = 0x10000; /* threads allocate at once (cross-thread test) */
static uint64_t fixed_addr;                  /* non-zero: hand out this address */
static size_t fake_pitch;                    /* non-zero: the pitch cuMemAllocPitch reports */
static uint64_t fake_free_b = 80ULL << 30, fake_total_b = 80ULL << 30;

static CUresult hit(const char *name)
{
    called = name;
    calls++;
    CUresult rc = next_rc;
    next_rc = CUDA_SUCCESS;
    return rc;
}

static uint64_t addr(void)
{
    if (fixed_addr)
        return fixed_addr;
    return atomic_fetch_add(&next_addr, 0x100000) + 0x100000;
}

#define FAKE_ALLOC(fname, type)                                                                    \
    {                                                                                              \
        CUresult rc = hit(fname);                                                                  \
        if (rc == CUDA_SUCCESS)                                                                    \
            *out = (type)addr();                                                                   \
        return rc;                                                                                 \
    }

static CUresult f_alloc_v2(CUdeviceptr *out, size_t n)
{
    (void)n;
    FAKE_ALLOC("cuMemAlloc_v2", CUdeviceptr)
}
static CUresult f_alloc(CUdeviceptr_v1 *out, unsigned int n)
{
    (void)n;
    FAKE_ALLOC("cuMemAlloc", CUdeviceptr_v1)
}
static CUresult f_managed(CUdeviceptr *out, size_t n, unsigned int fl)
{
    (void)n, (void)fl;
    FAKE_ALLOC("cuMemAllocManaged", CUdeviceptr)
}
static CUresult f_pitch_v2(CUdeviceptr *out, size_t *pitch, size_t w, size_t h, unsigned e)
{
    (void)h, (void)e;
    *pitch = fake_pitch ? fake_pitch : (w + 511) / 512 * 512;
    FAKE_ALLOC("cuMemAllocPitch_v2", CUdeviceptr)
}
static CUresult f_async(CUdeviceptr *out, size_t n, CUstream s)
{
    (void)n, (void)s;
    FAKE_ALLOC("cuMemAllocAsync", CUdeviceptr)
}
static CUresult f_async_ptsz(CUdeviceptr *out, size_t n, CUstream s)
{
    (void)n, (void)s;
    FAKE_ALLOC("cuMemAllocAsync_ptsz", CUdeviceptr)
}
static CUresult f_pool_alloc(CUdeviceptr *out, size_t n, CUmemoryPool p, CUstream s)
{
    (void)n, (void)p, (void)s;
    FAKE_ALLOC("cuMemAllocFromPoolAsync", CUdeviceptr)
}
static CUresult f_create(CUmemGenericAllocationHandle *out, size_t n, const CUmemAllocationProp *p,
                         unsigned long long fl)
{
    (void)n, (void)p, (void)fl;
    FAKE_ALLOC("cuMemCreate", CUmemGenericAllocationHandle)
}
static CUresult f_array_v2(CUarray *out, const CUDA_ARRAY_DESCRIPTOR *d)
{
    (void)d;
    FAKE_ALLOC("cuArrayCreate_v2", CUarray)
}
static CUresult f_array3d_v2(CUarray *out, const CUDA_ARRAY3D_DESCRIPTOR *d)
{
    (void)d;
    FAKE_ALLOC("cuArray3DCreate_v2", CUarray)
}
static CUresult f_mipmap(CUmipmappedArray *out, const CUDA_ARRAY3D_DESCRIPTOR *d, unsigned l)
{
    (void)d, (void)l;
    FAKE_ALLOC("cuMipmappedArrayCreate", CUmipmappedArray)
}
static CUresult f_import(CUexternalMemory *out, const CUDA_EXTERNAL_MEMORY_HANDLE_DESC *d)
{
    (void)d;
    FAKE_ALLOC("cuImportExternalMemory", CUexternalMemory)
}
static CUresult f_pool_create(CUmemoryPool *out, const CUmemPoolProps *p)
{
    (void)p;
    FAKE_ALLOC("cuMemPoolCreate", CUmemoryPool)
}
static CUresult f_free_v2(CUdeviceptr d)
{
    (void)d;
    return hit("cuMemFree_v2");
}
static CUresult f_free(CUdeviceptr_v1 d)
{
    (void)d;
    return hit("cuMemFree");
}
static CUresult f_begin_capture(CUstream s, CUstreamCaptureMode m)
{
    (void)s, (void)m;
    return hit("cuStreamBeginCapture_v2");
}
static CUresult f_begin_capture_ptsz(CUstream s, CUstreamCaptureMode m)
{
    (void)s, (void)m;
    return hit("cuStreamBeginCapture_v2_ptsz");
}
static CUresult f_end_capture(CUstream s, CUgraph *g)
{
    (void)s, (void)g;
    return hit("cuStreamEndCapture");
}
static CUresult f_free_async(CUdeviceptr d, CUstream s)
{
    (void)d, (void)s;
    return hit("cuMemFreeAsync");
}
static CUresult f_release(CUmemGenericAllocationHandle h)
{
    (void)h;
    return hit("cuMemRelease");
}
static CUresult f_array_destroy(CUarray a)
{
    (void)a;
    return hit("cuArrayDestroy");
}
static CUresult f_mipmap_destroy(CUmipmappedArray a)
{
    (void)a;
    return hit("cuMipmappedArrayDestroy");
}
static CUresult f_destroy_ext(CUexternalMemory e)
{
    (void)e;
    return hit("cuDestroyExternalMemory");
}
static CUresult f_pool_destroy(CUmemoryPool p)
{
    (void)p;
    return hit("cuMemPoolDestroy");
}
static CUresult f_total_v2(size_t *b, CUdevice dev)
{
    (void)dev;
    CUresult rc = hit("cuDeviceTotalMem_v2");
    if (!b)
        return CUDA_ERROR_INVALID_VALUE;
    *b = fake_total_b;
    return rc;
}
static CUresult f_total(unsigned int *b, CUdevice dev)
{
    (void)dev;
    CUresult rc = hit("cuDeviceTotalMem");
    if (!b)
        return CUDA_ERROR_INVALID_VALUE;
    *b = fake_total_b > 0xffffffffULL ? 0xffffffffU : (unsigned int)fake_total_b;
    return rc;
}
static CUresult f_meminfo_v2(size_t *f, size_t *t)
{
    CUresult rc = hit("cuMemGetInfo_v2");
    if (!f || !t)
        return CUDA_ERROR_INVALID_VALUE;
    *f = fake_free_b;
    *t = fake_total_b;
    return rc;
}

#define LAUNCH_PARAMS                                                                              \
    CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,    \
        unsigned sm, CUstream s, void **p, void **e
#define COOP_PARAMS                                                                                \
    CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,    \
        unsigned sm, CUstream s, void **p
#define UNUSED_LAUNCH (void)f, (void)gx, (void)gy, (void)gz, (void)bx, (void)by, (void)bz, (void)sm
static CUresult f_launch(LAUNCH_PARAMS)
{
    UNUSED_LAUNCH, (void)s, (void)p, (void)e;
    return hit("cuLaunchKernel");
}
static CUresult f_launch_ptsz(LAUNCH_PARAMS)
{
    UNUSED_LAUNCH, (void)s, (void)p, (void)e;
    return hit("cuLaunchKernel_ptsz");
}
static CUresult f_coop(COOP_PARAMS)
{
    UNUSED_LAUNCH, (void)s, (void)p;
    return hit("cuLaunchCooperativeKernel");
}
static CUresult f_coop_ptsz(COOP_PARAMS)
{
    UNUSED_LAUNCH, (void)s, (void)p;
    return hit("cuLaunchCooperativeKernel_ptsz");
}
static CUresult f_launch_ex(const CUlaunchConfig *c, CUfunction f, void **p, void **e)
{
    (void)c, (void)f, (void)p, (void)e;
    return hit("cuLaunchKernelEx");
}
static CUresult f_launch_ex_ptsz(const CUlaunchConfig *c, CUfunction f, void **p, void **e)
{
    (void)c, (void)f, (void)p, (void)e;
    return hit("cuLaunchKernelEx_ptsz");
}
static CUresult f_graph(CUgraphExec g, CUstream s)
{
    (void)g, (void)s;
    return hit("cuGraphLaunch");
}
static CUresult f_graph_ptsz(CUgraphExec g, CUstream s)
{
    (void)g, (void)s;
    return hit("cuGraphLaunch_ptsz");
}

/*
 * The fake cuGetProcAddress. `internal` = 0: it hands out the same addresses
 * the interposer resolved as the driver's exports; 1: other addresses (as a
 * real libcuda does), so the interposer must route by name.
 */
static int internal;
static CUresult internal_fn(void)
{
    return hit("internal");
}

static const struct {
    const char *base;
    int since;
    int pt;
    void *fn;
} procs[] = {
    {"cuMemAlloc", 2000, 0, (void *)f_alloc},
    {"cuMemAlloc", 3020, 0, (void *)f_alloc_v2},
    {"cuMemFree", 2000, 0, (void *)f_free},
    {"cuMemFree", 3020, 0, (void *)f_free_v2},
    {"cuMemAllocAsync", 11020, 0, (void *)f_async},
    {"cuMemAllocAsync", 11020, 1, (void *)f_async_ptsz},
    {"cuLaunchKernel", 4000, 0, (void *)f_launch},
    {"cuLaunchKernel", 7000, 1, (void *)f_launch_ptsz},
    {"cuGraphLaunch", 10000, 0, (void *)f_graph},
    {"cuGraphLaunch", 10000, 1, (void *)f_graph_ptsz},
    {"cuCtxSynchronize", 2000, 0, (void *)internal_fn},
    {"cuDeviceTotalMem", 2000, 0, (void *)f_total},
    {"cuDeviceTotalMem", 3020, 0, (void *)f_total_v2},
};

static CUresult f_gpa_v2(const char *sym, void **pfn, int ver, cuuint64_t flags,
                         CUdriverProcAddressQueryResult *st)
{
    const int want_pt = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
    int best = -1, known = 0;
    for (int i = 0; i < (int)(sizeof procs / sizeof procs[0]); i++) {
        if (strcmp(procs[i].base, sym) != 0)
            continue;
        known = 1;
        if (procs[i].since > ver || (procs[i].pt && !want_pt))
            continue;
        if (best < 0 || procs[i].since > procs[best].since ||
            (procs[i].since == procs[best].since && procs[i].pt))
            best = i;
    }
    if (best < 0) {
        if (st)
            *st = known ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT
                        : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
        *pfn = NULL;
        return CUDA_ERROR_NOT_FOUND;
    }
    *pfn = internal && procs[best].fn != (void *)internal_fn ? (void *)internal_fn : procs[best].fn;
    if (st)
        *st = CU_GET_PROC_ADDRESS_SUCCESS;
    return CUDA_SUCCESS;
}

static CUresult f_gpa(const char *sym, void **pfn, int ver, cuuint64_t flags)
{
    return f_gpa_v2(sym, pfn, ver, flags, NULL);
}

static void install_fakes(void)
{
    struct gpx_ip_real *r = &gpx__ip.real;
    memset(r, 0, sizeof *r);
    r->cuGetProcAddress = f_gpa;
    r->cuGetProcAddress_v2 = f_gpa_v2;
    r->cuMemGetInfo_v2 = f_meminfo_v2;
    r->cuDeviceTotalMem = f_total;
    r->cuDeviceTotalMem_v2 = f_total_v2;
    r->cuMemAlloc = f_alloc;
    r->cuMemAlloc_v2 = f_alloc_v2;
    r->cuMemAllocPitch_v2 = f_pitch_v2;
    r->cuMemAllocManaged = f_managed;
    r->cuMemFree = f_free;
    r->cuMemFree_v2 = f_free_v2;
    r->cuMemCreate = f_create;
    r->cuMemRelease = f_release;
    r->cuMemAllocAsync = f_async;
    r->cuMemAllocAsync_ptsz = f_async_ptsz;
    r->cuMemAllocFromPoolAsync = f_pool_alloc;
    r->cuMemFreeAsync = f_free_async;
    r->cuStreamBeginCapture_v2 = f_begin_capture;
    r->cuStreamBeginCapture_v2_ptsz = f_begin_capture_ptsz;
    r->cuStreamEndCapture = f_end_capture;
    r->cuMemPoolCreate = f_pool_create;
    r->cuMemPoolDestroy = f_pool_destroy;
    r->cuArrayCreate_v2 = f_array_v2;
    r->cuArray3DCreate_v2 = f_array3d_v2;
    r->cuArrayDestroy = f_array_destroy;
    r->cuMipmappedArrayCreate = f_mipmap;
    r->cuMipmappedArrayDestroy = f_mipmap_destroy;
    r->cuImportExternalMemory = f_import;
    r->cuDestroyExternalMemory = f_destroy_ext;
    r->cuLaunchKernel = f_launch;
    r->cuLaunchKernel_ptsz = f_launch_ptsz;
    r->cuLaunchKernelEx = f_launch_ex;
    r->cuLaunchKernelEx_ptsz = f_launch_ex_ptsz;
    r->cuLaunchCooperativeKernel = f_coop;
    r->cuLaunchCooperativeKernel_ptsz = f_coop_ptsz;
    r->cuGraphLaunch = f_graph;
    r->cuGraphLaunch_ptsz = f_graph_ptsz;
    gpx__ip.have_cuda = 1;
    atomic_store(&gpx__ip.ready, 1); /* init never runs: no libcuda is opened */
}

/* ---- a lease region in a temporary run dir ------------------------------------------------ */

static char run_dir[256];
static struct gpx_lease_region region; /* the test's own view, as another process has it */

static void lease_mode(uint64_t quota)
{
    static int n;
    gpx_error err;
    struct gpx_lease_limits l = {.mode = GPX_MODE_VGPU, .weight = 1, .memory_quota = quota};
    snprintf(l.id, sizeof l.id, "l-unit%06d", n++);
    assert_int_equal(gpx_lease_region_create(run_dir, &l, &err), 0);
    assert_int_equal(gpx_lease_region_open(run_dir, l.id, &region, &err), 0);
    struct gpx_lease_region mine;
    assert_int_equal(gpx_lease_region_open(run_dir, l.id, &mine, &err), 0);
    gpx__ip.limits = *mine.limits;
    gpx__ip.region.usage = mine.usage;
    gpx__ip.region.limits = &gpx__ip.limits;
    gpx__ip.quota = quota;
    gpx__ip_local_reset();
    gpx__ip.slot = gpx_lease_attach(&gpx__ip.region, (int32_t)getpid());
    assert_non_null(gpx__ip.slot);
    gpx__ip_cells_init(); /* threads' credit cells, as open_lease gives them */
    gpx__ip.mode = GPX_IP_ENFORCE;
}

static uint64_t used(void)
{
    return gpx_lease_used(region.usage); /* allocated: the shared total less the credits */
}

static int setup(void **state)
{
    (void)state;
    install_fakes();
    gpx__ip.mode = GPX_IP_PASS;
    gpx__submit_enter = NULL;
    gpx__submit_exit = NULL;
    called = NULL;
    calls = 0;
    next_rc = CUDA_SUCCESS;
    fixed_addr = 0;
    fake_pitch = 0;
    return 0;
}

/* ---- cuGetProcAddress ---------------------------------------------------------------------- */

static void *gpa2(const char *sym, int ver, cuuint64_t flags, CUdriverProcAddressQueryResult *st)
{
    void *p = NULL;
    CUresult rc = cuGetProcAddress_v2(sym, &p, ver, flags, st);
    return rc == CUDA_SUCCESS ? p : NULL;
}

static void check_routes(void)
{
    CUdriverProcAddressQueryResult st;
    const cuuint64_t PT = CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
    assert_ptr_equal(gpa2("cuMemAlloc", 12000, 0, &st), (void *)cuMemAlloc_v2);
    assert_int_equal(st, CU_GET_PROC_ADDRESS_SUCCESS);
    assert_ptr_equal(gpa2("cuMemAlloc", 3000, 0, &st), (void *)cuMemAlloc);
    assert_ptr_equal(gpa2("cuMemFree", 11000, 0, &st), (void *)cuMemFree_v2);
    assert_ptr_equal(gpa2("cuMemAllocAsync", 12000, PT, &st), (void *)cuMemAllocAsync_ptsz);
    assert_ptr_equal(gpa2("cuMemAllocAsync", 12000, 0, &st), (void *)cuMemAllocAsync);
    assert_ptr_equal(gpa2("cuLaunchKernel", 12000, PT, &st), (void *)cuLaunchKernel_ptsz);
    assert_ptr_equal(gpa2("cuLaunchKernel", 12000, CU_GET_PROC_ADDRESS_LEGACY_STREAM, &st),
                     (void *)cuLaunchKernel);
    assert_ptr_equal(gpa2("cuGraphLaunch", 12000, PT, &st), (void *)cuGraphLaunch_ptsz);
    assert_ptr_equal(gpa2("cuDeviceTotalMem", 12000, 0, &st), (void *)cuDeviceTotalMem_v2);
    assert_ptr_equal(gpa2("cuDeviceTotalMem", 3000, PT, &st), (void *)cuDeviceTotalMem);
    /* Not hooked: the driver's answer, untouched. */
    assert_ptr_equal(gpa2("cuCtxSynchronize", 12000, 0, &st), (void *)internal_fn);
    /* The driver's status for what it refuses. */
    assert_null(gpa2("cuMemAllocAsync", 11000, 0, &st));
    assert_int_equal(st, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
    assert_null(gpa2("cuNoSuchThing", 12000, 0, &st));
    assert_int_equal(st, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
    /* The v1 signature routes the same way. */
    void *p = NULL;
    assert_int_equal(cuGetProcAddress("cuMemAlloc", &p, 12000, 0), CUDA_SUCCESS);
    assert_ptr_equal(p, (void *)cuMemAlloc_v2);
    assert_int_equal(cuGetProcAddress("cuLaunchKernel", &p, 12000, PT), CUDA_SUCCESS);
    assert_ptr_equal(p, (void *)cuLaunchKernel_ptsz);
}

static void test_procaddr_exports(void **state)
{
    (void)state;
    internal = 0;
    check_routes();
}

static void test_procaddr_internal_addresses(void **state)
{
    (void)state;
    internal = 1; /* the driver hands out addresses that are none of its exports */
    check_routes();
    /* ...and the hook reached that way calls the exported variant it stands for. */
    CUdeviceptr d;
    gpx_cuMemAlloc_v2_fn a =
        (gpx_cuMemAlloc_v2_fn)gpa2("cuMemAlloc", 12000, 0, &(CUdriverProcAddressQueryResult){0});
    assert_int_equal(a(&d, 64), CUDA_SUCCESS);
    assert_string_equal(called, "cuMemAlloc_v2");
    internal = 0;
}

static void test_procaddr_v1_only_driver(void **state)
{
    (void)state;
    gpx__ip.real.cuGetProcAddress_v2 = NULL;
    CUdriverProcAddressQueryResult st = (CUdriverProcAddressQueryResult)7;
    assert_ptr_equal(gpa2("cuMemAlloc", 12000, 0, &st), (void *)cuMemAlloc_v2);
    assert_int_equal(st, CU_GET_PROC_ADDRESS_SUCCESS);
    assert_null(gpa2("cuNoSuchThing", 12000, 0, &st));
    assert_int_equal(st, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
}

/* ---- dlsym --------------------------------------------------------------------------------- */

static void test_dlsym(void **state)
{
    (void)state;
    assert_ptr_equal(dlsym(RTLD_DEFAULT, "cuMemAlloc_v2"), (void *)cuMemAlloc_v2);
    assert_ptr_equal(dlsym(RTLD_NEXT, "cuLaunchKernel_ptsz"), (void *)cuLaunchKernel_ptsz);
    assert_ptr_equal(dlsym(RTLD_DEFAULT, "nvmlDeviceGetMemoryInfo_v2"),
                     (void *)nvmlDeviceGetMemoryInfo_v2);
    /* Not ours: the C library answers, RTLD_NEXT relative to this program. */
    assert_non_null(dlsym(RTLD_NEXT, "malloc"));
    assert_null(dlsym(RTLD_DEFAULT, "cuNotAnEntryPoint"));
    assert_non_null(dlerror());
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(libc);
    /* A cu* name on a library that is not the driver is not rerouted. */
    assert_null(dlsym(libc, "cuMemAlloc_v2"));
    assert_non_null(dlsym(libc, "strlen"));
}

/* ---- forwarding ---------------------------------------------------------------------------- */

static unsigned submits, submits_done;
static void count_submit(void)
{
    assert_int_equal(submits, submits_done); /* enter and exit bracket each call */
    submits++;
}
static void count_done(void)
{
    submits_done++;
}

static void test_variants_forward_to_their_own(void **state)
{
    (void)state;
    CUstream s = (CUstream)0x1234;
    CUlaunchConfig cfg = {.hStream = s};
#define LAUNCH_ARGS NULL, 1, 1, 1, 1, 1, 1, 0, s, NULL
    assert_int_equal(cuLaunchKernel(LAUNCH_ARGS, NULL), CUDA_SUCCESS);
    assert_string_equal(called, "cuLaunchKernel");
    cuLaunchKernel_ptsz(LAUNCH_ARGS, NULL);
    assert_string_equal(called, "cuLaunchKernel_ptsz");
    cuLaunchCooperativeKernel(LAUNCH_ARGS);
    assert_string_equal(called, "cuLaunchCooperativeKernel");
    cuLaunchCooperativeKernel_ptsz(LAUNCH_ARGS);
    assert_string_equal(called, "cuLaunchCooperativeKernel_ptsz");
    cuLaunchKernelEx(&cfg, NULL, NULL, NULL);
    assert_string_equal(called, "cuLaunchKernelEx");
    cuLaunchKernelEx_ptsz(&cfg, NULL, NULL, NULL);
    assert_string_equal(called, "cuLaunchKernelEx_ptsz");
    cuGraphLaunch(NULL, s);
    assert_string_equal(called, "cuGraphLaunch");
    cuGraphLaunch_ptsz(NULL, s);
    assert_string_equal(called, "cuGraphLaunch_ptsz");
    CUdeviceptr d;
    CUdeviceptr_v1 d1;
    cuMemAlloc(&d1, 64);
    assert_string_equal(called, "cuMemAlloc");
    cuMemAlloc_v2(&d, 64);
    assert_string_equal(called, "cuMemAlloc_v2");
    cuMemFree(d1);
    assert_string_equal(called, "cuMemFree");
    cuMemFree_v2(d);
    assert_string_equal(called, "cuMemFree_v2");
    cuMemAllocAsync_ptsz(&d, 64, s);
    assert_string_equal(called, "cuMemAllocAsync_ptsz");
    /* A missing entry point is an error, not a crash. */
    gpx__ip.real.cuMemAllocFromPoolAsync_ptsz = NULL;
    assert_int_equal(cuMemAllocFromPoolAsync_ptsz(&d, 64, NULL, s), CUDA_ERROR_NOT_SUPPORTED);

    /* The time-slice hooks bracket every submission. */
    submits = submits_done = 0;
    gpx__submit_exit = count_done;
    gpx__submit_enter = count_submit;
    cuLaunchKernel(LAUNCH_ARGS, NULL);
    cuLaunchKernel_ptsz(LAUNCH_ARGS, NULL);
    cuLaunchCooperativeKernel(LAUNCH_ARGS);
    cuLaunchCooperativeKernel_ptsz(LAUNCH_ARGS);
    cuLaunchKernelEx(&cfg, NULL, NULL, NULL);
    cuLaunchKernelEx_ptsz(&cfg, NULL, NULL, NULL);
    cuGraphLaunch(NULL, s);
    cuGraphLaunch_ptsz(NULL, s);
    gpx__submit_enter = NULL;
    gpx__submit_exit = NULL;
    assert_int_equal(submits, 8);
    assert_int_equal(submits_done, 8);
#undef LAUNCH_ARGS
}

/* ---- accounting ---------------------------------------------------------------------------- */

static void test_counted_sizes(void **state)
{
    (void)state;
    lease_mode(256 * MiB);
    CUdeviceptr d;
    assert_int_equal(cuMemAlloc_v2(&d, 3 * MiB), CUDA_SUCCESS);
    assert_int_equal(used(), 3 * MiB);
    assert_int_equal(cuMemFree_v2(d), CUDA_SUCCESS);
    assert_int_equal(used(), 0);

    /* Pitched: pitch x height as the driver returns it, both directions from the guess. */
    size_t pitch;
    fake_pitch = 4096;
    assert_int_equal(cuMemAllocPitch_v2(&d, &pitch, 1000, 100, 4), CUDA_SUCCESS);
    assert_int_equal(used(), 4096 * 100);
    cuMemFree_v2(d);
    fake_pitch = 1000;
    assert_int_equal(cuMemAllocPitch_v2(&d, &pitch, 1000, 100, 4), CUDA_SUCCESS);
    assert_int_equal(used(), 1000 * 100);
    cuMemFree_v2(d);
    assert_int_equal(used(), 0);

    /* Arrays from the descriptor, before the driver: format sizes, channels, layers, levels. */
    CUarray a;
    CUDA_ARRAY_DESCRIPTOR d2 = {
        .Width = 100, .Height = 10, .Format = CU_AD_FORMAT_HALF, .NumChannels = 4};
    assert_int_equal(cuArrayCreate_v2(&a, &d2), CUDA_SUCCESS);
    assert_int_equal(used(), 100 * 10 * 2 * 4);
    cuArrayDestroy(a);
    CUDA_ARRAY3D_DESCRIPTOR nv12 = {
        .Width = 64, .Height = 64, .Format = CU_AD_FORMAT_NV12, .NumChannels = 3};
    assert_int_equal(cuArray3DCreate_v2(&a, &nv12), CUDA_SUCCESS);
    assert_int_equal(used(), 64 * 64 * 3 / 2);
    cuArrayDestroy(a);
    CUDA_ARRAY3D_DESCRIPTOR odd = {
        .Width = 16, .Height = 16, .Format = (CUarray_format)0x99, .NumChannels = 1};
    assert_int_equal(cuArray3DCreate_v2(&a, &odd), CUDA_SUCCESS);
    assert_int_equal(used(), 16 * 16 * 16); /* unknown format: 16 bytes a texel */
    cuArrayDestroy(a);
    CUmipmappedArray m;
    CUDA_ARRAY3D_DESCRIPTOR cube = {.Width = 64,
                                    .Height = 64,
                                    .Depth = 6,
                                    .Format = CU_AD_FORMAT_FLOAT,
                                    .NumChannels = 1,
                                    .Flags = CUDA_ARRAY3D_CUBEMAP};
    assert_int_equal(cuMipmappedArrayCreate(&m, &cube, 7), CUDA_SUCCESS);
    /* 64,32,16,8,4,2,1 squared, 6 faces each, 4 bytes */
    assert_int_equal(used(), (64 * 64 + 32 * 32 + 16 * 16 + 8 * 8 + 16 + 4 + 1) * 6 * 4);
    cuMipmappedArrayDestroy(m);
    CUDA_ARRAY3D_DESCRIPTOR vol = {.Width = 8,
                                   .Height = 8,
                                   .Depth = 8,
                                   .Format = CU_AD_FORMAT_UNSIGNED_INT8,
                                   .NumChannels = 2};
    assert_int_equal(cuMipmappedArrayCreate(&m, &vol, 10), CUDA_SUCCESS);
    /* 8^3, 4^3, 2^3, then 1 for every level after */
    assert_int_equal(used(), (512 + 64 + 8 + 7) * 2);
    cuMipmappedArrayDestroy(m);
    assert_int_equal(used(), 0);

    /* VMM by location; external memory by size; pools by allocation, host pools not. */
    CUmemGenericAllocationHandle h;
    CUmemAllocationProp dev = {.location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 3}};
    CUmemAllocationProp host = {.location = {.type = CU_MEM_LOCATION_TYPE_HOST_NUMA, .id = 0}};
    assert_int_equal(cuMemCreate(&h, 2 * MiB, &dev, 0), CUDA_SUCCESS);
    assert_int_equal(used(), 2 * MiB);
    cuMemRelease(h);
    assert_int_equal(cuMemCreate(&h, 2 * MiB, &host, 0), CUDA_SUCCESS);
    assert_int_equal(used(), 0);
    calls = 0;
    cuMemRelease(h); /* not counted: straight through */
    assert_int_equal(calls, 1);
    CUexternalMemory e;
    CUDA_EXTERNAL_MEMORY_HANDLE_DESC ed = {.size = 5 * MiB};
    assert_int_equal(cuImportExternalMemory(&e, &ed), CUDA_SUCCESS);
    assert_int_equal(used(), 5 * MiB);
    cuDestroyExternalMemory(e);
    CUmemoryPool hp;
    CUmemPoolProps hprops = {.location = {.type = CU_MEM_LOCATION_TYPE_HOST}};
    assert_int_equal(cuMemPoolCreate(&hp, &hprops), CUDA_SUCCESS);
    assert_int_equal(cuMemAllocFromPoolAsync(&d, 4 * MiB, hp, NULL), CUDA_SUCCESS);
    assert_int_equal(used(), 0);
    cuMemFreeAsync(d, NULL);
    cuMemPoolDestroy(hp);
    assert_int_equal(cuMemAllocFromPoolAsync(&d, 4 * MiB, (CUmemoryPool)0x77, NULL), CUDA_SUCCESS);
    assert_int_equal(used(), 4 * MiB);
    cuMemFreeAsync(d, NULL);
    assert_int_equal(used(), 0);
    assert_int_equal(gpx__pt_count(), 0);
}

static void test_refusals_and_rollbacks(void **state)
{
    (void)state;
    lease_mode(64 * MiB);
    CUdeviceptr d, big;
    /* Past the quota: refused, and the driver never called. */
    calls = 0;
    assert_int_equal(cuMemAlloc_v2(&big, 64 * MiB + 1), CUDA_ERROR_OUT_OF_MEMORY);
    CUDA_ARRAY_DESCRIPTOR huge = {
        .Width = 1 << 16, .Height = 1 << 16, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 4};
    CUarray a;
    assert_int_equal(cuArrayCreate_v2(&a, &huge), CUDA_ERROR_OUT_OF_MEMORY);
    CUDA_ARRAY3D_DESCRIPTOR overflow = {.Width = SIZE_MAX,
                                        .Height = SIZE_MAX,
                                        .Depth = 2,
                                        .Format = CU_AD_FORMAT_FLOAT,
                                        .NumChannels = 4};
    assert_int_equal(cuArray3DCreate_v2(&a, &overflow), CUDA_ERROR_OUT_OF_MEMORY);
    assert_int_equal(calls, 0);
    assert_int_equal(atomic_load(&region.usage->refused), 3);

    /* A driver failure gives the reservation back. */
    next_rc = CUDA_ERROR_INVALID_VALUE;
    assert_int_equal(cuMemAlloc_v2(&d, MiB), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(used(), 0);

    /* A pitch whose real size passes the quota: the allocation is freed and refused. */
    size_t pitch;
    fake_pitch = 1 << 20;
    assert_int_equal(cuMemAllocPitch_v2(&d, &pitch, 1000, 100, 4), CUDA_ERROR_OUT_OF_MEMORY);
    assert_string_equal(called, "cuMemFree_v2");
    assert_int_equal(used(), 0);
    fake_pitch = 0;

    /* A failed free keeps counting (and the object stays freeable). */
    assert_int_equal(cuMemAlloc_v2(&d, MiB), CUDA_SUCCESS);
    next_rc = CUDA_ERROR_ILLEGAL_STATE;
    assert_int_equal(cuMemFree_v2(d), CUDA_ERROR_ILLEGAL_STATE);
    assert_int_equal(used(), MiB);
    assert_int_equal(cuMemFree_v2(d), CUDA_SUCCESS);
    assert_int_equal(used(), 0);

    /* A free refused as no such object (the loser of a double free racing on two threads):
     * not recorded again, its bytes stay counted, so the address handed out again later is
     * counted in full, not less a stale record's bytes. */
    fixed_addr = 0x6660000;
    assert_int_equal(cuMemAlloc_v2(&d, MiB), CUDA_SUCCESS);
    next_rc = CUDA_ERROR_INVALID_VALUE;
    assert_int_equal(cuMemFree_v2(d), CUDA_ERROR_INVALID_VALUE);
    assert_false(gpx__pt_find(GPX_IP_KIND_DPTR, d, NULL));
    assert_int_equal(used(), MiB);
    assert_int_equal(cuMemAlloc_v2(&d, 2 * MiB), CUDA_SUCCESS);
    assert_int_equal(used(), 3 * MiB);
    assert_int_equal(cuMemFree_v2(d), CUDA_SUCCESS);
    fixed_addr = 0;
    assert_int_equal(used(), MiB);
    gpx__ip_release(MiB); /* the racing winner's share, in this one-thread replay */
    assert_int_equal(used(), 0);
    assert_int_equal(cuArrayCreate_v2(&a, &(CUDA_ARRAY_DESCRIPTOR){.Width = 256,
                                                                   .Height = 256,
                                                                   .Format = CU_AD_FORMAT_FLOAT,
                                                                   .NumChannels = 1}),
                     CUDA_SUCCESS);
    next_rc = CUDA_ERROR_INVALID_HANDLE;
    assert_int_equal(cuArrayDestroy(a), CUDA_ERROR_INVALID_HANDLE);
    assert_false(gpx__pt_find(GPX_IP_KIND_ARRAY, (uint64_t)(uintptr_t)a, NULL));
    assert_int_equal(used(), 256 * 256 * 4);
    gpx__ip_release(256 * 256 * 4);
    /* cuMemFreeAsync's refusal may be about its stream: the record goes back */
    assert_int_equal(cuMemAllocAsync(&d, MiB, NULL), CUDA_SUCCESS);
    next_rc = CUDA_ERROR_INVALID_HANDLE;
    assert_int_equal(cuMemFreeAsync(d, NULL), CUDA_ERROR_INVALID_HANDLE);
    assert_true(gpx__pt_find(GPX_IP_KIND_DPTR, d, NULL));
    assert_int_equal(used(), MiB);
    assert_int_equal(cuMemFreeAsync(d, NULL), CUDA_SUCCESS);
    assert_int_equal(used(), 0);

    /* What was never counted passes straight through and changes nothing. */
    calls = 0;
    assert_int_equal(cuMemFree_v2(0xabc000), CUDA_SUCCESS);
    assert_int_equal(calls, 1);
    assert_int_equal(used(), 0);

    /* An address handed out again (its object died unseen): counted once, not twice. */
    fixed_addr = 0x5550000;
    assert_int_equal(cuMemAlloc_v2(&d, 2 * MiB), CUDA_SUCCESS);
    assert_int_equal(cuMemAlloc_v2(&d, 3 * MiB), CUDA_SUCCESS);
    assert_int_equal(used(), 3 * MiB);
    cuMemFree_v2(d);
    fixed_addr = 0;
    assert_int_equal(used(), 0);

    /* The shared usage zeroed by a tenant: this process still stops at its quota. */
    assert_int_equal(cuMemAlloc_v2(&d, 60 * MiB), CUDA_SUCCESS);
    atomic_store(&region.usage->used, 0);
    assert_int_equal(cuMemAlloc_v2(&big, 8 * MiB), CUDA_ERROR_OUT_OF_MEMORY);
    cuMemFree_v2(d);
}

/* The credit in the cells of this process's slot, and how many are claimed. */
static uint64_t slot_cells(unsigned *claimed)
{
    uint64_t sum = 0;
    *claimed = 0;
    for (int k = 0; k < GPX_LEASE_CELLS; k++) {
        sum += atomic_load(&gpx__ip.slot->cells[k].credit);
        *claimed += atomic_load(&gpx__ip.slot->cells[k].owned) != 0;
    }
    return sum;
}

struct cc_hold {
    pthread_barrier_t *bar;
    int ok;
};

/* Allocates and frees 4 MiB (its cell keeps them), waits while the test looks, then exits. */
static void *cc_thread(void *p)
{
    struct cc_hold *h = p;
    CUdeviceptr d;
    h->ok = cuMemAlloc_v2(&d, 4 * MiB) == CUDA_SUCCESS && cuMemFree_v2(d) == CUDA_SUCCESS;
    pthread_barrier_wait(h->bar);
    pthread_barrier_wait(h->bar);
    return NULL;
}

/*
 * Threads' credit cells through the hooks: a thread's freed bytes stay in its cell, a reserve
 * of the whole quota by another holder takes them back while the thread lives, and a thread
 * that exits hands its cell (and what it holds) back to the slot.
 */
static void test_credit_cells(void **state)
{
    (void)state;
    const uint64_t quota = 64 * MiB;
    lease_mode(quota);
    unsigned claimed0, claimed;
    uint64_t cells0 = slot_cells(&claimed0);
    assert_int_equal(cells0, 0);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    struct cc_hold h = {&bar, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cc_thread, &h), 0);
    pthread_barrier_wait(&bar);
    assert_true(h.ok);
    assert_int_equal(slot_cells(&claimed), 4 * MiB);
    assert_int_equal(claimed, claimed0 + 1);
    assert_int_equal(used(), 0);
    /* another holder wants it all: the live thread's cell gives its bytes back */
    assert_int_equal(gpx_lease_reserve(&region, NULL, quota), 0);
    assert_int_equal(slot_cells(&claimed), 0);
    gpx_lease_unaccount(&region, NULL, quota);
    pthread_barrier_wait(&bar);
    assert_int_equal(pthread_join(th, NULL), 0);
    pthread_barrier_destroy(&bar);
    assert_int_equal(slot_cells(&claimed), 0);
    assert_int_equal(claimed, claimed0); /* handed back at its exit */

    /* again, exiting with its credit: the credit moves to the slot, nothing is lost */
    pthread_barrier_init(&bar, NULL, 2);
    assert_int_equal(pthread_create(&th, NULL, cc_thread, &h), 0);
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);
    assert_int_equal(pthread_join(th, NULL), 0);
    pthread_barrier_destroy(&bar);
    assert_int_equal(slot_cells(&claimed), 0);
    assert_int_equal(claimed, claimed0);
    assert_int_equal(atomic_load(&gpx__ip.slot->credit), 4 * MiB);
    assert_int_equal(used(), 0);
    /* this thread's own cell: an allocation short of its credit takes the rest from the slot */
    CUdeviceptr a, b;
    assert_int_equal(cuMemAlloc_v2(&a, 2 * MiB), CUDA_SUCCESS);
    assert_int_equal(cuMemFree_v2(a), CUDA_SUCCESS); /* 2 MiB in this thread's cell */
    assert_int_equal(cuMemAlloc_v2(&b, 5 * MiB), CUDA_SUCCESS);
    assert_int_equal(used(), 5 * MiB);
    assert_int_equal(atomic_load(&region.usage->used), 5 * MiB); /* nothing charged twice */
    assert_int_equal(cuMemFree_v2(b), CUDA_SUCCESS);
    assert_int_equal(used(), 0);
    assert_int_equal(gpx_lease_reserve(&region, NULL, quota), 0); /* the quota is whole */
    gpx_lease_unaccount(&region, NULL, quota);
}

static void test_meminfo(void **state)
{
    (void)state;
    lease_mode(64 * MiB);
    size_t f, t;
    assert_int_equal(cuMemGetInfo_v2(&f, &t), CUDA_SUCCESS);
    assert_int_equal(t, 64 * MiB);
    assert_int_equal(f, 64 * MiB);
    CUdeviceptr d;
    cuMemAlloc_v2(&d, 40 * MiB);
    cuMemGetInfo_v2(&f, &t);
    assert_int_equal(f, 24 * MiB);
    /* Less really free than the lease leaves: the real figure. */
    fake_free_b = 10 * MiB;
    cuMemGetInfo_v2(&f, &t);
    assert_int_equal(f, 10 * MiB);
    fake_free_b = 80ULL << 30;
    /* More used than the quota (as other processes may show): 0, never an underflow. */
    atomic_store(&region.usage->used, 100 * MiB);
    cuMemGetInfo_v2(&f, &t);
    assert_int_equal(f, 0);
    /* A GPU smaller than the quota: total is the GPU's. */
    fake_total_b = 32 * MiB;
    cuMemGetInfo_v2(&f, &t);
    assert_int_equal(t, 32 * MiB);
    fake_total_b = 80ULL << 30;
    /* NULL out-parameters: the driver's answer, untouched, no crash. */
    assert_int_equal(cuMemGetInfo_v2(NULL, &t), CUDA_ERROR_INVALID_VALUE);
    cuMemFree_v2(d);
}

/* cuDeviceTotalMem(_v2): min(quota, the driver's) under a quota; the driver's otherwise. */
static void test_device_size(void **state)
{
    (void)state;
    size_t b = 0;
    unsigned int u = 0;
    assert_int_equal(cuDeviceTotalMem_v2(&b, 0), CUDA_SUCCESS); /* no lease */
    assert_int_equal(b, 80ULL << 30);
    assert_int_equal(cuDeviceTotalMem(&u, 0), CUDA_SUCCESS);
    assert_int_equal(u, 0xffffffffU);
    lease_mode(64 * MiB);
    assert_int_equal(cuDeviceTotalMem_v2(&b, 0), CUDA_SUCCESS);
    assert_int_equal(b, 64 * MiB);
    assert_string_equal(called, "cuDeviceTotalMem_v2");
    assert_int_equal(cuDeviceTotalMem(&u, 0), CUDA_SUCCESS);
    assert_int_equal(u, 64 * MiB);
    assert_string_equal(called, "cuDeviceTotalMem");
    /* A device smaller than the quota (a MIG device, a small GPU): its own size. */
    fake_total_b = 32 * MiB;
    assert_int_equal(cuDeviceTotalMem_v2(&b, 0), CUDA_SUCCESS);
    assert_int_equal(b, 32 * MiB);
    fake_total_b = 80ULL << 30;
    /* The driver's errors pass, with nothing written. */
    assert_int_equal(cuDeviceTotalMem_v2(NULL, 0), CUDA_ERROR_INVALID_VALUE);
    /* A quota above 4 GiB: the 32-bit call stays saturated. */
    lease_mode(6ULL << 30);
    assert_int_equal(cuDeviceTotalMem(&u, 0), CUDA_SUCCESS);
    assert_int_equal(u, 0xffffffffU);
    assert_int_equal(cuDeviceTotalMem_v2(&b, 0), CUDA_SUCCESS);
    assert_int_equal(b, 6ULL << 30);
    /* No quota (timeslice without one): the driver's; failed closed: the driver's too. */
    lease_mode(0);
    assert_int_equal(cuDeviceTotalMem_v2(&b, 0), CUDA_SUCCESS);
    assert_int_equal(b, 80ULL << 30);
    gpx__ip.mode = GPX_IP_CLOSED;
    assert_int_equal(cuDeviceTotalMem_v2(&b, 0), CUDA_SUCCESS);
    assert_int_equal(b, 80ULL << 30);
}

/* ---- NVML process queries ------------------------------------------------------------------ */

/*
 * A fake GPU with NEIGHBOURS processes of other leases, then a process of
 * ours (the parent, attached to our lease by the test), one planted pid that
 * is not ours (a slot whose start time is not its process's), and the caller.
 */
enum { NEIGHBOURS = 150 };
static unsigned int fake_pids[NEIGHBOURS + 3];
static unsigned int fake_n;
static int fake_list_calls;

static nvmlReturn_t f_list(nvmlDevice_t dev, unsigned int *count, nvmlProcessInfo_t *infos)
{
    (void)dev;
    fake_list_calls++;
    if (!count || (*count && !infos))
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned int room = *count;
    *count = fake_n;
    if (room < fake_n)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    for (unsigned int i = 0; i < fake_n; i++)
        infos[i] = (nvmlProcessInfo_t){.pid = fake_pids[i],
                                       .usedGpuMemory = 1000 + i,
                                       .gpuInstanceId = 7,
                                       .computeInstanceId = 9};
    return NVML_SUCCESS;
}

static nvmlReturn_t f_list_v1(nvmlDevice_t dev, unsigned int *count, nvmlProcessInfo_v1_t *infos)
{
    (void)dev;
    if (!count || (*count && !infos))
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned int room = *count;
    *count = fake_n;
    if (room < fake_n)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    for (unsigned int i = 0; i < fake_n; i++)
        infos[i] = (nvmlProcessInfo_v1_t){.pid = fake_pids[i], .usedGpuMemory = 1000 + i};
    return NVML_SUCCESS;
}

static nvmlReturn_t f_util(nvmlDevice_t dev, nvmlProcessUtilizationSample_t *s, unsigned int *count,
                           unsigned long long last)
{
    (void)dev;
    (void)last;
    if (!count)
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned int room = *count;
    *count = fake_n;
    if (!s || room < fake_n)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    for (unsigned int i = 0; i < fake_n; i++)
        s[i] = (nvmlProcessUtilizationSample_t){.pid = fake_pids[i], .smUtil = i % 100};
    return NVML_SUCCESS;
}

/* A driver that answers the room before it looks at the buffer: the GPU's whole count. */
static nvmlReturn_t f_list_room_first(nvmlDevice_t dev, unsigned int *count,
                                      nvmlProcessInfo_t *infos)
{
    unsigned int room = count ? *count : 0;
    if (count && room < fake_n) {
        *count = fake_n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    return f_list(dev, count, infos);
}

static nvmlReturn_t f_acct_pids(nvmlDevice_t dev, unsigned int *count, unsigned int *pids)
{
    (void)dev;
    if (!count || (*count && !pids))
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned int room = *count;
    *count = fake_n;
    if (room < fake_n)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(pids, fake_pids, fake_n * sizeof *pids);
    return NVML_SUCCESS;
}

static nvmlReturn_t f_acct_stats(nvmlDevice_t dev, unsigned int pid, nvmlAccountingStats_t *st)
{
    (void)dev;
    (void)st;
    for (unsigned int i = 0; i < fake_n; i++)
        if (fake_pids[i] == pid)
            return NVML_SUCCESS;
    return NVML_ERROR_NOT_FOUND;
}

/* nvml.h's nvmlEncoderSessionInfo_t: 8 unsigned ints, the pid second. */
struct fake_enc {
    unsigned int session, pid, rest[6];
};

/* The sessions' protocol: *count == 0 asks the count (NVML_SUCCESS). */
static nvmlReturn_t f_enc(nvmlDevice_t dev, unsigned int *count, void *out)
{
    (void)dev;
    if (!count)
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned int room = *count;
    *count = fake_n;
    if (room == 0)
        return NVML_SUCCESS;
    if (room < fake_n)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    struct fake_enc *e = out;
    for (unsigned int i = 0; i < fake_n; i++)
        e[i] = (struct fake_enc){.session = 100 + i, .pid = fake_pids[i]};
    return NVML_SUCCESS;
}

static nvmlReturn_t f_acct_stats_v2(nvmlDevice_t dev, void *stats)
{
    unsigned int pid;
    memcpy(&pid, stats, sizeof pid);
    return f_acct_stats(dev, pid, NULL);
}

static nvmlReturn_t f_versioned(nvmlDevice_t dev, void *versioned)
{
    (void)dev;
    (void)versioned;
    return NVML_SUCCESS;
}

/* Our lease, with the parent process in it holding 5 MiB; the fake GPU's process list. */
static void procs_setup(void)
{
    gpx__ip_nvml_ensure(); /* resolved once now, so the fakes below stay */
    gpx__ip_nvml.nvmlDeviceGetComputeRunningProcesses_v3 = f_list;
    gpx__ip_nvml.nvmlDeviceGetComputeRunningProcesses = f_list_v1;
    gpx__ip_nvml.nvmlDeviceGetProcessUtilization = f_util;
    lease_mode(1024 * MiB);
    struct gpx_lease_proc *parent = gpx_lease_attach(&region, (int32_t)getppid());
    assert_non_null(parent);
    assert_int_equal(gpx_lease_reserve(&region, parent, 5 * MiB), 0);
    assert_int_equal(gpx__ip_reserve(3 * MiB), 0); /* this process: 3 MiB */
    /* A slot naming init with a start time that is not init's: a pid reused, or planted. */
    struct gpx_lease_proc *planted = &region.usage->procs[GPX_LEASE_MAX_PROCS - 1];
    atomic_store(&planted->start_ticks, 1);
    atomic_store(&planted->pid, 1);
    fake_n = 0;
    for (unsigned int i = 0; i < NEIGHBOURS / 2; i++)
        fake_pids[fake_n++] = 3000000 + i;
    fake_pids[fake_n++] = (unsigned int)getppid();
    fake_pids[fake_n++] = 1;
    for (unsigned int i = NEIGHBOURS / 2; i < NEIGHBOURS; i++)
        fake_pids[fake_n++] = 3000000 + i;
    fake_pids[fake_n++] = (unsigned int)getpid();
}

static void test_nvml_processes(void **state)
{
    (void)state;
    procs_setup();
    nvmlProcessInfo_t p[8];
    /* NVML's size protocol, on the filtered list: no room, one short, enough. */
    unsigned int n = 0;
    fake_list_calls = 0;
    assert_int_equal(nvmlDeviceGetComputeRunningProcesses_v3(NULL, &n, NULL),
                     NVML_ERROR_INSUFFICIENT_SIZE);
    assert_int_equal(n, 2);
    assert_true(fake_list_calls >= 2); /* 155 entries: the private buffer grew */
    n = 1;
    assert_int_equal(nvmlDeviceGetComputeRunningProcesses_v3(NULL, &n, p),
                     NVML_ERROR_INSUFFICIENT_SIZE);
    assert_int_equal(n, 2);
    n = 8;
    assert_int_equal(nvmlDeviceGetComputeRunningProcesses_v3(NULL, &n, p), NVML_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(p[0].pid, (unsigned int)getppid());
    assert_int_equal(p[0].usedGpuMemory, 5 * MiB); /* the lease's count, not the driver's */
    assert_int_equal(p[0].gpuInstanceId, 7);       /* the rest as the driver gave it */
    assert_int_equal(p[0].computeInstanceId, 9);
    assert_int_equal(p[1].pid, (unsigned int)getpid());
    assert_int_equal(p[1].usedGpuMemory, 3 * MiB);
    /* The v1 layout: the same two. */
    nvmlProcessInfo_v1_t q[8];
    n = 8;
    assert_int_equal(nvmlDeviceGetComputeRunningProcesses(NULL, &n, q), NVML_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(q[0].pid, (unsigned int)getppid());
    assert_int_equal(q[0].usedGpuMemory, 5 * MiB);
    assert_int_equal(q[1].pid, (unsigned int)getpid());
    /* The graphics and MPS lists go through the same filter (the simulator's are empty). */
    gpx__ip_nvml.nvmlDeviceGetGraphicsRunningProcesses_v3 = f_list;
    gpx__ip_nvml.nvmlDeviceGetMPSComputeRunningProcesses_v3 = f_list;
    gpx__ip_nvml.nvmlDeviceGetMPSComputeRunningProcesses = f_list_v1;
    n = 8;
    assert_int_equal(nvmlDeviceGetGraphicsRunningProcesses_v3(NULL, &n, p), NVML_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(p[0].pid, (unsigned int)getppid());
    assert_int_equal(p[1].pid, (unsigned int)getpid());
    n = 8;
    assert_int_equal(nvmlDeviceGetMPSComputeRunningProcesses_v3(NULL, &n, p), NVML_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(p[0].usedGpuMemory, 5 * MiB);
    n = 8;
    assert_int_equal(nvmlDeviceGetMPSComputeRunningProcesses(NULL, &n, q), NVML_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(q[1].pid, (unsigned int)getpid());
    /* Bad arguments: the driver's own answer. */
    n = 3;
    assert_int_equal(nvmlDeviceGetComputeRunningProcesses_v3(NULL, &n, NULL),
                     NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nvmlDeviceGetComputeRunningProcesses_v3(NULL, NULL, p),
                     NVML_ERROR_INVALID_ARGUMENT);
    /* Room but no buffer, with a driver that reports the room first: never the GPU's count. */
    gpx__ip_nvml.nvmlDeviceGetComputeRunningProcesses_v2 = f_list_room_first;
    n = 3;
    assert_int_equal(nvmlDeviceGetComputeRunningProcesses_v2(NULL, &n, NULL),
                     NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(n, 3);
    n = 0;
    assert_int_equal(nvmlDeviceGetComputeRunningProcesses_v2(NULL, &n, NULL),
                     NVML_ERROR_INSUFFICIENT_SIZE);
    assert_int_equal(n, 2);
    /* Accounting: the lease's live processes, and only their stats. */
    gpx__ip_nvml.nvmlDeviceGetAccountingPids = f_acct_pids;
    gpx__ip_nvml.nvmlDeviceGetAccountingStats = f_acct_stats;
    unsigned int ap[8];
    n = 0;
    assert_int_equal(nvmlDeviceGetAccountingPids(NULL, &n, NULL), NVML_ERROR_INSUFFICIENT_SIZE);
    assert_int_equal(n, 2);
    n = 4;
    assert_int_equal(nvmlDeviceGetAccountingPids(NULL, &n, NULL), NVML_ERROR_INVALID_ARGUMENT);
    n = 8;
    assert_int_equal(nvmlDeviceGetAccountingPids(NULL, &n, ap), NVML_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(ap[0], (unsigned int)getppid());
    assert_int_equal(ap[1], (unsigned int)getpid());
    nvmlAccountingStats_t *no_stats = NULL; /* the fake never writes it */
    assert_int_equal(nvmlDeviceGetAccountingStats(NULL, (unsigned int)getppid(), no_stats),
                     NVML_SUCCESS);
    assert_int_equal(nvmlDeviceGetAccountingStats(NULL, 3000000, no_stats), NVML_ERROR_NOT_FOUND);
    assert_int_equal(nvmlDeviceGetAccountingStats(NULL, 1, no_stats), NVML_ERROR_NOT_FOUND);
    gpx__ip_nvml.nvmlDeviceGetAccountingStats_v2 = f_acct_stats_v2;
    unsigned int stats_v2[32] = {(unsigned int)getpid()}; /* nvmlAccountingStats_v2_t: pid first */
    assert_int_equal(nvmlDeviceGetAccountingStats_v2(NULL, stats_v2), NVML_SUCCESS);
    stats_v2[0] = 3000000;
    assert_int_equal(nvmlDeviceGetAccountingStats_v2(NULL, stats_v2), NVML_ERROR_NOT_FOUND);
    /* Encoder sessions (and NvFBC's, the same filter): the lease's own only. */
    gpx__ip_nvml.nvmlDeviceGetEncoderSessions = f_enc;
    struct fake_enc enc[8];
    n = 0;
    assert_int_equal(nvmlDeviceGetEncoderSessions(NULL, &n, NULL), NVML_SUCCESS);
    assert_int_equal(n, 2);
    n = 1;
    assert_int_equal(
        nvmlDeviceGetEncoderSessions(NULL, &n, (nvmlEncoderSessionInfo_t *)(void *)enc),
        NVML_ERROR_INSUFFICIENT_SIZE);
    assert_int_equal(n, 2);
    n = 8;
    assert_int_equal(
        nvmlDeviceGetEncoderSessions(NULL, &n, (nvmlEncoderSessionInfo_t *)(void *)enc),
        NVML_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(enc[0].pid, (unsigned int)getppid());
    assert_int_equal(enc[0].session, 100 + NEIGHBOURS / 2); /* the whole entry moved */
    assert_int_equal(enc[1].pid, (unsigned int)getpid());
    gpx__ip_nvml.nvmlDeviceGetFBCSessions = NULL;
    assert_int_equal(nvmlDeviceGetFBCSessions(NULL, &n, NULL), NVML_ERROR_FUNCTION_NOT_FOUND);
    /* An entry point the driver lacks. */
    gpx__ip_nvml.nvmlDeviceGetGraphicsRunningProcesses_v2 = NULL;
    assert_int_equal(nvmlDeviceGetGraphicsRunningProcesses_v2(NULL, &n, p),
                     NVML_ERROR_FUNCTION_NOT_FOUND);

    /* Utilization samples: the size query, then the two. */
    nvmlProcessUtilizationSample_t s[8];
    n = 0;
    assert_int_equal(nvmlDeviceGetProcessUtilization(NULL, NULL, &n, 0),
                     NVML_ERROR_INSUFFICIENT_SIZE);
    assert_int_equal(n, 2);
    n = 8;
    assert_int_equal(nvmlDeviceGetProcessUtilization(NULL, s, &n, 0), NVML_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(s[0].pid, (unsigned int)getppid());
    assert_int_equal(s[1].pid, (unsigned int)getpid());
    /* Nobody of ours on the GPU (the caller gone from the list too): NOT_FOUND, count 0. */
    fake_n = NEIGHBOURS / 2;
    n = 8;
    assert_int_equal(nvmlDeviceGetProcessUtilization(NULL, s, &n, 0), NVML_ERROR_NOT_FOUND);
    assert_int_equal(n, 0);
    n = 8;
    assert_int_equal(nvmlDeviceGetComputeRunningProcesses_v3(NULL, &n, p), NVML_SUCCESS);
    assert_int_equal(n, 0);
    fake_n = NEIGHBOURS + 3;

    /* Failed closed: the caller alone, with the driver's figure. */
    gpx__ip.mode = GPX_IP_CLOSED;
    n = 8;
    assert_int_equal(nvmlDeviceGetComputeRunningProcesses_v3(NULL, &n, p), NVML_SUCCESS);
    assert_int_equal(n, 1);
    assert_int_equal(p[0].pid, (unsigned int)getpid());
    assert_int_equal(p[0].usedGpuMemory, 1000 + NEIGHBOURS + 2);
    /* No lease: everything, untouched, in the caller's own buffer. */
    gpx__ip.mode = GPX_IP_PASS;
    nvmlProcessInfo_t all[NEIGHBOURS + 3];
    n = NEIGHBOURS + 3;
    assert_int_equal(nvmlDeviceGetComputeRunningProcesses_v3(NULL, &n, all), NVML_SUCCESS);
    assert_int_equal(n, NEIGHBOURS + 3);
    n = 0;
    assert_int_equal(nvmlDeviceGetComputeRunningProcesses_v3(NULL, &n, NULL),
                     NVML_ERROR_INSUFFICIENT_SIZE);
    assert_int_equal(n, NEIGHBOURS + 3);
    n = 0;
    assert_int_equal(nvmlDeviceGetAccountingPids(NULL, &n, NULL), NVML_ERROR_INSUFFICIENT_SIZE);
    assert_int_equal(n, NEIGHBOURS + 3);
    assert_int_equal(nvmlDeviceGetAccountingStats(NULL, 3000000, NULL), NVML_SUCCESS);
    n = 0;
    assert_int_equal(nvmlDeviceGetEncoderSessions(NULL, &n, NULL), NVML_SUCCESS);
    assert_int_equal(n, NEIGHBOURS + 3);
    /* The versioned queries: hidden under a lease, passed through without one. */
    gpx__ip_nvml.nvmlDeviceGetRunningProcessDetailList = NULL;
    assert_int_equal(nvmlDeviceGetRunningProcessDetailList(NULL, NULL),
                     NVML_ERROR_FUNCTION_NOT_FOUND);
    gpx__ip_nvml.nvmlDeviceGetRunningProcessDetailList = f_versioned;
    assert_int_equal(nvmlDeviceGetRunningProcessDetailList(NULL, p), NVML_SUCCESS);
    gpx__ip.mode = GPX_IP_ENFORCE;
    assert_int_equal(nvmlDeviceGetRunningProcessDetailList(NULL, p), NVML_ERROR_NOT_SUPPORTED);
    gpx__ip.mode = GPX_IP_PASS;
}

/*
 * A tenant's own region is writable by it: a pid planted there counts only
 * when its process runs as the caller's uid. Run as root, a child becomes
 * nobody and asks: the root test process (a live slot, the right start time)
 * is not shown; a process of nobody's in a slot is.
 */
static void test_nvml_planted_pid(void **state)
{
    (void)state;
    if (getuid() != 0)
        skip(); /* needs setuid() to a second uid */
    procs_setup();
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(2);
        pid_t mate = fork();
        if (mate == 0) {
            pause();
            _exit(0);
        }
        int ok = mate > 0 && gpx_lease_attach(&region, (int32_t)mate) != NULL;
        fake_n = 0;
        fake_pids[fake_n++] = (unsigned int)getppid(); /* root's, with a slot of its own */
        fake_pids[fake_n++] = (unsigned int)mate;
        fake_pids[fake_n++] = (unsigned int)getpid();
        nvmlProcessInfo_t p[8];
        unsigned int n = 8;
        ok = ok && nvmlDeviceGetComputeRunningProcesses_v3(NULL, &n, p) == NVML_SUCCESS && n == 2 &&
             p[0].pid == (unsigned int)mate && p[1].pid == (unsigned int)getpid();
        if (mate > 0) {
            kill(mate, SIGKILL);
            waitpid(mate, NULL, 0);
        }
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_fail_closed(void **state)
{
    (void)state;
    gpx__ip.mode = GPX_IP_CLOSED;
    calls = 0;
    CUdeviceptr d;
    CUmemGenericAllocationHandle h;
    CUmemAllocationProp dev = {.location = {.type = CU_MEM_LOCATION_TYPE_DEVICE}};
    assert_int_equal(cuMemAlloc_v2(&d, 1), CUDA_ERROR_OUT_OF_MEMORY);
    assert_int_equal(cuMemAllocAsync(&d, 1, NULL), CUDA_ERROR_OUT_OF_MEMORY);
    assert_int_equal(cuMemCreate(&h, 2 * MiB, &dev, 0), CUDA_ERROR_OUT_OF_MEMORY);
    assert_int_equal(calls, 0);
    /* Frees and launches still work; free memory reads 0. */
    assert_int_equal(cuMemFree_v2(0x1000), CUDA_SUCCESS);
    assert_int_equal(cuGraphLaunch(NULL, NULL), CUDA_SUCCESS);
    size_t f, t;
    assert_int_equal(cuMemGetInfo_v2(&f, &t), CUDA_SUCCESS);
    assert_int_equal(f, 0);
}

/*
 * Threads allocating through the hooks and freeing each other's pointers
 * (the free on another thread than the allocation's: the pointer table's
 * cross-thread take, the private count's cells going negative) keep the
 * lease's figure and the private count exact.
 */
#define IPX_THREADS 4
#define IPX_BLOCKS  256
#define IPX_ROUNDS  40
#define IPX_SIZE    (64 * 1024ULL)

struct ipx {
    pthread_barrier_t *bar;
    CUdeviceptr (*ptrs)[IPX_BLOCKS];
    _Atomic int *failed;
    int me;
};

static void *ipx_thread(void *p)
{
    struct ipx *t = p;
    for (int round = 0; round < IPX_ROUNDS; round++) {
        for (int i = 0; i < IPX_BLOCKS; i++)
            if (cuMemAlloc_v2(&t->ptrs[t->me][i], IPX_SIZE) != CUDA_SUCCESS)
                atomic_store(t->failed, 1);
        pthread_barrier_wait(t->bar);
        if (t->me == 0 && (used() != IPX_THREADS * IPX_BLOCKS * IPX_SIZE ||
                           gpx__ip_local_used() != IPX_THREADS * IPX_BLOCKS * IPX_SIZE))
            atomic_store(t->failed, 2);
        pthread_barrier_wait(t->bar);
        for (int i = 0; i < IPX_BLOCKS; i++)
            if (cuMemFree_v2(t->ptrs[(t->me + 1) % IPX_THREADS][i]) != CUDA_SUCCESS)
                atomic_store(t->failed, 3);
        pthread_barrier_wait(t->bar);
        if (t->me == 0 && (used() != 0 || gpx__ip_local_used() != 0))
            atomic_store(t->failed, 4);
        pthread_barrier_wait(t->bar);
    }
    return NULL;
}

static void test_cross_thread_free(void **state)
{
    (void)state;
    lease_mode(IPX_THREADS * IPX_BLOCKS * IPX_SIZE); /* exactly what is live at once */
    static CUdeviceptr ptrs[IPX_THREADS][IPX_BLOCKS];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, IPX_THREADS);
    _Atomic int failed = 0;
    struct ipx t[IPX_THREADS];
    pthread_t th[IPX_THREADS];
    uint64_t entries = gpx__pt_count();
    for (int k = 0; k < IPX_THREADS; k++) {
        t[k] = (struct ipx){&bar, ptrs, &failed, k};
        assert_int_equal(pthread_create(&th[k], NULL, ipx_thread, &t[k]), 0);
    }
    for (int k = 0; k < IPX_THREADS; k++)
        pthread_join(th[k], NULL);
    pthread_barrier_destroy(&bar);
    assert_int_equal(atomic_load(&failed), 0);
    assert_int_equal(used(), 0);
    assert_int_equal(gpx__ip_local_used(), 0);
    assert_int_equal(gpx__pt_count(), entries);
    /* the credit the threads left is the lease's: the whole quota in one allocation */
    CUdeviceptr d;
    assert_int_equal(cuMemAlloc_v2(&d, IPX_THREADS * IPX_BLOCKS * IPX_SIZE), CUDA_SUCCESS);
    assert_int_equal(cuMemFree_v2(d), CUDA_SUCCESS);
    assert_int_equal(used(), 0);
}

/* ---- the pointer table --------------------------------------------------------------------- */

static void test_ptrtable(void **state)
{
    (void)state;
    enum { N = 50000 };
    uint64_t *keys = calloc(N, sizeof *keys);
    uint8_t *live = calloc(N, 1);
    assert_non_null(keys);
    assert_non_null(live);
    uint64_t base = gpx__pt_count(), stale, b;
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        keys[i] = (x & ~0xffULL) | 0x100; /* aligned, like device pointers */
    }
    /* Same key, different kinds: distinct entries. */
    assert_int_equal(gpx__pt_insert(GPX_IP_KIND_DPTR, 0x4000, 1, &stale), 0);
    assert_int_equal(gpx__pt_insert(GPX_IP_KIND_VMM, 0x4000, 2, &stale), 0);
    assert_int_equal(stale, 0);
    assert_int_equal(gpx__pt_take(GPX_IP_KIND_VMM, 0x4000, &b), 1);
    assert_int_equal(b, 2);
    assert_int_equal(gpx__pt_take(GPX_IP_KIND_DPTR, 0x4000, &b), 1);
    assert_int_equal(b, 1);
    /* A device pointer handed out again while still recorded: replaced, its bytes stale. */
    assert_int_equal(gpx__pt_insert(GPX_IP_KIND_DPTR, 0x8000, 5, &stale), 0);
    assert_int_equal(gpx__pt_insert(GPX_IP_KIND_DPTR, 0x8000, 6, &stale), 0);
    assert_int_equal(stale, 5);
    assert_int_equal(gpx__pt_take(GPX_IP_KIND_DPTR, 0x8000, &b), 1);
    assert_int_equal(b, 6);
    assert_int_equal(gpx__pt_find(GPX_IP_KIND_DPTR, 0x8000, NULL), 0);
    /*
     * Random inserts and removals against a reference, through several growths;
     * device pointers too: more of them live than the lock-free front table holds,
     * so some overflow to the locked shards and come back.
     */
    for (int kk = 0; kk < 2; kk++) {
        const uint32_t kind = kk ? GPX_IP_KIND_DPTR : GPX_IP_KIND_ARRAY;
        memset(live, 0, N);
        for (int round = 0; round < 4; round++) {
            for (int i = 0; i < N; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                if (x % 3 == 0 && live[i]) {
                    assert_int_equal(gpx__pt_take(kind, keys[i], &b), 1);
                    assert_int_equal(b, keys[i] >> 8);
                    live[i] = 0;
                } else if (!live[i]) {
                    assert_int_equal(gpx__pt_insert(kind, keys[i], keys[i] >> 8, &stale), 0);
                    assert_int_equal(stale, 0);
                    live[i] = 1;
                }
            }
            for (int i = 0; i < N; i++)
                assert_int_equal(gpx__pt_find(kind, keys[i], NULL), live[i]);
        }
        for (int i = 0; i < N; i++)
            if (live[i])
                assert_int_equal(gpx__pt_take(kind, keys[i], &b), 1);
        assert_int_equal(gpx__pt_count(), base);
        assert_int_equal(gpx__pt_take(kind, keys[0], &b), 0);
    }
    free(keys);
    free(live);
}

/* ---- per-thread pointer tables ------------------------------------------------------------- */

typedef void *(*thread_fn)(void *);

/* Runs fn(arg) on a thread of its own and waits for it to exit. */
static void on_thread(thread_fn fn, void *arg)
{
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, fn, arg), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
}

#define PTT_N 64

static void *ptt_alloc_all(void *p)
{
    CUdeviceptr *d = p;
    for (int i = 0; i < PTT_N; i++)
        if (cuMemAlloc_v2(&d[i], MiB) != CUDA_SUCCESS)
            d[i] = 0;
    return NULL;
}

static void *ptt_alloc_one(void *p)
{
    if (cuMemAlloc_v2((CUdeviceptr *)p, MiB) != CUDA_SUCCESS)
        *(CUdeviceptr *)p = 0;
    return NULL;
}

/*
 * Pointers recorded in a thread's own table: freed by another thread after
 * their thread exited (the count exact after each free), the table adopted
 * by the next thread (no new table), one address freed and handed out
 * again on two threads, and handed out again unseen (the stale record in
 * the other thread's table is replaced, its bytes returned).
 */
static void test_pt_thread_tables(void **state)
{
    (void)state;
    lease_mode(1024 * MiB);
    uint64_t entries = gpx__pt_count();
    CUdeviceptr d[PTT_N];
    on_thread(ptt_alloc_all, d);
    uint64_t tables = gpx__pt_tables();
    assert_true(tables >= 1);
    assert_int_equal(used(), PTT_N * MiB);
    assert_int_equal(gpx__pt_count(), entries + PTT_N);
    for (int i = 0; i < PTT_N; i++) {
        assert_true(d[i] != 0);
        assert_int_equal(cuMemFree_v2(d[i]), CUDA_SUCCESS);
        assert_int_equal(used(), (uint64_t)(PTT_N - 1 - i) * MiB);
        assert_int_equal(gpx__ip_local_used(), (uint64_t)(PTT_N - 1 - i) * MiB);
        assert_int_equal(cuMemFree_v2(d[i]), CUDA_SUCCESS); /* a second free: not counted */
        assert_int_equal(used(), (uint64_t)(PTT_N - 1 - i) * MiB);
    }
    assert_int_equal(gpx__pt_count(), entries);
    /* threads that come and go reuse the tables of those that went */
    for (int k = 0; k < 4; k++) {
        on_thread(ptt_alloc_all, d);
        assert_int_equal(gpx__pt_tables(), tables);
        assert_int_equal(used(), PTT_N * MiB);
        for (int i = 0; i < PTT_N; i++)
            assert_int_equal(cuMemFree_v2(d[i]), CUDA_SUCCESS);
        assert_int_equal(used(), 0);
    }
    /* one address: allocated on a thread, freed here, handed to another thread */
    fixed_addr = 0x7700000;
    CUdeviceptr a = 0, b = 0;
    on_thread(ptt_alloc_one, &a);
    assert_int_equal(a, 0x7700000);
    assert_int_equal(cuMemFree_v2(a), CUDA_SUCCESS);
    assert_int_equal(used(), 0);
    on_thread(ptt_alloc_one, &b);
    assert_int_equal(b, 0x7700000);
    assert_int_equal(used(), MiB);
    /* handed out again while still recorded (its object went away unseen): counted once */
    assert_int_equal(cuMemAlloc_v2(&a, MiB), CUDA_SUCCESS);
    assert_int_equal(used(), MiB);
    on_thread(ptt_alloc_one, &b);
    assert_int_equal(used(), MiB);
    assert_int_equal(gpx__pt_count(), entries + 1);
    assert_int_equal(cuMemFree_v2(a), CUDA_SUCCESS);
    assert_int_equal(used(), 0);
    assert_int_equal(gpx__pt_count(), entries);
    fixed_addr = 0;
}

/*
 * Allocations in a thread's key destructors after gpuplex released its table there, through all
 * PTHREAD_DESTRUCTOR_ITERATIONS rounds: counted and freeable, and no table stays owned by the
 * thread that went (the next thread adopts it).
 */
static pthread_key_t late_key;
static CUdeviceptr late_d[8];
static int late_round;

static void late_destructor(void *v)
{
    (void)v;
    if (late_round < 8 && cuMemAlloc_v2(&late_d[late_round], MiB) == CUDA_SUCCESS)
        late_round++;
    if (late_round < PTHREAD_DESTRUCTOR_ITERATIONS)
        pthread_setspecific(late_key, &late_key); /* another round */
}

static void *ptt_late(void *p)
{
    (void)p;
    CUdeviceptr d;
    if (cuMemAlloc_v2(&d, MiB) == CUDA_SUCCESS) /* this thread's table is taken first */
        late_d[7] = d;
    pthread_setspecific(late_key, &late_key);
    return NULL;
}

static void test_pt_exit_destructors(void **state)
{
    (void)state;
    lease_mode(1024 * MiB);
    CUdeviceptr first = 0; /* gpuplex's key exists from a thread's first allocation on */
    on_thread(ptt_alloc_one, &first);
    uint64_t owned = gpx__pt_owned();
    /* created after gpuplex's own key, so its destructor runs after gpuplex's in each round */
    assert_int_equal(pthread_key_create(&late_key, late_destructor), 0);
    memset(late_d, 0, sizeof late_d);
    late_round = 0;
    uint64_t before = used();
    on_thread(ptt_late, NULL);
    assert_int_equal(late_round, PTHREAD_DESTRUCTOR_ITERATIONS);
    assert_int_equal(gpx__pt_owned(), owned);
    assert_int_equal(used(), before + (PTHREAD_DESTRUCTOR_ITERATIONS + 1) * MiB);
    for (int i = 0; i < 8; i++)
        if (late_d[i])
            assert_int_equal(cuMemFree_v2(late_d[i]), CUDA_SUCCESS);
    assert_int_equal(used(), before);
    pthread_key_delete(late_key);
    assert_int_equal(cuMemFree_v2(first), CUDA_SUCCESS);
}

struct ptt_spill {
    uint64_t *keys;
    int n;
};

static void *ptt_insert_keys(void *p)
{
    struct ptt_spill *s = p;
    uint64_t stale;
    for (int i = 0; i < s->n; i++)
        if (gpx__pt_insert(GPX_IP_KIND_DPTR, s->keys[i], s->keys[i] >> 4, &stale) != 0 || stale)
            s->keys[i] = 0;
    return NULL;
}

/*
 * More pointers on one thread than its table holds: the rest go to the
 * global tables (counted in spilled), and every one is found, from another
 * thread, in whichever table holds it.
 */
static void test_pt_spill(void **state)
{
    (void)state;
    enum { N = 6000 }; /* > the 4096 slots of a thread's table */
    struct ptt_spill s = {calloc(N, sizeof(uint64_t)), N};
    assert_non_null(s.keys);
    uint64_t entries = gpx__pt_count(), b;
    for (int i = 0; i < N; i++)
        s.keys[i] = 0x900000000ULL + (uint64_t)i * 0x200; /* 512-byte aligned, like cuMemAlloc */
    assert_int_equal(gpx__pt_spilled(), 0);
    on_thread(ptt_insert_keys, &s);
    assert_true(gpx__pt_spilled() > 0);
    assert_int_equal(gpx__pt_count(), entries + N);
    for (int i = 0; i < N; i++) {
        assert_true(s.keys[i] != 0);
        assert_int_equal(gpx__pt_find(GPX_IP_KIND_DPTR, s.keys[i], &b), 1);
        assert_int_equal(b, s.keys[i] >> 4);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(gpx__pt_take(GPX_IP_KIND_DPTR, s.keys[i], &b), 1);
        assert_int_equal(b, s.keys[i] >> 4);
        assert_int_equal(gpx__pt_take(GPX_IP_KIND_DPTR, s.keys[i], &b), 0);
    }
    assert_int_equal(gpx__pt_spilled(), 0);
    assert_int_equal(gpx__pt_count(), entries);
    free(s.keys);
}

struct ptt_hold {
    CUdeviceptr d;
    pthread_barrier_t *bar;
};

static void *ptt_alloc_and_hold(void *p)
{
    struct ptt_hold *h = p;
    if (cuMemAlloc_v2(&h->d, MiB) != CUDA_SUCCESS)
        h->d = 0;
    pthread_barrier_wait(h->bar); /* recorded */
    pthread_barrier_wait(h->bar); /* the fork is done */
    return NULL;
}

/*
 * fork while this thread and another hold records: the child starts with
 * every table empty (CUDA state does not survive fork), can record and free
 * its own, and the parent keeps its records. The handlers are called by hand:
 * init (which registers them) never runs here.
 */
static void test_pt_fork(void **state)
{
    (void)state;
    lease_mode(64 * MiB);
    uint64_t entries = gpx__pt_count();
    CUdeviceptr mine;
    assert_int_equal(cuMemAlloc_v2(&mine, MiB), CUDA_SUCCESS);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    struct ptt_hold h = {0, &bar};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, ptt_alloc_and_hold, &h), 0);
    pthread_barrier_wait(&bar);
    assert_true(h.d != 0);
    assert_int_equal(gpx__pt_count(), entries + 2);
    gpx__pt_fork_prepare();
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        gpx__pt_fork_child();
        uint64_t b, stale;
        int ok = gpx__pt_count() == 0 && !gpx__pt_find(GPX_IP_KIND_DPTR, mine, NULL) &&
                 !gpx__pt_find(GPX_IP_KIND_DPTR, h.d, NULL) && gpx__pt_spilled() == 0 &&
                 gpx__pt_insert(GPX_IP_KIND_DPTR, mine, 7, &stale) == 0 && stale == 0 &&
                 gpx__pt_insert(GPX_IP_KIND_DPTR, h.d, 8, &stale) == 0 && stale == 0 &&
                 gpx__pt_take(GPX_IP_KIND_DPTR, h.d, &b) == 1 && b == 8 &&
                 gpx__pt_take(GPX_IP_KIND_DPTR, mine, &b) == 1 && b == 7 && gpx__pt_count() == 0;
        _exit(ok ? 0 : 1);
    }
    gpx__pt_fork_parent();
    int st = 0;
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    pthread_barrier_wait(&bar);
    pthread_join(th, NULL);
    pthread_barrier_destroy(&bar);
    assert_int_equal(gpx__pt_count(), entries + 2);
    assert_int_equal(used(), 2 * MiB);
    assert_int_equal(cuMemFree_v2(h.d), CUDA_SUCCESS);
    assert_int_equal(cuMemFree_v2(mine), CUDA_SUCCESS);
    assert_int_equal(used(), 0);
    assert_int_equal(gpx__pt_count(), entries);
}

/*
 * Many threads allocate and free at once, each freeing whatever pointer it
 * swaps out of a shared array (mostly another thread's): the quota is exactly
 * what can be live at once, so any byte lost or counted twice refuses an
 * allocation; at the end the count and the table are back where they were.
 */
#define PTM_THREADS 8
#define PTM_SLOTS   64
#define PTM_ROUNDS  20000
#define PTM_SIZE    (64 * 1024ULL)

struct ptm {
    _Atomic CUdeviceptr *slots;
    _Atomic int *failed;
    unsigned seed;
};

static void *ptm_thread(void *p)
{
    struct ptm *t = p;
    for (int r = 0; r < PTM_ROUNDS; r++) {
        CUdeviceptr d;
        if (cuMemAlloc_v2(&d, PTM_SIZE) != CUDA_SUCCESS) {
            atomic_store(t->failed, 1);
            return NULL;
        }
        t->seed = t->seed * 1103515245U + 12345U;
        CUdeviceptr old = atomic_exchange(&t->slots[(t->seed >> 16) % PTM_SLOTS], d);
        if (old && cuMemFree_v2(old) != CUDA_SUCCESS)
            atomic_store(t->failed, 2);
    }
    return NULL;
}

static void test_pt_many_threads(void **state)
{
    (void)state;
    lease_mode((PTM_THREADS + PTM_SLOTS) * PTM_SIZE); /* exactly what can be live at once */
    static _Atomic CUdeviceptr slots[PTM_SLOTS];
    _Atomic int failed = 0;
    uint64_t entries = gpx__pt_count();
    struct ptm t[PTM_THREADS];
    pthread_t th[PTM_THREADS];
    for (int k = 0; k < PTM_THREADS; k++) {
        t[k] = (struct ptm){slots, &failed, (unsigned)k * 7919U + 1};
        assert_int_equal(pthread_create(&th[k], NULL, ptm_thread, &t[k]), 0);
    }
    for (int k = 0; k < PTM_THREADS; k++)
        pthread_join(th[k], NULL);
    assert_int_equal(atomic_load(&failed), 0);
    uint64_t live = 0;
    for (int i = 0; i < PTM_SLOTS; i++)
        live += atomic_load(&slots[i]) != 0;
    assert_int_equal(used(), live * PTM_SIZE);
    assert_int_equal(gpx__ip_local_used(), live * PTM_SIZE);
    assert_int_equal(gpx__pt_count(), entries + live);
    for (int i = 0; i < PTM_SLOTS; i++) {
        CUdeviceptr d = atomic_exchange(&slots[i], 0);
        if (d)
            assert_int_equal(cuMemFree_v2(d), CUDA_SUCCESS);
    }
    assert_int_equal(used(), 0);
    assert_int_equal(gpx__ip_local_used(), 0);
    assert_int_equal(gpx__pt_count(), entries);
    /* the whole quota in one allocation: nothing is held back */
    CUdeviceptr d;
    assert_int_equal(cuMemAlloc_v2(&d, (PTM_THREADS + PTM_SLOTS) * PTM_SIZE), CUDA_SUCCESS);
    assert_int_equal(cuMemFree_v2(d), CUDA_SUCCESS);
    assert_int_equal(used(), 0);
}

/* Stream capture: hooks forward to their own variant and keep the process's capture count,
 * which makes the time-slice turn step aside (recorded work is not run). */
static void test_capture(void **state)
{
    (void)state;
    CUgraph g;
    assert_int_equal(gpx__ip_capturing(), 0);
    assert_int_equal(cuStreamBeginCapture_v2(NULL, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
    assert_string_equal(called, "cuStreamBeginCapture_v2");
    assert_int_equal(cuStreamBeginCapture_v2_ptsz(NULL, CU_STREAM_CAPTURE_MODE_RELAXED),
                     CUDA_SUCCESS);
    assert_string_equal(called, "cuStreamBeginCapture_v2_ptsz");
    assert_int_equal(gpx__ip_capturing(), 2);
    next_rc = CUDA_ERROR_INVALID_VALUE; /* a failed begin starts nothing */
    cuStreamBeginCapture_v2(NULL, CU_STREAM_CAPTURE_MODE_GLOBAL);
    assert_int_equal(gpx__ip_capturing(), 2);
    /* an end ends the capture even when the driver reports it invalidated */
    next_rc = CUDA_ERROR_INVALID_VALUE;
    assert_int_equal(cuStreamEndCapture(NULL, &g), CUDA_ERROR_INVALID_VALUE);
    assert_string_equal(called, "cuStreamEndCapture");
    assert_int_equal(gpx__ip_capturing(), 1);
    cuStreamEndCapture(NULL, &g);
    assert_int_equal(gpx__ip_capturing(), 0);
    cuStreamEndCapture(NULL, &g); /* unbalanced: never below zero */
    assert_int_equal(gpx__ip_capturing(), 0);
    /* a driver without capture: an error, not a crash */
    gpx__ip.real.cuStreamEndCapture_ptsz = NULL;
    assert_int_equal(cuStreamEndCapture_ptsz(NULL, &g), CUDA_ERROR_NOT_SUPPORTED);
}

int main(void)
{
    char tmpl[] = "/tmp/gpx-test-interpose.XXXXXX";
    if (!mkdtemp(tmpl))
        return 1;
    snprintf(run_dir, sizeof run_dir, "%s", tmpl);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_procaddr_exports, setup),
        cmocka_unit_test_setup(test_procaddr_internal_addresses, setup),
        cmocka_unit_test_setup(test_procaddr_v1_only_driver, setup),
        cmocka_unit_test_setup(test_dlsym, setup),
        cmocka_unit_test_setup(test_variants_forward_to_their_own, setup),
        cmocka_unit_test_setup(test_counted_sizes, setup),
        cmocka_unit_test_setup(test_refusals_and_rollbacks, setup),
        cmocka_unit_test_setup(test_credit_cells, setup),
        cmocka_unit_test_setup(test_meminfo, setup),
        cmocka_unit_test_setup(test_device_size, setup),
        cmocka_unit_test_setup(test_nvml_processes, setup),
        cmocka_unit_test_setup(test_nvml_planted_pid, setup),
        cmocka_unit_test_setup(test_fail_closed, setup),
        cmocka_unit_test_setup(test_ptrtable, setup),
        cmocka_unit_test_setup(test_cross_thread_free, setup),
        cmocka_unit_test_setup(test_pt_thread_tables, setup),
        cmocka_unit_test_setup(test_pt_exit_destructors, setup),
        cmocka_unit_test_setup(test_pt_spill, setup),
        cmocka_unit_test_setup(test_pt_fork, setup),
        cmocka_unit_test_setup(test_pt_many_threads, setup),
        cmocka_unit_test_setup(test_capture, setup),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", run_dir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
