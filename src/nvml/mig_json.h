/*
 * MIG state, plans and apply results as JSON: the one spelling shared by
 * `gpuplex mig ls|plan|apply --json` on the direct path and gpuplexd's
 * GET/POST /v1/gpus/{id}/mig, so that the CLI prints the same objects
 * whichever path it took (docs/mig.md lists the keys).
 */
#ifndef GPX_NVML_MIG_JSON_H
#define GPX_NVML_MIG_JSON_H

#include "nvml/mig.h"

#include <jansson.h>

/* "enable", "disable", "destroy", "create", "create_ci" */
const char *gpx_mig_action_name(enum gpx_mig_action_kind k);

/*
 * One GPU as `mig ls --json` prints it: {index, name, uuid, model,
 * mig_supported, mig_mode, mig_mode_pending, catalog_differences, processes,
 * instances: [...], profiles: [...]}. New reference.
 */
json_t *gpx_mig_state_json(const struct gpx_mig_gpu_state *s);

/* {model, demand, instances, destroy, unmet, demanded, satisfied}. New reference. */
json_t *gpx_mig_plan_json(const struct gpx_mig_model *t, const struct gpx_mig_instance *cur,
                          const unsigned *demand, const struct gpx_mig_plan *pl);

/* [{action, profile, start, size, gpu_instance_id, compute_instance_id, uuid, done}] */
json_t *gpx_mig_actions_json(const struct gpx_mig_gpu_state *s,
                             const struct gpx_mig_apply_result *res);

/*
 * One GPU of `mig apply --json`: {index, model, dry_run, actions, plan} (plan
 * only when r->planned). New reference.
 */
json_t *gpx_mig_demand_json(const struct gpx_mig_gpu_state *s, const unsigned *demand,
                            const struct gpx_mig_demand_result *r, int dry_run);

#endif
