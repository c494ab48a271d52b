/*
 * rcache.c - the replay cache: settings, sizing, and the one entry point
 * the exchange calls after Kerberos accepted a token.  See rcache.h.
 */
#include "n8443_private.h"
#include "rcache.h"

#include "apr_atomic.h"

n8443_instance_conf n8443_instance = { 300, 0, 0, 0 };

/* Logins per second the default size is made for (the contract). */
#define N8443_RC_DEFAULT_RATE 1000

static n8443_stats local_stats;     /* until the shared ones exist */

n8443_stats *n8443_stats_get(void)
{
    n8443_stats *st = n8443_rc_shm_stats();

    return st ? st : &local_stats;
}

/*
 * How long a replay key is kept: Kerberos takes an authenticator while
 * |now - ctime| <= skew in whole seconds, both ends included, so one first
 * seen at the start of its earliest good second (ctime = now + skew) is
 * good until the end of second ctime + skew: 2 x skew + 1 s after that
 * first use.  One more second covers memcached's once-a-second clock.
 */
apr_interval_time_t n8443_rc_retention(void)
{
    return apr_time_from_sec(2 * n8443_instance.clock_skew + 2);
}

const char *n8443_rc_krb5_store_name(const n8443_rc_conf *rc)
{
    return rc->backend == N8443_RC_KRB5 ? rc->krb5_name : "none:";
}

/* The shm table's capacity this generation (the default quota is 1%). */
static apr_uint64_t table_entries;

apr_uint64_t n8443_rc_quota(void)
{
    apr_uint64_t q;

    if (n8443_instance.quota != 0)
        return n8443_instance.quota;
    q = table_entries / 100;
    return q < 16 ? 16 : q;
}

int n8443_rcache_pre_config(apr_pool_t *pconf)
{
    return n8443_rc_shm_register_mutex(pconf);
}

/* The memcache_refuse[] word of rc's memcached list: one per distinct
 * list (asked: list -> slot + 1). */
static int slot_of(apr_hash_t *asked, const n8443_rc_conf *rc)
{
    long n = (long)apr_hash_get(asked, rc->memcache_servers,
                                APR_HASH_KEY_STRING);

    if (n == 0) {
        n = (long)apr_hash_count(asked) + 1;
        apr_hash_set(asked, rc->memcache_servers, APR_HASH_KEY_STRING,
                     (void *)n);
    }
    return (int)((n - 1) % N8443_MC_SLOTS);
}

/*
 * Ask every memcached list once (not once per vhost that shares it)
 * whether it evicts, and publish the answers for the children in the
 * shared segment: a memcached that evicts could drop the entry of a
 * token that is still valid, so logins through it are refused (503)
 * while it does.  Lists that share a word share a refusal.
 */
static void watch_memcached(apr_pool_t *p, server_rec *s, int startup)
{
    apr_uint32_t words[N8443_MC_SLOTS];
    n8443_stats *st = n8443_stats_get();
    apr_hash_t *asked = apr_hash_make(p);
    server_rec *vs;
    int i;

    memset(words, 0, sizeof(words));
    for (vs = s; vs != NULL; vs = vs->next) {
        const n8443_server_conf *sc =
            ap_get_module_config(vs->module_config, &negotiate8443_module);
        apr_uint32_t w;

        if (sc->rc.backend != N8443_RC_MEMCACHE
            || apr_hash_get(asked, sc->rc.memcache_servers,
                            APR_HASH_KEY_STRING) != NULL)
            continue;
        apr_hash_set(asked, sc->rc.memcache_servers, APR_HASH_KEY_STRING,
                     "");
        w = n8443_rc_memcache_watch(p, vs, &sc->rc, startup);
        if (words[sc->rc.memcache_slot] == 0)
            words[sc->rc.memcache_slot] = w;
    }
    for (i = 0; i < N8443_MC_SLOTS; i++)
        apr_atomic_set32(&st->memcache_refuse[i], words[i]);
}

int n8443_rcache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                             server_rec *s)
{
    apr_uint64_t entries = n8443_instance.size;
    server_rec *vs;
    apr_hash_t *asked = apr_hash_make(ptemp);
    /* httpd reads the configuration twice at start-up; memcached is
     * asked in the pass that goes on to serve. */
    int dry_run = ap_state_query(AP_SQ_MAIN_STATE)
                  == AP_SQ_MS_CREATE_PRE_CONFIG;

    if (entries == 0)
        entries = (apr_uint64_t)N8443_RC_DEFAULT_RATE * 2
                  * (apr_uint64_t)n8443_instance.clock_skew;
    /* Always created: it also holds the instance's counters. */
    if (n8443_rc_shm_create(s->process->pool, s, entries) != APR_SUCCESS)
        return !OK;
    table_entries = entries;

    for (vs = s; vs != NULL; vs = vs->next) {
        n8443_server_conf *sc =
            ap_get_module_config(vs->module_config, &negotiate8443_module);
        if (sc->rc.backend == N8443_RC_NONE)
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, vs, N8443LOGNO(055)
                         "NegotiateReplayCache none for %s:%u: replay "
                         "detection is OFF; a captured token can be "
                         "replayed for as long as the clock skew allows",
                         vs->server_hostname ? vs->server_hostname : "?",
                         (unsigned)vs->port);
        else if (sc->rc.backend == N8443_RC_MEMCACHE)
            sc->rc.memcache_slot = slot_of(asked, &sc->rc);
    }
    /* Before the first child: logins are refused from the first request
     * on if a memcached evicts. */
    if (!dry_run)
        watch_memcached(ptemp, s, 1);
    return OK;
}

/* Monitor hook (parent, about every 10 s): look at memcached once a
 * minute - does it evict, and did it? */
int n8443_rcache_monitor(apr_pool_t *p, server_rec *s)
{
    static apr_time_t last;
    apr_time_t now = apr_time_now();
    apr_pool_t *tmp;

    if (now - last < apr_time_from_sec(60)
        || apr_pool_create(&tmp, p) != APR_SUCCESS)
        return DECLINED;
    last = now;
    watch_memcached(tmp, s, 0);
    apr_pool_destroy(tmp);
    return DECLINED;
}

void n8443_rcache_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;
    server_rec *vs;

    rv = n8443_rc_shm_child_init(pchild, s);
    if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, N8443LOGNO(056)
                     "cannot attach the replay cache mutex; logins in this "
                     "process will be refused (503)");

    for (vs = s; vs != NULL; vs = vs->next) {
        n8443_server_conf *sc =
            ap_get_module_config(vs->module_config, &negotiate8443_module);
        if (sc->rc.backend != N8443_RC_MEMCACHE || sc->rc.memcache != NULL)
            continue;
        rv = n8443_rc_memcache_child_init(pchild, vs, &sc->rc);
        if (rv != APR_SUCCESS)
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, vs, N8443LOGNO(057)
                         "cannot set up the memcached client for %s",
                         sc->rc.memcache_servers);
    }
}

/* A principal over its quota: 429, and a line naming it (not more than
 * once a minute per principal, across the instance). */
static void log_quota(request_rec *r, const char *principal)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, N8443LOGNO(261)
                  "replay cache: %s made %" APR_UINT64_T_FMT " logins "
                  "within %ld s (NegotiateReplayCacheQuota): its further "
                  "logins are refused (429) until older ones expire, so "
                  "that it cannot fill the cache for everybody; counted "
                  "in the status page's quota_refused",
                  principal, n8443_rc_quota(),
                  (long)apr_time_sec(n8443_rc_retention()));
}

n8443_rc_result n8443_rcache_check_and_store(request_rec *r,
                                             n8443_rc_conf *rc,
                                             const unsigned char *key,
                                             const char *principal)
{
    apr_time_t now = apr_time_now();
    n8443_rc_result res;
    n8443_rc_who who;
    int do_log = 0;

    if (rc->backend != N8443_RC_SHM && rc->backend != N8443_RC_MEMCACHE)
        return N8443_RC_FRESH;  /* MIT's cache checked it, or nothing is */
    if (!n8443_rc_shm_who(principal, &who)) {
        apr_atomic_inc32(&n8443_stats_get()->backend_errors);
        return N8443_RC_UNAVAILABLE;
    }
    if (rc->backend == N8443_RC_SHM) {
        res = n8443_rc_shm_add(r, key, &who, n8443_rc_quota(), now,
                               now + n8443_rc_retention(), &do_log);
        if (res == N8443_RC_FULL)
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, N8443LOGNO(058)
                          "replay cache full of live entries: login "
                          "refused (503). Each login is kept for %ld s "
                          "(2 x NegotiateClockSkew + 2 s); set "
                          "NegotiateReplayCacheSize to at least peak "
                          "logins per second x %ld",
                          (long)apr_time_sec(n8443_rc_retention()),
                          (long)apr_time_sec(n8443_rc_retention()));
    }
    else {
        /* memcached answers replays; the quota (counted here, per
         * instance) keeps one principal from pushing others' entries
         * out of a memcached that evicts. */
        res = n8443_rc_shm_quota_check(r, &who, n8443_rc_quota(), now,
                                       &do_log);
        if (res == N8443_RC_FRESH) {
            res = n8443_rc_memcache_add(r, rc, key, n8443_rc_retention());
            if (res == N8443_RC_FRESH)
                n8443_rc_shm_quota_count(r, &who, now);
        }
    }
    if (res == N8443_RC_UNAVAILABLE)
        apr_atomic_inc32(&n8443_stats_get()->backend_errors);
    else if (res == N8443_RC_FULL)
        apr_atomic_inc32(&n8443_stats_get()->full);
    else if (res == N8443_RC_QUOTA) {
        apr_atomic_inc32(&n8443_stats_get()->quota_refused);
        if (do_log)
            log_quota(r, principal);
    }
    return res;
}
