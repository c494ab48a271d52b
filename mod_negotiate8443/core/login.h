/*
 * login.h - one Negotiate login, from a decoded token to a verdict,
 * without httpd: the module (exchange.c) and n8443ctl can both call it,
 * so they never disagree about what a good login is.
 *
 * n8443_login_accept() walks the token (token_walk.c), tries the fast
 * path (krb5_accept.c) where the mode allows it, falls back to GSS-API
 * (acceptor.c), applies the rules a login must pass once Kerberos took it
 * (a clean name, anonymous tickets, a required channel binding) and, for
 * a refusal, asks Kerberos for the cause and gives advice in words.
 * What the caller does with the verdict (status, log line, replay cache,
 * identity) is its own business.
 */
#ifndef N8443_LOGIN_H
#define N8443_LOGIN_H

#include <stddef.h>
#include <stdint.h>
#include <gssapi/gssapi.h>
#include <krb5/krb5.h>

#include "acceptor.h"
#include "token_walk.h"

/* The keys a login is checked with. */
typedef struct {
    gss_cred_id_t cred; /* GSS-API's acceptor credentials */
    /* The fast path: a context of this thread's own and a handle on the
     * keytab; ctx NULL: every login goes through GSS-API. */
    krb5_context ctx;
    krb5_keytab kt;
    krb5_const_principal server; /* NULL: any key */
    long skew;                   /* seconds, the fast path's clock skew */
    /* As configured, for the diagnosis of a refusal (NULL: default
     * keytab / any principal). */
    const char *keytab;
    const char *principal;
    void *baton; /* the keys' owner's own */
} n8443_login_keys;

/* Mode bits. */
#define N8443_LOGIN_FAST_PATH       0x1 /* the fast path may answer */
#define N8443_LOGIN_REQUIRE_BINDING 0x2 /* no channel binding: refused */
#define N8443_LOGIN_ALLOW_ANONYMOUS 0x4 /* anonymous tickets accepted */
#define N8443_LOGIN_STAMP                                                      \
    0x8 /* the authenticator's time is
                                             wanted (stamp): after GSS-API
                                             read with keys->ctx/kt */

typedef enum {
    N8443_LOGIN_ACCEPTED = 0, /* principal, output, lifetime filled in */
    N8443_LOGIN_CONTINUE,     /* SPNEGO asked for another leg */
    N8443_LOGIN_MALFORMED,    /* not a token: 400 */
    N8443_LOGIN_UNUSABLE,     /* a token, but no Kerberos in it (tok
                                   says why: NTLM, another mechanism) */
    N8443_LOGIN_REFUSED,      /* Kerberos refused it (cause, advice,
                                   krb5_text) */
    N8443_LOGIN_UNCLEAN_NAME, /* accepted, but the name has control
                                   bytes: refused */
    N8443_LOGIN_ANONYMOUS,    /* an anonymous ticket, not allowed */
    N8443_LOGIN_UNBOUND       /* no channel binding where one is
                                   required */
} n8443_verdict;

typedef struct {
    n8443_verdict verdict;
    n8443_cause cause;     /* N8443_CAUSE_NONE when accepted */
    n8443_tok_status tok;  /* what the token walker found */
    const char *principal; /* the client (acc.principal), or NULL */
    const char *advice;    /* for a refusal: what to do (static) */
    int fast;              /* accepted by the fast path */
    int bound;             /* the channel binding matched */
    n8443_apreq_info info; /* the AP-REQ (replay key, log lines) */
    /* The authenticator's time (ctime + cusec: the client's clock), in
     * microseconds since the epoch (apr_time_t's unit); 0: unknown (the
     * GSS-API path without keys->ctx, e.g. GSS-Proxy). */
    int64_t stamp;
    n8443_accept_result acc; /* output token, flags, lifetime,
                                   delegated credentials */
    char krb5_text[256];     /* Kerberos' words for a refusal */
    char binding_text[320];  /* bad_bindings: what the client bound,
                                   next to ours ("" when unknown) */
} n8443_login_result;

n8443_verdict n8443_login_accept(const n8443_login_keys *keys,
                                 const unsigned char *token, size_t len,
                                 gss_channel_bindings_t bindings, int mode,
                                 n8443_login_result *res);

/* Release what the result holds (principal, output, credentials). */
void n8443_login_result_clear(n8443_login_result *res);

/* Advice for an administrator, for a refusal's cause. */
const char *n8443_login_advice(n8443_cause cause);

/* Does the name hold no control character: C0, DEL, or C1 in UTF-8? */
int n8443_name_has_no_control(const char *s);

#endif /* N8443_LOGIN_H */
