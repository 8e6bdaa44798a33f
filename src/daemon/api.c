/*
 * The HTTP API's routes: path -> (authentication) -> method -> role ->
 * handler. Handlers return JSON; every failure becomes
 * {"error":{"code":NAME,"message":TEXT}} with the HTTP status of the
 * gpx_error table. Order of checks: an unknown path is 404 for everyone, a
 * known one is 401 before anything else is said about it, then 405, then 403.
 * docs/openapi.yaml describes the same routes.
 */
#include "core/log.h"
#include "daemon/daemon.h"
#include "gpuplex/error.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum route {
    R_NONE,
    R_HEALTHZ,
    R_METRICS,
    R_WHOAMI,
    R_GPUS,
    R_LEASES,
    R_LEASE,
    R_USAGE,
    R_TENANTS,
    R_TENANT,
    R_TENANT_TOKEN,
    R_GPU_MIG,
};

static const char *const allow[] = {
    [R_HEALTHZ] = "GET",       [R_METRICS] = "GET",       [R_WHOAMI] = "GET",
    [R_GPUS] = "GET",          [R_LEASES] = "GET, POST",  [R_LEASE] = "GET, DELETE",
    [R_USAGE] = "GET",         [R_TENANTS] = "GET, POST", [R_TENANT] = "GET, DELETE",
    [R_TENANT_TOKEN] = "POST", [R_GPU_MIG] = "GET, POST",
};

static int id_ok(const char *s, size_t n)
{
    if (n == 0 || n >= 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return 0;
    return 1;
}

/* Matches the path; copies a {id}/{name} segment into `param`. */
static enum route route_of(const char *path, char *param, size_t len)
{
    static const struct {
        const char *path;
        enum route r;
    } fixed[] = {{"/healthz", R_HEALTHZ},   {"/metrics", R_METRICS},  {"/v1/whoami", R_WHOAMI},
                 {"/v1/gpus", R_GPUS},      {"/v1/leases", R_LEASES}, {"/v1/usage", R_USAGE},
                 {"/v1/tenants", R_TENANTS}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcmp(path, fixed[i].path) == 0)
            return fixed[i].r;
    const char *rest = NULL;
    enum route r = R_NONE;
    if (strncmp(path, "/v1/leases/", 11) == 0) {
        rest = path + 11;
        r = R_LEASE;
    } else if (strncmp(path, "/v1/tenants/", 12) == 0) {
        rest = path + 12;
        r = R_TENANT;
    } else if (strncmp(path, "/v1/gpus/", 9) == 0) {
        rest = path + 9;
        r = R_GPU_MIG; /* only with its "/mig" */
    }
    if (!rest)
        return R_NONE;
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (!id_ok(rest, n) || n >= len)
        return R_NONE;
    memcpy(param, rest, n);
    param[n] = '\0';
    if (!slash)
        return r == R_GPU_MIG ? R_NONE : r;
    if (r == R_TENANT && strcmp(slash, "/token") == 0)
        return R_TENANT_TOKEN;
    if (r == R_GPU_MIG && strcmp(slash, "/mig") == 0)
        return R_GPU_MIG;
    return R_NONE;
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
    json_t *o = json_object(), *in = json_object();
    json_object_set_new(in, "code", json_string(gpx_error_name(e->code)));
    json_object_set_new(in, "message",
                        json_string(e->msg[0] ? e->msg : gpx_error_default(e->code)));
    json_object_set_new(o, "error", in);
    set_json(rs, gpx_error_http_status(e->code), o);
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

/* Checks query arguments against the route's known names; fills values. */
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

/* Open to anyone; node-wide lease counts only to an admin (a tenant must not count others). */
static void healthz(struct gpxd *d, int admin, struct gpxd_http_resp *rs)
{
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string("ok"));
    json_object_set_new(o, "version", json_string(GPX_VERSION));
    pthread_mutex_lock(&d->inv_lock);
    json_object_set_new(o, "gpus", json_integer(d->inv.count));
    json_object_set_new(o, "driver_version", json_string(d->inv.driver_version));
    pthread_mutex_unlock(&d->inv_lock);
    if (admin)
        json_object_set_new(o, "leases_active", json_integer(gpxd_lease_count(d)));
    json_object_set_new(o, "schema_version", json_integer(gpxd_store_schema_version(d->store)));
    json_object_set_new(o, "uptime_seconds",
                        json_real((double)(gpxd_now_ns() - d->started_ns) / 1e9));
    json_object_set_new(o, "placement", json_string(gpx_place_policy_name(d->cfg.placement)));
    json_object_set_new(o, "oversubscription", json_real(d->cfg.oversubscription));
    set_json(rs, 200, o);
}

static void dispatch(struct gpxd *d, const struct gpxd_http_req *rq, const struct gpxd_caller *c,
                     enum route r, const char *param, struct gpxd_http_resp *rs)
{
    gpx_error e = {0};
    json_t *out = NULL;
    int status = 200, rc = 0;
    const char *m = rq->method;
    int has_body = rq->body_len > 0;
    static const char *const no_args[] = {NULL};
    const char *v[4] = {NULL, NULL, NULL, NULL};

    if (strcmp(m, "POST") != 0 && has_body) {
        fail(rs, GPX_E_INVALID, "%s requests take no body", m);
        return;
    }
    if (r != R_LEASES && r != R_USAGE && args(rq, no_args, v, &e) < 0) {
        set_error(rs, &e);
        return;
    }
    switch (r) {
    case R_WHOAMI:
        out = gpxd_caller_json(c);
        break;
    case R_GPUS:
        rc = gpxd_gpus(d, c, &out, &e);
        break;
    case R_LEASES:
        if (!strcmp(m, "GET")) {
            static const char *const names[] = {"state", "tenant", NULL};
            rc = args(rq, names, v, &e);
            if (rc == 0)
                rc = gpxd_lease_list(d, c, v[0], v[1], &out, &e);
        } else {
            struct gpxd_lease_req req;
            rc = args(rq, no_args, v, &e);
            if (rc == 0)
                rc = gpxd_lease_req_parse(rq->body, rq->body_len, &req, &e);
            if (rc == 0) {
                rc = gpxd_lease_create(d, c, &req, &out, &e);
                gpxd_lease_req_clear(&req);
            }
            status = 201;
        }
        break;
    case R_LEASE:
        rc = !strcmp(m, "GET") ? gpxd_lease_get(d, c, param, &out, &e)
                               : gpxd_lease_release(d, c, param, &out, &e);
        break;
    case R_USAGE: {
        static const char *const names[] = {"tenant", "from", "to", NULL};
        int64_t from = 0, to = 0;
        rc = args(rq, names, v, &e);
        if (rc == 0 && v[1] && gpxd_parse_time(v[1], &from, &e) < 0)
            rc = gpx_error_wrap(&e, "query 'from'");
        if (rc == 0 && v[2] && gpxd_parse_time(v[2], &to, &e) < 0)
            rc = gpx_error_wrap(&e, "query 'to'");
        if (rc == 0)
            rc = gpxd_usage(d, c, v[0], from, to, &out, &e);
        break;
    }
    case R_TENANTS:
        if (!c->admin) {
            fail(rs, GPX_E_PERM, "managing tenants needs the admin role (you are '%s')", c->tenant);
            return;
        }
        if (!strcmp(m, "GET")) {
            rc = gpxd_tenant_list(d, &out, &e);
        } else {
            struct gpxd_tenant_req req;
            rc = gpxd_tenant_req_parse(rq->body, rq->body_len, &req, &e);
            if (rc == 0)
                rc = gpxd_tenant_add(d, &req, &out, &e);
            status = 201;
        }
        break;
    case R_TENANT:
        if (!strcmp(m, "GET")) {
            rc = gpxd_tenant_get(d, c, param, &out, &e);
            break;
        }
        /* fallthrough */
    case R_TENANT_TOKEN:
        if (!c->admin) {
            fail(rs, GPX_E_PERM, "managing tenants needs the admin role (you are '%s')", c->tenant);
            return;
        }
        rc = r == R_TENANT ? gpxd_tenant_remove(d, param, &out, &e)
                           : gpxd_tenant_new_token(d, param, &out, &e);
        break;
    case R_GPU_MIG:
        if (!strcmp(m, "GET")) {
            rc = gpxd_mig_get(d, c, param, &out, &e);
            break;
        }
        if (!c->admin) {
            fail(rs, GPX_E_PERM, "changing MIG partitions needs the admin role (you are '%s')",
                 c->tenant);
            return;
        }
        {
            struct gpxd_mig_req req;
            rc = gpxd_mig_req_parse(rq->body, rq->body_len, &req, &e);
            if (rc == 0)
                rc = gpxd_mig_post(d, param, &req, &out, &e);
        }
        break;
    default:
        gpx_error_set(&e, GPX_E_INTERNAL, "unrouted path");
        rc = -1;
    }
    if (rc < 0) {
        json_decref(out);
        set_error(rs, &e);
        return;
    }
    set_json(rs, status, out);
}

void gpxd_api_handle(struct gpxd *d, const struct gpxd_http_req *rq, struct gpxd_http_resp *rs)
{
    memset(rs, 0, sizeof *rs);
    char param[64] = "";
    enum route r = route_of(rq->path, param, sizeof param);
    if (r == R_NONE) {
        fail(rs, GPX_E_NOT_FOUND, "no such endpoint: %.200s", rq->path);
        goto done;
    }
    if (rq->body_too_large) {
        gpx_error e = {0};
        gpx_error_set(&e, GPX_E_TOO_LARGE, "request body is larger than %zu bytes",
                      d->cfg.max_body);
        set_error(rs, &e);
        goto done;
    }
    if (r == R_HEALTHZ) {
        if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0)
            goto method;
        struct gpxd_caller hc;
        gpx_error he = {0};
        int admin = gpxd_authenticate(d, rq->authorization, rq->via_unix, rq->have_cred, rq->uid,
                                      rq->pid, &hc, &he) == 0 &&
                    hc.admin;
        healthz(d, admin, rs);
        goto done;
    }
    struct gpxd_caller c;
    gpx_error e = {0};
    int authed = gpxd_authenticate(d, rq->authorization, rq->via_unix, rq->have_cred, rq->uid,
                                   rq->pid, &c, &e) == 0;
    if (r == R_METRICS) {
        if (strcmp(rq->method, "GET") != 0)
            goto method;
        if (!d->cfg.metrics_public) {
            if (!authed) {
                set_error(rs, &e);
                goto done;
            }
            if (!c.admin) {
                fail(rs, GPX_E_PERM, "/metrics needs the admin role (you are '%s')", c.tenant);
                goto done;
            }
        }
        if (gpxd_metrics(d, &rs->body, &rs->len, &e) < 0) {
            set_error(rs, &e);
            goto done;
        }
        rs->status = 200;
        rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
        goto done;
    }
    if (!authed) {
        set_error(rs, &e);
        goto done;
    }
    {
        /* method allowed? */
        const char *al = allow[r];
        size_t ml = strlen(rq->method);
        const char *p = al;
        int ok = 0;
        while ((p = strstr(p, rq->method)) != NULL) {
            if ((p == al || p[-1] == ' ') && (p[ml] == '\0' || p[ml] == ','))
                ok = 1;
            p += ml;
        }
        if (!ok || ml == 0)
            goto method;
    }
    dispatch(d, rq, &c, r, param, rs);
    goto done;
method:
    fail(rs, GPX_E_METHOD, "method %s is not allowed here", rq->method);
    rs->allow = allow[r];
done:
    if (rs->status >= 100 && rs->status < 600)
        atomic_fetch_add(&d->http_by_class[rs->status / 100], 1);
    if (rs->status >= 500)
        gpx_warn("%s %s: %d %.*s", rq->method, rq->path, rs->status, (int)rs->len, rs->body);
    else
        gpx_debug("%s %s: %d", rq->method, rq->path, rs->status);
}
