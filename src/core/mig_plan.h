/*
 * MIG planner: from a GPU model, its current GPU instances (which of them are
 * leased) and a demand (profile -> count), the layout that
 *   1. satisfies the most demanded instances,
 *   2. then the most compute slices of demand,
 *   3. then destroys the fewest unleased instances (never a leased one),
 *   4. then destroys the fewest compute slices,
 *   5. then leaves the most placements free for later demand,
 * or, when not everything fits, the closest such layout and what is unmet.
 * Every instance in the result has a placement, so the layout is created
 * with nvmlDeviceCreateGpuInstanceWithPlacement and never depends on the
 * order of creation (the 19,19,14,9 quirk of the MIG user guide).
 *
 * The search is exhaustive: a planner enumerates once every feasible layout
 * of its model (5,5xx on A100/H100) and each plan scores all of them with
 * bit masks, so a plan is exact and takes tens of microseconds
 * (bench/mig/). tests/unit/test_mig_plan.c compares it with a brute force.
 *
 * Demand counts the instances wanted in the result, leased ones included:
 * a leased 1g.10gb satisfies one unit of a 1g.10gb demand.
 */
#ifndef GPX_MIG_PLAN_H
#define GPX_MIG_PLAN_H

#include "core/mig_catalog.h"
#include "gpuplex/error.h"

#include <stdint.h>

struct gpx_mig_instance {
    uint8_t profile; /* catalog index in the model */
    uint8_t start;   /* first memory slice */
    uint8_t leased;  /* in use: never destroyed */
};

struct gpx_mig_plan_item {
    uint8_t profile;
    uint8_t start;
    uint8_t leased;
    int8_t current; /* index into the current instances, or -1: to be created */
};

struct gpx_mig_plan {
    unsigned count; /* the resulting layout, by start */
    struct gpx_mig_plan_item items[GPX_MIG_MAX_INSTANCES];
    unsigned destroy_count; /* current instances to destroy (indexes, by start) */
    uint8_t destroy[GPX_MIG_MAX_INSTANCES];
    unsigned create_count;
    unsigned demanded;         /* instances demanded */
    unsigned satisfied;        /* of them, present in the result */
    unsigned satisfied_slices; /* compute slices of the satisfied demand */
    unsigned unmet[GPX_MIG_MAX_PROFILES];
};

enum gpx_mig_plan_flags {
    /*
     * The result holds no unleased instance beyond the demand: instances of
     * undemanded profiles, and surplus ones of demanded profiles, are
     * destroyed (counted in objective 3). Without it they stay when they do
     * not stand in the way.
     */
    GPX_MIG_PLAN_EXACT = 1U << 0,
};

struct gpx_mig_planner;

/*
 * Enumerates every feasible layout of `m` (copied; the caller may free it).
 * The caller owns *out and frees it with gpx_mig_planner_free.
 */
int gpx_mig_planner_new(const struct gpx_mig_model *m, struct gpx_mig_planner **out,
                        gpx_error *err);
void gpx_mig_planner_free(struct gpx_mig_planner *p);
const struct gpx_mig_model *gpx_mig_planner_model(const struct gpx_mig_planner *p);
/* Number of feasible layouts (the empty one included). */
unsigned gpx_mig_planner_layouts(const struct gpx_mig_planner *p);

/*
 * Plans (see the top of this file). `cur` must be a valid layout of the
 * model (gpx_mig_layout_check); `demand` has one count per catalog profile.
 * Fills *out; an unsatisfiable demand is not an error (see out->unmet).
 */
int gpx_mig_plan(const struct gpx_mig_planner *p, const struct gpx_mig_instance *cur, unsigned ncur,
                 const unsigned demand[GPX_MIG_MAX_PROFILES], unsigned flags,
                 struct gpx_mig_plan *out, gpx_error *err);

/*
 * What a GPU can still hand out, one profile at a time: out[i] is how many
 * instances of profile i could be leased beside the leased ones in `cur`
 * (unleased instances of i count; unleased ones of other profiles may be
 * destroyed to make room; leased ones never). 0 when none fits.
 */
int gpx_mig_available(const struct gpx_mig_planner *p, const struct gpx_mig_instance *cur,
                      unsigned ncur, unsigned out[GPX_MIG_MAX_PROFILES], gpx_error *err);

/*
 * Checks that instances form a layout the GPU accepts: known profiles, valid
 * placements, no overlap, counts within each profile's maximum, at most 7
 * compute slices.
 */
int gpx_mig_layout_check(const struct gpx_mig_model *m, const struct gpx_mig_instance *inst,
                         unsigned n, gpx_error *err);

/*
 * Parses "3g.40gb=1,1g.10gb=4" ("NAME" alone means 1; repeated names add up)
 * into per-profile counts. Unknown names fail with the model's valid ones.
 */
int gpx_mig_demand_parse(const struct gpx_mig_model *m, const char *spec,
                         unsigned demand[GPX_MIG_MAX_PROFILES], gpx_error *err);

#endif
