/*
 * MIG through NVML: read a GPU's MIG mode, profiles and instances; check the
 * built-in catalog against what the driver reports (NVML wins, with a
 * warning); and carry out a plan (enable MIG mode, destroy and create GPU
 * instances with placements, each with its default compute instance).
 *
 * The MIG entry points are resolved here from the library the loader opened
 * (struct gpx_nvml.lib), all optional: a driver without them has no MIG.
 */
#ifndef GPX_NVML_MIG_H
#define GPX_NVML_MIG_H

#include "core/mig_catalog.h"
#include "core/mig_plan.h"
#include "nvml/nvml.h"

#include <stdint.h>

struct gpx_nvml_mig {
    nvmlReturn_t (*get_mode)(nvmlDevice_t, unsigned *, unsigned *);
    nvmlReturn_t (*set_mode)(nvmlDevice_t, unsigned, nvmlReturn_t *);
    nvmlReturn_t (*gi_profile_info)(nvmlDevice_t, unsigned, nvmlGpuInstanceProfileInfo_t *);
    nvmlReturn_t (*gi_profile_info_v)(nvmlDevice_t, unsigned, nvmlGpuInstanceProfileInfo_v2_t *);
    nvmlReturn_t (*gi_placements)(nvmlDevice_t, unsigned, nvmlGpuInstancePlacement_t *, unsigned *);
    nvmlReturn_t (*gi_remaining)(nvmlDevice_t, unsigned, unsigned *);
    nvmlReturn_t (*gi_create_at)(nvmlDevice_t, unsigned, const nvmlGpuInstancePlacement_t *,
                                 nvmlGpuInstance_t *);
    nvmlReturn_t (*gi_destroy)(nvmlGpuInstance_t);
    nvmlReturn_t (*gi_list)(nvmlDevice_t, unsigned, nvmlGpuInstance_t *, unsigned *);
    nvmlReturn_t (*gi_info)(nvmlGpuInstance_t, nvmlGpuInstanceInfo_t *);
    nvmlReturn_t (*ci_profile_info)(nvmlGpuInstance_t, unsigned, unsigned,
                                    nvmlComputeInstanceProfileInfo_t *);
    nvmlReturn_t (*ci_create)(nvmlGpuInstance_t, unsigned, nvmlComputeInstance_t *);
    nvmlReturn_t (*ci_destroy)(nvmlComputeInstance_t);
    nvmlReturn_t (*ci_list)(nvmlGpuInstance_t, unsigned, nvmlComputeInstance_t *, unsigned *);
    nvmlReturn_t (*ci_info)(nvmlComputeInstance_t, nvmlComputeInstanceInfo_t *);
    nvmlReturn_t (*mig_device_count)(nvmlDevice_t, unsigned *);
    nvmlReturn_t (*mig_device_by_index)(nvmlDevice_t, unsigned, nvmlDevice_t *);
    nvmlReturn_t (*mig_gi_id)(nvmlDevice_t, unsigned *);
    nvmlReturn_t (*mig_ci_id)(nvmlDevice_t, unsigned *);
};

/* Resolves the MIG entry points of an open NVML; fails if MIG management is missing. */
int gpx_nvml_mig_open(const struct gpx_nvml *nv, struct gpx_nvml_mig *m, gpx_error *err);

#define GPX_MIG_MAX_GI 15U
#define GPX_MIG_MAX_CI 8U

struct gpx_mig_ci_state {
    unsigned id;
    unsigned profile_id;
    unsigned start, size; /* compute slices */
    char uuid[96];        /* the MIG device's "MIG-..." UUID, "" if unknown */
};

struct gpx_mig_gi_state {
    unsigned id;
    unsigned profile_id;
    int profile; /* index in gpx_mig_gpu_state.table, -1 if NVML's id is unknown */
    unsigned start, size;
    unsigned procs;                     /* compute processes running on it */
    int leased;                         /* held by a lease (gpuplexd marks it): never destroyed */
    int memory_known;                   /* its MIG device's memory was read (below) */
    uint64_t memory_total, memory_used; /* bytes (nvmlDeviceGetMemoryInfo on the MIG device) */
    unsigned nci;
    struct gpx_mig_ci_state ci[GPX_MIG_MAX_CI];
};

struct gpx_mig_gpu_state {
    unsigned index;
    char name[96];
    char uuid[96];
    uint32_t pci_device_id;
    int supported; /* the GPU has MIG at all */
    unsigned mode_current, mode_pending;
    int model;                  /* enum gpx_mig_model_id, or -1 if the catalog lacks it */
    struct gpx_mig_model table; /* the catalog checked against NVML (NVML wins) */
    unsigned differences;       /* catalog figures NVML contradicted (each logged) */
    unsigned nprocs;            /* compute processes on the GPU */
    unsigned pids[8];           /* the first of them */
    unsigned ngi;
    struct gpx_mig_gi_state gi[GPX_MIG_MAX_GI];
    unsigned free[GPX_MIG_MAX_PROFILES]; /* remaining capacity per profile (MIG on) */
};

/*
 * Cross-checks catalog model `cat` (may be NULL: unknown model) against the
 * profiles NVML reports for `dev` and writes the table to plan with into
 * *out: NVML's figures wherever they differ, each difference logged as a
 * warning and counted in *differences. Works with MIG mode off.
 */
int gpx_mig_crosscheck(struct gpx_nvml *nv, const struct gpx_nvml_mig *m, nvmlDevice_t dev,
                       const struct gpx_mig_model *cat, struct gpx_mig_model *out,
                       unsigned *differences, gpx_error *err);

/* Reads GPU `index`: mode, checked profile table, instances, processes. */
int gpx_mig_read(struct gpx_nvml *nv, const struct gpx_nvml_mig *m, unsigned index,
                 struct gpx_mig_gpu_state *out, gpx_error *err);

/*
 * The instances of a read GPU as planner input; in-use ones (processes, or
 * marked `leased`) are leased. Only instances of known profiles are listed;
 * gpx_mig_current_gi gives the GI state behind each (the same order).
 */
unsigned gpx_mig_current(const struct gpx_mig_gpu_state *s,
                         struct gpx_mig_instance out[GPX_MIG_MAX_INSTANCES]);
const struct gpx_mig_gi_state *gpx_mig_current_gi(const struct gpx_mig_gpu_state *s, unsigned i);

enum gpx_mig_action_kind {
    GPX_MIG_ACT_ENABLE,    /* set MIG mode on */
    GPX_MIG_ACT_DISABLE,   /* set MIG mode off */
    GPX_MIG_ACT_DESTROY,   /* a GPU instance (and its compute instances) */
    GPX_MIG_ACT_CREATE,    /* a GPU instance with its placement + its default CI */
    GPX_MIG_ACT_CREATE_CI, /* the default CI of a kept GPU instance that had none */
};

struct gpx_mig_action {
    enum gpx_mig_action_kind kind;
    int profile; /* table index (DESTROY, CREATE, CREATE_CI) */
    unsigned start, size;
    unsigned gi_id, ci_id; /* existing (DESTROY) or created ids */
    char uuid[96];         /* created MIG device */
    int done;              /* carried out (0 in a dry run) */
};

struct gpx_mig_apply_result {
    unsigned n;
    struct gpx_mig_action actions[2 + 2 * GPX_MIG_MAX_GI];
};

/*
 * Makes GPU `s->index` match `plan` (computed on s->table from s's instances):
 * destroys exactly the plan's destroy list, creates the plan's new instances
 * at their placements, each with its default compute instance. With
 * `enable`, first turns MIG mode on if it is off (refused while processes
 * run). With `dry_run`, only lists the actions. Stops at the first failure;
 * `res` then says what was done.
 */
int gpx_mig_apply(struct gpx_nvml *nv, const struct gpx_nvml_mig *m,
                  const struct gpx_mig_gpu_state *s, const struct gpx_mig_plan *plan, int enable,
                  int dry_run, struct gpx_mig_apply_result *res, gpx_error *err);

/*
 * Turns MIG mode off on a GPU without instances (refused while processes run
 * or instances exist).
 */
int gpx_mig_disable(struct gpx_nvml *nv, const struct gpx_nvml_mig *m,
                    const struct gpx_mig_gpu_state *s, int dry_run,
                    struct gpx_mig_apply_result *res, gpx_error *err);

/* What `gpuplex mig apply` and gpuplexd's POST /v1/gpus/{id}/mig ask of one GPU. */
struct gpx_mig_demand_opts {
    int enabled; /* 1: MIG on (enabled first if off) with the demand; 0: MIG off */
    int exact;   /* destroy unleased instances beyond the demand (GPX_MIG_PLAN_EXACT) */
    int partial; /* apply even when not all of the demand fits */
    int dry_run; /* plan and list the actions, change nothing */
};

struct gpx_mig_demand_result {
    unsigned ncur; /* the planner's input: s's instances */
    struct gpx_mig_instance cur[GPX_MIG_MAX_INSTANCES];
    struct gpx_mig_plan plan;
    struct gpx_mig_apply_result res; /* what was (or, dry, would be) done */
    int planned;                     /* plan is filled */
};

/*
 * Plans `demand` (one count per s->table profile) against GPU `s`'s
 * instances (leased ones, see gpx_mig_current, are never destroyed) and
 * carries it out (gpx_mig_apply). A demand that does not all fit changes
 * nothing (GPX_E_NO_SPACE naming what is missing) unless o->partial. With
 * enabled = 0 the GPU's unleased instances are destroyed and MIG mode is
 * turned off (GPX_E_BUSY while leased instances remain). *out says what was
 * planned and done, also on failure.
 */
int gpx_mig_apply_demand(struct gpx_nvml *nv, const struct gpx_nvml_mig *m,
                         const struct gpx_mig_gpu_state *s,
                         const unsigned demand[GPX_MIG_MAX_PROFILES],
                         const struct gpx_mig_demand_opts *o, struct gpx_mig_demand_result *out,
                         gpx_error *err);

/* "3g.40gb=1,1g.10gb=2" of the unmet part of a plan, or "none". */
void gpx_mig_unmet_format(const struct gpx_mig_model *t, const struct gpx_mig_plan *pl, char *buf,
                          size_t len);

#endif
