/*
 * challenge.c - what a client is asked for, and told, when it is not
 * (yet) logged in:
 *
 *   - the challenge of a 401: "WWW-Authenticate: Negotiate", unless the
 *     request has negotiate8443-no-negotiate in its environment or, under
 *     NegotiateOnce, already sent a Negotiate token that failed (a browser
 *     that cannot do Kerberos would otherwise loop or pop up prompts);
 *     Basic's where NegotiateBasicFallback is On;
 *   - NEGOTIATE_ERROR (a stable word) and NEGOTIATE_ERROR_TEXT (a sentence
 *     for the user, nothing secret) in the environment of every 401 and
 *     400 the module answers, for an ErrorDocument (SSI or CGI; after the
 *     internal redirect httpd names them REDIRECT_NEGOTIATE_ERROR...);
 *   - NegotiateOptional: authentication only for a request that brings
 *     credentials, where the location lets anonymous requests in.
 */
#include "connection.h"
#include "authz_header.h"
#include "refusal.h"

#define ERROR_NOTE "negotiate8443-error"

void n8443_refusal_note(request_rec *r, const char *word)
{
    apr_table_setn(r->notes, ERROR_NOTE, word);
}

/* NEGOTIATE_ERROR and NEGOTIATE_ERROR_TEXT for this request's answer:
 * the noted reason, else "no_token". */
void n8443_refusal_env(request_rec *r)
{
    const char *word = apr_table_get(r->notes, ERROR_NOTE);
    const char *text;

    if (word == NULL)
        word = "no_token";
    text = n8443_refusal_text(word);
    if (text == NULL) {
        word = "other";
        text = n8443_refusal_text(word);
    }
    apr_table_setn(r->subprocess_env, "NEGOTIATE_ERROR", word);
    apr_table_setn(r->subprocess_env, "NEGOTIATE_ERROR_TEXT", text);
}

/* What the request's Authorization header is (core/authz_header.c, as
 * exchange.c reads it); MALFORMED when there is none. */
static n8443_authz_kind authz_kind(request_rec *r)
{
    const char *v = apr_table_get(r->headers_in, "Authorization");

    return v != NULL ? n8443_authz_parse(v, NULL) : N8443_AUTHZ_MALFORMED;
}

int n8443_challenge(request_rec *r)
{
    const n8443_dir_conf *dc =
        ap_get_module_config(r->per_dir_config, &negotiate8443_module);
    const char *realm;
    int offered = 0;

    n8443_refusal_env(r);
    if (apr_table_get(r->subprocess_env, "negotiate8443-no-negotiate")) {
        ap_log_rerror(
            APLOG_MARK, APLOG_DEBUG, 0, r,
            N8443LOGNO(340) "negotiate8443-no-negotiate is set: Negotiate is "
            "not offered");
    }
    else if (dc->negotiate_once && authz_kind(r) == N8443_AUTHZ_NEGOTIATE) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            N8443LOGNO(341) "NegotiateOnce: the client's Negotiate token did "
            "not log in (%s), so Negotiate is not offered again",
            apr_table_get(r->subprocess_env, "NEGOTIATE_ERROR"));
    }
    else {
        apr_table_add(r->err_headers_out, "WWW-Authenticate", "Negotiate");
        offered = 1;
    }
    if (dc->basic_fallback) {
        realm = ap_auth_name(r);
        apr_table_add(
            r->err_headers_out, "WWW-Authenticate",
            apr_pstrcat(r->pool, "Basic realm=\"",
                        ap_escape_quotes(r->pool, realm ? realm : "Kerberos"),
                        "\"", NULL));
        offered = 1;
    }
    if (!offered)
        ap_log_rerror(
            APLOG_MARK, APLOG_DEBUG, 0, r,
            N8443LOGNO(342) "401 without a challenge: no login scheme is "
            "offered to this client");
    return HTTP_UNAUTHORIZED;
}

/* Does the request's Authorization use a scheme this location takes
 * (Negotiate; Basic under NegotiateBasicFallback)?  Another scheme (an
 * application's own Bearer, say) leaves an optional location anonymous. */
static int offers_scheme(request_rec *r, const n8443_dir_conf *dc)
{
    n8443_authz_kind kind = authz_kind(r);

    return kind == N8443_AUTHZ_NEGOTIATE
           || (dc->basic_fallback && kind == N8443_AUTHZ_BASIC);
}

/*
 * force_authn hook, for NegotiateOptional: httpd asks for authentication
 * only where the Require lines need a user.  Where they let anonymous
 * requests in (Require all granted), a request that brings credentials
 * (Authorization, our session cookie, a connection login) is still
 * logged in; one without goes on anonymous, without REMOTE_USER.
 *
 * An internal redirect (an ErrorDocument) or sub-request of a request
 * whose credentials were looked at and did not log in goes on anonymous
 * too: the redirect carries the same Authorization header, and running
 * it again would check a refused token twice (a replay, a second 401
 * despite NegotiateOnce) or send a refused password to the KDC twice
 * (twice the count towards an account lockout).
 */
static int earlier_refused(request_rec *r)
{
    request_rec *prev;
    int tried = 0;

    for (prev = r->prev ? r->prev : r->main; prev != NULL;
         prev = prev->prev ? prev->prev : prev->main) {
        if (n8443_login_of(prev) != NULL)
            return 0;
        if (apr_table_get(prev->notes, N8443_TRIED_NOTE) != NULL)
            tried = 1;
    }
    return tried;
}

int n8443_force_authn(request_rec *r)
{
    const n8443_dir_conf *dc;
    const char *type = ap_auth_type(r), *cookie;
    request_rec *first = r;

    if (type == NULL || strcasecmp(type, N8443_AUTH_TYPE) != 0)
        return DECLINED;
    dc = ap_get_module_config(r->per_dir_config, &negotiate8443_module);
    if (!dc->optional)
        return DECLINED;
    if (earlier_refused(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      N8443LOGNO(430) "%s: the credentials of this request did "
                      "not log in "
                      "before its internal redirect or sub-request; not "
                      "tried again, anonymous at this optional location",
                      r->uri);
        return DECLINED;
    }
    if (offers_scheme(r, dc))
        return OK;
    while (first->main != NULL || first->prev != NULL)
        first = first->main != NULL ? first->main : first->prev;
    cookie = apr_table_get(first->notes, N8443_SESSION_COOKIE_NOTE);
    if (dc->session && cookie != NULL && *cookie != '\0')
        return OK;
    if (dc->connection_auth && n8443_conn_has_login(r->connection))
        return OK;
    return DECLINED;
}

/* ---------------------------------------------------------- directives */

const char *n8443_set_negotiate_once(cmd_parms *cmd, void *dconf, int flag)
{
    n8443_dir_conf *conf = dconf;

    (void)cmd;
    conf->negotiate_once = flag;
    conf->negotiate_once_set = 1;
    return NULL;
}

const char *n8443_set_optional(cmd_parms *cmd, void *dconf, int flag)
{
    n8443_dir_conf *conf = dconf;

    (void)cmd;
    conf->optional = flag;
    conf->optional_set = 1;
    return NULL;
}

void n8443_challenge_merge(n8443_dir_conf *conf, const n8443_dir_conf *base,
                           const n8443_dir_conf *add)
{
    conf->negotiate_once =
        add->negotiate_once_set ? add->negotiate_once : base->negotiate_once;
    conf->negotiate_once_set =
        add->negotiate_once_set || base->negotiate_once_set;
    conf->optional = add->optional_set ? add->optional : base->optional;
    conf->optional_set = add->optional_set || base->optional_set;
}
