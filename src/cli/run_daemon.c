/*
 * `gpuplex run` through gpuplexd (cmd_run.c hands over when this applies).
 *
 *   gpuplex run --mode MODE [--gpu G] [--memory SIZE] ... -- CMD
 *       creates a lease for the life of CMD: CMD is forked first and waits on
 *       a pipe, so that the lease can name both gpuplex run and CMD as its
 *       owners (if both die without releasing it, the daemon's reconciler
 *       does); CMD is exec'd with the lease's environment once the lease is
 *       granted; the lease is released when CMD exits; CMD's exit status is
 *       passed through (128+N for signal N).
 *   gpuplex run --lease ID -- CMD
 *       with a daemon configured, takes ID's environment from the daemon
 *       (a lease the daemon does not know falls back to the direct path).
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed on to CMD.
 */
#define _GNU_SOURCE
#include "cli/cli.h"
#include "gpuplex/client.h"
#include "shm/lease.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t child;

static void forward(int sig)
{
    if (child > 0)
        kill((pid_t)child, sig);
}

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define NFWD (sizeof forwarded / sizeof forwarded[0])

/* In the child: reads "KEY=VALUE\0..." from fd, sets it, execs cmd; never returns. */
static void child_main(int fd, char **cmd)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            _exit(125);
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                _exit(125);
            buf = nb;
        }
    }
    if (len == 0)
        _exit(125); /* no lease: the parent reports why */
    for (size_t off = 0; off < len;) {
        char *kv = buf + off;
        size_t n = strnlen(kv, len - off);
        off += n + 1;
        char *eq = memchr(kv, '=', n);
        if (!eq || n == len)
            continue;
        *eq = '\0';
        const char *val = eq + 1;
        const char *old = getenv(kv);
        if (!strcmp(kv, "LD_PRELOAD") && old && *old && !strstr(old, val)) {
            char *merged = malloc(strlen(val) + strlen(old) + 2);
            if (!merged)
                _exit(125);
            sprintf(merged, "%s:%s", val, old);
            setenv(kv, merged, 1);
            free(merged);
        } else {
            setenv(kv, val, 1);
        }
    }
    execvp(cmd[0], cmd);
    int e = errno;
    fprintf(stderr, "gpuplex run: %s: %s\n", cmd[0], strerror(e));
    _exit(e == ENOENT ? 127 : 126);
}

static int write_env(int fd, json_t *env)
{
    const char *k;
    json_t *v;
    json_object_foreach(env, k, v)
    {
        if (!json_is_string(v))
            continue;
        size_t kl = strlen(k), vl = strlen(json_string_value(v));
        char *line = malloc(kl + vl + 2);
        if (!line)
            return -1;
        /* "key=value" and its terminating NUL, which is written too */
        snprintf(line, kl + vl + 2, "%s=%s", k, json_string_value(v));
        size_t n = kl + vl + 2, off = 0;
        while (off < n) {
            ssize_t w = write(fd, line + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                free(line);
                return -1;
            }
            off += (size_t)w;
        }
        free(line);
    }
    return 0;
}

/*
 * Forks CMD (waiting for its environment), gets the lease (`body` != NULL:
 * create it with CMD and us as owners; else GET `id`), runs CMD, releases a
 * created lease. *not_found is set when GET answered 404 (nothing was run).
 */
static int run_with(const char *server, json_t *body, const char *id, char **cmd, int *not_found)
{
    gpx_error err = {0};
    struct gpx_client *cl = NULL;
    if (gpx_cli_client(server, &cl, &err) < 0)
        return gpx_cli_fail(&err);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        gpx_client_free(cl);
        gpx_error_errno(&err, GPX_E_INTERNAL, errno, "pipe");
        return gpx_cli_fail(&err);
    }
    fflush(NULL);
    sigset_t block, old;
    sigemptyset(&block);
    for (size_t i = 0; i < NFWD; i++)
        sigaddset(&block, forwarded[i]);
    sigprocmask(SIG_BLOCK, &block, &old);
    struct sigaction sa = {0}, saved[NFWD];
    sa.sa_handler = forward;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NFWD; i++)
        sigaction(forwarded[i], &sa, &saved[i]);
    pid_t pid = fork();
    if (pid < 0) {
        gpx_error_errno(&err, GPX_E_INTERNAL, errno, "fork");
        gpx_client_free(cl);
        return gpx_cli_fail(&err);
    }
    if (pid == 0) {
        for (size_t i = 0; i < NFWD; i++)
            sigaction(forwarded[i], &saved[i], NULL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        close(p[1]);
        child_main(p[0], cmd);
    }
    close(p[0]);
    child = pid;
    sigprocmask(SIG_SETMASK, &old, NULL);

    json_t *lease = NULL;
    char path[128];
    int rc;
    if (body) {
        json_t *owners = json_array();
        json_array_append_new(owners, json_integer(getpid()));
        json_array_append_new(owners, json_integer(pid));
        json_object_set_new(body, "owner_pids", owners);
        rc = gpx_cli_call(cl, "POST", "/v1/leases", body, &lease, &err);
    } else {
        snprintf(path, sizeof path, "/v1/leases/%s", id);
        rc = gpx_cli_call(cl, "GET", path, NULL, &lease, &err);
        if (rc < 0 && err.code == GPX_E_NOT_FOUND)
            *not_found = 1;
        if (rc == 0 && !json_is_object(json_object_get(lease, "env"))) {
            gpx_error_set(&err, GPX_E_NOT_FOUND, "lease %s is %s", id,
                          json_string_value(json_object_get(lease, "state")));
            rc = -1;
        }
    }
    if (rc == 0 && write_env(p[1], json_object_get(lease, "env")) < 0) {
        gpx_error_errno(&err, GPX_E_INTERNAL, errno, "passing the environment to %s", cmd[0]);
        rc = -1;
    }
    close(p[1]); /* with nothing written, CMD exits 125 without running */
    int status;
    pid_t w;
    do
        w = waitpid(pid, &status, 0);
    while (w < 0 && errno == EINTR);
    child = 0;
    if (rc < 0) {
        json_decref(lease);
        gpx_client_free(cl);
        return *not_found ? 0 : gpx_cli_fail(&err);
    }
    if (body) {
        const char *lid = json_string_value(json_object_get(lease, "id"));
        snprintf(path, sizeof path, "/v1/leases/%s", lid ? lid : "");
        gpx_error e2 = {0};
        if (gpx_cli_call(cl, "DELETE", path, NULL, NULL, &e2) < 0)
            fprintf(stderr,
                    "gpuplex run: releasing lease %s: %s (gpuplexd releases it once its owners "
                    "are gone)\n",
                    lid ? lid : "?", e2.msg);
    }
    json_decref(lease);
    gpx_client_free(cl);
    if (w < 0) {
        gpx_error_errno(&err, GPX_E_INTERNAL, errno, "waiting for %s", cmd[0]);
        return gpx_cli_fail(&err);
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

int gpx_cli_run_daemon(int argc, char **argv, int *handled)
{
    static const struct option opts[] = {
        {"lease", required_argument, NULL, 'l'},  {"mode", required_argument, NULL, 'M'},
        {"gpu", required_argument, NULL, 'g'},    {"memory", required_argument, NULL, 'm'},
        {"weight", required_argument, NULL, 'w'}, {"cap", required_argument, NULL, 'c'},
        {"label", required_argument, NULL, 'L'},  {"server", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    *handled = 0;
    const char *server = NULL, *id = NULL;
    json_t *body = json_object(), *labels = json_object();
    int create = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+l:M:g:m:w:c:L:s:h", opts, NULL)) != -1) {
        char *end;
        long v;
        switch (c) {
        case 'l':
            id = optarg;
            break;
        case 's':
            server = optarg;
            break;
        case 'M':
            json_object_set_new(body, "mode", json_string(optarg));
            create = 1;
            break;
        case 'g':
            v = strtol(optarg, &end, 10);
            json_object_set_new(body, "gpu",
                                *optarg && !*end && v >= 0 ? json_integer(v) : json_string(optarg));
            create = 1;
            break;
        case 'm':
            json_object_set_new(body, "memory", json_string(optarg));
            create = 1;
            break;
        case 'w':
        case 'c':
            v = strtol(optarg, &end, 10);
            json_object_set_new(body, c == 'w' ? "weight" : "cap",
                                *optarg && !*end ? json_integer(v) : json_string(optarg));
            create = 1;
            break;
        case 'L': {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                *handled = 1;
                json_decref(body);
                json_decref(labels);
                return gpx_cli_usage_error(&gpx_cmd_run, "--label needs KEY=VALUE, not '%s'",
                                           optarg);
            }
            char key[128];
            snprintf(key, sizeof key, "%.*s", (int)(eq - optarg), optarg);
            json_object_set_new(labels, key, json_string(eq + 1));
            create = 1;
            break;
        }
        default: /* --help and bad options: cmd_run.c says it */
            json_decref(body);
            json_decref(labels);
            return 0;
        }
    }
    char **cmd = argv + optind;
    int configured = gpx_client_daemon_configured(server);
    if (!create && !(id && configured)) {
        json_decref(body);
        json_decref(labels);
        return 0;
    }
    *handled = 1;
    int rc;
    if (create && id)
        rc = gpx_cli_usage_error(&gpx_cmd_run, "--lease and --mode/--gpu/--memory/... exclude "
                                               "each other");
    else if (optind >= argc)
        rc = gpx_cli_usage_error(&gpx_cmd_run, "needs a command to run");
    else if (create && !configured)
        rc = gpx_cli_usage_error(&gpx_cmd_run,
                                 "a lease for the life of a command needs gpuplexd: start it, or "
                                 "name it with --server or GPUPLEX_SERVER");
    else if (create && !json_object_get(body, "mode"))
        rc = gpx_cli_usage_error(&gpx_cmd_run, "needs --mode (exclusive, vgpu or timeslice)");
    else {
        if (json_object_size(labels))
            json_object_set(body, "labels", labels);
        int not_found = 0;
        rc = run_with(server, create ? body : NULL, id, cmd, &not_found);
        if (not_found)
            *handled = 0; /* not the daemon's lease: the direct path may know it */
    }
    json_decref(body);
    json_decref(labels);
    return rc;
}
