/*
 * NVML loader: opens libnvidia-ml.so.1 with dlopen (never linked) and
 * resolves the entry points gpuplex uses from a {names, &fp, required} table,
 * preferring versioned symbols (_v3, _v2) and falling back to older ones.
 * Optional entry points may be NULL; callers check before use.
 */
#ifndef GPX_NVML_H
#define GPX_NVML_H

#include "abi/nvml_abi.h"
#include "gpuplex/error.h"

struct gpx_nvml {
    void *lib;
    char path[512]; /* where the library was found (for messages) */
    nvml_init_fn init;
    nvml_shutdown_fn shutdown;
    nvml_error_string_fn error_string;
    nvml_system_string_fn system_driver_version;
    nvml_system_cuda_version_fn system_cuda_version;
    nvml_device_count_fn device_count;
    nvml_device_by_index_fn device_by_index;
    nvml_device_by_string_fn device_by_uuid;
    nvml_device_string_fn device_name;
    nvml_device_string_fn device_uuid;
    nvml_device_uint_fn device_index;
    nvml_device_uint_fn device_minor;
    nvml_device_pci_fn device_pci;
    nvml_device_memory_fn device_memory;
    nvml_device_memory_v2_fn device_memory_v2;
    nvml_device_util_fn device_util;
    nvml_device_temp_fn device_temperature;
    nvml_device_uint_fn device_power_usage;
    nvml_device_uint_fn device_power_limit;
    nvml_device_clock_fn device_clock;
    nvml_device_clock_fn device_max_clock;
    nvml_device_mig_mode_fn device_mig_mode;
    nvml_device_processes_fn device_processes;
    nvml_device_process_util_fn device_process_util; /* per-process SM utilization */
    nvml_device_cc_fn device_cuda_cc;
};

/*
 * Opens NVML and calls nvmlInit. The library is looked up in
 * $GPUPLEX_DRIVER_DIR first (when set), then by SONAME through the dynamic
 * linker. On failure the error says what is missing and how to use the
 * simulator instead.
 */
int gpx_nvml_open(struct gpx_nvml *nv, gpx_error *err);
void gpx_nvml_close(struct gpx_nvml *nv);

/* Fills err with "what: nvml message (NVML_ERROR_X)"; returns -1. */
int gpx_nvml_fail(const struct gpx_nvml *nv, nvmlReturn_t r, gpx_error *err, const char *what);

#endif
