/*
 * Simulated MIG state: the GPU and compute instances of one simulated GPU,
 * kept in its `reserved_for_mig` area of the shared state file, so every
 * process that maps the node sees the same instances. The simulated NVML
 * (nvml_mig.c) creates and destroys them; the simulated CUDA driver finds a
 * MIG device by its UUID and binds its process slot to it.
 *
 * Invariants:
 * - A zero-filled area (what `gpuplex sim init` writes) means: no instances.
 * - Everything here is read and changed under the state's robust lock
 *   (gpx_sim_lock); functions below take it themselves unless they say
 *   "_locked".
 * - gi[i] is GPU instance id i. Ids follow the hardware's partition tree as
 *   the MIG user guide's listings show them on A100/H100: a 7-8 slice
 *   instance is id 0, 4-slice ones 1 + start/4, 2-slice ones 3 + start/2,
 *   1-slice ones 7 + start. Compute instance ids are the lowest free 0..7.
 * - A MIG device is one compute instance; its UUID is a pure function of the
 *   parent GPU's UUID and the (GI, CI) ids.
 *
 * For the simulated libcuda (CUDA_VISIBLE_DEVICES=MIG-<uuid>):
 *   gpx_sim_mig_find_uuid()  which GPU/GI/CI a "MIG-..." UUID names, with the
 *                            device's SM count, memory size and name;
 *   gpx_sim_mig_bind()       record that a process slot runs on that MIG
 *                            device: NVML then lists the process with its GI
 *                            and CI ids, counts its memory against the MIG
 *                            device and refuses to destroy the instance;
 *   gpx_sim_mig_used()       bytes that bound processes hold on a GI;
 *   gpx_sim_mig_charge()     an allocation charged within the GI's memory;
 *   gpx_sim_mig_engine_submit_after()  a launch on the MIG device's own engine.
 */
#ifndef GPX_SIM_MIG_STATE_H
#define GPX_SIM_MIG_STATE_H

#include "state.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define GPX_SIM_MIG_MAX_GI 15U /* GPU instance ids 0..14 */
#define GPX_SIM_MIG_MAX_CI 8U  /* compute instance ids 0..7 within a GI */

struct gpx_sim_mig_ci {
    uint8_t used;
    uint8_t profile_id; /* NVML_COMPUTE_INSTANCE_PROFILE_* */
    uint8_t start;      /* compute slices within the GI */
    uint8_t size;
    uint8_t device; /* &device is this compute instance's MIG device handle */
    uint8_t pad[3];
};

struct gpx_sim_mig_gi {
    uint8_t used;
    uint8_t profile_id; /* GI profile id: 19, 20, 15, 14, 9, 5, 0 */
    uint8_t start;      /* memory slices */
    uint8_t size;
    uint8_t pad[4];
    struct gpx_sim_mig_ci ci[GPX_SIM_MIG_MAX_CI];
};

/*
 * Process slot i runs on MIG device (gi - 1, ci - 1) while the slot still
 * holds the process that was bound (pid and start time match); a slot reused
 * by another process is unbound.
 */
struct gpx_sim_mig_binding {
    int32_t pid;
    uint8_t gi, ci; /* id + 1; 0: not bound */
    uint8_t pad[2];
    uint64_t start_ticks;
};

struct gpx_sim_mig {
    uint32_t generation;       /* bumped by every change, for observers */
    int32_t activation_status; /* nvmlReturn_t of the last mode change (IN_USE while pending) */
    struct gpx_sim_mig_gi gi[GPX_SIM_MIG_MAX_GI];
    struct gpx_sim_mig_binding proc[GPX_SIM_MAX_PROCS];
    /* Each MIG device's own engine queue end (ns), as gpx_sim_gpu.engine_busy_until. */
    _Atomic uint64_t engine_busy_until[GPX_SIM_MIG_MAX_GI][GPX_SIM_MIG_MAX_CI];
};

_Static_assert(sizeof(struct gpx_sim_mig) <= sizeof(((struct gpx_sim_gpu *)0)->reserved_for_mig),
               "simulated MIG state must fit gpx_sim_gpu.reserved_for_mig");
_Static_assert(offsetof(struct gpx_sim_gpu, reserved_for_mig) % _Alignof(struct gpx_sim_mig) == 0,
               "reserved_for_mig must be aligned for struct gpx_sim_mig");

static inline struct gpx_sim_mig *gpx_sim_mig_of(struct gpx_sim_gpu *g)
{
    return (struct gpx_sim_mig *)(void *)g->reserved_for_mig;
}

/* A MIG device as the simulated drivers present it. */
struct gpx_sim_mig_device {
    uint32_t gpu;          /* parent GPU index */
    uint32_t gi, ci;       /* GPU and compute instance ids */
    uint32_t sm_count;     /* the compute instance's SMs */
    uint64_t memory_total; /* bytes: the GPU instance's memory */
    char profile[48];      /* "3g.40gb", "1c.3g.40gb" */
    char name[96];         /* "NVIDIA H100 80GB HBM3 MIG 3g.40gb" */
    char uuid[80];         /* "MIG-xxxxxxxx-xxxx-..." */
};

/* The MIG device UUID of (gi, ci) on GPU `g`. */
void gpx_sim_mig_uuid(const struct gpx_sim_gpu *g, unsigned gi, unsigned ci, char out[80]);

/* Finds the MIG device whose UUID is `uuid` on any GPU; 0, or -1 if none. */
int gpx_sim_mig_find_uuid(struct gpx_sim_state *st, const char *uuid,
                          struct gpx_sim_mig_device *out);
/* MIG devices of GPU `gpu` (none unless MIG mode is on), ordered by GI then CI id. */
unsigned gpx_sim_mig_device_count(struct gpx_sim_state *st, uint32_t gpu);
int gpx_sim_mig_device_at(struct gpx_sim_state *st, uint32_t gpu, unsigned index,
                          struct gpx_sim_mig_device *out);
/* Fills *out for (gi, ci) of GPU `gpu`; -1 if that compute instance does not exist. */
int gpx_sim_mig_device_get_locked(struct gpx_sim_state *st, uint32_t gpu, unsigned gi, unsigned ci,
                                  struct gpx_sim_mig_device *out);

/*
 * Binds process slot `p` of GPU `gpu` to MIG device (gi, ci); -1 if that
 * compute instance does not exist. Pass gi = ci = UINT32_MAX to unbind.
 * Slots are unbound automatically when the process is reaped.
 */
int gpx_sim_mig_bind(struct gpx_sim_state *st, uint32_t gpu, const struct gpx_sim_proc *p,
                     uint32_t gi, uint32_t ci);
/* Bytes held by live processes bound to GPU instance `gi` of GPU `gpu`. */
uint64_t gpx_sim_mig_used(struct gpx_sim_state *st, uint32_t gpu, unsigned gi);
/*
 * For the simulated libcuda's allocations on a MIG device: charges `bytes` to
 * slot `p` (bound to GPU instance `gi`) against both the instance's memory,
 * `gi_total` bytes, and the GPU's; 0, or -1 charging nothing. Checked and
 * charged under the lock, so processes racing on one instance never pass
 * it; a refusal first reaps dead processes and tries once more.
 * gpx_sim_mig_held is what bound slots hold on `gi` without the liveness
 * check of gpx_sim_mig_used (cheap enough for cuMemGetInfo).
 */
int gpx_sim_mig_charge(struct gpx_sim_state *st, uint32_t gpu, struct gpx_sim_proc *p, unsigned gi,
                       uint64_t gi_total, uint64_t bytes);
uint64_t gpx_sim_mig_held(struct gpx_sim_state *st, uint32_t gpu, unsigned gi);
/*
 * gpx_sim_engine_submit_after for MIG device (gi, ci) of GPU `gpu`: every MIG
 * device has its own engine (MIG isolates compute). The parent GPU's busy
 * total and kernel count grow by `gpu_ns` (the caller's share of the GPU).
 */
uint64_t gpx_sim_mig_engine_submit_after(struct gpx_sim_state *st, uint32_t gpu, unsigned gi,
                                         unsigned ci, uint64_t not_before, uint64_t ns,
                                         uint64_t gpu_ns, uint64_t *start);
/* The (gi, ci) slot `slot` is bound to; 0 if bound, -1 if not. Caller holds the lock. */
int gpx_sim_mig_proc_ids_locked(struct gpx_sim_gpu *g, unsigned slot, unsigned *gi, unsigned *ci);

/*
 * Applies a pending MIG mode change once no live process holds the GPU (the
 * simulated driver's "reset when idle"): disabling drops every instance.
 * Returns the current mode. gpx_sim_mig_set_mode requests a change (see
 * nvmlDeviceSetMigMode) and returns the activation status.
 */
unsigned gpx_sim_mig_settle(struct gpx_sim_state *st, uint32_t gpu);
int gpx_sim_mig_set_mode(struct gpx_sim_state *st, uint32_t gpu, unsigned mode);

/* Live processes on GPU `gpu` (caller holds the lock; dead slots are reaped). */
unsigned gpx_sim_mig_live_procs_locked(struct gpx_sim_state *st, uint32_t gpu);

/*
 * Internal to the simulated libnvidia-ml.so.1: nvml_sim.c owns the mapping and
 * hands MIG device handles (pointers to gpx_sim_mig_ci.device) to nvml_mig.c.
 */
struct gpx_sim_state *gpx__nvml_state(void);
/* Resolves a MIG device handle: 0 and the ids, or -1 if `dev` is not one. */
int gpx__nvml_mig_handle(const void *dev, uint32_t *gpu, unsigned *gi, unsigned *ci);
/* Describes MIG device handle `dev` (and the bytes in use on it); -1 if not one. */
int gpx__nvml_mig_device(const void *dev, struct gpx_sim_mig_device *out, uint64_t *used);
/* The MIG device handle of a "MIG-..." UUID; -1 if none. */
int gpx__nvml_mig_find_uuid(const char *uuid, void **dev);
/* A GPU's clock of nvmlClockType_t `type` now (max: its maximum), and its power at `util` %. */
unsigned gpx__nvml_clock_mhz(struct gpx_sim_gpu *g, int type, int max);
unsigned gpx__nvml_power_mw(const struct gpx_sim_gpu *g, unsigned util);
/* Copies s into buf (len bytes) as NVML's string getters do: NVML_SUCCESS,
 * NVML_ERROR_INVALID_ARGUMENT (no buf) or NVML_ERROR_INSUFFICIENT_SIZE (an nvmlReturn_t). */
int gpx__nvml_copy_str(char *buf, unsigned int len, const char *s);

#endif
