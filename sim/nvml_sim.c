/*
 * Simulated libnvidia-ml.so.1: the NVML entry points gpuplex and common
 * third-party clients call, implemented over the simulator's state file
 * (GPUPLEX_SIM). Handles are pointers into the shared mapping; every handle
 * passed in is checked to lie on a GPU record before it is used.
 *
 * Dynamic figures are derived, not stored: utilization from the shared
 * engine's busy buckets, temperature/power/SM clock from utilization, used
 * memory and the process list from the process slots (dead processes are
 * reaped on read, as the real driver forgets a process when it exits).
 */
#define _GNU_SOURCE
#include "abi/nvml_abi.h"
#include "mig_state.h"
#include "state.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define EXPORT __attribute__((visibility("default")))

static pthread_mutex_t init_mu = PTHREAD_MUTEX_INITIALIZER;
static int init_count;
static struct gpx_sim_state st;

/* For nvml_mig.c: the mapping, or NULL before nvmlInit. */
struct gpx_sim_state *gpx__nvml_state(void)
{
    return st.hdr ? &st : NULL;
}

static struct gpx_sim_gpu *gpu_of(nvmlDevice_t dev)
{
    if (!st.hdr || !dev)
        return NULL;
    uintptr_t p = (uintptr_t)dev, base = (uintptr_t)st.gpus;
    if (p < base || (p - base) % sizeof(struct gpx_sim_gpu) != 0 ||
        (p - base) / sizeof(struct gpx_sim_gpu) >= st.hdr->gpu_count)
        return NULL;
    return (struct gpx_sim_gpu *)dev;
}

/* A MIG device handle where a whole GPU is needed: NOT_SUPPORTED, as in nvml_surface.c. */
static nvmlReturn_t not_gpu(nvmlDevice_t dev)
{
    uint32_t gpu;
    unsigned gi, ci;
    return gpx__nvml_mig_handle(dev, &gpu, &gi, &ci) == 0 ? NVML_ERROR_NOT_SUPPORTED
                                                          : NVML_ERROR_INVALID_ARGUMENT;
}

#define GPU_OR_RETURN(g, dev)                                                                      \
    struct gpx_sim_gpu *g = gpu_of(dev);                                                           \
    if (!st.hdr)                                                                                   \
        return NVML_ERROR_UNINITIALIZED;                                                           \
    if (!(g))                                                                                      \
    return not_gpu(dev)

EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
    (void)flags;
    nvmlReturn_t r = NVML_SUCCESS;
    pthread_mutex_lock(&init_mu);
    if (init_count == 0) {
        gpx_error err;
        if (gpx_sim_open_env(&st, &err) < 0) {
            /* The simulated driver's dmesg: say why, or nobody can tell. */
            fprintf(stderr, "gpuplex-sim: %s\n", err.msg);
            r = NVML_ERROR_DRIVER_NOT_LOADED;
        }
    }
    if (r == NVML_SUCCESS)
        init_count++;
    pthread_mutex_unlock(&init_mu);
    return r;
}

EXPORT nvmlReturn_t nvmlInit_v2(void)
{
    return nvmlInitWithFlags(0);
}

EXPORT nvmlReturn_t nvmlInit(void)
{
    return nvmlInitWithFlags(0);
}

EXPORT nvmlReturn_t nvmlShutdown(void)
{
    nvmlReturn_t r = NVML_SUCCESS;
    pthread_mutex_lock(&init_mu);
    if (init_count == 0)
        r = NVML_ERROR_UNINITIALIZED;
    else if (--init_count == 0)
        gpx_sim_close(&st);
    pthread_mutex_unlock(&init_mu);
    return r;
}

EXPORT const char *nvmlErrorString(nvmlReturn_t r)
{
    switch (r) {
    case NVML_SUCCESS:
        return "Success";
    case NVML_ERROR_UNINITIALIZED:
        return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT:
        return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED:
        return "Not Supported";
    case NVML_ERROR_NO_PERMISSION:
        return "Insufficient Permissions";
    case NVML_ERROR_NOT_FOUND:
        return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE:
        return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED:
        return "Driver Not Loaded";
    case NVML_ERROR_FUNCTION_NOT_FOUND:
        return "Function Not Found";
    case NVML_ERROR_IN_USE:
        return "In use by another client";
    case NVML_ERROR_RESET_REQUIRED:
        return "Reset required";
    case NVML_ERROR_INSUFFICIENT_RESOURCES:
        return "Insufficient resources";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH:
        return "Argument version mismatch";
    default:
        return "Unknown Error";
    }
}

int gpx__nvml_copy_str(char *buf, unsigned int len, const char *s)
{
    if (!buf)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(s) + 1 > len)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(buf, s, strlen(s) + 1);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
    if (!st.hdr)
        return NVML_ERROR_UNINITIALIZED;
    return gpx__nvml_copy_str(version, length, st.hdr->driver_version);
}

EXPORT nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length)
{
    if (!st.hdr)
        return NVML_ERROR_UNINITIALIZED;
    /* "<CUDA major>.<driver>": "12.550.54.15", "13.580.65.06" */
    char v[48];
    snprintf(v, sizeof v, "%u.%s", st.hdr->driver_version_cuda / 1000U, st.hdr->driver_version);
    return gpx__nvml_copy_str(version, length, v);
}

EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *v)
{
    if (!st.hdr)
        return NVML_ERROR_UNINITIALIZED;
    if (!v)
        return NVML_ERROR_INVALID_ARGUMENT;
    *v = (int)st.hdr->driver_version_cuda;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *v)
{
    return nvmlSystemGetCudaDriverVersion(v);
}

EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count)
{
    if (!st.hdr)
        return NVML_ERROR_UNINITIALIZED;
    if (!count)
        return NVML_ERROR_INVALID_ARGUMENT;
    *count = st.hdr->gpu_count;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned int *count)
{
    return nvmlDeviceGetCount_v2(count);
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *dev)
{
    if (!st.hdr)
        return NVML_ERROR_UNINITIALIZED;
    if (!dev || index >= st.hdr->gpu_count)
        return NVML_ERROR_INVALID_ARGUMENT;
    *dev = (nvmlDevice_t)&st.gpus[index];
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *dev)
{
    return nvmlDeviceGetHandleByIndex_v2(index, dev);
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *dev)
{
    if (!st.hdr)
        return NVML_ERROR_UNINITIALIZED;
    if (!uuid || !dev)
        return NVML_ERROR_INVALID_ARGUMENT;
    for (uint32_t i = 0; i < st.hdr->gpu_count; i++) {
        if (strcmp(st.gpus[i].uuid, uuid) == 0) {
            *dev = (nvmlDevice_t)&st.gpus[i];
            return NVML_SUCCESS;
        }
    }
    void *mig;
    if (gpx__nvml_mig_find_uuid(uuid, &mig) == 0) {
        *dev = (nvmlDevice_t)mig;
        return NVML_SUCCESS;
    }
    return NVML_ERROR_NOT_FOUND;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *bus_id, nvmlDevice_t *dev)
{
    if (!st.hdr)
        return NVML_ERROR_UNINITIALIZED;
    if (!bus_id || !dev)
        return NVML_ERROR_INVALID_ARGUMENT;
    for (uint32_t i = 0; i < st.hdr->gpu_count; i++) {
        /* accept the 8-digit and the legacy 4-digit domain */
        const char *full = st.gpus[i].pci_bus_id;
        if (strcasecmp(full, bus_id) == 0 || strcasecmp(full + 4, bus_id) == 0) {
            *dev = (nvmlDevice_t)&st.gpus[i];
            return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_NOT_FOUND;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char *bus_id, nvmlDevice_t *dev)
{
    return nvmlDeviceGetHandleByPciBusId_v2(bus_id, dev);
}

EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t dev, char *name, unsigned int length)
{
    struct gpx_sim_mig_device mig;
    if (gpx__nvml_mig_device(dev, &mig, NULL) == 0)
        return gpx__nvml_copy_str(name, length, mig.name);
    GPU_OR_RETURN(g, dev);
    return gpx__nvml_copy_str(name, length, g->name);
}

EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t dev, char *uuid, unsigned int length)
{
    struct gpx_sim_mig_device mig;
    if (gpx__nvml_mig_device(dev, &mig, NULL) == 0)
        return gpx__nvml_copy_str(uuid, length, mig.uuid);
    GPU_OR_RETURN(g, dev);
    return gpx__nvml_copy_str(uuid, length, g->uuid);
}

EXPORT nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t dev, unsigned int *index)
{
    GPU_OR_RETURN(g, dev);
    if (!index)
        return NVML_ERROR_INVALID_ARGUMENT;
    *index = g->index;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t dev, unsigned int *minor)
{
    GPU_OR_RETURN(g, dev);
    if (!minor)
        return NVML_ERROR_INVALID_ARGUMENT;
    *minor = g->minor;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t dev, nvmlPciInfo_t *pci)
{
    GPU_OR_RETURN(g, dev);
    if (!pci)
        return NVML_ERROR_INVALID_ARGUMENT;
    memset(pci, 0, sizeof *pci);
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%04X:%02X:%02X.0", g->pci_domain,
             g->pci_bus, g->pci_device);
    snprintf(pci->busId, sizeof pci->busId, "%s", g->pci_bus_id);
    pci->domain = g->pci_domain;
    pci->bus = g->pci_bus;
    pci->device = g->pci_device;
    pci->pciDeviceId = g->pci_device_id;
    pci->pciSubSystemId = g->pci_subsystem_id;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t dev, nvmlPciInfo_t *pci)
{
    return nvmlDeviceGetPciInfo_v3(dev, pci);
}

EXPORT nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t dev, nvmlPciInfo_t *pci)
{
    return nvmlDeviceGetPciInfo_v3(dev, pci);
}

static uint64_t used_now(struct gpx_sim_gpu *g)
{
    gpx_sim_reap(&st, g->index);
    uint64_t used = atomic_load(&g->memory_used);
    return used > g->memory_total ? g->memory_total : used;
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t dev, nvmlMemory_t *mem)
{
    struct gpx_sim_mig_device mig;
    uint64_t mig_used;
    if (mem && gpx__nvml_mig_device(dev, &mig, &mig_used) == 0) {
        mem->total = mig.memory_total;
        mem->used = mig_used < mig.memory_total ? mig_used : mig.memory_total;
        mem->free = mem->total - mem->used;
        return NVML_SUCCESS;
    }
    GPU_OR_RETURN(g, dev);
    if (!mem)
        return NVML_ERROR_INVALID_ARGUMENT;
    uint64_t used = used_now(g) + g->memory_reserved;
    mem->total = g->memory_total;
    mem->used = used > g->memory_total ? g->memory_total : used;
    mem->free = mem->total - mem->used;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t dev, nvmlMemory_v2_t *mem)
{
    struct gpx_sim_mig_device mig;
    uint64_t mig_used;
    if (mem && mem->version == nvmlMemory_v2 && gpx__nvml_mig_device(dev, &mig, &mig_used) == 0) {
        mem->total = mig.memory_total;
        mem->reserved = 0;
        mem->used = mig_used < mig.memory_total ? mig_used : mig.memory_total;
        mem->free = mem->total - mem->used;
        return NVML_SUCCESS;
    }
    GPU_OR_RETURN(g, dev);
    if (!mem)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (mem->version != nvmlMemory_v2)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    uint64_t used = used_now(g);
    mem->total = g->memory_total;
    mem->reserved = g->memory_reserved;
    mem->used = used;
    mem->free = g->memory_total - g->memory_reserved > used
                    ? g->memory_total - g->memory_reserved - used
                    : 0;
    return NVML_SUCCESS;
}

static unsigned util_of(struct gpx_sim_gpu *g)
{
    return gpx_sim_util_percent(g->util, gpx_sim_now_ns());
}

/*
 * As the driver: a GPU in MIG mode has no utilization rates (NVML's reference:
 * "On MIG-enabled GPUs, querying device utilization rates is not currently
 * supported"; nvidia-smi dmon prints '-' there), nor has a MIG device handle.
 */
EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t dev, nvmlUtilization_t *u)
{
    GPU_OR_RETURN(g, dev);
    if (!u)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (g->mig_current == NVML_DEVICE_MIG_ENABLE)
        return NVML_ERROR_NOT_SUPPORTED;
    uint64_t now = gpx_sim_now_ns();
    u->gpu = gpx_sim_util_percent(g->util, now);
    u->memory = gpx_sim_util_percent(g->mem_util, now);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t dev, nvmlTemperatureSensors_t sensor,
                                             unsigned int *temp)
{
    GPU_OR_RETURN(g, dev);
    if (!temp || sensor != NVML_TEMPERATURE_GPU)
        return NVML_ERROR_INVALID_ARGUMENT;
    /* 30 C idle to 75 C flat out: an air-cooled SXM board under load. */
    *temp = 30 + util_of(g) * 45 / 100;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t dev, unsigned int *mw)
{
    GPU_OR_RETURN(g, dev);
    if (!mw)
        return NVML_ERROR_INVALID_ARGUMENT;
    *mw = gpx__nvml_power_mw(g, util_of(g));
    return NVML_SUCCESS;
}

/* Power follows utilization, idle to 90 % of the limit (nvml_surface.c's field values too). */
unsigned gpx__nvml_power_mw(const struct gpx_sim_gpu *g, unsigned util)
{
    unsigned peak = g->power_limit_mw / 10 * 9;
    return g->power_idle_mw + (peak - g->power_idle_mw) / 100 * util;
}

EXPORT nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t dev, unsigned int *mw)
{
    GPU_OR_RETURN(g, dev);
    if (!mw)
        return NVML_ERROR_INVALID_ARGUMENT;
    *mw = g->power_limit_mw;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t dev, unsigned int *mw)
{
    return nvmlDeviceGetEnforcedPowerLimit(dev, mw);
}

EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementDefaultLimit(nvmlDevice_t dev, unsigned int *mw)
{
    return nvmlDeviceGetEnforcedPowerLimit(dev, mw);
}

EXPORT nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t dev, unsigned long long *mj)
{
    GPU_OR_RETURN(g, dev);
    if (!mj)
        return NVML_ERROR_INVALID_ARGUMENT;
    /* idle power since boot of the node plus the extra power of every busy ns */
    uint64_t now = gpx_sim_now_ns();
    uint64_t busy = atomic_load(&g->engine_busy_total);
    unsigned peak = g->power_limit_mw / 10 * 9;
    *mj = (unsigned long long)((double)g->power_idle_mw * (double)now / 1e9 +
                               (double)(peak - g->power_idle_mw) * (double)busy / 1e9);
    return NVML_SUCCESS;
}

/* Also nvml_surface.c's (nvmlDeviceGetClock, field values): one derivation. */
unsigned gpx__nvml_clock_mhz(struct gpx_sim_gpu *g, int type, int max)
{
    switch ((nvmlClockType_t)type) {
    case NVML_CLOCK_GRAPHICS:
    case NVML_CLOCK_SM:
        return max || util_of(g) > 0 ? g->sm_clock_max_mhz : g->sm_clock_idle_mhz;
    case NVML_CLOCK_MEM:
        return g->mem_clock_mhz;
    case NVML_CLOCK_VIDEO:
        return max ? 1755 : 1080;
    }
    return 0;
}

EXPORT nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t dev, nvmlClockType_t type,
                                           unsigned int *mhz)
{
    GPU_OR_RETURN(g, dev);
    if (!mhz || (unsigned)type > NVML_CLOCK_VIDEO)
        return NVML_ERROR_INVALID_ARGUMENT;
    *mhz = gpx__nvml_clock_mhz(g, type, 0);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t dev, nvmlClockType_t type,
                                              unsigned int *mhz)
{
    GPU_OR_RETURN(g, dev);
    if (!mhz || (unsigned)type > NVML_CLOCK_VIDEO)
        return NVML_ERROR_INVALID_ARGUMENT;
    *mhz = gpx__nvml_clock_mhz(g, type, 1);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t dev, unsigned int *current,
                                         unsigned int *pending)
{
    GPU_OR_RETURN(g, dev);
    if (!current || !pending)
        return NVML_ERROR_INVALID_ARGUMENT;
    gpx_sim_mig_settle(&st, g->index); /* a pending change applies once the GPU is idle */
    *current = g->mig_current;
    *pending = g->mig_pending;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t dev, int *major, int *minor)
{
    GPU_OR_RETURN(g, dev);
    if (!major || !minor)
        return NVML_ERROR_INVALID_ARGUMENT;
    *major = (int)g->cc_major;
    *minor = (int)g->cc_minor;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDevice_t dev, unsigned int *speed)
{
    GPU_OR_RETURN(g, dev);
    (void)g;
    (void)speed;
    return NVML_ERROR_NOT_SUPPORTED; /* SXM boards have no fan of their own */
}

EXPORT nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t dev, unsigned int *pstate)
{
    GPU_OR_RETURN(g, dev);
    if (!pstate)
        return NVML_ERROR_INVALID_ARGUMENT;
    *pstate = 0; /* P0 */
    return NVML_SUCCESS;
}

/*
 * The GPU of `dev` for a process list. A MIG device handle lists the processes
 * of its own instance (*gi, *ci set; -1 for a whole GPU), as the driver gives
 * per-instance lists for MIG device handles: a workload in a MIG slice asks
 * by the MIG UUID its CUDA_VISIBLE_DEVICES names.
 */
static struct gpx_sim_gpu *procs_gpu(nvmlDevice_t dev, int *gi, int *ci)
{
    uint32_t gpu;
    unsigned mgi, mci;
    *gi = *ci = -1;
    struct gpx_sim_gpu *g = gpu_of(dev);
    if (g || !st.hdr || gpx__nvml_mig_handle(dev, &gpu, &mgi, &mci) < 0)
        return g;
    *gi = (int)mgi;
    *ci = (int)mci;
    return &st.gpus[gpu];
}

/* Lists live processes into either layout; `stride` is the caller's struct size. */
static nvmlReturn_t list_procs(nvmlDevice_t dev, unsigned int *count, void *infos, size_t stride,
                               int with_instances)
{
    int want_gi, want_ci;
    struct gpx_sim_gpu *g = procs_gpu(dev, &want_gi, &want_ci);
    if (!st.hdr)
        return NVML_ERROR_UNINITIALIZED;
    if (!g)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!count || (*count > 0 && !infos))
        return NVML_ERROR_INVALID_ARGUMENT;
    gpx_sim_lock(&st);
    unsigned n = 0;
    for (uint32_t i = 0; i < GPX_SIM_MAX_PROCS; i++) {
        struct gpx_sim_proc *p = &g->procs[i];
        if (atomic_load(&p->pid) == 0)
            continue;
        if (!gpx_sim_proc_alive(p)) {
            atomic_fetch_sub(&g->memory_used, atomic_exchange(&p->used_bytes, 0));
            p->contexts = 0;
            atomic_store(&p->pid, 0);
            continue;
        }
        /* The driver lists host pids; seen from inside a container, the simulator knows
         * only the pids of that container's processes and leaves out the others. */
        int32_t shown = gpx_sim_proc_pid(p);
        if (shown <= 0)
            continue;
        unsigned pgi, pci;
        if (want_gi >= 0 && (gpx_sim_mig_proc_ids_locked(g, i, &pgi, &pci) < 0 ||
                             pgi != (unsigned)want_gi || pci != (unsigned)want_ci))
            continue; /* another instance's, or the whole GPU's */
        if (n < *count) {
            char *dst = (char *)infos + n * stride;
            if (with_instances) {
                nvmlProcessInfo_t *o = (nvmlProcessInfo_t *)dst;
                o->pid = (unsigned)shown;
                o->usedGpuMemory = atomic_load(&p->used_bytes);
                unsigned gi, ci;
                if (gpx_sim_mig_proc_ids_locked(g, i, &gi, &ci) == 0) {
                    o->gpuInstanceId = gi;
                    o->computeInstanceId = ci;
                } else {
                    o->gpuInstanceId = 0xFFFFFFFFU; /* no MIG instance */
                    o->computeInstanceId = 0xFFFFFFFFU;
                }
            } else {
                nvmlProcessInfo_v1_t *o = (nvmlProcessInfo_v1_t *)dst;
                o->pid = (unsigned)shown;
                o->usedGpuMemory = atomic_load(&p->used_bytes);
            }
        }
        n++;
    }
    gpx_sim_unlock(&st);
    nvmlReturn_t r = n > *count ? NVML_ERROR_INSUFFICIENT_SIZE : NVML_SUCCESS;
    *count = n;
    return r;
}

EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t dev, unsigned int *count,
                                                            nvmlProcessInfo_t *infos)
{
    return list_procs(dev, count, infos, sizeof *infos, 1);
}

EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t dev, unsigned int *count,
                                                            nvmlProcessInfo_t *infos)
{
    return list_procs(dev, count, infos, sizeof *infos, 1);
}

EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t dev, unsigned int *count,
                                                         nvmlProcessInfo_v1_t *infos)
{
    return list_procs(dev, count, infos, sizeof *infos, 0);
}

EXPORT nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t dev, unsigned int *count,
                                                             nvmlProcessInfo_t *infos)
{
    int gi, ci; /* a MIG device handle too: its (empty) list */
    struct gpx_sim_gpu *g = procs_gpu(dev, &gi, &ci);
    (void)infos;
    if (!st.hdr)
        return NVML_ERROR_UNINITIALIZED;
    if (!g || !count)
        return NVML_ERROR_INVALID_ARGUMENT;
    *count = 0; /* a compute node runs no graphics */
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v2(nvmlDevice_t dev, unsigned int *count,
                                                             nvmlProcessInfo_t *infos)
{
    return nvmlDeviceGetGraphicsRunningProcesses_v3(dev, count, infos);
}

EXPORT nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses(nvmlDevice_t dev, unsigned int *count,
                                                          nvmlProcessInfo_v1_t *infos)
{
    (void)infos;
    return nvmlDeviceGetGraphicsRunningProcesses_v3(dev, count, NULL);
}

/*
 * Per-process utilization samples: one for every live process holding a
 * context on the GPU (idle ones too, at 0 %), stamped now (CLOCK_REALTIME
 * microseconds, as the driver stamps them). The simulator does not attribute
 * kernels to processes, so the GPU's utilization over the last second is
 * shared evenly among them (the sum is the GPU's figure). Protocol as NVML's:
 * samples == NULL asks for the count (NVML_ERROR_INSUFFICIENT_SIZE), nothing
 * newer than lastSeenTimeStamp is NVML_ERROR_NOT_FOUND.
 */
EXPORT nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t dev,
                                                    nvmlProcessUtilizationSample_t *samples,
                                                    unsigned int *count,
                                                    unsigned long long lastSeenTimeStamp)
{
    GPU_OR_RETURN(g, dev);
    if (!count)
        return NVML_ERROR_INVALID_ARGUMENT;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long now_us =
        (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL;
    uint64_t now = gpx_sim_now_ns();
    unsigned sm = gpx_sim_util_percent(g->util, now), mem = gpx_sim_util_percent(g->mem_util, now);
    unsigned int pids[GPX_SIM_MAX_PROCS], n = 0;
    gpx_sim_lock(&st);
    for (uint32_t i = 0; i < GPX_SIM_MAX_PROCS; i++) {
        struct gpx_sim_proc *p = &g->procs[i];
        int32_t shown = atomic_load(&p->pid) != 0 && p->contexts > 0 && gpx_sim_proc_alive(p)
                            ? gpx_sim_proc_pid(p)
                            : 0;
        if (shown > 0)
            pids[n++] = (unsigned int)shown;
    }
    gpx_sim_unlock(&st);
    if (n == 0 || lastSeenTimeStamp >= now_us) {
        *count = 0;
        return NVML_ERROR_NOT_FOUND;
    }
    unsigned int room = *count;
    *count = n;
    if (!samples || room < n)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    for (unsigned int i = 0; i < n; i++)
        samples[i] = (nvmlProcessUtilizationSample_t){
            .pid = pids[i], .timeStamp = now_us, .smUtil = sm / n, .memUtil = mem / n};
    return NVML_SUCCESS;
}
