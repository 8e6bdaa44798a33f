/*
 * Device inventory: one snapshot of every GPU NVML reports. A figure the
 * driver does not report is marked invalid by its bit in `valid`, never by a
 * magic value, so the CLI prints "-" and JSON prints null.
 */
#ifndef GPX_INVENTORY_H
#define GPX_INVENTORY_H

#include "gpuplex/error.h"
#include "nvml/nvml.h"

#include <stdint.h>

#define GPX_INV_MAX_PROCS 64

enum gpx_inv_field {
    GPX_INV_PCI = 1u << 0,
    GPX_INV_UTIL = 1u << 1,
    GPX_INV_TEMP = 1u << 2,
    GPX_INV_POWER = 1u << 3,
    GPX_INV_POWER_LIMIT = 1u << 4,
    GPX_INV_SM_CLOCK = 1u << 5,
    GPX_INV_MEM_CLOCK = 1u << 6,
    GPX_INV_MIG = 1u << 7,
    GPX_INV_PROCS = 1u << 8,
    GPX_INV_CC = 1u << 9,
    GPX_INV_SM_CLOCK_MAX = 1u << 10,
};

struct gpx_gpu_proc {
    uint32_t pid;
    uint64_t used_bytes; /* UINT64_MAX when the driver does not say */
};

struct gpx_gpu_info {
    unsigned index;
    uint32_t valid; /* enum gpx_inv_field bits */
    char name[96];
    char uuid[96];
    char pci_bus_id[32];
    uint64_t memory_total, memory_used, memory_free; /* bytes */
    unsigned util_gpu, util_memory;                  /* % */
    unsigned temperature_c;
    unsigned power_mw, power_limit_mw;
    unsigned sm_clock_mhz, sm_clock_max_mhz, mem_clock_mhz;
    unsigned mig_current, mig_pending;
    int cc_major, cc_minor;
    unsigned proc_count;
    struct gpx_gpu_proc procs[GPX_INV_MAX_PROCS];
};

struct gpx_inventory {
    char driver_version[80];
    int cuda_version; /* 12040; 0 if unknown */
    unsigned count;
    struct gpx_gpu_info *gpus;
};

/* Takes a snapshot of every GPU. Caller frees with gpx_inventory_free. */
int gpx_inventory_read(struct gpx_nvml *nv, struct gpx_inventory *inv, gpx_error *err);
/* Fills one GPU's record. */
int gpx_inventory_read_gpu(struct gpx_nvml *nv, unsigned index, struct gpx_gpu_info *g,
                           gpx_error *err);
void gpx_inventory_free(struct gpx_inventory *inv);
/* Opens NVML, takes a snapshot of every GPU and closes NVML again. */
int gpx_inventory_load(struct gpx_inventory *inv, gpx_error *err);

#endif
