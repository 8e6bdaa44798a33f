/*
 * Process identity across pid namespaces (see pidns.h).
 *
 * Linked into the interposer: no allocation (the /proc walk reads directory
 * entries with getdents64 into a stack buffer), errno preserved.
 */
#define _GNU_SOURCE
#include "shm/pidns.h"
#include "shm/lease.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static _Atomic uint64_t self_ns; /* pid << 32 | its namespace */
static _Atomic int supervisor;

/* "pid:[4026531836]" -> 4026531836; 0 if it is not that shape. */
static uint32_t parse_ns_link(const char *s)
{
    if (strncmp(s, "pid:[", 5) != 0)
        return 0;
    char *end;
    unsigned long v = strtoul(s + 5, &end, 10);
    return *end == ']' && v <= UINT32_MAX ? (uint32_t)v : 0;
}

/* The pid namespace of /proc/<who>/ns/pid; 0 with errno set when unreadable. */
static uint32_t ns_of(const char *who)
{
    char path[64], link[64];
    snprintf(path, sizeof path, "/proc/%s/ns/pid", who);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n <= 0)
        return 0;
    link[n] = '\0';
    uint32_t ns = parse_ns_link(link);
    if (!ns)
        errno = EINVAL;
    return ns;
}

uint32_t gpx_pidns_self(void)
{
    /*
     * Cached with the pid that read it, in one word: a child forked after
     * unshare(CLONE_NEWPID) lives in another namespace and has another pid
     * (1 there) than the parent that filled the cache.
     */
    uint64_t pid = (uint32_t)getpid();
    uint64_t c = atomic_load_explicit(&self_ns, memory_order_relaxed);
    if (c >> 32 == pid && (uint32_t)c)
        return (uint32_t)c;
    int saved = errno;
    uint32_t ns = ns_of("self");
    errno = saved;
    if (ns)
        atomic_store_explicit(&self_ns, pid << 32 | ns, memory_order_relaxed);
    return ns;
}

void gpx_pidns_set_supervisor(int on)
{
    atomic_store(&supervisor, on != 0);
}

int gpx_pidns_sees_all(void)
{
    return atomic_load(&supervisor) || gpx_pidns_self() == GPX_PIDNS_INIT_INO;
}

/* Reads a small /proc file into buf (NUL-terminated); its length, or -1 with errno. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    do
        n = read(fd, buf, len - 1);
    while (n < 0 && errno == EINTR);
    int e = errno;
    close(fd);
    errno = e;
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

/* /proc/<who>/stat: 1 running (start time in *ticks), 0 gone or a zombie, -1 unreadable. */
static int stat_of(const char *who, uint64_t *ticks)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%s/stat", who);
    ssize_t n = read_small(path, buf, sizeof buf);
    if (n < 0)
        return errno == ENOENT || errno == ESRCH ? 0 : -1;
    return n == 0 ? 0 : gpx_proc_stat_parse(buf, ticks);
}

/*
 * The last field of /proc/<who>/status's NSpid line: the pid in its own
 * namespace; *depth gets how many fields (1: it lives in the namespace of our
 * /proc). status is readable where ns/pid is not (ptrace rules).
 */
static int32_t inner_pid_of(const char *who, int *depth)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%s/status", who);
    if (read_small(path, buf, sizeof buf) < 0)
        return -1;
    char *line = strstr(buf, "\nNSpid:");
    if (!line) {
        errno = ENOTSUP; /* a kernel before 4.1: no NSpid */
        return -1;
    }
    char *end = strchr(line + 1, '\n');
    if (end)
        *end = '\0';
    char *last = NULL;
    *depth = 0;
    for (char *p = line + 7; *p; p++)
        if ((*p == ' ' || *p == '\t') && p[1] >= '0' && p[1] <= '9') {
            last = p + 1;
            ++*depth;
        }
    if (!last)
        return -1;
    long v = strtol(last, NULL, 10);
    return v > 0 && v <= INT32_MAX ? (int32_t)v : -1;
}

int gpx_pidns_ident(int32_t pid, uint32_t *ns, int32_t *inner)
{
    if (pid <= 0) {
        errno = ESRCH;
        return -1;
    }
    char who[16];
    snprintf(who, sizeof who, "%d", (int)pid);
    uint32_t n = ns_of(who);
    int e = errno, depth, self_depth;
    int32_t in = inner_pid_of(who, &depth);
    if (in <= 0)
        return -1;
    /*
     * ns/pid is not readable under ptrace rules (a process that is not
     * dumpable, another uid's); status is. A process one level deep, as seen
     * by a /proc of which we are one level deep too, is of our namespace.
     */
    if (!n && depth == 1 && inner_pid_of("self", &self_depth) > 0 && self_depth == 1)
        n = gpx_pidns_self();
    if (!n) {
        errno = e;
        return -1;
    }
    *ns = n;
    *inner = in;
    return 0;
}

/* A pid of our own namespace: 1 alive with that start time, 0 dead or reused, -1 can't tell. */
static int local_alive(int32_t pid, uint64_t ticks)
{
    if (pid <= 0)
        return 0;
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return 0; /* the cheap answer for the common case */
    char who[16];
    snprintf(who, sizeof who, "%d", (int)pid);
    uint64_t cur = 0;
    int s = stat_of(who, &cur);
    if (s == 0)
        return 0;
    if (s < 0) /* no /proc: ask the kernel */
        return kill(pid, 0) == 0 || errno == EPERM ? 1 : -1;
    return ticks == 0 || cur == 0 || cur == ticks;
}

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/*
 * One walk of /proc for the identities in other namespaces: out[i] = 1 for
 * those found running, *seen[i] set for those whose namespace has a process
 * here, and *found (when not NULL, n == 1) the pid /proc shows it by.
 * Returns 1 if every process listed could be read, 0 if some could not
 * (then "not found" proves nothing), -1 if /proc can't be listed.
 */
static int walk_proc(const struct gpx_pid_ident *ids, unsigned n, uint32_t me, signed char *out,
                     unsigned char *seen, int32_t *found)
{
    int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int complete = 1;
    _Alignas(8) char buf[4096];
    for (;;) {
        long got = syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            if (got < 0)
                complete = -1;
            break;
        }
        for (long off = 0; off < got;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
            off += d->d_reclen;
            if (d->d_name[0] < '1' || d->d_name[0] > '9')
                continue;
            uint32_t ns = ns_of(d->d_name);
            if (!ns) {
                int depth = 0;
                if (errno == ENOENT || errno == ESRCH)
                    continue;
                /* ns/pid not ours to read (ptrace rules): one in our own namespace can't be
                 * the one we look for; one deeper (a container's) might */
                int32_t in = inner_pid_of(d->d_name, &depth);
                if ((in > 0 && depth > 1) || (in <= 0 && errno != ENOENT && errno != ESRCH))
                    complete = 0;
                continue;
            }
            if (ns == me)
                continue;
            int want = 0;
            for (unsigned i = 0; i < n && !want; i++)
                want = ids[i].ns == ns;
            if (!want)
                continue;
            int depth;
            int32_t inner = inner_pid_of(d->d_name, &depth);
            uint64_t ticks = 0;
            int st = inner > 0 ? stat_of(d->d_name, &ticks) : 0;
            if (inner <= 0 && errno != ENOENT && errno != ESRCH)
                complete = 0;
            for (unsigned i = 0; i < n; i++) {
                if (ids[i].ns != ns)
                    continue;
                seen[i] = 1;
                if (st == 1 && ids[i].pid == inner &&
                    (ids[i].ticks == 0 || ids[i].ticks == ticks)) {
                    out[i] = 1;
                    if (found)
                        *found = (int32_t)strtol(d->d_name, NULL, 10);
                } else if (st < 0 && ids[i].pid == inner)
                    complete = 0;
            }
        }
    }
    close(fd);
    return complete;
}

void gpx_pidns_judge(const struct gpx_pid_ident *ids, unsigned n, signed char *out)
{
    int saved = errno;
    uint32_t me = gpx_pidns_self();
    unsigned foreign = 0;
    for (unsigned i = 0; i < n; i++) {
        if (ids[i].pid <= 0) {
            out[i] = 0;
        } else if (ids[i].ns == 0 || ids[i].ns == me || me == 0) {
            out[i] = (signed char)local_alive(ids[i].pid, ids[i].ticks);
        } else {
            out[i] = -1;
            foreign++;
        }
    }
    if (foreign) {
        unsigned char seen[n];
        memset(seen, 0, n);
        int complete = walk_proc(ids, n, me, out, seen, NULL);
        int all = gpx_pidns_sees_all();
        for (unsigned i = 0; i < n; i++) {
            if (out[i] != -1 || ids[i].pid <= 0 || ids[i].ns == 0 || ids[i].ns == me)
                continue;
            /*
             * Not found running. Its namespace has processes here and we read them
             * all: it is gone. No process of its namespace here: gone too, if we
             * see every namespace; else it lives where we cannot look.
             */
            if (complete == 1 && (seen[i] || all))
                out[i] = 0;
        }
    }
    errno = saved;
}

int gpx_pidns_alive(uint32_t ns, int32_t pid, uint64_t ticks)
{
    struct gpx_pid_ident id = {ns, pid, ticks};
    signed char r;
    gpx_pidns_judge(&id, 1, &r);
    return r;
}

int32_t gpx_pidns_find(uint32_t ns, int32_t pid, uint64_t ticks)
{
    uint32_t me = gpx_pidns_self();
    if (pid <= 0)
        return 0;
    if (ns == 0 || ns == me || me == 0)
        return local_alive(pid, ticks) == 1 ? pid : 0;
    int saved = errno;
    struct gpx_pid_ident id = {ns, pid, ticks};
    signed char r = -1;
    unsigned char seen = 0;
    int32_t found = 0;
    walk_proc(&id, 1, me, &r, &seen, &found);
    errno = saved;
    return r == 1 ? found : 0;
}
