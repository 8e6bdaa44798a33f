/*
 * The watchdog: the backstop behind the interposer. The interposer stops
 * ordinary programs at the allocation; a program that reaches the driver
 * some other way (raw ioctls, its own libcuda, static linking) is only seen
 * here, after the fact: NVML's per-process used memory, summed per lease,
 * compared with the lease's quota. One check is one pass; the daemon calls
 * it every watchdog_interval, `gpuplex watch` every --interval-ms.
 *
 * Every compute process NVML shows on every GPU is either counted by one of
 * that GPU's leases or reported as "unleased". A process is counted
 *  - by a vgpu or timeslice lease when it holds a live slot in the lease's
 *    usage region (the interposer takes one before its first driver call)
 *    AND its real uid is the lease's uid (limits->uid): a tenant can write
 *    any pid into its own slots, and the uid check keeps a planted pid of
 *    another user out of its lease (and out of its over-quota kills);
 *  - by an exclusive lease when its real uid is the lease's uid, by a mig
 *    lease when it also runs in the lease's GPU instance (NVML's
 *    gpuInstanceId; limits->mig_gi) (those workloads run without the
 *    interposer, so they hold no slot).
 * Anything else uses memory no quota accounts for: a process on an idle GPU,
 * another user's process on an exclusively leased GPU, a tenant's process in
 * another tenant's MIG instance (or in one no lease holds), a workload that
 * dropped GPUPLEX_LEASE or the interposer.
 *
 * A lease is over quota when the NVML figures of its counted processes add
 * up to more than quota + min(processes x allowance, lease_allowance): the
 * allowance covers what a real driver charges a process beyond its
 * allocations, and lease_allowance bounds what a lease's processes together
 * may hold beyond the quota, however many processes it starts.
 */
#ifndef GPX_WATCHDOG_H
#define GPX_WATCHDOG_H

#include "gpuplex/error.h"
#include "nvml/nvml.h"
#include "shm/lease.h"

#include <stdint.h>

enum gpx_watch_enforce {
    GPX_WATCH_REPORT = 0, /* report only */
    GPX_WATCH_KILL = 1,   /* SIGKILL the offending processes */
};
/* "report" | "kill"; -1 if unknown. */
int gpx_watch_enforce_parse(const char *s);

enum gpx_watch_kind {
    GPX_WATCH_OVER_QUOTA = 0, /* a lease's processes use more than its quota */
    GPX_WATCH_UNLEASED = 1,   /* a process on a GPU that no lease of that GPU counts */
};
const char *gpx_watch_kind_name(enum gpx_watch_kind k); /* "over_quota" | "unleased" */

/* a lease counts at most one process per slot: every one fits in a violation */
#define GPX_WATCH_MAX_PIDS GPX_LEASE_MAX_PROCS

struct gpx_watch_violation {
    enum gpx_watch_kind kind;
    char lease[GPX_LEASE_ID_MAX]; /* "" for unleased */
    unsigned gpu_index;
    char gpu_uuid[96];
    uint64_t quota_bytes;     /* 0 for unleased */
    uint64_t allowance_bytes; /* over_quota: what was allowed beyond the quota */
    uint64_t used_bytes;      /* NVML's figure, summed over pids */
    uint32_t uid;             /* unleased: the process's real uid (if uid_known) */
    int uid_known;
    unsigned npids;
    int32_t pids[GPX_WATCH_MAX_PIDS];
    unsigned killed; /* how many of pids got SIGKILL (enforce = kill) */
    int kill_errno;  /* the first kill() failure other than ESRCH, 0 if none */
};

struct gpx_watch_report {
    unsigned leases;  /* leases checked */
    unsigned reaped;  /* dead slots reaped */
    unsigned skipped; /* leases that could not be read */
    unsigned n;
    struct gpx_watch_violation *v; /* n entries; gpx_watch_report_free */
};

/* What NVML may show beyond what the interposer counts (see gpx_watch_opts). */
#define GPX_WATCH_ALLOWANCE_DEFAULT       (512ULL << 20)
#define GPX_WATCH_LEASE_ALLOWANCE_DEFAULT (1ULL << 30)

struct gpx_watch_opts {
    enum gpx_watch_enforce enforce;
    /*
     * Per process: a real driver charges each process its CUDA context
     * (~300-500 MiB) and pools it keeps, which no allocation call returns.
     */
    uint64_t allowance;
    /*
     * Per lease: the most its processes together may hold beyond the quota
     * (else 8 processes x 512 MiB would hide 4 GiB). The default, 1 GiB,
     * covers the contexts of two processes of a lease at its full quota.
     */
    uint64_t lease_allowance;
};
/* report, GPX_WATCH_ALLOWANCE_DEFAULT, GPX_WATCH_LEASE_ALLOWANCE_DEFAULT */
void gpx_watch_opts_defaults(struct gpx_watch_opts *o);

/*
 * One pass: reads NVML's compute processes on every GPU (`nv` open), reaps
 * every lease's dead slots, reads each process's uid from /proc, and fills
 * *rep with the violations, enforcing as `o` asks. Fails only when NVML or
 * the run directory can't be read at all.
 */
int gpx_watchdog_check(struct gpx_nvml *nv, const char *run_dir, const struct gpx_watch_opts *o,
                       struct gpx_watch_report *rep, gpx_error *err);

void gpx_watch_report_free(struct gpx_watch_report *rep);

#endif
