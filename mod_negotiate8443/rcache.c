/*
 * rcache.c - the replay cache: settings, sizing, the quota, and the one
 * entry point the exchange calls after Kerberos accepted a token, handed
 * to the vhost's provider.  See rcache.h.
 */
#include "n8443_private.h"
#include "rcache_provider.h"

#include "apr_atomic.h"
#include "apr_lib.h"
#include "http_config.h"

#include <errno.h>
#include <stdlib.h>

/* Logins per second the default size is made for (the contract). */
#define N8443_RC_DEFAULT_RATE 1000

/* Every provider; each one's hooks run once per instance. */
static const n8443_rc_provider *const providers[] = {
    &n8443_rc_shm_provider,
    &n8443_rc_memcache_provider,
    &n8443_rc_redis_provider,
};
#define N_PROVIDERS (sizeof(providers) / sizeof(providers[0]))

/* The provider of a backend; NULL for krb5 and none (no check of ours). */
static const n8443_rc_provider *provider_of(n8443_rc_backend backend)
{
    switch (backend) {
    case N8443_RC_SHM: return &n8443_rc_shm_provider;
    case N8443_RC_MEMCACHE: return &n8443_rc_memcache_provider;
    case N8443_RC_REDIS: return &n8443_rc_redis_provider;
    default: return NULL;
    }
}

const char *n8443_rcache_name(const n8443_rc_conf *rc)
{
    if (rc->provider != NULL)
        return rc->provider->name;
    return rc->backend == N8443_RC_KRB5 ? "krb5" : "none";
}

int n8443_rcache_checks(const n8443_rc_conf *rc)
{
    return rc->provider != NULL && rc->provider->check_and_store != NULL;
}

const char *n8443_rc_krb5_store_name(const n8443_rc_conf *rc)
{
    return rc->backend == N8443_RC_KRB5 ? rc->krb5_name : "none:";
}

/* NegotiateReplayCacheFile PATH (global). */
const char *n8443_rc_set_file(cmd_parms *cmd, void *dconf, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err != NULL)
        return err;
    n8443_instance.rc_file =
        *arg ? ap_server_root_relative(cmd->pool, arg) : NULL;
    if (n8443_instance.rc_file == NULL)
        return apr_psprintf(cmd->pool, "%s: invalid path '%s'", cmd->cmd->name,
                            arg);
    return NULL;
}

/* NegotiateReplayCacheMargin SECONDS (global, 0 to 86400). */
const char *n8443_rc_set_margin(cmd_parms *cmd, void *dconf, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    char *end;
    long v;

    if (err != NULL)
        return err;
    errno = 0;
    v = strtol(arg, &end, 10);
    if (!apr_isdigit(*arg) || *end != '\0' || errno == ERANGE || v > 86400)
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a number of "
                            "seconds from 0 to 86400",
                            cmd->cmd->name, arg);
    n8443_instance.rc_margin = v;
    return NULL;
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

long n8443_rc_quota_retry_after(void)
{
    return n8443_rc_shm_window();
}

void n8443_rcache_usage(apr_uint64_t *live, apr_uint64_t *capacity)
{
    n8443_rc_shm_usage(live, capacity);
}

void n8443_rcache_status(request_rec *r, const n8443_rc_conf *rc)
{
    if (rc->provider != NULL && rc->provider->status != NULL)
        rc->provider->status(r, rc);
}

int n8443_rcache_pre_config(apr_pool_t *pconf)
{
    apr_size_t i;

    for (i = 0; i < N_PROVIDERS; i++)
        if (providers[i]->pre_config != NULL
            && providers[i]->pre_config(pconf) != OK)
            return !OK;
    return OK;
}

int n8443_rcache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                             server_rec *s)
{
    apr_uint64_t entries = n8443_instance.size;
    server_rec *vs;
    apr_size_t i;

    if (entries == 0)
        entries = (apr_uint64_t)N8443_RC_DEFAULT_RATE * 2
                  * (apr_uint64_t)n8443_instance.clock_skew;
    table_entries = entries;

    /* The backend of each vhost, chosen here once. */
    for (vs = s; vs != NULL; vs = vs->next) {
        n8443_server_conf *sc =
            ap_get_module_config(vs->module_config, &negotiate8443_module);

        sc->rc.provider = provider_of(sc->rc.backend);
        if (sc->rc.backend == N8443_RC_NONE)
            ap_log_error(
                APLOG_MARK, APLOG_WARNING, 0, vs,
                N8443LOGNO(055) "NegotiateReplayCache none for %s:%u: replay "
                "detection is OFF; a captured token can be "
                "replayed for as long as the clock skew allows",
                vs->server_hostname ? vs->server_hostname : "?",
                (unsigned)vs->port);
    }
    n8443_rc_sign_stores(s);
    /* The shm provider first: its segment also holds the counters. */
    for (i = 0; i < N_PROVIDERS; i++)
        if (providers[i]->post_config != NULL
            && providers[i]->post_config(pconf, ptemp, s, entries) != OK)
            return !OK;
    return OK;
}

/* Monitor hook (parent, about every 10 s). */
int n8443_rcache_monitor(apr_pool_t *p, server_rec *s)
{
    n8443_rc_memcache_monitor(p, s);
    return DECLINED;
}

void n8443_rcache_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_size_t i;

    for (i = 0; i < N_PROVIDERS; i++)
        if (providers[i]->child_init != NULL)
            providers[i]->child_init(pchild, s);
}

/* A principal over its quota: 429, and a line naming it (not more than
 * once a minute per principal, across the instance). */
static void log_quota(request_rec *r, const char *principal)
{
    ap_log_rerror(
        APLOG_MARK, APLOG_ERR, 0, r,
        N8443LOGNO(261) "replay cache: %s made %" APR_UINT64_T_FMT " logins "
        "within %ld s (NegotiateReplayCacheQuota): its further "
        "logins are refused (429) until older ones expire, so "
        "that it cannot fill the cache for everybody; counted "
        "in the status page's quota_refused",
        principal, n8443_rc_quota(), (long)apr_time_sec(n8443_rc_retention()));
}

int n8443_rcache_wants_stamp(const n8443_rc_conf *rc)
{
    apr_time_t born;

    if (!n8443_rcache_checks(rc))
        return 0;
    if (rc->backend != N8443_RC_SHM)
        return 1; /* a server may be born again at any time */
    born = n8443_rc_shm_born();
    return born == 0
           || born > apr_time_now()
                         - apr_time_from_sec(n8443_instance.clock_skew
                                             + n8443_rc_margin() + 2);
}

/* The replay cache lost its memory after the authenticator was made (at
 * `made`): a restart with a new table, a crash, a cache server restarted,
 * flushed or evicting, a failover.  The token may be a replay it can no
 * longer see: refused (401), and the client asks again with a fresh
 * authenticator. */
static void log_forgotten(request_rec *r, const n8443_rc_conf *rc,
                          const char *principal, apr_time_t made)
{
    char when[APR_RFC822_DATE_LEN], stamp[APR_RFC822_DATE_LEN];
    apr_time_t ignored, at = n8443_rcache_forgotten_at(r, &ignored);

    apr_rfc822_date(when, at);
    apr_rfc822_date(stamp, made);
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  N8443LOGNO(300) "the replay cache (%s) lost its memory at %s "
                  "(restart, crash, cache loss or failover), after the "
                  "authenticator of %s was made (%s, %.3f s before): "
                  "login refused; the client retries with a fresh "
                  "authenticator (a client whose clock is behind this "
                  "server's may be refused until it catches up)",
                  n8443_rcache_name(rc), when, principal, stamp,
                  (double)(at - made) / APR_USEC_PER_SEC);
    apr_atomic_inc32(&n8443_stats_get()->failures[N8443_CAUSE_FORGOTTEN]);
}

n8443_rc_result n8443_rcache_check_and_store(request_rec *r, n8443_rc_conf *rc,
                                             const unsigned char *key,
                                             const char *principal,
                                             apr_time_t stamp)
{
    apr_time_t now = apr_time_now(), made;
    n8443_rc_result res;
    n8443_rc_who who;
    int do_log = 0;

    /* Fail closed: the exchange asks only where n8443_rcache_checks. */
    if (!n8443_rcache_checks(rc) || !n8443_rc_shm_who(principal, &who)) {
        apr_atomic_inc32(&n8443_stats_get()->backend_errors);
        return N8443_RC_UNAVAILABLE;
    }
    /* Unknown (GSS-API accepted it and the keytab is not readable here):
     * the earliest stamp Kerberos would have accepted, so that it is
     * refused for a clock skew after the backend lost its memory.  But
     * with the shm table under GSS-Proxy every token this host accepted
     * also went through gssproxy's own replay cache (MIT's, on disk, kept
     * across httpd's restarts): a replay that our lost table no longer
     * sees is refused there, so the login is not held back. */
    if (stamp <= 0)
        stamp = rc->backend == N8443_RC_SHM && n8443_gssproxy_in_use()
                    ? now
                    : now - apr_time_from_sec(n8443_instance.clock_skew);
    /* A client whose clock runs ahead by d stamped the tokens it used in
     * the last d seconds before a loss after the loss: with a margin of
     * d they are refused too (and everybody's for d seconds longer). */
    made = stamp;
    stamp -= apr_time_from_sec(n8443_rc_margin());
    res = rc->provider->check_and_store(r, rc, key, &who, n8443_rc_quota(), now,
                                        stamp, &do_log);
    /* Vhosts with other stores (one keytab and SPN may serve them all):
     * the instance's shm table sees every vhost's tokens. */
    if (res == N8443_RC_FRESH && n8443_rc_mixed_stores()
        && rc->provider != &n8443_rc_shm_provider) {
        int ignored = 0;

        res = n8443_rc_shm_provider.check_and_store(
            r, rc, key, &who, APR_UINT64_MAX, now, stamp, &ignored);
    }
    if (res == N8443_RC_FORGOTTEN)
        log_forgotten(r, rc, principal, made);
    else if (res == N8443_RC_UNAVAILABLE)
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
