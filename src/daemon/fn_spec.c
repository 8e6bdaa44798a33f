/*
 * The registration body of a GPU function (POST/PUT /v1/functions), parsed
 * and checked before the daemon looks at it. Pure: no daemon state (see
 * functions.h). The lease goes through the one lease parser and check of
 * POST /v1/leases, so a function's workers can only ask for what a tenant can.
 */
#include "daemon/functions.h"
#include "daemon/request.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KNOWN                                                                                      \
    "name, command, image, lease, min_workers, max_workers, max_concurrency, queue_max, "          \
    "idle_timeout_s, timeout_s, max_body_bytes, price_per_request, price_per_gpu_second"

int gpxd_fn_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= GPXD_FN_NAME_MAX || !isalnum((unsigned char)s[0]))
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
            return 0;
    return 1;
}

void gpxd_fn_spec_clear(struct gpxd_fn_spec *s)
{
    json_decref(s->command);
    json_decref(s->lease);
    s->command = s->lease = NULL;
}

/* An integer field in [lo, hi] into *out. */
static int uint_field(const char *k, json_t *v, long long lo, long long hi, unsigned *out,
                      gpx_error *err)
{
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return gpx_error_set(err, GPX_E_INVALID, "field '%s' must be an integer %lld..%lld", k, lo,
                             hi);
    *out = (unsigned)json_integer_value(v);
    return 0;
}

/* A number field in (0, hi] (or [0, hi] when zero_ok) into *out. */
static int num_field(const char *k, json_t *v, int zero_ok, double hi, double *out, gpx_error *err)
{
    double x = json_is_number(v) ? json_number_value(v) : -1;
    if (!json_is_number(v) || !isfinite(x) || x < 0 || (x == 0 && !zero_ok) || x > hi)
        return gpx_error_set(err, GPX_E_INVALID, "field '%s' must be a number %s %g", k,
                             zero_ok ? "0 .." : "> 0 and <=", hi);
    *out = x;
    return 0;
}

static int command_field(json_t *v, struct gpxd_fn_spec *s, gpx_error *err)
{
    size_t i;
    json_t *a;
    int ok = json_is_array(v) && json_array_size(v) >= 1 && json_array_size(v) <= GPXD_FN_MAX_ARGS;
    json_array_foreach(v, i, a) ok =
        ok && json_is_string(a) && strlen(json_string_value(a)) == json_string_length(a) &&
        json_string_length(a) < 4096 && (i > 0 || json_string_length(a) > 0);
    if (!ok)
        return gpx_error_set(err, GPX_E_INVALID,
                             "field 'command' must be an argv: an array of 1..%d strings (no "
                             "NUL, the first not empty)",
                             GPXD_FN_MAX_ARGS);
    s->command = json_incref(v);
    return 0;
}

static int lease_field(json_t *v, struct gpxd_fn_spec *s, gpx_error *err)
{
    if (!json_is_object(v))
        return gpx_error_set(err, GPX_E_INVALID,
                             "field 'lease' must be an object as POST /v1/leases takes (mode, "
                             "memory, weight, cap, mig_profile, gpu, labels)");
    if (json_object_get(v, "owner_pids"))
        return gpx_error_set(err, GPX_E_INVALID,
                             "field 'lease': owner_pids is not for functions (gpuplexd ends a "
                             "worker's lease when it stops the worker)");
    char *t = json_dumps(v, JSON_COMPACT);
    struct gpx_lease_spec sp;
    int rc = t ? gpxd_lease_spec_parse(t, strlen(t), &sp, err)
               : gpx_error_set(err, GPX_E_NOMEM, "lease");
    free(t);
    if (rc < 0)
        return gpx_error_wrap(err, "field 'lease'");
    gpx_lease_spec_clear(&sp);
    s->lease = json_incref(v);
    return 0;
}

static int one_field(const char *k, json_t *v, const char *name_given, struct gpxd_fn_spec *s,
                     gpx_error *err)
{
    if (!strcmp(k, "name")) {
        const char *n = json_string_value(v);
        if (!n || json_string_length(v) != strlen(n) || !gpxd_fn_name_ok(n))
            return gpx_error_set(err, GPX_E_INVALID,
                                 "field 'name' must be 1..63 of A-Z a-z 0-9 . _ - (starting with "
                                 "a letter or digit)");
        if (name_given && strcmp(n, name_given))
            return gpx_error_set(err, GPX_E_INVALID,
                                 "field 'name' is '%s' but the path names '%s' (renaming is not "
                                 "supported)",
                                 n, name_given);
        snprintf(s->name, sizeof s->name, "%s", n);
        return 0;
    }
    if (!strcmp(k, "command"))
        return command_field(v, s, err);
    if (!strcmp(k, "image")) {
        if (!json_is_string(v) || !gpxd_image_name_ok(json_string_value(v), json_string_length(v)))
            return gpx_error_set(err, GPX_E_INVALID,
                                 "field 'image' must be an image name (1-255 of A-Z a-z 0-9 . _ "
                                 "- / : @)");
        snprintf(s->image, sizeof s->image, "%s", json_string_value(v));
        return 0;
    }
    if (!strcmp(k, "lease"))
        return lease_field(v, s, err);
    if (!strcmp(k, "min_workers"))
        return uint_field(k, v, 0, GPXD_FN_MAX_WORKERS, &s->min_workers, err);
    if (!strcmp(k, "max_workers"))
        return uint_field(k, v, 1, GPXD_FN_MAX_WORKERS, &s->max_workers, err);
    if (!strcmp(k, "max_concurrency"))
        return uint_field(k, v, 1, GPXD_FN_MAX_CONC, &s->max_concurrency, err);
    if (!strcmp(k, "queue_max"))
        return uint_field(k, v, 0, GPXD_FN_MAX_QUEUE, &s->queue_max, err);
    if (!strcmp(k, "idle_timeout_s"))
        return num_field(k, v, 0, 86400 * 7, &s->idle_timeout_s, err);
    if (!strcmp(k, "timeout_s"))
        return num_field(k, v, 0, 3600, &s->timeout_s, err);
    if (!strcmp(k, "max_body_bytes")) {
        unsigned b;
        if (uint_field(k, v, 1, GPXD_FN_MAX_BODY, &b, err) < 0)
            return -1;
        s->max_body_bytes = b;
        return 0;
    }
    if (!strcmp(k, "price_per_request"))
        return num_field(k, v, 1, 1e9, &s->price_per_request, err);
    if (!strcmp(k, "price_per_gpu_second"))
        return num_field(k, v, 1, 1e9, &s->price_per_gpu_second, err);
    return gpx_error_set(err, GPX_E_INVALID, "unknown field '%.64s' (known: " KNOWN ")", k);
}

int gpxd_fn_spec_parse(const char *body, size_t len, const char *name_given, struct gpxd_fn_spec *s,
                       gpx_error *err)
{
    memset(s, 0, sizeof *s);
    s->max_workers = 1;
    s->max_concurrency = 1;
    s->queue_max = 64;
    s->idle_timeout_s = 60;
    s->timeout_s = 30;
    s->max_body_bytes = GPXD_FN_DEFAULT_BODY;
    json_error_t je;
    json_t *j = body && len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        return gpx_error_set(err, GPX_E_INVALID, "request body must be a JSON object");
    }
    int rc = -1, have_min = 0, have_max = 0;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        if (one_field(k, v, name_given, s, err) < 0)
            goto out;
        have_min |= !strcmp(k, "min_workers");
        have_max |= !strcmp(k, "max_workers");
    }
    if (name_given && !s->name[0])
        snprintf(s->name, sizeof s->name, "%s", name_given);
    if (!s->name[0]) {
        gpx_error_set(err, GPX_E_INVALID, "field 'name' is required (1..63 of A-Z a-z 0-9 . _ -)");
        goto out;
    }
    if (!s->command == !s->image[0]) {
        gpx_error_set(err, GPX_E_INVALID,
                      "exactly one of field 'command' (an argv array) and field 'image' (a "
                      "container image) is required");
        goto out;
    }
    if (!s->lease) {
        gpx_error_set(err, GPX_E_INVALID,
                      "field 'lease' is required (an object as POST /v1/leases takes: mode, "
                      "memory, ...)");
        goto out;
    }
    if (have_min && !have_max && s->min_workers > s->max_workers)
        s->max_workers = s->min_workers;
    if (s->min_workers > s->max_workers) {
        gpx_error_set(err, GPX_E_INVALID, "field 'min_workers' (%u) must be <= max_workers (%u)",
                      s->min_workers, s->max_workers);
        goto out;
    }
    rc = 0;
out:
    json_decref(j);
    if (rc < 0)
        gpxd_fn_spec_clear(s);
    return rc;
}

json_t *gpxd_fn_spec_json(const struct gpxd_fn_spec *s)
{
    return json_pack("{s:s,s:O?,s:s?,s:O,s:I,s:I,s:I,s:I,s:f,s:f,s:I,s:f,s:f}", "name", s->name,
                     "command", s->command, "image", s->image[0] ? s->image : NULL, "lease",
                     s->lease, "min_workers", (json_int_t)s->min_workers, "max_workers",
                     (json_int_t)s->max_workers, "max_concurrency", (json_int_t)s->max_concurrency,
                     "queue_max", (json_int_t)s->queue_max, "idle_timeout_s", s->idle_timeout_s,
                     "timeout_s", s->timeout_s, "max_body_bytes", (json_int_t)s->max_body_bytes,
                     "price_per_request", s->price_per_request, "price_per_gpu_second",
                     s->price_per_gpu_second);
}
