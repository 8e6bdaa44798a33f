/*
 * Simulated NVML, MIG part: MIG mode, GPU-instance and compute-instance
 * profiles, placements, creation and destruction, listing, and MIG device
 * handles, over the MIG state in the shared state file (mig_state.h).
 *
 * Behaviour follows nvml.h's documentation and the MIG user guide: profile
 * info and possible placements answer whatever the MIG mode, everything that
 * creates, lists or counts instances needs MIG mode on (NOT_SUPPORTED
 * otherwise); overlapping or unknown placements and exhausted profiles are
 * INSUFFICIENT_RESOURCES; destroying a GI that still has CIs, or an instance
 * a process runs on, is IN_USE. Creation without a placement picks the free
 * placement that blocks the fewest other free placements (lowest start on a
 * tie): on A100 this reproduces the user guide's listings (1g instances at
 * slices 6, 4, 5, 0, 1, ...) and its quirk that 19,19,14,9 fails while
 * 9,19,14,19 succeeds.
 *
 * Handles: a GPU instance is a pointer to its gpx_sim_mig_gi, a compute
 * instance to its gpx_sim_mig_ci, a MIG device to that CI's `device` byte;
 * every handle is checked to be one of those, in use, before it is followed.
 */
#define _GNU_SOURCE
#include "abi/nvml_abi.h"
#include "core/mig_catalog.h"
#include "mig_state.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

/* nvmlGpuInstanceProfileInfo_v3_t: newer nvml.h clients ask with it. */
typedef struct {
    unsigned int version, id, sliceCount, instanceCount, multiprocessorCount, copyEngineCount,
        decoderCount, encoderCount, jpegCount, ofaCount;
    unsigned long long memorySizeMB;
    char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
    unsigned int capabilities;
} gi_profile_v3_t;
#define GI_PROFILE_V3 ((unsigned)(sizeof(gi_profile_v3_t) | (3U << 24U)))

typedef struct {
    unsigned int version, id, sliceCount, instanceCount, multiprocessorCount, sharedCopyEngineCount,
        sharedDecoderCount, sharedEncoderCount, sharedJpegCount, sharedOfaCount;
    char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
    unsigned int capabilities;
} ci_profile_v3_t;
#define CI_PROFILE_V3 ((unsigned)(sizeof(ci_profile_v3_t) | (3U << 24U)))

#define GI_PROFILE_COUNT 0x12U /* NVML_GPU_INSTANCE_PROFILE_COUNT in R570+ */
#define CI_PROFILE_COUNT 0x9U

/* Everything a call needs, resolved from a handle. */
struct ctx {
    struct gpx_sim_state *st;
    uint32_t gpu;
    struct gpx_sim_gpu *g;
    struct gpx_sim_mig *m;
    const struct gpx_mig_model *model;
    unsigned gi; /* when resolved from a GI, CI or MIG device handle */
    unsigned ci; /* when resolved from a CI or MIG device handle */
};

static const struct gpx_mig_model *model_of(const struct gpx_sim_gpu *g)
{
    const struct gpx_sim_model_info *mi = gpx_sim_model((enum gpx_sim_model)g->model);
    int m = mi ? gpx_mig_model_find(mi->spec_name) : -1;
    return m < 0 ? NULL : gpx_mig_model_get((enum gpx_mig_model_id)m);
}

static void ctx_fill(struct ctx *c, struct gpx_sim_state *st, uint32_t gpu)
{
    c->st = st;
    c->gpu = gpu;
    c->g = &st->gpus[gpu];
    c->m = gpx_sim_mig_of(c->g);
    c->model = model_of(c->g);
}

/* A parent GPU handle (as nvml_sim.c hands them out). */
static nvmlReturn_t from_device(nvmlDevice_t dev, struct ctx *c)
{
    struct gpx_sim_state *st = gpx__nvml_state();
    if (!st)
        return NVML_ERROR_UNINITIALIZED;
    uintptr_t p = (uintptr_t)dev, base = (uintptr_t)st->gpus;
    if (!dev || p < base || (p - base) % sizeof(struct gpx_sim_gpu) != 0 ||
        (p - base) / sizeof(struct gpx_sim_gpu) >= st->hdr->gpu_count)
        return NVML_ERROR_INVALID_ARGUMENT;
    ctx_fill(c, st, (uint32_t)((p - base) / sizeof(struct gpx_sim_gpu)));
    return c->model ? NVML_SUCCESS : NVML_ERROR_NOT_SUPPORTED;
}

/*
 * Locates `p` inside some GPU's MIG area: the GPU, and the byte offset of p
 * from that GPU's struct gpx_sim_mig. -1 if p is not in any.
 */
static int locate(const void *p, struct gpx_sim_state *st, uint32_t *gpu, size_t *off)
{
    uintptr_t a = (uintptr_t)p;
    for (uint32_t k = 0; k < st->hdr->gpu_count; k++) {
        uintptr_t base = (uintptr_t)gpx_sim_mig_of(&st->gpus[k]);
        if (a >= base && a < base + sizeof(struct gpx_sim_mig)) {
            *gpu = k;
            *off = a - base;
            return 0;
        }
    }
    return -1;
}

/* kind: 0 GI handle, 1 CI handle, 2 MIG device handle. Caller holds the lock. */
static int resolve(const void *h, int kind, struct ctx *c)
{
    struct gpx_sim_state *st = gpx__nvml_state();
    uint32_t gpu;
    size_t off;
    if (!st || !h || locate(h, st, &gpu, &off) < 0)
        return -1;
    size_t gi0 = offsetof(struct gpx_sim_mig, gi);
    if (off < gi0 || off >= gi0 + sizeof(((struct gpx_sim_mig *)0)->gi))
        return -1;
    size_t rel = off - gi0;
    unsigned gi = (unsigned)(rel / sizeof(struct gpx_sim_mig_gi));
    size_t in_gi = rel % sizeof(struct gpx_sim_mig_gi);
    ctx_fill(c, st, gpu);
    if (!c->model || c->g->mig_current != NVML_DEVICE_MIG_ENABLE || !c->m->gi[gi].used)
        return -1;
    c->gi = gi;
    if (kind == 0)
        return in_gi == 0 ? 0 : -1;
    size_t ci0 = offsetof(struct gpx_sim_mig_gi, ci);
    if (in_gi < ci0)
        return -1;
    unsigned ci = (unsigned)((in_gi - ci0) / sizeof(struct gpx_sim_mig_ci));
    size_t in_ci = (in_gi - ci0) % sizeof(struct gpx_sim_mig_ci);
    if (!c->m->gi[gi].ci[ci].used)
        return -1;
    c->ci = ci;
    if (kind == 1)
        return in_ci == 0 ? 0 : -1;
    return in_ci == offsetof(struct gpx_sim_mig_ci, device) ? 0 : -1;
}

int gpx__nvml_mig_handle(const void *dev, uint32_t *gpu, unsigned *gi, unsigned *ci)
{
    struct gpx_sim_state *st = gpx__nvml_state();
    uint32_t k;
    size_t off;
    if (!st || !dev || locate(dev, st, &k, &off) < 0)
        return -1; /* not inside any MIG area: no need to lock */
    struct ctx c;
    gpx_sim_lock(st);
    int rc = resolve(dev, 2, &c);
    gpx_sim_unlock(st);
    if (rc < 0)
        return -1;
    *gpu = c.gpu;
    *gi = c.gi;
    *ci = c.ci;
    return 0;
}

static unsigned gi_id_of(unsigned start, unsigned size)
{
    /* the hardware partition tree: see mig_state.h */
    switch (size) {
    case 8:
        return 0;
    case 4:
        return 1 + start / 4;
    case 2:
        return 3 + start / 2;
    default:
        return 7 + start;
    }
}

/* Slices of an instance read from the state file: a damaged record takes them all. */
static unsigned file_mask(unsigned start, unsigned size)
{
    if (size == 0 || size > GPX_MIG_MEMORY_SLICES || start >= GPX_MIG_MEMORY_SLICES ||
        start + size > GPX_MIG_MEMORY_SLICES)
        return (1U << GPX_MIG_MEMORY_SLICES) - 1U;
    return gpx_mig_slice_mask(start, size);
}

static unsigned occupancy(const struct gpx_sim_mig *m)
{
    unsigned occ = 0;
    for (unsigned i = 0; i < GPX_SIM_MIG_MAX_GI; i++)
        if (m->gi[i].used)
            occ |= file_mask(m->gi[i].start, m->gi[i].size);
    return occ;
}

static unsigned compute_used(const struct ctx *c)
{
    unsigned n = 0;
    for (unsigned i = 0; i < GPX_SIM_MIG_MAX_GI; i++) {
        int p = c->m->gi[i].used ? gpx_mig_profile_by_id(c->model, c->m->gi[i].profile_id) : -1;
        if (p >= 0)
            n += c->model->profiles[p].compute_slices;
    }
    return n;
}

static unsigned count_of(const struct ctx *c, unsigned profile_id)
{
    unsigned n = 0;
    for (unsigned i = 0; i < GPX_SIM_MIG_MAX_GI; i++)
        n += c->m->gi[i].used && c->m->gi[i].profile_id == profile_id;
    return n;
}

/* Can profile `p` (catalog index) go at placement k now? */
static int placeable(const struct ctx *c, unsigned p, unsigned k, unsigned occ)
{
    const struct gpx_mig_gi_profile *g = &c->model->profiles[p];
    const struct gpx_mig_placement *pl = &g->placements[k];
    return !(occ & gpx_mig_slice_mask(pl->start, pl->size)) && count_of(c, g->id) < g->max_count &&
           compute_used(c) + g->compute_slices <= GPX_MIG_COMPUTE_SLICES;
}

/* The driver's choice without a placement (see the top of this file); -1 if none fits. */
static int default_placement(const struct ctx *c, unsigned p)
{
    unsigned occ = occupancy(c->m);
    int best = -1;
    unsigned best_cost = ~0U;
    const struct gpx_mig_gi_profile *g = &c->model->profiles[p];
    for (unsigned k = 0; k < g->placement_count; k++) {
        if (!placeable(c, p, k, occ))
            continue;
        unsigned mask = gpx_mig_slice_mask(g->placements[k].start, g->placements[k].size);
        unsigned cost = 0;
        for (unsigned q = 0; q < c->model->profile_count; q++) {
            const struct gpx_mig_gi_profile *o = &c->model->profiles[q];
            for (unsigned j = 0; j < o->placement_count; j++) {
                unsigned om = gpx_mig_slice_mask(o->placements[j].start, o->placements[j].size);
                cost += !(om & occ) && (om & mask);
            }
        }
        if (cost < best_cost) {
            best_cost = cost;
            best = (int)k;
        }
    }
    return best;
}

static nvmlReturn_t create_gi(struct ctx *c, unsigned profile_id,
                              const nvmlGpuInstancePlacement_t *want, nvmlGpuInstance_t *out)
{
    int p = gpx_mig_profile_by_id(c->model, profile_id);
    if (p < 0)
        return NVML_ERROR_INVALID_ARGUMENT;
    const struct gpx_mig_gi_profile *g = &c->model->profiles[p];
    int k;
    if (want) {
        if (want->size != g->memory_slices)
            return NVML_ERROR_INVALID_ARGUMENT;
        k = gpx_mig_placement_find(g, want->start);
        if (k < 0 || !placeable(c, (unsigned)p, (unsigned)k, occupancy(c->m)))
            return NVML_ERROR_INSUFFICIENT_RESOURCES;
    } else {
        k = default_placement(c, (unsigned)p);
        if (k < 0)
            return NVML_ERROR_INSUFFICIENT_RESOURCES;
    }
    unsigned start = g->placements[k].start, size = g->placements[k].size;
    unsigned id = gi_id_of(start, size);
    if (id >= GPX_SIM_MIG_MAX_GI || c->m->gi[id].used)
        return NVML_ERROR_INSUFFICIENT_RESOURCES;
    struct gpx_sim_mig_gi *G = &c->m->gi[id];
    memset(G, 0, sizeof *G);
    G->used = 1;
    G->profile_id = g->id;
    G->start = (uint8_t)start;
    G->size = (uint8_t)size;
    c->m->generation++;
    *out = (nvmlGpuInstance_t)(void *)G;
    return NVML_SUCCESS;
}

/* Locks, resolves a parent device handle and requires MIG mode on. */
#define DEVICE_MIG_ON(c, dev)                                                                      \
    struct ctx c;                                                                                  \
    nvmlReturn_t r_ = from_device(dev, &(c));                                                      \
    if (r_ != NVML_SUCCESS)                                                                        \
        return r_;                                                                                 \
    if (gpx_sim_mig_settle((c).st, (c).gpu) != NVML_DEVICE_MIG_ENABLE)                             \
        return NVML_ERROR_NOT_SUPPORTED;                                                           \
    gpx_sim_lock((c).st)

#define UNLOCK_RETURN(c, r)                                                                        \
    do {                                                                                           \
        nvmlReturn_t rr_ = (r);                                                                    \
        gpx_sim_unlock((c).st);                                                                    \
        return rr_;                                                                                \
    } while (0)

/* Resolves a GI / CI handle under the lock. */
#define HANDLE(c, h, kind)                                                                         \
    struct gpx_sim_state *st_ = gpx__nvml_state();                                                 \
    if (!st_)                                                                                      \
        return NVML_ERROR_UNINITIALIZED;                                                           \
    struct ctx c;                                                                                  \
    gpx_sim_lock(st_);                                                                             \
    if (resolve((h), (kind), &(c)) < 0) {                                                          \
        gpx_sim_unlock(st_);                                                                       \
        return NVML_ERROR_INVALID_ARGUMENT;                                                        \
    }

EXPORT nvmlReturn_t nvmlDeviceSetMigMode(nvmlDevice_t dev, unsigned int mode,
                                         nvmlReturn_t *activationStatus)
{
    struct ctx c;
    nvmlReturn_t r = from_device(dev, &c);
    if (r != NVML_SUCCESS)
        return r;
    if (!activationStatus || (mode != NVML_DEVICE_MIG_ENABLE && mode != NVML_DEVICE_MIG_DISABLE))
        return NVML_ERROR_INVALID_ARGUMENT;
    *activationStatus = (nvmlReturn_t)gpx_sim_mig_set_mode(c.st, c.gpu, mode);
    return NVML_SUCCESS;
}

static void fill_gi_info(const struct gpx_mig_gi_profile *g, unsigned *id, unsigned *slices,
                         unsigned *count, unsigned *sms, unsigned *ce, unsigned *dec, unsigned *enc,
                         unsigned *jpeg, unsigned *ofa, unsigned long long *mib)
{
    *id = g->id;
    *slices = g->compute_slices;
    *count = g->max_count;
    *sms = g->sm_count;
    *ce = g->copy_engines;
    *dec = g->decoders;
    *enc = g->encoders;
    *jpeg = g->jpegs;
    *ofa = g->ofas;
    *mib = g->memory_mib;
}

/* Catalog index of NVML profile index `profile` for this device, or an error. */
static nvmlReturn_t gi_profile(nvmlDevice_t dev, unsigned profile, struct ctx *c, int *p)
{
    nvmlReturn_t r = from_device(dev, c);
    if (r != NVML_SUCCESS)
        return r;
    if (profile >= GI_PROFILE_COUNT)
        return NVML_ERROR_INVALID_ARGUMENT;
    *p = gpx_mig_profile_by_index(c->model, profile);
    return *p < 0 ? NVML_ERROR_NOT_SUPPORTED : NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfo(nvmlDevice_t dev, unsigned int profile,
                                                        nvmlGpuInstanceProfileInfo_t *info)
{
    struct ctx c;
    int p;
    nvmlReturn_t r = gi_profile(dev, profile, &c, &p);
    if (r != NVML_SUCCESS)
        return r;
    if (!info)
        return NVML_ERROR_INVALID_ARGUMENT;
    const struct gpx_mig_gi_profile *g = &c.model->profiles[p];
    memset(info, 0, sizeof *info);
    fill_gi_info(g, &info->id, &info->sliceCount, &info->instanceCount, &info->multiprocessorCount,
                 &info->copyEngineCount, &info->decoderCount, &info->encoderCount, &info->jpegCount,
                 &info->ofaCount, &info->memorySizeMB);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfoV(nvmlDevice_t dev, unsigned int profile,
                                                         nvmlGpuInstanceProfileInfo_v2_t *info)
{
    struct ctx c;
    int p;
    nvmlReturn_t r = gi_profile(dev, profile, &c, &p);
    if (r != NVML_SUCCESS)
        return r;
    if (!info)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (info->version != nvmlGpuInstanceProfileInfo_v2 && info->version != GI_PROFILE_V3)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    if (gpx_sim_mig_settle(c.st, c.gpu) != NVML_DEVICE_MIG_ENABLE)
        return NVML_ERROR_NOT_SUPPORTED;
    const struct gpx_mig_gi_profile *g = &c.model->profiles[p];
    char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
    snprintf(name, sizeof name, "MIG %s", g->name);
    if (info->version == GI_PROFILE_V3) {
        gi_profile_v3_t *v3 = (gi_profile_v3_t *)(void *)info;
        memset(v3, 0, sizeof *v3);
        v3->version = GI_PROFILE_V3;
        fill_gi_info(g, &v3->id, &v3->sliceCount, &v3->instanceCount, &v3->multiprocessorCount,
                     &v3->copyEngineCount, &v3->decoderCount, &v3->encoderCount, &v3->jpegCount,
                     &v3->ofaCount, &v3->memorySizeMB);
        memcpy(v3->name, name, sizeof name);
        return NVML_SUCCESS;
    }
    memset(info, 0, sizeof *info);
    info->version = nvmlGpuInstanceProfileInfo_v2;
    fill_gi_info(g, &info->id, &info->sliceCount, &info->instanceCount, &info->multiprocessorCount,
                 &info->copyEngineCount, &info->decoderCount, &info->encoderCount, &info->jpegCount,
                 &info->ofaCount, &info->memorySizeMB);
    memcpy(info->name, name, sizeof name);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstancePossiblePlacements_v2(
    nvmlDevice_t dev, unsigned int profileId, nvmlGpuInstancePlacement_t *placements,
    unsigned int *count)
{
    struct ctx c;
    nvmlReturn_t r = from_device(dev, &c);
    if (r != NVML_SUCCESS)
        return r;
    if (!count)
        return NVML_ERROR_INVALID_ARGUMENT;
    int p = gpx_mig_profile_by_id(c.model, profileId);
    if (p < 0)
        return NVML_ERROR_NOT_SUPPORTED;
    const struct gpx_mig_gi_profile *g = &c.model->profiles[p];
    if (placements)
        for (unsigned k = 0; k < g->placement_count; k++)
            placements[k] =
                (nvmlGpuInstancePlacement_t){g->placements[k].start, g->placements[k].size};
    *count = g->placement_count;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceRemainingCapacity(nvmlDevice_t dev,
                                                              unsigned int profileId,
                                                              unsigned int *count)
{
    DEVICE_MIG_ON(c, dev);
    int p = gpx_mig_profile_by_id(c.model, profileId);
    if (!count || p < 0)
        UNLOCK_RETURN(c, p < 0 ? NVML_ERROR_NOT_SUPPORTED : NVML_ERROR_INVALID_ARGUMENT);
    /* Placements of one profile never partly overlap, so every free one counts. */
    const struct gpx_mig_gi_profile *g = &c.model->profiles[p];
    unsigned occ = occupancy(c.m), free_n = 0;
    for (unsigned k = 0; k < g->placement_count; k++)
        free_n += !(occ & gpx_mig_slice_mask(g->placements[k].start, g->placements[k].size));
    unsigned left = g->max_count - count_of(&c, g->id);
    unsigned compute_left = (GPX_MIG_COMPUTE_SLICES - compute_used(&c)) / g->compute_slices;
    if (left > free_n)
        left = free_n;
    if (left > compute_left)
        left = compute_left;
    *count = left;
    UNLOCK_RETURN(c, NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlDeviceCreateGpuInstance(nvmlDevice_t dev, unsigned int profileId,
                                                nvmlGpuInstance_t *gpuInstance)
{
    DEVICE_MIG_ON(c, dev);
    if (!gpuInstance)
        UNLOCK_RETURN(c, NVML_ERROR_INVALID_ARGUMENT);
    UNLOCK_RETURN(c, create_gi(&c, profileId, NULL, gpuInstance));
}

EXPORT nvmlReturn_t nvmlDeviceCreateGpuInstanceWithPlacement(
    nvmlDevice_t dev, unsigned int profileId, const nvmlGpuInstancePlacement_t *placement,
    nvmlGpuInstance_t *gpuInstance)
{
    DEVICE_MIG_ON(c, dev);
    if (!gpuInstance || !placement)
        UNLOCK_RETURN(c, NVML_ERROR_INVALID_ARGUMENT);
    UNLOCK_RETURN(c, create_gi(&c, profileId, placement, gpuInstance));
}

/* A live process runs on GI `gi` (any CI when ci < 0). Caller holds the lock. */
static int busy(const struct ctx *c, unsigned gi, int ci)
{
    for (unsigned i = 0; i < GPX_SIM_MAX_PROCS; i++) {
        unsigned bgi, bci;
        if (gpx_sim_mig_proc_ids_locked(c->g, i, &bgi, &bci) == 0 && bgi == gi &&
            (ci < 0 || bci == (unsigned)ci))
            return 1;
    }
    return 0;
}

EXPORT nvmlReturn_t nvmlGpuInstanceDestroy(nvmlGpuInstance_t gpuInstance)
{
    HANDLE(c, gpuInstance, 0);
    struct gpx_sim_mig_gi *G = &c.m->gi[c.gi];
    for (unsigned k = 0; k < GPX_SIM_MIG_MAX_CI; k++)
        if (G->ci[k].used)
            UNLOCK_RETURN(c, NVML_ERROR_IN_USE);
    if (busy(&c, c.gi, -1))
        UNLOCK_RETURN(c, NVML_ERROR_IN_USE);
    memset(G, 0, sizeof *G);
    c.m->generation++;
    UNLOCK_RETURN(c, NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstances(nvmlDevice_t dev, unsigned int profileId,
                                              nvmlGpuInstance_t *gpuInstances, unsigned int *count)
{
    DEVICE_MIG_ON(c, dev);
    if (!gpuInstances || !count || gpx_mig_profile_by_id(c.model, profileId) < 0)
        UNLOCK_RETURN(c, NVML_ERROR_INVALID_ARGUMENT);
    unsigned n = 0;
    for (unsigned i = 0; i < GPX_SIM_MIG_MAX_GI; i++)
        if (c.m->gi[i].used && c.m->gi[i].profile_id == profileId)
            gpuInstances[n++] = (nvmlGpuInstance_t)(void *)&c.m->gi[i];
    *count = n;
    UNLOCK_RETURN(c, NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceById(nvmlDevice_t dev, unsigned int id,
                                                 nvmlGpuInstance_t *gpuInstance)
{
    DEVICE_MIG_ON(c, dev);
    if (!gpuInstance || id >= GPX_SIM_MIG_MAX_GI)
        UNLOCK_RETURN(c, gpuInstance ? NVML_ERROR_NOT_FOUND : NVML_ERROR_INVALID_ARGUMENT);
    if (!c.m->gi[id].used)
        UNLOCK_RETURN(c, NVML_ERROR_NOT_FOUND);
    *gpuInstance = (nvmlGpuInstance_t)(void *)&c.m->gi[id];
    UNLOCK_RETURN(c, NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlGpuInstanceGetInfo(nvmlGpuInstance_t gpuInstance,
                                           nvmlGpuInstanceInfo_t *info)
{
    HANDLE(c, gpuInstance, 0);
    if (!info)
        UNLOCK_RETURN(c, NVML_ERROR_INVALID_ARGUMENT);
    const struct gpx_sim_mig_gi *G = &c.m->gi[c.gi];
    info->device = (nvmlDevice_t)(void *)c.g;
    info->id = c.gi;
    info->profileId = G->profile_id;
    info->placement.start = G->start;
    info->placement.size = G->size;
    UNLOCK_RETURN(c, NVML_SUCCESS);
}

/* The CI profile `profile` of GI c->gi; -1 if not offered. */
static int ci_profile(const struct ctx *c, unsigned profile, struct gpx_mig_ci_profile *out)
{
    int p = gpx_mig_profile_by_id(c->model, c->m->gi[c->gi].profile_id);
    if (p < 0)
        return -1;
    struct gpx_mig_ci_profile cps[GPX_MIG_MAX_CI_PROFILES];
    unsigned n = gpx_mig_ci_profiles(c->model, (unsigned)p, cps);
    for (unsigned k = 0; k < n; k++) {
        if (cps[k].id == profile) {
            *out = cps[k];
            return 0;
        }
    }
    return -1;
}

static nvmlReturn_t ci_profile_checked(struct ctx *c, unsigned profile, unsigned eng,
                                       struct gpx_mig_ci_profile *cp)
{
    if (profile >= CI_PROFILE_COUNT || eng != NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED)
        return NVML_ERROR_INVALID_ARGUMENT;
    return ci_profile(c, profile, cp) < 0 ? NVML_ERROR_NOT_SUPPORTED : NVML_SUCCESS;
}

static void ci_engines(const struct ctx *c, unsigned *ce, unsigned *dec, unsigned *enc,
                       unsigned *jpeg, unsigned *ofa)
{
    int p = gpx_mig_profile_by_id(c->model, c->m->gi[c->gi].profile_id);
    const struct gpx_mig_gi_profile *g = &c->model->profiles[p < 0 ? 0 : p];
    *ce = g->copy_engines;
    *dec = g->decoders;
    *enc = g->encoders;
    *jpeg = g->jpegs;
    *ofa = g->ofas;
}

EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstanceProfileInfo(
    nvmlGpuInstance_t gpuInstance, unsigned int profile, unsigned int engProfile,
    nvmlComputeInstanceProfileInfo_t *info)
{
    HANDLE(c, gpuInstance, 0);
    struct gpx_mig_ci_profile cp;
    nvmlReturn_t r = ci_profile_checked(&c, profile, engProfile, &cp);
    if (r != NVML_SUCCESS || !info)
        UNLOCK_RETURN(c, r != NVML_SUCCESS ? r : NVML_ERROR_INVALID_ARGUMENT);
    memset(info, 0, sizeof *info);
    info->id = cp.id;
    info->sliceCount = cp.slices;
    info->instanceCount = cp.max_count;
    info->multiprocessorCount = cp.sm_count;
    ci_engines(&c, &info->sharedCopyEngineCount, &info->sharedDecoderCount,
               &info->sharedEncoderCount, &info->sharedJpegCount, &info->sharedOfaCount);
    UNLOCK_RETURN(c, NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstanceProfileInfoV(
    nvmlGpuInstance_t gpuInstance, unsigned int profile, unsigned int engProfile,
    nvmlComputeInstanceProfileInfo_v2_t *info)
{
    HANDLE(c, gpuInstance, 0);
    struct gpx_mig_ci_profile cp;
    nvmlReturn_t r = ci_profile_checked(&c, profile, engProfile, &cp);
    if (r != NVML_SUCCESS || !info)
        UNLOCK_RETURN(c, r != NVML_SUCCESS ? r : NVML_ERROR_INVALID_ARGUMENT);
    if (info->version != nvmlComputeInstanceProfileInfo_v2 && info->version != CI_PROFILE_V3)
        UNLOCK_RETURN(c, NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    unsigned version = info->version;
    if (version == CI_PROFILE_V3)
        memset(info, 0, sizeof(ci_profile_v3_t));
    else
        memset(info, 0, sizeof *info);
    info->version = version;
    info->id = cp.id;
    info->sliceCount = cp.slices;
    info->instanceCount = cp.max_count;
    info->multiprocessorCount = cp.sm_count;
    ci_engines(&c, &info->sharedCopyEngineCount, &info->sharedDecoderCount,
               &info->sharedEncoderCount, &info->sharedJpegCount, &info->sharedOfaCount);
    snprintf(info->name, sizeof info->name, "MIG %s", cp.name);
    UNLOCK_RETURN(c, NVML_SUCCESS);
}

static unsigned ci_occupancy(const struct gpx_sim_mig_gi *G)
{
    unsigned occ = 0;
    for (unsigned k = 0; k < GPX_SIM_MIG_MAX_CI; k++)
        if (G->ci[k].used)
            occ |= file_mask(G->ci[k].start, G->ci[k].size);
    return occ;
}

static unsigned ci_count(const struct gpx_sim_mig_gi *G, unsigned profile)
{
    unsigned n = 0;
    for (unsigned k = 0; k < GPX_SIM_MIG_MAX_CI; k++)
        n += G->ci[k].used && G->ci[k].profile_id == profile;
    return n;
}

EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstanceRemainingCapacity(
    nvmlGpuInstance_t gpuInstance, unsigned int profileId, unsigned int *count)
{
    HANDLE(c, gpuInstance, 0);
    struct gpx_mig_ci_profile cp;
    if (!count)
        UNLOCK_RETURN(c, NVML_ERROR_INVALID_ARGUMENT);
    if (ci_profile(&c, profileId, &cp) < 0)
        UNLOCK_RETURN(c, NVML_ERROR_NOT_SUPPORTED);
    const struct gpx_sim_mig_gi *G = &c.m->gi[c.gi];
    unsigned occ = ci_occupancy(G), n = 0;
    for (unsigned k = 0; k < cp.placement_count; k++)
        n += !(occ & gpx_mig_slice_mask(cp.placements[k].start, cp.placements[k].size));
    unsigned left = cp.max_count - ci_count(G, profileId);
    *count = n < left ? n : left;
    UNLOCK_RETURN(c, NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstancePossiblePlacements(
    nvmlGpuInstance_t gpuInstance, unsigned int profileId,
    nvmlComputeInstancePlacement_t *placements, unsigned int *count)
{
    HANDLE(c, gpuInstance, 0);
    struct gpx_mig_ci_profile cp;
    if (!count)
        UNLOCK_RETURN(c, NVML_ERROR_INVALID_ARGUMENT);
    if (ci_profile(&c, profileId, &cp) < 0)
        UNLOCK_RETURN(c, NVML_ERROR_NOT_SUPPORTED);
    if (placements)
        for (unsigned k = 0; k < cp.placement_count; k++)
            placements[k] =
                (nvmlComputeInstancePlacement_t){cp.placements[k].start, cp.placements[k].size};
    *count = cp.placement_count;
    UNLOCK_RETURN(c, NVML_SUCCESS);
}

static nvmlReturn_t create_ci(struct ctx *c, unsigned profileId,
                              const nvmlComputeInstancePlacement_t *want,
                              nvmlComputeInstance_t *out)
{
    struct gpx_mig_ci_profile cp;
    if (!out || ci_profile(c, profileId, &cp) < 0)
        return out ? NVML_ERROR_NOT_SUPPORTED : NVML_ERROR_INVALID_ARGUMENT;
    struct gpx_sim_mig_gi *G = &c->m->gi[c->gi];
    if (ci_count(G, profileId) >= cp.max_count)
        return NVML_ERROR_INSUFFICIENT_RESOURCES;
    unsigned occ = ci_occupancy(G);
    int k = -1;
    for (unsigned j = 0; j < cp.placement_count && k < 0; j++) {
        if (want && (cp.placements[j].start != want->start || want->size != cp.slices))
            continue;
        if (!(occ & gpx_mig_slice_mask(cp.placements[j].start, cp.placements[j].size)))
            k = (int)j;
    }
    if (want && want->size != cp.slices)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (k < 0)
        return NVML_ERROR_INSUFFICIENT_RESOURCES;
    for (unsigned id = 0; id < GPX_SIM_MIG_MAX_CI; id++) {
        if (G->ci[id].used)
            continue;
        struct gpx_sim_mig_ci *C = &G->ci[id];
        memset(C, 0, sizeof *C);
        C->used = 1;
        C->profile_id = cp.id;
        C->start = cp.placements[k].start;
        C->size = cp.placements[k].size;
        c->m->generation++;
        *out = (nvmlComputeInstance_t)(void *)C;
        return NVML_SUCCESS;
    }
    return NVML_ERROR_INSUFFICIENT_RESOURCES;
}

EXPORT nvmlReturn_t nvmlGpuInstanceCreateComputeInstance(nvmlGpuInstance_t gpuInstance,
                                                         unsigned int profileId,
                                                         nvmlComputeInstance_t *computeInstance)
{
    HANDLE(c, gpuInstance, 0);
    UNLOCK_RETURN(c, create_ci(&c, profileId, NULL, computeInstance));
}

EXPORT nvmlReturn_t nvmlGpuInstanceCreateComputeInstanceWithPlacement(
    nvmlGpuInstance_t gpuInstance, unsigned int profileId,
    const nvmlComputeInstancePlacement_t *placement, nvmlComputeInstance_t *computeInstance)
{
    HANDLE(c, gpuInstance, 0);
    if (!placement)
        UNLOCK_RETURN(c, NVML_ERROR_INVALID_ARGUMENT);
    UNLOCK_RETURN(c, create_ci(&c, profileId, placement, computeInstance));
}

EXPORT nvmlReturn_t nvmlComputeInstanceDestroy(nvmlComputeInstance_t computeInstance)
{
    HANDLE(c, computeInstance, 1);
    if (busy(&c, c.gi, (int)c.ci))
        UNLOCK_RETURN(c, NVML_ERROR_IN_USE);
    memset(&c.m->gi[c.gi].ci[c.ci], 0, sizeof(struct gpx_sim_mig_ci));
    c.m->generation++;
    UNLOCK_RETURN(c, NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstances(nvmlGpuInstance_t gpuInstance,
                                                       unsigned int profileId,
                                                       nvmlComputeInstance_t *computeInstances,
                                                       unsigned int *count)
{
    HANDLE(c, gpuInstance, 0);
    struct gpx_mig_ci_profile cp;
    if (!computeInstances || !count)
        UNLOCK_RETURN(c, NVML_ERROR_INVALID_ARGUMENT);
    if (ci_profile(&c, profileId, &cp) < 0)
        UNLOCK_RETURN(c, NVML_ERROR_NOT_SUPPORTED);
    unsigned n = 0;
    struct gpx_sim_mig_gi *G = &c.m->gi[c.gi];
    for (unsigned k = 0; k < GPX_SIM_MIG_MAX_CI; k++)
        if (G->ci[k].used && G->ci[k].profile_id == profileId)
            computeInstances[n++] = (nvmlComputeInstance_t)(void *)&G->ci[k];
    *count = n;
    UNLOCK_RETURN(c, NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstanceById(nvmlGpuInstance_t gpuInstance,
                                                          unsigned int id,
                                                          nvmlComputeInstance_t *computeInstance)
{
    HANDLE(c, gpuInstance, 0);
    if (!computeInstance)
        UNLOCK_RETURN(c, NVML_ERROR_INVALID_ARGUMENT);
    if (id >= GPX_SIM_MIG_MAX_CI || !c.m->gi[c.gi].ci[id].used)
        UNLOCK_RETURN(c, NVML_ERROR_NOT_FOUND);
    *computeInstance = (nvmlComputeInstance_t)(void *)&c.m->gi[c.gi].ci[id];
    UNLOCK_RETURN(c, NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlComputeInstanceGetInfo_v2(nvmlComputeInstance_t computeInstance,
                                                  nvmlComputeInstanceInfo_t *info)
{
    HANDLE(c, computeInstance, 1);
    if (!info)
        UNLOCK_RETURN(c, NVML_ERROR_INVALID_ARGUMENT);
    const struct gpx_sim_mig_ci *C = &c.m->gi[c.gi].ci[c.ci];
    info->device = (nvmlDevice_t)(void *)c.g;
    info->gpuInstance = (nvmlGpuInstance_t)(void *)&c.m->gi[c.gi];
    info->id = c.ci;
    info->profileId = C->profile_id;
    info->placement.start = C->start;
    info->placement.size = C->size;
    UNLOCK_RETURN(c, NVML_SUCCESS);
}

/* The unversioned name older clients resolve. */
EXPORT nvmlReturn_t nvmlComputeInstanceGetInfo(nvmlComputeInstance_t computeInstance,
                                               nvmlComputeInstanceInfo_t *info);
EXPORT nvmlReturn_t nvmlComputeInstanceGetInfo(nvmlComputeInstance_t computeInstance,
                                               nvmlComputeInstanceInfo_t *info)
{
    return nvmlComputeInstanceGetInfo_v2(computeInstance, info);
}

EXPORT nvmlReturn_t nvmlDeviceIsMigDeviceHandle(nvmlDevice_t dev, unsigned int *isMigDevice)
{
    struct gpx_sim_state *st = gpx__nvml_state();
    if (!st)
        return NVML_ERROR_UNINITIALIZED;
    if (!isMigDevice)
        return NVML_ERROR_INVALID_ARGUMENT;
    uint32_t gpu;
    unsigned gi, ci;
    struct ctx c;
    if (from_device(dev, &c) != NVML_ERROR_INVALID_ARGUMENT) {
        *isMigDevice = 0;
        return NVML_SUCCESS;
    }
    if (gpx__nvml_mig_handle(dev, &gpu, &gi, &ci) == 0) {
        *isMigDevice = 1;
        return NVML_SUCCESS;
    }
    return NVML_ERROR_INVALID_ARGUMENT;
}

static nvmlReturn_t mig_ids(nvmlDevice_t dev, unsigned *gi, unsigned *ci)
{
    struct gpx_sim_state *st = gpx__nvml_state();
    if (!st)
        return NVML_ERROR_UNINITIALIZED;
    uint32_t gpu;
    struct ctx c;
    if (from_device(dev, &c) != NVML_ERROR_INVALID_ARGUMENT)
        return NVML_ERROR_NOT_SUPPORTED; /* a whole GPU has no instance ids */
    return gpx__nvml_mig_handle(dev, &gpu, gi, ci) == 0 ? NVML_SUCCESS
                                                        : NVML_ERROR_INVALID_ARGUMENT;
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t dev, unsigned int *id)
{
    unsigned gi, ci;
    if (!id)
        return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t r = mig_ids(dev, &gi, &ci);
    if (r == NVML_SUCCESS)
        *id = gi;
    return r;
}

EXPORT nvmlReturn_t nvmlDeviceGetComputeInstanceId(nvmlDevice_t dev, unsigned int *id)
{
    unsigned gi, ci;
    if (!id)
        return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t r = mig_ids(dev, &gi, &ci);
    if (r == NVML_SUCCESS)
        *id = ci;
    return r;
}

/*
 * A MIG device's make-up (what dcgm and nvidia-smi -q read for an instance):
 * its compute instance's SMs and slices, its GPU instance's engines, slices
 * and memory. As the driver, a whole GPU's handle gets NOT_SUPPORTED: the
 * call describes MIG devices only.
 */
EXPORT nvmlReturn_t nvmlDeviceGetAttributes_v2(nvmlDevice_t dev, nvmlDeviceAttributes_t *attributes)
{
    struct gpx_sim_state *st = gpx__nvml_state();
    if (!st)
        return NVML_ERROR_UNINITIALIZED;
    struct ctx whole;
    if (from_device(dev, &whole) != NVML_ERROR_INVALID_ARGUMENT)
        return NVML_ERROR_NOT_SUPPORTED;
    HANDLE(c, dev, 2);
    if (!attributes)
        UNLOCK_RETURN(c, NVML_ERROR_INVALID_ARGUMENT);
    const struct gpx_sim_mig_gi *G = &c.m->gi[c.gi];
    int p = gpx_mig_profile_by_id(c.model, G->profile_id);
    struct gpx_mig_ci_profile cp;
    if (p < 0 || ci_profile(&c, G->ci[c.ci].profile_id, &cp) < 0)
        UNLOCK_RETURN(c, NVML_ERROR_UNKNOWN);
    const struct gpx_mig_gi_profile *g = &c.model->profiles[p];
    memset(attributes, 0, sizeof *attributes);
    attributes->multiprocessorCount = cp.sm_count;
    attributes->computeInstanceSliceCount = cp.slices;
    attributes->gpuInstanceSliceCount = g->compute_slices;
    ci_engines(&c, &attributes->sharedCopyEngineCount, &attributes->sharedDecoderCount,
               &attributes->sharedEncoderCount, &attributes->sharedJpegCount,
               &attributes->sharedOfaCount);
    attributes->memorySizeMB = g->memory_mib;
    UNLOCK_RETURN(c, NVML_SUCCESS);
}

/* The name before _v2, with the same struct (nvml.h maps one to the other). */
EXPORT nvmlReturn_t nvmlDeviceGetAttributes(nvmlDevice_t dev, nvmlDeviceAttributes_t *attributes)
{
    return nvmlDeviceGetAttributes_v2(dev, attributes);
}

EXPORT nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t dev, unsigned int *count)
{
    struct ctx c;
    nvmlReturn_t r = from_device(dev, &c);
    if (r == NVML_ERROR_NOT_SUPPORTED && count) {
        *count = 0;
        return NVML_SUCCESS;
    }
    if (r != NVML_SUCCESS)
        return r;
    if (!count)
        return NVML_ERROR_INVALID_ARGUMENT;
    *count = gpx_sim_mig_settle(c.st, c.gpu) == NVML_DEVICE_MIG_ENABLE ? GPX_MIG_COMPUTE_SLICES : 0;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t dev, unsigned int index,
                                                        nvmlDevice_t *migDevice)
{
    DEVICE_MIG_ON(c, dev);
    if (!migDevice || index >= GPX_MIG_COMPUTE_SLICES)
        UNLOCK_RETURN(c, NVML_ERROR_INVALID_ARGUMENT);
    unsigned n = 0;
    for (unsigned gi = 0; gi < GPX_SIM_MIG_MAX_GI; gi++) {
        for (unsigned ci = 0; c.m->gi[gi].used && ci < GPX_SIM_MIG_MAX_CI; ci++) {
            if (c.m->gi[gi].ci[ci].used && n++ == index) {
                *migDevice = (nvmlDevice_t)(void *)&c.m->gi[gi].ci[ci].device;
                UNLOCK_RETURN(c, NVML_SUCCESS);
            }
        }
    }
    UNLOCK_RETURN(c, NVML_ERROR_NOT_FOUND);
}

EXPORT nvmlReturn_t nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nvmlDevice_t migDevice,
                                                                 nvmlDevice_t *device)
{
    struct gpx_sim_state *st = gpx__nvml_state();
    if (!st)
        return NVML_ERROR_UNINITIALIZED;
    uint32_t gpu;
    unsigned gi, ci;
    if (!device || gpx__nvml_mig_handle(migDevice, &gpu, &gi, &ci) < 0)
        return NVML_ERROR_INVALID_ARGUMENT;
    *device = (nvmlDevice_t)(void *)&st->gpus[gpu];
    return NVML_SUCCESS;
}

int gpx__nvml_mig_device(const void *dev, struct gpx_sim_mig_device *out, uint64_t *used)
{
    struct gpx_sim_state *st = gpx__nvml_state();
    uint32_t gpu;
    unsigned gi, ci;
    if (!st || gpx__nvml_mig_handle(dev, &gpu, &gi, &ci) < 0)
        return -1;
    gpx_sim_lock(st);
    int rc = gpx_sim_mig_device_get_locked(st, gpu, gi, ci, out);
    gpx_sim_unlock(st);
    if (rc == 0 && used)
        *used = gpx_sim_mig_used(st, gpu, gi);
    return rc;
}

int gpx__nvml_mig_find_uuid(const char *uuid, void **dev)
{
    struct gpx_sim_state *st = gpx__nvml_state();
    struct gpx_sim_mig_device d;
    if (!st || gpx_sim_mig_find_uuid(st, uuid, &d) < 0)
        return -1;
    *dev = &gpx_sim_mig_of(&st->gpus[d.gpu])->gi[d.gi].ci[d.ci].device;
    return 0;
}
