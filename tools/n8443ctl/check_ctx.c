/*
 * n8443ctl - the check context: what the check families ask of the site
 * being checked and of its keytab.  A plain library below the families;
 * check.c fills the context and runs them.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"

const char *n8443_check_where(const struct n8443_check_ctx *ctx,
                              struct n8443_pos pos, char *buf, size_t len)
{
    if (ctx->site_file == NULL || pos.line == 0) {
        return NULL;
    }
    snprintf(buf, len, "%s:%d:%d", ctx->site_file, pos.line, pos.col);
    return buf;
}

const char *n8443_check_acceptor_principal(const struct n8443_check_ctx *ctx,
                                           char *buf, size_t len)
{
    const char *spn = ctx->site->kerberos.service_principal.v;

    if (spn == NULL || strcmp(spn, "any") == 0) {
        return NULL;
    }
    if (strcmp(spn, "{HOSTNAME}") == 0) {
        /* As the module: the vhost's ServerName. */
        snprintf(buf, len, "HTTP/%s", ctx->site->server_name.v);
        return buf;
    }
    return spn;
}
