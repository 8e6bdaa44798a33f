/*
 * The watchdog: the backstop behind the interposer. The interposer stops
 * ordinary programs at the allocation; a program that reaches the driver
 * some other way (raw ioctls, its own libcuda, static linking) is only seen
 * here, after the fact: NVML's per-process used memory, summed per lease,
 * compared with the lease's quota. One check is one pass; the daemon calls
 * it every second, `gpuplex watch` every --interval-ms until then.
 *
 * A process belongs to a lease when it holds a slot in the lease's usage
 * region (the interposer takes one before its first driver call). On a GPU
 * that carries vgpu or timeslice leases, a compute process in no lease is
 * "unleased" (e.g. a workload that dropped GPUPLEX_LEASE from its
 * environment): it uses memory no quota accounts for.
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
    GPX_WATCH_UNLEASED = 1,   /* a process on a shared GPU that is in no lease */
};
const char *gpx_watch_kind_name(enum gpx_watch_kind k); /* "over_quota" | "unleased" */

#define GPX_WATCH_MAX_PIDS 64

struct gpx_watch_violation {
    enum gpx_watch_kind kind;
    char lease[GPX_LEASE_ID_MAX]; /* "" for unleased */
    unsigned gpu_index;
    char gpu_uuid[96];
    uint64_t quota_bytes; /* 0 for unleased */
    uint64_t used_bytes;  /* NVML's figure, summed over pids */
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

/*
 * One pass: reaps every lease's dead slots, reads NVML's compute processes
 * (`nv` open), and fills *rep with the violations, enforcing as asked.
 * Fails only when NVML or the run directory can't be read at all.
 */
int gpx_watchdog_check(struct gpx_nvml *nv, const char *run_dir, enum gpx_watch_enforce enforce,
                       struct gpx_watch_report *rep, gpx_error *err);

/*
 * Per process, what NVML may show beyond what the interposer counts: a real
 * driver charges each process its CUDA context (~300-500 MiB) and pools it
 * keeps, which no allocation call returns. A lease is over quota when its
 * processes' NVML use exceeds quota + nprocs x allowance. Default 512 MiB;
 * the daemon and `gpuplex watch --allowance` set it.
 */
extern uint64_t gpx_watchdog_allowance;
void gpx_watch_report_free(struct gpx_watch_report *rep);

#endif
