/*
 * MIG catalog figures per model, as the MIG user guide and nvidia-smi
 * listings give them (sources in src/core/mig_catalog.c), and the lookups.
 */
#include "core/mig_catalog.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

struct want {
    const char *name;
    unsigned index, id, compute, memory, max, sms, mib;
    const char *starts; /* "0,2,4" */
};

static void check_model(enum gpx_mig_model_id id, const char *spec, const struct want *w)
{
    const struct gpx_mig_model *m = gpx_mig_model_get(id);
    assert_non_null(m);
    assert_string_equal(m->spec_name, spec);
    assert_int_equal(m->profile_count, 7);
    for (unsigned i = 0; i < 7; i++) {
        const struct gpx_mig_gi_profile *p = &m->profiles[i];
        assert_string_equal(p->name, w[i].name);
        assert_int_equal(p->index, w[i].index);
        assert_int_equal(p->id, w[i].id);
        assert_int_equal(p->compute_slices, w[i].compute);
        assert_int_equal(p->memory_slices, w[i].memory);
        assert_int_equal(p->max_count, w[i].max);
        assert_int_equal(p->sm_count, w[i].sms);
        assert_int_equal(p->memory_mib, w[i].mib);
        char starts[64] = "";
        size_t used = 0;
        for (unsigned k = 0; k < p->placement_count; k++) {
            used += (size_t)snprintf(starts + used, sizeof starts - used, "%s%u", k ? "," : "",
                                     p->placements[k].start);
            /* every placement has the profile's memory size and fits 8 slices */
            assert_int_equal(p->placements[k].size, p->memory_slices);
            assert_true(p->placements[k].start + p->placements[k].size <= 8);
        }
        assert_string_equal(starts, w[i].starts);
        /* NVML index -> profile id, the same on every model */
        static const unsigned idx_to_id[10] = {19, 14, 9, 5, 0, 99, 99, 20, 99, 15};
        assert_int_equal(p->id, idx_to_id[p->index]);
        assert_int_equal(gpx_mig_profile_by_id(m, p->id), (int)i);
        assert_int_equal(gpx_mig_profile_by_index(m, p->index), (int)i);
        assert_int_equal(gpx_mig_profile_find(m, p->name), (int)i);
    }
}

static void test_a100_40gb(void **state)
{
    (void)state;
    /* user guide: -lgipp, -lgip (4.75 / 9.62 / 19.50 / 39.25 GiB; 14/28/42/56/98 SMs) */
    static const struct want w[] = {
        {"1g.5gb", 0, 19, 1, 1, 7, 14, 4864, "0,1,2,3,4,5,6"},
        {"1g.5gb+me", 7, 20, 1, 1, 1, 14, 4864, "0,1,2,3,4,5,6"},
        {"1g.10gb", 9, 15, 1, 2, 4, 14, 9856, "0,2,4,6"},
        {"2g.10gb", 1, 14, 2, 2, 3, 28, 9856, "0,2,4"},
        {"3g.20gb", 2, 9, 3, 4, 2, 42, 19968, "0,4"},
        {"4g.20gb", 3, 5, 4, 4, 1, 56, 19968, "0"},
        {"7g.40gb", 4, 0, 7, 8, 1, 98, 40192, "0"},
    };
    check_model(GPX_MIG_A100_40GB, "A100-40GB", w);
}

static void test_a100_80gb(void **state)
{
    (void)state;
    static const struct want w[] = {
        {"1g.10gb", 0, 19, 1, 1, 7, 14, 9728, "0,1,2,3,4,5,6"},
        {"1g.10gb+me", 7, 20, 1, 1, 1, 14, 9728, "0,1,2,3,4,5,6"},
        {"1g.20gb", 9, 15, 1, 2, 4, 14, 19968, "0,2,4,6"},
        {"2g.20gb", 1, 14, 2, 2, 3, 28, 19968, "0,2,4"},
        {"3g.40gb", 2, 9, 3, 4, 2, 42, 40448, "0,4"},
        {"4g.40gb", 3, 5, 4, 4, 1, 56, 40448, "0"},
        {"7g.80gb", 4, 0, 7, 8, 1, 98, 81152, "0"},
    };
    check_model(GPX_MIG_A100_80GB, "A100-80GB", w);
}

static void test_h100_80gb(void **state)
{
    (void)state;
    /* H100 SXM5 -lgip: 9.75 / 19.62 / 39.50 / 79.25 GiB; 16/16/26/32/60/64/132 SMs */
    static const struct want w[] = {
        {"1g.10gb", 0, 19, 1, 1, 7, 16, 9984, "0,1,2,3,4,5,6"},
        {"1g.10gb+me", 7, 20, 1, 1, 1, 16, 9984, "0,1,2,3,4,5,6"},
        {"1g.20gb", 9, 15, 1, 2, 4, 26, 20096, "0,2,4,6"},
        {"2g.20gb", 1, 14, 2, 2, 3, 32, 20096, "0,2,4"},
        {"3g.40gb", 2, 9, 3, 4, 2, 60, 40448, "0,4"},
        {"4g.40gb", 3, 5, 4, 4, 1, 64, 40448, "0"},
        {"7g.80gb", 4, 0, 7, 8, 1, 132, 81152, "0"},
    };
    check_model(GPX_MIG_H100_80GB, "H100-80GB", w);
}

static void test_h200(void **state)
{
    (void)state;
    static const struct want w[] = {
        {"1g.18gb", 0, 19, 1, 1, 7, 16, 16384, "0,1,2,3,4,5,6"},
        {"1g.18gb+me", 7, 20, 1, 1, 1, 16, 16384, "0,1,2,3,4,5,6"},
        {"1g.35gb", 9, 15, 1, 2, 4, 26, 33280, "0,2,4,6"},
        {"2g.35gb", 1, 14, 2, 2, 3, 32, 33280, "0,2,4"},
        {"3g.71gb", 2, 9, 3, 4, 2, 60, 66816, "0,4"},
        {"4g.71gb", 3, 5, 4, 4, 1, 64, 66816, "0"},
        {"7g.141gb", 4, 0, 7, 8, 1, 132, 143360, "0"},
    };
    check_model(GPX_MIG_H200_141GB, "H200-141GB", w);
}

static void test_lookups(void **state)
{
    (void)state;
    assert_int_equal(gpx_mig_model_find("H100-80GB"), GPX_MIG_H100_80GB);
    assert_int_equal(gpx_mig_model_find("h100"), GPX_MIG_H100_80GB);
    assert_int_equal(gpx_mig_model_find("NVIDIA H100 80GB HBM3"), GPX_MIG_H100_80GB);
    assert_int_equal(gpx_mig_model_find("NVIDIA A100-SXM4-40GB"), GPX_MIG_A100_40GB);
    assert_int_equal(gpx_mig_model_find("A100-SXM4-80GB"), GPX_MIG_A100_80GB);
    assert_int_equal(gpx_mig_model_find("NVIDIA H200"), GPX_MIG_H200_141GB);
    assert_int_equal(gpx_mig_model_find("NVIDIA H100 PCIe"), -1); /* 114 SMs: not these profiles */
    assert_int_equal(gpx_mig_model_find(NULL), -1);
    assert_int_equal(gpx_mig_model_find_pci(0x233010DE), GPX_MIG_H100_80GB);
    assert_int_equal(gpx_mig_model_find_pci(0x20B010DE), GPX_MIG_A100_40GB);
    assert_int_equal(gpx_mig_model_find_pci(0x12345678), -1);

    const struct gpx_mig_model *m = gpx_mig_model_get(GPX_MIG_H100_80GB);
    assert_int_equal(gpx_mig_profile_find(m, "MIG 1g.10gb+me"), 1);
    assert_int_equal(gpx_mig_profile_find(m, "mig-1g.10gb.me"), 1);
    assert_int_equal(gpx_mig_profile_find(m, "3G.40GB"), 4);
    assert_int_equal(gpx_mig_profile_find(m, "3g.20gb"), -1);
    assert_int_equal(gpx_mig_profile_find(m, ""), -1);
    gpx_error err;
    assert_int_equal(gpx_mig_profile_parse(m, "2g.10gb", &err), -1);
    assert_int_equal(err.code, GPX_E_INVALID);
    assert_string_equal(err.msg, "unknown MIG profile '2g.10gb' for H100-80GB (valid: 1g.10gb, "
                                 "1g.10gb+me, 1g.20gb, 2g.20gb, 3g.40gb, 4g.40gb, 7g.80gb)");
    assert_int_equal(gpx_mig_placement_find(&m->profiles[3], 4), 2);
    assert_int_equal(gpx_mig_placement_find(&m->profiles[3], 6), -1);
    assert_null(gpx_mig_model_get(GPX_MIG_MODEL_COUNT));
}

static void test_ci_profiles(void **state)
{
    (void)state;
    const struct gpx_mig_model *m = gpx_mig_model_get(GPX_MIG_A100_40GB);
    struct gpx_mig_ci_profile c[GPX_MIG_MAX_CI_PROFILES];
    /* 3g.20gb: 1c x3 (14 SMs, as the user guide's 1c.3g.20gb), 2c x1, 3c (the whole GI) */
    unsigned n = gpx_mig_ci_profiles(m, 4, c);
    assert_int_equal(n, 3);
    assert_string_equal(c[0].name, "1c.3g.20gb");
    assert_int_equal(c[0].id, 0);
    assert_int_equal(c[0].max_count, 3);
    assert_int_equal(c[0].sm_count, 14);
    assert_int_equal(c[0].placement_count, 3);
    assert_string_equal(c[1].name, "2c.3g.20gb");
    assert_int_equal(c[1].max_count, 1);
    assert_string_equal(c[2].name, "3g.20gb");
    assert_int_equal(c[2].id, 2); /* the default CI of a 3g GI is profile 2, as -cgi -C says */
    assert_int_equal(c[2].sm_count, 42);
    /* 7g.40gb: 1c x7, 2c x3, 3c x2 at 0 and 4, 4c x1, 7c */
    n = gpx_mig_ci_profiles(m, 6, c);
    assert_int_equal(n, 5);
    assert_int_equal(c[0].placement_count, 7);
    assert_int_equal(c[1].placement_count, 3);
    assert_int_equal(c[2].placement_count, 2);
    assert_int_equal(c[2].placements[1].start, 4);
    assert_int_equal(c[3].max_count, 1);
    assert_int_equal(c[4].id, 4);
    assert_int_equal(gpx_mig_ci_full_profile_id(4), 3);
    assert_int_equal(gpx_mig_ci_full_profile_id(1), 0);
    /* 1g: one CI profile */
    assert_int_equal(gpx_mig_ci_profiles(m, 0, c), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a100_40gb), cmocka_unit_test(test_a100_80gb),
        cmocka_unit_test(test_h100_80gb), cmocka_unit_test(test_h200),
        cmocka_unit_test(test_lookups),   cmocka_unit_test(test_ci_profiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
