/*
 * The dashboard's static files (src/daemon/web.c) from a web_root made here: content
 * types, the security headers on every answer, and no way out of web_root ("..", what
 * MHD decodes %2e%2e into, symlinks out, hidden files, directories, unknown types).
 * tests/integration/web_dashboard.py checks the same over HTTP.
 */
#define _GNU_SOURCE
#include "daemon/daemon.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char tmp[64], root[PATH_MAX];

static void put(const char *rel, const char *text)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof p, "%s/%s", tmp, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void link_to(const char *target, const char *rel)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof p, "%s/%s", tmp, rel);
    assert_int_equal(symlink(target, p), 0);
}

static void mkd(const char *rel)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof p, "%s/%s", tmp, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static int setup(void **st)
{
    (void)st;
    snprintf(tmp, sizeof tmp, "/tmp/gpx-web-XXXXXX");
    assert_non_null(mkdtemp(tmp));
    mkd("web");
    mkd("web/img");
    mkd("web/dir.js");
    put("secret.js", "secret\n");
    put("web/index.html", "<!doctype html>index\n");
    put("web/app.js", "app\n");
    put("web/style.css", "css\n");
    put("web/img/logo.svg", "<svg/>\n");
    put("web/.hidden.js", "hidden\n");
    put("web/README", "readme\n");
    char out[PATH_MAX * 2];
    snprintf(out, sizeof out, "%s/secret.js", tmp);
    link_to(out, "web/escape.js");
    link_to("/etc", "web/etc");
    link_to("app.js", "web/inside.js"); /* a link that stays inside is fine */
    struct gpxd_config cfg;
    gpxd_config_defaults(&cfg);
    snprintf(cfg.web_root, sizeof cfg.web_root, "%s/web", tmp);
    gpx_error e = {0};
    assert_int_equal(gpxd_web_root(&cfg, root, sizeof root, &e), 0);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static struct gpxd_http_resp serve(const char *method, const char *path)
{
    struct gpxd_http_resp rs;
    memset(&rs, 0, sizeof rs);
    gpxd_web_serve(root, method, path, &rs);
    return rs;
}

static const char *header(const struct gpxd_http_resp *rs, const char *name)
{
    for (size_t i = 0; rs->headers && rs->headers[i]; i += 2)
        if (!strcmp(rs->headers[i], name))
            return rs->headers[i + 1];
    return NULL;
}

static void check_headers(const struct gpxd_http_resp *rs)
{
    const char *csp = header(rs, "Content-Security-Policy");
    assert_non_null(csp);
    assert_true(!strncmp(csp, "default-src 'self'", 18));
    assert_non_null(strstr(csp, "script-src 'self'"));
    assert_non_null(strstr(csp, "frame-ancestors 'none'"));
    assert_null(strstr(csp, "unsafe"));
    assert_string_equal(header(rs, "X-Content-Type-Options"), "nosniff");
    assert_string_equal(header(rs, "Cache-Control"), "no-cache");
}

static void expect_file(const char *path, const char *type, const char *body)
{
    struct gpxd_http_resp rs = serve("GET", path);
    assert_int_equal(rs.status, 200);
    assert_string_equal(rs.content_type, type);
    assert_int_equal(rs.len, strlen(body));
    assert_memory_equal(rs.body, body, rs.len);
    check_headers(&rs);
    free(rs.body);
}

static void expect_404(const char *path)
{
    struct gpxd_http_resp rs = serve("GET", path);
    if (rs.status != 404)
        fail_msg("%s: status %d, body %.*s", path, rs.status, (int)rs.len, rs.body);
    assert_string_equal(rs.content_type, "application/json");
    assert_non_null(strstr(rs.body, "\"NOT_FOUND\""));
    assert_null(strstr(rs.body, "secret\n")); /* the file outside: its text */
    check_headers(&rs);
    free(rs.body);
}

static void test_files(void **st)
{
    (void)st;
    const char *html = "text/html; charset=utf-8";
    expect_file("/", html, "<!doctype html>index\n");
    expect_file("/index.html", html, "<!doctype html>index\n");
    expect_file("/web", html, "<!doctype html>index\n");
    expect_file("/web/", html, "<!doctype html>index\n");
    expect_file("/web/index.html", html, "<!doctype html>index\n");
    expect_file("/web/app.js", "text/javascript; charset=utf-8", "app\n");
    expect_file("/web/style.css", "text/css; charset=utf-8", "css\n");
    expect_file("/web/img/logo.svg", "image/svg+xml", "<svg/>\n");
    expect_file("/web/inside.js", "text/javascript; charset=utf-8", "app\n");
    struct gpxd_http_resp rs = serve("HEAD", "/web/app.js");
    assert_int_equal(rs.status, 200);
    free(rs.body);
}

static void test_no_way_out(void **st)
{
    (void)st;
    static const char *const paths[] = {
        "/web/../secret.js", /* also what MHD makes of /web/%2e%2e/secret.js */
        "/web/../../../../etc/passwd",
        "/web/img/../../secret.js",
        "/web/%2e%2e/secret.js", /* undecoded: '%' is no file name character */
        "/web/..%2fsecret.js",
        "/web/escape.js", /* a symlink out of web_root */
        "/web/etc/passwd",
        "/web/etc/hosts.css",
        "/web/.hidden.js",
        "/web/./app.js",
        "/web//app.js",
        "/web/app.js/",
        "/web/dir.js", /* a directory */
        "/web/README", /* no content type */
        "/web/nope.js",
        "/web/app.js\\x",
        "/web/ app.js",
        "/web/a\xc3\xa9.js",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        expect_404(paths[i]);
}

static void test_method_and_missing_root(void **st)
{
    (void)st;
    static const char *const methods[] = {"POST", "PUT", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        struct gpxd_http_resp rs = serve(methods[i], "/");
        assert_int_equal(rs.status, 405);
        assert_string_equal(rs.allow, "GET, HEAD");
        check_headers(&rs);
        free(rs.body);
    }
    struct gpxd_http_resp rs;
    memset(&rs, 0, sizeof rs);
    gpxd_web_serve("", "GET", "/", &rs);
    assert_int_equal(rs.status, 404);
    assert_non_null(strstr(rs.body, "web_root"));
    free(rs.body);
    /* a web_root without the page (an incomplete install): said so, not "no such file" */
    char empty[PATH_MAX * 2];
    snprintf(empty, sizeof empty, "%s/web/img", tmp);
    static const char *const pages[] = {"/", "/index.html", "/web/"};
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        memset(&rs, 0, sizeof rs);
        gpxd_web_serve(empty, "GET", pages[i], &rs);
        assert_int_equal(rs.status, 404);
        assert_non_null(strstr(rs.body, "(index.html) is not in gpuplexd's web_root"));
        check_headers(&rs);
        free(rs.body);
    }
    memset(&rs, 0, sizeof rs);
    gpxd_web_serve(empty, "GET", "/web/app.js", &rs);
    assert_int_equal(rs.status, 404);
    assert_non_null(strstr(rs.body, "no such file: /web/app.js"));
    free(rs.body);
}

static void test_paths_and_root(void **st)
{
    (void)st;
    assert_true(gpxd_web_path("/"));
    assert_true(gpxd_web_path("/index.html"));
    assert_true(gpxd_web_path("/web"));
    assert_true(gpxd_web_path("/web/app.js"));
    assert_false(gpxd_web_path("/webx"));
    assert_false(gpxd_web_path("/v1/gpus"));
    assert_false(gpxd_web_path("/metrics"));
    assert_false(gpxd_web_path("/healthz"));
    assert_null(gpxd_web_content_type("README"));
    assert_null(gpxd_web_content_type("x.exe"));
    assert_string_equal(gpxd_web_content_type("a.png"), "image/png");

    struct gpxd_config cfg;
    gpxd_config_defaults(&cfg);
    assert_true(cfg.web);
    assert_string_equal(cfg.web_root, "");
    char out[PATH_MAX];
    gpx_error e = {0};
    snprintf(cfg.web_root, sizeof cfg.web_root, "%s/nope", tmp);
    assert_int_equal(gpxd_web_root(&cfg, out, sizeof out, &e), -1);
    assert_non_null(strstr(e.msg, "web_root"));
    gpx_error_clear(&e);
    snprintf(cfg.web_root, sizeof cfg.web_root, "%s/web/app.js", tmp);
    assert_int_equal(gpxd_web_root(&cfg, out, sizeof out, &e), -1);
    assert_non_null(strstr(e.msg, "not a directory"));
    gpx_error_clear(&e);
    assert_int_equal(gpxd_config_set(&cfg, "web", "off", &e), 0);
    assert_false(cfg.web);
    assert_int_equal(gpxd_config_set(&cfg, "web", "maybe", &e), -1);
    assert_string_equal(e.msg, "web: expected true or false, not 'maybe'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_no_way_out),
        cmocka_unit_test(test_method_and_missing_root),
        cmocka_unit_test(test_paths_and_root),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
