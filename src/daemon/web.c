/*
 * The web dashboard's static files (web/ in the source tree, SHAREDIR/gpuplex/web
 * once installed): `/`, `/index.html` and `/web/NAME`, GET and HEAD, without
 * authentication (the page asks for a token and sends it to /v1 itself).
 *
 * Only regular files under web_root are served: a path is 404 unless every
 * segment is [A-Za-z0-9._-] not starting with '.' (no "..", no hidden files;
 * MHD has decoded %2e already), its extension has a known content type, and
 * its real path (symlinks resolved) lies under web_root's real path. Every
 * answer carries a strict Content-Security-Policy (nothing but the daemon: no
 * inline script, no other origin), nosniff and no framing.
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "core/paths.h"
#include "daemon/daemon.h"
#include "engine/views.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* SHAREDIR/gpuplex/web from the directory of the installed gpuplexd (sbin/); CMake derives it
 * from GNUInstallDirs (src/CMakeLists.txt) */
#ifndef GPX_WEB_REL
#define GPX_WEB_REL "/../share/gpuplex/web"
#endif
/* the build tree's copy (web/CMakeLists.txt), from build/bin */
#define GPX_BUILDWEB_REL "/../share/gpuplex/web"

#define WEB_MAX_FILE ((size_t)8 << 20) /* the page's files are KiBs; the chart library ~50 KiB */

/* Nothing but the daemon: no inline script or style, no other origin, no framing, no forms. */
static const char web_csp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

/* The headers of every answer to a web path (also its 404s): name, value, ... */
static const char *const web_headers[] = {
    "Content-Security-Policy",
    web_csp,
    "X-Content-Type-Options",
    "nosniff",
    "X-Frame-Options",
    "DENY",
    "Referrer-Policy",
    "no-referrer",
    /* revalidate each time: an upgraded daemon's page and its API stay in step */
    "Cache-Control",
    "no-cache",
    NULL,
};

static const struct {
    const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
};

const char *gpxd_web_content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || strchr(dot, '/'))
        return NULL;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

size_t gpxd_read_full(int fd, char *buf, size_t len)
{
    size_t n = 0;
    while (n < len) {
        ssize_t r = read(fd, buf + n, len - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    return n;
}

int gpxd_web_path(const char *path)
{
    return !strcmp(path, "/") || !strcmp(path, "/index.html") || !strcmp(path, "/web") ||
           !strncmp(path, "/web/", 5);
}

/* The file under web_root that path names ("index.html", "img/x.png"), or NULL. */
static const char *relative(const char *path)
{
    if (!strcmp(path, "/") || !strcmp(path, "/index.html") || !strcmp(path, "/web") ||
        !strcmp(path, "/web/"))
        return "index.html";
    const char *rel = path + 5; /* after "/web/" */
    if (strlen(rel) > 255)
        return NULL;
    for (const char *seg = rel; *seg;) {
        size_t n = strcspn(seg, "/");
        if (n == 0 || seg[0] == '.') /* "//", ".", "..", hidden files */
            return NULL;
        for (size_t i = 0; i < n; i++) {
            char ch = seg[i];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
                return NULL;
        }
        seg += n;
        if (*seg == '/' && !*++seg) /* a trailing '/' names no file */
            return NULL;
    }
    return rel;
}

static void set_error(struct gpxd_http_resp *rs, enum gpx_code code, const char *msg,
                      const char *arg)
{
    gpx_error e = {.code = code};
    snprintf(e.msg, sizeof e.msg, "%s%.200s", msg, arg);
    json_t *j = gpx_view_error(&e);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    rs->status = gpx_error_http_status(code);
    rs->content_type = "application/json";
    if (s) {
        rs->len = strlen(s);
        rs->body = s;
    }
}

/* Reads the regular file real into rs->body; -1 (errno) if it is not one. */
static int read_file(const char *real, struct gpxd_http_resp *rs)
{
    int fd = open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -1;
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (size_t)sb.st_size > WEB_MAX_FILE) {
        close(fd);
        errno = ENOENT;
        return -1;
    }
    size_t len = (size_t)sb.st_size;
    char *buf = malloc(len ? len : 1);
    size_t n = buf ? gpxd_read_full(fd, buf, len) : 0;
    int e = errno;
    close(fd);
    if (!buf || n < len) {
        free(buf);
        errno = buf ? e : ENOMEM;
        return -1;
    }
    rs->body = buf;
    rs->len = len;
    return 0;
}

void gpxd_web_serve(const char *root, const char *method, const char *path,
                    struct gpxd_http_resp *rs)
{
    rs->headers = web_headers;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        set_error(rs, GPX_E_METHOD, "method not allowed here: ", method);
        rs->allow = "GET, HEAD";
        return;
    }
    if (!root || !root[0]) {
        set_error(rs, GPX_E_NOT_FOUND,
                  "the web dashboard's files were not found (set web_root in gpuplexd.conf)", "");
        return;
    }
    const char *rel = relative(path);
    const char *type = rel ? gpxd_web_content_type(rel) : NULL;
    char full[PATH_MAX], real[PATH_MAX];
    size_t rl = strlen(root);
    /* the page itself missing from a web_root that exists: an incomplete install, which the
     * person at the browser should hear about as such, not as a mistyped path */
    const char *missing = rel && !strcmp(rel, "index.html")
                              ? "the web dashboard's page (index.html) is not in gpuplexd's "
                                "web_root: reinstall gpuplex or set web_root in gpuplexd.conf; "
                                "path: "
                              : "no such file: ";
    if (!type || (size_t)snprintf(full, sizeof full, "%s/%s", root, rel) >= sizeof full ||
        !realpath(full, real) || strncmp(real, root, rl) != 0 || real[rl] != '/') {
        set_error(rs, GPX_E_NOT_FOUND, missing, path);
        return;
    }
    if (read_file(real, rs) < 0) {
        if (errno != ENOENT && errno != ELOOP)
            gpx_warn("web: reading %s: %s", real, strerror(errno));
        set_error(rs, GPX_E_NOT_FOUND, missing, path);
        return;
    }
    rs->status = 200;
    rs->content_type = type;
}

int gpxd_web_root(const struct gpxd_config *cfg, char *out, size_t len, gpx_error *err)
{
    char found[PATH_MAX];
    const char *dir = cfg->web_root;
    if (!dir[0]) {
        /* installed first, as gpx_pkglib_path: the build tree's copy only for a binary in it */
        const char *const rel[] = {GPX_WEB_REL "/index.html", GPX_BUILDWEB_REL "/index.html"};
        if (gpx_beside_exe(rel, sizeof rel / sizeof rel[0], found, sizeof found, err) < 0)
            return -1;
        *strrchr(found, '/') = '\0';
        dir = found;
    }
    char real[PATH_MAX];
    if (!realpath(dir, real))
        return gpx_error_errno(err, GPX_E_NOT_FOUND, errno, "web_root %s", dir);
    struct stat sb;
    if (stat(real, &sb) < 0 || !S_ISDIR(sb.st_mode))
        return gpx_error_set(err, GPX_E_INVALID, "web_root %s is not a directory", dir);
    if ((size_t)snprintf(out, len, "%s", real) >= len)
        return gpx_error_set(err, GPX_E_INVALID, "web_root %s: path too long", dir);
    return 0;
}
