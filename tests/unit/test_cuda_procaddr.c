/*
 * cuGetProcAddress of the simulated driver: each base name resolves to the
 * variant its CUDA version introduced (cuMemAlloc -> cuMemAlloc before 3.2,
 * cuMemAlloc_v2 after), never to one newer than the driver (12.4), and the
 * per-thread-default-stream flag gives the _ptds/_ptsz variants from 7.0 on.
 * The v1 and v2 signatures agree; unknown names and too-old versions say why
 * in symbolStatus. Works before cuInit, as frameworks call it first.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <string.h>

#include "abi/cuda_abi.h"

#define PTDS CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM

/* The exported symbol `want`, resolved by the dynamic linker. */
static void *sym(const char *want)
{
    void *p = dlsym(RTLD_DEFAULT, want);
    assert_non_null(p);
    return p;
}

static void expect(const char *base, int version, cuuint64_t flags, const char *want)
{
    void *fn = (void *)1;
    CUdriverProcAddressQueryResult status = (CUdriverProcAddressQueryResult)-1;
    CUresult r = cuGetProcAddress_v2(base, &fn, version, flags, &status);
    if (r != CUDA_SUCCESS || fn != sym(want))
        fail_msg("%s @%d flags %llu: got %d, %p; want %s (%p)", base, version,
                 (unsigned long long)flags, (int)r, fn, want, sym(want));
    assert_int_equal(status, CU_GET_PROC_ADDRESS_SUCCESS);
    /* The v1 signature resolves the same way. */
    void *fn1 = NULL;
    assert_int_equal(cuGetProcAddress(base, &fn1, version, flags), CUDA_SUCCESS);
    assert_ptr_equal(fn1, fn);
}

static void test_versions(void **state)
{
    (void)state;
    expect("cuMemAlloc", 2000, 0, "cuMemAlloc");
    expect("cuMemAlloc", 3010, 0, "cuMemAlloc");
    expect("cuMemAlloc", 3020, 0, "cuMemAlloc_v2");
    expect("cuMemAlloc", 12000, 0, "cuMemAlloc_v2");
    expect("cuMemFree", 12000, 0, "cuMemFree_v2");
    expect("cuMemGetInfo", 12000, 0, "cuMemGetInfo_v2");
    expect("cuMemAllocPitch", 11000, 0, "cuMemAllocPitch_v2");
    expect("cuCtxCreate", 3000, 0, "cuCtxCreate");
    expect("cuCtxCreate", 11000, 0, "cuCtxCreate_v2");
    expect("cuCtxCreate", 12000, 0, "cuCtxCreate_v3");
    expect("cuCtxDestroy", 3020, 0, "cuCtxDestroy");
    expect("cuCtxDestroy", 4000, 0, "cuCtxDestroy_v2");
    expect("cuDevicePrimaryCtxRelease", 10000, 0, "cuDevicePrimaryCtxRelease");
    expect("cuDevicePrimaryCtxRelease", 11000, 0, "cuDevicePrimaryCtxRelease_v2");
    expect("cuStreamDestroy", 12000, 0, "cuStreamDestroy_v2");
    expect("cuEventDestroy", 12000, 0, "cuEventDestroy_v2");
    expect("cuDeviceGetUuid", 11000, 0, "cuDeviceGetUuid");
    expect("cuDeviceGetUuid", 11040, 0, "cuDeviceGetUuid_v2");
    expect("cuGetProcAddress", 11030, 0, "cuGetProcAddress");
    expect("cuGetProcAddress", 12000, 0, "cuGetProcAddress_v2");
    expect("cuArrayCreate", 12000, 0, "cuArrayCreate_v2");
    expect("cuModuleGetGlobal", 12000, 0, "cuModuleGetGlobal_v2");
    expect("cuMemHostRegister", 6000, 0, "cuMemHostRegister");
    expect("cuMemHostRegister", 12000, 0, "cuMemHostRegister_v2");
    expect("cuMemAdvise", 12000, 0, "cuMemAdvise");
    expect("cuMemAdvise", 12020, 0, "cuMemAdvise_v2");
    /* Newer than this driver: the newest it has. */
    expect("cuEventElapsedTime", 13000, 0, "cuEventElapsedTime");
    expect("cuMemAlloc", 99999, 0, "cuMemAlloc_v2");
}

static void test_per_thread(void **state)
{
    (void)state;
    expect("cuLaunchKernel", 12000, 0, "cuLaunchKernel");
    expect("cuLaunchKernel", 12000, CU_GET_PROC_ADDRESS_LEGACY_STREAM, "cuLaunchKernel");
    expect("cuLaunchKernel", 12000, PTDS, "cuLaunchKernel_ptsz");
    expect("cuLaunchKernel", 6050, PTDS, "cuLaunchKernel"); /* before per-thread streams */
    expect("cuLaunchKernelEx", 12000, PTDS, "cuLaunchKernelEx_ptsz");
    expect("cuLaunchCooperativeKernel", 12000, PTDS, "cuLaunchCooperativeKernel_ptsz");
    expect("cuGraphLaunch", 12000, PTDS, "cuGraphLaunch_ptsz");
    expect("cuMemcpyAsync", 12000, PTDS, "cuMemcpyAsync_ptsz");
    expect("cuMemcpyHtoDAsync", 12000, PTDS, "cuMemcpyHtoDAsync_v2_ptsz");
    expect("cuMemcpyHtoD", 12000, PTDS, "cuMemcpyHtoD_v2_ptds");
    expect("cuMemcpyHtoD", 12000, 0, "cuMemcpyHtoD_v2");
    expect("cuMemcpyHtoD", 3000, PTDS, "cuMemcpyHtoD");
    expect("cuMemcpyDtoH", 12000, PTDS, "cuMemcpyDtoH_v2_ptds");
    expect("cuMemcpyDtoD", 12000, PTDS, "cuMemcpyDtoD_v2_ptds");
    expect("cuMemcpy", 12000, PTDS, "cuMemcpy_ptds");
    expect("cuMemsetD8", 12000, PTDS, "cuMemsetD8_v2_ptds");
    expect("cuMemsetD8Async", 12000, PTDS, "cuMemsetD8Async_ptsz");
    expect("cuStreamSynchronize", 12000, PTDS, "cuStreamSynchronize_ptsz");
    expect("cuStreamQuery", 12000, PTDS, "cuStreamQuery_ptsz");
    expect("cuEventRecord", 12000, PTDS, "cuEventRecord_ptsz");
    expect("cuMemAllocAsync", 12000, PTDS, "cuMemAllocAsync_ptsz");
    expect("cuMemFreeAsync", 12000, PTDS, "cuMemFreeAsync_ptsz");
    expect("cuMemAllocFromPoolAsync", 12000, PTDS, "cuMemAllocFromPoolAsync_ptsz");
    expect("cuMemAllocFromPoolAsync", 12000, 0, "cuMemAllocFromPoolAsync");
    /* No per-thread variant: the plain one. */
    expect("cuMemAlloc", 12000, PTDS, "cuMemAlloc_v2");
    expect("cuInit", 12000, PTDS, "cuInit");
}

/* The graph, peer, 2D-memset and linker rows, and the unmodelled entry points' rows. */
static void test_newer_surface(void **state)
{
    (void)state;
    expect("cuGraphInstantiate", 10000, 0, "cuGraphInstantiate");
    expect("cuGraphInstantiate", 11000, 0, "cuGraphInstantiate_v2");
    expect("cuGraphInstantiate", 12000, 0, "cuGraphInstantiateWithFlags");
    expect("cuGraphInstantiateWithFlags", 11040, 0, "cuGraphInstantiateWithFlags");
    expect("cuGraphAddKernelNode", 11000, 0, "cuGraphAddKernelNode");
    expect("cuGraphAddKernelNode", 12000, 0, "cuGraphAddKernelNode_v2");
    expect("cuGraphLaunch", 12000, PTDS, "cuGraphLaunch_ptsz");
    expect("cuStreamBeginCapture", 10000, 0, "cuStreamBeginCapture");
    expect("cuStreamBeginCapture", 10010, PTDS, "cuStreamBeginCapture_v2_ptsz");
    expect("cuStreamGetCaptureInfo", 11030, 0, "cuStreamGetCaptureInfo_v2");
    expect("cuStreamGetCaptureInfo", 12040, PTDS, "cuStreamGetCaptureInfo_v3_ptsz");
    expect("cuMemsetD2D8", 3010, 0, "cuMemsetD2D8");
    expect("cuMemsetD2D8", 3020, 0, "cuMemsetD2D8_v2");
    expect("cuMemsetD2D32", 12000, PTDS, "cuMemsetD2D32_v2_ptds");
    expect("cuMemsetD2D16Async", 12000, PTDS, "cuMemsetD2D16Async_ptsz");
    expect("cuMemcpyPeer", 12000, PTDS, "cuMemcpyPeer_ptds");
    expect("cuLinkCreate", 6000, 0, "cuLinkCreate");
    expect("cuLinkCreate", 12000, 0, "cuLinkCreate_v2");
    expect("cuIpcOpenMemHandle", 12000, 0, "cuIpcOpenMemHandle_v2");
    /* a 12.4 node: cuCtxCreate_v4 (12.5) is not handed out yet */
    expect("cuCtxCreate", 13000, 0, "cuCtxCreate_v3");
    /* unmodelled, from cuda_sim_stubs.c's rows */
    expect("cuTexRefSetAddress2D", 4000, 0, "cuTexRefSetAddress2D_v2");
    expect("cuTexRefSetAddress2D", 12000, 0, "cuTexRefSetAddress2D_v3");
    expect("cuStreamWaitValue32", 11000, 0, "cuStreamWaitValue32");
    expect("cuStreamWaitValue32", 12000, PTDS, "cuStreamWaitValue32_v2_ptsz");
    expect("cuGraphClone", 12000, 0, "cuGraphClone");
    void *fn = NULL;
    CUdriverProcAddressQueryResult st;
    assert_int_equal(cuGetProcAddress_v2("cuGreenCtxCreate", &fn, 12030, 0, &st),
                     CUDA_ERROR_NOT_FOUND);
    assert_int_equal(st, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
}

static void test_not_found(void **state)
{
    (void)state;
    void *fn = (void *)1;
    CUdriverProcAddressQueryResult status;
    assert_int_equal(cuGetProcAddress_v2("cuNoSuchThing", &fn, 12000, 0, &status),
                     CUDA_ERROR_NOT_FOUND);
    assert_null(fn);
    assert_int_equal(status, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
    /* Versioned names are not base names. */
    assert_int_equal(cuGetProcAddress_v2("cuMemAlloc_v2", &fn, 12000, 0, &status),
                     CUDA_ERROR_NOT_FOUND);
    /* Asked for a version before the function existed. */
    fn = (void *)1;
    assert_int_equal(cuGetProcAddress_v2("cuMemCreate", &fn, 10010, 0, &status),
                     CUDA_ERROR_NOT_FOUND);
    assert_null(fn);
    assert_int_equal(status, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
    assert_int_equal(cuGetProcAddress_v2("cuMemCreate", &fn, 10020, 0, &status), CUDA_SUCCESS);
    /* Bad arguments. */
    assert_int_equal(cuGetProcAddress_v2(NULL, &fn, 12000, 0, &status), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuGetProcAddress_v2("cuInit", NULL, 12000, 0, &status),
                     CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuGetProcAddress_v2("cuInit", &fn, 12000, 8, &status),
                     CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(cuGetProcAddress_v2("cuInit", &fn, 12000, 0, NULL), CUDA_SUCCESS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_per_thread),
        cmocka_unit_test(test_newer_surface),
        cmocka_unit_test(test_not_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
