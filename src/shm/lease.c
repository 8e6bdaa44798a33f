/*
 * Lease regions (see lease.h for the layout and the invariants).
 *
 * Linked into the LD_PRELOAD interposer, so: no allocation and no output on
 * the reserve/release paths, no lock that a dead process could keep, errno
 * preserved for the application around everything the interposer calls on
 * its hot paths.
 *
 * Reserve is a CAS loop on usage->used: the quota check and the add are one
 * atomic step. Dead processes are reaped with a claim protocol: a reaper
 * first swaps the slot's pid for -(its own pid), so two reapers (or a reaper
 * and a process that reuses the pid) never return the same bytes twice; a
 * slot left claimed by a reaper that died is finished by the next reaper.
 * Accounting errs on the safe side: if a reaper dies between taking a slot's
 * bytes and returning them, the lease keeps them (over-counted), it never
 * under-counts.
 */
#define _GNU_SOURCE
#include "shm/lease.h"
#include "shm/pidns.h"

#include <dirent.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free across processes");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free across processes");
_Static_assert(sizeof(struct gpx_lease_cell) == 64, "credit cell layout: one cache line");
_Static_assert(sizeof(struct gpx_lease_proc) == (size_t)64 * (1 + GPX_LEASE_CELLS),
               "lease slot layout: one cache line, then the cells");
_Static_assert(sizeof(struct gpx_lease_limits) % 8 == 0, "limits layout");
/* regions outlive a binary: a limits file written by another build must still validate */
_Static_assert(sizeof(struct gpx_lease_limits) == 480, "limits size");
_Static_assert(sizeof(struct gpx_lease_usage) % 8 == 0, "usage layout");

#define NS_PER_S            1000000000ULL
#define REAP_PERIOD_NS      NS_PER_S
/* A reserve that would fail reaps first, unless a reap started this recently (bounds the cost
 * of a refusal storm: each reap reads /proc for every live slot). */
#define REAP_ON_FAIL_MIN_NS 1000000ULL

static const char *const mode_names[] = {"exclusive", "mig", "vgpu", "timeslice"};

int gpx_lease_mode_parse(const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < (int)(sizeof mode_names / sizeof mode_names[0]); i++)
        if (strcmp(s, mode_names[i]) == 0)
            return i;
    return -1;
}

const char *gpx_lease_mode_name(enum gpx_lease_mode m)
{
    return (unsigned)m < sizeof mode_names / sizeof mode_names[0] ? mode_names[m] : "unknown";
}

int gpx_lease_id_valid(const char *id)
{
    if (!id || !*id || id[0] == '.')
        return 0;
    size_t n = 0;
    for (const char *p = id; *p; p++, n++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok || n >= GPX_LEASE_ID_MAX - 1)
            return 0;
    }
    return strstr(id, "..") == NULL;
}

/* ---- run dir ---------------------------------------------------------------------------- */

static char run_dir[4096];
static pthread_once_t run_dir_once = PTHREAD_ONCE_INIT;

static void run_dir_init(void)
{
    const char *env = getenv("GPUPLEX_RUN_DIR");
    if (env && *env && strlen(env) < sizeof run_dir) {
        memcpy(run_dir, env, strlen(env) + 1);
        return;
    }
    if ((mkdir("/run/gpuplex", 0755) == 0 || errno == EEXIST) &&
        access("/run/gpuplex", W_OK | X_OK) == 0) {
        strcpy(run_dir, "/run/gpuplex");
        return;
    }
    snprintf(run_dir, sizeof run_dir, "/tmp/gpuplex-%u", (unsigned)getuid());
}

const char *gpx_run_dir(void)
{
    int saved = errno;
    pthread_once(&run_dir_once, run_dir_init);
    errno = saved;
    return run_dir;
}

/* ---- small helpers ------------------------------------------------------------------------ */

static void fill_random(void *buf, size_t len)
{
    unsigned char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(p + got, len - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got == len)
        return;
    /* No getrandom (very old kernel, seccomp): urandom, else a clock/pid mix. */
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        while (got < len) {
            ssize_t n = read(fd, p + got, len - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        close(fd);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
    for (; got < len; got++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        p[got] = (unsigned char)(x >> 56);
    }
}

void gpx_lease_new_id(char out[GPX_LEASE_ID_MAX])
{
    unsigned char b[6];
    fill_random(b, sizeof b);
    snprintf(out, GPX_LEASE_ID_MAX, "l-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4],
             b[5]);
}

static uint64_t now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    off_t off = 0;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        off += n;
        len -= (size_t)n;
    }
    return 0;
}

/* mkdir -p with `mode` for each created component. */
static int mkdir_p(const char *path, mode_t mode)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) == 0)
            chmod(buf, mode); /* what we create gets `mode` whatever the umask */
        else if (errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, mode) == 0)
        chmod(buf, mode);
    else if (errno != EEXIST)
        return -1;
    struct stat st;
    if (stat(buf, &st) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static int leases_path(const char *dir, char *out, size_t len, gpx_error *err)
{
    if (!dir || !*dir)
        return gpx_error_set(err, GPX_E_INVALID, "empty run directory");
    if ((size_t)snprintf(out, len, "%s/leases", dir) >= len)
        return gpx_error_set(err, GPX_E_INVALID, "run directory path too long");
    return 0;
}

int gpx_lease_dir_open(const char *dir, int create, gpx_error *err)
{
    char path[4200];
    if (leases_path(dir, path, sizeof path, err) < 0)
        return -1;
    if (create) {
        /*
         * leases/ is 0711 (not umask-dependent): tenants of other uids reach their own files
         * but can't list the directory to learn other tenants' lease ids.
         */
        if (mkdir_p(path, 0711) < 0) {
            int e = errno;
            return gpx_error_errno(err, e == EACCES ? GPX_E_PERM : GPX_E_IO, e, "creating %s",
                                   path);
        }
    }
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == EACCES && !create)
        fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC); /* 0711: a tenant reaches, not lists */
    if (fd < 0) {
        int e = errno;
        enum gpx_code c = e == ENOENT ? GPX_E_NOT_FOUND : e == EACCES ? GPX_E_PERM : GPX_E_IO;
        return gpx_error_errno(err, c, e, "opening %s", path);
    }
    if (create) {
        /* Someone else's directory (e.g. a pre-created /tmp/gpuplex-<uid>) is not trusted. */
        struct stat st;
        if (fstat(fd, &st) < 0) {
            int e = errno;
            close(fd);
            return gpx_error_errno(err, GPX_E_IO, e, "stat %s", path);
        }
        if (st.st_uid != geteuid() && st.st_uid != 0) {
            close(fd);
            return gpx_error_set(err, GPX_E_PERM, "%s is owned by uid %u, not by uid %u", path,
                                 (unsigned)st.st_uid, (unsigned)geteuid());
        }
        /* one made listable by an older gpuplex (0755) is closed to listing */
        if (st.st_uid == geteuid() && (st.st_mode & 0066))
            fchmod(fd, st.st_mode & 07711);
    }
    return fd;
}

/* Moves tmp to name unless name exists (renameat2 NOREPLACE, else link + unlink). */
static int publish_noreplace(int dfd, const char *tmp, const char *name)
{
    if (renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    if (linkat(dfd, tmp, dfd, name, 0) < 0)
        return -1;
    unlinkat(dfd, tmp, 0);
    return 0;
}

/*
 * Creates a temporary file in dfd holding `len` bytes of `data` with `mode`,
 * owned by `uid` (chown when it is not ours: only root may; EPERM otherwise).
 */
static int write_temp(int dfd, char *tmp, size_t tmplen, const char *id, const char *suffix,
                      const void *data, size_t len, mode_t mode, uid_t uid)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        unsigned char r[4];
        fill_random(r, sizeof r);
        snprintf(tmp, tmplen, ".%s.%s.%02x%02x%02x%02x", id, suffix, r[0], r[1], r[2], r[3]);
        int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0)
            return -1;
        if (ftruncate(fd, (off_t)len) < 0 || write_all(fd, data, len) < 0 ||
            (uid != geteuid() && fchown(fd, uid, (gid_t)-1) < 0) || fchmod(fd, mode) < 0) {
            int e = errno;
            close(fd);
            unlinkat(dfd, tmp, 0);
            errno = e;
            return -1;
        }
        close(fd);
        return 0;
    }
    errno = EEXIST;
    return -1;
}

int gpx_lease_region_create(const char *dir, const struct gpx_lease_limits *lim, gpx_error *err)
{
    if (!lim || !gpx_lease_id_valid(lim->id))
        return gpx_error_set(err, GPX_E_INVALID, "invalid lease id '%.*s'", GPX_LEASE_ID_MAX - 1,
                             lim ? lim->id : "");
    if (lim->mode > GPX_MODE_TIMESLICE)
        return gpx_error_set(err, GPX_E_INVALID, "invalid lease mode %u", lim->mode);
    if (lim->weight < 1)
        return gpx_error_set(err, GPX_E_INVALID, "lease weight must be >= 1");
    if (lim->cap_percent > 100)
        return gpx_error_set(err, GPX_E_INVALID, "compute cap %u%% is over 100%%",
                             lim->cap_percent);
    if (memchr(lim->gpu_uuid, '\0', sizeof lim->gpu_uuid) == NULL)
        return gpx_error_set(err, GPX_E_INVALID, "GPU UUID not terminated");

    struct gpx_lease_limits l = *lim;
    l.magic = GPX_LEASE_MAGIC_LIMITS;
    l.version = GPX_LEASE_VERSION;
    l.size = sizeof l;
    do
        fill_random(&l.nonce, sizeof l.nonce);
    while (l.nonce == 0);
    if (l.created_ns == 0)
        l.created_ns = now_ns(CLOCK_REALTIME);

    struct gpx_lease_usage *u = calloc(1, sizeof *u);
    if (!u)
        return gpx_error_set(err, GPX_E_NOMEM, "lease usage region");
    u->magic = GPX_LEASE_MAGIC_USAGE;
    u->version = GPX_LEASE_VERSION;
    u->size = sizeof *u;
    u->nonce = l.nonce;

    int rc = -1;
    int dfd = gpx_lease_dir_open(dir, 1, err);
    if (dfd < 0)
        goto out;
    char name[GPX_LEASE_ID_MAX + 16], tmp[GPX_LEASE_ID_MAX + 32];
    /* the creator's alone (0400): grant.c in the engine lets the tenant's uid read it */
    if (write_temp(dfd, tmp, sizeof tmp, l.id, "limits", &l, sizeof l, 0400, geteuid()) < 0) {
        gpx_error_errno(err, GPX_E_IO, errno, "writing limits of lease %s in %s/leases", l.id, dir);
        goto out;
    }
    snprintf(name, sizeof name, "%s.limits", l.id);
    if (publish_noreplace(dfd, tmp, name) < 0) {
        int e = errno;
        unlinkat(dfd, tmp, 0);
        if (e == EEXIST)
            gpx_error_set(err, GPX_E_EXISTS, "lease %s already exists", l.id);
        else
            gpx_error_errno(err, GPX_E_IO, e, "creating %s/leases/%s", dir, name);
        goto out;
    }
    /* the tenant's alone (0600, its uid): every process of the lease accounts through it */
    if (write_temp(dfd, tmp, sizeof tmp, l.id, "usage", u, sizeof *u, 0600, (uid_t)l.uid) < 0 ||
        (snprintf(name, sizeof name, "%s.usage", l.id), renameat(dfd, tmp, dfd, name) < 0)) {
        int e = errno;
        unlinkat(dfd, tmp, 0);
        snprintf(name, sizeof name, "%s.limits", l.id);
        unlinkat(dfd, name, 0);
        if (e == EPERM)
            gpx_error_set(err, GPX_E_PERM,
                          "lease %s is for uid %u, but uid %u cannot give it a usage file (only "
                          "root can: run gpuplexd as root to serve other users)",
                          l.id, (unsigned)l.uid, (unsigned)geteuid());
        else
            gpx_error_errno(err, GPX_E_IO, e, "creating usage of lease %s in %s/leases", l.id, dir);
        goto out;
    }
    rc = 0;
out:
    if (dfd >= 0)
        close(dfd);
    free(u);
    return rc;
}

/* Opens and maps one file of a region; checks it is a regular file of exactly `size` bytes. */
/*
 * A region of another layout: after an upgrade, a lease made by the older
 * gpuplex (its processes keep their own mapping; new ones cannot join it).
 * Says what to do, not only what differs.
 */
static int layout_error(gpx_error *err, const char *dir, const char *name, const char *id,
                        uint32_t version, uint32_t size, size_t want)
{
    if (version != GPX_LEASE_VERSION)
        return gpx_error_set(err, GPX_E_STATE,
                             "%s/leases/%s: lease %s was made by an %s gpuplex (region version %u; "
                             "this one reads %u): release it (gpuplex lease rm %s) and create it "
                             "again",
                             dir, name, id, version < GPX_LEASE_VERSION ? "older" : "newer",
                             version, GPX_LEASE_VERSION, id);
    return gpx_error_set(err, GPX_E_STATE, "%s/leases/%s: size %u, expected %zu (a damaged file)",
                         dir, name, size, want);
}

static void *map_file(int dfd, const char *name, int writable, size_t size, const char *dir,
                      gpx_error *err)
{
    int fd = openat(dfd, name, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        int e = errno;
        enum gpx_code c = e == ENOENT ? GPX_E_NOT_FOUND : e == EACCES ? GPX_E_PERM : GPX_E_IO;
        gpx_error_errno(err, c, e, "opening %s/leases/%s", dir, name);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size) {
        close(fd);
        gpx_error_set(err, GPX_E_STATE, "%s/leases/%s: not a lease file of %zu bytes", dir, name,
                      size);
        return NULL;
    }
    void *p = mmap(NULL, size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) {
        gpx_error_errno(err, GPX_E_IO, e, "mapping %s/leases/%s", dir, name);
        return NULL;
    }
    return p;
}

int gpx_lease_region_open(const char *dir, const char *id, struct gpx_lease_region *r,
                          gpx_error *err)
{
    int saved = errno;
    r->limits = NULL;
    r->usage = NULL;
    if (!gpx_lease_id_valid(id))
        return gpx_error_set(err, GPX_E_INVALID, "invalid lease id '%.*s'", GPX_LEASE_ID_MAX - 1,
                             id ? id : "");
    int dfd = gpx_lease_dir_open(dir, 0, err);
    if (dfd < 0) {
        if (err && err->code == GPX_E_NOT_FOUND)
            gpx_error_set(err, GPX_E_NOT_FOUND, "no lease %s (no %s/leases)", id, dir);
        errno = saved;
        return -1;
    }
    char name[GPX_LEASE_ID_MAX + 16];
    struct gpx_lease_limits *l = NULL;
    struct gpx_lease_usage *u = NULL;

    snprintf(name, sizeof name, "%s.limits", id);
    l = map_file(dfd, name, 0, sizeof *l, dir, err);
    if (!l) {
        if (err && err->code == GPX_E_NOT_FOUND)
            gpx_error_set(err, GPX_E_NOT_FOUND, "no lease %s in %s/leases", id, dir);
        goto fail;
    }
    if (l->magic != GPX_LEASE_MAGIC_LIMITS) {
        gpx_error_set(err, GPX_E_STATE, "%s/leases/%s: bad magic", dir, name);
        goto fail;
    }
    if (l->version != GPX_LEASE_VERSION || l->size != sizeof *l) {
        layout_error(err, dir, name, id, l->version, l->size, sizeof *l);
        goto fail;
    }
    if (strncmp(l->id, id, sizeof l->id) != 0 || l->mode > GPX_MODE_TIMESLICE) {
        gpx_error_set(err, GPX_E_STATE, "%s/leases/%s: limits of another lease", dir, name);
        goto fail;
    }

    snprintf(name, sizeof name, "%s.usage", id);
    u = map_file(dfd, name, 1, sizeof *u, dir, err);
    if (!u)
        goto fail;
    if (u->magic != GPX_LEASE_MAGIC_USAGE) {
        gpx_error_set(err, GPX_E_STATE, "%s/leases/%s: bad magic", dir, name);
        goto fail;
    }
    if (u->version != GPX_LEASE_VERSION || u->size != sizeof *u) {
        layout_error(err, dir, name, id, u->version, u->size, sizeof *u);
        goto fail;
    }
    if (u->nonce != l->nonce) {
        gpx_error_set(err, GPX_E_STATE, "%s/leases/%s does not belong to %s.limits (nonce)", dir,
                      name, id);
        goto fail;
    }
    close(dfd);
    r->limits = l;
    r->usage = u;
    errno = saved;
    return 0;
fail:
    if (l)
        munmap(l, sizeof *l);
    if (u)
        munmap(u, sizeof *u);
    close(dfd);
    errno = saved;
    return -1;
}

void gpx_lease_region_close(struct gpx_lease_region *r)
{
    if (!r)
        return;
    int saved = errno;
    if (r->limits)
        munmap((void *)r->limits, sizeof *r->limits);
    if (r->usage)
        munmap(r->usage, sizeof *r->usage);
    r->limits = NULL;
    r->usage = NULL;
    errno = saved;
}

int gpx_lease_region_remove(const char *dir, const char *id, gpx_error *err)
{
    if (!gpx_lease_id_valid(id))
        return gpx_error_set(err, GPX_E_INVALID, "invalid lease id '%.*s'", GPX_LEASE_ID_MAX - 1,
                             id ? id : "");
    int dfd = gpx_lease_dir_open(dir, 0, err);
    if (dfd < 0) {
        if (err && err->code == GPX_E_NOT_FOUND)
            gpx_error_set(err, GPX_E_NOT_FOUND, "no lease %s", id);
        return -1;
    }
    char name[GPX_LEASE_ID_MAX + 16];
    int found = 0, rc = 0;
    static const char *const suffixes[] = {"limits", "usage"};
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "%s.%s", id, suffixes[i]);
        if (unlinkat(dfd, name, 0) == 0) {
            found = 1;
        } else if (errno != ENOENT) {
            int e = errno;
            rc = gpx_error_errno(err, e == EACCES || e == EPERM ? GPX_E_PERM : GPX_E_IO, e,
                                 "removing %s/leases/%s", dir, name);
            break;
        }
    }
    close(dfd);
    if (rc == 0 && !found)
        return gpx_error_set(err, GPX_E_NOT_FOUND, "no lease %s", id);
    return rc;
}

static int filter_limits(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 7 && strcmp(d->d_name + n - 7, ".limits") == 0 && d->d_name[0] != '.';
}

int gpx_lease_region_list(const char *dir, int (*fn)(const char *id, void *arg), void *arg,
                          gpx_error *err)
{
    char path[4200];
    if (leases_path(dir, path, sizeof path, err) < 0)
        return -1;
    struct dirent **ents = NULL;
    int n = scandir(path, &ents, filter_limits, alphasort);
    if (n < 0) {
        if (errno == ENOENT)
            return 0;
        return gpx_error_errno(err, GPX_E_IO, errno, "listing %s", path);
    }
    int stop = 0;
    for (int i = 0; i < n; i++) {
        char id[GPX_LEASE_ID_MAX + 8];
        size_t len = strlen(ents[i]->d_name) - 7;
        if (!stop && len < sizeof id) {
            memcpy(id, ents[i]->d_name, len);
            id[len] = '\0';
            if (gpx_lease_id_valid(id) && fn(id, arg) != 0)
                stop = 1;
        }
        free(ents[i]);
    }
    free(ents);
    return 0;
}

/* ---- processes ---------------------------------------------------------------------------- */

/*
 * Reads /proc/PID/stat: 1 when the process exists and is not a zombie (its
 * start time in *ticks), 0 when gone or a zombie, -1 when /proc can't say.
 */
static int proc_stat(int32_t pid, uint64_t *ticks)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    ssize_t n;
    do
        n = read(fd, buf, sizeof buf - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0)
        return n == 0 ? 0 : -1; /* an empty stat: the process just went away */
    buf[n] = '\0';
    return gpx_proc_stat_parse(buf, ticks);
}

int gpx_proc_stat_parse(const char *stat, uint64_t *ticks)
{
    /* State is field 3 and starttime field 22, counted after the ')' ending the name. */
    const char *p = strrchr(stat, ')');
    if (!p || p[1] != ' ' || !p[2])
        return -1;
    char state = p[2];
    if (state == 'Z' || state == 'X' || state == 'x')
        return 0;
    int field = 2;
    for (p++; *p && field < 22; p++)
        if (*p == ' ')
            field++;
    *ticks = strtoull(p, NULL, 10);
    return 1;
}

int gpx_proc_uid(int32_t pid, uint32_t *uid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    int rc = -1;
    errno = EINVAL;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "Uid:", 4) != 0)
            continue;
        char *end;
        errno = 0;
        unsigned long u = strtoul(line + 4, &end, 10); /* real, effective, saved, fs: the first */
        if (errno == 0 && end != line + 4 && u <= UINT32_MAX) {
            *uid = (uint32_t)u;
            rc = 0;
        } else {
            errno = EINVAL;
        }
        break;
    }
    fclose(f);
    return rc;
}

uint64_t gpx_lease_proc_start_ticks(int32_t pid)
{
    int saved = errno;
    uint64_t t = 0;
    if (proc_stat(pid, &t) != 1)
        t = 0;
    errno = saved;
    return t;
}

static void fetch_max(_Atomic uint64_t *a, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(a, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak_explicit(a, &cur, v, memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
}

/* Subtracts v from *a, clamping at 0 (a double free must not underflow the counter). */
static void fetch_sub_clamped(_Atomic uint64_t *a, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(a, memory_order_relaxed);
    for (;;) {
        uint64_t next = cur >= v ? cur - v : 0;
        if (atomic_compare_exchange_weak_explicit(a, &cur, next, memory_order_acq_rel,
                                                  memory_order_relaxed))
            return;
    }
}

/*
 * Empties and frees a slot's credit cells, whose threads are gone (a reap) or were never there
 * (a new process). `steal` is left alone: a live reclaimer may still hold it raised.
 */
static void cells_clear(struct gpx_lease_proc *s)
{
    for (int k = 0; k < GPX_LEASE_CELLS; k++) {
        atomic_store(&s->cells[k].credit, 0);
        atomic_store(&s->cells[k].busy, 0);
        atomic_store(&s->cells[k].owned, 0);
    }
}

/*
 * Returns a claimed slot's bytes to the lease and frees it. The caller holds
 * the claim (pid == -self), so nobody else touches the slot meanwhile.
 */
static void finish_reap(struct gpx_lease_usage *u, struct gpx_lease_proc *s)
{
    /* The credit is part of used: dropping it first and then taking used returns both once. */
    atomic_store(&s->credit, 0);
    cells_clear(s);
    uint64_t bytes = atomic_exchange(&s->used, 0);
    fetch_sub_clamped(&u->used, bytes);
    atomic_store(&s->peak, 0);
    atomic_store(&s->start_ticks, 0);
    atomic_store(&s->pidns, 0);
    atomic_store(&s->pid, 0);
}

/*
 * Reaps slot s if it still holds the identity judged dead; 1 if reaped. A
 * process attaching stores its pid first, then its namespace and start time:
 * seeing those move since they were read means a new process took the slot
 * (judged by a pid alone, of another namespace): it is left alone. The claim
 * names us in our namespace, so another reaper can judge us.
 */
static int reap_slot(struct gpx_lease_usage *u, struct gpx_lease_proc *s,
                     const struct gpx_pid_ident *id, int32_t pid, int32_t self, uint32_t me)
{
    if (atomic_load(&s->pidns) != id->ns || (pid > 0 && atomic_load(&s->start_ticks) != id->ticks))
        return 0;
    if (!atomic_compare_exchange_strong(&s->pid, &pid, -self))
        return 0;
    atomic_store(&s->pidns, me);
    finish_reap(u, s);
    return 1;
}

/*
 * The lease total can never be below what its live processes hold: a tenant
 * that writes a smaller `used` into the region (it can write the usage file)
 * gets it raised back here, at the next reap. Raised only, never lowered: a
 * reserve adds to the total before it adds to its slot, so the slots may
 * briefly sum to less than the total, never more.
 */
static uint64_t slots_sum(struct gpx_lease_usage *u)
{
    uint64_t sum = 0;
    for (int i = 0; i < GPX_LEASE_MAX_PROCS; i++)
        if (atomic_load(&u->procs[i].pid) > 0)
            sum += atomic_load(&u->procs[i].used);
    return sum;
}

static void resync_total(struct gpx_lease_usage *u)
{
    /* The slots are read one by one while others allocate: act only on a view
     * that two passes agree on and that the total did not move across. */
    uint64_t u1 = atomic_load(&u->used);
    uint64_t s1 = slots_sum(u);
    uint64_t u2 = atomic_load(&u->used);
    uint64_t s2 = slots_sum(u);
    if (u1 == u2 && s1 == s2 && s1 > u1)
        atomic_compare_exchange_strong(&u->used, &u1, s1);
}

/*
 * Judges every slot's process at once (one walk of /proc for those of other
 * pid namespaces, only when there are such) and reaps the dead ones. A slot
 * claimed by a reaper (pid < 0) is judged by the reaper's liveness.
 */
static int reap_all(struct gpx_lease_usage *u)
{
    int saved = errno;
    int32_t self = (int32_t)getpid();
    uint32_t me = gpx_pidns_self();
    struct gpx_pid_ident ids[GPX_LEASE_MAX_PROCS];
    int32_t pids[GPX_LEASE_MAX_PROCS];
    unsigned short where[GPX_LEASE_MAX_PROCS];
    signed char verdict[GPX_LEASE_MAX_PROCS];
    unsigned n = 0;
    for (int i = 0; i < GPX_LEASE_MAX_PROCS; i++) {
        struct gpx_lease_proc *s = &u->procs[i];
        int32_t pid = atomic_load(&s->pid);
        uint32_t ns = atomic_load(&s->pidns);
        uint64_t ticks = pid > 0 ? atomic_load(&s->start_ticks) : 0;
        if (pid == 0 || (pid == -self && (ns == me || ns == 0)))
            continue;
        ids[n] = (struct gpx_pid_ident){ns, pid > 0 ? pid : -pid, ticks};
        pids[n] = pid;
        where[n++] = (unsigned short)i;
    }
    if (n)
        gpx_pidns_judge(ids, n, verdict);
    int reaped = 0;
    for (unsigned k = 0; k < n; k++)
        if (verdict[k] == 0) /* -1, can't tell: left to a reaper that can see it */
            reaped += reap_slot(u, &u->procs[where[k]], &ids[k], pids[k], self, me);
    resync_total(u);
    errno = saved;
    return reaped;
}

int gpx_lease_reap(struct gpx_lease_region *r)
{
    if (!r || !r->usage)
        return 0;
    atomic_store_explicit(&r->usage->last_reap_ns, now_ns(CLOCK_MONOTONIC), memory_order_relaxed);
    return reap_all(r->usage);
}

struct gpx_lease_proc *gpx_lease_attach(struct gpx_lease_region *r, int32_t pid)
{
    if (!r || !r->usage || pid <= 0)
        return NULL;
    int saved = errno;
    struct gpx_lease_usage *u = r->usage;
    uint64_t ticks = gpx_lease_proc_start_ticks(pid);
    int32_t self = (int32_t)getpid();
    uint32_t me = gpx_pidns_self();
    struct gpx_lease_proc *found = NULL;

    for (int i = 0; i < GPX_LEASE_MAX_PROCS && !found; i++) {
        struct gpx_lease_proc *s = &u->procs[i];
        if (atomic_load(&s->pid) != pid)
            continue;
        uint32_t ns = atomic_load(&s->pidns);
        if (ns != 0 && me != 0 && ns != me)
            continue; /* the same number in another container: another process */
        uint64_t t = atomic_load(&s->start_ticks);
        if (t == ticks || t == 0 || ticks == 0) {
            if (ns == 0)
                atomic_store(&s->pidns, me); /* a slot from before namespaces: ours now */
            found = s;
        } else {
            /* The same pid, an earlier process: its bytes go back to the lease. */
            int32_t expect = pid;
            if (atomic_compare_exchange_strong(&s->pid, &expect, -self)) {
                atomic_store(&s->pidns, me);
                finish_reap(u, s);
            }
        }
    }
    for (int pass = 0; pass < 2 && !found; pass++) {
        for (int i = 0; i < GPX_LEASE_MAX_PROCS && !found; i++) {
            struct gpx_lease_proc *s = &u->procs[i];
            int32_t expect = 0;
            if (atomic_load_explicit(&s->pid, memory_order_relaxed) != 0)
                continue;
            /* A reaped slot has used == 0 before its pid is cleared; take it. */
            if (atomic_compare_exchange_strong(&s->pid, &expect, pid)) {
                /* before any credit of this slot exists: the credit walks must see it */
                uint32_t hi = atomic_load(&u->slots_hi);
                while (hi < (uint32_t)i + 1 &&
                       !atomic_compare_exchange_weak(&u->slots_hi, &hi, (uint32_t)i + 1))
                    ;
                atomic_store(&s->peak, 0);
                atomic_store(&s->credit, 0);
                cells_clear(s);
                atomic_store(&s->pidns, me); /* right after the pid: see reap_slot */
                atomic_store(&s->start_ticks, ticks);
                found = s;
            }
        }
        if (!found && pass == 0 && gpx_lease_reap(r) == 0)
            break;
    }
    errno = saved;
    return found;
}

/* ---- accounting (hot path: no allocation, no lock, no syscall, no clock read) ------------- */

/*
 * The periodic reap is looked at only once every REAP_CHECK_EVERY reserves of
 * this process: a clock read costs 20-90 ns on a VM (more than the rest of a
 * reserve), and a reap is due at most once a second. The counter is a hint,
 * not a count: threads that race on it may skip a beat, never a reap that
 * matters (a reserve that would fail reaps whatever the counter says).
 */
#define REAP_CHECK_EVERY 64U
static _Atomic uint32_t reserves_seen;

static int reap_check_now(void)
{
    uint32_t n = atomic_load_explicit(&reserves_seen, memory_order_relaxed);
    atomic_store_explicit(&reserves_seen, n + 1, memory_order_relaxed);
    return n % REAP_CHECK_EVERY == 0;
}

/* 1 when no reap started in the last `period` ns and this caller won the right to reap. */
static int reap_due(struct gpx_lease_usage *u, uint64_t period)
{
    uint64_t now = now_ns(CLOCK_MONOTONIC);
    uint64_t last = atomic_load_explicit(&u->last_reap_ns, memory_order_relaxed);
    /* now < last: a writer in another time namespace; treat as due rather than never. */
    if (now >= last && now - last < period)
        return 0;
    return atomic_compare_exchange_strong_explicit(&u->last_reap_ns, &last, now,
                                                   memory_order_relaxed, memory_order_relaxed);
}

/*
 * Credits. A process that frees keeps the bytes charged to the lease as its
 * slot's credit (part of slot->used and of usage->used), and its next
 * reserves take them back with one atomic on its own slot's cache line: an
 * alloc+free pair in steady state touches no shared line and needs one
 * atomic each way. Why the quota stays exact:
 * - usage->used only ever holds bytes that are allocated or credit, and a
 *   byte leaves it only together with leaving the slot->used that holds it,
 *   moved by whoever moved it out of the slot (take_up_to says how much), so
 *   a steal racing a reap or a trim returns each byte once.
 * - A reserve that would pass the quota first takes every slot's credit back
 *   into the lease (reclaim_credits) and tries again: a refusal means that
 *   allocated bytes + the request really pass the quota (credit freed by a
 *   concurrent release after the reclaim may still be held; the reclaim is
 *   retried while it finds credit, RECLAIM_TRIES times).
 * - Charging happens only when a process's credit is short, and then its
 *   whole credit is used first: a process's charge grows only to what it has
 *   allocated at that moment, so peaks (recorded at a charge, less the
 *   credits held then) are the allocated peaks.
 * - What is allocated is read as used minus the credits (gpx_lease_used):
 *   exact whenever no reserve or release is in flight.
 * - Credit is bounded: above CREDIT_KEEP a release hands the excess back to
 *   the lease, and a credit above the slot's charge (a double release) is
 *   dropped rather than let the process allocate bytes never charged.
 */
#define CREDIT_KEEP   (32ULL << 20)
#define RECLAIM_TRIES 4

/* Subtracts up to v from *a (never below zero); returns what it subtracted. */
static uint64_t take_up_to(_Atomic uint64_t *a, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(a, memory_order_relaxed);
    for (;;) {
        uint64_t d = cur < v ? cur : v;
        if (d == 0 || atomic_compare_exchange_weak_explicit(a, &cur, cur - d, memory_order_acq_rel,
                                                            memory_order_relaxed))
            return d;
    }
}

/* Returns up to `bytes` of slot s's charge to the lease (the caller took them off its credit). */
static void uncharge(struct gpx_lease_usage *u, struct gpx_lease_proc *s, uint64_t bytes)
{
    uint64_t moved = take_up_to(&s->used, bytes);
    if (moved)
        fetch_sub_clamped(&u->used, moved);
}

/* How many slots the credit walks look at (see lease.h, slots_hi). */
static int slots_in_use(const struct gpx_lease_usage *u)
{
    uint32_t n = atomic_load_explicit(&u->slots_hi, memory_order_acquire);
    return n < GPX_LEASE_MAX_PROCS ? (int)n : GPX_LEASE_MAX_PROCS;
}

/* The credit in a slot's cells. */
static uint64_t cells_credit(const struct gpx_lease_proc *s)
{
    uint64_t sum = 0;
    for (int k = 0; k < GPX_LEASE_CELLS; k++)
        sum += atomic_load_explicit(&s->cells[k].credit, memory_order_relaxed);
    return sum;
}

/* A slot's credit: its own and its threads' cells'. */
static uint64_t slot_credit(const struct gpx_lease_proc *s)
{
    return atomic_load_explicit(&s->credit, memory_order_relaxed) + cells_credit(s);
}

static uint64_t credits_sum(const struct gpx_lease_usage *u)
{
    uint64_t sum = 0;
    const int n = slots_in_use(u);
    for (int i = 0; i < n; i++)
        sum += slot_credit(&u->procs[i]);
    return sum;
}

uint64_t gpx_lease_used(const struct gpx_lease_usage *u)
{
    if (!u)
        return 0;
    uint64_t used = atomic_load_explicit(&u->used, memory_order_relaxed);
    uint64_t credit = credits_sum(u);
    return used > credit ? used - credit : 0;
}

uint64_t gpx_lease_slot_used(const struct gpx_lease_proc *s)
{
    if (!s)
        return 0;
    uint64_t used = atomic_load_explicit(&s->used, memory_order_relaxed);
    uint64_t credit = slot_credit(s);
    return used > credit ? used - credit : 0;
}

/*
 * Cells. A thread's cell (lease.h) holds what it freed, for its own next
 * allocations, and its owner moves it with plain loads and stores: no atomic
 * read-modify-write on an alloc+free pair. A reclaimer (any thread of any
 * process of the lease, in reclaim_credits) still takes a cell's credit
 * exactly, by an asymmetric handshake:
 * - the owner raises `busy`, then reads `steal` (acquire: on arm64 its read
 *   of `credit` could otherwise pass it and see a value a reclaimer has
 *   since taken); only when it reads 0 does it read-modify-write `credit`,
 *   then lowers `busy` (release). Reading a non-zero `steal`, it leaves
 *   `credit` alone and takes the slot's path;
 * - the reclaimer raises `steal`, then calls membarrier(GLOBAL_EXPEDITED):
 *   every thread of every registered process runs a full barrier before it
 *   returns (or is off its CPU, which is one). So each owner either read
 *   `steal` after that barrier, and saw it raised, or had raised `busy`
 *   before it, and the reclaimer sees `busy` up until the owner's last
 *   store, which it then sees too (release/acquire). The reclaimer waits for
 *   `busy` low (a while; a cell whose owner stays busy, preempted, is
 *   skipped this time and the reclaim reports credit left, so the reserve
 *   looks again, RECLAIM_TRIES times), exchanges `credit` with 0 and
 *   lowers `steal`.
 * - A process uses cells only after registering for that membarrier
 *   (gpx_lease_cells_register); where membarrier is refused (an old kernel,
 *   a seccomp profile), its threads use the slot's credit. A reclaimer that
 *   cannot issue it turns every cell of the lease off for good
 *   (GPX_LEASE_STEAL_OFF in `steal`): each owner's next reserve then flushes
 *   its cell into the slot's credit, which any reclaimer can take. Until
 *   then that credit (at most GPX_LEASE_CELL_KEEP a cell) is out of reach,
 *   and a reserve may be refused that an exact count would admit.
 * - A reclaimer killed between raising and lowering `steal` leaves that cell
 *   off its owner's fast path for the life of the region (safe: the owner
 *   uses the slot's credit); resetting `steal` could not be told apart from
 *   a live reclaimer's.
 * - Double releases: a cell takes no more than the slot's charge less the
 *   slot's own credit, and a trim counts the cells' credit as charged; two
 *   cells given the same bytes twice by two threads are not caught (the
 *   interposer's record table hands each record to one free).
 * - Cells are part of the slot: a reap returns the slot's whole `used` and
 *   zeroes the cells (their threads are gone), as it does `credit`. A
 *   process that execs keeps its slot: the cells its old image's threads
 *   held stay claimed (their credit is still reclaimed), and the new image's
 *   threads use the other cells or the slot's credit.
 */
static long membarrier_call(int cmd)
{
    return syscall(__NR_membarrier, cmd, 0, 0);
}

int gpx_lease_cells_register(void)
{
    int saved = errno;
    long rc = membarrier_call(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED);
    errno = saved;
    return rc == 0 ? 0 : -1;
}

struct gpx_lease_cell *gpx_lease_cell_claim(struct gpx_lease_proc *slot)
{
    for (int k = 0; slot && k < GPX_LEASE_CELLS; k++) {
        struct gpx_lease_cell *c = &slot->cells[k];
        uint32_t no = 0;
        if (!atomic_load_explicit(&c->owned, memory_order_relaxed) &&
            atomic_compare_exchange_strong_explicit(&c->owned, &no, 1, memory_order_acquire,
                                                    memory_order_relaxed))
            return c;
    }
    return NULL;
}

void gpx_lease_cell_flush(struct gpx_lease_region *r, struct gpx_lease_proc *slot,
                          struct gpx_lease_cell *c)
{
    /* an exchange, not a plain store: a reclaimer may be taking it at the same time */
    uint64_t v = atomic_exchange_explicit(&c->credit, 0, memory_order_acq_rel);
    if (v)
        gpx_lease_unaccount(r, slot, v);
}

void gpx_lease_cell_drop(struct gpx_lease_region *r, struct gpx_lease_proc *slot,
                         struct gpx_lease_cell *c)
{
    gpx_lease_cell_flush(r, slot, c);
    atomic_store_explicit(&c->owned, 0, memory_order_release);
}

#define STEAL_SPINS 4096U

/* Takes the credit of the cells of slots [0, n) that hold some; 1 if there was any. */
static int steal_cells(struct gpx_lease_usage *u, int n)
{
    uint8_t marked[GPX_LEASE_MAX_PROCS];
    int any = 0, marks = 0;
    for (int i = 0; i < n; i++) {
        marked[i] = 0;
        for (int k = 0; k < GPX_LEASE_CELLS; k++) {
            struct gpx_lease_cell *c = &u->procs[i].cells[k];
            if (!atomic_load_explicit(&c->credit, memory_order_relaxed))
                continue;
            atomic_fetch_add_explicit(&c->steal, 1, memory_order_seq_cst);
            marked[i] |= (uint8_t)(1U << k);
            marks++;
        }
    }
    if (!marks)
        return 0;
    int saved = errno;
    int fenced = membarrier_call(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0;
    errno = saved;
    /*
     * Without the barrier this reclaimer cannot take a cell safely: it turns every cell of the
     * lease off for good instead, so that each owner's next reserve flushes its cell into the
     * slot's credit, which any reclaimer can take (reclaims retry while they find credit).
     */
    if (!fenced)
        for (int i = 0; i < n; i++)
            for (int k = 0; k < GPX_LEASE_CELLS; k++)
                atomic_fetch_or_explicit(&u->procs[i].cells[k].steal, GPX_LEASE_STEAL_OFF,
                                         memory_order_seq_cst);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < GPX_LEASE_CELLS; k++) {
            if (!(marked[i] & (1U << k)))
                continue;
            struct gpx_lease_cell *c = &u->procs[i].cells[k];
            unsigned spins = 0;
            while (fenced && atomic_load_explicit(&c->busy, memory_order_acquire) &&
                   ++spins < STEAL_SPINS)
                if (spins % 64 == 0)
                    sched_yield();
            if (fenced && spins < STEAL_SPINS) {
                uint64_t v = atomic_exchange_explicit(&c->credit, 0, memory_order_acq_rel);
                if (v) {
                    uncharge(u, &u->procs[i], v);
                    any = 1;
                }
            } else {
                any = 1; /* credit left where it is for now: the caller may look again */
            }
            atomic_fetch_sub_explicit(&c->steal, 1, memory_order_release);
        }
    }
    return any;
}

/* Takes every slot's credit back into the lease; 1 if there was any. */
static int reclaim_credits(struct gpx_lease_usage *u)
{
    const int n = slots_in_use(u);
    int any = steal_cells(u, n);
    for (int i = 0; i < n; i++) {
        struct gpx_lease_proc *s = &u->procs[i];
        if (atomic_load_explicit(&s->credit, memory_order_relaxed) == 0)
            continue;
        uint64_t c = atomic_exchange_explicit(&s->credit, 0, memory_order_acq_rel);
        if (c) {
            uncharge(u, s, c);
            any = 1;
        }
    }
    return any;
}

/* After the lease's charge reached `charged`: records the allocated peak (charged - credits). */
static void note_peak(struct gpx_lease_usage *u, uint64_t charged)
{
    if (charged <= atomic_load_explicit(&u->peak, memory_order_relaxed))
        return; /* the common case: no scan of the slots */
    uint64_t credit = credits_sum(u);
    fetch_max(&u->peak, charged > credit ? charged - credit : 0);
}

/* The slow path of a reserve: the slot's credit is short, so the lease is charged. */
static int charge(struct gpx_lease_region *r, struct gpx_lease_proc *slot, uint64_t bytes,
                  int reaped)
{
    struct gpx_lease_usage *u = r->usage;
    const uint64_t quota = r->limits->memory_quota;
    /* Whatever credit is left counts toward `bytes`: only the rest is charged. */
    uint64_t own = slot ? atomic_exchange_explicit(&slot->credit, 0, memory_order_acq_rel) : 0;
    if (own >= bytes) { /* a release refilled it meanwhile */
        if (own > bytes)
            atomic_fetch_add_explicit(&slot->credit, own - bytes, memory_order_relaxed);
        return 0;
    }
    const uint64_t need = bytes - own;
    int reclaims = 0;
    uint64_t next, cur = atomic_load_explicit(&u->used, memory_order_relaxed);
    for (;;) {
        if (quota == 0) {
            next = cur + need;
            if (next < cur) /* no quota, but no wrap either */
                goto refuse;
        } else if (cur > quota || need > quota - cur) {
            if (bytes > quota)
                goto refuse;
            if (reclaims < RECLAIM_TRIES && reclaim_credits(u)) {
                reclaims++;
            } else {
                if (reaped)
                    goto refuse;
                reaped = 1;
                if (!reap_due(u, REAP_ON_FAIL_MIN_NS) || reap_all(u) == 0)
                    goto refuse;
            }
            cur = atomic_load_explicit(&u->used, memory_order_relaxed);
            continue;
        } else {
            next = cur + need;
        }
        if (atomic_compare_exchange_weak_explicit(&u->used, &cur, next, memory_order_acq_rel,
                                                  memory_order_relaxed))
            break;
    }
    if (slot) {
        uint64_t mine = atomic_fetch_add_explicit(&slot->used, need, memory_order_relaxed) + need;
        uint64_t c = slot_credit(slot);
        fetch_max(&slot->peak, mine > c ? mine - c : 0);
    }
    note_peak(u, next);
    return 0;
refuse:
    if (own)
        atomic_fetch_add_explicit(&slot->credit, own, memory_order_relaxed);
    atomic_fetch_add_explicit(&u->refused, 1, memory_order_relaxed);
    return -1;
}

int gpx_lease_reserve(struct gpx_lease_region *r, struct gpx_lease_proc *slot, uint64_t bytes)
{
    int reaped = 0;
    if (__builtin_expect(reap_check_now(), 0) && reap_due(r->usage, REAP_PERIOD_NS)) {
        reap_all(r->usage);
        reaped = 1;
    }
    if (slot) { /* the fast path: bytes this process freed and still holds */
        uint64_t c = atomic_load_explicit(&slot->credit, memory_order_relaxed);
        while (c >= bytes)
            if (atomic_compare_exchange_weak_explicit(&slot->credit, &c, c - bytes,
                                                      memory_order_acq_rel, memory_order_relaxed))
                return 0;
    }
    return charge(r, slot, bytes, reaped);
}

/*
 * Lowers slot s's credit to what its charge backs and to CREDIT_KEEP / 2,
 * handing the backed excess back to the lease.
 */
static void trim_credit(struct gpx_lease_usage *u, struct gpx_lease_proc *s)
{
    uint64_t c = atomic_load_explicit(&s->credit, memory_order_relaxed), give;
    for (;;) {
        uint64_t charged = atomic_load_explicit(&s->used, memory_order_relaxed);
        uint64_t cells = cells_credit(s); /* the cells' credit is charged too */
        charged = charged > cells ? charged - cells : 0;
        uint64_t backed = c < charged ? c : charged; /* the rest was never charged */
        uint64_t keep = backed < CREDIT_KEEP / 2 ? backed : CREDIT_KEEP / 2;
        give = backed - keep;
        if (c == keep)
            return;
        if (atomic_compare_exchange_weak_explicit(&s->credit, &c, keep, memory_order_acq_rel,
                                                  memory_order_relaxed))
            break;
    }
    uncharge(u, s, give);
}

/*
 * Adds `bytes` to the slot's credit; trims it when it passes CREDIT_KEEP, or when with `held`
 * (credit known to be elsewhere in the slot: the caller's cell) it passes the slot's charge.
 */
static void slot_unaccount(struct gpx_lease_usage *u, struct gpx_lease_proc *slot, uint64_t bytes,
                           uint64_t held)
{
    uint64_t c = atomic_fetch_add_explicit(&slot->credit, bytes, memory_order_acq_rel) + bytes;
    if (__builtin_expect(c > CREDIT_KEEP ||
                             c + held > atomic_load_explicit(&slot->used, memory_order_relaxed),
                         0))
        trim_credit(u, slot);
}

void gpx_lease_cell_unaccount(struct gpx_lease_region *r, struct gpx_lease_proc *slot,
                              struct gpx_lease_cell *c, uint64_t bytes)
{
    slot_unaccount(r->usage, slot, bytes, atomic_load_explicit(&c->credit, memory_order_relaxed));
}

void gpx_lease_unaccount(struct gpx_lease_region *r, struct gpx_lease_proc *slot, uint64_t bytes)
{
    if (!slot) {
        fetch_sub_clamped(&r->usage->used, bytes);
        return;
    }
    slot_unaccount(r->usage, slot, bytes, 0);
}
