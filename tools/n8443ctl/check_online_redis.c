/*
 * n8443ctl check --online - a Redis replay cache asked as the module asks
 * it (online.redis), in RESP over a socket (TLS with tls_ca) with the
 * module's timeout (redis: timeout, 500 ms): no client library.
 *
 *   redis://        each server: AUTH (with auth_file), PING, ROLE; a
 *                   primary's INFO memory for maxmemory_policy
 *                   (noeviction, or the module refuses it: 503)
 *   redis-sentinel:// each Sentinel: SENTINEL get-master-addr-by-name
 *                   MASTER (without a password, as the module), then the
 *                   primary it names as above
 *
 * One record per server or Sentinel, and one when no primary was found.
 * With tls_ca every connection is TLS, as the module's (hiredis_ssl): the
 * chain checked against that CA, tls_name sent as SNI, the name in the
 * certificate not compared.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "check.h"

#define REDIS_DEFAULT_TIMEOUT_MS 500
#define REPLY_MAX                2048
#define NO_RESP                                                                \
    "no RESP answer (is it Redis? A TLS-only port needs redis: tls_ca)"

struct conn {
    int fd;
    SSL_CTX *ctx; /* with tls_ca */
    SSL *ssl;
    char in[4096];
    size_t len;
    size_t off;
};

static void conn_close(struct conn *c)
{
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
    c->ssl = NULL;
    c->ctx = NULL;
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
}

/* Read into BUF, plain or TLS: bytes read, or <= 0. */
static ssize_t conn_read(struct conn *c, void *buf, size_t len)
{
    return c->ssl ? SSL_read(c->ssl, buf, (int)len) : recv(c->fd, buf, len, 0);
}

/* TLS on c->fd as hiredis_ssl does it for the module; 0, or -1. */
static int tls_start(struct conn *c, const struct n8443_redis *r, char *err,
                     size_t errlen)
{
    long verify;

    c->ctx = SSL_CTX_new(TLS_client_method());
    if (c->ctx == NULL
        || SSL_CTX_load_verify_locations(c->ctx, r->tls_ca.v, NULL) != 1) {
        snprintf(err, errlen, "cannot load the CA file %s", r->tls_ca.v);
        return -1;
    }
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    c->ssl = SSL_new(c->ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1
        || (r->tls_name.set
            && SSL_set_tlsext_host_name(c->ssl, r->tls_name.v) != 1)) {
        snprintf(err, errlen, "cannot set up TLS");
        return -1;
    }
    ERR_clear_error();
    if (SSL_connect(c->ssl) != 1) {
        verify = SSL_get_verify_result(c->ssl);
        if (verify != X509_V_OK) {
            snprintf(err, errlen,
                     "TLS handshake failed (%s): tls_ca must name the CA "
                     "that signed the servers' certificates",
                     X509_verify_cert_error_string(verify));
        }
        else {
            snprintf(err, errlen,
                     "TLS handshake failed: no TLS answer (a plain TCP "
                     "port? then leave out tls_ca)");
        }
        return -1;
    }
    return 0;
}

/* Connect to HOST:PORT within MS (TLS with R's tls_ca); reads and writes
 * time out after MS too.  0, or -1 with the reason in ERR. */
static int conn_open(struct conn *c, const char *host, int port, long ms,
                     const struct n8443_redis *r, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL, *ai;
    struct timeval tv;
    char service[16];
    int gai;

    memset(c, 0, sizeof(*c));
    c->fd = -1;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof(service), "%d", port);
    gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "%s does not resolve (%s): fix replay_cache",
                 host, gai_strerror(gai));
        return -1;
    }
    snprintf(err, errlen, "no address");
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        struct pollfd pfd;
        socklen_t slen = sizeof(int);
        int soerr = 0;
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);

        if (fd < 0) {
            snprintf(err, errlen, "%s", strerror(errno));
            continue;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0
            && errno != EINPROGRESS) {
            snprintf(err, errlen, "%s", strerror(errno));
            close(fd);
            continue;
        }
        pfd.fd = fd;
        pfd.events = POLLOUT;
        if (poll(&pfd, 1, (int)ms) != 1) {
            snprintf(err, errlen, "no connection within %ld ms", ms);
            close(fd);
            continue;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) != 0
            || soerr != 0) {
            snprintf(err, errlen, "%s", strerror(soerr ? soerr : errno));
            close(fd);
            continue;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        tv.tv_sec = ms / 1000;
        tv.tv_usec = (ms % 1000) * 1000;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        c->fd = fd;
        break;
    }
    freeaddrinfo(res);
    if (c->fd < 0) {
        size_t n = strlen(err);

        snprintf(err + n, errlen - n,
                 ": start it, or fix replay_cache (and the firewall, and "
                 "bind in redis.conf)");
        return -1;
    }
    if (r->tls_ca.set && tls_start(c, r, err, errlen) != 0) {
        conn_close(c);
    }
    return c->fd >= 0 ? 0 : -1;
}

/* One line of the reply, without CRLF, into LINE.  0, or -1. */
static int read_line(struct conn *c, char *line, size_t len)
{
    size_t n = 0;

    for (;;) {
        ssize_t got;

        while (c->off < c->len) {
            char ch = c->in[c->off++];

            if (ch == '\n') {
                if (n > 0 && line[n - 1] == '\r') {
                    n--;
                }
                line[n] = '\0';
                return 0;
            }
            if (n + 1 >= len) {
                return -1;
            }
            line[n++] = ch;
        }
        got = conn_read(c, c->in, sizeof(c->in));
        if (got <= 0) {
            return -1;
        }
        c->len = (size_t)got;
        c->off = 0;
    }
}

/*
 * One RESP reply as text into OUT: a status, an error (its type is
 * returned: '+', '-', ':', '$', '*'), a bulk string, or an array's
 * elements joined by spaces; a null is "".  -1 when the connection
 * failed or the reply is not RESP.
 */
static int read_reply(struct conn *c, char *out, size_t len, int depth)
{
    char line[REPLY_MAX];
    long n;
    long i;
    int type;

    out[0] = '\0';
    if (depth > 4 || read_line(c, line, sizeof(line)) != 0 || line[0] == '\0'
        || strchr("+-:$*", line[0]) == NULL) {
        return -1;
    }
    type = line[0];
    if (type == '+' || type == '-' || type == ':') {
        snprintf(out, len, "%s", line + 1);
        return type;
    }
    n = strtol(line + 1, NULL, 10);
    if (n > 100000) {
        return -1;
    }
    if (type == '$') {
        /* A bulk string: N bytes and CRLF, up to LEN - 1 bytes kept. */
        size_t used = 0;

        for (n = n < 0 ? 0 : n + 2; n > 0; n--) {
            if (c->off == c->len) {
                ssize_t got = conn_read(c, c->in, sizeof(c->in));

                if (got <= 0) {
                    return -1;
                }
                c->len = (size_t)got;
                c->off = 0;
            }
            if (n > 2 && used + 1 < len) {
                out[used++] = c->in[c->off];
            }
            c->off++;
        }
        out[used] = '\0';
        return type;
    }
    for (i = 0; i < n; i++) {
        char item[REPLY_MAX];
        size_t used = strlen(out);

        if (read_reply(c, item, sizeof(item), depth + 1) < 0) {
            return -1;
        }
        if (used + 1 < len
            && snprintf(out + used, len - used, "%s%s", i ? " " : "", item)
                   < 0) {
            return -1;
        }
    }
    return type;
}

/* Send ARGV as a RESP array and read the reply into OUT. */
static int command(struct conn *c, char *out, size_t len, int argc,
                   const char *const *argv)
{
    char buf[2048];
    size_t used;
    int i;

    used = (size_t)snprintf(buf, sizeof(buf), "*%d\r\n", argc);
    for (i = 0; i < argc && used < sizeof(buf); i++) {
        used += (size_t)snprintf(buf + used, sizeof(buf) - used,
                                 "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    }
    if (used >= sizeof(buf)
        || (c->ssl ? SSL_write(c->ssl, buf, (int)used) <= 0
                   : send(c->fd, buf, used, MSG_NOSIGNAL) < 0)) {
        memset(buf, 0, sizeof(buf));
        return -1;
    }
    memset(buf, 0, sizeof(buf));
    return read_reply(c, out, len, 0);
}

static long timeout_ms(const struct n8443_check_ctx *ctx)
{
    const struct n8443_int *t = &ctx->site->kerberos.redis.timeout;

    return t->set ? t->v : REDIS_DEFAULT_TIMEOUT_MS;
}

static struct n8443_record *add(struct n8443_check_ctx *ctx,
                                enum n8443_severity sev, const char *host,
                                int port, const char *role, const char *fmt,
                                ...) N8443_PRINTF(6, 7);

/* An online.redis record about HOST:PORT in its ROLE. */
static struct n8443_record *add(struct n8443_check_ctx *ctx,
                                enum n8443_severity sev, const char *host,
                                int port, const char *role, const char *fmt,
                                ...)
{
    struct n8443_record *rec;
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    rec = n8443_report_add(ctx->rep, "online.redis", sev, "%s", msg);
    n8443_record_detail(ctx->rep, rec, "server", "%s:%d", host, port);
    n8443_record_detail(ctx->rep, rec, "role", "%s", role);
    return rec;
}

/* AUTH with the password file, if any; 0, or -1 recorded. */
static int auth(struct n8443_check_ctx *ctx, struct conn *c, const char *addr,
                const char *host, int port, const char *via)
{
    const struct n8443_str *af = &ctx->site->kerberos.redis.auth_file;
    char user[256], pass[768], reply[REPLY_MAX];
    const char *argv[3];
    int t;

    if (!af->set) {
        return 0;
    }
    if (n8443_redis_read_auth(af->v, user, sizeof(user), pass, sizeof(pass))
        != 0) {
        add(ctx, N8443_SEV_ERROR, host, port, via,
            "Redis %s: cannot read a password from %s (see "
            "krb5.redis-auth)",
            addr, af->v);
        return -1;
    }
    argv[0] = "AUTH";
    argv[1] = user[0] ? user : pass;
    argv[2] = pass;
    t = command(c, reply, sizeof(reply), user[0] ? 3 : 2, argv);
    memset(pass, 0, sizeof(pass));
    if (t != '+') {
        add(ctx, N8443_SEV_ERROR, host, port, via,
            "Redis %s did not take the password of the auth_file: %s. Put "
            "Redis's requirepass (or an ACL user's 'USER PASSWORD') in it",
            addr, t < 0 ? NO_RESP : reply);
        return -1;
    }
    return 0;
}

/*
 * One Redis server: AUTH, PING, ROLE, and a primary's eviction policy.
 * Returns 1 for a usable primary, 0 otherwise (recorded either way).
 * VIA names where the address came from ("server", "primary named by
 * the Sentinels").
 */
static int check_server(struct n8443_check_ctx *ctx, const char *host, int port,
                        const char *via)
{
    static const char *const ping[] = {"PING"};
    static const char *const role[] = {"ROLE"};
    static const char *const info[] = {"INFO", "memory"};
    char addr[300], reply[REPLY_MAX], err[200];
    const char *policy;
    struct n8443_record *rec;
    struct conn c;
    int t;
    int ok = 0;

    snprintf(addr, sizeof(addr), "%s:%d", host, port);
    if (conn_open(&c, host, port, timeout_ms(ctx), &ctx->site->kerberos.redis,
                  err, sizeof(err))
        != 0) {
        add(ctx, N8443_SEV_ERROR, host, port, via,
            "Redis %s cannot be reached: %s. Logins get 503 while no "
            "primary answers",
            addr, err);
        return 0;
    }
    if (auth(ctx, &c, addr, host, port, via) != 0) {
        goto out;
    }
    t = command(&c, reply, sizeof(reply), 1, ping);
    if (t != '+') {
        add(ctx, N8443_SEV_ERROR, host, port, via,
            "Redis %s does not answer PING: %s%s", addr,
            t < 0 ? NO_RESP : reply,
            t == '-' && strncmp(reply, "NOAUTH", 6) == 0
                ? ". It requires a password: set redis: auth_file"
                : "");
        goto out;
    }
    t = command(&c, reply, sizeof(reply), 1, role);
    if (t != '*' || strncmp(reply, "master", 6) != 0) {
        rec = add(ctx, N8443_SEV_OK, host, port, via,
                  "Redis %s answers, as a %s: the module stores only on "
                  "the primary",
                  addr,
                  t == '*' && strncmp(reply, "slave", 5) == 0 ? "replica"
                                                              : "non-primary");
        goto out;
    }
    t = command(&c, reply, sizeof(reply), 2, info);
    policy = t == '$' ? strstr(reply, "maxmemory_policy:") : NULL;
    if (policy != NULL && strncmp(policy + 17, "noeviction", 10) != 0) {
        char shown[64];

        snprintf(shown, sizeof(shown), "%.*s",
                 (int)strcspn(policy + 17, "\r\n"), policy + 17);
        rec = add(ctx, N8443_SEV_ERROR, host, port, via,
                  "Redis %s is the primary, but its maxmemory-policy is "
                  "%s: it may evict entries, so the module refuses it "
                  "(503). Set maxmemory-policy noeviction",
                  addr, shown);
        n8443_record_detail(ctx->rep, rec, "maxmemory_policy", "%s", shown);
        goto out;
    }
    rec = add(ctx, N8443_SEV_OK, host, port, via,
              "Redis %s answers as the primary%s", addr,
              policy ? ", maxmemory-policy noeviction" : "");
    ok = 1;

out:
    conn_close(&c);
    return ok;
}

/* Each Sentinel names the primary of MASTER; the first answer is
 * checked.  Returns 1 when a usable primary was found. */
static int check_sentinels(struct n8443_check_ctx *ctx)
{
    const struct n8443_replay *rc = &ctx->site->kerberos.replay_cache;
    const char *argv[3] = {"SENTINEL", "get-master-addr-by-name", rc->master};
    char host[256], addr[300], reply[REPLY_MAX], err[200];
    char primary[300] = "";
    struct n8443_record *rec;
    struct conn c;
    size_t i;
    int port, t;

    for (i = 0; n8443_redis_server(rc->arg, i, host, sizeof(host), &port) == 0;
         i++) {
        snprintf(addr, sizeof(addr), "%s:%d", host, port);
        if (conn_open(&c, host, port, timeout_ms(ctx),
                      &ctx->site->kerberos.redis, err, sizeof(err))
            != 0) {
            add(ctx, N8443_SEV_ERROR, host, port, "sentinel",
                "Sentinel %s cannot be reached: %s", addr, err);
            continue;
        }
        t = command(&c, reply, sizeof(reply), 3, argv);
        conn_close(&c);
        if (t == '*' && strchr(reply, ' ') != NULL && primary[0] != '\0'
            && strcmp(reply, primary) != 0) {
            /* The module takes the first answer: nodes that reach other
             * Sentinels first store elsewhere. */
            rec = add(ctx, N8443_SEV_WARNING, host, port, "sentinel",
                      "Sentinel %s names another primary of %s than the "
                      "first Sentinel (%s): a failover in progress, or "
                      "Sentinels that do not agree (check their quorum "
                      "and network)",
                      addr, rc->master, primary);
            n8443_record_detail(ctx->rep, rec, "primary", "%s", reply);
        }
        else if (t == '*' && strchr(reply, ' ') != NULL) {
            rec = add(ctx, N8443_SEV_OK, host, port, "sentinel",
                      "Sentinel %s names the primary of %s", addr, rc->master);
            n8443_record_detail(ctx->rep, rec, "primary", "%s", reply);
            if (primary[0] == '\0' && strlen(reply) < sizeof(primary)) {
                memcpy(primary, reply, strlen(reply) + 1);
            }
        }
        else {
            add(ctx, N8443_SEV_ERROR, host, port, "sentinel",
                "Sentinel %s does not know the master %s: %s. Use the name "
                "of its 'sentinel monitor' line in replay_cache",
                addr, rc->master,
                t < 0      ? NO_RESP
                : t == '-' ? reply
                           : "no such master");
        }
    }
    if (primary[0] != '\0') {
        char *sp = strchr(primary, ' ');

        *sp = '\0';
        return check_server(ctx, primary, atoi(sp + 1),
                            "primary named by the Sentinels");
    }
    return 0;
}

void n8443_check_online_redis(struct n8443_check_ctx *ctx)
{
    const struct n8443_replay *rc = &ctx->site->kerberos.replay_cache;
    struct n8443_record *rec;
    char host[256];
    size_t i;
    int port;
    int primaries = 0;

    if (rc->kind != N8443_RC_REDIS || rc->arg == NULL) {
        return;
    }
    if (rc->master != NULL) {
        primaries = check_sentinels(ctx);
    }
    else {
        for (i = 0;
             n8443_redis_server(rc->arg, i, host, sizeof(host), &port) == 0;
             i++) {
            primaries += check_server(ctx, host, port, "server");
        }
    }
    if (primaries == 0) {
        rec = n8443_report_add(ctx->rep, "online.redis", N8443_SEV_ERROR,
                               "no usable Redis primary for %s%s%s: every "
                               "login gets 503 (see the records above)",
                               rc->arg, rc->master ? " " : "",
                               rc->master ? rc->master : "");
        n8443_record_detail(ctx->rep, rec, "role", "%s", "primary");
    }
}
