/*
 * basic.c - passwords: the Basic fallback of AuthType Negotiate
 * (NegotiateBasicFallback On) and the "negotiate8443" authn provider for
 * AuthType Basic.  Both check the password with core/password.c: a ticket
 * from the KDC, verified against the keytab.
 */
#include "n8443_private.h"

#include "mod_auth.h"
#include "password.h"
#include "authz_header.h"
#include "apr_atomic.h"

#include <stdlib.h>

/* Longer names and passwords than any directory allows are refused
 * before the KDC is asked. */
#define MAX_USER     256
#define MAX_PASSWORD 1024

/* Is s[0..len) well-formed UTF-8 (no overlongs, no surrogates)? */
static int valid_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0, k, n;
    unsigned int cp;

    while (i < len) {
        unsigned char c = s[i];

        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        }
        else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        }
        else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        }
        else {
            return 0;
        }
        if (n > len - i - 1)
            return 0;
        for (k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800)
            || (n == 3 && (cp < 0x10000 || cp > 0x10ffff))
            || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n + 1;
    }
    return 1;
}

/*
 * Check a user name and password for request r.  Returns OK with
 * *principal_out set (pool memory), or HTTP_UNAUTHORIZED after logging
 * why.  The password is wiped from the pool copy when done.
 */
static int check_password(request_rec *r, const n8443_dir_conf *dc,
                          const char *user, apr_size_t user_len,
                          const char *pass, apr_size_t pass_len,
                          const char **principal_out)
{
    n8443_cred_key key;
    const n8443_server_conf *sc =
        ap_get_module_config(r->server->module_config, &negotiate8443_module);
    char *u, *pw, *principal = NULL;
    char err[512];
    n8443_pw_result res;

    if (user_len == 0 || user_len > MAX_USER || pass_len == 0
        || pass_len > MAX_PASSWORD
        || !valid_utf8((const unsigned char *)user, user_len)
        || !valid_utf8((const unsigned char *)pass, pass_len)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      N8443LOGNO(080) "Basic login refused: empty, over-long "
                      "or non-UTF-8 "
                      "user name or password");
        return HTTP_UNAUTHORIZED;
    }
    u = apr_pstrmemdup(r->pool, user, user_len);
    /* Refused before the KDC is asked: mod_auth_basic makes the typed name
     * r->user for the authn provider.  (A NUL cannot get here: the
     * fallback's n8443_basic_split refuses control bytes, and the provider
     * gets a C string.) */
    if (!n8443_principal_clean(r, u, "basic"))
        return HTTP_UNAUTHORIZED;
    pw = apr_pstrmemdup(r->pool, pass, pass_len);
    n8443_cred_key_for(r, dc, sc, &key);
    res = n8443_password_check(u, pw, key.keytab, key.principal, &principal,
                               err, sizeof(err));
    memset(pw, 0, pass_len);
    if (res != N8443_PW_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      N8443LOGNO(081) "Basic login of '%s' refused (%s): %s",
                      ap_escape_logitem(r->pool, u),
                      res == N8443_PW_REFUSED           ? "password"
                      : res == N8443_PW_FOREIGN_REALM   ? "realm not served"
                      : res == N8443_PW_KDC_UNREACHABLE ? "KDC unreachable"
                      : res == N8443_PW_NOT_VERIFIED    ? "KDC not verified"
                                                        : "error",
                      err);
        return HTTP_UNAUTHORIZED;
    }
    *principal_out = apr_pstrdup(r->pool, principal);
    free(principal);
    /* The KDC's name for it (canonicalised) must be clean as well. */
    if (!n8443_principal_clean(r, *principal_out, "basic"))
        return HTTP_UNAUTHORIZED;
    return OK;
}

int n8443_basic_login(request_rec *r, const n8443_dir_conf *dc,
                      const n8443_server_conf *sc, const char *param,
                      apr_size_t param_len)
{
    unsigned char *buf;
    apr_size_t len;
    const char *user, *pass, *principal;
    apr_size_t user_len, pass_len;
    int status;

    buf = apr_palloc(r->pool, n8443_base64_decoded_max(param_len) + 1);
    if (n8443_base64_decode(param, param_len, buf,
                            n8443_base64_decoded_max(param_len), &len)
            != 0
        || n8443_basic_split(buf, len, &user, &user_len, &pass, &pass_len)
               != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      N8443LOGNO(082) "malformed Basic credentials: 400");
        return HTTP_BAD_REQUEST;
    }
    status = check_password(r, dc, user, user_len, pass, pass_len, &principal);
    memset(buf, 0, len);
    if (status != OK)
        return status;
    n8443_identity_set(r, dc, sc, principal, "basic", 0, N8443_VIA_BASIC);
    apr_atomic_inc32(&n8443_stats_get()->logins);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  N8443LOGNO(083) "login of %s accepted (basic, verified with "
                  "the keytab)",
                  principal);
    return OK;
}

/* The authn provider: AuthType Basic + AuthBasicProvider negotiate8443. */
static authn_status provider_check_password(request_rec *r, const char *user,
                                            const char *password)
{
    const n8443_dir_conf *dc =
        ap_get_module_config(r->per_dir_config, &negotiate8443_module);
    const char *principal;

    if (check_password(r, dc, user, strlen(user), password, strlen(password),
                       &principal)
        != OK) {
        /* mod_auth_basic has made the typed name r->user already, and it
         * stays there for the 401 (logs, "Header always" expressions):
         * a name with control bytes must not. */
        if (r->user != NULL && !n8443_name_has_no_control(r->user))
            r->user = NULL;
        return AUTH_DENIED;
    }
    /* mod_auth_basic leaves r->user as the provider sets it: make it the
     * verified principal mapped with NegotiateUserName, as the fallback
     * does, so that "Require (not) user" and REMOTE_USER see the same name
     * however the client typed it ("alice" or "alice@REALM"). */
    n8443_identity_set(r, dc, NULL, principal, "basic", 0, N8443_VIA_BASIC);
    apr_atomic_inc32(&n8443_stats_get()->logins);
    return AUTH_GRANTED;
}

static const authn_provider n8443_authn_provider = {provider_check_password,
                                                    NULL};

void n8443_basic_register(apr_pool_t *p)
{
    ap_register_auth_provider(p, AUTHN_PROVIDER_GROUP, "negotiate8443",
                              AUTHN_PROVIDER_VERSION, &n8443_authn_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
}
