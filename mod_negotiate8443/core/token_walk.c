/*
 * token_walk.c - bounded DER walk from an HTTP Negotiate token to the
 * Kerberos AP-REQ inside it.
 *
 * The replay cache keys on the AP-REQ's encrypted authenticator, not on the
 * HTTP token, because the SPNEGO envelope around one authenticator can be
 * re-wrapped at will (another mech list, a NegTokenResp instead of a
 * NegTokenInit, a raw krb5 token).  So this walker has to find the one
 * AP-REQ that GSS-API will accept, in every envelope a client may use, and
 * refuse anything it cannot read exactly: a token it rejects is refused by
 * the module (fail closed), a token it misreads would be a replay hole.
 *
 * The walk follows the fixed grammar below with explicit cursors and no
 * recursion, so the nesting depth is bounded by the grammar itself (the
 * deepest value, a sname component, sits 16 levels down).  Anything that is
 * not exactly this grammar is MALFORMED: indefinite or overlong lengths,
 * unexpected tags (which includes BER constructed strings and high tag
 * numbers), trailing bytes inside any value or after the token.
 *
 *   token        ::= GSS-framed | NegTokenResp | "NTLMSSP\0"...
 *   GSS-framed   ::= [APPLICATION 0] { thisMech OID, innerToken }
 *                    spnego OID: innerToken = [0] NegTokenInit
 *                    krb5 OID:   innerToken = TOK_ID 01 00, AP-REQ
 *   NegTokenInit ::= SEQUENCE { [0] mechTypes SEQUENCE OF OID,
 *                    [1] reqFlags BIT STRING OPT, [2] mechToken OCTET STRING
 *                    OPT, [3] mechListMIC OCTET STRING OPT }
 *   NegTokenResp ::= [1] SEQUENCE { [0] negState ENUMERATED OPT,
 *                    [1] supportedMech OID OPT, [2] responseToken OCTET
 *                    STRING OPT, [3] mechListMIC OCTET STRING OPT }
 *   AP-REQ       ::= [APPLICATION 14] SEQUENCE { [0] pvno 5, [1] msg-type 14,
 *                    [2] ap-options BIT STRING, [3] Ticket,
 *                    [4] authenticator EncryptedData }
 *   Ticket       ::= [APPLICATION 1] SEQUENCE { [0] tkt-vno 5, [1] realm
 *                    GeneralString, [2] sname PrincipalName,
 *                    [3] enc-part EncryptedData }
 *   PrincipalName::= SEQUENCE { [0] name-type INTEGER,
 *                    [1] name-string SEQUENCE OF GeneralString }
 *   EncryptedData::= SEQUENCE { [0] etype INTEGER, [1] kvno INTEGER OPT,
 *                    [2] cipher OCTET STRING }
 */
#include <string.h>

#include "der.h"
#include "oids.h"
#include "token_walk.h"

/* DER identifier octets used by the grammar above. */
#define TAG_BIT_STRING     0x03
#define TAG_OCTET_STRING   0x04
#define TAG_OID            0x06
#define TAG_ENUMERATED     0x0a
#define TAG_GENERAL_STRING 0x1b
#define TAG_SEQUENCE       0x30
#define TAG_GSS_FRAMING    0x60 /* [APPLICATION 0] constructed */
#define TAG_TICKET         0x61 /* [APPLICATION 1] constructed */
#define TAG_AP_REQ         0x6e /* [APPLICATION 14] constructed */

#define KRB5_PVNO       5
#define KRB5_MSG_AP_REQ 14
/* ap-options bit 2 (mutual-required), counted from the most significant bit
 * of the first octet after the unused-bits octet, as RFC 4120 numbers them */
#define AP_OPTS_MUTUAL_MASK 0x20

#define NTLMSSP_SIG     "NTLMSSP\0"
#define NTLMSSP_SIG_LEN 8

/* OID contents (without tag and length) of the mechanisms we recognise. */
static const unsigned char oid_spnego[] = {N8443_OID_SPNEGO};
static const unsigned char oid_krb5[] = {N8443_OID_KRB5};
static const unsigned char oid_krb5_old[] = {N8443_OID_KRB5_OLD};
static const unsigned char oid_krb5_ms[] = {N8443_OID_KRB5_MS};
static const unsigned char oid_ntlm[] = {N8443_OID_NTLM};

/* How a mechanism OID (or the token that goes with it) is treated. */
typedef enum {
    MECH_KRB5, /* any of the three krb5 OIDs */
    MECH_NTLM,
    MECH_OTHER,
    MECH_UNKNOWN /* NegTokenResp without supportedMech: judge by token */
} mech_kind;

static int oid_is(const der_cursor *val, const unsigned char *oid,
                  size_t oid_len)
{
    return (size_t)(val->end - val->p) == oid_len
           && memcmp(val->p, oid, oid_len) == 0;
}

/* Inside SPNEGO, Windows names krb5 by its own (and MIT by the pre-RFC)
 * OID; all three mean the same mechanism and the same token format. */
static mech_kind mech_of_oid(const der_cursor *oid)
{
    if (oid_is(oid, oid_krb5, sizeof(oid_krb5))
        || oid_is(oid, oid_krb5_ms, sizeof(oid_krb5_ms))
        || oid_is(oid, oid_krb5_old, sizeof(oid_krb5_old)))
        return MECH_KRB5;
    if (oid_is(oid, oid_ntlm, sizeof(oid_ntlm)))
        return MECH_NTLM;
    return MECH_OTHER;
}

static int is_ntlmssp(const der_cursor *tok)
{
    return (size_t)(tok->end - tok->p) >= NTLMSSP_SIG_LEN
           && memcmp(tok->p, NTLMSSP_SIG, NTLMSSP_SIG_LEN) == 0;
}

/*
 * EncryptedData at the cursor ([ctx] SEQUENCE).  The kvno is a UInt32 in
 * RFC 4120; values above INT32_MAX are refused so that -1 can keep meaning
 * "absent" (no KDC issues such service key versions).
 */
static int walk_encrypted_data(der_cursor *cur, unsigned char ctx,
                               int32_t *etype, int32_t *kvno,
                               n8443_bytes *cipher)
{
    der_cursor seq, val;

    if (der_take_explicit(cur, ctx, TAG_SEQUENCE, &seq) != 0)
        return -1;
    if (der_take_int32(&seq, TAG_CTX(0), etype) != 0)
        return -1;
    *kvno = -1;
    if (der_next_is(&seq, TAG_CTX(1))) {
        if (der_take_int32(&seq, TAG_CTX(1), kvno) != 0 || *kvno < 0)
            return -1;
    }
    if (der_take_explicit(&seq, TAG_CTX(2), TAG_OCTET_STRING, &val) != 0)
        return -1;
    if (!der_at_end(&seq))
        return -1;
    cipher->data = val.p;
    cipher->len = (size_t)(val.end - val.p);
    return 0;
}

/* Ticket ([3] [APPLICATION 1] SEQUENCE): realm, sname, enc-part. */
static int walk_ticket(der_cursor *cur, n8443_apreq_info *info)
{
    der_cursor seq, val, pname, names;
    int32_t vno, name_type;
    n8443_bytes unused_cipher;

    if (der_take_explicit(cur, TAG_CTX(3), TAG_TICKET, &val) != 0)
        return -1;
    if (der_take(&val, TAG_SEQUENCE, &seq) != 0 || !der_at_end(&val))
        return -1;

    if (der_take_int32(&seq, TAG_CTX(0), &vno) != 0 || vno != KRB5_PVNO)
        return -1;
    if (der_take_explicit(&seq, TAG_CTX(1), TAG_GENERAL_STRING, &val) != 0)
        return -1;
    info->realm.data = val.p;
    info->realm.len = (size_t)(val.end - val.p);

    if (der_take_explicit(&seq, TAG_CTX(2), TAG_SEQUENCE, &pname) != 0)
        return -1;
    if (der_take_int32(&pname, TAG_CTX(0), &name_type) != 0)
        return -1;
    if (der_take_explicit(&pname, TAG_CTX(1), TAG_SEQUENCE, &names) != 0
        || !der_at_end(&pname))
        return -1;
    /* An HTTP service has two components; more than the header's bound is
     * no HTTP service principal, and an empty name is no principal. */
    while (!der_at_end(&names)) {
        if (info->sname_count == N8443_MAX_SNAME_PARTS)
            return -1;
        if (der_take(&names, TAG_GENERAL_STRING, &val) != 0)
            return -1;
        info->sname[info->sname_count].data = val.p;
        info->sname[info->sname_count].len = (size_t)(val.end - val.p);
        info->sname_count++;
    }
    if (info->sname_count == 0)
        return -1;

    if (walk_encrypted_data(&seq, TAG_CTX(3), &info->ticket_etype,
                            &info->ticket_kvno, &unused_cipher)
        != 0)
        return -1;
    return der_at_end(&seq) ? 0 : -1;
}

/*
 * The AP-REQ that must fill cur exactly.  Fills info (framing excepted);
 * returns N8443_TOK_KRB5 or N8443_TOK_MALFORMED.
 */
static n8443_tok_status walk_ap_req(der_cursor *cur, n8443_apreq_info *info)
{
    der_cursor app, seq, val;
    int32_t num, kvno_unused;
    const unsigned char *start = cur->p;

    if (der_take(cur, TAG_AP_REQ, &app) != 0 || !der_at_end(cur))
        return N8443_TOK_MALFORMED;
    info->apreq.data = start;
    info->apreq.len = (size_t)(cur->p - start);
    if (der_take(&app, TAG_SEQUENCE, &seq) != 0 || !der_at_end(&app))
        return N8443_TOK_MALFORMED;

    if (der_take_int32(&seq, TAG_CTX(0), &num) != 0 || num != KRB5_PVNO)
        return N8443_TOK_MALFORMED;
    if (der_take_int32(&seq, TAG_CTX(1), &num) != 0 || num != KRB5_MSG_AP_REQ)
        return N8443_TOK_MALFORMED;

    if (der_take_explicit(&seq, TAG_CTX(2), TAG_BIT_STRING, &val) != 0
        || der_bit_string_ok(&val) != 0)
        return N8443_TOK_MALFORMED;
    info->mutual_required =
        (val.end - val.p) >= 2 && (val.p[1] & AP_OPTS_MUTUAL_MASK) != 0;

    if (walk_ticket(&seq, info) != 0)
        return N8443_TOK_MALFORMED;

    /* The authenticator has no kvno (it is under the session key); one sent
     * anyway is harmless to GSS, so it is read and dropped. */
    if (walk_encrypted_data(&seq, TAG_CTX(4), &info->authenticator_etype,
                            &kvno_unused, &info->authenticator)
        != 0)
        return N8443_TOK_MALFORMED;
    /* An empty cipher would give every such token the same replay key. */
    if (info->authenticator.len == 0)
        return N8443_TOK_MALFORMED;
    return der_at_end(&seq) ? N8443_TOK_KRB5 : N8443_TOK_MALFORMED;
}

/* The krb5 inner context token (RFC 4121 4.1): TOK_ID 01 00, then AP-REQ.
 * Other TOK_IDs (AP-REP, KRB-ERROR) never come from an initiator. */
static n8443_tok_status walk_krb5_inner(der_cursor *cur, n8443_apreq_info *info)
{
    if (cur->end - cur->p < 2 || cur->p[0] != 0x01 || cur->p[1] != 0x00)
        return N8443_TOK_MALFORMED;
    cur->p += 2;
    return walk_ap_req(cur, info);
}

/*
 * The token SPNEGO carries for mechanism `mech` (the first mechType, or the
 * supportedMech of a NegTokenResp, or MECH_UNKNOWN when none was named).
 * A token that contradicts the mechanism it was sent for is MALFORMED:
 * no client does that, and GSS would not read it as krb5 either.
 */
static n8443_tok_status walk_mech_token(der_cursor *tok, mech_kind mech,
                                        n8443_apreq_info *info)
{
    der_cursor framed, oid;
    mech_kind inner;

    if (is_ntlmssp(tok)) {
        inner = MECH_NTLM;
    }
    else if (der_next_is(tok, TAG_GSS_FRAMING)) {
        if (der_take(tok, TAG_GSS_FRAMING, &framed) != 0 || !der_at_end(tok)
            || der_take(&framed, TAG_OID, &oid) != 0 || der_oid_ok(&oid) != 0)
            return N8443_TOK_MALFORMED;
        inner = mech_of_oid(&oid);
        if (inner == MECH_KRB5 && (mech == MECH_KRB5 || mech == MECH_UNKNOWN)) {
            info->token_oid.data = oid.p;
            info->token_oid.len = (size_t)(oid.end - oid.p);
            return walk_krb5_inner(&framed, info);
        }
    }
    else {
        /* Not GSS-framed: opaque to us (a NegoEx message, say). */
        inner = MECH_OTHER;
    }

    if (mech != MECH_UNKNOWN && mech != inner)
        return N8443_TOK_MALFORMED;
    return inner == MECH_NTLM ? N8443_TOK_NTLM : N8443_TOK_OTHER_MECH;
}

/*
 * NegTokenInit, at the [0] that follows the spnego OID and fills cur.
 * The mechToken (if any) is for the first mechType (RFC 4178 4.2.1).
 * Without one, the answer depends on what the client offers: krb5 means a
 * second leg could still bring an AP-REQ, NTLM alone means it fell back.
 */
static n8443_tok_status walk_neg_token_init(der_cursor *cur,
                                            n8443_apreq_info *info)
{
    der_cursor seq, types, oid, val, mech_token;
    mech_kind first = MECH_OTHER, kind;
    int n_types = 0, offers_krb5 = 0, offers_ntlm = 0, has_token = 0;

    if (der_take_explicit(cur, TAG_CTX(0), TAG_SEQUENCE, &seq) != 0
        || !der_at_end(cur))
        return N8443_TOK_MALFORMED;

    if (der_take_explicit(&seq, TAG_CTX(0), TAG_SEQUENCE, &types) != 0)
        return N8443_TOK_MALFORMED;
    while (!der_at_end(&types)) {
        if (der_take(&types, TAG_OID, &oid) != 0 || der_oid_ok(&oid) != 0)
            return N8443_TOK_MALFORMED;
        kind = mech_of_oid(&oid);
        if (n_types++ == 0) {
            first = kind;
            info->mech_oid.data = oid.p;
            info->mech_oid.len = (size_t)(oid.end - oid.p);
        }
        offers_krb5 |= kind == MECH_KRB5;
        offers_ntlm |= kind == MECH_NTLM;
    }
    if (n_types == 0)
        return N8443_TOK_MALFORMED;

    if (der_next_is(&seq, TAG_CTX(1))) {
        const unsigned char *start = seq.p;

        if (der_take_explicit(&seq, TAG_CTX(1), TAG_BIT_STRING, &val) != 0
            || der_bit_string_ok(&val) != 0)
            return N8443_TOK_MALFORMED;
        /* MIT reads reqFlags only as a1 04 03 02 01 XX (one octet of
         * flags, one unused bit) and refuses every other encoding. */
        info->req_flags = seq.p - start == 6 && start[1] == 0x04
                                  && start[3] == 0x02 && start[4] == 0x01
                              ? N8443_REQFLAGS_MIT
                              : N8443_REQFLAGS_OTHER;
    }
    if (der_next_is(&seq, TAG_CTX(2))) {
        if (der_take_explicit(&seq, TAG_CTX(2), TAG_OCTET_STRING, &mech_token)
            != 0)
            return N8443_TOK_MALFORMED;
        has_token = 1;
    }
    if (der_next_is(&seq, TAG_CTX(3))) {
        if (der_take_explicit(&seq, TAG_CTX(3), TAG_OCTET_STRING, &val) != 0)
            return N8443_TOK_MALFORMED;
        info->spnego_mic = 1;
    }
    if (!der_at_end(&seq))
        return N8443_TOK_MALFORMED;

    if (has_token)
        return walk_mech_token(&mech_token, first, info);
    if (offers_krb5)
        return N8443_TOK_NO_MECH_TOKEN;
    return offers_ntlm ? N8443_TOK_NTLM : N8443_TOK_OTHER_MECH;
}

/*
 * NegTokenResp ([1] SEQUENCE, filling cur): a later leg of an exchange.
 * Without a responseToken there is no AP-REQ in it (a mechListMIC only).
 */
static n8443_tok_status walk_neg_token_resp(der_cursor *cur,
                                            n8443_apreq_info *info)
{
    der_cursor seq, val, response;
    mech_kind mech = MECH_UNKNOWN;
    int32_t neg_state;

    if (der_take_explicit(cur, TAG_CTX(1), TAG_SEQUENCE, &seq) != 0
        || !der_at_end(cur))
        return N8443_TOK_MALFORMED;

    if (der_next_is(&seq, TAG_CTX(0))) {
        /* accept-completed(0) .. request-mic(3) */
        if (der_take_explicit(&seq, TAG_CTX(0), TAG_ENUMERATED, &val) != 0
            || der_int32_value(&val, &neg_state) != 0 || neg_state < 0
            || neg_state > 3)
            return N8443_TOK_MALFORMED;
    }
    if (der_next_is(&seq, TAG_CTX(1))) {
        if (der_take_explicit(&seq, TAG_CTX(1), TAG_OID, &val) != 0
            || der_oid_ok(&val) != 0)
            return N8443_TOK_MALFORMED;
        mech = mech_of_oid(&val);
    }
    if (der_next_is(&seq, TAG_CTX(2))) {
        if (der_take_explicit(&seq, TAG_CTX(2), TAG_OCTET_STRING, &response)
            != 0)
            return N8443_TOK_MALFORMED;
    }
    else {
        response.p = response.end = NULL;
    }
    if (der_next_is(&seq, TAG_CTX(3))) {
        if (der_take_explicit(&seq, TAG_CTX(3), TAG_OCTET_STRING, &val) != 0)
            return N8443_TOK_MALFORMED;
    }
    if (!der_at_end(&seq))
        return N8443_TOK_MALFORMED;

    if (response.p == NULL)
        return N8443_TOK_NO_MECH_TOKEN;
    return walk_mech_token(&response, mech, info);
}

/* The outer [APPLICATION 0] token: SPNEGO or a raw krb5 token.  Outside
 * SPNEGO only the RFC 1964 OID is krb5; anything else is another mech. */
static n8443_tok_status walk_gss_framed(der_cursor *cur, n8443_apreq_info *info)
{
    der_cursor framed, oid;

    if (der_take(cur, TAG_GSS_FRAMING, &framed) != 0 || !der_at_end(cur))
        return N8443_TOK_MALFORMED;
    if (der_take(&framed, TAG_OID, &oid) != 0 || der_oid_ok(&oid) != 0)
        return N8443_TOK_MALFORMED;

    if (oid_is(&oid, oid_spnego, sizeof(oid_spnego))) {
        info->framing = N8443_FRAME_SPNEGO_INIT;
        return walk_neg_token_init(&framed, info);
    }
    if (oid_is(&oid, oid_krb5, sizeof(oid_krb5))) {
        info->framing = N8443_FRAME_GSS_KRB5;
        info->mech_oid.data = info->token_oid.data = oid.p;
        info->mech_oid.len = info->token_oid.len = (size_t)(oid.end - oid.p);
        return walk_krb5_inner(&framed, info);
    }
    return N8443_TOK_OTHER_MECH;
}

n8443_tok_status n8443_token_walk(const unsigned char *tok, size_t len,
                                  n8443_apreq_info *info)
{
    n8443_apreq_info found;
    n8443_tok_status st;
    der_cursor cur;
    int noncanonical = 0;

    memset(&found, 0, sizeof(found));
    found.ticket_kvno = -1;

    if (tok == NULL || len < 2) {
        st = N8443_TOK_MALFORMED;
        goto cleanup;
    }
    cur.p = tok;
    cur.end = tok + len;
    cur.noncanonical = &noncanonical;

    if (is_ntlmssp(&cur)) {
        st = N8443_TOK_NTLM;
    }
    else if (der_next_is(&cur, TAG_GSS_FRAMING)) {
        st = walk_gss_framed(&cur, &found);
    }
    else if (der_next_is(&cur, TAG_CTX(1))) {
        found.framing = N8443_FRAME_SPNEGO_RESP;
        st = walk_neg_token_resp(&cur, &found);
    }
    else {
        st = N8443_TOK_MALFORMED;
    }

cleanup:
    found.der_canonical = !noncanonical;
    if (info != NULL) {
        if (st == N8443_TOK_KRB5)
            *info = found;
        else
            memset(info, 0, sizeof(*info));
    }
    return st;
}

n8443_tok_status n8443_apreq_walk(const unsigned char *apreq, size_t len,
                                  n8443_apreq_info *info)
{
    n8443_apreq_info found;
    n8443_tok_status st = N8443_TOK_MALFORMED;
    der_cursor cur;
    int noncanonical = 0;

    memset(&found, 0, sizeof(found));
    found.ticket_kvno = -1;
    if (apreq != NULL && len >= 2) {
        cur.p = apreq;
        cur.end = apreq + len;
        cur.noncanonical = &noncanonical;
        st = walk_ap_req(&cur, &found);
    }
    found.der_canonical = !noncanonical;
    if (info != NULL) {
        if (st == N8443_TOK_KRB5)
            *info = found;
        else
            memset(info, 0, sizeof(*info));
    }
    return st;
}

const char *n8443_tok_status_str(n8443_tok_status st)
{
    switch (st) {
    case N8443_TOK_KRB5: return "krb5";
    case N8443_TOK_MALFORMED: return "malformed";
    case N8443_TOK_NTLM: return "ntlm";
    case N8443_TOK_OTHER_MECH: return "other-mech";
    case N8443_TOK_NO_MECH_TOKEN: return "no-mech-token";
    }
    return "unknown";
}

/* Append bytes to buf at *pos, each non-printable byte as '?' so that a
 * hostile name cannot forge log lines.  -1 when it would not fit with the
 * terminating NUL. */
static int append_printable(char *buf, size_t bufsize, size_t *pos,
                            const unsigned char *src, size_t len)
{
    size_t i;

    if (len >= bufsize - *pos)
        return -1;
    for (i = 0; i < len; i++)
        buf[(*pos)++] = (src[i] >= 0x20 && src[i] < 0x7f) ? (char)src[i] : '?';
    return 0;
}

size_t n8443_apreq_principal(const n8443_apreq_info *info, char *buf,
                             size_t bufsize)
{
    static const unsigned char slash[] = "/", at[] = "@";
    size_t pos = 0;
    int i;

    if (info == NULL || buf == NULL || bufsize == 0)
        return 0;
    buf[0] = '\0';
    if (info->sname_count < 1 || info->sname_count > N8443_MAX_SNAME_PARTS)
        return 0;
    for (i = 0; i < info->sname_count; i++) {
        if (i > 0 && append_printable(buf, bufsize, &pos, slash, 1) != 0)
            goto cleanup;
        if (append_printable(buf, bufsize, &pos, info->sname[i].data,
                             info->sname[i].len)
            != 0)
            goto cleanup;
    }
    if (append_printable(buf, bufsize, &pos, at, 1) != 0
        || append_printable(buf, bufsize, &pos, info->realm.data,
                            info->realm.len)
               != 0)
        goto cleanup;
    buf[pos] = '\0';
    return pos;

cleanup:
    buf[0] = '\0';
    return 0;
}
