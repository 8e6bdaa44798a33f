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
    SIZE(nvmlProcessUtilizationSample_t) \
    OFF(nvmlProcessUtilizationSample_t, pid) \
    OFF(nvmlProcessUtilizationSample_t, timeStamp) \
    OFF(nvmlProcessUtilizationSample_t, smUtil) \
    OFF(nvmlProcessUtilizationSample_t, memUtil) \
    OFF(nvmlProcessUtilizationSample_t, encUtil) \
    OFF(nvmlProcessUtilizationSample_t, decUtil) \
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
    SIG(nvmlReturn_t, nvmlDeviceGetGraphicsRunningProcesses_v2, (nvmlDevice_t dev, unsigned int *count, nvmlProcessInfo_t *infos)) \
    SIG(nvmlReturn_t, nvmlDeviceGetGraphicsRunningProcesses, (nvmlDevice_t dev, unsigned int *count, nvmlProcessInfo_v1_t *infos)) \
    SIG(nvmlReturn_t, nvmlDeviceGetMPSComputeRunningProcesses_v3, (nvmlDevice_t dev, unsigned int *count, nvmlProcessInfo_t *infos)) \
    SIG(nvmlReturn_t, nvmlDeviceGetMPSComputeRunningProcesses_v2, (nvmlDevice_t dev, unsigned int *count, nvmlProcessInfo_t *infos)) \
    SIG(nvmlReturn_t, nvmlDeviceGetMPSComputeRunningProcesses, (nvmlDevice_t dev, unsigned int *count, nvmlProcessInfo_v1_t *infos)) \
    SIG(nvmlReturn_t, nvmlDeviceGetProcessUtilization, (nvmlDevice_t dev, nvmlProcessUtilizationSample_t *utilization, unsigned int *processSamplesCount, unsigned long long lastSeenTimeStamp)) \
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
    SIZE(nvmlDeviceAttributes_t) \
    OFF(nvmlDeviceAttributes_t, multiprocessorCount) \
    OFF(nvmlDeviceAttributes_t, sharedCopyEngineCount) \
    OFF(nvmlDeviceAttributes_t, sharedDecoderCount) \
    OFF(nvmlDeviceAttributes_t, sharedEncoderCount) \
    OFF(nvmlDeviceAttributes_t, sharedJpegCount) \
    OFF(nvmlDeviceAttributes_t, sharedOfaCount) \
    OFF(nvmlDeviceAttributes_t, gpuInstanceSliceCount) \
    OFF(nvmlDeviceAttributes_t, computeInstanceSliceCount) \
    OFF(nvmlDeviceAttributes_t, memorySizeMB) \
    SIG(nvmlReturn_t, nvmlDeviceGetAttributes_v2, (nvmlDevice_t device, nvmlDeviceAttributes_t *attributes)) \
    SIG(nvmlReturn_t, nvmlDeviceGetAttributes, (nvmlDevice_t device, nvmlDeviceAttributes_t *attributes)) \
    SIG(nvmlReturn_t, nvmlDeviceGetGpuInstanceId, (nvmlDevice_t dev, unsigned int *id)) \
    SIG(nvmlReturn_t, nvmlDeviceGetComputeInstanceId, (nvmlDevice_t dev, unsigned int *id)) \
    SIG(nvmlReturn_t, nvmlDeviceGetMaxMigDeviceCount, (nvmlDevice_t dev, unsigned int *count)) \
    SIG(nvmlReturn_t, nvmlDeviceGetMigDeviceHandleByIndex, (nvmlDevice_t dev, unsigned int index, nvmlDevice_t *migDevice)) \
    SIG(nvmlReturn_t, nvmlDeviceGetDeviceHandleFromMigDeviceHandle, (nvmlDevice_t migDevice, nvmlDevice_t *device)) \
    /* the tools' surface (tests/abi/nvml_surface.txt) */ \
    SIZE(nvmlBAR1Memory_t) \
    OFF(nvmlBAR1Memory_t, bar1Total) \
    OFF(nvmlBAR1Memory_t, bar1Free) \
    OFF(nvmlBAR1Memory_t, bar1Used) \
    SIZE(nvmlFBCStats_t) \
    OFF(nvmlFBCStats_t, sessionsCount) \
    OFF(nvmlFBCStats_t, averageFPS) \
    OFF(nvmlFBCStats_t, averageLatency) \
    SIZE(nvmlViolationTime_t) \
    OFF(nvmlViolationTime_t, referenceTime) \
    OFF(nvmlViolationTime_t, violationTime) \
    SIZE(nvmlPciInfoExt_v1_t) \
    OFF(nvmlPciInfoExt_v1_t, version) \
    OFF(nvmlPciInfoExt_v1_t, domain) \
    OFF(nvmlPciInfoExt_v1_t, bus) \
    OFF(nvmlPciInfoExt_v1_t, device) \
    OFF(nvmlPciInfoExt_v1_t, pciDeviceId) \
    OFF(nvmlPciInfoExt_v1_t, pciSubSystemId) \
    OFF(nvmlPciInfoExt_v1_t, baseClass) \
    OFF(nvmlPciInfoExt_v1_t, subClass) \
    OFF(nvmlPciInfoExt_v1_t, busId) \
    SIZE(nvmlValue_t) \
    SIZE(nvmlFieldValue_t) \
    OFF(nvmlFieldValue_t, fieldId) \
    OFF(nvmlFieldValue_t, scopeId) \
    OFF(nvmlFieldValue_t, timestamp) \
    OFF(nvmlFieldValue_t, latencyUsec) \
    OFF(nvmlFieldValue_t, valueType) \
    OFF(nvmlFieldValue_t, nvmlReturn) \
    OFF(nvmlFieldValue_t, value) \
    SIZE(nvmlSample_t) \
    OFF(nvmlSample_t, timeStamp) \
    OFF(nvmlSample_t, sampleValue) \
    SIZE(nvmlEventData_t) \
    OFF(nvmlEventData_t, device) \
    OFF(nvmlEventData_t, eventType) \
    OFF(nvmlEventData_t, eventData) \
    OFF(nvmlEventData_t, gpuInstanceId) \
    OFF(nvmlEventData_t, computeInstanceId) \
    VAL(NVML_FEATURE_ENABLED) \
    VAL(NVML_BRAND_NVIDIA) \
    VAL(NVML_DEVICE_ARCH_AMPERE) \
    VAL(NVML_DEVICE_ARCH_HOPPER) \
    VAL(NVML_BUS_TYPE_PCIE) \
    VAL(NVML_PCIE_LINK_MAX_SPEED_16000MBPS) \
    VAL(NVML_PCIE_LINK_MAX_SPEED_32000MBPS) \
    VAL(NVML_COMPUTEMODE_DEFAULT) \
    VAL(NVML_COMPUTEMODE_EXCLUSIVE_PROCESS) \
    VAL(NVML_MEMORY_ERROR_TYPE_UNCORRECTED) \
    VAL(NVML_AGGREGATE_ECC) \
    VAL(NVML_MEMORY_LOCATION_DRAM) \
    VAL(NVML_MEMORY_LOCATION_SRAM) \
    VAL(NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR) \
    VAL(NVML_TEMPERATURE_THRESHOLD_GPU_MAX) \
    VAL(NVML_TEMPERATURE_THRESHOLD_GPS_CURR) \
    VAL(NVML_PSTATE_0) \
    VAL(NVML_PSTATE_15) \
    VAL(NVML_PSTATE_UNKNOWN) \
    VAL(NVML_CLOCK_ID_CURRENT) \
    VAL(NVML_CLOCK_ID_CUSTOMER_BOOST_MAX) \
    VAL(nvmlClocksEventReasonGpuIdle) \
    VAL(nvmlClocksEventReasonApplicationsClocksSetting) \
    VAL(nvmlClocksEventReasonSwPowerCap) \
    VAL(nvmlClocksEventReasonNone) \
    VAL(NVML_PCIE_UTIL_RX_BYTES) \
    VAL(NVML_INFOROM_DEN) \
    VAL(NVML_GOM_LOW_DP) \
    VAL(NVML_GPU_VIRTUALIZATION_MODE_VGPU) \
    VAL(NVML_NVLINK_CAP_VALID) \
    VAL(NVML_NVLINK_ERROR_DL_ECC_DATA) \
    VAL(NVML_TOPOLOGY_INTERNAL) \
    VAL(NVML_TOPOLOGY_SINGLE) \
    VAL(NVML_TOPOLOGY_MULTIPLE) \
    VAL(NVML_TOPOLOGY_HOSTBRIDGE) \
    VAL(NVML_TOPOLOGY_NODE) \
    VAL(NVML_TOPOLOGY_SYSTEM) \
    VAL(NVML_AFFINITY_SCOPE_NODE) \
    VAL(NVML_AFFINITY_SCOPE_SOCKET) \
    VAL(NVML_DEVICE_SERIAL_BUFFER_SIZE) \
    VAL(NVML_GSP_FIRMWARE_VERSION_BUF_SIZE) \
    VAL(nvmlPciInfoExt_v1) \
    VAL(NVML_VALUE_TYPE_UNSIGNED_INT) \
    VAL(NVML_VALUE_TYPE_UNSIGNED_LONG_LONG) \
    VAL(NVML_VALUE_TYPE_UNSIGNED_SHORT) \
    VAL(NVML_FI_DEV_ECC_CURRENT) \
    VAL(NVML_FI_DEV_ECC_PENDING) \
    VAL(NVML_FI_DEV_MEMORY_TEMP) \
    VAL(NVML_FI_DEV_NVLINK_LINK_COUNT) \
    VAL(NVML_FI_DEV_PCIE_REPLAY_COUNTER) \
    VAL(NVML_TOTAL_POWER_SAMPLES) \
    VAL(NVML_GPU_UTILIZATION_SAMPLES) \
    VAL(NVML_MEMORY_UTILIZATION_SAMPLES) \
    VAL(NVML_ENC_UTILIZATION_SAMPLES) \
    VAL(NVML_DEC_UTILIZATION_SAMPLES) \
    VAL(NVML_PROCESSOR_CLK_SAMPLES) \
    VAL(NVML_MEMORY_CLK_SAMPLES) \
    VAL(NVML_PERF_POLICY_POWER) \
    VAL(NVML_PERF_POLICY_THERMAL) \
    VAL(nvmlEventTypeSingleBitEccError) \
    VAL(nvmlEventTypeDoubleBitEccError) \
    VAL(nvmlEventTypePState) \
    VAL(nvmlEventTypeXidCriticalError) \
    VAL(nvmlEventTypeClock) \
    SIG(nvmlReturn_t, nvmlSystemGetProcessName, (unsigned int pid, char *name, unsigned int length)) \
    SIG(nvmlReturn_t, nvmlSystemGetHicVersion, (unsigned int *hwbcCount, nvmlHwbcEntry_t *hwbcEntries)) \
    SIG(nvmlReturn_t, nvmlUnitGetCount, (unsigned int *unitCount)) \
    SIG(nvmlReturn_t, nvmlDeviceGetSerial, (nvmlDevice_t device, char *serial, unsigned int length)) \
    SIG(nvmlReturn_t, nvmlDeviceGetBrand, (nvmlDevice_t device, nvmlBrandType_t *type)) \
    SIG(nvmlReturn_t, nvmlDeviceGetArchitecture, (nvmlDevice_t device, nvmlDeviceArchitecture_t *arch)) \
    SIG(nvmlReturn_t, nvmlDeviceGetBoardPartNumber, (nvmlDevice_t device, char *partNumber, unsigned int length)) \
    SIG(nvmlReturn_t, nvmlDeviceGetVbiosVersion, (nvmlDevice_t device, char *version, unsigned int length)) \
    SIG(nvmlReturn_t, nvmlDeviceGetInforomVersion, (nvmlDevice_t device, nvmlInforomObject_t object, char *version, unsigned int length)) \
    SIG(nvmlReturn_t, nvmlDeviceGetInforomImageVersion, (nvmlDevice_t device, char *version, unsigned int length)) \
    SIG(nvmlReturn_t, nvmlDeviceGetInforomConfigurationChecksum, (nvmlDevice_t device, unsigned int *checksum)) \
    SIG(nvmlReturn_t, nvmlDeviceGetBoardId, (nvmlDevice_t device, unsigned int *boardId)) \
    SIG(nvmlReturn_t, nvmlDeviceGetMultiGpuBoard, (nvmlDevice_t device, unsigned int *multiGpuBool)) \
    SIG(nvmlReturn_t, nvmlDeviceGetModuleId, (nvmlDevice_t device, unsigned int *moduleId)) \
    SIG(nvmlReturn_t, nvmlDeviceGetPciInfoExt, (nvmlDevice_t device, nvmlPciInfoExt_t *pci)) \
    SIG(nvmlReturn_t, nvmlDeviceGetPersistenceMode, (nvmlDevice_t device, nvmlEnableState_t *mode)) \
    SIG(nvmlReturn_t, nvmlDeviceGetComputeMode, (nvmlDevice_t device, nvmlComputeMode_t *mode)) \
    SIG(nvmlReturn_t, nvmlDeviceGetDisplayMode, (nvmlDevice_t device, nvmlEnableState_t *display)) \
    SIG(nvmlReturn_t, nvmlDeviceGetDisplayActive, (nvmlDevice_t device, nvmlEnableState_t *isActive)) \
    SIG(nvmlReturn_t, nvmlDeviceGetVirtualizationMode, (nvmlDevice_t device, nvmlGpuVirtualizationMode_t *pVirtualMode)) \
    SIG(nvmlReturn_t, nvmlDeviceGetGridLicensableFeatures_v4, (nvmlDevice_t device, nvmlGridLicensableFeatures_t *pGridLicensableFeatures)) \
    SIG(nvmlReturn_t, nvmlDeviceGetGpuOperationMode, (nvmlDevice_t device, nvmlGpuOperationMode_t *current, nvmlGpuOperationMode_t *pending)) \
    SIG(nvmlReturn_t, nvmlDeviceGetEccMode, (nvmlDevice_t device, nvmlEnableState_t *current, nvmlEnableState_t *pending)) \
    SIG(nvmlReturn_t, nvmlDeviceGetTotalEccErrors, (nvmlDevice_t device, nvmlMemoryErrorType_t errorType, nvmlEccCounterType_t counterType, unsigned long long *eccCounts)) \
    SIG(nvmlReturn_t, nvmlDeviceGetMemoryErrorCounter, (nvmlDevice_t device, nvmlMemoryErrorType_t errorType, nvmlEccCounterType_t counterType, nvmlMemoryLocation_t locationType, unsigned long long *count)) \
    SIG(nvmlReturn_t, nvmlDeviceGetRetiredPages, (nvmlDevice_t device, nvmlPageRetirementCause_t cause, unsigned int *pageCount, unsigned long long *addresses)) \
    SIG(nvmlReturn_t, nvmlDeviceGetRetiredPages_v2, (nvmlDevice_t device, nvmlPageRetirementCause_t cause, unsigned int *pageCount, unsigned long long *addresses, unsigned long long *timestamps)) \
    SIG(nvmlReturn_t, nvmlDeviceGetRetiredPagesPendingStatus, (nvmlDevice_t device, nvmlEnableState_t *isPending)) \
    SIG(nvmlReturn_t, nvmlDeviceGetRemappedRows, (nvmlDevice_t device, unsigned int *corrRows, unsigned int *uncRows, unsigned int *isPending, unsigned int *failureOccurred)) \
    SIG(nvmlReturn_t, nvmlDeviceGetTemperatureThreshold, (nvmlDevice_t device, nvmlTemperatureThresholds_t thresholdType, unsigned int *temp)) \
    SIG(nvmlReturn_t, nvmlDeviceGetFanSpeed_v2, (nvmlDevice_t device, unsigned int fan, unsigned int *speed)) \
    SIG(nvmlReturn_t, nvmlDeviceGetNumFans, (nvmlDevice_t device, unsigned int *numFans)) \
    SIG(nvmlReturn_t, nvmlDeviceGetPowerState, (nvmlDevice_t device, nvmlPstates_t *pState)) \
    SIG(nvmlReturn_t, nvmlDeviceGetPowerManagementLimitConstraints, (nvmlDevice_t device, unsigned int *minLimit, unsigned int *maxLimit)) \
    SIG(nvmlReturn_t, nvmlDeviceGetPowerManagementMode, (nvmlDevice_t device, nvmlEnableState_t *mode)) \
    SIG(nvmlReturn_t, nvmlDeviceGetClock, (nvmlDevice_t device, nvmlClockType_t clockType, nvmlClockId_t clockId, unsigned int *clockMHz)) \
    SIG(nvmlReturn_t, nvmlDeviceGetApplicationsClock, (nvmlDevice_t device, nvmlClockType_t clockType, unsigned int *clockMHz)) \
    SIG(nvmlReturn_t, nvmlDeviceGetDefaultApplicationsClock, (nvmlDevice_t device, nvmlClockType_t clockType, unsigned int *clockMHz)) \
    SIG(nvmlReturn_t, nvmlDeviceGetMaxCustomerBoostClock, (nvmlDevice_t device, nvmlClockType_t clockType, unsigned int *clockMHz)) \
    SIG(nvmlReturn_t, nvmlDeviceGetSupportedMemoryClocks, (nvmlDevice_t device, unsigned int *count, unsigned int *clocksMHz)) \
    SIG(nvmlReturn_t, nvmlDeviceGetAutoBoostedClocksEnabled, (nvmlDevice_t device, nvmlEnableState_t *isEnabled, nvmlEnableState_t *defaultIsEnabled)) \
    SIG(nvmlReturn_t, nvmlDeviceGetCurrentClocksThrottleReasons, (nvmlDevice_t device, unsigned long long *clocksThrottleReasons)) \
    SIG(nvmlReturn_t, nvmlDeviceGetCurrentClocksEventReasons, (nvmlDevice_t device, unsigned long long *clocksEventReasons)) \
    SIG(nvmlReturn_t, nvmlDeviceGetSupportedClocksThrottleReasons, (nvmlDevice_t device, unsigned long long *supportedClocksThrottleReasons)) \
    SIG(nvmlReturn_t, nvmlDeviceGetSupportedClocksEventReasons, (nvmlDevice_t device, unsigned long long *supportedClocksEventReasons)) \
    SIG(nvmlReturn_t, nvmlDeviceGetViolationStatus, (nvmlDevice_t device, nvmlPerfPolicyType_t perfPolicyType, nvmlViolationTime_t *violTime)) \
    SIG(nvmlReturn_t, nvmlDeviceGetEncoderUtilization, (nvmlDevice_t device, unsigned int *utilization, unsigned int *samplingPeriodUs)) \
    SIG(nvmlReturn_t, nvmlDeviceGetDecoderUtilization, (nvmlDevice_t device, unsigned int *utilization, unsigned int *samplingPeriodUs)) \
    SIG(nvmlReturn_t, nvmlDeviceGetJpgUtilization, (nvmlDevice_t device, unsigned int *utilization, unsigned int *samplingPeriodUs)) \
    SIG(nvmlReturn_t, nvmlDeviceGetOfaUtilization, (nvmlDevice_t device, unsigned int *utilization, unsigned int *samplingPeriodUs)) \
    SIG(nvmlReturn_t, nvmlDeviceGetEncoderStats, (nvmlDevice_t device, unsigned int *sessionCount, unsigned int *averageFps, unsigned int *averageLatency)) \
    SIG(nvmlReturn_t, nvmlDeviceGetEncoderSessions, (nvmlDevice_t device, unsigned int *sessionCount, nvmlEncoderSessionInfo_t *sessionInfos)) \
    SIG(nvmlReturn_t, nvmlDeviceGetFBCStats, (nvmlDevice_t device, nvmlFBCStats_t *fbcStats)) \
    SIG(nvmlReturn_t, nvmlDeviceGetFBCSessions, (nvmlDevice_t device, unsigned int *sessionCount, nvmlFBCSessionInfo_t *sessionInfo)) \
    SIG(nvmlReturn_t, nvmlDeviceGetSamples, (nvmlDevice_t device, nvmlSamplingType_t type, unsigned long long lastSeenTimeStamp, nvmlValueType_t *sampleValType, unsigned int *sampleCount, nvmlSample_t *samples)) \
    SIG(nvmlReturn_t, nvmlDeviceGetBAR1MemoryInfo, (nvmlDevice_t device, nvmlBAR1Memory_t *bar1Memory)) \
    SIG(nvmlReturn_t, nvmlDeviceGetMemoryBusWidth, (nvmlDevice_t device, unsigned int *busWidth)) \
    SIG(nvmlReturn_t, nvmlDeviceGetNumGpuCores, (nvmlDevice_t device, unsigned int *numCores)) \
    SIG(nvmlReturn_t, nvmlDeviceGetCurrPcieLinkGeneration, (nvmlDevice_t device, unsigned int *currLinkGen)) \
    SIG(nvmlReturn_t, nvmlDeviceGetMaxPcieLinkGeneration, (nvmlDevice_t device, unsigned int *maxLinkGen)) \
    SIG(nvmlReturn_t, nvmlDeviceGetGpuMaxPcieLinkGeneration, (nvmlDevice_t device, unsigned int *maxLinkGenDevice)) \
    SIG(nvmlReturn_t, nvmlDeviceGetCurrPcieLinkWidth, (nvmlDevice_t device, unsigned int *currLinkWidth)) \
    SIG(nvmlReturn_t, nvmlDeviceGetMaxPcieLinkWidth, (nvmlDevice_t device, unsigned int *maxLinkWidth)) \
    SIG(nvmlReturn_t, nvmlDeviceGetPcieLinkMaxSpeed, (nvmlDevice_t device, unsigned int *maxSpeed)) \
    SIG(nvmlReturn_t, nvmlDeviceGetPcieSpeed, (nvmlDevice_t device, unsigned int *pcieSpeed)) \
    SIG(nvmlReturn_t, nvmlDeviceGetPcieThroughput, (nvmlDevice_t device, nvmlPcieUtilCounter_t counter, unsigned int *value)) \
    SIG(nvmlReturn_t, nvmlDeviceGetPcieReplayCounter, (nvmlDevice_t device, unsigned int *value)) \
    SIG(nvmlReturn_t, nvmlDeviceGetBusType, (nvmlDevice_t device, nvmlBusType_t *type)) \
    SIG(nvmlReturn_t, nvmlDeviceGetNvLinkState, (nvmlDevice_t device, unsigned int link, nvmlEnableState_t *isActive)) \
    SIG(nvmlReturn_t, nvmlDeviceGetNvLinkVersion, (nvmlDevice_t device, unsigned int link, unsigned int *version)) \
    SIG(nvmlReturn_t, nvmlDeviceGetNvLinkCapability, (nvmlDevice_t device, unsigned int link, nvmlNvLinkCapability_t capability, unsigned int *capResult)) \
    SIG(nvmlReturn_t, nvmlDeviceGetNvLinkRemotePciInfo_v2, (nvmlDevice_t device, unsigned int link, nvmlPciInfo_t *pci)) \
    SIG(nvmlReturn_t, nvmlDeviceGetNvLinkErrorCounter, (nvmlDevice_t device, unsigned int link, nvmlNvLinkErrorCounter_t counter, unsigned long long *counterValue)) \
    SIG(nvmlReturn_t, nvmlDeviceGetFieldValues, (nvmlDevice_t device, int valuesCount, nvmlFieldValue_t *values)) \
    SIG(nvmlReturn_t, nvmlEventSetCreate, (nvmlEventSet_t *set)) \
    SIG(nvmlReturn_t, nvmlDeviceGetSupportedEventTypes, (nvmlDevice_t device, unsigned long long *eventTypes)) \
    SIG(nvmlReturn_t, nvmlDeviceRegisterEvents, (nvmlDevice_t device, unsigned long long eventTypes, nvmlEventSet_t set)) \
    SIG(nvmlReturn_t, nvmlEventSetWait_v2, (nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms)) \
    SIG(nvmlReturn_t, nvmlEventSetWait, (nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms)) \
    SIG(nvmlReturn_t, nvmlEventSetFree, (nvmlEventSet_t set)) \
    SIG(nvmlReturn_t, nvmlDeviceGetAccountingMode, (nvmlDevice_t device, nvmlEnableState_t *mode)) \
    SIG(nvmlReturn_t, nvmlDeviceGetAccountingPids, (nvmlDevice_t device, unsigned int *count, unsigned int *pids)) \
    SIG(nvmlReturn_t, nvmlDeviceGetAccountingStats, (nvmlDevice_t device, unsigned int pid, nvmlAccountingStats_t *stats)) \
    SIG(nvmlReturn_t, nvmlDeviceGetAccountingBufferSize, (nvmlDevice_t device, unsigned int *bufferSize)) \
    SIG(nvmlReturn_t, nvmlDeviceGetCpuAffinity, (nvmlDevice_t device, unsigned int cpuSetSize, unsigned long *cpuSet)) \
    SIG(nvmlReturn_t, nvmlDeviceGetCpuAffinityWithinScope, (nvmlDevice_t device, unsigned int cpuSetSize, unsigned long *cpuSet, nvmlAffinityScope_t scope)) \
    SIG(nvmlReturn_t, nvmlDeviceGetMemoryAffinity, (nvmlDevice_t device, unsigned int nodeSetSize, unsigned long *nodeSet, nvmlAffinityScope_t scope)) \
    SIG(nvmlReturn_t, nvmlDeviceGetNumaNodeId, (nvmlDevice_t device, unsigned int *node)) \
    SIG(nvmlReturn_t, nvmlDeviceGetTopologyCommonAncestor, (nvmlDevice_t device1, nvmlDevice_t device2, nvmlGpuTopologyLevel_t *pathInfo)) \
    SIG(nvmlReturn_t, nvmlDeviceOnSameBoard, (nvmlDevice_t device1, nvmlDevice_t device2, int *onSameBoard)) \
    SIG(nvmlReturn_t, nvmlDeviceGetGspFirmwareVersion, (nvmlDevice_t device, char *version)) \
    SIG(nvmlReturn_t, nvmlDeviceGetGspFirmwareMode, (nvmlDevice_t device, unsigned int *isEnabled, unsigned int *defaultMode)) \
    SIG(nvmlReturn_t, nvmlDeviceSetPersistenceMode, (nvmlDevice_t device, nvmlEnableState_t mode)) \
    SIG(nvmlReturn_t, nvmlDeviceSetComputeMode, (nvmlDevice_t device, nvmlComputeMode_t mode)) \
    SIG(nvmlReturn_t, nvmlDeviceSetPowerManagementLimit, (nvmlDevice_t device, unsigned int limit)) \
    SIG(nvmlReturn_t, nvmlDeviceSetPowerManagementLimit_v2, (nvmlDevice_t device, nvmlPowerValue_v2_t *powerValue)) \
    SIG(nvmlReturn_t, nvmlDeviceSetApplicationsClocks, (nvmlDevice_t device, unsigned int memClockMHz, unsigned int graphicsClockMHz)) \
    SIG(nvmlReturn_t, nvmlDeviceResetApplicationsClocks, (nvmlDevice_t device)) \
    SIG(nvmlReturn_t, nvmlDeviceSetGpuLockedClocks, (nvmlDevice_t device, unsigned int minGpuClockMHz, unsigned int maxGpuClockMHz)) \
    SIG(nvmlReturn_t, nvmlDeviceResetGpuLockedClocks, (nvmlDevice_t device)) \
    SIG(nvmlReturn_t, nvmlDeviceSetEccMode, (nvmlDevice_t device, nvmlEnableState_t ecc)) \
    SIG(nvmlReturn_t, nvmlDeviceClearEccErrorCounts, (nvmlDevice_t device, nvmlEccCounterType_t counterType)) \
    SIG(nvmlReturn_t, nvmlDeviceSetAccountingMode, (nvmlDevice_t device, nvmlEnableState_t mode)) \
    SIG(nvmlReturn_t, nvmlDeviceClearAccountingPids, (nvmlDevice_t device)) \
    /* end */
/* clang-format on */

#endif
