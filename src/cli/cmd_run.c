/*
 * gpuplex run: runs CMD as the workload of a lease, through the one client
 * interface (gpuplexd or the engine in-process, the same either way).
 *
 *   gpuplex run --lease ID -- CMD      the environment of lease ID
 *   gpuplex run --mode MODE ... -- CMD a lease for the life of CMD: CMD is
 *       forked first and waits on a pipe, so that the lease names both
 *       gpuplex run and CMD as its owners (if both die without releasing it,
 *       the reconciler does); CMD is exec'd with the lease's environment once
 *       it is granted; the lease is released when CMD exits. No engine lock
 *       or connection is held while CMD runs.
 * The environment is the contract's (ARCHITECTURE.md): CUDA_VISIBLE_DEVICES,
 * GPUPLEX_LEASE, GPUPLEX_RUN_DIR and, for vgpu/timeslice, the interposer
 * ahead of LD_PRELOAD. SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed on to
 * CMD; its exit status is passed through (128+N for signal N).
 */
#define _GNU_SOURCE
#include "cli/cli.h"
#include "core/paths.h"
#include "engine/views.h"
#include "gpuplex/client.h"
#include "shm/lease.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int gpx_cli_interposer_path(char *out, size_t len, gpx_error *err)
{
    gpx_error e = {0};
    if (gpx_interposer_path(out, len, &e) == 0)
        return 0;
    return gpx_error_set(err, GPX_E_INTERNAL,
                         "the interposer %s is missing (%.300s): this lease's memory quota can't "
                         "be enforced without it; is gpuplex fully built/installed?",
                         GPX_INTERPOSER_NAME, e.msg);
}

static volatile sig_atomic_t child;

static void forward(int sig)
{
    if (child > 0)
        kill((pid_t)child, sig);
}

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define NFWD (sizeof forwarded / sizeof forwarded[0])
_Static_assert(NFWD == sizeof((struct gpx_cli_fwd *)0)->saved /
                           sizeof((struct gpx_cli_fwd *)0)->saved[0],
               "gpx_cli_fwd.saved holds one disposition per forwarded signal");

void gpx_cli_fwd_hold(struct gpx_cli_fwd *f)
{
    fflush(NULL);
    sigset_t block;
    sigemptyset(&block);
    for (size_t i = 0; i < NFWD; i++)
        sigaddset(&block, forwarded[i]);
    sigprocmask(SIG_BLOCK, &block, &f->old);
    struct sigaction sa = {0};
    sa.sa_handler = forward;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NFWD; i++)
        sigaction(forwarded[i], &sa, &f->saved[i]);
}

void gpx_cli_fwd_restore(const struct gpx_cli_fwd *f)
{
    for (size_t i = 0; i < NFWD; i++)
        sigaction(forwarded[i], &f->saved[i], NULL);
    sigprocmask(SIG_SETMASK, &f->old, NULL);
}

void gpx_cli_fwd_start(const struct gpx_cli_fwd *f, pid_t pid)
{
    child = pid;
    sigprocmask(SIG_SETMASK, &f->old, NULL);
}

void gpx_cli_fwd_end(void)
{
    child = 0;
}

/* LD_PRELOAD with the interposer first, unless it is there already. */
static int set_preload(const char *lib)
{
    const char *old = getenv("LD_PRELOAD");
    if (old && *old) {
        /* entries are separated by ':' or ' ' */
        size_t n = strlen(lib);
        for (const char *p = strstr(old, lib); p; p = strstr(p + 1, lib)) {
            int start = p == old || p[-1] == ':' || p[-1] == ' ';
            int end = p[n] == '\0' || p[n] == ':' || p[n] == ' ';
            if (start && end)
                return 0;
        }
    }
    size_t len = strlen(lib) + (old ? strlen(old) : 0) + 2;
    char *v = malloc(len);
    if (!v)
        return -1;
    snprintf(v, len, "%s%s%s", lib, old && *old ? ":" : "", old && *old ? old : "");
    int rc = setenv("LD_PRELOAD", v, 1);
    free(v);
    return rc;
}

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
        if (!eq)
            continue;
        *eq = '\0';
        if (!strcmp(kv, "LD_PRELOAD") ? set_preload(eq + 1) < 0 : setenv(kv, eq + 1, 1) < 0)
            _exit(125);
    }
    execvp(cmd[0], cmd);
    int e = errno;
    fprintf(stderr, "gpuplex run: %s: %s\n", cmd[0], strerror(e));
    _exit(e == ENOENT ? 127 : 126);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The lease's environment (the views' "env", the one spelling of it) down the pipe. */
static int write_env(int fd, const struct gpx_lease *l, gpx_error *err)
{
    json_t *o = gpx_view_lease(l, 0), *env = json_object_get(o, "env");
    int rc = 0;
    if (!json_is_object(env))
        rc = gpx_error_set(err, GPX_E_NOT_FOUND, "lease %s is %s", l->rec.id,
                           gpx_lease_state_name(l->rec.state));
    const char *k;
    json_t *v;
    json_object_foreach(env, k, v)
    {
        const char *s = json_string_value(v);
        if (rc == 0 && s &&
            (write_all(fd, k, strlen(k)) < 0 || write_all(fd, "=", 1) < 0 ||
             write_all(fd, s, strlen(s) + 1) < 0))
            rc = gpx_error_errno(err, GPX_E_INTERNAL, errno, "passing the environment");
    }
    json_decref(o);
    return rc;
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {GPX_CLI_LEASE_OPTIONS,
                                         {"lease", required_argument, NULL, 'l'},
                                         {"container", required_argument, NULL, 'C'},
                                         {"podman", required_argument, NULL, 'p'},
                                         {NULL, 0, NULL, 0}};
    const char *server = NULL, *id = NULL, *image = NULL, *podman = NULL;
    struct gpx_lease_spec spec;
    gpx_lease_spec_init(&spec);
    gpx_error err = {0};
    int c, create = 0, rc = 0;
    optind = 1;
    opterr = 0;
    /* '+': options end at CMD, so CMD's own options are left alone */
    while (rc == 0 && !image &&
           (c = getopt_long(argc, argv, "+l:C:p:" GPX_CLI_LEASE_OPTSTRING, opts, NULL)) != -1) {
        int r = gpx_cli_spec_flag(&spec, c, optarg, &err);
        if (r < 0)
            rc = gpx_cli_usage_error(&gpx_cmd_run, "%s", err.msg);
        else if (r > 0)
            create = 1;
        else if (c == 'l')
            id = optarg;
        else if (c == 'C')
            image = optarg; /* what follows is podman's, then CMD after "--" */
        else if (c == 'p')
            podman = optarg;
        else if (c == 's')
            server = optarg;
        else if (c == 'h') {
            gpx_lease_spec_clear(&spec);
            return gpx_cli_print_usage(&gpx_cmd_run);
        } else
            rc = gpx_cli_usage_error(&gpx_cmd_run, "unknown or incomplete option '%s'",
                                     argv[optind - 1]);
    }
    if (rc == 0 && create && id)
        rc = gpx_cli_usage_error(&gpx_cmd_run,
                                 "--lease and --mode/--gpu/--memory/... exclude each other");
    if (rc == 0 && !create && !id)
        rc = gpx_cli_usage_error(&gpx_cmd_run, "needs --lease ID, or --mode MODE for a new lease");
    if (rc == 0 && optind >= argc && !image)
        rc = gpx_cli_usage_error(&gpx_cmd_run, "needs a command to run");
    if (rc == 0 && podman && !image)
        rc = gpx_cli_usage_error(&gpx_cmd_run, "--podman is for --container IMAGE");
    if (rc == 0 && create && !(spec.given & 1u << GPX_F_MODE))
        rc = gpx_cli_usage_error(&gpx_cmd_run, "needs --mode (exclusive, vgpu, timeslice or mig)");
    if (rc == 0 && create && gpx_lease_spec_check(&spec, 1, GPX_NAMING_CLI, &err) < 0)
        rc = gpx_cli_usage_error(&gpx_cmd_run, "%s", err.msg);
    if (rc == 0 && id && !gpx_lease_id_valid(id)) {
        gpx_error_set(&err, GPX_E_INVALID, "invalid lease id '%s'", id);
        rc = gpx_cli_fail(&err);
    }
    if (rc == 0 && image) {
        rc = gpx_cli_run_container(server, create ? &spec : NULL, id, image, podman, argc - optind,
                                   argv + optind);
        gpx_lease_spec_clear(&spec);
        return rc;
    }
    if (rc) {
        gpx_lease_spec_clear(&spec);
        return rc;
    }
    char **cmd = argv + optind;

    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        gpx_lease_spec_clear(&spec);
        gpx_error_errno(&err, GPX_E_INTERNAL, errno, "pipe");
        return gpx_cli_fail(&err);
    }
    /* Signals that arrive before the child exists are held, then forwarded. */
    struct gpx_cli_fwd fwd;
    gpx_cli_fwd_hold(&fwd);
    pid_t pid = fork();
    if (pid < 0) {
        gpx_cli_fwd_restore(&fwd);
        gpx_lease_spec_clear(&spec);
        gpx_error_errno(&err, GPX_E_INTERNAL, errno, "fork");
        return gpx_cli_fail(&err);
    }
    if (pid == 0) {
        /* CMD gets the dispositions and mask gpuplex was given */
        gpx_cli_fwd_restore(&fwd);
        close(p[1]);
        child_main(p[0], cmd);
    }
    close(p[0]);
    gpx_cli_fwd_start(&fwd, pid);

    /* the lease, with the connection closed again before CMD runs */
    struct gpx_lease *l = malloc(sizeof *l);
    struct gpx_conn *cn = NULL;
    rc = l ? gpx_cli_connect(server, &cn) : 1;
    if (rc == 0 && create) {
        char pids[2][16];
        snprintf(pids[0], sizeof pids[0], "%d", (int)getpid());
        snprintf(pids[1], sizeof pids[1], "%d", (int)pid);
        gpx_lease_spec_set(&spec, GPX_F_OWNERS, pids[0], GPX_NAMING_CLI, NULL);
        gpx_lease_spec_set(&spec, GPX_F_OWNERS, pids[1], GPX_NAMING_CLI, NULL);
        if (gpx_lease_create(cn, &spec, l, &err) < 0)
            rc = gpx_cli_fail(&err);
    } else if (rc == 0 && gpx_lease_get(cn, id, 0, l, &err) < 0) {
        rc = gpx_cli_fail(&err);
    } else if (rc == 0 && l->region_error[0]) {
        gpx_error_set(&err, GPX_E_STATE, "lease %.64s: %.400s", id, l->region_error);
        rc = gpx_cli_fail(&err);
    }
    gpx_conn_close(cn);
    /* a shared lease's limits live in the interposer: never run without it */
    const struct gpx_lease_rec *lr = rc == 0 ? &l->rec : NULL;
    if (lr && (lr->mode == GPX_MODE_VGPU || lr->mode == GPX_MODE_TIMESLICE) && !l->interposer[0] &&
        gpx_cli_interposer_path(l->interposer, sizeof l->interposer, &err) < 0)
        rc = gpx_cli_fail(&err);
    if (rc == 0 && write_env(p[1], l, &err) < 0)
        rc = gpx_cli_fail(&err);
    close(p[1]); /* with nothing written, CMD exits 125 without running */
    gpx_lease_spec_clear(&spec);

    int status;
    pid_t w;
    do
        w = waitpid(pid, &status, 0);
    while (w < 0 && errno == EINTR);
    gpx_cli_fwd_end(); /* signals are dropped from here on: the release below runs to its end */
    if (rc == 0 && create) {
        gpx_error e2 = {0};
        if (gpx_cli_connect(server, &cn) != 0 || gpx_lease_release(cn, l->rec.id, NULL, &e2) < 0)
            fprintf(stderr,
                    "gpuplex run: releasing lease %s: %s (it is released once its owners are "
                    "gone)\n",
                    l->rec.id, e2.msg[0] ? e2.msg : "no connection");
        gpx_conn_close(cn);
    }
    free(l);
    if (rc)
        return rc;
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

const struct gpx_cmd gpx_cmd_run = {
    "run",
    run,
    "run a command as a workload of a lease",
    "usage: gpuplex run --lease ID [--] CMD [ARGS...]\n"
    "       gpuplex run --mode MODE [--gpu G] [--memory SIZE] [--weight W] [--cap PCT]\n"
    "                   [--mig-profile P] [--label K=V]... [--server S] [--] CMD [ARGS...]\n"
    "       gpuplex run (--mode MODE [lease flags] | --lease ID) [--podman PATH]\n"
    "                   --container IMAGE [PODMAN ARGS...] [-- CMD [ARGS...]]\n"
    "\n"
    "Runs CMD with the environment of lease ID:\n"
    "  CUDA_VISIBLE_DEVICES  the leased GPU's UUID\n"
    "  GPUPLEX_LEASE         ID (the interposer finds the lease's limits from it)\n"
    "  GPUPLEX_RUN_DIR       the run directory that holds the lease\n"
    "  LD_PRELOAD            for vgpu and timeslice leases, the interposer\n"
    "                        <gpuplex's dir>/../lib/gpuplex/libgpuplex-cuda.so (the\n"
    "                        build tree: ../lib/), ahead of any LD_PRELOAD already set\n"
    "SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed on to CMD.\n"
    "\n"
    "--mode asks for a lease for the life of CMD (with gpuplexd or without: the\n"
    "same engine): the lease's fields as in 'gpuplex lease create' (--label keys\n"
    "starting with 'gpuplex.' are gpuplexd's own: refused, exit 2); CMD starts once\n"
    "the lease is granted and the lease is released when CMD exits (if gpuplex run\n"
    "is killed, the lease is released once CMD's processes are gone). Exit status 7\n"
    "when the lease does not fit, 9 when gpuplexd is unreachable, 10 when it\n"
    "refuses the caller.\n"
    "\n"
    "--container IMAGE runs the workload as a container instead:\n"
    "  podman run --rm --device gpuplex.dev/gpu=lease-<id> PODMAN ARGS IMAGE CMD\n"
    "(options after IMAGE are podman's, CMD comes after '--'). With --mode the\n"
    "lease is made for the container (label gpuplex.container=1): its CDI device\n"
    "carries hooks that release it when the container stops, gpuplex run releases\n"
    "it after podman returns, and the reconciler once both are gone. Without\n"
    "gpuplexd the spec (gpuplexd.conf's cdi_spec) is rewritten before and after.\n"
    "  --podman PATH   the podman to run (default $GPUPLEX_PODMAN, else podman)\n"
    "The exit status is podman's: the container's, 125 podman failed, 126/127 CMD\n"
    "can't run / not found in the image. SIGINT, SIGTERM, SIGHUP, SIGQUIT go to\n"
    "podman (which passes them to the container).\n"
    "\n"
    "exit status: CMD's; 128+N when CMD was killed by signal N; 127 when CMD is not\n"
    "found, 126 when it can't be executed; 2 bad usage or lease id; 5 no such lease;\n"
    "1 the interposer is missing.\n",
};
