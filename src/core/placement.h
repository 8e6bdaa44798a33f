/*
 * Placement and admission: which GPU a new lease goes to, or why none can
 * take it. Pure policy over a snapshot of the node, so it is unit-tested
 * without a daemon, a driver or a clock.
 *
 * Rules (docs/daemon.md, "Placement and admission"):
 * - exclusive takes an idle GPU (no lease of any mode) and excludes every
 *   later lease on it;
 * - vgpu and timeslice share a GPU with each other but never with an
 *   exclusive lease; the sum of their memory quotas stays within
 *   memory_total * oversubscription (1.0 = no oversubscription);
 * - a shared lease without a memory quota (timeslice) may use all of its
 *   GPU's memory, so it holds all the memory no quota was promised: it goes
 *   only to a GPU where no lease has a quota, and a GPU with one takes no
 *   quota (promised quotas stay whole);
 * - mig needs a GPU whose MIG mode is enabled (gpx_place_mig orders those the
 *   daemon found able to host the profile);
 * - among the GPUs that can take the lease, binpack picks the one left with
 *   the least free quota (fill GPUs before opening new ones), spread the one
 *   left with the most; ties go to the GPU with more (binpack) or fewer
 *   (spread) leases, then to the lower index.
 */
#ifndef GPX_PLACEMENT_H
#define GPX_PLACEMENT_H

#include "gpuplex/error.h"

#include <stdint.h>

enum gpx_place_policy { GPX_PLACE_BINPACK = 0, GPX_PLACE_SPREAD = 1 };
/* "binpack" | "spread"; -1 if unknown. */
int gpx_place_policy_parse(const char *s);
const char *gpx_place_policy_name(enum gpx_place_policy p);

struct gpx_place_gpu {
    unsigned index;
    uint64_t memory_total; /* bytes */
    int mig_enabled;
    unsigned leases;    /* active leases on the GPU, any mode */
    int exclusive;      /* one of them is exclusive */
    uint64_t quota_sum; /* sum of the shared leases' memory quotas */
    unsigned unquoted;  /* shared leases without a memory quota */
    int allowed;        /* 0: the tenant may not add this GPU (its max_gpus is reached) */
};

struct gpx_place_req {
    int mode;        /* enum gpx_lease_mode (src/shm/lease.h) */
    int gpu;         /* a GPU index the caller asked for, or -1 */
    uint64_t memory; /* quota in bytes; 0 = none */
};

/* Bytes of quota GPU g can still take (0 when exclusive-held or a quota-less lease is there). */
uint64_t gpx_place_free_quota(const struct gpx_place_gpu *g, double oversubscription);

/*
 * Chooses a GPU for `req` among gpus[0..n). On success stores the position in
 * `gpus` (not the index field) in *chosen and returns 0. Otherwise returns -1
 * with GPX_E_NO_SPACE (nothing fits; the message says what would) or
 * GPX_E_INVALID (req->gpu names no GPU).
 */
int gpx_place(const struct gpx_place_gpu *gpus, unsigned n, const struct gpx_place_req *req,
              enum gpx_place_policy policy, double oversubscription, unsigned *chosen,
              gpx_error *err);

/*
 * mig leases: each MIG-enabled GPU that could host the asked-for profile,
 * as the daemon found it (src/daemon/mig.c reads the instances and plans).
 */
struct gpx_place_mig {
    unsigned index;
    int fits;             /* an instance of the profile can be had here */
    int allowed;          /* as gpx_place_gpu.allowed */
    int reuse;            /* a free instance of the profile is there already */
    unsigned destroys;    /* unleased instances a new one would cost */
    unsigned free_slices; /* compute slices left without an instance afterwards */
    unsigned leases;      /* active leases on the GPU */
};

/*
 * Chooses among gpus[0..n) for a mig lease: a GPU that can reuse a free
 * instance first (no NVML change), then the fewest unleased instances
 * destroyed, then binpack (fewest free compute slices left, then most
 * leases) or spread (the most, then fewest), then the lower index. 0 and
 * the position in *chosen; -1 if no GPU fits and is allowed
 * (*blocked_by_tenant, if given, says whether one fits but is not allowed).
 */
int gpx_place_mig(const struct gpx_place_mig *gpus, unsigned n, enum gpx_place_policy policy,
                  unsigned *chosen, int *blocked_by_tenant);

#endif
