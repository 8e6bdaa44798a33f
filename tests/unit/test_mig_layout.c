/*
 * MIG layout files: the YAML subset and JSON give the same layouts, rules
 * match GPUs by index, PCI id and model, and every malformed input is an
 * error that names its line (never a crash: tests/fuzz/ covers the rest).
 */
#include "core/mig_layout.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static const char yaml[] = "# mig-parted style\n"
                           "---\n"
                           "version: v1\n"
                           "mig-configs:\n"
                           "  all-disabled:\n"
                           "    - devices: all\n"
                           "      mig-enabled: false\n"
                           "\n"
                           "  inference:   # serving\n"
                           "    - device-filter: [\"0x233010DE\", H200-141GB]\n"
                           "      devices: all\n"
                           "      mig-enabled: true\n"
                           "      mig-devices:\n"
                           "        \"1g.10gb\": 4\n"
                           "        '3g.40gb': 1\n"
                           "    - device-filter: 0x20B010DE\n"
                           "      devices: [0, 2]\n"
                           "      mig-enabled: true\n"
                           "      mig-devices: {\"1g.5gb\": 2, 3g.20gb: 1}\n"
                           "  two:\n"
                           "  - devices:\n"
                           "    - 1\n"
                           "    - 3\n"
                           "    mig-enabled: True\n"
                           "    mig-devices: {}\n";

static const char json[] =
    "{\"version\": \"v1\", \"mig-configs\": {\n"
    "  \"all-disabled\": [{\"devices\": \"all\", \"mig-enabled\": false}],\n"
    "  \"inference\": [\n"
    "    {\"device-filter\": [\"0x233010DE\", \"H200-141GB\"], \"devices\": \"all\",\n"
    "     \"mig-enabled\": true, \"mig-devices\": {\"1g.10gb\": 4, \"3g.40gb\": 1}},\n"
    "    {\"device-filter\": 548409566, \"devices\": [0, 2], \"mig-enabled\": true,\n"
    "     \"mig-devices\": {\"1g.5gb\": 2, \"3g.20gb\": 1}}],\n"
    "  \"two\": [{\"devices\": [1, 3], \"mig-enabled\": true, \"mig-devices\": {}}]}}\n";

static void check_layouts(const struct gpx_mig_layout_file *f)
{
    assert_int_equal(f->count, 3);
    const struct gpx_mig_layout *off = gpx_mig_layout_find(f, "all-disabled");
    assert_non_null(off);
    assert_int_equal(off->nrules, 1);
    assert_true(off->rules[0].all_devices);
    assert_false(off->rules[0].mig_enabled);

    const struct gpx_mig_layout *inf = gpx_mig_layout_find(f, "inference");
    assert_non_null(inf);
    assert_int_equal(inf->nrules, 2);
    const struct gpx_mig_layout_rule *r = &inf->rules[0];
    assert_int_equal(r->nfilters, 2);
    assert_int_equal(r->filters[0].pci_device_id, 0x233010DE);
    assert_int_equal(r->filters[0].model, -1);
    assert_int_equal(r->filters[1].model, GPX_MIG_H200_141GB);
    assert_int_equal(r->ndevices, 2);
    assert_string_equal(r->mig_devices[0].profile, "1g.10gb");
    assert_int_equal(r->mig_devices[0].count, 4);
    r = &inf->rules[1];
    assert_false(r->all_devices);
    assert_int_equal(r->devices, 0x5);
    assert_int_equal(r->filters[0].pci_device_id, 0x20B010DE);

    /* matching: H100 by PCI id on any index, A100-40GB only on GPUs 0 and 2 */
    assert_ptr_equal(gpx_mig_layout_rule_for(inf, 5, 0x233010DE, GPX_MIG_H100_80GB),
                     &inf->rules[0]);
    assert_ptr_equal(gpx_mig_layout_rule_for(inf, 3, 0, GPX_MIG_H200_141GB), &inf->rules[0]);
    assert_ptr_equal(gpx_mig_layout_rule_for(inf, 2, 0x20B010DE, GPX_MIG_A100_40GB),
                     &inf->rules[1]);
    assert_null(gpx_mig_layout_rule_for(inf, 1, 0x20B010DE, GPX_MIG_A100_40GB));
    assert_null(gpx_mig_layout_rule_for(inf, 0, 0x20B210DE, GPX_MIG_A100_80GB));

    const struct gpx_mig_layout *two = gpx_mig_layout_find(f, "two");
    assert_non_null(two);
    assert_int_equal(two->rules[0].devices, 0xa);
    assert_int_equal(two->rules[0].ndevices, 0);
    assert_null(gpx_mig_layout_find(f, "nope"));

    /* to a demand for a model; a profile of another model is refused by name */
    unsigned d[GPX_MIG_MAX_PROFILES];
    gpx_error err;
    const struct gpx_mig_model *h100 = gpx_mig_model_get(GPX_MIG_H100_80GB);
    assert_int_equal(gpx_mig_layout_demand(&inf->rules[0], h100, d, &err), 0);
    assert_int_equal(d[gpx_mig_profile_find(h100, "1g.10gb")], 4);
    assert_int_equal(d[gpx_mig_profile_find(h100, "3g.40gb")], 1);
    assert_int_equal(gpx_mig_layout_demand(&inf->rules[1], h100, d, &err), -1);
    assert_non_null(strstr(err.msg, "unknown MIG profile '1g.5gb' for H100-80GB (valid: "));
}

static void test_yaml(void **state)
{
    (void)state;
    struct gpx_mig_layout_file f;
    gpx_error err = {0};
    assert_int_equal(gpx_mig_layout_parse(yaml, strlen(yaml), &f, &err), 0);
    check_layouts(&f);
    gpx_mig_layout_file_free(&f);
    gpx_mig_layout_file_free(&f); /* idempotent */
}

static void test_json(void **state)
{
    (void)state;
    struct gpx_mig_layout_file f;
    gpx_error err = {0};
    assert_int_equal(gpx_mig_layout_parse(json, strlen(json), &f, &err), 0);
    check_layouts(&f);
    gpx_mig_layout_file_free(&f);
}

static void expect_error(const char *text, const char *msg)
{
    struct gpx_mig_layout_file f;
    gpx_error err = {0};
    assert_int_equal(gpx_mig_layout_parse(text, strlen(text), &f, &err), -1);
    if (!strstr(err.msg, msg))
        fail_msg("'%s': got '%s', want '%s'", text, err.msg, msg);
    assert_int_equal(f.count, 0);
    assert_null(f.layouts);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("", "empty layout file");
    expect_error("# nothing\n", "empty layout file");
    expect_error("a: [1, 2\n", "line 1: expected ',' or ']'");
    expect_error("a:\n  b: 1\n c: 2\n", "line 3: unexpected indentation");
    expect_error("x: &anchor 1\n", "line 1: '&' is not supported");
    expect_error("x: |\n  text\n", "line 1: '|' is not supported");
    expect_error("\tx: 1\n", "line 1: tab used for indentation");
    expect_error("a: \"x\\q\"\n", "unsupported escape");
    expect_error("a: 'open\n", "unterminated quoted string");
    expect_error("a: b\na: c\n", "line 2: duplicate key 'a'");
    expect_error("a: 1\n---\nb: 2\n", "only one YAML document");
    expect_error("version: v2\nmig-configs: {}\n", "unsupported layout file version");
    expect_error("layouts: {}\n", "unknown top-level key 'layouts'");
    expect_error("version: v1\n", "no mig-configs");
    expect_error("mig-configs:\n  x: 1\n", "must be a list");
    expect_error("mig-configs:\n  x: []\n", "layout 'x' has no rules");
    expect_error("mig-configs:\n  x:\n  - devices: all\n", "without mig-enabled");
    expect_error("mig-configs:\n  x:\n  - mig-enabled: maybe\n",
                 "line 3: mig-enabled must be true or false");
    expect_error("mig-configs:\n  x:\n  - mig-enabled: true\n    mig-devices:\n      1g.10gb: 99\n",
                 "line 5: count '99' must be 0..64");
    expect_error("mig-configs:\n  x:\n  - mig-enabled: true\n    devices: [0, 40]\n",
                 "device index '40' must be 0..31");
    expect_error("mig-configs:\n  x:\n  - mig-enabled: true\n    device-filter: B200\n",
                 "unknown device-filter 'B200'");
    expect_error("mig-configs:\n  x:\n  - mig-enabled: true\n    device-filter: 0xZZ\n",
                 "bad PCI device id '0xZZ'");
    expect_error("mig-configs:\n  x:\n  - mig-enabled: true\n    colour: red\n",
                 "unknown key 'colour'");
    expect_error("mig-configs:\n  x:\n  - mig-enabled: false\n    mig-devices: {1g.10gb: 1}\n",
                 "mig-devices given with mig-enabled: false");
    expect_error("{\"mig-configs\": {\"x\": [{\"mig-enabled\": true,}]}}", "line 1");
    expect_error("{\"a\": 1, \"a\": 2}", "line 1");
    char nul[] = "a: 1\0b: 2\n";
    struct gpx_mig_layout_file f;
    gpx_error err;
    assert_int_equal(gpx_mig_layout_parse(nul, sizeof nul - 1, &f, &err), -1);
    assert_non_null(strstr(err.msg, "NUL"));
    /* deep nesting is bounded */
    char deep[400];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof deep - n, "a: ");
    for (int i = 0; i < 100; i++)
        deep[n++] = '[';
    deep[n] = '\0';
    expect_error(deep, "nesting deeper than 32 levels");
}

static void test_load(void **state)
{
    (void)state;
    struct gpx_mig_layout_file f;
    gpx_error err;
    assert_int_equal(gpx_mig_layout_load("/nonexistent/layouts.yaml", &f, &err), -1);
    assert_int_equal(err.code, GPX_E_NOT_FOUND);
    assert_int_equal(gpx_mig_layout_load("/", &f, &err), -1);
    assert_non_null(strstr(err.msg, "not a regular file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
