/*
 * rcache.h - the replay cache: one question, asked after Kerberos accepted
 * a token: "has this authenticator been seen before?", answered and
 * recorded in one atomic step.  The public API; the backends are providers
 * (rcache_provider.h), shaped like httpd's ap_socache_provider_t:
 *
 *   rcache.c           configuration, sizing, quota, dispatch
 *   rcache_shm.c       one table in shared memory for the whole instance
 *                      (its buckets: core/rc_table.c)
 *   rcache_memcache.c  memcached's atomic "add", shared by a server farm
 *   rcache_redis.c     Redis / Valkey "SET NX PX", with Sentinel failover
 *                      (its connection and watermark: rcache_redis_conn.c)
 *
 * The "krb5" backend is MIT's own cache, named in the acceptor's credential
 * store (credentials.c); "none" switches replay detection off.  Neither
 * has a check of ours to make.
 */
#ifndef N8443_RCACHE_H
#define N8443_RCACHE_H

#include "httpd.h"
#include "http_config.h"

#include "modes.h" /* n8443_rc_backend, shared with n8443ctl */
#include "rc_table.h"

typedef enum {
    N8443_RC_FRESH = 0,   /* not seen before; now recorded */
    N8443_RC_REPLAY,      /* seen before: refuse */
    N8443_RC_FULL,        /* no room for a live entry: fail closed */
    N8443_RC_UNAVAILABLE, /* backend could not answer: fail closed */
    N8443_RC_QUOTA,       /* the principal has its share of the cache:
                             * refused, not stored (429) */
    N8443_RC_FORGOTTEN    /* the backend lost its memory after this
                             * authenticator was made (its stamp is
                             * before the backend's watermark): refused,
                             * not stored (401: the client retries with
                             * a fresh authenticator) */
} n8443_rc_result;

/* Length of the stored key: the first half of the SHA-256 replay key.
 * 128 bits leave no room for an accidental collision. */
#define N8443_RC_KEY_LEN N8443_RC_TABLE_KEY_LEN

struct n8443_rc_provider;

/* Per-vhost replay cache settings (part of n8443_server_conf). */
typedef struct {
    n8443_rc_backend backend;
    /* The backend's provider, chosen once (n8443_rcache_post_config). */
    const struct n8443_rc_provider *provider;
    unsigned int backend_set : 1;
    const char *memcache_servers; /* "h:p,h:p" as configured */
    const char *krb5_name;        /* MIT rcache name for N8443_RC_KRB5 */
    void *memcache;               /* apr_memcache_t *, per child */
    int memcache_slot;            /* its word in memcache_refuse[] */
    void *redis;                  /* n8443_redis_conf * (rcache_redis.h),
                                     * shared by the vhosts that inherit */
} n8443_rc_conf;

int n8443_rcache_pre_config(apr_pool_t *pconf);
int n8443_rcache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                             server_rec *s);
void n8443_rcache_child_init(apr_pool_t *pchild, server_rec *s);
/* Monitor hook (parent): watch memcached for evictions. */
int n8443_rcache_monitor(apr_pool_t *p, server_rec *s);

/* Does rc's backend make a check of ours (shm, memcache)?  Not "krb5"
 * (MIT's cache, in GSS-API) nor "none". */
int n8443_rcache_checks(const n8443_rc_conf *rc);

/* Check and record key (32-byte replay key) of principal's login for
 * request r under the vhost's settings.  Atomic: of two concurrent callers
 * with one key, one gets FRESH and the other REPLAY.  A principal that
 * already holds its share of the cache (NegotiateReplayCacheQuota) gets
 * QUOTA and nothing is stored; a replay is never counted against it.
 * stamp: the authenticator's time (ctime/cusec, the client's clock), 0
 * when unknown (then taken as now - NegotiateClockSkew: the earliest a
 * token Kerberos accepted can be stamped, so an unknown stamp is refused
 * whenever a known one might be).  A backend that lost its memory after
 * stamp (the watermark: since when it remembers) answers FORGOTTEN,
 * logged (N8443300) and counted here. */
n8443_rc_result n8443_rcache_check_and_store(request_rec *r, n8443_rc_conf *rc,
                                             const unsigned char *key,
                                             const char *principal,
                                             apr_time_t stamp);

/* Does a check under rc need the authenticator's real time?  Not where
 * no backend of ours checks, nor with a shm table born more than the
 * clock skew (+ margin) ago: every token Kerberos accepts now is stamped
 * after its birth, and the GSS-API path need not decrypt it again. */
int n8443_rcache_wants_stamp(const n8443_rc_conf *rc);

/* After a FORGOTTEN answer for r: the watermark the backend compared the
 * stamp with (since when it remembers), and the stamp as compared; 0 when
 * the backend did not say. */
apr_time_t n8443_rcache_forgotten_at(request_rec *r, apr_time_t *stamp);

/* Entries one principal may hold (the quota in force). */
apr_uint64_t n8443_rc_quota(void);
/* Seconds after which a principal refused for its quota may try again. */
long n8443_rc_quota_retry_after(void);

/* The MIT rcache name the acceptor credentials should use for rc: MIT's
 * cache is switched off ("none:") whenever the module's own cache is on. */
const char *n8443_rc_krb5_store_name(const n8443_rc_conf *rc);

/* The status handler's replay cache fields for rc: the backend's name,
 * the shm table's entries and capacity, and what the backend adds. */
const char *n8443_rcache_name(const n8443_rc_conf *rc);
void n8443_rcache_usage(apr_uint64_t *live, apr_uint64_t *capacity);
void n8443_rcache_status(request_rec *r, const n8443_rc_conf *rc);

/* The directives NegotiateReplayCacheFile and NegotiateReplayCacheMargin
 * (config.c's command table). */
const char *n8443_rc_set_file(cmd_parms *cmd, void *dconf, const char *arg);
const char *n8443_rc_set_margin(cmd_parms *cmd, void *dconf, const char *arg);

/* Parse and check "h:p[,h:p...]" (NegotiateReplayCache memcache); NULL
 * or an error message. */
const char *n8443_rc_memcache_parse(apr_pool_t *p, const char *servers);

/* NegotiateReplayCache redis SERVERS / redis-sentinel SERVERS MASTER-NAME
 * (type: "redis" or "redis-sentinel"), and the NegotiateReplayCacheRedis*
 * directives of the same context (rcache_redis.c). */
const char *n8443_rc_redis_set_servers(cmd_parms *cmd, n8443_rc_conf *rc,
                                       const char *type, const char *servers,
                                       const char *master);
const char *n8443_rc_redis_cmd_auth(cmd_parms *cmd, void *dconf,
                                    const char *file);
const char *n8443_rc_redis_cmd_tls(cmd_parms *cmd, void *dconf, const char *ca,
                                   const char *name);
const char *n8443_rc_redis_cmd_timeout(cmd_parms *cmd, void *dconf,
                                       const char *arg);
const char *n8443_rc_redis_cmd_wait(cmd_parms *cmd, void *dconf, const char *n,
                                    const char *ms);

#endif /* N8443_RCACHE_H */
