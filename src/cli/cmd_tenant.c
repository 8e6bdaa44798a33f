/*
 * gpuplex tenant add|ls|rm|token: manage the lease engine's tenants (admin role),
 * through gpuplexd or in-process.
 * A token is printed once, when made; the daemon keeps only its SHA-256.
 */
#include "cli/cli.h"
#include "core/size.h"
#include "engine/views.h"
#include "gpuplex/client.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *server;
static int as_json;

static int common_opt(int c)
{
    if (c == 's') {
        server = optarg;
        return 1;
    }
    if (c == 'j') {
        as_json = 1;
        return 1;
    }
    return 0;
}

static int parse_num(const char *s, unsigned long long lo, unsigned long long hi,
                     unsigned long long *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Sends the request through the client interface; *out is the views' JSON of the answer. */
static int call(const char *method, const char *path, json_t *body, json_t **out)
{
    gpx_error err = {0};
    struct gpx_conn *cn = NULL;
    int rc = gpx_cli_connect(server, &cn);
    if (rc) {
        json_decref(body);
        return rc;
    }
    struct gpx_tenant t;
    char token[72] = "";
    const char *name = strrchr(path, '/') + 1;
    if (!strcmp(method, "POST") && !strcmp(path, "/v1/tenants")) {
        struct gpx_tenant_req r = {0};
        json_t *v;
        snprintf(r.name, sizeof r.name, "%s", json_string_value(json_object_get(body, "name")));
        r.admin = !strcmp(json_string_value(json_object_get(body, "role")) ?: "", "admin");
        if ((v = json_object_get(body, "uid"))) {
            r.has_uid = 1;
            r.uid = (uint32_t)json_integer_value(v);
        }
        r.max_gpus = (unsigned)json_integer_value(json_object_get(body, "max_gpus"));
        r.max_memory = (uint64_t)json_integer_value(json_object_get(body, "max_memory"));
        r.max_leases = (unsigned)json_integer_value(json_object_get(body, "max_leases"));
        if (!gpx_valid_name(r.name))
            rc = gpx_cli_usage_error(&gpx_cmd_tenant,
                                     "invalid tenant name '%s' (1-63 of a-z 0-9 . _ -, starting "
                                     "with a letter or digit)",
                                     r.name);
        else if (gpx_tenant_add(cn, &r, &t, token, &err) == 0)
            *out = gpx_view_tenant(&t, token);
        else
            rc = gpx_cli_fail(&err);
    } else if (!strcmp(path, "/v1/tenants")) {
        struct gpx_tenant *ts = NULL;
        unsigned n = 0;
        if (gpx_tenant_list(cn, &ts, &n, &err) == 0)
            *out = gpx_view_tenants(ts, n);
        else
            rc = gpx_cli_fail(&err);
        free(ts);
    } else if (!strcmp(method, "POST")) { /* /v1/tenants/NAME/token */
        char nm[GPX_NAME_MAX];
        snprintf(nm, sizeof nm, "%.*s", (int)(strrchr(path, '/') - path - 12), path + 12);
        if (gpx_tenant_token(cn, nm, &t, token, &err) == 0)
            *out = gpx_view_tenant(&t, token);
        else
            rc = gpx_cli_fail(&err);
    } else if (gpx_tenant_remove(cn, name, &t, &err) == 0) {
        *out = gpx_view_tenant(&t, NULL);
    } else {
        rc = gpx_cli_fail(&err);
    }
    gpx_conn_close(cn);
    json_decref(body);
    return rc;
}

static const char *opt_str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static void describe(json_t *t, char *buf, size_t len)
{
    char mem[32] = "-", gpus[16] = "-", uid[16] = "-", leases[16] = "-";
    json_t *v;
    if (json_is_integer(v = json_object_get(t, "max_memory_bytes")))
        gpx_size_format((uint64_t)json_integer_value(v), mem, sizeof mem);
    if (json_is_integer(v = json_object_get(t, "max_gpus")))
        snprintf(gpus, sizeof gpus, "%lld", (long long)json_integer_value(v));
    if (json_is_integer(v = json_object_get(t, "uid")))
        snprintf(uid, sizeof uid, "%lld", (long long)json_integer_value(v));
    if (json_is_integer(v = json_object_get(t, "max_leases")))
        snprintf(leases, sizeof leases, "%lld", (long long)json_integer_value(v));
    snprintf(buf, len, "%-20s %-7s %6s %9s %12s %10s", opt_str(t, "name"), opt_str(t, "role"), uid,
             gpus, mem, leases);
}

static int tenant_add(int argc, char **argv)
{
    static const struct option opts[] = {{"role", required_argument, NULL, 'r'},
                                         {"uid", required_argument, NULL, 'u'},
                                         {"max-gpus", required_argument, NULL, 'g'},
                                         {"max-memory", required_argument, NULL, 'm'},
                                         {"max-leases", required_argument, NULL, 'l'},
                                         {"server", required_argument, NULL, 's'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    json_t *body = json_object();
    int c;
    unsigned long long v;
    gpx_error err = {0};
    while ((c = getopt_long(argc, argv, "r:u:g:m:l:s:jh", opts, NULL)) != -1) {
        if (common_opt(c))
            continue;
        switch (c) {
        case 'r':
            if (strcmp(optarg, "admin") != 0 && strcmp(optarg, "tenant") != 0) {
                json_decref(body);
                return gpx_cli_usage_error(&gpx_cmd_tenant, "--role must be admin or tenant");
            }
            json_object_set_new(body, "role", json_string(optarg));
            break;
        case 'u':
            if (parse_num(optarg, 0, 0xfffffffe, &v) < 0) {
                json_decref(body);
                return gpx_cli_usage_error(&gpx_cmd_tenant, "--uid must be a user id, not '%s'",
                                           optarg);
            }
            json_object_set_new(body, "uid", json_integer((json_int_t)v));
            break;
        case 'g':
            if (parse_num(optarg, 1, 1024, &v) < 0) {
                json_decref(body);
                return gpx_cli_usage_error(&gpx_cmd_tenant,
                                           "--max-gpus must be a number from 1 to 1024");
            }
            json_object_set_new(body, "max_gpus", json_integer((json_int_t)v));
            break;
        case 'l':
            if (parse_num(optarg, 1, GPX_MAX_LEASES_CAP, &v) < 0) {
                json_decref(body);
                return gpx_cli_usage_error(&gpx_cmd_tenant,
                                           "--max-leases must be a number from 1 to %d, not '%s'",
                                           GPX_MAX_LEASES_CAP, optarg);
            }
            json_object_set_new(body, "max_leases", json_integer((json_int_t)v));
            break;
        case 'm': {
            uint64_t b;
            if (gpx_size_parse(optarg, &b, &err) < 0) {
                json_decref(body);
                return gpx_cli_usage_error(&gpx_cmd_tenant, "--max-memory: %s", err.msg);
            }
            if (gpx_size_parse_unit(optarg, &b, &err) < 0) {
                json_decref(body);
                return gpx_cli_usage_error(&gpx_cmd_tenant, "--max-memory: %s", err.msg);
            }
            json_object_set_new(body, "max_memory", json_integer((json_int_t)b));
            break;
        }
        case 'h':
            json_decref(body);
            return gpx_cli_print_usage(&gpx_cmd_tenant);
        default:
            json_decref(body);
            return gpx_cli_usage_error(&gpx_cmd_tenant, "unknown or incomplete option '%s'",
                                       argv[optind - 1]);
        }
    }
    if (optind != argc - 1) {
        json_decref(body);
        return gpx_cli_usage_error(&gpx_cmd_tenant, "add needs exactly one NAME");
    }
    json_object_set_new(body, "name", json_string(argv[optind]));
    json_t *out = NULL;
    int rc = call("POST", "/v1/tenants", body, &out);
    if (rc)
        return rc;
    if (as_json) {
        gpx_view_print(out);
    } else {
        printf("%s\n", opt_str(out, "token"));
        fprintf(stderr,
                "tenant %s added (role %s). Its token is printed above, once: gpuplexd keeps\n"
                "only a hash of it. The tenant uses it as GPUPLEX_TOKEN.\n",
                opt_str(out, "name"), opt_str(out, "role"));
    }
    json_decref(out);
    return 0;
}

static int tenant_ls(int argc, char **argv)
{
    static const struct option opts[] = {{"server", required_argument, NULL, 's'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "s:jh", opts, NULL)) != -1) {
        if (common_opt(c))
            continue;
        if (c == 'h')
            return gpx_cli_print_usage(&gpx_cmd_tenant);
        return gpx_cli_usage_error(&gpx_cmd_tenant, "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
    }
    if (optind < argc)
        return gpx_cli_usage_error(&gpx_cmd_tenant, "unexpected argument '%s'", argv[optind]);
    json_t *out = NULL;
    int rc = call("GET", "/v1/tenants", NULL, &out);
    if (rc)
        return rc;
    if (as_json) {
        gpx_view_print(out);
    } else {
        printf("%-20s %-7s %6s %9s %12s %10s\n", "NAME", "ROLE", "UID", "MAX-GPUS", "MAX-MEMORY",
               "MAX-LEASES");
        size_t i;
        json_t *t;
        json_array_foreach(out, i, t)
        {
            char line[256];
            describe(t, line, sizeof line);
            puts(line);
        }
    }
    json_decref(out);
    return 0;
}

/* rm NAME / token NAME */
static int tenant_one(int argc, char **argv, int token)
{
    static const struct option opts[] = {{"server", required_argument, NULL, 's'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "s:jh", opts, NULL)) != -1) {
        if (common_opt(c))
            continue;
        if (c == 'h')
            return gpx_cli_print_usage(&gpx_cmd_tenant);
        return gpx_cli_usage_error(&gpx_cmd_tenant, "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
    }
    if (optind != argc - 1)
        return gpx_cli_usage_error(&gpx_cmd_tenant, "%s needs exactly one NAME",
                                   token ? "token" : "rm");
    char path[256];
    if ((size_t)snprintf(path, sizeof path, "/v1/tenants/%s%s", argv[optind],
                         token ? "/token" : "") >= sizeof path ||
        strchr(argv[optind], '/') || strchr(argv[optind], '?'))
        return gpx_cli_usage_error(&gpx_cmd_tenant, "invalid tenant name '%s'", argv[optind]);
    json_t *out = NULL;
    int rc = call(token ? "POST" : "DELETE", path, NULL, &out);
    if (rc)
        return rc;
    if (as_json)
        gpx_view_print(out);
    else if (token)
        printf("%s\n", opt_str(out, "token"));
    json_decref(out);
    return 0;
}

static int run(int argc, char **argv)
{
    server = NULL;
    as_json = 0;
    optind = 1;
    opterr = 0;
    if (argc < 2)
        return gpx_cli_usage_error(&gpx_cmd_tenant, "missing subcommand (add, ls, rm or token)");
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h"))
        return gpx_cli_print_usage(&gpx_cmd_tenant);
    argc--;
    argv++;
    if (!strcmp(sub, "add"))
        return tenant_add(argc, argv);
    if (!strcmp(sub, "ls") || !strcmp(sub, "list"))
        return tenant_ls(argc, argv);
    if (!strcmp(sub, "rm") || !strcmp(sub, "remove"))
        return tenant_one(argc, argv, 0);
    if (!strcmp(sub, "token"))
        return tenant_one(argc, argv, 1);
    return gpx_cli_usage_error(&gpx_cmd_tenant, "unknown subcommand '%s' (add, ls, rm or token)",
                               sub);
}

const struct gpx_cmd gpx_cmd_tenant = {
    "tenant",
    run,
    "manage the tenants of the lease engine and their tokens (admin)",
    "usage: gpuplex tenant add NAME [--role admin|tenant] [--uid UID] [--max-gpus N]\n"
    "                               [--max-memory SIZE] [--max-leases N] [--server S] [--json]\n"
    "       gpuplex tenant ls [--server S] [--json]\n"
    "       gpuplex tenant rm NAME [--server S]\n"
    "       gpuplex tenant token NAME [--server S] [--json]\n"
    "\n"
    "Tenants own leases: each sees and releases only its own, within its quotas.\n"
    "These commands need the admin role: root (or gpuplexd's own user) on the unix\n"
    "socket, the owner of the state directory without a daemon, or an admin\n"
    "tenant's token.\n"
    "\n"
    "add: creates tenant NAME (a-z 0-9 . _ -) and prints its bearer token on stdout,\n"
    "once: gpuplexd stores only its SHA-256. The tenant sets GPUPLEX_TOKEN to it.\n"
    "  --role ROLE        tenant (default) or admin\n"
    "  --uid UID          also identify this tenant's user on the unix socket by uid\n"
    "                     (no token needed there); not 0 nor gpuplexd's own uid,\n"
    "                     which are always the built-in admin\n"
    "  --max-gpus N       at most N GPUs with leases of this tenant at once\n"
    "  --max-memory SIZE  at most SIZE of GPU memory under its leases (exclusive\n"
    "                     leases count the whole GPU): 64G, 81920M; its timeslice\n"
    "                     leases then need --memory too\n"
    "  --max-leases N     at most N active leases at once (default: gpuplexd's\n"
    "                     max_leases_per_tenant, 64 unless configured)\n"
    "ls: every tenant with role, uid and quotas (never tokens).\n"
    "rm: removes a tenant that holds no active lease. Its past leases and usage\n"
    "stay readable by admins as tenant NAME~CREATED_NS (see the log); a tenant\n"
    "added later as NAME starts with none of them.\n"
    "token: replaces NAME's token with a new one, printed once; the old one stops\n"
    "working at once.\n"
    "\n"
    "  --server S         gpuplexd's socket path or http://HOST:PORT (default:\n"
    "                     $GPUPLEX_SERVER, else /run/gpuplex/gpuplexd.sock)\n"
    "  --json             print the daemon's JSON (add/token: {name, role, uid,\n"
    "                     max_gpus, max_memory_bytes, max_leases, created_ns, token})\n"
    "\n"
    "exit status: 0 ok; 2 bad usage, or a uid that is always the admin's (0,\n"
    "gpuplexd's own); 5 no such tenant; 6 the tenant exists (add) or holds leases\n"
    "(rm); 9 gpuplexd unreachable; 10 not authenticated (401) or not an admin\n"
    "(403).\n",
};
