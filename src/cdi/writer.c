/*
 * The node as CDI names it (from NVML), and gpuplexd's spec writer: an
 * observer of the lease engine that keeps its own copy of the active leases
 * (an observer may not call back into the engine) and rewrites the spec file
 * after each lease event.
 */
#define _GNU_SOURCE
#include "cdi/cdi.h"
#include "core/log.h"
#include "nvml/mig.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int gpx_cdi_node_read(struct gpx_nvml *nv, struct gpx_cdi_node *out, gpx_error *err)
{
    memset(out, 0, sizeof *out);
    unsigned count = 0;
    if (!nv || !nv->lib)
        return 0;
    nvmlReturn_t r = nv->device_count(&count);
    if (r != NVML_SUCCESS)
        return gpx_nvml_fail(nv, r, err, "nvmlDeviceGetCount");
    if (count && !(out->gpus = calloc(count, sizeof *out->gpus)))
        return gpx_error_set(err, GPX_E_NOMEM, "CDI node");
    struct gpx_nvml_mig m;
    int have_mig = gpx_nvml_mig_open(nv, &m, NULL) == 0;
    for (unsigned i = 0; i < count; i++) {
        struct gpx_cdi_gpu *g = &out->gpus[out->count];
        nvmlDevice_t dev;
        if (nv->device_by_index(i, &dev) != NVML_SUCCESS ||
            nv->device_uuid(dev, g->uuid, sizeof g->uuid) != NVML_SUCCESS)
            continue; /* a GPU NVML can't name: no device for it */
        g->index = i;
        if (!nv->device_minor || nv->device_minor(dev, &g->minor) != NVML_SUCCESS)
            g->minor = i;
        unsigned cur = 0, pend = 0, max = 0;
        if (have_mig && m.get_mode(dev, &cur, &pend) == NVML_SUCCESS && cur == 1 &&
            m.mig_device_count(dev, &max) == NVML_SUCCESS)
            for (unsigned j = 0; j < max && g->n_mig < GPX_CDI_MAX_MIG; j++) {
                nvmlDevice_t md;
                struct gpx_cdi_mig *x = &g->mig[g->n_mig];
                if (m.mig_device_by_index(dev, j, &md) != NVML_SUCCESS ||
                    m.mig_gi_id(md, &x->gi) != NVML_SUCCESS ||
                    m.mig_ci_id(md, &x->ci) != NVML_SUCCESS)
                    continue;
                if (nv->device_uuid(md, x->uuid, sizeof x->uuid) != NVML_SUCCESS)
                    x->uuid[0] = '\0';
                x->index = j;
                g->n_mig++;
            }
        out->count++;
    }
    return 0;
}

/* --- gpuplexd's writer ---------------------------------------------------------------------- */

struct gpx_cdi_writer {
    pthread_mutex_t mu;
    struct gpx_engine *eng;
    char path[4096];
    struct gpx_cdi_opts o;
    char *strings[10]; /* the copies o points into */
    struct gpx_cdi_files drv;
    unsigned n, cap;
    struct gpx_lease_rec *leases;
};

static int keep(struct gpx_cdi_writer *w, const struct gpx_lease_rec *l)
{
    for (unsigned i = 0; i < w->n; i++)
        if (strcmp(w->leases[i].id, l->id) == 0) {
            w->leases[i] = *l;
            return 0;
        }
    if (w->n == w->cap) {
        unsigned cap = w->cap ? w->cap * 2 : 16;
        struct gpx_lease_rec *n = realloc(w->leases, cap * sizeof *n);
        if (!n)
            return -1;
        w->leases = n;
        w->cap = cap;
    }
    w->leases[w->n++] = *l;
    return 0;
}

static void drop(struct gpx_cdi_writer *w, const char *id)
{
    for (unsigned i = 0; i < w->n; i++)
        if (strcmp(w->leases[i].id, id) == 0) {
            w->leases[i] = w->leases[--w->n];
            return;
        }
}

/* Renders and writes the spec; w->mu held. A failure is logged: the old spec stays. */
static void rewrite(struct gpx_cdi_writer *w)
{
    struct gpx_cdi_node node;
    gpx_error e = {0};
    int rc = -1;
    if (gpx_cdi_node_read(gpx_engine_nvml(w->eng), &node, &e) == 0) {
        json_t *spec = gpx_cdi_render(&w->o, &node, &w->drv, w->leases, w->n, &e);
        if (spec && (rc = gpx_cdi_write(w->path, spec, &e)) < 0)
            gpx_error_wrap(&e, "cdi_spec");
        json_decref(spec);
        gpx_cdi_node_free(&node);
    }
    if (rc < 0)
        gpx_warn("cdi: %s: the spec in %s is not updated", e.msg, w->path);
}

static void on_event(void *arg, enum gpx_lease_event ev, const struct gpx_lease_rec *l)
{
    struct gpx_cdi_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    if (ev == GPX_EV_COMMITTED && l->state == GPX_LS_ACTIVE) {
        if (keep(w, l) < 0)
            gpx_warn("cdi: out of memory keeping lease %s", l->id);
    } else {
        drop(w, l->id);
    }
    rewrite(w);
    pthread_mutex_unlock(&w->mu);
}

/*
 * Temporary files of an earlier gpuplexd killed while writing (gpx_cdi_write's
 * ".<name>.<pid>.tmp"): runtimes never read them, but they should not pile up.
 */
static void remove_leftovers(const char *path)
{
    char dir[4096], prefix[512];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    const char *name = slash ? slash + 1 : path;
    snprintf(prefix, sizeof prefix, ".%s.", name);
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    DIR *d = opendir(dir[0] ? dir : "/");
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name), pl = strlen(prefix);
        if (strncmp(e->d_name, prefix, pl) != 0 || n <= pl + 4 ||
            strcmp(e->d_name + n - 4, ".tmp") != 0)
            continue;
        /* another gpuplexd writing the same spec now (tests share /var/run/cdi) keeps its own */
        long pid = strtol(e->d_name + pl, NULL, 10);
        if (pid > 0 && pid != (long)getpid() && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
            continue;
        unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

static const char *copy(struct gpx_cdi_writer *w, unsigned slot, const char *s)
{
    if (!s)
        return NULL;
    w->strings[slot] = strdup(s);
    return w->strings[slot];
}

void gpx_cdi_writer_stop(struct gpx_cdi_writer *w)
{
    if (!w)
        return;
    for (unsigned i = 0; i < sizeof w->strings / sizeof w->strings[0]; i++)
        free(w->strings[i]);
    gpx_cdi_files_free(&w->drv);
    free(w->leases);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

int gpx_cdi_writer_start(struct gpx_engine *e, const struct gpx_cdi_opts *o, const char *path,
                         struct gpx_cdi_writer **out, gpx_error *err)
{
    struct gpx_cdi_writer *w = calloc(1, sizeof *w);
    if (!w)
        return gpx_error_set(err, GPX_E_NOMEM, "CDI writer");
    pthread_mutex_init(&w->mu, NULL);
    w->eng = e;
    snprintf(w->path, sizeof w->path, "%s", path);
    w->o.cdi_version = copy(w, 0, o->cdi_version);
    w->o.dev_root = copy(w, 1, o->dev_root);
    w->o.caps_root = copy(w, 2, o->caps_root);
    w->o.driver_libs = copy(w, 3, o->driver_libs);
    w->o.ld_cache = copy(w, 4, o->ld_cache);
    w->o.env = copy(w, 5, o->env);
    w->o.mounts = copy(w, 6, o->mounts);
    w->o.interposer = copy(w, 7, o->interposer);
    w->o.hook = copy(w, 8, o->hook);
    w->o.state_dir = copy(w, 9, o->state_dir);
    w->o.run_dir = gpx_engine_run_dir(e); /* the engine outlives the writer's use of it */
    /* the driver's files are found once: a driver upgrade restarts gpuplexd anyway */
    if (gpx_cdi_find_driver_files(&w->o, &w->drv, err) < 0)
        goto fail;
    /*
     * The active leases, then the observer. gpuplexd starts the writer before it
     * serves and before its timers run, so no lease event falls between the two.
     */
    struct gpx_caller admin = {.admin = 1, .in_process = 1};
    snprintf(admin.tenant, sizeof admin.tenant, "%s", GPX_BUILTIN_ADMIN);
    struct gpx_lease_query q = {.state = -1};
    struct gpx_lease *ls = NULL;
    unsigned n = 0;
    if (gpx_engine_lease_list(e, &admin, &q, &ls, &n, err) < 0)
        goto fail;
    for (unsigned i = 0; i < n; i++)
        if (keep(w, &ls[i].rec) < 0) {
            free(ls);
            gpx_error_set(err, GPX_E_NOMEM, "CDI writer");
            goto fail;
        }
    free(ls);
    remove_leftovers(w->path);
    rewrite(w); /* a failure is logged; the next lease event tries again */
    struct gpx_observer ob = {.name = "cdi", .on_event = on_event, .arg = w};
    if (gpx_engine_observe(e, &ob, err) < 0)
        goto fail;
    gpx_info("cdi: the %s devices are in %s", GPX_CDI_KIND, w->path);
    *out = w;
    return 0;
fail:
    gpx_cdi_writer_stop(w);
    return -1;
}
