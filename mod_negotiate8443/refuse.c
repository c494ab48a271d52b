/*
 * refuse.c - a login that core/login.c did not accept (exchange.c): the
 * one log line that names the rule or Kerberos' cause in words an
 * administrator can act on (with the keytab's keys for a wrong key,
 * keytab_dump.c, and the expected and seen channel binding), the
 * failure counter, the refusal's word for the 401 page, and the status:
 * 400 for what is not a Kerberos token, else 401 with the challenge.
 */
#include "n8443_private.h"

#include "apr_atomic.h"

void n8443_count_failure(n8443_cause cause)
{
    if ((unsigned)cause < N8443_STAT_CAUSES)
        apr_atomic_inc32(&n8443_stats_get()->failures[cause]);
}

/* A token without Kerberos in it (the walker's status st): the log line
 * that says why, and the status. */
static int refuse_unusable_token(request_rec *r, n8443_tok_status st)
{
    n8443_refusal_note(r, st == N8443_TOK_NTLM            ? "ntlm"
                          : st == N8443_TOK_OTHER_MECH    ? "other_mech"
                          : st == N8443_TOK_NO_MECH_TOKEN ? "no_ticket"
                                                          : "malformed");
    /* Malformed tokens are counted with every other 400, by the caller. */
    if (st != N8443_TOK_MALFORMED)
        n8443_count_failure(st == N8443_TOK_NTLM ? N8443_CAUSE_NTLM
                                                 : N8443_CAUSE_OTHER);
    switch (st) {
    case N8443_TOK_NTLM:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      N8443LOGNO(010) "client sent an NTLM token inside "
                      "Negotiate: it had "
                      "no Kerberos ticket for this server's name, so it fell "
                      "back to NTLM. Check that an HTTP/<host> principal "
                      "exists for the name in the URL (the port is never "
                      "part of it), that DNS resolves that name, and that "
                      "the browser trusts this site for Negotiate "
                      "(intranet zone / auth-server allow-list)");
        return n8443_challenge(r);
    case N8443_TOK_OTHER_MECH:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      N8443LOGNO(011) "client offered a GSS mechanism other "
                      "than Kerberos "
                      "(e.g. NegoEx): refused, only Kerberos is accepted");
        return n8443_challenge(r);
    case N8443_TOK_NO_MECH_TOKEN:
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            N8443LOGNO(012) "client offered Kerberos in SPNEGO without sending "
            "a Kerberos token: it has no ticket for this "
            "service; refused");
        return n8443_challenge(r);
    case N8443_TOK_MALFORMED:
    default:
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            N8443LOGNO(013) "Negotiate token is not a GSS token (%s): 400",
            n8443_tok_status_str(st));
        return HTTP_BAD_REQUEST;
    }
}

/* The log line for a token that Kerberos refused. */
static void log_refusal(request_rec *r, const n8443_login_keys *keys,
                        const n8443_login_result *lr)
{
    char asked[512], gsstext[512];

    /* MIT's minor status for bad bindings says "Success": N8443361
     * says what was expected and seen instead. */
    n8443_gss_error_text(lr->acc.major,
                         lr->cause == N8443_CAUSE_BAD_BINDINGS ? 0
                                                               : lr->acc.minor,
                         gsstext, sizeof(gsstext));
    if (n8443_apreq_principal(&lr->info, asked, sizeof(asked)) == 0)
        apr_cpystrn(asked, "(unreadable)", sizeof(asked));
    ap_log_rerror(
        APLOG_MARK, APLOG_ERR, 0, r,
        N8443LOGNO(020) "login refused (%s): client asked for %s kvno %d "
        "(enctype %d), keytab %s, acceptor %s: %s [%s%s%s]",
        n8443_cause_name(lr->cause), asked, (int)lr->info.ticket_kvno,
        (int)lr->info.ticket_etype, keys->keytab ? keys->keytab : "(default)",
        keys->principal ? keys->principal : "any", lr->advice, gsstext,
        *lr->krb5_text ? "; krb5: " : "", lr->krb5_text);
    if (lr->cause == N8443_CAUSE_WRONG_PRINCIPAL)
        n8443_log_keytab_contents(r, keys->keytab, asked);
}

/* A refusal for channel bindings: which binding was expected (the
 * certificate hash and where it comes from) and which was seen. */
static void log_bindings(request_rec *r, const n8443_login_result *lr,
                         const struct gss_channel_bindings_struct *cb)
{
    const char *expected = "none (no binding can be derived from this "
                           "connection or certificate)";
    const size_t plen = sizeof("tls-server-end-point:") - 1;

    if (cb != NULL && cb->application_data.length > plen) {
        apr_size_t n = cb->application_data.length - plen;
        char *hex = apr_palloc(r->pool, 2 * n + 1);

        ap_bin2hex((const char *)cb->application_data.value + plen, n, hex);
        expected = apr_psprintf(r->pool,
                                "tls-server-end-point hash %s of "
                                "%s, hashed with GSS_C_AF_UNSPEC or "
                                "GSS_C_AF_NULLADDR",
                                hex, n8443_binding_source(r));
    }
    ap_log_rerror(
        APLOG_MARK, APLOG_ERR, 0, r,
        N8443LOGNO(361) "channel binding of %s: expected %s; seen: %s%s%s",
        lr->principal ? lr->principal : "the client", expected,
        *lr->binding_text ? lr->binding_text
        : lr->verdict == N8443_LOGIN_UNBOUND
            ? "no binding (all-zero hash)"
            : "unknown (the keys are not readable here: GSS-Proxy)",
        lr->acc.retry_major != 0
            ? "; the other form could not "
              "be tried: MIT's replay cache (NegotiateReplayCache "
              "krb5, GSS-Proxy) took the first try's authenticator"
            : "",
        "");
}

int n8443_refuse_login(request_rec *r, const n8443_login_keys *keys,
                       const n8443_login_result *lr,
                       const struct gss_channel_bindings_struct *cb)
{
    int have_cb = cb != NULL;

    switch (lr->verdict) {
    case N8443_LOGIN_UNUSABLE: return refuse_unusable_token(r, lr->tok);
    case N8443_LOGIN_MALFORMED:
        if (lr->tok != N8443_TOK_KRB5)
            return refuse_unusable_token(r, lr->tok);
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            N8443LOGNO(014) "Negotiate token is not a valid Kerberos token: "
            "400");
        return HTTP_BAD_REQUEST;
    case N8443_LOGIN_CONTINUE:
        /* SPNEGO asked for another leg; we keep no state between requests,
         * and with Kerberos there is no reason for a second leg. */
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            N8443LOGNO(021) "SPNEGO asked for another round trip, which this "
            "server does not keep state for: refused");
        n8443_refusal_note(r, "other");
        if (lr->acc.output.length == 0)
            n8443_challenge(r);
        return HTTP_UNAUTHORIZED;
    case N8443_LOGIN_UNCLEAN_NAME:
        /* Logs N8443230. */
        n8443_principal_clean(r, lr->principal,
                              lr->fast ? "krb5, fast path" : "krb5");
        break;
    case N8443_LOGIN_ANONYMOUS:
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            N8443LOGNO(200) "login refused (anonymous): %s is an anonymous "
            "ticket, and NegotiateAllowAnonymous is Off",
            lr->principal);
        break;
    case N8443_LOGIN_UNBOUND:
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            N8443LOGNO(026) "login refused (bad_bindings): %s sent no channel "
            "binding for this TLS connection%s, and "
            "NegotiateChannelBinding is require",
            lr->principal,
            have_cb ? ""
                    : " (none can be derived "
                      "from this connection or certificate)");
        log_bindings(r, lr, cb);
        break;
    case N8443_LOGIN_REFUSED:
    default:
        log_refusal(r, keys, lr);
        if (lr->cause == N8443_CAUSE_BAD_BINDINGS)
            log_bindings(r, lr, cb);
        break;
    }
    n8443_count_failure(lr->cause);
    n8443_refusal_note(r, n8443_cause_name(lr->cause));
    return n8443_challenge(r);
}
