/*
 * Lease specs: the one type for what a caller asks for, and the one
 * validation of it, for the API, the CLI (with or without a daemon) and every
 * later front end. Field values typed as text (CLI flags, JSON strings) are
 * read by gpx_lease_spec_set; gpx_lease_spec_check applies the rules that
 * tie fields together. Messages name fields as the caller wrote them: JSON
 * fields in the API, flags on the CLI (the table below), so that the same
 * mistake gives the same words and the same exit status on every path.
 *
 * Also here: tenant names and times, the other values both hosts parse.
 */
#define _GNU_SOURCE
#include "core/size.h"
#include "engine/engine.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const field_names[GPX_F__COUNT][3] = {
    [GPX_F_MODE] = {"field 'mode'", "--mode", "--gpuplex-mode"},
    [GPX_F_GPU] = {"field 'gpu'", "--gpu", "the GPU Slurm allocated"},
    [GPX_F_MEMORY] = {"field 'memory'", "--memory", "--gpuplex-memory"},
    [GPX_F_WEIGHT] = {"field 'weight'", "--weight", "--gpuplex-weight"},
    [GPX_F_CAP] = {"field 'cap'", "--cap", "--gpuplex-cap"},
    [GPX_F_MIG_PROFILE] = {"field 'mig_profile'", "--mig-profile", "--gpuplex-mig"},
    [GPX_F_LABELS] = {"field 'labels'", "--label", "labels"},
    [GPX_F_OWNERS] = {"field 'owner_pids'", "owner pids", "owner pids"},
};

const char *gpx_field_name(enum gpx_field f, enum gpx_naming n)
{
    if ((unsigned)f >= GPX_F__COUNT)
        return "?";
    return field_names[f][n == GPX_NAMING_SLURM ? 2 : n == GPX_NAMING_CLI];
}

#define NAME(f) gpx_field_name((f), n)

void gpx_lease_spec_init(struct gpx_lease_spec *s)
{
    memset(s, 0, sizeof *s);
    s->mode = -1;
    s->gpu_index = -1;
}

void gpx_lease_spec_clear(struct gpx_lease_spec *s)
{
    free(s->labels);
    s->labels = NULL;
}

static int parse_uint(const char *t, unsigned long lo, unsigned long hi, unsigned long *out)
{
    char *end;
    if (!t || !isdigit((unsigned char)*t))
        return -1;
    errno = 0;
    unsigned long v = strtoul(t, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/*
 * A MIG profile name as accepted before the GPU is known: 1-31 of A-Z a-z 0-9
 * . + - _ and space ("3g.40gb", "1g.10gb+me", "MIG 1g.10gb"). Whether the
 * GPU's model has it is checked at placement, which lists the valid names.
 */
static int mig_profile_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 31)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr(".+-_ ", s[i]))
            return 0;
    return 1;
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

int gpx_lease_spec_label(struct gpx_lease_spec *s, const char *key, const char *value,
                         enum gpx_naming n, gpx_error *err)
{
    if (!label_key_ok(key))
        return gpx_error_set(err, GPX_E_INVALID,
                             "%s: label key '%.64s' is invalid (1-63 of A-Z a-z 0-9 . _ - /)",
                             NAME(GPX_F_LABELS), key);
    if (strlen(value) > 256)
        return gpx_error_set(err, GPX_E_INVALID, "%s: label '%s' must be at most 256 bytes",
                             NAME(GPX_F_LABELS), key);
    json_t *o = s->labels ? json_loads(s->labels, 0, NULL) : json_object();
    if (!o)
        return gpx_error_set(err, GPX_E_NOMEM, "labels");
    if (json_object_get(o, key)) {
        json_decref(o);
        return gpx_error_set(err, GPX_E_INVALID, "%s: label '%s' is given twice",
                             NAME(GPX_F_LABELS), key);
    }
    if (json_object_size(o) >= GPX_MAX_LABELS) {
        json_decref(o);
        return gpx_error_set(err, GPX_E_INVALID, "%s: more than %d labels", NAME(GPX_F_LABELS),
                             GPX_MAX_LABELS);
    }
    json_object_set_new(o, key, json_string(value));
    char *txt = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!txt)
        return gpx_error_set(err, GPX_E_INVALID, "%s: label '%s' is not valid UTF-8",
                             NAME(GPX_F_LABELS), key);
    if (strlen(txt) >= GPX_LABELS_JSON_MAX) {
        free(txt);
        return gpx_error_set(err, GPX_E_INVALID, "%s: larger than %d bytes as JSON",
                             NAME(GPX_F_LABELS), GPX_LABELS_JSON_MAX - 1);
    }
    free(s->labels);
    s->labels = txt;
    s->given |= 1u << GPX_F_LABELS;
    return 0;
}

int gpx_label_reserved(const char *key)
{
    return strncmp(key, GPX_LABEL_RESERVED_PREFIX, strlen(GPX_LABEL_RESERVED_PREFIX)) == 0;
}

int gpx_lease_spec_user_label(struct gpx_lease_spec *s, const char *key, const char *value,
                              enum gpx_naming n, gpx_error *err)
{
    if (gpx_label_reserved(key))
        return gpx_error_set(err, GPX_E_INVALID,
                             "%s: label key '%.64s' is reserved: keys starting with '%s' are "
                             "set by gpuplexd itself (a lease made for containers: %s)",
                             NAME(GPX_F_LABELS), key, GPX_LABEL_RESERVED_PREFIX,
                             n == GPX_NAMING_CLI ? "--for-container or run --container"
                                                 : "\"for_container\": true");
    return gpx_lease_spec_label(s, key, value, n, err);
}

int gpx_lease_spec_set(struct gpx_lease_spec *s, enum gpx_field f, const char *t, enum gpx_naming n,
                       gpx_error *err)
{
    unsigned long v = 0;
    if (!t)
        t = "";
    switch (f) {
    case GPX_F_MODE:
        s->mode = gpx_lease_mode_parse(t);
        if (s->mode < 0)
            return gpx_error_set(err, GPX_E_INVALID,
                                 "%s must be one of exclusive, mig, vgpu, timeslice, not '%.32s'",
                                 NAME(f), t);
        break;
    case GPX_F_GPU:
        s->gpu_index = -1;
        s->gpu_uuid[0] = '\0';
        if (parse_uint(t, 0, 1023, &v) == 0) {
            s->gpu_index = (int)v;
        } else if ((strncasecmp(t, "GPU-", 4) == 0 || strncasecmp(t, "MIG-", 4) == 0) &&
                   strlen(t) < sizeof s->gpu_uuid) {
            memcpy(s->gpu_uuid, t, strlen(t) + 1);
        } else {
            return gpx_error_set(err, GPX_E_INVALID,
                                 "%s must be a GPU index or a UUID (GPU-...), not '%.100s' (see "
                                 "'gpuplex ls')",
                                 NAME(f), t);
        }
        break;
    case GPX_F_MEMORY:
        if (gpx_size_parse_unit(t, &s->memory, err) < 0)
            return gpx_error_wrap(err, "%s", NAME(f));
        if (s->memory > (uint64_t)INT64_MAX) /* JSON integers are int64: one limit everywhere */
            return gpx_error_set(err, GPX_E_INVALID, "%s: size '%.40s' is too large", NAME(f), t);
        if (s->memory < GPX_MIN_MEMORY)
            return gpx_error_set(err, GPX_E_INVALID, "%s must be at least 1M", NAME(f));
        break;
    case GPX_F_WEIGHT:
        if (parse_uint(t, 1, GPX_MAX_WEIGHT, &v) < 0)
            return gpx_error_set(err, GPX_E_INVALID,
                                 "%s must be a whole number from 1 to %d, not '%.32s'", NAME(f),
                                 GPX_MAX_WEIGHT, t);
        s->weight = (unsigned)v;
        break;
    case GPX_F_CAP:
        if (parse_uint(t, 1, 100, &v) < 0)
            return gpx_error_set(err, GPX_E_INVALID,
                                 "%s must be a percentage from 1 to 100, not '%.32s'", NAME(f), t);
        s->cap = (unsigned)v;
        break;
    case GPX_F_MIG_PROFILE:
        if (!mig_profile_ok(t))
            return gpx_error_set(err, GPX_E_INVALID,
                                 "%s must be a MIG profile name such as 3g.40gb, not '%.40s'",
                                 NAME(f), t);
        snprintf(s->mig_profile, sizeof s->mig_profile, "%s", t);
        break;
    case GPX_F_LABELS: {
        const char *eq = strchr(t, '=');
        if (!eq || eq == t)
            return gpx_error_set(err, GPX_E_INVALID, "%s needs KEY=VALUE, not '%.64s'", NAME(f), t);
        char key[128];
        if ((size_t)(eq - t) >= sizeof key)
            return gpx_error_set(err, GPX_E_INVALID, "%s: label key too long", NAME(f));
        memcpy(key, t, (size_t)(eq - t));
        key[eq - t] = '\0';
        return gpx_lease_spec_user_label(s, key, eq + 1, n, err);
    }
    case GPX_F_OWNERS:
        if (parse_uint(t, 1, 0x7fffffff, &v) < 0)
            return gpx_error_set(err, GPX_E_INVALID, "%s: '%.32s' is not a process id", NAME(f), t);
        if (s->n_owners == GPX_MAX_OWNERS)
            return gpx_error_set(err, GPX_E_INVALID, "%s: at most %d", NAME(f), GPX_MAX_OWNERS);
        s->owners[s->n_owners++] = (int32_t)v;
        break;
    default:
        return gpx_error_set(err, GPX_E_INTERNAL, "unknown lease field %d", (int)f);
    }
    s->given |= 1u << f;
    return 0;
}

int gpx_lease_spec_check(struct gpx_lease_spec *s, int default_mode, enum gpx_naming n,
                         gpx_error *err)
{
    int has_memory = !!(s->given & 1u << GPX_F_MEMORY) || s->memory;
    int has_weight = !!(s->given & 1u << GPX_F_WEIGHT);
    int has_cap = !!(s->given & 1u << GPX_F_CAP) || s->cap;
    int has_mig = s->mig_profile[0] != '\0';
    if (s->mode < 0) {
        if (!default_mode)
            return gpx_error_set(err, GPX_E_INVALID,
                                 "%s is required (exclusive, mig, vgpu or timeslice)",
                                 NAME(GPX_F_MODE));
        s->mode = has_mig                   ? GPX_MODE_MIG
                  : has_memory              ? GPX_MODE_VGPU
                  : (has_weight || has_cap) ? GPX_MODE_TIMESLICE
                                            : GPX_MODE_EXCLUSIVE;
    }
    const char *m = gpx_lease_mode_name((enum gpx_lease_mode)s->mode);
    if (!m || gpx_lease_mode_parse(m) != s->mode)
        return gpx_error_set(err, GPX_E_INVALID,
                             "%s must be one of exclusive, mig, vgpu, timeslice", NAME(GPX_F_MODE));
    if (has_memory && (s->mode == GPX_MODE_EXCLUSIVE || s->mode == GPX_MODE_MIG))
        return gpx_error_set(err, GPX_E_INVALID,
                             "%s does not apply to %s leases (they get the whole %s's memory; "
                             "use mode vgpu or timeslice for a quota)",
                             NAME(GPX_F_MEMORY), m, s->mode == GPX_MODE_MIG ? "instance" : "GPU");
    if (s->mode == GPX_MODE_VGPU && !has_memory)
        return gpx_error_set(err, GPX_E_INVALID, "vgpu leases need %s (e.g. 8G)",
                             NAME(GPX_F_MEMORY));
    /* A shared lease may carry both: a weight (its share, work-conserving above it) and
     * a cap (a hard ceiling), as Run:ai's "fair" and "strict" (docs/timeslice.md). */
    if ((has_weight || has_cap) && s->mode != GPX_MODE_TIMESLICE && s->mode != GPX_MODE_VGPU)
        return gpx_error_set(err, GPX_E_INVALID, "%s apply to timeslice and vgpu leases only",
                             n == GPX_NAMING_API     ? "fields 'weight' and 'cap'"
                             : n == GPX_NAMING_SLURM ? "--gpuplex-weight and --gpuplex-cap"
                                                     : "--weight and --cap");
    if (has_mig != (s->mode == GPX_MODE_MIG))
        return gpx_error_set(err, GPX_E_INVALID,
                             has_mig ? "%s applies to mig leases only"
                                     : "mig leases need %s (e.g. 3g.40gb)",
                             NAME(GPX_F_MIG_PROFILE));
    if (s->memory && s->memory < GPX_MIN_MEMORY)
        return gpx_error_set(err, GPX_E_INVALID, "%s must be at least 1M", NAME(GPX_F_MEMORY));
    if (s->weight > GPX_MAX_WEIGHT || s->cap > 100)
        return gpx_error_set(err, GPX_E_INVALID, "%s or %s out of range", NAME(GPX_F_WEIGHT),
                             NAME(GPX_F_CAP));
    if ((s->mode == GPX_MODE_TIMESLICE || s->mode == GPX_MODE_VGPU) && !s->weight)
        s->weight = GPX_DEFAULT_WEIGHT;
    return 0;
}

/* --- names and times ------------------------------------------------------------------------ */

int gpx_valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= GPX_NAME_MAX)
        return 0;
    if (!islower((unsigned char)s[0]) && !isdigit((unsigned char)s[0]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && !strchr("._-", s[i]))
            return 0;
    return 1;
}

int gpx_parse_time(const char *s, int64_t *ns, gpx_error *err)
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

int gpx_lease_state_parse(const char *s)
{
    static const char *const names[] = {"pending", "active", "released", "aborted", "all"};
    for (int i = 0; i < 5; i++)
        if (s && strcmp(s, names[i]) == 0)
            return i;
    return -1;
}
