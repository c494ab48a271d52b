/*
 * n8443ctl - site file loader, part 1b: the values with a form of their
 * own: host names and accounts, the site's name, the service principal,
 * a server's HOST:PORT, a location's path, the proxy URL and the user
 * header.  Built on the
 * generic checks of site_values.c; the same rule: nothing reaches the
 * renderer that could break out of an httpd directive.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "site_values.h"
#include "pac.h"

/* ------------------------------------------------------------ hosts */

/* RFC 1123 host name, ASCII (IDNs in their xn-- form), no trailing dot. */
static int valid_dns_name(const char *s)
{
    size_t len = strlen(s);
    size_t label = 0;
    size_t i;

    if (len == 0 || len > 253) {
        return 0;
    }
    for (i = 0; i <= len; i++) {
        char ch = s[i];

        if (ch == '.' || ch == '\0') {
            if (label == 0 || label > 63 || s[i - 1] == '-') {
                return 0;
            }
            label = 0;
            continue;
        }
        if (!(isalnum((unsigned char)ch) || ch == '-')
            || (label == 0 && ch == '-')) {
            return 0;
        }
        label++;
    }
    return 1;
}

/* Digits and dots only: an IPv4 address, which has no Kerberos name. */
static int looks_like_ipv4(const char *s)
{
    return strspn(s, "0123456789.") == strlen(s);
}

/* A server name or alias.  Each becomes a Kerberos service name
 * HTTP/name that clients ask the KDC for, so it must be a DNS name: an
 * IP address has no service principal browsers would use. */
int n8443_ld_check_host(struct n8443_ld *c, const ynode *v, const char *key)
{
    char shown[SHOW_BUF];

    if (!n8443_ld_want_text(c, v, key, "a DNS name")) {
        return 0;
    }
    n8443_ld_show(shown, v->text, v->len);
    if (looks_like_ipv4(v->text) || strchr(v->text, ':') != NULL) {
        n8443_ld_diag(c, v,
                      "'%s' must be a DNS name, got the address '%s' "
                      "(Kerberos service names need a host name)",
                      key, shown);
        return 0;
    }
    if (!valid_dns_name(v->text)) {
        n8443_ld_diag(c, v, "'%s' must be a DNS name, got '%s'", key, shown);
        return 0;
    }
    return 1;
}

void n8443_ld_get_host(struct n8443_ld *c, const ynode *v, const char *key,
                       struct n8443_str *out)
{
    out->seen = 1;
    if (n8443_ld_check_host(c, v, key)) {
        n8443_ld_set_str(out, v);
    }
}

/* A user or group name for Require: one word. */
int n8443_ld_check_account(struct n8443_ld *c, const ynode *v, const char *key)
{
    return n8443_ld_want_word(c, v, key, "a name");
}

/* ---------------------------------------------------- special values */

/* The site's name: it becomes part of a file name (n8443-NAME.conf), so
 * only characters that are safe there, and no leading '.' or '-'. */
void n8443_ld_get_site_name(struct n8443_ld *c, const ynode *v,
                            struct n8443_str *out)
{
    char shown[SHOW_BUF];
    const char *p = v->text;

    out->seen = 1;
    if (!n8443_ld_want_text(c, v, "name", "a name")) {
        return;
    }
    if (v->len > 64 || !isalnum((unsigned char)p[0])
        || strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789._-")
               != v->len) {
        n8443_ld_diag(
            c, v,
            "'name' must be up to 64 letters, digits, '.', '_' or "
            "'-', starting with a letter or digit (it names the output "
            "file), got '%s'",
            n8443_ld_show(shown, v->text, v->len));
        return;
    }
    n8443_ld_set_str(out, v);
}

/* any, {HOSTNAME}, or SERVICE/host[@REALM] with host a DNS name: the
 * forms NegotiateServicePrincipal takes. */
static int valid_service_principal(const char *s)
{
    const char *slash = strchr(s, '/');
    const char *at;
    size_t service_len;
    char host[254];

    if (strcmp(s, "any") == 0 || strcmp(s, "{HOSTNAME}") == 0) {
        return 1;
    }
    if (slash == NULL || strpbrk(s, " \"\\'") != NULL) {
        return 0;
    }
    service_len = (size_t)(slash - s);
    if (service_len == 0
        || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789._-")
               != service_len) {
        return 0;
    }
    at = strchr(slash + 1, '@');
    if (at != NULL && (at[1] == '\0' || strpbrk(at + 1, "/@") != NULL)) {
        return 0;
    }
    if ((at ? (size_t)(at - slash - 1) : strlen(slash + 1)) >= sizeof(host)) {
        return 0;
    }
    snprintf(host, sizeof(host), "%.*s",
             (int)(at ? (size_t)(at - slash - 1) : strlen(slash + 1)),
             slash + 1);
    return valid_dns_name(host);
}

void n8443_ld_get_service_principal(struct n8443_ld *c, const ynode *v,
                                    struct n8443_str *out)
{
    char shown[SHOW_BUF];

    out->seen = 1;
    if (!n8443_ld_want_text(c, v, "service_principal", "a principal name")) {
        return;
    }
    if (!valid_service_principal(v->text)) {
        n8443_ld_diag(
            c, v,
            "'service_principal' must be any, {HOSTNAME} or "
            "SERVICE/host[@REALM] such as HTTP/www.example.com, got '%s'",
            n8443_ld_show(shown, v->text, v->len));
        return;
    }
    n8443_ld_set_str(out, v);
}

/* HOST:PORT of a memcache or Redis server, HOST a DNS name, an IPv4
 * address or a bracketed IPv6 address ([2001:db8::7]:6379). */
int n8443_ld_valid_host_port(const char *s, size_t len)
{
    char host[256];
    const char *colon;
    size_t host_len;
    size_t i;
    long port = 0;

    if (len == 0) {
        return 0;
    }
    colon = NULL;
    for (i = len; i > 0; i--) {
        if (s[i - 1] == ':') {
            colon = s + i - 1;
            break;
        }
    }
    if (colon == NULL || colon == s) {
        return 0;
    }
    host_len = (size_t)(colon - s);
    for (i = 1; s + host_len + i < s + len; i++) {
        char ch = colon[i];

        if (!isdigit((unsigned char)ch) || i > 5) {
            return 0;
        }
        port = port * 10 + (ch - '0');
    }
    if (i == 1 || port < 1 || port > 65535 || colon[1] == '0') {
        return 0;
    }
    if (host_len >= sizeof(host)) {
        return 0;
    }
    if (s[0] == '[') {
        unsigned char addr[16];

        if (host_len < 4 || s[host_len - 1] != ']') {
            return 0;
        }
        memcpy(host, s + 1, host_len - 2);
        host[host_len - 2] = '\0';
        return inet_pton(AF_INET6, host, addr) == 1;
    }
    memcpy(host, s, host_len);
    host[host_len] = '\0';
    return looks_like_ipv4(host) ? strlen(host) >= 7 : valid_dns_name(host);
}

/* A literal URL path: '/' first, no blanks, quotes, wildcards (httpd would
 * read them as a pattern, which ProxyPass inside <Location> refuses), no
 * empty, '.' or '..' segments. */
static int valid_url_path(const char *s)
{
    const char *p;

    if (s[0] != '/') {
        return 0;
    }
    for (p = s; *p != '\0'; p++) {
        unsigned char ch = (unsigned char)*p;

        if (ch <= 0x20 || ch >= 0x7F || strchr("\"\\<>*?[]{}#'", ch)) {
            return 0;
        }
        if (ch == '/' && p != s
            && (p[-1] == '/'
                || (p[-1] == '.'
                    && (p[-2] == '/' || (p[-2] == '.' && p[-3] == '/'))))) {
            return 0;
        }
    }
    /* A trailing "/." or "/..". */
    return !(p[-1] == '.'
             && (p[-2] == '/' || (p[-2] == '.' && p - s > 2 && p[-3] == '/')));
}

/* The path of a <Location>. */
void n8443_ld_get_location_path(struct n8443_ld *c, const ynode *v,
                                struct n8443_str *out)
{
    char shown[SHOW_BUF];

    out->seen = 1;
    if (!n8443_ld_want_text(c, v, "path", "a URL path")) {
        return;
    }
    if (!valid_url_path(v->text)) {
        n8443_ld_diag(c, v,
                      "'path' must be a URL path starting with '/', without "
                      "spaces, quotes, wildcards, '//' or '..', got '%s'",
                      n8443_ld_show(shown, v->text, v->len));
        return;
    }
    n8443_ld_set_str(out, v);
}

/* http://HOST[:PORT][/PATH], HOST a name, an IPv4 or a bracketed IPv6
 * address.  No query or fragment: ProxyPass appends the request's rest. */
static int valid_proxy_url(const char *s)
{
    const char *p;
    const char *host;
    size_t host_len;

    if (strncmp(s, "http://", 7) != 0) {
        return 0;
    }
    host = s + 7;
    if (*host == '[') {
        p = strchr(host, ']');
        if (p == NULL || p == host + 1
            || strspn(host + 1, "0123456789abcdefABCDEF:.")
                   != (size_t)(p - host - 1)) {
            return 0;
        }
        p++;
    }
    else {
        host_len = strspn(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "abcdefghijklmnopqrstuvwxyz0123456789.-");
        if (host_len == 0 || host_len > 253) {
            return 0;
        }
        p = host + host_len;
    }
    if (*p == ':') {
        size_t digits = strspn(p + 1, "0123456789");
        long port = digits > 0 && digits <= 5 ? strtol(p + 1, NULL, 10) : 0;

        if (port < 1 || port > 65535 || p[1] == '0') {
            return 0;
        }
        p += 1 + digits;
    }
    if (*p == '\0') {
        return 1;
    }
    return valid_url_path(p);
}

/* A backend URL for ProxyPass.  https:// is refused with its reason: it
 * would need SSLProxyEngine and certificate checks the renderer does not
 * write yet, and silently unverified TLS would be worse. */
void n8443_ld_get_proxy(struct n8443_ld *c, const ynode *v,
                        struct n8443_str *out)
{
    char shown[SHOW_BUF];

    out->seen = 1;
    if (!n8443_ld_want_text(c, v, "proxy", "an http:// URL")) {
        return;
    }
    n8443_ld_show(shown, v->text, v->len);
    if (strncmp(v->text, "https://", 8) == 0) {
        n8443_ld_diag(c, v,
                      "'proxy' https:// backends are not supported yet (they "
                      "need SSLProxy* settings n8443ctl does not write); use "
                      "http:// to a loopback or trusted backend");
        return;
    }
    if (!valid_proxy_url(v->text)) {
        n8443_ld_diag(c, v,
                      "'proxy' must be an http://HOST[:PORT][/PATH] URL, got "
                      "'%s'",
                      shown);
        return;
    }
    n8443_ld_set_str(out, v);
}

/* Headers that httpd, mod_proxy or the login itself own: letting the user
 * name overwrite one of them would break the request or the login. */
static const char *const reserved_headers[] = {"Authorization",
                                               "Proxy-Authorization",
                                               "Host",
                                               "Cookie",
                                               "Connection",
                                               "Content-Length",
                                               "Content-Type",
                                               "Transfer-Encoding",
                                               "TE",
                                               "Trailer",
                                               "Upgrade",
                                               "Expect",
                                               "Keep-Alive",
                                               "Via",
                                               "Forwarded",
                                               "X-Forwarded-For",
                                               "X-Forwarded-Host",
                                               "X-Forwarded-Server",
                                               NULL};

#define MAX_HEADER_SEPARATORS 4

/* A request header a proxied backend trusts (key: user_header,
 * forward_groups).  The renderer removes every '-'/'_' spelling of it
 * (2^separators lines), hence the limit on separators. */
void n8443_ld_get_header(struct n8443_ld *c, const ynode *v, const char *key,
                         struct n8443_str *out)
{
    char shown[SHOW_BUF];
    size_t separators = 0;
    size_t i;

    out->seen = 1;
    if (!n8443_ld_want_text(c, v, key, "a header name")) {
        return;
    }
    n8443_ld_show(shown, v->text, v->len);
    if (v->len > 64 || !isalpha((unsigned char)v->text[0])
        || strspn(v->text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
                           "wxyz0123456789-_")
               != v->len) {
        n8443_ld_diag(c, v,
                      "'%s' must be a header name of up to 64 "
                      "letters, digits, '-' and '_', got '%s'",
                      key, shown);
        return;
    }
    for (i = 0; i < v->len; i++) {
        separators += v->text[i] == '-' || v->text[i] == '_';
    }
    /* Each '-'/'_' doubles the spellings the renderer removes. */
    if (separators > MAX_HEADER_SEPARATORS) {
        n8443_ld_diag(c, v, "'%s' '%s' has more than %d '-' or '_'", key, shown,
                      MAX_HEADER_SEPARATORS);
        return;
    }
    for (i = 0; reserved_headers[i] != NULL; i++) {
        if (strcasecmp(v->text, reserved_headers[i]) == 0) {
            n8443_ld_diag(c, v,
                          "'%s' cannot be '%s': httpd or the proxy "
                          "manage that header",
                          key, shown);
            return;
        }
    }
    n8443_ld_set_str(out, v);
}

void n8443_ld_get_user_header(struct n8443_ld *c, const ynode *v,
                              struct n8443_str *out)
{
    n8443_ld_get_header(c, v, "user_header", out);
}

/* A group of require.groups: a SID (S-1-5-21-...-1105), checked as the
 * module parses it, or a name. */
int n8443_ld_check_group(struct n8443_ld *c, const ynode *v, const char *key)
{
    char shown[SHOW_BUF];
    n8443_sid sid;

    if (!n8443_ld_want_word(c, v, key, "a name or SID")) {
        return 0;
    }
    if ((v->text[0] == 'S' || v->text[0] == 's') && v->text[1] == '-'
        && n8443_sid_from_string(v->text, &sid) != 0) {
        n8443_ld_diag(c, v, "'%s' entry '%s' is not a SID (S-1-5-21-...)", key,
                      n8443_ld_show(shown, v->text, v->len));
        return 0;
    }
    return 1;
}
