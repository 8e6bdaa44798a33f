/*
 * gpx-test-hog: a "hostile" workload for the watchdog tests. It takes device
 * memory on a simulated GPU the way the simulated driver does (a process slot
 * in the GPUPLEX_SIM state, used bytes added), i.e. past any interposer, and
 * optionally registers in a lease's usage region the way the interposer does
 * (a slot, no reservation). Then it prints "ready PID" and waits to be
 * killed. With --go FILE it first attaches with no memory, prints "attached
 * PID" and takes its memory once FILE exists (so that several hogs take theirs
 * at once). With --plant PID it only writes PID into a slot of the lease
 * (what a tenant can do to its own usage region), prints "planted PID" and
 * exits. With --mig UUID it runs on that MIG device (CUDA_VISIBLE_DEVICES=
 * MIG-... on a real node) instead of --gpu: its slot on the parent GPU is
 * bound to the device's GPU and compute instance, which NVML then reports.
 *
 *   gpx-test-hog --gpu N | --mig UUID --mib M [--lease ID] [--go FILE]
 *   gpx-test-hog --lease ID --plant PID
 */
#define _GNU_SOURCE
#include "mig_state.h"
#include "shm/lease.h"
#include "state.h"

#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"gpu", required_argument, NULL, 'g'},
                                         {"mib", required_argument, NULL, 'm'},
                                         {"lease", required_argument, NULL, 'l'},
                                         {"plant", required_argument, NULL, 'p'},
                                         {"go", required_argument, NULL, 'G'},
                                         {"mig", required_argument, NULL, 'M'},
                                         {NULL, 0, NULL, 0}};
    unsigned gpu = 0;
    unsigned long long mib = 0;
    const char *lease = NULL, *go = NULL, *mig = NULL;
    int32_t plant = 0;
    int c;
    while ((c = getopt_long(argc, argv, "g:m:l:p:G:M:", opts, NULL)) != -1) {
        switch (c) {
        case 'g':
            gpu = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'm':
            mib = strtoull(optarg, NULL, 10);
            break;
        case 'l':
            lease = optarg;
            break;
        case 'p':
            plant = (int32_t)strtol(optarg, NULL, 10);
            break;
        case 'G':
            go = optarg;
            break;
        case 'M':
            mig = optarg;
            break;
        default:
            fprintf(stderr, "usage: gpx-test-hog --gpu N|--mig UUID --mib M [--lease ID] | "
                            "--lease ID --plant PID\n");
            return 2;
        }
    }
    gpx_error err = {0};
    struct gpx_lease_region r;
    if (lease) {
        if (gpx_lease_region_open(gpx_run_dir(), lease, &r, &err) < 0 ||
            !gpx_lease_attach(&r, plant > 0 ? plant : getpid())) {
            fprintf(stderr, "gpx-test-hog: lease %s: %s\n", lease, err.msg);
            return 1;
        }
        if (plant > 0) {
            printf("planted %d\n", (int)plant);
            return 0;
        }
    }
    struct gpx_sim_state st;
    if (gpx_sim_open_env(&st, &err) < 0) {
        fprintf(stderr, "gpx-test-hog: %s\n", err.msg);
        return 1;
    }
    struct gpx_sim_mig_device md;
    if (mig) {
        if (gpx_sim_mig_find_uuid(&st, mig, &md) < 0) {
            fprintf(stderr, "gpx-test-hog: no MIG device %s\n", mig);
            return 1;
        }
        gpu = md.gpu;
    }
    if (gpu >= st.hdr->gpu_count) {
        fprintf(stderr, "gpx-test-hog: no GPU %u\n", gpu);
        return 1;
    }
    struct gpx_sim_proc *p = gpx_sim_proc_attach(&st, gpu, getpid());
    if (!p) {
        fprintf(stderr, "gpx-test-hog: no free process slot on GPU %u\n", gpu);
        return 1;
    }
    if (mig && gpx_sim_mig_bind(&st, gpu, p, md.gi, md.ci) < 0) {
        fprintf(stderr, "gpx-test-hog: binding to MIG device %s failed\n", mig);
        return 1;
    }
    if (go) {
        printf("attached %d\n", (int)getpid());
        fflush(stdout);
        while (access(go, F_OK) != 0)
            usleep(5000);
    }
    uint64_t bytes = mib << 20;
    atomic_fetch_add(&p->used_bytes, bytes);
    atomic_fetch_add(&st.gpus[gpu].memory_used, bytes);
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    for (;;)
        pause();
}
