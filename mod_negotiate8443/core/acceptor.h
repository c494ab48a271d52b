/*
 * acceptor.h - the GSS-API acceptor side of one Negotiate exchange, without
 * httpd: acquiring acceptor credentials from a keytab, one accept step, and
 * turning MIT's status codes into causes an administrator can act on.
 *
 * Shared by the module and n8443ctl's online check, so the tool and the
 * server can never disagree about what a good login is.
 */
#ifndef N8443_ACCEPTOR_H
#define N8443_ACCEPTOR_H

#include <stddef.h>
#include <gssapi/gssapi.h>

#include "claims.h"

/* Why a token was refused; also the status handler's failure buckets. */
typedef enum {
    N8443_CAUSE_NONE = 0,
    N8443_CAUSE_REPLAY,          /* the authenticator was seen before */
    N8443_CAUSE_SKEW,            /* clocks differ by more than the skew */
    N8443_CAUSE_WRONG_PRINCIPAL, /* no key for the SPN / kvno / wrong key */
    N8443_CAUSE_BAD_BINDINGS,    /* channel bindings do not match */
    N8443_CAUSE_NTLM,            /* client fell back to NTLM */
    N8443_CAUSE_MALFORMED,       /* not a token we can read */
    N8443_CAUSE_EXPIRED,         /* ticket expired / not yet valid */
    N8443_CAUSE_OTHER,
    N8443_CAUSE_ETYPE,     /* the authenticator's etype field is not
                                    the session key's enctype */
    N8443_CAUSE_ANONYMOUS, /* an anonymous ticket, not allowed */
    N8443_CAUSE_FORGOTTEN  /* the replay cache lost its memory after
                                    the authenticator was made: refused,
                                    the client retries with a new one */
} n8443_cause;

const char *n8443_cause_name(n8443_cause cause);

/* Where the acceptor's keys come from. */
typedef struct {
    const char *keytab;     /* NULL: KRB5_KTNAME or the system default */
    const char *principal;  /* NULL: any key in the keytab; else
                               "HTTP/host" or "HTTP/host@REALM" */
    const char *rcache;     /* NULL: MIT's default; "none:" switches it off */
    const char *s4u_ccache; /* non-NULL: also initiator credentials from
                               the keytab (client_keytab) into this
                               ccache, so that a forwardable client ticket
                               becomes S4U2Proxy evidence */
} n8443_acceptor_opts;

/*
 * Acquire acceptor credentials.  On failure returns -1 and writes a
 * sentence naming what is wrong into err (never NULL-terminated beyond
 * errlen).  *cred_out is set only on success.
 */
int n8443_acceptor_acquire(const n8443_acceptor_opts *opts,
                           gss_cred_id_t *cred_out, char *err, size_t errlen);

/* The outcome of one gss_accept_sec_context step. */
typedef struct {
    OM_uint32 major;
    OM_uint32 minor;
    gss_OID mech;           /* actual mechanism (static storage) */
    gss_buffer_desc output; /* token for the client, may be empty */
    int output_malloced;    /* output is ours (malloc), not GSS's */
    char *principal;        /* client principal (malloc) on success */
    OM_uint32 ret_flags;
    OM_uint32 lifetime;      /* seconds the context/ticket is valid */
    gss_cred_id_t delegated; /* GSS_C_NO_CREDENTIAL unless delegated */
    /* Channel bindings: the address type of the form (core/
     * channel_binding.h) the answer is for; 1 when both address-free
     * forms were tried; the second try's status where it could not say
     * (MIT's replay cache took the first try's authenticator). */
    OM_uint32 cb_addrtype;
    int cb_tried_both;
    OM_uint32 retry_major, retry_minor;
    n8443_ticket_claims claims; /* the verified PAC, auth indicators */
    /* The authenticator's time (ctime, cusec: the client's clock) in
     * microseconds since the epoch; 0: unknown (GSS-API does not say;
     * the fast path fills it in). */
    long long stamp;
} n8443_accept_result;

/*
 * Run one accept step over a fresh context.  cb may be
 * GSS_C_NO_CHANNEL_BINDINGS.  A client binding to the same application
 * data hashed with the other address-free form (GSS_C_AF_NULLADDR for
 * GSS_C_AF_UNSPEC and back) is accepted too: a GSS_S_BAD_BINDINGS
 * refusal is tried once more with that form (res->cb_addrtype says
 * which form the answer is for).  Always fills *res; the caller must call
 * n8443_accept_result_clear.  Returns 0 when the context is complete,
 * 1 when GSS wants another leg, -1 on failure (see res->major/minor).
 */
int n8443_accept_once(gss_cred_id_t cred, const void *token, size_t len,
                      gss_channel_bindings_t cb, n8443_accept_result *res);
void n8443_accept_result_clear(n8443_accept_result *res);

/*
 * Why did GSS-API refuse a token?  MIT's mechanism glue renumbers the
 * mechanism's minor codes, so the minor status alone cannot tell a clock
 * skew from a missing key.  This re-reads the AP-REQ with krb5 directly
 * (same keytab and principal, no replay cache) and returns the krb5 error
 * code; KRB5_BAD_ENCTYPE when krb5 accepts it but the authenticator's
 * etype field is not the session key's enctype (MIT decrypts it anyway,
 * then GSS-API's replay-cache tag fails); or 0 if krb5 accepts it: then
 * GSS-API refused for something else (framing, bindings, its replay
 * cache: see n8443_refusal_code).  Writes the reason into text.  For the
 * failure path only: it opens a krb5 context.
 */
long n8443_diagnose_apreq(const char *keytab, const char *principal,
                          const void *apreq, size_t len, char *text,
                          size_t textlen);

/*
 * For a refusal for channel bindings: what the client bound, next to
 * the acceptor's bindings cb (both address-free forms), in words: no
 * binding with MS-KILE's CBT bit, or its hash and ours.  0, or -1 when
 * it cannot look (no bindings, keytab not readable here: GSS-Proxy).
 */
int n8443_diagnose_bindings(const char *keytab, const char *principal,
                            const void *apreq, size_t len,
                            gss_channel_bindings_t cb, char *text,
                            size_t textlen);

/* n8443_diagnose_apreq's answer when it cannot look: the keytab is not
 * readable here (GSS-Proxy holds the keys) or has no keys. */
#define N8443_DIAG_UNAVAILABLE ((long)(-0x7fffffffL - 1))

/* The krb5 error that GSS-API's message text names, for when the keytab
 * cannot be consulted: the mechanism (or gssproxy) puts krb5's standard
 * message into the minor status text.  0 if none is recognised. */
long n8443_krb5_code_from_text(const char *gss_text);

/*
 * The krb5 error behind a refusal: diag_code (from n8443_diagnose_apreq)
 * when it names one; when it is 0 or N8443_DIAG_UNAVAILABLE, the one
 * GSS-API's own text names (a replay caught by MIT's replay cache, with
 * NegotiateReplayCache krb5), else -1 (unknown: never "replay").
 */
long n8443_refusal_code(OM_uint32 major, OM_uint32 minor, long diag_code);

/* Map a refused accept to a cause, from the GSS major status and the krb5
 * error code n8443_diagnose_apreq found (0 if it found none). */
n8443_cause n8443_accept_cause(OM_uint32 major, long krb5_code);

/*
 * Seconds left on the ticket, from the lifetime GSS-API reports (MIT:
 * the ticket's end - now + the clock skew, a grace period a session must
 * not get): gss_lifetime - skew, 0 for a ticket already past its end,
 * GSS_C_INDEFINITE unchanged.
 */
OM_uint32 n8443_ticket_left(OM_uint32 gss_lifetime, long skew);

/* Is this an anonymous login (RFC 8062: WELLKNOWN/ANONYMOUS in any realm,
 * or GSS-API's anonymous flag)? */
int n8443_login_is_anonymous(const char *principal, OM_uint32 ret_flags);

/* GSS major and mechanism minor status as one line of text. */
void n8443_gss_error_text(OM_uint32 major, OM_uint32 minor, char *buf,
                          size_t buflen);

#endif /* N8443_ACCEPTOR_H */
