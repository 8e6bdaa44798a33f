/*
 * Opening and closing the engine on a state directory, and who owns it.
 *
 * <state_dir>/gpuplexd.lock says who owns the state: a daemon holds it
 * exclusively for its life and writes "PID\nSOCKET\n" into it; each CLI
 * command holds it shared (so no daemon starts under it) and holds
 * <state_dir>/engine.lock exclusively while it works (so CLI commands run one
 * after another and a 'pending' row found at open is truly stale). Whoever
 * cannot get its lock is told who has it, never silently given a second
 * truth. The database is <state_dir>/gpuplexd.db (store.c).
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "core/paths.h"
#include "engine/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int path_in(char *out, size_t len, const char *dir, const char *name, gpx_error *err)
{
    if ((size_t)snprintf(out, len, "%s/%s", dir, name) >= len)
        return gpx_error_set(err, GPX_E_INVALID, "path too long: %s/%s", dir, name);
    return 0;
}

/* Takes flock `op` on fd, retrying EINTR and, for up to `wait_ms`, EWOULDBLOCK. */
static int lock_fd(int fd, int op, int wait_ms)
{
    for (int waited = 0;; waited += 20) {
        if (flock(fd, op | LOCK_NB) == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK || waited >= wait_ms)
            return -1;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void read_owner(int fd, int *pid, char *socket, size_t len)
{
    char buf[PATH_MAX + 32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    if (pid)
        *pid = (int)strtol(buf, NULL, 10);
    if (socket && len) {
        char *nl = strchr(buf, '\n');
        const char *s = nl ? nl + 1 : "";
        size_t k = strcspn(s, "\n");
        snprintf(socket, len, "%.*s", (int)k, s);
    }
}

int gpx_engine_daemon_owner(const char *state_dir, int *pid, char *socket, size_t len,
                            gpx_error *err)
{
    char path[PATH_MAX];
    if (path_in(path, sizeof path, state_dir, "gpuplexd.lock", err) < 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : gpx_error_errno(err, GPX_E_IO, errno, "opening %s", path);
    int owned = 0;
    if (lock_fd(fd, LOCK_SH, 0) < 0) {
        if (errno != EWOULDBLOCK) {
            int e = errno;
            close(fd);
            return gpx_error_errno(err, GPX_E_IO, e, "locking %s", path);
        }
        owned = 1;
        read_owner(fd, pid, socket, len);
    } else {
        flock(fd, LOCK_UN);
    }
    close(fd);
    return owned;
}

static int take_locks(struct gpx_engine *e, const struct gpx_engine_opts *o, gpx_error *err)
{
    char path[PATH_MAX];
    if (path_in(path, sizeof path, e->state_dir, "gpuplexd.lock", err) < 0)
        return -1;
    e->state_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (e->state_fd < 0 && (errno == EACCES || errno == EROFS))
        return gpx_error_errno(err, GPX_E_PERM, errno,
                               "the state directory %s is not yours to write (opening %s); use "
                               "the node's gpuplexd, or set GPUPLEX_STATE_DIR to a directory of "
                               "your own",
                               e->state_dir, path);
    if (e->state_fd < 0)
        return gpx_error_errno(err, GPX_E_IO, errno, "opening %s", path);
    if (o->daemon) {
        /* CLI commands hold it for a moment each: wait them out, not another daemon */
        if (lock_fd(e->state_fd, LOCK_EX, 5000) < 0) {
            int pid = 0;
            read_owner(e->state_fd, &pid, NULL, 0);
            if (pid > 0 && kill(pid, 0) == 0)
                return gpx_error_set(err, GPX_E_BUSY,
                                     "another gpuplexd (pid %d) uses the state directory %s", pid,
                                     e->state_dir);
            return gpx_error_set(err, GPX_E_BUSY,
                                 "the state directory %s stays locked (gpuplex commands using "
                                 "it?)",
                                 e->state_dir);
        }
        e->owns_state = 1;
        /* the pid now; the socket once it listens (gpx_engine_announce): until then a
         * client sees a daemon that is starting and waits, instead of a dead socket */
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
        if (ftruncate(e->state_fd, 0) < 0 || pwrite(e->state_fd, buf, (size_t)n, 0) != n)
            gpx_warn("writing the owner to %s failed", path);
        return 0;
    }
    if (lock_fd(e->state_fd, LOCK_SH, 0) < 0) {
        int pid = 0;
        char sock[PATH_MAX];
        read_owner(e->state_fd, &pid, sock, sizeof sock);
        return gpx_error_set(err, GPX_E_BUSY,
                             "gpuplexd (pid %d) owns the state directory %s: use it (its socket "
                             "is %s) or stop it first",
                             pid, e->state_dir, sock[0] ? sock : "unknown");
    }
    if (path_in(path, sizeof path, e->state_dir, "engine.lock", err) < 0)
        return -1;
    e->engine_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (e->engine_fd < 0)
        return gpx_error_errno(err, GPX_E_IO, errno, "opening %s", path);
    if (lock_fd(e->engine_fd, LOCK_EX, 60000) < 0)
        return gpx_error_errno(err, GPX_E_BUSY, errno, "locking %s", path);
    return 0;
}

/*
 * <state>/engine.conf: the run directory and the policy the last engine on
 * this state used, in gpuplexd.conf's syntax. The state's leases live in that
 * run directory and were placed by that policy, so a command that opens the
 * engine after a daemon ran with flags (--run-dir, --placement,
 * --oversubscription, --grace) reads them as its defaults (conn_local.c) and
 * never makes a second set of regions or places by another rule.
 */
static void record_settings(struct gpx_engine *e)
{
    char path[PATH_MAX], want[PATH_MAX + 160], have[PATH_MAX + 160] = "";
    if (path_in(path, sizeof path, e->state_dir, "engine.conf", NULL) < 0)
        return;
    int n = snprintf(want, sizeof want,
                     "# written by gpuplex: the settings of the last engine on this state\n"
                     "run_dir = %s\nplacement = %s\noversubscription = %.4f\ngrace = %llums\n",
                     e->run_dir, gpx_place_policy_name(e->placement), e->oversubscription,
                     (unsigned long long)e->grace_ms);
    if (n < 0 || (size_t)n >= sizeof want)
        return;
    FILE *f = fopen(path, "re");
    if (f) {
        size_t got = fread(have, 1, sizeof have - 1, f);
        have[got] = '\0';
        fclose(f);
    }
    if (strcmp(have, want) == 0)
        return;
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    f = fd >= 0 ? fdopen(fd, "we") : NULL;
    if (!f && fd >= 0)
        close(fd);
    if (!f || fputs(want, f) < 0 || fclose(f) != 0 || rename(tmp, path) < 0) {
        if (f)
            unlink(tmp);
        gpx_warn("recording the engine's settings in %s failed", path);
    }
}

/*
 * The state is its owner's alone (issue 10, finding 8): the database holds
 * token hashes, every lease and label. The database is made 0600 before
 * SQLite opens it, so that the -wal and -shm files it makes take its mode;
 * files of an older state are tightened. gpuplexd.lock stays readable (0644:
 * every user's client reads the daemon's pid and socket there) but never
 * writable by others, who could send clients and their tokens to a socket of
 * theirs. node.sim is the simulator's, shared with workloads: left alone.
 */
static void state_files_private(const char *dir)
{
    static const char *const files[] = {"gpuplexd.db-wal", "gpuplexd.db-shm", "engine.lock",
                                        "engine.conf"};
    gpx_file_private(dir, "gpuplexd.db", 0600, 1);
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        gpx_file_private(dir, files[i], 0600, 0);
    gpx_file_private(dir, "gpuplexd.lock", 0644, 0);
}

int gpx_engine_open(const struct gpx_engine_opts *o, struct gpx_engine **out, gpx_error *err)
{
    struct gpx_engine *e = calloc(1, sizeof *e);
    if (!e)
        return gpx_error_set(err, GPX_E_NOMEM, "engine");
    e->state_fd = e->engine_fd = -1;
    pthread_mutex_init(&e->lock, NULL);
    pthread_mutex_init(&e->inv_lock, NULL);
    e->placement = o->placement;
    e->oversubscription = o->oversubscription >= 1.0 ? o->oversubscription : 1.0;
    e->grace_ms = o->grace_ms;
    e->max_leases_per_tenant = o->max_leases_per_tenant;
    e->daemon = o->daemon;
    e->started_ns = gpx_now_ns();
    if ((size_t)snprintf(e->state_dir, sizeof e->state_dir, "%s", o->state_dir) >=
            sizeof e->state_dir ||
        (size_t)snprintf(e->interposer, sizeof e->interposer, "%s",
                         o->interposer ? o->interposer : "") >= sizeof e->interposer) {
        free(e);
        return gpx_error_set(err, GPX_E_INVALID, "state directory or interposer path too long");
    }
    char real[PATH_MAX];
    int rc = gpx_mkdirs_private(e->state_dir, GPX_STATE_DIR_MODE, err);
    if (rc == 0)
        rc = take_locks(e, o, err);
    if (rc == 0)
        state_files_private(e->state_dir);
    struct stat st;
    if (rc == 0 && stat(e->state_dir, &st) == 0)
        e->self_uid = o->daemon ? geteuid() : st.st_uid; /* who owns the state is its admin */
    /* workloads get GPUPLEX_RUN_DIR from lease answers: make it absolute */
    if (rc == 0 && (gpx_mkdirs(o->run_dir, 0755, err) < 0 || !realpath(o->run_dir, real)))
        rc = err->code ? -1 : gpx_error_errno(err, GPX_E_IO, errno, "run directory %s", o->run_dir);
    if (rc == 0) {
        snprintf(e->run_dir, sizeof e->run_dir, "%s", real);
        record_settings(e);
    }
    if (rc == 0 && gpx_nvml_open(&e->nv, err) == 0) {
        e->nv_open = 1;
        rc = gpx_inventory_read(&e->nv, &e->inv, err);
    } else if (rc == 0) {
        rc = -1;
    }
    if (rc == 0) {
        gpx__mig_open(e);
        char db[PATH_MAX];
        rc = path_in(db, sizeof db, e->state_dir, "gpuplexd.db", err);
        if (rc == 0)
            rc = gpx_store_open(db, &e->store, err);
        if (rc == 0)
            rc = gpx__ledger_open(e, err);
    }
    if (rc < 0) {
        gpx_engine_close(e);
        return -1;
    }
    if (!e->daemon) {
        /* what a daemon does on its timers, a command does as it starts */
        gpx_engine_reconcile(e);
        gpx_engine_meter(e);
    }
    *out = e;
    return 0;
}

void gpx_engine_close(struct gpx_engine *e)
{
    if (!e)
        return;
    if (e->store) {
        gpx_engine_meter(e);
        gpx__ledger_close(e);
        gpx_store_close(e->store);
    }
    gpx_inventory_free(&e->inv);
    if (e->nv_open)
        gpx_nvml_close(&e->nv);
    if (e->engine_fd >= 0)
        close(e->engine_fd);
    if (e->state_fd >= 0) {
        if (e->owns_state && ftruncate(e->state_fd, 0) < 0)
            gpx_debug("clearing the state lock's owner failed");
        close(e->state_fd);
    }
    pthread_mutex_destroy(&e->lock);
    pthread_mutex_destroy(&e->inv_lock);
    free(e);
}

int gpx_engine_announce(struct gpx_engine *e, const char *socket, gpx_error *err)
{
    if (!e->owns_state)
        return gpx_error_set(err, GPX_E_INTERNAL, "only the state's daemon announces itself");
    char buf[PATH_MAX + 32];
    int n = snprintf(buf, sizeof buf, "%d\n%s\n", (int)getpid(), socket);
    if (n < 0 || (size_t)n >= sizeof buf)
        return gpx_error_set(err, GPX_E_INVALID, "socket path too long: %s", socket);
    if (ftruncate(e->state_fd, 0) < 0 || pwrite(e->state_fd, buf, (size_t)n, 0) != n)
        return gpx_error_errno(err, GPX_E_IO, errno, "writing the owner of %s", e->state_dir);
    return 0;
}

void gpx_engine_health(struct gpx_engine *e, int admin, struct gpx_health *h)
{
    memset(h, 0, sizeof *h);
    snprintf(h->version, sizeof h->version, "%s", GPX_VERSION);
    snprintf(h->host, sizeof h->host, "%s", e->daemon ? "gpuplexd" : "local");
    pthread_mutex_lock(&e->inv_lock);
    h->gpus = e->inv.count;
    snprintf(h->driver_version, sizeof h->driver_version, "%s", e->inv.driver_version);
    h->cuda_version = e->inv.cuda_version;
    pthread_mutex_unlock(&e->inv_lock);
    h->show_leases = admin;
    if (admin)
        h->leases_active = gpx_engine_lease_count(e);
    h->schema_version = gpx_store_schema_version(e->store);
    h->uptime_seconds = (double)(gpx_now_ns() - e->started_ns) / 1e9;
    snprintf(h->placement, sizeof h->placement, "%s", gpx_place_policy_name(e->placement));
    h->oversubscription = e->oversubscription;
    snprintf(h->run_dir, sizeof h->run_dir, "%s", e->run_dir);
    snprintf(h->state_dir, sizeof h->state_dir, "%s", e->state_dir);
}

void gpx_engine_checkpoint(struct gpx_engine *e)
{
    gpx_error err = {0};
    if (gpx_store_checkpoint(e->store, &err) < 0)
        gpx_warn("database: %s", err.msg);
}

const char *gpx_engine_run_dir(const struct gpx_engine *e)
{
    return e->run_dir;
}

struct gpx_nvml *gpx_engine_nvml(struct gpx_engine *e)
{
    return &e->nv;
}

void gpx_engine_counters(struct gpx_engine *e, struct gpx_engine_counters *out)
{
    out->created = atomic_load(&e->leases_created);
    out->released = atomic_load(&e->leases_released);
    out->reaped = atomic_load(&e->leases_reaped);
}

/* --- records of managed containers (the daemon's; the engine only keeps them durable) ------- */

int gpx_engine_container_put(struct gpx_engine *e, const char *id, const char *tenant,
                             const char *record, gpx_error *err)
{
    pthread_mutex_lock(&e->lock);
    int rc = gpx_store_container_put(e->store, id, tenant, record, err);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

int gpx_engine_container_delete(struct gpx_engine *e, const char *id, gpx_error *err)
{
    pthread_mutex_lock(&e->lock);
    int rc = gpx_store_container_delete(e->store, id, err);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

int gpx_engine_container_each(struct gpx_engine *e,
                              int (*fn)(const char *id, const char *tenant, const char *record,
                                        void *arg),
                              void *arg, gpx_error *err)
{
    pthread_mutex_lock(&e->lock);
    int rc = gpx_store_container_each(e->store, fn, arg, err);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

/* --- gpuplexd's VMs (src/daemon/vms.c; the engine only keeps the rows durable) ------------ */

int gpx_engine_vm_put(struct gpx_engine *e, const struct gpx_vm_row *r, gpx_error *err)
{
    pthread_mutex_lock(&e->lock);
    int rc = gpx_store_vm_put(e->store, r, err);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

int gpx_engine_vm_delete(struct gpx_engine *e, const char *id, gpx_error *err)
{
    pthread_mutex_lock(&e->lock);
    int rc = gpx_store_vm_delete(e->store, id, err);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

int gpx_engine_vm_each(struct gpx_engine *e, int (*fn)(const struct gpx_vm_row *r, void *arg),
                       void *arg, gpx_error *err)
{
    pthread_mutex_lock(&e->lock);
    int rc = gpx_store_vm_each(e->store, fn, arg, err);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

/* --- VM leases: the sysfs journal and holds (src/daemon/vmhost.c) -------------------------- */

int gpx_engine_vm_journal_add(struct gpx_engine *e, const char *lease_id, const char *path,
                              const char *value, const char *undo, gpx_error *err)
{
    pthread_mutex_lock(&e->lock);
    int rc = gpx_store_vm_journal_add(e->store, lease_id, path, value, undo, err);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

int gpx_engine_vm_journal_clear(struct gpx_engine *e, const char *lease_id, gpx_error *err)
{
    pthread_mutex_lock(&e->lock);
    int rc = gpx_store_vm_journal_clear(e->store, lease_id, err);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

int gpx_engine_vm_journal_each(struct gpx_engine *e,
                               int (*fn)(const char *lease_id, const char *path, const char *value,
                                         const char *undo, void *arg),
                               void *arg, gpx_error *err)
{
    pthread_mutex_lock(&e->lock);
    int rc = gpx_store_vm_journal_each(e->store, fn, arg, err);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

/* Ends the transaction a hold change opened (rc: how the change went): the lease's sysfs
 * journal is cleared in it, so a hold and the end of its journal are one durable step. */
static int hold_commit(struct gpx_engine *e, int rc, const char *lease_id, gpx_error *err)
{
    if (rc == 0)
        rc = gpx_store_vm_journal_clear(e->store, lease_id, err);
    if (rc == 0)
        return gpx_store_commit(e->store, err);
    gpx_store_rollback(e->store);
    return rc;
}

int gpx_engine_vm_hold_put(struct gpx_engine *e, const char *lease_id, const char *gpu_bdf,
                           const char *hold, gpx_error *err)
{
    pthread_mutex_lock(&e->lock);
    int rc = gpx_store_begin(e->store, 1, err);
    if (rc == 0)
        rc = gpx_store_vm_hold_put(e->store, lease_id, gpu_bdf, hold, err);
    rc = hold_commit(e, rc, lease_id, err);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

int gpx_engine_vm_hold_delete(struct gpx_engine *e, const char *lease_id, gpx_error *err)
{
    pthread_mutex_lock(&e->lock);
    int rc = gpx_store_begin(e->store, 1, err);
    if (rc == 0)
        rc = gpx_store_vm_hold_delete(e->store, lease_id, err);
    rc = hold_commit(e, rc, lease_id, err);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

int gpx_engine_vm_hold_each(struct gpx_engine *e,
                            int (*fn)(const char *lease_id, const char *hold, void *arg), void *arg,
                            gpx_error *err)
{
    pthread_mutex_lock(&e->lock);
    int rc = gpx_store_vm_hold_each(e->store, fn, arg, err);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

/* --- GPU functions: records and the per-request meter (the daemon's) ------------------------ */

int gpx_engine_function_put(struct gpx_engine *e, const char *name, const char *owner,
                            const char *record, gpx_error *err)
{
    pthread_mutex_lock(&e->lock);
    int rc = gpx_store_function_put(e->store, name, owner, record, err);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

int gpx_engine_function_delete(struct gpx_engine *e, const char *name, gpx_error *err)
{
    pthread_mutex_lock(&e->lock);
    int rc = gpx_store_function_delete(e->store, name, err);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

int gpx_engine_function_each(struct gpx_engine *e,
                             int (*fn)(const char *name, const char *owner, const char *record,
                                       void *arg),
                             void *arg, gpx_error *err)
{
    pthread_mutex_lock(&e->lock);
    int rc = gpx_store_function_each(e->store, fn, arg, err);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

int gpx_engine_fn_requests_add(struct gpx_engine *e, const struct gpx_fn_request *r, unsigned n,
                               gpx_error *err)
{
    pthread_mutex_lock(&e->lock);
    int rc = gpx_store_fn_requests_add(e->store, r, n, err);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

struct fn_rows {
    struct gpx_fn_usage_row *v;
    unsigned n, cap;
};

static int add_fn_row(const struct gpx_fn_usage_row *row, void *arg)
{
    struct fn_rows *r = arg;
    if (r->n == r->cap) {
        unsigned cap = r->cap ? r->cap * 2 : 16;
        struct gpx_fn_usage_row *v = realloc(r->v, cap * sizeof *v);
        if (!v)
            return 1;
        r->v = v;
        r->cap = cap;
    }
    r->v[r->n++] = *row;
    return 0;
}

int gpx_engine_fn_usage(struct gpx_engine *e, const char *tenant, int64_t from_ns, int64_t to_ns,
                        struct gpx_fn_usage_row **out, unsigned *n, gpx_error *err)
{
    struct fn_rows r = {0};
    pthread_mutex_lock(&e->lock);
    int rc = gpx_store_fn_usage_each(e->store, tenant, from_ns, to_ns, add_fn_row, &r, err);
    pthread_mutex_unlock(&e->lock);
    if (rc < 0) {
        free(r.v);
        return -1;
    }
    *out = r.v;
    *n = r.n;
    return 0;
}
