/*
 * Config parsing. Every key goes through gpxd_config_set, which validates the
 * value completely (ranges, units, addresses) before storing it, so a
 * gpxd_config is always internally valid. Parsing never allocates and never
 * reads past `len`: the fuzz target (tests/fuzz/fuzz_config.c) feeds it
 * arbitrary bytes.
 */
#include "daemon/config.h"
#include "core/size.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

void gpxd_config_defaults(struct gpxd_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->socket_path, sizeof c->socket_path, "%s", GPXD_DEFAULT_SOCKET);
    c->socket_mode = 0666;
    snprintf(c->state_dir, sizeof c->state_dir, "%s", GPXD_DEFAULT_STATE);
    c->placement = GPX_PLACE_BINPACK;
    c->oversubscription = 1.0;
    c->grace_ms = 30000;
    c->reconcile_ms = 2000;
    c->meter_ms = 10000;
    c->watchdog = 0; /* report */
    c->watchdog_ms = 1000;
    c->watchdog_allowance = 512ULL << 20;
    c->inventory_ms = 1000;
    c->log_level = GPX_LOG_INFO;
    c->threads = 2;
    c->max_body = (size_t)64 * 1024;
}

int gpxd_parse_duration(const char *s, uint64_t *ms, gpx_error *err)
{
    if (!s || !isdigit((unsigned char)*s))
        return gpx_error_set(err, GPX_E_INVALID, "invalid duration '%s' (examples: 500ms, 30s, 5m)",
                             s ? s : "");
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    static const struct {
        const char *unit;
        double ms;
    } units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) != 0)
            continue;
        double r = v * units[i].ms;
        if (errno || !isfinite(r) || r < 0 || r > 1e15)
            break;
        *ms = (uint64_t)r;
        return 0;
    }
    return gpx_error_set(err, GPX_E_INVALID, "invalid duration '%s' (examples: 500ms, 30s, 5m)", s);
}

int gpxd_parse_listen(const char *s, int allow_remote, char *host, size_t hostlen, unsigned *port,
                      gpx_error *err)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return gpx_error_set(err, GPX_E_INVALID,
                             "invalid listen address '%s' (expected HOST:PORT, e.g. "
                             "127.0.0.1:7470)",
                             s);
    char h[128];
    size_t hl = (size_t)(colon - s);
    if (hl >= sizeof h)
        return gpx_error_set(err, GPX_E_INVALID, "listen address '%s' is too long", s);
    memcpy(h, s, hl);
    h[hl] = '\0';
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        memmove(h, h + 1, hl - 2);
        h[hl - 2] = '\0';
    }
    if (strcmp(h, "localhost") == 0)
        snprintf(h, sizeof h, "127.0.0.1");
    char *end;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (!isdigit((unsigned char)colon[1]) || *end || errno || p == 0 || p > 65535)
        return gpx_error_set(err, GPX_E_INVALID, "invalid port in listen address '%s'", s);
    unsigned char buf[16];
    int loopback;
    if (inet_pton(AF_INET, h, buf) == 1)
        loopback = buf[0] == 127;
    else if (inet_pton(AF_INET6, h, buf) == 1)
        loopback = memcmp(buf, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0;
    else
        return gpx_error_set(err, GPX_E_INVALID,
                             "invalid host in listen address '%s' (use an IP address)", s);
    if (!loopback && !allow_remote)
        return gpx_error_set(err, GPX_E_INVALID,
                             "refusing to listen on non-loopback address '%s': the API would be "
                             "reachable from the network; use 127.0.0.1 or set allow_remote "
                             "(--allow-remote) if that is really intended",
                             s);
    if (strlen(h) >= hostlen)
        return gpx_error_set(err, GPX_E_INVALID, "listen address '%s' is too long", s);
    memcpy(host, h, strlen(h) + 1);
    *port = (unsigned)p;
    return 0;
}

static int set_str(char *dst, size_t len, const char *key, const char *value, int allow_empty,
                   gpx_error *err)
{
    if (!allow_empty && !*value)
        return gpx_error_set(err, GPX_E_INVALID, "%s: must not be empty", key);
    if (strlen(value) >= len)
        return gpx_error_set(err, GPX_E_INVALID, "%s: value too long (max %zu bytes)", key,
                             len - 1);
    memcpy(dst, value, strlen(value) + 1);
    return 0;
}

static int set_bool(int *dst, const char *key, const char *value, gpx_error *err)
{
    if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "1") ||
        !strcmp(value, "on"))
        *dst = 1;
    else if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "0") ||
             !strcmp(value, "off"))
        *dst = 0;
    else
        return gpx_error_set(err, GPX_E_INVALID, "%s: expected true or false, not '%s'", key,
                             value);
    return 0;
}

static int set_uint(unsigned *dst, const char *key, const char *value, unsigned lo, unsigned hi,
                    int base, gpx_error *err)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(value, &end, base);
    if (!isdigit((unsigned char)*value) || *end || errno || v < lo || v > hi)
        return gpx_error_set(err, GPX_E_INVALID, "%s: expected a number from %u to %u, not '%s'",
                             key, lo, hi, value);
    *dst = (unsigned)v;
    return 0;
}

static int set_duration(uint64_t *dst, const char *key, const char *value, uint64_t min_ms,
                        gpx_error *err)
{
    uint64_t ms = 0;
    if (gpxd_parse_duration(value, &ms, err) < 0)
        return gpx_error_wrap(err, "%s", key);
    if (ms < min_ms)
        return gpx_error_set(err, GPX_E_INVALID, "%s: at least %llums", key,
                             (unsigned long long)min_ms);
    *dst = ms;
    return 0;
}

int gpxd_config_set(struct gpxd_config *c, const char *key, const char *value, gpx_error *err)
{
    if (!strcmp(key, "socket"))
        return set_str(c->socket_path, sizeof c->socket_path, key, value, 0, err);
    if (!strcmp(key, "socket_mode"))
        return set_uint(&c->socket_mode, key, value, 0, 0777, 8, err);
    if (!strcmp(key, "listen")) {
        if (*value) {
            char h[64];
            unsigned p;
            /* syntax only here: allow_remote may come later; main() checks again */
            if (gpxd_parse_listen(value, 1, h, sizeof h, &p, err) < 0)
                return -1;
        }
        return set_str(c->listen, sizeof c->listen, key, value, 1, err);
    }
    if (!strcmp(key, "allow_remote"))
        return set_bool(&c->allow_remote, key, value, err);
    if (!strcmp(key, "state_dir"))
        return set_str(c->state_dir, sizeof c->state_dir, key, value, 0, err);
    if (!strcmp(key, "run_dir"))
        return set_str(c->run_dir, sizeof c->run_dir, key, value, 1, err);
    if (!strcmp(key, "sim"))
        return set_str(c->sim, sizeof c->sim, key, value, 1, err);
    if (!strcmp(key, "interposer"))
        return set_str(c->interposer, sizeof c->interposer, key, value, 1, err);
    if (!strcmp(key, "hostname"))
        return set_str(c->hostname, sizeof c->hostname, key, value, 1, err);
    if (!strcmp(key, "placement")) {
        int p = gpx_place_policy_parse(value);
        if (p < 0)
            return gpx_error_set(err, GPX_E_INVALID,
                                 "placement: expected binpack or spread, not '%s'", value);
        c->placement = (enum gpx_place_policy)p;
        return 0;
    }
    if (!strcmp(key, "oversubscription")) {
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        if (!isdigit((unsigned char)*value) || *end || errno || !isfinite(v) || v < 1.0 ||
            v > 100.0)
            return gpx_error_set(err, GPX_E_INVALID,
                                 "oversubscription: expected a ratio from 1.0 to 100, not '%s'",
                                 value);
        c->oversubscription = v;
        return 0;
    }
    if (!strcmp(key, "grace"))
        return set_duration(&c->grace_ms, key, value, 0, err);
    if (!strcmp(key, "reconcile_interval"))
        return set_duration(&c->reconcile_ms, key, value, 100, err);
    if (!strcmp(key, "meter_interval"))
        return set_duration(&c->meter_ms, key, value, 100, err);
    if (!strcmp(key, "inventory_interval"))
        return set_duration(&c->inventory_ms, key, value, 100, err);
    if (!strcmp(key, "log_level")) {
        int l = gpx_log_parse_level(value);
        if (l < 0)
            return gpx_error_set(err, GPX_E_INVALID,
                                 "log_level: expected error, warn, info or debug, not '%s'", value);
        c->log_level = l;
        return 0;
    }
    if (!strcmp(key, "threads"))
        return set_uint(&c->threads, key, value, 1, 64, 10, err);
    if (!strcmp(key, "metrics_public"))
        return set_bool(&c->metrics_public, key, value, err);
    if (!strcmp(key, "watchdog")) {
        if (!strcmp(value, "off")) {
            c->watchdog = -1;
            return 0;
        }
        if (!strcmp(value, "report") || !strcmp(value, "kill")) {
            c->watchdog = !strcmp(value, "kill");
            return 0;
        }
        return gpx_error_set(err, GPX_E_INVALID, "watchdog: expected off, report or kill, not '%s'",
                             value);
    }
    if (!strcmp(key, "watchdog_interval"))
        return set_duration(&c->watchdog_ms, key, value, 100, err);
    if (!strcmp(key, "watchdog_allowance")) {
        if (gpx_size_parse(value, &c->watchdog_allowance, err) < 0)
            return gpx_error_wrap(err, "watchdog_allowance");
        return 0;
    }
    if (!strcmp(key, "metrics_labels")) {
        if (!strcmp(value, "dcgm") || !strcmp(value, "snake")) {
            c->metrics_snake_labels = !strcmp(value, "snake");
            return 0;
        }
        return gpx_error_set(err, GPX_E_INVALID, "metrics_labels: expected dcgm or snake, not '%s'",
                             value);
    }
    if (!strcmp(key, "max_body")) {
        unsigned v = 0;
        if (set_uint(&v, key, value, 1024, 16u << 20, 10, err) < 0)
            return -1;
        c->max_body = v;
        return 0;
    }
    return gpx_error_set(err, GPX_E_INVALID, "unknown key '%s'", key);
}

#define MAX_KEYS 32

int gpxd_config_parse(struct gpxd_config *c, const char *text, size_t len, const char *origin,
                      gpx_error *err)
{
    char seen[MAX_KEYS][32];
    unsigned nseen = 0;
    size_t pos = 0;
    unsigned lineno = 0;
    while (pos < len) {
        lineno++;
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        char line[PATH_MAX + 64] = "";
        size_t n = end - pos;
        if (n >= sizeof line)
            return gpx_error_set(err, GPX_E_INVALID, "%s:%u: line too long", origin, lineno);
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos = end + 1;
        if (memchr(line, '\0', n))
            return gpx_error_set(err, GPX_E_INVALID, "%s:%u: NUL byte", origin, lineno);
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        char *e = p + strlen(p);
        while (e > p && isspace((unsigned char)e[-1]))
            *--e = '\0';
        if (!*p || *p == '#')
            continue;
        char *eq = strchr(p, '=');
        if (!eq)
            return gpx_error_set(err, GPX_E_INVALID, "%s:%u: expected 'key = value'", origin,
                                 lineno);
        char *k = p, *ke = eq;
        while (ke > k && isspace((unsigned char)ke[-1]))
            ke--;
        *ke = '\0';
        char *v = eq + 1;
        while (isspace((unsigned char)*v))
            v++;
        if (!*k)
            return gpx_error_set(err, GPX_E_INVALID, "%s:%u: missing key before '='", origin,
                                 lineno);
        for (unsigned i = 0; i < nseen; i++)
            if (strcmp(seen[i], k) == 0)
                return gpx_error_set(err, GPX_E_INVALID, "%s:%u: '%s' is set twice", origin, lineno,
                                     k);
        if (gpxd_config_set(c, k, v, err) < 0)
            return gpx_error_wrap(err, "%s:%u", origin, lineno);
        if (nseen < MAX_KEYS && strlen(k) < sizeof seen[0])
            memcpy(seen[nseen++], k, strlen(k) + 1);
    }
    return 0;
}

int gpxd_config_load(struct gpxd_config *c, const char *path, int must_exist, gpx_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT && !must_exist)
            return 0;
        return gpx_error_errno(err, GPX_E_IO, errno, "config %s", path);
    }
    char buf[64 * 1024];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return gpx_error_errno(err, GPX_E_IO, e, "reading config %s", path);
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == sizeof buf) {
            close(fd);
            return gpx_error_set(err, GPX_E_INVALID, "config %s is larger than %zu bytes", path,
                                 sizeof buf);
        }
    }
    close(fd);
    return gpxd_config_parse(c, buf, n, path, err);
}
