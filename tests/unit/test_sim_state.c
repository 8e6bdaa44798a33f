/* Simulator state file: create/open round trip, validation, process slots, engine, utilization. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "state.h"

static char path[256];

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/gpx-unit-sim-%d.state", (int)getpid());
    struct gpx_sim_spec spec;
    gpx_error e = {0};
    if (gpx_sim_spec_parse("2xH100-80GB,1xA100-40GB", &spec, &e) < 0)
        return -1;
    return gpx_sim_create(path, &spec, &e);
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

static void test_round_trip(void **state)
{
    (void)state;
    struct gpx_sim_state st;
    gpx_error e = {0};
    assert_int_equal(gpx_sim_open(path, &st, &e), 0);
    assert_int_equal(st.hdr->gpu_count, 3);
    assert_string_equal(st.gpus[0].name, "NVIDIA H100 80GB HBM3");
    assert_int_equal(st.gpus[0].memory_total, 81559ULL << 20);
    assert_int_equal(st.gpus[2].sm_count, 108);
    assert_string_not_equal(st.gpus[0].uuid, st.gpus[1].uuid);
    assert_string_equal(st.gpus[0].pci_bus_id, "00000000:18:00.0");
    gpx_sim_close(&st);
}

static void write_at(const char *p, long off, const void *data, size_t n)
{
    FILE *f = fopen(p, "r+b");
    assert_non_null(f);
    fseek(f, off, SEEK_SET);
    fwrite(data, 1, n, f);
    fclose(f);
}

static void test_validation(void **state)
{
    (void)state;
    struct gpx_sim_state st;
    gpx_error e = {0};
    char bad[300];
    snprintf(bad, sizeof bad, "%s.bad", path);

    assert_int_equal(gpx_sim_open("/nonexistent/x", &st, &e), -1);
    assert_int_equal(e.code, GPX_E_NOT_FOUND);

    /* truncated */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "head -c 1000 %s > %s", path, bad);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(gpx_sim_open(bad, &st, &e), -1);
    assert_int_equal(e.code, GPX_E_STATE);

    /* wrong version */
    snprintf(cmd, sizeof cmd, "cp %s %s", path, bad);
    assert_int_equal(system(cmd), 0);
    uint32_t v = 7;
    write_at(bad, offsetof(struct gpx_sim_header, version), &v, sizeof v);
    assert_int_equal(gpx_sim_open(bad, &st, &e), -1);
    assert_int_equal(e.code, GPX_E_STATE);
    assert_non_null(strstr(e.msg, "version 7"));

    /* a GPU record with an impossible model */
    assert_int_equal(system(cmd), 0);
    uint32_t model = 99;
    write_at(bad, (long)(sizeof(struct gpx_sim_header) + offsetof(struct gpx_sim_gpu, model)),
             &model, sizeof model);
    assert_int_equal(gpx_sim_open(bad, &st, &e), -1);
    assert_non_null(strstr(e.msg, "GPU 0"));
    unlink(bad);
}

static void test_proc_slots(void **state)
{
    (void)state;
    struct gpx_sim_state st;
    gpx_error e = {0};
    assert_int_equal(gpx_sim_open(path, &st, &e), 0);
    struct gpx_sim_proc *me = gpx_sim_proc_attach(&st, 0, getpid());
    assert_non_null(me);
    assert_ptr_equal(gpx_sim_proc_attach(&st, 0, getpid()), me);

    /* A child takes a slot with memory and dies: the next reap returns its memory. */
    pid_t child = fork();
    if (child == 0) {
        struct gpx_sim_state cs;
        if (gpx_sim_open(path, &cs, NULL) < 0)
            _exit(1);
        struct gpx_sim_proc *p = gpx_sim_proc_attach(&cs, 0, getpid());
        atomic_fetch_add(&p->used_bytes, 1 << 20);
        atomic_fetch_add(&cs.gpus[0].memory_used, 1 << 20);
        _exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(atomic_load(&st.gpus[0].memory_used), 1 << 20);
    gpx_sim_reap(&st, 0);
    assert_int_equal(atomic_load(&st.gpus[0].memory_used), 0);
    gpx_sim_close(&st);
}

static void test_engine_and_util(void **state)
{
    (void)state;
    struct gpx_sim_state st;
    gpx_error e = {0};
    assert_int_equal(gpx_sim_open(path, &st, &e), 0);
    uint64_t t0 = gpx_sim_now_ns();
    uint64_t end1 = gpx_sim_engine_submit(&st, 1, 100000000); /* 100 ms */
    uint64_t end2 = gpx_sim_engine_submit(&st, 1, 100000000);
    assert_true(end1 >= t0 + 100000000);
    assert_int_equal(end2, end1 + 100000000); /* one engine: the second queues */
    assert_int_equal(atomic_load(&st.gpus[1].kernels_total), 2);
    /* 200 ms of work queued into the last second: utilization counts what has elapsed */
    usleep(250000);
    unsigned u = gpx_sim_util_percent(st.gpus[1].util, gpx_sim_now_ns());
    assert_true(u >= 15 && u <= 30);
    assert_int_equal(gpx_sim_util_percent(st.gpus[0].util, gpx_sim_now_ns()), 0);
    gpx_sim_close(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_proc_slots),
        cmocka_unit_test(test_engine_and_util),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
