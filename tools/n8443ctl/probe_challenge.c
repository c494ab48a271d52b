/*
 * n8443ctl probe - the HTTP step: one request without credentials, and
 * what its answer offers.
 *
 * Redirects within the site are followed (a portal that sends / to
 * /app/ is common); the last answer says which schemes the server
 * offers, whether a proxy is in between (Via), whether HSTS keeps
 * browsers on TLS, and what the module's error text says if the page
 * carries one.  The requests go through probe_http.c.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "probe.h"

#define MAX_REDIRECTS 5

/* Which schemes the WWW-Authenticate fields offer, as "Negotiate,
 * Basic", into OUT. */
static void challenges(const struct probe_response *resp, struct n8443_buf *out,
                       int *negotiate, int *basic)
{
    size_t i;

    *negotiate = 0;
    *basic = 0;
    for (i = 0; i < resp->nheaders; i++) {
        const char *v = resp->headers[i].value;

        if (strcasecmp(resp->headers[i].name, "WWW-Authenticate") != 0) {
            continue;
        }
        /* The first word of each comma-separated part that has no '='
         * before its first space is a scheme (RFC 7235 challenge). */
        while (*v != '\0') {
            size_t word;

            v += strspn(v, " ,");
            word = strcspn(v, " ,=");
            if (word > 0 && v[word] != '=') {
                if (word == 9 && strncasecmp(v, "Negotiate", 9) == 0) {
                    *negotiate = 1;
                }
                if (word == 5 && strncasecmp(v, "Basic", 5) == 0) {
                    *basic = 1;
                }
                n8443_buf_printf(out, "%s%.*s", out->len ? ", " : "", (int)word,
                                 v);
            }
            v += word;
            v += strcspn(v, ",");
        }
    }
}

/* The path a redirect leads to, if it stays on this site; else NULL. */
static const char *same_site(const struct n8443_probe *p, const char *loc,
                             char *buf, size_t len)
{
    char prefix[PROBE_MAX_HOST + 32];
    size_t n;

    if (loc[0] == '/' && loc[1] != '/') {
        snprintf(buf, len, "%s", loc);
        return buf;
    }
    n = (size_t)snprintf(prefix, sizeof(prefix), "https://%s/",
                         p->url.hostport);
    if (strncasecmp(loc, prefix, n - 1) == 0
        && (loc[n - 1] == '/' || loc[n - 1] == '\0')) {
        snprintf(buf, len, "%s", loc[n - 1] ? loc + n - 1 : "/");
        return buf;
    }
    return NULL;
}

/* tls.hsts and http.proxy, from the answer. */
static void report_headers(struct n8443_probe *p,
                           const struct probe_response *resp)
{
    const char *hsts = n8443_probe_header(resp, "Strict-Transport-Security");
    const char *via = n8443_probe_header(resp, "Via");
    const char *server = n8443_probe_header(resp, "Server");
    struct n8443_record *rec;

    if (hsts != NULL) {
        rec = n8443_report_add(p->rep, "tls.hsts", N8443_SEV_OK, "HSTS: %s",
                               hsts);
    }
    else {
        rec = n8443_report_add(
            p->rep, "tls.hsts", N8443_SEV_WARNING,
            "no Strict-Transport-Security header: a browser that once "
            "follows an http:// link can be kept off TLS, where channel "
            "binding cannot protect the login. Add: Header always set "
            "Strict-Transport-Security \"max-age=31536000\"");
    }
    (void)rec;
    if (via != NULL) {
        p->via_proxy = 1;
        rec = n8443_report_add(
            p->rep, "http.proxy", N8443_SEV_WARNING,
            "a proxy answers in between (Via: %s): it must pass the "
            "Authorization and WWW-Authenticate headers through unchanged, "
            "must not share a connection between users, and a proxy that "
            "ends TLS breaks channel binding (its certificate is not the "
            "server's)",
            via);
    }
    else {
        rec = n8443_report_add(p->rep, "http.proxy", N8443_SEV_OK,
                               "no proxy announced itself (no Via header)");
    }
    if (server != NULL) {
        n8443_record_detail(p->rep, rec, "server", "%s", server);
    }
}

/*
 * The step: an unauthenticated GET, redirects within the site followed,
 * and what the answer offers.
 */
void n8443_probe_http(struct n8443_probe *p)
{
    struct probe_response resp;
    struct n8443_record *rec;
    struct n8443_buf schemes;
    char path[PROBE_MAX_PATH];
    char err[512];
    const char *loc;
    const char *marker;
    int negotiate = 0;
    int basic = 0;
    int hops;

    n8443_buf_init(&schemes);
    snprintf(path, sizeof(path), "%s", p->url.path);
    memset(&resp, 0, sizeof(resp));
    for (hops = 0;; hops++) {
        if (n8443_probe_request(p, "unauthenticated", path, NULL, &resp, err,
                                sizeof(err))
            != 0) {
            rec = n8443_report_add(p->rep, "http.status", N8443_SEV_ERROR,
                                   "GET %s failed: %s", path, err);
            n8443_record_unusable(rec);
            p->unreachable = 1;
            goto cleanup;
        }
        loc = n8443_probe_header(&resp, "Location");
        if (resp.status < 300 || resp.status > 308 || loc == NULL
            || hops == MAX_REDIRECTS
            || same_site(p, loc, path, sizeof(path)) == NULL) {
            break;
        }
        n8443_probe_response_free(&resp);
    }
    snprintf(p->login_path, sizeof(p->login_path), "%s", path);
    challenges(&resp, &schemes, &negotiate, &basic);
    p->offers_negotiate = negotiate;
    if (resp.status >= 300 && resp.status <= 308) {
        rec = n8443_report_add(
            p->rep, "http.status", N8443_SEV_WARNING,
            "GET %s: %d, a redirect to %s, off this site: probe that URL", path,
            resp.status, loc ? loc : "nowhere");
    }
    else {
        rec = n8443_report_add(p->rep, "http.status", N8443_SEV_OK,
                               "GET %s without credentials: %d %s%s", path,
                               resp.status, resp.reason,
                               hops ? " (after redirects)" : "");
    }
    n8443_record_detail_num(p->rep, rec, "status", resp.status);
    report_headers(p, &resp);

    if (negotiate) {
        rec =
            n8443_report_add(p->rep, "http.challenge", N8443_SEV_OK,
                             "the server offers Negotiate (%s)", schemes.data);
    }
    else if (basic) {
        rec = n8443_report_add(
            p->rep, "http.challenge", N8443_SEV_ERROR,
            "the server offers only Basic (%s), not Negotiate: browsers "
            "prompt for a password. This location has AuthType Basic; for "
            "Kerberos logins use AuthType Negotiate (with "
            "NegotiateBasicFallback On to keep the password prompt as a "
            "fallback)",
            schemes.data);
    }
    else if (resp.status == 401) {
        rec = n8443_report_add(
            p->rep, "http.challenge", N8443_SEV_ERROR,
            "401 without a Negotiate challenge (offered: %s): browsers "
            "never send a Kerberos ticket here. Check AuthType Negotiate "
            "for this location, and that nothing in between rewrites "
            "WWW-Authenticate",
            schemes.len ? schemes.data : "nothing");
    }
    else {
        rec = n8443_report_add(
            p->rep, "http.challenge", N8443_SEV_ERROR,
            "%s answered %d without asking for a login: no Negotiate "
            "challenge, so no browser sends a ticket. If it should need "
            "one, the location lacks AuthType Negotiate and Require (or a "
            "session or another module let the request through)",
            path, resp.status);
    }
    n8443_record_detail(p->rep, rec, "path", "%s", path);
    marker = resp.body ? strstr(resp.body, "NEGOTIATE_ERROR") : NULL;
    if (marker != NULL) {
        char line[512];

        snprintf(line, sizeof(line), "%.*s", (int)strcspn(marker, "\r\n<"),
                 marker);
        n8443_probe_printable(line, strlen(line));
        n8443_record_detail(p->rep, rec, "negotiate_error", "%s", line);
    }

cleanup:
    n8443_probe_response_free(&resp);
    n8443_buf_free(&schemes);
}
