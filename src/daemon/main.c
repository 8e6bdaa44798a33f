/*
 * gpuplexd: the node daemon. Parses configuration (defaults < config file <
 * flags), takes the state directory's lock (one daemon per state), selects
 * the driver (the simulated one for --sim, exactly as the CLI does for
 * GPUPLEX_SIM), reconciles leases with their regions, then serves the API
 * until SIGTERM/SIGINT. Runs in the foreground and logs to stderr, for
 * systemd and containers (docs/daemon.md).
 */
#define _GNU_SOURCE
#include "core/driver.h"
#include "core/log.h"
#include "core/watchdog.h"
#include "daemon/daemon.h"
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: gpuplexd [options]\n"
    "\n"
    "The gpuplex node daemon: grants, persists, meters and releases GPU leases\n"
    "over an HTTP/JSON API on a unix socket (and optionally loopback TCP).\n"
    "\n"
    "options (each also a config-file key, in parentheses):\n"
    "  -c, --config FILE         config file (default " GPXD_DEFAULT_CONFIG ", if present)\n"
    "      --sim SPEC            simulate a node, e.g. 2xH100-80GB (sim); its state file\n"
    "                            is STATE_DIR/node.sim, kept across restarts\n"
    "      --state-dir DIR       database and lock (state_dir, default " GPXD_DEFAULT_STATE ")\n"
    "      --run-dir DIR         lease regions (run_dir, default $GPUPLEX_RUN_DIR or\n"
    "                            /run/gpuplex)\n"
    "      --socket PATH         unix socket (socket, default " GPXD_DEFAULT_SOCKET ")\n"
    "      --listen HOST:PORT    also serve TCP, loopback only (listen), e.g. 127.0.0.1:7470\n"
    "      --allow-remote        accept a non-loopback --listen address (allow_remote)\n"
    "      --placement POLICY    binpack (default) or spread (placement)\n"
    "      --oversubscription R  memory quotas may add up to R x GPU memory (default 1.0)\n"
    "      --grace DURATION      release leases whose owners exited this long ago (grace,\n"
    "                            default 30s)\n"
    "      --log-level LEVEL     error, warn, info (default) or debug (log_level)\n"
    "      --threads N           HTTP worker threads per listener (threads, default 2)\n"
    "      --set KEY=VALUE       any config key (see docs/daemon.md)\n"
    "  -h, --help                this help\n"
    "  -V, --version             print the version\n"
    "\n"
    "Exit status: 0 after SIGTERM/SIGINT, 2 for usage and configuration errors,\n"
    "otherwise the gpuplex exit status of the start-up error (docs/cli.md).\n";

static int fail(const gpx_error *e)
{
    fprintf(stderr, "gpuplexd: %s\n", e->msg[0] ? e->msg : gpx_error_default(e->code));
    return gpx_error_exit_status(e->code);
}

/* dir + "/" + name into out, or an error when it does not fit. */
static int path_join(char *out, size_t len, const char *dir, const char *name, gpx_error *err)
{
    size_t a = strlen(dir), b = strlen(name);
    if (a + 1 + b >= len)
        return gpx_error_set(err, GPX_E_INVALID, "path too long: %s/%s", dir, name);
    memcpy(out, dir, a); // NOLINT(bugprone-not-null-terminated-result): the NUL comes with name
    out[a] = '/';
    memcpy(out + a + 1, name, b + 1);
    return 0;
}

/* Copies a string that must fit. */
static int copy_str(char *out, size_t len, const char *s, gpx_error *err)
{
    size_t n = strlen(s);
    if (n >= len)
        return gpx_error_set(err, GPX_E_INVALID, "too long: %s", s);
    memcpy(out, s, n + 1);
    return 0;
}

static int mkdirs(const char *path, mode_t mode, gpx_error *err)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p)
        return gpx_error_set(err, GPX_E_INVALID, "path too long: %s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return gpx_error_errno(err, GPX_E_IO, errno, "creating %s", p);
        *s = '/';
    }
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        return gpx_error_errno(err, GPX_E_IO, errno, "creating %s", p);
    return 0;
}

/* The simulated node of --sim lives in the state directory and survives restarts. */
static int setup_sim(const struct gpxd_config *cfg, gpx_error *err)
{
    struct gpx_sim_spec spec;
    if (gpx_sim_spec_parse(cfg->sim, &spec, err) < 0)
        return gpx_error_wrap(err, "--sim");
    char path[PATH_MAX];
    if (path_join(path, sizeof path, cfg->state_dir, "node.sim", err) < 0)
        return -1;
    struct gpx_sim_state st;
    if (access(path, F_OK) == 0) {
        if (gpx_sim_open(path, &st, err) < 0)
            return -1;
        int same = st.hdr->gpu_count == spec.gpu_count;
        for (uint32_t i = 0; same && i < spec.gpu_count; i++)
            same = st.gpus[i].model == spec.models[i];
        gpx_sim_close(&st);
        if (!same)
            return gpx_error_set(err, GPX_E_STATE,
                                 "%s holds a simulated node other than '%s'; remove it to start "
                                 "afresh",
                                 path, cfg->sim);
    } else if (gpx_sim_create(path, &spec, err) < 0) {
        return -1;
    } else {
        gpx_info("simulated node %s created in %s", cfg->sim, path);
    }
    setenv("GPUPLEX_SIM", path, 1);
    return 0;
}

static void find_interposer(struct gpxd *d)
{
    if (d->cfg.interposer[0]) {
        copy_str(d->interposer, sizeof d->interposer, d->cfg.interposer, NULL);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = '\0';
    static const char *const rel[] = {"/../lib/libgpuplex-cuda.so",
                                      "/../lib/gpuplex/libgpuplex-cuda.so"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        char cand[PATH_MAX + 64], real[PATH_MAX];
        snprintf(cand, sizeof cand, "%s%s", exe, rel[i]);
        if (realpath(cand, real)) {
            copy_str(d->interposer, sizeof d->interposer, real, NULL);
            return;
        }
    }
}

/* The backstop behind the interposer (docs/threat-model.md), every watchdog_interval. */
static void watchdog_tick(struct gpxd *d)
{
    struct gpx_watch_report rep;
    gpx_error e = {0};
    gpx_watchdog_allowance = d->cfg.watchdog_allowance;
    if (gpx_watchdog_check(&d->nv, d->run_dir, (enum gpx_watch_enforce)d->cfg.watchdog, &rep, &e) <
        0) {
        gpx_warn("watchdog: %s", e.msg);
        return;
    }
    for (unsigned i = 0; i < rep.n; i++) {
        const struct gpx_watch_violation *v = &rep.v[i];
        gpx_warn("watchdog: %s%s%s on GPU %u: %llu bytes used%s, %u pid(s)%s",
                 gpx_watch_kind_name(v->kind), v->lease[0] ? " lease " : "", v->lease, v->gpu_index,
                 (unsigned long long)v->used_bytes,
                 v->kind == GPX_WATCH_OVER_QUOTA ? " over its quota" : "", v->npids,
                 d->cfg.watchdog == GPX_WATCH_KILL ? ", killed" : "");
    }
    gpx_watch_report_free(&rep);
}

static void *background(void *arg)
{
    struct gpxd *d = arg;
    int64_t next_inv = 0, next_rec = 0, next_ckpt = 0, next_wd = 0,
            next_meter = gpxd_now_ns() + (int64_t)d->cfg.meter_ms * 1000000;
    pthread_mutex_lock(&d->bg_lock);
    while (!d->stopping) {
        pthread_mutex_unlock(&d->bg_lock);
        int64_t now = gpxd_now_ns();
        if (now >= next_inv) {
            gpxd_inventory_refresh(d);
            next_inv = now + (int64_t)d->cfg.inventory_ms * 1000000;
        }
        if (now >= next_rec) {
            gpxd_reconcile_tick(d);
            next_rec = now + (int64_t)d->cfg.reconcile_ms * 1000000;
        }
        if (now >= next_meter) {
            gpxd_meter_tick(d);
            next_meter = now + (int64_t)d->cfg.meter_ms * 1000000;
        }
        if (d->cfg.watchdog >= 0 && now >= next_wd) {
            watchdog_tick(d);
            next_wd = now + (int64_t)d->cfg.watchdog_ms * 1000000;
        }
        if (now >= next_ckpt) {
            gpx_error e = {0};
            if (gpxd_store_checkpoint(d->store, &e) < 0)
                gpx_warn("database: %s", e.msg);
            next_ckpt = now + 1000000000LL;
        }
        int64_t next = next_inv < next_rec ? next_inv : next_rec;
        next = next < next_meter ? next : next_meter;
        next = next < next_ckpt ? next : next_ckpt;
        if (d->cfg.watchdog >= 0)
            next = next < next_wd ? next : next_wd;
        struct timespec ts = {.tv_sec = (time_t)(next / 1000000000), .tv_nsec = next % 1000000000};
        pthread_mutex_lock(&d->bg_lock);
        if (!d->stopping)
            pthread_cond_timedwait(&d->bg_cond, &d->bg_lock, &ts);
    }
    pthread_mutex_unlock(&d->bg_lock);
    return NULL;
}

int main(int argc, char **argv)
{
    static struct gpxd daemon_state;
    struct gpxd *d = &daemon_state;
    gpx_error err = {0};
    gpxd_config_defaults(&d->cfg);
    int env_level = gpx_log_parse_level(getenv("GPUPLEX_LOG"));
    if (env_level >= 0)
        d->cfg.log_level = env_level;

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
        O_SET
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
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    /* pass 1: the config file, so that flags (pass 2) override it */
    const char *config = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'h') {
            fputs(usage, stdout);
            return 0;
        } else if (c == 'V') {
            printf("gpuplexd %s\n", GPX_VERSION);
            return 0;
        } else if (c == '?') {
            fprintf(stderr, "gpuplexd: unknown option '%s'; try 'gpuplexd --help'\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "gpuplexd: unexpected argument '%s'; try 'gpuplexd --help'\n",
                argv[optind]);
        return 2;
    }
    if (gpxd_config_load(&d->cfg, config ? config : GPXD_DEFAULT_CONFIG, config != NULL, &err) < 0)
        return fail(&err);
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
            rc = gpxd_config_set(&d->cfg, "allow_remote", "true", &err);
        } else if (c == O_SET) {
            char kv[PATH_MAX + 64];
            snprintf(kv, sizeof kv, "%s", optarg);
            char *eq = strchr(kv, '=');
            if (!eq) {
                fprintf(stderr, "gpuplexd: --set needs KEY=VALUE, not '%s'\n", optarg);
                return 2;
            }
            *eq = '\0';
            rc = gpxd_config_set(&d->cfg, kv, eq + 1, &err);
        } else if (c >= O_SIM && c < O_SET) {
            rc = gpxd_config_set(&d->cfg, keys[c - O_SIM], optarg, &err);
        }
        if (rc < 0)
            return fail(&err);
    }
    if (d->cfg.listen[0]) {
        char h[64];
        unsigned p;
        if (gpxd_parse_listen(d->cfg.listen, d->cfg.allow_remote, h, sizeof h, &p, &err) < 0)
            return fail(&err);
    }
    gpx_log_set_level((enum gpx_log_level)d->cfg.log_level);

    /* one daemon per state directory */
    if (mkdirs(d->cfg.state_dir, 0755, &err) < 0)
        return fail(&err);
    char lockpath[PATH_MAX];
    if (path_join(lockpath, sizeof lockpath, d->cfg.state_dir, "gpuplexd.lock", &err) < 0)
        return fail(&err);
    int lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lockfd < 0) {
        gpx_error_errno(&err, GPX_E_IO, errno, "opening %s", lockpath);
        return fail(&err);
    }
    if (flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
        gpx_error_set(&err, GPX_E_BUSY, "another gpuplexd uses the state directory %s",
                      d->cfg.state_dir);
        return fail(&err);
    }
    char pid[32];
    int pn = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(lockfd, 0) == 0 && write(lockfd, pid, (size_t)pn) < 0)
        gpx_debug("writing the pid to %s failed", lockpath);

    if (d->cfg.sim[0] && setup_sim(&d->cfg, &err) < 0)
        return fail(&err);
    gpx_driver_select();

    d->started_ns = gpxd_now_ns();
    d->self_uid = geteuid();
    pthread_mutex_init(&d->lock, NULL);
    pthread_mutex_init(&d->inv_lock, NULL);
    pthread_mutex_init(&d->bg_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&d->bg_cond, &ca);
    if (d->cfg.hostname[0])
        copy_str(d->hostname, sizeof d->hostname, d->cfg.hostname, NULL);
    else if (gethostname(d->hostname, sizeof d->hostname - 1) < 0)
        copy_str(d->hostname, sizeof d->hostname, "localhost", NULL);
    if (copy_str(d->run_dir, sizeof d->run_dir, d->cfg.run_dir[0] ? d->cfg.run_dir : gpx_run_dir(),
                 &err) < 0 ||
        mkdirs(d->run_dir, 0755, &err) < 0)
        return fail(&err);
    /* workloads get GPUPLEX_RUN_DIR from lease answers: make it absolute */
    char real[PATH_MAX];
    if (!realpath(d->run_dir, real) || copy_str(d->run_dir, sizeof d->run_dir, real, &err) < 0) {
        gpx_error_errno(&err, GPX_E_IO, errno, "run directory %s", d->run_dir);
        return fail(&err);
    }
    find_interposer(d);
    if (!d->interposer[0])
        gpx_warn("no interposer (libgpuplex-cuda.so) found next to gpuplexd: vgpu and timeslice "
                 "leases get no LD_PRELOAD; set 'interposer' in the config");

    if (gpx_nvml_open(&d->nv, &err) < 0 || gpx_inventory_read(&d->nv, &d->inv, &err) < 0)
        return fail(&err);
    gpx_info("%u GPU%s, driver %s (NVML from %s)", d->inv.count, d->inv.count == 1 ? "" : "s",
             d->inv.driver_version, d->nv.path);
    gpxd_mig_open(d);

    char dbpath[PATH_MAX];
    if (path_join(dbpath, sizeof dbpath, d->cfg.state_dir, "gpuplexd.db", &err) < 0 ||
        gpxd_store_open(dbpath, &d->store, &err) < 0 || gpxd_ledger_open(d, &err) < 0)
        return fail(&err);

    /* signals are taken by sigwait below; threads started after this inherit the mask */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct gpxd_http *http = NULL;
    if (gpxd_http_start(d, &http, &err) < 0)
        return fail(&err);
    if (pthread_create(&d->bg, NULL, background, d) != 0) {
        gpx_error_set(&err, GPX_E_INTERNAL, "starting the background thread failed");
        gpxd_http_stop(http);
        return fail(&err);
    }
    d->bg_started = 1;
    gpx_info("gpuplexd %s ready: state %s, run dir %s, placement %s, oversubscription %.2f",
             GPX_VERSION, d->cfg.state_dir, d->run_dir, gpx_place_policy_name(d->cfg.placement),
             d->cfg.oversubscription);

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
        break;
    }
    gpxd_http_stop(http);
    pthread_mutex_lock(&d->bg_lock);
    d->stopping = 1;
    pthread_cond_signal(&d->bg_cond);
    pthread_mutex_unlock(&d->bg_lock);
    pthread_join(d->bg, NULL);
    gpxd_meter_tick(d);
    gpxd_ledger_close(d);
    gpxd_store_close(d->store);
    gpx_inventory_free(&d->inv);
    gpx_nvml_close(&d->nv);
    close(lockfd);
    return 0;
}
