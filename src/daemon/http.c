/*
 * HTTP transport: libmicrohttpd on sockets gpuplexd creates itself (handed
 * over with MHD_OPTION_LISTEN_SOCKET), one MHD daemon per listener so that
 * each request knows whether it came over the unix socket (where SO_PEERCRED
 * says who is calling) or TCP (bearer tokens only; HTTPS when tls_cert and
 * tls_key are set). Bodies are collected up to max_body and the rest is
 * drained and answered 413. Routing and everything else is api.c's.
 *
 * Invariants that keep one caller from starving the others: a peer (a uid on
 * the socket, an IP address on TCP) holds at most max_connections_per_peer
 * connections, at most half of max_connections, and further ones are closed
 * as they arrive; a connection is closed after header_timeout of silence
 * before its first request's headers are complete, idle_timeout after that.
 * A request whose body framing is ambiguous (two Content-Length headers,
 * Content-Length with Transfer-Encoding, a Transfer-Encoding other than
 * chunked) is answered 400 and its connection closed: a proxy in front may
 * have framed it differently (request smuggling).
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "daemon/daemon.h"
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

struct listener {
    struct gpxd_http *h;
    int via_unix;
    int fd;
    struct MHD_Daemon *mhd;
};

/* Connections per uid on the unix socket (MHD counts per IP address on TCP itself). */
struct peer {
    uint32_t uid;
    unsigned n;
};

struct gpxd_http {
    struct gpxd *d;
    struct listener unix_l, tcp_l;
    dev_t sock_dev; /* the socket file we bound, so that stop removes only ours */
    ino_t sock_ino;
    _Atomic int serving; /* MHD's messages: warnings while starting, debug after */
    pthread_mutex_t peers_lock;
    struct peer *peers; /* n_peers used, max_connections allocated; n > 0 in each */
    size_t n_peers;
    time_t refused_logged; /* the last warning about a peer at its limit */
};

struct conn_req {
    char *body;
    size_t len, cap;
    int too_large;
};

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

/* Counts one more connection of uid unless it has max_connections_per_peer already. */
static int peer_add(struct gpxd_http *h, uint32_t uid)
{
    int ok = 0, warn = 0;
    pthread_mutex_lock(&h->peers_lock);
    size_t i = 0;
    while (i < h->n_peers && h->peers[i].uid != uid)
        i++;
    if (i == h->n_peers && i < h->d->cfg.max_connections) {
        h->peers[i] = (struct peer){.uid = uid, .n = 0};
        h->n_peers++;
    }
    if (i < h->n_peers && h->peers[i].n < h->d->cfg.max_connections_per_peer) {
        h->peers[i].n++;
        ok = 1;
    } else {
        time_t now = time(NULL);
        warn = now - h->refused_logged >= 10; /* a flood is one line per 10 s, not one each */
        if (warn)
            h->refused_logged = now;
    }
    pthread_mutex_unlock(&h->peers_lock);
    if (warn)
        gpx_warn("uid %u holds max_connections_per_peer (%u) connections to %s: closing its "
                 "new ones",
                 uid, h->d->cfg.max_connections_per_peer, h->d->cfg.socket_path);
    return ok;
}

static void peer_remove(struct gpxd_http *h, uint32_t uid)
{
    pthread_mutex_lock(&h->peers_lock);
    for (size_t i = 0; i < h->n_peers; i++) {
        if (h->peers[i].uid != uid)
            continue;
        if (--h->peers[i].n == 0)
            h->peers[i] = h->peers[--h->n_peers];
        break;
    }
    pthread_mutex_unlock(&h->peers_lock);
}

/*
 * The unix socket's per-uid limit. MHD has no way to refuse a connection from
 * here, so one over the limit (or whose peer is unknown) is shut down: MHD
 * reads end-of-file at once and closes it. A counted connection carries its
 * uid + 1 in *socket_context, so that only counted ones are uncounted.
 */
static void notify_conn(void *cls, struct MHD_Connection *conn, void **socket_context,
                        enum MHD_ConnectionNotificationCode toe)
{
    struct gpxd_http *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (*socket_context)
            peer_remove(h, (uint32_t)((uintptr_t)*socket_context - 1));
        *socket_context = NULL;
        return;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct ucred uc;
    socklen_t ul = sizeof uc;
    if (!ci)
        return;
    if (getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0 &&
        peer_add(h, (uint32_t)uc.uid)) {
        *socket_context = (void *)((uintptr_t)uc.uid + 1);
        return;
    }
    shutdown(ci->connect_fd, SHUT_RDWR);
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
        const char *why = bad_framing(conn);
        if (why)
            return refuse(d, conn, why);
        /* header_timeout is over for this connection; it may idle between requests */
        MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
                                  timeout_s(d->cfg.idle_timeout_ms));
        cr = calloc(1, sizeof *cr);
        if (!cr)
            return MHD_NO;
        *con_cls = cr;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (cr->too_large || cr->len + n > d->cfg.max_body) {
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
    size_t n = 0;
    while (buf && n < (size_t)sb.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)sb.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
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

/* The options common to both listeners, then the unix socket's per-uid accounting or TCP's
 * per-IP limit and TLS. */
static int start_one(struct gpxd_http *h, struct listener *l, gpx_error *err)
{
    const struct gpxd_config *cfg = &h->d->cfg;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
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
    OPT(MHD_OPTION_THREAD_POOL_SIZE, cfg->threads, NULL);
    OPT(MHD_OPTION_NOTIFY_COMPLETED, completed, NULL);
    OPT(MHD_OPTION_CONNECTION_TIMEOUT, timeout_s(cfg->header_timeout_ms), NULL);
    OPT(MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, NULL);
    if (l->via_unix)
        OPT(MHD_OPTION_NOTIFY_CONNECTION, notify_conn, h);
    else
        OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_connections_per_peer, NULL);
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
    pthread_mutex_init(&h->peers_lock, NULL);
    /* main() checked it; so does every other way to serve */
    if (gpxd_config_check(&d->cfg, err) < 0)
        goto fail;
    if (!(h->peers = calloc(d->cfg.max_connections, sizeof *h->peers))) {
        gpx_error_set(err, GPX_E_NOMEM, "http");
        goto fail;
    }
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
    pthread_mutex_destroy(&h->peers_lock);
    free(h->peers);
    free(h);
}
