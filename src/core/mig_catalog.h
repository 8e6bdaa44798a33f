/*
 * MIG profile catalog: for each GPU model gpuplex knows, every GPU-instance
 * profile NVIDIA documents (name, NVML profile index and id, compute and
 * memory slices, memory size, SM and engine counts, maximum count, valid
 * placements) and the rule that derives its compute-instance profiles.
 *
 * The catalog is data the planner works on offline. On a real GPU the daemon
 * and the CLI cross-check it against what NVML reports (src/nvml/mig.c) and
 * plan on NVML's figures where they differ: NVML wins.
 *
 * Indexes: a profile's position in gpx_mig_model.profiles ("catalog index") is
 * what the planner and layouts use; `index` is NVML's profile index
 * (NVML_GPU_INSTANCE_PROFILE_*), `id` the profile id nvidia-smi shows and
 * NVML's placement and create calls take.
 */
#ifndef GPX_MIG_CATALOG_H
#define GPX_MIG_CATALOG_H

#include "gpuplex/error.h"

#include <stddef.h>
#include <stdint.h>

#define GPX_MIG_MEMORY_SLICES   8U /* placements are {start, size} over these */
#define GPX_MIG_COMPUTE_SLICES  7U
#define GPX_MIG_MAX_PROFILES    8U /* GI profiles per model */
#define GPX_MIG_MAX_PLACEMENTS  8U /* placements per GI profile */
#define GPX_MIG_MAX_CI_PROFILES 6U /* CI profiles per GI profile */
#define GPX_MIG_MAX_INSTANCES   8U /* GPU instances per GPU (7 on every model here) */
#define GPX_MIG_NAME_MAX        32U

enum gpx_mig_model_id {
    GPX_MIG_A100_40GB = 0,
    GPX_MIG_A100_80GB = 1,
    GPX_MIG_H100_80GB = 2,
    GPX_MIG_H200_141GB = 3,
    GPX_MIG_MODEL_COUNT
};

struct gpx_mig_placement {
    uint8_t start; /* first memory slice (or compute slice for a CI) */
    uint8_t size;
};

struct gpx_mig_gi_profile {
    char name[GPX_MIG_NAME_MAX]; /* "1g.10gb", "1g.10gb+me" */
    uint8_t index;               /* NVML_GPU_INSTANCE_PROFILE_* */
    uint8_t id;                  /* NVML / nvidia-smi profile id: 19, 20, 15, 14, 9, 5, 0 */
    uint8_t compute_slices;      /* of GPX_MIG_COMPUTE_SLICES */
    uint8_t memory_slices;       /* of GPX_MIG_MEMORY_SLICES; every placement's size */
    uint8_t max_count;
    uint8_t copy_engines, decoders, encoders, jpegs, ofas;
    uint16_t sm_count;
    uint32_t memory_mib; /* memorySizeMB as NVML reports it */
    uint8_t placement_count;
    struct gpx_mig_placement placements[GPX_MIG_MAX_PLACEMENTS];
};

struct gpx_mig_ci_profile {
    char name[GPX_MIG_NAME_MAX + 8]; /* "1c.3g.40gb"; a whole-GI CI has the GI's name */
    uint8_t id;                      /* NVML_COMPUTE_INSTANCE_PROFILE_* (index and id coincide) */
    uint8_t slices;
    uint8_t max_count;
    uint16_t sm_count;
    uint8_t placement_count;
    struct gpx_mig_placement placements[GPX_MIG_COMPUTE_SLICES];
};

struct gpx_mig_model {
    char spec_name[GPX_MIG_NAME_MAX]; /* "H100-80GB": what --model and layouts say */
    char board[48];                   /* "H100-SXM5-80GB" */
    const char *nvml_names[4];        /* nvmlDeviceGetName answers that mean this model */
    const char *aliases[3];
    uint32_t pci_device_id; /* 0x233010DE, as mig-parted's device-filter writes it */
    uint32_t memory_mib;
    uint16_t sm_count;
    unsigned profile_count;
    struct gpx_mig_gi_profile profiles[GPX_MIG_MAX_PROFILES];
};

/* The built-in table; NULL for an out-of-range id. */
const struct gpx_mig_model *gpx_mig_model_get(enum gpx_mig_model_id id);
/*
 * Finds a model by spec name ("H100-80GB"), alias ("H100"), board name or an
 * NVML device name ("NVIDIA H100 80GB HBM3"), case-insensitively; -1 if none.
 */
int gpx_mig_model_find(const char *name);
/* Finds a model by PCI device id (0x233010DE); -1 if none. */
int gpx_mig_model_find_pci(uint32_t pci_device_id);
/* "A100-40GB, A100-80GB, H100-80GB, H200-141GB" */
const char *gpx_mig_model_list(void);

/*
 * Catalog index of a profile name in model `m`, or -1. Accepts the profile as
 * nvidia-smi prints it ("1g.10gb+me", "MIG 1g.10gb+me") and as the Kubernetes
 * device plugin spells it ("mig-1g.10gb.me"), case-insensitively.
 */
int gpx_mig_profile_find(const struct gpx_mig_model *m, const char *name);
/* Like gpx_mig_profile_find; the error names the valid profiles of the model. */
int gpx_mig_profile_parse(const struct gpx_mig_model *m, const char *name, gpx_error *err);
int gpx_mig_profile_by_id(const struct gpx_mig_model *m, unsigned id);
int gpx_mig_profile_by_index(const struct gpx_mig_model *m, unsigned nvml_index);
/* "1g.10gb, 1g.10gb+me, ..." into buf (always terminated). */
void gpx_mig_profile_names(const struct gpx_mig_model *m, char *buf, size_t len);
/* Position of `start` among the profile's placements, or -1 if not a valid start. */
int gpx_mig_placement_find(const struct gpx_mig_gi_profile *p, unsigned start);

/*
 * Compute-instance profiles of GI profile `gi` (catalog index) of model `m`:
 * one per CI slice count s in {1, 2, 3, 4, 7} with s <= the GI's compute
 * slices, at most floor(c / s) of them, placed at multiples of the next power
 * of two >= s. Returns how many were written to `out`.
 */
unsigned gpx_mig_ci_profiles(const struct gpx_mig_model *m, unsigned gi,
                             struct gpx_mig_ci_profile out[GPX_MIG_MAX_CI_PROFILES]);
/* The CI profile id that spans a whole GI of `compute_slices` (the default CI). */
unsigned gpx_mig_ci_full_profile_id(unsigned compute_slices);

/* Memory-slice mask (bit i = slice i) of a placement. */
static inline unsigned gpx_mig_slice_mask(unsigned start, unsigned size)
{
    return ((1U << size) - 1U) << start;
}

#endif
