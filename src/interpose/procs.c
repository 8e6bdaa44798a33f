/*
 * NVML's process queries, seen from inside a lease: a tenant sees only the
 * processes of its own lease, with the memory the lease counted for each,
 * and learns nothing of its neighbours on the same GPU (their pids, how many
 * there are, what they hold or how busy they keep the GPU).
 *
 * Who belongs to the lease: the pids in the lease region's process slots
 * (every process of the lease that touched the driver through the
 * interposer holds one), and the caller itself. A slot whose pid was reused
 * by another process (its start time differs), or whose process runs as
 * another uid (a pid the tenant planted in its own region), does not count.
 * Each listed
 * process's usedGpuMemory is its slot's count: what the lease charges it.
 * Without GPUPLEX_LEASE everything passes through untouched; a lease that
 * failed closed shows the caller alone, with the driver's figure.
 *
 * The real call is made into a private buffer big enough for every process
 * on the GPU (grown on NVML_ERROR_INSUFFICIENT_SIZE), filtered, and then
 * handed out under NVML's own protocol: *count in = the caller's capacity;
 * out = the filtered number; NVML_ERROR_INSUFFICIENT_SIZE when that does not
 * fit. The size the caller is told is therefore the lease's, never the GPU's.
 */
#define _GNU_SOURCE
#include "interpose/interpose.h"
#include "shm/pidns.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(offsetof(nvmlProcessInfo_v1_t, pid) == offsetof(nvmlProcessInfo_t, pid) &&
                   offsetof(nvmlProcessInfo_v1_t, usedGpuMemory) ==
                       offsetof(nvmlProcessInfo_t, usedGpuMemory),
               "both process-info layouts start with pid, usedGpuMemory");

#define FIRST_GUESS 64 /* entries of the first private buffer */
#define MAX_TRIES   8  /* the list may grow between calls; give up after this many */

/*
 * 1 if `pid` (as NVML numbers it) is the caller or a live process of its
 * lease; *used then holds what the lease counts for it, or stays as it was
 * (the driver's figure) when the lease failed closed.
 *
 * Slots name processes in their own pid namespace (a container's), so `pid`
 * is first mapped through our /proc to (namespace, pid there). A pid our
 * /proc does not show (a host pid seen from inside a container, where the
 * driver's numbers are the host's) cannot be told apart from a neighbour's:
 * it is not listed.
 */
static int member(unsigned int pid, unsigned long long *used)
{
    uint32_t me_ns = gpx_pidns_self(), ns = 0;
    int32_t inner = 0;
    int known = pid <= INT32_MAX && gpx_pidns_ident((int32_t)pid, &ns, &inner) == 0;
    const int self =
        known ? ns == me_ns && inner == (int32_t)getpid() : (unsigned int)getpid() == pid && !me_ns;
    if (gpx__ip.mode != GPX_IP_ENFORCE)
        return self;
    if (self && gpx__ip.slot) {
        *used = gpx_lease_slot_used(gpx__ip.slot);
        return 1;
    }
    if (!known || pid == 0)
        return self;
    struct gpx_lease_proc *procs = gpx__ip.region.usage->procs;
    for (int i = 0; i < GPX_LEASE_MAX_PROCS; i++) {
        uint32_t slot_ns = atomic_load_explicit(&procs[i].pidns, memory_order_relaxed);
        if (atomic_load_explicit(&procs[i].pid, memory_order_relaxed) != inner ||
            (slot_ns ? slot_ns : me_ns) != ns)
            continue;
        /* A dead process's slot not yet reaped, its pid now another tenant's: not ours. */
        uint64_t start = atomic_load_explicit(&procs[i].start_ticks, memory_order_relaxed);
        if (start && start != gpx_lease_proc_start_ticks((int32_t)pid))
            continue;
        /*
         * The usage region is the tenant's to write: a pid planted in a slot
         * must not turn the list into an oracle for its neighbours' pids. As
         * the watchdog does, a member runs as the caller's uid (root sees all
         * of /proc anyway).
         */
        uint32_t uid;
        uid_t me = getuid();
        if (me != 0 && (gpx_proc_uid((int32_t)pid, &uid) != 0 || uid != (uint32_t)me))
            continue;
        *used = gpx_lease_slot_used(&procs[i]);
        return 1;
    }
    return self;
}

/*
 * Asks `real` for every process on the device into a malloc'd buffer of
 * `stride`-sized entries; *n gets how many. NVML_SUCCESS, or the driver's error.
 */
static nvmlReturn_t fetch_all(nvmlReturn_t (*real)(nvmlDevice_t, unsigned int *, void *),
                              nvmlDevice_t dev, size_t stride, void **out, unsigned int *n)
{
    unsigned int cap = FIRST_GUESS;
    *out = NULL;
    for (int tries = 0; tries < MAX_TRIES; tries++) {
        void *buf = realloc(*out, (size_t)cap * stride);
        if (!buf)
            return NVML_ERROR_MEMORY;
        *out = buf;
        unsigned int got = cap;
        nvmlReturn_t r = real(dev, &got, buf);
        if (r == NVML_SUCCESS) {
            *n = got < cap ? got : cap;
            return r;
        }
        if (r != NVML_ERROR_INSUFFICIENT_SIZE)
            return r;
        cap = got > cap ? got + 16 : cap * 2; /* room for processes starting meanwhile */
    }
    return NVML_ERROR_INSUFFICIENT_SIZE;
}

typedef nvmlReturn_t (*list_fn)(nvmlDevice_t, unsigned int *, void *);

#define NO_MEMORY ((size_t)-1)

/*
 * Keeps the entries of the caller's lease in a list whose entries (`stride`
 * bytes) carry a pid at `pid_off` and, unless mem_off is NO_MEMORY, the
 * process's used memory at `mem_off` (rewritten to the lease's count).
 * `zero_asks`: the call's size query (*count == 0) answers NVML_SUCCESS with
 * the count (the session lists) rather than NVML_ERROR_INSUFFICIENT_SIZE.
 */
static nvmlReturn_t filter_list(list_fn real, nvmlDevice_t dev, unsigned int *count, void *out,
                                size_t stride, size_t pid_off, size_t mem_off, int zero_asks)
{
    if (gpx__ip.mode == GPX_IP_PASS || !count)
        return real(dev, count, out);
    /*
     * Room but no buffer: refused here, not by the driver, which may check the
     * room first and answer INSUFFICIENT_SIZE with the GPU's whole count.
     */
    if (*count > 0 && !out)
        return NVML_ERROR_INVALID_ARGUMENT;
    void *all;
    unsigned int n = 0;
    nvmlReturn_t r = fetch_all(real, dev, stride, &all, &n);
    if (r != NVML_SUCCESS) {
        free(all);
        return r;
    }
    unsigned int kept = 0;
    for (unsigned int i = 0; i < n; i++) {
        char *e = (char *)all + (size_t)i * stride;
        unsigned int pid;
        unsigned long long mem = 0;
        memcpy(&pid, e + pid_off, sizeof pid);
        if (mem_off != NO_MEMORY)
            memcpy(&mem, e + mem_off, sizeof mem);
        if (!member(pid, &mem))
            continue;
        if (mem_off != NO_MEMORY)
            memcpy(e + mem_off, &mem, sizeof mem);
        if (kept != i)
            memmove((char *)all + (size_t)kept * stride, e, stride);
        kept++;
    }
    unsigned int room = *count;
    *count = kept;
    if (kept > room && !(room == 0 && zero_asks))
        r = NVML_ERROR_INSUFFICIENT_SIZE;
    else if (kept > 0 && kept <= room)
        memcpy(out, all, (size_t)kept * stride);
    free(all);
    return r;
}

/* A process query (either layout: `stride` is its entry size; pid and usedGpuMemory lead both). */
static nvmlReturn_t filtered(list_fn real, nvmlDevice_t dev, unsigned int *count, void *infos,
                             size_t stride)
{
    return filter_list(real, dev, count, infos, stride, offsetof(nvmlProcessInfo_v1_t, pid),
                       offsetof(nvmlProcessInfo_v1_t, usedGpuMemory), 0);
}

/* One exported hook per process query, each forwarding to its own real counterpart. */
#define GPX_IP_PROC_LIST(name, type)                                                               \
    GPX_EXPORT nvmlReturn_t name(nvmlDevice_t device, unsigned int *infoCount, type *infos)        \
    {                                                                                              \
        gpx__ip_ensure();                                                                          \
        gpx__ip_nvml_ensure();                                                                     \
        if (!gpx__ip_nvml.name)                                                                    \
            return NVML_ERROR_FUNCTION_NOT_FOUND;                                                  \
        return filtered((list_fn)gpx__ip_nvml.name, device, infoCount, infos, sizeof(type));       \
    }

GPX_IP_PROC_LIST(nvmlDeviceGetComputeRunningProcesses, nvmlProcessInfo_v1_t)
GPX_IP_PROC_LIST(nvmlDeviceGetComputeRunningProcesses_v2, nvmlProcessInfo_t)
GPX_IP_PROC_LIST(nvmlDeviceGetComputeRunningProcesses_v3, nvmlProcessInfo_t)
GPX_IP_PROC_LIST(nvmlDeviceGetGraphicsRunningProcesses, nvmlProcessInfo_v1_t)
GPX_IP_PROC_LIST(nvmlDeviceGetGraphicsRunningProcesses_v2, nvmlProcessInfo_t)
GPX_IP_PROC_LIST(nvmlDeviceGetGraphicsRunningProcesses_v3, nvmlProcessInfo_t)
GPX_IP_PROC_LIST(nvmlDeviceGetMPSComputeRunningProcesses, nvmlProcessInfo_v1_t)
GPX_IP_PROC_LIST(nvmlDeviceGetMPSComputeRunningProcesses_v2, nvmlProcessInfo_t)
GPX_IP_PROC_LIST(nvmlDeviceGetMPSComputeRunningProcesses_v3, nvmlProcessInfo_t)

/*
 * Per-process utilization samples, filtered the same way. Its protocol:
 * samples == NULL asks for the size (NVML_ERROR_INSUFFICIENT_SIZE with the
 * count); no sample since lastSeenTimeStamp is NVML_ERROR_NOT_FOUND, which
 * is also the answer when every sample was another lease's.
 */
GPX_EXPORT nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t device,
                                                        nvmlProcessUtilizationSample_t *utilization,
                                                        unsigned int *processSamplesCount,
                                                        unsigned long long lastSeenTimeStamp)
{
    gpx__ip_ensure();
    gpx__ip_nvml_ensure();
    nvml_device_process_util_fn real = gpx__ip_nvml.nvmlDeviceGetProcessUtilization;
    if (!real)
        return NVML_ERROR_FUNCTION_NOT_FOUND;
    if (gpx__ip.mode == GPX_IP_PASS || !processSamplesCount)
        return real(device, utilization, processSamplesCount, lastSeenTimeStamp);
    unsigned int cap = 0, n = 0;
    nvmlReturn_t r = real(device, NULL, &cap, lastSeenTimeStamp);
    if (r == NVML_ERROR_NOT_FOUND) {
        *processSamplesCount = 0;
        return r;
    }
    if (r != NVML_SUCCESS && r != NVML_ERROR_INSUFFICIENT_SIZE)
        cap = FIRST_GUESS; /* a driver without the size query: the buffered call tells */
    nvmlProcessUtilizationSample_t *all = NULL;
    for (int tries = 0; tries < MAX_TRIES; tries++) {
        cap += 16; /* room for processes starting meanwhile */
        void *buf = realloc(all, (size_t)cap * sizeof *all);
        if (!buf) {
            free(all);
            return NVML_ERROR_MEMORY;
        }
        all = buf;
        n = cap;
        r = real(device, all, &n, lastSeenTimeStamp);
        if (r != NVML_ERROR_INSUFFICIENT_SIZE)
            break;
        cap = n;
    }
    if (r != NVML_SUCCESS && r != NVML_ERROR_NOT_FOUND) {
        free(all);
        return r;
    }
    unsigned int kept = 0;
    for (unsigned int i = 0; r == NVML_SUCCESS && i < n && i < cap; i++) {
        unsigned long long unused = 0;
        if (member(all[i].pid, &unused))
            all[kept++] = all[i];
    }
    unsigned int room = *processSamplesCount;
    *processSamplesCount = kept;
    if (kept == 0)
        r = NVML_ERROR_NOT_FOUND;
    else if (!utilization || kept > room)
        r = NVML_ERROR_INSUFFICIENT_SIZE;
    else
        memcpy(utilization, all, (size_t)kept * sizeof *all);
    free(all);
    return r;
}

/*
 * The versioned process queries of newer drivers (a process detail list,
 * per-process utilization info). Their structs are not filtered here, so
 * under a lease they answer NVML_ERROR_NOT_SUPPORTED rather than show the
 * neighbours; tools then fall back to the queries above.
 */
#define GPX_IP_PROC_HIDDEN(name)                                                                   \
    GPX_EXPORT nvmlReturn_t name(nvmlDevice_t device, void *versioned)                             \
    {                                                                                              \
        gpx__ip_ensure();                                                                          \
        gpx__ip_nvml_ensure();                                                                     \
        if (!gpx__ip_nvml.name)                                                                    \
            return NVML_ERROR_FUNCTION_NOT_FOUND;                                                  \
        if (gpx__ip.mode != GPX_IP_PASS)                                                           \
            return NVML_ERROR_NOT_SUPPORTED;                                                       \
        return gpx__ip_nvml.name(device, versioned);                                               \
    }

GPX_IP_PROC_HIDDEN(nvmlDeviceGetRunningProcessDetailList)
GPX_IP_PROC_HIDDEN(nvmlDeviceGetProcessesUtilizationInfo)

/*
 * Accounting (when root turned it on) keeps a record per process that ran on
 * the GPU: its pid list and each pid's stats would name the neighbours. Under
 * a lease the list holds the caller's lease's live processes only (a finished
 * one has no slot left to tell it from a neighbour's), and another pid's
 * stats are NVML_ERROR_NOT_FOUND, as for a pid accounting never saw.
 */
GPX_EXPORT nvmlReturn_t nvmlDeviceGetAccountingPids(nvmlDevice_t device, unsigned int *count,
                                                    unsigned int *pids)
{
    gpx__ip_ensure();
    gpx__ip_nvml_ensure();
    if (!gpx__ip_nvml.nvmlDeviceGetAccountingPids)
        return NVML_ERROR_FUNCTION_NOT_FOUND;
    return filter_list((list_fn)gpx__ip_nvml.nvmlDeviceGetAccountingPids, device, count, pids,
                       sizeof *pids, 0, NO_MEMORY, 0);
}

GPX_EXPORT nvmlReturn_t nvmlDeviceGetAccountingStats(nvmlDevice_t device, unsigned int pid,
                                                     nvmlAccountingStats_t *stats)
{
    gpx__ip_ensure();
    gpx__ip_nvml_ensure();
    nvml_device_accounting_stats_fn real = gpx__ip_nvml.nvmlDeviceGetAccountingStats;
    if (!real)
        return NVML_ERROR_FUNCTION_NOT_FOUND;
    unsigned long long unused = 0;
    if (gpx__ip.mode != GPX_IP_PASS && !member(pid, &unused))
        return NVML_ERROR_NOT_FOUND;
    return real(device, pid, stats);
}

/* The newer form: the pid asked for is the struct's first field (nvml.h, nvmlAccountingStats_v2_t).
 */
GPX_EXPORT nvmlReturn_t nvmlDeviceGetAccountingStats_v2(nvmlDevice_t device, void *stats)
{
    gpx__ip_ensure();
    gpx__ip_nvml_ensure();
    nvml_device_opaque_fn real = gpx__ip_nvml.nvmlDeviceGetAccountingStats_v2;
    if (!real)
        return NVML_ERROR_FUNCTION_NOT_FOUND;
    if (gpx__ip.mode != GPX_IP_PASS && stats) {
        unsigned int pid;
        unsigned long long unused = 0;
        memcpy(&pid, stats, sizeof pid);
        if (!member(pid, &unused))
            return NVML_ERROR_NOT_FOUND;
    }
    return real(device, stats);
}

/*
 * The encoder (NVENC) and frame-capture (NvFBC) session lists name each
 * session's process: under a lease, the lease's sessions only. Entry layouts
 * from nvml.h: nvmlEncoderSessionInfo_t is 8 unsigned ints, nvmlFBCSessionInfo_t
 * 12, each with the pid second.
 */
#define ENCODER_SESSION_SIZE (8 * sizeof(unsigned int))
#define FBC_SESSION_SIZE     (12 * sizeof(unsigned int))
#define SESSION_PID_OFFSET   sizeof(unsigned int)

GPX_EXPORT nvmlReturn_t nvmlDeviceGetEncoderSessions(nvmlDevice_t device,
                                                     unsigned int *sessionCount,
                                                     nvmlEncoderSessionInfo_t *sessionInfos)
{
    gpx__ip_ensure();
    gpx__ip_nvml_ensure();
    if (!gpx__ip_nvml.nvmlDeviceGetEncoderSessions)
        return NVML_ERROR_FUNCTION_NOT_FOUND;
    return filter_list((list_fn)gpx__ip_nvml.nvmlDeviceGetEncoderSessions, device, sessionCount,
                       sessionInfos, ENCODER_SESSION_SIZE, SESSION_PID_OFFSET, NO_MEMORY, 1);
}

GPX_EXPORT nvmlReturn_t nvmlDeviceGetFBCSessions(nvmlDevice_t device, unsigned int *sessionCount,
                                                 nvmlFBCSessionInfo_t *sessionInfo)
{
    gpx__ip_ensure();
    gpx__ip_nvml_ensure();
    if (!gpx__ip_nvml.nvmlDeviceGetFBCSessions)
        return NVML_ERROR_FUNCTION_NOT_FOUND;
    return filter_list((list_fn)gpx__ip_nvml.nvmlDeviceGetFBCSessions, device, sessionCount,
                       sessionInfo, FBC_SESSION_SIZE, SESSION_PID_OFFSET, NO_MEMORY, 1);
}
