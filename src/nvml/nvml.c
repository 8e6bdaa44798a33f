/*
 * NVML loader. Every symbol is resolved once at open; a missing required
 * symbol is an error that names it, a missing optional one leaves a NULL
 * pointer so that inventory marks the figure unavailable.
 */
#define _GNU_SOURCE
#include "nvml/nvml.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sym {
    const char *names[3]; /* most preferred first */
    size_t offset;        /* of the function pointer in struct gpx_nvml */
    int required;
};

#define SYM(field, req, ...)                                                                       \
    {                                                                                              \
        {__VA_ARGS__}, offsetof(struct gpx_nvml, field), req                                       \
    }

static const struct sym syms[] = {
    SYM(init, 1, "nvmlInit_v2", "nvmlInit"),
    SYM(shutdown, 1, "nvmlShutdown"),
    SYM(error_string, 1, "nvmlErrorString"),
    SYM(system_driver_version, 0, "nvmlSystemGetDriverVersion"),
    SYM(system_cuda_version, 0, "nvmlSystemGetCudaDriverVersion_v2",
        "nvmlSystemGetCudaDriverVersion"),
    SYM(device_count, 1, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"),
    SYM(device_by_index, 1, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex"),
    SYM(device_by_uuid, 0, "nvmlDeviceGetHandleByUUID"),
    SYM(device_name, 1, "nvmlDeviceGetName"),
    SYM(device_uuid, 1, "nvmlDeviceGetUUID"),
    SYM(device_index, 0, "nvmlDeviceGetIndex"),
    SYM(device_minor, 0, "nvmlDeviceGetMinorNumber"),
    SYM(device_pci, 0, "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2"),
    SYM(device_memory, 1, "nvmlDeviceGetMemoryInfo"),
    SYM(device_memory_v2, 0, "nvmlDeviceGetMemoryInfo_v2"),
    SYM(device_util, 0, "nvmlDeviceGetUtilizationRates"),
    SYM(device_temperature, 0, "nvmlDeviceGetTemperature"),
    SYM(device_power_usage, 0, "nvmlDeviceGetPowerUsage"),
    SYM(device_power_limit, 0, "nvmlDeviceGetEnforcedPowerLimit",
        "nvmlDeviceGetPowerManagementLimit"),
    SYM(device_clock, 0, "nvmlDeviceGetClockInfo"),
    SYM(device_max_clock, 0, "nvmlDeviceGetMaxClockInfo"),
    SYM(device_mig_mode, 0, "nvmlDeviceGetMigMode"),
    SYM(device_processes, 0, "nvmlDeviceGetComputeRunningProcesses_v3",
        "nvmlDeviceGetComputeRunningProcesses_v2"),
    SYM(device_process_util, 0, "nvmlDeviceGetProcessUtilization"),
    SYM(device_cuda_cc, 0, "nvmlDeviceGetCudaComputeCapability"),
};

static const char no_driver_hint[] =
    "no NVIDIA driver here? to try gpuplex without a GPU, create a simulated node: "
    "'gpuplex sim init --gpus 2xH100-80GB --state /tmp/node.sim' and set "
    "GPUPLEX_SIM=/tmp/node.sim";

int gpx_nvml_open(struct gpx_nvml *nv, gpx_error *err)
{
    memset(nv, 0, sizeof *nv);
    const char *dir = getenv("GPUPLEX_DRIVER_DIR");
    if (dir && *dir) {
        snprintf(nv->path, sizeof nv->path, "%s/libnvidia-ml.so.1", dir);
        nv->lib = dlopen(nv->path, RTLD_NOW | RTLD_LOCAL);
        if (!nv->lib)
            return gpx_error_set(err, GPX_E_NO_DRIVER,
                                 "cannot load NVML from GPUPLEX_DRIVER_DIR: %s", dlerror());
    } else {
        snprintf(nv->path, sizeof nv->path, "libnvidia-ml.so.1");
        nv->lib = dlopen(nv->path, RTLD_NOW | RTLD_LOCAL);
        if (!nv->lib)
            return gpx_error_set(err, GPX_E_NO_DRIVER,
                                 "cannot load NVML (libnvidia-ml.so.1): %s; %s", dlerror(),
                                 no_driver_hint);
    }
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        void *fp = NULL;
        for (int k = 0; k < 3 && syms[i].names[k] && !fp; k++)
            fp = dlsym(nv->lib, syms[i].names[k]);
        if (!fp && syms[i].required) {
            int rc = gpx_error_set(err, GPX_E_NO_DRIVER, "%s lacks %s: driver too old?", nv->path,
                                   syms[i].names[0]);
            dlclose(nv->lib);
            nv->lib = NULL;
            return rc;
        }
        memcpy((char *)nv + syms[i].offset, &fp, sizeof fp);
    }
    nvmlReturn_t r = nv->init();
    if (r != NVML_SUCCESS) {
        gpx_nvml_fail(nv, r, err, "nvmlInit");
        if (r == NVML_ERROR_DRIVER_NOT_LOADED || r == NVML_ERROR_LIBRARY_NOT_FOUND)
            err->code = GPX_E_NO_DRIVER;
        dlclose(nv->lib);
        nv->lib = NULL;
        return -1;
    }
    return 0;
}

void gpx_nvml_close(struct gpx_nvml *nv)
{
    if (!nv || !nv->lib)
        return;
    if (nv->shutdown && nv->init)
        nv->shutdown();
    dlclose(nv->lib);
    nv->lib = NULL;
}

int gpx_nvml_fail(const struct gpx_nvml *nv, nvmlReturn_t r, gpx_error *err, const char *what)
{
    const char *msg = nv->error_string ? nv->error_string(r) : NULL;
    return gpx_error_set(err, r == NVML_ERROR_NOT_FOUND ? GPX_E_NOT_FOUND : GPX_E_DRIVER,
                         "%s: %s (NVML error %d)", what, msg ? msg : "unknown error", (int)r);
}
