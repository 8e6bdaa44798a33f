/* API request bodies (src/daemon/request.c): every field, every rule, unknown fields by name. */
#include "daemon/request.h"
#include "shm/lease.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static int lease(const char *body, struct gpx_lease_spec *r, gpx_error *e)
{
    gpx_error_clear(e);
    int rc = gpxd_lease_spec_parse(body, strlen(body), r, e);
    return rc;
}

/* Parses body, expecting failure with a message containing `want`. */
static void bad(const char *body, const char *want)
{
    struct gpx_lease_spec r;
    gpx_error e;
    assert_int_equal(lease(body, &r, &e), -1);
    assert_int_equal(e.code, GPX_E_INVALID);
    if (!strstr(e.msg, want))
        fail_msg("body %s: message '%s' lacks '%s'", body, e.msg, want);
}

static void test_good(void **state)
{
    (void)state;
    struct gpx_lease_spec r;
    gpx_error e;
    assert_int_equal(lease("{\"mode\":\"vgpu\",\"memory\":\"4G\",\"cap\":50,\"gpu\":1,"
                           "\"labels\":{\"b\":\"2\",\"a\":\"1\"},\"owner_pids\":[1]}",
                           &r, &e),
                     0);
    assert_int_equal(r.mode, GPX_MODE_VGPU);
    assert_int_equal(r.memory, 4ULL << 30);
    assert_int_equal(r.cap, 50);
    assert_int_equal(r.gpu_index, 1);
    assert_string_equal(r.labels, "{\"a\":\"1\",\"b\":\"2\"}");
    assert_int_equal(r.n_owners, 1);
    gpx_lease_spec_clear(&r);
    assert_int_equal(lease("{\"mode\":\"timeslice\",\"gpu\":\"GPU-abc\"}", &r, &e), 0);
    assert_int_equal(r.weight, 1);
    assert_string_equal(r.gpu_uuid, "GPU-abc");
    assert_int_equal(r.gpu_index, -1);
    assert_string_equal(r.labels, "{}");
    gpx_lease_spec_clear(&r);
    assert_int_equal(lease("{\"mode\":\"timeslice\",\"memory\":4096000000,\"weight\":3,"
                           "\"gpu\":\"0\"}",
                           &r, &e),
                     0);
    assert_int_equal(r.memory, 4096000000ULL);
    assert_int_equal(r.weight, 3);
    assert_int_equal(r.gpu_index, 0);
    /* a shared lease may carry both a weight and a cap (fair share + hard ceiling) */
    gpx_lease_spec_clear(&r);
    assert_int_equal(lease("{\"mode\":\"timeslice\",\"weight\":2,\"cap\":40}", &r, &e), 0);
    assert_int_equal(r.weight, 2);
    assert_int_equal(r.cap, 40);
    gpx_lease_spec_clear(&r);
    assert_int_equal(lease("{\"mode\":\"vgpu\",\"memory\":\"1G\",\"weight\":3,\"cap\":50}", &r, &e),
                     0);
    assert_int_equal(r.weight, 3);
    assert_int_equal(r.cap, 50);
    gpx_lease_spec_clear(&r);
    assert_int_equal(lease("{\"mode\":\"mig\",\"mig_profile\":\"3g.40gb\"}", &r, &e), 0);
    assert_string_equal(r.mig_profile, "3g.40gb");
    gpx_lease_spec_clear(&r);
    assert_int_equal(lease("{\"mode\":\"exclusive\"}", &r, &e), 0);
    gpx_lease_spec_clear(&r);
}

static void test_bad(void **state)
{
    (void)state;
    bad("", "must be a JSON object");
    bad("[]", "must be a JSON object");
    bad("{", "invalid JSON");
    bad("{\"mode\":\"vgpu\",\"mode\":\"vgpu\",\"memory\":\"1G\"}", "invalid JSON");
    bad("{}", "'mode' is required");
    bad("{\"mode\":\"shared\"}", "'mode' must be one of");
    bad("{\"mode\":\"vgpu\"}", "vgpu leases need field 'memory'");
    bad("{\"mode\":\"vgpu\",\"memory\":\"4X\"}", "field 'memory'");
    bad("{\"mode\":\"vgpu\",\"memory\":\"512K\"}", "at least 1M");
    bad("{\"mode\":\"vgpu\",\"memory\":-5}", "positive");
    bad("{\"mode\":\"vgpu\",\"memory\":true}", "must be a size");
    bad("{\"mode\":\"exclusive\",\"memory\":\"1G\"}", "'memory' does not apply");
    bad("{\"mode\":\"exclusive\",\"weight\":2}", "'weight' and 'cap' apply to timeslice and vgpu");
    bad("{\"mode\":\"exclusive\",\"cap\":20}", "'weight' and 'cap' apply to timeslice and vgpu");
    bad("{\"mode\":\"vgpu\",\"memory\":\"1G\",\"cap\":101}", "from 1 to 100");
    bad("{\"mode\":\"timeslice\",\"weight\":0}", "from 1 to 10000");
    bad("{\"mode\":\"timeslice\",\"weight\":1.5}", "must be an integer");
    bad("{\"mode\":\"mig\"}", "need field 'mig_profile'");
    bad("{\"mode\":\"mig\",\"mig_profile\":\"3g;40gb\"}", "MIG profile name");
    bad("{\"mode\":\"mig\",\"mig_profile\":\"\"}", "MIG profile name");
    bad("{\"mode\":\"exclusive\",\"mig_profile\":\"1g.10gb\"}", "mig leases only");
    bad("{\"mode\":\"exclusive\",\"gpu\":-1}", "from 0 to 1023");
    bad("{\"mode\":\"exclusive\",\"gpu\":\"first\"}", "GPU index or a UUID");
    bad("{\"mode\":\"exclusive\",\"gpu\":null}", "GPU index or a UUID");
    bad("{\"mode\":\"exclusive\",\"labels\":[]}", "object of string values");
    bad("{\"mode\":\"exclusive\",\"labels\":{\"a\":1}}", "label 'a' must be a string");
    bad("{\"mode\":\"exclusive\",\"labels\":{\"a b\":\"x\"}}", "label key 'a b' is invalid");
    bad("{\"mode\":\"exclusive\",\"owner_pids\":[]}", "1 to 16 process ids");
    bad("{\"mode\":\"exclusive\",\"owner_pids\":[0]}", "owner_pids[]");
    bad("{\"mode\":\"exclusive\",\"colour\":\"red\"}", "unknown field 'colour'");
}

static void test_tenant_and_time(void **state)
{
    (void)state;
    struct gpx_tenant_req t;
    gpx_error e = {0};
    const char *ok = "{\"name\":\"team-a\",\"role\":\"admin\",\"uid\":1000,\"max_gpus\":2,"
                     "\"max_memory\":\"64G\"}";
    assert_int_equal(gpxd_tenant_req_parse(ok, strlen(ok), &t, &e), 0);
    assert_string_equal(t.name, "team-a");
    assert_true(t.admin);
    assert_true(t.has_uid);
    assert_int_equal(t.uid, 1000);
    assert_int_equal(t.max_gpus, 2);
    assert_int_equal(t.max_memory, 64ULL << 30);
    const char *bads[] = {"{}",
                          "{\"name\":\"Bad\"}",
                          "{\"name\":\"a\",\"role\":\"root\"}",
                          "{\"name\":\"a\",\"max_gpus\":0}",
                          "{\"name\":\"a\",\"token\":\"x\"}",
                          "{\"name\":\"-a\"}"};
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++)
        assert_int_equal(gpxd_tenant_req_parse(bads[i], strlen(bads[i]), &t, &e), -1);
    int64_t ns;
    assert_int_equal(gpx_parse_time("2024-05-01T12:00:00Z", &ns, &e), 0);
    assert_int_equal(ns, 1714564800LL * 1000000000LL);
    assert_int_equal(gpx_parse_time("1714564800.5", &ns, &e), 0);
    assert_int_equal(ns, 1714564800500000000LL);
    assert_int_equal(gpx_parse_time("yesterday", &ns, &e), -1);
    assert_int_equal(gpx_parse_time("2024-05-01T12:00:00+02:00", &ns, &e), -1);
    assert_true(gpx_valid_name("a.b_c-1"));
    assert_false(gpx_valid_name(""));
    assert_false(gpx_valid_name("A"));
}

static void test_mig(void **state)
{
    (void)state;
    struct gpx_mig_req r;
    gpx_error e = {0};
    const char *ok = "{\"enabled\":true,\"demand\":{\"3g.40gb\":1,\"1g.10gb\":4},"
                     "\"dry_run\":true,\"partial\":false}";
    assert_int_equal(gpxd_mig_req_parse(ok, strlen(ok), &r, &e), 0);
    assert_int_equal(r.enabled, 1);
    assert_true(r.has_counts);
    assert_false(r.exact);
    assert_true(r.dry_run);
    assert_false(r.partial);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.counts[0].profile, "3g.40gb");
    assert_int_equal(r.counts[1].count, 4);
    const char *lay = "{\"layout\":{\"7g.80gb\":0}}";
    assert_int_equal(gpxd_mig_req_parse(lay, strlen(lay), &r, &e), 0);
    assert_int_equal(r.enabled, -1);
    assert_true(r.exact);
    const char *off = "{\"enabled\":false}";
    assert_int_equal(gpxd_mig_req_parse(off, strlen(off), &r, &e), 0);
    assert_int_equal(r.enabled, 0);
    static const struct {
        const char *body, *want;
    } bads[] = {
        {"{}", "nothing to do"},
        {"[]", "JSON object"},
        {"{\"enabled\":1}", "true or false"},
        {"{\"demand\":{\"3g.40gb\":65}}", "from 0 to 64"},
        {"{\"demand\":{\"3g.40gb\":-1}}", "from 0 to 64"},
        {"{\"demand\":{\"3g;40gb\":1}}", "not a MIG profile name"},
        {"{\"demand\":[]}", "object of MIG profile"},
        {"{\"demand\":{},\"layout\":{}}", "not both"},
        {"{\"enabled\":false,\"demand\":{\"3g.40gb\":1}}", "takes no 'demand'"},
        {"{\"dry_run\":\"yes\",\"enabled\":true}", "true or false"},
        {"{\"enabled\":true,\"size\":1}", "unknown field 'size'"},
    };
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        gpx_error_clear(&e);
        assert_int_equal(gpxd_mig_req_parse(bads[i].body, strlen(bads[i].body), &r, &e), -1);
        assert_int_equal(e.code, GPX_E_INVALID);
        if (!strstr(e.msg, bads[i].want))
            fail_msg("body %s: message '%s' lacks '%s'", bads[i].body, e.msg, bads[i].want);
    }
}

/* Labels starting with "gpuplex." are gpuplexd's own (engine.h): refused from a body, in
 * POST /v1/leases and in a function's or container's "lease"; "for_container" asks for the
 * one a caller may want, in POST /v1/leases only. */
static void test_labels_reserved(void **state)
{
    (void)state;
    static const char *const keys[] = {"gpuplex.vm",      "gpuplex.function", "gpuplex.container",
                                       "gpuplex.managed", "gpuplex.replica",  "gpuplex.x"};
    struct gpx_lease_spec r;
    gpx_error e;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char body[160];
        snprintf(body, sizeof body,
                 "{\"mode\":\"exclusive\",\"labels\":{\"team\":\"ml\",\"%s\":\"1\"}}", keys[i]);
        bad(body, "field 'labels': label key 'gpuplex.");
        bad(body, "is reserved: keys starting with 'gpuplex.' are set by gpuplexd itself");
        gpx_error_clear(&e);
        assert_int_equal(gpxd_lease_request_parse(body, strlen(body), &r, &e), -1);
        assert_non_null(strstr(e.msg, "field 'labels'"));
        assert_non_null(strstr(e.msg, "'gpuplex.'"));
    }
    /* for_container: POST /v1/leases only, a boolean */
    const char *fc = "{\"mode\":\"exclusive\",\"for_container\":true,\"labels\":{\"a\":\"1\"}}";
    bad(fc, "unknown field 'for_container'");
    gpx_error_clear(&e);
    assert_int_equal(gpxd_lease_request_parse(fc, strlen(fc), &r, &e), 0);
    assert_int_equal(r.for_container, 1);
    assert_string_equal(r.labels, "{\"a\":\"1\"}"); /* the engine adds the label */
    gpx_lease_spec_clear(&r);
    fc = "{\"mode\":\"exclusive\",\"for_container\":false}";
    assert_int_equal(gpxd_lease_request_parse(fc, strlen(fc), &r, &e), 0);
    assert_int_equal(r.for_container, 0);
    gpx_lease_spec_clear(&r);
    fc = "{\"mode\":\"exclusive\",\"for_container\":\"yes\"}";
    assert_int_equal(gpxd_lease_request_parse(fc, strlen(fc), &r, &e), -1);
    assert_non_null(strstr(e.msg, "field 'for_container' must be true or false"));
    fc = "{\"mode\":\"exclusive\",\"colour\":1}";
    assert_int_equal(gpxd_lease_request_parse(fc, strlen(fc), &r, &e), -1);
    assert_non_null(strstr(e.msg, "owner_pids, for_container)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good), cmocka_unit_test(test_labels_reserved),
        cmocka_unit_test(test_bad),  cmocka_unit_test(test_tenant_and_time),
        cmocka_unit_test(test_mig),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
