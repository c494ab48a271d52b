/*
 * rcache_memcache.c - the replay cache in memcached, for a farm of servers
 * behind a load balancer that share the SPN and keytab: a token replayed to
 * a second server is caught there.
 *
 * memcached's "add" stores a key only if it is absent, atomically on the
 * server: that is the check-and-store.  APR-util's client keeps a
 * connection pool per child; a server that stops answering is marked dead
 * and retried by the client after a few seconds, so logins recover without
 * a restart once memcached is back.  While it is away, logins fail closed.
 */
#include "n8443_private.h"
#include "rcache.h"

#include "apr_memcache.h"
#include "ap_mpm.h"

/* Parse "host:port[,host:port...]"; NULL when every entry is good. */
const char *n8443_rc_memcache_parse(apr_pool_t *p, const char *servers)
{
    char *list = apr_pstrdup(p, servers), *tok, *last;
    int n = 0;

    for (tok = apr_strtok(list, ",", &last); tok != NULL;
         tok = apr_strtok(NULL, ",", &last)) {
        char *host = NULL, *scope = NULL;
        apr_port_t port = 0;

        if (apr_parse_addr_port(&host, &scope, &port, tok, p) != APR_SUCCESS
            || host == NULL || port == 0 || scope != NULL)
            return apr_psprintf(p, "'%s' is not host:port", tok);
        n++;
    }
    if (n == 0)
        return "no memcached server given";
    return NULL;
}

apr_status_t n8443_rc_memcache_child_init(apr_pool_t *pchild, server_rec *s,
                                          n8443_rc_conf *rc)
{
    char *list = apr_pstrdup(pchild, rc->memcache_servers), *tok, *last;
    apr_memcache_t *mc;
    apr_status_t rv;
    int threads = 1, n = 0;

    for (tok = list; *tok; tok++)
        n += (*tok == ',');
    rv = apr_memcache_create(pchild, (apr_uint16_t)(n + 1), 0, &mc);
    if (rv != APR_SUCCESS)
        return rv;
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    if (threads < 1)
        threads = 1;

    list = apr_pstrdup(pchild, rc->memcache_servers);
    for (tok = apr_strtok(list, ",", &last); tok != NULL;
         tok = apr_strtok(NULL, ",", &last)) {
        char *host, *scope;
        apr_port_t port;
        apr_memcache_server_t *ms;

        rv = apr_parse_addr_port(&host, &scope, &port, tok, pchild);
        if (rv != APR_SUCCESS)
            return rv;
        /* No idle minimum, one connection kept per thread at most,
         * idle connections closed after 60 s. */
        rv = apr_memcache_server_create(pchild, host, port, 0, threads,
                                        threads, apr_time_from_sec(60),
                                        &ms);
        if (rv == APR_SUCCESS)
            rv = apr_memcache_add_server(mc, ms);
        if (rv != APR_SUCCESS)
            return rv;
    }
    rc->memcache = mc;
    return APR_SUCCESS;
}

n8443_rc_result n8443_rc_memcache_add(request_rec *r, n8443_rc_conf *rc,
                                      const unsigned char *key,
                                      apr_interval_time_t retention)
{
    static const char hex[] = "0123456789abcdef";
    char mkey[sizeof("n8443rc:") + 2 * N8443_RC_KEY_LEN];
    char *p;
    apr_status_t rv;
    int i;

    if (rc->memcache == NULL)
        return N8443_RC_UNAVAILABLE;
    p = mkey;
    memcpy(p, "n8443rc:", 8);
    p += 8;
    for (i = 0; i < N8443_RC_KEY_LEN; i++) {
        *p++ = hex[key[i] >> 4];
        *p++ = hex[key[i] & 0xf];
    }
    *p = '\0';

    /* The value is never read; one byte keeps the item small. */
    rv = apr_memcache_add(rc->memcache, mkey, "1", 1,
                          (apr_uint32_t)apr_time_sec(retention) + 1, 0);
    if (rv == APR_SUCCESS)
        return N8443_RC_FRESH;
    if (rv == APR_EEXIST)
        return N8443_RC_REPLAY;
    ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, N8443LOGNO(060)
                  "replay cache: memcached (%s) did not answer; login "
                  "refused (503) until it does", rc->memcache_servers);
    return N8443_RC_UNAVAILABLE;
}
