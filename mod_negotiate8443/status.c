/*
 * status.c - SetHandler negotiate8443-status: the instance's counters as
 * one JSON document, for monitoring.  The counters (stats.h) live in the
 * shared replay-cache segment, so every child and thread adds to the same
 * ones.
 */
#include "n8443_private.h"

#include "apr_atomic.h"

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

    sc = ap_get_module_config(r->server->module_config, &negotiate8443_module);
    st = n8443_stats_get();
    n8443_rcache_usage(&live, &capacity);

    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only)
        return OK;
    ap_rprintf(r,
               "{\"version\":\"%s\",\"logins\":%u,"
               "\"logins_fast_path\":%u,\"failures\":{",
               N8443_VERSION, apr_atomic_read32(&st->logins),
               apr_atomic_read32(&st->logins_fast_path));
    /* Causes in the order of n8443_cause, "none" left out. */
    for (i = 1; i < N8443_STAT_CAUSES; i++)
        ap_rprintf(r, "%s\"%s\":%u", i > 1 ? "," : "",
                   n8443_cause_name((n8443_cause)i),
                   apr_atomic_read32(&st->failures[i]));
    ap_rprintf(
        r,
        "},\"replay_cache\":{\"backend\":\"%s\",\"entries\":%" APR_UINT64_T_FMT
        ",\"capacity\":%" APR_UINT64_T_FMT ",\"full\":%u,\"backend_errors\":%u,"
        "\"retention_seconds\":%ld,\"quota_per_principal\":%" APR_UINT64_T_FMT
        ",\"quota_refused\":%u",
        n8443_rcache_name(&sc->rc), live, capacity,
        apr_atomic_read32(&st->full), apr_atomic_read32(&st->backend_errors),
        (long)apr_time_sec(n8443_rc_retention()), n8443_rc_quota(),
        apr_atomic_read32(&st->quota_refused));
    n8443_rcache_status(r, &sc->rc);
    ap_rprintf(r, "},\"clock_skew\":%ld}\n", n8443_instance.clock_skew);
    return OK;
}
