/*
 * gpuplex container run|ls|logs|rm: managed containers (gpuplexd's
 * /v1/containers, docs/containers.md). gpuplexd makes a lease per replica and
 * runs the image with podman under it; this command only talks to the daemon
 * (there is no in-process path: a container outlives any one command).
 */
#include "cli/cli.h"
#include "engine/views.h"
#include "gpuplex/client.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One request through the client's rule; *out the answer. */
static int call(const char *server, const char *method, const char *path, json_t *body,
                json_t **out)
{
    struct gpx_conn *cn = NULL;
    int rc = gpx_cli_connect(server, &cn);
    if (rc == 0) {
        gpx_error err = {0};
        if (gpx_conn_request(cn, method, path, body, out, &err) < 0)
            rc = gpx_cli_fail(&err);
        gpx_conn_close(cn);
    }
    json_decref(body);
    return rc;
}

static void print_table(json_t *list)
{
    printf("%-16s %-12s %-28s %3s %-10s %4s %8s %s\n", "ID", "TENANT", "IMAGE", "#", "STATE",
           "EXIT", "RESTARTS", "LEASE");
    size_t i, k;
    json_t *c, *r;
    json_array_foreach(list, i, c)
    {
        json_array_foreach(json_object_get(c, "instances"), k, r)
        {
            json_t *x = json_object_get(r, "exit_code");
            char code[16] = "-";
            if (json_is_integer(x))
                snprintf(code, sizeof code, "%lld", (long long)json_integer_value(x));
            printf("%-16s %-12s %-28s %3lld %-10s %4s %8lld %s\n", gpx_cli_str(c, "id"),
                   gpx_cli_str(c, "tenant"), gpx_cli_str(c, "image"),
                   (long long)json_integer_value(json_object_get(r, "replica")),
                   gpx_cli_str(r, "state"), code,
                   (long long)json_integer_value(json_object_get(r, "restarts")),
                   gpx_cli_str(r, "lease"));
        }
    }
}

#define usage_err(...) gpx_cli_usage_error(&gpx_cmd_container, __VA_ARGS__)

static int run_container(const char *server, int json, int argc, char **argv)
{
    static const struct option opts[] = {
        {"mode", required_argument, NULL, 'M'},    {"memory", required_argument, NULL, 'm'},
        {"weight", required_argument, NULL, 'w'},  {"cap", required_argument, NULL, 'c'},
        {"gpu", required_argument, NULL, 'g'},     {"mig-profile", required_argument, NULL, 'P'},
        {"label", required_argument, NULL, 'L'},   {"env", required_argument, NULL, 'e'},
        {"restart", required_argument, NULL, 'r'}, {"replicas", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    json_t *lease = json_object(), *env = json_object(), *labels = json_object();
    json_t *body = json_object();
    int c, rc = 0;
    long v;
    optind = 1;
    opterr = 0;
    /* '+': options end at IMAGE; what follows is the container's command */
    while (rc == 0 && (c = getopt_long(argc, argv, "+M:m:w:c:g:P:L:e:r:n:h", opts, NULL)) != -1) {
        const char *eq = optarg ? strchr(optarg, '=') : NULL;
        switch (c) {
        case 'M':
            json_object_set_new(lease, "mode", json_string(optarg));
            break;
        case 'm':
            json_object_set_new(lease, "memory", json_string(optarg));
            break;
        case 'w':
        case 'c':
            if (gpx_cli_number(optarg, 1, 1000000, &v) < 0)
                rc = usage_err("--weight and --cap take a positive number, not '%s'", optarg);
            else
                json_object_set_new(lease, c == 'w' ? "weight" : "cap", json_integer(v));
            break;
        case 'g':
            json_object_set_new(lease, "gpu",
                                gpx_cli_number(optarg, 0, 1023, &v) == 0 ? json_integer(v)
                                                                         : json_string(optarg));
            break;
        case 'P':
            json_object_set_new(lease, "mig_profile", json_string(optarg));
            break;
        case 'L':
        case 'e':
            if (!eq || eq == optarg) {
                rc = usage_err("--label and --env take KEY=VALUE, not '%s'", optarg);
                break;
            }
            json_object_setn_new(c == 'L' ? labels : env, optarg, (size_t)(eq - optarg),
                                 json_string(eq + 1));
            break;
        case 'r':
            json_object_set_new(body, "restart", json_string(optarg));
            break;
        case 'n':
            if (gpx_cli_number(optarg, 1, 16, &v) < 0)
                rc = usage_err("--replicas takes a number from 1 to 16, not '%s'", optarg);
            else
                json_object_set_new(body, "replicas", json_integer(v));
            break;
        case 'h':
            rc = -1;
            break;
        default:
            rc = usage_err("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (rc == 0 && optind >= argc)
        rc = usage_err("%s", "missing IMAGE");
    if (rc != 0) {
        json_decref(lease), json_decref(env), json_decref(labels), json_decref(body);
        return rc < 0 ? gpx_cli_print_usage(&gpx_cmd_container) : rc;
    }
    if (json_object_size(labels))
        json_object_set(lease, "labels", labels);
    json_decref(labels);
    json_t *cmd = json_array();
    for (int i = optind + 1; i < argc; i++)
        json_array_append_new(cmd, json_string(argv[i]));
    json_object_set_new(body, "image", json_string(argv[optind]));
    json_object_set_new(body, "command", cmd);
    json_object_set_new(body, "env", env);
    json_object_set_new(body, "lease", lease);
    json_t *out = NULL;
    if ((rc = call(server, "POST", "/v1/containers", body, &out)) != 0)
        return rc;
    if (json)
        gpx_view_print(out);
    else
        puts(gpx_cli_str(out, "id"));
    json_decref(out);
    return 0;
}

/* A container id as a path segment. */
static int id_ok(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
    return n > 0 && n < 64 && s[n] == '\0';
}

static int container_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'},  {"json", no_argument, NULL, 'j'},
        {"replica", required_argument, NULL, 'R'}, {"tail", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *server = NULL;
    int json = 0, c;
    long replica = 0, tail = 200;
    const char *sub = gpx_cli_subcommand(&gpx_cmd_container, argc, argv, "run, ls, logs or rm", &c);
    if (!sub)
        return c;
    /* run: its own flags, then IMAGE CMD...; --server and --json come before them */
    if (!strcmp(sub, "run")) {
        int i = gpx_cli_conn_flags(argc, argv, &server, &json);
        argv[i - 1] = argv[0];
        return run_container(server, json, argc - i + 1, argv + i - 1);
    }
    optind = 2;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "s:jR:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            server = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'R':
        case 't':
            if (gpx_cli_number(optarg, 0, c == 'R' ? 1000 : 100000, c == 'R' ? &replica : &tail) <
                0)
                return usage_err("--replica and --tail take a number, not '%s'", optarg);
            break;
        case 'h':
            return gpx_cli_print_usage(&gpx_cmd_container);
        default:
            return usage_err("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    json_t *out = NULL;
    int rc;
    if (!strcmp(sub, "ls") || !strcmp(sub, "list")) {
        if (optind < argc)
            return usage_err("unexpected argument '%s'", argv[optind]);
        if ((rc = call(server, "GET", "/v1/containers", NULL, &out)) != 0)
            return rc;
        if (json)
            gpx_view_print(out);
        else
            print_table(out);
        json_decref(out);
        return 0;
    }
    if (strcmp(sub, "logs") && strcmp(sub, "rm"))
        return usage_err("unknown subcommand '%s': run, ls, logs or rm", sub);
    if (optind >= argc)
        return usage_err("%s needs a container ID (see 'gpuplex container ls')", sub);
    if (!strcmp(sub, "logs") && optind + 1 < argc)
        return usage_err("unexpected argument '%s'", argv[optind + 1]);
    int status = 0;
    for (int i = optind; i < argc; i++) {
        char path[160];
        if (!id_ok(argv[i]))
            return usage_err("invalid container ID '%s'", argv[i]);
        if (!strcmp(sub, "logs"))
            snprintf(path, sizeof path, "/v1/containers/%s/logs?replica=%ld&tail=%ld", argv[i],
                     replica, tail);
        else
            snprintf(path, sizeof path, "/v1/containers/%s", argv[i]);
        if ((rc = call(server, !strcmp(sub, "rm") ? "DELETE" : "GET", path, NULL, &out)) != 0) {
            status = rc;
            continue;
        }
        if (json)
            gpx_view_print(out);
        else if (!strcmp(sub, "logs"))
            fputs(json_string_value(json_object_get(out, "logs")) ?: "", stdout);
        else
            puts(gpx_cli_str(out, "id"));
        json_decref(out);
    }
    return status;
}

const struct gpx_cmd gpx_cmd_container = {
    "container",
    container_run,
    "managed containers: gpuplexd runs an image with podman under a lease per replica",
    "usage: gpuplex container run [--json] [LEASE FLAGS] [--env K=V]... [--restart no|on-failure]\n"
    "                             [--replicas N] IMAGE [CMD [ARG...]]\n"
    "       gpuplex container ls [--json]\n"
    "       gpuplex container logs [--replica N] [--tail N] [--json] ID\n"
    "       gpuplex container rm [--json] ID...\n"
    "\n"
    "gpuplexd (never the in-process engine) makes one lease per replica, as you\n"
    "(your tenant's limits apply), and runs IMAGE with podman under it\n"
    "(--device gpuplex.dev/gpu=lease-<id>). The image must be in the node's\n"
    "container_images allow-list (gpuplexd.conf); else 403 (exit 10).\n"
    "\n"
    "  run          start it; prints the container ID (c-...), or its JSON with --json\n"
    "    --mode M --memory SIZE --weight N --cap PCT --gpu G --mig-profile P --label K=V\n"
    "               the lease of each replica, as for 'gpuplex lease create'\n"
    "    --env K=V  environment of the container (repeatable)\n"
    "    --restart no|on-failure\n"
    "               on-failure: a replica that exits non-zero (or is killed) is started\n"
    "               again under the same lease, after 1, 2, 4... s, at most 5 times;\n"
    "               otherwise (default no) its lease is released when it exits\n"
    "    --replicas N  replicas, 1-16 (default 1), each with its own lease\n"
    "  ls           your containers (an admin: everyone's), one line per replica:\n"
    "               state (running, restarting, exited, missing, stopped: its\n"
    "               lease was released by hand, so gpuplexd stopped it), exit code,\n"
    "               restarts, lease; --json adds why (reason) and the lease's usage.\n"
    "               Exited replicas stay listed, with their logs, until rm\n"
    "  logs         the replica's output (stdout and stderr), the last --tail lines\n"
    "               (default 200; at most 256 KiB); --replica N (default 0)\n"
    "  rm           stop (2 s, then SIGKILL) and remove it, and release its leases\n"
    "  --json       the API's JSON (GET /v1/containers)\n"
    "  --server S   gpuplexd's socket path or http://HOST:PORT (see 'gpuplex status')\n"
    "\n"
    "Containers keep running when gpuplexd restarts; it re-attaches to them.\n"
    "\n"
    "exit status: 0 ok; 2 usage; 5 no such container; 10 image not allowed;\n"
    "9 gpuplexd unreachable; see 'gpuplex help'.\n",
};
