/*
 * gpuplex run --lease ID -- CMD: runs CMD as a workload of a lease. Sets the
 * environment of the contract (ARCHITECTURE.md): CUDA_VISIBLE_DEVICES = the
 * leased GPU's UUID, GPUPLEX_LEASE = ID, and for vgpu/timeslice leases the
 * interposer in LD_PRELOAD; then forks, execs, forwards SIGINT/SIGTERM/
 * SIGHUP/SIGQUIT to the child and exits with its status (128+N if killed by
 * signal N, as shells do).
 */
#define _GNU_SOURCE
#include "cli/cli.h"
#include "shm/lease.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define INTERPOSER_NAME "libgpuplex-cuda.so"

int gpx_cli_interposer_path(char *out, size_t len, gpx_error *err)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return gpx_error_errno(err, GPX_E_INTERNAL, errno, "finding the gpuplex binary");
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    /* build tree and `make install` (<prefix>/lib), then a distribution's <prefix>/lib/gpuplex */
    static const char *const rel[] = {"/../lib/", "/../lib/gpuplex/"};
    char first[PATH_MAX] = "";
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        char cand[PATH_MAX];
        if ((size_t)snprintf(cand, sizeof cand, "%s%s" INTERPOSER_NAME, exe, rel[i]) >= sizeof cand)
            continue;
        if (!first[0])
            snprintf(first, sizeof first, "%s", cand);
        char real[PATH_MAX];
        if (realpath(cand, real) && access(real, R_OK) == 0) {
            if ((size_t)snprintf(out, len, "%s", real) >= len)
                return gpx_error_set(err, GPX_E_INTERNAL, "interposer path too long");
            return 0;
        }
    }
    return gpx_error_set(err, GPX_E_INTERNAL,
                         "the interposer %s is missing (looked for %s): this lease's memory "
                         "quota can't be enforced without it; is gpuplex fully built/installed?",
                         INTERPOSER_NAME, first);
}

static volatile sig_atomic_t child_pid;

static void forward(int sig)
{
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

/* LD_PRELOAD with the interposer first, unless it is there already. */
static int set_preload(const char *lib, gpx_error *err)
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
        return gpx_error_set(err, GPX_E_NOMEM, "LD_PRELOAD");
    snprintf(v, len, "%s%s%s", lib, old && *old ? ":" : "", old && *old ? old : "");
    int rc = setenv("LD_PRELOAD", v, 1);
    free(v);
    return rc < 0 ? gpx_error_errno(err, GPX_E_NOMEM, errno, "setting LD_PRELOAD") : 0;
}

static int run(int argc, char **argv)
{
    int handled, rc = gpx_cli_run_daemon(argc, argv, &handled); /* gpuplexd, if configured */
    if (handled)
        return rc;
    static const struct option opts[] = {{"lease", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *id = NULL;
    int c;
    optind = 1;
    opterr = 0;
    /* '+': options end at CMD, so CMD's own options are left alone */
    while ((c = getopt_long(argc, argv, "+l:h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            id = optarg;
            break;
        case 'h':
            return gpx_cli_print_usage(&gpx_cmd_run);
        default: {
            const char *o = argv[optind - 1];
            static const char *const daemon_only[] = {
                "--mode", "--memory", "--weight", "--cap", "--gpu", "--mig-profile", "--label"};
            for (size_t i = 0; i < sizeof daemon_only / sizeof daemon_only[0]; i++)
                if (!strncmp(o, daemon_only[i], strlen(daemon_only[i])))
                    return gpx_cli_usage_error(
                        &gpx_cmd_run,
                        "'%s' makes a lease for the command, which needs gpuplexd (none "
                        "reachable: set --server or GPUPLEX_SERVER); without it, create one with "
                        "'gpuplex lease create' and run with --lease ID",
                        o);
            return gpx_cli_usage_error(&gpx_cmd_run, "unknown or incomplete option '%s'", o);
        }
        }
    }
    if (!id)
        return gpx_cli_usage_error(&gpx_cmd_run, "needs --lease ID");
    if (optind >= argc)
        return gpx_cli_usage_error(&gpx_cmd_run, "needs a command to run");
    char **cmd = argv + optind;

    gpx_error err = {0};
    if (!gpx_lease_id_valid(id)) {
        gpx_error_set(&err, GPX_E_INVALID, "invalid lease id '%s'", id);
        return gpx_cli_fail(&err);
    }
    const char *dir = gpx_run_dir();
    struct gpx_lease_region r;
    if (gpx_lease_region_open(dir, id, &r, &err) < 0) {
        if (err.code == GPX_E_NOT_FOUND)
            gpx_error_set(&err, GPX_E_NOT_FOUND, "no lease %s (see 'gpuplex lease ls')", id);
        return gpx_cli_fail(&err);
    }
    struct gpx_lease_limits lim = *r.limits;
    gpx_lease_region_close(&r);

    if (lim.mode == GPX_MODE_VGPU || lim.mode == GPX_MODE_TIMESLICE) {
        char lib[PATH_MAX];
        if (gpx_cli_interposer_path(lib, sizeof lib, &err) < 0 || set_preload(lib, &err) < 0)
            return gpx_cli_fail(&err);
    }
    if (setenv("CUDA_VISIBLE_DEVICES", lim.gpu_uuid, 1) < 0 ||
        setenv("GPUPLEX_LEASE", lim.id, 1) < 0 || setenv("GPUPLEX_RUN_DIR", dir, 1) < 0) {
        gpx_error_errno(&err, GPX_E_NOMEM, errno, "setting the environment");
        return gpx_cli_fail(&err);
    }
    fflush(NULL);

    /* Signals that arrive before the child exists are held, then forwarded. */
    sigset_t block, old;
    sigemptyset(&block);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
        sigaddset(&block, forwarded[i]);
    sigprocmask(SIG_BLOCK, &block, &old);
    struct sigaction sa = {0}, saved[sizeof forwarded / sizeof forwarded[0]];
    sa.sa_handler = forward;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
        sigaction(forwarded[i], &sa, &saved[i]);

    pid_t pid = fork();
    if (pid < 0) {
        gpx_error_errno(&err, GPX_E_INTERNAL, errno, "fork");
        return gpx_cli_fail(&err);
    }
    if (pid == 0) {
        /* CMD gets the dispositions and mask gpuplex was given (an ignored SIGINT stays
         * ignored, as it would without gpuplex in between). */
        for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
            sigaction(forwarded[i], &saved[i], NULL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        execvp(cmd[0], cmd);
        int e = errno;
        fprintf(stderr, "gpuplex run: %s: %s\n", cmd[0], strerror(e));
        _exit(e == ENOENT ? 127 : 126);
    }
    child_pid = pid;
    sigprocmask(SIG_SETMASK, &old, NULL);

    int status;
    pid_t w;
    do
        w = waitpid(pid, &status, 0);
    while (w < 0 && errno == EINTR);
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
    "                   [--label K=V]... [--server S] [--] CMD [ARGS...]\n"
    "\n"
    "Runs CMD with the environment of lease ID:\n"
    "  CUDA_VISIBLE_DEVICES  the leased GPU's UUID\n"
    "  GPUPLEX_LEASE         ID (the interposer finds the lease's limits from it)\n"
    "  GPUPLEX_RUN_DIR       the run directory that holds the lease\n"
    "  LD_PRELOAD            for vgpu and timeslice leases, the interposer\n"
    "                        <gpuplex's dir>/../lib/libgpuplex-cuda.so, ahead of any\n"
    "                        LD_PRELOAD already set\n"
    "SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed on to CMD.\n"
    "\n"
    "With gpuplexd (--server S, GPUPLEX_SERVER, or its default socket answering;\n"
    "GPUPLEX_SERVER=none: never), --lease takes ID's environment from the daemon,\n"
    "and --mode asks it for a lease for the life of CMD: the lease's fields as in\n"
    "'gpuplex lease create'; CMD starts once the lease is granted and the lease is\n"
    "released when CMD exits (if gpuplex run is killed, gpuplexd releases it after\n"
    "CMD's processes are gone). Exit status 7 when the lease does not fit, 9 when\n"
    "gpuplexd is unreachable, 10 when it refuses the caller.\n"
    "\n"
    "exit status: CMD's; 128+N when CMD was killed by signal N; 127 when CMD is not\n"
    "found, 126 when it can't be executed; 2 bad usage or lease id; 5 no such lease;\n"
    "1 the interposer is missing.\n",
};
