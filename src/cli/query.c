/*
 * nvidia-smi's query mode (see query.h). Field names, header names, units and
 * value formats follow nvidia-smi (`nvidia-smi --help-query-gpu`); a header
 * shows a field's canonical name, as nvidia-smi's does (clocks.sm prints as
 * clocks.current.sm). Lease fields are gpuplex's, named after the lease's
 * JSON keys (docs/api.md) in the same dotted style.
 */
#include "cli/query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIB (1024ULL * 1024ULL)
#define NA  "[N/A]"

/* Writes a value of row i into buf; 0 when it is not known ([N/A]). */
typedef int (*value_fn)(const struct gpx_sample *s, unsigned i, char *buf, size_t len);

struct field {
    const char *name;  /* what the header prints */
    const char *alias; /* other accepted names, ' '-separated; NULL: none */
    const char *unit;  /* "MiB": "[MiB]" in the header, " MiB" after values; NULL: none */
    value_fn value;
};

/* --- GPU fields ------------------------------------------------------------------------------ */

#define GI(s, i) (&(s)->node.gpus[i].info)

static int g_index(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    return snprintf(b, n, "%u", GI(s, i)->index), 1;
}
static int g_name(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    return snprintf(b, n, "%s", GI(s, i)->name), 1;
}
static int g_uuid(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    return snprintf(b, n, "%s", GI(s, i)->uuid), 1;
}
static int g_bus(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    snprintf(b, n, "%s", GI(s, i)->pci_bus_id);
    return !!(GI(s, i)->valid & GPX_INV_PCI);
}
static int g_mem_total(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    return snprintf(b, n, "%llu", (unsigned long long)(GI(s, i)->memory_total / MIB)), 1;
}
static int g_mem_used(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    return snprintf(b, n, "%llu", (unsigned long long)(GI(s, i)->memory_used / MIB)), 1;
}
static int g_mem_free(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    return snprintf(b, n, "%llu", (unsigned long long)(GI(s, i)->memory_free / MIB)), 1;
}
static int g_util(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    snprintf(b, n, "%u", GI(s, i)->util_gpu);
    return !!(GI(s, i)->valid & GPX_INV_UTIL);
}
static int g_util_mem(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    snprintf(b, n, "%u", GI(s, i)->util_memory);
    return !!(GI(s, i)->valid & GPX_INV_UTIL);
}
static int g_temp(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    snprintf(b, n, "%u", GI(s, i)->temperature_c);
    return !!(GI(s, i)->valid & GPX_INV_TEMP);
}
static int g_power(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    snprintf(b, n, "%.2f", GI(s, i)->power_mw / 1000.0);
    return !!(GI(s, i)->valid & GPX_INV_POWER);
}
static int g_power_limit(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    snprintf(b, n, "%.2f", GI(s, i)->power_limit_mw / 1000.0);
    return !!(GI(s, i)->valid & GPX_INV_POWER_LIMIT);
}
static int g_clk_sm(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    snprintf(b, n, "%u", GI(s, i)->sm_clock_mhz);
    return !!(GI(s, i)->valid & GPX_INV_SM_CLOCK);
}
static int g_clk_mem(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    snprintf(b, n, "%u", GI(s, i)->mem_clock_mhz);
    return !!(GI(s, i)->valid & GPX_INV_MEM_CLOCK);
}
static int g_mig(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    snprintf(b, n, "%s", GI(s, i)->mig_current == NVML_DEVICE_MIG_ENABLE ? "Enabled" : "Disabled");
    return !!(GI(s, i)->valid & GPX_INV_MIG);
}

/* nvidia-smi's driver_version: the node's, on every row */
static int g_driver(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    (void)i;
    snprintf(b, n, "%s", s->node.driver_version);
    return s->node.driver_version[0] != '\0';
}

static const struct field gpu_fields[] = {
    {"index", NULL, NULL, g_index},
    {"name", "gpu_name", NULL, g_name},
    {"uuid", "gpu_uuid", NULL, g_uuid},
    {"pci.bus_id", "gpu_bus_id", NULL, g_bus},
    {"memory.total", NULL, "MiB", g_mem_total},
    {"memory.used", NULL, "MiB", g_mem_used},
    {"memory.free", NULL, "MiB", g_mem_free},
    {"utilization.gpu", NULL, "%", g_util},
    {"utilization.memory", NULL, "%", g_util_mem},
    {"temperature.gpu", NULL, NULL, g_temp},
    {"power.draw", NULL, "W", g_power},
    {"power.limit", NULL, "W", g_power_limit},
    {"clocks.current.sm", "clocks.sm", "MHz", g_clk_sm},
    {"clocks.current.memory", "clocks.mem clocks.memory", "MHz", g_clk_mem},
    {"mig.mode.current", NULL, NULL, g_mig},
    {"driver_version", NULL, NULL, g_driver},
};

/* --- lease fields ---------------------------------------------------------------------------- */

#define LR(s, i) (&(s)->leases[i].rec)

static int l_id(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    return snprintf(b, n, "%s", LR(s, i)->id), 1;
}
static int l_tenant(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    return snprintf(b, n, "%s", LR(s, i)->tenant), 1;
}
static int l_state(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    return snprintf(b, n, "%s", gpx_lease_state_name((enum gpx_lease_state)LR(s, i)->state)), 1;
}
static int l_mode(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    return snprintf(b, n, "%s", gpx_lease_mode_name((enum gpx_lease_mode)LR(s, i)->mode)), 1;
}
static int l_gpu_index(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    return snprintf(b, n, "%u", LR(s, i)->gpu_index), 1;
}
static int l_gpu_uuid(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    return snprintf(b, n, "%s", LR(s, i)->gpu_uuid), 1;
}
static int l_quota(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    /* as lease ls and dmon: the GPU's (instance's) memory of an exclusive (mig) lease */
    uint64_t held = gpx_lease_held_memory(LR(s, i));
    snprintf(b, n, "%llu", (unsigned long long)(held / MIB));
    return held != 0;
}
static int l_used(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    uint64_t used = 0;
    int known = gpx_sample_lease_memory(s, i, &used);
    snprintf(b, n, "%llu", (unsigned long long)(used / MIB));
    return known;
}
/* Its GPU utilization by the engine's rule: NVML's figure now, or for an arbitrated lease
 * (one sample, no interval) the average since it began; [N/A] where not known (mig). */
static int l_util(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    double u = gpx_lease_util(&s->leases[i], 0, s->leases[i].lease_seconds);
    snprintf(b, n, "%.0f", u * 100);
    return u >= 0;
}
static int l_peak(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    snprintf(b, n, "%llu", (unsigned long long)(s->leases[i].peak_bytes / MIB));
    return s->leases[i].live;
}
static int l_procs(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    snprintf(b, n, "%u", s->leases[i].nprocs);
    return s->leases[i].live;
}
static int l_weight(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    int m = LR(s, i)->mode;
    snprintf(b, n, "%u", LR(s, i)->weight ? LR(s, i)->weight : 1);
    return m == GPX_MODE_VGPU || m == GPX_MODE_TIMESLICE;
}
static int l_cap(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    snprintf(b, n, "%u", LR(s, i)->cap);
    return LR(s, i)->cap != 0;
}
static int l_mig_profile(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    snprintf(b, n, "%s", LR(s, i)->mig_profile);
    return LR(s, i)->mig_profile[0] != 0;
}
static int l_mig_uuid(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    snprintf(b, n, "%s", LR(s, i)->mig_uuid);
    return LR(s, i)->mig_uuid[0] != 0;
}
static int l_gpu_seconds(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    return snprintf(b, n, "%.3f", (double)s->leases[i].gpu_ns / 1e9), 1;
}
static int l_wait_seconds(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    return snprintf(b, n, "%.3f", (double)s->leases[i].wait_ns / 1e9), 1;
}
static int l_lease_seconds(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    return snprintf(b, n, "%.3f", s->leases[i].lease_seconds), 1;
}
static int l_created(const struct gpx_sample *s, unsigned i, char *b, size_t n)
{
    time_t t = (time_t)(LR(s, i)->created_ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(b, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return 1;
}

static const struct field lease_fields[] = {
    {"id", NULL, NULL, l_id},
    {"tenant", NULL, NULL, l_tenant},
    {"state", NULL, NULL, l_state},
    {"mode", NULL, NULL, l_mode},
    {"gpu.index", "gpu_index", NULL, l_gpu_index},
    {"gpu.uuid", "gpu_uuid", NULL, l_gpu_uuid},
    {"memory.quota", "memory_bytes", "MiB", l_quota},
    {"memory.used", "used_bytes", "MiB", l_used},
    {"memory.peak", "peak_bytes", "MiB", l_peak},
    {"utilization.gpu", NULL, "%", l_util},
    {"processes", NULL, NULL, l_procs},
    {"weight", NULL, NULL, l_weight},
    {"cap", "cap_pct", "%", l_cap},
    {"mig.profile", "mig_profile", NULL, l_mig_profile},
    {"mig.uuid", NULL, NULL, l_mig_uuid},
    {"gpu_seconds", NULL, "s", l_gpu_seconds},
    {"wait_seconds", NULL, "s", l_wait_seconds},
    {"lease_seconds", NULL, "s", l_lease_seconds},
    {"created", NULL, NULL, l_created},
};

#define N_GPU_FIELDS   (sizeof gpu_fields / sizeof gpu_fields[0])
#define N_LEASE_FIELDS (sizeof lease_fields / sizeof lease_fields[0])

static const struct field *table(int lease, unsigned *n)
{
    *n = lease ? (unsigned)N_LEASE_FIELDS : (unsigned)N_GPU_FIELDS;
    return lease ? lease_fields : gpu_fields;
}

/* Whether `word` is in the ' '-separated list `aliases`. */
static int has_alias(const char *aliases, const char *word)
{
    size_t w = strlen(word);
    for (const char *p = aliases; p && *p;) {
        size_t k = strcspn(p, " ");
        if (k == w && strncmp(p, word, w) == 0)
            return 1;
        p += k;
        p += *p == ' ';
    }
    return 0;
}

int gpx_query_fields(struct gpx_query *q, int lease, const char *list, gpx_error *err)
{
    const char *flag = lease ? "--query-lease" : "--query-gpu";
    unsigned nt;
    const struct field *t = table(lease, &nt);
    q->lease = lease;
    q->n = 0;
    q->header = q->units = 1;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *f = strtok_r(buf, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        while (*f == ' ')
            f++;
        for (size_t e = strlen(f); e && f[e - 1] == ' '; e--)
            f[e - 1] = '\0';
        int found = -1;
        for (unsigned k = 0; k < nt && found < 0; k++)
            if (strcmp(t[k].name, f) == 0 || has_alias(t[k].alias, f))
                found = (int)k;
        if (found < 0) {
            /* nvidia-smi's own words, on standard output as it prints them (exit 2): scripts
             * that drop the fields an older nvidia-smi lacks look for this line */
            if (!lease) {
                printf("Field \"%s\" is not a valid field to query.\n\n", f);
                fflush(stdout);
            }
            char valid[1024] = "";
            size_t n = 0;
            for (unsigned k = 0; k < nt; k++)
                n += (size_t)snprintf(valid + n, sizeof valid - n, "%s%s%s%s%s", k ? ", " : "",
                                      t[k].name, t[k].alias ? " (or " : "",
                                      t[k].alias ? t[k].alias : "", t[k].alias ? ")" : "");
            return gpx_error_set(err, GPX_E_USAGE, "%s: unknown field '%s'; valid fields: %s", flag,
                                 f, valid);
        }
        if (q->n == GPX_QUERY_MAX_FIELDS)
            return gpx_error_set(err, GPX_E_USAGE, "%s: at most %d fields", flag,
                                 GPX_QUERY_MAX_FIELDS);
        q->field[q->n++] = found;
    }
    if (!q->n)
        return gpx_error_set(err, GPX_E_USAGE, "%s needs a comma list of fields", flag);
    return 0;
}

int gpx_query_format(struct gpx_query *q, const char *fmt, gpx_error *err)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", fmt);
    int csv = 0;
    q->header = q->units = 1;
    for (char *save = NULL, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        while (*w == ' ')
            w++;
        if (strcmp(w, "csv") == 0)
            csv = 1;
        else if (strcmp(w, "noheader") == 0)
            q->header = 0;
        else if (strcmp(w, "nounits") == 0)
            q->units = 0;
        else
            return gpx_error_set(err, GPX_E_USAGE,
                                 "--format: unknown '%s'; valid: csv, noheader, nounits "
                                 "(e.g. --format=csv,noheader)",
                                 w);
    }
    if (!csv)
        return gpx_error_set(err, GPX_E_USAGE,
                             "--format needs csv (as nvidia-smi's: csv[,noheader][,nounits])");
    return 0;
}

void gpx_query_print(const struct gpx_query *q, const struct gpx_sample *s)
{
    unsigned nt;
    const struct field *t = table(q->lease, &nt);
    if (q->header) {
        for (unsigned k = 0; k < q->n; k++) {
            const struct field *f = &t[q->field[k]];
            printf("%s%s", k ? ", " : "", f->name);
            if (f->unit && q->units)
                printf(" [%s]", f->unit);
        }
        putchar('\n');
    }
    unsigned rows = q->lease ? s->n_leases : s->node.count;
    for (unsigned i = 0; i < rows; i++) {
        for (unsigned k = 0; k < q->n; k++) {
            const struct field *f = &t[q->field[k]];
            char v[256];
            int known = f->value(s, i, v, sizeof v);
            printf("%s%s", k ? ", " : "", known ? v : NA);
            if (known && f->unit && q->units)
                printf(" %s", f->unit);
        }
        putchar('\n');
    }
}

void gpx_query_list_gpus(const struct gpx_sample *s)
{
    for (unsigned g = 0; g < s->node.count; g++) {
        const struct gpx_gpu_info *gi = &s->node.gpus[g].info;
        printf("GPU %u: %s (UUID: %s)\n", gi->index, gi->name, gi->uuid);
        unsigned dev = 0;
        for (unsigned k = 0; k < s->n_mig; k++) {
            const struct gpx_sample_mig *m = &s->mig[k];
            if (m->gpu != gi->index || !m->uuid[0])
                continue; /* a GPU instance without a compute instance is no MIG device */
            printf("  MIG %-11s Device %2u: (UUID: %s)\n", m->profile[0] ? m->profile : "-", dev++,
                   m->uuid);
        }
    }
}
