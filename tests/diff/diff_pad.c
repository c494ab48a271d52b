/*
 * diff_pad.c - a large ticket for the large-token tests (issue 17): the
 * forged ticket's authorization data padded with an AD-IF-RELEVANT
 * element of a type no one defines, which Kerberos ignores, as a big PAC
 * of a user in many groups makes a token large.
 */
#include <stdlib.h>
#include <string.h>

#include "diff_core.h"

/* The private ad-type of the padding (no RFC or MS-KILE number). */
#define PAD_AD_TYPE 65001

/* tag and DER length (up to 2^24 - 1) at p; the header's size */
static size_t der_head(unsigned char *p, unsigned char tag, size_t n)
{
    p[0] = tag;
    if (n < 0x80) {
        p[1] = (unsigned char)n;
        return 2;
    }
    if (n < 0x10000) {
        p[1] = 0x82;
        p[2] = (unsigned char)(n >> 8);
        p[3] = (unsigned char)n;
        return 4;
    }
    p[1] = 0x83;
    p[2] = (unsigned char)(n >> 16);
    p[3] = (unsigned char)(n >> 8);
    p[4] = (unsigned char)n;
    return 5;
}

int diff_login_pad_ticket(diff_login *l, size_t pad)
{
    /* AuthorizationData ::= SEQUENCE OF SEQUENCE { [0] Int32,
     * [1] OCTET STRING } -- one element, its data `pad` bytes. */
    unsigned char h_os[5], h_a1[5], h_el[5], h_seq[5];
    static const unsigned char type[] = {
        0xa0, 0x05, 0x02, 0x03, 0x00, PAD_AD_TYPE >> 8, PAD_AD_TYPE & 0xff};
    size_t n_os, n_a1, n_el, n_seq, total, off = 0;
    unsigned char *buf;

    if (pad == 0 || pad > 0x800000)
        return -1;
    n_os = der_head(h_os, 0x04, pad);
    n_a1 = der_head(h_a1, 0xa1, n_os + pad);
    n_el = der_head(h_el, 0x30, sizeof(type) + n_a1 + n_os + pad);
    n_seq = der_head(h_seq, 0x30, n_el + sizeof(type) + n_a1 + n_os + pad);
    total = n_seq + n_el + sizeof(type) + n_a1 + n_os + pad;
    buf = malloc(total);
    if (buf == NULL)
        return -1;
    memcpy(buf + off, h_seq, n_seq);
    off += n_seq;
    memcpy(buf + off, h_el, n_el);
    off += n_el;
    memcpy(buf + off, type, sizeof(type));
    off += sizeof(type);
    memcpy(buf + off, h_a1, n_a1);
    off += n_a1;
    memcpy(buf + off, h_os, n_os);
    off += n_os;
    memset(buf + off, 'P', pad);
    diff_login_add_authdata(l, 1, KRB5_AUTHDATA_IF_RELEVANT, buf, total);
    free(buf);
    return 0;
}
