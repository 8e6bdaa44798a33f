/*
 * gpuplex status: which path commands take (gpuplexd or the engine in-process,
 * and why: the rule of include/gpuplex/client.h), the engine's health, your
 * identity, each GPU with the memory quota still free for shared leases, and
 * your active leases.
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

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {{"server", required_argument, NULL, 's'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *server = NULL;
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "s:jh", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            server = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            return gpx_cli_print_usage(&gpx_cmd_status);
        default:
            return gpx_cli_usage_error(&gpx_cmd_status, "unknown or incomplete option '%s'",
                                       argv[optind - 1]);
        }
    }
    if (optind < argc)
        return gpx_cli_usage_error(&gpx_cmd_status, "unexpected argument '%s'", argv[optind]);

    gpx_error err = {0};
    struct gpx_conn *cn = NULL;
    int rc = gpx_cli_connect(server, &cn);
    if (rc)
        return rc;
    struct gpx_health h;
    struct gpx_caller me_c;
    struct gpx_node node = {0};
    struct gpx_lease *ls = NULL;
    unsigned nls = 0;
    struct gpx_lease_query q = {.state = -1};
    if (gpx_health(cn, &h, &err) < 0 || gpx_whoami(cn, &me_c, &err) < 0 ||
        gpx_gpus_list(cn, &node, &err) < 0 || gpx_lease_list(cn, &q, &ls, &nls, &err) < 0)
        rc = gpx_cli_fail(&err);
    char server_s[512], why[512];
    snprintf(server_s, sizeof server_s, "%s", gpx_conn_where(cn));
    snprintf(why, sizeof why, "%s", gpx_conn_why(cn));
    int daemon = gpx_conn_is_daemon(cn);
    gpx_conn_close(cn);
    if (rc) {
        gpx_node_free(&node);
        free(ls);
        return rc;
    }
    json_t *health = gpx_view_health(&h), *me = gpx_view_caller(&me_c),
           *gpus = gpx_view_gpus(&node), *leases = gpx_view_leases(ls, nls, 0);
    gpx_node_free(&node);
    free(ls);
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "server", json_string(server_s));
        json_object_set_new(o, "path", json_string(daemon ? "gpuplexd" : "local"));
        json_object_set_new(o, "why", json_string(why));
        json_object_set_new(o, "daemon", health);
        json_object_set_new(o, "you", me);
        json_object_set_new(o, "gpus", gpus);
        json_object_set_new(o, "leases", leases);
        gpx_view_print(o);
        json_decref(o);
        return 0;
    }
    printf("path: %s (%s)\n", server_s, why);
    printf("%s %s: %s, up %.0f s, %lld GPU%s, placement %s\n",
           daemon ? "gpuplexd" : "gpuplex engine", str(health, "version"), str(health, "status"),
           json_number_value(json_object_get(health, "uptime_seconds")),
           (long long)json_integer_value(json_object_get(health, "gpus")),
           json_integer_value(json_object_get(health, "gpus")) == 1 ? "" : "s",
           str(health, "placement"));
    printf("you: tenant %s (%s) via %s\n\n", str(me, "tenant"), str(me, "role"), str(me, "via"));
    printf("%-3s %-24s %12s %12s %-9s %s\n", "GPU", "NAME", "MEMORY", "QUOTA-FREE", "EXCLUSIVE",
           "YOUR LEASES");
    size_t i;
    json_t *g;
    json_array_foreach(gpus, i, g)
    {
        char mem[32], free_q[32];
        gpx_size_format((uint64_t)json_integer_value(json_object_get(g, "memory_total_bytes")), mem,
                        sizeof mem);
        gpx_size_format((uint64_t)json_integer_value(json_object_get(g, "memory_quota_free_bytes")),
                        free_q, sizeof free_q);
        char ids[512] = "";
        size_t k, n = 0;
        json_t *l;
        json_array_foreach(json_object_get(g, "leases"), k, l)
        {
            if (!strcmp(str(l, "tenant"), str(me, "tenant")) && n + 20 < sizeof ids)
                n += (size_t)snprintf(ids + n, sizeof ids - n, "%s%s", n ? " " : "", str(l, "id"));
        }
        printf("%-3lld %-24.24s %12s %12s %-9s %s\n",
               (long long)json_integer_value(json_object_get(g, "index")), str(g, "name"), mem,
               free_q, json_is_true(json_object_get(g, "exclusive")) ? "yes" : "no", n ? ids : "-");
    }
    printf("\n%zu active lease%s visible to you\n", json_array_size(leases),
           json_array_size(leases) == 1 ? "" : "s");
    json_decref(health);
    json_decref(me);
    json_decref(gpus);
    json_decref(leases);
    return 0;
}

const struct gpx_cmd gpx_cmd_status = {
    "status",
    run,
    "which engine commands use (gpuplexd or in-process), its health, GPUs, your leases",
    "usage: gpuplex status [--server S] [--json]\n"
    "\n"
    "Says which path gpuplex commands take and why (one rule for every command):\n"
    "  1. --server S or GPUPLEX_SERVER=S: gpuplexd at S (unreachable: exit 9);\n"
    "  2. a gpuplexd owns the state directory ($GPUPLEX_STATE_DIR; else the config's\n"
    "     state_dir; else /var/lib/gpuplex for root or when writable or owned by a\n"
    "     daemon; else ~/.local/state/gpuplex): that daemon, at the socket it\n"
    "     recorded there; GPUPLEX_SERVER=none then fails (exit 6);\n"
    "  3. no GPUPLEX_STATE_DIR and gpuplexd answers on /run/gpuplex/gpuplexd.sock;\n"
    "  4. otherwise the lease engine in-process on the state directory.\n"
    "Then the engine's health, who you are to it (tenant, role, transport),\n"
    "every GPU with its memory, the memory quota still free for vgpu/timeslice\n"
    "leases and whether an exclusive lease holds it, and your active leases.\n"
    "\n"
    "  --server S  gpuplexd's socket path or http://HOST:PORT (default: the rule above)\n"
    "  --json      print {server, path (gpuplexd|local), why, daemon: /healthz,\n"
    "              you: /v1/whoami, gpus: /v1/gpus, leases: /v1/leases}\n"
    "\n"
    "exit status: 0 ok; 9 gpuplexd unreachable; 10 not authenticated.\n",
};
