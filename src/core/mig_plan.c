/*
 * MIG planner (see mig_plan.h for the objective).
 *
 * A "candidate" is one (profile, placement) pair of the model, numbered so
 * that a layout is a 64-bit mask of candidates. gpx_mig_planner_new walks the
 * memory slices left to right (a slice is either skipped or the start of an
 * instance) and records every layout that respects the profiles' maximum
 * counts and the 7 compute slices: the feasible set is closed under removal,
 * so a plan only has to score it. Scoring a layout L against the current
 * instances C (mask) and leased ones D:
 *   - L must contain D;
 *   - L may add an instance of profile p only while count_p(L) <= demand_p
 *     (a superfluous new instance never helps, and a smaller L scores the same);
 *   - destroyed = C \ L (+ in EXACT mode the unleased surplus kept in L).
 * Ties on the objective go to the numerically smallest mask, so plans are
 * deterministic.
 */
#include "core/mig_plan.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CANDIDATES 64U

struct layout {
    uint64_t mask;
    uint8_t occupancy; /* memory slices used */
    uint8_t counts[GPX_MIG_MAX_PROFILES];
};

struct gpx_mig_planner {
    struct gpx_mig_model model;
    unsigned ncand;
    uint8_t cand_profile[MAX_CANDIDATES];
    uint8_t cand_start[MAX_CANDIDATES];
    uint8_t cand_slices[MAX_CANDIDATES]; /* memory-slice mask */
    uint64_t profile_mask[GPX_MIG_MAX_PROFILES];
    uint8_t free_after[256]; /* candidates still placeable beside an occupancy */
    unsigned nlayouts, cap;
    struct layout *layouts;
};

static int candidate_of(const struct gpx_mig_planner *p, unsigned profile, unsigned start)
{
    for (unsigned c = 0; c < p->ncand; c++)
        if (p->cand_profile[c] == profile && p->cand_start[c] == start)
            return (int)c;
    return -1;
}

static int push_layout(struct gpx_mig_planner *p, const struct layout *l)
{
    if (p->nlayouts == p->cap) {
        unsigned cap = p->cap ? p->cap * 2 : 1024;
        struct layout *n = realloc(p->layouts, (size_t)cap * sizeof *n);
        if (!n)
            return -1;
        p->layouts = n;
        p->cap = cap;
    }
    p->layouts[p->nlayouts++] = *l;
    return 0;
}

/* Depth-first over memory slices; `pos` is the first slice not yet decided. */
static int enumerate(struct gpx_mig_planner *p, unsigned pos, struct layout *cur, unsigned compute)
{
    if (pos >= GPX_MIG_MEMORY_SLICES)
        return push_layout(p, cur);
    if (enumerate(p, pos + 1, cur, compute) < 0)
        return -1;
    for (unsigned c = 0; c < p->ncand; c++) {
        if (p->cand_start[c] != pos)
            continue;
        const struct gpx_mig_gi_profile *g = &p->model.profiles[p->cand_profile[c]];
        if ((cur->occupancy & p->cand_slices[c]) ||
            cur->counts[p->cand_profile[c]] >= g->max_count ||
            compute + g->compute_slices > GPX_MIG_COMPUTE_SLICES)
            continue;
        struct layout next = *cur;
        next.mask |= 1ULL << c;
        next.occupancy |= p->cand_slices[c];
        next.counts[p->cand_profile[c]]++;
        if (enumerate(p, pos + g->memory_slices, &next, compute + g->compute_slices) < 0)
            return -1;
    }
    return 0;
}

int gpx_mig_planner_new(const struct gpx_mig_model *m, struct gpx_mig_planner **out, gpx_error *err)
{
    *out = NULL;
    if (!m || m->profile_count == 0 || m->profile_count > GPX_MIG_MAX_PROFILES)
        return gpx_error_set(err, GPX_E_INVALID, "MIG planner: no profile table");
    struct gpx_mig_planner *p = calloc(1, sizeof *p);
    if (!p)
        return gpx_error_set(err, GPX_E_NOMEM, "MIG planner");
    p->model = *m;
    for (unsigned i = 0; i < m->profile_count; i++) {
        const struct gpx_mig_gi_profile *g = &m->profiles[i];
        for (unsigned k = 0; k < g->placement_count; k++) {
            const struct gpx_mig_placement *pl = &g->placements[k];
            if (pl->size != g->memory_slices || pl->size == 0 ||
                pl->start + pl->size > GPX_MIG_MEMORY_SLICES || p->ncand >= MAX_CANDIDATES) {
                gpx_mig_planner_free(p);
                return gpx_error_set(err, GPX_E_INVALID,
                                     "MIG profile %s of %s: placement %u:%u does not fit 8 "
                                     "memory slices of %u",
                                     g->name, m->spec_name, pl->start, pl->size, g->memory_slices);
            }
            p->cand_profile[p->ncand] = (uint8_t)i;
            p->cand_start[p->ncand] = pl->start;
            p->cand_slices[p->ncand] = (uint8_t)gpx_mig_slice_mask(pl->start, pl->size);
            p->profile_mask[i] |= 1ULL << p->ncand;
            p->ncand++;
        }
    }
    for (unsigned occ = 0; occ < 256; occ++) {
        unsigned n = 0;
        for (unsigned c = 0; c < p->ncand; c++)
            n += (p->cand_slices[c] & occ) == 0;
        p->free_after[occ] = (uint8_t)n;
    }
    struct layout empty = {0};
    if (enumerate(p, 0, &empty, 0) < 0) {
        gpx_mig_planner_free(p);
        return gpx_error_set(err, GPX_E_NOMEM, "MIG planner: layouts of %s", m->spec_name);
    }
    *out = p;
    return 0;
}

void gpx_mig_planner_free(struct gpx_mig_planner *p)
{
    if (!p)
        return;
    free(p->layouts);
    free(p);
}

const struct gpx_mig_model *gpx_mig_planner_model(const struct gpx_mig_planner *p)
{
    return &p->model;
}

unsigned gpx_mig_planner_layouts(const struct gpx_mig_planner *p)
{
    return p->nlayouts;
}

int gpx_mig_layout_check(const struct gpx_mig_model *m, const struct gpx_mig_instance *inst,
                         unsigned n, gpx_error *err)
{
    unsigned occ = 0, compute = 0, counts[GPX_MIG_MAX_PROFILES] = {0};
    if (n > GPX_MIG_MAX_INSTANCES)
        return gpx_error_set(err, GPX_E_INVALID, "%u MIG instances: a GPU holds at most %u", n,
                             GPX_MIG_MAX_INSTANCES);
    for (unsigned i = 0; i < n; i++) {
        if (inst[i].profile >= m->profile_count)
            return gpx_error_set(err, GPX_E_INVALID, "MIG instance %u: no profile #%u on %s", i,
                                 inst[i].profile, m->spec_name);
        const struct gpx_mig_gi_profile *g = &m->profiles[inst[i].profile];
        if (gpx_mig_placement_find(g, inst[i].start) < 0) {
            char starts[64] = "";
            size_t used = 0;
            for (unsigned k = 0; k < g->placement_count && used < sizeof starts; k++)
                used += (size_t)snprintf(starts + used, sizeof starts - used, "%s%u", k ? "," : "",
                                         g->placements[k].start);
            return gpx_error_set(err, GPX_E_INVALID,
                                 "%s cannot start at memory slice %u on %s (valid starts: %s)",
                                 g->name, inst[i].start, m->spec_name, starts);
        }
        if (g->memory_slices == 0 || inst[i].start + g->memory_slices > GPX_MIG_MEMORY_SLICES)
            return gpx_error_set(err, GPX_E_INVALID, "%s at %u:%u does not fit %u memory slices",
                                 g->name, inst[i].start, g->memory_slices, GPX_MIG_MEMORY_SLICES);
        unsigned mask = gpx_mig_slice_mask(inst[i].start, g->memory_slices);
        if (occ & mask)
            return gpx_error_set(err, GPX_E_INVALID, "%s at %u:%u overlaps another MIG instance",
                                 g->name, inst[i].start, g->memory_slices);
        occ |= mask;
        compute += g->compute_slices;
        if (++counts[inst[i].profile] > g->max_count)
            return gpx_error_set(err, GPX_E_INVALID, "more than %u instances of %s on %s",
                                 g->max_count, g->name, m->spec_name);
    }
    if (compute > GPX_MIG_COMPUTE_SLICES)
        return gpx_error_set(err, GPX_E_INVALID, "MIG instances use %u compute slices of %u",
                             compute, GPX_MIG_COMPUTE_SLICES);
    return 0;
}

struct score {
    unsigned sat, sat_slices, destroyed, destroyed_slices, free_after;
    uint64_t mask;
};

/* > 0 when a is better than b. */
static int better(const struct score *a, const struct score *b)
{
    if (a->sat != b->sat)
        return a->sat > b->sat;
    if (a->sat_slices != b->sat_slices)
        return a->sat_slices > b->sat_slices;
    if (a->destroyed != b->destroyed)
        return a->destroyed < b->destroyed;
    if (a->destroyed_slices != b->destroyed_slices)
        return a->destroyed_slices < b->destroyed_slices;
    if (a->free_after != b->free_after)
        return a->free_after > b->free_after;
    return a->mask < b->mask;
}

static unsigned popcount64(uint64_t x)
{
    return (unsigned)__builtin_popcountll(x);
}

int gpx_mig_plan(const struct gpx_mig_planner *p, const struct gpx_mig_instance *cur, unsigned ncur,
                 const unsigned demand[GPX_MIG_MAX_PROFILES], unsigned flags,
                 struct gpx_mig_plan *out, gpx_error *err)
{
    const struct gpx_mig_model *m = &p->model;
    memset(out, 0, sizeof *out);
    if (gpx_mig_layout_check(m, cur, ncur, err) < 0)
        return gpx_error_wrap(err, "current MIG layout");

    uint64_t cmask = 0, lmask = 0;
    int cand_cur[MAX_CANDIDATES];
    for (unsigned c = 0; c < MAX_CANDIDATES; c++)
        cand_cur[c] = -1;
    for (unsigned i = 0; i < ncur; i++) {
        int c = candidate_of(p, cur[i].profile, cur[i].start);
        cmask |= 1ULL << c;
        if (cur[i].leased)
            lmask |= 1ULL << c;
        cand_cur[c] = (int)i;
    }
    unsigned d[GPX_MIG_MAX_PROFILES] = {0}, leased_n[GPX_MIG_MAX_PROFILES] = {0};
    uint64_t cur_by_profile = 0; /* profiles that have current instances */
    for (unsigned i = 0; i < m->profile_count; i++) {
        d[i] = demand ? demand[i] : 0;
        out->demanded += d[i];
        leased_n[i] = popcount64(lmask & p->profile_mask[i]);
        if (cmask & p->profile_mask[i])
            cur_by_profile |= 1ULL << i;
    }
    const int exact = (flags & GPX_MIG_PLAN_EXACT) != 0;

    struct score best = {0};
    int found = 0;
    for (unsigned li = 0; li < p->nlayouts; li++) {
        const struct layout *l = &p->layouts[li];
        if ((l->mask & lmask) != lmask)
            continue;
        uint64_t kept = l->mask & cmask;
        struct score s = {0};
        int ok = 1;
        for (unsigned i = 0; i < m->profile_count; i++) {
            unsigned total = l->counts[i];
            unsigned k = (cur_by_profile >> i & 1) ? popcount64(kept & p->profile_mask[i]) : 0;
            if (total > k && total > d[i]) {
                ok = 0; /* a new instance beyond the demand */
                break;
            }
            unsigned got = total < d[i] ? total : d[i];
            s.sat += got;
            s.sat_slices += got * m->profiles[i].compute_slices;
            if (exact && k > d[i] && k > leased_n[i]) {
                unsigned keep = d[i] > leased_n[i] ? d[i] : leased_n[i];
                s.destroyed += k - keep;
                s.destroyed_slices += (k - keep) * m->profiles[i].compute_slices;
            }
        }
        if (!ok)
            continue;
        uint64_t gone = cmask & ~l->mask;
        s.destroyed += popcount64(gone);
        for (uint64_t g = gone; g; g &= g - 1)
            s.destroyed_slices += m->profiles[p->cand_profile[__builtin_ctzll(g)]].compute_slices;
        s.free_after = p->free_after[l->occupancy];
        s.mask = l->mask;
        if (!found || better(&s, &best)) {
            best = s;
            found = 1;
        }
    }
    if (!found) /* cannot happen: the current layout itself is feasible */
        return gpx_error_set(err, GPX_E_INTERNAL, "MIG planner found no layout for %s",
                             m->spec_name);

    /* In EXACT mode drop the unleased surplus, highest starts first. */
    uint64_t result = best.mask;
    if (exact) {
        for (unsigned i = 0; i < m->profile_count; i++) {
            unsigned k = popcount64(result & cmask & p->profile_mask[i]);
            unsigned keep = d[i] > leased_n[i] ? d[i] : leased_n[i];
            for (int c = (int)p->ncand - 1; c >= 0 && k > keep; c--) {
                uint64_t bit = 1ULL << c;
                if ((result & cmask & p->profile_mask[i] & bit) && !(lmask & bit)) {
                    result &= ~bit;
                    k--;
                }
            }
        }
    }

    /* Candidates are numbered by profile then start; report by start. */
    for (unsigned slice = 0; slice < GPX_MIG_MEMORY_SLICES; slice++) {
        for (unsigned c = 0; c < p->ncand; c++) {
            if (p->cand_start[c] != slice)
                continue;
            uint64_t bit = 1ULL << c;
            if (result & bit) {
                struct gpx_mig_plan_item *it = &out->items[out->count++];
                it->profile = p->cand_profile[c];
                it->start = p->cand_start[c];
                it->current = (int8_t)cand_cur[c];
                it->leased = (lmask & bit) != 0;
                if (cand_cur[c] < 0)
                    out->create_count++;
            } else if (cmask & bit) {
                out->destroy[out->destroy_count++] = (uint8_t)cand_cur[c];
            }
        }
    }
    unsigned counts[GPX_MIG_MAX_PROFILES] = {0};
    for (unsigned i = 0; i < out->count; i++)
        counts[out->items[i].profile]++;
    for (unsigned i = 0; i < m->profile_count; i++) {
        unsigned got = counts[i] < d[i] ? counts[i] : d[i];
        out->satisfied += got;
        out->satisfied_slices += got * m->profiles[i].compute_slices;
        out->unmet[i] = d[i] - got;
    }
    return 0;
}

int gpx_mig_available(const struct gpx_mig_planner *p, const struct gpx_mig_instance *cur,
                      unsigned ncur, unsigned out[GPX_MIG_MAX_PROFILES], gpx_error *err)
{
    memset(out, 0, GPX_MIG_MAX_PROFILES * sizeof out[0]);
    for (unsigned i = 0; i < p->model.profile_count; i++) {
        unsigned demand[GPX_MIG_MAX_PROFILES] = {0}, leased = 0;
        demand[i] = p->model.profiles[i].max_count;
        for (unsigned k = 0; k < ncur; k++)
            leased += cur[k].profile == i && cur[k].leased;
        struct gpx_mig_plan pl;
        if (gpx_mig_plan(p, cur, ncur, demand, 0, &pl, err) < 0)
            return -1;
        out[i] = pl.satisfied > leased ? pl.satisfied - leased : 0;
    }
    return 0;
}

int gpx_mig_demand_parse(const struct gpx_mig_model *m, const char *spec,
                         unsigned demand[GPX_MIG_MAX_PROFILES], gpx_error *err)
{
    memset(demand, 0, GPX_MIG_MAX_PROFILES * sizeof demand[0]);
    if (!spec || !*spec)
        return gpx_error_set(err, GPX_E_INVALID, "empty MIG demand (example: 3g.40gb=1,1g.10gb=4)");
    const char *s = spec;
    while (*s) {
        while (isspace((unsigned char)*s) || *s == ',')
            s++;
        if (!*s)
            break;
        const char *name = s;
        while (*s && *s != '=' && *s != ',')
            s++;
        char buf[GPX_MIG_NAME_MAX + 8];
        size_t n = (size_t)(s - name);
        if (n >= sizeof buf)
            return gpx_error_set(err, GPX_E_INVALID, "MIG profile name too long in '%s'", spec);
        memcpy(buf, name, n);
        buf[n] = '\0';
        int prof = gpx_mig_profile_parse(m, buf, err);
        if (prof < 0)
            return -1;
        unsigned long count = 1;
        if (*s == '=') {
            s++;
            while (isspace((unsigned char)*s))
                s++;
            if (!isdigit((unsigned char)*s))
                return gpx_error_set(err, GPX_E_INVALID,
                                     "bad count for %s in '%s' (expected PROFILE=N)",
                                     m->profiles[prof].name, spec);
            char *end;
            errno = 0;
            count = strtoul(s, &end, 10);
            if (errno || count > 64)
                return gpx_error_set(err, GPX_E_INVALID, "count for %s in '%s' must be 0..64",
                                     m->profiles[prof].name, spec);
            s = end;
            while (isspace((unsigned char)*s))
                s++;
            if (*s && *s != ',')
                return gpx_error_set(err, GPX_E_INVALID,
                                     "unexpected '%c' after the count of %s in '%s'", *s,
                                     m->profiles[prof].name, spec);
        }
        if (demand[prof] + count > 64)
            return gpx_error_set(err, GPX_E_INVALID, "count for %s in '%s' must be 0..64",
                                 m->profiles[prof].name, spec);
        demand[prof] += (unsigned)count;
    }
    return 0;
}
