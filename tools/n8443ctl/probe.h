/*
 * n8443ctl - `probe`: what the steps share.
 *
 * probe looks at a Kerberos site from a client machine, the way an
 * administrator would by hand: the name (probe_name.c), TLS
 * (probe_tls.c), an unauthenticated request (probe_challenge.c), a
 * service ticket (probe_ticket.c) and a login (probe_login.c);
 * probe_http.c carries every request.  Each step adds records to the
 * same report engine as `check` (report.c); a later step
 * reads what an earlier one found from struct n8443_probe.  --trace
 * prints every request and response with the tokens decoded
 * (probe_trace.c), never a secret.
 */
#ifndef N8443CTL_PROBE_H
#define N8443CTL_PROBE_H

#include <stddef.h>
#include <sys/socket.h>

#include <gssapi/gssapi.h>
#include <krb5/krb5.h>
#include <openssl/ssl.h>

#include "channel_binding.h"
#include "check.h"

#define PROBE_MAX_HOST        256
#define PROBE_MAX_PATH        2048
#define PROBE_MAX_ADDRS       8
#define PROBE_MAX_NAMES       2 /* the URL's host, its canonical name */
#define PROBE_MAX_HEADERS     64
#define PROBE_MAX_RESPONSE    (256 * 1024)
#define PROBE_DEFAULT_TIMEOUT 10

/* The three kinds of client whose SPN differs. */
enum probe_browser {
    PROBE_CHROME = 0, /* Chrome, Edge: the canonical name */
    PROBE_FIREFOX,    /* the URL's host, as typed */
    PROBE_CURL,       /* the URL's host, as typed */
    PROBE_NBROWSERS
};

struct probe_url {
    char host[PROBE_MAX_HOST]; /* lower case, no brackets */
    int port;
    char path[PROBE_MAX_PATH];         /* with the query */
    char hostport[PROBE_MAX_HOST + 8]; /* Host: header */
    int host_is_ip;
};

struct probe_header {
    char *name;
    char *value;
};

/* One HTTP response (probe_http.c); the strings point into raw. */
struct probe_response {
    int status;
    char *raw;
    size_t rawlen;
    char *reason;
    struct probe_header headers[PROBE_MAX_HEADERS];
    size_t nheaders;
    const char *body;
    size_t bodylen;
};

/* One service ticket the KDC gave (or refused), per SPN host. */
struct probe_ticket {
    char principal[PROBE_MAX_HOST + 64];
    int ok;
    krb5_kvno kvno;
    char enctype[64]; /* the ticket's */
    char session_enctype[64];
};

struct n8443_probe {
    const struct n8443_args *args;
    struct n8443_report *rep;
    int timeout; /* seconds */
    int trace;
    int browser; /* enum probe_browser, or -1: all */
    struct probe_url url;
    int unreachable; /* a step could not reach the site */

    /* name */
    struct sockaddr_storage addrs[PROBE_MAX_ADDRS];
    socklen_t addrlens[PROBE_MAX_ADDRS];
    size_t naddrs;
    size_t good_addr; /* the one that answered */
    char canonical[PROBE_MAX_HOST];
    const char *names[PROBE_MAX_NAMES]; /* distinct SPN hosts */
    size_t nnames;
    const char *spn_host[PROBE_NBROWSERS];

    /* tls */
    SSL_CTX *ssl_ctx;
    int tls_up;      /* a handshake succeeded */
    int tls_trusted; /* chain, name and dates all good */
    int have_cb;
    unsigned char cb[N8443_CB_MAX];
    size_t cb_len;

    /* http */
    int offers_negotiate;
    int via_proxy;
    char login_path[PROBE_MAX_PATH];

    /* ticket */
    krb5_context kctx;
    krb5_ccache cc; /* private MEMORY ccache with the TGT */
    krb5_principal client;
    char *client_name;
    char realm[256]; /* the client's */
    struct probe_ticket tickets[PROBE_MAX_NAMES];
};

/* ------------------------------------------------------ probe_name.c */

/* "Chrome/Edge", "Firefox", "curl", by enum probe_browser. */
extern const char *const n8443_probe_browser_names[PROBE_NBROWSERS];

void n8443_probe_name(struct n8443_probe *p);

/* ------------------------------------------------------- probe_tls.c */

void n8443_probe_tls(struct n8443_probe *p);

/* ------------------------------------------------------ probe_http.c */

/*
 * One request on a new TLS connection: GET p->url's host with PATH,
 * and AUTHZ as the Authorization header if not NULL.  Fills *resp (free
 * with n8443_probe_response_free) and returns 0, or -1 with the reason
 * in ERR (*timed_out when it was the timeout).  LABEL names the request
 * in the trace.
 */
int n8443_probe_request(struct n8443_probe *p, const char *label,
                        const char *path, const char *authz,
                        struct probe_response *resp, char *err, size_t errlen);
void n8443_probe_response_free(struct probe_response *resp);

/* Replace control and non-ASCII bytes of S[0..len) with '?', in place
 * (text from the server, on its way to a terminal). */
void n8443_probe_printable(char *s, size_t len);

/* The value of the first header NAME (no case), or NULL. */
const char *n8443_probe_header(const struct probe_response *resp,
                               const char *name);

/*
 * A TLS connection to the site (the first address that answers); the
 * caller owns *ssl_out (SSL_free, then close the fd it holds).
 */
int n8443_probe_connect(struct n8443_probe *p, SSL **ssl_out, char *err,
                        size_t errlen);
void n8443_probe_disconnect(SSL *ssl);

/* ------------------------------------------------- probe_challenge.c */

void n8443_probe_http(struct n8443_probe *p);

/* ---------------------------------------------------- probe_ticket.c */

void n8443_probe_ticket(struct n8443_probe *p);
void n8443_probe_ticket_free(struct n8443_probe *p);

/* ----------------------------------------------------- probe_login.c */

void n8443_probe_login(struct n8443_probe *p);

/* ----------------------------------------------------- probe_trace.c */

/*
 * Decode a Negotiate token (the bytes after base64) into readable lines
 * appended to OUT: SPNEGO framing, mechanism list, the AP-REQ's service
 * principal, realm, kvno, enctypes and options, or an AP-REP's.  Never
 * prints key material or the encrypted parts, only their lengths.
 * Returns 0 if the token was understood, -1 if not (OUT says why).
 */
int n8443_probe_decode_token(const unsigned char *tok, size_t len,
                             struct n8443_buf *out);

/* Print a request or response for --trace (stderr); Authorization and
 * Negotiate tokens decoded, cookies and credentials redacted. */
void n8443_probe_trace(const char *label, const char *direction,
                       const char *text, size_t len);

#endif /* N8443CTL_PROBE_H */
