/*
 * n8443ctl check --online - the client: the user's TGTs copied from
 * --ccache (or KRB5CCNAME) into the private ccache, or else the service
 * key itself (online.client).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_online.h"

/*
 * Client credentials from the user's ticket cache NAME: its TGTs copied
 * into the private ccache (not its service tickets: a ticket cached
 * before a key change would hide the change).  Returns 0, or -1 with the
 * reason in WHY.
 */
static int client_from_ccache(struct online *on, const char *name, char *why,
                              size_t whylen)
{
    krb5_context kctx = on->ctx->kctx;
    krb5_ccache user = NULL;
    krb5_principal princ = NULL;
    krb5_cc_cursor cursor;
    krb5_creds creds;
    krb5_error_code code;
    int started = 0;
    int stored = 0;
    char msg[256];
    time_t now = time(NULL);

    code = krb5_cc_resolve(kctx, name, &user);
    if (code == 0) {
        code = krb5_cc_get_principal(kctx, user, &princ);
    }
    if (code != 0) {
        snprintf(why, whylen, "%s: %s", name,
                 n8443_online_kerr(on, code, msg, sizeof(msg)));
        goto cleanup;
    }
    code = krb5_cc_initialize(kctx, on->cc, princ);
    if (code == 0) {
        code = krb5_cc_start_seq_get(kctx, user, &cursor);
    }
    if (code != 0) {
        snprintf(why, whylen, "%s: %s", name,
                 n8443_online_kerr(on, code, msg, sizeof(msg)));
        goto cleanup;
    }
    started = 1;
    while (krb5_cc_next_cred(kctx, user, &cursor, &creds) == 0) {
        if (!krb5_is_config_principal(kctx, creds.server)
            && creds.server->length == 2 && creds.server->data[0].length == 6
            && memcmp(creds.server->data[0].data, "krbtgt", 6) == 0
            && (time_t)(uint32_t)creds.times.endtime > now
            && krb5_cc_store_cred(kctx, on->cc, &creds) == 0) {
            stored++;
        }
        krb5_free_cred_contents(kctx, &creds);
    }
    if (stored == 0) {
        snprintf(why, whylen, "%s holds no valid ticket-granting ticket", name);
        goto cleanup;
    }
    on->client = princ;
    princ = NULL;
    on->client_how = "the ticket cache";

cleanup:
    if (started) {
        krb5_cc_end_seq_get(kctx, user, &cursor);
    }
    if (princ != NULL) {
        krb5_free_principal(kctx, princ);
    }
    if (user != NULL) {
        krb5_cc_close(kctx, user);
    }
    return on->client != NULL ? 0 : -1;
}

/* Which keytab principal logs in as the client: the server name's SPN if
 * the keytab has it, else its first HTTP/ key, else its first key. */
static const char *service_client_name(const struct n8443_check_ctx *ctx)
{
    const char *first_http = NULL;
    size_t i;

    for (i = 0; i < ctx->kt.n; i++) {
        const struct n8443_kt_entry *e = &ctx->kt.entries[i];

        if (e->service != NULL && strcmp(e->service, "HTTP") == 0) {
            if (strcmp(e->host, ctx->names[0]) == 0
                && (ctx->realm == NULL || strcmp(e->realm, ctx->realm) == 0)) {
                return e->principal;
            }
            if (first_http == NULL) {
                first_http = e->principal;
            }
        }
    }
    return first_http ? first_http : ctx->kt.entries[0].principal;
}

/*
 * Client credentials from the service key: an AS exchange with the
 * keytab, as `kinit -k` does.  It also measures the KDC's clock (the
 * ticket's authtime), and MIT's kdc_timesync makes the context, and the
 * ccache initialised after it, carry the offset.  Returns 0, or -1 after
 * recording online.client.
 */
static int client_from_keytab(struct online *on, const char *note)
{
    struct n8443_check_ctx *ctx = on->ctx;
    krb5_get_init_creds_opt *opt = NULL;
    krb5_principal princ = NULL;
    struct n8443_record *rec;
    krb5_creds creds;
    krb5_error_code code;
    const char *name = service_client_name(ctx);
    char msg[256];
    time_t before;
    time_t after;
    int have_creds = 0;
    int rc = -1;

    memset(&creds, 0, sizeof(creds));
    code = krb5_parse_name(ctx->kctx, name, &princ);
    if (code == 0) {
        code = krb5_get_init_creds_opt_alloc(ctx->kctx, &opt);
    }
    if (code != 0) {
        goto fail;
    }
    krb5_get_init_creds_opt_set_tkt_life(opt, 600);
    krb5_get_init_creds_opt_set_forwardable(opt, 0);
    krb5_get_init_creds_opt_set_proxiable(opt, 0);
    before = time(NULL);
    code = krb5_get_init_creds_keytab(ctx->kctx, &creds, princ, on->kt, 0, NULL,
                                      opt);
    after = time(NULL);
    if (code != 0) {
        goto fail;
    }
    have_creds = 1;
    n8443_online_note_kdc_time(on, creds.times.authtime, before, after);
    code = krb5_cc_initialize(ctx->kctx, on->cc, princ);
    if (code == 0) {
        code = krb5_cc_store_cred(ctx->kctx, on->cc, &creds);
    }
    if (code != 0) {
        goto fail;
    }
    on->client = princ;
    princ = NULL;
    on->client_how = "the service key";
    rc = 0;
    goto cleanup;

fail:
    n8443_online_kerr(on, code, msg, sizeof(msg));
    if (n8443_online_kdc_unreachable(code)) {
        rec = n8443_report_add(
            ctx->rep, "online.client", N8443_SEV_ERROR,
            "no KDC of %s answered (%s): check [realms] kdc in krb5.conf "
            "(or the DNS SRV records) and that port 88 is open",
            ctx->realm ? ctx->realm : "the realm", msg);
        n8443_record_unusable(rec);
    }
    else if (code == KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN) {
        rec = n8443_report_add(
            ctx->rep, "online.client", N8443_SEV_ERROR,
            "the KDC does not know %s, the keytab's principal: it was "
            "deleted or renamed, or the keytab is from another realm or "
            "domain. Create it again and export its key",
            name);
    }
    else if (code == KRB5KDC_ERR_PREAUTH_FAILED
             || code == KRB5KRB_AP_ERR_BAD_INTEGRITY
             || code == KRB5KDC_ERR_ETYPE_NOSUPP) {
        rec = n8443_report_add(
            ctx->rep, "online.client", N8443_SEV_ERROR,
            "the KDC refused the keytab's key for %s (%s): the keytab is "
            "stale (the key changed on the KDC after it was exported: a "
            "second ktadd or randkey, a password reset, a re-join) or "
            "holds another key. Export the current key again (kadmin "
            "ktadd -norandkey, ipa-getkeytab -r, msktutil --update); run "
            "with --ccache (a user's ticket) to see the KDC's kvno",
            name, msg);
        n8443_record_detail_num(ctx->rep, rec, "keytab_kvno",
                                n8443_keytab_newest_kvno(&ctx->kt, name));
    }
    else {
        rec = n8443_report_add(ctx->rep, "online.client", N8443_SEV_ERROR,
                               "cannot get a ticket with the keytab's key "
                               "for %s: %s",
                               name, msg);
    }
    n8443_record_detail(ctx->rep, rec, "client", "%s", name);
    if (note != NULL) {
        n8443_record_detail(ctx->rep, rec, "ccache", "%s", note);
    }

cleanup:
    if (have_creds) {
        krb5_free_cred_contents(ctx->kctx, &creds);
    }
    if (opt != NULL) {
        krb5_get_init_creds_opt_free(ctx->kctx, opt);
    }
    if (princ != NULL) {
        krb5_free_principal(ctx->kctx, princ);
    }
    return rc;
}

/* The client for everything that follows; records online.client. */
int n8443_online_get_client(struct online *on)
{
    struct n8443_check_ctx *ctx = on->ctx;
    struct n8443_record *rec;
    krb5_error_code code;
    char why[512] = "";
    char *unparsed = NULL;

    code = krb5_cc_resolve(ctx->kctx, on->ccache_name, &on->cc);
    if (code != 0) {
        return N8443_IO;
    }
    if (ctx->opts->ccache == NULL
        || client_from_ccache(on, ctx->opts->ccache, why, sizeof(why)) != 0) {
        if (client_from_keytab(on, why[0] ? why : NULL) != 0) {
            return -1;
        }
    }
    if (krb5_unparse_name(ctx->kctx, on->client, &unparsed) != 0) {
        return N8443_IO;
    }
    on->client_name = strdup(unparsed);
    krb5_free_unparsed_name(ctx->kctx, unparsed);
    if (on->client_name == NULL) {
        return N8443_IO;
    }
    /* A ticket cache that was asked for and could not be used is worth
     * a warning: the run went on with the service key instead. */
    rec = n8443_report_add(ctx->rep, "online.client",
                           why[0] ? N8443_SEV_WARNING : N8443_SEV_OK,
                           "got tickets from the KDC as %s, with %s%s",
                           on->client_name, on->client_how,
                           why[0] ? " instead of the ticket cache, which "
                                    "could not be used (see ccache_note): "
                                    "kinit again for a user's view"
                                  : "");
    if (why[0]) {
        n8443_record_detail(ctx->rep, rec, "ccache_note", "%s", why);
    }
    n8443_record_detail(ctx->rep, rec, "client", "%s", on->client_name);
    return N8443_OK;
}
