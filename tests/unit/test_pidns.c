/*
 * Process identity across pid namespaces: lease slots, their reaping and the
 * arbiter, with real namespaces. Each "box" is a process that unshared its
 * pid and mount namespaces and runs pid 1 there with its own /proc (what
 * `unshare --pid --fork --mount-proc` does, what a container is to these
 * checks); the test drives it through a pipe. Needs root (CAP_SYS_ADMIN).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/arbiter.h"
#include "shm/lease.h"
#include "shm/pidns.h"

#define MIB (1024ULL * 1024ULL)
#define ID  "l-pidns"

static char dir[256];
static char arb_path[512];

struct box {
    pid_t outer; /* the process that unshared (in our namespace), the box's parent */
    pid_t host;  /* the box's pid 1 as we number it */
    int cmd, res;
};

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s/gpx-unit-pidns-XXXXXX",
             getenv("GPX_T") ? getenv("GPX_T") : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    struct gpx_lease_limits l;
    memset(&l, 0, sizeof l);
    snprintf(l.id, sizeof l.id, "%s", ID);
    l.mode = GPX_MODE_VGPU;
    snprintf(l.gpu_uuid, sizeof l.gpu_uuid, "GPU-pidns");
    l.memory_quota = 1024 * MIB;
    l.weight = 1;
    l.uid = (uint32_t)getuid();
    gpx_error e = {0};
    if (gpx_lease_region_create(dir, &l, &e) < 0) {
        fprintf(stderr, "create: %s\n", e.msg);
        return -1;
    }
    snprintf(arb_path, sizeof arb_path, "%s/GPU-pidns.arb", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int64_t read_i64(int fd)
{
    int64_t v = INT64_MIN;
    ssize_t n;
    do
        n = read(fd, &v, sizeof v);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof v ? v : INT64_MIN;
}

static void write_i64(int fd, int64_t v)
{
    ssize_t n = write(fd, &v, sizeof v);
    (void)n;
}

/*
 * pid 1 of a box: serves commands until 'q' or EOF.
 *   'a' attach and reserve 64 MiB -> its slot's index (-1 on failure)
 *   'r' reap -> how many slots it reaped
 *   'j' join the arbiter -> its proc index there
 *   'g' take the turn and give it back -> 1
 *   'p' -> getpid() (1)
 */
static void box_main(int cmd, int res)
{
    /* its own /proc, as a container has: /proc/1 is this process */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        _exit(3);
    struct gpx_lease_region r;
    struct gpx_lease_proc *slot = NULL;
    struct gpx_arb *arb = NULL;
    struct gpx_arb_handle h;
    if (gpx_lease_region_open(dir, ID, &r, NULL) < 0)
        _exit(4);
    char c;
    while (read(cmd, &c, 1) == 1) {
        int64_t out = -1;
        if (c == 'a') {
            slot = gpx_lease_attach(&r, (int32_t)getpid());
            if (slot && gpx_lease_reserve(&r, slot, 64 * MIB) == 0)
                out = slot - r.usage->procs;
        } else if (c == 'r') {
            out = gpx_lease_reap(&r);
        } else if (c == 'j') {
            if ((arb || gpx_arb_open(arb_path, 0, &arb, NULL) == 0) &&
                gpx_arb_join(arb, "t-box", 1, 0, (int32_t)getpid(), &h, NULL) == 0)
                out = h.slot;
        } else if (c == 'g') {
            gpx_arb_acquire(&h);
            gpx_arb_release(&h);
            out = 1;
        } else if (c == 'p') {
            out = getpid();
        } else {
            break;
        }
        write_i64(res, out);
    }
    _exit(0);
}

static struct box box_start(void)
{
    int cmd[2], res[2], hp[2];
    struct box b = {0};
    assert_int_equal(pipe(cmd), 0);
    assert_int_equal(pipe(res), 0);
    assert_int_equal(pipe(hp), 0);
    b.outer = fork();
    assert_true(b.outer >= 0);
    if (b.outer == 0) {
        close(cmd[1]);
        close(res[0]);
        close(hp[0]);
        if (unshare(CLONE_NEWPID | CLONE_NEWNS) < 0) {
            perror("unshare(CLONE_NEWPID|CLONE_NEWNS) (test_pidns needs root)");
            _exit(2);
        }
        pid_t p = fork();
        if (p == 0)
            box_main(cmd[0], res[1]);
        write_i64(hp[1], p);
        close(cmd[0]);
        close(res[1]);
        int st = 0;
        while (p > 0 && waitpid(p, &st, 0) < 0 && errno == EINTR)
            ;
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 9);
    }
    close(cmd[0]);
    close(res[1]);
    close(hp[1]);
    int64_t host = read_i64(hp[0]);
    close(hp[0]);
    assert_true(host > 0);
    b.host = (pid_t)host;
    b.cmd = cmd[1];
    b.res = res[0];
    return b;
}

static int64_t box_do(struct box *b, char c)
{
    assert_int_equal(write(b->cmd, &c, 1), 1);
    return read_i64(b->res);
}

/* SIGKILLs the box's pid 1 (the namespace goes with it) and waits its parent out. */
static void box_kill(struct box *b)
{
    kill(b->host, SIGKILL);
    int st;
    while (waitpid(b->outer, &st, 0) < 0 && errno == EINTR)
        ;
    close(b->cmd);
    close(b->res);
    b->outer = 0;
}

static void box_stop(struct box *b)
{
    if (b->outer > 0)
        box_kill(b);
}

static uint32_t ns_of_host_pid(pid_t pid)
{
    uint32_t ns = 0;
    int32_t inner = 0;
    assert_int_equal(gpx_pidns_ident(pid, &ns, &inner), 0);
    assert_int_equal(inner, 1);
    return ns;
}

/* Two pid-1 processes of two boxes hold two slots; live ones are never reaped, dead ones are. */
static void test_lease_slots(void **state)
{
    (void)state;
    struct box a = box_start(), b = box_start();
    assert_int_equal(box_do(&a, 'p'), 1);
    assert_int_equal(box_do(&b, 'p'), 1);
    int64_t sa = box_do(&a, 'a'), sb = box_do(&b, 'a');
    assert_true(sa >= 0 && sb >= 0);
    assert_int_not_equal(sa, sb); /* the same pid, two processes */

    struct gpx_lease_region r;
    assert_int_equal(gpx_lease_region_open(dir, ID, &r, NULL), 0);
    struct gpx_lease_proc *pa = &r.usage->procs[sa], *pb = &r.usage->procs[sb];
    assert_int_equal(atomic_load(&pa->pid), 1);
    assert_int_equal(atomic_load(&pb->pid), 1);
    assert_int_equal(atomic_load(&pa->pidns), ns_of_host_pid(a.host));
    assert_int_equal(atomic_load(&pb->pidns), ns_of_host_pid(b.host));
    assert_int_not_equal(atomic_load(&pa->pidns), gpx_pidns_self());
    assert_int_equal(gpx_lease_used(r.usage), 128 * MIB);

    /* nobody reaps a live process: not the boxes (each its own view), not the host */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(box_do(&a, 'r'), 0);
        assert_int_equal(box_do(&b, 'r'), 0);
        assert_int_equal(gpx_lease_reap(&r), 0);
    }
    assert_int_equal(gpx_lease_used(r.usage), 128 * MIB);

    /* b dies: a cannot see b's namespace and leaves its slot; the host reaps it */
    box_kill(&b);
    assert_int_equal(box_do(&a, 'r'), 0);
    assert_int_equal(atomic_load(&pb->pid), 1);
    assert_int_equal(gpx_pidns_alive(atomic_load(&pb->pidns), 1, atomic_load(&pb->start_ticks)), 0);
    assert_int_equal(gpx_lease_reap(&r), 1);
    assert_int_equal(atomic_load(&pb->pid), 0);
    assert_int_equal(atomic_load(&pa->pid), 1); /* its sibling keeps its own */
    assert_int_equal(atomic_load(&pa->used), 64 * MIB);
    assert_int_equal(gpx_lease_used(r.usage), 64 * MIB);

    /* a live box process seen from the host, and a pid 1 that is not ours */
    assert_int_equal(gpx_pidns_alive(atomic_load(&pa->pidns), 1, atomic_load(&pa->start_ticks)), 1);
    assert_int_equal(gpx_pidns_alive(atomic_load(&pa->pidns), 1, atomic_load(&pa->start_ticks) + 1),
                     0);
    assert_int_equal(gpx_pidns_alive(atomic_load(&pa->pidns), 2, 0), 0);

    box_kill(&a);
    assert_int_equal(gpx_lease_reap(&r), 1);
    assert_int_equal(gpx_lease_used(r.usage), 0);
    gpx_lease_region_close(&r);
}

/* A slot written before namespaces (pidns 0) is judged in the reader's namespace, as before. */
static void test_legacy_slot(void **state)
{
    (void)state;
    struct gpx_lease_region r;
    assert_int_equal(gpx_lease_region_open(dir, ID, &r, NULL), 0);
    struct gpx_lease_proc *s = gpx_lease_attach(&r, (int32_t)getpid());
    assert_non_null(s);
    assert_int_equal(atomic_load(&s->pidns), gpx_pidns_self());
    atomic_store(&s->pidns, 0);
    assert_int_equal(gpx_lease_reserve(&r, s, MIB), 0);
    assert_int_equal(gpx_lease_reap(&r), 0); /* we are alive */
    assert_ptr_equal(gpx_lease_attach(&r, (int32_t)getpid()), s);
    assert_int_equal(atomic_load(&s->pidns), gpx_pidns_self()); /* adopted */
    gpx_lease_unaccount(&r, s, MIB);
    gpx_lease_region_close(&r);
}

static int arb_count_pid1(struct gpx_arb *arb)
{
    int n = 0;
    for (int i = 0; i < GPX_ARB_MAX_PROCS; i++)
        n += arb->procs[i].pid == 1;
    return n;
}

/* Two boxes' pid 1 share an arbiter: neither takes the other for dead; the host reaps the dead. */
static void test_arbiter(void **state)
{
    (void)state;
    struct box a = box_start(), b = box_start();
    int64_t ja = box_do(&a, 'j'), jb = box_do(&b, 'j');
    assert_true(ja >= 0 && jb >= 0);
    assert_int_not_equal(ja, jb);
    /* each join reaps what it judges dead: a fresh join from either box keeps the other */
    assert_true(box_do(&a, 'j') >= 0);
    assert_true(box_do(&b, 'j') >= 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(box_do(&a, 'g'), 1);
        assert_int_equal(box_do(&b, 'g'), 1);
    }
    struct gpx_arb *arb = NULL;
    assert_int_equal(gpx_arb_open(arb_path, 0, &arb, NULL), 0);
    assert_int_equal(arb_count_pid1(arb), 4);
    assert_int_not_equal(arb->procs[ja].pidns, arb->procs[jb].pidns);

    /* the host sees both alive, then b dead */
    struct gpx_arb_handle h;
    assert_int_equal(gpx_arb_join(arb, "t-host", 1, 0, (int32_t)getpid(), &h, NULL), 0);
    assert_int_equal(arb_count_pid1(arb), 4);
    gpx_arb_leave(&h);
    box_kill(&b);
    assert_int_equal(box_do(&a, 'j') >= 0, 1); /* a cannot see b's namespace: keeps it */
    assert_int_equal(arb_count_pid1(arb), 5);
    usleep(300 * 1000); /* past the 250 ms for which a foreign process seen alive stays so */
    assert_int_equal(gpx_arb_join(arb, "t-host", 1, 0, (int32_t)getpid(), &h, NULL), 0);
    assert_int_equal(arb_count_pid1(arb), 3); /* b's two are gone, a's three stay */
    gpx_arb_leave(&h);
    box_stop(&a);
    gpx_arb_close(arb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lease_slots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_legacy_slot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arbiter, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
