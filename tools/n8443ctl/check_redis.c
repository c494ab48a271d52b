/*
 * n8443ctl check - a Redis replay cache (replay_cache: redis:// or
 * redis-sentinel://), offline:
 *
 *   krb5.redis-module  the module built with this tool has Redis (and,
 *                      for tls_ca, TLS) support
 *   krb5.redis-host    each server or Sentinel's host resolves
 *   krb5.redis-auth    the password file: a regular file, mode 0600, a
 *                      password on its first line (what httpd's parent
 *                      checks at start-up), not readable by the httpd
 *                      user (only the parent, root, reads it)
 *   krb5.redis-tls     the CA file holds a certificate
 *
 * check_online_redis.c asks the servers themselves (online.redis).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "check.h"

int n8443_redis_server(const char *list, size_t i, char *host, size_t len,
                       int *port)
{
    const char *p = list;
    const char *end;
    const char *colon;
    size_t n;

    for (; i > 0; i--) {
        p = strchr(p, ',');
        if (p == NULL) {
            return -1;
        }
        p++;
    }
    end = p + strcspn(p, ",");
    for (colon = end; colon > p && colon[-1] != ':'; colon--) {
    }
    if (colon == p) {
        return -1;
    }
    n = (size_t)(colon - 1 - p);
    if (n >= 2 && p[0] == '[') {
        p++;
        n -= 2;
    }
    if (n >= len) {
        return -1;
    }
    memcpy(host, p, n);
    host[n] = '\0';
    *port = atoi(colon);
    return 0;
}

static void add_where(struct n8443_check_ctx *ctx, struct n8443_record *rec,
                      struct n8443_pos pos)
{
    char where[300];

    if (n8443_check_where(ctx, pos, where, sizeof(where)) != NULL) {
        n8443_record_detail(ctx->rep, rec, "where", "%s", where);
    }
}

/* What configure found for the module built with this tool: a warning,
 * not an error, as the installed module may come from another build. */
static void check_module(struct n8443_check_ctx *ctx)
{
    const struct n8443_redis *r = &ctx->site->kerberos.redis;
    struct n8443_record *rec;

#ifndef N8443_HAVE_REDIS
    rec = n8443_report_add(
        ctx->rep, "krb5.redis-module", N8443_SEV_WARNING,
        "mod_negotiate8443 was built without Redis support (as this "
        "n8443ctl): httpd refuses NegotiateReplayCache redis and does not "
        "start. Install a build made with hiredis (configure --with-redis), "
        "or use replay_cache: memcache://");
#elif !defined(N8443_HAVE_REDIS_SSL)
    if (r->tls_ca.set) {
        rec = n8443_report_add(
            ctx->rep, "krb5.redis-module", N8443_SEV_WARNING,
            "tls_ca: mod_negotiate8443 was built without Redis TLS support "
            "(as this n8443ctl; hiredis_ssl, hiredis >= 1.0), so httpd "
            "stops at start-up (N8443330). Install a build with "
            "hiredis_ssl, or reach Redis over a trusted network without "
            "tls_ca");
        add_where(ctx, rec, r->tls_ca.pos);
        return;
    }
    rec = n8443_report_add(ctx->rep, "krb5.redis-module", N8443_SEV_OK,
                           "the module built with this n8443ctl has Redis "
                           "support (without TLS)");
#else
    (void)r;
    rec = n8443_report_add(ctx->rep, "krb5.redis-module", N8443_SEV_OK,
                           "the module built with this n8443ctl has Redis "
                           "support (with TLS)");
#endif
    n8443_record_detail(ctx->rep, rec, "how",
                        "what configure found for this package's build");
}

static void check_hosts(struct n8443_check_ctx *ctx)
{
    const struct n8443_replay *rc = &ctx->site->kerberos.replay_cache;
    const char *what = rc->master ? "Sentinel" : "Redis server";
    struct addrinfo hints;
    struct addrinfo *res;
    struct n8443_record *rec;
    char host[256];
    int port;
    size_t i;
    int gai;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    for (i = 0; n8443_redis_server(rc->arg, i, host, sizeof(host), &port) == 0;
         i++) {
        res = NULL;
        gai = getaddrinfo(host, NULL, &hints, &res);
        if (gai != 0) {
            rec = n8443_report_add(
                ctx->rep, "krb5.redis-host", N8443_SEV_ERROR,
                "%s %s does not resolve (%s): httpd cannot reach it, and "
                "logins it should answer get 503. Fix the name in "
                "replay_cache, or add its A/AAAA record",
                what, host, gai_strerror(gai));
            if (gai == EAI_AGAIN || gai == EAI_FAIL) {
                n8443_record_unusable(rec);
            }
        }
        else {
            freeaddrinfo(res);
            rec = n8443_report_add(ctx->rep, "krb5.redis-host", N8443_SEV_OK,
                                   "%s %s resolves", what, host);
        }
        n8443_record_detail(ctx->rep, rec, "host", "%s", host);
        n8443_record_detail_num(ctx->rep, rec, "port", port);
        add_where(ctx, rec, rc->pos);
    }
}

int n8443_redis_read_auth(const char *file, char *user, size_t ulen, char *pass,
                          size_t plen)
{
    char line[1024];
    char *sp;
    size_t len;
    FILE *f = fopen(file, "r");
    int err;

    if (f == NULL) {
        return errno;
    }
    if (fgets(line, sizeof(line), f) == NULL) {
        err = ferror(f) ? EIO : ENODATA;
        fclose(f);
        return err;
    }
    fclose(f);
    len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
        line[--len] = '\0';
    }
    sp = strchr(line, ' ');
    if (sp != NULL) {
        *sp = '\0';
    }
    snprintf(user, ulen, "%s", sp ? line : "");
    snprintf(pass, plen, "%s", sp ? sp + 1 : line);
    memset(line, 0, sizeof(line));
    return *pass == '\0' ? ENODATA : 0;
}

/* The httpd user need not read it: the parent reads it as root. */
static void auth_httpd_user(struct n8443_check_ctx *ctx, const char *file,
                            const struct stat *st)
{
    const struct n8443_httpd_user *user = &ctx->user;
    struct n8443_record *rec;
    const char *how = "";
    int readable;

    if (user->name == NULL) {
        return;
    }
    readable = n8443_check_readable_by(user, file, st, &how);
    if (readable == 1) {
        rec = n8443_report_add(
            ctx->rep, "krb5.redis-auth", N8443_SEV_WARNING,
            "the httpd user %s can read %s, which only httpd's parent "
            "(root) reads, at start-up: a CGI script or a compromised child "
            "could read the Redis password. chown root:root %s (unless "
            "httpd runs as %s altogether)",
            user->name, file, file, user->name);
        n8443_record_detail(ctx->rep, rec, "user", "%s", user->name);
        n8443_record_detail(ctx->rep, rec, "method", "%s", how);
    }
}

static void check_auth(struct n8443_check_ctx *ctx)
{
    const struct n8443_str *af = &ctx->site->kerberos.redis.auth_file;
    const char *file = af->v;
    struct n8443_record *rec;
    struct stat st;
    char user[256];
    char pass[768];
    unsigned mode;
    int err;

    memset(&st, 0, sizeof(st));
    if (!af->set) {
        rec = n8443_report_add(ctx->rep, "krb5.redis-auth", N8443_SEV_OK,
                               "no Redis password (redis: auth_file): "
                               "the servers must not require one");
        return;
    }
    err = stat(file, &st) != 0 ? errno : 0;
    if (err != 0 || !S_ISREG(st.st_mode)) {
        rec = n8443_report_add(
            ctx->rep, "krb5.redis-auth", N8443_SEV_ERROR,
            "the Redis password file %s: %s: httpd does not start "
            "(N8443320). Write the password (or 'USER PASSWORD') on its "
            "first line; chmod 600 %s",
            file, err != 0 ? strerror(err) : "is not a regular file", file);
        if (err == EACCES) {
            n8443_record_unusable(rec);
        }
        goto out;
    }
    mode = (unsigned)(st.st_mode & 07777);
    if ((st.st_mode & 077) != 0) {
        rec = n8443_report_add(
            ctx->rep, "krb5.redis-auth", N8443_SEV_ERROR,
            "the Redis password file %s is open to group or others (mode "
            "%04o): httpd refuses to start (N8443323). chmod 600 %s, and "
            "since it was exposed, change the password in Redis",
            file, mode, file);
        n8443_record_detail(ctx->rep, rec, "mode", "%04o", mode);
        goto out;
    }
    err = n8443_redis_read_auth(file, user, sizeof(user), pass, sizeof(pass));
    memset(pass, 0, sizeof(pass));
    if (err == ENODATA) {
        rec = n8443_report_add(ctx->rep, "krb5.redis-auth", N8443_SEV_ERROR,
                               "the Redis password file %s has no password "
                               "on its first line: httpd does not start "
                               "(N8443326)",
                               file);
        goto out;
    }
    if (err != 0) {
        rec = n8443_report_add(ctx->rep, "krb5.redis-auth", N8443_SEV_ERROR,
                               "cannot read %s (%s): run as root, which "
                               "httpd's parent is when it reads the file",
                               file, strerror(err));
        n8443_record_unusable(rec);
        goto out;
    }
    rec = n8443_report_add(ctx->rep, "krb5.redis-auth", N8443_SEV_OK,
                           "%s: mode %04o, a %s on its first line", file, mode,
                           user[0] ? "user and a password" : "password");
    n8443_record_detail(ctx->rep, rec, "mode", "%04o", mode);
    auth_httpd_user(ctx, file, &st);

out:
    n8443_record_detail(ctx->rep, rec, "file", "%s", file);
    add_where(ctx, rec, af->pos);
}

static void check_tls(struct n8443_check_ctx *ctx)
{
    const struct n8443_str *ca = &ctx->site->kerberos.redis.tls_ca;
    struct n8443_record *rec;
    X509 *x = NULL;
    FILE *f;

    if (!ca->set) {
        return;
    }
    f = fopen(ca->v, "r");
    if (f != NULL) {
        x = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
    }
    if (f == NULL) {
        rec = n8443_report_add(ctx->rep, "krb5.redis-tls", N8443_SEV_ERROR,
                               "cannot read the Redis CA file %s (%s): "
                               "httpd cannot check the Redis servers, and "
                               "every login gets 503",
                               ca->v, strerror(errno));
        if (errno == EACCES) {
            n8443_record_unusable(rec);
        }
    }
    else if (x == NULL) {
        rec = n8443_report_add(ctx->rep, "krb5.redis-tls", N8443_SEV_ERROR,
                               "%s holds no PEM certificate: name the CA "
                               "that signed the Redis servers' certificates",
                               ca->v);
    }
    else {
        rec = n8443_report_add(ctx->rep, "krb5.redis-tls", N8443_SEV_OK,
                               "Redis over TLS, servers checked against %s",
                               ca->v);
        X509_free(x);
    }
    n8443_record_detail(ctx->rep, rec, "file", "%s", ca->v);
    add_where(ctx, rec, ca->pos);
}

void n8443_check_redis(struct n8443_check_ctx *ctx)
{
    if (ctx->site->kerberos.replay_cache.kind != N8443_RC_REDIS) {
        return;
    }
    if (n8443_report_wants(ctx->rep, "krb5.redis-module")) {
        check_module(ctx);
    }
    if (n8443_report_wants(ctx->rep, "krb5.redis-host")) {
        check_hosts(ctx);
    }
    if (n8443_report_wants(ctx->rep, "krb5.redis-auth")) {
        check_auth(ctx);
    }
    if (n8443_report_wants(ctx->rep, "krb5.redis-tls")) {
        check_tls(ctx);
    }
}
