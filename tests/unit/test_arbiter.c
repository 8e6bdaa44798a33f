/*
 * Arbiter: fairness between weighted leases, caps, work conservation, crash
 * and hang recovery, churn. Tenants are forked processes whose "GPU work"
 * is holding the turn until their deadline (a GPU busy for exactly the time
 * it was granted), so the figures measure the arbiter alone. Bounds are
 * tolerant (a shared 2-core machine); bench/timeslice holds the tight ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shm/arbiter.h"

static char path[256];

static void sleep_until(uint64_t t)
{
    uint64_t now = gpx_arb_now_ns();
    if (t > now) {
        struct timespec ts = {(time_t)((t - now) / 1000000000ULL),
                              (long)((t - now) % 1000000000ULL)};
        nanosleep(&ts, NULL);
    }
}

/* A tenant: holds every turn it gets to the end, for `run_ns`. */
static void tenant(const char *lease, uint32_t weight, uint32_t cap, uint64_t run_ns)
{
    struct gpx_arb *a;
    struct gpx_arb_handle h;
    if (gpx_arb_open(path, 0, &a, NULL) < 0 ||
        gpx_arb_join(a, lease, weight, cap, getpid(), &h, NULL) < 0)
        _exit(3);
    uint64_t end = gpx_arb_now_ns() + run_ns;
    while (gpx_arb_now_ns() < end) {
        uint64_t d = gpx_arb_acquire(&h);
        while (d) {
            sleep_until(d < end ? d : end);
            if (gpx_arb_now_ns() >= end) {
                gpx_arb_release(&h);
                break;
            }
            d = gpx_arb_renew_or_release(&h);
        }
    }
    gpx_arb_leave(&h);
    _exit(0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/gpx-unit-arb-%d.arb", (int)getpid());
    unlink(path);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

/* Runs tenants (lease "t<i>") and returns their granted shares. */
static void run_tenants(int n, const uint32_t *weights, const uint32_t *caps, uint64_t run_ns,
                        double *shares, struct gpx_arb_stats *stats)
{
    struct gpx_arb *a;
    assert_int_equal(gpx_arb_open(path, 5000000, &a, NULL), 0); /* 5 ms quantum */
    /* A watcher process keeps the leases' entries alive so their stats can be read after. */
    struct gpx_arb_handle keep[8];
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "t%d", i);
        assert_int_equal(
            gpx_arb_join(a, id, weights[i], caps ? caps[i] : 0, getpid(), &keep[i], NULL), 0);
    }
    pid_t pids[8];
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            char id[16];
            snprintf(id, sizeof id, "t%d", i);
            tenant(id, weights[i], caps ? caps[i] : 0, run_ns);
        }
    }
    for (int i = 0; i < n; i++) {
        int st;
        waitpid(pids[i], &st, 0);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    double total = 0;
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "t%d", i);
        assert_int_equal(gpx_arb_stats(a, id, &stats[i]), 0);
        total += (double)stats[i].granted_ns;
    }
    for (int i = 0; i < n; i++)
        shares[i] = caps ? (double)stats[i].granted_ns / (double)run_ns
                         : (double)stats[i].granted_ns / total;
    for (int i = 0; i < n; i++)
        gpx_arb_leave(&keep[i]);
    gpx_arb_close(a);
}

static void test_weights_1_3(void **state)
{
    (void)state;
    uint32_t w[2] = {1, 3};
    double s[2];
    struct gpx_arb_stats st[2];
    run_tenants(2, w, NULL, 1500000000ULL, s, st);
    print_message("shares 1:3 = %.3f %.3f (turns %llu %llu)\n", s[0], s[1],
                  (unsigned long long)st[0].turns, (unsigned long long)st[1].turns);
    assert_true(s[0] > 0.18 && s[0] < 0.32);
}

static void test_equal_4(void **state)
{
    (void)state;
    uint32_t w[4] = {1, 1, 1, 1};
    double s[4];
    struct gpx_arb_stats st[4];
    run_tenants(4, w, NULL, 1500000000ULL, s, st);
    for (int i = 0; i < 4; i++) {
        print_message("share[%d] = %.3f\n", i, s[i]);
        assert_true(s[i] > 0.18 && s[i] < 0.32);
    }
}

static void test_cap_alone(void **state)
{
    (void)state;
    uint32_t w[1] = {1}, c[1] = {30};
    double s[1];
    struct gpx_arb_stats st[1];
    run_tenants(1, w, c, 1500000000ULL, s, st);
    print_message("cap 30 alone: %.3f of wall time\n", s[0]);
    assert_true(s[0] > 0.24 && s[0] < 0.34);
}

/* The holder is SIGKILLed while holding: a waiter gets the turn within 100 ms. */
static void test_crashed_holder(void **state)
{
    (void)state;
    struct gpx_arb *a;
    assert_int_equal(gpx_arb_open(path, 0, &a, NULL), 0);
    int *flag = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t holder = fork();
    if (holder == 0) {
        struct gpx_arb_handle h;
        if (gpx_arb_join(a, "crash", 1, 0, getpid(), &h, NULL) < 0)
            _exit(3);
        gpx_arb_acquire(&h);
        __atomic_store_n(flag, 1, __ATOMIC_SEQ_CST);
        pause(); /* hold forever */
        _exit(0);
    }
    while (!__atomic_load_n(flag, __ATOMIC_SEQ_CST))
        usleep(1000);
    struct gpx_arb_handle me;
    assert_int_equal(gpx_arb_join(a, "waiter", 1, 0, getpid(), &me, NULL), 0);
    kill(holder, SIGKILL);
    uint64_t t0 = gpx_arb_now_ns();
    gpx_arb_acquire(&me);
    uint64_t waited = gpx_arb_now_ns() - t0;
    waitpid(holder, NULL, 0);
    print_message("turn reclaimed from a killed holder in %.1f ms\n", (double)waited / 1e6);
    assert_true(waited < 100000000ULL);
    assert_true(gpx_arb_holding(&me));
    gpx_arb_leave(&me);
    gpx_arb_close(a);
    munmap(flag, 4096);
}

/* A holder that stops (SIGSTOP: a drain that never ends) is skipped after quantum + grace. */
static void test_hung_holder(void **state)
{
    (void)state;
    struct gpx_arb *a;
    assert_int_equal(gpx_arb_open(path, 10000000, &a, NULL), 0);
    int *flag = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t holder = fork();
    if (holder == 0) {
        struct gpx_arb_handle h;
        if (gpx_arb_join(a, "hang", 1, 0, getpid(), &h, NULL) < 0)
            _exit(3);
        gpx_arb_acquire(&h);
        __atomic_store_n(flag, 1, __ATOMIC_SEQ_CST);
        raise(SIGSTOP);
        /* resumed: it lost its turn, and knows it */
        _exit(gpx_arb_holding(&h) ? 1 : 0);
    }
    while (!__atomic_load_n(flag, __ATOMIC_SEQ_CST))
        usleep(1000);
    struct gpx_arb_handle me;
    assert_int_equal(gpx_arb_join(a, "other", 1, 0, getpid(), &me, NULL), 0);
    uint64_t t0 = gpx_arb_now_ns();
    gpx_arb_acquire(&me);
    uint64_t waited = gpx_arb_now_ns() - t0;
    print_message("hung holder skipped after %.1f ms\n", (double)waited / 1e6);
    assert_true(waited < 10000000ULL + GPX_ARB_DEFAULT_GRACE_NS + 150000000ULL); /* loaded CI */
    struct gpx_arb_stats st;
    assert_int_equal(gpx_arb_stats(a, "hang", &st), 0);
    assert_int_equal(st.hangs, 1);
    kill(holder, SIGCONT);
    int status;
    waitpid(holder, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    gpx_arb_leave(&me);
    gpx_arb_close(a);
    munmap(flag, 4096);
}

/* 50 tenants join, take turns and leave at random; nobody deadlocks. */
static void test_churn(void **state)
{
    (void)state;
    struct gpx_arb *a;
    assert_int_equal(gpx_arb_open(path, 1000000, &a, NULL), 0);
    pid_t pids[50];
    for (int i = 0; i < 50; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            srand((unsigned)getpid());
            alarm(30); /* a deadlock ends the child with SIGALRM: the test fails */
            for (int round = 0; round < 5; round++) {
                struct gpx_arb_handle h;
                char id[16];
                snprintf(id, sizeof id, "c%d", rand() % 10);
                if (gpx_arb_join(a, id, 1 + (uint32_t)(rand() % 4), 0, getpid(), &h, NULL) < 0)
                    _exit(3);
                uint64_t d = gpx_arb_acquire(&h);
                sleep_until(d - 500000);
                if (rand() % 3 == 0)
                    gpx_arb_renew_or_release(&h);
                gpx_arb_leave(&h);
                if (rand() % 10 == 0)
                    _exit(0); /* leave without ceremony now and then */
            }
            _exit(0);
        }
    }
    for (int i = 0; i < 50; i++) {
        int st;
        waitpid(pids[i], &st, 0);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    /* Everyone gone: the arbiter is empty and free. */
    struct gpx_arb_handle h;
    assert_int_equal(gpx_arb_join(a, "last", 1, 0, getpid(), &h, NULL), 0);
    uint64_t t0 = gpx_arb_now_ns();
    gpx_arb_acquire(&h);
    assert_true(gpx_arb_now_ns() - t0 < 5000000ULL);
    gpx_arb_leave(&h);
    assert_int_equal(atomic_load(&a->nwaiting), 0);
    assert_int_equal(atomic_load(&a->holder), -1);
    gpx_arb_close(a);
}

/* A stale file (garbage, or a previous boot's) is reset on open. */
static void test_stale_file(void **state)
{
    (void)state;
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("garbage", f);
    fclose(f);
    struct gpx_arb *a;
    assert_int_equal(gpx_arb_open(path, 0, &a, NULL), 0);
    assert_int_equal(a->magic, GPX_ARB_MAGIC);
    assert_int_equal(a->quantum_ns, GPX_ARB_DEFAULT_QUANTUM_NS);
    /* a holder slot pointing at a dead process is reclaimed on the next acquire */
    struct gpx_arb_handle h;
    assert_int_equal(gpx_arb_join(a, "x", 1, 0, getpid(), &h, NULL), 0);
    a->procs[5].pid = 999999999; /* no such process */
    a->procs[5].lease = a->procs[h.slot].lease;
    a->leases[a->procs[h.slot].lease].procs++;
    a->leases[a->procs[h.slot].lease].active++;
    atomic_store(&a->holder, 5);
    atomic_store(&a->holder_deadline_ns, gpx_arb_now_ns() + 1000000000ULL);
    uint64_t t0 = gpx_arb_now_ns();
    gpx_arb_acquire(&h);
    assert_true(gpx_arb_now_ns() - t0 < 100000000ULL);
    gpx_arb_leave(&h);
    gpx_arb_close(a);
}

/* A process dies holding the arbiter's lock half way through a change: the next
 * locker repairs the derived state (robust mutex + rebuild) and goes on. */
static void test_dead_lock_holder(void **state)
{
    (void)state;
    struct gpx_arb *a;
    assert_int_equal(gpx_arb_open(path, 0, &a, NULL), 0);
    struct gpx_arb_handle me;
    assert_int_equal(gpx_arb_join(a, "survivor", 1, 0, getpid(), &me, NULL), 0);
    pid_t child = fork();
    if (child == 0) {
        pthread_mutex_lock(&a->lock);
        atomic_store(&a->nwaiting, 7); /* half-made changes */
        atomic_store(&a->holder, 3);   /* a slot nobody holds */
        _exit(0);                      /* dies with the lock */
    }
    waitpid(child, NULL, 0);
    uint64_t t0 = gpx_arb_now_ns();
    gpx_arb_acquire(&me);
    assert_true(gpx_arb_now_ns() - t0 < 100000000ULL);
    assert_true(gpx_arb_holding(&me));
    assert_int_equal(atomic_load(&a->nwaiting), 0);
    gpx_arb_leave(&me);
    assert_int_equal(atomic_load(&a->holder), -1);
    gpx_arb_close(a);
}

/*
 * A lease that ran, then idled while a new lease joined, and comes back owes
 * the newcomer nothing: the newcomer starts where the virtual clock stood, not
 * at 0, so at the newcomer's next deadline the turn passes to the returning
 * lease (before the fix the newcomer kept the GPU until it had run as long as
 * the other had before idling).
 */
static void test_rejoin_after_idle(void **state)
{
    (void)state;
    struct gpx_arb *a;
    assert_int_equal(gpx_arb_open(path, 0, &a, NULL), 0);
    struct gpx_arb_handle old, fresh;
    assert_int_equal(gpx_arb_join(a, "old", 1, 0, getpid(), &old, NULL), 0);
    gpx_arb_acquire(&old);
    sleep_until(gpx_arb_now_ns() + 3 * a->quantum_ns); /* runs alone for 3 quanta */
    gpx_arb_leave(&old);                               /* and idles; its figures stay */
    assert_int_equal(gpx_arb_join(a, "fresh", 1, 0, getpid(), &fresh, NULL), 0);
    gpx_arb_acquire(&fresh);
    pid_t child = fork();
    if (child == 0) { /* "old" comes back and waits for the turn */
        struct gpx_arb *ca;
        struct gpx_arb_handle h;
        if (gpx_arb_open(path, 0, &ca, NULL) < 0 ||
            gpx_arb_join(ca, "old", 1, 0, getpid(), &h, NULL) < 0)
            _exit(3);
        gpx_arb_acquire(&h);
        gpx_arb_leave(&h);
        _exit(0);
    }
    uint64_t t0 = gpx_arb_now_ns();
    while (atomic_load(&a->nwaiting) == 0 && gpx_arb_now_ns() - t0 < 5000000000ULL)
        sleep_until(gpx_arb_now_ns() + 1000000);
    assert_int_equal(atomic_load(&a->nwaiting), 1);
    /* "fresh" has run for a moment; "old" is owed the GPU as much as it is */
    uint64_t renewed = gpx_arb_renew_or_release(&fresh);
    gpx_arb_leave(&fresh);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(renewed, 0);
    gpx_arb_close(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_weights_1_3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_equal_4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crashed_holder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hung_holder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_churn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_lock_holder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejoin_after_idle, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
