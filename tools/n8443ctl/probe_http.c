/*
 * n8443ctl probe - HTTP over TLS, for every request of the probe.
 *
 * One request per connection, "Connection: close", as simple as a
 * client can be: a login that works only on a kept-alive connection
 * (NegotiateConnectionAuth) is not what the probe looks for.  Every
 * connect and every read is bounded by --timeout, so a server that
 * accepts and never answers is reported, not waited for.  The
 * certificate is not enforced here: probe_tls.c judges it, and
 * probe_login.c sends no token unless it was trusted.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "probe.h"

/* The TLS context of the run: the system's trust store, or --ca. */
static int make_ctx(struct n8443_probe *p, char *err, size_t errlen)
{
    SSL_CTX *ctx;
    int ok;

    if (p->ssl_ctx != NULL) {
        return 0;
    }
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        snprintf(err, errlen, "cannot create a TLS context");
        return -1;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* Verified, but not enforced during the handshake: the TLS step
     * reports what is wrong rather than a bare handshake failure. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    if (p->args->ca_file != NULL) {
        ok = SSL_CTX_load_verify_locations(ctx, p->args->ca_file, NULL);
    }
    else {
        ok = SSL_CTX_set_default_verify_paths(ctx);
    }
    if (ok != 1) {
        snprintf(err, errlen, "cannot load the trusted CAs%s%s",
                 p->args->ca_file ? " from " : "",
                 p->args->ca_file ? p->args->ca_file : "");
        SSL_CTX_free(ctx);
        return -1;
    }
    p->ssl_ctx = ctx;
    return 0;
}

/* A TCP connection to ADDR within the timeout; the fd, or -1 with the
 * reason in ERR. */
static int tcp_connect(const struct sockaddr *addr, socklen_t len, int timeout,
                       char *err, size_t errlen)
{
    struct timeval tv;
    struct pollfd pfd;
    socklen_t elen = sizeof(int);
    int soerr = 0;
    int fd;
    int rc;

    fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    rc = connect(fd, addr, len);
    if (rc != 0 && errno == EINPROGRESS) {
        pfd.fd = fd;
        pfd.events = POLLOUT;
        do {
            rc = poll(&pfd, 1, timeout * 1000);
        } while (rc < 0 && errno == EINTR);
        if (rc == 0) {
            snprintf(err, errlen, "no answer to the connection within %d s",
                     timeout);
            close(fd);
            return -1;
        }
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen);
        rc = soerr ? -1 : 0;
        errno = soerr;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    tv.tv_sec = timeout;
    tv.tv_usec = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

/* The reason of a failed TLS call, a timeout named as one. */
static void tls_error(SSL *ssl, int ret, int timeout, char *err, size_t errlen)
{
    int code = SSL_get_error(ssl, ret);
    unsigned long e = ERR_get_error();

    if ((code == SSL_ERROR_SYSCALL || code == SSL_ERROR_WANT_READ
         || code == SSL_ERROR_WANT_WRITE)
        && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        snprintf(err, errlen,
                 "no answer within %d s (the server accepted "
                 "the connection and then said nothing)",
                 timeout);
    }
    else if (e != 0) {
        ERR_error_string_n(e, err, errlen);
    }
    else if (code == SSL_ERROR_SYSCALL && errno != 0) {
        snprintf(err, errlen, "%s", strerror(errno));
    }
    else {
        snprintf(err, errlen, "the server closed the connection");
    }
    ERR_clear_error();
}

int n8443_probe_connect(struct n8443_probe *p, SSL **ssl_out, char *err,
                        size_t errlen)
{
    SSL *ssl = NULL;
    size_t tries;
    int fd = -1;
    int ret;

    if (make_ctx(p, err, errlen) != 0) {
        return -1;
    }
    snprintf(err, errlen, "no address to connect to");
    /* The address that answered before first, then the others. */
    for (tries = 0; tries < p->naddrs; tries++) {
        size_t i = (p->good_addr + tries) % p->naddrs;

        fd = tcp_connect((const struct sockaddr *)&p->addrs[i], p->addrlens[i],
                         p->timeout, err, errlen);
        if (fd >= 0) {
            p->good_addr = i;
            break;
        }
    }
    if (fd < 0) {
        return -1;
    }
    ssl = SSL_new(p->ssl_ctx);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
        snprintf(err, errlen, "cannot set up TLS");
        goto fail;
    }
    if (!p->url.host_is_ip) {
        SSL_set_tlsext_host_name(ssl, p->url.host);
    }
    errno = 0;
    ret = SSL_connect(ssl);
    if (ret != 1) {
        tls_error(ssl, ret, p->timeout, err, errlen);
        goto fail;
    }
    *ssl_out = ssl;
    return 0;

fail:
    if (ssl != NULL) {
        SSL_free(ssl);
    }
    close(fd);
    return -1;
}

void n8443_probe_disconnect(SSL *ssl)
{
    int fd;

    if (ssl == NULL) {
        return;
    }
    fd = SSL_get_fd(ssl);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    if (fd >= 0) {
        close(fd);
    }
}

void n8443_probe_response_free(struct probe_response *resp)
{
    free(resp->raw);
    memset(resp, 0, sizeof(*resp));
}

const char *n8443_probe_header(const struct probe_response *resp,
                               const char *name)
{
    size_t i;

    for (i = 0; i < resp->nheaders; i++) {
        if (strcasecmp(resp->headers[i].name, name) == 0) {
            return resp->headers[i].value;
        }
    }
    return NULL;
}

/* NEEDLE in HAY, case ignored (strcasestr is a GNU extension). */
static const char *find_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    for (; *hay != '\0'; hay++) {
        if (strncasecmp(hay, needle, n) == 0) {
            return hay;
        }
    }
    return NULL;
}

/* Has BUF[0..len) a complete response (headers, and the body
 * Content-Length announces, or the last chunk)? */
static int response_complete(const char *buf, size_t len)
{
    const char *end = strstr(buf, "\r\n\r\n");
    const char *cl;
    size_t head;

    if (end == NULL) {
        return 0;
    }
    head = (size_t)(end - buf) + 4;
    cl = find_nocase(buf, "\r\nContent-Length:");
    if (cl != NULL && cl < end) {
        return len - head >= (size_t)strtoul(cl + 17, NULL, 10);
    }
    if (find_nocase(buf, "\r\nTransfer-Encoding: chunked") != NULL) {
        return strstr(end, "\r\n0\r\n\r\n") != NULL;
    }
    return 0;
}

/*
 * The server's header lines end up on a terminal (the report, --trace):
 * a control byte or a non-ASCII one (an 8-bit CSI) in them becomes '?',
 * so that a hostile server cannot send escape sequences.  The body is
 * left alone; only the NEGOTIATE_ERROR line is shown from it, cleaned
 * the same way.
 */
void n8443_probe_printable(char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len && s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];

        if ((c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c >= 0x7f) {
            s[i] = '?';
        }
    }
}

static void printable_head(char *raw)
{
    const char *end = strstr(raw, "\r\n\r\n");

    n8443_probe_printable(raw, end ? (size_t)(end - raw) : strlen(raw));
}

/* Split the raw response into status, headers and body, in place. */
static int parse_response(struct probe_response *resp)
{
    char *line = resp->raw;
    char *end = strstr(resp->raw, "\r\n\r\n");
    char *next;

    if (end == NULL || strncmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ') {
        return -1;
    }
    *end = '\0';
    resp->body = end + 4;
    resp->bodylen = resp->rawlen - (size_t)(resp->body - resp->raw);
    resp->status = (int)strtol(line + 9, &next, 10);
    if (next != line + 12 || resp->status < 100 || resp->status > 599) {
        return -1;
    }
    resp->reason = next + (*next == ' ');
    for (line = strstr(line, "\r\n"); line != NULL; line = next) {
        char *colon;

        *line = '\0';
        line += 2;
        next = strstr(line, "\r\n");
        if (next != NULL) {
            *next = '\0';
        }
        colon = strchr(line, ':');
        if (colon != NULL && resp->nheaders < PROBE_MAX_HEADERS) {
            *colon = '\0';
            colon++;
            colon += strspn(colon, " \t");
            resp->headers[resp->nheaders].name = line;
            resp->headers[resp->nheaders].value = colon;
            resp->nheaders++;
        }
        if (next != NULL) {
            *next = '\r'; /* the loop cuts it again */
        }
    }
    return 0;
}

int n8443_probe_request(struct n8443_probe *p, const char *label,
                        const char *path, const char *authz,
                        struct probe_response *resp, char *err, size_t errlen)
{
    struct n8443_buf req;
    SSL *ssl = NULL;
    size_t cap = 16384;
    size_t len = 0;
    char *buf = NULL;
    int rc = -1;
    int ret;

    memset(resp, 0, sizeof(*resp));
    n8443_buf_init(&req);
    n8443_buf_printf(
        &req,
        "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: n8443ctl/" PACKAGE_VERSION
        " probe\r\nAccept: */*\r\n"
        "Connection: close\r\n",
        path, p->url.hostport);
    if (authz != NULL) {
        n8443_buf_printf(&req, "Authorization: %s\r\n", authz);
    }
    n8443_buf_puts(&req, "\r\n");
    if (req.failed) {
        snprintf(err, errlen, "out of memory");
        goto cleanup;
    }
    if (n8443_probe_connect(p, &ssl, err, errlen) != 0) {
        goto cleanup;
    }
    if (p->trace) {
        n8443_probe_trace(label, ">", req.data, req.len);
    }
    errno = 0;
    ret = SSL_write(ssl, req.data, (int)req.len);
    if (ret <= 0) {
        tls_error(ssl, ret, p->timeout, err, errlen);
        goto cleanup;
    }
    buf = malloc(cap + 1);
    if (buf == NULL) {
        snprintf(err, errlen, "out of memory");
        goto cleanup;
    }
    for (;;) {
        if (len == cap) {
            char *grown;

            if (cap >= PROBE_MAX_RESPONSE) {
                break;
            }
            grown = realloc(buf, 2 * cap + 1);
            if (grown == NULL) {
                break;
            }
            buf = grown;
            cap *= 2;
        }
        errno = 0;
        ret = SSL_read(ssl, buf + len, (int)(cap - len));
        if (ret <= 0) {
            int code = SSL_get_error(ssl, ret);

            if (code != SSL_ERROR_ZERO_RETURN && len == 0) {
                tls_error(ssl, ret, p->timeout, err, errlen);
                goto cleanup;
            }
            ERR_clear_error();
            break;
        }
        len += (size_t)ret;
        buf[len] = '\0';
        if (response_complete(buf, len)) {
            break;
        }
    }
    buf[len] = '\0';
    if (strlen(buf) != len) {
        /* NUL bytes: the body is binary, the headers are what counts. */
        len = strlen(buf);
    }
    resp->raw = buf;
    resp->rawlen = len;
    buf = NULL;
    printable_head(resp->raw);
    if (p->trace) {
        const char *end = strstr(resp->raw, "\r\n\r\n");

        n8443_probe_trace(label, "<", resp->raw,
                          end ? (size_t)(end - resp->raw) + 4 : resp->rawlen);
    }
    if (parse_response(resp) != 0) {
        snprintf(err, errlen, "the answer is not an HTTP/1.x response");
        n8443_probe_response_free(resp);
        goto cleanup;
    }
    rc = 0;

cleanup:
    free(buf);
    n8443_probe_disconnect(ssl);
    n8443_buf_free(&req);
    return rc;
}
