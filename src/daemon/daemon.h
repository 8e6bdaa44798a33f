/*
 * gpuplexd: the lease engine (src/engine) served over HTTP. This host adds
 * what only a long-lived process has: the HTTP API (api.c routes a request
 * to the engine and writes its answer with the views), /metrics, and timers
 * for inventory, reconciliation, metering, checkpoints and the watchdog.
 *
 * gpxd_open() builds a daemon on a configuration without serving (tests call
 * the API through gpxd_api_handle() with no socket); gpxd_serve() starts the
 * listeners and timers; gpxd_close() stops and frees everything.
 */
#ifndef GPXD_DAEMON_H
#define GPXD_DAEMON_H

#include "daemon/config.h"
#include "daemon/request.h"
#include "engine/engine.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct gpxd_http;

/* A lease's GPU time and wait at the previous /metrics scrape (metrics.c). */
struct gpxd_lease_mark {
    char id[64];
    uint64_t gpu_ns, wait_ns;
    int64_t t_ns; /* CLOCK_REALTIME, as the lease's created_ns */
};

struct gpx_cdi_writer;
struct gpxd_containers;
struct gpxd_vms;
struct gpxd_functions;
struct gpxd_fn_call;

struct gpxd {
    struct gpxd_config cfg;
    struct gpx_engine *eng;
    /* keeps cfg.cdi_spec (src/cdi); NULL when off */
    struct gpx_cdi_writer *cdi;
    /* managed containers (containers.c) */
    struct gpxd_containers *mc;
    /* VMs through libvirt (vms.c) */
    struct gpxd_vms *vms;
    /* GPU functions (functions.c) */
    struct gpxd_functions *fn;
    char interposer[PATH_MAX]; /* "" if none was found */
    char web_root[PATH_MAX];   /* the dashboard's files (real path); "" if off or not found */
    char hostname[256];
    int64_t started_ns;

    _Atomic uint64_t http_by_class[6]; /* [1..5]: 1xx..5xx */

    /* per-lease figures over the scrape interval: the active leases at the last scrape */
    pthread_mutex_t metrics_lock;
    struct gpxd_lease_mark *marks;
    unsigned n_marks;

    struct gpxd_http *http;
    pthread_t bg;
    pthread_mutex_t bg_lock;
    pthread_cond_t bg_cond;
    int bg_started, stopping;
};

/* Opens the engine on cfg's state (after cfg->sim, if any, is set up). *out freed by gpxd_close. */
int gpxd_open(const struct gpxd_config *cfg, struct gpxd **out, gpx_error *err);
/* Starts the HTTP listeners and the background timers. */
int gpxd_serve(struct gpxd *d, gpx_error *err);
void gpxd_close(struct gpxd *d);

/* metrics.c: Prometheus text exposition; caller frees *out. */
int gpxd_metrics(struct gpxd *d, char **out, size_t *len, gpx_error *err);

/* api.c: routes a complete request. */
struct gpxd_http_req {
    const char *method;
    const char *path;
    const char *authorization;
    const char *content_type; /* NULL when not given */
    const char *body;
    size_t body_len;
    int body_too_large;
    int via_unix, have_cred;
    uint32_t uid;
    int32_t pid;
    /* query arguments, in order */
    unsigned n_args;
    const char *arg_name[16];
    const char *arg_value[16];
    int too_many_args;
};
struct gpxd_http_resp {
    int status;
    char *body; /* malloc'd JSON or text */
    size_t len;
    const char *content_type;
    const char *allow; /* Allow header for 405 */
    char allow_buf[128];
    int www_authenticate;
    const char *const *headers; /* more headers: name, value, ..., NULL (static) */
    /* a function call to run (POST /v1/functions/{name}/invoke): http.c runs it on the
     * connection's thread and answers with its answer; status and body are unset */
    struct gpxd_fn_call *call;
};
void gpxd_api_handle(struct gpxd *d, const struct gpxd_http_req *rq, struct gpxd_http_resp *rs);

/* Reads up to len bytes of fd, past EINTR and short reads: how many (fewer at the end of the
 * file or on an error, errno saying which). web.c; http.c reads the TLS files with it too. */
size_t gpxd_read_full(int fd, char *buf, size_t len);

/*
 * web.c: the dashboard's static files. gpxd_web_path: whether path is one of its paths
 * (`/`, `/index.html`, `/web`, `/web/...`); gpxd_web_serve answers it from root (a real
 * path; "" = not found) with its security headers; gpxd_web_root finds cfg's web_root
 * (or the one shipped beside gpuplexd) as a real path.
 */
int gpxd_web_path(const char *path);
void gpxd_web_serve(const char *root, const char *method, const char *path,
                    struct gpxd_http_resp *rs);
int gpxd_web_root(const struct gpxd_config *cfg, char *out, size_t len, gpx_error *err);
/* The Content-Type of a file name by its extension; NULL: not served. */
const char *gpxd_web_content_type(const char *name);

/*
 * containers.c: managed containers (POST/GET/DELETE /v1/containers). open loads
 * the records from the store (gpxd_open); start runs the supervisor that
 * polls podman (gpxd_serve); close stops it, leaving the containers running.
 * The handlers answer with the views' JSON in *out; a tenant sees only its own.
 */
struct json_t;
int gpxd_containers_open(struct gpxd *d, gpx_error *err);
int gpxd_containers_start(struct gpxd *d, gpx_error *err);
void gpxd_containers_close(struct gpxd *d);
int gpxd_container_create(struct gpxd *d, const struct gpx_caller *who, const char *body,
                          size_t len, struct json_t **out, gpx_error *err);
int gpxd_container_list(struct gpxd *d, const struct gpx_caller *who, struct json_t **out,
                        gpx_error *err);
int gpxd_container_get(struct gpxd *d, const struct gpx_caller *who, const char *id,
                       struct json_t **out, gpx_error *err);
/* the last `tail` lines of replica's output (stdout and stderr), at most 256 KiB */
int gpxd_container_logs(struct gpxd *d, const struct gpx_caller *who, const char *id,
                        unsigned replica, unsigned tail, struct json_t **out, gpx_error *err);
int gpxd_container_remove(struct gpxd *d, const struct gpx_caller *who, const char *id,
                          struct json_t **out, gpx_error *err);
/* Whether image is in the allow-list `list` (gpuplexd's container_images, ','-separated): exact
 * names, or prefixes ending in '*' (docs/containers.md). */
int gpxd_image_allowed(const char *list, const char *image);

/*
 * functions.c: GPU functions (docs/functions.md). open loads the records and
 * observes the engine (gpxd_open); start runs the pool's manager (gpxd_serve);
 * stop answers every waiting call (503) and stops the workers, ending their
 * leases (before the HTTP listeners stop: no connection stays suspended);
 * close frees it all.
 */
int gpxd_functions_open(struct gpxd *d, gpx_error *err);
int gpxd_functions_start(struct gpxd *d, gpx_error *err);
void gpxd_functions_stop(struct gpxd *d);
void gpxd_functions_close(struct gpxd *d);
int gpxd_function_create(struct gpxd *d, const struct gpx_caller *who, const char *body, size_t len,
                         struct json_t **out, gpx_error *err);
int gpxd_function_update(struct gpxd *d, const struct gpx_caller *who, const char *name,
                         const char *body, size_t len, struct json_t **out, gpx_error *err);
int gpxd_function_list(struct gpxd *d, const struct gpx_caller *who, struct json_t **out,
                       gpx_error *err);
int gpxd_function_get(struct gpxd *d, const struct gpx_caller *who, const char *name,
                      struct json_t **out, gpx_error *err);
int gpxd_function_remove(struct gpxd *d, const struct gpx_caller *who, const char *name,
                         struct json_t **out, gpx_error *err);
/* the last `tail` lines of each worker's output (worker: one "NAME-N", or NULL for all) */
int gpxd_function_logs(struct gpxd *d, const struct gpx_caller *who, const char *name,
                       const char *worker, unsigned tail, struct json_t **out, gpx_error *err);
/* the body limit of an invoke path (its function's max_body_bytes); 0: not one */
size_t gpxd_function_body_limit(struct gpxd *d, const char *path);
/* usage's "functions" rows (tenant NULL: everybody's) */
struct json_t *gpxd_function_usage(struct gpxd *d, const char *tenant, int64_t from_ns,
                                   int64_t to_ns, gpx_error *err);
/* the gpuplex_function_* series, line by line */
void gpxd_function_metrics(struct gpxd *d, void (*put)(void *b, const char *line), void *b);
/* A call: new checks the function and the body's size (NULL with err: 404, 413); run
 * queues it (or answers it at once: 429, 503) and returns when it is answered, having
 * proxied it to a worker on the calling thread (http.c's connection thread); answer reads
 * the answer (-1 before); free after run. */
struct gpxd_fn_call *gpxd_fn_call_new(struct gpxd *d, const struct gpx_caller *who,
                                      const char *name, const char *body, size_t len,
                                      const char *content_type, gpx_error *err);
void gpxd_fn_call_run(struct gpxd *d, struct gpxd_fn_call *c);
int gpxd_fn_call_answer(const struct gpxd_fn_call *c, int *status, const char **ctype,
                        const char **body, size_t *len, const char *const **headers);
void gpxd_fn_call_free(struct gpxd_fn_call *c);

/*
 * vms.c: VMs through libvirt (POST/GET/DELETE /v1/vms, docs/vms.md). open loads
 * the records and observes the engine (gpxd_open); start reconciles libvirt
 * against the store and runs the teardown thread (gpxd_serve); stop ends that
 * thread before the engine closes, close frees the rest after it. The domains
 * keep running. A tenant sees only its own VMs.
 */
int gpxd_vms_open(struct gpxd *d, gpx_error *err);
int gpxd_vms_start(struct gpxd *d, gpx_error *err);
void gpxd_vms_stop(struct gpxd *d);
void gpxd_vms_close(struct gpxd *d);
int gpxd_vm_create(struct gpxd *d, const struct gpx_caller *who, const char *body, size_t len,
                   struct json_t **out, gpx_error *err);
int gpxd_vm_list(struct gpxd *d, const struct gpx_caller *who, struct json_t **out, gpx_error *err);
int gpxd_vm_get(struct gpxd *d, const struct gpx_caller *who, const char *id, struct json_t **out,
                gpx_error *err);
int gpxd_vm_remove(struct gpxd *d, const struct gpx_caller *who, const char *id,
                   struct json_t **out, gpx_error *err);

/*
 * vmhost.c: the host side of VM leases. reconcile (gpxd_open, before the VMs' own) makes
 * sysfs match the store: uncommitted journalled writes undone, live holds restored, ended
 * ones given back, no GPU on vfio-pci without a live lease; returns the failures (logged).
 * vgpu_types answers GET /v1/gpus/{id}/vgpu-types.
 */
int gpxd_vmhost_reconcile(struct gpxd *d);
int gpxd_vgpu_types(struct gpxd *d, const struct gpx_caller *who, const char *gpu,
                    struct json_t **out, gpx_error *err);

/* http.c */
int gpxd_http_start(struct gpxd *d, struct gpxd_http **out, gpx_error *err);
void gpxd_http_stop(struct gpxd_http *h);

#endif
