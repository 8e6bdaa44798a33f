/*
 * MIG planner against a brute force. The oracle enumerates every layout of a
 * model a different way from the planner (include/exclude each (profile,
 * placement) pair, checking overlap by intervals) and scores each result
 * layout straight from the definitions in mig_plan.h. For every demand
 * multiset that fits each model (and one more instance than fits), on an
 * empty GPU, and for random demands on random current layouts with random
 * leases, in both modes, the planner's result must be valid and score what
 * the oracle's best scores.
 */
#include "core/mig_plan.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct olayout {
    unsigned n;
    struct {
        uint8_t profile, start;
    } inst[GPX_MIG_MAX_INSTANCES];
    uint8_t counts[GPX_MIG_MAX_PROFILES];
};

static struct olayout *oracle;
static unsigned noracle, cap_oracle;

static int overlaps(unsigned s1, unsigned z1, unsigned s2, unsigned z2)
{
    return s1 < s2 + z2 && s2 < s1 + z1;
}

static void orec(const struct gpx_mig_model *m, unsigned p, unsigned k, struct olayout *cur,
                 unsigned compute)
{
    if (p == m->profile_count) {
        if (noracle == cap_oracle) {
            cap_oracle = cap_oracle ? 2 * cap_oracle : 4096;
            oracle = realloc(oracle, cap_oracle * sizeof *oracle);
            assert_non_null(oracle);
        }
        oracle[noracle++] = *cur;
        return;
    }
    const struct gpx_mig_gi_profile *g = &m->profiles[p];
    unsigned np = k + 1 < g->placement_count ? p : p + 1;
    unsigned nk = k + 1 < g->placement_count ? k + 1 : 0;
    if (g->placement_count == 0) {
        orec(m, p + 1, 0, cur, compute);
        return;
    }
    orec(m, np, nk, cur, compute); /* without (p, k) */
    unsigned start = g->placements[k].start, size = g->placements[k].size;
    for (unsigned i = 0; i < cur->n; i++) {
        const struct gpx_mig_gi_profile *o = &m->profiles[cur->inst[i].profile];
        if (overlaps(start, size, cur->inst[i].start, o->memory_slices))
            return;
    }
    if (cur->counts[p] >= g->max_count || compute + g->compute_slices > 7)
        return;
    struct olayout next = *cur;
    next.inst[next.n].profile = (uint8_t)p;
    next.inst[next.n].start = (uint8_t)start;
    next.n++;
    next.counts[p]++;
    orec(m, np, nk, &next, compute + g->compute_slices);
}

static void oracle_build(const struct gpx_mig_model *m)
{
    noracle = 0;
    struct olayout empty = {0};
    orec(m, 0, 0, &empty, 0);
}

struct oscore {
    unsigned sat, slices, destroyed, destroyed_slices;
};

static int in_layout(const struct olayout *l, unsigned profile, unsigned start)
{
    for (unsigned i = 0; i < l->n; i++)
        if (l->inst[i].profile == profile && l->inst[i].start == start)
            return 1;
    return 0;
}

/* Best score over all layouts R, straight from the definitions. */
static struct oscore oracle_best(const struct gpx_mig_model *m, const struct gpx_mig_instance *cur,
                                 unsigned ncur, const unsigned *d, int exact)
{
    struct oscore best = {0};
    int found = 0;
    unsigned leased_n[GPX_MIG_MAX_PROFILES] = {0};
    for (unsigned i = 0; i < ncur; i++)
        leased_n[cur[i].profile] += cur[i].leased;
    for (unsigned li = 0; li < noracle; li++) {
        const struct olayout *l = &oracle[li];
        int ok = 1;
        unsigned kept[GPX_MIG_MAX_PROFILES] = {0};
        struct oscore s = {0};
        for (unsigned i = 0; i < ncur && ok; i++) {
            if (in_layout(l, cur[i].profile, cur[i].start)) {
                kept[cur[i].profile]++;
            } else if (cur[i].leased) {
                ok = 0;
            } else {
                s.destroyed++;
                s.destroyed_slices += m->profiles[cur[i].profile].compute_slices;
            }
        }
        for (unsigned p = 0; p < m->profile_count && ok; p++) {
            unsigned c = l->counts[p];
            if (c > kept[p] && c > d[p])
                ok = 0; /* a new instance nobody asked for */
            unsigned keep = d[p] > leased_n[p] ? d[p] : leased_n[p];
            if (exact && c > keep)
                ok = 0; /* EXACT: no unleased surplus */
            unsigned got = c < d[p] ? c : d[p];
            s.sat += got;
            s.slices += got * m->profiles[p].compute_slices;
        }
        if (!ok)
            continue;
        if (!found || s.sat > best.sat || (s.sat == best.sat && s.slices > best.slices) ||
            (s.sat == best.sat && s.slices == best.slices && s.destroyed < best.destroyed) ||
            (s.sat == best.sat && s.slices == best.slices && s.destroyed == best.destroyed &&
             s.destroyed_slices < best.destroyed_slices))
            best = s;
        found = 1;
    }
    assert_true(found);
    return best;
}

/* The plan is a valid layout that keeps the leased instances and says what it scores. */
static struct oscore check_plan(const struct gpx_mig_model *m, const struct gpx_mig_instance *cur,
                                unsigned ncur, const unsigned *d, int exact,
                                const struct gpx_mig_plan *pl)
{
    struct gpx_mig_instance res[GPX_MIG_MAX_INSTANCES];
    unsigned counts[GPX_MIG_MAX_PROFILES] = {0};
    gpx_error err;
    assert_true(pl->count <= GPX_MIG_MAX_INSTANCES);
    for (unsigned i = 0; i < pl->count; i++) {
        res[i].profile = pl->items[i].profile;
        res[i].start = pl->items[i].start;
        res[i].leased = pl->items[i].leased;
        counts[res[i].profile]++;
        if (pl->items[i].current >= 0) {
            assert_true((unsigned)pl->items[i].current < ncur);
            assert_int_equal(cur[pl->items[i].current].profile, res[i].profile);
            assert_int_equal(cur[pl->items[i].current].start, res[i].start);
        }
        for (unsigned j = 0; j < i; j++)
            assert_false(overlaps(res[i].start, m->profiles[res[i].profile].memory_slices,
                                  res[j].start, m->profiles[res[j].profile].memory_slices));
    }
    assert_int_equal(gpx_mig_layout_check(m, res, pl->count, &err), 0);
    struct oscore s = {0};
    unsigned destroyed_seen = 0;
    for (unsigned i = 0; i < ncur; i++) {
        int kept = 0;
        for (unsigned k = 0; k < pl->count; k++)
            kept |= pl->items[k].current == (int)i;
        int listed = 0;
        for (unsigned k = 0; k < pl->destroy_count; k++)
            listed |= pl->destroy[k] == i;
        assert_true(kept != listed); /* every current instance is kept xor destroyed */
        if (cur[i].leased)
            assert_true(kept);
        if (listed) {
            destroyed_seen++;
            s.destroyed_slices += m->profiles[cur[i].profile].compute_slices;
        }
    }
    assert_int_equal(destroyed_seen, pl->destroy_count);
    s.destroyed = pl->destroy_count;
    unsigned demanded = 0;
    for (unsigned p = 0; p < m->profile_count; p++) {
        unsigned got = counts[p] < d[p] ? counts[p] : d[p];
        s.sat += got;
        s.slices += got * m->profiles[p].compute_slices;
        demanded += d[p];
        assert_int_equal(pl->unmet[p], d[p] - got);
        if (exact) {
            unsigned leased_n = 0;
            for (unsigned i = 0; i < pl->count; i++)
                leased_n += pl->items[i].leased && pl->items[i].profile == p;
            assert_true(counts[p] <= (d[p] > leased_n ? d[p] : leased_n));
        }
    }
    assert_int_equal(s.sat, pl->satisfied);
    assert_int_equal(s.slices, pl->satisfied_slices);
    assert_int_equal(demanded, pl->demanded);
    return s;
}

static unsigned long long rng_state = 0x243f6a8885a308d3ULL;
static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

static void compare(const struct gpx_mig_planner *pl, const struct gpx_mig_instance *cur,
                    unsigned ncur, const unsigned *d, int exact, unsigned *checked)
{
    const struct gpx_mig_model *m = gpx_mig_planner_model(pl);
    struct gpx_mig_plan plan;
    gpx_error err;
    assert_int_equal(gpx_mig_plan(pl, cur, ncur, d, exact ? GPX_MIG_PLAN_EXACT : 0, &plan, &err),
                     0);
    struct oscore got = check_plan(m, cur, ncur, d, exact, &plan);
    struct oscore want = oracle_best(m, cur, ncur, d, exact);
    if (got.sat != want.sat || got.slices != want.slices || got.destroyed != want.destroyed ||
        got.destroyed_slices != want.destroyed_slices) {
        fprintf(stderr, "%s exact=%d demand", m->spec_name, exact);
        for (unsigned p = 0; p < m->profile_count; p++)
            fprintf(stderr, " %s=%u", m->profiles[p].name, d[p]);
        fprintf(stderr, " current");
        for (unsigned i = 0; i < ncur; i++)
            fprintf(stderr, " %s@%u%s", m->profiles[cur[i].profile].name, cur[i].start,
                    cur[i].leased ? "(L)" : "");
        fprintf(stderr, ": planner %u/%u/%u/%u oracle %u/%u/%u/%u\n", got.sat, got.slices,
                got.destroyed, got.destroyed_slices, want.sat, want.slices, want.destroyed,
                want.destroyed_slices);
        fail();
    }
    (*checked)++;
}

static void test_vs_brute_force(void **state)
{
    (void)state;
    unsigned checked = 0;
    for (int mi = 0; mi < GPX_MIG_MODEL_COUNT; mi++) {
        const struct gpx_mig_model *m = gpx_mig_model_get((enum gpx_mig_model_id)mi);
        struct gpx_mig_planner *pl;
        gpx_error err;
        assert_int_equal(gpx_mig_planner_new(m, &pl, &err), 0);
        oracle_build(m);
        /* both enumerations find the same number of feasible layouts */
        assert_int_equal(noracle, gpx_mig_planner_layouts(pl));

        /* every demand multiset that fits the model: the count vectors of its layouts */
        unsigned nd = 0;
        uint8_t(*dv)[GPX_MIG_MAX_PROFILES] = calloc(noracle, GPX_MIG_MAX_PROFILES);
        assert_non_null(dv);
        for (unsigned li = 0; li < noracle; li++) {
            unsigned k;
            for (k = 0; k < nd; k++)
                if (!memcmp(dv[k], oracle[li].counts, GPX_MIG_MAX_PROFILES))
                    break;
            if (k == nd)
                memcpy(dv[nd++], oracle[li].counts, GPX_MIG_MAX_PROFILES);
        }
        assert_true(nd > 100);
        for (unsigned k = 0; k < nd; k++) {
            unsigned d[GPX_MIG_MAX_PROFILES] = {0};
            for (unsigned p = 0; p < m->profile_count; p++)
                d[p] = dv[k][p];
            for (int exact = 0; exact < 2; exact++) {
                compare(pl, NULL, 0, d, exact, &checked);
                struct gpx_mig_plan plan;
                assert_int_equal(gpx_mig_plan(pl, NULL, 0, d, exact, &plan, &err), 0);
                assert_int_equal(plan.satisfied, plan.demanded); /* it fits: all of it */
            }
            /* one more than fits (at least, usually) */
            d[k % m->profile_count]++;
            compare(pl, NULL, 0, d, 0, &checked);
            compare(pl, NULL, 0, d, 1, &checked);
        }

        /* random demands against random current layouts with random leases */
        for (unsigned round = 0; round < 1000; round++) {
            const struct olayout *l = &oracle[rnd(noracle)];
            struct gpx_mig_instance cur[GPX_MIG_MAX_INSTANCES];
            for (unsigned i = 0; i < l->n; i++) {
                cur[i].profile = l->inst[i].profile;
                cur[i].start = l->inst[i].start;
                cur[i].leased = rnd(3) == 0;
            }
            unsigned d[GPX_MIG_MAX_PROFILES] = {0};
            if (rnd(2)) {
                for (unsigned p = 0; p < m->profile_count; p++)
                    d[p] = dv[rnd(nd)][p];
            } else {
                for (unsigned p = 0; p < m->profile_count; p++)
                    d[p] = rnd(4) == 0 ? rnd(4) : 0;
            }
            compare(pl, cur, l->n, d, (int)(round & 1), &checked);
        }
        free(dv);
        gpx_mig_planner_free(pl);
    }
    free(oracle);
    oracle = NULL;
    cap_oracle = 0;
    noracle = 0;
    assert_true(checked > 2000);
}

static const struct gpx_mig_model *model(enum gpx_mig_model_id id)
{
    return gpx_mig_model_get(id);
}

static int prof(const struct gpx_mig_model *m, const char *name)
{
    int p = gpx_mig_profile_find(m, name);
    assert_true(p >= 0);
    return p;
}

/* The user guide's 3-2-1-1 geometry: placements make creation order irrelevant. */
static void test_quirk_geometry(void **state)
{
    (void)state;
    const struct gpx_mig_model *m = model(GPX_MIG_A100_40GB);
    struct gpx_mig_planner *pl;
    gpx_error err;
    assert_int_equal(gpx_mig_planner_new(m, &pl, &err), 0);
    unsigned d[GPX_MIG_MAX_PROFILES] = {0};
    assert_int_equal(gpx_mig_demand_parse(m, "1g.5gb=2,2g.10gb=1,3g.20gb=1", d, &err), 0);
    struct gpx_mig_plan plan;
    assert_int_equal(gpx_mig_plan(pl, NULL, 0, d, 0, &plan, &err), 0);
    assert_int_equal(plan.satisfied, 4);
    assert_int_equal(plan.create_count, 4);
    /* the 3g is in one half, the 2g and both 1g share the other */
    unsigned three = 99;
    for (unsigned i = 0; i < plan.count; i++)
        if (plan.items[i].profile == prof(m, "3g.20gb"))
            three = plan.items[i].start;
    assert_true(three == 0 || three == 4);
    for (unsigned i = 0; i < plan.count; i++)
        if (plan.items[i].profile != prof(m, "3g.20gb"))
            assert_true(three == 0 ? plan.items[i].start >= 4 : plan.items[i].start < 4);
    gpx_mig_planner_free(pl);
}

static void test_leased_kept_and_unmet(void **state)
{
    (void)state;
    const struct gpx_mig_model *m = model(GPX_MIG_H100_80GB);
    struct gpx_mig_planner *pl;
    gpx_error err;
    assert_int_equal(gpx_mig_planner_new(m, &pl, &err), 0);
    /* a leased 1g.10gb at 0 blocks 7g.80gb: unmet, nothing destroyed */
    struct gpx_mig_instance cur[] = {{(uint8_t)prof(m, "1g.10gb"), 0, 1}};
    unsigned d[GPX_MIG_MAX_PROFILES] = {0};
    d[prof(m, "7g.80gb")] = 1;
    struct gpx_mig_plan plan;
    assert_int_equal(gpx_mig_plan(pl, cur, 1, d, 0, &plan, &err), 0);
    assert_int_equal(plan.satisfied, 0);
    assert_int_equal(plan.unmet[prof(m, "7g.80gb")], 1);
    assert_int_equal(plan.destroy_count, 0);
    assert_int_equal(plan.count, 1);
    /* unleased, it goes */
    cur[0].leased = 0;
    assert_int_equal(gpx_mig_plan(pl, cur, 1, d, 0, &plan, &err), 0);
    assert_int_equal(plan.satisfied, 1);
    assert_int_equal(plan.destroy_count, 1);
    /* the closest layout: 3g.40gb=3 fits twice */
    memset(d, 0, sizeof d);
    d[prof(m, "3g.40gb")] = 3;
    assert_int_equal(gpx_mig_plan(pl, NULL, 0, d, 0, &plan, &err), 0);
    assert_int_equal(plan.satisfied, 2);
    assert_int_equal(plan.unmet[prof(m, "3g.40gb")], 1);
    /* an existing instance of the demanded profile is reused, not recreated */
    struct gpx_mig_instance cur2[] = {{(uint8_t)prof(m, "3g.40gb"), 4, 0}};
    d[prof(m, "3g.40gb")] = 1;
    assert_int_equal(gpx_mig_plan(pl, cur2, 1, d, 0, &plan, &err), 0);
    assert_int_equal(plan.create_count, 0);
    assert_int_equal(plan.destroy_count, 0);
    /* EXACT drops what is not demanded; without it, it stays */
    struct gpx_mig_instance cur3[] = {{(uint8_t)prof(m, "2g.20gb"), 0, 0}};
    assert_int_equal(gpx_mig_plan(pl, cur3, 1, d, 0, &plan, &err), 0);
    assert_int_equal(plan.destroy_count, 0);
    assert_int_equal(plan.count, 2);
    assert_int_equal(gpx_mig_plan(pl, cur3, 1, d, GPX_MIG_PLAN_EXACT, &plan, &err), 0);
    assert_int_equal(plan.destroy_count, 1);
    assert_int_equal(plan.count, 1);
    gpx_mig_planner_free(pl);
}

static void test_available(void **state)
{
    (void)state;
    const struct gpx_mig_model *m = model(GPX_MIG_H100_80GB);
    struct gpx_mig_planner *pl;
    gpx_error err;
    assert_int_equal(gpx_mig_planner_new(m, &pl, &err), 0);
    unsigned av[GPX_MIG_MAX_PROFILES];
    assert_int_equal(gpx_mig_available(pl, NULL, 0, av, &err), 0);
    for (unsigned i = 0; i < m->profile_count; i++)
        assert_int_equal(av[i], m->profiles[i].max_count);
    /* a leased 3g.40gb at 0 leaves the other half; an unleased one at 4 may be replaced */
    struct gpx_mig_instance cur[] = {{(uint8_t)prof(m, "3g.40gb"), 0, 1},
                                     {(uint8_t)prof(m, "3g.40gb"), 4, 0}};
    assert_int_equal(gpx_mig_available(pl, cur, 2, av, &err), 0);
    assert_int_equal(av[prof(m, "3g.40gb")], 1);
    assert_int_equal(av[prof(m, "1g.10gb")], 3);
    assert_int_equal(av[prof(m, "1g.20gb")], 2);
    assert_int_equal(av[prof(m, "2g.20gb")], 1);
    assert_int_equal(av[prof(m, "4g.40gb")], 0);
    assert_int_equal(av[prof(m, "7g.80gb")], 0);
    cur[1].leased = 1;
    assert_int_equal(gpx_mig_available(pl, cur, 2, av, &err), 0);
    for (unsigned i = 0; i < m->profile_count; i++)
        assert_int_equal(av[i], 0);
    gpx_mig_planner_free(pl);
}

static void test_bad_input(void **state)
{
    (void)state;
    const struct gpx_mig_model *m = model(GPX_MIG_H100_80GB);
    gpx_error err;
    unsigned d[GPX_MIG_MAX_PROFILES];
    assert_int_equal(gpx_mig_demand_parse(m, "3g.20gb=1", d, &err), -1);
    assert_non_null(strstr(err.msg, "valid: 1g.10gb, 1g.10gb+me, 1g.20gb"));
    assert_int_equal(gpx_mig_demand_parse(m, "3g.40gb=x", d, &err), -1);
    assert_int_equal(gpx_mig_demand_parse(m, "3g.40gb=65", d, &err), -1);
    assert_int_equal(gpx_mig_demand_parse(m, "", d, &err), -1);
    assert_int_equal(gpx_mig_demand_parse(m, " 3g.40gb = 1 , 1g.10gb=4,1g.10gb", d, &err), 0);
    assert_int_equal(d[prof(m, "3g.40gb")], 1);
    assert_int_equal(d[prof(m, "1g.10gb")], 5);
    assert_int_equal(gpx_mig_demand_parse(m, "mig-1g.10gb.me=1", d, &err), 0);
    assert_int_equal(d[prof(m, "1g.10gb+me")], 1);

    struct gpx_mig_instance bad_start[] = {{(uint8_t)prof(m, "2g.20gb"), 6, 0}};
    assert_int_equal(gpx_mig_layout_check(m, bad_start, 1, &err), -1);
    assert_non_null(strstr(err.msg, "valid starts: 0,2,4"));
    struct gpx_mig_instance overlap[] = {{(uint8_t)prof(m, "3g.40gb"), 0, 0},
                                         {(uint8_t)prof(m, "1g.10gb"), 2, 0}};
    assert_int_equal(gpx_mig_layout_check(m, overlap, 2, &err), -1);
    struct gpx_mig_instance two_me[] = {{(uint8_t)prof(m, "1g.10gb+me"), 0, 0},
                                        {(uint8_t)prof(m, "1g.10gb+me"), 1, 0}};
    assert_int_equal(gpx_mig_layout_check(m, two_me, 2, &err), -1);
    struct gpx_mig_planner *pl;
    assert_int_equal(gpx_mig_planner_new(m, &pl, &err), 0);
    struct gpx_mig_plan plan;
    assert_int_equal(gpx_mig_plan(pl, overlap, 2, d, 0, &plan, &err), -1);
    gpx_mig_planner_free(pl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vs_brute_force),
        cmocka_unit_test(test_quirk_geometry),
        cmocka_unit_test(test_leased_kept_and_unmet),
        cmocka_unit_test(test_available),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
