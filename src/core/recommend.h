/*
 * gpuplex recommend's rules: from a workload description and what a node can
 * do now, the way to use a GPU (a lease mode and a delivery), the lease spec,
 * and the reasons, citing the seed's guidance and the node's facts.
 *
 * Pure functions over plain structs (no driver, no I/O): the CLI gathers the
 * node's facts (inventory, MIG state, IOMMU groups and vGPU types, leases, a
 * saved `gpuplex bench` result) and prints the answer; cmocka drives the rules
 * on made-up nodes (tests/unit/test_recommend.c).
 *
 * Invariants:
 * - the guidance lives in ONE table (recommend.c, gpx_rec_rules): each rule
 *   has its condition in words, its candidates (the guidance's choice first,
 *   then what may stand in for it on a node that lacks it), its reason and
 *   the seed line it comes from; `gpuplex recommend --rules` and
 *   docs/choosing.md print that table (gpx_rec_rules_markdown), a unit test
 *   checks that they agree;
 * - the first rule whose condition holds decides; the last rule holds always;
 * - an answer never names a mode the node cannot grant now without saying so:
 *   `best` is the first candidate available here, `ideal` the guidance's.
 */
#ifndef GPX_RECOMMEND_H
#define GPX_RECOMMEND_H

#include "gpuplex/error.h"

#include <stddef.h>
#include <stdint.h>

enum gpx_rec_kind {
    GPX_REC_TRAINING,
    GPX_REC_FINE_TUNING,
    GPX_REC_INFERENCE,
    GPX_REC_DEVELOPMENT,
    GPX_REC_BATCH,
    GPX_REC_CI,
};
enum gpx_rec_tenants { GPX_REC_ONE, GPX_REC_SEVERAL };
enum gpx_rec_isolation {
    GPX_REC_ISO_NONE,
    GPX_REC_ISO_PROCESS,
    GPX_REC_ISO_HARDWARE,
    GPX_REC_ISO_COMPLIANCE
};
enum gpx_rec_os { GPX_REC_LINUX, GPX_REC_WINDOWS };
/* Lease modes are enum gpx_lease_mode (shm/lease.h): exclusive, mig, vgpu, timeslice. */
enum gpx_rec_delivery { GPX_REC_PROCESS, GPX_REC_CONTAINER, GPX_REC_VM };

/* What the caller told about the workload; -1 / 0 = not given. */
struct gpx_rec_workload {
    int kind;               /* enum gpx_rec_kind, -1 */
    int tenants;            /* enum gpx_rec_tenants, -1 */
    int isolation;          /* enum gpx_rec_isolation, -1 */
    int os;                 /* enum gpx_rec_os, -1 (= linux) */
    uint64_t memory;        /* device memory it needs, bytes; 0 */
    int utilization;        /* % of a GPU it keeps busy, 0..100; -1 */
    int64_t duration_s;     /* how long it runs; -1 */
    int latency_sensitive;  /* 0 / 1 */
    unsigned users_per_gpu; /* 0 */
};
void gpx_rec_workload_init(struct gpx_rec_workload *w);

/* Where a value came from, so an error names it as the user wrote it. */
enum gpx_rec_naming { GPX_REC_FLAG, GPX_REC_KEY };
/*
 * Sets one field from text: key is the flag's name without "--" ("kind",
 * "users-per-gpu"; in files '_' is accepted for '-'). INVALID naming the flag
 * ("--kind") or key ("key 'kind'") and the valid values; an unknown key lists
 * the valid keys. Booleans: true/false/yes/no/1/0.
 */
int gpx_rec_set(struct gpx_rec_workload *w, const char *key, const char *value,
                enum gpx_rec_naming n, gpx_error *err);
/* "kind, tenants, isolation, os, memory, utilization, duration, latency-sensitive, users-per-gpu"
 */
const char *gpx_rec_keys(void);
/* "30m", "14d", "2h", "90s", "1w" -> seconds; a unit is required. */
int gpx_rec_parse_duration(const char *s, int64_t *out);

const char *gpx_rec_kind_name(int k);
const char *gpx_rec_delivery_name(int d);
const char *gpx_rec_isolation_name(int i);

/* --- the node's facts ----------------------------------------------------------------------- */

#define GPX_REC_MAX_GPUS   32
#define GPX_REC_MAX_MIG    8
#define GPX_REC_MAX_BENCH  32
#define GPX_REC_MAX_VTYPES 8

struct gpx_rec_mig_profile {
    char name[32];
    uint64_t memory;    /* bytes */
    unsigned available; /* more mig leases of it that fit now */
};

struct gpx_rec_vgpu_type {
    char name[64];      /* "A100-4C" */
    uint64_t memory;    /* framebuffer, bytes (0 unknown) */
    unsigned available; /* instances creatable now */
};

struct gpx_rec_gpu {
    unsigned index;
    char name[96];
    uint64_t memory_total, memory_used; /* bytes */
    uint64_t quota_free;                /* memory quota still free for shared leases */
    unsigned leases;                    /* active leases on it (those the caller sees) */
    unsigned quota_leases;              /* of them, shared leases with a memory quota */
    unsigned noquota_leases;            /* shared leases without one */
    int exclusive_held;                 /* an exclusive lease holds it */
    int mig_capable;                    /* the driver (or catalog) says MIG works here */
    int mig_on;                         /* MIG mode enabled */
    char mig_model[32];                 /* "H100-80GB" */
    unsigned n_mig;
    struct gpx_rec_mig_profile mig[GPX_REC_MAX_MIG];
    /* VM facts (src/vm): known only where node.vm_known */
    int iommu_group;                /* -1: none */
    int passthrough;                /* a passthrough lease could be granted */
    char vm_why[GPX_ERROR_MSG_MAX]; /* why not, when not */
    unsigned n_vtypes;
    struct gpx_rec_vgpu_type vtypes[GPX_REC_MAX_VTYPES];
};

struct gpx_rec_bench_row {
    char mode[32];
    double rel, min, max; /* relative to bare metal */
    int ok;               /* status "ok" */
};

struct gpx_rec_node {
    unsigned n_gpus;
    struct gpx_rec_gpu gpus[GPX_REC_MAX_GPUS];
    unsigned active_leases;
    int container_runtime; /* podman (or docker) found for `run --container` */
    int vm_known;          /* IOMMU groups and vGPU types were read */
    char vm_why[320];      /* when not: why ("no IOMMU groups under /sys/kernel/iommu_groups") */
    int have_bench;
    char bench_source[256]; /* the file */
    char bench_gpu[96];
    unsigned n_bench;
    struct gpx_rec_bench_row bench[GPX_REC_MAX_BENCH];
};

/* --- the rules ------------------------------------------------------------------------------ */

struct gpx_rec_candidate {
    int mode;     /* enum gpx_lease_mode; -1 ends the list */
    int delivery; /* enum gpx_rec_delivery */
};

#define GPX_REC_MAX_CANDIDATES 4

struct gpx_rec_rule {
    const char *id;
    const char *when; /* the condition, in the flags' words */
    int (*match)(const struct gpx_rec_workload *w);
    struct gpx_rec_candidate cand[GPX_REC_MAX_CANDIDATES];
    const char *reason;
    const char *seed; /* the line of seed/gpu-workloads-vms-vs-containers.txt it comes from */
};

extern const struct gpx_rec_rule gpx_rec_rules[];
extern const unsigned gpx_rec_rule_count;

/* The first rule whose condition holds (never NULL: the last one always does). */
const struct gpx_rec_rule *gpx_rec_match(const struct gpx_rec_workload *w);

/*
 * The rules table in Markdown, exactly as docs/choosing.md holds it (header
 * included), into a malloc'd string; NULL when out of memory.
 */
char *gpx_rec_rules_markdown(void);

/* --- the answer ----------------------------------------------------------------------------- */

struct gpx_rec_choice {
    int mode, delivery;
    int gpu;         /* index, -1 when none fits */
    uint64_t memory; /* quota (vgpu, timeslice), bytes; 0 none */
    unsigned cap;    /* compute cap %, 0 none */
    char mig_profile[32];
    char vgpu_type[64]; /* vm delivery of a vgpu */
    int available;      /* the node can grant it now */
    char why_not[768];  /* when not: why, and what would make it */
    char gives_up[320]; /* against the guidance's choice ("" for that one) */
    char seed_perf[96]; /* the seed's figure for it ("99.8 % of bare metal") */
};

#define GPX_REC_MAX_REASONS 14
#define GPX_REC_REASON_MAX  1024

struct gpx_rec_answer {
    const struct gpx_rec_rule *rule;
    int found;                  /* some candidate is available: best is it */
    struct gpx_rec_choice best; /* what to use here (the guidance's when found and ideal) */
    unsigned n_cand;            /* every candidate of the rule, in order, ideal first */
    struct gpx_rec_choice cand[GPX_REC_MAX_CANDIDATES];
    unsigned n_reasons;
    char reasons[GPX_REC_MAX_REASONS][GPX_REC_REASON_MAX];
};

/* Decides (see the top of this file). Always fills *a. */
void gpx_rec_decide(const struct gpx_rec_workload *w, const struct gpx_rec_node *n,
                    struct gpx_rec_answer *a);

/*
 * The command that gets choice c on this node: `gpuplex run ... -- CMD`
 * (process), `gpuplex run ... --container IMAGE -- CMD` (container),
 * `gpuplex vm create --gpu N [--vgpu-type T] --image IMAGE --ssh-key KEY.pub` (vm).
 * Fails (INVALID) on a choice without a GPU.
 */
int gpx_rec_command(const struct gpx_rec_choice *c, char *buf, size_t len, gpx_error *err);
/* A size as the flags take it: "8G", "1536M". */
void gpx_rec_size_flag(uint64_t bytes, char *buf, size_t len);

#endif
