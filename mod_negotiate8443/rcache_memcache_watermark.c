/*
 * rcache_memcache_watermark.c - the check-and-store in memcached, and each
 * server's watermark.
 *
 * A memcached forgets: restarted, flush_all, an item evicted.  So each
 * server keeps its own birth time under the key "n8443:born", written with
 * "add" (only the first writer wins, across the farm) and never expiring.
 * The login's key is stored with "add" and, in the same round trip, the
 * birth is read back from that same server over that same connection:
 *
 *   add n8443rc:<key> 0 <retention> 1 / get n8443:born
 *
 * NOT_STORED: a replay.  STORED, and the birth is there: the server has
 * remembered since then, and an authenticator stamped before it may have
 * been stored in the memory it lost - refused (N8443_RC_FORGOTTEN).
 * STORED but no birth: the server lost its memory (just now, or while
 * this key went in): the child writes the birth (now, with "add"), reads
 * the winner's value and compares with that.  A replay after a loss is
 * either still in the server (NOT_STORED) or older than its birth.
 *
 * The birth's value also says for what it holds: "<born> <retention>
 * <list>", the retention (s) entries were stored with and a digest of the
 * ordered server list (a key's home is FNV(key) % N: another list moves
 * keys to servers that never saw them).  A birth for a shorter retention
 * or another list is a lost memory: the parent (at start-up) or a child
 * (that finds it written before its configuration was loaded) writes a
 * new one, now.  One written after this generation was loaded is a newer
 * generation's (a graceful restart): its old children take it as it is.
 *
 * A key always goes to the same server of the list (n8443_mc_home): it is
 * never checked on a server that did not see it stored.  While its server
 * is down, the logins whose keys it holds are refused (503); a fresh
 * authenticator of the same client has another key, so with several
 * servers a retry mostly lands on a live one.
 */
#include "n8443_private.h"
#include "encode.h"
#include "rcache_provider.h"

#include "apr_atomic.h"
#include "apr_strings.h"

#include <stdlib.h>

#define BORN_KEY "n8443:born"

/* When this generation's configuration was loaded (parent, start-up). */
static apr_time_t loaded;

/* The digest of rc's ordered server list (FNV-1a). */
static apr_uint64_t list_digest(const n8443_rc_conf *rc)
{
    apr_uint64_t h = APR_UINT64_C(0xcbf29ce484222325);
    const char *p = rc->memcache_servers ? rc->memcache_servers : "";

    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * APR_UINT64_C(0x100000001b3);
    return h;
}

/* The birth value this generation writes: "<now> <retention> <list>". */
static const char *birth_value(apr_pool_t *p, const n8443_rc_conf *rc,
                               apr_time_t born)
{
    return apr_psprintf(p, "%" APR_TIME_T_FMT " %ld %" APR_UINT64_T_HEX_FMT,
                        born, (long)apr_time_sec(n8443_rc_retention()),
                        list_digest(rc));
}

typedef struct {
    apr_time_t born;
    long retention; /* 0: not said (an older module's) */
    apr_uint64_t list;
} mc_birth;

/* Does a birth hold for rc (its list, a retention as long as ours)? */
static int birth_fits(const mc_birth *b, const n8443_rc_conf *rc)
{
    return b->retention >= (long)apr_time_sec(n8443_rc_retention())
           && b->list == list_digest(rc);
}

static void count_error(const n8443_rc_conf *rc)
{
    if (rc->memcache_slot >= 0 && rc->memcache_slot < N8443_MC_SLOTS)
        apr_atomic_inc32(
            &n8443_stats_get()->memcache_errors[rc->memcache_slot]);
}

/* The value of a "get" reply starting at p: 1 and *born, 0 when the key is
 * absent ("END"), -1 when the reply is not one. */
static int parse_born(const char *p, mc_birth *b)
{
    const char *data;
    char *end;
    apr_int64_t v;

    memset(b, 0, sizeof(*b));
    if (strncmp(p, "END\r\n", 5) == 0)
        return 0;
    if (strncmp(p, "VALUE " BORN_KEY " ", sizeof("VALUE " BORN_KEY)) != 0
        || (data = strstr(p, "\r\n")) == NULL)
        return -1;
    v = apr_strtoi64(data + 2, &end, 10);
    if (end == data + 2 || v <= 0)
        return -1;
    b->born = (apr_time_t)v;
    if (*end == ' ') {
        b->retention = strtol(end + 1, &end, 10);
        if (*end == ' ')
            b->list = (apr_uint64_t)strtoull(end + 1, &end, 16);
    }
    if (strncmp(end, "\r\n", 2) != 0)
        return -1;
    return 1;
}

/* The server lost its birth: write now (the first writer wins) and read
 * the winner's.  1 and *born, or 0 when the server did not answer. */
static int rebirth(request_rec *r, const n8443_rc_conf *rc, n8443_mc_server *s,
                   int replace, mc_birth *born)
{
    const char *now = birth_value(r->pool, rc, apr_time_now());
    char cmd[192], reply[256];
    apr_status_t rv;

    apr_snprintf(cmd, sizeof(cmd),
                 "%s " BORN_KEY " 0 0 %" APR_SIZE_T_FMT
                 "\r\n%s\r\nget " BORN_KEY "\r\n",
                 replace ? "set" : "add", strlen(now), now);
    rv = n8443_mc_command(s, cmd, reply, sizeof(reply), 1, 1);
    if (rv != APR_SUCCESS || strchr(reply, '\n') == NULL
        || parse_born(strchr(reply, '\n') + 1, born) != 1)
        return 0;
    if (replace)
        ap_log_rerror(
            APLOG_MARK, APLOG_WARNING, 0, r,
            N8443LOGNO(454) "replay cache: memcached (%s)'s watermark was for "
            "another server list or a shorter retention "
            "(NegotiateClockSkew raised): it remembers since "
            "now, and authenticators made before are refused",
            n8443_mc_name(s));
    else if (strncmp(reply, "STORED\r\n", 8) == 0)
        ap_log_rerror(
            APLOG_MARK, APLOG_WARNING, 0, r,
            N8443LOGNO(307) "replay cache: memcached (%s) had lost its memory "
            "(restarted, flushed or its entries evicted): it "
            "remembers since now, and authenticators made before "
            "are refused",
            n8443_mc_name(s));
    return 1;
}

n8443_rc_result n8443_rc_mc_add(request_rec *r, n8443_rc_conf *rc,
                                const unsigned char *key, apr_time_t stamp)
{
    char mkey[sizeof("n8443rc:") + 2 * N8443_RC_KEY_LEN];
    char cmd[256], reply[512];
    const char *line2;
    n8443_mc_server *s;
    mc_birth born;
    apr_status_t rv;
    int idx, have;

    if (rc->memcache == NULL)
        return N8443_RC_UNAVAILABLE;
    memcpy(mkey, "n8443rc:", 8);
    n8443_hex_encode(key, N8443_RC_KEY_LEN, mkey + 8, sizeof(mkey) - 8);
    s = n8443_mc_home(rc->memcache, mkey, &idx);

    /* The value is never read; one byte keeps the item small. */
    apr_snprintf(cmd, sizeof(cmd),
                 "add %s 0 %ld 1\r\n1\r\nget " BORN_KEY "\r\n", mkey,
                 (long)apr_time_sec(n8443_rc_retention()) + 1);
    rv = n8443_mc_command(s, cmd, reply, sizeof(reply), 1, 1);
    if (rv != APR_SUCCESS) {
        count_error(rc);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      N8443LOGNO(060) "replay cache: memcached (%s) did not "
                      "answer; login "
                      "refused (503) until it does (the logins whose keys "
                      "it holds)",
                      n8443_mc_name(s));
        return N8443_RC_UNAVAILABLE;
    }
    if (strncmp(reply, "NOT_STORED\r\n", 12) == 0)
        return N8443_RC_REPLAY;
    line2 = strchr(reply, '\n') + 1;
    have = strncmp(reply, "STORED\r\n", 8) == 0 ? parse_born(line2, &born) : -1;
    if (have == 0 && !rebirth(r, rc, s, 0, &born))
        have = -1;
    /* Written for another list or retention, before this generation was
     * loaded: nobody has written the one it needs yet. */
    if (have == 1 && !birth_fits(&born, rc) && born.born < loaded
        && !rebirth(r, rc, s, 1, &born))
        have = -1;
    if (have < 0) {
        count_error(rc);
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            N8443LOGNO(308) "replay cache: memcached (%s) answered \"%.*s\": "
            "login refused (503)%s",
            n8443_mc_name(s), (int)strcspn(reply, "\r\n"), reply,
            strstr(reply, "out of memory") != NULL
                ? "; it is full of live entries (-M): give it more "
                  "memory (-m)"
                : "");
        return N8443_RC_UNAVAILABLE;
    }
    if (stamp < born.born) {
        n8443_rc_note_forgotten(r, born.born, stamp);
        return N8443_RC_FORGOTTEN;
    }
    return N8443_RC_FRESH;
}

/* Parent, at start-up: each server of rc that has no birth yet gets one
 * (now), so that the first logins are not taken for a lost memory. */
void n8443_rc_mc_birth(apr_pool_t *p, const n8443_rc_conf *rc)
{
    n8443_mc_client *c;
    char cmd[192], reply[256];
    const char *now, *verb;
    mc_birth b;
    int i, have;

    loaded = apr_time_now();
    now = birth_value(p, rc, loaded);
    if (n8443_mc_create(p, rc->memcache_servers, &c) != APR_SUCCESS)
        return;
    for (i = 0; i < c->n; i++) {
        if (n8443_mc_command(c->server[i], "get " BORN_KEY "\r\n", reply,
                             sizeof(reply), 0, 1)
            != APR_SUCCESS)
            continue; /* a child writes it */
        have = parse_born(reply, &b);
        verb = "add";
        if (have == 1 && !birth_fits(&b, rc))
            verb = "set"; /* another list, a longer retention now */
        else if (have == 1
                 && b.retention > (long)apr_time_sec(n8443_rc_retention()))
            /* A shorter retention now: keep the watermark, say so (a
             * longer one later is then a loss). */
            verb = "set", now = birth_value(p, rc, b.born);
        else if (have != 0)
            continue;
        else /* no birth yet: a cold one */
            now = birth_value(p, rc, loaded - n8443_rc_cold_margin());
        apr_snprintf(cmd, sizeof(cmd),
                     "%s " BORN_KEY " 0 0 %" APR_SIZE_T_FMT "\r\n%s\r\n", verb,
                     strlen(now), now);
        n8443_mc_command(c->server[i], cmd, reply, sizeof(reply), 1, 0);
        now = birth_value(p, rc, loaded);
    }
}

/* The status page, per server of rc's list: asked now (its state and
 * watermark), and the list's errors since the start. */
void n8443_rc_mc_status(request_rec *r, const n8443_rc_conf *rc)
{
    const n8443_mc_client *c = rc->memcache;
    char reply[256];
    int i;

    ap_rprintf(r, ",\"memcache_errors\":%u,\"memcache_servers\":[",
               rc->memcache_slot >= 0 && rc->memcache_slot < N8443_MC_SLOTS
                   ? apr_atomic_read32(
                       &n8443_stats_get()->memcache_errors[rc->memcache_slot])
                   : 0);
    for (i = 0; c != NULL && i < c->n; i++) {
        mc_birth b;
        apr_time_t born = 0;
        int have = -1;

        if (n8443_mc_command(c->server[i], "get " BORN_KEY "\r\n", reply,
                             sizeof(reply), 0, 1)
            == APR_SUCCESS)
            have = parse_born(reply, &b);
        born = have == 1 ? b.born : 0;
        ap_rprintf(r, "%s{\"server\":\"%s\",\"state\":\"%s\"", i ? "," : "",
                   ap_escape_quotes(r->pool, n8443_mc_name(c->server[i])),
                   have < 0    ? "down"
                   : have == 0 ? "no_watermark"
                               : "up");
        if (have == 1)
            ap_rprintf(r, ",\"watermark_unix\":%" APR_TIME_T_FMT ".%06ld",
                       apr_time_sec(born), (long)apr_time_usec(born));
        ap_rputs("}", r);
    }
    ap_rputs("]", r);
}
