/*
 * What tests/abi/ compares between src/abi/cuda_abi.h and NVIDIA's cuda.h:
 * one list, expanded once against each header (abi_table.c), so both tables
 * have the same rows in the same order and abi_compare.c compares them row by
 * row. SIZE(type), OFF(type, member), VAL(constant). Entry-point signatures
 * come from GPX_CUDA_ENTRY_POINTS itself (see abi_table.c).
 *
 * Add a row here for every struct, member or constant added to cuda_abi.h.
 */
#ifndef GPX_TEST_CUDA_CHECKS_H
#define GPX_TEST_CUDA_CHECKS_H

/* clang-format off */
#define GPX_CUDA_ABI_CHECKS(SIZE, OFF, VAL)                                                        \
    SIZE(CUresult)                                                                                 \
    SIZE(CUdevice)                                                                                 \
    SIZE(CUdeviceptr)                                                                              \
    SIZE(CUdeviceptr_v1)                                                                           \
    SIZE(CUmemGenericAllocationHandle)                                                             \
    SIZE(CUdevice_attribute)                                                                       \
    SIZE(CUuuid)                                                                                   \
    SIZE(CUipcMemHandle)                                                                           \
    SIZE(CUmemLocation)                                                                            \
    OFF(CUmemLocation, type)                                                                       \
    OFF(CUmemLocation, id)                                                                         \
    SIZE(CUmemAllocationProp)                                                                      \
    OFF(CUmemAllocationProp, type)                                                                 \
    OFF(CUmemAllocationProp, requestedHandleTypes)                                                 \
    OFF(CUmemAllocationProp, location)                                                             \
    OFF(CUmemAllocationProp, location.id)                                                          \
    OFF(CUmemAllocationProp, win32HandleMetaData)                                                  \
    OFF(CUmemAllocationProp, allocFlags)                                                           \
    OFF(CUmemAllocationProp, allocFlags.gpuDirectRDMACapable)                                      \
    OFF(CUmemAllocationProp, allocFlags.usage)                                                     \
    SIZE(CUmemAccessDesc)                                                                          \
    OFF(CUmemAccessDesc, location)                                                                 \
    OFF(CUmemAccessDesc, flags)                                                                    \
    SIZE(CUmemPoolProps)                                                                           \
    OFF(CUmemPoolProps, allocType)                                                                 \
    OFF(CUmemPoolProps, handleTypes)                                                               \
    OFF(CUmemPoolProps, location)                                                                  \
    OFF(CUmemPoolProps, win32SecurityAttributes)                                                   \
    OFF(CUmemPoolProps, maxSize)                                                                   \
    OFF(CUmemPoolProps, usage)                                                                     \
    OFF(CUmemPoolProps, reserved)                                                                  \
    SIZE(CUDA_MEMCPY2D)                                                                            \
    OFF(CUDA_MEMCPY2D, srcXInBytes)                                                                \
    OFF(CUDA_MEMCPY2D, srcY)                                                                       \
    OFF(CUDA_MEMCPY2D, srcMemoryType)                                                              \
    OFF(CUDA_MEMCPY2D, srcHost)                                                                    \
    OFF(CUDA_MEMCPY2D, srcDevice)                                                                  \
    OFF(CUDA_MEMCPY2D, srcArray)                                                                   \
    OFF(CUDA_MEMCPY2D, srcPitch)                                                                   \
    OFF(CUDA_MEMCPY2D, dstXInBytes)                                                                \
    OFF(CUDA_MEMCPY2D, dstY)                                                                       \
    OFF(CUDA_MEMCPY2D, dstMemoryType)                                                              \
    OFF(CUDA_MEMCPY2D, dstHost)                                                                    \
    OFF(CUDA_MEMCPY2D, dstDevice)                                                                  \
    OFF(CUDA_MEMCPY2D, dstArray)                                                                   \
    OFF(CUDA_MEMCPY2D, dstPitch)                                                                   \
    OFF(CUDA_MEMCPY2D, WidthInBytes)                                                               \
    OFF(CUDA_MEMCPY2D, Height)                                                                     \
    SIZE(CUDA_MEMCPY3D)                                                                            \
    OFF(CUDA_MEMCPY3D, srcZ)                                                                       \
    OFF(CUDA_MEMCPY3D, srcLOD)                                                                     \
    OFF(CUDA_MEMCPY3D, srcMemoryType)                                                              \
    OFF(CUDA_MEMCPY3D, srcHost)                                                                    \
    OFF(CUDA_MEMCPY3D, srcDevice)                                                                  \
    OFF(CUDA_MEMCPY3D, srcArray)                                                                   \
    OFF(CUDA_MEMCPY3D, reserved0)                                                                  \
    OFF(CUDA_MEMCPY3D, srcPitch)                                                                   \
    OFF(CUDA_MEMCPY3D, srcHeight)                                                                  \
    OFF(CUDA_MEMCPY3D, dstXInBytes)                                                                \
    OFF(CUDA_MEMCPY3D, dstMemoryType)                                                              \
    OFF(CUDA_MEMCPY3D, dstHost)                                                                    \
    OFF(CUDA_MEMCPY3D, dstDevice)                                                                  \
    OFF(CUDA_MEMCPY3D, dstArray)                                                                   \
    OFF(CUDA_MEMCPY3D, reserved1)                                                                  \
    OFF(CUDA_MEMCPY3D, dstPitch)                                                                   \
    OFF(CUDA_MEMCPY3D, dstHeight)                                                                  \
    OFF(CUDA_MEMCPY3D, WidthInBytes)                                                               \
    OFF(CUDA_MEMCPY3D, Height)                                                                     \
    OFF(CUDA_MEMCPY3D, Depth)                                                                      \
    SIZE(CUDA_ARRAY_DESCRIPTOR)                                                                    \
    OFF(CUDA_ARRAY_DESCRIPTOR, Height)                                                             \
    OFF(CUDA_ARRAY_DESCRIPTOR, Format)                                                             \
    OFF(CUDA_ARRAY_DESCRIPTOR, NumChannels)                                                        \
    SIZE(CUDA_ARRAY3D_DESCRIPTOR)                                                                  \
    OFF(CUDA_ARRAY3D_DESCRIPTOR, Depth)                                                            \
    OFF(CUDA_ARRAY3D_DESCRIPTOR, Format)                                                           \
    OFF(CUDA_ARRAY3D_DESCRIPTOR, NumChannels)                                                      \
    OFF(CUDA_ARRAY3D_DESCRIPTOR, Flags)                                                            \
    SIZE(CUDA_ARRAY_DESCRIPTOR_v1)                                                                 \
    OFF(CUDA_ARRAY_DESCRIPTOR_v1, Format)                                                          \
    OFF(CUDA_ARRAY_DESCRIPTOR_v1, NumChannels)                                                     \
    SIZE(CUDA_ARRAY3D_DESCRIPTOR_v1)                                                               \
    OFF(CUDA_ARRAY3D_DESCRIPTOR_v1, Format)                                                        \
    OFF(CUDA_ARRAY3D_DESCRIPTOR_v1, Flags)                                                         \
    SIZE(CUDA_EXTERNAL_MEMORY_HANDLE_DESC)                                                         \
    OFF(CUDA_EXTERNAL_MEMORY_HANDLE_DESC, type)                                                    \
    OFF(CUDA_EXTERNAL_MEMORY_HANDLE_DESC, handle)                                                  \
    OFF(CUDA_EXTERNAL_MEMORY_HANDLE_DESC, handle.fd)                                               \
    OFF(CUDA_EXTERNAL_MEMORY_HANDLE_DESC, handle.win32.name)                                       \
    OFF(CUDA_EXTERNAL_MEMORY_HANDLE_DESC, size)                                                    \
    OFF(CUDA_EXTERNAL_MEMORY_HANDLE_DESC, flags)                                                   \
    OFF(CUDA_EXTERNAL_MEMORY_HANDLE_DESC, reserved)                                                \
    SIZE(CUDA_EXTERNAL_MEMORY_BUFFER_DESC)                                                         \
    OFF(CUDA_EXTERNAL_MEMORY_BUFFER_DESC, size)                                                    \
    OFF(CUDA_EXTERNAL_MEMORY_BUFFER_DESC, flags)                                                   \
    SIZE(CUlaunchAttributeValue)                                                                   \
    OFF(CUlaunchAttributeValue, clusterDim.z)                                                      \
    OFF(CUlaunchAttributeValue, programmaticEvent.flags)                                           \
    OFF(CUlaunchAttributeValue, programmaticEvent.triggerAtBlockStart)                             \
    SIZE(CUlaunchAttribute)                                                                        \
    OFF(CUlaunchAttribute, id)                                                                     \
    OFF(CUlaunchAttribute, value)                                                                  \
    SIZE(CUlaunchConfig)                                                                           \
    OFF(CUlaunchConfig, gridDimX)                                                                  \
    OFF(CUlaunchConfig, blockDimZ)                                                                 \
    OFF(CUlaunchConfig, sharedMemBytes)                                                            \
    OFF(CUlaunchConfig, hStream)                                                                   \
    OFF(CUlaunchConfig, attrs)                                                                     \
    OFF(CUlaunchConfig, numAttrs)                                                                  \
    VAL(CUDA_SUCCESS) \
    VAL(CUDA_ERROR_INVALID_VALUE) \
    VAL(CUDA_ERROR_OUT_OF_MEMORY) \
    VAL(CUDA_ERROR_NOT_INITIALIZED) \
    VAL(CUDA_ERROR_DEINITIALIZED) \
    VAL(CUDA_ERROR_PROFILER_DISABLED) \
    VAL(CUDA_ERROR_STUB_LIBRARY) \
    VAL(CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER) \
    VAL(CUDA_ERROR_DEVICE_UNAVAILABLE) \
    VAL(CUDA_ERROR_NO_DEVICE) \
    VAL(CUDA_ERROR_INVALID_DEVICE) \
    VAL(CUDA_ERROR_DEVICE_NOT_LICENSED) \
    VAL(CUDA_ERROR_INVALID_IMAGE) \
    VAL(CUDA_ERROR_INVALID_CONTEXT) \
    VAL(CUDA_ERROR_CONTEXT_ALREADY_CURRENT) \
    VAL(CUDA_ERROR_MAP_FAILED) \
    VAL(CUDA_ERROR_UNMAP_FAILED) \
    VAL(CUDA_ERROR_ARRAY_IS_MAPPED) \
    VAL(CUDA_ERROR_ALREADY_MAPPED) \
    VAL(CUDA_ERROR_NO_BINARY_FOR_GPU) \
    VAL(CUDA_ERROR_ALREADY_ACQUIRED) \
    VAL(CUDA_ERROR_NOT_MAPPED) \
    VAL(CUDA_ERROR_ECC_UNCORRECTABLE) \
    VAL(CUDA_ERROR_UNSUPPORTED_LIMIT) \
    VAL(CUDA_ERROR_CONTEXT_ALREADY_IN_USE) \
    VAL(CUDA_ERROR_PEER_ACCESS_UNSUPPORTED) \
    VAL(CUDA_ERROR_INVALID_PTX) \
    VAL(CUDA_ERROR_INVALID_GRAPHICS_CONTEXT) \
    VAL(CUDA_ERROR_NVLINK_UNCORRECTABLE) \
    VAL(CUDA_ERROR_JIT_COMPILER_NOT_FOUND) \
    VAL(CUDA_ERROR_UNSUPPORTED_PTX_VERSION) \
    VAL(CUDA_ERROR_JIT_COMPILATION_DISABLED) \
    VAL(CUDA_ERROR_INVALID_SOURCE) \
    VAL(CUDA_ERROR_FILE_NOT_FOUND) \
    VAL(CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND) \
    VAL(CUDA_ERROR_SHARED_OBJECT_INIT_FAILED) \
    VAL(CUDA_ERROR_OPERATING_SYSTEM) \
    VAL(CUDA_ERROR_INVALID_HANDLE) \
    VAL(CUDA_ERROR_ILLEGAL_STATE) \
    VAL(CUDA_ERROR_NOT_FOUND) \
    VAL(CUDA_ERROR_NOT_READY) \
    VAL(CUDA_ERROR_ILLEGAL_ADDRESS) \
    VAL(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES) \
    VAL(CUDA_ERROR_LAUNCH_TIMEOUT) \
    VAL(CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED) \
    VAL(CUDA_ERROR_PEER_ACCESS_NOT_ENABLED) \
    VAL(CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE) \
    VAL(CUDA_ERROR_CONTEXT_IS_DESTROYED) \
    VAL(CUDA_ERROR_ASSERT) \
    VAL(CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED) \
    VAL(CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED) \
    VAL(CUDA_ERROR_LAUNCH_FAILED) \
    VAL(CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE) \
    VAL(CUDA_ERROR_NOT_PERMITTED) \
    VAL(CUDA_ERROR_NOT_SUPPORTED) \
    VAL(CUDA_ERROR_SYSTEM_NOT_READY) \
    VAL(CUDA_ERROR_SYSTEM_DRIVER_MISMATCH) \
    VAL(CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE) \
    VAL(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED) \
    VAL(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED) \
    VAL(CUDA_ERROR_TIMEOUT) \
    VAL(CUDA_ERROR_UNKNOWN) \
    VAL(CU_CTX_SCHED_AUTO) \
    VAL(CU_CTX_SCHED_SPIN) \
    VAL(CU_CTX_SCHED_YIELD) \
    VAL(CU_CTX_SCHED_BLOCKING_SYNC) \
    VAL(CU_CTX_SCHED_MASK) \
    VAL(CU_CTX_MAP_HOST) \
    VAL(CU_CTX_LMEM_RESIZE_TO_MAX) \
    VAL(CU_CTX_FLAGS_MASK) \
    VAL(CU_STREAM_DEFAULT) \
    VAL(CU_STREAM_NON_BLOCKING) \
    VAL(CU_STREAM_CAPTURE_MODE_GLOBAL) \
    VAL(CU_STREAM_CAPTURE_MODE_THREAD_LOCAL) \
    VAL(CU_STREAM_CAPTURE_MODE_RELAXED) \
    VAL(CU_EVENT_DEFAULT) \
    VAL(CU_EVENT_BLOCKING_SYNC) \
    VAL(CU_EVENT_DISABLE_TIMING) \
    VAL(CU_EVENT_INTERPROCESS) \
    VAL(CU_MEM_ATTACH_GLOBAL) \
    VAL(CU_MEM_ATTACH_HOST) \
    VAL(CU_MEM_ATTACH_SINGLE) \
    VAL(CU_MEMORYTYPE_HOST) \
    VAL(CU_MEMORYTYPE_DEVICE) \
    VAL(CU_MEMORYTYPE_ARRAY) \
    VAL(CU_MEMORYTYPE_UNIFIED) \
    VAL(CU_COMPUTEMODE_DEFAULT) \
    VAL(CU_COMPUTEMODE_PROHIBITED) \
    VAL(CU_COMPUTEMODE_EXCLUSIVE_PROCESS) \
    VAL(CU_MEM_ADVISE_SET_READ_MOSTLY) \
    VAL(CU_MEM_ADVISE_UNSET_READ_MOSTLY) \
    VAL(CU_MEM_ADVISE_SET_PREFERRED_LOCATION) \
    VAL(CU_MEM_ADVISE_UNSET_PREFERRED_LOCATION) \
    VAL(CU_MEM_ADVISE_SET_ACCESSED_BY) \
    VAL(CU_MEM_ADVISE_UNSET_ACCESSED_BY) \
    VAL(CU_LIMIT_STACK_SIZE) \
    VAL(CU_LIMIT_PRINTF_FIFO_SIZE) \
    VAL(CU_LIMIT_MALLOC_HEAP_SIZE) \
    VAL(CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH) \
    VAL(CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT) \
    VAL(CU_LIMIT_MAX_L2_FETCH_GRANULARITY) \
    VAL(CU_LIMIT_PERSISTING_L2_CACHE_SIZE) \
    VAL(CU_POINTER_ATTRIBUTE_CONTEXT) \
    VAL(CU_POINTER_ATTRIBUTE_MEMORY_TYPE) \
    VAL(CU_POINTER_ATTRIBUTE_DEVICE_POINTER) \
    VAL(CU_POINTER_ATTRIBUTE_HOST_POINTER) \
    VAL(CU_POINTER_ATTRIBUTE_SYNC_MEMOPS) \
    VAL(CU_POINTER_ATTRIBUTE_BUFFER_ID) \
    VAL(CU_POINTER_ATTRIBUTE_IS_MANAGED) \
    VAL(CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL) \
    VAL(CU_POINTER_ATTRIBUTE_RANGE_START_ADDR) \
    VAL(CU_POINTER_ATTRIBUTE_RANGE_SIZE) \
    VAL(CU_POINTER_ATTRIBUTE_MAPPED) \
    VAL(CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE) \
    VAL(CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK) \
    VAL(CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES) \
    VAL(CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES) \
    VAL(CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES) \
    VAL(CU_FUNC_ATTRIBUTE_NUM_REGS) \
    VAL(CU_FUNC_ATTRIBUTE_PTX_VERSION) \
    VAL(CU_FUNC_ATTRIBUTE_BINARY_VERSION) \
    VAL(CU_FUNC_ATTRIBUTE_CACHE_MODE_CA) \
    VAL(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) \
    VAL(CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT) \
    VAL(CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET) \
    VAL(CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH) \
    VAL(CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT) \
    VAL(CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH) \
    VAL(CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED) \
    VAL(CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE) \
    VAL(CU_JIT_MAX_REGISTERS) \
    VAL(CU_JIT_THREADS_PER_BLOCK) \
    VAL(CU_JIT_WALL_TIME) \
    VAL(CU_JIT_INFO_LOG_BUFFER) \
    VAL(CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES) \
    VAL(CU_JIT_ERROR_LOG_BUFFER) \
    VAL(CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES) \
    VAL(CU_JIT_OPTIMIZATION_LEVEL) \
    VAL(CU_JIT_TARGET_FROM_CUCONTEXT) \
    VAL(CU_JIT_TARGET) \
    VAL(CU_JIT_FALLBACK_STRATEGY) \
    VAL(CU_JIT_GENERATE_DEBUG_INFO) \
    VAL(CU_JIT_LOG_VERBOSE) \
    VAL(CU_JIT_GENERATE_LINE_INFO) \
    VAL(CU_JIT_CACHE_MODE) \
    VAL(CU_JIT_INPUT_CUBIN) \
    VAL(CU_JIT_INPUT_PTX) \
    VAL(CU_JIT_INPUT_FATBINARY) \
    VAL(CU_JIT_INPUT_OBJECT) \
    VAL(CU_JIT_INPUT_LIBRARY) \
    VAL(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK) \
    VAL(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X) \
    VAL(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y) \
    VAL(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z) \
    VAL(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X) \
    VAL(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y) \
    VAL(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z) \
    VAL(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK) \
    VAL(CU_DEVICE_ATTRIBUTE_SHARED_MEMORY_PER_BLOCK) \
    VAL(CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY) \
    VAL(CU_DEVICE_ATTRIBUTE_WARP_SIZE) \
    VAL(CU_DEVICE_ATTRIBUTE_MAX_PITCH) \
    VAL(CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK) \
    VAL(CU_DEVICE_ATTRIBUTE_REGISTERS_PER_BLOCK) \
    VAL(CU_DEVICE_ATTRIBUTE_CLOCK_RATE) \
    VAL(CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT) \
    VAL(CU_DEVICE_ATTRIBUTE_GPU_OVERLAP) \
    VAL(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT) \
    VAL(CU_DEVICE_ATTRIBUTE_KERNEL_EXEC_TIMEOUT) \
    VAL(CU_DEVICE_ATTRIBUTE_INTEGRATED) \
    VAL(CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY) \
    VAL(CU_DEVICE_ATTRIBUTE_COMPUTE_MODE) \
    VAL(CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_WIDTH) \
    VAL(CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_WIDTH) \
    VAL(CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_HEIGHT) \
    VAL(CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_WIDTH) \
    VAL(CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_HEIGHT) \
    VAL(CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_DEPTH) \
    VAL(CU_DEVICE_ATTRIBUTE_SURFACE_ALIGNMENT) \
    VAL(CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS) \
    VAL(CU_DEVICE_ATTRIBUTE_ECC_ENABLED) \
    VAL(CU_DEVICE_ATTRIBUTE_PCI_BUS_ID) \
    VAL(CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID) \
    VAL(CU_DEVICE_ATTRIBUTE_TCC_DRIVER) \
    VAL(CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE) \
    VAL(CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH) \
    VAL(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE) \
    VAL(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR) \
    VAL(CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT) \
    VAL(CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING) \
    VAL(CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID) \
    VAL(CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT) \
    VAL(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR) \
    VAL(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR) \
    VAL(CU_DEVICE_ATTRIBUTE_STREAM_PRIORITIES_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_GLOBAL_L1_CACHE_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_LOCAL_L1_CACHE_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR) \
    VAL(CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR) \
    VAL(CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY) \
    VAL(CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD) \
    VAL(CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD_GROUP_ID) \
    VAL(CU_DEVICE_ATTRIBUTE_HOST_NATIVE_ATOMIC_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO) \
    VAL(CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS) \
    VAL(CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS) \
    VAL(CU_DEVICE_ATTRIBUTE_COMPUTE_PREEMPTION_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM) \
    VAL(CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH) \
    VAL(CU_DEVICE_ATTRIBUTE_COOPERATIVE_MULTI_DEVICE_LAUNCH) \
    VAL(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN) \
    VAL(CU_DEVICE_ATTRIBUTE_CAN_FLUSH_REMOTE_WRITES) \
    VAL(CU_DEVICE_ATTRIBUTE_HOST_REGISTER_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS_USES_HOST_PAGE_TABLES) \
    VAL(CU_DEVICE_ATTRIBUTE_DIRECT_MANAGED_MEM_ACCESS_FROM_HOST) \
    VAL(CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_WIN32_HANDLE_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_WIN32_KMT_HANDLE_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR) \
    VAL(CU_DEVICE_ATTRIBUTE_GENERIC_COMPRESSION_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE) \
    VAL(CU_DEVICE_ATTRIBUTE_MAX_ACCESS_POLICY_WINDOW_SIZE) \
    VAL(CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_WITH_CUDA_VMM_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK) \
    VAL(CU_DEVICE_ATTRIBUTE_SPARSE_CUDA_ARRAY_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_READ_ONLY_HOST_REGISTER_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_TIMELINE_SEMAPHORE_INTEROP_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_FLUSH_WRITES_OPTIONS) \
    VAL(CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_WRITES_ORDERING) \
    VAL(CU_DEVICE_ATTRIBUTE_MEMPOOL_SUPPORTED_HANDLE_TYPES) \
    VAL(CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH) \
    VAL(CU_DEVICE_ATTRIBUTE_DEFERRED_MAPPING_CUDA_ARRAY_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_CAN_USE_64_BIT_STREAM_MEM_OPS) \
    VAL(CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_WAIT_VALUE_NOR) \
    VAL(CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_IPC_EVENT_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_MEM_SYNC_DOMAIN_COUNT) \
    VAL(CU_DEVICE_ATTRIBUTE_TENSOR_MAP_ACCESS_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_UNIFIED_FUNCTION_POINTERS) \
    VAL(CU_DEVICE_ATTRIBUTE_NUMA_CONFIG) \
    VAL(CU_DEVICE_ATTRIBUTE_NUMA_ID) \
    VAL(CU_DEVICE_ATTRIBUTE_MULTICAST_SUPPORTED) \
    VAL(CU_DEVICE_ATTRIBUTE_MPS_ENABLED) \
    VAL(CU_DEVICE_ATTRIBUTE_HOST_NUMA_ID) \
    VAL(CU_MEM_LOCATION_TYPE_INVALID) \
    VAL(CU_MEM_LOCATION_TYPE_DEVICE) \
    VAL(CU_MEM_LOCATION_TYPE_HOST) \
    VAL(CU_MEM_LOCATION_TYPE_HOST_NUMA) \
    VAL(CU_MEM_LOCATION_TYPE_HOST_NUMA_CURRENT) \
    VAL(CU_MEM_LOCATION_TYPE_MAX) \
    VAL(CU_MEM_ALLOCATION_TYPE_INVALID) \
    VAL(CU_MEM_ALLOCATION_TYPE_PINNED) \
    VAL(CU_MEM_ALLOCATION_TYPE_MAX) \
    VAL(CU_MEM_HANDLE_TYPE_NONE) \
    VAL(CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) \
    VAL(CU_MEM_HANDLE_TYPE_WIN32) \
    VAL(CU_MEM_HANDLE_TYPE_WIN32_KMT) \
    VAL(CU_MEM_HANDLE_TYPE_FABRIC) \
    VAL(CU_MEM_HANDLE_TYPE_MAX) \
    VAL(CU_MEM_ACCESS_FLAGS_PROT_NONE) \
    VAL(CU_MEM_ACCESS_FLAGS_PROT_READ) \
    VAL(CU_MEM_ACCESS_FLAGS_PROT_READWRITE) \
    VAL(CU_MEM_ACCESS_FLAGS_PROT_MAX) \
    VAL(CU_MEM_ALLOC_GRANULARITY_MINIMUM) \
    VAL(CU_MEM_ALLOC_GRANULARITY_RECOMMENDED) \
    VAL(CU_MEM_ALLOCATION_COMP_NONE) \
    VAL(CU_MEM_ALLOCATION_COMP_GENERIC) \
    VAL(CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES) \
    VAL(CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC) \
    VAL(CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES) \
    VAL(CU_MEMPOOL_ATTR_RELEASE_THRESHOLD) \
    VAL(CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT) \
    VAL(CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH) \
    VAL(CU_MEMPOOL_ATTR_USED_MEM_CURRENT) \
    VAL(CU_MEMPOOL_ATTR_USED_MEM_HIGH) \
    VAL(CU_AD_FORMAT_UNSIGNED_INT8) \
    VAL(CU_AD_FORMAT_UNSIGNED_INT16) \
    VAL(CU_AD_FORMAT_UNSIGNED_INT32) \
    VAL(CU_AD_FORMAT_SIGNED_INT8) \
    VAL(CU_AD_FORMAT_SIGNED_INT16) \
    VAL(CU_AD_FORMAT_SIGNED_INT32) \
    VAL(CU_AD_FORMAT_HALF) \
    VAL(CU_AD_FORMAT_FLOAT) \
    VAL(CU_AD_FORMAT_NV12) \
    VAL(CU_AD_FORMAT_MAX) \
    VAL(CU_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD) \
    VAL(CU_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_WIN32) \
    VAL(CU_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_WIN32_KMT) \
    VAL(CU_EXTERNAL_MEMORY_HANDLE_TYPE_D3D12_HEAP) \
    VAL(CU_EXTERNAL_MEMORY_HANDLE_TYPE_D3D12_RESOURCE) \
    VAL(CU_EXTERNAL_MEMORY_HANDLE_TYPE_D3D11_RESOURCE) \
    VAL(CU_EXTERNAL_MEMORY_HANDLE_TYPE_D3D11_RESOURCE_KMT) \
    VAL(CU_EXTERNAL_MEMORY_HANDLE_TYPE_NVSCIBUF) \
    VAL(CU_EXTERNAL_MEMORY_HANDLE_TYPE_DMABUF_FD) \
    VAL(CU_LAUNCH_ATTRIBUTE_IGNORE) \
    VAL(CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW) \
    VAL(CU_LAUNCH_ATTRIBUTE_COOPERATIVE) \
    VAL(CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY) \
    VAL(CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION) \
    VAL(CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE) \
    VAL(CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION) \
    VAL(CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT) \
    VAL(CU_LAUNCH_ATTRIBUTE_PRIORITY) \
    VAL(CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP) \
    VAL(CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN) \
    VAL(CU_GET_PROC_ADDRESS_DEFAULT) \
    VAL(CU_GET_PROC_ADDRESS_LEGACY_STREAM) \
    VAL(CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) \
    VAL(CU_GET_PROC_ADDRESS_SUCCESS) \
    VAL(CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND) \
    VAL(CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT) \
    VAL(CU_IPC_HANDLE_SIZE) \
    VAL(CU_STREAM_LEGACY) \
    VAL(CU_STREAM_PER_THREAD) \
    VAL(CU_DEVICE_CPU) \
    VAL(CU_DEVICE_INVALID) \
    VAL(CU_LAUNCH_PARAM_END) \
    VAL(CU_LAUNCH_PARAM_BUFFER_POINTER) \
    VAL(CU_LAUNCH_PARAM_BUFFER_SIZE) \
    VAL(CU_MEMHOSTALLOC_PORTABLE) \
    VAL(CU_MEMHOSTALLOC_DEVICEMAP) \
    VAL(CU_MEMHOSTALLOC_WRITECOMBINED) \
    VAL(CU_MEMHOSTREGISTER_PORTABLE) \
    VAL(CU_MEMHOSTREGISTER_DEVICEMAP) \
    VAL(CU_MEMHOSTREGISTER_IOMEMORY) \
    VAL(CU_MEMHOSTREGISTER_READ_ONLY) \
    VAL(CUDA_ARRAY3D_LAYERED) \
    VAL(CUDA_ARRAY3D_SURFACE_LDST) \
    VAL(CUDA_ARRAY3D_CUBEMAP) \
    VAL(CUDA_ARRAY3D_TEXTURE_GATHER) \
    VAL(CUDA_EXTERNAL_MEMORY_DEDICATED) \
    SIZE(CUctxCreateParams) \
    OFF(CUctxCreateParams, execAffinityParams) \
    OFF(CUctxCreateParams, numExecAffinityParams) \
    OFF(CUctxCreateParams, cigParams) \
    SIZE(CUDA_KERNEL_NODE_PARAMS_v1) \
    OFF(CUDA_KERNEL_NODE_PARAMS_v1, func) \
    OFF(CUDA_KERNEL_NODE_PARAMS_v1, gridDimX) \
    OFF(CUDA_KERNEL_NODE_PARAMS_v1, blockDimZ) \
    OFF(CUDA_KERNEL_NODE_PARAMS_v1, sharedMemBytes) \
    OFF(CUDA_KERNEL_NODE_PARAMS_v1, kernelParams) \
    OFF(CUDA_KERNEL_NODE_PARAMS_v1, extra) \
    SIZE(CUDA_KERNEL_NODE_PARAMS_v2) \
    OFF(CUDA_KERNEL_NODE_PARAMS_v2, func) \
    OFF(CUDA_KERNEL_NODE_PARAMS_v2, gridDimX) \
    OFF(CUDA_KERNEL_NODE_PARAMS_v2, blockDimZ) \
    OFF(CUDA_KERNEL_NODE_PARAMS_v2, sharedMemBytes) \
    OFF(CUDA_KERNEL_NODE_PARAMS_v2, kernelParams) \
    OFF(CUDA_KERNEL_NODE_PARAMS_v2, extra) \
    OFF(CUDA_KERNEL_NODE_PARAMS_v2, kern) \
    OFF(CUDA_KERNEL_NODE_PARAMS_v2, ctx) \
    SIZE(CUDA_KERNEL_NODE_PARAMS) \
    SIZE(CUDA_MEMSET_NODE_PARAMS) \
    OFF(CUDA_MEMSET_NODE_PARAMS, dst) \
    OFF(CUDA_MEMSET_NODE_PARAMS, pitch) \
    OFF(CUDA_MEMSET_NODE_PARAMS, value) \
    OFF(CUDA_MEMSET_NODE_PARAMS, elementSize) \
    OFF(CUDA_MEMSET_NODE_PARAMS, width) \
    OFF(CUDA_MEMSET_NODE_PARAMS, height) \
    SIZE(CUDA_HOST_NODE_PARAMS) \
    OFF(CUDA_HOST_NODE_PARAMS, userData) \
    SIZE(CUDA_MEM_ALLOC_NODE_PARAMS) \
    OFF(CUDA_MEM_ALLOC_NODE_PARAMS, poolProps) \
    OFF(CUDA_MEM_ALLOC_NODE_PARAMS, accessDescs) \
    OFF(CUDA_MEM_ALLOC_NODE_PARAMS, accessDescCount) \
    OFF(CUDA_MEM_ALLOC_NODE_PARAMS, bytesize) \
    OFF(CUDA_MEM_ALLOC_NODE_PARAMS, dptr) \
    SIZE(CUDA_GRAPH_INSTANTIATE_PARAMS) \
    OFF(CUDA_GRAPH_INSTANTIATE_PARAMS, flags) \
    OFF(CUDA_GRAPH_INSTANTIATE_PARAMS, hUploadStream) \
    OFF(CUDA_GRAPH_INSTANTIATE_PARAMS, hErrNode_out) \
    OFF(CUDA_GRAPH_INSTANTIATE_PARAMS, result_out) \
    SIZE(CUipcEventHandle) \
    SIZE(CUDA_EXTERNAL_SEMAPHORE_HANDLE_DESC) \
    OFF(CUDA_EXTERNAL_SEMAPHORE_HANDLE_DESC, handle) \
    OFF(CUDA_EXTERNAL_SEMAPHORE_HANDLE_DESC, handle.win32.name) \
    OFF(CUDA_EXTERNAL_SEMAPHORE_HANDLE_DESC, flags) \
    OFF(CUDA_EXTERNAL_SEMAPHORE_HANDLE_DESC, reserved) \
    VAL(CU_EXTERNAL_SEMAPHORE_HANDLE_TYPE_OPAQUE_FD) \
    VAL(CU_EXTERNAL_SEMAPHORE_HANDLE_TYPE_NVSCISYNC) \
    VAL(CU_EXTERNAL_SEMAPHORE_HANDLE_TYPE_TIMELINE_SEMAPHORE_FD) \
    VAL(CU_EXTERNAL_SEMAPHORE_HANDLE_TYPE_TIMELINE_SEMAPHORE_WIN32) \
    SIZE(CUgraphNodeType) \
    SIZE(CUstreamCaptureStatus) \
    SIZE(CUfunc_cache) \
    SIZE(CUsharedconfig) \
    VAL(CU_GRAPH_NODE_TYPE_KERNEL) \
    VAL(CU_GRAPH_NODE_TYPE_MEMCPY) \
    VAL(CU_GRAPH_NODE_TYPE_MEMSET) \
    VAL(CU_GRAPH_NODE_TYPE_HOST) \
    VAL(CU_GRAPH_NODE_TYPE_EMPTY) \
    VAL(CU_GRAPH_NODE_TYPE_MEM_ALLOC) \
    VAL(CU_GRAPH_NODE_TYPE_MEM_FREE) \
    VAL(CU_GRAPH_NODE_TYPE_CONDITIONAL) \
    VAL(CU_STREAM_CAPTURE_STATUS_NONE) \
    VAL(CU_STREAM_CAPTURE_STATUS_ACTIVE) \
    VAL(CU_STREAM_CAPTURE_STATUS_INVALIDATED) \
    VAL(CUDA_GRAPH_INSTANTIATE_SUCCESS) \
    VAL(CUDA_GRAPH_INSTANTIATE_ERROR) \
    VAL(CUDA_GRAPH_INSTANTIATE_INVALID_STRUCTURE) \
    VAL(CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH) \
    VAL(CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD) \
    VAL(CUDA_GRAPH_INSTANTIATE_FLAG_DEVICE_LAUNCH) \
    VAL(CUDA_GRAPH_INSTANTIATE_FLAG_USE_NODE_PRIORITY) \
    VAL(CU_FUNC_CACHE_PREFER_NONE) \
    VAL(CU_FUNC_CACHE_PREFER_EQUAL) \
    VAL(CU_SHARED_MEM_CONFIG_DEFAULT_BANK_SIZE) \
    VAL(CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE) \
    /* end */
/* clang-format on */

#endif
