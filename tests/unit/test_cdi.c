/* src/cdi: the rendered spec (names, nodes, env, mounts), MIG capability nodes, the ld.so
 * cache, the driver file search and the atomic write. */
#include "cdi/cdi.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static char tmp[PATH_MAX];

static void put(const char *rel, const char *text)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", tmp, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void sub(const char *rel)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", tmp, rel);
    char cmd[PATH_MAX + 80];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", p);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/gpx-test-cdi.XXXXXX");
    assert_non_null(mkdtemp(tmp));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd);
}

static json_t *device(json_t *spec, const char *name)
{
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(spec, "devices"), i, d)
    {
        if (strcmp(json_string_value(json_object_get(d, "name")), name) == 0)
            return json_object_get(d, "containerEdits");
    }
    return NULL;
}

static int has_env(json_t *edits, const char *kv)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(edits, "env"), i, e)
    {
        if (strcmp(json_string_value(e), kv) == 0)
            return 1;
    }
    return 0;
}

static void node_of_two(struct gpx_cdi_node *n)
{
    n->count = 2;
    n->gpus = calloc(2, sizeof *n->gpus);
    assert_non_null(n->gpus);
    n->gpus[0].index = 0;
    n->gpus[0].minor = 3; /* a minor unlike the index: nodes follow the minor */
    snprintf(n->gpus[0].uuid, sizeof n->gpus[0].uuid, "GPU-aaaa");
    n->gpus[0].n_mig = 1;
    n->gpus[0].mig[0] = (struct gpx_cdi_mig){.index = 0, .gi = 1, .ci = 0};
    snprintf(n->gpus[0].mig[0].uuid, sizeof n->gpus[0].mig[0].uuid, "MIG-bbbb");
    n->gpus[1].index = 1;
    n->gpus[1].minor = 1;
    snprintf(n->gpus[1].uuid, sizeof n->gpus[1].uuid, "GPU-cccc");
}

static void test_render(void **state)
{
    (void)state;
    sub("dev/nvidia-caps");
    char p[PATH_MAX + 64];
    /* regular files are not device nodes: only char devices count; mknod needs root */
    const char *nodes[] = {"nvidia3", "nvidia1", "nvidiactl", "nvidia-caps/nvidia-cap12",
                           "nvidia-caps/nvidia-cap13"};
    int can_mknod = 1;
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        snprintf(p, sizeof p, "%s/dev/%s", tmp, nodes[i]);
        if (mknod(p, S_IFCHR | 0666, makedev(1, 3)) < 0)
            can_mknod = 0;
    }
    sub("caps/gpu3/mig/gi1/ci0");
    put("caps/gpu3/mig/gi1/access", "DeviceFileMinor: 12\nDeviceFileMode: 292\n");
    put("caps/gpu3/mig/gi1/ci0/access", "DeviceFileMinor: 13\nDeviceFileMode: 292\n");
    char dev[PATH_MAX + 8], caps[PATH_MAX + 8], run[PATH_MAX + 8];
    snprintf(dev, sizeof dev, "%s/dev", tmp);
    snprintf(caps, sizeof caps, "%s/caps", tmp);
    snprintf(run, sizeof run, "%s/run", tmp);

    struct gpx_cdi_node n;
    node_of_two(&n);
    struct gpx_lease_rec l[3];
    memset(l, 0, sizeof l);
    snprintf(l[0].id, sizeof l[0].id, "l-1");
    l[0].state = GPX_LS_ACTIVE;
    l[0].mode = GPX_MODE_VGPU;
    snprintf(l[0].gpu_uuid, sizeof l[0].gpu_uuid, "GPU-cccc");
    l[0].mig_gi = l[0].mig_ci = -1;
    snprintf(l[1].id, sizeof l[1].id, "l-2");
    l[1].state = GPX_LS_ACTIVE;
    l[1].mode = GPX_MODE_MIG;
    snprintf(l[1].gpu_uuid, sizeof l[1].gpu_uuid, "GPU-aaaa");
    snprintf(l[1].mig_uuid, sizeof l[1].mig_uuid, "MIG-bbbb");
    l[1].mig_gi = 1;
    l[1].mig_ci = 0;
    l[2] = l[0];
    snprintf(l[2].id, sizeof l[2].id, "l-3");
    l[2].state = GPX_LS_RELEASED; /* never in a spec */

    struct gpx_cdi_opts o = {.dev_root = dev,
                             .caps_root = caps,
                             .run_dir = run,
                             .interposer = "/opt/gpuplex/libgpuplex-cuda.so",
                             .env = "A=1 B=x=y",
                             .mounts = "/srv/a,/srv/b:/b:rw"};
    gpx_error err = {0};
    json_t *s = gpx_cdi_render(&o, &n, NULL, l, 3, &err);
    assert_non_null(s);
    assert_string_equal(json_string_value(json_object_get(s, "cdiVersion")), "0.5.0");
    assert_string_equal(json_string_value(json_object_get(s, "kind")), "gpuplex.dev/gpu");

    char **names;
    unsigned nn;
    assert_int_equal(gpx_cdi_names(s, &names, &nn), 0);
    const char *want[] = {"gpuplex.dev/gpu=0",         "gpuplex.dev/gpu=GPU-aaaa",
                          "gpuplex.dev/gpu=0:0",       "gpuplex.dev/gpu=MIG-bbbb",
                          "gpuplex.dev/gpu=1",         "gpuplex.dev/gpu=GPU-cccc",
                          "gpuplex.dev/gpu=lease-l-1", "gpuplex.dev/gpu=lease-l-2"};
    assert_int_equal(nn, sizeof want / sizeof want[0]);
    for (unsigned i = 0; i < nn; i++) {
        assert_string_equal(names[i], want[i]);
        free(names[i]);
    }
    free(names);

    json_t *g0 = device(s, "0"), *mig = device(s, "0:0"), *l1 = device(s, "lease-l-1"),
           *l2 = device(s, "lease-l-2");
    assert_true(has_env(g0, "CUDA_VISIBLE_DEVICES=GPU-aaaa"));
    assert_true(has_env(mig, "CUDA_VISIBLE_DEVICES=MIG-bbbb"));
    assert_true(has_env(l1, "GPUPLEX_LEASE=l-1"));
    assert_true(has_env(l1, "LD_PRELOAD=/opt/gpuplex/libgpuplex-cuda.so"));
    assert_true(has_env(l2, "CUDA_VISIBLE_DEVICES=MIG-bbbb"));
    assert_false(has_env(l2, "LD_PRELOAD=/opt/gpuplex/libgpuplex-cuda.so"));
    /* vgpu: the interposer, its limits read-only, its usage writable; mig: no mounts */
    json_t *m = json_object_get(l1, "mounts");
    assert_int_equal(json_array_size(m), 3);
    snprintf(p, sizeof p, "%s/leases/l-1.usage", run);
    assert_string_equal(json_string_value(json_object_get(json_array_get(m, 2), "hostPath")), p);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(json_array_get(m, 2), "options"), 0)),
        "rw");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(json_array_get(m, 1), "options"), 0)),
        "ro");
    assert_int_equal(json_array_size(json_object_get(l2, "mounts")), 0);
    if (can_mknod) {
        json_t *gn = json_object_get(g0, "deviceNodes");
        assert_int_equal(json_array_size(gn), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(gn, 0), "path")),
                            "/dev/nvidia3");
        /* a MIG device: its GPU's node and its two capability nodes */
        json_t *mn = json_object_get(mig, "deviceNodes");
        assert_int_equal(json_array_size(mn), 3);
        assert_string_equal(json_string_value(json_object_get(json_array_get(mn, 2), "path")),
                            "/dev/nvidia-caps/nvidia-cap13");
        assert_int_equal(json_array_size(json_object_get(l2, "deviceNodes")), 3);
        assert_int_equal(json_array_size(json_object_get(l1, "deviceNodes")), 1);
        json_t *c = json_object_get(s, "containerEdits");
        /* nvidiactl only: the host lacks nvidia-uvm(-tools) here, so they are left out */
        assert_int_equal(json_array_size(json_object_get(c, "deviceNodes")), 1);
    }
    json_t *c = json_object_get(s, "containerEdits");
    assert_true(has_env(c, "A=1"));
    assert_true(has_env(c, "B=x=y"));
    json_t *cm = json_object_get(c, "mounts");
    assert_int_equal(json_array_size(cm), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cm, 1), "containerPath")),
                        "/b");
    json_decref(s);

    /* configuration errors name the key */
    o.env = "NOVALUE";
    assert_null(gpx_cdi_render(&o, &n, NULL, l, 1, &err));
    assert_non_null(strstr(err.msg, "cdi_env"));
    o.env = NULL;
    o.mounts = "relative/path";
    assert_null(gpx_cdi_render(&o, &n, NULL, l, 1, &err));
    assert_non_null(strstr(err.msg, "cdi_mounts"));
    o.mounts = NULL;
    /* a vgpu lease without an interposer could not be held to its quota: no device */
    o.interposer = NULL;
    s = gpx_cdi_render(&o, &n, NULL, l, 2, &err);
    assert_non_null(s);
    assert_null(device(s, "lease-l-1"));
    assert_non_null(device(s, "lease-l-2"));
    json_decref(s);
    o.cdi_version = "0.6.0";
    s = gpx_cdi_render(&o, &n, NULL, NULL, 0, &err);
    assert_string_equal(json_string_value(json_object_get(s, "cdiVersion")), "0.6.0");
    json_decref(s);
    gpx_cdi_node_free(&n);
}

static void test_mig_caps(void **state)
{
    (void)state;
    sub("c/gpu0/mig/gi2/ci1");
    put("c/gpu0/mig/gi2/access", "DeviceFileMinor: 21\nDeviceFileMode: 292\n");
    put("c/gpu0/mig/gi2/ci1/access", "DeviceFileMode: 292\nDeviceFileMinor: 22\n");
    char root[PATH_MAX + 8];
    snprintf(root, sizeof root, "%s/c", tmp);
    unsigned m[2];
    assert_int_equal(gpx_cdi_mig_caps(root, 0, 2, 1, m), 2);
    assert_int_equal(m[0], 21);
    assert_int_equal(m[1], 22);
    assert_int_equal(gpx_cdi_mig_caps(root, 1, 2, 1, m), 0); /* another GPU: none */
}

static void test_ldcache(void **state)
{
    (void)state;
    char path[PATH_MAX];
    gpx_error err = {0};
    /* this host's own cache: libc is in it, as ldconfig -p lists it */
    int rc = gpx_cdi_ldcache_lookup("/etc/ld.so.cache", "libc.so.6", path, sizeof path, &err);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(path, "/libc.so.6"));
    assert_int_equal(access(path, R_OK), 0);
    assert_int_equal(
        gpx_cdi_ldcache_lookup("/etc/ld.so.cache", "libnot-there.so.9", path, sizeof path, &err),
        0);
    /* not a cache: an error, never a crash */
    put("bogus", "glibc-ld.so.cache1.1 but truncated");
    char bogus[PATH_MAX + 8];
    snprintf(bogus, sizeof bogus, "%s/bogus", tmp);
    assert_int_equal(gpx_cdi_ldcache_lookup(bogus, "libc.so.6", path, sizeof path, &err), -1);
    put("bogus", "hello");
    assert_int_equal(gpx_cdi_ldcache_lookup(bogus, "libc.so.6", path, sizeof path, &err), -1);
}

static void test_driver_files(void **state)
{
    (void)state;
    /* cdi_driver_libs: a directory searched first (links resolved), a file taken as it is */
    sub("drv");
    put("drv/libcuda.so.1.550", "x");
    put("drv/extra.bin", "x");
    char p[PATH_MAX + 64], t[PATH_MAX + 64], libs[2 * PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/drv/libcuda.so.1", tmp);
    snprintf(t, sizeof t, "%s/drv/libcuda.so.1.550", tmp);
    assert_int_equal(symlink(t, p), 0);
    snprintf(libs, sizeof libs, "%s/drv:%s/drv/extra.bin:/nonexistent", tmp, tmp);
    struct gpx_cdi_opts o = {.driver_libs = libs};
    struct gpx_cdi_files f;
    gpx_error err = {0};
    assert_int_equal(gpx_cdi_find_driver_files(&o, &f, &err), 0);
    int cuda = 0, extra = 0;
    for (unsigned i = 0; i < f.n; i++) {
        if (strcmp(f.container[i], p) == 0) {
            cuda = 1;
            assert_string_equal(f.host[i], t);
        }
        if (strstr(f.container[i], "/drv/extra.bin"))
            extra = 1;
    }
    assert_true(cuda);
    assert_true(extra);
    gpx_cdi_files_free(&f);
}

static void test_write(void **state)
{
    (void)state;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/new/dir/gpuplex.json", tmp);
    json_t *s = json_pack("{s:s}", "kind", "gpuplex.dev/gpu");
    gpx_error err = {0};
    assert_int_equal(gpx_cdi_write(path, s, &err), 0);
    assert_int_equal(gpx_cdi_write(path, s, &err), 0); /* over an old one */
    json_decref(s);
    json_error_t je;
    json_t *back = json_load_file(path, 0, &je);
    assert_non_null(back);
    assert_string_equal(json_string_value(json_object_get(back, "kind")), "gpuplex.dev/gpu");
    json_decref(back);
    /* no temporary file is left */
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "test \"$(ls -A '%s/new/dir')\" = gpuplex.json", tmp);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_render, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mig_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ldcache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_driver_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
