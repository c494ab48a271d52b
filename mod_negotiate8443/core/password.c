/*
 * password.c - password check against the KDC, verified with the keytab.
 *
 * Every error on this path is a refusal: the function answers N8443_PW_OK
 * only after krb5_verify_init_creds() has decrypted a service ticket with
 * our own key.
 */
#include "password.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <krb5/krb5.h>

static void set_err(krb5_context ctx, krb5_error_code code, char *err,
                    size_t errlen, const char *what)
{
    const char *msg = code ? krb5_get_error_message(ctx, code) : NULL;

    snprintf(err, errlen, "%s%s%s", what, msg ? ": " : "", msg ? msg : "");
    if (msg != NULL)
        krb5_free_error_message(ctx, msg);
}

/* The first principal in the keytab whose realm is `realm`. */
static krb5_error_code keytab_principal_in(krb5_context ctx, krb5_keytab kt,
                                           const krb5_data *realm,
                                           krb5_principal *out)
{
    krb5_kt_cursor cursor;
    krb5_keytab_entry entry;
    krb5_error_code code;

    code = krb5_kt_start_seq_get(ctx, kt, &cursor);
    if (code != 0)
        return code;
    code = KRB5_KT_NOTFOUND;
    while (krb5_kt_next_entry(ctx, kt, &entry, &cursor) == 0) {
        const krb5_data *r = &entry.principal->realm;
        if (r->length == realm->length
            && memcmp(r->data, realm->data, r->length) == 0) {
            code = krb5_copy_principal(ctx, entry.principal, out);
            krb5_free_keytab_entry_contents(ctx, &entry);
            break;
        }
        krb5_free_keytab_entry_contents(ctx, &entry);
    }
    krb5_kt_end_seq_get(ctx, kt, &cursor);
    return code;
}

n8443_pw_result n8443_password_check(const char *user, const char *password,
                                     const char *keytab,
                                     const char *server_principal,
                                     char **principal_out, char *err,
                                     size_t errlen)
{
    krb5_context ctx = NULL;
    krb5_principal client = NULL, server = NULL;
    krb5_keytab kt = NULL;
    krb5_creds creds;
    krb5_get_init_creds_opt *opts = NULL;
    krb5_verify_init_creds_opt vopts;
    krb5_error_code code;
    int have_creds = 0;
    char *name = NULL;
    n8443_pw_result result = N8443_PW_ERROR;

    memset(&creds, 0, sizeof(creds));
    if (errlen > 0)
        err[0] = '\0';
    code = krb5_init_context(&ctx);
    if (code != 0) {
        snprintf(err, errlen, "cannot make a krb5 context (%d)", (int)code);
        return N8443_PW_ERROR;
    }
    /* Enterprise names and aliases are the KDC's business; the name is
     * parsed strictly: one realm at most. */
    code = krb5_parse_name(ctx, user, &client);
    if (code != 0) {
        set_err(ctx, code, err, errlen, "not a principal name");
        result = N8443_PW_REFUSED;
        goto cleanup;
    }
    code = keytab ? krb5_kt_resolve(ctx, keytab, &kt)
                  : krb5_kt_default(ctx, &kt);
    if (code != 0) {
        set_err(ctx, code, err, errlen, "cannot open the keytab");
        goto cleanup;
    }
    if (server_principal != NULL)
        code = krb5_parse_name(ctx, server_principal, &server);
    else
        code = keytab_principal_in(ctx, kt, &client->realm, &server);
    if (code != 0) {
        set_err(ctx, code, err, errlen, "no service key in the keytab for "
                "the user's realm");
        result = N8443_PW_FOREIGN_REALM;
        goto cleanup;
    }
    if (!krb5_realm_compare(ctx, client, server)) {
        snprintf(err, errlen, "the user's realm is not the realm of the "
                 "service key");
        result = N8443_PW_FOREIGN_REALM;
        goto cleanup;
    }

    code = krb5_get_init_creds_opt_alloc(ctx, &opts);
    if (code != 0)
        goto cleanup;
    krb5_get_init_creds_opt_set_forwardable(opts, 0);
    krb5_get_init_creds_opt_set_proxiable(opts, 0);
    krb5_get_init_creds_opt_set_tkt_life(opts, 300);
    code = krb5_get_init_creds_password(ctx, &creds, client, password, NULL,
                                        NULL, 0, NULL, opts);
    if (code != 0) {
        switch (code) {
        case KRB5_KDC_UNREACH:
        case KRB5_REALM_CANT_RESOLVE:
        case KRB5_REALM_UNKNOWN:
            set_err(ctx, code, err, errlen, "KDC unreachable");
            result = N8443_PW_KDC_UNREACHABLE;
            break;
        default:
            set_err(ctx, code, err, errlen, "KDC refused the password");
            result = N8443_PW_REFUSED;
            break;
        }
        goto cleanup;
    }
    have_creds = 1;

    /* The step that makes this safe: a service ticket for our own key,
     * decrypted with the keytab.  ap_req_nofail: no key, no login. */
    krb5_verify_init_creds_opt_init(&vopts);
    krb5_verify_init_creds_opt_set_ap_req_nofail(&vopts, 1);
    code = krb5_verify_init_creds(ctx, &creds, server, kt, NULL, &vopts);
    if (code != 0) {
        set_err(ctx, code, err, errlen, "the KDC's ticket did not verify "
                "with the service keytab (is it the real KDC?)");
        result = N8443_PW_NOT_VERIFIED;
        goto cleanup;
    }
    code = krb5_unparse_name(ctx, creds.client, &name);
    if (code != 0)
        goto cleanup;
    *principal_out = strdup(name);
    result = *principal_out ? N8443_PW_OK : N8443_PW_ERROR;

cleanup:
    if (name != NULL)
        krb5_free_unparsed_name(ctx, name);
    if (have_creds)
        krb5_free_cred_contents(ctx, &creds);
    if (opts != NULL)
        krb5_get_init_creds_opt_free(ctx, opts);
    if (server != NULL)
        krb5_free_principal(ctx, server);
    if (client != NULL)
        krb5_free_principal(ctx, client);
    if (kt != NULL)
        krb5_kt_close(ctx, kt);
    krb5_free_context(ctx);
    return result;
}
