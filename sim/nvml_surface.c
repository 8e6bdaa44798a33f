/*
 * The rest of the simulated libnvidia-ml.so.1's surface: the NVML calls
 * nvidia-smi, nvtop and dcgm-exporter make beyond what gpuplex itself uses
 * (the list, and what each returns here: tests/abi/nvml_surface.txt and the
 * table in docs/simulator.md). nvtop refuses a driver library that lacks any
 * of its required entry points, so each one exists; where the simulator
 * models the figure it answers like the real driver on an SXM board of the
 * node's model, and where it does not (NVLink, retired pages, accounting,
 * setters, vGPU) it returns NVML_ERROR_NOT_SUPPORTED, as a real driver does
 * for a feature the board lacks.
 *
 * These are whole-GPU facts: a MIG device handle gets NOT_SUPPORTED, except
 * for the process lists (the driver answers those per instance).
 */
#define _GNU_SOURCE
#include "abi/nvml_abi.h"
#include "mig_state.h"
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* Resolves `dev` to a whole GPU's record. */
static nvmlReturn_t device(nvmlDevice_t dev, struct gpx_sim_gpu **out)
{
    struct gpx_sim_state *st = gpx__nvml_state();
    if (!st)
        return NVML_ERROR_UNINITIALIZED;
    uintptr_t p = (uintptr_t)dev, base = (uintptr_t)st->gpus;
    if (dev && p >= base && (p - base) % sizeof(struct gpx_sim_gpu) == 0 &&
        (p - base) / sizeof(struct gpx_sim_gpu) < st->hdr->gpu_count) {
        *out = (struct gpx_sim_gpu *)dev;
        return NVML_SUCCESS;
    }
    uint32_t gpu;
    unsigned gi, ci;
    if (dev && gpx__nvml_mig_handle(dev, &gpu, &gi, &ci) == 0)
        return NVML_ERROR_NOT_SUPPORTED;
    return NVML_ERROR_INVALID_ARGUMENT;
}

#define DEVICE(g, dev)                                                                             \
    struct gpx_sim_gpu *g = NULL;                                                                  \
    do {                                                                                           \
        nvmlReturn_t r_ = device(dev, &g);                                                         \
        if (r_ != NVML_SUCCESS)                                                                    \
            return r_;                                                                             \
    } while (0)

/* A valid device, then NOT_SUPPORTED: a feature the simulator does not model. */
#define NOT_MODELLED(dev)                                                                          \
    do {                                                                                           \
        DEVICE(g_, dev);                                                                           \
        (void)g_;                                                                                  \
        return NVML_ERROR_NOT_SUPPORTED;                                                           \
    } while (0)

static int hopper(const struct gpx_sim_gpu *g)
{
    return g->cc_major >= 9;
}

static unsigned util_now(const struct gpx_sim_gpu *g)
{
    return gpx_sim_util_percent(g->util, gpx_sim_now_ns());
}

static unsigned long long realtime_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL;
}

#define OUT(p)                                                                                     \
    do {                                                                                           \
        if (!(p))                                                                                  \
            return NVML_ERROR_INVALID_ARGUMENT;                                                    \
    } while (0)

/* ------------------------------------------------------------------ system */

EXPORT nvmlReturn_t nvmlSystemGetProcessName(unsigned int pid, char *name, unsigned int length)
{
    if (!gpx__nvml_state())
        return NVML_ERROR_UNINITIALIZED;
    OUT(name);
    /* argv[0], as nvidia-smi's process list shows it; the command name for a kernel thread */
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%u/cmdline", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NVML_ERROR_NOT_FOUND;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    if (!buf[0]) {
        snprintf(path, sizeof path, "/proc/%u/comm", pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return NVML_ERROR_NOT_FOUND;
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        buf[n > 0 ? n : 0] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
    }
    return gpx__nvml_copy_str(name, length, buf);
}

EXPORT nvmlReturn_t nvmlSystemGetHicVersion(unsigned int *hwbcCount, nvmlHwbcEntry_t *hwbcEntries)
{
    (void)hwbcEntries;
    if (!gpx__nvml_state())
        return NVML_ERROR_UNINITIALIZED;
    OUT(hwbcCount);
    *hwbcCount = 0; /* no host interface cards on an SXM node */
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlUnitGetCount(unsigned int *unitCount)
{
    if (!gpx__nvml_state())
        return NVML_ERROR_UNINITIALIZED;
    OUT(unitCount);
    *unitCount = 0; /* S-class units only */
    return NVML_SUCCESS;
}

/* ------------------------------------------------------------- identity */

EXPORT nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t dev, char *serial, unsigned int length)
{
    DEVICE(g, dev);
    char s[NVML_DEVICE_SERIAL_BUFFER_SIZE];
    /* 13 digits like a real board's, fixed by model and index as the UUID is */
    snprintf(s, sizeof s, "1654922%02u%04u", g->model, g->index);
    return gpx__nvml_copy_str(serial, length, s);
}

EXPORT nvmlReturn_t nvmlDeviceGetBrand(nvmlDevice_t dev, nvmlBrandType_t *type)
{
    DEVICE(g, dev);
    (void)g;
    OUT(type);
    *type = NVML_BRAND_NVIDIA; /* what A100 and H100 data-center boards report */
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t dev, nvmlDeviceArchitecture_t *arch)
{
    DEVICE(g, dev);
    OUT(arch);
    *arch = hopper(g) ? NVML_DEVICE_ARCH_HOPPER : NVML_DEVICE_ARCH_AMPERE;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetBoardPartNumber(nvmlDevice_t dev, char *partNumber,
                                                 unsigned int length)
{
    (void)partNumber;
    (void)length;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceGetVbiosVersion(nvmlDevice_t dev, char *version, unsigned int length)
{
    (void)version;
    (void)length;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceGetInforomVersion(nvmlDevice_t dev, nvmlInforomObject_t object,
                                                char *version, unsigned int length)
{
    (void)object;
    (void)version;
    (void)length;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceGetInforomImageVersion(nvmlDevice_t dev, char *version,
                                                     unsigned int length)
{
    (void)version;
    (void)length;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceGetInforomConfigurationChecksum(nvmlDevice_t dev,
                                                              unsigned int *checksum)
{
    (void)checksum;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceGetBoardId(nvmlDevice_t dev, unsigned int *boardId)
{
    DEVICE(g, dev);
    OUT(boardId);
    *boardId = g->pci_bus << 8 | g->pci_device; /* nvidia-smi shows 0x1800 for bus 18 */
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMultiGpuBoard(nvmlDevice_t dev, unsigned int *multiGpuBool)
{
    DEVICE(g, dev);
    (void)g;
    OUT(multiGpuBool);
    *multiGpuBool = 0;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetModuleId(nvmlDevice_t dev, unsigned int *moduleId)
{
    DEVICE(g, dev);
    OUT(moduleId);
    *moduleId = g->index + 1; /* HGX baseboard slots count from 1 */
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetPciInfoExt(nvmlDevice_t dev, nvmlPciInfoExt_t *pci)
{
    DEVICE(g, dev);
    OUT(pci);
    if (pci->version != nvmlPciInfoExt_v1)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    pci->domain = g->pci_domain;
    pci->bus = g->pci_bus;
    pci->device = g->pci_device;
    pci->pciDeviceId = g->pci_device_id;
    pci->pciSubSystemId = g->pci_subsystem_id;
    pci->baseClass = 0x03; /* display controller: */
    pci->subClass = 0x02;  /* 3D controller */
    snprintf(pci->busId, sizeof pci->busId, "%s", g->pci_bus_id);
    return NVML_SUCCESS;
}

/* ---------------------------------------------------------------- modes */

static nvmlReturn_t state_of(nvmlDevice_t dev, nvmlEnableState_t *out, nvmlEnableState_t v)
{
    DEVICE(g, dev);
    (void)g;
    OUT(out);
    *out = v;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetPersistenceMode(nvmlDevice_t dev, nvmlEnableState_t *mode)
{
    return state_of(dev, mode, NVML_FEATURE_ENABLED); /* nvidia-persistenced runs */
}

EXPORT nvmlReturn_t nvmlDeviceGetComputeMode(nvmlDevice_t dev, nvmlComputeMode_t *mode)
{
    DEVICE(g, dev);
    (void)g;
    OUT(mode);
    *mode = NVML_COMPUTEMODE_DEFAULT;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetDisplayMode(nvmlDevice_t dev, nvmlEnableState_t *display)
{
    return state_of(dev, display, NVML_FEATURE_DISABLED);
}

EXPORT nvmlReturn_t nvmlDeviceGetDisplayActive(nvmlDevice_t dev, nvmlEnableState_t *isActive)
{
    return state_of(dev, isActive, NVML_FEATURE_DISABLED);
}

EXPORT nvmlReturn_t nvmlDeviceGetVirtualizationMode(nvmlDevice_t dev,
                                                    nvmlGpuVirtualizationMode_t *pVirtualMode)
{
    DEVICE(g, dev);
    (void)g;
    OUT(pVirtualMode);
    *pVirtualMode = NVML_GPU_VIRTUALIZATION_MODE_NONE; /* bare metal */
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetGridLicensableFeatures_v4(
    nvmlDevice_t dev, nvmlGridLicensableFeatures_t *pGridLicensableFeatures)
{
    (void)pGridLicensableFeatures;
    NOT_MODELLED(dev); /* no vGPU software */
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuOperationMode(nvmlDevice_t dev, nvmlGpuOperationMode_t *current,
                                                  nvmlGpuOperationMode_t *pending)
{
    (void)current;
    (void)pending;
    NOT_MODELLED(dev);
}

/* ------------------------------------------------------- ECC and memory */

EXPORT nvmlReturn_t nvmlDeviceGetEccMode(nvmlDevice_t dev, nvmlEnableState_t *current,
                                         nvmlEnableState_t *pending)
{
    DEVICE(g, dev);
    (void)g;
    OUT(current && pending);
    *current = *pending = NVML_FEATURE_ENABLED;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t dev, nvmlMemoryErrorType_t errorType,
                                                nvmlEccCounterType_t counterType,
                                                unsigned long long *eccCounts)
{
    DEVICE(g, dev);
    (void)g;
    OUT(eccCounts && (unsigned)errorType <= NVML_MEMORY_ERROR_TYPE_UNCORRECTED &&
        (unsigned)counterType <= NVML_AGGREGATE_ECC);
    *eccCounts = 0; /* simulated memory never flips a bit */
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryErrorCounter(nvmlDevice_t dev,
                                                    nvmlMemoryErrorType_t errorType,
                                                    nvmlEccCounterType_t counterType,
                                                    nvmlMemoryLocation_t locationType,
                                                    unsigned long long *count)
{
    DEVICE(g, dev);
    (void)g;
    OUT(count && (unsigned)errorType <= NVML_MEMORY_ERROR_TYPE_UNCORRECTED &&
        (unsigned)counterType <= NVML_AGGREGATE_ECC &&
        (unsigned)locationType <= NVML_MEMORY_LOCATION_SRAM);
    *count = 0;
    return NVML_SUCCESS;
}

/* A100 and H100 remap rows instead of retiring pages: the driver says NOT_SUPPORTED. */
EXPORT nvmlReturn_t nvmlDeviceGetRetiredPages(nvmlDevice_t dev, nvmlPageRetirementCause_t cause,
                                              unsigned int *pageCount,
                                              unsigned long long *addresses)
{
    (void)cause;
    (void)pageCount;
    (void)addresses;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceGetRetiredPages_v2(nvmlDevice_t dev, nvmlPageRetirementCause_t cause,
                                                 unsigned int *pageCount,
                                                 unsigned long long *addresses,
                                                 unsigned long long *timestamps)
{
    (void)cause;
    (void)pageCount;
    (void)addresses;
    (void)timestamps;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceGetRetiredPagesPendingStatus(nvmlDevice_t dev,
                                                           nvmlEnableState_t *isPending)
{
    (void)isPending;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t dev, unsigned int *corrRows,
                                              unsigned int *uncRows, unsigned int *isPending,
                                              unsigned int *failureOccurred)
{
    DEVICE(g, dev);
    (void)g;
    OUT(corrRows && uncRows && isPending && failureOccurred);
    *corrRows = *uncRows = *isPending = *failureOccurred = 0;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetBAR1MemoryInfo(nvmlDevice_t dev, nvmlBAR1Memory_t *bar1Memory)
{
    DEVICE(g, dev);
    OUT(bar1Memory);
    /* the BAR1 aperture is the power of two at or above the memory: 128 GiB for an H100 */
    unsigned long long total = 1ULL << 30;
    while (total < g->memory_total)
        total <<= 1;
    bar1Memory->bar1Total = total;
    bar1Memory->bar1Used = 0;
    bar1Memory->bar1Free = total;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryBusWidth(nvmlDevice_t dev, unsigned int *busWidth)
{
    DEVICE(g, dev);
    OUT(busWidth);
    *busWidth = g->model == GPX_SIM_H200_141GB ? 6144 : 5120; /* HBM stacks x 1024 bits */
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetNumGpuCores(nvmlDevice_t dev, unsigned int *numCores)
{
    DEVICE(g, dev);
    OUT(numCores);
    *numCores = g->sm_count * (hopper(g) ? 128U : 64U); /* FP32 lanes per SM */
    return NVML_SUCCESS;
}

/* ------------------------------------------------- thermal and power */

EXPORT nvmlReturn_t nvmlDeviceGetTemperatureThreshold(nvmlDevice_t dev,
                                                      nvmlTemperatureThresholds_t thresholdType,
                                                      unsigned int *temp)
{
    DEVICE(g, dev);
    (void)g;
    OUT(temp);
    /* an SXM board's limits; acoustic and GPS limits belong to boards with fans */
    switch (thresholdType) {
    case NVML_TEMPERATURE_THRESHOLD_SHUTDOWN:
        *temp = 92;
        return NVML_SUCCESS;
    case NVML_TEMPERATURE_THRESHOLD_SLOWDOWN:
        *temp = 89;
        return NVML_SUCCESS;
    case NVML_TEMPERATURE_THRESHOLD_MEM_MAX:
        *temp = 95;
        return NVML_SUCCESS;
    case NVML_TEMPERATURE_THRESHOLD_GPU_MAX:
        *temp = 87;
        return NVML_SUCCESS;
    case NVML_TEMPERATURE_THRESHOLD_ACOUSTIC_MIN:
    case NVML_TEMPERATURE_THRESHOLD_ACOUSTIC_CURR:
    case NVML_TEMPERATURE_THRESHOLD_ACOUSTIC_MAX:
    case NVML_TEMPERATURE_THRESHOLD_GPS_CURR:
        return NVML_ERROR_NOT_SUPPORTED;
    }
    return NVML_ERROR_INVALID_ARGUMENT;
}

EXPORT nvmlReturn_t nvmlDeviceGetFanSpeed_v2(nvmlDevice_t dev, unsigned int fan,
                                             unsigned int *speed)
{
    (void)fan;
    (void)speed;
    NOT_MODELLED(dev); /* SXM boards have no fan of their own */
}

EXPORT nvmlReturn_t nvmlDeviceGetNumFans(nvmlDevice_t dev, unsigned int *numFans)
{
    DEVICE(g, dev);
    (void)g;
    OUT(numFans);
    *numFans = 0;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetPowerState(nvmlDevice_t dev, nvmlPstates_t *pState)
{
    DEVICE(g, dev);
    (void)g;
    OUT(pState);
    *pState = NVML_PSTATE_0; /* as nvmlDeviceGetPerformanceState */
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementLimitConstraints(nvmlDevice_t dev,
                                                                 unsigned int *minLimit,
                                                                 unsigned int *maxLimit)
{
    DEVICE(g, dev);
    OUT(minLimit && maxLimit);
    /* H100/H200 SXM: 200..700 W; A100 SXM4: 100..400 W */
    *minLimit = g->power_limit_mw >= 700000U ? 200000U : 100000U;
    *maxLimit = g->power_limit_mw;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementMode(nvmlDevice_t dev, nvmlEnableState_t *mode)
{
    return state_of(dev, mode, NVML_FEATURE_ENABLED);
}

/* -------------------------------------------------------------- clocks */

EXPORT nvmlReturn_t nvmlDeviceGetClock(nvmlDevice_t dev, nvmlClockType_t clockType,
                                       nvmlClockId_t clockId, unsigned int *clockMHz)
{
    DEVICE(g, dev);
    OUT(clockMHz && (unsigned)clockType <= NVML_CLOCK_VIDEO &&
        (unsigned)clockId <= NVML_CLOCK_ID_CUSTOMER_BOOST_MAX);
    /* application clocks are the maximum (never set lower here) */
    *clockMHz = gpx__nvml_clock_mhz(g, clockType, clockId != NVML_CLOCK_ID_CURRENT);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetApplicationsClock(nvmlDevice_t dev, nvmlClockType_t clockType,
                                                   unsigned int *clockMHz)
{
    return nvmlDeviceGetClock(dev, clockType, NVML_CLOCK_ID_APP_CLOCK_TARGET, clockMHz);
}

EXPORT nvmlReturn_t nvmlDeviceGetDefaultApplicationsClock(nvmlDevice_t dev,
                                                          nvmlClockType_t clockType,
                                                          unsigned int *clockMHz)
{
    return nvmlDeviceGetClock(dev, clockType, NVML_CLOCK_ID_APP_CLOCK_DEFAULT, clockMHz);
}

EXPORT nvmlReturn_t nvmlDeviceGetMaxCustomerBoostClock(nvmlDevice_t dev, nvmlClockType_t clockType,
                                                       unsigned int *clockMHz)
{
    return nvmlDeviceGetClock(dev, clockType, NVML_CLOCK_ID_CUSTOMER_BOOST_MAX, clockMHz);
}

EXPORT nvmlReturn_t nvmlDeviceGetSupportedMemoryClocks(nvmlDevice_t dev, unsigned int *count,
                                                       unsigned int *clocksMHz)
{
    DEVICE(g, dev);
    OUT(count);
    unsigned room = *count;
    *count = 1; /* HBM runs at one clock */
    if (room < 1 || !clocksMHz)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    clocksMHz[0] = g->mem_clock_mhz;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetAutoBoostedClocksEnabled(nvmlDevice_t dev,
                                                          nvmlEnableState_t *isEnabled,
                                                          nvmlEnableState_t *defaultIsEnabled)
{
    (void)isEnabled;
    (void)defaultIsEnabled;
    NOT_MODELLED(dev); /* not on A100/H100 */
}

/* Every reason an A100/H100 reports (nvmlClocksEventReasonAll). */
#define SUPPORTED_REASONS 0x1FFULL

EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t dev,
                                                           unsigned long long *clocksEventReasons)
{
    DEVICE(g, dev);
    OUT(clocksEventReasons);
    /* an idle GPU drops its clocks: the one reason the simulator has */
    *clocksEventReasons = util_now(g) == 0 ? (unsigned long long)nvmlClocksEventReasonGpuIdle
                                           : (unsigned long long)nvmlClocksEventReasonNone;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(
    nvmlDevice_t dev, unsigned long long *clocksThrottleReasons)
{
    return nvmlDeviceGetCurrentClocksEventReasons(dev, clocksThrottleReasons);
}

EXPORT nvmlReturn_t nvmlDeviceGetSupportedClocksEventReasons(
    nvmlDevice_t dev, unsigned long long *supportedClocksEventReasons)
{
    DEVICE(g, dev);
    (void)g;
    OUT(supportedClocksEventReasons);
    *supportedClocksEventReasons = SUPPORTED_REASONS;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetSupportedClocksThrottleReasons(
    nvmlDevice_t dev, unsigned long long *supportedClocksThrottleReasons)
{
    return nvmlDeviceGetSupportedClocksEventReasons(dev, supportedClocksThrottleReasons);
}

EXPORT nvmlReturn_t nvmlDeviceGetViolationStatus(nvmlDevice_t dev,
                                                 nvmlPerfPolicyType_t perfPolicyType,
                                                 nvmlViolationTime_t *violTime)
{
    DEVICE(g, dev);
    (void)g;
    OUT(violTime && (unsigned)perfPolicyType <= 11); /* NVML_PERF_POLICY_TOTAL_BASE_CLOCKS */
    violTime->referenceTime = realtime_us();
    violTime->violationTime = 0; /* the simulated board never throttles */
    return NVML_SUCCESS;
}

/* ------------------------------------------------------- media engines */

/* The simulator runs compute kernels only: the media engines are idle. In MIG mode
 * the driver gives no engine utilization (nvidia-smi dmon's help: "On MIG-enabled GPUs,
 * querying the utilization of encoder, decoder, jpeg, ofa, gpu, and memory is not
 * currently supported"). */
static nvmlReturn_t idle_engine(nvmlDevice_t dev, unsigned int *utilization,
                                unsigned int *samplingPeriodUs)
{
    DEVICE(g, dev);
    OUT(utilization && samplingPeriodUs);
    if (g->mig_current == NVML_DEVICE_MIG_ENABLE)
        return NVML_ERROR_NOT_SUPPORTED;
    *utilization = 0;
    *samplingPeriodUs = 1000000; /* the window of nvmlDeviceGetUtilizationRates */
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t dev, unsigned int *utilization,
                                                    unsigned int *samplingPeriodUs)
{
    return idle_engine(dev, utilization, samplingPeriodUs);
}

EXPORT nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t dev, unsigned int *utilization,
                                                    unsigned int *samplingPeriodUs)
{
    return idle_engine(dev, utilization, samplingPeriodUs);
}

EXPORT nvmlReturn_t nvmlDeviceGetJpgUtilization(nvmlDevice_t dev, unsigned int *utilization,
                                                unsigned int *samplingPeriodUs)
{
    return idle_engine(dev, utilization, samplingPeriodUs);
}

EXPORT nvmlReturn_t nvmlDeviceGetOfaUtilization(nvmlDevice_t dev, unsigned int *utilization,
                                                unsigned int *samplingPeriodUs)
{
    return idle_engine(dev, utilization, samplingPeriodUs);
}

EXPORT nvmlReturn_t nvmlDeviceGetEncoderStats(nvmlDevice_t dev, unsigned int *sessionCount,
                                              unsigned int *averageFps,
                                              unsigned int *averageLatency)
{
    DEVICE(g, dev);
    (void)g;
    OUT(sessionCount && averageFps && averageLatency);
    *sessionCount = *averageFps = *averageLatency = 0;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetEncoderSessions(nvmlDevice_t dev, unsigned int *sessionCount,
                                                 nvmlEncoderSessionInfo_t *sessionInfos)
{
    DEVICE(g, dev);
    (void)g;
    (void)sessionInfos;
    OUT(sessionCount);
    *sessionCount = 0;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetFBCStats(nvmlDevice_t dev, nvmlFBCStats_t *fbcStats)
{
    DEVICE(g, dev);
    (void)g;
    OUT(fbcStats);
    memset(fbcStats, 0, sizeof *fbcStats);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetFBCSessions(nvmlDevice_t dev, unsigned int *sessionCount,
                                             nvmlFBCSessionInfo_t *sessionInfo)
{
    DEVICE(g, dev);
    (void)g;
    (void)sessionInfo;
    OUT(sessionCount);
    *sessionCount = 0;
    return NVML_SUCCESS;
}

/* ------------------------------------------------------------- samples */

/*
 * The last second of the engine's 50 ms buckets as samples (what the driver
 * keeps for nvmlDeviceGetSamples): utilization, the power and SM clock that
 * follow it, and the memory clock. Timestamps are CPU time in microseconds.
 */
EXPORT nvmlReturn_t nvmlDeviceGetSamples(nvmlDevice_t dev, nvmlSamplingType_t type,
                                         unsigned long long lastSeenTimeStamp,
                                         nvmlValueType_t *sampleValType, unsigned int *sampleCount,
                                         nvmlSample_t *samples)
{
    DEVICE(g, dev);
    OUT(sampleValType && sampleCount);
    switch (type) {
    case NVML_GPU_UTILIZATION_SAMPLES:
    case NVML_MEMORY_UTILIZATION_SAMPLES:
        if (g->mig_current == NVML_DEVICE_MIG_ENABLE)
            return NVML_ERROR_NOT_SUPPORTED; /* as nvmlDeviceGetUtilizationRates */
        break;
    case NVML_TOTAL_POWER_SAMPLES:
    case NVML_PROCESSOR_CLK_SAMPLES:
    case NVML_MEMORY_CLK_SAMPLES:
        break;
    case NVML_ENC_UTILIZATION_SAMPLES:
    case NVML_DEC_UTILIZATION_SAMPLES:
        return NVML_ERROR_NOT_SUPPORTED;
    default:
        return NVML_ERROR_INVALID_ARGUMENT;
    }
    *sampleValType = NVML_VALUE_TYPE_UNSIGNED_INT;
    if (!samples) {
        *sampleCount = GPX_SIM_UTIL_WINDOW_BUCKETS;
        return NVML_SUCCESS;
    }
    uint64_t mono = gpx_sim_now_ns();
    unsigned long long real = realtime_us();
    uint64_t cur = mono / GPX_SIM_UTIL_BUCKET_NS;
    const struct gpx_sim_util_bucket *b =
        type == NVML_MEMORY_UTILIZATION_SAMPLES ? g->mem_util : g->util;
    unsigned n = 0;
    /* complete buckets only, oldest first */
    for (uint64_t e = cur - GPX_SIM_UTIL_WINDOW_BUCKETS; e < cur && n < *sampleCount; e++) {
        uint64_t end_ns = (e + 1) * GPX_SIM_UTIL_BUCKET_NS;
        unsigned long long ts = real - (mono - end_ns) / 1000ULL;
        if (ts <= lastSeenTimeStamp)
            continue;
        const struct gpx_sim_util_bucket *k = &b[e % GPX_SIM_UTIL_BUCKETS];
        uint64_t busy = atomic_load(&k->epoch) == e ? atomic_load(&k->busy_ns) : 0;
        unsigned pct = (unsigned)(busy * 100 / GPX_SIM_UTIL_BUCKET_NS);
        pct = pct > 100 ? 100 : pct;
        unsigned v = pct;
        if (type == NVML_TOTAL_POWER_SAMPLES)
            v = gpx__nvml_power_mw(g, pct);
        else if (type == NVML_PROCESSOR_CLK_SAMPLES)
            v = pct ? g->sm_clock_max_mhz : g->sm_clock_idle_mhz;
        else if (type == NVML_MEMORY_CLK_SAMPLES)
            v = g->mem_clock_mhz;
        samples[n].timeStamp = ts;
        memset(&samples[n].sampleValue, 0, sizeof samples[n].sampleValue);
        samples[n].sampleValue.uiVal = v;
        n++;
    }
    *sampleCount = n;
    return n ? NVML_SUCCESS : NVML_ERROR_NOT_FOUND; /* nothing newer than lastSeenTimeStamp */
}

/* ---------------------------------------------------------------- PCIe */

static unsigned pcie_gen(const struct gpx_sim_gpu *g)
{
    return hopper(g) ? 5 : 4;
}

static nvmlReturn_t uint_of(nvmlDevice_t dev, unsigned int *out,
                            unsigned (*f)(const struct gpx_sim_gpu *))
{
    DEVICE(g, dev);
    OUT(out);
    *out = f(g);
    return NVML_SUCCESS;
}

static unsigned x16(const struct gpx_sim_gpu *g)
{
    (void)g;
    return 16;
}

static unsigned zero(const struct gpx_sim_gpu *g)
{
    (void)g;
    return 0;
}

static unsigned max_speed(const struct gpx_sim_gpu *g)
{
    return pcie_gen(g) == 5 ? NVML_PCIE_LINK_MAX_SPEED_32000MBPS
                            : NVML_PCIE_LINK_MAX_SPEED_16000MBPS;
}

static unsigned speed_mbps(const struct gpx_sim_gpu *g)
{
    return pcie_gen(g) == 5 ? 32000 : 16000;
}

static unsigned pcie_bus(const struct gpx_sim_gpu *g)
{
    (void)g;
    return NVML_BUS_TYPE_PCIE;
}

EXPORT nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t dev, unsigned int *currLinkGen)
{
    return uint_of(dev, currLinkGen, pcie_gen);
}

EXPORT nvmlReturn_t nvmlDeviceGetMaxPcieLinkGeneration(nvmlDevice_t dev, unsigned int *maxLinkGen)
{
    return uint_of(dev, maxLinkGen, pcie_gen);
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuMaxPcieLinkGeneration(nvmlDevice_t dev,
                                                          unsigned int *maxLinkGenDevice)
{
    return uint_of(dev, maxLinkGenDevice, pcie_gen);
}

EXPORT nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t dev, unsigned int *currLinkWidth)
{
    return uint_of(dev, currLinkWidth, x16);
}

EXPORT nvmlReturn_t nvmlDeviceGetMaxPcieLinkWidth(nvmlDevice_t dev, unsigned int *maxLinkWidth)
{
    return uint_of(dev, maxLinkWidth, x16);
}

EXPORT nvmlReturn_t nvmlDeviceGetPcieLinkMaxSpeed(nvmlDevice_t dev, unsigned int *maxSpeed)
{
    return uint_of(dev, maxSpeed, max_speed);
}

EXPORT nvmlReturn_t nvmlDeviceGetPcieSpeed(nvmlDevice_t dev, unsigned int *pcieSpeed)
{
    return uint_of(dev, pcieSpeed, speed_mbps);
}

EXPORT nvmlReturn_t nvmlDeviceGetPcieReplayCounter(nvmlDevice_t dev, unsigned int *value)
{
    return uint_of(dev, value, zero);
}

EXPORT nvmlReturn_t nvmlDeviceGetBusType(nvmlDevice_t dev, nvmlBusType_t *type)
{
    return uint_of(dev, type, pcie_bus);
}

EXPORT nvmlReturn_t nvmlDeviceGetPcieThroughput(nvmlDevice_t dev, nvmlPcieUtilCounter_t counter,
                                                unsigned int *value)
{
    DEVICE(g, dev);
    (void)g;
    OUT(value && (unsigned)counter <= NVML_PCIE_UTIL_RX_BYTES);
    *value = 0; /* KB/s: simulated copies do not cross a bus */
    return NVML_SUCCESS;
}

/* -------------------------------------------------------------- NVLink */

/* The simulator models no NVLink: every link query is NOT_SUPPORTED. */
EXPORT nvmlReturn_t nvmlDeviceGetNvLinkState(nvmlDevice_t dev, unsigned int link,
                                             nvmlEnableState_t *isActive)
{
    (void)link;
    (void)isActive;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceGetNvLinkVersion(nvmlDevice_t dev, unsigned int link,
                                               unsigned int *version)
{
    (void)link;
    (void)version;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceGetNvLinkCapability(nvmlDevice_t dev, unsigned int link,
                                                  nvmlNvLinkCapability_t capability,
                                                  unsigned int *capResult)
{
    (void)link;
    (void)capability;
    (void)capResult;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo_v2(nvmlDevice_t dev, unsigned int link,
                                                        nvmlPciInfo_t *pci)
{
    (void)link;
    (void)pci;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceGetNvLinkErrorCounter(nvmlDevice_t dev, unsigned int link,
                                                    nvmlNvLinkErrorCounter_t counter,
                                                    unsigned long long *counterValue)
{
    (void)link;
    (void)counter;
    (void)counterValue;
    NOT_MODELLED(dev);
}

/* ----------------------------------------------------------- processes */

/*
 * No MPS control daemon runs on the simulated node: its client list is empty,
 * for a MIG device handle too (the driver lists per instance for those).
 */
static nvmlReturn_t no_mps(nvmlDevice_t dev, unsigned int *count)
{
    struct gpx_sim_gpu *g = NULL;
    nvmlReturn_t r = device(dev, &g);
    if (r != NVML_SUCCESS && r != NVML_ERROR_NOT_SUPPORTED) /* NOT_SUPPORTED: a MIG handle */
        return r;
    OUT(count);
    *count = 0;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMPSComputeRunningProcesses_v3(nvmlDevice_t dev,
                                                               unsigned int *count,
                                                               nvmlProcessInfo_t *infos)
{
    (void)infos;
    return no_mps(dev, count);
}

EXPORT nvmlReturn_t nvmlDeviceGetMPSComputeRunningProcesses_v2(nvmlDevice_t dev,
                                                               unsigned int *count,
                                                               nvmlProcessInfo_t *infos)
{
    (void)infos;
    return no_mps(dev, count);
}

EXPORT nvmlReturn_t nvmlDeviceGetMPSComputeRunningProcesses(nvmlDevice_t dev, unsigned int *count,
                                                            nvmlProcessInfo_v1_t *infos)
{
    (void)infos;
    return no_mps(dev, count);
}

/* ------------------------------------------------------- field values */

EXPORT nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t dev, int valuesCount,
                                             nvmlFieldValue_t *values)
{
    DEVICE(g, dev);
    OUT(values && valuesCount > 0);
    long long now = (long long)realtime_us();
    for (int i = 0; i < valuesCount; i++) {
        nvmlFieldValue_t *v = &values[i];
        v->timestamp = now;
        v->latencyUsec = 0;
        v->nvmlReturn = NVML_SUCCESS;
        memset(&v->value, 0, sizeof v->value);
        v->valueType = NVML_VALUE_TYPE_UNSIGNED_INT;
        switch (v->fieldId) {
        case NVML_FI_DEV_ECC_CURRENT:
        case NVML_FI_DEV_ECC_PENDING:
            v->value.uiVal = 1;
            break;
        case NVML_FI_DEV_MEMORY_TEMP:
            v->value.uiVal = 32 + util_now(g) * 45 / 100; /* HBM runs a little above the die */
            break;
        case NVML_FI_DEV_NVLINK_LINK_COUNT:
            v->value.uiVal = 0; /* no NVLink modelled */
            break;
        case NVML_FI_DEV_PCIE_REPLAY_COUNTER:
            v->valueType = NVML_VALUE_TYPE_UNSIGNED_LONG_LONG;
            v->value.ullVal = 0;
            break;
        default:
            v->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
            break;
        }
    }
    return NVML_SUCCESS;
}

/* -------------------------------------------------------------- events */

/* The simulated driver raises no events: a wait times out, as on a healthy GPU. */
#define EVENT_SET_MAGIC 0x45565331U /* "EVS1" */
#define SUPPORTED_EVENTS                                                                           \
    ((unsigned long long)(nvmlEventTypeSingleBitEccError | nvmlEventTypeDoubleBitEccError |        \
                          nvmlEventTypePState | nvmlEventTypeXidCriticalError |                    \
                          nvmlEventTypeClock))

struct nvmlEventSet_st {
    unsigned magic;
    _Atomic unsigned long long registered;
};

static int set_ok(nvmlEventSet_t set)
{
    return set && set->magic == EVENT_SET_MAGIC;
}

EXPORT nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set)
{
    if (!gpx__nvml_state())
        return NVML_ERROR_UNINITIALIZED;
    OUT(set);
    struct nvmlEventSet_st *s = calloc(1, sizeof *s);
    if (!s)
        return NVML_ERROR_MEMORY;
    s->magic = EVENT_SET_MAGIC;
    *set = s;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetSupportedEventTypes(nvmlDevice_t dev,
                                                     unsigned long long *eventTypes)
{
    DEVICE(g, dev);
    (void)g;
    OUT(eventTypes);
    *eventTypes = SUPPORTED_EVENTS;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t dev, unsigned long long eventTypes,
                                             nvmlEventSet_t set)
{
    DEVICE(g, dev);
    (void)g;
    OUT(set_ok(set));
    if (eventTypes & ~SUPPORTED_EVENTS)
        return NVML_ERROR_NOT_SUPPORTED;
    atomic_fetch_or(&set->registered, eventTypes);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data,
                                        unsigned int timeoutms)
{
    if (!gpx__nvml_state())
        return NVML_ERROR_UNINITIALIZED;
    OUT(set_ok(set) && data);
    struct timespec ts = {(time_t)(timeoutms / 1000), (long)(timeoutms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return NVML_ERROR_TIMEOUT;
}

EXPORT nvmlReturn_t nvmlEventSetWait(nvmlEventSet_t set, nvmlEventData_t *data,
                                     unsigned int timeoutms)
{
    return nvmlEventSetWait_v2(set, data, timeoutms);
}

EXPORT nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set)
{
    if (!gpx__nvml_state())
        return NVML_ERROR_UNINITIALIZED;
    OUT(set_ok(set));
    set->magic = 0;
    free(set);
    return NVML_SUCCESS;
}

/* ---------------------------------------------------------- accounting */

EXPORT nvmlReturn_t nvmlDeviceGetAccountingMode(nvmlDevice_t dev, nvmlEnableState_t *mode)
{
    return state_of(dev, mode, NVML_FEATURE_DISABLED);
}

/* Accounting is off (and cannot be turned on): its queries are NOT_SUPPORTED, as then. */
EXPORT nvmlReturn_t nvmlDeviceGetAccountingPids(nvmlDevice_t dev, unsigned int *count,
                                                unsigned int *pids)
{
    (void)count;
    (void)pids;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceGetAccountingStats(nvmlDevice_t dev, unsigned int pid,
                                                 nvmlAccountingStats_t *stats)
{
    (void)pid;
    (void)stats;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceGetAccountingBufferSize(nvmlDevice_t dev, unsigned int *bufferSize)
{
    (void)bufferSize;
    NOT_MODELLED(dev);
}

/* ------------------------------------------------------------ topology */

/* Sets the first `bits` bits of a set of `words` unsigned longs. */
static void fill_mask(unsigned long *set, unsigned words, long bits)
{
    const long per = (long)(8 * sizeof(unsigned long));
    for (unsigned w = 0; w < words; w++) {
        long lo = (long)w * per;
        set[w] = bits >= lo + per ? ~0UL : bits > lo ? (1UL << (bits - lo)) - 1UL : 0UL;
    }
}

/* One NUMA node holding every CPU: the simulated GPUs are near all of them. */
EXPORT nvmlReturn_t nvmlDeviceGetCpuAffinityWithinScope(nvmlDevice_t dev, unsigned int cpuSetSize,
                                                        unsigned long *cpuSet,
                                                        nvmlAffinityScope_t scope)
{
    DEVICE(g, dev);
    (void)g;
    OUT(cpuSet && cpuSetSize > 0 && scope <= NVML_AFFINITY_SCOPE_SOCKET);
    long cpus = sysconf(_SC_NPROCESSORS_CONF);
    fill_mask(cpuSet, cpuSetSize, cpus > 0 ? cpus : 1);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetCpuAffinity(nvmlDevice_t dev, unsigned int cpuSetSize,
                                             unsigned long *cpuSet)
{
    return nvmlDeviceGetCpuAffinityWithinScope(dev, cpuSetSize, cpuSet, NVML_AFFINITY_SCOPE_NODE);
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryAffinity(nvmlDevice_t dev, unsigned int nodeSetSize,
                                                unsigned long *nodeSet, nvmlAffinityScope_t scope)
{
    DEVICE(g, dev);
    (void)g;
    OUT(nodeSet && nodeSetSize > 0 && scope <= NVML_AFFINITY_SCOPE_SOCKET);
    fill_mask(nodeSet, nodeSetSize, 1); /* node 0 */
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetNumaNodeId(nvmlDevice_t dev, unsigned int *node)
{
    (void)node;
    NOT_MODELLED(dev); /* only GPUs that are NUMA nodes themselves (C2C) have one */
}

EXPORT nvmlReturn_t nvmlDeviceGetTopologyCommonAncestor(nvmlDevice_t device1, nvmlDevice_t device2,
                                                        nvmlGpuTopologyLevel_t *pathInfo)
{
    DEVICE(g2, device2);
    (void)g2;
    (void)pathInfo;
    NOT_MODELLED(device1); /* the simulator has no PCIe tree */
}

EXPORT nvmlReturn_t nvmlDeviceOnSameBoard(nvmlDevice_t device1, nvmlDevice_t device2,
                                          int *onSameBoard)
{
    DEVICE(g1, device1);
    DEVICE(g2, device2);
    OUT(onSameBoard);
    *onSameBoard = g1 == g2; /* one GPU per board */
    return NVML_SUCCESS;
}

/* ------------------------------------------------------------ firmware */

EXPORT nvmlReturn_t nvmlDeviceGetGspFirmwareVersion(nvmlDevice_t dev, char *version)
{
    DEVICE(g, dev);
    (void)g;
    OUT(version);
    /* GSP firmware ships with the driver and carries its version */
    snprintf(version, NVML_GSP_FIRMWARE_VERSION_BUF_SIZE, "%s",
             gpx__nvml_state()->hdr->driver_version);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetGspFirmwareMode(nvmlDevice_t dev, unsigned int *isEnabled,
                                                 unsigned int *defaultMode)
{
    DEVICE(g, dev);
    (void)g;
    OUT(isEnabled && defaultMode);
    *isEnabled = *defaultMode = 1;
    return NVML_SUCCESS;
}

/* ------------------------------------------------------------- setters */

/*
 * nvidia-smi's -pm, -c, -pl, -ac, -lgc, -e, -am: the simulated board's
 * settings are fixed, so each refuses as a board without the feature does.
 */
EXPORT nvmlReturn_t nvmlDeviceSetPersistenceMode(nvmlDevice_t dev, nvmlEnableState_t mode)
{
    (void)mode;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceSetComputeMode(nvmlDevice_t dev, nvmlComputeMode_t mode)
{
    (void)mode;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceSetPowerManagementLimit(nvmlDevice_t dev, unsigned int limit)
{
    (void)limit;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceSetPowerManagementLimit_v2(nvmlDevice_t dev,
                                                         nvmlPowerValue_v2_t *powerValue)
{
    (void)powerValue;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceSetApplicationsClocks(nvmlDevice_t dev, unsigned int memClockMHz,
                                                    unsigned int graphicsClockMHz)
{
    (void)memClockMHz;
    (void)graphicsClockMHz;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceResetApplicationsClocks(nvmlDevice_t dev)
{
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceSetGpuLockedClocks(nvmlDevice_t dev, unsigned int minGpuClockMHz,
                                                 unsigned int maxGpuClockMHz)
{
    (void)minGpuClockMHz;
    (void)maxGpuClockMHz;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceResetGpuLockedClocks(nvmlDevice_t dev)
{
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceSetEccMode(nvmlDevice_t dev, nvmlEnableState_t ecc)
{
    (void)ecc;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceClearEccErrorCounts(nvmlDevice_t dev,
                                                  nvmlEccCounterType_t counterType)
{
    (void)counterType;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceSetAccountingMode(nvmlDevice_t dev, nvmlEnableState_t mode)
{
    (void)mode;
    NOT_MODELLED(dev);
}

EXPORT nvmlReturn_t nvmlDeviceClearAccountingPids(nvmlDevice_t dev)
{
    NOT_MODELLED(dev);
}
