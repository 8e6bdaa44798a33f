/*
 * libvirt domains for gpuplexd's VMs (domain.h): the domain XML gpuplex
 * defines, the NoCloud seed that carries a tenant's SSH key into a cloud
 * image, and the few libvirt calls the daemon makes (define+start,
 * destroy+undefine, state, live XML, list by name prefix).
 *
 * The network is QEMU's user-mode stack with a host port forward to the
 * guest's port 22, passed as <qemu:commandline> arguments: Debian 12's
 * libvirt 9.0 has <portForward> only for the passt backend, which is not
 * packaged there, and user-mode networking needs no bridge, no dnsmasq and
 * no privileges. Drivers other than QEMU (test:///default) ignore the
 * namespace: the domain is defined without a network, the endpoint stays
 * what the daemon chose.
 *
 * libvirt prints its errors to stderr by default: gpx_virt_new installs a
 * silent handler once, and every failure is returned in the gpx_error.
 */
#define _GNU_SOURCE
#include "vm/domain.h"

#include <errno.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* --- the domain XML ---------------------------------------------------------------------- */

/* s with & < > ' " escaped, for text and attribute values. */
static void put_esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

static void put_b64(FILE *f, const char *s)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        fputc(tab[v >> 18 & 63], f);
        fputc(tab[v >> 12 & 63], f);
        fputc(i + 1 < n ? tab[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? tab[v & 63] : '=', f);
    }
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void put_hostdev(FILE *f, const struct gpx_vm_hostdev *h)
{
    if (h->kind == GPX_VM_HOSTDEV_MDEV) {
        /* libvirt creates nothing here: the mdev exists (src/vm made it) */
        fputs("    <hostdev mode='subsystem' type='mdev' model='vfio-pci'>\n"
              "      <source><address uuid='",
              f);
        put_esc(f, h->uuid);
        fputs("'/></source>\n    </hostdev>\n", f);
        return;
    }
    /* managed='no': src/vm bound it to vfio-pci (or it is a VF on its vendor VFIO driver),
     * so libvirt must neither rebind it nor give it back to a host driver on stop */
    fprintf(f,
            "    <hostdev mode='subsystem' type='pci' managed='no'>\n"
            "      <source><address domain='0x%04x' bus='0x%02x' slot='0x%02x' "
            "function='0x%x'/></source>\n"
            "    </hostdev>\n",
            h->addr.domain, h->addr.bus, h->addr.slot, h->addr.function);
}

int gpx_vm_domain_xml(const struct gpx_vm_domain_spec *s, char **out, gpx_error *err)
{
    if (!s->name || !*s->name)
        return gpx_error_set(err, GPX_E_INVALID, "domain: no name");
    if (!(s->kernel && *s->kernel) && !(s->image && *s->image))
        return gpx_error_set(err, GPX_E_INVALID, "domain: neither a kernel nor an image to boot");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return gpx_error_set(err, GPX_E_NOMEM, "domain XML");
    fputs("<domain type='", f);
    put_esc(f, s->type && *s->type ? s->type : "kvm");
    fputs("' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n  <name>", f);
    put_esc(f, s->name);
    fprintf(f,
            "</name>\n  <memory unit='MiB'>%llu</memory>\n  <vcpu>%u</vcpu>\n"
            "  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n",
            (unsigned long long)s->memory_mib, s->vcpus ? s->vcpus : 1);
    if (s->kernel && *s->kernel) {
        fputs("    <kernel>", f);
        put_esc(f, s->kernel);
        fputs("</kernel>\n", f);
        if (s->initrd && *s->initrd) {
            fputs("    <initrd>", f);
            put_esc(f, s->initrd);
            fputs("</initrd>\n", f);
        }
        fputs("    <cmdline>console=ttyS0", f);
        if (s->cmdline && *s->cmdline) {
            fputc(' ', f);
            put_esc(f, s->cmdline);
        }
        if (s->ssh_key && *s->ssh_key) {
            /* base64: the key's spaces would split it into several kernel arguments */
            fputs(" gpuplex.ssh_key=", f);
            put_b64(f, s->ssh_key);
        }
        fputs("</cmdline>\n", f);
    } else {
        fputs("    <boot dev='hd'/>\n", f);
    }
    /* acpi: so that a shutdown request reaches the guest (PEERS.md) */
    fputs("  </os>\n  <features><acpi/></features>\n  <on_poweroff>destroy</on_poweroff>\n"
          "  <devices>\n",
          f);
    if (s->image && *s->image && !(s->kernel && *s->kernel)) {
        fprintf(f,
                "    <disk type='file' device='disk'>\n      <driver name='qemu' type='%s'/>\n"
                "      <source file='",
                ends_with(s->image, ".qcow2") ? "qcow2" : "raw");
        put_esc(f, s->image);
        fputs("'/>\n      <target dev='vda' bus='virtio'/>\n    </disk>\n", f);
        if (s->seed_iso && *s->seed_iso) {
            fputs("    <disk type='file' device='cdrom'>\n      <driver name='qemu' type='raw'/>\n"
                  "      <source file='",
                  f);
            put_esc(f, s->seed_iso);
            fputs("'/>\n      <target dev='sda' bus='sata'/>\n      <readonly/>\n    </disk>\n", f);
        }
    }
    if (s->console_log && *s->console_log) {
        fputs("    <serial type='file'><source path='", f);
        put_esc(f, s->console_log);
        fputs("'/></serial>\n", f);
    }
    for (size_t i = 0; i < s->n_hostdevs; i++)
        put_hostdev(f, &s->hostdevs[i]);
    /* entropy from the host: a guest's SSH server waits for the kernel's random pool, which
     * fills slowly without it (minutes under software emulation on a loaded host) */
    fputs("    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>\n", f);
    /* the balloon would take PCI slot 2 before the -device below could */
    fputs("    <memballoon model='none'/>\n  </devices>\n", f);
    if (s->ssh_port) {
        fputs("  <qemu:commandline>\n    <qemu:arg value='-netdev'/>\n"
              "    <qemu:arg value='user,id=gpxnet0,hostfwd=tcp:",
              f);
        put_esc(f, s->ssh_address && *s->ssh_address ? s->ssh_address : "127.0.0.1");
        fprintf(f,
                ":%u-:22'/>\n    <qemu:arg value='-device'/>\n"
                "    <qemu:arg value='virtio-net-pci,netdev=gpxnet0,bus=pci.0,addr=0x1f'/>\n"
                "  </qemu:commandline>\n",
                s->ssh_port);
    }
    fputs("</domain>\n", f);
    if (fclose(f) != 0) {
        free(buf);
        return gpx_error_set(err, GPX_E_NOMEM, "domain XML");
    }
    *out = buf;
    return 0;
}

/* --- the NoCloud seed -------------------------------------------------------------------- */

static int write_file(const char *path, const char *text, gpx_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return gpx_error_set(err, GPX_E_IO, "%s: %s", path, strerror(errno));
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    int e = errno;
    if (close(fd) < 0 || w != (ssize_t)n)
        return gpx_error_set(err, GPX_E_IO, "writing %s: %s", path, strerror(w < 0 ? e : EIO));
    return 0;
}

int gpx_vm_seed_iso(const char *path, const char *dir, const char *instance_id, const char *ssh_key,
                    gpx_error *err)
{
    char md[4096], ud[4096], meta[512], user[8192];
    if (strchr(ssh_key, '\n') || strchr(ssh_key, '"') || strchr(ssh_key, '\\'))
        return gpx_error_set(err, GPX_E_INVALID, "ssh key: one line without quotes");
    snprintf(md, sizeof md, "%s/meta-data", dir);
    snprintf(ud, sizeof ud, "%s/user-data", dir);
    snprintf(meta, sizeof meta, "instance-id: %s\nlocal-hostname: %s\n", instance_id, instance_id);
    /* the default user (whatever the image calls it) and root get the key */
    snprintf(user, sizeof user,
             "#cloud-config\nssh_authorized_keys:\n  - \"%s\"\ndisable_root: false\n"
             "users:\n  - default\n  - name: root\n    ssh_authorized_keys:\n      - \"%s\"\n",
             ssh_key, ssh_key);
    if (write_file(md, meta, err) < 0 || write_file(ud, user, err) < 0)
        return -1;
    char *const argv[] = {"genisoimage", "-quiet", "-output", (char *)path, "-volid", "cidata",
                          "-joliet",     "-rock",  ud,        md,           NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, "genisoimage", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return gpx_error_set(err, GPX_E_IO,
                             "genisoimage could not be run: %s (apt-get install "
                             "genisoimage)",
                             strerror(rc));
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    unlink(md);
    unlink(ud);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return gpx_error_set(err, GPX_E_IO, "genisoimage failed (status %d) writing %s", st, path);
    return 0;
}

/* --- the connection ---------------------------------------------------------------------- */

struct gpx_virt {
    char *uri;
    pthread_mutex_t lock;
    virConnectPtr conn;
};

static void quiet(void *arg, virErrorPtr e)
{
    (void)arg;
    (void)e;
}

static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;
static void install_quiet(void)
{
    virInitialize();
    virSetErrorFunc(NULL, quiet);
}

int gpx_virt_new(const char *uri, struct gpx_virt **out, gpx_error *err)
{
    pthread_once(&quiet_once, install_quiet);
    struct gpx_virt *v = calloc(1, sizeof *v);
    if (!v || !(v->uri = strdup(uri && *uri ? uri : "qemu:///system"))) {
        free(v);
        return gpx_error_set(err, GPX_E_NOMEM, "libvirt");
    }
    pthread_mutex_init(&v->lock, NULL);
    *out = v;
    return 0;
}

void gpx_virt_free(struct gpx_virt *v)
{
    if (!v)
        return;
    if (v->conn)
        virConnectClose(v->conn);
    pthread_mutex_destroy(&v->lock);
    free(v->uri);
    free(v);
}

const char *gpx_virt_uri(const struct gpx_virt *v)
{
    return v->uri;
}

static int lv_fail(gpx_error *err, const char *what, const char *name)
{
    const char *m = virGetLastErrorMessage();
    return gpx_error_set(err, GPX_E_IO, "libvirt: %s%s%s: %s", what, name ? " " : "",
                         name ? name : "", m ? m : "unknown error");
}

/* The connection, opened (or reopened when libvirtd went away) now. */
static virConnectPtr conn(struct gpx_virt *v, gpx_error *err)
{
    pthread_mutex_lock(&v->lock);
    if (v->conn && virConnectIsAlive(v->conn) != 1) {
        virConnectClose(v->conn);
        v->conn = NULL;
    }
    if (!v->conn && !(v->conn = virConnectOpen(v->uri)))
        lv_fail(err, "connecting to", v->uri);
    virConnectPtr c = v->conn;
    if (c)
        virConnectRef(c);
    pthread_mutex_unlock(&v->lock);
    return c;
}

static int not_found(void)
{
    virErrorPtr e = virGetLastError();
    return e && e->code == VIR_ERR_NO_DOMAIN;
}

/* The connection and the domain `name` (NULL when the lookup failed: not_found() says whether
 * there is none); -1 when libvirt cannot be reached. release() gives both back. */
static int lookup(struct gpx_virt *v, const char *name, virConnectPtr *c, virDomainPtr *d,
                  gpx_error *err)
{
    if (!(*c = conn(v, err)))
        return -1;
    *d = virDomainLookupByName(*c, name);
    return 0;
}

static void release(virConnectPtr c, virDomainPtr d)
{
    if (d)
        virDomainFree(d);
    virConnectClose(c);
}

int gpx_virt_create(struct gpx_virt *v, const char *xml, gpx_error *err)
{
    virConnectPtr c = conn(v, err);
    if (!c)
        return -1;
    int rc = 0;
    virDomainPtr d = virDomainDefineXML(c, xml);
    if (!d) {
        rc = lv_fail(err, "defining the domain", NULL);
    } else if (virDomainCreate(d) < 0) {
        rc = lv_fail(err, "starting", virDomainGetName(d));
        virDomainUndefine(d);
    }
    release(c, d);
    return rc;
}

int gpx_virt_start(struct gpx_virt *v, const char *name, gpx_error *err)
{
    virConnectPtr c;
    virDomainPtr d;
    if (lookup(v, name, &c, &d, err) < 0)
        return -1;
    int rc = 0;
    if (!d)
        rc = lv_fail(err, "looking up", name);
    else if (virDomainIsActive(d) != 1 && virDomainCreate(d) < 0)
        rc = lv_fail(err, "starting", name);
    release(c, d);
    return rc;
}

int gpx_virt_remove(struct gpx_virt *v, const char *name, gpx_error *err)
{
    virConnectPtr c;
    virDomainPtr d;
    if (lookup(v, name, &c, &d, err) < 0)
        return -1;
    int rc = 0;
    if (!d) {
        rc = not_found() ? 0 : lv_fail(err, "looking up", name);
    } else {
        if (virDomainIsActive(d) == 1 && virDomainDestroy(d) < 0 && virDomainIsActive(d) == 1)
            rc = lv_fail(err, "stopping", name);
        /* a transient domain is gone once destroyed */
        if (rc == 0 && virDomainIsPersistent(d) == 1 && virDomainUndefine(d) < 0 && !not_found())
            rc = lv_fail(err, "undefining", name);
    }
    release(c, d);
    return rc;
}

int gpx_virt_state(struct gpx_virt *v, const char *name, enum gpx_virt_state *out, gpx_error *err)
{
    virConnectPtr c;
    virDomainPtr d;
    if (lookup(v, name, &c, &d, err) < 0)
        return -1;
    int rc = 0;
    if (!d) {
        if (not_found())
            *out = GPX_VIRT_MISSING;
        else
            rc = lv_fail(err, "looking up", name);
    } else {
        int a = virDomainIsActive(d);
        if (a < 0)
            rc = lv_fail(err, "asking about", name);
        *out = a == 1 ? GPX_VIRT_RUNNING : GPX_VIRT_STOPPED;
    }
    release(c, d);
    return rc;
}

int gpx_virt_xml(struct gpx_virt *v, const char *name, char **out, gpx_error *err)
{
    virConnectPtr c;
    virDomainPtr d;
    if (lookup(v, name, &c, &d, err) < 0)
        return -1;
    int rc = 0;
    char *x = d ? virDomainGetXMLDesc(d, 0) : NULL;
    if (!x)
        rc = not_found() ? gpx_error_set(err, GPX_E_NOT_FOUND, "no domain %s", name)
                         : lv_fail(err, "reading the XML of", name);
    else
        *out = x;
    release(c, d);
    return rc;
}

void gpx_virt_names_free(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

int gpx_virt_list(struct gpx_virt *v, const char *prefix, char ***names, size_t *n, gpx_error *err)
{
    virConnectPtr c = conn(v, err);
    if (!c)
        return -1;
    virDomainPtr *doms = NULL;
    int k = virConnectListAllDomains(c, &doms, 0);
    if (k < 0) {
        lv_fail(err, "listing domains", NULL);
        virConnectClose(c);
        return -1;
    }
    char **out = calloc((size_t)k + 1, sizeof *out);
    size_t m = 0;
    for (int i = 0; i < k; i++) {
        const char *nm = virDomainGetName(doms[i]);
        if (out && nm && strncmp(nm, prefix, strlen(prefix)) == 0)
            out[m++] = strdup(nm);
        virDomainFree(doms[i]);
    }
    free(doms);
    virConnectClose(c);
    if (!out)
        return gpx_error_set(err, GPX_E_NOMEM, "domain list");
    *names = out;
    *n = m;
    return 0;
}
