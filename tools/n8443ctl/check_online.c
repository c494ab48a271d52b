/*
 * n8443ctl check --online - ask the KDC, and log in once for real.
 *
 * Like `kvno -k`: get a ticket for each SPN and decrypt it with the
 * keytab, which tells a stale keytab (the KDC's kvno is newer) from a
 * wrong key (same kvno, the key does not decrypt).  The client is the
 * user's ticket cache (--ccache, else KRB5CCNAME) or, on a server with no
 * user ticket, the service key itself.  Either way its tickets go into a
 * private FILE ccache in a temporary directory, so nothing cached from
 * before answers for the KDC, the user's cache is not touched, and the
 * KDC time offset MIT learns in the AS exchange travels with it.
 *
 * Then a full SPNEGO round trip: gss_init_sec_context to each name,
 * accepted by core/acceptor.c with the module's settings (keytab,
 * service principal, channel binding), the client completing on the
 * server's answer, and the first token presented again, which must be
 * refused as a replay.  The replay cache is MIT's, in the temporary
 * directory: the tool has none of its own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_online.h"

/* Is the KDC Active Directory, and where is its LDAP?  --ldap-uri, else
 * the site's kerberos.ad_ldap_uri, else N8443CTL_LDAP_URI. */
static const char *ad_ldap_uri(const struct n8443_check_ctx *ctx)
{
    if (ctx->opts->ldap_uri != NULL) {
        return ctx->opts->ldap_uri;
    }
    if (ctx->site != NULL && ctx->site->kerberos.ad_ldap_uri.set) {
        return ctx->site->kerberos.ad_ldap_uri.v;
    }
    return getenv("N8443CTL_LDAP_URI");
}

/* A private directory for the ccache and the replay cache. */
static int make_dir(struct online *on)
{
    const char *tmp = getenv("TMPDIR");

    if (tmp == NULL || *tmp != '/' || strlen(tmp) > 400) {
        tmp = "/tmp";
    }
    snprintf(on->dir, sizeof(on->dir), "%s/n8443ctl-check.XXXXXX", tmp);
    if (mkdtemp(on->dir) == NULL) {
        return -1;
    }
    snprintf(on->ccache_name, sizeof(on->ccache_name), "FILE:%s/ccache",
             on->dir);
    snprintf(on->rcache_name, sizeof(on->rcache_name), "file2:%s/rcache",
             on->dir);
    return 0;
}

int n8443_check_online(struct n8443_check_ctx *ctx)
{
    struct online on;
    struct n8443_record *rec;
    char path[512 + 16];
    char principal[600];
    size_t i;
    int rc = N8443_OK;

    if (!n8443_report_wants_online(ctx->rep)) {
        return N8443_OK;
    }
    /* Needs neither the keytab nor the KDC. */
    if (ctx->from_site_file && n8443_report_wants(ctx->rep, "online.redis")) {
        n8443_check_online_redis(ctx);
    }
    if (!ctx->kt.loaded || ctx->realm == NULL) {
        rec = n8443_report_add(ctx->rep, "online.client", N8443_SEV_ERROR,
                               "the online checks need a readable keytab "
                               "and a realm (see keytab.file and "
                               "krb5.realm)");
        n8443_record_unusable(rec);
        return ctx->rep->failed ? N8443_IO : N8443_OK;
    }
    memset(&on, 0, sizeof(on));
    on.ctx = ctx;
    on.ldap_uri = ad_ldap_uri(ctx);
    if (make_dir(&on) != 0) {
        rec = n8443_report_add(ctx->rep, "online.client", N8443_SEV_ERROR,
                               "cannot create a temporary directory in "
                               "TMPDIR: %s",
                               strerror(errno));
        n8443_record_unusable(rec);
        return ctx->rep->failed ? N8443_IO : N8443_OK;
    }
    if (krb5_kt_resolve(ctx->kctx, ctx->kt.name, &on.kt) != 0) {
        rc = N8443_IO;
        goto cleanup;
    }
#ifndef HAVE_LDAP
    if (on.ldap_uri != NULL) {
        /* Said first: no client or KDC trouble may hide it. */
        n8443_online_check_ad(&on);
    }
#endif
    rc = n8443_online_get_client(&on);
    if (rc != N8443_OK) {
        rc = rc < 0 ? N8443_OK : rc;
        goto cleanup;
    }
    for (i = 0; i < ctx->nnames; i++) {
        snprintf(principal, sizeof(principal), "HTTP/%s@%s", ctx->names[i],
                 ctx->realm);
        if (n8443_report_wants(ctx->rep, "online.kvno")
            || n8443_report_wants(ctx->rep, "online.decrypt")
            || n8443_report_wants(ctx->rep, "online.clock")) {
            n8443_online_check_spn(&on, principal);
        }
    }
    n8443_online_report_clock(&on);
    if (!on.clock_reported) {
        n8443_report_add(ctx->rep, "online.clock", N8443_SEV_WARNING,
                         "could not measure the clock offset from the KDC "
                         "(no ticket came back): see the other online "
                         "checks");
    }
    if (n8443_report_wants(ctx->rep, "online.spnego")
        || n8443_report_wants(ctx->rep, "online.replay")) {
        n8443_online_check_spnego(&on);
    }
#ifdef HAVE_LDAP
    if (on.ldap_uri != NULL) {
        n8443_online_check_ad(&on);
    }
#endif

cleanup:
    if (on.cc != NULL) {
        krb5_cc_destroy(ctx->kctx, on.cc);
    }
    if (on.kt != NULL) {
        krb5_kt_close(ctx->kctx, on.kt);
    }
    if (on.client != NULL) {
        krb5_free_principal(ctx->kctx, on.client);
    }
    free(on.client_name);
    snprintf(path, sizeof(path), "%s/rcache", on.dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/ccache", on.dir);
    unlink(path);
    rmdir(on.dir);
    return rc == N8443_OK && ctx->rep->failed ? N8443_IO : rc;
}
