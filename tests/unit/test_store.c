/* The daemon's SQLite store (src/daemon/store.c): migrations, leases, tenants, samples. */
#include "engine/store.h"
#include "shm/lease.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

static char dir[] = "/tmp/gpx-store-XXXXXX";
static char db[64];

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(db, sizeof db, "%s/t.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int count(const struct gpx_lease_rec *l, void *arg)
{
    (void)l;
    (*(int *)arg)++;
    return 0;
}

static void test_leases(void **state)
{
    (void)state;
    struct gpx_store *st;
    gpx_error e = {0};
    assert_int_equal(gpx_store_open(db, &st, &e), 0);
    assert_int_equal(gpx_store_schema_version(st), gpx_store_schema_latest());
    struct gpx_lease_rec l;
    memset(&l, 0, sizeof l);
    snprintf(l.id, sizeof l.id, "l-000000000001");
    snprintf(l.tenant, sizeof l.tenant, "a");
    snprintf(l.labels, sizeof l.labels, "{}");
    l.mode = GPX_MODE_VGPU;
    l.memory_quota = 1 << 30;
    l.n_owners = 2;
    l.owners[0].pid = 10;
    l.owners[0].start_ticks = 99;
    l.owners[1].pid = 11;
    l.created_ns = 1000;
    l.uid = 4242;
    l.state = GPX_LS_PENDING;
    assert_int_equal(gpx_store_lease_insert(st, &l, &e), 0);
    assert_int_equal(gpx_store_lease_insert(st, &l, &e), -1);
    assert_int_equal(e.code, GPX_E_EXISTS);
    l.state = GPX_LS_ACTIVE;
    assert_int_equal(gpx_store_lease_update(st, &l, &e), 0);
    struct gpx_lease_rec got;
    assert_int_equal(gpx_store_lease_get(st, l.id, &got, &e), 0);
    assert_int_equal(got.state, GPX_LS_ACTIVE);
    assert_int_equal(got.n_owners, 2);
    assert_int_equal(got.owners[0].start_ticks, 99);
    assert_int_equal(got.memory_quota, 1 << 30);
    assert_int_equal(got.uid, 4242); /* whose region it is survives a restart */
    /* a mig lease: the pending row journals the placement, the active one the instance */
    struct gpx_lease_rec m = l;
    snprintf(m.id, sizeof m.id, "l-000000000002");
    m.mode = GPX_MODE_MIG;
    m.state = GPX_LS_PENDING;
    snprintf(m.mig_profile, sizeof m.mig_profile, "3g.40gb");
    m.mig_start = 4;
    m.mig_created = 1;
    m.mig_gi = m.mig_ci = -1;
    assert_int_equal(gpx_store_lease_insert(st, &m, &e), 0);
    assert_int_equal(gpx_store_lease_get(st, m.id, &got, &e), 0);
    assert_int_equal(got.mig_start, 4);
    assert_int_equal(got.mig_created, 1);
    assert_int_equal(got.mig_gi, -1);
    m.state = GPX_LS_ACTIVE;
    m.mig_gi = 2;
    m.mig_ci = 0;
    snprintf(m.mig_uuid, sizeof m.mig_uuid, "MIG-0000");
    assert_int_equal(gpx_store_lease_update(st, &m, &e), 0);
    assert_int_equal(gpx_store_lease_get(st, m.id, &got, &e), 0);
    assert_int_equal(got.mig_gi, 2);
    assert_int_equal(got.mig_ci, 0);
    assert_string_equal(got.mig_uuid, "MIG-0000");
    assert_string_equal(got.mig_profile, "3g.40gb");
    m.state = GPX_LS_ABORTED;
    assert_int_equal(gpx_store_lease_update(st, &m, &e), 0);
    assert_int_equal(gpx_store_lease_get(st, "l-nope", &got, &e), -1);
    assert_int_equal(e.code, GPX_E_NOT_FOUND);
    int n = 0;
    assert_int_equal(gpx_store_lease_each(st, 1u << GPX_LS_ACTIVE, "a", 0, 0, count, &n, &e), 0);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(gpx_store_lease_each(st, 1u << GPX_LS_ACTIVE, "b", 0, 0, count, &n, &e), 0);
    assert_int_equal(n, 0);
    /* window: created at 1000, active: overlaps [500, 2000) but not [0, 900) */
    n = 0;
    assert_int_equal(gpx_store_lease_each(st, 1u << GPX_LS_ACTIVE, NULL, 500, 2000, count, &n, &e),
                     0);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(gpx_store_lease_each(st, 1u << GPX_LS_ACTIVE, NULL, 0, 900, count, &n, &e), 0);
    assert_int_equal(n, 0);
    /* a transaction that is rolled back leaves nothing */
    assert_int_equal(gpx_store_begin(st, 1, &e), 0);
    l.state = GPX_LS_RELEASED;
    assert_int_equal(gpx_store_lease_update(st, &l, &e), 0);
    gpx_store_rollback(st);
    assert_int_equal(gpx_store_lease_get(st, l.id, &got, &e), 0);
    assert_int_equal(got.state, GPX_LS_ACTIVE);

    struct gpx_sample s = {.lease_id = l.id,
                           .tenant = "a",
                           .ts_ns = 2000,
                           .dt_ns = 1000000000,
                           .gpu_ns = 5,
                           .used_bytes = 1 << 30,
                           .peak_bytes = 7};
    assert_int_equal(gpx_store_sample_insert(st, &s, &e), 0);
    gpx_store_close(st);

    /* reopening applies nothing new and keeps everything */
    assert_int_equal(gpx_store_open(db, &st, &e), 0);
    assert_int_equal(gpx_store_lease_get(st, l.id, &got, &e), 0);
    gpx_store_close(st);
}

static int tcount(const struct gpx_tenant *t, void *arg)
{
    (void)t;
    (*(int *)arg)++;
    return 0;
}

static void test_tenants_and_version(void **state)
{
    (void)state;
    struct gpx_store *st;
    gpx_error e = {0};
    assert_int_equal(gpx_store_open(db, &st, &e), 0);
    struct gpx_tenant t = {.name = "a", .token_sha256 = "00", .has_uid = 1, .uid = 5};
    assert_int_equal(gpx_store_tenant_insert(st, &t, &e), 0);
    assert_int_equal(gpx_store_tenant_insert(st, &t, &e), -1);
    assert_int_equal(e.code, GPX_E_EXISTS);
    struct gpx_tenant t2 = {.name = "b", .token_sha256 = "11", .has_uid = 1, .uid = 5};
    assert_int_equal(gpx_store_tenant_insert(st, &t2, &e), -1); /* uid is unique */
    assert_int_equal(gpx_store_tenant_set_token(st, "a", "22", &e), 0);
    assert_int_equal(gpx_store_tenant_set_token(st, "zz", "22", &e), -1);
    int n = 0;
    assert_int_equal(gpx_store_tenant_each(st, tcount, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_int_equal(gpx_store_tenant_delete(st, "a", &e), 0);
    assert_int_equal(gpx_store_tenant_delete(st, "a", &e), -1);
    gpx_store_close(st);

    /* a database from a newer daemon is refused */
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(raw, "INSERT INTO schema_migrations VALUES(99,'future',0)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(raw);
    assert_int_equal(gpx_store_open(db, &st, &e), -1);
    assert_int_equal(e.code, GPX_E_STATE);
    assert_non_null(strstr(e.msg, "newer"));
}

struct rows {
    char text[256];
    int n;
};

static int collect(const char *id, const char *tenant, const char *record, void *arg)
{
    struct rows *r = arg;
    size_t len = strlen(r->text);
    snprintf(r->text + len, sizeof r->text - len, "%s/%s/%s;", id, tenant, record);
    r->n++;
    return 0;
}

/* Managed containers' records (migration 5): put inserts, then replaces; they survive a reopen. */
static void test_containers(void **state)
{
    (void)state;
    struct gpx_store *st;
    gpx_error e = {0};
    char path[80]; /* a database of its own: test_tenants_and_version leaves one from the future */
    snprintf(path, sizeof path, "%s.containers", db);
    assert_int_equal(gpx_store_open(path, &st, &e), 0);
    assert_true(gpx_store_schema_latest() >= 5);
    assert_int_equal(gpx_store_container_put(st, "c-1", "a", "{\"v\":1}", &e), 0);
    assert_int_equal(gpx_store_container_put(st, "c-2", "b", "{}", &e), 0);
    assert_int_equal(gpx_store_container_put(st, "c-1", "a", "{\"v\":2}", &e), 0);
    gpx_store_close(st);
    assert_int_equal(gpx_store_open(path, &st, &e), 0);
    struct rows r = {"", 0};
    assert_int_equal(gpx_store_container_each(st, collect, &r, &e), 0);
    assert_string_equal(r.text, "c-1/a/{\"v\":2};c-2/b/{};");
    assert_int_equal(gpx_store_container_delete(st, "c-1", &e), 0);
    memset(&r, 0, sizeof r);
    assert_int_equal(gpx_store_container_each(st, collect, &r, &e), 0);
    assert_string_equal(r.text, "c-2/b/{};");
    gpx_store_close(st);
}

static int jrow(const char *lease, const char *path, const char *value, const char *undo, void *arg)
{
    struct rows *r = arg;
    size_t len = strlen(r->text);
    snprintf(r->text + len, sizeof r->text - len, "%s %s=%s/%s;", lease, path, value,
             undo ? undo : "-");
    r->n++;
    return 0;
}

static int hrow(const char *lease, const char *hold, void *arg)
{
    return collect(lease, "", hold, arg);
}

/* VM leases (migration 6): the sysfs journal in order, holds; and a version missing below
 * the highest applied (versions claimed by parallel work land out of order) is applied. */
static void test_vm_journal_and_gaps(void **state)
{
    (void)state;
    struct gpx_store *st;
    gpx_error e = {0};
    char path[80];
    snprintf(path, sizeof path, "%s.vm", db);
    assert_int_equal(gpx_store_open(path, &st, &e), 0);
    assert_int_equal(gpx_store_vm_journal_add(st, "l1", "a/driver_override", "vfio-pci", NULL, &e),
                     0);
    assert_int_equal(gpx_store_vm_journal_add(st, "l2", "b/current_vgpu_type", "7", "0", &e), 0);
    assert_int_equal(gpx_store_vm_journal_add(st, "l1", "drivers_probe", "a", NULL, &e), 0);
    struct rows r = {"", 0};
    assert_int_equal(gpx_store_vm_journal_each(st, jrow, &r, &e), 0);
    assert_string_equal(r.text, "l1 a/driver_override=vfio-pci/-;l2 b/current_vgpu_type=7/0;"
                                "l1 drivers_probe=a/-;");
    assert_int_equal(gpx_store_vm_hold_put(st, "l1", "0000:18:00.0", "{}", &e), 0);
    assert_int_equal(gpx_store_vm_journal_clear(st, "l1", &e), 0);
    memset(&r, 0, sizeof r);
    assert_int_equal(gpx_store_vm_journal_each(st, jrow, &r, &e), 0);
    assert_string_equal(r.text, "l2 b/current_vgpu_type=7/0;");
    memset(&r, 0, sizeof r);
    assert_int_equal(gpx_store_vm_hold_each(st, hrow, &r, &e), 0);
    assert_string_equal(r.text, "l1//{};");
    assert_int_equal(gpx_store_vm_hold_delete(st, "l1", &e), 0);
    gpx_store_close(st);

    /* version 6 gone (as if a database had 5 and a later one, but not 6): applied again */
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw,
                                  "DROP TABLE vm_journal; DROP TABLE vm_holds;"
                                  "DELETE FROM schema_migrations WHERE version=6",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);
    assert_int_equal(gpx_store_open(path, &st, &e), 0);
    assert_int_equal(gpx_store_vm_journal_add(st, "l3", "x", "y", NULL, &e), 0);
    gpx_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vm_journal_and_gaps),
        cmocka_unit_test(test_leases),
        cmocka_unit_test(test_tenants_and_version),
        cmocka_unit_test(test_containers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
