/*
 * Which containers use a lease made for containers (label gpuplex.container=1):
 * one record per container, <run_dir>/containers/<lease id>/<container id>,
 * holding the host pid of the container's first process and its start time.
 *
 * The CDI spec's hooks keep them (docs/containers.md, "Lifecycle"): the
 * createRuntime hook adds the container's record, the poststop hook removes
 * it and releases the lease when no recorded container still runs. The
 * engine's reconciler reads them too: a lease whose recorded containers have
 * all exited is released after the grace, also when no poststop hook ran
 * (the runtime killed, the hook failing). The pid of a container's first
 * process ends with the whole container (its pid namespace goes with it).
 */
#ifndef GPX_SHM_CONTAINER_REC_H
#define GPX_SHM_CONTAINER_REC_H

#include "gpuplex/error.h"

#include <stdint.h>

/* Records container `ctr` (runtime's id: [A-Za-z0-9_.-], 1-127) of lease `id` with `pid`. */
int gpx_ctr_attach(const char *run_dir, const char *id, const char *ctr, int32_t pid,
                   gpx_error *err);
/* Removes container `ctr`'s record (absent: fine). */
int gpx_ctr_detach(const char *run_dir, const char *id, const char *ctr, gpx_error *err);
/*
 * The lease's recorded containers: -1 none recorded (never attached, or all
 * detached), 0 recorded but none still running, else how many still run.
 */
int gpx_ctr_alive(const char *run_dir, const char *id);
/* Removes every record of lease `id` (it was released). */
void gpx_ctr_forget(const char *run_dir, const char *id);

#endif
