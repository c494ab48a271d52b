/*
 * diff_pac.c - the forge's PAC mutations: a real AD ticket, decrypted
 * with the service key, gets its PAC changed and is encrypted again, so
 * that the PAC's server signature no longer verifies (or, unchanged,
 * still does).  MIT's acceptor then accepts the login and hides the PAC
 * (mspac_verify); the fast path must do exactly that (diff_compare
 * compares the claims both report).  A ticket without a PAC (MIT KDC) is
 * left as it is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff_core.h"

#define PAC_LOGON_INFO      1
#define PAC_SERVER_CHECKSUM 6

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
           | (uint32_t)p[3] << 24;
}

/* Offset and size of buffer type in the PAC, or -1. */
static long pac_buffer(const unsigned char *pac, size_t len, uint32_t type,
                       size_t *size)
{
    uint32_t n, i;

    if (len < 8)
        return -1;
    n = le32(pac);
    for (i = 0; i < n && 8 + 16 * (size_t)(i + 1) <= len; i++) {
        const unsigned char *ent = pac + 8 + 16 * i;
        uint64_t off = le32(ent + 8) | (uint64_t)le32(ent + 12) << 32;

        if (le32(ent) == type && off < len && le32(ent + 4) <= len - off) {
            *size = le32(ent + 4);
            return (long)off;
        }
    }
    return -1;
}

const char *diff_claims_differ(const n8443_ticket_claims *f,
                               const n8443_ticket_claims *g, char *text,
                               size_t len)
{
    snprintf(text, len,
             "PAC state fast %d (%zu octets), GSS-API %d (%zu "
             "octets)",
             (int)f->pac, f->logon_info_len, (int)g->pac, g->logon_info_len);
    if (f->pac != g->pac || f->logon_info_len != g->logon_info_len
        || (f->logon_info_len > 0
            && memcmp(f->logon_info, g->logon_info, f->logon_info_len) != 0))
        return "PAC";
    snprintf(text, len, "fast '%s', GSS-API '%s'",
             f->indicators ? f->indicators : "",
             g->indicators ? g->indicators : "");
    if ((f->indicators == NULL) != (g->indicators == NULL)
        || (f->indicators != NULL && strcmp(f->indicators, g->indicators) != 0))
        return "authentication indicators";
    return NULL;
}

int diff_pac_mutate(diff_env *e, diff_login *l, diff_pac_change what)
{
    krb5_authdata **pacs = NULL, *list[2], **container = NULL;
    krb5_authdata pac;
    unsigned char *copy;
    size_t size = 0;
    long off;
    int ret = -1;

    if (krb5_find_authdata(e->ctx, l->ticket->enc_part2->authorization_data,
                           NULL, KRB5_AUTHDATA_WIN2K_PAC, &pacs)
            != 0
        || pacs == NULL)
        return 1;
    copy = malloc(pacs[0]->length);
    memcpy(copy, pacs[0]->contents, pacs[0]->length);
    off = -1;
    if (what == DIFF_PAC_LOGON_INFO) {
        /* LogonTime, after the NDR headers and the top pointer. */
        off = pac_buffer(copy, pacs[0]->length, PAC_LOGON_INFO, &size);
        if (off >= 0 && size > 24)
            off += 20;
        else
            off = -1;
    }
    else if (what == DIFF_PAC_SERVER_SIGNATURE) {
        off = pac_buffer(copy, pacs[0]->length, PAC_SERVER_CHECKSUM, &size);
        if (off >= 0 && size > 4)
            off += 4;
        else
            off = -1;
    }
    if (off >= 0)
        copy[off] ^= 0x01;
    else if (what != DIFF_PAC_UNCHANGED)
        goto cleanup;
    /* The ticket's authorization data becomes one AD-IF-RELEVANT with
     * the (changed) PAC, as AD sends it. */
    pac.magic = KV5M_AUTHDATA;
    pac.ad_type = KRB5_AUTHDATA_WIN2K_PAC;
    pac.length = pacs[0]->length;
    pac.contents = copy;
    list[0] = &pac;
    list[1] = NULL;
    if (krb5_encode_authdata_container(e->ctx, KRB5_AUTHDATA_IF_RELEVANT, list,
                                       &container)
        != 0)
        goto cleanup;
    krb5_free_authdata(e->ctx, l->ticket->enc_part2->authorization_data);
    l->ticket->enc_part2->authorization_data = container;
    l->reencrypt_ticket = 1;
    ret = 0;

cleanup:
    free(copy);
    krb5_free_authdata(e->ctx, pacs);
    return ret;
}

/*
 * n8443_diff --tamper-pac KEYTAB TOKENFILE unchanged|logon-info|signature:
 * the raw krb5 token (the AP-REQ of TOKENFILE, a real token, with a fresh
 * authenticator and its ticket's PAC changed) on stdout, for the
 * integration tests to send to httpd.
 */
int diff_pac_tamper_main(diff_env *e, const char *file, const char *what)
{
    n8443_apreq_info info;
    diff_login l;
    unsigned char buf[65536], *tok;
    size_t len, tlen;
    diff_pac_change change;
    FILE *f = fopen(file, "rb");
    int ret = 2;

    if (strcmp(what, "unchanged") == 0)
        change = DIFF_PAC_UNCHANGED;
    else if (strcmp(what, "logon-info") == 0)
        change = DIFF_PAC_LOGON_INFO;
    else if (strcmp(what, "signature") == 0)
        change = DIFF_PAC_SERVER_SIGNATURE;
    else
        return 2;
    if (f == NULL)
        return 2;
    len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (n8443_token_walk(buf, len, &info) != N8443_TOK_KRB5
        || diff_login_from_apreq(e, info.apreq.data, info.apreq.len, &l) != 0)
        return 2;
    if (diff_pac_mutate(e, &l, change) == 0
        && diff_login_token(e, &l, &tok, &tlen) == 0) {
        ret = fwrite(tok, 1, tlen, stdout) == tlen ? 0 : 2;
        free(tok);
    }
    diff_login_free(e, &l);
    return ret;
}

/* ------------------------------------------------------------------ *
 * Red-team modes (tests/integration/test_redteam_ad.py):
 *   authenticator-pac     the ticket's PAC moved into the authenticator
 *                         (in an AD-IF-RELEVANT), the ticket without one
 *   top-level-pac         the PAC at the top level of the ticket's
 *                         authorization data (no AD-IF-RELEVANT)
 *   two-pacs-bad-first    AD-IF-RELEVANT { PAC with a bad signature,
 *                         the real PAC }
 *   two-pacs-good-first   AD-IF-RELEVANT { the real PAC, a PAC with a bad
 *                         signature }
 *   silver-primary:RID    the logon info's PrimaryGroupId set to RID and
 *                         both signatures made again with the service key
 *                         (a "silver ticket": what a holder of the keytab
 *                         can do)
 *   authn-ad:TYPE:HEX     one element TYPE with contents HEX added to the
 *                         authenticator's authorization data
 * ------------------------------------------------------------------ */

static int set_ticket_ad(diff_env *e, diff_login *l, krb5_authdata **inner,
                         int wrap)
{
    krb5_authdata **container = NULL, **copy = NULL;

    if (wrap) {
        if (krb5_encode_authdata_container(e->ctx, KRB5_AUTHDATA_IF_RELEVANT,
                                           inner, &container)
            != 0)
            return -1;
    }
    else {
        if (krb5_copy_authdata(e->ctx, inner, &copy) != 0)
            return -1;
        container = copy;
    }
    krb5_free_authdata(e->ctx, l->ticket->enc_part2->authorization_data);
    l->ticket->enc_part2->authorization_data = container;
    l->reencrypt_ticket = 1;
    return 0;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static int redteam_mutate(diff_env *e, diff_login *l, const char *what)
{
    krb5_authdata **pacs = NULL, *list[3], a, b;
    unsigned char *copy = NULL, *bad = NULL;
    size_t size = 0, len;
    long off;
    int ret = -1;

    if (strncmp(what, "authn-ad:", 9) == 0) {
        char *end;
        long t = strtol(what + 9, &end, 10);
        const char *h;
        unsigned char *raw;
        size_t n = 0;

        if (*end != ':')
            return -1;
        h = end + 1;
        raw = malloc(strlen(h) / 2 + 1);
        while (h[0] && h[1] && hexval(h[0]) >= 0 && hexval(h[1]) >= 0) {
            raw[n++] = (unsigned char)(hexval(h[0]) << 4 | hexval(h[1]));
            h += 2;
        }
        diff_login_add_authdata(l, 0, (krb5_authdatatype)t, raw, n);
        free(raw);
        return 0;
    }
    if (krb5_find_authdata(e->ctx, l->ticket->enc_part2->authorization_data,
                           NULL, KRB5_AUTHDATA_WIN2K_PAC, &pacs)
            != 0
        || pacs == NULL)
        return -1;
    len = pacs[0]->length;
    copy = malloc(len);
    bad = malloc(len);
    memcpy(copy, pacs[0]->contents, len);
    memcpy(bad, pacs[0]->contents, len);
    off = pac_buffer(bad, len, PAC_SERVER_CHECKSUM, &size);
    if (off < 0 || size <= 4)
        goto cleanup;
    bad[off + 4] ^= 0x01;
    a.magic = b.magic = KV5M_AUTHDATA;
    a.ad_type = b.ad_type = KRB5_AUTHDATA_WIN2K_PAC;
    a.length = b.length = (unsigned int)len;
    a.contents = copy;
    b.contents = bad;
    if (strcmp(what, "authenticator-pac") == 0) {
        krb5_authdata **container = NULL;

        list[0] = &a;
        list[1] = NULL;
        if (krb5_encode_authdata_container(e->ctx, KRB5_AUTHDATA_IF_RELEVANT,
                                           list, &container)
            != 0)
            goto cleanup;
        diff_login_add_authdata(l, 0, KRB5_AUTHDATA_IF_RELEVANT,
                                container[0]->contents, container[0]->length);
        krb5_free_authdata(e->ctx, container);
        krb5_free_authdata(e->ctx, l->ticket->enc_part2->authorization_data);
        l->ticket->enc_part2->authorization_data = NULL;
        l->reencrypt_ticket = 1;
        ret = 0;
    }
    else if (strcmp(what, "top-level-pac") == 0) {
        list[0] = &a;
        list[1] = NULL;
        ret = set_ticket_ad(e, l, list, 0);
    }
    else if (strcmp(what, "two-pacs-bad-first") == 0) {
        list[0] = &b;
        list[1] = &a;
        list[2] = NULL;
        ret = set_ticket_ad(e, l, list, 1);
    }
    else if (strcmp(what, "two-pacs-good-first") == 0) {
        list[0] = &a;
        list[1] = &b;
        list[2] = NULL;
        ret = set_ticket_ad(e, l, list, 1);
    }
    else if (strncmp(what, "silver-primary:", 15) == 0) {
        krb5_pac pac = NULL;
        krb5_data signed_pac = {0, 0, NULL};
        uint32_t rid = (uint32_t)strtoul(what + 15, NULL, 10);

        off = pac_buffer(copy, len, PAC_LOGON_INFO, &size);
        if (off < 0 || size < 16 + 4 + 108)
            goto cleanup;
        /* PrimaryGroupId: NDR headers (16), top pointer (4), six
         * FILETIMEs (48), six strings (48), two counts (4), UserId. */
        off += 16 + 4 + 48 + 48 + 4 + 4;
        copy[off] = (unsigned char)rid;
        copy[off + 1] = (unsigned char)(rid >> 8);
        copy[off + 2] = (unsigned char)(rid >> 16);
        copy[off + 3] = (unsigned char)(rid >> 24);
        if (krb5_pac_parse(e->ctx, copy, len, &pac) != 0)
            goto cleanup;
        if (krb5_pac_sign_ext(e->ctx, pac, l->ticket->enc_part2->times.authtime,
                              l->ticket->enc_part2->client, &l->service_key,
                              &l->service_key, FALSE, &signed_pac)
            != 0) {
            fprintf(stderr, "krb5_pac_sign_ext failed\n");
            krb5_pac_free(e->ctx, pac);
            goto cleanup;
        }
        krb5_pac_free(e->ctx, pac);
        a.length = signed_pac.length;
        a.contents = (krb5_octet *)signed_pac.data;
        list[0] = &a;
        list[1] = NULL;
        ret = set_ticket_ad(e, l, list, 1);
        krb5_free_data_contents(e->ctx, &signed_pac);
    }

cleanup:
    free(copy);
    free(bad);
    krb5_free_authdata(e->ctx, pacs);
    return ret;
}

int diff_pac_redteam_main(diff_env *e, const char *file, const char *what)
{
    n8443_apreq_info info;
    diff_login l;
    unsigned char buf[65536], *tok;
    size_t len, tlen;
    FILE *f = fopen(file, "rb");
    int ret = 2;

    if (f == NULL)
        return 2;
    len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (n8443_token_walk(buf, len, &info) != N8443_TOK_KRB5
        || diff_login_from_apreq(e, info.apreq.data, info.apreq.len, &l) != 0)
        return 2;
    if (redteam_mutate(e, &l, what) == 0
        && diff_login_token(e, &l, &tok, &tlen) == 0) {
        ret = fwrite(tok, 1, tlen, stdout) == tlen ? 0 : 2;
        free(tok);
    }
    diff_login_free(e, &l);
    return ret;
}
