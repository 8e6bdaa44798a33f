/*
 * `gpuplex lease create|ls|rm` through gpuplexd. When a daemon is configured
 * (--server, GPUPLEX_SERVER, or the default socket answers) it is the
 * authority over leases: it places them, checks tenants' quotas, persists
 * them and meters them, so these commands ask it instead of writing regions
 * themselves (cmd_lease.c keeps that direct path for nodes without a daemon;
 * GPUPLEX_SERVER=none forces it).
 */
#include "cli/cli.h"
#include "core/size.h"
#include "gpuplex/client.h"
#include "shm/lease.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int call(const char *server, const char *method, const char *path, json_t *body,
                json_t **out)
{
    gpx_error err = {0};
    struct gpx_client *c = NULL;
    int rc = gpx_cli_client(server, &c, &err);
    if (rc == 0)
        rc = gpx_cli_call(c, method, path, body, out, &err);
    gpx_client_free(c);
    return rc < 0 ? gpx_cli_fail(&err) : 0;
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static long long num(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static int create(const char *server, json_t *body, int json)
{
    json_t *l = NULL;
    int rc = call(server, "POST", "/v1/leases", body, &l);
    if (rc)
        return rc;
    if (json) {
        gpx_cli_print_json(l);
        json_decref(l);
        return 0;
    }
    json_t *g = json_object_get(l, "gpu");
    printf("%s\n", str(l, "id"));
    fprintf(stderr, "lease %s: %s on GPU %lld (%s) for tenant %s", str(l, "id"), str(l, "mode"),
            num(g, "index"), str(g, "uuid"), str(l, "tenant"));
    if (json_is_integer(json_object_get(l, "memory_bytes"))) {
        char q[32];
        gpx_size_format((uint64_t)num(l, "memory_bytes"), q, sizeof q);
        fprintf(stderr, ", memory %s", q);
    }
    if (json_is_integer(json_object_get(l, "weight")))
        fprintf(stderr, ", weight %lld", num(l, "weight"));
    if (json_is_integer(json_object_get(l, "cap")))
        fprintf(stderr, ", cap %lld%%", num(l, "cap"));
    json_t *mig = json_object_get(l, "mig");
    if (json_is_object(mig))
        fprintf(stderr, ", MIG %s (GPU instance %lld, %s)", str(l, "mig_profile"),
                num(mig, "gpu_instance_id"), str(mig, "uuid"));
    fprintf(stderr, "\nrun a workload with: gpuplex run --lease %s -- CMD\nor set:\n",
            str(l, "id"));
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(l, "env"), k, v)
    {
        fprintf(stderr, "  %s=%s\n", k, json_string_value(v));
    }
    json_decref(l);
    return 0;
}

static int list(const char *server, int json)
{
    json_t *arr = NULL;
    int rc = call(server, "GET", "/v1/leases", NULL, &arr);
    if (rc)
        return rc;
    if (json) {
        gpx_cli_print_json(arr);
        json_decref(arr);
        return 0;
    }
    printf("%-16s %-9s %3s %10s %10s %10s %5s %s\n", "ID", "MODE", "GPU", "QUOTA", "USED", "PEAK",
           "PROCS", "TENANT");
    size_t i;
    json_t *l;
    json_array_foreach(arr, i, l)
    {
        json_t *u = json_object_get(l, "usage");
        char q[32] = "-", used[32], peak[32];
        if (json_is_integer(json_object_get(l, "memory_bytes")))
            gpx_size_format((uint64_t)num(l, "memory_bytes"), q, sizeof q);
        gpx_size_format((uint64_t)num(u, "memory_used_bytes"), used, sizeof used);
        gpx_size_format((uint64_t)num(u, "memory_peak_bytes"), peak, sizeof peak);
        printf("%-16s %-9s %3lld %10s %10s %10s %5lld %s\n", str(l, "id"), str(l, "mode"),
               num(json_object_get(l, "gpu"), "index"), q, used, peak, num(u, "processes"),
               str(l, "tenant"));
    }
    json_decref(arr);
    return 0;
}

static int remove_all(const char *server, int argc, char **argv, int first)
{
    int status = 0;
    for (int i = first; i < argc; i++) {
        if (!gpx_lease_id_valid(argv[i])) {
            gpx_error err = {0};
            gpx_error_set(&err, GPX_E_INVALID, "invalid lease id '%s'", argv[i]);
            status = gpx_cli_fail(&err);
            continue;
        }
        char path[128];
        snprintf(path, sizeof path, "/v1/leases/%s", argv[i]);
        int rc = call(server, "DELETE", path, NULL, NULL);
        if (rc)
            status = rc;
    }
    return status;
}

int gpx_cli_lease_daemon(int argc, char **argv, int *handled)
{
    *handled = 0;
    if (argc < 2)
        return 0;
    const char *sub = argv[1];
    int is_create = !strcmp(sub, "create"), is_ls = !strcmp(sub, "ls") || !strcmp(sub, "list"),
        is_rm = !strcmp(sub, "rm") || !strcmp(sub, "remove");
    if (!is_create && !is_ls && !is_rm)
        return 0;
    static const struct option opts[] = {{"gpu", required_argument, NULL, 'g'},
                                         {"memory", required_argument, NULL, 'm'},
                                         {"mode", required_argument, NULL, 'M'},
                                         {"weight", required_argument, NULL, 'w'},
                                         {"cap", required_argument, NULL, 'c'},
                                         {"label", required_argument, NULL, 'L'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"server", required_argument, NULL, 's'},
                                         {"mig-profile", required_argument, NULL, 'P'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *server = NULL, *gpu = NULL, *memory = NULL, *mode = NULL;
    const char *weight = NULL, *cap = NULL, *mig_profile = NULL;
    int json = 0, c, has_label = 0;
    json_t *labels = json_object();
    optind = 1;
    opterr = 0;
    /* a first pass only to see --server and --help; errors are cmd_lease.c's to report */
    while ((c = getopt_long(argc - 1, argv + 1, "g:m:M:w:c:L:js:P:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            server = optarg;
            break;
        case 'h':
        case '?':
            json_decref(labels);
            return 0;
        case 'g':
            gpu = optarg;
            break;
        case 'm':
            memory = optarg;
            break;
        case 'M':
            mode = optarg;
            break;
        case 'w':
            weight = optarg;
            break;
        case 'c':
            cap = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'P':
            mig_profile = optarg;
            break;
        case 'L': {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                json_decref(labels);
                *handled = 1;
                return gpx_cli_usage_error(&gpx_cmd_lease, "--label needs KEY=VALUE, not '%s'",
                                           optarg);
            }
            char key[128];
            snprintf(key, sizeof key, "%.*s", (int)(eq - optarg), optarg);
            json_object_set_new(labels, key, json_string(eq + 1));
            has_label = 1;
            break;
        }
        }
    }
    if (!gpx_client_daemon_configured(server)) {
        json_decref(labels);
        if (!has_label && !mig_profile)
            return 0;
        *handled = 1;
        return gpx_cli_usage_error(&gpx_cmd_lease, "%s needs gpuplexd (--server)",
                                   has_label ? "--label" : "--mig-profile (a mig lease)");
    }
    *handled = 1;
    int first = optind + 1; /* in argv */
    if (is_rm) {
        json_decref(labels);
        if (first >= argc)
            return gpx_cli_usage_error(&gpx_cmd_lease, "rm needs a lease ID");
        return remove_all(server, argc, argv, first);
    }
    if (first < argc) {
        json_decref(labels);
        return gpx_cli_usage_error(&gpx_cmd_lease, "unexpected argument '%s'", argv[first]);
    }
    if (is_ls) {
        json_decref(labels);
        return list(server, json);
    }
    /* create: the daemon validates every field; the CLI only shapes them */
    json_t *body = json_object();
    json_object_set_new(body, "mode",
                        json_string(mode          ? mode
                                    : mig_profile ? "mig"
                                    : memory      ? "vgpu"
                                                  : "exclusive"));
    if (mig_profile)
        json_object_set_new(body, "mig_profile", json_string(mig_profile));
    if (gpu) {
        char *end;
        long idx = strtol(gpu, &end, 10);
        json_object_set_new(body, "gpu",
                            *gpu && !*end && idx >= 0 ? json_integer(idx) : json_string(gpu));
    }
    if (memory)
        json_object_set_new(body, "memory", json_string(memory));
    if (weight) {
        char *end;
        long w = strtol(weight, &end, 10);
        json_object_set_new(body, "weight",
                            *weight && !*end ? json_integer(w) : json_string(weight));
    }
    if (cap) {
        char *end;
        long p = strtol(cap, &end, 10);
        json_object_set_new(body, "cap", *cap && !*end ? json_integer(p) : json_string(cap));
    }
    if (json_object_size(labels))
        json_object_set(body, "labels", labels);
    json_decref(labels);
    int rc = create(server, body, json);
    json_decref(body);
    return rc;
}
