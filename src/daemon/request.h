/*
 * Request bodies and query values of the API, parsed and validated before
 * anything else looks at them. Pure functions of their input (no daemon
 * state), so they are unit-tested directly and fuzzed
 * (tests/fuzz/fuzz_request.c). Every rejection names the field and says
 * what is accepted; unknown fields are rejected by name. The types are the
 * engine's (src/engine/engine.h): a lease body becomes the same
 * gpx_lease_spec the CLI builds from its flags, checked by the same function.
 */
#ifndef GPXD_REQUEST_H
#define GPXD_REQUEST_H

#include "engine/engine.h"
#include "gpuplex/error.h"

#include <stddef.h>
#include <stdint.h>

/* A lease object as functions and containers take it ("lease"), without "for_container";
 * labels with the reserved prefix "gpuplex." are refused (engine.h); gpx_lease_spec_clear()
 * frees it */
int gpxd_lease_spec_parse(const char *body, size_t len, struct gpx_lease_spec *r, gpx_error *err);
/* POST /v1/leases: the same, and "for_container": true (the label gpuplex.container=1) */
int gpxd_lease_request_parse(const char *body, size_t len, struct gpx_lease_spec *r,
                             gpx_error *err);
/* POST /v1/tenants */
int gpxd_tenant_req_parse(const char *body, size_t len, struct gpx_tenant_req *r, gpx_error *err);
/* POST /v1/gpus/{id}/mig */
int gpxd_mig_req_parse(const char *body, size_t len, struct gpx_mig_req *r, gpx_error *err);
/* An image reference the container and function APIs take (containers.c, fn_spec.c): 1..255
 * of [A-Za-z0-9._-/:@], not starting with '-' (len: the JSON string's: an embedded NUL fails). */
int gpxd_image_name_ok(const char *s, size_t len);

#endif
