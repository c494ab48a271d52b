/*
 * rcache_redis.c - the replay cache in Redis or Valkey (>= 6), for a farm
 * of servers that share the SPN and keytab, with a replica and Sentinel
 * so that the loss of one server is neither an outage nor a memory loss.
 *
 *   NegotiateReplayCache redis HOST:PORT[,HOST:PORT...]
 *   NegotiateReplayCache redis-sentinel HOST:PORT[,...] MASTER-NAME
 *
 * "SET n8443rc:<hex key> 1 NX PX <retention>" stores a key only if it is
 * absent, atomically on the primary: that is the check-and-store; a
 * script runs it together with the check of the watermark key (a flush
 * or a raised retention begins a new memory: rcache_redis_conn.c).  The
 * connection (one per child and backend) and the watermark that makes a
 * failover safe are in rcache_redis_conn.c.  Every failure fails closed:
 * N8443_RC_UNAVAILABLE, 503.
 */
#include "n8443_private.h"
#include "encode.h"
#include "rcache_redis.h"

#include "apr_lib.h"

#include <sys/stat.h>
#include <stdlib.h>

/* The settings of cmd's context, made by its first Redis directive. */
static n8443_redis_conf *conf_of(cmd_parms *cmd)
{
    n8443_server_conf *sc =
        ap_get_module_config(cmd->server->module_config, &negotiate8443_module);
    n8443_redis_conf *cf = sc->rc.redis;

    if (cf == NULL) {
        cf = apr_pcalloc(cmd->pool, sizeof(*cf));
        cf->timeout = apr_time_from_msec(N8443_REDIS_TIMEOUT_MS);
        cf->wait_timeout = apr_time_from_msec(N8443_REDIS_TIMEOUT_MS);
        sc->rc.redis = cf;
    }
    return cf;
}

#ifndef N8443_HAVE_REDIS
#define NO_REDIS(cmd)                                                          \
    apr_psprintf((cmd)->pool,                                                  \
                 "%s: mod_negotiate8443 was built without "                    \
                 "Redis support (configure --with-redis, needs hiredis)",      \
                 (cmd)->cmd->name)
#endif

const char *n8443_rc_redis_set_servers(cmd_parms *cmd, n8443_rc_conf *rc,
                                       const char *type, const char *servers,
                                       const char *master)
{
    int sentinel = strcasecmp(type, "redis-sentinel") == 0;
    n8443_redis_conf *cf;
    char *list, *tok, *last;
    const char *c;
    int n = 0;

    if (servers == NULL || (sentinel && master == NULL)
        || (!sentinel && master != NULL))
        return apr_psprintf(cmd->pool, "%s %s needs %s", cmd->cmd->name, type,
                            sentinel
                                ? "HOST:PORT[,HOST:PORT...] MASTER-NAME"
                                : "HOST:PORT[,HOST:PORT...] and nothing more");
#ifndef N8443_HAVE_REDIS
    return NO_REDIS(cmd);
#endif
    cf = conf_of(cmd);
    for (c = servers; *c; c++)
        n += (*c == ',');
    cf->host = apr_pcalloc(cmd->pool, (n + 1) * sizeof(*cf->host));
    cf->port = apr_pcalloc(cmd->pool, (n + 1) * sizeof(*cf->port));
    cf->n = 0;
    list = apr_pstrdup(cmd->pool, servers);
    for (tok = apr_strtok(list, ",", &last); tok != NULL;
         tok = apr_strtok(NULL, ",", &last)) {
        char *host = NULL, *scope = NULL;
        apr_port_t port = 0;

        if (apr_parse_addr_port(&host, &scope, &port, tok, cmd->pool)
                != APR_SUCCESS
            || host == NULL || port == 0 || scope != NULL)
            return apr_psprintf(cmd->pool, "%s %s: '%s' is not host:port",
                                cmd->cmd->name, type, tok);
        cf->host[cf->n] = host;
        cf->port[cf->n++] = port;
    }
    if (cf->n == 0)
        return apr_psprintf(cmd->pool, "%s %s: no server given", cmd->cmd->name,
                            type);
    cf->servers = servers;
    cf->master_name = master;
    rc->backend = N8443_RC_REDIS;
    return NULL;
}

const char *n8443_rc_redis_cmd_auth(cmd_parms *cmd, void *dconf,
                                    const char *file)
{
#ifndef N8443_HAVE_REDIS
    return NO_REDIS(cmd);
#else
    conf_of(cmd)->auth_file = ap_server_root_relative(cmd->pool, file);
    return NULL;
#endif
}

/* Without hiredis_ssl the start-up stops (post_config, N8443330), not the
 * syntax check: one configuration serves builds with and without it. */
const char *n8443_rc_redis_cmd_tls(cmd_parms *cmd, void *dconf, const char *ca,
                                   const char *name)
{
#ifndef N8443_HAVE_REDIS
    return NO_REDIS(cmd);
#else
    n8443_redis_conf *cf = conf_of(cmd);

    cf->tls_ca = ap_server_root_relative(cmd->pool, ca);
    cf->tls_name = name;
    return NULL;
#endif
}

#ifdef N8443_HAVE_REDIS
/* Milliseconds in [lo, hi]. */
static const char *parse_ms(cmd_parms *cmd, const char *arg, long lo, long hi,
                            apr_interval_time_t *out)
{
    char *end;
    long v = strtol(arg, &end, 10);

    if (end == arg || *end != '\0' || v < lo || v > hi)
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a number of "
                            "milliseconds from %ld to %ld",
                            cmd->cmd->name, arg, lo, hi);
    *out = apr_time_from_msec(v);
    return NULL;
}
#endif

const char *n8443_rc_redis_cmd_timeout(cmd_parms *cmd, void *dconf,
                                       const char *arg)
{
#ifndef N8443_HAVE_REDIS
    return NO_REDIS(cmd);
#else
    return parse_ms(cmd, arg, 10, 10000, &conf_of(cmd)->timeout);
#endif
}

const char *n8443_rc_redis_cmd_wait(cmd_parms *cmd, void *dconf, const char *n,
                                    const char *ms)
{
#ifndef N8443_HAVE_REDIS
    return NO_REDIS(cmd);
#else
    n8443_redis_conf *cf = conf_of(cmd);
    char *end;
    long v = strtol(n, &end, 10);

    if (end == n || *end != '\0' || v < 0 || v > 100)
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a number of "
                            "replicas from 0 to 100",
                            cmd->cmd->name, n);
    cf->wait_replicas = (int)v;
    return ms != NULL ? parse_ms(cmd, ms, 1, 10000, &cf->wait_timeout) : NULL;
#endif
}

#ifdef N8443_HAVE_REDIS

/* Read the password file of cf: "PASSWORD" or "USER PASSWORD" (Redis 6
 * ACL) on its first line; like a keytab, readable by its owner only. */
static int read_auth(apr_pool_t *p, server_rec *s, n8443_redis_conf *cf)
{
    char buf[1024], *sp;
    apr_size_t len;
    struct stat st;
    FILE *f;

    if (cf->auth_file == NULL || cf->password != NULL)
        return OK;
    if (stat(cf->auth_file, &st) != 0 || !S_ISREG(st.st_mode)) {
        ap_log_error(
            APLOG_MARK, APLOG_EMERG, errno, s,
            N8443LOGNO(320) "NegotiateReplayCacheRedisAuth %s: not a readable "
            "file",
            cf->auth_file);
        return !OK;
    }
    if ((st.st_mode & 077) != 0) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     N8443LOGNO(323) "NegotiateReplayCacheRedisAuth %s: the "
                     "Redis password "
                     "is readable by group or others (mode %04o): chmod "
                     "600 it",
                     cf->auth_file, (unsigned)(st.st_mode & 07777));
        return !OK;
    }
    f = fopen(cf->auth_file, "r");
    if (f == NULL || fgets(buf, sizeof(buf), f) == NULL) {
        ap_log_error(
            APLOG_MARK, APLOG_EMERG, errno, s,
            N8443LOGNO(324) "NegotiateReplayCacheRedisAuth %s: cannot read a "
            "password from it",
            cf->auth_file);
        if (f != NULL)
            fclose(f);
        return !OK;
    }
    fclose(f);
    len = strlen(buf);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        buf[--len] = '\0';
    sp = strchr(buf, ' ');
    if (sp != NULL) {
        *sp = '\0';
        cf->user = apr_pstrdup(p, buf);
        cf->password = apr_pstrdup(p, sp + 1);
    }
    else
        cf->password = apr_pstrdup(p, buf);
    memset(buf, 0, sizeof(buf));
    if (*cf->password == '\0') {
        ap_log_error(
            APLOG_MARK, APLOG_EMERG, 0, s,
            N8443LOGNO(326) "NegotiateReplayCacheRedisAuth %s: the password is "
            "empty",
            cf->auth_file);
        return !OK;
    }
    return OK;
}

/* A backend is its settings: vhosts that inherit them share it. */
static const char *store_of(apr_pool_t *p, const n8443_rc_conf *rc)
{
    return rc->redis != NULL ? apr_psprintf(p, "%pp", rc->redis) : NULL;
}

typedef struct {
    apr_pool_t *pconf, *ptemp;
} pools;

static int start_one(server_rec *vs, n8443_rc_conf *rc, void *baton)
{
    const pools *p = baton;
    n8443_redis_conf *cf = rc->redis;

    if (read_auth(p->pconf, vs, cf) != OK)
        return !OK;
#ifndef N8443_HAVE_REDIS_SSL
    if (cf->tls_ca != NULL) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, vs,
                     N8443LOGNO(330) "NegotiateReplayCacheRedisTLS %s: "
                     "mod_negotiate8443 "
                     "was built without Redis TLS support (hiredis_ssl, "
                     "hiredis >= 1.0)",
                     cf->tls_ca);
        return !OK;
    }
#endif
    /* As memcached's: asked in the pass that goes on to serve. */
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG)
        n8443_redis_probe(p->ptemp, vs, cf);
    return OK;
}

static int redis_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                             server_rec *s, apr_uint64_t entries)
{
    pools p = {pconf, ptemp};

    return n8443_rc_each_store(ptemp, s, N8443_RC_REDIS, store_of, start_one,
                               &p);
}

static int connect_one(server_rec *vs, n8443_rc_conf *rc, void *pchild)
{
    n8443_redis_conf *cf = rc->redis;
    apr_status_t rv = n8443_redis_conn_create(pchild, cf);

    if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, vs,
                     N8443LOGNO(328) "replay cache: cannot set up the "
                     "Redis client for "
                     "%s: logins are refused (503)",
                     cf->servers);
    return OK;
}

static void redis_child_init(apr_pool_t *pchild, server_rec *s)
{
    n8443_rc_each_store(pchild, s, N8443_RC_REDIS, store_of, connect_one,
                        pchild);
}

/* The quota as memcache's; then the watermark, then SET NX. */
static n8443_rc_result redis_check_and_store(request_rec *r, n8443_rc_conf *rc,
                                             const unsigned char *key,
                                             const n8443_rc_who *who,
                                             apr_uint64_t quota, apr_time_t now,
                                             apr_time_t stamp, int *log_quota)
{
    char rkey[sizeof(N8443_REDIS_PREFIX) + 2 * N8443_RC_KEY_LEN], *p;
    n8443_redis_conf *cf = rc->redis;
    const char *why = NULL;
    apr_time_t watermark = 0;
    n8443_rc_result res;
    int tries, retry = 1;

    if (cf == NULL)
        return N8443_RC_UNAVAILABLE;
    res = n8443_rc_shm_quota_check(r, who, quota, now, log_quota);
    if (res != N8443_RC_FRESH)
        return res;

    p = rkey;
    memcpy(p, N8443_REDIS_PREFIX, sizeof(N8443_REDIS_PREFIX) - 1);
    p += sizeof(N8443_REDIS_PREFIX) - 1;
    n8443_hex_encode(key, N8443_RC_KEY_LEN, p, sizeof(rkey) - (p - rkey));

    n8443_redis_lock(cf);
    for (tries = 0; tries < 2 && retry; tries++) {
        retry = 0;
        res = n8443_redis_ready(r, cf, 0, &watermark, &why);
        if (res == N8443_RC_FRESH && stamp < watermark) {
            /* Made before this primary's memory began: its entry may
             * have been lost with the last one.  Nothing stored. */
            n8443_rc_note_forgotten(r, watermark, stamp);
            res = N8443_RC_FORGOTTEN;
        }
        else if (res == N8443_RC_FRESH) {
            res = n8443_redis_set(r, cf, rkey, stamp, &watermark, &retry, &why);
            if (res == N8443_RC_FORGOTTEN)
                n8443_rc_note_forgotten(r, watermark, stamp);
        }
    }
    n8443_redis_unlock(cf);

    if (res == N8443_RC_FRESH)
        n8443_rc_shm_quota_count(r, who, now);
    else if (res == N8443_RC_UNAVAILABLE)
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            N8443LOGNO(329) "replay cache: Redis (%s) cannot answer: %s; login "
            "refused (503) until it does",
            cf->servers, why != NULL ? why : "?");
    return res;
}

/* s as a JSON string (quotes included); anything but printable ASCII
 * becomes '?': error texts come from the network. */
static const char *json_str(apr_pool_t *p, const char *s)
{
    char *out, *o;

    if (s == NULL)
        return "null";
    out = o = apr_palloc(p, 2 * strlen(s) + 3);
    *o++ = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *o++ = '\\';
        *o++ = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

/* This child's view, after a fresh look at the primary (at most one
 * connection attempt a second, as for logins). */
static void redis_status(request_rec *r, const n8443_rc_conf *rc)
{
    n8443_redis_conf *cf = rc->redis;
    apr_time_t watermark = 0;
    const char *why = NULL;
    n8443_redis_view v;

    if (cf == NULL)
        return;
    n8443_redis_lock(cf);
    n8443_redis_ready(r, cf, 1, &watermark, &why);
    n8443_redis_view_get(r->pool, cf, &v);
    n8443_redis_unlock(cf);
    ap_rprintf(r,
               ",\"redis\":{\"mode\":\"%s\",\"servers\":%s,"
               "\"master_name\":%s,\"state\":%s,\"primary\":%s,"
               "\"identity\":%s,\"watermark\":",
               cf->master_name ? "sentinel" : "direct",
               json_str(r->pool, cf->servers),
               json_str(r->pool, cf->master_name), json_str(r->pool, v.state),
               json_str(r->pool, v.primary), json_str(r->pool, v.identity));
    if (v.watermark > 0)
        ap_rprintf(r, "%" APR_TIME_T_FMT ".%06" APR_TIME_T_FMT,
                   apr_time_sec(v.watermark), apr_time_usec(v.watermark));
    else
        ap_rputs("null", r);
    ap_rprintf(r,
               ",\"errors\":%u,\"last_error\":%s,\"wait_replicas\":%d,"
               "\"tls\":%s}",
               v.errors, json_str(r->pool, v.last_error), cf->wait_replicas,
               cf->tls_ca ? "true" : "false");
}

const n8443_rc_provider n8443_rc_redis_provider = {"redis",
                                                   NULL,
                                                   redis_post_config,
                                                   redis_child_init,
                                                   redis_check_and_store,
                                                   redis_status};

#else /* !N8443_HAVE_REDIS: the directive is refused; nothing runs. */

const n8443_rc_provider n8443_rc_redis_provider = {"redis", NULL, NULL,
                                                   NULL,    NULL, NULL};

#endif
