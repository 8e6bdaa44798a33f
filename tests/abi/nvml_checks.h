/*
 * What tests/abi/ compares between src/abi/nvml_abi.h and NVIDIA's nvml.h:
 * one list expanded against each header (abi_table.c). SIZE(type),
 * OFF(type, member), VAL(constant), SIG(return type, name, (parameters)).
 * SIG rows hold 1 when the header's prototype is compatible with the listed
 * one, so a row differs when either header disagrees with the list.
 *
 * Add a row here for every struct, member, constant or entry point added to
 * nvml_abi.h.
 */
#ifndef GPX_TEST_NVML_CHECKS_H
#define GPX_TEST_NVML_CHECKS_H

/* clang-format off */
#define GPX_NVML_ABI_CHECKS(SIZE, OFF, VAL, SIG) \
    SIZE(nvmlPciInfo_t) \
    OFF(nvmlPciInfo_t, busIdLegacy) \
    OFF(nvmlPciInfo_t, domain) \
    OFF(nvmlPciInfo_t, bus) \
    OFF(nvmlPciInfo_t, device) \
    OFF(nvmlPciInfo_t, pciDeviceId) \
    OFF(nvmlPciInfo_t, pciSubSystemId) \
    OFF(nvmlPciInfo_t, busId) \
    SIZE(nvmlMemory_t) \
    OFF(nvmlMemory_t, total) \
    OFF(nvmlMemory_t, free) \
    OFF(nvmlMemory_t, used) \
    SIZE(nvmlMemory_v2_t) \
    OFF(nvmlMemory_v2_t, version) \
    OFF(nvmlMemory_v2_t, total) \
    OFF(nvmlMemory_v2_t, reserved) \
    OFF(nvmlMemory_v2_t, free) \
    OFF(nvmlMemory_v2_t, used) \
    SIZE(nvmlUtilization_t) \
    OFF(nvmlUtilization_t, gpu) \
    OFF(nvmlUtilization_t, memory) \
    SIZE(nvmlProcessInfo_v1_t) \
    OFF(nvmlProcessInfo_v1_t, pid) \
    OFF(nvmlProcessInfo_v1_t, usedGpuMemory) \
    SIZE(nvmlProcessInfo_t) \
    OFF(nvmlProcessInfo_t, pid) \
    OFF(nvmlProcessInfo_t, usedGpuMemory) \
    OFF(nvmlProcessInfo_t, gpuInstanceId) \
    OFF(nvmlProcessInfo_t, computeInstanceId) \
    SIZE(nvmlGpuInstancePlacement_t) \
    OFF(nvmlGpuInstancePlacement_t, start) \
    OFF(nvmlGpuInstancePlacement_t, size) \
    SIZE(nvmlGpuInstanceProfileInfo_t) \
    OFF(nvmlGpuInstanceProfileInfo_t, id) \
    OFF(nvmlGpuInstanceProfileInfo_t, isP2pSupported) \
    OFF(nvmlGpuInstanceProfileInfo_t, sliceCount) \
    OFF(nvmlGpuInstanceProfileInfo_t, instanceCount) \
    OFF(nvmlGpuInstanceProfileInfo_t, multiprocessorCount) \
    OFF(nvmlGpuInstanceProfileInfo_t, copyEngineCount) \
    OFF(nvmlGpuInstanceProfileInfo_t, decoderCount) \
    OFF(nvmlGpuInstanceProfileInfo_t, encoderCount) \
    OFF(nvmlGpuInstanceProfileInfo_t, jpegCount) \
    OFF(nvmlGpuInstanceProfileInfo_t, ofaCount) \
    OFF(nvmlGpuInstanceProfileInfo_t, memorySizeMB) \
    SIZE(nvmlGpuInstanceProfileInfo_v2_t) \
    OFF(nvmlGpuInstanceProfileInfo_v2_t, version) \
    OFF(nvmlGpuInstanceProfileInfo_v2_t, id) \
    OFF(nvmlGpuInstanceProfileInfo_v2_t, isP2pSupported) \
    OFF(nvmlGpuInstanceProfileInfo_v2_t, sliceCount) \
    OFF(nvmlGpuInstanceProfileInfo_v2_t, instanceCount) \
    OFF(nvmlGpuInstanceProfileInfo_v2_t, multiprocessorCount) \
    OFF(nvmlGpuInstanceProfileInfo_v2_t, copyEngineCount) \
    OFF(nvmlGpuInstanceProfileInfo_v2_t, decoderCount) \
    OFF(nvmlGpuInstanceProfileInfo_v2_t, encoderCount) \
    OFF(nvmlGpuInstanceProfileInfo_v2_t, jpegCount) \
    OFF(nvmlGpuInstanceProfileInfo_v2_t, ofaCount) \
    OFF(nvmlGpuInstanceProfileInfo_v2_t, memorySizeMB) \
    OFF(nvmlGpuInstanceProfileInfo_v2_t, name) \
    SIZE(nvmlGpuInstanceInfo_t) \
    OFF(nvmlGpuInstanceInfo_t, device) \
    OFF(nvmlGpuInstanceInfo_t, id) \
    OFF(nvmlGpuInstanceInfo_t, profileId) \
    OFF(nvmlGpuInstanceInfo_t, placement) \
    SIZE(nvmlComputeInstancePlacement_t) \
    OFF(nvmlComputeInstancePlacement_t, start) \
    OFF(nvmlComputeInstancePlacement_t, size) \
    SIZE(nvmlComputeInstanceProfileInfo_t) \
    OFF(nvmlComputeInstanceProfileInfo_t, id) \
    OFF(nvmlComputeInstanceProfileInfo_t, sliceCount) \
    OFF(nvmlComputeInstanceProfileInfo_t, instanceCount) \
    OFF(nvmlComputeInstanceProfileInfo_t, multiprocessorCount) \
    OFF(nvmlComputeInstanceProfileInfo_t, sharedCopyEngineCount) \
    OFF(nvmlComputeInstanceProfileInfo_t, sharedDecoderCount) \
    OFF(nvmlComputeInstanceProfileInfo_t, sharedEncoderCount) \
    OFF(nvmlComputeInstanceProfileInfo_t, sharedJpegCount) \
    OFF(nvmlComputeInstanceProfileInfo_t, sharedOfaCount) \
    SIZE(nvmlComputeInstanceProfileInfo_v2_t) \
    OFF(nvmlComputeInstanceProfileInfo_v2_t, version) \
    OFF(nvmlComputeInstanceProfileInfo_v2_t, id) \
    OFF(nvmlComputeInstanceProfileInfo_v2_t, sliceCount) \
    OFF(nvmlComputeInstanceProfileInfo_v2_t, instanceCount) \
    OFF(nvmlComputeInstanceProfileInfo_v2_t, multiprocessorCount) \
    OFF(nvmlComputeInstanceProfileInfo_v2_t, sharedCopyEngineCount) \
    OFF(nvmlComputeInstanceProfileInfo_v2_t, sharedDecoderCount) \
    OFF(nvmlComputeInstanceProfileInfo_v2_t, sharedEncoderCount) \
    OFF(nvmlComputeInstanceProfileInfo_v2_t, sharedJpegCount) \
    OFF(nvmlComputeInstanceProfileInfo_v2_t, sharedOfaCount) \
    OFF(nvmlComputeInstanceProfileInfo_v2_t, name) \
    SIZE(nvmlComputeInstanceInfo_t) \
    OFF(nvmlComputeInstanceInfo_t, device) \
    OFF(nvmlComputeInstanceInfo_t, gpuInstance) \
    OFF(nvmlComputeInstanceInfo_t, id) \
    OFF(nvmlComputeInstanceInfo_t, profileId) \
    OFF(nvmlComputeInstanceInfo_t, placement) \
    SIZE(nvmlReturn_t) \
    SIZE(nvmlDevice_t) \
    VAL(NVML_SUCCESS) \
    VAL(NVML_ERROR_UNINITIALIZED) \
    VAL(NVML_ERROR_INVALID_ARGUMENT) \
    VAL(NVML_ERROR_NOT_SUPPORTED) \
    VAL(NVML_ERROR_NO_PERMISSION) \
    VAL(NVML_ERROR_ALREADY_INITIALIZED) \
    VAL(NVML_ERROR_NOT_FOUND) \
    VAL(NVML_ERROR_INSUFFICIENT_SIZE) \
    VAL(NVML_ERROR_INSUFFICIENT_POWER) \
    VAL(NVML_ERROR_DRIVER_NOT_LOADED) \
    VAL(NVML_ERROR_TIMEOUT) \
    VAL(NVML_ERROR_IRQ_ISSUE) \
    VAL(NVML_ERROR_LIBRARY_NOT_FOUND) \
    VAL(NVML_ERROR_FUNCTION_NOT_FOUND) \
    VAL(NVML_ERROR_CORRUPTED_INFOROM) \
    VAL(NVML_ERROR_GPU_IS_LOST) \
    VAL(NVML_ERROR_RESET_REQUIRED) \
    VAL(NVML_ERROR_OPERATING_SYSTEM) \
    VAL(NVML_ERROR_LIB_RM_VERSION_MISMATCH) \
    VAL(NVML_ERROR_IN_USE) \
    VAL(NVML_ERROR_MEMORY) \
    VAL(NVML_ERROR_NO_DATA) \
    VAL(NVML_ERROR_VGPU_ECC_NOT_SUPPORTED) \
    VAL(NVML_ERROR_INSUFFICIENT_RESOURCES) \
    VAL(NVML_ERROR_FREQ_NOT_SUPPORTED) \
    VAL(NVML_ERROR_ARGUMENT_VERSION_MISMATCH) \
    VAL(NVML_ERROR_DEPRECATED) \
    VAL(NVML_ERROR_NOT_READY) \
    VAL(NVML_ERROR_GPU_NOT_FOUND) \
    VAL(NVML_ERROR_INVALID_STATE) \
    VAL(NVML_ERROR_UNKNOWN) \
    VAL(NVML_CLOCK_GRAPHICS) \
    VAL(NVML_CLOCK_SM) \
    VAL(NVML_CLOCK_MEM) \
    VAL(NVML_CLOCK_VIDEO) \
    VAL(NVML_DEVICE_NAME_BUFFER_SIZE) \
    VAL(NVML_DEVICE_NAME_V2_BUFFER_SIZE) \
    VAL(NVML_DEVICE_UUID_BUFFER_SIZE) \
    VAL(NVML_DEVICE_UUID_V2_BUFFER_SIZE) \
    VAL(NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE) \
    VAL(NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE) \
    VAL(NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE) \
    VAL(NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE) \
    VAL(NVML_DEVICE_MIG_DISABLE) \
    VAL(NVML_DEVICE_MIG_ENABLE) \
    VAL(NVML_GPU_INSTANCE_PROFILE_1_SLICE) \
    VAL(NVML_GPU_INSTANCE_PROFILE_2_SLICE) \
    VAL(NVML_GPU_INSTANCE_PROFILE_3_SLICE) \
    VAL(NVML_GPU_INSTANCE_PROFILE_4_SLICE) \
    VAL(NVML_GPU_INSTANCE_PROFILE_7_SLICE) \
    VAL(NVML_GPU_INSTANCE_PROFILE_8_SLICE) \
    VAL(NVML_GPU_INSTANCE_PROFILE_6_SLICE) \
    VAL(NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1) \
    VAL(NVML_GPU_INSTANCE_PROFILE_2_SLICE_REV1) \
    VAL(NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2) \
    VAL(NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE) \
    VAL(NVML_COMPUTE_INSTANCE_PROFILE_2_SLICE) \
    VAL(NVML_COMPUTE_INSTANCE_PROFILE_3_SLICE) \
    VAL(NVML_COMPUTE_INSTANCE_PROFILE_4_SLICE) \
    VAL(NVML_COMPUTE_INSTANCE_PROFILE_7_SLICE) \
    VAL(NVML_COMPUTE_INSTANCE_PROFILE_8_SLICE) \
    VAL(NVML_COMPUTE_INSTANCE_PROFILE_6_SLICE) \
    VAL(NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE_REV1) \
    VAL(NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED) \
    VAL(nvmlMemory_v2) \
    VAL(nvmlGpuInstanceProfileInfo_v2) \
    VAL(nvmlComputeInstanceProfileInfo_v2) \
    SIG(nvmlReturn_t, nvmlInitWithFlags, (unsigned int flags)) \
    SIG(nvmlReturn_t, nvmlInit_v2, (void)) \
    SIG(nvmlReturn_t, nvmlInit, (void)) \
    SIG(nvmlReturn_t, nvmlShutdown, (void)) \
    SIG(const char *, nvmlErrorString, (nvmlReturn_t r)) \
    SIG(nvmlReturn_t, nvmlSystemGetDriverVersion, (char *version, unsigned int length)) \
    SIG(nvmlReturn_t, nvmlSystemGetNVMLVersion, (char *version, unsigned int length)) \
    SIG(nvmlReturn_t, nvmlSystemGetCudaDriverVersion, (int *v)) \
    SIG(nvmlReturn_t, nvmlSystemGetCudaDriverVersion_v2, (int *v)) \
    SIG(nvmlReturn_t, nvmlDeviceGetCount_v2, (unsigned int *count)) \
    SIG(nvmlReturn_t, nvmlDeviceGetCount, (unsigned int *count)) \
    SIG(nvmlReturn_t, nvmlDeviceGetHandleByIndex_v2, (unsigned int index, nvmlDevice_t *dev)) \
    SIG(nvmlReturn_t, nvmlDeviceGetHandleByIndex, (unsigned int index, nvmlDevice_t *dev)) \
    SIG(nvmlReturn_t, nvmlDeviceGetHandleByUUID, (const char *uuid, nvmlDevice_t *dev)) \
    SIG(nvmlReturn_t, nvmlDeviceGetHandleByPciBusId_v2, (const char *bus_id, nvmlDevice_t *dev)) \
    SIG(nvmlReturn_t, nvmlDeviceGetHandleByPciBusId, (const char *bus_id, nvmlDevice_t *dev)) \
    SIG(nvmlReturn_t, nvmlDeviceGetName, (nvmlDevice_t dev, char *name, unsigned int length)) \
    SIG(nvmlReturn_t, nvmlDeviceGetUUID, (nvmlDevice_t dev, char *uuid, unsigned int length)) \
    SIG(nvmlReturn_t, nvmlDeviceGetIndex, (nvmlDevice_t dev, unsigned int *index)) \
    SIG(nvmlReturn_t, nvmlDeviceGetMinorNumber, (nvmlDevice_t dev, unsigned int *minor)) \
    SIG(nvmlReturn_t, nvmlDeviceGetPciInfo_v3, (nvmlDevice_t dev, nvmlPciInfo_t *pci)) \
    SIG(nvmlReturn_t, nvmlDeviceGetPciInfo_v2, (nvmlDevice_t dev, nvmlPciInfo_t *pci)) \
    SIG(nvmlReturn_t, nvmlDeviceGetPciInfo, (nvmlDevice_t dev, nvmlPciInfo_t *pci)) \
    SIG(nvmlReturn_t, nvmlDeviceGetMemoryInfo, (nvmlDevice_t dev, nvmlMemory_t *mem)) \
    SIG(nvmlReturn_t, nvmlDeviceGetMemoryInfo_v2, (nvmlDevice_t dev, nvmlMemory_v2_t *mem)) \
    SIG(nvmlReturn_t, nvmlDeviceGetUtilizationRates, (nvmlDevice_t dev, nvmlUtilization_t *u)) \
    SIG(nvmlReturn_t, nvmlDeviceGetTemperature, (nvmlDevice_t dev, nvmlTemperatureSensors_t sensor, unsigned int *temp)) \
    SIG(nvmlReturn_t, nvmlDeviceGetPowerUsage, (nvmlDevice_t dev, unsigned int *mw)) \
    SIG(nvmlReturn_t, nvmlDeviceGetEnforcedPowerLimit, (nvmlDevice_t dev, unsigned int *mw)) \
    SIG(nvmlReturn_t, nvmlDeviceGetPowerManagementLimit, (nvmlDevice_t dev, unsigned int *mw)) \
    SIG(nvmlReturn_t, nvmlDeviceGetPowerManagementDefaultLimit, (nvmlDevice_t dev, unsigned int *mw)) \
    SIG(nvmlReturn_t, nvmlDeviceGetTotalEnergyConsumption, (nvmlDevice_t dev, unsigned long long *mj)) \
    SIG(nvmlReturn_t, nvmlDeviceGetClockInfo, (nvmlDevice_t dev, nvmlClockType_t type, unsigned int *mhz)) \
    SIG(nvmlReturn_t, nvmlDeviceGetMaxClockInfo, (nvmlDevice_t dev, nvmlClockType_t type, unsigned int *mhz)) \
    SIG(nvmlReturn_t, nvmlDeviceGetMigMode, (nvmlDevice_t dev, unsigned int *current, unsigned int *pending)) \
    SIG(nvmlReturn_t, nvmlDeviceGetCudaComputeCapability, (nvmlDevice_t dev, int *major, int *minor)) \
    SIG(nvmlReturn_t, nvmlDeviceGetFanSpeed, (nvmlDevice_t dev, unsigned int *speed)) \
    SIG(nvmlReturn_t, nvmlDeviceGetPerformanceState, (nvmlDevice_t dev, unsigned int *pstate)) \
    SIG(nvmlReturn_t, nvmlDeviceGetComputeRunningProcesses_v3, (nvmlDevice_t dev, unsigned int *count, nvmlProcessInfo_t *infos)) \
    SIG(nvmlReturn_t, nvmlDeviceGetComputeRunningProcesses_v2, (nvmlDevice_t dev, unsigned int *count, nvmlProcessInfo_t *infos)) \
    SIG(nvmlReturn_t, nvmlDeviceGetComputeRunningProcesses, (nvmlDevice_t dev, unsigned int *count, nvmlProcessInfo_v1_t *infos)) \
    SIG(nvmlReturn_t, nvmlDeviceGetGraphicsRunningProcesses_v3, (nvmlDevice_t dev, unsigned int *count, nvmlProcessInfo_t *infos)) \
    SIG(nvmlReturn_t, nvmlDeviceSetMigMode, (nvmlDevice_t dev, unsigned int mode, nvmlReturn_t *activationStatus)) \
    SIG(nvmlReturn_t, nvmlDeviceGetGpuInstanceProfileInfo, (nvmlDevice_t dev, unsigned int profile, nvmlGpuInstanceProfileInfo_t *info)) \
    SIG(nvmlReturn_t, nvmlDeviceGetGpuInstanceProfileInfoV, (nvmlDevice_t dev, unsigned int profile, nvmlGpuInstanceProfileInfo_v2_t *info)) \
    SIG(nvmlReturn_t, nvmlDeviceGetGpuInstancePossiblePlacements_v2, (nvmlDevice_t dev, unsigned int profileId, nvmlGpuInstancePlacement_t *placements, unsigned int *count)) \
    SIG(nvmlReturn_t, nvmlDeviceGetGpuInstanceRemainingCapacity, (nvmlDevice_t dev, unsigned int profileId, unsigned int *count)) \
    SIG(nvmlReturn_t, nvmlDeviceCreateGpuInstance, (nvmlDevice_t dev, unsigned int profileId, nvmlGpuInstance_t *gpuInstance)) \
    SIG(nvmlReturn_t, nvmlDeviceCreateGpuInstanceWithPlacement, (nvmlDevice_t dev, unsigned int profileId, const nvmlGpuInstancePlacement_t *placement, nvmlGpuInstance_t *gpuInstance)) \
    SIG(nvmlReturn_t, nvmlGpuInstanceDestroy, (nvmlGpuInstance_t gpuInstance)) \
    SIG(nvmlReturn_t, nvmlDeviceGetGpuInstances, (nvmlDevice_t dev, unsigned int profileId, nvmlGpuInstance_t *gpuInstances, unsigned int *count)) \
    SIG(nvmlReturn_t, nvmlDeviceGetGpuInstanceById, (nvmlDevice_t dev, unsigned int id, nvmlGpuInstance_t *gpuInstance)) \
    SIG(nvmlReturn_t, nvmlGpuInstanceGetInfo, (nvmlGpuInstance_t gpuInstance, nvmlGpuInstanceInfo_t *info)) \
    SIG(nvmlReturn_t, nvmlGpuInstanceGetComputeInstanceProfileInfo, (nvmlGpuInstance_t gpuInstance, unsigned int profile, unsigned int engProfile, nvmlComputeInstanceProfileInfo_t *info)) \
    SIG(nvmlReturn_t, nvmlGpuInstanceGetComputeInstanceProfileInfoV, (nvmlGpuInstance_t gpuInstance, unsigned int profile, unsigned int engProfile, nvmlComputeInstanceProfileInfo_v2_t *info)) \
    SIG(nvmlReturn_t, nvmlGpuInstanceGetComputeInstanceRemainingCapacity, (nvmlGpuInstance_t gpuInstance, unsigned int profileId, unsigned int *count)) \
    SIG(nvmlReturn_t, nvmlGpuInstanceGetComputeInstancePossiblePlacements, (nvmlGpuInstance_t gpuInstance, unsigned int profileId, nvmlComputeInstancePlacement_t *placements, unsigned int *count)) \
    SIG(nvmlReturn_t, nvmlGpuInstanceCreateComputeInstance, (nvmlGpuInstance_t gpuInstance, unsigned int profileId, nvmlComputeInstance_t *computeInstance)) \
    SIG(nvmlReturn_t, nvmlGpuInstanceCreateComputeInstanceWithPlacement, (nvmlGpuInstance_t gpuInstance, unsigned int profileId, const nvmlComputeInstancePlacement_t *placement, nvmlComputeInstance_t *computeInstance)) \
    SIG(nvmlReturn_t, nvmlComputeInstanceDestroy, (nvmlComputeInstance_t computeInstance)) \
    SIG(nvmlReturn_t, nvmlGpuInstanceGetComputeInstances, (nvmlGpuInstance_t gpuInstance, unsigned int profileId, nvmlComputeInstance_t *computeInstances, unsigned int *count)) \
    SIG(nvmlReturn_t, nvmlGpuInstanceGetComputeInstanceById, (nvmlGpuInstance_t gpuInstance, unsigned int id, nvmlComputeInstance_t *computeInstance)) \
    SIG(nvmlReturn_t, nvmlComputeInstanceGetInfo_v2, (nvmlComputeInstance_t computeInstance, nvmlComputeInstanceInfo_t *info)) \
    SIG(nvmlReturn_t, nvmlDeviceIsMigDeviceHandle, (nvmlDevice_t dev, unsigned int *isMigDevice)) \
    SIG(nvmlReturn_t, nvmlDeviceGetGpuInstanceId, (nvmlDevice_t dev, unsigned int *id)) \
    SIG(nvmlReturn_t, nvmlDeviceGetComputeInstanceId, (nvmlDevice_t dev, unsigned int *id)) \
    SIG(nvmlReturn_t, nvmlDeviceGetMaxMigDeviceCount, (nvmlDevice_t dev, unsigned int *count)) \
    SIG(nvmlReturn_t, nvmlDeviceGetMigDeviceHandleByIndex, (nvmlDevice_t dev, unsigned int index, nvmlDevice_t *migDevice)) \
    SIG(nvmlReturn_t, nvmlDeviceGetDeviceHandleFromMigDeviceHandle, (nvmlDevice_t migDevice, nvmlDevice_t *device)) \
    /* end */
/* clang-format on */

#endif
