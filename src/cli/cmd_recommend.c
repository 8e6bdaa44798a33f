/*
 * gpuplex recommend: which way to use a GPU for a workload, on this node.
 *
 * The workload comes from flags or a small JSON/YAML file (the same keys);
 * the node's facts through the one client interface (gpuplexd or the engine
 * in-process): GPUs, their leases and free quota, MIG mode and the instances
 * still available per profile; each GPU's IOMMU group, whether it could be
 * passed through and its vGPU types through src/vm (vm.h: sysfs under
 * GPUPLEX_SYSFS_ROOT, read-only); a saved `gpuplex bench` result
 * (<state dir>/bench/last.json); and whether podman or docker is on PATH.
 * The rules and the fitting are src/core/recommend.c's (one table, which
 * `--rules` prints as docs/choosing.md holds it); this file only gathers and
 * prints.
 */
#include "cli/cli.h"
#include "core/recommend.h"
#include "core/size.h"
#include "engine/views.h"
#include "gpuplex/client.h"
#include "shm/lease.h"
#include "vm/vm.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#define FILE_MAX (64 * 1024)

/* --- the workload file ---------------------------------------------------------------------- */

static int read_all(const char *path, char **out, size_t *len, gpx_error *err)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return gpx_error_errno(err, GPX_E_INVALID, errno, "--file %s", path);
    char *buf = malloc(FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        return gpx_error_set(err, GPX_E_NOMEM, "out of memory");
    }
    size_t n = fread(buf, 1, FILE_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > FILE_MAX) {
        free(buf);
        return gpx_error_set(err, GPX_E_INVALID, "--file %s: %s", path,
                             bad ? "read error" : "larger than 64 KiB");
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

static int set_key(struct gpx_rec_workload *w, const char *path, const char *k, const char *v,
                   gpx_error *err)
{
    if (gpx_rec_set(w, k, v, GPX_REC_KEY, err) < 0)
        return gpx_error_wrap(err, "%s", path);
    return 0;
}

static int from_json(struct gpx_rec_workload *w, const char *path, const char *text, size_t len,
                     gpx_error *err)
{
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!o)
        return gpx_error_set(err, GPX_E_INVALID, "%s: line %d: %s", path, je.line, je.text);
    int rc = 0;
    if (!json_is_object(o))
        rc = gpx_error_set(err, GPX_E_INVALID, "%s: the workload must be an object of keys: %s",
                           path, gpx_rec_keys());
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (rc)
            break;
        char num[32];
        const char *s = json_string_value(v);
        if (json_is_integer(v)) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            s = num;
        } else if (json_is_boolean(v)) {
            s = json_is_true(v) ? "true" : "false";
        }
        if (!s)
            rc = gpx_error_set(err, GPX_E_INVALID,
                               "%s: key '%s': a value must be a string, a whole number or a "
                               "boolean",
                               path, k);
        else
            rc = set_key(w, path, k, s, err);
    }
    json_decref(o);
    return rc;
}

/* A flat mapping of scalars (libyaml events); anything nested is refused naming its key. */
static int from_yaml(struct gpx_rec_workload *w, const char *path, const char *text, size_t len,
                     gpx_error *err)
{
    yaml_parser_t yp;
    if (!yaml_parser_initialize(&yp))
        return gpx_error_set(err, GPX_E_NOMEM, "out of memory");
    yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
    int rc = 0, depth = 0, done = 0, maps = 0;
    char *key = NULL;
    while (!rc && !done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&yp, &ev)) {
            rc = gpx_error_set(err, GPX_E_INVALID, "%s: line %zu: %s", path,
                               yp.problem_mark.line + 1, yp.problem ? yp.problem : "bad YAML");
            break;
        }
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
            if (depth++ || maps++)
                rc = gpx_error_set(err, GPX_E_INVALID, "%s: key '%s': a value must be a scalar",
                                   path, key ? key : "?");
            break;
        case YAML_SEQUENCE_START_EVENT:
            rc = gpx_error_set(err, GPX_E_INVALID, "%s: %s%s%s: a value must be a scalar", path,
                               key ? "key '" : "a list", key ? key : "", key ? "'" : "");
            break;
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        case YAML_ALIAS_EVENT:
            rc = gpx_error_set(err, GPX_E_INVALID, "%s: aliases are not supported", path);
            break;
        case YAML_SCALAR_EVENT: {
            const char *s = (const char *)ev.data.scalar.value;
            if (depth != 1)
                rc = gpx_error_set(err, GPX_E_INVALID,
                                   "%s: the workload must be a mapping of keys: %s", path,
                                   gpx_rec_keys());
            else if (!key) {
                key = strdup(s);
                if (!key)
                    rc = gpx_error_set(err, GPX_E_NOMEM, "out of memory");
            } else {
                rc = set_key(w, path, key, s, err);
                free(key);
                key = NULL;
            }
            break;
        }
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    free(key);
    yaml_parser_delete(&yp);
    if (!rc && !maps)
        rc = gpx_error_set(err, GPX_E_INVALID, "%s: the workload must be a mapping of keys: %s",
                           path, gpx_rec_keys());
    return rc;
}

static int load_file(struct gpx_rec_workload *w, const char *path, gpx_error *err)
{
    char *text = NULL;
    size_t len = 0;
    if (read_all(path, &text, &len, err) < 0)
        return -1;
    const char *p = text;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    int rc = *p == '{' ? from_json(w, path, text, len, err) : from_yaml(w, path, text, len, err);
    free(text);
    return rc;
}

/* --- the node's facts ----------------------------------------------------------------------- */

static int on_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path)
        return 0;
    char *dup = strdup(path), *save = NULL;
    int found = 0;
    for (char *d = dup ? strtok_r(dup, ":", &save) : NULL; d && !found;
         d = strtok_r(NULL, ":", &save)) {
        char f[4096];
        int k = snprintf(f, sizeof f, "%s/%s", d, prog);
        found = k > 0 && (size_t)k < sizeof f && access(f, X_OK) == 0;
    }
    free(dup);
    return found;
}

static void mig_facts(struct gpx_conn *cn, struct gpx_rec_gpu *g)
{
    char idx[16];
    snprintf(idx, sizeof idx, "%u", g->index);
    json_t *doc = NULL;
    gpx_error err = {0};
    if (gpx_mig_get(cn, idx, &doc, &err) < 0)
        return; /* the driver does not manage MIG here: not capable */
    g->mig_capable = json_is_true(json_object_get(doc, "mig_supported"));
    const char *mode = json_string_value(json_object_get(doc, "mig_mode"));
    g->mig_on = mode && !strcmp(mode, "enabled");
    const char *model = json_string_value(json_object_get(doc, "model"));
    snprintf(g->mig_model, sizeof g->mig_model, "%.31s", model ? model : g->name);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(doc, "profiles"), i, p)
    {
        if (g->n_mig >= GPX_REC_MAX_MIG)
            break;
        struct gpx_rec_mig_profile *m = &g->mig[g->n_mig++];
        const char *name = json_string_value(json_object_get(p, "name"));
        snprintf(m->name, sizeof m->name, "%s", name ? name : "?");
        m->memory = (uint64_t)json_integer_value(json_object_get(p, "memory_mib")) << 20;
        m->available = (unsigned)json_integer_value(json_object_get(p, "available"));
    }
    json_decref(doc);
}

/* `gpuplex bench`'s last result: rows [{mode, relative_to_bare, min, max, status}]. */
static void bench_facts(const char *state_dir, struct gpx_rec_node *n)
{
    char path[4096];
    int k = snprintf(path, sizeof path, "%s/bench/last.json", state_dir);
    if (k < 0 || (size_t)k >= sizeof path)
        return;
    json_t *o = json_load_file(path, 0, NULL);
    json_t *rows = json_object_get(o, "rows");
    if (!json_is_array(rows)) {
        json_decref(o);
        return;
    }
    n->have_bench = 1;
    size_t pl = strlen(path);
    if (pl >= sizeof n->bench_source) /* cite the file by its tail rather than cut it short */
        memcpy(n->bench_source, path + pl - (sizeof n->bench_source - 1), sizeof n->bench_source);
    else
        memcpy(n->bench_source, path, pl + 1);
    json_t *node = json_object_get(o, "node");
    const char *gpu = json_string_value(json_object_get(node ? node : o, "gpu_name"));
    if (!gpu)
        gpu = json_string_value(json_object_get(node ? node : o, "gpu"));
    /* the simulator's figures are labelled as such wherever they are cited */
    snprintf(n->bench_gpu, sizeof n->bench_gpu, "%.80s%s", gpu ? gpu : "",
             json_is_true(json_object_get(node, "simulated")) ? ", simulated" : "");
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        const char *mode = json_string_value(json_object_get(r, "mode"));
        if (!mode || n->n_bench >= GPX_REC_MAX_BENCH)
            continue;
        struct gpx_rec_bench_row *b = &n->bench[n->n_bench++];
        snprintf(b->mode, sizeof b->mode, "%s", mode);
        b->rel = json_number_value(json_object_get(r, "relative_to_bare"));
        b->min = json_number_value(json_object_get(r, "min"));
        b->max = json_number_value(json_object_get(r, "max"));
        const char *st = json_string_value(json_object_get(r, "status"));
        b->ok =
            json_is_number(json_object_get(r, "relative_to_bare")) && (!st || !strcmp(st, "ok"));
    }
    json_decref(o);
}

/*
 * VM facts through src/vm (sysfs under GPUPLEX_SYSFS_ROOT, changing nothing): each GPU's
 * IOMMU group and whether it could be passed through now, and the vGPU types it offers
 * (MIG-backed types left out: they need a GPU instance first). No GPU in any IOMMU group:
 * no VM delivery on this node.
 */
static void vm_facts(struct gpx_rec_node *n, char bdfs[][32])
{
    int any_group = 0;
    for (unsigned i = 0; i < n->n_gpus; i++) {
        struct gpx_rec_gpu *g = &n->gpus[i];
        gpx_error err = {0};
        struct gpx_vm_probe pr;
        g->iommu_group = -1;
        if (!bdfs[i][0]) {
            snprintf(g->vm_why, sizeof g->vm_why, "the driver gives no PCI address for GPU %u",
                     g->index);
            continue;
        }
        if (gpx_vm_probe(bdfs[i], &pr, &err) < 0) {
            snprintf(g->vm_why, sizeof g->vm_why, "%s", err.msg);
            continue;
        }
        g->iommu_group = pr.iommu_group;
        g->passthrough = pr.passthrough_ok;
        snprintf(g->vm_why, sizeof g->vm_why, "%s", pr.why_not);
        any_group |= pr.iommu_group >= 0;
        struct gpx_vm_type_list tl = {0};
        if (gpx_vm_types(bdfs[i], &tl, &err) < 0)
            continue;
        for (size_t k = 0; k < tl.n && g->n_vtypes < GPX_REC_MAX_VTYPES; k++) {
            if (tl.types[k].mig_backed)
                continue;
            struct gpx_rec_vgpu_type *t = &g->vtypes[g->n_vtypes++];
            snprintf(t->name, sizeof t->name, "%s", tl.types[k].name);
            t->memory = (uint64_t)tl.types[k].framebuffer_mib << 20;
            t->available = tl.types[k].available;
        }
        gpx_vm_type_list_free(&tl);
    }
    n->vm_known = any_group;
    if (!any_group)
        snprintf(n->vm_why, sizeof n->vm_why, "no GPU is in an IOMMU group under %s (IOMMU off?)",
                 gpx_vm_sysfs_root());
}

static int gather(const char *server, struct gpx_rec_node *n)
{
    struct gpx_conn *cn = NULL;
    int rc = gpx_cli_connect(server, &cn);
    if (rc)
        return rc;
    gpx_error err = {0};
    struct gpx_node node = {0};
    if (gpx_gpus_list(cn, &node, &err) < 0) {
        gpx_conn_close(cn);
        return gpx_cli_fail(&err);
    }
    memset(n, 0, sizeof *n);
    char(*bdfs)[32] = calloc(GPX_REC_MAX_GPUS, sizeof *bdfs);
    if (!bdfs) {
        gpx_node_free(&node);
        gpx_conn_close(cn);
        gpx_error_set(&err, GPX_E_NOMEM, "out of memory");
        return gpx_cli_fail(&err);
    }
    for (unsigned i = 0; i < node.count && n->n_gpus < GPX_REC_MAX_GPUS; i++) {
        const struct gpx_gpu *s = &node.gpus[i];
        struct gpx_rec_gpu *g = &n->gpus[n->n_gpus++];
        g->index = s->info.index;
        snprintf(g->name, sizeof g->name, "%s", s->info.name);
        g->memory_total = s->info.memory_total;
        g->memory_used = s->info.memory_used;
        g->quota_free = s->quota_free;
        g->exclusive_held = s->exclusive;
        g->leases = s->n_leases;
        struct gpx_vm_pci_addr pa;
        if ((s->info.valid & GPX_INV_PCI) && gpx_vm_bdf_parse(s->info.pci_bus_id, &pa) == 0)
            gpx_vm_bdf_format(&pa, bdfs[n->n_gpus - 1]); /* NVML's form -> sysfs' */
        for (unsigned l = 0; l < s->n_leases; l++) {
            int shared =
                s->leases[l].mode == GPX_MODE_VGPU || s->leases[l].mode == GPX_MODE_TIMESLICE;
            g->quota_leases += shared && s->leases[l].memory_quota;
            g->noquota_leases += shared && !s->leases[l].memory_quota;
        }
        n->active_leases += s->n_leases;
        if (s->info.valid & GPX_INV_MIG)
            mig_facts(cn, g);
        /* another tenant's leases are not listed to a tenant, but they show in the GPU's
         * free quota (exclusive: none; a lease without a quota: none; else less) */
        if (!g->mig_on && !g->leases && (g->exclusive_held || g->quota_free < g->memory_total)) {
            g->leases = 1;
            if (!g->exclusive_held && !g->quota_free)
                g->noquota_leases = 1;
        }
    }
    gpx_node_free(&node);
    bench_facts(gpx_conn_state_dir(cn), n);
    gpx_conn_close(cn);
    n->container_runtime = on_path("podman") || on_path("docker");
    vm_facts(n, bdfs);
    free(bdfs);
    return 0;
}

/* --- printing ------------------------------------------------------------------------------- */

static const char *mode_s(int m)
{
    return gpx_lease_mode_name((enum gpx_lease_mode)m);
}

/* The lease's spec as POST /v1/leases takes it (vm: POST /v1/vms's). */
static json_t *spec_json(const struct gpx_rec_choice *c)
{
    json_t *o = json_object();
    char m[32];
    if (c->delivery == GPX_REC_VM) {
        json_object_set_new(o, "gpu", c->gpu >= 0 ? json_integer(c->gpu) : json_null());
        if (c->vgpu_type[0])
            json_object_set_new(o, "vgpu_type", json_string(c->vgpu_type));
        json_object_set_new(o, "image", json_string("IMAGE"));
        json_object_set_new(o, "ssh_authorized_key", json_string("KEY"));
        return o;
    }
    json_object_set_new(o, "mode", json_string(mode_s(c->mode)));
    json_object_set_new(o, "gpu", c->gpu >= 0 ? json_integer(c->gpu) : json_null());
    if (c->memory) {
        gpx_rec_size_flag(c->memory, m, sizeof m);
        json_object_set_new(o, "memory", json_string(m));
    }
    if (c->cap)
        json_object_set_new(o, "cap", json_integer(c->cap));
    if (c->mig_profile[0])
        json_object_set_new(o, "mig_profile", json_string(c->mig_profile));
    return o;
}

static json_t *choice_json(const struct gpx_rec_choice *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "mode", json_string(mode_s(c->mode)));
    json_object_set_new(o, "delivery", json_string(gpx_rec_delivery_name(c->delivery)));
    json_object_set_new(o, "available", json_boolean(c->available));
    json_object_set_new(o, "gpu", c->gpu >= 0 ? json_integer(c->gpu) : json_null());
    json_object_set_new(o, "spec", spec_json(c));
    char cmd[512];
    json_object_set_new(o, "command",
                        c->available && gpx_rec_command(c, cmd, sizeof cmd, NULL) == 0
                            ? json_string(cmd)
                            : json_null());
    json_t *api = json_object();
    json_object_set_new(api, "method", json_string("POST"));
    json_object_set_new(api, "path",
                        json_string(c->delivery == GPX_REC_VM ? "/v1/vms" : "/v1/leases"));
    json_object_set_new(api, "body", spec_json(c));
    json_object_set_new(o, "api", api);
    json_object_set_new(o, "why_not", c->available ? json_null() : json_string(c->why_not));
    json_object_set_new(o, "gives_up", c->gives_up[0] ? json_string(c->gives_up) : json_null());
    json_object_set_new(o, "seed_figure", json_string(c->seed_perf));
    return o;
}

static json_t *answer_json(const struct gpx_rec_answer *a, const struct gpx_rec_node *n)
{
    json_t *o = choice_json(&a->best);
    json_t *rule = json_object();
    json_object_set_new(rule, "id", json_string(a->rule->id));
    json_object_set_new(rule, "when", json_string(a->rule->when));
    json_object_set_new(rule, "reason", json_string(a->rule->reason));
    json_object_set_new(rule, "seed", json_string(a->rule->seed));
    json_object_set_new(o, "rule", rule);
    json_t *ideal = json_object();
    json_object_set_new(ideal, "mode", json_string(mode_s(a->cand[0].mode)));
    json_object_set_new(ideal, "delivery",
                        json_string(gpx_rec_delivery_name(a->rule->cand[0].delivery)));
    json_object_set_new(ideal, "available", json_boolean(a->cand[0].available));
    json_object_set_new(o, "guidance", ideal);
    json_t *rs = json_array();
    for (unsigned i = 0; i < a->n_reasons; i++)
        json_array_append_new(rs, json_string(a->reasons[i]));
    json_object_set_new(o, "reasons", rs);
    json_t *alts = json_array();
    for (unsigned k = 0; k < a->n_cand; k++)
        if (memcmp(&a->cand[k], &a->best, sizeof a->best) != 0)
            json_array_append_new(alts, choice_json(&a->cand[k]));
    json_object_set_new(o, "alternatives", alts);
    json_t *facts = json_object();
    unsigned mig_capable = 0, mig_on = 0;
    for (unsigned i = 0; i < n->n_gpus; i++) {
        mig_capable += n->gpus[i].mig_capable;
        mig_on += n->gpus[i].mig_on;
    }
    json_object_set_new(facts, "gpus", json_integer(n->n_gpus));
    json_object_set_new(facts, "mig_capable_gpus", json_integer(mig_capable));
    json_object_set_new(facts, "mig_enabled_gpus", json_integer(mig_on));
    json_object_set_new(facts, "active_leases", json_integer(n->active_leases));
    json_object_set_new(facts, "container_runtime", json_boolean(n->container_runtime));
    json_object_set_new(facts, "vm", n->vm_known ? json_true() : json_string(n->vm_why));
    json_object_set_new(facts, "bench", n->have_bench ? json_string(n->bench_source) : json_null());
    json_object_set_new(o, "node", facts);
    return o;
}

static void print_choice_line(const struct gpx_rec_choice *c)
{
    char cmd[512];
    printf("  %s/%s: ", mode_s(c->mode), gpx_rec_delivery_name(c->delivery));
    if (c->available && gpx_rec_command(c, cmd, sizeof cmd, NULL) == 0)
        printf("available (%s)\n      gives up: %s\n", cmd, c->gives_up[0] ? c->gives_up : "-");
    else
        printf("not available: %s\n", c->why_not);
}

static void print_text(const struct gpx_rec_answer *a)
{
    const struct gpx_rec_choice *b = &a->best;
    char cmd[512];
    if (a->found) {
        printf("recommended: %s lease", mode_s(b->mode));
        if (b->mig_profile[0])
            printf(" (%s)", b->mig_profile);
        printf(", delivered as a %s, on GPU %d\n", gpx_rec_delivery_name(b->delivery), b->gpu);
    } else {
        printf("recommended by the guidance: %s lease, delivered as a %s: NOT AVAILABLE on this "
               "node now\n",
               mode_s(b->mode), gpx_rec_delivery_name(b->delivery));
    }
    json_t *spec = spec_json(b);
    char *s = json_dumps(spec, JSON_COMPACT);
    printf("  spec:    %s\n", s ? s : "?");
    free(s);
    json_decref(spec);
    if (a->found && gpx_rec_command(b, cmd, sizeof cmd, NULL) == 0)
        printf("  command: %s\n", cmd);
    printf("  seed:    %s\n", b->seed_perf);
    printf("why:\n");
    for (unsigned i = 0; i < a->n_reasons; i++)
        printf("  - %s\n", a->reasons[i]);
    int head = 0;
    for (unsigned k = 0; k < a->n_cand; k++) {
        if (!memcmp(&a->cand[k], b, sizeof *b))
            continue;
        if (!head++)
            printf("alternatives:\n");
        print_choice_line(&a->cand[k]);
    }
}

static int print_rules(int json)
{
    if (json) {
        json_t *arr = json_array();
        for (unsigned i = 0; i < gpx_rec_rule_count; i++) {
            const struct gpx_rec_rule *r = &gpx_rec_rules[i];
            json_t *o = json_object(), *cs = json_array();
            json_object_set_new(o, "id", json_string(r->id));
            json_object_set_new(o, "when", json_string(r->when));
            for (unsigned k = 0; k < GPX_REC_MAX_CANDIDATES && r->cand[k].mode >= 0; k++) {
                json_t *c = json_object();
                json_object_set_new(c, "mode", json_string(mode_s(r->cand[k].mode)));
                json_object_set_new(c, "delivery",
                                    json_string(gpx_rec_delivery_name(r->cand[k].delivery)));
                json_array_append_new(cs, c);
            }
            json_object_set_new(o, "candidates", cs);
            json_object_set_new(o, "reason", json_string(r->reason));
            json_object_set_new(o, "seed", json_string(r->seed));
            json_array_append_new(arr, o);
        }
        gpx_view_print(arr);
        json_decref(arr);
        return 0;
    }
    char *md = gpx_rec_rules_markdown();
    if (!md) {
        gpx_error err;
        gpx_error_set(&err, GPX_E_NOMEM, "out of memory");
        return gpx_cli_fail(&err);
    }
    fputs(md, stdout);
    free(md);
    return 0;
}

/* --- the command ---------------------------------------------------------------------------- */

static int run(int argc, char **argv)
{
    static const struct option opts[] = {{"kind", required_argument, NULL, 'k'},
                                         {"tenants", required_argument, NULL, 't'},
                                         {"isolation", required_argument, NULL, 'i'},
                                         {"os", required_argument, NULL, 'o'},
                                         {"memory", required_argument, NULL, 'm'},
                                         {"utilization", required_argument, NULL, 'u'},
                                         {"duration", required_argument, NULL, 'd'},
                                         {"latency-sensitive", no_argument, NULL, 'l'},
                                         {"users-per-gpu", required_argument, NULL, 'n'},
                                         {"file", required_argument, NULL, 'f'},
                                         {"rules", no_argument, NULL, 'r'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"server", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *server = NULL, *file = NULL;
    int json = 0, rules = 0, c, idx;
    /* flags after the file: a flag overrides the file's key */
    struct {
        const char *key, *value;
    } set[32];
    unsigned nset = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "s:jh", opts, &idx)) != -1) {
        switch (c) {
        case 'k':
        case 't':
        case 'i':
        case 'o':
        case 'm':
        case 'u':
        case 'd':
        case 'n':
        case 'l':
            if (nset >= sizeof set / sizeof set[0])
                return gpx_cli_usage_error(&gpx_cmd_recommend, "too many flags");
            set[nset].key = opts[idx].name;
            set[nset++].value = c == 'l' ? "true" : optarg;
            break;
        case 'f':
            file = optarg;
            break;
        case 'r':
            rules = 1;
            break;
        case 'j':
            json = 1;
            break;
        case 's':
            server = optarg;
            break;
        case 'h':
            return gpx_cli_print_usage(&gpx_cmd_recommend);
        default:
            return gpx_cli_usage_error(&gpx_cmd_recommend, "unknown or incomplete option '%s'",
                                       argv[optind - 1]);
        }
    }
    if (optind < argc)
        return gpx_cli_usage_error(&gpx_cmd_recommend, "unexpected argument '%s'", argv[optind]);
    if (rules)
        return print_rules(json);

    gpx_error err = {0};
    struct gpx_rec_workload w;
    gpx_rec_workload_init(&w);
    if (file && load_file(&w, file, &err) < 0)
        return gpx_cli_usage_error(&gpx_cmd_recommend, "%s", err.msg);
    for (unsigned i = 0; i < nset; i++)
        if (gpx_rec_set(&w, set[i].key, set[i].value, GPX_REC_FLAG, &err) < 0)
            return gpx_cli_usage_error(&gpx_cmd_recommend, "%s", err.msg);

    struct gpx_rec_node *n = calloc(1, sizeof *n);
    struct gpx_rec_answer *a = calloc(1, sizeof *a);
    int rc = n && a ? gather(server, n)
                    : (gpx_error_set(&err, GPX_E_NOMEM, "out of memory"), gpx_cli_fail(&err));
    if (rc == 0) {
        gpx_rec_decide(&w, n, a);
        if (json) {
            json_t *o = answer_json(a, n);
            gpx_view_print(o);
            json_decref(o);
        } else {
            print_text(a);
        }
        if (!a->found)
            rc = gpx_error_exit_status(GPX_E_NO_SPACE);
    }
    free(n);
    free(a);
    return rc;
}

const struct gpx_cmd gpx_cmd_recommend = {
    "recommend",
    run,
    "which way to use a GPU for a workload on this node: mode, delivery, command, reasons",
    "usage: gpuplex recommend [--kind training|fine-tuning|inference|development|batch|ci]\n"
    "         [--tenants one|several] [--isolation none|process|hardware|compliance]\n"
    "         [--os linux|windows] [--memory SIZE] [--utilization PCT] [--duration D]\n"
    "         [--latency-sensitive] [--users-per-gpu N] [--file FILE] [--json] [--server S]\n"
    "       gpuplex recommend --rules [--json]\n"
    "\n"
    "Turns the guidance of docs/choosing.md (the seed's tables) into an answer for\n"
    "this node: a lease mode (exclusive, mig, vgpu, timeslice), how the workload\n"
    "gets it (process, container, vm), the lease spec, the command that gets it here,\n"
    "and the reasons: the rule that decided, with its seed line, and the node's\n"
    "facts (free GPUs, MIG mode and free MIG instances per profile, free memory\n"
    "quota, active leases, a saved 'gpuplex bench' result). When the guidance's\n"
    "choice cannot be granted here, it says why, what stands in for it and what\n"
    "that gives up. Works with and without gpuplexd (the path of 'gpuplex status').\n"
    "\n"
    "Workload (all optional; the first rule whose condition holds decides):\n"
    "  --kind K              training, fine-tuning, inference, development, batch, ci\n"
    "  --tenants T           one, several (different customers on the node)\n"
    "  --isolation I         none, process, hardware, compliance\n"
    "  --os OS               linux, windows (the workload's)\n"
    "  --memory SIZE         device memory it needs (24G, 4096M)\n"
    "  --utilization PCT     how much of a GPU it keeps busy (0-100)\n"
    "  --duration D          how long it runs: a number and s, m, h, d or w (30m, 14d)\n"
    "  --latency-sensitive   it serves requests that wait on it\n"
    "  --users-per-gpu N     how many users share one GPU (1-1000)\n"
    "  --file FILE           the same as a JSON object or a YAML mapping, keys named as\n"
    "                        the flags ('users-per-gpu' or 'users_per_gpu');\n"
    "                        flags given too override the file's keys\n"
    "\n"
    "  --rules    print the rules table (Markdown, as docs/choosing.md has it)\n"
    "  --json     print {mode, delivery, available, gpu, spec, command, api: {method,\n"
    "             path, body}, why_not, gives_up, seed_figure, rule: {id, when, reason,\n"
    "             seed}, guidance: {mode, delivery, available}, reasons: [...],\n"
    "             alternatives: [{mode, delivery, available, gpu, spec, command, ...}],\n"
    "             node: {gpus, mig_capable_gpus, mig_enabled_gpus, active_leases,\n"
    "             container_runtime, vm, bench}} (--rules --json: the rules as objects)\n"
    "  --server S gpuplexd's socket path or http://HOST:PORT (default: the path rule)\n"
    "\n"
    "In 'command' and 'spec', IMAGE, CMD and KEY are yours to fill in.\n"
    "\n"
    "exit status: 0 answered; 2 an unknown flag or key, a bad value (the message names\n"
    "it and the valid values); 7 nothing the guidance offers for the workload can be\n"
    "granted on this node now (the answer still prints why); 9 gpuplexd unreachable.\n",
};
