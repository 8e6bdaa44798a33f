/*
 * src/core/recommend.c: workload descriptions -> mode/delivery on made-up
 * nodes (with and without MIG, with and without IOMMU groups, busy, without a
 * container runtime), one row per case; the parsing of flags and keys; and
 * that docs/choosing.md holds the rules table exactly as the code prints it.
 */
#include "core/recommend.h"
#include "shm/lease.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define GIB (1024ULL * 1024 * 1024)

enum node_kind {
    PLAIN,   /* 2 x H100-80GB, MIG capable but off, no IOMMU facts, podman present */
    MIGNODE, /* GPU 0 in MIG mode with free instances, GPU 1 whole */
    IOMMU,   /* PLAIN + both GPUs passthrough-able, GPU 1 offers vGPU types */
    BUSY,    /* PLAIN with a vgpu lease (quota) on each GPU */
    NOPODMAN,
    A10,     /* one GPU that cannot do MIG */
    BLOCKED, /* IOMMU groups, passthrough blocked on both, vGPU types on GPU 0 */
};

static void gpu(struct gpx_rec_node *n, const char *name, uint64_t mem, int mig_capable)
{
    struct gpx_rec_gpu *g = &n->gpus[n->n_gpus];
    memset(g, 0, sizeof *g);
    g->index = n->n_gpus++;
    snprintf(g->name, sizeof g->name, "%s", name);
    g->memory_total = mem;
    g->quota_free = mem;
    g->mig_capable = mig_capable;
    g->iommu_group = -1;
    if (mig_capable) {
        static const struct {
            const char *name;
            unsigned gib;
        } p[] = {{"1g.10gb", 10}, {"1g.20gb", 20}, {"2g.20gb", 20},
                 {"3g.40gb", 40}, {"4g.40gb", 40}, {"7g.80gb", 80}};
        snprintf(g->mig_model, sizeof g->mig_model, "H100-80GB");
        for (unsigned i = 0; i < 6; i++) {
            snprintf(g->mig[i].name, sizeof g->mig[i].name, "%s", p[i].name);
            g->mig[i].memory = p[i].gib * GIB;
        }
        g->n_mig = 6;
    }
}

static void make_node(enum node_kind k, struct gpx_rec_node *n)
{
    memset(n, 0, sizeof *n);
    n->container_runtime = k != NOPODMAN;
    snprintf(n->vm_why, sizeof n->vm_why, "no IOMMU groups under /sys/kernel/iommu_groups");
    if (k == A10) {
        gpu(n, "NVIDIA A10", 24 * GIB, 0);
        return;
    }
    gpu(n, "NVIDIA H100 80GB HBM3", 80 * GIB, 1);
    gpu(n, "NVIDIA H100 80GB HBM3", 80 * GIB, 1);
    if (k == MIGNODE) {
        struct gpx_rec_gpu *g = &n->gpus[0];
        g->mig_on = 1;
        static const unsigned avail[] = {7, 4, 3, 2, 1, 1};
        for (unsigned i = 0; i < g->n_mig; i++)
            g->mig[i].available = avail[i];
    }
    if (k == IOMMU || k == BLOCKED) {
        n->vm_known = 1;
        for (unsigned i = 0; i < n->n_gpus; i++) {
            n->gpus[i].iommu_group = 30 + (int)i;
            n->gpus[i].passthrough = k == IOMMU;
            snprintf(n->gpus[i].vm_why, sizeof n->gpus[i].vm_why,
                     "0000:3c:00.0 in its IOMMU group is bound to ahci");
        }
        struct gpx_rec_gpu *g = &n->gpus[k == IOMMU ? 1 : 0];
        g->n_vtypes = 2;
        snprintf(g->vtypes[0].name, sizeof g->vtypes[0].name, "H100-10C");
        g->vtypes[0].memory = 10 * GIB;
        g->vtypes[0].available = 7;
        snprintf(g->vtypes[1].name, sizeof g->vtypes[1].name, "H100-80C");
        g->vtypes[1].memory = 80 * GIB;
        g->vtypes[1].available = 1;
    }
    if (k == BUSY) {
        for (unsigned i = 0; i < n->n_gpus; i++) {
            n->gpus[i].leases = 1;
            n->gpus[i].quota_leases = 1;
            n->gpus[i].quota_free = 60 * GIB;
        }
        n->active_leases = 2;
    }
}

struct rcase {
    const char *name;
    const char *flags[8]; /* "key=value" */
    enum node_kind node;
    const char *rule;
    int mode;     /* expected; -1: nothing available (found == 0) */
    int delivery; /* expected when found */
    const char *profile;
};

#define EX   GPX_MODE_EXCLUSIVE
#define MIG  GPX_MODE_MIG
#define VGPU GPX_MODE_VGPU
#define TS   GPX_MODE_TIMESLICE
#define CT   GPX_REC_CONTAINER
#define VM   GPX_REC_VM
#define PR   GPX_REC_PROCESS

static const struct rcase cases[] = {
    /* the seed's "Match Workload to Platform" table */
    {"LLM training -> VM/IaaS", {"kind=training"}, IOMMU, "llm-training", EX, VM, NULL},
    {"LLM training, no IOMMU -> container stands in",
     {"kind=training"},
     PLAIN,
     "llm-training",
     EX,
     CT,
     NULL},
    {"model serving -> container", {"kind=inference"}, PLAIN, "production-inference", EX, CT, NULL},
    {"production inference, 90 % busy -> container",
     {"kind=inference", "utilization=90"},
     MIGNODE,
     "production-inference",
     EX,
     CT,
     NULL},
    {"development -> container/vGPU", {"kind=development"}, PLAIN, "development", VGPU, CT, NULL},
    {"development, 4 per GPU",
     {"kind=development", "users-per-gpu=4"},
     BUSY,
     "development",
     VGPU,
     CT,
     NULL},
    /* "Choose VMs with GPU Passthrough When" */
    {"multi-tenant isolation -> VM passthrough",
     {"tenants=several", "isolation=hardware"},
     IOMMU,
     "multi-tenant",
     EX,
     VM,
     NULL},
    {"multi-tenant, no IOMMU, MIG -> MIG stands in",
     {"tenants=several", "isolation=hardware", "kind=batch"},
     MIGNODE,
     "multi-tenant",
     MIG,
     CT,
     "1g.10gb"},
    {"compliance -> VM passthrough", {"isolation=compliance"}, IOMMU, "compliance", EX, VM, NULL},
    {"compliance, no IOMMU -> exclusive container",
     {"isolation=compliance", "kind=inference"},
     PLAIN,
     "compliance",
     EX,
     CT,
     NULL},
    {"long training -> VM passthrough",
     {"kind=fine-tuning", "duration=14d"},
     IOMMU,
     "long-training",
     EX,
     VM,
     NULL},
    {"Windows -> VM passthrough",
     {"os=windows", "kind=development"},
     IOMMU,
     "windows",
     EX,
     VM,
     NULL},
    {"Windows, passthrough blocked -> vGPU type in a VM",
     {"os=windows", "memory=8G"},
     BLOCKED,
     "windows",
     VGPU,
     VM,
     NULL},
    {"Windows without IOMMU: nothing", {"os=windows"}, PLAIN, "windows", -1, 0, NULL},
    /* "Choose VMs with vGPU/MIG When" */
    {"inference services -> MIG",
     {"kind=inference", "users-per-gpu=4", "memory=16G"},
     MIGNODE,
     "inference-services",
     MIG,
     CT,
     "1g.20gb"},
    {"inference services without MIG -> vGPU",
     {"kind=inference", "tenants=several"},
     PLAIN,
     "inference-services",
     VGPU,
     CT,
     NULL},
    {"oversubscription -> vGPU", {"users-per-gpu=8"}, PLAIN, "oversubscription", VGPU, CT, NULL},
    {"oversubscription, busy node -> vGPU beside the leases",
     {"users-per-gpu=3", "memory=20G"},
     BUSY,
     "oversubscription",
     VGPU,
     CT,
     NULL},
    /* "Choose Containers for GPU When" */
    {"CI/CD -> time-sliced container", {"kind=ci", "duration=30m"}, PLAIN, "ci", TS, CT, NULL},
    {"batch -> container", {"kind=batch", "duration=2h"}, PLAIN, "batch", EX, CT, NULL},
    {"light batch -> time-slicing",
     {"kind=batch", "utilization=20"},
     PLAIN,
     "light-batch",
     TS,
     CT,
     NULL},
    {"short fine-tuning -> native container",
     {"kind=fine-tuning", "duration=3h"},
     IOMMU,
     "short-training",
     EX,
     CT,
     NULL},
    {"nothing said -> container", {NULL}, PLAIN, "default", EX, CT, NULL},
    /* latency, hardware isolation and the node's limits */
    {"real-time inference -> MIG slice that holds 30G",
     {"kind=inference", "latency-sensitive=true", "memory=30G"},
     MIGNODE,
     "realtime-inference",
     MIG,
     CT,
     "3g.40gb"},
    {"real-time inference on an A10 -> whole GPU",
     {"kind=inference", "latency-sensitive=yes"},
     A10,
     "realtime-inference",
     EX,
     CT,
     NULL},
    {"isolated inference -> MIG",
     {"kind=inference", "isolation=hardware"},
     MIGNODE,
     "isolated-sharing",
     MIG,
     CT,
     "1g.10gb"},
    {"isolated inference without MIG mode -> whole GPU",
     {"kind=inference", "isolation=hardware"},
     PLAIN,
     "isolated-sharing",
     EX,
     CT,
     NULL},
    {"isolated dev on a busy node: no vgpu offered",
     {"kind=development", "isolation=hardware"},
     BUSY,
     "isolated-sharing",
     -1,
     0,
     NULL},
    {"training on a busy node: nothing free", {"kind=training"}, BUSY, "llm-training", -1, 0, NULL},
    {"inference larger than any GPU",
     {"kind=inference", "memory=100G"},
     PLAIN,
     "production-inference",
     -1,
     0,
     NULL},
    {"no podman: the lease as a process", {"kind=batch"}, NOPODMAN, "batch", EX, PR, NULL},
    {"training that fits no A10 partition",
     {"kind=training", "memory=20G"},
     A10,
     "llm-training",
     EX,
     CT,
     NULL},
};

static void decide(const struct rcase *c, struct gpx_rec_answer *a)
{
    struct gpx_rec_workload w;
    gpx_rec_workload_init(&w);
    for (unsigned i = 0; i < 8 && c->flags[i]; i++) {
        char k[64];
        const char *eq = strchr(c->flags[i], '=');
        assert_non_null(eq);
        snprintf(k, sizeof k, "%.*s", (int)(eq - c->flags[i]), c->flags[i]);
        gpx_error err = {0};
        if (gpx_rec_set(&w, k, eq + 1, GPX_REC_FLAG, &err) < 0)
            fail_msg("%s: %s", c->name, err.msg);
    }
    struct gpx_rec_node *n = calloc(1, sizeof *n);
    assert_non_null(n);
    make_node(c->node, n);
    gpx_rec_decide(&w, n, a);
    free(n);
}

static void test_cases(void **state)
{
    (void)state;
    struct gpx_rec_answer *a = calloc(1, sizeof *a);
    assert_non_null(a);
    unsigned bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct rcase *c = &cases[i];
        decide(c, a);
        int ok = !strcmp(a->rule->id, c->rule);
        if (c->mode < 0)
            ok = ok && !a->found;
        else
            ok = ok && a->found && a->best.mode == c->mode && a->best.delivery == c->delivery &&
                 a->best.gpu >= 0 && (!c->profile || !strcmp(a->best.mig_profile, c->profile));
        if (!ok) {
            bad++;
            print_error("case '%s': got rule %s, %s %s/%s gpu %d profile '%s'; want rule %s, "
                        "mode %d delivery %d\n",
                        c->name, a->rule->id, a->found ? "found" : "none",
                        gpx_lease_mode_name((enum gpx_lease_mode)a->best.mode),
                        gpx_rec_delivery_name(a->best.delivery), a->best.gpu, a->best.mig_profile,
                        c->rule, c->mode, c->delivery);
            for (unsigned r = 0; r < a->n_reasons; r++)
                print_error("    %s\n", a->reasons[r]);
        }
        /* every answer cites the guidance (with its seed line) and the node */
        assert_true(a->n_reasons >= 3);
        assert_non_null(strstr(a->reasons[0], "seed: \""));
        int node_cited = 0;
        for (unsigned r = 0; r < a->n_reasons; r++)
            node_cited |= strstr(a->reasons[r], "node") != NULL;
        assert_true(node_cited);
    }
    free(a);
    assert_int_equal(bad, 0);
}

/* Each rule of the table is reached by some case: no dead rule. */
static void test_every_rule_reached(void **state)
{
    (void)state;
    struct gpx_rec_answer *a = calloc(1, sizeof *a);
    assert_non_null(a);
    for (unsigned r = 0; r < gpx_rec_rule_count; r++) {
        int hit = 0;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0] && !hit; i++)
            hit = !strcmp(cases[i].rule, gpx_rec_rules[r].id);
        if (!hit)
            fail_msg("rule %s has no case", gpx_rec_rules[r].id);
    }
    assert_true(sizeof cases / sizeof cases[0] >= 15);
    free(a);
}

/* A stand-in says what it gives up; the guidance's choice is kept as cand[0]. */
static void test_gives_up_and_why_not(void **state)
{
    (void)state;
    struct gpx_rec_answer *a = calloc(1, sizeof *a);
    assert_non_null(a);
    decide(&cases[1], a); /* training without IOMMU */
    assert_false(a->cand[0].available);
    assert_non_null(strstr(a->cand[0].why_not, "IOMMU"));
    assert_non_null(strstr(a->best.gives_up, "VM"));
    int said = 0;
    for (unsigned r = 0; r < a->n_reasons; r++)
        said |= strstr(a->reasons[r], "not available here") != NULL;
    assert_true(said);

    /* MIG on a node where it is off: the way to get it is named */
    struct gpx_rec_workload w;
    gpx_rec_workload_init(&w);
    assert_int_equal(gpx_rec_set(&w, "kind", "inference", GPX_REC_FLAG, NULL), 0);
    assert_int_equal(gpx_rec_set(&w, "latency-sensitive", "true", GPX_REC_FLAG, NULL), 0);
    struct gpx_rec_node *n = calloc(1, sizeof *n);
    assert_non_null(n);
    make_node(PLAIN, n);
    gpx_rec_decide(&w, n, a);
    assert_true(a->found);
    assert_int_equal(a->best.mode, EX);
    assert_non_null(strstr(a->cand[0].why_not, "gpuplex mig apply --gpu 0 --demand 1g.10gb=1"));
    free(n);
    free(a);
}

static void test_commands(void **state)
{
    (void)state;
    struct gpx_rec_answer *a = calloc(1, sizeof *a);
    assert_non_null(a);
    char cmd[512];
    decide(&cases[14], a); /* inference services -> MIG 1g.20gb on GPU 0 */
    assert_int_equal(gpx_rec_command(&a->best, cmd, sizeof cmd, NULL), 0);
    assert_string_equal(cmd, "gpuplex run --gpu 0 --mode mig --mig-profile 1g.20gb --container "
                             "IMAGE -- CMD");
    decide(&cases[16], a); /* 8 users per GPU: quota 10G, cap 12 */
    assert_int_equal(gpx_rec_command(&a->best, cmd, sizeof cmd, NULL), 0);
    assert_string_equal(cmd, "gpuplex run --gpu 0 --mode vgpu --memory 10G --cap 12 --container "
                             "IMAGE -- CMD");
    decide(&cases[0], a); /* training: a VM */
    assert_int_equal(gpx_rec_command(&a->best, cmd, sizeof cmd, NULL), 0);
    assert_string_equal(cmd, "gpuplex vm create --gpu 0 --image IMAGE --ssh-key KEY.pub");
    decide(&cases[12], a); /* Windows, passthrough blocked: a vGPU type */
    assert_int_equal(gpx_rec_command(&a->best, cmd, sizeof cmd, NULL), 0);
    assert_string_equal(cmd, "gpuplex vm create --gpu 0 --vgpu-type H100-10C --image IMAGE "
                             "--ssh-key KEY.pub");
    decide(&cases[30], a); /* no podman */
    assert_int_equal(gpx_rec_command(&a->best, cmd, sizeof cmd, NULL), 0);
    assert_string_equal(cmd, "gpuplex run --gpu 0 --mode exclusive -- CMD");
    decide(&cases[13], a); /* nothing available: no command */
    assert_int_equal(gpx_rec_command(&a->best, cmd, sizeof cmd, NULL), -1);
    free(a);
}

/* A saved bench result is cited for the chosen mode. */
static void test_bench_cited(void **state)
{
    (void)state;
    struct gpx_rec_node *n = calloc(1, sizeof *n);
    struct gpx_rec_answer *a = calloc(1, sizeof *a);
    assert_non_null(n);
    assert_non_null(a);
    make_node(PLAIN, n);
    n->have_bench = 1;
    snprintf(n->bench_source, sizeof n->bench_source, "/state/bench/last.json");
    n->n_bench = 2;
    snprintf(n->bench[0].mode, sizeof n->bench[0].mode, "exclusive");
    n->bench[0].rel = 0.991, n->bench[0].min = 0.98, n->bench[0].max = 1.0, n->bench[0].ok = 1;
    snprintf(n->bench[1].mode, sizeof n->bench[1].mode, "vgpu");
    n->bench[1].rel = 0.95, n->bench[1].ok = 1;
    struct gpx_rec_workload w;
    gpx_rec_workload_init(&w);
    assert_int_equal(gpx_rec_set(&w, "kind", "batch", GPX_REC_FLAG, NULL), 0);
    gpx_rec_decide(&w, n, a);
    int cited = 0;
    for (unsigned r = 0; r < a->n_reasons; r++)
        cited |= strstr(a->reasons[r], "exclusive at 0.991 of bare metal") != NULL &&
                 strstr(a->reasons[r], "/state/bench/last.json") != NULL;
    assert_true(cited);
    free(n);
    free(a);
}

static void expect_invalid(const char *key, const char *value, enum gpx_rec_naming nm,
                           const char *want1, const char *want2)
{
    struct gpx_rec_workload w;
    gpx_rec_workload_init(&w);
    gpx_error err = {0};
    assert_int_equal(gpx_rec_set(&w, key, value, nm, &err), -1);
    assert_int_equal(err.code, GPX_E_INVALID);
    if (!strstr(err.msg, want1) || (want2 && !strstr(err.msg, want2)))
        fail_msg("%s=%s: '%s' lacks '%s' / '%s'", key, value, err.msg, want1, want2 ? want2 : "");
}

static void test_parse(void **state)
{
    (void)state;
    expect_invalid("kind", "llm", GPX_REC_FLAG, "--kind: 'llm'",
                   "training, fine-tuning, inference, development, batch, ci");
    expect_invalid("kind", "llm", GPX_REC_KEY, "key 'kind'", "training");
    expect_invalid("isolation", "strong", GPX_REC_FLAG, "--isolation",
                   "none, process, hardware, compliance");
    expect_invalid("tenants", "many", GPX_REC_FLAG, "--tenants", "one, several");
    expect_invalid("os", "macos", GPX_REC_KEY, "key 'os'", "linux, windows");
    expect_invalid("memory", "4096", GPX_REC_FLAG, "--memory", "unit");
    expect_invalid("utilization", "150", GPX_REC_FLAG, "--utilization", "0-100");
    expect_invalid("duration", "14", GPX_REC_FLAG, "--duration", "s, m, h, d, w");
    expect_invalid("users-per-gpu", "0", GPX_REC_FLAG, "--users-per-gpu", "1-1000");
    expect_invalid("latency-sensitive", "maybe", GPX_REC_KEY, "key 'latency-sensitive'", "true");
    expect_invalid("gpus", "2", GPX_REC_KEY, "unknown key 'gpus'", "valid keys: kind, tenants");

    struct gpx_rec_workload w;
    gpx_rec_workload_init(&w);
    assert_int_equal(gpx_rec_set(&w, "users_per_gpu", "4", GPX_REC_KEY, NULL), 0);
    assert_int_equal(w.users_per_gpu, 4);
    assert_int_equal(gpx_rec_set(&w, "utilization", "35%", GPX_REC_FLAG, NULL), 0);
    assert_int_equal(w.utilization, 35);
    assert_int_equal(gpx_rec_set(&w, "memory", "1536M", GPX_REC_FLAG, NULL), 0);
    assert_int_equal(w.memory, 1536ULL << 20);
    assert_int_equal(gpx_rec_set(&w, "kind", "Fine-Tuning", GPX_REC_FLAG, NULL), 0);
    assert_int_equal(w.kind, GPX_REC_FINE_TUNING);
    int64_t d;
    assert_int_equal(gpx_rec_parse_duration("30m", &d), 0);
    assert_int_equal(d, 1800);
    assert_int_equal(gpx_rec_parse_duration("14d", &d), 0);
    assert_int_equal(d, 14 * 86400);
    assert_int_equal(gpx_rec_parse_duration("2w", &d), 0);
    assert_int_equal(d, 14 * 86400);
    assert_int_equal(gpx_rec_parse_duration("d", &d), -1);
    assert_int_equal(gpx_rec_parse_duration("-1h", &d), -1);
    assert_int_equal(gpx_rec_parse_duration("1.5h", &d), -1);
    char s[32];
    gpx_rec_size_flag(8 * GIB, s, sizeof s);
    assert_string_equal(s, "8G");
    gpx_rec_size_flag(1536ULL << 20, s, sizeof s);
    assert_string_equal(s, "1536M");
}

/* docs/choosing.md prints the table the code has, row for row. */
static void test_docs_agree(void **state)
{
    (void)state;
    FILE *f = fopen(GPX_SOURCE_DIR "/docs/choosing.md", "r");
    if (!f)
        fail_msg("cannot open docs/choosing.md");
    static char doc[256 * 1024];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = 0;
    char *md = gpx_rec_rules_markdown();
    assert_non_null(md);
    if (!strstr(doc, md)) {
        /* name the first row that differs */
        for (char *line = strtok(md, "\n"); line; line = strtok(NULL, "\n"))
            if (!strstr(doc, line))
                fail_msg("docs/choosing.md lacks this row of `gpuplex recommend --rules` (or "
                         "the rows are not together, in order):\n%s",
                         line);
        fail_msg("docs/choosing.md: the rules table's rows are not together, in order");
    }
    free(md);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_every_rule_reached),
        cmocka_unit_test(test_gives_up_and_why_not),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_bench_cited),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_docs_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
