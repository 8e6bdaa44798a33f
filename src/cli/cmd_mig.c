/*
 * gpuplex mig: MIG partitions. `ls` shows each GPU's MIG mode, instances and
 * profiles as NVML reports them; `plan` works offline from a model, the
 * current instances and a demand; `apply` plans against a GPU's real state
 * and carries the plan out through NVML (see src/nvml/mig.c). The daemon
 * reuses the same planner and apply for `mode: mig` leases.
 *
 * JSON keys are documented in docs/mig.md and in the usage text below.
 */
#include "cli/cli.h"
#include "core/mig_layout.h"
#include "core/mig_plan.h"
#include "nvml/mig.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *mode_name(unsigned mode)
{
    return mode == NVML_DEVICE_MIG_ENABLE ? "enabled" : "disabled";
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s)
        puts(s);
    free(s);
}

static int parse_gpu(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 0 || v > 63)
        return -1;
    *out = (int)v;
    return 0;
}

static json_t *placement_json(unsigned start, unsigned size)
{
    json_t *o = json_object();
    json_object_set_new(o, "start", json_integer(start));
    json_object_set_new(o, "size", json_integer(size));
    return o;
}

/* --- ls ------------------------------------------------------------------------------- */

static json_t *gpu_json(const struct gpx_mig_gpu_state *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "index", json_integer(s->index));
    json_object_set_new(o, "name", json_string(s->name));
    json_object_set_new(o, "uuid", json_string(s->uuid));
    const struct gpx_mig_model *cat =
        s->model >= 0 ? gpx_mig_model_get((enum gpx_mig_model_id)s->model) : NULL;
    json_object_set_new(o, "model", cat ? json_string(cat->spec_name) : json_null());
    json_object_set_new(o, "mig_supported", json_boolean(s->supported));
    json_object_set_new(o, "mig_mode",
                        s->supported ? json_string(mode_name(s->mode_current)) : json_null());
    json_object_set_new(o, "mig_mode_pending",
                        s->supported ? json_string(mode_name(s->mode_pending)) : json_null());
    json_object_set_new(o, "catalog_differences", json_integer(s->differences));
    json_object_set_new(o, "processes", json_integer(s->nprocs));
    json_t *insts = json_array();
    for (unsigned i = 0; i < s->ngi; i++) {
        const struct gpx_mig_gi_state *g = &s->gi[i];
        const struct gpx_mig_gi_profile *p =
            g->profile >= 0 ? &s->table.profiles[g->profile] : NULL;
        json_t *gi = json_object();
        json_object_set_new(gi, "gpu_instance_id", json_integer(g->id));
        json_object_set_new(gi, "profile", p ? json_string(p->name) : json_null());
        json_object_set_new(gi, "profile_id", json_integer(g->profile_id));
        json_object_set_new(gi, "start", json_integer(g->start));
        json_object_set_new(gi, "size", json_integer(g->size));
        json_object_set_new(gi, "memory_mib", p ? json_integer(p->memory_mib) : json_null());
        json_object_set_new(gi, "sm_count", p ? json_integer(p->sm_count) : json_null());
        json_object_set_new(gi, "processes", json_integer(g->procs));
        json_object_set_new(gi, "uuid",
                            g->nci && g->ci[0].uuid[0] ? json_string(g->ci[0].uuid) : json_null());
        json_t *cis = json_array();
        for (unsigned c = 0; c < g->nci; c++) {
            json_t *ci = json_object();
            json_object_set_new(ci, "compute_instance_id", json_integer(g->ci[c].id));
            json_object_set_new(ci, "profile_id", json_integer(g->ci[c].profile_id));
            json_object_set_new(ci, "start", json_integer(g->ci[c].start));
            json_object_set_new(ci, "size", json_integer(g->ci[c].size));
            json_object_set_new(ci, "uuid",
                                g->ci[c].uuid[0] ? json_string(g->ci[c].uuid) : json_null());
            json_array_append_new(cis, ci);
        }
        json_object_set_new(gi, "compute_instances", cis);
        json_array_append_new(insts, gi);
    }
    json_object_set_new(o, "instances", insts);
    json_t *profs = json_array();
    for (unsigned i = 0; s->supported && i < s->table.profile_count; i++) {
        const struct gpx_mig_gi_profile *p = &s->table.profiles[i];
        json_t *j = json_object();
        json_object_set_new(j, "name", json_string(p->name));
        json_object_set_new(j, "id", json_integer(p->id));
        json_object_set_new(j, "nvml_index", json_integer(p->index));
        json_object_set_new(j, "compute_slices", json_integer(p->compute_slices));
        json_object_set_new(j, "memory_slices", json_integer(p->memory_slices));
        json_object_set_new(j, "memory_mib", json_integer(p->memory_mib));
        json_object_set_new(j, "sm_count", json_integer(p->sm_count));
        json_object_set_new(j, "max_count", json_integer(p->max_count));
        json_object_set_new(j, "free",
                            s->mode_current == NVML_DEVICE_MIG_ENABLE ? json_integer(s->free[i])
                                                                      : json_null());
        json_t *pls = json_array();
        for (unsigned k = 0; k < p->placement_count; k++)
            json_array_append_new(pls,
                                  placement_json(p->placements[k].start, p->placements[k].size));
        json_object_set_new(j, "placements", pls);
        json_array_append_new(profs, j);
    }
    json_object_set_new(o, "profiles", profs);
    return o;
}

static void print_gpu(const struct gpx_mig_gpu_state *s)
{
    const struct gpx_mig_model *cat =
        s->model >= 0 ? gpx_mig_model_get((enum gpx_mig_model_id)s->model) : NULL;
    if (!s->supported) {
        printf("GPU %u  %s  MIG not supported\n", s->index, s->name);
        return;
    }
    printf("GPU %u  %s  model %s  MIG %s", s->index, s->name, cat ? cat->spec_name : "unknown",
           mode_name(s->mode_current));
    if (s->mode_pending != s->mode_current)
        printf(" (%s pending)", mode_name(s->mode_pending));
    printf("\n");
    if (s->mode_current == NVML_DEVICE_MIG_ENABLE) {
        if (s->ngi == 0) {
            printf("  no GPU instances\n");
        } else {
            printf("  %-3s %-12s %-9s %-3s %-42s %s\n", "GI", "PROFILE", "PLACEMENT", "CI",
                   "MIG DEVICE", "PROCS");
            for (unsigned i = 0; i < s->ngi; i++) {
                const struct gpx_mig_gi_state *g = &s->gi[i];
                char pl[16];
                snprintf(pl, sizeof pl, "%u:%u", g->start, g->size);
                const char *pn = g->profile >= 0 ? s->table.profiles[g->profile].name : "?";
                if (g->nci == 0)
                    printf("  %-3u %-12s %-9s %-3s %-42s %u\n", g->id, pn, pl, "-", "-", g->procs);
                for (unsigned c = 0; c < g->nci; c++)
                    printf("  %-3u %-12s %-9s %-3u %-42s %u\n", g->id, pn, pl, g->ci[c].id,
                           g->ci[c].uuid[0] ? g->ci[c].uuid : "-", g->procs);
            }
        }
    }
    printf("  %-12s %3s %5s %9s %4s %4s %s\n", "PROFILE", "ID", "SLICES", "MEMORY", "SMS", "FREE",
           "PLACEMENTS");
    for (unsigned i = 0; i < s->table.profile_count; i++) {
        const struct gpx_mig_gi_profile *p = &s->table.profiles[i];
        char pls[64] = "", mem[24], slices[16], fr[16];
        size_t used = 0;
        for (unsigned k = 0; k < p->placement_count && used < sizeof pls; k++)
            used += (size_t)snprintf(pls + used, sizeof pls - used, "%s%u", k ? "," : "",
                                     p->placements[k].start);
        snprintf(mem, sizeof mem, "%u MiB", p->memory_mib);
        snprintf(slices, sizeof slices, "%u/%u", p->compute_slices, p->memory_slices);
        if (s->mode_current == NVML_DEVICE_MIG_ENABLE)
            snprintf(fr, sizeof fr, "%u/%u", s->free[i], p->max_count);
        else
            snprintf(fr, sizeof fr, "-/%u", p->max_count);
        printf("  %-12s %3u %5s %9s %4u %4s {%s}:%u\n", p->name, p->id, slices, mem, p->sm_count,
               fr, pls, p->memory_slices);
    }
}

static int open_all(struct gpx_nvml *nv, struct gpx_nvml_mig *m, unsigned *count, gpx_error *err)
{
    if (gpx_nvml_open(nv, err) < 0)
        return -1;
    if (gpx_nvml_mig_open(nv, m, err) < 0) {
        gpx_nvml_close(nv);
        return -1;
    }
    nvmlReturn_t r = nv->device_count(count);
    if (r != NVML_SUCCESS) {
        gpx_nvml_fail(nv, r, err, "nvmlDeviceGetCount");
        gpx_nvml_close(nv);
        return -1;
    }
    return 0;
}

static int mig_ls(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"gpu", required_argument, NULL, 'g'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int json = 0, gpu = -1, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "jg:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = 1;
            break;
        case 'g':
            if (parse_gpu(optarg, &gpu) < 0)
                return gpx_cli_usage_error(&gpx_cmd_mig, "bad --gpu '%s'", optarg);
            break;
        case 'h':
            return gpx_cli_print_usage(&gpx_cmd_mig);
        default:
            return gpx_cli_usage_error(&gpx_cmd_mig, "bad option '%s' for 'mig ls'",
                                       argv[optind - 1]);
        }
    }
    if (optind < argc)
        return gpx_cli_usage_error(&gpx_cmd_mig, "unexpected argument '%s'", argv[optind]);
    gpx_error err = {0};
    struct gpx_nvml nv;
    struct gpx_nvml_mig m;
    unsigned count;
    if (open_all(&nv, &m, &count, &err) < 0)
        return gpx_cli_fail(&err);
    if (gpu >= 0 && (unsigned)gpu >= count) {
        gpx_nvml_close(&nv);
        gpx_error_set(&err, GPX_E_NOT_FOUND, "no GPU %d (this node has %u)", gpu, count);
        return gpx_cli_fail(&err);
    }
    json_t *arr = json_array();
    int rc = 0;
    struct gpx_mig_gpu_state *s = malloc(sizeof *s);
    for (unsigned i = 0; s && i < count; i++) {
        if (gpu >= 0 && (unsigned)gpu != i)
            continue;
        if (gpx_mig_read(&nv, &m, i, s, &err) < 0) {
            gpx_error_wrap(&err, "GPU %u", i);
            rc = -1;
            break;
        }
        if (json)
            json_array_append_new(arr, gpu_json(s));
        else
            print_gpu(s);
    }
    if (!s)
        rc = gpx_error_set(&err, GPX_E_NOMEM, "MIG state");
    free(s);
    gpx_nvml_close(&nv);
    if (rc == 0 && json)
        print_json(arr);
    json_decref(arr);
    return rc < 0 ? gpx_cli_fail(&err) : 0;
}

/* --- plan ----------------------------------------------------------------------------- */

static json_t *demand_json(const struct gpx_mig_model *t, const unsigned *d)
{
    json_t *o = json_object();
    for (unsigned i = 0; i < t->profile_count; i++)
        if (d[i])
            json_object_set_new(o, t->profiles[i].name, json_integer(d[i]));
    return o;
}

static json_t *plan_json(const struct gpx_mig_model *t, const struct gpx_mig_instance *cur,
                         const unsigned *demand, const struct gpx_mig_plan *pl)
{
    json_t *o = json_object();
    json_object_set_new(o, "model", json_string(t->spec_name));
    json_object_set_new(o, "demand", demand_json(t, demand));
    json_t *insts = json_array();
    for (unsigned i = 0; i < pl->count; i++) {
        const struct gpx_mig_plan_item *it = &pl->items[i];
        json_t *j = json_object();
        json_object_set_new(j, "profile", json_string(t->profiles[it->profile].name));
        json_object_set_new(j, "start", json_integer(it->start));
        json_object_set_new(j, "size", json_integer(t->profiles[it->profile].memory_slices));
        json_object_set_new(j, "action", json_string(it->current < 0 ? "create" : "keep"));
        json_object_set_new(j, "leased", json_boolean(it->leased));
        json_array_append_new(insts, j);
    }
    json_object_set_new(o, "instances", insts);
    json_t *destroy = json_array();
    for (unsigned i = 0; i < pl->destroy_count; i++) {
        const struct gpx_mig_instance *c = &cur[pl->destroy[i]];
        json_t *j = json_object();
        json_object_set_new(j, "profile", json_string(t->profiles[c->profile].name));
        json_object_set_new(j, "start", json_integer(c->start));
        json_object_set_new(j, "size", json_integer(t->profiles[c->profile].memory_slices));
        json_array_append_new(destroy, j);
    }
    json_object_set_new(o, "destroy", destroy);
    json_object_set_new(o, "unmet", demand_json(t, pl->unmet));
    json_object_set_new(o, "demanded", json_integer(pl->demanded));
    json_object_set_new(o, "satisfied", json_integer(pl->satisfied));
    return o;
}

static void print_unmet(const struct gpx_mig_model *t, const struct gpx_mig_plan *pl, FILE *f)
{
    int any = 0;
    for (unsigned i = 0; i < t->profile_count; i++) {
        if (pl->unmet[i]) {
            fprintf(f, "%s%s=%u", any ? "," : "", t->profiles[i].name, pl->unmet[i]);
            any = 1;
        }
    }
    if (!any)
        fprintf(f, "none");
}

static void print_plan(const struct gpx_mig_model *t, const struct gpx_mig_instance *cur,
                       const struct gpx_mig_plan *pl)
{
    printf("%s: %u of %u demanded instances fit\n", t->spec_name, pl->satisfied, pl->demanded);
    printf("  %-8s %-12s %s\n", "ACTION", "PROFILE", "PLACEMENT");
    for (unsigned i = 0; i < pl->destroy_count; i++) {
        const struct gpx_mig_instance *c = &cur[pl->destroy[i]];
        printf("  %-8s %-12s %u:%u\n", "destroy", t->profiles[c->profile].name, c->start,
               t->profiles[c->profile].memory_slices);
    }
    for (unsigned i = 0; i < pl->count; i++) {
        const struct gpx_mig_plan_item *it = &pl->items[i];
        printf("  %-8s %-12s %u:%u%s\n", it->current < 0 ? "create" : "keep",
               t->profiles[it->profile].name, it->start, t->profiles[it->profile].memory_slices,
               it->leased ? " (leased)" : "");
    }
    printf("unmet: ");
    print_unmet(t, pl, stdout);
    printf("\n");
}

/* One instance of a --current file. */
static int current_entry(const struct gpx_mig_model *t, json_t *e, size_t i,
                         struct gpx_mig_instance *out, gpx_error *err)
{
    if (!json_is_object(e))
        return gpx_error_set(err, GPX_E_INVALID, "instance %zu: expected an object", i);
    json_t *prof = json_object_get(e, "profile"), *pid = json_object_get(e, "profile_id");
    json_t *start = json_object_get(e, "start"), *leased = json_object_get(e, "leased");
    json_t *procs = json_object_get(e, "processes");
    int p = -1;
    if (json_is_string(prof)) {
        p = gpx_mig_profile_parse(t, json_string_value(prof), err);
        if (p < 0)
            return gpx_error_wrap(err, "instance %zu", i);
    } else if (json_is_integer(pid)) {
        p = gpx_mig_profile_by_id(t, (unsigned)json_integer_value(pid));
        if (p < 0)
            return gpx_error_set(err, GPX_E_INVALID, "instance %zu: no profile id %lld on %s", i,
                                 (long long)json_integer_value(pid), t->spec_name);
    } else {
        return gpx_error_set(err, GPX_E_INVALID, "instance %zu: needs \"profile\"", i);
    }
    if (!json_is_integer(start) || json_integer_value(start) < 0 ||
        json_integer_value(start) >= (json_int_t)GPX_MIG_MEMORY_SLICES)
        return gpx_error_set(err, GPX_E_INVALID, "instance %zu: needs \"start\" (0..7)", i);
    out->profile = (uint8_t)p;
    out->start = (uint8_t)json_integer_value(start);
    out->leased = json_is_true(leased) || (json_is_integer(procs) && json_integer_value(procs) > 0);
    return 0;
}

/*
 * --current FILE: a JSON array of {"profile", "start", "leased"}, an object
 * with such an "instances" array (a `mig plan --json` or one GPU of
 * `mig ls --json`), or `mig ls --json` itself (GPU `gpu`).
 */
static int load_current(const char *path, const struct gpx_mig_model *t, int gpu,
                        struct gpx_mig_instance *cur, unsigned *ncur, gpx_error *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return gpx_error_set(err, errno == ENOENT ? GPX_E_NOT_FOUND : GPX_E_INVALID,
                             "current layout '%s': line %d: %s", path, je.line, je.text);
    json_t *list = root;
    if (json_is_array(root) && json_array_size(root) > 0 &&
        json_is_object(json_array_get(root, 0)) &&
        json_object_get(json_array_get(root, 0), "instances")) {
        size_t k = gpu < 0 ? 0 : (size_t)gpu;
        if (k >= json_array_size(root)) {
            json_decref(root);
            return gpx_error_set(err, GPX_E_INVALID, "current layout '%s' has no GPU %zu", path, k);
        }
        list = json_object_get(json_array_get(root, k), "instances");
    } else if (json_is_object(root)) {
        list = json_object_get(root, "instances");
    }
    if (!json_is_array(list)) {
        json_decref(root);
        return gpx_error_set(err, GPX_E_INVALID,
                             "current layout '%s': expected a list of instances", path);
    }
    if (json_array_size(list) > GPX_MIG_MAX_INSTANCES) {
        json_decref(root);
        return gpx_error_set(err, GPX_E_INVALID, "current layout '%s': more than %u instances",
                             path, GPX_MIG_MAX_INSTANCES);
    }
    size_t i;
    json_t *e;
    *ncur = 0;
    json_array_foreach(list, i, e)
    {
        if (current_entry(t, e, i, &cur[*ncur], err) < 0) {
            json_decref(root);
            return gpx_error_wrap(err, "current layout '%s'", path);
        }
        (*ncur)++;
    }
    json_decref(root);
    if (gpx_mig_layout_check(t, cur, *ncur, err) < 0)
        return gpx_error_wrap(err, "current layout '%s'", path);
    return 0;
}

static int mig_plan(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},  {"current", required_argument, NULL, 'c'},
        {"demand", required_argument, NULL, 'd'}, {"gpu", required_argument, NULL, 'g'},
        {"exact", no_argument, NULL, 'x'},        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *model = NULL, *current = NULL, *demand_s = NULL;
    int json = 0, exact = 0, gpu = -1, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "m:c:d:g:xjh", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 'c':
            current = optarg;
            break;
        case 'd':
            demand_s = optarg;
            break;
        case 'g':
            if (parse_gpu(optarg, &gpu) < 0)
                return gpx_cli_usage_error(&gpx_cmd_mig, "bad --gpu '%s'", optarg);
            break;
        case 'x':
            exact = 1;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            return gpx_cli_print_usage(&gpx_cmd_mig);
        default:
            return gpx_cli_usage_error(&gpx_cmd_mig, "bad option '%s' for 'mig plan'",
                                       argv[optind - 1]);
        }
    }
    if (optind < argc)
        return gpx_cli_usage_error(&gpx_cmd_mig, "unexpected argument '%s'", argv[optind]);
    if (!model)
        return gpx_cli_usage_error(&gpx_cmd_mig, "'mig plan' needs --model (%s)",
                                   gpx_mig_model_list());
    if (!demand_s)
        return gpx_cli_usage_error(&gpx_cmd_mig,
                                   "'mig plan' needs --demand (e.g. 3g.40gb=1,1g.10gb=4)");
    gpx_error err = {0};
    int mi = gpx_mig_model_find(model);
    if (mi < 0) {
        gpx_error_set(&err, GPX_E_INVALID, "unknown GPU model '%s' (valid models: %s)", model,
                      gpx_mig_model_list());
        return gpx_cli_fail(&err);
    }
    const struct gpx_mig_model *t = gpx_mig_model_get((enum gpx_mig_model_id)mi);
    unsigned demand[GPX_MIG_MAX_PROFILES];
    struct gpx_mig_instance cur[GPX_MIG_MAX_INSTANCES];
    unsigned ncur = 0;
    if (gpx_mig_demand_parse(t, demand_s, demand, &err) < 0)
        return gpx_cli_fail(&err);
    if (current && load_current(current, t, gpu, cur, &ncur, &err) < 0)
        return gpx_cli_fail(&err);
    struct gpx_mig_planner *p;
    struct gpx_mig_plan pl;
    if (gpx_mig_planner_new(t, &p, &err) < 0)
        return gpx_cli_fail(&err);
    int rc = gpx_mig_plan(p, cur, ncur, demand, exact ? GPX_MIG_PLAN_EXACT : 0, &pl, &err);
    gpx_mig_planner_free(p);
    if (rc < 0)
        return gpx_cli_fail(&err);
    if (json) {
        json_t *j = plan_json(t, cur, demand, &pl);
        print_json(j);
        json_decref(j);
    } else {
        print_plan(t, cur, &pl);
    }
    return 0;
}

/* --- apply ---------------------------------------------------------------------------- */

static const char *action_name(enum gpx_mig_action_kind k)
{
    switch (k) {
    case GPX_MIG_ACT_ENABLE:
        return "enable";
    case GPX_MIG_ACT_DISABLE:
        return "disable";
    case GPX_MIG_ACT_DESTROY:
        return "destroy";
    case GPX_MIG_ACT_CREATE:
        return "create";
    case GPX_MIG_ACT_CREATE_CI:
        return "create_ci";
    }
    return "?";
}

static json_t *actions_json(const struct gpx_mig_gpu_state *s,
                            const struct gpx_mig_apply_result *res)
{
    json_t *arr = json_array();
    for (unsigned i = 0; i < res->n; i++) {
        const struct gpx_mig_action *a = &res->actions[i];
        json_t *o = json_object();
        json_object_set_new(o, "action", json_string(action_name(a->kind)));
        if (a->profile >= 0) {
            json_object_set_new(o, "profile", json_string(s->table.profiles[a->profile].name));
            json_object_set_new(o, "start", json_integer(a->start));
            json_object_set_new(o, "size", json_integer(a->size));
        }
        if (a->done && a->kind != GPX_MIG_ACT_ENABLE && a->kind != GPX_MIG_ACT_DISABLE)
            json_object_set_new(o, "gpu_instance_id", json_integer(a->gi_id));
        if (a->done && (a->kind == GPX_MIG_ACT_CREATE || a->kind == GPX_MIG_ACT_CREATE_CI)) {
            json_object_set_new(o, "compute_instance_id", json_integer(a->ci_id));
            json_object_set_new(o, "uuid", a->uuid[0] ? json_string(a->uuid) : json_null());
        }
        json_object_set_new(o, "done", json_boolean(a->done));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* One line per action: "would ..." in a dry run, past tense when done, "failed to ..." if not. */
static void print_actions(const struct gpx_mig_gpu_state *s, const struct gpx_mig_apply_result *res,
                          int dry_run)
{
    for (unsigned i = 0; i < res->n; i++) {
        const struct gpx_mig_action *a = &res->actions[i];
        const char *pn = a->profile >= 0 ? s->table.profiles[a->profile].name : "";
        const char *pre = dry_run ? "would " : a->done ? "" : "failed to ";
        switch (a->kind) {
        case GPX_MIG_ACT_ENABLE:
        case GPX_MIG_ACT_DISABLE:
            printf("GPU %u: %s%s%s MIG mode\n", s->index, pre, action_name(a->kind),
                   a->done ? "d" : "");
            break;
        case GPX_MIG_ACT_DESTROY:
            printf("GPU %u: %s%s %s at %u:%u (GPU instance %u)\n", s->index, pre,
                   a->done ? "destroyed" : "destroy", pn, a->start, a->size, a->gi_id);
            break;
        case GPX_MIG_ACT_CREATE:
        case GPX_MIG_ACT_CREATE_CI:
            if (a->done)
                printf("GPU %u: %s %s at %u:%u -> GPU instance %u, compute instance %u%s%s\n",
                       s->index, a->kind == GPX_MIG_ACT_CREATE ? "created" : "completed", pn,
                       a->start, a->size, a->gi_id, a->ci_id, a->uuid[0] ? ", " : "", a->uuid);
            else
                printf("GPU %u: %s%s %s at %u:%u\n", s->index, pre,
                       a->kind == GPX_MIG_ACT_CREATE ? "create" : "add a compute instance to", pn,
                       a->start, a->size);
            break;
        }
    }
    if (res->n == 0)
        printf("GPU %u: nothing to do\n", s->index);
}

struct apply_opts {
    const struct gpx_mig_layout *layout; /* or */
    const char *demand;
    int exact, partial, dry_run, json;
};

/* Plans and applies on one GPU; appends its JSON to `out`. */
static int apply_gpu(struct gpx_nvml *nv, const struct gpx_nvml_mig *m, unsigned index,
                     const struct apply_opts *o, json_t *out, gpx_error *err)
{
    struct gpx_mig_gpu_state *s = malloc(sizeof *s);
    if (!s)
        return gpx_error_set(err, GPX_E_NOMEM, "MIG state");
    int rc = -1;
    struct gpx_mig_planner *p = NULL;
    struct gpx_mig_apply_result res = {0};
    struct gpx_mig_plan pl = {0};
    unsigned demand[GPX_MIG_MAX_PROFILES] = {0};
    json_t *j = json_object();
    if (gpx_mig_read(nv, m, index, s, err) < 0)
        goto out;
    json_object_set_new(j, "index", json_integer(index));
    const struct gpx_mig_model *cat =
        s->model >= 0 ? gpx_mig_model_get((enum gpx_mig_model_id)s->model) : NULL;
    json_object_set_new(j, "model", cat ? json_string(cat->spec_name) : json_null());
    if (!s->supported) {
        gpx_error_set(err, GPX_E_INVALID, "GPU %u (%s) does not support MIG", index, s->name);
        goto out;
    }
    int enabled = 1;
    if (o->layout) {
        const struct gpx_mig_layout_rule *r =
            gpx_mig_layout_rule_for(o->layout, index, s->pci_device_id, s->model);
        if (!r) {
            if (!o->json)
                printf("GPU %u: no rule of layout '%s' applies to it (%s); left as it is\n", index,
                       o->layout->name, s->name);
            json_object_set_new(j, "skipped", json_true());
            rc = 0;
            goto out;
        }
        enabled = r->mig_enabled;
        if (gpx_mig_layout_demand(r, &s->table, demand, err) < 0) {
            gpx_error_wrap(err, "GPU %u: layout '%s'", index, o->layout->name);
            goto out;
        }
    } else if (gpx_mig_demand_parse(&s->table, o->demand, demand, err) < 0) {
        gpx_error_wrap(err, "GPU %u", index);
        goto out;
    }
    struct gpx_mig_instance cur[GPX_MIG_MAX_INSTANCES];
    unsigned ncur = gpx_mig_current(s, cur);
    if (gpx_mig_planner_new(&s->table, &p, err) < 0 ||
        gpx_mig_plan(p, cur, ncur, demand, o->exact || !enabled ? GPX_MIG_PLAN_EXACT : 0, &pl,
                     err) < 0) {
        gpx_error_wrap(err, "GPU %u", index);
        goto out;
    }
    if (pl.satisfied < pl.demanded && !o->partial) {
        char unmet[256];
        FILE *f = fmemopen(unmet, sizeof unmet, "w");
        if (f) {
            print_unmet(&s->table, &pl, f);
            fclose(f);
        } else {
            snprintf(unmet, sizeof unmet, "?");
        }
        gpx_error_set(err, GPX_E_NO_SPACE,
                      "GPU %u (%s): the demand does not fit: %u of %u instances would be "
                      "missing (%s); see 'gpuplex mig plan', or pass --partial",
                      index, s->table.spec_name, pl.demanded - pl.satisfied, pl.demanded, unmet);
        goto out;
    }
    if (enabled) {
        rc = gpx_mig_apply(nv, m, s, &pl, 1, o->dry_run, &res, err);
    } else if (s->mode_current != NVML_DEVICE_MIG_ENABLE) {
        rc = 0; /* MIG is off already */
    } else {
        /* mig-enabled: false: destroy everything unleased, then turn MIG off */
        rc = gpx_mig_apply(nv, m, s, &pl, 0, o->dry_run, &res, err);
        if (rc == 0 && s->mode_current == NVML_DEVICE_MIG_ENABLE) {
            if (pl.count > 0) {
                rc = gpx_error_set(err, GPX_E_BUSY,
                                   "GPU %u: %u GPU instance%s in use: MIG mode stays on", index,
                                   pl.count, pl.count == 1 ? "" : "s");
            } else if (o->dry_run) {
                res.actions[res.n++] =
                    (struct gpx_mig_action){.kind = GPX_MIG_ACT_DISABLE, .profile = -1};
            } else {
                struct gpx_mig_gpu_state *s2 = malloc(sizeof *s2);
                struct gpx_mig_apply_result r2;
                rc = s2 ? gpx_mig_read(nv, m, index, s2, err)
                        : gpx_error_set(err, GPX_E_NOMEM, "MIG state");
                if (rc == 0)
                    rc = gpx_mig_disable(nv, m, s2, 0, &r2, err);
                if (rc == 0 && r2.n)
                    res.actions[res.n++] = r2.actions[0];
                free(s2);
            }
        }
    }
    if (!o->json)
        print_actions(s, &res, o->dry_run);
    json_object_set_new(j, "dry_run", json_boolean(o->dry_run));
    json_object_set_new(j, "actions", actions_json(s, &res));
    json_object_set_new(j, "plan", plan_json(&s->table, cur, demand, &pl));
    if (!o->json && pl.satisfied < pl.demanded) {
        printf("GPU %u: unmet: ", index);
        print_unmet(&s->table, &pl, stdout);
        printf("\n");
    }
    fflush(stdout); /* before the error, if any, on stderr */
out:
    json_array_append_new(out, j);
    gpx_mig_planner_free(p);
    free(s);
    return rc;
}

static int mig_apply(int argc, char **argv)
{
    static const struct option opts[] = {{"gpu", required_argument, NULL, 'g'},
                                         {"layout", required_argument, NULL, 'l'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"demand", required_argument, NULL, 'd'},
                                         {"exact", no_argument, NULL, 'x'},
                                         {"keep-extra", no_argument, NULL, 'k'},
                                         {"partial", no_argument, NULL, 'p'},
                                         {"dry-run", no_argument, NULL, 'D'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *layout_path = NULL, *name = NULL;
    struct apply_opts o = {0};
    int gpu = -1, exact = -1, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "g:l:n:d:xkpDjh", opts, NULL)) != -1) {
        switch (c) {
        case 'g':
            if (parse_gpu(optarg, &gpu) < 0)
                return gpx_cli_usage_error(&gpx_cmd_mig, "bad --gpu '%s'", optarg);
            break;
        case 'l':
            layout_path = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'd':
            o.demand = optarg;
            break;
        case 'x':
            exact = 1;
            break;
        case 'k':
            exact = 0;
            break;
        case 'p':
            o.partial = 1;
            break;
        case 'D':
            o.dry_run = 1;
            break;
        case 'j':
            o.json = 1;
            break;
        case 'h':
            return gpx_cli_print_usage(&gpx_cmd_mig);
        default:
            return gpx_cli_usage_error(&gpx_cmd_mig, "bad option '%s' for 'mig apply'",
                                       argv[optind - 1]);
        }
    }
    if (optind < argc)
        return gpx_cli_usage_error(&gpx_cmd_mig, "unexpected argument '%s'", argv[optind]);
    if (!!layout_path == !!o.demand)
        return gpx_cli_usage_error(&gpx_cmd_mig,
                                   "'mig apply' needs either --layout FILE --name NAME or "
                                   "--demand SPEC");
    if (layout_path && !name)
        return gpx_cli_usage_error(&gpx_cmd_mig, "--layout needs --name (the layout to apply)");
    /* a layout file is the whole geometry; a demand keeps what does not stand in its way */
    o.exact = exact >= 0 ? exact : layout_path != NULL;

    gpx_error err = {0};
    struct gpx_mig_layout_file lf = {0};
    if (layout_path) {
        if (gpx_mig_layout_load(layout_path, &lf, &err) < 0)
            return gpx_cli_fail(&err);
        o.layout = gpx_mig_layout_find(&lf, name);
        if (!o.layout) {
            char names[256] = "";
            size_t used = 0;
            for (unsigned i = 0; i < lf.count && used < sizeof names; i++)
                used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                                         lf.layouts[i].name);
            gpx_error_set(&err, GPX_E_NOT_FOUND, "no layout '%s' in '%s' (it has: %s)", name,
                          layout_path, lf.count ? names : "none");
            gpx_mig_layout_file_free(&lf);
            return gpx_cli_fail(&err);
        }
    }
    struct gpx_nvml nv;
    struct gpx_nvml_mig m;
    unsigned count;
    if (open_all(&nv, &m, &count, &err) < 0) {
        gpx_mig_layout_file_free(&lf);
        return gpx_cli_fail(&err);
    }
    int rc = 0;
    if (gpu >= 0 && (unsigned)gpu >= count)
        rc = gpx_error_set(&err, GPX_E_NOT_FOUND, "no GPU %d (this node has %u)", gpu, count);
    json_t *arr = json_array();
    for (unsigned i = 0; rc == 0 && i < count; i++)
        if (gpu < 0 || (unsigned)gpu == i)
            rc = apply_gpu(&nv, &m, i, &o, arr, &err);
    gpx_nvml_close(&nv);
    gpx_mig_layout_file_free(&lf);
    if (o.json)
        print_json(arr);
    json_decref(arr);
    return rc < 0 ? gpx_cli_fail(&err) : 0;
}

static int run(int argc, char **argv)
{
    if (argc < 2)
        return gpx_cli_usage_error(&gpx_cmd_mig, "missing subcommand (ls, plan, apply)");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return gpx_cli_print_usage(&gpx_cmd_mig);
    if (strcmp(argv[1], "ls") == 0)
        return mig_ls(argc - 1, argv + 1);
    if (strcmp(argv[1], "plan") == 0)
        return mig_plan(argc - 1, argv + 1);
    if (strcmp(argv[1], "apply") == 0)
        return mig_apply(argc - 1, argv + 1);
    return gpx_cli_usage_error(&gpx_cmd_mig, "unknown subcommand '%s' (ls, plan, apply)", argv[1]);
}

const struct gpx_cmd gpx_cmd_mig = {
    "mig",
    run,
    "MIG partitions: list, plan from demand, apply",
    "usage: gpuplex mig ls [--gpu N] [--json]\n"
    "       gpuplex mig plan --model MODEL --demand SPEC [--current FILE [--gpu N]]\n"
    "                        [--exact] [--json]\n"
    "       gpuplex mig apply [--gpu N] (--layout FILE --name NAME | --demand SPEC)\n"
    "                         [--exact | --keep-extra] [--partial] [--dry-run] [--json]\n"
    "\n"
    "ls      each GPU's MIG mode (and a pending change), its GPU instances (id,\n"
    "        profile, placement start:size, compute instances, MIG device UUIDs,\n"
    "        processes) and its profiles (id, compute/memory slices, memory, SMs,\n"
    "        free/max count, placements), as NVML reports them.\n"
    "plan    offline: the layout for a demand on MODEL (A100-40GB, A100-80GB,\n"
    "        H100-80GB, H200-141GB) that fits the most demanded instances, then the\n"
    "        most compute slices, destroys no leased instance and as few others as\n"
    "        possible; what does not fit is listed as unmet.\n"
    "apply   plans against each GPU's real instances and carries the plan out:\n"
    "        enables MIG mode if needed (refused while processes run), destroys what\n"
    "        the plan says, creates GPU instances at their placements, each with its\n"
    "        default compute instance. Instances with processes count as leased.\n"
    "\n"
    "  --demand SPEC   PROFILE=N,... e.g. 3g.40gb=1,1g.10gb=4 (profile names of the\n"
    "                  GPU's model; a wrong name lists the valid ones)\n"
    "  --current FILE  JSON: [{\"profile\": \"3g.40gb\", \"start\": 4, \"leased\": true}, ...],\n"
    "                  or 'gpuplex mig ls --json' output (GPU --gpu, default 0)\n"
    "  --layout FILE   named layouts (mig-parted's YAML format, or JSON; docs/mig.md)\n"
    "  --name NAME     the layout to apply; its first rule matching each GPU applies\n"
    "  --exact         also destroy unleased instances beyond the demand (default\n"
    "                  with --layout); --keep-extra keeps them (default with --demand)\n"
    "  --partial       apply even when not all of the demand fits\n"
    "  --dry-run       show the actions without changing anything\n"
    "  --json          plan: {model, demand, instances: [{profile, start, size, action,\n"
    "                  leased}], destroy, unmet: {profile: count}, demanded, satisfied};\n"
    "                  ls: one object per GPU; apply: one per GPU with actions and plan\n"
    "\n"
    "Exit status: 7 when the demand does not fit (apply without --partial), 6 when\n"
    "processes or busy instances stand in the way, 2 for bad arguments.\n",
};
