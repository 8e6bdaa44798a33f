/*
 * The mode backends' table, and the backends of the modes that need nothing
 * outside the engine: exclusive (a whole GPU), vgpu (a fixed slice: memory
 * quota + compute cap, enforced by the interposer) and timeslice (weighted
 * turns, optional quota). They differ only in placement rules (which
 * src/core/placement.c owns) and in whether workloads get the interposer.
 * mig lives in mode_mig.c: it makes and destroys MIG instances.
 *
 * A new mode is a file with its `struct gpx__backend` and a row below; the
 * ledger (ledger.c) never branches on a mode.
 */
#include "engine/internal.h"

#include <stddef.h>

static int place_shared(struct gpx_engine *e, struct gpx__create *c, gpx_error *err)
{
    return gpx__place_shared(e, c, err);
}

const struct gpx__backend gpx__backend_exclusive = {
    .mode = GPX_MODE_EXCLUSIVE,
    .name = "exclusive",
    .place = place_shared,
    .interposed = 0,
    .whole_gpu = 1,
};

const struct gpx__backend gpx__backend_vgpu = {
    .mode = GPX_MODE_VGPU,
    .name = "vgpu",
    .place = place_shared,
    .interposed = 1,
};

const struct gpx__backend gpx__backend_timeslice = {
    .mode = GPX_MODE_TIMESLICE,
    .name = "timeslice",
    .place = place_shared,
    .interposed = 1,
};

static const struct gpx__backend *const backends[] = {
    &gpx__backend_exclusive,
    &gpx__backend_mig,
    &gpx__backend_vgpu,
    &gpx__backend_timeslice,
};

const struct gpx__backend *gpx__backend_at(unsigned i)
{
    return i < sizeof backends / sizeof backends[0] ? backends[i] : NULL;
}

const struct gpx__backend *gpx__backend_of(int mode)
{
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (backends[i]->mode == mode)
            return backends[i];
    return NULL;
}
