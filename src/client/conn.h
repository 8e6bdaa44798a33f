/*
 * Inside the typed client: a connection is a table of operations (the two
 * implementations: conn_http.c, conn_local.c) and what it needs to run them.
 * conn.c picks the implementation by the rule in include/gpuplex/client.h.
 */
#ifndef GPX_CLIENT_CONN_H
#define GPX_CLIENT_CONN_H

#include "gpuplex/client.h"

#include <jansson.h>
#include <limits.h>

struct gpx_client;

struct gpx_conn_ops {
    const char *name;
    int (*lease_create)(gpx_conn *c, const struct gpx_lease_spec *s, struct gpx_lease *out,
                        gpx_error *err);
    int (*lease_get)(gpx_conn *c, const char *id, int turns, struct gpx_lease *out, gpx_error *err);
    int (*lease_list)(gpx_conn *c, const struct gpx_lease_query *q, struct gpx_lease **out,
                      unsigned *n, gpx_error *err);
    int (*lease_release)(gpx_conn *c, const char *id, struct gpx_lease *out, gpx_error *err);
    int (*gpus)(gpx_conn *c, struct gpx_node *out, gpx_error *err);
    int (*usage)(gpx_conn *c, const char *tenant, const char *label, const char *from,
                 const char *to, struct gpx_usage *out, gpx_error *err);
    int (*whoami)(gpx_conn *c, struct gpx_caller *out, gpx_error *err);
    int (*health)(gpx_conn *c, struct gpx_health *out, gpx_error *err);
    int (*tenant_add)(gpx_conn *c, const struct gpx_tenant_req *r, struct gpx_tenant *out,
                      char token[72], gpx_error *err);
    int (*tenant_remove)(gpx_conn *c, const char *name, struct gpx_tenant *out, gpx_error *err);
    int (*tenant_token)(gpx_conn *c, const char *name, struct gpx_tenant *out, char token[72],
                        gpx_error *err);
    int (*tenant_list)(gpx_conn *c, struct gpx_tenant **out, unsigned *n, gpx_error *err);
    int (*tenant_get)(gpx_conn *c, const char *name, struct gpx_tenant *out, gpx_error *err);
    int (*mig_get)(gpx_conn *c, const char *gpu, json_t **out, gpx_error *err);
    int (*mig_apply)(gpx_conn *c, const char *gpu, const struct gpx_mig_req *r, json_t **out,
                     gpx_error *err);
    void (*close)(gpx_conn *c);
};

struct gpx_conn {
    const struct gpx_conn_ops *ops;
    int daemon;
    char where[PATH_MAX + 64];
    char why[PATH_MAX + 128];
    char state_dir[PATH_MAX];
    struct gpx_client *http;  /* conn_http.c */
    struct gpx_engine *eng;   /* conn_local.c */
    struct gpx_caller caller; /* conn_local.c */
};

extern const struct gpx_conn_ops gpx__conn_http, gpx__conn_local;
int gpx__conn_http_open(gpx_conn *c, const char *server, const char *token, gpx_error *err);
/* One request over c->http (a daemon connection); *out (may be NULL) gets the parsed answer. */
int gpx__conn_http_call(gpx_conn *c, const char *method, const char *path, json_t *body,
                        json_t **out, gpx_error *err);
int gpx__conn_local_open(gpx_conn *c, const struct gpx_conn_opts *o, gpx_error *err);

#endif
