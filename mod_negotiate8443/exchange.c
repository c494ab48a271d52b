/*
 * exchange.c - one request through RFC 4559, each step entered once:
 *
 *   Authorization header (core/authz_header.c)
 *     -> base64 decode, size limits
 *     -> login: keys (credentials.c) and core/login.c (token walk, fast
 *        path or GSS-API, the rules a login must pass, the diagnosis)
 *     -> replay check (rcache.c)
 *     -> identity (identity.c: n8443_identity_set)
 *
 * or the status the contract gives for each way it can go wrong:
 * 400 for input that is not a token, 401 (with the challenge) for
 * everything Kerberos refuses, 403 for plain HTTP under NegotiateRequireTLS.
 * The client learns nothing more than the status; the error log gets one
 * line that names the cause in words an administrator can act on (for a
 * login core/login.c did not accept: refuse.c).
 */
#include "connection.h"

#include "authz_header.h"
#include "encode.h"
#include "replay_key.h"
#include "apr_atomic.h"

#include <stdlib.h>

/* Ask for a (new) token: 401 with the Negotiate challenge, and Basic's
 * where the location falls back to it (challenge.c: also what the 401
 * page learns, and when Negotiate is not offered). */
static int challenge(request_rec *r)
{
    return n8443_challenge(r);
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
            ap_log_rerror(
                APLOG_MARK, APLOG_INFO, 0, r,
                N8443LOGNO(224) "login of %s earlier in this request (internal "
                "redirect or sub-request) not used for %s: %s; "
                "asking for a new token",
                l->principal, r->uri, misfit);
            return challenge(r);
        }
        n8443_identity_set(r, dc, sc, l->principal, l->mech, l->bound, l->via);
        n8443_claims_set(r, l->claims);
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

    if (!dc->connection_auth || !n8443_conn_is_tls(r->connection))
        return 0;
    l = n8443_conn_resume(r, dc, sc);
    if (l == NULL)
        return 0;
    n8443_identity_set(r, dc, sc, l->principal, l->mech, l->bound,
                       N8443_VIA_CONNECTION);
    return 1;
}

/*
 * The replay check, after Kerberos accepted the token: the key is the
 * digest of the encrypted authenticator, so the same authenticator in
 * another envelope is still the same login.  Returns OK, or the status
 * to answer with (401 for a replay, 503 when the cache cannot answer:
 * the module fails closed).
 */
static int check_replay(request_rec *r, n8443_server_conf *sc,
                        const n8443_apreq_info *info, const char *principal,
                        apr_time_t stamp)
{
    unsigned char key[32];

    if (!n8443_rcache_checks(&sc->rc))
        return OK;
    if (n8443_replay_key(info, key) != 0) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            N8443LOGNO(024) "cannot compute the replay key: login refused");
        apr_atomic_inc32(&n8443_stats_get()->backend_errors);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    switch (n8443_rcache_check_and_store(r, &sc->rc, key, principal, stamp)) {
    case N8443_RC_FRESH: return OK;
    case N8443_RC_FORGOTTEN:
        /* Logged and counted by the replay cache (N8443300). */
        return challenge(r);
    case N8443_RC_REPLAY:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      N8443LOGNO(025) "login refused (replay): the "
                      "authenticator of %s was "
                      "presented before (replayed token, kept %ld s)",
                      principal, (long)apr_time_sec(n8443_rc_retention()));
        n8443_count_failure(N8443_CAUSE_REPLAY);
        n8443_refusal_note(r, "replay");
        return challenge(r);
    case N8443_RC_QUOTA:
        /* Logged (once a minute per principal) by the replay cache. */
        apr_table_setn(
            r->err_headers_out, "Retry-After",
            apr_psprintf(r->pool, "%ld", n8443_rc_quota_retry_after()));
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

/* Mutual authentication: the client gets the AP-REP (or SPNEGO's answer)
 * if the mechanism produced one.  A refusal (also a replay) sends none:
 * the client learns only the 401. */
static void send_output(request_rec *r, const gss_buffer_desc *output)
{
    size_t cap;
    char *b64;

    if (output->length == 0)
        return;
    cap = n8443_base64_encoded_len(output->length) + 1;
    b64 = apr_palloc(r->pool, cap);
    if (n8443_base64_encode(output->value, output->length, b64, cap) == 0)
        return;
    apr_table_add(r->err_headers_out, "WWW-Authenticate",
                  apr_pstrcat(r->pool, "Negotiate ", b64, NULL));
}

/*
 * Accept a decoded Negotiate token: the login (core/login.c) with this
 * location's keys and rules, then the replay check, then the identity.
 * Returns OK or an HTTP status.
 */
static int accept_token(request_rec *r, const n8443_dir_conf *dc,
                        n8443_server_conf *sc, const unsigned char *tok,
                        apr_size_t len)
{
    n8443_cred_key key;
    n8443_creds *creds;
    n8443_login_keys keys;
    n8443_login_result lr;
    struct gss_channel_bindings_struct cb;
    int status, have_cb, mode = 0;

    /* S4U2Proxy evidence and MIT's own replay cache are GSS-API's alone. */
    if (dc->fast_path && !dc->constrained_delegation
        && sc->rc.backend != N8443_RC_KRB5)
        mode |= N8443_LOGIN_FAST_PATH;
    if (dc->channel_binding == N8443_CB_REQUIRE)
        mode |= N8443_LOGIN_REQUIRE_BINDING;
    if (dc->allow_anonymous)
        mode |= N8443_LOGIN_ALLOW_ANONYMOUS;

    /* The replay cache's watermark wants the authenticator's time (on
     * the GSS-API path a second decryption: only while it matters). */
    if (n8443_rcache_wants_stamp(&sc->rc))
        mode |= N8443_LOGIN_STAMP;

    n8443_cred_key_for(r, dc, sc, &key);
    creds = n8443_creds_get(
        r, &key, mode & (N8443_LOGIN_FAST_PATH | N8443_LOGIN_STAMP), &keys);
    if (creds == NULL) {
        /* No keys to check the login with (keytab gone, GSS-Proxy down):
         * logged by n8443_creds_get; the client may try again later. */
        apr_atomic_inc32(&n8443_stats_get()->backend_errors);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    have_cb = dc->channel_binding != N8443_CB_OFF && n8443_binding_for(r, &cb);
    n8443_login_accept(&keys, tok, len, have_cb ? &cb : NULL, mode, &lr);
    n8443_creds_release(creds, &keys);

    if (lr.verdict != N8443_LOGIN_ACCEPTED) {
        status = n8443_refuse_login(r, &keys, &lr, have_cb ? &cb : NULL);
        if (lr.verdict == N8443_LOGIN_CONTINUE)
            send_output(r, &lr.acc.output);
        n8443_login_result_clear(&lr);
        return status;
    }

    status = check_replay(r, sc, &lr.info, lr.principal, (apr_time_t)lr.stamp);
    if (status == OK) {
        /* Both paths report MIT's lifetime, with the skew's grace:
         * a connection login or session ends with the ticket. */
        OM_uint32 left =
            n8443_ticket_left(lr.acc.lifetime, n8443_instance.clock_skew);

        n8443_identity_set(r, dc, sc, lr.principal, "krb5", lr.bound,
                           N8443_VIA_TOKEN);
        n8443_claims_set(r, n8443_claims_make(r, &lr.acc.claims));
        if (dc->connection_auth && n8443_conn_is_tls(r->connection))
            n8443_conn_remember(r, n8443_login_of(r), left);
        n8443_session_issue(r, dc, sc, lr.principal, left, lr.bound);
        hand_over_credentials(r, dc, sc, &lr.acc);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      N8443LOGNO(001) "login of %s accepted (krb5)%s%s",
                      lr.principal, lr.fast ? " by the fast path" : "",
                      !lr.bound ? ""
                      : lr.acc.cb_addrtype == GSS_C_AF_NULLADDR
                          ? ", bound (GSS_C_AF_NULLADDR)"
                          : ", bound (GSS_C_AF_UNSPEC)");
        apr_atomic_inc32(&n8443_stats_get()->logins);
        if (lr.fast)
            apr_atomic_inc32(&n8443_stats_get()->logins_fast_path);
        send_output(r, &lr.acc.output);
    }
    n8443_login_result_clear(&lr);
    return status;
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
    sc = ap_get_module_config(r->server->module_config, &negotiate8443_module);

    if (dc->require_tls != N8443_TLS_OFF
        && !n8443_request_is_https(r, dc, NULL)) {
        if (dc->require_tls == N8443_TLS_TRUSTED_PROXY)
            ap_log_rerror(
                APLOG_MARK, APLOG_ERR, 0, r,
                N8443LOGNO(360) "Negotiate over plain HTTP refused (403): "
                "NegotiateRequireTLS TrustedProxy believes "
                "X-Forwarded-Proto: https only from a "
                "NegotiateTrustedProxy address, and %s",
                n8443_peer_is_trusted_proxy(r)
                    ? "this proxy did not send exactly one "
                      "X-Forwarded-Proto: https"
                    : apr_pstrcat(r->pool,
                                  "this connection comes "
                                  "from ",
                                  r->connection->client_ip,
                                  ", which is not one", NULL));
        else
            ap_log_rerror(
                APLOG_MARK, APLOG_ERR, 0, r,
                N8443LOGNO(002) "Negotiate over plain HTTP refused (403): "
                "NegotiateRequireTLS is On; use https://");
        return HTTP_FORBIDDEN;
    }

    status = reuse_earlier_login(r, dc, sc);
    if (status != DECLINED)
        return status;
    apr_table_setn(r->notes, N8443_TRIED_NOTE, "1");

    apr_table_do(count_field, &fields, r->headers_in, "Authorization", NULL);
    if (fields == 0) {
        /* The cookie first: it is the client's own, where a connection
         * may be shared. */
        if (n8443_session_resume(r, dc, sc) == OK)
            return OK;
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
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            N8443LOGNO(015) "more than one Authorization header: 400");
        return HTTP_BAD_REQUEST;
    }
    value = apr_table_get(r->headers_in, "Authorization");

    switch (n8443_authz_parse(value, &authz)) {
    case N8443_AUTHZ_NEGOTIATE: break;
    case N8443_AUTHZ_BASIC:
        if (dc->basic_fallback) {
            int st = n8443_basic_login(r, dc, sc, authz.param, authz.param_len);

            /* A refused password is a 401 like any other: offer both
             * schemes again (RFC 7235 3.1), so the browser asks anew. */
            if (st == HTTP_UNAUTHORIZED)
                n8443_refusal_note(r, "bad_password");
            return st == HTTP_UNAUTHORIZED ? challenge(r) : st;
        }
        /* fall through */
    case N8443_AUTHZ_OTHER:
        /* A scheme this location does not offer: ask again (RFC 7235). */
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            N8443LOGNO(016) "Authorization scheme '%.*s' is not offered here",
            (int)authz.scheme_len > 32 ? 32 : (int)authz.scheme_len,
            authz.scheme);
        n8443_refusal_note(r, "unsupported_scheme");
        return challenge(r);
    case N8443_AUTHZ_EMPTY:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      N8443LOGNO(017) "empty Negotiate token: 400");
        return HTTP_BAD_REQUEST;
    case N8443_AUTHZ_MALFORMED:
    default:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      N8443LOGNO(018) "malformed Authorization header: 400");
        return HTTP_BAD_REQUEST;
    }

    /* Refuse oversize tokens before decoding a byte of them. */
    if (n8443_base64_decoded_max(authz.param_len) > sc->max_token_size + 2) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            N8443LOGNO(019) "Negotiate token of about %" APR_SIZE_T_FMT
            " bytes is "
            "over NegotiateMaxTokenSize %" APR_SIZE_T_FMT ": 400",
            n8443_base64_decoded_max(authz.param_len), sc->max_token_size);
        return HTTP_BAD_REQUEST;
    }
    tok = apr_palloc(r->pool, n8443_base64_decoded_max(authz.param_len) + 1);
    if (n8443_base64_decode(authz.param, authz.param_len, tok,
                            n8443_base64_decoded_max(authz.param_len), &toklen)
        != 0) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            N8443LOGNO(022) "Negotiate token is not valid base64: 400");
        return HTTP_BAD_REQUEST;
    }
    if (toklen > sc->max_token_size) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      N8443LOGNO(023) "Negotiate token of %" APR_SIZE_T_FMT
                      " bytes is over "
                      "NegotiateMaxTokenSize %" APR_SIZE_T_FMT ": 400",
                      toklen, sc->max_token_size);
        return HTTP_BAD_REQUEST;
    }
    return accept_token(r, dc, sc, tok, toklen);
}

/*
 * note_auth_failure hook (as mod_auth_basic has one): a 401 decided after
 * the login (mod_authz_core, for a Require the client does not meet)
 * carries the challenge too, so the client is asked for another login.
 * The answer of a login that does not count (mutual authentication's
 * AP-REP) is dropped: the 401 has the challenge alone.
 */
int n8443_note_auth_failure(request_rec *r, const char *auth_type)
{
    if (strcasecmp(auth_type, N8443_AUTH_TYPE) != 0)
        return DECLINED;
    apr_table_unset(r->err_headers_out, "WWW-Authenticate");
    if (r->user != NULL)
        n8443_refusal_note(r, "not_authorized");
    challenge(r);
    return OK;
}

int n8443_check_user_id(request_rec *r)
{
    int status = negotiate(r);

    /* Every 400 is malformed input, whichever check found it. */
    if (status == HTTP_BAD_REQUEST) {
        n8443_count_failure(N8443_CAUSE_MALFORMED);
        n8443_refusal_note(r, "malformed");
        n8443_refusal_env(r);
    }
    return status;
}
