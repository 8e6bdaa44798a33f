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
#include <stdlib.h>
#include <string.h>

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

int gpx__pt_insert(uint32_t kind, uint64_t key, uint64_t bytes, uint64_t *stale)
{
    uint64_t h = mix(kind, key);
    struct shard *s = shard_of(h);
    int rc = 0;
    *stale = 0;
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

int gpx__pt_take(uint32_t kind, uint64_t key, uint64_t *bytes)
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

int gpx__pt_find(uint32_t kind, uint64_t key, uint64_t *bytes)
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

uint64_t gpx__pt_count(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < SHARDS; i++) {
        pthread_mutex_lock(&shards[i].mu);
        n += shards[i].count;
        pthread_mutex_unlock(&shards[i].mu);
    }
    return n;
}

void gpx__pt_fork_prepare(void)
{
    for (unsigned i = 0; i < SHARDS; i++)
        pthread_mutex_lock(&shards[i].mu);
}

void gpx__pt_fork_parent(void)
{
    for (unsigned i = SHARDS; i-- > 0;)
        pthread_mutex_unlock(&shards[i].mu);
}

void gpx__pt_fork_child(void)
{
    /* The parent's objects are not the child's: CUDA state does not survive fork. */
    for (unsigned i = 0; i < SHARDS; i++) {
        if (shards[i].slots)
            memset(shards[i].slots, 0, (size_t)shards[i].cap * sizeof(struct entry));
        shards[i].count = 0;
        pthread_mutex_unlock(&shards[i].mu);
    }
}
