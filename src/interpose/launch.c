/*
 * Work submission: kernel launches (plain, extended, cooperative, each with
 * its _ptsz variant) and graph launches. They are routed so that the
 * time-slicing turn (slice.c) is taken before work reaches a stream; without
 * a time-sliced lease they forward at the cost of one load and a predicted
 * branch (GPX_IP_SUBMIT_HOOK in interpose.h).
 *
 * This is the hottest path of the library (147 k launches per training step
 * are reported): it does no getenv, takes no lock, makes no syscall and
 * touches no shared memory.
 */
#include "interpose/interpose.h"

/* clang-format off */
GPX_IP_SUBMIT_HOOK(cuLaunchKernel, (CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void **extra), (f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream, kernelParams, extra))
GPX_IP_SUBMIT_HOOK(cuLaunchKernel_ptsz, (CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void **extra), (f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream, kernelParams, extra))
GPX_IP_SUBMIT_HOOK(cuLaunchKernelEx, (const CUlaunchConfig *config, CUfunction f, void **kernelParams, void **extra), (config, f, kernelParams, extra))
GPX_IP_SUBMIT_HOOK(cuLaunchKernelEx_ptsz, (const CUlaunchConfig *config, CUfunction f, void **kernelParams, void **extra), (config, f, kernelParams, extra))
GPX_IP_SUBMIT_HOOK(cuLaunchCooperativeKernel, (CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream, void **kernelParams), (f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream, kernelParams))
GPX_IP_SUBMIT_HOOK(cuLaunchCooperativeKernel_ptsz, (CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream, void **kernelParams), (f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream, kernelParams))
GPX_IP_SUBMIT_HOOK(cuGraphLaunch, (CUgraphExec hGraphExec, CUstream hStream), (hGraphExec, hStream))
GPX_IP_SUBMIT_HOOK(cuGraphLaunch_ptsz, (CUgraphExec hGraphExec, CUstream hStream), (hGraphExec, hStream))
/* clang-format on */

/* ---- stream capture: recorded work, not run (slice.c steps aside) -------------------------- */

/* `always`: run `after` whatever the driver says (an invalidated capture still ends). */
#define GPX_IP_CAPTURE_HOOK(name, params, args, after, always)                                     \
    GPX_EXPORT CUresult name params                                                                \
    {                                                                                              \
        gpx__ip_ensure();                                                                          \
        if (!gpx__ip.real.name)                                                                    \
            return gpx__ip_missing(#name);                                                         \
        CUresult r = gpx__ip.real.name args;                                                       \
        if (r == CUDA_SUCCESS || (always))                                                         \
            after();                                                                               \
        return r;                                                                                  \
    }

/* clang-format off */
GPX_IP_CAPTURE_HOOK(cuStreamBeginCapture_v2, (CUstream hStream, CUstreamCaptureMode mode), (hStream, mode), gpx__ip_capture_begin, 0)
GPX_IP_CAPTURE_HOOK(cuStreamBeginCapture_v2_ptsz, (CUstream hStream, CUstreamCaptureMode mode), (hStream, mode), gpx__ip_capture_begin, 0)
GPX_IP_CAPTURE_HOOK(cuStreamEndCapture, (CUstream hStream, CUgraph *phGraph), (hStream, phGraph), gpx__ip_capture_end, 1)
GPX_IP_CAPTURE_HOOK(cuStreamEndCapture_ptsz, (CUstream hStream, CUgraph *phGraph), (hStream, phGraph), gpx__ip_capture_end, 1)
/* clang-format on */

/* A destroyed context leaves the time-slice drain list (slice.c). */
GPX_EXPORT CUresult cuCtxDestroy_v2(CUcontext ctx)
{
    gpx__ip_ensure();
    if (!gpx__ip.real.cuCtxDestroy_v2)
        return gpx__ip_missing("cuCtxDestroy_v2");
    CUresult r = gpx__ip.real.cuCtxDestroy_v2(ctx);
    if (r == CUDA_SUCCESS)
        gpx__ip_context_gone(ctx);
    return r;
}
