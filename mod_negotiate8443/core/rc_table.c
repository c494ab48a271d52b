/*
 * rc_table.c - the replay cache's bucket table (rc_table.h).
 */
#include "rc_table.h"

#include <string.h>

uint64_t n8443_rc_table_buckets(uint64_t entries)
{
    uint64_t n = (entries + N8443_RC_TABLE_SLOTS - 1) / N8443_RC_TABLE_SLOTS;

    return n == 0 ? 1 : n;
}

static n8443_rc_slot *bucket_of(const n8443_rc_table *t,
                                const unsigned char *key, int which)
{
    const unsigned char *p = key + (which ? 8 : 0);
    uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return t->slots + (size_t)(v % t->nbuckets) * N8443_RC_TABLE_SLOTS;
}

/* Look for key in one bucket; remember a free slot on the way. */
static int bucket_scan(n8443_rc_slot *b, const unsigned char *key, int64_t now,
                       n8443_rc_slot **free_slot, int *free_count)
{
    int i;

    for (i = 0; i < N8443_RC_TABLE_SLOTS; i++) {
        if (b[i].expires > now) {
            if (memcmp(b[i].key, key, N8443_RC_TABLE_KEY_LEN) == 0)
                return 1;
        }
        else {
            if (*free_slot == NULL)
                *free_slot = &b[i];
            (*free_count)++;
        }
    }
    return 0;
}

int n8443_rc_table_lookup(const n8443_rc_table *t, const unsigned char *key,
                          int64_t now, n8443_rc_slot **slot)
{
    n8443_rc_slot *b1 = bucket_of(t, key, 0), *b2 = bucket_of(t, key, 1);
    n8443_rc_slot *free1 = NULL, *free2 = NULL;
    int n1 = 0, n2 = 0;

    *slot = NULL;
    if (bucket_scan(b1, key, now, &free1, &n1)
        || (b2 != b1 && bucket_scan(b2, key, now, &free2, &n2)))
        return 1;
    /* The emptier bucket. */
    *slot = n2 > n1 ? free2 : free1;
    if (*slot == NULL)
        *slot = free1 ? free1 : free2;
    return 0;
}

void n8443_rc_table_store(n8443_rc_slot *slot, const unsigned char *key,
                          int64_t expires)
{
    memcpy(slot->key, key, N8443_RC_TABLE_KEY_LEN);
    slot->expires = expires;
}

uint64_t n8443_rc_table_live(const n8443_rc_table *t, int64_t now)
{
    uint64_t i, n = 0, total = (uint64_t)t->nbuckets * N8443_RC_TABLE_SLOTS;

    for (i = 0; i < total; i++)
        if (t->slots[i].expires > now)
            n++;
    return n;
}
