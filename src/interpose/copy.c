/*
 * Asynchronous copies and memsets: work that occupies the GPU like a kernel,
 * so under a time-slice lease it waits for the GPU's turn exactly as launches
 * do (launch.c). Same shape as launch.c: a fast path that forwards when no
 * turn is installed, everything else in a cold function. Synchronous copies
 * are not arbitrated: they block the caller until done, and the driver
 * orders them after the caller's queued work, which the turn already holds.
 */
#include "interpose/interpose.h"

#define REAL(name) gpx__ip.real.name
#define FAST_OK(fn)                                                                                \
    (atomic_load_explicit(&gpx__ip.ready, memory_order_acquire) && !gpx__submit_enter && (fn))

__attribute__((noinline, cold)) static CUresult
cuMemcpyAsync_slow(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream)
{
    gpx__ip_ensure();
    if (!REAL(cuMemcpyAsync))
        return gpx__ip_missing("cuMemcpyAsync");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuMemcpyAsync)(dst, src, ByteCount, hStream);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount,
                                  CUstream hStream)
{
    gpx_cuMemcpyAsync_fn fn = REAL(cuMemcpyAsync);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuMemcpyAsync_slow(dst, src, ByteCount, hStream);
    return fn(dst, src, ByteCount, hStream);
}

__attribute__((noinline, cold)) static CUresult
cuMemcpyAsync_ptsz_slow(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream)
{
    gpx__ip_ensure();
    if (!REAL(cuMemcpyAsync_ptsz))
        return gpx__ip_missing("cuMemcpyAsync_ptsz");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuMemcpyAsync_ptsz)(dst, src, ByteCount, hStream);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuMemcpyAsync_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount,
                                       CUstream hStream)
{
    gpx_cuMemcpyAsync_ptsz_fn fn = REAL(cuMemcpyAsync_ptsz);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuMemcpyAsync_ptsz_slow(dst, src, ByteCount, hStream);
    return fn(dst, src, ByteCount, hStream);
}

__attribute__((noinline, cold)) static CUresult cuMemcpyHtoDAsync_v2_slow(CUdeviceptr dstDevice,
                                                                          const void *srcHost,
                                                                          size_t ByteCount,
                                                                          CUstream hStream)
{
    gpx__ip_ensure();
    if (!REAL(cuMemcpyHtoDAsync_v2))
        return gpx__ip_missing("cuMemcpyHtoDAsync_v2");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuMemcpyHtoDAsync_v2)(dstDevice, srcHost, ByteCount, hStream);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost,
                                         size_t ByteCount, CUstream hStream)
{
    gpx_cuMemcpyHtoDAsync_v2_fn fn = REAL(cuMemcpyHtoDAsync_v2);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuMemcpyHtoDAsync_v2_slow(dstDevice, srcHost, ByteCount, hStream);
    return fn(dstDevice, srcHost, ByteCount, hStream);
}

__attribute__((noinline, cold)) static CUresult
cuMemcpyHtoDAsync_v2_ptsz_slow(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount,
                               CUstream hStream)
{
    gpx__ip_ensure();
    if (!REAL(cuMemcpyHtoDAsync_v2_ptsz))
        return gpx__ip_missing("cuMemcpyHtoDAsync_v2_ptsz");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuMemcpyHtoDAsync_v2_ptsz)(dstDevice, srcHost, ByteCount, hStream);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr dstDevice, const void *srcHost,
                                              size_t ByteCount, CUstream hStream)
{
    gpx_cuMemcpyHtoDAsync_v2_ptsz_fn fn = REAL(cuMemcpyHtoDAsync_v2_ptsz);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuMemcpyHtoDAsync_v2_ptsz_slow(dstDevice, srcHost, ByteCount, hStream);
    return fn(dstDevice, srcHost, ByteCount, hStream);
}

__attribute__((noinline, cold)) static CUresult
cuMemcpyDtoHAsync_v2_slow(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)
{
    gpx__ip_ensure();
    if (!REAL(cuMemcpyDtoHAsync_v2))
        return gpx__ip_missing("cuMemcpyDtoHAsync_v2");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuMemcpyDtoHAsync_v2)(dstHost, srcDevice, ByteCount, hStream);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount,
                                         CUstream hStream)
{
    gpx_cuMemcpyDtoHAsync_v2_fn fn = REAL(cuMemcpyDtoHAsync_v2);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuMemcpyDtoHAsync_v2_slow(dstHost, srcDevice, ByteCount, hStream);
    return fn(dstHost, srcDevice, ByteCount, hStream);
}

__attribute__((noinline, cold)) static CUresult
cuMemcpyDtoHAsync_v2_ptsz_slow(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount,
                               CUstream hStream)
{
    gpx__ip_ensure();
    if (!REAL(cuMemcpyDtoHAsync_v2_ptsz))
        return gpx__ip_missing("cuMemcpyDtoHAsync_v2_ptsz");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuMemcpyDtoHAsync_v2_ptsz)(dstHost, srcDevice, ByteCount, hStream);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuMemcpyDtoHAsync_v2_ptsz(void *dstHost, CUdeviceptr srcDevice,
                                              size_t ByteCount, CUstream hStream)
{
    gpx_cuMemcpyDtoHAsync_v2_ptsz_fn fn = REAL(cuMemcpyDtoHAsync_v2_ptsz);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuMemcpyDtoHAsync_v2_ptsz_slow(dstHost, srcDevice, ByteCount, hStream);
    return fn(dstHost, srcDevice, ByteCount, hStream);
}

__attribute__((noinline, cold)) static CUresult cuMemcpyDtoDAsync_v2_slow(CUdeviceptr dstDevice,
                                                                          CUdeviceptr srcDevice,
                                                                          size_t ByteCount,
                                                                          CUstream hStream)
{
    gpx__ip_ensure();
    if (!REAL(cuMemcpyDtoDAsync_v2))
        return gpx__ip_missing("cuMemcpyDtoDAsync_v2");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuMemcpyDtoDAsync_v2)(dstDevice, srcDevice, ByteCount, hStream);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice,
                                         size_t ByteCount, CUstream hStream)
{
    gpx_cuMemcpyDtoDAsync_v2_fn fn = REAL(cuMemcpyDtoDAsync_v2);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuMemcpyDtoDAsync_v2_slow(dstDevice, srcDevice, ByteCount, hStream);
    return fn(dstDevice, srcDevice, ByteCount, hStream);
}

__attribute__((noinline, cold)) static CUresult
cuMemcpyDtoDAsync_v2_ptsz_slow(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount,
                               CUstream hStream)
{
    gpx__ip_ensure();
    if (!REAL(cuMemcpyDtoDAsync_v2_ptsz))
        return gpx__ip_missing("cuMemcpyDtoDAsync_v2_ptsz");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuMemcpyDtoDAsync_v2_ptsz)(dstDevice, srcDevice, ByteCount, hStream);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr dstDevice, CUdeviceptr srcDevice,
                                              size_t ByteCount, CUstream hStream)
{
    gpx_cuMemcpyDtoDAsync_v2_ptsz_fn fn = REAL(cuMemcpyDtoDAsync_v2_ptsz);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuMemcpyDtoDAsync_v2_ptsz_slow(dstDevice, srcDevice, ByteCount, hStream);
    return fn(dstDevice, srcDevice, ByteCount, hStream);
}

__attribute__((noinline, cold)) static CUresult cuMemcpy2DAsync_v2_slow(const CUDA_MEMCPY2D *pCopy,
                                                                        CUstream hStream)
{
    gpx__ip_ensure();
    if (!REAL(cuMemcpy2DAsync_v2))
        return gpx__ip_missing("cuMemcpy2DAsync_v2");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuMemcpy2DAsync_v2)(pCopy, hStream);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D *pCopy, CUstream hStream)
{
    gpx_cuMemcpy2DAsync_v2_fn fn = REAL(cuMemcpy2DAsync_v2);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuMemcpy2DAsync_v2_slow(pCopy, hStream);
    return fn(pCopy, hStream);
}

__attribute__((noinline, cold)) static CUresult
cuMemcpy2DAsync_v2_ptsz_slow(const CUDA_MEMCPY2D *pCopy, CUstream hStream)
{
    gpx__ip_ensure();
    if (!REAL(cuMemcpy2DAsync_v2_ptsz))
        return gpx__ip_missing("cuMemcpy2DAsync_v2_ptsz");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuMemcpy2DAsync_v2_ptsz)(pCopy, hStream);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuMemcpy2DAsync_v2_ptsz(const CUDA_MEMCPY2D *pCopy, CUstream hStream)
{
    gpx_cuMemcpy2DAsync_v2_ptsz_fn fn = REAL(cuMemcpy2DAsync_v2_ptsz);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuMemcpy2DAsync_v2_ptsz_slow(pCopy, hStream);
    return fn(pCopy, hStream);
}

__attribute__((noinline, cold)) static CUresult cuMemcpy3DAsync_v2_slow(const CUDA_MEMCPY3D *pCopy,
                                                                        CUstream hStream)
{
    gpx__ip_ensure();
    if (!REAL(cuMemcpy3DAsync_v2))
        return gpx__ip_missing("cuMemcpy3DAsync_v2");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuMemcpy3DAsync_v2)(pCopy, hStream);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuMemcpy3DAsync_v2(const CUDA_MEMCPY3D *pCopy, CUstream hStream)
{
    gpx_cuMemcpy3DAsync_v2_fn fn = REAL(cuMemcpy3DAsync_v2);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuMemcpy3DAsync_v2_slow(pCopy, hStream);
    return fn(pCopy, hStream);
}

__attribute__((noinline, cold)) static CUresult
cuMemcpy3DAsync_v2_ptsz_slow(const CUDA_MEMCPY3D *pCopy, CUstream hStream)
{
    gpx__ip_ensure();
    if (!REAL(cuMemcpy3DAsync_v2_ptsz))
        return gpx__ip_missing("cuMemcpy3DAsync_v2_ptsz");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuMemcpy3DAsync_v2_ptsz)(pCopy, hStream);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuMemcpy3DAsync_v2_ptsz(const CUDA_MEMCPY3D *pCopy, CUstream hStream)
{
    gpx_cuMemcpy3DAsync_v2_ptsz_fn fn = REAL(cuMemcpy3DAsync_v2_ptsz);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuMemcpy3DAsync_v2_ptsz_slow(pCopy, hStream);
    return fn(pCopy, hStream);
}

__attribute__((noinline, cold)) static CUresult
cuMemsetD8Async_slow(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream)
{
    gpx__ip_ensure();
    if (!REAL(cuMemsetD8Async))
        return gpx__ip_missing("cuMemsetD8Async");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuMemsetD8Async)(dstDevice, uc, N, hStream);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N,
                                    CUstream hStream)
{
    gpx_cuMemsetD8Async_fn fn = REAL(cuMemsetD8Async);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuMemsetD8Async_slow(dstDevice, uc, N, hStream);
    return fn(dstDevice, uc, N, hStream);
}

__attribute__((noinline, cold)) static CUresult
cuMemsetD8Async_ptsz_slow(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream)
{
    gpx__ip_ensure();
    if (!REAL(cuMemsetD8Async_ptsz))
        return gpx__ip_missing("cuMemsetD8Async_ptsz");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuMemsetD8Async_ptsz)(dstDevice, uc, N, hStream);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuMemsetD8Async_ptsz(CUdeviceptr dstDevice, unsigned char uc, size_t N,
                                         CUstream hStream)
{
    gpx_cuMemsetD8Async_ptsz_fn fn = REAL(cuMemsetD8Async_ptsz);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuMemsetD8Async_ptsz_slow(dstDevice, uc, N, hStream);
    return fn(dstDevice, uc, N, hStream);
}

__attribute__((noinline, cold)) static CUresult
cuMemsetD16Async_slow(CUdeviceptr dstDevice, unsigned short us, size_t N, CUstream hStream)
{
    gpx__ip_ensure();
    if (!REAL(cuMemsetD16Async))
        return gpx__ip_missing("cuMemsetD16Async");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuMemsetD16Async)(dstDevice, us, N, hStream);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuMemsetD16Async(CUdeviceptr dstDevice, unsigned short us, size_t N,
                                     CUstream hStream)
{
    gpx_cuMemsetD16Async_fn fn = REAL(cuMemsetD16Async);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuMemsetD16Async_slow(dstDevice, us, N, hStream);
    return fn(dstDevice, us, N, hStream);
}

__attribute__((noinline, cold)) static CUresult
cuMemsetD16Async_ptsz_slow(CUdeviceptr dstDevice, unsigned short us, size_t N, CUstream hStream)
{
    gpx__ip_ensure();
    if (!REAL(cuMemsetD16Async_ptsz))
        return gpx__ip_missing("cuMemsetD16Async_ptsz");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuMemsetD16Async_ptsz)(dstDevice, us, N, hStream);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuMemsetD16Async_ptsz(CUdeviceptr dstDevice, unsigned short us, size_t N,
                                          CUstream hStream)
{
    gpx_cuMemsetD16Async_ptsz_fn fn = REAL(cuMemsetD16Async_ptsz);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuMemsetD16Async_ptsz_slow(dstDevice, us, N, hStream);
    return fn(dstDevice, us, N, hStream);
}

__attribute__((noinline, cold)) static CUresult
cuMemsetD32Async_slow(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream)
{
    gpx__ip_ensure();
    if (!REAL(cuMemsetD32Async))
        return gpx__ip_missing("cuMemsetD32Async");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuMemsetD32Async)(dstDevice, ui, N, hStream);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N,
                                     CUstream hStream)
{
    gpx_cuMemsetD32Async_fn fn = REAL(cuMemsetD32Async);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuMemsetD32Async_slow(dstDevice, ui, N, hStream);
    return fn(dstDevice, ui, N, hStream);
}

__attribute__((noinline, cold)) static CUresult
cuMemsetD32Async_ptsz_slow(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream)
{
    gpx__ip_ensure();
    if (!REAL(cuMemsetD32Async_ptsz))
        return gpx__ip_missing("cuMemsetD32Async_ptsz");
    void (*exit_hook)(void) = gpx__ip_submit_begin();
    CUresult r = REAL(cuMemsetD32Async_ptsz)(dstDevice, ui, N, hStream);
    if (exit_hook)
        exit_hook();
    return r;
}

GPX_EXPORT CUresult cuMemsetD32Async_ptsz(CUdeviceptr dstDevice, unsigned int ui, size_t N,
                                          CUstream hStream)
{
    gpx_cuMemsetD32Async_ptsz_fn fn = REAL(cuMemsetD32Async_ptsz);
    if (GPX_UNLIKELY(!FAST_OK(fn)))
        return cuMemsetD32Async_ptsz_slow(dstDevice, ui, N, hStream);
    return fn(dstDevice, ui, N, hStream);
}
