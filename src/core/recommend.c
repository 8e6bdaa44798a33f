/*
 * gpuplex recommend's rules (recommend.h): the seed's guidance as one table,
 * and the step that fits the guidance's choice to what the node can grant now.
 *
 * The table is the only place the guidance lives: each rule's condition (a
 * function and the same in words), its candidates in order, its reason and the
 * seed line. Fitting is generic over candidates: a mode is available where a
 * GPU can take it now (exclusive: a GPU without leases; mig: a free instance
 * of a profile that holds the memory; vgpu/timeslice: memory quota free on a
 * GPU that shares; vm delivery: an IOMMU group that can be passed through or
 * a vGPU type with room), and a candidate that isolates less than the
 * workload asks for is never offered.
 */
#include "core/recommend.h"

#include "core/size.h"
#include "shm/lease.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GIB (1024ULL * 1024 * 1024)
#define DAY (24 * 3600)

static const char *const kind_names[] = {"training", "fine-tuning", "inference", "development",
                                         "batch",    "ci",          NULL};
static const char *const tenants_names[] = {"one", "several", NULL};
static const char *const isolation_names[] = {"none", "process", "hardware", "compliance", NULL};
static const char *const os_names[] = {"linux", "windows", NULL};
static const char *const delivery_names[] = {"process", "container", "vm", NULL};

const char *gpx_rec_kind_name(int k)
{
    return k >= 0 && k <= GPX_REC_CI ? kind_names[k] : "-";
}

const char *gpx_rec_delivery_name(int d)
{
    return d >= 0 && d <= GPX_REC_VM ? delivery_names[d] : "-";
}

const char *gpx_rec_isolation_name(int i)
{
    return i >= 0 && i <= GPX_REC_ISO_COMPLIANCE ? isolation_names[i] : "-";
}

void gpx_rec_workload_init(struct gpx_rec_workload *w)
{
    memset(w, 0, sizeof *w);
    w->kind = w->tenants = w->isolation = w->os = -1;
    w->utilization = -1;
    w->duration_s = -1;
}

/* --- input ---------------------------------------------------------------------------------- */

static void join(const char *const *names, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; names[i] && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", names[i]);
}

static int pick_name(const char *const *names, const char *v, const char *what, int *out,
                     gpx_error *err)
{
    for (int i = 0; names[i]; i++)
        if (!strcasecmp(v, names[i])) {
            *out = i;
            return 0;
        }
    char valid[160];
    join(names, valid, sizeof valid);
    return gpx_error_set(err, GPX_E_INVALID, "%s: '%s' is not one of %s", what, v, valid);
}

static int parse_uint(const char *v, unsigned long max, unsigned long *out)
{
    if (!*v || !isdigit((unsigned char)*v))
        return -1;
    char *end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (errno || *end || x > max)
        return -1;
    *out = x;
    return 0;
}

int gpx_rec_parse_duration(const char *s, int64_t *out)
{
    static const struct {
        char unit;
        int64_t s;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', DAY}, {'w', 7 * DAY}};
    size_t n = strlen(s);
    if (n < 2)
        return -1;
    char num[24];
    if (n - 1 >= sizeof num)
        return -1;
    memcpy(num, s, n - 1);
    num[n - 1] = 0;
    unsigned long x;
    if (parse_uint(num, 100000000UL, &x) < 0)
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (s[n - 1] == units[i].unit) {
            *out = (int64_t)x * units[i].s;
            return 0;
        }
    return -1;
}

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"true", "yes", "1", "on"}, *const no[] = {"false", "no", "0",
                                                                                "off"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i]))
            return *out = 1, 0;
        if (!strcasecmp(v, no[i]))
            return *out = 0, 0;
    }
    return -1;
}

static const char *const key_names[] = {
    "kind",     "tenants",           "isolation",     "os", "memory", "utilization",
    "duration", "latency-sensitive", "users-per-gpu", NULL};

const char *gpx_rec_keys(void)
{
    return "kind, tenants, isolation, os, memory, utilization, duration, latency-sensitive, "
           "users-per-gpu";
}

int gpx_rec_set(struct gpx_rec_workload *w, const char *key, const char *value,
                enum gpx_rec_naming n, gpx_error *err)
{
    char k[32];
    size_t kl = strlen(key);
    int idx = -1;
    if (kl < sizeof k) {
        for (size_t i = 0; i <= kl; i++)
            k[i] = key[i] == '_' && n == GPX_REC_KEY ? '-' : key[i];
        for (int i = 0; key_names[i]; i++)
            if (!strcmp(k, key_names[i]))
                idx = i;
    }
    if (idx < 0)
        return gpx_error_set(err, GPX_E_INVALID, "unknown key '%s'; valid keys: %s", key,
                             gpx_rec_keys());
    char what[48];
    if (n == GPX_REC_FLAG)
        snprintf(what, sizeof what, "--%s", k);
    else
        snprintf(what, sizeof what, "key '%s'", k);
    unsigned long x;
    switch (idx) {
    case 0:
        return pick_name(kind_names, value, what, &w->kind, err);
    case 1:
        return pick_name(tenants_names, value, what, &w->tenants, err);
    case 2:
        return pick_name(isolation_names, value, what, &w->isolation, err);
    case 3:
        return pick_name(os_names, value, what, &w->os, err);
    case 4:
        if (gpx_size_parse_unit(value, &w->memory, NULL) < 0 || w->memory == 0)
            return gpx_error_set(err, GPX_E_INVALID,
                                 "%s: '%s' is not a size with a unit (e.g. 24G, 4096M)", what,
                                 value);
        return 0;
    case 5: {
        char v[16];
        size_t vl = strlen(value);
        if (vl && vl < sizeof v) {
            memcpy(v, value, vl + 1);
            if (v[vl - 1] == '%')
                v[vl - 1] = 0;
            if (parse_uint(v, 100, &x) == 0) {
                w->utilization = (int)x;
                return 0;
            }
        }
        return gpx_error_set(err, GPX_E_INVALID, "%s: '%s' is not a percentage 0-100", what, value);
    }
    case 6:
        if (gpx_rec_parse_duration(value, &w->duration_s) < 0)
            return gpx_error_set(err, GPX_E_INVALID,
                                 "%s: '%s' is not a duration: a number and one of s, m, h, d, w "
                                 "(30m, 14d)",
                                 what, value);
        return 0;
    case 7:
        if (parse_bool(value, &w->latency_sensitive) < 0)
            return gpx_error_set(err, GPX_E_INVALID, "%s: '%s' is not one of true, false", what,
                                 value);
        return 0;
    default:
        if (parse_uint(value, 1000, &x) < 0 || x == 0)
            return gpx_error_set(err, GPX_E_INVALID, "%s: '%s' is not a whole number 1-1000", what,
                                 value);
        w->users_per_gpu = (unsigned)x;
        return 0;
    }
}

/* --- the rules ------------------------------------------------------------------------------ */

#define EX   GPX_MODE_EXCLUSIVE
#define MIG  GPX_MODE_MIG
#define VGPU GPX_MODE_VGPU
#define TS   GPX_MODE_TIMESLICE
#define C(m, d)                                                                                    \
    {                                                                                              \
        m, GPX_REC_##d                                                                             \
    }
#define END                                                                                        \
    {                                                                                              \
        -1, 0                                                                                      \
    }

static int is_training(const struct gpx_rec_workload *w)
{
    return w->kind == GPX_REC_TRAINING || w->kind == GPX_REC_FINE_TUNING;
}

static int m_windows(const struct gpx_rec_workload *w)
{
    return w->os == GPX_REC_WINDOWS;
}
static int m_compliance(const struct gpx_rec_workload *w)
{
    return w->isolation == GPX_REC_ISO_COMPLIANCE;
}
static int m_multi_tenant(const struct gpx_rec_workload *w)
{
    return w->isolation == GPX_REC_ISO_HARDWARE && w->tenants == GPX_REC_SEVERAL;
}
static int m_isolated_sharing(const struct gpx_rec_workload *w)
{
    return w->isolation == GPX_REC_ISO_HARDWARE &&
           (w->kind == GPX_REC_INFERENCE || w->kind == GPX_REC_DEVELOPMENT ||
            w->kind == GPX_REC_CI);
}
static int m_long_training(const struct gpx_rec_workload *w)
{
    return is_training(w) && w->duration_s >= DAY;
}
static int m_llm_training(const struct gpx_rec_workload *w)
{
    return w->kind == GPX_REC_TRAINING && w->duration_s < 0;
}
static int m_short_training(const struct gpx_rec_workload *w)
{
    return is_training(w);
}
static int m_realtime(const struct gpx_rec_workload *w)
{
    return w->kind == GPX_REC_INFERENCE && w->latency_sensitive;
}
static int m_development(const struct gpx_rec_workload *w)
{
    return w->kind == GPX_REC_DEVELOPMENT;
}
static int m_inference_services(const struct gpx_rec_workload *w)
{
    return w->kind == GPX_REC_INFERENCE &&
           (w->tenants == GPX_REC_SEVERAL || w->users_per_gpu >= 2 ||
            (w->utilization >= 0 && w->utilization < 50));
}
static int m_inference(const struct gpx_rec_workload *w)
{
    return w->kind == GPX_REC_INFERENCE;
}
static int m_ci(const struct gpx_rec_workload *w)
{
    return w->kind == GPX_REC_CI;
}
static int m_oversubscription(const struct gpx_rec_workload *w)
{
    return w->users_per_gpu >= 2 || w->tenants == GPX_REC_SEVERAL;
}
static int m_light_batch(const struct gpx_rec_workload *w)
{
    return w->kind == GPX_REC_BATCH && w->utilization >= 0 && w->utilization < 50;
}
static int m_batch(const struct gpx_rec_workload *w)
{
    return w->kind == GPX_REC_BATCH;
}
static int m_any(const struct gpx_rec_workload *w)
{
    (void)w;
    return 1;
}

/* First match decides: the isolation a workload demands before what it is. */
const struct gpx_rec_rule gpx_rec_rules[] = {
    {"windows",
     "--os windows",
     m_windows,
     {C(EX, VM), C(VGPU, VM), END},
     "CUDA on Windows needs a Windows kernel: a VM with the GPU passed through (or a vGPU type); "
     "a container shares the host's Linux kernel",
     "Choose VMs with GPU Passthrough When: Windows GPU workloads - CUDA on Windows"},
    {"compliance",
     "--isolation compliance",
     m_compliance,
     {C(EX, VM), C(EX, CONTAINER), END},
     "PCI-DSS/HIPAA-style separation: a whole GPU in a VM of its own shares no memory, kernel or "
     "driver with another tenant",
     "Choose VMs with GPU Passthrough When: Compliance requirements - PCI-DSS, HIPAA workloads"},
    {"multi-tenant",
     "--isolation hardware --tenants several",
     m_multi_tenant,
     {C(EX, VM), C(MIG, CONTAINER), C(EX, CONTAINER), END},
     "different customers on one node: each gets a GPU in its own VM (hardware isolation, its "
     "own kernel)",
     "Choose VMs with GPU Passthrough When: Multi-tenant GPU cloud - Different customers need "
     "isolation"},
    {"isolated-sharing",
     "--isolation hardware, --kind inference|development|ci",
     m_isolated_sharing,
     {C(MIG, CONTAINER), C(EX, CONTAINER), C(EX, VM), END},
     "small workloads that must not see each other: MIG slices isolate memory and compute in "
     "hardware and still share the GPU",
     "| VM + MIG | Excellent | 95-100% | Low | Medium |"},
    {"long-training",
     "--kind training|fine-tuning, --duration 1d or more",
     m_long_training,
     {C(EX, VM), C(EX, CONTAINER), END},
     "days or weeks on a dedicated GPU: a VM keeps the environment stable and the GPU its own",
     "Choose VMs with GPU Passthrough When: Long-running training - Dedicated GPU for days/weeks"},
    {"llm-training",
     "--kind training (no --duration)",
     m_llm_training,
     {C(EX, VM), C(EX, CONTAINER), END},
     "large-model training is long-running and needs stability: a whole GPU, IaaS-style",
     "| LLM Training | VM/IaaS | Long-running, needs stability |"},
    {"short-training",
     "--kind training|fine-tuning, --duration under 1d",
     m_short_training,
     {C(EX, CONTAINER), C(VGPU, CONTAINER), END},
     "a training run of hours: a whole GPU in a container runs at native speed without a VM's "
     "setup",
     "Container (native) 99.8% (Benchmark: Fine-tuning BERT-large, A100 40GB)"},
    {"realtime-inference",
     "--kind inference --latency-sensitive",
     m_realtime,
     {C(MIG, CONTAINER), C(EX, CONTAINER), END},
     "predictable latency needs resources nobody else touches: a MIG slice's guaranteed "
     "resources or a whole GPU, never time-slicing",
     "Time-Slicing, not good for: Real-time inference, Predictable latency; MIG: Guaranteed "
     "resources"},
    {"development",
     "--kind development",
     m_development,
     {C(VGPU, CONTAINER), C(TS, CONTAINER), C(MIG, CONTAINER), END},
     "developers use a GPU in bursts: slices of one GPU (memory quota each) share it cheaply",
     "| Development | Container/vGPU | Cost-efficient sharing |"},
    {"inference-services",
     "--kind inference with --tenants several, --users-per-gpu 2+ or "
     "--utilization under 50",
     m_inference_services,
     {C(MIG, CONTAINER), C(VGPU, CONTAINER), C(TS, CONTAINER), END},
     "many small models: each gets a slice (MIG, else a vGPU-style quota) of one GPU",
     "Choose VMs with vGPU/MIG When: Inference services - Many small models"},
    {"production-inference",
     "--kind inference",
     m_inference,
     {C(EX, CONTAINER), C(MIG, CONTAINER), C(VGPU, CONTAINER), END},
     "a serving container scales up and down quickly; a busy model keeps a GPU to itself",
     "| Model Serving | Container | Scale up/down quickly | and | Production Inference | "
     "Container + K8s | Auto-scaling, orchestration |"},
    {"ci",
     "--kind ci",
     m_ci,
     {C(TS, CONTAINER), C(VGPU, CONTAINER), END},
     "quick GPU tests: a weighted turn on a shared GPU, in a container, is enough",
     "Choose Containers for GPU When: CI/CD pipelines - Quick GPU testing"},
    {"oversubscription",
     "--users-per-gpu 2+ or --tenants several",
     m_oversubscription,
     {C(VGPU, CONTAINER), C(TS, CONTAINER), END},
     "more users than GPUs: fixed slices (memory quota, compute cap) of one GPU",
     "Choose VMs with vGPU/MIG When: GPU oversubscription - More users than GPUs"},
    {"light-batch",
     "--kind batch --utilization under 50",
     m_light_batch,
     {C(TS, CONTAINER), C(VGPU, CONTAINER), END},
     "light jobs leave most of a GPU idle: weighted time-slicing fills it at the lowest cost",
     "Time-Slicing, good for: Light inference workloads, Cost optimization"},
    {"batch",
     "--kind batch",
     m_batch,
     {C(EX, CONTAINER), C(VGPU, CONTAINER), END},
     "short-lived GPU jobs: a container with a whole GPU, released when the job ends",
     "Choose Containers for GPU When: Batch processing - Short-lived GPU jobs"},
    {"default",
     "anything else",
     m_any,
     {C(EX, CONTAINER), C(VGPU, CONTAINER), END},
     "containers with GPU access: the best balance of performance, flexibility and cost",
     "For most AI/ML workloads today, containers with proper GPU access provide the best balance "
     "of performance, flexibility, and cost."},
};
const unsigned gpx_rec_rule_count = sizeof gpx_rec_rules / sizeof gpx_rec_rules[0];

const struct gpx_rec_rule *gpx_rec_match(const struct gpx_rec_workload *w)
{
    for (unsigned i = 0; i < gpx_rec_rule_count; i++)
        if (gpx_rec_rules[i].match(w))
            return &gpx_rec_rules[i];
    return &gpx_rec_rules[gpx_rec_rule_count - 1];
}

static void cand_name(const struct gpx_rec_candidate *c, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", gpx_lease_mode_name((enum gpx_lease_mode)c->mode),
             gpx_rec_delivery_name(c->delivery));
}

/* A growing string; ok stays 0 once an allocation failed. */
struct sbuf {
    char *p;
    size_t n, cap;
    int ok;
};

static void sb_add(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
    if (!b->ok)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0 || b->n + (size_t)k + 1 > b->cap) {
        size_t cap = (b->cap + (size_t)(k < 0 ? 0 : k) + 1) * 2;
        char *p = realloc(b->p, cap);
        if (k < 0 || !p) {
            b->ok = 0;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

/* A table cell: a '|' in the text (a seed line that is itself a table row, "a|b" choices)
 * is escaped so the row keeps its columns. */
static void sb_cell(struct sbuf *b, const char *text)
{
    for (const char *s = text; *s; s++)
        sb_add(b, *s == '|' ? "\\|" : "%c", *s);
}

char *gpx_rec_rules_markdown(void)
{
    struct sbuf b = {.ok = 1};
    sb_add(&b, "| # | rule | when | mode/delivery, then stand-ins | why | seed |\n"
               "|---|---|---|---|---|---|\n");
    for (unsigned i = 0; i < gpx_rec_rule_count; i++) {
        const struct gpx_rec_rule *r = &gpx_rec_rules[i];
        sb_add(&b, "| %u | `%s` | ", i + 1, r->id);
        sb_cell(&b, r->when);
        sb_add(&b, " | ");
        for (unsigned k = 0; k < GPX_REC_MAX_CANDIDATES && r->cand[k].mode >= 0; k++) {
            char c[48];
            cand_name(&r->cand[k], c, sizeof c);
            sb_add(&b, k ? ", %s" : "**%s**", c);
        }
        sb_add(&b, " | ");
        sb_cell(&b, r->reason);
        sb_add(&b, " | ");
        sb_cell(&b, r->seed);
        sb_add(&b, " |\n");
    }
    if (!b.ok) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* --- fitting the guidance to the node ------------------------------------------------------- */

/* Appends to a fixed buffer; a text that does not fit ends in "..." (never silently cut). */
static void add(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(char *buf, size_t len, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 4 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + n, len - n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= len - n)
        memcpy(buf + len - 4, "...", 4);
}

static void size_str(uint64_t b, char *buf, size_t len)
{
    gpx_size_format(b, buf, (unsigned)len);
}

void gpx_rec_size_flag(uint64_t bytes, char *buf, size_t len)
{
    if (bytes % GIB == 0)
        snprintf(buf, len, "%lluG", (unsigned long long)(bytes / GIB));
    else
        snprintf(buf, len, "%lluM", (unsigned long long)((bytes + (1 << 20) - 1) >> 20));
}

/* hardware (exclusive, mig) > process (vgpu, timeslice); vm delivery adds the VM boundary */
static int gives_hardware(int mode)
{
    return mode == EX || mode == MIG;
}

static const char *seed_perf(int mode, int delivery)
{
    switch (mode) {
    case EX:
        return delivery == GPX_REC_VM ? "98.5 % of bare metal (seed: VM passthrough)"
                                      : "99.8 % of bare metal (seed: container, native)";
    case MIG:
        return "95-100 % (seed summary: VM + MIG)";
    case VGPU:
        return "85-92 % of bare metal (seed: VM vGPU)";
    default:
        return "45-70 % of bare metal per tenant (seed: container time-slice)";
    }
}

/* The quota a shared lease gets when the workload did not say: an even share of the GPU. */
static uint64_t default_quota(const struct gpx_rec_workload *w, const struct gpx_rec_gpu *g)
{
    unsigned users = w->users_per_gpu >= 2 ? w->users_per_gpu : 2;
    uint64_t q = g->memory_total / users / GIB * GIB;
    return q ? q : g->memory_total / users;
}

static void pick_exclusive(const struct gpx_rec_workload *w, const struct gpx_rec_node *n,
                           struct gpx_rec_choice *c)
{
    const struct gpx_rec_gpu *best = NULL;
    char why[320] = "";
    for (unsigned i = 0; i < n->n_gpus; i++) {
        const struct gpx_rec_gpu *g = &n->gpus[i];
        char need[32];
        size_str(w->memory, need, sizeof need);
        if (g->mig_on)
            add(why, sizeof why, "%sGPU %u is in MIG mode", *why ? "; " : "", g->index);
        else if (g->leases)
            add(why, sizeof why, "%sGPU %u has %u lease%s", *why ? "; " : "", g->index, g->leases,
                g->leases == 1 ? "" : "s");
        else if (w->memory > g->memory_total)
            add(why, sizeof why, "%sGPU %u has less memory than %s", *why ? "; " : "", g->index,
                need);
        else if (c->delivery == GPX_REC_VM && !g->passthrough)
            add(why, sizeof why, "%sGPU %u cannot be passed through: %s", *why ? "; " : "",
                g->index, n->vm_known ? g->vm_why : n->vm_why);
        else if (!best || (w->memory ? g->memory_total < best->memory_total
                                     : g->memory_total > best->memory_total))
            best = g; /* the smallest GPU that holds what was asked; else the largest */
    }
    if (!best) {
        snprintf(c->why_not, sizeof c->why_not, "no GPU is free for a whole-GPU lease: %s",
                 n->n_gpus ? why : "the node has no GPU");
        return;
    }
    c->gpu = (int)best->index;
    c->available = 1;
}

/* The smallest MIG profile with a free instance that holds the workload's memory. */
static void pick_mig(const struct gpx_rec_workload *w, const struct gpx_rec_node *n,
                     struct gpx_rec_choice *c)
{
    const struct gpx_rec_gpu *bg = NULL, *capable = NULL;
    const struct gpx_rec_mig_profile *bp = NULL, *cp = NULL;
    int any_on = 0;
    for (unsigned i = 0; i < n->n_gpus; i++) {
        const struct gpx_rec_gpu *g = &n->gpus[i];
        for (unsigned k = 0; k < g->n_mig; k++) {
            const struct gpx_rec_mig_profile *p = &g->mig[k];
            if (p->memory < w->memory)
                continue;
            if (g->mig_on && p->available && (!bp || p->memory < bp->memory))
                bg = g, bp = p;
            /* what MIG mode would give: a GPU without leases an admin may repartition */
            if (!g->mig_on && g->mig_capable && !g->leases && (!cp || p->memory < cp->memory))
                capable = g, cp = p;
        }
        any_on |= g->mig_on;
    }
    if (bp) {
        c->gpu = (int)bg->index;
        snprintf(c->mig_profile, sizeof c->mig_profile, "%s", bp->name);
        c->available = 1;
        return;
    }
    char need[32] = "";
    if (w->memory)
        size_str(w->memory, need, sizeof need);
    if (any_on)
        add(c->why_not, sizeof c->why_not, "no free MIG instance%s%s on the GPUs in MIG mode",
            *need ? " holds " : "", need);
    else
        add(c->why_not, sizeof c->why_not, "no GPU here is in MIG mode");
    if (cp)
        add(c->why_not, sizeof c->why_not,
            "; GPU %u (%s) can do MIG: an admin makes it with 'gpuplex mig apply --gpu %u "
            "--demand %s=1', then ask again",
            capable->index, capable->mig_model, capable->index, cp->name);
    else if (!any_on)
        add(c->why_not, sizeof c->why_not,
            "; none can do MIG%s (MIG needs an A100, H100 or H200 class GPU without leases)",
            *need ? " with that much memory" : "");
}

/* vgpu and timeslice: a memory quota on a GPU that shares (vm delivery: a vGPU type). */
static void pick_shared(const struct gpx_rec_workload *w, const struct gpx_rec_node *n,
                        struct gpx_rec_choice *c)
{
    const struct gpx_rec_gpu *best = NULL;
    uint64_t best_q = 0;
    const struct gpx_rec_vgpu_type *bt = NULL;
    char why[320] = "";
    for (unsigned i = 0; i < n->n_gpus; i++) {
        const struct gpx_rec_gpu *g = &n->gpus[i];
        uint64_t q = w->memory ? w->memory : default_quota(w, g);
        char qs[32];
        size_str(q, qs, sizeof qs);
        if (g->mig_on) {
            add(why, sizeof why, "%sGPU %u is in MIG mode", *why ? "; " : "", g->index);
            continue;
        }
        if (g->exclusive_held) {
            add(why, sizeof why, "%sGPU %u is held by an exclusive lease", *why ? "; " : "",
                g->index);
            continue;
        }
        if (g->noquota_leases) {
            add(why, sizeof why, "%sGPU %u has leases without a memory quota", *why ? "; " : "",
                g->index);
            continue;
        }
        if (g->quota_free < q) {
            add(why, sizeof why, "%sGPU %u has less than %s of quota free", *why ? "; " : "",
                g->index, qs);
            continue;
        }
        if (c->delivery == GPX_REC_VM) {
            const struct gpx_rec_vgpu_type *t = NULL;
            for (unsigned k = 0; k < g->n_vtypes; k++)
                if (g->vtypes[k].available && g->vtypes[k].memory >= q &&
                    (!t || g->vtypes[k].memory < t->memory))
                    t = &g->vtypes[k];
            if (!t) {
                add(why, sizeof why, "%sGPU %u offers no vGPU type with room for %s",
                    *why ? "; " : "", g->index, qs);
                continue;
            }
            if (!best || t->memory < bt->memory)
                best = g, best_q = q, bt = t;
            continue;
        }
        /* binpack: the GPU with the least quota free that fits, so whole GPUs stay free */
        if (!best || g->quota_free < best->quota_free)
            best = g, best_q = q;
    }
    if (c->delivery == GPX_REC_VM && !n->vm_known) {
        snprintf(c->why_not, sizeof c->why_not, "vGPU types are not known here: %s", n->vm_why);
        return;
    }
    if (!best) {
        snprintf(c->why_not, sizeof c->why_not, "no GPU has room for a shared lease: %s",
                 n->n_gpus ? why : "the node has no GPU");
        return;
    }
    c->gpu = (int)best->index;
    c->memory = best_q;
    if (bt)
        snprintf(c->vgpu_type, sizeof c->vgpu_type, "%s", bt->name);
    if (c->mode == VGPU) {
        if (w->utilization > 0 && w->utilization < 100)
            c->cap = (unsigned)w->utilization;
        else if (w->users_per_gpu >= 2)
            c->cap = 100 / w->users_per_gpu ? 100 / w->users_per_gpu : 1;
    }
    c->available = 1;
}

/* What choosing `alt` instead of the guidance's `ideal` costs. */
static void gives_up(const struct gpx_rec_choice *ideal, struct gpx_rec_choice *alt)
{
    char *b = alt->gives_up;
    size_t len = sizeof alt->gives_up;
    b[0] = 0;
    if (ideal->delivery == GPX_REC_VM && alt->delivery != GPX_REC_VM)
        add(b, len, "a VM of its own (its own kernel and OS; tenants share the host's kernel)");
    if (gives_hardware(ideal->mode) && !gives_hardware(alt->mode))
        add(b, len, "%s%s", *b ? "; " : "",
            alt->delivery == GPX_REC_VM
                ? "hardware isolation of compute: the vGPU manager time-shares the GPU"
                : "hardware isolation: memory is a quota and compute a share the interposer "
                  "enforces");
    if (ideal->mode == EX && alt->mode != EX)
        add(b, len, "%sa whole GPU: %s", *b ? "; " : "", seed_perf(alt->mode, alt->delivery));
    if (ideal->mode != EX && alt->mode == EX)
        add(b, len, "%ssharing: it takes a whole GPU (cost)", *b ? "; " : "");
    if (ideal->mode == MIG && alt->mode != MIG && alt->mode != EX)
        add(b, len, "%sMIG's guaranteed slice", *b ? "; " : "");
    if (ideal->mode == VGPU && alt->mode == TS)
        add(b, len, "%sa fixed slice: turns are weighted and latency varies", *b ? "; " : "");
    if (ideal->mode == VGPU && alt->mode == MIG)
        add(b, len, "%sflexible sizes: MIG profiles are fixed", *b ? "; " : "");
    if (!*b)
        add(b, len, "nothing the guidance asks for");
}

static void fill(const struct gpx_rec_workload *w, const struct gpx_rec_node *n,
                 const struct gpx_rec_candidate *cd, struct gpx_rec_choice *c)
{
    memset(c, 0, sizeof *c);
    c->mode = cd->mode;
    c->delivery = cd->delivery;
    c->gpu = -1;
    snprintf(c->seed_perf, sizeof c->seed_perf, "%s", seed_perf(c->mode, c->delivery));
    if (w->isolation == GPX_REC_ISO_HARDWARE && !gives_hardware(c->mode)) {
        snprintf(c->why_not, sizeof c->why_not,
                 "%s isolates processes only; --isolation hardware asks for more",
                 gpx_lease_mode_name((enum gpx_lease_mode)c->mode));
        return;
    }
    if (c->delivery == GPX_REC_VM && !n->vm_known && c->mode == EX) {
        snprintf(c->why_not, sizeof c->why_not, "VM passthrough is not possible here: %s",
                 n->vm_why);
        return;
    }
    switch (c->mode) {
    case EX:
        pick_exclusive(w, n, c);
        break;
    case MIG:
        pick_mig(w, n, c);
        break;
    default:
        pick_shared(w, n, c);
        break;
    }
    if (c->available && c->delivery == GPX_REC_CONTAINER && !n->container_runtime) {
        /* the lease is the same; without podman/docker the workload runs as a process */
        c->delivery = GPX_REC_PROCESS;
        snprintf(c->gives_up, sizeof c->gives_up,
                 "a container (no podman or docker here): a process under the same lease");
    }
}

static void reason(struct gpx_rec_answer *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void reason(struct gpx_rec_answer *a, const char *fmt, ...)
{
    if (a->n_reasons >= GPX_REC_MAX_REASONS)
        return;
    char *r = a->reasons[a->n_reasons++];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(r, GPX_REC_REASON_MAX, fmt, ap);
    va_end(ap);
    if (k >= GPX_REC_REASON_MAX)
        memcpy(r + GPX_REC_REASON_MAX - 4, "...", 4);
}

static const struct gpx_rec_gpu *gpu_of(const struct gpx_rec_node *n, int index)
{
    for (unsigned i = 0; i < n->n_gpus; i++)
        if ((int)n->gpus[i].index == index)
            return &n->gpus[i];
    return NULL;
}

/* The bench row that measured choice c: "exclusive", "mig:1g.10gb", "vgpu-cap", "timeslice-2". */
static const struct gpx_rec_bench_row *bench_row(const struct gpx_rec_node *n,
                                                 const struct gpx_rec_choice *c,
                                                 const struct gpx_rec_workload *w)
{
    char want[48];
    switch (c->mode) {
    case EX:
        snprintf(want, sizeof want, "%s", c->delivery == GPX_REC_VM ? "vm" : "exclusive");
        break;
    case MIG:
        snprintf(want, sizeof want, "mig:%s", c->mig_profile);
        break;
    case VGPU:
        snprintf(want, sizeof want, "%s", c->cap ? "vgpu-cap" : "vgpu");
        break;
    default:
        /* bench measures 1, 2 and 4 tenants: the row nearest below the users per GPU */
        snprintf(want, sizeof want, "timeslice-%d",
                 w->users_per_gpu >= 4   ? 4
                 : w->users_per_gpu >= 2 ? 2
                                         : 1);
        break;
    }
    const struct gpx_rec_bench_row *prefix = NULL;
    for (unsigned i = 0; i < n->n_bench; i++) {
        if (!strcmp(n->bench[i].mode, want))
            return &n->bench[i];
        if (!prefix && c->mode == MIG && !strncmp(n->bench[i].mode, "mig", 3))
            prefix = &n->bench[i];
    }
    return prefix;
}

static void node_reason(struct gpx_rec_answer *a, const struct gpx_rec_node *n,
                        const struct gpx_rec_workload *w)
{
    const struct gpx_rec_choice *c = &a->best;
    const struct gpx_rec_gpu *g = gpu_of(n, c->gpu);
    if (!g)
        return;
    char tot[32], q[32], fr[32];
    size_str(g->memory_total, tot, sizeof tot);
    size_str(c->memory, q, sizeof q);
    size_str(g->quota_free, fr, sizeof fr);
    switch (c->mode) {
    case EX:
        if (c->delivery == GPX_REC_VM)
            reason(a,
                   "this node: GPU %u (%s, %s) has no leases and can be passed through "
                   "(IOMMU group %d)",
                   g->index, g->name, tot, g->iommu_group);
        else
            reason(a, "this node: GPU %u (%s, %s) has no leases: a whole GPU is free (%s)",
                   g->index, g->name, tot,
                   w->memory ? "the smallest free one that holds the memory asked for"
                             : "the largest free one: --memory would pick the smallest that fits");
        break;
    case MIG:
        for (unsigned k = 0; k < g->n_mig; k++)
            if (!strcmp(g->mig[k].name, c->mig_profile)) {
                char pm[32];
                size_str(g->mig[k].memory, pm, sizeof pm);
                reason(a,
                       "this node: GPU %u (%s) is in MIG mode with %u more %s (%s) lease%s "
                       "available: the smallest free profile that %s",
                       g->index, g->mig_model, g->mig[k].available, c->mig_profile, pm,
                       g->mig[k].available == 1 ? "" : "s",
                       w->memory ? "holds the memory asked for" : "there is (no --memory given)");
            }
        break;
    default:
        reason(a,
               "this node: GPU %u (%s, %s) has %s of memory quota free for shared leases (%u "
               "lease%s on it); the lease gets a %s quota%s",
               g->index, g->name, tot, fr, g->leases, g->leases == 1 ? "" : "s", q,
               w->memory ? "" : " (no --memory given: an even share of the GPU)");
        if (c->cap)
            reason(a, "a compute cap of %u %% keeps it to its share even when the GPU is idle",
                   c->cap);
        if (c->vgpu_type[0])
            reason(a, "vGPU type %s on GPU %u has room for it", c->vgpu_type, g->index);
        break;
    }
}

void gpx_rec_decide(const struct gpx_rec_workload *w, const struct gpx_rec_node *n,
                    struct gpx_rec_answer *a)
{
    memset(a, 0, sizeof *a);
    const struct gpx_rec_rule *r = gpx_rec_match(w);
    a->rule = r;
    int best = -1;
    for (unsigned k = 0; k < GPX_REC_MAX_CANDIDATES && r->cand[k].mode >= 0; k++) {
        fill(w, n, &r->cand[k], &a->cand[k]);
        a->n_cand++;
        if (k)
            gives_up(&a->cand[0], &a->cand[k]);
        if (best < 0 && a->cand[k].available)
            best = (int)k;
    }
    a->found = best >= 0;
    a->best = a->cand[best >= 0 ? best : 0];

    char ideal[48], chosen[48];
    cand_name(&r->cand[0], ideal, sizeof ideal);
    snprintf(chosen, sizeof chosen, "%s/%s", gpx_lease_mode_name((enum gpx_lease_mode)a->best.mode),
             gpx_rec_delivery_name(a->best.delivery));
    reason(a, "guidance (rule '%s', %s): %s, since %s; seed: \"%s\"", r->id, r->when, ideal,
           r->reason, r->seed);
    if (!a->found) {
        reason(a, "nothing the guidance offers for this workload can be granted here now:");
        for (unsigned k = 0; k < a->n_cand; k++) {
            char cn[48];
            cand_name(&r->cand[k], cn, sizeof cn);
            reason(a, "  %s: %s", cn, a->cand[k].why_not);
        }
    } else if (best > 0) {
        reason(a, "not available here: %s (%s); %s stands in for it and gives up %s", ideal,
               a->cand[0].why_not, chosen, a->best.gives_up);
    } else if (a->best.gives_up[0]) {
        reason(a, "%s; it gives up %s", chosen, a->best.gives_up);
    }
    if (a->found)
        node_reason(a, n, w);
    if (w->memory && a->found && a->best.mode == EX) {
        char m[32];
        size_str(w->memory, m, sizeof m);
        reason(a, "the workload needs %s of device memory: the GPU holds it", m);
    }
    if (a->best.mode == TS && w->latency_sensitive)
        reason(a, "time-slicing shares turns: latency varies (seed: not good for predictable "
                  "latency)");
    reason(a, "node load: %u active lease%s on %u GPU%s", n->active_leases,
           n->active_leases == 1 ? "" : "s", n->n_gpus, n->n_gpus == 1 ? "" : "s");
    const struct gpx_rec_bench_row *br = a->found ? bench_row(n, &a->best, w) : NULL;
    if (br && br->ok) {
        char capn[64] = "";
        if (a->best.cap && !strcmp(br->mode, "vgpu-cap"))
            snprintf(capn, sizeof capn, " at bench's cap (this lease's cap: %u %%)", a->best.cap);
        reason(a,
               "measured here by gpuplex bench (%s%s%s): %s at %.3f of bare metal (%.3f-%.3f)%s; "
               "the seed's figure: %s",
               n->bench_source, n->bench_gpu[0] ? ", " : "", n->bench_gpu, br->mode, br->rel,
               br->min, br->max, capn, a->best.seed_perf);
    } else if (n->have_bench)
        reason(a, "gpuplex bench (%s) has no measured row for %s; the seed's figure: %s",
               n->bench_source, chosen, a->best.seed_perf);
    else
        reason(a,
               "the seed's figure: %s (one vendor's: A100, BERT-large); 'gpuplex bench' "
               "measures this node",
               a->best.seed_perf);
}

int gpx_rec_command(const struct gpx_rec_choice *c, char *buf, size_t len, gpx_error *err)
{
    if (c->gpu < 0)
        return gpx_error_set(err, GPX_E_INVALID, "no GPU can take it now");
    char m[32];
    int k;
    if (c->delivery == GPX_REC_VM) {
        k = snprintf(buf, len, "gpuplex vm create --gpu %d%s%s --image IMAGE --ssh-key KEY.pub",
                     c->gpu, c->vgpu_type[0] ? " --vgpu-type " : "", c->vgpu_type);
    } else {
        k = snprintf(buf, len, "gpuplex run --gpu %d --mode %s", c->gpu,
                     gpx_lease_mode_name((enum gpx_lease_mode)c->mode));
        if (k > 0 && (size_t)k < len && c->mig_profile[0])
            k += snprintf(buf + k, len - (size_t)k, " --mig-profile %s", c->mig_profile);
        if (k > 0 && (size_t)k < len && c->memory) {
            gpx_rec_size_flag(c->memory, m, sizeof m);
            k += snprintf(buf + k, len - (size_t)k, " --memory %s", m);
        }
        if (k > 0 && (size_t)k < len && c->cap)
            k += snprintf(buf + k, len - (size_t)k, " --cap %u", c->cap);
        if (k > 0 && (size_t)k < len)
            k += snprintf(buf + k, len - (size_t)k, "%s -- CMD",
                          c->delivery == GPX_REC_CONTAINER ? " --container IMAGE" : "");
    }
    if (k < 0 || (size_t)k >= len)
        return gpx_error_set(err, GPX_E_INTERNAL, "command longer than %zu bytes", len);
    return 0;
}
