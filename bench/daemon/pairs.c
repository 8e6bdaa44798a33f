/*
 * gpuplexd bench: create+release pairs through the client's HTTP transport
 * (src/client/http.h, libcurl, under include/gpuplex/client.h) on one
 * kept-alive connection, one pair at a time; prints each pair's latency
 * percentiles and the pair rate as JSON.
 * usage: pairs SERVER N BODY
 */
#include "client/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: pairs SERVER N BODY\n");
        return 2;
    }
    int n = atoi(argv[2]);
    double *lat = malloc(sizeof *lat * (size_t)(n > 0 ? n : 1));
    gpx_client *c;
    gpx_error err = {0};
    if (!lat || n <= 0 || gpx_client_new(argv[1], NULL, &c, &err) < 0) {
        fprintf(stderr, "pairs: %s\n", err.msg);
        return 1;
    }
    double t0 = now_ms();
    for (int i = 0; i < n; i++) {
        double s = now_ms();
        int status;
        char *resp = NULL;
        if (gpx_client_request(c, "POST", "/v1/leases", argv[3], &status, &resp, &err) < 0) {
            fprintf(stderr, "pairs: create: %s\n", err.msg);
            return 1;
        }
        char *id = strstr(resp, "\"id\":\"");
        char path[128];
        if (!id || sscanf(id + 6, "%63[^\"]", path + 11) != 1) {
            fprintf(stderr, "pairs: no id in %s\n", resp);
            return 1;
        }
        memcpy(path, "/v1/leases/", 11);
        free(resp);
        if (gpx_client_request(c, "DELETE", path, NULL, &status, NULL, &err) < 0) {
            fprintf(stderr, "pairs: release: %s\n", err.msg);
            return 1;
        }
        lat[i] = now_ms() - s;
    }
    double total = now_ms() - t0;
    qsort(lat, (size_t)n, sizeof *lat, cmp);
#define PCT(p) lat[(size_t)((p) / 100.0 * (n - 1) + 0.5)]
    printf("{\"pairs\": %d, \"pairs_per_s\": %.1f, \"p50_ms\": %.3f, \"p90_ms\": %.3f, "
           "\"p99_ms\": %.3f, \"max_ms\": %.3f}\n",
           n, n / (total / 1e3), PCT(50), PCT(90), PCT(99), lat[n - 1]);
    gpx_client_free(c);
    free(lat);
    return 0;
}
