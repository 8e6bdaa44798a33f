/*
 * The typed client over HTTP: each call is one request to gpuplexd
 * (src/client/client.c, libcurl) and its answer read back into the engine's
 * structs by the views (engine/views.c), the same code that wrote it. Error
 * answers come back as the daemon's gpx_error, so exit statuses match the
 * in-process path.
 */
#define _GNU_SOURCE
#include "client/conn.h"
#include "client/http.h"
#include "engine/views.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void http_close(gpx_conn *c)
{
    gpx_client_free(c->http);
    c->http = NULL;
}

int gpx__conn_http_call(gpx_conn *c, const char *method, const char *path, json_t *body,
                        json_t **out, gpx_error *err)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body && !text)
        return gpx_error_set(err, GPX_E_NOMEM, "request");
    int status;
    char *resp = NULL;
    int rc = gpx_client_request(c->http, method, path, text, &status, &resp, err);
    free(text);
    if (rc < 0)
        return -1;
    return gpx__client_json(gpx_client_server(c->http), resp, out, err);
}

void gpx__client_query(char *buf, size_t len, const char *name, const char *value)
{
    size_t n = strlen(buf);
    if (!value || n + 1 >= len)
        return;
    n += (size_t)snprintf(buf + n, len - n, "%c%s=", strchr(buf, '?') ? '&' : '?', name);
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)value; *p && n + 4 < len; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p)) {
            buf[n++] = (char)*p;
        } else {
            buf[n++] = '%';
            buf[n++] = hex[*p >> 4];
            buf[n++] = hex[*p & 15];
        }
    }
    buf[n < len ? n : len - 1] = '\0';
}

/* A path segment the API accepts ([A-Za-z0-9._-]); else INVALID naming `what`. */
static int segment(char *out, size_t len, const char *pre, const char *s, const char *post,
                   const char *what, gpx_error *err)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 ||
        strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789._-") != n)
        return gpx_error_set(err, GPX_E_INVALID, "invalid %s '%.64s'", what, s);
    snprintf(out, len, "%s%s%s", pre, s, post);
    return 0;
}

static json_t *spec_body(const struct gpx_lease_spec *s)
{
    json_t *b = json_object();
    json_object_set_new(b, "mode", json_string(gpx_lease_mode_name((enum gpx_lease_mode)s->mode)));
    if (s->gpu_uuid[0])
        json_object_set_new(b, "gpu", json_string(s->gpu_uuid));
    else if (s->gpu_index >= 0)
        json_object_set_new(b, "gpu", json_integer(s->gpu_index));
    if (s->memory)
        json_object_set_new(b, "memory", json_integer((json_int_t)s->memory));
    if (s->weight && (s->mode == GPX_MODE_VGPU || s->mode == GPX_MODE_TIMESLICE))
        json_object_set_new(b, "weight", json_integer(s->weight));
    if (s->cap)
        json_object_set_new(b, "cap", json_integer(s->cap));
    if (s->mig_profile[0])
        json_object_set_new(b, "mig_profile", json_string(s->mig_profile));
    if (s->labels) {
        json_t *l = json_loads(s->labels, 0, NULL);
        if (l && json_object_size(l))
            json_object_set_new(b, "labels", l);
        else
            json_decref(l);
    }
    if (s->for_container)
        json_object_set_new(b, "for_container", json_true());
    if (s->n_owners) {
        json_t *o = json_array();
        for (unsigned i = 0; i < s->n_owners; i++)
            json_array_append_new(o, json_integer(s->owners[i]));
        json_object_set_new(b, "owner_pids", o);
    }
    return b;
}

static int lease_create(gpx_conn *c, const struct gpx_lease_spec *s, struct gpx_lease *out,
                        gpx_error *err)
{
    json_t *body = spec_body(s), *j = NULL;
    int rc = gpx__conn_http_call(c, "POST", "/v1/leases", body, &j, err);
    json_decref(body);
    if (rc == 0)
        rc = gpx_view_lease_read(j, out, err);
    json_decref(j);
    return rc;
}

static int lease_get(gpx_conn *c, const char *id, int turns, struct gpx_lease *out, gpx_error *err)
{
    char path[160];
    json_t *j = NULL;
    if (segment(path, sizeof path, "/v1/leases/", id, "", "lease id", err) < 0)
        return -1;
    if (turns)
        gpx__client_query(path, sizeof path, "turns", "1");
    int rc = gpx__conn_http_call(c, "GET", path, NULL, &j, err);
    if (rc == 0)
        rc = gpx_view_lease_read(j, out, err);
    json_decref(j);
    return rc;
}

static int lease_list(gpx_conn *c, const struct gpx_lease_query *q, struct gpx_lease **out,
                      unsigned *n, gpx_error *err)
{
    char path[512] = "/v1/leases";
    if (q && q->state >= 0)
        gpx__client_query(path, sizeof path, "state",
                          q->state == GPX_LS_ALL ? "all" : gpx_lease_state_name(q->state));
    if (q)
        gpx__client_query(path, sizeof path, "tenant", q->tenant);
    if (q && q->turns)
        gpx__client_query(path, sizeof path, "turns", "1");
    json_t *j = NULL;
    int rc = gpx__conn_http_call(c, "GET", path, NULL, &j, err);
    if (rc == 0)
        rc = gpx_view_leases_read(j, out, n, err);
    json_decref(j);
    return rc;
}

static int lease_release(gpx_conn *c, const char *id, struct gpx_lease *out, gpx_error *err)
{
    char path[160];
    json_t *j = NULL;
    if (segment(path, sizeof path, "/v1/leases/", id, "", "lease id", err) < 0)
        return -1;
    int rc = gpx__conn_http_call(c, "DELETE", path, NULL, &j, err);
    if (rc == 0 && out)
        rc = gpx_view_lease_read(j, out, err);
    json_decref(j);
    return rc;
}

static int health(gpx_conn *c, struct gpx_health *out, gpx_error *err)
{
    json_t *j = NULL;
    int rc = gpx__conn_http_call(c, "GET", "/healthz", NULL, &j, err);
    if (rc == 0)
        rc = gpx_view_health_read(j, out, err);
    json_decref(j);
    return rc;
}

static int gpus(gpx_conn *c, struct gpx_node *out, gpx_error *err)
{
    json_t *j = NULL;
    int rc = gpx__conn_http_call(c, "GET", "/v1/gpus", NULL, &j, err);
    if (rc == 0)
        rc = gpx_view_gpus_read(j, out, err);
    json_decref(j);
    struct gpx_health h;
    if (rc == 0 && health(c, &h, err) == 0) {
        snprintf(out->driver_version, sizeof out->driver_version, "%s", h.driver_version);
        out->cuda_version = h.cuda_version;
    }
    return rc;
}

static int usage(gpx_conn *c, const char *tenant, const char *label, const char *from,
                 const char *to, struct gpx_usage *out, gpx_error *err)
{
    char path[1024] = "/v1/usage";
    gpx__client_query(path, sizeof path, "tenant", tenant);
    gpx__client_query(path, sizeof path, "label", label);
    gpx__client_query(path, sizeof path, "from", from);
    gpx__client_query(path, sizeof path, "to", to);
    json_t *j = NULL;
    int rc = gpx__conn_http_call(c, "GET", path, NULL, &j, err);
    if (rc == 0)
        rc = gpx_view_usage_read(j, out, err);
    json_decref(j);
    return rc;
}

static int whoami(gpx_conn *c, struct gpx_caller *out, gpx_error *err)
{
    json_t *j = NULL;
    int rc = gpx__conn_http_call(c, "GET", "/v1/whoami", NULL, &j, err);
    if (rc == 0)
        rc = gpx_view_caller_read(j, out, err);
    json_decref(j);
    return rc;
}

static json_t *tenant_body(const struct gpx_tenant_req *r)
{
    json_t *b = json_object();
    json_object_set_new(b, "name", json_string(r->name));
    json_object_set_new(b, "role", json_string(r->admin ? "admin" : "tenant"));
    if (r->has_uid)
        json_object_set_new(b, "uid", json_integer(r->uid));
    if (r->max_gpus)
        json_object_set_new(b, "max_gpus", json_integer(r->max_gpus));
    if (r->max_memory)
        json_object_set_new(b, "max_memory", json_integer((json_int_t)r->max_memory));
    if (r->max_leases)
        json_object_set_new(b, "max_leases", json_integer(r->max_leases));
    return b;
}

static int tenant_one(gpx_conn *c, const char *method, const char *post, const char *name,
                      struct gpx_tenant *out, char *token, gpx_error *err)
{
    char path[160];
    json_t *j = NULL;
    if (segment(path, sizeof path, "/v1/tenants/", name, post, "tenant name", err) < 0)
        return -1;
    int rc = gpx__conn_http_call(c, method, path, NULL, &j, err);
    if (rc == 0)
        rc = gpx_view_tenant_read(j, out, token, token ? 72 : 0, err);
    json_decref(j);
    return rc;
}

static int tenant_add(gpx_conn *c, const struct gpx_tenant_req *r, struct gpx_tenant *out,
                      char token[72], gpx_error *err)
{
    json_t *body = tenant_body(r), *j = NULL;
    int rc = gpx__conn_http_call(c, "POST", "/v1/tenants", body, &j, err);
    json_decref(body);
    if (rc == 0)
        rc = gpx_view_tenant_read(j, out, token, 72, err);
    json_decref(j);
    return rc;
}

static int tenant_remove(gpx_conn *c, const char *name, struct gpx_tenant *out, gpx_error *err)
{
    return tenant_one(c, "DELETE", "", name, out, NULL, err);
}

static int tenant_token(gpx_conn *c, const char *name, struct gpx_tenant *out, char token[72],
                        gpx_error *err)
{
    return tenant_one(c, "POST", "/token", name, out, token, err);
}

static int tenant_get(gpx_conn *c, const char *name, struct gpx_tenant *out, gpx_error *err)
{
    return tenant_one(c, "GET", "", name, out, NULL, err);
}

static int tenant_list(gpx_conn *c, struct gpx_tenant **out, unsigned *n, gpx_error *err)
{
    json_t *j = NULL;
    int rc = gpx__conn_http_call(c, "GET", "/v1/tenants", NULL, &j, err);
    if (rc == 0)
        rc = gpx_view_tenants_read(j, out, n, err);
    json_decref(j);
    return rc;
}

static int mig_get(gpx_conn *c, const char *gpu, json_t **out, gpx_error *err)
{
    char path[160];
    if (segment(path, sizeof path, "/v1/gpus/", gpu, "/mig", "GPU", err) < 0)
        return -1;
    return gpx__conn_http_call(c, "GET", path, NULL, out, err);
}

static int mig_apply(gpx_conn *c, const char *gpu, const struct gpx_mig_req *r, json_t **out,
                     gpx_error *err)
{
    char path[160];
    if (segment(path, sizeof path, "/v1/gpus/", gpu, "/mig", "GPU", err) < 0)
        return -1;
    json_t *b = json_object();
    if (r->enabled >= 0)
        json_object_set_new(b, "enabled", json_boolean(r->enabled));
    if (r->has_counts) {
        json_t *m = json_object();
        for (unsigned i = 0; i < r->n; i++)
            json_object_set_new(m, r->counts[i].profile, json_integer(r->counts[i].count));
        json_object_set_new(b, r->exact ? "layout" : "demand", m);
    }
    if (r->partial)
        json_object_set_new(b, "partial", json_true());
    if (r->dry_run)
        json_object_set_new(b, "dry_run", json_true());
    int rc = gpx__conn_http_call(c, "POST", path, b, out, err);
    json_decref(b);
    return rc;
}

const struct gpx_conn_ops gpx__conn_http = {
    .name = "http",
    .lease_create = lease_create,
    .lease_get = lease_get,
    .lease_list = lease_list,
    .lease_release = lease_release,
    .gpus = gpus,
    .usage = usage,
    .whoami = whoami,
    .health = health,
    .tenant_add = tenant_add,
    .tenant_remove = tenant_remove,
    .tenant_token = tenant_token,
    .tenant_list = tenant_list,
    .tenant_get = tenant_get,
    .mig_get = mig_get,
    .mig_apply = mig_apply,
    .close = http_close,
};

int gpx__conn_http_open(gpx_conn *c, const char *server, const char *token, gpx_error *err)
{
    if (gpx_client_new(server, token, &c->http, err) < 0)
        return -1;
    c->ops = &gpx__conn_http;
    c->daemon = 1;
    snprintf(c->where, sizeof c->where, "gpuplexd at %s", gpx_client_server(c->http));
    return 0;
}
