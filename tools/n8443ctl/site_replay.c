/*
 * n8443ctl - site file loader: the replay cache and its settings.
 *
 *   kerberos:
 *     replay_cache: redis-sentinel://s1:26379,s2:26379,s3:26379/n8443
 *     redis:                       # NegotiateReplayCacheRedis*
 *       auth_file: /etc/httpd/conf/redis.pw
 *       tls_ca: /etc/pki/tls/certs/redis-ca.pem
 *       tls_name: redis.example.com
 *       timeout: 500               # ms
 *       wait_replicas: 1
 *       wait_timeout: 100          # ms
 *     replay_cache_file: /var/lib/negotiate8443/rcache
 *     replay_cache_margin: 5
 *
 * replay_cache is one URL-like value, as memcache://; the module's
 * directive takes the kind, the servers and (Sentinel) the master's name
 * as words of their own, which struct n8443_replay holds.  The `redis`
 * block belongs to a redis:// or redis-sentinel:// replay cache; the file
 * and the margin are instance-wide, like clock_skew.
 */
#include <stdio.h>
#include <string.h>

#include "site_values.h"

/* Each comma-separated HOST:PORT of the LEN bytes at P; 1, or 0 after a
 * diagnostic naming the WHAT ("memcache server"). */
static int check_servers(struct n8443_ld *c, const ynode *v, const char *what,
                         const char *p, size_t len)
{
    char shown[SHOW_BUF];
    const char *end = p + len;

    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t one = comma ? (size_t)(comma - p) : (size_t)(end - p);

        if (!n8443_ld_valid_host_port(p, one)) {
            n8443_ld_diag(c, v,
                          "'replay_cache' %s '%s' must be HOST:PORT with a "
                          "port from 1 to 65535 (an IPv6 address in "
                          "brackets: [2001:db8::7]:6379)",
                          what, n8443_ld_show(shown, p, one));
            return 0;
        }
        if (comma == NULL) {
            return 1;
        }
        p = comma + 1;
    }
}

/* A Sentinel master name: one word Redis and httpd both take as is. */
static int valid_master_name(const char *s)
{
    size_t len = strlen(s);

    return len > 0 && len <= 64
           && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                        "0123456789._-")
                  == len;
}

/* redis://h:p[,h:p] or redis-sentinel://h:p[,h:p]/MASTER at TEXT. */
static int get_redis(struct n8443_ld *c, const ynode *v,
                     struct n8443_replay *out)
{
    char shown[SHOW_BUF];
    const char *servers;
    const char *slash;

    if (strncmp(v->text, "redis://", 8) == 0) {
        servers = v->text + 8;
        if (strchr(servers, '/') != NULL) {
            n8443_ld_diag(c, v,
                          "'replay_cache' redis:// takes servers only, got "
                          "'%s' (a master name needs "
                          "redis-sentinel://SENTINEL:PORT[,...]/MASTER)",
                          n8443_ld_show(shown, v->text, v->len));
            return 0;
        }
        if (!check_servers(c, v, "Redis server", servers, strlen(servers))) {
            return 0;
        }
        out->arg = servers;
        out->master = NULL;
        return 1;
    }
    servers = v->text + 17; /* "redis-sentinel://" */
    slash = strrchr(servers, '/');
    if (slash == NULL || !valid_master_name(slash + 1)) {
        n8443_ld_diag(c, v,
                      "'replay_cache' must be redis-sentinel://"
                      "SENTINEL:PORT[,SENTINEL:PORT...]/MASTER-NAME (the "
                      "name Sentinel monitors: letters, digits, '.', '_', "
                      "'-'), got '%s'",
                      n8443_ld_show(shown, v->text, v->len));
        return 0;
    }
    if (!check_servers(c, v, "Sentinel", servers, (size_t)(slash - servers))) {
        return 0;
    }
    /* Two strings for the directive's two words. */
    out->arg =
        n8443_arena_strndup(c->arena, servers, (size_t)(slash - servers));
    if (out->arg == NULL) {
        c->oom = 1;
        return 0;
    }
    out->master = slash + 1;
    return 1;
}

/*
 * replay_cache: shm | none | memcache://h:p[,h:p...] | redis://h:p[,...]
 * | redis-sentinel://h:p[,...]/MASTER | krb5:NAME.
 */
void n8443_ld_get_replay_cache(struct n8443_ld *c, const ynode *v,
                               struct n8443_replay *out)
{
    static const char *const simple[] = {
        "shm", "none", "memcache", "redis", "redis-sentinel", "krb5", NULL};
    static const char *const expected =
        "shm, none, memcache://HOST:PORT[,...], redis://HOST:PORT[,...], "
        "redis-sentinel://HOST:PORT[,...]/MASTER or krb5:NAME";
    char shown[SHOW_BUF];
    const char *hint;

    out->seen = 1;
    out->master = NULL;
    if (!n8443_ld_want_word(c, v, "replay_cache", expected)) {
        return;
    }
    if (strcmp(v->text, "shm") == 0 || strcmp(v->text, "none") == 0) {
        out->kind = v->text[0] == 's' ? N8443_RC_SHM : N8443_RC_NONE;
        out->arg = NULL;
        goto ok;
    }
    if (strncmp(v->text, "memcache://", 11) == 0) {
        if (!check_servers(c, v, "memcache server", v->text + 11,
                           v->len - 11)) {
            return;
        }
        out->kind = N8443_RC_MEMCACHE;
        out->arg = v->text + 11;
        goto ok;
    }
    if (strncmp(v->text, "redis://", 8) == 0
        || strncmp(v->text, "redis-sentinel://", 17) == 0) {
        if (!get_redis(c, v, out)) {
            return;
        }
        out->kind = N8443_RC_REDIS;
        goto ok;
    }
    if (strncmp(v->text, "krb5:", 5) == 0) {
        if (v->text[5] == '\0') {
            n8443_ld_diag(c, v,
                          "'replay_cache' krb5: needs a replay cache name, "
                          "such as krb5:file2:/var/cache/httpd/krb5.rcache2");
            return;
        }
        out->kind = N8443_RC_KRB5;
        out->arg = v->text + 5;
        goto ok;
    }
    n8443_ld_show(shown, v->text, v->len);
    hint = n8443_suggest(v->text, simple);
    if (hint != NULL && strcmp(hint, "memcache") == 0) {
        hint = "memcache://HOST:PORT";
    }
    else if (hint != NULL && strcmp(hint, "redis") == 0) {
        hint = "redis://HOST:PORT";
    }
    else if (hint != NULL && strcmp(hint, "redis-sentinel") == 0) {
        hint = "redis-sentinel://HOST:PORT/MASTER";
    }
    else if (hint != NULL && strcmp(hint, "krb5") == 0) {
        hint = "krb5:NAME";
    }
    if (hint != NULL) {
        n8443_ld_diag(c, v,
                      "'replay_cache' must be %s, got '%s' (did you mean "
                      "'%s'?)",
                      expected, shown, hint);
    }
    else {
        n8443_ld_diag(c, v, "'replay_cache' must be %s, got '%s'", expected,
                      shown);
    }
    return;

ok:
    out->pos = n8443_ld_pos(v);
    out->set = 1;
}

enum { RD_AUTH, RD_CA, RD_NAME, RD_TIMEOUT, RD_WAIT, RD_WAIT_MS, RD_N };
static const char *const redis_keys[] = {
    "auth_file",     "tls_ca",       "tls_name", "timeout",
    "wait_replicas", "wait_timeout", NULL};

/* The `redis:` block; the module's own bounds. */
void n8443_ld_parse_redis(struct n8443_ld *c, const ynode *map,
                          struct n8443_redis *redis)
{
    const ynode *seen[RD_N] = {NULL};
    char described[DESCRIBE_BUF];
    size_t i;

    redis->seen = 1;
    if (map->kind != N8443_YMAP) {
        n8443_ld_diag(c, map, "'redis' must be a mapping, got %s",
                      n8443_ld_describe(described, map));
        return;
    }
    redis->present = 1;
    redis->pos = n8443_ld_pos(map);
    for (i = 0; i + 1 < map->nitems; i += 2) {
        const ynode *v = map->items[i + 1];

        switch (n8443_ld_key_index(c, map->items[i], redis_keys, seen)) {
        case RD_AUTH:
            n8443_ld_get_path(c, v, "auth_file", &redis->auth_file);
            break;
        case RD_CA: n8443_ld_get_path(c, v, "tls_ca", &redis->tls_ca); break;
        case RD_NAME:
            n8443_ld_get_host(c, v, "tls_name", &redis->tls_name);
            break;
        case RD_TIMEOUT:
            n8443_ld_get_int(c, v, "timeout", 10, 10000,
                             "a number of milliseconds", &redis->timeout);
            break;
        case RD_WAIT:
            n8443_ld_get_int(c, v, "wait_replicas", 0, 100,
                             "a number of replicas", &redis->wait_replicas);
            break;
        case RD_WAIT_MS:
            n8443_ld_get_int(c, v, "wait_timeout", 1, 10000,
                             "a number of milliseconds", &redis->wait_timeout);
            break;
        default: break;
        }
    }
}

/* After merging: the `redis` block and the replay cache it belongs to. */
void n8443_ld_check_redis(struct n8443_ld *c, const struct n8443_site *site)
{
    const struct n8443_kerberos *krb = &site->kerberos;
    const struct n8443_redis *r = &krb->redis;

    /* A block from `defaults` serves the sites that use Redis; one a
     * site wrote itself for another replay cache is a mistake. */
    if (r->present && !r->from_defaults
        && (krb->replay_cache.set || !krb->replay_cache.seen)
        && krb->replay_cache.kind != N8443_RC_REDIS) {
        n8443_ld_diag_pos(c, r->pos,
                          "'redis' sets up a replay_cache of redis:// or "
                          "redis-sentinel://, but this site's replay_cache "
                          "is %s",
                          krb->replay_cache.kind == N8443_RC_SHM    ? "shm"
                          : krb->replay_cache.kind == N8443_RC_NONE ? "none"
                          : krb->replay_cache.kind == N8443_RC_MEMCACHE
                              ? "memcache"
                              : "krb5");
    }
    if (r->tls_name.set && !r->tls_ca.set) {
        n8443_ld_diag_pos(c, r->tls_name.pos,
                          "'tls_name' needs 'tls_ca' (the CA file that "
                          "signed the Redis servers' certificates)");
    }
    if (r->wait_timeout.set && !r->wait_replicas.set) {
        n8443_ld_diag_pos(c, r->wait_timeout.pos,
                          "'wait_timeout' needs 'wait_replicas' (how many "
                          "replicas must acknowledge each entry)");
    }
}

/*
 * NegotiateReplayCacheFile and NegotiateReplayCacheMargin are
 * global-only in httpd: as with clock_skew, the first site that sets one
 * decides, a site that sets another value is an error.
 */
void n8443_ld_check_replay_globals(struct n8443_ld *c, struct n8443_config *cfg)
{
    const struct n8443_str *file = NULL;
    const struct n8443_int *margin = NULL;
    size_t i;

    for (i = 0; i < cfg->nsites; i++) {
        const struct n8443_kerberos *krb = &cfg->sites[i].kerberos;

        if (krb->replay_cache_file.set && file == NULL) {
            file = &krb->replay_cache_file;
        }
        else if (krb->replay_cache_file.set
                 && strcmp(krb->replay_cache_file.v, file->v) != 0) {
            n8443_ld_diag_pos(c, krb->replay_cache_file.pos,
                              "replay_cache_file %s differs from %s at "
                              "%d:%d: the file is instance-wide "
                              "(NegotiateReplayCacheFile), so all sites must "
                              "agree",
                              krb->replay_cache_file.v, file->v, file->pos.line,
                              file->pos.col);
        }
        if (krb->replay_cache_margin.set && margin == NULL) {
            margin = &krb->replay_cache_margin;
        }
        else if (krb->replay_cache_margin.set
                 && krb->replay_cache_margin.v != margin->v) {
            n8443_ld_diag_pos(c, krb->replay_cache_margin.pos,
                              "replay_cache_margin %ld differs from %ld at "
                              "%d:%d: the margin is instance-wide "
                              "(NegotiateReplayCacheMargin), so all sites "
                              "must agree",
                              krb->replay_cache_margin.v, margin->v,
                              margin->pos.line, margin->pos.col);
        }
    }
    cfg->replay_cache_file = file ? file->v : NULL;
    cfg->replay_cache_margin = margin ? margin->v : -1;
}
