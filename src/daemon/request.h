/*
 * Request bodies and query values of the API, parsed and validated before
 * anything else looks at them. Pure functions of their input (no daemon
 * state), so they are unit-tested directly and fuzzed
 * (tests/fuzz/fuzz_request.c). Every rejection names the field and says
 * what is accepted; unknown fields are rejected by name.
 */
#ifndef GPXD_REQUEST_H
#define GPXD_REQUEST_H

#include "gpuplex/error.h"

#include <stddef.h>
#include <stdint.h>

#define GPXD_MAX_OWNERS      16
#define GPXD_MAX_LABELS      32
#define GPXD_NAME_MAX        64
#define GPXD_LABELS_JSON_MAX 2048
#define GPXD_MIN_MEMORY      (1ULL << 20)
#define GPXD_MAX_WEIGHT      10000
#define GPXD_DEFAULT_WEIGHT  1

/* POST /v1/leases */
struct gpxd_lease_req {
    int mode;          /* enum gpx_lease_mode */
    int gpu_index;     /* -1 unless given as a number */
    char gpu_uuid[96]; /* "" unless given as a UUID string */
    uint64_t memory;   /* bytes; 0 = not given */
    unsigned weight;   /* timeslice; 0 = not given */
    unsigned cap;      /* vgpu compute cap in %; 0 = not given */
    char mig_profile[32];
    char *labels; /* canonical JSON object text (sorted keys), malloc'd; never NULL after parse */
    unsigned n_owners;
    int32_t owners[GPXD_MAX_OWNERS];
};

int gpxd_lease_req_parse(const char *body, size_t len, struct gpxd_lease_req *r, gpx_error *err);
void gpxd_lease_req_clear(struct gpxd_lease_req *r);

/* POST /v1/tenants */
struct gpxd_tenant_req {
    char name[GPXD_NAME_MAX];
    int admin;
    int has_uid;
    uint32_t uid;
    unsigned max_gpus;   /* 0 = no limit */
    uint64_t max_memory; /* bytes; 0 = no limit */
};

int gpxd_tenant_req_parse(const char *body, size_t len, struct gpxd_tenant_req *r, gpx_error *err);

/* POST /v1/gpus/{id}/mig */
#define GPXD_MIG_MAX_COUNTS 16
#define GPXD_MIG_MAX_COUNT  64
struct gpxd_mig_req {
    int enabled;    /* -1: not given; 0: MIG off; 1: MIG on */
    int has_counts; /* "demand" or "layout" was given */
    int exact;      /* the counts came as "layout": the whole geometry */
    int partial;    /* apply what fits of a demand that does not all fit */
    int dry_run;
    unsigned n; /* profile -> count, names as given (checked against the GPU's model later) */
    struct {
        char profile[32];
        unsigned count;
    } counts[GPXD_MIG_MAX_COUNTS];
};

int gpxd_mig_req_parse(const char *body, size_t len, struct gpxd_mig_req *r, gpx_error *err);

/* A tenant name: [a-z0-9][a-z0-9._-]*, at most 63 characters. */
int gpxd_valid_name(const char *s);

/* A time as RFC 3339 UTC ("2024-05-01T12:00:00Z") or Unix seconds ("1714564800.5"). */
int gpxd_parse_time(const char *s, int64_t *ns, gpx_error *err);

#endif
