/*
 * acceptor.c - the GSS-API acceptor step, without httpd.
 *
 * Keys are named through gss_acquire_cred_from()'s credential store, so
 * that each vhost can have its own keytab and replay cache without touching
 * the process environment (KRB5_KTNAME is process-wide and not thread-safe
 * to change).
 */
#include "acceptor.h"
#include "channel_binding.h"
#include "krb5_accept.h"
#include "token_walk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5/krb5.h>
#include <com_err.h>

const char *n8443_cause_name(n8443_cause cause)
{
    switch (cause) {
    case N8443_CAUSE_NONE: return "none";
    case N8443_CAUSE_REPLAY: return "replay";
    case N8443_CAUSE_SKEW: return "skew";
    case N8443_CAUSE_WRONG_PRINCIPAL: return "wrong_principal";
    case N8443_CAUSE_BAD_BINDINGS: return "bad_bindings";
    case N8443_CAUSE_NTLM: return "ntlm";
    case N8443_CAUSE_MALFORMED: return "malformed";
    case N8443_CAUSE_EXPIRED: return "expired";
    case N8443_CAUSE_OTHER: return "other";
    case N8443_CAUSE_ETYPE: return "etype";
    case N8443_CAUSE_ANONYMOUS: return "anonymous";
    case N8443_CAUSE_FORGOTTEN: return "replay_cache_lost";
    }
    return "other";
}

/* Append the text of one kind of GSS status to buf. */
static void append_status(OM_uint32 code, int type, char *buf, size_t buflen)
{
    OM_uint32 maj, min, ctx = 0;
    gss_buffer_desc msg = GSS_C_EMPTY_BUFFER;
    size_t used;

    do {
        maj = gss_display_status(&min, code, type, GSS_C_NO_OID, &ctx, &msg);
        if (GSS_ERROR(maj))
            return;
        used = strlen(buf);
        if (used + 3 < buflen)
            snprintf(buf + used, buflen - used, "%s%.*s", used ? ": " : "",
                     (int)msg.length, (char *)msg.value);
        gss_release_buffer(&min, &msg);
    } while (ctx != 0);
}

void n8443_gss_error_text(OM_uint32 major, OM_uint32 minor, char *buf,
                          size_t buflen)
{
    if (buflen == 0)
        return;
    buf[0] = '\0';
    append_status(major, GSS_C_GSS_CODE, buf, buflen);
    if (minor != 0)
        append_status(minor, GSS_C_MECH_CODE, buf, buflen);
}

int n8443_acceptor_acquire(const n8443_acceptor_opts *opts,
                           gss_cred_id_t *cred_out, char *err, size_t errlen)
{
    gss_key_value_element_desc elements[4];
    gss_key_value_set_desc store = {0, elements};
    gss_buffer_desc namebuf;
    gss_name_t name = GSS_C_NO_NAME;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    OM_uint32 maj, min, tmp;
    char text[512];
    int ret = -1;

    if (opts->keytab != NULL) {
        elements[store.count].key = "keytab";
        elements[store.count].value = opts->keytab;
        store.count++;
    }
    if (opts->rcache != NULL) {
        elements[store.count].key = "rcache";
        elements[store.count].value = opts->rcache;
        store.count++;
    }

    if (opts->s4u_ccache != NULL) {
        /* The service's own keys get it a TGT for S4U2Proxy (MIT asks
         * the KDC for it while accepting, when it builds the proxy
         * credential). */
        if (opts->keytab != NULL) {
            elements[store.count].key = "client_keytab";
            elements[store.count].value = opts->keytab;
            store.count++;
        }
        elements[store.count].key = "ccache";
        elements[store.count].value = opts->s4u_ccache;
        store.count++;
    }

    if (opts->principal != NULL) {
        /* A principal name, not a host-based service: "HTTP/host" without a
         * realm means the default realm, exactly as kvno and klist read it. */
        namebuf.value = (void *)opts->principal;
        namebuf.length = strlen(opts->principal);
        maj =
            gss_import_name(&min, &namebuf, GSS_KRB5_NT_PRINCIPAL_NAME, &name);
        if (GSS_ERROR(maj)) {
            n8443_gss_error_text(maj, min, text, sizeof(text));
            snprintf(err, errlen, "cannot parse service principal '%s': %s",
                     opts->principal, text);
            goto cleanup;
        }
    }

    maj = gss_acquire_cred_from(&min, name, GSS_C_INDEFINITE, GSS_C_NO_OID_SET,
                                opts->s4u_ccache ? GSS_C_BOTH : GSS_C_ACCEPT,
                                store.count ? &store : GSS_C_NO_CRED_STORE,
                                &cred, NULL, NULL);
    if (GSS_ERROR(maj)) {
        n8443_gss_error_text(maj, min, text, sizeof(text));
        snprintf(err, errlen,
                 "cannot get acceptor credentials for %s from "
                 "keytab %s: %s",
                 opts->principal ? opts->principal : "any principal",
                 opts->keytab ? opts->keytab : "(default)", text);
        goto cleanup;
    }
    *cred_out = cred;
    ret = 0;

cleanup:
    if (name != GSS_C_NO_NAME)
        gss_release_name(&tmp, &name);
    return ret;
}

static int accept_step(gss_cred_id_t cred, const void *token, size_t len,
                       gss_channel_bindings_t cb, n8443_accept_result *res)
{
    gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
    gss_buffer_desc input;
    gss_name_t client = GSS_C_NO_NAME;
    gss_buffer_desc display = GSS_C_EMPTY_BUFFER;
    OM_uint32 tmp;
    int ret = -1;

    memset(res, 0, sizeof(*res));
    res->delegated = GSS_C_NO_CREDENTIAL;
    input.value = (void *)token;
    input.length = len;

    res->major = gss_accept_sec_context(
        &res->minor, &ctx, cred, &input, cb, &client, &res->mech, &res->output,
        &res->ret_flags, &res->lifetime, &res->delegated);
    if (GSS_ERROR(res->major))
        goto cleanup;
    if (res->major & GSS_S_CONTINUE_NEEDED) {
        ret = 1;
        goto cleanup;
    }

    res->major = gss_display_name(&res->minor, client, &display, NULL);
    if (GSS_ERROR(res->major))
        goto cleanup;
    res->principal = malloc(display.length + 1);
    if (res->principal == NULL) {
        res->major = GSS_S_FAILURE;
        goto cleanup;
    }
    memcpy(res->principal, display.value, display.length);
    res->principal[display.length] = '\0';
    /* What the ticket says beyond the name, as MIT vouches for it. */
    n8443_claims_from_name(client, &res->claims);
    ret = 0;

cleanup:
    /* The module keeps no state between requests: the exchange is one leg
     * for Kerberos, so the context is done with either way. */
    if (ctx != GSS_C_NO_CONTEXT)
        gss_delete_sec_context(&tmp, &ctx, GSS_C_NO_BUFFER);
    if (client != GSS_C_NO_NAME)
        gss_release_name(&tmp, &client);
    if (display.value != NULL)
        gss_release_buffer(&tmp, &display);
    return ret;
}

/*
 * MIT compares the client's hash with the hash of exactly the bindings it
 * is given (kg_checksum_channel_bindings, process_checksum), so a client
 * that hashed the same application data with the other address type
 * (GSS_C_AF_NULLADDR for GSS_C_AF_UNSPEC: JGSS, some Heimdal callers) is
 * GSS_S_BAD_BINDINGS to it.  Such a refusal, and only it, is tried once
 * more on a fresh context with the other form: a full accept again, so
 * nothing of the first try is trusted; both forms carry the same
 * certificate hash, so either binds the login to the same channel.
 * Where MIT keeps a replay cache (NegotiateReplayCache krb5, GSS-Proxy)
 * the second try is a replay of the first and is refused: the first
 * refusal is reported, with the second's status in retry_major/minor.
 */
int n8443_accept_once(gss_cred_id_t cred, const void *token, size_t len,
                      gss_channel_bindings_t cb, n8443_accept_result *res)
{
    struct gss_channel_bindings_struct other;
    n8443_accept_result second;
    long other_type;
    int ret;

    ret = accept_step(cred, token, len, cb, res);
    if (cb != GSS_C_NO_CHANNEL_BINDINGS)
        res->cb_addrtype = cb->initiator_addrtype;
    if (ret >= 0 || cb == GSS_C_NO_CHANNEL_BINDINGS
        || GSS_ROUTINE_ERROR(res->major) != GSS_S_BAD_BINDINGS)
        return ret;
    other_type = n8443_cb_other_addrtype(
        cb->initiator_addrtype, cb->acceptor_addrtype,
        cb->initiator_address.length, cb->acceptor_address.length);
    if (other_type < 0)
        return ret;
    other = *cb;
    other.initiator_addrtype = (OM_uint32)other_type;
    other.acceptor_addrtype = (OM_uint32)other_type;
    ret = accept_step(cred, token, len, &other, &second);
    second.cb_addrtype = (OM_uint32)other_type;
    if (ret >= 0 || GSS_ROUTINE_ERROR(second.major) == GSS_S_BAD_BINDINGS) {
        n8443_accept_result_clear(res);
        *res = second;
        res->cb_tried_both = 1;
        return ret;
    }
    /* The second form could not be checked: the first refusal stands. */
    res->cb_tried_both = 1;
    res->retry_major = second.major;
    res->retry_minor = second.minor;
    n8443_accept_result_clear(&second);
    return -1;
}

void n8443_accept_result_clear(n8443_accept_result *res)
{
    OM_uint32 tmp;

    if (res->output_malloced)
        free(res->output.value);
    else if (res->output.value != NULL)
        gss_release_buffer(&tmp, &res->output);
    res->output.value = NULL;
    res->output.length = 0;
    res->output_malloced = 0;
    if (res->delegated != GSS_C_NO_CREDENTIAL)
        gss_release_cred(&tmp, &res->delegated);
    free(res->principal);
    res->principal = NULL;
    n8443_claims_clear(&res->claims);
}

static void hex16(const unsigned char *h, char out[33])
{
    static const char digits[] = "0123456789abcdef";
    int i;

    for (i = 0; i < 16; i++) {
        out[2 * i] = digits[h[i] >> 4];
        out[2 * i + 1] = digits[h[i] & 15];
    }
    out[32] = '\0';
}

/* The client's binding hash in an authenticator's 0x8003 checksum, and
 * what it is next to ours (cb), in words. */
static void describe_hash(krb5_context ctx, const krb5_authenticator *auth,
                          gss_channel_bindings_t cb, char *text, size_t textlen)
{
    const krb5_checksum *sum = auth->checksum;
    unsigned char expected[2][16];
    char seen[33], e0[33], e1[33];
    OM_uint32 form = 0;

    if (sum == NULL || sum->checksum_type != 0x8003 || sum->length < 24) {
        snprintf(text, textlen,
                 "the client's authenticator has no GSS "
                 "checksum (no bindings hash)");
        return;
    }
    hex16(sum->contents + 4, seen);
    memset(expected, 0, sizeof(expected));
    switch (n8443_cb_hash_form(ctx, sum->contents + 4, cb, &form, expected)) {
    case 0:
        snprintf(text, textlen,
                 "the client sent no binding (all-zero "
                 "hash) but says it binds (KERB_AP_OPTIONS_CBT)");
        break;
    case 1:
        snprintf(text, textlen,
                 "the client's hash %s is ours in the %s "
                 "form",
                 seen, n8443_cb_addrtype_name(form));
        break;
    default:
        hex16(expected[0], e0);
        hex16(expected[1], e1);
        snprintf(text, textlen,
                 "the client's hash %s is neither ours as "
                 "%s (%s) nor as %s (%s): it bound to another TLS channel "
                 "or certificate",
                 seen, n8443_cb_addrtype_name(cb->initiator_addrtype), e0,
                 n8443_cb_addrtype_name(cb->initiator_addrtype
                                                == N8443_BINDING_AF_UNSPEC
                                            ? N8443_BINDING_AF_NULLADDR
                                            : N8443_BINDING_AF_UNSPEC),
                 e1);
        break;
    }
}

int n8443_diagnose_bindings(const char *keytab, const char *principal,
                            const void *apreq, size_t len,
                            gss_channel_bindings_t cb, char *text,
                            size_t textlen)
{
    krb5_context ctx = NULL;
    krb5_auth_context ac = NULL;
    krb5_keytab kt = NULL;
    krb5_principal server = NULL;
    krb5_ticket *ticket = NULL;
    krb5_authenticator *auth = NULL;
    krb5_data req;
    int ret = -1;

    if (textlen > 0)
        text[0] = '\0';
    if (cb == GSS_C_NO_CHANNEL_BINDINGS || krb5_init_context(&ctx) != 0)
        return -1;
    if ((keytab ? krb5_kt_resolve(ctx, keytab, &kt) : krb5_kt_default(ctx, &kt))
            != 0
        || krb5_kt_have_content(ctx, kt) != 0
        || (principal != NULL && krb5_parse_name(ctx, principal, &server) != 0)
        || krb5_auth_con_init(ctx, &ac) != 0)
        goto cleanup;
    /* No replay cache, as n8443_diagnose_apreq. */
    krb5_auth_con_setflags(ctx, ac, 0);
    req.magic = 0;
    req.length = (unsigned int)len;
    req.data = (char *)apreq;
    if (krb5_rd_req(ctx, &ac, &req, server, kt, NULL, &ticket) != 0
        || krb5_auth_con_getauthenticator(ctx, ac, &auth) != 0)
        goto cleanup;
    describe_hash(ctx, auth, cb, text, textlen);
    ret = 0;

cleanup:
    if (auth != NULL)
        krb5_free_authenticator(ctx, auth);
    if (ticket != NULL)
        krb5_free_ticket(ctx, ticket);
    if (ac != NULL)
        krb5_auth_con_free(ctx, ac);
    if (server != NULL)
        krb5_free_principal(ctx, server);
    if (kt != NULL)
        krb5_kt_close(ctx, kt);
    krb5_free_context(ctx);
    return ret;
}

long n8443_diagnose_apreq(const char *keytab, const char *principal,
                          const void *apreq, size_t len, char *text,
                          size_t textlen)
{
    krb5_context ctx = NULL;
    krb5_auth_context ac = NULL;
    krb5_keytab kt = NULL;
    krb5_principal server = NULL;
    krb5_ticket *ticket = NULL;
    krb5_data req;
    krb5_error_code code;
    const char *msg;
    int ret_text_set = 0;

    if (textlen > 0)
        text[0] = '\0';
    code = krb5_init_context(&ctx);
    if (code != 0)
        return code;
    code =
        keytab ? krb5_kt_resolve(ctx, keytab, &kt) : krb5_kt_default(ctx, &kt);
    /* A keytab this process cannot read (GSS-Proxy) says nothing about
     * the token: the caller falls back to GSS-API's own words. */
    if (code != 0 || krb5_kt_have_content(ctx, kt) != 0) {
        code = 0;
        if (kt != NULL)
            krb5_kt_close(ctx, kt);
        krb5_free_context(ctx);
        return N8443_DIAG_UNAVAILABLE;
    }
    if (principal != NULL) {
        code = krb5_parse_name(ctx, principal, &server);
        if (code != 0)
            goto cleanup;
    }
    code = krb5_auth_con_init(ctx, &ac);
    if (code != 0)
        goto cleanup;
    /* No KRB5_AUTH_CONTEXT_DO_TIME: no replay cache, so a token that only
     * the replay cache refused is accepted here. */
    krb5_auth_con_setflags(ctx, ac, 0);
    req.magic = 0;
    req.length = (unsigned int)len;
    req.data = (char *)apreq;
    code = krb5_rd_req(ctx, &ac, &req, server, kt, NULL, &ticket);
    if (code == 0) {
        /* What GSS-API checks besides krb5_rd_req that krb5 alone does
         * not: the etype field its replay-cache tag is computed from. */
        n8443_apreq_info info;
        unsigned int cksum_len;
        krb5_enctype sess = ticket->enc_part2->session->enctype;

        if (n8443_apreq_walk(apreq, len, &info) == N8443_TOK_KRB5
            && (info.authenticator_etype != sess
                || krb5_c_crypto_length(ctx, info.authenticator_etype,
                                        KRB5_CRYPTO_TYPE_CHECKSUM, &cksum_len)
                       != 0)) {
            if (textlen > 0)
                snprintf(text, textlen,
                         "the authenticator's etype field "
                         "(%ld) is not the session key's enctype (%ld)",
                         (long)info.authenticator_etype, (long)sess);
            code = KRB5_BAD_ENCTYPE;
            ret_text_set = 1;
        }
    }

cleanup:
    if (code != 0 && textlen > 0 && !ret_text_set) {
        msg = krb5_get_error_message(ctx, code);
        snprintf(text, textlen, "%s", msg);
        krb5_free_error_message(ctx, msg);
    }
    if (ticket != NULL)
        krb5_free_ticket(ctx, ticket);
    if (ac != NULL)
        krb5_auth_con_free(ctx, ac);
    if (server != NULL)
        krb5_free_principal(ctx, server);
    if (kt != NULL)
        krb5_kt_close(ctx, kt);
    krb5_free_context(ctx);
    return code;
}

long n8443_krb5_code_from_text(const char *gss_text)
{
    static const krb5_error_code known[] = {
        KRB5KRB_AP_ERR_REPEAT,        KRB5KRB_AP_ERR_SKEW,
        KRB5KRB_AP_ERR_TKT_EXPIRED,   KRB5KRB_AP_ERR_TKT_NYV,
        KRB5KRB_AP_ERR_BAD_INTEGRITY, KRB5KRB_AP_ERR_BADKEYVER,
        KRB5KRB_AP_ERR_NOKEY,         KRB5KRB_AP_ERR_NOT_US,
        KRB5KRB_AP_WRONG_PRINC,       KRB5_KT_NOTFOUND,
        KRB5_KT_KVNONOTFOUND};
    size_t i;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        const char *msg = error_message(known[i]);
        if (msg != NULL && *msg != '\0' && strstr(gss_text, msg) != NULL)
            return known[i];
    }
    return 0;
}

int n8443_login_is_anonymous(const char *principal, OM_uint32 ret_flags)
{
    static const char anon[] = "WELLKNOWN/ANONYMOUS@";

    if (ret_flags & GSS_C_ANON_FLAG)
        return 1;
    return principal != NULL && strncmp(principal, anon, sizeof(anon) - 1) == 0;
}

OM_uint32 n8443_ticket_left(OM_uint32 gss_lifetime, long skew)
{
    if (gss_lifetime == GSS_C_INDEFINITE)
        return gss_lifetime;
    if (skew < 0 || (unsigned long)gss_lifetime <= (unsigned long)skew)
        return 0;
    return gss_lifetime - (OM_uint32)skew;
}

long n8443_refusal_code(OM_uint32 major, OM_uint32 minor, long diag_code)
{
    char text[512];
    long code;

    if (diag_code != 0 && diag_code != N8443_DIAG_UNAVAILABLE)
        return diag_code;
    n8443_gss_error_text(major, minor, text, sizeof(text));
    code = n8443_krb5_code_from_text(text);
    return code != 0 ? code : -1;
}

n8443_cause n8443_accept_cause(OM_uint32 major, long krb5_code)
{
    if (GSS_ROUTINE_ERROR(major) == GSS_S_BAD_BINDINGS)
        return N8443_CAUSE_BAD_BINDINGS;
    if (major & GSS_S_DUPLICATE_TOKEN)
        return N8443_CAUSE_REPLAY;

    switch ((krb5_error_code)krb5_code) {
    case 0:
        /* krb5 itself is content with the AP-REQ, and nothing else was
         * found: GSS-API refused it for its framing (DEFECTIVE_TOKEN,
         * below) or for a reason not known here.  Not a replay: a replay
         * caught by MIT's cache names itself (KRB5KRB_AP_ERR_REPEAT). */
        break;
    case KRB5_BAD_ENCTYPE: return N8443_CAUSE_ETYPE;
    case KRB5KRB_AP_ERR_REPEAT: return N8443_CAUSE_REPLAY;
    case KRB5KRB_AP_ERR_SKEW: return N8443_CAUSE_SKEW;
    case KRB5KRB_AP_WRONG_PRINC:
    case KRB5KRB_AP_ERR_NOT_US:
    case KRB5KRB_AP_ERR_BADKEYVER:
    case KRB5KRB_AP_ERR_NOKEY:
    case KRB5KRB_AP_ERR_BAD_INTEGRITY:
    case KRB5_KT_NOTFOUND:
    case KRB5_KT_KVNONOTFOUND: return N8443_CAUSE_WRONG_PRINCIPAL;
    case KRB5KRB_AP_ERR_TKT_EXPIRED:
    case KRB5KRB_AP_ERR_TKT_NYV: return N8443_CAUSE_EXPIRED;
    default: break;
    }
    if (GSS_ROUTINE_ERROR(major) == GSS_S_DEFECTIVE_TOKEN)
        return N8443_CAUSE_MALFORMED;
    if (GSS_ROUTINE_ERROR(major) == GSS_S_CREDENTIALS_EXPIRED)
        return N8443_CAUSE_EXPIRED;
    return N8443_CAUSE_OTHER;
}
