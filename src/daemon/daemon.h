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
