/*
 * src/vm's backends against the simulated host's sysfs (`gpuplex sim init
 * --sysfs`), with gpuplex-sim-kernel playing the kernel: the order of the
 * binding writes (the kernel's log), available_instances respected, release
 * restoring the original drivers, restore after a simulated reboot, the
 * reconcile of an orphan on vfio-pci, and the parsers.
 */
#define _GNU_SOURCE
#include "vm/vm.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define A100       "0000:18:00.0"
#define A100_AUDIO "0000:18:00.1"
#define H100       "0000:2a:00.0"

static char dir[] = "/tmp/gpx-vm-XXXXXX";
static char sysfs[128], foreign[128];
static pid_t kernel = -1;

/* --- the journal: what the daemon would store, here in memory ----------------------------- */

struct rec {
    char lines[256][160];
    int n;
};
static int record(void *ctx, const char *lease_id, const struct gpx_vm_change *c, gpx_error *err)
{
    (void)err;
    struct rec *r = ctx;
    if (r->n < 256)
        snprintf(r->lines[r->n++], sizeof r->lines[0], "%s %s=%s", lease_id, c->path, c->value);
    return 0;
}

/* --- the simulated host ------------------------------------------------------------------- */

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static void start_kernel(void)
{
    char ready[256];
    snprintf(ready, sizeof ready, "%s/.kernel.ready", sysfs);
    unlink(ready);
    kernel = fork();
    if (kernel == 0) {
        execl(GPX_SIM_LIB_DIR "/gpuplex-sim-kernel", "gpuplex-sim-kernel", "--sysfs", sysfs,
              (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500 && access(ready, F_OK) != 0; i++)
        usleep(10000);
}

static void stop_kernel(void)
{
    if (kernel > 0) {
        kill(kernel, SIGTERM);
        waitpid(kernel, NULL, 0);
        kernel = -1;
    }
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(sysfs, sizeof sysfs, "%s/sys", dir);
    snprintf(foreign, sizeof foreign, "%s/sys-foreign", dir);
    if (run("%s/gpuplex-sim init --gpus 1xA100-40GB,1xH100-80GB --state %s/st --sysfs %s "
            ">/dev/null",
            GPX_SIM_LIB_DIR, dir, sysfs) != 0 ||
        run("%s/gpuplex-sim init --gpus 1xA100-40GB,1xH100-80GB --state %s/st2 --sysfs %s "
            "--sysfs-foreign 0 >/dev/null",
            GPX_SIM_LIB_DIR, dir, foreign) != 0)
        return -1;
    setenv("GPUPLEX_SYSFS_ROOT", sysfs, 1);
    setenv("GPUPLEX_SYSFS_SETTLE_MS", "5000", 1);
    start_kernel();
    return kernel > 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    stop_kernel();
    if (getenv("GPX_TEST_KEEP"))
        return 0;
    return run("rm -rf %s", dir) == 0 ? 0 : -1;
}

static void driver_of(const char *bdf, char *out, size_t len)
{
    char p[512], t[512];
    snprintf(p, sizeof p, "%s/bus/pci/devices/%s/driver", sysfs, bdf);
    ssize_t n = readlink(p, t, sizeof t - 1);
    out[0] = '\0';
    if (n > 0) {
        t[n] = '\0';
        snprintf(out, len, "%s", strrchr(t, '/') + 1);
    }
}

/* The kernel's log from line `from` on, as one string. */
static char *klog(long *from)
{
    char p[512];
    static char buf[65536];
    snprintf(p, sizeof p, "%s/.kernel.log", sysfs);
    FILE *f = fopen(p, "r");
    buf[0] = '\0';
    if (!f)
        return buf;
    fseek(f, *from, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    *from = ftell(f);
    fclose(f);
    return buf;
}

/* The log from `*from` once it holds `last` (the kernel logs an action just after it). */
static char *klog_until(long *from, const char *last)
{
    long start = *from;
    char *log = klog(from);
    for (int i = 0; i < 500 && !strstr(log, last); i++) {
        usleep(10000);
        *from = start;
        log = klog(from);
    }
    return log;
}

static long log_end(void)
{
    long at = 0;
    klog(&at);
    return at;
}

static const struct gpx_vm_type *find_type(const struct gpx_vm_type_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->types[i].name, name) == 0)
            return &l->types[i];
    return NULL;
}

static unsigned avail(const char *bdf, const char *name)
{
    struct gpx_vm_type_list l;
    gpx_error e = {0};
    assert_int_equal(gpx_vm_types(bdf, &l, &e), 0);
    const struct gpx_vm_type *t = find_type(&l, name);
    unsigned a = t ? t->available : 9999;
    gpx_vm_type_list_free(&l);
    return a;
}

/* The kernel helper keeps the counts a moment after a write: wait for `want`. */
static unsigned avail_settled(const char *bdf, const char *name, unsigned want)
{
    unsigned a = avail(bdf, name);
    for (int i = 0; i < 500 && a != want; i++) {
        usleep(10000);
        a = avail(bdf, name);
    }
    return a;
}

/* --- parsers -------------------------------------------------------------------------------- */

static void test_parse_creatable(void **state)
{
    (void)state;
    struct gpx_vm_type_list l;
    gpx_error e = {0};
    assert_int_equal(gpx_vm_parse_creatable("ID    : vGPU Name\n1059  : H100-1-10C\n"
                                            "1058 : H100-80C\n\n",
                                            &l, &e),
                     0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.types[0].id, "1059");
    assert_string_equal(l.types[0].name, "H100-1-10C");
    assert_true(l.types[0].mig_backed);
    assert_int_equal(l.types[0].framebuffer_mib, 10240);
    assert_false(l.types[1].mig_backed);
    assert_int_equal(l.types[1].framebuffer_mib, 81920);
    gpx_vm_type_list_free(&l);
    /* a header only: nothing creatable */
    assert_int_equal(gpx_vm_parse_creatable("ID    : vGPU Name\n", &l, &e), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(gpx_vm_parse_creatable("", &l, &e), 0);
    assert_int_equal(l.n, 0);
    /* malformed lines are refused with the line named */
    assert_int_equal(gpx_vm_parse_creatable("ID : vGPU Name\nfoo bar\n", &l, &e), -1);
    assert_non_null(strstr(e.msg, "foo bar"));
    assert_int_equal(gpx_vm_parse_creatable("ID : x\n12 H100-4C\n", &l, &e), -1);
    assert_int_equal(gpx_vm_parse_creatable("ID : x\n12 :   \n", &l, &e), -1);
    assert_int_equal(gpx_vm_parse_creatable("ID : x\n0 : A\n", &l, &e), -1);
}

static void test_names_and_addresses(void **state)
{
    (void)state;
    assert_int_equal(gpx_vm_type_framebuffer_mib("A100-4C"), 4096);
    assert_int_equal(gpx_vm_type_framebuffer_mib("A100-1-5C"), 5120);
    assert_int_equal(gpx_vm_type_framebuffer_mib("nonsense"), 0);
    assert_int_equal(gpx_vm_type_framebuffer_mib("X-"), 0);
    struct gpx_vm_pci_addr a;
    char out[GPX_VM_BDF_MAX];
    assert_int_equal(gpx_vm_bdf_parse("00000000:3B:00.1", &a), 0);
    gpx_vm_bdf_format(&a, out);
    assert_string_equal(out, "0000:3b:00.1");
    assert_int_equal(gpx_vm_bdf_parse("3b:1f.7", &a), 0);
    assert_int_equal(a.slot, 0x1f);
    assert_int_equal(gpx_vm_bdf_parse("3b:20.0", &a), -1);
    assert_int_equal(gpx_vm_bdf_parse("0000:3b:00.8", &a), -1);
    assert_int_equal(gpx_vm_bdf_parse(" 3b:00.0", &a), -1);
    assert_int_equal(gpx_vm_bdf_parse("0x3b:00.0", &a), -1);
    assert_int_equal(gpx_vm_backend_parse("vendor-vfio"), GPX_VM_VENDOR_VFIO);
    assert_int_equal(gpx_vm_backend_parse("nope"), -1);
}

static void test_hold_json(void **state)
{
    (void)state;
    struct gpx_vm_hold h = {0}, back;
    h.backend = GPX_VM_PASSTHROUGH;
    h.gpu_instance_id = -1;
    snprintf(h.gpu_bdf, sizeof h.gpu_bdf, A100);
    snprintf(h.pci[0], sizeof h.pci[0], A100);
    snprintf(h.orig_driver[0], sizeof h.orig_driver[0], "nvidia");
    snprintf(h.pci[1], sizeof h.pci[1], A100_AUDIO);
    snprintf(h.orig_driver[1], sizeof h.orig_driver[1], "snd_hda_intel");
    h.npci = 2;
    char *s = gpx_vm_hold_to_json(&h);
    gpx_error e = {0};
    assert_int_equal(gpx_vm_hold_from_json(s, &back, &e), 0);
    free(s);
    assert_memory_equal(&h, &back, sizeof h);
    struct gpx_vm_hostdev hd[4];
    assert_int_equal(gpx_vm_hostdevs(&h, hd, 4), 2);
    assert_int_equal(hd[1].kind, GPX_VM_HOSTDEV_PCI);
    assert_int_equal(hd[1].addr.bus, 0x18);
    assert_int_equal(hd[1].addr.function, 1);
    assert_int_equal(gpx_vm_hold_from_json("[]", &back, &e), -1);
    assert_int_equal(gpx_vm_hold_from_json("{\"backend\":\"warp\"}", &back, &e), -1);
}

/* --- detection and the group ------------------------------------------------------------------ */

static void test_detect_and_probe(void **state)
{
    (void)state;
    assert_int_equal(gpx_vm_detect(A100), GPX_VM_MDEV);
    assert_int_equal(gpx_vm_detect(H100), GPX_VM_VENDOR_VFIO);
    struct gpx_vm_probe p;
    gpx_error e = {0};
    assert_int_equal(gpx_vm_probe(A100, &p, &e), 0);
    assert_true(p.passthrough_ok);
    assert_int_equal(p.nmembers, 3); /* GPU, its audio function, the bridge */
    assert_string_equal(p.members[0].bdf, A100);
    assert_string_equal(p.members[0].driver, "nvidia");
    /* the H100's VFs are enabled (vGPUs): no passthrough */
    assert_int_equal(gpx_vm_probe(H100, &p, &e), 0);
    assert_false(p.passthrough_ok);
    assert_non_null(strstr(p.why_not, "SR-IOV"));
    assert_int_equal(gpx_vm_probe("0000:99:00.0", &p, &e), -1);
    assert_int_equal(e.code, GPX_E_NOT_FOUND);
}

static void test_foreign_device_refused(void **state)
{
    (void)state;
    setenv("GPUPLEX_SYSFS_ROOT", foreign, 1);
    struct gpx_vm_probe p;
    gpx_error e = {0};
    assert_int_equal(gpx_vm_probe(A100, &p, &e), 0);
    assert_false(p.passthrough_ok);
    assert_non_null(strstr(p.why_not, "0000:19:00.0"));
    assert_non_null(strstr(p.why_not, "e1000e"));
    struct gpx_vm_request req = {.backend = GPX_VM_PASSTHROUGH, .lease_id = "l1"};
    struct gpx_vm_hold h;
    struct rec r = {0};
    struct gpx_vm_journal j = {record, &r};
    assert_int_equal(gpx_vm_acquire(A100, &req, &j, &h, &e), -1);
    assert_int_equal(e.code, GPX_E_BUSY);
    assert_int_equal(r.n, 0); /* nothing was written */
    setenv("GPUPLEX_SYSFS_ROOT", sysfs, 1);
}

/* --- passthrough ------------------------------------------------------------------------------ */

static void test_passthrough_order_and_release(void **state)
{
    (void)state;
    long at = log_end();
    struct gpx_vm_request req = {.backend = GPX_VM_PASSTHROUGH, .lease_id = "l-pt"};
    struct gpx_vm_hold h;
    struct rec r = {0};
    struct gpx_vm_journal j = {record, &r};
    gpx_error e = {0};
    assert_int_equal(gpx_vm_acquire(A100, &req, &j, &h, &e), 0);
    assert_int_equal(h.npci, 2);
    assert_string_equal(h.orig_driver[0], "nvidia");
    assert_string_equal(h.orig_driver[1], "snd_hda_intel");
    char drv[64];
    driver_of(A100, drv, sizeof drv);
    assert_string_equal(drv, "vfio-pci");
    driver_of(A100_AUDIO, drv, sizeof drv);
    assert_string_equal(drv, "vfio-pci");
    /* the kernel saw libvirt's order: override, unbind, probe; the GPU before its audio */
    const char *log = klog_until(&at, "drivers_probe " A100_AUDIO " -> vfio-pci");
    const char *o = strstr(log, "driver_override " A100 " vfio-pci");
    const char *u = strstr(log, "unbind nvidia " A100);
    const char *pr = strstr(log, "drivers_probe " A100 " -> vfio-pci");
    const char *a = strstr(log, "driver_override " A100_AUDIO " vfio-pci");
    assert_non_null(o);
    assert_non_null(u);
    assert_non_null(pr);
    assert_non_null(a);
    assert_true(o < u && u < pr && pr < a);
    /* each write journaled before it was made, in the same order */
    assert_int_equal(r.n, 6);
    assert_non_null(strstr(r.lines[0], "l-pt bus/pci/devices/" A100 "/driver_override=vfio-pci"));
    assert_non_null(strstr(r.lines[1], "bus/pci/drivers/nvidia/unbind=" A100));
    assert_non_null(strstr(r.lines[2], "bus/pci/drivers_probe=" A100));
    /* a second lease of the same GPU: already on vfio-pci, nothing to bind */
    struct gpx_vm_hostdev hd[4];
    assert_int_equal(gpx_vm_hostdevs(&h, hd, 4), 2);

    /* release: the original drivers back, override cleared */
    at = log_end();
    assert_int_equal(gpx_vm_release(&h, &j, "l-pt", &e), 0);
    driver_of(A100, drv, sizeof drv);
    assert_string_equal(drv, "nvidia");
    driver_of(A100_AUDIO, drv, sizeof drv);
    assert_string_equal(drv, "snd_hda_intel");
    log = klog_until(&at, "drivers_probe " A100 " -> nvidia"); /* the GPU goes back last */
    o = strstr(log, "driver_override " A100 " (cleared)");
    u = strstr(log, "unbind vfio-pci " A100);
    pr = strstr(log, "drivers_probe " A100 " -> nvidia");
    assert_non_null(o);
    assert_non_null(u);
    assert_non_null(pr);
    assert_true(o < u && u < pr);
    /* idempotent */
    assert_int_equal(gpx_vm_release(&h, &j, "l-pt", &e), 0);
}

static void test_orphan_given_back(void **state)
{
    (void)state;
    struct gpx_vm_request req = {.backend = GPX_VM_PASSTHROUGH, .lease_id = "l-orphan"};
    struct gpx_vm_hold h;
    gpx_error e = {0};
    assert_int_equal(gpx_vm_acquire(A100, &req, NULL, &h, &e), 0);
    /* the hold is live: reconcile leaves it */
    const char *gpus[] = {A100, H100};
    assert_int_equal(gpx_vm_reconcile(gpus, 2, &h, 1, NULL, 0, NULL), 0);
    char drv[64];
    driver_of(A100, drv, sizeof drv);
    assert_string_equal(drv, "vfio-pci");
    /* no live hold names it: back to the host driver */
    assert_int_equal(gpx_vm_reconcile(gpus, 2, NULL, 0, NULL, 0, NULL), 0);
    driver_of(A100, drv, sizeof drv);
    assert_string_equal(drv, "nvidia");
    /* the audio function is not a GPU reconcile walks, but an undo of its override is */
    assert_int_equal(gpx_vm_undo_change("bus/pci/devices/" A100_AUDIO "/driver_override",
                                        "vfio-pci", NULL, NULL, "l-orphan", &e),
                     0);
    driver_of(A100_AUDIO, drv, sizeof drv);
    assert_string_equal(drv, "snd_hda_intel");
}

/* --- mdev ------------------------------------------------------------------------------------- */

static void test_mdev_capacity(void **state)
{
    (void)state;
    struct gpx_vm_type_list l;
    gpx_error e = {0};
    assert_int_equal(gpx_vm_types(A100, &l, &e), 0);
    assert_int_equal(l.n, 11);
    const struct gpx_vm_type *t = find_type(&l, "A100-20C");
    assert_non_null(t);
    assert_int_equal(t->available, 2);
    assert_non_null(strstr(t->description, "framebuffer=20480M"));
    gpx_vm_type_list_free(&l);

    struct gpx_vm_request req = {.type = "A100-20C", .gpu_instance_id = -1, .lease_id = "m1"};
    struct gpx_vm_hold h1, h2, h3;
    assert_int_equal(gpx_vm_acquire(A100, &req, NULL, &h1, &e), 0);
    assert_int_equal(h1.backend, GPX_VM_MDEV);
    assert_int_equal(strlen(h1.mdev_uuid), 36);
    assert_int_equal(avail_settled(A100, "A100-20C", 1), 1);
    assert_int_equal(avail_settled(A100, "A100-4C", 0), 0); /* one type per GPU */
    req.lease_id = "m2";
    assert_int_equal(gpx_vm_acquire(A100, &req, NULL, &h2, &e), 0);
    req.lease_id = "m3";
    assert_int_equal(gpx_vm_acquire(A100, &req, NULL, &h3, &e), -1);
    assert_int_equal(e.code, GPX_E_NO_SPACE);
    assert_non_null(strstr(e.msg, "available_instances 0"));
    req.type = "A100-99C";
    assert_int_equal(gpx_vm_acquire(A100, &req, NULL, &h3, &e), -1);
    assert_int_equal(e.code, GPX_E_INVALID);
    struct gpx_vm_hostdev hd[2];
    assert_int_equal(gpx_vm_hostdevs(&h1, hd, 2), 1);
    assert_int_equal(hd[0].kind, GPX_VM_HOSTDEV_MDEV);
    assert_string_equal(hd[0].uuid, h1.mdev_uuid);

    /* a reboot loses the mdevs; restore makes them again with the same UUIDs */
    stop_kernel();
    assert_int_equal(run("%s/gpuplex-sim-kernel --sysfs %s --reboot", GPX_SIM_LIB_DIR, sysfs), 0);
    start_kernel();
    char p[512];
    snprintf(p, sizeof p, "%s/bus/mdev/devices/%s", sysfs, h1.mdev_uuid);
    assert_int_equal(access(p, F_OK), -1);
    assert_int_equal(gpx_vm_restore(&h1, NULL, "m1", &e), 0);
    assert_int_equal(gpx_vm_restore(&h1, NULL, "m1", &e), 0); /* idempotent */
    assert_int_equal(access(p, F_OK), 0);
    assert_int_equal(avail_settled(A100, "A100-20C", 1), 1);

    assert_int_equal(gpx_vm_release(&h1, NULL, "m1", &e), 0);
    assert_int_equal(gpx_vm_release(&h2, NULL, "m2", &e), 0); /* gone with the reboot */
    assert_int_equal(access(p, F_OK), -1);
    assert_int_equal(avail_settled(A100, "A100-20C", 2), 2);
    assert_int_equal(avail_settled(A100, "A100-4C", 10), 10);
}

/* --- vendor-vfio ------------------------------------------------------------------------------ */

static void test_vendor_vfio(void **state)
{
    (void)state;
    gpx_error e = {0};
    /* the reboot of the mdev test disabled the VFs: no types until they are enabled */
    assert_int_equal(avail_settled(H100, "H100-40C", 9999), 9999);
    assert_int_equal(gpx_vm_detect(H100), GPX_VM_VENDOR_VFIO);
    struct gpx_vm_request req = {.type = "H100-40C", .gpu_instance_id = -1, .lease_id = "v1"};
    struct gpx_vm_hold h1, h2, h3;
    assert_int_equal(gpx_vm_acquire(H100, &req, NULL, &h1, &e), 0); /* enables them */
    assert_int_equal(avail_settled(H100, "H100-40C", 1), 1);
    assert_int_equal(avail_settled(H100, "H100-4C", 9999), 9999); /* one type per GPU */
    assert_int_equal(h1.backend, GPX_VM_VENDOR_VFIO);
    assert_int_equal(h1.vgpu_type_id, 1057);
    assert_string_equal(h1.vf_bdf, "0000:2a:00.4");
    assert_int_equal(avail_settled(H100, "H100-40C", 1), 1); /* the kernel's bookkeeping */
    req.type = "1057";                                       /* by id */
    req.lease_id = "v2";
    assert_int_equal(gpx_vm_acquire(H100, &req, NULL, &h2, &e), 0);
    assert_string_equal(h2.vf_bdf, "0000:2a:00.5");
    assert_int_equal(avail_settled(H100, "H100-40C", 9999), 9999);
    req.lease_id = "v3";
    assert_int_equal(gpx_vm_acquire(H100, &req, NULL, &h3, &e), -1);
    assert_int_equal(e.code, GPX_E_NO_SPACE);
    char drv[64];
    driver_of(h1.vf_bdf, drv, sizeof drv);
    assert_string_equal(drv, "nvidia"); /* VFs stay on nvidia: their VFIO provider */
    struct gpx_vm_hostdev hd[2];
    assert_int_equal(gpx_vm_hostdevs(&h1, hd, 2), 1);
    assert_int_equal(hd[0].kind, GPX_VM_HOSTDEV_PCI);
    assert_int_equal(hd[0].addr.function, 4);

    /* a reboot: VFs gone, types reset; restore brings back VF and type */
    stop_kernel();
    assert_int_equal(run("%s/gpuplex-sim-kernel --sysfs %s --reboot", GPX_SIM_LIB_DIR, sysfs), 0);
    start_kernel();
    char p[512], b[64] = "";
    snprintf(p, sizeof p, "%s/bus/pci/devices/%s/nvidia/current_vgpu_type", sysfs, h1.vf_bdf);
    assert_int_equal(access(p, F_OK), -1);
    struct rec r = {0};
    struct gpx_vm_journal j = {record, &r};
    assert_int_equal(gpx_vm_restore(&h1, &j, "v1", &e), 0);
    assert_int_equal(gpx_vm_restore(&h2, &j, "v2", &e), 0);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    assert_non_null(fgets(b, sizeof b, f));
    fclose(f);
    assert_int_equal(atoi(b), 1057);
    assert_non_null(strstr(r.lines[0], "sriov_numvfs=20"));
    assert_int_equal(avail_settled(H100, "H100-40C", 9999),
                     9999); /* no free VF lists it any more */

    /* release and undo: the types back to 0, capacity back */
    assert_int_equal(gpx_vm_release(&h1, NULL, "v1", &e), 0);
    char rel[256];
    snprintf(rel, sizeof rel, "bus/pci/devices/%s/nvidia/current_vgpu_type", h2.vf_bdf);
    assert_int_equal(gpx_vm_undo_change(rel, "1057", "0", NULL, "v2", &e), 0);
    assert_int_equal(avail_settled(H100, "H100-40C", 2), 2);
    assert_int_equal(avail_settled(H100, "H100-4C", 20), 20);

    /* a MIG-backed type: the VF pinned to the GPU instance before its type is set */
    struct gpx_vm_request mig = {.type = "H100-1-10C", .gpu_instance_id = 3, .lease_id = "v4"};
    struct gpx_vm_hold h4;
    long at = log_end();
    assert_int_equal(gpx_vm_acquire(H100, &mig, &j, &h4, &e), 0);
    assert_int_equal(h4.gpu_instance_id, 3);
    snprintf(p, sizeof p, "%s/bus/pci/devices/%s/nvidia/gpu_instance_id", sysfs, h4.vf_bdf);
    f = fopen(p, "r");
    assert_non_null(f);
    assert_non_null(fgets(b, sizeof b, f));
    fclose(f);
    assert_int_equal(atoi(b), 3);
    const char *gi = strstr(r.lines[r.n - 2], "nvidia/gpu_instance_id=3");
    assert_non_null(gi); /* journalled before the type */
    assert_non_null(strstr(r.lines[r.n - 1], "nvidia/current_vgpu_type=1059"));
    assert_non_null(strstr(klog_until(&at, "current_vgpu_type"), "1059"));
    assert_int_equal(gpx_vm_release(&h4, NULL, "v4", &e), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_creatable),
        cmocka_unit_test(test_names_and_addresses),
        cmocka_unit_test(test_hold_json),
        cmocka_unit_test(test_detect_and_probe),
        cmocka_unit_test(test_foreign_device_refused),
        cmocka_unit_test(test_passthrough_order_and_release),
        cmocka_unit_test(test_orphan_given_back),
        cmocka_unit_test(test_mdev_capacity),
        cmocka_unit_test(test_vendor_vfio),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
