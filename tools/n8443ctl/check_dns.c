/*
 * n8443ctl check - DNS: each name resolves, and the name browsers build
 * the SPN from.
 *
 * Chrome, Edge and Firefox ask for HTTP/<canonical name>: they resolve
 * the host of the URL and, when it is an alias (a DNS CNAME, or a second
 * name on a hosts line), use the name it points to.  So the keytab needs
 * a key for the canonical name, not only for the name in the address
 * bar.  getaddrinfo(AI_CANONNAME) gives what the browser sees (it follows
 * /etc/hosts as well as DNS); res_query says whether DNS has a CNAME.
 */
#include <arpa/nameser.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "check.h"

static void check_name(struct n8443_check_ctx *ctx, const char *name)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    struct n8443_record *rec;
    char canon[NS_MAXDNAME];
    char cname[NS_MAXDNAME];
    int have_cname;
    int gai;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_CANONNAME;
    gai = getaddrinfo(name, NULL, &hints, &res);
    if (gai != 0) {
        rec = n8443_report_add(
            ctx->rep, "dns.resolve", N8443_SEV_ERROR,
            "%s does not resolve (%s): browsers cannot reach the site by "
            "this name, and Kerberos clients cannot build its SPN. Add an "
            "A/AAAA record (or a CNAME to a name that has one)",
            name, gai_strerror(gai));
        n8443_record_detail(ctx->rep, rec, "name", "%s", name);
        if (gai == EAI_AGAIN || gai == EAI_FAIL) {
            /* The resolver did not answer: a service not reached. */
            n8443_record_unusable(rec);
        }
        return;
    }
    snprintf(canon, sizeof(canon), "%s",
             res->ai_canonname ? res->ai_canonname : name);
    freeaddrinfo(res);
    rec = n8443_report_add(ctx->rep, "dns.resolve", N8443_SEV_OK, "%s resolves",
                           name);
    n8443_record_detail(ctx->rep, rec, "name", "%s", name);

    if (!n8443_report_wants(ctx->rep, "dns.canonical")) {
        return;
    }
    have_cname = n8443_dns_cname(name, cname, sizeof(cname)) == 0;
    if (n8443_same_host(canon, name)) {
        rec = n8443_report_add(ctx->rep, "dns.canonical", N8443_SEV_OK,
                               "%s is its own canonical name: browsers ask "
                               "for HTTP/%s",
                               name, name);
    }
    else if (!ctx->kt.loaded
             || n8443_keytab_has(&ctx->kt, "HTTP", canon, ctx->realm)) {
        rec = n8443_report_add(
            ctx->rep, "dns.canonical", N8443_SEV_OK,
            "%s is an alias of %s%s: browsers ask for HTTP/%s, %s", name, canon,
            have_cname ? " (DNS CNAME)" : "", canon,
            ctx->kt.loaded ? "which the keytab has"
                           : "(the keytab could not be read)");
    }
    else {
        rec = n8443_report_add(
            ctx->rep, "dns.canonical", N8443_SEV_ERROR,
            "%s is an alias of %s%s: Chrome, Edge and Firefox ask for "
            "HTTP/%s@%s, which is not in the keytab, so logins by %s "
            "fail. Export a key for HTTP/%s too (or make %s an A record)",
            name, canon, have_cname ? " (DNS CNAME)" : " (hosts file)", canon,
            ctx->realm ? ctx->realm : "REALM", name, canon, name);
    }
    n8443_record_detail(ctx->rep, rec, "name", "%s", name);
    n8443_record_detail(ctx->rep, rec, "canonical", "%s", canon);
    if (have_cname) {
        n8443_record_detail(ctx->rep, rec, "cname", "%s", cname);
    }
}

int n8443_check_dns(struct n8443_check_ctx *ctx)
{
    size_t i;

    if (!n8443_report_wants(ctx->rep, "dns.resolve")
        && !n8443_report_wants(ctx->rep, "dns.canonical")) {
        return N8443_OK;
    }
    for (i = 0; i < ctx->nnames; i++) {
        check_name(ctx, ctx->names[i]);
    }
    return ctx->rep->failed ? N8443_IO : N8443_OK;
}
