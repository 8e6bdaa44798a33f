/*
 * Lease regions: create/open/validate, ids, list/remove, reserve/release,
 * the no-overshoot guarantee under 4 processes x 8 threads, reaping of dead
 * processes (exited, zombie, pid reuse), read-only limits, and per-thread
 * credit cells (their handshake with reclaimers, raced).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/lease.h"

#define MIB              (1024ULL * 1024ULL)
/* lease.c looks at the clock for the periodic reap once in this many reserves */
#define REAP_CHECK_EVERY 64

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s/gpx-unit-lease-XXXXXX",
             getenv("GPX_T") ? getenv("GPX_T") : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void make_limits(struct gpx_lease_limits *l, const char *id, uint64_t quota)
{
    memset(l, 0, sizeof *l);
    snprintf(l->id, sizeof l->id, "%s", id);
    l->mode = GPX_MODE_VGPU;
    l->gpu_index = 1;
    snprintf(l->gpu_uuid, sizeof l->gpu_uuid, "GPU-test");
    l->memory_quota = quota;
    l->weight = 1;
    l->uid = (uint32_t)getuid();
}

static void create_lease(const char *id, uint64_t quota)
{
    struct gpx_lease_limits l;
    make_limits(&l, id, quota);
    gpx_error e = {0};
    int rc = gpx_lease_region_create(dir, &l, &e);
    if (rc < 0)
        fprintf(stderr, "create: %s\n", e.msg);
    assert_int_equal(rc, 0);
}

static void path_of(char *out, size_t len, const char *id, const char *suffix)
{
    snprintf(out, len, "%s/leases/%s.%s", dir, id, suffix);
}

static void test_modes_and_ids(void **state)
{
    (void)state;
    assert_int_equal(gpx_lease_mode_parse("vgpu"), GPX_MODE_VGPU);
    assert_int_equal(gpx_lease_mode_parse("timeslice"), GPX_MODE_TIMESLICE);
    assert_int_equal(gpx_lease_mode_parse("exclusive"), GPX_MODE_EXCLUSIVE);
    assert_int_equal(gpx_lease_mode_parse("mig"), GPX_MODE_MIG);
    assert_int_equal(gpx_lease_mode_parse("VGPU"), -1);
    assert_int_equal(gpx_lease_mode_parse(NULL), -1);
    assert_string_equal(gpx_lease_mode_name(GPX_MODE_TIMESLICE), "timeslice");

    char id[GPX_LEASE_ID_MAX], id2[GPX_LEASE_ID_MAX];
    gpx_lease_new_id(id);
    gpx_lease_new_id(id2);
    assert_int_equal(strlen(id), 14);
    assert_memory_equal(id, "l-", 2);
    assert_string_not_equal(id, id2);
    assert_true(gpx_lease_id_valid(id));

    assert_true(gpx_lease_id_valid("a"));
    assert_true(gpx_lease_id_valid("job-1.2_x"));
    char longest[64];
    memset(longest, 'a', 63);
    longest[63] = '\0';
    assert_true(gpx_lease_id_valid(longest));
    char too_long[65];
    memset(too_long, 'a', 64);
    too_long[64] = '\0';
    assert_false(gpx_lease_id_valid(too_long));
    assert_false(gpx_lease_id_valid(""));
    assert_false(gpx_lease_id_valid(NULL));
    assert_false(gpx_lease_id_valid(".."));
    assert_false(gpx_lease_id_valid("a..b"));
    assert_false(gpx_lease_id_valid(".hidden"));
    assert_false(gpx_lease_id_valid("a/b"));
    assert_false(gpx_lease_id_valid("../x"));
    assert_false(gpx_lease_id_valid("a b"));
    assert_false(gpx_lease_id_valid("a\n"));
}

static void test_run_dir_env(void **state)
{
    (void)state;
    /* gpx_run_dir() reads GPUPLEX_RUN_DIR once; main() set it before the first call. */
    assert_string_equal(gpx_run_dir(), getenv("GPUPLEX_RUN_DIR"));
}

static void test_round_trip(void **state)
{
    (void)state;
    mode_t old_umask = umask(077); /* the modes below don't depend on the umask */
    create_lease("rt", 4 * MIB);
    umask(old_umask);
    char p[512];
    struct stat st;
    path_of(p, sizeof p, "rt", "limits");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0400);
    path_of(p, sizeof p, "rt", "usage");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(p, sizeof p, "%s/leases", dir);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0711);

    struct gpx_lease_region r;
    gpx_error e = {0};
    assert_int_equal(gpx_lease_region_open(dir, "rt", &r, &e), 0);
    assert_string_equal(r.limits->id, "rt");
    assert_int_equal(r.limits->memory_quota, 4 * MIB);
    assert_int_equal(r.limits->mode, GPX_MODE_VGPU);
    assert_int_equal(r.limits->gpu_index, 1);
    assert_string_equal(r.limits->gpu_uuid, "GPU-test");
    assert_int_not_equal(r.limits->nonce, 0);
    assert_int_equal(r.limits->nonce, r.usage->nonce);
    assert_int_not_equal(r.limits->created_ns, 0);
    assert_int_equal(gpx_lease_used(r.usage), 0);
    gpx_lease_region_close(&r);
    assert_null(r.limits);
    gpx_lease_region_close(&r); /* twice is harmless */

    /* The id exists: create fails and leaves the first lease intact. */
    struct gpx_lease_limits l;
    make_limits(&l, "rt", 8 * MIB);
    assert_int_equal(gpx_lease_region_create(dir, &l, &e), -1);
    assert_int_equal(e.code, GPX_E_EXISTS);
    assert_int_equal(gpx_lease_region_open(dir, "rt", &r, &e), 0);
    assert_int_equal(r.limits->memory_quota, 4 * MIB);
    gpx_lease_region_close(&r);

    /* No temporary files are left behind. */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s/leases' | grep '^\\.')\"", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_create_rejects(void **state)
{
    (void)state;
    gpx_error e = {0};
    struct gpx_lease_limits l;
    make_limits(&l, "../evil", MIB);
    assert_int_equal(gpx_lease_region_create(dir, &l, &e), -1);
    assert_int_equal(e.code, GPX_E_INVALID);
    make_limits(&l, "ok", MIB);
    l.weight = 0;
    assert_int_equal(gpx_lease_region_create(dir, &l, &e), -1);
    assert_int_equal(e.code, GPX_E_INVALID);
    make_limits(&l, "ok", MIB);
    l.cap_percent = 101;
    assert_int_equal(gpx_lease_region_create(dir, &l, &e), -1);
    make_limits(&l, "ok", MIB);
    l.mode = 9;
    assert_int_equal(gpx_lease_region_create(dir, &l, &e), -1);

    struct gpx_lease_region r;
    assert_int_equal(gpx_lease_region_open(dir, "../etc/passwd", &r, &e), -1);
    assert_int_equal(e.code, GPX_E_INVALID);
    assert_int_equal(gpx_lease_region_open(dir, "nosuch", &r, &e), -1);
    assert_int_equal(e.code, GPX_E_NOT_FOUND);
    assert_int_equal(gpx_lease_region_open("/nonexistent/gpx", "nosuch", &r, &e), -1);
    assert_int_equal(e.code, GPX_E_NOT_FOUND);
    assert_int_equal(gpx_lease_region_remove(dir, "nosuch", &e), -1);
    assert_int_equal(e.code, GPX_E_NOT_FOUND);
    assert_int_equal(gpx_lease_region_remove(dir, "a/b", &e), -1);
    assert_int_equal(e.code, GPX_E_INVALID);
}

/* Overwrites `n` bytes at `off` of a region file (making it writable first). */
static void poke(const char *id, const char *suffix, long off, const void *data, size_t n)
{
    char p[512];
    path_of(p, sizeof p, id, suffix);
    assert_int_equal(chmod(p, 0644), 0);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, data, n, off), (ssize_t)n);
    close(fd);
}

static void expect_open_state_error(const char *id, const char *what)
{
    struct gpx_lease_region r;
    gpx_error e = {0};
    assert_int_equal(gpx_lease_region_open(dir, id, &r, &e), -1);
    assert_int_equal(e.code, GPX_E_STATE);
    assert_null(r.limits);
    assert_null(r.usage);
    if (!strstr(e.msg, what)) {
        fprintf(stderr, "message '%s' lacks '%s'\n", e.msg, what);
        fail();
    }
}

static void test_validation(void **state)
{
    (void)state;
    uint64_t junk = 0x1122334455667788ULL;
    uint32_t v2 = 99; /* another version */

    create_lease("magic-l", MIB);
    poke("magic-l", "limits", offsetof(struct gpx_lease_limits, magic), &junk, sizeof junk);
    expect_open_state_error("magic-l", "bad magic");

    create_lease("magic-u", MIB);
    poke("magic-u", "usage", offsetof(struct gpx_lease_usage, magic), &junk, sizeof junk);
    expect_open_state_error("magic-u", "bad magic");

    create_lease("ver-l", MIB);
    poke("ver-l", "limits", offsetof(struct gpx_lease_limits, version), &v2, sizeof v2);
    expect_open_state_error("ver-l", "version 99");

    create_lease("ver-u", MIB);
    poke("ver-u", "usage", offsetof(struct gpx_lease_usage, version), &v2, sizeof v2);
    expect_open_state_error("ver-u", "version 99");

    create_lease("nonce", MIB);
    poke("nonce", "usage", offsetof(struct gpx_lease_usage, nonce), &junk, sizeof junk);
    expect_open_state_error("nonce", "nonce");

    /* The usage file of another lease, renamed into place: the nonces differ. */
    create_lease("pair-a", MIB);
    create_lease("pair-b", MIB);
    char a[512], b[512];
    path_of(a, sizeof a, "pair-a", "usage");
    path_of(b, sizeof b, "pair-b", "usage");
    assert_int_equal(rename(a, b), 0);
    expect_open_state_error("pair-b", "nonce");

    /* Limits whose id is another lease's (a copied file). */
    create_lease("copy", MIB);
    poke("copy", "limits", offsetof(struct gpx_lease_limits, id), "other", 6);
    expect_open_state_error("copy", "another lease");

    static const char *const suffixes[] = {"limits", "usage"};
    for (int i = 0; i < 2; i++) {
        char id[32], p[512];
        snprintf(id, sizeof id, "trunc-%s", suffixes[i]);
        create_lease(id, MIB);
        path_of(p, sizeof p, id, suffixes[i]);
        assert_int_equal(chmod(p, 0644), 0);
        assert_int_equal(truncate(p, 100), 0);
        expect_open_state_error(id, "not a lease file");
        assert_int_equal(truncate(p, 0), 0);
        expect_open_state_error(id, "not a lease file");
        /* too long is no better */
        assert_int_equal(truncate(p, 1 << 20), 0);
        expect_open_state_error(id, "not a lease file");
    }

    /* A directory or a symlink in place of a region file. */
    create_lease("link", MIB);
    char p[512], target[512];
    path_of(p, sizeof p, "link", "usage");
    path_of(target, sizeof target, "pair-a", "limits");
    assert_int_equal(unlink(p), 0);
    assert_int_equal(symlink(target, p), 0);
    struct gpx_lease_region r;
    gpx_error e = {0};
    assert_int_equal(gpx_lease_region_open(dir, "link", &r, &e), -1);
}

static int collect(const char *id, void *arg)
{
    char *buf = arg;
    strcat(buf, id);
    strcat(buf, ",");
    return 0;
}

static int stop_first(const char *id, void *arg)
{
    (void)id;
    (*(int *)arg)++;
    return 1;
}

static void test_list_remove(void **state)
{
    (void)state;
    gpx_error e = {0};
    char buf[256] = "";
    /* No leases dir yet: an empty list, not an error. */
    assert_int_equal(gpx_lease_region_list(dir, collect, buf, &e), 0);
    assert_string_equal(buf, "");
    create_lease("b", MIB);
    create_lease("a", MIB);
    create_lease("c", MIB);
    /* stray files are not leases */
    char p[512];
    snprintf(p, sizeof p, "%s/leases/.x.limits.tmp", dir);
    close(open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
    assert_int_equal(gpx_lease_region_list(dir, collect, buf, &e), 0);
    assert_string_equal(buf, "a,b,c,");
    int calls = 0;
    assert_int_equal(gpx_lease_region_list(dir, stop_first, &calls, &e), 0);
    assert_int_equal(calls, 1);

    struct gpx_lease_region r;
    assert_int_equal(gpx_lease_region_open(dir, "b", &r, &e), 0);
    assert_int_equal(gpx_lease_region_remove(dir, "b", &e), 0);
    /* a mapped region stays usable after removal */
    struct gpx_lease_proc *s = gpx_lease_attach(&r, getpid());
    assert_non_null(s);
    assert_int_equal(gpx_lease_reserve(&r, s, 1024), 0);
    gpx_lease_region_close(&r);
    assert_int_equal(gpx_lease_region_remove(dir, "b", &e), -1);
    assert_int_equal(e.code, GPX_E_NOT_FOUND);
    buf[0] = '\0';
    assert_int_equal(gpx_lease_region_list(dir, collect, buf, &e), 0);
    assert_string_equal(buf, "a,c,");
}

static void open_ok(const char *id, struct gpx_lease_region *r)
{
    gpx_error e = {0};
    int rc = gpx_lease_region_open(dir, id, r, &e);
    if (rc < 0)
        fprintf(stderr, "open: %s\n", e.msg);
    assert_int_equal(rc, 0);
}

static void test_reserve_release(void **state)
{
    (void)state;
    create_lease("rr", 10 * MIB);
    struct gpx_lease_region r;
    open_ok("rr", &r);
    struct gpx_lease_proc *s = gpx_lease_attach(&r, getpid());
    assert_non_null(s);
    assert_int_equal(s->pid, getpid());
    assert_int_equal(s->start_ticks, gpx_lease_proc_start_ticks(getpid()));
    assert_ptr_equal(gpx_lease_attach(&r, getpid()), s); /* same pid, same slot */

    errno = 1234;
    assert_int_equal(gpx_lease_reserve(&r, s, 6 * MIB), 0);
    assert_int_equal(errno, 1234);
    assert_int_equal(gpx_lease_reserve(&r, s, 4 * MIB), 0); /* exactly to the edge */
    assert_int_equal(gpx_lease_reserve(&r, s, 1), -1);
    assert_int_equal(r.usage->refused, 1);
    assert_int_equal(gpx_lease_used(r.usage), 10 * MIB);
    assert_int_equal(gpx_lease_slot_used(s), 10 * MIB);
    gpx_lease_unaccount(&r, s, 6 * MIB);
    assert_int_equal(gpx_lease_used(r.usage), 4 * MIB);
    assert_int_equal(gpx_lease_slot_used(s), 4 * MIB);
    assert_int_equal(r.usage->peak, 10 * MIB);
    assert_int_equal(s->peak, 10 * MIB);
    assert_int_equal(gpx_lease_reserve(&r, s, 7 * MIB), -1);
    assert_int_equal(gpx_lease_reserve(&r, s, 6 * MIB), 0);
    assert_int_equal(gpx_lease_reserve(&r, s, UINT64_MAX), -1); /* no wrap-around */
    assert_int_equal(r.usage->refused, 3);
    gpx_lease_unaccount(&r, s, 10 * MIB);
    assert_int_equal(gpx_lease_used(r.usage), 0);
    /* A double free is clamped at zero, never wraps to exabytes. */
    gpx_lease_unaccount(&r, s, MIB);
    assert_int_equal(gpx_lease_used(r.usage), 0);
    assert_int_equal(gpx_lease_slot_used(s), 0);
    /* NULL slot: the lease still accounts. */
    assert_int_equal(gpx_lease_reserve(&r, NULL, MIB), 0);
    assert_int_equal(gpx_lease_used(r.usage), MIB);
    gpx_lease_unaccount(&r, NULL, MIB);
    assert_int_equal(gpx_lease_used(r.usage), 0);
    gpx_lease_region_close(&r);

    /* Quota 0: no quota. */
    create_lease("noquota", 0);
    open_ok("noquota", &r);
    s = gpx_lease_attach(&r, getpid());
    assert_int_equal(gpx_lease_reserve(&r, s, 1ULL << 50), 0);
    assert_int_equal(gpx_lease_reserve(&r, s, UINT64_MAX), -1);
    gpx_lease_unaccount(&r, s, 1ULL << 50);
    assert_int_equal(gpx_lease_used(r.usage), 0);
    gpx_lease_region_close(&r);
}

/* ---- 4 processes x 8 threads hammering one quota ----------------------------------------- */

#define HAMMER_PROCS   4
#define HAMMER_THREADS 8
#define HAMMER_ROUNDS  100000

static pthread_barrier_t *start_barrier;

struct hammer {
    struct gpx_lease_region *r;
    struct gpx_lease_proc *slot;
    unsigned seed;
    int bad;
};

static void *hammer_thread(void *arg)
{
    struct hammer *h = arg;
    pthread_barrier_wait(start_barrier);
    const uint64_t quota = h->r->limits->memory_quota;
    uint64_t held[8];
    int n = 0;
    for (int i = 0; i < HAMMER_ROUNDS; i++) {
        uint64_t bytes = (uint64_t)(rand_r(&h->seed) % 64 + 1) * 4096;
        if (n < 8 && gpx_lease_reserve(h->r, h->slot, bytes) == 0)
            held[n++] = bytes;
        else if (n > 0)
            gpx_lease_unaccount(h->r, h->slot, held[--n]);
        if (gpx_lease_used(h->r->usage) > quota)
            h->bad = 1;
    }
    while (n > 0)
        gpx_lease_unaccount(h->r, h->slot, held[--n]);
    return NULL;
}

/* Every thread grabs chunks until refused and keeps them: the total lands exactly on the edge. */
static void *edge_thread(void *arg)
{
    struct hammer *h = arg;
    pthread_barrier_wait(start_barrier);
    uint64_t got = 0;
    while (gpx_lease_reserve(h->r, h->slot, 3 * 4096) == 0)
        got += 3 * 4096;
    return (void *)(uintptr_t)got;
}

static void hammer_child(const char *id, int edge, int fd, int go)
{
    /* All processes start together (the parent closes `go`), then all threads. */
    char c;
    if (read(go, &c, 1) < 0)
        _exit(14);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, HAMMER_THREADS);
    start_barrier = &barrier;
    struct gpx_lease_region r;
    gpx_error e = {0};
    if (gpx_lease_region_open(dir, id, &r, &e) < 0)
        _exit(10);
    struct gpx_lease_proc *s = gpx_lease_attach(&r, getpid());
    if (!s)
        _exit(11);
    pthread_t t[HAMMER_THREADS];
    struct hammer h[HAMMER_THREADS];
    for (int i = 0; i < HAMMER_THREADS; i++) {
        h[i] = (struct hammer){&r, s, (unsigned)(getpid() * 31 + i), 0};
        pthread_create(&t[i], NULL, edge ? edge_thread : hammer_thread, &h[i]);
    }
    int bad = 0;
    uint64_t total = 0;
    for (int i = 0; i < HAMMER_THREADS; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        bad |= h[i].bad;
        total += (uint64_t)(uintptr_t)ret;
    }
    if (edge) {
        if (write(fd, &total, sizeof total) != sizeof total)
            _exit(12);
        /* hold until the parent has looked */
        if (read(fd, &c, 1) < 0)
            _exit(13);
    }
    _exit(bad ? 1 : 0);
}

static void test_hammer(void **state)
{
    (void)state;
    const uint64_t quota = 3 * MIB + 12345;
    create_lease("hammer", quota);
    pid_t kids[HAMMER_PROCS];
    int go[2];
    assert_int_equal(pipe2(go, O_CLOEXEC), 0);
    for (int i = 0; i < HAMMER_PROCS; i++) {
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0) {
            close(go[1]);
            hammer_child("hammer", 0, -1, go[0]);
        }
    }
    close(go[0]);
    close(go[1]);
    for (int i = 0; i < HAMMER_PROCS; i++) {
        int st;
        assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    struct gpx_lease_region r;
    open_ok("hammer", &r);
    assert_int_equal(gpx_lease_used(r.usage), 0);
    assert_true(r.usage->peak <= quota);
    assert_true(r.usage->peak > quota / 2);
    assert_true(r.usage->refused > 0);
    gpx_lease_region_close(&r);

    /* Racing to the edge: together they take exactly floor(quota / chunk) chunks. */
    create_lease("edge", quota);
    int socks[HAMMER_PROCS][2];
    assert_int_equal(pipe2(go, O_CLOEXEC), 0);
    for (int i = 0; i < HAMMER_PROCS; i++) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, socks[i]), 0);
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0) {
            close(socks[i][0]);
            close(go[1]);
            hammer_child("edge", 1, socks[i][1], go[0]);
        }
        close(socks[i][1]);
    }
    close(go[0]);
    close(go[1]);
    uint64_t total = 0;
    for (int i = 0; i < HAMMER_PROCS; i++) {
        uint64_t got = 0;
        assert_int_equal(read(socks[i][0], &got, sizeof got), (ssize_t)sizeof got);
        total += got;
    }
    open_ok("edge", &r);
    const uint64_t chunk = 3 * 4096;
    assert_int_equal(total, quota / chunk * chunk);
    assert_int_equal(gpx_lease_used(r.usage), total);
    uint64_t slots = 0;
    for (int i = 0; i < GPX_LEASE_MAX_PROCS; i++)
        slots += r.usage->procs[i].used;
    assert_int_equal(slots, total);
    for (int i = 0; i < HAMMER_PROCS; i++) {
        assert_int_equal(write(socks[i][0], "x", 1), 1);
        close(socks[i][0]);
        int st;
        assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
    }
    /* They exited holding everything: a reap gives it all back. */
    assert_int_equal(gpx_lease_reap(&r), HAMMER_PROCS);
    assert_int_equal(gpx_lease_used(r.usage), 0);
    gpx_lease_region_close(&r);
}

/* ---- reaping ------------------------------------------------------------------------------ */

/* Forks a child that attaches and reserves `bytes`, then exits without releasing. */
static pid_t child_holding(const char *id, uint64_t bytes, int wait_for_it)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct gpx_lease_region r;
        gpx_error e = {0};
        if (gpx_lease_region_open(dir, id, &r, &e) < 0)
            _exit(10);
        struct gpx_lease_proc *s = gpx_lease_attach(&r, getpid());
        if (!s || gpx_lease_reserve(&r, s, bytes) < 0)
            _exit(11);
        _exit(0);
    }
    if (wait_for_it) {
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    return pid;
}

static void test_reap(void **state)
{
    (void)state;
    create_lease("reap", 8 * MIB);
    struct gpx_lease_region r;
    open_ok("reap", &r);
    struct gpx_lease_proc *me = gpx_lease_attach(&r, getpid());
    assert_int_equal(gpx_lease_reserve(&r, me, MIB), 0);

    child_holding("reap", 3 * MIB, 1);
    child_holding("reap", 2 * MIB, 1);
    assert_int_equal(gpx_lease_used(r.usage), 6 * MIB);
    assert_int_equal(gpx_lease_reap(&r), 2);
    assert_int_equal(gpx_lease_used(r.usage), MIB);
    assert_int_equal(gpx_lease_slot_used(me), MIB);
    assert_int_equal(gpx_lease_reap(&r), 0);
    int live = 0;
    for (int i = 0; i < GPX_LEASE_MAX_PROCS; i++)
        live += r.usage->procs[i].pid != 0;
    assert_int_equal(live, 1);

    /* A reserve that would fail reaps the dead first, then succeeds (unless a reap started
     * less than 1 ms ago: that bounds the cost of a storm of refusals). */
    child_holding("reap", 7 * MIB, 1);
    usleep(2000);
    assert_int_equal(gpx_lease_used(r.usage), 8 * MIB);
    assert_int_equal(gpx_lease_reserve(&r, me, 5 * MIB), 0);
    assert_int_equal(gpx_lease_used(r.usage), 6 * MIB);
    assert_int_equal(r.usage->refused, 0);
    gpx_lease_unaccount(&r, me, 5 * MIB);

    /* A zombie (exited, not yet waited for) holds nothing either. */
    pid_t z = child_holding("reap", 4 * MIB, 0);
    for (int i = 0; i < 200 && gpx_lease_used(r.usage) != 5 * MIB; i++)
        usleep(5000);
    assert_int_equal(gpx_lease_used(r.usage), 5 * MIB);
    for (int i = 0; i < 200 && gpx_lease_proc_start_ticks(z) != 0; i++)
        usleep(5000);
    assert_int_equal(gpx_lease_reap(&r), 1);
    assert_int_equal(gpx_lease_used(r.usage), MIB);
    waitpid(z, NULL, 0);

    /* The periodic reap: more than 1 s after the last reap, a reserve reaps (one in
     * REAP_CHECK_EVERY looks at the clock: see test_reserve_no_syscall). */
    child_holding("reap", 2 * MIB, 1);
    assert_int_equal(gpx_lease_used(r.usage), 3 * MIB);
    atomic_store(&r.usage->last_reap_ns, 1);
    for (int i = 0; i < REAP_CHECK_EVERY; i++)
        assert_int_equal(gpx_lease_reserve(&r, me, 4096), 0);
    assert_int_equal(gpx_lease_used(r.usage), MIB + REAP_CHECK_EVERY * 4096);
    /* ...but not again within the second. */
    child_holding("reap", 2 * MIB, 1);
    for (int i = 0; i < REAP_CHECK_EVERY; i++)
        assert_int_equal(gpx_lease_reserve(&r, me, 4096), 0);
    assert_int_equal(gpx_lease_used(r.usage), 3 * MIB + 2 * REAP_CHECK_EVERY * 4096);
    gpx_lease_region_close(&r);
}

/*
 * The allocation path: a reserve and a release make no syscall, and read the
 * clock at most once in REAP_CHECK_EVERY reserves (to see whether the
 * periodic reap is due). A child runs them under a seccomp filter that kills
 * it at its first syscall other than exit_group, and every clock_gettime of
 * this program is counted (lease.c is linked in statically, so its calls
 * land here, vDSO or not). Putting a clock read, a getpid or a lock that
 * sleeps back on the path fails this test.
 */
static _Atomic unsigned long clock_reads;
static _Atomic int clock_frozen; /* in the sandboxed child: no syscall, a fixed time */
static struct timespec frozen_at;

int clock_gettime(clockid_t clk, struct timespec *ts)
{
    atomic_fetch_add(&clock_reads, 1);
    if (atomic_load(&clock_frozen)) {
        *ts = frozen_at;
        return 0;
    }
    return (int)syscall(SYS_clock_gettime, clk, ts);
}

/* Exits with a raw exit_group: a sanitizer makes syscalls before a call to _exit. */
static void quit(int code)
{
    syscall(SYS_exit_group, code);
}

static void test_reserve_no_syscall(void **state)
{
    (void)state;
    create_lease("nosys", 64 * MIB);
    struct gpx_lease_region r;
    open_ok("nosys", &r);
    struct gpx_lease_proc *me = gpx_lease_attach(&r, getpid());
    assert_non_null(me);
    assert_int_equal(gpx_lease_reap(&r), 0);         /* the periodic reap is not due for a second */
    assert_int_equal(gpx_lease_cells_register(), 0); /* as the interposer does at start */
    clock_gettime(CLOCK_MONOTONIC, &frozen_at);

    enum { PAIRS = 64 * REAP_CHECK_EVERY };
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct sock_filter f[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit_group, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        };
        struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
        /* a thread's credit cell, filled before the filter: its path is checked too */
        struct gpx_lease_cell *cell = gpx_lease_cell_claim(me);
        if (!cell || gpx_lease_reserve(&r, me, 4096) != 0 || !gpx_lease_cell_give(cell, me, 4096))
            quit(93);
        atomic_store(&clock_frozen, 1);
        /* raw syscalls: a sanitizer's prctl interceptor makes syscalls of its own after it */
        if (syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) != 0 ||
            syscall(SYS_prctl, PR_SET_SECCOMP, (long)SECCOMP_MODE_FILTER, &prog, 0L, 0L) != 0)
            quit(90);
        unsigned long before = atomic_load(&clock_reads);
        for (int i = 0; i < PAIRS; i++) {
            if (gpx_lease_reserve(&r, me, 4096) != 0)
                quit(91);
            gpx_lease_unaccount(&r, me, 4096);
        }
        unsigned long reads = atomic_load(&clock_reads) - before;
        for (int i = 0; i < PAIRS; i++)
            if (!gpx_lease_cell_take(cell, 4096) || !gpx_lease_cell_give(cell, me, 4096))
                quit(93);
        quit(reads <= PAIRS / REAP_CHECK_EVERY + 1 ? 0 : 92);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st))
        fail_msg("the reserve path made a syscall (killed by signal %d)", WTERMSIG(st));
    assert_true(WIFEXITED(st));
    if (WEXITSTATUS(st) == 92)
        fail_msg("the reserve path read the clock more than once in %d reserves", REAP_CHECK_EVERY);
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(gpx_lease_used(r.usage), 0);
    gpx_lease_region_close(&r);
}

/* ---- per-thread credit cells: the owner's plain stores against reclaimers -------------------- */

static uint64_t credits_of(const struct gpx_lease_proc *s)
{
    uint64_t c = atomic_load(&s->credit);
    for (int k = 0; k < GPX_LEASE_CELLS; k++)
        c += atomic_load(&s->cells[k].credit);
    return c;
}

/* A lease for the cell tests, this process registered for the membarrier as the interposer is. */
static struct gpx_lease_proc *cells_lease(const char *id, uint64_t quota,
                                          struct gpx_lease_region *r)
{
    assert_int_equal(gpx_lease_cells_register(), 0);
    create_lease(id, quota);
    open_ok(id, r);
    struct gpx_lease_proc *s = gpx_lease_attach(r, getpid());
    assert_non_null(s);
    return s;
}

/* What the interposer does: its cell first, the slot's credit and the lease after. */
static int cell_reserve(struct gpx_lease_region *r, struct gpx_lease_proc *s,
                        struct gpx_lease_cell *c, uint64_t bytes)
{
    if (gpx_lease_cell_take(c, bytes))
        return 0;
    if (atomic_load(&c->credit))
        gpx_lease_cell_flush(r, s, c);
    return gpx_lease_reserve(r, s, bytes);
}

static void cell_release(struct gpx_lease_region *r, struct gpx_lease_proc *s,
                         struct gpx_lease_cell *c, uint64_t bytes)
{
    if (!gpx_lease_cell_give(c, s, bytes))
        gpx_lease_cell_unaccount(r, s, c, bytes);
}

/*
 * A thread's cell keeps what it frees for its next reserve, counts as credit in every figure,
 * and is taken back by a reserve that needs it; a busy owner's cell is left alone (the
 * reserve is refused rather than race it), and a raised steal keeps the owner off its cell.
 */
static void test_cells(void **state)
{
    (void)state;
    const uint64_t quota = 16 * MIB;
    struct gpx_lease_region r;
    struct gpx_lease_proc *s = cells_lease("cells", quota, &r);
    struct gpx_lease_cell *c = gpx_lease_cell_claim(s), *cs[GPX_LEASE_CELLS];
    assert_non_null(c);
    /* every cell once, then none */
    cs[0] = c;
    for (int k = 1; k < GPX_LEASE_CELLS; k++)
        assert_non_null(cs[k] = gpx_lease_cell_claim(s));
    assert_null(gpx_lease_cell_claim(s));
    for (int k = 1; k < GPX_LEASE_CELLS; k++)
        gpx_lease_cell_drop(&r, s, cs[k]);

    assert_int_equal(cell_reserve(&r, s, c, 4 * MIB), 0); /* charged: the cell was empty */
    cell_release(&r, s, c, 4 * MIB);
    assert_int_equal(atomic_load(&c->credit), 4 * MIB);
    assert_int_equal(gpx_lease_used(r.usage), 0);
    assert_int_equal(gpx_lease_slot_used(s), 0);
    assert_int_equal(atomic_load(&r.usage->used), 4 * MIB);
    assert_true(gpx_lease_cell_take(c, 3 * MIB)); /* from the cell, nothing charged */
    assert_int_equal(gpx_lease_used(r.usage), 3 * MIB);
    assert_int_equal(atomic_load(&r.usage->used), 4 * MIB);
    cell_release(&r, s, c, 3 * MIB);
    /* never more than the slot was charged (a double release), nor than the cell keeps */
    assert_false(gpx_lease_cell_give(c, s, 1));
    assert_false(gpx_lease_cell_give(c, s, GPX_LEASE_CELL_KEEP));

    /* the whole quota for another holder: the cell's credit goes back to the lease first */
    assert_int_equal(gpx_lease_reserve(&r, NULL, quota), 0);
    assert_int_equal(atomic_load(&c->credit), 0);
    assert_int_equal(atomic_load(&r.usage->used), quota);
    assert_int_equal(atomic_load(&r.usage->refused), 0);
    assert_int_equal(atomic_load(&c->steal), 0);
    gpx_lease_unaccount(&r, NULL, quota);

    /* a busy owner's cell is not taken from under it: the reserve is refused */
    assert_int_equal(cell_reserve(&r, s, c, 4 * MIB), 0);
    cell_release(&r, s, c, 4 * MIB);
    atomic_store(&c->busy, 1);
    assert_int_equal(gpx_lease_reserve(&r, NULL, quota), -1);
    assert_int_equal(atomic_load(&c->credit), 4 * MIB);
    atomic_store(&c->busy, 0);
    assert_int_equal(gpx_lease_reserve(&r, NULL, quota), 0);
    gpx_lease_unaccount(&r, NULL, quota);
    /* a reclaimer at work keeps the owner off its cell */
    assert_int_equal(cell_reserve(&r, s, c, 4 * MIB), 0);
    cell_release(&r, s, c, 4 * MIB);
    atomic_store(&c->steal, 1);
    assert_false(gpx_lease_cell_take(c, MIB));
    assert_false(gpx_lease_cell_give(c, s, 0));
    atomic_store(&c->steal, 0);

    /* dropped (the thread's exit): its credit moves to the slot */
    gpx_lease_cell_drop(&r, s, c);
    assert_int_equal(atomic_load(&c->credit), 0);
    assert_int_equal(atomic_load(&s->credit), 4 * MIB);
    assert_int_equal(atomic_load(&c->owned), 0);
    assert_int_equal(gpx_lease_used(r.usage), 0);
    gpx_lease_region_close(&r);
}

/*
 * A reclaimer that cannot issue the membarrier (a seccomp profile without it) takes no cell:
 * it turns the lease's cells off instead, and is refused while their credit is out of reach;
 * the owner's next reserve flushes its cell into the slot, which any reclaimer can take.
 */
static void test_cells_no_membarrier(void **state)
{
    (void)state;
    const uint64_t quota = 16 * MIB;
    struct gpx_lease_region r;
    struct gpx_lease_proc *s = cells_lease("cellsnomb", quota, &r);
    struct gpx_lease_cell *c = gpx_lease_cell_claim(s);
    assert_non_null(c);
    assert_int_equal(cell_reserve(&r, s, c, 4 * MIB), 0);
    cell_release(&r, s, c, 4 * MIB);
    assert_int_equal(atomic_load(&c->credit), 4 * MIB);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct sock_filter f[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_membarrier, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
        if (syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) != 0 ||
            syscall(SYS_prctl, PR_SET_SECCOMP, (long)SECCOMP_MODE_FILTER, &prog, 0L, 0L) != 0)
            _exit(90);
        if (gpx_lease_cells_register() == 0)
            _exit(91); /* the filter did not take */
        _exit(gpx_lease_reserve(&r, NULL, quota) == -1 ? 0 : 92);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(atomic_load(&c->credit), 4 * MIB); /* not taken without the barrier */
    assert_true(atomic_load(&c->steal) & GPX_LEASE_STEAL_OFF);
    assert_true(atomic_load(&s->cells[GPX_LEASE_CELLS - 1].steal) & GPX_LEASE_STEAL_OFF);
    /* the owner keeps off its cell for good, and its next reserve flushes it */
    assert_false(gpx_lease_cell_take(c, MIB));
    assert_false(gpx_lease_cell_give(c, s, 0));
    assert_int_equal(cell_reserve(&r, s, c, MIB), 0);
    assert_int_equal(atomic_load(&c->credit), 0);
    assert_int_equal(gpx_lease_used(r.usage), MIB);
    cell_release(&r, s, c, MIB); /* into the slot's credit now */
    assert_int_equal(atomic_load(&c->credit), 0);
    assert_int_equal(gpx_lease_reserve(&r, NULL, quota), 0);
    assert_int_equal(credits_of(s), 0);
    gpx_lease_unaccount(&r, NULL, quota);
    gpx_lease_region_close(&r);
}

/* A child that fills a cell and is killed: the reap returns the cell's bytes and frees it. */
static void test_cells_reap(void **state)
{
    (void)state;
    assert_int_equal(gpx_lease_cells_register(), 0);
    create_lease("cellsreap", 16 * MIB);
    struct gpx_lease_region r;
    open_ok("cellsreap", &r);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct gpx_lease_proc *s = gpx_lease_attach(&r, getpid());
        struct gpx_lease_cell *c = s ? gpx_lease_cell_claim(s) : NULL;
        char ok = c && cell_reserve(&r, s, c, 8 * MIB) == 0 ? '0' : '1';
        if (c)
            cell_release(&r, s, c, 8 * MIB);
        if (write(p[1], &ok, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char ok = 0;
    assert_int_equal(read(p[0], &ok, 1), 1);
    assert_int_equal(ok, '0');
    assert_int_equal(atomic_load(&r.usage->used), 8 * MIB);
    assert_int_equal(gpx_lease_used(r.usage), 0);
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    assert_int_equal(gpx_lease_reap(&r), 1);
    assert_int_equal(atomic_load(&r.usage->used), 0);
    for (int i = 0; i < GPX_LEASE_MAX_PROCS; i++)
        for (int k = 0; k < GPX_LEASE_CELLS; k++) {
            assert_int_equal(atomic_load(&r.usage->procs[i].cells[k].credit), 0);
            assert_int_equal(atomic_load(&r.usage->procs[i].cells[k].owned), 0);
        }
    close(p[0]);
    close(p[1]);
    gpx_lease_region_close(&r);
}

/*
 * An owner thread moves its cell with plain stores as fast as it can while another thread
 * reserves all but half a MiB of the quota over and over: the owner's charge after its first
 * pair is at least 1 MiB, so each of those reserves succeeds only by taking the owner's credit
 * back (and the owner's own reserves are refused while it is held). No byte is made or lost: a
 * reclaimer racing the owner's read-modify-write would leave more credit than charge, or less.
 */
#define RACE_PAIRS 400000

struct race {
    struct gpx_lease_region *r;
    struct gpx_lease_proc *s;
    _Atomic int done;
    long refused;
};

static void *race_owner(void *p)
{
    struct race *x = p;
    struct gpx_lease_cell *c = gpx_lease_cell_claim(x->s);
    if (!c)
        return (void *)1;
    for (long i = 0; i < RACE_PAIRS; i++) {
        uint64_t b = MIB + (uint64_t)(i % 7) * 4096;
        if (cell_reserve(x->r, x->s, c, b) != 0) {
            x->refused++;
            continue;
        }
        cell_release(x->r, x->s, c, b);
    }
    gpx_lease_cell_drop(x->r, x->s, c);
    atomic_store(&x->done, 1);
    return NULL;
}

static void test_cells_race(void **state)
{
    (void)state;
    const uint64_t quota = 64 * MIB;
    struct gpx_lease_region r;
    struct gpx_lease_proc *s = cells_lease("cellsrace", quota, &r);
    struct race x = {.r = &r, .s = s};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, race_owner, &x), 0);
    long steals = 0;
    while (!atomic_load(&x.done)) {
        /* more than the quota less the owner's charge: its credit must come back for it */
        if (gpx_lease_reserve(&r, NULL, quota - MIB / 2) == 0) {
            steals++;
            gpx_lease_unaccount(&r, NULL, quota - MIB / 2);
        }
        uint64_t used = atomic_load(&r.usage->used);
        assert_true(used <= quota);
    }
    void *rc;
    assert_int_equal(pthread_join(th, &rc), 0);
    assert_null(rc);
    assert_true(steals > 100);
    /* everything freed: what is charged is exactly the credit left, and the quota is whole */
    assert_int_equal(atomic_load(&r.usage->used), credits_of(s));
    assert_int_equal(atomic_load(&s->used), credits_of(s));
    assert_int_equal(gpx_lease_used(r.usage), 0);
    assert_int_equal(gpx_lease_reserve(&r, NULL, quota), 0);
    assert_int_equal(credits_of(s), 0);
    assert_int_equal(atomic_load(&r.usage->used), quota);
    gpx_lease_unaccount(&r, NULL, quota);
    fprintf(stderr,
            "cells race: %ld reserves that took the owner's credit back, %ld owner "
            "reserves refused\n",
            steals, x.refused);
    gpx_lease_region_close(&r);
}

/* ---- credits: freed bytes a process keeps charged, and what keeps them exact -------------- */

/*
 * A child of lease `id` that obeys one-byte commands on `cmd` and answers on
 * `ans`: 'a' reserves `bytes` (answers '0' or '1' for refused), 'f' releases
 * them, 'q' exits. It never exits on its own: the test kills it.
 */
struct helper {
    pid_t pid;
    int cmd, ans;
};

static struct helper helper_start(const char *id, uint64_t bytes)
{
    int c[2], a[2];
    assert_int_equal(pipe(c), 0);
    assert_int_equal(pipe(a), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(c[1]);
        close(a[0]);
        struct gpx_lease_region r;
        gpx_error e = {0};
        if (gpx_lease_region_open(dir, id, &r, &e) < 0)
            _exit(10);
        struct gpx_lease_proc *s = gpx_lease_attach(&r, getpid());
        char op;
        while (s && read(c[0], &op, 1) == 1) {
            char reply = '0';
            if (op == 'a')
                reply = gpx_lease_reserve(&r, s, bytes) == 0 ? '0' : '1';
            else if (op == 'f')
                gpx_lease_unaccount(&r, s, bytes);
            else
                break;
            if (write(a[1], &reply, 1) != 1)
                break;
        }
        _exit(0);
    }
    close(c[0]);
    close(a[1]);
    return (struct helper){pid, c[1], a[0]};
}

/* Sends op to the helper; its answer ('0' done, '1' refused). */
static char helper_do(struct helper *h, char op)
{
    char reply = 'x';
    assert_int_equal(write(h->cmd, &op, 1), 1);
    assert_int_equal(read(h->ans, &reply, 1), 1);
    return reply;
}

static void helper_kill(struct helper *h)
{
    kill(h->pid, SIGKILL);
    waitpid(h->pid, NULL, 0);
    close(h->cmd);
    close(h->ans);
}

static uint64_t credit_of(const struct gpx_lease_region *r, pid_t pid)
{
    for (int i = 0; i < GPX_LEASE_MAX_PROCS; i++)
        if (atomic_load(&r->usage->procs[i].pid) == pid)
            return atomic_load(&r->usage->procs[i].credit);
    return 0;
}

/*
 * The bug a per-process cache had: bytes freed into it counted as used, so
 * another process of the lease was refused early and the figures were off.
 * Process A allocates and frees X (its credit holds X); B can then allocate
 * the whole quota, and every figure is exact after each step.
 */
static void test_credit_two_processes(void **state)
{
    (void)state;
    const uint64_t quota = 16 * MIB, x = 4 * MIB;
    create_lease("credit2", quota);
    struct gpx_lease_region r;
    open_ok("credit2", &r);
    struct gpx_lease_proc *b = gpx_lease_attach(&r, getpid());
    assert_non_null(b);
    struct helper a = helper_start("credit2", x);

    assert_int_equal(helper_do(&a, 'a'), '0');
    assert_int_equal(gpx_lease_used(r.usage), x);
    assert_int_equal(helper_do(&a, 'f'), '0');
    assert_int_equal(credit_of(&r, a.pid), x); /* A keeps X charged: the case to get right */
    assert_int_equal(gpx_lease_used(r.usage), 0);
    assert_int_equal(atomic_load(&r.usage->peak), x);

    /* B takes the whole quota: A's credit goes back to the lease first. */
    assert_int_equal(gpx_lease_reserve(&r, b, quota), 0);
    assert_int_equal(gpx_lease_used(r.usage), quota);
    assert_int_equal(gpx_lease_slot_used(b), quota);
    assert_int_equal(credit_of(&r, a.pid), 0);
    assert_int_equal(atomic_load(&r.usage->used), quota); /* nothing charged twice */
    assert_int_equal(atomic_load(&r.usage->refused), 0);
    /* Now the lease is full for real: A is refused, and nothing moves. */
    assert_int_equal(helper_do(&a, 'a'), '1');
    assert_int_equal(gpx_lease_used(r.usage), quota);
    assert_int_equal(atomic_load(&r.usage->refused), 1);

    /* B frees; its credit serves its own next reserve, and A still gets X. */
    gpx_lease_unaccount(&r, b, quota);
    assert_int_equal(gpx_lease_used(r.usage), 0);
    assert_int_equal(gpx_lease_slot_used(b), 0);
    assert_int_equal(gpx_lease_reserve(&r, b, quota - x), 0);
    assert_int_equal(helper_do(&a, 'a'), '0');
    assert_int_equal(gpx_lease_used(r.usage), quota);
    assert_int_equal(atomic_load(&r.usage->used), quota);
    assert_int_equal(helper_do(&a, 'f'), '0');
    gpx_lease_unaccount(&r, b, quota - x);
    assert_int_equal(gpx_lease_used(r.usage), 0);
    assert_int_equal(atomic_load(&r.usage->peak), quota);
    helper_kill(&a);
    gpx_lease_region_close(&r);
}

/* A killed process's credit (and what it still held) returns to the lease on reap. */
static void test_credit_reap(void **state)
{
    (void)state;
    const uint64_t quota = 16 * MIB, x = 6 * MIB;
    create_lease("creditreap", quota);
    struct gpx_lease_region r;
    open_ok("creditreap", &r);
    struct gpx_lease_proc *me = gpx_lease_attach(&r, getpid());
    assert_non_null(me);

    struct helper a = helper_start("creditreap", x);
    assert_int_equal(helper_do(&a, 'a'), '0');
    assert_int_equal(helper_do(&a, 'f'), '0'); /* credit X */
    assert_int_equal(helper_do(&a, 'a'), '0'); /* from its credit: X allocated, no credit */
    assert_int_equal(helper_do(&a, 'a'), '0');
    assert_int_equal(helper_do(&a, 'f'), '0'); /* X allocated + X credit */
    assert_int_equal(gpx_lease_used(r.usage), x);
    assert_int_equal(atomic_load(&r.usage->used), 2 * x);
    helper_kill(&a);
    assert_int_equal(gpx_lease_used(r.usage), x); /* dead, not yet reaped: still held */
    assert_int_equal(gpx_lease_reap(&r), 1);
    assert_int_equal(atomic_load(&r.usage->used), 0);
    assert_int_equal(gpx_lease_used(r.usage), 0);
    assert_int_equal(gpx_lease_reserve(&r, me, quota), 0);
    gpx_lease_unaccount(&r, me, quota);
    assert_int_equal(gpx_lease_used(r.usage), 0);
    gpx_lease_region_close(&r);
}

/*
 * Threads that allocate and free each other's allocations (the free on
 * another thread than the allocation's) keep every figure exact, and the
 * whole quota stays usable.
 */
#define XT_THREADS 4
#define XT_BLOCKS  64
#define XT_ROUNDS  200

struct xt {
    struct gpx_lease_region *r;
    struct gpx_lease_proc *slot;
    pthread_barrier_t *bar;
    uint64_t (*sizes)[XT_BLOCKS];
    _Atomic int *failed;
    int me;
};

static void *xt_thread(void *p)
{
    struct xt *t = p;
    for (int round = 0; round < XT_ROUNDS; round++) {
        for (int i = 0; i < XT_BLOCKS; i++)
            if (gpx_lease_reserve(t->r, t->slot, t->sizes[t->me][i]) != 0)
                atomic_store(t->failed, 1);
        pthread_barrier_wait(t->bar);
        if (t->me == 0) { /* every block of every thread is live: the count is exact */
            uint64_t sum = 0;
            for (int k = 0; k < XT_THREADS; k++)
                for (int i = 0; i < XT_BLOCKS; i++)
                    sum += t->sizes[k][i];
            if (gpx_lease_used(t->r->usage) != sum || gpx_lease_slot_used(t->slot) != sum)
                atomic_store(t->failed, 2);
        }
        pthread_barrier_wait(t->bar);
        int other = (t->me + 1) % XT_THREADS;
        for (int i = 0; i < XT_BLOCKS; i++)
            gpx_lease_unaccount(t->r, t->slot, t->sizes[other][i]);
        pthread_barrier_wait(t->bar);
        if (t->me == 0) {
            if (gpx_lease_used(t->r->usage) != 0 || gpx_lease_slot_used(t->slot) != 0)
                atomic_store(t->failed, 3);
            /* the next round's sizes: each thread's blocks change size */
            for (int k = 0; k < XT_THREADS; k++)
                for (int i = 0; i < XT_BLOCKS; i++)
                    t->sizes[k][i] = 4096ULL * (1 + (unsigned)(k * 7 + i * 13 + round * 5) % 97);
        }
        pthread_barrier_wait(t->bar);
    }
    return NULL;
}

static void test_credit_threads(void **state)
{
    (void)state;
    /* the largest round: 4 x 64 blocks of at most 97 pages, about 97 MiB */
    const uint64_t quota = 100 * MIB;
    create_lease("creditxt", quota);
    struct gpx_lease_region r;
    open_ok("creditxt", &r);
    struct gpx_lease_proc *s = gpx_lease_attach(&r, getpid());
    assert_non_null(s);
    static uint64_t sizes[XT_THREADS][XT_BLOCKS];
    for (int k = 0; k < XT_THREADS; k++)
        for (int i = 0; i < XT_BLOCKS; i++)
            sizes[k][i] = 4096ULL * (1 + (unsigned)(k + i) % 50);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, XT_THREADS);
    _Atomic int failed = 0;
    struct xt t[XT_THREADS];
    pthread_t th[XT_THREADS];
    for (int k = 0; k < XT_THREADS; k++) {
        t[k] = (struct xt){&r, s, &bar, sizes, &failed, k};
        assert_int_equal(pthread_create(&th[k], NULL, xt_thread, &t[k]), 0);
    }
    for (int k = 0; k < XT_THREADS; k++)
        pthread_join(th[k], NULL);
    pthread_barrier_destroy(&bar);
    assert_int_equal(atomic_load(&failed), 0);
    assert_int_equal(gpx_lease_used(r.usage), 0);
    assert_int_equal(atomic_load(&r.usage->refused), 0);
    /* what the threads left as credit is the lease's: the whole quota in one piece */
    assert_int_equal(gpx_lease_reserve(&r, NULL, quota), 0);
    gpx_lease_unaccount(&r, NULL, quota);
    gpx_lease_region_close(&r);
}

static void test_pid_reuse(void **state)
{
    (void)state;
    create_lease("reuse", 8 * MIB);
    struct gpx_lease_region r;
    open_ok("reuse", &r);
    /* An earlier process with this pid: another start time, 3 MiB still counted. */
    struct gpx_lease_proc *old = gpx_lease_attach(&r, getpid());
    assert_int_equal(gpx_lease_reserve(&r, old, 3 * MIB), 0);
    atomic_store(&old->start_ticks, gpx_lease_proc_start_ticks(getpid()) + 1);

    struct gpx_lease_proc *s = gpx_lease_attach(&r, getpid());
    assert_non_null(s);
    assert_int_equal(s->start_ticks, gpx_lease_proc_start_ticks(getpid()));
    assert_int_equal(gpx_lease_slot_used(s), 0);
    assert_int_equal(gpx_lease_used(r.usage), 0); /* the earlier process's bytes went back */
    int mine = 0;
    for (int i = 0; i < GPX_LEASE_MAX_PROCS; i++)
        mine += r.usage->procs[i].pid == getpid();
    assert_int_equal(mine, 1);

    /* The reaper also tells reuse apart. */
    assert_int_equal(gpx_lease_reserve(&r, s, MIB), 0);
    atomic_store(&s->start_ticks, 1);
    assert_int_equal(gpx_lease_reap(&r), 1);
    assert_int_equal(gpx_lease_used(r.usage), 0);

    /* A slot claimed by a reaper that died is finished by the next reaper. */
    struct gpx_lease_proc *t = gpx_lease_attach(&r, getpid());
    assert_int_equal(gpx_lease_reserve(&r, t, 2 * MIB), 0);
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    atomic_store(&t->pid, -dead);
    assert_int_equal(gpx_lease_reap(&r), 1);
    assert_int_equal(gpx_lease_used(r.usage), 0);
    assert_int_equal(t->pid, 0);
    gpx_lease_region_close(&r);
}

static void test_slots_full(void **state)
{
    (void)state;
    create_lease("full", 0);
    struct gpx_lease_region r;
    open_ok("full", &r);
    /* Every slot held by a live process: our parent's pid, which is alive. */
    int32_t ppid = (int32_t)getppid();
    for (int i = 0; i < GPX_LEASE_MAX_PROCS; i++)
        atomic_store(&r.usage->procs[i].pid, ppid);
    assert_null(gpx_lease_attach(&r, getpid()));
    /* One of them dead: attach reaps it and takes it. */
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    atomic_store(&r.usage->procs[17].pid, dead);
    assert_ptr_equal(gpx_lease_attach(&r, getpid()), &r.usage->procs[17]);
    gpx_lease_region_close(&r);
}

static void test_limits_read_only(void **state)
{
    (void)state;
    create_lease("ro", 4 * MIB);
    struct gpx_lease_region r;
    open_ok("ro", &r);
    long page = sysconf(_SC_PAGESIZE);
    void *base = (void *)((uintptr_t)r.limits & ~(uintptr_t)(page - 1));
    /* Even for root: the mapping comes from an O_RDONLY descriptor, so it can't become writable. */
    errno = 0;
    assert_int_equal(mprotect(base, (size_t)page, PROT_READ | PROT_WRITE), -1);
    assert_int_equal(errno, EACCES);
    assert_int_equal(r.limits->memory_quota, 4 * MIB);
    /* The usage mapping is writable, as it must be. */
    assert_int_equal(mprotect(r.usage, sizeof *r.usage, PROT_READ | PROT_WRITE), 0);
    gpx_lease_region_close(&r);

    /* The file itself is 0400: a non-root opener can't write it. */
    if (geteuid() != 0) {
        char p[512];
        path_of(p, sizeof p, "ro", "limits");
        assert_int_equal(open(p, O_RDWR | O_CLOEXEC), -1);
        assert_int_equal(errno, EACCES);
    }
}

/*
 * A region for another uid: its usage file is that uid's (0600), its limits
 * stay ours (0400). Only root may give files away; anyone else is told why.
 */
static void test_foreign_uid(void **state)
{
    (void)state;
    struct gpx_lease_limits l;
    make_limits(&l, "fu", 4 * MIB);
    l.uid = 4242;
    gpx_error e = {0};
    char p[512];
    struct stat st;
    if (geteuid() != 0) {
        assert_int_equal(gpx_lease_region_create(dir, &l, &e), -1);
        assert_int_equal(e.code, GPX_E_PERM);
        assert_non_null(strstr(e.msg, "only root can"));
        path_of(p, sizeof p, "fu", "limits");
        assert_int_equal(stat(p, &st), -1); /* nothing half made is left */
        return;
    }
    assert_int_equal(gpx_lease_region_create(dir, &l, &e), 0);
    path_of(p, sizeof p, "fu", "usage");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_uid, 4242);
    assert_int_equal(st.st_mode & 0777, 0600);
    path_of(p, sizeof p, "fu", "limits");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_uid, geteuid());
    assert_int_equal(st.st_mode & 0777, 0400);
}

int main(void)
{
    /* gpx_run_dir() caches its answer; give it one to check before anything asks. */
    setenv("GPUPLEX_RUN_DIR", "/tmp/gpx-unit-lease-env", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modes_and_ids),
        cmocka_unit_test(test_run_dir_env),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reserve_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hammer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reserve_no_syscall, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credit_two_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credit_reap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credit_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cells, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cells_reap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cells_no_membarrier, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cells_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pid_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slots_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_uid, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
