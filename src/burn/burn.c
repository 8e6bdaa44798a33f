/*
 * gpuplex-burn: the test workload. It talks to the CUDA driver API only,
 * through libcuda.so.1 opened with dlopen (GPUPLEX_DRIVER_DIR first, as the
 * NVML loader does), resolving every entry point with cuGetProcAddress where
 * the driver has it, so that path is exercised like a framework's.
 *
 * It allocates up to --alloc-mib MiB in --chunk-mib chunks through one
 * allocation API, stopping at the first CUDA_ERROR_OUT_OF_MEMORY (refused=1),
 * then launches --kernels spin kernels of --kernel-ns ns round-robin on
 * --streams streams, waits for them, optionally holds the memory, frees it,
 * and prints one JSON object. The kernel is PTX embedded here: on a GPU it
 * spins on %globaltimer for its u64 parameter's ns; the simulated driver
 * reads the same parameter as the time the launch occupies the engine.
 *
 * Exit status: 0 done (refusals included), 1 a driver call failed, 2 usage.
 */
#define _GNU_SOURCE
#include "abi/cuda_abi.h"
#include "core/driver.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Spins until its parameter's nanoseconds have passed on the GPU's global timer. */
static const char spin_ptx[] = ".version 7.0\n"
                               ".target sm_70\n"
                               ".address_size 64\n"
                               "\n"
                               ".visible .entry gpx_spin(\n"
                               "    .param .u64 gpx_spin_ns\n"
                               ")\n"
                               "{\n"
                               "    .reg .pred %p<2>;\n"
                               "    .reg .b64 %rd<5>;\n"
                               "\n"
                               "    ld.param.u64 %rd1, [gpx_spin_ns];\n"
                               "    mov.u64 %rd2, %globaltimer;\n"
                               "$L_spin:\n"
                               "    mov.u64 %rd3, %globaltimer;\n"
                               "    sub.s64 %rd4, %rd3, %rd2;\n"
                               "    setp.lt.u64 %p1, %rd4, %rd1;\n"
                               "    @%p1 bra $L_spin;\n"
                               "    ret;\n"
                               "}\n";

/* The driver entry points, by the base name cuGetProcAddress takes. */
static struct {
    gpx_cuInit_fn init;
    gpx_cuDriverGetVersion_fn driver_version;
    gpx_cuGetErrorName_fn error_name;
    gpx_cuDeviceGetCount_fn device_count;
    gpx_cuDeviceGet_fn device_get;
    gpx_cuDeviceGetName_fn device_name;
    gpx_cuDevicePrimaryCtxRetain_fn ctx_retain;
    gpx_cuDevicePrimaryCtxRelease_v2_fn ctx_release;
    gpx_cuCtxSetCurrent_fn ctx_set_current;
    gpx_cuCtxSynchronize_fn ctx_sync;
    gpx_cuMemGetInfo_v2_fn mem_info;
    gpx_cuMemAlloc_v2_fn mem_alloc;
    gpx_cuMemAllocPitch_v2_fn mem_alloc_pitch;
    gpx_cuMemAllocManaged_fn mem_alloc_managed;
    gpx_cuMemFree_v2_fn mem_free;
    gpx_cuMemCreate_fn mem_create;
    gpx_cuMemRelease_fn mem_release;
    gpx_cuMemAddressReserve_fn addr_reserve;
    gpx_cuMemAddressFree_fn addr_free;
    gpx_cuMemMap_fn mem_map;
    gpx_cuMemUnmap_fn mem_unmap;
    gpx_cuMemSetAccess_fn mem_set_access;
    gpx_cuMemGetAllocationGranularity_fn granularity;
    gpx_cuMemAllocAsync_fn mem_alloc_async;
    gpx_cuMemFreeAsync_fn mem_free_async;
    gpx_cuMemcpyHtoD_v2_fn htod;
    gpx_cuMemcpyDtoH_v2_fn dtoh;
    gpx_cuMemsetD8_v2_fn memset8;
    gpx_cuStreamCreate_fn stream_create;
    gpx_cuStreamDestroy_v2_fn stream_destroy;
    gpx_cuStreamSynchronize_fn stream_sync;
    gpx_cuModuleLoadData_fn module_load;
    gpx_cuModuleUnload_fn module_unload;
    gpx_cuModuleGetFunction_fn module_function;
    gpx_cuLaunchKernel_fn launch;
} cu;

struct entry {
    const char *base;     /* what cuGetProcAddress is asked for */
    const char *exported; /* the symbol dlsym falls back to */
    void **fp;
    int required; /* 0: only the --api or --verify that uses it needs it */
};

#define E(base, exported, field)                                                                   \
    {                                                                                              \
#base, #exported, (void **)&cu.field, 1                                                    \
    }
#define EO(base, exported, field)                                                                  \
    {                                                                                              \
#base, #exported, (void **)&cu.field, 0                                                    \
    }

static const struct entry entries[] = {
    E(cuInit, cuInit, init),
    E(cuDriverGetVersion, cuDriverGetVersion, driver_version),
    E(cuGetErrorName, cuGetErrorName, error_name),
    E(cuDeviceGetCount, cuDeviceGetCount, device_count),
    E(cuDeviceGet, cuDeviceGet, device_get),
    E(cuDeviceGetName, cuDeviceGetName, device_name),
    E(cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRetain, ctx_retain),
    E(cuDevicePrimaryCtxRelease, cuDevicePrimaryCtxRelease_v2, ctx_release),
    E(cuCtxSetCurrent, cuCtxSetCurrent, ctx_set_current),
    E(cuCtxSynchronize, cuCtxSynchronize, ctx_sync),
    E(cuMemGetInfo, cuMemGetInfo_v2, mem_info),
    E(cuMemAlloc, cuMemAlloc_v2, mem_alloc),
    EO(cuMemAllocPitch, cuMemAllocPitch_v2, mem_alloc_pitch),
    EO(cuMemAllocManaged, cuMemAllocManaged, mem_alloc_managed),
    E(cuMemFree, cuMemFree_v2, mem_free),
    EO(cuMemCreate, cuMemCreate, mem_create),
    EO(cuMemRelease, cuMemRelease, mem_release),
    EO(cuMemAddressReserve, cuMemAddressReserve, addr_reserve),
    EO(cuMemAddressFree, cuMemAddressFree, addr_free),
    EO(cuMemMap, cuMemMap, mem_map),
    EO(cuMemUnmap, cuMemUnmap, mem_unmap),
    EO(cuMemSetAccess, cuMemSetAccess, mem_set_access),
    EO(cuMemGetAllocationGranularity, cuMemGetAllocationGranularity, granularity),
    EO(cuMemAllocAsync, cuMemAllocAsync, mem_alloc_async),
    EO(cuMemFreeAsync, cuMemFreeAsync, mem_free_async),
    EO(cuMemcpyHtoD, cuMemcpyHtoD_v2, htod),
    EO(cuMemcpyDtoH, cuMemcpyDtoH_v2, dtoh),
    EO(cuMemsetD8, cuMemsetD8_v2, memset8),
    E(cuStreamCreate, cuStreamCreate, stream_create),
    E(cuStreamDestroy, cuStreamDestroy_v2, stream_destroy),
    E(cuStreamSynchronize, cuStreamSynchronize, stream_sync),
    E(cuModuleLoadData, cuModuleLoadData, module_load),
    E(cuModuleUnload, cuModuleUnload, module_unload),
    E(cuModuleGetFunction, cuModuleGetFunction, module_function),
    E(cuLaunchKernel, cuLaunchKernel, launch),
};

/* The CUDA version whose entry points this program was written against. */
#define BURN_CUDA_VERSION 12000

enum api { API_ALLOC, API_PITCH, API_MANAGED, API_VMM, API_ASYNC };
static const char *const api_names[] = {"alloc", "pitch", "managed", "vmm", "async"};

struct opts {
    uint64_t alloc_mib, chunk_mib, kernels, kernel_ns, streams, hold_ms, duration_ms, sync_every;
    uint64_t mix_every, start_at_ms;
    int device;
    enum api api;
    int json, verify;
};

struct chunk {
    CUdeviceptr ptr;
    size_t size;                         /* bytes asked for */
    size_t mapped;                       /* vmm: bytes reserved and mapped */
    CUmemGenericAllocationHandle handle; /* vmm */
};

struct result {
    uint64_t allocated_mib, refused, kernels;
    uint64_t mixed; /* --mix-every rounds done: allocate, copy in and out, free */
    double kernel_s, wall_s;
    char device_name[128];
    size_t mem_total, mem_free;
    char error[512];
    int verified; /* -1: not asked */
    int resolved_by_procaddress;
};

static struct result res = {.verified = -1};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *cu_name(CUresult r)
{
    const char *s = NULL;
    if (cu.error_name && cu.error_name(r, &s) == CUDA_SUCCESS && s)
        return s;
    return "CUDA_ERROR_?";
}

/* Records the first failure (later ones are consequences). Returns -1. */
static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    if (res.error[0])
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res.error, sizeof res.error, fmt, ap);
    va_end(ap);
    return -1;
}

#define CHECK(call, what)                                                                          \
    do {                                                                                           \
        CUresult r_ = (call);                                                                      \
        if (r_ != CUDA_SUCCESS)                                                                    \
            return fail("%s: %s (%d)", what, cu_name(r_), (int)r_);                                \
    } while (0)

/* ---------------------------------------------------------------- loading */

static void *driver;

static int load_driver(void)
{
    char path[PATH_MAX];
    const char *dir = getenv("GPUPLEX_DRIVER_DIR");
    if (dir && *dir)
        snprintf(path, sizeof path, "%s/libcuda.so.1", dir);
    else
        snprintf(path, sizeof path, "libcuda.so.1");
    driver = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!driver)
        return fail("cannot load the CUDA driver (%s): %s; to run without a GPU, create a "
                    "simulated node with 'gpuplex sim init --gpus 1xH100-80GB --state FILE' "
                    "and set GPUPLEX_SIM=FILE",
                    path, dlerror());
    gpx_cuGetProcAddress_v2_fn gpa2 =
        (gpx_cuGetProcAddress_v2_fn)dlsym(driver, "cuGetProcAddress_v2");
    gpx_cuGetProcAddress_fn gpa1 = (gpx_cuGetProcAddress_fn)dlsym(driver, "cuGetProcAddress");
    gpx_cuDriverGetVersion_fn ver = (gpx_cuDriverGetVersion_fn)dlsym(driver, "cuDriverGetVersion");
    /* Ask for the entry points of our version, or of an older driver's own. */
    int v = 0;
    if (!ver || ver(&v) != CUDA_SUCCESS || v <= 0 || v > BURN_CUDA_VERSION)
        v = BURN_CUDA_VERSION;
    res.resolved_by_procaddress = gpa2 || gpa1;
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        void *fp = NULL;
        CUdriverProcAddressQueryResult st;
        if (gpa2)
            gpa2(entries[i].base, &fp, v, CU_GET_PROC_ADDRESS_DEFAULT, &st);
        else if (gpa1)
            gpa1(entries[i].base, &fp, v, CU_GET_PROC_ADDRESS_DEFAULT);
        if (!fp) {
            fp = dlsym(driver, entries[i].exported);
            if (fp && (gpa1 || gpa2))
                res.resolved_by_procaddress = 0;
        }
        *entries[i].fp = fp;
        if (!fp && entries[i].required)
            return fail("%s lacks %s: driver too old?", path, entries[i].exported);
    }
    return 0;
}

/* ---------------------------------------------------------------- allocation */

static int need(void *fp, const char *name)
{
    return fp ? 0 : fail("the driver lacks %s", name);
}

/* One chunk through the chosen API. 1: refused (out of memory), 0: done, -1: failed. */
static int alloc_chunk(const struct opts *o, struct chunk *c, CUdevice dev, CUstream s0)
{
    CUresult r = CUDA_SUCCESS;
    switch (o->api) {
    case API_ALLOC:
        if (need((void *)cu.mem_alloc, "cuMemAlloc"))
            return -1;
        r = cu.mem_alloc(&c->ptr, c->size);
        break;
    case API_PITCH: {
        if (need((void *)cu.mem_alloc_pitch, "cuMemAllocPitch"))
            return -1;
        /* 1 MiB rows: the pitch is the row width, so the chunk is exactly its size. */
        size_t pitch = 0;
        r = cu.mem_alloc_pitch(&c->ptr, &pitch, 1 << 20, c->size >> 20, 4);
        break;
    }
    case API_MANAGED:
        if (need((void *)cu.mem_alloc_managed, "cuMemAllocManaged"))
            return -1;
        r = cu.mem_alloc_managed(&c->ptr, c->size, CU_MEM_ATTACH_GLOBAL);
        break;
    case API_ASYNC:
        if (need((void *)cu.mem_alloc_async, "cuMemAllocAsync"))
            return -1;
        r = cu.mem_alloc_async(&c->ptr, c->size, s0);
        break;
    case API_VMM: {
        if (need((void *)cu.mem_create, "cuMemCreate") ||
            need((void *)cu.granularity, "cuMemGetAllocationGranularity"))
            return -1;
        CUmemAllocationProp prop;
        memset(&prop, 0, sizeof prop);
        prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
        prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
        prop.location.id = dev;
        size_t g = 0;
        CHECK(cu.granularity(&g, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM),
              "cuMemGetAllocationGranularity");
        c->mapped = (c->size + g - 1) / g * g;
        r = cu.mem_create(&c->handle, c->mapped, &prop, 0);
        if (r != CUDA_SUCCESS)
            break;
        CUmemAccessDesc acc;
        memset(&acc, 0, sizeof acc);
        acc.location = prop.location;
        acc.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
        CHECK(cu.addr_reserve(&c->ptr, c->mapped, 0, 0, 0), "cuMemAddressReserve");
        CHECK(cu.mem_map(c->ptr, c->mapped, 0, c->handle, 0), "cuMemMap");
        CHECK(cu.mem_set_access(c->ptr, c->mapped, &acc, 1), "cuMemSetAccess");
        break;
    }
    }
    if (r == CUDA_ERROR_OUT_OF_MEMORY)
        return 1;
    if (r != CUDA_SUCCESS)
        return fail("allocating %zu MiB through --api %s: %s (%d)", c->size >> 20,
                    api_names[o->api], cu_name(r), (int)r);
    return 0;
}

static int free_chunk(const struct opts *o, struct chunk *c, CUstream s0)
{
    switch (o->api) {
    case API_VMM:
        CHECK(cu.mem_unmap(c->ptr, c->mapped), "cuMemUnmap");
        CHECK(cu.addr_free(c->ptr, c->mapped), "cuMemAddressFree");
        CHECK(cu.mem_release(c->handle), "cuMemRelease");
        return 0;
    case API_ASYNC:
        CHECK(cu.mem_free_async(c->ptr, s0), "cuMemFreeAsync");
        return 0;
    default:
        CHECK(cu.mem_free(c->ptr), "cuMemFree");
        return 0;
    }
}

/* Copies a pattern in and out of the chunk's first and last MiB. */
static int verify_chunk(const struct chunk *c)
{
    if (need((void *)cu.htod, "cuMemcpyHtoD") || need((void *)cu.dtoh, "cuMemcpyDtoH") ||
        need((void *)cu.memset8, "cuMemsetD8"))
        return -1;
    size_t n = c->size < (1 << 20) ? c->size : (1 << 20);
    /* malloc(0) may return NULL: an empty chunk still gets a (1-byte) buffer */
    unsigned char *in = malloc(n ? n : 1), *out = malloc(n ? n : 1);
    if (!in || !out) {
        free(in);
        free(out);
        return fail("out of host memory");
    }
    int rc = 0;
    CUdeviceptr at[2] = {c->ptr, c->ptr + c->size - n};
    for (int k = 0; k < 2 && rc == 0; k++) {
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)(i * 131 + (size_t)k * 7 + (c->ptr >> 20));
        CUresult r = cu.htod(at[k], in, n);
        if (r == CUDA_SUCCESS)
            r = cu.dtoh(out, at[k], n);
        if (r != CUDA_SUCCESS)
            rc = fail("copying %zu bytes: %s (%d)", n, cu_name(r), (int)r);
        else if (memcmp(in, out, n) != 0)
            rc = fail("copy round trip returned different bytes");
        if (rc == 0 && (r = cu.memset8(at[k], 0xa5, n)) == CUDA_SUCCESS &&
            (r = cu.dtoh(out, at[k], n)) == CUDA_SUCCESS) {
            for (size_t i = 0; i < n && rc == 0; i++)
                if (out[i] != 0xa5)
                    rc = fail("cuMemsetD8 result differs at byte %zu", i);
        } else if (rc == 0) {
            rc = fail("cuMemsetD8: %s (%d)", cu_name(r), (int)r);
        }
    }
    free(in);
    free(out);
    return rc;
}

/*
 * One round of --mix-every: a chunk allocated through --api, 1 MiB (at most the
 * chunk) copied in and back, the chunk freed: the allocation and copy traffic a
 * training step has between its kernels, so that a mode's cost on those calls
 * (the interposer's quota accounting) shows in the kernels' throughput.
 */
static int mix_round(const struct opts *o, CUdevice dev, CUstream s0, unsigned char *buf)
{
    if (need((void *)cu.htod, "cuMemcpyHtoD") || need((void *)cu.dtoh, "cuMemcpyDtoH"))
        return -1;
    struct chunk c = {.size = (size_t)o->chunk_mib << 20};
    int a = alloc_chunk(o, &c, dev, s0);
    if (a != 0)
        return a > 0 ? fail("--mix-every: a %" PRIu64 " MiB chunk was refused (out of memory)",
                            o->chunk_mib)
                     : -1;
    if (o->api == API_ASYNC && cu.stream_sync(s0) != CUDA_SUCCESS)
        return fail("cuStreamSynchronize after cuMemAllocAsync");
    size_t n = c.size < (1 << 20) ? c.size : (1 << 20);
    CHECK(cu.htod(c.ptr, buf, n), "cuMemcpyHtoD");
    CHECK(cu.dtoh(buf, c.ptr, n), "cuMemcpyDtoH");
    if (free_chunk(o, &c, s0) < 0)
        return -1;
    if (o->api == API_ASYNC && cu.stream_sync(s0) != CUDA_SUCCESS)
        return fail("cuStreamSynchronize after cuMemFreeAsync");
    res.mixed++;
    return 0;
}

/* ---------------------------------------------------------------- the run */

static int run(const struct opts *o)
{
    double t0 = now_s();
    if (load_driver() < 0)
        return -1;
    CHECK(cu.init(0), "cuInit");
    int count = 0;
    CHECK(cu.device_count(&count), "cuDeviceGetCount");
    if (o->device >= count)
        return fail("--device %d: the driver shows %d device(s)", o->device, count);
    CUdevice dev;
    CHECK(cu.device_get(&dev, o->device), "cuDeviceGet");
    CHECK(cu.device_name(res.device_name, sizeof res.device_name, dev), "cuDeviceGetName");
    CUcontext ctx;
    CHECK(cu.ctx_retain(&ctx, dev), "cuDevicePrimaryCtxRetain");
    CHECK(cu.ctx_set_current(ctx), "cuCtxSetCurrent");
    CHECK(cu.mem_info(&res.mem_free, &res.mem_total), "cuMemGetInfo");

    size_t nstreams = o->streams ? o->streams : 1;
    /* CUstream is a pointer to an opaque struct: an array of handles */
    CUstream *streams = calloc(nstreams, sizeof *streams); // NOLINT(bugprone-sizeof-expression)
    size_t nchunks = o->chunk_mib ? (o->alloc_mib + o->chunk_mib - 1) / o->chunk_mib : 0;
    struct chunk *chunks = calloc(nchunks ? nchunks : 1, sizeof *chunks);
    if (!streams || !chunks) {
        free(streams);
        free(chunks);
        return fail("out of host memory");
    }
    int rc = 0;
    for (size_t i = 0; i < nstreams && rc == 0; i++) {
        CUresult r = cu.stream_create(&streams[i], CU_STREAM_NON_BLOCKING);
        if (r != CUDA_SUCCESS)
            rc = fail("cuStreamCreate: %s (%d)", cu_name(r), (int)r);
    }

    /* Memory: chunk by chunk until the total or the first refusal. */
    size_t held = 0;
    for (uint64_t left = o->alloc_mib; rc == 0 && left > 0; held++) {
        uint64_t mib = left < o->chunk_mib ? left : o->chunk_mib;
        chunks[held].size = (size_t)mib << 20;
        int a = alloc_chunk(o, &chunks[held], dev, streams[0]);
        if (a != 0) {
            if (a > 0)
                res.refused = 1;
            else
                rc = -1;
            break;
        }
        res.allocated_mib += mib;
        left -= mib;
        if (o->verify && verify_chunk(&chunks[held]) < 0)
            rc = -1;
    }
    if (rc == 0 && o->api == API_ASYNC && cu.stream_sync(streams[0]) != CUDA_SUCCESS)
        rc = fail("cuStreamSynchronize after allocating");
    if (rc == 0) {
        CUresult r = cu.mem_info(&res.mem_free, &res.mem_total);
        if (r != CUDA_SUCCESS)
            rc = fail("cuMemGetInfo: %s (%d)", cu_name(r), (int)r);
    }
    if (o->verify && rc == 0)
        res.verified = 1;

    /* Kernels: round-robin over the streams, then wait for all of them. */
    CUmodule mod = NULL;
    if (rc == 0 && (o->kernels > 0 || o->duration_ms > 0)) {
        CUfunction fn;
        CUresult r = cu.module_load(&mod, spin_ptx);
        if (r == CUDA_SUCCESS)
            r = cu.module_function(&fn, mod, "gpx_spin");
        if (r != CUDA_SUCCESS) {
            rc = fail("loading the spin kernel: %s (%d)", cu_name(r), (int)r);
        } else {
            uint64_t ns = o->kernel_ns;
            void *args[] = {&ns};
            /* --start-at-ms: concurrent tenants launch their first kernel together */
            if (o->start_at_ms) {
                struct timespec at = {(time_t)(o->start_at_ms / 1000),
                                      (long)(o->start_at_ms % 1000) * 1000000L};
                while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR)
                    ;
            }
            unsigned char *mixbuf = o->mix_every ? calloc(1, 1 << 20) : NULL;
            if (o->mix_every && !mixbuf)
                rc = fail("out of host memory");
            double k0 = now_s();
            double end = k0 + (double)o->duration_ms / 1000.0;
            /* --kernels K, or as many as fit in --duration-ms (K then caps them, 0 = no cap) */
            for (uint64_t k = 0; rc == 0 && (o->kernels == 0 || k < o->kernels) &&
                                 (o->duration_ms == 0 || now_s() < end);
                 k++) {
                r = cu.launch(fn, 1, 1, 1, 1, 1, 1, 0, streams[k % nstreams], args, NULL);
                if (r != CUDA_SUCCESS)
                    rc =
                        fail("cuLaunchKernel (kernel %" PRIu64 "): %s (%d)", k, cu_name(r), (int)r);
                else
                    res.kernels++;
                /* a synchronous workload: wait for every N-th kernel */
                if (rc == 0 && o->sync_every && (k + 1) % o->sync_every == 0) {
                    r = cu.stream_sync(streams[k % nstreams]);
                    if (r != CUDA_SUCCESS)
                        rc = fail("cuStreamSynchronize: %s (%d)", cu_name(r), (int)r);
                }
                if (rc == 0 && o->mix_every && (k + 1) % o->mix_every == 0)
                    rc = mix_round(o, dev, streams[0], mixbuf);
            }
            free(mixbuf);
            for (size_t i = 0; i < nstreams && rc == 0; i++) {
                r = cu.stream_sync(streams[i]);
                if (r != CUDA_SUCCESS)
                    rc = fail("cuStreamSynchronize: %s (%d)", cu_name(r), (int)r);
            }
            res.kernel_s = now_s() - k0;
        }
    }
    res.wall_s = now_s() - t0;

    if (o->hold_ms) {
        fflush(stdout);
        struct timespec ts = {(time_t)(o->hold_ms / 1000), (long)(o->hold_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }

    for (size_t i = 0; i < held; i++)
        if (free_chunk(o, &chunks[i], streams[0]) < 0)
            rc = -1;
    if (o->api == API_ASYNC && held && cu.stream_sync(streams[0]) != CUDA_SUCCESS)
        rc = fail("cuStreamSynchronize after freeing");
    if (mod)
        cu.module_unload(mod);
    for (size_t i = 0; i < nstreams; i++)
        if (streams[i])
            cu.stream_destroy(streams[i]);
    if (cu.ctx_release)
        cu.ctx_release(dev);
    free(streams);
    free(chunks);
    return rc;
}

/* ---------------------------------------------------------------- output */

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void report(const struct opts *o)
{
    double kps = res.kernel_s > 0 ? (double)res.kernels / res.kernel_s : 0;
    if (!o->json) {
        printf("device:        %s\n", res.device_name[0] ? res.device_name : "-");
        printf("api:           %s\n", api_names[o->api]);
        printf("allocated:     %" PRIu64 " MiB%s\n", res.allocated_mib,
               res.refused ? " (refused after that)" : "");
        printf("device memory: %zu MiB free of %zu MiB\n", res.mem_free >> 20, res.mem_total >> 20);
        printf("kernels:       %" PRIu64 " in %.3f s (%.1f/s)\n", res.kernels, res.kernel_s, kps);
        if (o->mix_every)
            printf("mixed:         %" PRIu64 " alloc+copy+free rounds\n", res.mixed);
        printf("wall:          %.3f s\n", res.wall_s);
        if (res.verified >= 0)
            printf("copies:        %s\n", res.verified ? "verified" : "not verified");
        if (res.error[0])
            printf("error:         %s\n", res.error);
        return;
    }
    printf("{\"api\": ");
    json_str(api_names[o->api]);
    printf(", \"device\": %d, \"device_name\": ", o->device);
    json_str(res.device_name);
    printf(", \"allocated_mib\": %" PRIu64 ", \"refused\": %" PRIu64, res.allocated_mib,
           res.refused);
    printf(", \"mem_total_mib\": %zu, \"mem_free_mib\": %zu", res.mem_total >> 20,
           res.mem_free >> 20);
    printf(", \"kernels\": %" PRIu64 ", \"kernel_ns\": %" PRIu64 ", \"streams\": %" PRIu64,
           res.kernels, o->kernel_ns, o->streams);
    printf(", \"kernel_s\": %.6f, \"kernels_per_s\": %.3f, \"wall_s\": %.6f", res.kernel_s, kps,
           res.wall_s);
    if (o->mix_every)
        printf(", \"mixed\": %" PRIu64, res.mixed);
    printf(", \"resolved_by\": \"%s\"", res.resolved_by_procaddress ? "cuGetProcAddress" : "dlsym");
    if (res.verified >= 0)
        printf(", \"verified\": %s", res.verified ? "true" : "false");
    if (res.error[0]) {
        printf(", \"error\": ");
        json_str(res.error);
    }
    printf("}\n");
}

/* ---------------------------------------------------------------- arguments */

static const char usage_text[] =
    "usage: gpuplex-burn [options]\n"
    "\n"
    "A test workload on the CUDA driver API (libcuda.so.1, loaded at run time; on a\n"
    "machine without a GPU, set GPUPLEX_SIM to a node from 'gpuplex sim init').\n"
    "It allocates device memory in chunks, launches spin kernels, waits for them,\n"
    "frees everything and reports what happened.\n"
    "\n"
    "  --alloc-mib N    allocate up to N MiB of device memory (default 0)\n"
    "  --chunk-mib C    in chunks of C MiB (default 64); the first chunk the driver\n"
    "                   refuses with CUDA_ERROR_OUT_OF_MEMORY ends allocation and\n"
    "                   is reported as refused=1\n"
    "  --api API        how to allocate: alloc (cuMemAlloc), pitch (cuMemAllocPitch,\n"
    "                   1 MiB rows), managed (cuMemAllocManaged), vmm (cuMemCreate +\n"
    "                   cuMemAddressReserve + cuMemMap + cuMemSetAccess) or async\n"
    "                   (cuMemAllocAsync from the device's default pool); default alloc\n"
    "  --kernels K      launch K spin kernels after allocating (default 0)\n"
    "  --kernel-ns T    each spinning T ns (default 1000000)\n"
    "  --duration-ms D  launch kernels for D ms instead (--kernels then caps them)\n"
    "  --sync-every N   wait for every N-th kernel (a synchronous workload)\n"
    "  --streams S      round-robin over S streams (default 1)\n"
    "  --start-at-ms T  wait until CLOCK_MONOTONIC reaches T ms before the first\n"
    "                   kernel (tenants started apart launch together; the past: now)\n"
    "  --mix-every N    after every N-th kernel, allocate a --chunk-mib chunk (--api),\n"
    "                   copy 1 MiB into it and back, and free it (the mixed workload\n"
    "                   of 'gpuplex bench'); a refused chunk is then an error\n"
    "  --device D       use CUDA device D (default 0)\n"
    "  --hold-ms M      keep the memory allocated M ms after the kernels, then free it\n"
    "  --verify         copy a pattern into each chunk and back, and check a memset\n"
    "  --json           print one JSON object instead of text\n"
    "  -h, --help       show this help\n"
    "\n"
    "JSON fields: api, device, device_name, allocated_mib, refused, mem_total_mib and\n"
    "mem_free_mib (cuMemGetInfo after allocating), kernels, kernel_ns, streams,\n"
    "kernel_s (first launch to last kernel done), kernels_per_s, wall_s (start to the\n"
    "kernels' end, without --hold-ms), mixed (with --mix-every), resolved_by, verified\n"
    "(with --verify), and\n"
    "error when something failed.\n"
    "\n"
    "Exit status: 0 done (a refusal is a result, not a failure), 1 a driver call\n"
    "failed, 2 bad usage.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gpuplex-burn: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see gpuplex-burn --help)\n");
    va_end(ap);
    return 2;
}

static int parse_u64(const char *flag, const char *s, uint64_t max, uint64_t *out)
{
    if (!s)
        return usage_error("%s needs a value", flag);
    char *end;
    errno = 0;
    if (*s == '-' || *s == '+' || *s == ' ')
        return usage_error("%s: '%s' is not a non-negative whole number", flag, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || errno)
        return usage_error("%s: '%s' is not a non-negative whole number", flag, s);
    if (v > max)
        return usage_error("%s: %s is more than %" PRIu64, flag, s, max);
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.chunk_mib = 64, .kernel_ns = 1000000, .streams = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t v = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            exit(0);
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--verify")) {
            o->verify = 1;
        } else if (!strcmp(a, "--alloc-mib")) {
            if (parse_u64(a, val, 1ULL << 30, &o->alloc_mib))
                return 2;
            i++;
        } else if (!strcmp(a, "--chunk-mib")) {
            if (parse_u64(a, val, 1ULL << 30, &o->chunk_mib))
                return 2;
            if (o->chunk_mib == 0)
                return usage_error("--chunk-mib must be at least 1");
            i++;
        } else if (!strcmp(a, "--kernels")) {
            if (parse_u64(a, val, 100000000ULL, &o->kernels))
                return 2;
            i++;
        } else if (!strcmp(a, "--duration-ms")) {
            if (parse_u64(a, val, 24ULL * 3600 * 1000, &o->duration_ms))
                return 2;
            i++;
        } else if (!strcmp(a, "--sync-every")) {
            if (parse_u64(a, val, 100000000ULL, &o->sync_every))
                return 2;
            i++;
        } else if (!strcmp(a, "--start-at-ms")) {
            if (parse_u64(a, val, UINT64_MAX / 1000000, &o->start_at_ms))
                return 2;
            i++;
        } else if (!strcmp(a, "--mix-every")) {
            if (parse_u64(a, val, 100000000ULL, &o->mix_every))
                return 2;
            i++;
        } else if (!strcmp(a, "--kernel-ns")) {
            if (parse_u64(a, val, 60ULL * 1000000000ULL, &o->kernel_ns))
                return 2;
            i++;
        } else if (!strcmp(a, "--streams")) {
            if (parse_u64(a, val, 1024, &o->streams))
                return 2;
            if (o->streams == 0)
                return usage_error("--streams must be at least 1");
            i++;
        } else if (!strcmp(a, "--hold-ms")) {
            if (parse_u64(a, val, 24ULL * 3600 * 1000, &o->hold_ms))
                return 2;
            i++;
        } else if (!strcmp(a, "--device")) {
            if (parse_u64(a, val, 1023, &v))
                return 2;
            o->device = (int)v;
            i++;
        } else if (!strcmp(a, "--api")) {
            if (!val)
                return usage_error("--api needs a value: alloc, pitch, managed, vmm or async");
            size_t k = 0;
            while (k < sizeof api_names / sizeof api_names[0] && strcmp(val, api_names[k]) != 0)
                k++;
            if (k == sizeof api_names / sizeof api_names[0])
                return usage_error("--api: '%s' is not one of alloc, pitch, managed, vmm, async",
                                   val);
            o->api = (enum api)k;
            i++;
        } else {
            return usage_error("unknown argument '%s'", a);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    /* Under GPUPLEX_SIM, find the simulated driver shipped with this build, as gpuplex does. */
    gpx_driver_select();
    rc = run(&o) < 0 ? 1 : 0;
    report(&o);
    if (rc && !o.json)
        fprintf(stderr, "gpuplex-burn: %s\n", res.error);
    fflush(stdout);
    /* The driver stays loaded: unloading a real libcuda.so.1 with live threads is unsafe. */
    return rc;
}
