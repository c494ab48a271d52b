/*
 * status.c - SetHandler negotiate8443-status: the instance's counters as
 * one JSON document, for monitoring.  The counters live in the shared
 * replay-cache segment, so every child and thread adds to the same ones.
 */
#include "n8443_private.h"

#include "apr_atomic.h"

static const char *backend_name(n8443_rc_backend b)
{
    switch (b) {
    case N8443_RC_SHM:      return "shm";
    case N8443_RC_MEMCACHE: return "memcache";
    case N8443_RC_KRB5:     return "krb5";
    case N8443_RC_NONE:     return "none";
    }
    return "?";
}

int n8443_status_handler(request_rec *r)
{
    const n8443_server_conf *sc;
    n8443_stats *st;
    apr_uint64_t live, capacity;
    int i;

    if (r->handler == NULL || strcmp(r->handler, "negotiate8443-status"))
        return DECLINED;
    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;

    sc = ap_get_module_config(r->server->module_config,
                              &negotiate8443_module);
    st = n8443_stats_get();
    n8443_rc_shm_usage(&live, &capacity);

    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only)
        return OK;
    ap_rprintf(r, "{\"version\":\"%s\",\"logins\":%u,"
               "\"logins_fast_path\":%u,\"failures\":{", N8443_VERSION,
               apr_atomic_read32(&st->logins),
               apr_atomic_read32(&st->logins_fast_path));
    /* Causes in the order of n8443_cause, "none" left out. */
    for (i = 1; i < N8443_STAT_CAUSES; i++)
        ap_rprintf(r, "%s\"%s\":%u", i > 1 ? "," : "",
                   n8443_cause_name((n8443_cause)i),
                   apr_atomic_read32(&st->failures[i]));
    ap_rprintf(r, "},\"replay_cache\":{\"backend\":\"%s\",\"entries\":%"
               APR_UINT64_T_FMT ",\"capacity\":%" APR_UINT64_T_FMT
               ",\"full\":%u,\"backend_errors\":%u,"
               "\"retention_seconds\":%ld,\"quota_per_principal\":%"
               APR_UINT64_T_FMT ",\"quota_refused\":%u",
               backend_name(sc->rc.backend), live, capacity,
               apr_atomic_read32(&st->full),
               apr_atomic_read32(&st->backend_errors),
               (long)apr_time_sec(n8443_rc_retention()), n8443_rc_quota(),
               apr_atomic_read32(&st->quota_refused));
    if (sc->rc.backend == N8443_RC_MEMCACHE) {
        /* Asked now (1 s timeout per server): does it evict, and how
         * many items has it evicted since it started? */
        int on;
        apr_uint64_t ev;

        n8443_rc_memcache_probe(r->pool, sc->rc.memcache_servers, &on, &ev);
        /* And the parent's verdict that the children follow: logins
         * refused (503) because it evicts or evicted. */
        ap_rprintf(r, ",\"memcache_evictions_on\":%s,"
                   "\"memcache_evictions\":%" APR_UINT64_T_FMT
                   ",\"memcache_refusing\":%s",
                   on == 1 ? "true" : on == 0 ? "false" : "null", ev,
                   apr_atomic_read32(&st->memcache_refuse[
                       sc->rc.memcache_slot % N8443_MC_SLOTS]) != 0
                   ? "true" : "false");
    }
    ap_rprintf(r, "},\"clock_skew\":%ld}\n", n8443_instance.clock_skew);
    return OK;
}
