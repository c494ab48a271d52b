/*
 * n8443ctl - the parts of a rendered vhost that are about users whose
 * login cannot work: the request header limit that lets a large token
 * (a user in many groups) reach the module at all, and the page that
 * tells a user why the login failed and whom to ask.
 *
 * Pure, as render.c: a function of the loaded site file only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msgs.h"
#include "site.h"

#define INDENT1 "    "
#define INDENT2 "        "

/* The URL path the 401 page is served under, in every rendered vhost. */
#define ERROR_PATH "/negotiate8443-error/"

/* The largest NegotiateMaxTokenSize of the sites on SITE's port. */
static long port_max_token(const struct n8443_config *cfg,
                           const struct n8443_site *site)
{
    long max = 0;
    size_t i;

    for (i = 0; i < cfg->nsites; i++) {
        if (cfg->sites[i].listen.v == site->listen.v
            && cfg->sites[i].kerberos.max_token_size.v > max) {
            max = cfg->sites[i].kerberos.max_token_size.v;
        }
    }
    return max;
}

/*
 * The LimitRequestFieldSize for a vhost: what the largest token of any
 * site on the same port needs.  httpd reads request headers before it
 * knows the name-based vhost, with the limit of the port's first
 * (default) vhost, so every vhost of a port carries the same value and
 * whichever comes first lets every site's tokens through.
 */
long n8443_render_field_size(const struct n8443_config *cfg,
                             const struct n8443_site *site)
{
    return n8443_field_size_for_token(port_max_token(cfg, site));
}

/* Server-level limits of one vhost: NegotiateMaxTokenSize where the
 * site sets it, and the header line limit that fits it. */
void n8443_render_limits(const struct n8443_config *cfg,
                         const struct n8443_site *site,
                         struct n8443_buf *out)
{
    const struct n8443_kerberos *krb = &site->kerberos;

    if (krb->max_token_size.set) {
        n8443_buf_printf(out, INDENT1 "NegotiateMaxTokenSize %ld\n",
                         krb->max_token_size.v);
    }
    n8443_buf_printf(out,
                     INDENT1 "# Tokens of users in many groups are large "
                     "(Microsoft documents up to\n"
                     INDENT1 "# 48,000 bytes before base64); httpd's "
                     "default limit of 8190 bytes per\n"
                     INDENT1 "# header line would turn them into a bare "
                     "400.  This fits the largest\n"
                     INDENT1 "# NegotiateMaxTokenSize of the sites on "
                     "port %ld (%ld bytes).\n"
                     INDENT1 "LimitRequestFieldSize %ld\n",
                     site->listen.v, port_max_token(cfg, site),
                     n8443_render_field_size(cfg, site));
}

/* SetEnv values, the Alias and the ErrorDocument of the 401 page. */
void n8443_render_help_server(const struct n8443_site *site,
                              struct n8443_buf *out)
{
    const struct n8443_help *help = &site->help;

    if (!help->present) {
        return;
    }
    n8443_buf_printf(out,
                     "\n"
                     INDENT1 "# A failed login shows a page that says why "
                     "(NEGOTIATE_ERROR) and\n"
                     INDENT1 "# whom to ask (help: in the site file).\n"
                     INDENT1 "SetEnv N8443_HELP_CONTACT \"%s\"\n",
                     help->contact.v);
    if (help->url.set) {
        n8443_buf_printf(out, INDENT1 "SetEnv N8443_HELP_URL \"%s\"\n",
                         help->url.v);
    }
    n8443_buf_printf(out,
                     INDENT1 "Alias \"" ERROR_PATH "\" \"%s/\"\n"
                     INDENT1 "ErrorDocument 401 " ERROR_PATH "401.shtml\n",
                     help->pages.v);
}

/* The page's own location: after every other one, so that it wins over
 * a "/" that needs a login (the page must show without one). */
void n8443_render_help_location(const struct n8443_site *site,
                                struct n8443_buf *out)
{
    if (!site->help.present) {
        return;
    }
    n8443_buf_printf(out,
                     "\n"
                     INDENT1 "# The 401 page: no login, server-side "
                     "includes only (no exec).\n"
                     INDENT1 "<Location \"" ERROR_PATH "\">\n"
                     INDENT2 "AuthType None\n"
                     INDENT2 "Require all granted\n"
                     INDENT2 "Options -Indexes +IncludesNOEXEC\n"
                     INDENT2 "SetOutputFilter INCLUDES\n"
                     INDENT2 "ForceType \"text/html; charset=utf-8\"\n"
                     INDENT2 "Header always set Cache-Control \"no-store\"\n"
                     INDENT1 "</Location>\n"
                     INDENT1 "<Directory \"%s\">\n"
                     INDENT2 "AllowOverride None\n"
                     INDENT2 "Require all granted\n"
                     INDENT1 "</Directory>\n",
                     site->help.pages.v);
}
