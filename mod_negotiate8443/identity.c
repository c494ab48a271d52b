/*
 * identity.c - from the client's Kerberos principal to r->user, per
 * NegotiateUserName:
 *   principal  alice@EXAMPLE.COM, always;
 *   short      alice when the realm is this host's default realm, the full
 *              principal otherwise (so two realms never collide);
 *   local      krb5's auth_to_local rules (krb5.conf), the full principal
 *              where no rule maps it (or a rule gives a name with '@',
 *              which could be another realm's principal).
 *
 * Every name returned lives in r->pool: the principal passed in may belong
 * to an accept result or a stack frame that is gone before the handler
 * runs.  Names with control bytes never get this far: see
 * n8443_principal_clean().
 */
#include "n8443_private.h"

#include <krb5/krb5.h>

/* The default realm, read once per process: krb5.conf does not change
 * under a running child. */
static const char *default_realm;

static apr_status_t free_context(void *data)
{
    krb5_free_context(data);
    return APR_SUCCESS;
}

/*
 * The context is kept for the child's lifetime, unused, for one reason:
 * MIT frees its parsed krb5.conf when the last context goes, and GSS-API
 * makes about five contexts per login; while one stays alive they share
 * the parsed profile instead of reading and parsing the file each time
 * (measured: 12% fewer instructions per login, bench/README.md).
 */
apr_status_t n8443_identity_child_init(apr_pool_t *pchild, server_rec *s)
{
    krb5_context ctx;
    char *realm;

    if (krb5_init_context(&ctx) != 0)
        return APR_SUCCESS;
    if (krb5_get_default_realm(ctx, &realm) == 0) {
        default_realm = apr_pstrdup(pchild, realm);
        krb5_free_default_realm(ctx, realm);
    }
    apr_pool_cleanup_register(pchild, ctx, free_context, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

/* The realm part of a principal: after the last '@' that is not escaped
 * with a backslash (krb5_unparse_name escapes '@' inside components). */
static const char *realm_of(const char *principal)
{
    const char *p, *at = NULL;

    for (p = principal; *p; p++) {
        if (*p == '\\' && p[1] != '\0')
            p++;
        else if (*p == '@')
            at = p;
    }
    return at;
}

/* The name goes into the message as it is: httpd escapes every error log
 * message (ap_escape_errorlog_item: "\r", "\x01", "\\"), and escaping it
 * here as well would show the administrator "\\r". */
int n8443_principal_clean(request_rec *r, const char *name, const char *how)
{
    if (name != NULL && n8443_name_has_no_control(name))
        return 1;
    ap_log_rerror(
        APLOG_MARK, APLOG_ERR, 0, r,
        N8443LOGNO(230) "login refused (%s): the name \"%s\" contains control "
        "characters (CR, LF, other C0, DEL or C1), which no user "
        "name, header or log line may carry; rename the principal",
        how, name ? name : "(none)");
    return 0;
}

static const char *map_local(request_rec *r, const char *principal)
{
    krb5_context ctx = NULL;
    krb5_principal princ = NULL;
    char lname[256];
    /* Unmapped: the full principal, copied, as every other outcome is. */
    const char *user = NULL;

    /* A context per call: MIT contexts must not be shared between threads,
     * and this mode is chosen for its rules, not its speed. */
    if (krb5_init_context(&ctx) != 0)
        return apr_pstrdup(r->pool, principal);
    if (krb5_parse_name(ctx, principal, &princ) != 0)
        goto cleanup;
    /* MIT's DEFAULT rule gives "carol@OTHER" for the one-component
     * principal carol\@OTHER@HERE: a local name with '@' could be another
     * realm's full principal, so the full principal stands instead. */
    memset(lname, 0, sizeof(lname));
    if (krb5_aname_to_localname(ctx, princ, sizeof(lname) - 1, lname) == 0
        && lname[0] != '\0' && strchr(lname, '@') == NULL)
        user = apr_pstrdup(r->pool, lname);

cleanup:
    if (princ != NULL)
        krb5_free_principal(ctx, princ);
    krb5_free_context(ctx);
    return user != NULL ? user : apr_pstrdup(r->pool, principal);
}

const char *n8443_map_user(request_rec *r, const char *principal,
                           n8443_user_name_mode mode)
{
    const char *at;

    switch (mode) {
    case N8443_USER_SHORT:
        at = realm_of(principal);
        if (at != NULL && default_realm != NULL
            && strcmp(at + 1, default_realm) == 0)
            return apr_pstrmemdup(r->pool, principal, at - principal);
        return apr_pstrdup(r->pool, principal);
    case N8443_USER_LOCAL: return map_local(r, principal);
    case N8443_USER_PRINCIPAL:
    default: return apr_pstrdup(r->pool, principal);
    }
}

/*
 * Put a login on the request: r->user (mapped with NegotiateUserName),
 * the auth type, NEGOTIATE_PRINCIPAL, NEGOTIATE_MECH and
 * NEGOTIATE_CHANNEL_BOUND; and, where sc is given, note the login, how it
 * was made and the scope of this location for the redirects and
 * sub-requests of this request (connection.c).  sc NULL: a login for
 * mod_auth_basic (the authn provider), which sets the auth type itself
 * and whose logins are not reused.
 */
void n8443_identity_set(request_rec *r, const n8443_dir_conf *dc,
                        const n8443_server_conf *sc, const char *principal,
                        const char *mech, int bound, n8443_login_via via)
{
    int basic = strcmp(mech, "basic") == 0;

    r->user = (char *)n8443_map_user(r, principal, dc->user_name);
    if (sc != NULL)
        r->ap_auth_type = basic ? "Basic" : N8443_AUTH_TYPE;
    apr_table_set(r->subprocess_env, "NEGOTIATE_PRINCIPAL", principal);
    apr_table_set(r->subprocess_env, "NEGOTIATE_MECH",
                  basic ? "basic" : "krb5");
    apr_table_set(r->subprocess_env, "NEGOTIATE_CHANNEL_BOUND",
                  bound ? "true" : "false");
    if (sc != NULL)
        n8443_login_note(r, dc, sc, principal, basic ? "basic" : "krb5", bound,
                         via);
}
