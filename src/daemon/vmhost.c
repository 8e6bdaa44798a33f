/*
 * The host side of VM leases in gpuplexd (docs/vms.md): the vGPU types each
 * GPU offers (GET /v1/gpus/{id}/vgpu-types) and the reconcile of sysfs
 * against the store when the daemon starts (issue 13, item 3).
 *
 * What the store says (schema 6): vm_journal holds every sysfs write made
 * for a lease whose devices are not settled yet (written BEFORE the write;
 * cleared when the lease's hold commits, or when a release ends); vm_holds
 * holds what each VM lease holds on the host. So after a crash or a reboot:
 *   - journal rows of a lease with no hold: an acquire that never committed
 *     (kill -9 between a sysfs write and the commit): each write is undone,
 *     newest first (src/vm gpx_vm_undo_change);
 *   - a hold of a live lease: restored (VFs enabled again, the vGPU type set,
 *     the mdev re-created with its UUID, the endpoints bound to vfio-pci);
 *   - a hold of an ended lease: given back, then deleted;
 *   - any GPU left on vfio-pci (or with a driver_override) that no live hold
 *     names: back to its host driver.
 * Every write the reconcile makes is journalled too, so a crash during it is
 * covered by the next start. It runs before the VMs' own reconcile
 * (vms.c, libvirt), which restarts domains on the devices restored here.
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "daemon/daemon.h"
#include "vm/vm.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct gpx_caller system_caller = {.tenant = "gpuplexd", .admin = 1};

static int journal_record(void *ctx, const char *lease_id, const struct gpx_vm_change *c,
                          gpx_error *err)
{
    struct gpxd *d = ctx;
    return gpx_engine_vm_journal_add(d->eng, lease_id, c->path, c->value, c->undo, err);
}

/* --- what the store holds -------------------------------------------------------------------- */

struct jrow {
    char lease[64];
    char *path, *value, *undo;
};
struct hrow {
    char lease[64];
    struct gpx_vm_hold h;
};
struct seen {
    struct jrow *j;
    size_t nj;
    struct hrow *h;
    size_t nh;
};

static int add_jrow(const char *lease, const char *path, const char *value, const char *undo,
                    void *arg)
{
    struct seen *s = arg;
    struct jrow *n = realloc(s->j, (s->nj + 1) * sizeof *n);
    if (!n)
        return 1;
    s->j = n;
    struct jrow *r = &s->j[s->nj++];
    snprintf(r->lease, sizeof r->lease, "%s", lease);
    r->path = strdup(path);
    r->value = strdup(value);
    r->undo = undo ? strdup(undo) : NULL;
    return 0;
}

static int add_hrow(const char *lease, const char *hold, void *arg)
{
    struct seen *s = arg;
    gpx_error e = {0};
    struct hrow r = {0};
    snprintf(r.lease, sizeof r.lease, "%s", lease);
    if (gpx_vm_hold_from_json(hold, &r.h, &e) < 0) {
        gpx_warn("vm reconcile: lease %s: %s; its hold is skipped", lease, e.msg);
        return 0;
    }
    struct hrow *n = realloc(s->h, (s->nh + 1) * sizeof *n);
    if (!n)
        return 1;
    s->h = n;
    s->h[s->nh++] = r;
    return 0;
}

static int has_hold(const struct seen *s, const char *lease)
{
    for (size_t i = 0; i < s->nh; i++)
        if (strcmp(s->h[i].lease, lease) == 0)
            return 1;
    return 0;
}

static int lease_live(struct gpxd *d, const char *id)
{
    struct gpx_lease *l = calloc(1, sizeof *l);
    gpx_error e = {0};
    int live = l && gpx_engine_lease_get(d->eng, &system_caller, id, 0, l, &e) == 0 &&
               l->rec.state == GPX_LS_ACTIVE;
    free(l);
    return live;
}

struct bdfs {
    char (*v)[GPX_VM_BDF_MAX];
    size_t n;
};

static void add_bdf(struct bdfs *b, const char *text)
{
    struct gpx_vm_pci_addr a;
    char one[GPX_VM_BDF_MAX];
    if (!text || gpx_vm_bdf_parse(text, &a) < 0)
        return;
    gpx_vm_bdf_format(&a, one);
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->v[i], one) == 0)
            return;
    char(*n)[GPX_VM_BDF_MAX] = realloc(b->v, (b->n + 1) * sizeof *n);
    if (!n)
        return;
    b->v = n;
    memcpy(b->v[b->n++], one, sizeof one);
}

/*
 * The devices the orphan check looks at: the GPUs the driver lists, and every device the
 * store names (holds, journalled driver_override writes). A GPU on vfio-pci is invisible to
 * the driver, so on a real host it is the store that names it; a device an operator bound
 * to vfio-pci by hand, which gpuplex never touched, is left alone.
 */
static void candidates(struct gpxd *d, const struct seen *s, struct bdfs *b)
{
    struct gpx_node n;
    gpx_error e = {0};
    if (gpx_engine_gpus(d->eng, &system_caller, &n, &e) == 0) {
        for (unsigned i = 0; i < n.count; i++)
            add_bdf(b, n.gpus[i].info.pci_bus_id);
        gpx_node_free(&n);
    }
    for (size_t i = 0; i < s->nh; i++) {
        add_bdf(b, s->h[i].h.gpu_bdf);
        for (size_t k = 0; k < s->h[i].h.npci; k++)
            add_bdf(b, s->h[i].h.pci[k]);
    }
    static const char pre[] = "bus/pci/devices/", post[] = "/driver_override";
    for (size_t i = 0; i < s->nj; i++) {
        const char *p = s->j[i].path;
        size_t len = p ? strlen(p) : 0;
        if (len > sizeof pre + sizeof post && strncmp(p, pre, sizeof pre - 1) == 0 &&
            strcmp(p + len - (sizeof post - 1), post) == 0) {
            char one[GPX_VM_BDF_MAX + 8];
            size_t bl = len - (sizeof pre - 1) - (sizeof post - 1);
            if (bl < sizeof one) {
                memcpy(one, p + sizeof pre - 1, bl);
                one[bl] = '\0';
                add_bdf(b, one);
            }
        }
    }
}

int gpxd_vmhost_reconcile(struct gpxd *d)
{
    struct seen s = {0};
    gpx_error e = {0};
    struct gpx_vm_journal j = {.record = journal_record, .ctx = d};
    int failures = 0;
    if (gpx_engine_vm_journal_each(d->eng, add_jrow, &s, &e) < 0 ||
        gpx_engine_vm_hold_each(d->eng, add_hrow, &s, &e) < 0) {
        gpx_warn("vm reconcile: reading the store: %s", e.msg);
        failures++;
    }
    /* writes of acquires that never committed: undone, newest first */
    for (size_t i = s.nj; i-- > 0;) {
        struct jrow *r = &s.j[i];
        if (has_hold(&s, r->lease) || !r->path || !r->value)
            continue;
        if (gpx_vm_undo_change(r->path, r->value, r->undo, &j, r->lease, &e) < 0) {
            gpx_warn("vm reconcile: undoing '%s' > %s of lease %s: %s", r->value, r->path,
                     r->lease[0] ? r->lease : "-", e.msg);
            failures++;
        } else {
            gpx_info("vm reconcile: undid '%s' > %s (lease %s never committed)", r->value, r->path,
                     r->lease[0] ? r->lease : "-");
        }
    }
    /* holds: live ones restored, ended ones given back */
    struct gpx_vm_hold *live = calloc(s.nh ? s.nh : 1, sizeof *live);
    size_t nlive = 0;
    for (size_t i = 0; live && i < s.nh; i++) {
        struct hrow *h = &s.h[i];
        if (lease_live(d, h->lease)) {
            if (gpx_vm_restore(&h->h, &j, h->lease, &e) < 0) {
                gpx_warn("vm reconcile: lease %s: %s", h->lease, e.msg);
                failures++;
            }
            live[nlive++] = h->h;
        } else if (gpx_vm_release(&h->h, &j, h->lease, &e) < 0) {
            gpx_warn("vm reconcile: lease %s (ended): %s", h->lease, e.msg);
            failures++;
        } else if (gpx_engine_vm_hold_delete(d->eng, h->lease, &e) < 0) {
            gpx_warn("vm reconcile: lease %s: %s", h->lease, e.msg);
            failures++;
        } else {
            gpx_info("vm reconcile: gave back %s (%s) of ended lease %s", h->h.gpu_bdf,
                     gpx_vm_backend_name(h->h.backend), h->lease);
        }
    }
    /* no GPU on vfio-pci without a live lease */
    struct bdfs b = {0};
    candidates(d, &s, &b);
    for (size_t i = 0; i < b.n; i++)
        if (gpx_vm_give_back_orphan(b.v[i], live, nlive, &j, &e) < 0) {
            gpx_warn("vm reconcile: %s: %s", b.v[i], e.msg);
            failures++;
        }
    free(b.v);
    /* what is settled leaves the journal: every lease's rows, and the reconcile's own */
    for (size_t i = 0; i < s.nj; i++)
        if (gpx_engine_vm_journal_clear(d->eng, s.j[i].lease, &e) < 0)
            failures++;
    for (size_t i = 0; i < s.nh; i++)
        gpx_engine_vm_journal_clear(d->eng, s.h[i].lease, &e);
    gpx_engine_vm_journal_clear(d->eng, "", &e);
    if (s.nj || s.nh)
        gpx_info("vm reconcile: %zu journalled write%s, %zu hold%s (%zu live), %d failure%s", s.nj,
                 s.nj == 1 ? "" : "s", s.nh, s.nh == 1 ? "" : "s", nlive, failures,
                 failures == 1 ? "" : "s");
    for (size_t i = 0; i < s.nj; i++) {
        free(s.j[i].path);
        free(s.j[i].value);
        free(s.j[i].undo);
    }
    free(s.j);
    free(s.h);
    free(live);
    return failures;
}

/* --- GET /v1/gpus/{id}/vgpu-types --------------------------------------------------------------
 */

int gpxd_vgpu_types(struct gpxd *d, const struct gpx_caller *who, const char *gpu,
                    struct json_t **out, gpx_error *err)
{
    struct gpx_node n;
    if (gpx_engine_gpus(d->eng, who, &n, err) < 0)
        return -1;
    char *end;
    long idx = strtol(gpu, &end, 10);
    int found = -1;
    for (unsigned i = 0; i < n.count && found < 0; i++)
        if ((!*end && end != gpu && idx == (long)n.gpus[i].info.index) ||
            strcmp(gpu, n.gpus[i].info.uuid) == 0)
            found = (int)i;
    if (found < 0) {
        gpx_error_set(err, GPX_E_NOT_FOUND, "no GPU '%s' (an index 0..%u or a UUID)", gpu,
                      n.count ? n.count - 1 : 0);
        gpx_node_free(&n);
        return -1;
    }
    const struct gpx_gpu_info *g = &n.gpus[found].info;
    struct gpx_vm_pci_addr a;
    char bdf[GPX_VM_BDF_MAX];
    if (gpx_vm_bdf_parse(g->pci_bus_id, &a) < 0) {
        gpx_error_set(err, GPX_E_DRIVER, "GPU %u: the driver's PCI address '%s' is not one",
                      g->index, g->pci_bus_id);
        gpx_node_free(&n);
        return -1;
    }
    gpx_vm_bdf_format(&a, bdf);
    json_t *o =
        json_pack("{s:i,s:s,s:s}", "index", (json_int_t)g->index, "uuid", g->uuid, "pci", bdf);
    gpx_node_free(&n);
    struct gpx_vm_type_list tl = {0};
    struct gpx_vm_probe p;
    gpx_error e = {0};
    enum gpx_vm_backend b = gpx_vm_detect(bdf);
    if (gpx_vm_types(bdf, &tl, err) < 0) {
        json_decref(o);
        return -1;
    }
    json_object_set_new(o, "backend", json_string(gpx_vm_backend_name(b)));
    json_object_set_new(o, "types", gpx_vm_types_json(&tl));
    gpx_vm_type_list_free(&tl);
    if (gpx_vm_probe(bdf, &p, &e) == 0) {
        json_t *pt = json_pack("{s:b}", "ok", p.passthrough_ok);
        if (!p.passthrough_ok)
            json_object_set_new(pt, "reason", json_string(p.why_not));
        json_object_set_new(o, "passthrough", pt);
    } else {
        json_object_set_new(o, "passthrough", json_pack("{s:b,s:s}", "ok", 0, "reason", e.msg));
    }
    *out = o;
    return 0;
}
