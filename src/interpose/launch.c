/*
 * Work submission: kernel launches (plain, extended, cooperative, each with
 * its _ptsz variant) and graph launches. Today they only forward; they are
 * routed so that the time-slicing arbiter has one place to take the GPU's
 * turn before work reaches a stream (gpx__ip_submit_begin).
 *
 * This is the hottest path of the library (147 k launches per training step
 * are reported): it must do no getenv, take no lock, make no syscall and
 * touch no shared memory. What it does: loads and tests `ready`, the arbiter
 * hook and the real pointer, then tail-jumps to the driver; everything else
 * (first-call init, the arbiter, a missing entry point) is in a cold function.
 */
#include "interpose/interpose.h"

#define REAL(name) gpx__ip.real.name

/*
 * The fast path may call the real entry point directly: init is done (the
 * acquire load orders the read of fn after it; fn is re-read by the slow
 * path otherwise), no arbiter hook is installed and the driver has it.
 */
#define FAST_OK(fn)                                                                                \
    (atomic_load_explicit(&gpx__ip.ready, memory_order_acquire) && !gpx__submit_enter && (fn))

/* Cold: first call (init), an arbiter installed, or a driver without cuLaunchKernel. */
__attribute__((noinline, cold)) static CUresult
cuLaunchKernel_slow(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                    unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                    unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                    void **kernelParams, void **extra)
{
    gpx__ip_ensure();
    if (!REAL(cuLaunchKernel))
        return gpx__ip_missing("cuLaunchKernel");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuLaunchKernel)(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY,
                                      blockDimZ, sharedMemBytes, hStream, kernelParams, extra);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                   unsigned int gridDimZ, unsigned int blockDimX,
                                   unsigned int blockDimY, unsigned int blockDimZ,
                                   unsigned int sharedMemBytes, CUstream hStream,
                                   void **kernelParams, void **extra)
{
    gpx_cuLaunchKernel_fn fn = REAL(cuLaunchKernel);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuLaunchKernel_slow(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                                   sharedMemBytes, hStream, kernelParams, extra);
    return fn(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes,
              hStream, kernelParams, extra);
}

/* Cold: first call (init), an arbiter installed, or a driver without cuLaunchKernel_ptsz. */
__attribute__((noinline, cold)) static CUresult
cuLaunchKernel_ptsz_slow(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                         unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                         unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                         void **kernelParams, void **extra)
{
    gpx__ip_ensure();
    if (!REAL(cuLaunchKernel_ptsz))
        return gpx__ip_missing("cuLaunchKernel_ptsz");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuLaunchKernel_ptsz)(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY,
                                           blockDimZ, sharedMemBytes, hStream, kernelParams, extra);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                        unsigned int gridDimZ, unsigned int blockDimX,
                                        unsigned int blockDimY, unsigned int blockDimZ,
                                        unsigned int sharedMemBytes, CUstream hStream,
                                        void **kernelParams, void **extra)
{
    gpx_cuLaunchKernel_ptsz_fn fn = REAL(cuLaunchKernel_ptsz);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuLaunchKernel_ptsz_slow(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY,
                                        blockDimZ, sharedMemBytes, hStream, kernelParams, extra);
    return fn(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes,
              hStream, kernelParams, extra);
}

/* Cold: first call (init), an arbiter installed, or a driver without cuLaunchKernelEx. */
__attribute__((noinline, cold)) static CUresult
cuLaunchKernelEx_slow(const CUlaunchConfig *config, CUfunction f, void **kernelParams, void **extra)
{
    gpx__ip_ensure();
    if (!REAL(cuLaunchKernelEx))
        return gpx__ip_missing("cuLaunchKernelEx");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuLaunchKernelEx)(config, f, kernelParams, extra);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f,
                                     void **kernelParams, void **extra)
{
    gpx_cuLaunchKernelEx_fn fn = REAL(cuLaunchKernelEx);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuLaunchKernelEx_slow(config, f, kernelParams, extra);
    return fn(config, f, kernelParams, extra);
}

/* Cold: first call (init), an arbiter installed, or a driver without cuLaunchKernelEx_ptsz. */
__attribute__((noinline, cold)) static CUresult
cuLaunchKernelEx_ptsz_slow(const CUlaunchConfig *config, CUfunction f, void **kernelParams,
                           void **extra)
{
    gpx__ip_ensure();
    if (!REAL(cuLaunchKernelEx_ptsz))
        return gpx__ip_missing("cuLaunchKernelEx_ptsz");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuLaunchKernelEx_ptsz)(config, f, kernelParams, extra);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig *config, CUfunction f,
                                          void **kernelParams, void **extra)
{
    gpx_cuLaunchKernelEx_ptsz_fn fn = REAL(cuLaunchKernelEx_ptsz);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuLaunchKernelEx_ptsz_slow(config, f, kernelParams, extra);
    return fn(config, f, kernelParams, extra);
}

/* Cold: first call (init), an arbiter installed, or a driver without cuLaunchCooperativeKernel. */
__attribute__((noinline, cold)) static CUresult
cuLaunchCooperativeKernel_slow(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                               unsigned int gridDimZ, unsigned int blockDimX,
                               unsigned int blockDimY, unsigned int blockDimZ,
                               unsigned int sharedMemBytes, CUstream hStream, void **kernelParams)
{
    gpx__ip_ensure();
    if (!REAL(cuLaunchCooperativeKernel))
        return gpx__ip_missing("cuLaunchCooperativeKernel");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r =
        REAL(cuLaunchCooperativeKernel)(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY,
                                        blockDimZ, sharedMemBytes, hStream, kernelParams);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned int gridDimX,
                                              unsigned int gridDimY, unsigned int gridDimZ,
                                              unsigned int blockDimX, unsigned int blockDimY,
                                              unsigned int blockDimZ, unsigned int sharedMemBytes,
                                              CUstream hStream, void **kernelParams)
{
    gpx_cuLaunchCooperativeKernel_fn fn = REAL(cuLaunchCooperativeKernel);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuLaunchCooperativeKernel_slow(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY,
                                              blockDimZ, sharedMemBytes, hStream, kernelParams);
    return fn(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes,
              hStream, kernelParams);
}

/* Cold: first call (init), an arbiter installed, or a driver without
 * cuLaunchCooperativeKernel_ptsz. */
__attribute__((noinline, cold)) static CUresult cuLaunchCooperativeKernel_ptsz_slow(
    CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
    unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
    unsigned int sharedMemBytes, CUstream hStream, void **kernelParams)
{
    gpx__ip_ensure();
    if (!REAL(cuLaunchCooperativeKernel_ptsz))
        return gpx__ip_missing("cuLaunchCooperativeKernel_ptsz");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r =
        REAL(cuLaunchCooperativeKernel_ptsz)(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY,
                                             blockDimZ, sharedMemBytes, hStream, kernelParams);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gridDimX,
                                                   unsigned int gridDimY, unsigned int gridDimZ,
                                                   unsigned int blockDimX, unsigned int blockDimY,
                                                   unsigned int blockDimZ,
                                                   unsigned int sharedMemBytes, CUstream hStream,
                                                   void **kernelParams)
{
    gpx_cuLaunchCooperativeKernel_ptsz_fn fn = REAL(cuLaunchCooperativeKernel_ptsz);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuLaunchCooperativeKernel_ptsz_slow(f, gridDimX, gridDimY, gridDimZ, blockDimX,
                                                   blockDimY, blockDimZ, sharedMemBytes, hStream,
                                                   kernelParams);
    return fn(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes,
              hStream, kernelParams);
}

/* Cold: first call (init), an arbiter installed, or a driver without cuGraphLaunch. */
__attribute__((noinline, cold)) static CUresult cuGraphLaunch_slow(CUgraphExec hGraphExec,
                                                                   CUstream hStream)
{
    gpx__ip_ensure();
    if (!REAL(cuGraphLaunch))
        return gpx__ip_missing("cuGraphLaunch");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuGraphLaunch)(hGraphExec, hStream);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream)
{
    gpx_cuGraphLaunch_fn fn = REAL(cuGraphLaunch);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuGraphLaunch_slow(hGraphExec, hStream);
    return fn(hGraphExec, hStream);
}

/* Cold: first call (init), an arbiter installed, or a driver without cuGraphLaunch_ptsz. */
__attribute__((noinline, cold)) static CUresult cuGraphLaunch_ptsz_slow(CUgraphExec hGraphExec,
                                                                        CUstream hStream)
{
    gpx__ip_ensure();
    if (!REAL(cuGraphLaunch_ptsz))
        return gpx__ip_missing("cuGraphLaunch_ptsz");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuGraphLaunch_ptsz)(hGraphExec, hStream);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec hGraphExec, CUstream hStream)
{
    gpx_cuGraphLaunch_ptsz_fn fn = REAL(cuGraphLaunch_ptsz);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuGraphLaunch_ptsz_slow(hGraphExec, hStream);
    return fn(hGraphExec, hStream);
}
