/*
 * krb5_accept.c - a plain Kerberos login without GSS-API's layers (see
 * krb5_accept.h for what is handled here and what is left to GSS-API).
 *
 * What GSS-API's krb5 acceptor adds to krb5_rd_req, and how it is done
 * here (RFC 4121 4.1.1; MIT's behaviour for the same inputs):
 *   - the authenticator checksum must be the GSS one (0x8003) with the
 *     16-byte channel-binding hash and the flags, and nothing after them
 *     (no delegated ticket, no extensions), and not ask for DCE style;
 *   - the channel-binding hash is MD5 over the bindings' RFC 1964
 *     encoding (kg_checksum_channel_bindings), in either address-free
 *     form (GSS_C_AF_UNSPEC or GSS_C_AF_NULLADDR, as n8443_accept_once
 *     tries both); all zeros means the client bound nothing (accepted,
 *     not bound); a different hash is left to GSS-API to refuse;
 *   - with mutual authentication (the GSS flag, which the AP options must
 *     agree with) the answer is an AP-REP with a sequence
 *     number, in the krb5 GSS header, and (for SPNEGO) in a NegTokenResp
 *     that completes the exchange and names the client's first mechanism,
 *     with no mechListMIC: the optimistic token of the preferred mechanism
 *     needs none (RFC 4178 5), and MIT sends none either.
 * No acceptor subkey is made (the AP-REP carries the client's own subkey
 * back, as krb5_mk_rep does): RFC 4121 makes one optional, and no message
 * protected by it follows an HTTP login.
 */
#include <stdlib.h>
#include <string.h>

#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

#include "krb5_accept.h"
#include "channel_binding.h"
#include "oids.h"

/* RFC 4121 4.1.1 */
#define GSS_CHECKSUM_TYPE     0x8003
#define GSS_CHECKSUM_LEN      24
#define GSS_BINDINGS_HASH_LEN 16

/* MS-KILE: the client supports channel binding (AP options authdata) */
#define KERB_AP_OPTIONS_CBT 0x4000

/* The initiator's flags MIT's acceptor keeps (accept_sec_context.c) */
#define INITIATOR_FLAGS                                                        \
    (GSS_C_INTEG_FLAG | GSS_C_CONF_FLAG | GSS_C_MUTUAL_FLAG                    \
     | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_DCE_STYLE               \
     | GSS_C_IDENTIFY_FLAG | GSS_C_EXTENDED_ERROR_FLAG)

static const unsigned char oid_krb5[] = {N8443_OID_KRB5};
static const unsigned char oid_krb5_ms[] = {N8443_OID_KRB5_MS};

static int bytes_are(const n8443_bytes *b, const unsigned char *v, size_t len)
{
    return b->len == len && memcmp(b->data, v, len) == 0;
}

static uint32_t load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
           | (uint32_t)p[3] << 24;
}

static unsigned char *store_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
    return p + 4;
}

/* Only what the path can answer exactly as GSS-API would. */
static int token_is_plain(const n8443_apreq_info *info)
{
    /* Encodings MIT's GSS headers and SPNEGO parser refuse (a long-form
     * OID length, reqFlags in another form) are not taken here; nor any
     * other non-minimal DER, which no real client sends. */
    if (!info->der_canonical || info->req_flags == N8443_REQFLAGS_OTHER)
        return 0;
    if (!bytes_are(&info->token_oid, oid_krb5, sizeof(oid_krb5)))
        return 0;
    if (info->framing == N8443_FRAME_GSS_KRB5)
        return 1;
    return info->framing == N8443_FRAME_SPNEGO_INIT && !info->spnego_mic
           && (bytes_are(&info->mech_oid, oid_krb5, sizeof(oid_krb5))
               || bytes_are(&info->mech_oid, oid_krb5_ms, sizeof(oid_krb5_ms)));
}

/*
 * MIT decrypts an authenticator whose etype field is ENCTYPE_UNKNOWN with
 * the session key, as if it said the session key's enctype; but GSS-API
 * then stores the authenticator in its replay cache (also "none:"), whose
 * tag is the checksum at the cipher's end, and for an etype without a
 * checksum length that fails: GSS-API refuses the token.  So only the
 * session key's own enctype, and a cipher long enough to hold the tag.
 */
static int authenticator_etype_ok(krb5_context ctx,
                                  const n8443_apreq_info *info,
                                  const krb5_ticket *ticket)
{
    unsigned int cksum_len;

    if (ticket->enc_part2 == NULL || ticket->enc_part2->session == NULL
        || info->authenticator_etype != ticket->enc_part2->session->enctype)
        return 0;
    if (krb5_c_crypto_length(ctx, info->authenticator_etype,
                             KRB5_CRYPTO_TYPE_CHECKSUM, &cksum_len)
        != 0)
        return 0;
    return info->authenticator.len >= cksum_len;
}

/*
 * MIT's check_cbt (accept_sec_context.c): AD-AUTH-DATA-AP-OPTIONS (143)
 * anywhere in the authenticator's authorization data (krb5_find_authdata
 * looks inside AD-IF-RELEVANT, as MIT does).  1: the client asserts
 * KERB_AP_OPTIONS_CBT; 0: it does not; -1: MIT refuses the token (more
 * than one element, or not four octets), or the search failed.
 */
static int authenticator_cbt(krb5_context ctx, const krb5_authenticator *auth)
{
    krb5_authdata **ad = NULL;
    int ret;

    if (auth->authorization_data == NULL || auth->authorization_data[0] == NULL)
        return 0;
    if (krb5_find_authdata(ctx, NULL, auth->authorization_data,
                           KRB5_AUTHDATA_AP_OPTIONS, &ad)
        != 0)
        return -1;
    if (ad == NULL)
        return 0;
    if (ad[1] != NULL || ad[0]->length != 4)
        ret = -1;
    else
        ret = (load_le32(ad[0]->contents) & KERB_AP_OPTIONS_CBT) != 0;
    krb5_free_authdata(ctx, ad);
    return ret;
}

/*
 * MIT's kg_checksum_channel_bindings: MD5 over the RFC 1964 encoding of
 * cb, with both address types replaced by addrtype.  0, or -1.
 */
static int bindings_hash(krb5_context ctx, gss_channel_bindings_t cb,
                         uint32_t addrtype,
                         unsigned char out[GSS_BINDINGS_HASH_LEN])
{
    unsigned char *buf, *p;
    size_t len;
    krb5_data data;
    krb5_checksum sum;
    int ret = -1;

    if (cb->initiator_address.length > 0xffff
        || cb->acceptor_address.length > 0xffff
        || cb->application_data.length > 0xffff)
        return -1;
    len = 5 * 4 + cb->initiator_address.length + cb->acceptor_address.length
          + cb->application_data.length;
    buf = malloc(len);
    if (buf == NULL)
        return -1;
    p = store_le32(buf, addrtype);
    p = store_le32(p, (uint32_t)cb->initiator_address.length);
    if (cb->initiator_address.length > 0)
        memcpy(p, cb->initiator_address.value, cb->initiator_address.length);
    p += cb->initiator_address.length;
    p = store_le32(p, addrtype);
    p = store_le32(p, (uint32_t)cb->acceptor_address.length);
    if (cb->acceptor_address.length > 0)
        memcpy(p, cb->acceptor_address.value, cb->acceptor_address.length);
    p += cb->acceptor_address.length;
    p = store_le32(p, (uint32_t)cb->application_data.length);
    if (cb->application_data.length > 0)
        memcpy(p, cb->application_data.value, cb->application_data.length);

    data.magic = 0;
    data.length = (unsigned int)len;
    data.data = (char *)buf;
    if (krb5_c_make_checksum(ctx, CKSUMTYPE_RSA_MD5, NULL, 0, &data, &sum)
        == 0) {
        if (sum.length == GSS_BINDINGS_HASH_LEN) {
            memcpy(out, sum.contents, GSS_BINDINGS_HASH_LEN);
            ret = 0;
        }
        krb5_free_checksum_contents(ctx, &sum);
    }
    free(buf);
    return ret;
}

int n8443_cb_hash_form(krb5_context ctx, const unsigned char *hash,
                       gss_channel_bindings_t cb, OM_uint32 *addrtype,
                       unsigned char expected[2][16])
{
    static const unsigned char zero[GSS_BINDINGS_HASH_LEN];
    unsigned char ours[GSS_BINDINGS_HASH_LEN];
    uint32_t types[2];
    long other;
    int i;

    if (cb == NULL || memcmp(hash, zero, sizeof(zero)) == 0)
        return 0;
    /* Addresses turn MIT's check into one against the ticket's addresses
     * as well: not done here.  Address-free bindings in either form, as
     * GSS-API with n8443_accept_once's second try. */
    other = n8443_cb_other_addrtype(
        cb->initiator_addrtype, cb->acceptor_addrtype,
        cb->initiator_address.length, cb->acceptor_address.length);
    if (other < 0)
        return -1;
    types[0] = cb->initiator_addrtype;
    types[1] = (uint32_t)other;
    for (i = 0; i < 2; i++) {
        if (bindings_hash(ctx, cb, types[i], ours) != 0)
            return -1;
        if (expected != NULL)
            memcpy(expected[i], ours, GSS_BINDINGS_HASH_LEN);
        if (memcmp(ours, hash, GSS_BINDINGS_HASH_LEN) == 0) {
            if (addrtype != NULL)
                *addrtype = types[i];
            return 1;
        }
    }
    return -1;
}

/* ------------------------------------------------------- the answer, DER */

static size_t der_len_size(size_t n)
{
    return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 4;
}

static size_t der_size(size_t content)
{
    return 1 + der_len_size(content) + content;
}

static unsigned char *der_put_header(unsigned char *p, unsigned char tag,
                                     size_t n)
{
    *p++ = tag;
    if (n < 0x80) {
        *p++ = (unsigned char)n;
    }
    else if (n < 0x100) {
        *p++ = 0x81;
        *p++ = (unsigned char)n;
    }
    else if (n < 0x10000) {
        *p++ = 0x82;
        *p++ = (unsigned char)(n >> 8);
        *p++ = (unsigned char)n;
    }
    else {
        *p++ = 0x83;
        *p++ = (unsigned char)(n >> 16);
        *p++ = (unsigned char)(n >> 8);
        *p++ = (unsigned char)n;
    }
    return p;
}

/*
 * The token for the client: [APPLICATION 0] { krb5 OID, 02 00, AP-REP }
 * when rep is non-NULL, and for SPNEGO around it (or alone, when there is
 * no AP-REP):
 *   [1] SEQUENCE { [0] ENUMERATED accept-completed, [1] mech OID,
 *                  [2] OCTET STRING krb5 token (if any) }
 * Written into a malloc'd buffer; 0, or -1 when out of memory.
 */
static int build_answer(const n8443_apreq_info *info, const krb5_data *rep,
                        gss_buffer_t out)
{
    size_t gss_inner = 0, gss_len = 0, seq = 0, neg_state, mech, resp = 0;
    size_t total;
    unsigned char *buf, *p;
    int spnego = info->framing == N8443_FRAME_SPNEGO_INIT;

    out->length = 0;
    out->value = NULL;
    if (rep != NULL) {
        gss_inner = der_size(sizeof(oid_krb5)) + 2 + rep->length;
        gss_len = der_size(gss_inner);
    }
    if (!spnego) {
        if (rep == NULL)
            return 0;
        total = gss_len;
    }
    else {
        neg_state = der_size(der_size(1));
        mech = der_size(der_size(info->mech_oid.len));
        if (rep != NULL)
            resp = der_size(der_size(gss_len));
        seq = neg_state + mech + resp;
        total = der_size(der_size(seq));
    }
    if (total > 0xffffff)
        return -1;
    buf = malloc(total);
    if (buf == NULL)
        return -1;

    p = buf;
    if (spnego) {
        p = der_put_header(p, 0xa1, der_size(seq));
        p = der_put_header(p, 0x30, seq);
        p = der_put_header(p, 0xa0, der_size(1));
        p = der_put_header(p, 0x0a, 1);
        *p++ = 0; /* accept-completed */
        p = der_put_header(p, 0xa1, der_size(info->mech_oid.len));
        p = der_put_header(p, 0x06, info->mech_oid.len);
        memcpy(p, info->mech_oid.data, info->mech_oid.len);
        p += info->mech_oid.len;
        if (rep != NULL) {
            p = der_put_header(p, 0xa2, der_size(gss_len));
            p = der_put_header(p, 0x04, gss_len);
        }
    }
    if (rep != NULL) {
        p = der_put_header(p, 0x60, gss_inner);
        p = der_put_header(p, 0x06, sizeof(oid_krb5));
        memcpy(p, oid_krb5, sizeof(oid_krb5));
        p += sizeof(oid_krb5);
        *p++ = 0x02; /* TOK_ID: AP-REP */
        *p++ = 0x00;
        memcpy(p, rep->data, rep->length);
        p += rep->length;
    }
    out->value = buf;
    out->length = (size_t)(p - buf);
    return 0;
}

/* The authenticator's ctime and cusec in microseconds (krb5 timestamps
 * are unsigned 32-bit: MIT's ts2tt). */
static long long auth_stamp(const krb5_authenticator *auth)
{
    if (auth->cusec < 0 || auth->cusec > 999999)
        return 0;
    return (long long)(uint32_t)auth->ctime * 1000000LL + auth->cusec;
}

long long n8443_krb5_stamp(krb5_context ctx, krb5_keytab kt,
                           krb5_const_principal server,
                           const n8443_apreq_info *info)
{
    krb5_auth_context ac = NULL;
    krb5_authenticator *auth = NULL;
    krb5_ticket *ticket = NULL;
    krb5_data req;
    long long stamp = 0;

    if (ctx == NULL || kt == NULL || info == NULL || info->apreq.len == 0
        || info->apreq.len > 0x7fffffff)
        return 0;
    /* No flags: no DO_TIME, so krb5 opens no replay cache. */
    if (krb5_auth_con_init(ctx, &ac) != 0
        || krb5_auth_con_setflags(ctx, ac, 0) != 0)
        goto cleanup;
    req.magic = 0;
    req.length = (unsigned int)info->apreq.len;
    req.data = (char *)info->apreq.data;
    if (krb5_rd_req(ctx, &ac, &req, server, kt, NULL, &ticket) != 0)
        goto cleanup;
    if (krb5_auth_con_getauthenticator(ctx, ac, &auth) != 0)
        goto cleanup;
    stamp = auth_stamp(auth);

cleanup:
    if (auth != NULL)
        krb5_free_authenticator(ctx, auth);
    if (ticket != NULL)
        krb5_free_ticket(ctx, ticket);
    if (ac != NULL)
        krb5_auth_con_free(ctx, ac);
    return stamp;
}

n8443_kacc_status n8443_krb5_accept(krb5_context ctx, krb5_keytab kt,
                                    krb5_const_principal server,
                                    const n8443_apreq_info *info,
                                    gss_channel_bindings_t cb, krb5_deltat skew,
                                    n8443_accept_result *res)
{
    krb5_auth_context ac = NULL;
    krb5_authenticator *auth = NULL;
    krb5_ticket *ticket = NULL;
    krb5_flags ap_options = 0;
    krb5_data req, rep = {0, 0, NULL};
    krb5_timestamp now;
    const krb5_checksum *sum;
    uint32_t flags;
    char *name = NULL;
    int bound, mutual, cbt;
    n8443_kacc_status st = N8443_KACC_DEFER;

    memset(res, 0, sizeof(*res));
    res->delegated = GSS_C_NO_CREDENTIAL;
    if (ctx == NULL || kt == NULL || info == NULL || !token_is_plain(info)
        || info->apreq.len > 0x7fffffff)
        return N8443_KACC_DEFER;

    if (krb5_auth_con_init(ctx, &ac) != 0)
        goto cleanup;
    /* DO_SEQUENCE for the AP-REP's sequence number, as GSS-API sends;
     * no DO_TIME, so krb5 opens no replay cache (the caller has its own). */
    if (krb5_auth_con_setflags(ctx, ac, KRB5_AUTH_CONTEXT_DO_SEQUENCE) != 0)
        goto cleanup;
    req.magic = 0;
    req.length = (unsigned int)info->apreq.len;
    req.data = (char *)info->apreq.data;
    if (krb5_rd_req(ctx, &ac, &req, server, kt, &ap_options, &ticket) != 0)
        goto cleanup;
    if (!authenticator_etype_ok(ctx, info, ticket))
        goto cleanup;
    if (krb5_auth_con_getauthenticator(ctx, ac, &auth) != 0)
        goto cleanup;

    /* Authorization data in the authenticator (Windows and Heimdal send
     * etype negotiation, restriction entries, KERB-LOCAL, AP options):
     * krb5_rd_req has processed it as for GSS-API; what MIT's GSS layer
     * adds is its check_cbt, done here the same way. */
    cbt = authenticator_cbt(ctx, auth);
    if (cbt < 0)
        goto cleanup;
    sum = auth->checksum;
    if (sum == NULL || sum->checksum_type != GSS_CHECKSUM_TYPE
        || sum->length != GSS_CHECKSUM_LEN
        || load_le32(sum->contents) != GSS_BINDINGS_HASH_LEN)
        goto cleanup;
    flags = load_le32(sum->contents + 4 + GSS_BINDINGS_HASH_LEN);
    /* A delegated ticket follows the flags; DCE style wants more legs. */
    if (flags & (GSS_C_DELEG_FLAG | GSS_C_DCE_STYLE))
        goto cleanup;
    /* An anonymous client is GSS-API's to name (GSS_C_ANON_FLAG). */
    if (krb5_principal_compare_any_realm(ctx, ticket->enc_part2->client,
                                         krb5_anonymous_principal()))
        goto cleanup;
    bound =
        n8443_cb_hash_form(ctx, sum->contents + 4, cb, &res->cb_addrtype, NULL);
    if (bound < 0)
        goto cleanup;
    /* The client said it binds (KERB_AP_OPTIONS_CBT): MIT then requires
     * matching bindings when the acceptor has any. */
    if (cbt && cb != NULL && bound != 1)
        goto cleanup;

    /* MIT answers with an AP-REP when the GSS flags ask for mutual
     * authentication; a client whose AP options say otherwise is left to
     * it. */
    mutual = (flags & GSS_C_MUTUAL_FLAG) != 0;
    if (mutual != ((ap_options & AP_OPTS_MUTUAL_REQUIRED) != 0))
        goto cleanup;
    /* Authentication indicators come in a CAMMAC, which MIT's authdata
     * plugins verify: GSS-API's to read.  The PAC is verified here as
     * MIT's mspac plugin does (claims.c). */
    if (n8443_ticket_has_cammac(ctx, ticket)
        || n8443_claims_from_ticket(ctx, kt, ticket, &res->claims) != 0)
        goto cleanup;
    if (krb5_timeofday(ctx, &now) != 0)
        goto cleanup;
    if (mutual && krb5_mk_rep(ctx, ac, &rep) != 0)
        goto cleanup;
    if (krb5_unparse_name(ctx, ticket->enc_part2->client, &name) != 0)
        goto cleanup;
    res->principal = strdup(name);
    if (res->principal == NULL
        || build_answer(info, mutual ? &rep : NULL, &res->output) != 0)
        goto cleanup;
    res->output_malloced = 1;

    /* krb5 timestamps are unsigned 32-bit and wrap (MIT's ts_delta);
     * MIT adds the clock skew as a grace period and hands the sum out as
     * an OM_uint32, so an end more than 2^31 s away is still a long
     * lifetime: the same sum in unsigned arithmetic (krb5_rd_req took a
     * ticket up to skew seconds past its end, so it does not go below
     * zero). */
    res->lifetime = (OM_uint32)((uint32_t)ticket->enc_part2->times.endtime
                                - (uint32_t)now + (uint32_t)skew);
    res->stamp = auth_stamp(auth);
    res->major = GSS_S_COMPLETE;
    res->mech = (gss_OID)gss_mech_krb5;
    /* MIT's flags: the initiator's that it keeps, TRANS always,
     * CHANNEL_BOUND for matching bindings, PROT_READY with an AP-REP,
     * which SPNEGO then clears. */
    res->ret_flags = (flags & INITIATOR_FLAGS) | GSS_C_TRANS_FLAG
                     | (bound ? GSS_C_CHANNEL_BOUND_FLAG : 0)
                     | (mutual && info->framing == N8443_FRAME_GSS_KRB5
                            ? GSS_C_PROT_READY_FLAG
                            : 0);
    st = N8443_KACC_ACCEPTED;

cleanup:
    if (st != N8443_KACC_ACCEPTED) {
        free(res->principal);
        free(res->output.value);
        n8443_claims_clear(&res->claims);
        memset(res, 0, sizeof(*res));
        res->delegated = GSS_C_NO_CREDENTIAL;
    }
    if (name != NULL)
        krb5_free_unparsed_name(ctx, name);
    if (rep.data != NULL)
        krb5_free_data_contents(ctx, &rep);
    if (auth != NULL)
        krb5_free_authenticator(ctx, auth);
    if (ticket != NULL)
        krb5_free_ticket(ctx, ticket);
    if (ac != NULL)
        krb5_auth_con_free(ctx, ac);
    return st;
}
