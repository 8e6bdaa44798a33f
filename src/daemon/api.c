/*
 * The HTTP API: one table of routes {method, pattern, role, handler}. A
 * handler parses its input (request.c), calls the engine, and returns the
 * answer as JSON written by the views (engine/views.c) — the same objects the
 * CLI prints. Every failure becomes {"error":{"code":NAME,"message":TEXT}}
 * with the HTTP status of the gpx_error table.
 *
 * Order of checks: an unknown path is 404 for everyone; a known one is 401
 * (for routes that need a caller) before anything else is said about it,
 * then 405 (with Allow), then 403 for a role the caller lacks.
 * docs/openapi.yaml describes the same routes; tests/unit/test_api.c calls
 * every route with every role through gpxd_open, without sockets.
 */
#include "core/log.h"
#include "daemon/daemon.h"
#include "engine/views.h"
#include "gpuplex/error.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum role {
    ROLE_ANYONE,  /* no authentication (a caller, if identified, may see more) */
    ROLE_METRICS, /* admins, or anyone when metrics_public */
    ROLE_TENANT,  /* any identified caller */
    ROLE_ADMIN,
};

struct call {
    struct gpxd *d;
    const struct gpxd_http_req *rq;
    const struct gpx_caller *c; /* NULL for ROLE_ANYONE when nobody was identified */
    const char *param;          /* the {id} segment */
    struct gpxd_http_resp *rs;
};

/* Returns the HTTP status (2xx) with *out set, or -1 with err set. */
typedef int (*handler_fn)(const struct call *x, json_t **out, gpx_error *err);

struct route {
    const char *method;
    const char *pattern; /* "/v1/leases/{}": {} is one segment of [A-Za-z0-9._-] */
    enum role role;
    handler_fn fn;
    const char *const *query; /* accepted query parameters, NULL-terminated; NULL = none */
    const char *admin_for;    /* admin routes: what the 403 says needs the role */
};

/* --- query parameters ----------------------------------------------------------------------- */

static int args(const struct gpxd_http_req *rq, const char *const *names, const char **values,
                gpx_error *err)
{
    if (rq->too_many_args)
        return gpx_error_set(err, GPX_E_INVALID, "too many query parameters");
    for (unsigned i = 0; i < rq->n_args; i++) {
        int k = -1;
        for (int j = 0; names && names[j]; j++)
            if (strcmp(rq->arg_name[i], names[j]) == 0)
                k = j;
        if (k < 0)
            return gpx_error_set(err, GPX_E_INVALID, "unknown query parameter '%.64s'",
                                 rq->arg_name[i]);
        if (values[k])
            return gpx_error_set(err, GPX_E_INVALID, "query parameter '%s' is given twice",
                                 names[k]);
        values[k] = rq->arg_value[i] ? rq->arg_value[i] : "";
    }
    return 0;
}

/* --- handlers ------------------------------------------------------------------------------- */

static int h_healthz(const struct call *x, json_t **out, gpx_error *err)
{
    (void)err;
    struct gpx_health h;
    gpx_engine_health(x->d->eng, x->c && x->c->admin, &h);
    *out = gpx_view_health(&h);
    return 200;
}

static int h_metrics(const struct call *x, json_t **out, gpx_error *err)
{
    (void)out;
    struct gpxd_http_resp *rs = x->rs;
    if (gpxd_metrics(x->d, &rs->body, &rs->len, err) < 0)
        return -1;
    rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
    return 200;
}

static int h_whoami(const struct call *x, json_t **out, gpx_error *err)
{
    (void)err;
    *out = gpx_view_caller(x->c);
    return 200;
}

static int h_gpus(const struct call *x, json_t **out, gpx_error *err)
{
    struct gpx_node n;
    if (gpx_engine_gpus(x->d->eng, x->c, &n, err) < 0)
        return -1;
    *out = gpx_view_gpus(&n);
    gpx_node_free(&n);
    return 200;
}

static const char *const q_leases[] = {"state", "tenant", "turns", NULL};

static int h_lease_list(const struct call *x, json_t **out, gpx_error *err)
{
    const char *v[3] = {NULL, NULL, NULL};
    if (args(x->rq, q_leases, v, err) < 0)
        return -1;
    struct gpx_lease_query q = {
        .state = -1, .tenant = v[1], .turns = v[2] && strcmp(v[2], "0") != 0};
    if (v[0] && (q.state = gpx_lease_state_parse(v[0])) != GPX_LS_ACTIVE &&
        q.state != GPX_LS_RELEASED && q.state != GPX_LS_ALL)
        return gpx_error_set(err, GPX_E_INVALID,
                             "query 'state' must be active, released or all, not '%.32s'", v[0]);
    struct gpx_lease *l = NULL;
    unsigned n = 0;
    if (gpx_engine_lease_list(x->d->eng, x->c, &q, &l, &n, err) < 0)
        return -1;
    *out = gpx_view_leases(l, n, q.turns ? GPX_VIEW_TURNS : 0);
    free(l);
    return 200;
}

static int h_lease_create(const struct call *x, json_t **out, gpx_error *err)
{
    struct gpx_lease_spec s;
    if (gpxd_lease_request_parse(x->rq->body, x->rq->body_len, &s, err) < 0)
        return -1;
    struct gpx_lease *l = malloc(sizeof *l);
    int rc = l ? gpx_engine_lease_create(x->d->eng, x->c, &s, l, err)
               : gpx_error_set(err, GPX_E_NOMEM, "lease");
    gpx_lease_spec_clear(&s);
    if (rc == 0)
        *out = gpx_view_lease(l, 0);
    free(l);
    return rc < 0 ? -1 : 201;
}

static int h_lease_get(const struct call *x, json_t **out, gpx_error *err)
{
    static const char *const q[] = {"turns", NULL};
    const char *v[1] = {NULL};
    if (args(x->rq, q, v, err) < 0)
        return -1;
    int turns = v[0] && strcmp(v[0], "0") != 0;
    struct gpx_lease *l = malloc(sizeof *l);
    int rc = l ? gpx_engine_lease_get(x->d->eng, x->c, x->param, turns, l, err)
               : gpx_error_set(err, GPX_E_NOMEM, "lease");
    if (rc == 0)
        *out = gpx_view_lease(l, turns ? GPX_VIEW_TURNS : 0);
    free(l);
    return rc < 0 ? -1 : 200;
}

static int h_lease_release(const struct call *x, json_t **out, gpx_error *err)
{
    struct gpx_lease *l = malloc(sizeof *l);
    int rc = l ? gpx_engine_lease_release(x->d->eng, x->c, x->param, l, err)
               : gpx_error_set(err, GPX_E_NOMEM, "lease");
    if (rc == 0)
        *out = gpx_view_lease(l, 0);
    free(l);
    return rc < 0 ? -1 : 200;
}

static const char *const q_usage[] = {"tenant", "from", "to", "label", NULL};

static int h_usage(const struct call *x, json_t **out, gpx_error *err)
{
    const char *v[4] = {NULL, NULL, NULL, NULL};
    int64_t from = 0, to = 0;
    if (args(x->rq, q_usage, v, err) < 0)
        return -1;
    if (v[1] && gpx_parse_time(v[1], &from, err) < 0)
        return gpx_error_wrap(err, "query 'from'");
    if (v[2] && gpx_parse_time(v[2], &to, err) < 0)
        return gpx_error_wrap(err, "query 'to'");
    struct gpx_usage u;
    if (gpx_engine_usage_labeled(x->d->eng, x->c, v[0], v[3], from, to, &u, err) < 0)
        return -1;
    *out = gpx_view_usage(&u);
    /* function calls, by tenant and function, over the same window (docs/functions.md);
     * they carry no lease labels, so a label filter leaves them out */
    if (!v[3]) {
        json_t *fr = gpxd_function_usage(x->d, x->c->admin ? v[0] : x->c->tenant, u.from_ns,
                                         u.to_ns ? u.to_ns : INT64_MAX, err);
        if (!fr) {
            gpx_usage_free(&u);
            return -1;
        }
        json_object_set_new(*out, "functions", fr);
    }
    gpx_usage_free(&u);
    return 200;
}

static int h_tenant_list(const struct call *x, json_t **out, gpx_error *err)
{
    struct gpx_tenant *t = NULL;
    unsigned n = 0;
    if (gpx_engine_tenant_list(x->d->eng, &t, &n, err) < 0)
        return -1;
    *out = gpx_view_tenants(t, n);
    free(t);
    return 200;
}

static int h_tenant_add(const struct call *x, json_t **out, gpx_error *err)
{
    struct gpx_tenant_req r;
    struct gpx_tenant t;
    char token[72];
    if (gpxd_tenant_req_parse(x->rq->body, x->rq->body_len, &r, err) < 0 ||
        gpx_engine_tenant_add(x->d->eng, &r, &t, token, err) < 0)
        return -1;
    *out = gpx_view_tenant(&t, token);
    return 201;
}

static int h_tenant_get(const struct call *x, json_t **out, gpx_error *err)
{
    struct gpx_tenant t;
    if (gpx_engine_tenant_get(x->d->eng, x->c, x->param, &t, err) < 0)
        return -1;
    *out = gpx_view_tenant(&t, NULL);
    return 200;
}

static int h_tenant_remove(const struct call *x, json_t **out, gpx_error *err)
{
    struct gpx_tenant t;
    if (gpx_engine_tenant_remove(x->d->eng, x->param, &t, err) < 0)
        return -1;
    *out = gpx_view_tenant(&t, NULL);
    return 200;
}

static int h_tenant_token(const struct call *x, json_t **out, gpx_error *err)
{
    struct gpx_tenant t;
    char token[72];
    if (gpx_engine_tenant_new_token(x->d->eng, x->param, &t, token, err) < 0)
        return -1;
    *out = gpx_view_tenant(&t, token);
    return 200;
}

static int h_mig_get(const struct call *x, json_t **out, gpx_error *err)
{
    struct gpx_mig_view v;
    if (gpx_engine_mig_get(x->d->eng, x->c, x->param, &v, err) < 0)
        return -1;
    *out = gpx_view_mig(&v);
    gpx_mig_view_free(&v);
    return 200;
}

static int h_mig_post(const struct call *x, json_t **out, gpx_error *err)
{
    struct gpx_mig_req r;
    struct gpx_mig_applied a;
    if (gpxd_mig_req_parse(x->rq->body, x->rq->body_len, &r, err) < 0 ||
        gpx_engine_mig_apply(x->d->eng, x->param, &r, &a, err) < 0)
        return -1;
    *out = gpx_view_mig_applied(&a);
    gpx_mig_applied_free(&a);
    return 200;
}

/* managed containers (containers.c) */
static int h_container_create(const struct call *x, json_t **out, gpx_error *err)
{
    return gpxd_container_create(x->d, x->c, x->rq->body, x->rq->body_len, out, err) < 0 ? -1 : 201;
}

static int h_container_list(const struct call *x, json_t **out, gpx_error *err)
{
    return gpxd_container_list(x->d, x->c, out, err) < 0 ? -1 : 200;
}

static int h_container_get(const struct call *x, json_t **out, gpx_error *err)
{
    return gpxd_container_get(x->d, x->c, x->param, out, err) < 0 ? -1 : 200;
}

static const char *const q_logs[] = {"replica", "tail", NULL};

/* A query value from 0 to hi. */
static int query_uint(const char *name, const char *s, unsigned hi, unsigned *out, gpx_error *err)
{
    char *end;
    unsigned long v = s && isdigit((unsigned char)*s) ? strtoul(s, &end, 10) : 0;
    if (!s || !isdigit((unsigned char)*s) || *end || v > hi)
        return gpx_error_set(err, GPX_E_INVALID, "query '%s' must be a number from 0 to %u", name,
                             hi);
    *out = (unsigned)v;
    return 0;
}

static int h_container_logs(const struct call *x, json_t **out, gpx_error *err)
{
    const char *v[2] = {NULL, NULL};
    unsigned replica = 0, tail = 200;
    if (args(x->rq, q_logs, v, err) < 0 ||
        (v[0] && query_uint("replica", v[0], 1000, &replica, err) < 0) ||
        (v[1] && query_uint("tail", v[1], 100000, &tail, err) < 0))
        return -1;
    return gpxd_container_logs(x->d, x->c, x->param, replica, tail, out, err) < 0 ? -1 : 200;
}

static int h_container_remove(const struct call *x, json_t **out, gpx_error *err)
{
    return gpxd_container_remove(x->d, x->c, x->param, out, err) < 0 ? -1 : 200;
}

/* --- GPU functions (functions.c, docs/functions.md) ----------------------------------------- */

static int h_fn_list(const struct call *x, json_t **out, gpx_error *err)
{
    return gpxd_function_list(x->d, x->c, out, err) < 0 ? -1 : 200;
}

static int h_fn_create(const struct call *x, json_t **out, gpx_error *err)
{
    return gpxd_function_create(x->d, x->c, x->rq->body, x->rq->body_len, out, err) < 0 ? -1 : 201;
}

static int h_fn_get(const struct call *x, json_t **out, gpx_error *err)
{
    return gpxd_function_get(x->d, x->c, x->param, out, err) < 0 ? -1 : 200;
}

static int h_fn_update(const struct call *x, json_t **out, gpx_error *err)
{
    return gpxd_function_update(x->d, x->c, x->param, x->rq->body, x->rq->body_len, out, err) < 0
               ? -1
               : 200;
}

static int h_fn_remove(const struct call *x, json_t **out, gpx_error *err)
{
    return gpxd_function_remove(x->d, x->c, x->param, out, err) < 0 ? -1 : 200;
}

static const char *const q_fn_logs[] = {"worker", "tail", NULL};

static int h_fn_logs(const struct call *x, json_t **out, gpx_error *err)
{
    const char *v[2] = {NULL, NULL};
    unsigned tail = 100;
    if (args(x->rq, q_fn_logs, v, err) < 0 ||
        (v[1] && query_uint("tail", v[1], 100000, &tail, err) < 0))
        return -1;
    return gpxd_function_logs(x->d, x->c, x->param, v[0], tail, out, err) < 0 ? -1 : 200;
}

/* The call is run by http.c, on the connection's thread (gpxd_fn_call_run). */
static int h_fn_invoke(const struct call *x, json_t **out, gpx_error *err)
{
    (void)out;
    struct gpxd_fn_call *c = gpxd_fn_call_new(x->d, x->c, x->param, x->rq->body, x->rq->body_len,
                                              x->rq->content_type, err);
    if (!c)
        return -1;
    x->rs->call = c;
    return 0;
}

/* VMs through libvirt (vms.c) */
static int h_vm_create(const struct call *x, json_t **out, gpx_error *err)
{
    return gpxd_vm_create(x->d, x->c, x->rq->body, x->rq->body_len, out, err) < 0 ? -1 : 201;
}

static int h_vm_list(const struct call *x, json_t **out, gpx_error *err)
{
    return gpxd_vm_list(x->d, x->c, out, err) < 0 ? -1 : 200;
}

static int h_vm_get(const struct call *x, json_t **out, gpx_error *err)
{
    return gpxd_vm_get(x->d, x->c, x->param, out, err) < 0 ? -1 : 200;
}

static int h_vm_remove(const struct call *x, json_t **out, gpx_error *err)
{
    return gpxd_vm_remove(x->d, x->c, x->param, out, err) < 0 ? -1 : 200;
}

static int h_vgpu_types(const struct call *x, json_t **out, gpx_error *err)
{
    return gpxd_vgpu_types(x->d, x->c, x->param, out, err) < 0 ? -1 : 200;
}

/* --- the table ------------------------------------------------------------------------------ */

#define TENANTS   "managing tenants"
#define FUNCTIONS "managing functions"
static const struct route routes[] = {
    {"GET", "/healthz", ROLE_ANYONE, h_healthz, NULL, NULL},
    {"HEAD", "/healthz", ROLE_ANYONE, h_healthz, NULL, NULL},
    {"GET", "/metrics", ROLE_METRICS, h_metrics, NULL, "/metrics"},
    {"GET", "/v1/whoami", ROLE_TENANT, h_whoami, NULL, NULL},
    {"GET", "/v1/gpus", ROLE_TENANT, h_gpus, NULL, NULL},
    {"GET", "/v1/leases", ROLE_TENANT, h_lease_list, q_leases, NULL},
    {"POST", "/v1/leases", ROLE_TENANT, h_lease_create, NULL, NULL},
    {"GET", "/v1/leases/{}", ROLE_TENANT, h_lease_get, (const char *const[]){"turns", NULL}, NULL},
    {"DELETE", "/v1/leases/{}", ROLE_TENANT, h_lease_release, NULL, NULL},
    {"GET", "/v1/usage", ROLE_TENANT, h_usage, q_usage, NULL},
    {"GET", "/v1/tenants", ROLE_ADMIN, h_tenant_list, NULL, TENANTS},
    {"POST", "/v1/tenants", ROLE_ADMIN, h_tenant_add, NULL, TENANTS},
    {"GET", "/v1/tenants/{}", ROLE_TENANT, h_tenant_get, NULL, NULL},
    {"DELETE", "/v1/tenants/{}", ROLE_ADMIN, h_tenant_remove, NULL, TENANTS},
    {"POST", "/v1/tenants/{}/token", ROLE_ADMIN, h_tenant_token, NULL, TENANTS},
    {"GET", "/v1/gpus/{}/mig", ROLE_TENANT, h_mig_get, NULL, NULL},
    {"POST", "/v1/gpus/{}/mig", ROLE_ADMIN, h_mig_post, NULL, "changing MIG partitions"},
    {"GET", "/v1/gpus/{}/vgpu-types", ROLE_TENANT, h_vgpu_types, NULL, NULL},
    {"GET", "/v1/containers", ROLE_TENANT, h_container_list, NULL, NULL},
    {"POST", "/v1/containers", ROLE_TENANT, h_container_create, NULL, NULL},
    {"GET", "/v1/containers/{}", ROLE_TENANT, h_container_get, NULL, NULL},
    {"DELETE", "/v1/containers/{}", ROLE_TENANT, h_container_remove, NULL, NULL},
    {"GET", "/v1/containers/{}/logs", ROLE_TENANT, h_container_logs, q_logs, NULL},
    {"GET", "/v1/vms", ROLE_TENANT, h_vm_list, NULL, NULL},
    {"POST", "/v1/vms", ROLE_TENANT, h_vm_create, NULL, NULL},
    {"GET", "/v1/vms/{}", ROLE_TENANT, h_vm_get, NULL, NULL},
    {"DELETE", "/v1/vms/{}", ROLE_TENANT, h_vm_remove, NULL, NULL},
    {"GET", "/v1/functions", ROLE_TENANT, h_fn_list, NULL, NULL},
    {"POST", "/v1/functions", ROLE_ADMIN, h_fn_create, NULL, FUNCTIONS},
    {"GET", "/v1/functions/{}", ROLE_TENANT, h_fn_get, NULL, NULL},
    {"PUT", "/v1/functions/{}", ROLE_ADMIN, h_fn_update, NULL, FUNCTIONS},
    {"DELETE", "/v1/functions/{}", ROLE_ADMIN, h_fn_remove, NULL, FUNCTIONS},
    {"POST", "/v1/functions/{}/invoke", ROLE_TENANT, h_fn_invoke, NULL, NULL},
    {"GET", "/v1/functions/{}/logs", ROLE_ADMIN, h_fn_logs, q_fn_logs, FUNCTIONS},
};
#define NROUTES (sizeof routes / sizeof routes[0])

static int seg_ok(char ch)
{
    return isalnum((unsigned char)ch) || ch == '-' || ch == '_' || ch == '.';
}

/* Whether path matches pattern; copies the {} segment into param. */
static int match(const char *pattern, const char *path, char *param, size_t len)
{
    while (*pattern) {
        if (pattern[0] == '{' && pattern[1] == '}') {
            size_t n = 0;
            while (path[n] && path[n] != '/' && seg_ok(path[n]))
                n++;
            if (n == 0 || n >= len || n >= 64 || (path[n] && path[n] != '/'))
                return 0;
            memcpy(param, path, n);
            param[n] = '\0';
            path += n;
            pattern += 2;
            continue;
        }
        if (*pattern++ != *path++)
            return 0;
    }
    return *path == '\0';
}

static void set_json(struct gpxd_http_resp *rs, int status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
    json_decref(j);
    size_t n = s ? strlen(s) : 0;
    rs->body = malloc(n + 2);
    if (rs->body) {
        memcpy(rs->body, s ? s : "", n);
        rs->body[n] = '\n';
        rs->body[n + 1] = '\0';
        rs->len = n + 1;
    }
    free(s);
    rs->status = status;
    rs->content_type = "application/json";
}

static void set_error(struct gpxd_http_resp *rs, const gpx_error *e)
{
    set_json(rs, gpx_error_http_status(e->code), gpx_view_error(e));
    if (e->code == GPX_E_UNAUTH)
        rs->www_authenticate = 1;
}

static void fail(struct gpxd_http_resp *rs, enum gpx_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct gpxd_http_resp *rs, enum gpx_code code, const char *fmt, ...)
{
    gpx_error e = {.code = code};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof e.msg, fmt, ap);
    va_end(ap);
    set_error(rs, &e);
}

void gpxd_api_handle(struct gpxd *d, const struct gpxd_http_req *rq, struct gpxd_http_resp *rs)
{
    memset(rs, 0, sizeof *rs);
    char param[64] = "", allow[128] = "";
    const struct route *r = NULL, *any = NULL;
    if (d->cfg.web && gpxd_web_path(rq->path)) { /* static files: no caller needed */
        gpxd_web_serve(d->web_root, rq->method, rq->path, rs);
        goto done;
    }
    for (size_t i = 0; i < NROUTES; i++) {
        char p[64];
        if (!match(routes[i].pattern, rq->path, p, sizeof p))
            continue;
        if (!any)
            any = &routes[i];
        size_t al = strlen(allow);
        if (!strstr(allow, routes[i].method))
            snprintf(allow + al, sizeof allow - al, "%s%s", al ? ", " : "", routes[i].method);
        if (strcmp(routes[i].method, rq->method) == 0 && !r) {
            r = &routes[i];
            memcpy(param, p, sizeof param);
        }
    }
    if (!any) {
        fail(rs, GPX_E_NOT_FOUND, "no such endpoint: %.200s", rq->path);
        goto done;
    }
    if (rq->body_too_large) {
        size_t lim = gpxd_function_body_limit(d, rq->path);
        fail(rs, GPX_E_TOO_LARGE, "request body is larger than %zu bytes%s",
             lim ? lim : d->cfg.max_body, lim ? " (the function's max_body_bytes)" : "");
        goto done;
    }
    struct gpx_caller c;
    gpx_error e = {0};
    int authed = gpx_engine_authenticate(d->eng, rq->authorization, rq->via_unix, rq->have_cred,
                                         rq->uid, rq->pid, &c, &e) == 0;
    enum role need = r ? r->role : any->role;
    if (need == ROLE_METRICS && d->cfg.metrics_public)
        need = ROLE_ANYONE;
    if (need != ROLE_ANYONE && !authed) {
        set_error(rs, &e);
        goto done;
    }
    if (!r) {
        fail(rs, GPX_E_METHOD, "method %s is not allowed here", rq->method);
        snprintf(rs->allow_buf, sizeof rs->allow_buf, "%s", allow);
        rs->allow = rs->allow_buf;
        goto done;
    }
    if ((need == ROLE_ADMIN || need == ROLE_METRICS) && !c.admin) {
        fail(rs, GPX_E_PERM, "%s needs the admin role (you are '%s')",
             r->admin_for ? r->admin_for : "this", c.tenant);
        goto done;
    }
    if (strcmp(rq->method, "POST") != 0 && strcmp(rq->method, "PUT") != 0 && rq->body_len > 0) {
        fail(rs, GPX_E_INVALID, "%s requests take no body", rq->method);
        goto done;
    }
    gpx_error_clear(&e);
    if (!r->query) {
        const char *none[1] = {NULL};
        static const char *const no_args[] = {NULL};
        if (args(rq, no_args, none, &e) < 0) {
            set_error(rs, &e);
            goto done;
        }
    }
    struct call x = {.d = d, .rq = rq, .c = authed ? &c : NULL, .param = param, .rs = rs};
    json_t *out = NULL;
    int status = r->fn(&x, &out, &e);
    if (status < 0) {
        json_decref(out);
        set_error(rs, &e);
        goto done;
    }
    if (out)
        set_json(rs, status, out);
    else
        rs->status = status; /* 0 with rs->call: answered later, counted by http.c */
done:
    if (rs->status >= 100 && rs->status < 600)
        atomic_fetch_add(&d->http_by_class[rs->status / 100], 1);
    if (rs->status >= 500)
        gpx_warn("%s %s: %d %.*s", rq->method, rq->path, rs->status, (int)rs->len,
                 rs->body ? rs->body : "");
    else
        gpx_debug("%s %s: %d", rq->method, rq->path, rs->status);
}
