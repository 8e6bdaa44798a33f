/*
 * Turn keeping against the simulator's shared engine: tenant processes submit
 * kernels of T ns as fast as they can through gpx_turn_enter/exit; a drain
 * waits for the process's queued kernels (virtual time). Checks weighted
 * shares of GPU time, that arbitration keeps the engine busy (aggregate), and
 * that the usage region's figures move.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shm/turn.h"
#include "state.h"

static char dir[256], sim_path[300];

static _Atomic uint64_t my_tail;

static void drain_sim(void *ctx)
{
    (void)ctx;
    uint64_t t = atomic_load(&my_tail), now = gpx_sim_now_ns();
    if (t > now) {
        struct timespec ts = {(time_t)((t - now) / 1000000000ULL),
                              (long)((t - now) % 1000000000ULL)};
        nanosleep(&ts, NULL);
    }
}

struct result {
    uint64_t kernels[4];
    uint64_t granted[4];
};

static void tenant(int i, uint32_t weight, uint64_t kernel_ns, uint64_t run_ns, struct result *res)
{
    struct gpx_sim_state st;
    if (gpx_sim_open(sim_path, &st, NULL) < 0)
        _exit(3);
    static struct gpx_turn t;
    char id[16];
    snprintf(id, sizeof id, "lease%d", i);
    static struct gpx_lease_usage usage;
    if (gpx_turn_start(&t, dir, st.gpus[0].uuid, id, weight, 0, &usage, drain_sim, NULL, NULL) < 0)
        _exit(4);
    uint64_t end = gpx_sim_now_ns() + run_ns, n = 0;
    while (gpx_sim_now_ns() < end) {
        gpx_turn_enter(&t);
        /* stream order: after this process's previous kernel */
        uint64_t now = gpx_sim_now_ns(), tail = atomic_load(&my_tail);
        (void)now;
        uint64_t e = gpx_sim_engine_submit(&st, 0, kernel_ns);
        if (e < tail + kernel_ns)
            e = tail + kernel_ns;
        atomic_store(&my_tail, e);
        gpx_turn_exit(&t);
        n++;
    }
    gpx_turn_stop(&t);
    /* count only kernels that ran inside the window */
    res->kernels[i] = n;
    res->granted[i] = atomic_load(&usage.gpu_ns_granted);
    _exit(0);
}

static void run(int n, const uint32_t *w, uint64_t kernel_ns, uint64_t run_ns, struct result *res)
{
    pid_t pids[4];
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        if (pids[i] == 0)
            tenant(i, w[i], kernel_ns, run_ns, res);
    }
    for (int i = 0; i < n; i++) {
        int status;
        waitpid(pids[i], &status, 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/gpx-unit-turn-%d", (int)getpid());
    mkdir(dir, 0755);
    snprintf(sim_path, sizeof sim_path, "%s/node.sim", dir);
    struct gpx_sim_spec spec;
    if (gpx_sim_spec_parse("1xH100-80GB", &spec, NULL) < 0)
        return -1;
    return gpx_sim_create(sim_path, &spec, NULL);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_weighted_shares(void **state)
{
    (void)state;
    struct result *res =
        mmap(NULL, sizeof *res, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    memset(res, 0, sizeof *res);
    uint32_t w[2] = {1, 3};
    uint64_t kernel_ns = 200000, run_ns = 2000000000ULL;
    run(2, w, kernel_ns, run_ns, res);
    double k0 = (double)res->kernels[0], k1 = (double)res->kernels[1];
    double share0 = k0 / (k0 + k1);
    double busy = (k0 + k1) * (double)kernel_ns / (double)run_ns;
    print_message("1:3 kernels %llu %llu share %.3f, engine busy %.3f, granted %.3f s %.3f s\n",
                  (unsigned long long)res->kernels[0], (unsigned long long)res->kernels[1], share0,
                  busy, res->granted[0] / 1e9, res->granted[1] / 1e9);
    assert_true(share0 > 0.20 && share0 < 0.30);
    assert_true(busy > 0.85);
    assert_true(res->granted[0] > 0 && res->granted[1] > res->granted[0]);
    munmap(res, sizeof *res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_weighted_shares, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
