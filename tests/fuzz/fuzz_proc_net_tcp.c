/*
 * libFuzzer target: the parser of the kernel's TCP socket tables
 * (/proc/net/tcp and tcp6, src/daemon/peer.c) that tells gpuplexd which uid
 * is behind a loopback TCP connection: arbitrary bytes as the table, looked
 * up for an IPv4 and an IPv6 connection (the ones the seeds list). A socket
 * found has a uid the kernel could print, and a table cut at a line's end
 * holds nothing the whole table did not.
 */
#define _GNU_SOURCE
#include "daemon/peer.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 127.0.0.1:55466 to 127.0.0.1:34097, [::1]:53098 to [::1]:44843 */
static void lookup(const char *text, size_t size, int family, uint16_t lport, uint16_t rport)
{
    struct gpxd_tcp_ends e;
    memset(&e, 0, sizeof e);
    e.family = family;
    if (family == AF_INET) {
        e.local[0] = e.remote[0] = 127;
        e.local[3] = e.remote[3] = 1;
    } else {
        e.local[15] = e.remote[15] = 1;
    }
    e.local_port = lport;
    e.remote_port = rport;
    uint32_t uid = UINT32_MAX;
    int found = gpxd_proc_net_tcp_uid(text, size, &e, &uid);
    if (found != 0 && found != 1)
        abort();
    if (found != (uid != UINT32_MAX))
        abort(); /* set exactly when found, and never to the kernel's "no uid" */
    const char *nl = size ? memrchr(text, '\n', size) : NULL;
    if (nl && !found && gpxd_proc_net_tcp_uid(text, (size_t)(nl - text) + 1, &e, &uid))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    lookup(text, size, AF_INET, 55466, 34097);
    lookup(text, size, AF_INET6, 53098, 44843);
    /* the other way round: the daemon's own end of the same connections */
    lookup(text, size, AF_INET, 34097, 55466);
    return 0;
}
