/*
 * Inventory: reads each GPU's static and dynamic figures through the NVML
 * loader. Required figures (name, UUID, memory) fail the read; optional ones
 * that the driver does not support clear their validity bit.
 */
#include "nvml/inventory.h"

#include <stdlib.h>
#include <string.h>

int gpx_inventory_read_gpu(struct gpx_nvml *nv, unsigned index, struct gpx_gpu_info *g,
                           gpx_error *err)
{
    memset(g, 0, sizeof *g);
    g->index = index;
    nvmlDevice_t dev;
    nvmlReturn_t r = nv->device_by_index(index, &dev);
    if (r != NVML_SUCCESS)
        return gpx_nvml_fail(nv, r, err, "nvmlDeviceGetHandleByIndex");
    if ((r = nv->device_name(dev, g->name, sizeof g->name)) != NVML_SUCCESS)
        return gpx_nvml_fail(nv, r, err, "nvmlDeviceGetName");
    if ((r = nv->device_uuid(dev, g->uuid, sizeof g->uuid)) != NVML_SUCCESS)
        return gpx_nvml_fail(nv, r, err, "nvmlDeviceGetUUID");
    g->name[sizeof g->name - 1] = '\0';
    g->uuid[sizeof g->uuid - 1] = '\0';

    if (nv->device_memory_v2) {
        nvmlMemory_v2_t m = {.version = nvmlMemory_v2};
        r = nv->device_memory_v2(dev, &m);
        if (r == NVML_SUCCESS) {
            g->memory_total = m.total;
            g->memory_used = m.used;
            g->memory_free = m.free;
        }
    } else {
        r = NVML_ERROR_FUNCTION_NOT_FOUND;
    }
    if (r != NVML_SUCCESS) {
        nvmlMemory_t m;
        if ((r = nv->device_memory(dev, &m)) != NVML_SUCCESS)
            return gpx_nvml_fail(nv, r, err, "nvmlDeviceGetMemoryInfo");
        g->memory_total = m.total;
        g->memory_used = m.used;
        g->memory_free = m.free;
    }

    nvmlPciInfo_t pci;
    if (nv->device_pci && nv->device_pci(dev, &pci) == NVML_SUCCESS) {
        memcpy(g->pci_bus_id, pci.busId, sizeof g->pci_bus_id);
        g->pci_bus_id[sizeof g->pci_bus_id - 1] = '\0';
        g->valid |= GPX_INV_PCI;
    }
    nvmlUtilization_t u;
    if (nv->device_util && nv->device_util(dev, &u) == NVML_SUCCESS) {
        g->util_gpu = u.gpu;
        g->util_memory = u.memory;
        g->valid |= GPX_INV_UTIL;
    }
    if (nv->device_temperature &&
        nv->device_temperature(dev, NVML_TEMPERATURE_GPU, &g->temperature_c) == NVML_SUCCESS)
        g->valid |= GPX_INV_TEMP;
    if (nv->device_power_usage && nv->device_power_usage(dev, &g->power_mw) == NVML_SUCCESS)
        g->valid |= GPX_INV_POWER;
    if (nv->device_power_limit && nv->device_power_limit(dev, &g->power_limit_mw) == NVML_SUCCESS)
        g->valid |= GPX_INV_POWER_LIMIT;
    if (nv->device_clock && nv->device_clock(dev, NVML_CLOCK_SM, &g->sm_clock_mhz) == NVML_SUCCESS)
        g->valid |= GPX_INV_SM_CLOCK;
    if (nv->device_clock &&
        nv->device_clock(dev, NVML_CLOCK_MEM, &g->mem_clock_mhz) == NVML_SUCCESS)
        g->valid |= GPX_INV_MEM_CLOCK;
    if (nv->device_max_clock &&
        nv->device_max_clock(dev, NVML_CLOCK_SM, &g->sm_clock_max_mhz) == NVML_SUCCESS)
        g->valid |= GPX_INV_SM_CLOCK_MAX;
    if (nv->device_mig_mode &&
        nv->device_mig_mode(dev, &g->mig_current, &g->mig_pending) == NVML_SUCCESS)
        g->valid |= GPX_INV_MIG;
    if (nv->device_cuda_cc && nv->device_cuda_cc(dev, &g->cc_major, &g->cc_minor) == NVML_SUCCESS)
        g->valid |= GPX_INV_CC;
    if (nv->device_processes) {
        /* Grow the buffer on INSUFFICIENT_SIZE (processes may come and go between calls). */
        unsigned cap = GPX_INV_MAX_PROCS;
        nvmlProcessInfo_t *infos = NULL;
        for (int attempt = 0; attempt < 4; attempt++) {
            free(infos);
            infos = calloc(cap, sizeof *infos);
            if (!infos)
                break;
            unsigned n = cap;
            r = nv->device_processes(dev, &n, infos);
            if (r == NVML_ERROR_INSUFFICIENT_SIZE && n > cap) {
                cap = n + 8;
                continue;
            }
            if (r == NVML_SUCCESS) {
                g->proc_count = n < GPX_INV_MAX_PROCS ? n : GPX_INV_MAX_PROCS;
                for (unsigned i = 0; i < g->proc_count; i++) {
                    g->procs[i].pid = infos[i].pid;
                    g->procs[i].used_bytes = infos[i].usedGpuMemory;
                }
                g->valid |= GPX_INV_PROCS;
            }
            break;
        }
        free(infos);
    }
    return 0;
}

int gpx_inventory_read(struct gpx_nvml *nv, struct gpx_inventory *inv, gpx_error *err)
{
    memset(inv, 0, sizeof *inv);
    if (nv->system_driver_version)
        nv->system_driver_version(inv->driver_version, sizeof inv->driver_version);
    inv->driver_version[sizeof inv->driver_version - 1] = '\0';
    if (nv->system_cuda_version)
        nv->system_cuda_version(&inv->cuda_version);
    unsigned count = 0;
    nvmlReturn_t r = nv->device_count(&count);
    if (r != NVML_SUCCESS)
        return gpx_nvml_fail(nv, r, err, "nvmlDeviceGetCount");
    if (count == 0)
        return 0;
    inv->gpus = calloc(count, sizeof *inv->gpus);
    if (!inv->gpus)
        return gpx_error_set(err, GPX_E_NOMEM, "inventory of %u GPUs", count);
    for (unsigned i = 0; i < count; i++) {
        if (gpx_inventory_read_gpu(nv, i, &inv->gpus[i], err) < 0) {
            gpx_inventory_free(inv);
            return gpx_error_wrap(err, "GPU %u", i);
        }
    }
    inv->count = count;
    return 0;
}

void gpx_inventory_free(struct gpx_inventory *inv)
{
    if (!inv)
        return;
    free(inv->gpus);
    inv->gpus = NULL;
    inv->count = 0;
}

int gpx_inventory_load(struct gpx_inventory *inv, gpx_error *err)
{
    struct gpx_nvml nv;
    if (gpx_nvml_open(&nv, err) < 0)
        return -1;
    int rc = gpx_inventory_read(&nv, inv, err);
    gpx_nvml_close(&nv);
    return rc;
}
