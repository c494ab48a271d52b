/*
 * n8443ctl - DNS lookups that check (check_dns.c) and probe
 * (probe_name.c) both make: a plain library below them.
 */
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <string.h>
#include <strings.h>

#include "check.h"

/*
 * The target of NAME's CNAME record in DNS, into BUF; 0 if there is
 * one, -1 if not (or DNS does not answer: getaddrinfo has the last word
 * on resolution).  A private resolver state with short timeouts keeps a
 * dead name server from stalling the check.  probe follows the chain
 * with it too.
 */
int n8443_dns_cname(const char *name, char *buf, size_t len)
{
    unsigned char answer[NS_PACKETSZ * 4];
    struct __res_state state;
    ns_msg msg;
    ns_rr rr;
    int alen;
    int count;
    int i;
    int rc = -1;

    memset(&state, 0, sizeof(state));
    if (res_ninit(&state) != 0) {
        return -1;
    }
    state.retrans = 2;
    state.retry = 1;
    alen =
        res_nquery(&state, name, ns_c_in, ns_t_cname, answer, sizeof(answer));
    if (alen <= 0 || ns_initparse(answer, alen, &msg) != 0) {
        goto cleanup;
    }
    count = ns_msg_count(msg, ns_s_an);
    for (i = 0; i < count; i++) {
        if (ns_parserr(&msg, ns_s_an, i, &rr) != 0) {
            break;
        }
        if (ns_rr_type(rr) == ns_t_cname
            && ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg),
                                  ns_rr_rdata(rr), buf, len)
                   >= 0) {
            rc = 0;
            break;
        }
    }

cleanup:
    res_nclose(&state);
    return rc;
}

/* The same host name: no case, no trailing dot. */
int n8443_same_host(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);

    if (la > 0 && a[la - 1] == '.') {
        la--;
    }
    if (lb > 0 && b[lb - 1] == '.') {
        lb--;
    }
    return la == lb && strncasecmp(a, b, la) == 0;
}
