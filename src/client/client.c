/*
 * The HTTP client of gpuplexd, on libcurl: one easy handle per gpx_client,
 * reused between requests so its connection stays open. No retry loop here:
 * libcurl checks a kept-alive connection before reusing it and resends once
 * on a fresh one when a reused connection closes before any answer byte (for
 * any method; idle ones over MAX_IDLE_S are not reused, which keeps that rare).
 * Unix socket (CURLOPT_UNIX_SOCKET_PATH), HTTP or HTTPS; no proxy, no
 * redirects, HTTP/1.1 only. HTTPS always verifies the server's certificate
 * and host name: against $GPUPLEX_CA alone when set (a private CA), else the
 * system's store; there is no switch to turn that off.
 * Invariants: every exchange is bounded (connect 5 s, whole request 120 s or
 * $GPUPLEX_TIMEOUT, a stall, MAX_RESPONSE bytes of body, MAX_HEADERS of
 * headers); every transport failure is GPX_E_IO "cannot reach gpuplexd at
 * SERVER: ..." with *status 0; error answers are turned back into the
 * gpx_error they came from, by code name (answer.c), so a CLI command fails
 * with the same exit status whether it ran the operation itself or asked the
 * daemon.
 * Nothing is printed and no signal is raised (CURLOPT_NOSIGNAL).
 */
#define _GNU_SOURCE
#include "client/http.h"
#include "gpuplex/client.h" /* struct gpx_fn_answer */

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_RESPONSE       ((size_t)64 << 20) /* body bytes; a longer answer is an error */
#define MAX_HEADERS        ((size_t)64 << 10) /* header bytes, all header lines together */
#define CONNECT_TIMEOUT_MS 5000L
#define DEFAULT_TIMEOUT_S  120L   /* whole request; $GPUPLEX_TIMEOUT overrides */
#define MAX_TIMEOUT_S      86400L /* keeps the milliseconds in a long */
#define STALL_S            60L    /* under 1 byte/s for this long (or the timeout): gone */
#define MAX_IDLE_S         30L    /* no reuse of older idle connections (gpuplexd: 60 s) */

struct gpx_client {
    char server[512]; /* as given, for messages */
    char base[300];   /* "http[s]://HOST:PORT", or "http://localhost" on a socket */
    char path[108];   /* the unix socket; "" over TCP */
    int tls;          /* https:// */
    int plain_remote; /* http:// to a host that is not loopback */
    char *ca;         /* $GPUPLEX_CA (https only), or NULL: the system's store */
    char *auth;       /* "Authorization: Bearer TOKEN", or NULL */
    long timeout_s;
    CURL *curl;
    char errbuf[CURL_ERROR_SIZE];
};

/* One answer as it arrives; `why` says why a callback stopped the transfer. */
struct answer {
    char *p;
    size_t len, cap, header_bytes;
    enum { ANS_OK, ANS_TOO_LARGE, ANS_HEADERS_TOO_LARGE, ANS_NOMEM } why;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

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

/* Fills c->base (TCP) or c->path (socket) from "http://HOST[:PORT]", "unix:PATH" or a path. */
/* 127.0.0.0/8, ::1 or localhost: a name or address that never leaves the host. */
static int is_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
           strcasecmp(host, "localhost") == 0;
}

static int parse_server(gpx_client *c, const char *s, gpx_error *err)
{
    snprintf(c->server, sizeof c->server, "%s", s);
    c->tls = strncmp(s, "https://", 8) == 0;
    const char *scheme = c->tls ? "https" : "http";
    if (!c->tls && strncmp(s, "http://", 7) != 0) {
        const char *p = strncmp(s, "unix:", 5) == 0 ? s + 5 : s;
        if (!*p || strlen(p) >= sizeof c->path)
            return gpx_error_set(err, GPX_E_USAGE, "invalid server socket path '%s'", s);
        memcpy(c->path, p, strlen(p) + 1);
        snprintf(c->base, sizeof c->base, "http://localhost");
        return 0;
    }
    const char *h = s + strlen(scheme) + 3, *end = h + strcspn(h, "/"), *colon;
    size_t hl;
    int v6 = *h == '[';
    if (v6) { /* [::1]:7470 */
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (!rb)
            return gpx_error_set(err, GPX_E_USAGE, "invalid server URL '%s'", s);
        h++;
        hl = (size_t)(rb - h);
        colon = rb + 1 < end ? rb + 1 : NULL;
        if (colon && *colon != ':')
            return gpx_error_set(err, GPX_E_USAGE, "invalid server URL '%s'", s);
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
        hl = (size_t)((colon ? colon : end) - h);
    }
    /* a host name or address, nothing curl could read as user info, query or zone */
    const char *ok = v6 ? "0123456789abcdefABCDEF:."
                        : "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
                          "OPQRSTUVWXYZ0123456789.-_";
    char host[256];
    if (hl == 0 || hl >= sizeof host || strspn(h, ok) < hl)
        return gpx_error_set(err, GPX_E_USAGE, "invalid server URL '%s'", s);
    memcpy(host, h, hl);
    host[hl] = '\0';
    long port = c->tls ? 443 : 80;
    if (colon) {
        size_t pl = (size_t)(end - colon - 1);
        char *pend;
        port = pl && pl <= 5 && strspn(colon + 1, "0123456789") >= pl ? strtol(colon + 1, &pend, 10)
                                                                      : 0;
        if (port < 1 || port > 65535)
            return gpx_error_set(err, GPX_E_USAGE, "invalid port in server URL '%s'", s);
    }
    if (*end && strcmp(end, "/") != 0)
        return gpx_error_set(err, GPX_E_USAGE,
                             "server URL '%s' must not have a path (%s://HOST:PORT)", s, scheme);
    snprintf(c->base, sizeof c->base, v6 ? "%s://[%s]:%ld" : "%s://%s:%ld", scheme, host, port);
    c->plain_remote = !c->tls && !is_loopback(host);
    return 0;
}

/* $GPUPLEX_TIMEOUT: whole seconds, 1 to MAX_TIMEOUT_S; unset or empty: DEFAULT_TIMEOUT_S. */
static int env_timeout(long *out, gpx_error *err)
{
    const char *s = getenv("GPUPLEX_TIMEOUT");
    *out = DEFAULT_TIMEOUT_S;
    if (!s || !*s)
        return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < 1 || v > MAX_TIMEOUT_S)
        return gpx_error_set(err, GPX_E_USAGE, "invalid GPUPLEX_TIMEOUT '%s' (seconds, 1 to %ld)",
                             s, MAX_TIMEOUT_S);
    *out = v;
    return 0;
}

static int client_open(const char *server, const char *token, long timeout_s, gpx_client **out,
                       gpx_error *err)
{
    if (pthread_once(&curl_once, curl_init) != 0 || curl_init_rc != CURLE_OK)
        return gpx_error_set(err, GPX_E_INTERNAL, "cannot initialise libcurl: %s",
                             curl_easy_strerror(curl_init_rc));
    gpx_client *c = calloc(1, sizeof *c);
    if (!c)
        return gpx_error_set(err, GPX_E_NOMEM, "client");
    c->timeout_s = timeout_s;
    if (parse_server(c, server, err) < 0)
        goto fail;
    const char *ca = getenv("GPUPLEX_CA");
    if (c->tls && ca && *ca) {
        /* said up front: curl would report a missing file as a failed handshake */
        if (access(ca, R_OK) != 0) {
            gpx_error_errno(err, GPX_E_USAGE, errno, "GPUPLEX_CA %s", ca);
            goto fail;
        }
        if (!(c->ca = strdup(ca))) {
            gpx_error_set(err, GPX_E_NOMEM, "client");
            goto fail;
        }
    }
    if (token && *token) {
        /* a token is a password: it goes over a network only inside TLS */
        const char *plain = getenv("GPUPLEX_ALLOW_PLAIN_HTTP");
        if (c->plain_remote && !(plain && strcmp(plain, "1") == 0)) {
            gpx_error_set(err, GPX_E_USAGE,
                          "refusing to send GPUPLEX_TOKEN in clear to %s (not a loopback address): "
                          "use https:// (gpuplexd's tls_cert and tls_key), or set "
                          "GPUPLEX_ALLOW_PLAIN_HTTP=1 where a private network protects it",
                          c->base);
            goto fail;
        }
        if (strpbrk(token, "\r\n")) {
            gpx_error_set(err, GPX_E_USAGE, "invalid token");
            goto fail;
        }
        if (asprintf(&c->auth, "Authorization: Bearer %s", token) < 0) {
            c->auth = NULL;
            gpx_error_set(err, GPX_E_NOMEM, "client");
            goto fail;
        }
    }
    if (!(c->curl = curl_easy_init())) {
        gpx_error_set(err, GPX_E_NOMEM, "cannot initialise libcurl");
        goto fail;
    }
    *out = c;
    return 0;
fail:
    gpx_client_free(c);
    return -1;
}

int gpx_client_new(const char *server, const char *token, gpx_client **out, gpx_error *err)
{
    long timeout_s;
    if (env_timeout(&timeout_s, err) < 0)
        return -1;
    if (!token || !*token)
        token = getenv("GPUPLEX_TOKEN");
    return client_open(default_server(server), token, timeout_s, out, err);
}

void gpx_client_free(gpx_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl); /* closes the kept-alive connection */
    free(c->auth);
    free(c->ca);
    free(c);
}

/* The options of every transfer on c's handle, reset first (the connection is kept). */
static CURLcode set_common(gpx_client *c, const char *url)
{
    CURL *h = c->curl;
    long stall = c->timeout_s < STALL_S ? c->timeout_s : STALL_S;
    CURLcode rc = CURLE_OK;
    curl_easy_reset(h);
    c->errbuf[0] = '\0';
#define SET(opt, val) (rc = rc != CURLE_OK ? rc : curl_easy_setopt(h, opt, val))
    SET(CURLOPT_ERRORBUFFER, c->errbuf);
    SET(CURLOPT_URL, url);
    if (*c->path)
        SET(CURLOPT_UNIX_SOCKET_PATH, c->path);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, c->tls ? "https" : "http");
#else
    SET(CURLOPT_PROTOCOLS, c->tls ? CURLPROTO_HTTPS : CURLPROTO_HTTP);
#endif
    if (c->tls) { /* libcurl's defaults, said here so that no reset can lose them */
        SET(CURLOPT_SSL_VERIFYPEER, 1L);
        SET(CURLOPT_SSL_VERIFYHOST, 2L);
        if (c->ca) { /* that CA alone, not also the system's directory of CAs */
            SET(CURLOPT_CAINFO, c->ca);
            SET(CURLOPT_CAPATH, NULL);
        }
    }
    SET(CURLOPT_PROXY, ""); /* not even from $http_proxy */
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    SET(CURLOPT_TIMEOUT_MS, c->timeout_s * 1000L);
    SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
    SET(CURLOPT_LOW_SPEED_TIME, stall);
    SET(CURLOPT_MAXAGE_CONN, MAX_IDLE_S);
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_HTTP09_ALLOWED, 0L);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MAX_RESPONSE); /* by Content-Length, up front */
#undef SET
    return rc;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct answer *a = arg;
    size_t len = size * n;
    if (len > MAX_RESPONSE - a->len) {
        a->why = ANS_TOO_LARGE;
        return 0;
    }
    if (a->len + len >= a->cap) {
        size_t cap = a->cap ? a->cap : 4096;
        while (cap <= a->len + len)
            cap *= 2;
        if (cap > MAX_RESPONSE + 1)
            cap = MAX_RESPONSE + 1; /* still > a->len + len: see above */
        char *p = realloc(a->p, cap);
        if (!p) {
            a->why = ANS_NOMEM;
            return 0;
        }
        a->p = p;
        a->cap = cap;
    }
    memcpy(a->p + a->len, data, len);
    a->len += len;
    a->p[a->len] = '\0';
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct answer *a = arg;
    (void)data;
    a->header_bytes += size * n;
    if (a->header_bytes > MAX_HEADERS) {
        a->why = ANS_HEADERS_TOO_LARGE;
        return 0;
    }
    return size * n;
}

/* A failed transfer: GPX_E_IO "cannot reach gpuplexd at SERVER: why" (GPX_E_NOMEM for memory). */
static int transport_error(gpx_client *c, CURLcode rc, const struct answer *a, gpx_error *err)
{
    if (a->why == ANS_NOMEM || rc == CURLE_OUT_OF_MEMORY)
        return gpx_error_set(err, GPX_E_NOMEM, "answer of gpuplexd at %s", c->server);
    const char *hint = "";
    char why[CURL_ERROR_SIZE + 64];
    if (a->why == ANS_TOO_LARGE || rc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(why, sizeof why, "answer larger than %zu MiB", MAX_RESPONSE >> 20);
    } else if (a->why == ANS_HEADERS_TOO_LARGE) {
        snprintf(why, sizeof why, "answer headers larger than %zu KiB", MAX_HEADERS >> 10);
    } else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) {
        long e = 0;
        /* curl's own message names "localhost port 80" on a socket: the errno says more */
        if (rc == CURLE_COULDNT_CONNECT &&
            curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &e) == CURLE_OK && e > 0)
            snprintf(why, sizeof why, "%s", strerror((int)e));
        else
            snprintf(why, sizeof why, "%s", *c->errbuf ? c->errbuf : curl_easy_strerror(rc));
        hint = " (is it running? set --server or GPUPLEX_SERVER)";
    } else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
        snprintf(why, sizeof why, "%s", *c->errbuf ? c->errbuf : curl_easy_strerror(rc));
        hint = c->ca ? " (the server's certificate is not signed by GPUPLEX_CA, or is not for "
                       "this host name)"
                     : " (the server's certificate is not trusted by the system's CA store, or "
                       "is not for this host name: set GPUPLEX_CA to the CA that signed it)";
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        snprintf(why, sizeof why, "%s (timeout %ld s, GPUPLEX_TIMEOUT)",
                 *c->errbuf ? c->errbuf : curl_easy_strerror(rc), c->timeout_s);
    } else {
        snprintf(why, sizeof why, "%s", *c->errbuf ? c->errbuf : curl_easy_strerror(rc));
    }
    return gpx_error_set(err, GPX_E_IO, "cannot reach gpuplexd at %s: %s%s", c->server, why, hint);
}

/* Whether s is one piece of a request line: printable ASCII, no spaces. */
static int request_word(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (*s <= ' ' || *s >= 0x7f)
            return 0;
    return 1;
}

/* The URL of the request `method path` in *url (malloc'd), its words checked; -1 with err. */
static int request_url(gpx_client *c, const char *method, const char *path, char **url,
                       gpx_error *err)
{
    if (!request_word(method) || !request_word(path) || *path != '/' || strchr(path, '#'))
        return gpx_error_set(err, GPX_E_INVALID, "invalid request '%s %s'",
                             method ? method : "(null)", path ? path : "(null)");
    if (asprintf(url, "%s%s", c->base, path) < 0)
        return gpx_error_set(err, GPX_E_NOMEM, "request");
    return 0;
}

/* The header list of `lines` (NULL ones left out) in *out; -1 when out of memory. */
static int header_list(const char *const *lines, size_t n, struct curl_slist **out)
{
    struct curl_slist *hdrs = NULL, *l;
    for (size_t i = 0; i < n; i++) {
        if (!lines[i])
            continue;
        if (!(l = curl_slist_append(hdrs, lines[i]))) {
            curl_slist_free_all(hdrs);
            return -1;
        }
        hdrs = l;
    }
    *out = hdrs;
    return 0;
}

/* What every request sets: set_common's options, the headers, and where the answer goes: its
 * body into `a` (on_body), its header lines to header_fn(…, header_arg). */
static CURLcode set_exchange(gpx_client *c, const char *url, struct curl_slist *hdrs,
                             struct answer *a, curl_write_callback header_fn, void *header_arg)
{
    CURL *h = c->curl;
    CURLcode rc = set_common(c, url);
#define SET(opt, val) (rc = rc != CURLE_OK ? rc : curl_easy_setopt(h, opt, val))
    SET(CURLOPT_USERAGENT, "gpuplex/" GPX_VERSION);
    SET(CURLOPT_HTTPHEADER, hdrs);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, a);
    SET(CURLOPT_HEADERFUNCTION, header_fn);
    SET(CURLOPT_HEADERDATA, header_arg);
#undef SET
    return rc;
}

/* Runs the transfer (rc: how setting it up went); the HTTP status in *st. */
static CURLcode perform(CURL *h, CURLcode rc, long *st)
{
    *st = 0;
    if (rc == CURLE_OK)
        rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        rc = curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, st);
    return rc;
}

int gpx_client_request(gpx_client *c, const char *method, const char *path, const char *body,
                       int *status, char **resp, gpx_error *err)
{
    *status = 0;
    if (resp)
        *resp = NULL;
    char *url = NULL;
    if (request_url(c, method, path, &url, err) < 0)
        return -1;
    int has_body = body || !strcmp(method, "POST") || !strcmp(method, "PUT");
    struct curl_slist *hdrs;
    const char *lines[] = {"Accept: application/json", "Expect:", c->auth,
                           has_body ? "Content-Type: application/json" : NULL};
    if (header_list(lines, sizeof lines / sizeof *lines, &hdrs) < 0) {
        free(url);
        return gpx_error_set(err, GPX_E_NOMEM, "request");
    }

    struct answer a = {0};
    CURL *h = c->curl;
    CURLcode rc = set_exchange(c, url, hdrs, &a, on_header, &a);
#define SET(opt, val) (rc = rc != CURLE_OK ? rc : curl_easy_setopt(h, opt, val))
    if (has_body) { /* POST, with the method replaced for PUT, PATCH, DELETE... */
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? strlen(body) : 0));
        SET(CURLOPT_POSTFIELDS, body ? body : "");
    }
    if (!strcmp(method, "HEAD"))
        SET(CURLOPT_NOBODY, 1L);
    else if (strcmp(method, has_body ? "POST" : "GET") != 0)
        SET(CURLOPT_CUSTOMREQUEST, method);
#undef SET
    long st;
    rc = perform(h, rc, &st);
    curl_slist_free_all(hdrs); /* the handle's pointer to it is reset before any reuse */
    free(url);
    if (rc != CURLE_OK) {
        free(a.p);
        return transport_error(c, rc, &a, err);
    }

    *status = (int)st;
    int ok = gpx__client_answer(st, a.p, a.len, resp, err);
    if (ok < 0 && st >= 200 && st < 300)
        *status = 0; /* no memory for an empty body: not the daemon's answer */
    return ok;
}

/* --- raw requests (function calls) ------------------------------------------------------------ */

struct raw_answer {
    struct answer a;
    struct gpx_fn_answer *out;
};

/* Copies a header's value when the line is "name: value" (case-insensitive name). */
static int header_value(const char *line, size_t n, const char *name, char *out, size_t len)
{
    size_t nl = strlen(name);
    if (n <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
        return 0;
    const char *v = line + nl + 1;
    size_t vl = n - nl - 1;
    while (vl && (*v == ' ' || *v == '\t')) {
        v++;
        vl--;
    }
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    snprintf(out, len, "%.*s", (int)vl, v);
    return 1;
}

static size_t on_raw_header(char *data, size_t size, size_t n, void *arg)
{
    struct raw_answer *r = arg;
    size_t len = size * n;
    if (on_header(data, size, n, &r->a) != len)
        return 0;
    if (!strncmp(data, "HTTP/", 5)) { /* a new answer (after a 100 Continue): start over */
        r->out->content_type[0] = r->out->request_id[0] = '\0';
        r->out->gpu_ms = r->out->queue_ms = -1;
        r->out->retry_after = 0;
        return len;
    }
    struct gpx_fn_answer *o = r->out;
    char v[64];
    header_value(data, len, "Content-Type", o->content_type, sizeof o->content_type);
    header_value(data, len, "X-Gpuplex-Request-Id", o->request_id, sizeof o->request_id);
    if (header_value(data, len, "X-Gpuplex-Gpu-Ms", v, sizeof v))
        o->gpu_ms = strtod(v, NULL);
    if (header_value(data, len, "X-Gpuplex-Queue-Ms", v, sizeof v))
        o->queue_ms = strtod(v, NULL);
    if (header_value(data, len, "Retry-After", v, sizeof v))
        o->retry_after = strtol(v, NULL, 10);
    return len;
}

int gpx_client_raw_request(gpx_client *c, const char *method, const char *path,
                           const char *content_type, const void *body, size_t len,
                           struct gpx_fn_answer *out, gpx_error *err)
{
    memset(out, 0, sizeof *out);
    out->gpu_ms = out->queue_ms = -1;
    char *url = NULL, *ctype = NULL;
    if (request_url(c, method, path, &url, err) < 0)
        return -1;
    if (asprintf(&ctype, "Content-Type: %s",
                 content_type && *content_type && !strpbrk(content_type, "\r\n")
                     ? content_type
                     : "application/octet-stream") < 0) {
        free(url);
        return gpx_error_set(err, GPX_E_NOMEM, "request");
    }
    struct curl_slist *hdrs;
    const char *lines[] = {"Expect:", c->auth, ctype};
    if (header_list(lines, sizeof lines / sizeof *lines, &hdrs) < 0) {
        free(url);
        free(ctype);
        return gpx_error_set(err, GPX_E_NOMEM, "request");
    }
    struct raw_answer r = {.out = out};
    CURL *h = c->curl;
    CURLcode rc = set_exchange(c, url, hdrs, &r.a, on_raw_header, &r);
#define SET(opt, val) (rc = rc != CURLE_OK ? rc : curl_easy_setopt(h, opt, val))
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    SET(CURLOPT_POSTFIELDS, body ? body : "");
    if (strcmp(method, "POST") != 0)
        SET(CURLOPT_CUSTOMREQUEST, method);
#undef SET
    long st;
    rc = perform(h, rc, &st);
    curl_slist_free_all(hdrs);
    free(url);
    free(ctype);
    if (rc != CURLE_OK) {
        free(r.a.p);
        return transport_error(c, rc, &r.a, err);
    }
    if (!r.a.p && !(r.a.p = calloc(1, 1)))
        return gpx_error_set(err, GPX_E_NOMEM, "answer");
    out->status = st;
    out->body = r.a.p;
    out->len = r.a.len;
    return 0;
}
