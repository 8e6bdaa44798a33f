/*
 * The engine's durable state: one SQLite database (<state_dir>/gpuplexd.db)
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
 * The store is not thread-safe; the engine serializes calls with its lock.
 */
#ifndef GPX_ENGINE_STORE_H
#define GPX_ENGINE_STORE_H

#include "engine/engine.h"
#include "gpuplex/error.h"

#include <stdint.h>

struct gpx_store;

/* A metering sample of one lease over dt_ns ending at ts_ns. */
struct gpx_sample {
    const char *lease_id;
    const char *tenant;
    int64_t ts_ns, dt_ns;
    uint64_t gpu_ns, wait_ns; /* deltas over the interval */
    uint64_t used_bytes, peak_bytes;
};

/* Opens (creating) the database and applies pending migrations. */
int gpx_store_open(const char *path, struct gpx_store **out, gpx_error *err);
void gpx_store_close(struct gpx_store *st);
/* The newest schema version this build knows (what an opened store is migrated to). */
int gpx_store_schema_latest(void);
int gpx_store_schema_version(struct gpx_store *st);
/*
 * Copies committed WAL frames into the database file (a PASSIVE checkpoint
 * on the store's second connection). The daemon calls it from its background
 * thread, without its lock, so that no request waits for the database file's
 * flush; the only call that may run concurrently with the others. Returns
 * the number of frames copied, or -1.
 */
int gpx_store_checkpoint(struct gpx_store *st, gpx_error *err);

int gpx_store_begin(struct gpx_store *st, int durable, gpx_error *err);
int gpx_store_commit(struct gpx_store *st, gpx_error *err);
void gpx_store_rollback(struct gpx_store *st);

/* Each of these is its own transaction unless called between begin and commit. */
int gpx_store_lease_insert(struct gpx_store *st, const struct gpx_lease_rec *l, gpx_error *err);
int gpx_store_lease_update(struct gpx_store *st, const struct gpx_lease_rec *l, gpx_error *err);
/* 0 and *out filled; -1 with GPX_E_NOT_FOUND if no such row. */
int gpx_store_lease_get(struct gpx_store *st, const char *id, struct gpx_lease_rec *out,
                        gpx_error *err);
/*
 * Calls fn for each lease in the given states (a bit mask of 1 << state),
 * of `tenant` (NULL = all), overlapping [from_ns, to_ns) when to_ns > 0,
 * oldest first; stops when fn returns non-zero.
 */
int gpx_store_lease_each(struct gpx_store *st, unsigned states, const char *tenant, int64_t from_ns,
                         int64_t to_ns, int (*fn)(const struct gpx_lease_rec *l, void *arg),
                         void *arg, gpx_error *err);

int gpx_store_tenant_insert(struct gpx_store *st, const struct gpx_tenant *t, gpx_error *err);
int gpx_store_tenant_set_token(struct gpx_store *st, const char *name, const char *sha_hex,
                               gpx_error *err);
int gpx_store_tenant_delete(struct gpx_store *st, const char *name, gpx_error *err);
/*
 * Removes tenant `name` and, in the same transaction, files its leases and
 * usage samples under `past` (a name no tenant can take), so that a tenant
 * added later under the same name starts with no history while the admin
 * keeps the old one's. NOT_FOUND if there is no such tenant.
 */
int gpx_store_tenant_retire(struct gpx_store *st, const char *name, const char *past,
                            gpx_error *err);
int gpx_store_tenant_each(struct gpx_store *st, int (*fn)(const struct gpx_tenant *t, void *arg),
                          void *arg, gpx_error *err);

int gpx_store_sample_insert(struct gpx_store *st, const struct gpx_sample *s, gpx_error *err);
/* Per-lease sums of the samples with from_ns < ts_ns <= to_ns (used_gib_s: GiB-seconds). */
struct gpx_sample_sum {
    uint64_t gpu_ns, wait_ns;
    double used_gib_s;
    uint64_t peak_bytes;
};
int gpx_store_sample_each(struct gpx_store *st, const char *tenant, int64_t from_ns, int64_t to_ns,
                          int (*fn)(const char *id, const struct gpx_sample_sum *s, void *arg),
                          void *arg, gpx_error *err);

/*
 * Managed containers (src/daemon/containers.c): one row per container, its
 * record a JSON text the daemon writes and reads back; put inserts or
 * replaces it (durable).
 */
int gpx_store_container_put(struct gpx_store *st, const char *id, const char *tenant,
                            const char *record, gpx_error *err);
int gpx_store_container_delete(struct gpx_store *st, const char *id, gpx_error *err);
int gpx_store_container_each(struct gpx_store *st,
                             int (*fn)(const char *id, const char *tenant, const char *record,
                                       void *arg),
                             void *arg, gpx_error *err);

/* VMs (src/daemon/vms.c): one row each; put inserts or replaces (durable). */
int gpx_store_vm_put(struct gpx_store *st, const struct gpx_vm_row *r, gpx_error *err);
int gpx_store_vm_delete(struct gpx_store *st, const char *id, gpx_error *err);
int gpx_store_vm_each(struct gpx_store *st, int (*fn)(const struct gpx_vm_row *r, void *arg),
                      void *arg, gpx_error *err);

/*
 * VM leases (src/vm, src/daemon/vmhost.c): the sysfs journal, one row per write, added
 * before the write is made and cleared once the lease's hold is stored or given back; and
 * the hold (struct gpx_vm_hold as JSON) of each lease that has host devices.
 */
int gpx_store_vm_journal_add(struct gpx_store *st, const char *lease_id, const char *path,
                             const char *value, const char *undo, gpx_error *err);
int gpx_store_vm_journal_clear(struct gpx_store *st, const char *lease_id, gpx_error *err);
int gpx_store_vm_journal_each(struct gpx_store *st,
                              int (*fn)(const char *lease_id, const char *path, const char *value,
                                        const char *undo, void *arg),
                              void *arg, gpx_error *err);
int gpx_store_vm_hold_put(struct gpx_store *st, const char *lease_id, const char *gpu_bdf,
                          const char *hold, gpx_error *err);
int gpx_store_vm_hold_delete(struct gpx_store *st, const char *lease_id, gpx_error *err);
int gpx_store_vm_hold_each(struct gpx_store *st,
                           int (*fn)(const char *lease_id, const char *hold, void *arg), void *arg,
                           gpx_error *err);

/*
 * GPU functions (src/daemon/functions.c): one row per function, its record a
 * JSON text the daemon writes and reads back (durable); and one row per
 * answered request (the meter), added in batches (one transaction each).
 */
int gpx_store_function_put(struct gpx_store *st, const char *name, const char *owner,
                           const char *record, gpx_error *err);
int gpx_store_function_delete(struct gpx_store *st, const char *name, gpx_error *err);
int gpx_store_function_each(struct gpx_store *st,
                            int (*fn)(const char *name, const char *owner, const char *record,
                                      void *arg),
                            void *arg, gpx_error *err);
int gpx_store_fn_requests_add(struct gpx_store *st, const struct gpx_fn_request *r, unsigned n,
                              gpx_error *err);
/* Rows grouped by tenant and function over [from_ns, to_ns); tenant NULL = all. */
int gpx_store_fn_usage_each(struct gpx_store *st, const char *tenant, int64_t from_ns,
                            int64_t to_ns, int (*fn)(const struct gpx_fn_usage_row *row, void *arg),
                            void *arg, gpx_error *err);

#endif
