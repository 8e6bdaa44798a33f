/*
 * The simulated NVML's MIG behaviour, through the exported entry points of
 * the simulated libnvidia-ml.so.1: what works with MIG mode off, each profile
 * up to its maximum count and one more refused, placement errors, the user
 * guide's 19,19,14,9 ordering quirk and its fix by placements, compute
 * instances and IN_USE, MIG device handles and UUIDs, and a mode change
 * that waits for the GPU's processes.
 */
#define _GNU_SOURCE
#include "abi/nvml_abi.h"
#include "core/mig_catalog.h"
#include "core/mig_plan.h"
#include "mig_state.h"
#include "state.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char path[256];
static struct gpx_sim_state st; /* the test's own view of the node */

/* GPU i is model i: A100-40GB, A100-80GB, H100-80GB, H200-141GB. */
static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "%s/gpx-sim-mig-%d.sim",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    struct gpx_sim_spec spec;
    gpx_error err;
    assert_int_equal(gpx_sim_spec_parse("A100-40GB,A100-80GB,H100-80GB,H200-141GB", &spec, &err),
                     0);
    assert_int_equal(gpx_sim_create(path, &spec, &err), 0);
    assert_int_equal(gpx_sim_open(path, &st, &err), 0);
    setenv("GPUPLEX_SIM", path, 1);
    assert_int_equal(nvmlInit_v2(), NVML_SUCCESS);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nvmlShutdown();
    gpx_sim_close(&st);
    unlink(path);
    return 0;
}

static nvmlDevice_t dev(unsigned i)
{
    nvmlDevice_t d;
    assert_int_equal(nvmlDeviceGetHandleByIndex_v2(i, &d), NVML_SUCCESS);
    return d;
}

static void enable(unsigned i)
{
    nvmlReturn_t act = NVML_ERROR_UNKNOWN;
    assert_int_equal(nvmlDeviceSetMigMode(dev(i), NVML_DEVICE_MIG_ENABLE, &act), NVML_SUCCESS);
    assert_int_equal(act, NVML_SUCCESS);
    unsigned cur, pend;
    assert_int_equal(nvmlDeviceGetMigMode(dev(i), &cur, &pend), NVML_SUCCESS);
    assert_int_equal(cur, NVML_DEVICE_MIG_ENABLE);
}

/* Destroys every CI and GI of GPU i. */
static void clear(unsigned i)
{
    const struct gpx_mig_model *m = gpx_mig_model_get((enum gpx_mig_model_id)i);
    for (unsigned p = 0; p < m->profile_count; p++) {
        nvmlGpuInstance_t gis[16];
        unsigned n = 16;
        assert_int_equal(nvmlDeviceGetGpuInstances(dev(i), m->profiles[p].id, gis, &n),
                         NVML_SUCCESS);
        for (unsigned k = 0; k < n; k++) {
            for (unsigned cp = 0; cp <= 4; cp++) {
                nvmlComputeInstance_t cis[8];
                unsigned nc = 8;
                if (nvmlGpuInstanceGetComputeInstances(gis[k], cp, cis, &nc) != NVML_SUCCESS)
                    continue;
                for (unsigned c = 0; c < nc; c++)
                    assert_int_equal(nvmlComputeInstanceDestroy(cis[c]), NVML_SUCCESS);
            }
            assert_int_equal(nvmlGpuInstanceDestroy(gis[k]), NVML_SUCCESS);
        }
    }
}

static nvmlGpuInstanceInfo_t info_of(nvmlGpuInstance_t gi)
{
    nvmlGpuInstanceInfo_t info;
    assert_int_equal(nvmlGpuInstanceGetInfo(gi, &info), NVML_SUCCESS);
    return info;
}

static void test_mig_off(void **state)
{
    (void)state;
    nvmlDevice_t d = dev(0);
    unsigned cur = 9, pend = 9, n = 0;
    assert_int_equal(nvmlDeviceGetMigMode(d, &cur, &pend), NVML_SUCCESS);
    assert_int_equal(cur, NVML_DEVICE_MIG_DISABLE);
    nvmlGpuInstance_t gi;
    assert_int_equal(nvmlDeviceCreateGpuInstance(d, 19, &gi), NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(nvmlDeviceGetGpuInstanceRemainingCapacity(d, 19, &n),
                     NVML_ERROR_NOT_SUPPORTED);
    /* profile info and placements answer whatever the mode */
    nvmlGpuInstanceProfileInfo_t info;
    assert_int_equal(
        nvmlDeviceGetGpuInstanceProfileInfo(d, NVML_GPU_INSTANCE_PROFILE_1_SLICE, &info),
        NVML_SUCCESS);
    assert_int_equal(info.id, 19);
    assert_int_equal(info.instanceCount, 7);
    assert_int_equal(info.multiprocessorCount, 14);
    assert_int_equal(info.memorySizeMB, 4864);
    assert_int_equal(
        nvmlDeviceGetGpuInstanceProfileInfo(d, NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2, &info),
        NVML_SUCCESS);
    assert_int_equal(info.id, 15);
    assert_int_equal(
        nvmlDeviceGetGpuInstanceProfileInfo(d, NVML_GPU_INSTANCE_PROFILE_8_SLICE, &info),
        NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(nvmlDeviceGetGpuInstanceProfileInfo(d, 0x12, &info),
                     NVML_ERROR_INVALID_ARGUMENT);
    nvmlGpuInstanceProfileInfo_v2_t v2 = {.version = nvmlGpuInstanceProfileInfo_v2};
    assert_int_equal(nvmlDeviceGetGpuInstanceProfileInfoV(d, 0, &v2), NVML_ERROR_NOT_SUPPORTED);
    nvmlGpuInstancePlacement_t pl[8];
    assert_int_equal(nvmlDeviceGetGpuInstancePossiblePlacements_v2(d, 15, NULL, &n), NVML_SUCCESS);
    assert_int_equal(n, 4);
    assert_int_equal(nvmlDeviceGetGpuInstancePossiblePlacements_v2(d, 15, pl, &n), NVML_SUCCESS);
    for (unsigned k = 0; k < 4; k++) {
        assert_int_equal(pl[k].start, 2 * k);
        assert_int_equal(pl[k].size, 2);
    }
    assert_int_equal(nvmlDeviceGetGpuInstancePossiblePlacements_v2(d, 7, pl, &n),
                     NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(nvmlDeviceGetMaxMigDeviceCount(d, &n), NVML_SUCCESS);
    assert_int_equal(n, 0);
    unsigned is_mig = 9;
    assert_int_equal(nvmlDeviceIsMigDeviceHandle(d, &is_mig), NVML_SUCCESS);
    assert_int_equal(is_mig, 0);

    enable(0);
    assert_int_equal(nvmlDeviceGetGpuInstanceProfileInfoV(d, 0, &v2), NVML_SUCCESS);
    assert_string_equal(v2.name, "MIG 1g.5gb");
    v2.version = 0x12345678;
    assert_int_equal(nvmlDeviceGetGpuInstanceProfileInfoV(d, 0, &v2),
                     NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
}

/* Each profile of each model up to its maximum count, then one more is refused. */
static void test_each_profile_max(void **state)
{
    (void)state;
    for (unsigned i = 0; i < GPX_MIG_MODEL_COUNT; i++) {
        const struct gpx_mig_model *m = gpx_mig_model_get((enum gpx_mig_model_id)i);
        enable(i);
        clear(i);
        for (unsigned p = 0; p < m->profile_count; p++) {
            const struct gpx_mig_gi_profile *g = &m->profiles[p];
            nvmlGpuInstance_t gi;
            unsigned left = 99;
            for (unsigned k = 0; k < g->max_count; k++) {
                assert_int_equal(nvmlDeviceGetGpuInstanceRemainingCapacity(dev(i), g->id, &left),
                                 NVML_SUCCESS);
                assert_int_equal(left, g->max_count - k);
                if (nvmlDeviceCreateGpuInstance(dev(i), g->id, &gi) != NVML_SUCCESS)
                    fail_msg("%s: %s #%u refused", m->spec_name, g->name, k + 1);
                assert_int_equal(info_of(gi).profileId, g->id);
            }
            assert_int_equal(nvmlDeviceGetGpuInstanceRemainingCapacity(dev(i), g->id, &left),
                             NVML_SUCCESS);
            assert_int_equal(left, 0);
            assert_int_equal(nvmlDeviceCreateGpuInstance(dev(i), g->id, &gi),
                             NVML_ERROR_INSUFFICIENT_RESOURCES);
            clear(i);
            /* and with every placement explicitly, the same one twice refused */
            for (unsigned k = 0; k < g->placement_count && k < g->max_count; k++) {
                nvmlGpuInstancePlacement_t pl = {g->placements[k].start, g->placements[k].size};
                assert_int_equal(nvmlDeviceCreateGpuInstanceWithPlacement(dev(i), g->id, &pl, &gi),
                                 NVML_SUCCESS);
                nvmlGpuInstanceInfo_t info = info_of(gi);
                assert_int_equal(info.placement.start, pl.start);
                assert_int_equal(info.placement.size, pl.size);
                assert_int_equal(nvmlDeviceCreateGpuInstanceWithPlacement(dev(i), g->id, &pl, &gi),
                                 NVML_ERROR_INSUFFICIENT_RESOURCES);
            }
            clear(i);
        }
    }
}

static void test_placement_errors(void **state)
{
    (void)state;
    nvmlDevice_t d = dev(2); /* H100 */
    enable(2);
    clear(2);
    nvmlGpuInstance_t gi;
    nvmlGpuInstancePlacement_t p0 = {0, 4};
    assert_int_equal(nvmlDeviceCreateGpuInstanceWithPlacement(d, 9, &p0, &gi), NVML_SUCCESS);
    /* overlapping */
    nvmlGpuInstancePlacement_t p2 = {2, 2};
    assert_int_equal(nvmlDeviceCreateGpuInstanceWithPlacement(d, 14, &p2, &gi),
                     NVML_ERROR_INSUFFICIENT_RESOURCES);
    /* not a placement of 2g (starts 0, 2, 4) */
    nvmlGpuInstancePlacement_t p6 = {6, 2};
    assert_int_equal(nvmlDeviceCreateGpuInstanceWithPlacement(d, 14, &p6, &gi),
                     NVML_ERROR_INSUFFICIENT_RESOURCES);
    /* wrong size for the profile */
    nvmlGpuInstancePlacement_t p4 = {4, 1};
    assert_int_equal(nvmlDeviceCreateGpuInstanceWithPlacement(d, 14, &p4, &gi),
                     NVML_ERROR_INVALID_ARGUMENT);
    /* no such profile id, no placement */
    assert_int_equal(nvmlDeviceCreateGpuInstanceWithPlacement(d, 7, &p4, &gi),
                     NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nvmlDeviceCreateGpuInstanceWithPlacement(d, 14, NULL, &gi),
                     NVML_ERROR_INVALID_ARGUMENT);
    /* 4g.40gb only goes at 0, which the 3g holds */
    assert_int_equal(nvmlDeviceCreateGpuInstance(d, 5, &gi), NVML_ERROR_INSUFFICIENT_RESOURCES);
    clear(2);
}

/* The user guide: 19,19,14,9 fails with Insufficient Resources; 9,19,14,19 succeeds. */
static void test_quirk(void **state)
{
    (void)state;
    nvmlDevice_t d = dev(0); /* A100-40GB */
    enable(0);
    clear(0);
    nvmlGpuInstance_t gi;
    static const unsigned bad[] = {19, 19, 14};
    static const unsigned bad_ids[] = {13, 11, 3}; /* the ids the user guide's listing shows */
    for (unsigned k = 0; k < 3; k++) {
        assert_int_equal(nvmlDeviceCreateGpuInstance(d, bad[k], &gi), NVML_SUCCESS);
        assert_int_equal(info_of(gi).id, bad_ids[k]);
    }
    assert_int_equal(nvmlDeviceCreateGpuInstance(d, 9, &gi), NVML_ERROR_INSUFFICIENT_RESOURCES);
    clear(0);
    static const unsigned good[] = {9, 19, 14, 19};
    static const unsigned good_start[] = {4, 0, 2, 1};
    for (unsigned k = 0; k < 4; k++) {
        assert_int_equal(nvmlDeviceCreateGpuInstance(d, good[k], &gi), NVML_SUCCESS);
        assert_int_equal(info_of(gi).placement.start, good_start[k]);
    }
    clear(0);
    /* seven 1g instances land on slices 6, 4, 5, 0, 1, 2, 3 (ids 13, 11, 12, 7, 8, 9, 10) */
    static const unsigned order[] = {6, 4, 5, 0, 1, 2, 3};
    for (unsigned k = 0; k < 7; k++) {
        assert_int_equal(nvmlDeviceCreateGpuInstance(d, 19, &gi), NVML_SUCCESS);
        assert_int_equal(info_of(gi).placement.start, order[k]);
        assert_int_equal(info_of(gi).id, 7 + order[k]);
    }
    clear(0);

    /* the planner's placements make the bad order work */
    const struct gpx_mig_model *m = gpx_mig_model_get(GPX_MIG_A100_40GB);
    struct gpx_mig_planner *pl;
    gpx_error err;
    unsigned dem[GPX_MIG_MAX_PROFILES];
    assert_int_equal(gpx_mig_planner_new(m, &pl, &err), 0);
    assert_int_equal(gpx_mig_demand_parse(m, "1g.5gb=2,2g.10gb=1,3g.20gb=1", dem, &err), 0);
    struct gpx_mig_plan plan;
    assert_int_equal(gpx_mig_plan(pl, NULL, 0, dem, 0, &plan, &err), 0);
    gpx_mig_planner_free(pl);
    assert_int_equal(plan.satisfied, 4);
    static const unsigned ids[] = {19, 19, 14, 9};
    unsigned used[GPX_MIG_MAX_INSTANCES] = {0};
    for (unsigned k = 0; k < 4; k++) {
        for (unsigned i = 0; i < plan.count; i++) {
            const struct gpx_mig_gi_profile *g = &m->profiles[plan.items[i].profile];
            if (used[i] || g->id != ids[k])
                continue;
            used[i] = 1;
            nvmlGpuInstancePlacement_t p = {plan.items[i].start, g->memory_slices};
            assert_int_equal(nvmlDeviceCreateGpuInstanceWithPlacement(d, g->id, &p, &gi),
                             NVML_SUCCESS);
            break;
        }
    }
    clear(0);
}

static void test_compute_instances(void **state)
{
    (void)state;
    nvmlDevice_t d = dev(1); /* A100-80GB */
    enable(1);
    clear(1);
    nvmlGpuInstance_t gi;
    assert_int_equal(nvmlDeviceCreateGpuInstance(d, 9, &gi), NVML_SUCCESS); /* 3g.40gb */
    nvmlComputeInstanceProfileInfo_t ci;
    assert_int_equal(nvmlGpuInstanceGetComputeInstanceProfileInfo(
                         gi, NVML_COMPUTE_INSTANCE_PROFILE_3_SLICE,
                         NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED, &ci),
                     NVML_SUCCESS);
    assert_int_equal(ci.id, 2);
    assert_int_equal(ci.sliceCount, 3);
    assert_int_equal(ci.multiprocessorCount, 42);
    assert_int_equal(nvmlGpuInstanceGetComputeInstanceProfileInfo(
                         gi, NVML_COMPUTE_INSTANCE_PROFILE_4_SLICE,
                         NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED, &ci),
                     NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(nvmlGpuInstanceGetComputeInstanceProfileInfo(gi, 0, 1, &ci),
                     NVML_ERROR_INVALID_ARGUMENT);
    nvmlComputeInstanceProfileInfo_v2_t v2 = {.version = nvmlComputeInstanceProfileInfo_v2};
    assert_int_equal(nvmlGpuInstanceGetComputeInstanceProfileInfoV(gi, 0, 0, &v2), NVML_SUCCESS);
    assert_string_equal(v2.name, "MIG 1c.3g.40gb");

    nvmlComputeInstance_t c[4];
    for (unsigned k = 0; k < 3; k++)
        assert_int_equal(nvmlGpuInstanceCreateComputeInstance(gi, 0, &c[k]), NVML_SUCCESS);
    assert_int_equal(nvmlGpuInstanceCreateComputeInstance(gi, 0, &c[3]),
                     NVML_ERROR_INSUFFICIENT_RESOURCES);
    nvmlComputeInstanceInfo_t cinfo;
    assert_int_equal(nvmlComputeInstanceGetInfo_v2(c[2], &cinfo), NVML_SUCCESS);
    assert_int_equal(cinfo.id, 2);
    assert_int_equal(cinfo.placement.start, 2);
    assert_ptr_equal(cinfo.gpuInstance, gi);
    assert_ptr_equal(cinfo.device, d);
    unsigned left = 9;
    assert_int_equal(nvmlGpuInstanceGetComputeInstanceRemainingCapacity(gi, 2, &left),
                     NVML_SUCCESS);
    assert_int_equal(left, 0);
    /* a GPU instance with compute instances is in use */
    assert_int_equal(nvmlGpuInstanceDestroy(gi), NVML_ERROR_IN_USE);
    for (unsigned k = 0; k < 3; k++)
        assert_int_equal(nvmlComputeInstanceDestroy(c[k]), NVML_SUCCESS);
    assert_int_equal(nvmlComputeInstanceDestroy(c[0]), NVML_ERROR_INVALID_ARGUMENT); /* stale */
    nvmlComputeInstancePlacement_t cp = {0, 3};
    assert_int_equal(nvmlGpuInstanceCreateComputeInstanceWithPlacement(gi, 2, &cp, &c[0]),
                     NVML_SUCCESS);
    assert_int_equal(nvmlGpuInstanceCreateComputeInstanceWithPlacement(gi, 0, &cp, &c[1]),
                     NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(nvmlComputeInstanceDestroy(c[0]), NVML_SUCCESS);
    assert_int_equal(nvmlGpuInstanceDestroy(gi), NVML_SUCCESS);
    assert_int_equal(nvmlGpuInstanceDestroy(gi), NVML_ERROR_INVALID_ARGUMENT); /* stale */
    nvmlGpuInstance_t byid;
    assert_int_equal(nvmlDeviceGetGpuInstanceById(d, 1, &byid), NVML_ERROR_NOT_FOUND);
}

static void test_mig_devices(void **state)
{
    (void)state;
    nvmlDevice_t d = dev(0);
    enable(0);
    clear(0);
    nvmlGpuInstance_t gi3, gi1;
    nvmlComputeInstance_t ci;
    nvmlGpuInstancePlacement_t p4 = {4, 4}, p0 = {0, 1};
    assert_int_equal(nvmlDeviceCreateGpuInstanceWithPlacement(d, 9, &p4, &gi3), NVML_SUCCESS);
    assert_int_equal(nvmlGpuInstanceCreateComputeInstance(gi3, 2, &ci), NVML_SUCCESS);
    assert_int_equal(nvmlDeviceCreateGpuInstanceWithPlacement(d, 19, &p0, &gi1), NVML_SUCCESS);
    assert_int_equal(nvmlGpuInstanceCreateComputeInstance(gi1, 0, &ci), NVML_SUCCESS);
    unsigned max = 0;
    assert_int_equal(nvmlDeviceGetMaxMigDeviceCount(d, &max), NVML_SUCCESS);
    assert_int_equal(max, 7);
    /* ordered by GPU instance id: the 3g (id 2) before the 1g (id 7) */
    nvmlDevice_t mig;
    assert_int_equal(nvmlDeviceGetMigDeviceHandleByIndex(d, 0, &mig), NVML_SUCCESS);
    unsigned is_mig = 0, gid = 0, cid = 9;
    assert_int_equal(nvmlDeviceIsMigDeviceHandle(mig, &is_mig), NVML_SUCCESS);
    assert_int_equal(is_mig, 1);
    assert_int_equal(nvmlDeviceGetGpuInstanceId(mig, &gid), NVML_SUCCESS);
    assert_int_equal(gid, 2);
    assert_int_equal(nvmlDeviceGetComputeInstanceId(mig, &cid), NVML_SUCCESS);
    assert_int_equal(cid, 0);
    assert_int_equal(nvmlDeviceGetGpuInstanceId(d, &gid), NVML_ERROR_NOT_SUPPORTED);
    char uuid[96], name[96];
    assert_int_equal(nvmlDeviceGetUUID(mig, uuid, sizeof uuid), NVML_SUCCESS);
    assert_memory_equal(uuid, "MIG-", 4);
    assert_int_equal(strlen(uuid), 40);
    char want[80];
    gpx_sim_mig_uuid(&st.gpus[0], 2, 0, want);
    assert_string_equal(uuid, want);
    assert_int_equal(nvmlDeviceGetName(mig, name, sizeof name), NVML_SUCCESS);
    assert_string_equal(name, "NVIDIA A100-SXM4-40GB MIG 3g.20gb");
    nvmlMemory_t mem;
    assert_int_equal(nvmlDeviceGetMemoryInfo(mig, &mem), NVML_SUCCESS);
    assert_int_equal(mem.total, 19968ULL << 20);
    assert_int_equal(mem.used, 0);
    nvmlDevice_t by_uuid, parent;
    assert_int_equal(nvmlDeviceGetHandleByUUID(uuid, &by_uuid), NVML_SUCCESS);
    assert_ptr_equal(by_uuid, mig);
    assert_int_equal(nvmlDeviceGetDeviceHandleFromMigDeviceHandle(mig, &parent), NVML_SUCCESS);
    assert_ptr_equal(parent, d);
    assert_int_equal(nvmlDeviceGetMigDeviceHandleByIndex(d, 2, &mig), NVML_ERROR_NOT_FOUND);

    /* what the simulated libcuda sees */
    struct gpx_sim_mig_device md;
    assert_int_equal(gpx_sim_mig_find_uuid(&st, uuid, &md), 0);
    assert_int_equal(md.gpu, 0);
    assert_int_equal(md.gi, 2);
    assert_int_equal(md.sm_count, 42);
    assert_int_equal(md.memory_total, 19968ULL << 20);
    assert_string_equal(md.name, "NVIDIA A100-SXM4-40GB MIG 3g.20gb");
    assert_int_equal(gpx_sim_mig_find_uuid(&st, "MIG-00000000-0000-5000-8000-000000000000", &md),
                     -1);
    assert_int_equal(gpx_sim_mig_device_count(&st, 0), 2);
    assert_int_equal(gpx_sim_mig_device_at(&st, 0, 1, &md), 0);
    assert_int_equal(md.gi, 7);
    assert_int_equal(md.sm_count, 14);
    clear(0);
}

/*
 * As the driver: no utilization for a GPU in MIG mode (NVML's reference: "On MIG-enabled
 * GPUs, querying device utilization rates is not currently supported"; nvidia-smi dmon's
 * help names gpu, memory, encoder, decoder, jpeg and ofa) nor for a MIG device; power,
 * temperature and clocks stay. Back with MIG off.
 */
static void test_utilization_in_mig_mode(void **state)
{
    (void)state;
    nvmlDevice_t d = dev(1);
    nvmlUtilization_t u;
    unsigned v, period, cur, pend, n = 4;
    nvmlValueType_t vt;
    nvmlSample_t samples[64];
    nvmlReturn_t act = NVML_ERROR_UNKNOWN;
    assert_int_equal(nvmlDeviceGetMigMode(d, &cur, &pend), NVML_SUCCESS);
    if (cur == NVML_DEVICE_MIG_ENABLE) { /* left on by an earlier test */
        clear(1);
        assert_int_equal(nvmlDeviceSetMigMode(d, NVML_DEVICE_MIG_DISABLE, &act), NVML_SUCCESS);
    }
    assert_int_equal(nvmlDeviceGetUtilizationRates(d, &u), NVML_SUCCESS);
    assert_int_equal(nvmlDeviceGetEncoderUtilization(d, &v, &period), NVML_SUCCESS);
    assert_int_equal(nvmlDeviceGetSamples(d, NVML_GPU_UTILIZATION_SAMPLES, 0, &vt, &n, NULL),
                     NVML_SUCCESS);
    enable(1);
    clear(1);
    assert_int_equal(nvmlDeviceGetUtilizationRates(d, &u), NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(nvmlDeviceGetEncoderUtilization(d, &v, &period), NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(nvmlDeviceGetDecoderUtilization(d, &v, &period), NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(nvmlDeviceGetJpgUtilization(d, &v, &period), NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(nvmlDeviceGetOfaUtilization(d, &v, &period), NVML_ERROR_NOT_SUPPORTED);
    n = 64;
    assert_int_equal(nvmlDeviceGetSamples(d, NVML_GPU_UTILIZATION_SAMPLES, 0, &vt, &n, samples),
                     NVML_ERROR_NOT_SUPPORTED);
    n = 64;
    assert_int_equal(nvmlDeviceGetSamples(d, NVML_MEMORY_UTILIZATION_SAMPLES, 0, &vt, &n, samples),
                     NVML_ERROR_NOT_SUPPORTED);
    n = 4;
    assert_int_equal(nvmlDeviceGetSamples(d, NVML_TOTAL_POWER_SAMPLES, 0, &vt, &n, NULL),
                     NVML_SUCCESS);
    assert_int_equal(nvmlDeviceGetPowerUsage(d, &v), NVML_SUCCESS);
    assert_int_equal(nvmlDeviceGetTemperature(d, NVML_TEMPERATURE_GPU, &v), NVML_SUCCESS);
    /* a MIG device has none either */
    nvmlGpuInstance_t gi;
    nvmlComputeInstance_t ci;
    nvmlGpuInstancePlacement_t p0 = {0, 1};
    assert_int_equal(nvmlDeviceCreateGpuInstanceWithPlacement(d, 19, &p0, &gi), NVML_SUCCESS);
    assert_int_equal(nvmlGpuInstanceCreateComputeInstance(gi, 0, &ci), NVML_SUCCESS);
    nvmlDevice_t mig;
    assert_int_equal(nvmlDeviceGetMigDeviceHandleByIndex(d, 0, &mig), NVML_SUCCESS);
    assert_int_equal(nvmlDeviceGetUtilizationRates(mig, &u), NVML_ERROR_NOT_SUPPORTED);
    clear(1);
    assert_int_equal(nvmlDeviceSetMigMode(d, NVML_DEVICE_MIG_DISABLE, &act), NVML_SUCCESS);
    assert_int_equal(nvmlDeviceGetMigMode(d, &cur, &pend), NVML_SUCCESS);
    assert_int_equal(cur, NVML_DEVICE_MIG_DISABLE);
    assert_int_equal(nvmlDeviceGetUtilizationRates(d, &u), NVML_SUCCESS);
    assert_int_equal(nvmlDeviceGetEncoderUtilization(d, &v, &period), NVML_SUCCESS);
}

static void test_pending_mode_and_busy_instances(void **state)
{
    (void)state;
    nvmlDevice_t d = dev(3); /* H200, MIG on since test_each_profile_max */
    nvmlReturn_t act = NVML_ERROR_UNKNOWN;
    clear(3);
    assert_int_equal(nvmlDeviceSetMigMode(d, NVML_DEVICE_MIG_DISABLE, &act), NVML_SUCCESS);
    assert_int_equal(act, NVML_SUCCESS);
    /* a process on the GPU: enabling MIG stays pending */
    struct gpx_sim_proc *p = gpx_sim_proc_attach(&st, 3, (int32_t)getpid());
    assert_non_null(p);
    assert_int_equal(nvmlDeviceSetMigMode(d, NVML_DEVICE_MIG_ENABLE, &act), NVML_SUCCESS);
    assert_int_equal(act, NVML_ERROR_IN_USE);
    unsigned cur, pend;
    assert_int_equal(nvmlDeviceGetMigMode(d, &cur, &pend), NVML_SUCCESS);
    assert_int_equal(cur, NVML_DEVICE_MIG_DISABLE);
    assert_int_equal(pend, NVML_DEVICE_MIG_ENABLE);
    nvmlGpuInstance_t gi;
    assert_int_equal(nvmlDeviceCreateGpuInstance(d, 0, &gi), NVML_ERROR_NOT_SUPPORTED);
    /* the process goes: the change takes effect */
    atomic_store(&p->pid, 0);
    assert_int_equal(nvmlDeviceGetMigMode(d, &cur, &pend), NVML_SUCCESS);
    assert_int_equal(cur, NVML_DEVICE_MIG_ENABLE);

    /* a process on a MIG device: its instances are in use */
    nvmlComputeInstance_t ci;
    assert_int_equal(nvmlDeviceCreateGpuInstance(d, 14, &gi), NVML_SUCCESS); /* 2g.35gb */
    assert_int_equal(nvmlGpuInstanceCreateComputeInstance(gi, 1, &ci), NVML_SUCCESS);
    unsigned gid = info_of(gi).id;
    p = gpx_sim_proc_attach(&st, 3, (int32_t)getpid());
    assert_non_null(p);
    assert_int_equal(gpx_sim_mig_bind(&st, 3, p, gid, 0), 0);
    assert_int_equal(gpx_sim_mig_bind(&st, 3, p, 14, 0), -1); /* no such instance */
    atomic_store(&p->used_bytes, 1ULL << 30);
    assert_int_equal(gpx_sim_mig_used(&st, 3, gid), 1ULL << 30);
    nvmlProcessInfo_t procs[4];
    unsigned n = 4;
    assert_int_equal(nvmlDeviceGetComputeRunningProcesses_v3(d, &n, procs), NVML_SUCCESS);
    assert_int_equal(n, 1);
    assert_int_equal(procs[0].gpuInstanceId, gid);
    assert_int_equal(procs[0].computeInstanceId, 0);
    nvmlDevice_t mig;
    nvmlMemory_t mem;
    assert_int_equal(nvmlDeviceGetMigDeviceHandleByIndex(d, 0, &mig), NVML_SUCCESS);
    assert_int_equal(nvmlDeviceGetMemoryInfo(mig, &mem), NVML_SUCCESS);
    assert_int_equal(mem.used, 1ULL << 30);
    assert_int_equal(mem.total, 33280ULL << 20);
    assert_int_equal(nvmlComputeInstanceDestroy(ci), NVML_ERROR_IN_USE);
    /* disabling waits for the process and the instances */
    assert_int_equal(nvmlDeviceSetMigMode(d, NVML_DEVICE_MIG_DISABLE, &act), NVML_SUCCESS);
    assert_int_equal(act, NVML_ERROR_IN_USE);
    atomic_store(&p->used_bytes, 0);
    atomic_store(&p->pid, 0);
    assert_int_equal(nvmlDeviceGetMigMode(d, &cur, &pend), NVML_SUCCESS);
    assert_int_equal(cur, NVML_DEVICE_MIG_ENABLE); /* instances remain */
    assert_int_equal(pend, NVML_DEVICE_MIG_DISABLE);
    assert_int_equal(nvmlComputeInstanceDestroy(ci), NVML_SUCCESS);
    assert_int_equal(nvmlGpuInstanceDestroy(gi), NVML_SUCCESS);
    assert_int_equal(nvmlDeviceGetMigMode(d, &cur, &pend), NVML_SUCCESS);
    assert_int_equal(cur, NVML_DEVICE_MIG_DISABLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mig_off),
        cmocka_unit_test(test_each_profile_max),
        cmocka_unit_test(test_placement_errors),
        cmocka_unit_test(test_quirk),
        cmocka_unit_test(test_compute_instances),
        cmocka_unit_test(test_mig_devices),
        cmocka_unit_test(test_utilization_in_mig_mode),
        cmocka_unit_test(test_pending_mode_and_busy_instances),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
