/*
 * rcache_redis_conn.c - one connection per child to the Redis / Valkey
 * primary of a backend (rcache_redis.h), and the primary's watermark.
 *
 * The connection is found directly (the first listed server whose ROLE is
 * master) or through Sentinel (SENTINEL get-master-addr-by-name, then ROLE
 * checked on the address it gives, as Sentinel's client guide asks).  It
 * is kept for the child's life; after any error it is dropped, and the
 * next login tries again, at most once a second per child: a dead Redis
 * costs one connect per child a second, never a storm, and logins recover
 * without restarting httpd.
 *
 * The watermark.  Redis replicates asynchronously: a replica promoted by
 * Sentinel may lack the last entries its primary acknowledged, and a Redis
 * restarted without persistence has none.  Either way the primary that
 * answers now has another identity: a promoted replica makes a new
 * replication ID (INFO replication master_replid), a restarted server a
 * new run ID (INFO server run_id).  The first client to see an identity
 * writes the time into the primary itself ("n8443rc:since:ID", with the
 * retention: rcache_redis_script.c): every child of every httpd node then reads
 * the same "remembers since" for that primary, and an authenticator made
 * before it is refused (N8443_RC_FORGOTTEN): a token whose entry may have
 * been lost can never come back in.  The same script stores each entry
 * and sees a memory lost without a new identity (FLUSHALL, FLUSHDB,
 * SWAPDB: the since key is gone) or a retention raised.  The identity
 * is asked on every new connection (Sentinel also kills client
 * connections when it changes a server's role) and at least once a second
 * on a connection that stays up.
 */
#include "n8443_private.h"
#include "rcache_redis.h"

#ifdef N8443_HAVE_REDIS

#include "apr_thread_mutex.h"
#include "ap_mpm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

struct n8443_redis_conn {
    apr_thread_mutex_t *lock; /* NULL without threads */
    redisContext *c;          /* NULL: not connected */
    apr_time_t last_try;      /* last connection attempt */
    apr_time_t checked;       /* last look at the primary's identity */
    char primary[300];        /* "host:port" in use or last tried */
    char identity[128];       /* replication ID ":" run ID */
    char since[sizeof(N8443_REDIS_PREFIX "since:") + 128]; /* its key */
    apr_time_t watermark;        /* since when that identity remembers */
    apr_interval_time_t timeout; /* a command's, the backend's */
    const char *state;           /* static strings */
    char last_error[300];
    apr_uint32_t errors;
    int was_down; /* log when it answers again */
    int reused;   /* connected before this login */
#ifdef N8443_HAVE_REDIS_SSL
    redisSSLContext *ssl;
#endif
};

/* Record an error of conn: the state it leaves and why (for the log line
 * of the refused login and the status page). */
static const char *fail(n8443_redis_conn *conn, const char *state,
                        const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const char *fail(n8443_redis_conn *conn, const char *state,
                        const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    apr_vsnprintf(conn->last_error, sizeof(conn->last_error), fmt, ap);
    va_end(ap);
    conn->state = state;
    conn->errors++;
    if (strcmp(state, "up") != 0)
        conn->was_down = 1;
    return conn->last_error;
}

static void drop(n8443_redis_conn *conn)
{
    if (conn->c != NULL)
        redisFree(conn->c);
    conn->c = NULL;
}

/* The primary's identity and its watermark, read (or set first) in the
 * primary itself.  0 and err when it cannot be known or must not be used
 * (not a primary; it may evict our entries). */
static int watermark_of(server_rec *s, const n8443_redis_conf *cf,
                        n8443_redis_conn *conn, apr_time_t cold, char *err,
                        apr_size_t len)
{
    redisReply *rep[3] = {NULL, NULL, NULL};
    char replid[64], runid[64], role[32], policy[64], ident[128];
    apr_time_t now = apr_time_now();
    int i, ok = 0;

    redisAppendCommand(conn->c, "INFO replication");
    redisAppendCommand(conn->c, "INFO server");
    redisAppendCommand(conn->c, "INFO memory");
    for (i = 0; i < 3; i++)
        if ((rep[i] = n8443_redis_reply(conn->c, cf->timeout, replid,
                                        sizeof(replid), NULL))
            == NULL) {
            apr_snprintf(err, len, "INFO: %s", replid);
            goto cleanup;
        }
    if (!n8443_redis_info_field(rep[0], "role", role, sizeof(role))
        || !n8443_redis_info_field(rep[0], "master_replid", replid,
                                   sizeof(replid))
        || !n8443_redis_info_field(rep[1], "run_id", runid, sizeof(runid))) {
        apr_snprintf(err, len,
                     "INFO does not name the replication ID "
                     "and run ID%s%.*s",
                     rep[0]->type == REDIS_REPLY_ERROR ? ": " : "",
                     rep[0]->type == REDIS_REPLY_ERROR ? (int)rep[0]->len : 0,
                     rep[0]->type == REDIS_REPLY_ERROR ? rep[0]->str : "");
        goto cleanup;
    }
    if (strcmp(role, "master") != 0) {
        apr_snprintf(err, len, "it is no longer the primary (role:%s)", role);
        goto cleanup;
    }
    /* A volatile-* or allkeys-* policy evicts keys with a TTL - ours -
     * when memory is full: an evicted entry is a replay let in. */
    if (n8443_redis_info_field(rep[2], "maxmemory_policy", policy,
                               sizeof(policy))
        && strcmp(policy, "noeviction") != 0) {
        apr_snprintf(err, len,
                     "maxmemory-policy is %s: it may evict "
                     "replay entries; set maxmemory-policy noeviction",
                     policy);
        goto cleanup;
    }
    apr_snprintf(ident, sizeof(ident), "%s:%s", replid, runid);
    if (strcmp(ident, conn->identity) != 0) {
        long long code = 0, made = 0;
        apr_time_t wm = 0;

        for (i = 0; i < 3; i++)
            if (rep[i] != NULL)
                freeReplyObject(rep[i]);
        rep[0] = rep[1] = rep[2] = NULL;
        conn->identity[0] = '\0';
        apr_snprintf(conn->since, sizeof(conn->since),
                     N8443_REDIS_PREFIX "since:%s", ident);
        rep[0] = n8443_redis_run_store(conn->c, conn->timeout, conn->since,
                                       NULL, 0, cold, err, len, NULL);
        if (rep[0] == NULL) {
            char why[200];

            apr_cpystrn(why, err, sizeof(why));
            apr_snprintf(err, len, "watermark: %s", why);
            goto cleanup;
        }
        if (!n8443_redis_store_answer(rep[0], &code, &wm, &made) || code != 3) {
            apr_snprintf(err, len, "cannot record the watermark: %.*s",
                         rep[0]->type == REDIS_REPLY_ERROR ? (int)rep[0]->len
                                                           : 15,
                         rep[0]->type == REDIS_REPLY_ERROR ? rep[0]->str
                                                           : "a wrong answer");
            goto cleanup;
        }
        conn->watermark = wm;
        apr_cpystrn(conn->identity, ident, sizeof(conn->identity));
        {
            char when[APR_RFC822_DATE_LEN];

            apr_rfc822_date(when, conn->watermark);
            ap_log_error(APLOG_MARK, made ? APLOG_NOTICE : APLOG_INFO, 0, s,
                         N8443LOGNO(325) "replay cache: Redis primary %s "
                         "(replication ID "
                         "%s, run ID %s) remembers since %s%s: "
                         "authenticators made before then are refused "
                         "(its memory may lack entries of an earlier "
                         "primary)",
                         conn->primary, replid, runid, when,
                         made == 1   ? " (first seen now)"
                         : made == 2 ? " (from now: a shorter retention "
                                       "was recorded)"
                         : made == 3 ? " (a cold birth: a store without "
                                       "replay entries, first seen at "
                                       "start-up)"
                                     : "");
        }
    }
    conn->checked = now;
    ok = 1;
cleanup:
    for (i = 0; i < 3; i++)
        if (rep[i] != NULL)
            freeReplyObject(rep[i]);
    return ok;
}

/* Connect when needed and allowed, and look at the primary's identity
 * when due.  Under the lock. */
static n8443_rc_result ready(server_rec *s, n8443_redis_conf *cf,
                             n8443_redis_conn *conn, int force,
                             const char **why)
{
    apr_time_t now = apr_time_now();
    char err[300];
    void *ssl = NULL;

#ifdef N8443_HAVE_REDIS_SSL
    ssl = conn->ssl;
#endif
    conn->reused = conn->c != NULL;
    if (conn->c != NULL
        && (force || conn->identity[0] == '\0'
            || now - conn->checked >= N8443_REDIS_RECHECK
            || now < conn->checked)
        && !watermark_of(s, cf, conn, 0, err, sizeof(err))) {
        int broken = conn->c->err != 0;

        drop(conn);
        if (!broken) {
            *why = fail(conn, "refused", "%s: %s", conn->primary, err);
            return N8443_RC_UNAVAILABLE;
        }
        /* A connection that broke while idle (Redis restarted, a
         * failover): connect again now, not in a second. */
        conn->last_try = 0;
        conn->reused = 0;
    }
    if (conn->c == NULL) {
        if (conn->last_try != 0 && now - conn->last_try < N8443_REDIS_RETRY
            && now >= conn->last_try) {
            *why = conn->last_error;
            return N8443_RC_UNAVAILABLE;
        }
        conn->last_try = now;
        err[0] = '\0';
        conn->c = n8443_redis_open_primary(
            cf, ssl, conn->primary, sizeof(conn->primary), err, sizeof(err));
        if (conn->c == NULL) {
            *why = fail(conn, "down", "%s", err[0] ? err : "no server");
            return N8443_RC_UNAVAILABLE;
        }
        if (!watermark_of(s, cf, conn, 0, err, sizeof(err))) {
            drop(conn);
            *why = fail(conn, "refused", "%s: %s", conn->primary, err);
            return N8443_RC_UNAVAILABLE;
        }
    }
    if (conn->was_down) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     N8443LOGNO(327) "replay cache: Redis primary %s answers "
                     "(last error: "
                     "%s)",
                     conn->primary, conn->last_error);
        conn->was_down = 0;
    }
    conn->state = "up";
    return N8443_RC_FRESH;
}

n8443_rc_result n8443_redis_ready(request_rec *r, n8443_redis_conf *cf,
                                  int force, apr_time_t *watermark,
                                  const char **why)
{
    n8443_redis_conn *conn = cf->conn;
    n8443_rc_result res;

    if (conn == NULL) {
        *why = "no connection state in this process";
        return N8443_RC_UNAVAILABLE;
    }
    res = ready(r->server, cf, conn, force, why);
    *watermark = conn->watermark;
    return res;
}

n8443_rc_result n8443_redis_set(request_rec *r, n8443_redis_conf *cf,
                                const char *key, apr_time_t stamp,
                                apr_time_t *watermark, int *retry,
                                const char **why)
{
    n8443_redis_conn *conn = cf->conn;
    long long code = -1, made = 0;
    apr_time_t wm = 0;
    n8443_rc_result res;
    redisReply *rep;
    char err[300];
    int resend = 0;

    *retry = 0;
    rep = n8443_redis_run_store(conn->c, conn->timeout, conn->since, key, stamp,
                                0, err, sizeof(err), &resend);
    if (rep == NULL) {
        drop(conn);
        *why = fail(conn, "down", "%s: %s", conn->primary, err);
        /* A kept connection that broke since its last use (before a byte
         * of the reply): once more on a new one, now.  Not after a
         * timeout or part of a reply: the script may have stored the
         * entry, and the same again would call this fresh login a
         * replay. */
        if (conn->reused && resend) {
            conn->last_try = 0;
            *retry = 1;
        }
        return N8443_RC_UNAVAILABLE;
    }
    if (!n8443_redis_store_answer(rep, &code, &wm, &made) || code < 0
        || code > 2) {
        /* -READONLY: no longer the primary; -OOM: full (noeviction);
         * anything else: not the server we think.  Find it again. */
        *why =
            fail(conn, rep->type == REDIS_REPLY_ERROR ? "error" : "down",
                 "%s: SET answered %.*s", conn->primary,
                 rep->type == REDIS_REPLY_ERROR ? (int)rep->len : 13,
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "another reply");
        freeReplyObject(rep);
        drop(conn);
        return N8443_RC_UNAVAILABLE;
    }
    res = code == 1   ? N8443_RC_FRESH
          : code == 2 ? N8443_RC_REPLAY
                      : N8443_RC_FORGOTTEN;
    if (made) {
        char when[APR_RFC822_DATE_LEN];

        apr_rfc822_date(when, wm);
        ap_log_rerror(
            APLOG_MARK, APLOG_WARNING, 0, r,
            N8443LOGNO(460) "replay cache: Redis primary %s (%s) %s: it "
            "remembers since %s now, and authenticators made "
            "before then are refused",
            conn->primary, conn->identity,
            made == 1 ? "lost its watermark key, and the entries with it "
                        "(FLUSHALL, FLUSHDB or SWAPDB)"
                      : "recorded a shorter retention than this server's "
                        "(NegotiateClockSkew raised): older entries may "
                        "expire too early",
            when);
    }
    conn->watermark = wm;
    *watermark = wm;
    freeReplyObject(rep);
    if (res != N8443_RC_FRESH || cf->wait_replicas == 0)
        return res;

    /* Acknowledged by enough replicas, or not a login: a failover to a
     * replica that missed the entry would let the token in again. */
    rep = n8443_redis_wait(conn->c, cf->timeout, cf->wait_replicas,
                           cf->wait_timeout, err, sizeof(err));
    if (rep == NULL) {
        drop(conn);
        *why = fail(conn, "down", "%s: %s", conn->primary, err);
        return N8443_RC_UNAVAILABLE;
    }
    if (rep->type != REDIS_REPLY_INTEGER || rep->integer < cf->wait_replicas) {
        *why = fail(
            conn, "up",
            "%s: %" APR_INT64_T_FMT " of %d replicas "
            "acknowledged the entry within %ld ms "
            "(NegotiateReplayCacheRedisWait)",
            conn->primary,
            rep->type == REDIS_REPLY_INTEGER ? (apr_int64_t)rep->integer : -1,
            cf->wait_replicas, (long)apr_time_as_msec(cf->wait_timeout));
        res = N8443_RC_UNAVAILABLE;
    }
    freeReplyObject(rep);
    return res;
}

void n8443_redis_lock(n8443_redis_conf *cf)
{
    if (cf->conn != NULL && cf->conn->lock != NULL)
        apr_thread_mutex_lock(cf->conn->lock);
}

void n8443_redis_unlock(n8443_redis_conf *cf)
{
    if (cf->conn != NULL && cf->conn->lock != NULL)
        apr_thread_mutex_unlock(cf->conn->lock);
}

void n8443_redis_view_get(apr_pool_t *p, n8443_redis_conf *cf,
                          n8443_redis_view *v)
{
    n8443_redis_conn *conn = cf->conn;

    memset(v, 0, sizeof(*v));
    if (conn == NULL) {
        v->state = "no_connection_state";
        return;
    }
    v->state = conn->state;
    v->primary = conn->primary[0] ? apr_pstrdup(p, conn->primary) : NULL;
    v->identity = conn->identity[0] ? apr_pstrdup(p, conn->identity) : NULL;
    v->watermark = conn->watermark;
    v->errors = conn->errors;
    v->last_error =
        conn->last_error[0] ? apr_pstrdup(p, conn->last_error) : NULL;
}

static apr_status_t conn_cleanup(void *data)
{
    n8443_redis_conn *conn = data;

    drop(conn);
#ifdef N8443_HAVE_REDIS_SSL
    if (conn->ssl != NULL)
        redisFreeSSLContext(conn->ssl);
    conn->ssl = NULL;
#endif
    return APR_SUCCESS;
}

apr_status_t n8443_redis_conn_create(apr_pool_t *pchild, n8443_redis_conf *cf)
{
    n8443_redis_conn *conn = apr_pcalloc(pchild, sizeof(*conn));
    int threaded = 0;
    apr_status_t rv;

    conn->state = "not_connected";
    conn->timeout = cf->timeout;
    ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded);
    if (threaded != AP_MPMQ_NOT_SUPPORTED) {
        rv = apr_thread_mutex_create(&conn->lock, APR_THREAD_MUTEX_DEFAULT,
                                     pchild);
        if (rv != APR_SUCCESS)
            return rv;
    }
#ifdef N8443_HAVE_REDIS_SSL
    if (cf->tls_ca != NULL) {
        conn->ssl = n8443_redis_tls_context(cf, conn->last_error,
                                            sizeof(conn->last_error));
        if (conn->ssl == NULL)
            return APR_EGENERAL;
    }
#endif
    apr_pool_cleanup_register(pchild, conn, conn_cleanup,
                              apr_pool_cleanup_null);
    cf->conn = conn;
    return APR_SUCCESS;
}

void n8443_redis_probe(apr_pool_t *p, server_rec *s, n8443_redis_conf *cf)
{
    n8443_redis_conn conn;
    char err[300];
    void *ssl = NULL;

    memset(&conn, 0, sizeof(conn));
    conn.timeout = cf->timeout;
    err[0] = '\0';
#ifdef N8443_HAVE_REDIS_SSL
    if (cf->tls_ca != NULL
        && (ssl = n8443_redis_tls_context(cf, err, sizeof(err))) == NULL) {
        ap_log_error(
            APLOG_MARK, APLOG_ERR, 0, s,
            N8443LOGNO(321) "replay cache: Redis (%s): %s; logins are refused "
            "(503)",
            cf->servers, err);
        return;
    }
#endif
    conn.c = n8443_redis_open_primary(cf, ssl, conn.primary,
                                      sizeof(conn.primary), err, sizeof(err));
    /* The first look of this start: a store that never held our keys
     * is born the default margin back (a cold birth, as memcached's). */
    if (conn.c == NULL
        || !watermark_of(s, cf, &conn, apr_time_now() - n8443_rc_cold_margin(),
                         err, sizeof(err)))
        ap_log_error(
            APLOG_MARK, APLOG_ERR, 0, s,
            N8443LOGNO(322) "replay cache: Redis (%s%s%s) cannot be used at "
            "start-up: %s; logins are refused (503) until it "
            "answers as a primary (each child tries again at most "
            "once a second)",
            cf->master_name ? "Sentinel " : "", cf->servers,
            cf->master_name ? apr_pstrcat(p, " master ", cf->master_name, NULL)
                            : "",
            err[0] ? err : "no server");
    drop(&conn);
#ifdef N8443_HAVE_REDIS_SSL
    if (ssl != NULL)
        redisFreeSSLContext(ssl);
#endif
}

#endif /* N8443_HAVE_REDIS */
