/*
 * gpuplexd configuration (src/daemon/config.c): keys, values, errors with file:line. Every key of
 * the table is set here to at least one valid and one invalid value, with the exact error.
 */
#include "core/log.h"
#include "daemon/config.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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
    assert_int_equal(c.watchdog_allowance, 512ULL << 20);
    assert_int_equal(c.watchdog_lease_allowance, 1ULL << 30);
    /* issue 11: the CDI spec where runtimes read it, in a version podman 4.3 takes */
    assert_string_equal(c.cdi_spec, "/var/run/cdi/gpuplex.json");
    assert_string_equal(c.cdi_version, "0.5.0");
    assert_string_equal(c.container_images, ""); /* managed containers off */
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

/* Every key: a valid value (and what it stores) and an invalid one (and the exact error). */
struct key_case {
    const char *key, *value;
    const char *error; /* NULL: accepted */
};

static const struct key_case cases[] = {
    {"socket", "/tmp/g.sock", NULL},
    {"socket", "", "socket: must not be empty"},
    {"socket_mode", "0600", NULL},
    {"socket_mode", "1000", "socket_mode: expected a number from 0 to 511, not '1000'"},
    {"socket_mode", "0680", "socket_mode: expected a number from 0 to 511, not '0680'"},
    {"socket_mode", "-1", "socket_mode: expected a number from 0 to 511, not '-1'"},
    {"listen", "[::1]:7470", NULL},
    {"listen", "", NULL},
    {"listen", "7470", "invalid listen address '7470' (expected HOST:PORT, e.g. 127.0.0.1:7470)"},
    {"listen", "127.0.0.1:0", "invalid port in listen address '127.0.0.1:0'"},
    {"listen", "example.com:80",
     "invalid host in listen address 'example.com:80' (use an IP address)"},
    {"allow_remote", "on", NULL},
    {"allow_remote", "2", "allow_remote: expected true or false, not '2'"},
    {"tls_cert", "/etc/gpuplex/tls.pem", NULL},
    {"tls_key", "/etc/gpuplex/tls.key", NULL},
    {"allow_plain_http", "yes", NULL},
    {"allow_plain_http", "sure", "allow_plain_http: expected true or false, not 'sure'"},
    {"max_connections", "65536", NULL},
    {"max_connections", "15", "max_connections: expected a number from 16 to 65536, not '15'"},
    {"max_connections_per_peer", "1", NULL},
    {"max_connections_per_peer", "0",
     "max_connections_per_peer: expected a number from 1 to 32768, not '0'"},
    {"header_timeout", "1s", NULL},
    {"header_timeout", "999ms", "header_timeout: at least 1000ms"},
    {"header_timeout", "2h", "header_timeout: at most 3600000ms"},
    {"idle_timeout", "5m", NULL},
    {"idle_timeout", "0.5s", "idle_timeout: at least 1000ms"},
    {"state_dir", "/srv/gpx", NULL},
    {"state_dir", "", "state_dir: must not be empty"},
    {"run_dir", "/dev/shm/gpx", NULL},
    {"sim", "2xH100-80GB", NULL},
    {"interposer", "/opt/gpuplex/libgpuplex-cuda.so", NULL},
    {"hostname", "node7", NULL},
    {"placement", "binpack", NULL},
    {"placement", "Spread", "placement: expected binpack or spread, not 'Spread'"},
    {"oversubscription", "100", NULL},
    {"oversubscription", "0.5", "oversubscription: expected a ratio from 1.0 to 100, not '0.5'"},
    {"oversubscription", "100.5",
     "oversubscription: expected a ratio from 1.0 to 100, not '100.5'"},
    {"oversubscription", "nan", "oversubscription: expected a ratio from 1.0 to 100, not 'nan'"},
    {"oversubscription", "1.5x", "oversubscription: expected a ratio from 1.0 to 100, not '1.5x'"},
    {"grace", "0", NULL},
    {"grace", "soon", "grace: invalid duration 'soon' (examples: 500ms, 30s, 5m)"},
    {"grace", "1d", "grace: invalid duration '1d' (examples: 500ms, 30s, 5m)"},
    {"reconcile_interval", "100ms", NULL},
    {"reconcile_interval", "99ms", "reconcile_interval: at least 100ms"},
    {"meter_interval", "1h", NULL},
    {"meter_interval", "0.05s", "meter_interval: at least 100ms"},
    {"inventory_interval", "250ms", NULL},
    {"inventory_interval", "",
     "inventory_interval: invalid duration '' (examples: 500ms, 30s, 5m)"},
    {"log_level", "warn", NULL},
    {"log_level", "trace", "log_level: expected error, warn, info or debug, not 'trace'"},
    {"threads", "64", NULL},
    {"threads", "0", "threads: expected a number from 1 to 64, not '0'"},
    {"threads", "65", "threads: expected a number from 1 to 64, not '65'"},
    {"threads", " 4", "threads: expected a number from 1 to 64, not ' 4'"},
    {"metrics_public", "false", NULL},
    {"metrics_public", "maybe", "metrics_public: expected true or false, not 'maybe'"},
    {"watchdog", "kill", NULL},
    {"watchdog", "on", "watchdog: expected off, report or kill, not 'on'"},
    {"watchdog_interval", "5s", NULL},
    {"watchdog_interval", "10ms", "watchdog_interval: at least 100ms"},
    {"watchdog_allowance", "1GiB", NULL},
    {"watchdog_allowance", "lots",
     "watchdog_allowance: invalid size 'lots' (examples: 4G, 4096M, 512MiB)"},
    {"watchdog_allowance", "", "watchdog_allowance: empty size (examples: 4G, 4096M, 512MiB)"},
    {"watchdog_lease_allowance", "2G", NULL},
    {"watchdog_lease_allowance", "lots",
     "watchdog_lease_allowance: invalid size 'lots' (examples: 4G, 4096M, 512MiB)"},
    {"metrics_labels", "dcgm", NULL},
    {"metrics_labels", "camel", "metrics_labels: expected dcgm or snake, not 'camel'"},
    {"max_body", "16777216", NULL},
    {"max_body", "1023", "max_body: expected a number from 1024 to 16777216, not '1023'"},
    {"max_body", "16777217", "max_body: expected a number from 1024 to 16777216, not '16777217'"},
    {"max_body", "64k", "max_body: expected a number from 1024 to 16777216, not '64k'"},
    {"Socket", "/tmp/x", "unknown key 'Socket'"},
    {"", "x", "unknown key ''"},
};

static void test_every_key(void **state)
{
    (void)state;
    struct gpxd_config c, d;
    gpx_error e;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct key_case *k = &cases[i];
        gpxd_config_defaults(&c);
        gpxd_config_defaults(&d);
        gpx_error_clear(&e);
        int rc = gpxd_config_set(&c, k->key, k->value, &e);
        if (!k->error) {
            if (rc != 0)
                fail_msg("%s = '%s': %s", k->key, k->value, e.msg);
            continue;
        }
        if (rc != -1)
            fail_msg("%s = '%s' was accepted", k->key, k->value);
        assert_string_equal(e.msg, k->error);
        assert_int_equal(e.code, GPX_E_INVALID);
        /* a refused value changes nothing */
        assert_memory_equal(&c, &d, sizeof c);
    }
}

/* What the valid values store, for the keys test_defaults_and_keys does not set. */
static void test_stored_values(void **state)
{
    (void)state;
    struct gpxd_config c;
    gpx_error e;
    assert_int_equal(parse(&c,
                           "allow_remote = on\nsim = 2xH100-80GB\ninterposer = /opt/i.so\n"
                           "hostname = node7\ninventory_interval = 250ms\nwatchdog = kill\n"
                           "watchdog_interval = 5s\nwatchdog_allowance = 1GiB\n"
                           "watchdog_lease_allowance = 3G\n"
                           "max_body = 1048576\nsocket_mode = 600\n",
                           &e),
                     0);
    assert_true(c.allow_remote);
    assert_string_equal(c.sim, "2xH100-80GB");
    assert_string_equal(c.interposer, "/opt/i.so");
    assert_string_equal(c.hostname, "node7");
    assert_int_equal(c.inventory_ms, 250);
    assert_int_equal(c.watchdog, 1);
    assert_int_equal(c.watchdog_ms, 5000);
    assert_int_equal(c.watchdog_allowance, 1ULL << 30);
    assert_int_equal(c.watchdog_lease_allowance, 3ULL << 30);
    assert_int_equal(c.max_body, 1048576);
    assert_int_equal(c.socket_mode, 0600);
    gpx_error_clear(&e);
    assert_int_equal(gpxd_config_set(&c, "watchdog", "off", &e), 0);
    assert_int_equal(c.watchdog, -1);
    assert_int_equal(gpxd_config_set(&c, "watchdog", "report", &e), 0);
    assert_int_equal(c.watchdog, 0);
    assert_int_equal(gpxd_config_set(&c, "metrics_labels", "dcgm", &e), 0);
    assert_false(c.metrics_snake_labels);
    assert_int_equal(gpxd_config_set(&c, "placement", "binpack", &e), 0);
    assert_int_equal(c.placement, GPX_PLACE_BINPACK);
    assert_int_equal(gpxd_config_set(&c, "oversubscription", "1e2", &e), 0);
    assert_true(c.oversubscription > 99.9 && c.oversubscription < 100.1);
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(gpxd_config_set(&c, "log_level", levels[i], &e), 0);
        assert_int_equal(c.log_level, i);
    }
    static const char *const yes[] = {"true", "yes", "1", "on"}, *const no[] = {"false", "no", "0",
                                                                                "off"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(gpxd_config_set(&c, "metrics_public", yes[i], &e), 0);
        assert_true(c.metrics_public);
        assert_int_equal(gpxd_config_set(&c, "metrics_public", no[i], &e), 0);
        assert_false(c.metrics_public);
    }
    assert_int_equal(gpxd_config_set(&c, "run_dir", "", &e), 0);
    assert_string_equal(c.run_dir, "");
}

/* Values one byte too long for their field, and the longest that fits. */
static void test_string_lengths(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        size_t max; /* bytes, without the NUL */
    } fields[] = {{"socket", PATH_MAX - 1},
                  {"state_dir", PATH_MAX - 1},
                  {"run_dir", PATH_MAX - 1},
                  {"interposer", PATH_MAX - 1},
                  {"tls_cert", PATH_MAX - 1},
                  {"tls_key", PATH_MAX - 1},
                  {"sim", 255},
                  {"hostname", 255}};
    static char v[PATH_MAX + 1];
    struct gpxd_config c;
    gpx_error e;
    char want[128];
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        gpxd_config_defaults(&c);
        memset(v, 'a', fields[i].max);
        v[fields[i].max] = '\0';
        assert_int_equal(gpxd_config_set(&c, fields[i].key, v, &e), 0);
        v[fields[i].max] = 'a';
        v[fields[i].max + 1] = '\0';
        assert_int_equal(gpxd_config_set(&c, fields[i].key, v, &e), -1);
        snprintf(want, sizeof want, "%s: value too long (max %zu bytes)", fields[i].key,
                 fields[i].max);
        assert_string_equal(e.msg, want);
    }
    /* listen: the host part is limited before the field is */
    memset(v, '1', 130);
    memcpy(v + 130, ":80", 4);
    assert_int_equal(gpxd_config_set(&c, "listen", v, &e), -1);
    assert_non_null(strstr(e.msg, "listen address '1111"));
    assert_non_null(strstr(e.msg, ":80' is too long"));
}

/* Any key set twice in one file is an error at the second line; errors carry file:line. */
static void test_twice_and_context(void **state)
{
    (void)state;
    struct gpxd_config c;
    gpx_error e;
    char text[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].error)
            continue;
        snprintf(text, sizeof text, "%s = %s\n# x\n%s = %s\n", cases[i].key, cases[i].value,
                 cases[i].key, cases[i].value);
        assert_int_equal(parse(&c, text, &e), -1);
        char want[128];
        snprintf(want, sizeof want, "t.conf:3: '%s' is set twice", cases[i].key);
        assert_string_equal(e.msg, want);
    }
    assert_int_equal(parse(&c, "threads = 4\nthreads=0\n", &e), -1);
    assert_string_equal(e.msg, "t.conf:2: 'threads' is set twice");
    assert_int_equal(parse(&c, "\n\nthreads = 99\n", &e), -1);
    assert_string_equal(e.msg, "t.conf:3: threads: expected a number from 1 to 64, not '99'");
    assert_int_equal(gpxd_config_parse(&c, "x", 1, "t.conf", &e), -1);
    assert_string_equal(e.msg, "t.conf:1: expected 'key = value'");
    assert_int_equal(parse(&c, "  = 1\n", &e), -1);
    assert_string_equal(e.msg, "t.conf:1: missing key before '='");
    assert_int_equal(gpxd_config_parse(&c, "a\0b = 1", 7, "t.conf", &e), -1);
    assert_string_equal(e.msg, "t.conf:1: NUL byte");
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

/* The rules between keys (gpxd_config_check): TLS both or neither and only with listen, no
 * plain HTTP on a non-loopback address without allow_plain_http, a per-peer limit that leaves
 * room for others. */
static void test_config_check(void **state)
{
    (void)state;
    static const struct {
        const char *text, *error; /* error: NULL if accepted, else a part of the message */
    } checks[] = {
        {"", NULL},
        {"listen = 127.0.0.1:7470\n", NULL},
        {"listen = 127.0.0.1:7470\ntls_cert = /c\ntls_key = /k\n", NULL},
        {"listen = 0.0.0.0:7470\n", "set allow_remote"},
        {"listen = 0.0.0.0:7470\nallow_plain_http = yes\n", "set allow_remote"},
        {"listen = 0.0.0.0:7470\nallow_remote = yes\n",
         "set tls_cert and tls_key (HTTPS), or allow_plain_http = true"},
        {"listen = [::]:7470\nallow_remote = yes\n", "refusing to serve plain HTTP"},
        {"listen = 0.0.0.0:7470\nallow_remote = yes\nallow_plain_http = yes\n", NULL},
        {"listen = 0.0.0.0:7470\nallow_remote = yes\ntls_cert = /c\ntls_key = /k\n", NULL},
        {"listen = 127.0.0.1:7470\ntls_cert = /c\n", "tls_cert is set but tls_key is not"},
        {"listen = 127.0.0.1:7470\ntls_key = /k\n", "tls_key is set but tls_cert is not"},
        {"tls_cert = /c\ntls_key = /k\n", "but listen is not"},
        {"max_connections = 64\nmax_connections_per_peer = 32\n", NULL},
        {"max_connections = 64\nmax_connections_per_peer = 33\n",
         "max_connections_per_peer (33) must be at most half of max_connections (64)"},
    };
    struct gpxd_config c;
    gpx_error e;
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        assert_int_equal(parse(&c, checks[i].text, &e), 0);
        int rc = gpxd_config_check(&c, &e);
        if (!checks[i].error) {
            if (rc != 0)
                fail_msg("'%s': %s", checks[i].text, e.msg);
            continue;
        }
        if (rc != -1)
            fail_msg("'%s' was accepted", checks[i].text);
        if (!strstr(e.msg, checks[i].error))
            fail_msg("'%s': '%s' lacks '%s'", checks[i].text, e.msg, checks[i].error);
        assert_int_equal(e.code, GPX_E_INVALID);
    }
    assert_int_equal(parse(&c, "", &e), 0);
    assert_int_equal(c.max_connections, 1024);
    assert_int_equal(c.max_connections_per_peer, 32);
    assert_int_equal(c.header_timeout_ms, 10000);
    assert_int_equal(c.idle_timeout_ms, 60000);
    assert_false(c.allow_plain_http);
    assert_string_equal(c.tls_cert, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_keys),   cmocka_unit_test(test_errors),
        cmocka_unit_test(test_every_key),           cmocka_unit_test(test_stored_values),
        cmocka_unit_test(test_string_lengths),      cmocka_unit_test(test_twice_and_context),
        cmocka_unit_test(test_listen_and_duration), cmocka_unit_test(test_config_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
