/*
 * The interposer's table of what it counted: (kind, key) -> bytes, where key
 * is a device pointer, a cuMemCreate handle, an array, a mipmapped array or
 * an external-memory handle. A free looks its object up here; what is not
 * here was not counted and passes straight through.
 *
 * Device pointers (GPX_IP_KIND_DPTR, every cuMemAlloc/cuMemFree) live first
 * in a table of the allocating thread's own: plain loads and stores, no
 * atomic read-modify-write unless the free comes from another thread (see
 * ptrtable.c for why that is exact, and why a free and a re-allocation of
 * one address by two threads cannot meet a stale record). Those that find
 * no room there go to a fixed lock-free table (one CAS to insert, one to
 * take). Everything else, and the pointers that find no room there either,
 * go to open addressing (linear probing,
 * backward-shift deletion, no tombstones) in 16 shards, each behind its own
 * mutex, so threads allocating at once rarely meet. Nothing is allocated
 * except when a shard grows; a shard starts with inline slots.
 */
#ifndef GPX_INTERPOSE_PTRTABLE_H
#define GPX_INTERPOSE_PTRTABLE_H

#include <stdint.h>

/*
 * Records `bytes` for (kind, key). If the key was already there (the driver
 * handed out an address we still held: its old object went away by a path
 * we do not see, such as a context destroy), the old entry is replaced and
 * its bytes are returned in *stale (else 0). Returns 0, or -1 when the table
 * could not grow (nothing recorded; an old entry it took out is still
 * returned in *stale).
 */
int gpx__pt_insert(uint32_t kind, uint64_t key, uint64_t bytes, uint64_t *stale);
/* Removes (kind, key); returns 1 and its bytes in *bytes, or 0 if absent. */
int gpx__pt_take(uint32_t kind, uint64_t key, uint64_t *bytes);
/* 1 if (kind, key) is recorded (its bytes in *bytes when not NULL). */
int gpx__pt_find(uint32_t kind, uint64_t key, uint64_t *bytes);
/* Number of entries (tests and debug logging). */
uint64_t gpx__pt_count(void);
/* Per-thread tables ever made, and device pointers recorded in the global tables (tests). */
uint64_t gpx__pt_tables(void);
uint64_t gpx__pt_spilled(void);
/* Per-thread tables owned by a thread (tests: an exited thread's table is free to adopt). */
uint64_t gpx__pt_owned(void);

/* pthread_atfork handlers: the child starts with an empty table. */
void gpx__pt_fork_prepare(void);
void gpx__pt_fork_parent(void);
void gpx__pt_fork_child(void);

#endif
