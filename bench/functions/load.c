/*
 * bench/functions load generator: C connections, each its own thread and
 * kept-alive HTTP/1.1 connection (reopened when the server closes it), POST
 * the same body to one path, one request at a time per connection, for S
 * seconds or N requests in all. Speaks to a unix socket (gpuplexd's, or a
 * worker's directly) or to HOST:PORT, so both sides of the routing overhead
 * are measured by the same client. wrk cannot reach unix sockets; this is a
 * few hundred lines and needs nothing but libc.
 *
 * Prints one JSON object: requests, by status, seconds, req_per_s, and the
 * latency (send to last byte) and time to first byte percentiles in µs.
 *
 * usage: load (--unix PATH | --tcp HOST:PORT) --path P [--body B] [--token T]
 *             [--conns C] [--close 1] (--seconds S | --requests N)
 * --close 1: "Connection: close" and a new connection per request (what gpuplexd does
 * towards a worker), to tell the cost of connecting from the rest of the routing.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static struct {
    const char *unix_path, *host, *path, *body, *token;
    int port, conns, close;
    double seconds;
    long requests;
} o = {.path = "/invoke", .body = "{}", .conns = 1};

static char request[8192];
static size_t request_len;
static atomic_long issued;
static double deadline;

struct worker {
    pthread_t t;
    double *lat, *ttfb; /* µs */
    size_t n, cap;
    long status[6]; /* by hundreds: 1xx..5xx; [0] transport errors */
    char err[256];
};

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int dial(void)
{
    int fd;
    if (o.unix_path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", o.unix_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
            close(fd);
            return -1;
        }
        return fd;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port)};
    inet_pton(AF_INET, o.host, &sa.sin_addr);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One exchange on fd. Returns the status (> 0), or -1; *close_after when the server said so. */
static int exchange(int fd, double t0, double *ttfb, int *close_after)
{
    for (size_t off = 0; off < request_len;) {
        ssize_t w = send(fd, request + off, request_len - off, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    static __thread char buf[1 << 16];
    size_t have = 0;
    char *end = NULL;
    *ttfb = 0;
    while (!end) {
        if (have == sizeof buf - 1)
            return -1;
        ssize_t r = recv(fd, buf + have, sizeof buf - 1 - have, 0);
        if (r <= 0)
            return -1;
        if (!*ttfb)
            *ttfb = now_us() - t0;
        have += (size_t)r;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    long clen = -1;
    *close_after = 0;
    for (char *l = strstr(buf, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n")) {
        if (!strncasecmp(l + 2, "Content-Length:", 15))
            clen = strtol(l + 17, NULL, 10);
        else if (!strncasecmp(l + 2, "Connection: close", 17))
            *close_after = 1;
    }
    size_t got = have - (size_t)(end + 4 - buf);
    if (clen < 0) { /* no length: the body runs to the close */
        *close_after = 1;
        while (recv(fd, buf, sizeof buf, 0) > 0)
            ;
        return status;
    }
    while ((long)got < clen) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return status;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    int fd = -1;
    for (;;) {
        if (o.requests ? atomic_fetch_add(&issued, 1) >= o.requests : now_us() >= deadline)
            break;
        if (fd < 0 && (fd = dial()) < 0) {
            snprintf(w->err, sizeof w->err, "connect: %s", strerror(errno));
            w->status[0]++;
            usleep(1000);
            continue;
        }
        double t0 = now_us(), ttfb;
        int close_after = 0;
        int st = exchange(fd, t0, &ttfb, &close_after);
        double dt = now_us() - t0;
        if (st < 0) {
            snprintf(w->err, sizeof w->err, "exchange failed");
            w->status[0]++;
            close(fd);
            fd = -1;
            continue;
        }
        w->status[st / 100 < 6 ? st / 100 : 5]++;
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 4096;
            w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
            w->ttfb = realloc(w->ttfb, w->cap * sizeof *w->ttfb);
            if (!w->lat || !w->ttfb)
                abort();
        }
        w->lat[w->n] = dt;
        w->ttfb[w->n++] = ttfb;
        if (close_after || o.close) {
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static void usage(void)
{
    fprintf(stderr, "usage: load (--unix PATH | --tcp HOST:PORT) [--path P] [--body B] "
                    "[--token T] [--conns C] [--close 1] (--seconds S | --requests N)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static char host[64];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        if (!strcmp(a, "--unix"))
            o.unix_path = v;
        else if (!strcmp(a, "--tcp")) {
            if (sscanf(v, "%63[^:]:%d", host, &o.port) != 2)
                usage();
            o.host = host;
        } else if (!strcmp(a, "--path"))
            o.path = v;
        else if (!strcmp(a, "--body"))
            o.body = v;
        else if (!strcmp(a, "--token"))
            o.token = v;
        else if (!strcmp(a, "--conns"))
            o.conns = atoi(v);
        else if (!strcmp(a, "--seconds"))
            o.seconds = atof(v);
        else if (!strcmp(a, "--close"))
            o.close = atoi(v);
        else if (!strcmp(a, "--requests"))
            o.requests = atol(v);
        else
            usage();
        i++;
    }
    if ((!o.unix_path && !o.host) || o.conns < 1 || (o.seconds <= 0 && o.requests <= 0))
        usage();
    char auth[300] = "";
    if (o.token)
        snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", o.token);
    int n = snprintf(request, sizeof request,
                     "POST %s HTTP/1.1\r\nHost: localhost\r\n%s%sContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     o.path, auth, o.close ? "Connection: close\r\n" : "", strlen(o.body), o.body);
    if (n < 0 || (size_t)n >= sizeof request) {
        fprintf(stderr, "load: the request is over %zu bytes\n", sizeof request);
        return 2;
    }
    request_len = (size_t)n;
    struct worker *ws = calloc((size_t)o.conns, sizeof *ws);
    if (!ws)
        return 1;
    double t0 = now_us();
    deadline = t0 + o.seconds * 1e6;
    for (int i = 0; i < o.conns; i++)
        pthread_create(&ws[i].t, NULL, run, &ws[i]);
    for (int i = 0; i < o.conns; i++)
        pthread_join(ws[i].t, NULL);
    double secs = (now_us() - t0) / 1e6;
    size_t total = 0;
    long st[6] = {0};
    const char *err = "";
    for (int i = 0; i < o.conns; i++) {
        total += ws[i].n;
        for (int k = 0; k < 6; k++)
            st[k] += ws[i].status[k];
        if (ws[i].err[0])
            err = ws[i].err;
    }
    double *lat = malloc((total ? total : 1) * sizeof *lat);
    double *fb = malloc((total ? total : 1) * sizeof *fb);
    if (!lat || !fb)
        return 1;
    size_t k = 0;
    for (int i = 0; i < o.conns; i++) {
        memcpy(lat + k, ws[i].lat, ws[i].n * sizeof *lat);
        memcpy(fb + k, ws[i].ttfb, ws[i].n * sizeof *fb);
        k += ws[i].n;
    }
    qsort(lat, total, sizeof *lat, cmp);
    qsort(fb, total, sizeof *fb, cmp);
    printf("{\"requests\": %zu, \"status_2xx\": %ld, \"status_4xx\": %ld, \"status_5xx\": %ld, "
           "\"transport_errors\": %ld, \"seconds\": %.3f, \"req_per_s\": %.1f, "
           "\"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f, "
           "\"ttfb_p50_us\": %.1f, \"ttfb_p99_us\": %.1f, \"last_error\": \"%s\"}\n",
           total, st[2], st[4], st[5], st[0], secs, secs > 0 ? (double)total / secs : 0,
           pct(lat, total, 50), pct(lat, total, 90), pct(lat, total, 99), pct(lat, total, 100),
           pct(fb, total, 50), pct(fb, total, 99), err);
    return st[0] && !total ? 1 : 0;
}
