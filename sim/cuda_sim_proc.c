/*
 * Simulated libcuda.so.1, part 3: error names and strings, cuGetExportTable,
 * and cuGetProcAddress.
 *
 * cuGetProcAddress resolves a base name ("cuMemAlloc") for a CUDA version to
 * the newest variant introduced at or before min(that version, the version
 * this driver implements): cuMemAlloc for 2.0, cuMemAlloc_v2 from 3.2 on.
 * With CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, a function that has a
 * per-thread-stream variant (_ptds for synchronous calls, _ptsz for
 * stream-taking ones) returns that variant instead, from CUDA 7.0 on. The
 * table below is the contract; tests/integration/cuda_procaddr.c checks it.
 */
#include "cuda_sim.h"
#include "cuda_sim_procs.h"

#include <string.h>

/* ---------------------------------------------------------------- errors */

/* clang-format off */
#define SIM_ERRORS(X)                                                                              \
    X(CUDA_SUCCESS, "no error")                                                                    \
    X(CUDA_ERROR_INVALID_VALUE, "invalid argument")                                                \
    X(CUDA_ERROR_OUT_OF_MEMORY, "out of memory")                                                   \
    X(CUDA_ERROR_NOT_INITIALIZED, "initialization error")                                          \
    X(CUDA_ERROR_DEINITIALIZED, "driver shutting down")                                            \
    X(CUDA_ERROR_PROFILER_DISABLED, "profiler disabled while using external profiling tool")       \
    X(CUDA_ERROR_STUB_LIBRARY, "CUDA driver is a stub library")                                    \
    X(CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER, "API call requires a newer CUDA driver")              \
    X(CUDA_ERROR_DEVICE_UNAVAILABLE, "CUDA-capable device(s) is/are busy or unavailable")          \
    X(CUDA_ERROR_NO_DEVICE, "no CUDA-capable device is detected")                                  \
    X(CUDA_ERROR_INVALID_DEVICE, "invalid device ordinal")                                         \
    X(CUDA_ERROR_DEVICE_NOT_LICENSED, "device doesn't have valid Grid license")                    \
    X(CUDA_ERROR_INVALID_IMAGE, "device kernel image is invalid")                                  \
    X(CUDA_ERROR_INVALID_CONTEXT, "invalid device context")                                        \
    X(CUDA_ERROR_CONTEXT_ALREADY_CURRENT, "context already current")                               \
    X(CUDA_ERROR_MAP_FAILED, "mapping of buffer object failed")                                    \
    X(CUDA_ERROR_UNMAP_FAILED, "unmapping of buffer object failed")                                \
    X(CUDA_ERROR_ARRAY_IS_MAPPED, "array is mapped")                                               \
    X(CUDA_ERROR_ALREADY_MAPPED, "resource already mapped")                                        \
    X(CUDA_ERROR_NO_BINARY_FOR_GPU, "no kernel image is available for execution on the device")    \
    X(CUDA_ERROR_ALREADY_ACQUIRED, "resource already acquired")                                    \
    X(CUDA_ERROR_NOT_MAPPED, "resource not mapped")                                                \
    X(CUDA_ERROR_ECC_UNCORRECTABLE, "uncorrectable ECC error encountered")                         \
    X(CUDA_ERROR_UNSUPPORTED_LIMIT, "limit is not supported on this architecture")                 \
    X(CUDA_ERROR_CONTEXT_ALREADY_IN_USE,                                                           \
      "exclusive-thread device already in use by a different thread")                              \
    X(CUDA_ERROR_PEER_ACCESS_UNSUPPORTED, "peer access is not supported between these two devices")\
    X(CUDA_ERROR_INVALID_PTX, "a PTX JIT compilation failed")                                      \
    X(CUDA_ERROR_INVALID_GRAPHICS_CONTEXT, "invalid OpenGL or DirectX context")                    \
    X(CUDA_ERROR_NVLINK_UNCORRECTABLE, "uncorrectable NVLink error detected during the execution") \
    X(CUDA_ERROR_JIT_COMPILER_NOT_FOUND, "PTX JIT compiler library not found")                     \
    X(CUDA_ERROR_UNSUPPORTED_PTX_VERSION, "the provided PTX was compiled with an unsupported "     \
                                          "toolchain.")                                            \
    X(CUDA_ERROR_JIT_COMPILATION_DISABLED, "PTX JIT compilation was disabled")                     \
    X(CUDA_ERROR_INVALID_SOURCE, "device kernel image is invalid")                                 \
    X(CUDA_ERROR_FILE_NOT_FOUND, "file not found")                                                 \
    X(CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND, "shared object symbol not found")                 \
    X(CUDA_ERROR_SHARED_OBJECT_INIT_FAILED, "shared object initialization failed")                 \
    X(CUDA_ERROR_OPERATING_SYSTEM, "OS call failed or operation not supported on this OS")         \
    X(CUDA_ERROR_INVALID_HANDLE, "invalid resource handle")                                        \
    X(CUDA_ERROR_ILLEGAL_STATE, "the operation cannot be performed in the present state")          \
    X(CUDA_ERROR_NOT_FOUND, "named symbol not found")                                              \
    X(CUDA_ERROR_NOT_READY, "device not ready")                                                    \
    X(CUDA_ERROR_ILLEGAL_ADDRESS, "an illegal memory access was encountered")                      \
    X(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "too many resources requested for launch")               \
    X(CUDA_ERROR_LAUNCH_TIMEOUT, "the launch timed out and was terminated")                        \
    X(CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED, "peer access is already enabled")                    \
    X(CUDA_ERROR_PEER_ACCESS_NOT_ENABLED, "peer access has not been enabled")                      \
    X(CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE, "cannot set while device is active in this process")      \
    X(CUDA_ERROR_CONTEXT_IS_DESTROYED, "context is destroyed")                                     \
    X(CUDA_ERROR_ASSERT, "device-side assert triggered")                                           \
    X(CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED,                                                   \
      "part or all of the requested memory range is already mapped")                               \
    X(CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED,                                                       \
      "pointer does not correspond to a registered memory region")                                 \
    X(CUDA_ERROR_LAUNCH_FAILED, "unspecified launch failure")                                      \
    X(CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE, "too many blocks in cooperative launch")            \
    X(CUDA_ERROR_NOT_PERMITTED, "operation not permitted")                                         \
    X(CUDA_ERROR_NOT_SUPPORTED, "operation not supported")                                         \
    X(CUDA_ERROR_SYSTEM_NOT_READY, "system not yet initialized")                                   \
    X(CUDA_ERROR_SYSTEM_DRIVER_MISMATCH,                                                           \
      "system has unsupported display driver / cuda driver combination")                           \
    X(CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE,                                                   \
      "forward compatibility was attempted on non supported HW")                                   \
    X(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "operation not permitted when stream is capturing")   \
    X(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED,                                                       \
      "operation failed due to a previous error during capture")                                   \
    X(CUDA_ERROR_TIMEOUT, "wait operation timed out")                                              \
    X(CUDA_ERROR_UNKNOWN, "unknown error")
/* clang-format on */

SIM_EXPORT CUresult cuGetErrorName(CUresult error, const char **pStr)
{
    if (!pStr)
        return CUDA_ERROR_INVALID_VALUE;
    switch (error) {
#define NAME_CASE(code, msg)                                                                       \
    case code:                                                                                     \
        *pStr = #code;                                                                             \
        return CUDA_SUCCESS;
        SIM_ERRORS(NAME_CASE)
#undef NAME_CASE
    }
    *pStr = NULL;
    return CUDA_ERROR_INVALID_VALUE;
}

SIM_EXPORT CUresult cuGetErrorString(CUresult error, const char **pStr)
{
    if (!pStr)
        return CUDA_ERROR_INVALID_VALUE;
    switch (error) {
#define MSG_CASE(code, msg)                                                                        \
    case code:                                                                                     \
        *pStr = msg;                                                                               \
        return CUDA_SUCCESS;
        SIM_ERRORS(MSG_CASE)
#undef MSG_CASE
    }
    *pStr = NULL;
    return CUDA_ERROR_INVALID_VALUE;
}

SIM_EXPORT CUresult cuGetExportTable(const void **ppExportTable, const CUuuid *pExportTableId)
{
    /* The runtime's private tables: not simulated. */
    if (ppExportTable)
        *ppExportTable = NULL;
    (void)pExportTableId;
    return CUDA_ERROR_NOT_SUPPORTED;
}

/* ---------------------------------------------------------------- cuGetProcAddress */

#define P(base, ver, sym)       {#base, ver, (void *)(sym), NULL},
#define PT(base, ver, sym, pts) {#base, ver, (void *)(sym), (void *)(pts)},

/* Rows of the modelled entry points (the unmodelled ones' rows are in cuda_sim_stubs.c),
 * grouped by base name; each base's variants in any order. */
/* clang-format off */
static const struct gpx_cu_proc procs[] = {
    P(cuGetErrorName, 6000, cuGetErrorName)
    P(cuGetErrorString, 6000, cuGetErrorString)
    P(cuInit, 2000, cuInit)
    P(cuDriverGetVersion, 2020, cuDriverGetVersion)
    P(cuGetExportTable, 3000, cuGetExportTable)
    P(cuGetProcAddress, 11030, cuGetProcAddress)
    P(cuGetProcAddress, 12000, cuGetProcAddress_v2)
    P(cuDeviceGet, 2000, cuDeviceGet)
    P(cuDeviceGetCount, 2000, cuDeviceGetCount)
    P(cuDeviceGetName, 2000, cuDeviceGetName)
    P(cuDeviceGetUuid, 9020, cuDeviceGetUuid)
    P(cuDeviceGetUuid, 11040, cuDeviceGetUuid_v2)
    P(cuDeviceTotalMem, 2000, cuDeviceTotalMem)
    P(cuDeviceTotalMem, 3020, cuDeviceTotalMem_v2)
    P(cuDeviceGetAttribute, 2000, cuDeviceGetAttribute)
    P(cuDeviceComputeCapability, 2000, cuDeviceComputeCapability)
    P(cuDeviceGetPCIBusId, 4010, cuDeviceGetPCIBusId)
    P(cuDeviceGetByPCIBusId, 4010, cuDeviceGetByPCIBusId)
    P(cuDeviceCanAccessPeer, 4000, cuDeviceCanAccessPeer)
    P(cuDeviceGetDefaultMemPool, 11020, cuDeviceGetDefaultMemPool)
    P(cuDeviceGetMemPool, 11020, cuDeviceGetMemPool)
    P(cuDeviceSetMemPool, 11020, cuDeviceSetMemPool)
    P(cuDevicePrimaryCtxRetain, 7000, cuDevicePrimaryCtxRetain)
    P(cuDevicePrimaryCtxRelease, 7000, cuDevicePrimaryCtxRelease)
    P(cuDevicePrimaryCtxRelease, 11000, cuDevicePrimaryCtxRelease_v2)
    P(cuDevicePrimaryCtxReset, 7000, cuDevicePrimaryCtxReset)
    P(cuDevicePrimaryCtxReset, 11000, cuDevicePrimaryCtxReset_v2)
    P(cuDevicePrimaryCtxSetFlags, 7000, cuDevicePrimaryCtxSetFlags)
    P(cuDevicePrimaryCtxSetFlags, 11000, cuDevicePrimaryCtxSetFlags_v2)
    P(cuDevicePrimaryCtxGetState, 7000, cuDevicePrimaryCtxGetState)
    P(cuCtxCreate, 2000, cuCtxCreate)
    P(cuCtxCreate, 3020, cuCtxCreate_v2)
    P(cuCtxCreate, 11040, cuCtxCreate_v3)
    P(cuCtxDestroy, 2000, cuCtxDestroy)
    P(cuCtxDestroy, 4000, cuCtxDestroy_v2)
    P(cuCtxPushCurrent, 2000, cuCtxPushCurrent)
    P(cuCtxPushCurrent, 4000, cuCtxPushCurrent_v2)
    P(cuCtxPopCurrent, 2000, cuCtxPopCurrent)
    P(cuCtxPopCurrent, 4000, cuCtxPopCurrent_v2)
    P(cuCtxSetCurrent, 4000, cuCtxSetCurrent)
    P(cuCtxGetCurrent, 4000, cuCtxGetCurrent)
    P(cuCtxGetDevice, 2000, cuCtxGetDevice)
    P(cuCtxGetFlags, 7000, cuCtxGetFlags)
    P(cuCtxGetApiVersion, 3020, cuCtxGetApiVersion)
    P(cuCtxSynchronize, 2000, cuCtxSynchronize)
    P(cuCtxSetLimit, 3010, cuCtxSetLimit)
    P(cuCtxGetLimit, 3010, cuCtxGetLimit)
    P(cuCtxGetStreamPriorityRange, 5050, cuCtxGetStreamPriorityRange)
    P(cuMemGetInfo, 2000, cuMemGetInfo)
    P(cuMemGetInfo, 3020, cuMemGetInfo_v2)
    P(cuMemAlloc, 2000, cuMemAlloc)
    P(cuMemAlloc, 3020, cuMemAlloc_v2)
    P(cuMemAllocPitch, 2000, cuMemAllocPitch)
    P(cuMemAllocPitch, 3020, cuMemAllocPitch_v2)
    P(cuMemAllocManaged, 6000, cuMemAllocManaged)
    P(cuMemFree, 2000, cuMemFree)
    P(cuMemFree, 3020, cuMemFree_v2)
    P(cuMemGetAddressRange, 2000, cuMemGetAddressRange)
    P(cuMemGetAddressRange, 3020, cuMemGetAddressRange_v2)
    P(cuPointerGetAttribute, 4000, cuPointerGetAttribute)
    P(cuMemAdvise, 8000, cuMemAdvise)
    P(cuMemAdvise, 12020, cuMemAdvise_v2)
    PT(cuMemPrefetchAsync, 8000, cuMemPrefetchAsync, cuMemPrefetchAsync_ptsz)
    PT(cuMemPrefetchAsync, 12020, cuMemPrefetchAsync_v2, cuMemPrefetchAsync_v2_ptsz)
    P(cuMemHostAlloc, 2020, cuMemHostAlloc)
    P(cuMemAllocHost, 2000, cuMemAllocHost)
    P(cuMemAllocHost, 3020, cuMemAllocHost_v2)
    P(cuMemFreeHost, 2000, cuMemFreeHost)
    P(cuMemHostGetDevicePointer, 3020, cuMemHostGetDevicePointer_v2)
    P(cuMemHostRegister, 4000, cuMemHostRegister)
    P(cuMemHostRegister, 6050, cuMemHostRegister_v2)
    P(cuMemHostUnregister, 4000, cuMemHostUnregister)
    P(cuMemCreate, 10020, cuMemCreate)
    P(cuMemRelease, 10020, cuMemRelease)
    P(cuMemAddressReserve, 10020, cuMemAddressReserve)
    P(cuMemAddressFree, 10020, cuMemAddressFree)
    P(cuMemMap, 10020, cuMemMap)
    P(cuMemUnmap, 10020, cuMemUnmap)
    P(cuMemSetAccess, 10020, cuMemSetAccess)
    P(cuMemGetAccess, 10020, cuMemGetAccess)
    P(cuMemGetAllocationGranularity, 10020, cuMemGetAllocationGranularity)
    P(cuMemGetAllocationPropertiesFromHandle, 10020, cuMemGetAllocationPropertiesFromHandle)
    P(cuMemRetainAllocationHandle, 11000, cuMemRetainAllocationHandle)
    PT(cuMemAllocAsync, 11020, cuMemAllocAsync, cuMemAllocAsync_ptsz)
    PT(cuMemFreeAsync, 11020, cuMemFreeAsync, cuMemFreeAsync_ptsz)
    PT(cuMemAllocFromPoolAsync, 11020, cuMemAllocFromPoolAsync, cuMemAllocFromPoolAsync_ptsz)
    P(cuMemPoolCreate, 11020, cuMemPoolCreate)
    P(cuMemPoolDestroy, 11020, cuMemPoolDestroy)
    P(cuMemPoolTrimTo, 11020, cuMemPoolTrimTo)
    P(cuMemPoolSetAttribute, 11020, cuMemPoolSetAttribute)
    P(cuMemPoolGetAttribute, 11020, cuMemPoolGetAttribute)
    P(cuArrayCreate, 2000, cuArrayCreate)
    P(cuArrayCreate, 3020, cuArrayCreate_v2)
    P(cuArray3DCreate, 2000, cuArray3DCreate)
    P(cuArray3DCreate, 3020, cuArray3DCreate_v2)
    P(cuArrayDestroy, 2000, cuArrayDestroy)
    P(cuMipmappedArrayCreate, 5000, cuMipmappedArrayCreate)
    P(cuMipmappedArrayDestroy, 5000, cuMipmappedArrayDestroy)
    P(cuImportExternalMemory, 10000, cuImportExternalMemory)
    P(cuExternalMemoryGetMappedBuffer, 10000, cuExternalMemoryGetMappedBuffer)
    P(cuDestroyExternalMemory, 10000, cuDestroyExternalMemory)
    PT(cuMemcpy, 4000, cuMemcpy, cuMemcpy_ptds)
    PT(cuMemcpyAsync, 4000, cuMemcpyAsync, cuMemcpyAsync_ptsz)
    P(cuMemcpyHtoD, 2000, cuMemcpyHtoD)
    PT(cuMemcpyHtoD, 3020, cuMemcpyHtoD_v2, cuMemcpyHtoD_v2_ptds)
    P(cuMemcpyDtoH, 2000, cuMemcpyDtoH)
    PT(cuMemcpyDtoH, 3020, cuMemcpyDtoH_v2, cuMemcpyDtoH_v2_ptds)
    P(cuMemcpyDtoD, 2000, cuMemcpyDtoD)
    PT(cuMemcpyDtoD, 3020, cuMemcpyDtoD_v2, cuMemcpyDtoD_v2_ptds)
    PT(cuMemcpyHtoDAsync, 3020, cuMemcpyHtoDAsync_v2, cuMemcpyHtoDAsync_v2_ptsz)
    PT(cuMemcpyDtoHAsync, 3020, cuMemcpyDtoHAsync_v2, cuMemcpyDtoHAsync_v2_ptsz)
    PT(cuMemcpyDtoDAsync, 3020, cuMemcpyDtoDAsync_v2, cuMemcpyDtoDAsync_v2_ptsz)
    PT(cuMemcpy2D, 3020, cuMemcpy2D_v2, cuMemcpy2D_v2_ptds)
    PT(cuMemcpy2DUnaligned, 3020, cuMemcpy2DUnaligned_v2, cuMemcpy2DUnaligned_v2_ptds)
    PT(cuMemcpy2DAsync, 3020, cuMemcpy2DAsync_v2, cuMemcpy2DAsync_v2_ptsz)
    PT(cuMemcpy3D, 3020, cuMemcpy3D_v2, cuMemcpy3D_v2_ptds)
    PT(cuMemcpy3DAsync, 3020, cuMemcpy3DAsync_v2, cuMemcpy3DAsync_v2_ptsz)
    P(cuMemsetD8, 2000, cuMemsetD8)
    PT(cuMemsetD8, 3020, cuMemsetD8_v2, cuMemsetD8_v2_ptds)
    PT(cuMemsetD16, 3020, cuMemsetD16_v2, cuMemsetD16_v2_ptds)
    P(cuMemsetD32, 2000, cuMemsetD32)
    PT(cuMemsetD32, 3020, cuMemsetD32_v2, cuMemsetD32_v2_ptds)
    PT(cuMemsetD8Async, 3020, cuMemsetD8Async, cuMemsetD8Async_ptsz)
    PT(cuMemsetD16Async, 3020, cuMemsetD16Async, cuMemsetD16Async_ptsz)
    PT(cuMemsetD32Async, 3020, cuMemsetD32Async, cuMemsetD32Async_ptsz)
    P(cuStreamCreate, 2000, cuStreamCreate)
    P(cuStreamCreateWithPriority, 5050, cuStreamCreateWithPriority)
    P(cuStreamDestroy, 2000, cuStreamDestroy)
    P(cuStreamDestroy, 4000, cuStreamDestroy_v2)
    PT(cuStreamGetPriority, 5050, cuStreamGetPriority, cuStreamGetPriority_ptsz)
    PT(cuStreamGetFlags, 5050, cuStreamGetFlags, cuStreamGetFlags_ptsz)
    PT(cuStreamGetCtx, 9020, cuStreamGetCtx, cuStreamGetCtx_ptsz)
    PT(cuStreamSynchronize, 2000, cuStreamSynchronize, cuStreamSynchronize_ptsz)
    PT(cuStreamQuery, 2000, cuStreamQuery, cuStreamQuery_ptsz)
    PT(cuStreamWaitEvent, 3020, cuStreamWaitEvent, cuStreamWaitEvent_ptsz)
    PT(cuLaunchHostFunc, 10000, cuLaunchHostFunc, cuLaunchHostFunc_ptsz)
    P(cuEventCreate, 2000, cuEventCreate)
    PT(cuEventRecord, 2000, cuEventRecord, cuEventRecord_ptsz)
    PT(cuEventRecordWithFlags, 11010, cuEventRecordWithFlags, cuEventRecordWithFlags_ptsz)
    P(cuEventQuery, 2000, cuEventQuery)
    P(cuEventSynchronize, 2000, cuEventSynchronize)
    P(cuEventElapsedTime, 2000, cuEventElapsedTime)
    P(cuEventElapsedTime, 12080, cuEventElapsedTime_v2)
    P(cuEventDestroy, 2000, cuEventDestroy)
    P(cuEventDestroy, 4000, cuEventDestroy_v2)
    P(cuModuleLoad, 2000, cuModuleLoad)
    P(cuModuleLoadData, 2000, cuModuleLoadData)
    P(cuModuleLoadDataEx, 2010, cuModuleLoadDataEx)
    P(cuModuleLoadFatBinary, 2000, cuModuleLoadFatBinary)
    P(cuModuleUnload, 2000, cuModuleUnload)
    P(cuModuleGetFunction, 2000, cuModuleGetFunction)
    P(cuModuleGetGlobal, 3020, cuModuleGetGlobal_v2)
    P(cuFuncGetAttribute, 2020, cuFuncGetAttribute)
    P(cuFuncSetAttribute, 9000, cuFuncSetAttribute)
    P(cuOccupancyMaxActiveBlocksPerMultiprocessor, 6050,
      cuOccupancyMaxActiveBlocksPerMultiprocessor)
    PT(cuLaunchKernel, 4000, cuLaunchKernel, cuLaunchKernel_ptsz)
    PT(cuLaunchKernelEx, 11060, cuLaunchKernelEx, cuLaunchKernelEx_ptsz)
    PT(cuLaunchCooperativeKernel, 9000, cuLaunchCooperativeKernel, cuLaunchCooperativeKernel_ptsz)
    PT(cuGraphLaunch, 10000, cuGraphLaunch, cuGraphLaunch_ptsz)
    /* graphs, contexts, peers, 2D memsets, pools, linker, IPC (cuda_sim_graph.c, cuda_sim_more.c) */
    P(cuCtxCreate, 12050, cuCtxCreate_v4)
    P(cuCtxDisablePeerAccess, 4000, cuCtxDisablePeerAccess)
    P(cuCtxEnablePeerAccess, 4000, cuCtxEnablePeerAccess)
    P(cuCtxGetCacheConfig, 3000, cuCtxGetCacheConfig)
    P(cuCtxGetSharedMemConfig, 4020, cuCtxGetSharedMemConfig)
    P(cuCtxSetCacheConfig, 3000, cuCtxSetCacheConfig)
    P(cuCtxSetSharedMemConfig, 4020, cuCtxSetSharedMemConfig)
    P(cuDeviceGraphMemTrim, 11040, cuDeviceGraphMemTrim)
    P(cuFuncSetCacheConfig, 3000, cuFuncSetCacheConfig)
    P(cuFuncSetSharedMemConfig, 4020, cuFuncSetSharedMemConfig)
    P(cuGraphAddEmptyNode, 10000, cuGraphAddEmptyNode)
    P(cuGraphAddHostNode, 10000, cuGraphAddHostNode)
    P(cuGraphAddKernelNode, 10000, cuGraphAddKernelNode)
    P(cuGraphAddKernelNode, 12000, cuGraphAddKernelNode_v2)
    P(cuGraphAddMemAllocNode, 11040, cuGraphAddMemAllocNode)
    P(cuGraphAddMemFreeNode, 11040, cuGraphAddMemFreeNode)
    P(cuGraphAddMemcpyNode, 10000, cuGraphAddMemcpyNode)
    P(cuGraphAddMemsetNode, 10000, cuGraphAddMemsetNode)
    P(cuGraphCreate, 10000, cuGraphCreate)
    P(cuGraphDestroy, 10000, cuGraphDestroy)
    P(cuGraphExecDestroy, 10000, cuGraphExecDestroy)
    P(cuGraphExecGetFlags, 12000, cuGraphExecGetFlags)
    P(cuGraphGetNodes, 10000, cuGraphGetNodes)
    P(cuGraphInstantiate, 10000, cuGraphInstantiate)
    P(cuGraphInstantiate, 12000, cuGraphInstantiateWithFlags)
    P(cuGraphInstantiateWithFlags, 11040, cuGraphInstantiateWithFlags)
    PT(cuGraphInstantiateWithParams, 12000, cuGraphInstantiateWithParams, cuGraphInstantiateWithParams_ptsz)
    P(cuGraphInstantiate, 11000, cuGraphInstantiate_v2)
    P(cuGraphMemAllocNodeGetParams, 11040, cuGraphMemAllocNodeGetParams)
    P(cuGraphMemFreeNodeGetParams, 11040, cuGraphMemFreeNodeGetParams)
    P(cuGraphNodeGetType, 10000, cuGraphNodeGetType)
    PT(cuGraphUpload, 11010, cuGraphUpload, cuGraphUpload_ptsz)
    P(cuIpcCloseMemHandle, 4010, cuIpcCloseMemHandle)
    P(cuIpcGetEventHandle, 4010, cuIpcGetEventHandle)
    P(cuIpcGetMemHandle, 4010, cuIpcGetMemHandle)
    P(cuIpcOpenEventHandle, 4010, cuIpcOpenEventHandle)
    P(cuIpcOpenMemHandle, 4010, cuIpcOpenMemHandle)
    P(cuIpcOpenMemHandle, 11000, cuIpcOpenMemHandle_v2)
    P(cuLinkAddData, 5050, cuLinkAddData)
    P(cuLinkAddData, 6050, cuLinkAddData_v2)
    P(cuLinkAddFile, 5050, cuLinkAddFile)
    P(cuLinkAddFile, 6050, cuLinkAddFile_v2)
    P(cuLinkComplete, 5050, cuLinkComplete)
    P(cuLinkCreate, 5050, cuLinkCreate)
    P(cuLinkCreate, 6050, cuLinkCreate_v2)
    P(cuLinkDestroy, 5050, cuLinkDestroy)
    P(cuMemPoolGetAccess, 11020, cuMemPoolGetAccess)
    P(cuMemPoolSetAccess, 11020, cuMemPoolSetAccess)
    PT(cuMemcpyPeer, 4000, cuMemcpyPeer, cuMemcpyPeer_ptds)
    PT(cuMemcpyPeerAsync, 4000, cuMemcpyPeerAsync, cuMemcpyPeerAsync_ptsz)
    P(cuMemsetD2D16, 2000, cuMemsetD2D16)
    PT(cuMemsetD2D16Async, 3020, cuMemsetD2D16Async, cuMemsetD2D16Async_ptsz)
    PT(cuMemsetD2D16, 3020, cuMemsetD2D16_v2, cuMemsetD2D16_v2_ptds)
    P(cuMemsetD2D32, 2000, cuMemsetD2D32)
    PT(cuMemsetD2D32Async, 3020, cuMemsetD2D32Async, cuMemsetD2D32Async_ptsz)
    PT(cuMemsetD2D32, 3020, cuMemsetD2D32_v2, cuMemsetD2D32_v2_ptds)
    P(cuMemsetD2D8, 2000, cuMemsetD2D8)
    PT(cuMemsetD2D8Async, 3020, cuMemsetD2D8Async, cuMemsetD2D8Async_ptsz)
    PT(cuMemsetD2D8, 3020, cuMemsetD2D8_v2, cuMemsetD2D8_v2_ptds)
    P(cuPointerGetAttributes, 7000, cuPointerGetAttributes)
    PT(cuStreamBeginCapture, 10000, cuStreamBeginCapture, cuStreamBeginCapture_ptsz)
    PT(cuStreamBeginCapture, 10010, cuStreamBeginCapture_v2, cuStreamBeginCapture_v2_ptsz)
    PT(cuStreamEndCapture, 10000, cuStreamEndCapture, cuStreamEndCapture_ptsz)
    PT(cuStreamGetCaptureInfo, 10010, cuStreamGetCaptureInfo, cuStreamGetCaptureInfo_ptsz)
    PT(cuStreamGetCaptureInfo, 11030, cuStreamGetCaptureInfo_v2, cuStreamGetCaptureInfo_v2_ptsz)
    PT(cuStreamGetCaptureInfo, 12030, cuStreamGetCaptureInfo_v3, cuStreamGetCaptureInfo_v3_ptsz)
    PT(cuStreamIsCapturing, 10000, cuStreamIsCapturing, cuStreamIsCapturing_ptsz)
    P(cuThreadExchangeStreamCaptureMode, 10010, cuThreadExchangeStreamCaptureMode)
    P(cuImportExternalSemaphore, 10000, cuImportExternalSemaphore)
    PT(cuSignalExternalSemaphoresAsync, 10000, cuSignalExternalSemaphoresAsync, cuSignalExternalSemaphoresAsync_ptsz)
    PT(cuWaitExternalSemaphoresAsync, 10000, cuWaitExternalSemaphoresAsync, cuWaitExternalSemaphoresAsync_ptsz)
    P(cuDestroyExternalSemaphore, 10000, cuDestroyExternalSemaphore)
};
/* clang-format on */

/* Per-thread-stream variants exist from CUDA 7.0. */
#define PER_THREAD_SINCE 7000

static CUresult proc_lookup(const char *symbol, void **pfn, int version, cuuint64_t flags,
                            CUdriverProcAddressQueryResult *status)
{
    if (status)
        *status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    if (!symbol || !pfn)
        return CUDA_ERROR_INVALID_VALUE;
    *pfn = NULL;
    if (flags & ~(cuuint64_t)(CU_GET_PROC_ADDRESS_LEGACY_STREAM |
                              CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM))
        return CUDA_ERROR_INVALID_VALUE;
    int node = gpx__cu_node_version();
    int limit = version < node ? version : node;
    const struct gpx_cu_proc *best = NULL;
    int known = 0;
    const size_t modelled = sizeof procs / sizeof procs[0];
    for (size_t i = 0; i < modelled + gpx__cu_stub_procs_n; i++) {
        const struct gpx_cu_proc *p = i < modelled ? &procs[i] : &gpx__cu_stub_procs[i - modelled];
        if (strcmp(p->name, symbol) != 0)
            continue;
        known = 1;
        if (p->version <= limit && (!best || p->version > best->version))
            best = p;
    }
    if (!best) {
        if (status)
            *status = known ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT
                            : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
        return CUDA_ERROR_NOT_FOUND;
    }
    int pt = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) && best->pt_fn &&
             version >= PER_THREAD_SINCE;
    *pfn = pt ? best->pt_fn : best->fn;
    if (status)
        *status = CU_GET_PROC_ADDRESS_SUCCESS;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion,
                                        cuuint64_t flags, CUdriverProcAddressQueryResult *status)
{
    return proc_lookup(symbol, pfn, cudaVersion, flags, status);
}

int gpx__cu_stub_result(void)
{
    if (!atomic_load_explicit(&gpx__cu.inited, memory_order_acquire))
        return gpx__cu.init_failed ? CUDA_ERROR_NO_DEVICE : CUDA_ERROR_NOT_INITIALIZED;
    return CUDA_ERROR_NOT_SUPPORTED;
}

SIM_EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion,
                                     cuuint64_t flags)
{
    return proc_lookup(symbol, pfn, cudaVersion, flags, NULL);
}
