/*
 * gpuplex-sim-kernel: plays the kernel's part on a simulated sysfs tree
 * (`gpuplex sim init --sysfs DIR`), so the VM path runs end to end without a
 * GPU: it watches the writable attributes with inotify and answers each write
 * the way Linux does (moves driver links on bind/unbind/drivers_probe, makes
 * and removes mdevs, enables VFs on sriov_numvfs, sets current_vgpu_type,
 * keeps available_instances and creatable_vgpu_types current). Every action
 * goes to DIR/.kernel.log in the order the writes came, which is how tests
 * check that binding writes land in the right order.
 *
 *   gpuplex-sim-kernel --sysfs DIR            run until SIGTERM (tests start it in the
 *                                             background; DIR/.kernel.ready when watching)
 *   gpuplex-sim-kernel --sysfs DIR --reboot   a host reboot, then exit
 *
 * Test double only (sim/): the product links nothing from here.
 */
#define _GNU_SOURCE
#include "sysfs_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define MAX_WATCHES 4096

static char *paths[MAX_WATCHES]; /* by watch descriptor */
static int ifd = -1;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void add_watch(const char *path, void *arg)
{
    (void)arg;
    int wd = inotify_add_watch(ifd, path, IN_CLOSE_WRITE);
    if (wd < 0 || wd >= MAX_WATCHES)
        return;
    if (!paths[wd] || strcmp(paths[wd], path) != 0) {
        free(paths[wd]);
        paths[wd] = strdup(path);
    }
}

static void rewatch(const char *dir)
{
    gpx_sim_sysfs_watch_dirs(dir, add_watch, NULL);
}

static int usage(void)
{
    fputs("usage: gpuplex-sim-kernel --sysfs DIR [--reboot]\n", stderr);
    return 2;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    int reboot = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sysfs") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--reboot") == 0)
            reboot = 1;
        else
            return usage();
    }
    if (!dir)
        return usage();
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/.kernel.log", dir);
    FILE *log = fopen(p, "ae");
    if (!log) {
        fprintf(stderr, "gpuplex-sim-kernel: %s: %s\n", p, strerror(errno));
        return 1;
    }
    if (reboot) {
        gpx_sim_sysfs_reboot(dir, log);
        fclose(log);
        return 0;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (ifd < 0) {
        fprintf(stderr, "gpuplex-sim-kernel: inotify: %s\n", strerror(errno));
        return 1;
    }
    gpx_sim_sysfs_before_publish = rewatch;
    gpx_sim_sysfs_watch_dirs(dir, add_watch, NULL);
    snprintf(p, sizeof p, "%s/.kernel.ready", dir);
    FILE *ready = fopen(p, "we");
    if (ready) {
        fprintf(ready, "%d\n", (int)getpid());
        fclose(ready);
    }
    size_t dlen = strlen(dir);
    char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
    while (!stop) {
        struct pollfd pfd = {.fd = ifd, .events = POLLIN};
        if (poll(&pfd, 1, 200) <= 0)
            continue;
        ssize_t n = read(ifd, buf, sizeof buf);
        if (n <= 0)
            continue;
        for (char *q = buf; q < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)q;
            q += sizeof *ev + ev->len;
            if (ev->wd < 0 || ev->wd >= MAX_WATCHES || !paths[ev->wd] || !ev->len)
                continue;
            const char *w = paths[ev->wd];
            if (strncmp(w, dir, dlen) != 0 || w[dlen] != '/')
                continue;
            char rel[PATH_MAX];
            snprintf(rel, sizeof rel, "%s/%s", w + dlen + 1, ev->name);
            gpx_sim_sysfs_event(dir, rel, log);
            /* new devices (VFs, mdevs) get their watches before anyone writes to them */
            gpx_sim_sysfs_watch_dirs(dir, add_watch, NULL);
        }
    }
    snprintf(p, sizeof p, "%s/.kernel.ready", dir);
    unlink(p);
    fclose(log);
    return 0;
}
