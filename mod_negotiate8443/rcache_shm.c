/*
 * rcache_shm.c - the replay cache in shared memory: one table for every
 * child process and thread of the instance.
 *
 * The segment is a file (rcache_file.c), mapped once in the process pool of
 * the parent: a graceful restart keeps the mapping (the pconf pool does
 * not survive it), and a full stop/start or a crash of every process keeps
 * the file, whose header says whether its contents still fit this module
 * and configuration.  Children inherit the mapping through fork() and
 * re-attach the mutex in child_init.
 *
 * The watermark: the header keeps the table's birth time, since when it
 * remembers every authenticator it was shown.  A table started empty (first
 * start, another layout, size or file, a host reboot) is born now; an
 * authenticator made before may have been seen by a table that is gone,
 * and is refused (N8443_RC_FORGOTTEN).  Layout: rcache_shm.h.  The buckets
 * are core/rc_table.c's (two choices per key, nothing live evicted).  When
 * neither bucket of a key has a free or expired slot the cache is full of
 * live entries: the caller fails closed (503) and the log says how to size
 * it, because evicting a live entry would let its token be replayed.
 *
 * So that one principal cannot fill the table (and lock everybody out),
 * each login is also counted for its principal, and a principal that made
 * NegotiateReplayCacheQuota logins within the retention is refused (429)
 * before it takes a slot - nobody's entry is ever evicted.  The counts are
 * a count-min sketch keyed with a random key: never below the true count,
 * above it only when every one of four cells is shared with heavy users,
 * and not steerable by someone who picks principal names.  The sketch has
 * one plane per time window (retention / 7 seconds); the planes of the
 * last 8 windows cover every entry that can still be live.
 */
#include "n8443_private.h"
#include "rcache_provider.h"
#include "rc_table.h"
#include "sha256.h"

#include "apr_atomic.h"
#include "util_mutex.h"

#include <openssl/rand.h>

#include <unistd.h>

#include "rcache_shm.h"

#define RC_MUTEX_TYPE "negotiate8443-rcache"

/* An apr_time_t as RFC 3339 (UTC, milliseconds). */
static const char *born_text(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t x;

    if (apr_time_exp_gmt(&x, t) != APR_SUCCESS)
        return "?";
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                        x.tm_year + 1900, x.tm_mon + 1, x.tm_mday, x.tm_hour,
                        x.tm_min, x.tm_sec, x.tm_usec / 1000);
}

static rc_header *table; /* in the shared segment */
static n8443_rc_file *table_file;
static rc_quota *quota;
static n8443_rc_table buckets; /* slots: after rc_quota */
static apr_global_mutex_t *table_lock;
static n8443_hmac_key *who_mac; /* table->who_key's, this child's */
static const char *table_lock_file;

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
        rv = ap_global_mutex_create(&h->mutex, &h->file, RC_MUTEX_TYPE, NULL, s,
                                    process_pool, 0);
        if (rv != APR_SUCCESS) {
            ap_log_error(
                APLOG_MARK, APLOG_EMERG, rv, s,
                N8443LOGNO(052) "cannot create the replay cache mutex");
            return rv;
        }
        apr_pool_userdata_set(h, userdata_key, apr_pool_cleanup_null,
                              process_pool);
    }
    table_lock = h->mutex;
    table_lock_file = h->file;
    return APR_SUCCESS;
}

/* Can the file's contents be used?  NULL, or why not. */
static const char *header_misfit(const rc_header *h, apr_size_t bytes,
                                 apr_uint64_t nbuckets, const char *boot)
{
    if (h->magic != RC_MAGIC || h->layout != RC_LAYOUT
        || h->header_bytes != sizeof(rc_header) || h->bytes != bytes)
        return "made by another version of the module (layout)";
    if (h->nbuckets != nbuckets)
        return "made for another NegotiateReplayCacheSize";
    if (h->born <= 0)
        return "never completed";
    if (*boot != '\0' && memcmp(h->boot_id, boot, sizeof(h->boot_id)) != 0)
        return "made before the host rebooted";
    return NULL;
}

static void attach(n8443_rc_file *f)
{
    table = f->base;
    table_file = f;
    quota = (rc_quota *)(table + 1);
    buckets.nbuckets = table->nbuckets;
    buckets.slots = (n8443_rc_slot *)(quota + 1);
}

/*
 * A kept table, or one a new run of the instance attaches: does it still
 * remember what this configuration needs?  NULL, or the memory it lost
 * (then it is young again: the watermark is now; entries stay).  Its
 * entries expire after the retention of the run that stored them: a
 * longer one now (NegotiateClockSkew raised) would accept tokens whose
 * entries expired.  Another set of stores (a vhost moved to or from
 * memcached or Redis) did not see the tokens used through the other one.
 * A clock that went back (before the last reading) may have let live
 * slots be reused while it was ahead.  Caller holds no lock: start-up.
 */
static const char *lost_memory(apr_time_t now)
{
    const char *why = NULL;

    if (table->retention < n8443_rc_retention())
        why = "NegotiateClockSkew raised (its entries expire too early)";
    else if (table->stores != n8443_rc_stores_sig())
        why = "the vhosts' NegotiateReplayCache changed";
    else if (now + apr_time_from_sec(1) < table->last_seen)
        why = "the clock went back";
    table->retention = n8443_rc_retention();
    table->stores = n8443_rc_stores_sig();
    table->last_seen = now;
    if (why != NULL && table->born < now)
        table->born = now;
    return why;
}

/* The latest of now, the old table's last clock reading and its newest
 * entry's store time: a new table's watermark when an old one (same
 * layout, readable) is discarded, so that a clock behind at boot does not
 * date the watermark before what the old table remembered. */
static apr_time_t newest_of(const rc_header *old, apr_time_t now)
{
    apr_time_t t = now;
    apr_uint64_t i, n;

    if (old->magic != RC_MAGIC || old->layout != RC_LAYOUT
        || old->header_bytes != sizeof(rc_header))
        return t;
    if (old->last_seen > t)
        t = old->last_seen;
    n = (apr_uint64_t)old->nbuckets * RC_SLOTS;
    if (old->bytes != table_file->bytes
        || n
               != (table_file->bytes - sizeof(rc_header) - sizeof(rc_quota))
                      / sizeof(n8443_rc_slot))
        return t;
    for (i = 0; i < n; i++) {
        const n8443_rc_slot *sl =
            (const n8443_rc_slot *)((const rc_quota *)(old + 1) + 1) + i;

        if (sl->expires - old->retention > t)
            t = sl->expires - old->retention;
    }
    return t;
}

/*
 * Map the table for `entries` entries from its file: keep what a previous
 * run of the instance stored there when the header says it fits (a full
 * restart, a crash), else start empty with a new watermark.  A graceful
 * restart keeps the mapping the process already has.
 */
static apr_status_t shm_create(apr_pool_t *process_pool, server_rec *s,
                               apr_uint64_t entries)
{
    static const char userdata_key[] = "negotiate8443-rcache-file";
    const char *path = n8443_rc_file_path(process_pool);
    char boot[sizeof(((rc_header *)0)->boot_id)];
    const char *misfit;
    n8443_rc_file *f = NULL;
    apr_uint64_t nbuckets;
    apr_time_t born;
    apr_size_t bytes;
    apr_status_t rv;
    void *data;

    rv = n8443_rc_file_dir_check(process_pool, s, path);
    if (rv != APR_SUCCESS)
        return rv;
    rv = attach_lock(process_pool, s);
    if (rv != APR_SUCCESS)
        return rv;

    nbuckets = n8443_rc_table_buckets(entries);
    if (nbuckets > APR_UINT32_MAX)
        return APR_ENOMEM;
    bytes = sizeof(rc_header) + sizeof(rc_quota)
            + (apr_size_t)nbuckets * RC_SLOTS * sizeof(n8443_rc_slot);
    n8443_rc_boot_id(boot, sizeof(boot));

    apr_pool_userdata_get(&data, userdata_key, process_pool);
    if (data != NULL) {
        f = data;
        if (strcmp(f->path, path) == 0 && f->bytes == bytes
            && header_misfit(f->base, bytes, nbuckets, "") == NULL) {
            n8443_rc_set_first_start(f->created);
            attach(f);
            misfit = lost_memory(apr_time_now());
            if (misfit != NULL)
                ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                             N8443LOGNO(450) "replay cache: %s: it "
                             "remembers since now (%s), and refuses "
                             "authenticators made before",
                             misfit, born_text(process_pool, table->born));
            return APR_SUCCESS; /* graceful restart: keep the entries */
        }
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     N8443LOGNO(050) "NegotiateReplayCacheSize or "
                     "NegotiateReplayCacheFile "
                     "changed: the replay cache starts empty");
        /* Old children may still use the old mapping: a new file (inode)
         * for the new generation, the old one goes with them (the parent
         * lets go: a change back would wait for its own lock). */
        if (strcmp(f->path, path) == 0)
            unlink(path);
        n8443_rc_file_close(f);
    }

    rv = n8443_rc_file_map(process_pool, s, path, bytes, &f);
    if (rv != APR_SUCCESS)
        return rv;
    apr_pool_userdata_set(f, userdata_key, apr_pool_cleanup_null, process_pool);
    /* data: another table served till now (one kept is older): empty. */
    misfit = data != NULL ? "another table served until now"
             : f->kept    ? header_misfit(f->base, bytes, nbuckets, boot)
                          : "new or resized";
    if (misfit == NULL) {
        attach(f);
        /* The counters count this run; the entries and watermark stay. */
        memset(&table->stats, 0, sizeof(table->stats));
        table->errors = 0;
        misfit = lost_memory(apr_time_now());
        ap_log_error(APLOG_MARK, misfit ? APLOG_NOTICE : APLOG_INFO, 0, s,
                     N8443LOGNO(306) "replay cache: %s kept, %" APR_UINT64_T_FMT
                     " live "
                     "entries; it remembers since %s%s%s",
                     path, n8443_rc_table_live(&buckets, apr_time_now()),
                     born_text(process_pool, table->born), misfit ? ": " : "",
                     misfit ? misfit : "");
        return APR_SUCCESS;
    }

    table_file = f;
    n8443_rc_set_first_start(f->created);
    born = newest_of(f->base, apr_time_now()) - n8443_rc_cold_margin();
    table = f->base;
    table->magic = 0;
    memset(table, 0, bytes);
    table->layout = RC_LAYOUT;
    table->header_bytes = sizeof(rc_header);
    table->bytes = bytes;
    table->nbuckets = (apr_uint32_t)nbuckets;
    table->capacity = nbuckets * RC_SLOTS;
    memcpy(table->boot_id, boot, sizeof(table->boot_id));
    if (RAND_bytes(table->who_key, sizeof(table->who_key)) != 1) {
        table = NULL;
        return APR_EGENERAL;
    }
    /* The watermark: authenticators made before now may have been seen
     * by a table that is gone. */
    table->born = born;
    table->last_seen = born;
    table->retention = n8443_rc_retention();
    table->stores = n8443_rc_stores_sig();
    table->magic = RC_MAGIC;
    attach(f);
    ap_log_error(APLOG_MARK, f->kept ? APLOG_NOTICE : APLOG_INFO, 0, s,
                 N8443LOGNO(053) "replay cache: %s, %" APR_UINT64_T_FMT
                 " entries (%" APR_SIZE_T_FMT
                 " bytes), starts empty (%s): it remembers "
                 "since %s, and refuses authenticators made before",
                 path, table->capacity, bytes, misfit,
                 born_text(process_pool, table->born));
    return APR_SUCCESS;
}

/* Always created: it also holds the instance's counters and the quota. */
static int shm_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                           apr_uint64_t entries)
{
    apr_status_t rv = shm_create(s->process->pool, s, entries);

    n8443_stats_attach(table != NULL ? &table->stats : NULL);
    return rv == APR_SUCCESS ? OK : !OK;
}

static void shm_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    if (table_lock == NULL)
        return;
    /* Without it n8443_rc_shm_who fails: logins refused (503). */
    n8443_hmac_key_free(who_mac);
    who_mac = table != NULL
                  ? n8443_hmac_key_new(table->who_key, sizeof(table->who_key))
                  : NULL;
    rv = apr_global_mutex_child_init(&table_lock, table_lock_file, pchild);
    if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     N8443LOGNO(056) "cannot attach the replay cache mutex; "
                     "logins in this "
                     "process will be refused (503)");
}

/* ------------------------------------------------ per-principal quota */

int n8443_rc_shm_who(const char *principal, n8443_rc_who *who)
{
    unsigned char md[N8443_SHA256_LEN];
    int i;

    if (table == NULL
        || n8443_hmac_sha256(who_mac, principal, strlen(principal), md) != 0)
        return 0;
    for (i = 0; i < RC_QROWS; i++)
        who->idx[i] =
            (((apr_uint32_t)md[2 * i] << 8) | md[2 * i + 1]) % RC_QWIDTH;
    who->tag = 0;
    for (i = 8; i < 16; i++)
        who->tag = (who->tag << 8) | md[i];
    return 1;
}

/* Seconds per window: 8 windows of this length cover the retention. */
static apr_int64_t window_len(void)
{
    apr_int64_t ret = apr_time_sec(n8443_rc_retention());
    apr_int64_t len = (ret + RC_QWINDOWS - 2) / (RC_QWINDOWS - 1);

    return len > 0 ? len : 1;
}

long n8443_rc_shm_window(void)
{
    return (long)window_len();
}

/* The logins of who that may still be live (caller holds the lock). */
static apr_uint64_t quota_estimate(const n8443_rc_who *who, apr_time_t now)
{
    apr_int64_t wn = apr_time_sec(now) / window_len();
    apr_uint64_t best = 0;
    int row, w;

    for (row = 0; row < RC_QROWS; row++) {
        apr_uint64_t sum = 0;

        for (w = 0; w < RC_QWINDOWS; w++)
            if (quota->epoch[w] > wn - RC_QWINDOWS && quota->epoch[w] <= wn)
                sum += quota->cell[w][row][who->idx[row]];
        if (row == 0 || sum < best)
            best = sum;
    }
    return best;
}

/* Count one stored login of who (caller holds the lock). */
static void quota_add(const n8443_rc_who *who, apr_time_t now)
{
    apr_int64_t wn = apr_time_sec(now) / window_len();
    int w = (int)(wn % RC_QWINDOWS), row;

    if (quota->epoch[w] != wn) {
        memset(quota->cell[w], 0, sizeof(quota->cell[w]));
        quota->epoch[w] = wn;
    }
    for (row = 0; row < RC_QROWS; row++)
        if (quota->cell[w][row][who->idx[row]] < APR_UINT32_MAX)
            quota->cell[w][row][who->idx[row]]++;
}

/* Over quota: should this refusal be logged (once per principal per
 * RC_QLOG_INTERVAL, across all children)?  Caller holds the lock. */
static int quota_log_due(const n8443_rc_who *who, apr_time_t now)
{
    rc_quota_log *l = &table->qlog[who->tag % RC_QLOG];
    apr_int64_t sec = apr_time_sec(now);

    if (l->tag == who->tag && sec - l->logged < RC_QLOG_INTERVAL)
        return 0;
    l->tag = who->tag;
    l->logged = sec;
    return 1;
}

static n8443_rc_result lock_table(request_rec *r)
{
    apr_status_t rv;

    if (table == NULL || table_lock == NULL)
        return N8443_RC_UNAVAILABLE;
    rv = apr_global_mutex_lock(table_lock);
    if (rv != APR_SUCCESS) {
        apr_atomic_inc32(&table->errors);
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, rv, r,
            N8443LOGNO(054) "cannot lock the replay cache: login refused");
        return N8443_RC_UNAVAILABLE;
    }
    return N8443_RC_FRESH;
}

n8443_rc_result n8443_rc_shm_quota_check(request_rec *r,
                                         const n8443_rc_who *who,
                                         apr_uint64_t q, apr_time_t now,
                                         int *log_quota)
{
    n8443_rc_result result;

    *log_quota = 0;
    if (lock_table(r) != N8443_RC_FRESH)
        return N8443_RC_UNAVAILABLE;
    result = N8443_RC_FRESH;
    if (quota_estimate(who, now) >= q) {
        result = N8443_RC_QUOTA;
        *log_quota = quota_log_due(who, now);
    }
    apr_global_mutex_unlock(table_lock);
    return result;
}

void n8443_rc_shm_quota_count(request_rec *r, const n8443_rc_who *who,
                              apr_time_t now)
{
    if (lock_table(r) != N8443_RC_FRESH)
        return;
    quota_add(who, now);
    apr_global_mutex_unlock(table_lock);
}

/*
 * Under one lock: a replay is refused (and not counted against the
 * principal, so that replaying someone's token cannot lock them out); a
 * principal over its quota is refused without taking a slot; else the key
 * is stored, or the table is full of live entries.
 */
static n8443_rc_result shm_add(request_rec *r, const unsigned char *key,
                               const n8443_rc_who *who, apr_uint64_t q,
                               apr_time_t now, apr_time_t stamp,
                               apr_time_t *born, int *log_quota)
{
    n8443_rc_slot *target;
    n8443_rc_result result;

    *log_quota = 0;
    result = lock_table(r);
    if (result != N8443_RC_FRESH)
        return result;
    if (now + apr_time_from_sec(1) < table->last_seen) {
        /* The clock went back: while it was ahead, live entries looked
         * expired and their slots may have been reused.  Lost memory. */
        if (table->born < now)
            table->born = now;
        table->last_seen = now;
        ap_log_rerror(
            APLOG_MARK, APLOG_WARNING, 0, r,
            N8443LOGNO(451) "replay cache: the clock went back; it remembers "
            "since now, and refuses authenticators made before");
    }
    else if (now > table->last_seen + apr_time_from_sec(1)) {
        table->last_seen = now;
    }
    if (stamp < table->born) {
        *born = table->born;
        result = N8443_RC_FORGOTTEN;
    }
    else if (n8443_rc_table_lookup(&buckets, key, now, &target)) {
        result = N8443_RC_REPLAY;
    }
    else if (q != APR_UINT64_MAX && quota_estimate(who, now) >= q) {
        result = N8443_RC_QUOTA;
        *log_quota = quota_log_due(who, now);
    }
    else if (target == NULL) {
        result = N8443_RC_FULL;
    }
    else {
        /* The longer of this run's retention and the newest run's (old
         * children of a graceful restart that raised the skew). */
        apr_interval_time_t ret = n8443_rc_retention();

        n8443_rc_table_store(
            target, key,
            now + (table->retention > ret ? table->retention : ret));
        if (q != APR_UINT64_MAX) /* else counted by its own store */
            quota_add(who, now);
        result = N8443_RC_FRESH;
    }
    apr_global_mutex_unlock(table_lock);
    return result;
}

apr_time_t n8443_rc_shm_born(void)
{
    return table != NULL ? table->born : 0;
}

void n8443_rc_shm_usage(apr_uint64_t *live, apr_uint64_t *capacity)
{
    *live = 0;
    *capacity = 0;
    if (table == NULL)
        return;
    /* Unlocked: a count for a status page may be off by one or two. */
    *live = n8443_rc_table_live(&buckets, apr_time_now());
    *capacity = table->capacity;
}

static int shm_pre_config(apr_pool_t *pconf)
{
    return ap_mutex_register(pconf, RC_MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0)
                   == APR_SUCCESS
               ? OK
               : !OK;
}

static n8443_rc_result shm_check_and_store(request_rec *r, n8443_rc_conf *rc,
                                           const unsigned char *key,
                                           const n8443_rc_who *who,
                                           apr_uint64_t q, apr_time_t now,
                                           apr_time_t stamp, int *log_quota)
{
    n8443_rc_result res;
    apr_time_t born = 0;

    /* The watermark is checked under the lock (a clock that went back
     * moves it). */
    res = shm_add(r, key, who, q, now, stamp, &born, log_quota);
    if (res == N8443_RC_FORGOTTEN)
        n8443_rc_note_forgotten(r, born, stamp);

    if (res == N8443_RC_FULL)
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            N8443LOGNO(058) "replay cache full of live entries: login "
            "refused (503). Each login is kept for %ld s "
            "(2 x NegotiateClockSkew + 2 s); set "
            "NegotiateReplayCacheSize to at least peak "
            "logins per second x %ld",
            (long)apr_time_sec(n8443_rc_retention()),
            (long)apr_time_sec(n8443_rc_retention()));
    return res;
}

/* The status page: the file, the watermark, this run's lock failures. */
static void shm_status(request_rec *r, const n8443_rc_conf *rc)
{
    if (table == NULL) {
        ap_rputs(",\"shm\":{\"state\":\"unavailable\"}", r);
        return;
    }
    ap_rprintf(r,
               ",\"shm\":{\"state\":\"%s\",\"file\":\"%s\","
               "\"watermark\":\"%s\",\"watermark_unix\":%" APR_TIME_T_FMT
               ".%06ld,\"errors\":%u}",
               table_lock != NULL ? "ok" : "unavailable",
               ap_escape_quotes(r->pool, table_file->path),
               born_text(r->pool, table->born), apr_time_sec(table->born),
               (long)apr_time_usec(table->born),
               apr_atomic_read32(&table->errors));
}

const n8443_rc_provider n8443_rc_shm_provider = {
    "shm",          shm_pre_config,      shm_post_config,
    shm_child_init, shm_check_and_store, shm_status};
