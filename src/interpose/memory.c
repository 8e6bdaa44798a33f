/*
 * Device-memory quota: every allocation path of the driver API, and the
 * memory-info queries that must agree with it.
 *
 * Each counted allocation is: reserve its bytes against the lease (atomic;
 * refused -> CUDA_ERROR_OUT_OF_MEMORY and the driver never sees the call),
 * call the driver, then record (kind, handle) -> bytes, or give the bytes
 * back if the driver failed. Each free takes its record out first, calls the
 * driver, then gives the bytes back, or puts the record back if the driver
 * refused the free. Taking the record before the driver frees means no other
 * thread can be handed the same address while we still hold its record.
 * What was never recorded passes straight through.
 *
 * What counts, and as how much:
 * - cuMemAlloc(_v2), cuMemAllocManaged, cuMemAllocAsync(_ptsz),
 *   cuMemAllocFromPoolAsync(_ptsz): the size asked for (each allocation, not
 *   the pool behind it); allocations from a pool created in host memory
 *   (cuMemPoolCreate with a host location) are not device memory and pass,
 *   and so do those on a capturing stream (graph allocation nodes: graph.c).
 * - cuMemAllocPitch(_v2): pitch x height as the driver returns it (an
 *   estimate with a 512-byte pitch is reserved first and corrected after).
 * - cuMemCreate: the size, when prop->location.type is DEVICE (host-located
 *   handles are not device memory). Only prop is read, never the calling
 *   thread's context: worker threads without one are common (NCCL, vLLM).
 * - cuArrayCreate / cuArray3DCreate (both versions), cuMipmappedArrayCreate:
 *   width x height x depth x texel size from the descriptor, mip levels
 *   summed, before the driver is called.
 * - cuImportExternalMemory: the size in its descriptor.
 * Host memory (cuMemHostAlloc, cuMemAllocHost) and IPC imports (the exporter
 * counted them) are not hooked.
 */
#define _GNU_SOURCE
#include "interpose/interpose.h"
#include "interpose/ptrtable.h"

#include <limits.h>
#include <stdint.h>

#define REAL GPX_IP_REAL
#define NEED GPX_IP_NEED

#define PITCH_GUESS 512U /* the pitch alignment drivers use; corrected after the call */

static inline int counting(void)
{
    return gpx__ip.mode != GPX_IP_PASS;
}

/* 1 when memory-info answers are rewritten: a quota to show, or nothing free (CLOSED). */
static inline int reshaping(void)
{
    return gpx__ip.mode == GPX_IP_CLOSED || (gpx__ip.mode == GPX_IP_ENFORCE && gpx__ip.quota);
}

/* Undoes a driver allocation we could not record (the table could not grow). */
static void undo(uint32_t kind, uint64_t key)
{
    switch (kind) {
    case GPX_IP_KIND_DPTR:
        if (REAL(cuMemFree_v2))
            REAL(cuMemFree_v2)((CUdeviceptr)key);
        break;
    case GPX_IP_KIND_VMM:
        if (REAL(cuMemRelease))
            REAL(cuMemRelease)((CUmemGenericAllocationHandle)key);
        break;
    case GPX_IP_KIND_ARRAY:
        if (REAL(cuArrayDestroy))
            REAL(cuArrayDestroy)((CUarray)(uintptr_t)key);
        break;
    case GPX_IP_KIND_MIPMAP:
        if (REAL(cuMipmappedArrayDestroy))
            REAL(cuMipmappedArrayDestroy)((CUmipmappedArray)(uintptr_t)key);
        break;
    case GPX_IP_KIND_EXTMEM:
        if (REAL(cuDestroyExternalMemory))
            REAL(cuDestroyExternalMemory)((CUexternalMemory)(uintptr_t)key);
        break;
    }
}

/*
 * After the driver's answer to a reserved allocation: records it, or gives
 * the reservation back. Returns what the application gets.
 */
static CUresult finish_alloc(CUresult rc, uint32_t kind, uint64_t key, uint64_t bytes)
{
    if (rc != CUDA_SUCCESS) {
        gpx__ip_release(bytes);
        return rc;
    }
    uint64_t stale;
    int failed = gpx__pt_insert(kind, key, bytes, &stale) != 0;
    if (stale) /* its earlier object went away unseen (context destroyed): return it */
        gpx__ip_release(stale);
    if (GPX_UNLIKELY(failed)) {
        GPX_IP_LOG(GPX_IP_LOG_ERROR, "out of host memory for the allocation table");
        undo(kind, key);
        gpx__ip_release(bytes);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    return rc;
}

/*
 * A refused free whose answer says the driver has no such object: a bad value
 * or handle, from a free whose only argument is the object (`sole`; a stream
 * passed with it could be what was bad). The record is not put back: one
 * thread's copy of a double free that raced another thread's can find the
 * record too (ptrtable.c), and when the driver refuses it the object is
 * gone. Put back, that record would later hand its bytes back a second time
 * (as stale, when the driver gives the address out again). Its bytes stay
 * counted instead: a quota errs on the side it cannot be escaped by.
 */
static inline int no_such_object(int sole, CUresult rc)
{
    return sole && (rc == CUDA_ERROR_INVALID_VALUE || rc == CUDA_ERROR_INVALID_HANDLE);
}

/* A free: whatever the driver says about a recorded object decides its bytes. */
#define COUNTED_FREE(kind, key, sole, call)                                                        \
    do {                                                                                           \
        uint64_t bytes_;                                                                           \
        if (!counting() || !gpx__pt_take((kind), (key), &bytes_))                                  \
            return call;                                                                           \
        CUresult rc_ = call;                                                                       \
        if (rc_ == CUDA_SUCCESS) {                                                                 \
            gpx__ip_release(bytes_);                                                               \
        } else if (!no_such_object((sole), rc_)) {                                                 \
            uint64_t stale_; /* keep counting it; if it can't be recorded, keep the bytes */       \
            (void)gpx__pt_insert((kind), (key), bytes_, &stale_);                                  \
        }                                                                                          \
        return rc_;                                                                                \
    } while (0)

/* ---- linear memory ------------------------------------------------------------------------ */

GPX_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
    NEED(cuMemAlloc_v2);
    if (!counting() || !dptr || bytesize == 0)
        return REAL(cuMemAlloc_v2)(dptr, bytesize);
    if (gpx__ip_reserve(bytesize) != 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult rc = REAL(cuMemAlloc_v2)(dptr, bytesize);
    return finish_alloc(rc, GPX_IP_KIND_DPTR, rc == CUDA_SUCCESS ? *dptr : 0, bytesize);
}

GPX_EXPORT CUresult cuMemAlloc(CUdeviceptr_v1 *dptr, unsigned int bytesize)
{
    NEED(cuMemAlloc);
    if (!counting() || !dptr || bytesize == 0)
        return REAL(cuMemAlloc)(dptr, bytesize);
    if (gpx__ip_reserve(bytesize) != 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult rc = REAL(cuMemAlloc)(dptr, bytesize);
    return finish_alloc(rc, GPX_IP_KIND_DPTR, rc == CUDA_SUCCESS ? *dptr : 0, bytesize);
}

GPX_EXPORT CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
    NEED(cuMemAllocManaged);
    if (!counting() || !dptr || bytesize == 0)
        return REAL(cuMemAllocManaged)(dptr, bytesize, flags);
    if (gpx__ip_reserve(bytesize) != 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult rc = REAL(cuMemAllocManaged)(dptr, bytesize, flags);
    return finish_alloc(rc, GPX_IP_KIND_DPTR, rc == CUDA_SUCCESS ? *dptr : 0, bytesize);
}

/* Reserves the pitch guess for width x height; 0, or -1 (refused). */
static int reserve_pitched(uint64_t width, uint64_t height, uint64_t *guess)
{
    uint64_t pitch = (width + PITCH_GUESS - 1) / PITCH_GUESS * PITCH_GUESS;
    if (pitch < width || __builtin_mul_overflow(pitch, height, guess))
        return -1;
    return gpx__ip_reserve(*guess);
}

/*
 * Corrects a pitched reservation to pitch x height once the driver has
 * answered. -1 when the larger real size does not fit (the caller frees).
 */
static int settle_pitched(uint64_t guess, uint64_t pitch, uint64_t height, uint64_t *actual)
{
    if (__builtin_mul_overflow(pitch, height, actual))
        return -1;
    if (*actual > guess)
        return gpx__ip_reserve(*actual - guess);
    if (*actual < guess)
        gpx__ip_release(guess - *actual);
    return 0;
}

/*
 * After a pitched allocation reserved `guess`: settles the reservation to
 * pitch x height, or undoes the allocation (with the free of its own width,
 * `v1` for the 32-bit entry point) when the true size passes the quota.
 */
static CUresult finish_pitched(CUresult rc, uint64_t guess, uint64_t pitch, uint64_t height,
                               CUdeviceptr ptr, int v1)
{
    uint64_t actual;
    if (rc != CUDA_SUCCESS) {
        gpx__ip_release(guess);
        return rc;
    }
    if (settle_pitched(guess, pitch, height, &actual) != 0) {
        if (v1 && REAL(cuMemFree))
            REAL(cuMemFree)((CUdeviceptr_v1)ptr);
        else if (!v1 && REAL(cuMemFree_v2))
            REAL(cuMemFree_v2)(ptr);
        gpx__ip_release(guess);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    return finish_alloc(rc, GPX_IP_KIND_DPTR, ptr, actual);
}

GPX_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes,
                                       size_t Height, unsigned int ElementSizeBytes)
{
    NEED(cuMemAllocPitch_v2);
    if (!counting() || !dptr || !pPitch || WidthInBytes == 0 || Height == 0)
        return REAL(cuMemAllocPitch_v2)(dptr, pPitch, WidthInBytes, Height, ElementSizeBytes);
    uint64_t guess;
    if (reserve_pitched(WidthInBytes, Height, &guess) != 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult rc = REAL(cuMemAllocPitch_v2)(dptr, pPitch, WidthInBytes, Height, ElementSizeBytes);
    return finish_pitched(rc, guess, rc == CUDA_SUCCESS ? *pPitch : 0, Height,
                          rc == CUDA_SUCCESS ? *dptr : 0, 0);
}

GPX_EXPORT CUresult cuMemAllocPitch(CUdeviceptr_v1 *dptr, unsigned int *pPitch,
                                    unsigned int WidthInBytes, unsigned int Height,
                                    unsigned int ElementSizeBytes)
{
    NEED(cuMemAllocPitch);
    if (!counting() || !dptr || !pPitch || WidthInBytes == 0 || Height == 0)
        return REAL(cuMemAllocPitch)(dptr, pPitch, WidthInBytes, Height, ElementSizeBytes);
    uint64_t guess;
    if (reserve_pitched(WidthInBytes, Height, &guess) != 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult rc = REAL(cuMemAllocPitch)(dptr, pPitch, WidthInBytes, Height, ElementSizeBytes);
    return finish_pitched(rc, guess, rc == CUDA_SUCCESS ? *pPitch : 0, Height,
                          rc == CUDA_SUCCESS ? *dptr : 0, 1);
}

GPX_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr)
{
    NEED(cuMemFree_v2);
    COUNTED_FREE(GPX_IP_KIND_DPTR, dptr, 1, REAL(cuMemFree_v2)(dptr));
}

GPX_EXPORT CUresult cuMemFree(CUdeviceptr_v1 dptr)
{
    NEED(cuMemFree);
    COUNTED_FREE(GPX_IP_KIND_DPTR, dptr, 1, REAL(cuMemFree)(dptr));
}

/* ---- stream-ordered allocation ------------------------------------------------------------ */

/* In ASYNC_ALLOC and POOL_ALLOC `args` is a parenthesized argument list: it cannot take more
 * parentheses. `pt`: the _ptsz variant (its stream 0 is the per-thread stream). */
#define ASYNC_ALLOC(name, pt, args)                                                                \
    do {                                                                                           \
        NEED(name);                                                                                \
        if (!counting() || !dptr || bytesize == 0 || gpx__ip_stream_capturing(hStream, pt))        \
            return REAL(name) args; /* NOLINT(bugprone-macro-parentheses) */                       \
        if (gpx__ip_reserve(bytesize) != 0)                                                        \
            return CUDA_ERROR_OUT_OF_MEMORY;                                                       \
        CUresult rc = REAL(name) args; /* NOLINT(bugprone-macro-parentheses) */                    \
        return finish_alloc(rc, GPX_IP_KIND_DPTR, rc == CUDA_SUCCESS ? *dptr : 0, bytesize);       \
    } while (0)

GPX_EXPORT CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
    ASYNC_ALLOC(cuMemAllocAsync, 0, (dptr, bytesize, hStream));
}

GPX_EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
    ASYNC_ALLOC(cuMemAllocAsync_ptsz, 1, (dptr, bytesize, hStream));
}

/* 1 if `pool` lives in host memory (its allocations are not device memory). */
static int host_pool(CUmemoryPool pool)
{
    return atomic_load_explicit(&gpx__ip.host_pools, memory_order_relaxed) != 0 &&
           gpx__pt_find(GPX_IP_KIND_HOST_POOL, (uint64_t)(uintptr_t)pool, NULL);
}

#define POOL_ALLOC(name, pt, args)                                                                 \
    do {                                                                                           \
        NEED(name);                                                                                \
        if (counting() && host_pool(pool))                                                         \
            return REAL(name) args; /* NOLINT(bugprone-macro-parentheses) */                       \
        ASYNC_ALLOC(name, pt, args);                                                               \
    } while (0)

GPX_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                            CUstream hStream)
{
    POOL_ALLOC(cuMemAllocFromPoolAsync, 0, (dptr, bytesize, pool, hStream));
}

GPX_EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytesize,
                                                 CUmemoryPool pool, CUstream hStream)
{
    POOL_ALLOC(cuMemAllocFromPoolAsync_ptsz, 1, (dptr, bytesize, pool, hStream));
}

/*
 * Pools: not counted themselves (each allocation from them is), but a pool
 * located in host memory is remembered so that its allocations are not.
 */
GPX_EXPORT CUresult cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *poolProps)
{
    NEED(cuMemPoolCreate);
    CUresult rc = REAL(cuMemPoolCreate)(pool, poolProps);
    if (rc != CUDA_SUCCESS || !counting() || !pool || !poolProps ||
        poolProps->location.type == CU_MEM_LOCATION_TYPE_DEVICE)
        return rc;
    uint64_t stale;
    if (gpx__pt_insert(GPX_IP_KIND_HOST_POOL, (uint64_t)(uintptr_t)*pool, 0, &stale) == 0 && !stale)
        atomic_fetch_add_explicit(&gpx__ip.host_pools, 1, memory_order_relaxed);
    return rc;
}

GPX_EXPORT CUresult cuMemPoolDestroy(CUmemoryPool pool)
{
    NEED(cuMemPoolDestroy);
    CUresult rc = REAL(cuMemPoolDestroy)(pool);
    uint64_t none;
    if (rc == CUDA_SUCCESS && counting() &&
        atomic_load_explicit(&gpx__ip.host_pools, memory_order_relaxed) &&
        gpx__pt_take(GPX_IP_KIND_HOST_POOL, (uint64_t)(uintptr_t)pool, &none))
        atomic_fetch_sub_explicit(&gpx__ip.host_pools, 1, memory_order_relaxed);
    return rc;
}

GPX_EXPORT CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
    NEED(cuMemFreeAsync);
    COUNTED_FREE(GPX_IP_KIND_DPTR, dptr, 0, REAL(cuMemFreeAsync)(dptr, hStream));
}

GPX_EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream)
{
    NEED(cuMemFreeAsync_ptsz);
    COUNTED_FREE(GPX_IP_KIND_DPTR, dptr, 0, REAL(cuMemFreeAsync_ptsz)(dptr, hStream));
}

/* ---- virtual memory management ------------------------------------------------------------ */

GPX_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
                                const CUmemAllocationProp *prop, unsigned long long flags)
{
    NEED(cuMemCreate);
    /* The device is prop->location, never the calling thread's (possibly absent) context. */
    if (!counting() || !handle || !prop || size == 0 ||
        prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
        return REAL(cuMemCreate)(handle, size, prop, flags);
    if (gpx__ip_reserve(size) != 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult rc = REAL(cuMemCreate)(handle, size, prop, flags);
    return finish_alloc(rc, GPX_IP_KIND_VMM, rc == CUDA_SUCCESS ? *handle : 0, size);
}

/*
 * A cuMemCreate handle's memory lives until it is released AND every mapping
 * of it is unmapped (the usual sequence releases right after mapping). So a
 * counted handle's bytes go back at whichever of the two comes last: mappings
 * are counted per handle (VMM_REFS), a release with mappings alive parks the
 * bytes (VMM_DEAD) and the last unmap returns them.
 */
static void map_refs_add(uint64_t handle, int64_t delta, uint64_t *after)
{
    uint64_t n = 0, stale;
    gpx__pt_take(GPX_IP_KIND_VMM_REFS, handle, &n);
    n = (int64_t)n + delta > 0 ? (uint64_t)((int64_t)n + delta) : 0;
    if (n)
        (void)gpx__pt_insert(GPX_IP_KIND_VMM_REFS, handle, n, &stale);
    *after = n;
}

GPX_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
    NEED(cuMemRelease);
    uint64_t maps, bytes, stale;
    if (counting() && gpx__pt_find(GPX_IP_KIND_VMM_REFS, handle, &maps) && maps > 0 &&
        gpx__pt_find(GPX_IP_KIND_VMM, handle, NULL)) {
        CUresult rc = REAL(cuMemRelease)(handle);
        if (rc == CUDA_SUCCESS && gpx__pt_take(GPX_IP_KIND_VMM, handle, &bytes))
            (void)gpx__pt_insert(GPX_IP_KIND_VMM_DEAD, handle, bytes, &stale); /* still mapped */
        return rc;
    }
    COUNTED_FREE(GPX_IP_KIND_VMM, handle, 1, REAL(cuMemRelease)(handle));
}

GPX_EXPORT CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
                             CUmemGenericAllocationHandle handle, unsigned long long flags)
{
    NEED(cuMemMap);
    CUresult rc = REAL(cuMemMap)(ptr, size, offset, handle, flags);
    uint64_t stale, n;
    if (rc != CUDA_SUCCESS || !counting() || !gpx__pt_find(GPX_IP_KIND_VMM, handle, NULL))
        return rc;
    if (gpx__pt_insert(GPX_IP_KIND_VMM_MAP, ptr, handle, &stale) == 0)
        map_refs_add(handle, 1, &n);
    return rc;
}

GPX_EXPORT CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
    NEED(cuMemUnmap);
    CUresult rc = REAL(cuMemUnmap)(ptr, size);
    uint64_t handle, n, bytes;
    if (rc != CUDA_SUCCESS || !counting() || !gpx__pt_take(GPX_IP_KIND_VMM_MAP, ptr, &handle))
        return rc;
    map_refs_add(handle, -1, &n);
    if (n == 0 && gpx__pt_take(GPX_IP_KIND_VMM_DEAD, handle, &bytes))
        gpx__ip_release(bytes); /* released earlier, unmapped now: the memory is gone */
    return rc;
}

/* ---- arrays ------------------------------------------------------------------------------- */

/* Bits per texel of `format` with `channels` channels; unknown formats count as the widest. */
static uint64_t texel_bits(CUarray_format format, unsigned channels)
{
    switch (format) {
    case CU_AD_FORMAT_UNSIGNED_INT8:
    case CU_AD_FORMAT_SIGNED_INT8:
        return 8ULL * channels;
    case CU_AD_FORMAT_UNSIGNED_INT16:
    case CU_AD_FORMAT_SIGNED_INT16:
    case CU_AD_FORMAT_HALF:
        return 16ULL * channels;
    case CU_AD_FORMAT_UNSIGNED_INT32:
    case CU_AD_FORMAT_SIGNED_INT32:
    case CU_AD_FORMAT_FLOAT:
        return 32ULL * channels;
    case CU_AD_FORMAT_NV12: /* 4:2:0, 8-bit: 12 bits per pixel */
        return 12;
    default:
        return 128; /* 4 x 32 bits: never under-count a format we do not know */
    }
}

/*
 * Bytes of an array (levels == 1) or mipmapped array: the sum over levels of
 * width x height x depth x texel size, each extent halved per level (never
 * below 1; the depth of layered and cubemap arrays is a layer count and stays).
 * UINT64_MAX on overflow.
 */
static uint64_t array_bytes(uint64_t w, uint64_t h, uint64_t d, CUarray_format format,
                            unsigned channels, unsigned flags, unsigned levels)
{
    const uint64_t bits = texel_bits(format, channels ? channels : 1);
    const int layered = (flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP)) != 0;
    uint64_t texels = 0;
    if (levels == 0)
        levels = 1;
    for (unsigned l = 0; l < levels && l < 64; l++) {
        uint64_t lw = w >> l ? w >> l : 1;
        uint64_t lh = h ? (h >> l ? h >> l : 1) : 1;
        uint64_t ld = d ? (layered ? d : (d >> l ? d >> l : 1)) : 1;
        uint64_t n;
        if (__builtin_mul_overflow(lw, lh, &n) || __builtin_mul_overflow(n, ld, &n) ||
            __builtin_add_overflow(texels, n, &texels))
            return UINT64_MAX;
    }
    uint64_t total_bits;
    if (__builtin_mul_overflow(texels, bits, &total_bits))
        return UINT64_MAX;
    return (total_bits + 7) / 8;
}

#define ARRAY_CREATE(name, kind, out, bytes_expr, call)                                            \
    do {                                                                                           \
        NEED(name);                                                                                \
        if (!counting() || !(out) || !desc)                                                        \
            return call;                                                                           \
        uint64_t bytes_ = (bytes_expr);                                                            \
        if (gpx__ip_reserve(bytes_) != 0) /* UINT64_MAX (overflow) never fits */                   \
            return CUDA_ERROR_OUT_OF_MEMORY;                                                       \
        CUresult rc_ = call;                                                                       \
        return finish_alloc(rc_, (kind), rc_ == CUDA_SUCCESS ? (uint64_t)(uintptr_t) * (out) : 0,  \
                            bytes_);                                                               \
    } while (0)

GPX_EXPORT CUresult cuArrayCreate_v2(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR *desc)
{
    ARRAY_CREATE(cuArrayCreate_v2, GPX_IP_KIND_ARRAY, pHandle,
                 array_bytes(desc->Width, desc->Height, 1, desc->Format, desc->NumChannels, 0, 1),
                 REAL(cuArrayCreate_v2)(pHandle, desc));
}

GPX_EXPORT CUresult cuArrayCreate(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR_v1 *desc)
{
    ARRAY_CREATE(cuArrayCreate, GPX_IP_KIND_ARRAY, pHandle,
                 array_bytes(desc->Width, desc->Height, 1, desc->Format, desc->NumChannels, 0, 1),
                 REAL(cuArrayCreate)(pHandle, desc));
}

GPX_EXPORT CUresult cuArray3DCreate_v2(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *desc)
{
    ARRAY_CREATE(cuArray3DCreate_v2, GPX_IP_KIND_ARRAY, pHandle,
                 array_bytes(desc->Width, desc->Height, desc->Depth, desc->Format,
                             desc->NumChannels, desc->Flags, 1),
                 REAL(cuArray3DCreate_v2)(pHandle, desc));
}

GPX_EXPORT CUresult cuArray3DCreate(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR_v1 *desc)
{
    ARRAY_CREATE(cuArray3DCreate, GPX_IP_KIND_ARRAY, pHandle,
                 array_bytes(desc->Width, desc->Height, desc->Depth, desc->Format,
                             desc->NumChannels, desc->Flags, 1),
                 REAL(cuArray3DCreate)(pHandle, desc));
}

GPX_EXPORT CUresult cuMipmappedArrayCreate(CUmipmappedArray *pHandle,
                                           const CUDA_ARRAY3D_DESCRIPTOR *desc,
                                           unsigned int numMipmapLevels)
{
    ARRAY_CREATE(cuMipmappedArrayCreate, GPX_IP_KIND_MIPMAP, pHandle,
                 array_bytes(desc->Width, desc->Height, desc->Depth, desc->Format,
                             desc->NumChannels, desc->Flags, numMipmapLevels),
                 REAL(cuMipmappedArrayCreate)(pHandle, desc, numMipmapLevels));
}

GPX_EXPORT CUresult cuArrayDestroy(CUarray hArray)
{
    NEED(cuArrayDestroy);
    COUNTED_FREE(GPX_IP_KIND_ARRAY, (uint64_t)(uintptr_t)hArray, 1, REAL(cuArrayDestroy)(hArray));
}

GPX_EXPORT CUresult cuMipmappedArrayDestroy(CUmipmappedArray hMipmappedArray)
{
    NEED(cuMipmappedArrayDestroy);
    COUNTED_FREE(GPX_IP_KIND_MIPMAP, (uint64_t)(uintptr_t)hMipmappedArray, 1,
                 REAL(cuMipmappedArrayDestroy)(hMipmappedArray));
}

/* ---- external memory ---------------------------------------------------------------------- */

GPX_EXPORT CUresult cuImportExternalMemory(CUexternalMemory *extMem_out,
                                           const CUDA_EXTERNAL_MEMORY_HANDLE_DESC *desc)
{
    ARRAY_CREATE(cuImportExternalMemory, GPX_IP_KIND_EXTMEM, extMem_out, desc->size,
                 REAL(cuImportExternalMemory)(extMem_out, desc));
}

GPX_EXPORT CUresult cuDestroyExternalMemory(CUexternalMemory extMem)
{
    NEED(cuDestroyExternalMemory);
    COUNTED_FREE(GPX_IP_KIND_EXTMEM, (uint64_t)(uintptr_t)extMem, 1,
                 REAL(cuDestroyExternalMemory)(extMem));
}

/* ---- memory information ------------------------------------------------------------------- */

/*
 * What the lease leaves: quota - max(lease used, this process's own count),
 * never below zero. The private count guards against a process that rewrote
 * the shared usage.
 */
static uint64_t lease_available(void)
{
    uint64_t used = gpx_lease_used(gpx__ip.region.usage);
    uint64_t mine = gpx__ip_local_used();
    if (mine > used)
        used = mine;
    return used >= gpx__ip.quota ? 0 : gpx__ip.quota - used;
}

/*
 * Rewrites a successful answer of the real query: total = min(quota, total),
 * free = min(what the lease leaves, free). NULL pointers stay untouched (the
 * driver decided what NULL means). CLOSED: nothing is free.
 */
static void clamp_info(uint64_t *free_b, uint64_t *total_b)
{
    if (gpx__ip.mode == GPX_IP_CLOSED) {
        if (free_b)
            *free_b = 0;
        return;
    }
    if (total_b && *total_b > gpx__ip.quota)
        *total_b = gpx__ip.quota;
    if (free_b) {
        uint64_t avail = lease_available();
        if (*free_b > avail)
            *free_b = avail;
    }
}

GPX_EXPORT CUresult cuMemGetInfo_v2(size_t *free, size_t *total)
{
    NEED(cuMemGetInfo_v2);
    CUresult rc = REAL(cuMemGetInfo_v2)(free, total);
    if (rc != CUDA_SUCCESS || !reshaping())
        return rc;
    uint64_t f = free ? *free : 0, t = total ? *total : 0;
    clamp_info(free ? &f : NULL, total ? &t : NULL);
    if (free)
        *free = (size_t)f;
    if (total)
        *total = (size_t)t;
    return rc;
}

GPX_EXPORT CUresult cuMemGetInfo(unsigned int *free, unsigned int *total)
{
    NEED(cuMemGetInfo);
    CUresult rc = REAL(cuMemGetInfo)(free, total);
    if (rc != CUDA_SUCCESS || !reshaping())
        return rc;
    uint64_t f = free ? *free : 0, t = total ? *total : 0;
    clamp_info(free ? &f : NULL, total ? &t : NULL);
    if (free)
        *free = (unsigned int)(f > UINT_MAX ? UINT_MAX : f);
    if (total)
        *total = (unsigned int)(t > UINT_MAX ? UINT_MAX : t);
    return rc;
}

/*
 * The device's size, as deviceQuery, cudaGetDeviceProperties().totalGlobalMem
 * and torch.cuda.get_device_properties().total_memory read it: the quota, on
 * every device. The quota holds for the process's allocations on any device
 * it can reach (under a lease only the leased GPU is visible anyway), so no
 * device looks bigger than what the process may allocate on it. Where the
 * driver reports less (a MIG device, a smaller GPU) its figure stays.
 */
GPX_EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
    NEED(cuDeviceTotalMem_v2);
    CUresult rc = REAL(cuDeviceTotalMem_v2)(bytes, dev);
    if (rc == CUDA_SUCCESS && bytes && gpx__ip.mode == GPX_IP_ENFORCE && gpx__ip.quota &&
        *bytes > gpx__ip.quota)
        *bytes = (size_t)gpx__ip.quota;
    return rc;
}

/* The 32-bit original (before CUDA 3.2): the same, saturated at 4 GiB - 1 as the driver does. */
GPX_EXPORT CUresult cuDeviceTotalMem(unsigned int *bytes, CUdevice dev)
{
    NEED(cuDeviceTotalMem);
    CUresult rc = REAL(cuDeviceTotalMem)(bytes, dev);
    if (rc == CUDA_SUCCESS && bytes && gpx__ip.mode == GPX_IP_ENFORCE && gpx__ip.quota &&
        *bytes > gpx__ip.quota)
        *bytes = (unsigned int)gpx__ip.quota;
    return rc;
}

/* ---- NVML --------------------------------------------------------------------------------- */

/* 1 if `dev` is the leased GPU (by UUID, else by index; 1 if neither can be told). */
static int leased_gpu(nvmlDevice_t dev)
{
    if (gpx__ip.mode == GPX_IP_CLOSED)
        return 1;
    if (gpx__ip.limits.gpu_uuid[0] && gpx__ip_nvml.nvmlDeviceGetUUID) {
        char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
        if (gpx__ip_nvml.nvmlDeviceGetUUID(dev, uuid, sizeof uuid) == NVML_SUCCESS) {
            uuid[sizeof uuid - 1] = '\0';
            const char *a = uuid, *b = gpx__ip.limits.gpu_uuid;
            while (*a && *a == *b) {
                a++;
                b++;
            }
            return *a == *b;
        }
    }
    unsigned int index;
    if (gpx__ip_nvml.nvmlDeviceGetIndex &&
        gpx__ip_nvml.nvmlDeviceGetIndex(dev, &index) == NVML_SUCCESS)
        return index == gpx__ip.limits.gpu_index;
    return 1;
}

static void clamp_nvml(uint64_t *total, uint64_t *free_b, uint64_t *used)
{
    clamp_info(free_b, total);
    if (*free_b > *total)
        *free_b = *total;
    *used = *total - *free_b;
}

GPX_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
    gpx__ip_ensure();
    gpx__ip_nvml_ensure();
    if (!gpx__ip_nvml.nvmlDeviceGetMemoryInfo)
        return NVML_ERROR_FUNCTION_NOT_FOUND;
    nvmlReturn_t r = gpx__ip_nvml.nvmlDeviceGetMemoryInfo(device, memory);
    if (r != NVML_SUCCESS || !memory || !reshaping() || !leased_gpu(device))
        return r;
    uint64_t total = memory->total, free_b = memory->free, used;
    clamp_nvml(&total, &free_b, &used);
    memory->total = total;
    memory->free = free_b;
    memory->used = used;
    return r;
}

GPX_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
    gpx__ip_ensure();
    gpx__ip_nvml_ensure();
    if (!gpx__ip_nvml.nvmlDeviceGetMemoryInfo_v2)
        return NVML_ERROR_FUNCTION_NOT_FOUND;
    nvmlReturn_t r = gpx__ip_nvml.nvmlDeviceGetMemoryInfo_v2(device, memory);
    if (r != NVML_SUCCESS || !memory || !reshaping() || !leased_gpu(device))
        return r;
    uint64_t total = memory->total, free_b = memory->free, used;
    clamp_nvml(&total, &free_b, &used);
    memory->total = total;
    memory->reserved = 0; /* the lease's total is all usable: nothing held back from it */
    memory->free = free_b;
    memory->used = used;
    return r;
}
