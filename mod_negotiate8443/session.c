/*
 * session.c - logins that outlive one request (connection logins are in
 * connection.c):
 *
 *   NegotiateSession         the identity travels in a cookie sealed with
 *                            AES-256-GCM (core/sealed_cookie.c) under a key
 *                            a farm shares, expiring at NegotiateSessionMaxAge
 *                            or the ticket's end, whichever comes first.
 *
 * Both end in the same place as a fresh login (identity on the request),
 * and a cookie that does not open (tampered, expired, another key) simply
 * falls back to Negotiate.
 */
#include "n8443_private.h"

#include "apr_file_io.h"
#include "util_cookies.h"
#include "sealed_cookie.h"

#define COOKIE_NAME "n8443_session"
#define COOKIE_ATTRS "Path=/;Secure;HttpOnly;SameSite=Lax"

/* ------------------------------------------------------------- key file */

const char *n8443_session_read_key(apr_pool_t *p, const char *file,
                                   unsigned char *key)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t n = N8443_COOKIE_KEY_LEN;
    apr_status_t rv;

    rv = apr_file_open(&f, file, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, p);
    if (rv != APR_SUCCESS)
        return apr_psprintf(p, "cannot open %s: %pm", file, &rv);
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_PROT, f);
    if (rv == APR_SUCCESS && fi.size != N8443_COOKIE_KEY_LEN) {
        apr_file_close(f);
        return apr_psprintf(p, "%s holds %" APR_OFF_T_FMT " bytes, not %d "
                            "random bytes (make one with: openssl rand "
                            "-out %s 32)", file, fi.size,
                            N8443_COOKIE_KEY_LEN, file);
    }
    if (rv == APR_SUCCESS && (fi.protection & APR_FPROT_WREAD)) {
        apr_file_close(f);
        return apr_psprintf(p, "%s is readable by everyone: anyone who can "
                            "read it can forge sessions (chmod 0600)", file);
    }
    if (rv == APR_SUCCESS)
        rv = apr_file_read_full(f, key, n, &n);
    apr_file_close(f);
    if (rv != APR_SUCCESS || n != N8443_COOKIE_KEY_LEN)
        return apr_psprintf(p, "cannot read %d bytes from %s",
                            N8443_COOKIE_KEY_LEN, file);
    return NULL;
}

/* --------------------------------------------------------------- cookies */

int n8443_session_resume(request_rec *r, const n8443_dir_conf *dc,
                         const n8443_server_conf *sc)
{
    const char *value = NULL;
    n8443_session s;
    n8443_cookie_status st;

    if (!dc->session || !sc->session_key_set)
        return DECLINED;
    /* remove = 1: the application behind never sees our cookie. */
    if (ap_cookie_read(r, COOKIE_NAME, &value, 1) != APR_SUCCESS
        || value == NULL)
        return DECLINED;
    st = n8443_cookie_open(sc->session_key, value, strlen(value),
                           (int64_t)apr_time_sec(apr_time_now()), &s);
    if (st != N8443_COOKIE_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, N8443LOGNO(100)
                      "session cookie %s: falling back to Negotiate",
                      st == N8443_COOKIE_EXPIRED ? "expired"
                      : "does not open (tampered, truncated or another key)");
        return DECLINED;
    }
    /* A cookie sealed under the farm key by a server that let such a name
     * in is refused like a fresh login; the client is asked anew. */
    if (!n8443_principal_clean(r, s.principal, "session cookie"))
        return DECLINED;
    r->user = (char *)n8443_map_user(r, s.principal, dc->user_name);
    r->ap_auth_type = N8443_AUTH_TYPE;
    apr_table_set(r->subprocess_env, "NEGOTIATE_PRINCIPAL",
                  apr_pstrdup(r->pool, s.principal));
    apr_table_set(r->subprocess_env, "NEGOTIATE_MECH", "krb5");
    apr_table_set(r->subprocess_env, "NEGOTIATE_CHANNEL_BOUND",
                  (s.flags & N8443_SESSION_BOUND) ? "true" : "false");
    return OK;
}

void n8443_session_issue(request_rec *r, const n8443_dir_conf *dc,
                         const n8443_server_conf *sc, const char *principal,
                         apr_uint32_t ticket_lifetime, int bound)
{
    char value[N8443_COOKIE_MAX];
    n8443_session s;
    apr_int64_t now = apr_time_sec(apr_time_now());
    long age = dc->session_max_age;

    if (!dc->session || !sc->session_key_set)
        return;
    /* Never beyond the ticket's end: a session must not outlive the
     * Kerberos credentials it stands for. */
    if (ticket_lifetime != GSS_C_INDEFINITE && (long)ticket_lifetime < age)
        age = (long)ticket_lifetime;
    if (age <= 0)
        return;
    memset(&s, 0, sizeof(s));
    s.expires = now + age;
    s.issued = now;
    s.flags = bound ? N8443_SESSION_BOUND : 0;
    if (strlen(principal) > N8443_COOKIE_MAX_PRINCIPAL) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, N8443LOGNO(101)
                      "principal too long for a session cookie; no session");
        return;
    }
    apr_cpystrn(s.principal, principal, sizeof(s.principal));
    if (n8443_cookie_seal(sc->session_key, &s, value, sizeof(value)) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, N8443LOGNO(102)
                      "cannot seal the session cookie; no session");
        return;
    }
    ap_cookie_write(r, COOKIE_NAME, value, COOKIE_ATTRS, age,
                    r->err_headers_out, NULL);
}
