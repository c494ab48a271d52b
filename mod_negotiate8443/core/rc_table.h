/*
 * rc_table.h - the replay cache's bucket table, as plain code over plain
 * memory (the module puts it in shared memory, under its own lock; the
 * unit tests in a buffer).
 *
 * Each bucket holds N8443_RC_TABLE_SLOTS slots of { key, expires }.  A key
 * may live in one of two buckets (chosen from two independent halves of
 * it); it goes into the emptier one.  With two choices a table fills
 * almost completely before any bucket overflows, and a lookup reads at
 * most 16 slots.  A slot whose expires <= now is free (0: never used).
 * Nothing live is ever evicted: a full table says so, and the caller
 * fails closed.
 */
#ifndef N8443_RC_TABLE_H
#define N8443_RC_TABLE_H

#include <stddef.h>
#include <stdint.h>

#define N8443_RC_TABLE_SLOTS 8
/* Length of a stored key: the first half of the SHA-256 replay key. */
#define N8443_RC_TABLE_KEY_LEN 16

typedef struct {
    unsigned char key[N8443_RC_TABLE_KEY_LEN];
    int64_t expires; /* same unit as the callers' now */
} n8443_rc_slot;

typedef struct {
    uint32_t nbuckets;
    n8443_rc_slot *slots; /* nbuckets * N8443_RC_TABLE_SLOTS */
} n8443_rc_table;

/* Buckets for a table of at least `entries` entries (at least one). */
uint64_t n8443_rc_table_buckets(uint64_t entries);

/* Is key live in t at now?  1: yes (a replay).  0: no, and *slot is where
 * it would go (NULL: both its buckets are full of live entries). */
int n8443_rc_table_lookup(const n8443_rc_table *t, const unsigned char *key,
                          int64_t now, n8443_rc_slot **slot);

/* Store key in slot (from n8443_rc_table_lookup) until expires. */
void n8443_rc_table_store(n8443_rc_slot *slot, const unsigned char *key,
                          int64_t expires);

/* Live entries at now. */
uint64_t n8443_rc_table_live(const n8443_rc_table *t, int64_t now);

#endif /* N8443_RC_TABLE_H */
