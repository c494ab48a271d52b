/*
 * rcache_memcache.c - the replay cache in memcached, for a farm of servers
 * behind a load balancer that share the SPN and keytab: a token replayed to
 * a second server is caught there.
 *
 * memcached's "add" stores a key only if it is absent, atomically on the
 * server: that is the check-and-store (rcache_memcache_watermark.c, with
 * each server's watermark), over the child's own client
 * (rcache_mc_client.c): a key always on its one server, a server that
 * stops answering tried again after a second, so logins recover without a
 * restart once memcached is back.  While it is away, logins fail closed.
 * Here: the settings, the parent's eviction watch, the provider.
 */
#include "n8443_private.h"
#include "rcache_provider.h"

#include "apr_lib.h"
#include "apr_network_io.h"
#include "ap_mpm.h"
#include "apr_atomic.h"

#include <stdlib.h>

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

static int refused_for_evictions(request_rec *r, const n8443_rc_conf *rc);

/* ------------------------------------------------ eviction watch (-M) */

/* One memcached's answer to "stats settings" + "stats": evictions_on is
 * 1 (evicts), 0 (-M) or -1 (no answer); evictions is its counter. */
static void probe_one(apr_pool_t *p, const char *hostport, int *evictions_on,
                      apr_uint64_t *evictions)
{
    static const char cmd[] = "stats settings\r\nstats\r\n";
    char *host = NULL, *scope = NULL, buf[16384];
    apr_port_t port = 0;
    apr_sockaddr_t *sa;
    apr_socket_t *sock;
    apr_size_t len = sizeof(cmd) - 1, got = 0, n;
    int ends = 0;
    char *line, *last;
    apr_time_t deadline;

    *evictions_on = -1;
    *evictions = 0;
    if (apr_parse_addr_port(&host, &scope, &port, hostport, p) != APR_SUCCESS
        || host == NULL
        || apr_sockaddr_info_get(&sa, host, APR_UNSPEC, port, 0, p)
               != APR_SUCCESS
        || apr_socket_create(&sock, sa->family, SOCK_STREAM, APR_PROTO_TCP, p)
               != APR_SUCCESS)
        return;
    apr_socket_timeout_set(sock, apr_time_from_sec(1));
    if (apr_socket_connect(sock, sa) != APR_SUCCESS
        || apr_socket_send(sock, cmd, &len) != APR_SUCCESS) {
        apr_socket_close(sock);
        return;
    }
    /* Two answers, each ending in "END\r\n", within a second in all:
     * APR's timeout is per read, and a server sending a byte now and then
     * would hold httpd's parent (or the status page) for as long as it
     * liked. */
    deadline = apr_time_now() + apr_time_from_sec(1);
    while (ends < 2 && got < sizeof(buf) - 1) {
        apr_interval_time_t left = deadline - apr_time_now();

        n = sizeof(buf) - 1 - got;
        if (left <= 0 || apr_socket_timeout_set(sock, left) != APR_SUCCESS
            || apr_socket_recv(sock, buf + got, &n) != APR_SUCCESS || n == 0)
            break;
        got += n;
        buf[got] = '\0';
        ends = 0;
        for (line = buf; (line = strstr(line, "END\r\n")) != NULL; line++)
            ends++;
    }
    apr_socket_close(sock);
    buf[got] = '\0';
    if (ends < 2)
        return;
    for (line = apr_strtok(buf, "\r\n", &last); line != NULL;
         line = apr_strtok(NULL, "\r\n", &last)) {
        if (strcmp(line, "STAT evictions on") == 0)
            *evictions_on = 1;
        else if (strcmp(line, "STAT evictions off") == 0)
            *evictions_on = 0;
        else if (strncmp(line, "STAT evictions ", 15) == 0
                 && apr_isdigit(line[15]))
            *evictions = (apr_uint64_t)apr_strtoi64(line + 15, NULL, 10);
    }
}

/* What the memcached of servers say now: evictions_on 1 when one of them
 * evicts, 0 when none does, -1 when one did not answer; evictions summed. */
static void probe(apr_pool_t *p, const char *servers, int *evictions_on,
                  apr_uint64_t *evictions)
{
    char *list = apr_pstrdup(p, servers), *tok, *last;

    *evictions_on = 0;
    *evictions = 0;
    for (tok = apr_strtok(list, ",", &last); tok != NULL;
         tok = apr_strtok(NULL, ",", &last)) {
        int on;
        apr_uint64_t ev;

        probe_one(p, tok, &on, &ev);
        if (on == 1 || (on == -1 && *evictions_on == 0))
            *evictions_on = on;
        *evictions += ev;
    }
}

/* What the parent knows of one memcached (by "host:port", whichever
 * lists name it). */
typedef struct {
    int probed;             /* it answered once */
    apr_uint64_t evictions; /* its counter at the last answer */
    apr_time_t hold_until;  /* refused until then: it evicted */
    apr_time_t warned;      /* last N8443262 */
    apr_uint32_t why;       /* N8443_MC_*, 0: logins may use it */
} watch_state;

/* Ask each memcached of rc whether it evicts ("stats settings") and how
 * many items it evicted ("stats"), and log when that changes.  Returns
 * the word for memcache_refuse[]: 0 when logins may use the list.  From
 * post_config and the monitor hook (the parent). */
static apr_uint32_t watch_list(apr_pool_t *p, server_rec *s,
                               const n8443_rc_conf *rc, int startup)
{
    /* Parent only; in the process pool, so that what is known survives
     * graceful restarts (which reload the module). */
    static const char seen_key[] = "negotiate8443-memcache-watch";
    apr_hash_t *seen;
    void *data;
    char *list = apr_pstrdup(p, rc->memcache_servers), *tok, *last;
    apr_time_t now = apr_time_now();
    apr_uint32_t word = 0, i = 0;

    apr_pool_userdata_get(&data, seen_key, s->process->pool);
    seen = data;
    if (seen == NULL) {
        seen = apr_hash_make(s->process->pool);
        apr_pool_userdata_set(seen, seen_key, apr_pool_cleanup_null,
                              s->process->pool);
    }
    for (tok = apr_strtok(list, ",", &last); tok != NULL;
         tok = apr_strtok(NULL, ",", &last), i++) {
        watch_state *ws = apr_hash_get(seen, tok, APR_HASH_KEY_STRING);
        apr_uint32_t why;
        apr_uint64_t ev;
        int on;

        if (ws == NULL) {
            ws = apr_pcalloc(s->process->pool, sizeof(*ws));
            apr_hash_set(seen, apr_pstrdup(s->process->pool, tok),
                         APR_HASH_KEY_STRING, ws);
        }
        probe_one(p, tok, &on, &ev);
        if (on == -1) {
            /* Not probed: its own errors (N8443060) speak for it; what
             * was known of it stands. */
            if (startup)
                ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                             N8443LOGNO(264) "replay cache: memcached (%s) did "
                             "not answer "
                             "\"stats settings\"; whether it evicts is not "
                             "known yet",
                             tok);
        }
        else {
            if (ws->probed && ev > ws->evictions) {
                ws->hold_until = now + n8443_rc_retention();
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                             N8443LOGNO(263) "replay cache: memcached (%s) "
                             "evicted %" APR_UINT64_T_FMT
                             " items since the last look: "
                             "tokens whose entries were among them could be "
                             "replayed, so logins that use it are refused "
                             "(503) for the next %ld s. Start it with "
                             "memcached -M and enough -m",
                             tok, ev - ws->evictions,
                             (long)apr_time_sec(n8443_rc_retention()));
            }
            ws->probed = 1;
            ws->evictions = ev;
            why = on == 1                ? N8443_MC_EVICTS
                  : now < ws->hold_until ? N8443_MC_EVICTED
                                         : 0;
            if (why == N8443_MC_EVICTS
                && (ws->why != N8443_MC_EVICTS
                    || now - ws->warned >= apr_time_from_sec(3600))) {
                ws->warned = now;
                ap_log_error(
                    APLOG_MARK, APLOG_ERR, 0, s,
                    N8443LOGNO(262) "replay cache: memcached (%s) evicts items "
                    "when its memory is full (it runs without -M): "
                    "a flood of logins could push out the entry of "
                    "a token that is still valid, and that token "
                    "would be accepted again. Logins that use it "
                    "are refused (503) until it runs as memcached "
                    "-M with enough -m",
                    tok);
            }
            else if (why == 0 && ws->why != 0)
                ap_log_error(
                    APLOG_MARK, APLOG_NOTICE, 0, s,
                    N8443LOGNO(288) "replay cache: memcached (%s) no longer "
                    "evicts: logins use it again",
                    tok);
            ws->why = why;
        }
        if (word == 0 && ws->why != 0)
            word = ws->why << 16 | (i & 0xffff);
    }
    return word;
}

/* The server at index i of list, or the list (a shared slot). */
static const char *nth_server(apr_pool_t *p, const char *list, apr_uint32_t i)
{
    char *copy = apr_pstrdup(p, list), *tok, *last;

    for (tok = apr_strtok(copy, ",", &last); tok != NULL && i > 0; i--)
        tok = apr_strtok(NULL, ",", &last);
    return tok != NULL ? tok : list;
}

/* Does the parent's last look at memcached forbid logins through rc?
 * Then say why (for each refused login: the administrator greps for
 * it) and return 1. */
static int refused_for_evictions(request_rec *r, const n8443_rc_conf *rc)
{
    n8443_stats *st = n8443_stats_get();
    apr_uint32_t word;

    if (rc->memcache_slot < 0 || rc->memcache_slot >= N8443_MC_SLOTS)
        return 0;
    word = apr_atomic_read32(&st->memcache_refuse[rc->memcache_slot]);
    if (word == 0)
        return 0;
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  N8443LOGNO(289) "replay cache: memcached (%s) %s: a token "
                  "whose entry it "
                  "dropped could be replayed, so the login is refused (503). "
                  "Run it as memcached -M with enough -m",
                  nth_server(r->pool, rc->memcache_servers, word & 0xffff),
                  (word >> 16) == N8443_MC_EVICTS
                      ? "evicts items when its memory is full (runs without -M)"
                      : "evicted items lately");
    return 1;
}

/* ------------------------------------------------------------ provider */

/* The memcache_refuse[] word of rc's memcached list: one per distinct
 * list (asked: list -> slot + 1). */
static int slot_of(apr_hash_t *asked, const n8443_rc_conf *rc)
{
    long n =
        (long)apr_hash_get(asked, rc->memcache_servers, APR_HASH_KEY_STRING);

    if (n == 0) {
        n = (long)apr_hash_count(asked) + 1;
        apr_hash_set(asked, rc->memcache_servers, APR_HASH_KEY_STRING,
                     (void *)n);
    }
    return (int)((n - 1) % N8443_MC_SLOTS);
}

typedef struct {
    apr_pool_t *p;
    int startup;
    apr_uint32_t words[N8443_MC_SLOTS];
} watch_walk;

/* A list is a store: vhosts that name the same one share it. */
static const char *store_of(apr_pool_t *p, const n8443_rc_conf *rc)
{
    return rc->memcache_servers;
}

static int watch_one(server_rec *vs, n8443_rc_conf *rc, void *baton)
{
    watch_walk *w = baton;
    apr_uint32_t word = watch_list(w->p, vs, rc, w->startup);

    if (w->startup)
        n8443_rc_mc_birth(w->p, rc);
    if (w->words[rc->memcache_slot] == 0)
        w->words[rc->memcache_slot] = word;
    return OK;
}

/*
 * Ask every memcached list once (not once per vhost that shares it)
 * whether it evicts, and publish the answers for the children in the
 * shared segment: a memcached that evicts could drop the entry of a
 * token that is still valid, so logins through it are refused (503)
 * while it does.  Lists that share a word share a refusal.
 */
static void watch_memcached(apr_pool_t *p, server_rec *s, int startup)
{
    n8443_stats *st = n8443_stats_get();
    watch_walk w;
    int i;

    memset(&w, 0, sizeof(w));
    w.p = p;
    w.startup = startup;
    n8443_rc_each_store(p, s, N8443_RC_MEMCACHE, store_of, watch_one, &w);
    for (i = 0; i < N8443_MC_SLOTS; i++)
        apr_atomic_set32(&st->memcache_refuse[i], w.words[i]);
}

/* Each vhost's memcache_refuse[] word. */
static int slot_one(server_rec *vs, n8443_rc_conf *rc, void *asked)
{
    rc->memcache_slot = slot_of(asked, rc);
    return OK;
}

static int memcache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                                server_rec *s, apr_uint64_t entries)
{
    n8443_rc_each_store(ptemp, s, N8443_RC_MEMCACHE, NULL, slot_one,
                        apr_hash_make(ptemp));
    /* httpd reads the configuration twice at start-up; memcached is
     * asked in the pass that goes on to serve, before the first child:
     * logins are refused from the first request on if a memcached
     * evicts. */
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG)
        watch_memcached(ptemp, s, 1);
    return OK;
}

/* Monitor hook (parent, about every 10 s): look at memcached once a
 * minute - does it evict, and did it? */
void n8443_rc_memcache_monitor(apr_pool_t *p, server_rec *s)
{
    static apr_time_t last;
    apr_time_t now = apr_time_now();
    apr_pool_t *tmp;

    if (now - last < apr_time_from_sec(60)
        || apr_pool_create(&tmp, p) != APR_SUCCESS)
        return;
    last = now;
    watch_memcached(tmp, s, 0);
    apr_pool_destroy(tmp);
}

static int connect_one(server_rec *vs, n8443_rc_conf *rc, void *pchild)
{
    apr_status_t rv;

    if (rc->memcache != NULL)
        return OK;
    rv = n8443_mc_create(pchild, rc->memcache_servers,
                         (n8443_mc_client **)&rc->memcache);
    if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, vs,
                     N8443LOGNO(057) "cannot set up the memcached client for "
                     "%s",
                     rc->memcache_servers);
    return OK;
}

static void memcache_child_init(apr_pool_t *pchild, server_rec *s)
{
    n8443_rc_each_store(pchild, s, N8443_RC_MEMCACHE, NULL, connect_one,
                        pchild);
}

/* memcached answers replays; the quota (counted in the shm segment, per
 * instance) keeps one principal from pushing others' entries out of a
 * memcached that evicts. */
static n8443_rc_result
memcache_check_and_store(request_rec *r, n8443_rc_conf *rc,
                         const unsigned char *key, const n8443_rc_who *who,
                         apr_uint64_t quota, apr_time_t now, apr_time_t stamp,
                         int *log_quota)
{
    n8443_rc_result res =
        n8443_rc_shm_quota_check(r, who, quota, now, log_quota);

    if (res == N8443_RC_FRESH) {
        res = refused_for_evictions(r, rc) ? N8443_RC_UNAVAILABLE
                                           : n8443_rc_mc_add(r, rc, key, stamp);
        if (res == N8443_RC_FRESH)
            n8443_rc_shm_quota_count(r, who, now);
    }
    return res;
}

/* Asked now (1 s timeout per server): does it evict, and how many items
 * has it evicted since it started?  And the parent's verdict that the
 * children follow: logins refused (503) because it evicts or evicted. */
static void memcache_status(request_rec *r, const n8443_rc_conf *rc)
{
    n8443_stats *st = n8443_stats_get();
    apr_uint64_t ev;
    int on;

    probe(r->pool, rc->memcache_servers, &on, &ev);
    ap_rprintf(r,
               ",\"memcache_evictions_on\":%s,"
               "\"memcache_evictions\":%" APR_UINT64_T_FMT
               ",\"memcache_refusing\":%s",
               on == 1   ? "true"
               : on == 0 ? "false"
                         : "null",
               ev,
               apr_atomic_read32(
                   &st->memcache_refuse[rc->memcache_slot % N8443_MC_SLOTS])
                       != 0
                   ? "true"
                   : "false");
    n8443_rc_mc_status(r, rc);
}

const n8443_rc_provider n8443_rc_memcache_provider = {"memcache",
                                                      NULL,
                                                      memcache_post_config,
                                                      memcache_child_init,
                                                      memcache_check_and_store,
                                                      memcache_status};
