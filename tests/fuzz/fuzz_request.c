/*
 * libFuzzer target: gpuplexd's request parsing (src/daemon/request.c). The
 * first byte picks the parser (lease body, tenant body, time value, MIG body); the rest
 * is the input. Parsers must reject or accept without crashing, leaking or
 * reading out of bounds, and an accepted lease request must satisfy the
 * rules the ledger relies on.
 */
#include "daemon/request.h"
#include "shm/lease.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t which = data[0] % 4;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    gpx_error err = {0};
    if (which == 0) {
        struct gpx_lease_spec r;
        if (gpxd_lease_spec_parse(body, len, &r, &err) == 0) {
            if (r.mode < GPX_MODE_EXCLUSIVE || r.mode > GPX_MODE_TIMESLICE || !r.labels ||
                strlen(r.labels) >= GPX_LABELS_JSON_MAX || r.n_owners > GPX_MAX_OWNERS ||
                (r.mode == GPX_MODE_VGPU && r.memory < GPX_MIN_MEMORY) ||
                (r.mode == GPX_MODE_EXCLUSIVE && (r.memory || r.weight || r.cap)) ||
                (r.mode == GPX_MODE_TIMESLICE && (r.weight < 1 || r.weight > GPX_MAX_WEIGHT)) ||
                (r.cap > 100) || (r.gpu_index >= 1024))
                abort();
            gpx_lease_spec_clear(&r);
        } else if (err.code == GPX_E_OK || !err.msg[0]) {
            abort(); /* every rejection says why */
        }
    } else if (which == 1) {
        struct gpx_tenant_req t;
        if (gpxd_tenant_req_parse(body, len, &t, &err) == 0 && !gpx_valid_name(t.name))
            abort();
    } else if (which == 3) {
        struct gpx_mig_req m;
        if (gpxd_mig_req_parse(body, len, &m, &err) == 0) {
            if (m.n > GPX_MIG_MAX_COUNTS || (m.enabled < 0 && !m.has_counts) ||
                (m.enabled == 0 && m.has_counts))
                abort();
            for (unsigned i = 0; i < m.n; i++)
                if (m.counts[i].count > GPX_MIG_MAX_COUNT || !m.counts[i].profile[0] ||
                    strlen(m.counts[i].profile) >= sizeof m.counts[i].profile)
                    abort();
        } else if (err.code == GPX_E_OK || !err.msg[0]) {
            abort();
        }
    } else {
        char *s = malloc(len + 1);
        if (!s)
            return 0;
        memcpy(s, body, len);
        s[len] = '\0';
        int64_t ns;
        gpx_parse_time(s, &ns, &err);
        gpx_valid_name(s);
        free(s);
    }
    return 0;
}
