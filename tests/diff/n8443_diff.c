/*
 * n8443_diff - the differential test of the fast path (issue 15): every
 * token of a corpus, and every mutation of every field the forge can make
 * of it, goes to the fast path and to GSS-API; wherever the fast path
 * accepts, GSS-API must accept with the same principal, flags, lifetime,
 * no delegated credential and an answer token alike, and the replay key
 * must be over the authenticator krb5 decrypted (diff_core.c).
 *
 * Usage:
 *   n8443_diff [-v] KEYTAB DIR      every DIR/ *.tok (a token, binary),
 *                                   under each kind of acceptor bindings,
 *                                   and the forge's mutations of each
 *   n8443_diff --forge KEYTAB CLIENT [SECONDS [CTIME [PAD]]]
 *                                   print a raw krb5 token (base64) for
 *                                   a ticket made here for CLIENT, its
 *                                   authorization data padded by PAD
 *                                   bytes (a large token)
 * Exit status: 0 when the paths agree on everything, 1 on any difference,
 * 2 when the test cannot run.  A summary line goes to stdout.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gssapi/gssapi_ext.h>

#include "diff_core.h"

typedef void (*mutator)(diff_env *e, diff_login *l, long arg);

typedef struct {
    const char *name;
    mutator fn;
    long arg;
} mutation;

static const uint32_t default_flags = GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG
                                      | GSS_C_SEQUENCE_FLAG | GSS_C_CONF_FLAG
                                      | GSS_C_INTEG_FLAG;

/* ------------------------------------------------------------ mutators */

static void m_none(diff_env *e, diff_login *l, long a)
{
    (void)e, (void)l, (void)a;
}

static void m_etype(diff_env *e, diff_login *l, long a)
{
    (void)e;
    l->auth_etype_field = (krb5_enctype)a;
}

static void m_auth_kvno(diff_env *e, diff_login *l, long a)
{
    (void)e;
    l->auth_kvno_field = (krb5_kvno)a;
}

static void m_flip(diff_env *e, diff_login *l, long a)
{
    (void)e;
    l->flip_cipher_byte = a;
}

static void m_no_cksum(diff_env *e, diff_login *l, long a)
{
    (void)e, (void)a;
    l->auth.checksum = NULL;
}

static void m_cksum_len(diff_env *e, diff_login *l, long a)
{
    (void)e;
    l->cksum.length = (unsigned int)a;
}

static void m_cksum_cblen(diff_env *e, diff_login *l, long a)
{
    (void)e;
    l->cksum_buf[0] = (unsigned char)a;
}

static void m_cksum_type(diff_env *e, diff_login *l, long a)
{
    (void)e;
    l->cksum.checksum_type = (krb5_cksumtype)a;
}

/* Samba's: a real checksum over nothing, with the session key. */
static void m_cksum_real(diff_env *e, diff_login *l, long a)
{
    krb5_data empty = {0, 0, NULL};
    krb5_checksum sum;

    (void)a;
    if (krb5_c_make_checksum(e->ctx, 0, l->ticket->enc_part2->session,
                             KRB5_KEYUSAGE_AP_REQ_AUTH_CKSUM, &empty, &sum)
        != 0)
        return;
    if (sum.length <= sizeof(l->cksum_buf)) {
        memcpy(l->cksum_buf, sum.contents, sum.length);
        l->cksum.checksum_type = sum.checksum_type;
        l->cksum.length = sum.length;
    }
    krb5_free_checksum_contents(e->ctx, &sum);
}

static void m_flags(diff_env *e, diff_login *l, long a)
{
    diff_login_set_gss_cksum(e, l, DIFF_CB_NONE, (uint32_t)a, NULL, 0);
    if (!((uint32_t)a & GSS_C_MUTUAL_FLAG))
        l->ap_options &= ~AP_OPTS_MUTUAL_REQUIRED;
}

static void m_flags_only(diff_env *e, diff_login *l, long a)
{
    /* flags changed, the AP options left as they were */
    diff_login_set_gss_cksum(e, l, DIFF_CB_NONE, (uint32_t)a, NULL, 0);
}

static void m_ap_options(diff_env *e, diff_login *l, long a)
{
    (void)e;
    l->ap_options = (krb5_flags)a;
}

static void m_deleg_garbage(diff_env *e, diff_login *l, long a)
{
    static const unsigned char opt[] = {0x01, 0x00, 0x04, 0x00,
                                        0xde, 0xad, 0xbe, 0xef};

    (void)a;
    diff_login_set_gss_cksum(
        e, l, DIFF_CB_NONE, default_flags | GSS_C_DELEG_FLAG, opt, sizeof(opt));
}

static void m_extension(diff_env *e, diff_login *l, long a)
{
    /* 4-byte big-endian type and length: an unknown type, or IAKERB's
     * finished (2) with nothing to check it against */
    unsigned char ext[12] = {0, 0, 0, (unsigned char)a, 0, 0, 0, 4, 1, 2, 3, 4};

    diff_login_set_gss_cksum(e, l, DIFF_CB_NONE, default_flags, ext,
                             sizeof(ext));
}

static void m_cb(diff_env *e, diff_login *l, long a)
{
    diff_login_set_gss_cksum(e, l, (diff_cb_kind)a, default_flags, NULL, 0);
}

static void m_cb_random(diff_env *e, diff_login *l, long a)
{
    (void)a;
    diff_login_set_gss_cksum(e, l, DIFF_CB_NONE, default_flags, NULL, 0);
    memset(l->cksum_buf + 4, 0x5a, 16);
}

static void m_subkey(diff_env *e, diff_login *l, long a)
{
    if (krb5_c_make_random_key(e->ctx, (krb5_enctype)a, &l->subkey) == 0)
        l->auth.subkey = &l->subkey;
}

static void m_seq(diff_env *e, diff_login *l, long a)
{
    (void)e;
    l->auth.seq_number = (krb5_ui_4)a;
}

static void m_ctime(diff_env *e, diff_login *l, long a)
{
    (void)e;
    l->auth.ctime += (krb5_timestamp)a;
}

static void m_ctime_skew(diff_env *e, diff_login *l, long a)
{
    /* five seconds inside the skew, in the past or the future */
    l->auth.ctime += a < 0 ? -(e->skew - 5) : e->skew - 5;
}

static void m_cusec(diff_env *e, diff_login *l, long a)
{
    (void)e;
    l->auth.cusec = (krb5_int32)a;
}

static void m_auth_client(diff_env *e, diff_login *l, long a)
{
    (void)a;
    krb5_free_principal(e->ctx, l->auth.client);
    krb5_parse_name(e->ctx, "bob", &l->auth.client);
}

/* One AuthorizationData element, DER: SEQUENCE { [0] INTEGER type,
 * [1] OCTET STRING data }, in a SEQUENCE OF. */
static size_t ad_seq(unsigned char *out, int type, const void *data, size_t len)
{
    unsigned char el[128];
    size_t n = 0, m;

    el[n++] = 0xa0;
    el[n++] = 4;
    el[n++] = 0x02;
    el[n++] = 2;
    el[n++] = (unsigned char)(type >> 8);
    el[n++] = (unsigned char)type;
    el[n++] = 0xa1;
    el[n++] = (unsigned char)(len + 2);
    el[n++] = 0x04;
    el[n++] = (unsigned char)len;
    memcpy(el + n, data, len);
    n += len;
    m = 0;
    out[m++] = 0x30;
    out[m++] = (unsigned char)(n + 2);
    out[m++] = 0x30;
    out[m++] = (unsigned char)n;
    memcpy(out + m, el, n);
    return m + n;
}

/* Authenticator authorization data as Windows and Heimdal send it. */
static void m_auth_ad(diff_env *e, diff_login *l, long a)
{
    unsigned char buf[160];
    static const unsigned char etypes[] = {0x30, 0x03, 0x02, 0x01, 0x12};
    static const unsigned char cbt[] = {0x00, 0x40, 0x00, 0x00};
    static const unsigned char nocbt[] = {0x00, 0x00, 0x00, 0x00};
    static const unsigned char restriction[] = {0x30, 0x06, 0xa0, 0x02,
                                                0x02, 0x00, 0xa1, 0x00};
    size_t n;

    (void)e;
    switch (a) {
    case 1: /* AD-IF-RELEVANT { etype negotiation (129) } */
        n = ad_seq(buf, 129, etypes, sizeof(etypes));
        diff_login_add_authdata(l, 0, KRB5_AUTHDATA_IF_RELEVANT, buf, n);
        break;
    case 2: /* KERB-AD-RESTRICTION-ENTRY (141), inside IF-RELEVANT */
        n = ad_seq(buf, 141, restriction, sizeof(restriction));
        diff_login_add_authdata(l, 0, KRB5_AUTHDATA_IF_RELEVANT, buf, n);
        break;
    case 3: /* KERB-LOCAL (142) */
        n = ad_seq(buf, 142, "0123456789abcdef", 16);
        diff_login_add_authdata(l, 0, KRB5_AUTHDATA_IF_RELEVANT, buf, n);
        break;
    case 4: /* AD-AUTH-DATA-AP-OPTIONS (143) with the CBT bit */
        n = ad_seq(buf, 143, cbt, sizeof(cbt));
        diff_login_add_authdata(l, 0, KRB5_AUTHDATA_IF_RELEVANT, buf, n);
        break;
    case 5: /* 143 without it */
        n = ad_seq(buf, 143, nocbt, sizeof(nocbt));
        diff_login_add_authdata(l, 0, KRB5_AUTHDATA_IF_RELEVANT, buf, n);
        break;
    case 6: /* 143 bare, with the CBT bit */
        diff_login_add_authdata(l, 0, KRB5_AUTHDATA_AP_OPTIONS, cbt, 4);
        break;
    case 7: /* 143 bare, wrong length */
        diff_login_add_authdata(l, 0, KRB5_AUTHDATA_AP_OPTIONS, cbt, 3);
        break;
    case 8: /* an unknown type, not in IF-RELEVANT */
        diff_login_add_authdata(l, 0, 9999, "x", 1);
        break;
    case 9: /* AND-OR, KDC-issued, mandatory-for-KDC: garbage */
        diff_login_add_authdata(l, 0, KRB5_AUTHDATA_AND_OR, "\x30\x00", 2);
        break;
    case 10:
        diff_login_add_authdata(l, 0, KRB5_AUTHDATA_KDC_ISSUED, "\x30\x00", 2);
        break;
    case 11:
        diff_login_add_authdata(l, 0, KRB5_AUTHDATA_MANDATORY_FOR_KDC,
                                "\x30\x00", 2);
        break;
    default: break;
    }
}

/* The 143 CBT bit with matching bindings (MIT: then required) */
static void m_auth_ad_cbt_bound(diff_env *e, diff_login *l, long a)
{
    m_cb(e, l, a);
    m_auth_ad(e, l, 6);
}

/* ---------------------------------------------------- ticket mutators */

static krb5_enc_tkt_part *tkt(diff_login *l)
{
    l->reencrypt_ticket = 1;
    return l->ticket->enc_part2;
}

static void t_reencrypt(diff_env *e, diff_login *l, long a)
{
    (void)e, (void)a;
    tkt(l);
}

static void t_flags(diff_env *e, diff_login *l, long a)
{
    (void)e;
    tkt(l)->flags = (krb5_flags)a;
}

static void t_flag_add(diff_env *e, diff_login *l, long a)
{
    (void)e;
    tkt(l)->flags |= (krb5_flags)a;
}

static void t_end(diff_env *e, diff_login *l, long a)
{
    krb5_timestamp now;

    krb5_timeofday(e->ctx, &now);
    /* a: seconds from now; +/-1000000 mean -/+ (skew + 60) */
    if (a == -1000000)
        a = -(long)e->skew - 60;
    tkt(l)->times.endtime = now + (krb5_timestamp)a;
}

static void t_start(diff_env *e, diff_login *l, long a)
{
    krb5_timestamp now;

    krb5_timeofday(e->ctx, &now);
    if (a == 1000000)
        a = (long)e->skew + 60;
    tkt(l)->times.starttime = now + (krb5_timestamp)a;
}

static void t_transited(diff_env *e, diff_login *l, long a)
{
    static char realms[] = "OTHER.REALM,";
    krb5_enc_tkt_part *p = tkt(l);

    (void)e, (void)a;
    free(p->transited.tr_contents.data);
    p->transited.tr_contents.data = malloc(sizeof(realms) - 1);
    memcpy(p->transited.tr_contents.data, realms, sizeof(realms) - 1);
    p->transited.tr_contents.length = sizeof(realms) - 1;
}

static void t_ad(diff_env *e, diff_login *l, long a)
{
    unsigned char buf[160];
    size_t n;

    (void)e;
    switch (a) {
    case 1:
        n = ad_seq(buf, 129, "\x30\x03\x02\x01\x12", 5);
        diff_login_add_authdata(l, 1, KRB5_AUTHDATA_IF_RELEVANT, buf, n);
        break;
    case 2: /* KDC-issued with a checksum that cannot verify */
        diff_login_add_authdata(l, 1, KRB5_AUTHDATA_KDC_ISSUED, "\x30\x00", 2);
        break;
    case 3: /* a PAC that is not one */
        n = ad_seq(buf, 128, "garbage", 7);
        diff_login_add_authdata(l, 1, KRB5_AUTHDATA_IF_RELEVANT, buf, n);
        break;
    case 4: /* CAMMAC that is not one */
        n = ad_seq(buf, 96, "garbage", 7);
        diff_login_add_authdata(l, 1, KRB5_AUTHDATA_IF_RELEVANT, buf, n);
        break;
    case 5:
        diff_login_add_authdata(l, 1, KRB5_AUTHDATA_AND_OR, "\x30\x00", 2);
        break;
    case 6:
        diff_login_add_authdata(l, 1, KRB5_AUTHDATA_MANDATORY_FOR_KDC,
                                "\x30\x00", 2);
        break;
    case 7: diff_login_add_authdata(l, 1, 9999, "x", 1); break;
    default: break;
    }
}

static void t_client(diff_env *e, diff_login *l, long a)
{
    static const char *const names[] = {
        "WELLKNOWN/ANONYMOUS@WELLKNOWN:ANONYMOUS",
        "WELLKNOWN/ANONYMOUS", /* realm-anonymous, this realm */
        "alice@OTHER.REALM",
        "alice\\@example.com", /* enterprise-looking name */
    };
    krb5_enc_tkt_part *p = tkt(l);

    krb5_free_principal(e->ctx, p->client);
    krb5_parse_name(e->ctx, names[a], &p->client);
    if (a == 0 || a == 1)
        p->flags |= TKT_FLG_ANONYMOUS;
    krb5_free_principal(e->ctx, l->auth.client);
    krb5_copy_principal(e->ctx, p->client, &l->auth.client);
}

static void t_caddrs(diff_env *e, diff_login *l, long a)
{
    krb5_enc_tkt_part *p = tkt(l);
    krb5_address *ad = calloc(1, sizeof(*ad));

    (void)e, (void)a;
    ad->magic = KV5M_ADDRESS;
    ad->addrtype = ADDRTYPE_INET;
    ad->length = 4;
    ad->contents = malloc(4);
    memcpy(ad->contents, "\x7f\x00\x00\x01", 4);
    p->caddrs = calloc(2, sizeof(*p->caddrs));
    p->caddrs[0] = ad;
}

static void t_session(diff_env *e, diff_login *l, long a)
{
    krb5_enc_tkt_part *p = tkt(l);

    krb5_free_keyblock_contents(e->ctx, p->session);
    krb5_c_make_random_key(e->ctx, (krb5_enctype)a, p->session);
    l->auth_etype_field = (krb5_enctype)a;
}

static void m_pac(diff_env *e, diff_login *l, long a)
{
    diff_pac_mutate(e, l, (diff_pac_change)a);
}

static const mutation mutations[] = {
    {"identity", m_none, 0},
    {"pac-unchanged", m_pac, DIFF_PAC_UNCHANGED},
    {"pac-logon-info-byte", m_pac, DIFF_PAC_LOGON_INFO},
    {"pac-server-signature-byte", m_pac, DIFF_PAC_SERVER_SIGNATURE},
    {"auth-etype-511", m_etype, 511},
    {"auth-etype-17", m_etype, 17},
    {"auth-etype-23", m_etype, 23},
    {"auth-etype-0", m_etype, 0},
    {"auth-etype-neg1", m_etype, -1},
    {"auth-kvno-1", m_auth_kvno, 1},
    {"auth-cipher-flip-0", m_flip, 0},
    {"auth-cipher-flip-40", m_flip, 40},
    {"auth-cipher-flip-last", m_flip, 100000 - 1},
    {"cksum-none", m_no_cksum, 0},
    {"cksum-len-23", m_cksum_len, 23},
    {"cksum-len-0", m_cksum_len, 0},
    {"cksum-cb-len-15", m_cksum_cblen, 15},
    {"cksum-cb-len-32", m_cksum_cblen, 32},
    {"cksum-type-8004", m_cksum_type, 0x8004},
    {"cksum-type-real", m_cksum_real, 0},
    {"cksum-extension-unknown", m_extension, 9},
    {"cksum-extension-iakerb", m_extension, 2},
    {"flags-0", m_flags, 0},
    {"flags-mutual-only", m_flags, GSS_C_MUTUAL_FLAG},
    {"flags-no-mutual", m_flags, default_flags & ~GSS_C_MUTUAL_FLAG},
    {"flags-mutual-ap-not", m_ap_options, 0},
    {"flags-not-mutual-ap-mutual", m_flags_only,
     default_flags & ~GSS_C_MUTUAL_FLAG},
    {"flags-deleg-no-creds", m_flags, default_flags | GSS_C_DELEG_FLAG},
    {"flags-deleg-garbage", m_deleg_garbage, 0},
    {"flags-dce", m_flags, default_flags | GSS_C_DCE_STYLE},
    {"flags-anon", m_flags, default_flags | GSS_C_ANON_FLAG},
    {"flags-prot-ready", m_flags, default_flags | GSS_C_PROT_READY_FLAG},
    {"flags-trans", m_flags, default_flags | GSS_C_TRANS_FLAG},
    {"flags-identify", m_flags, default_flags | GSS_C_IDENTIFY_FLAG},
    {"flags-extended-error", m_flags,
     default_flags | GSS_C_EXTENDED_ERROR_FLAG},
    {"flags-0x8000", m_flags, default_flags | 0x8000},
    {"flags-0x10000", m_flags, default_flags | 0x10000},
    {"flags-all", m_flags, 0x7fffffff & ~GSS_C_DELEG_FLAG},
    {"cb-app", m_cb, DIFF_CB_APP},
    {"cb-addr", m_cb, DIFF_CB_ADDR},
    {"cb-app-nulladdr", m_cb, DIFF_CB_APP_NULLADDR},
    {"cb-app-mixed", m_cb, DIFF_CB_APP_MIXED},
    {"cb-app-mixed2", m_cb, DIFF_CB_APP_MIXED2},
    {"cb-random", m_cb_random, 0},
    {"subkey-aes256", m_subkey, ENCTYPE_AES256_CTS_HMAC_SHA1_96},
    {"subkey-aes128", m_subkey, ENCTYPE_AES128_CTS_HMAC_SHA1_96},
    {"subkey-aes256-sha384", m_subkey, ENCTYPE_AES256_CTS_HMAC_SHA384_192},
    {"subkey-rc4", m_subkey, ENCTYPE_ARCFOUR_HMAC},
    {"seq-1", m_seq, 1},
    {"seq-max", m_seq, 0x7fffffff},
    {"ctime-minus-600", m_ctime, -600},
    {"ctime-plus-600", m_ctime, 600},
    {"ctime-inside-skew-past", m_ctime_skew, -1},
    {"ctime-inside-skew-future", m_ctime_skew, 1},
    {"cusec-1000000", m_cusec, 1000000},
    {"auth-client-bob", m_auth_client, 0},
    {"auth-ad-etype-negotiation", m_auth_ad, 1},
    {"auth-ad-restriction", m_auth_ad, 2},
    {"auth-ad-kerb-local", m_auth_ad, 3},
    {"auth-ad-ap-options-cbt", m_auth_ad, 4},
    {"auth-ad-ap-options-nocbt", m_auth_ad, 5},
    {"auth-ad-ap-options-cbt-bare", m_auth_ad, 6},
    {"auth-ad-ap-options-badlen", m_auth_ad, 7},
    {"auth-ad-unknown", m_auth_ad, 8},
    {"auth-ad-and-or", m_auth_ad, 9},
    {"auth-ad-kdc-issued", m_auth_ad, 10},
    {"auth-ad-mandatory", m_auth_ad, 11},
    {"auth-ad-cbt-bound-app", m_auth_ad_cbt_bound, DIFF_CB_APP},
    {"auth-ad-cbt-bound-nulladdr", m_auth_ad_cbt_bound, DIFF_CB_APP_NULLADDR},
    {"auth-ad-cbt-bound-mixed", m_auth_ad_cbt_bound, DIFF_CB_APP_MIXED},
    {"ap-use-session-key", m_ap_options,
     AP_OPTS_MUTUAL_REQUIRED | AP_OPTS_USE_SESSION_KEY},
    {"ap-reserved", m_ap_options, AP_OPTS_MUTUAL_REQUIRED | AP_OPTS_RESERVED},
    {"ap-use-subkey", m_ap_options,
     AP_OPTS_MUTUAL_REQUIRED | AP_OPTS_USE_SUBKEY},
    {"tkt-reencrypted", t_reencrypt, 0},
    {"tkt-flags-0", t_flags, 0},
    {"tkt-flag-invalid", t_flag_add, TKT_FLG_INVALID},
    {"tkt-flag-postdated", t_flag_add, TKT_FLG_POSTDATED},
    {"tkt-flag-forwardable", t_flag_add, TKT_FLG_FORWARDABLE},
    {"tkt-flag-anonymous", t_flag_add, TKT_FLG_ANONYMOUS},
    {"tkt-end-past-inside-skew", t_end, -20},
    {"tkt-end-past", t_end, -1000000},
    {"tkt-end-in-60s", t_end, 60},
    {"tkt-end-far", t_end, 10L * 365 * 86400},
    {"tkt-start-future-inside-skew", t_start, 20},
    {"tkt-start-future", t_start, 1000000},
    {"tkt-transited", t_transited, 0},
    {"tkt-ad-if-relevant", t_ad, 1},
    {"tkt-ad-kdc-issued-bad", t_ad, 2},
    {"tkt-ad-pac-garbage", t_ad, 3},
    {"tkt-ad-cammac-garbage", t_ad, 4},
    {"tkt-ad-and-or", t_ad, 5},
    {"tkt-ad-mandatory", t_ad, 6},
    {"tkt-ad-unknown", t_ad, 7},
    {"tkt-client-anonymous", t_client, 0},
    {"tkt-client-realm-anonymous", t_client, 1},
    {"tkt-client-cross-realm", t_client, 2},
    {"tkt-client-enterprise", t_client, 3},
    {"tkt-caddrs", t_caddrs, 0},
    {"tkt-session-aes128", t_session, ENCTYPE_AES128_CTS_HMAC_SHA1_96},
    {"tkt-session-rc4", t_session, ENCTYPE_ARCFOUR_HMAC},
    {"tkt-session-aes256-sha384", t_session,
     ENCTYPE_AES256_CTS_HMAC_SHA384_192},
};

/* ------------------------------------------------------------- driver */

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0
        && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n);
        if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)n;
    }
    fclose(f);
    return buf;
}

/* Every kind of acceptor bindings, the raw token and SPNEGO around it. */
static void compare_all(diff_env *e, const char *name, const unsigned char *tok,
                        size_t len, int wrap)
{
    char sub[320];
    unsigned char *sp;
    size_t splen;
    int k;

    for (k = 0; k < DIFF_CB_COUNT; k++)
        diff_compare(e, name, tok, len, (diff_cb_kind)k);
    if (!wrap)
        return;
    sp = diff_wrap_spnego(tok, len, &splen);
    snprintf(sub, sizeof(sub), "%.300s+spnego", name);
    for (k = 0; k < DIFF_CB_COUNT; k++)
        diff_compare(e, sub, sp, splen, (diff_cb_kind)k);
    free(sp);
}

static void mutate(diff_env *e, const char *base, const unsigned char *apreq,
                   size_t len)
{
    char name[300];
    unsigned char *tok;
    size_t i, tlen;
    diff_login l;

    for (i = 0; i < sizeof(mutations) / sizeof(mutations[0]); i++) {
        if (apreq != NULL) {
            if (diff_login_from_apreq(e, apreq, len, &l) != 0)
                return;
        }
        else if (diff_login_forged(e, NULL, 36000, &l) != 0) {
            fprintf(stderr, "n8443_diff: cannot forge a ticket\n");
            e->violations++;
            return;
        }
        mutations[i].fn(e, &l, mutations[i].arg);
        snprintf(name, sizeof(name), "%.200s/%.80s", base, mutations[i].name);
        if (diff_login_token(e, &l, &tok, &tlen) == 0) {
            compare_all(e, name, tok, tlen, 1);
            free(tok);
        }
        else if (e->verbose) {
            fprintf(stderr, "%s: cannot be encoded\n", name);
        }
        diff_login_free(e, &l);
    }
}

/* Tickets whose end is near and past 2^31 s away: MIT hands the lifetime
 * out as an OM_uint32 sum that wraps, which the fast path must match. */
static void far_lifetimes(diff_env *e)
{
    static const long ends[] = {0x7ffffe00L, 0x80000000L, 0x80001000L,
                                0x90000000L};
    char name[64];
    unsigned char *tok;
    size_t i, tlen;
    diff_login l;

    for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
        if (diff_login_forged(e, NULL, ends[i], &l) != 0) {
            fprintf(stderr, "n8443_diff: cannot forge a ticket\n");
            e->violations++;
            return;
        }
        snprintf(name, sizeof(name), "forged/lifetime-%#lx", ends[i]);
        if (diff_login_token(e, &l, &tok, &tlen) == 0) {
            compare_all(e, name, tok, tlen, 1);
            free(tok);
        }
        diff_login_free(e, &l);
    }
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_corpus(diff_env *e, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **names = NULL, path[4096];
    size_t n = 0, i, len, nreal = 0;
    unsigned char *tok;
    n8443_apreq_info info;

    if (d == NULL) {
        fprintf(stderr, "n8443_diff: cannot open %s\n", dir);
        return 2;
    }
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);

        if (l > 4 && strcmp(de->d_name + l - 4, ".tok") == 0) {
            names = realloc(names, (n + 1) * sizeof(*names));
            names[n++] = strdup(de->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_names);
    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        tok = read_file(path, &len);
        if (tok == NULL) {
            fprintf(stderr, "n8443_diff: cannot read %s\n", path);
            free(names[i]);
            continue;
        }
        compare_all(e, names[i], tok, len, 0);
        /* The forge's mutations of the real tokens (those named real-*:
         * the others are already mutations). */
        if (strncmp(names[i], "real-", 5) == 0
            && n8443_token_walk(tok, len, &info) == N8443_TOK_KRB5) {
            mutate(e, names[i], info.apreq.data, info.apreq.len);
            nreal++;
        }
        free(tok);
        free(names[i]);
    }
    free(names);
    /* And on a ticket made here from scratch. */
    mutate(e, "forged", NULL, 0);
    far_lifetimes(e);
    printf("n8443_diff: binding forms: %lu cases checked\n",
           diff_binding_forms(e));
    printf("n8443_diff: %zu corpus files (%zu real tokens mutated), %lu "
           "comparisons: fast path accepted %lu, GSS-API accepted %lu (of "
           "them %lu the fast path left to it), both refused %lu; "
           "differences %lu\n",
           n, nreal, e->tokens, e->fast_accepted, e->gss_accepted,
           e->deferred_gss_accepted, e->both_refused, e->violations);
    return e->violations == 0 ? 0 : 1;
}

/* A raw krb5 token for client, base64 on stdout; ctime, when not 0, is
 * the authenticator's time (cusec 0). */
static int forge(diff_env *e, const char *client, long lifetime, long ctime,
                 long pad)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    diff_login l;
    unsigned char *tok;
    size_t len, i;

    if (diff_login_forged(e, client, lifetime, &l) != 0) {
        fprintf(stderr, "n8443_diff: cannot forge a token for %s\n", client);
        return 2;
    }
    if (ctime != 0) {
        l.auth.ctime = (krb5_timestamp)ctime;
        l.auth.cusec = 0;
    }
    if (pad > 0 && diff_login_pad_ticket(&l, (size_t)pad) != 0) {
        fprintf(stderr, "n8443_diff: cannot pad the ticket\n");
        return 2;
    }
    if (diff_login_token(e, &l, &tok, &len) != 0) {
        fprintf(stderr, "n8443_diff: cannot forge a token for %s\n", client);
        return 2;
    }
    for (i = 0; i < len; i += 3) {
        unsigned v = (unsigned)tok[i] << 16
                     | (i + 1 < len ? (unsigned)tok[i + 1] << 8 : 0)
                     | (i + 2 < len ? tok[i + 2] : 0);
        putchar(b64[(v >> 18) & 63]);
        putchar(b64[(v >> 12) & 63]);
        putchar(i + 1 < len ? b64[(v >> 6) & 63] : '=');
        putchar(i + 2 < len ? b64[v & 63] : '=');
    }
    putchar('\n');
    free(tok);
    diff_login_free(e, &l);
    return 0;
}

int main(int argc, char **argv)
{
    diff_env e;
    int verbose = 0, ret;

    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        verbose = 1;
        argv++;
        argc--;
    }
    if (argc >= 4 && strcmp(argv[1], "--forge") == 0) {
        if (diff_env_init(&e, argv[2]) != 0)
            return 2;
        ret = forge(&e, argv[3], argc > 4 ? atol(argv[4]) : 36000,
                    argc > 5 ? atol(argv[5]) : 0, argc > 6 ? atol(argv[6]) : 0);
        diff_env_free(&e);
        return ret;
    }
    if (argc == 5 && strcmp(argv[1], "--redteam") == 0) {
        if (diff_env_init(&e, argv[2]) != 0)
            return 2;
        ret = diff_pac_redteam_main(&e, argv[3], argv[4]);
        diff_env_free(&e);
        return ret;
    }
    if (argc == 5 && strcmp(argv[1], "--tamper-pac") == 0) {
        if (diff_env_init(&e, argv[2]) != 0)
            return 2;
        ret = diff_pac_tamper_main(&e, argv[3], argv[4]);
        diff_env_free(&e);
        return ret;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: n8443_diff [-v] KEYTAB DIR\n"
                        "       n8443_diff --forge KEYTAB CLIENT "
                        "[SECONDS [CTIME [PAD]]]\n");
        return 2;
    }
    if (diff_env_init(&e, argv[1]) != 0)
        return 2;
    e.verbose = verbose;
    ret = run_corpus(&e, argv[2]);
    diff_env_free(&e);
    return ret;
}
