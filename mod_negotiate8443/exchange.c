/*
 * exchange.c - one request through RFC 4559:
 *
 *   Authorization header -> token walker -> GSS accept -> identity,
 *
 * or the status the contract gives for each way it can go wrong:
 * 400 for input that is not a token, 401 (with the challenge) for
 * everything Kerberos refuses, 403 for plain HTTP under NegotiateRequireTLS.
 * The client learns nothing more than the status; the error log gets one
 * line that names the cause in words an administrator can act on.
 */
#include "n8443_private.h"

#include "mod_ssl.h"
#include "apr_base64.h"
#include "authz_header.h"
#include "token_walk.h"
#include "replay_key.h"
#include "apr_atomic.h"

#include <stdlib.h>

static APR_OPTIONAL_FN_TYPE(ssl_is_https) *is_https_fn;

void n8443_exchange_post_config(void)
{
    is_https_fn = APR_RETRIEVE_OPTIONAL_FN(ssl_is_https);
}

static void set_identity(request_rec *r, const n8443_dir_conf *dc,
                         const n8443_server_conf *sc, const char *principal,
                         const char *mech, int bound);
static void put_identity(request_rec *r, const n8443_dir_conf *dc,
                         const n8443_server_conf *sc, const char *principal,
                         const char *mech, int bound, n8443_login_via via);

static void count_failure(n8443_cause cause)
{
    if ((unsigned)cause < N8443_STAT_CAUSES)
        apr_atomic_inc32(&n8443_stats_get()->failures[cause]);
}

static int connection_is_tls(request_rec *r)
{
    return is_https_fn != NULL && is_https_fn(r->connection);
}

/* Ask for a (new) token: 401 with the Negotiate challenge, and Basic's
 * where the location falls back to it. */
static int challenge(request_rec *r)
{
    const n8443_dir_conf *dc =
        ap_get_module_config(r->per_dir_config, &negotiate8443_module);
    const char *realm;

    apr_table_add(r->err_headers_out, "WWW-Authenticate", "Negotiate");
    if (dc->basic_fallback) {
        realm = ap_auth_name(r);
        apr_table_add(r->err_headers_out, "WWW-Authenticate",
                      apr_pstrcat(r->pool, "Basic realm=\"",
                                  ap_escape_quotes(r->pool,
                                                   realm ? realm
                                                         : "Kerberos"),
                                  "\"", NULL));
    }
    return HTTP_UNAUTHORIZED;
}

/* Count the Authorization fields; httpd merges repeats into one with
 * ", " but a table may still hold several after other modules ran. */
static int count_field(void *rec, const char *key, const char *value)
{
    (*(int *)rec)++;
    return 1;
}

/*
 * If this is an internal redirect or sub-request of a request that we
 * already authenticated, reuse that login: the client's token was spent
 * on the first pass and would be refused as a replay on a second.  Only
 * where the login is good for this location too (same vhost and
 * credential set, a mechanism it offers, the channel binding it asks
 * for; a login that came without a token only where this location offers
 * that kind: connection auth, sessions, Basic), and mapped with this
 * location's NegotiateUserName; else 401.  The reused login keeps the
 * way it was made, for the redirects of this request.
 * DECLINED when no earlier request of this one logged in.
 */
static int reuse_earlier_login(request_rec *r, const n8443_dir_conf *dc,
                               const n8443_server_conf *sc)
{
    request_rec *prev;

    for (prev = r->prev ? r->prev : r->main; prev != NULL;
         prev = prev->prev ? prev->prev : prev->main) {
        const n8443_login *l = n8443_login_of(prev);
        const char *misfit;

        if (l == NULL)
            continue;
        misfit = n8443_login_misfit(r, dc, sc, l);
        if (misfit != NULL) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, N8443LOGNO(224)
                          "login of %s earlier in this request (internal "
                          "redirect or sub-request) not used for %s: %s; "
                          "asking for a new token", l->principal,
                          r->uri, misfit);
            return challenge(r);
        }
        put_identity(r, dc, sc, l->principal, l->mech, l->bound, l->via);
        return OK;
    }
    return DECLINED;
}

/*
 * NegotiateConnectionAuth: a request without Authorization on a TLS
 * connection that already logged in goes on as that identity, where the
 * login is good (connection.c).  Only TLS: a plain connection may come
 * through a proxy that mixes users; and never a proxy's connection.
 */
static int resume_connection_login(request_rec *r, const n8443_dir_conf *dc,
                                   const n8443_server_conf *sc)
{
    const n8443_login *l;

    if (!dc->connection_auth || !connection_is_tls(r))
        return 0;
    l = n8443_conn_resume(r, dc, sc);
    if (l == NULL)
        return 0;
    put_identity(r, dc, sc, l->principal, l->mech, l->bound,
                 N8443_VIA_CONNECTION);
    return 1;
}

/* A short, stable reason for a walker status, for log lines. */
static int refuse_unusable_token(request_rec *r, n8443_tok_status st)
{
    /* Malformed tokens are counted with every other 400, by the caller. */
    if (st != N8443_TOK_MALFORMED)
        count_failure(st == N8443_TOK_NTLM ? N8443_CAUSE_NTLM
                                           : N8443_CAUSE_OTHER);
    switch (st) {
    case N8443_TOK_NTLM:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, N8443LOGNO(010)
                      "client sent an NTLM token inside Negotiate: it had "
                      "no Kerberos ticket for this server's name, so it fell "
                      "back to NTLM. Check that an HTTP/<host> principal "
                      "exists for the name in the URL (the port is never "
                      "part of it), that DNS resolves that name, and that "
                      "the browser trusts this site for Negotiate "
                      "(intranet zone / auth-server allow-list)");
        return challenge(r);
    case N8443_TOK_OTHER_MECH:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, N8443LOGNO(011)
                      "client offered a GSS mechanism other than Kerberos "
                      "(e.g. NegoEx): refused, only Kerberos is accepted");
        return challenge(r);
    case N8443_TOK_NO_MECH_TOKEN:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, N8443LOGNO(012)
                      "client offered Kerberos in SPNEGO without sending "
                      "a Kerberos token: it has no ticket for this "
                      "service; refused");
        return challenge(r);
    case N8443_TOK_MALFORMED:
    default:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, N8443LOGNO(013)
                      "Negotiate token is not a GSS token (%s): 400",
                      n8443_tok_status_str(st));
        return HTTP_BAD_REQUEST;
    }
}

/* The log line for a token that Kerberos refused. */
static void log_refusal(request_rec *r, const n8443_cred_key *key,
                        const n8443_apreq_info *info,
                        const n8443_accept_result *res, n8443_cause cause,
                        const char *krb5_text)
{
    char asked[512], gsstext[512];
    const char *advice;

    n8443_gss_error_text(res->major, res->minor, gsstext, sizeof(gsstext));
    if (n8443_apreq_principal(info, asked, sizeof(asked)) == 0)
        apr_cpystrn(asked, "(unreadable)", sizeof(asked));

    switch (cause) {
    case N8443_CAUSE_WRONG_PRINCIPAL:
        advice = "the keytab has no matching key for the service "
                 "principal and key version the ticket was issued for: "
                 "export the current key (kvno) of that principal into the "
                 "keytab, or check that clients use a name that has an SPN";
        break;
    case N8443_CAUSE_SKEW:
        advice = "clock skew: the client's and this server's clocks differ "
                 "by more than the allowed skew; synchronise both with NTP";
        break;
    case N8443_CAUSE_REPLAY:
        advice = "replayed: this authenticator was presented before";
        break;
    case N8443_CAUSE_EXPIRED:
        advice = "the ticket has expired or is not yet valid; the client "
                 "must get a new one (kinit), or clocks are off";
        break;
    case N8443_CAUSE_BAD_BINDINGS:
        advice = "the channel bindings do not match this TLS connection";
        break;
    case N8443_CAUSE_ETYPE:
        advice = "the authenticator's etype field was rewritten (a "
                 "tampered or replayed token) or the client is broken";
        break;
    default:
        advice = "Kerberos refused the token";
        break;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, N8443LOGNO(020)
                  "login refused (%s): client asked for %s kvno %d "
                  "(enctype %d), keytab %s, acceptor %s: %s [%s%s%s]",
                  n8443_cause_name(cause), asked, (int)info->ticket_kvno,
                  (int)info->ticket_etype,
                  key->keytab ? key->keytab : "(default)",
                  key->principal ? key->principal : "any",
                  advice, gsstext, *krb5_text ? "; krb5: " : "", krb5_text);
    if (cause == N8443_CAUSE_WRONG_PRINCIPAL)
        n8443_log_keytab_contents(r, key->keytab, asked);
}


/*
 * The replay check, after Kerberos accepted the token: the key is the
 * digest of the encrypted authenticator, so the same authenticator in
 * another envelope is still the same login.  Returns OK, or the status
 * to answer with (401 for a replay, 503 when the cache cannot answer:
 * the module fails closed).
 */
static int check_replay(request_rec *r, n8443_server_conf *sc,
                        const n8443_apreq_info *info, const char *principal)
{
    unsigned char key[32];

    if (sc->rc.backend == N8443_RC_NONE || sc->rc.backend == N8443_RC_KRB5)
        return OK;
    if (n8443_replay_key(info, key) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, N8443LOGNO(024)
                      "cannot compute the replay key: login refused");
        apr_atomic_inc32(&n8443_stats_get()->backend_errors);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    switch (n8443_rcache_check_and_store(r, &sc->rc, key, principal)) {
    case N8443_RC_FRESH:
        return OK;
    case N8443_RC_REPLAY:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, N8443LOGNO(025)
                      "login refused (replay): the authenticator of %s was "
                      "presented before (replayed token, kept %ld s)",
                      principal, (long)apr_time_sec(n8443_rc_retention()));
        count_failure(N8443_CAUSE_REPLAY);
        return challenge(r);
    case N8443_RC_QUOTA:
        /* Logged (once a minute per principal) by the replay cache. */
        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_psprintf(r->pool, "%ld",
                                    n8443_rc_quota_retry_after()));
        return HTTP_TOO_MANY_REQUESTS;
    case N8443_RC_FULL:
    case N8443_RC_UNAVAILABLE:
    default:
        /* Logged by the backend. */
        return HTTP_SERVICE_UNAVAILABLE;
    }
}

/*
 * Delegation: a ticket the client delegated (NegotiateDelegation), or
 * S4U2Proxy evidence from its forwardable service ticket
 * (NegotiateConstrainedDelegation), stored for the application.
 */
static void hand_over_credentials(request_rec *r, const n8443_dir_conf *dc,
                                  const n8443_server_conf *sc,
                                  const n8443_accept_result *res)
{
    int delegated = (res->ret_flags & GSS_C_DELEG_FLAG) != 0;
    const char *ccname;

    if (res->delegated == GSS_C_NO_CREDENTIAL)
        return;
    if (!(dc->delegation && delegated) && !dc->constrained_delegation)
        return;
    ccname = n8443_delegation_store(r, sc, res->principal, res->delegated);
    if (ccname != NULL)
        apr_table_set(r->subprocess_env, "KRB5CCNAME", ccname);
}

/* Put the client's identity on the request, and note the login, how it
 * was made and the scope of this location for redirects and sub-requests
 * of it. */
static void put_identity(request_rec *r, const n8443_dir_conf *dc,
                         const n8443_server_conf *sc, const char *principal,
                         const char *mech, int bound, n8443_login_via via)
{
    int basic = strcmp(mech, "basic") == 0;

    r->user = (char *)n8443_map_user(r, principal, dc->user_name);
    r->ap_auth_type = basic ? "Basic" : N8443_AUTH_TYPE;
    apr_table_set(r->subprocess_env, "NEGOTIATE_PRINCIPAL", principal);
    apr_table_set(r->subprocess_env, "NEGOTIATE_MECH", mech);
    apr_table_set(r->subprocess_env, "NEGOTIATE_CHANNEL_BOUND",
                  bound ? "true" : "false");
    n8443_login_note(r, dc, sc, principal, mech, bound, via);
}

/* The same for a login with this request's own token. */
static void set_identity(request_rec *r, const n8443_dir_conf *dc,
                         const n8443_server_conf *sc, const char *principal,
                         const char *mech, int bound)
{
    put_identity(r, dc, sc, principal, mech, bound, N8443_VIA_TOKEN);
}

/* Accept a decoded Negotiate token; returns OK or an HTTP status. */
static int accept_token(request_rec *r, const n8443_dir_conf *dc,
                        n8443_server_conf *sc, const unsigned char *tok,
                        apr_size_t len)
{
    n8443_apreq_info info;
    n8443_tok_status st;
    n8443_cred_key key;
    n8443_creds *creds;
    n8443_accept_result res;
    n8443_cause cause;
    struct gss_channel_bindings_struct cb;
    int rc, status, have_cb, bound, fast;

    st = n8443_token_walk(tok, len, &info);
    if (st != N8443_TOK_KRB5)
        return refuse_unusable_token(r, st);

    n8443_cred_key_for(r, dc, sc, &key);
    creds = n8443_creds_get(r, &key);
    if (creds == NULL) {
        /* No keys to check the login with (keytab gone, GSS-Proxy down):
         * logged by n8443_creds_get; the client may try again later. */
        apr_atomic_inc32(&n8443_stats_get()->backend_errors);
        return HTTP_SERVICE_UNAVAILABLE;
    }

    have_cb = dc->channel_binding != N8443_CB_OFF
              && n8443_binding_for(r, &cb);
    /* The fast path, where it can answer as GSS-API would; GSS-API for
     * everything else: S4U2Proxy evidence and MIT's own replay cache are
     * GSS-API's alone, and every refusal is diagnosed there. */
    fast = dc->fast_path && !dc->constrained_delegation
           && sc->rc.backend != N8443_RC_KRB5
           && n8443_creds_fast_accept(creds, &info, have_cb ? &cb : NULL,
                                      &res) == N8443_KACC_ACCEPTED;
    if (fast)
        rc = 0;
    else
        rc = n8443_accept_once(n8443_creds_handle(creds), tok, len,
                               have_cb ? &cb : GSS_C_NO_CHANNEL_BINDINGS,
                               &res);
    n8443_creds_release(creds);
    bound = have_cb && (res.ret_flags & GSS_C_CHANNEL_BOUND_FLAG);

    /* A name with control bytes goes nowhere: not into REMOTE_USER, a
     * header, a cookie or a log line (both paths, GSS-API and fast). */
    if (rc == 0 && !n8443_principal_clean(r, res.principal,
                                          fast ? "krb5, fast path" : "krb5")) {
        count_failure(N8443_CAUSE_OTHER);
        n8443_accept_result_clear(&res);
        return challenge(r);
    }

    if (rc == 0 && !dc->allow_anonymous
        && n8443_login_is_anonymous(res.principal, res.ret_flags)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, N8443LOGNO(200)
                      "login refused (anonymous): %s is an anonymous "
                      "ticket, and NegotiateAllowAnonymous is Off",
                      res.principal);
        count_failure(N8443_CAUSE_ANONYMOUS);
        n8443_accept_result_clear(&res);
        return challenge(r);
    }

    if (rc == 0 && dc->channel_binding == N8443_CB_REQUIRE && !bound) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, N8443LOGNO(026)
                      "login refused (bad_bindings): %s sent no channel "
                      "binding for this TLS connection%s, and "
                      "NegotiateChannelBinding is require",
                      res.principal, have_cb ? "" : " (none can be derived "
                      "from this connection or certificate)");
        count_failure(N8443_CAUSE_BAD_BINDINGS);
        n8443_accept_result_clear(&res);
        return challenge(r);
    }

    if (rc == 0) {
        status = check_replay(r, sc, &info, res.principal);
        if (status == OK) {
            /* Both paths report MIT's lifetime, with the skew's grace:
             * a connection login or session ends with the ticket. */
            OM_uint32 left = n8443_ticket_left(res.lifetime,
                                               n8443_instance.clock_skew);

            set_identity(r, dc, sc, res.principal, "krb5", bound);
            if (dc->connection_auth && connection_is_tls(r))
                n8443_conn_remember(r, n8443_login_of(r), left);
            n8443_session_issue(r, dc, sc, res.principal, left, bound);
            hand_over_credentials(r, dc, sc, &res);
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, N8443LOGNO(001)
                          "login of %s accepted (krb5)%s", res.principal,
                          fast ? " by the fast path" : "");
            apr_atomic_inc32(&n8443_stats_get()->logins);
            if (fast)
                apr_atomic_inc32(&n8443_stats_get()->logins_fast_path);
        }
    }
    else if (rc == 1) {
        /* SPNEGO asked for another leg; we keep no state between requests,
         * and with Kerberos there is no reason for a second leg. */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, N8443LOGNO(021)
                      "SPNEGO asked for another round trip, which this "
                      "server does not keep state for: refused");
        status = HTTP_UNAUTHORIZED;
        if (res.output.length == 0)
            challenge(r);
    }
    else {
        char krb5_text[256];
        long code = n8443_diagnose_apreq(key.keytab, key.principal,
                                         info.apreq.data, info.apreq.len,
                                         krb5_text, sizeof(krb5_text));
        /* Nothing recognised (krb5 alone accepts it): never "replay". */
        code = n8443_refusal_code(res.major, res.minor, code);
        cause = n8443_accept_cause(res.major, code);
        if (cause == N8443_CAUSE_MALFORMED) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, N8443LOGNO(014)
                          "Negotiate token is not a valid Kerberos token: "
                          "400");
            status = HTTP_BAD_REQUEST;
        }
        else {
            log_refusal(r, &key, &info, &res, cause, krb5_text);
            status = challenge(r);
            count_failure(cause);
        }
    }
    /* Mutual authentication: whatever the final status, the client gets
     * the AP-REP (or SPNEGO's answer) if the mechanism produced one.  A
     * refusal (also a replay) sends none: the client learns only the 401. */
    if ((status == OK || rc == 1) && res.output.length > 0) {
        char *b64 = apr_palloc(r->pool, apr_base64_encode_len(
                                            (int)res.output.length));
        apr_base64_encode_binary(b64, res.output.value,
                                 (int)res.output.length);
        apr_table_add(r->err_headers_out, "WWW-Authenticate",
                      apr_pstrcat(r->pool, "Negotiate ", b64, NULL));
    }

    n8443_accept_result_clear(&res);
    return status;
}

/* Note a login that session.c or basic.c put on the request, and how
 * it was made. */
static void note_login_from_env(request_rec *r, const n8443_dir_conf *dc,
                                const n8443_server_conf *sc,
                                n8443_login_via via)
{
    const char *principal = apr_table_get(r->subprocess_env,
                                          "NEGOTIATE_PRINCIPAL");
    const char *mech = apr_table_get(r->subprocess_env, "NEGOTIATE_MECH");
    const char *bound = apr_table_get(r->subprocess_env,
                                      "NEGOTIATE_CHANNEL_BOUND");

    if (principal != NULL)
        n8443_login_note(r, dc, sc, principal,
                         mech != NULL && strcmp(mech, "basic") == 0
                         ? "basic" : "krb5",
                         bound != NULL && strcmp(bound, "true") == 0, via);
}

static int negotiate(request_rec *r)
{
    const n8443_dir_conf *dc;
    n8443_server_conf *sc;
    const char *type, *value;
    n8443_authz authz;
    unsigned char *tok;
    apr_size_t toklen;
    int fields = 0, status;

    type = ap_auth_type(r);
    if (type == NULL || strcasecmp(type, N8443_AUTH_TYPE) != 0)
        return DECLINED;

    dc = ap_get_module_config(r->per_dir_config, &negotiate8443_module);
    sc = ap_get_module_config(r->server->module_config,
                              &negotiate8443_module);

    if (dc->require_tls && !connection_is_tls(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, N8443LOGNO(002)
                      "Negotiate over plain HTTP refused (403): "
                      "NegotiateRequireTLS is On; use https://");
        return HTTP_FORBIDDEN;
    }

    status = reuse_earlier_login(r, dc, sc);
    if (status != DECLINED)
        return status;

    apr_table_do(count_field, &fields, r->headers_in, "Authorization", NULL);
    if (fields == 0) {
        /* The cookie first: it is the client's own, where a connection
         * may be shared. */
        if (n8443_session_resume(r, dc, sc) == OK) {
            note_login_from_env(r, dc, sc, N8443_VIA_SESSION);
            return OK;
        }
        if (resume_connection_login(r, dc, sc))
            return OK;
        return challenge(r);
    }
    /* Whoever sends credentials on a connection is not taken for the one
     * who logged in on it before: the login ends here, whatever becomes
     * of these credentials (n8443_conn_end_on_authorization ended it for
     * the request read from the connection already). */
    n8443_conn_forget(r->connection);
    if (fields > 1) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, N8443LOGNO(015)
                      "more than one Authorization header: 400");
        return HTTP_BAD_REQUEST;
    }
    value = apr_table_get(r->headers_in, "Authorization");

    switch (n8443_authz_parse(value, &authz)) {
    case N8443_AUTHZ_NEGOTIATE:
        break;
    case N8443_AUTHZ_BASIC:
        if (dc->basic_fallback) {
            int st = n8443_basic_login(r, dc, authz.param, authz.param_len);

            if (st == OK)
                note_login_from_env(r, dc, sc, N8443_VIA_BASIC);
            /* A refused password is a 401 like any other: offer both
             * schemes again (RFC 7235 3.1), so the browser asks anew. */
            return st == HTTP_UNAUTHORIZED ? challenge(r) : st;
        }
        /* fall through */
    case N8443_AUTHZ_OTHER:
        /* A scheme this location does not offer: ask again (RFC 7235). */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, N8443LOGNO(016)
                      "Authorization scheme '%.*s' is not offered here",
                      (int)authz.scheme_len > 32 ? 32 : (int)authz.scheme_len,
                      authz.scheme);
        return challenge(r);
    case N8443_AUTHZ_EMPTY:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, N8443LOGNO(017)
                      "empty Negotiate token: 400");
        return HTTP_BAD_REQUEST;
    case N8443_AUTHZ_MALFORMED:
    default:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, N8443LOGNO(018)
                      "malformed Authorization header: 400");
        return HTTP_BAD_REQUEST;
    }

    /* Refuse oversize tokens before decoding a byte of them. */
    if (n8443_base64_decoded_max(authz.param_len) > sc->max_token_size
        + 2) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, N8443LOGNO(019)
                      "Negotiate token of about %" APR_SIZE_T_FMT " bytes is "
                      "over NegotiateMaxTokenSize %" APR_SIZE_T_FMT ": 400",
                      n8443_base64_decoded_max(authz.param_len),
                      sc->max_token_size);
        return HTTP_BAD_REQUEST;
    }
    tok = apr_palloc(r->pool, n8443_base64_decoded_max(authz.param_len) + 1);
    if (n8443_base64_decode(authz.param, authz.param_len, tok,
                            n8443_base64_decoded_max(authz.param_len),
                            &toklen) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, N8443LOGNO(022)
                      "Negotiate token is not valid base64: 400");
        return HTTP_BAD_REQUEST;
    }
    if (toklen > sc->max_token_size) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, N8443LOGNO(023)
                      "Negotiate token of %" APR_SIZE_T_FMT " bytes is over "
                      "NegotiateMaxTokenSize %" APR_SIZE_T_FMT ": 400",
                      toklen, sc->max_token_size);
        return HTTP_BAD_REQUEST;
    }
    return accept_token(r, dc, sc, tok, toklen);
}

int n8443_check_user_id(request_rec *r)
{
    int status = negotiate(r);

    /* Every 400 is malformed input, whichever check found it. */
    if (status == HTTP_BAD_REQUEST)
        count_failure(N8443_CAUSE_MALFORMED);
    return status;
}
