/*
 * The engine's inside: its state, the mode backends and the helpers its
 * modules share. Nothing outside src/engine includes this file.
 *
 * One mutex (`lock`) covers the lease table, the tenant table and the store,
 * so every operation is atomic with respect to the others (a daemon's HTTP
 * threads and timers; a CLI command holds the state's engine lock besides,
 * which serializes processes). The inventory has its own lock so that reading
 * GPUs never waits on a disk flush.
 *
 * Invariants while `lock` is not held:
 * - every lease in `leases` has an 'active' row in the store and a region in
 *   run_dir (mapped in `region` when `mapped`);
 * - no 'pending' row exists except while its creator holds the lock (after a
 *   crash, opening the engine aborts it and removes its region).
 */
#ifndef GPX_ENGINE_INTERNAL_H
#define GPX_ENGINE_INTERNAL_H

#include "engine/engine.h"
#include "engine/store.h"
#include "nvml/mig.h"
#include "nvml/nvml.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

struct gpx_active {
    struct gpx_lease_rec rec;
    struct gpx_lease_region region;
    int mapped;
    int64_t orphan_since_ns; /* owners all gone since; 0 = alive (or no owners) */
    int64_t last_sample_ns;  /* end of the last metering sample */
    uint64_t gpu_ns_seen;    /* region counters at the last sample */
    uint64_t wait_ns_seen;
    char region_error[GPX_ERROR_MSG_MAX]; /* why the region can't be mapped (damaged); "" when fine
                                           */
};

#define GPX_MAX_OBSERVERS 16

struct gpx_engine {
    char state_dir[PATH_MAX];
    char run_dir[PATH_MAX];
    char interposer[PATH_MAX]; /* "" if none was found */
    enum gpx_place_policy placement;
    double oversubscription;
    uint64_t grace_ms;
    unsigned max_leases_per_tenant; /* 0 = no limit */
    int daemon;
    int64_t started_ns;
    uid_t self_uid;
    int state_fd;   /* gpuplexd.lock: exclusive for a daemon, shared for the CLI */
    int owns_state; /* this daemon holds gpuplexd.lock exclusively (and wrote its owner) */
    int engine_fd;  /* engine.lock: exclusive while a CLI command runs */

    pthread_mutex_t lock;
    struct gpx_store *store;
    struct gpx_active **leases;
    unsigned n_leases, cap_leases;
    struct gpx_tenant *tenants;
    unsigned n_tenants;

    pthread_mutex_t inv_lock;
    struct gpx_nvml nv;
    int nv_open;
    struct gpx_inventory inv;
    struct gpx_nvml_mig mig; /* MIG entry points (mode_mig.c); used under `lock` */
    int mig_ok;              /* the driver manages MIG */
    char mig_why[256];       /* why not, when !mig_ok */
    char fault[32];          /* GPUPLEXD_FAULT: a test-only crash point (mode_mig.c) */

    struct gpx_observer observers[GPX_MAX_OBSERVERS];
    unsigned n_observers;

    _Atomic uint64_t leases_created, leases_released, leases_reaped;
};

/* --- the node as placement sees it ---------------------------------------------------------- */

struct gpx__gpu_view {
    unsigned index;
    char uuid[96];
    uint64_t memory_total;
    int mig;
};

/*
 * A create in progress: the caller, the checked spec, the node snapshot and
 * what placement decided. Backends read it and fill `rec` and their own part.
 */
struct gpx_mig_choice;
struct gpx__create {
    const struct gpx_caller *caller;
    const struct gpx_lease_spec *spec;
    struct gpx__gpu_view *gv; /* the node's GPUs */
    unsigned ng;
    struct gpx_place_gpu *pg;   /* the same GPUs with their leases, for gpx_place */
    int gpu;                    /* asked-for GPU index, or -1 */
    unsigned at;                /* chosen position in gv/pg */
    uint64_t held_memory;       /* memory the lease holds against max_memory */
    struct gpx_mig_choice *mig; /* mig backend's choice */
};

/*
 * A mode backend: how one kind of lease is placed, made, undone, found again
 * at start-up and released. Picked from gpx__backends[] by mode, the way crun
 * picks a cgroup manager; a new mode adds a file and a row.
 *   place:  choose the GPU (c->at) and the memory held, or refuse (NO_SPACE, BUSY, INVALID);
 *   fill:   fill the record before the pending row is written;
 *   make:   after the pending row and the region exist: make what the lease needs
 *           outside the engine (a MIG instance); may be NULL;
 *   undo:   take back what make did (commit failed); may be NULL;
 *   startup: reconcile rows of this mode at start-up (before they are loaded); may be NULL;
 *   release: after the released row is durable: give back what make took; may be NULL.
 */
struct gpx__backend {
    int mode;
    const char *name;
    int (*place)(struct gpx_engine *e, struct gpx__create *c, gpx_error *err);
    void (*fill)(struct gpx_engine *e, struct gpx__create *c, struct gpx_lease_rec *l);
    int (*make)(struct gpx_engine *e, struct gpx__create *c, struct gpx_lease_rec *l,
                gpx_error *err);
    void (*undo)(struct gpx_engine *e, const struct gpx_lease_rec *l);
    int (*startup)(struct gpx_engine *e, struct gpx_lease_rec *rows, unsigned n, gpx_error *err);
    void (*release)(struct gpx_engine *e, const struct gpx_lease_rec *l);
    int interposed; /* workloads get the interposer (LD_PRELOAD); GPU time is what it grants */
    int whole_gpu;  /* holds its GPU whole: no other lease beside it */
};
extern const struct gpx__backend gpx__backend_exclusive, gpx__backend_vgpu, gpx__backend_timeslice,
    gpx__backend_mig;
/* The backend of `mode`, or NULL; the i-th of the table, or NULL past its end. */
const struct gpx__backend *gpx__backend_of(int mode);
const struct gpx__backend *gpx__backend_at(unsigned i);

/* ledger.c, shared with node.c, usage.c, meter.c (engine lock held) */
struct gpx_active *gpx__find_active(struct gpx_engine *e, const char *id, unsigned *pos);
/* 0 (and the lease's region_error set, the mapping dropped) when a's region may not be read */
int gpx__region_usable(struct gpx_engine *e, struct gpx_active *a);
/*
 * Lets uid read the limits of lease `id` (grant.c: a POSIX ACL on the engine's
 * 0400 file; nothing to do when uid is the engine's own).
 */
int gpx__region_grant(const char *run_dir, const char *id, uint32_t uid, gpx_error *err);
/* memory a lease holds against its tenant's max_memory */
uint64_t gpx__held_memory(const struct gpx_lease_rec *l);
void gpx__lease_view(struct gpx_engine *e, const struct gpx_lease_rec *l, struct gpx_active *a,
                     int turns, struct gpx_lease *out);
/* meter.c: one sample of a into the store and its record (inside a transaction) */
int gpx__meter_one(struct gpx_engine *e, struct gpx_active *a, int64_t now, gpx_error *err);

/* ledger.c, for the backends: the shared-GPU placement over c->pg. */
int gpx__place_shared(struct gpx_engine *e, struct gpx__create *c, gpx_error *err);
int gpx__lease_visible(const struct gpx_caller *c, const struct gpx_lease_rec *l);
void gpx__inventory_refresh_locked(struct gpx_engine *e);

/* mode_mig.c */
struct gpx_mig_choice {
    struct gpx_mig_gpu_state *s; /* the chosen GPU as read; owned */
    int profile;                 /* index in s->table */
    int reuse;                   /* a free instance is reused (else one is created) */
    unsigned start;              /* placement: first memory slice */
    uint64_t memory;             /* the instance's memory, bytes */
    struct gpx_mig_plan plan;    /* when creating: the plan that makes room and creates it */
    unsigned gi, ci;             /* the instance: known when reused, after make when created */
    char uuid[96];               /* its MIG device */
};
/* Resolves NVML's MIG entry points and GPUPLEXD_FAULT; at open. */
void gpx__mig_open(struct gpx_engine *e);
/* Exits the process (status 137, as SIGKILL) when GPUPLEXD_FAULT names `point`: tests only. */
void gpx__fault(struct gpx_engine *e, const char *point);
void gpx__mig_choice_free(struct gpx_mig_choice *c);

/* ledger.c: loads tenants and active leases and reconciles them (lock not held); frees */
int gpx__ledger_open(struct gpx_engine *e, gpx_error *err);
void gpx__ledger_close(struct gpx_engine *e);

/* tenants.c */
int gpx__tenants_load(struct gpx_engine *e, gpx_error *err); /* lock held */

#endif
