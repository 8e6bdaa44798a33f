/*
 * Parsing of API request bodies with jansson. JSON_REJECT_DUPLICATES makes a
 * repeated key an error; every member of the object is looked at exactly
 * once, by name, so a field this version does not know is reported instead
 * of ignored. Nothing here trusts the input's size or shape: it is fuzzed.
 */
#define _GNU_SOURCE
#include "daemon/request.h"
#include "core/size.h"
#include "shm/lease.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static json_t *load_object(const char *body, size_t len, gpx_error *err)
{
    if (!body || len == 0)
        return gpx_error_set(err, GPX_E_INVALID, "request body must be a JSON object"), NULL;
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return gpx_error_set(err, GPX_E_INVALID, "invalid JSON at line %d column %d: %s", je.line,
                             je.column, je.text),
               NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        return gpx_error_set(err, GPX_E_INVALID, "request body must be a JSON object"), NULL;
    }
    return j;
}

/* Reads an integer field in [lo, hi]. */
static int get_uint(json_t *v, const char *name, long long lo, long long hi, long long *out,
                    gpx_error *err)
{
    if (!json_is_integer(v))
        return gpx_error_set(err, GPX_E_INVALID, "field '%s' must be an integer from %lld to %lld",
                             name, lo, hi);
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return gpx_error_set(err, GPX_E_INVALID, "field '%s' must be from %lld to %lld, not %lld",
                             name, lo, hi, x);
    *out = x;
    return 0;
}

/* A size: "4G", "4096M" or a whole number of bytes. */
static int get_size(json_t *v, const char *name, uint64_t *out, gpx_error *err)
{
    if (json_is_integer(v)) {
        if (json_integer_value(v) <= 0)
            return gpx_error_set(err, GPX_E_INVALID, "field '%s' must be positive", name);
        *out = (uint64_t)json_integer_value(v);
    } else if (json_is_string(v)) {
        if (gpx_size_parse_unit(json_string_value(v), out, err) < 0)
            return gpx_error_wrap(err, "field '%s'", name);
    } else {
        return gpx_error_set(err, GPX_E_INVALID,
                             "field '%s' must be a size such as \"4G\" or \"4096M\", or a number "
                             "of bytes",
                             name);
    }
    if (*out < GPX_MIN_MEMORY)
        return gpx_error_set(err, GPX_E_INVALID, "field '%s' must be at least 1M", name);
    return 0;
}

static int get_bool(json_t *v, const char *name, int *out, gpx_error *err);

/* The owner pids, labels and typed values of a lease object into a spec (engine/spec.c);
 * "for_container" only where `request` (POST /v1/leases itself). */
static int lease_spec_parse(const char *body, size_t len, int request, struct gpx_lease_spec *r,
                            gpx_error *err)
{
    gpx_lease_spec_init(r);
    json_t *j = load_object(body, len, err);
    if (!j)
        return -1;
    const enum gpx_naming n = GPX_NAMING_API;
    int rc = -1;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        long long x = 0;
        char num[32];
        if (!strcmp(k, "mode")) {
            if (!json_is_string(v)) {
                gpx_error_set(err, GPX_E_INVALID,
                              "field 'mode' must be one of exclusive, mig, vgpu, timeslice");
                goto out;
            }
            if (gpx_lease_spec_set(r, GPX_F_MODE, json_string_value(v), n, err) < 0)
                goto out;
        } else if (!strcmp(k, "gpu")) {
            if (json_is_integer(v)) {
                if (get_uint(v, k, 0, 1023, &x, err) < 0)
                    goto out;
                snprintf(num, sizeof num, "%lld", x);
                if (gpx_lease_spec_set(r, GPX_F_GPU, num, n, err) < 0)
                    goto out;
            } else if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v)) {
                if (gpx_lease_spec_set(r, GPX_F_GPU, json_string_value(v), n, err) < 0)
                    goto out;
            } else {
                gpx_error_set(err, GPX_E_INVALID,
                              "field 'gpu' must be a GPU index or a UUID (GPU-...)");
                goto out;
            }
        } else if (!strcmp(k, "memory")) {
            if (get_size(v, k, &r->memory, err) < 0)
                goto out;
            r->given |= 1u << GPX_F_MEMORY;
        } else if (!strcmp(k, "weight") || !strcmp(k, "cap")) {
            int w = !strcmp(k, "weight");
            if (get_uint(v, k, 1, w ? GPX_MAX_WEIGHT : 100, &x, err) < 0)
                goto out;
            *(w ? &r->weight : &r->cap) = (unsigned)x;
            r->given |= 1u << (w ? GPX_F_WEIGHT : GPX_F_CAP);
        } else if (!strcmp(k, "mig_profile")) {
            if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
                gpx_lease_spec_set(r, GPX_F_MIG_PROFILE, json_string_value(v), n, err) < 0) {
                gpx_error_set(err, GPX_E_INVALID,
                              "field 'mig_profile' must be a MIG profile name such as "
                              "\"3g.40gb\"");
                goto out;
            }
        } else if (!strcmp(k, "labels")) {
            if (!json_is_object(v)) {
                gpx_error_set(err, GPX_E_INVALID,
                              "field 'labels' must be an object of string values");
                goto out;
            }
            if (json_object_size(v) > GPX_MAX_LABELS) {
                gpx_error_set(err, GPX_E_INVALID, "field 'labels' has more than %d labels",
                              GPX_MAX_LABELS);
                goto out;
            }
            const char *lk;
            json_t *lv;
            json_object_foreach(v, lk, lv)
            {
                if (!json_is_string(lv) ||
                    strlen(json_string_value(lv)) != json_string_length(lv)) {
                    gpx_error_set(err, GPX_E_INVALID, "label '%.64s' must be a string without NUL",
                                  lk);
                    goto out;
                }
                /* gpuplex.* keys are gpuplexd's own (engine.h): refused from callers */
                if (gpx_lease_spec_user_label(r, lk, json_string_value(lv), n, err) < 0)
                    goto out;
            }
        } else if (!strcmp(k, "owner_pids")) {
            if (!json_is_array(v) || json_array_size(v) == 0 ||
                json_array_size(v) > GPX_MAX_OWNERS) {
                gpx_error_set(err, GPX_E_INVALID,
                              "field 'owner_pids' must be an array of 1 to %d process ids",
                              GPX_MAX_OWNERS);
                goto out;
            }
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                if (get_uint(e, "owner_pids[]", 1, 0x7fffffff, &x, err) < 0)
                    goto out;
                r->owners[r->n_owners++] = (int32_t)x;
            }
        } else if (request && !strcmp(k, "for_container")) {
            int b = 0;
            if (get_bool(v, k, &b, err) < 0)
                goto out;
            r->for_container = b;
        } else {
            gpx_error_set(err, GPX_E_INVALID,
                          "unknown field '%.64s' (known: mode, gpu, memory, weight, cap, "
                          "mig_profile, labels, owner_pids%s)",
                          k, request ? ", for_container" : "");
            goto out;
        }
    }
    /* the one validation of every path (engine/spec.c); the API names a mode explicitly */
    if (gpx_lease_spec_check(r, 0, n, err) < 0)
        goto out;
    if (!r->labels && !(r->labels = strdup("{}"))) {
        gpx_error_set(err, GPX_E_NOMEM, "labels");
        goto out;
    }
    rc = 0;
out:
    json_decref(j);
    if (rc < 0)
        gpx_lease_spec_clear(r);
    return rc;
}

int gpxd_lease_spec_parse(const char *body, size_t len, struct gpx_lease_spec *r, gpx_error *err)
{
    return lease_spec_parse(body, len, 0, r, err);
}

int gpxd_lease_request_parse(const char *body, size_t len, struct gpx_lease_spec *r, gpx_error *err)
{
    return lease_spec_parse(body, len, 1, r, err);
}

/* As engine/spec.c: 1-31 of A-Z a-z 0-9 . + - _ and space. */
static int mig_profile_ok(const char *s, size_t len)
{
    if (len == 0 || len > 31 || strlen(s) != len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr(".+-_ ", s[i]))
            return 0;
    return 1;
}

/* "demand" / "layout": {profile: count} */
static int get_counts(json_t *v, const char *name, struct gpx_mig_req *r, gpx_error *err)
{
    if (!json_is_object(v) || json_object_size(v) > GPX_MIG_MAX_COUNTS)
        return gpx_error_set(err, GPX_E_INVALID,
                             "field '%s' must be an object of MIG profile -> count (at most %d "
                             "profiles), e.g. {\"3g.40gb\": 1, \"1g.10gb\": 4}",
                             name, GPX_MIG_MAX_COUNTS);
    const char *k;
    json_t *c;
    json_object_foreach(v, k, c)
    {
        if (!mig_profile_ok(k, strlen(k)))
            return gpx_error_set(err, GPX_E_INVALID,
                                 "field '%s': '%.40s' is not a MIG profile name such as "
                                 "\"3g.40gb\"",
                                 name, k);
        char what[64];
        snprintf(what, sizeof what, "%s.%s", name, k);
        long long x = 0;
        if (get_uint(c, what, 0, GPX_MIG_MAX_COUNT, &x, err) < 0)
            return -1;
        memcpy(r->counts[r->n].profile, k, strlen(k) + 1);
        r->counts[r->n].count = (unsigned)x;
        r->n++;
    }
    r->has_counts = 1;
    return 0;
}

static int get_bool(json_t *v, const char *name, int *out, gpx_error *err)
{
    if (!json_is_boolean(v))
        return gpx_error_set(err, GPX_E_INVALID, "field '%s' must be true or false", name);
    *out = json_is_true(v);
    return 0;
}

int gpxd_mig_req_parse(const char *body, size_t len, struct gpx_mig_req *r, gpx_error *err)
{
    memset(r, 0, sizeof *r);
    r->enabled = -1;
    json_t *j = load_object(body, len, err);
    if (!j)
        return -1;
    int rc = -1;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        if (!strcmp(k, "enabled")) {
            if (get_bool(v, k, &r->enabled, err) < 0)
                goto out;
        } else if (!strcmp(k, "demand") || !strcmp(k, "layout")) {
            if (r->has_counts) {
                gpx_error_set(err, GPX_E_INVALID,
                              "give either 'demand' (keeps unleased instances that are not in "
                              "the way) or 'layout' (the whole geometry), not both");
                goto out;
            }
            r->exact = !strcmp(k, "layout");
            if (get_counts(v, k, r, err) < 0)
                goto out;
        } else if (!strcmp(k, "partial")) {
            if (get_bool(v, k, &r->partial, err) < 0)
                goto out;
        } else if (!strcmp(k, "dry_run")) {
            if (get_bool(v, k, &r->dry_run, err) < 0)
                goto out;
        } else {
            gpx_error_set(err, GPX_E_INVALID,
                          "unknown field '%.64s' (known: enabled, demand, layout, partial, "
                          "dry_run)",
                          k);
            goto out;
        }
    }
    if (r->enabled < 0 && !r->has_counts) {
        gpx_error_set(err, GPX_E_INVALID, "nothing to do: give 'enabled', 'demand' or 'layout'");
        goto out;
    }
    if (r->enabled == 0 && r->has_counts) {
        gpx_error_set(err, GPX_E_INVALID, "'enabled': false turns MIG off; it takes no '%s'",
                      r->exact ? "layout" : "demand");
        goto out;
    }
    rc = 0;
out:
    json_decref(j);
    return rc;
}

int gpxd_tenant_req_parse(const char *body, size_t len, struct gpx_tenant_req *r, gpx_error *err)
{
    memset(r, 0, sizeof *r);
    json_t *j = load_object(body, len, err);
    if (!j)
        return -1;
    int rc = -1;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        long long x = 0;
        if (!strcmp(k, "name")) {
            if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
                !gpx_valid_name(json_string_value(v))) {
                gpx_error_set(err, GPX_E_INVALID,
                              "field 'name' must be 1-63 characters of a-z 0-9 . _ -, starting "
                              "with a letter or digit");
                goto out;
            }
            memcpy(r->name, json_string_value(v), json_string_length(v) + 1);
        } else if (!strcmp(k, "role")) {
            const char *s = json_is_string(v) ? json_string_value(v) : "";
            if (!strcmp(s, "admin"))
                r->admin = 1;
            else if (strcmp(s, "tenant") != 0) {
                gpx_error_set(err, GPX_E_INVALID, "field 'role' must be admin or tenant");
                goto out;
            }
        } else if (!strcmp(k, "uid")) {
            if (get_uint(v, k, 0, 0xfffffffeLL, &x, err) < 0)
                goto out;
            r->uid = (uint32_t)x;
            r->has_uid = 1;
        } else if (!strcmp(k, "max_gpus")) {
            if (get_uint(v, k, 1, 1024, &x, err) < 0)
                goto out;
            r->max_gpus = (unsigned)x;
        } else if (!strcmp(k, "max_memory")) {
            if (get_size(v, k, &r->max_memory, err) < 0)
                goto out;
        } else if (!strcmp(k, "max_leases")) {
            if (get_uint(v, k, 1, GPX_MAX_LEASES_CAP, &x, err) < 0)
                goto out;
            r->max_leases = (unsigned)x;
        } else {
            gpx_error_set(err, GPX_E_INVALID,
                          "unknown field '%.64s' (known: name, role, uid, max_gpus, max_memory, "
                          "max_leases)",
                          k);
            goto out;
        }
    }
    if (!r->name[0]) {
        gpx_error_set(err, GPX_E_INVALID, "field 'name' is required");
        goto out;
    }
    rc = 0;
out:
    json_decref(j);
    return rc;
}

int gpxd_image_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 255 || strlen(s) != len || *s == '-')
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._-/:@", *s))
            return 0;
    return 1;
}
