/*
 * Metering: a sample of each active lease's region counters (GPU time
 * granted, time waited, memory held and at peak) into the store, on a
 * daemon's timer, at the start and end of each CLI command, and at release.
 * Deltas are taken against the counters at the last sample, so a region
 * re-created after a restart starts from zero without losing what the store
 * already has.
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "engine/internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- metering ------------------------------------------------------------------------------- */

/* Takes one sample of a lease into the store and its record (inside a transaction). */
int gpx__meter_one(struct gpx_engine *d, struct gpx_active *a, int64_t now, gpx_error *err)
{
    if (!gpx__region_usable(d, a))
        return 0;
    const struct gpx_lease_usage *u = a->region.usage;
    uint64_t g = atomic_load(&u->gpu_ns_granted), w = atomic_load(&u->wait_ns);
    uint64_t used = gpx_lease_used(u), peak = atomic_load(&u->peak);
    uint64_t dg = g >= a->gpu_ns_seen ? g - a->gpu_ns_seen : g;
    uint64_t dw = w >= a->wait_ns_seen ? w - a->wait_ns_seen : w;
    int64_t dt = now > a->last_sample_ns ? now - a->last_sample_ns : 0;
    a->gpu_ns_seen = g;
    a->wait_ns_seen = w;
    a->last_sample_ns = now;
    a->rec.gpu_ns += dg;
    a->rec.wait_ns += dw;
    int new_peak = peak > a->rec.peak_used;
    if (new_peak)
        a->rec.peak_used = peak;
    if (!dg && !dw && !used && !new_peak)
        return 0;
    struct gpx_sample s = {.lease_id = a->rec.id,
                           .tenant = a->rec.tenant,
                           .ts_ns = now,
                           .dt_ns = dt,
                           .gpu_ns = dg,
                           .wait_ns = dw,
                           .used_bytes = used,
                           .peak_bytes = peak};
    return gpx_store_sample_insert(d->store, &s, err);
}

void gpx_engine_meter(struct gpx_engine *d)
{
    pthread_mutex_lock(&d->lock);
    gpx_error e = {0};
    int64_t now = gpx_now_ns();
    if (d->n_leases && gpx_store_begin(d->store, 0, &e) == 0) {
        int bad = 0;
        for (unsigned i = 0; i < d->n_leases && !bad; i++) {
            struct gpx_active *a = d->leases[i];
            if (gpx__meter_one(d, a, now, &e) < 0 ||
                gpx_store_lease_update(d->store, &a->rec, &e) < 0)
                bad = 1;
        }
        if (bad)
            gpx_store_rollback(d->store);
        else if (gpx_store_commit(d->store, &e) == 0)
            e.code = GPX_E_OK;
    }
    if (e.code != GPX_E_OK)
        gpx_warn("metering: %s", e.msg);
    pthread_mutex_unlock(&d->lock);
}
