/*
 * libFuzzer target: the registration body of a GPU function (src/daemon/fn_spec.c). The first
 * byte picks POST (no name in the path) or PUT (the path names "echo"); the rest is the body.
 * The parser must reject or accept without crashing, leaking or reading out of bounds; every
 * rejection says why and leaves nothing allocated; an accepted spec satisfies the rules the
 * pool relies on, and its record (the store's JSON) parses back to the same spec.
 */
#include "daemon/functions.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct gpxd_fn_spec *s)
{
    if (!gpxd_fn_name_ok(s->name) || !s->lease || !json_is_object(s->lease) ||
        !s->command == !s->image[0] || s->min_workers > s->max_workers || s->max_workers < 1 ||
        s->max_workers > GPXD_FN_MAX_WORKERS || s->max_concurrency < 1 ||
        s->max_concurrency > GPXD_FN_MAX_CONC || s->queue_max > GPXD_FN_MAX_QUEUE ||
        !(s->timeout_s > 0) || !(s->idle_timeout_s > 0) || s->max_body_bytes < 1 ||
        s->max_body_bytes > GPXD_FN_MAX_BODY || !(s->price_per_request >= 0) ||
        !(s->price_per_gpu_second >= 0))
        abort();
    if (s->command &&
        (json_array_size(s->command) < 1 || json_array_size(s->command) > GPXD_FN_MAX_ARGS))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *name = data[0] & 1 ? "echo" : NULL;
    struct gpxd_fn_spec s;
    gpx_error err = {0};
    if (gpxd_fn_spec_parse((const char *)data + 1, size - 1, name, &s, &err) < 0) {
        if (err.code == GPX_E_OK || !err.msg[0] || s.command || s.lease)
            abort(); /* every rejection says why, and keeps nothing */
        return 0;
    }
    check(&s);
    if (name && strcmp(s.name, name))
        abort();
    /* the record reads back as the same spec */
    json_t *j = gpxd_fn_spec_json(&s);
    json_object_del(j, s.command ? "image" : "command");
    char *t = json_dumps(j, JSON_COMPACT);
    struct gpxd_fn_spec s2;
    gpx_error e2 = {0};
    if (!t || gpxd_fn_spec_parse(t, strlen(t), NULL, &s2, &e2) < 0)
        abort();
    json_t *j2 = gpxd_fn_spec_json(&s2);
    json_object_del(j2, s2.command ? "image" : "command");
    if (!json_equal(j, j2))
        abort();
    json_decref(j2);
    gpxd_fn_spec_clear(&s2);
    free(t);
    json_decref(j);
    gpxd_fn_spec_clear(&s);
    return 0;
}
