/*
 * gpuplexd's HTTP API (src/daemon/api.c) called through gpxd_api_handle(),
 * on a daemon built with gpxd_open() over a simulated node: no sockets, no
 * threads, every answer checked as a client would see it.
 *
 * Covers: every route of api.c's table with every role — anonymous (401,
 * except /healthz, and /metrics when metrics_public), a tenant (403 on admin
 * routes, 2xx on its own) and the admin (2xx) — and the table in api.c is
 * read back so that a route added there without a row here fails this test;
 * unknown paths (404), wrong methods (405 with Allow), unknown or repeated
 * query parameters and bodies on GET/DELETE (400), too large bodies (413);
 * the JSON key sets of leases, tenants, callers, health and errors; and the
 * MIG routes end to end.
 *
 * Why: the API is gpuplexd's contract with every client (the CLI included);
 * its order of checks (404, 401, 405, 403) and its keys are promises
 * (docs/api.md, docs/openapi.yaml).
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "daemon/daemon.h"
#include "sim_node.h"
#include "state.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define INTERPOSER "/opt/gpuplex-test/lib/libgpuplex-cuda.so"

enum who { ANON, TENANT, ADMIN, N_WHO };
static const char *const who_name[N_WHO] = {"anonymous", "tenant", "admin"};

struct fx {
    char dir[64];
    char sim[128];
    struct gpxd_config cfg;
    struct gpxd *d;
    char token[80];  /* team-a's */
    unsigned serial; /* for fresh names */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    gpx_error err = {0};
    if (sim_node_make("api", "2xH100-80GB", f->dir, sizeof f->dir, f->sim, sizeof f->sim) < 0) {
        free(f);
        return -1;
    }
    gpxd_config_defaults(&f->cfg);
    snprintf(f->cfg.state_dir, sizeof f->cfg.state_dir, "%s/state", f->dir);
    snprintf(f->cfg.run_dir, sizeof f->cfg.run_dir, "%s/run", f->dir);
    snprintf(f->cfg.socket_path, sizeof f->cfg.socket_path, "%s/gpuplexd.sock", f->dir);
    snprintf(f->cfg.interposer, sizeof f->cfg.interposer, "%s", INTERPOSER);
    snprintf(f->cfg.hostname, sizeof f->cfg.hostname, "test-node");
    f->cfg.web = 0; /* the API alone; the dashboard's files: test_gpxd_web.c */
    snprintf(f->cfg.cdi_spec, sizeof f->cfg.cdi_spec, "%s/cdi/gpuplex.json", f->dir);
    if (gpxd_open(&f->cfg, &f->d, &err) < 0) {
        fprintf(stderr, "gpxd_open: %s\n", err.msg);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    gpxd_close(f->d);
    int rc = sim_node_remove(f->dir);
    free(f);
    return rc;
}

/* --- calling the API ------------------------------------------------------------------------ */

struct call_buf {
    char target[1024];
    char auth[128];
};

/* Fills rq for `who` calling METHOD TARGET ("path?a=1&b") with `body` (NULL: none). */
static void req(struct fx *f, enum who w, const char *method, const char *target, const char *body,
                struct gpxd_http_req *rq, struct call_buf *b)
{
    memset(rq, 0, sizeof *rq);
    snprintf(b->target, sizeof b->target, "%s", target);
    rq->method = method;
    rq->path = b->target;
    char *q = strchr(b->target, '?');
    if (q) {
        *q++ = '\0';
        for (char *save = NULL, *a = strtok_r(q, "&", &save); a; a = strtok_r(NULL, "&", &save)) {
            if (rq->n_args == 16) {
                rq->too_many_args = 1;
                break;
            }
            char *eq = strchr(a, '=');
            if (eq)
                *eq++ = '\0';
            rq->arg_name[rq->n_args] = a;
            rq->arg_value[rq->n_args++] = eq;
        }
    }
    rq->body = body;
    rq->body_len = body ? strlen(body) : 0;
    if (w == TENANT) {
        snprintf(b->auth, sizeof b->auth, "Bearer %s", f->token);
        rq->authorization = b->auth;
    } else if (w == ADMIN) {
        rq->via_unix = 1;
        rq->have_cred = 1;
        rq->uid = 0;
        rq->pid = getpid();
    }
}

/* The answer's status; *out (if given) its JSON body (NULL when not JSON). */
static int call(struct fx *f, enum who w, const char *method, const char *target, const char *body,
                json_t **out)
{
    struct gpxd_http_req rq;
    struct call_buf b;
    struct gpxd_http_resp rs;
    req(f, w, method, target, body, &rq, &b);
    gpxd_api_handle(f->d, &rq, &rs);
    if (rs.status < 100 || rs.status > 599)
        fail_msg("%s %s: status %d", method, target, rs.status);
    json_t *j = NULL;
    if (rs.content_type && strcmp(rs.content_type, "application/json") == 0) {
        json_error_t je;
        assert_non_null(rs.body);
        j = json_loadb(rs.body, rs.len, 0, &je);
        if (!j)
            fail_msg("%s %s: not JSON (%s): %s", method, target, je.text, rs.body);
        /* every error is {"error":{"code","message"}} */
        if (rs.status >= 400) {
            json_t *e = json_object_get(j, "error");
            assert_true(json_is_object(e));
            assert_int_equal(json_object_size(j), 1);
            assert_int_equal(json_object_size(e), 2);
            assert_true(json_is_string(json_object_get(e, "code")));
            assert_true(json_is_string(json_object_get(e, "message")));
        }
    }
    free(rs.body);
    if (out)
        *out = j;
    else
        json_decref(j);
    return rs.status;
}

static int expect(struct fx *f, enum who w, const char *method, const char *target,
                  const char *body, int want, json_t **out)
{
    json_t *j = NULL;
    int st = call(f, w, method, target, body, &j);
    if (st != want) {
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        fail_msg("%s %s as %s: %d, expected %d (%s)", method, target, who_name[w], st, want,
                 s ? s : "");
    }
    if (out)
        *out = j;
    else
        json_decref(j);
    return st;
}

static const char *err_code(json_t *j)
{
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    return c ? c : "";
}

static const char *err_msg(json_t *j)
{
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    return c ? c : "";
}

/* POST /v1/tenants as admin; the token into tok (72 bytes) when given */
static void add_tenant(struct fx *f, const char *name, char *tok)
{
    char body[128];
    snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
    json_t *j;
    expect(f, ADMIN, "POST", "/v1/tenants", body, 201, &j);
    const char *t = json_string_value(json_object_get(j, "token"));
    assert_non_null(t);
    assert_int_equal(strncmp(t, "gpx_", 4), 0);
    if (tok)
        snprintf(tok, 72, "%s", t);
    json_decref(j);
}

static void team_a(struct fx *f)
{
    add_tenant(f, "team-a", f->token);
}

/* A lease made through the API by `w`; its id into id (64 bytes). */
static void make_lease(struct fx *f, enum who w, const char *body, char *id)
{
    json_t *j;
    expect(f, w, "POST", "/v1/leases", body, 201, &j);
    const char *s = json_string_value(json_object_get(j, "id"));
    assert_non_null(s);
    snprintf(id, 64, "%s", s);
    json_decref(j);
}

/* The keys of object o are exactly the NULL-terminated list. */
static void keys_are(json_t *o, const char *what, const char *const *keys)
{
    assert_true(json_is_object(o));
    size_t n = 0;
    for (; keys[n]; n++)
        if (!json_object_get(o, keys[n]))
            fail_msg("%s lacks key '%s'", what, keys[n]);
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        int known = 0;
        for (size_t i = 0; keys[i] && !known; i++)
            known = strcmp(keys[i], k) == 0;
        if (!known)
            fail_msg("%s has an unexpected key '%s'", what, k);
    }
    assert_int_equal(json_object_size(o), n);
}

/* --- every route, every role ---------------------------------------------------------------- */

enum prep {
    P_NONE,
    P_OWN_LEASE,    /* {} is a lease of team-a's */
    P_FRESH_LEASE,  /* ...made for this call (it is released) */
    P_OWN_TENANT,   /* {} is "team-a" */
    P_FRESH_TENANT, /* {} is a tenant made for this call */
    P_GPU,          /* {} is "1" (kept idle: the leases below go to GPU 0) */
    P_NEW_NAME,     /* the body names a tenant not made yet */
    P_NO_CONTAINER, /* {} is a container id nobody has */
};

static const struct route_case {
    const char *method, *pattern, *role; /* as in api.c's table */
    enum prep prep;
    const char *body;
    int want[N_WHO]; /* anonymous, tenant, admin */
} cases[] = {
    {"GET", "/healthz", "ANYONE", P_NONE, NULL, {200, 200, 200}},
    {"HEAD", "/healthz", "ANYONE", P_NONE, NULL, {200, 200, 200}},
    {"GET", "/metrics", "METRICS", P_NONE, NULL, {401, 403, 200}},
    {"GET", "/v1/whoami", "TENANT", P_NONE, NULL, {401, 200, 200}},
    {"GET", "/v1/gpus", "TENANT", P_NONE, NULL, {401, 200, 200}},
    {"GET", "/v1/leases", "TENANT", P_NONE, NULL, {401, 200, 200}},
    {"POST",
     "/v1/leases",
     "TENANT",
     P_NONE,
     "{\"mode\":\"timeslice\",\"memory\":\"1G\"}",
     {401, 201, 201}},
    {"GET", "/v1/leases/{}", "TENANT", P_OWN_LEASE, NULL, {401, 200, 200}},
    {"DELETE", "/v1/leases/{}", "TENANT", P_FRESH_LEASE, NULL, {401, 200, 200}},
    {"GET", "/v1/usage", "TENANT", P_NONE, NULL, {401, 200, 200}},
    {"GET", "/v1/tenants", "ADMIN", P_NONE, NULL, {401, 403, 200}},
    {"POST", "/v1/tenants", "ADMIN", P_NEW_NAME, NULL, {401, 403, 201}},
    {"GET", "/v1/tenants/{}", "TENANT", P_OWN_TENANT, NULL, {401, 200, 200}},
    {"DELETE", "/v1/tenants/{}", "ADMIN", P_FRESH_TENANT, NULL, {401, 403, 200}},
    {"POST", "/v1/tenants/{}/token", "ADMIN", P_FRESH_TENANT, NULL, {401, 403, 200}},
    {"GET", "/v1/gpus/{}/mig", "TENANT", P_GPU, NULL, {401, 200, 200}},
    {"GET", "/v1/gpus/{}/vgpu-types", "TENANT", P_GPU, NULL, {401, 200, 200}},
    {"POST",
     "/v1/gpus/{}/mig",
     "ADMIN",
     P_GPU,
     "{\"enabled\":true,\"dry_run\":true}",
     {401, 403, 200}},
    /* managed containers: off here (container_images empty: 403); podman runs them in
     * tests/integration/containers_managed.py */
    {"GET", "/v1/containers", "TENANT", P_NONE, NULL, {401, 200, 200}},
    {"POST",
     "/v1/containers",
     "TENANT",
     P_NONE,
     "{\"image\":\"x\",\"lease\":{\"mode\":\"exclusive\"}}",
     {401, 403, 403}},
    {"GET", "/v1/containers/{}", "TENANT", P_NO_CONTAINER, NULL, {401, 404, 404}},
    {"DELETE", "/v1/containers/{}", "TENANT", P_NO_CONTAINER, NULL, {401, 404, 404}},
    {"GET", "/v1/containers/{}/logs", "TENANT", P_NO_CONTAINER, NULL, {401, 404, 404}},
    /* VMs: off here (vm_images empty: 403); libvirt runs them in tests/integration/vms_*.sh */
    {"GET", "/v1/vms", "TENANT", P_NONE, NULL, {401, 200, 200}},
    {"POST", "/v1/vms", "TENANT", P_NONE, "{\"gpu\":0}", {401, 403, 403}},
    {"GET", "/v1/vms/{}", "TENANT", P_NO_CONTAINER, NULL, {401, 404, 404}},
    {"DELETE", "/v1/vms/{}", "TENANT", P_NO_CONTAINER, NULL, {401, 404, 404}},
    /* GPU functions: registered here (no workers: nothing serves); called end to end with
     * the example worker in tests/integration/daemon_functions.py */
    {"GET", "/v1/functions", "TENANT", P_NONE, NULL, {401, 200, 200}},
    {"POST",
     "/v1/functions",
     "ADMIN",
     P_NONE,
     "{\"name\":\"f1\",\"command\":[\"/bin/true\"],\"lease\":{\"mode\":\"exclusive\"}}",
     {401, 403, 201}},
    {"GET", "/v1/functions/{}", "TENANT", P_NO_CONTAINER, NULL, {401, 404, 404}},
    {"PUT",
     "/v1/functions/{}",
     "ADMIN",
     P_NO_CONTAINER,
     "{\"command\":[\"/bin/true\"],\"lease\":{\"mode\":\"exclusive\"}}",
     {401, 403, 404}},
    {"DELETE", "/v1/functions/{}", "ADMIN", P_NO_CONTAINER, NULL, {401, 403, 404}},
    {"POST", "/v1/functions/{}/invoke", "TENANT", P_NO_CONTAINER, "{}", {401, 404, 404}},
    {"GET", "/v1/functions/{}/logs", "ADMIN", P_NO_CONTAINER, NULL, {401, 403, 404}},
};
#define N_CASES (sizeof cases / sizeof cases[0])

/* The route table as api.c writes it: {"METHOD", "PATTERN", ROLE_X, ...}. */
static void check_table_is_covered(void)
{
    FILE *fp = fopen(GPX_API_SOURCE, "r");
    if (!fp)
        fail_msg("cannot read %s", GPX_API_SOURCE);
    char line[512];
    int in_table = 0;
    unsigned found = 0, matched[N_CASES] = {0};
    while (fgets(line, sizeof line, fp)) {
        if (strstr(line, "static const struct route routes[]")) {
            in_table = 1;
            continue;
        }
        if (!in_table)
            continue;
        if (strncmp(line, "};", 2) == 0)
            break;
        char method[16], pattern[128], role[16];
        if (sscanf(line, " {\"%15[^\"]\", \"%127[^\"]\", ROLE_%15[A-Z]", method, pattern, role) !=
            3)
            continue;
        found++;
        int k = -1;
        for (size_t i = 0; i < N_CASES; i++)
            if (!strcmp(cases[i].method, method) && !strcmp(cases[i].pattern, pattern))
                k = (int)i;
        if (k < 0)
            fail_msg("api.c has route %s %s (ROLE_%s) that test_api.c does not call", method,
                     pattern, role);
        if (strcmp(cases[k].role, role) != 0)
            fail_msg("%s %s is ROLE_%s in api.c, ROLE_%s here", method, pattern, role,
                     cases[k].role);
        matched[k]++;
    }
    fclose(fp);
    assert_int_equal(found, N_CASES);
    for (size_t i = 0; i < N_CASES; i++)
        if (matched[i] != 1)
            fail_msg("%s %s: %u rows in api.c", cases[i].method, cases[i].pattern, matched[i]);
}

static void test_every_route_every_role(void **state)
{
    struct fx *f = *state;
    check_table_is_covered();
    team_a(f);
    char own[64];
    make_lease(f, TENANT, "{\"mode\":\"vgpu\",\"memory\":\"1G\"}", own);
    for (size_t i = 0; i < N_CASES; i++) {
        const struct route_case *c = &cases[i];
        for (int w = 0; w < N_WHO; w++) {
            char param[64] = "", body[128] = "";
            switch (c->prep) {
            case P_NONE:
                break;
            case P_OWN_LEASE:
                snprintf(param, sizeof param, "%s", own);
                break;
            case P_FRESH_LEASE:
                make_lease(f, TENANT, "{\"mode\":\"timeslice\",\"memory\":\"1G\"}", param);
                break;
            case P_OWN_TENANT:
                snprintf(param, sizeof param, "team-a");
                break;
            case P_FRESH_TENANT:
                snprintf(param, sizeof param, "tmp-%u", f->serial++);
                add_tenant(f, param, NULL);
                break;
            case P_GPU:
                snprintf(param, sizeof param, "1");
                break;
            case P_NEW_NAME:
                snprintf(body, sizeof body, "{\"name\":\"new-%u\"}", f->serial++);
                break;
            case P_NO_CONTAINER:
                snprintf(param, sizeof param, "c-000000000000");
                break;
            }
            char target[256];
            const char *brace = strstr(c->pattern, "{}");
            if (brace)
                snprintf(target, sizeof target, "%.*s%s%s", (int)(brace - c->pattern), c->pattern,
                         param, brace + 2);
            else
                snprintf(target, sizeof target, "%s", c->pattern);
            json_t *j = NULL;
            expect(f, (enum who)w, c->method, target,
                   c->body   ? c->body
                   : body[0] ? body
                             : NULL,
                   c->want[w], &j);
            if (c->want[w] == 401) {
                assert_string_equal(err_code(j), "UNAUTH");
            } else if (c->want[w] == 403 && strstr(c->pattern, "/v1/containers")) {
                assert_string_equal(err_code(j), "PERM"); /* managed containers are off */
                assert_non_null(strstr(err_msg(j), "container_images is empty"));
            } else if (c->want[w] == 403 && strstr(c->pattern, "/v1/vms")) {
                assert_string_equal(err_code(j), "PERM"); /* VMs are off */
                assert_non_null(strstr(err_msg(j), "vm_images is empty"));
            } else if (c->want[w] == 403) {
                assert_string_equal(err_code(j), "PERM");
                assert_non_null(strstr(err_msg(j), "admin role"));
                assert_non_null(strstr(err_msg(j), "team-a"));
            }
            json_decref(j);
        }
    }
    /* the tenant's own lease was never touched by the calls above */
    json_t *j;
    char path[128];
    snprintf(path, sizeof path, "/v1/leases/%s", own);
    expect(f, TENANT, "GET", path, NULL, 200, &j);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "active");
    json_decref(j);
}

static void test_anonymous(void **state)
{
    struct fx *f = *state;
    struct gpxd_http_req rq;
    struct call_buf b;
    struct gpxd_http_resp rs;
    /* 401 says how to authenticate */
    req(f, ANON, "GET", "/v1/leases", NULL, &rq, &b);
    gpxd_api_handle(f->d, &rq, &rs);
    assert_int_equal(rs.status, 401);
    assert_true(rs.www_authenticate);
    assert_string_equal(rs.content_type, "application/json");
    assert_non_null(strstr(rs.body, "Bearer"));
    free(rs.body);
    /* an invalid token is 401 too, even on the unix socket */
    rq.authorization = "Bearer gpx_0000";
    rq.via_unix = rq.have_cred = 1;
    gpxd_api_handle(f->d, &rq, &rs);
    assert_int_equal(rs.status, 401);
    assert_true(rs.www_authenticate);
    free(rs.body);
    /* a unix caller whose uid is no tenant */
    rq.authorization = NULL;
    rq.uid = 54321;
    if (geteuid() != 54321) {
        gpxd_api_handle(f->d, &rq, &rs);
        assert_int_equal(rs.status, 401);
        assert_non_null(strstr(rs.body, "uid 54321"));
        free(rs.body);
    }
    /* /healthz: no lease count for strangers */
    json_t *j;
    expect(f, ANON, "GET", "/healthz", NULL, 200, &j);
    static const char *const health_keys[] = {"status",
                                              "version",
                                              "host",
                                              "gpus",
                                              "driver_version",
                                              "cuda_version",
                                              "schema_version",
                                              "uptime_seconds",
                                              "placement",
                                              "oversubscription",
                                              "run_dir",
                                              "state_dir",
                                              NULL};
    keys_are(j, "health", health_keys);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    assert_string_equal(json_string_value(json_object_get(j, "host")), "gpuplexd");
    assert_int_equal(json_integer_value(json_object_get(j, "gpus")), 2);
    json_decref(j);
    expect(f, ADMIN, "GET", "/healthz", NULL, 200, &j);
    assert_true(json_is_integer(json_object_get(j, "leases_active")));
    json_decref(j);
    /* /metrics: admins, or anyone when metrics_public */
    expect(f, ANON, "GET", "/metrics", NULL, 401, NULL);
    f->d->cfg.metrics_public = 1;
    req(f, ANON, "GET", "/metrics", NULL, &rq, &b);
    gpxd_api_handle(f->d, &rq, &rs);
    assert_int_equal(rs.status, 200);
    assert_non_null(strstr(rs.content_type, "text/plain"));
    assert_non_null(rs.body);
    assert_true(rs.len > 0);
    assert_non_null(strstr(rs.body, "DCGM_FI_DEV_FB_USED"));
    assert_non_null(strstr(rs.body, "test-node"));
    free(rs.body);
    team_a(f);
    expect(f, TENANT, "GET", "/metrics", NULL, 200, NULL);
    f->d->cfg.metrics_public = 0;
    expect(f, TENANT, "GET", "/metrics", NULL, 403, NULL);
    /* the rest stays closed */
    expect(f, ANON, "GET", "/v1/whoami", NULL, 401, NULL);
}

/* --- what is not a route -------------------------------------------------------------------- */

static void expect_405(struct fx *f, enum who w, const char *method, const char *target,
                       const char *allow)
{
    struct gpxd_http_req rq;
    struct call_buf b;
    struct gpxd_http_resp rs;
    req(f, w, method, target, NULL, &rq, &b);
    gpxd_api_handle(f->d, &rq, &rs);
    if (rs.status != 405)
        fail_msg("%s %s as %s: %d, expected 405", method, target, who_name[w], rs.status);
    assert_non_null(rs.allow);
    assert_string_equal(rs.allow, allow);
    assert_non_null(strstr(rs.body, "METHOD"));
    free(rs.body);
}

static void test_not_found_and_methods(void **state)
{
    struct fx *f = *state;
    team_a(f);
    /* an unknown path is 404 for everyone, before anything else */
    static const char *const nowhere[] = {
        "/",
        "/v1",
        "/v1/",
        "/v1/nope",
        "/v2/leases",
        "/v1/leases/",
        "/v1/leases/a/b",
        "/v1/leases/a%20b",
        "/v1/leases/l-1234/extra",
        "/v1/tenants/x/token/y",
        "/v1/gpus/0/mig/x",
        "/healthz/",
        "/v1/leases/0123456789012345678901234567890123456789012345678901234567890123456789",
    };
    for (size_t i = 0; i < sizeof nowhere / sizeof nowhere[0]; i++)
        for (int w = 0; w < N_WHO; w++) {
            json_t *j;
            expect(f, (enum who)w, "GET", nowhere[i], NULL, 404, &j);
            assert_string_equal(err_code(j), "NOT_FOUND");
            json_decref(j);
            expect(f, (enum who)w, "PUT", nowhere[i], NULL, 404, NULL);
        }
    /* a known path with a method it lacks: 405 with Allow (after 401 for routes that need a
     * caller) */
    expect_405(f, ADMIN, "PUT", "/v1/leases", "GET, POST");
    expect_405(f, TENANT, "PATCH", "/v1/leases", "GET, POST");
    expect(f, ANON, "PUT", "/v1/leases", NULL, 401, NULL);
    expect_405(f, ANON, "POST", "/healthz", "GET, HEAD");
    expect_405(f, ANON, "DELETE", "/healthz", "GET, HEAD");
    expect_405(f, ADMIN, "POST", "/metrics", "GET");
    expect_405(f, ADMIN, "POST", "/v1/whoami", "GET");
    expect_405(f, ADMIN, "DELETE", "/v1/gpus", "GET");
    expect_405(f, ADMIN, "POST", "/v1/leases/l-000000000000", "GET, DELETE");
    expect_405(f, ADMIN, "POST", "/v1/usage", "GET");
    expect_405(f, ADMIN, "DELETE", "/v1/tenants", "GET, POST");
    expect_405(f, ADMIN, "PUT", "/v1/tenants/team-a", "GET, DELETE");
    expect_405(f, ADMIN, "GET", "/v1/tenants/team-a/token", "POST");
    expect_405(f, ADMIN, "DELETE", "/v1/gpus/0/mig", "GET, POST");
    /* 405 comes before 403: the tenant learns the method is wrong, not that it is not admin */
    expect_405(f, TENANT, "GET", "/v1/tenants/team-a/token", "POST");
    expect_405(f, ADMIN, "get", "/v1/leases", "GET, POST"); /* methods are case-sensitive */

    /* web = on: `/` is the dashboard's (here without files: a 404 that says so), for anyone */
    f->d->cfg.web = 1;
    f->d->web_root[0] = '\0';
    struct gpxd_http_req rq = {.method = "GET", .path = "/"};
    struct gpxd_http_resp rs;
    gpxd_api_handle(f->d, &rq, &rs);
    assert_int_equal(rs.status, 404);
    assert_non_null(rs.headers);
    assert_non_null(strstr(rs.body, "web_root"));
    free(rs.body);
    f->d->cfg.web = 0;
}

static void test_bad_requests(void **state)
{
    struct fx *f = *state;
    team_a(f);
    char id[64], path[256];
    make_lease(f, TENANT, "{\"mode\":\"timeslice\"}", id);
    json_t *j;
    /* query parameters: unknown, repeated, or on a route that takes none */
    static const char *const targets[] = {
        "/v1/leases?bogus=1",
        "/v1/leases?state=active&state=all",
        "/v1/leases?state=pending",
        "/v1/leases?state=",
        "/v1/whoami?x=1",
        "/v1/gpus?verbose",
        "/v1/usage?from=yesterday",
        "/v1/usage?to=2024-13-45T00:00:00Z",
        "/v1/usage?from=2024-05-02T00:00:00Z&to=2024-05-01T00:00:00Z",
        "/v1/usage?gpu=0",
        "/v1/tenants/team-a?x=1",
        "/v1/gpus/0/mig?x",
        "/healthz?x=1",
    };
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        expect(f, ADMIN, "GET", targets[i], NULL, 400, &j);
        assert_string_equal(err_code(j), "INVALID");
        json_decref(j);
    }
    expect(f, TENANT, "GET", "/v1/leases?tenant=team-a&state=all&turns=1", NULL, 200, NULL);
    snprintf(path, sizeof path, "/v1/leases/%s?turns=1", id);
    expect(f, TENANT, "GET", path, NULL, 200, NULL);
    snprintf(path, sizeof path, "/v1/leases/%s?verbose=1", id);
    expect(f, TENANT, "GET", path, NULL, 400, NULL);
    snprintf(path, sizeof path, "/v1/leases/%s?x=1", id);
    expect(f, TENANT, "DELETE", path, NULL, 400, NULL);
    expect(f, ADMIN, "POST", "/v1/tenants?x=1", "{\"name\":\"qq\"}", 400, NULL);
    /* too many query parameters */
    expect(f, ADMIN, "GET",
           "/v1/leases?a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10&k=11&l=12&m=13&n=14&o=15&p=16&q=17",
           NULL, 400, &j);
    assert_non_null(strstr(err_msg(j), "too many"));
    json_decref(j);
    /* a body on GET or DELETE */
    expect(f, TENANT, "GET", "/v1/leases", "{}", 400, &j);
    assert_non_null(strstr(err_msg(j), "take no body"));
    json_decref(j);
    expect(f, ANON, "GET", "/healthz", "x", 400, NULL);
    snprintf(path, sizeof path, "/v1/leases/%s", id);
    expect(f, TENANT, "DELETE", path, "{}", 400, NULL);
    expect(f, TENANT, "GET", path, NULL, 200, &j); /* still there */
    assert_string_equal(json_string_value(json_object_get(j, "state")), "active");
    json_decref(j);
    /* a body too large: 413 before anything else but the path */
    for (int w = 0; w < N_WHO; w++) {
        struct gpxd_http_req rq;
        struct call_buf b;
        struct gpxd_http_resp rs;
        req(f, (enum who)w, "POST", "/v1/leases", "{}", &rq, &b);
        rq.body_too_large = 1;
        gpxd_api_handle(f->d, &rq, &rs);
        assert_int_equal(rs.status, 413);
        assert_non_null(strstr(rs.body, "TOO_LARGE"));
        free(rs.body);
        req(f, (enum who)w, "POST", "/v1/nowhere", "{}", &rq, &b);
        rq.body_too_large = 1;
        gpxd_api_handle(f->d, &rq, &rs);
        assert_int_equal(rs.status, 404);
        free(rs.body);
    }
    /* bodies the request parser refuses */
    static const char *const bodies[] = {
        "",
        "[]",
        "not json",
        "{\"mode\":\"vgpu\"}",
        "{\"mode\":\"vgpu\",\"memory\":\"4096\"}",
        "{\"mode\":\"vgpu\",\"memory\":\"1G\",\"color\":\"red\"}",
        "{\"mode\":\"vgpu\",\"mode\":\"vgpu\",\"memory\":\"1G\"}",
        "{\"memory\":\"1G\"}",
        "{\"mode\":\"exclusive\",\"gpu\":\"zero\"}",
        "{\"mode\":\"timeslice\",\"weight\":0}",
        "{\"mode\":\"timeslice\",\"owner_pids\":[]}",
        "{\"mode\":\"timeslice\",\"labels\":{\"a b\":\"c\"}}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        expect(f, TENANT, "POST", "/v1/leases", bodies[i][0] ? bodies[i] : NULL, 400, &j);
        assert_string_equal(err_code(j), "INVALID");
        json_decref(j);
    }
    expect(f, TENANT, "POST", "/v1/leases", "{\"mode\":\"vgpu\",\"memory\":\"4096\"}", 400, &j);
    assert_non_null(strstr(err_msg(j), "field 'memory'"));
    assert_non_null(strstr(err_msg(j), "4096M"));
    json_decref(j);
    expect(f, ADMIN, "POST", "/v1/tenants", "{\"name\":\"Bad Name\"}", 400, NULL);
    expect(f, ADMIN, "POST", "/v1/tenants", "{\"name\":\"team-a\"}", 409, &j);
    assert_string_equal(err_code(j), "EXISTS");
    json_decref(j);
    expect(f, ADMIN, "POST", "/v1/gpus/0/mig", "{}", 400, NULL);
    expect(f, ADMIN, "POST", "/v1/gpus/0/mig", NULL, 400, NULL);
    /* admission answers */
    expect(f, ADMIN, "POST", "/v1/leases", "{\"mode\":\"exclusive\",\"gpu\":0}", 409, &j);
    assert_string_equal(err_code(j), "BUSY");
    json_decref(j);
    expect(f, ADMIN, "POST", "/v1/leases", "{\"mode\":\"vgpu\",\"memory\":\"1000G\"}", 409, &j);
    assert_string_equal(err_code(j), "NO_SPACE");
    json_decref(j);
    expect(f, ADMIN, "POST", "/v1/leases", "{\"mode\":\"vgpu\",\"memory\":\"1G\",\"gpu\":9}", 404,
           &j);
    assert_string_equal(err_code(j), "NOT_FOUND");
    json_decref(j);
    expect(f, ADMIN, "GET", "/v1/gpus/9/mig", NULL, 404, NULL);
    expect(f, ADMIN, "POST", "/v1/gpus/GPU-nope/mig", "{\"enabled\":true}", 404, NULL);
    /* other tenants' things */
    char tok_b[72], admin_lease[64];
    add_tenant(f, "team-b", tok_b);
    make_lease(f, ADMIN, "{\"mode\":\"timeslice\"}", admin_lease);
    snprintf(path, sizeof path, "/v1/leases/%s", admin_lease);
    expect(f, TENANT, "GET", path, NULL, 404, NULL);
    expect(f, TENANT, "DELETE", path, NULL, 404, NULL);
    expect(f, ADMIN, "GET", path, NULL, 200, NULL);
    expect(f, TENANT, "GET", "/v1/leases?tenant=team-b", NULL, 403, NULL);
    expect(f, TENANT, "GET", "/v1/usage?tenant=team-b", NULL, 403, NULL);
    expect(f, TENANT, "GET", "/v1/tenants/team-b", NULL, 403, NULL);
    expect(f, TENANT, "GET", "/v1/tenants/nobody", NULL, 403, NULL);
    expect(f, ADMIN, "GET", "/v1/tenants/nobody", NULL, 404, NULL);
    expect(f, ADMIN, "DELETE", "/v1/tenants/nobody", NULL, 404, NULL);
    expect(f, ADMIN, "POST", "/v1/tenants/nobody/token", NULL, 404, NULL);
    /* lease ids: invalid is 400, unknown 404 */
    expect(f, TENANT, "GET", "/v1/leases/..x", NULL, 400, NULL);
    expect(f, TENANT, "GET", "/v1/leases/l-ffffffffffff", NULL, 404, NULL);
    /* a tenant with leases cannot be removed */
    expect(f, ADMIN, "DELETE", "/v1/tenants/team-a", NULL, 409, &j);
    assert_string_equal(err_code(j), "BUSY");
    json_decref(j);
    /* released twice */
    snprintf(path, sizeof path, "/v1/leases/%s", id);
    expect(f, TENANT, "DELETE", path, NULL, 200, NULL);
    expect(f, TENANT, "DELETE", path, NULL, 404, &j);
    assert_non_null(strstr(err_msg(j), "already released"));
    json_decref(j);
    /* a new token: the old one stops working */
    expect(f, ADMIN, "POST", "/v1/tenants/team-a/token", NULL, 200, &j);
    char old[80];
    snprintf(old, sizeof old, "%s", f->token);
    snprintf(f->token, sizeof f->token, "%s", json_string_value(json_object_get(j, "token")));
    json_decref(j);
    assert_string_not_equal(old, f->token);
    expect(f, TENANT, "GET", "/v1/whoami", NULL, 200, NULL);
    snprintf(f->token, sizeof f->token, "%s", old);
    expect(f, TENANT, "GET", "/v1/whoami", NULL, 401, NULL);
}

/* --- the JSON of answers -------------------------------------------------------------------- */

static const char *const lease_keys[] = {"id",
                                         "tenant",
                                         "state",
                                         "mode",
                                         "gpu",
                                         "gpu_index",
                                         "gpu_uuid",
                                         "memory_bytes",
                                         "held_memory_bytes",
                                         "weight",
                                         "cap",
                                         "cap_pct",
                                         "mig_profile",
                                         "mig",
                                         "labels",
                                         "owner_pids",
                                         "uid",
                                         "created",
                                         "created_ns",
                                         "released",
                                         "release_reason",
                                         "used_bytes",
                                         "used_source",
                                         "gpu_util_source",
                                         "gpu_util_pct",
                                         "peak_bytes",
                                         "refused",
                                         "gpu_seconds",
                                         "wait_seconds",
                                         "turns",
                                         "drains",
                                         "wait_p99_ms",
                                         "processes",
                                         "region_error",
                                         "usage",
                                         "env",
                                         NULL};

static void check_lease(json_t *l, const char *state)
{
    keys_are(l, "lease", lease_keys);
    static const char *const gpu_keys[] = {"index", "uuid", NULL};
    keys_are(json_object_get(l, "gpu"), "lease gpu", gpu_keys);
    static const char *const usage_keys[] = {
        "lease_seconds", "gpu_seconds", "wait_seconds", "memory_used_bytes", "memory_peak_bytes",
        "processes",     NULL};
    keys_are(json_object_get(l, "usage"), "lease usage", usage_keys);
    assert_string_equal(json_string_value(json_object_get(l, "state")), state);
    json_t *g = json_object_get(l, "gpu");
    assert_int_equal(json_integer_value(json_object_get(g, "index")),
                     json_integer_value(json_object_get(l, "gpu_index")));
    assert_string_equal(json_string_value(json_object_get(g, "uuid")),
                        json_string_value(json_object_get(l, "gpu_uuid")));
    assert_int_equal(strncmp(json_string_value(json_object_get(l, "gpu_uuid")), "GPU-", 4), 0);
    assert_true(json_is_string(json_object_get(l, "created")));
    assert_true(json_is_integer(json_object_get(l, "created_ns")));
    assert_true(json_is_array(json_object_get(l, "processes")));
    assert_true(json_is_object(json_object_get(l, "labels")));
}

static void test_json_bodies(void **state)
{
    struct fx *f = *state;
    team_a(f);
    json_t *j, *l;
    char path[128];
    /* a vgpu lease with everything a body can give (owned by this process: the admin's) */
    char body[256];
    snprintf(body, sizeof body,
             "{\"mode\":\"vgpu\",\"gpu\":1,\"memory\":\"2G\",\"weight\":3,\"cap\":40,"
             "\"labels\":{\"team\":\"ml\",\"job\":\"x\"},\"owner_pids\":[%d]}",
             (int)getpid());
    expect(f, ADMIN, "POST", "/v1/leases", body, 201, &l);
    assert_int_equal(json_array_size(json_object_get(l, "owner_pids")), 1);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(l, "owner_pids"), 0)),
                     getpid());
    snprintf(path, sizeof path, "/v1/leases/%s", json_string_value(json_object_get(l, "id")));
    json_decref(l);
    expect(f, ADMIN, "DELETE", path, NULL, 200, NULL);
    /* a tenant (over TCP, no uid) names no process: this one (root's) and one that does not
     * exist get the same words, so that it learns nothing of the node (issue 10, finding 13) */
    json_t *e1, *e2;
    expect(f, TENANT, "POST", "/v1/leases", body, 400, &e1);
    snprintf(body, sizeof body, "{\"mode\":\"vgpu\",\"memory\":\"2G\",\"owner_pids\":[%d]}",
             0x7ffffffe);
    expect(f, TENANT, "POST", "/v1/leases", body, 400, &e2);
    char m1[256], m2[256];
    snprintf(m1, sizeof m1, "field 'owner_pids': pid %d is not a process of yours", (int)getpid());
    snprintf(m2, sizeof m2, "field 'owner_pids': pid %d is not a process of yours", 0x7ffffffe);
    assert_string_equal(json_string_value(json_object_get(json_object_get(e1, "error"), "message")),
                        m1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(e2, "error"), "message")),
                        m2);
    json_decref(e1);
    json_decref(e2);
    snprintf(body, sizeof body,
             "{\"mode\":\"vgpu\",\"gpu\":1,\"memory\":\"2G\",\"weight\":3,\"cap\":40,"
             "\"labels\":{\"team\":\"ml\",\"job\":\"x\"}}");
    expect(f, TENANT, "POST", "/v1/leases", body, 201, &l);
    check_lease(l, "active");
    assert_string_equal(json_string_value(json_object_get(l, "tenant")), "team-a");
    assert_string_equal(json_string_value(json_object_get(l, "mode")), "vgpu");
    assert_int_equal(json_integer_value(json_object_get(l, "gpu_index")), 1);
    assert_int_equal(json_integer_value(json_object_get(l, "memory_bytes")), 2LL << 30);
    assert_int_equal(json_integer_value(json_object_get(l, "weight")), 3);
    assert_int_equal(json_integer_value(json_object_get(l, "cap")), 40);
    assert_int_equal(json_integer_value(json_object_get(l, "cap_pct")), 40);
    assert_true(json_is_null(json_object_get(l, "mig_profile")));
    assert_true(json_is_null(json_object_get(l, "mig")));
    assert_true(json_is_null(json_object_get(l, "released")));
    assert_true(json_is_null(json_object_get(l, "release_reason")));
    assert_true(json_is_null(json_object_get(l, "region_error")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(l, "labels"), "team")),
                        "ml");
    assert_int_equal(json_array_size(json_object_get(l, "owner_pids")), 0);
    json_t *env = json_object_get(l, "env");
    static const char *const env_keys[] = {"CUDA_VISIBLE_DEVICES", "GPUPLEX_LEASE",
                                           "GPUPLEX_RUN_DIR", "LD_PRELOAD", NULL};
    keys_are(env, "lease env", env_keys);
    assert_string_equal(json_string_value(json_object_get(env, "CUDA_VISIBLE_DEVICES")),
                        json_string_value(json_object_get(l, "gpu_uuid")));
    assert_string_equal(json_string_value(json_object_get(env, "GPUPLEX_LEASE")),
                        json_string_value(json_object_get(l, "id")));
    assert_string_equal(json_string_value(json_object_get(env, "LD_PRELOAD")), INTERPOSER);
    char id[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(l, "id")));
    json_decref(l);

    /* the same lease read back, listed, with its recent turns */
    snprintf(path, sizeof path, "/v1/leases/%s", id);
    expect(f, TENANT, "GET", path, NULL, 200, &l);
    check_lease(l, "active");
    json_decref(l);
    snprintf(path, sizeof path, "/v1/leases/%s?turns=1", id);
    expect(f, TENANT, "GET", path, NULL, 200, &l);
    assert_true(json_is_array(json_object_get(l, "recent_turns")));
    json_object_del(l, "recent_turns");
    check_lease(l, "active");
    json_decref(l);
    expect(f, TENANT, "GET", "/v1/leases", NULL, 200, &j);
    assert_true(json_is_array(j));
    assert_int_equal(json_array_size(j), 1);
    check_lease(json_array_get(j, 0), "active");
    json_decref(j);

    /* an exclusive lease: no quota, no weight, no interposer */
    expect(f, ADMIN, "POST", "/v1/leases", "{\"mode\":\"exclusive\"}", 201, &l);
    check_lease(l, "active");
    assert_true(json_is_null(json_object_get(l, "memory_bytes")));
    assert_true(json_is_null(json_object_get(l, "weight")));
    assert_true(json_is_null(json_object_get(l, "cap")));
    static const char *const env_ex[] = {"CUDA_VISIBLE_DEVICES", "GPUPLEX_LEASE", "GPUPLEX_RUN_DIR",
                                         NULL};
    keys_are(json_object_get(l, "env"), "exclusive env", env_ex);
    assert_string_equal(json_string_value(json_object_get(l, "tenant")), "admin");
    json_decref(l);

    /* released: state, reason, time; no environment */
    snprintf(path, sizeof path, "/v1/leases/%s", id);
    expect(f, TENANT, "DELETE", path, NULL, 200, &l);
    check_lease(l, "released");
    assert_true(json_is_null(json_object_get(l, "env")));
    assert_string_equal(json_string_value(json_object_get(l, "release_reason")),
                        "released by team-a");
    assert_true(json_is_string(json_object_get(l, "released")));
    json_decref(l);
    expect(f, TENANT, "GET", "/v1/leases?state=released", NULL, 200, &j);
    assert_int_equal(json_array_size(j), 1);
    check_lease(json_array_get(j, 0), "released");
    json_decref(j);

    /* tenants: the token only when made */
    static const char *const tenant_keys[] = {
        "name",       "role",       "uid",     "max_gpus", "max_memory_bytes",
        "max_leases", "created_ns", "created", NULL};
    static const char *const tenant_tok[] = {
        "name",       "role",       "uid",     "max_gpus", "max_memory_bytes",
        "max_leases", "created_ns", "created", "token",    NULL};
    expect(f, ADMIN, "POST", "/v1/tenants",
           "{\"name\":\"team-c\",\"uid\":4242,\"max_gpus\":1,\"max_memory\":\"8G\","
           "\"max_leases\":5}",
           201, &j);
    keys_are(j, "new tenant", tenant_tok);
    assert_int_equal(json_integer_value(json_object_get(j, "uid")), 4242);
    assert_int_equal(json_integer_value(json_object_get(j, "max_gpus")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "max_memory_bytes")), 8LL << 30);
    assert_int_equal(json_integer_value(json_object_get(j, "max_leases")), 5);
    assert_string_equal(json_string_value(json_object_get(j, "role")), "tenant");
    json_decref(j);
    expect(f, ADMIN, "GET", "/v1/tenants/team-c", NULL, 200, &j);
    keys_are(j, "tenant", tenant_keys);
    json_decref(j);
    expect(f, ADMIN, "GET", "/v1/tenants", NULL, 200, &j);
    assert_int_equal(json_array_size(j), 2);
    for (size_t i = 0; i < json_array_size(j); i++)
        keys_are(json_array_get(j, i), "listed tenant", tenant_keys);
    json_decref(j);
    expect(f, TENANT, "GET", "/v1/tenants/team-a", NULL, 200, &j);
    keys_are(j, "own tenant", tenant_keys);
    assert_true(json_is_null(json_object_get(j, "uid")));
    json_decref(j);
    expect(f, ADMIN, "POST", "/v1/tenants/team-c/token", NULL, 200, &j);
    keys_are(j, "new token", tenant_tok);
    json_decref(j);
    expect(f, ADMIN, "DELETE", "/v1/tenants/team-c", NULL, 200, &j);
    keys_are(j, "removed tenant", tenant_keys);
    json_decref(j);

    /* callers */
    static const char *const caller_keys[] = {
        "tenant", "role", "via", "uid", "max_gpus", "max_memory_bytes", "max_leases", NULL};
    expect(f, TENANT, "GET", "/v1/whoami", NULL, 200, &j);
    keys_are(j, "whoami", caller_keys);
    assert_string_equal(json_string_value(json_object_get(j, "tenant")), "team-a");
    assert_string_equal(json_string_value(json_object_get(j, "role")), "tenant");
    assert_string_equal(json_string_value(json_object_get(j, "via")), "tcp");
    assert_true(json_is_null(json_object_get(j, "uid")));
    json_decref(j);
    expect(f, ADMIN, "GET", "/v1/whoami", NULL, 200, &j);
    keys_are(j, "whoami", caller_keys);
    assert_string_equal(json_string_value(json_object_get(j, "tenant")), "admin");
    assert_string_equal(json_string_value(json_object_get(j, "role")), "admin");
    assert_string_equal(json_string_value(json_object_get(j, "via")), "unix");
    assert_int_equal(json_integer_value(json_object_get(j, "uid")), 0);
    json_decref(j);

    /* GPUs: processes for admins only */
    expect(f, TENANT, "GET", "/v1/gpus", NULL, 200, &j);
    assert_int_equal(json_array_size(j), 2);
    json_t *g0 = json_array_get(j, 0);
    assert_null(json_object_get(g0, "processes"));
    assert_int_equal(json_integer_value(json_object_get(g0, "index")), 0);
    assert_true(json_is_array(json_object_get(g0, "leases")));
    assert_true(json_is_integer(json_object_get(g0, "memory_total_bytes")));
    assert_true(json_is_integer(json_object_get(g0, "memory_quota_free_bytes")));
    assert_true(json_is_boolean(json_object_get(g0, "exclusive")));
    json_decref(j);
    expect(f, ADMIN, "GET", "/v1/gpus", NULL, 200, &j);
    assert_non_null(json_object_get(json_array_get(j, 0), "processes"));
    json_decref(j);

    /* usage */
    expect(f, TENANT, "GET", "/v1/usage", NULL, 200, &j);
    static const char *const usage_keys[] = {"from", "to", "tenants", "leases", "functions", NULL};
    keys_are(j, "usage", usage_keys);
    assert_true(json_is_array(json_object_get(j, "functions"))); /* GPU functions' calls */
    assert_int_equal(json_array_size(json_object_get(j, "leases")), 1);
    assert_int_equal(json_array_size(json_object_get(j, "tenants")), 1);
    json_decref(j);
    expect(f, TENANT, "GET", "/v1/usage?from=2024-05-01T00:00:00Z&to=1999999999", NULL, 200, NULL);
}

/* --- MIG ------------------------------------------------------------------------------------ */

static void test_mig_routes(void **state)
{
    struct fx *f = *state;
    team_a(f);
    json_t *j, *l;
    expect(f, TENANT, "GET", "/v1/gpus/1/mig", NULL, 200, &j);
    assert_string_equal(json_string_value(json_object_get(j, "mig_mode")), "disabled");
    assert_true(json_is_array(json_object_get(j, "instances")));
    json_decref(j);
    expect(f, TENANT, "POST", "/v1/leases", "{\"mode\":\"mig\",\"mig_profile\":\"1g.10gb\"}", 409,
           &j);
    assert_string_equal(err_code(j), "NO_SPACE");
    json_decref(j);
    /* a dry run changes nothing */
    expect(f, ADMIN, "POST", "/v1/gpus/1/mig",
           "{\"enabled\":true,\"demand\":{\"1g.10gb\":2},\"dry_run\":true}", 200, NULL);
    expect(f, ADMIN, "GET", "/v1/gpus/1/mig", NULL, 200, &j);
    assert_string_equal(json_string_value(json_object_get(j, "mig_mode")), "disabled");
    json_decref(j);
    expect(f, ADMIN, "POST", "/v1/gpus/1/mig", "{\"enabled\":true,\"demand\":{\"1g.10gb\":2}}", 200,
           NULL);
    char uuid_path[160];
    expect(f, ADMIN, "GET", "/v1/gpus", NULL, 200, &j);
    snprintf(uuid_path, sizeof uuid_path, "/v1/gpus/%s/mig",
             json_string_value(json_object_get(json_array_get(j, 1), "uuid")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 1), "mig_mode")),
                        "enabled");
    json_decref(j);
    expect(f, TENANT, "GET", uuid_path, NULL, 200, &j);
    assert_string_equal(json_string_value(json_object_get(j, "mig_mode")), "enabled");
    assert_int_equal(json_array_size(json_object_get(j, "instances")), 2);
    json_decref(j);

    /* a mig lease through the API */
    expect(f, TENANT, "POST", "/v1/leases", "{\"mode\":\"mig\",\"mig_profile\":\"1g.10gb\"}", 201,
           &l);
    check_lease(l, "active");
    json_t *mig = json_object_get(l, "mig");
    static const char *const mig_keys[] = {
        "gpu_instance_id", "compute_instance_id", "start", "memory_bytes", "uuid", "created", NULL};
    keys_are(mig, "lease mig", mig_keys);
    const char *mu = json_string_value(json_object_get(mig, "uuid"));
    assert_non_null(mu);
    assert_int_equal(strncmp(mu, "MIG-", 4), 0);
    assert_true(json_is_false(json_object_get(mig, "created")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(l, "env"), "CUDA_VISIBLE_DEVICES")), mu);
    assert_string_equal(json_string_value(json_object_get(l, "mig_profile")), "1g.10gb");
    assert_int_equal(json_integer_value(json_object_get(l, "gpu_index")), 1);
    char id[64], path[128];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(l, "id")));
    json_decref(l);
    /* the instance says whose it is (to those who may know) */
    expect(f, TENANT, "GET", "/v1/gpus/1/mig", NULL, 200, &j);
    json_t *insts = json_object_get(j, "instances");
    unsigned leased = 0, mine = 0;
    for (size_t i = 0; i < json_array_size(insts); i++) {
        json_t *in = json_array_get(insts, i);
        leased += json_is_true(json_object_get(in, "leased"));
        const char *lid = json_string_value(json_object_get(in, "lease"));
        mine += lid && strcmp(lid, id) == 0;
    }
    assert_int_equal(leased, 1);
    assert_int_equal(mine, 1);
    json_decref(j);
    /* MIG stays on under a lease */
    expect(f, ADMIN, "POST", "/v1/gpus/1/mig", "{\"enabled\":false}", 409, &j);
    assert_string_equal(err_code(j), "BUSY");
    json_decref(j);
    snprintf(path, sizeof path, "/v1/leases/%s", id);
    expect(f, TENANT, "DELETE", path, NULL, 200, NULL);
    expect(f, ADMIN, "POST", "/v1/gpus/1/mig", "{\"enabled\":false}", 200, NULL);
    expect(f, ADMIN, "GET", "/v1/gpus/1/mig", NULL, 200, &j);
    assert_string_equal(json_string_value(json_object_get(j, "mig_mode")), "disabled");
    assert_int_equal(json_array_size(json_object_get(j, "instances")), 0);
    json_decref(j);
    /* a busy GPU cannot enable MIG */
    expect(f, ADMIN, "POST", "/v1/leases", "{\"mode\":\"timeslice\",\"gpu\":0}", 201, NULL);
    expect(f, ADMIN, "POST", "/v1/gpus/0/mig", "{\"enabled\":true}", 409, NULL);
}

/*
 * Labels starting with "gpuplex." are gpuplexd's own: its VM, function and container machinery
 * acts on leases that carry them (ends them with a VM or worker, releases them as orphans at
 * start, releases them when their last container stops). POST /v1/leases refuses them from
 * anybody, the admin too (400 naming the field and the prefix), and nothing is made;
 * "for_container": true is how a caller asks for a lease made for containers.
 */
static void test_labels_reserved(void **state)
{
    struct fx *f = *state;
    team_a(f);
    json_t *j;
    static const char *const keys[] = {"gpuplex.vm",      "gpuplex.function", "gpuplex.container",
                                       "gpuplex.managed", "gpuplex.replica",  "gpuplex.other"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        for (enum who w = TENANT; w <= ADMIN; w++) {
            char body[160];
            snprintf(body, sizeof body, "{\"mode\":\"timeslice\",\"labels\":{\"%s\":\"%s\"}}",
                     keys[i], i == 0 ? "vm-0123456789ab" : "1");
            expect(f, w, "POST", "/v1/leases", body, 400, &j);
            assert_string_equal(err_code(j), "INVALID");
            if (!strstr(err_msg(j), "field 'labels'") || !strstr(err_msg(j), "'gpuplex.'") ||
                !strstr(err_msg(j), keys[i]))
                fail_msg("%s: '%s' names not the field, the key and the prefix", keys[i],
                         err_msg(j));
            json_decref(j);
        }
    expect(f, ADMIN, "GET", "/v1/leases", NULL, 200, &j);
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);
    /* made for containers: the label comes from gpuplexd, next to the caller's own */
    expect(f, TENANT, "POST", "/v1/leases",
           "{\"mode\":\"timeslice\",\"for_container\":true,\"labels\":{\"team\":\"ml\"}}", 201, &j);
    json_t *lab = json_object_get(j, "labels");
    assert_string_equal(json_string_value(json_object_get(lab, "gpuplex.container")), "1");
    assert_string_equal(json_string_value(json_object_get(lab, "team")), "ml");
    assert_int_equal(json_object_size(lab), 2);
    char path[128];
    snprintf(path, sizeof path, "/v1/leases/%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    expect(f, TENANT, "DELETE", path, NULL, 200, NULL);
    expect(f, TENANT, "POST", "/v1/leases", "{\"mode\":\"timeslice\",\"for_container\":1}", 400,
           &j);
    assert_non_null(strstr(err_msg(j), "field 'for_container' must be true or false"));
    json_decref(j);
}

int main(void)
{
    gpx_log_set_level(GPX_LOG_ERROR);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_every_route_every_role), T(test_anonymous),   T(test_not_found_and_methods),
        T(test_bad_requests),           T(test_json_bodies), T(test_mig_routes),
        T(test_labels_reserved),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
