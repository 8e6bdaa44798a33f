/*
 * Simulated libcuda.so.1, part 6: the CUDA 12.x / 13.0 driver entry points
 * the simulator does not model. Each is exported under the name libcuda
 * exports, answers CUDA_ERROR_NOT_SUPPORTED (CUDA_ERROR_NOT_INITIALIZED
 * before cuInit, as every entry point does), and has its cuGetProcAddress
 * row, so that programs and interposers built against either toolkit load,
 * resolve every symbol, and get a clean refusal where they use one.
 *
 * The list is the toolkit's cuda.h (13.0: every `CUresult CUDAAPI cu…(`
 * declaration and every name its #defines map to, legacy and _ptds/_ptsz
 * variants included) less what cuda_sim*.c define; the table in
 * docs/simulator-cuda.md lists the same names, and the test
 * integration.cuda_surface fails when cuda.h names one this library lacks.
 * The version of each row is the CUDA release that introduced the symbol.
 *
 * A stub takes no parameters: the C calling convention lets a caller pass
 * arguments a callee ignores, and the return value (an int-sized enum) is
 * where CUresult is. This file sees no CUDA prototypes on purpose.
 */
#include "cuda_sim_procs.h"

#define STUB(sym)                                                                                  \
    int sym(void);                                                                                 \
    __attribute__((visibility("default"))) int sym(void)                                           \
    {                                                                                              \
        return gpx__cu_stub_result();                                                              \
    }

/* clang-format off */
STUB(cuArray3DGetDescriptor)
STUB(cuArray3DGetDescriptor_v2)
STUB(cuArrayGetDescriptor)
STUB(cuArrayGetDescriptor_v2)
STUB(cuArrayGetMemoryRequirements)
STUB(cuArrayGetPlane)
STUB(cuArrayGetSparseProperties)
STUB(cuCheckpointProcessCheckpoint)
STUB(cuCheckpointProcessGetRestoreThreadId)
STUB(cuCheckpointProcessGetState)
STUB(cuCheckpointProcessLock)
STUB(cuCheckpointProcessRestore)
STUB(cuCheckpointProcessUnlock)
STUB(cuCoredumpGetAttribute)
STUB(cuCoredumpGetAttributeGlobal)
STUB(cuCoredumpSetAttribute)
STUB(cuCoredumpSetAttributeGlobal)
STUB(cuCtxAttach)
STUB(cuCtxDetach)
STUB(cuCtxFromGreenCtx)
STUB(cuCtxGetDevResource)
STUB(cuCtxGetDevice_v2)
STUB(cuCtxGetExecAffinity)
STUB(cuCtxGetId)
STUB(cuCtxRecordEvent)
STUB(cuCtxResetPersistingL2Cache)
STUB(cuCtxSetFlags)
STUB(cuCtxSynchronize_v2)
STUB(cuCtxWaitEvent)
STUB(cuDevResourceGenerateDesc)
STUB(cuDevSmResourceSplitByCount)
STUB(cuDeviceGetDevResource)
STUB(cuDeviceGetExecAffinitySupport)
STUB(cuDeviceGetGraphMemAttribute)
STUB(cuDeviceGetHostAtomicCapabilities)
STUB(cuDeviceGetLuid)
STUB(cuDeviceGetNvSciSyncAttributes)
STUB(cuDeviceGetP2PAtomicCapabilities)
STUB(cuDeviceGetP2PAttribute)
STUB(cuDeviceGetProperties)
STUB(cuDeviceGetTexture1DLinearMaxWidth)
STUB(cuDeviceRegisterAsyncNotification)
STUB(cuDeviceSetGraphMemAttribute)
STUB(cuDeviceUnregisterAsyncNotification)
STUB(cuExternalMemoryGetMappedMipmappedArray)
STUB(cuFlushGPUDirectRDMAWrites)
STUB(cuFuncGetModule)
STUB(cuFuncGetName)
STUB(cuFuncGetParamInfo)
STUB(cuFuncIsLoaded)
STUB(cuFuncLoad)
STUB(cuFuncSetBlockShape)
STUB(cuFuncSetSharedSize)
STUB(cuGraphAddBatchMemOpNode)
STUB(cuGraphAddChildGraphNode)
STUB(cuGraphAddDependencies)
STUB(cuGraphAddDependencies_v2)
STUB(cuGraphAddEventRecordNode)
STUB(cuGraphAddEventWaitNode)
STUB(cuGraphAddExternalSemaphoresSignalNode)
STUB(cuGraphAddExternalSemaphoresWaitNode)
STUB(cuGraphAddNode)
STUB(cuGraphAddNode_v2)
STUB(cuGraphBatchMemOpNodeGetParams)
STUB(cuGraphBatchMemOpNodeSetParams)
STUB(cuGraphChildGraphNodeGetGraph)
STUB(cuGraphClone)
STUB(cuGraphConditionalHandleCreate)
STUB(cuGraphDebugDotPrint)
STUB(cuGraphDestroyNode)
STUB(cuGraphEventRecordNodeGetEvent)
STUB(cuGraphEventRecordNodeSetEvent)
STUB(cuGraphEventWaitNodeGetEvent)
STUB(cuGraphEventWaitNodeSetEvent)
STUB(cuGraphExecBatchMemOpNodeSetParams)
STUB(cuGraphExecChildGraphNodeSetParams)
STUB(cuGraphExecEventRecordNodeSetEvent)
STUB(cuGraphExecEventWaitNodeSetEvent)
STUB(cuGraphExecExternalSemaphoresSignalNodeSetParams)
STUB(cuGraphExecExternalSemaphoresWaitNodeSetParams)
STUB(cuGraphExecHostNodeSetParams)
STUB(cuGraphExecKernelNodeSetParams)
STUB(cuGraphExecKernelNodeSetParams_v2)
STUB(cuGraphExecMemcpyNodeSetParams)
STUB(cuGraphExecMemsetNodeSetParams)
STUB(cuGraphExecNodeSetParams)
STUB(cuGraphExecUpdate)
STUB(cuGraphExecUpdate_v2)
STUB(cuGraphExternalSemaphoresSignalNodeGetParams)
STUB(cuGraphExternalSemaphoresSignalNodeSetParams)
STUB(cuGraphExternalSemaphoresWaitNodeGetParams)
STUB(cuGraphExternalSemaphoresWaitNodeSetParams)
STUB(cuGraphGetEdges)
STUB(cuGraphGetEdges_v2)
STUB(cuGraphGetRootNodes)
STUB(cuGraphHostNodeGetParams)
STUB(cuGraphHostNodeSetParams)
STUB(cuGraphKernelNodeCopyAttributes)
STUB(cuGraphKernelNodeGetAttribute)
STUB(cuGraphKernelNodeGetParams)
STUB(cuGraphKernelNodeGetParams_v2)
STUB(cuGraphKernelNodeSetAttribute)
STUB(cuGraphKernelNodeSetParams)
STUB(cuGraphKernelNodeSetParams_v2)
STUB(cuGraphMemcpyNodeGetParams)
STUB(cuGraphMemcpyNodeSetParams)
STUB(cuGraphMemsetNodeGetParams)
STUB(cuGraphMemsetNodeSetParams)
STUB(cuGraphNodeFindInClone)
STUB(cuGraphNodeGetDependencies)
STUB(cuGraphNodeGetDependencies_v2)
STUB(cuGraphNodeGetDependentNodes)
STUB(cuGraphNodeGetDependentNodes_v2)
STUB(cuGraphNodeGetEnabled)
STUB(cuGraphNodeSetEnabled)
STUB(cuGraphNodeSetParams)
STUB(cuGraphReleaseUserObject)
STUB(cuGraphRemoveDependencies)
STUB(cuGraphRemoveDependencies_v2)
STUB(cuGraphRetainUserObject)
STUB(cuGraphicsMapResources)
STUB(cuGraphicsMapResources_ptsz)
STUB(cuGraphicsResourceGetMappedMipmappedArray)
STUB(cuGraphicsResourceGetMappedPointer)
STUB(cuGraphicsResourceGetMappedPointer_v2)
STUB(cuGraphicsResourceSetMapFlags)
STUB(cuGraphicsResourceSetMapFlags_v2)
STUB(cuGraphicsSubResourceGetMappedArray)
STUB(cuGraphicsUnmapResources)
STUB(cuGraphicsUnmapResources_ptsz)
STUB(cuGraphicsUnregisterResource)
STUB(cuGreenCtxCreate)
STUB(cuGreenCtxDestroy)
STUB(cuGreenCtxGetDevResource)
STUB(cuGreenCtxGetId)
STUB(cuGreenCtxRecordEvent)
STUB(cuGreenCtxStreamCreate)
STUB(cuGreenCtxWaitEvent)
STUB(cuKernelGetAttribute)
STUB(cuKernelGetFunction)
STUB(cuKernelGetLibrary)
STUB(cuKernelGetName)
STUB(cuKernelGetParamInfo)
STUB(cuKernelSetAttribute)
STUB(cuKernelSetCacheConfig)
STUB(cuLaunch)
STUB(cuLaunchCooperativeKernelMultiDevice)
STUB(cuLaunchGrid)
STUB(cuLaunchGridAsync)
STUB(cuLibraryEnumerateKernels)
STUB(cuLibraryGetGlobal)
STUB(cuLibraryGetKernel)
STUB(cuLibraryGetKernelCount)
STUB(cuLibraryGetManaged)
STUB(cuLibraryGetModule)
STUB(cuLibraryGetUnifiedFunction)
STUB(cuLibraryLoadData)
STUB(cuLibraryLoadFromFile)
STUB(cuLibraryUnload)
STUB(cuLogsCurrent)
STUB(cuLogsDumpToFile)
STUB(cuLogsDumpToMemory)
STUB(cuLogsRegisterCallback)
STUB(cuLogsUnregisterCallback)
STUB(cuMemBatchDecompressAsync)
STUB(cuMemBatchDecompressAsync_ptsz)
STUB(cuMemDiscardAndPrefetchBatchAsync)
STUB(cuMemDiscardAndPrefetchBatchAsync_ptsz)
STUB(cuMemDiscardBatchAsync)
STUB(cuMemDiscardBatchAsync_ptsz)
STUB(cuMemExportToShareableHandle)
STUB(cuMemGetDefaultMemPool)
STUB(cuMemGetHandleForAddressRange)
STUB(cuMemGetMemPool)
STUB(cuMemHostGetDevicePointer)
STUB(cuMemHostGetFlags)
STUB(cuMemImportFromShareableHandle)
STUB(cuMemMapArrayAsync)
STUB(cuMemMapArrayAsync_ptsz)
STUB(cuMemPoolExportPointer)
STUB(cuMemPoolExportToShareableHandle)
STUB(cuMemPoolImportFromShareableHandle)
STUB(cuMemPoolImportPointer)
STUB(cuMemPrefetchBatchAsync)
STUB(cuMemPrefetchBatchAsync_ptsz)
STUB(cuMemRangeGetAttribute)
STUB(cuMemRangeGetAttributes)
STUB(cuMemSetMemPool)
STUB(cuMemcpy2D)
STUB(cuMemcpy2DAsync)
STUB(cuMemcpy2DUnaligned)
STUB(cuMemcpy3D)
STUB(cuMemcpy3DAsync)
STUB(cuMemcpy3DBatchAsync)
STUB(cuMemcpy3DBatchAsync_ptsz)
STUB(cuMemcpy3DBatchAsync_v2)
STUB(cuMemcpy3DBatchAsync_v2_ptsz)
STUB(cuMemcpy3DPeer)
STUB(cuMemcpy3DPeerAsync)
STUB(cuMemcpy3DPeerAsync_ptsz)
STUB(cuMemcpy3DPeer_ptds)
STUB(cuMemcpyAtoA)
STUB(cuMemcpyAtoA_v2)
STUB(cuMemcpyAtoA_v2_ptds)
STUB(cuMemcpyAtoD)
STUB(cuMemcpyAtoD_v2)
STUB(cuMemcpyAtoD_v2_ptds)
STUB(cuMemcpyAtoH)
STUB(cuMemcpyAtoHAsync)
STUB(cuMemcpyAtoHAsync_v2)
STUB(cuMemcpyAtoHAsync_v2_ptsz)
STUB(cuMemcpyAtoH_v2)
STUB(cuMemcpyAtoH_v2_ptds)
STUB(cuMemcpyBatchAsync)
STUB(cuMemcpyBatchAsync_ptsz)
STUB(cuMemcpyBatchAsync_v2)
STUB(cuMemcpyBatchAsync_v2_ptsz)
STUB(cuMemcpyDtoA)
STUB(cuMemcpyDtoA_v2)
STUB(cuMemcpyDtoA_v2_ptds)
STUB(cuMemcpyDtoDAsync)
STUB(cuMemcpyDtoHAsync)
STUB(cuMemcpyHtoA)
STUB(cuMemcpyHtoAAsync)
STUB(cuMemcpyHtoAAsync_v2)
STUB(cuMemcpyHtoAAsync_v2_ptsz)
STUB(cuMemcpyHtoA_v2)
STUB(cuMemcpyHtoA_v2_ptds)
STUB(cuMemcpyHtoDAsync)
STUB(cuMemsetD16)
STUB(cuMipmappedArrayGetLevel)
STUB(cuMipmappedArrayGetMemoryRequirements)
STUB(cuMipmappedArrayGetSparseProperties)
STUB(cuModuleEnumerateFunctions)
STUB(cuModuleGetFunctionCount)
STUB(cuModuleGetGlobal)
STUB(cuModuleGetLoadingMode)
STUB(cuModuleGetSurfRef)
STUB(cuModuleGetTexRef)
STUB(cuMulticastAddDevice)
STUB(cuMulticastBindAddr)
STUB(cuMulticastBindMem)
STUB(cuMulticastCreate)
STUB(cuMulticastGetGranularity)
STUB(cuMulticastUnbind)
STUB(cuOccupancyAvailableDynamicSMemPerBlock)
STUB(cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags)
STUB(cuOccupancyMaxActiveClusters)
STUB(cuOccupancyMaxPotentialBlockSize)
STUB(cuOccupancyMaxPotentialBlockSizeWithFlags)
STUB(cuOccupancyMaxPotentialClusterSize)
STUB(cuParamSetSize)
STUB(cuParamSetTexRef)
STUB(cuParamSetf)
STUB(cuParamSeti)
STUB(cuParamSetv)
STUB(cuPointerSetAttribute)
STUB(cuStreamAddCallback)
STUB(cuStreamAddCallback_ptsz)
STUB(cuStreamAttachMemAsync)
STUB(cuStreamAttachMemAsync_ptsz)
STUB(cuStreamBatchMemOp)
STUB(cuStreamBatchMemOp_ptsz)
STUB(cuStreamBatchMemOp_v2)
STUB(cuStreamBatchMemOp_v2_ptsz)
STUB(cuStreamBeginCaptureToGraph)
STUB(cuStreamBeginCaptureToGraph_ptsz)
STUB(cuStreamCopyAttributes)
STUB(cuStreamCopyAttributes_ptsz)
STUB(cuStreamGetAttribute)
STUB(cuStreamGetAttribute_ptsz)
STUB(cuStreamGetCtx_v2)
STUB(cuStreamGetCtx_v2_ptsz)
STUB(cuStreamGetDevice)
STUB(cuStreamGetDevice_ptsz)
STUB(cuStreamGetGreenCtx)
STUB(cuStreamGetId)
STUB(cuStreamGetId_ptsz)
STUB(cuStreamSetAttribute)
STUB(cuStreamSetAttribute_ptsz)
STUB(cuStreamUpdateCaptureDependencies)
STUB(cuStreamUpdateCaptureDependencies_ptsz)
STUB(cuStreamUpdateCaptureDependencies_v2)
STUB(cuStreamUpdateCaptureDependencies_v2_ptsz)
STUB(cuStreamWaitValue32)
STUB(cuStreamWaitValue32_ptsz)
STUB(cuStreamWaitValue32_v2)
STUB(cuStreamWaitValue32_v2_ptsz)
STUB(cuStreamWaitValue64)
STUB(cuStreamWaitValue64_ptsz)
STUB(cuStreamWaitValue64_v2)
STUB(cuStreamWaitValue64_v2_ptsz)
STUB(cuStreamWriteValue32)
STUB(cuStreamWriteValue32_ptsz)
STUB(cuStreamWriteValue32_v2)
STUB(cuStreamWriteValue32_v2_ptsz)
STUB(cuStreamWriteValue64)
STUB(cuStreamWriteValue64_ptsz)
STUB(cuStreamWriteValue64_v2)
STUB(cuStreamWriteValue64_v2_ptsz)
STUB(cuSurfObjectCreate)
STUB(cuSurfObjectDestroy)
STUB(cuSurfObjectGetResourceDesc)
STUB(cuSurfRefGetArray)
STUB(cuSurfRefSetArray)
STUB(cuTensorMapEncodeIm2col)
STUB(cuTensorMapEncodeIm2colWide)
STUB(cuTensorMapEncodeTiled)
STUB(cuTensorMapReplaceAddress)
STUB(cuTexObjectCreate)
STUB(cuTexObjectDestroy)
STUB(cuTexObjectGetResourceDesc)
STUB(cuTexObjectGetResourceViewDesc)
STUB(cuTexObjectGetTextureDesc)
STUB(cuTexRefCreate)
STUB(cuTexRefDestroy)
STUB(cuTexRefGetAddress)
STUB(cuTexRefGetAddressMode)
STUB(cuTexRefGetAddress_v2)
STUB(cuTexRefGetArray)
STUB(cuTexRefGetBorderColor)
STUB(cuTexRefGetFilterMode)
STUB(cuTexRefGetFlags)
STUB(cuTexRefGetFormat)
STUB(cuTexRefGetMaxAnisotropy)
STUB(cuTexRefGetMipmapFilterMode)
STUB(cuTexRefGetMipmapLevelBias)
STUB(cuTexRefGetMipmapLevelClamp)
STUB(cuTexRefGetMipmappedArray)
STUB(cuTexRefSetAddress)
STUB(cuTexRefSetAddress2D)
STUB(cuTexRefSetAddress2D_v2)
STUB(cuTexRefSetAddress2D_v3)
STUB(cuTexRefSetAddressMode)
STUB(cuTexRefSetAddress_v2)
STUB(cuTexRefSetArray)
STUB(cuTexRefSetBorderColor)
STUB(cuTexRefSetFilterMode)
STUB(cuTexRefSetFlags)
STUB(cuTexRefSetFormat)
STUB(cuTexRefSetMaxAnisotropy)
STUB(cuTexRefSetMipmapFilterMode)
STUB(cuTexRefSetMipmapLevelBias)
STUB(cuTexRefSetMipmapLevelClamp)
STUB(cuTexRefSetMipmappedArray)
STUB(cuUserObjectCreate)
STUB(cuUserObjectRelease)
STUB(cuUserObjectRetain)
/* clang-format on */

/* clang-format off */
const struct gpx_cu_proc gpx__cu_stub_procs[] = {
    {"cuArray3DGetDescriptor", 2000, (void *)cuArray3DGetDescriptor, NULL},
    {"cuArray3DGetDescriptor", 3020, (void *)cuArray3DGetDescriptor_v2, NULL},
    {"cuArrayGetDescriptor", 2000, (void *)cuArrayGetDescriptor, NULL},
    {"cuArrayGetDescriptor", 3020, (void *)cuArrayGetDescriptor_v2, NULL},
    {"cuArrayGetMemoryRequirements", 11060, (void *)cuArrayGetMemoryRequirements, NULL},
    {"cuArrayGetPlane", 11020, (void *)cuArrayGetPlane, NULL},
    {"cuArrayGetSparseProperties", 11010, (void *)cuArrayGetSparseProperties, NULL},
    {"cuCheckpointProcessCheckpoint", 12080, (void *)cuCheckpointProcessCheckpoint, NULL},
    {"cuCheckpointProcessGetRestoreThreadId", 12080, (void *)cuCheckpointProcessGetRestoreThreadId, NULL},
    {"cuCheckpointProcessGetState", 12080, (void *)cuCheckpointProcessGetState, NULL},
    {"cuCheckpointProcessLock", 12080, (void *)cuCheckpointProcessLock, NULL},
    {"cuCheckpointProcessRestore", 12080, (void *)cuCheckpointProcessRestore, NULL},
    {"cuCheckpointProcessUnlock", 12080, (void *)cuCheckpointProcessUnlock, NULL},
    {"cuCoredumpGetAttribute", 12010, (void *)cuCoredumpGetAttribute, NULL},
    {"cuCoredumpGetAttributeGlobal", 12010, (void *)cuCoredumpGetAttributeGlobal, NULL},
    {"cuCoredumpSetAttribute", 12010, (void *)cuCoredumpSetAttribute, NULL},
    {"cuCoredumpSetAttributeGlobal", 12010, (void *)cuCoredumpSetAttributeGlobal, NULL},
    {"cuCtxAttach", 2000, (void *)cuCtxAttach, NULL},
    {"cuCtxDetach", 2000, (void *)cuCtxDetach, NULL},
    {"cuCtxFromGreenCtx", 12040, (void *)cuCtxFromGreenCtx, NULL},
    {"cuCtxGetDevResource", 12040, (void *)cuCtxGetDevResource, NULL},
    {"cuCtxGetDevice", 13000, (void *)cuCtxGetDevice_v2, NULL},
    {"cuCtxGetExecAffinity", 11040, (void *)cuCtxGetExecAffinity, NULL},
    {"cuCtxGetId", 12000, (void *)cuCtxGetId, NULL},
    {"cuCtxRecordEvent", 12050, (void *)cuCtxRecordEvent, NULL},
    {"cuCtxResetPersistingL2Cache", 11000, (void *)cuCtxResetPersistingL2Cache, NULL},
    {"cuCtxSetFlags", 12000, (void *)cuCtxSetFlags, NULL},
    {"cuCtxSynchronize", 13000, (void *)cuCtxSynchronize_v2, NULL},
    {"cuCtxWaitEvent", 12050, (void *)cuCtxWaitEvent, NULL},
    {"cuDevResourceGenerateDesc", 12040, (void *)cuDevResourceGenerateDesc, NULL},
    {"cuDevSmResourceSplitByCount", 12040, (void *)cuDevSmResourceSplitByCount, NULL},
    {"cuDeviceGetDevResource", 12040, (void *)cuDeviceGetDevResource, NULL},
    {"cuDeviceGetExecAffinitySupport", 11040, (void *)cuDeviceGetExecAffinitySupport, NULL},
    {"cuDeviceGetGraphMemAttribute", 11040, (void *)cuDeviceGetGraphMemAttribute, NULL},
    {"cuDeviceGetHostAtomicCapabilities", 13000, (void *)cuDeviceGetHostAtomicCapabilities, NULL},
    {"cuDeviceGetLuid", 10000, (void *)cuDeviceGetLuid, NULL},
    {"cuDeviceGetNvSciSyncAttributes", 11010, (void *)cuDeviceGetNvSciSyncAttributes, NULL},
    {"cuDeviceGetP2PAtomicCapabilities", 13000, (void *)cuDeviceGetP2PAtomicCapabilities, NULL},
    {"cuDeviceGetP2PAttribute", 8000, (void *)cuDeviceGetP2PAttribute, NULL},
    {"cuDeviceGetProperties", 2000, (void *)cuDeviceGetProperties, NULL},
    {"cuDeviceGetTexture1DLinearMaxWidth", 11010, (void *)cuDeviceGetTexture1DLinearMaxWidth, NULL},
    {"cuDeviceRegisterAsyncNotification", 12040, (void *)cuDeviceRegisterAsyncNotification, NULL},
    {"cuDeviceSetGraphMemAttribute", 11040, (void *)cuDeviceSetGraphMemAttribute, NULL},
    {"cuDeviceUnregisterAsyncNotification", 12040, (void *)cuDeviceUnregisterAsyncNotification, NULL},
    {"cuExternalMemoryGetMappedMipmappedArray", 10000, (void *)cuExternalMemoryGetMappedMipmappedArray, NULL},
    {"cuFlushGPUDirectRDMAWrites", 11030, (void *)cuFlushGPUDirectRDMAWrites, NULL},
    {"cuFuncGetModule", 12040, (void *)cuFuncGetModule, NULL},
    {"cuFuncGetName", 12030, (void *)cuFuncGetName, NULL},
    {"cuFuncGetParamInfo", 12040, (void *)cuFuncGetParamInfo, NULL},
    {"cuFuncIsLoaded", 12040, (void *)cuFuncIsLoaded, NULL},
    {"cuFuncLoad", 12040, (void *)cuFuncLoad, NULL},
    {"cuFuncSetBlockShape", 2000, (void *)cuFuncSetBlockShape, NULL},
    {"cuFuncSetSharedSize", 2000, (void *)cuFuncSetSharedSize, NULL},
    {"cuGraphAddBatchMemOpNode", 11070, (void *)cuGraphAddBatchMemOpNode, NULL},
    {"cuGraphAddChildGraphNode", 10000, (void *)cuGraphAddChildGraphNode, NULL},
    {"cuGraphAddDependencies", 10000, (void *)cuGraphAddDependencies, NULL},
    {"cuGraphAddDependencies", 12030, (void *)cuGraphAddDependencies_v2, NULL},
    {"cuGraphAddEventRecordNode", 11010, (void *)cuGraphAddEventRecordNode, NULL},
    {"cuGraphAddEventWaitNode", 11010, (void *)cuGraphAddEventWaitNode, NULL},
    {"cuGraphAddExternalSemaphoresSignalNode", 11020, (void *)cuGraphAddExternalSemaphoresSignalNode, NULL},
    {"cuGraphAddExternalSemaphoresWaitNode", 11020, (void *)cuGraphAddExternalSemaphoresWaitNode, NULL},
    {"cuGraphAddNode", 12020, (void *)cuGraphAddNode, NULL},
    {"cuGraphAddNode", 12030, (void *)cuGraphAddNode_v2, NULL},
    {"cuGraphBatchMemOpNodeGetParams", 11070, (void *)cuGraphBatchMemOpNodeGetParams, NULL},
    {"cuGraphBatchMemOpNodeSetParams", 11070, (void *)cuGraphBatchMemOpNodeSetParams, NULL},
    {"cuGraphChildGraphNodeGetGraph", 10000, (void *)cuGraphChildGraphNodeGetGraph, NULL},
    {"cuGraphClone", 10000, (void *)cuGraphClone, NULL},
    {"cuGraphConditionalHandleCreate", 12030, (void *)cuGraphConditionalHandleCreate, NULL},
    {"cuGraphDebugDotPrint", 11030, (void *)cuGraphDebugDotPrint, NULL},
    {"cuGraphDestroyNode", 10000, (void *)cuGraphDestroyNode, NULL},
    {"cuGraphEventRecordNodeGetEvent", 11010, (void *)cuGraphEventRecordNodeGetEvent, NULL},
    {"cuGraphEventRecordNodeSetEvent", 11010, (void *)cuGraphEventRecordNodeSetEvent, NULL},
    {"cuGraphEventWaitNodeGetEvent", 11010, (void *)cuGraphEventWaitNodeGetEvent, NULL},
    {"cuGraphEventWaitNodeSetEvent", 11010, (void *)cuGraphEventWaitNodeSetEvent, NULL},
    {"cuGraphExecBatchMemOpNodeSetParams", 11070, (void *)cuGraphExecBatchMemOpNodeSetParams, NULL},
    {"cuGraphExecChildGraphNodeSetParams", 11000, (void *)cuGraphExecChildGraphNodeSetParams, NULL},
    {"cuGraphExecEventRecordNodeSetEvent", 11010, (void *)cuGraphExecEventRecordNodeSetEvent, NULL},
    {"cuGraphExecEventWaitNodeSetEvent", 11010, (void *)cuGraphExecEventWaitNodeSetEvent, NULL},
    {"cuGraphExecExternalSemaphoresSignalNodeSetParams", 11020, (void *)cuGraphExecExternalSemaphoresSignalNodeSetParams, NULL},
    {"cuGraphExecExternalSemaphoresWaitNodeSetParams", 11020, (void *)cuGraphExecExternalSemaphoresWaitNodeSetParams, NULL},
    {"cuGraphExecHostNodeSetParams", 10020, (void *)cuGraphExecHostNodeSetParams, NULL},
    {"cuGraphExecKernelNodeSetParams", 10010, (void *)cuGraphExecKernelNodeSetParams, NULL},
    {"cuGraphExecKernelNodeSetParams", 12000, (void *)cuGraphExecKernelNodeSetParams_v2, NULL},
    {"cuGraphExecMemcpyNodeSetParams", 10020, (void *)cuGraphExecMemcpyNodeSetParams, NULL},
    {"cuGraphExecMemsetNodeSetParams", 10020, (void *)cuGraphExecMemsetNodeSetParams, NULL},
    {"cuGraphExecNodeSetParams", 12020, (void *)cuGraphExecNodeSetParams, NULL},
    {"cuGraphExecUpdate", 10020, (void *)cuGraphExecUpdate, NULL},
    {"cuGraphExecUpdate", 12000, (void *)cuGraphExecUpdate_v2, NULL},
    {"cuGraphExternalSemaphoresSignalNodeGetParams", 11020, (void *)cuGraphExternalSemaphoresSignalNodeGetParams, NULL},
    {"cuGraphExternalSemaphoresSignalNodeSetParams", 11020, (void *)cuGraphExternalSemaphoresSignalNodeSetParams, NULL},
    {"cuGraphExternalSemaphoresWaitNodeGetParams", 11020, (void *)cuGraphExternalSemaphoresWaitNodeGetParams, NULL},
    {"cuGraphExternalSemaphoresWaitNodeSetParams", 11020, (void *)cuGraphExternalSemaphoresWaitNodeSetParams, NULL},
    {"cuGraphGetEdges", 10000, (void *)cuGraphGetEdges, NULL},
    {"cuGraphGetEdges", 12030, (void *)cuGraphGetEdges_v2, NULL},
    {"cuGraphGetRootNodes", 10000, (void *)cuGraphGetRootNodes, NULL},
    {"cuGraphHostNodeGetParams", 10000, (void *)cuGraphHostNodeGetParams, NULL},
    {"cuGraphHostNodeSetParams", 10000, (void *)cuGraphHostNodeSetParams, NULL},
    {"cuGraphKernelNodeCopyAttributes", 11000, (void *)cuGraphKernelNodeCopyAttributes, NULL},
    {"cuGraphKernelNodeGetAttribute", 11000, (void *)cuGraphKernelNodeGetAttribute, NULL},
    {"cuGraphKernelNodeGetParams", 10000, (void *)cuGraphKernelNodeGetParams, NULL},
    {"cuGraphKernelNodeGetParams", 12000, (void *)cuGraphKernelNodeGetParams_v2, NULL},
    {"cuGraphKernelNodeSetAttribute", 11000, (void *)cuGraphKernelNodeSetAttribute, NULL},
    {"cuGraphKernelNodeSetParams", 10000, (void *)cuGraphKernelNodeSetParams, NULL},
    {"cuGraphKernelNodeSetParams", 12000, (void *)cuGraphKernelNodeSetParams_v2, NULL},
    {"cuGraphMemcpyNodeGetParams", 10000, (void *)cuGraphMemcpyNodeGetParams, NULL},
    {"cuGraphMemcpyNodeSetParams", 10000, (void *)cuGraphMemcpyNodeSetParams, NULL},
    {"cuGraphMemsetNodeGetParams", 10000, (void *)cuGraphMemsetNodeGetParams, NULL},
    {"cuGraphMemsetNodeSetParams", 10000, (void *)cuGraphMemsetNodeSetParams, NULL},
    {"cuGraphNodeFindInClone", 10000, (void *)cuGraphNodeFindInClone, NULL},
    {"cuGraphNodeGetDependencies", 10000, (void *)cuGraphNodeGetDependencies, NULL},
    {"cuGraphNodeGetDependencies", 12030, (void *)cuGraphNodeGetDependencies_v2, NULL},
    {"cuGraphNodeGetDependentNodes", 10000, (void *)cuGraphNodeGetDependentNodes, NULL},
    {"cuGraphNodeGetDependentNodes", 12030, (void *)cuGraphNodeGetDependentNodes_v2, NULL},
    {"cuGraphNodeGetEnabled", 11060, (void *)cuGraphNodeGetEnabled, NULL},
    {"cuGraphNodeSetEnabled", 11060, (void *)cuGraphNodeSetEnabled, NULL},
    {"cuGraphNodeSetParams", 12020, (void *)cuGraphNodeSetParams, NULL},
    {"cuGraphReleaseUserObject", 11030, (void *)cuGraphReleaseUserObject, NULL},
    {"cuGraphRemoveDependencies", 10000, (void *)cuGraphRemoveDependencies, NULL},
    {"cuGraphRemoveDependencies", 12030, (void *)cuGraphRemoveDependencies_v2, NULL},
    {"cuGraphRetainUserObject", 11030, (void *)cuGraphRetainUserObject, NULL},
    {"cuGraphicsMapResources", 3000, (void *)cuGraphicsMapResources, (void *)cuGraphicsMapResources_ptsz},
    {"cuGraphicsResourceGetMappedMipmappedArray", 5000, (void *)cuGraphicsResourceGetMappedMipmappedArray, NULL},
    {"cuGraphicsResourceGetMappedPointer", 3000, (void *)cuGraphicsResourceGetMappedPointer, NULL},
    {"cuGraphicsResourceGetMappedPointer", 3020, (void *)cuGraphicsResourceGetMappedPointer_v2, NULL},
    {"cuGraphicsResourceSetMapFlags", 3000, (void *)cuGraphicsResourceSetMapFlags, NULL},
    {"cuGraphicsResourceSetMapFlags", 6050, (void *)cuGraphicsResourceSetMapFlags_v2, NULL},
    {"cuGraphicsSubResourceGetMappedArray", 3000, (void *)cuGraphicsSubResourceGetMappedArray, NULL},
    {"cuGraphicsUnmapResources", 3000, (void *)cuGraphicsUnmapResources, (void *)cuGraphicsUnmapResources_ptsz},
    {"cuGraphicsUnregisterResource", 3000, (void *)cuGraphicsUnregisterResource, NULL},
    {"cuGreenCtxCreate", 12040, (void *)cuGreenCtxCreate, NULL},
    {"cuGreenCtxDestroy", 12040, (void *)cuGreenCtxDestroy, NULL},
    {"cuGreenCtxGetDevResource", 12040, (void *)cuGreenCtxGetDevResource, NULL},
    {"cuGreenCtxGetId", 12090, (void *)cuGreenCtxGetId, NULL},
    {"cuGreenCtxRecordEvent", 12040, (void *)cuGreenCtxRecordEvent, NULL},
    {"cuGreenCtxStreamCreate", 12050, (void *)cuGreenCtxStreamCreate, NULL},
    {"cuGreenCtxWaitEvent", 12040, (void *)cuGreenCtxWaitEvent, NULL},
    {"cuKernelGetAttribute", 12000, (void *)cuKernelGetAttribute, NULL},
    {"cuKernelGetFunction", 12000, (void *)cuKernelGetFunction, NULL},
    {"cuKernelGetLibrary", 12050, (void *)cuKernelGetLibrary, NULL},
    {"cuKernelGetName", 12030, (void *)cuKernelGetName, NULL},
    {"cuKernelGetParamInfo", 12040, (void *)cuKernelGetParamInfo, NULL},
    {"cuKernelSetAttribute", 12000, (void *)cuKernelSetAttribute, NULL},
    {"cuKernelSetCacheConfig", 12000, (void *)cuKernelSetCacheConfig, NULL},
    {"cuLaunch", 2000, (void *)cuLaunch, NULL},
    {"cuLaunchCooperativeKernelMultiDevice", 9000, (void *)cuLaunchCooperativeKernelMultiDevice, NULL},
    {"cuLaunchGrid", 2000, (void *)cuLaunchGrid, NULL},
    {"cuLaunchGridAsync", 2000, (void *)cuLaunchGridAsync, NULL},
    {"cuLibraryEnumerateKernels", 12040, (void *)cuLibraryEnumerateKernels, NULL},
    {"cuLibraryGetGlobal", 12000, (void *)cuLibraryGetGlobal, NULL},
    {"cuLibraryGetKernel", 12000, (void *)cuLibraryGetKernel, NULL},
    {"cuLibraryGetKernelCount", 12040, (void *)cuLibraryGetKernelCount, NULL},
    {"cuLibraryGetManaged", 12000, (void *)cuLibraryGetManaged, NULL},
    {"cuLibraryGetModule", 12000, (void *)cuLibraryGetModule, NULL},
    {"cuLibraryGetUnifiedFunction", 12000, (void *)cuLibraryGetUnifiedFunction, NULL},
    {"cuLibraryLoadData", 12000, (void *)cuLibraryLoadData, NULL},
    {"cuLibraryLoadFromFile", 12000, (void *)cuLibraryLoadFromFile, NULL},
    {"cuLibraryUnload", 12000, (void *)cuLibraryUnload, NULL},
    {"cuLogsCurrent", 12090, (void *)cuLogsCurrent, NULL},
    {"cuLogsDumpToFile", 12090, (void *)cuLogsDumpToFile, NULL},
    {"cuLogsDumpToMemory", 12090, (void *)cuLogsDumpToMemory, NULL},
    {"cuLogsRegisterCallback", 12090, (void *)cuLogsRegisterCallback, NULL},
    {"cuLogsUnregisterCallback", 12090, (void *)cuLogsUnregisterCallback, NULL},
    {"cuMemBatchDecompressAsync", 12060, (void *)cuMemBatchDecompressAsync, (void *)cuMemBatchDecompressAsync_ptsz},
    {"cuMemDiscardAndPrefetchBatchAsync", 13000, (void *)cuMemDiscardAndPrefetchBatchAsync, (void *)cuMemDiscardAndPrefetchBatchAsync_ptsz},
    {"cuMemDiscardBatchAsync", 13000, (void *)cuMemDiscardBatchAsync, (void *)cuMemDiscardBatchAsync_ptsz},
    {"cuMemExportToShareableHandle", 10020, (void *)cuMemExportToShareableHandle, NULL},
    {"cuMemGetDefaultMemPool", 13000, (void *)cuMemGetDefaultMemPool, NULL},
    {"cuMemGetHandleForAddressRange", 11070, (void *)cuMemGetHandleForAddressRange, NULL},
    {"cuMemGetMemPool", 13000, (void *)cuMemGetMemPool, NULL},
    {"cuMemHostGetDevicePointer", 3000, (void *)cuMemHostGetDevicePointer, NULL},
    {"cuMemHostGetFlags", 2000, (void *)cuMemHostGetFlags, NULL},
    {"cuMemImportFromShareableHandle", 10020, (void *)cuMemImportFromShareableHandle, NULL},
    {"cuMemMapArrayAsync", 11010, (void *)cuMemMapArrayAsync, (void *)cuMemMapArrayAsync_ptsz},
    {"cuMemPoolExportPointer", 11020, (void *)cuMemPoolExportPointer, NULL},
    {"cuMemPoolExportToShareableHandle", 11020, (void *)cuMemPoolExportToShareableHandle, NULL},
    {"cuMemPoolImportFromShareableHandle", 11020, (void *)cuMemPoolImportFromShareableHandle, NULL},
    {"cuMemPoolImportPointer", 11020, (void *)cuMemPoolImportPointer, NULL},
    {"cuMemPrefetchBatchAsync", 13000, (void *)cuMemPrefetchBatchAsync, (void *)cuMemPrefetchBatchAsync_ptsz},
    {"cuMemRangeGetAttribute", 8000, (void *)cuMemRangeGetAttribute, NULL},
    {"cuMemRangeGetAttributes", 8000, (void *)cuMemRangeGetAttributes, NULL},
    {"cuMemSetMemPool", 13000, (void *)cuMemSetMemPool, NULL},
    {"cuMemcpy2D", 2000, (void *)cuMemcpy2D, NULL},
    {"cuMemcpy2DAsync", 2000, (void *)cuMemcpy2DAsync, NULL},
    {"cuMemcpy2DUnaligned", 2000, (void *)cuMemcpy2DUnaligned, NULL},
    {"cuMemcpy3D", 2000, (void *)cuMemcpy3D, NULL},
    {"cuMemcpy3DAsync", 2000, (void *)cuMemcpy3DAsync, NULL},
    {"cuMemcpy3DBatchAsync", 12080, (void *)cuMemcpy3DBatchAsync, (void *)cuMemcpy3DBatchAsync_ptsz},
    {"cuMemcpy3DBatchAsync", 13000, (void *)cuMemcpy3DBatchAsync_v2, (void *)cuMemcpy3DBatchAsync_v2_ptsz},
    {"cuMemcpy3DPeer", 4000, (void *)cuMemcpy3DPeer, (void *)cuMemcpy3DPeer_ptds},
    {"cuMemcpy3DPeerAsync", 4000, (void *)cuMemcpy3DPeerAsync, (void *)cuMemcpy3DPeerAsync_ptsz},
    {"cuMemcpyAtoA", 2000, (void *)cuMemcpyAtoA, NULL},
    {"cuMemcpyAtoA", 3020, (void *)cuMemcpyAtoA_v2, (void *)cuMemcpyAtoA_v2_ptds},
    {"cuMemcpyAtoD", 2000, (void *)cuMemcpyAtoD, NULL},
    {"cuMemcpyAtoD", 3020, (void *)cuMemcpyAtoD_v2, (void *)cuMemcpyAtoD_v2_ptds},
    {"cuMemcpyAtoH", 2000, (void *)cuMemcpyAtoH, NULL},
    {"cuMemcpyAtoHAsync", 2000, (void *)cuMemcpyAtoHAsync, NULL},
    {"cuMemcpyAtoHAsync", 3020, (void *)cuMemcpyAtoHAsync_v2, (void *)cuMemcpyAtoHAsync_v2_ptsz},
    {"cuMemcpyAtoH", 3020, (void *)cuMemcpyAtoH_v2, (void *)cuMemcpyAtoH_v2_ptds},
    {"cuMemcpyBatchAsync", 12080, (void *)cuMemcpyBatchAsync, (void *)cuMemcpyBatchAsync_ptsz},
    {"cuMemcpyBatchAsync", 13000, (void *)cuMemcpyBatchAsync_v2, (void *)cuMemcpyBatchAsync_v2_ptsz},
    {"cuMemcpyDtoA", 2000, (void *)cuMemcpyDtoA, NULL},
    {"cuMemcpyDtoA", 3020, (void *)cuMemcpyDtoA_v2, (void *)cuMemcpyDtoA_v2_ptds},
    {"cuMemcpyDtoDAsync", 2000, (void *)cuMemcpyDtoDAsync, NULL},
    {"cuMemcpyDtoHAsync", 2000, (void *)cuMemcpyDtoHAsync, NULL},
    {"cuMemcpyHtoA", 2000, (void *)cuMemcpyHtoA, NULL},
    {"cuMemcpyHtoAAsync", 2000, (void *)cuMemcpyHtoAAsync, NULL},
    {"cuMemcpyHtoAAsync", 3020, (void *)cuMemcpyHtoAAsync_v2, (void *)cuMemcpyHtoAAsync_v2_ptsz},
    {"cuMemcpyHtoA", 3020, (void *)cuMemcpyHtoA_v2, (void *)cuMemcpyHtoA_v2_ptds},
    {"cuMemcpyHtoDAsync", 2000, (void *)cuMemcpyHtoDAsync, NULL},
    {"cuMemsetD16", 2000, (void *)cuMemsetD16, NULL},
    {"cuMipmappedArrayGetLevel", 5000, (void *)cuMipmappedArrayGetLevel, NULL},
    {"cuMipmappedArrayGetMemoryRequirements", 11060, (void *)cuMipmappedArrayGetMemoryRequirements, NULL},
    {"cuMipmappedArrayGetSparseProperties", 11010, (void *)cuMipmappedArrayGetSparseProperties, NULL},
    {"cuModuleEnumerateFunctions", 12040, (void *)cuModuleEnumerateFunctions, NULL},
    {"cuModuleGetFunctionCount", 12040, (void *)cuModuleGetFunctionCount, NULL},
    {"cuModuleGetGlobal", 2000, (void *)cuModuleGetGlobal, NULL},
    {"cuModuleGetLoadingMode", 11070, (void *)cuModuleGetLoadingMode, NULL},
    {"cuModuleGetSurfRef", 3000, (void *)cuModuleGetSurfRef, NULL},
    {"cuModuleGetTexRef", 2000, (void *)cuModuleGetTexRef, NULL},
    {"cuMulticastAddDevice", 12010, (void *)cuMulticastAddDevice, NULL},
    {"cuMulticastBindAddr", 12010, (void *)cuMulticastBindAddr, NULL},
    {"cuMulticastBindMem", 12010, (void *)cuMulticastBindMem, NULL},
    {"cuMulticastCreate", 12010, (void *)cuMulticastCreate, NULL},
    {"cuMulticastGetGranularity", 12010, (void *)cuMulticastGetGranularity, NULL},
    {"cuMulticastUnbind", 12010, (void *)cuMulticastUnbind, NULL},
    {"cuOccupancyAvailableDynamicSMemPerBlock", 10020, (void *)cuOccupancyAvailableDynamicSMemPerBlock, NULL},
    {"cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags", 5050, (void *)cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags, NULL},
    {"cuOccupancyMaxActiveClusters", 11080, (void *)cuOccupancyMaxActiveClusters, NULL},
    {"cuOccupancyMaxPotentialBlockSize", 5050, (void *)cuOccupancyMaxPotentialBlockSize, NULL},
    {"cuOccupancyMaxPotentialBlockSizeWithFlags", 5050, (void *)cuOccupancyMaxPotentialBlockSizeWithFlags, NULL},
    {"cuOccupancyMaxPotentialClusterSize", 11080, (void *)cuOccupancyMaxPotentialClusterSize, NULL},
    {"cuParamSetSize", 2000, (void *)cuParamSetSize, NULL},
    {"cuParamSetTexRef", 2000, (void *)cuParamSetTexRef, NULL},
    {"cuParamSetf", 2000, (void *)cuParamSetf, NULL},
    {"cuParamSeti", 2000, (void *)cuParamSeti, NULL},
    {"cuParamSetv", 2000, (void *)cuParamSetv, NULL},
    {"cuPointerSetAttribute", 6000, (void *)cuPointerSetAttribute, NULL},
    {"cuStreamAddCallback", 5000, (void *)cuStreamAddCallback, (void *)cuStreamAddCallback_ptsz},
    {"cuStreamAttachMemAsync", 6000, (void *)cuStreamAttachMemAsync, (void *)cuStreamAttachMemAsync_ptsz},
    {"cuStreamBatchMemOp", 8000, (void *)cuStreamBatchMemOp, (void *)cuStreamBatchMemOp_ptsz},
    {"cuStreamBatchMemOp", 11070, (void *)cuStreamBatchMemOp_v2, (void *)cuStreamBatchMemOp_v2_ptsz},
    {"cuStreamBeginCaptureToGraph", 12030, (void *)cuStreamBeginCaptureToGraph, (void *)cuStreamBeginCaptureToGraph_ptsz},
    {"cuStreamCopyAttributes", 11000, (void *)cuStreamCopyAttributes, (void *)cuStreamCopyAttributes_ptsz},
    {"cuStreamGetAttribute", 11000, (void *)cuStreamGetAttribute, (void *)cuStreamGetAttribute_ptsz},
    {"cuStreamGetCtx_v2", 12050, (void *)cuStreamGetCtx_v2, (void *)cuStreamGetCtx_v2_ptsz},
    {"cuStreamGetDevice", 12080, (void *)cuStreamGetDevice, (void *)cuStreamGetDevice_ptsz},
    {"cuStreamGetGreenCtx", 12040, (void *)cuStreamGetGreenCtx, NULL},
    {"cuStreamGetId", 12000, (void *)cuStreamGetId, (void *)cuStreamGetId_ptsz},
    {"cuStreamSetAttribute", 11000, (void *)cuStreamSetAttribute, (void *)cuStreamSetAttribute_ptsz},
    {"cuStreamUpdateCaptureDependencies", 11030, (void *)cuStreamUpdateCaptureDependencies, (void *)cuStreamUpdateCaptureDependencies_ptsz},
    {"cuStreamUpdateCaptureDependencies", 12030, (void *)cuStreamUpdateCaptureDependencies_v2, (void *)cuStreamUpdateCaptureDependencies_v2_ptsz},
    {"cuStreamWaitValue32", 8000, (void *)cuStreamWaitValue32, (void *)cuStreamWaitValue32_ptsz},
    {"cuStreamWaitValue32", 11070, (void *)cuStreamWaitValue32_v2, (void *)cuStreamWaitValue32_v2_ptsz},
    {"cuStreamWaitValue64", 9000, (void *)cuStreamWaitValue64, (void *)cuStreamWaitValue64_ptsz},
    {"cuStreamWaitValue64", 11070, (void *)cuStreamWaitValue64_v2, (void *)cuStreamWaitValue64_v2_ptsz},
    {"cuStreamWriteValue32", 8000, (void *)cuStreamWriteValue32, (void *)cuStreamWriteValue32_ptsz},
    {"cuStreamWriteValue32", 11070, (void *)cuStreamWriteValue32_v2, (void *)cuStreamWriteValue32_v2_ptsz},
    {"cuStreamWriteValue64", 9000, (void *)cuStreamWriteValue64, (void *)cuStreamWriteValue64_ptsz},
    {"cuStreamWriteValue64", 11070, (void *)cuStreamWriteValue64_v2, (void *)cuStreamWriteValue64_v2_ptsz},
    {"cuSurfObjectCreate", 5000, (void *)cuSurfObjectCreate, NULL},
    {"cuSurfObjectDestroy", 5000, (void *)cuSurfObjectDestroy, NULL},
    {"cuSurfObjectGetResourceDesc", 5000, (void *)cuSurfObjectGetResourceDesc, NULL},
    {"cuSurfRefGetArray", 3000, (void *)cuSurfRefGetArray, NULL},
    {"cuSurfRefSetArray", 3000, (void *)cuSurfRefSetArray, NULL},
    {"cuTensorMapEncodeIm2col", 12000, (void *)cuTensorMapEncodeIm2col, NULL},
    {"cuTensorMapEncodeIm2colWide", 12080, (void *)cuTensorMapEncodeIm2colWide, NULL},
    {"cuTensorMapEncodeTiled", 12000, (void *)cuTensorMapEncodeTiled, NULL},
    {"cuTensorMapReplaceAddress", 12000, (void *)cuTensorMapReplaceAddress, NULL},
    {"cuTexObjectCreate", 5000, (void *)cuTexObjectCreate, NULL},
    {"cuTexObjectDestroy", 5000, (void *)cuTexObjectDestroy, NULL},
    {"cuTexObjectGetResourceDesc", 5000, (void *)cuTexObjectGetResourceDesc, NULL},
    {"cuTexObjectGetResourceViewDesc", 5000, (void *)cuTexObjectGetResourceViewDesc, NULL},
    {"cuTexObjectGetTextureDesc", 5000, (void *)cuTexObjectGetTextureDesc, NULL},
    {"cuTexRefCreate", 2000, (void *)cuTexRefCreate, NULL},
    {"cuTexRefDestroy", 2000, (void *)cuTexRefDestroy, NULL},
    {"cuTexRefGetAddress", 2000, (void *)cuTexRefGetAddress, NULL},
    {"cuTexRefGetAddressMode", 2000, (void *)cuTexRefGetAddressMode, NULL},
    {"cuTexRefGetAddress", 3020, (void *)cuTexRefGetAddress_v2, NULL},
    {"cuTexRefGetArray", 2000, (void *)cuTexRefGetArray, NULL},
    {"cuTexRefGetBorderColor", 8000, (void *)cuTexRefGetBorderColor, NULL},
    {"cuTexRefGetFilterMode", 2000, (void *)cuTexRefGetFilterMode, NULL},
    {"cuTexRefGetFlags", 2000, (void *)cuTexRefGetFlags, NULL},
    {"cuTexRefGetFormat", 2000, (void *)cuTexRefGetFormat, NULL},
    {"cuTexRefGetMaxAnisotropy", 5000, (void *)cuTexRefGetMaxAnisotropy, NULL},
    {"cuTexRefGetMipmapFilterMode", 5000, (void *)cuTexRefGetMipmapFilterMode, NULL},
    {"cuTexRefGetMipmapLevelBias", 5000, (void *)cuTexRefGetMipmapLevelBias, NULL},
    {"cuTexRefGetMipmapLevelClamp", 5000, (void *)cuTexRefGetMipmapLevelClamp, NULL},
    {"cuTexRefGetMipmappedArray", 5000, (void *)cuTexRefGetMipmappedArray, NULL},
    {"cuTexRefSetAddress", 2000, (void *)cuTexRefSetAddress, NULL},
    {"cuTexRefSetAddress2D", 2000, (void *)cuTexRefSetAddress2D, NULL},
    {"cuTexRefSetAddress2D", 3020, (void *)cuTexRefSetAddress2D_v2, NULL},
    {"cuTexRefSetAddress2D", 4010, (void *)cuTexRefSetAddress2D_v3, NULL},
    {"cuTexRefSetAddressMode", 2000, (void *)cuTexRefSetAddressMode, NULL},
    {"cuTexRefSetAddress", 3020, (void *)cuTexRefSetAddress_v2, NULL},
    {"cuTexRefSetArray", 2000, (void *)cuTexRefSetArray, NULL},
    {"cuTexRefSetBorderColor", 8000, (void *)cuTexRefSetBorderColor, NULL},
    {"cuTexRefSetFilterMode", 2000, (void *)cuTexRefSetFilterMode, NULL},
    {"cuTexRefSetFlags", 2000, (void *)cuTexRefSetFlags, NULL},
    {"cuTexRefSetFormat", 2000, (void *)cuTexRefSetFormat, NULL},
    {"cuTexRefSetMaxAnisotropy", 5000, (void *)cuTexRefSetMaxAnisotropy, NULL},
    {"cuTexRefSetMipmapFilterMode", 5000, (void *)cuTexRefSetMipmapFilterMode, NULL},
    {"cuTexRefSetMipmapLevelBias", 5000, (void *)cuTexRefSetMipmapLevelBias, NULL},
    {"cuTexRefSetMipmapLevelClamp", 5000, (void *)cuTexRefSetMipmapLevelClamp, NULL},
    {"cuTexRefSetMipmappedArray", 5000, (void *)cuTexRefSetMipmappedArray, NULL},
    {"cuUserObjectCreate", 11030, (void *)cuUserObjectCreate, NULL},
    {"cuUserObjectRelease", 11030, (void *)cuUserObjectRelease, NULL},
    {"cuUserObjectRetain", 11030, (void *)cuUserObjectRetain, NULL},
};
/* clang-format on */

const size_t gpx__cu_stub_procs_n = sizeof gpx__cu_stub_procs / sizeof gpx__cu_stub_procs[0];
