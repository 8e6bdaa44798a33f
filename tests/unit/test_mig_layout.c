/*
 * MIG layout files: YAML (through libyaml) and JSON give the same layouts,
 * rules match GPUs by index, PCI id and model, and every malformed input is
 * an error that names its line (never a crash: tests/fuzz/ covers the rest).
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
    assert_int_equal(err.code, GPX_E_INVALID);
    assert_int_equal(f.count, 0);
    assert_null(f.layouts);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("", "empty layout file");
    expect_error("# nothing\n", "empty layout file");
    expect_error("a: [1, 2\n", "line 2: did not find expected ',' or ']' (at the end of the file, "
                               "in a flow sequence that starts on line 1)");
    expect_error("a:\n  b: 1\n c: 2\n", "line 3: unexpected indentation");
    expect_error("x: &anchor 1\n", "line 1: '&' is not supported");
    expect_error("x: |\n  text\n", "line 1: '|' is not supported");
    expect_error("\tx: 1\n", "line 1: tab used for indentation");
    expect_error("a: \"x\\q\"\n", "unsupported escape");
    expect_error("a: 'open\n", "unterminated quoted string (at the end of the file, in a quoted "
                               "scalar that starts on line 1)");
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

/* What libyaml adds: flow collections over lines, quoted keys, escapes, comments. */
static const char yaml_flow[] =
    "\xef\xbb\xbf# a BOM, then comments everywhere\n"
    "\"version\": 'v1'   # a quoted key and value\n"
    "'mig-configs':\n"
    "  # a full-line comment, indented\n"
    "  \"in\\u0066erence\": [   # a flow list of flow mappings, over lines\n"
    "    {device-filter: [\"0x233010DE\",   # PCI id\n"
    "                     H200-141GB],\n"
    "     devices: all, mig-enabled: true,\n"
    "     mig-devices: {\n"
    "       \"1g.10gb\": 4,   # a comment inside a flow mapping\n"
    "       '3g.40gb': 1,\n"
    "     }},\n"
    "    {device-filter: 0x20B010DE, devices: [0, 2], mig-enabled: true,\n"
    "     mig-devices: {\"1g.5gb\": 2, 3g.20gb: 1}}\n"
    "  ]\n"
    "  all-disabled: [{devices: all, mig-enabled: false, mig-devices: ~}]\n"
    "  two:\n"
    "  - devices: [\n"
    "      1,\n"
    "      3]\n"
    "    mig-enabled: TRUE\n"
    "    mig-devices: {}\n"
    "...\n";

static void test_yaml_libyaml(void **state)
{
    (void)state;
    struct gpx_mig_layout_file f;
    gpx_error err = {0};
    if (gpx_mig_layout_parse(yaml_flow, strlen(yaml_flow), &f, &err) != 0)
        fail_msg("%s", err.msg);
    check_layouts(&f);
    gpx_mig_layout_file_free(&f);

    /* the same file with CRLF line ends */
    char crlf[2 * sizeof yaml];
    size_t n = 0;
    for (const char *p = yaml; *p; p++) {
        if (*p == '\n')
            crlf[n++] = '\r';
        crlf[n++] = *p;
    }
    assert_int_equal(gpx_mig_layout_parse(crlf, n, &f, &err), 0);
    check_layouts(&f);
    gpx_mig_layout_file_free(&f);

    /* "key:" with nothing, ~ and null are all empty (as JSON null) */
    static const char nulls[] = "mig-configs:\n"
                                "  x:\n"
                                "  - {mig-enabled: true, mig-devices: null}\n"
                                "  - mig-enabled: true\n"
                                "    mig-devices:\n";
    assert_int_equal(gpx_mig_layout_parse(nulls, strlen(nulls), &f, &err), 0);
    assert_int_equal(f.layouts[0].nrules, 2);
    assert_int_equal(f.layouts[0].rules[1].ndevices, 0);
    gpx_mig_layout_file_free(&f);
}

static void test_yaml_refused(void **state)
{
    (void)state;
    /* anchors and aliases are refused, wherever they are */
    expect_error("mig-configs:\n  x: &r\n  - mig-enabled: true\n  y: *r\n",
                 "line 2: '&' is not supported in layout files");
    expect_error("a: 1\nb: *undefined\n", "line 2: '*' is not supported in layout files");
    expect_error("- &m {a: 1}\n", "line 1: '&' is not supported");
    expect_error("&k a: 1\n", "line 1: '&' is not supported");
    /* so are tags, block scalars, non-string keys and NULs in strings */
    expect_error("a: !!str 1\n", "line 1: '!' is not supported");
    expect_error("a:\n  b: !custom {x: 1}\n", "line 2: '!' is not supported");
    expect_error("a: >\n  folded\n", "line 1: '>' is not supported");
    expect_error("a: 1\n? [x, y]\n: 2\n",
                 "line 2: a mapping key must be a plain or quoted string, not a list");
    expect_error("a: {{x: 1}: 2}\n",
                 "line 1: a mapping key must be a plain or quoted string, not a mapping");
    expect_error("a: \"x\\0y\"\n", "line 1: NUL character in a quoted string");
    expect_error("a: 1\nb: \xff\n", "line 2: invalid leading UTF-8 octet (byte 0xff at offset 8");
    expect_error("a: {b: 1, b: 2}\n", "line 1: duplicate key 'b'");
    expect_error("a: 1\n...\n---\nb: 2\n", "line 3: only one YAML document");
    expect_error("---\n", "empty layout file");
    expect_error("---\n...\n", "empty layout file");
}

static void test_yaml_deep(void **state)
{
    (void)state;
    /* 100 nested block mappings: the 34th line opens the 33rd level */
    static char deep[12000];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(deep + n, sizeof deep - n, "%*sa:\n", 2 * i, "");
    expect_error(deep, "line 34: nesting deeper than 32 levels");
    /* compact nested lists, nested flow mappings */
    n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(deep + n, sizeof deep - n, "- ");
    snprintf(deep + n, sizeof deep - n, "x\n");
    expect_error(deep, "line 1: nesting deeper than 32 levels");
    n = (size_t)snprintf(deep, sizeof deep, "\n\na: ");
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(deep + n, sizeof deep - n, "{b: ");
    for (int i = 0; i < 1000; i++)
        deep[n++] = '}';
    deep[n] = '\0';
    expect_error(deep, "line 3: nesting deeper than 32 levels");
    /* 32 levels are fine (the file is then refused for what it says) */
    n = (size_t)snprintf(deep, sizeof deep, "a: ");
    for (int i = 0; i < 31; i++)
        deep[n++] = '[';
    for (int i = 0; i < 31; i++)
        deep[n++] = ']';
    deep[n] = '\0';
    expect_error(deep, "line 1: unknown top-level key 'a'");
}

static void test_yaml_lines(void **state)
{
    (void)state;
    /* errors name the line (and, for syntax, the column) and what was expected */
    expect_error("mig-configs:\n  x:\n  - {mig-enabled: true,\n     mig-devices: {\n"
                 "       1g.10gb: 99}}\n",
                 "line 5: count '99' must be 0..64");
    expect_error("mig-configs:\n  x:\n  - mig-enabled: true\n    mig-devices: a: b\n",
                 "line 4: unexpected ':' (quote a value that contains ': ') (column 19)");
    expect_error("mig-configs:\n  x:\n  - mig-enabled: true\n   devices: all\n",
                 "line 4: unexpected indentation (did not find expected key) (column 4, in a "
                 "block mapping that starts on line 2)");
    expect_error("a: 1\nb: \"c\" d\n", "line 2: unexpected text after a value");
    expect_error("a: 1\n\nb: @x\n",
                 "line 3: '@' cannot start a value (quote the value) (column 4)");
    expect_error("a: 1\nb\n", "line 3: could not find expected ':' (at the end of the file, in a "
                              "simple key that starts on line 2)");
    expect_error("a:\n  - 1\n  - [2,\n     3\n", "line 5: did not find expected ',' or ']'");
    /* columns count characters, not bytes */
    expect_error("a: 'ü' 'b'\n",
                 "line 1: unexpected text after a value (did not find expected key) "
                 "(column 8");
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
        cmocka_unit_test(test_yaml),         cmocka_unit_test(test_json),
        cmocka_unit_test(test_errors),       cmocka_unit_test(test_yaml_libyaml),
        cmocka_unit_test(test_yaml_refused), cmocka_unit_test(test_yaml_deep),
        cmocka_unit_test(test_yaml_lines),   cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
