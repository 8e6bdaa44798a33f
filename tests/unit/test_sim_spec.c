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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
