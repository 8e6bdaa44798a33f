/*
 * gpuplexd's state and the operations the HTTP layer calls. One mutex
 * (`lock`) covers the lease table, the tenant table and the store, so every
 * API operation is atomic with respect to the others; the inventory has its
 * own lock so that reading GPUs never waits on a disk flush.
 *
 * Invariants while `lock` is not held:
 * - every lease in `leases` has an 'active' row in the store and a region in
 *   run_dir (mapped in `region` when `mapped`);
 * - every 'pending' row is being created right now by the holder of the lock
 *   (after a crash, start-up reconciliation aborts it and removes its region).
 */
#ifndef GPXD_DAEMON_H
#define GPXD_DAEMON_H

#include "daemon/config.h"
#include "daemon/request.h"
#include "daemon/store.h"
#include "nvml/inventory.h"
#include "nvml/mig.h"
#include "shm/lease.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

struct gpxd_active {
    struct gpxd_lease rec;
    struct gpx_lease_region region;
    int mapped;
    int64_t orphan_since_ns; /* owners all gone since; 0 = alive (or no owners) */
    int64_t last_sample_ns;  /* end of the last metering sample */
    uint64_t gpu_ns_seen;    /* region counters at the last sample */
    uint64_t wait_ns_seen;
};

/* Who is calling: decided once per request by gpxd_authenticate(). */
struct gpxd_caller {
    char tenant[GPXD_NAME_MAX];
    int admin;
    unsigned max_gpus;   /* 0 = no limit */
    uint64_t max_memory; /* 0 = no limit */
    int via_unix;
    uint32_t uid; /* peer credentials (unix socket only) */
    int32_t pid;
};

#define GPXD_BUILTIN_ADMIN "admin"

struct gpxd {
    struct gpxd_config cfg;
    char run_dir[PATH_MAX];
    char interposer[PATH_MAX]; /* "" if none was found */
    char hostname[256];
    int64_t started_ns;
    uid_t self_uid;

    pthread_mutex_t lock;
    struct gpxd_store *store;
    struct gpxd_active **leases;
    unsigned n_leases, cap_leases;
    struct gpxd_tenant *tenants;
    unsigned n_tenants;

    pthread_mutex_t inv_lock;
    struct gpx_nvml nv;
    struct gpx_inventory inv;
    struct gpx_nvml_mig mig; /* MIG entry points (mig.c); used under `lock` */
    int mig_ok;              /* the driver manages MIG */
    char mig_why[256];       /* why not, when !mig_ok */
    char fault[32];          /* GPUPLEXD_FAULT: a test-only crash point (mig.c) */

    _Atomic uint64_t http_by_class[6]; /* [1..5]: 1xx..5xx */
    _Atomic uint64_t leases_created, leases_released, leases_reaped;

    pthread_t bg;
    pthread_mutex_t bg_lock;
    pthread_cond_t bg_cond;
    int bg_started, stopping;
};

int64_t gpxd_now_ns(void);

/* ledger.c: leases */
int gpxd_ledger_open(struct gpxd *d, gpx_error *err); /* loads + reconciles; lock not held */
int gpxd_lease_create(struct gpxd *d, const struct gpxd_caller *c, const struct gpxd_lease_req *r,
                      json_t **out, gpx_error *err);
int gpxd_lease_release(struct gpxd *d, const struct gpxd_caller *c, const char *id, json_t **out,
                       gpx_error *err);
int gpxd_lease_get(struct gpxd *d, const struct gpxd_caller *c, const char *id, json_t **out,
                   gpx_error *err);
/* state: "active" (default), "released", "all"; tenant NULL = the caller's (all for admins). */
int gpxd_lease_list(struct gpxd *d, const struct gpxd_caller *c, const char *state,
                    const char *tenant, json_t **out, gpx_error *err);
int gpxd_gpus(struct gpxd *d, const struct gpxd_caller *c, json_t **out, gpx_error *err);
int gpxd_usage(struct gpxd *d, const struct gpxd_caller *c, const char *tenant, int64_t from_ns,
               int64_t to_ns, json_t **out, gpx_error *err);
void gpxd_reconcile_tick(struct gpxd *d);
void gpxd_meter_tick(struct gpxd *d);
void gpxd_inventory_refresh(struct gpxd *d);
void gpxd_ledger_close(struct gpxd *d);
/* Number of active leases (any tenant): for /healthz. */
unsigned gpxd_lease_count(struct gpxd *d);

/*
 * mig.c: mig leases and /v1/gpus/{id}/mig. Everything but gpxd_mig_open
 * runs with `lock` held (the ledger's create and start-up call in).
 */
struct gpxd_mig_choice {
    struct gpx_mig_gpu_state *s; /* the chosen GPU as read; owned */
    int profile;                 /* index in s->table */
    int reuse;                   /* a free instance is reused (else one is created) */
    unsigned start;              /* placement: first memory slice */
    uint64_t memory;             /* the instance's memory, bytes */
    struct gpx_mig_plan plan;    /* when creating: the plan that makes room and creates it */
    unsigned gi, ci;             /* the instance: known when reused, after _make when created */
    char uuid[96];               /* its MIG device */
};
/* Resolves NVML's MIG entry points and GPUPLEXD_FAULT; at start-up. */
void gpxd_mig_open(struct gpxd *d);
/* Exits the process (status 137, as SIGKILL) when GPUPLEXD_FAULT names `point`: tests only. */
void gpxd_fault(struct gpxd *d, const char *point);
/*
 * Chooses the GPU and instance for a mig lease of `profile` on GPU `gpu`
 * (-1: any); `pg` is the node as gpx_place sees it (exclusive, leases,
 * allowed). *out is malloc'd; free it with gpxd_mig_choice_free. Errors:
 * 400 for an unknown GPU or profile (the message lists the model's valid
 * ones), 409 NO_SPACE when nothing fits (the message says what would).
 */
int gpxd_mig_place(struct gpxd *d, const char *profile, int gpu, const struct gpx_place_gpu *pg,
                   unsigned ng, struct gpxd_mig_choice **out, gpx_error *err);
void gpxd_mig_choice_free(struct gpxd_mig_choice *c);
/* Creates the chosen instance (destroying what the plan says first); fills gi, ci, uuid. */
int gpxd_mig_make(struct gpxd *d, struct gpxd_mig_choice *c, gpx_error *err);
/* Destroys the instance a failed or unacknowledged lease `l` created, if it is there and unused. */
void gpxd_mig_undo(struct gpxd *d, const struct gpxd_lease *l);
/*
 * Start-up: checks the instances of active mig rows (a vanished one's lease
 * is released, its row updated here) and destroys those that pending rows
 * created. Before the rows are loaded into the lease table.
 */
int gpxd_mig_startup(struct gpxd *d, struct gpxd_lease *rows, unsigned n, gpx_error *err);
int gpxd_mig_get(struct gpxd *d, const struct gpxd_caller *c, const char *gpu, json_t **out,
                 gpx_error *err);
int gpxd_mig_post(struct gpxd *d, const char *gpu, const struct gpxd_mig_req *r, json_t **out,
                  gpx_error *err);
/* ledger.c, for mig.c: the visible lease to a caller. */
int gpxd_lease_visible(const struct gpxd_caller *c, const struct gpxd_lease *l);

/* auth.c: tenants and callers */
int gpxd_tenants_load(struct gpxd *d, gpx_error *err); /* lock held */
/* Decides who is calling; -1 with GPX_E_UNAUTH when nobody could be identified. */
int gpxd_authenticate(struct gpxd *d, const char *authorization, int via_unix, int have_cred,
                      uint32_t uid, int32_t pid, struct gpxd_caller *c, gpx_error *err);
int gpxd_tenant_add(struct gpxd *d, const struct gpxd_tenant_req *r, json_t **out, gpx_error *err);
int gpxd_tenant_remove(struct gpxd *d, const char *name, json_t **out, gpx_error *err);
int gpxd_tenant_new_token(struct gpxd *d, const char *name, json_t **out, gpx_error *err);
int gpxd_tenant_list(struct gpxd *d, json_t **out, gpx_error *err);
int gpxd_tenant_get(struct gpxd *d, const struct gpxd_caller *c, const char *name, json_t **out,
                    gpx_error *err);
json_t *gpxd_caller_json(const struct gpxd_caller *c);

/* metrics.c: Prometheus text exposition; caller frees *out. */
int gpxd_metrics(struct gpxd *d, char **out, size_t *len, gpx_error *err);

/* api.c: routes a complete request. Returns the HTTP status; *body is malloc'd JSON or text. */
struct gpxd_http_req {
    const char *method;
    const char *path;
    const char *authorization;
    const char *body;
    size_t body_len;
    int body_too_large;
    int via_unix, have_cred;
    uint32_t uid;
    int32_t pid;
    /* query arguments, in order */
    unsigned n_args;
    const char *arg_name[16];
    const char *arg_value[16];
    int too_many_args;
};
struct gpxd_http_resp {
    int status;
    char *body;
    size_t len;
    const char *content_type;
    const char *allow; /* Allow header for 405 */
    int www_authenticate;
};
void gpxd_api_handle(struct gpxd *d, const struct gpxd_http_req *rq, struct gpxd_http_resp *rs);

/* http.c */
struct gpxd_http;
int gpxd_http_start(struct gpxd *d, struct gpxd_http **out, gpx_error *err);
void gpxd_http_stop(struct gpxd_http *h);

#endif
