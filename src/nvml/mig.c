/*
 * MIG through NVML (see mig.h). Reading never changes the GPU. Applying
 * destroys only what the plan lists and creates only with explicit
 * placements, so the result never depends on the order of creation; every
 * step is recorded in the result so that a failure part-way says what was
 * already done.
 *
 * Catalog vs. driver: the catalog (src/core/mig_catalog.c) is what gpuplex
 * plans with offline; on a GPU the driver's answer is the truth. Each profile
 * the driver reports is compared field by field and a difference is logged
 * once per GPU and read, and the driver's figure is used.
 */
#define _GNU_SOURCE
#include "nvml/mig.h"

#include "core/log.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sym {
    const char *name;
    size_t offset;
    int required;
};

#define SYM(field, name, req)                                                                      \
    {                                                                                              \
        name, offsetof(struct gpx_nvml_mig, field), req                                            \
    }

static const struct sym syms[] = {
    SYM(get_mode, "nvmlDeviceGetMigMode", 1),
    SYM(set_mode, "nvmlDeviceSetMigMode", 1),
    SYM(gi_profile_info, "nvmlDeviceGetGpuInstanceProfileInfo", 1),
    SYM(gi_profile_info_v, "nvmlDeviceGetGpuInstanceProfileInfoV", 0),
    SYM(gi_placements, "nvmlDeviceGetGpuInstancePossiblePlacements_v2", 1),
    SYM(gi_remaining, "nvmlDeviceGetGpuInstanceRemainingCapacity", 0),
    SYM(gi_create_at, "nvmlDeviceCreateGpuInstanceWithPlacement", 1),
    SYM(gi_destroy, "nvmlGpuInstanceDestroy", 1),
    SYM(gi_list, "nvmlDeviceGetGpuInstances", 1),
    SYM(gi_info, "nvmlGpuInstanceGetInfo", 1),
    SYM(ci_profile_info, "nvmlGpuInstanceGetComputeInstanceProfileInfo", 1),
    SYM(ci_create, "nvmlGpuInstanceCreateComputeInstance", 1),
    SYM(ci_destroy, "nvmlComputeInstanceDestroy", 1),
    SYM(ci_list, "nvmlGpuInstanceGetComputeInstances", 1),
    SYM(ci_info, "nvmlComputeInstanceGetInfo_v2", 1),
    SYM(mig_device_count, "nvmlDeviceGetMaxMigDeviceCount", 0),
    SYM(mig_device_by_index, "nvmlDeviceGetMigDeviceHandleByIndex", 0),
    SYM(mig_gi_id, "nvmlDeviceGetGpuInstanceId", 0),
    SYM(mig_ci_id, "nvmlDeviceGetComputeInstanceId", 0),
};

int gpx_nvml_mig_open(const struct gpx_nvml *nv, struct gpx_nvml_mig *m, gpx_error *err)
{
    memset(m, 0, sizeof *m);
    if (!nv->lib)
        return gpx_error_set(err, GPX_E_NO_DRIVER, "NVML is not open");
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        void *fp = dlsym(nv->lib, syms[i].name);
        if (!fp && syms[i].required)
            return gpx_error_set(err, GPX_E_NO_DRIVER,
                                 "%s lacks %s: a driver with MIG support (R470 or later) is "
                                 "needed",
                                 nv->path, syms[i].name);
        memcpy((char *)m + syms[i].offset, &fp, sizeof fp);
    }
    return 0;
}

/* --- catalog vs. NVML -------------------------------------------------------------------- */

static void warn_diff(unsigned *diffs, const char *gpu, const char *prof, const char *what,
                      unsigned long long nvml, unsigned long long cat)
{
    (*diffs)++;
    gpx_warn("%s: MIG profile %s: NVML reports %s %llu, the catalog says %llu; using NVML's", gpu,
             prof, what, nvml, cat);
}

/* "3g.40gb" from slices and memory, for a profile the catalog does not know. */
static void synth_name(char *buf, size_t len, unsigned slices, unsigned long long mib,
                       unsigned nvml_index)
{
    unsigned gb = (unsigned)((mib + 1023) / 1024);
    snprintf(buf, len, "%ug.%ugb%s", slices, gb,
             nvml_index == NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1 ? "+me" : "");
}

int gpx_mig_crosscheck(struct gpx_nvml *nv, const struct gpx_nvml_mig *m, nvmlDevice_t dev,
                       const struct gpx_mig_model *cat, struct gpx_mig_model *out,
                       unsigned *differences, gpx_error *err)
{
    char gpu[128] = "GPU";
    char devname[96] = "";
    if (nv->device_name && nv->device_name(dev, devname, sizeof devname) == NVML_SUCCESS) {
        devname[sizeof devname - 1] = '\0';
        snprintf(gpu, sizeof gpu, "%s", devname);
    }
    unsigned diffs = 0;
    memset(out, 0, sizeof *out);
    if (cat) {
        *out = *cat;
        out->profile_count = 0;
    } else {
        snprintf(out->spec_name, sizeof out->spec_name, "%.31s", devname[0] ? devname : "unknown");
        snprintf(out->board, sizeof out->board, "%s", out->spec_name);
    }
    int seen[GPX_MIG_MAX_PROFILES] = {0};

    for (unsigned idx = 0; idx <= GPX_NVML_GPU_INSTANCE_PROFILE_LAST; idx++) {
        nvmlGpuInstanceProfileInfo_t info;
        nvmlReturn_t r = m->gi_profile_info(dev, idx, &info);
        if (r == NVML_ERROR_NOT_SUPPORTED || r == NVML_ERROR_INVALID_ARGUMENT)
            continue; /* not a profile of this GPU */
        if (r != NVML_SUCCESS)
            return gpx_nvml_fail(nv, r, err, "nvmlDeviceGetGpuInstanceProfileInfo");
        char name[GPX_MIG_NAME_MAX] = "";
        if (m->gi_profile_info_v) {
            nvmlGpuInstanceProfileInfo_v2_t v2 = {.version = nvmlGpuInstanceProfileInfo_v2};
            if (m->gi_profile_info_v(dev, idx, &v2) == NVML_SUCCESS) {
                v2.name[sizeof v2.name - 1] = '\0';
                const char *n = strncmp(v2.name, "MIG ", 4) == 0 ? v2.name + 4 : v2.name;
                snprintf(name, sizeof name, "%.31s", n);
            }
        }
        nvmlGpuInstancePlacement_t pl[GPX_MIG_MAX_PLACEMENTS * 2];
        unsigned npl = 0;
        r = m->gi_placements(dev, info.id, NULL, &npl);
        if (r == NVML_SUCCESS && npl <= GPX_MIG_MAX_PLACEMENTS * 2)
            r = m->gi_placements(dev, info.id, pl, &npl);
        if (r != NVML_SUCCESS || npl > GPX_MIG_MAX_PLACEMENTS)
            return r != NVML_SUCCESS
                       ? gpx_nvml_fail(nv, r, err, "nvmlDeviceGetGpuInstancePossiblePlacements_v2")
                       : gpx_error_set(err, GPX_E_DRIVER,
                                       "%s: MIG profile id %u has %u placements (at most %u "
                                       "supported)",
                                       gpu, info.id, npl, GPX_MIG_MAX_PLACEMENTS);
        if (out->profile_count >= GPX_MIG_MAX_PROFILES)
            return gpx_error_set(err, GPX_E_DRIVER, "%s: more than %u MIG profiles", gpu,
                                 GPX_MIG_MAX_PROFILES);

        int ci = cat ? gpx_mig_profile_by_index(cat, idx) : -1;
        struct gpx_mig_gi_profile p = {0};
        if (ci >= 0) {
            p = cat->profiles[ci];
            seen[ci] = 1;
        } else {
            synth_name(p.name, sizeof p.name, info.sliceCount, info.memorySizeMB, idx);
            if (cat) {
                diffs++;
                gpx_warn("%s: NVML reports MIG profile %s (index %u, id %u) that the catalog "
                         "lacks; using NVML's",
                         gpu, name[0] ? name : p.name, idx, info.id);
            }
        }
        const char *pn = p.name;
        if (name[0] && strcmp(name, p.name) != 0) {
            if (ci >= 0) {
                diffs++;
                gpx_warn("%s: MIG profile %s is called %s by NVML; using NVML's", gpu, p.name,
                         name);
            }
            snprintf(p.name, sizeof p.name, "%s", name);
        }
        if (ci >= 0) {
#define CMP(field, what, val)                                                                      \
    if ((unsigned long long)(val) != (unsigned long long)p.field)                                  \
    warn_diff(&diffs, gpu, pn, what, (unsigned long long)(val), (unsigned long long)p.field)
            CMP(id, "profile id", info.id);
            CMP(compute_slices, "compute slices", info.sliceCount);
            CMP(max_count, "instance count", info.instanceCount);
            CMP(sm_count, "SM count", info.multiprocessorCount);
            CMP(memory_mib, "memory MiB", info.memorySizeMB);
            CMP(copy_engines, "copy engines", info.copyEngineCount);
            CMP(decoders, "decoders", info.decoderCount);
            CMP(encoders, "encoders", info.encoderCount);
            CMP(jpegs, "JPEG engines", info.jpegCount);
            CMP(ofas, "OFA engines", info.ofaCount);
            CMP(placement_count, "placement count", npl);
#undef CMP
            for (unsigned k = 0; k < npl && k < p.placement_count; k++) {
                if (pl[k].start != p.placements[k].start || pl[k].size != p.placements[k].size) {
                    diffs++;
                    gpx_warn("%s: MIG profile %s: NVML reports placement %u:%u where the "
                             "catalog has %u:%u; using NVML's",
                             gpu, pn, pl[k].start, pl[k].size, p.placements[k].start,
                             p.placements[k].size);
                }
            }
        }
        p.index = (uint8_t)idx;
        p.id = (uint8_t)info.id;
        p.compute_slices = (uint8_t)info.sliceCount;
        p.max_count = (uint8_t)info.instanceCount;
        p.sm_count = (uint16_t)info.multiprocessorCount;
        p.memory_mib = (uint32_t)info.memorySizeMB;
        p.copy_engines = (uint8_t)info.copyEngineCount;
        p.decoders = (uint8_t)info.decoderCount;
        p.encoders = (uint8_t)info.encoderCount;
        p.jpegs = (uint8_t)info.jpegCount;
        p.ofas = (uint8_t)info.ofaCount;
        p.placement_count = (uint8_t)npl;
        p.memory_slices = npl ? (uint8_t)pl[0].size : 0;
        for (unsigned k = 0; k < npl; k++)
            p.placements[k] = (struct gpx_mig_placement){(uint8_t)pl[k].start, (uint8_t)pl[k].size};
        out->profiles[out->profile_count++] = p;
    }
    /* the catalog's order (as nvidia-smi lists them), then profiles it lacks */
    for (unsigned i = 1; i < out->profile_count; i++) {
        for (unsigned j = i; j > 0; j--) {
            int a = cat ? gpx_mig_profile_by_index(cat, out->profiles[j - 1].index) : -1;
            int b = cat ? gpx_mig_profile_by_index(cat, out->profiles[j].index) : -1;
            unsigned ka = a >= 0 ? (unsigned)a : 100U + out->profiles[j - 1].index;
            unsigned kb = b >= 0 ? (unsigned)b : 100U + out->profiles[j].index;
            if (ka <= kb)
                break;
            struct gpx_mig_gi_profile t = out->profiles[j];
            out->profiles[j] = out->profiles[j - 1];
            out->profiles[j - 1] = t;
        }
    }
    for (unsigned i = 0; cat && i < cat->profile_count; i++) {
        if (!seen[i]) {
            diffs++;
            gpx_warn("%s: NVML does not report MIG profile %s of the catalog; leaving it out", gpu,
                     cat->profiles[i].name);
        }
    }
    if (differences)
        *differences = diffs;
    return 0;
}

/* --- reading -------------------------------------------------------------------------- */

static int read_cis(struct gpx_nvml *nv, const struct gpx_nvml_mig *m, nvmlGpuInstance_t gi,
                    struct gpx_mig_gi_state *g, gpx_error *err)
{
    for (unsigned prof = NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE;
         prof <= NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE_REV1; prof++) {
        nvmlComputeInstanceProfileInfo_t pi;
        nvmlReturn_t r =
            m->ci_profile_info(gi, prof, NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED, &pi);
        if (r != NVML_SUCCESS)
            continue;
        nvmlComputeInstance_t cis[GPX_MIG_MAX_CI];
        unsigned n = GPX_MIG_MAX_CI;
        if (pi.instanceCount > GPX_MIG_MAX_CI)
            continue;
        r = m->ci_list(gi, pi.id, cis, &n);
        if (r == NVML_ERROR_NOT_SUPPORTED)
            continue;
        if (r != NVML_SUCCESS)
            return gpx_nvml_fail(nv, r, err, "nvmlGpuInstanceGetComputeInstances");
        for (unsigned k = 0; k < n && g->nci < GPX_MIG_MAX_CI; k++) {
            nvmlComputeInstanceInfo_t ci;
            if ((r = m->ci_info(cis[k], &ci)) != NVML_SUCCESS)
                return gpx_nvml_fail(nv, r, err, "nvmlComputeInstanceGetInfo_v2");
            struct gpx_mig_ci_state *c = &g->ci[g->nci++];
            memset(c, 0, sizeof *c);
            c->id = ci.id;
            c->profile_id = ci.profileId;
            c->start = ci.placement.start;
            c->size = ci.placement.size;
        }
    }
    /* sort by id */
    for (unsigned i = 1; i < g->nci; i++)
        for (unsigned j = i; j > 0 && g->ci[j - 1].id > g->ci[j].id; j--) {
            struct gpx_mig_ci_state t = g->ci[j];
            g->ci[j] = g->ci[j - 1];
            g->ci[j - 1] = t;
        }
    return 0;
}

/* MIG device UUIDs (and each GPU instance's memory), matched to (GI, CI) through the MIG device
 * handles. */
static void read_uuids(struct gpx_nvml *nv, const struct gpx_nvml_mig *m, nvmlDevice_t dev,
                       struct gpx_mig_gpu_state *s)
{
    unsigned max = 0;
    if (!m->mig_device_count || !m->mig_device_by_index || !m->mig_gi_id || !m->mig_ci_id ||
        m->mig_device_count(dev, &max) != NVML_SUCCESS)
        return;
    for (unsigned i = 0; i < max; i++) {
        nvmlDevice_t md;
        unsigned gi, ci;
        if (m->mig_device_by_index(dev, i, &md) != NVML_SUCCESS ||
            m->mig_gi_id(md, &gi) != NVML_SUCCESS || m->mig_ci_id(md, &ci) != NVML_SUCCESS)
            continue;
        for (unsigned g = 0; g < s->ngi; g++) {
            if (s->gi[g].id != gi)
                continue;
            /* memory belongs to the GPU instance: each of its MIG devices reports the same */
            nvmlMemory_t mem;
            if (!s->gi[g].memory_known && nv->device_memory &&
                nv->device_memory(md, &mem) == NVML_SUCCESS) {
                s->gi[g].memory_known = 1;
                s->gi[g].memory_total = mem.total;
                s->gi[g].memory_used = mem.used;
            }
            for (unsigned c = 0; c < s->gi[g].nci; c++) {
                struct gpx_mig_ci_state *cs = &s->gi[g].ci[c];
                if (cs->id == ci && nv->device_uuid(md, cs->uuid, sizeof cs->uuid) != NVML_SUCCESS)
                    cs->uuid[0] = '\0';
                cs->uuid[sizeof cs->uuid - 1] = '\0';
            }
        }
    }
}

static int read_instances(struct gpx_nvml *nv, const struct gpx_nvml_mig *m, nvmlDevice_t dev,
                          struct gpx_mig_gpu_state *s, gpx_error *err)
{
    for (unsigned p = 0; p < s->table.profile_count; p++) {
        const struct gpx_mig_gi_profile *prof = &s->table.profiles[p];
        nvmlGpuInstance_t gis[GPX_MIG_MAX_GI];
        unsigned n = GPX_MIG_MAX_GI;
        nvmlReturn_t r = m->gi_list(dev, prof->id, gis, &n);
        if (r != NVML_SUCCESS)
            return gpx_nvml_fail(nv, r, err, "nvmlDeviceGetGpuInstances");
        for (unsigned k = 0; k < n && s->ngi < GPX_MIG_MAX_GI; k++) {
            nvmlGpuInstanceInfo_t info;
            if ((r = m->gi_info(gis[k], &info)) != NVML_SUCCESS)
                return gpx_nvml_fail(nv, r, err, "nvmlGpuInstanceGetInfo");
            struct gpx_mig_gi_state *g = &s->gi[s->ngi++];
            memset(g, 0, sizeof *g);
            g->id = info.id;
            g->profile_id = info.profileId;
            g->profile = (int)p;
            g->start = info.placement.start;
            g->size = info.placement.size;
            if (read_cis(nv, m, gis[k], g, err) < 0)
                return -1;
        }
        if (m->gi_remaining) {
            unsigned left = 0;
            if (m->gi_remaining(dev, prof->id, &left) == NVML_SUCCESS)
                s->free[p] = left;
        }
    }
    /* by start, as the planner reports layouts */
    for (unsigned i = 1; i < s->ngi; i++)
        for (unsigned j = i; j > 0 && s->gi[j - 1].start > s->gi[j].start; j--) {
            struct gpx_mig_gi_state t = s->gi[j];
            s->gi[j] = s->gi[j - 1];
            s->gi[j - 1] = t;
        }
    read_uuids(nv, m, dev, s);
    return 0;
}

static void read_processes(struct gpx_nvml *nv, nvmlDevice_t dev, struct gpx_mig_gpu_state *s)
{
    if (!nv->device_processes)
        return;
    nvmlProcessInfo_t infos[64];
    unsigned n = 64;
    if (nv->device_processes(dev, &n, infos) != NVML_SUCCESS)
        return;
    for (unsigned i = 0; i < n && i < 64; i++) {
        if (s->nprocs < sizeof s->pids / sizeof s->pids[0])
            s->pids[s->nprocs] = infos[i].pid;
        s->nprocs++;
        for (unsigned g = 0; g < s->ngi; g++)
            if (infos[i].gpuInstanceId == s->gi[g].id)
                s->gi[g].procs++;
    }
}

int gpx_mig_read(struct gpx_nvml *nv, const struct gpx_nvml_mig *m, unsigned index,
                 struct gpx_mig_gpu_state *s, gpx_error *err)
{
    memset(s, 0, sizeof *s);
    s->index = index;
    s->model = -1;
    nvmlDevice_t dev;
    nvmlReturn_t r = nv->device_by_index(index, &dev);
    if (r != NVML_SUCCESS)
        return gpx_nvml_fail(nv, r, err, "nvmlDeviceGetHandleByIndex");
    if ((r = nv->device_name(dev, s->name, sizeof s->name)) != NVML_SUCCESS)
        return gpx_nvml_fail(nv, r, err, "nvmlDeviceGetName");
    if ((r = nv->device_uuid(dev, s->uuid, sizeof s->uuid)) != NVML_SUCCESS)
        return gpx_nvml_fail(nv, r, err, "nvmlDeviceGetUUID");
    s->name[sizeof s->name - 1] = '\0';
    s->uuid[sizeof s->uuid - 1] = '\0';
    nvmlPciInfo_t pci;
    if (nv->device_pci && nv->device_pci(dev, &pci) == NVML_SUCCESS)
        s->pci_device_id = pci.pciDeviceId;
    r = m->get_mode(dev, &s->mode_current, &s->mode_pending);
    if (r == NVML_ERROR_NOT_SUPPORTED) {
        read_processes(nv, dev, s);
        return 0; /* a GPU without MIG */
    }
    if (r != NVML_SUCCESS)
        return gpx_nvml_fail(nv, r, err, "nvmlDeviceGetMigMode");
    s->supported = 1;
    s->model = gpx_mig_model_find(s->name);
    if (s->model < 0 && s->pci_device_id)
        s->model = gpx_mig_model_find_pci(s->pci_device_id);
    const struct gpx_mig_model *cat =
        s->model >= 0 ? gpx_mig_model_get((enum gpx_mig_model_id)s->model) : NULL;
    if (gpx_mig_crosscheck(nv, m, dev, cat, &s->table, &s->differences, err) < 0)
        return -1;
    if (s->mode_current == NVML_DEVICE_MIG_ENABLE && read_instances(nv, m, dev, s, err) < 0)
        return -1;
    read_processes(nv, dev, s);
    return 0;
}

unsigned gpx_mig_current(const struct gpx_mig_gpu_state *s,
                         struct gpx_mig_instance out[GPX_MIG_MAX_INSTANCES])
{
    unsigned n = 0;
    for (unsigned i = 0; i < s->ngi && n < GPX_MIG_MAX_INSTANCES; i++) {
        if (s->gi[i].profile < 0)
            continue;
        out[n].profile = (uint8_t)s->gi[i].profile;
        out[n].start = (uint8_t)s->gi[i].start;
        out[n].leased = s->gi[i].procs > 0 || s->gi[i].leased;
        n++;
    }
    return n;
}

const struct gpx_mig_gi_state *gpx_mig_current_gi(const struct gpx_mig_gpu_state *s, unsigned i)
{
    for (unsigned k = 0, n = 0; k < s->ngi && n < GPX_MIG_MAX_INSTANCES; k++) {
        if (s->gi[k].profile < 0)
            continue;
        if (n++ == i)
            return &s->gi[k];
    }
    return NULL;
}

/* --- applying -------------------------------------------------------------------------- */

static struct gpx_mig_action *act(struct gpx_mig_apply_result *res, enum gpx_mig_action_kind k)
{
    if (res->n >= sizeof res->actions / sizeof res->actions[0])
        return NULL;
    struct gpx_mig_action *a = &res->actions[res->n++];
    memset(a, 0, sizeof *a);
    a->kind = k;
    a->profile = -1;
    return a;
}

static int busy_error(const struct gpx_mig_gpu_state *s, gpx_error *err, const char *what)
{
    char pids[96] = "";
    size_t used = 0;
    unsigned shown = s->nprocs < 8 ? s->nprocs : 8;
    for (unsigned i = 0; i < shown && used < sizeof pids; i++)
        used +=
            (size_t)snprintf(pids + used, sizeof pids - used, "%s%u", i ? ", " : "", s->pids[i]);
    return gpx_error_set(err, GPX_E_BUSY,
                         "GPU %u runs %u process%s (pid %s%s): %s only while the GPU is idle; "
                         "stop them and try again",
                         s->index, s->nprocs, s->nprocs == 1 ? "" : "es", pids,
                         s->nprocs > shown ? ", ..." : "", what);
}

/* Sets MIG mode and checks that it took effect now. */
static int set_mode(struct gpx_nvml *nv, const struct gpx_nvml_mig *m, nvmlDevice_t dev,
                    const struct gpx_mig_gpu_state *s, unsigned mode, gpx_error *err)
{
    nvmlReturn_t status = NVML_SUCCESS;
    nvmlReturn_t r = m->set_mode(dev, mode, &status);
    if (r != NVML_SUCCESS)
        return gpx_nvml_fail(nv, r, err, "nvmlDeviceSetMigMode");
    const char *what = mode == NVML_DEVICE_MIG_ENABLE ? "enable" : "disable";
    if (status == NVML_ERROR_IN_USE)
        return gpx_error_set(err, GPX_E_BUSY,
                             "GPU %u: MIG mode is set to %s but pending: the GPU is in use by "
                             "another client (a process, or a service such as nvidia-dcgm or "
                             "nvsm); it takes effect once the GPU is idle",
                             s->index, what);
    if (status == NVML_ERROR_RESET_REQUIRED)
        return gpx_error_set(err, GPX_E_BUSY,
                             "GPU %u: MIG mode %s is pending until the GPU is reset "
                             "(nvidia-smi -r -i %u) or the machine reboots",
                             s->index, what, s->index);
    if (status != NVML_SUCCESS)
        return gpx_nvml_fail(nv, status, err, "MIG mode activation");
    unsigned cur = 0, pend = 0;
    if ((r = m->get_mode(dev, &cur, &pend)) != NVML_SUCCESS)
        return gpx_nvml_fail(nv, r, err, "nvmlDeviceGetMigMode");
    if (cur != mode)
        return gpx_error_set(err, GPX_E_BUSY, "GPU %u: MIG mode change to %s is still pending",
                             s->index, what);
    return 0;
}

static int destroy_gi(struct gpx_nvml *nv, const struct gpx_nvml_mig *m, nvmlDevice_t dev,
                      const struct gpx_mig_gi_state *g, gpx_error *err)
{
    nvmlGpuInstance_t gis[GPX_MIG_MAX_GI];
    unsigned n = GPX_MIG_MAX_GI;
    nvmlReturn_t r = m->gi_list(dev, g->profile_id, gis, &n);
    if (r != NVML_SUCCESS)
        return gpx_nvml_fail(nv, r, err, "nvmlDeviceGetGpuInstances");
    for (unsigned k = 0; k < n; k++) {
        nvmlGpuInstanceInfo_t info;
        if (m->gi_info(gis[k], &info) != NVML_SUCCESS || info.id != g->id)
            continue;
        for (unsigned prof = 0; prof <= NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE_REV1; prof++) {
            nvmlComputeInstanceProfileInfo_t pi;
            if (m->ci_profile_info(gis[k], prof, NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED,
                                   &pi) != NVML_SUCCESS ||
                pi.instanceCount > GPX_MIG_MAX_CI)
                continue;
            nvmlComputeInstance_t cis[GPX_MIG_MAX_CI];
            unsigned nc = GPX_MIG_MAX_CI;
            if (m->ci_list(gis[k], pi.id, cis, &nc) != NVML_SUCCESS)
                continue;
            for (unsigned c = 0; c < nc; c++)
                if ((r = m->ci_destroy(cis[c])) != NVML_SUCCESS)
                    return gpx_nvml_fail(nv, r, err, "nvmlComputeInstanceDestroy");
        }
        if ((r = m->gi_destroy(gis[k])) != NVML_SUCCESS)
            return gpx_nvml_fail(nv, r, err, "nvmlGpuInstanceDestroy");
        return 0;
    }
    return gpx_error_set(err, GPX_E_NOT_FOUND, "GPU instance %u is gone", g->id);
}

/* The default (whole) compute instance of GI `gi`; fills the action's ids. */
static int create_default_ci(struct gpx_nvml *nv, const struct gpx_nvml_mig *m,
                             nvmlGpuInstance_t gi, unsigned compute_slices,
                             struct gpx_mig_action *a, gpx_error *err)
{
    nvmlComputeInstanceProfileInfo_t pi;
    unsigned prof = gpx_mig_ci_full_profile_id(compute_slices);
    nvmlReturn_t r = m->ci_profile_info(gi, prof, NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED, &pi);
    if (r != NVML_SUCCESS)
        return gpx_nvml_fail(nv, r, err, "nvmlGpuInstanceGetComputeInstanceProfileInfo");
    nvmlComputeInstance_t ci;
    if ((r = m->ci_create(gi, pi.id, &ci)) != NVML_SUCCESS)
        return gpx_nvml_fail(nv, r, err, "nvmlGpuInstanceCreateComputeInstance");
    nvmlComputeInstanceInfo_t info;
    if ((r = m->ci_info(ci, &info)) != NVML_SUCCESS)
        return gpx_nvml_fail(nv, r, err, "nvmlComputeInstanceGetInfo_v2");
    a->ci_id = info.id;
    return 0;
}

static int find_gi(const struct gpx_nvml_mig *m, nvmlDevice_t dev, unsigned profile_id, unsigned id,
                   nvmlGpuInstance_t *out)
{
    nvmlGpuInstance_t gis[GPX_MIG_MAX_GI];
    unsigned n = GPX_MIG_MAX_GI;
    if (m->gi_list(dev, profile_id, gis, &n) != NVML_SUCCESS)
        return -1;
    for (unsigned k = 0; k < n; k++) {
        nvmlGpuInstanceInfo_t info;
        if (m->gi_info(gis[k], &info) == NVML_SUCCESS && info.id == id) {
            *out = gis[k];
            return 0;
        }
    }
    return -1;
}

/* The UUID of MIG device (gi, ci), "" if the driver does not say. */
static void mig_uuid(struct gpx_nvml *nv, const struct gpx_nvml_mig *m, nvmlDevice_t dev,
                     unsigned gi, unsigned ci, char *out, size_t len)
{
    out[0] = '\0';
    unsigned max = 0;
    if (!m->mig_device_count || !m->mig_device_by_index || !m->mig_gi_id || !m->mig_ci_id ||
        m->mig_device_count(dev, &max) != NVML_SUCCESS)
        return;
    for (unsigned i = 0; i < max; i++) {
        nvmlDevice_t md;
        unsigned g, c;
        if (m->mig_device_by_index(dev, i, &md) == NVML_SUCCESS &&
            m->mig_gi_id(md, &g) == NVML_SUCCESS && m->mig_ci_id(md, &c) == NVML_SUCCESS &&
            g == gi && c == ci) {
            if (nv->device_uuid(md, out, (unsigned)len) != NVML_SUCCESS)
                out[0] = '\0';
            out[len - 1] = '\0';
            return;
        }
    }
}

int gpx_mig_apply(struct gpx_nvml *nv, const struct gpx_nvml_mig *m,
                  const struct gpx_mig_gpu_state *s, const struct gpx_mig_plan *plan, int enable,
                  int dry_run, struct gpx_mig_apply_result *res, gpx_error *err)
{
    memset(res, 0, sizeof *res);
    nvmlDevice_t dev;
    nvmlReturn_t r = nv->device_by_index(s->index, &dev);
    if (r != NVML_SUCCESS)
        return gpx_nvml_fail(nv, r, err, "nvmlDeviceGetHandleByIndex");
    if (!s->supported)
        return gpx_error_set(err, GPX_E_INVALID, "GPU %u (%s) does not support MIG", s->index,
                             s->name);
    const struct gpx_mig_model *t = &s->table;

    if (s->mode_current != NVML_DEVICE_MIG_ENABLE) {
        if (!enable)
            return gpx_error_set(err, GPX_E_INVALID, "GPU %u: MIG mode is off", s->index);
        if (s->nprocs > 0)
            return busy_error(s, err, "MIG mode can be enabled");
        struct gpx_mig_action *a = act(res, GPX_MIG_ACT_ENABLE);
        if (!dry_run) {
            if (set_mode(nv, m, dev, s, NVML_DEVICE_MIG_ENABLE, err) < 0)
                return -1;
            a->done = 1;
        }
    }

    struct gpx_mig_instance cur[GPX_MIG_MAX_INSTANCES];
    unsigned ncur = gpx_mig_current(s, cur);
    /* map planner indexes of current instances back to GI states */
    const struct gpx_mig_gi_state *cur_gi[GPX_MIG_MAX_INSTANCES];
    for (unsigned i = 0, n = 0; i < s->ngi && n < ncur; i++)
        if (s->gi[i].profile >= 0)
            cur_gi[n++] = &s->gi[i];

    for (unsigned i = 0; i < plan->destroy_count; i++) {
        if (plan->destroy[i] >= ncur)
            return gpx_error_set(err, GPX_E_INTERNAL, "MIG plan does not match GPU %u", s->index);
        const struct gpx_mig_gi_state *g = cur_gi[plan->destroy[i]];
        if (g->procs > 0)
            return gpx_error_set(err, GPX_E_BUSY,
                                 "GPU %u: GPU instance %u (%s) runs %u process%s; not destroying "
                                 "it",
                                 s->index, g->id, t->profiles[g->profile].name, g->procs,
                                 g->procs == 1 ? "" : "es");
        if (g->leased)
            return gpx_error_set(err, GPX_E_BUSY,
                                 "GPU %u: GPU instance %u (%s) is leased; not destroying it",
                                 s->index, g->id, t->profiles[g->profile].name);
        struct gpx_mig_action *a = act(res, GPX_MIG_ACT_DESTROY);
        a->profile = g->profile;
        a->start = g->start;
        a->size = g->size;
        a->gi_id = g->id;
        if (!dry_run) {
            if (destroy_gi(nv, m, dev, g, err) < 0)
                return gpx_error_wrap(err, "GPU %u: destroying GPU instance %u (%s at %u:%u)",
                                      s->index, g->id, t->profiles[g->profile].name, g->start,
                                      g->size);
            a->done = 1;
        }
    }

    /* kept instances without a compute instance get their default one */
    for (unsigned i = 0; i < plan->count; i++) {
        const struct gpx_mig_plan_item *it = &plan->items[i];
        if (it->current < 0 || (unsigned)it->current >= ncur || cur_gi[it->current]->nci > 0)
            continue;
        const struct gpx_mig_gi_state *g = cur_gi[it->current];
        struct gpx_mig_action *a = act(res, GPX_MIG_ACT_CREATE_CI);
        a->profile = g->profile;
        a->start = g->start;
        a->size = g->size;
        a->gi_id = g->id;
        if (!dry_run) {
            nvmlGpuInstance_t gi;
            if (find_gi(m, dev, g->profile_id, g->id, &gi) < 0)
                return gpx_error_set(err, GPX_E_NOT_FOUND, "GPU %u: GPU instance %u is gone",
                                     s->index, g->id);
            if (create_default_ci(nv, m, gi, t->profiles[g->profile].compute_slices, a, err) < 0)
                return gpx_error_wrap(err, "GPU %u: compute instance of GPU instance %u", s->index,
                                      g->id);
            mig_uuid(nv, m, dev, g->id, a->ci_id, a->uuid, sizeof a->uuid);
            a->done = 1;
        }
    }

    /* new instances, largest first (placements make the order irrelevant; this reads well) */
    for (unsigned slices = GPX_MIG_MEMORY_SLICES; slices > 0; slices--) {
        for (unsigned i = 0; i < plan->count; i++) {
            const struct gpx_mig_plan_item *it = &plan->items[i];
            const struct gpx_mig_gi_profile *p = &t->profiles[it->profile];
            if (it->current >= 0 || p->memory_slices != slices)
                continue;
            struct gpx_mig_action *a = act(res, GPX_MIG_ACT_CREATE);
            a->profile = it->profile;
            a->start = it->start;
            a->size = p->memory_slices;
            if (dry_run)
                continue;
            nvmlGpuInstancePlacement_t pl = {it->start, p->memory_slices};
            nvmlGpuInstance_t gi;
            if ((r = m->gi_create_at(dev, p->id, &pl, &gi)) != NVML_SUCCESS) {
                gpx_nvml_fail(nv, r, err, "nvmlDeviceCreateGpuInstanceWithPlacement");
                return gpx_error_wrap(err, "GPU %u: creating %s at %u:%u", s->index, p->name,
                                      it->start, p->memory_slices);
            }
            nvmlGpuInstanceInfo_t info;
            if ((r = m->gi_info(gi, &info)) != NVML_SUCCESS)
                return gpx_nvml_fail(nv, r, err, "nvmlGpuInstanceGetInfo");
            a->gi_id = info.id;
            if (create_default_ci(nv, m, gi, p->compute_slices, a, err) < 0)
                return gpx_error_wrap(err, "GPU %u: compute instance of new %s (GPU instance %u)",
                                      s->index, p->name, info.id);
            mig_uuid(nv, m, dev, a->gi_id, a->ci_id, a->uuid, sizeof a->uuid);
            a->done = 1;
        }
    }
    return 0;
}

int gpx_mig_disable(struct gpx_nvml *nv, const struct gpx_nvml_mig *m,
                    const struct gpx_mig_gpu_state *s, int dry_run,
                    struct gpx_mig_apply_result *res, gpx_error *err)
{
    memset(res, 0, sizeof *res);
    if (!s->supported || s->mode_current != NVML_DEVICE_MIG_ENABLE)
        return 0;
    if (s->ngi > 0)
        return gpx_error_set(err, GPX_E_BUSY,
                             "GPU %u has %u GPU instance%s: destroy them before disabling MIG",
                             s->index, s->ngi, s->ngi == 1 ? "" : "s");
    if (s->nprocs > 0)
        return busy_error(s, err, "MIG mode can be disabled");
    nvmlDevice_t dev;
    nvmlReturn_t r = nv->device_by_index(s->index, &dev);
    if (r != NVML_SUCCESS)
        return gpx_nvml_fail(nv, r, err, "nvmlDeviceGetHandleByIndex");
    struct gpx_mig_action *a = act(res, GPX_MIG_ACT_DISABLE);
    if (dry_run)
        return 0;
    if (set_mode(nv, m, dev, s, NVML_DEVICE_MIG_DISABLE, err) < 0)
        return -1;
    a->done = 1;
    return 0;
}

/* --- demand: plan + apply, shared by the CLI and gpuplexd ------------------------------ */

void gpx_mig_unmet_format(const struct gpx_mig_model *t, const struct gpx_mig_plan *pl, char *buf,
                          size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < t->profile_count && used < len; i++)
        if (pl->unmet[i])
            used += (size_t)snprintf(buf + used, len - used, "%s%s=%u", used ? "," : "",
                                     t->profiles[i].name, pl->unmet[i]);
    if (!buf[0])
        snprintf(buf, len, "none");
}

int gpx_mig_apply_demand(struct gpx_nvml *nv, const struct gpx_nvml_mig *m,
                         const struct gpx_mig_gpu_state *s,
                         const unsigned demand[GPX_MIG_MAX_PROFILES],
                         const struct gpx_mig_demand_opts *o, struct gpx_mig_demand_result *out,
                         gpx_error *err)
{
    memset(out, 0, sizeof *out);
    if (!s->supported)
        return gpx_error_set(err, GPX_E_INVALID, "GPU %u (%s) does not support MIG", s->index,
                             s->name);
    out->ncur = gpx_mig_current(s, out->cur);
    struct gpx_mig_planner *p = NULL;
    if (gpx_mig_planner_new(&s->table, &p, err) < 0 ||
        gpx_mig_plan(p, out->cur, out->ncur, demand,
                     o->exact || !o->enabled ? GPX_MIG_PLAN_EXACT : 0, &out->plan, err) < 0) {
        gpx_mig_planner_free(p);
        return gpx_error_wrap(err, "GPU %u", s->index);
    }
    gpx_mig_planner_free(p);
    out->planned = 1;
    const struct gpx_mig_plan *pl = &out->plan;
    if (pl->satisfied < pl->demanded && !o->partial) {
        char unmet[256];
        gpx_mig_unmet_format(&s->table, pl, unmet, sizeof unmet);
        return gpx_error_set(err, GPX_E_NO_SPACE,
                             "GPU %u (%s): the demand does not fit: %u of %u instances would be "
                             "missing (%s); see 'gpuplex mig plan', or apply what fits with "
                             "--partial (API: \"partial\": true)",
                             s->index, s->table.spec_name, pl->demanded - pl->satisfied,
                             pl->demanded, unmet);
    }
    if (o->enabled)
        return gpx_mig_apply(nv, m, s, pl, 1, o->dry_run, &out->res, err);
    if (s->mode_current != NVML_DEVICE_MIG_ENABLE)
        return 0; /* MIG is off already */
    /* MIG off: destroy everything unleased, then turn MIG off */
    if (gpx_mig_apply(nv, m, s, pl, 0, o->dry_run, &out->res, err) < 0)
        return -1;
    if (pl->count > 0)
        return gpx_error_set(err, GPX_E_BUSY, "GPU %u: %u GPU instance%s in use: MIG mode stays on",
                             s->index, pl->count, pl->count == 1 ? "" : "s");
    struct gpx_mig_apply_result *res = &out->res;
    if (o->dry_run) {
        if (res->n < sizeof res->actions / sizeof res->actions[0])
            res->actions[res->n++] =
                (struct gpx_mig_action){.kind = GPX_MIG_ACT_DISABLE, .profile = -1};
        return 0;
    }
    struct gpx_mig_gpu_state *s2 = malloc(sizeof *s2);
    if (!s2)
        return gpx_error_set(err, GPX_E_NOMEM, "MIG state");
    struct gpx_mig_apply_result r2;
    int rc = gpx_mig_read(nv, m, s->index, s2, err);
    if (rc == 0)
        rc = gpx_mig_disable(nv, m, s2, 0, &r2, err);
    if (rc == 0 && r2.n && res->n < sizeof res->actions / sizeof res->actions[0])
        res->actions[res->n++] = r2.actions[0];
    free(s2);
    return rc;
}
