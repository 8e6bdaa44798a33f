/*
 * gpuplex vm create|ls|ssh|rm: VMs through gpuplexd (/v1/vms, docs/vms.md).
 * gpuplexd makes the lease, hands the GPU to the guest (passthrough, mdev or
 * VF), defines and starts the libvirt domain with the tenant's SSH key, and
 * answers with the SSH endpoint; `vm ssh` execs ssh with it. These join
 * `vm check` in cmd_vm.c's table (vm_cmds.h). Daemon only: a VM outlives any
 * one command.
 */
#define _GNU_SOURCE
#include "cli/cli.h"
#include "cli/vm_cmds.h"
#include "engine/views.h"
#include "gpuplex/client.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define usage_err(...) gpx_cli_usage_error(&gpx_cmd_vm, __VA_ARGS__)

/* Connects, runs fn, prints a failure; returns the exit status. */
static int with_conn(const char *server, int (*fn)(gpx_conn *c, void *arg, gpx_error *err),
                     void *arg)
{
    gpx_conn *cn = NULL;
    int rc = gpx_cli_connect(server, &cn);
    if (rc != 0)
        return rc;
    gpx_error err = {0};
    if (fn(cn, arg, &err) < 0)
        rc = gpx_cli_fail(&err);
    gpx_conn_close(cn);
    return rc;
}

/* --ssh-key: a key line ("ssh-ed25519 AAAA...") or a file holding one (id_ed25519.pub). */
static int read_key(const char *arg, char *out, size_t len)
{
    if (!strncmp(arg, "ssh-", 4) || !strncmp(arg, "ecdsa-", 6) || !strncmp(arg, "sk-", 3)) {
        snprintf(out, len, "%s", arg);
        return 0;
    }
    FILE *f = fopen(arg, "re");
    if (!f)
        return usage_err("--ssh-key %s: %s (a public key file or an 'ssh-ed25519 AAAA...' line)",
                         arg, strerror(errno));
    int ok = fgets(out, (int)len, f) != NULL;
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    if (!ok || !*out)
        return usage_err("--ssh-key %s: the file is empty", arg);
    return 0;
}

struct create_args {
    json_t *body;
    json_t *out;
};

static int do_create(gpx_conn *c, void *arg, gpx_error *err)
{
    struct create_args *a = arg;
    int rc = gpx_vm_create(c, a->body, &a->out, err);
    a->body = NULL;
    return rc;
}

static int vm_create(int argc, char **argv)
{
    static const struct option opts[] = {{"server", required_argument, NULL, 's'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"gpu", required_argument, NULL, 'g'},
                                         {"vgpu-type", required_argument, NULL, 'T'},
                                         {"mig-profile", required_argument, NULL, 'P'},
                                         {"vcpus", required_argument, NULL, 'c'},
                                         {"memory", required_argument, NULL, 'm'},
                                         {"kernel", required_argument, NULL, 'k'},
                                         {"initrd", required_argument, NULL, 'r'},
                                         {"cmdline", required_argument, NULL, 'C'},
                                         {"image", required_argument, NULL, 'I'},
                                         {"ssh-key", required_argument, NULL, 'K'},
                                         {"ssh-user", required_argument, NULL, 'u'},
                                         {"tenant", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *server = NULL;
    int json = 0, c, rc = 0;
    json_t *body = json_object();
    char key[4096];
    optind = 1;
    opterr = 0;
    while (rc == 0 &&
           (c = getopt_long(argc, argv, "s:jg:T:P:c:m:k:r:C:I:K:u:t:h", opts, NULL)) != -1) {
        char *end;
        long v;
        switch (c) {
        case 's':
            server = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'g':
            v = strtol(optarg, &end, 10);
            json_object_set_new(body, "gpu",
                                *optarg && !*end && v >= 0 ? json_integer(v) : json_string(optarg));
            break;
        case 'c':
            v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > 64)
                rc = usage_err("--vcpus takes a number from 1 to 64, not '%s'", optarg);
            else
                json_object_set_new(body, "vcpus", json_integer(v));
            break;
        case 'K':
            if ((rc = read_key(optarg, key, sizeof key)) == 0)
                json_object_set_new(body, "ssh_authorized_key", json_string(key));
            break;
        case 'T':
        case 'P':
        case 'm':
        case 'k':
        case 'r':
        case 'C':
        case 'I':
        case 'u':
        case 't': {
            static const char *const field[128] = {
                ['T'] = "vgpu_type", ['P'] = "mig_profile", ['m'] = "memory",
                ['k'] = "kernel",    ['r'] = "initrd",      ['C'] = "cmdline",
                ['I'] = "image",     ['u'] = "ssh_user",    ['t'] = "tenant"};
            char real[4096];
            /* paths are the daemon's: make them absolute here */
            int path = c == 'k' || c == 'r' || c == 'I';
            json_object_set_new(body, field[c],
                                json_string(path && realpath(optarg, real) ? real : optarg));
            break;
        }
        case 'h':
            json_decref(body);
            return gpx_cli_print_usage(&gpx_cmd_vm);
        default:
            rc = usage_err("unknown or incomplete option '%s' for 'vm create'", argv[optind - 1]);
        }
    }
    if (rc == 0 && optind < argc)
        rc = usage_err("unexpected argument '%s' for 'vm create'", argv[optind]);
    if (rc != 0) {
        json_decref(body);
        return rc;
    }
    struct create_args a = {.body = body};
    if ((rc = with_conn(server, do_create, &a)) != 0) {
        json_decref(a.body);
        return rc;
    }
    if (json) {
        gpx_view_print(a.out);
    } else {
        json_t *ssh = json_object_get(a.out, "ssh");
        printf("%s\n%s\n", gpx_cli_str(a.out, "id"), gpx_cli_str(ssh, "command"));
    }
    json_decref(a.out);
    return 0;
}

static void print_table(json_t *list)
{
    printf("%-16s %-12s %-9s %-12s %3s %-12s %s\n", "ID", "TENANT", "STATE", "BACKEND", "GPU",
           "LEASE", "SSH");
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        json_t *ssh = json_object_get(v, "ssh");
        char ep[300];
        snprintf(ep, sizeof ep, "%s@%s:%lld", gpx_cli_str(ssh, "user"), gpx_cli_str(ssh, "host"),
                 (long long)json_integer_value(json_object_get(ssh, "port")));
        printf("%-16s %-12s %-9s %-12s %3lld %-12s %s\n", gpx_cli_str(v, "id"),
               gpx_cli_str(v, "tenant"), gpx_cli_str(v, "state"), gpx_cli_str(v, "backend"),
               (long long)json_integer_value(json_object_get(json_object_get(v, "gpu"), "index")),
               gpx_cli_str(v, "lease"), ep);
    }
}

static int do_list(gpx_conn *c, void *arg, gpx_error *err)
{
    return gpx_vm_list(c, arg, err);
}

/* --server and --json, the flags every other subcommand takes; optind at the first operand. */
static int common_flags(int argc, char **argv, const char *sub, const char **server, int *json)
{
    static const struct option opts[] = {{"server", required_argument, NULL, 's'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "s:jh", opts, NULL)) != -1) {
        if (c == 's')
            *server = optarg;
        else if (c == 'j')
            *json = 1;
        else if (c == 'h')
            return gpx_cli_print_usage(&gpx_cmd_vm) ? -2 : -2;
        else
            return usage_err("unknown or incomplete option '%s' for 'vm %s'", argv[optind - 1],
                             sub);
    }
    return 0;
}

static int vm_ls(int argc, char **argv)
{
    const char *server = NULL;
    int json = 0, rc = common_flags(argc, argv, "ls", &server, &json);
    if (rc != 0)
        return rc == -2 ? 0 : rc;
    if (optind < argc)
        return usage_err("unexpected argument '%s' for 'vm ls'", argv[optind]);
    json_t *out = NULL;
    if ((rc = with_conn(server, do_list, &out)) != 0)
        return rc;
    if (json)
        gpx_view_print(out);
    else
        print_table(out);
    json_decref(out);
    return 0;
}

struct one_args {
    const char *id;
    json_t *out;
    int remove;
};

static int do_one(gpx_conn *c, void *arg, gpx_error *err)
{
    struct one_args *a = arg;
    return a->remove ? gpx_vm_remove(c, a->id, &a->out, err) : gpx_vm_get(c, a->id, &a->out, err);
}

static int vm_rm(int argc, char **argv)
{
    const char *server = NULL;
    int json = 0, rc = common_flags(argc, argv, "rm", &server, &json), status = 0;
    if (rc != 0)
        return rc == -2 ? 0 : rc;
    if (optind >= argc)
        return usage_err("%s", "'vm rm' needs a VM ID (see 'gpuplex vm ls')");
    for (int i = optind; i < argc; i++) {
        struct one_args a = {.id = argv[i], .remove = 1};
        if ((rc = with_conn(server, do_one, &a)) != 0) {
            status = rc;
            continue;
        }
        if (json)
            gpx_view_print(a.out);
        else
            puts(gpx_cli_str(a.out, "id"));
        json_decref(a.out);
    }
    return status;
}

static int vm_ssh(int argc, char **argv)
{
    static const struct option opts[] = {{"server", required_argument, NULL, 's'},
                                         {"identity", required_argument, NULL, 'i'},
                                         {"option", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *server = NULL, *identity = NULL;
    const char *sshopt[32];
    unsigned nopt = 0;
    int c;
    optind = 1;
    opterr = 0;
    /* '+': options end at ID; after it (and an optional --) the remote command */
    while ((c = getopt_long(argc, argv, "+s:i:o:h", opts, NULL)) != -1) {
        if (c == 's')
            server = optarg;
        else if (c == 'i')
            identity = optarg;
        else if (c == 'o' && nopt < 32)
            sshopt[nopt++] = optarg;
        else if (c == 'h')
            return gpx_cli_print_usage(&gpx_cmd_vm);
        else
            return usage_err("unknown or incomplete option '%s' for 'vm ssh'", argv[optind - 1]);
    }
    if (optind >= argc)
        return usage_err("%s", "'vm ssh' needs a VM ID (see 'gpuplex vm ls')");
    struct one_args a = {.id = argv[optind++]};
    int rc = with_conn(server, do_one, &a);
    if (rc != 0)
        return rc;
    json_t *ssh = json_object_get(a.out, "ssh");
    const char *state = gpx_cli_str(a.out, "state");
    if (strcmp(state, "running") != 0) {
        fprintf(stderr, "gpuplex: VM %s is %s, not running\n", a.id, state);
        json_decref(a.out);
        return gpx_error_exit_status(GPX_E_BUSY);
    }
    char port[16], dest[400];
    snprintf(port, sizeof port, "%lld",
             (long long)json_integer_value(json_object_get(ssh, "port")));
    snprintf(dest, sizeof dest, "%s@%s", gpx_cli_str(ssh, "user"), gpx_cli_str(ssh, "host"));
    json_decref(a.out);
    if (optind < argc && !strcmp(argv[optind], "--"))
        optind++;
    char **av = calloc((size_t)(argc - optind) + 2 * nopt + 8, sizeof *av);
    if (!av)
        return gpx_error_exit_status(GPX_E_NOMEM);
    unsigned n = 0;
    av[n++] = "ssh";
    av[n++] = "-p";
    av[n++] = port;
    if (identity) {
        av[n++] = "-i";
        av[n++] = (char *)identity;
    }
    for (unsigned i = 0; i < nopt; i++) {
        av[n++] = "-o";
        av[n++] = (char *)sshopt[i];
    }
    av[n++] = dest;
    for (int i = optind; i < argc; i++)
        av[n++] = argv[i];
    av[n] = NULL;
    fflush(stdout);
    execvp("ssh", av);
    fprintf(stderr, "gpuplex: ssh could not be run: %s (apt-get install openssh-client)\n",
            strerror(errno));
    free(av);
    return 127;
}

int gpx__vm_create(int argc, char **argv)
{
    return vm_create(argc, argv);
}

int gpx__vm_ls(int argc, char **argv)
{
    return vm_ls(argc, argv);
}

int gpx__vm_ssh(int argc, char **argv)
{
    return vm_ssh(argc, argv);
}

int gpx__vm_rm(int argc, char **argv)
{
    return vm_rm(argc, argv);
}
