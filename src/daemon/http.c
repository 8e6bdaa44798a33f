/*
 * HTTP transport: libmicrohttpd on sockets gpuplexd creates itself (handed
 * over with MHD_OPTION_LISTEN_SOCKET), one MHD daemon per listener so that
 * each request knows whether it came over the unix socket (where SO_PEERCRED
 * says who is calling) or TCP (bearer tokens only). Bodies are collected up
 * to max_body and the rest is drained and answered 413. Routing and
 * everything else is api.c's.
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "daemon/daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct listener {
    struct gpxd_http *h;
    int via_unix;
    int fd;
    struct MHD_Daemon *mhd;
};

struct gpxd_http {
    struct gpxd *d;
    struct listener unix_l, tcp_l;
    dev_t sock_dev; /* the socket file we bound, so that stop removes only ours */
    ino_t sock_ino;
};

struct conn_req {
    char *body;
    size_t len, cap;
    int too_large;
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
    gpx_debug("http: %s", buf);
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
    if (!cr) {
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

static int start_one(struct gpxd_http *h, struct listener *l, gpx_error *err)
{
    l->h = h;
    l->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, handler,
        l, MHD_OPTION_LISTEN_SOCKET, l->fd, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)h->d->cfg.threads, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)1024, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
    if (!l->mhd)
        return gpx_error_set(err, GPX_E_INTERNAL, "starting the HTTP server failed");
    return 0;
}

int gpxd_http_start(struct gpxd *d, struct gpxd_http **out, gpx_error *err)
{
    struct gpxd_http *h = calloc(1, sizeof *h);
    if (!h)
        return gpx_error_set(err, GPX_E_NOMEM, "http");
    h->d = d;
    h->unix_l.fd = h->tcp_l.fd = -1;
    h->unix_l.via_unix = 1;
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
    gpx_info("listening on %s", d->cfg.socket_path);
    if (h->tcp_l.fd >= 0)
        gpx_info("listening on http://%s", d->cfg.listen);
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
    free(h);
}
