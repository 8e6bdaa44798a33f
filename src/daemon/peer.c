/*
 * The uid behind a loopback TCP connection, from the kernel's table of TCP
 * sockets (/proc/net/tcp, /proc/net/tcp6): lines such as
 *
 *    1: 0100007F:A1B2 0100007F:1D2E 01 00000000:00000000 00:00000000 00000000  1001 ...
 *
 * (slot, local and remote address:port, state, queues, timer, retransmits,
 * uid). Each address is printed as the 32-bit words the kernel holds, in
 * network byte order, formatted by this host as numbers: parsed back into a
 * word and stored, they are the address's bytes again. The table is read in
 * pieces of whole lines and the scan stops at the first match, so memory stays
 * bounded however many sockets the host has. The parser reads only its
 * arguments, so that it can be unit tested and fuzzed (fuzz_proc_net_tcp).
 */
#define _GNU_SOURCE
#include "daemon/peer.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#define TCP_TIME_WAIT 0x06
#define READ_CHUNK    65536 /* a line is about 150 bytes (tcp6: 180) */

/* n hex digits at p (no more, no fewer) into *v. */
static int hex_word(const char *p, const char *end, size_t n, uint32_t *v)
{
    if ((size_t)(end - p) < n)
        return -1;
    uint32_t x = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return -1;
        x = x << 4 | d;
    }
    *v = x;
    return 0;
}

/* The next run of non-blanks in [*p, end): its start, and *p past it; NULL at the end. */
static const char *token(const char **p, const char *end, size_t *len)
{
    const char *s = *p;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    const char *t = s;
    while (t < end && *t != ' ' && *t != '\t')
        t++;
    *p = t;
    *len = (size_t)(t - s);
    return t > s ? s : NULL;
}

/* "WORDS:PORT" with 1 (IPv4) or 4 (IPv6) words: equal to addr:port? -1 when malformed. */
static int same_end(const char *s, size_t len, size_t words, const uint8_t *addr, uint16_t port)
{
    if (len != words * 8 + 5 || s[words * 8] != ':')
        return -1;
    uint8_t got[16];
    for (size_t i = 0; i < words; i++) {
        uint32_t w;
        if (hex_word(s + i * 8, s + len, 8, &w) < 0)
            return -1;
        memcpy(got + i * 4, &w, 4); /* the kernel's word, in its byte order: the address bytes */
    }
    uint32_t p;
    if (hex_word(s + words * 8 + 1, s + len, 4, &p) < 0)
        return -1;
    return p == port && !memcmp(got, addr, words * 4);
}

/* A decimal uid of at most 10 digits below 2^32 - 1 (the kernel's "no uid"). */
static int parse_uid(const char *s, size_t len, uint32_t *uid)
{
    if (len == 0 || len > 10)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v >= UINT32_MAX)
        return -1;
    *uid = (uint32_t)v;
    return 0;
}

/* One line of the table: 1 and *uid if it is e's socket, else 0. */
static int match_line(const char *p, const char *end, const struct gpxd_tcp_ends *e, uint32_t *uid)
{
    size_t words = e->family == AF_INET6 ? 4 : 1;
    const char *tok[8];
    size_t len[8];
    for (int i = 0; i < 8; i++)
        if (!(tok[i] = token(&p, end, &len[i])))
            return 0;
    uint32_t st, u;
    if (len[0] < 2 || tok[0][len[0] - 1] != ':' || len[3] != 2 ||
        hex_word(tok[3], tok[3] + 2, 2, &st) < 0 || st == TCP_TIME_WAIT)
        return 0;
    if (same_end(tok[1], len[1], words, e->local, e->local_port) != 1 ||
        same_end(tok[2], len[2], words, e->remote, e->remote_port) != 1 ||
        parse_uid(tok[7], len[7], &u) < 0)
        return 0;
    *uid = u;
    return 1;
}

int gpxd_proc_net_tcp_uid(const char *text, size_t len, const struct gpxd_tcp_ends *e,
                          uint32_t *uid)
{
    if (e->family != AF_INET && e->family != AF_INET6)
        return 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        if (match_line(p, eol, e, uid))
            return 1;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

int gpxd_addr_is_loopback(const struct sockaddr *addr)
{
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)addr;
        return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
    }
    if (addr->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)addr)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return 0;
}

/* addr as the client socket's table sees it: an IPv4-mapped IPv6 address is the IPv4 socket
 * it came from. Returns the family, or -1. */
static int end_of(const struct sockaddr *addr, uint8_t out[16], uint16_t *port)
{
    memset(out, 0, 16);
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)addr;
        memcpy(out, &s4->sin_addr, 4);
        *port = ntohs(s4->sin_port);
        return AF_INET;
    }
    if (addr->sa_family != AF_INET6)
        return -1;
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)addr;
    *port = ntohs(s6->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
        memcpy(out, s6->sin6_addr.s6_addr + 12, 4);
        return AF_INET;
    }
    memcpy(out, &s6->sin6_addr, 16);
    return AF_INET6;
}

int gpxd_tcp_peer_uid(const struct sockaddr *peer, const struct sockaddr *local, uint32_t *uid)
{
    struct gpxd_tcp_ends e;
    memset(&e, 0, sizeof e);
    int fam = end_of(peer, e.local, &e.local_port);
    if (fam < 0 || end_of(local, e.remote, &e.remote_port) != fam)
        return -1;
    e.family = fam;
    int fd = open(fam == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    static _Thread_local char buf[READ_CHUNK];
    size_t have = 0;
    int found = 0;
    for (;;) {
        ssize_t r = read(fd, buf + have, sizeof buf - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) { /* the end (or an error): what is left is the last line */
            found = gpxd_proc_net_tcp_uid(buf, have, &e, uid);
            break;
        }
        have += (size_t)r;
        char *nl = memrchr(buf, '\n', have);
        if (!nl) { /* a line longer than the buffer is no socket's: drop it */
            have = have == sizeof buf ? 0 : have;
            continue;
        }
        size_t whole = (size_t)(nl - buf) + 1;
        if ((found = gpxd_proc_net_tcp_uid(buf, whole, &e, uid)))
            break;
        memmove(buf, buf + whole, have - whole);
        have -= whole;
    }
    close(fd);
    return found ? 0 : -1;
}
