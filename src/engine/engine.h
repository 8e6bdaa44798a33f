/*
 * The lease engine: everything a lease is, in one library, for every host.
 *
 * gpuplexd serves it over HTTP; the gpuplex CLI opens it in-process on the
 * same state directory when no daemon owns it (as podman's CLI and its REST
 * service share libpod). Its functions take and return C structs and
 * gpx_error, never JSON: src/engine/views.c is the one place that writes
 * (and reads back) the JSON of these structs, for the API and every --json.
 *
 * Invariants:
 * - one place creates a lease (ledger.c, gpx_engine_lease_create): spec check
 *   (spec.c) -> admission and placement over a node snapshot -> the mode's
 *   backend (backend.h) -> pending row -> region -> backend make -> active
 *   row -> observers; release is the mirror image;
 * - a state directory has one owner at a time: a daemon (exclusive lock for
 *   its life) or CLI processes (each holds the lock shared and the engine
 *   lock exclusively for one command), so there is never a second truth.
 */
#ifndef GPX_ENGINE_H
#define GPX_ENGINE_H

#include "core/placement.h"
#include "gpuplex/error.h"
#include "nvml/inventory.h"
#include "nvml/mig.h"
#include "shm/lease.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define GPX_MAX_OWNERS      16
#define GPX_MAX_LABELS      32
#define GPX_NAME_MAX        64
#define GPX_LABELS_JSON_MAX 2048
#define GPX_MIN_MEMORY      (1ULL << 20)
#define GPX_MAX_WEIGHT      10000
#define GPX_DEFAULT_WEIGHT  1
#define GPX_BUILTIN_ADMIN   "admin"
#define GPX_MIG_MAX_COUNTS  16
#define GPX_MIG_MAX_COUNT   64
#define GPX_MAX_LEASES_CAP  1000000 /* the largest max_leases a tenant or the config may set */
#define GPX_ENV_PATH_MAX    4096

int64_t gpx_now_ns(void);

/* --- lease specs: what a caller asks for ---------------------------------------------------- */

/*
 * The fields of a lease request. Messages name them as the caller wrote
 * them: JSON fields in the API ("field 'memory'"), flags on the CLI
 * ("--memory"), from one table (spec.c).
 */
enum gpx_field {
    GPX_F_MODE,
    GPX_F_GPU,
    GPX_F_MEMORY,
    GPX_F_WEIGHT,
    GPX_F_CAP,
    GPX_F_MIG_PROFILE,
    GPX_F_LABELS,
    GPX_F_OWNERS,
    GPX_F__COUNT
};
/* SLURM: the SPANK plugin's options (src/slurm/gpuplex_spank.c) */
enum gpx_naming { GPX_NAMING_API = 0, GPX_NAMING_CLI = 1, GPX_NAMING_SLURM = 2 };
/* "field 'memory'" / "--memory" / "--gpuplex-memory" */
const char *gpx_field_name(enum gpx_field f, enum gpx_naming n);

struct gpx_lease_spec {
    int mode;          /* enum gpx_lease_mode; -1 = not given */
    int gpu_index;     /* -1 unless given as an index */
    char gpu_uuid[96]; /* "" unless given as a UUID */
    uint64_t memory;   /* bytes; 0 = not given */
    unsigned weight;   /* 0 = not given */
    unsigned cap;      /* compute cap %; 0 = not given */
    char mig_profile[32];
    char *labels; /* canonical JSON object text (sorted keys), malloc'd; NULL = none */
    unsigned n_owners;
    int32_t owners[GPX_MAX_OWNERS];
    unsigned given; /* 1u << enum gpx_field for each field the caller gave */
    /* made for containers: gpx_engine_lease_create adds the label gpuplex.container=1 (the
     * caller asks for what the label does; it never writes the reserved label itself) */
    int for_container;
};

void gpx_lease_spec_init(struct gpx_lease_spec *s);
void gpx_lease_spec_clear(struct gpx_lease_spec *s);
/*
 * Sets field `f` from text as a user types it (a CLI flag, a JSON string):
 * mode name, GPU index or UUID, size with a unit ("4G", "4096M"; a bare
 * number is refused with a hint), whole numbers in range, a MIG profile
 * name, one label "KEY=VALUE" (added), an owner pid (added).
 */
int gpx_lease_spec_set(struct gpx_lease_spec *s, enum gpx_field f, const char *text,
                       enum gpx_naming n, gpx_error *err);
/* Adds label key=value (checked); the canonical text is rebuilt. gpuplex's own code paths
 * only: it takes the reserved keys (below). */
int gpx_lease_spec_label(struct gpx_lease_spec *s, const char *key, const char *value,
                         enum gpx_naming n, gpx_error *err);
/*
 * Label keys starting with "gpuplex." are gpuplexd's own: its VM, function and container
 * machinery acts on the leases that carry them (gpuplex.vm, gpuplex.function,
 * gpuplex.managed, gpuplex.replica: ended with their VM or worker, released as orphans at
 * start; gpuplex.container: released when its last container stops). A caller's label
 * (POST /v1/leases, --label, a function's or container's "lease") goes through
 * gpx_lease_spec_user_label, which refuses them; made-for-containers is for_container.
 */
#define GPX_LABEL_RESERVED_PREFIX "gpuplex."
#define GPX_LABEL_FOR_CONTAINER   "gpuplex.container" /* = GPX_CDI_CONTAINER_LABEL */
int gpx_label_reserved(const char *key);
/* gpx_lease_spec_label for a label a caller gave: a reserved key is an error naming the
 * field and the prefix. */
int gpx_lease_spec_user_label(struct gpx_lease_spec *s, const char *key, const char *value,
                              enum gpx_naming n, gpx_error *err);
/*
 * The one validation of a spec, for every path: cross-field rules (vgpu needs
 * memory, exclusive and mig take no memory, weight and cap only for shared
 * leases, mig needs a profile...). A missing mode defaults to mig with a
 * profile, vgpu with memory, exclusive otherwise, when `default_mode`;
 * else it is an error. Fills the default weight.
 */
int gpx_lease_spec_check(struct gpx_lease_spec *s, int default_mode, enum gpx_naming n,
                         gpx_error *err);

/* --- who is calling ------------------------------------------------------------------------- */

struct gpx_caller {
    char tenant[GPX_NAME_MAX];
    int admin;
    unsigned max_gpus;   /* 0 = no limit */
    uint64_t max_memory; /* 0 = no limit */
    unsigned max_leases; /* 0 = the engine's max_leases_per_tenant */
    /* the tenant's generation (its created_ns): a lease is made only for the tenant that is
     * there now, never for one removed (and maybe added again) since; 0 = built-in admin */
    int64_t tenant_created_ns;
    int via_unix; /* unix socket or in-process: uid known */
    uint32_t uid;
    int32_t pid;
    int in_process; /* the CLI's own engine ("via": "local") */
};

/* --- leases --------------------------------------------------------------------------------- */

enum gpx_lease_state {
    GPX_LS_PENDING = 0, /* row written, region maybe not yet: never acknowledged */
    GPX_LS_ACTIVE = 1,  /* acknowledged */
    GPX_LS_RELEASED = 2,
    GPX_LS_ABORTED = 3, /* a pending lease that never became active */
};
const char *gpx_lease_state_name(enum gpx_lease_state s);
int gpx_lease_state_parse(const char *s);

struct gpx_owner {
    int32_t pid;
    uint64_t start_ticks; /* /proc/PID/stat starttime, tells pid reuse apart */
};

/* A lease as the store keeps it. */
struct gpx_lease_rec {
    char id[64];
    char tenant[GPX_NAME_MAX];
    int state; /* enum gpx_lease_state */
    int mode;  /* enum gpx_lease_mode */
    unsigned gpu_index;
    char gpu_uuid[96];
    uint64_t memory_quota; /* bytes, 0 = none */
    uint64_t gpu_memory;   /* the GPU's (instance's) memory when granted */
    unsigned weight, cap;
    char mig_profile[32];
    char labels[GPX_LABELS_JSON_MAX]; /* canonical JSON object */
    unsigned n_owners;
    struct gpx_owner owners[GPX_MAX_OWNERS];
    int64_t created_ns, released_ns;     /* CLOCK_REALTIME; released_ns 0 while active */
    char reason[64];                     /* why it was released */
    uint64_t gpu_ns, wait_ns, peak_used; /* metering recorded so far */
    /*
     * mig leases: the instance. The 'pending' row journals where it goes
     * (gpu_index, mig_profile, mig_start) and whether this lease makes it
     * (mig_created) before NVML is asked; the 'active' row adds its ids and
     * MIG device UUID. -1 / "" when not known (and for other modes).
     */
    int mig_start;
    int mig_created;
    int mig_gi, mig_ci;
    char mig_uuid[96];
    /*
     * The uid whose processes may use the lease and who owns its usage file
     * (the caller's uid at admission, or its tenant's); -1 in rows older than it.
     */
    int64_t uid;
};

/* A lease as callers see it: the record, what its region says now, and its environment. */
struct gpx_lease {
    struct gpx_lease_rec rec;
    int live;                             /* the region was read: the figures below are now's */
    char region_error[GPX_ERROR_MSG_MAX]; /* its region is damaged (why); "" when fine */
    uint32_t uid;                         /* the uid in its limits */
    uint64_t used_bytes;                  /* device memory held now */
    uint64_t peak_bytes;
    uint64_t refused; /* allocations refused for the quota */
    uint64_t gpu_ns;  /* GPU time: granted (shared) or held (exclusive, mig) */
    uint64_t wait_ns;
    uint64_t turns, drains;
    uint64_t wait_p99_ns;
    double lease_seconds;
    unsigned nprocs;
    int32_t pids[GPX_LEASE_MAX_PROCS];
    uint64_t proc_used[GPX_LEASE_MAX_PROCS];
    unsigned nturns; /* recent turns, oldest first (only when asked for) */
    uint64_t turn_ring[GPX_LEASE_TURN_RING];
    /* environment of a workload (active leases) */
    char run_dir[GPX_ENV_PATH_MAX];
    char interposer[GPX_ENV_PATH_MAX]; /* "" when none */
    /*
     * Where used_bytes comes from: the lease's region (vgpu, timeslice: what
     * the interposer counted), NVML (exclusive: the GPU's used memory; mig:
     * its instance's), or nowhere (released, or the driver did not say: 0).
     */
    int used_source; /* enum gpx_figure_source */
    /*
     * Where the lease's GPU utilization comes from (gpx_lease_util): the
     * arbiter's GPU-time counter gpu_ns (timeslice, vgpu with a cap), NVML's
     * figure now in util_pct (exclusive: the GPU's; vgpu without a cap: its
     * processes' per-process utilization summed; mig: the MIG device's where
     * the driver reports one), or nowhere (unknown: never shown as a number).
     */
    int util_source; /* enum gpx_figure_source */
    unsigned util_pct;
};

enum gpx_figure_source { GPX_SRC_NONE = 0, GPX_SRC_REGION, GPX_SRC_ARBITER, GPX_SRC_NVML };
/* "region", "arbiter", "nvml"; NULL for GPX_SRC_NONE. */
const char *gpx_figure_source_name(int src);
int gpx_figure_source_parse(const char *s); /* GPX_SRC_NONE for NULL or unknown */

/*
 * The one rule for a lease's GPU utilization over an interval, as a ratio of
 * its GPU (0..1), for every front end (dmon, top, /metrics, the dashboard's
 * API): arbiter-metered leases (util_source arbiter): the GPU time granted
 * since prev_gpu_ns (l->gpu_ns at the interval's start; a counter that went
 * back counts from 0) over interval_s; NVML-metered ones: util_pct, the
 * driver's figure over its own sampling window. -1 when not known (mig
 * without a per-instance figure, released leases, interval_s <= 0 for the
 * arbiter): show "-" or leave the series out, never a made-up figure.
 */
double gpx_lease_util(const struct gpx_lease *l, uint64_t prev_gpu_ns, double interval_s);
/* The arbiter meters this lease's GPU time: timeslice, and vgpu with a compute cap. */
int gpx_lease_arbitrated(const struct gpx_lease_rec *l);

/*
 * Device memory a lease holds: its quota (vgpu, timeslice; 0 = none), or the
 * whole GPU's or MIG instance's memory (exclusive, mig). What tenant limits
 * (max_memory), metering and /metrics count.
 */
uint64_t gpx_lease_held_memory(const struct gpx_lease_rec *l);

/* What a list of leases covers. */
struct gpx_lease_query {
    int state;          /* -1 active (default); GPX_LS_RELEASED; 4 = all */
    const char *tenant; /* NULL: the caller's (an admin's: everybody's) */
    int turns;          /* include recent turns */
};
#define GPX_LS_ALL 4

/* --- GPUs ----------------------------------------------------------------------------------- */

struct gpx_gpu_lease {
    char id[64];
    char tenant[GPX_NAME_MAX];
    int mode;
    uint64_t memory_quota;
};

struct gpx_gpu {
    struct gpx_gpu_info info;
    int exclusive;
    uint64_t quota_free; /* bytes of quota still free for shared leases */
    unsigned n_leases;   /* visible to the caller */
    struct gpx_gpu_lease *leases;
    int show_procs; /* processes are shown (admins) */
};

struct gpx_node {
    char driver_version[80];
    int cuda_version;
    unsigned count;
    struct gpx_gpu *gpus;
};
void gpx_node_free(struct gpx_node *n);

/* --- usage ---------------------------------------------------------------------------------- */

struct gpx_usage_row {
    char id[64]; /* "" for tenant rows */
    char tenant[GPX_NAME_MAX];
    int mode, state;
    unsigned gpu_index;
    char gpu_uuid[96];
    unsigned leases; /* tenant rows */
    double lease_seconds, gpu_seconds, wait_seconds;
    double memory_quota_gib_seconds, memory_used_gib_seconds;
    uint64_t memory_peak_bytes;
};

struct gpx_usage {
    int64_t from_ns, to_ns;
    unsigned n_tenants, n_leases;
    struct gpx_usage_row *tenants, *leases;
};
void gpx_usage_free(struct gpx_usage *u);

/* --- tenants -------------------------------------------------------------------------------- */

struct gpx_tenant {
    char name[GPX_NAME_MAX];
    int admin;
    char token_sha256[65]; /* hex; never shown */
    int has_uid;
    uint32_t uid;
    unsigned max_gpus;
    uint64_t max_memory;
    unsigned max_leases; /* 0 = the engine's max_leases_per_tenant */
    int64_t created_ns;
};

struct gpx_tenant_req {
    char name[GPX_NAME_MAX];
    int admin;
    int has_uid;
    uint32_t uid;
    unsigned max_gpus;   /* 0 = no limit */
    uint64_t max_memory; /* bytes; 0 = no limit */
    unsigned max_leases; /* active leases at once; 0 = the engine's max_leases_per_tenant */
};

/* A tenant name: [a-z0-9][a-z0-9._-]*, at most 63 characters. */
int gpx_valid_name(const char *s);
/* A time as RFC 3339 UTC ("2024-05-01T12:00:00Z") or Unix seconds ("1714564800.5"). */
int gpx_parse_time(const char *s, int64_t *ns, gpx_error *err);

/* --- MIG ------------------------------------------------------------------------------------ */

struct gpx_mig_req {
    int enabled;    /* -1: not given; 0: MIG off; 1: MIG on */
    int has_counts; /* "demand" or "layout" was given */
    int exact;      /* the counts came as "layout": the whole geometry */
    int partial;    /* apply what fits of a demand that does not all fit */
    int dry_run;
    unsigned n; /* profile -> count, names as given (checked against the GPU's model later) */
    struct {
        char profile[32];
        unsigned count;
    } counts[GPX_MIG_MAX_COUNTS];
};

/* One GPU's MIG state with the leases on its instances, as a caller may see them. */
struct gpx_mig_view {
    struct gpx_mig_gpu_state *s; /* owned */
    int mig_on;
    int have_available;
    unsigned available[GPX_MIG_MAX_PROFILES];
    unsigned free_instances[GPX_MIG_MAX_PROFILES];
    char lease_of[GPX_MIG_MAX_GI][64]; /* per GPU instance: its lease id if visible, else "" */
    int leased[GPX_MIG_MAX_GI];
};
/* The result of a MIG apply on one GPU. */
struct gpx_mig_applied {
    struct gpx_mig_gpu_state *s; /* owned */
    unsigned demand[GPX_MIG_MAX_PROFILES];
    struct gpx_mig_demand_result *res; /* owned */
    int dry_run;
};
void gpx_mig_view_free(struct gpx_mig_view *v);
void gpx_mig_applied_free(struct gpx_mig_applied *a);

/* --- health --------------------------------------------------------------------------------- */

struct gpx_health {
    char version[32];
    unsigned gpus;
    char driver_version[80];
    int cuda_version; /* nvmlSystemGetCudaDriverVersion: 13000; 0 if unknown */
    int show_leases;  /* admins only: a tenant must not count others' leases */
    unsigned leases_active;
    int schema_version;
    double uptime_seconds;
    char placement[16];
    double oversubscription;
    char run_dir[GPX_ENV_PATH_MAX];
    char state_dir[GPX_ENV_PATH_MAX];
    char host[16]; /* "gpuplexd" or "local" */
};

/* --- the engine ----------------------------------------------------------------------------- */

struct gpx_engine;

struct gpx_engine_opts {
    const char *state_dir;  /* database (gpuplexd.db) and lock */
    const char *run_dir;    /* lease regions and arbiters */
    const char *interposer; /* LD_PRELOAD for vgpu/timeslice; NULL/"" = none known */
    enum gpx_place_policy placement;
    double oversubscription; /* >= 1.0 */
    uint64_t grace_ms;       /* owners gone this long: the lease is released (daemon) */
    int daemon;              /* 1: gpuplexd (threads, timers); 0: one CLI command */
    /* active leases a tenant may hold at once unless its own max_leases says; 0 = no limit
     * (the built-in admin is never limited) */
    unsigned max_leases_per_tenant;
};

/*
 * Opens the engine on a state directory. A daemon takes the state's lock for
 * its life (BUSY if another daemon has it, or after a few seconds if CLI
 * commands keep it); a CLI takes it shared (BUSY "owned by gpuplexd" when a
 * daemon has it) and the engine lock for the command. Then loads tenants and
 * leases, and reconciles (pending rows aborted, regions re-attached, leases of
 * dead owners released in the CLI). *out is freed with gpx_engine_close.
 */
int gpx_engine_open(const struct gpx_engine_opts *o, struct gpx_engine **out, gpx_error *err);
void gpx_engine_close(struct gpx_engine *e);

/*
 * A daemon, once it listens: records its socket next to its pid in the state's
 * lock file, where clients find it (gpx_engine_daemon_owner).
 */
int gpx_engine_announce(struct gpx_engine *e, const char *socket, gpx_error *err);

/*
 * Whether a daemon owns `state_dir`: 1 (its pid and socket filled when known),
 * 0 no, -1 error.
 */
int gpx_engine_daemon_owner(const char *state_dir, int *pid, char *socket, size_t len,
                            gpx_error *err);

/* Who is calling (see tenants.c for the order of checks). */
int gpx_engine_authenticate(struct gpx_engine *e, const char *authorization, int via_unix,
                            int have_cred, uint32_t uid, int32_t pid, struct gpx_caller *c,
                            gpx_error *err);

int gpx_engine_lease_create(struct gpx_engine *e, const struct gpx_caller *c,
                            const struct gpx_lease_spec *s, struct gpx_lease *out, gpx_error *err);
int gpx_engine_lease_release(struct gpx_engine *e, const struct gpx_caller *c, const char *id,
                             struct gpx_lease *out, gpx_error *err);
int gpx_engine_lease_get(struct gpx_engine *e, const struct gpx_caller *c, const char *id,
                         int turns, struct gpx_lease *out, gpx_error *err);
/* *out is malloc'd (free()). */
int gpx_engine_lease_list(struct gpx_engine *e, const struct gpx_caller *c,
                          const struct gpx_lease_query *q, struct gpx_lease **out, unsigned *n,
                          gpx_error *err);
int gpx_engine_gpus(struct gpx_engine *e, const struct gpx_caller *c, struct gpx_node *out,
                    gpx_error *err);
int gpx_engine_usage(struct gpx_engine *e, const struct gpx_caller *c, const char *tenant,
                     int64_t from_ns, int64_t to_ns, struct gpx_usage *out, gpx_error *err);
/*
 * The same, only over leases that carry the label "KEY=VALUE" (a Slurm job's
 * slurm_job=ID, docs/slurm.md): so an admin can bill whatever the labels name.
 * label NULL: every lease. A label that is not KEY=VALUE is INVALID.
 */
int gpx_engine_usage_labeled(struct gpx_engine *e, const struct gpx_caller *c, const char *tenant,
                             const char *label, int64_t from_ns, int64_t to_ns,
                             struct gpx_usage *out, gpx_error *err);
void gpx_engine_health(struct gpx_engine *e, int admin, struct gpx_health *out);
unsigned gpx_engine_lease_count(struct gpx_engine *e);

/* tenants (admins; checked by the caller of these) */
int gpx_engine_tenant_add(struct gpx_engine *e, const struct gpx_tenant_req *r,
                          struct gpx_tenant *out, char token[72], gpx_error *err);
int gpx_engine_tenant_remove(struct gpx_engine *e, const char *name, struct gpx_tenant *out,
                             gpx_error *err);
int gpx_engine_tenant_new_token(struct gpx_engine *e, const char *name, struct gpx_tenant *out,
                                char token[72], gpx_error *err);
/* *out malloc'd */
int gpx_engine_tenant_list(struct gpx_engine *e, struct gpx_tenant **out, unsigned *n,
                           gpx_error *err);
int gpx_engine_tenant_get(struct gpx_engine *e, const struct gpx_caller *c, const char *name,
                          struct gpx_tenant *out, gpx_error *err);

/* MIG: a GPU by index or UUID */
int gpx_engine_mig_get(struct gpx_engine *e, const struct gpx_caller *c, const char *gpu,
                       struct gpx_mig_view *out, gpx_error *err);
int gpx_engine_mig_apply(struct gpx_engine *e, const char *gpu, const struct gpx_mig_req *r,
                         struct gpx_mig_applied *out, gpx_error *err);

/*
 * Records of gpuplexd's managed containers (src/daemon/containers.c), kept in
 * the store's containers table as the daemon's JSON text: put inserts or
 * replaces (durable before it returns); each calls fn oldest first and stops
 * when it returns non-zero. The engine does not read the records.
 */
int gpx_engine_container_put(struct gpx_engine *e, const char *id, const char *tenant,
                             const char *record, gpx_error *err);
int gpx_engine_container_delete(struct gpx_engine *e, const char *id, gpx_error *err);
int gpx_engine_container_each(struct gpx_engine *e,
                              int (*fn)(const char *id, const char *tenant, const char *record,
                                        void *arg),
                              void *arg, gpx_error *err);

/*
 * gpuplexd's VMs (src/daemon/vms.c), schema 8: one row per VM, its libvirt domain, lease,
 * SSH endpoint, the request as given (spec, JSON) and the daemon's record of it (JSON).
 * put inserts or replaces (durable before it returns); each calls fn oldest first and stops
 * when it returns non-zero. The engine does not read spec or record.
 */
struct gpx_vm_row {
    const char *id, *lease_id, *tenant, *domain, *endpoint, *spec, *record;
};
int gpx_engine_vm_put(struct gpx_engine *e, const struct gpx_vm_row *r, gpx_error *err);
int gpx_engine_vm_delete(struct gpx_engine *e, const char *id, gpx_error *err);
int gpx_engine_vm_each(struct gpx_engine *e, int (*fn)(const struct gpx_vm_row *r, void *arg),
                       void *arg, gpx_error *err);

/*
 * VM leases' host side (src/vm, src/daemon/vmhost.c), schema 6. The journal: one row per
 * sysfs write, added BEFORE the write (path, value, and what undoes it; undo NULL when
 * nothing needs undoing). The hold: what a lease holds on the host (struct gpx_vm_hold as
 * JSON); hold_put stores it and clears the lease's journal in one durable transaction (the
 * commit point of an acquire), hold_delete removes both (the end of a release).
 */
int gpx_engine_vm_journal_add(struct gpx_engine *e, const char *lease_id, const char *path,
                              const char *value, const char *undo, gpx_error *err);
int gpx_engine_vm_journal_clear(struct gpx_engine *e, const char *lease_id, gpx_error *err);
int gpx_engine_vm_journal_each(struct gpx_engine *e,
                               int (*fn)(const char *lease_id, const char *path, const char *value,
                                         const char *undo, void *arg),
                               void *arg, gpx_error *err);
int gpx_engine_vm_hold_put(struct gpx_engine *e, const char *lease_id, const char *gpu_bdf,
                           const char *hold, gpx_error *err);
int gpx_engine_vm_hold_delete(struct gpx_engine *e, const char *lease_id, gpx_error *err);
int gpx_engine_vm_hold_each(struct gpx_engine *e,
                            int (*fn)(const char *lease_id, const char *hold, void *arg), void *arg,
                            gpx_error *err);

/*
 * GPU functions (src/daemon/functions.c, docs/functions.md), schema 7: the
 * function records (the daemon's JSON text, as for containers) and the
 * per-request meter, one row per answered invoke, added in batches.
 */
int gpx_engine_function_put(struct gpx_engine *e, const char *name, const char *owner,
                            const char *record, gpx_error *err);
int gpx_engine_function_delete(struct gpx_engine *e, const char *name, gpx_error *err);
int gpx_engine_function_each(struct gpx_engine *e,
                             int (*fn)(const char *name, const char *owner, const char *record,
                                       void *arg),
                             void *arg, gpx_error *err);
struct gpx_fn_request {
    char id[40];
    char tenant[GPX_NAME_MAX];
    char function[GPX_NAME_MAX];
    int status; /* the HTTP status the caller got */
    int64_t ts_ns;
    double latency_ms, queue_ms, gpu_ms;
    double price_per_request, price_per_gpu_second; /* the function's, when it was answered */
};
struct gpx_fn_usage_row {
    char tenant[GPX_NAME_MAX];
    char function[GPX_NAME_MAX];
    uint64_t requests, errors; /* errors: status >= 400 */
    double gpu_seconds, bill, latency_ms_sum, queue_ms_sum;
};
int gpx_engine_fn_requests_add(struct gpx_engine *e, const struct gpx_fn_request *r, unsigned n,
                               gpx_error *err);
/* Grouped by tenant and function over [from_ns, to_ns); tenant NULL = every tenant's.
 * *out malloc'd (free()). */
int gpx_engine_fn_usage(struct gpx_engine *e, const char *tenant, int64_t from_ns, int64_t to_ns,
                        struct gpx_fn_usage_row **out, unsigned *n, gpx_error *err);

/* Periodic work: a daemon's timers, the start of each CLI command. */
void gpx_engine_reconcile(struct gpx_engine *e);
void gpx_engine_meter(struct gpx_engine *e);
void gpx_engine_inventory_refresh(struct gpx_engine *e);
void gpx_engine_checkpoint(struct gpx_engine *e);
const char *gpx_engine_run_dir(const struct gpx_engine *e);
struct gpx_nvml *gpx_engine_nvml(struct gpx_engine *e);

/* Counters for /metrics. */
struct gpx_engine_counters {
    uint64_t created, released, reaped;
};
void gpx_engine_counters(struct gpx_engine *e, struct gpx_engine_counters *out);

/*
 * Lease events, for front ends that act on them (CDI writer, VM teardown,
 * function pools, metrics): called with the engine lock held, after the
 * event is durable. An observer must not call back into the engine.
 */
enum gpx_lease_event { GPX_EV_COMMITTED, GPX_EV_RELEASED };
struct gpx_observer {
    const char *name;
    void (*on_event)(void *arg, enum gpx_lease_event ev, const struct gpx_lease_rec *l);
    void *arg;
};
int gpx_engine_observe(struct gpx_engine *e, const struct gpx_observer *o, gpx_error *err);

#endif
