/*
 * MIG JSON (see mig_json.h). Keys and their order are a contract with
 * scripts that read `gpuplex mig ... --json` and the API: add, never rename.
 * Figures the driver does not give are null, never a made-up 0.
 */
#include "nvml/mig_json.h"

#include <stdio.h>

static const char *mode_name(unsigned mode)
{
    return mode == NVML_DEVICE_MIG_ENABLE ? "enabled" : "disabled";
}

static json_t *placement_json(unsigned start, unsigned size)
{
    json_t *o = json_object();
    json_object_set_new(o, "start", json_integer(start));
    json_object_set_new(o, "size", json_integer(size));
    return o;
}

const char *gpx_mig_action_name(enum gpx_mig_action_kind k)
{
    switch (k) {
    case GPX_MIG_ACT_ENABLE:
        return "enable";
    case GPX_MIG_ACT_DISABLE:
        return "disable";
    case GPX_MIG_ACT_DESTROY:
        return "destroy";
    case GPX_MIG_ACT_CREATE:
        return "create";
    case GPX_MIG_ACT_CREATE_CI:
        return "create_ci";
    }
    return "?";
}

json_t *gpx_mig_state_json(const struct gpx_mig_gpu_state *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "index", json_integer(s->index));
    json_object_set_new(o, "name", json_string(s->name));
    json_object_set_new(o, "uuid", json_string(s->uuid));
    const struct gpx_mig_model *cat =
        s->model >= 0 ? gpx_mig_model_get((enum gpx_mig_model_id)s->model) : NULL;
    json_object_set_new(o, "model", cat ? json_string(cat->spec_name) : json_null());
    char pci[16];
    snprintf(pci, sizeof pci, "0x%08X", s->pci_device_id);
    json_object_set_new(o, "pci_device_id", s->pci_device_id ? json_string(pci) : json_null());
    json_object_set_new(o, "mig_supported", json_boolean(s->supported));
    json_object_set_new(o, "mig_mode",
                        s->supported ? json_string(mode_name(s->mode_current)) : json_null());
    json_object_set_new(o, "mig_mode_pending",
                        s->supported ? json_string(mode_name(s->mode_pending)) : json_null());
    json_object_set_new(o, "catalog_differences", json_integer(s->differences));
    json_object_set_new(o, "processes", json_integer(s->nprocs));
    json_t *insts = json_array();
    for (unsigned i = 0; i < s->ngi; i++) {
        const struct gpx_mig_gi_state *g = &s->gi[i];
        const struct gpx_mig_gi_profile *p =
            g->profile >= 0 ? &s->table.profiles[g->profile] : NULL;
        json_t *gi = json_object();
        json_object_set_new(gi, "gpu_instance_id", json_integer(g->id));
        json_object_set_new(gi, "profile", p ? json_string(p->name) : json_null());
        json_object_set_new(gi, "profile_id", json_integer(g->profile_id));
        json_object_set_new(gi, "start", json_integer(g->start));
        json_object_set_new(gi, "size", json_integer(g->size));
        json_object_set_new(gi, "memory_mib", p ? json_integer(p->memory_mib) : json_null());
        json_object_set_new(gi, "sm_count", p ? json_integer(p->sm_count) : json_null());
        /* NVML's figures for the instance's MIG device (monitors: dmon, top); null unread */
        json_object_set_new(gi, "memory_total_bytes",
                            g->memory_known ? json_integer((json_int_t)g->memory_total)
                                            : json_null());
        json_object_set_new(gi, "memory_used_bytes",
                            g->memory_known ? json_integer((json_int_t)g->memory_used)
                                            : json_null());
        json_object_set_new(gi, "processes", json_integer(g->procs));
        json_object_set_new(gi, "uuid",
                            g->nci && g->ci[0].uuid[0] ? json_string(g->ci[0].uuid) : json_null());
        json_t *cis = json_array();
        for (unsigned c = 0; c < g->nci; c++) {
            json_t *ci = json_object();
            json_object_set_new(ci, "compute_instance_id", json_integer(g->ci[c].id));
            json_object_set_new(ci, "profile_id", json_integer(g->ci[c].profile_id));
            json_object_set_new(ci, "start", json_integer(g->ci[c].start));
            json_object_set_new(ci, "size", json_integer(g->ci[c].size));
            json_object_set_new(ci, "uuid",
                                g->ci[c].uuid[0] ? json_string(g->ci[c].uuid) : json_null());
            json_array_append_new(cis, ci);
        }
        json_object_set_new(gi, "compute_instances", cis);
        json_array_append_new(insts, gi);
    }
    json_object_set_new(o, "instances", insts);
    json_t *profs = json_array();
    for (unsigned i = 0; s->supported && i < s->table.profile_count; i++) {
        const struct gpx_mig_gi_profile *p = &s->table.profiles[i];
        json_t *j = json_object();
        json_object_set_new(j, "name", json_string(p->name));
        json_object_set_new(j, "id", json_integer(p->id));
        json_object_set_new(j, "nvml_index", json_integer(p->index));
        json_object_set_new(j, "compute_slices", json_integer(p->compute_slices));
        json_object_set_new(j, "memory_slices", json_integer(p->memory_slices));
        json_object_set_new(j, "memory_mib", json_integer(p->memory_mib));
        json_object_set_new(j, "sm_count", json_integer(p->sm_count));
        json_object_set_new(j, "max_count", json_integer(p->max_count));
        json_object_set_new(j, "free",
                            s->mode_current == NVML_DEVICE_MIG_ENABLE ? json_integer(s->free[i])
                                                                      : json_null());
        json_t *pls = json_array();
        for (unsigned k = 0; k < p->placement_count; k++)
            json_array_append_new(pls,
                                  placement_json(p->placements[k].start, p->placements[k].size));
        json_object_set_new(j, "placements", pls);
        json_array_append_new(profs, j);
    }
    json_object_set_new(o, "profiles", profs);
    return o;
}

static json_t *counts_json(const struct gpx_mig_model *t, const unsigned *d)
{
    json_t *o = json_object();
    for (unsigned i = 0; i < t->profile_count; i++)
        if (d[i])
            json_object_set_new(o, t->profiles[i].name, json_integer(d[i]));
    return o;
}

json_t *gpx_mig_plan_json(const struct gpx_mig_model *t, const struct gpx_mig_instance *cur,
                          const unsigned *demand, const struct gpx_mig_plan *pl)
{
    json_t *o = json_object();
    json_object_set_new(o, "model", json_string(t->spec_name));
    json_object_set_new(o, "demand", counts_json(t, demand));
    json_t *insts = json_array();
    for (unsigned i = 0; i < pl->count; i++) {
        const struct gpx_mig_plan_item *it = &pl->items[i];
        json_t *j = json_object();
        json_object_set_new(j, "profile", json_string(t->profiles[it->profile].name));
        json_object_set_new(j, "start", json_integer(it->start));
        json_object_set_new(j, "size", json_integer(t->profiles[it->profile].memory_slices));
        json_object_set_new(j, "action", json_string(it->current < 0 ? "create" : "keep"));
        json_object_set_new(j, "leased", json_boolean(it->leased));
        json_array_append_new(insts, j);
    }
    json_object_set_new(o, "instances", insts);
    json_t *destroy = json_array();
    for (unsigned i = 0; i < pl->destroy_count; i++) {
        const struct gpx_mig_instance *c = &cur[pl->destroy[i]];
        json_t *j = json_object();
        json_object_set_new(j, "profile", json_string(t->profiles[c->profile].name));
        json_object_set_new(j, "start", json_integer(c->start));
        json_object_set_new(j, "size", json_integer(t->profiles[c->profile].memory_slices));
        json_array_append_new(destroy, j);
    }
    json_object_set_new(o, "destroy", destroy);
    json_object_set_new(o, "unmet", counts_json(t, pl->unmet));
    json_object_set_new(o, "demanded", json_integer(pl->demanded));
    json_object_set_new(o, "satisfied", json_integer(pl->satisfied));
    return o;
}

json_t *gpx_mig_actions_json(const struct gpx_mig_gpu_state *s,
                             const struct gpx_mig_apply_result *res)
{
    json_t *arr = json_array();
    for (unsigned i = 0; i < res->n; i++) {
        const struct gpx_mig_action *a = &res->actions[i];
        json_t *o = json_object();
        json_object_set_new(o, "action", json_string(gpx_mig_action_name(a->kind)));
        if (a->profile >= 0) {
            json_object_set_new(o, "profile", json_string(s->table.profiles[a->profile].name));
            json_object_set_new(o, "start", json_integer(a->start));
            json_object_set_new(o, "size", json_integer(a->size));
        }
        /* a destroyed or completed instance's id is known beforehand, a new one's once made */
        if ((a->done && a->kind == GPX_MIG_ACT_CREATE) || a->kind == GPX_MIG_ACT_DESTROY ||
            a->kind == GPX_MIG_ACT_CREATE_CI)
            json_object_set_new(o, "gpu_instance_id", json_integer(a->gi_id));
        if (a->done && (a->kind == GPX_MIG_ACT_CREATE || a->kind == GPX_MIG_ACT_CREATE_CI)) {
            json_object_set_new(o, "compute_instance_id", json_integer(a->ci_id));
            json_object_set_new(o, "uuid", a->uuid[0] ? json_string(a->uuid) : json_null());
        }
        json_object_set_new(o, "done", json_boolean(a->done));
        json_array_append_new(arr, o);
    }
    return arr;
}

json_t *gpx_mig_demand_json(const struct gpx_mig_gpu_state *s, const unsigned *demand,
                            const struct gpx_mig_demand_result *r, int dry_run)
{
    json_t *j = json_object();
    json_object_set_new(j, "index", json_integer(s->index));
    const struct gpx_mig_model *cat =
        s->model >= 0 ? gpx_mig_model_get((enum gpx_mig_model_id)s->model) : NULL;
    json_object_set_new(j, "model", cat ? json_string(cat->spec_name) : json_null());
    json_object_set_new(j, "dry_run", json_boolean(dry_run));
    json_object_set_new(j, "actions", gpx_mig_actions_json(s, &r->res));
    if (r->planned)
        json_object_set_new(j, "plan", gpx_mig_plan_json(&s->table, r->cur, demand, &r->plan));
    return j;
}
