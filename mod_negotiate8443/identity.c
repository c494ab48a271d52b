/*
 * identity.c - from the client's Kerberos principal to r->user, per
 * NegotiateUserName:
 *   principal  alice@EXAMPLE.COM, always;
 *   short      alice when the realm is this host's default realm, the full
 *              principal otherwise (so two realms never collide);
 *   local      krb5's auth_to_local rules (krb5.conf), the full principal
 *              where no rule maps it.
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
    apr_pool_cleanup_register(pchild, ctx, free_context,
                              apr_pool_cleanup_null);
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

static const char *map_local(request_rec *r, const char *principal)
{
    krb5_context ctx = NULL;
    krb5_principal princ = NULL;
    char lname[256];
    const char *user = principal;

    /* A context per call: MIT contexts must not be shared between threads,
     * and this mode is chosen for its rules, not its speed. */
    if (krb5_init_context(&ctx) != 0)
        return principal;
    if (krb5_parse_name(ctx, principal, &princ) != 0)
        goto cleanup;
    if (krb5_aname_to_localname(ctx, princ, sizeof(lname) - 1, lname) == 0)
        user = apr_pstrdup(r->pool, lname);

cleanup:
    if (princ != NULL)
        krb5_free_principal(ctx, princ);
    krb5_free_context(ctx);
    return user;
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
    case N8443_USER_LOCAL:
        return map_local(r, principal);
    case N8443_USER_PRINCIPAL:
    default:
        return apr_pstrdup(r->pool, principal);
    }
}
