/*
 * n8443ctl - the `behind:` block of a site (issue 17): the site sits
 * behind a load balancer that terminates TLS.
 *
 *   behind:
 *     proxy_addresses: [10.0.0.5, 10.0.1.0/24]   # NegotiateTrustedProxy
 *     certificate: /etc/pki/tls/certs/lb.pem     # the balancer's:
 *                                # NegotiateChannelBindingCertificate
 *
 * proxy_addresses is required (addresses or ADDRESS/BITS networks, no
 * host names: the module compares the connection's peer address);
 * certificate is optional (a balancer that passes TLS through lets
 * clients bind to httpd's own certificate).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "msgs.h"
#include "site_values.h"

/* An IPv4 or IPv6 address, or one with /BITS (0..32, 0..128). */
static int check_proxy_address(struct n8443_ld *c, const ynode *v,
                               const char *key)
{
    char shown[SHOW_BUF];
    char addr[64];
    unsigned char buf[16];
    const char *slash;
    char *end;
    size_t alen;
    long bits = -1;
    int v6;

    if (!n8443_ld_want_text(c, v, key, "an IP address or ADDRESS/BITS")) {
        return 0;
    }
    n8443_ld_show(shown, v->text, v->len);
    slash = strchr(v->text, '/');
    alen = slash ? (size_t)(slash - v->text) : v->len;
    if (alen == 0 || alen >= sizeof(addr)) {
        goto bad;
    }
    memcpy(addr, v->text, alen);
    addr[alen] = '\0';
    v6 = strchr(addr, ':') != NULL;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, buf) != 1) {
        goto bad;
    }
    if (slash != NULL) {
        if (slash[1] < '0' || slash[1] > '9') {
            goto bad;
        }
        bits = strtol(slash + 1, &end, 10);
        if (*end != '\0' || bits > (v6 ? 128 : 32)) {
            goto bad;
        }
    }
    return 1;

bad:
    n8443_ld_diag(c, v,
                  "'%s' must be an IP address or ADDRESS/BITS network (no "
                  "host names: the module compares the connection's "
                  "address), got '%s'",
                  key, shown);
    return 0;
}

enum { B_ADDRESSES, B_CERT, B_N };
static const char *const behind_keys[] = {"proxy_addresses", "certificate",
                                          NULL};

void n8443_ld_parse_behind(struct n8443_ld *c, const ynode *map,
                           struct n8443_behind *behind)
{
    const ynode *seen[B_N] = {NULL};
    size_t i;
    char described[DESCRIBE_BUF];

    behind->seen = 1;
    if (map->kind != N8443_YMAP) {
        n8443_ld_diag(c, map, "'behind' must be a mapping, got %s",
                      n8443_ld_describe(described, map));
        return;
    }
    behind->present = 1;
    behind->pos = n8443_ld_pos(map);
    for (i = 0; i + 1 < map->nitems; i += 2) {
        const ynode *v = map->items[i + 1];

        switch (n8443_ld_key_index(c, map->items[i], behind_keys, seen)) {
        case B_ADDRESSES:
            n8443_ld_get_list(c, v, "proxy_addresses", check_proxy_address, 0,
                              &behind->proxy_addresses);
            break;
        case B_CERT:
            n8443_ld_get_path(c, v, "certificate", &behind->certificate);
            break;
        default: break;
        }
    }
    if (seen[B_ADDRESSES] == NULL) {
        n8443_ld_diag(c, map,
                      "missing required key 'proxy_addresses' in "
                      "'behind' (the balancer's addresses)");
    }
}
