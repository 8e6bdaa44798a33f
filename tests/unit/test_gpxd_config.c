/* gpuplexd configuration (src/daemon/config.c): keys, values, errors with file:line. */
#include "core/log.h"
#include "daemon/config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static int parse(struct gpxd_config *c, const char *text, gpx_error *e)
{
    gpxd_config_defaults(c);
    gpx_error_clear(e);
    return gpxd_config_parse(c, text, strlen(text), "t.conf", e);
}

static void test_defaults_and_keys(void **state)
{
    (void)state;
    struct gpxd_config c;
    gpx_error e;
    assert_int_equal(parse(&c, "", &e), 0);
    assert_string_equal(c.socket_path, "/run/gpuplex/gpuplexd.sock");
    assert_int_equal(c.placement, GPX_PLACE_BINPACK);
    assert_int_equal(c.grace_ms, 30000);
    assert_int_equal(parse(&c,
                           "# comment\n\n  socket = /tmp/x.sock  \nlisten=127.0.0.1:7470\n"
                           "placement = spread\noversubscription = 1.5\ngrace = 500ms\n"
                           "reconcile_interval = 2s\nmeter_interval=1m\nlog_level = debug\n"
                           "threads = 4\nmetrics_public = yes\nmetrics_labels = snake\n"
                           "state_dir = /var/lib/x\nrun_dir =\nsocket_mode = 0660\n",
                           &e),
                     0);
    assert_string_equal(c.socket_path, "/tmp/x.sock");
    assert_string_equal(c.listen, "127.0.0.1:7470");
    assert_int_equal(c.placement, GPX_PLACE_SPREAD);
    assert_true(c.oversubscription > 1.49 && c.oversubscription < 1.51);
    assert_int_equal(c.grace_ms, 500);
    assert_int_equal(c.reconcile_ms, 2000);
    assert_int_equal(c.meter_ms, 60000);
    assert_int_equal(c.log_level, GPX_LOG_DEBUG);
    assert_int_equal(c.threads, 4);
    assert_true(c.metrics_public);
    assert_true(c.metrics_snake_labels);
    assert_int_equal(c.socket_mode, 0660);
    assert_string_equal(c.run_dir, "");
}

static void test_errors(void **state)
{
    (void)state;
    struct gpxd_config c;
    gpx_error e;
    assert_int_equal(parse(&c, "socket = /a\nfrobnicate = 1\n", &e), -1);
    assert_string_equal(e.msg, "t.conf:2: unknown key 'frobnicate'");
    assert_int_equal(parse(&c, "grace = 30s\ngrace = 10s\n", &e), -1);
    assert_non_null(strstr(e.msg, "t.conf:2: 'grace' is set twice"));
    assert_int_equal(parse(&c, "no equals sign\n", &e), -1);
    assert_non_null(strstr(e.msg, "expected 'key = value'"));
    assert_int_equal(parse(&c, "= x\n", &e), -1);
    assert_int_equal(parse(&c, "placement = pack\n", &e), -1);
    assert_int_equal(parse(&c, "oversubscription = 0.5\n", &e), -1);
    assert_int_equal(parse(&c, "grace = soon\n", &e), -1);
    assert_int_equal(parse(&c, "threads = 0\n", &e), -1);
    assert_int_equal(parse(&c, "listen = 7470\n", &e), -1);
    assert_int_equal(parse(&c, "listen = 127.0.0.1:99999\n", &e), -1);
    assert_int_equal(parse(&c, "metrics_public = maybe\n", &e), -1);
    assert_int_equal(parse(&c, "socket =\n", &e), -1);
    assert_int_equal(e.code, GPX_E_INVALID);
}

static void test_listen_and_duration(void **state)
{
    (void)state;
    char host[64];
    unsigned port;
    gpx_error e = {0};
    assert_int_equal(gpxd_parse_listen("127.0.0.1:7470", 0, host, sizeof host, &port, &e), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 7470);
    assert_int_equal(gpxd_parse_listen("[::1]:80", 0, host, sizeof host, &port, &e), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(gpxd_parse_listen("localhost:80", 0, host, sizeof host, &port, &e), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(gpxd_parse_listen("0.0.0.0:7470", 0, host, sizeof host, &port, &e), -1);
    assert_non_null(strstr(e.msg, "non-loopback"));
    assert_int_equal(gpxd_parse_listen("0.0.0.0:7470", 1, host, sizeof host, &port, &e), 0);
    assert_int_equal(gpxd_parse_listen("example.com:80", 1, host, sizeof host, &port, &e), -1);
    uint64_t ms;
    assert_int_equal(gpxd_parse_duration("1h", &ms, &e), 0);
    assert_int_equal(ms, 3600000);
    assert_int_equal(gpxd_parse_duration("2", &ms, &e), 0);
    assert_int_equal(ms, 2000);
    assert_int_equal(gpxd_parse_duration("-1s", &ms, &e), -1);
    assert_int_equal(gpxd_parse_duration("1d", &ms, &e), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_keys),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_listen_and_duration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
