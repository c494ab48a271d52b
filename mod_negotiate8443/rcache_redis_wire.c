/*
 * rcache_redis_wire.c - talking to one Redis / Valkey server for the
 * replay cache (rcache_redis.h): a connection with timeouts (and TLS),
 * AUTH, ROLE, the Sentinel question, and INFO fields.  No state: the
 * per-child connection and its watermark are in rcache_redis_conn.c.
 */
#include "n8443_private.h"
#include "rcache_redis.h"

#ifdef N8443_HAVE_REDIS

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>

static struct timeval timeval_of(apr_interval_time_t t)
{
    struct timeval tv;

    tv.tv_sec = (long)apr_time_sec(t);
    tv.tv_usec = (long)apr_time_usec(t);
    return tv;
}

#ifdef N8443_HAVE_REDIS_SSL
redisSSLContext *n8443_redis_tls_context(const n8443_redis_conf *cf, char *err,
                                         apr_size_t len)
{
    redisSSLContextError e = REDIS_SSL_CTX_NONE;
    redisSSLContext *ssl;

    redisInitOpenSSL();
    ssl = redisCreateSSLContext(cf->tls_ca, NULL, NULL, NULL, cf->tls_name, &e);
    if (ssl == NULL)
        apr_snprintf(err, len, "TLS set-up with CA file %s: %s", cf->tls_ca,
                     redisSSLContextGetError(e));
    return ssl;
}
#endif

/* A connection to host:port (TLS when configured), or NULL and err. */
static redisContext *open_one(const n8443_redis_conf *cf, void *ssl,
                              const char *host, int port, char *err,
                              apr_size_t len)
{
    struct timeval tv = timeval_of(cf->timeout);
    redisContext *c = redisConnectWithTimeout(host, port, tv);

    if (c == NULL) {
        apr_snprintf(err, len, "%s:%d: out of memory", host, port);
        return NULL;
    }
    if (c->err == 0 && redisSetTimeout(c, tv) != REDIS_OK && c->err == 0)
        apr_snprintf(c->errstr, sizeof(c->errstr), "cannot set timeout");
#ifdef N8443_HAVE_REDIS_SSL
    if (c->err == 0 && ssl != NULL
        && redisInitiateSSLWithContext(c, ssl) != REDIS_OK && c->err == 0)
        apr_snprintf(c->errstr, sizeof(c->errstr), "TLS handshake failed");
#endif
    if (c->err != 0 || c->errstr[0] != '\0') {
        apr_snprintf(err, len, "%s:%d: %s", host, port, c->errstr);
        redisFree(c);
        return NULL;
    }
    return c;
}

/* The receive timeout of c's socket. */
static int set_recv_timeout(redisContext *c, apr_interval_time_t t)
{
    struct timeval tv = timeval_of(t);

    return setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0;
}

/* Did the read that failed with errno e wait out the socket's timeout? */
static int timed_out(const redisContext *c, int e)
{
#ifdef REDIS_ERR_TIMEOUT
    if (c->err == REDIS_ERR_TIMEOUT)
        return 1;
#endif
    return c->err != REDIS_ERR_EOF
           && (e == EAGAIN || e == EWOULDBLOCK || e == ETIMEDOUT);
}

/* Send what is appended to c, then read one reply, all of it within
 * timeout.  hiredis' own redisGetReply reads with the socket's timeout
 * per read: a server that sent a byte now and then would hold a login for
 * as long as it liked, so each read here waits only for what is left.
 * NULL and err when the connection broke or the reply is late (drop the
 * connection); then *resend (if not NULL) says whether it broke before a
 * byte of the reply came, other than by a timeout: the server did not
 * take the command, which may go again on a new connection. */
redisReply *n8443_redis_reply(redisContext *c, apr_interval_time_t timeout,
                              char *err, apr_size_t len, int *resend)
{
    apr_time_t deadline = apr_time_now() + timeout;
    apr_interval_time_t left;
    void *rep = NULL;
    int done = 0, heard = 0, shortened = 0, e;

    /* Not all of the command went out: the server has none of it. */
    if (resend != NULL)
        *resend = 1;
    while (!done)
        if (redisBufferWrite(c, &done) != REDIS_OK)
            goto broken;
    if (resend != NULL)
        *resend = 0;
    for (;;) {
        if (redisGetReplyFromReader(c, &rep) != REDIS_OK)
            goto broken;
        if (rep != NULL) {
            if (shortened && !set_recv_timeout(c, timeout)) {
                freeReplyObject(rep);
                apr_snprintf(err, len, "cannot set the timeout again");
                return NULL;
            }
            return rep;
        }
        left = deadline - apr_time_now();
        /* Normally the first read, with all the time: no system call. */
        if (left > 0 && left < timeout - apr_time_from_msec(5)) {
            shortened = 1;
            if (!set_recv_timeout(c, left))
                left = 0;
        }
        errno = 0; /* a closed connection sets none */
        if (left <= 0 || redisBufferRead(c) != REDIS_OK) {
            e = errno;
            if (left <= 0 || timed_out(c, e)) {
                apr_snprintf(err, len, "no whole reply within %ld ms",
                             (long)apr_time_as_msec(timeout));
                return NULL;
            }
            if (resend != NULL)
                *resend = !heard;
            goto broken;
        }
        heard = 1;
    }
broken:
    apr_snprintf(err, len, "%s",
                 c->err ? c->errstr : "no reply (connection lost)");
    return NULL;
}

redisReply *n8443_redis_command(redisContext *c, apr_interval_time_t timeout,
                                char *err, apr_size_t len, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = redisvAppendCommand(c, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        apr_snprintf(err, len, "%s", c->err ? c->errstr : "out of memory");
        return NULL;
    }
    return n8443_redis_reply(c, timeout, err, len, NULL);
}

redisReply *n8443_redis_command_argv(redisContext *c,
                                     apr_interval_time_t timeout, char *err,
                                     apr_size_t len, int argc,
                                     const char **argv, int *resend)
{
    if (redisAppendCommandArgv(c, argc, argv, NULL) != REDIS_OK) {
        apr_snprintf(err, len, "%s", c->err ? c->errstr : "out of memory");
        return NULL;
    }
    return n8443_redis_reply(c, timeout, err, len, resend);
}

redisReply *n8443_redis_wait(redisContext *c, apr_interval_time_t timeout,
                             int replicas, apr_interval_time_t wait, char *err,
                             apr_size_t len)
{
    char n[16], ms[24];
    const char *argv[3] = {"WAIT", n, ms};
    redisReply *rep;

    apr_snprintf(n, sizeof(n), "%d", replicas);
    apr_snprintf(ms, sizeof(ms), "%" APR_TIME_T_FMT, apr_time_as_msec(wait));
    if (redisAppendCommandArgv(c, 3, argv, NULL) != REDIS_OK) {
        apr_snprintf(err, len, "%s", c->err ? c->errstr : "out of memory");
        return NULL;
    }
    /* WAIT answers when the replicas did, or after wait: the socket's
     * timeout too, for this reply. */
    if (!set_recv_timeout(c, timeout + wait)) {
        apr_snprintf(err, len, "cannot set the timeout for WAIT");
        return NULL;
    }
    rep = n8443_redis_reply(c, timeout + wait, err, len, NULL);
    if (rep != NULL && !set_recv_timeout(c, timeout)) {
        freeReplyObject(rep);
        apr_snprintf(err, len, "cannot set the timeout again");
        return NULL;
    }
    return rep;
}

/* AUTH [user] password on a new connection, when a password is set. */
static int authenticate(const n8443_redis_conf *cf, redisContext *c, char *err,
                        apr_size_t len)
{
    redisReply *rep;
    int ok;

    if (cf->password == NULL)
        return 1;
    rep = cf->user != NULL ? n8443_redis_command(
              c, cf->timeout, err, len, "AUTH %s %s", cf->user, cf->password)
                           : n8443_redis_command(c, cf->timeout, err, len,
                                                 "AUTH %s", cf->password);
    if (rep == NULL)
        return 0;
    ok = rep->type == REDIS_REPLY_STATUS;
    if (!ok)
        apr_snprintf(err, len, "AUTH (password file %s) refused: %.*s",
                     cf->auth_file,
                     rep->type == REDIS_REPLY_ERROR ? (int)rep->len : 0,
                     rep->type == REDIS_REPLY_ERROR ? rep->str : "");
    freeReplyObject(rep);
    return ok;
}

/* Does ROLE say that c talks to a primary? */
static int is_primary(const n8443_redis_conf *cf, redisContext *c, char *err,
                      apr_size_t len)
{
    redisReply *rep = n8443_redis_command(c, cf->timeout, err, len, "ROLE");
    int ok;

    if (rep == NULL)
        return 0;
    ok = rep->type == REDIS_REPLY_ARRAY && rep->elements > 0
         && rep->element[0]->type == REDIS_REPLY_STRING
         && strcmp(rep->element[0]->str, "master") == 0;
    if (!ok && rep->type == REDIS_REPLY_ERROR)
        apr_snprintf(err, len, "ROLE: %.*s", (int)rep->len, rep->str);
    else if (!ok)
        apr_snprintf(err, len, "it is not a primary (ROLE: %s)",
                     rep->type == REDIS_REPLY_ARRAY && rep->elements > 0
                             && rep->element[0]->type == REDIS_REPLY_STRING
                         ? rep->element[0]->str
                         : "no answer");
    freeReplyObject(rep);
    return ok;
}

/* Ask Sentinel host:port where the primary of cf->master_name is. */
static int ask_sentinel(const n8443_redis_conf *cf, void *ssl, const char *host,
                        int port, char *phost, apr_size_t plen, int *pport,
                        char *err, apr_size_t len)
{
    redisContext *s = open_one(cf, ssl, host, port, err, len);
    redisReply *rep;
    int ok = 0;

    if (s == NULL)
        return 0;
    rep = n8443_redis_command(s, cf->timeout, err, len,
                              "SENTINEL get-master-addr-by-name %s",
                              cf->master_name);
    if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2
        && rep->element[0]->type == REDIS_REPLY_STRING
        && rep->element[1]->type == REDIS_REPLY_STRING) {
        char *end;
        long p = strtol(rep->element[1]->str, &end, 10);

        if (*end == '\0' && p > 0 && p < 65536 && rep->element[0]->len < plen) {
            apr_cpystrn(phost, rep->element[0]->str, plen);
            *pport = (int)p;
            ok = 1;
        }
        else
            apr_snprintf(err, len, "Sentinel %s:%d: a bad address", host, port);
    }
    else if (rep != NULL)
        apr_snprintf(err, len,
                     "Sentinel %s:%d does not know a master "
                     "named %s%s%.*s",
                     host, port, cf->master_name,
                     rep->type == REDIS_REPLY_ERROR ? ": " : "",
                     rep->type == REDIS_REPLY_ERROR ? (int)rep->len : 0,
                     rep->type == REDIS_REPLY_ERROR ? rep->str : "");
    else {
        char why[200];

        apr_cpystrn(why, err, sizeof(why));
        apr_snprintf(err, len, "Sentinel %s:%d: %s", host, port, why);
    }
    if (rep != NULL)
        freeReplyObject(rep);
    redisFree(s);
    return ok;
}

/* Connect to the primary: NULL and err when none answers as one.  The
 * listed servers (or the primary named by the first Sentinel that
 * knows it) in order; *where names the last one tried. */
redisContext *n8443_redis_open_primary(const n8443_redis_conf *cf, void *ssl,
                                       char *where, apr_size_t wlen, char *err,
                                       apr_size_t len)
{
    int i;

    for (i = 0; i < cf->n; i++) {
        char host[256];
        int port = cf->port[i];
        redisContext *c;

        apr_cpystrn(host, cf->host[i], sizeof(host));
        if (cf->master_name != NULL
            && !ask_sentinel(cf, ssl, cf->host[i], cf->port[i], host,
                             sizeof(host), &port, err, len))
            continue;
        apr_snprintf(where, wlen, "%s:%d", host, port);
        c = open_one(cf, ssl, host, port, err, len);
        if (c != NULL && authenticate(cf, c, err, len)
            && is_primary(cf, c, err, len))
            return c;
        if (c != NULL) {
            /* Keep where it was said. */
            char why[256];

            apr_cpystrn(why, err, sizeof(why));
            apr_snprintf(err, len, "%s: %s", where, why);
            redisFree(c);
        }
        /* The primary a Sentinel named does not answer: the others would
         * name the same one until the failover; try again next time. */
        if (cf->master_name != NULL)
            return NULL;
    }
    return NULL;
}

/* The value of "name:" in an INFO answer, copied to out; 0: absent. */
int n8443_redis_info_field(const redisReply *rep, const char *name, char *out,
                           apr_size_t len)
{
    apr_size_t n = strlen(name);
    const char *p;

    if (rep == NULL || rep->type != REDIS_REPLY_STRING)
        return 0;
    for (p = rep->str; p != NULL && *p; p = strchr(p, '\n')) {
        if (*p == '\n')
            p++;
        if (strncmp(p, name, n) == 0 && p[n] == ':') {
            apr_size_t i = 0;

            for (p += n + 1; *p && *p != '\r' && *p != '\n' && i + 1 < len;)
                out[i++] = *p++;
            out[i] = '\0';
            return 1;
        }
    }
    return 0;
}

#endif /* N8443_HAVE_REDIS */
