/*
 * Process identity across pid namespaces (containers).
 *
 * A process in a container has one pid inside (often 1) and another on the
 * host. The lease region's slots and the arbiter's entries are written by the
 * interposer inside the process, which sees only its own namespace, and are
 * read by reapers and the watchdog that may live in another. So a process is
 * named by what it can see of itself:
 *   (ns, pid, start_ticks) = (inode of /proc/self/ns/pid, getpid(),
 *                             starttime of /proc/self/stat)
 * Start times are the same seen from every pid namespace (clock ticks since
 * boot; a time namespace would shift them, podman and the OCI runtimes here
 * create none). ns 0 means "written by a binary before this scheme": the
 * reader's own namespace, as those binaries assumed.
 *
 * From another namespace such an identity is judged by finding the process in
 * /proc: the one whose ns/pid link is `ns` and whose last NSpid (its pid in
 * its own namespace) is `pid`. Only ancestors see a namespace's processes; a
 * process that finds nothing can say "dead" only when it sees every pid
 * namespace (it is in the kernel's initial one, or it is the supervisor:
 * gpuplexd, the CLI), and saw every process it listed. Anything less is
 * "can't tell", which callers take as alive: reaping a live process's memory
 * or turn is worse than waiting for one that can see to do it.
 *
 * No allocation anywhere here (linked into the LD_PRELOAD interposer).
 */
#ifndef GPX_SHM_PIDNS_H
#define GPX_SHM_PIDNS_H

#include <stdint.h>

/* The kernel's initial pid namespace (PROC_PID_INIT_INO): its processes see every other. */
#define GPX_PIDNS_INIT_INO 0xEFFFFFFCU

/* The inode of this process's pid namespace (cached per pid); 0 if unknown. */
uint32_t gpx_pidns_self(void);
/* Tells this process it sees every tenant's namespace (the daemon, the CLI on the host). */
void gpx_pidns_set_supervisor(int on);
/* 1 when a namespace this process cannot find processes of is a dead one. */
int gpx_pidns_sees_all(void);

/*
 * `pid` as /proc here numbers it -> its namespace and its pid there (the last
 * NSpid field). 0, or -1 with errno (ENOENT: gone; EACCES: not ours to read).
 */
int gpx_pidns_ident(int32_t pid, uint32_t *ns, int32_t *inner);

/* One process identity as a slot records it. */
struct gpx_pid_ident {
    uint32_t ns;    /* 0: the reader's own */
    int32_t pid;    /* in namespace ns */
    uint64_t ticks; /* start time; 0: unknown */
};

/*
 * Judges n identities at once (one walk of /proc for all those in other
 * namespaces): out[i] = 1 alive, 0 dead, -1 can't tell. Identities in our own
 * namespace are judged by pid (kill 0 + /proc/PID/stat), a zombie being dead.
 */
void gpx_pidns_judge(const struct gpx_pid_ident *ids, unsigned n, signed char *out);

/* The liveness of one identity: 1, 0, -1 as above. */
int gpx_pidns_alive(uint32_t ns, int32_t pid, uint64_t ticks);

/*
 * The pid by which /proc here shows the running process (ns, pid, ticks):
 * what the host's tools (NVML, kill) use for a container's process. 0 when
 * not found (gone, or in a namespace we cannot see).
 */
int32_t gpx_pidns_find(uint32_t ns, int32_t pid, uint64_t ticks);

#endif
