/*
 * gpuplex watch: the watchdog backstop (src/core/watchdog.c) in a loop, until
 * gpuplexd runs it every second. Prints one line per violation (a JSON object
 * per line with --json) and, with --enforce kill, SIGKILLs the offenders.
 * SIGINT/SIGTERM end it with status 0.
 */
#define _GNU_SOURCE
#include "cli/cli.h"
#include "core/size.h"
#include "core/watchdog.h"
#include "engine/views.h"
#include "gpuplex/client.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static const char *action(const struct gpx_watch_violation *v, enum gpx_watch_enforce enforce)
{
    if (enforce != GPX_WATCH_KILL)
        return "reported";
    if (v->killed == v->npids)
        return "killed";
    return v->killed ? "partly killed" : "kill failed";
}

static void print_violation(const struct gpx_watch_violation *v, enum gpx_watch_enforce enforce,
                            int json)
{
    if (json) {
        json_t *o = gpx_view_violation(v, (int)enforce);
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (s)
            puts(s);
        free(s);
        json_decref(o);
    } else {
        char used[32], quota[32], pids[512];
        size_t off = 0;
        pids[0] = '\0';
        for (unsigned i = 0; i < v->npids && off < sizeof pids; i++)
            off += (size_t)snprintf(pids + off, sizeof pids - off, "%s%d", i ? "," : "",
                                    (int)v->pids[i]);
        gpx_size_format(v->used_bytes, used, sizeof used);
        gpx_size_format(v->quota_bytes, quota, sizeof quota);
        if (v->kind == GPX_WATCH_OVER_QUOTA)
            printf("over_quota lease %s gpu %u used %s > quota %s pids %s: %s", v->lease,
                   v->gpu_index, used, quota, pids, action(v, enforce));
        else
            printf("unleased gpu %u pid %s used %s: %s", v->gpu_index, pids, used,
                   action(v, enforce));
        if (v->kill_errno)
            printf(" (%s)", strerror(v->kill_errno));
        putchar('\n');
    }
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {{"interval-ms", required_argument, NULL, 'i'},
                                         {"enforce", required_argument, NULL, 'e'},
                                         {"once", no_argument, NULL, '1'},
                                         {"allowance", required_argument, NULL, 'a'},
                                         {"lease-allowance", required_argument, NULL, 'L'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long interval_ms = 1000;
    struct gpx_watch_opts wo;
    gpx_watch_opts_defaults(&wo);
    int enforce = GPX_WATCH_REPORT, once = 0, json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "i:e:1a:L:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'a': {
            gpx_error e = {0};
            if (gpx_size_parse(optarg, &wo.allowance, &e) < 0)
                return gpx_cli_usage_error(&gpx_cmd_watch, "--allowance: %s", e.msg);
            break;
        }
        case 'L': {
            gpx_error e = {0};
            if (gpx_size_parse(optarg, &wo.lease_allowance, &e) < 0)
                return gpx_cli_usage_error(&gpx_cmd_watch, "--lease-allowance: %s", e.msg);
            break;
        }
        case 'i': {
            char *end;
            errno = 0;
            interval_ms = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || interval_ms < 10 || interval_ms > 3600000)
                return gpx_cli_usage_error(
                    &gpx_cmd_watch, "--interval-ms must be in 10..3600000, not '%s'", optarg);
            break;
        }
        case 'e':
            enforce = gpx_watch_enforce_parse(optarg);
            if (enforce < 0)
                return gpx_cli_usage_error(
                    &gpx_cmd_watch, "--enforce must be 'report' or 'kill', not '%s'", optarg);
            break;
        case '1':
            once = 1;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            return gpx_cli_print_usage(&gpx_cmd_watch);
        default:
            return gpx_cli_usage_error(&gpx_cmd_watch, "unknown or incomplete option '%s'",
                                       argv[optind - 1]);
        }
    }
    if (optind < argc)
        return gpx_cli_usage_error(&gpx_cmd_watch, "unexpected argument '%s'", argv[optind]);

    /* No SA_RESTART: the signal cuts the sleep short. */
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    gpx_error err = {0};
    struct gpx_nvml nv;
    if (gpx_nvml_open(&nv, &err) < 0)
        return gpx_cli_fail(&err);
    /* the run directory of the engine commands use (gpuplexd's, or in-process) */
    static char dir[4096];
    struct gpx_conn *cn = NULL;
    int crc = gpx_cli_connect(NULL, &cn);
    if (crc) {
        gpx_nvml_close(&nv);
        return crc;
    }
    struct gpx_health h;
    if (gpx_health(cn, &h, &err) < 0) {
        gpx_conn_close(cn);
        gpx_nvml_close(&nv);
        return gpx_cli_fail(&err);
    }
    snprintf(dir, sizeof dir, "%s", h.run_dir);
    gpx_conn_close(cn);
    wo.enforce = (enum gpx_watch_enforce)enforce;
    int status = 0;
    while (!stop) {
        struct gpx_watch_report rep;
        if (gpx_watchdog_check(&nv, dir, &wo, &rep, &err) < 0) {
            status = gpx_cli_fail(&err);
            if (once)
                break;
        } else {
            for (unsigned i = 0; i < rep.n; i++)
                print_violation(&rep.v[i], (enum gpx_watch_enforce)enforce, json);
            fflush(stdout);
            gpx_watch_report_free(&rep);
        }
        if (once)
            break;
        struct timespec ts = {interval_ms / 1000, (interval_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    gpx_nvml_close(&nv);
    return once ? status : 0;
}

const struct gpx_cmd gpx_cmd_watch = {
    "watch",
    run,
    "watchdog: find (and kill) unleased processes and processes over their lease's quota",
    "usage: gpuplex watch [--interval-ms N] [--enforce report|kill] [--allowance SIZE]\n"
    "                     [--lease-allowance SIZE] [--once] [--json]\n"
    "\n"
    "The backstop behind the interposer. Every interval it reaps the slots of\n"
    "dead processes and looks at every compute process NVML shows on every GPU.\n"
    "A process is counted by a vgpu or timeslice lease of its GPU when it holds\n"
    "a slot in the lease's usage region and runs as the lease's uid; by an\n"
    "exclusive lease of its GPU when it runs as the lease's uid; by a mig lease\n"
    "when it runs as the lease's uid in the lease's GPU instance. Each process\n"
    "counted by no lease is reported as 'unleased' (on an idle GPU, another\n"
    "user's on an exclusively leased GPU, a tenant's in another tenant's MIG\n"
    "instance, a workload that dropped GPUPLEX_LEASE or the interposer). A\n"
    "lease is reported as 'over_quota' when NVML's used memory of its processes\n"
    "exceeds its quota plus min(processes x --allowance, --lease-allowance). A\n"
    "lease whose usage region is damaged counts no process by its slots: they\n"
    "are reported as unleased.\n"
    "The interposer stops ordinary programs at the allocation; this catches,\n"
    "after the fact, programs that reach the driver another way (see\n"
    "docs/threat-model.md). It reads each process's uid in /proc: run it as root.\n"
    "\n"
    "options:\n"
    "  --interval-ms N   time between checks, 10..3600000 (default 1000)\n"
    "  --enforce MODE    report (default): only print; kill: also SIGKILL every\n"
    "                    process of an over-quota lease and unleased processes\n"
    "  --allowance SIZE  per process, what NVML may show beyond what the interposer\n"
    "                    counts (the CUDA context and driver pools, ~300-500 MiB on\n"
    "                    real GPUs) (default 512M)\n"
    "  --lease-allowance SIZE\n"
    "                    per lease, the most its processes together may hold beyond\n"
    "                    its quota, however many they are (default 1G)\n"
    "  --once            one check, then exit\n"
    "  --json            one JSON object per line and violation: {kind\n"
    "                    (over_quota|unleased), lease (null when unleased), gpu,\n"
    "                    gpu_uuid, quota_bytes (null when unleased), used_bytes,\n"
    "                    pids, action (reported|killed|partly killed|kill failed),\n"
    "                    killed, kill_error (only when a kill failed)}\n"
    "\n"
    "Lines (without --json):\n"
    "  over_quota lease ID gpu N used SIZE > quota SIZE pids P,...: ACTION\n"
    "  unleased gpu N pid P used SIZE: ACTION\n"
    "\n"
    "exit status: 0, also when stopped by SIGINT or SIGTERM; with --once, 3 or 4\n"
    "when NVML can't be read.\n",
};
