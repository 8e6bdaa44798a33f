/*
 * The HTTP/1.1 client gpuplexd speaks to its function workers over their unix
 * sockets (docs/functions.md, "Worker protocol"): one request, the answer
 * read by its framing (Content-Length, chunked, or the end of the connection),
 * every wait bounded by the call's deadline. A small client rather than
 * libcurl: a call is one connect (or a kept-alive connection), one write and
 * the reads, on the calling connection's thread, with nothing shared between calls.
 * Unit-tested against canned answers (tests/unit/test_gpxd_fn_http.c).
 */
#define _GNU_SOURCE
#include "daemon/functions.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_RESP (GPXD_FN_MAX_BODY + 65536) /* an answer larger than any body we take */

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Waits for fd to be ready for ev until deadline (CLOCK_MONOTONIC ns): 1 ready, 0 timeout. */
static int wait_fd(int fd, short ev, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - mono_ns();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = ev};
        int r = poll(&p, 1, (int)((left + 999999) / 1000000));
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return 1; /* let the read or write say what is wrong */
    }
}

static int write_all_until(int fd, const char *p, size_t n, int64_t deadline);

/* The head and the body in one send when the socket takes them (the usual case): a worker
 * woken by the head alone would go back to sleep for the body, a second wake-up per call. */
static int write_head_body(int fd, const char *head, size_t hn, const char *body, size_t len,
                           int64_t deadline)
{
    struct iovec iov[2] = {{(void *)head, hn}, {(void *)body, len}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    ssize_t w;
    do
        w = sendmsg(fd, &mh, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w < 0 && errno != EAGAIN)
        return -1;
    size_t sent = w > 0 ? (size_t)w : 0;
    int rc = 0;
    if (sent < hn)
        rc = write_all_until(fd, head + sent, hn - sent, deadline);
    size_t bsent = sent > hn ? sent - hn : 0;
    if (rc == 0 && bsent < len)
        rc = write_all_until(fd, body + bsent, len - bsent, deadline);
    return rc;
}

static int write_all_until(int fd, const char *p, size_t n, int64_t deadline)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait_fd(fd, POLLOUT, deadline))
                return -2;
        } else {
            return -1;
        }
    }
    return 0;
}

/* Decodes a chunked body in place; its length, or -1 when malformed or incomplete. */
static ssize_t dechunk(char *p, size_t n)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *end = memmem(p + in, n - in, "\r\n", 2);
        if (!end)
            return -1;
        char *e;
        unsigned long sz = strtoul(p + in, &e, 16);
        if (e == p + in)
            return -1;
        in = (size_t)(end - p) + 2;
        if (sz == 0)
            return (ssize_t)out;
        if (sz > n - in || n - in - sz < 2)
            return -1;
        memmove(p + out, p + in, sz);
        out += sz;
        in += sz + 2;
    }
}

/* Where the head ends (after its blank line) once it is all there, else 0. */
static size_t head_end(const char *buf, size_t n)
{
    const char *e = memmem(buf, n, "\r\n\r\n", 4);
    return e ? (size_t)(e - buf) + 4 : 0;
}

/* A header's value in the head (case-insensitive name), copied into out; 0 if absent. */
static int header(const char *head, size_t hlen, const char *name, char *out, size_t len)
{
    size_t nl = strlen(name);
    const char *p = memmem(head, hlen, "\r\n", 2);
    while (p && (size_t)(p - head) + 2 < hlen) {
        p += 2;
        const char *eol = memmem(p, hlen - (size_t)(p - head), "\r\n", 2);
        if (!eol)
            break;
        if ((size_t)(eol - p) > nl && p[nl] == ':' && !strncasecmp(p, name, nl)) {
            const char *v = p + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            size_t vl = (size_t)(eol - v);
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;
            snprintf(out, len, "%.*s", (int)vl, v);
            return 1;
        }
        p = eol;
    }
    return 0;
}

/*
 * One request to a worker: 0 with *r filled; -1 it broke the connection or
 * the protocol (502), -2 no answer by deadline (504), -3 it could not be
 * reached (the request was not sent: another worker may take it).
 * Connections: `reuse` is a kept-alive connection to send on (-1: a new one);
 * with keep (not NULL) the request asks to keep the connection and *keep gets
 * it back when the answer allows (framed by its length, no "Connection:
 * close"), else -1. Without keep, one connection per request (Connection: close).
 */
int gpxd_fn_http(const char *sock, const char *method, const char *path, const char *ctype,
                 const char *req_id, const char *body, size_t len, int64_t deadline, int reuse,
                 int *keep, int64_t spin_ns, struct gpxd_fn_wresp *r)
{
    memset(r, 0, sizeof *r);
    if (keep)
        *keep = -1;
    int fd = reuse;
    int rc = -1;
    char *buf = NULL;
    if (fd >= 0)
        goto send;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        if (errno != EAGAIN && errno != EINPROGRESS) {
            rc = -3; /* nothing reached the worker */
            goto out;
        }
        if (!wait_fd(fd, POLLOUT, deadline)) {
            rc = -2;
            goto out;
        }
        int e = 0;
        socklen_t el = sizeof e;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e) {
            rc = -3;
            goto out;
        }
    }
send:;
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: gpuplex-worker\r\nConnection: %s\r\n"
                      "Content-Type: %s\r\nContent-Length: %zu\r\nX-Gpuplex-Request-Id: %s\r\n\r\n",
                      method, path, keep ? "keep-alive" : "close",
                      ctype ? ctype : "application/octet-stream", len, req_id ? req_id : "");
    if ((rc = write_head_body(fd, head, (size_t)hn, body, len, deadline)) < 0)
        goto out;
    rc = -1;
    int64_t spin_until = spin_ns > 0 ? mono_ns() + spin_ns : 0;
    if (spin_until > deadline)
        spin_until = deadline;
    size_t cap = 8192, n = 0, hend = 0;
    long long clen = -1;
    int chunked = 0, nobody = 0, closing = 0;
    buf = malloc(cap);
    for (;;) {
        if (!buf)
            goto out;
        if (n == cap) {
            if (cap >= MAX_RESP)
                goto out; /* an answer larger than any body we take */
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                goto out;
            buf = nb;
        }
        ssize_t got = recv(fd, buf + n, cap - n, 0);
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
            /* polling (spin_ns): the recv again after a sched_yield */
            if (spin_until && mono_ns() < spin_until) {
                sched_yield();
                continue;
            }
            if (!wait_fd(fd, POLLIN, deadline)) {
                rc = -2;
                goto out;
            }
            continue;
        }
        if (got < 0)
            goto out;
        n += (size_t)got;
        if (!hend && (hend = head_end(buf, n))) {
            char v[64];
            if (header(buf, hend, "Content-Length", v, sizeof v))
                clen = strtoll(v, NULL, 10);
            if (header(buf, hend, "Transfer-Encoding", v, sizeof v))
                chunked = strcasestr(v, "chunked") != NULL;
            if (header(buf, hend, "Connection", v, sizeof v))
                closing = strcasestr(v, "close") != NULL;
            int st = n > 12 ? atoi(buf + 9) : 0;
            nobody = (st >= 100 && st < 200) || st == 204 || st == 304; /* no body follows */
            if (nobody)
                clen = 0;
        }
        int complete = got == 0;
        if (hend && clen >= 0 && n - hend >= (size_t)clen)
            complete = 1;
        /* chunked: the last chunk (no trailers) ends what we read */
        if (hend && chunked && n - hend >= 5 && !memcmp(buf + n - 5, "0\r\n\r\n", 5))
            complete = 1;
        if (!complete)
            continue;
        if (!hend || n < 12 || strncmp(buf, "HTTP/1.", 7) != 0)
            goto out; /* closed before a whole head: the worker died or is not HTTP */
        int st = atoi(buf + 9);
        if (st < 100 || st > 599)
            goto out;
        size_t blen = n - hend;
        if (clen >= 0) {
            if (blen < (size_t)clen)
                goto out; /* cut off */
            blen = (size_t)clen;
            /* framed by its length: the connection may carry the next request */
            if (keep && !closing && got != 0 && n - hend == (size_t)clen)
                *keep = fd;
        } else if (chunked) {
            ssize_t dl = dechunk(buf + hend, blen);
            if (dl < 0)
                goto out;
            blen = (size_t)dl;
        }
        r->status = st;
        if (!header(buf, hend, "Content-Type", r->ctype, sizeof r->ctype))
            snprintf(r->ctype, sizeof r->ctype, "application/octet-stream");
        r->body = malloc(blen + 1);
        if (!r->body)
            goto out;
        memcpy(r->body, buf + hend, blen);
        r->body[blen] = '\0';
        r->len = blen;
        rc = 0;
        break;
    }
out:
    free(buf);
    if (!keep || *keep != fd)
        close(fd);
    return rc;
}

int64_t gpxd_fn_spin_ns(unsigned fn_spin_us, int64_t answer_ns)
{
    int64_t budget = (int64_t)fn_spin_us * 1000;
    return budget > 0 && answer_ns <= budget ? budget : 0;
}

/* Whether a kept-alive connection is still open and quiet (the worker may close idle ones). */
int gpxd_fn_conn_alive(int fd)
{
    char c;
    ssize_t r = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}
