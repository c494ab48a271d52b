/*
 * rcache_store.c - what the replay cache's front (rcache.c) and its
 * providers share, below both: the margin after a memory loss, the
 * signature and the walk of the vhosts' stores, and the request note of
 * a lost memory.  It calls neither of them.
 */
#include "n8443_private.h"
#include "rcache_provider.h"

#include "http_config.h"

/* The default NegotiateReplayCacheMargin: clients up to 5 s ahead of
 * this server's clock (the contract: a fresh login of a client within
 * 5 s of the server's clock succeeds within 10 s of a memory loss). */
#define N8443_RC_DEFAULT_MARGIN 5

long n8443_rc_margin(void)
{
    return n8443_instance.rc_margin < 0 ? N8443_RC_DEFAULT_MARGIN
                                        : n8443_instance.rc_margin;
}

/* Is this the instance's first start (no table file was found)? */
static int first_start = 1;

void n8443_rc_set_first_start(int created)
{
    /* Generations 0 and 1 are the two configuration passes of a start;
     * a graceful restart is 2 or more (the instance has run). */
    first_start = created && ap_state_query(AP_SQ_CONFIG_GEN) <= 1;
}

apr_interval_time_t n8443_rc_cold_margin(void)
{
    return n8443_instance.rc_margin < 0 && first_start
               ? apr_time_from_sec(N8443_RC_DEFAULT_MARGIN)
               : 0;
}

static apr_uint64_t stores_sig;

apr_uint64_t n8443_rc_stores_sig(void)
{
    return stores_sig;
}

/* FNV-1a over the vhosts' stores, in order. */
static apr_uint64_t fnv(apr_uint64_t h, const char *p, apr_size_t n)
{
    while (n-- > 0)
        h = (h ^ (unsigned char)*p++) * APR_UINT64_C(0x100000001b3);
    return h;
}

/* Do the vhosts that check use more than one store? */
static int mixed_stores;

int n8443_rc_mixed_stores(void)
{
    return mixed_stores;
}

void n8443_rc_sign_stores(server_rec *s)
{
    apr_uint64_t h = APR_UINT64_C(0xcbf29ce484222325);
    apr_uint64_t first = 0;
    server_rec *vs;

    mixed_stores = 0;
    for (vs = s; vs != NULL; vs = vs->next) {
        n8443_server_conf *sc =
            ap_get_module_config(vs->module_config, &negotiate8443_module);
        int b = (int)sc->rc.backend;
        const char *m = sc->rc.backend == N8443_RC_MEMCACHE
                                && sc->rc.memcache_servers != NULL
                            ? sc->rc.memcache_servers
                            : "";

        h = fnv(h, (const char *)&b, sizeof(b));
        h = fnv(h, m, strlen(m) + 1);
        if (sc->rc.provider != NULL) {
            apr_uint64_t one = fnv(fnv(APR_UINT64_C(0xcbf29ce484222325),
                                       (const char *)&b, sizeof(b)),
                                   m, strlen(m) + 1);

            if (sc->rc.backend == N8443_RC_REDIS)
                one ^= (apr_uint64_t)(apr_uintptr_t)sc->rc.redis;
            if (first != 0 && one != first)
                mixed_stores = 1;
            first = one;
        }
    }
    if (mixed_stores)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     N8443LOGNO(455) "NegotiateReplayCache: the vhosts use "
                     "more than one "
                     "store; a token used on one vhost is also recorded in "
                     "the instance's shm table, which every vhost "
                     "consults (size NegotiateReplayCacheSize for all the "
                     "logins); other instances of a farm share only the "
                     "vhosts' own stores");
    stores_sig = h;
}

int n8443_rc_each_store(apr_pool_t *p, server_rec *s, n8443_rc_backend backend,
                        const char *(*store)(apr_pool_t *p,
                                             const n8443_rc_conf *rc),
                        n8443_rc_store_fn fn, void *baton)
{
    apr_hash_t *seen = NULL;
    apr_pool_t *tmp = NULL;
    server_rec *vs;
    int rv = OK;

    if (store != NULL) {
        if (apr_pool_create(&tmp, p) != APR_SUCCESS)
            return !OK;
        seen = apr_hash_make(tmp);
    }
    for (vs = s; vs != NULL && rv == OK; vs = vs->next) {
        n8443_server_conf *sc =
            ap_get_module_config(vs->module_config, &negotiate8443_module);
        const char *name;

        if (sc->rc.backend != backend)
            continue;
        if (seen != NULL) {
            name = store(tmp, &sc->rc);
            if (name == NULL
                || apr_hash_get(seen, name, APR_HASH_KEY_STRING) != NULL)
                continue;
            apr_hash_set(seen, name, APR_HASH_KEY_STRING, "");
        }
        rv = fn(vs, &sc->rc, baton);
    }
    if (tmp != NULL)
        apr_pool_destroy(tmp);
    return rv;
}

#define NOTE_WATERMARK "negotiate8443-rc-watermark"
#define NOTE_STAMP     "negotiate8443-rc-stamp"

void n8443_rc_note_forgotten(request_rec *r, apr_time_t watermark,
                             apr_time_t stamp)
{
    apr_table_setn(r->notes, NOTE_WATERMARK,
                   apr_psprintf(r->pool, "%" APR_TIME_T_FMT, watermark));
    apr_table_setn(r->notes, NOTE_STAMP,
                   apr_psprintf(r->pool, "%" APR_TIME_T_FMT, stamp));
}

apr_time_t n8443_rcache_forgotten_at(request_rec *r, apr_time_t *stamp)
{
    const char *w = apr_table_get(r->notes, NOTE_WATERMARK);
    const char *s = apr_table_get(r->notes, NOTE_STAMP);

    *stamp = s != NULL ? (apr_time_t)apr_atoi64(s) : 0;
    return w != NULL ? (apr_time_t)apr_atoi64(w) : 0;
}
