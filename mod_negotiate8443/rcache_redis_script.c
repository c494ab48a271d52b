/*
 * rcache_redis_script.c - the Redis replay cache's one script
 * (rcache_redis.h): the primary's watermark and a login's entry, checked
 * and stored in one step on the primary.  No state.
 */
#include "n8443_private.h"
#include "rcache_redis.h"

#ifdef N8443_HAVE_REDIS

#include "apr_sha1.h"

/* The since key and the store, in one step on the primary (a script runs
 * alone: nothing can come between).  The since key's value is
 * "WATERMARK RETENTION": every entry stored since WATERMARK (microseconds)
 * expires no sooner than RETENTION (milliseconds).  When the key is gone
 * (FLUSHALL, FLUSHDB, SWAPDB: the entries went with it), unreadable, or
 * records a shorter retention than ours (NegotiateClockSkew raised:
 * entries stored before may expire too early), the primary's memory
 * begins now: a new value is written and older authenticators are
 * refused.  Entries get the longer of both retentions, so the record
 * stays true for every node.
 *
 * A cold birth: httpd's start-up look (ARGV[4] not 0) that finds no since
 * key in a store without the marker key (new, or emptied: as memcached's
 * n8443:born) dates it back to ARGV[4], the default margin before now, so
 * that a first start's logins are not refused for the margin.  A promoted
 * replica holds its primary's marker: its birth is a loss, dated now.
 *   KEYS[1] since key, KEYS[2] marker key, KEYS[3] entry key (none: the
 *   watermark only)
 *   ARGV[1] now (us), ARGV[2] retention (ms), ARGV[3] stamp (us),
 *   ARGV[4] a cold birth's watermark (us; 0: none)
 * Answer: {code, watermark, made}: code 0 forgotten (stamp before the
 * watermark), 1 stored, 2 replay, 3 watermark only; made 0 kept, 1 the
 * key was missing or unreadable, 2 a shorter retention was recorded, 3
 * a cold birth. */
static const char store_script[] =
    "local v = redis.call('GET', KEYS[1]) "
    "local w, r "
    "if v then w, r = string.match(v, '^(%d+) (%d+)$') end "
    "local made = 0 "
    "if not w then made = 1 "
    "elseif tonumber(r) < tonumber(ARGV[2]) then made = 2 end "
    "if made > 0 then "
    "w = ARGV[1] r = ARGV[2] "
    "if not v and ARGV[4] ~= '0' "
    "and redis.call('EXISTS', KEYS[2]) == 0 then w = ARGV[4] made = 3 end "
    "redis.call('SET', KEYS[1], w .. ' ' .. r) end "
    "if (made > 0 or #KEYS < 3) "
    "and redis.call('EXISTS', KEYS[2]) == 0 then "
    "redis.call('SET', KEYS[2], '1') end "
    "if #KEYS < 3 then return {3, w, made} end "
    "if tonumber(ARGV[3]) < tonumber(w) then return {0, w, made} end "
    "local px = ARGV[2] "
    "if tonumber(r) > tonumber(px) then px = r end "
    "if redis.call('SET', KEYS[3], '1', 'NX', 'PX', px) then "
    "return {1, w, made} end "
    "return {2, w, made}";
static char store_sha[2 * APR_SHA1_DIGESTSIZE + 1];
/* Written with every since key, never expiring: this store has held our
 * keys (not hex: no entry key can be it). */
#define MARKER_KEY N8443_REDIS_PREFIX "known"

/* store_sha, once per process (single-threaded: child init, probe). */
static void store_sha_init(void)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[APR_SHA1_DIGESTSIZE];
    apr_sha1_ctx_t ctx;
    int i;

    if (store_sha[0] != '\0')
        return;
    apr_sha1_init(&ctx);
    apr_sha1_update(&ctx, store_script, sizeof(store_script) - 1);
    apr_sha1_final(d, &ctx);
    for (i = 0; i < APR_SHA1_DIGESTSIZE; i++) {
        store_sha[2 * i] = hex[d[i] >> 4];
        store_sha[2 * i + 1] = hex[d[i] & 0xf];
    }
    store_sha[2 * APR_SHA1_DIGESTSIZE] = '\0';
}

redisReply *n8443_redis_run_store(redisContext *c, apr_interval_time_t timeout,
                                  const char *since, const char *key,
                                  apr_time_t stamp, apr_time_t cold, char *err,
                                  apr_size_t len, int *resend)
{
    char now[24], ms[24], stamp_s[24], cold_s[24];
    const char *argv[10];
    redisReply *rep;
    int pass, argc = 0;

    store_sha_init();
    apr_snprintf(now, sizeof(now), "%" APR_TIME_T_FMT, apr_time_now());
    apr_snprintf(ms, sizeof(ms), "%" APR_TIME_T_FMT,
                 apr_time_as_msec(n8443_rc_retention()));
    apr_snprintf(stamp_s, sizeof(stamp_s), "%" APR_TIME_T_FMT,
                 key != NULL ? stamp : 0);
    apr_snprintf(cold_s, sizeof(cold_s), "%" APR_TIME_T_FMT,
                 key != NULL ? 0 : cold);
    argv[argc++] = NULL; /* EVALSHA sha, or EVAL script */
    argv[argc++] = NULL;
    argv[argc++] = key != NULL ? "3" : "2";
    argv[argc++] = since;
    argv[argc++] = MARKER_KEY;
    if (key != NULL)
        argv[argc++] = key;
    argv[argc++] = now;
    argv[argc++] = ms;
    argv[argc++] = stamp_s;
    argv[argc++] = cold_s;
    for (pass = 0; pass < 2; pass++) {
        argv[0] = pass == 0 ? "EVALSHA" : "EVAL";
        argv[1] = pass == 0 ? store_sha : store_script;
        rep =
            n8443_redis_command_argv(c, timeout, err, len, argc, argv, resend);
        if (rep == NULL || rep->type != REDIS_REPLY_ERROR
            || strncmp(rep->str, "NOSCRIPT", 8) != 0)
            return rep;
        freeReplyObject(rep);
    }
    apr_snprintf(err, len, "EVAL answered NOSCRIPT");
    return NULL;
}

int n8443_redis_store_answer(const redisReply *rep, long long *code,
                             apr_time_t *watermark, long long *made)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3
        || rep->element[0]->type != REDIS_REPLY_INTEGER
        || rep->element[1]->type != REDIS_REPLY_STRING
        || rep->element[2]->type != REDIS_REPLY_INTEGER)
        return 0;
    *code = rep->element[0]->integer;
    *watermark = (apr_time_t)apr_atoi64(rep->element[1]->str);
    *made = rep->element[2]->integer;
    return *watermark > 0;
}

#endif /* N8443_HAVE_REDIS */
