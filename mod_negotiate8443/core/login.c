/*
 * login.c - one Negotiate login without httpd (login.h).
 */
#include "login.h"

#include <string.h>

#include <gssapi/gssapi_ext.h>

#include "krb5_accept.h"

/*
 * Does the name hold a control character: C0 (0x00-0x1f), DEL (0x7f), or
 * C1 (U+0080-U+009F, 0xc2 0x80-0x9f in UTF-8)?  MIT accepts them inside a
 * principal and krb5_unparse_name passes CR and most others through
 * unescaped; in REMOTE_USER they end up in headers (a CR starts a second
 * header at many backends), in log lines and in applications.
 */
int n8443_name_has_no_control(const char *s)
{
    const unsigned char *p;

    for (p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return 0;
        if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            return 0;
    }
    return 1;
}

const char *n8443_login_advice(n8443_cause cause)
{
    switch (cause) {
    case N8443_CAUSE_WRONG_PRINCIPAL:
        return "the keytab has no matching key for the service "
               "principal and key version the ticket was issued for: "
               "export the current key (kvno) of that principal into the "
               "keytab, or check that clients use a name that has an SPN";
    case N8443_CAUSE_SKEW:
        return "clock skew: the client's and this server's clocks differ "
               "by more than the allowed skew; synchronise both with NTP";
    case N8443_CAUSE_REPLAY:
        return "replayed: this authenticator was presented before";
    case N8443_CAUSE_FORGOTTEN:
        return "the replay cache lost its memory after this authenticator "
               "was made (restart, crash, cache loss): the client retries "
               "with a fresh one";
    case N8443_CAUSE_EXPIRED:
        return "the ticket has expired or is not yet valid; the client "
               "must get a new one (kinit), or clocks are off";
    case N8443_CAUSE_BAD_BINDINGS:
        return "the channel bindings do not match this TLS connection";
    case N8443_CAUSE_ETYPE:
        return "the authenticator's etype field was rewritten (a "
               "tampered or replayed token) or the client is broken";
    default: return "Kerberos refused the token";
    }
}

/* The walker found no Kerberos token to check. */
static n8443_verdict unusable(n8443_login_result *res)
{
    switch (res->tok) {
    case N8443_TOK_NTLM:
        res->cause = N8443_CAUSE_NTLM;
        return res->verdict = N8443_LOGIN_UNUSABLE;
    case N8443_TOK_OTHER_MECH:
    case N8443_TOK_NO_MECH_TOKEN:
        res->cause = N8443_CAUSE_OTHER;
        return res->verdict = N8443_LOGIN_UNUSABLE;
    case N8443_TOK_MALFORMED:
    default:
        res->cause = N8443_CAUSE_MALFORMED;
        return res->verdict = N8443_LOGIN_MALFORMED;
    }
}

/* Kerberos refused the token: ask it why, in words. */
static n8443_verdict refused(const n8443_login_keys *keys,
                             gss_channel_bindings_t bindings,
                             n8443_login_result *res)
{
    long code = n8443_diagnose_apreq(keys->keytab, keys->principal,
                                     res->info.apreq.data, res->info.apreq.len,
                                     res->krb5_text, sizeof(res->krb5_text));

    /* Nothing recognised (krb5 alone accepts it): never "replay". */
    code = n8443_refusal_code(res->acc.major, res->acc.minor, code);
    res->cause = n8443_accept_cause(res->acc.major, code);
    if (res->cause == N8443_CAUSE_MALFORMED)
        return res->verdict = N8443_LOGIN_MALFORMED;
    /* krb5 alone accepts such a token ("Success"): say instead what the
     * client bound. */
    if (res->cause == N8443_CAUSE_BAD_BINDINGS) {
        res->krb5_text[0] = '\0';
        n8443_diagnose_bindings(keys->keytab, keys->principal,
                                res->info.apreq.data, res->info.apreq.len,
                                bindings, res->binding_text,
                                sizeof(res->binding_text));
    }
    res->advice = n8443_login_advice(res->cause);
    return res->verdict = N8443_LOGIN_REFUSED;
}

n8443_verdict n8443_login_accept(const n8443_login_keys *keys,
                                 const unsigned char *token, size_t len,
                                 gss_channel_bindings_t bindings, int mode,
                                 n8443_login_result *res)
{
    int rc;

    memset(res, 0, sizeof(*res));
    res->acc.delegated = GSS_C_NO_CREDENTIAL;
    res->tok = n8443_token_walk(token, len, &res->info);
    if (res->tok != N8443_TOK_KRB5)
        return unusable(res);

    /* The fast path, where it can answer as GSS-API would; GSS-API for
     * everything else: S4U2Proxy evidence and MIT's own replay cache are
     * GSS-API's alone (the caller leaves N8443_LOGIN_FAST_PATH out), and
     * every refusal is diagnosed there. */
    res->fast =
        (mode & N8443_LOGIN_FAST_PATH) && keys->ctx != NULL
        && n8443_krb5_accept(keys->ctx, keys->kt, keys->server, &res->info,
                             bindings, (krb5_deltat)keys->skew, &res->acc)
               == N8443_KACC_ACCEPTED;
    if (res->fast)
        rc = 0;
    else
        rc = n8443_accept_once(
            keys->cred, token, len,
            bindings != NULL ? bindings : GSS_C_NO_CHANNEL_BINDINGS, &res->acc);
    res->bound =
        bindings != NULL && (res->acc.ret_flags & GSS_C_CHANNEL_BOUND_FLAG);
    if (rc == 1)
        return res->verdict = N8443_LOGIN_CONTINUE;
    if (rc != 0)
        return refused(keys, bindings, res);
    res->principal = res->acc.principal;
    /* The authenticator's time, for the replay cache's watermark: the
     * fast path read it; GSS-API does not tell, so it is read again with
     * the same keys where the keytab is readable here. */
    if (res->fast)
        res->stamp = res->acc.stamp;
    else if ((mode & N8443_LOGIN_STAMP) && keys->ctx != NULL)
        res->stamp =
            n8443_krb5_stamp(keys->ctx, keys->kt, keys->server, &res->info);

    /* A name with control bytes goes nowhere: not into REMOTE_USER, a
     * header, a cookie or a log line (both paths, GSS-API and fast). */
    if (res->principal == NULL || !n8443_name_has_no_control(res->principal)) {
        res->cause = N8443_CAUSE_OTHER;
        return res->verdict = N8443_LOGIN_UNCLEAN_NAME;
    }
    if (!(mode & N8443_LOGIN_ALLOW_ANONYMOUS)
        && n8443_login_is_anonymous(res->principal, res->acc.ret_flags)) {
        res->cause = N8443_CAUSE_ANONYMOUS;
        return res->verdict = N8443_LOGIN_ANONYMOUS;
    }
    if ((mode & N8443_LOGIN_REQUIRE_BINDING) && !res->bound) {
        res->cause = N8443_CAUSE_BAD_BINDINGS;
        return res->verdict = N8443_LOGIN_UNBOUND;
    }
    res->cause = N8443_CAUSE_NONE;
    return res->verdict = N8443_LOGIN_ACCEPTED;
}

void n8443_login_result_clear(n8443_login_result *res)
{
    n8443_accept_result_clear(&res->acc);
    res->principal = NULL;
}
