/*
 * Simulated libcuda.so.1, part 5: the rest of the modelled surface —
 * cuCtxCreate_v4, peer access and peer copies, 2D memsets, cache and shared
 * memory preferences, cuPointerGetAttributes, memory-pool access, the JIT
 * linker, external semaphores, and IPC (refused). Entry points the simulator does not model at
 * all are in cuda_sim_stubs.c.
 */
#include "cuda_sim.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC_LINK 0x4c4e4b31U

/* ---------------------------------------------------------------- contexts */

SIM_EXPORT CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *ctxCreateParams,
                                   unsigned int flags, CUdevice dev)
{
    const CUctxCreateParams *p = ctxCreateParams;
    if (p) {
        if ((p->execAffinityParams && p->cigParams) || p->numExecAffinityParams < 0 ||
            (p->numExecAffinityParams > 0 && !p->execAffinityParams))
            return CUDA_ERROR_INVALID_VALUE;
        if (p->cigParams) /* CUDA in graphics: there is no graphics client to share with */
            return CUDA_ERROR_NOT_SUPPORTED;
    }
    /* As cuCtxCreate_v3: SM affinity is not simulated, every context gets the whole GPU. */
    return cuCtxCreate_v2(pctx, flags, dev);
}

static CUresult peer_of(struct sim_ctx *c, CUcontext peer, struct sim_ctx **out)
{
    struct sim_ctx *p = (struct sim_ctx *)peer;
    CUresult r = gpx__cu_ctx_check(p);
    if (r)
        return r;
    if (p->device == c->device)
        return CUDA_ERROR_INVALID_DEVICE;
    *out = p;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxEnablePeerAccess(CUcontext peerContext, unsigned int Flags)
{
    CURRENT_OR_RETURN(c);
    if (Flags)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_ctx *p;
    CUresult r = peer_of(c, peerContext, &p);
    if (r)
        return r;
    int can = 0;
    r = cuDeviceCanAccessPeer(&can, c->device, p->device);
    if (r)
        return r;
    if (!can)
        return CUDA_ERROR_PEER_ACCESS_UNSUPPORTED;
    pthread_mutex_lock(&gpx__cu.mu);
    uint32_t bit = 1U << p->device;
    r = (c->peers & bit) ? CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED : CUDA_SUCCESS;
    c->peers |= bit;
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

SIM_EXPORT CUresult cuCtxDisablePeerAccess(CUcontext peerContext)
{
    CURRENT_OR_RETURN(c);
    struct sim_ctx *p;
    CUresult r = peer_of(c, peerContext, &p);
    if (r)
        return r;
    pthread_mutex_lock(&gpx__cu.mu);
    uint32_t bit = 1U << p->device;
    r = (c->peers & bit) ? CUDA_SUCCESS : CUDA_ERROR_PEER_ACCESS_NOT_ENABLED;
    c->peers &= ~bit;
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

/* Cache and bank-size preferences: recorded and reported, with no effect on (virtual) time. */

SIM_EXPORT CUresult cuCtxSetCacheConfig(CUfunc_cache config)
{
    CURRENT_OR_RETURN(c);
    if ((unsigned)config > CU_FUNC_CACHE_PREFER_EQUAL)
        return CUDA_ERROR_INVALID_VALUE;
    c->cache_config = config;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxGetCacheConfig(CUfunc_cache *pconfig)
{
    CURRENT_OR_RETURN(c);
    if (!pconfig)
        return CUDA_ERROR_INVALID_VALUE;
    *pconfig = c->cache_config;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxSetSharedMemConfig(CUsharedconfig config)
{
    CURRENT_OR_RETURN(c);
    if ((unsigned)config > CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE)
        return CUDA_ERROR_INVALID_VALUE;
    c->shmem_config = config;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxGetSharedMemConfig(CUsharedconfig *pConfig)
{
    CURRENT_OR_RETURN(c);
    if (!pConfig)
        return CUDA_ERROR_INVALID_VALUE;
    *pConfig = c->shmem_config;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuFuncSetCacheConfig(CUfunction hfunc, CUfunc_cache config)
{
    CU_CHECK_INIT();
    if (!gpx__cu_func_valid(hfunc))
        return CUDA_ERROR_INVALID_HANDLE;
    return (unsigned)config > CU_FUNC_CACHE_PREFER_EQUAL ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuFuncSetSharedMemConfig(CUfunction hfunc, CUsharedconfig config)
{
    CU_CHECK_INIT();
    if (!gpx__cu_func_valid(hfunc))
        return CUDA_ERROR_INVALID_HANDLE;
    return (unsigned)config > CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE ? CUDA_ERROR_INVALID_VALUE
                                                                        : CUDA_SUCCESS;
}

/* ---------------------------------------------------------------- peer copies */

/* Every simulated GPU's memory is this process's host memory: a peer copy is a copy. */
static CUresult copy_peer(CUdeviceptr dst, CUcontext dctx, CUdeviceptr src, CUcontext sctx,
                          size_t n, CUstream hs, int async, int pt)
{
    CU_CHECK_INIT();
    CUresult r = gpx__cu_ctx_check((struct sim_ctx *)dctx);
    if (!r)
        r = gpx__cu_ctx_check((struct sim_ctx *)sctx);
    if (r)
        return r;
    return gpx__cu_copy((uintptr_t)dst, 0, (uintptr_t)src, 0, n, hs, async, pt);
}

SIM_EXPORT CUresult cuMemcpyPeer(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,
                                 CUcontext srcContext, size_t ByteCount)
{
    return copy_peer(dstDevice, dstContext, srcDevice, srcContext, ByteCount, NULL, 0, 0);
}

SIM_EXPORT CUresult cuMemcpyPeer_ptds(CUdeviceptr dstDevice, CUcontext dstContext,
                                      CUdeviceptr srcDevice, CUcontext srcContext, size_t ByteCount)
{
    return copy_peer(dstDevice, dstContext, srcDevice, srcContext, ByteCount, NULL, 0, 1);
}

SIM_EXPORT CUresult cuMemcpyPeerAsync(CUdeviceptr dstDevice, CUcontext dstContext,
                                      CUdeviceptr srcDevice, CUcontext srcContext, size_t ByteCount,
                                      CUstream hStream)
{
    return copy_peer(dstDevice, dstContext, srcDevice, srcContext, ByteCount, hStream, 1, 0);
}

SIM_EXPORT CUresult cuMemcpyPeerAsync_ptsz(CUdeviceptr dstDevice, CUcontext dstContext,
                                           CUdeviceptr srcDevice, CUcontext srcContext,
                                           size_t ByteCount, CUstream hStream)
{
    return copy_peer(dstDevice, dstContext, srcDevice, srcContext, ByteCount, hStream, 1, 1);
}

/* ---------------------------------------------------------------- 2D memsets */

#define MEMSET2D(name, vtype, esize, async, pt)                                                    \
    SIM_EXPORT CUresult name(CUdeviceptr dstDevice, size_t dstPitch, vtype v, size_t Width,        \
                             size_t Height)                                                        \
    {                                                                                              \
        return gpx__cu_memset2d((uintptr_t)dstDevice, dstPitch, v, esize, Width, Height, NULL,     \
                                async, pt);                                                        \
    }
#define MEMSET2D_ASYNC(name, vtype, esize, pt)                                                     \
    SIM_EXPORT CUresult name(CUdeviceptr dstDevice, size_t dstPitch, vtype v, size_t Width,        \
                             size_t Height, CUstream hStream)                                      \
    {                                                                                              \
        return gpx__cu_memset2d((uintptr_t)dstDevice, dstPitch, v, esize, Width, Height, hStream,  \
                                1, pt);                                                            \
    }
#define MEMSET2D_LEGACY(name, vtype, esize)                                                        \
    SIM_EXPORT CUresult name(CUdeviceptr_v1 dstDevice, unsigned int dstPitch, vtype v,             \
                             unsigned int Width, unsigned int Height)                              \
    {                                                                                              \
        return gpx__cu_memset2d((uintptr_t)dstDevice, dstPitch, v, esize, Width, Height, NULL, 0,  \
                                0);                                                                \
    }

MEMSET2D(cuMemsetD2D8_v2, unsigned char, 1, 0, 0)
MEMSET2D(cuMemsetD2D8_v2_ptds, unsigned char, 1, 0, 1)
MEMSET2D(cuMemsetD2D16_v2, unsigned short, 2, 0, 0)
MEMSET2D(cuMemsetD2D16_v2_ptds, unsigned short, 2, 0, 1)
MEMSET2D(cuMemsetD2D32_v2, unsigned int, 4, 0, 0)
MEMSET2D(cuMemsetD2D32_v2_ptds, unsigned int, 4, 0, 1)
MEMSET2D_ASYNC(cuMemsetD2D8Async, unsigned char, 1, 0)
MEMSET2D_ASYNC(cuMemsetD2D8Async_ptsz, unsigned char, 1, 1)
MEMSET2D_ASYNC(cuMemsetD2D16Async, unsigned short, 2, 0)
MEMSET2D_ASYNC(cuMemsetD2D16Async_ptsz, unsigned short, 2, 1)
MEMSET2D_ASYNC(cuMemsetD2D32Async, unsigned int, 4, 0)
MEMSET2D_ASYNC(cuMemsetD2D32Async_ptsz, unsigned int, 4, 1)
MEMSET2D_LEGACY(cuMemsetD2D8, unsigned char, 1)
MEMSET2D_LEGACY(cuMemsetD2D16, unsigned short, 2)
MEMSET2D_LEGACY(cuMemsetD2D32, unsigned int, 4)

/* ---------------------------------------------------------------- pointers */

/* Bytes of one attribute's value: what cuPointerGetAttributes clears for a foreign pointer. */
static size_t attr_size(CUpointer_attribute a)
{
    switch (a) {
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:
    case CU_POINTER_ATTRIBUTE_IS_MANAGED:
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL:
    case CU_POINTER_ATTRIBUTE_MAPPED:
        return sizeof(int);
    default:
        return sizeof(void *); /* pointers, handles, addresses, sizes, buffer ids */
    }
}

SIM_EXPORT CUresult cuPointerGetAttributes(unsigned int numAttributes,
                                           CUpointer_attribute *attributes, void **data,
                                           CUdeviceptr ptr)
{
    CU_CHECK_INIT();
    if (!numAttributes || !attributes || !data)
        return CUDA_ERROR_INVALID_VALUE;
    for (unsigned i = 0; i < numAttributes; i++) {
        if (!data[i])
            return CUDA_ERROR_INVALID_VALUE;
        /* Unlike cuPointerGetAttribute, a pointer the driver does not know is not an error:
         * its attributes read as zero (NULL context, no memory type). */
        if (cuPointerGetAttribute(data[i], attributes[i], ptr) != CUDA_SUCCESS)
            memset(data[i], 0, attr_size(attributes[i]));
    }
    return CUDA_SUCCESS;
}

/* ---------------------------------------------------------------- pool access */

static struct sim_pool *live_pool(CUmemoryPool h)
{
    struct sim_pool *p = (struct sim_pool *)h;
    return p && p->magic == MAGIC_POOL && !p->destroyed ? p : NULL;
}

SIM_EXPORT CUresult cuMemPoolSetAccess(CUmemoryPool pool, const CUmemAccessDesc *map, size_t count)
{
    CU_CHECK_INIT();
    struct sim_pool *p = live_pool(pool);
    if (!p || (count && !map))
        return CUDA_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < count; i++) {
        int dev = map[i].location.id;
        CUmemAccess_flags f = map[i].flags;
        if (map[i].location.type != CU_MEM_LOCATION_TYPE_DEVICE || dev < 0 || dev >= gpx__cu.ndev)
            return CUDA_ERROR_INVALID_DEVICE;
        /* Pools grant read-write or nothing; their own device keeps read-write. */
        if (f != CU_MEM_ACCESS_FLAGS_PROT_NONE && f != CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
            return CUDA_ERROR_INVALID_VALUE;
        if (dev == p->device && f != CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
            return CUDA_ERROR_INVALID_VALUE;
        int can = 1;
        if (p->device >= 0 && dev != p->device)
            (void)cuDeviceCanAccessPeer(&can, dev, p->device);
        if (!can && f != CU_MEM_ACCESS_FLAGS_PROT_NONE)
            return CUDA_ERROR_INVALID_DEVICE;
    }
    pthread_mutex_lock(&gpx__cu.mu);
    for (size_t i = 0; i < count; i++)
        p->access[map[i].location.id] = (unsigned char)map[i].flags;
    pthread_mutex_unlock(&gpx__cu.mu);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuMemPoolGetAccess(CUmemAccess_flags *flags, CUmemoryPool memPool,
                                       CUmemLocation *location)
{
    CU_CHECK_INIT();
    struct sim_pool *p = live_pool(memPool);
    if (!p || !flags || !location || location->type != CU_MEM_LOCATION_TYPE_DEVICE)
        return CUDA_ERROR_INVALID_VALUE;
    int dev = location->id;
    if (dev < 0 || dev >= gpx__cu.ndev)
        return CUDA_ERROR_INVALID_DEVICE;
    pthread_mutex_lock(&gpx__cu.mu);
    *flags =
        dev == p->device ? CU_MEM_ACCESS_FLAGS_PROT_READWRITE : (CUmemAccess_flags)p->access[dev];
    pthread_mutex_unlock(&gpx__cu.mu);
    return CUDA_SUCCESS;
}

/* ---------------------------------------------------------------- linker */

/*
 * The JIT linker over the simulator's module model: PTX inputs are joined
 * into one PTX text (whose .entry functions the module then has); any binary
 * input (cubin, fatbin, object, library) makes the output a binary image, in
 * which every function name resolves, as cuModuleLoadData treats binaries.
 */
struct sim_link {
    uint32_t magic;
    char *ptx;
    size_t len;
    int binary;
    void *out; /* cuLinkComplete's image, valid until cuLinkDestroy */
};

/* Destroyed states are kept for reuse (never freed), so a stale handle reads a dead magic. */
static struct sim_link *link_free;
static pthread_mutex_t link_mu = PTHREAD_MUTEX_INITIALIZER;

static struct sim_link *link_of(CUlinkState h)
{
    struct sim_link *l = (struct sim_link *)h;
    return l && l->magic == MAGIC_LINK ? l : NULL;
}

static CUresult link_create(unsigned n, CUjit_option *opts, void **vals, CUlinkState *out)
{
    CU_CHECK_INIT();
    if (!out || (n && (!opts || !vals)))
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&link_mu);
    struct sim_link *l = link_free;
    if (l)
        link_free = (struct sim_link *)l->out;
    pthread_mutex_unlock(&link_mu);
    if (!l)
        l = malloc(sizeof *l);
    if (!l)
        return CUDA_ERROR_OUT_OF_MEMORY;
    memset(l, 0, sizeof *l);
    l->magic = MAGIC_LINK;
    *out = (CUlinkState)l;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuLinkCreate_v2(unsigned int numOptions, CUjit_option *options,
                                    void **optionValues, CUlinkState *stateOut)
{
    return link_create(numOptions, options, optionValues, stateOut);
}

SIM_EXPORT CUresult cuLinkCreate(unsigned int numOptions, CUjit_option *options,
                                 void **optionValues, CUlinkState *stateOut)
{
    return link_create(numOptions, options, optionValues, stateOut);
}

static CUresult link_add(CUlinkState state, CUjitInputType type, const void *data, size_t size)
{
    CU_CHECK_INIT();
    struct sim_link *l = link_of(state);
    if (!l || !data || !size || (unsigned)type > CU_JIT_INPUT_LIBRARY)
        return CUDA_ERROR_INVALID_VALUE;
    if (type != CU_JIT_INPUT_PTX) {
        l->binary = 1;
        return CUDA_SUCCESS;
    }
    size_t n = strnlen(data, size);
    char *p = realloc(l->ptx, l->len + n + 2);
    if (!p)
        return CUDA_ERROR_OUT_OF_MEMORY;
    memcpy(p + l->len, data, n);
    l->len += n;
    p[l->len++] = '\n';
    p[l->len] = '\0';
    l->ptx = p;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuLinkAddData_v2(CUlinkState state, CUjitInputType type, void *data,
                                     size_t size, const char *name, unsigned int numOptions,
                                     CUjit_option *options, void **optionValues)
{
    (void)name, (void)numOptions, (void)options, (void)optionValues;
    return link_add(state, type, data, size);
}

SIM_EXPORT CUresult cuLinkAddData(CUlinkState state, CUjitInputType type, void *data, size_t size,
                                  const char *name, unsigned int numOptions, CUjit_option *options,
                                  void **optionValues)
{
    return cuLinkAddData_v2(state, type, data, size, name, numOptions, options, optionValues);
}

SIM_EXPORT CUresult cuLinkAddFile_v2(CUlinkState state, CUjitInputType type, const char *path,
                                     unsigned int numOptions, CUjit_option *options,
                                     void **optionValues)
{
    CU_CHECK_INIT();
    (void)numOptions, (void)options, (void)optionValues;
    if (!link_of(state) || !path)
        return CUDA_ERROR_INVALID_VALUE;
    FILE *f = fopen(path, "rb");
    if (!f)
        return CUDA_ERROR_FILE_NOT_FOUND;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    CUresult r = CUDA_SUCCESS;
    for (;;) {
        if (len == cap) {
            char *nb = realloc(buf, cap = cap ? cap * 2 : 65536);
            if (!nb) {
                r = CUDA_ERROR_OUT_OF_MEMORY;
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (!r && ferror(f))
        r = CUDA_ERROR_FILE_NOT_FOUND;
    fclose(f);
    if (!r)
        r = len ? link_add(state, type, buf, len) : CUDA_ERROR_INVALID_IMAGE;
    free(buf);
    return r;
}

SIM_EXPORT CUresult cuLinkAddFile(CUlinkState state, CUjitInputType type, const char *path,
                                  unsigned int numOptions, CUjit_option *options,
                                  void **optionValues)
{
    return cuLinkAddFile_v2(state, type, path, numOptions, options, optionValues);
}

SIM_EXPORT CUresult cuLinkComplete(CUlinkState state, void **cubinOut, size_t *sizeOut)
{
    CU_CHECK_INIT();
    struct sim_link *l = link_of(state);
    if (!l || !cubinOut || !sizeOut)
        return CUDA_ERROR_INVALID_VALUE;
    if (!l->binary && !l->ptx)
        return CUDA_ERROR_INVALID_VALUE; /* nothing was added */
    free(l->out);
    /* A binary input makes an ELF image (any name resolves); else the joined PTX. */
    static const char elf[16] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
    size_t n = l->binary ? sizeof elf : l->len + 1;
    l->out = malloc(n);
    if (!l->out)
        return CUDA_ERROR_OUT_OF_MEMORY;
    memcpy(l->out, l->binary ? elf : l->ptx, n);
    *cubinOut = l->out;
    *sizeOut = n;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuLinkDestroy(CUlinkState state)
{
    CU_CHECK_INIT();
    struct sim_link *l = link_of(state);
    if (!l)
        return CUDA_ERROR_INVALID_VALUE;
    free(l->ptx);
    free(l->out);
    pthread_mutex_lock(&link_mu);
    l->magic = MAGIC_DEAD;
    l->ptx = NULL;
    l->out = link_free; /* the free list's link */
    link_free = l;
    pthread_mutex_unlock(&link_mu);
    return CUDA_SUCCESS;
}

/* ---------------------------------------------------------------- IPC */

/*
 * Not simulated: simulated device memory is the process's own anonymous host
 * memory, which another process cannot map, and events are process-local.
 */
SIM_EXPORT CUresult cuIpcGetMemHandle(CUipcMemHandle *pHandle, CUdeviceptr dptr)
{
    CU_CHECK_INIT();
    (void)pHandle, (void)dptr;
    return CUDA_ERROR_NOT_SUPPORTED;
}

SIM_EXPORT CUresult cuIpcOpenMemHandle_v2(CUdeviceptr *pdptr, CUipcMemHandle handle,
                                          unsigned int Flags)
{
    CU_CHECK_INIT();
    (void)pdptr, (void)handle, (void)Flags;
    return CUDA_ERROR_NOT_SUPPORTED;
}

SIM_EXPORT CUresult cuIpcOpenMemHandle(CUdeviceptr *pdptr, CUipcMemHandle handle,
                                       unsigned int Flags)
{
    return cuIpcOpenMemHandle_v2(pdptr, handle, Flags);
}

SIM_EXPORT CUresult cuIpcCloseMemHandle(CUdeviceptr dptr)
{
    CU_CHECK_INIT();
    (void)dptr;
    return CUDA_ERROR_NOT_SUPPORTED;
}

SIM_EXPORT CUresult cuIpcGetEventHandle(CUipcEventHandle *pHandle, CUevent event)
{
    CU_CHECK_INIT();
    (void)pHandle, (void)event;
    return CUDA_ERROR_NOT_SUPPORTED;
}

SIM_EXPORT CUresult cuIpcOpenEventHandle(CUevent *phEvent, CUipcEventHandle handle)
{
    CU_CHECK_INIT();
    (void)phEvent, (void)handle;
    return CUDA_ERROR_NOT_SUPPORTED;
}

/* ---------------------------------------------------------------- external semaphores */

/*
 * Imported from file descriptors (opaque and timeline): the import takes the
 * descriptor, as the driver does, and closes it. Signals and waits are
 * checked and ordered on their stream, and complete at once: no other API
 * (Vulkan, a display) runs beside the simulated GPU to wait for. Windows,
 * Direct3D and NvSciSync handles are CUDA_ERROR_NOT_SUPPORTED.
 */
#define MAGIC_EXTSEM 0x45534d31U

struct sim_extsem {
    uint32_t magic;
    CUexternalSemaphoreHandleType type;
    struct sim_extsem *next; /* the free list */
};

static struct sim_extsem *extsem_free;
static pthread_mutex_t extsem_mu = PTHREAD_MUTEX_INITIALIZER;

SIM_EXPORT CUresult cuImportExternalSemaphore(CUexternalSemaphore *extSem_out,
                                              const CUDA_EXTERNAL_SEMAPHORE_HANDLE_DESC *desc)
{
    CURRENT_OR_RETURN(c);
    (void)c;
    if (!extSem_out || !desc || desc->type < CU_EXTERNAL_SEMAPHORE_HANDLE_TYPE_OPAQUE_FD ||
        desc->type > CU_EXTERNAL_SEMAPHORE_HANDLE_TYPE_TIMELINE_SEMAPHORE_WIN32)
        return CUDA_ERROR_INVALID_VALUE;
    if (desc->type != CU_EXTERNAL_SEMAPHORE_HANDLE_TYPE_OPAQUE_FD &&
        desc->type != CU_EXTERNAL_SEMAPHORE_HANDLE_TYPE_TIMELINE_SEMAPHORE_FD)
        return CUDA_ERROR_NOT_SUPPORTED; /* no Windows, Direct3D or NvSciSync here */
    if (desc->handle.fd < 0 || fcntl(desc->handle.fd, F_GETFD) < 0)
        return CUDA_ERROR_INVALID_HANDLE;
    pthread_mutex_lock(&extsem_mu);
    struct sim_extsem *e = extsem_free;
    if (e)
        extsem_free = e->next;
    pthread_mutex_unlock(&extsem_mu);
    if (!e && !(e = malloc(sizeof *e)))
        return CUDA_ERROR_OUT_OF_MEMORY;
    memset(e, 0, sizeof *e);
    e->magic = MAGIC_EXTSEM;
    e->type = desc->type;
    close(desc->handle.fd); /* the driver owns an imported descriptor */
    *extSem_out = (CUexternalSemaphore)e;
    return CUDA_SUCCESS;
}

static CUresult extsem_op(const CUexternalSemaphore *sems, const void *params, unsigned n,
                          CUstream hs, int pt)
{
    CURRENT_OR_RETURN(c);
    (void)c;
    if (!n || !sems || !params)
        return CUDA_ERROR_INVALID_VALUE;
    for (unsigned i = 0; i < n; i++) {
        const struct sim_extsem *e = (const struct sim_extsem *)sems[i];
        if (!e || e->magic != MAGIC_EXTSEM)
            return CUDA_ERROR_INVALID_HANDLE;
    }
    struct sim_stream *s;
    return gpx__cu_stream(hs, pt, &s);
}

SIM_EXPORT CUresult
cuSignalExternalSemaphoresAsync(const CUexternalSemaphore *extSemArray,
                                const CUDA_EXTERNAL_SEMAPHORE_SIGNAL_PARAMS *paramsArray,
                                unsigned int numExtSems, CUstream stream)
{
    return extsem_op(extSemArray, paramsArray, numExtSems, stream, 0);
}

SIM_EXPORT CUresult
cuSignalExternalSemaphoresAsync_ptsz(const CUexternalSemaphore *extSemArray,
                                     const CUDA_EXTERNAL_SEMAPHORE_SIGNAL_PARAMS *paramsArray,
                                     unsigned int numExtSems, CUstream stream)
{
    return extsem_op(extSemArray, paramsArray, numExtSems, stream, 1);
}

SIM_EXPORT CUresult cuWaitExternalSemaphoresAsync(
    const CUexternalSemaphore *extSemArray, const CUDA_EXTERNAL_SEMAPHORE_WAIT_PARAMS *paramsArray,
    unsigned int numExtSems, CUstream stream)
{
    return extsem_op(extSemArray, paramsArray, numExtSems, stream, 0);
}

SIM_EXPORT CUresult cuWaitExternalSemaphoresAsync_ptsz(
    const CUexternalSemaphore *extSemArray, const CUDA_EXTERNAL_SEMAPHORE_WAIT_PARAMS *paramsArray,
    unsigned int numExtSems, CUstream stream)
{
    return extsem_op(extSemArray, paramsArray, numExtSems, stream, 1);
}

SIM_EXPORT CUresult cuDestroyExternalSemaphore(CUexternalSemaphore extSem)
{
    CU_CHECK_INIT();
    struct sim_extsem *e = (struct sim_extsem *)extSem;
    if (!e || e->magic != MAGIC_EXTSEM)
        return CUDA_ERROR_INVALID_HANDLE;
    pthread_mutex_lock(&extsem_mu);
    e->magic = MAGIC_DEAD;
    e->next = extsem_free;
    extsem_free = e;
    pthread_mutex_unlock(&extsem_mu);
    return CUDA_SUCCESS;
}
