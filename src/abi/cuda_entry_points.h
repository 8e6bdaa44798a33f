/*
 * The CUDA driver entry points gpuplex declares, as one X-macro list:
 * X(name, (parameters)), every one returning CUresult. Kept apart from
 * cuda_abi.h's types so that tests/abi/ can expand the same list against
 * NVIDIA's cuda.h and check each signature there.
 */
#ifndef GPX_CUDA_ENTRY_POINTS_H
#define GPX_CUDA_ENTRY_POINTS_H

/*
 * Entry points: X(name, (parameters)). Grouped as the reference groups them;
 * within a group: the exported base symbol, its legacy unversioned name where
 * libcuda still exports one, then its per-thread variants.
 */
/* clang-format off */
#define GPX_CUDA_ENTRY_POINTS(X)                                                                   \
    /* errors, init, version */                                                                    \
    X(cuGetErrorName, (CUresult error, const char **pStr))                                         \
    X(cuGetErrorString, (CUresult error, const char **pStr))                                       \
    X(cuInit, (unsigned int Flags))                                                                \
    X(cuDriverGetVersion, (int *driverVersion))                                                    \
    X(cuGetExportTable, (const void **ppExportTable, const CUuuid *pExportTableId))                \
    X(cuGetProcAddress, (const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags))       \
    X(cuGetProcAddress_v2, (const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,     \
                            CUdriverProcAddressQueryResult *symbolStatus))                         \
    /* devices */                                                                                  \
    X(cuDeviceGet, (CUdevice *device, int ordinal))                                                \
    X(cuDeviceGetCount, (int *count))                                                              \
    X(cuDeviceGetName, (char *name, int len, CUdevice dev))                                        \
    X(cuDeviceGetUuid, (CUuuid *uuid, CUdevice dev))                                               \
    X(cuDeviceGetUuid_v2, (CUuuid *uuid, CUdevice dev))                                            \
    X(cuDeviceTotalMem_v2, (size_t *bytes, CUdevice dev))                                          \
    X(cuDeviceTotalMem, (unsigned int *bytes, CUdevice dev))                                       \
    X(cuDeviceGetAttribute, (int *pi, CUdevice_attribute attrib, CUdevice dev))                    \
    X(cuDeviceComputeCapability, (int *major, int *minor, CUdevice dev))                           \
    X(cuDeviceGetPCIBusId, (char *pciBusId, int len, CUdevice dev))                                \
    X(cuDeviceGetByPCIBusId, (CUdevice *dev, const char *pciBusId))                                \
    X(cuDeviceCanAccessPeer, (int *canAccessPeer, CUdevice dev, CUdevice peerDev))                 \
    X(cuDeviceGetDefaultMemPool, (CUmemoryPool *pool_out, CUdevice dev))                           \
    X(cuDeviceGetMemPool, (CUmemoryPool *pool, CUdevice dev))                                      \
    X(cuDeviceSetMemPool, (CUdevice dev, CUmemoryPool pool))                                       \
    /* primary contexts */                                                                         \
    X(cuDevicePrimaryCtxRetain, (CUcontext *pctx, CUdevice dev))                                   \
    X(cuDevicePrimaryCtxRelease_v2, (CUdevice dev))                                                \
    X(cuDevicePrimaryCtxRelease, (CUdevice dev))                                                   \
    X(cuDevicePrimaryCtxReset_v2, (CUdevice dev))                                                  \
    X(cuDevicePrimaryCtxReset, (CUdevice dev))                                                     \
    X(cuDevicePrimaryCtxSetFlags_v2, (CUdevice dev, unsigned int flags))                           \
    X(cuDevicePrimaryCtxSetFlags, (CUdevice dev, unsigned int flags))                              \
    X(cuDevicePrimaryCtxGetState, (CUdevice dev, unsigned int *flags, int *active))                \
    /* contexts */                                                                                 \
    X(cuCtxCreate_v2, (CUcontext *pctx, unsigned int flags, CUdevice dev))                         \
    X(cuCtxCreate, (CUcontext *pctx, unsigned int flags, CUdevice dev))                            \
    X(cuCtxCreate_v3, (CUcontext *pctx, CUexecAffinityParam *paramsArray, int numParams,           \
                       unsigned int flags, CUdevice dev))                                          \
    X(cuCtxDestroy_v2, (CUcontext ctx))                                                            \
    X(cuCtxDestroy, (CUcontext ctx))                                                               \
    X(cuCtxPushCurrent_v2, (CUcontext ctx))                                                        \
    X(cuCtxPushCurrent, (CUcontext ctx))                                                           \
    X(cuCtxPopCurrent_v2, (CUcontext *pctx))                                                       \
    X(cuCtxPopCurrent, (CUcontext *pctx))                                                          \
    X(cuCtxSetCurrent, (CUcontext ctx))                                                            \
    X(cuCtxGetCurrent, (CUcontext *pctx))                                                          \
    X(cuCtxGetDevice, (CUdevice *device))                                                          \
    X(cuCtxGetFlags, (unsigned int *flags))                                                        \
    X(cuCtxGetApiVersion, (CUcontext ctx, unsigned int *version))                                  \
    X(cuCtxSynchronize, (void))                                                                    \
    X(cuCtxSetLimit, (CUlimit limit, size_t value))                                                \
    X(cuCtxGetLimit, (size_t *pvalue, CUlimit limit))                                              \
    X(cuCtxGetStreamPriorityRange, (int *leastPriority, int *greatestPriority))                    \
    X(cuCtxEnablePeerAccess, (CUcontext peerContext, unsigned int Flags))                          \
    /* linear device memory */                                                                     \
    X(cuMemGetInfo_v2, (size_t *free, size_t *total))                                              \
    X(cuMemGetInfo, (unsigned int *free, unsigned int *total))                                     \
    X(cuMemAlloc_v2, (CUdeviceptr *dptr, size_t bytesize))                                         \
    X(cuMemAlloc, (CUdeviceptr_v1 *dptr, unsigned int bytesize))                                   \
    X(cuMemAllocPitch_v2, (CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes, size_t Height,  \
                           unsigned int ElementSizeBytes))                                         \
    X(cuMemAllocPitch, (CUdeviceptr_v1 *dptr, unsigned int *pPitch, unsigned int WidthInBytes,     \
                        unsigned int Height, unsigned int ElementSizeBytes))                       \
    X(cuMemAllocManaged, (CUdeviceptr *dptr, size_t bytesize, unsigned int flags))                 \
    X(cuMemFree_v2, (CUdeviceptr dptr))                                                            \
    X(cuMemFree, (CUdeviceptr_v1 dptr))                                                            \
    X(cuMemGetAddressRange_v2, (CUdeviceptr *pbase, size_t *psize, CUdeviceptr dptr))              \
    X(cuMemGetAddressRange, (CUdeviceptr_v1 *pbase, unsigned int *psize, CUdeviceptr_v1 dptr))     \
    X(cuPointerGetAttribute, (void *data, CUpointer_attribute attribute, CUdeviceptr ptr))         \
    X(cuMemAdvise, (CUdeviceptr devPtr, size_t count, CUmem_advise advice, CUdevice device))       \
    X(cuMemAdvise_v2, (CUdeviceptr devPtr, size_t count, CUmem_advise advice,                      \
                       CUmemLocation location))                                                    \
    X(cuMemPrefetchAsync, (CUdeviceptr devPtr, size_t count, CUdevice dstDevice, CUstream hStream))\
    X(cuMemPrefetchAsync_v2, (CUdeviceptr devPtr, size_t count, CUmemLocation location,            \
                              unsigned int flags, CUstream hStream))                               \
    X(cuMemPrefetchAsync_v2_ptsz, (CUdeviceptr devPtr, size_t count, CUmemLocation location,       \
                                   unsigned int flags, CUstream hStream))                          \
    X(cuMemPrefetchAsync_ptsz, (CUdeviceptr devPtr, size_t count, CUdevice dstDevice,              \
                                CUstream hStream))                                                 \
    /* host memory (never device memory) */                                                        \
    X(cuMemHostAlloc, (void **pp, size_t bytesize, unsigned int Flags))                            \
    X(cuMemAllocHost_v2, (void **pp, size_t bytesize))                                             \
    X(cuMemAllocHost, (void **pp, unsigned int bytesize))                                          \
    X(cuMemFreeHost, (void *p))                                                                    \
    X(cuMemHostGetDevicePointer_v2, (CUdeviceptr *pdptr, void *p, unsigned int Flags))             \
    X(cuMemHostRegister_v2, (void *p, size_t bytesize, unsigned int Flags))                        \
    X(cuMemHostRegister, (void *p, size_t bytesize, unsigned int Flags))                           \
    X(cuMemHostUnregister, (void *p))                                                              \
    /* IPC (maps memory another process allocated and counted) */                                  \
    X(cuIpcGetMemHandle, (CUipcMemHandle *pHandle, CUdeviceptr dptr))                              \
    X(cuIpcOpenMemHandle_v2, (CUdeviceptr *pdptr, CUipcMemHandle handle, unsigned int Flags))      \
    X(cuIpcOpenMemHandle, (CUdeviceptr *pdptr, CUipcMemHandle handle, unsigned int Flags))         \
    X(cuIpcCloseMemHandle, (CUdeviceptr dptr))                                                     \
    /* virtual memory management */                                                                \
    X(cuMemCreate, (CUmemGenericAllocationHandle *handle, size_t size,                             \
                    const CUmemAllocationProp *prop, unsigned long long flags))                    \
    X(cuMemRelease, (CUmemGenericAllocationHandle handle))                                         \
    X(cuMemAddressReserve, (CUdeviceptr *ptr, size_t size, size_t alignment, CUdeviceptr addr,     \
                            unsigned long long flags))                                             \
    X(cuMemAddressFree, (CUdeviceptr ptr, size_t size))                                            \
    X(cuMemMap, (CUdeviceptr ptr, size_t size, size_t offset,                                      \
                 CUmemGenericAllocationHandle handle, unsigned long long flags))                   \
    X(cuMemUnmap, (CUdeviceptr ptr, size_t size))                                                  \
    X(cuMemSetAccess, (CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc, size_t count))   \
    X(cuMemGetAccess, (unsigned long long *flags, const CUmemLocation *location,                   \
                       CUdeviceptr ptr))                                                           \
    X(cuMemGetAllocationGranularity, (size_t *granularity, const CUmemAllocationProp *prop,        \
                                      CUmemAllocationGranularity_flags option))                    \
    X(cuMemGetAllocationPropertiesFromHandle, (CUmemAllocationProp *prop,                          \
                                               CUmemGenericAllocationHandle handle))               \
    X(cuMemRetainAllocationHandle, (CUmemGenericAllocationHandle *handle, void *addr))             \
    X(cuMemExportToShareableHandle, (void *shareableHandle, CUmemGenericAllocationHandle handle,   \
                                     CUmemAllocationHandleType handleType,                         \
                                     unsigned long long flags))                                    \
    X(cuMemImportFromShareableHandle, (CUmemGenericAllocationHandle *handle, void *osHandle,       \
                                       CUmemAllocationHandleType shHandleType))                    \
    /* stream-ordered allocation */                                                                \
    X(cuMemAllocAsync, (CUdeviceptr *dptr, size_t bytesize, CUstream hStream))                     \
    X(cuMemAllocAsync_ptsz, (CUdeviceptr *dptr, size_t bytesize, CUstream hStream))                \
    X(cuMemFreeAsync, (CUdeviceptr dptr, CUstream hStream))                                        \
    X(cuMemFreeAsync_ptsz, (CUdeviceptr dptr, CUstream hStream))                                   \
    X(cuMemAllocFromPoolAsync, (CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,             \
                                CUstream hStream))                                                 \
    X(cuMemAllocFromPoolAsync_ptsz, (CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,        \
                                     CUstream hStream))                                            \
    X(cuMemPoolCreate, (CUmemoryPool *pool, const CUmemPoolProps *poolProps))                      \
    X(cuMemPoolDestroy, (CUmemoryPool pool))                                                       \
    X(cuMemPoolTrimTo, (CUmemoryPool pool, size_t minBytesToKeep))                                 \
    X(cuMemPoolSetAttribute, (CUmemoryPool pool, CUmemPool_attribute attr, void *value))           \
    X(cuMemPoolGetAttribute, (CUmemoryPool pool, CUmemPool_attribute attr, void *value))           \
    /* arrays */                                                                                   \
    X(cuArrayCreate_v2, (CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR *pAllocateArray))           \
    X(cuArrayCreate, (CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR_v1 *pAllocateArray))           \
    X(cuArray3DCreate_v2, (CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *pAllocateArray))       \
    X(cuArray3DCreate, (CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR_v1 *pAllocateArray))       \
    X(cuArrayDestroy, (CUarray hArray))                                                            \
    X(cuMipmappedArrayCreate, (CUmipmappedArray *pHandle,                                          \
                               const CUDA_ARRAY3D_DESCRIPTOR *pMipmappedArrayDesc,                 \
                               unsigned int numMipmapLevels))                                      \
    X(cuMipmappedArrayDestroy, (CUmipmappedArray hMipmappedArray))                                 \
    /* external memory */                                                                          \
    X(cuImportExternalMemory, (CUexternalMemory *extMem_out,                                       \
                               const CUDA_EXTERNAL_MEMORY_HANDLE_DESC *memHandleDesc))             \
    X(cuExternalMemoryGetMappedBuffer, (CUdeviceptr *devPtr, CUexternalMemory extMem,              \
                                        const CUDA_EXTERNAL_MEMORY_BUFFER_DESC *bufferDesc))       \
    X(cuDestroyExternalMemory, (CUexternalMemory extMem))                                          \
    /* copies and sets */                                                                          \
    X(cuMemcpy, (CUdeviceptr dst, CUdeviceptr src, size_t ByteCount))                              \
    X(cuMemcpy_ptds, (CUdeviceptr dst, CUdeviceptr src, size_t ByteCount))                         \
    X(cuMemcpyAsync, (CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream))       \
    X(cuMemcpyAsync_ptsz, (CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream))  \
    X(cuMemcpyHtoD_v2, (CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount))             \
    X(cuMemcpyHtoD_v2_ptds, (CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount))        \
    X(cuMemcpyHtoD, (CUdeviceptr_v1 dstDevice, const void *srcHost, unsigned int ByteCount))       \
    X(cuMemcpyDtoH_v2, (void *dstHost, CUdeviceptr srcDevice, size_t ByteCount))                   \
    X(cuMemcpyDtoH_v2_ptds, (void *dstHost, CUdeviceptr srcDevice, size_t ByteCount))              \
    X(cuMemcpyDtoH, (void *dstHost, CUdeviceptr_v1 srcDevice, unsigned int ByteCount))             \
    X(cuMemcpyDtoD_v2, (CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount))           \
    X(cuMemcpyDtoD_v2_ptds, (CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount))      \
    X(cuMemcpyDtoD, (CUdeviceptr_v1 dstDevice, CUdeviceptr_v1 srcDevice, unsigned int ByteCount))  \
    X(cuMemcpyHtoDAsync_v2, (CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount,         \
                             CUstream hStream))                                                    \
    X(cuMemcpyHtoDAsync_v2_ptsz, (CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount,    \
                                  CUstream hStream))                                               \
    X(cuMemcpyDtoHAsync_v2, (void *dstHost, CUdeviceptr srcDevice, size_t ByteCount,               \
                             CUstream hStream))                                                    \
    X(cuMemcpyDtoHAsync_v2_ptsz, (void *dstHost, CUdeviceptr srcDevice, size_t ByteCount,          \
                                  CUstream hStream))                                               \
    X(cuMemcpyDtoDAsync_v2, (CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount,       \
                             CUstream hStream))                                                    \
    X(cuMemcpyDtoDAsync_v2_ptsz, (CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount,  \
                                  CUstream hStream))                                               \
    X(cuMemcpy2D_v2, (const CUDA_MEMCPY2D *pCopy))                                                 \
    X(cuMemcpy2D_v2_ptds, (const CUDA_MEMCPY2D *pCopy))                                            \
    X(cuMemcpy2DUnaligned_v2, (const CUDA_MEMCPY2D *pCopy))                                        \
    X(cuMemcpy2DUnaligned_v2_ptds, (const CUDA_MEMCPY2D *pCopy))                                   \
    X(cuMemcpy2DAsync_v2, (const CUDA_MEMCPY2D *pCopy, CUstream hStream))                          \
    X(cuMemcpy2DAsync_v2_ptsz, (const CUDA_MEMCPY2D *pCopy, CUstream hStream))                     \
    X(cuMemcpy3D_v2, (const CUDA_MEMCPY3D *pCopy))                                                 \
    X(cuMemcpy3D_v2_ptds, (const CUDA_MEMCPY3D *pCopy))                                            \
    X(cuMemcpy3DAsync_v2, (const CUDA_MEMCPY3D *pCopy, CUstream hStream))                          \
    X(cuMemcpy3DAsync_v2_ptsz, (const CUDA_MEMCPY3D *pCopy, CUstream hStream))                     \
    X(cuMemsetD8_v2, (CUdeviceptr dstDevice, unsigned char uc, size_t N))                          \
    X(cuMemsetD8_v2_ptds, (CUdeviceptr dstDevice, unsigned char uc, size_t N))                     \
    X(cuMemsetD8, (CUdeviceptr_v1 dstDevice, unsigned char uc, unsigned int N))                    \
    X(cuMemsetD16_v2, (CUdeviceptr dstDevice, unsigned short us, size_t N))                        \
    X(cuMemsetD16_v2_ptds, (CUdeviceptr dstDevice, unsigned short us, size_t N))                   \
    X(cuMemsetD32_v2, (CUdeviceptr dstDevice, unsigned int ui, size_t N))                          \
    X(cuMemsetD32_v2_ptds, (CUdeviceptr dstDevice, unsigned int ui, size_t N))                     \
    X(cuMemsetD32, (CUdeviceptr_v1 dstDevice, unsigned int ui, unsigned int N))                    \
    X(cuMemsetD8Async, (CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream))      \
    X(cuMemsetD8Async_ptsz, (CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream)) \
    X(cuMemsetD16Async, (CUdeviceptr dstDevice, unsigned short us, size_t N, CUstream hStream))    \
    X(cuMemsetD16Async_ptsz, (CUdeviceptr dstDevice, unsigned short us, size_t N,                  \
                              CUstream hStream))                                                   \
    X(cuMemsetD32Async, (CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream))      \
    X(cuMemsetD32Async_ptsz, (CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream)) \
    /* streams */                                                                                  \
    X(cuStreamCreate, (CUstream *phStream, unsigned int Flags))                                    \
    X(cuStreamCreateWithPriority, (CUstream *phStream, unsigned int flags, int priority))          \
    X(cuStreamDestroy_v2, (CUstream hStream))                                                      \
    X(cuStreamDestroy, (CUstream hStream))                                                         \
    X(cuStreamGetPriority, (CUstream hStream, int *priority))                                      \
    X(cuStreamGetPriority_ptsz, (CUstream hStream, int *priority))                                 \
    X(cuStreamGetFlags, (CUstream hStream, unsigned int *flags))                                   \
    X(cuStreamGetFlags_ptsz, (CUstream hStream, unsigned int *flags))                              \
    X(cuStreamGetCtx, (CUstream hStream, CUcontext *pctx))                                         \
    X(cuStreamGetCtx_ptsz, (CUstream hStream, CUcontext *pctx))                                    \
    X(cuStreamSynchronize, (CUstream hStream))                                                     \
    X(cuStreamSynchronize_ptsz, (CUstream hStream))                                                \
    X(cuStreamQuery, (CUstream hStream))                                                           \
    X(cuStreamQuery_ptsz, (CUstream hStream))                                                      \
    X(cuStreamWaitEvent, (CUstream hStream, CUevent hEvent, unsigned int Flags))                   \
    X(cuStreamWaitEvent_ptsz, (CUstream hStream, CUevent hEvent, unsigned int Flags))              \
    X(cuLaunchHostFunc, (CUstream hStream, CUhostFn fn, void *userData))                           \
    X(cuLaunchHostFunc_ptsz, (CUstream hStream, CUhostFn fn, void *userData))                      \
    /* events */                                                                                   \
    X(cuEventCreate, (CUevent *phEvent, unsigned int Flags))                                       \
    X(cuEventRecord, (CUevent hEvent, CUstream hStream))                                           \
    X(cuEventRecord_ptsz, (CUevent hEvent, CUstream hStream))                                      \
    X(cuEventRecordWithFlags, (CUevent hEvent, CUstream hStream, unsigned int flags))              \
    X(cuEventRecordWithFlags_ptsz, (CUevent hEvent, CUstream hStream, unsigned int flags))         \
    X(cuEventQuery, (CUevent hEvent))                                                              \
    X(cuEventSynchronize, (CUevent hEvent))                                                        \
    X(cuEventElapsedTime, (float *pMilliseconds, CUevent hStart, CUevent hEnd))                    \
    X(cuEventElapsedTime_v2, (float *pMilliseconds, CUevent hStart, CUevent hEnd))                 \
    X(cuEventDestroy_v2, (CUevent hEvent))                                                         \
    X(cuEventDestroy, (CUevent hEvent))                                                            \
    /* modules and functions */                                                                    \
    X(cuModuleLoad, (CUmodule *module, const char *fname))                                         \
    X(cuModuleLoadData, (CUmodule *module, const void *image))                                     \
    X(cuModuleLoadDataEx, (CUmodule *module, const void *image, unsigned int numOptions,           \
                           CUjit_option *options, void **optionValues))                            \
    X(cuModuleLoadFatBinary, (CUmodule *module, const void *fatCubin))                             \
    X(cuModuleUnload, (CUmodule hmod))                                                             \
    X(cuModuleGetFunction, (CUfunction *hfunc, CUmodule hmod, const char *name))                   \
    X(cuModuleGetGlobal_v2, (CUdeviceptr *dptr, size_t *bytes, CUmodule hmod, const char *name))   \
    X(cuFuncGetAttribute, (int *pi, CUfunction_attribute attrib, CUfunction hfunc))                \
    X(cuFuncSetAttribute, (CUfunction hfunc, CUfunction_attribute attrib, int value))              \
    X(cuOccupancyMaxActiveBlocksPerMultiprocessor, (int *numBlocks, CUfunction func,               \
                                                    int blockSize, size_t dynamicSMemSize))        \
    X(cuLinkCreate_v2, (unsigned int numOptions, CUjit_option *options, void **optionValues,       \
                        CUlinkState *stateOut))                                                    \
    X(cuLinkAddData_v2, (CUlinkState state, CUjitInputType type, void *data, size_t size,          \
                         const char *name, unsigned int numOptions, CUjit_option *options,         \
                         void **optionValues))                                                     \
    X(cuLinkComplete, (CUlinkState state, void **cubinOut, size_t *sizeOut))                       \
    X(cuLinkDestroy, (CUlinkState state))                                                          \
    /* launches */                                                                                 \
    X(cuLaunchKernel, (CUfunction f, unsigned int gridDimX, unsigned int gridDimY,                 \
                       unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,      \
                       unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,      \
                       void **kernelParams, void **extra))                                         \
    X(cuLaunchKernel_ptsz, (CUfunction f, unsigned int gridDimX, unsigned int gridDimY,            \
                            unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY, \
                            unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream, \
                            void **kernelParams, void **extra))                                    \
    X(cuLaunchKernelEx, (const CUlaunchConfig *config, CUfunction f, void **kernelParams,          \
                         void **extra))                                                            \
    X(cuLaunchKernelEx_ptsz, (const CUlaunchConfig *config, CUfunction f, void **kernelParams,     \
                              void **extra))                                                       \
    X(cuLaunchCooperativeKernel, (CUfunction f, unsigned int gridDimX, unsigned int gridDimY,      \
                                  unsigned int gridDimZ, unsigned int blockDimX,                   \
                                  unsigned int blockDimY, unsigned int blockDimZ,                  \
                                  unsigned int sharedMemBytes, CUstream hStream,                   \
                                  void **kernelParams))                                            \
    X(cuLaunchCooperativeKernel_ptsz, (CUfunction f, unsigned int gridDimX,                        \
                                       unsigned int gridDimY, unsigned int gridDimZ,               \
                                       unsigned int blockDimX, unsigned int blockDimY,             \
                                       unsigned int blockDimZ, unsigned int sharedMemBytes,        \
                                       CUstream hStream, void **kernelParams))                     \
    /* graphs */                                                                                   \
    X(cuStreamBeginCapture_v2, (CUstream hStream, CUstreamCaptureMode mode))                       \
    X(cuStreamBeginCapture_v2_ptsz, (CUstream hStream, CUstreamCaptureMode mode))                  \
    X(cuStreamEndCapture, (CUstream hStream, CUgraph *phGraph))                                    \
    X(cuStreamEndCapture_ptsz, (CUstream hStream, CUgraph *phGraph))                               \
    X(cuThreadExchangeStreamCaptureMode, (CUstreamCaptureMode *mode))                              \
    X(cuGraphLaunch, (CUgraphExec hGraphExec, CUstream hStream))                                   \
    X(cuGraphLaunch_ptsz, (CUgraphExec hGraphExec, CUstream hStream))                              \
    X(cuStreamBeginCapture, (CUstream hStream))                                                    \
    X(cuStreamBeginCapture_ptsz, (CUstream hStream))                                               \
    X(cuStreamIsCapturing, (CUstream hStream, CUstreamCaptureStatus *captureStatus))               \
    X(cuStreamIsCapturing_ptsz, (CUstream hStream, CUstreamCaptureStatus *captureStatus))          \
    X(cuStreamGetCaptureInfo, (CUstream hStream, CUstreamCaptureStatus *captureStatus_out,         \
                               cuuint64_t *id_out))                                                \
    X(cuStreamGetCaptureInfo_ptsz, (CUstream hStream, CUstreamCaptureStatus *captureStatus_out,    \
                                    cuuint64_t *id_out))                                           \
    X(cuStreamGetCaptureInfo_v2, (CUstream hStream, CUstreamCaptureStatus *captureStatus_out,      \
                                  cuuint64_t *id_out, CUgraph *graph_out,                          \
                                  const CUgraphNode **dependencies_out,                            \
                                  size_t *numDependencies_out))                                    \
    X(cuStreamGetCaptureInfo_v2_ptsz, (CUstream hStream, CUstreamCaptureStatus *captureStatus_out, \
                                       cuuint64_t *id_out, CUgraph *graph_out,                     \
                                       const CUgraphNode **dependencies_out,                       \
                                       size_t *numDependencies_out))                               \
    X(cuStreamGetCaptureInfo_v3, (CUstream hStream, CUstreamCaptureStatus *captureStatus_out,      \
                                  cuuint64_t *id_out, CUgraph *graph_out,                          \
                                  const CUgraphNode **dependencies_out,                            \
                                  const CUgraphEdgeData **edgeData_out,                            \
                                  size_t *numDependencies_out))                                    \
    X(cuStreamGetCaptureInfo_v3_ptsz, (CUstream hStream, CUstreamCaptureStatus *captureStatus_out, \
                                       cuuint64_t *id_out, CUgraph *graph_out,                     \
                                       const CUgraphNode **dependencies_out,                       \
                                       const CUgraphEdgeData **edgeData_out,                       \
                                       size_t *numDependencies_out))                               \
    X(cuGraphCreate, (CUgraph *phGraph, unsigned int flags))                                       \
    X(cuGraphDestroy, (CUgraph hGraph))                                                            \
    X(cuGraphAddKernelNode, (CUgraphNode *phGraphNode, CUgraph hGraph,                             \
                             const CUgraphNode *dependencies, size_t numDependencies,              \
                             const CUDA_KERNEL_NODE_PARAMS_v1 *nodeParams))                        \
    X(cuGraphAddKernelNode_v2, (CUgraphNode *phGraphNode, CUgraph hGraph,                          \
                                const CUgraphNode *dependencies, size_t numDependencies,           \
                                const CUDA_KERNEL_NODE_PARAMS *nodeParams))                        \
    X(cuGraphAddMemcpyNode, (CUgraphNode *phGraphNode, CUgraph hGraph,                             \
                             const CUgraphNode *dependencies, size_t numDependencies,              \
                             const CUDA_MEMCPY3D *copyParams, CUcontext ctx))                      \
    X(cuGraphAddMemsetNode, (CUgraphNode *phGraphNode, CUgraph hGraph,                             \
                             const CUgraphNode *dependencies, size_t numDependencies,              \
                             const CUDA_MEMSET_NODE_PARAMS *memsetParams, CUcontext ctx))          \
    X(cuGraphAddHostNode, (CUgraphNode *phGraphNode, CUgraph hGraph,                               \
                           const CUgraphNode *dependencies, size_t numDependencies,                \
                           const CUDA_HOST_NODE_PARAMS *nodeParams))                               \
    X(cuGraphAddEmptyNode, (CUgraphNode *phGraphNode, CUgraph hGraph,                              \
                            const CUgraphNode *dependencies, size_t numDependencies))              \
    X(cuGraphAddMemAllocNode, (CUgraphNode *phGraphNode, CUgraph hGraph,                           \
                               const CUgraphNode *dependencies, size_t numDependencies,            \
                               CUDA_MEM_ALLOC_NODE_PARAMS *nodeParams))                            \
    X(cuGraphAddMemFreeNode, (CUgraphNode *phGraphNode, CUgraph hGraph,                            \
                              const CUgraphNode *dependencies, size_t numDependencies,             \
                              CUdeviceptr dptr))                                                   \
    X(cuGraphMemAllocNodeGetParams, (CUgraphNode hNode, CUDA_MEM_ALLOC_NODE_PARAMS *params_out))   \
    X(cuGraphMemFreeNodeGetParams, (CUgraphNode hNode, CUdeviceptr *dptr_out))                     \
    X(cuGraphNodeGetType, (CUgraphNode hNode, CUgraphNodeType *type))                              \
    X(cuGraphGetNodes, (CUgraph hGraph, CUgraphNode *nodes, size_t *numNodes))                     \
    X(cuGraphInstantiate, (CUgraphExec *phGraphExec, CUgraph hGraph, CUgraphNode *phErrorNode,     \
                           char *logBuffer, size_t bufferSize))                                    \
    X(cuGraphInstantiate_v2, (CUgraphExec *phGraphExec, CUgraph hGraph, CUgraphNode *phErrorNode,  \
                              char *logBuffer, size_t bufferSize))                                 \
    X(cuGraphInstantiateWithFlags, (CUgraphExec *phGraphExec, CUgraph hGraph,                      \
                                    unsigned long long flags))                                     \
    X(cuGraphInstantiateWithParams, (CUgraphExec *phGraphExec, CUgraph hGraph,                     \
                                     CUDA_GRAPH_INSTANTIATE_PARAMS *instantiateParams))            \
    X(cuGraphInstantiateWithParams_ptsz, (CUgraphExec *phGraphExec, CUgraph hGraph,                \
                                          CUDA_GRAPH_INSTANTIATE_PARAMS *instantiateParams))       \
    X(cuGraphExecGetFlags, (CUgraphExec hGraphExec, cuuint64_t *flags))                            \
    X(cuGraphUpload, (CUgraphExec hGraphExec, CUstream hStream))                                   \
    X(cuGraphUpload_ptsz, (CUgraphExec hGraphExec, CUstream hStream))                              \
    X(cuGraphExecDestroy, (CUgraphExec hGraphExec))                                                \
    X(cuDeviceGraphMemTrim, (CUdevice device))                                                     \
    /* contexts: CUDA 12.5+, peers, cache preferences */                                           \
    X(cuCtxCreate_v4, (CUcontext *pctx, CUctxCreateParams *ctxCreateParams, unsigned int flags,    \
                       CUdevice dev))                                                              \
    X(cuCtxDisablePeerAccess, (CUcontext peerContext))                                             \
    X(cuCtxSetCacheConfig, (CUfunc_cache config))                                                  \
    X(cuCtxGetCacheConfig, (CUfunc_cache *pconfig))                                                \
    X(cuCtxSetSharedMemConfig, (CUsharedconfig config))                                            \
    X(cuCtxGetSharedMemConfig, (CUsharedconfig *pConfig))                                          \
    X(cuFuncSetCacheConfig, (CUfunction hfunc, CUfunc_cache config))                               \
    X(cuFuncSetSharedMemConfig, (CUfunction hfunc, CUsharedconfig config))                         \
    /* peer copies, 2D memsets */                                                                  \
    X(cuMemcpyPeer, (CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,           \
                     CUcontext srcContext, size_t ByteCount))                                      \
    X(cuMemcpyPeer_ptds, (CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,      \
                          CUcontext srcContext, size_t ByteCount))                                 \
    X(cuMemcpyPeerAsync, (CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,      \
                          CUcontext srcContext, size_t ByteCount, CUstream hStream))               \
    X(cuMemcpyPeerAsync_ptsz, (CUdeviceptr dstDevice, CUcontext dstContext,                        \
                               CUdeviceptr srcDevice, CUcontext srcContext, size_t ByteCount,      \
                               CUstream hStream))                                                  \
    X(cuMemsetD2D8_v2, (CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc, size_t Width,    \
                        size_t Height))                                                            \
    X(cuMemsetD2D8_v2_ptds, (CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc,             \
                             size_t Width, size_t Height))                                         \
    X(cuMemsetD2D8, (CUdeviceptr_v1 dstDevice, unsigned int dstPitch, unsigned char uc,            \
                     unsigned int Width, unsigned int Height))                                     \
    X(cuMemsetD2D16_v2, (CUdeviceptr dstDevice, size_t dstPitch, unsigned short us, size_t Width,  \
                         size_t Height))                                                           \
    X(cuMemsetD2D16_v2_ptds, (CUdeviceptr dstDevice, size_t dstPitch, unsigned short us,           \
                              size_t Width, size_t Height))                                        \
    X(cuMemsetD2D16, (CUdeviceptr_v1 dstDevice, unsigned int dstPitch, unsigned short us,          \
                      unsigned int Width, unsigned int Height))                                    \
    X(cuMemsetD2D32_v2, (CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui, size_t Width,    \
                         size_t Height))                                                           \
    X(cuMemsetD2D32_v2_ptds, (CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui,             \
                              size_t Width, size_t Height))                                        \
    X(cuMemsetD2D32, (CUdeviceptr_v1 dstDevice, unsigned int dstPitch, unsigned int ui,            \
                      unsigned int Width, unsigned int Height))                                    \
    X(cuMemsetD2D8Async, (CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc, size_t Width,  \
                          size_t Height, CUstream hStream))                                        \
    X(cuMemsetD2D8Async_ptsz, (CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc,           \
                               size_t Width, size_t Height, CUstream hStream))                     \
    X(cuMemsetD2D16Async, (CUdeviceptr dstDevice, size_t dstPitch, unsigned short us,              \
                           size_t Width, size_t Height, CUstream hStream))                         \
    X(cuMemsetD2D16Async_ptsz, (CUdeviceptr dstDevice, size_t dstPitch, unsigned short us,         \
                                size_t Width, size_t Height, CUstream hStream))                    \
    X(cuMemsetD2D32Async, (CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui, size_t Width,  \
                           size_t Height, CUstream hStream))                                       \
    X(cuMemsetD2D32Async_ptsz, (CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui,           \
                                size_t Width, size_t Height, CUstream hStream))                    \
    /* pointers, pools, linker, IPC events */                                                      \
    X(cuPointerGetAttributes, (unsigned int numAttributes, CUpointer_attribute *attributes,        \
                               void **data, CUdeviceptr ptr))                                      \
    X(cuMemPoolSetAccess, (CUmemoryPool pool, const CUmemAccessDesc *map, size_t count))           \
    X(cuMemPoolGetAccess, (CUmemAccess_flags *flags, CUmemoryPool memPool,                         \
                           CUmemLocation *location))                                               \
    X(cuLinkCreate, (unsigned int numOptions, CUjit_option *options, void **optionValues,          \
                     CUlinkState *stateOut))                                                       \
    X(cuLinkAddData, (CUlinkState state, CUjitInputType type, void *data, size_t size,             \
                      const char *name, unsigned int numOptions, CUjit_option *options,            \
                      void **optionValues))                                                        \
    X(cuLinkAddFile_v2, (CUlinkState state, CUjitInputType type, const char *path,                 \
                         unsigned int numOptions, CUjit_option *options, void **optionValues))     \
    X(cuLinkAddFile, (CUlinkState state, CUjitInputType type, const char *path,                    \
                      unsigned int numOptions, CUjit_option *options, void **optionValues))        \
    X(cuIpcGetEventHandle, (CUipcEventHandle *pHandle, CUevent event))                             \
    X(cuIpcOpenEventHandle, (CUevent *phEvent, CUipcEventHandle handle))                           \
    /* external semaphores */                                                                      \
    X(cuImportExternalSemaphore, (CUexternalSemaphore *extSem_out,                                 \
                                  const CUDA_EXTERNAL_SEMAPHORE_HANDLE_DESC *semHandleDesc))       \
    X(cuSignalExternalSemaphoresAsync, (const CUexternalSemaphore *extSemArray,                    \
                                        const CUDA_EXTERNAL_SEMAPHORE_SIGNAL_PARAMS *paramsArray,  \
                                        unsigned int numExtSems, CUstream stream))                 \
    X(cuSignalExternalSemaphoresAsync_ptsz,                                                        \
      (const CUexternalSemaphore *extSemArray,                                                     \
       const CUDA_EXTERNAL_SEMAPHORE_SIGNAL_PARAMS *paramsArray, unsigned int numExtSems,          \
       CUstream stream))                                                                           \
    X(cuWaitExternalSemaphoresAsync, (const CUexternalSemaphore *extSemArray,                      \
                                      const CUDA_EXTERNAL_SEMAPHORE_WAIT_PARAMS *paramsArray,      \
                                      unsigned int numExtSems, CUstream stream))                   \
    X(cuWaitExternalSemaphoresAsync_ptsz,                                                          \
      (const CUexternalSemaphore *extSemArray,                                                     \
       const CUDA_EXTERNAL_SEMAPHORE_WAIT_PARAMS *paramsArray, unsigned int numExtSems,            \
       CUstream stream))                                                                           \
    X(cuDestroyExternalSemaphore, (CUexternalSemaphore extSem))
/* clang-format on */

#endif
