/*
 * GPU functions (docs/functions.md): an admin registers a function (a worker
 * command or image, a lease spec, pool and queue bounds, prices); tenants
 * call it per request through POST /v1/functions/{name}/invoke. The module
 * keeps the registry (the store's functions table), a worker pool per
 * function (workers are processes gpuplexd starts under their own leases),
 * the router (a bounded queue per function, dispatcher threads that proxy a
 * call to a ready worker's unix socket) and the per-request meter.
 *
 * fn_spec.c is the registration body's parser: a pure function of its input,
 * unit-tested and fuzzed (tests/fuzz/fuzz_fn_spec.c).
 */
#ifndef GPXD_FUNCTIONS_H
#define GPXD_FUNCTIONS_H

#include "gpuplex/error.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define GPXD_FN_NAME_MAX     64
#define GPXD_FN_MAX_WORKERS  64
#define GPXD_FN_MAX_CONC     1024
#define GPXD_FN_MAX_QUEUE    100000
#define GPXD_FN_MAX_BODY     (64u << 20)
#define GPXD_FN_MAX_ARGS     64
#define GPXD_FN_DEFAULT_BODY (1u << 20)

/* A function's settings: POST/PUT /v1/functions's body, checked. */
struct gpxd_fn_spec {
    char name[GPXD_FN_NAME_MAX];
    json_t *command; /* array of strings (argv); NULL when image */
    char image[512]; /* "" when command */
    json_t *lease;   /* object, as POST /v1/leases takes (checked) */
    unsigned min_workers, max_workers, max_concurrency, queue_max;
    double idle_timeout_s, timeout_s;
    uint64_t max_body_bytes;
    double price_per_request, price_per_gpu_second;
};

/* A function name: [A-Za-z0-9][A-Za-z0-9._-]{0,62}. */
int gpxd_fn_name_ok(const char *s);
/*
 * Parses and checks a registration body into *s (gpxd_fn_spec_clear frees it).
 * name_given: the {name} of a PUT (the body's "name" may be left out, or must
 * match); NULL for POST (then "name" is required). Every rejection names the
 * field and its valid values; unknown fields are rejected by name.
 */
int gpxd_fn_spec_parse(const char *body, size_t len, const char *name_given, struct gpxd_fn_spec *s,
                       gpx_error *err);
void gpxd_fn_spec_clear(struct gpxd_fn_spec *s);
/* The spec as the function object's fields (new reference). */
json_t *gpxd_fn_spec_json(const struct gpxd_fn_spec *s);

/* fn_http.c: the client of the worker protocol. A worker's answer (body malloc'd, NUL after). */
struct gpxd_fn_wresp {
    int status;
    char ctype[128]; /* application/octet-stream when it gave none */
    char *body;
    size_t len;
};
/*
 * One request to the worker listening on unix socket `sock` (body of len bytes,
 * Content-Type ctype, X-Gpuplex-Request-Id req_id), every wait bounded by
 * deadline (CLOCK_MONOTONIC ns): 0 with *r filled (free r->body); -1 it broke
 * the connection or the protocol (502), -2 no answer by deadline (504), -3 it
 * could not be reached (nothing was sent: another worker may take the call).
 * reuse: a kept-alive connection to send on, -1 for a new one. keep NULL: one
 * connection per request (Connection: close); else the request asks to keep it
 * and *keep gets it back (else -1) when the answer allows: framed by its
 * Content-Length, without "Connection: close".
 * spin_ns > 0: once the request is sent, poll the socket for the answer this long
 * (recv, then sched_yield) before sleeping in poll(), never past deadline; 0: sleep at once.
 */
int gpxd_fn_http(const char *sock, const char *method, const char *path, const char *ctype,
                 const char *req_id, const char *body, size_t len, int64_t deadline, int reuse,
                 int *keep, int64_t spin_ns, struct gpxd_fn_wresp *r);
/*
 * How long a call should poll for its worker's answer (gpxd_fn_http's spin_ns): the
 * budget fn_spin_us when the function's recent answers (answer_ns, a moving average;
 * 0 = none yet) come within it, else 0 (its answers take longer: sleeping costs a
 * wake-up, polling would burn the CPU for nothing).
 */
int64_t gpxd_fn_spin_ns(unsigned fn_spin_us, int64_t answer_ns);
/* Whether a kept-alive connection is still open with nothing unread (workers may close idle
 * ones). */
int gpxd_fn_conn_alive(int fd);

#endif
