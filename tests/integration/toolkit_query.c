/*
 * A driver-API program as a user of the CUDA toolkit writes one: built at
 * test time against the installed toolkit's cuda.h (which maps cuCtxCreate,
 * cuDeviceTotalMem, cuMemGetInfo and cuCtxDestroy to their versioned
 * entry points: cuCtxCreate_v4 in CUDA 13) and linked with -lcuda, the way
 * deviceQueryDrv is. Not part of the build: tests/integration/cuda_toolkit.sh
 * compiles it where /usr/local/cuda exists.
 *
 * Prints key=value lines for device 0: the driver's CUDA version, the
 * device's name and compute capability, cuDeviceTotalMem (what
 * deviceQueryDrv prints as "Total amount of global memory") and
 * cuMemGetInfo's total inside a context. Exit status 1 on any CUDA error,
 * with the call and the error's name.
 */
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>

#define MIB (1024ULL * 1024ULL)

static void check(CUresult r, const char *what)
{
    if (r == CUDA_SUCCESS)
        return;
    const char *name = NULL;
    if (cuGetErrorName(r, &name) != CUDA_SUCCESS || !name)
        name = "?";
    fprintf(stderr, "toolkit_query: %s: %s (%d)\n", what, name, (int)r);
    exit(1);
}

int main(void)
{
    printf("cuda_h=%d\n", CUDA_VERSION);
    check(cuInit(0), "cuInit");
    int version = 0, count = 0;
    check(cuDriverGetVersion(&version), "cuDriverGetVersion");
    check(cuDeviceGetCount(&count), "cuDeviceGetCount");
    printf("driver=%d\ndevices=%d\n", version, count);
    CUdevice dev;
    check(cuDeviceGet(&dev, 0), "cuDeviceGet");
    char name[256];
    check(cuDeviceGetName(name, sizeof name, dev), "cuDeviceGetName");
    int major = 0, minor = 0;
    check(cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev),
          "cuDeviceGetAttribute(major)");
    check(cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev),
          "cuDeviceGetAttribute(minor)");
    size_t total = 0;
    check(cuDeviceTotalMem(&total, dev), "cuDeviceTotalMem");
    printf("name=%s\ncc=%d.%d\ntotal_mem_mib=%llu\n", name, major, minor,
           (unsigned long long)(total / MIB));

    CUcontext ctx;
#if CUDA_VERSION >= 13000
    /* CUDA 13 headers: cuCtxCreate is cuCtxCreate_v4 (creation parameters) */
    check(cuCtxCreate(&ctx, NULL, 0, dev), "cuCtxCreate");
#else
    check(cuCtxCreate(&ctx, 0, dev), "cuCtxCreate");
#endif
    size_t free_b = 0, total_b = 0;
    check(cuMemGetInfo(&free_b, &total_b), "cuMemGetInfo");
    printf("meminfo_total_mib=%llu\n", (unsigned long long)(total_b / MIB));
    check(cuCtxDestroy(ctx), "cuCtxDestroy");
    return 0;
}
