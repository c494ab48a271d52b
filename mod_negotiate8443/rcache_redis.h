/*
 * rcache_redis.h - the Redis / Valkey replay cache backend, private to
 * rcache_redis.c (settings, provider, status) and rcache_redis_conn.c (the
 * per-child connection to the primary, found directly or through
 * Sentinel, and its watermark).
 *
 * Built only with hiredis (configure --with-redis): without it the
 * directive is refused at start-up with "built without Redis support".
 */
#ifndef N8443_RCACHE_REDIS_H
#define N8443_RCACHE_REDIS_H

#include "httpd.h"

#include "rcache_provider.h"

/* Connect and command timeout when NegotiateReplayCacheRedisTimeout is not
 * given: long enough for a loaded LAN, short enough that a dead server
 * costs a login half a second, not httpd's Timeout. */
#define N8443_REDIS_TIMEOUT_MS 500
/* At most one connection attempt per child and backend in this time: a
 * dead Redis costs each child one connect a second, not one per login. */
#define N8443_REDIS_RETRY apr_time_from_sec(1)
/* The primary's identity (replication ID, run ID) is asked again after
 * this long on a connection that stays up. */
#define N8443_REDIS_RECHECK apr_time_from_sec(1)
/* Keys: "n8443rc:" + hex replay key; the watermarks "n8443rc:since:" +
 * replication ID + ":" + run ID, whose value is "WATERMARK RETENTION"
 * (microseconds, milliseconds: rcache_redis_conn.c). */
#define N8443_REDIS_PREFIX "n8443rc:"

typedef struct n8443_redis_conn n8443_redis_conn;

/* One backend: a NegotiateReplayCache redis / redis-sentinel line and the
 * NegotiateReplayCacheRedis* directives of the same context.  Vhosts that
 * inherit it share it, and its one connection per child. */
typedef struct {
    const char *servers;     /* "h:p[,h:p...]" as configured */
    const char *master_name; /* Sentinel: the master's name; NULL when
                                 * servers are the Redis server(s) */
    int n;                   /* entries of servers */
    char **host;
    apr_port_t *port;
    const char *auth_file; /* NegotiateReplayCacheRedisAuth */
    const char *user;      /* from auth_file (post_config); NULL: */
    const char *password;  /* the default user / no AUTH at all */
    const char *tls_ca;    /* NegotiateReplayCacheRedisTLS: CA file */
    const char *tls_name;  /* SNI / name checked; NULL: the host */
    apr_interval_time_t timeout;
    int wait_replicas; /* NegotiateReplayCacheRedisWait; 0: no */
    apr_interval_time_t wait_timeout;
    n8443_redis_conn *conn; /* per child (child_init) */
} n8443_redis_conf;

/* What a child knows of its backend, for the status page and log lines. */
typedef struct {
    const char *state;      /* "up", "down", "not_primary", ... */
    const char *primary;    /* "h:p" in use or last tried; NULL */
    const char *identity;   /* replication ID ":" run ID; NULL */
    apr_time_t watermark;   /* remembers since; 0: not known */
    apr_uint32_t errors;    /* failed attempts and commands */
    const char *last_error; /* NULL: none */
} n8443_redis_view;

/* Per child: the connection state and its lock (threaded MPMs). */
apr_status_t n8443_redis_conn_create(apr_pool_t *pchild, n8443_redis_conf *cf);

/* Make sure the child is connected to the primary and knows its
 * watermark (a connection at most once per N8443_REDIS_RETRY).  Returns
 * N8443_RC_FRESH when usable, else N8443_RC_UNAVAILABLE with *why set.
 * force: ask the primary's identity now (the status page). */
n8443_rc_result n8443_redis_ready(request_rec *r, n8443_redis_conf *cf,
                                  int force, apr_time_t *watermark,
                                  const char **why);

/* The since key checked and key stored (NX, PX the retention), at once
 * on the primary, then WAIT when asked: FRESH, REPLAY, FORGOTTEN (stamp
 * before the primary's watermark, *watermark; nothing stored), or
 * UNAVAILABLE with *why; *retry set when a connection kept from an
 * earlier login had broken (ready + set may be tried once more, now).
 * Call after n8443_redis_ready, under the lock. */
n8443_rc_result n8443_redis_set(request_rec *r, n8443_redis_conf *cf,
                                const char *key, apr_time_t stamp,
                                apr_time_t *watermark, int *retry,
                                const char **why);

void n8443_redis_lock(n8443_redis_conf *cf);
void n8443_redis_unlock(n8443_redis_conf *cf);
/* A copy (in p) of what the child knows now. */
void n8443_redis_view_get(apr_pool_t *p, n8443_redis_conf *cf,
                          n8443_redis_view *v);

/* Parent, start-up: connect once to the primary, as a child would, and
 * say in the log whether that worked (not fatal: Redis may come later). */
void n8443_redis_probe(apr_pool_t *p, server_rec *s, n8443_redis_conf *cf);

#ifdef N8443_HAVE_REDIS
#include <hiredis/hiredis.h>
#ifdef N8443_HAVE_REDIS_SSL
#include <hiredis/hiredis_ssl.h>

/* rcache_redis_wire.c: the TLS context of cf, or NULL and err. */
redisSSLContext *n8443_redis_tls_context(const n8443_redis_conf *cf, char *err,
                                         apr_size_t len);
#endif

/* rcache_redis_wire.c: one server, no state.
 *
 * A connection to the primary of cf (TLS with ssl, a redisSSLContext,
 * when not NULL), authenticated and checked with ROLE; NULL and err when
 * none answers as one.  *where names the last server tried. */
redisContext *n8443_redis_open_primary(const n8443_redis_conf *cf, void *ssl,
                                       char *where, apr_size_t wlen, char *err,
                                       apr_size_t len);
/* One command, its whole reply within timeout (not per read).  NULL
 * when the connection broke or the reply is late (err says how: then it
 * must be dropped); an error reply is returned as it is. */
redisReply *n8443_redis_command(redisContext *c, apr_interval_time_t timeout,
                                char *err, apr_size_t len, const char *fmt,
                                ...);
/* The same with the words of the command as they are (no format to
 * parse: a login's command, a quarter of what it costs in httpd). */
redisReply *n8443_redis_command_argv(redisContext *c,
                                     apr_interval_time_t timeout, char *err,
                                     apr_size_t len, int argc,
                                     const char **argv, int *resend);
/* WAIT replicas wait on c, whose command timeout is timeout: its reply
 * may take wait on top of it. */
redisReply *n8443_redis_wait(redisContext *c, apr_interval_time_t timeout,
                             int replicas, apr_interval_time_t wait, char *err,
                             apr_size_t len);
/* The next reply to commands appended to c (redisAppendCommand), as
 * n8443_redis_command reads it.  On NULL, *resend (if not NULL): the
 * connection broke before a byte of the reply came, not by a timeout (the
 * command may go again on a new connection). */
redisReply *n8443_redis_reply(redisContext *c, apr_interval_time_t timeout,
                              char *err, apr_size_t len, int *resend);
/* rcache_redis_script.c: the store script on c, EVALSHA (EVAL when the
 * server does not have it yet, once per server start), with the since
 * key and key (NULL: the watermark only; then cold, when not 0, is a cold
 * birth's watermark).  NULL and err when the connection broke; an error
 * reply as it is. */
redisReply *n8443_redis_run_store(redisContext *c, apr_interval_time_t timeout,
                                  const char *since, const char *key,
                                  apr_time_t stamp, apr_time_t cold, char *err,
                                  apr_size_t len, int *resend);
/* Its answer: code, watermark, made (rcache_redis_script.c); 0 if
 * malformed. */
int n8443_redis_store_answer(const redisReply *rep, long long *code,
                             apr_time_t *watermark, long long *made);
/* The value of "name:" in an INFO answer, copied to out; 0: absent. */
int n8443_redis_info_field(const redisReply *rep, const char *name, char *out,
                           apr_size_t len);
#endif /* N8443_HAVE_REDIS */

#endif /* N8443_RCACHE_REDIS_H */
