/*
 * VMs (docs/vms.md): a tenant asks gpuplexd for a virtual machine with a GPU
 * (whole, a vGPU type, or a MIG-backed vGPU); gpuplexd makes one lease for it
 * (through the engine, as the tenant: its limits apply, labelled
 * gpuplex.vm=<vm id>), takes the host devices the lease needs (src/vm:
 * vfio-pci bind, mdev or VF, every sysfs write journalled in the store
 * first), defines and starts a libvirt domain named gpuplex-<vm id> whose
 * XML carries the <hostdev>s and the tenant's SSH key, and answers with the
 * SSH endpoint (a host port forwarded to the guest's port 22).
 *
 * Release order, whoever ends it: destroy the domain -> give the host
 * devices back -> end the lease. DELETE /v1/vms/{id} does the three in that
 * order. A lease ended any other way (DELETE /v1/leases, reconcile, tenant
 * removal) reaches us as an engine observer event: the observer only queues
 * the lease id (it runs under the engine's lock and must not call back); the
 * teardown thread destroys the domain and gives the devices back.
 *
 * On start (gpxd_vms_start) libvirt is reconciled against the store: a
 * domain gpuplex-* whose VM's lease has ended (or that no VM names) is
 * destroyed and undefined; a live lease's domain that is stopped is started
 * again.
 *
 * Locking: `lock` guards the list and the records; libvirt and sysfs run
 * without it (the VM is marked busy meanwhile). The engine's lock is taken
 * inside ours, never the other way round; the observer takes only `qlock`.
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "core/size.h"
#include "daemon/daemon.h"
#include "engine/views.h"
#include "vm/domain.h"
#include "vm/vm.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_VMS      256
#define MAX_HOSTDEVS GPX_VM_GROUP_MAX
#define QUEUE_MAX    64

struct vm {
    char id[32];
    char tenant[GPX_NAME_MAX];
    char lease[64];
    char domain[64];
    char state[16]; /* creating, running, stopped, ended, removing */
    json_t *spec;   /* the request as given (normalized) */
    unsigned gpu_index;
    char gpu_uuid[96];
    char gpu_pci[GPX_VM_BDF_MAX];
    unsigned gpu_procs; /* processes on the GPU when it was looked up */
    int held;           /* hold is set: host devices taken */
    struct gpx_vm_hold hold;
    char ssh_host[256];
    unsigned ssh_port;
    char seed[PATH_MAX], console[PATH_MAX];
    int64_t created_ns;
    int busy;
};

struct gpxd_vms {
    struct gpxd *d;
    struct gpx_virt *virt;
    char dir[PATH_MAX - 64]; /* vm_dir: room for <dir>/<vm id>-seed.iso */
    pthread_mutex_t lock;
    struct vm *v[MAX_VMS];
    unsigned n;
    /* leases the observer saw end, for the teardown thread */
    pthread_mutex_t qlock;
    pthread_cond_t qcond;
    char queue[QUEUE_MAX][64];
    unsigned nq;
    pthread_t th;
    int started, stopping;
};

/* Teardown and reconcile act as this. */
static const struct gpx_caller system_caller = {.tenant = "gpuplexd", .admin = 1};

/*
 * GPUPLEXD_FAULT=vm_after_lease | vm_after_define: the process exits (137, as SIGKILL) right
 * after a VM's lease is made (before its record is stored) or right after its domain is
 * defined and started (before the record says "running"): the crash-safety tests' fault
 * points, like src/vm's after_sysfs_write (docs/daemon.md).
 */
static void fault_point(const char *point)
{
    const char *f = getenv("GPUPLEXD_FAULT");
    if (f && strcmp(f, point) == 0) {
        gpx_warn("GPUPLEXD_FAULT: exiting at %s", point);
        _exit(137);
    }
}

/* --- the journal: every sysfs write is in the store before it is made ---------------------- */

static int journal_record(void *ctx, const char *lease_id, const struct gpx_vm_change *c,
                          gpx_error *err)
{
    struct gpxd *d = ctx;
    return gpx_engine_vm_journal_add(d->eng, lease_id, c->path, c->value, c->undo, err);
}

static struct gpx_vm_journal journal(struct gpxd *d)
{
    return (struct gpx_vm_journal){.record = journal_record, .ctx = d};
}

/* --- records ---------------------------------------------------------------------------------- */

static json_t *hostdevs_json(const struct vm *v)
{
    json_t *a = json_array();
    if (!v->held)
        return a;
    struct gpx_vm_hostdev hd[MAX_HOSTDEVS];
    size_t n = gpx_vm_hostdevs(&v->hold, hd, MAX_HOSTDEVS);
    for (size_t i = 0; i < n; i++) {
        if (hd[i].kind == GPX_VM_HOSTDEV_MDEV) {
            json_array_append_new(a, json_pack("{s:s,s:s}", "type", "mdev", "uuid", hd[i].uuid));
        } else {
            char bdf[GPX_VM_BDF_MAX];
            gpx_vm_bdf_format(&hd[i].addr, bdf);
            json_array_append_new(a, json_pack("{s:s,s:s}", "type", "pci", "address", bdf));
        }
    }
    return a;
}

static json_t *record(const struct vm *v)
{
    json_t *hold = json_null();
    if (v->held) {
        char *h = gpx_vm_hold_to_json(&v->hold);
        hold = h ? json_loads(h, 0, NULL) : NULL;
        free(h);
        if (!hold)
            hold = json_null();
    }
    return json_pack("{s:s,s:I,s:s,s:s,s:o,s:s,s:I,s:s,s:s,s:I}", "state", v->state, "gpu_index",
                     (json_int_t)v->gpu_index, "gpu_uuid", v->gpu_uuid, "gpu_pci", v->gpu_pci,
                     "hold", hold, "ssh_host", v->ssh_host, "ssh_port", (json_int_t)v->ssh_port,
                     "seed", v->seed, "console", v->console, "created_ns",
                     (json_int_t)v->created_ns);
}

static void save(struct gpxd *d, const struct vm *v)
{
    json_t *r = record(v);
    char *rs = r ? json_dumps(r, JSON_COMPACT) : NULL;
    char *ss = json_dumps(v->spec, JSON_COMPACT);
    char ep[300];
    snprintf(ep, sizeof ep, "%s:%u", v->ssh_host, v->ssh_port);
    struct gpx_vm_row row = {v->id, v->lease, v->tenant, v->domain, ep, ss, rs};
    gpx_error e = {0};
    if (!rs || !ss || gpx_engine_vm_put(d->eng, &row, &e) < 0)
        gpx_warn("vm %s: saving its record failed: %s", v->id, rs && ss ? e.msg : "no memory");
    free(rs);
    free(ss);
    json_decref(r);
}

static void vm_free(struct vm *v)
{
    if (!v)
        return;
    json_decref(v->spec);
    free(v);
}

static void copy_str(char *dst, size_t len, json_t *v)
{
    snprintf(dst, len, "%s", json_string_value(v) ? json_string_value(v) : "");
}

static int load_one(const struct gpx_vm_row *row, void *arg)
{
    struct gpxd_vms *m = arg;
    json_t *r = json_loads(row->record, 0, NULL);
    json_t *spec = json_loads(row->spec, 0, NULL);
    struct vm *v = calloc(1, sizeof *v);
    if (!r || !spec || !v || m->n >= MAX_VMS) {
        gpx_warn("vm %s: its record is unreadable; skipped", row->id);
        json_decref(r);
        json_decref(spec);
        free(v);
        return 0;
    }
    snprintf(v->id, sizeof v->id, "%s", row->id);
    snprintf(v->tenant, sizeof v->tenant, "%s", row->tenant);
    snprintf(v->lease, sizeof v->lease, "%s", row->lease_id);
    snprintf(v->domain, sizeof v->domain, "%s", row->domain);
    v->spec = spec;
    copy_str(v->state, sizeof v->state, json_object_get(r, "state"));
    v->gpu_index = (unsigned)json_integer_value(json_object_get(r, "gpu_index"));
    copy_str(v->gpu_uuid, sizeof v->gpu_uuid, json_object_get(r, "gpu_uuid"));
    copy_str(v->gpu_pci, sizeof v->gpu_pci, json_object_get(r, "gpu_pci"));
    copy_str(v->ssh_host, sizeof v->ssh_host, json_object_get(r, "ssh_host"));
    v->ssh_port = (unsigned)json_integer_value(json_object_get(r, "ssh_port"));
    copy_str(v->seed, sizeof v->seed, json_object_get(r, "seed"));
    copy_str(v->console, sizeof v->console, json_object_get(r, "console"));
    v->created_ns = json_integer_value(json_object_get(r, "created_ns"));
    json_t *h = json_object_get(r, "hold");
    if (json_is_object(h)) {
        char *hs = json_dumps(h, JSON_COMPACT);
        gpx_error e = {0};
        if (hs && gpx_vm_hold_from_json(hs, &v->hold, &e) == 0)
            v->held = 1;
        else
            gpx_warn("vm %s: its host devices are unreadable: %s", v->id, e.msg);
        free(hs);
    }
    json_decref(r);
    m->v[m->n++] = v;
    return 0;
}

/* --- the view --------------------------------------------------------------------------------- */

static int visible(const struct gpx_caller *who, const struct vm *v)
{
    return who->admin || strcmp(who->tenant, v->tenant) == 0;
}

static json_t *view(struct gpxd *d, const struct vm *v)
{
    json_t *spec = json_deep_copy(v->spec);
    json_t *j =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:{s:I,s:s,s:s},s:o,s:o,s:o}", "id", v->id, "tenant",
                  v->tenant, "state", v->state, "lease", v->lease, "domain", v->domain, "backend",
                  v->held ? gpx_vm_backend_name(v->hold.backend) : "none", "gpu", "index",
                  (json_int_t)v->gpu_index, "uuid", v->gpu_uuid, "pci", v->gpu_pci, "hostdevs",
                  hostdevs_json(v), "spec", spec, "created", gpx_view_time(v->created_ns));
    const char *user = json_string_value(json_object_get(v->spec, "ssh_user"));
    char cmd[400];
    snprintf(cmd, sizeof cmd, "ssh -p %u %s@%s", v->ssh_port, user ? user : "root", v->ssh_host);
    json_object_set_new(j, "ssh",
                        json_pack("{s:s,s:s,s:I,s:s}", "user", user ? user : "root", "host",
                                  v->ssh_host, "port", (json_int_t)v->ssh_port, "command", cmd));
    /* the key stays in the spec (the tenant gave it); the lease's state comes from the engine */
    struct gpx_lease *l = malloc(sizeof *l);
    gpx_error e = {0};
    if (l && v->lease[0] && gpx_engine_lease_get(d->eng, &system_caller, v->lease, 0, l, &e) == 0)
        json_object_set_new(j, "lease_state", json_string(gpx_lease_state_name(l->rec.state)));
    else
        json_object_set_new(j, "lease_state", json_null());
    free(l);
    return j;
}

/* --- the request ------------------------------------------------------------------------------ */

struct req {
    json_t *spec; /* normalized copy of what was given */
    int gpu_index;
    char gpu_uuid[96];
    char vgpu_type[GPX_VM_NAME_MAX];
    char mig_profile[32];
    unsigned vcpus;
    uint64_t memory_mib;
    char kernel[PATH_MAX], initrd[PATH_MAX], image[PATH_MAX];
    char cmdline[512];
    char ssh_key[4096];
    char ssh_user[32];
    char tenant[GPX_NAME_MAX];
};

static const char known_fields[] = "gpu, vgpu_type, mig_profile, vcpus, memory, image, kernel, "
                                   "initrd, cmdline, ssh_authorized_key, ssh_user, tenant";

static int str_field(json_t *v, const char *name, char *out, size_t len, gpx_error *err)
{
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= len ||
        strlen(json_string_value(v)) != json_string_length(v))
        return gpx_error_set(err, GPX_E_INVALID,
                             "field '%s' must be a non-empty string of at most %zu bytes", name,
                             len - 1);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

/* An OpenSSH public key line: "TYPE BASE64 [comment]", printable, one line. */
static int ssh_key_ok(const char *s)
{
    static const char *const types[] = {"ssh-ed25519 ",
                                        "ssh-rsa ",
                                        "ecdsa-sha2-nistp256 ",
                                        "ecdsa-sha2-nistp384 ",
                                        "ecdsa-sha2-nistp521 ",
                                        "sk-ssh-ed25519@openssh.com ",
                                        NULL};
    int ok = 0;
    for (unsigned i = 0; types[i]; i++)
        ok |= strncmp(s, types[i], strlen(types[i])) == 0;
    for (const char *p = s; *p && ok; p++)
        ok = isprint((unsigned char)*p) && *p != '"' && *p != '\\' && *p != '\'';
    return ok;
}

static int parse(const char *body, size_t len, struct req *r, gpx_error *err)
{
    json_error_t je;
    json_t *j = body && len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        return gpx_error_set(err, GPX_E_INVALID, "request body must be a JSON object");
    }
    r->gpu_index = -1;
    r->vcpus = 1;
    r->memory_mib = 512;
    snprintf(r->ssh_user, sizeof r->ssh_user, "root");
    int rc = -1;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        if (!strcmp(k, "gpu")) {
            if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) < 1024) {
                r->gpu_index = (int)json_integer_value(v);
            } else if (json_is_string(v) && isdigit((unsigned char)*json_string_value(v)) &&
                       strlen(json_string_value(v)) < 5 &&
                       strspn(json_string_value(v), "0123456789") == json_string_length(v)) {
                r->gpu_index = atoi(json_string_value(v));
            } else if (json_is_string(v) && !strncmp(json_string_value(v), "GPU-", 4) &&
                       json_string_length(v) < sizeof r->gpu_uuid) {
                snprintf(r->gpu_uuid, sizeof r->gpu_uuid, "%s", json_string_value(v));
            } else {
                gpx_error_set(err, GPX_E_INVALID,
                              "field 'gpu' must be a GPU index (0, 1, ...) or UUID (GPU-...)");
                goto out;
            }
        } else if (!strcmp(k, "vgpu_type")) {
            if (str_field(v, k, r->vgpu_type, sizeof r->vgpu_type, err) < 0)
                goto out;
        } else if (!strcmp(k, "mig_profile")) {
            if (str_field(v, k, r->mig_profile, sizeof r->mig_profile, err) < 0)
                goto out;
        } else if (!strcmp(k, "vcpus")) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 64) {
                gpx_error_set(err, GPX_E_INVALID, "field 'vcpus' must be from 1 to 64");
                goto out;
            }
            r->vcpus = (unsigned)json_integer_value(v);
        } else if (!strcmp(k, "memory")) {
            uint64_t b = 0;
            gpx_error se = {0};
            if (json_is_integer(v) && json_integer_value(v) > 0)
                b = (uint64_t)json_integer_value(v) << 20;
            else if (!json_is_string(v) || gpx_size_parse(json_string_value(v), &b, &se) < 0)
                b = 0;
            if (b < (64ull << 20) || b > (4096ull << 30)) {
                gpx_error_set(err, GPX_E_INVALID,
                              "field 'memory' must be the guest's memory, 64M to 4T (\"2G\", or "
                              "a number of MiB)");
                goto out;
            }
            r->memory_mib = b >> 20;
        } else if (!strcmp(k, "image")) {
            if (str_field(v, k, r->image, sizeof r->image, err) < 0)
                goto out;
        } else if (!strcmp(k, "kernel")) {
            if (str_field(v, k, r->kernel, sizeof r->kernel, err) < 0)
                goto out;
        } else if (!strcmp(k, "initrd")) {
            if (str_field(v, k, r->initrd, sizeof r->initrd, err) < 0)
                goto out;
        } else if (!strcmp(k, "cmdline")) {
            if (str_field(v, k, r->cmdline, sizeof r->cmdline, err) < 0)
                goto out;
        } else if (!strcmp(k, "ssh_authorized_key")) {
            if (str_field(v, k, r->ssh_key, sizeof r->ssh_key, err) < 0 ||
                !ssh_key_ok(r->ssh_key)) {
                gpx_error_set(err, GPX_E_INVALID,
                              "field 'ssh_authorized_key' must be one OpenSSH public key line "
                              "(ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/384/521 AAAA... "
                              "[comment])");
                goto out;
            }
        } else if (!strcmp(k, "ssh_user")) {
            if (str_field(v, k, r->ssh_user, sizeof r->ssh_user, err) < 0)
                goto out;
        } else if (!strcmp(k, "tenant")) {
            if (str_field(v, k, r->tenant, sizeof r->tenant, err) < 0)
                goto out;
        } else {
            gpx_error_set(err, GPX_E_INVALID, "unknown field '%.64s' (known: %s)", k, known_fields);
            goto out;
        }
    }
    int gpus = (r->gpu_index >= 0 || r->gpu_uuid[0]);
    if (!gpus && !r->vgpu_type[0] && !r->mig_profile[0]) {
        gpx_error_set(err, GPX_E_INVALID,
                      "one of fields 'gpu' (a whole GPU: passthrough), 'vgpu_type' (\"A100-4C\", "
                      "GET /v1/gpus/{id}/vgpu-types) or 'mig_profile' (\"1g.10gb\") is required");
        goto out;
    }
    if (r->vgpu_type[0] && r->mig_profile[0]) {
        gpx_error_set(err, GPX_E_INVALID,
                      "fields 'vgpu_type' and 'mig_profile' exclude each other (a MIG-backed "
                      "vGPU type such as \"H100-1-10C\" is a vgpu_type)");
        goto out;
    }
    if (!r->kernel[0] == !r->image[0]) {
        gpx_error_set(err, GPX_E_INVALID,
                      "give either field 'image' (a disk image: cloud-init gets the key) or "
                      "'kernel' (with 'initrd': direct boot, the key on the command line)");
        goto out;
    }
    if (r->image[0] && (r->initrd[0] || r->cmdline[0])) {
        gpx_error_set(err, GPX_E_INVALID,
                      "fields 'initrd' and 'cmdline' go with 'kernel', not "
                      "'image'");
        goto out;
    }
    if (!r->ssh_key[0]) {
        gpx_error_set(err, GPX_E_INVALID,
                      "field 'ssh_authorized_key' is required (the tenant's public key: the "
                      "guest's SSH server accepts it)");
        goto out;
    }
    r->spec = json_deep_copy(j);
    json_object_set_new(r->spec, "vcpus", json_integer(r->vcpus));
    json_object_set_new(r->spec, "memory_mib", json_integer((json_int_t)r->memory_mib));
    json_object_del(r->spec, "memory");
    json_object_del(r->spec, "tenant");
    rc = 0;
out:
    json_decref(j);
    return rc;
}

/* Whether path (real) lies in one of the ','-separated directories. */
static int path_allowed(const char *dirs, const char *path, char *real, size_t len)
{
    char rp[PATH_MAX];
    if (!realpath(path, rp))
        return 0;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dirs);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ' || *t == '\t')
            t++;
        char rd[PATH_MAX];
        if (!*t || !realpath(t, rd))
            continue;
        size_t n = strlen(rd);
        if (strncmp(rp, rd, n) == 0 && (rp[n] == '/' || (n == 1 && rd[0] == '/'))) {
            snprintf(real, len, "%s", rp);
            return 1;
        }
    }
    return 0;
}

static int check_paths(const struct gpxd *d, struct req *r, gpx_error *err)
{
    struct {
        const char *name;
        char *path;
    } p[] = {{"kernel", r->kernel}, {"initrd", r->initrd}, {"image", r->image}};
    for (unsigned i = 0; i < 3; i++) {
        char real[PATH_MAX];
        if (!p[i].path[0])
            continue;
        struct stat st;
        if (!path_allowed(d->cfg.vm_images, p[i].path, real, sizeof real) || stat(real, &st) < 0 ||
            !S_ISREG(st.st_mode))
            return gpx_error_set(err, GPX_E_PERM,
                                 "field '%s': %.200s is not a file in this node's vm_images "
                                 "(%.400s)",
                                 p[i].name, p[i].path, d->cfg.vm_images);
        snprintf(p[i].path, PATH_MAX, "%s", real);
    }
    return 0;
}

/* --- GPU, lease and host devices -------------------------------------------------------------- */

/* The GPU's index, UUID and PCI address by index or UUID. */
static int find_gpu(struct gpxd *d, int index, const char *uuid, struct vm *v, gpx_error *err)
{
    struct gpx_node n;
    if (gpx_engine_gpus(d->eng, &system_caller, &n, err) < 0)
        return -1;
    int rc = -1;
    for (unsigned i = 0; i < n.count; i++) {
        const struct gpx_gpu_info *g = &n.gpus[i].info;
        if ((index >= 0 && g->index == (unsigned)index) || (uuid[0] && !strcmp(uuid, g->uuid))) {
            v->gpu_index = g->index;
            v->gpu_procs = g->proc_count;
            snprintf(v->gpu_uuid, sizeof v->gpu_uuid, "%s", g->uuid);
            struct gpx_vm_pci_addr a;
            if (gpx_vm_bdf_parse(g->pci_bus_id, &a) == 0)
                gpx_vm_bdf_format(&a, v->gpu_pci);
            rc = 0;
        }
    }
    if (rc < 0 && uuid[0])
        gpx_error_set(err, GPX_E_INVALID, "field 'gpu': no GPU %s on this node (%u GPU(s))", uuid,
                      n.count);
    else if (rc < 0)
        gpx_error_set(err, GPX_E_INVALID, "field 'gpu': no GPU %d on this node (%u GPU(s): 0-%d)",
                      index, n.count, (int)n.count - 1);
    gpx_node_free(&n);
    return rc;
}

/* vgpu_type without a GPU: the first GPU that offers the type with an instance free. */
static int find_vgpu_gpu(struct gpxd *d, const char *type, struct vm *v, unsigned *fb_mib,
                         gpx_error *err)
{
    struct gpx_node n;
    if (gpx_engine_gpus(d->eng, &system_caller, &n, err) < 0)
        return -1;
    int rc = -1, offered = 0;
    char names[512] = "";
    for (unsigned i = 0; i < n.count && rc < 0; i++) {
        const struct gpx_gpu_info *g = &n.gpus[i].info;
        if (v->gpu_index != (unsigned)-1 && g->index != v->gpu_index)
            continue;
        struct gpx_vm_pci_addr a;
        char bdf[GPX_VM_BDF_MAX];
        struct gpx_vm_type_list tl = {0};
        gpx_error e = {0};
        if (gpx_vm_bdf_parse(g->pci_bus_id, &a) < 0)
            continue;
        gpx_vm_bdf_format(&a, bdf);
        if (gpx_vm_types(bdf, &tl, &e) < 0)
            continue;
        for (size_t k = 0; k < tl.n; k++) {
            if (strlen(names) + strlen(tl.types[k].name) + 3 < sizeof names &&
                !strstr(names, tl.types[k].name)) {
                strcat(names, names[0] ? ", " : "");
                strcat(names, tl.types[k].name);
            }
            if (strcmp(tl.types[k].name, type) && strcmp(tl.types[k].id, type))
                continue;
            offered = 1;
            if (tl.types[k].available == 0)
                continue;
            v->gpu_index = g->index;
            snprintf(v->gpu_uuid, sizeof v->gpu_uuid, "%s", g->uuid);
            snprintf(v->gpu_pci, sizeof v->gpu_pci, "%s", bdf);
            *fb_mib = tl.types[k].framebuffer_mib;
            rc = 0;
            break;
        }
        gpx_vm_type_list_free(&tl);
    }
    gpx_node_free(&n);
    if (rc < 0 && offered)
        gpx_error_set(err, GPX_E_NO_SPACE, "vGPU type %s: no instance free on %s", type,
                      v->gpu_index != (unsigned)-1 ? "that GPU" : "any GPU of this node");
    else if (rc < 0)
        gpx_error_set(err, GPX_E_INVALID,
                      "field 'vgpu_type': %s is not offered here (types on offer: %s)", type,
                      names[0] ? names : "none: no mdev or vendor-vfio GPU");
    return rc;
}

/* "1g.10gb" -> slices 1, GiB 10; -1 when not a profile name. */
static int profile_parts(const char *p, unsigned *slices, unsigned *gib)
{
    char tail[16];
    return sscanf(p, "%ug.%u%15s", slices, gib, tail) == 3 && !strcmp(tail, "gb") ? 0 : -1;
}

/* The MIG-backed vendor-vfio type of the GPU for a profile: "H100-1-10C" for 1g.10gb. */
static int mig_type(const char *bdf, const char *profile, char *out, size_t len, gpx_error *err)
{
    unsigned s, g;
    if (profile_parts(profile, &s, &g) < 0)
        return gpx_error_set(err, GPX_E_INVALID,
                             "field 'mig_profile': %s is not a MIG profile name (\"1g.10gb\")",
                             profile);
    struct gpx_vm_type_list tl = {0};
    if (gpx_vm_types(bdf, &tl, err) < 0)
        return -1;
    char want[32];
    snprintf(want, sizeof want, "-%u-%uC", s, g);
    int rc = -1;
    for (size_t k = 0; k < tl.n && rc < 0; k++)
        if (tl.types[k].mig_backed && strstr(tl.types[k].name, want) &&
            !strcmp(strstr(tl.types[k].name, want), want)) {
            snprintf(out, len, "%s", tl.types[k].name);
            rc = 0;
        }
    gpx_vm_type_list_free(&tl);
    if (rc < 0)
        gpx_error_set(err, GPX_E_INVALID,
                      "field 'mig_profile': GPU %s offers no MIG-backed vGPU type for %s "
                      "(vendor-vfio hosts: H100-%u-%uC ...)",
                      bdf, profile, s, g);
    return rc;
}

/* The caller the lease is made as: the caller, or (admins) the tenant named by 'tenant'. */
static int lease_caller(struct gpxd *d, const struct gpx_caller *who, const char *tenant,
                        struct gpx_caller *out, gpx_error *err)
{
    *out = *who;
    if (!tenant[0] || !strcmp(tenant, who->tenant))
        return 0;
    if (!who->admin)
        return gpx_error_set(err, GPX_E_PERM,
                             "field 'tenant': only admins make VMs for another tenant (you are "
                             "%s)",
                             who->tenant);
    struct gpx_tenant t;
    if (gpx_engine_tenant_get(d->eng, who, tenant, &t, err) < 0)
        return gpx_error_wrap(err, "field 'tenant'");
    memset(out, 0, sizeof *out);
    snprintf(out->tenant, sizeof out->tenant, "%s", t.name);
    out->admin = 0;
    out->max_gpus = t.max_gpus;
    out->max_memory = t.max_memory;
    out->max_leases = t.max_leases;
    out->tenant_created_ns = t.created_ns;
    return 0;
}

static int make_lease(struct gpxd *d, const struct gpx_caller *as, const struct req *r,
                      struct vm *v, unsigned fb_mib, gpx_error *err)
{
    struct gpx_lease_spec sp;
    gpx_lease_spec_init(&sp);
    char idx[16];
    snprintf(idx, sizeof idx, "%u", v->gpu_index);
    int rc = 0;
    if (r->mig_profile[0]) {
        rc = gpx_lease_spec_set(&sp, GPX_F_MODE, "mig", GPX_NAMING_API, err);
        if (rc == 0)
            rc = gpx_lease_spec_set(&sp, GPX_F_MIG_PROFILE, r->mig_profile, GPX_NAMING_API, err);
    } else if (r->vgpu_type[0]) {
        char mem[32];
        snprintf(mem, sizeof mem, "%uM", fb_mib ? fb_mib : 1024);
        rc = gpx_lease_spec_set(&sp, GPX_F_MODE, "vgpu", GPX_NAMING_API, err);
        if (rc == 0)
            rc = gpx_lease_spec_set(&sp, GPX_F_MEMORY, mem, GPX_NAMING_API, err);
    } else {
        rc = gpx_lease_spec_set(&sp, GPX_F_MODE, "exclusive", GPX_NAMING_API, err);
    }
    if (rc == 0 && v->gpu_index != (unsigned)-1)
        rc = gpx_lease_spec_set(&sp, GPX_F_GPU, idx, GPX_NAMING_API, err);
    if (rc == 0)
        rc = gpx_lease_spec_label(&sp, "gpuplex.vm", v->id, GPX_NAMING_API, err);
    if (rc == 0)
        rc = gpx_lease_spec_check(&sp, 0, GPX_NAMING_API, err);
    struct gpx_lease *l = rc == 0 ? malloc(sizeof *l) : NULL;
    if (rc == 0 && !l)
        rc = gpx_error_set(err, GPX_E_NOMEM, "lease");
    if (rc == 0)
        rc = gpx_engine_lease_create(d->eng, as, &sp, l, err);
    if (rc == 0) {
        snprintf(v->lease, sizeof v->lease, "%s", l->rec.id);
        v->gpu_index = l->rec.gpu_index;
        snprintf(v->gpu_uuid, sizeof v->gpu_uuid, "%s", l->rec.gpu_uuid);
        /* mig: the GI the VF is pinned to */
        v->hold.gpu_instance_id = l->rec.mig_gi;
    }
    free(l);
    gpx_lease_spec_clear(&sp);
    return rc;
}

static void end_lease(struct gpxd *d, struct vm *v)
{
    if (!v->lease[0])
        return;
    struct gpx_lease *l = malloc(sizeof *l);
    gpx_error e = {0};
    if (l && gpx_engine_lease_release(d->eng, &system_caller, v->lease, l, &e) < 0 &&
        e.code != GPX_E_NOT_FOUND && e.code != GPX_E_STATE)
        gpx_warn("vm %s: releasing lease %s failed: %s", v->id, v->lease, e.msg);
    free(l);
}

/* Takes the host devices of v's lease (journalled; committed with the hold). */
static int take_devices(struct gpxd *d, const struct req *r, struct vm *v, gpx_error *err)
{
    if (!d->cfg.vm_hostdev)
        return 0;
    /* a whole GPU: its processes counted again now that the lease holds it (no other lease
     * can be granted from here on; what ran when the request came may have started since) */
    int whole = !r->vgpu_type[0] && !r->mig_profile[0];
    if (whole)
        gpx_engine_inventory_refresh(d->eng); /* NVML now, not the last periodic read */
    if ((whole || !v->gpu_pci[0]) && find_gpu(d, (int)v->gpu_index, "", v, err) < 0)
        return -1;
    if (!v->gpu_pci[0])
        return gpx_error_set(err, GPX_E_INVALID, "GPU %u: its PCI address is not known",
                             v->gpu_index);
    /* a whole GPU leaves the host driver: nothing may be running on it (vm.h) */
    if (whole && v->gpu_procs > 0)
        return gpx_error_set(err, GPX_E_BUSY,
                             "GPU %u runs %u process(es) on the host: passthrough needs it idle",
                             v->gpu_index, v->gpu_procs);
    char mtype[GPX_VM_NAME_MAX] = "";
    struct gpx_vm_request q = {
        .backend = GPX_VM_PASSTHROUGH, .gpu_instance_id = -1, .lease_id = v->lease};
    if (r->vgpu_type[0]) {
        q.backend = gpx_vm_detect(v->gpu_pci);
        q.type = r->vgpu_type;
    } else if (r->mig_profile[0]) {
        if (mig_type(v->gpu_pci, r->mig_profile, mtype, sizeof mtype, err) < 0)
            return -1;
        q.backend = GPX_VM_VENDOR_VFIO;
        q.type = mtype;
        q.gpu_instance_id = v->hold.gpu_instance_id;
    }
    struct gpx_vm_journal j = journal(d);
    struct gpx_vm_hold h;
    memset(&h, 0, sizeof h);
    if (gpx_vm_acquire(v->gpu_pci, &q, &j, &h, err) < 0)
        return gpx_error_wrap(err, "GPU %s", v->gpu_pci);
    char *hs = gpx_vm_hold_to_json(&h);
    gpx_error e = {0};
    if (!hs || gpx_engine_vm_hold_put(d->eng, v->lease, v->gpu_pci, hs, &e) < 0) {
        gpx_vm_release(&h, &j, v->lease, NULL);
        free(hs);
        return gpx_error_set(err, GPX_E_IO, "recording the host devices: %s",
                             hs ? e.msg : "no memory");
    }
    free(hs);
    v->hold = h;
    v->held = 1;
    return 0;
}

static void give_back(struct gpxd *d, struct vm *v)
{
    if (!v->held)
        return;
    struct gpx_vm_journal j = journal(d);
    gpx_error e = {0};
    if (gpx_vm_release(&v->hold, &j, v->lease, &e) < 0) {
        gpx_warn("vm %s: giving back %s failed: %s (the daemon retries at start)", v->id,
                 v->gpu_pci, e.msg);
        return;
    }
    if (gpx_engine_vm_hold_delete(d->eng, v->lease, &e) < 0)
        gpx_warn("vm %s: forgetting its host devices failed: %s", v->id, e.msg);
    v->held = 0;
}

/* A free host port for the SSH forward: in the range, unused by our VMs, bindable now. */
static unsigned pick_port(struct gpxd_vms *m)
{
    const struct gpxd_config *c = &m->d->cfg;
    for (unsigned p = c->vm_ssh_port_min; p <= c->vm_ssh_port_max && p; p++) {
        int used = 0;
        for (unsigned i = 0; i < m->n && !used; i++)
            used = m->v[i]->ssh_port == p && strcmp(m->v[i]->state, "ended") != 0;
        if (used)
            continue;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
        if (fd < 0 || inet_pton(AF_INET, c->vm_ssh_address, &a.sin_addr) != 1)
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return p;
    }
    return 0;
}

static int define_domain(struct gpxd *d, struct gpxd_vms *m, const struct req *r, struct vm *v,
                         gpx_error *err)
{
    if (r->image[0]) {
        snprintf(v->seed, sizeof v->seed, "%s/%s-seed.iso", m->dir, v->id);
        if (gpx_vm_seed_iso(v->seed, m->dir, v->id, r->ssh_key, err) < 0)
            return -1;
    }
    snprintf(v->console, sizeof v->console, "%s/%s-console.log", m->dir, v->id);
    struct gpx_vm_hostdev hd[MAX_HOSTDEVS];
    size_t nhd = v->held ? gpx_vm_hostdevs(&v->hold, hd, MAX_HOSTDEVS) : 0;
    struct gpx_vm_domain_spec s = {
        .name = v->domain,
        .type = d->cfg.vm_domain_type ? "qemu" : "kvm",
        .vcpus = r->vcpus,
        .memory_mib = r->memory_mib,
        .kernel = r->kernel[0] ? r->kernel : NULL,
        .initrd = r->initrd[0] ? r->initrd : NULL,
        .cmdline = r->cmdline[0] ? r->cmdline : NULL,
        .ssh_key = r->kernel[0] ? r->ssh_key : NULL,
        .image = r->image[0] ? r->image : NULL,
        .seed_iso = v->seed[0] ? v->seed : NULL,
        .console_log = v->console,
        .ssh_address = d->cfg.vm_ssh_address,
        .ssh_port = v->ssh_port,
        .hostdevs = hd,
        .n_hostdevs = nhd,
    };
    char *xml = NULL;
    if (gpx_vm_domain_xml(&s, &xml, err) < 0)
        return -1;
    int rc = gpx_virt_create(m->virt, xml, err);
    free(xml);
    return rc;
}

static struct vm *find(struct gpxd_vms *m, const char *id, unsigned *pos)
{
    for (unsigned i = 0; i < m->n; i++)
        if (!strcmp(m->v[i]->id, id)) {
            if (pos)
                *pos = i;
            return m->v[i];
        }
    return NULL;
}

static void drop(struct gpxd_vms *m, struct vm *v)
{
    unsigned pos;
    if (find(m, v->id, &pos)) {
        memmove(&m->v[pos], &m->v[pos + 1], (m->n - pos - 1) * sizeof m->v[0]);
        m->n--;
    }
}

static void remove_files(struct vm *v)
{
    if (v->seed[0])
        unlink(v->seed);
    if (v->console[0])
        unlink(v->console);
}

int gpxd_vm_create(struct gpxd *d, const struct gpx_caller *who, const char *body, size_t len,
                   json_t **out, gpx_error *err)
{
    struct gpxd_vms *m = d->vms;
    if (!d->cfg.vm_images[0])
        return gpx_error_set(err, GPX_E_PERM,
                             "VMs are off on this node: gpuplexd's vm_images is empty");
    struct req *r = calloc(1, sizeof *r);
    struct vm *v = calloc(1, sizeof *v);
    struct gpx_caller as;
    int rc = -1, listed = 0;
    if (!r || !v) {
        gpx_error_set(err, GPX_E_NOMEM, "vm");
        goto out;
    }
    if (parse(body, len, r, err) < 0 || check_paths(d, r, err) < 0 ||
        lease_caller(d, who, r->tenant, &as, err) < 0)
        goto out;
    uint8_t rnd[6];
    if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd) {
        gpx_error_set(err, GPX_E_IO, "getrandom: %s", strerror(errno));
        goto out;
    }
    snprintf(v->id, sizeof v->id, "vm-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
             rnd[4], rnd[5]);
    snprintf(v->domain, sizeof v->domain, GPX_VM_DOMAIN_PREFIX "%s", v->id);
    snprintf(v->tenant, sizeof v->tenant, "%s", as.tenant);
    snprintf(v->state, sizeof v->state, "creating");
    snprintf(v->ssh_host, sizeof v->ssh_host, "%s",
             strcmp(d->cfg.vm_ssh_address, "0.0.0.0") ? d->cfg.vm_ssh_address : d->hostname);
    v->spec = json_incref(r->spec);
    v->created_ns = gpx_now_ns();
    v->busy = 1;
    v->gpu_index = (unsigned)-1;
    v->hold.gpu_instance_id = -1;
    unsigned fb = 0;
    if ((r->gpu_index >= 0 || r->gpu_uuid[0]) && find_gpu(d, r->gpu_index, r->gpu_uuid, v, err) < 0)
        goto out;
    if (r->vgpu_type[0] && find_vgpu_gpu(d, r->vgpu_type, v, &fb, err) < 0)
        goto out;
    /* the lease first (admission, limits); then listed (busy) and durable before any device
     * or domain exists, so that a crash from here on leaves a record to reconcile */
    if (make_lease(d, &as, r, v, fb, err) < 0)
        goto out;
    fault_point("vm_after_lease");
    pthread_mutex_lock(&m->lock);
    if (m->n >= MAX_VMS) {
        gpx_error_set(err, GPX_E_NO_SPACE, "gpuplexd manages %d VMs already", MAX_VMS);
    } else if (!(v->ssh_port = pick_port(m))) {
        gpx_error_set(err, GPX_E_NO_SPACE,
                      "no free port for the SSH forward in %u-%u on %s (vm_ssh_port_min/max)",
                      d->cfg.vm_ssh_port_min, d->cfg.vm_ssh_port_max, d->cfg.vm_ssh_address);
    } else {
        m->v[m->n++] = v;
        listed = 1;
    }
    pthread_mutex_unlock(&m->lock);
    if (!listed)
        goto undo;
    save(d, v);
    if (take_devices(d, r, v, err) < 0)
        goto undo;
    save(d, v);
    if (define_domain(d, m, r, v, err) < 0)
        goto undo;
    fault_point("vm_after_define");
    pthread_mutex_lock(&m->lock);
    snprintf(v->state, sizeof v->state, "running");
    v->busy = 0;
    save(d, v);
    *out = view(d, v);
    pthread_mutex_unlock(&m->lock);
    gpx_info("vm %s: %s runs domain %s on GPU %u (%s), ssh %s:%u", v->id, v->tenant, v->domain,
             v->gpu_index, v->held ? gpx_vm_backend_name(v->hold.backend) : "no hostdev",
             v->ssh_host, v->ssh_port);
    v = NULL;
    rc = 0;
    goto out;
undo:
    /* the release order, for what was made */
    give_back(d, v);
    end_lease(d, v);
    remove_files(v);
    if (listed) {
        pthread_mutex_lock(&m->lock);
        drop(m, v);
        pthread_mutex_unlock(&m->lock);
        gpx_error e = {0};
        gpx_engine_vm_delete(d->eng, v->id, &e);
    }
out:
    if (r)
        json_decref(r->spec);
    free(r);
    vm_free(v);
    return rc;
}

int gpxd_vm_list(struct gpxd *d, const struct gpx_caller *who, json_t **out, gpx_error *err)
{
    (void)err;
    struct gpxd_vms *m = d->vms;
    *out = json_array();
    pthread_mutex_lock(&m->lock);
    for (unsigned i = 0; i < m->n; i++)
        if (visible(who, m->v[i]))
            json_array_append_new(*out, view(d, m->v[i]));
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static int not_found(const char *id, gpx_error *err)
{
    return gpx_error_set(err, GPX_E_NOT_FOUND, "no VM %.64s (see 'gpuplex vm ls')", id);
}

int gpxd_vm_get(struct gpxd *d, const struct gpx_caller *who, const char *id, json_t **out,
                gpx_error *err)
{
    struct gpxd_vms *m = d->vms;
    pthread_mutex_lock(&m->lock);
    struct vm *v = find(m, id, NULL);
    int rc = v && visible(who, v) ? 0 : not_found(id, err);
    char domain[sizeof v->domain] = "";
    if (rc == 0) {
        *out = view(d, v);
        snprintf(domain, sizeof domain, "%s", v->domain);
    }
    pthread_mutex_unlock(&m->lock);
    /* the live domain XML as libvirt has it (what reached the hypervisor); null when gone */
    char *xml = NULL;
    gpx_error e = {0};
    if (rc == 0)
        json_object_set_new(*out, "domain_xml",
                            gpx_virt_xml(m->virt, domain, &xml, &e) == 0 ? json_string(xml)
                                                                         : json_null());
    free(xml);
    return rc;
}

/* Destroys v's domain and gives its devices back (v is busy: ours alone). */
static int teardown(struct gpxd *d, struct vm *v, gpx_error *err)
{
    if (gpx_virt_remove(d->vms->virt, v->domain, err) < 0)
        return -1; /* the devices stay with a domain that may still run */
    give_back(d, v);
    remove_files(v);
    return 0;
}

int gpxd_vm_remove(struct gpxd *d, const struct gpx_caller *who, const char *id, json_t **out,
                   gpx_error *err)
{
    struct gpxd_vms *m = d->vms;
    pthread_mutex_lock(&m->lock);
    struct vm *v = find(m, id, NULL);
    int rc = v && visible(who, v) ? 0 : not_found(id, err);
    if (rc == 0 && v->busy)
        rc = gpx_error_set(err, GPX_E_BUSY, "VM %s is being created or removed", id);
    if (rc == 0) {
        v->busy = 1;
        snprintf(v->state, sizeof v->state, "removing");
    }
    pthread_mutex_unlock(&m->lock);
    if (rc < 0)
        return -1;
    /* destroy the domain -> give the devices back -> end the lease */
    if (teardown(d, v, err) < 0) {
        pthread_mutex_lock(&m->lock);
        v->busy = 0;
        snprintf(v->state, sizeof v->state, "running");
        pthread_mutex_unlock(&m->lock);
        return gpx_error_wrap(err, "VM %s", id);
    }
    end_lease(d, v);
    pthread_mutex_lock(&m->lock);
    snprintf(v->state, sizeof v->state, "removed");
    *out = view(d, v);
    drop(m, v);
    pthread_mutex_unlock(&m->lock);
    gpx_error e = {0};
    if (gpx_engine_vm_delete(d->eng, v->id, &e) < 0)
        gpx_warn("vm %s: deleting its record failed: %s", v->id, e.msg);
    gpx_info("vm %s removed by %s (domain %s destroyed, lease %s ended)", v->id, who->tenant,
             v->domain, v->lease);
    vm_free(v);
    return 0;
}

/* --- leases ended elsewhere: the observer and the teardown thread -------------------------- */

static void on_event(void *arg, enum gpx_lease_event ev, const struct gpx_lease_rec *l)
{
    struct gpxd_vms *m = arg;
    if (ev != GPX_EV_RELEASED || !strstr(l->labels, "\"gpuplex.vm\""))
        return;
    pthread_mutex_lock(&m->qlock);
    if (m->nq < QUEUE_MAX)
        snprintf(m->queue[m->nq++], sizeof m->queue[0], "%s", l->id);
    else
        gpx_warn("vm teardown queue full: lease %s's VM waits for the next start", l->id);
    pthread_cond_signal(&m->qcond);
    pthread_mutex_unlock(&m->qlock);
}

/* The VM of an ended lease: domain destroyed, devices given back, kept as "ended". */
static void lease_ended(struct gpxd *d, const char *lease)
{
    struct gpxd_vms *m = d->vms;
    pthread_mutex_lock(&m->lock);
    struct vm *v = NULL;
    for (unsigned i = 0; i < m->n && !v; i++)
        if (!strcmp(m->v[i]->lease, lease))
            v = m->v[i];
    if (!v || v->busy || !strcmp(v->state, "ended")) {
        pthread_mutex_unlock(&m->lock); /* DELETE /v1/vms is at it, or it was done */
        return;
    }
    v->busy = 1;
    pthread_mutex_unlock(&m->lock);
    gpx_error e = {0};
    int rc = teardown(d, v, &e);
    pthread_mutex_lock(&m->lock);
    if (rc < 0)
        gpx_warn("vm %s: lease %s ended but its domain could not be stopped: %s (retried at "
                 "start)",
                 v->id, lease, e.msg);
    else
        snprintf(v->state, sizeof v->state, "ended");
    v->busy = 0;
    save(d, v);
    pthread_mutex_unlock(&m->lock);
    if (rc == 0)
        gpx_info("vm %s: lease %s ended; domain %s destroyed, devices given back", v->id, lease,
                 v->domain);
}

static void *teardown_main(void *arg)
{
    struct gpxd *d = arg;
    struct gpxd_vms *m = d->vms;
    pthread_mutex_lock(&m->qlock);
    while (!m->stopping) {
        if (m->nq == 0) {
            pthread_cond_wait(&m->qcond, &m->qlock);
            continue;
        }
        char lease[64];
        memcpy(lease, m->queue[0], sizeof lease);
        memmove(m->queue[0], m->queue[1], (m->nq - 1) * sizeof m->queue[0]);
        m->nq--;
        pthread_mutex_unlock(&m->qlock);
        lease_ended(d, lease);
        pthread_mutex_lock(&m->qlock);
    }
    pthread_mutex_unlock(&m->qlock);
    return NULL;
}

/* --- start: libvirt against the store ------------------------------------------------------ */

static int lease_live(struct gpxd *d, const char *id)
{
    struct gpx_lease *l = malloc(sizeof *l);
    gpx_error e = {0};
    int live = l && gpx_engine_lease_get(d->eng, &system_caller, id, 0, l, &e) == 0 &&
               (l->rec.state == GPX_LS_ACTIVE || l->rec.state == GPX_LS_PENDING);
    free(l);
    return live;
}

/* Open: domains no live VM names are destroyed, before sysfs gives devices back (vmhost.c).
 * -1 when libvirt cannot be asked (its domains are left alone). */
static int reconcile_domains(struct gpxd *d)
{
    struct gpxd_vms *m = d->vms;
    char **names = NULL;
    size_t n = 0;
    gpx_error e = {0};
    if (gpx_virt_list(m->virt, GPX_VM_DOMAIN_PREFIX, &names, &n, &e) < 0) {
        if (m->n)
            gpx_warn("vms: libvirt (%s) cannot be asked: %s; domains not reconciled",
                     gpx_virt_uri(m->virt), e.msg);
        return -1;
    }
    /* domains that no live VM names: destroyed and undefined */
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&m->lock);
        struct vm *v = NULL;
        for (unsigned k = 0; k < m->n && !v; k++)
            if (!strcmp(m->v[k]->domain, names[i]))
                v = m->v[k];
        int keep = v && strcmp(v->state, "ended") && strcmp(v->state, "creating") &&
                   lease_live(d, v->lease);
        pthread_mutex_unlock(&m->lock);
        if (keep)
            continue;
        if (gpx_virt_remove(m->virt, names[i], &e) < 0)
            gpx_warn("vms: removing domain %s of an ended lease failed: %s", names[i], e.msg);
        else
            gpx_info("vms: domain %s destroyed: %s", names[i],
                     v ? "its lease has ended" : "no VM of this daemon names it");
    }
    gpx_virt_names_free(names, n);
    return 0;
}

/* The VM id a lease's labels name (gpuplex.vm), or "" when none or not one of our ids
 * (vm- and 12 hex digits: a label a user put on a lease of their own is not ours to end). */
static void vm_of_lease(const char *labels, char *out, size_t len)
{
    json_t *o = json_loads(labels, 0, NULL);
    copy_str(out, len, json_object_get(o, "gpuplex.vm"));
    json_decref(o);
    size_t n = strlen(out);
    int ours = n == 15 && strncmp(out, "vm-", 3) == 0;
    for (size_t i = 3; ours && i < n; i++)
        ours = isxdigit((unsigned char)out[i]) && !isupper((unsigned char)out[i]);
    if (!ours)
        out[0] = '\0';
}

/*
 * Open, after the domains: what a create killed mid-way left (the daemon died before the VM
 * was "running") is undone in the release order. Its domain, if it got one, was destroyed
 * above; its devices are given back (a hold the record does not name yet, and journalled
 * writes that never committed, go back in vmhost.c once the lease has ended); its lease ends
 * and its record goes.
 */
static void reconcile_unfinished(struct gpxd *d)
{
    struct gpxd_vms *m = d->vms;
    gpx_error e = {0};
    pthread_mutex_lock(&m->lock);
    for (unsigned k = 0; k < m->n;) {
        struct vm *v = m->v[k];
        if (strcmp(v->state, "creating") != 0) {
            k++;
            continue;
        }
        give_back(d, v);
        end_lease(d, v);
        remove_files(v);
        if (gpx_engine_vm_delete(d->eng, v->id, &e) < 0)
            gpx_warn("vm %s: deleting its record failed: %s", v->id, e.msg);
        gpx_info("vms: %s never finished creating (gpuplexd died); lease %s ended, devices "
                 "given back",
                 v->id, v->lease[0] ? v->lease : "-");
        drop(m, v);
        vm_free(v);
    }
    pthread_mutex_unlock(&m->lock);
}

/* A lease labelled gpuplex.vm that no VM record names: gpuplexd died between the lease and the
 * record, before any device or domain (both come after the record), so it just ends. */
static void reconcile_orphan_leases(struct gpxd *d)
{
    struct gpxd_vms *m = d->vms;
    gpx_error e = {0};
    pthread_mutex_lock(&m->lock);
    struct gpx_lease *l = NULL;
    unsigned n = 0;
    struct gpx_lease_query q = {.state = -1};
    if (gpx_engine_lease_list(d->eng, &system_caller, &q, &l, &n, &e) < 0) {
        gpx_warn("vms: listing leases: %s; VM leases without a VM are not ended", e.msg);
        n = 0;
    }
    for (unsigned i = 0; i < n; i++) {
        char id[sizeof m->v[0]->id];
        vm_of_lease(l[i].rec.labels, id, sizeof id);
        if (!id[0] || find(m, id, NULL))
            continue;
        struct vm orphan = {.lease = ""};
        snprintf(orphan.id, sizeof orphan.id, "%s", id);
        snprintf(orphan.lease, sizeof orphan.lease, "%s", l[i].rec.id);
        end_lease(d, &orphan);
        gpx_info("vms: lease %s of VM %s ended: gpuplexd died before the VM was recorded",
                 orphan.lease, id);
    }
    free(l);
    pthread_mutex_unlock(&m->lock);
}

/* Start: VMs of ended leases give their devices back; live ones run (on the devices vmhost.c
 * restored). */
static void reconcile(struct gpxd *d)
{
    struct gpxd_vms *m = d->vms;
    gpx_error e = {0};
    pthread_mutex_lock(&m->lock);
    for (unsigned k = 0; k < m->n; k++) {
        struct vm *v = m->v[k];
        if (!strcmp(v->state, "ended"))
            continue;
        if (!lease_live(d, v->lease)) {
            give_back(d, v);
            remove_files(v);
            snprintf(v->state, sizeof v->state, "ended");
            save(d, v);
            gpx_info("vms: %s's lease %s ended while gpuplexd was away", v->id, v->lease);
            continue;
        }
        enum gpx_virt_state st = GPX_VIRT_MISSING;
        if (gpx_virt_state(m->virt, v->domain, &st, &e) < 0)
            continue;
        if (st == GPX_VIRT_STOPPED) {
            if (gpx_virt_start(m->virt, v->domain, &e) < 0)
                gpx_warn("vms: restarting %s failed: %s", v->domain, e.msg);
            else
                gpx_info("vms: %s started again (its lease %s is live)", v->domain, v->lease);
        }
        snprintf(v->state, sizeof v->state, "%s", st == GPX_VIRT_MISSING ? "stopped" : "running");
        if (st == GPX_VIRT_MISSING)
            gpx_warn("vms: %s's domain %s is gone from libvirt (DELETE /v1/vms/%s ends its "
                     "lease)",
                     v->id, v->domain, v->id);
        save(d, v);
    }
    pthread_mutex_unlock(&m->lock);
}

/* --- life ------------------------------------------------------------------------------------- */

int gpxd_vms_open(struct gpxd *d, gpx_error *err)
{
    struct gpxd_vms *m = calloc(1, sizeof *m);
    if (!m)
        return gpx_error_set(err, GPX_E_NOMEM, "vms");
    m->d = d;
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->qlock, NULL);
    pthread_cond_init(&m->qcond, NULL);
    d->vms = m;
    const char *base = d->cfg.vm_dir[0] ? d->cfg.vm_dir : d->cfg.state_dir;
    if (strlen(base) + 5 >= sizeof m->dir)
        return gpx_error_set(err, GPX_E_INVALID, "vm_dir %.200s: path too long", base);
    memcpy(m->dir, base, strlen(base) + 1);
    if (!d->cfg.vm_dir[0])
        strcat(m->dir, "/vms");
    if (d->cfg.vm_ssh_port_min > d->cfg.vm_ssh_port_max)
        return gpx_error_set(err, GPX_E_INVALID, "vm_ssh_port_min %u is above vm_ssh_port_max %u",
                             d->cfg.vm_ssh_port_min, d->cfg.vm_ssh_port_max);
    if (gpx_virt_new(d->cfg.libvirt_uri, &m->virt, err) < 0 ||
        gpx_engine_vm_each(d->eng, load_one, m, err) < 0)
        return -1;
    if (d->cfg.vm_images[0] && mkdir(m->dir, 0700) < 0 && errno != EEXIST)
        return gpx_error_set(err, GPX_E_IO, "vm_dir %s: %s", m->dir, strerror(errno));
    struct gpx_observer o = {.name = "vms", .on_event = on_event, .arg = m};
    if (gpx_engine_observe(d->eng, &o, err) < 0)
        return -1;
    if (m->n)
        gpx_info("vms: %u VM record(s) loaded from the store", m->n);
    if (d->cfg.vm_images[0] || m->n) {
        if (reconcile_domains(d) == 0)
            reconcile_unfinished(d);
        reconcile_orphan_leases(d);
    }
    return 0;
}

int gpxd_vms_start(struct gpxd *d, gpx_error *err)
{
    struct gpxd_vms *m = d->vms;
    if (!m || (!d->cfg.vm_images[0] && m->n == 0))
        return 0; /* off, and nothing to watch */
    reconcile(d);
    if (pthread_create(&m->th, NULL, teardown_main, d) != 0)
        return gpx_error_set(err, GPX_E_INTERNAL, "starting the VM teardown thread failed");
    m->started = 1;
    return 0;
}

/* Stops the teardown thread; the domains keep running (a restarted gpuplexd reconciles). */
void gpxd_vms_stop(struct gpxd *d)
{
    struct gpxd_vms *m = d->vms;
    if (!m || !m->started)
        return;
    pthread_mutex_lock(&m->qlock);
    m->stopping = 1;
    pthread_cond_signal(&m->qcond);
    pthread_mutex_unlock(&m->qlock);
    pthread_join(m->th, NULL);
    m->started = 0;
}

/* After the engine (whose observer this is) is closed. */
void gpxd_vms_close(struct gpxd *d)
{
    struct gpxd_vms *m = d->vms;
    if (!m)
        return;
    gpxd_vms_stop(d);
    for (unsigned i = 0; i < m->n; i++)
        vm_free(m->v[i]);
    gpx_virt_free(m->virt);
    pthread_mutex_destroy(&m->lock);
    pthread_mutex_destroy(&m->qlock);
    pthread_cond_destroy(&m->qcond);
    free(m);
    d->vms = NULL;
}
