/* Container records of leases made for containers (src/shm/container_rec.h). */
#define _GNU_SOURCE
#include "shm/container_rec.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[] = "/tmp/gpx-ctr-XXXXXX";
#define LEASE "l-0123456789ab"

/* A pid that was alive and is not any more (reaped). */
static int dead_pid(void)
{
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    waitpid(p, NULL, 0);
    return (int)p;
}

static void test_count(void **state)
{
    (void)state;
    gpx_error err = {0};
    assert_int_equal(gpx_ctr_alive(dir, LEASE), -1); /* never attached */
    assert_int_equal(gpx_ctr_attach(dir, LEASE, "c1", (int32_t)getpid(), &err), 0);
    assert_int_equal(gpx_ctr_attach(dir, LEASE, "c2", dead_pid(), &err), 0);
    assert_int_equal(gpx_ctr_alive(dir, LEASE), 1); /* c1 runs, c2's pid is gone */
    assert_int_equal(gpx_ctr_detach(dir, LEASE, "c1", &err), 0);
    assert_int_equal(gpx_ctr_alive(dir, LEASE), 0); /* recorded, none running: reconcile */
    assert_int_equal(gpx_ctr_detach(dir, LEASE, "c1", &err), 0); /* twice: fine */
    assert_int_equal(gpx_ctr_detach(dir, LEASE, "c2", &err), 0);
    assert_int_equal(gpx_ctr_alive(dir, LEASE), -1); /* all detached: no record */
    assert_int_equal(gpx_ctr_attach(dir, LEASE, "c3", (int32_t)getpid(), &err), 0);
    gpx_ctr_forget(dir, LEASE);
    assert_int_equal(gpx_ctr_alive(dir, LEASE), -1);
    char p[256];
    snprintf(p, sizeof p, "%s/containers/%s", dir, LEASE);
    struct stat st;
    assert_int_equal(stat(p, &st), -1); /* the lease's directory went too */
}

/* A reused pid (another start time) is not the container. */
static void test_reused_pid(void **state)
{
    (void)state;
    gpx_error err = {0};
    char p[256];
    assert_int_equal(gpx_ctr_attach(dir, LEASE, "c1", (int32_t)getpid(), &err), 0);
    snprintf(p, sizeof p, "%s/containers/%s/c1", dir, LEASE);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "%d 1\n", (int)getpid()); /* our pid, started at another time */
    fclose(f);
    assert_int_equal(gpx_ctr_alive(dir, LEASE), 0);
    gpx_ctr_forget(dir, LEASE);
}

static void test_refused(void **state)
{
    (void)state;
    gpx_error err = {0};
    assert_int_equal(gpx_ctr_attach(dir, LEASE, "../x", 1, &err), -1);
    assert_non_null(strstr(err.msg, "invalid container id"));
    assert_int_equal(gpx_ctr_attach(dir, LEASE, ".hidden", 1, &err), -1);
    assert_int_equal(gpx_ctr_attach(dir, "../../etc", "c1", 1, &err), -1);
    assert_int_equal(gpx_ctr_attach(dir, LEASE, "c1", 0, &err), -1); /* no pid in the state */
    assert_non_null(strstr(err.msg, "no pid"));
    assert_int_equal(gpx_ctr_detach(dir, LEASE, "a/b", &err), -1);
    assert_int_equal(gpx_ctr_alive(dir, LEASE), -1);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count),
        cmocka_unit_test(test_reused_pid),
        cmocka_unit_test(test_refused),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
