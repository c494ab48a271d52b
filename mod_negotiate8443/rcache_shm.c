/*
 * rcache_shm.c - the replay cache in shared memory: one table for every
 * child process and thread of the instance.
 *
 * The segment and its mutex are created once, in the process pool of the
 * parent, and so survive graceful restarts (the pconf pool does not): a
 * token used before a restart is still a replay after it.  Children inherit
 * the anonymous mapping through fork() and re-attach the mutex in
 * child_init.
 *
 * Layout of the segment:
 *
 *   +-------------------------------+
 *   | rc_header                     |  magic, geometry, shared counters
 *   +-------------------------------+
 *   | bucket 0: rc_slot[8]          |  rc_slot = { key[16], expires }
 *   | bucket 1: rc_slot[8]          |  expires == 0: never used
 *   | ...                           |  expires <= now: free for reuse
 *   | bucket nbuckets-1             |
 *   +-------------------------------+
 *
 * A key may live in one of two buckets (chosen from two independent parts
 * of the digest); it goes into the emptier one.  With two choices a table
 * fills almost completely before any bucket overflows, and a lookup reads
 * at most 16 slots.  When neither bucket has a free or expired slot the
 * cache is full of live entries: the caller fails closed (503) and the log
 * says how to size it, because evicting a live entry would let its token be
 * replayed.
 */
#include "n8443_private.h"
#include "rcache.h"

#include "apr_atomic.h"
#include "util_mutex.h"

#define RC_MAGIC          0x4e384443u   /* "N8DC" */
#define RC_SLOTS          8

typedef struct {
    unsigned char key[N8443_RC_KEY_LEN];
    apr_time_t expires;
} rc_slot;

typedef struct {
    apr_uint32_t magic;
    apr_uint32_t nbuckets;
    apr_uint64_t capacity;
    n8443_stats stats;
} rc_header;

#define RC_MUTEX_TYPE "negotiate8443-rcache"

static rc_header *table;        /* in the shared segment */
static rc_slot *slots;
static apr_global_mutex_t *table_lock;
static const char *table_lock_file;

static apr_uint32_t bucket_of(const unsigned char *key, int which)
{
    const unsigned char *p = key + (which ? 8 : 0);
    apr_uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return (apr_uint32_t)(v % table->nbuckets);
}

n8443_stats *n8443_rc_shm_stats(void)
{
    return table ? &table->stats : NULL;
}

/*
 * Create the segment for `entries` entries, or keep the one a previous
 * generation created if its size is still right.
 */
/*
 * The mutex lives as long as the segment, in the process pool: httpd
 * unloads and reloads DSO modules between configuration passes, so a
 * static would forget it while the segment (kept as pool user data)
 * would not.
 */
typedef struct {
    apr_global_mutex_t *mutex;
    const char *file;
} rc_lock_holder;

static apr_status_t attach_lock(apr_pool_t *process_pool, server_rec *s)
{
    static const char userdata_key[] = "negotiate8443-rcache-mutex";
    rc_lock_holder *h;
    apr_status_t rv;
    void *data;

    apr_pool_userdata_get(&data, userdata_key, process_pool);
    h = data;
    if (h == NULL) {
        h = apr_pcalloc(process_pool, sizeof(*h));
        rv = ap_global_mutex_create(&h->mutex, &h->file, RC_MUTEX_TYPE,
                                    NULL, s, process_pool, 0);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, N8443LOGNO(052)
                         "cannot create the replay cache mutex");
            return rv;
        }
        apr_pool_userdata_set(h, userdata_key, apr_pool_cleanup_null,
                              process_pool);
    }
    table_lock = h->mutex;
    table_lock_file = h->file;
    return APR_SUCCESS;
}

/*
 * Create the segment for `entries` entries, or keep the one a previous
 * generation created if its size is still right.
 */
apr_status_t n8443_rc_shm_create(apr_pool_t *process_pool, server_rec *s,
                                 apr_uint64_t entries)
{
    static const char userdata_key[] = "negotiate8443-rcache-shm";
    apr_shm_t *shm = NULL;
    apr_uint64_t nbuckets;
    apr_size_t bytes;
    apr_status_t rv;
    void *data;

    rv = attach_lock(process_pool, s);
    if (rv != APR_SUCCESS)
        return rv;

    nbuckets = (entries + RC_SLOTS - 1) / RC_SLOTS;
    if (nbuckets == 0)
        nbuckets = 1;

    apr_pool_userdata_get(&data, userdata_key, process_pool);
    if (data != NULL) {
        shm = data;
        table = apr_shm_baseaddr_get(shm);
        if (table->magic == RC_MAGIC && table->nbuckets == nbuckets) {
            slots = (rc_slot *)(table + 1);
            return APR_SUCCESS;      /* graceful restart: keep the entries */
        }
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, N8443LOGNO(050)
                     "NegotiateReplayCacheSize changed: the replay cache "
                     "starts empty");
        /* The old segment stays mapped until the process pool goes: old
         * children may still use it.  A restart that changes the size is
         * rare; this costs one segment. */
    }

    if (nbuckets > APR_UINT32_MAX)
        return APR_ENOMEM;
    bytes = sizeof(rc_header) + (apr_size_t)nbuckets * RC_SLOTS
                                * sizeof(rc_slot);
    rv = apr_shm_create(&shm, bytes, NULL, process_pool);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, N8443LOGNO(051)
                     "cannot create the replay cache in shared memory "
                     "(%" APR_SIZE_T_FMT " bytes); lower "
                     "NegotiateReplayCacheSize", bytes);
        return rv;
    }
    table = apr_shm_baseaddr_get(shm);
    memset(table, 0, bytes);
    table->nbuckets = (apr_uint32_t)nbuckets;
    table->capacity = nbuckets * RC_SLOTS;
    table->magic = RC_MAGIC;
    slots = (rc_slot *)(table + 1);
    apr_pool_userdata_set(shm, userdata_key, apr_pool_cleanup_null,
                          process_pool);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, N8443LOGNO(053)
                 "replay cache: shared memory, %" APR_UINT64_T_FMT
                 " entries (%" APR_SIZE_T_FMT " bytes)", table->capacity,
                 bytes);
    return APR_SUCCESS;
}

apr_status_t n8443_rc_shm_child_init(apr_pool_t *pchild, server_rec *s)
{
    if (table_lock == NULL)
        return APR_SUCCESS;
    return apr_global_mutex_child_init(&table_lock, table_lock_file, pchild);
}

/* Look for key in one bucket; remember a free slot on the way. */
static int bucket_scan(rc_slot *b, const unsigned char *key, apr_time_t now,
                       rc_slot **free_slot, int *free_count)
{
    int i;

    for (i = 0; i < RC_SLOTS; i++) {
        if (b[i].expires > now) {
            if (memcmp(b[i].key, key, N8443_RC_KEY_LEN) == 0)
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

n8443_rc_result n8443_rc_shm_add(request_rec *r, const unsigned char *key,
                                 apr_time_t now, apr_time_t expires)
{
    rc_slot *b1, *b2, *free1 = NULL, *free2 = NULL, *target;
    int n1 = 0, n2 = 0;
    n8443_rc_result result;
    apr_status_t rv;

    if (table == NULL || table_lock == NULL)
        return N8443_RC_UNAVAILABLE;
    b1 = slots + (apr_size_t)bucket_of(key, 0) * RC_SLOTS;
    b2 = slots + (apr_size_t)bucket_of(key, 1) * RC_SLOTS;

    rv = apr_global_mutex_lock(table_lock);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, N8443LOGNO(054)
                      "cannot lock the replay cache: login refused");
        return N8443_RC_UNAVAILABLE;
    }
    if (bucket_scan(b1, key, now, &free1, &n1)
        || (b2 != b1 && bucket_scan(b2, key, now, &free2, &n2))) {
        result = N8443_RC_REPLAY;
    }
    else {
        target = n2 > n1 ? free2 : free1;
        if (target == NULL)
            target = free1 ? free1 : free2;
        if (target == NULL) {
            result = N8443_RC_FULL;
        }
        else {
            memcpy(target->key, key, N8443_RC_KEY_LEN);
            target->expires = expires;
            result = N8443_RC_FRESH;
        }
    }
    apr_global_mutex_unlock(table_lock);
    return result;
}

void n8443_rc_shm_usage(apr_uint64_t *live, apr_uint64_t *capacity)
{
    apr_time_t now = apr_time_now();
    apr_uint64_t i, n = 0, total;

    *live = 0;
    *capacity = 0;
    if (table == NULL)
        return;
    total = table->capacity;
    /* Unlocked: a count for a status page may be off by one or two. */
    for (i = 0; i < total; i++)
        if (slots[i].expires > now)
            n++;
    *live = n;
    *capacity = total;
}

int n8443_rc_shm_register_mutex(apr_pool_t *pconf)
{
    return ap_mutex_register(pconf, RC_MUTEX_TYPE, NULL, APR_LOCK_DEFAULT,
                             0) == APR_SUCCESS ? OK : !OK;
}
