/*
 * The node as callers see it: every GPU of the inventory with the leases on
 * it (those the caller may see), whether one holds it exclusively and the
 * memory quota still free for shared leases; and the inventory's refresh.
 * The inventory has its own lock, so that reading GPUs never waits on a disk
 * flush; the lease table is read under the engine's lock.
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "engine/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- GPUs ----------------------------------------------------------------------------------- */

void gpx_node_free(struct gpx_node *n)
{
    if (!n)
        return;
    for (unsigned i = 0; n->gpus && i < n->count; i++)
        free(n->gpus[i].leases);
    free(n->gpus);
    memset(n, 0, sizeof *n);
}

int gpx_engine_gpus(struct gpx_engine *d, const struct gpx_caller *c, struct gpx_node *out,
                    gpx_error *err)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&d->lock);
    pthread_mutex_lock(&d->inv_lock);
    int rc = 0;
    snprintf(out->driver_version, sizeof out->driver_version, "%s", d->inv.driver_version);
    out->cuda_version = d->inv.cuda_version;
    out->gpus = calloc(d->inv.count ? d->inv.count : 1, sizeof *out->gpus);
    if (!out->gpus) {
        pthread_mutex_unlock(&d->inv_lock);
        pthread_mutex_unlock(&d->lock);
        return gpx_error_set(err, GPX_E_NOMEM, "GPU list");
    }
    for (unsigned i = 0; rc == 0 && i < d->inv.count; i++) {
        const struct gpx_gpu_info *g = &d->inv.gpus[i];
        struct gpx_gpu *o = &out->gpus[out->count++];
        o->info = *g;
        o->show_procs = c->admin;
        int mig = (g->valid & GPX_INV_MIG) && g->mig_current == NVML_DEVICE_MIG_ENABLE;
        struct gpx_place_gpu pg = {.index = g->index, .memory_total = g->memory_total};
        o->leases = calloc(d->n_leases ? d->n_leases : 1, sizeof *o->leases);
        if (!o->leases) {
            rc = gpx_error_set(err, GPX_E_NOMEM, "GPU list");
            break;
        }
        for (unsigned k = 0; k < d->n_leases; k++) {
            const struct gpx_lease_rec *l = &d->leases[k]->rec;
            if (l->gpu_index != g->index)
                continue;
            pg.leases++;
            const struct gpx__backend *b = gpx__backend_of(l->mode);
            if (b && b->whole_gpu)
                pg.exclusive = 1;
            else if (l->memory_quota)
                pg.quota_sum += l->memory_quota;
            else
                pg.unquoted++;
            if (!gpx__lease_visible(c, l))
                continue;
            struct gpx_gpu_lease *gl = &o->leases[o->n_leases++];
            snprintf(gl->id, sizeof gl->id, "%s", l->id);
            snprintf(gl->tenant, sizeof gl->tenant, "%s", l->tenant);
            gl->mode = l->mode;
            gl->memory_quota = l->memory_quota;
        }
        o->exclusive = pg.exclusive;
        o->quota_free = mig ? 0 : gpx_place_free_quota(&pg, d->oversubscription);
    }
    pthread_mutex_unlock(&d->inv_lock);
    pthread_mutex_unlock(&d->lock);
    if (rc < 0)
        gpx_node_free(out);
    return rc;
}

void gpx__inventory_refresh_locked(struct gpx_engine *d)
{
    struct gpx_inventory inv;
    memset(&inv, 0, sizeof inv);
    gpx_error e = {0};
    if (gpx_inventory_read(&d->nv, &inv, &e) < 0) {
        gpx_warn("inventory: %s (keeping the last snapshot)", e.msg);
        return;
    }
    pthread_mutex_lock(&d->inv_lock);
    struct gpx_inventory old = d->inv;
    d->inv = inv;
    pthread_mutex_unlock(&d->inv_lock);
    gpx_inventory_free(&old);
}

void gpx_engine_inventory_refresh(struct gpx_engine *d)
{
    gpx__inventory_refresh_locked(d);
}
