/*
 * src/nvml/mig.c over the simulated driver, loaded the way gpuplex loads a
 * real one (dlopen through the NVML loader): the catalog cross-check lets
 * NVML win and counts each difference, a read sees instances and their
 * processes, and apply carries a plan out, stops at the first failure and
 * says what it did.
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "core/mig_plan.h"
#include "nvml/mig.h"
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
static struct gpx_sim_state st;
static struct gpx_nvml nv;
static struct gpx_nvml_mig m;

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "%s/gpx-mig-nvml-%d.sim",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    struct gpx_sim_spec spec;
    gpx_error err;
    assert_int_equal(gpx_sim_spec_parse("H100-80GB,A100-40GB", &spec, &err), 0);
    assert_int_equal(gpx_sim_create(path, &spec, &err), 0);
    assert_int_equal(gpx_sim_open(path, &st, &err), 0);
    setenv("GPUPLEX_SIM", path, 1);
    setenv("GPUPLEX_DRIVER_DIR", GPX_SIM_LIB_DIR, 1);
    gpx_log_set_level(GPX_LOG_ERROR); /* the cross-check's warnings are expected here */
    if (gpx_nvml_open(&nv, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(gpx_nvml_mig_open(&nv, &m, &err), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gpx_nvml_close(&nv);
    gpx_sim_close(&st);
    unlink(path);
    return 0;
}

static void test_crosscheck(void **state)
{
    (void)state;
    nvmlDevice_t dev;
    gpx_error err;
    assert_int_equal(nv.device_by_index(0, &dev), NVML_SUCCESS);
    const struct gpx_mig_model *h100 = gpx_mig_model_get(GPX_MIG_H100_80GB);
    struct gpx_mig_model out;
    unsigned diffs = 99;
    /* the simulator models the catalog: no difference */
    assert_int_equal(gpx_mig_crosscheck(&nv, &m, dev, h100, &out, &diffs, &err), 0);
    assert_int_equal(diffs, 0);
    assert_memory_equal(out.profiles, h100->profiles, sizeof out.profiles);

    /* a catalog that is wrong somewhere: NVML's figures win, each difference counted */
    struct gpx_mig_model wrong = *h100;
    wrong.profiles[2].sm_count = 16;           /* 1g.20gb */
    wrong.profiles[3].placements[2].start = 6; /* 2g.20gb */
    wrong.profiles[6].memory_mib = 80000;      /* 7g.80gb */
    snprintf(wrong.profiles[0].name, sizeof wrong.profiles[0].name, "1g.9gb");
    assert_int_equal(gpx_mig_crosscheck(&nv, &m, dev, &wrong, &out, &diffs, &err), 0);
    assert_int_equal(diffs, 3); /* the name is not known while MIG mode is off */
    assert_int_equal(out.profiles[2].sm_count, 26);
    assert_int_equal(out.profiles[3].placements[2].start, 4);
    assert_int_equal(out.profiles[6].memory_mib, 81152);

    /* with MIG mode on, NVML names profiles too */
    nvmlReturn_t act;
    struct gpx_nvml_mig *mm = &m;
    assert_int_equal(mm->set_mode(dev, NVML_DEVICE_MIG_ENABLE, &act), NVML_SUCCESS);
    assert_int_equal(gpx_mig_crosscheck(&nv, &m, dev, &wrong, &out, &diffs, &err), 0);
    assert_int_equal(diffs, 4);
    assert_string_equal(out.profiles[0].name, "1g.10gb");

    /* a catalog that lacks a profile, and one NVML does not report */
    struct gpx_mig_model fewer = *h100;
    fewer.profile_count = 6;       /* no 7g.80gb */
    fewer.profiles[5].index = 0x6; /* "4g.40gb" at an index NVML does not have */
    assert_int_equal(gpx_mig_crosscheck(&nv, &m, dev, &fewer, &out, &diffs, &err), 0);
    assert_int_equal(diffs,
                     3); /* 4g and 7g unknown to the catalog, its "6-slice" unknown to NVML */
    assert_int_equal(out.profile_count, 7);
    assert_string_equal(out.profiles[5].name, "4g.40gb"); /* NVML's name, after the catalog's */
    assert_string_equal(out.profiles[6].name, "7g.80gb");

    /* no catalog at all: the table is NVML's */
    assert_int_equal(gpx_mig_crosscheck(&nv, &m, dev, NULL, &out, &diffs, &err), 0);
    assert_int_equal(out.profile_count, 7);
    assert_int_equal(diffs, 0);
    for (unsigned i = 0; i < 7; i++) {
        int k = gpx_mig_profile_by_id(h100, out.profiles[i].id);
        assert_true(k >= 0);
        assert_string_equal(out.profiles[i].name, h100->profiles[k].name);
        assert_int_equal(out.profiles[i].memory_mib, h100->profiles[k].memory_mib);
    }
    assert_int_equal(mm->set_mode(dev, NVML_DEVICE_MIG_DISABLE, &act), NVML_SUCCESS);
}

static void plan_for(const struct gpx_mig_gpu_state *s, const char *demand, unsigned flags,
                     struct gpx_mig_plan *pl)
{
    gpx_error err;
    unsigned d[GPX_MIG_MAX_PROFILES];
    struct gpx_mig_instance cur[GPX_MIG_MAX_INSTANCES];
    unsigned n = gpx_mig_current(s, cur);
    struct gpx_mig_planner *p;
    assert_int_equal(gpx_mig_demand_parse(&s->table, demand, d, &err), 0);
    assert_int_equal(gpx_mig_planner_new(&s->table, &p, &err), 0);
    assert_int_equal(gpx_mig_plan(p, cur, n, d, flags, pl, &err), 0);
    gpx_mig_planner_free(p);
}

static void test_read_apply(void **state)
{
    (void)state;
    gpx_error err;
    struct gpx_mig_gpu_state *s = malloc(sizeof *s);
    struct gpx_mig_apply_result res;
    struct gpx_mig_plan pl;
    assert_non_null(s);
    assert_int_equal(gpx_mig_read(&nv, &m, 1, s, &err), 0);
    assert_true(s->supported);
    assert_int_equal(s->model, GPX_MIG_A100_40GB);
    assert_int_equal(s->mode_current, NVML_DEVICE_MIG_DISABLE);
    assert_int_equal(s->pci_device_id, 0x20B010DE);

    /* apply without enabling is refused while MIG is off */
    plan_for(s, "3g.20gb=2", 0, &pl);
    assert_int_equal(gpx_mig_apply(&nv, &m, s, &pl, 0, 0, &res, &err), -1);
    assert_int_equal(gpx_mig_apply(&nv, &m, s, &pl, 1, 1, &res, &err), 0); /* dry run */
    assert_int_equal(res.n, 3);
    assert_int_equal(res.actions[0].kind, GPX_MIG_ACT_ENABLE);
    assert_false(res.actions[0].done);
    assert_int_equal(gpx_mig_apply(&nv, &m, s, &pl, 1, 0, &res, &err), 0);
    assert_int_equal(res.n, 3);
    for (unsigned i = 0; i < res.n; i++)
        assert_true(res.actions[i].done);
    assert_memory_equal(res.actions[1].uuid, "MIG-", 4);

    assert_int_equal(gpx_mig_read(&nv, &m, 1, s, &err), 0);
    assert_int_equal(s->mode_current, NVML_DEVICE_MIG_ENABLE);
    assert_int_equal(s->ngi, 2);
    assert_int_equal(s->gi[0].start, 0);
    assert_int_equal(s->gi[1].start, 4);
    assert_int_equal(s->gi[0].nci, 1);
    assert_string_equal(s->gi[0].ci[0].uuid, res.actions[1].uuid); /* the one at 0:4 */
    /* each instance's memory, from its MIG device (what /metrics publishes per instance) */
    for (unsigned g = 0; g < s->ngi; g++) {
        assert_true(s->gi[g].memory_known);
        assert_int_equal(s->gi[g].memory_total,
                         (uint64_t)s->table.profiles[s->gi[g].profile].memory_mib << 20);
        assert_int_equal(s->gi[g].memory_used, 0);
    }

    /* a process on the instance at 0: it is leased, the planner works around it */
    struct gpx_sim_proc *p = gpx_sim_proc_attach(&st, 1, (int32_t)getpid());
    assert_non_null(p);
    assert_int_equal(gpx_sim_mig_bind(&st, 1, p, s->gi[0].id, 0), 0);
    assert_int_equal(gpx_mig_read(&nv, &m, 1, s, &err), 0);
    assert_int_equal(s->gi[0].procs, 1);
    assert_int_equal(s->nprocs, 1);
    struct gpx_mig_instance cur[GPX_MIG_MAX_INSTANCES];
    assert_int_equal(gpx_mig_current(s, cur), 2);
    assert_true(cur[0].leased);
    plan_for(s, "7g.40gb=1", 0, &pl);
    assert_int_equal(pl.satisfied, 0);
    assert_int_equal(pl.destroy_count, 0);
    /* a plan made elsewhere that would destroy it is refused */
    pl.destroy[0] = 0;
    pl.destroy_count = 1;
    assert_int_equal(gpx_mig_apply(&nv, &m, s, &pl, 1, 0, &res, &err), -1);
    assert_int_equal(err.code, GPX_E_BUSY);
    assert_int_equal(res.n, 0);
    atomic_store(&p->pid, 0);

    /* someone takes the room between read and apply: apply stops and says so */
    assert_int_equal(gpx_mig_read(&nv, &m, 1, s, &err), 0);
    plan_for(s, "3g.20gb=1,2g.10gb=1,1g.5gb=2", GPX_MIG_PLAN_EXACT, &pl);
    assert_int_equal(pl.satisfied, 4);
    nvmlDevice_t dev;
    nvmlGpuInstance_t gi;
    assert_int_equal(nv.device_by_index(1, &dev), NVML_SUCCESS);
    assert_int_equal(pl.destroy_count, 1);
    unsigned freed = s->gi[pl.destroy[0]].start;
    assert_int_equal(gpx_mig_apply(&nv, &m, s, &pl, 1, 1, &res, &err), 0);
    /* destroy the instance the plan frees ourselves and put a 1g where the 2g goes */
    struct gpx_mig_apply_result r2;
    struct gpx_mig_plan none = pl;
    none.count = 0;
    none.create_count = 0;
    assert_int_equal(gpx_mig_apply(&nv, &m, s, &none, 1, 0, &r2, &err), 0);
    unsigned two_start = 99;
    for (unsigned i = 0; i < pl.count; i++)
        if (s->table.profiles[pl.items[i].profile].compute_slices == 2)
            two_start = pl.items[i].start;
    assert_true(two_start == freed || two_start == freed + 2);
    nvmlGpuInstancePlacement_t in_the_way = {two_start, 1};
    assert_int_equal(m.gi_create_at(dev, 19, &in_the_way, &gi), NVML_SUCCESS);
    /* the plan (read before) still wants to destroy the instance that is gone */
    assert_int_equal(gpx_mig_apply(&nv, &m, s, &pl, 1, 0, &res, &err), -1);
    assert_int_equal(res.n, 1);
    assert_int_equal(res.actions[0].kind, GPX_MIG_ACT_DESTROY);
    assert_false(res.actions[0].done);
    /* re-read and re-plan: the plan now keeps the intruder or moves around it */
    assert_int_equal(gpx_mig_read(&nv, &m, 1, s, &err), 0);
    plan_for(s, "3g.20gb=1,2g.10gb=1,1g.5gb=2", 0, &pl);
    assert_int_equal(gpx_mig_apply(&nv, &m, s, &pl, 1, 0, &res, &err), 0);
    assert_int_equal(gpx_mig_read(&nv, &m, 1, s, &err), 0);
    unsigned counts[GPX_MIG_MAX_PROFILES] = {0};
    for (unsigned i = 0; i < s->ngi; i++)
        counts[s->gi[i].profile]++;
    assert_true(counts[gpx_mig_profile_find(&s->table, "3g.20gb")] >= 1);
    assert_true(counts[gpx_mig_profile_find(&s->table, "2g.10gb")] >= 1);
    assert_true(counts[gpx_mig_profile_find(&s->table, "1g.5gb")] >= 2);

    /* disabling: refused while instances exist, then done */
    assert_int_equal(gpx_mig_disable(&nv, &m, s, 0, &res, &err), -1);
    plan_for(s, "1g.5gb=0", GPX_MIG_PLAN_EXACT, &pl);
    assert_int_equal(gpx_mig_apply(&nv, &m, s, &pl, 1, 0, &res, &err), 0);
    assert_int_equal(gpx_mig_read(&nv, &m, 1, s, &err), 0);
    assert_int_equal(s->ngi, 0);
    assert_int_equal(gpx_mig_disable(&nv, &m, s, 0, &res, &err), 0);
    assert_int_equal(res.n, 1);
    assert_true(res.actions[0].done);
    assert_int_equal(gpx_mig_read(&nv, &m, 1, s, &err), 0);
    assert_int_equal(s->mode_current, NVML_DEVICE_MIG_DISABLE);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crosscheck),
        cmocka_unit_test(test_read_apply),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
