/*
 * src/vm/libvirt.c: the domain XML gpuplex writes (boot sources, escaping, the key on the
 * kernel command line in base64, the SSH forward, one <hostdev> per hold entry) and the
 * libvirt calls, against libvirt's test driver (test:///default, in this process): a
 * defined domain runs, its live XML keeps every <hostdev>, remove stops and undefines it
 * and is quiet about a domain that is not there; the NoCloud seed.
 */
#define _GNU_SOURCE
#include "vm/domain.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static const struct gpx_vm_hostdev devs[] = {
    {.kind = GPX_VM_HOSTDEV_PCI, .addr = {0, 0x3b, 0, 0}},
    {.kind = GPX_VM_HOSTDEV_PCI, .addr = {0, 0x3b, 0, 1}},
    {.kind = GPX_VM_HOSTDEV_MDEV, .uuid = "c2177883-f1bb-47f0-914d-32a22e3a8804"},
};

static struct gpx_vm_domain_spec spec(const char *name)
{
    return (struct gpx_vm_domain_spec){
        .name = name,
        .type = "qemu",
        .vcpus = 2,
        .memory_mib = 256,
        .kernel = "/boot/vm<linuz>",
        .initrd = "/boot/initrd",
        .cmdline = "quiet",
        .ssh_key = "ssh-ed25519 AAAA k",
        .ssh_address = "127.0.0.1",
        .ssh_port = 22201,
        .hostdevs = devs,
        .n_hostdevs = 3,
    };
}

static void test_xml(void **state)
{
    (void)state;
    struct gpx_vm_domain_spec s = spec("gpuplex-vm-1");
    char *x = NULL;
    gpx_error err = {0};
    assert_int_equal(gpx_vm_domain_xml(&s, &x, &err), 0);
    assert_non_null(strstr(x, "<domain type='qemu'"));
    assert_non_null(strstr(x, "<kernel>/boot/vm&lt;linuz&gt;</kernel>")); /* escaped */
    /* "ssh-ed25519 AAAA k" in base64: one kernel argument */
    assert_non_null(strstr(x, "console=ttyS0 quiet gpuplex.ssh_key=c3NoLWVkMjU1MTkgQUFBQSBr<"));
    assert_non_null(strstr(x, "hostfwd=tcp:127.0.0.1:22201-:22"));
    assert_non_null(strstr(x, "<rng model='virtio'>"));
    assert_non_null(strstr(x, "<address domain='0x0000' bus='0x3b' slot='0x00' function='0x1'/>"));
    assert_non_null(strstr(x, "<address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/>"));
    assert_null(strstr(x, "<disk"));
    free(x);

    /* an image: a disk (qcow2 by its name) and the seed as a CD-ROM, no kernel */
    s.kernel = s.initrd = NULL;
    s.image = "/srv/vm/debian.qcow2";
    s.seed_iso = "/var/lib/gpuplex/vms/vm-1-seed.iso";
    s.ssh_port = 0;
    assert_int_equal(gpx_vm_domain_xml(&s, &x, &err), 0);
    assert_non_null(strstr(x, "type='qcow2'"));
    assert_non_null(strstr(x, "<source file='/var/lib/gpuplex/vms/vm-1-seed.iso'/>"));
    assert_null(strstr(x, "<kernel>"));
    assert_null(strstr(x, "qemu:commandline")); /* no port: no network */
    free(x);

    s.image = NULL;
    assert_int_equal(gpx_vm_domain_xml(&s, &x, &err), -1);
    assert_int_equal(err.code, GPX_E_INVALID);
}

static void test_test_driver(void **state)
{
    (void)state;
    struct gpx_virt *v = NULL;
    gpx_error err = {0};
    assert_int_equal(gpx_virt_new("test:///default", &v, &err), 0);
    struct gpx_vm_domain_spec s = spec("gpuplex-vm-2");
    s.kernel = "/boot/vmlinuz";
    char *x = NULL;
    assert_int_equal(gpx_vm_domain_xml(&s, &x, &err), 0);
    assert_int_equal(gpx_virt_create(v, x, &err), 0);
    free(x);
    enum gpx_virt_state st;
    assert_int_equal(gpx_virt_state(v, "gpuplex-vm-2", &st, &err), 0);
    assert_int_equal(st, GPX_VIRT_RUNNING);
    assert_int_equal(gpx_virt_xml(v, "gpuplex-vm-2", &x, &err), 0);
    assert_non_null(strstr(x, "<hostdev mode='subsystem' type='pci' managed='no'>"));
    assert_non_null(strstr(x, "function='0x1'"));
    assert_non_null(strstr(x, "type='mdev'"));
    free(x);
    char **names = NULL;
    size_t n = 0;
    assert_int_equal(gpx_virt_list(v, GPX_VM_DOMAIN_PREFIX, &names, &n, &err), 0);
    assert_int_equal(n, 1); /* the driver's own "test" domain is not ours */
    assert_string_equal(names[0], "gpuplex-vm-2");
    gpx_virt_names_free(names, n);
    /* the same name again: refused by libvirt, and the running one is untouched */
    s.vcpus = 1;
    assert_int_equal(gpx_vm_domain_xml(&s, &x, &err), 0);
    assert_int_equal(gpx_virt_create(v, x, &err), -1);
    assert_non_null(strstr(err.msg, "libvirt"));
    free(x);
    assert_int_equal(gpx_virt_remove(v, "gpuplex-vm-2", &err), 0);
    assert_int_equal(gpx_virt_state(v, "gpuplex-vm-2", &st, &err), 0);
    assert_int_equal(st, GPX_VIRT_MISSING);
    assert_int_equal(gpx_virt_remove(v, "gpuplex-vm-2", &err), 0); /* gone: no error */
    assert_int_equal(gpx_virt_xml(v, "gpuplex-vm-2", &x, &err), -1);
    assert_int_equal(err.code, GPX_E_NOT_FOUND);
    gpx_virt_free(v);

    /* libvirtd absent: an error that names the URI */
    assert_int_equal(gpx_virt_new("qemu:///system?socket=/nonexistent/sock", &v, &err), 0);
    assert_int_equal(gpx_virt_state(v, "x", &st, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/sock"));
    gpx_virt_free(v);
}

static void test_seed(void **state)
{
    (void)state;
    char dir[] = "/tmp/gpx-seed.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char iso[256];
    snprintf(iso, sizeof iso, "%s/seed.iso", dir);
    gpx_error err = {0};
    assert_int_equal(gpx_vm_seed_iso(iso, dir, "vm-1", "ssh-ed25519 AAAA k", &err), 0);
    struct stat st;
    assert_int_equal(stat(iso, &st), 0);
    assert_true(st.st_size > 0);
    /* a key that would break out of its YAML string is refused */
    assert_int_equal(gpx_vm_seed_iso(iso, dir, "vm-1", "ssh-ed25519 A\"\n- x", &err), -1);
    unlink(iso);
    assert_int_equal(rmdir(dir), 0); /* meta-data and user-data are not left behind */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xml),
        cmocka_unit_test(test_test_driver),
        cmocka_unit_test(test_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
