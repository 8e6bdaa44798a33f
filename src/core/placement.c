/*
 * Placement: feasibility per GPU, then a score. Messages name the figure
 * that decided: the free quota on the asked-for GPU, or the largest free
 * quota anywhere, so that a refused caller knows what would fit.
 */
#include "core/placement.h"
#include "core/size.h"
#include "shm/lease.h"

#include <stdio.h>
#include <string.h>

int gpx_place_policy_parse(const char *s)
{
    if (s && strcmp(s, "binpack") == 0)
        return GPX_PLACE_BINPACK;
    if (s && strcmp(s, "spread") == 0)
        return GPX_PLACE_SPREAD;
    return -1;
}

const char *gpx_place_policy_name(enum gpx_place_policy p)
{
    return p == GPX_PLACE_SPREAD ? "spread" : "binpack";
}

static uint64_t capacity(const struct gpx_place_gpu *g, double oversub)
{
    if (oversub < 1.0)
        oversub = 1.0;
    double c = (double)g->memory_total * oversub;
    return c >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)c;
}

uint64_t gpx_place_free_quota(const struct gpx_place_gpu *g, double oversubscription)
{
    if (g->exclusive || g->unquoted)
        return 0;
    uint64_t cap = capacity(g, oversubscription);
    return g->quota_sum >= cap ? 0 : cap - g->quota_sum;
}

/* 1 if g can take req; otherwise 0 and a reason in why (when given). */
static int fits(const struct gpx_place_gpu *g, const struct gpx_place_req *req, double oversub,
                char *why, size_t len)
{
    char a[32], b[32];
    switch (req->mode) {
    case GPX_MODE_EXCLUSIVE:
        if (g->leases == 0)
            return 1;
        if (why)
            snprintf(why, len, "GPU %u has %u lease%s; an exclusive lease needs an idle GPU",
                     g->index, g->leases, g->leases == 1 ? "" : "s");
        return 0;
    case GPX_MODE_MIG:
        if (g->mig_enabled && !g->exclusive)
            return 1;
        if (why)
            snprintf(why, len, "GPU %u %s", g->index,
                     g->exclusive ? "is held by an exclusive lease"
                                  : "needs a MIG-enabled GPU: its MIG mode is disabled");
        return 0;
    default:
        if (g->exclusive) {
            if (why)
                snprintf(why, len, "GPU %u is held by an exclusive lease", g->index);
            return 0;
        }
        if (g->mig_enabled) {
            if (why)
                snprintf(why, len, "GPU %u is in MIG mode; it takes mig leases only", g->index);
            return 0;
        }
        if (!req->memory) {
            if (!g->quota_sum)
                return 1;
            if (why) {
                gpx_size_format(g->quota_sum, a, sizeof a);
                snprintf(why, len,
                         "GPU %u has leases with memory quotas (%s promised): a lease without "
                         "one could use their memory; give it a quota (--memory SIZE)",
                         g->index, a);
            }
            return 0;
        }
        uint64_t free_q = gpx_place_free_quota(g, oversub);
        if (req->memory <= free_q)
            return 1;
        if (why && g->unquoted) {
            snprintf(why, len,
                     "GPU %u has %u lease%s without a memory quota, which may use all of its "
                     "memory: it takes no memory quota until %s released",
                     g->index, g->unquoted, g->unquoted == 1 ? "" : "s",
                     g->unquoted == 1 ? "that lease is" : "they are");
        } else if (why) {
            gpx_size_format(req->memory, a, sizeof a);
            gpx_size_format(free_q, b, sizeof b);
            snprintf(why, len, "GPU %u cannot take a %s memory quota: %s is free for quotas",
                     g->index, a, b);
        }
        return 0;
    }
}

int gpx_place(const struct gpx_place_gpu *gpus, unsigned n, const struct gpx_place_req *req,
              enum gpx_place_policy policy, double oversub, unsigned *chosen, gpx_error *err)
{
    char why[256];
    if (n == 0)
        return gpx_error_set(err, GPX_E_NO_GPU, "this node has no GPU");
    if (req->gpu >= 0) {
        for (unsigned i = 0; i < n; i++) {
            if ((int)gpus[i].index != req->gpu)
                continue;
            /* held exclusively, or exclusive asked of a GPU with leases: BUSY (exit 6);
             * a quota that does not fit: NO_SPACE (exit 7) */
            int busy = gpus[i].exclusive || (req->mode == GPX_MODE_EXCLUSIVE && gpus[i].leases);
            if (!fits(&gpus[i], req, oversub, why, sizeof why))
                return gpx_error_set(err, busy ? GPX_E_BUSY : GPX_E_NO_SPACE, "%s", why);
            if (!gpus[i].allowed)
                return gpx_error_set(err, GPX_E_NO_SPACE,
                                     "GPU %u would exceed the tenant's max_gpus", gpus[i].index);
            *chosen = i;
            return 0;
        }
        return gpx_error_set(err, GPX_E_NOT_FOUND,
                             "no GPU '%d' (this node has GPUs 0-%u; see 'gpuplex ls')", req->gpu,
                             n - 1);
    }

    int best = -1;
    uint64_t best_free = 0;
    unsigned feasible_ignoring_tenant = 0;
    for (unsigned i = 0; i < n; i++) {
        const struct gpx_place_gpu *g = &gpus[i];
        if (!fits(g, req, oversub, NULL, 0))
            continue;
        feasible_ignoring_tenant++;
        if (!g->allowed)
            continue;
        uint64_t left = req->mode == GPX_MODE_EXCLUSIVE || req->mode == GPX_MODE_MIG
                            ? 0
                            : gpx_place_free_quota(g, oversub) - req->memory;
        int better;
        if (best < 0) {
            better = 1;
        } else if (left != best_free) {
            better = policy == GPX_PLACE_BINPACK ? left < best_free : left > best_free;
        } else {
            unsigned bl = gpus[best].leases;
            better = policy == GPX_PLACE_BINPACK ? g->leases > bl : g->leases < bl;
        }
        if (better) {
            best = (int)i;
            best_free = left;
        }
    }
    if (best >= 0) {
        *chosen = (unsigned)best;
        return 0;
    }
    if (feasible_ignoring_tenant)
        return gpx_error_set(err, GPX_E_NO_SPACE,
                             "the tenant's max_gpus is reached and none of its GPUs can take this "
                             "lease");

    /* Nothing fits: say what would. */
    switch (req->mode) {
    case GPX_MODE_EXCLUSIVE:
        return gpx_error_set(err, GPX_E_BUSY,
                             "no idle GPU: all %u GPUs have leases; an exclusive lease needs a GPU "
                             "without any",
                             n);
    case GPX_MODE_MIG: {
        unsigned mig = 0;
        for (unsigned i = 0; i < n; i++)
            mig += gpus[i].mig_enabled ? 1 : 0;
        if (mig == 0)
            return gpx_error_set(err, GPX_E_NO_SPACE,
                                 "mode mig needs a MIG-enabled GPU; none of this node's %u GPUs "
                                 "has MIG mode enabled",
                                 n);
        return gpx_error_set(err, GPX_E_NO_SPACE, "every MIG-enabled GPU is held exclusively");
    }
    default: {
        int at = -1;
        uint64_t most = 0;
        for (unsigned i = 0; i < n; i++) {
            if (gpus[i].mig_enabled)
                continue;
            uint64_t f = gpx_place_free_quota(&gpus[i], oversub);
            if (at < 0 || f > most) {
                at = (int)i;
                most = f;
            }
        }
        char a[32], b[32];
        gpx_size_format(req->memory, a, sizeof a);
        if (at < 0)
            return gpx_error_set(err, GPX_E_NO_SPACE,
                                 "no GPU takes shared leases (all are in MIG "
                                 "mode)");
        if (!req->memory)
            return gpx_error_set(err, GPX_E_NO_SPACE,
                                 "no GPU can take a lease without a memory quota: each is "
                                 "exclusively held or has leases with quotas, whose memory it "
                                 "could use; give it a quota (--memory SIZE)");
        if (most == 0)
            return gpx_error_set(err, GPX_E_NO_SPACE,
                                 "no GPU can take a %s memory quota: every GPU is exclusively "
                                 "held, fully committed or used by a lease without a quota",
                                 a);
        gpx_size_format(most, b, sizeof b);
        return gpx_error_set(err, GPX_E_NO_SPACE,
                             "no GPU can take a %s memory quota: the largest that fits is %s (GPU "
                             "%u)",
                             a, b, gpus[at].index);
    }
    }
}

/* 1 if a is the better home for a mig lease than b. */
static int mig_better(const struct gpx_place_mig *a, const struct gpx_place_mig *b,
                      enum gpx_place_policy policy)
{
    if (a->reuse != b->reuse)
        return a->reuse;
    if (a->destroys != b->destroys)
        return a->destroys < b->destroys;
    int spread = policy == GPX_PLACE_SPREAD;
    if (a->free_slices != b->free_slices)
        return spread ? a->free_slices > b->free_slices : a->free_slices < b->free_slices;
    if (a->leases != b->leases)
        return spread ? a->leases < b->leases : a->leases > b->leases;
    return a->index < b->index;
}

int gpx_place_mig(const struct gpx_place_mig *gpus, unsigned n, enum gpx_place_policy policy,
                  unsigned *chosen, int *blocked_by_tenant)
{
    int best = -1, blocked = 0;
    for (unsigned i = 0; i < n; i++) {
        if (!gpus[i].fits)
            continue;
        if (!gpus[i].allowed) {
            blocked = 1;
            continue;
        }
        if (best < 0 || mig_better(&gpus[i], &gpus[best], policy))
            best = (int)i;
    }
    if (blocked_by_tenant)
        *blocked_by_tenant = best < 0 && blocked;
    if (best < 0)
        return -1;
    *chosen = (unsigned)best;
    return 0;
}
