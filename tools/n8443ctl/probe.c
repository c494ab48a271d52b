/*
 * n8443ctl - the `probe` command: diagnose a Kerberos site from the
 * client's side, step by step.
 *
 * The steps run in the order a login needs them: the name (which server,
 * which SPN), TLS, an unauthenticated request, a service ticket, and the
 * login itself.  A step that cannot run because an earlier one failed is
 * recorded as skipped with the reason, so the report always shows how
 * far the exchange got.  The records go through report.c, as `check`'s
 * do: the same text and JSON, the same exit status, except that a site
 * that could not be reached is exit 4.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "msgs.h"
#include "probe.h"

/*
 * Split URL into host, port and path.  Only https: Negotiate over plain
 * HTTP hands a reusable token to anyone on the path, and the module
 * refuses it (NegotiateRequireTLS).  Returns N8443_OK or N8443_USAGE
 * with the reason printed.
 */
static int parse_url(const char *url, struct probe_url *out)
{
    const char *p = url;
    const char *host;
    const char *host_end;
    const char *path;
    char *end = NULL;
    size_t len;
    size_t i;
    long port = 443;

    memset(out, 0, sizeof(*out));
    if (strncasecmp(p, "https://", 8) != 0) {
        if (strncasecmp(p, "http://", 7) == 0) {
            n8443_error("probe: '%s' is plain http: Negotiate needs https "
                        "(the module refuses logins without TLS); probe "
                        "https://%s",
                        url, url + 7);
        }
        else {
            n8443_error("probe: '%s' is not an https:// URL", url);
        }
        return N8443_USAGE;
    }
    p += 8;
    path = p + strcspn(p, "/?#");
    if (memchr(p, '@', (size_t)(path - p)) != NULL) {
        n8443_error("probe: '%s': no user name or password in the URL "
                    "(--as PRINC asks for the password)",
                    url);
        return N8443_USAGE;
    }
    host = p;
    if (*p == '[') {
        host = p + 1;
        host_end = memchr(host, ']', (size_t)(path - host));
        if (host_end == NULL) {
            n8443_error("probe: '%s': unterminated [address]", url);
            return N8443_USAGE;
        }
        p = host_end + 1;
        out->host_is_ip = 1;
    }
    else {
        host_end = memchr(host, ':', (size_t)(path - host));
        if (host_end == NULL) {
            host_end = path;
        }
        p = host_end;
    }
    len = (size_t)(host_end - host);
    if (len == 0 || len >= sizeof(out->host)) {
        n8443_error("probe: '%s': no host name, or one that is too long", url);
        return N8443_USAGE;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)host[i];

        if (!isalnum(c) && c != '.' && c != '-' && c != '_'
            && !(out->host_is_ip && c == ':')) {
            n8443_error("probe: '%s': '%.*s' is not a host name", url, (int)len,
                        host);
            return N8443_USAGE;
        }
        out->host[i] = (char)tolower(c);
    }
    if (*p == ':') {
        port = strtol(p + 1, &end, 10);
        if (end == p + 1 || end != path || port < 1 || port > 65535) {
            n8443_error("probe: '%s': the port must be a number from 1 to "
                        "65535",
                        url);
            return N8443_USAGE;
        }
    }
    else if (p != path) {
        n8443_error("probe: '%s' is not a URL I can read", url);
        return N8443_USAGE;
    }
    out->port = (int)port;
    /* The fragment stays in the browser. */
    len = strcspn(path, "#");
    if (len == 0 || *path != '/') {
        snprintf(out->path, sizeof(out->path), "/%.*s", (int)len, path);
    }
    else if (len < sizeof(out->path)) {
        snprintf(out->path, sizeof(out->path), "%.*s", (int)len, path);
    }
    else {
        n8443_error("probe: '%s': the path is too long", url);
        return N8443_USAGE;
    }
    for (i = 0; out->path[i] != '\0'; i++) {
        if ((unsigned char)out->path[i] <= ' ' || out->path[i] == 0x7f) {
            n8443_error("probe: '%s': spaces and control characters in the "
                        "path must be %%-encoded",
                        url);
            return N8443_USAGE;
        }
    }
    if (!out->host_is_ip
        && strspn(out->host, "0123456789.") == strlen(out->host)) {
        out->host_is_ip = 1;
    }
    snprintf(out->hostport, sizeof(out->hostport),
             out->host_is_ip && strchr(out->host, ':') ? "[%s]:%d" : "%s:%d",
             out->host, out->port);
    if (port == 443) {
        /* As browsers send it: no default port in Host. */
        snprintf(out->hostport, sizeof(out->hostport),
                 out->host_is_ip && strchr(out->host, ':') ? "[%s]" : "%s",
                 out->host);
    }
    return N8443_OK;
}

static int browser_of(const char *name)
{
    if (name == NULL) {
        return -1;
    }
    if (strcmp(name, "chrome") == 0) {
        return PROBE_CHROME;
    }
    return strcmp(name, "firefox") == 0 ? PROBE_FIREFOX : PROBE_CURL;
}

/* Record that STEP's records (ID) could not be produced, and why. */
static void skip(struct n8443_probe *p, const char *id, const char *why)
{
    n8443_report_add(p->rep, id, N8443_SEV_SKIPPED, "%s", why);
}

static void run_steps(struct n8443_probe *p)
{
    n8443_probe_name(p);
    if (p->naddrs == 0) {
        skip(p, "tls.connect", "not run: the name has no address");
        skip(p, "http.challenge", "not run: the name has no address");
        skip(p, "ticket.client", "not run: the name has no address");
        skip(p, "login.bound", "not run: the name has no address");
        return;
    }
    n8443_probe_tls(p);
    if (!p->tls_up) {
        skip(p, "http.challenge", "not run: no TLS connection");
        skip(p, "ticket.client", "not run: no TLS connection");
        skip(p, "login.bound", "not run: no TLS connection");
        return;
    }
    n8443_probe_http(p);
    n8443_probe_ticket(p);
    if (p->args->no_login) {
        skip(p, "login.bound", "not run: --no-login");
        return;
    }
    n8443_probe_login(p);
}

int n8443_cmd_probe(const struct n8443_args *args)
{
    struct n8443_report rep;
    struct n8443_probe p;
    struct n8443_buf out;
    int rc;

    memset(&p, 0, sizeof(p));
    n8443_report_init(&rep);
    n8443_buf_init(&out);
    rc = parse_url(args->url, &p.url);
    if (rc != N8443_OK) {
        fprintf(stderr, "Try '" N8443_PROG " help probe'.\n");
        goto cleanup;
    }
    p.args = args;
    p.rep = &rep;
    p.timeout = args->timeout > 0 ? (int)args->timeout : PROBE_DEFAULT_TIMEOUT;
    p.trace = args->trace;
    p.browser = browser_of(args->browser);
    snprintf(p.login_path, sizeof(p.login_path), "%s", p.url.path);

    run_steps(&p);
    if (rep.failed) {
        n8443_error("probe: out of memory");
        rc = N8443_IO;
        goto cleanup;
    }
    if (args->format != NULL && strcmp(args->format, "json") == 0) {
        rc = n8443_report_json(&rep, 0, &out);
    }
    else {
        rc = n8443_report_text(&rep, 0, &out);
    }
    if (rc != N8443_OK) {
        n8443_error("probe: out of memory");
        goto cleanup;
    }
    fwrite(out.data, 1, out.len, stdout);
    fflush(stdout);
    rc = n8443_report_exit_status(&rep, 0);

cleanup:
    n8443_probe_ticket_free(&p);
    if (p.ssl_ctx != NULL) {
        SSL_CTX_free(p.ssl_ctx);
    }
    n8443_buf_free(&out);
    n8443_report_free(&rep);
    return rc;
}
