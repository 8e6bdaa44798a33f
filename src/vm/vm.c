/*
 * The VM host interface (vm.h) over the three backends: picks the backend by
 * kind from one table and never branches on a backend's details; holds the
 * parts every backend shares (PCI addresses, the <hostdev> each hold needs,
 * the creatable_vgpu_types parser, the reconcile of a daemon's start).
 *
 * Reconcile's promise (issue 13, item 3): after it, every live hold has its
 * devices (VFs enabled, vGPU type set, mdev present, endpoints on vfio-pci),
 * every ended hold and every uncommitted journal has given its devices back,
 * and no GPU is left on vfio-pci (or with a driver_override) without a live hold.
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "vm/internal.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[GPX_VM_BACKEND_COUNT] = {"none", "passthrough", "mdev",
                                                        "vendor-vfio"};

const char *gpx_vm_backend_name(enum gpx_vm_backend b)
{
    return (unsigned)b < GPX_VM_BACKEND_COUNT ? names[b] : "none";
}

int gpx_vm_backend_parse(const char *name)
{
    for (int i = 0; name && i < GPX_VM_BACKEND_COUNT; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

static const struct gpx__vm_backend *backend_of(enum gpx_vm_backend b)
{
    switch (b) {
    case GPX_VM_PASSTHROUGH:
        return &gpx__vm_passthrough;
    case GPX_VM_MDEV:
        return &gpx__vm_mdev;
    case GPX_VM_VENDOR_VFIO:
        return &gpx__vm_vendor_vfio;
    default:
        return NULL;
    }
}

/* --- PCI addresses --------------------------------------------------------------------------- */

int gpx_vm_bdf_parse(const char *text, struct gpx_vm_pci_addr *out)
{
    unsigned v[4] = {0};
    int n = 0, fields = 0;
    if (!text)
        return -1;
    /* DOMAIN:BUS:SLOT.FN or BUS:SLOT.FN */
    if (sscanf(text, "%x:%x:%x.%x%n", &v[0], &v[1], &v[2], &v[3], &n) == 4 && !text[n])
        fields = 4;
    else if (sscanf(text, "%x:%x.%x%n", &v[1], &v[2], &v[3], &n) == 3 && !text[n])
        fields = 3;
    if (!fields)
        return -1;
    /* reject what sscanf lets through: signs, spaces, 0x prefixes */
    for (const char *s = text; *s; s++)
        if (!isxdigit((unsigned char)*s) && *s != ':' && *s != '.')
            return -1;
    if (v[0] > 0xffff || v[1] > 0xff || v[2] > 0x1f || v[3] > 7)
        return -1;
    out->domain = v[0];
    out->bus = v[1];
    out->slot = v[2];
    out->function = v[3];
    return 0;
}

void gpx_vm_bdf_format(const struct gpx_vm_pci_addr *a, char out[GPX_VM_BDF_MAX])
{
    snprintf(out, GPX_VM_BDF_MAX, "%04x:%02x:%02x.%x", a->domain & 0xffff, a->bus & 0xff,
             a->slot & 0x1f, a->function & 7);
}

size_t gpx_vm_hostdevs(const struct gpx_vm_hold *h, struct gpx_vm_hostdev *out, size_t max)
{
    size_t n = 0;
    switch (h->backend) {
    case GPX_VM_PASSTHROUGH:
        for (size_t i = 0; i < h->npci && n < max; i++) {
            out[n].kind = GPX_VM_HOSTDEV_PCI;
            if (gpx_vm_bdf_parse(h->pci[i], &out[n].addr) == 0)
                n++;
        }
        break;
    case GPX_VM_MDEV:
        if (max > 0) {
            out[0].kind = GPX_VM_HOSTDEV_MDEV;
            snprintf(out[0].uuid, sizeof out[0].uuid, "%s", h->mdev_uuid);
            n = 1;
        }
        break;
    case GPX_VM_VENDOR_VFIO:
        if (max > 0 && gpx_vm_bdf_parse(h->vf_bdf, &out[0].addr) == 0) {
            out[0].kind = GPX_VM_HOSTDEV_PCI;
            n = 1;
        }
        break;
    default:
        break;
    }
    return n;
}

/* --- vGPU types ------------------------------------------------------------------------------ */

void gpx_vm_type_list_free(struct gpx_vm_type_list *l)
{
    if (!l)
        return;
    free(l->types);
    l->types = NULL;
    l->n = 0;
}

int gpx__type_push(struct gpx_vm_type_list *l, const struct gpx_vm_type *t)
{
    struct gpx_vm_type *nt = realloc(l->types, (l->n + 1) * sizeof *nt);
    if (!nt)
        return -1;
    l->types = nt;
    l->types[l->n++] = *t;
    return 0;
}

unsigned gpx_vm_type_framebuffer_mib(const char *name)
{
    /* the last dash-separated part: "<GiB><series letter>", e.g. "10C", "4Q", "80C" */
    const char *d = name ? strrchr(name, '-') : NULL;
    if (!d || !isdigit((unsigned char)d[1]))
        return 0;
    char *end;
    unsigned long gib = strtoul(d + 1, &end, 10);
    if (!isalpha((unsigned char)*end) || end[1] || gib == 0 || gib > 1024)
        return 0;
    return (unsigned)gib * 1024;
}

/* "H100-1-10C": a MIG-backed type (slice count between model and framebuffer). */
static bool mig_backed(const char *name)
{
    const char *a = strchr(name, '-'), *b = strrchr(name, '-');
    if (!a || a == b)
        return false;
    for (const char *s = a + 1; s < b; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return b > a + 1;
}

int gpx_vm_parse_creatable(const char *text, struct gpx_vm_type_list *out, gpx_error *err)
{
    memset(out, 0, sizeof *out);
    const char *line = text;
    int first = 1;
    while (line && *line) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char buf[256];
        if (len >= sizeof buf)
            len = sizeof buf - 1;
        memcpy(buf, line, len);
        buf[len] = '\0';
        line = nl ? nl + 1 : NULL;
        char *s = buf;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s)
            continue;
        if (!isdigit((unsigned char)*s)) {
            if (first) { /* the header: "ID    : vGPU Name" */
                first = 0;
                continue;
            }
            gpx_vm_type_list_free(out);
            return gpx_error_set(err, GPX_E_DRIVER,
                                 "creatable_vgpu_types: line '%.64s' is not 'ID : name'", s);
        }
        first = 0;
        char *end;
        errno = 0;
        unsigned long id = strtoul(s, &end, 10);
        while (isspace((unsigned char)*end))
            end++;
        if (errno || id == 0 || id > 0xffffffffUL || *end != ':') {
            gpx_vm_type_list_free(out);
            return gpx_error_set(err, GPX_E_DRIVER,
                                 "creatable_vgpu_types: line '%.64s' is not 'ID : name'", s);
        }
        char *name = end + 1;
        while (isspace((unsigned char)*name))
            name++;
        char *e = name + strlen(name);
        while (e > name && isspace((unsigned char)e[-1]))
            *--e = '\0';
        if (!*name || strlen(name) >= GPX_VM_NAME_MAX) {
            gpx_vm_type_list_free(out);
            return gpx_error_set(err, GPX_E_DRIVER,
                                 "creatable_vgpu_types: type %lu has no usable name", id);
        }
        struct gpx_vm_type t = {0};
        snprintf(t.id, sizeof t.id, "%lu", id);
        snprintf(t.name, sizeof t.name, "%s", name);
        t.framebuffer_mib = gpx_vm_type_framebuffer_mib(name);
        t.mig_backed = mig_backed(name);
        if (gpx__type_push(out, &t) < 0) {
            gpx_vm_type_list_free(out);
            return gpx_error_set(err, GPX_E_NOMEM, "parsing creatable_vgpu_types");
        }
    }
    return 0;
}

/* --- the interface --------------------------------------------------------------------------- */

enum gpx_vm_backend gpx_vm_detect(const char *bdf)
{
    /* the vGPU backends first: a GPU that offers vGPU is meant for it */
    if (gpx__vm_vendor_vfio.detect(bdf))
        return GPX_VM_VENDOR_VFIO;
    if (gpx__vm_mdev.detect(bdf))
        return GPX_VM_MDEV;
    if (gpx__vm_passthrough.detect(bdf))
        return GPX_VM_PASSTHROUGH;
    return GPX_VM_NONE;
}

int gpx_vm_probe(const char *bdf, struct gpx_vm_probe *out, gpx_error *err)
{
    if (gpx__passthrough_probe(bdf, out, err) < 0)
        return -1;
    enum gpx_vm_backend b = gpx_vm_detect(bdf);
    out->vgpu_backend = b == GPX_VM_MDEV || b == GPX_VM_VENDOR_VFIO ? b : GPX_VM_NONE;
    return 0;
}

int gpx_vm_types(const char *bdf, struct gpx_vm_type_list *out, gpx_error *err)
{
    memset(out, 0, sizeof *out);
    const struct gpx__vm_backend *b = backend_of(gpx_vm_detect(bdf));
    if (!b || !b->types)
        return 0;
    return b->types(bdf, out, err);
}

int gpx_vm_acquire(const char *bdf, const struct gpx_vm_request *req,
                   const struct gpx_vm_journal *j, struct gpx_vm_hold *out, gpx_error *err)
{
    enum gpx_vm_backend kind = req->backend;
    if (kind == GPX_VM_NONE)
        kind = req->type && *req->type ? gpx_vm_detect(bdf) : GPX_VM_PASSTHROUGH;
    const struct gpx__vm_backend *b = backend_of(kind);
    if (!b)
        return gpx_error_set(err, GPX_E_INVALID,
                             "%s offers no vGPU (no mdev types, no SR-IOV "
                             "vGPU): ask for the whole GPU instead",
                             bdf);
    if (kind != GPX_VM_PASSTHROUGH && !b->detect(bdf))
        return gpx_error_set(err, GPX_E_INVALID, "%s offers no %s vGPU", bdf, b->name);
    if (b->acquire(bdf, req, j, out, err) < 0)
        return gpx_error_wrap(err, "%s lease on %s", b->name, bdf);
    gpx_info("vm: %s lease %s holds %s%s%s", b->name, req->lease_id ? req->lease_id : "-", bdf,
             out->type_name[0] ? " as " : "", out->type_name);
    return 0;
}

int gpx_vm_release(const struct gpx_vm_hold *h, const struct gpx_vm_journal *j,
                   const char *lease_id, gpx_error *err)
{
    const struct gpx__vm_backend *b = backend_of(h->backend);
    if (!b)
        return 0;
    if (b->release(h, j, lease_id, err) < 0)
        return gpx_error_wrap(err, "giving back %s (%s)", h->gpu_bdf, b->name);
    return 0;
}

int gpx_vm_restore(const struct gpx_vm_hold *h, const struct gpx_vm_journal *j,
                   const char *lease_id, gpx_error *err)
{
    const struct gpx__vm_backend *b = backend_of(h->backend);
    if (!b)
        return 0;
    if (b->restore(h, j, lease_id, err) < 0)
        return gpx_error_wrap(err, "restoring %s (%s)", h->gpu_bdf, b->name);
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* "bus/pci/devices/<bdf>/..." -> bdf */
static int path_bdf(const char *path, char out[GPX_VM_BDF_MAX])
{
    const char *p = strstr(path, "devices/");
    if (!p)
        return -1;
    p += strlen("devices/");
    const char *e = strchr(p, '/');
    if (!e || (size_t)(e - p) >= GPX_VM_BDF_MAX)
        return -1;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return 0;
}

int gpx_vm_undo_change(const char *path, const char *value, const char *undo,
                       const struct gpx_vm_journal *j, const char *lease_id, gpx_error *err)
{
    char bdf[GPX_VM_BDF_MAX], p[GPX__SYSFS_PATH], now[64];
    if (ends_with(path, "/driver_override")) {
        if (path_bdf(path, bdf) < 0)
            return 0;
        return gpx__pci_give_back(bdf, NULL, j, lease_id, err);
    }
    if (ends_with(path, "/create") && strstr(path, "mdev_supported_types")) {
        snprintf(p, sizeof p, "bus/mdev/devices/%s", value);
        if (!gpx__sysfs_exists(p))
            return 0;
        snprintf(p, sizeof p, "bus/mdev/devices/%s/remove", value);
        if (gpx__sysfs_write(j, lease_id, p, "1", NULL, err) < 0)
            return -1;
        snprintf(p, sizeof p, "bus/mdev/devices/%s", value);
        return gpx__sysfs_wait_exists(p, 0, err);
    }
    if (ends_with(path, "/nvidia/current_vgpu_type")) {
        if (gpx__sysfs_read(path, now, sizeof now) < 0 || strcmp(now, value) != 0 ||
            strcmp(value, "0") == 0)
            return 0;
        return gpx__sysfs_write(j, lease_id, path, undo ? undo : "0", NULL, err);
    }
    if (ends_with(path, "/sriov_numvfs") && undo) {
        /* VFs we enabled: disable them again unless a vGPU lives on one */
        if (path_bdf(path, bdf) < 0 || gpx__sysfs_read(path, now, sizeof now) < 0 ||
            strcmp(now, "0") == 0)
            return 0;
        unsigned long n = strtoul(now, NULL, 10);
        for (unsigned long i = 0; i < n; i++) {
            char vf[GPX_VM_BDF_MAX], cur[32];
            snprintf(p, sizeof p, "bus/pci/devices/%s/virtfn%lu", bdf, i);
            if (gpx__sysfs_link_base(p, vf, sizeof vf) < 0)
                continue;
            snprintf(p, sizeof p, "bus/pci/devices/%s/nvidia/current_vgpu_type", vf);
            if (gpx__sysfs_read(p, cur, sizeof cur) == 0 && strcmp(cur, "0") != 0)
                return 0;
        }
        return gpx__sysfs_write(j, lease_id, path, undo, NULL, err);
    }
    return 0;
}

static bool named_live(const char *bdf, const struct gpx_vm_hold *live, size_t nlive)
{
    for (size_t i = 0; i < nlive; i++)
        for (size_t k = 0; k < live[i].npci; k++)
            if (strcmp(live[i].pci[k], bdf) == 0)
                return true;
    return false;
}

int gpx_vm_give_back_orphan(const char *gpu_bdf, const struct gpx_vm_hold *live, size_t nlive,
                            const struct gpx_vm_journal *j, gpx_error *err)
{
    if (named_live(gpu_bdf, live, nlive))
        return 0;
    char drv[GPX_VM_NAME_MAX], p[GPX__SYSFS_PATH], ov[GPX_VM_NAME_MAX];
    gpx__pci_driver(gpu_bdf, drv, sizeof drv);
    snprintf(p, sizeof p, "bus/pci/devices/%s/driver_override", gpu_bdf);
    int override = gpx__sysfs_read(p, ov, sizeof ov) == 0 && ov[0] && strcmp(ov, "(null)") != 0;
    if (strcmp(drv, "vfio-pci") != 0 && !override)
        return 0;
    gpx_warn("vm: %s is on %s with no VM lease: giving it back to its host driver", gpu_bdf,
             drv[0] ? drv : "no driver");
    if (gpx__pci_give_back(gpu_bdf, NULL, j, "", err) < 0)
        return -1;
    return 1;
}

int gpx_vm_reconcile(const char *const *gpu_bdfs, size_t ngpus, const struct gpx_vm_hold *live,
                     size_t nlive, const struct gpx_vm_hold *ended, size_t nended,
                     const struct gpx_vm_journal *j)
{
    int failures = 0;
    for (size_t i = 0; i < nended; i++) {
        gpx_error e = {0};
        if (gpx_vm_release(&ended[i], j, "", &e) < 0) {
            gpx_warn("vm reconcile: %s", e.msg);
            failures++;
        }
    }
    for (size_t i = 0; i < nlive; i++) {
        gpx_error e = {0};
        if (gpx_vm_restore(&live[i], j, "", &e) < 0) {
            gpx_warn("vm reconcile: %s", e.msg);
            failures++;
        }
    }
    for (size_t i = 0; i < ngpus; i++) {
        gpx_error e = {0};
        if (gpx_vm_give_back_orphan(gpu_bdfs[i], live, nlive, j, &e) < 0) {
            gpx_warn("vm reconcile: %s", e.msg);
            failures++;
        }
    }
    return failures;
}

/* --- holds as JSON --------------------------------------------------------------------------- */

char *gpx_vm_hold_to_json(const struct gpx_vm_hold *h)
{
    json_t *o = json_object(), *pci = json_array();
    json_object_set_new(o, "backend", json_string(gpx_vm_backend_name(h->backend)));
    json_object_set_new(o, "gpu_pci", json_string(h->gpu_bdf));
    for (size_t i = 0; i < h->npci; i++)
        json_array_append_new(
            pci, json_pack("{s:s,s:s}", "address", h->pci[i], "host_driver", h->orig_driver[i]));
    json_object_set_new(o, "pci", pci);
    /* every field, set or not: what is read back is the same hold */
    json_object_set_new(o, "mdev_uuid", json_string(h->mdev_uuid));
    json_object_set_new(o, "mdev_type", json_string(h->mdev_type));
    json_object_set_new(o, "vf_pci", json_string(h->vf_bdf));
    json_object_set_new(o, "vgpu_type_id", json_integer(h->vgpu_type_id));
    json_object_set_new(o, "gpu_instance_id", json_integer(h->gpu_instance_id));
    json_object_set_new(o, "vgpu_type", json_string(h->type_name));
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

static int copy_str(json_t *o, const char *key, char *out, size_t len)
{
    const char *v = json_string_value(json_object_get(o, key));
    if (!v)
        return 0;
    if (strlen(v) >= len)
        return -1;
    strcpy(out, v);
    return 0;
}

int gpx_vm_hold_from_json(const char *text, struct gpx_vm_hold *out, gpx_error *err)
{
    memset(out, 0, sizeof *out);
    out->gpu_instance_id = -1;
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return gpx_error_set(err, GPX_E_STATE, "VM hold: not a JSON object (%s)", je.text);
    }
    int b = gpx_vm_backend_parse(json_string_value(json_object_get(o, "backend")));
    int bad = b < 0;
    out->backend = b < 0 ? GPX_VM_NONE : (enum gpx_vm_backend)b;
    bad |= copy_str(o, "gpu_pci", out->gpu_bdf, sizeof out->gpu_bdf) < 0;
    bad |= copy_str(o, "mdev_uuid", out->mdev_uuid, sizeof out->mdev_uuid) < 0;
    bad |= copy_str(o, "mdev_type", out->mdev_type, sizeof out->mdev_type) < 0;
    bad |= copy_str(o, "vf_pci", out->vf_bdf, sizeof out->vf_bdf) < 0;
    bad |= copy_str(o, "vgpu_type", out->type_name, sizeof out->type_name) < 0;
    json_t *v = json_object_get(o, "vgpu_type_id");
    if (json_is_integer(v))
        out->vgpu_type_id = (unsigned)json_integer_value(v);
    v = json_object_get(o, "gpu_instance_id");
    if (json_is_integer(v))
        out->gpu_instance_id = (int)json_integer_value(v);
    json_t *pci = json_object_get(o, "pci");
    size_t i;
    json_t *e;
    json_array_foreach(pci, i, e)
    {
        if (out->npci >= GPX_VM_GROUP_MAX) {
            bad = 1;
            break;
        }
        bad |= copy_str(e, "address", out->pci[out->npci], GPX_VM_BDF_MAX) < 0;
        bad |= copy_str(e, "host_driver", out->orig_driver[out->npci], GPX_VM_NAME_MAX) < 0;
        out->npci++;
    }
    json_decref(o);
    if (bad)
        return gpx_error_set(err, GPX_E_STATE, "VM hold: a field is missing or too long");
    return 0;
}

/* --- JSON ------------------------------------------------------------------------------------ */

const char *gpx_vm_class_word(unsigned c)
{
    switch (c >> 16) {
    case 0x03:
        return "GPU";
    case 0x04:
        return (c >> 8) == 0x0403 ? "audio" : "multimedia";
    case 0x06:
        return (c >> 8) == 0x0604 ? "bridge" : "bridge-other";
    case 0x02:
        return "network";
    case 0x01:
        return "storage";
    case 0x0c:
        return "serial-bus";
    default:
        return "other";
    }
}

json_t *gpx_vm_types_json(const struct gpx_vm_type_list *l)
{
    json_t *a = json_array();
    for (size_t i = 0; i < l->n; i++) {
        const struct gpx_vm_type *t = &l->types[i];
        json_t *o = json_pack("{s:s,s:s,s:i,s:b}", "id", t->id, "name", t->name, "available",
                              (json_int_t)t->available, "mig_backed", t->mig_backed);
        if (t->framebuffer_mib)
            json_object_set_new(o, "framebuffer_mib", json_integer(t->framebuffer_mib));
        if (t->description[0])
            json_object_set_new(o, "description", json_string(t->description));
        json_array_append_new(a, o);
    }
    return a;
}

/* A member's part in a passthrough lease: leased (a function of the GPU), tolerated
 * (a bridge), blocks (a foreign endpoint a host driver holds), unused (unbound). */
static const char *role_of(const struct gpx_vm_probe *p, const struct gpx_vm_member *m)
{
    const char *dot = strrchr(p->bdf, '.');
    if (m->bridge)
        return "tolerated";
    if (dot && strncmp(m->bdf, p->bdf, (size_t)(dot - p->bdf)) == 0)
        return "leased";
    return m->blocker ? "blocks" : "unused";
}

json_t *gpx_vm_probe_json(const struct gpx_vm_probe *p)
{
    json_t *o = json_object(), *mem = json_array();
    json_object_set_new(o, "pci", json_string(p->bdf));
    json_object_set_new(o, "iommu_group",
                        p->iommu_group >= 0 ? json_integer(p->iommu_group) : json_null());
    for (size_t i = 0; i < p->nmembers; i++) {
        const struct gpx_vm_member *m = &p->members[i];
        char cls[16], ids[16];
        snprintf(cls, sizeof cls, "0x%06x", m->pci_class);
        snprintf(ids, sizeof ids, "%04x:%04x", m->vendor, m->device);
        json_array_append_new(mem, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "address", m->bdf,
                                             "driver", m->driver, "class", cls, "kind",
                                             gpx_vm_class_word(m->pci_class), "ids", ids, "role",
                                             role_of(p, m)));
    }
    json_object_set_new(o, "members", mem);
    json_t *pt = json_pack("{s:b}", "ok", p->passthrough_ok);
    if (!p->passthrough_ok)
        json_object_set_new(pt, "reason", json_string(p->why_not));
    json_object_set_new(o, "passthrough", pt);
    json_object_set_new(o, "vgpu_backend", json_string(gpx_vm_backend_name(p->vgpu_backend)));
    if (p->sriov_totalvfs) {
        json_object_set_new(o, "sriov_totalvfs", json_integer(p->sriov_totalvfs));
        json_object_set_new(o, "sriov_numvfs", json_integer(p->sriov_numvfs));
    }
    return o;
}
