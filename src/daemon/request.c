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
        if (gpx_size_parse(json_string_value(v), out, err) < 0)
            return gpx_error_wrap(err, "field '%s'", name);
    } else {
        return gpx_error_set(err, GPX_E_INVALID,
                             "field '%s' must be a size such as \"4G\" or \"4096M\", or a number "
                             "of bytes",
                             name);
    }
    if (*out < GPXD_MIN_MEMORY)
        return gpx_error_set(err, GPX_E_INVALID, "field '%s' must be at least 1M", name);
    return 0;
}

static int label_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)k[i]) && !strchr("._-/", k[i]))
            return 0;
    return 1;
}

static int get_labels(json_t *v, char **out, gpx_error *err)
{
    if (!json_is_object(v))
        return gpx_error_set(err, GPX_E_INVALID,
                             "field 'labels' must be an object of string values");
    if (json_object_size(v) > GPXD_MAX_LABELS)
        return gpx_error_set(err, GPX_E_INVALID, "field 'labels' has more than %d labels",
                             GPXD_MAX_LABELS);
    const char *k;
    json_t *lv;
    json_object_foreach(v, k, lv)
    {
        if (!label_key_ok(k))
            return gpx_error_set(err, GPX_E_INVALID,
                                 "label key '%.64s' is invalid (1-63 of A-Z a-z 0-9 . _ - /)", k);
        if (!json_is_string(lv))
            return gpx_error_set(err, GPX_E_INVALID, "label '%s' must be a string", k);
        if (json_string_length(lv) > 256 || strlen(json_string_value(lv)) != json_string_length(lv))
            return gpx_error_set(err, GPX_E_INVALID,
                                 "label '%s' must be at most 256 bytes without NUL", k);
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s)
        return gpx_error_set(err, GPX_E_NOMEM, "labels");
    if (strlen(s) >= GPXD_LABELS_JSON_MAX) {
        free(s);
        return gpx_error_set(err, GPX_E_INVALID, "field 'labels' is larger than %d bytes as JSON",
                             GPXD_LABELS_JSON_MAX - 1);
    }
    *out = s;
    return 0;
}

/*
 * A MIG profile name as the daemon accepts it before knowing the GPU: 1-31
 * of A-Z a-z 0-9 . + - _ and space ("3g.40gb", "1g.10gb+me", "MIG 1g.10gb",
 * "mig-1g.10gb.me"). Whether the GPU's model has it is checked at placement,
 * which answers with the model's valid names.
 */
static int mig_profile_ok(const char *s, size_t len)
{
    if (len == 0 || len > 31 || strlen(s) != len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr(".+-_ ", s[i]))
            return 0;
    return 1;
}

void gpxd_lease_req_clear(struct gpxd_lease_req *r)
{
    free(r->labels);
    r->labels = NULL;
}

int gpxd_lease_req_parse(const char *body, size_t len, struct gpxd_lease_req *r, gpx_error *err)
{
    memset(r, 0, sizeof *r);
    r->gpu_index = -1;
    r->mode = -1;
    json_t *j = load_object(body, len, err);
    if (!j)
        return -1;
    int rc = -1;
    int has_memory = 0, has_weight = 0, has_cap = 0, has_mig = 0;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        long long x = 0;
        if (!strcmp(k, "mode")) {
            if (!json_is_string(v) || (r->mode = gpx_lease_mode_parse(json_string_value(v))) < 0) {
                gpx_error_set(err, GPX_E_INVALID,
                              "field 'mode' must be one of exclusive, mig, vgpu, timeslice");
                goto out;
            }
        } else if (!strcmp(k, "gpu")) {
            if (json_is_integer(v)) {
                if (get_uint(v, k, 0, 1023, &x, err) < 0)
                    goto out;
                r->gpu_index = (int)x;
            } else if (json_is_string(v) && json_string_length(v) > 0 &&
                       json_string_length(v) < sizeof r->gpu_uuid &&
                       strlen(json_string_value(v)) == json_string_length(v)) {
                const char *s = json_string_value(v);
                char *end;
                errno = 0;
                unsigned long idx = strtoul(s, &end, 10);
                if (isdigit((unsigned char)*s) && !*end && !errno && idx < 1024)
                    r->gpu_index = (int)idx;
                else if (strncmp(s, "GPU-", 4) == 0 || strncmp(s, "MIG-", 4) == 0)
                    memcpy(r->gpu_uuid, s, strlen(s) + 1);
                else {
                    gpx_error_set(err, GPX_E_INVALID,
                                  "field 'gpu' must be a GPU index or a UUID (GPU-...), not "
                                  "'%.100s'",
                                  s);
                    goto out;
                }
            } else {
                gpx_error_set(err, GPX_E_INVALID,
                              "field 'gpu' must be a GPU index or a UUID (GPU-...)");
                goto out;
            }
        } else if (!strcmp(k, "memory")) {
            if (get_size(v, k, &r->memory, err) < 0)
                goto out;
            has_memory = 1;
        } else if (!strcmp(k, "weight")) {
            if (get_uint(v, k, 1, GPXD_MAX_WEIGHT, &x, err) < 0)
                goto out;
            r->weight = (unsigned)x;
            has_weight = 1;
        } else if (!strcmp(k, "cap")) {
            if (get_uint(v, k, 1, 100, &x, err) < 0)
                goto out;
            r->cap = (unsigned)x;
            has_cap = 1;
        } else if (!strcmp(k, "mig_profile")) {
            if (!json_is_string(v) || json_string_length(v) >= sizeof r->mig_profile ||
                !mig_profile_ok(json_string_value(v), json_string_length(v))) {
                gpx_error_set(err, GPX_E_INVALID,
                              "field 'mig_profile' must be a MIG profile name such as "
                              "\"3g.40gb\"");
                goto out;
            }
            memcpy(r->mig_profile, json_string_value(v), json_string_length(v) + 1);
            has_mig = 1;
        } else if (!strcmp(k, "labels")) {
            if (get_labels(v, &r->labels, err) < 0)
                goto out;
        } else if (!strcmp(k, "owner_pids")) {
            if (!json_is_array(v) || json_array_size(v) == 0 ||
                json_array_size(v) > GPXD_MAX_OWNERS) {
                gpx_error_set(err, GPX_E_INVALID,
                              "field 'owner_pids' must be an array of 1 to %d process ids",
                              GPXD_MAX_OWNERS);
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
        } else {
            gpx_error_set(err, GPX_E_INVALID,
                          "unknown field '%.64s' (known: mode, gpu, memory, weight, cap, "
                          "mig_profile, labels, owner_pids)",
                          k);
            goto out;
        }
    }
    if (r->mode < 0) {
        gpx_error_set(err, GPX_E_INVALID,
                      "field 'mode' is required (exclusive, mig, vgpu or timeslice)");
        goto out;
    }
    const char *m = gpx_lease_mode_name((enum gpx_lease_mode)r->mode);
    if (has_memory && (r->mode == GPX_MODE_EXCLUSIVE || r->mode == GPX_MODE_MIG)) {
        gpx_error_set(err, GPX_E_INVALID,
                      "field 'memory' does not apply to %s leases (they get the whole %s's "
                      "memory)",
                      m, r->mode == GPX_MODE_MIG ? "instance" : "GPU");
        goto out;
    }
    if (r->mode == GPX_MODE_VGPU && !has_memory) {
        gpx_error_set(err, GPX_E_INVALID, "vgpu leases need field 'memory' (e.g. \"8G\")");
        goto out;
    }
    /* A shared lease may carry both: a weight (its share, work-conserving above it) and
     * a cap (a hard ceiling), as Run:ai's "fair" and "strict" (docs/timeslice.md). */
    if ((has_weight || has_cap) && r->mode != GPX_MODE_TIMESLICE && r->mode != GPX_MODE_VGPU) {
        gpx_error_set(err, GPX_E_INVALID,
                      "fields 'weight' and 'cap' apply to timeslice and vgpu "
                      "leases only");
        goto out;
    }
    if (has_mig != (r->mode == GPX_MODE_MIG)) {
        gpx_error_set(err, GPX_E_INVALID,
                      has_mig ? "field 'mig_profile' applies to mig leases only"
                              : "mig leases need field 'mig_profile' (e.g. \"3g.40gb\")");
        goto out;
    }
    if (r->mode == GPX_MODE_TIMESLICE && !has_weight)
        r->weight = GPXD_DEFAULT_WEIGHT;
    if (!r->labels && !(r->labels = strdup("{}"))) {
        gpx_error_set(err, GPX_E_NOMEM, "labels");
        goto out;
    }
    rc = 0;
out:
    json_decref(j);
    if (rc < 0)
        gpxd_lease_req_clear(r);
    return rc;
}

/* "demand" / "layout": {profile: count} */
static int get_counts(json_t *v, const char *name, struct gpxd_mig_req *r, gpx_error *err)
{
    if (!json_is_object(v) || json_object_size(v) > GPXD_MIG_MAX_COUNTS)
        return gpx_error_set(err, GPX_E_INVALID,
                             "field '%s' must be an object of MIG profile -> count (at most %d "
                             "profiles), e.g. {\"3g.40gb\": 1, \"1g.10gb\": 4}",
                             name, GPXD_MIG_MAX_COUNTS);
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
        if (get_uint(c, what, 0, GPXD_MIG_MAX_COUNT, &x, err) < 0)
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

int gpxd_mig_req_parse(const char *body, size_t len, struct gpxd_mig_req *r, gpx_error *err)
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

int gpxd_valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= GPXD_NAME_MAX)
        return 0;
    if (!islower((unsigned char)s[0]) && !isdigit((unsigned char)s[0]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && !strchr("._-", s[i]))
            return 0;
    return 1;
}

int gpxd_tenant_req_parse(const char *body, size_t len, struct gpxd_tenant_req *r, gpx_error *err)
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
                !gpxd_valid_name(json_string_value(v))) {
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
        } else {
            gpx_error_set(err, GPX_E_INVALID,
                          "unknown field '%.64s' (known: name, role, uid, max_gpus, max_memory)",
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

int gpxd_parse_time(const char *s, int64_t *ns, gpx_error *err)
{
    if (!s || !*s)
        return gpx_error_set(err, GPX_E_INVALID, "empty time");
    char *end;
    errno = 0;
    if (isdigit((unsigned char)s[0]) && strlen(s) <= 20) {
        double v = strtod(s, &end);
        if (!*end && !errno && v >= 0 && v < 9.2e9) {
            *ns = (int64_t)(v * 1e9);
            return 0;
        }
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p && (!strcmp(p, "Z") || !strcmp(p, "+00:00"))) {
        time_t t = timegm(&tm);
        if (t >= 0 && t < 9200000000LL) { /* ns must fit in int64 */
            *ns = (int64_t)t * 1000000000LL;
            return 0;
        }
    }
    return gpx_error_set(err, GPX_E_INVALID,
                         "invalid time '%.64s' (RFC 3339 UTC such as 2024-05-01T12:00:00Z, or "
                         "Unix seconds)",
                         s);
}
