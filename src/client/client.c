/*
 * A minimal HTTP/1.1 client for gpuplexd: one connection per handle,
 * kept alive between requests, Content-Length or chunked bodies. Enough for
 * the daemon's API and nothing more; no TLS (the daemon listens on a unix
 * socket and loopback only). Error answers are turned back into the
 * gpx_error they came from, by code name, so a CLI command fails with the
 * same exit status whether it ran the operation itself or asked the daemon.
 */
#define _GNU_SOURCE
#include "gpuplex/client.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define TIMEOUT_MS   120000
#define MAX_RESPONSE (64u << 20)

struct gpx_client {
    char server[512];
    int is_unix;
    char path[108];          /* unix socket */
    char host[256], port[8]; /* TCP */
    char *token;
    int fd;
};

const char *gpx_client_server(const gpx_client *c)
{
    return c->server;
}

static const char *default_server(const char *server)
{
    if (server && *server)
        return server;
    const char *env = getenv("GPUPLEX_SERVER");
    return env && *env ? env : GPX_CLIENT_DEFAULT_SOCKET;
}

static int parse_server(gpx_client *c, const char *s, gpx_error *err)
{
    snprintf(c->server, sizeof c->server, "%s", s);
    if (strncmp(s, "http://", 7) == 0) {
        const char *h = s + 7;
        const char *end = h + strcspn(h, "/");
        const char *colon = NULL;
        if (*h == '[') {
            const char *rb = memchr(h, ']', (size_t)(end - h));
            if (!rb)
                return gpx_error_set(err, GPX_E_USAGE, "invalid server URL '%s'", s);
            colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
            size_t hl = (size_t)(rb - h - 1);
            if (hl >= sizeof c->host)
                return gpx_error_set(err, GPX_E_USAGE, "invalid server URL '%s'", s);
            memcpy(c->host, h + 1, hl);
            c->host[hl] = '\0';
        } else {
            colon = memchr(h, ':', (size_t)(end - h));
            size_t hl = (size_t)((colon ? colon : end) - h);
            if (hl == 0 || hl >= sizeof c->host)
                return gpx_error_set(err, GPX_E_USAGE, "invalid server URL '%s'", s);
            memcpy(c->host, h, hl);
            c->host[hl] = '\0';
        }
        size_t pl = colon ? (size_t)(end - colon - 1) : 0;
        if (colon && (pl == 0 || pl >= sizeof c->port || strspn(colon + 1, "0123456789") < pl))
            return gpx_error_set(err, GPX_E_USAGE, "invalid port in server URL '%s'", s);
        if (colon) {
            memcpy(c->port, colon + 1, pl);
            c->port[pl] = '\0';
        } else {
            snprintf(c->port, sizeof c->port, "80");
        }
        if (*end && strcmp(end, "/") != 0)
            return gpx_error_set(err, GPX_E_USAGE,
                                 "server URL '%s' must not have a path (http://HOST:PORT)", s);
        return 0;
    }
    if (strncmp(s, "https://", 8) == 0)
        return gpx_error_set(err, GPX_E_USAGE,
                             "https is not supported: gpuplexd serves a unix socket and loopback "
                             "HTTP");
    const char *p = strncmp(s, "unix:", 5) == 0 ? s + 5 : s;
    if (strlen(p) >= sizeof c->path || !*p)
        return gpx_error_set(err, GPX_E_USAGE, "invalid server socket path '%s'", s);
    c->is_unix = 1;
    memcpy(c->path, p, strlen(p) + 1);
    return 0;
}

int gpx_client_new(const char *server, const char *token, gpx_client **out, gpx_error *err)
{
    gpx_client *c = calloc(1, sizeof *c);
    if (!c)
        return gpx_error_set(err, GPX_E_NOMEM, "client");
    c->fd = -1;
    if (parse_server(c, default_server(server), err) < 0) {
        free(c);
        return -1;
    }
    if (!token || !*token)
        token = getenv("GPUPLEX_TOKEN");
    if (token && *token) {
        if (strpbrk(token, "\r\n") || !(c->token = strdup(token))) {
            free(c);
            return gpx_error_set(err, GPX_E_USAGE, "invalid token");
        }
    }
    *out = c;
    return 0;
}

void gpx_client_free(gpx_client *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->token);
    free(c);
}

static int unreachable(const gpx_client *c, int e, gpx_error *err)
{
    return gpx_error_errno(err, GPX_E_IO, e,
                           "cannot reach gpuplexd at %s (is it running? set --server or "
                           "GPUPLEX_SERVER)",
                           c->server);
}

static int connect_to(gpx_client *c, gpx_error *err)
{
    if (c->is_unix) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return gpx_error_errno(err, GPX_E_IO, errno, "socket");
        int rc;
        do
            rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
        while (rc < 0 && errno == EINTR);
        if (rc < 0) {
            int e = errno;
            close(fd);
            return unreachable(c, e, err);
        }
        c->fd = fd;
        return 0;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int g = getaddrinfo(c->host, c->port, &hints, &res);
    if (g != 0)
        return gpx_error_set(err, GPX_E_IO, "cannot resolve %s: %s", c->host, gai_strerror(g));
    int e = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            freeaddrinfo(res);
            c->fd = fd;
            return 0;
        }
        e = errno;
        close(fd);
    }
    freeaddrinfo(res);
    return unreachable(c, e, err);
}

int gpx_client_daemon_configured(const char *server)
{
    const char *env = getenv("GPUPLEX_SERVER");
    if (server && *server)
        return strcmp(server, "none") != 0;
    if (env && *env)
        return strcmp(env, "none") != 0;
    gpx_client *c = NULL;
    if (gpx_client_new(GPX_CLIENT_DEFAULT_SOCKET, NULL, &c, NULL) < 0)
        return 0;
    int ok = connect_to(c, NULL) == 0;
    gpx_client_free(c);
    return ok;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

struct rbuf {
    char *p;
    size_t len, cap;
};

/* Reads more bytes into b; 0 on EOF, -1 on error (errno), else bytes read. */
static ssize_t fill(int fd, struct rbuf *b)
{
    if (b->cap - b->len < 4096) {
        size_t cap = b->cap ? b->cap * 2 : 8192;
        if (cap > MAX_RESPONSE + 8192) {
            errno = EMSGSIZE;
            return -1;
        }
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int pr;
    do
        pr = poll(&pfd, 1, TIMEOUT_MS);
    while (pr < 0 && errno == EINTR);
    if (pr == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    if (pr < 0)
        return -1;
    ssize_t n;
    do
        n = recv(fd, b->p + b->len, b->cap - b->len - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        b->len += (size_t)n;
        b->p[b->len] = '\0';
    }
    return n;
}

static enum gpx_code code_by_name(const char *name, int status)
{
    for (int i = 0; i < GPX_E__COUNT; i++)
        if (name && strcmp(gpx_error_name((enum gpx_code)i), name) == 0)
            return (enum gpx_code)i;
    switch (status) {
    case 400:
        return GPX_E_INVALID;
    case 401:
        return GPX_E_UNAUTH;
    case 403:
        return GPX_E_PERM;
    case 404:
        return GPX_E_NOT_FOUND;
    case 409:
        return GPX_E_BUSY;
    default:
        return GPX_E_INTERNAL;
    }
}

/* The request/response exchange on an open connection. 1 = closed before any answer byte. */
/* The status code of an "HTTP/1.x NNN ..." status line; -1 when `p` does not start with one. */
static int http_status(const char *p)
{
    if (strncmp(p, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)p[7]))
        return -1;
    p += 7;
    while (isdigit((unsigned char)*p))
        p++;
    char *end;
    long st = strtol(p, &end, 10);
    return end == p || st < 100 || st > 599 ? -1 : (int)st;
}

static int exchange(gpx_client *c, const char *req, size_t req_len, int *status, char **resp,
                    int *keep, gpx_error *err)
{
    if (write_all(c->fd, req, req_len) < 0)
        return 1;
    struct rbuf b = {0};
    char *hend = NULL;
    for (;;) {
        ssize_t n = fill(c->fd, &b);
        if (n == 0 && b.len == 0) {
            free(b.p);
            return 1;
        }
        if (n <= 0) {
            int e = n == 0 ? ECONNRESET : errno;
            free(b.p);
            return gpx_error_errno(err, GPX_E_IO, e, "reading the answer of gpuplexd at %s",
                                   c->server);
        }
        if ((hend = strstr(b.p, "\r\n\r\n")) != NULL)
            break;
        if (b.len > 65536) {
            free(b.p);
            return gpx_error_set(err, GPX_E_IO, "gpuplexd at %s sent oversized headers", c->server);
        }
    }
    int st = http_status(b.p);
    if (st < 0) {
        free(b.p);
        return gpx_error_set(err, GPX_E_IO, "%s did not answer HTTP", c->server);
    }
    long long clen = -1;
    int chunked = 0;
    *keep = 1;
    *hend = '\0';
    for (char *line = strstr(b.p, "\r\n"); line && line < hend; line = strstr(line + 2, "\r\n")) {
        char *h = line + 2;
        if (!strncasecmp(h, "Content-Length:", 15))
            clen = strtoll(h + 15, NULL, 10);
        else if (!strncasecmp(h, "Transfer-Encoding:", 18) && strcasestr(h, "chunked"))
            chunked = 1;
        else if (!strncasecmp(h, "Connection:", 11) && strcasestr(h, "close"))
            *keep = 0;
    }
    size_t off = (size_t)(hend + 4 - b.p);
    char *body = NULL;
    size_t blen = 0;
    if (chunked) {
        /* decode in place as chunks arrive */
        size_t pos = off;
        struct rbuf out = {0};
        for (;;) {
            char *nl = b.len > pos ? strstr(b.p + pos, "\r\n") : NULL;
            if (!nl) {
                if (fill(c->fd, &b) <= 0)
                    goto short_read;
                continue;
            }
            unsigned long sz = strtoul(b.p + pos, NULL, 16);
            size_t data = (size_t)(nl + 2 - b.p);
            while (b.len < data + sz + 2)
                if (fill(c->fd, &b) <= 0)
                    goto short_read;
            if (sz == 0)
                break;
            char *p = realloc(out.p, out.len + sz + 1);
            if (!p)
                goto short_read;
            out.p = p;
            memcpy(out.p + out.len, b.p + data, sz);
            out.len += sz;
            out.p[out.len] = '\0';
            pos = data + sz + 2;
            continue;
        short_read:
            free(out.p);
            free(b.p);
            return gpx_error_set(err, GPX_E_IO, "short answer from gpuplexd at %s", c->server);
        }
        body = out.p;
        blen = out.len;
        free(b.p);
    } else {
        if (clen < 0)
            *keep = 0;
        while (clen < 0 || b.len - off < (size_t)clen) {
            ssize_t n = fill(c->fd, &b);
            if (n == 0 && clen < 0)
                break;
            if (n <= 0) {
                free(b.p);
                return gpx_error_set(err, GPX_E_IO, "short answer from gpuplexd at %s", c->server);
            }
        }
        blen = clen < 0 ? b.len - off : (size_t)clen;
        body = malloc(blen + 1);
        if (body) {
            memcpy(body, b.p + off, blen);
            body[blen] = '\0';
        }
        free(b.p);
        if (!body)
            return gpx_error_set(err, GPX_E_NOMEM, "answer");
    }
    *status = st;
    if (st >= 200 && st < 300) {
        if (resp)
            *resp = body ? body : strdup("");
        else
            free(body);
        return 0;
    }
    json_t *j = body ? json_loadb(body, blen, 0, NULL) : NULL;
    json_t *e = json_object_get(json_object_get(j, "error"), "code");
    json_t *m = json_object_get(json_object_get(j, "error"), "message");
    enum gpx_code code = code_by_name(json_string_value(e), st);
    if (json_is_string(m))
        gpx_error_set(err, code, "%s", json_string_value(m));
    else
        gpx_error_set(err, code, "gpuplexd answered HTTP %d", st);
    json_decref(j);
    free(body);
    return -1;
}

int gpx_client_request(gpx_client *c, const char *method, const char *path, const char *body,
                       int *status, char **resp, gpx_error *err)
{
    *status = 0;
    if (resp)
        *resp = NULL;
    size_t blen = body ? strlen(body) : 0;
    size_t cap = 512 + sizeof c->host + strlen(method) + strlen(path) +
                 (c->token ? strlen(c->token) : 0) + blen;
    char *req = malloc(cap);
    if (!req)
        return gpx_error_set(err, GPX_E_NOMEM, "request");
    int n = snprintf(req, cap,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gpuplex/" GPX_VERSION
                     "\r\nAccept: application/json\r\n",
                     method, path, c->is_unix ? "localhost" : c->host);
    if (c->token)
        n += snprintf(req + n, cap - (size_t)n, "Authorization: Bearer %s\r\n", c->token);
    if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
        n += snprintf(req + n, cap - (size_t)n,
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n", blen);
    n += snprintf(req + n, cap - (size_t)n, "\r\n");
    if (blen)
        memcpy(req + n, body, blen + 1); /* with its NUL: cap leaves room */
    size_t len = (size_t)n + blen;

    int rc = 1;
    for (int attempt = 0; attempt < 2 && rc == 1; attempt++) {
        int reused = c->fd >= 0;
        if (!reused && connect_to(c, err) < 0) {
            free(req);
            return -1;
        }
        int keep = 0;
        rc = exchange(c, req, len, status, resp, &keep, err);
        if (rc != 0 || !keep) {
            close(c->fd);
            c->fd = -1;
        }
        /* closed before answering: a stale kept-alive connection is retried for GETs; a fresh
         * one means the daemon went away mid-request, and a POST or DELETE may have happened */
        if (rc == 1 && (!reused || strcmp(method, "GET") != 0)) {
            gpx_error_set(err, GPX_E_IO, "gpuplexd at %s closed the connection without answering",
                          c->server);
            rc = -1;
        }
    }
    free(req);
    return rc == 0 ? 0 : -1;
}
