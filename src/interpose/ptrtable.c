/*
 * Pointer table (see ptrtable.h).
 *
 * Invariants:
 * - An entry is live iff kind != 0; every live entry sits in the probe run
 *   that starts at its home slot (backward-shift deletion keeps runs intact).
 * - A shard's load stays <= 1/2 after a successful grow; a failed grow only
 *   refuses when the shard is completely full.
 * - A shard's slots point at its inline array or at one heap block the shard
 *   owns; the inline array is never freed.
 */
#define _GNU_SOURCE
#include "interpose/ptrtable.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define SHARD_BITS 4
#define SHARDS     (1U << SHARD_BITS)
#define INLINE_CAP 64U

#define GPX_PT_UNLIKELY(x) __builtin_expect(!!(x), 0)

struct entry {
    uint64_t key;
    uint64_t bytes;
    uint32_t kind; /* 0: empty */
    uint32_t pad;
};

struct shard {
    pthread_mutex_t mu;
    struct entry *slots;
    uint32_t cap; /* power of two */
    uint32_t count;
    struct entry inline_slots[INLINE_CAP];
} __attribute__((aligned(64)));

/* Statically initialised: usable from the first hook call, whatever ran before. */
static struct shard shards[SHARDS] = {[0 ... SHARDS - 1] = {.mu = PTHREAD_MUTEX_INITIALIZER}};

/* With s->mu held: points a fresh shard at its inline slots. */
static inline void shard_ready(struct shard *s)
{
    if (GPX_PT_UNLIKELY(s->slots == NULL)) {
        s->slots = s->inline_slots;
        s->cap = INLINE_CAP;
    }
}

static inline uint64_t mix(uint32_t kind, uint64_t key)
{
    uint64_t h = (key ^ ((uint64_t)kind << 59)) * 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 29);
}

static inline struct shard *shard_of(uint64_t h)
{
    return &shards[h >> (64 - SHARD_BITS)];
}

static inline uint32_t home(uint64_t h, uint32_t cap)
{
    return (uint32_t)h & (cap - 1);
}

static void place(struct entry *slots, uint32_t cap, const struct entry *e)
{
    uint32_t i = home(mix(e->kind, e->key), cap);
    while (slots[i].kind != 0)
        i = (i + 1) & (cap - 1);
    slots[i] = *e;
}

/* ---- the lock-free front table (device pointers) ------------------------------------------ */

/*
 * cuMemAlloc/cuMemFree pointers, the one kind on an application's hot path,
 * live first in their thread's own table (below); those that find no room
 * there live in a fixed open-addressed table without a lock: an insert
 * claims a slot with one CAS, a take frees it with one CAS, a find only
 * loads. Keys: 0 empty (ends a probe run), 1 gone (a tombstone, reused by
 * inserts), 2 busy (claimed, being filled), else the pointer. An entry sits
 * within FAST_PROBE slots of its home; when none is free there it goes to
 * the locked shards (overflow counts those), so the table's size never
 * decides whether an allocation can be recorded.
 *
 * Free and re-allocation of one address by two threads: memory.c takes the
 * record (key -> gone) BEFORE the driver frees the address, and puts it
 * back only when the driver refused the free. So while the driver may hand
 * the address out again, the table no longer holds it, and a thread that
 * gets it inserts a fresh record; while a record is out for a free that the
 * driver then refuses, the address is still allocated and nobody else can
 * be handed it, so the re-insert cannot meet a second record. Two takes of
 * one key (a double free racing itself) are decided by the CAS: one gets
 * the bytes, the other finds nothing and passes the call through.
 * An insert fills the bytes while the slot reads busy and publishes the key
 * last (release), so a take that sees the key reads its bytes; a take reads
 * the bytes before its CAS frees the slot, so no insert can overwrite them
 * first.
 */
#define FAST_KIND  1U /* GPX_IP_KIND_DPTR */
#define FAST_BITS  14
#define FAST_CAP   (1U << FAST_BITS)
#define FAST_PROBE 16U
#define KEY_EMPTY  0ULL
#define KEY_GONE   1ULL
#define KEY_BUSY   2ULL

struct fast_entry {
    _Atomic uint64_t key;
    _Atomic uint64_t bytes;
};

static struct fast_entry fast[FAST_CAP] __attribute__((aligned(64)));
static _Atomic uint64_t overflow; /* FAST_KIND entries in the shards */

static inline int fast_kind(uint32_t kind, uint64_t key)
{
    return kind == FAST_KIND && key > KEY_BUSY;
}

static inline uint32_t fast_home(uint64_t key)
{
    return (uint32_t)(mix(FAST_KIND, key) >> (64 - FAST_BITS));
}

/*
 * Where key is in slots[] (cap a power of two), probing `probe` slots from i: its index, or -1.
 * Its bytes in *bytes when not NULL. `take`: removed with a CAS (-1 when another thread took it
 * first). The front table's lookups and other threads' lookups in a thread's table. Inlined
 * into both: out of line it cost ~1 ns per alloc+free pair (bench/interpose).
 */
static inline __attribute__((always_inline)) int64_t slots_lookup(struct fast_entry *slots,
                                                                  uint32_t cap, uint32_t probe,
                                                                  uint32_t i, uint64_t key,
                                                                  uint64_t *bytes, int take)
{
    for (uint32_t n = 0; n < probe; n++, i = (i + 1) & (cap - 1)) {
        struct fast_entry *e = &slots[i];
        uint64_t k = atomic_load_explicit(&e->key, memory_order_acquire);
        if (k == KEY_EMPTY)
            return -1;
        if (k != key)
            continue;
        uint64_t b = atomic_load_explicit(&e->bytes, memory_order_relaxed);
        if (take && !atomic_compare_exchange_strong_explicit(
                        &e->key, &k, KEY_GONE, memory_order_acq_rel, memory_order_relaxed))
            return -1; /* another thread took it first */
        if (bytes)
            *bytes = b;
        return i;
    }
    return -1;
}

/* 1 (its bytes in *bytes when not NULL) when key is in the front table; `take` removes it. */
static int fast_take(uint64_t key, uint64_t *bytes, int take)
{
    return slots_lookup(fast, FAST_CAP, FAST_PROBE, fast_home(key), key, bytes, take) >= 0;
}

/* 0 when recorded in the front table; -1 when its window is full (the caller uses a shard). */
static int fast_insert(uint64_t key, uint64_t bytes, uint64_t *stale)
{
    for (;;) {
        uint32_t i = fast_home(key), at = FAST_CAP;
        uint64_t seen = 0;
        for (uint32_t n = 0; n < FAST_PROBE; n++, i = (i + 1) & (FAST_CAP - 1)) {
            uint64_t k = atomic_load_explicit(&fast[i].key, memory_order_acquire);
            if (k == key) { /* the driver handed out an address we still held */
                *stale = atomic_exchange_explicit(&fast[i].bytes, bytes, memory_order_relaxed);
                return 0;
            }
            if ((k == KEY_EMPTY || k == KEY_GONE) && at == FAST_CAP) {
                at = i;
                seen = k;
            }
            if (k == KEY_EMPTY)
                break;
        }
        if (at == FAST_CAP)
            return -1;
        struct fast_entry *e = &fast[at];
        if (!atomic_compare_exchange_strong_explicit(&e->key, &seen, KEY_BUSY, memory_order_acquire,
                                                     memory_order_relaxed))
            continue; /* another insert claimed it: look again */
        atomic_store_explicit(&e->bytes, bytes, memory_order_relaxed);
        atomic_store_explicit(&e->key, key, memory_order_release);
        return 0;
    }
}

/* Doubles s; 0 on success. Called with s->mu held. */
static int grow(struct shard *s)
{
    uint32_t cap = s->cap * 2;
    struct entry *n = calloc(cap, sizeof *n);
    if (!n)
        return -1;
    for (uint32_t i = 0; i < s->cap; i++)
        if (s->slots[i].kind != 0)
            place(n, cap, &s->slots[i]);
    if (s->slots != s->inline_slots)
        free(s->slots);
    s->slots = n;
    s->cap = cap;
    return 0;
}

static int shard_insert(uint32_t kind, uint64_t key, uint64_t bytes, uint64_t *stale);
static int shard_take(uint32_t kind, uint64_t key, uint64_t *bytes);
static int shard_find(uint32_t kind, uint64_t key, uint64_t *bytes);

static int global_insert(uint32_t kind, uint64_t key, uint64_t bytes, uint64_t *stale)
{
    *stale = 0;
    if (!fast_kind(kind, key))
        return shard_insert(kind, key, bytes, stale);
    /* A record that overflowed to a shard earlier is replaced there, not doubled here. */
    if (GPX_PT_UNLIKELY(atomic_load_explicit(&overflow, memory_order_relaxed)) &&
        shard_find(kind, key, NULL))
        return shard_insert(kind, key, bytes, stale);
    if (fast_insert(key, bytes, stale) == 0)
        return 0;
    /* counted before it is there: a take that misses the front table then looks in the shards */
    atomic_fetch_add_explicit(&overflow, 1, memory_order_relaxed);
    int rc = shard_insert(kind, key, bytes, stale);
    if (rc != 0)
        atomic_fetch_sub_explicit(&overflow, 1, memory_order_relaxed);
    return rc;
}

static int global_take(uint32_t kind, uint64_t key, uint64_t *bytes)
{
    if (!fast_kind(kind, key))
        return shard_take(kind, key, bytes);
    if (fast_take(key, bytes, 1))
        return 1;
    if (!atomic_load_explicit(&overflow, memory_order_relaxed) || !shard_take(kind, key, bytes))
        return 0;
    atomic_fetch_sub_explicit(&overflow, 1, memory_order_relaxed);
    return 1;
}

static int global_find(uint32_t kind, uint64_t key, uint64_t *bytes)
{
    if (!fast_kind(kind, key))
        return shard_find(kind, key, bytes);
    return fast_take(key, bytes, 0) ||
           (atomic_load_explicit(&overflow, memory_order_relaxed) && shard_find(kind, key, bytes));
}

static int shard_insert(uint32_t kind, uint64_t key, uint64_t bytes, uint64_t *stale)
{
    uint64_t h = mix(kind, key);
    struct shard *s = shard_of(h);
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    shard_ready(s);
    if ((s->count + 1) * 2 > s->cap && grow(s) != 0 && s->count + 1 >= s->cap) {
        rc = -1;
        goto out;
    }
    uint32_t mask = s->cap - 1;
    for (uint32_t i = home(h, s->cap);; i = (i + 1) & mask) {
        struct entry *e = &s->slots[i];
        if (e->kind == 0) {
            e->key = key;
            e->bytes = bytes;
            e->kind = kind;
            s->count++;
            break;
        }
        if (e->kind == kind && e->key == key) {
            *stale = e->bytes;
            e->bytes = bytes;
            break;
        }
    }
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int shard_take(uint32_t kind, uint64_t key, uint64_t *bytes)
{
    uint64_t h = mix(kind, key);
    struct shard *s = shard_of(h);
    int found = 0;
    pthread_mutex_lock(&s->mu);
    shard_ready(s);
    uint32_t mask = s->cap - 1;
    uint32_t i = home(h, s->cap);
    for (;; i = (i + 1) & mask) {
        struct entry *e = &s->slots[i];
        if (e->kind == 0)
            goto out;
        if (e->kind == kind && e->key == key)
            break;
    }
    *bytes = s->slots[i].bytes;
    found = 1;
    s->count--;
    /* Backward shift: pull later members of the run into the hole when their home allows. */
    for (uint32_t j = (i + 1) & mask;; j = (j + 1) & mask) {
        struct entry *e = &s->slots[j];
        if (e->kind == 0)
            break;
        uint32_t k = home(mix(e->kind, e->key), s->cap);
        /* e may move to i unless its home lies cyclically in (i, j]. */
        int stays = i <= j ? (k > i && k <= j) : (k > i || k <= j);
        if (!stays) {
            s->slots[i] = *e;
            i = j;
        }
    }
    s->slots[i].kind = 0;
out:
    pthread_mutex_unlock(&s->mu);
    return found;
}

static int shard_find(uint32_t kind, uint64_t key, uint64_t *bytes)
{
    uint64_t h = mix(kind, key);
    struct shard *s = shard_of(h);
    int found = 0;
    pthread_mutex_lock(&s->mu);
    shard_ready(s);
    uint32_t mask = s->cap - 1;
    for (uint32_t i = home(h, s->cap);; i = (i + 1) & mask) {
        const struct entry *e = &s->slots[i];
        if (e->kind == 0)
            break;
        if (e->kind == kind && e->key == key) {
            if (bytes)
                *bytes = e->bytes;
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return found;
}

static uint64_t global_count(void)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < FAST_CAP; i++)
        n += atomic_load_explicit(&fast[i].key, memory_order_relaxed) > KEY_BUSY;
    for (unsigned i = 0; i < SHARDS; i++) {
        pthread_mutex_lock(&shards[i].mu);
        n += shards[i].count;
        pthread_mutex_unlock(&shards[i].mu);
    }
    return n;
}

/* ---- per-thread tables (device pointers; no atomic read-modify-write on the common path) -- */

/*
 * Each thread that records a device pointer owns a fixed open-addressed
 * table (TT_CAP slots, keys as in the front table: 0 empty, 1 gone; an entry
 * sits within TT_PROBE slots of its home). A record goes to the inserting
 * thread's table; one that finds no room there (a long probe run, a full
 * table) goes to the global tables above, `spilled` counts those, so the
 * size never decides whether an allocation can be recorded. A take looks in
 * its own thread's table, then in every other registered table, then (when
 * `spilled`) in the global ones.
 *
 * Why plain stores are enough:
 * - Only the owner writes a slot that holds no pointer (empty or gone): it
 *   fills the bytes first and publishes the key last (release), so whoever
 *   sees the key (acquire) reads its bytes; only the owner writes bytes.
 * - A slot holding pointer P is written only by the one thread that frees P
 *   (or that the driver handed P again while it was still recorded: the
 *   stale check below). The owner takes with a plain store of `gone`; any
 *   other thread with a CAS P -> gone, so a foreign take that read P and lost
 *   the slot to the owner's take and re-insert (a new key) fails instead of
 *   erasing someone else's record. Foreign takes are the cross-thread frees.
 * - A double free of P by two threads at once (the application's bug) can
 *   hand P's record to both (the owner's plain store and a foreign CAS both
 *   succeed). The driver frees P once and refuses the other call as no such
 *   object, and memory.c neither gives back nor records again what a free
 *   refused that way held: P's bytes come back once. No other record is
 *   touched, since only P's holder ever stores over P.
 * - Lookups pass `gone` slots and stop at an empty one. The owner turns a
 *   `gone` slot back to empty only when the next slot is empty (then walks
 *   back over the `gone` run before it): no record's probe path crosses such
 *   a slot, so no reader can be cut off from a record (a record inserted
 *   later is not yet known to anyone but its allocating thread).
 * - Free and re-allocation of one address by two threads: memory.c takes the
 *   record BEFORE the driver frees (and puts it back only if the driver
 *   refuses), so when the driver hands the address to another thread the
 *   record is gone from every table, and that thread records it afresh.
 * - The driver handing out an address still recorded (its object went away
 *   unseen, a context destroy) is found by an insert's stale check in every
 *   table, its bytes returned as *stale, as before: with T threads that
 *   record pointers an insert reads T tables (one slot each while they are
 *   sparse), a cost only multi-threaded allocators pay.
 * - A thread's table outlives it (its records are still live): a key
 *   destructor marks it unowned, and a thread without a table adopts one
 *   (CAS on `owned`, acquire: it sees the last owner's stores) before
 *   allocating a new one. What a thread records after its table was
 *   released (in a later key destructor) goes to the global tables: a table
 *   taken again in the last round of destructors would stay owned for good.
 *   Tables are never freed while the process lives;
 *   the registry is a list, pushed under a mutex, read without one.
 * - fork: the child's tables are emptied (CUDA state does not survive fork);
 *   only the forking thread exists there, it keeps its table.
 */
#define TT_BITS  12
#define TT_CAP   (1U << TT_BITS)
#define TT_PROBE 16U

struct tt {
    struct fast_entry slots[TT_CAP];
    _Atomic int owned;
    struct tt *next; /* the registry; written before the table is published */
};

static _Atomic(struct tt *) tt_head;
static pthread_mutex_t tt_mu = PTHREAD_MUTEX_INITIALIZER; /* pushes onto tt_head */
static _Atomic uint64_t spilled; /* device pointers recorded in the global tables */
static __thread struct tt *my_tt __attribute__((tls_model("initial-exec")));
/*
 * Set when this thread records in the global tables only: its table could not be made or kept,
 * or was released at its exit (a table taken again by a later key destructor, in the last round,
 * would stay owned forever).
 */
static __thread int my_tt_off __attribute__((tls_model("initial-exec")));
static pthread_key_t tt_key;
static int tt_key_ok;
static pthread_once_t tt_once = PTHREAD_ONCE_INIT;

static void tt_release(void *t)
{
    my_tt = NULL; /* a later destructor that allocates uses the global tables */
    my_tt_off = 1;
    atomic_store_explicit(&((struct tt *)t)->owned, 0, memory_order_release);
}

static void tt_key_init(void)
{
    tt_key_ok = pthread_key_create(&tt_key, tt_release) == 0;
}

/* This thread's table: an unowned one adopted, or a new one; NULL (use the global tables). */
static struct tt *tt_mine_slow(void)
{
    pthread_once(&tt_once, tt_key_init);
    if (!tt_key_ok || my_tt_off)
        return NULL;
    struct tt *t;
    for (t = atomic_load_explicit(&tt_head, memory_order_acquire); t; t = t->next) {
        int no = 0;
        if (!atomic_load_explicit(&t->owned, memory_order_relaxed) &&
            atomic_compare_exchange_strong_explicit(&t->owned, &no, 1, memory_order_acquire,
                                                    memory_order_relaxed))
            break;
    }
    if (!t) {
        /* mmap, not malloc: 64 KiB blocks in the application's heap change how its (and a
         * simulated driver's) malloc behaves, and the table is never freed anyway. */
        void *m = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            my_tt_off = 1;
            return NULL;
        }
        t = m;
        atomic_store_explicit(&t->owned, 1, memory_order_relaxed);
        pthread_mutex_lock(&tt_mu);
        t->next = atomic_load_explicit(&tt_head, memory_order_relaxed);
        atomic_store_explicit(&tt_head, t, memory_order_release);
        pthread_mutex_unlock(&tt_mu);
    }
    if (pthread_setspecific(tt_key, t) != 0) { /* kept owned: never adopted, still searched */
        my_tt_off = 1;
        return NULL;
    }
    my_tt = t;
    return t;
}

static inline uint32_t tt_home(uint64_t key)
{
    return (uint32_t)(mix(FAST_KIND, key) >> (64 - TT_BITS));
}

/*
 * The owner's take of slot i: marks it gone; when the run of gone slots from i ends at an empty
 * one, empties that run back to front (each slot only once the slot after it is empty), so that
 * tombstones do not pile up and lengthen every probe.
 */
static void tt_clear(struct tt *t, uint32_t i)
{
    atomic_store_explicit(&t->slots[i].key, KEY_GONE, memory_order_release);
    uint32_t j = i, n = 0;
    for (;;) {
        uint64_t k =
            atomic_load_explicit(&t->slots[(j + 1) & (TT_CAP - 1)].key, memory_order_relaxed);
        if (k == KEY_EMPTY)
            break;
        if (k != KEY_GONE || ++n == TT_PROBE)
            return; /* a record follows: the tombstones stay */
        j = (j + 1) & (TT_CAP - 1);
    }
    for (n = 0; n < TT_CAP; n++, j = (j - 1) & (TT_CAP - 1)) {
        struct fast_entry *e = &t->slots[j];
        if (atomic_load_explicit(&e->key, memory_order_relaxed) != KEY_GONE)
            break;
        atomic_store_explicit(&e->key, KEY_EMPTY, memory_order_release);
    }
}

/*
 * Looks key up in t; `take`: removes it (the owner with plain stores, any other thread with a
 * CAS). 1 when found (its bytes in *bytes when not NULL).
 */
static int tt_lookup(struct tt *t, uint64_t key, uint64_t *bytes, int take, int owner)
{
    int64_t i = slots_lookup(t->slots, TT_CAP, TT_PROBE, tt_home(key), key, bytes, take && !owner);
    if (i >= 0 && take && owner)
        tt_clear(t, (uint32_t)i);
    return i >= 0;
}

/*
 * The owner's insert: 0 when recorded in t (an earlier record of key there replaced, its bytes
 * in *stale); -1 when no slot is free within TT_PROBE of its home.
 */
static int tt_insert(struct tt *t, uint64_t key, uint64_t bytes, uint64_t *stale)
{
    uint32_t i = tt_home(key), at = TT_CAP;
    for (uint32_t n = 0; n < TT_PROBE; n++, i = (i + 1) & (TT_CAP - 1)) {
        struct fast_entry *e = &t->slots[i];
        /* acquire: a slot another thread's CAS made gone is reused after that take */
        uint64_t k = atomic_load_explicit(&e->key, memory_order_acquire);
        if (k == key) {
            *stale = atomic_load_explicit(&e->bytes, memory_order_relaxed);
            atomic_store_explicit(&e->bytes, bytes, memory_order_relaxed);
            return 0;
        }
        if ((k == KEY_EMPTY || k == KEY_GONE) && at == TT_CAP)
            at = i;
        if (k == KEY_EMPTY)
            break;
    }
    if (at == TT_CAP)
        return -1;
    atomic_store_explicit(&t->slots[at].bytes, bytes, memory_order_relaxed);
    atomic_store_explicit(&t->slots[at].key, key, memory_order_release);
    return 0;
}

/* Takes (or finds) key in the tables of other threads. */
static int tt_others(const struct tt *mine, uint64_t key, uint64_t *bytes, int take)
{
    for (struct tt *t = atomic_load_explicit(&tt_head, memory_order_acquire); t; t = t->next)
        if (t != mine && tt_lookup(t, key, bytes, take, 0))
            return 1;
    return 0;
}

static int dptr_take(uint64_t key, uint64_t *bytes, int take)
{
    struct tt *t = my_tt;
    if (t && tt_lookup(t, key, bytes, take, 1))
        return 1;
    if (tt_others(t, key, bytes, take))
        return 1;
    if (!atomic_load_explicit(&spilled, memory_order_relaxed))
        return 0;
    if (!take)
        return global_find(FAST_KIND, key, bytes);
    if (!global_take(FAST_KIND, key, bytes))
        return 0;
    atomic_fetch_sub_explicit(&spilled, 1, memory_order_relaxed);
    return 1;
}

static int dptr_insert(uint64_t key, uint64_t bytes, uint64_t *stale)
{
    struct tt *t = my_tt;
    if (GPX_PT_UNLIKELY(!t))
        t = tt_mine_slow();
    /* A record elsewhere of an address handed out again: taken out (its bytes are stale). */
    uint64_t elsewhere = 0, here = 0;
    if (!tt_others(t, key, &elsewhere, 1) &&
        GPX_PT_UNLIKELY(atomic_load_explicit(&spilled, memory_order_relaxed)) &&
        global_take(FAST_KIND, key, &elsewhere))
        atomic_fetch_sub_explicit(&spilled, 1, memory_order_relaxed);
    int rc = 0;
    if (!t || tt_insert(t, key, bytes, &here) != 0) {
        /* counted before it is there: a take that misses every thread's table then looks */
        atomic_fetch_add_explicit(&spilled, 1, memory_order_relaxed);
        rc = global_insert(FAST_KIND, key, bytes, &here);
        if (rc != 0)
            atomic_fetch_sub_explicit(&spilled, 1, memory_order_relaxed);
    }
    *stale = elsewhere + here;
    return rc;
}

int gpx__pt_insert(uint32_t kind, uint64_t key, uint64_t bytes, uint64_t *stale)
{
    *stale = 0;
    if (!fast_kind(kind, key))
        return global_insert(kind, key, bytes, stale);
    return dptr_insert(key, bytes, stale);
}

int gpx__pt_take(uint32_t kind, uint64_t key, uint64_t *bytes)
{
    if (!fast_kind(kind, key))
        return global_take(kind, key, bytes);
    return dptr_take(key, bytes, 1);
}

int gpx__pt_find(uint32_t kind, uint64_t key, uint64_t *bytes)
{
    if (!fast_kind(kind, key))
        return global_find(kind, key, bytes);
    return dptr_take(key, bytes, 0);
}

uint64_t gpx__pt_count(void)
{
    uint64_t n = global_count();
    for (struct tt *t = atomic_load_explicit(&tt_head, memory_order_acquire); t; t = t->next)
        for (uint32_t i = 0; i < TT_CAP; i++)
            n += atomic_load_explicit(&t->slots[i].key, memory_order_relaxed) > KEY_BUSY;
    return n;
}

uint64_t gpx__pt_tables(void)
{
    uint64_t n = 0;
    for (struct tt *t = atomic_load_explicit(&tt_head, memory_order_acquire); t; t = t->next)
        n++;
    return n;
}

uint64_t gpx__pt_owned(void)
{
    uint64_t n = 0;
    for (struct tt *t = atomic_load_explicit(&tt_head, memory_order_acquire); t; t = t->next)
        n += atomic_load_explicit(&t->owned, memory_order_relaxed) != 0;
    return n;
}

uint64_t gpx__pt_spilled(void)
{
    return atomic_load_explicit(&spilled, memory_order_relaxed);
}

void gpx__pt_fork_prepare(void)
{
    pthread_mutex_lock(&tt_mu);
    for (unsigned i = 0; i < SHARDS; i++)
        pthread_mutex_lock(&shards[i].mu);
}

void gpx__pt_fork_parent(void)
{
    for (unsigned i = SHARDS; i-- > 0;)
        pthread_mutex_unlock(&shards[i].mu);
    pthread_mutex_unlock(&tt_mu);
}

void gpx__pt_fork_child(void)
{
    /* The parent's objects are not the child's: CUDA state does not survive fork. */
    memset(fast, 0, sizeof fast);
    atomic_store(&overflow, 0);
    atomic_store(&spilled, 0);
    /* Only the forking thread lives on: its table stays its own, the others are free. */
    for (struct tt *t = atomic_load(&tt_head); t; t = t->next) {
        memset(t->slots, 0, sizeof t->slots);
        atomic_store(&t->owned, t == my_tt);
    }
    pthread_mutex_unlock(&tt_mu);
    for (unsigned i = 0; i < SHARDS; i++) {
        if (shards[i].slots)
            memset(shards[i].slots, 0, (size_t)shards[i].cap * sizeof(struct entry));
        shards[i].count = 0;
        pthread_mutex_unlock(&shards[i].mu);
    }
}
