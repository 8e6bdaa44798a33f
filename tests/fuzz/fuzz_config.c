/*
 * libFuzzer target: gpuplexd's configuration parser (src/daemon/config.c):
 * arbitrary bytes as a config file, and as the values of the helpers that
 * parse durations and listen addresses. An accepted configuration must be
 * valid (ranges the daemon relies on).
 */
#include "daemon/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gpxd_config c;
    gpxd_config_defaults(&c);
    gpx_error err = {0};
    if (gpxd_config_parse(&c, (const char *)data, size, "fuzz.conf", &err) == 0) {
        if (c.threads < 1 || c.threads > 64 || c.oversubscription < 1.0 ||
            c.oversubscription > 100.0 || c.socket_mode > 0777 || !c.socket_path[0] ||
            !c.state_dir[0] || c.reconcile_ms < 100 || c.max_body < 1024 ||
            c.max_connections < 16 || c.max_connections_per_peer < 1 ||
            c.header_timeout_ms < 1000 || c.header_timeout_ms > 3600000 || c.idle_timeout_ms < 1000)
            abort();
        /* the rules between keys: accepted, or refused with a message */
        gpx_error_clear(&err);
        if (gpxd_config_check(&c, &err) < 0 && !err.msg[0])
            abort();
    } else if (!err.msg[0]) {
        abort();
    }
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    uint64_t ms;
    char host[64];
    unsigned port;
    gpxd_parse_duration(s, &ms, &err);
    if (gpxd_parse_listen(s, 0, host, sizeof host, &port, &err) == 0 && (port == 0 || port > 65535))
        abort();
    free(s);
    return 0;
}
