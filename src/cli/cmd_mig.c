/*
 * gpuplex mig: MIG partitions. `ls` shows each GPU's MIG mode, instances and
 * profiles; `plan` works offline from a model, the current instances and a
 * demand; `apply` plans against a GPU's real state and carries the plan out.
 *
 * `ls` and `apply` go through the one client interface: gpuplexd, or the
 * lease engine in-process (the same rule as every command). Either way the
 * engine knows which instances are leased and serializes changes with lease
 * creation, and the answer is the views' JSON (engine/views.c over
 * src/nvml/mig_json.c), so text and --json look alike on both paths.
 *
 * JSON keys are documented in docs/mig.md and in the usage text below.
 */
#include "cli/cli.h"
#include "core/mig_layout.h"
#include "core/mig_plan.h"
#include "engine/views.h"
#include "gpuplex/client.h"
#include "nvml/mig.h"
#include "nvml/mig_json.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_json(json_t *j)
{
    gpx_view_print(j);
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

static long long ji(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static const char *js(json_t *o, const char *k, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : dflt;
}

/* A POST body of /v1/gpus/{id}/mig as the engine's request. */
static void mig_req_of(json_t *body, struct gpx_mig_req *r)
{
    memset(r, 0, sizeof *r);
    json_t *en = json_object_get(body, "enabled");
    r->enabled = en ? json_is_true(en) : -1;
    json_t *m = json_object_get(body, "layout");
    r->exact = m != NULL;
    if (!m)
        m = json_object_get(body, "demand");
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v)
    {
        if (r->n == GPX_MIG_MAX_COUNTS)
            break;
        snprintf(r->counts[r->n].profile, sizeof r->counts[r->n].profile, "%s", k);
        r->counts[r->n++].count = (unsigned)json_integer_value(v);
        r->has_counts = 1;
    }
    r->partial = json_is_true(json_object_get(body, "partial"));
    r->dry_run = json_is_true(json_object_get(body, "dry_run"));
}

/* One call through the client interface (gpuplexd or in-process); 0, or -1 with err. */
static int dcall(const char *server, const char *method, const char *path, json_t *body,
                 json_t **out, gpx_error *err)
{
    struct gpx_conn *c = NULL;
    struct gpx_conn_opts o = {.server = server};
    if (gpx_conn_open(&o, &c, err) < 0)
        return -1;
    char gpu[64] = "";
    int rc;
    if (sscanf(path, "/v1/gpus/%63[^/]/mig", gpu) == 1) {
        if (strcmp(method, "POST") == 0) {
            struct gpx_mig_req r;
            mig_req_of(body, &r);
            rc = gpx_mig_set(c, gpu, &r, out, err);
        } else {
            rc = gpx_mig_get(c, gpu, out, err);
        }
    } else {
        struct gpx_node n;
        rc = gpx_gpus_list(c, &n, err);
        if (rc == 0) {
            *out = gpx_view_gpus(&n);
            gpx_node_free(&n);
        }
    }
    gpx_conn_close(c);
    return rc;
}

/* The GPU indexes of the node. */
static int daemon_gpus(const char *server, unsigned *count, gpx_error *err)
{
    json_t *arr = NULL;
    if (dcall(server, "GET", "/v1/gpus", NULL, &arr, err) < 0)
        return -1;
    *count = json_is_array(arr) ? (unsigned)json_array_size(arr) : 0;
    json_decref(arr);
    return 0;
}

/* --- ls ------------------------------------------------------------------------------- */

/* One GPU of `mig ls` as a table, from its JSON (gpx_mig_state_json, or the daemon's). */
static void print_gpu(json_t *g)
{
    unsigned index = (unsigned)ji(g, "index");
    if (!json_is_true(json_object_get(g, "mig_supported"))) {
        printf("GPU %u  %s  MIG not supported\n", index, js(g, "name", "?"));
        return;
    }
    const char *mode = js(g, "mig_mode", "disabled"), *pend = js(g, "mig_mode_pending", mode);
    int on = strcmp(mode, "enabled") == 0;
    printf("GPU %u  %s  model %s  MIG %s", index, js(g, "name", "?"), js(g, "model", "unknown"),
           mode);
    if (strcmp(pend, mode) != 0)
        printf(" (%s pending)", pend);
    printf("\n");
    json_t *insts = json_object_get(g, "instances");
    int daemon =
        json_array_size(insts) > 0 && json_object_get(json_array_get(insts, 0), "leased") != NULL;
    size_t i;
    json_t *gi;
    if (on && json_array_size(insts) == 0)
        printf("  no GPU instances\n");
    else if (on) {
        printf("  %-3s %-12s %-9s %-3s %-42s %-5s%s\n", "GI", "PROFILE", "PLACEMENT", "CI",
               "MIG DEVICE", "PROCS", daemon ? " LEASE" : "");
        json_array_foreach(insts, i, gi)
        {
            char pl[16], lease[64] = "";
            snprintf(pl, sizeof pl, "%lld:%lld", ji(gi, "start"), ji(gi, "size"));
            if (daemon)
                snprintf(lease, sizeof lease, " %s",
                         js(gi, "lease",
                            json_is_true(json_object_get(gi, "leased")) ? "(leased)" : "-"));
            json_t *cis = json_object_get(gi, "compute_instances");
            if (json_array_size(cis) == 0)
                printf("  %-3lld %-12s %-9s %-3s %-42s %-5lld%s\n", ji(gi, "gpu_instance_id"),
                       js(gi, "profile", "?"), pl, "-", "-", ji(gi, "processes"), lease);
            size_t k;
            json_t *ci;
            json_array_foreach(cis, k, ci)
            {
                printf("  %-3lld %-12s %-9s %-3lld %-42s %-5lld%s\n", ji(gi, "gpu_instance_id"),
                       js(gi, "profile", "?"), pl, ji(ci, "compute_instance_id"),
                       js(ci, "uuid", "-"), ji(gi, "processes"), lease);
            }
        }
    }
    json_t *profs = json_object_get(g, "profiles");
    int avail = json_array_size(profs) > 0 &&
                json_object_get(json_array_get(profs, 0), "available") != NULL;
    printf("  %-12s %3s %5s %9s %4s %4s %s%s\n", "PROFILE", "ID", "SLICES", "MEMORY", "SMS", "FREE",
           avail ? "AVAIL " : "", "PLACEMENTS");
    json_t *p;
    json_array_foreach(profs, i, p)
    {
        char pls[64] = "", mem[24], slices[16], fr[16], av[16] = "";
        size_t used = 0, k;
        json_t *pl;
        json_array_foreach(json_object_get(p, "placements"), k, pl)
        {
            if (used < sizeof pls)
                used += (size_t)snprintf(pls + used, sizeof pls - used, "%s%lld", k ? "," : "",
                                         ji(pl, "start"));
        }
        snprintf(mem, sizeof mem, "%lld MiB", ji(p, "memory_mib"));
        snprintf(slices, sizeof slices, "%lld/%lld", ji(p, "compute_slices"),
                 ji(p, "memory_slices"));
        if (on)
            snprintf(fr, sizeof fr, "%lld/%lld", ji(p, "free"), ji(p, "max_count"));
        else
            snprintf(fr, sizeof fr, "-/%lld", ji(p, "max_count"));
        if (avail && json_is_integer(json_object_get(p, "available")))
            snprintf(av, sizeof av, "%5lld ", ji(p, "available"));
        else if (avail)
            snprintf(av, sizeof av, "%5s ", "-");
        printf("  %-12s %3lld %5s %9s %4lld %4s %s{%s}:%lld\n", js(p, "name", "?"), ji(p, "id"),
               slices, mem, ji(p, "sm_count"), fr, av, pls, ji(p, "memory_slices"));
    }
}

/* GET /v1/gpus/{i}/mig for each GPU (or the one asked for). */
static int ls_daemon(const char *server, int gpu, json_t *arr, gpx_error *err)
{
    unsigned count = 0;
    if (daemon_gpus(server, &count, err) < 0)
        return -1;
    if (gpu >= 0 && (unsigned)gpu >= count)
        return gpx_error_set(err, GPX_E_NOT_FOUND, "no GPU %d (this node has %u)", gpu, count);
    for (unsigned i = gpu >= 0 ? (unsigned)gpu : 0; gpu >= 0 ? i == (unsigned)gpu : i < count;
         i++) {
        char path[64];
        snprintf(path, sizeof path, "/v1/gpus/%u/mig", i);
        json_t *g = NULL;
        if (dcall(server, "GET", path, NULL, &g, err) < 0)
            return -1;
        json_array_append_new(arr, g);
    }
    return 0;
}

static int mig_ls(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"gpu", required_argument, NULL, 'g'},
                                         {"server", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int json = 0, gpu = -1, c;
    const char *server = NULL;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "jg:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = 1;
            break;
        case 'g':
            if (parse_gpu(optarg, &gpu) < 0)
                return gpx_cli_usage_error(&gpx_cmd_mig, "bad --gpu '%s'", optarg);
            break;
        case 's':
            server = optarg;
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
    json_t *arr = json_array();
    int rc = ls_daemon(server, gpu, arr, &err);
    if (rc == 0 && json) {
        print_json(arr);
    } else if (rc == 0) {
        size_t i;
        json_t *g;
        json_array_foreach(arr, i, g)
        {
            print_gpu(g);
        }
    }
    json_decref(arr);
    return rc < 0 ? gpx_cli_fail(&err) : 0;
}

/* --- plan ----------------------------------------------------------------------------- */

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
    char unmet[256];
    gpx_mig_unmet_format(t, pl, unmet, sizeof unmet);
    printf("unmet: %s\n", unmet);
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
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"current", required_argument, NULL, 'c'},
                                         {"demand", required_argument, NULL, 'd'},
                                         {"gpu", required_argument, NULL, 'g'},
                                         {"exact", no_argument, NULL, 'x'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"allow-partial", no_argument, NULL, 'P'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *model = NULL, *current = NULL, *demand_s = NULL;
    int json = 0, exact = 0, partial = 0, gpu = -1, c;
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
        case 'P':
            partial = 1;
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
        json_t *j = gpx_mig_plan_json(t, cur, demand, &pl);
        print_json(j);
        json_decref(j);
    } else {
        print_plan(t, cur, &pl);
    }
    /* as mig-parted and `mig apply`: a plan that leaves demand unmet is a failure, unless asked */
    if (pl.satisfied < pl.demanded && !partial) {
        fflush(stdout); /* the plan first, then the error */
        gpx_error_set(&err, GPX_E_NO_SPACE,
                      "demand does not fit: %u of %u instances unmet (--allow-partial accepts a "
                      "partial plan)",
                      pl.demanded - pl.satisfied, pl.demanded);
        return gpx_cli_fail(&err);
    }
    return 0;
}

/* --- export, assert ------------------------------------------------------------------- */

/* Instances of one GPU (its `mig ls` JSON) as {profile: count}, in the order they appear. */
static json_t *gpu_counts(json_t *g)
{
    json_t *o = json_object(), *gi;
    size_t i;
    json_array_foreach(json_object_get(g, "instances"), i, gi)
    {
        const char *p = js(gi, "profile", "?");
        json_t *had = json_object_get(o, p);
        json_object_set_new(o, p, json_integer(1 + (had ? json_integer_value(had) : 0)));
    }
    return o;
}

/*
 * The node's layout as mig-parted's YAML: one rule per GPU that supports MIG
 * (by index, so that it reads back onto the same GPUs), under config `name`.
 * `mig apply -f` and `mig assert -f` read it.
 */
static void print_export(json_t *arr, const char *name)
{
    printf("version: v1\nmig-configs:\n  %s:\n", name);
    size_t i;
    json_t *g;
    int any = 0;
    json_array_foreach(arr, i, g)
    {
        if (!json_is_true(json_object_get(g, "mig_supported")))
            continue; /* nothing to say about a GPU without MIG */
        int on = strcmp(js(g, "mig_mode", "disabled"), "enabled") == 0;
        printf("    - devices: [%lld]\n      mig-enabled: %s\n", ji(g, "index"),
               on ? "true" : "false");
        json_t *counts = gpu_counts(g);
        if (on) {
            printf("      mig-devices: {");
            const char *k;
            json_t *v;
            int first = 1;
            json_object_foreach(counts, k, v)
            {
                printf("%s\"%s\": %lld", first ? "" : ", ", k, json_integer_value(v));
                first = 0;
            }
            printf("}\n");
        }
        json_decref(counts);
        any = 1;
    }
    if (!any)
        printf("    []\n");
}

/* Options of export and assert: -f FILE -c NAME (mig-parted's), --gpu, --server. */
struct ea_opts {
    const char *file, *name, *server;
    int gpu;
};

/* -1 when parsed (go on), else the exit status (--help, a usage error). */
static int ea_parse(const char *sub, int argc, char **argv, struct ea_opts *o)
{
    static const struct option opts[] = {{"config-file", required_argument, NULL, 'f'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"gpu", required_argument, NULL, 'g'},
                                         {"server", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "f:c:g:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            o->file = optarg;
            break;
        case 'c':
            o->name = optarg;
            break;
        case 'g':
            if (parse_gpu(optarg, &o->gpu) < 0)
                return gpx_cli_usage_error(&gpx_cmd_mig, "bad --gpu '%s'", optarg);
            break;
        case 's':
            o->server = optarg;
            break;
        case 'h':
            return gpx_cli_print_usage(&gpx_cmd_mig);
        default:
            return gpx_cli_usage_error(&gpx_cmd_mig, "bad option '%s' for 'mig %s'",
                                       argv[optind - 1], sub);
        }
    }
    if (optind < argc)
        return gpx_cli_usage_error(&gpx_cmd_mig, "unexpected argument '%s'", argv[optind]);
    return -1;
}

static int mig_export(int argc, char **argv)
{
    struct ea_opts o = {.name = "current", .gpu = -1};
    int rc = ea_parse("export", argc, argv, &o);
    if (rc >= 0)
        return rc;
    if (o.file)
        return gpx_cli_usage_error(&gpx_cmd_mig, "'mig export' writes to stdout; it takes no -f");
    gpx_error err = {0};
    json_t *arr = json_array();
    rc = ls_daemon(o.server, o.gpu, arr, &err);
    if (rc == 0)
        print_export(arr, o.name);
    json_decref(arr);
    return rc < 0 ? gpx_cli_fail(&err) : 0;
}

/* Prints how GPU g differs from rule r ("GPU 0: 1g.10gb: 2, want 4"); the number of differences. */
static unsigned assert_gpu(json_t *g, const struct gpx_mig_layout_rule *r)
{
    unsigned index = (unsigned)ji(g, "index"), diffs = 0;
    const char *mode = js(g, "mig_mode", "disabled"), *pend = js(g, "mig_mode_pending", mode);
    int pending = strcmp(pend, mode) != 0;
    int on = strcmp(mode, "enabled") == 0 && !pending;
    if (on != r->mig_enabled) {
        printf("GPU %u: MIG mode %s%s%s, want %s\n", index, mode, pending ? ", pending " : "",
               pending ? pend : "", r->mig_enabled ? "enabled" : "disabled");
        diffs++;
    }
    if (!r->mig_enabled)
        return diffs;
    json_t *have = gpu_counts(g), *want = json_object();
    for (unsigned k = 0; k < r->ndevices; k++) {
        json_t *had = json_object_get(want, r->mig_devices[k].profile);
        json_object_set_new(want, r->mig_devices[k].profile,
                            json_integer((json_int_t)r->mig_devices[k].count +
                                         (had ? json_integer_value(had) : 0)));
    }
    const char *k;
    json_t *v;
    json_object_foreach(want, k, v)
    {
        long long h = json_integer_value(json_object_get(have, k)), w = json_integer_value(v);
        if (h != w) {
            printf("GPU %u: %s: %lld, want %lld\n", index, k, h, w);
            diffs++;
        }
    }
    json_object_foreach(have, k, v)
    {
        if (!json_object_get(want, k)) {
            printf("GPU %u: %s: %lld, want 0\n", index, k, json_integer_value(v));
            diffs++;
        }
    }
    json_decref(have);
    json_decref(want);
    return diffs;
}

static int mig_assert(int argc, char **argv)
{
    struct ea_opts o = {.gpu = -1};
    int rc = ea_parse("assert", argc, argv, &o);
    if (rc >= 0)
        return rc;
    if (!o.file || !o.name)
        return gpx_cli_usage_error(&gpx_cmd_mig, "'mig assert' needs -f FILE -c NAME");
    gpx_error err = {0};
    struct gpx_mig_layout_file lf = {0};
    if (gpx_mig_layout_load(o.file, &lf, &err) < 0)
        return gpx_cli_fail(&err);
    const struct gpx_mig_layout *l = gpx_mig_layout_find(&lf, o.name);
    if (!l) {
        gpx_error_set(&err, GPX_E_NOT_FOUND, "no layout '%s' in '%s'", o.name, o.file);
        gpx_mig_layout_file_free(&lf);
        return gpx_cli_fail(&err);
    }
    json_t *arr = json_array();
    rc = ls_daemon(o.server, o.gpu, arr, &err);
    unsigned diffs = 0;
    size_t i;
    json_t *g;
    json_array_foreach(arr, i, g)
    {
        if (rc < 0)
            break;
        const char *model = js(g, "model", NULL);
        int mi = model ? gpx_mig_model_find(model) : -1;
        uint32_t pci = (uint32_t)strtoul(js(g, "pci_device_id", "0"), NULL, 16);
        const struct gpx_mig_layout_rule *r =
            gpx_mig_layout_rule_for(l, (unsigned)ji(g, "index"), pci, mi);
        if (r)
            diffs += assert_gpu(g, r);
        else /* as apply: a GPU no rule names is left as it is, so there is nothing to match */
            printf("GPU %lld: no rule of layout '%s' applies to it (%s); not checked\n",
                   ji(g, "index"), o.name, js(g, "name", "?"));
    }
    json_decref(arr);
    gpx_mig_layout_file_free(&lf);
    if (rc < 0)
        return gpx_cli_fail(&err);
    if (diffs) {
        fflush(stdout);
        fprintf(stderr, "gpuplex: the GPUs do not match layout '%s' of '%s' (%u difference%s)\n",
                o.name, o.file, diffs, diffs == 1 ? "" : "s");
        return 1;
    }
    printf("the GPUs match layout '%s'\n", o.name);
    return 0;
}

/* --- apply ---------------------------------------------------------------------------- */

/*
 * One GPU's apply result (gpx_mig_demand_json, or the daemon's answer) as
 * lines: "would ..." in a dry run, past tense when done, "failed to ..." if
 * not; then what stayed unmet.
 */
static void print_actions(json_t *r)
{
    unsigned index = (unsigned)ji(r, "index");
    int dry = json_is_true(json_object_get(r, "dry_run"));
    json_t *acts = json_object_get(r, "actions");
    size_t i;
    json_t *a;
    json_array_foreach(acts, i, a)
    {
        const char *kind = js(a, "action", "?"), *pn = js(a, "profile", "");
        int done = json_is_true(json_object_get(a, "done"));
        const char *pre = dry ? "would " : done ? "" : "failed to ";
        long long start = ji(a, "start"), size = ji(a, "size");
        if (!strcmp(kind, "enable") || !strcmp(kind, "disable")) {
            printf("GPU %u: %s%s%s MIG mode\n", index, pre, kind, done ? "d" : "");
        } else if (!strcmp(kind, "destroy")) {
            printf("GPU %u: %s%s %s at %lld:%lld (GPU instance %lld)\n", index, pre,
                   done ? "destroyed" : "destroy", pn, start, size, ji(a, "gpu_instance_id"));
        } else if (done) {
            const char *uuid = js(a, "uuid", "");
            printf("GPU %u: %s %s at %lld:%lld -> GPU instance %lld, compute instance %lld%s%s\n",
                   index, !strcmp(kind, "create") ? "created" : "completed", pn, start, size,
                   ji(a, "gpu_instance_id"), ji(a, "compute_instance_id"), uuid[0] ? ", " : "",
                   uuid);
        } else {
            printf("GPU %u: %s%s %s at %lld:%lld\n", index, pre,
                   !strcmp(kind, "create") ? "create" : "add a compute instance to", pn, start,
                   size);
        }
    }
    if (json_array_size(acts) == 0)
        printf("GPU %u: nothing to do\n", index);
    json_t *unmet = json_object_get(json_object_get(r, "plan"), "unmet");
    if (json_object_size(unmet)) {
        printf("GPU %u: unmet: ", index);
        const char *k;
        json_t *v;
        int first = 1;
        json_object_foreach(unmet, k, v)
        {
            printf("%s%s=%lld", first ? "" : ",", k, json_integer_value(v));
            first = 0;
        }
        printf("\n");
    }
    fflush(stdout); /* before an error, if any, on stderr */
}

struct apply_opts {
    const struct gpx_mig_layout *layout; /* or */
    const char *demand;
    int exact, partial, dry_run, json;
};

/* {index, model} of a GPU nothing was planned for; `skipped` when no layout rule applies. */
static json_t *gpu_ref_json(unsigned index, const char *model, int skipped)
{
    json_t *j = json_object();
    json_object_set_new(j, "index", json_integer(index));
    json_object_set_new(j, "model", model ? json_string(model) : json_null());
    if (skipped)
        json_object_set_new(j, "skipped", json_true());
    return j;
}

/*
 * "3g.40gb=1,1g.10gb=4" as {"3g.40gb": 1, "1g.10gb": 4} for the daemon, which
 * checks the names against each GPU's model ("NAME" alone is 1; repeated
 * names add up).
 */
static int spec_json(const char *spec, json_t **out, gpx_error *err)
{
    json_t *o = json_object();
    const char *s = spec;
    while (*s) {
        while (*s == ' ' || *s == ',')
            s++;
        if (!*s)
            break;
        const char *name = s;
        while (*s && *s != '=' && *s != ',')
            s++;
        char buf[GPX_MIG_NAME_MAX + 8];
        size_t n = (size_t)(s - name);
        while (n && name[n - 1] == ' ')
            n--;
        if (n == 0 || n >= sizeof buf) {
            json_decref(o);
            return gpx_error_set(err, GPX_E_INVALID, "bad MIG profile name in '%s'", spec);
        }
        memcpy(buf, name, n);
        buf[n] = '\0';
        long long count = 1;
        if (*s == '=') {
            char *end;
            errno = 0;
            count = strtoll(s + 1, &end, 10);
            if (errno || end == s + 1 || count < 0 || count > 64 || (*end && *end != ',')) {
                json_decref(o);
                return gpx_error_set(err, GPX_E_INVALID, "count for %s in '%s' must be 0..64", buf,
                                     spec);
            }
            s = end;
        }
        json_t *had = json_object_get(o, buf);
        json_object_set_new(o, buf, json_integer(count + (had ? json_integer_value(had) : 0)));
    }
    if (json_object_size(o) == 0) {
        json_decref(o);
        return gpx_error_set(err, GPX_E_INVALID, "empty MIG demand (example: 3g.40gb=1,1g.10gb=4)");
    }
    *out = o;
    return 0;
}

/* The same through gpuplexd: POST /v1/gpus/{i}/mig for each GPU. */
static int apply_daemon(const char *server, int gpu, const struct apply_opts *o, json_t *out,
                        gpx_error *err)
{
    json_t *spec = NULL;
    if (o->demand && spec_json(o->demand, &spec, err) < 0)
        return -1;
    unsigned count = 0;
    int rc = daemon_gpus(server, &count, err);
    if (rc == 0 && gpu >= 0 && (unsigned)gpu >= count)
        rc = gpx_error_set(err, GPX_E_NOT_FOUND, "no GPU %d (this node has %u)", gpu, count);
    for (unsigned i = gpu >= 0 ? (unsigned)gpu : 0;
         rc == 0 && (gpu >= 0 ? i == (unsigned)gpu : i < count); i++) {
        char path[64];
        snprintf(path, sizeof path, "/v1/gpus/%u/mig", i);
        json_t *devices = NULL;
        int enabled = 1;
        if (o->layout) {
            json_t *g = NULL;
            if ((rc = dcall(server, "GET", path, NULL, &g, err)) < 0)
                break;
            const char *model = js(g, "model", NULL);
            int mi = model ? gpx_mig_model_find(model) : -1;
            uint32_t pci = (uint32_t)strtoul(js(g, "pci_device_id", "0"), NULL, 16);
            const struct gpx_mig_layout_rule *r = gpx_mig_layout_rule_for(o->layout, i, pci, mi);
            if (!r) {
                if (!o->json)
                    printf("GPU %u: no rule of layout '%s' applies to it (%s); left as it is\n", i,
                           o->layout->name, js(g, "name", "?"));
                json_array_append_new(out, gpu_ref_json(i, model, 1));
                json_decref(g);
                continue;
            }
            json_decref(g);
            enabled = r->mig_enabled;
            devices = json_object();
            for (unsigned k = 0; k < r->ndevices; k++) {
                json_t *had = json_object_get(devices, r->mig_devices[k].profile);
                json_object_set_new(devices, r->mig_devices[k].profile,
                                    json_integer((json_int_t)r->mig_devices[k].count +
                                                 (had ? json_integer_value(had) : 0)));
            }
        } else {
            devices = json_incref(spec);
        }
        json_t *body = json_object();
        json_object_set_new(body, "enabled", json_boolean(enabled));
        if (enabled)
            json_object_set(body, o->exact ? "layout" : "demand", devices);
        if (o->partial)
            json_object_set_new(body, "partial", json_true());
        if (o->dry_run)
            json_object_set_new(body, "dry_run", json_true());
        json_decref(devices);
        json_t *r = NULL;
        rc = dcall(server, "POST", path, body, &r, err);
        json_decref(body);
        if (rc == 0) {
            if (!o->json)
                print_actions(r);
            json_array_append_new(out, r);
        }
    }
    json_decref(spec);
    return rc;
}

static int mig_apply(int argc, char **argv)
{
    static const struct option opts[] = {
        {"gpu", required_argument, NULL, 'g'},  {"layout", required_argument, NULL, 'l'},
        {"name", required_argument, NULL, 'n'}, {"demand", required_argument, NULL, 'd'},
        {"exact", no_argument, NULL, 'x'},      {"keep-extra", no_argument, NULL, 'k'},
        {"partial", no_argument, NULL, 'p'},    {"dry-run", no_argument, NULL, 'D'},
        {"json", no_argument, NULL, 'j'},       {"server", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    /* -f FILE -c NAME: mig-parted's spelling of --layout FILE --name NAME */
    const char *layout_path = NULL, *name = NULL, *server = NULL;
    struct apply_opts o = {0};
    int gpu = -1, exact = -1, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "g:l:f:n:c:d:xkpDjs:h", opts, NULL)) != -1) {
        switch (c) {
        case 'g':
            if (parse_gpu(optarg, &gpu) < 0)
                return gpx_cli_usage_error(&gpx_cmd_mig, "bad --gpu '%s'", optarg);
            break;
        case 'l':
        case 'f':
            layout_path = optarg;
            break;
        case 'n':
        case 'c':
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
        case 's':
            server = optarg;
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
    json_t *arr = json_array();
    int rc = 0;
    rc = apply_daemon(server, gpu, &o, arr, &err);
    gpx_mig_layout_file_free(&lf);
    if (o.json)
        print_json(arr);
    json_decref(arr);
    return rc < 0 ? gpx_cli_fail(&err) : 0;
}

static int run(int argc, char **argv)
{
    if (argc < 2)
        return gpx_cli_usage_error(&gpx_cmd_mig,
                                   "missing subcommand (ls, plan, apply, export, assert)");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return gpx_cli_print_usage(&gpx_cmd_mig);
    if (strcmp(argv[1], "ls") == 0)
        return mig_ls(argc - 1, argv + 1);
    if (strcmp(argv[1], "plan") == 0)
        return mig_plan(argc - 1, argv + 1);
    if (strcmp(argv[1], "apply") == 0)
        return mig_apply(argc - 1, argv + 1);
    if (strcmp(argv[1], "export") == 0)
        return mig_export(argc - 1, argv + 1);
    if (strcmp(argv[1], "assert") == 0)
        return mig_assert(argc - 1, argv + 1);
    return gpx_cli_usage_error(
        &gpx_cmd_mig, "unknown subcommand '%s' (ls, plan, apply, export, assert)", argv[1]);
}

const struct gpx_cmd gpx_cmd_mig = {
    "mig",
    run,
    "MIG partitions: list, plan from demand, apply, export, assert",
    "usage: gpuplex mig ls [--gpu N] [--json] [--server S]\n"
    "       gpuplex mig plan --model MODEL --demand SPEC [--current FILE [--gpu N]]\n"
    "                        [--exact] [--allow-partial] [--json]\n"
    "       gpuplex mig apply [--gpu N] (-f|--layout FILE -c|--name NAME | --demand SPEC)\n"
    "                         [--exact | --keep-extra] [--partial] [--dry-run] [--json]\n"
    "                         [--server S]\n"
    "       gpuplex mig export [-c|--config NAME] [--gpu N] [--server S]\n"
    "       gpuplex mig assert -f|--config-file FILE -c|--config NAME [--gpu N]\n"
    "                          [--server S]\n"
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
    "export  the GPUs' current layout as a mig-parted config file (YAML) on stdout:\n"
    "        one rule per MIG-capable GPU, under config NAME (-c, default 'current');\n"
    "        apply -f and assert -f read it back.\n"
    "assert  exit 0 only when each GPU matches config NAME of FILE (MIG mode and\n"
    "        instance count per profile); otherwise each difference, exit 1.\n"
    "\n"
    "ls and apply go through the lease engine, gpuplexd's or in-process (the rule of\n"
    "'gpuplex status'): it counts the instances that mig leases hold as leased and\n"
    "serializes changes with lease creation; ls shows each instance's lease and each\n"
    "profile's AVAIL (more leases that would fit).\n"
    "\n"
    "  --server S      gpuplexd's unix socket or http://HOST:PORT (admin for apply)\n"
    "  --demand SPEC   PROFILE=N,... e.g. 3g.40gb=1,1g.10gb=4 (profile names of the\n"
    "                  GPU's model; a wrong name lists the valid ones)\n"
    "  --current FILE  JSON: [{\"profile\": \"3g.40gb\", \"start\": 4, \"leased\": true}, ...],\n"
    "                  or 'gpuplex mig ls --json' output (GPU --gpu, default 0)\n"
    "  -f, --layout FILE  named layouts (mig-parted's YAML format, or JSON; docs/mig.md)\n"
    "  -c, --name NAME    the layout to apply or assert; its first rule matching each\n"
    "                  GPU applies (export: the config's name, default 'current')\n"
    "  --exact         also destroy unleased instances beyond the demand (default\n"
    "                  with --layout); --keep-extra keeps them (default with --demand)\n"
    "  --partial       apply even when not all of the demand fits\n"
    "  --allow-partial plan: exit 0 even when not all of the demand fits\n"
    "  --dry-run       show the actions without changing anything\n"
    "  --json          plan: {model, demand, instances: [{profile, start, size, action,\n"
    "                  leased}], destroy, unmet: {profile: count}, demanded, satisfied};\n"
    "                  ls: one object per GPU; apply: one per GPU with actions and plan\n"
    "\n"
    "Exit status: 7 when the demand does not fit (apply without --partial, plan\n"
    "without --allow-partial), 6 when processes or busy instances stand in the way,\n"
    "1 when assert finds the GPUs differ, 2 for bad arguments.\n",
};
