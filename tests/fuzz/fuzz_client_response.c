/*
 * libFuzzer target: what the CLI makes of gpuplexd's answers, on any bytes a
 * server may send (a local user may bind the socket or port while gpuplexd
 * is down). libcurl frames the answer; from the status and the body on, this
 * runs the client's own code, in the client's order: gpx__client_answer()
 * (the body, or the error body as a gpx_error), gpx__client_json(), then the
 * views decoder of one endpoint (engine/views.c), then the views encoder the
 * CLI prints the result with.
 *
 * Input: byte 0 picks the endpoint, byte 1 the HTTP status (from a table),
 * the rest is the body. Every path must end in a decoded result or a
 * gpx_error with a code and a message, with no crash, leak or undefined
 * behaviour; an error's message holds no control characters.
 */
#include "client/http.h"
#include "engine/views.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum endpoint {
    EP_LEASE,   /* POST /v1/leases, GET and DELETE /v1/leases/ID */
    EP_LEASES,  /* GET /v1/leases */
    EP_GPUS,    /* GET /v1/gpus */
    EP_USAGE,   /* GET /v1/usage */
    EP_TENANT,  /* POST /v1/tenants, POST /v1/tenants/NAME/token: with a token */
    EP_TENANT0, /* GET and DELETE /v1/tenants/NAME */
    EP_TENANTS, /* GET /v1/tenants */
    EP_CALLER,  /* GET /v1/whoami */
    EP_HEALTH,  /* GET /healthz */
    EP_MIG,     /* GET and POST /v1/gpus/ID/mig: JSON, printed by cmd_mig.c */
    EP_ERROR,   /* an error body read by gpx_view_error_read */
    EP__COUNT
};

static const long statuses[] = {200, 201, 204, 299, 400, 401, 403, 404,
                                405, 409, 413, 500, 503, 302, 100, 199};

/* A failure must say what failed, printably. */
static void check_error(int rc, const gpx_error *err)
{
    if (rc != -1 || err->code == GPX_E_OK || !err->msg[0] ||
        strnlen(err->msg, sizeof err->msg) == sizeof err->msg)
        abort();
}

static void check_printable(const gpx_error *err)
{
    for (const char *p = err->msg; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            abort();
}

/* The encoder's JSON of a decoded answer, dumped as the CLI prints it. */
static void print(json_t *v)
{
    if (!v)
        abort(); /* a decoded struct always encodes */
    char *s = json_dumps(v, JSON_COMPACT);
    free(s);
    json_decref(v);
}

static void lease_ok(const struct gpx_lease *x)
{
    if (strnlen(x->rec.id, sizeof x->rec.id) == sizeof x->rec.id ||
        strnlen(x->rec.labels, sizeof x->rec.labels) == sizeof x->rec.labels ||
        x->rec.n_owners > GPX_MAX_OWNERS || x->nprocs > GPX_LEASE_MAX_PROCS ||
        x->nturns > GPX_LEASE_TURN_RING)
        abort();
}

static void decode(enum endpoint ep, json_t *j)
{
    gpx_error err = {0};
    int rc;
    switch (ep) {
    case EP_LEASE: {
        struct gpx_lease x;
        if ((rc = gpx_view_lease_read(j, &x, &err)) == 0) {
            lease_ok(&x);
            print(gpx_view_lease(&x, GPX_VIEW_TURNS));
        }
        break;
    }
    case EP_LEASES: {
        struct gpx_lease *l = NULL;
        unsigned n = 0;
        if ((rc = gpx_view_leases_read(j, &l, &n, &err)) == 0) {
            for (unsigned i = 0; i < n; i++)
                lease_ok(&l[i]);
            print(gpx_view_leases(l, n, 0));
            free(l);
        }
        break;
    }
    case EP_GPUS: {
        struct gpx_node node;
        if ((rc = gpx_view_gpus_read(j, &node, &err)) == 0) {
            if (node.count != json_array_size(j))
                abort();
            print(gpx_view_gpus(&node));
        }
        gpx_node_free(&node);
        break;
    }
    case EP_USAGE: {
        struct gpx_usage u;
        if ((rc = gpx_view_usage_read(j, &u, &err)) == 0)
            print(gpx_view_usage(&u));
        gpx_usage_free(&u);
        break;
    }
    case EP_TENANT:
    case EP_TENANT0: {
        struct gpx_tenant t;
        char token[72];
        if ((rc = gpx_view_tenant_read(j, &t, ep == EP_TENANT ? token : NULL,
                                       ep == EP_TENANT ? sizeof token : 0, &err)) == 0) {
            if (ep == EP_TENANT && strnlen(token, sizeof token) == sizeof token)
                abort();
            print(gpx_view_tenant(&t, ep == EP_TENANT ? token : NULL));
        }
        break;
    }
    case EP_TENANTS: {
        struct gpx_tenant *t = NULL;
        unsigned n = 0;
        if ((rc = gpx_view_tenants_read(j, &t, &n, &err)) == 0) {
            print(gpx_view_tenants(t, n));
            free(t);
        }
        break;
    }
    case EP_CALLER: {
        struct gpx_caller c;
        if ((rc = gpx_view_caller_read(j, &c, &err)) == 0)
            print(gpx_view_caller(&c));
        break;
    }
    case EP_HEALTH: {
        struct gpx_health h;
        if ((rc = gpx_view_health_read(j, &h, &err)) == 0)
            print(gpx_view_health(&h));
        break;
    }
    case EP_ERROR: {
        gpx_error e = {0};
        if (gpx_view_error_read(j, &e) == 0 &&
            ((unsigned)e.code >= GPX_E__COUNT || strnlen(e.msg, sizeof e.msg) == sizeof e.msg))
            abort();
        return;
    }
    default: /* EP_MIG: the JSON itself is the result */
        return;
    }
    if (rc < 0)
        check_error(rc, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    enum endpoint ep = (enum endpoint)(data[0] % EP__COUNT);
    long status = statuses[data[1] % (sizeof statuses / sizeof *statuses)];
    size_t len = size - 2;
    /* as libcurl's write callback leaves it: NULL when empty, else NUL-terminated */
    char *body = NULL;
    if (len) {
        if (!(body = malloc(len + 1)))
            return 0;
        memcpy(body, data + 2, len);
        body[len] = '\0';
    }
    gpx_error err = {0};
    char *resp = NULL;
    int rc = gpx__client_answer(status, body, len, &resp, &err);
    if (rc < 0) {
        check_error(rc, &err);
        check_printable(&err);
        if (resp)
            abort();
        return 0;
    }
    if (status < 200 || status >= 300 || !resp)
        abort();
    json_t *j = NULL;
    rc = gpx__client_json("unix:/fuzz.sock", resp, &j, &err);
    if (rc < 0) {
        check_error(rc, &err);
        if (err.code != GPX_E_IO)
            abort();
        return 0;
    }
    decode(ep, j);
    json_decref(j);
    return 0;
}
