/*
 * The lease engine (src/engine) through its typed API (engine.h), on a
 * simulated node (sim/, "2xH100-80GB"), with no daemon and no sockets.
 *
 * Covers: admission (exclusive needs an idle GPU -> BUSY; shared quotas sum
 * within memory x oversubscription -> NO_SPACE; oversubscription 2.0 lets
 * twice as much in; unknown GPU index/UUID -> NOT_FOUND; binpack vs spread);
 * tenant quotas (max_memory, max_gpus; callers by uid and by token) and
 * visibility (a tenant sees and releases only its own leases); the journal
 * (active and released rows across a close and reopen, a stale 'pending' row
 * aborted at open with its region removed); each backend's region limits
 * (exclusive, vgpu quota+cap, timeslice weight) and mig leases (an instance
 * made by a MIG apply, reused after a release); observers; who owns the
 * state (a daemon engine vs a CLI open); and gpx_lease_spec_set/check with
 * both namings (CLI flags vs API fields).
 *
 * Why: the engine is the one place a lease is made, for gpuplexd and the
 * daemonless CLI alike; these are its promises, checked below both hosts.
 * Each test gets a fresh temp dir (mkdtemp) with its own simulated node,
 * state_dir and run_dir.
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "core/mig_catalog.h"
#include "engine/engine.h"
#include "engine/store.h"
#include "nvml/mig.h"
#include "shm/lease.h"
#include "sim_node.h"
#include "state.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define GIB        (1024ULL * 1024ULL * 1024ULL)
#define MIB        (1024ULL * 1024ULL)
#define INTERPOSER "/opt/gpuplex-test/lib/libgpuplex-cuda.so"

struct fx {
    char dir[64];
    char sim[128];
    char state[128];
    char run[128];
    char db[160];
    struct gpx_engine *e;
    struct gpx_caller admin;
    unsigned max_leases_per_tenant; /* the engine's default cap (0: none) */
    uint64_t total;                 /* memory of a GPU (both are the same model) */
    char uuid[2][96];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    if (sim_node_make("engine", "2xH100-80GB", f->dir, sizeof f->dir, f->sim, sizeof f->sim) < 0) {
        free(f);
        return -1;
    }
    snprintf(f->state, sizeof f->state, "%s/state", f->dir);
    snprintf(f->run, sizeof f->run, "%s/run", f->dir);
    snprintf(f->db, sizeof f->db, "%s/gpuplexd.db", f->state);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    gpx_engine_close(f->e);
    int rc = sim_node_remove(f->dir);
    free(f);
    return rc;
}

/* Opens f->e (closing any open one) and fills the admin caller and the GPUs' figures. */
static void open_engine(struct fx *f, int daemon, enum gpx_place_policy placement, double oversub)
{
    gpx_engine_close(f->e);
    f->e = NULL;
    struct gpx_engine_opts o = {
        .state_dir = f->state,
        .run_dir = f->run,
        .interposer = INTERPOSER,
        .placement = placement,
        .oversubscription = oversub,
        .grace_ms = 30000,
        .daemon = daemon,
        .max_leases_per_tenant = f->max_leases_per_tenant,
    };
    gpx_error err = {0};
    if (gpx_engine_open(&o, &f->e, &err) < 0)
        fail_msg("gpx_engine_open: %s", err.msg);
    /* uid 0 or the state's owner, with no tenant of that uid: the built-in admin */
    assert_int_equal(
        gpx_engine_authenticate(f->e, NULL, 1, 1, (uint32_t)geteuid(), getpid(), &f->admin, &err),
        0);
    assert_true(f->admin.admin);
    assert_string_equal(f->admin.tenant, GPX_BUILTIN_ADMIN);
    struct gpx_node n;
    assert_int_equal(gpx_engine_gpus(f->e, &f->admin, &n, &err), 0);
    assert_int_equal(n.count, 2);
    f->total = n.gpus[0].info.memory_total;
    assert_true(f->total > 64 * GIB);
    assert_int_equal(n.gpus[1].info.memory_total, f->total);
    for (unsigned i = 0; i < 2; i++)
        snprintf(f->uuid[i], sizeof f->uuid[i], "%s", n.gpus[i].info.uuid);
    assert_string_not_equal(f->uuid[0], f->uuid[1]);
    gpx_node_free(&n);
}

/*
 * Creates a lease from flag-like text (NULL = not given); returns the engine's
 * result with *err and *out filled.
 */
static int create(struct gpx_engine *e, const struct gpx_caller *c, const char *mode,
                  const char *gpu, const char *memory, const char *weight, const char *cap,
                  const char *profile, struct gpx_lease *out, gpx_error *err)
{
    struct gpx_lease_spec s;
    gpx_lease_spec_init(&s);
    const char *v[] = {mode, gpu, memory, weight, cap, profile};
    const enum gpx_field fields[] = {GPX_F_MODE,   GPX_F_GPU, GPX_F_MEMORY,
                                     GPX_F_WEIGHT, GPX_F_CAP, GPX_F_MIG_PROFILE};
    gpx_error_clear(err);
    int rc = 0;
    for (size_t i = 0; i < sizeof v / sizeof v[0] && rc == 0; i++)
        if (v[i])
            rc = gpx_lease_spec_set(&s, fields[i], v[i], GPX_NAMING_CLI, err);
    if (rc == 0)
        rc = gpx_lease_spec_check(&s, 0, GPX_NAMING_CLI, err);
    if (rc == 0)
        rc = gpx_engine_lease_create(e, c, &s, out, err);
    gpx_lease_spec_clear(&s);
    return rc;
}

/* "NNNM": a fraction of a GPU's memory as a size with a unit */
static const char *frac(const struct fx *f, unsigned pct, char *buf, size_t len)
{
    snprintf(buf, len, "%lluM", (unsigned long long)(f->total / MIB * pct / 100));
    return buf;
}

static void must_create(struct fx *f, const struct gpx_caller *c, const char *mode, const char *gpu,
                        const char *memory, struct gpx_lease *out)
{
    gpx_error err = {0};
    if (create(f->e, c, mode, gpu, memory, NULL, NULL, NULL, out, &err) < 0)
        fail_msg("creating a %s lease: %s", mode, err.msg);
    assert_int_equal(out->rec.state, GPX_LS_ACTIVE);
}

static void must_release(struct fx *f, const struct gpx_caller *c, const char *id)
{
    gpx_error err = {0};
    struct gpx_lease *l = malloc(sizeof *l);
    assert_non_null(l);
    if (gpx_engine_lease_release(f->e, c, id, l, &err) < 0)
        fail_msg("releasing %s: %s", id, err.msg);
    assert_int_equal(l->rec.state, GPX_LS_RELEASED);
    free(l);
}

static int file_exists(const char *dir, const char *id, const char *ext)
{
    char p[512];
    snprintf(p, sizeof p, "%s/leases/%s.%s", dir, id, ext);
    return access(p, F_OK) == 0;
}

/* Active leases the caller sees: how many, and whether `id` is among them. */
static unsigned list_active(struct fx *f, const struct gpx_caller *c, const char *id, int *has)
{
    struct gpx_lease *l = NULL;
    unsigned n = 0;
    gpx_error err = {0};
    struct gpx_lease_query q = {.state = -1};
    assert_int_equal(gpx_engine_lease_list(f->e, c, &q, &l, &n, &err), 0);
    if (has) {
        *has = 0;
        for (unsigned i = 0; i < n; i++)
            if (id && strcmp(l[i].rec.id, id) == 0)
                *has = 1;
    }
    free(l);
    return n;
}

/* --- admission ------------------------------------------------------------------------------ */

static void test_admission_exclusive(void **state)
{
    struct fx *f = *state;
    open_engine(f, 1, GPX_PLACE_BINPACK, 1.0);
    struct gpx_lease a, b, c;
    gpx_error err;
    must_create(f, &f->admin, "vgpu", "0", "8G", &a);
    assert_int_equal(a.rec.gpu_index, 0);

    /* a GPU with a lease is not idle: BUSY when named */
    assert_int_equal(create(f->e, &f->admin, "exclusive", "0", NULL, NULL, NULL, NULL, &b, &err),
                     -1);
    assert_int_equal(err.code, GPX_E_BUSY);
    assert_non_null(strstr(err.msg, "idle GPU"));

    /* unnamed: the idle one; the whole GPU's memory is the lease's */
    must_create(f, &f->admin, "exclusive", NULL, NULL, &b);
    assert_int_equal(b.rec.gpu_index, 1);
    assert_int_equal(b.rec.memory_quota, 0);
    assert_int_equal(b.rec.gpu_memory, f->total);

    /* no idle GPU left */
    assert_int_equal(create(f->e, &f->admin, "exclusive", NULL, NULL, NULL, NULL, NULL, &c, &err),
                     -1);
    assert_int_equal(err.code, GPX_E_BUSY);
    /* a shared lease on an exclusively held GPU: BUSY too */
    assert_int_equal(create(f->e, &f->admin, "vgpu", "1", "1G", NULL, NULL, NULL, &c, &err), -1);
    assert_int_equal(err.code, GPX_E_BUSY);
    assert_non_null(strstr(err.msg, "exclusive"));
    /* ...while GPU 0 still takes shared leases: with a quota, beside the vgpu lease's (one
     * without could use the memory promised to it) */
    assert_int_equal(create(f->e, &f->admin, "timeslice", NULL, NULL, NULL, NULL, NULL, &c, &err),
                     -1);
    assert_int_equal(err.code, GPX_E_NO_SPACE);
    assert_non_null(strstr(err.msg, "--memory"));
    must_create(f, &f->admin, "timeslice", NULL, "1G", &c);
    assert_int_equal(c.rec.gpu_index, 0);

    /* the GPU list says so */
    struct gpx_node n;
    assert_int_equal(gpx_engine_gpus(f->e, &f->admin, &n, &err), 0);
    assert_false(n.gpus[0].exclusive);
    assert_true(n.gpus[1].exclusive);
    assert_int_equal(n.gpus[0].n_leases, 2);
    assert_int_equal(n.gpus[1].n_leases, 1);
    assert_int_equal(n.gpus[0].quota_free, f->total - 9 * GIB);
    assert_int_equal(n.gpus[1].quota_free, 0);
    gpx_node_free(&n);

    /* released, GPU 1 is idle again */
    must_release(f, &f->admin, b.rec.id);
    must_create(f, &f->admin, "exclusive", "1", NULL, &b);
    assert_int_equal(gpx_engine_lease_count(f->e), 3);
}

static void test_admission_quota(void **state)
{
    struct fx *f = *state;
    open_engine(f, 1, GPX_PLACE_BINPACK, 1.0);
    struct gpx_lease a, b, c;
    gpx_error err;
    char m60[32], m30[32];
    frac(f, 60, m60, sizeof m60);
    frac(f, 30, m30, sizeof m30);
    must_create(f, &f->admin, "vgpu", "0", m60, &a);
    /* 60% + 60% > 100% of GPU 0 */
    assert_int_equal(create(f->e, &f->admin, "vgpu", "0", m60, NULL, NULL, NULL, &b, &err), -1);
    assert_int_equal(err.code, GPX_E_NO_SPACE);
    assert_non_null(strstr(err.msg, "GPU 0"));
    /* a timeslice lease with a quota counts the same */
    assert_int_equal(create(f->e, &f->admin, "timeslice", "0", m60, NULL, NULL, NULL, &b, &err),
                     -1);
    assert_int_equal(err.code, GPX_E_NO_SPACE);
    /* 60% + 30% fits */
    must_create(f, &f->admin, "timeslice", "0", m30, &b);
    assert_int_equal(b.rec.gpu_index, 0);
    /* unnamed, 60% goes where it fits */
    must_create(f, &f->admin, "vgpu", NULL, m60, &c);
    assert_int_equal(c.rec.gpu_index, 1);
    /* and then nowhere */
    assert_int_equal(create(f->e, &f->admin, "vgpu", NULL, m60, NULL, NULL, NULL, &c, &err), -1);
    assert_int_equal(err.code, GPX_E_NO_SPACE);
    assert_non_null(strstr(err.msg, "largest that fits"));
    /* an exclusive lease asked of a busy node is BUSY, never NO_SPACE */
    assert_int_equal(create(f->e, &f->admin, "exclusive", NULL, NULL, NULL, NULL, NULL, &c, &err),
                     -1);
    assert_int_equal(err.code, GPX_E_BUSY);
    /* released quota is free again */
    must_release(f, &f->admin, a.rec.id);
    must_create(f, &f->admin, "vgpu", "0", m60, &a);
}

static void test_admission_oversubscription(void **state)
{
    struct fx *f = *state;
    struct gpx_lease a, b, c;
    gpx_error err;
    char m70[32];
    /* 1.0: 70% + 70% of GPU 0 does not fit */
    open_engine(f, 1, GPX_PLACE_BINPACK, 1.0);
    frac(f, 70, m70, sizeof m70);
    must_create(f, &f->admin, "vgpu", "0", m70, &a);
    assert_int_equal(create(f->e, &f->admin, "vgpu", "0", m70, NULL, NULL, NULL, &b, &err), -1);
    assert_int_equal(err.code, GPX_E_NO_SPACE);

    /* 2.0 (same state, lease a still active): twice the memory in quotas */
    open_engine(f, 1, GPX_PLACE_BINPACK, 2.0);
    struct gpx_health h;
    gpx_engine_health(f->e, 1, &h);
    assert_true(h.oversubscription == 2.0);
    assert_int_equal(h.leases_active, 1);
    must_create(f, &f->admin, "vgpu", "0", m70, &b);
    assert_int_equal(b.rec.gpu_index, 0);
    /* 210% > 200% */
    assert_int_equal(create(f->e, &f->admin, "vgpu", "0", m70, NULL, NULL, NULL, &c, &err), -1);
    assert_int_equal(err.code, GPX_E_NO_SPACE);
    struct gpx_node n;
    assert_int_equal(gpx_engine_gpus(f->e, &f->admin, &n, &err), 0);
    uint64_t q = f->total / MIB * 70 / 100 * MIB;
    assert_int_equal(n.gpus[0].quota_free, 2 * f->total - 2 * q);
    assert_int_equal(n.gpus[1].quota_free, 2 * f->total);
    gpx_node_free(&n);
    /* an oversubscription below 1.0 is taken as 1.0 */
    open_engine(f, 1, GPX_PLACE_BINPACK, 0.5);
    gpx_engine_health(f->e, 1, &h);
    assert_true(h.oversubscription == 1.0);
}

static void test_unknown_gpu(void **state)
{
    struct fx *f = *state;
    open_engine(f, 1, GPX_PLACE_BINPACK, 1.0);
    struct gpx_lease l;
    gpx_error err;
    const char *modes[] = {"exclusive", "vgpu", "timeslice"};
    for (size_t i = 0; i < 3; i++) {
        const char *mem = strcmp(modes[i], "vgpu") == 0 ? "1G" : NULL;
        assert_int_equal(create(f->e, &f->admin, modes[i], "2", mem, NULL, NULL, NULL, &l, &err),
                         -1);
        assert_int_equal(err.code, GPX_E_NOT_FOUND);
        assert_int_equal(create(f->e, &f->admin, modes[i],
                                "GPU-00000000-dead-beef-0000-000000000000", mem, NULL, NULL, NULL,
                                &l, &err),
                         -1);
        assert_int_equal(err.code, GPX_E_NOT_FOUND);
        assert_non_null(strstr(err.msg, "GPU-00000000-dead-beef"));
    }
    /* a mig lease on a GPU that is not there */
    assert_int_equal(create(f->e, &f->admin, "mig", "7", NULL, NULL, NULL, "1g.10gb", &l, &err),
                     -1);
    assert_int_equal(err.code, GPX_E_NOT_FOUND);
    /* a UUID of this node, in any case, names its GPU */
    char up[96];
    snprintf(up, sizeof up, "%s", f->uuid[1]);
    for (char *p = up + 4; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    must_create(f, &f->admin, "vgpu", up, "1G", &l);
    assert_int_equal(l.rec.gpu_index, 1);
    assert_string_equal(l.rec.gpu_uuid, f->uuid[1]);
    /* MIG: a GPU by index or UUID, else NOT_FOUND */
    struct gpx_mig_view v;
    assert_int_equal(gpx_engine_mig_get(f->e, &f->admin, "9", &v, &err), -1);
    assert_int_equal(err.code, GPX_E_NOT_FOUND);
    assert_int_equal(gpx_engine_mig_get(f->e, &f->admin, "GPU-nope", &v, &err), -1);
    assert_int_equal(err.code, GPX_E_NOT_FOUND);
    assert_int_equal(gpx_engine_mig_get(f->e, &f->admin, f->uuid[0], &v, &err), 0);
    assert_int_equal(v.s->index, 0);
    gpx_mig_view_free(&v);
    struct gpx_mig_req r = {.enabled = 1};
    struct gpx_mig_applied ap;
    assert_int_equal(gpx_engine_mig_apply(f->e, "2", &r, &ap, &err), -1);
    assert_int_equal(err.code, GPX_E_NOT_FOUND);
    /* an invalid lease id is INVALID, an unknown one NOT_FOUND */
    assert_int_equal(gpx_engine_lease_get(f->e, &f->admin, "../etc", 0, &l, &err), -1);
    assert_int_equal(err.code, GPX_E_INVALID);
    assert_int_equal(gpx_engine_lease_get(f->e, &f->admin, "l-000000000000", 0, &l, &err), -1);
    assert_int_equal(err.code, GPX_E_NOT_FOUND);
    assert_int_equal(gpx_engine_lease_release(f->e, &f->admin, "l-000000000000", &l, &err), -1);
    assert_int_equal(err.code, GPX_E_NOT_FOUND);
}

static void test_placement(void **state)
{
    struct fx *f = *state;
    struct gpx_lease a, b, c;
    /* binpack fills a GPU before opening the next */
    open_engine(f, 1, GPX_PLACE_BINPACK, 1.0);
    must_create(f, &f->admin, "vgpu", NULL, "10G", &a);
    must_create(f, &f->admin, "vgpu", NULL, "10G", &b);
    must_create(f, &f->admin, "timeslice", NULL, "10G", &c);
    assert_int_equal(a.rec.gpu_index, 0);
    assert_int_equal(b.rec.gpu_index, 0);
    assert_int_equal(c.rec.gpu_index, 0);
    /* binpack: the GPU left with the least free quota; an exclusive lease takes the idle one */
    must_create(f, &f->admin, "exclusive", NULL, NULL, &c);
    assert_int_equal(c.rec.gpu_index, 1);
    must_release(f, &f->admin, a.rec.id);
    must_release(f, &f->admin, b.rec.id);
    must_release(f, &f->admin, c.rec.id);
    assert_int_equal(gpx_engine_lease_count(f->e), 1);

    /* spread: the GPU left with the most; GPU 0 holds 10G already */
    open_engine(f, 1, GPX_PLACE_SPREAD, 1.0);
    struct gpx_health h;
    gpx_engine_health(f->e, 1, &h);
    assert_string_equal(h.placement, "spread");
    must_create(f, &f->admin, "vgpu", NULL, "10G", &a);
    assert_int_equal(a.rec.gpu_index, 1); /* GPU 1 is left with more */
    /* equal free quota (10G held on each), equal leases: the lower index */
    must_create(f, &f->admin, "timeslice", NULL, "2G", &b);
    assert_int_equal(b.rec.gpu_index, 0);
    /* 12G held on GPU 0, 10G on GPU 1: the one left with more */
    must_create(f, &f->admin, "timeslice", NULL, "2G", &c);
    assert_int_equal(c.rec.gpu_index, 1);
    struct gpx_lease d;
    must_create(f, &f->admin, "vgpu", NULL, "4G", &d);
    assert_int_equal(d.rec.gpu_index, 0); /* tie again (12G, 2 leases each): the lower index */
    must_create(f, &f->admin, "vgpu", NULL, "8G", &d);
    assert_int_equal(d.rec.gpu_index, 1); /* 16G held on GPU 0, 12G on GPU 1 */
    must_create(f, &f->admin, "vgpu", NULL, "1G", &d);
    assert_int_equal(d.rec.gpu_index, 0); /* 16G vs 20G */
    /* equal free quota: the GPU with fewer leases */
    must_create(f, &f->admin, "vgpu", "0", "3G", &a); /* GPU 0: 20G in 5 leases, GPU 1: 20G in 3 */
    must_create(f, &f->admin, "vgpu", NULL, "1G", &d);
    assert_int_equal(d.rec.gpu_index, 1);
}

/* --- tenants -------------------------------------------------------------------------------- */

static void add_tenant(struct fx *f, const char *name, int has_uid, uint32_t uid, unsigned max_gpus,
                       uint64_t max_memory, char token[72])
{
    struct gpx_tenant_req r;
    memset(&r, 0, sizeof r);
    snprintf(r.name, sizeof r.name, "%s", name);
    r.has_uid = has_uid;
    r.uid = uid;
    r.max_gpus = max_gpus;
    r.max_memory = max_memory;
    struct gpx_tenant t;
    gpx_error err = {0};
    if (gpx_engine_tenant_add(f->e, &r, &t, token, &err) < 0)
        fail_msg("adding tenant %s: %s", name, err.msg);
    assert_string_equal(t.name, name);
    assert_int_equal(strncmp(token, "gpx_", 4), 0);
    assert_int_equal(strlen(token), 68);
    assert_int_equal(strlen(t.token_sha256), 64);
}

static void by_token(struct fx *f, const char *token, struct gpx_caller *c)
{
    char auth[96];
    snprintf(auth, sizeof auth, "Bearer %s", token);
    gpx_error err = {0};
    if (gpx_engine_authenticate(f->e, auth, 0, 0, 0, 0, c, &err) < 0)
        fail_msg("token: %s", err.msg);
}

static void test_tenant_quotas(void **state)
{
    struct fx *f = *state;
    open_engine(f, 1, GPX_PLACE_BINPACK, 1.0);
    char tok_a[72], tok_b[72];
    add_tenant(f, "alice", 1, 54321, 0, 8 * GIB, tok_a);
    add_tenant(f, "bob", 0, 0, 1, 0, tok_b);
    gpx_error err;
    struct gpx_caller alice, bob, x;

    /* alice by uid on the unix socket, bob by token over TCP */
    assert_int_equal(gpx_engine_authenticate(f->e, NULL, 1, 1, 54321, 77, &alice, &err), 0);
    assert_string_equal(alice.tenant, "alice");
    assert_false(alice.admin);
    assert_int_equal(alice.max_memory, 8 * GIB);
    assert_int_equal(alice.uid, 54321);
    by_token(f, tok_b, &bob);
    assert_string_equal(bob.tenant, "bob");
    assert_int_equal(bob.max_gpus, 1);
    assert_false(bob.via_unix);
    /* a token names alice whatever the transport; her uid comes with it */
    by_token(f, tok_a, &x);
    assert_string_equal(x.tenant, "alice");
    assert_int_equal(x.uid, 54321);

    /* who is not known is UNAUTH */
    assert_int_equal(gpx_engine_authenticate(f->e, "Bearer gpx_nope", 0, 0, 0, 0, &x, &err), -1);
    assert_int_equal(err.code, GPX_E_UNAUTH);
    assert_int_equal(gpx_engine_authenticate(f->e, "Basic abc", 1, 1, 0, 0, &x, &err), -1);
    assert_int_equal(err.code, GPX_E_UNAUTH);
    assert_int_equal(gpx_engine_authenticate(f->e, "Bearer ", 1, 1, 0, 0, &x, &err), -1);
    assert_int_equal(err.code, GPX_E_UNAUTH);
    assert_int_equal(gpx_engine_authenticate(f->e, NULL, 0, 0, 0, 0, &x, &err), -1);
    assert_int_equal(err.code, GPX_E_UNAUTH);
    if (geteuid() != 54322) {
        assert_int_equal(gpx_engine_authenticate(f->e, NULL, 1, 1, 54322, 0, &x, &err), -1);
        assert_int_equal(err.code, GPX_E_UNAUTH);
    }

    /* bob: one GPU */
    struct gpx_lease b1, b2;
    must_create(f, &bob, "vgpu", "1", "1G", &b1);
    assert_int_equal(create(f->e, &bob, "vgpu", "0", "1G", NULL, NULL, NULL, &b2, &err), -1);
    assert_int_equal(err.code, GPX_E_NO_SPACE);
    assert_non_null(strstr(err.msg, "max_gpus"));
    /* unnamed, it goes to his GPU even where binpack would choose GPU 0 */
    must_create(f, &bob, "vgpu", NULL, "1G", &b2);
    assert_int_equal(b2.rec.gpu_index, 1);
    must_release(f, &bob, b2.rec.id);
    /* an exclusive lease would need a second GPU: GPU 0 is idle, but not his to take */
    assert_int_equal(create(f->e, &bob, "exclusive", NULL, NULL, NULL, NULL, NULL, &b2, &err), -1);
    assert_int_equal(err.code, GPX_E_NO_SPACE);
    assert_non_null(strstr(err.msg, "max_gpus"));

    /* alice: 8G of memory in all */
    struct gpx_lease a1, a2;
    must_create(f, &alice, "vgpu", NULL, "6G", &a1);
    assert_string_equal(a1.rec.tenant, "alice");
    assert_int_equal(a1.uid, 54321); /* the region's uid is the caller's */
    assert_int_equal(create(f->e, &alice, "vgpu", NULL, "4G", NULL, NULL, NULL, &a2, &err), -1);
    assert_int_equal(err.code, GPX_E_NO_SPACE);
    assert_non_null(strstr(err.msg, "max_memory"));
    /* an exclusive lease holds a whole GPU's memory (GPU 0 is idle) */
    assert_int_equal(create(f->e, &alice, "exclusive", NULL, NULL, NULL, NULL, NULL, &a2, &err),
                     -1);
    assert_int_equal(err.code, GPX_E_NO_SPACE);
    assert_non_null(strstr(err.msg, "max_memory"));
    must_create(f, &alice, "timeslice", NULL, "2G", &a2); /* 6G + 2G = 8G: at the limit */
    must_release(f, &alice, a1.rec.id);
    must_create(f, &alice, "vgpu", NULL, "6G", &a1);
    assert_int_equal(a1.rec.gpu_index, 1); /* binpack: next to the others */

    /* with no lease left bob may take any one GPU */
    must_release(f, &bob, b1.rec.id);
    must_create(f, &bob, "exclusive", NULL, NULL, &b2);
    assert_int_equal(b2.rec.gpu_index, 0);

    /* a new token replaces the old one */
    struct gpx_tenant t;
    char tok_b2[72];
    assert_int_equal(gpx_engine_tenant_new_token(f->e, "bob", &t, tok_b2, &err), 0);
    assert_string_not_equal(tok_b, tok_b2);
    char auth[96];
    snprintf(auth, sizeof auth, "Bearer %s", tok_b);
    assert_int_equal(gpx_engine_authenticate(f->e, auth, 0, 0, 0, 0, &x, &err), -1);
    assert_int_equal(err.code, GPX_E_UNAUTH);
    by_token(f, tok_b2, &x);
    assert_string_equal(x.tenant, "bob");
    assert_int_equal(gpx_engine_tenant_new_token(f->e, "nobody", &t, tok_b2, &err), -1);
    assert_int_equal(err.code, GPX_E_NOT_FOUND);
}

static void test_tenant_visibility(void **state)
{
    struct fx *f = *state;
    open_engine(f, 0, GPX_PLACE_BINPACK, 1.0);
    char tok_a[72], tok_b[72];
    add_tenant(f, "alice", 0, 0, 0, 0, tok_a);
    add_tenant(f, "bob", 0, 0, 0, 0, tok_b);
    struct gpx_caller alice, bob;
    by_token(f, tok_a, &alice);
    by_token(f, tok_b, &bob);
    gpx_error err;
    struct gpx_lease la, lb, l;
    must_create(f, &alice, "vgpu", NULL, "1G", &la);
    must_create(f, &bob, "vgpu", NULL, "1G", &lb);

    int has;
    assert_int_equal(list_active(f, &alice, la.rec.id, &has), 1);
    assert_true(has);
    assert_int_equal(list_active(f, &bob, la.rec.id, &has), 1);
    assert_false(has);
    assert_int_equal(list_active(f, &f->admin, la.rec.id, &has), 2);
    assert_true(has);
    /* another tenant's lease does not exist for bob */
    assert_int_equal(gpx_engine_lease_get(f->e, &bob, la.rec.id, 0, &l, &err), -1);
    assert_int_equal(err.code, GPX_E_NOT_FOUND);
    assert_int_equal(gpx_engine_lease_release(f->e, &bob, la.rec.id, &l, &err), -1);
    assert_int_equal(err.code, GPX_E_NOT_FOUND);
    assert_int_equal(list_active(f, &alice, la.rec.id, &has), 1);
    assert_true(has); /* still there */
    /* nor may he ask for her list or usage */
    struct gpx_lease_query q = {.state = -1, .tenant = "alice"};
    struct gpx_lease *arr = NULL;
    unsigned n = 0;
    assert_int_equal(gpx_engine_lease_list(f->e, &bob, &q, &arr, &n, &err), -1);
    assert_int_equal(err.code, GPX_E_PERM);
    struct gpx_usage u;
    assert_int_equal(gpx_engine_usage(f->e, &bob, "alice", 0, 0, &u, &err), -1);
    assert_int_equal(err.code, GPX_E_PERM);
    struct gpx_tenant t;
    assert_int_equal(gpx_engine_tenant_get(f->e, &bob, "alice", &t, &err), -1);
    assert_int_equal(err.code, GPX_E_PERM);
    assert_int_equal(gpx_engine_tenant_get(f->e, &bob, "bob", &t, &err), 0);
    /* his usage has his lease only */
    assert_int_equal(gpx_engine_usage(f->e, &bob, NULL, 0, 0, &u, &err), 0);
    assert_int_equal(u.n_leases, 1);
    assert_string_equal(u.leases[0].id, lb.rec.id);
    assert_int_equal(u.n_tenants, 1);
    assert_string_equal(u.tenants[0].tenant, "bob");
    gpx_usage_free(&u);
    assert_int_equal(gpx_engine_usage(f->e, &f->admin, NULL, 0, 0, &u, &err), 0);
    assert_int_equal(u.n_leases, 2);
    assert_int_equal(u.n_tenants, 2);
    gpx_usage_free(&u);
    /* the admin sees, and lists by, every tenant */
    q.tenant = "alice";
    assert_int_equal(gpx_engine_lease_list(f->e, &f->admin, &q, &arr, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(arr[0].rec.id, la.rec.id);
    free(arr);
    /* GPUs show only the caller's leases */
    struct gpx_node node;
    assert_int_equal(gpx_engine_gpus(f->e, &bob, &node, &err), 0);
    unsigned seen = 0;
    for (unsigned i = 0; i < node.count; i++) {
        seen += node.gpus[i].n_leases;
        assert_false(node.gpus[i].show_procs);
        for (unsigned k = 0; k < node.gpus[i].n_leases; k++)
            assert_string_equal(node.gpus[i].leases[k].tenant, "bob");
    }
    assert_int_equal(seen, 1);
    gpx_node_free(&node);
    /* a tenant holding a lease cannot be removed */
    assert_int_equal(gpx_engine_tenant_remove(f->e, "alice", &t, &err), -1);
    assert_int_equal(err.code, GPX_E_BUSY);
    /* she releases her own; her released lease stays hidden from bob */
    must_release(f, &alice, la.rec.id);
    assert_int_equal(gpx_engine_lease_get(f->e, &bob, la.rec.id, 0, &l, &err), -1);
    assert_int_equal(err.code, GPX_E_NOT_FOUND);
    assert_int_equal(gpx_engine_lease_get(f->e, &alice, la.rec.id, 0, &l, &err), 0);
    assert_int_equal(l.rec.state, GPX_LS_RELEASED);
    assert_string_equal(l.rec.reason, "released by alice");
    /* a second release says it is released already */
    assert_int_equal(gpx_engine_lease_release(f->e, &alice, la.rec.id, &l, &err), -1);
    assert_int_equal(err.code, GPX_E_NOT_FOUND);
    assert_non_null(strstr(err.msg, "already released"));
    /* the admin releases anyone's */
    must_release(f, &f->admin, lb.rec.id);
    assert_int_equal(gpx_engine_lease_get(f->e, &bob, lb.rec.id, 0, &l, &err), 0);
    assert_string_equal(l.rec.reason, "released by admin");
    assert_int_equal(gpx_engine_tenant_remove(f->e, "alice", &t, &err), 0);
    assert_int_equal(gpx_engine_tenant_remove(f->e, "alice", &t, &err), -1);
    assert_int_equal(err.code, GPX_E_NOT_FOUND);
    struct gpx_tenant *ts = NULL;
    assert_int_equal(gpx_engine_tenant_list(f->e, &ts, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ts[0].name, "bob");
    free(ts);
    /* "admin" is reserved */
    char tok[72];
    struct gpx_tenant_req r;
    memset(&r, 0, sizeof r);
    snprintf(r.name, sizeof r.name, "admin");
    assert_int_equal(gpx_engine_tenant_add(f->e, &r, &t, tok, &err), -1);
    assert_int_equal(err.code, GPX_E_EXISTS);
    snprintf(r.name, sizeof r.name, "bob");
    assert_int_equal(gpx_engine_tenant_add(f->e, &r, &t, tok, &err), -1);
    assert_int_equal(err.code, GPX_E_EXISTS);
}

/* Issue 10, finding 5: every lease's memory counts; no lease eats a quota promised to another. */
static void test_admission_unquoted(void **state)
{
    struct fx *f = *state;
    open_engine(f, 1, GPX_PLACE_BINPACK, 1.0);
    char tok[72];
    add_tenant(f, "small", 0, 0, 0, 2 * GIB, tok);
    struct gpx_caller small;
    by_token(f, tok, &small);
    gpx_error err;
    struct gpx_lease a, b, c;
    /* under a max_memory, a timeslice lease must say how much memory it takes */
    assert_int_equal(create(f->e, &small, "timeslice", NULL, NULL, NULL, NULL, NULL, &a, &err), -1);
    assert_int_equal(err.code, GPX_E_NO_SPACE);
    assert_non_null(strstr(err.msg, "max_memory of 2.0 GiB"));
    assert_non_null(strstr(err.msg, "--memory"));
    /* with a quota it counts: 2G fits, 1M more does not */
    must_create(f, &small, "timeslice", NULL, "2G", &a);
    assert_int_equal(a.rec.gpu_index, 0);
    assert_int_equal(create(f->e, &small, "timeslice", NULL, "1M", NULL, NULL, NULL, &b, &err), -1);
    assert_int_equal(err.code, GPX_E_NO_SPACE);
    assert_non_null(strstr(err.msg, "max_memory"));

    /* a lease without a quota stays off a GPU with quotas: it could take their memory */
    assert_int_equal(create(f->e, &f->admin, "timeslice", "0", NULL, NULL, NULL, NULL, &b, &err),
                     -1);
    assert_int_equal(err.code, GPX_E_NO_SPACE);
    assert_non_null(strstr(err.msg, "GPU 0 has leases with memory quotas"));
    assert_non_null(strstr(err.msg, "--memory"));
    must_create(f, &f->admin, "timeslice", NULL, NULL, &b);
    assert_int_equal(b.rec.gpu_index, 1);
    /* ...and a GPU with one takes no quota: nothing there could be promised */
    assert_int_equal(create(f->e, &f->admin, "vgpu", "1", "1G", NULL, NULL, NULL, &c, &err), -1);
    assert_int_equal(err.code, GPX_E_NO_SPACE);
    assert_non_null(strstr(err.msg, "GPU 1 has 1 lease without a memory quota"));
    /* unnamed, each goes where it keeps every promise */
    must_create(f, &f->admin, "vgpu", NULL, "1G", &c);
    assert_int_equal(c.rec.gpu_index, 0);
    must_create(f, &f->admin, "timeslice", NULL, NULL, &c);
    assert_int_equal(c.rec.gpu_index, 1);
    struct gpx_node n;
    assert_int_equal(gpx_engine_gpus(f->e, &f->admin, &n, &err), 0);
    assert_int_equal(n.gpus[0].quota_free, f->total - 3 * GIB);
    assert_int_equal(n.gpus[1].quota_free, 0);
    gpx_node_free(&n);
    /* with quotas on every GPU, a quota-less lease has nowhere to go */
    must_release(f, &f->admin, b.rec.id);
    must_release(f, &f->admin, c.rec.id);
    must_create(f, &f->admin, "vgpu", "1", "1G", &c);
    assert_int_equal(create(f->e, &f->admin, "timeslice", NULL, NULL, NULL, NULL, NULL, &b, &err),
                     -1);
    assert_int_equal(err.code, GPX_E_NO_SPACE);
    assert_non_null(strstr(err.msg, "no GPU can take a lease without a memory quota"));
}

/* Issue 10, finding 9: uid 0 and the engine's own uid are the built-in admin's, always. */
static void test_admin_uids(void **state)
{
    struct fx *f = *state;
    open_engine(f, 1, GPX_PLACE_BINPACK, 1.0);
    struct gpx_tenant_req r;
    struct gpx_tenant t;
    char tok[72];
    gpx_error err;
    memset(&r, 0, sizeof r);
    snprintf(r.name, sizeof r.name, "x");
    r.has_uid = 1;
    const uint32_t uids[] = {0, (uint32_t)geteuid()};
    for (unsigned i = 0; i < 2; i++) {
        r.uid = uids[i];
        assert_int_equal(gpx_engine_tenant_add(f->e, &r, &t, tok, &err), -1);
        assert_int_equal(err.code, GPX_E_INVALID);
        assert_non_null(strstr(err.msg, "always the built-in admin"));
    }
    struct gpx_tenant *ts = NULL;
    unsigned n = 0;
    assert_int_equal(gpx_engine_tenant_list(f->e, &ts, &n, &err), 0);
    assert_int_equal(n, 0);
    free(ts);
    /* a database where a tenant has uid 0 anyway (an older gpuplex): root is still the admin */
    gpx_engine_close(f->e);
    f->e = NULL;
    struct gpx_store *st = NULL;
    assert_int_equal(gpx_store_open(f->db, &st, &err), 0);
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "usurper");
    t.has_uid = 1;
    t.uid = 0;
    t.created_ns = 1;
    assert_int_equal(gpx_store_tenant_insert(st, &t, &err), 0);
    gpx_store_close(st);
    open_engine(f, 1, GPX_PLACE_BINPACK, 1.0); /* asserts: geteuid() is the built-in admin */
    struct gpx_caller c;
    assert_int_equal(gpx_engine_authenticate(f->e, NULL, 1, 1, 0, 1, &c, &err), 0);
    assert_true(c.admin);
    assert_string_equal(c.tenant, GPX_BUILTIN_ADMIN);
}

/* Creates a vgpu lease of 1G owned by `pid`. */
static int create_owned(struct fx *f, const struct gpx_caller *c, int32_t pid, struct gpx_lease *l,
                        gpx_error *err)
{
    struct gpx_lease_spec s;
    gpx_lease_spec_init(&s);
    char p[16];
    snprintf(p, sizeof p, "%d", (int)pid);
    gpx_error_clear(err);
    int rc = gpx_lease_spec_set(&s, GPX_F_MODE, "vgpu", GPX_NAMING_CLI, err);
    if (rc == 0)
        rc = gpx_lease_spec_set(&s, GPX_F_MEMORY, "1G", GPX_NAMING_CLI, err);
    if (rc == 0)
        rc = gpx_lease_spec_set(&s, GPX_F_OWNERS, p, GPX_NAMING_CLI, err);
    if (rc == 0)
        rc = gpx_engine_lease_create(f->e, c, &s, l, err);
    gpx_lease_spec_clear(&s);
    return rc;
}

/* Issue 10, finding 13: owner pids tell a tenant nothing about processes it cannot see. */
static void test_owner_pids_private(void **state)
{
    struct fx *f = *state;
    open_engine(f, 1, GPX_PLACE_BINPACK, 1.0);
    char tok_u[72], tok_t[72];
    const uint32_t uid = 54330;
    add_tenant(f, "frank", 1, uid, 0, 0, tok_u);
    add_tenant(f, "gina", 0, 0, 0, 0, tok_t);
    struct gpx_caller frank, gina;
    gpx_error err;
    assert_int_equal(gpx_engine_authenticate(f->e, NULL, 1, 1, uid, 77, &frank, &err), 0);
    by_token(f, tok_t, &gina); /* over TCP, no uid: no pid is known to be hers */
    const int32_t gone = 0x7ffffffe;
    const int32_t pids[] = {getpid(), gone};
    const struct gpx_caller *who[] = {&frank, &gina};
    struct gpx_lease l;
    for (unsigned w = 0; w < 2; w++)
        for (unsigned i = 0; i < 2; i++) {
            char want[128];
            snprintf(want, sizeof want, "field 'owner_pids': pid %d is not a process of yours",
                     (int)pids[i]);
            assert_int_equal(create_owned(f, who[w], pids[i], &l, &err), -1);
            assert_int_equal(err.code, GPX_E_INVALID);
            assert_string_equal(err.msg, want);
        }
    /* the admin may name any process, and is told which do not exist */
    assert_int_equal(create_owned(f, &f->admin, gone, &l, &err), -1);
    assert_non_null(strstr(err.msg, "is not a running process"));
    assert_int_equal(create_owned(f, &f->admin, getpid(), &l, &err), 0);
    /* frank names a process of his own */
    if (geteuid() != 0)
        return; /* making one takes root */
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        if (setgid(uid) < 0 || setuid(uid) < 0)
            _exit(1);
        pause();
        _exit(0);
    }
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)child);
    int mine = 0;
    for (int k = 0; k < 500 && !mine; k++) {
        FILE *fp = fopen(path, "r");
        unsigned long u = 0;
        while (fp && fgets(line, sizeof line, fp))
            if (sscanf(line, "Uid: %lu", &u) == 1)
                break;
        if (fp)
            fclose(fp);
        mine = u == uid;
        if (!mine)
            usleep(2000);
    }
    assert_true(mine);
    int rc = create_owned(f, &frank, child, &l, &err);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    if (rc < 0)
        fail_msg("frank's own process: %s", err.msg);
    assert_int_equal(l.rec.owners[0].pid, child);
}

/* Issue 10, finding 10: a tenant removed and added again under its name starts clean. */
static void test_tenant_readd(void **state)
{
    struct fx *f = *state;
    open_engine(f, 1, GPX_PLACE_BINPACK, 1.0);
    char tok[72], tok2[72];
    add_tenant(f, "carol", 0, 0, 0, 0, tok);
    struct gpx_caller old, neu;
    by_token(f, tok, &old);
    gpx_error err;
    struct gpx_lease l, x;
    struct gpx_lease_spec s;
    gpx_lease_spec_init(&s);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_MODE, "vgpu", GPX_NAMING_CLI, &err), 0);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_MEMORY, "1G", GPX_NAMING_CLI, &err), 0);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_LABELS, "secret=old", GPX_NAMING_CLI, &err), 0);
    assert_int_equal(gpx_engine_lease_create(f->e, &old, &s, &l, &err), 0);
    gpx_lease_spec_clear(&s);
    gpx_engine_meter(f->e);
    must_release(f, &old, l.rec.id);
    struct gpx_tenant t;
    assert_int_equal(gpx_engine_tenant_remove(f->e, "carol", &t, &err), 0);
    add_tenant(f, "carol", 0, 0, 0, 0, tok2);
    by_token(f, tok2, &neu);
    assert_true(neu.tenant_created_ns != old.tenant_created_ns);

    /* the new carol has no lease, label or usage of the old one */
    assert_int_equal(gpx_engine_lease_get(f->e, &neu, l.rec.id, 0, &x, &err), -1);
    assert_int_equal(err.code, GPX_E_NOT_FOUND);
    struct gpx_lease_query q = {.state = GPX_LS_ALL};
    struct gpx_lease *arr = NULL;
    unsigned n = 0;
    assert_int_equal(gpx_engine_lease_list(f->e, &neu, &q, &arr, &n, &err), 0);
    assert_int_equal(n, 0);
    free(arr);
    struct gpx_usage u;
    assert_int_equal(gpx_engine_usage(f->e, &neu, NULL, 0, 0, &u, &err), 0);
    assert_int_equal(u.n_leases, 0);
    assert_int_equal(u.n_tenants, 0);
    gpx_usage_free(&u);
    /* a request of the old carol still in flight cannot lease in the new one's name */
    assert_int_equal(create(f->e, &old, "vgpu", NULL, "1G", NULL, NULL, NULL, &x, &err), -1);
    assert_int_equal(err.code, GPX_E_UNAUTH);
    assert_int_equal(gpx_engine_lease_count(f->e), 0);

    /* the admin keeps the old one's history, as carol~CREATED_NS */
    char past[GPX_NAME_MAX];
    snprintf(past, sizeof past, "carol~%lld", (long long)old.tenant_created_ns);
    assert_int_equal(gpx_engine_usage(f->e, &f->admin, NULL, 0, 0, &u, &err), 0);
    assert_int_equal(u.n_leases, 1);
    assert_string_equal(u.leases[0].id, l.rec.id);
    assert_string_equal(u.leases[0].tenant, past);
    assert_int_equal(u.n_tenants, 1);
    assert_string_equal(u.tenants[0].tenant, past);
    gpx_usage_free(&u);
    assert_int_equal(gpx_engine_usage(f->e, &f->admin, past, 0, 0, &u, &err), 0);
    assert_int_equal(u.n_leases, 1);
    gpx_usage_free(&u);
    assert_int_equal(gpx_engine_lease_get(f->e, &f->admin, l.rec.id, 0, &x, &err), 0);
    assert_string_equal(x.rec.tenant, past);
    assert_string_equal(x.rec.labels, "{\"secret\":\"old\"}");
    q.tenant = "carol";
    assert_int_equal(gpx_engine_lease_list(f->e, &f->admin, &q, &arr, &n, &err), 0);
    assert_int_equal(n, 0);
    free(arr);
    /* a long name's past name is cut to fit, its generation kept */
    char long_name[GPX_NAME_MAX];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    add_tenant(f, long_name, 0, 0, 0, 0, tok);
    struct gpx_caller lc;
    by_token(f, tok, &lc);
    must_create(f, &lc, "vgpu", NULL, "1G", &l);
    must_release(f, &lc, l.rec.id);
    assert_int_equal(gpx_engine_tenant_remove(f->e, long_name, &t, &err), 0);
    assert_int_equal(gpx_engine_lease_get(f->e, &f->admin, l.rec.id, 0, &x, &err), 0);
    assert_int_equal(strlen(x.rec.tenant), GPX_NAME_MAX - 1);
    snprintf(past, sizeof past, "~%lld", (long long)lc.tenant_created_ns);
    assert_string_equal(x.rec.tenant + strlen(x.rec.tenant) - strlen(past), past);
}

/* Issue 10, finding 12: a tenant's active leases are capped. */
static void test_tenant_max_leases(void **state)
{
    struct fx *f = *state;
    f->max_leases_per_tenant = 3;
    open_engine(f, 1, GPX_PLACE_BINPACK, 1.0);
    char tok_d[72], tok_e[72];
    add_tenant(f, "dave", 0, 0, 0, 0, tok_d);
    struct gpx_tenant_req r;
    memset(&r, 0, sizeof r);
    snprintf(r.name, sizeof r.name, "erin");
    r.max_leases = 5;
    struct gpx_tenant t;
    gpx_error err;
    assert_int_equal(gpx_engine_tenant_add(f->e, &r, &t, tok_e, &err), 0);
    assert_int_equal(t.max_leases, 5);
    struct gpx_caller dave, erin;
    by_token(f, tok_d, &dave);
    by_token(f, tok_e, &erin);
    assert_int_equal(erin.max_leases, 5);
    struct gpx_lease l[6], x;
    /* dave: the engine's default of 3 */
    for (int i = 0; i < 3; i++)
        must_create(f, &dave, "vgpu", NULL, "1G", &l[i]);
    assert_int_equal(create(f->e, &dave, "vgpu", NULL, "1G", NULL, NULL, NULL, &x, &err), -1);
    assert_int_equal(err.code, GPX_E_NO_SPACE);
    assert_non_null(strstr(err.msg, "holds 3 active leases"));
    assert_non_null(strstr(err.msg, "max_leases_per_tenant"));
    must_release(f, &dave, l[0].rec.id);
    must_create(f, &dave, "vgpu", NULL, "1G", &l[0]);
    /* erin: her own 5 */
    for (int i = 0; i < 5; i++)
        must_create(f, &erin, "vgpu", NULL, "1G", &l[i]);
    assert_int_equal(create(f->e, &erin, "vgpu", NULL, "1G", NULL, NULL, NULL, &x, &err), -1);
    assert_int_equal(err.code, GPX_E_NO_SPACE);
    assert_non_null(strstr(err.msg, "tenant 'erin' holds 5 active leases, its max_leases"));
    /* the built-in admin: no limit */
    for (int i = 0; i < 6; i++)
        must_create(f, &f->admin, "vgpu", NULL, "1G", &x);
    assert_int_equal(gpx_engine_lease_count(f->e), 14);
    /* a tenant's record keeps its max_leases across a restart */
    open_engine(f, 1, GPX_PLACE_BINPACK, 1.0);
    by_token(f, tok_e, &erin);
    assert_int_equal(erin.max_leases, 5);
}

/* --- the journal ---------------------------------------------------------------------------- */

static void store_row(struct fx *f, const char *id, struct gpx_lease_rec *out)
{
    struct gpx_store *st = NULL;
    gpx_error err = {0};
    if (gpx_store_open(f->db, &st, &err) < 0)
        fail_msg("store: %s", err.msg);
    if (gpx_store_lease_get(st, id, out, &err) < 0)
        fail_msg("row %s: %s", id, err.msg);
    gpx_store_close(st);
}

static void journal(struct fx *f, int daemon)
{
    open_engine(f, daemon, GPX_PLACE_BINPACK, 1.0);
    struct gpx_lease a, b, l;
    struct gpx_lease_rec row;
    gpx_error err;
    must_create(f, &f->admin, "vgpu", NULL, "2G", &a);
    must_create(f, &f->admin, "timeslice", NULL, NULL, &b);
    int has;
    assert_int_equal(list_active(f, &f->admin, a.rec.id, &has), 2);
    assert_true(has);
    store_row(f, a.rec.id, &row); /* a second connection sees the committed row */
    assert_int_equal(row.state, GPX_LS_ACTIVE);
    assert_int_equal(row.mode, GPX_MODE_VGPU);
    assert_int_equal(row.memory_quota, 2 * GIB);
    assert_string_equal(row.tenant, "admin");
    assert_true(file_exists(f->run, a.rec.id, "limits"));
    assert_true(file_exists(f->run, b.rec.id, "usage"));

    assert_int_equal(gpx_engine_lease_release(f->e, &f->admin, b.rec.id, &l, &err), 0);
    assert_int_equal(l.rec.state, GPX_LS_RELEASED);
    assert_string_equal(l.rec.reason, "released by admin");
    assert_true(l.rec.released_ns >= l.rec.created_ns);
    store_row(f, b.rec.id, &row);
    assert_int_equal(row.state, GPX_LS_RELEASED);
    assert_string_equal(row.reason, "released by admin");
    assert_false(file_exists(f->run, b.rec.id, "limits"));
    assert_false(file_exists(f->run, b.rec.id, "usage"));

    /* closed and opened again: the active lease is back, the released one is not */
    open_engine(f, daemon, GPX_PLACE_BINPACK, 1.0);
    assert_int_equal(list_active(f, &f->admin, a.rec.id, &has), 1);
    assert_true(has);
    assert_int_equal(gpx_engine_lease_get(f->e, &f->admin, a.rec.id, 0, &l, &err), 0);
    assert_int_equal(l.rec.state, GPX_LS_ACTIVE);
    assert_true(l.live); /* its region re-attached */
    assert_int_equal(l.rec.memory_quota, 2 * GIB);
    assert_int_equal(l.rec.created_ns, a.rec.created_ns);
    assert_int_equal(gpx_engine_lease_get(f->e, &f->admin, b.rec.id, 0, &l, &err), 0);
    assert_int_equal(l.rec.state, GPX_LS_RELEASED);
    assert_false(l.live);
    /* the lists by state */
    struct gpx_lease *arr = NULL;
    unsigned n = 0;
    struct gpx_lease_query q = {.state = GPX_LS_RELEASED};
    assert_int_equal(gpx_engine_lease_list(f->e, &f->admin, &q, &arr, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(arr[0].rec.id, b.rec.id);
    free(arr);
    q.state = GPX_LS_ALL;
    assert_int_equal(gpx_engine_lease_list(f->e, &f->admin, &q, &arr, &n, &err), 0);
    assert_int_equal(n, 2);
    free(arr);
    q.state = GPX_LS_PENDING;
    assert_int_equal(gpx_engine_lease_list(f->e, &f->admin, &q, &arr, &n, &err), -1);
    assert_int_equal(err.code, GPX_E_INVALID);
    /* quota accounting came back with the lease */
    struct gpx_node node;
    assert_int_equal(gpx_engine_gpus(f->e, &f->admin, &node, &err), 0);
    assert_int_equal(node.gpus[a.rec.gpu_index].quota_free, f->total - 2 * GIB);
    gpx_node_free(&node);
    must_release(f, &f->admin, a.rec.id);
    open_engine(f, daemon, GPX_PLACE_BINPACK, 1.0);
    assert_int_equal(list_active(f, &f->admin, NULL, NULL), 0);
    assert_int_equal(gpx_engine_lease_count(f->e), 0);
}

static void test_journal_daemon(void **state)
{
    journal(*state, 1);
}

static void test_journal_cli(void **state)
{
    journal(*state, 0);
}

/* A lease whose owner process exits is released: at once in the CLI, after the grace in a daemon.
 */
static void test_owner_exit(void **state)
{
    struct fx *f = *state;
    open_engine(f, 0, GPX_PLACE_BINPACK, 1.0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        pause();
        _exit(0);
    }
    struct gpx_lease_spec s;
    gpx_error err = {0};
    gpx_lease_spec_init(&s);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)child);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_MODE, "timeslice", GPX_NAMING_CLI, &err), 0);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_OWNERS, pid, GPX_NAMING_CLI, &err), 0);
    struct gpx_lease l;
    assert_int_equal(gpx_engine_lease_create(f->e, &f->admin, &s, &l, &err), 0);
    assert_int_equal(l.rec.n_owners, 1);
    assert_int_equal(l.rec.owners[0].pid, child);
    assert_true(l.rec.owners[0].start_ticks > 0);
    gpx_engine_reconcile(f->e); /* alive: kept */
    assert_int_equal(gpx_engine_lease_count(f->e), 1);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    gpx_engine_reconcile(f->e);
    assert_int_equal(gpx_engine_lease_count(f->e), 0);
    struct gpx_lease g;
    assert_int_equal(gpx_engine_lease_get(f->e, &f->admin, l.rec.id, 0, &g, &err), 0);
    assert_int_equal(g.rec.state, GPX_LS_RELEASED);
    assert_string_equal(g.rec.reason, "owner processes exited");
    struct gpx_engine_counters cn;
    gpx_engine_counters(f->e, &cn);
    assert_int_equal(cn.created, 1);
    assert_int_equal(cn.reaped, 1);
    /* an owner that is not running is refused */
    s.owners[0] = (int32_t)child;
    assert_int_equal(gpx_engine_lease_create(f->e, &f->admin, &s, &l, &err), -1);
    assert_int_equal(err.code, GPX_E_INVALID);
    assert_non_null(strstr(err.msg, "not a running process"));
    gpx_lease_spec_clear(&s);
}

/* Writes a row in `state` with a region into the closed engine's state. */
static void plant(struct fx *f, struct gpx_store *st, const char *id, int state, int region)
{
    struct gpx_lease_rec l;
    memset(&l, 0, sizeof l);
    snprintf(l.id, sizeof l.id, "%s", id);
    snprintf(l.tenant, sizeof l.tenant, "admin");
    snprintf(l.gpu_uuid, sizeof l.gpu_uuid, "%s", f->uuid[0]);
    snprintf(l.labels, sizeof l.labels, "{}");
    l.state = state;
    l.mode = GPX_MODE_VGPU;
    l.memory_quota = GIB;
    l.gpu_memory = f->total;
    l.weight = 1;
    l.created_ns = gpx_now_ns();
    if (state == GPX_LS_RELEASED)
        l.released_ns = l.created_ns + 1;
    l.mig_start = l.mig_gi = l.mig_ci = -1;
    gpx_error err = {0};
    if (gpx_store_lease_insert(st, &l, &err) < 0)
        fail_msg("insert %s: %s", id, err.msg);
    if (region) {
        struct gpx_lease_limits lim;
        memset(&lim, 0, sizeof lim);
        snprintf(lim.id, sizeof lim.id, "%s", id);
        lim.mode = GPX_MODE_VGPU;
        snprintf(lim.gpu_uuid, sizeof lim.gpu_uuid, "%s", f->uuid[0]);
        lim.memory_quota = GIB;
        lim.weight = 1;
        if (gpx_lease_region_create(f->run, &lim, &err) < 0)
            fail_msg("region %s: %s", id, err.msg);
        assert_true(file_exists(f->run, id, "limits"));
    }
}

static void pending(struct fx *f, int daemon)
{
    open_engine(f, daemon, GPX_PLACE_BINPACK, 1.0);
    gpx_engine_close(f->e);
    f->e = NULL;
    /* while it is closed: a crash's leftovers */
    struct gpx_store *st = NULL;
    gpx_error err = {0};
    assert_int_equal(gpx_store_open(f->db, &st, &err), 0);
    plant(f, st, "l-00000000pend", GPX_LS_PENDING, 1);  /* never acknowledged */
    plant(f, st, "l-0000000pend2", GPX_LS_PENDING, 0);  /* ...crashed before its region */
    plant(f, st, "l-00000000live", GPX_LS_ACTIVE, 0);   /* acknowledged, run dir lost it */
    plant(f, st, "l-00000000done", GPX_LS_RELEASED, 1); /* released, region left behind */
    gpx_store_close(st);
    struct gpx_lease_limits lim;
    memset(&lim, 0, sizeof lim);
    snprintf(lim.id, sizeof lim.id, "l-0000000alien"); /* a region with no row: left alone */
    lim.weight = 1;
    assert_int_equal(gpx_lease_region_create(f->run, &lim, &err), 0);

    open_engine(f, daemon, GPX_PLACE_BINPACK, 1.0);
    int has;
    assert_int_equal(list_active(f, &f->admin, "l-00000000live", &has), 1);
    assert_true(has);
    struct gpx_lease_rec row;
    store_row(f, "l-00000000pend", &row);
    assert_int_equal(row.state, GPX_LS_ABORTED);
    assert_string_equal(row.reason, "stopped before acknowledging it");
    assert_true(row.released_ns > 0);
    assert_false(file_exists(f->run, "l-00000000pend", "limits"));
    assert_false(file_exists(f->run, "l-00000000pend", "usage"));
    store_row(f, "l-0000000pend2", &row);
    assert_int_equal(row.state, GPX_LS_ABORTED);
    /* the active lease got its region back, with its quota */
    assert_true(file_exists(f->run, "l-00000000live", "limits"));
    struct gpx_lease_region r;
    assert_int_equal(gpx_lease_region_open(gpx_engine_run_dir(f->e), "l-00000000live", &r, &err),
                     0);
    assert_int_equal(r.limits->memory_quota, GIB);
    gpx_lease_region_close(&r);
    /* the released lease's region is gone; the stranger's stays */
    assert_false(file_exists(f->run, "l-00000000done", "limits"));
    assert_true(file_exists(f->run, "l-0000000alien", "limits"));
    /* an aborted lease is no lease */
    struct gpx_lease l;
    assert_int_equal(gpx_engine_lease_get(f->e, &f->admin, "l-00000000pend", 0, &l, &err), -1);
    assert_int_equal(err.code, GPX_E_NOT_FOUND);
    assert_int_equal(gpx_engine_lease_release(f->e, &f->admin, "l-00000000pend", &l, &err), -1);
    assert_int_equal(err.code, GPX_E_NOT_FOUND);
    /* its quota is free: GPU 0 has the active lease's 1G only */
    struct gpx_node node;
    assert_int_equal(gpx_engine_gpus(f->e, &f->admin, &node, &err), 0);
    assert_int_equal(node.gpus[0].quota_free, f->total - GIB);
    gpx_node_free(&node);
}

static void test_pending_aborted_daemon(void **state)
{
    pending(*state, 1);
}

static void test_pending_aborted_cli(void **state)
{
    pending(*state, 0);
}

/* --- backends ------------------------------------------------------------------------------- */

static void limits_of(struct fx *f, const struct gpx_lease *l, struct gpx_lease_limits *out)
{
    struct gpx_lease_region r;
    gpx_error err = {0};
    if (gpx_lease_region_open(gpx_engine_run_dir(f->e), l->rec.id, &r, &err) < 0)
        fail_msg("region of %s: %s", l->rec.id, err.msg);
    *out = *r.limits;
    gpx_lease_region_close(&r);
    assert_string_equal(out->id, l->rec.id);
    assert_int_equal(out->mode, (uint32_t)l->rec.mode);
    assert_int_equal(out->gpu_index, l->rec.gpu_index);
    assert_string_equal(out->gpu_uuid, l->rec.gpu_uuid);
    assert_int_equal(out->created_ns, (uint64_t)l->rec.created_ns);
}

static void test_backends(void **state)
{
    struct fx *f = *state;
    open_engine(f, 1, GPX_PLACE_BINPACK, 1.0);
    struct gpx_lease l;
    struct gpx_lease_limits lim;
    gpx_error err;
    char run_real[4096];
    assert_non_null(realpath(f->run, run_real));

    /* exclusive: a whole GPU, no quota, no interposer */
    must_create(f, &f->admin, "exclusive", "1", NULL, &l);
    limits_of(f, &l, &lim);
    assert_int_equal(lim.mode, GPX_MODE_EXCLUSIVE);
    assert_int_equal(lim.memory_quota, 0);
    assert_int_equal(lim.weight, 1);
    assert_int_equal(lim.cap_percent, 0);
    assert_int_equal(lim.uid, f->admin.uid);
    assert_string_equal(l.interposer, "");
    assert_string_equal(l.run_dir, run_real);
    assert_int_equal(l.rec.gpu_memory, f->total);

    /* vgpu: quota and compute cap */
    assert_int_equal(create(f->e, &f->admin, "vgpu", "0", "4G", NULL, "50", NULL, &l, &err), 0);
    limits_of(f, &l, &lim);
    assert_int_equal(lim.mode, GPX_MODE_VGPU);
    assert_int_equal(lim.memory_quota, 4 * GIB);
    assert_int_equal(lim.cap_percent, 50);
    assert_int_equal(lim.weight, GPX_DEFAULT_WEIGHT);
    assert_int_equal(l.rec.memory_quota, 4 * GIB);
    assert_int_equal(l.rec.cap, 50);
    assert_string_equal(l.interposer, INTERPOSER);
    assert_true(l.live);
    must_release(f, &f->admin, l.rec.id);

    /* timeslice: a weight, no quota (so alone on GPU 0 with other quota-less leases); then
     * weight, cap and quota together */
    assert_int_equal(create(f->e, &f->admin, "timeslice", "0", NULL, "5", NULL, NULL, &l, &err), 0);
    limits_of(f, &l, &lim);
    assert_int_equal(lim.mode, GPX_MODE_TIMESLICE);
    assert_int_equal(lim.weight, 5);
    assert_int_equal(lim.memory_quota, 0);
    assert_int_equal(lim.cap_percent, 0);
    assert_string_equal(l.interposer, INTERPOSER);
    must_release(f, &f->admin, l.rec.id);
    assert_int_equal(create(f->e, &f->admin, "timeslice", "0", "2G", "3", "25", NULL, &l, &err), 0);
    limits_of(f, &l, &lim);
    assert_int_equal(lim.weight, 3);
    assert_int_equal(lim.cap_percent, 25);
    assert_int_equal(lim.memory_quota, 2 * GIB);
    /* labels travel with the record */
    struct gpx_lease_spec s;
    gpx_lease_spec_init(&s);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_MODE, "timeslice", GPX_NAMING_CLI, &err), 0);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_LABELS, "team=ml", GPX_NAMING_CLI, &err), 0);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_LABELS, "job=a b", GPX_NAMING_CLI, &err), 0);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_MEMORY, "1G", GPX_NAMING_CLI, &err), 0);
    assert_int_equal(gpx_engine_lease_create(f->e, &f->admin, &s, &l, &err), 0);
    assert_string_equal(l.rec.labels, "{\"job\":\"a b\",\"team\":\"ml\"}");
    gpx_lease_spec_clear(&s);
    /* a spec the host did not check is checked by the engine (API naming) */
    gpx_lease_spec_init(&s);
    assert_int_equal(gpx_engine_lease_create(f->e, &f->admin, &s, &l, &err), -1);
    assert_int_equal(err.code, GPX_E_INVALID);
    assert_non_null(strstr(err.msg, "field 'mode' is required"));
    s.mode = GPX_MODE_VGPU;
    assert_int_equal(gpx_engine_lease_create(f->e, &f->admin, &s, &l, &err), -1);
    assert_int_equal(err.code, GPX_E_INVALID);
    assert_non_null(strstr(err.msg, "field 'memory'"));
    assert_int_equal(gpx_engine_lease_count(f->e), 3);
}

static int profile_of(const struct gpx_mig_gpu_state *s, const char *name)
{
    int p = gpx_mig_profile_find(&s->table, name);
    assert_true(p >= 0);
    return p;
}

static void test_backend_mig(void **state)
{
    struct fx *f = *state;
    open_engine(f, 1, GPX_PLACE_BINPACK, 1.0);
    gpx_error err;
    struct gpx_lease l1, l2, l3, x;

    /* MIG off everywhere: a mig lease is refused, saying how to enable it */
    assert_int_equal(create(f->e, &f->admin, "mig", NULL, NULL, NULL, NULL, "1g.10gb", &l1, &err),
                     -1);
    assert_int_equal(err.code, GPX_E_NO_SPACE);
    assert_non_null(strstr(err.msg, "MIG"));

    /* MIG on GPU 0 with one 1g.10gb instance */
    struct gpx_mig_req r;
    memset(&r, 0, sizeof r);
    r.enabled = 1;
    r.has_counts = 1;
    r.n = 1;
    snprintf(r.counts[0].profile, sizeof r.counts[0].profile, "1g.10gb");
    r.counts[0].count = 1;
    struct gpx_mig_applied ap;
    if (gpx_engine_mig_apply(f->e, "0", &r, &ap, &err) < 0)
        fail_msg("mig apply: %s", err.msg);
    assert_non_null(ap.s);
    gpx_mig_applied_free(&ap);
    struct gpx_node node;
    assert_int_equal(gpx_engine_gpus(f->e, &f->admin, &node, &err), 0);
    assert_int_equal(node.gpus[0].info.mig_current, NVML_DEVICE_MIG_ENABLE);
    assert_int_equal(node.gpus[0].quota_free, 0);
    gpx_node_free(&node);
    struct gpx_mig_view v;
    assert_int_equal(gpx_engine_mig_get(f->e, &f->admin, "0", &v, &err), 0);
    assert_true(v.mig_on);
    assert_int_equal(v.s->ngi, 1);
    int p1 = profile_of(v.s, "1g.10gb");
    assert_int_equal(v.s->gi[0].profile, p1);
    assert_int_equal(v.free_instances[p1], 1);
    assert_false(v.leased[0]);
    unsigned gi_id = v.s->gi[0].id;
    char inst_uuid[96];
    snprintf(inst_uuid, sizeof inst_uuid, "%s", v.s->gi[0].ci[0].uuid);
    gpx_mig_view_free(&v);
    assert_int_equal(strncmp(inst_uuid, "MIG-", 4), 0);

    /* a mig lease takes that instance */
    assert_int_equal(create(f->e, &f->admin, "mig", NULL, NULL, NULL, NULL, "1g.10gb", &l1, &err),
                     0);
    assert_int_equal(l1.rec.mode, GPX_MODE_MIG);
    assert_int_equal(l1.rec.gpu_index, 0);
    assert_string_equal(l1.rec.mig_profile, "1g.10gb");
    assert_string_equal(l1.rec.mig_uuid, inst_uuid);
    assert_int_equal(l1.rec.mig_gi, (int)gi_id);
    assert_true(l1.rec.mig_ci >= 0);
    assert_int_equal(l1.rec.mig_created, 0);
    assert_int_equal(l1.rec.memory_quota, 0);
    assert_true(l1.rec.gpu_memory > 9 * GIB && l1.rec.gpu_memory < 11 * GIB);
    assert_string_equal(l1.interposer, "");
    struct gpx_lease_limits lim;
    limits_of(f, &l1, &lim);
    assert_int_equal(lim.mode, GPX_MODE_MIG);
    assert_int_equal(gpx_engine_mig_get(f->e, &f->admin, "0", &v, &err), 0);
    assert_true(v.leased[0]);
    assert_string_equal(v.lease_of[0], l1.rec.id);
    assert_int_equal(v.free_instances[p1], 0);
    gpx_mig_view_free(&v);

    /* MIG GPUs take mig leases only; MIG cannot go off under a lease */
    assert_int_equal(create(f->e, &f->admin, "vgpu", "0", "1G", NULL, NULL, NULL, &x, &err), -1);
    assert_int_equal(err.code, GPX_E_NO_SPACE);
    assert_int_equal(create(f->e, &f->admin, "mig", "1", NULL, NULL, NULL, "1g.10gb", &x, &err),
                     -1);
    assert_int_equal(err.code, GPX_E_NO_SPACE);
    assert_non_null(strstr(err.msg, "disabled"));
    assert_int_equal(create(f->e, &f->admin, "mig", "0", NULL, NULL, NULL, "9g.99gb", &x, &err),
                     -1);
    assert_int_equal(err.code, GPX_E_INVALID);
    struct gpx_mig_req off = {.enabled = 0};
    assert_int_equal(gpx_engine_mig_apply(f->e, "0", &off, &ap, &err), -1);
    assert_int_equal(err.code, GPX_E_BUSY);

    /* another profile: an instance is made for it */
    assert_int_equal(create(f->e, &f->admin, "mig", NULL, NULL, NULL, NULL, "2g.20gb", &l3, &err),
                     0);
    assert_int_equal(l3.rec.gpu_index, 0);
    assert_int_equal(l3.rec.mig_created, 1);
    assert_int_equal(strncmp(l3.rec.mig_uuid, "MIG-", 4), 0);
    assert_string_not_equal(l3.rec.mig_uuid, inst_uuid);

    /* released, the 1g.10gb instance stays, free; the next lease reuses it */
    must_release(f, &f->admin, l1.rec.id);
    assert_int_equal(gpx_engine_mig_get(f->e, &f->admin, "0", &v, &err), 0);
    int found = 0;
    for (unsigned g = 0; g < v.s->ngi; g++)
        if (v.s->gi[g].id == gi_id) {
            found = 1;
            assert_false(v.leased[g]);
            assert_string_equal(v.lease_of[g], "");
        }
    assert_true(found);
    assert_int_equal(v.free_instances[p1], 1);
    gpx_mig_view_free(&v);
    assert_int_equal(create(f->e, &f->admin, "mig", NULL, NULL, NULL, NULL, "1g.10gb", &l2, &err),
                     0);
    assert_string_not_equal(l2.rec.id, l1.rec.id);
    assert_int_equal(l2.rec.mig_gi, (int)gi_id);
    assert_string_equal(l2.rec.mig_uuid, inst_uuid);
    assert_int_equal(l2.rec.mig_created, 0);

    /* and a reopened engine finds its instances again */
    open_engine(f, 1, GPX_PLACE_BINPACK, 1.0);
    assert_int_equal(gpx_engine_lease_count(f->e), 2);
    assert_int_equal(gpx_engine_lease_get(f->e, &f->admin, l2.rec.id, 0, &x, &err), 0);
    assert_int_equal(x.rec.state, GPX_LS_ACTIVE);
    assert_string_equal(x.rec.mig_uuid, inst_uuid);
    must_release(f, &f->admin, l2.rec.id);
    must_release(f, &f->admin, l3.rec.id);
    /* no mig lease left: MIG may go off */
    if (gpx_engine_mig_apply(f->e, "0", &off, &ap, &err) < 0)
        fail_msg("MIG off: %s", err.msg);
    gpx_mig_applied_free(&ap);
    must_create(f, &f->admin, "vgpu", "0", "1G", &x);
}

/* --- observers ------------------------------------------------------------------------------ */

struct seen {
    unsigned n;
    enum gpx_lease_event ev[8];
    char id[8][64];
    int state[8];
};

static void on_event(void *arg, enum gpx_lease_event ev, const struct gpx_lease_rec *l)
{
    struct seen *s = arg;
    if (s->n < 8) {
        s->ev[s->n] = ev;
        snprintf(s->id[s->n], sizeof s->id[s->n], "%s", l->id);
        s->state[s->n] = l->state;
    }
    s->n++;
}

static void test_observers(void **state)
{
    struct fx *f = *state;
    open_engine(f, 1, GPX_PLACE_BINPACK, 1.0);
    struct seen a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    gpx_error err;
    struct gpx_observer oa = {.name = "a", .on_event = on_event, .arg = &a};
    struct gpx_observer ob = {.name = "b", .on_event = on_event, .arg = &b};
    assert_int_equal(gpx_engine_observe(f->e, &oa, &err), 0);
    assert_int_equal(gpx_engine_observe(f->e, &ob, &err), 0);
    struct gpx_lease l, x;
    must_create(f, &f->admin, "vgpu", NULL, "1G", &l);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.ev[0], GPX_EV_COMMITTED);
    assert_string_equal(a.id[0], l.rec.id);
    assert_int_equal(a.state[0], GPX_LS_ACTIVE);
    /* a refused lease is no event */
    assert_int_equal(create(f->e, &f->admin, "exclusive", "0", NULL, NULL, NULL, NULL, &x, &err),
                     -1);
    assert_int_equal(a.n, 1);
    must_release(f, &f->admin, l.rec.id);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.ev[1], GPX_EV_RELEASED);
    assert_string_equal(a.id[1], l.rec.id);
    assert_int_equal(a.state[1], GPX_LS_RELEASED);
    /* every observer, in order */
    assert_int_equal(b.n, 2);
    assert_int_equal(b.ev[0], GPX_EV_COMMITTED);
    assert_int_equal(b.ev[1], GPX_EV_RELEASED);
    /* a failed release is no event either */
    assert_int_equal(gpx_engine_lease_release(f->e, &f->admin, l.rec.id, &x, &err), -1);
    assert_int_equal(a.n, 2);
    /* at most GPX_MAX_OBSERVERS */
    struct seen c;
    memset(&c, 0, sizeof c);
    struct gpx_observer oc = {.name = "c", .on_event = on_event, .arg = &c};
    for (int i = 2; i < 16; i++)
        assert_int_equal(gpx_engine_observe(f->e, &oc, &err), 0);
    assert_int_equal(gpx_engine_observe(f->e, &oc, &err), -1);
    assert_int_equal(err.code, GPX_E_NOMEM);
    struct gpx_engine_counters cn;
    gpx_engine_counters(f->e, &cn);
    assert_int_equal(cn.created, 1);
    assert_int_equal(cn.released, 1);
}

/* --- who owns the state --------------------------------------------------------------------- */

static void test_daemon_lock(void **state)
{
    struct fx *f = *state;
    gpx_error err = {0};
    int pid = -1;
    char sock[256] = "x";
    /* nobody yet */
    assert_int_equal(gpx_engine_daemon_owner(f->state, &pid, sock, sizeof sock, &err), 0);
    open_engine(f, 1, GPX_PLACE_BINPACK, 1.0);
    /* the daemon's pid at once; its socket only once it listens (announced) */
    assert_int_equal(gpx_engine_daemon_owner(f->state, &pid, sock, sizeof sock, &err), 1);
    assert_int_equal(pid, (int)getpid());
    assert_string_equal(sock, "");
    assert_int_equal(gpx_engine_announce(f->e, "/run/gpuplex-test/gpuplexd.sock", &err), 0);
    assert_int_equal(gpx_engine_daemon_owner(f->state, &pid, sock, sizeof sock, &err), 1);
    assert_string_equal(sock, "/run/gpuplex-test/gpuplexd.sock");

    /* a second daemon is refused and leaves the owner's record alone */
    struct gpx_engine_opts o2 = {.state_dir = f->state, .run_dir = f->run, .daemon = 1};
    struct gpx_engine *second = NULL;
    assert_int_equal(gpx_engine_open(&o2, &second, &err), -1);
    assert_int_equal(err.code, GPX_E_BUSY);
    assert_int_equal(gpx_engine_daemon_owner(f->state, &pid, sock, sizeof sock, &err), 1);
    assert_int_equal(pid, (int)getpid());
    assert_string_equal(sock, "/run/gpuplex-test/gpuplexd.sock");
    struct gpx_health h;
    gpx_engine_health(f->e, 0, &h);
    assert_string_equal(h.host, "gpuplexd");
    assert_false(h.show_leases);

    /* a CLI command is told who has it, at once */
    struct gpx_engine_opts o = {.state_dir = f->state, .run_dir = f->run, .daemon = 0};
    struct gpx_engine *cli = NULL;
    assert_int_equal(gpx_engine_open(&o, &cli, &err), -1);
    assert_null(cli);
    assert_int_equal(err.code, GPX_E_BUSY);
    char want[64];
    snprintf(want, sizeof want, "gpuplexd (pid %d)", (int)getpid());
    assert_non_null(strstr(err.msg, want));
    assert_non_null(strstr(err.msg, "/run/gpuplex-test/gpuplexd.sock"));

    gpx_engine_close(f->e);
    f->e = NULL;
    assert_int_equal(gpx_engine_daemon_owner(f->state, &pid, sock, sizeof sock, &err), 0);
    /* then the CLI may open it */
    open_engine(f, 0, GPX_PLACE_BINPACK, 1.0);
    gpx_engine_health(f->e, 1, &h);
    assert_string_equal(h.host, "local");
    assert_int_equal(h.gpus, 2);
    assert_int_equal(h.schema_version, gpx_store_schema_latest());
    assert_true(h.show_leases);
    assert_int_equal(gpx_engine_daemon_owner(f->state, &pid, sock, sizeof sock, &err), 0);
}

/* --- specs ---------------------------------------------------------------------------------- */

static void expect_set_error(enum gpx_field fld, const char *text, enum gpx_naming n,
                             const char *needle)
{
    struct gpx_lease_spec s;
    gpx_lease_spec_init(&s);
    gpx_error err = {0};
    if (gpx_lease_spec_set(&s, fld, text, n, &err) == 0)
        fail_msg("field %d '%s' was accepted", (int)fld, text ? text : "(null)");
    assert_int_equal(err.code, GPX_E_INVALID);
    if (!strstr(err.msg, needle))
        fail_msg("'%s' lacks '%s'", err.msg, needle);
    assert_int_equal(s.given, 0);
    gpx_lease_spec_clear(&s);
}

static void test_spec_set(void **state)
{
    (void)state;
    struct gpx_lease_spec s;
    gpx_error err = {0};
    gpx_lease_spec_init(&s);
    assert_int_equal(s.mode, -1);
    assert_int_equal(s.gpu_index, -1);

    /* every field, as typed */
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_MODE, "vgpu", GPX_NAMING_CLI, &err), 0);
    assert_int_equal(s.mode, GPX_MODE_VGPU);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_GPU, "3", GPX_NAMING_CLI, &err), 0);
    assert_int_equal(s.gpu_index, 3);
    assert_string_equal(s.gpu_uuid, "");
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_GPU, "GPU-abc", GPX_NAMING_CLI, &err), 0);
    assert_int_equal(s.gpu_index, -1);
    assert_string_equal(s.gpu_uuid, "GPU-abc");
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_GPU, "MIG-def", GPX_NAMING_API, &err), 0);
    assert_string_equal(s.gpu_uuid, "MIG-def");
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_MEMORY, "4G", GPX_NAMING_CLI, &err), 0);
    assert_int_equal(s.memory, 4 * GIB);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_MEMORY, "4096M", GPX_NAMING_CLI, &err), 0);
    assert_int_equal(s.memory, 4 * GIB);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_MEMORY, "1M", GPX_NAMING_CLI, &err), 0);
    assert_int_equal(s.memory, MIB);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_WEIGHT, "10000", GPX_NAMING_CLI, &err), 0);
    assert_int_equal(s.weight, 10000);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_CAP, "100", GPX_NAMING_CLI, &err), 0);
    assert_int_equal(s.cap, 100);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_MIG_PROFILE, "1g.10gb+me", GPX_NAMING_CLI, &err),
                     0);
    assert_string_equal(s.mig_profile, "1g.10gb+me");
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_LABELS, "team=ml", GPX_NAMING_CLI, &err), 0);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_LABELS, "a.b/c=x=y", GPX_NAMING_CLI, &err), 0);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_LABELS, "empty=", GPX_NAMING_CLI, &err), 0);
    assert_string_equal(s.labels, "{\"a.b/c\":\"x=y\",\"empty\":\"\",\"team\":\"ml\"}");
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_OWNERS, "1", GPX_NAMING_CLI, &err), 0);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_OWNERS, "2147483647", GPX_NAMING_CLI, &err), 0);
    assert_int_equal(s.n_owners, 2);
    assert_int_equal(s.owners[1], 2147483647);
    for (int fld = 0; fld < GPX_F__COUNT; fld++)
        assert_true(s.given & (1u << fld));
    /* a label key twice */
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_LABELS, "team=x", GPX_NAMING_CLI, &err), -1);
    assert_non_null(strstr(err.msg, "--label: label 'team' is given twice"));
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_LABELS, "team=x", GPX_NAMING_API, &err), -1);
    assert_non_null(strstr(err.msg, "field 'labels': label 'team' is given twice"));
    /* owners: at most 16 */
    for (unsigned i = s.n_owners; i < GPX_MAX_OWNERS; i++)
        assert_int_equal(gpx_lease_spec_set(&s, GPX_F_OWNERS, "7", GPX_NAMING_CLI, &err), 0);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_OWNERS, "7", GPX_NAMING_CLI, &err), -1);
    assert_non_null(strstr(err.msg, "at most 16"));
    gpx_lease_spec_clear(&s);
    assert_null(s.labels);
    gpx_lease_spec_clear(&s); /* twice is harmless */

    /* labels: at most 32 */
    gpx_lease_spec_init(&s);
    for (int i = 0; i < GPX_MAX_LABELS; i++) {
        char kv[32];
        snprintf(kv, sizeof kv, "k%02d=v", i);
        assert_int_equal(gpx_lease_spec_set(&s, GPX_F_LABELS, kv, GPX_NAMING_CLI, &err), 0);
    }
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_LABELS, "k99=v", GPX_NAMING_CLI, &err), -1);
    assert_non_null(strstr(err.msg, "more than 32 labels"));
    gpx_lease_spec_clear(&s);

    /* refusals, each naming the field as the caller wrote it */
    static const struct {
        enum gpx_field f;
        const char *text, *cli, *api;
    } bad[] = {
        {GPX_F_MODE, "shared", "--mode must be one of", "field 'mode' must be one of"},
        {GPX_F_MODE, "", "--mode must be one of", "field 'mode' must be one of"},
        {GPX_F_MODE, NULL, "--mode must be one of", "field 'mode' must be one of"},
        {GPX_F_GPU, "gpu0", "--gpu must be a GPU index or a UUID",
         "field 'gpu' must be a GPU index or a UUID"},
        {GPX_F_GPU, "1024", "--gpu must be", "field 'gpu' must be"},
        {GPX_F_GPU, "-1", "--gpu must be", "field 'gpu' must be"},
        {GPX_F_GPU, "", "--gpu must be", "field 'gpu' must be"},
        /* a bare number is refused with a hint */
        {GPX_F_MEMORY, "4096", "--memory: size '4096' has no unit: write 4096M or 4096G",
         "field 'memory': size '4096' has no unit: write 4096M or 4096G"},
        {GPX_F_MEMORY, "512K", "--memory must be at least 1M",
         "field 'memory' must be at least 1M"},
        {GPX_F_MEMORY, "-4G", "--memory", "field 'memory'"},
        {GPX_F_MEMORY, "4Q", "--memory", "field 'memory'"},
        {GPX_F_MEMORY, "", "--memory", "field 'memory'"},
        {GPX_F_WEIGHT, "0", "--weight must be a whole number from 1 to 10000",
         "field 'weight' must be a whole number from 1 to 10000"},
        {GPX_F_WEIGHT, "10001", "--weight must be", "field 'weight' must be"},
        {GPX_F_WEIGHT, "1.5", "--weight must be", "field 'weight' must be"},
        {GPX_F_WEIGHT, "+3", "--weight must be", "field 'weight' must be"},
        {GPX_F_CAP, "0", "--cap must be a percentage from 1 to 100",
         "field 'cap' must be a percentage from 1 to 100"},
        {GPX_F_CAP, "101", "--cap must be", "field 'cap' must be"},
        {GPX_F_CAP, "50%", "--cap must be", "field 'cap' must be"},
        {GPX_F_MIG_PROFILE, "3g/40gb", "--mig-profile must be a MIG profile name",
         "field 'mig_profile' must be a MIG profile name"},
        {GPX_F_MIG_PROFILE, "", "--mig-profile", "field 'mig_profile'"},
        {GPX_F_MIG_PROFILE, "0123456789012345678901234567890123", "--mig-profile",
         "field 'mig_profile'"},
        {GPX_F_LABELS, "novalue", "--label needs KEY=VALUE", "field 'labels' needs KEY=VALUE"},
        {GPX_F_LABELS, "=v", "--label needs KEY=VALUE", "field 'labels' needs KEY=VALUE"},
        {GPX_F_LABELS, "a b=c", "--label: label key 'a b' is invalid",
         "field 'labels': label key 'a b' is invalid"},
        {GPX_F_OWNERS, "0", "owner pids: '0' is not a process id",
         "field 'owner_pids': '0' is not a process id"},
        {GPX_F_OWNERS, "pid", "owner pids", "field 'owner_pids'"},
        {GPX_F_OWNERS, "2147483648", "owner pids", "field 'owner_pids'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_set_error(bad[i].f, bad[i].text, GPX_NAMING_CLI, bad[i].cli);
        expect_set_error(bad[i].f, bad[i].text, GPX_NAMING_API, bad[i].api);
    }
    /* a label value over 256 bytes */
    char big[300];
    memset(big, 'v', sizeof big);
    memcpy(big, "k=", 2);
    big[sizeof big - 1] = '\0';
    expect_set_error(GPX_F_LABELS, big, GPX_NAMING_CLI, "at most 256 bytes");
    /* an unknown field */
    gpx_lease_spec_init(&s);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F__COUNT, "x", GPX_NAMING_CLI, &err), -1);
    assert_int_equal(err.code, GPX_E_INTERNAL);

    /* the names */
    static const char *const names[GPX_F__COUNT][2] = {
        {"field 'mode'", "--mode"},     {"field 'gpu'", "--gpu"},
        {"field 'memory'", "--memory"}, {"field 'weight'", "--weight"},
        {"field 'cap'", "--cap"},       {"field 'mig_profile'", "--mig-profile"},
        {"field 'labels'", "--label"},  {"field 'owner_pids'", "owner pids"},
    };
    for (int fld = 0; fld < GPX_F__COUNT; fld++) {
        assert_string_equal(gpx_field_name((enum gpx_field)fld, GPX_NAMING_API), names[fld][0]);
        assert_string_equal(gpx_field_name((enum gpx_field)fld, GPX_NAMING_CLI), names[fld][1]);
    }
    assert_string_equal(gpx_field_name(GPX_F__COUNT, GPX_NAMING_CLI), "?");
    /* label keys through the direct call */
    assert_int_equal(gpx_lease_spec_label(&s, "", "v", GPX_NAMING_API, &err), -1);
    assert_int_equal(gpx_lease_spec_label(&s, "ok", "v", GPX_NAMING_API, &err), 0);
    assert_string_equal(s.labels, "{\"ok\":\"v\"}");
    gpx_lease_spec_clear(&s);
}

/* Sets the given fields (text; NULL = not given) and checks the spec. */
static int check(const char *mode, const char *memory, const char *weight, const char *cap,
                 const char *profile, int default_mode, enum gpx_naming n, struct gpx_lease_spec *s,
                 gpx_error *err)
{
    gpx_lease_spec_init(s);
    const char *v[] = {mode, memory, weight, cap, profile};
    const enum gpx_field fields[] = {GPX_F_MODE, GPX_F_MEMORY, GPX_F_WEIGHT, GPX_F_CAP,
                                     GPX_F_MIG_PROFILE};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (v[i] && gpx_lease_spec_set(s, fields[i], v[i], n, err) < 0)
            fail_msg("setting '%s': %s", v[i], err->msg);
    return gpx_lease_spec_check(s, default_mode, n, err);
}

static void expect_check_error(const char *mode, const char *memory, const char *weight,
                               const char *cap, const char *profile, int default_mode,
                               const char *cli, const char *api)
{
    struct gpx_lease_spec s;
    gpx_error err = {0};
    if (check(mode, memory, weight, cap, profile, default_mode, GPX_NAMING_CLI, &s, &err) == 0)
        fail_msg("accepted (CLI): mode %s", mode ? mode : "-");
    assert_int_equal(err.code, GPX_E_INVALID);
    if (!strstr(err.msg, cli))
        fail_msg("'%s' lacks '%s'", err.msg, cli);
    gpx_lease_spec_clear(&s);
    if (check(mode, memory, weight, cap, profile, default_mode, GPX_NAMING_API, &s, &err) == 0)
        fail_msg("accepted (API): mode %s", mode ? mode : "-");
    assert_int_equal(err.code, GPX_E_INVALID);
    if (!strstr(err.msg, api))
        fail_msg("'%s' lacks '%s'", err.msg, api);
    gpx_lease_spec_clear(&s);
}

static void test_spec_check(void **state)
{
    (void)state;
    struct gpx_lease_spec s;
    gpx_error err = {0};
    /* valid specs; shared leases get the default weight */
    static const struct {
        const char *mode, *memory, *weight, *cap, *profile;
        int want_mode;
        unsigned want_weight;
    } ok[] = {
        {"exclusive", NULL, NULL, NULL, NULL, GPX_MODE_EXCLUSIVE, 0},
        {"vgpu", "8G", NULL, NULL, NULL, GPX_MODE_VGPU, 1},
        {"vgpu", "8G", "4", "50", NULL, GPX_MODE_VGPU, 4},
        {"timeslice", NULL, NULL, NULL, NULL, GPX_MODE_TIMESLICE, 1},
        {"timeslice", "2G", "7", "30", NULL, GPX_MODE_TIMESLICE, 7},
        {"mig", NULL, NULL, NULL, "3g.40gb", GPX_MODE_MIG, 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        for (int n = 0; n < 2; n++)
            for (int dm = 0; dm < 2; dm++) {
                if (check(ok[i].mode, ok[i].memory, ok[i].weight, ok[i].cap, ok[i].profile, dm,
                          (enum gpx_naming)n, &s, &err) < 0)
                    fail_msg("%s: %s", ok[i].mode, err.msg);
                assert_int_equal(s.mode, ok[i].want_mode);
                assert_int_equal(s.weight, ok[i].want_weight);
                gpx_lease_spec_clear(&s);
            }
    /* a missing mode: an error, or the default from what was given */
    expect_check_error(NULL, NULL, NULL, NULL, NULL, 0, "--mode is required",
                       "field 'mode' is required");
    expect_check_error(NULL, "8G", NULL, NULL, NULL, 0, "--mode is required",
                       "field 'mode' is required");
    static const struct {
        const char *memory, *weight, *cap, *profile;
        int want;
    } dflt[] = {
        {NULL, NULL, NULL, NULL, GPX_MODE_EXCLUSIVE}, {"8G", NULL, NULL, NULL, GPX_MODE_VGPU},
        {"8G", "2", NULL, NULL, GPX_MODE_VGPU},       {NULL, "2", NULL, NULL, GPX_MODE_TIMESLICE},
        {NULL, NULL, "40", NULL, GPX_MODE_TIMESLICE}, {NULL, NULL, NULL, "1g.10gb", GPX_MODE_MIG},
    };
    for (size_t i = 0; i < sizeof dflt / sizeof dflt[0]; i++) {
        if (check(NULL, dflt[i].memory, dflt[i].weight, dflt[i].cap, dflt[i].profile, 1,
                  GPX_NAMING_CLI, &s, &err) < 0)
            fail_msg("default %zu: %s", i, err.msg);
        assert_int_equal(s.mode, dflt[i].want);
        gpx_lease_spec_clear(&s);
    }
    /* cross-field rules */
    expect_check_error("exclusive", "8G", NULL, NULL, NULL, 0,
                       "--memory does not apply to exclusive leases",
                       "field 'memory' does not apply to exclusive leases");
    expect_check_error("mig", "8G", NULL, NULL, "1g.10gb", 0,
                       "--memory does not apply to mig leases",
                       "field 'memory' does not apply to mig leases");
    expect_check_error("vgpu", NULL, NULL, NULL, NULL, 0, "vgpu leases need --memory (e.g. 8G)",
                       "vgpu leases need field 'memory' (e.g. 8G)");
    expect_check_error("vgpu", NULL, "3", NULL, NULL, 1, "vgpu leases need --memory",
                       "vgpu leases need field 'memory'");
    expect_check_error("exclusive", NULL, "2", NULL, NULL, 0,
                       "--weight and --cap apply to timeslice and vgpu leases only",
                       "fields 'weight' and 'cap' apply to timeslice and vgpu leases only");
    expect_check_error("exclusive", NULL, NULL, "50", NULL, 0, "--weight and --cap",
                       "fields 'weight' and 'cap'");
    expect_check_error("mig", NULL, "2", NULL, "1g.10gb", 0, "--weight and --cap",
                       "fields 'weight' and 'cap'");
    expect_check_error("mig", NULL, NULL, NULL, NULL, 0, "mig leases need --mig-profile",
                       "mig leases need field 'mig_profile'");
    expect_check_error("vgpu", "8G", NULL, NULL, "1g.10gb", 0,
                       "--mig-profile applies to mig leases only",
                       "field 'mig_profile' applies to mig leases only");
    expect_check_error("exclusive", NULL, NULL, NULL, "1g.10gb", 0, "--mig-profile applies",
                       "field 'mig_profile' applies");
    /* figures set directly (a host that filled the struct itself) are checked too */
    gpx_lease_spec_init(&s);
    s.mode = GPX_MODE_VGPU;
    s.memory = 1000;
    assert_int_equal(gpx_lease_spec_check(&s, 0, GPX_NAMING_CLI, &err), -1);
    assert_non_null(strstr(err.msg, "--memory must be at least 1M"));
    s.memory = GIB;
    s.weight = GPX_MAX_WEIGHT + 1;
    assert_int_equal(gpx_lease_spec_check(&s, 0, GPX_NAMING_API, &err), -1);
    assert_non_null(strstr(err.msg, "field 'weight' or field 'cap' out of range"));
    s.weight = 0;
    s.cap = 101;
    assert_int_equal(gpx_lease_spec_check(&s, 0, GPX_NAMING_CLI, &err), -1);
    assert_non_null(strstr(err.msg, "--weight or --cap out of range"));
    s.mode = 9;
    s.cap = 0;
    assert_int_equal(gpx_lease_spec_check(&s, 0, GPX_NAMING_CLI, &err), -1);
    assert_non_null(strstr(err.msg, "--mode must be one of"));
    gpx_lease_spec_clear(&s);
}

/* Usage by label (a Slurm job's slurm_job=ID): only the leases that carry it, in both arrays. */
static void test_usage_label(void **state)
{
    struct fx *f = *state;
    open_engine(f, 0, GPX_PLACE_BINPACK, 1.0);
    gpx_error err = {0};
    struct gpx_lease l1, l2, l3;
    const char *labels[3] = {"slurm_job=7", "slurm_job=8", "other=7"};
    struct gpx_lease *out[3] = {&l1, &l2, &l3};
    for (int i = 0; i < 3; i++) {
        struct gpx_lease_spec s;
        gpx_lease_spec_init(&s);
        assert_int_equal(gpx_lease_spec_set(&s, GPX_F_MEMORY, "1G", GPX_NAMING_CLI, &err), 0);
        assert_int_equal(gpx_lease_spec_set(&s, GPX_F_LABELS, labels[i], GPX_NAMING_CLI, &err), 0);
        assert_int_equal(gpx_lease_spec_check(&s, 1, GPX_NAMING_CLI, &err), 0);
        if (gpx_engine_lease_create(f->e, &f->admin, &s, out[i], &err) < 0)
            fail_msg("creating: %s", err.msg);
        gpx_lease_spec_clear(&s);
    }
    must_release(f, &f->admin, l1.rec.id);
    struct gpx_usage u;
    assert_int_equal(gpx_engine_usage_labeled(f->e, &f->admin, NULL, "slurm_job=7", 0, 0, &u, &err),
                     0);
    assert_int_equal(u.n_leases, 1);
    assert_string_equal(u.leases[0].id, l1.rec.id);
    assert_int_equal(u.n_tenants, 1);
    assert_int_equal(u.tenants[0].leases, 1);
    assert_true(u.leases[0].memory_quota_gib_seconds > 0);
    gpx_usage_free(&u);
    assert_int_equal(gpx_engine_usage_labeled(f->e, &f->admin, NULL, "slurm_job=9", 0, 0, &u, &err),
                     0);
    assert_int_equal(u.n_leases, 0);
    assert_int_equal(u.n_tenants, 0);
    gpx_usage_free(&u);
    assert_int_equal(gpx_engine_usage_labeled(f->e, &f->admin, NULL, NULL, 0, 0, &u, &err), 0);
    assert_int_equal(u.n_leases, 3);
    gpx_usage_free(&u);
    assert_int_equal(gpx_engine_usage_labeled(f->e, &f->admin, NULL, "slurm_job", 0, 0, &u, &err),
                     -1);
    assert_int_equal(err.code, GPX_E_INVALID);
    assert_non_null(strstr(err.msg, "KEY=VALUE"));
    assert_int_equal(gpx_engine_usage_labeled(f->e, &f->admin, NULL, "=7", 0, 0, &u, &err), -1);
}

/* The SPANK plugin's naming: its options in every message. */
static void test_spec_slurm_naming(void **state)
{
    (void)state;
    struct gpx_lease_spec s;
    gpx_error err = {0};
    gpx_lease_spec_init(&s);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_CAP, "200", GPX_NAMING_SLURM, &err), -1);
    assert_string_equal(err.msg, "--gpuplex-cap must be a percentage from 1 to 100, not '200'");
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_MODE, "vgpu", GPX_NAMING_SLURM, &err), 0);
    assert_int_equal(gpx_lease_spec_check(&s, 1, GPX_NAMING_SLURM, &err), -1);
    assert_string_equal(err.msg, "vgpu leases need --gpuplex-memory (e.g. 8G)");
    gpx_lease_spec_clear(&s);
    gpx_lease_spec_init(&s);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_MODE, "exclusive", GPX_NAMING_SLURM, &err), 0);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_WEIGHT, "2", GPX_NAMING_SLURM, &err), 0);
    assert_int_equal(gpx_lease_spec_check(&s, 1, GPX_NAMING_SLURM, &err), -1);
    assert_string_equal(
        err.msg, "--gpuplex-weight and --gpuplex-cap apply to timeslice and vgpu leases only");
    gpx_lease_spec_clear(&s);
}

/*
 * Labels starting with "gpuplex." are gpuplexd's own (its VM, function and container machinery
 * acts on them): a caller's --label / "labels" with one is refused naming the field and the
 * prefix; gpuplex's own code adds them (gpx_lease_spec_label), and a lease made for
 * containers asks with for_container, to which the engine adds gpuplex.container=1.
 */
static void test_labels_reserved(void **state)
{
    struct fx *f = *state;
    open_engine(f, 0, GPX_PLACE_BINPACK, 1.0);
    gpx_error err = {0};
    static const char *const keys[] = {"gpuplex.vm",      "gpuplex.function", "gpuplex.container",
                                       "gpuplex.managed", "gpuplex.replica",  "gpuplex.anything",
                                       "gpuplex."};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char kv[64];
        snprintf(kv, sizeof kv, "%s=1", keys[i]);
        assert_true(gpx_label_reserved(keys[i]));
        expect_set_error(GPX_F_LABELS, kv, GPX_NAMING_CLI, "--label: label key '");
        expect_set_error(GPX_F_LABELS, kv, GPX_NAMING_CLI,
                         "reserved: keys starting with 'gpuplex.'");
        expect_set_error(GPX_F_LABELS, kv, GPX_NAMING_CLI, "--for-container");
        expect_set_error(GPX_F_LABELS, kv, GPX_NAMING_API, "field 'labels': label key '");
        expect_set_error(GPX_F_LABELS, kv, GPX_NAMING_API, "'gpuplex.'");
        expect_set_error(GPX_F_LABELS, kv, GPX_NAMING_API, "\"for_container\": true");
    }
    /* only the prefix with its dot: other keys that merely start alike are a tenant's */
    static const char *const free_keys[] = {"gpuplex",      "gpuplex_bench", "gpuplex-x",
                                            "x.gpuplex.vm", "GPUPLEX.vm",    "bench"};
    struct gpx_lease_spec s;
    gpx_lease_spec_init(&s);
    for (size_t i = 0; i < sizeof free_keys / sizeof free_keys[0]; i++) {
        char kv[64];
        snprintf(kv, sizeof kv, "%s=1", free_keys[i]);
        assert_false(gpx_label_reserved(free_keys[i]));
        assert_int_equal(gpx_lease_spec_set(&s, GPX_F_LABELS, kv, GPX_NAMING_CLI, &err), 0);
    }
    gpx_lease_spec_clear(&s);
    /* gpuplex's own paths add them directly */
    gpx_lease_spec_init(&s);
    assert_int_equal(
        gpx_lease_spec_label(&s, "gpuplex.vm", "vm-0123456789ab", GPX_NAMING_API, &err), 0);
    assert_int_equal(gpx_lease_spec_user_label(&s, "gpuplex.function", "f", GPX_NAMING_API, &err),
                     -1);
    assert_string_equal(s.labels, "{\"gpuplex.vm\":\"vm-0123456789ab\"}");
    gpx_lease_spec_clear(&s);

    /* made for containers: the engine adds the label, next to the caller's own */
    struct gpx_lease l;
    gpx_lease_spec_init(&s);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_MODE, "timeslice", GPX_NAMING_CLI, &err), 0);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_LABELS, "team=ml", GPX_NAMING_CLI, &err), 0);
    s.for_container = 1;
    assert_int_equal(gpx_engine_lease_create(f->e, &f->admin, &s, &l, &err), 0);
    assert_string_equal(l.rec.labels, "{\"gpuplex.container\":\"1\",\"team\":\"ml\"}");
    assert_string_equal(s.labels, "{\"team\":\"ml\"}"); /* the caller's spec is left alone */
    must_release(f, &f->admin, l.rec.id);
    gpx_lease_spec_clear(&s);
    gpx_lease_spec_init(&s);
    assert_int_equal(gpx_lease_spec_set(&s, GPX_F_MODE, "timeslice", GPX_NAMING_CLI, &err), 0);
    s.for_container = 1;
    assert_int_equal(gpx_engine_lease_create(f->e, &f->admin, &s, &l, &err), 0);
    assert_string_equal(l.rec.labels, "{\"gpuplex.container\":\"1\"}");
    assert_null(s.labels);
    must_release(f, &f->admin, l.rec.id);
    /* without it: no such label */
    s.for_container = 0;
    assert_int_equal(gpx_engine_lease_create(f->e, &f->admin, &s, &l, &err), 0);
    assert_string_equal(l.rec.labels, "{}");
    must_release(f, &f->admin, l.rec.id);
    gpx_lease_spec_clear(&s);
}

int main(void)
{
    gpx_log_set_level(GPX_LOG_ERROR);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_admission_exclusive),
        T(test_admission_quota),
        T(test_admission_oversubscription),
        T(test_unknown_gpu),
        T(test_placement),
        T(test_tenant_quotas),
        T(test_tenant_visibility),
        T(test_admission_unquoted),
        T(test_admin_uids),
        T(test_owner_pids_private),
        T(test_tenant_readd),
        T(test_tenant_max_leases),
        T(test_journal_daemon),
        T(test_journal_cli),
        T(test_owner_exit),
        T(test_pending_aborted_daemon),
        T(test_pending_aborted_cli),
        T(test_backends),
        T(test_backend_mig),
        T(test_observers),
        T(test_daemon_lock),
        cmocka_unit_test(test_spec_set),
        cmocka_unit_test(test_spec_check),
        T(test_usage_label),
        cmocka_unit_test(test_spec_slurm_naming),
        T(test_labels_reserved),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
