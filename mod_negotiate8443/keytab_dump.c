/*
 * keytab_dump.c - which keys a keytab holds, in one log line, for a
 * login refused for want of the right key (exchange.c).
 */
#include "n8443_private.h"

#include <krb5/krb5.h>

void n8443_log_keytab_contents(request_rec *r, const char *keytab,
                               const char *asked_principal)
{
    krb5_context ctx = NULL;
    krb5_keytab kt = NULL;
    krb5_kt_cursor cursor;
    krb5_keytab_entry entry;
    int have_cursor = 0;
    char *pname = NULL;
    char etype[64];
    const char *held = "";
    int n = 0;

    if (krb5_init_context(&ctx) != 0)
        return;
    if ((keytab ? krb5_kt_resolve(ctx, keytab, &kt) : krb5_kt_default(ctx, &kt))
        != 0)
        goto cleanup;
    if (krb5_kt_start_seq_get(ctx, kt, &cursor) != 0)
        goto cleanup;
    have_cursor = 1;
    /* Bounded: a log line, not a dump of a 10,000-key keytab. */
    while (n < 32 && krb5_kt_next_entry(ctx, kt, &entry, &cursor) == 0) {
        if (krb5_unparse_name(ctx, entry.principal, &pname) == 0) {
            if (krb5_enctype_to_name(entry.key.enctype, 1, etype, sizeof(etype))
                != 0)
                apr_snprintf(etype, sizeof(etype), "%d",
                             (int)entry.key.enctype);
            held = apr_psprintf(r->pool, "%s%s%s kvno %u %s", held,
                                *held ? ", " : "", pname, (unsigned)entry.vno,
                                etype);
            krb5_free_unparsed_name(ctx, pname);
            n++;
        }
        krb5_free_keytab_entry_contents(ctx, &entry);
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  N8443LOGNO(034) "client asked for %s; keytab %s holds: %s",
                  asked_principal, keytab ? keytab : "(default)",
                  *held ? held : "no keys");

cleanup:
    if (have_cursor)
        krb5_kt_end_seq_get(ctx, kt, &cursor);
    if (kt != NULL)
        krb5_kt_close(ctx, kt);
    krb5_free_context(ctx);
}
