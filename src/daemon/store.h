/*
 * The daemon's durable state: one SQLite database (<state_dir>/gpuplexd.db)
 * in WAL mode, schema versioned by the schema_migrations table.
 *
 * Durability: a commit that acknowledges something to a caller (a lease
 * becoming active or released, a tenant added) is made with
 * synchronous=FULL, so it survives power loss once the caller has the answer.
 * Intermediate steps (a lease's 'pending' row, metering samples) are made
 * with synchronous=NORMAL: they survive a crash of the daemon (the write is in
 * the kernel) and only need to survive as long as the lease regions they
 * guard, which live in the run directory (tmpfs).
 *
 * The store is not thread-safe; the daemon serializes calls with its lock.
 */
#ifndef GPXD_STORE_H
#define GPXD_STORE_H

#include "daemon/request.h"
#include "gpuplex/error.h"

#include <stdint.h>

struct gpxd_store;

enum gpxd_lease_state {
    GPXD_PENDING = 0, /* row written, region maybe not yet: never acknowledged */
    GPXD_ACTIVE = 1,  /* acknowledged */
    GPXD_RELEASED = 2,
    GPXD_ABORTED = 3, /* a pending lease that never became active */
};
const char *gpxd_lease_state_name(enum gpxd_lease_state s);

struct gpxd_owner {
    int32_t pid;
    uint64_t start_ticks; /* /proc/PID/stat starttime, tells pid reuse apart */
};

struct gpxd_lease {
    char id[64];
    char tenant[GPXD_NAME_MAX];
    int state; /* enum gpxd_lease_state */
    int mode;  /* enum gpx_lease_mode */
    unsigned gpu_index;
    char gpu_uuid[96];
    uint64_t memory_quota; /* bytes, 0 = none */
    uint64_t gpu_memory;   /* the GPU's memory size when granted (exclusive metering) */
    unsigned weight, cap;
    char mig_profile[32];
    char labels[GPXD_LABELS_JSON_MAX]; /* canonical JSON object */
    unsigned n_owners;
    struct gpxd_owner owners[GPXD_MAX_OWNERS];
    int64_t created_ns, released_ns;     /* CLOCK_REALTIME; released_ns 0 while active */
    char reason[64];                     /* why it was released */
    uint64_t gpu_ns, wait_ns, peak_used; /* metering recorded so far */
    /*
     * mig leases: the instance. The 'pending' row journals where it goes
     * (gpu_index, mig_profile, mig_start) and whether this lease makes it
     * (mig_created) before NVML is asked; the 'active' row adds its ids and
     * MIG device UUID. -1 / "" when not known (and for other modes).
     */
    int mig_start;   /* placement: first memory slice */
    int mig_created; /* 1: created for this lease (0: a free instance reused) */
    int mig_gi, mig_ci;
    char mig_uuid[96];
};

struct gpxd_tenant {
    char name[GPXD_NAME_MAX];
    int admin;
    char token_sha256[65]; /* hex */
    int has_uid;
    uint32_t uid;
    unsigned max_gpus;
    uint64_t max_memory;
    int64_t created_ns;
};

/* A metering sample of one lease over dt_ns ending at ts_ns. */
struct gpxd_sample {
    const char *lease_id;
    const char *tenant;
    int64_t ts_ns, dt_ns;
    uint64_t gpu_ns, wait_ns; /* deltas over the interval */
    uint64_t used_bytes, peak_bytes;
};

/* Opens (creating) the database and applies pending migrations. */
int gpxd_store_open(const char *path, struct gpxd_store **out, gpx_error *err);
void gpxd_store_close(struct gpxd_store *st);
int gpxd_store_schema_version(struct gpxd_store *st);
/*
 * Copies committed WAL frames into the database file (a PASSIVE checkpoint
 * on the store's second connection). The daemon calls it from its background
 * thread, without its lock, so that no request waits for the database file's
 * flush; the only call that may run concurrently with the others. Returns
 * the number of frames copied, or -1.
 */
int gpxd_store_checkpoint(struct gpxd_store *st, gpx_error *err);

int gpxd_store_begin(struct gpxd_store *st, int durable, gpx_error *err);
int gpxd_store_commit(struct gpxd_store *st, gpx_error *err);
void gpxd_store_rollback(struct gpxd_store *st);

/* Each of these is its own transaction unless called between begin and commit. */
int gpxd_store_lease_insert(struct gpxd_store *st, const struct gpxd_lease *l, gpx_error *err);
int gpxd_store_lease_update(struct gpxd_store *st, const struct gpxd_lease *l, gpx_error *err);
/* 0 and *out filled; -1 with GPX_E_NOT_FOUND if no such row. */
int gpxd_store_lease_get(struct gpxd_store *st, const char *id, struct gpxd_lease *out,
                         gpx_error *err);
/*
 * Calls fn for each lease in the given states (a bit mask of 1 << state),
 * of `tenant` (NULL = all), overlapping [from_ns, to_ns) when to_ns > 0,
 * oldest first; stops when fn returns non-zero.
 */
int gpxd_store_lease_each(struct gpxd_store *st, unsigned states, const char *tenant,
                          int64_t from_ns, int64_t to_ns,
                          int (*fn)(const struct gpxd_lease *l, void *arg), void *arg,
                          gpx_error *err);

int gpxd_store_tenant_insert(struct gpxd_store *st, const struct gpxd_tenant *t, gpx_error *err);
int gpxd_store_tenant_set_token(struct gpxd_store *st, const char *name, const char *sha_hex,
                                gpx_error *err);
int gpxd_store_tenant_delete(struct gpxd_store *st, const char *name, gpx_error *err);
int gpxd_store_tenant_each(struct gpxd_store *st, int (*fn)(const struct gpxd_tenant *t, void *arg),
                           void *arg, gpx_error *err);

int gpxd_store_sample_insert(struct gpxd_store *st, const struct gpxd_sample *s, gpx_error *err);
/* Per-lease sums of the samples with from_ns < ts_ns <= to_ns (used_gib_s: GiB-seconds). */
struct gpxd_sample_sum {
    uint64_t gpu_ns, wait_ns;
    double used_gib_s;
    uint64_t peak_bytes;
};
int gpxd_store_sample_each(struct gpxd_store *st, const char *tenant, int64_t from_ns,
                           int64_t to_ns,
                           int (*fn)(const char *id, const struct gpxd_sample_sum *s, void *arg),
                           void *arg, gpx_error *err);

#endif
