/*
 * Views: the one place that writes the JSON of the engine's structs — for
 * gpuplexd's API and for every CLI --json, with or without a daemon — and
 * that reads it back into the same structs (the HTTP client), so that both
 * paths print the same objects. Every quantity's key names its unit
 * (_bytes, _mib, _seconds, _ms, _pct); a GPU reference is {index, uuid}
 * everywhere; keys that existed before stay (docs/api.md lists them).
 *
 * Encoders return a new reference (never NULL short of ENOMEM); decoders
 * fill a zeroed struct and return 0, or -1 with GPX_E_IO naming the key.
 */
#ifndef GPX_ENGINE_VIEWS_H
#define GPX_ENGINE_VIEWS_H

#include "engine/engine.h"

#include <jansson.h>

/* view flags */
#define GPX_VIEW_TURNS 1u /* a lease's recent_turns */

json_t *gpx_view_lease(const struct gpx_lease *l, unsigned flags);
json_t *gpx_view_leases(const struct gpx_lease *l, unsigned n, unsigned flags);
json_t *gpx_view_gpu(const struct gpx_gpu *g);
json_t *gpx_view_gpus(const struct gpx_node *n);
json_t *gpx_view_usage(const struct gpx_usage *u);
/* token: shown once, when made; NULL otherwise */
json_t *gpx_view_tenant(const struct gpx_tenant *t, const char *token);
json_t *gpx_view_tenants(const struct gpx_tenant *t, unsigned n);
json_t *gpx_view_caller(const struct gpx_caller *c);
json_t *gpx_view_health(const struct gpx_health *h);
json_t *gpx_view_mig(const struct gpx_mig_view *v);
json_t *gpx_view_mig_applied(const struct gpx_mig_applied *a);
/* `gpuplex watch --json`: one violation (enforce: enum gpx_watch_enforce) */
struct gpx_watch_violation;
json_t *gpx_view_violation(const struct gpx_watch_violation *v, int enforce);
/*
 * `gpuplex timeslice ls --json`: one GPU's arbiter. Leases are in it by key
 * (gpx_arb_key); lease_of maps a key to the lease id the caller may know, or
 * NULL (the id is then null: another tenant's lease).
 */
struct gpx_arb;
json_t *gpx_view_arbiter(unsigned gpu_index, const char *gpu_uuid, struct gpx_arb *a,
                         const char *(*lease_of)(const char *key, void *arg), void *arg);
/* {"error":{"code","message"}} */
json_t *gpx_view_error(const gpx_error *e);
/* "2024-05-01T12:00:00.000Z"; null for 0 */
json_t *gpx_view_time(int64_t ns);

int gpx_view_lease_read(json_t *j, struct gpx_lease *out, gpx_error *err);
/* *out malloc'd */
int gpx_view_leases_read(json_t *j, struct gpx_lease **out, unsigned *n, gpx_error *err);
int gpx_view_gpus_read(json_t *j, struct gpx_node *out, gpx_error *err);
int gpx_view_usage_read(json_t *j, struct gpx_usage *out, gpx_error *err);
int gpx_view_tenant_read(json_t *j, struct gpx_tenant *out, char *token, size_t token_len,
                         gpx_error *err);
int gpx_view_tenants_read(json_t *j, struct gpx_tenant **out, unsigned *n, gpx_error *err);
int gpx_view_caller_read(json_t *j, struct gpx_caller *out, gpx_error *err);
int gpx_view_health_read(json_t *j, struct gpx_health *out, gpx_error *err);
int gpx_view_error_read(json_t *j, gpx_error *out);

/* Prints JSON as every --json does (2-space indent, keys in order), with a newline. */
void gpx_view_print(json_t *j);

#endif
