/*
 * The worker protocol's client (src/daemon/fn_http.c) against canned answers from a
 * one-connection-at-a-time unix socket server thread: framing by Content-Length, chunked and
 * the end of the connection; a connection kept alive and reused; a worker that dies before
 * its head (-1: 502), one that is not there (-3: not sent), one that does not answer (-2: 504);
 * polling for the answer (spin_ns) within its budget and the deadline, and when it is used.
 */
#define _GNU_SOURCE
#include "daemon/functions.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static char sock_path[108];
static int listen_fd = -1;

struct canned {
    const char *answer; /* written after the request's head and body are read; NULL: none */
    int close_after;    /* close the connection after the answer */
    int requests;       /* answers on one connection (keep-alive) */
    int delay_ms;       /* before answering */
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Reads one request (head, then Content-Length bytes); 0 at the end of the connection. */
static int read_request(int fd, char *req, size_t cap)
{
    size_t n = 0;
    char *end = NULL;
    while (!(end = memmem(req, n, "\r\n\r\n", 4))) {
        ssize_t r = read(fd, req + n, cap - n - 1);
        if (r <= 0)
            return 0;
        n += (size_t)r;
        req[n] = '\0';
    }
    const char *cl = strcasestr(req, "Content-Length:");
    size_t want = (size_t)(end + 4 - req) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
    while (n < want) {
        ssize_t r = read(fd, req + n, cap - n - 1);
        if (r <= 0)
            return 0;
        n += (size_t)r;
    }
    req[n] = '\0';
    return 1;
}

static char last_request[4096];

static void *server(void *arg)
{
    const struct canned *c = arg;
    int fd = accept(listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    for (int i = 0; i < (c->requests ? c->requests : 1); i++) {
        if (!read_request(fd, last_request, sizeof last_request))
            break;
        if (c->delay_ms)
            usleep((useconds_t)c->delay_ms * 1000);
        if (c->answer && send(fd, c->answer, strlen(c->answer), MSG_NOSIGNAL) < 0)
            break;
    }
    if (c->close_after || !c->requests)
        close(fd);
    else
        usleep(300000), close(fd); /* the client's keep-alive is checked meanwhile */
    return NULL;
}

static int setup(void **state)
{
    (void)state;
    snprintf(sock_path, sizeof sock_path, "/tmp/gpx-fnhttp-%d.sock", (int)getpid());
    unlink(sock_path);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
    listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(listen_fd, 4) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    close(listen_fd);
    unlink(sock_path);
    return 0;
}

static int64_t spin; /* the calls' spin_ns */

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One call against canned answer c: the client's result. */
static int call(const struct canned *c, int *keep, struct gpxd_fn_wresp *r, int64_t timeout_ms)
{
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, server, (void *)c), 0);
    int rc = gpxd_fn_http(sock_path, "POST", "/invoke", "application/json", "r-1", "{\"a\":1}", 7,
                          mono_ns() + timeout_ms * 1000000, -1, keep, spin, r);
    if (keep && *keep >= 0 && c->requests > 1) {
        /* the same connection carries the next request */
        assert_true(gpxd_fn_conn_alive(*keep));
        free(r->body);
        int k2 = -1;
        rc = gpxd_fn_http(sock_path, "POST", "/invoke", NULL, "r-2", "", 0,
                          mono_ns() + timeout_ms * 1000000, *keep, &k2, spin, r);
        assert_int_equal(k2, *keep);
        *keep = k2;
    }
    pthread_join(th, NULL);
    return rc;
}

static void test_content_length(void **state)
{
    (void)state;
    struct canned c = {"HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
                       "Connection: close\r\n\r\nhello",
                       1, 0, 0};
    struct gpxd_fn_wresp r;
    assert_int_equal(call(&c, NULL, &r, 2000), 0);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.ctype, "text/plain");
    assert_int_equal(r.len, 5);
    assert_string_equal(r.body, "hello");
    free(r.body);
    /* what the worker got: the method, path, Connection: close, the request id and the body */
    assert_non_null(strstr(last_request, "POST /invoke HTTP/1.1\r\n"));
    assert_non_null(strstr(last_request, "Connection: close\r\n"));
    assert_non_null(strstr(last_request, "X-Gpuplex-Request-Id: r-1\r\n"));
    assert_non_null(strstr(last_request, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(last_request, "\r\n\r\n{\"a\":1}"));
}

static void test_chunked_and_eof(void **state)
{
    (void)state;
    struct canned c = {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n",
                       1, 0, 0};
    struct gpxd_fn_wresp r;
    assert_int_equal(call(&c, NULL, &r, 2000), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "application/octet-stream");
    assert_string_equal(r.body, "abcdefg");
    free(r.body);
    struct canned e = {"HTTP/1.0 200 OK\r\nContent-Type: a/b\r\n\r\nuntil the end", 1, 0, 0};
    assert_int_equal(call(&e, NULL, &r, 2000), 0);
    assert_string_equal(r.body, "until the end");
    free(r.body);
    /* 204: no body follows, whatever the framing */
    struct canned n = {"HTTP/1.1 204 No Content\r\n\r\n", 0, 1, 0};
    int keep = -1;
    assert_int_equal(call(&n, &keep, &r, 2000), 0);
    assert_int_equal(r.status, 204);
    assert_int_equal(r.len, 0);
    free(r.body);
    if (keep >= 0)
        close(keep);
}

static void test_keep_alive(void **state)
{
    (void)state;
    struct canned c = {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 2, 0};
    struct gpxd_fn_wresp r;
    int keep = -1;
    assert_int_equal(call(&c, &keep, &r, 2000), 0);
    assert_true(keep >= 0);
    assert_string_equal(r.body, "ok");
    assert_non_null(strstr(last_request, "X-Gpuplex-Request-Id: r-2\r\n"));
    assert_non_null(strstr(last_request, "Connection: keep-alive\r\n"));
    free(r.body);
    close(keep);
    /* an answer that says Connection: close is not kept */
    struct canned k = {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", 1, 1,
                       0};
    keep = -1;
    assert_int_equal(call(&k, &keep, &r, 2000), 0);
    assert_int_equal(keep, -1);
    free(r.body);
}

static void test_failures(void **state)
{
    (void)state;
    struct gpxd_fn_wresp r;
    /* closed before a whole head (the worker died): -1 */
    struct canned dead = {NULL, 1, 0, 0};
    assert_int_equal(call(&dead, NULL, &r, 2000), -1);
    /* cut off before its Content-Length: -1 */
    struct canned cut = {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 1, 0, 0};
    assert_int_equal(call(&cut, NULL, &r, 2000), -1);
    /* not HTTP: -1 */
    struct canned junk = {"SSH-2.0-OpenSSH\r\n\r\n", 1, 0, 0};
    assert_int_equal(call(&junk, NULL, &r, 2000), -1);
    /* no answer by the deadline: -2, on time */
    struct canned slow = {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1, 0, 600};
    int64_t t0 = mono_ns();
    assert_int_equal(call(&slow, NULL, &r, 100), -2);
    assert_true(mono_ns() - t0 < 590000000LL + 100000000LL);
    /* nobody listens there: -3 (nothing was sent) */
    assert_int_equal(gpxd_fn_http("/tmp/gpx-fnhttp-none.sock", "GET", "/ready", NULL, NULL, NULL, 0,
                                  mono_ns() + 100000000, -1, NULL, 0, &r),
                     -3);
}

/* Polling: answers read as without it; the poll stops at its budget and at the deadline. */
static void test_polling(void **state)
{
    (void)state;
    struct gpxd_fn_wresp r;
    /* an answer within the budget, on a kept-alive connection too */
    spin = 50000000;
    struct canned fast = {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 2, 2};
    int keep = -1;
    assert_int_equal(call(&fast, &keep, &r, 2000), 0);
    assert_int_equal(r.status, 200);
    assert_memory_equal(r.body, "ok", 2);
    free(r.body);
    close(keep);
    /* an answer after the budget: polls 2 ms, then sleeps (a poll to the answer would take
     * most of the 150 ms of CPU) */
    spin = 2000000;
    struct canned slow = {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 1, 0, 150};
    int64_t cpu0 = thread_cpu_ns();
    assert_int_equal(call(&slow, NULL, &r, 2000), 0);
    assert_int_equal(r.status, 200);
    free(r.body);
    assert_true(thread_cpu_ns() - cpu0 < 40000000LL);
    /* a budget past the deadline: the deadline wins (-2 on time) */
    spin = 10000000000LL;
    struct canned none = {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1, 0, 600};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, server, &none), 0);
    int64_t t0 = mono_ns();
    assert_int_equal(gpxd_fn_http(sock_path, "POST", "/invoke", NULL, "r-3", "", 0, t0 + 100000000,
                                  -1, NULL, spin, &r),
                     -2);
    int64_t took = mono_ns() - t0;
    pthread_join(th, NULL);
    assert_true(took < 400000000LL);
    spin = 0;
    /* when to poll: while the function answers within the budget (0: no answer yet) */
    assert_int_equal(gpxd_fn_spin_ns(300, 0), 300000);
    assert_int_equal(gpxd_fn_spin_ns(300, 300000), 300000);
    assert_int_equal(gpxd_fn_spin_ns(300, 300001), 0);
    assert_int_equal(gpxd_fn_spin_ns(0, 0), 0);
    assert_int_equal(gpxd_fn_spin_ns(10000, 9000000), 10000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length), cmocka_unit_test(test_chunked_and_eof),
        cmocka_unit_test(test_keep_alive),     cmocka_unit_test(test_failures),
        cmocka_unit_test(test_polling),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
