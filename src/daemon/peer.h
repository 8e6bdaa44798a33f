/*
 * Who is at the other end of a loopback TCP connection. Every local process
 * arrives as 127.0.0.1, so counting connections per IP address would let one
 * local user use up the limit of all; the kernel lists each TCP socket with
 * its owner's uid in /proc/net/tcp and /proc/net/tcp6, and the client's socket
 * is the one whose local end is the peer we see and whose remote end is us.
 */
#ifndef GPX_DAEMON_PEER_H
#define GPX_DAEMON_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A TCP connection as the client's socket sees it. Addresses are in network byte order (the
 * first 4 bytes for AF_INET), ports in host byte order. */
struct gpxd_tcp_ends {
    uint8_t local[16], remote[16];
    uint16_t local_port, remote_port;
    int family; /* AF_INET or AF_INET6 */
};

/*
 * Looks for the socket `e` in `text` (lines of /proc/net/tcp for AF_INET, of
 * /proc/net/tcp6 for AF_INET6; lines that are not a socket's, such as the
 * header, are skipped) and sets *uid to its owner's. A socket in TIME_WAIT
 * (listed as uid 0) does not count. Returns 1 when found, 0 when not. Pure:
 * reads only its arguments.
 */
int gpxd_proc_net_tcp_uid(const char *text, size_t len, const struct gpxd_tcp_ends *e,
                          uint32_t *uid);

/* Whether addr (AF_INET or AF_INET6, IPv4-mapped included) is a loopback address. */
int gpxd_addr_is_loopback(const struct sockaddr *addr);

/*
 * The uid of the local process that connected from `peer` to our socket at
 * `local` (both as accept() and getsockname() give them), read from
 * /proc/net/tcp or /proc/net/tcp6. Returns 0 and sets *uid, or -1 when it
 * can't be told (the socket is gone, another network namespace, no /proc).
 */
int gpxd_tcp_peer_uid(const struct sockaddr *peer, const struct sockaddr *local, uint32_t *uid);

#endif
