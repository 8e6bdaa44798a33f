/*
 * gpx-test-client: one or more gpx_client_request() calls on one handle,
 * for client_hostile.sh.
 *
 *   gpx-test-client [-n COUNT] SERVER METHOD PATH [BODY]
 *
 * SERVER "" means the default ($GPUPLEX_SERVER, then the default socket).
 * Prints one line per request, "rc=R status=S code=NAME ms=T msg=MESSAGE",
 * then "body=..." (at most 200 bytes) and "len=N" when it succeeded; stops
 * at the first failure. Exits 0 when every request succeeded, else the CLI
 * exit status of the error's code (GPX_E_IO: 9), so that a crash, a
 * sanitizer report or a hang (timeout(1)) cannot pass for a clean error.
 */
#define _GNU_SOURCE
#include "client/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int main(int argc, char **argv)
{
    int count = 1, opt;
    while ((opt = getopt(argc, argv, "n:")) != -1) {
        char *end;
        long n = opt == 'n' ? strtol(optarg, &end, 10) : 0;
        if (n < 1 || n > 1000 || *end)
            goto usage;
        count = (int)n;
    }
    if (argc - optind < 3 || argc - optind > 4)
        goto usage;
    const char *server = argv[optind], *method = argv[optind + 1], *path = argv[optind + 2];
    const char *body = argc - optind == 4 ? argv[optind + 3] : NULL;

    gpx_error err = {0};
    gpx_client *c = NULL;
    if (gpx_client_new(server, NULL, &c, &err) < 0) {
        printf("rc=-1 status=0 code=%s ms=0 msg=%s\n", gpx_error_name(err.code), err.msg);
        return gpx_error_exit_status(err.code);
    }
    int rc = 0, bad = 0;
    for (int i = 0; i < count && rc == 0; i++) {
        int status = -1;
        char *resp = NULL;
        gpx_error_clear(&err);
        long t0 = now_ms();
        rc = gpx_client_request(c, method, path, body, &status, &resp, &err);
        printf("rc=%d status=%d code=%s ms=%ld msg=%s\n", rc, status,
               rc == 0 ? "OK" : gpx_error_name(err.code), now_ms() - t0, rc == 0 ? "" : err.msg);
        if (rc == 0)
            printf("body=%.200s\nlen=%zu\n", resp, strlen(resp));
        else if (resp || (err.code == GPX_E_IO && status != 0))
            bad = printf("contract broken: *resp set or *status not 0 on failure\n");
        free(resp);
    }
    gpx_client_free(c);
    fflush(stdout);
    if (bad)
        return 99;
    return rc == 0 ? 0 : gpx_error_exit_status(err.code);
usage:
    fprintf(stderr, "usage: gpx-test-client [-n COUNT] SERVER METHOD PATH [BODY]\n");
    return 2;
}
