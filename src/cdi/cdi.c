/*
 * The CDI spec of a node: rendering (from a node, its driver files and its
 * active leases) and the atomic file write. See cdi.h.
 */
#define _GNU_SOURCE
#include "cdi/cdi.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void gpx_cdi_node_free(struct gpx_cdi_node *n)
{
    free(n->gpus);
    memset(n, 0, sizeof *n);
}

static const char *or_default(const char *s, const char *def)
{
    return s && *s ? s : def;
}

/* --- edits ---------------------------------------------------------------------------------- */

struct edits {
    json_t *nodes, *env, *mounts;
};

static void edits_init(struct edits *e)
{
    e->nodes = json_array();
    e->env = json_array();
    e->mounts = json_array();
}

static json_t *edits_json(struct edits *e)
{
    json_t *o = json_object();
    json_object_set_new(o, "deviceNodes", e->nodes);
    json_object_set_new(o, "env", e->env);
    json_object_set_new(o, "mounts", e->mounts);
    return o;
}

/* /dev/NAME in the container from <dev_root>/NAME on the host, when the host has it. */
static void add_node(const struct gpx_cdi_opts *o, struct edits *e, const char *name)
{
    char host[PATH_MAX], path[PATH_MAX];
    struct stat st;
    snprintf(host, sizeof host, "%s/%s", or_default(o->dev_root, "/dev"), name);
    if (stat(host, &st) < 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
        return; /* nvidia-ctk also leaves out nodes the host lacks */
    snprintf(path, sizeof path, "/dev/%s", name);
    json_t *n = json_object();
    json_object_set_new(n, "path", json_string(path));
    json_object_set_new(n, "hostPath", json_string(host));
    json_array_append_new(e->nodes, n);
}

static void add_env(struct edits *e, const char *key, const char *value)
{
    char *kv = NULL;
    if (asprintf(&kv, "%s=%s", key, value) < 0)
        return;
    json_array_append_new(e->env, json_string(kv));
    free(kv);
}

static void add_mount(struct edits *e, const char *host, const char *container, int rw)
{
    json_t *m = json_object();
    json_object_set_new(m, "hostPath", json_string(host));
    json_object_set_new(m, "containerPath", json_string(container));
    json_t *opt = json_array();
    json_array_append_new(opt, json_string(rw ? "rw" : "ro"));
    json_array_append_new(opt, json_string("nosuid"));
    json_array_append_new(opt, json_string("nodev"));
    json_array_append_new(opt, json_string("bind"));
    json_object_set_new(m, "options", opt);
    json_array_append_new(e->mounts, m);
}

/* The nodes of one whole GPU (or of a MIG device's parent, plus its capability nodes). */
static void gpu_nodes(const struct gpx_cdi_opts *o, struct edits *e, const struct gpx_cdi_gpu *g,
                      const struct gpx_cdi_mig *m)
{
    char name[64];
    snprintf(name, sizeof name, "nvidia%u", g->minor);
    add_node(o, e, name);
    if (!m)
        return;
    unsigned minors[2];
    unsigned n = gpx_cdi_mig_caps(o->caps_root, g->minor, m->gi, m->ci, minors);
    for (unsigned i = 0; i < n; i++) {
        snprintf(name, sizeof name, "nvidia-caps/nvidia-cap%u", minors[i]);
        add_node(o, e, name);
    }
}

static void visible(struct edits *e, const char *uuid)
{
    add_env(e, "CUDA_VISIBLE_DEVICES", uuid);
    add_env(e, "NVIDIA_VISIBLE_DEVICES", uuid);
}

static void add_device(json_t *devices, const char *name, struct edits *e)
{
    json_t *d = json_object();
    json_object_set_new(d, "name", json_string(name));
    json_object_set_new(d, "containerEdits", edits_json(e));
    json_array_append_new(devices, d);
}

static void gpu_devices(const struct gpx_cdi_opts *o, json_t *devices, const struct gpx_cdi_gpu *g)
{
    char name[128];
    for (int by_uuid = 0; by_uuid < 2; by_uuid++) {
        struct edits e;
        edits_init(&e);
        gpu_nodes(o, &e, g, NULL);
        visible(&e, g->uuid);
        if (by_uuid)
            snprintf(name, sizeof name, "%s", g->uuid);
        else
            snprintf(name, sizeof name, "%u", g->index);
        add_device(devices, name, &e);
    }
    for (unsigned j = 0; j < g->n_mig; j++)
        for (int by_uuid = 0; by_uuid < 2; by_uuid++) {
            const struct gpx_cdi_mig *m = &g->mig[j];
            if (by_uuid && !m->uuid[0])
                continue;
            struct edits e;
            edits_init(&e);
            gpu_nodes(o, &e, g, m);
            visible(&e, m->uuid);
            if (by_uuid)
                snprintf(name, sizeof name, "%s", m->uuid);
            else
                snprintf(name, sizeof name, "%u:%u", g->index, m->index);
            add_device(devices, name, &e);
        }
}

static const struct gpx_cdi_gpu *gpu_of(const struct gpx_cdi_node *n, const struct gpx_lease_rec *l)
{
    for (unsigned i = 0; i < n->count; i++)
        if (strcmp(n->gpus[i].uuid, l->gpu_uuid) == 0)
            return &n->gpus[i];
    return NULL;
}

static int interposed(int mode)
{
    return mode == GPX_MODE_VGPU || mode == GPX_MODE_TIMESLICE;
}

/* A hook running `gpuplex cdi-hook STAGE --lease ID` (OCI state on stdin) at `stage`. */
static json_t *hook(const struct gpx_cdi_opts *o, const char *stage, const char *id, json_t *env)
{
    json_t *h = json_object();
    json_object_set_new(h, "hookName", json_string(stage));
    json_object_set_new(h, "path", json_string(o->hook));
    json_object_set_new(h, "args",
                        json_pack("[sssss]", "gpuplex", "cdi-hook", stage, "--lease", id));
    json_object_set(h, "env", env);
    json_object_set_new(h, "timeout", json_integer(30));
    return h;
}

/*
 * A lease made for containers (label gpuplex.container=1) is released when its last
 * container stops: createRuntime records the container (its first process's host pid),
 * poststop removes the record and releases the lease when no recorded container runs
 * (src/shm/container_rec.h; docs/containers.md "Lifecycle"). The hooks run on the host
 * with cdi_env (the simulator's settings, say) and where the engine's state is.
 */
static void lease_hooks(const struct gpx_cdi_opts *o, json_t *dev, const struct gpx_lease_rec *l)
{
    json_t *labels = json_loads(l->labels, 0, NULL);
    int for_ctr = labels && json_object_get(labels, GPX_CDI_CONTAINER_LABEL);
    json_decref(labels);
    if (!for_ctr || !dev || !o->hook || !*o->hook)
        return;
    json_t *env = json_array();
    char kv[PATH_MAX + 32];
    const char *run = or_default(o->run_dir, ""), *state = or_default(o->state_dir, "");
    if (*state) {
        snprintf(kv, sizeof kv, "GPUPLEX_STATE_DIR=%s", state);
        json_array_append_new(env, json_string(kv));
    }
    if (*run) {
        snprintf(kv, sizeof kv, "GPUPLEX_RUN_DIR=%s", run);
        json_array_append_new(env, json_string(kv));
    }
    char *copy = strdup(or_default(o->env, "")), *save = NULL;
    for (char *p = copy ? strtok_r(copy, " \t", &save) : NULL; p; p = strtok_r(NULL, " \t", &save))
        if (strchr(p, '=') && *p != '=')
            json_array_append_new(env, json_string(p));
    free(copy);
    json_array_append_new(env, json_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                                           "/usr/bin:/sbin:/bin"));
    json_t *hooks = json_array();
    json_array_append_new(hooks, hook(o, "createRuntime", l->id, env));
    json_array_append_new(hooks, hook(o, "poststop", l->id, env));
    json_decref(env);
    json_object_set_new(json_object_get(dev, "containerEdits"), "hooks", hooks);
}

/*
 * A lease's device: its GPU's (or instance's) nodes, and what `gpuplex run`
 * gives a workload: the lease's environment, and for vgpu/timeslice the
 * interposer (read-only, LD_PRELOAD) and the lease's region: limits read-only,
 * its own usage counters writable, nothing of other leases; timeslice leases
 * also the GPUs' arbiters, which every tenant's workloads share on the host.
 */
static void lease_device(const struct gpx_cdi_opts *o, json_t *devices,
                         const struct gpx_cdi_node *n, const struct gpx_lease_rec *l)
{
    const struct gpx_cdi_gpu *g = gpu_of(n, l);
    struct edits e;
    edits_init(&e);
    struct gpx_cdi_mig mig = {.gi = (unsigned)l->mig_gi, .ci = (unsigned)l->mig_ci};
    if (g)
        gpu_nodes(o, &e, g, l->mode == GPX_MODE_MIG && l->mig_gi >= 0 ? &mig : NULL);
    visible(&e, l->mode == GPX_MODE_MIG && l->mig_uuid[0] ? l->mig_uuid : l->gpu_uuid);
    add_env(&e, "GPUPLEX_LEASE", l->id);
    const char *run = or_default(o->run_dir, "");
    if (*run)
        add_env(&e, "GPUPLEX_RUN_DIR", run);
    if (interposed(l->mode)) {
        if (!o->interposer || !*o->interposer) {
            /* a container could not be held to the quota: no device, rather than a false one */
            json_decref(edits_json(&e));
            gpx_warn("cdi: lease %s (%s) gets no device: no interposer is known; set "
                     "'interposer' in gpuplexd.conf",
                     l->id, gpx_lease_mode_name(l->mode));
            return;
        }
        add_env(&e, "LD_PRELOAD", o->interposer);
        add_mount(&e, o->interposer, o->interposer, 0);
        char host[PATH_MAX + 96];
        snprintf(host, sizeof host, "%s/leases/%s.limits", run, l->id);
        add_mount(&e, host, host, 0);
        snprintf(host, sizeof host, "%s/leases/%s.usage", run, l->id);
        add_mount(&e, host, host, 1);
        if (l->mode == GPX_MODE_TIMESLICE) {
            snprintf(host, sizeof host, "%s/arbiter", run);
            /* the interposer makes it at the first turn; a bind mount needs it now */
            (void)mkdir(host, 0755);
            add_mount(&e, host, host, 1);
        }
    }
    char name[GPX_LEASE_ID_MAX + 8];
    snprintf(name, sizeof name, "lease-%s", l->id);
    add_device(devices, name, &e);
    lease_hooks(o, json_array_get(devices, json_array_size(devices) - 1), l);
}

/* The edits every device of the spec shares: control nodes, driver files, cdi_env, cdi_mounts. */
static int common_edits(const struct gpx_cdi_opts *o, const struct gpx_cdi_files *drv,
                        struct edits *e, gpx_error *err)
{
    add_node(o, e, "nvidiactl");
    add_node(o, e, "nvidia-uvm");
    add_node(o, e, "nvidia-uvm-tools");
    for (unsigned i = 0; drv && i < drv->n; i++)
        add_mount(e, drv->host[i], drv->container[i], 0);
    char *copy = strdup(or_default(o->env, "")), *save = NULL;
    if (!copy)
        return gpx_error_set(err, GPX_E_NOMEM, "cdi_env");
    int rc = 0;
    for (char *p = strtok_r(copy, " \t", &save); p && rc == 0; p = strtok_r(NULL, " \t", &save)) {
        if (!strchr(p, '=') || *p == '=')
            rc = gpx_error_set(err, GPX_E_INVALID,
                               "cdi_env: '%s' is not KEY=VALUE (entries are separated by spaces)",
                               p);
        else
            json_array_append_new(e->env, json_string(p));
    }
    free(copy);
    if (rc < 0)
        return -1;
    copy = strdup(or_default(o->mounts, ""));
    if (!copy)
        return gpx_error_set(err, GPX_E_NOMEM, "cdi_mounts");
    for (char *p = strtok_r(copy, ",", &save); p && rc == 0; p = strtok_r(NULL, ",", &save)) {
        char entry[PATH_MAX];
        snprintf(entry, sizeof entry, "%s", p); /* p is cut into its fields below */
        char *ctr = strchr(p, ':'), *mode = NULL;
        if (ctr) {
            *ctr++ = '\0';
            if ((mode = strchr(ctr, ':')))
                *mode++ = '\0';
        }
        if (*p != '/' || (ctr && *ctr != '/') ||
            (mode && strcmp(mode, "rw") != 0 && strcmp(mode, "ro") != 0))
            rc = gpx_error_set(err, GPX_E_INVALID,
                               "cdi_mounts: '%s' is not HOST[:CONTAINER[:rw|ro]] with absolute "
                               "paths (entries are separated by commas)",
                               entry);
        else
            add_mount(e, p, ctr && *ctr ? ctr : p, mode && strcmp(mode, "rw") == 0);
    }
    free(copy);
    return rc;
}

void *gpx_cdi_render(const struct gpx_cdi_opts *o, const struct gpx_cdi_node *node,
                     const struct gpx_cdi_files *drv, const struct gpx_lease_rec *leases,
                     unsigned n_leases, gpx_error *err)
{
    json_t *spec = json_object(), *devices = json_array();
    json_object_set_new(spec, "cdiVersion",
                        json_string(or_default(o->cdi_version, GPX_CDI_DEFAULT_VERSION)));
    json_object_set_new(spec, "kind", json_string(GPX_CDI_KIND));
    json_object_set_new(spec, "devices", devices);
    for (unsigned i = 0; i < node->count; i++)
        gpu_devices(o, devices, &node->gpus[i]);
    for (unsigned i = 0; i < n_leases; i++)
        if (leases[i].state == GPX_LS_ACTIVE)
            lease_device(o, devices, node, &leases[i]);
    struct edits e;
    edits_init(&e);
    json_object_set_new(spec, "containerEdits", edits_json(&e));
    if (common_edits(o, drv, &e, err) < 0)
        goto fail;
    return spec;
fail:
    json_decref(spec);
    return NULL;
}

int gpx_cdi_names(const void *spec, char ***names, unsigned *n)
{
    json_t *devices = json_object_get((const json_t *)spec, "devices");
    size_t count = json_array_size(devices);
    *n = 0;
    *names = calloc(count + 1, sizeof **names);
    if (!*names)
        return -1;
    for (size_t i = 0; i < count; i++) {
        const char *name = json_string_value(json_object_get(json_array_get(devices, i), "name"));
        if (name && asprintf(&(*names)[*n], "%s=%s", GPX_CDI_KIND, name) >= 0)
            (*n)++;
    }
    return 0;
}

/* --- the file ------------------------------------------------------------------------------- */

static int mkdirs(const char *dir)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(buf, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

int gpx_cdi_write(const char *path, const void *spec, gpx_error *err)
{
    char dir[PATH_MAX], tmp[PATH_MAX + 32];
    if ((size_t)snprintf(dir, sizeof dir, "%s", path) >= sizeof dir)
        return gpx_error_set(err, GPX_E_INVALID, "%.200s: path too long", path);
    char *d = dirname(dir);
    if (mkdirs(d) < 0)
        return gpx_error_errno(err, GPX_E_IO, errno, "creating %s", d);
    /* a dot file: runtimes read *.json and *.yaml only, so a leftover is never loaded */
    const char *base = strrchr(path, '/');
    snprintf(tmp, sizeof tmp, "%s/.%s.%d.tmp", d, base ? base + 1 : path, (int)getpid());
    char *text = json_dumps((const json_t *)spec, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text)
        return gpx_error_set(err, GPX_E_NOMEM, "rendering the spec");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        free(text);
        return gpx_error_errno(err, GPX_E_IO, e, "creating %s", tmp);
    }
    size_t len = strlen(text), off = 0;
    int e = 0;
    while (off < len && !e) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno != EINTR)
            e = errno;
        else if (w > 0)
            off += (size_t)w;
    }
    /* No fsync: the spec is derived state, rewritten from the ledger at every start of
     * gpuplexd, and the rename alone keeps a reader (or a kill -9) from ever seeing half a
     * file. Two fsyncs per lease event cost 100 ms and more under a busy disk. */
    if (!e && write(fd, "\n", 1) != 1)
        e = errno ? errno : EIO;
    if (close(fd) < 0 && !e)
        e = errno;
    free(text);
    if (!e && rename(tmp, path) < 0)
        e = errno;
    if (e) {
        unlink(tmp);
        return gpx_error_errno(err, GPX_E_IO, e, "writing %s", path);
    }
    return 0;
}
