/*
 * gpuplexd: the node daemon. Parses configuration (defaults < config file <
 * flags), sets up the simulated node for --sim (by running `gpuplex sim
 * init`: the daemon links nothing of the simulator, and selects the driver
 * exactly as the CLI does for GPUPLEX_SIM), opens the lease engine on its
 * state directory (which takes the state's lock: one daemon per state, and no
 * CLI command works on it behind the daemon's back), then serves the API until
 * SIGTERM/SIGINT. Runs in the foreground and logs to stderr, for systemd and
 * containers (docs/daemon.md).
 */
#define _GNU_SOURCE
#include "core/driver.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/roff.h"
#include "daemon/daemon.h"
#include "shm/pidns.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

static const char usage[] =
    "usage: gpuplexd [options]\n"
    "       gpuplexd --check-config [FILE] [options]\n"
    "\n"
    "The gpuplex node daemon: grants, persists, meters and releases GPU leases\n"
    "over an HTTP/JSON API on a unix socket (and optionally loopback TCP).\n"
    "\n"
    "options (each also a config-file key, in parentheses):\n"
    "  -c, --config FILE         config file (default " GPXD_DEFAULT_CONFIG ", if present:\n"
    "                            defaults without it; any other FILE must exist)\n"
    "      --check-config [FILE] validate FILE (default: the --config file) with the other\n"
    "                            options applied, print the effective settings (every key,\n"
    "                            as config lines) and exit: 0 valid, 2 invalid or unreadable\n"
    "      --sim SPEC            simulate a node, e.g. 2xH100-80GB (sim); its state file\n"
    "                            is STATE_DIR/node.sim, kept across restarts\n"
    "      --state-dir DIR       database and lock (state_dir, default " GPXD_DEFAULT_STATE ")\n"
    "      --run-dir DIR         lease regions (run_dir, default $GPUPLEX_RUN_DIR or\n"
    "                            /run/gpuplex)\n"
    "      --socket PATH         unix socket (socket, default " GPXD_DEFAULT_SOCKET ")\n"
    "      --listen HOST:PORT    also serve TCP, loopback only (listen), e.g. 127.0.0.1:7470;\n"
    "                            HTTPS with --set tls_cert=FILE --set tls_key=FILE\n"
    "      --allow-remote        accept a non-loopback --listen address (allow_remote);\n"
    "                            plain HTTP there also needs allow_plain_http\n"
    "      --placement POLICY    binpack (default) or spread (placement)\n"
    "      --oversubscription R  memory quotas may add up to R x GPU memory (default 1.0)\n"
    "      --grace DURATION      release leases whose owners exited this long ago (grace,\n"
    "                            default 30s)\n"
    "      --log-level LEVEL     error, warn, info (default) or debug (log_level)\n"
    "      --threads N           unused: each HTTP connection has a thread (threads)\n"
    "      --set KEY=VALUE       any config key (see docs/daemon.md)\n"
    "  -h, --help                this help\n"
    "  -V, --version             print the version\n"
    "\n"
    "Exit status: 0 after SIGTERM/SIGINT, 2 for usage and configuration errors,\n"
    "otherwise the gpuplex exit status of the start-up error (docs/cli.md).\n";

/*
 * gpuplexd(8) and gpuplexd.conf(5), written from the usage text above and the
 * config key table (hidden --help-man, --config-man: the build runs them), so
 * that the pages can't drift from --help and --check-config.
 */
static int man_daemon(void)
{
    gpx_roff_th(stdout, "GPUPLEXD", 8, "System Administration");
    fputs(".SH NAME\ngpuplexd \\- the gpuplex node daemon\n", stdout);
    gpx_roff_usage(stdout, usage, "DESCRIPTION");
    fputs(".SH FILES\n.TP\n.I " GPXD_DEFAULT_CONFIG
          "\nthe config file, see\n.BR gpuplexd.conf (5)\n"
          ".TP\n.I " GPXD_DEFAULT_SOCKET "\nthe API's unix socket\n"
          ".TP\n.I " GPXD_DEFAULT_STATE "\nthe state directory\n"
          ".SH SEE ALSO\n.BR gpuplex (1),\n.BR gpuplexd.conf (5)\n",
          stdout);
    return 0;
}

static int man_config(const char *example_path)
{
    /* the commented example config: each key's meaning is the comment above it */
    FILE *f = fopen(example_path, "re");
    char *example = f ? calloc(1, 64 * 1024) : NULL;
    size_t n = example ? fread(example, 1, 64 * 1024 - 1, f) : 0;
    if (f)
        fclose(f);
    if (!example || n == 0) {
        fprintf(stderr, "gpuplexd: --config-man: cannot read %s\n", example_path);
        free(example);
        return 2;
    }
    gpx_roff_th(stdout, "GPUPLEXD.CONF", 5, "File Formats");
    fputs(".SH NAME\ngpuplexd.conf \\- configuration of the gpuplex node daemon\n"
          ".SH SYNOPSIS\n.I " GPXD_DEFAULT_CONFIG "\n"
          ".SH DESCRIPTION\n"
          "One\n.I key\n=\n.I value\nper line; blank lines and lines whose first non-blank\n"
          "character is # are ignored; values are taken verbatim after trimming (no quoting,\n"
          "no escapes). Unknown and repeated keys are errors that name the file and line.\n"
          "Flags of\n.BR gpuplexd (8)\noverride the file (\\-\\-set KEY=VALUE any key);\n"
          ".B gpuplexd \\-\\-check\\-config\nprints the effective value of every key.\n"
          ".SH KEYS\n",
          stdout);
    int rc = gpxd_config_man(stdout, example) < 0 ? 1 : 0;
    free(example);
    if (rc == 0)
        fputs(".SH SEE ALSO\n.BR gpuplexd (8),\n.BR gpuplex (1)\n", stdout);
    return rc;
}

static int fail(const gpx_error *e)
{
    fprintf(stderr, "gpuplexd: %s\n", e->msg[0] ? e->msg : gpx_error_default(e->code));
    return gpx_error_exit_status(e->code);
}

/* Tells systemd (sd_notify, $NOTIFY_SOCKET) a state change: READY=1, STOPPING=1. */
static void notify(const char *state)
{
    int rc = sd_notify(0, state);
    if (rc < 0)
        gpx_warn("telling systemd at $NOTIFY_SOCKET: %s", strerror(-rc));
}

/* dir + "/" + name into out, or an error when it does not fit. */
/*
 * The simulated node of --sim lives in the state directory and survives
 * restarts. It is made by `gpuplex sim init` (next to gpuplexd), so that the
 * daemon links no simulator code; an existing one is kept as it is.
 */
static int setup_sim(const struct gpxd_config *cfg, gpx_error *err)
{
    char path[PATH_MAX], exe[PATH_MAX], gpx[PATH_MAX + 16];
    if ((size_t)snprintf(path, sizeof path, "%s/node.sim", cfg->state_dir) >= sizeof path)
        return gpx_error_set(err, GPX_E_INVALID, "path too long: %s", cfg->state_dir);
    if (access(path, F_OK) != 0) {
        if (gpx_exe_dir(exe, sizeof exe, err) < 0)
            return -1;
        /* beside us in the build tree; installed, gpuplexd is in sbin/ and gpuplex in bin/ */
        snprintf(gpx, sizeof gpx, "%s/gpuplex", exe);
        if (access(gpx, X_OK) != 0)
            snprintf(gpx, sizeof gpx, "%s/../bin/gpuplex", exe);
        pid_t pid = fork();
        if (pid < 0)
            return gpx_error_errno(err, GPX_E_INTERNAL, errno, "fork");
        if (pid == 0) {
            int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
            if (null >= 0)
                dup2(null, STDOUT_FILENO); /* its "created" line; errors stay on stderr */
            execl(gpx, gpx, "sim", "init", "--gpus", cfg->sim, "--state", path, (char *)NULL);
            fprintf(stderr, "gpuplexd: --sim needs %s: %s\n", gpx, strerror(errno));
            _exit(127);
        }
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            return gpx_error_set(err,
                                 WIFEXITED(st) && WEXITSTATUS(st) == 2 ? GPX_E_USAGE : GPX_E_STATE,
                                 "--sim %s: 'gpuplex sim init' failed (see above)", cfg->sim);
        gpx_info("simulated node %s created in %s", cfg->sim, path);
    } else {
        gpx_info("simulated node: keeping %s (remove it to start afresh)", path);
    }
    setenv("GPUPLEX_SIM", path, 1);
    return 0;
}

int main(int argc, char **argv)
{
    static struct gpxd_config cfg;
    gpx_error err = {0};
    gpxd_config_defaults(&cfg);
    /* gpuplexd runs in the host's pid namespace (or one above every tenant's): a container's
     * process it cannot find in /proc is gone, and its lease slots are reaped (shm/pidns.h) */
    gpx_pidns_set_supervisor(1);
    int env_level = gpx_log_parse_level(getenv("GPUPLEX_LOG"));
    if (env_level >= 0)
        cfg.log_level = env_level;

    enum {
        O_SIM = 256,
        O_STATE,
        O_RUN,
        O_SOCKET,
        O_LISTEN,
        O_REMOTE,
        O_PLACEMENT,
        O_OVERSUB,
        O_GRACE,
        O_LOG,
        O_THREADS,
        O_SET,
        O_CHECK,
        O_HELP_MAN,
        O_CONFIG_MAN
    };
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"sim", required_argument, NULL, O_SIM},
                                         {"state-dir", required_argument, NULL, O_STATE},
                                         {"run-dir", required_argument, NULL, O_RUN},
                                         {"socket", required_argument, NULL, O_SOCKET},
                                         {"listen", required_argument, NULL, O_LISTEN},
                                         {"allow-remote", no_argument, NULL, O_REMOTE},
                                         {"placement", required_argument, NULL, O_PLACEMENT},
                                         {"oversubscription", required_argument, NULL, O_OVERSUB},
                                         {"grace", required_argument, NULL, O_GRACE},
                                         {"log-level", required_argument, NULL, O_LOG},
                                         {"threads", required_argument, NULL, O_THREADS},
                                         {"set", required_argument, NULL, O_SET},
                                         {"check-config", no_argument, NULL, O_CHECK},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"help-man", no_argument, NULL, O_HELP_MAN},
                                         {"config-man", required_argument, NULL, O_CONFIG_MAN},
                                         {NULL, 0, NULL, 0}};
    /* pass 1: the config file, so that flags (pass 2) override it */
    const char *config = NULL;
    int c, check = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == O_CHECK)
            check = 1;
        else if (c == 'h') {
            fputs(usage, stdout);
            return 0;
        } else if (c == O_HELP_MAN) {
            return man_daemon();
        } else if (c == O_CONFIG_MAN) {
            return man_config(optarg);
        } else if (c == 'V') {
            printf("gpuplexd %s\n", GPX_VERSION);
            return 0;
        } else if (c == '?') {
            fprintf(stderr, "gpuplexd: unknown option '%s'; try 'gpuplexd --help'\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    /* --check-config's FILE: the one operand gpuplexd takes (getopt moved it last) */
    if (check && optind == argc - 1) {
        if (config) {
            fprintf(stderr,
                    "gpuplexd: --check-config %s and --config %s name two files; give "
                    "one\n",
                    argv[optind], config);
            return 2;
        }
        config = argv[optind++];
    }
    if (optind < argc) {
        fprintf(stderr, "gpuplexd: unexpected argument '%s'; try 'gpuplexd --help'\n",
                argv[optind]);
        return 2;
    }
    /*
     * The config file is optional where gpuplexd looks by default (also when
     * --config names that path, as the packaged unit does): a node runs on
     * defaults until someone writes one. Any other file was asked for, and a
     * missing one is an error rather than a silent fall back to defaults.
     */
    const char *path = config ? config : GPXD_DEFAULT_CONFIG;
    int must_exist = strcmp(path, GPXD_DEFAULT_CONFIG) != 0;
    int absent = !must_exist && access(path, F_OK) != 0 && errno == ENOENT;
    if (absent && check)
        fprintf(stderr, "gpuplexd: no config file at %s: defaults\n", path);
    if (gpxd_config_load(&cfg, path, must_exist, &err) < 0)
        return check ? (fail(&err), 2) : fail(&err);
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        static const char *const keys[] = {
            [O_SIM - O_SIM] = "sim",
            [O_STATE - O_SIM] = "state_dir",
            [O_RUN - O_SIM] = "run_dir",
            [O_SOCKET - O_SIM] = "socket",
            [O_LISTEN - O_SIM] = "listen",
            [O_REMOTE - O_SIM] = "allow_remote",
            [O_PLACEMENT - O_SIM] = "placement",
            [O_OVERSUB - O_SIM] = "oversubscription",
            [O_GRACE - O_SIM] = "grace",
            [O_LOG - O_SIM] = "log_level",
            [O_THREADS - O_SIM] = "threads",
        };
        int rc = 0;
        if (c == O_REMOTE) {
            rc = gpxd_config_set(&cfg, "allow_remote", "true", &err);
        } else if (c == O_SET) {
            char kv[PATH_MAX + 64];
            snprintf(kv, sizeof kv, "%s", optarg);
            char *eq = strchr(kv, '=');
            if (!eq) {
                fprintf(stderr, "gpuplexd: --set needs KEY=VALUE, not '%s'\n", optarg);
                return 2;
            }
            *eq = '\0';
            rc = gpxd_config_set(&cfg, kv, eq + 1, &err);
        } else if (c >= O_SIM && c < O_SET) {
            rc = gpxd_config_set(&cfg, keys[c - O_SIM], optarg, &err);
        }
        if (rc < 0)
            return check ? (fail(&err), 2) : fail(&err);
    }
    if (gpxd_config_check(&cfg, &err) < 0)
        return check ? (fail(&err), 2) : fail(&err);
    if (check)
        return gpxd_config_write(&cfg, stdout) == 0 ? 0 : 1;
    gpx_log_set_level((enum gpx_log_level)cfg.log_level);
    if (absent)
        gpx_info("no config file at %s: defaults", path);

    if (gpx_mkdirs_private(cfg.state_dir, GPX_STATE_DIR_MODE, &err) < 0)
        return fail(&err);
    if (cfg.sim[0] && setup_sim(&cfg, &err) < 0)
        return fail(&err);
    gpx_driver_select();

    /* signals are taken by sigwait below; threads started after this inherit the mask */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct gpxd *d = NULL;
    if (gpxd_open(&cfg, &d, &err) < 0)
        return fail(&err);
    if (gpxd_serve(d, &err) < 0) {
        gpxd_close(d);
        return fail(&err);
    }
    struct gpx_health h;
    gpx_engine_health(d->eng, 1, &h);
    gpx_info("gpuplexd %s ready: %u GPU%s, driver %s, state %s, run dir %s, placement %s, "
             "oversubscription %.2f",
             GPX_VERSION, h.gpus, h.gpus == 1 ? "" : "s", h.driver_version, cfg.state_dir,
             h.run_dir, h.placement, h.oversubscription);
    /* Type=notify (packaging/gpuplexd.service.in): the socket answers from here on. Without
     * $NOTIFY_SOCKET (not under systemd) sd_notify does nothing. */
    notify("READY=1\nSTATUS=serving");

    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            gpx_info("SIGHUP: nothing to reload (tenants live in the database); restart to "
                     "apply configuration changes");
            continue;
        }
        gpx_info("signal %d: shutting down", sig);
        notify("STOPPING=1\nSTATUS=shutting down");
        break;
    }
    gpxd_close(d);
    return 0;
}
