/* GPU function registration bodies (src/daemon/fn_spec.c): defaults, every field's range,
 * the rules across fields, unknown fields by name, PUT's name, and the record's round trip. */
#include "daemon/functions.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define LEASE "\"lease\":{\"mode\":\"vgpu\",\"memory\":\"1G\"}"

static int parse(const char *body, const char *name, struct gpxd_fn_spec *s, gpx_error *e)
{
    gpx_error_clear(e);
    return gpxd_fn_spec_parse(body, strlen(body), name, s, e);
}

/* Expects body to be refused (400) with a message containing `want`. */
static void bad(const char *body, const char *name, const char *want)
{
    struct gpxd_fn_spec s;
    gpx_error e;
    assert_int_equal(parse(body, name, &s, &e), -1);
    assert_int_equal(e.code, GPX_E_INVALID);
    if (!strstr(e.msg, want))
        fail_msg("body %s: message '%s' lacks '%s'", body, e.msg, want);
    assert_null(s.command);
    assert_null(s.lease);
}

static void test_defaults(void **state)
{
    (void)state;
    struct gpxd_fn_spec s;
    gpx_error e;
    assert_int_equal(
        parse("{\"name\":\"echo\",\"command\":[\"w\",\"-x\"]," LEASE "}", NULL, &s, &e), 0);
    assert_string_equal(s.name, "echo");
    assert_int_equal(json_array_size(s.command), 2);
    assert_string_equal(s.image, "");
    assert_int_equal(s.min_workers, 0);
    assert_int_equal(s.max_workers, 1);
    assert_int_equal(s.max_concurrency, 1);
    assert_int_equal(s.queue_max, 64);
    assert_true(s.idle_timeout_s == 60 && s.timeout_s == 30);
    assert_int_equal(s.max_body_bytes, 1u << 20);
    assert_true(s.price_per_request == 0 && s.price_per_gpu_second == 0);
    /* the record reads back as the same spec */
    json_t *j = gpxd_fn_spec_json(&s);
    json_object_del(j, "image");
    char *t = json_dumps(j, JSON_COMPACT);
    struct gpxd_fn_spec s2;
    assert_int_equal(parse(t, NULL, &s2, &e), 0);
    json_t *j2 = gpxd_fn_spec_json(&s2);
    json_object_set_new(j, "image", json_null());
    assert_true(json_equal(j, j2));
    free(t);
    json_decref(j);
    json_decref(j2);
    gpxd_fn_spec_clear(&s);
    gpxd_fn_spec_clear(&s2);
}

static void test_every_field(void **state)
{
    (void)state;
    struct gpxd_fn_spec s;
    gpx_error e;
    assert_int_equal(parse("{\"name\":\"a.b_c-1\",\"image\":\"registry/x:1\"," LEASE
                           ",\"min_workers\":2,\"max_workers\":4,\"max_concurrency\":8,"
                           "\"queue_max\":0,\"idle_timeout_s\":1.5,\"timeout_s\":0.25,"
                           "\"max_body_bytes\":100,\"price_per_request\":0.001,"
                           "\"price_per_gpu_second\":2}",
                           NULL, &s, &e),
                     0);
    assert_string_equal(s.image, "registry/x:1");
    assert_null(s.command);
    assert_int_equal(s.min_workers, 2);
    assert_int_equal(s.max_workers, 4);
    assert_int_equal(s.max_concurrency, 8);
    assert_int_equal(s.queue_max, 0);
    assert_true(s.idle_timeout_s == 1.5 && s.timeout_s == 0.25);
    assert_int_equal(s.max_body_bytes, 100);
    assert_true(s.price_per_request == 0.001 && s.price_per_gpu_second == 2);
    gpxd_fn_spec_clear(&s);
    /* min_workers alone raises the default max_workers */
    assert_int_equal(
        parse("{\"name\":\"m\",\"command\":[\"w\"]," LEASE ",\"min_workers\":3}", NULL, &s, &e), 0);
    assert_int_equal(s.max_workers, 3);
    gpxd_fn_spec_clear(&s);
}

static void test_refused(void **state)
{
    (void)state;
    bad("", NULL, "JSON object");
    bad("[1]", NULL, "JSON object");
    bad("{\"command\":[\"w\"]," LEASE "}", NULL, "field 'name' is required");
    bad("{\"name\":\"-x\",\"command\":[\"w\"]," LEASE "}", NULL, "field 'name'");
    bad("{\"name\":\"a b\",\"command\":[\"w\"]," LEASE "}", NULL, "field 'name'");
    bad("{\"name\":\"x\"," LEASE "}", NULL, "exactly one of field 'command'");
    bad("{\"name\":\"x\",\"command\":[\"w\"],\"image\":\"i\"," LEASE "}", NULL,
        "exactly one of field 'command'");
    bad("{\"name\":\"x\",\"command\":[]," LEASE "}", NULL, "field 'command'");
    bad("{\"name\":\"x\",\"command\":[\"\"]," LEASE "}", NULL, "field 'command'");
    bad("{\"name\":\"x\",\"command\":\"w\"," LEASE "}", NULL, "field 'command'");
    bad("{\"name\":\"x\",\"image\":\"-bad\"," LEASE "}", NULL, "field 'image'");
    bad("{\"name\":\"x\",\"command\":[\"w\"]}", NULL, "field 'lease' is required");
    bad("{\"name\":\"x\",\"command\":[\"w\"],\"lease\":1}", NULL, "field 'lease'");
    bad("{\"name\":\"x\",\"command\":[\"w\"],\"lease\":{\"mode\":\"vgpu\"}}", NULL,
        "field 'lease'");
    bad("{\"name\":\"x\",\"command\":[\"w\"],\"lease\":{\"mode\":\"vgpu\",\"memory\":\"1G\","
        "\"owner_pids\":[1]}}",
        NULL, "owner_pids");
    bad("{\"name\":\"x\",\"command\":[\"w\"]," LEASE ",\"max_workers\":0}", NULL,
        "field 'max_workers' must be an integer 1..64");
    bad("{\"name\":\"x\",\"command\":[\"w\"]," LEASE ",\"max_workers\":65}", NULL, "max_workers");
    bad("{\"name\":\"x\",\"command\":[\"w\"]," LEASE ",\"max_concurrency\":1.5}", NULL,
        "max_concurrency");
    bad("{\"name\":\"x\",\"command\":[\"w\"]," LEASE ",\"min_workers\":3,\"max_workers\":2}", NULL,
        "field 'min_workers' (3) must be <= max_workers (2)");
    bad("{\"name\":\"x\",\"command\":[\"w\"]," LEASE ",\"queue_max\":-1}", NULL, "queue_max");
    bad("{\"name\":\"x\",\"command\":[\"w\"]," LEASE ",\"idle_timeout_s\":0}", NULL,
        "idle_timeout_s");
    bad("{\"name\":\"x\",\"command\":[\"w\"]," LEASE ",\"timeout_s\":\"1\"}", NULL, "timeout_s");
    bad("{\"name\":\"x\",\"command\":[\"w\"]," LEASE ",\"max_body_bytes\":67108865}", NULL,
        "max_body_bytes");
    bad("{\"name\":\"x\",\"command\":[\"w\"]," LEASE ",\"price_per_request\":-1}", NULL,
        "price_per_request");
    bad("{\"name\":\"x\",\"command\":[\"w\"]," LEASE ",\"price_per_gpu_second\":null}", NULL,
        "price_per_gpu_second");
    bad("{\"name\":\"x\",\"command\":[\"w\"]," LEASE ",\"colour\":1}", NULL,
        "unknown field 'colour'");
    bad("{\"name\":\"x\",\"name\":\"y\",\"command\":[\"w\"]," LEASE "}", NULL, "JSON object");
}

static void test_put_name(void **state)
{
    (void)state;
    struct gpxd_fn_spec s;
    gpx_error e;
    assert_int_equal(parse("{\"command\":[\"w\"]," LEASE "}", "echo", &s, &e), 0);
    assert_string_equal(s.name, "echo");
    gpxd_fn_spec_clear(&s);
    assert_int_equal(parse("{\"name\":\"echo\",\"command\":[\"w\"]," LEASE "}", "echo", &s, &e), 0);
    gpxd_fn_spec_clear(&s);
    bad("{\"name\":\"other\",\"command\":[\"w\"]," LEASE "}", "echo", "renaming");
    assert_true(gpxd_fn_name_ok("a"));
    assert_false(gpxd_fn_name_ok(""));
    assert_false(gpxd_fn_name_ok(".a"));
    assert_false(gpxd_fn_name_ok("a/b"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_field),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_put_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
