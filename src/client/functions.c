/*
 * The client's GPU function calls (include/gpuplex/client.h, docs/functions.md):
 * /v1/functions through the connection's one request function, and the call
 * itself raw (its answer is the worker's, not gpuplexd's JSON). Functions
 * run in gpuplexd only (the in-process connection answers INVALID).
 */
#include "client/conn.h"
#include "client/http.h"
#include "gpuplex/client.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* "/v1/functions/NAME[SUFFIX]" for a valid name, or INVALID. */
static int fn_path(const char *name, const char *suffix, char *path, size_t len, gpx_error *err)
{
    size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
    if (n == 0 || n >= 64 || name[n] != '\0')
        return gpx_error_set(err, GPX_E_INVALID,
                             "invalid function name '%.64s' (1..63 of A-Z a-z 0-9 . _ -)", name);
    snprintf(path, len, "/v1/functions/%s%s", name, suffix ? suffix : "");
    return 0;
}

int gpx_function_create(gpx_conn *c, json_t *spec, json_t **out, gpx_error *err)
{
    int rc = gpx_conn_request(c, "POST", "/v1/functions", spec, out, err);
    json_decref(spec);
    return rc;
}

int gpx_function_update(gpx_conn *c, const char *name, json_t *spec, json_t **out, gpx_error *err)
{
    char path[128];
    int rc = fn_path(name, NULL, path, sizeof path, err);
    if (rc == 0)
        rc = gpx_conn_request(c, "PUT", path, spec, out, err);
    json_decref(spec);
    return rc;
}

int gpx_function_list(gpx_conn *c, json_t **out, gpx_error *err)
{
    return gpx_conn_request(c, "GET", "/v1/functions", NULL, out, err);
}

int gpx_function_get(gpx_conn *c, const char *name, json_t **out, gpx_error *err)
{
    char path[128];
    if (fn_path(name, NULL, path, sizeof path, err) < 0)
        return -1;
    return gpx_conn_request(c, "GET", path, NULL, out, err);
}

int gpx_function_remove(gpx_conn *c, const char *name, json_t **out, gpx_error *err)
{
    char path[128];
    if (fn_path(name, NULL, path, sizeof path, err) < 0)
        return -1;
    return gpx_conn_request(c, "DELETE", path, NULL, out, err);
}

int gpx_function_logs(gpx_conn *c, const char *name, const char *worker, unsigned tail,
                      json_t **out, gpx_error *err)
{
    char path[256], q[160] = "";
    size_t n = 0;
    if (worker) {
        size_t w =
            strspn(worker, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
        if (w == 0 || w >= 80 || worker[w] != '\0')
            return gpx_error_set(err, GPX_E_INVALID, "invalid worker id '%.80s' (NAME-N)", worker);
        n += (size_t)snprintf(q + n, sizeof q - n, "?worker=%s", worker);
    }
    if (tail)
        snprintf(q + n, sizeof q - n, "%ctail=%u", n ? '&' : '?', tail);
    if (fn_path(name, "/logs", path, sizeof path - strlen(q), err) < 0)
        return -1;
    strcat(path, q);
    return gpx_conn_request(c, "GET", path, NULL, out, err);
}

int gpx_function_invoke(gpx_conn *c, const char *name, const void *body, size_t len,
                        const char *content_type, struct gpx_fn_answer *out, gpx_error *err)
{
    memset(out, 0, sizeof *out);
    char path[128];
    if (fn_path(name, "/invoke", path, sizeof path, err) < 0)
        return -1;
    if (!c->daemon || !c->http)
        return gpx_error_set(err, GPX_E_INVALID,
                             "functions are served by gpuplexd only, and this command uses the "
                             "%s (%s)",
                             c->where, c->why);
    return gpx_client_raw_request(c->http, "POST", path, content_type, body, len, out, err);
}

int gpx_function_usage(gpx_conn *c, const char *tenant, const char *from, const char *to,
                       json_t **out, gpx_error *err)
{
    *out = NULL;
    if (!c->daemon || !c->http)
        return 0; /* no daemon, no function calls to count */
    char path[1024] = "/v1/usage";
    gpx__client_query(path, sizeof path, "tenant", tenant);
    gpx__client_query(path, sizeof path, "from", from);
    gpx__client_query(path, sizeof path, "to", to);
    json_t *j = NULL;
    if (gpx_conn_request(c, "GET", path, NULL, &j, err) < 0)
        return -1;
    json_t *f = json_object_get(j, "functions");
    *out = json_is_array(f) ? json_incref(f) : json_array(); /* an older gpuplexd: none */
    json_decref(j);
    return 0;
}
