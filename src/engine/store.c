/*
 * SQLite store. Statements are prepared once and reset after each use. The
 * migrations table lists the schema versions applied; each migration runs in
 * its own transaction together with its row, so a crash mid-migration leaves
 * the previous version intact. A database written by a newer gpuplexd (a
 * version this one does not know) is refused rather than guessed at.
 */
#include "engine/store.h"
#include "core/log.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct {
    int version;
    const char *description;
    const char *sql;
} migrations[] = {
    {1, "leases, tenants, usage samples",
     "CREATE TABLE tenants("
     " name TEXT PRIMARY KEY, role TEXT NOT NULL CHECK(role IN ('admin','tenant')),"
     " token_sha256 TEXT NOT NULL, uid INTEGER UNIQUE, max_gpus INTEGER NOT NULL DEFAULT 0,"
     " max_memory INTEGER NOT NULL DEFAULT 0, created_ns INTEGER NOT NULL);"
     "CREATE TABLE leases("
     " id TEXT PRIMARY KEY, tenant TEXT NOT NULL,"
     " state TEXT NOT NULL CHECK(state IN ('pending','active','released','aborted')),"
     " mode INTEGER NOT NULL, gpu_index INTEGER NOT NULL, gpu_uuid TEXT NOT NULL,"
     " memory_quota INTEGER NOT NULL, gpu_memory INTEGER NOT NULL, weight INTEGER NOT NULL,"
     " cap INTEGER NOT NULL, mig_profile TEXT NOT NULL, labels TEXT NOT NULL,"
     " owners TEXT NOT NULL, created_ns INTEGER NOT NULL, released_ns INTEGER NOT NULL,"
     " reason TEXT NOT NULL, gpu_ns INTEGER NOT NULL, wait_ns INTEGER NOT NULL,"
     " peak_used INTEGER NOT NULL);"
     "CREATE INDEX leases_state ON leases(state);"
     "CREATE INDEX leases_tenant ON leases(tenant, created_ns);"
     "CREATE TABLE usage_samples("
     " lease_id TEXT NOT NULL, tenant TEXT NOT NULL, ts_ns INTEGER NOT NULL,"
     " dt_ns INTEGER NOT NULL, gpu_ns INTEGER NOT NULL, wait_ns INTEGER NOT NULL,"
     " used_bytes INTEGER NOT NULL, peak_bytes INTEGER NOT NULL);"
     "CREATE INDEX usage_samples_tenant_ts ON usage_samples(tenant, ts_ns);"},
    {2, "MIG instances of mig leases",
     "ALTER TABLE leases ADD COLUMN mig_start INTEGER NOT NULL DEFAULT -1;"
     "ALTER TABLE leases ADD COLUMN mig_created INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE leases ADD COLUMN mig_gi INTEGER NOT NULL DEFAULT -1;"
     "ALTER TABLE leases ADD COLUMN mig_ci INTEGER NOT NULL DEFAULT -1;"
     "ALTER TABLE leases ADD COLUMN mig_uuid TEXT NOT NULL DEFAULT '';"},
    {3, "the uid that owns the region of a lease",
     "ALTER TABLE leases ADD COLUMN uid INTEGER NOT NULL DEFAULT -1;"},
    {4, "the max_leases of tenants",
     "ALTER TABLE tenants ADD COLUMN max_leases INTEGER NOT NULL DEFAULT 0;"},
    {5, "managed containers of gpuplexd",
     "CREATE TABLE containers("
     " id TEXT PRIMARY KEY, tenant TEXT NOT NULL, record TEXT NOT NULL,"
     " created_ns INTEGER NOT NULL);"},
    /* src/vm: every sysfs change is journaled (vm_journal) before it is made; a VM lease's
     * host devices (vm_holds: struct gpx_vm_hold as JSON) once all changes are made. */
    {6, "VM leases: sysfs journal and host devices",
     "CREATE TABLE vm_journal("
     " seq INTEGER PRIMARY KEY AUTOINCREMENT, lease_id TEXT NOT NULL, path TEXT NOT NULL,"
     " value TEXT NOT NULL, undo TEXT, ts_ns INTEGER NOT NULL);"
     "CREATE INDEX vm_journal_lease ON vm_journal(lease_id);"
     "CREATE TABLE vm_holds("
     " lease_id TEXT PRIMARY KEY, gpu_bdf TEXT NOT NULL, hold TEXT NOT NULL,"
     " created_ns INTEGER NOT NULL);"},
    {7, "GPU functions and their per-request meter",
     "CREATE TABLE functions("
     " name TEXT PRIMARY KEY, owner TEXT NOT NULL, record TEXT NOT NULL,"
     " created_ns INTEGER NOT NULL);"
     "CREATE TABLE function_requests("
     " id TEXT NOT NULL, tenant TEXT NOT NULL, function TEXT NOT NULL, status INTEGER NOT NULL,"
     " ts_ns INTEGER NOT NULL, latency_ms REAL NOT NULL, queue_ms REAL NOT NULL,"
     " gpu_ms REAL NOT NULL, price_per_request REAL NOT NULL,"
     " price_per_gpu_second REAL NOT NULL);"
     "CREATE INDEX function_requests_tenant_ts ON function_requests(tenant, ts_ns);"},
    /* src/daemon/vms.c: one row per VM (its libvirt domain, lease and SSH endpoint); the
     * request as given (spec) and the daemon's state of it (record), both JSON. */
    {8, "VMs of gpuplexd (libvirt domains)",
     "CREATE TABLE vms("
     " id TEXT PRIMARY KEY, lease_id TEXT NOT NULL, tenant TEXT NOT NULL,"
     " domain TEXT NOT NULL, endpoint TEXT NOT NULL, spec TEXT NOT NULL,"
     " record TEXT NOT NULL, created_ns INTEGER NOT NULL);"
     "CREATE INDEX vms_lease ON vms(lease_id);"},
};
#define N_MIGRATIONS (int)(sizeof migrations / sizeof migrations[0])

enum {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_SYNC_FULL,
    S_SYNC_NORMAL,
    S_LEASE_INSERT,
    S_LEASE_UPDATE,
    S_LEASE_GET,
    S_TENANT_INSERT,
    S_TENANT_TOKEN,
    S_TENANT_DELETE,
    S_TENANT_ALL,
    S_SAMPLE_INSERT,
    S_COUNT
};

#define LEASE_COLUMNS                                                                              \
    "id,tenant,state,mode,gpu_index,gpu_uuid,memory_quota,gpu_memory,weight,cap,mig_profile,"      \
    "labels,owners,created_ns,released_ns,reason,gpu_ns,wait_ns,peak_used,mig_start,mig_created,"  \
    "mig_gi,mig_ci,mig_uuid,uid"

static const char *const sql_text[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_SYNC_FULL] = "PRAGMA synchronous=FULL",
    [S_SYNC_NORMAL] = "PRAGMA synchronous=NORMAL",
    [S_LEASE_INSERT] =
        "INSERT INTO leases(id,tenant,state,mode,gpu_index,gpu_uuid,memory_quota,gpu_memory,"
        "weight,cap,mig_profile,labels,owners,created_ns,released_ns,reason,gpu_ns,wait_ns,"
        "peak_used,mig_start,mig_created,mig_gi,mig_ci,mig_uuid,uid) VALUES(?1,?2,?3,?4,?5,?6,?7,"
        "?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24,?25)",
    [S_LEASE_UPDATE] = "UPDATE leases SET state=?3,released_ns=?15,reason=?16,gpu_ns=?17,"
                       "wait_ns=?18,peak_used=?19,mig_start=?20,mig_created=?21,mig_gi=?22,"
                       "mig_ci=?23,mig_uuid=?24 WHERE id=?1",
    [S_LEASE_GET] = "SELECT " LEASE_COLUMNS " FROM leases WHERE id=?1",
    [S_TENANT_INSERT] = "INSERT INTO tenants(name,role,token_sha256,uid,max_gpus,max_memory,"
                        "created_ns,max_leases) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
    [S_TENANT_TOKEN] = "UPDATE tenants SET token_sha256=?2 WHERE name=?1",
    [S_TENANT_DELETE] = "DELETE FROM tenants WHERE name=?1",
    [S_TENANT_ALL] = "SELECT name,role,token_sha256,uid,max_gpus,max_memory,created_ns,"
                     "max_leases FROM tenants ORDER BY name",
    [S_SAMPLE_INSERT] = "INSERT INTO usage_samples(lease_id,tenant,ts_ns,dt_ns,gpu_ns,wait_ns,"
                        "used_bytes,peak_bytes) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
};

struct gpx_store {
    sqlite3 *db;
    sqlite3 *ckpt; /* second connection, used only by gpx_store_checkpoint() */
    sqlite3_stmt *stmt[S_COUNT];
    int in_tx;
    int version;
};

static const char *const state_names[] = {"pending", "active", "released", "aborted"};

const char *gpx_lease_state_name(enum gpx_lease_state s)
{
    return (unsigned)s < 4 ? state_names[s] : "unknown";
}

static int state_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (s && strcmp(s, state_names[i]) == 0)
            return i;
    return -1;
}

static int db_fail(struct gpx_store *st, gpx_error *err, const char *what)
{
    return gpx_error_set(err, GPX_E_IO, "%s: %s", what, sqlite3_errmsg(st->db));
}

/* Runs a prepared statement that returns no rows. */
static int step_done(struct gpx_store *st, int which, gpx_error *err)
{
    sqlite3_stmt *s = st->stmt[which];
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) {
        gpx_error_set(err, rc == SQLITE_CONSTRAINT ? GPX_E_EXISTS : GPX_E_IO, "database: %s",
                      sqlite3_errmsg(st->db));
        return -1;
    }
    return 0;
}

static int exec(struct gpx_store *st, const char *sql, gpx_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        gpx_error_set(err, GPX_E_IO, "database: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* 1 when schema version `v` was applied, 0 when not, -1 on error. */
static int applied(struct gpx_store *st, int v)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM schema_migrations WHERE version=?1", -1, &q,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int(q, 1, v);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int migrate(struct gpx_store *st, gpx_error *err)
{
    if (exec(st,
             "CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER PRIMARY KEY,"
             " description TEXT NOT NULL, applied_ns INTEGER NOT NULL)",
             err) < 0)
        return -1;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "SELECT COALESCE(MAX(version),0) FROM schema_migrations", -1, &q,
                           NULL) != SQLITE_OK)
        return db_fail(st, err, "reading schema version");
    int have = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : -1;
    sqlite3_finalize(q);
    if (have < 0)
        return db_fail(st, err, "reading schema version");
    if (have > migrations[N_MIGRATIONS - 1].version)
        return gpx_error_set(err, GPX_E_STATE,
                             "database schema version %d is newer than this gpuplexd knows (%d): "
                             "it was written by a newer gpuplexd",
                             have, migrations[N_MIGRATIONS - 1].version);
    for (int i = 0; i < N_MIGRATIONS; i++) {
        /* each version by itself, not "above the highest": versions are claimed by
         * parallel work and may land out of order (a database at 8 still gets 7) */
        int done = applied(st, migrations[i].version);
        if (done < 0)
            return db_fail(st, err, "reading schema version");
        if (done)
            continue;
        if (exec(st, "BEGIN IMMEDIATE", err) < 0)
            return -1;
        char row[256];
        snprintf(row, sizeof row,
                 "INSERT INTO schema_migrations(version,description,applied_ns) "
                 "VALUES(%d,'%s',%lld)",
                 migrations[i].version, migrations[i].description, (long long)now_ns());
        if (exec(st, migrations[i].sql, err) < 0 || exec(st, row, err) < 0) {
            exec(st, "ROLLBACK", NULL);
            return gpx_error_wrap(err, "migration %d", migrations[i].version);
        }
        if (exec(st, "COMMIT", err) < 0)
            return -1;
        gpx_info("database: applied migration %d (%s)", migrations[i].version,
                 migrations[i].description);
    }
    st->version = migrations[N_MIGRATIONS - 1].version;
    return 0;
}

int gpx_store_open(const char *path, struct gpx_store **out, gpx_error *err)
{
    struct gpx_store *st = calloc(1, sizeof *st);
    if (!st)
        return gpx_error_set(err, GPX_E_NOMEM, "store");
    if (sqlite3_open_v2(path, &st->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        gpx_error_set(err, GPX_E_IO, "opening database %s: %s", path,
                      st->db ? sqlite3_errmsg(st->db) : "out of memory");
        gpx_store_close(st);
        return -1;
    }
    sqlite3_busy_timeout(st->db, 5000);
    /* checkpoints (which flush the database file) run off the request path, on their own
     * connection: see gpx_store_checkpoint() */
    if (exec(st, "PRAGMA journal_mode=WAL", err) < 0 ||
        exec(st, "PRAGMA wal_autocheckpoint=0", err) < 0 ||
        exec(st, "PRAGMA synchronous=FULL", err) < 0 ||
        exec(st, "PRAGMA foreign_keys=ON", err) < 0 || migrate(st, err) < 0) {
        gpx_error_wrap(err, "database %s", path);
        gpx_store_close(st);
        return -1;
    }
    if (sqlite3_open_v2(path, &st->ckpt, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        gpx_error_set(err, GPX_E_IO, "opening database %s: %s", path,
                      st->ckpt ? sqlite3_errmsg(st->ckpt) : "out of memory");
        gpx_store_close(st);
        return -1;
    }
    sqlite3_busy_timeout(st->ckpt, 5000);
    for (int i = 0; i < S_COUNT; i++) {
        if (sqlite3_prepare_v3(st->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i],
                               NULL) != SQLITE_OK) {
            db_fail(st, err, "preparing statement");
            gpx_store_close(st);
            return -1;
        }
    }
    *out = st;
    return 0;
}

void gpx_store_close(struct gpx_store *st)
{
    if (!st)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(st->stmt[i]);
    if (st->ckpt) {
        sqlite3_wal_checkpoint_v2(st->ckpt, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        sqlite3_close(st->ckpt);
    }
    sqlite3_close(st->db);
    free(st);
}

int gpx_store_checkpoint(struct gpx_store *st, gpx_error *err)
{
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(st->ckpt, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (rc == SQLITE_BUSY)
        return 0; /* a reader or another checkpoint holds it: next time */
    if (rc != SQLITE_OK)
        return gpx_error_set(err, GPX_E_IO, "checkpoint: %s", sqlite3_errmsg(st->ckpt));
    return done > 0 ? done : 0;
}

int gpx_store_schema_latest(void)
{
    return migrations[N_MIGRATIONS - 1].version;
}

int gpx_store_schema_version(struct gpx_store *st)
{
    return st->version;
}

int gpx_store_begin(struct gpx_store *st, int durable, gpx_error *err)
{
    /* synchronous can only change outside a transaction */
    if (step_done(st, durable ? S_SYNC_FULL : S_SYNC_NORMAL, err) < 0 ||
        step_done(st, S_BEGIN, err) < 0)
        return -1;
    st->in_tx = 1;
    return 0;
}

int gpx_store_commit(struct gpx_store *st, gpx_error *err)
{
    st->in_tx = 0;
    if (step_done(st, S_COMMIT, err) < 0) {
        gpx_store_rollback(st);
        return -1;
    }
    return 0;
}

void gpx_store_rollback(struct gpx_store *st)
{
    st->in_tx = 0;
    if (sqlite3_get_autocommit(st->db) == 0)
        step_done(st, S_ROLLBACK, NULL);
}

static void owners_format(const struct gpx_lease_rec *l, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < l->n_owners && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%d:%llu", i ? "," : "", (int)l->owners[i].pid,
                              (unsigned long long)l->owners[i].start_ticks);
}

static void owners_parse(const char *s, struct gpx_lease_rec *l)
{
    l->n_owners = 0;
    while (s && *s && l->n_owners < GPX_MAX_OWNERS) {
        char *end;
        errno = 0;
        long pid = strtol(s, &end, 10);
        if (errno || end == s || *end != ':' || pid <= 0 || pid > INT32_MAX)
            break;
        const char *ts = end + 1;
        unsigned long long t = strtoull(ts, &end, 10);
        if (errno || end == ts)
            break;
        l->owners[l->n_owners].pid = (int)pid;
        l->owners[l->n_owners].start_ticks = t;
        l->n_owners++;
        s = end;
        if (*s == ',')
            s++;
    }
}

static void bind_lease(sqlite3_stmt *s, const struct gpx_lease_rec *l, char *owners, size_t olen)
{
    owners_format(l, owners, olen);
    sqlite3_bind_text(s, 1, l->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, l->tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, gpx_lease_state_name((enum gpx_lease_state)l->state), -1,
                      SQLITE_STATIC);
    sqlite3_bind_int(s, 4, l->mode);
    sqlite3_bind_int(s, 5, (int)l->gpu_index);
    sqlite3_bind_text(s, 6, l->gpu_uuid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, (sqlite3_int64)l->memory_quota);
    sqlite3_bind_int64(s, 8, (sqlite3_int64)l->gpu_memory);
    sqlite3_bind_int(s, 9, (int)l->weight);
    sqlite3_bind_int(s, 10, (int)l->cap);
    sqlite3_bind_text(s, 11, l->mig_profile, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 12, l->labels, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 13, owners, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 14, l->created_ns);
    sqlite3_bind_int64(s, 15, l->released_ns);
    sqlite3_bind_text(s, 16, l->reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 17, (sqlite3_int64)l->gpu_ns);
    sqlite3_bind_int64(s, 18, (sqlite3_int64)l->wait_ns);
    sqlite3_bind_int64(s, 19, (sqlite3_int64)l->peak_used);
    sqlite3_bind_int(s, 20, l->mig_start);
    sqlite3_bind_int(s, 21, l->mig_created);
    sqlite3_bind_int(s, 22, l->mig_gi);
    sqlite3_bind_int(s, 23, l->mig_ci);
    sqlite3_bind_text(s, 24, l->mig_uuid, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(s) >= 25)
        sqlite3_bind_int64(s, 25, l->uid);
}

/* Autocommit writes use the synchronous level of the last begin: set it explicitly. */
static int single(struct gpx_store *st, int which, int durable, gpx_error *err)
{
    if (!st->in_tx && step_done(st, durable ? S_SYNC_FULL : S_SYNC_NORMAL, err) < 0)
        return -1;
    return step_done(st, which, err);
}

int gpx_store_lease_insert(struct gpx_store *st, const struct gpx_lease_rec *l, gpx_error *err)
{
    char owners[GPX_MAX_OWNERS * 32];
    bind_lease(st->stmt[S_LEASE_INSERT], l, owners, sizeof owners);
    return single(st, S_LEASE_INSERT, l->state != GPX_LS_PENDING, err);
}

int gpx_store_lease_update(struct gpx_store *st, const struct gpx_lease_rec *l, gpx_error *err)
{
    char owners[GPX_MAX_OWNERS * 32];
    bind_lease(st->stmt[S_LEASE_UPDATE], l, owners, sizeof owners);
    if (single(st, S_LEASE_UPDATE, l->state != GPX_LS_PENDING, err) < 0)
        return -1;
    if (sqlite3_changes(st->db) != 1)
        return gpx_error_set(err, GPX_E_NOT_FOUND, "no lease %s in the database", l->id);
    return 0;
}

static void copy_col(char *dst, size_t len, sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(dst, len, "%s", t ? (const char *)t : "");
}

static void read_lease(sqlite3_stmt *s, struct gpx_lease_rec *l)
{
    memset(l, 0, sizeof *l);
    copy_col(l->id, sizeof l->id, s, 0);
    copy_col(l->tenant, sizeof l->tenant, s, 1);
    l->state = state_parse((const char *)sqlite3_column_text(s, 2));
    l->mode = sqlite3_column_int(s, 3);
    l->gpu_index = (unsigned)sqlite3_column_int(s, 4);
    copy_col(l->gpu_uuid, sizeof l->gpu_uuid, s, 5);
    l->memory_quota = (uint64_t)sqlite3_column_int64(s, 6);
    l->gpu_memory = (uint64_t)sqlite3_column_int64(s, 7);
    l->weight = (unsigned)sqlite3_column_int(s, 8);
    l->cap = (unsigned)sqlite3_column_int(s, 9);
    copy_col(l->mig_profile, sizeof l->mig_profile, s, 10);
    copy_col(l->labels, sizeof l->labels, s, 11);
    owners_parse((const char *)sqlite3_column_text(s, 12), l);
    l->created_ns = sqlite3_column_int64(s, 13);
    l->released_ns = sqlite3_column_int64(s, 14);
    copy_col(l->reason, sizeof l->reason, s, 15);
    l->gpu_ns = (uint64_t)sqlite3_column_int64(s, 16);
    l->wait_ns = (uint64_t)sqlite3_column_int64(s, 17);
    l->peak_used = (uint64_t)sqlite3_column_int64(s, 18);
    l->mig_start = sqlite3_column_int(s, 19);
    l->mig_created = sqlite3_column_int(s, 20);
    l->mig_gi = sqlite3_column_int(s, 21);
    l->mig_ci = sqlite3_column_int(s, 22);
    copy_col(l->mig_uuid, sizeof l->mig_uuid, s, 23);
    l->uid = sqlite3_column_int64(s, 24);
}

int gpx_store_lease_get(struct gpx_store *st, const char *id, struct gpx_lease_rec *out,
                        gpx_error *err)
{
    sqlite3_stmt *s = st->stmt[S_LEASE_GET];
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        read_lease(s, out);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return gpx_error_set(err, GPX_E_NOT_FOUND, "no lease %s", id);
    return db_fail(st, err, "reading lease");
}

int gpx_store_lease_each(struct gpx_store *st, unsigned states, const char *tenant, int64_t from_ns,
                         int64_t to_ns, int (*fn)(const struct gpx_lease_rec *l, void *arg),
                         void *arg, gpx_error *err)
{
    char sql[1024];
    size_t n =
        (size_t)snprintf(sql, sizeof sql, "SELECT " LEASE_COLUMNS " FROM leases WHERE state IN (");
    int first = 1;
    for (int i = 0; i < 4; i++) {
        if (!(states & (1u << i)))
            continue;
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%s'%s'", first ? "" : ",", state_names[i]);
        first = 0;
    }
    if (first)
        return 0;
    n += (size_t)snprintf(sql + n, sizeof sql - n, ")");
    if (tenant)
        n += (size_t)snprintf(sql + n, sizeof sql - n, " AND tenant=?1");
    if (to_ns > 0)
        n += (size_t)snprintf(sql + n, sizeof sql - n,
                              " AND created_ns < ?3 AND (released_ns = 0 OR released_ns > ?2)");
    snprintf(sql + n, sizeof sql - n, " ORDER BY created_ns, id");
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return db_fail(st, err, "listing leases");
    if (tenant)
        sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
    if (to_ns > 0) {
        sqlite3_bind_int64(s, 2, from_ns);
        sqlite3_bind_int64(s, 3, to_ns);
    }
    int rc;
    struct gpx_lease_rec *l = malloc(sizeof *l);
    if (!l) {
        sqlite3_finalize(s);
        return gpx_error_set(err, GPX_E_NOMEM, "listing leases");
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_lease(s, l);
        if (fn(l, arg))
            break;
    }
    free(l);
    int bad = rc != SQLITE_ROW && rc != SQLITE_DONE;
    if (bad)
        db_fail(st, err, "listing leases");
    sqlite3_finalize(s);
    return bad ? -1 : 0;
}

int gpx_store_tenant_insert(struct gpx_store *st, const struct gpx_tenant *t, gpx_error *err)
{
    sqlite3_stmt *s = st->stmt[S_TENANT_INSERT];
    sqlite3_bind_text(s, 1, t->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, t->admin ? "admin" : "tenant", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, t->token_sha256, -1, SQLITE_STATIC);
    if (t->has_uid)
        sqlite3_bind_int64(s, 4, t->uid);
    else
        sqlite3_bind_null(s, 4);
    sqlite3_bind_int(s, 5, (int)t->max_gpus);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)t->max_memory);
    sqlite3_bind_int64(s, 7, t->created_ns);
    sqlite3_bind_int64(s, 8, t->max_leases);
    if (single(st, S_TENANT_INSERT, 1, err) < 0) {
        if (err && err->code == GPX_E_EXISTS)
            gpx_error_set(err, GPX_E_EXISTS, "tenant '%s'%s already exists", t->name,
                          t->has_uid ? " (or its uid)" : "");
        return -1;
    }
    return 0;
}

int gpx_store_tenant_set_token(struct gpx_store *st, const char *name, const char *sha_hex,
                               gpx_error *err)
{
    sqlite3_stmt *s = st->stmt[S_TENANT_TOKEN];
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, sha_hex, -1, SQLITE_STATIC);
    if (single(st, S_TENANT_TOKEN, 1, err) < 0)
        return -1;
    if (sqlite3_changes(st->db) != 1)
        return gpx_error_set(err, GPX_E_NOT_FOUND, "no tenant '%s'", name);
    return 0;
}

int gpx_store_tenant_delete(struct gpx_store *st, const char *name, gpx_error *err)
{
    sqlite3_stmt *s = st->stmt[S_TENANT_DELETE];
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    if (single(st, S_TENANT_DELETE, 1, err) < 0)
        return -1;
    if (sqlite3_changes(st->db) != 1)
        return gpx_error_set(err, GPX_E_NOT_FOUND, "no tenant '%s'", name);
    return 0;
}

/* Runs `sql` with ?1 = a and ?2 = b (either may be NULL: not bound), expecting no rows. */
static int run2(struct gpx_store *st, const char *sql, const char *a, const char *b, gpx_error *err)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return db_fail(st, err, "preparing statement");
    if (a)
        sqlite3_bind_text(s, 1, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(s, 2, b, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : db_fail(st, err, "database");
}

/* Runs the insert/upsert `sql` once with ?1..?n = text[0..n-1] (NULL binds SQL NULL) and
 * ?n+1 = the time now. `durable`: outside a transaction the database is first made to sync
 * fully, so the row the daemon acts on survives a power cut. `what` names a failed step. */
static int put_row(struct gpx_store *st, int durable, const char *sql, const char *const *text,
                   int n, const char *what, gpx_error *err)
{
    sqlite3_stmt *s;
    if (durable && !st->in_tx && step_done(st, S_SYNC_FULL, err) < 0)
        return -1;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return db_fail(st, err, "preparing statement");
    for (int i = 0; i < n; i++)
        if (text[i])
            sqlite3_bind_text(s, i + 1, text[i], -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(s, i + 1);
    sqlite3_bind_int64(s, n + 1, now_ns());
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : db_fail(st, err, what);
}

/* Deletes with `sql` the row ?1 = key names, durably (as put_row does). */
static int delete_row(struct gpx_store *st, const char *sql, const char *key, gpx_error *err)
{
    if (!st->in_tx && step_done(st, S_SYNC_FULL, err) < 0)
        return -1;
    return run2(st, sql, key, NULL, err);
}

/* Calls fn(col, arg) for each row of the query `sql`, col[0..n-1] its text columns (n <= 8),
 * until fn returns non-zero. */
static int each_text(struct gpx_store *st, const char *sql, int n,
                     int (*fn)(const char *const *col, void *arg), void *arg, gpx_error *err)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return db_fail(st, err, "preparing statement");
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *col[8];
        for (int i = 0; i < n; i++)
            col[i] = (const char *)sqlite3_column_text(s, i);
        if (fn(col, arg))
            break;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(st, err, "database");
}

/* The listing callbacks of the API, by how many text columns they take. */
struct each_fn {
    union {
        int (*f2)(const char *, const char *, void *);
        int (*f3)(const char *, const char *, const char *, void *);
        int (*f4)(const char *, const char *, const char *, const char *, void *);
        int (*vm)(const struct gpx_vm_row *, void *);
    } fn;
    void *arg;
};

static int call2(const char *const *c, void *p)
{
    const struct each_fn *e = p;
    return e->fn.f2(c[0], c[1], e->arg);
}

static int call3(const char *const *c, void *p)
{
    const struct each_fn *e = p;
    return e->fn.f3(c[0], c[1], c[2], e->arg);
}

static int call4(const char *const *c, void *p)
{
    const struct each_fn *e = p;
    return e->fn.f4(c[0], c[1], c[2], c[3], e->arg);
}

static int call_vm(const char *const *c, void *p)
{
    const struct each_fn *e = p;
    struct gpx_vm_row r = {c[0], c[1], c[2], c[3], c[4], c[5], c[6]};
    return e->fn.vm(&r, e->arg);
}

int gpx_store_tenant_retire(struct gpx_store *st, const char *name, const char *past,
                            gpx_error *err)
{
    if (gpx_store_begin(st, 1, err) < 0)
        return -1;
    if (run2(st, "DELETE FROM tenants WHERE name=?1", name, NULL, err) < 0)
        goto fail;
    if (sqlite3_changes(st->db) != 1) {
        gpx_error_set(err, GPX_E_NOT_FOUND, "no tenant '%s'", name);
        goto fail;
    }
    if (run2(st, "UPDATE leases SET tenant=?2 WHERE tenant=?1", name, past, err) < 0 ||
        run2(st, "UPDATE usage_samples SET tenant=?2 WHERE tenant=?1", name, past, err) < 0)
        goto fail;
    return gpx_store_commit(st, err);
fail:
    gpx_store_rollback(st);
    return -1;
}

int gpx_store_tenant_each(struct gpx_store *st, int (*fn)(const struct gpx_tenant *t, void *arg),
                          void *arg, gpx_error *err)
{
    sqlite3_stmt *s = st->stmt[S_TENANT_ALL];
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct gpx_tenant t;
        memset(&t, 0, sizeof t);
        copy_col(t.name, sizeof t.name, s, 0);
        const unsigned char *role = sqlite3_column_text(s, 1);
        t.admin = role && strcmp((const char *)role, "admin") == 0;
        copy_col(t.token_sha256, sizeof t.token_sha256, s, 2);
        t.has_uid = sqlite3_column_type(s, 3) != SQLITE_NULL;
        t.uid = (uint32_t)sqlite3_column_int64(s, 3);
        t.max_gpus = (unsigned)sqlite3_column_int(s, 4);
        t.max_memory = (uint64_t)sqlite3_column_int64(s, 5);
        t.created_ns = sqlite3_column_int64(s, 6);
        t.max_leases = (unsigned)sqlite3_column_int64(s, 7);
        if (fn(&t, arg))
            break;
    }
    int bad = rc != SQLITE_ROW && rc != SQLITE_DONE;
    if (bad)
        db_fail(st, err, "listing tenants");
    sqlite3_reset(s);
    return bad ? -1 : 0;
}

int gpx_store_sample_insert(struct gpx_store *st, const struct gpx_sample *smp, gpx_error *err)
{
    sqlite3_stmt *s = st->stmt[S_SAMPLE_INSERT];
    sqlite3_bind_text(s, 1, smp->lease_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, smp->tenant, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, smp->ts_ns);
    sqlite3_bind_int64(s, 4, smp->dt_ns);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)smp->gpu_ns);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)smp->wait_ns);
    sqlite3_bind_int64(s, 7, (sqlite3_int64)smp->used_bytes);
    sqlite3_bind_int64(s, 8, (sqlite3_int64)smp->peak_bytes);
    return single(st, S_SAMPLE_INSERT, 0, err);
}

int gpx_store_sample_each(struct gpx_store *st, const char *tenant, int64_t from_ns, int64_t to_ns,
                          int (*fn)(const char *id, const struct gpx_sample_sum *sum, void *arg),
                          void *arg, gpx_error *err)
{
    const char *sql =
        tenant
            ? "SELECT lease_id,SUM(gpu_ns),SUM(wait_ns),SUM(used_bytes*(dt_ns/1e9))/1073741824.0,"
              "MAX(peak_bytes) FROM usage_samples WHERE tenant=?1 AND ts_ns>?2 AND ts_ns<=?3 "
              "GROUP BY lease_id"
            : "SELECT lease_id,SUM(gpu_ns),SUM(wait_ns),SUM(used_bytes*(dt_ns/1e9))/1073741824.0,"
              "MAX(peak_bytes) FROM usage_samples WHERE ts_ns>?2 AND ts_ns<=?3 "
              "GROUP BY lease_id";
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return db_fail(st, err, "reading usage");
    if (tenant)
        sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, from_ns);
    sqlite3_bind_int64(s, 3, to_ns);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct gpx_sample_sum sum = {
            .gpu_ns = (uint64_t)sqlite3_column_int64(s, 1),
            .wait_ns = (uint64_t)sqlite3_column_int64(s, 2),
            .used_gib_s = sqlite3_column_double(s, 3),
            .peak_bytes = (uint64_t)sqlite3_column_int64(s, 4),
        };
        if (fn((const char *)sqlite3_column_text(s, 0), &sum, arg))
            break;
    }
    int bad = rc != SQLITE_ROW && rc != SQLITE_DONE;
    if (bad)
        db_fail(st, err, "reading usage");
    sqlite3_finalize(s);
    return bad ? -1 : 0;
}

/* --- managed containers (records the daemon writes as JSON) -------------------------------- */

int gpx_store_container_put(struct gpx_store *st, const char *id, const char *tenant,
                            const char *record, gpx_error *err)
{
    const char *v[] = {id, tenant, record};
    return put_row(st, 1,
                   "INSERT INTO containers(id,tenant,record,created_ns) VALUES(?1,?2,?3,?4)"
                   " ON CONFLICT(id) DO UPDATE SET record=?3",
                   v, 3, "database", err);
}

int gpx_store_container_delete(struct gpx_store *st, const char *id, gpx_error *err)
{
    return delete_row(st, "DELETE FROM containers WHERE id=?1", id, err);
}

int gpx_store_container_each(struct gpx_store *st,
                             int (*fn)(const char *id, const char *tenant, const char *record,
                                       void *arg),
                             void *arg, gpx_error *err)
{
    struct each_fn e = {.fn.f3 = fn, .arg = arg};
    return each_text(st, "SELECT id,tenant,record FROM containers ORDER BY created_ns,id", 3, call3,
                     &e, err);
}

/* --- VMs of gpuplexd (src/daemon/vms.c; rows the daemon writes, JSON it reads back) -------- */

int gpx_store_vm_put(struct gpx_store *st, const struct gpx_vm_row *r, gpx_error *err)
{
    const char *v[7] = {r->id, r->lease_id, r->tenant, r->domain, r->endpoint, r->spec, r->record};
    for (int i = 0; i < 7; i++)
        v[i] = v[i] ? v[i] : "";
    return put_row(st, 1,
                   "INSERT INTO vms(id,lease_id,tenant,domain,endpoint,spec,record,created_ns)"
                   " VALUES(?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT(id) DO UPDATE"
                   " SET lease_id=?2,domain=?4,endpoint=?5,spec=?6,record=?7",
                   v, 7, "database", err);
}

int gpx_store_vm_delete(struct gpx_store *st, const char *id, gpx_error *err)
{
    return delete_row(st, "DELETE FROM vms WHERE id=?1", id, err);
}

int gpx_store_vm_each(struct gpx_store *st, int (*fn)(const struct gpx_vm_row *r, void *arg),
                      void *arg, gpx_error *err)
{
    struct each_fn e = {.fn.vm = fn, .arg = arg};
    return each_text(st,
                     "SELECT id,lease_id,tenant,domain,endpoint,spec,record FROM vms"
                     " ORDER BY created_ns,id",
                     7, call_vm, &e, err);
}

/* --- VM leases: the sysfs journal and the host devices each lease holds (src/vm) ----------- */

int gpx_store_vm_journal_add(struct gpx_store *st, const char *lease_id, const char *path,
                             const char *value, const char *undo, gpx_error *err)
{
    const char *v[] = {lease_id, path, value, undo};
    return put_row(st, 0,
                   "INSERT INTO vm_journal(lease_id,path,value,undo,ts_ns) VALUES(?1,?2,?3,?4,?5)",
                   v, 4, "journaling a sysfs write", err);
}

int gpx_store_vm_journal_clear(struct gpx_store *st, const char *lease_id, gpx_error *err)
{
    return run2(st, "DELETE FROM vm_journal WHERE lease_id=?1", lease_id, NULL, err);
}

int gpx_store_vm_journal_each(struct gpx_store *st,
                              int (*fn)(const char *lease_id, const char *path, const char *value,
                                        const char *undo, void *arg),
                              void *arg, gpx_error *err)
{
    struct each_fn e = {.fn.f4 = fn, .arg = arg};
    return each_text(st, "SELECT lease_id,path,value,undo FROM vm_journal ORDER BY seq", 4, call4,
                     &e, err);
}

int gpx_store_vm_hold_put(struct gpx_store *st, const char *lease_id, const char *gpu_bdf,
                          const char *hold, gpx_error *err)
{
    const char *v[] = {lease_id, gpu_bdf, hold};
    return put_row(st, 1,
                   "INSERT INTO vm_holds(lease_id,gpu_bdf,hold,created_ns) VALUES(?1,?2,?3,?4)"
                   " ON CONFLICT(lease_id) DO UPDATE SET hold=?3",
                   v, 3, "database", err);
}

int gpx_store_vm_hold_delete(struct gpx_store *st, const char *lease_id, gpx_error *err)
{
    return delete_row(st, "DELETE FROM vm_holds WHERE lease_id=?1", lease_id, err);
}

int gpx_store_vm_hold_each(struct gpx_store *st,
                           int (*fn)(const char *lease_id, const char *hold, void *arg), void *arg,
                           gpx_error *err)
{
    struct each_fn e = {.fn.f2 = fn, .arg = arg};
    return each_text(st, "SELECT lease_id,hold FROM vm_holds ORDER BY created_ns", 2, call2, &e,
                     err);
}

/* --- GPU functions (records the daemon writes as JSON) and their per-request meter ---------- */

int gpx_store_function_put(struct gpx_store *st, const char *name, const char *owner,
                           const char *record, gpx_error *err)
{
    const char *v[] = {name, owner, record};
    return put_row(st, 1,
                   "INSERT INTO functions(name,owner,record,created_ns) VALUES(?1,?2,?3,?4)"
                   " ON CONFLICT(name) DO UPDATE SET record=?3, owner=?2",
                   v, 3, "database", err);
}

int gpx_store_function_delete(struct gpx_store *st, const char *name, gpx_error *err)
{
    return delete_row(st, "DELETE FROM functions WHERE name=?1", name, err);
}

int gpx_store_function_each(struct gpx_store *st,
                            int (*fn)(const char *name, const char *owner, const char *record,
                                      void *arg),
                            void *arg, gpx_error *err)
{
    struct each_fn e = {.fn.f3 = fn, .arg = arg};
    return each_text(st, "SELECT name,owner,record FROM functions ORDER BY created_ns,name", 3,
                     call3, &e, err);
}

int gpx_store_fn_requests_add(struct gpx_store *st, const struct gpx_fn_request *r, unsigned n,
                              gpx_error *err)
{
    if (n == 0)
        return 0;
    sqlite3_stmt *s;
    if (gpx_store_begin(st, 0, err) < 0)
        return -1;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO function_requests(id,tenant,function,status,ts_ns,"
                           "latency_ms,queue_ms,gpu_ms,price_per_request,price_per_gpu_second)"
                           " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
                           -1, &s, NULL) != SQLITE_OK) {
        db_fail(st, err, "preparing statement");
        gpx_store_rollback(st);
        return -1;
    }
    int rc = SQLITE_DONE;
    for (unsigned i = 0; i < n && rc == SQLITE_DONE; i++) {
        sqlite3_reset(s);
        sqlite3_bind_text(s, 1, r[i].id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, r[i].tenant, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, r[i].function, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 4, r[i].status);
        sqlite3_bind_int64(s, 5, r[i].ts_ns);
        sqlite3_bind_double(s, 6, r[i].latency_ms);
        sqlite3_bind_double(s, 7, r[i].queue_ms);
        sqlite3_bind_double(s, 8, r[i].gpu_ms);
        sqlite3_bind_double(s, 9, r[i].price_per_request);
        sqlite3_bind_double(s, 10, r[i].price_per_gpu_second);
        rc = sqlite3_step(s);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        db_fail(st, err, "database");
        gpx_store_rollback(st);
        return -1;
    }
    return gpx_store_commit(st, err);
}

int gpx_store_fn_usage_each(struct gpx_store *st, const char *tenant, int64_t from_ns,
                            int64_t to_ns, int (*fn)(const struct gpx_fn_usage_row *row, void *arg),
                            void *arg, gpx_error *err)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT tenant,function,COUNT(*),SUM(status>=400),SUM(gpu_ms)/1000.0,"
                           "SUM(CASE WHEN status<500 THEN price_per_request ELSE 0 END)"
                           "+SUM(gpu_ms/1000.0*price_per_gpu_second),"
                           "SUM(latency_ms),SUM(queue_ms) FROM function_requests"
                           " WHERE (?1 IS NULL OR tenant=?1) AND ts_ns>=?2 AND ts_ns<?3"
                           " GROUP BY tenant,function ORDER BY tenant,function",
                           -1, &s, NULL) != SQLITE_OK)
        return db_fail(st, err, "preparing statement");
    if (tenant)
        sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, from_ns);
    sqlite3_bind_int64(s, 3, to_ns);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct gpx_fn_usage_row row = {
            .requests = (uint64_t)sqlite3_column_int64(s, 2),
            .errors = (uint64_t)sqlite3_column_int64(s, 3),
            .gpu_seconds = sqlite3_column_double(s, 4),
            .bill = sqlite3_column_double(s, 5),
            .latency_ms_sum = sqlite3_column_double(s, 6),
            .queue_ms_sum = sqlite3_column_double(s, 7),
        };
        snprintf(row.tenant, sizeof row.tenant, "%s", (const char *)sqlite3_column_text(s, 0));
        snprintf(row.function, sizeof row.function, "%s", (const char *)sqlite3_column_text(s, 1));
        if (fn(&row, arg))
            break;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(st, err, "database");
}
