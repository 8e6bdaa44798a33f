/*
 * gpuplexd's life: open the engine on the configured state, serve, stop.
 * Also the timers a long-lived host runs (a CLI command does the same work
 * once, when it opens the engine): inventory, reconciliation, metering,
 * WAL checkpoints and the watchdog backstop (docs/threat-model.md).
 */
#define _GNU_SOURCE
#include "cdi/cdi.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/watchdog.h"
#include "daemon/daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void find_interposer(struct gpxd *d)
{
    if (d->cfg.interposer[0])
        snprintf(d->interposer, sizeof d->interposer, "%s", d->cfg.interposer);
    else if (gpx_interposer_path(d->interposer, sizeof d->interposer, NULL) < 0)
        d->interposer[0] = '\0';
}

/* The CDI spec writer (src/cdi): an observer of the engine, before anything serves. */
static int start_cdi(struct gpxd *d, gpx_error *err)
{
    if (!d->cfg.cdi_spec[0])
        return 0;
    struct gpx_cdi_opts co = {
        .cdi_version = d->cfg.cdi_version,
        .dev_root = d->cfg.cdi_dev_root,
        .driver_libs = d->cfg.cdi_driver_libs,
        .env = d->cfg.cdi_env,
        .mounts = d->cfg.cdi_mounts,
        .interposer = d->interposer,
    };
    /* leases made for containers get hooks that run our CLI beside us (`gpuplex cdi-hook`) */
    static const char *const cli[] = {"/gpuplex"};
    char hook[4096];
    struct gpx_health h;
    gpx_engine_health(d->eng, 1, &h);
    if (gpx_beside_exe(cli, 1, hook, sizeof hook, NULL) == 0) {
        co.hook = hook;
        co.state_dir = h.state_dir;
    }
    return gpx_cdi_writer_start(d->eng, &co, d->cfg.cdi_spec, &d->cdi, err);
}

int gpxd_open(const struct gpxd_config *cfg, struct gpxd **out, gpx_error *err)
{
    struct gpxd *d = calloc(1, sizeof *d);
    if (!d)
        return gpx_error_set(err, GPX_E_NOMEM, "daemon");
    d->cfg = *cfg;
    d->started_ns = gpx_now_ns();
    pthread_mutex_init(&d->bg_lock, NULL);
    pthread_cond_init(&d->bg_cond, NULL);
    pthread_mutex_init(&d->metrics_lock, NULL);
    if (d->cfg.hostname[0])
        snprintf(d->hostname, sizeof d->hostname, "%s", d->cfg.hostname);
    else if (gethostname(d->hostname, sizeof d->hostname - 1) < 0)
        snprintf(d->hostname, sizeof d->hostname, "localhost");
    find_interposer(d);
    if (!d->interposer[0])
        gpx_warn("no interposer (libgpuplex-cuda.so) found next to gpuplexd: vgpu and timeslice "
                 "leases get no LD_PRELOAD; set 'interposer' in the config");
    if (d->cfg.web) {
        gpx_error we = {0};
        if (gpxd_web_root(&d->cfg, d->web_root, sizeof d->web_root, &we) < 0) {
            d->web_root[0] = '\0';
            gpx_warn("web dashboard: %s: / answers 404 (set web_root, or web = off)", we.msg);
        } else {
            gpx_debug("web dashboard: / serves %s", d->web_root);
        }
    }
    struct gpx_engine_opts o = {
        .state_dir = d->cfg.state_dir,
        .run_dir = d->cfg.run_dir[0] ? d->cfg.run_dir : gpx_run_dir(),
        .interposer = d->interposer,
        .placement = d->cfg.placement,
        .oversubscription = d->cfg.oversubscription,
        .grace_ms = d->cfg.grace_ms,
        .max_leases_per_tenant = d->cfg.max_leases_per_tenant,
        .daemon = 1,
    };
    /* the VMs first: the domains of ended leases are destroyed before their devices go back */
    if (gpx_engine_open(&o, &d->eng, err) < 0 || gpxd_vms_open(d, err) < 0) {
        gpxd_close(d);
        return -1;
    }
    /* sysfs as the store says (VM leases' devices) before anything serves or restarts a VM */
    gpxd_vmhost_reconcile(d);
    if (start_cdi(d, err) < 0 || gpxd_containers_open(d, err) < 0 ||
        gpxd_functions_open(d, err) < 0) {
        gpxd_close(d);
        return -1;
    }
    *out = d;
    return 0;
}

static void log_violation(const struct gpx_watch_violation *v, enum gpx_watch_enforce enforce)
{
    char who[32] = "", kill[80] = "";
    if (v->uid_known)
        snprintf(who, sizeof who, " (uid %u)", (unsigned)v->uid);
    if (enforce == GPX_WATCH_KILL)
        snprintf(kill, sizeof kill, ", %u killed%s%s", v->killed, v->kill_errno ? ": " : "",
                 v->kill_errno ? strerror(v->kill_errno) : "");
    if (v->kind == GPX_WATCH_OVER_QUOTA)
        gpx_warn("watchdog: over_quota lease %s%s on GPU %u: %llu bytes used > quota %llu + "
                 "allowance %llu, %u pid(s)%s",
                 v->lease, who, v->gpu_index, (unsigned long long)v->used_bytes,
                 (unsigned long long)v->quota_bytes, (unsigned long long)v->allowance_bytes,
                 v->npids, kill);
    else
        gpx_warn("watchdog: unleased pid %d%s on GPU %u: %llu bytes used%s", (int)v->pids[0], who,
                 v->gpu_index, (unsigned long long)v->used_bytes, kill);
}

/* The backstop behind the interposer (docs/threat-model.md), every watchdog_interval. */
static void watchdog_tick(struct gpxd *d)
{
    struct gpx_watch_report rep;
    gpx_error e = {0};
    struct gpx_watch_opts o = {
        .enforce = (enum gpx_watch_enforce)d->cfg.watchdog,
        .allowance = d->cfg.watchdog_allowance,
        .lease_allowance = d->cfg.watchdog_lease_allowance,
    };
    if (gpx_watchdog_check(gpx_engine_nvml(d->eng), gpx_engine_run_dir(d->eng), &o, &rep, &e) < 0) {
        gpx_warn("watchdog: %s", e.msg);
        return;
    }
    for (unsigned i = 0; i < rep.n; i++)
        log_violation(&rep.v[i], o.enforce);
    gpx_watch_report_free(&rep);
}

static void *background(void *arg)
{
    struct gpxd *d = arg;
    int64_t next_inv = 0, next_rec = 0, next_ckpt = 0, next_wd = 0,
            next_meter = gpx_now_ns() + (int64_t)d->cfg.meter_ms * 1000000;
    pthread_mutex_lock(&d->bg_lock);
    while (!d->stopping) {
        pthread_mutex_unlock(&d->bg_lock);
        int64_t now = gpx_now_ns();
        if (now >= next_inv) {
            gpx_engine_inventory_refresh(d->eng);
            next_inv = now + (int64_t)d->cfg.inventory_ms * 1000000;
        }
        if (now >= next_rec) {
            gpx_engine_reconcile(d->eng);
            next_rec = now + (int64_t)d->cfg.reconcile_ms * 1000000;
        }
        if (now >= next_meter) {
            gpx_engine_meter(d->eng);
            next_meter = now + (int64_t)d->cfg.meter_ms * 1000000;
        }
        if (d->cfg.watchdog >= 0 && now >= next_wd) {
            watchdog_tick(d);
            next_wd = now + (int64_t)d->cfg.watchdog_ms * 1000000;
        }
        if (now >= next_ckpt) {
            gpx_engine_checkpoint(d->eng);
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

int gpxd_serve(struct gpxd *d, gpx_error *err)
{
    /* libvirt reconciled against the store before anyone can ask about a VM */
    if (gpxd_vms_start(d, err) < 0 || gpxd_http_start(d, &d->http, err) < 0)
        return -1;
    /* clients find the socket in the state's lock file: absolute, and only once it listens */
    char sock[PATH_MAX + 2], cwd[PATH_MAX];
    if (d->cfg.socket_path[0] == '/' || !getcwd(cwd, sizeof cwd))
        snprintf(sock, sizeof sock, "%s", d->cfg.socket_path);
    else if ((size_t)snprintf(sock, sizeof sock, "%s/%s", cwd, d->cfg.socket_path) >= sizeof sock)
        return gpx_error_set(err, GPX_E_INVALID, "socket path too long: %s", d->cfg.socket_path);
    if (gpx_engine_announce(d->eng, sock, err) < 0)
        return -1;
    if (pthread_create(&d->bg, NULL, background, d) != 0)
        return gpx_error_set(err, GPX_E_INTERNAL, "starting the background thread failed");
    d->bg_started = 1;
    if (gpxd_functions_start(d, err) < 0)
        return -1;
    return gpxd_containers_start(d, err);
}

void gpxd_close(struct gpxd *d)
{
    if (!d)
        return;
    gpxd_functions_stop(d); /* answers the calls in progress before the listeners go */
    if (d->http)
        gpxd_http_stop(d->http);
    if (d->bg_started) {
        pthread_mutex_lock(&d->bg_lock);
        d->stopping = 1;
        pthread_cond_signal(&d->bg_cond);
        pthread_mutex_unlock(&d->bg_lock);
        pthread_join(d->bg, NULL);
    }
    gpxd_containers_close(d); /* before the engine it saves to; the containers keep running */
    gpxd_functions_close(d);  /* before the engine too: it ends the workers' leases */
    gpxd_vms_stop(d);         /* its teardown thread calls the engine; the domains keep running */
    gpx_engine_close(d->eng);
    gpx_cdi_writer_stop(d->cdi); /* after the engine, whose observer it is */
    gpxd_vms_close(d);           /* after the engine too: an observer */
    pthread_mutex_destroy(&d->bg_lock);
    pthread_cond_destroy(&d->bg_cond);
    pthread_mutex_destroy(&d->metrics_lock);
    free(d->marks);
    free(d);
}
