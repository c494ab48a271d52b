/*
 * rcache.h - the replay cache: one question, asked after Kerberos accepted
 * a token: "has this authenticator been seen before?", answered and
 * recorded in one atomic step.
 *
 *   rcache.c           configuration, dispatch, sizing, shared counters
 *   rcache_shm.c       one table in shared memory for the whole instance
 *   rcache_memcache.c  memcached's atomic "add", shared by a server farm
 *
 * The "krb5" backend is MIT's own cache, named in the acceptor's credential
 * store (credentials.c); "none" switches replay detection off.
 */
#ifndef N8443_RCACHE_H
#define N8443_RCACHE_H

#include "httpd.h"
#include "apr_global_mutex.h"
#include "apr_shm.h"

#include "modes.h"      /* n8443_rc_backend, shared with n8443ctl */
#include "rc_table.h"

typedef enum {
    N8443_RC_FRESH = 0,     /* not seen before; now recorded */
    N8443_RC_REPLAY,        /* seen before: refuse */
    N8443_RC_FULL,          /* no room for a live entry: fail closed */
    N8443_RC_UNAVAILABLE,   /* backend could not answer: fail closed */
    N8443_RC_QUOTA          /* the principal has its share of the cache:
                             * refused, not stored (429) */
} n8443_rc_result;

/* Length of the stored key: the first half of the SHA-256 replay key.
 * 128 bits leave no room for an accidental collision. */
#define N8443_RC_KEY_LEN N8443_RC_TABLE_KEY_LEN

/* Per-vhost replay cache settings (part of n8443_server_conf). */
typedef struct {
    n8443_rc_backend backend;
    unsigned int backend_set:1;
    const char *memcache_servers;   /* "h:p,h:p" as configured */
    const char *krb5_name;          /* MIT rcache name for N8443_RC_KRB5 */
    void *memcache;                 /* apr_memcache_t *, per child */
    int memcache_slot;              /* its word in memcache_refuse[] */
} n8443_rc_conf;

/* ------------------------------------------------ shared counters (status) */

/* Failure buckets of the status handler; n8443_cause values index them. */
#define N8443_STAT_CAUSES 11
/* Distinct memcached lists whose state the parent shares with the
 * children; more lists share words (a refusal then covers them all). */
#define N8443_MC_SLOTS 64

typedef struct {
    apr_uint32_t logins;
    apr_uint32_t logins_fast_path;  /* of logins: by core/krb5_accept.c */
    apr_uint32_t failures[N8443_STAT_CAUSES];
    apr_uint32_t backend_errors;
    apr_uint32_t full;
    apr_uint32_t quota_refused;     /* N8443_RC_QUOTA answers */
    /* Per memcached list (n8443_rc_conf.memcache_slot), written by the
     * parent's probe: 0, or why its logins are refused (503) - a
     * N8443_MC_* reason << 16 | the index of the server in the list. */
    apr_uint32_t memcache_refuse[N8443_MC_SLOTS];
} n8443_stats;

#define N8443_MC_EVICTS   1u        /* "evictions on": runs without -M */
#define N8443_MC_EVICTED  2u        /* its "evictions" counter grew */

/* The instance's counters (in shared memory once post_config has run;
 * a process-local dummy before that, so callers never check for NULL). */
n8443_stats *n8443_stats_get(void);

/* --------------------------------------------------------- instance-wide */

/* Instance-wide settings: NegotiateClockSkew and NegotiateReplayCacheSize
 * are global-only directives, so they live here rather than in a config. */
typedef struct {
    long clock_skew;                 /* seconds */
    int clock_skew_set;
    apr_uint64_t size;               /* entries; 0 = derived from the skew */
    apr_uint64_t quota;              /* per principal; 0 = 1% of size */
} n8443_instance_conf;

extern n8443_instance_conf n8443_instance;

/* Retention of an entry: twice the clock skew (a token is valid for skew
 * seconds either side of its timestamp). */
apr_interval_time_t n8443_rc_retention(void);

int n8443_rcache_pre_config(apr_pool_t *pconf);
int n8443_rcache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                             server_rec *s);
void n8443_rcache_child_init(apr_pool_t *pchild, server_rec *s);
/* Monitor hook (parent): watch memcached for evictions. */
int n8443_rcache_monitor(apr_pool_t *p, server_rec *s);

/* Check and record key (32-byte replay key) of principal's login for
 * request r under the vhost's settings.  Atomic: of two concurrent callers
 * with one key, one gets FRESH and the other REPLAY.  A principal that
 * already holds its share of the cache (NegotiateReplayCacheQuota) gets
 * QUOTA and nothing is stored; a replay is never counted against it. */
n8443_rc_result n8443_rcache_check_and_store(request_rec *r,
                                             n8443_rc_conf *rc,
                                             const unsigned char *key,
                                             const char *principal);

/* Entries one principal may hold (the quota in force). */
apr_uint64_t n8443_rc_quota(void);
/* Seconds after which a principal refused for its quota may try again. */
long n8443_rc_quota_retry_after(void);

/* The MIT rcache name the acceptor credentials should use for rc: MIT's
 * cache is switched off ("none:") whenever the module's own cache is on. */
const char *n8443_rc_krb5_store_name(const n8443_rc_conf *rc);

/* Live entries and capacity of the shm table (for the status handler). */
void n8443_rc_shm_usage(apr_uint64_t *live, apr_uint64_t *capacity);

/* ---------------------------------------------------- backends (private) */

apr_status_t n8443_rc_shm_create(apr_pool_t *process_pool, server_rec *s,
                                 apr_uint64_t entries);
apr_status_t n8443_rc_shm_child_init(apr_pool_t *pchild, server_rec *s);
/* Per-principal accounting, kept in the shm segment for every backend:
 * a digest of the principal, and the logins it made within the retention
 * (a time-windowed count-min sketch: never less than the truth). */
typedef struct {
    apr_uint32_t idx[4];
    apr_uint64_t tag;
} n8443_rc_who;

int n8443_rc_shm_who(const char *principal, n8443_rc_who *who);
/* The shm backend: replay check, quota, store - under one lock. */
n8443_rc_result n8443_rc_shm_add(request_rec *r, const unsigned char *key,
                                 const n8443_rc_who *who, apr_uint64_t quota,
                                 apr_time_t now, apr_time_t expires,
                                 int *log_quota);
/* For other backends: is who over quota (and should that be logged now)?
 * And count one stored login of who. */
n8443_rc_result n8443_rc_shm_quota_check(request_rec *r,
                                         const n8443_rc_who *who,
                                         apr_uint64_t quota, apr_time_t now,
                                         int *log_quota);
void n8443_rc_shm_quota_count(request_rec *r, const n8443_rc_who *who,
                              apr_time_t now);
n8443_stats *n8443_rc_shm_stats(void);
int n8443_rc_shm_register_mutex(apr_pool_t *pconf);

apr_status_t n8443_rc_memcache_child_init(apr_pool_t *pchild, server_rec *s,
                                          n8443_rc_conf *rc);
n8443_rc_result n8443_rc_memcache_add(request_rec *r, n8443_rc_conf *rc,
                                      const unsigned char *key,
                                      apr_interval_time_t retention);
/* Ask each memcached of rc whether it evicts ("stats settings") and how
 * many items it evicted ("stats"), and log when that changes.  Returns
 * the word for memcache_refuse[]: 0 when logins may use the list.  From
 * post_config and the monitor hook (the parent). */
apr_uint32_t n8443_rc_memcache_watch(apr_pool_t *p, server_rec *s,
                                     const n8443_rc_conf *rc, int startup);
/* What the memcached of servers say now: evictions_on 1 when one of them
 * evicts, 0 when none does, -1 when one did not answer; evictions summed. */
void n8443_rc_memcache_probe(apr_pool_t *p, const char *servers,
                             int *evictions_on, apr_uint64_t *evictions);
/* Parse and check "h:p[,h:p...]"; NULL or an error message. */
const char *n8443_rc_memcache_parse(apr_pool_t *p, const char *servers);

#endif /* N8443_RCACHE_H */
