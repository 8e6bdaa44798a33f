/*
 * Config parsing. Every key is one row of the table `keys` below: its name,
 * its kind (string, listen address, bool, number, duration, size, ratio or
 * one of some names), where it is stored in struct gpxd_config and what it
 * accepts; gpxd_config_set looks the key up and calls its kind's setter, so
 * a new key is one row (and one line in docs/daemon.md). Each setter
 * validates the value completely (ranges, units, addresses) before storing
 * it, so a gpxd_config is always internally valid, and its error names the
 * key and the value and says what is accepted. Parsing never allocates and
 * never reads past `len`: the fuzz target (tests/fuzz/fuzz_config.c) feeds
 * it arbitrary bytes.
 */
#include "daemon/config.h"
#include "core/log.h"
#include "core/roff.h"
#include "core/size.h"
#include "core/watchdog.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
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
    c->max_leases_per_tenant = 64;
    c->reconcile_ms = 2000;
    c->meter_ms = 10000;
    c->watchdog = 0; /* report */
    c->watchdog_ms = 1000;
    c->watchdog_allowance = GPX_WATCH_ALLOWANCE_DEFAULT;
    c->watchdog_lease_allowance = GPX_WATCH_LEASE_ALLOWANCE_DEFAULT;
    c->inventory_ms = 1000;
    c->log_level = GPX_LOG_INFO;
    c->threads = 2;
    c->fn_spin_us = 300;
    c->max_body = (size_t)64 * 1024;
    c->web = 1;
    c->metrics_dcgm_leases = 1;
    c->max_connections = 1024;
    c->max_connections_per_peer = 32;
    c->header_timeout_ms = 10000;
    c->idle_timeout_ms = 60000;
    snprintf(c->cdi_spec, sizeof c->cdi_spec, "%s", "/var/run/cdi/gpuplex.json");
    snprintf(c->cdi_version, sizeof c->cdi_version, "%s", "0.5.0");
    snprintf(c->cdi_dev_root, sizeof c->cdi_dev_root, "%s", "/dev");
    snprintf(c->podman, sizeof c->podman, "%s", "podman");
    snprintf(c->libvirt_uri, sizeof c->libvirt_uri, "%s", "qemu:///system");
    snprintf(c->vm_ssh_address, sizeof c->vm_ssh_address, "%s", "127.0.0.1");
    c->vm_hostdev = 1;
    c->vm_ssh_port_min = 22200;
    c->vm_ssh_port_max = 22999;
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

/* HOST:PORT into host (an IP address; "localhost" is 127.0.0.1) and port; *loopback says which. */
static int split_listen(const char *s, char *host, size_t hostlen, unsigned *port, int *loopback,
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
    if (inet_pton(AF_INET, h, buf) == 1)
        *loopback = buf[0] == 127;
    else if (inet_pton(AF_INET6, h, buf) == 1)
        *loopback = memcmp(buf, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0;
    else
        return gpx_error_set(err, GPX_E_INVALID,
                             "invalid host in listen address '%s' (use an IP address)", s);
    if (strlen(h) >= hostlen)
        return gpx_error_set(err, GPX_E_INVALID, "listen address '%s' is too long", s);
    memcpy(host, h, strlen(h) + 1);
    *port = (unsigned)p;
    return 0;
}

int gpxd_parse_listen(const char *s, int allow_remote, char *host, size_t hostlen, unsigned *port,
                      gpx_error *err)
{
    int loopback = 0;
    if (split_listen(s, host, hostlen, port, &loopback, err) < 0)
        return -1;
    if (!loopback && !allow_remote)
        return gpx_error_set(err, GPX_E_INVALID,
                             "refusing to listen on non-loopback address '%s': the API would be "
                             "reachable from the network; use 127.0.0.1 or set allow_remote "
                             "(--allow-remote) if that is really intended (and tls_cert, "
                             "tls_key: tokens must not cross a network in clear)",
                             s);
    return 0;
}

/* The CDI spec versions whose runtimes read device nodes with hostPath (0.5.0 and later). */
static int cdi_version_ok(const char *v)
{
    static const char *const known[] = {"0.5.0", "0.6.0", "0.7.0", "0.8.0", "1.0.0", "1.1.0"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(v, known[i]) == 0)
            return 1;
    return 0;
}

int gpxd_config_check(const struct gpxd_config *c, gpx_error *err)
{
    if (!cdi_version_ok(c->cdi_version))
        return gpx_error_set(err, GPX_E_INVALID,
                             "cdi_version: '%s' is not one of 0.5.0, 0.6.0, 0.7.0, 0.8.0, 1.0.0, "
                             "1.1.0 (the spec's device nodes need 0.5.0; Debian 12's podman 4.3 "
                             "reads up to 0.5.0)",
                             c->cdi_version);
    int tls = c->tls_cert[0] || c->tls_key[0];
    if (tls && (!c->tls_cert[0] || !c->tls_key[0]))
        return gpx_error_set(err, GPX_E_INVALID,
                             "%s is set but %s is not: HTTPS needs both tls_cert (the "
                             "certificate) and tls_key (its private key)",
                             c->tls_cert[0] ? "tls_cert" : "tls_key",
                             c->tls_cert[0] ? "tls_key" : "tls_cert");
    if (tls && !c->listen[0])
        return gpx_error_set(err, GPX_E_INVALID,
                             "tls_cert and tls_key are set but listen is not: TLS serves the TCP "
                             "listener (the unix socket needs none); set listen = HOST:PORT");
    if (c->max_connections_per_peer > c->max_connections / 2)
        return gpx_error_set(err, GPX_E_INVALID,
                             "max_connections_per_peer (%u) must be at most half of "
                             "max_connections (%u), so that one peer at its limit leaves room for "
                             "the others",
                             c->max_connections_per_peer, c->max_connections);
    if (!c->listen[0])
        return 0;
    char h[64];
    unsigned port;
    int loopback = 0;
    if (split_listen(c->listen, h, sizeof h, &port, &loopback, err) < 0 ||
        gpxd_parse_listen(c->listen, c->allow_remote, h, sizeof h, &port, err) < 0)
        return -1;
    if (!loopback && !tls && !c->allow_plain_http)
        return gpx_error_set(err, GPX_E_INVALID,
                             "refusing to serve plain HTTP on non-loopback address '%s': bearer "
                             "tokens would cross the network in clear; set tls_cert and tls_key "
                             "(HTTPS), or allow_plain_http = true if a TLS proxy or a private "
                             "network protects it",
                             c->listen);
    return 0;
}

/*
 * The keys. Each row names a key, how its value is parsed (kind), where it is
 * stored (offset and size in struct gpxd_config; the FIELD macros refuse a
 * member of the wrong type at compile time) and what is accepted. The error
 * messages are built from the row, so they always state what the row accepts.
 */
enum kind {
    K_STRING,   /* char array; .min = 1: must not be empty */
    K_LISTEN,   /* K_STRING that, when not empty, must be HOST:PORT (gpxd_parse_listen) */
    K_BOOL,     /* int: true/yes/1/on or false/no/0/off */
    K_UINT,     /* unsigned or size_t: a number from .min to .max, written in .base */
    K_DURATION, /* uint64_t milliseconds: gpxd_parse_duration, .min to .max (0: no maximum) */
    K_SIZE,     /* uint64_t bytes: gpx_size_parse */
    K_RATIO,    /* double from .lo to .hi; .accepts is the range as the error states it */
    K_ENUM,     /* int: the value of one of .names */
};

#define MAX_NAMES 6

struct key {
    const char *name;
    size_t off, size;
    uint64_t min, max;
    double lo, hi;
    const char *accepts;
    struct {
        const char *name; /* NULL ends the list */
        int value;
    } names[MAX_NAMES + 1];
    enum kind kind;
    int base;
};

// NOLINTBEGIN(bugprone-macro-parentheses): member names and initializer values
#define CFG_MEMBER(m) (((struct gpxd_config *)0)->m)
/* offset and size of member m, which must have type T (0 * sizeof(...) checks it) */
#define FIELD(m, T)                                                                                \
    .off = offsetof(struct gpxd_config, m) + 0 * sizeof(_Generic(CFG_MEMBER(m), T : 0)),           \
    .size = sizeof CFG_MEMBER(m)

/* One macro per kind, so that each row below is one line. Their arguments are
 * member names and designated-initializer values, which can't be parenthesized. */
/* clang-format off */
#define STRING(k, m, nonempty) {.name = k, .kind = K_STRING, FIELD(m, char *), .min = nonempty}
#define LISTEN(k, m)           {.name = k, .kind = K_LISTEN, FIELD(m, char *)}
#define BOOL(k, m)             {.name = k, .kind = K_BOOL, FIELD(m, int)}
#define UINT(k, m, T, lo, hi, b) \
    {.name = k, .kind = K_UINT, FIELD(m, T), .min = lo, .max = hi, .base = b}
#define DURATION(k, m, min_ms) {.name = k, .kind = K_DURATION, FIELD(m, uint64_t), .min = min_ms}
#define DURATION_RANGE(k, m, min_ms, max_ms) \
    {.name = k, .kind = K_DURATION, FIELD(m, uint64_t), .min = min_ms, .max = max_ms}
#define SIZE(k, m)             {.name = k, .kind = K_SIZE, FIELD(m, uint64_t)}
#define RATIO(k, m, l, h, text) \
    {.name = k, .kind = K_RATIO, FIELD(m, double), .lo = l, .hi = h, .accepts = text}
#define ENUM(k, m, T, ...)     {.name = k, .kind = K_ENUM, FIELD(m, T), .names = {__VA_ARGS__}}
// NOLINTEND(bugprone-macro-parentheses)
/* clang-format on */

_Static_assert(sizeof(enum gpx_place_policy) == sizeof(int), "placement is stored as an int");

/* In the order of docs/daemon.md's table. */
static const struct key keys[] = {
    STRING("socket", socket_path, 1),
    UINT("socket_mode", socket_mode, unsigned, 0, 0777, 8),
    LISTEN("listen", listen),
    BOOL("allow_remote", allow_remote),
    STRING("tls_cert", tls_cert, 0),
    STRING("tls_key", tls_key, 0),
    BOOL("allow_plain_http", allow_plain_http),
    UINT("max_connections", max_connections, unsigned, 16, 65536, 10),
    UINT("max_connections_per_peer", max_connections_per_peer, unsigned, 1, 32768, 10),
    DURATION_RANGE("header_timeout", header_timeout_ms, 1000, 3600000),
    DURATION_RANGE("idle_timeout", idle_timeout_ms, 1000, 86400000),
    STRING("state_dir", state_dir, 1),
    STRING("run_dir", run_dir, 0),
    STRING("sim", sim, 0),
    STRING("interposer", interposer, 0),
    ENUM("placement", placement, enum gpx_place_policy, {"binpack", GPX_PLACE_BINPACK},
         {"spread", GPX_PLACE_SPREAD}),
    RATIO("oversubscription", oversubscription, 1.0, 100.0, "a ratio from 1.0 to 100"),
    DURATION("grace", grace_ms, 0),
    UINT("max_leases_per_tenant", max_leases_per_tenant, unsigned, 0, 1000000, 10),
    DURATION("reconcile_interval", reconcile_ms, 100),
    DURATION("meter_interval", meter_ms, 100),
    DURATION("inventory_interval", inventory_ms, 100),
    ENUM("watchdog", watchdog, int, {"off", -1}, {"report", GPX_WATCH_REPORT},
         {"kill", GPX_WATCH_KILL}),
    DURATION("watchdog_interval", watchdog_ms, 100),
    SIZE("watchdog_allowance", watchdog_allowance),
    SIZE("watchdog_lease_allowance", watchdog_lease_allowance),
    ENUM("log_level", log_level, int, {"error", GPX_LOG_ERROR}, {"warn", GPX_LOG_WARN},
         {"info", GPX_LOG_INFO}, {"debug", GPX_LOG_DEBUG}),
    UINT("threads", threads, unsigned, 1, 64, 10),
    UINT("fn_spin_us", fn_spin_us, unsigned, 0, 10000, 10),
    BOOL("metrics_public", metrics_public),
    ENUM("metrics_labels", metrics_snake_labels, int, {"dcgm", 0}, {"snake", 1}),
    BOOL("metrics_dcgm_leases", metrics_dcgm_leases),
    STRING("hostname", hostname, 0),
    BOOL("web", web),
    STRING("web_root", web_root, 0),
    UINT("max_body", max_body, size_t, 1024, 16u << 20, 10),
    STRING("cdi_spec", cdi_spec, 0),
    STRING("cdi_version", cdi_version, 1),
    STRING("cdi_dev_root", cdi_dev_root, 1),
    STRING("cdi_driver_libs", cdi_driver_libs, 0),
    STRING("cdi_env", cdi_env, 0),
    STRING("cdi_mounts", cdi_mounts, 0),
    STRING("container_images", container_images, 0),
    STRING("podman", podman, 1),
    STRING("podman_args", podman_args, 0),
    STRING("libvirt_uri", libvirt_uri, 1),
    STRING("vm_images", vm_images, 0),
    ENUM("vm_domain_type", vm_domain_type, int, {"kvm", 0}, {"qemu", 1}),
    BOOL("vm_hostdev", vm_hostdev),
    STRING("vm_dir", vm_dir, 0),
    STRING("vm_ssh_address", vm_ssh_address, 1),
    UINT("vm_ssh_port_min", vm_ssh_port_min, unsigned, 1024, 65535, 10),
    UINT("vm_ssh_port_max", vm_ssh_port_max, unsigned, 1024, 65535, 10),
};

#define NKEYS (sizeof keys / sizeof keys[0])

static const struct key *find_key(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static int set_string(const struct key *k, void *dst, const char *value, gpx_error *err)
{
    if (k->min && !*value)
        return gpx_error_set(err, GPX_E_INVALID, "%s: must not be empty", k->name);
    size_t n = strlen(value);
    if (n >= k->size)
        return gpx_error_set(err, GPX_E_INVALID, "%s: value too long (max %zu bytes)", k->name,
                             k->size - 1);
    memcpy(dst, value, n + 1);
    return 0;
}

static int set_listen(const struct key *k, void *dst, const char *value, gpx_error *err)
{
    if (*value) {
        char h[64];
        unsigned p;
        /* syntax only here: allow_remote may come later; main() checks again */
        if (gpxd_parse_listen(value, 1, h, sizeof h, &p, err) < 0)
            return -1;
    }
    return set_string(k, dst, value, err);
}

static int set_bool(const struct key *k, void *dst, const char *value, gpx_error *err)
{
    int v;
    if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "1") ||
        !strcmp(value, "on"))
        v = 1;
    else if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "0") ||
             !strcmp(value, "off"))
        v = 0;
    else
        return gpx_error_set(err, GPX_E_INVALID, "%s: expected true or false, not '%s'", k->name,
                             value);
    memcpy(dst, &v, sizeof v);
    return 0;
}

static int set_uint(const struct key *k, void *dst, const char *value, gpx_error *err)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(value, &end, k->base);
    if (!isdigit((unsigned char)*value) || *end || errno || v < k->min || v > k->max)
        return gpx_error_set(err, GPX_E_INVALID,
                             "%s: expected a number from %llu to %llu, not '%s'", k->name,
                             (unsigned long long)k->min, (unsigned long long)k->max, value);
    if (k->size == sizeof(unsigned)) {
        unsigned u = (unsigned)v;
        memcpy(dst, &u, sizeof u);
    } else {
        size_t z = (size_t)v;
        memcpy(dst, &z, sizeof z);
    }
    return 0;
}

static int set_duration(const struct key *k, void *dst, const char *value, gpx_error *err)
{
    uint64_t ms = 0;
    if (gpxd_parse_duration(value, &ms, err) < 0)
        return gpx_error_wrap(err, "%s", k->name);
    if (ms < k->min)
        return gpx_error_set(err, GPX_E_INVALID, "%s: at least %llums", k->name,
                             (unsigned long long)k->min);
    if (k->max && ms > k->max)
        return gpx_error_set(err, GPX_E_INVALID, "%s: at most %llums", k->name,
                             (unsigned long long)k->max);
    memcpy(dst, &ms, sizeof ms);
    return 0;
}

static int set_size(const struct key *k, void *dst, const char *value, gpx_error *err)
{
    uint64_t bytes;
    if (gpx_size_parse(value, &bytes, err) < 0)
        return gpx_error_wrap(err, "%s", k->name);
    memcpy(dst, &bytes, sizeof bytes);
    return 0;
}

static int set_ratio(const struct key *k, void *dst, const char *value, gpx_error *err)
{
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (!isdigit((unsigned char)*value) || *end || errno || !isfinite(v) || v < k->lo || v > k->hi)
        return gpx_error_set(err, GPX_E_INVALID, "%s: expected %s, not '%s'", k->name, k->accepts,
                             value);
    memcpy(dst, &v, sizeof v);
    return 0;
}

static int set_enum(const struct key *k, void *dst, const char *value, gpx_error *err)
{
    size_t n = 0;
    while (k->names[n].name) {
        if (!strcmp(value, k->names[n].name)) {
            memcpy(dst, &k->names[n].value, sizeof(int));
            return 0;
        }
        n++;
    }
    /* "expected a, b or c": MAX_NAMES names fit easily; a cut list is reported, not hidden */
    char list[256];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *sep = i == 0 ? "" : i + 1 < n ? ", " : " or ";
        int w = snprintf(list + len, sizeof list - len, "%s%s", sep, k->names[i].name);
        if (w < 0 || (size_t)w >= sizeof list - len)
            return gpx_error_set(err, GPX_E_INTERNAL, "%s: the list of accepted values is too long",
                                 k->name);
        len += (size_t)w;
    }
    return gpx_error_set(err, GPX_E_INVALID, "%s: expected %s, not '%s'", k->name, list, value);
}

int gpxd_config_set(struct gpxd_config *c, const char *key, const char *value, gpx_error *err)
{
    static int (*const setters[])(const struct key *, void *, const char *, gpx_error *) = {
        [K_STRING] = set_string, [K_LISTEN] = set_listen,     [K_BOOL] = set_bool,
        [K_UINT] = set_uint,     [K_DURATION] = set_duration, [K_SIZE] = set_size,
        [K_RATIO] = set_ratio,   [K_ENUM] = set_enum,
    };
    const struct key *k = find_key(key);
    if (!k)
        return gpx_error_set(err, GPX_E_INVALID, "unknown key '%s'", key);
    return setters[k->kind](k, (char *)c + k->off, value, err);
}

/* ms in the largest unit that states it exactly, so that the line reads as it was likely written.
 */
static void write_duration(uint64_t ms, char *buf, size_t len)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {{"h", 3600000}, {"m", 60000}, {"s", 1000}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (ms % units[i].ms == 0) {
            snprintf(buf, len, "%llu%s", (unsigned long long)(ms / units[i].ms), units[i].unit);
            return;
        }
    snprintf(buf, len, "%llums", (unsigned long long)ms);
}

/* Bytes the same way (binary units, as gpx_size_parse reads them; a bare number is bytes). */
static void write_size(uint64_t bytes, char *buf, size_t len)
{
    static const char units[] = "TGMK";
    for (unsigned i = 0; i < 4; i++) {
        uint64_t u = 1ULL << (10 * (4 - i));
        if (bytes && bytes % u == 0) {
            snprintf(buf, len, "%llu%c", (unsigned long long)(bytes / u), units[i]);
            return;
        }
    }
    snprintf(buf, len, "%llu", (unsigned long long)bytes);
}

/* The shortest %g that strtod reads back to the same double (1.5, not 1.5000000000000000). */
static void write_ratio(double v, char *buf, size_t len)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (!strpbrk(buf, ".e") && strlen(buf) + 2 < len)
        strcat(buf, ".0"); /* a ratio reads as one: 1.0, not 1 */
}

/* One key's value as the file would spell it; enum values not in the row's list show as '?'. */
static void write_value(const struct key *k, const void *src, char *buf, size_t len)
{
    int i;
    unsigned u;
    size_t z;
    uint64_t x;
    double d;
    switch (k->kind) {
    case K_STRING:
    case K_LISTEN:
        snprintf(buf, len, "%s", (const char *)src);
        return;
    case K_BOOL:
        memcpy(&i, src, sizeof i);
        snprintf(buf, len, "%s", i ? "true" : "false");
        return;
    case K_UINT:
        if (k->size == sizeof(unsigned)) {
            memcpy(&u, src, sizeof u);
            z = u;
        } else {
            memcpy(&z, src, sizeof z);
        }
        snprintf(buf, len, k->base == 8 ? "0%zo" : "%zu", z);
        return;
    case K_DURATION:
        memcpy(&x, src, sizeof x);
        write_duration(x, buf, len);
        return;
    case K_SIZE:
        memcpy(&x, src, sizeof x);
        write_size(x, buf, len);
        return;
    case K_RATIO:
        memcpy(&d, src, sizeof d);
        write_ratio(d, buf, len);
        return;
    case K_ENUM:
        memcpy(&i, src, sizeof i);
        snprintf(buf, len, "?");
        for (size_t n = 0; k->names[n].name; n++)
            if (k->names[n].value == i)
                snprintf(buf, len, "%s", k->names[n].name);
        return;
    }
}

int gpxd_config_write(const struct gpxd_config *c, FILE *out)
{
    for (size_t i = 0; i < NKEYS; i++) {
        char v[PATH_MAX];
        write_value(&keys[i], (const char *)c + keys[i].off, v, sizeof v);
        /* "key =" for an empty value: the parser trims, and reads it back as empty */
        if (fprintf(out, "%s =%s%s\n", keys[i].name, v[0] ? " " : "", v) < 0)
            return -1;
    }
    return fflush(out) == 0 ? 0 : -1;
}

/* What a row accepts, in words built from the row itself (as its errors are). */
static void write_accepts(const struct key *k, char *buf, size_t len)
{
    static const char *const kinds[] = {[K_STRING] = "a string",
                                        [K_LISTEN] = "HOST:PORT, or empty for none",
                                        [K_BOOL] = "true or false (also yes/no, 1/0, on/off)",
                                        [K_DURATION] = "a duration",
                                        [K_SIZE] = "a size (512M, 1G, 1.5GiB)"};
    if (k->kind == K_UINT)
        snprintf(buf, len, k->base == 8 ? "an octal number from 0%llo to 0%llo" : "%llu to %llu",
                 (unsigned long long)k->min, (unsigned long long)k->max);
    else if (k->kind == K_RATIO)
        snprintf(buf, len, "%s", k->accepts);
    else if (k->kind == K_ENUM)
        for (size_t n = 0, off = 0; k->names[n].name && off < len; n++)
            off += (size_t)snprintf(buf + off, len - off, "%s%s", n ? ", " : "", k->names[n].name);
    else if (k->kind == K_DURATION && k->max)
        snprintf(buf, len, "a duration (500ms, 30s, 5m, 1h) from %llums to %llums",
                 (unsigned long long)k->min, (unsigned long long)k->max);
    else if (k->kind == K_DURATION)
        snprintf(buf, len, "a duration (500ms, 30s, 5m, 1h) of at least %llums",
                 (unsigned long long)k->min);
    else
        snprintf(buf, len, "%s%s", kinds[k->kind],
                 k->kind == K_STRING && k->min ? ", not empty" : "");
}

/*
 * What `name` means, from the commented example config (packaging/gpuplexd.conf):
 * the "# " comment lines right above its "#name = default" line, joined with
 * spaces into out. 0, or -1 when the example does not describe the key.
 */
static int key_meaning(const char *example, const char *name, char *out, size_t len)
{
    size_t nl = strlen(name);
    const char *line = example, *at = NULL;
    while (line && *line) {
        if (line[0] == '#' && strncmp(line + 1, name, nl) == 0 &&
            strncmp(line + 1 + nl, " =", 2) == 0) {
            at = line;
            break;
        }
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    if (!at)
        return -1;
    /* walk back over the "# text" lines just above (not "# ---" section rules) */
    const char *first = at;
    while (first > example) {
        const char *prev = first - 1; /* the '\n' ending the line above */
        while (prev > example && prev[-1] != '\n')
            prev--;
        if (strncmp(prev, "# ", 2) != 0 || strncmp(prev, "# ---", 5) == 0)
            break;
        first = prev;
    }
    if (first == at)
        return -1;
    size_t o = 0;
    for (const char *l = first; l < at;) {
        const char *e = strchr(l, '\n');
        size_t n = (size_t)(e - l) - 2;
        if (o && o + 1 < len)
            out[o++] = ' ';
        if (o + n >= len)
            n = len - o - 1;
        memcpy(out + o, l + 2, n);
        o += n;
        l = e + 1;
    }
    out[o] = '\0';
    return 0;
}

int gpxd_config_man(FILE *out, const char *example)
{
    struct gpxd_config d;
    gpxd_config_defaults(&d);
    for (size_t i = 0; i < NKEYS; i++) {
        char v[PATH_MAX], acc[256], meaning[1024];
        if (key_meaning(example, keys[i].name, meaning, sizeof meaning) < 0) {
            fprintf(stderr, "gpuplexd: the example config does not describe key '%s'\n",
                    keys[i].name);
            return -1;
        }
        write_value(&keys[i], (const char *)&d + keys[i].off, v, sizeof v);
        write_accepts(&keys[i], acc, sizeof acc);
        fprintf(out, ".TP\n.B %s\n", keys[i].name);
        gpx_roff_text(out, meaning, strlen(meaning));
        fputs(".br\nAccepts: ", out);
        gpx_roff_text(out, acc, strlen(acc));
        fputs(".br\nDefault: ", out);
        gpx_roff_text(out, v[0] ? v : "(empty)", strlen(v[0] ? v : "(empty)"));
    }
    return fflush(out) == 0 ? 0 : -1;
}

int gpxd_config_parse(struct gpxd_config *c, const char *text, size_t len, const char *origin,
                      gpx_error *err)
{
    unsigned char seen[NKEYS] = {0};
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
        const struct key *row = find_key(k);
        if (row && seen[row - keys])
            return gpx_error_set(err, GPX_E_INVALID, "%s:%u: '%s' is set twice", origin, lineno, k);
        if (gpxd_config_set(c, k, v, err) < 0)
            return gpx_error_wrap(err, "%s:%u", origin, lineno);
        if (row) /* always: gpxd_config_set refuses unknown keys */
            seen[row - keys] = 1;
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
