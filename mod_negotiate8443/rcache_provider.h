/*
 * rcache_provider.h - what a replay cache backend provides (shaped like
 * httpd's ap_socache_provider_t), and what the shm segment offers every
 * backend: the per-principal quota.  Private to rcache*.c.
 */
#ifndef N8443_RCACHE_PROVIDER_H
#define N8443_RCACHE_PROVIDER_H

#include "httpd.h"

#include "rcache.h"

/* Per-principal accounting, kept in the shm segment for every backend:
 * a digest of the principal, and the logins it made within the retention
 * (a time-windowed count-min sketch: never less than the truth). */
typedef struct {
    apr_uint32_t idx[4];
    apr_uint64_t tag;
} n8443_rc_who;

typedef struct n8443_rc_provider {
    const char *name;
    /* Each hook once per instance, for every vhost that uses the backend;
     * NULL: nothing to do.  pre_config: register what must be registered
     * before the configuration is read. */
    int (*pre_config)(apr_pool_t *pconf);
    /* Parent, after the configuration is read; entries: the shm table's
     * capacity. */
    int (*post_config)(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                       apr_uint64_t entries);
    void (*child_init)(apr_pool_t *pchild, server_rec *s);
    /* Atomic check-and-store of key for who (quota: the entries who may
     * hold; *log_quota set when a QUOTA answer should be logged now).
     * stamp: the authenticator's time (never 0: rcache.c puts now - skew
     * for an unknown one).  The backend compares it with its watermark,
     * the time since which it remembers (its birth, kept in the store
     * itself): stamp < watermark -> N8443_RC_FORGOTTEN, nothing stored,
     * after n8443_rc_note_forgotten(r, watermark, stamp).
     * NULL: the backend makes no check of ours (krb5, none). */
    n8443_rc_result (*check_and_store)(request_rec *r, n8443_rc_conf *rc,
                                       const unsigned char *key,
                                       const n8443_rc_who *who,
                                       apr_uint64_t quota, apr_time_t now,
                                       apr_time_t stamp, int *log_quota);
    /* Extra fields of the status handler's "replay_cache" object, each
     * starting with ",".  Every backend with a watermark shows it there,
     * with its errors and its state.  NULL: none. */
    void (*status)(request_rec *r, const n8443_rc_conf *rc);
} n8443_rc_provider;

extern const n8443_rc_provider n8443_rc_shm_provider;
extern const n8443_rc_provider n8443_rc_memcache_provider;
extern const n8443_rc_provider n8443_rc_redis_provider;

/* ------------------------------ rcache_store.c (below rcache.c and the
 * providers, calling neither) */

/* fn(vs, its settings, baton) for each vhost vs of s whose
 * NegotiateReplayCache is backend, once per store: store(p, rc) names the
 * store (vhosts that inherit one share it; store NULL: each vhost on its
 * own), and only its first vhost is visited.  A provider's hooks walk the
 * vhosts with it.  The first answer of fn that is not OK ends the walk
 * and is returned. */
typedef int (*n8443_rc_store_fn)(server_rec *vs, n8443_rc_conf *rc,
                                 void *baton);
int n8443_rc_each_store(apr_pool_t *p, server_rec *s, n8443_rc_backend backend,
                        const char *(*store)(apr_pool_t *p,
                                             const n8443_rc_conf *rc),
                        n8443_rc_store_fn fn, void *baton);

/* Record, for the exchange's log line, the watermark a FORGOTTEN answer
 * for r compared stamp with. */
void n8443_rc_note_forgotten(request_rec *r, apr_time_t watermark,
                             apr_time_t stamp);

/* A digest of every vhost's store (backend and server list), this
 * generation: a table kept across a change of it lost memory. */
apr_uint64_t n8443_rc_stores_sig(void);
/* NegotiateReplayCacheMargin in force (seconds). */
long n8443_rc_margin(void);
/* How much earlier than now a cold birth is dated: a watermark where no
 * memory is known to have existed before (no table file; a memcached
 * without a birth, a Redis without our marker key, when httpd starts),
 * so that the default margin does not
 * refuse a fresh start's first logins.  0 where the margin was set, and
 * 0 once the instance has run before: the shm provider, which starts
 * before the others, says whether it made the table file at this start
 * (n8443_rc_set_first_start(created)); if not, an empty memcached or
 * Redis is a loss. */
apr_interval_time_t n8443_rc_cold_margin(void);
void n8443_rc_set_first_start(int created);
/* At post_config: sign the vhosts' stores (n8443_rc_stores_sig) and say
 * whether those that check use more than one (n8443_rc_mixed_stores: a
 * login is then also recorded in the shm table). */
void n8443_rc_sign_stores(server_rec *s);
int n8443_rc_mixed_stores(void);

/* ------------------------------------------ the shm segment (all backends) */

/* The segment also holds the instance's counters and the quota: it is
 * created (n8443_rc_shm_provider.post_config) whatever the backends. */
int n8443_rc_shm_who(const char *principal, n8443_rc_who *who);
n8443_rc_result n8443_rc_shm_quota_check(request_rec *r,
                                         const n8443_rc_who *who,
                                         apr_uint64_t quota, apr_time_t now,
                                         int *log_quota);
void n8443_rc_shm_quota_count(request_rec *r, const n8443_rc_who *who,
                              apr_time_t now);
void n8443_rc_shm_usage(apr_uint64_t *live, apr_uint64_t *capacity);
/* The shm table's watermark (0: no table). */
apr_time_t n8443_rc_shm_born(void);
/* Seconds per quota window (a refused principal's Retry-After). */
long n8443_rc_shm_window(void);

/* ------------------------------------- the shm table's file (rcache_file.c) */

typedef struct {
    const char *path;
    int fd;     /* open (and locked) for the instance's life */
    void *base; /* the mapping, MAP_SHARED */
    apr_size_t bytes;
    int created; /* no file before (not a replaced one) */
    int kept;    /* the file had this size: its contents may be
                               usable (the header says) */
} n8443_rc_file;

/* NegotiateReplayCacheFile, or its default in the runtime directory. */
const char *n8443_rc_file_path(apr_pool_t *p);
/* Open (creating it 0600), check, lock, size and map the file at path,
 * f in pool p; logged on failure.  Mapped until n8443_rc_file_close or
 * the process ends (no pool cleanup: p is the process pool, destroyed
 * after httpd unloaded the module). */
apr_status_t n8443_rc_file_map(apr_pool_t *p, server_rec *s, const char *path,
                               apr_size_t bytes, n8443_rc_file **out);
/* Unmap and close (the lock goes when no process holds the file). */
void n8443_rc_file_close(n8443_rc_file *f);
/* Is the directory of path, and every one above it, safe from httpd's
 * children (not writable by User, its groups or everybody)?  Logged and
 * not APR_SUCCESS when it is not (start-up then stops). */
apr_status_t n8443_rc_file_dir_check(apr_pool_t *p, server_rec *s,
                                     const char *path);
/* This boot's id (Linux: /proc/sys/kernel/random/boot_id), zeros when
 * unknown. */
void n8443_rc_boot_id(char *buf, apr_size_t len);

/* --------------------------------------------------------------- memcache */

/* Monitor hook (parent): does a memcached evict, and did it? */
void n8443_rc_memcache_monitor(apr_pool_t *p, server_rec *s);

/* The child's memcached client (rcache_mc_client.c): one connection pool
 * per server, a key always on its one server. */
typedef struct n8443_mc_server n8443_mc_server;
typedef struct {
    int n;
    n8443_mc_server **server;
} n8443_mc_client;

/* A client for "host:port[,...]" in pool p (a child's). */
apr_status_t n8443_mc_create(apr_pool_t *p, const char *servers,
                             n8443_mc_client **out);
/* The server of key (and its index in the list): a key never moves. */
n8443_mc_server *n8443_mc_home(const n8443_mc_client *c, const char *key,
                               int *index);
const char *n8443_mc_name(const n8443_mc_server *s);
/* Send cmd (whole commands, pipelined) and read the replies into reply
 * (NUL-terminated): `lines` one-line replies, then a "get" reply when
 * want_get.  Not APR_SUCCESS: the server did not answer (logins that
 * need it fail closed); it is tried again after a second. */
/* The check-and-store of key in its memcached, with the server's
 * watermark (rcache_memcache_watermark.c); its status fields. */
n8443_rc_result n8443_rc_mc_add(request_rec *r, n8443_rc_conf *rc,
                                const unsigned char *key, apr_time_t stamp);
void n8443_rc_mc_status(request_rec *r, const n8443_rc_conf *rc);
/* Parent, at start-up: a birth for each server that has none. */
void n8443_rc_mc_birth(apr_pool_t *p, const n8443_rc_conf *rc);
apr_status_t n8443_mc_command(n8443_mc_server *s, const char *cmd, char *reply,
                              apr_size_t size, int lines, int want_get);

#endif /* N8443_RCACHE_PROVIDER_H */
