/*
 * HTTP transport: libmicrohttpd on sockets gpuplexd creates itself (handed
 * over with MHD_OPTION_LISTEN_SOCKET), one MHD daemon per listener so that
 * each request knows whether it came over the unix socket (where SO_PEERCRED
 * says who is calling) or TCP (bearer tokens only; HTTPS when tls_cert and
 * tls_key are set). Bodies are collected up to max_body and the rest is
 * drained and answered 413. Routing and everything else is api.c's.
 *
 * Threads: MHD serves each connection on a thread of its own (at most
 * max_connections per listener, so that many threads at most, each idle in
 * poll() between requests). A function call (POST .../invoke) runs on its
 * connection's thread to the end: it waits its turn there and calls the
 * worker itself (functions.c), so a routed call wakes no thread but this one
 * on the request and on the worker's answer. With a polling pool (the
 * `threads` setting before) the call had to be handed to a dispatcher thread
 * and the answer back to the pool (suspend/resume): two more wake-ups per call
 * (bench/functions/RESULTS.md).
 *
 * Invariants that keep one caller from starving the others: a peer (a uid on
 * the socket and on loopback TCP, an IP address on other TCP) holds at most
 * max_connections_per_peer connections, at most half of max_connections, and
 * further ones are closed as they arrive; a connection that has not completed
 * its first request's headers header_timeout after it was accepted is closed,
 * however it trickles bytes (a sweeper thread shuts it down: MHD's own timeout
 * restarts on every byte), and one idle for idle_timeout after that.
 * A request whose body framing is ambiguous (two Content-Length headers,
 * Content-Length with Transfer-Encoding, a Transfer-Encoding other than
 * chunked) is answered 400 and its connection closed: a proxy in front may
 * have framed it differently (request smuggling).
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "daemon/daemon.h"
#include "daemon/peer.h"
#include "engine/views.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_PEM ((size_t)1 << 20) /* a larger certificate chain or key file is refused */

/* Whom a connection counts against: a uid (the unix socket by SO_PEERCRED; loopback TCP by
 * the kernel's socket table) or else the IP address (addr, 4 bytes for IPv4). */
enum peer_kind { PEER_UID, PEER_IP4, PEER_IP6 };
struct peer_key {
    uint8_t addr[16];
    uint32_t uid;
    uint32_t kind; /* enum peer_kind */
};

struct peer {
    struct peer_key key;
    unsigned n;
};

/* A connection MHD has accepted, its socket_context until MHD closes it. While its first
 * request's headers are due it is in its listener's waiting list, oldest first. */
struct conn {
    struct conn *prev, *next;
    struct peer_key key;
    int counted; /* against key's peer */
    int waiting; /* in the waiting list */
    int fd;
    int64_t deadline_ms; /* CLOCK_MONOTONIC: when header_timeout is over */
};

struct listener {
    struct gpxd_http *h;
    int via_unix;
    int fd;
    struct MHD_Daemon *mhd;
    /* the rest under h->lock */
    struct peer *peers; /* n_peers used, max_connections allocated; n > 0 in each */
    size_t n_peers;
    time_t refused_logged; /* the last warning about a peer at its limit */
    struct conn *wait_head, *wait_tail;
};

struct gpxd_http {
    struct gpxd *d;
    struct listener unix_l, tcp_l;
    dev_t sock_dev; /* the socket file we bound, so that stop removes only ours */
    ino_t sock_ino;
    _Atomic int serving;  /* MHD's messages: warnings while starting, debug after */
    pthread_mutex_t lock; /* the listeners' peers and waiting lists, stopping */
    pthread_cond_t wake;  /* CLOCK_MONOTONIC: the sweeper sleeps on it */
    pthread_t sweeper;
    int sweeper_started, stopping;
};

struct conn_req {
    char *body;
    size_t len, cap;
    int too_large;
    size_t limit; /* the body's: max_body, or an invoke's function's max_body_bytes */
};

/* The answer of a completed function call: the worker's (or gpuplexd's error) with its headers. */
static enum MHD_Result answer_call(struct gpxd *d, struct MHD_Connection *conn,
                                   const struct gpxd_fn_call *call)
{
    int status;
    const char *ctype, *body;
    size_t len;
    const char *const *hdr;
    if (gpxd_fn_call_answer(call, &status, &ctype, &body, &len, &hdr) < 0)
        return MHD_NO;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    for (size_t i = 0; hdr && hdr[i]; i += 2)
        MHD_add_response_header(resp, hdr[i], hdr[i + 1]);
    if (status >= 100 && status < 600)
        atomic_fetch_add(&d->http_by_class[status / 100], 1);
    enum MHD_Result r = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return r;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct gpxd_http *h = cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
    /* while starting, MHD says why a certificate or key was refused; after, it logs every
     * client that went away */
    if (atomic_load(&h->serving))
        gpx_debug("http: %s", buf);
    else
        gpx_warn("http: %s", buf);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int key_eq(const struct peer_key *a, const struct peer_key *b)
{
    return a->kind == b->kind && a->uid == b->uid && !memcmp(a->addr, b->addr, sizeof a->addr);
}

/* "uid N" or the address, for the log. */
static void key_name(const struct peer_key *k, char *buf, size_t n)
{
    if (k->kind == PEER_UID)
        snprintf(buf, n, "uid %u", k->uid);
    else if (!inet_ntop(k->kind == PEER_IP4 ? AF_INET : AF_INET6, k->addr, buf, (socklen_t)n))
        snprintf(buf, n, "an address");
}

/*
 * Whom the connection on fd counts against. On loopback TCP every local
 * process is 127.0.0.1: the kernel's socket table says whose socket called;
 * when it can't (the client's socket is gone already, no /proc) the
 * connection counts under the address. -1: no peer to count (closed).
 */
static int peer_of(const struct listener *l, struct MHD_Connection *mc, int fd, struct peer_key *k)
{
    memset(k, 0, sizeof *k);
    if (l->via_unix) {
        struct ucred uc;
        socklen_t ul = sizeof uc;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) < 0)
            return -1;
        k->kind = PEER_UID;
        k->uid = (uint32_t)uc.uid;
        return 0;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return -1;
    const struct sockaddr *peer = ci->client_addr;
    struct sockaddr_storage local;
    socklen_t ll = sizeof local;
    if (gpxd_addr_is_loopback(peer) && getsockname(fd, (struct sockaddr *)&local, &ll) == 0 &&
        gpxd_tcp_peer_uid(peer, (struct sockaddr *)&local, &k->uid) == 0) {
        k->kind = PEER_UID;
        return 0;
    }
    if (peer->sa_family == AF_INET) {
        k->kind = PEER_IP4;
        memcpy(k->addr, &((const struct sockaddr_in *)peer)->sin_addr, 4);
        return 0;
    }
    if (peer->sa_family == AF_INET6) {
        k->kind = PEER_IP6;
        memcpy(k->addr, &((const struct sockaddr_in6 *)peer)->sin6_addr, 16);
        return 0;
    }
    return -1;
}

/* Counts one more connection of peer k on l unless it has max_connections_per_peer already;
 * *warn: log the refusal (a flood is one line per 10 s, not one each). Under h->lock. */
static int peer_add(struct listener *l, const struct peer_key *k, int *warn)
{
    const struct gpxd_config *cfg = &l->h->d->cfg;
    size_t i = 0;
    while (i < l->n_peers && !key_eq(&l->peers[i].key, k))
        i++;
    if (i == l->n_peers && i < cfg->max_connections) {
        l->peers[i] = (struct peer){.key = *k, .n = 0};
        l->n_peers++;
    }
    if (i < l->n_peers && l->peers[i].n < cfg->max_connections_per_peer) {
        l->peers[i].n++;
        return 1;
    }
    time_t now = time(NULL);
    *warn = now - l->refused_logged >= 10;
    if (*warn)
        l->refused_logged = now;
    return 0;
}

static void peer_remove(struct listener *l, const struct peer_key *k)
{
    for (size_t i = 0; i < l->n_peers; i++) {
        if (!key_eq(&l->peers[i].key, k))
            continue;
        if (--l->peers[i].n == 0)
            l->peers[i] = l->peers[--l->n_peers];
        break;
    }
}

/* Takes c out of l's waiting list. Under h->lock. */
static void unwait(struct listener *l, struct conn *c)
{
    if (!c->waiting)
        return;
    *(c->prev ? &c->prev->next : &l->wait_head) = c->next;
    *(c->next ? &c->next->prev : &l->wait_tail) = c->prev;
    c->prev = c->next = NULL;
    c->waiting = 0;
}

/*
 * A new connection: counted against its peer and put in the waiting list
 * until its headers come. MHD has no way to refuse a connection from here,
 * so one over its peer's limit (or whose peer is unknown) is shut down: MHD
 * reads end-of-file at once and closes it.
 */
static void conn_started(struct listener *l, struct MHD_Connection *mc, void **socket_context)
{
    struct gpxd_http *h = l->h;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return;
    struct conn *c = calloc(1, sizeof *c);
    if (!c || peer_of(l, mc, ci->connect_fd, &c->key) < 0) {
        free(c);
        shutdown(ci->connect_fd, SHUT_RDWR);
        return;
    }
    c->fd = ci->connect_fd;
    int warn = 0;
    pthread_mutex_lock(&h->lock);
    if ((c->counted = peer_add(l, &c->key, &warn))) {
        /* taken under the lock, so that the list stays in deadline order */
        c->deadline_ms = now_ms() + (int64_t)h->d->cfg.header_timeout_ms;
        c->prev = l->wait_tail;
        *(l->wait_tail ? &l->wait_tail->next : &l->wait_head) = c;
        l->wait_tail = c;
        c->waiting = 1;
    }
    pthread_mutex_unlock(&h->lock);
    if (warn) {
        char who[INET6_ADDRSTRLEN + 16];
        key_name(&c->key, who, sizeof who);
        gpx_warn("%s holds max_connections_per_peer (%u) connections to %s: closing its new ones",
                 who, h->d->cfg.max_connections_per_peer,
                 l->via_unix ? h->d->cfg.socket_path : h->d->cfg.listen);
    }
    if (!c->counted) {
        free(c);
        shutdown(ci->connect_fd, SHUT_RDWR);
        return;
    }
    *socket_context = c;
}

/* MHD closes the connection (its descriptor is still open): uncounted, forgotten. */
static void conn_closed(struct listener *l, struct conn *c)
{
    pthread_mutex_lock(&l->h->lock);
    unwait(l, c);
    if (c->counted)
        peer_remove(l, &c->key);
    pthread_mutex_unlock(&l->h->lock);
    free(c);
}

static void notify_conn(void *cls, struct MHD_Connection *conn, void **socket_context,
                        enum MHD_ConnectionNotificationCode toe)
{
    struct listener *l = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_started(l, conn, socket_context);
    } else if (*socket_context) {
        conn_closed(l, *socket_context);
        *socket_context = NULL;
    }
}

/* The connection's first request has its headers: header_timeout is over for it. */
static void headers_done(struct listener *l, struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn *c = ci ? ci->socket_context : NULL;
    if (!c)
        return;
    pthread_mutex_lock(&l->h->lock);
    unwait(l, c);
    pthread_mutex_unlock(&l->h->lock);
}

/* Shuts down l's connections whose headers are overdue (MHD then reads end-of-file and closes
 * them, whatever they send); returns when the next one is due, if before `next`. Under
 * h->lock, which conn_closed takes before MHD closes a descriptor. */
static int64_t sweep(struct listener *l, int64_t now, int64_t next, unsigned *n)
{
    struct conn *c;
    while ((c = l->wait_head) && c->deadline_ms <= now) {
        shutdown(c->fd, SHUT_RDWR);
        unwait(l, c);
        (*n)++;
    }
    return c && c->deadline_ms < next ? c->deadline_ms : next;
}

/* header_timeout as a deadline: MHD's connection timeout restarts on every byte, so a client
 * trickling its headers would hold its connection for ever. */
static void *sweeper(void *arg)
{
    struct gpxd_http *h = arg;
    pthread_mutex_lock(&h->lock);
    while (!h->stopping) {
        int64_t now = now_ms(), next = now + (int64_t)h->d->cfg.header_timeout_ms;
        unsigned n = 0;
        next = sweep(&h->unix_l, now, next, &n);
        next = sweep(&h->tcp_l, now, next, &n);
        if (n)
            gpx_debug("http: closed %u connection(s) without request headers after "
                      "header_timeout",
                      n);
        struct timespec ts = {.tv_sec = next / 1000, .tv_nsec = (long)(next % 1000) * 1000000};
        pthread_cond_timedwait(&h->wake, &h->lock, &ts);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* The body-framing headers of a request, counted (MHD takes the first Content-Length). */
struct framing {
    unsigned content_length, transfer_encoding, chunked;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    struct framing *f = cls;
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        f->content_length++;
    } else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
        f->transfer_encoding++;
        f->chunked += value && !strcasecmp(value, "chunked");
    }
    return MHD_YES;
}

/* Why the request's body framing is refused (see the top), or NULL. RFC 9112 6.3 lets a
 * server merge identical Content-Length headers; refusing every duplicate is simpler, and
 * no client of ours sends one. */
static const char *bad_framing(struct MHD_Connection *conn)
{
    struct framing f = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &f);
    if (f.content_length > 1)
        return "more than one Content-Length header";
    if (f.content_length && f.transfer_encoding)
        return "both Content-Length and Transfer-Encoding";
    if (f.transfer_encoding > 1 || f.transfer_encoding != f.chunked)
        return "a Transfer-Encoding other than one 'chunked'";
    return NULL;
}

/* Answers 400 with the API's error body; queued before the body is read, so MHD closes the
 * connection after it instead of reading what follows as the next request. */
static enum MHD_Result refuse(struct gpxd *d, struct MHD_Connection *conn, const char *why)
{
    gpx_error e = {.code = GPX_E_INVALID};
    snprintf(e.msg, sizeof e.msg, "ambiguous request framing: %s", why);
    gpx_debug("http: refused: %s", e.msg);
    json_t *j = gpx_view_error(&e);
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!body)
        return MHD_NO;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    atomic_fetch_add(&d->http_by_class[4], 1);
    enum MHD_Result r = MHD_queue_response(conn, MHD_HTTP_BAD_REQUEST, resp);
    MHD_destroy_response(resp);
    return r;
}

/* MHD's timeouts are whole seconds. */
static unsigned timeout_s(uint64_t ms)
{
    return (unsigned)((ms + 999) / 1000);
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct gpxd_http_req *rq = cls;
    if (rq->n_args >= sizeof rq->arg_name / sizeof rq->arg_name[0]) {
        rq->too_many_args = 1;
        return MHD_NO;
    }
    rq->arg_name[rq->n_args] = key;
    rq->arg_value[rq->n_args] = value;
    rq->n_args++;
    return MHD_YES;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct listener *l = cls;
    struct gpxd *d = l->h->d;
    struct conn_req *cr = *con_cls;
    if (!cr) { /* the headers are complete */
        headers_done(l, conn);
        const char *why = bad_framing(conn);
        if (why)
            return refuse(d, conn, why);
        /* header_timeout is over for this connection; it may idle between requests */
        MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
                                  timeout_s(d->cfg.idle_timeout_ms));
        cr = calloc(1, sizeof *cr);
        if (!cr)
            return MHD_NO;
        cr->limit = gpxd_function_body_limit(d, url);
        if (!cr->limit)
            cr->limit = d->cfg.max_body;
        *con_cls = cr;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (cr->too_large || cr->len + n > cr->limit) {
            cr->too_large = 1;
            return MHD_YES;
        }
        if (cr->len + n + 1 > cr->cap) {
            size_t cap = cr->cap ? cr->cap : 1024;
            while (cap < cr->len + n + 1)
                cap *= 2;
            char *b = realloc(cr->body, cap);
            if (!b)
                return MHD_NO;
            cr->body = b;
            cr->cap = cap;
        }
        memcpy(cr->body + cr->len, upload_data, n);
        cr->len += n;
        cr->body[cr->len] = '\0';
        return MHD_YES;
    }

    struct gpxd_http_req rq;
    memset(&rq, 0, sizeof rq);
    rq.method = method;
    rq.path = url;
    rq.authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    rq.content_type =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    rq.body = cr->body;
    rq.body_len = cr->len;
    rq.body_too_large = cr->too_large;
    rq.via_unix = l->via_unix;
    if (l->via_unix) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct ucred uc;
        socklen_t ul = sizeof uc;
        if (ci && getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0) {
            rq.have_cred = 1;
            rq.uid = uc.uid;
            rq.pid = uc.pid;
        }
    }
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &rq);

    struct gpxd_http_resp rs;
    gpxd_api_handle(d, &rq, &rs);
    if (rs.call) {
        /* on this connection's own thread: it waits its turn and calls the worker itself */
        free(cr->body);
        cr->body = NULL;
        cr->len = cr->cap = 0;
        gpxd_fn_call_run(d, rs.call);
        enum MHD_Result r = answer_call(d, conn, rs.call);
        gpxd_fn_call_free(rs.call);
        return r;
    }
    struct MHD_Response *resp =
        rs.body ? MHD_create_response_from_buffer(rs.len, rs.body, MHD_RESPMEM_MUST_FREE)
                : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(rs.body);
        return MHD_NO;
    }
    if (rs.content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rs.content_type);
    if (rs.allow)
        MHD_add_response_header(resp, "Allow", rs.allow);
    if (rs.www_authenticate)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"gpuplex\"");
    for (size_t i = 0; rs.headers && rs.headers[i]; i += 2)
        MHD_add_response_header(resp, rs.headers[i], rs.headers[i + 1]);
    enum MHD_Result r = MHD_queue_response(conn, (unsigned)rs.status, resp);
    MHD_destroy_response(resp);
    return r;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct conn_req *cr = *con_cls;
    if (cr) {
        free(cr->body);
        free(cr);
        *con_cls = NULL;
    }
}

static int mkdir_parents(const char *path, gpx_error *err)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
            return gpx_error_errno(err, GPX_E_IO, errno, "creating %s", dir);
        *p = '/';
    }
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return gpx_error_errno(err, GPX_E_IO, errno, "creating %s", dir);
    return 0;
}

static int unix_listen(const char *path, unsigned mode, gpx_error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return gpx_error_set(err, GPX_E_INVALID, "socket path %s is longer than %zu bytes", path,
                             sizeof sa.sun_path - 1);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (mkdir_parents(path, err) < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return gpx_error_errno(err, GPX_E_IO, errno, "socket");
    struct stat sb;
    if (lstat(path, &sb) == 0) {
        if (!S_ISSOCK(sb.st_mode)) {
            close(fd);
            return gpx_error_set(err, GPX_E_EXISTS, "%s exists and is not a socket", path);
        }
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            close(fd);
            return gpx_error_set(err, GPX_E_BUSY, "another gpuplexd is listening on %s", path);
        }
        close(fd);
        unlink(path); /* stale: its daemon is gone */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return gpx_error_errno(err, GPX_E_IO, errno, "socket");
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(path, mode) < 0 ||
        listen(fd, 512) < 0) {
        int e = errno;
        close(fd);
        return gpx_error_errno(err, GPX_E_IO, e, "listening on %s", path);
    }
    return fd;
}

static int tcp_listen(const char *addr, int allow_remote, gpx_error *err)
{
    char host[64];
    unsigned port;
    if (gpxd_parse_listen(addr, allow_remote, host, sizeof host, &port, err) < 0)
        return -1;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    int fam;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        fam = AF_INET;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        len = sizeof *s4;
    } else {
        fam = AF_INET6;
        inet_pton(AF_INET6, host, &s6->sin6_addr);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        len = sizeof *s6;
    }
    int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return gpx_error_errno(err, GPX_E_IO, errno, "socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 512) < 0) {
        int e = errno;
        close(fd);
        return gpx_error_errno(err, GPX_E_IO, e, "listening on %s", addr);
    }
    return fd;
}

/*
 * A PEM file (tls_cert or tls_key, named by `key`) into *out, NUL-terminated
 * as MHD wants it; the caller clears and frees it. A key that others may read
 * is served, with a warning: refusing would be a surprise at a restart.
 */
static int read_pem(const char *key, const char *path, char **out, gpx_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return gpx_error_errno(err, GPX_E_IO, errno, "%s %s", key, path);
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        int e = errno;
        close(fd);
        return gpx_error_errno(err, GPX_E_IO, e, "%s %s", key, path);
    }
    if (!S_ISREG(sb.st_mode) || (size_t)sb.st_size > MAX_PEM) {
        close(fd);
        return gpx_error_set(err, GPX_E_INVALID, "%s %s: not a regular PEM file of at most %zu KiB",
                             key, path, MAX_PEM >> 10);
    }
    if (!strcmp(key, "tls_key") && (sb.st_mode & 077))
        gpx_warn("tls_key %s may be read by others (mode %03o): chmod 600 it", path,
                 (unsigned)(sb.st_mode & 0777));
    char *buf = calloc(1, (size_t)sb.st_size + 1);
    size_t n = buf ? gpxd_read_full(fd, buf, (size_t)sb.st_size) : 0;
    int e = errno;
    close(fd);
    if (!buf)
        return gpx_error_set(err, GPX_E_NOMEM, "%s %s", key, path);
    if (n < (size_t)sb.st_size) {
        explicit_bzero(buf, (size_t)sb.st_size);
        free(buf);
        return gpx_error_errno(err, GPX_E_IO, e, "reading %s %s", key, path);
    }
    *out = buf;
    return 0;
}

static void free_secret(char *p)
{
    if (p) {
        explicit_bzero(p, strlen(p));
        free(p);
    }
}

/* The options of both listeners, then TCP's TLS. */
static int start_one(struct gpxd_http *h, struct listener *l, gpx_error *err)
{
    const struct gpxd_config *cfg = &h->d->cfg;
    /* A thread per connection (see the top): a function call runs on its connection's
     * thread, which waits for the worker itself; MHD_USE_POLL, as select() stops at
     * descriptor 1024 and epoll is for a polling pool only. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
    char *cert = NULL, *key = NULL;
    int tls = !l->via_unix && cfg->tls_cert[0];
    if (tls) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
            return gpx_error_set(err, GPX_E_INVALID,
                                 "tls_cert and tls_key are set but this libmicrohttpd has no TLS");
        if (read_pem("tls_cert", cfg->tls_cert, &cert, err) < 0 ||
            read_pem("tls_key", cfg->tls_key, &key, err) < 0) {
            free(cert);
            return -1;
        }
        flags |= MHD_USE_TLS;
    }
    struct MHD_OptionItem o[16];
    size_t n = 0;
#define OPT(opt, val, ptr) (o[n++] = (struct MHD_OptionItem){(opt), (intptr_t)(val), (ptr)})
    OPT(MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h); /* first, or MHD says so on stderr */
    OPT(MHD_OPTION_LISTEN_SOCKET, l->fd, NULL);
    OPT(MHD_OPTION_NOTIFY_COMPLETED, completed, NULL);
    OPT(MHD_OPTION_CONNECTION_TIMEOUT, timeout_s(cfg->header_timeout_ms), NULL);
    OPT(MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, NULL);
    /* per-peer limits and the header deadline (MHD's per-IP limit would make every local
     * process on loopback TCP one peer) */
    OPT(MHD_OPTION_NOTIFY_CONNECTION, notify_conn, l);
    if (tls) {
        OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, cert);
        OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, key);
    }
    OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
    l->h = h;
    l->mhd =
        MHD_start_daemon(flags, 0, NULL, NULL, handler, l, MHD_OPTION_ARRAY, o, MHD_OPTION_END);
    /* MHD has made its credentials from them: the key lives on only inside GnuTLS */
    free_secret(key);
    free(cert);
    if (!l->mhd && tls)
        return gpx_error_set(
            err, GPX_E_INVALID,
            "starting the HTTPS server on %s failed: are tls_cert (%s) and tls_key "
            "(%s) a matching PEM certificate and key? (see above)",
            cfg->listen, cfg->tls_cert, cfg->tls_key);
    if (!l->mhd)
        return gpx_error_set(err, GPX_E_INTERNAL, "starting the HTTP server on %s failed",
                             l->via_unix ? cfg->socket_path : cfg->listen);
    return 0;
}

/* Each connection is a descriptor: raise the soft limit towards what both listeners may hold
 * (the hard limit is the operator's, e.g. LimitNOFILE). */
static void raise_nofile(const struct gpxd_config *cfg)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)cfg->max_connections * 2 + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
        gpx_warn("open files limit %llu is below the %llu that max_connections (%u) per listener "
                 "may need: raise LimitNOFILE or lower max_connections",
                 (unsigned long long)rl.rlim_cur, (unsigned long long)want, cfg->max_connections);
}

int gpxd_http_start(struct gpxd *d, struct gpxd_http **out, gpx_error *err)
{
    struct gpxd_http *h = calloc(1, sizeof *h);
    if (!h)
        return gpx_error_set(err, GPX_E_NOMEM, "http");
    h->d = d;
    h->unix_l.fd = h->tcp_l.fd = -1;
    h->unix_l.via_unix = 1;
    h->unix_l.h = h->tcp_l.h = h;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->wake, &ca);
    pthread_condattr_destroy(&ca);
    /* main() checked it; so does every other way to serve */
    if (gpxd_config_check(&d->cfg, err) < 0)
        goto fail;
    if (!(h->unix_l.peers = calloc(d->cfg.max_connections, sizeof(struct peer))) ||
        !(h->tcp_l.peers = calloc(d->cfg.max_connections, sizeof(struct peer)))) {
        gpx_error_set(err, GPX_E_NOMEM, "http");
        goto fail;
    }
    if (pthread_create(&h->sweeper, NULL, sweeper, h) != 0) {
        gpx_error_set(err, GPX_E_INTERNAL, "starting the http sweeper thread");
        goto fail;
    }
    h->sweeper_started = 1;
    raise_nofile(&d->cfg);
    /* both sockets listen before either is served: once the socket answers, TCP does too */
    if ((h->unix_l.fd = unix_listen(d->cfg.socket_path, d->cfg.socket_mode, err)) < 0)
        goto fail;
    struct stat sb;
    if (lstat(d->cfg.socket_path, &sb) == 0) {
        h->sock_dev = sb.st_dev;
        h->sock_ino = sb.st_ino;
    }
    if (d->cfg.listen[0] && (h->tcp_l.fd = tcp_listen(d->cfg.listen, d->cfg.allow_remote, err)) < 0)
        goto fail;
    if (h->tcp_l.fd >= 0 && start_one(h, &h->tcp_l, err) < 0)
        goto fail;
    if (start_one(h, &h->unix_l, err) < 0)
        goto fail;
    atomic_store(&h->serving, 1);
    gpx_info("listening on %s", d->cfg.socket_path);
    if (h->tcp_l.fd >= 0)
        gpx_info("listening on %s://%s", d->cfg.tls_cert[0] ? "https" : "http", d->cfg.listen);
    *out = h;
    return 0;
fail:
    gpxd_http_stop(h);
    return -1;
}

void gpxd_http_stop(struct gpxd_http *h)
{
    if (!h)
        return;
    if (h->sweeper_started) {
        pthread_mutex_lock(&h->lock);
        h->stopping = 1;
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->sweeper, NULL);
    }
    struct listener *ls[] = {&h->unix_l, &h->tcp_l};
    for (int i = 0; i < 2; i++) {
        if (ls[i]->mhd)
            MHD_stop_daemon(ls[i]->mhd); /* closes the listening socket it was given */
        else if (ls[i]->fd >= 0)
            close(ls[i]->fd);
    }
    struct stat sb;
    if (h->sock_ino && lstat(h->d->cfg.socket_path, &sb) == 0 && sb.st_dev == h->sock_dev &&
        sb.st_ino == h->sock_ino)
        unlink(h->d->cfg.socket_path);
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
    free(h->unix_l.peers);
    free(h->tcp_l.peers);
    free(h);
}
