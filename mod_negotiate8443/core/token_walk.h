/*
 * token_walk.h - bounded DER walk from an HTTP Negotiate token to the parts
 * of the Kerberos AP-REQ that the module needs before (and besides) GSS-API:
 * the encrypted authenticator (the replay-cache key), and the service
 * principal, realm and key version the client asked for (for log lines an
 * administrator can act on).
 *
 * Pure C: no httpd, no APR, no allocation.  Every pointer in the result
 * points into the caller's buffer.
 */
#ifndef N8443_TOKEN_WALK_H
#define N8443_TOKEN_WALK_H

#include <stddef.h>
#include <stdint.h>

/*
 * What kind of token it is (or why it is not one we can use).  Inside
 * SPNEGO the mechToken belongs to the first mechType (the supportedMech of
 * a NegTokenResp, when one is named); a token that contradicts that
 * mechanism (an NTLM token for krb5, a krb5 token for NegoEx) is MALFORMED.
 */
typedef enum {
    N8443_TOK_KRB5 = 0,     /* an AP-REQ was found: info is filled in */
    N8443_TOK_MALFORMED,    /* not DER, not a GSS token, or bounds broken */
    N8443_TOK_NTLM,         /* raw NTLMSSP, or SPNEGO carrying NTLM, or
                               offering NTLM but not krb5 */
    N8443_TOK_OTHER_MECH,   /* a GSS token of a mechanism other than krb5
                               (NegoEx, IAKERB, ...), raw or in SPNEGO */
    N8443_TOK_NO_MECH_TOKEN /* SPNEGO offering krb5 but without an optimistic
                               krb5 token (another leg is needed), or a
                               NegTokenResp without a responseToken */
} n8443_tok_status;

/* The envelope the AP-REQ came in. */
typedef enum {
    N8443_FRAME_NONE = 0,
    N8443_FRAME_SPNEGO_INIT, /* [APPLICATION 0] spnego NegTokenInit */
    N8443_FRAME_SPNEGO_RESP, /* [1] NegTokenResp (a later leg) */
    N8443_FRAME_GSS_KRB5     /* raw RFC 1964/4121 krb5 token */
} n8443_framing;

/* A ticket for a service principal with more components than this is
 * MALFORMED (HTTP/host has two). */
#define N8443_MAX_SNAME_PARTS 4

typedef struct {
    const unsigned char *data;
    size_t len;
} n8443_bytes;

/* How a NegTokenInit's reqFlags were encoded. */
typedef enum {
    N8443_REQFLAGS_ABSENT = 0,
    N8443_REQFLAGS_MIT,  /* a1 04 03 02 01 XX: the one form MIT's
                                   SPNEGO reads */
    N8443_REQFLAGS_OTHER /* any other (valid DER) BIT STRING: MIT
                                   refuses the token */
} n8443_reqflags_form;

typedef struct {
    n8443_framing framing;
    /* Canonical form, for the fast path, which takes only the encodings
     * MIT's GSS-API takes: every length walked (framing and AP-REQ) is
     * minimal DER and every INTEGER minimal; and how reqFlags came. */
    int der_canonical;
    n8443_reqflags_form req_flags;
    /* The mechanism OID (DER contents) the AP-REQ came under: SPNEGO's
     * first mechType (krb5 or Microsoft's alias of it), or krb5 for a raw
     * token; and whether the NegTokenInit carried a mechListMIC.  What
     * SPNEGO's answer must echo (core/krb5_accept.c). */
    n8443_bytes mech_oid;
    int spnego_mic;
    /* The OID of the GSS header in front of the AP-REQ itself (inside
     * SPNEGO Windows frames it with the RFC 1964 OID whatever it lists) */
    n8443_bytes token_oid;
    /* AP-REQ ap-options: bit 2 (mutual-required) set by the client */
    int mutual_required;
    /* Ticket: realm, sname components, enc-part etype and kvno (-1 absent;
     * a kvno above INT32_MAX makes the token MALFORMED) */
    n8443_bytes realm;
    n8443_bytes sname[N8443_MAX_SNAME_PARTS];
    int sname_count;
    int32_t ticket_etype;
    int32_t ticket_kvno;
    /* The whole AP-REQ (DER), for krb5_rd_req when a refusal is diagnosed */
    n8443_bytes apreq;
    /* Authenticator EncryptedData: etype and the cipher bytes (never
     * empty), the input of the replay key */
    int32_t authenticator_etype;
    n8443_bytes authenticator;
} n8443_apreq_info;

/*
 * Walk tok[0..len).  On N8443_TOK_KRB5 *info is filled in; on any other
 * status *info is zeroed (info may be NULL).  Never reads outside the
 * buffer, does not recurse, and rejects indefinite lengths, lengths that
 * overflow or overrun, INTEGERs wider than 32 bits, and trailing bytes
 * inside any value or after the token.  Inputs shorter than 2 bytes are
 * MALFORMED.
 */
n8443_tok_status n8443_token_walk(const unsigned char *tok, size_t len,
                                  n8443_apreq_info *info);

/*
 * Walk a bare AP-REQ (info->apreq of an earlier walk, say): the same
 * checks, framing N8443_FRAME_NONE and no mechanism OIDs.
 */
n8443_tok_status n8443_apreq_walk(const unsigned char *apreq, size_t len,
                                  n8443_apreq_info *info);

/* Human-readable name of a status, for log lines. */
const char *n8443_tok_status_str(n8443_tok_status st);

/*
 * Write "HTTP/host@REALM" (components joined by '/') into buf as a
 * NUL-terminated string; non-printable bytes become '?'.  Returns the
 * length written, or 0 (and an empty string, if bufsize > 0) when buf is
 * too small or info holds no principal.
 */
size_t n8443_apreq_principal(const n8443_apreq_info *info, char *buf,
                             size_t bufsize);

#endif /* N8443_TOKEN_WALK_H */
