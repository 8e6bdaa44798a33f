/* Placement and admission (src/core/placement.c): feasibility, binpack vs spread, messages. */
#include "core/placement.h"
#include "shm/lease.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define GIB (1ULL << 30)

static void node(struct gpx_place_gpu *g, unsigned n, uint64_t mem)
{
    memset(g, 0, n * sizeof *g);
    for (unsigned i = 0; i < n; i++) {
        g[i].index = i;
        g[i].memory_total = mem;
        g[i].allowed = 1;
    }
}

static void test_binpack_and_spread(void **state)
{
    (void)state;
    struct gpx_place_gpu g[3];
    node(g, 3, 80 * GIB);
    g[1].leases = 1;
    g[1].quota_sum = 40 * GIB;
    g[2].leases = 1;
    g[2].quota_sum = 70 * GIB;
    struct gpx_place_req r = {.mode = GPX_MODE_VGPU, .gpu = -1, .memory = 8 * GIB};
    unsigned at;
    gpx_error e = {0};
    assert_int_equal(gpx_place(g, 3, &r, GPX_PLACE_BINPACK, 1.0, &at, &e), 0);
    assert_int_equal(at, 2); /* fullest that still fits */
    assert_int_equal(gpx_place(g, 3, &r, GPX_PLACE_SPREAD, 1.0, &at, &e), 0);
    assert_int_equal(at, 0); /* emptiest */
    r.memory = 20 * GIB;     /* no longer fits GPU 2 */
    assert_int_equal(gpx_place(g, 3, &r, GPX_PLACE_BINPACK, 1.0, &at, &e), 0);
    assert_int_equal(at, 1);
    /* ties: binpack prefers the GPU with more leases, then the lower index */
    node(g, 2, 80 * GIB);
    r = (struct gpx_place_req){.mode = GPX_MODE_TIMESLICE, .gpu = -1, .memory = 0};
    g[1].leases = 2;
    assert_int_equal(gpx_place(g, 2, &r, GPX_PLACE_BINPACK, 1.0, &at, &e), 0);
    assert_int_equal(at, 1);
    assert_int_equal(gpx_place(g, 2, &r, GPX_PLACE_SPREAD, 1.0, &at, &e), 0);
    assert_int_equal(at, 0);
}

static void test_exclusive(void **state)
{
    (void)state;
    struct gpx_place_gpu g[2];
    node(g, 2, 80 * GIB);
    g[0].leases = 1;
    g[0].quota_sum = GIB;
    struct gpx_place_req r = {.mode = GPX_MODE_EXCLUSIVE, .gpu = -1};
    unsigned at;
    gpx_error e = {0};
    assert_int_equal(gpx_place(g, 2, &r, GPX_PLACE_BINPACK, 1.0, &at, &e), 0);
    assert_int_equal(at, 1);
    g[1].leases = 1;
    g[1].exclusive = 1;
    assert_int_equal(gpx_place(g, 2, &r, GPX_PLACE_BINPACK, 1.0, &at, &e), -1);
    assert_int_equal(e.code, GPX_E_BUSY); /* exit 6 on every path */
    assert_non_null(strstr(e.msg, "no idle GPU"));
    /* an exclusive GPU takes nothing else */
    struct gpx_place_req v = {.mode = GPX_MODE_VGPU, .gpu = 1, .memory = GIB};
    assert_int_equal(gpx_place(g, 2, &v, GPX_PLACE_BINPACK, 1.0, &at, &e), -1);
    assert_non_null(strstr(e.msg, "held by an exclusive lease"));
    r.gpu = 0;
    assert_int_equal(gpx_place(g, 2, &r, GPX_PLACE_BINPACK, 1.0, &at, &e), -1);
    assert_non_null(strstr(e.msg, "GPU 0 has 1 lease"));
}

static void test_quota_sum_and_oversubscription(void **state)
{
    (void)state;
    struct gpx_place_gpu g[1];
    node(g, 1, 80 * GIB);
    g[0].leases = 2;
    g[0].quota_sum = 76 * GIB;
    struct gpx_place_req r = {.mode = GPX_MODE_VGPU, .gpu = -1, .memory = 8 * GIB};
    unsigned at;
    gpx_error e = {0};
    assert_int_equal(gpx_place(g, 1, &r, GPX_PLACE_BINPACK, 1.0, &at, &e), -1);
    assert_int_equal(e.code, GPX_E_NO_SPACE);
    assert_non_null(strstr(e.msg, "the largest that fits is 4.0 GiB"));
    assert_int_equal(gpx_place(g, 1, &r, GPX_PLACE_BINPACK, 1.5, &at, &e), 0);
    r.memory = 4 * GIB; /* exactly fits */
    assert_int_equal(gpx_place(g, 1, &r, GPX_PLACE_BINPACK, 1.0, &at, &e), 0);
    assert_int_equal(gpx_place_free_quota(&g[0], 1.0), 4 * GIB);
}

static void test_mig_and_bad_gpu(void **state)
{
    (void)state;
    struct gpx_place_gpu g[2];
    node(g, 2, 80 * GIB);
    struct gpx_place_req r = {.mode = GPX_MODE_MIG, .gpu = -1};
    unsigned at;
    gpx_error e = {0};
    assert_int_equal(gpx_place(g, 2, &r, GPX_PLACE_BINPACK, 1.0, &at, &e), -1);
    assert_non_null(strstr(e.msg, "needs a MIG-enabled GPU"));
    g[1].mig_enabled = 1;
    assert_int_equal(gpx_place(g, 2, &r, GPX_PLACE_BINPACK, 1.0, &at, &e), 0);
    assert_int_equal(at, 1);
    /* a MIG-mode GPU takes no shared leases */
    struct gpx_place_req v = {.mode = GPX_MODE_VGPU, .gpu = 1, .memory = GIB};
    assert_int_equal(gpx_place(g, 2, &v, GPX_PLACE_BINPACK, 1.0, &at, &e), -1);
    v.gpu = 7;
    assert_int_equal(gpx_place(g, 2, &v, GPX_PLACE_BINPACK, 1.0, &at, &e), -1);
    assert_int_equal(e.code, GPX_E_NOT_FOUND); /* exit 5 on every path */
    assert_int_equal(gpx_place(g, 0, &v, GPX_PLACE_BINPACK, 1.0, &at, &e), -1);
    assert_int_equal(e.code, GPX_E_NO_GPU);
}

static void test_mig_choice(void **state)
{
    (void)state;
    struct gpx_place_mig g[3] = {
        {.index = 0, .fits = 1, .allowed = 1, .destroys = 1, .free_slices = 3, .leases = 2},
        {.index = 1, .fits = 1, .allowed = 1, .destroys = 0, .free_slices = 4, .leases = 1},
        {.index = 2, .fits = 1, .allowed = 1, .destroys = 0, .free_slices = 0, .leases = 3},
    };
    unsigned at;
    int blocked;
    /* no destroying beats filling; then binpack fills the fuller GPU, spread the emptier */
    assert_int_equal(gpx_place_mig(g, 3, GPX_PLACE_BINPACK, &at, &blocked), 0);
    assert_int_equal(at, 2);
    assert_int_equal(gpx_place_mig(g, 3, GPX_PLACE_SPREAD, &at, &blocked), 0);
    assert_int_equal(at, 1);
    /* a free instance to reuse beats everything */
    g[0].reuse = 1;
    assert_int_equal(gpx_place_mig(g, 3, GPX_PLACE_SPREAD, &at, &blocked), 0);
    assert_int_equal(at, 0);
    /* ties: leases, then the lower index */
    struct gpx_place_mig t[2] = {{.index = 4, .fits = 1, .allowed = 1, .leases = 1},
                                 {.index = 3, .fits = 1, .allowed = 1, .leases = 1}};
    assert_int_equal(gpx_place_mig(t, 2, GPX_PLACE_BINPACK, &at, &blocked), 0);
    assert_int_equal(at, 1);
    t[0].leases = 2;
    assert_int_equal(gpx_place_mig(t, 2, GPX_PLACE_BINPACK, &at, &blocked), 0);
    assert_int_equal(at, 0);
    /* nothing fits; something fits but the tenant may not have it */
    for (unsigned i = 0; i < 3; i++)
        g[i].fits = 0;
    assert_int_equal(gpx_place_mig(g, 3, GPX_PLACE_BINPACK, &at, &blocked), -1);
    assert_false(blocked);
    g[1].fits = 1;
    g[1].allowed = 0;
    assert_int_equal(gpx_place_mig(g, 3, GPX_PLACE_BINPACK, &at, &blocked), -1);
    assert_true(blocked);
}

static void test_tenant_allowed(void **state)
{
    (void)state;
    struct gpx_place_gpu g[2];
    node(g, 2, 80 * GIB);
    g[0].allowed = 0;
    g[0].leases = 1;
    g[0].quota_sum = 79 * GIB;
    g[1].allowed = 0;
    struct gpx_place_req r = {.mode = GPX_MODE_VGPU, .gpu = -1, .memory = 8 * GIB};
    unsigned at;
    gpx_error e = {0};
    assert_int_equal(gpx_place(g, 2, &r, GPX_PLACE_BINPACK, 1.0, &at, &e), -1);
    assert_non_null(strstr(e.msg, "max_gpus"));
    g[1].allowed = 1;
    assert_int_equal(gpx_place(g, 2, &r, GPX_PLACE_BINPACK, 1.0, &at, &e), 0);
    assert_int_equal(at, 1);
    assert_int_equal(gpx_place_policy_parse("spread"), GPX_PLACE_SPREAD);
    assert_int_equal(gpx_place_policy_parse("pack"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binpack_and_spread),
        cmocka_unit_test(test_exclusive),
        cmocka_unit_test(test_quota_sum_and_oversubscription),
        cmocka_unit_test(test_mig_and_bad_gpu),
        cmocka_unit_test(test_mig_choice),
        cmocka_unit_test(test_tenant_allowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
