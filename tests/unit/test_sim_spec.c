/* Simulator spec parsing and the model table's figures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "state.h"

static void test_valid(void **state)
{
    (void)state;
    struct gpx_sim_spec s;
    gpx_error e = {0};
    assert_int_equal(gpx_sim_spec_parse("2xH100-80GB,1xA100-40GB", &s, &e), 0);
    assert_int_equal(s.gpu_count, 3);
    assert_int_equal(s.models[0], GPX_SIM_H100_80GB);
    assert_int_equal(s.models[1], GPX_SIM_H100_80GB);
    assert_int_equal(s.models[2], GPX_SIM_A100_40GB);
    assert_int_equal(gpx_sim_spec_parse("H200", &s, &e), 0);
    assert_int_equal(s.gpu_count, 1);
    assert_int_equal(s.models[0], GPX_SIM_H200_141GB);
    assert_int_equal(gpx_sim_spec_parse(" 1 x a100-80gb , 16xA100-SXM4-40GB", &s, &e), -1);
    assert_int_equal(gpx_sim_spec_parse(" 1 x a100-80gb , 15xA100-SXM4-40GB", &s, &e), 0);
    assert_int_equal(s.gpu_count, 16);
    assert_int_equal(s.models[0], GPX_SIM_A100_80GB);
    assert_int_equal(s.models[15], GPX_SIM_A100_40GB);
}

static void refuse(const char *spec, const char *needle)
{
    struct gpx_sim_spec s;
    gpx_error e = {0};
    assert_int_equal(gpx_sim_spec_parse(spec, &s, &e), -1);
    assert_int_equal(e.code, GPX_E_INVALID);
    if (!strstr(e.msg, needle))
        fail_msg("'%s': message '%s' lacks '%s'", spec, e.msg, needle);
}

static void test_invalid(void **state)
{
    (void)state;
    refuse("", "empty");
    refuse("2xV100", "valid models: A100-40GB, A100-80GB, H100-80GB, H200-141GB");
    refuse("0xH100-80GB", "1..16");
    refuse("17xH100-80GB", "1..16");
    refuse("2xH100-80GB,,H200", "empty item");
    refuse("2yH100", "expected [Nx]MODEL");
    refuse("2x", "unknown GPU model");
    refuse("99999999999999999999xH100", "expected [Nx]MODEL");
}

static void test_models(void **state)
{
    (void)state;
    /* The figures the real boards report. */
    const struct gpx_sim_model_info *m = gpx_sim_model(GPX_SIM_A100_40GB);
    assert_int_equal(m->sm_count, 108);
    assert_int_equal(m->memory_mib, 40960);
    m = gpx_sim_model(GPX_SIM_A100_80GB);
    assert_int_equal(m->sm_count, 108);
    assert_int_equal(m->memory_mib, 81920);
    m = gpx_sim_model(GPX_SIM_H100_80GB);
    assert_int_equal(m->sm_count, 132);
    assert_int_equal(m->memory_mib, 81559);
    assert_int_equal(m->cc_major, 9);
    assert_string_equal(m->name, "NVIDIA H100 80GB HBM3");
    m = gpx_sim_model(GPX_SIM_H200_141GB);
    assert_int_equal(m->sm_count, 132);
    assert_int_equal(m->memory_mib, 143771);
    assert_null(gpx_sim_model(GPX_SIM_MODEL_COUNT));
    assert_int_equal(gpx_sim_model_find("h100-80gb"), GPX_SIM_H100_80GB);
    assert_int_equal(gpx_sim_model_find("nope"), -1);
}

/* --driver: the branch's CUDA version (NVIDIA's toolkit/driver table), overrides, refusals. */
static void test_driver(void **state)
{
    (void)state;
    struct gpx_sim_spec s;
    gpx_error e = {0};
    assert_int_equal(gpx_sim_spec_parse("H100", &s, &e), 0);
    assert_string_equal(s.driver_version, ""); /* the default until --driver */
    assert_int_equal(s.cuda_version, 0);
    static const struct {
        const char *driver;
        uint32_t cuda;
    } ok[] = {{"525.60.13", 12000}, {"530.30.02", 12010}, {"535.104.05", 12020},
              {"545.23.06", 12030}, {"550.54.15", 12040}, {"555.42.02", 12050},
              {"560.28.03", 12060}, {"565.57.01", 12070}, {"570.124.06", 12080},
              {"575.57.08", 12090}, {"580.65.06", 13000}, {"580.95", 13000}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(gpx_sim_driver_parse(ok[i].driver, NULL, &s, &e), 0);
        assert_string_equal(s.driver_version, ok[i].driver);
        assert_int_equal(s.cuda_version, ok[i].cuda);
    }
    assert_int_equal(gpx_sim_driver_parse("580.65.06", "12.8", &s, &e), 0);
    assert_int_equal(s.cuda_version, 12080);
    assert_int_equal(gpx_sim_driver_parse("550.54.15", "13.0", &s, &e), 0);
    assert_int_equal(s.cuda_version, 13000);

    static const struct {
        const char *driver, *cuda, *needle;
    } bad[] = {
        {"590.1.2", NULL, "accepted branches: 525 (CUDA 12.0), 530 (CUDA 12.1)"},
        {"520.61.05", NULL, "580 (CUDA 13.0)"},
        {"580", NULL, "expected BRANCH.MINOR[.PATCH]"},
        {"580.", NULL, "expected BRANCH.MINOR[.PATCH]"},
        {"580.65.06.1", NULL, "expected BRANCH.MINOR[.PATCH]"},
        {"r580.65", NULL, "expected BRANCH.MINOR[.PATCH]"},
        {"", NULL, "expected BRANCH.MINOR[.PATCH]"},
        {"580.65.06", "11.8", "expected 12.0 .. 13.9"},
        {"580.65.06", "13", "expected 12.0 .. 13.9"},
        {"580.65.06", "13.0x", "expected 12.0 .. 13.9"},
        {"580.65.06", "12.10", "expected 12.0 .. 13.9"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(gpx_sim_driver_parse(bad[i].driver, bad[i].cuda, &s, &e), -1);
        assert_int_equal(e.code, GPX_E_INVALID);
        if (!strstr(e.msg, bad[i].needle))
            fail_msg("--driver '%s' --cuda-version '%s': message '%s' lacks '%s'", bad[i].driver,
                     bad[i].cuda ? bad[i].cuda : "", e.msg, bad[i].needle);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_models),
        cmocka_unit_test(test_driver),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
