/*
 * n8443ctl probe - the name: where the site is, and which SPN each
 * client builds from its name.
 *
 * Chrome and Edge resolve the URL's host and ask for HTTP/<canonical
 * name> (through CNAMEs and hosts-file aliases; policy
 * DisableAuthNegotiateCnameLookup turns that off).  Firefox and curl hand
 * the host as typed to GSS-API; MIT's library may canonicalise it again
 * when krb5.conf says dns_canonicalize_hostname = true (with rdns, through
 * the reverse lookup), which is why the reverse name is shown.  No client
 * puts the port in the SPN.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <profile.h>

#include "probe.h"

const char *const n8443_probe_browser_names[PROBE_NBROWSERS] = {
    "Chrome/Edge", "Firefox", "curl"};

static void addr_text(const struct sockaddr *sa, socklen_t len, char *buf,
                      size_t buflen)
{
    if (getnameinfo(sa, len, buf, (socklen_t)buflen, NULL, 0, NI_NUMERICHOST)
        != 0) {
        snprintf(buf, buflen, "?");
    }
}

/* Keep the addresses of RES for the connections to come. */
static void keep_addrs(struct n8443_probe *p, const struct addrinfo *res)
{
    for (; res != NULL && p->naddrs < PROBE_MAX_ADDRS; res = res->ai_next) {
        if (res->ai_addrlen > sizeof(p->addrs[0])) {
            continue;
        }
        memcpy(&p->addrs[p->naddrs], res->ai_addr, res->ai_addrlen);
        p->addrlens[p->naddrs] = res->ai_addrlen;
        p->naddrs++;
    }
}

/* --address: the one server to talk to, whatever DNS says. */
static int use_address(struct n8443_probe *p)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    struct n8443_record *rec;
    char port[16];
    int gai;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST;
    snprintf(port, sizeof(port), "%d", p->url.port);
    gai = getaddrinfo(p->args->address, port, &hints, &res);
    if (gai != 0) {
        rec = n8443_report_add(p->rep, "name.resolve", N8443_SEV_ERROR,
                               "--address '%s' is not an IP address (%s)",
                               p->args->address, gai_strerror(gai));
        n8443_record_unusable(rec);
        return -1;
    }
    keep_addrs(p, res);
    freeaddrinfo(res);
    return 0;
}

/* The CNAME chain of NAME in DNS, "a -> b -> c", into BUF; 0 if NAME is
 * no alias in DNS. */
static int cname_chain(const char *name, char *buf, size_t len)
{
    char cur[NS_MAXDNAME];
    char next[NS_MAXDNAME];
    int hops = 0;

    snprintf(cur, sizeof(cur), "%s", name);
    snprintf(buf, len, "%s", name);
    /* Eight hops: resolvers give up on longer chains too. */
    while (hops < 8 && n8443_dns_cname(cur, next, sizeof(next)) == 0) {
        size_t used = strlen(buf);

        snprintf(buf + used, len - used, " -> %s", next);
        snprintf(cur, sizeof(cur), "%s", next);
        hops++;
    }
    return hops;
}

/* A [libdefaults] boolean of krb5.conf as text, for the SPN note. */
static void krb5_setting(const char *name, const char *dflt, char *buf,
                         size_t len)
{
    krb5_context kctx = NULL;
    profile_t profile = NULL;
    char *value = NULL;

    snprintf(buf, len, "%s (default)", dflt);
    if (krb5_init_context(&kctx) != 0) {
        return;
    }
    if (krb5_get_profile(kctx, &profile) == 0) {
        if (profile_get_string(profile, "libdefaults", name, NULL, NULL, &value)
                == 0
            && value != NULL) {
            snprintf(buf, len, "%s", value);
            profile_release_string(value);
        }
        profile_release(profile);
    }
    krb5_free_context(kctx);
}

static void add_name(struct n8443_probe *p, const char *name)
{
    size_t i;

    for (i = 0; i < p->nnames; i++) {
        if (n8443_same_host(p->names[i], name)) {
            return;
        }
    }
    if (p->nnames < PROBE_MAX_NAMES) {
        p->names[p->nnames++] = name;
    }
}

/* name.spn: who asks for which SPN; fills p->spn_host and p->names. */
static void report_spn(struct n8443_probe *p)
{
    struct n8443_record *rec;
    char canon_setting[64];
    char rdns_setting[64];
    int b;

    p->spn_host[PROBE_CHROME] = p->canonical;
    p->spn_host[PROBE_FIREFOX] = p->url.host;
    p->spn_host[PROBE_CURL] = p->url.host;
    for (b = 0; b < PROBE_NBROWSERS; b++) {
        if (p->browser < 0 || p->browser == b) {
            add_name(p, p->spn_host[b]);
        }
    }
    krb5_setting("dns_canonicalize_hostname", "true", canon_setting,
                 sizeof(canon_setting));
    krb5_setting("rdns", "true", rdns_setting, sizeof(rdns_setting));
    if (p->url.host_is_ip) {
        rec = n8443_report_add(
            p->rep, "name.spn", N8443_SEV_WARNING,
            "the URL names an IP address: browsers ask for no Kerberos "
            "ticket for HTTP/%s (unless that SPN exists) and fall back to "
            "NTLM or a password prompt. Use the site's host name",
            p->url.host);
    }
    else if (p->browser >= 0) {
        rec = n8443_report_add(
            p->rep, "name.spn", N8443_SEV_OK, "%s asks for HTTP/%s",
            n8443_probe_browser_names[p->browser], p->spn_host[p->browser]);
    }
    else if (n8443_same_host(p->canonical, p->url.host)) {
        rec = n8443_report_add(p->rep, "name.spn", N8443_SEV_OK,
                               "every client asks for HTTP/%s (the port "
                               "never goes into the SPN)",
                               p->url.host);
    }
    else {
        rec = n8443_report_add(
            p->rep, "name.spn", N8443_SEV_WARNING,
            "%s is an alias of %s: Chrome and Edge ask for HTTP/%s, Firefox "
            "and curl for HTTP/%s. The server's keytab needs keys for both "
            "(or make %s an A record)",
            p->url.host, p->canonical, p->canonical, p->url.host, p->url.host);
    }
    for (b = 0; b < PROBE_NBROWSERS; b++) {
        if (p->browser < 0 || p->browser == b) {
            n8443_record_detail(p->rep, rec, n8443_probe_browser_names[b],
                                "HTTP/%s", p->spn_host[b]);
        }
    }
    n8443_record_detail(p->rep, rec, "dns_canonicalize_hostname", "%s",
                        canon_setting);
    n8443_record_detail(p->rep, rec, "rdns", "%s", rdns_setting);
}

/* name.reverse: the PTR of the address the site answered on. */
static void report_reverse(struct n8443_probe *p)
{
    struct n8443_record *rec;
    char host[NI_MAXHOST];
    char addr[NI_MAXHOST];
    const struct sockaddr *sa = (const struct sockaddr *)&p->addrs[0];

    addr_text(sa, p->addrlens[0], addr, sizeof(addr));
    if (getnameinfo(sa, p->addrlens[0], host, sizeof(host), NULL, 0,
                    NI_NAMEREQD)
        != 0) {
        rec = n8443_report_add(
            p->rep, "name.reverse", N8443_SEV_WARNING,
            "%s has no reverse DNS name: GSS-API clients whose krb5.conf "
            "says rdns = true with dns_canonicalize_hostname = true may "
            "then ask for HTTP/%s. Add a PTR record",
            addr, addr);
    }
    else if (n8443_same_host(host, p->canonical)
             || n8443_same_host(host, p->url.host)) {
        rec = n8443_report_add(p->rep, "name.reverse", N8443_SEV_OK,
                               "%s points back to %s", addr, host);
    }
    else {
        rec = n8443_report_add(
            p->rep, "name.reverse", N8443_SEV_WARNING,
            "%s points back to %s, not to %s: a GSS-API client with rdns = "
            "true and dns_canonicalize_hostname = true in krb5.conf asks for "
            "HTTP/%s. Fix the PTR record, or set rdns = false",
            addr, host, p->canonical, host);
    }
    n8443_record_detail(p->rep, rec, "address", "%s", addr);
    n8443_record_detail(p->rep, rec, "reverse", "%s", host);
}

void n8443_probe_name(struct n8443_probe *p)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    struct n8443_record *rec;
    char chain[4 * NS_MAXDNAME];
    char addr[NI_MAXHOST];
    char port[16];
    size_t i;
    int gai;

    if (p->args->address != NULL && use_address(p) != 0) {
        return;
    }
    snprintf(p->canonical, sizeof(p->canonical), "%s", p->url.host);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_CANONNAME;
    snprintf(port, sizeof(port), "%d", p->url.port);
    gai = getaddrinfo(p->url.host, port, &hints, &res);
    if (gai != 0 && p->args->address != NULL) {
        rec = n8443_report_add(
            p->rep, "name.resolve", N8443_SEV_WARNING,
            "%s does not resolve (%s); connecting to --address %s. Clients "
            "without that override cannot reach the site by this name",
            p->url.host, gai_strerror(gai), p->args->address);
        n8443_record_detail(p->rep, rec, "name", "%s", p->url.host);
    }
    else if (gai != 0) {
        rec = n8443_report_add(
            p->rep, "name.resolve", N8443_SEV_ERROR,
            "%s does not resolve (%s): check the spelling, the DNS record "
            "(A/AAAA, or a CNAME to a name that has one) and this host's "
            "resolver (/etc/resolv.conf)",
            p->url.host, gai_strerror(gai));
        n8443_record_detail(p->rep, rec, "name", "%s", p->url.host);
        n8443_record_unusable(rec);
        p->unreachable = 1;
        return;
    }
    else {
        if (res->ai_canonname != NULL && !p->url.host_is_ip) {
            snprintf(p->canonical, sizeof(p->canonical), "%s",
                     res->ai_canonname);
        }
        if (p->naddrs == 0) {
            keep_addrs(p, res);
        }
        rec = n8443_report_add(p->rep, "name.resolve", N8443_SEV_OK,
                               "%s resolves", p->url.host);
        n8443_record_detail(p->rep, rec, "name", "%s", p->url.host);
        for (i = 0; i < p->naddrs; i++) {
            char key[32];

            snprintf(key, sizeof(key), "address%zu", i + 1);
            addr_text((const struct sockaddr *)&p->addrs[i], p->addrlens[i],
                      addr, sizeof(addr));
            n8443_record_detail(p->rep, rec, key, "%s", addr);
        }
        if (p->args->address != NULL) {
            n8443_record_detail(p->rep, rec, "connect_to", "%s (--address)",
                                p->args->address);
        }
        freeaddrinfo(res);
    }

    if (!p->url.host_is_ip && gai == 0) {
        if (cname_chain(p->url.host, chain, sizeof(chain)) > 0) {
            rec = n8443_report_add(p->rep, "name.cname", N8443_SEV_OK,
                                   "DNS aliases: %s", chain);
        }
        else if (!n8443_same_host(p->canonical, p->url.host)) {
            rec = n8443_report_add(p->rep, "name.cname", N8443_SEV_OK,
                                   "%s is an alias of %s (hosts file or "
                                   "resolver)",
                                   p->url.host, p->canonical);
        }
        else {
            rec = n8443_report_add(p->rep, "name.cname", N8443_SEV_OK,
                                   "%s is no alias: it is its own canonical "
                                   "name",
                                   p->url.host);
        }
        n8443_record_detail(p->rep, rec, "canonical", "%s", p->canonical);
    }
    report_spn(p);
    report_reverse(p);
}
