/*
 * libgpuplex client: the one interface every front end (the gpuplex CLI, the
 * SPANK plugin, monitors) uses to ask for leases. Typed calls, two
 * implementations behind them:
 *   - HTTP to gpuplexd (src/client/conn_http.c), when a daemon owns the node;
 *   - the lease engine in-process on the state directory (conn_local.c), when
 *     none does (daemonless, as podman's CLI opens libpod).
 * Both return the same structs, and the CLI prints them with the same views,
 * so a command's output and exit status do not depend on the path.
 *
 * Which path (gpx_conn_open), one rule for every command (docs/cli.md):
 *   1. --server S or GPUPLEX_SERVER=S (not "none"): gpuplexd at S, even if it
 *      does not answer (then exit 9: never a silent fallback);
 *   2. a gpuplexd owns the state directory ($GPUPLEX_STATE_DIR, else the
 *      config's state_dir, else /var/lib/gpuplex): that daemon, at the socket
 *      it recorded; GPUPLEX_SERVER=none is then an error (exit 6);
 *   3. no GPUPLEX_STATE_DIR and the default socket answers: that daemon;
 *   4. otherwise the engine in-process on the state directory.
 *
 * Ownership: gpx_conn_open() returns a handle freed by gpx_conn_close()
 * (NULL accepted). Lists are malloc'd (free()); gpx_node / gpx_usage are
 * freed with gpx_node_free / gpx_usage_free; JSON documents (MIG) with
 * json_decref. A handle is not thread-safe.
 */
#ifndef GPUPLEX_CLIENT_H
#define GPUPLEX_CLIENT_H

#include "engine/engine.h"
#include "gpuplex/error.h"

#include <stddef.h>
#include <stdint.h>

#define GPX_CLIENT_DEFAULT_SOCKET "/run/gpuplex/gpuplexd.sock"

typedef struct gpx_conn gpx_conn;
struct json_t;

struct gpx_conn_opts {
    const char *server;     /* NULL: $GPUPLEX_SERVER */
    const char *token;      /* NULL: $GPUPLEX_TOKEN */
    const char *state_dir;  /* NULL: $GPUPLEX_STATE_DIR, the config's, or the default */
    const char *interposer; /* for the in-process engine: LD_PRELOAD of shared leases */
};

int gpx_conn_open(const struct gpx_conn_opts *o, gpx_conn **out, gpx_error *err);
void gpx_conn_close(gpx_conn *c);
/* 1 when the calls go to gpuplexd, 0 when to the engine in-process. */
int gpx_conn_is_daemon(const gpx_conn *c);
/* "gpuplexd at /run/gpuplex/gpuplexd.sock" / "local engine on /var/lib/gpuplex" */
const char *gpx_conn_where(const gpx_conn *c);
/* Why this path was taken (the rule above, in words). */
const char *gpx_conn_why(const gpx_conn *c);
/* The state directory the rule looked at. */
const char *gpx_conn_state_dir(const gpx_conn *c);

int gpx_lease_create(gpx_conn *c, const struct gpx_lease_spec *s, struct gpx_lease *out,
                     gpx_error *err);
int gpx_lease_get(gpx_conn *c, const char *id, int turns, struct gpx_lease *out, gpx_error *err);
int gpx_lease_list(gpx_conn *c, const struct gpx_lease_query *q, struct gpx_lease **out,
                   unsigned *n, gpx_error *err);
/* out may be NULL */
int gpx_lease_release(gpx_conn *c, const char *id, struct gpx_lease *out, gpx_error *err);
int gpx_gpus_list(gpx_conn *c, struct gpx_node *out, gpx_error *err);
/* from/to: RFC 3339 or Unix seconds, NULL = open */
int gpx_usage(gpx_conn *c, const char *tenant, const char *from, const char *to,
              struct gpx_usage *out, gpx_error *err);
/* The same over the leases labelled "KEY=VALUE" only (e.g. "slurm_job=42"); NULL: all. */
int gpx_usage_labeled(gpx_conn *c, const char *tenant, const char *label, const char *from,
                      const char *to, struct gpx_usage *out, gpx_error *err);
int gpx_whoami(gpx_conn *c, struct gpx_caller *out, gpx_error *err);
int gpx_health(gpx_conn *c, struct gpx_health *out, gpx_error *err);

int gpx_tenant_add(gpx_conn *c, const struct gpx_tenant_req *r, struct gpx_tenant *out,
                   char token[72], gpx_error *err);
int gpx_tenant_remove(gpx_conn *c, const char *name, struct gpx_tenant *out, gpx_error *err);
int gpx_tenant_token(gpx_conn *c, const char *name, struct gpx_tenant *out, char token[72],
                     gpx_error *err);
int gpx_tenant_list(gpx_conn *c, struct gpx_tenant **out, unsigned *n, gpx_error *err);
int gpx_tenant_get(gpx_conn *c, const char *name, struct gpx_tenant *out, gpx_error *err);

/* MIG state and changes of one GPU (index or UUID), as the views' JSON documents. */
int gpx_mig_get(gpx_conn *c, const char *gpu, struct json_t **out, gpx_error *err);
int gpx_mig_set(gpx_conn *c, const char *gpu, const struct gpx_mig_req *r, struct json_t **out,
                gpx_error *err);

/*
 * One request to gpuplexd (body may be NULL; *out gets the answer's JSON), for
 * what only the daemon serves (managed containers, /v1/containers). A
 * connection to the in-process engine answers INVALID, naming the path.
 */
int gpx_conn_request(gpx_conn *c, const char *method, const char *path, struct json_t *body,
                     struct json_t **out, gpx_error *err);

/*
 * gpuplexd's VMs (/v1/vms, docs/vms.md), as the API's JSON: create takes the
 * request object ({gpu | vgpu_type | mig_profile, vcpus, memory, kernel +
 * initrd | image, ssh_authorized_key, ...}; the call takes it over) and
 * answers the VM with its ssh endpoint; list answers an array; remove stops
 * the domain, gives the GPU back and ends the lease. Daemon only: the
 * in-process engine answers INVALID.
 */
int gpx_vm_create(gpx_conn *c, struct json_t *request, struct json_t **out, gpx_error *err);
int gpx_vm_list(gpx_conn *c, struct json_t **out, gpx_error *err);
int gpx_vm_get(gpx_conn *c, const char *id, struct json_t **out, gpx_error *err);
int gpx_vm_remove(gpx_conn *c, const char *id, struct json_t **out, gpx_error *err);

/*
 * GPU functions (/v1/functions, docs/functions.md), as the API's JSON. create
 * and update take the registration object over ({name, command | image,
 * lease, min_workers, max_workers, ...}); list answers {"functions": [...]};
 * logs answers {"function", "workers": [{"id", "state", "logs"}]} (worker
 * NULL: every worker; tail: lines, 0 = the daemon's default). Daemon only:
 * the in-process connection answers INVALID.
 */
int gpx_function_create(gpx_conn *c, struct json_t *spec, struct json_t **out, gpx_error *err);
int gpx_function_update(gpx_conn *c, const char *name, struct json_t *spec, struct json_t **out,
                        gpx_error *err);
int gpx_function_list(gpx_conn *c, struct json_t **out, gpx_error *err);
int gpx_function_get(gpx_conn *c, const char *name, struct json_t **out, gpx_error *err);
int gpx_function_remove(gpx_conn *c, const char *name, struct json_t **out, gpx_error *err);
int gpx_function_logs(gpx_conn *c, const char *name, const char *worker, unsigned tail,
                      struct json_t **out, gpx_error *err);
/*
 * The function calls metered over a window (GET /v1/usage's "functions"):
 * [{tenant, function, requests, errors, gpu_seconds, bill, latency_ms_avg,
 * queue_ms_avg}]. A daemonless connection has none: 0 with *out NULL.
 */
int gpx_function_usage(gpx_conn *c, const char *tenant, const char *from, const char *to,
                       struct json_t **out, gpx_error *err);
/* The answer of a call, raw: the worker's (or gpuplexd's error) status, type and bytes. */
struct gpx_fn_answer {
    long status;
    char content_type[128];  /* "" when none */
    char request_id[64];     /* X-Gpuplex-Request-Id; "" when none */
    double gpu_ms, queue_ms; /* X-Gpuplex-Gpu-Ms, X-Gpuplex-Queue-Ms; -1 when absent */
    long retry_after;        /* Retry-After (s) of a 429; 0 when absent */
    char *body;              /* malloc'd, NUL-terminated after len bytes (free()) */
    size_t len;
};
/*
 * Calls function `name` with body (len bytes, content_type NULL =
 * application/octet-stream): 0 with *out filled whatever the status (4xx and
 * 5xx too: the caller reads them); -1 only when no answer came (transport,
 * or a daemonless connection), err set.
 */
int gpx_function_invoke(gpx_conn *c, const char *name, const void *body, size_t len,
                        const char *content_type, struct gpx_fn_answer *out, gpx_error *err);

/* The state directory the rule uses when none is given (see above). */
const char *gpx_state_dir(void);

#endif
