/*
 * The machine's wake-up cost, printed beside bench/functions' rows so that two
 * tables can be compared: two threads bounce a byte over a unix socket pair,
 * each asleep in read() until the other writes, as a proxy and a worker do.
 * Once as the scheduler places them (on an idle 2-vCPU VM, two vCPUs that
 * halt between bytes) and once both pinned to one CPU (a context switch, no
 * cross-CPU wake-up). Prints {"rtt_us": .., "rtt_one_cpu_us": ..}: the median
 * of 5 rounds of 5000 round trips each.
 *
 * usage: wakeup
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5
#define TRIPS  5000

static int sv[2];

static void *echo(void *arg)
{
    (void)arg;
    char c;
    while (read(sv[1], &c, 1) == 1)
        if (write(sv[1], &c, 1) != 1)
            break;
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median round trip in µs; both threads on CPU `cpu` when cpu >= 0. */
static double rtt(int cpu)
{
    cpu_set_t set;
    if (cpu >= 0) {
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    }
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        perror("wakeup: socketpair");
        exit(1);
    }
    pthread_t t;
    if (pthread_create(&t, NULL, echo, NULL) != 0) {
        fprintf(stderr, "wakeup: pthread_create failed\n");
        exit(1);
    }
    if (cpu >= 0)
        pthread_setaffinity_np(t, sizeof set, &set);
    double r[ROUNDS];
    char c = 'x';
    for (int k = 0; k < ROUNDS; k++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int i = 0; i < TRIPS; i++)
            if (write(sv[0], &c, 1) != 1 || read(sv[0], &c, 1) != 1) {
                perror("wakeup: bounce");
                exit(1);
            }
        clock_gettime(CLOCK_MONOTONIC, &b);
        r[k] =
            ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / TRIPS / 1e3;
    }
    close(sv[0]);
    pthread_join(t, NULL);
    close(sv[1]);
    if (cpu >= 0) { /* back to every CPU */
        CPU_ZERO(&set);
        for (int i = 0; i < CPU_SETSIZE; i++)
            CPU_SET(i, &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    }
    qsort(r, ROUNDS, sizeof r[0], cmp);
    return r[ROUNDS / 2];
}

int main(void)
{
    double spread = rtt(-1);
    double one = rtt(sched_getcpu() >= 0 ? sched_getcpu() : 0);
    printf("{\"rtt_us\": %.1f, \"rtt_one_cpu_us\": %.1f}\n", spread, one);
    return 0;
}
