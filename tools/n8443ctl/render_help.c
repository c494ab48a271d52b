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
/* The page under it (pages/401.shtml). */
#define PAGE_FILE "401.shtml"
/* The module's counters. */
#define STATUS_PATH "/negotiate8443-status"

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
                         const struct n8443_site *site, struct n8443_buf *out)
{
    const struct n8443_kerberos *krb = &site->kerberos;

    if (krb->max_token_size.set) {
        n8443_buf_printf(out, INDENT1 "NegotiateMaxTokenSize %ld\n",
                         krb->max_token_size.v);
    }
    n8443_buf_printf(out,
                     INDENT1 "# Tokens of users in many groups are large "
                             "(Microsoft documents up to\n" INDENT1
                             "# 48,000 bytes before base64); httpd's "
                             "default limit of 8190 bytes per\n" INDENT1
                             "# header line would turn them into a bare "
                             "400.  This fits the largest\n" INDENT1
                             "# NegotiateMaxTokenSize of the sites on "
                             "port %ld (%ld bytes).\n" INDENT1
                             "LimitRequestFieldSize %ld\n",
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
                     "\n" INDENT1 "# A failed login shows a page that says why "
                     "(NEGOTIATE_ERROR) and\n" INDENT1
                     "# whom to ask (help: in the site file).\n" INDENT1
                     "SetEnv N8443_HELP_CONTACT \"%s\"\n",
                     help->contact.v);
    if (help->url.set) {
        n8443_buf_printf(out, INDENT1 "SetEnv N8443_HELP_URL \"%s\"\n",
                         help->url.v);
    }
    /* The page file alone, never its directory: whatever else 'pages'
     * holds is not published. */
    n8443_buf_printf(out,
                     INDENT1 "Alias \"" ERROR_PATH PAGE_FILE "\" "
                             "\"%s/" PAGE_FILE "\"\n" INDENT1
                             "ErrorDocument 401 " ERROR_PATH PAGE_FILE "\n",
                     help->pages.v);
}

/* Does SITE proxy any of its locations (ProxyPass in a <Location>)? */
static int site_proxies(const struct n8443_site *site)
{
    size_t i;

    for (i = 0; i < site->nlocations; i++) {
        if (site->locations[i].proxy.set) {
            return 1;
        }
    }
    return 0;
}

/*
 * Where render puts the module's own locations (the counters, the 401
 * page): after the site's, so that they win over a <Location "/"> that
 * proxies or needs a login -- except the site locations under the page's
 * path, which come after the page's (they keep their login).  One under
 * the counters' path stays before them: it gets "Require local" too
 * (with the handler it would inherit, it must).
 */
int n8443_render_under_page_path(const char *path)
{
    return strncmp(path, ERROR_PATH, strlen(ERROR_PATH)) == 0;
}

/* The module's counters (JSON), for this host only.  The handler has no
 * access control of its own.  Never proxied: mod_proxy maps URLs
 * before mod_alias and the handler, and a ProxyPass of "/" would be
 * inherited here. */
void n8443_render_status_location(const struct n8443_site *site,
                                  struct n8443_buf *out)
{
    n8443_buf_puts(out,
                   "\n" INDENT1
                   "# The module's counters (JSON): this host only.\n" INDENT1
                   "<Location \"" STATUS_PATH "\">\n" INDENT2
                   "SetHandler negotiate8443-status\n");
    if (site_proxies(site)) {
        n8443_buf_puts(out, INDENT2 "ProxyPass \"!\"\n");
    }
    n8443_buf_puts(out, INDENT2 "Require local\n" INDENT1 "</Location>\n");
}

/* The page's own location: after every site location of a shorter
 * path, so that it wins over a "/" that needs a login (the page must
 * show without one), and never proxied (a ProxyPass of "/" would be
 * inherited: mod_proxy maps URLs before mod_alias).  Only the page
 * itself is let in without a login. */
void n8443_render_help_location(const struct n8443_site *site,
                                struct n8443_buf *out)
{
    if (!site->help.present) {
        return;
    }
    n8443_buf_puts(out,
                   "\n" INDENT1 "# The 401 page: no login, server-side "
                   "includes only (no exec).\n" INDENT1
                   "<Location \"" ERROR_PATH "\">\n" INDENT2 "AuthType None\n");
    if (site_proxies(site)) {
        n8443_buf_puts(out, INDENT2 "ProxyPass \"!\"\n");
    }
    n8443_buf_printf(
        out,
        INDENT2 "Require expr \"%%{REQUEST_URI} == '" ERROR_PATH PAGE_FILE
                "'\"\n" INDENT2 "Options -Indexes +IncludesNOEXEC\n" INDENT2
                "SetOutputFilter INCLUDES\n" INDENT2
                "ForceType \"text/html; charset=utf-8\"\n" INDENT2
                "Header always set Cache-Control \"no-store\"\n" INDENT1
                "</Location>\n" INDENT1 "<Directory \"%s\">\n" INDENT2
                "AllowOverride None\n" INDENT1 "</Directory>\n",
        site->help.pages.v);
}
