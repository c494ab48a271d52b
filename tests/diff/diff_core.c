/*
 * diff_core.c - the fast path against GSS-API, token by token, and the
 * forge for the corpus' mutations (see diff_core.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <profile.h>

#include "diff_core.h"
#include "krb5_accept.h"
#include "replay_key.h"

/* libkrb5 exports these (krb5-private), for the KDC and tests. */
krb5_error_code encode_krb5_ap_req(const krb5_ap_req *, krb5_data **);
krb5_error_code decode_krb5_ap_req(const krb5_data *, krb5_ap_req **);
krb5_error_code encode_krb5_authenticator(const krb5_authenticator *,
                                          krb5_data **);
krb5_error_code krb5_encrypt_tkt_part(krb5_context, const krb5_keyblock *,
                                      krb5_ticket *);

static const unsigned char oid_krb5[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
                                         0x12, 0x01, 0x02, 0x02};
static const unsigned char oid_spnego[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x02};

static void free_ap_req(krb5_context ctx, krb5_ap_req *req)
{
    if (req == NULL)
        return;
    if (req->ticket != NULL)
        krb5_free_ticket(ctx, req->ticket);
    free(req->authenticator.ciphertext.data);
    free(req);
}

int diff_env_init(diff_env *e, const char *keytab)
{
    n8443_acceptor_opts opts;
    profile_t profile;
    char err[512];
    int v = 300;
    size_t i;

    memset(e, 0, sizeof(*e));
    if (krb5_init_context(&e->ctx) != 0
        || krb5_kt_resolve(e->ctx, keytab, &e->kt) != 0) {
        fprintf(stderr, "n8443_diff: cannot open keytab %s\n", keytab);
        return -1;
    }
    memset(&opts, 0, sizeof(opts));
    opts.keytab = keytab;
    opts.rcache = "none:";
    if (n8443_acceptor_acquire(&opts, &e->cred, err, sizeof(err)) != 0) {
        fprintf(stderr, "n8443_diff: %s\n", err);
        return -1;
    }
    /* The skew MIT's contexts use: what the profile says. */
    if (krb5_get_profile(e->ctx, &profile) == 0) {
        profile_get_integer(profile, "libdefaults", "clockskew", NULL, 300, &v);
        profile_release(profile);
    }
    e->skew = v > 0 ? v : 300;

    memcpy(e->cb_data, DIFF_CB_PREFIX, sizeof(DIFF_CB_PREFIX) - 1);
    for (i = sizeof(DIFF_CB_PREFIX) - 1; i < DIFF_CB_LEN; i++)
        e->cb_data[i] = DIFF_CB_BYTE;
    for (i = DIFF_CB_APP; i < DIFF_CB_COUNT; i++) {
        memset(&e->cb[i], 0, sizeof(e->cb[i]));
        e->cb[i].application_data.value = e->cb_data;
        e->cb[i].application_data.length = DIFF_CB_LEN;
    }
    e->cb[DIFF_CB_ADDR].initiator_addrtype = GSS_C_AF_INET;
    e->cb[DIFF_CB_ADDR].initiator_address.value = (void *)"\x7f\x00\x00\x01";
    e->cb[DIFF_CB_ADDR].initiator_address.length = 4;
    e->cb[DIFF_CB_ADDR].acceptor_addrtype = GSS_C_AF_INET;
    e->cb[DIFF_CB_ADDR].acceptor_address.value = (void *)"\x7f\x00\x00\x02";
    e->cb[DIFF_CB_ADDR].acceptor_address.length = 4;
    e->cb[DIFF_CB_APP_NULLADDR].initiator_addrtype = GSS_C_AF_NULLADDR;
    e->cb[DIFF_CB_APP_NULLADDR].acceptor_addrtype = GSS_C_AF_NULLADDR;
    e->cb[DIFF_CB_APP_MIXED].initiator_addrtype = GSS_C_AF_NULLADDR;
    e->cb[DIFF_CB_APP_MIXED2].acceptor_addrtype = GSS_C_AF_NULLADDR;
    return 0;
}

void diff_env_free(diff_env *e)
{
    OM_uint32 min;

    if (e->cred != GSS_C_NO_CREDENTIAL)
        gss_release_cred(&min, &e->cred);
    if (e->kt != NULL)
        krb5_kt_close(e->ctx, e->kt);
    if (e->ctx != NULL)
        krb5_free_context(e->ctx);
}

gss_channel_bindings_t diff_cb(diff_env *e, diff_cb_kind kind)
{
    return kind == DIFF_CB_NONE ? GSS_C_NO_CHANNEL_BINDINGS : &e->cb[kind];
}

/* Does the walker's authenticator cipher equal the one krb5 decodes from
 * the same AP-REQ? (The replay key is over the walker's.) */
static int cipher_is_krb5s(diff_env *e, const n8443_apreq_info *info)
{
    krb5_data d;
    krb5_ap_req *req = NULL;
    int same;

    d.magic = 0;
    d.length = (unsigned int)info->apreq.len;
    d.data = (char *)info->apreq.data;
    if (decode_krb5_ap_req(&d, &req) != 0)
        return 0;
    same = req->authenticator.ciphertext.length == info->authenticator.len
           && memcmp(req->authenticator.ciphertext.data,
                     info->authenticator.data, info->authenticator.len)
                  == 0;
    free_ap_req(e->ctx, req);
    return same;
}

/* One DER header at p (within end): tag, content start and length. */
static int der_hdr_read(const unsigned char *p, const unsigned char *end,
                        unsigned char *tag, const unsigned char **content,
                        size_t *len)
{
    size_t n, k;

    if (end - p < 2)
        return -1;
    *tag = p[0];
    n = p[1];
    p += 2;
    if (n & 0x80) {
        k = n & 0x7f;
        if (k == 0 || k > 3 || (size_t)(end - p) < k)
            return -1;
        for (n = 0; k > 0; k--)
            n = (n << 8) | *p++;
    }
    if ((size_t)(end - p) < n)
        return -1;
    *content = p;
    *len = n;
    return 0;
}

/*
 * The answer's shape without the AP-REP (whose acceptor subkey MIT adds
 * and the fast path does not): for SPNEGO, negState and supportedMech and
 * whether a responseToken and a mechListMIC are present; for a raw krb5
 * answer, its GSS header's OID and TOK_ID.
 */
static void answer_shape(const gss_buffer_desc *b, char *out, size_t outlen)
{
    const unsigned char *p = b->value, *end = p + b->length, *c, *f;
    unsigned char tag, ftag;
    size_t n, fl, i, pos = 0;

    out[0] = '\0';
    if (b->length == 0)
        return;
    if (der_hdr_read(p, end, &tag, &c, &n) != 0) {
        snprintf(out, outlen, "unreadable");
        return;
    }
    if (tag == 0x60) {
        /* OID, then TOK_ID */
        if (der_hdr_read(c, c + n, &ftag, &f, &fl) == 0
            && f + fl + 2 <= c + n) {
            for (i = 0; i < fl && pos + 3 < outlen; i++)
                pos += (size_t)snprintf(out + pos, outlen - pos, "%02x", f[i]);
            snprintf(out + pos, outlen - pos, " tok %02x%02x", f[fl],
                     f[fl + 1]);
        }
        return;
    }
    if (tag != 0xa1 || der_hdr_read(c, c + n, &tag, &c, &n) != 0)
        return;
    end = c + n;
    while (c < end && der_hdr_read(c, end, &tag, &f, &fl) == 0) {
        const unsigned char *v;
        size_t vl;

        c = f + fl;
        if (der_hdr_read(f, f + fl, &ftag, &v, &vl) != 0)
            break;
        pos += (size_t)snprintf(out + pos, outlen - pos, "[%d]", tag & 0x1f);
        if (tag == 0xa0 || tag == 0xa1)
            for (i = 0; i < vl && pos + 3 < outlen; i++)
                pos += (size_t)snprintf(out + pos, outlen - pos, "%02x", v[i]);
        if (pos + 2 >= outlen)
            break;
    }
}

static void violation(diff_env *e, const char *name, diff_cb_kind cb,
                      const char *what, const char *detail)
{
    e->violations++;
    fprintf(stderr, "DIFF %s [cb %d]: %s%s%s\n", name, (int)cb, what,
            detail ? ": " : "", detail ? detail : "");
}

int diff_compare(diff_env *e, const char *name, const unsigned char *tok,
                 size_t len, diff_cb_kind cb_kind)
{
    n8443_apreq_info info;
    n8443_tok_status st;
    n8443_accept_result f, g;
    gss_channel_bindings_t cb = diff_cb(e, cb_kind);
    unsigned char key[N8443_REPLAY_KEY_LEN];
    unsigned long before = e->violations;
    int fast = 0, rc;
    char text[512];
    const char *what;
    long dl;

    e->tokens++;
    memset(&f, 0, sizeof(f));
    f.delegated = GSS_C_NO_CREDENTIAL;
    st = n8443_token_walk(tok, len, &info);
    if (st == N8443_TOK_KRB5)
        fast = n8443_krb5_accept(e->ctx, e->kt, NULL, &info, cb, e->skew, &f)
               == N8443_KACC_ACCEPTED;
    rc = n8443_accept_once(e->cred, tok, len, cb, &g);
    if (rc != 0)
        n8443_gss_error_text(g.major, g.minor, text, sizeof(text));
    else
        text[0] = '\0';

    if (fast) {
        e->fast_accepted++;
        if (rc != 0) {
            violation(e, name, cb_kind,
                      "the fast path accepts, GSS-API "
                      "refuses",
                      text);
            goto done;
        }
        if (strcmp(f.principal, g.principal) != 0) {
            snprintf(text, sizeof(text), "%s vs %s", f.principal, g.principal);
            violation(e, name, cb_kind, "principal", text);
        }
        if (f.ret_flags != g.ret_flags) {
            snprintf(text, sizeof(text), "fast 0x%x, GSS-API 0x%x",
                     (unsigned)f.ret_flags, (unsigned)g.ret_flags);
            violation(e, name, cb_kind, "flags", text);
        }
        dl = (long)f.lifetime - (long)g.lifetime;
        if (dl < -1 || dl > 1) {
            snprintf(text, sizeof(text), "fast %lu, GSS-API %lu",
                     (unsigned long)f.lifetime, (unsigned long)g.lifetime);
            violation(e, name, cb_kind, "lifetime", text);
        }
        /* What both say the ticket claims (diff_pac.c). */
        what = diff_claims_differ(&f.claims, &g.claims, text, sizeof(text));
        if (what != NULL)
            violation(e, name, cb_kind, what, text);
        if (g.delegated != GSS_C_NO_CREDENTIAL)
            violation(e, name, cb_kind,
                      "GSS-API has a delegated "
                      "credential, the fast path none",
                      NULL);
        if ((f.output.length > 0) != (g.output.length > 0)
            || (f.output.length > 0
                && ((const unsigned char *)f.output.value)[0]
                       != ((const unsigned char *)g.output.value)[0])) {
            snprintf(text, sizeof(text), "fast %zu octets, GSS-API %zu",
                     f.output.length, g.output.length);
            violation(e, name, cb_kind, "answer token", text);
        }
        else {
            char fs[160], gs[160];

            answer_shape(&f.output, fs, sizeof(fs));
            answer_shape(&g.output, gs, sizeof(gs));
            if (strcmp(fs, gs) != 0) {
                snprintf(text, sizeof(text), "fast %s, GSS-API %s", fs, gs);
                violation(e, name, cb_kind, "answer's shape", text);
            }
        }
    }
    if (rc == 0) {
        e->gss_accepted++;
        if (!fast && st == N8443_TOK_KRB5)
            e->deferred_gss_accepted++;
        /* What both paths key the replay cache on. */
        if (st == N8443_TOK_KRB5
            && (!cipher_is_krb5s(e, &info)
                || n8443_replay_key(&info, key) != 0))
            violation(e, name, cb_kind,
                      "replay key is not over the "
                      "authenticator krb5 decrypted",
                      NULL);
    }
    else if (!fast) {
        e->both_refused++;
    }
    if (e->verbose) {
        char gs[160] = "";

        if (rc == 0)
            answer_shape(&g.output, gs, sizeof(gs));
        fprintf(stderr, "%-40s cb%d walk=%s fast=%s gss=%s pac=%d/%d %s\n",
                name, (int)cb_kind, n8443_tok_status_str(st),
                fast ? "accept" : "defer", rc == 0 ? "accept" : "refuse",
                (int)f.claims.pac, (int)g.claims.pac, rc == 0 ? gs : text);
    }

done:
    n8443_accept_result_clear(&f);
    n8443_accept_result_clear(&g);
    return e->violations != before;
}

/* -------------------------------------------------------------- the forge */

static void init_auth(diff_env *e, diff_login *l, krb5_const_principal client)
{
    krb5_timestamp now;
    krb5_int32 usec;

    krb5_us_timeofday(e->ctx, &now, &usec);
    memset(&l->auth, 0, sizeof(l->auth));
    krb5_copy_principal(e->ctx, client, &l->auth.client);
    l->auth.ctime = now;
    l->auth.cusec = usec;
    l->ap_options = AP_OPTS_MUTUAL_REQUIRED;
    l->auth_etype_field = l->ticket->enc_part2->session->enctype;
    l->auth_kvno_field = 0;
    l->flip_cipher_byte = -1;
    diff_login_set_gss_cksum(e, l, DIFF_CB_NONE,
                             GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG
                                 | GSS_C_SEQUENCE_FLAG | GSS_C_CONF_FLAG
                                 | GSS_C_INTEG_FLAG,
                             NULL, 0);
}

int diff_login_from_apreq(diff_env *e, const unsigned char *apreq, size_t len,
                          diff_login *l)
{
    krb5_data d;
    krb5_ap_req *req = NULL;
    krb5_keytab_entry ent;

    memset(l, 0, sizeof(*l));
    d.magic = 0;
    d.length = (unsigned int)len;
    d.data = (char *)apreq;
    if (decode_krb5_ap_req(&d, &req) != 0)
        return -1;
    if (krb5_server_decrypt_ticket_keytab(e->ctx, e->kt, req->ticket) != 0
        || krb5_kt_get_entry(e->ctx, e->kt, req->ticket->server,
                             req->ticket->enc_part.kvno,
                             req->ticket->enc_part.enctype, &ent)
               != 0) {
        free_ap_req(e->ctx, req);
        return -1;
    }
    l->service_key = ent.key;
    l->service_key.contents = malloc(ent.key.length);
    memcpy(l->service_key.contents, ent.key.contents, ent.key.length);
    l->service_kvno = ent.vno;
    krb5_free_keytab_entry_contents(e->ctx, &ent);
    l->ticket = req->ticket;
    req->ticket = NULL;
    free_ap_req(e->ctx, req);
    init_auth(e, l, l->ticket->enc_part2->client);
    return 0;
}

int diff_login_forged(diff_env *e, const char *client, long lifetime,
                      diff_login *l)
{
    krb5_kt_cursor cur;
    krb5_keytab_entry ent;
    krb5_enc_tkt_part *p;
    krb5_timestamp now;
    char name[512];
    int ret = -1;

    memset(l, 0, sizeof(*l));
    if (krb5_kt_start_seq_get(e->ctx, e->kt, &cur) != 0)
        return -1;
    if (krb5_kt_next_entry(e->ctx, e->kt, &ent, &cur) != 0) {
        krb5_kt_end_seq_get(e->ctx, e->kt, &cur);
        return -1;
    }
    krb5_kt_end_seq_get(e->ctx, e->kt, &cur);

    l->service_key = ent.key;
    l->service_key.contents = malloc(ent.key.length);
    memcpy(l->service_key.contents, ent.key.contents, ent.key.length);
    l->service_kvno = ent.vno;
    l->reencrypt_ticket = 1;
    l->ticket = calloc(1, sizeof(*l->ticket));
    p = l->ticket->enc_part2 = calloc(1, sizeof(*p));
    krb5_copy_principal(e->ctx, ent.principal, &l->ticket->server);
    p->session = calloc(1, sizeof(*p->session));
    krb5_c_make_random_key(e->ctx, ent.key.enctype, p->session);
    if (client == NULL) {
        snprintf(name, sizeof(name), "alice@%.*s",
                 (int)ent.principal->realm.length, ent.principal->realm.data);
        client = name;
    }
    if (krb5_parse_name(e->ctx, client, &p->client) != 0)
        goto cleanup;
    krb5_timeofday(e->ctx, &now);
    p->flags = TKT_FLG_INITIAL | TKT_FLG_PRE_AUTH;
    /* RFC 8062: the KDC marks an anonymous ticket */
    if (krb5_principal_compare_any_realm(e->ctx, p->client,
                                         krb5_anonymous_principal()))
        p->flags |= TKT_FLG_ANONYMOUS;
    p->transited.tr_type = KRB5_DOMAIN_X500_COMPRESS;
    p->times.authtime = now;
    p->times.starttime = now;
    p->times.endtime = now + lifetime;
    init_auth(e, l, p->client);
    ret = 0;

cleanup:
    krb5_free_keytab_entry_contents(e->ctx, &ent);
    return ret;
}

static unsigned char *put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
    return p + 4;
}

/* MIT's kg_checksum_channel_bindings: MD5 over the RFC 1964 encoding. */
static void bindings_hash(diff_env *e, gss_channel_bindings_t cb,
                          unsigned char *out)
{
    unsigned char buf[512], *p = buf;
    krb5_data d;
    krb5_checksum sum;

    p = put_le32(p, cb->initiator_addrtype);
    p = put_le32(p, (uint32_t)cb->initiator_address.length);
    memcpy(p, cb->initiator_address.value, cb->initiator_address.length);
    p += cb->initiator_address.length;
    p = put_le32(p, cb->acceptor_addrtype);
    p = put_le32(p, (uint32_t)cb->acceptor_address.length);
    memcpy(p, cb->acceptor_address.value, cb->acceptor_address.length);
    p += cb->acceptor_address.length;
    p = put_le32(p, (uint32_t)cb->application_data.length);
    memcpy(p, cb->application_data.value, cb->application_data.length);
    p += cb->application_data.length;
    d.magic = 0;
    d.length = (unsigned int)(p - buf);
    d.data = (char *)buf;
    memset(out, 0, 16);
    if (krb5_c_make_checksum(e->ctx, CKSUMTYPE_RSA_MD5, NULL, 0, &d, &sum)
        == 0) {
        memcpy(out, sum.contents, 16);
        krb5_free_checksum_contents(e->ctx, &sum);
    }
}

void diff_login_set_gss_cksum(diff_env *e, diff_login *l, diff_cb_kind cb_kind,
                              uint32_t flags, const unsigned char *extra,
                              size_t extra_len)
{
    unsigned char *p = l->cksum_buf;

    if (extra_len > sizeof(l->cksum_buf) - 24)
        extra_len = sizeof(l->cksum_buf) - 24;
    p = put_le32(p, 16);
    if (cb_kind == DIFF_CB_NONE)
        memset(p, 0, 16);
    else
        bindings_hash(e, &e->cb[cb_kind], p);
    p += 16;
    p = put_le32(p, flags);
    if (extra_len > 0)
        memcpy(p, extra, extra_len);
    l->cksum.magic = KV5M_CHECKSUM;
    l->cksum.checksum_type = 0x8003;
    l->cksum.length = (unsigned int)(24 + extra_len);
    l->cksum.contents = l->cksum_buf;
    l->auth.checksum = &l->cksum;
}

void diff_login_add_authdata(diff_login *l, int ticket, krb5_authdatatype t,
                             const void *data, size_t len)
{
    krb5_authdata ***list = ticket ? &l->ticket->enc_part2->authorization_data
                                   : &l->auth.authorization_data;
    krb5_authdata *ad;
    size_t n = 0;

    while (*list != NULL && (*list)[n] != NULL)
        n++;
    *list = realloc(*list, (n + 2) * sizeof(**list));
    ad = calloc(1, sizeof(*ad));
    ad->magic = KV5M_AUTHDATA;
    ad->ad_type = t;
    ad->length = (unsigned int)len;
    ad->contents = malloc(len ? len : 1);
    if (len > 0)
        memcpy(ad->contents, data, len);
    (*list)[n] = ad;
    (*list)[n + 1] = NULL;
    if (ticket)
        l->reencrypt_ticket = 1;
}

/* tag, minimal DER length, content */
static size_t der_hdr(unsigned char *p, unsigned char tag, size_t n)
{
    p[0] = tag;
    if (n < 0x80) {
        p[1] = (unsigned char)n;
        return 2;
    }
    if (n < 0x100) {
        p[1] = 0x81;
        p[2] = (unsigned char)n;
        return 3;
    }
    p[1] = 0x82;
    p[2] = (unsigned char)(n >> 8);
    p[3] = (unsigned char)n;
    return 4;
}

static unsigned char *wrap(unsigned char tag, const unsigned char *a,
                           size_t alen, const unsigned char *b, size_t blen,
                           size_t *out_len)
{
    unsigned char *out = malloc(alen + blen + 4);
    size_t h = der_hdr(out, tag, alen + blen);

    memcpy(out + h, a, alen);
    if (blen > 0)
        memcpy(out + h + alen, b, blen);
    *out_len = h + alen + blen;
    return out;
}

int diff_login_token(diff_env *e, diff_login *l, unsigned char **tok,
                     size_t *len)
{
    krb5_data *der = NULL, *apreq = NULL;
    krb5_ap_req req;
    krb5_enc_data enc;
    krb5_keyblock *session = l->ticket->enc_part2->session;
    unsigned char *body;
    size_t clen, blen;
    int ret = -1;

    *tok = NULL;
    memset(&enc, 0, sizeof(enc));
    if (l->reencrypt_ticket) {
        free(l->ticket->enc_part.ciphertext.data);
        l->ticket->enc_part.ciphertext.data = NULL;
        if (krb5_encrypt_tkt_part(e->ctx, &l->service_key, l->ticket) != 0)
            return -1;
        l->ticket->enc_part.kvno = l->service_kvno;
        l->reencrypt_ticket = 0;
    }
    if (encode_krb5_authenticator(&l->auth, &der) != 0)
        goto cleanup;
    if (krb5_c_encrypt_length(e->ctx, session->enctype, der->length, &clen)
        != 0)
        goto cleanup;
    enc.ciphertext.length = (unsigned int)clen;
    enc.ciphertext.data = malloc(clen);
    if (krb5_c_encrypt(e->ctx, session, KRB5_KEYUSAGE_AP_REQ_AUTH, NULL, der,
                       &enc)
        != 0)
        goto cleanup;
    enc.enctype = l->auth_etype_field;
    enc.kvno = l->auth_kvno_field;
    if (l->flip_cipher_byte >= 0)
        enc.ciphertext.data[l->flip_cipher_byte % clen] ^= 0x01;
    memset(&req, 0, sizeof(req));
    req.magic = KV5M_AP_REQ;
    req.ap_options = l->ap_options;
    req.ticket = l->ticket;
    req.authenticator = enc;
    if (encode_krb5_ap_req(&req, &apreq) != 0)
        goto cleanup;

    /* 60 { 06 krb5, 01 00, AP-REQ } */
    blen = 2 + sizeof(oid_krb5) + 2 + apreq->length;
    body = malloc(blen);
    body[0] = 0x06;
    body[1] = sizeof(oid_krb5);
    memcpy(body + 2, oid_krb5, sizeof(oid_krb5));
    body[2 + sizeof(oid_krb5)] = 0x01;
    body[3 + sizeof(oid_krb5)] = 0x00;
    memcpy(body + 4 + sizeof(oid_krb5), apreq->data, apreq->length);
    *tok = wrap(0x60, body, blen, NULL, 0, len);
    free(body);
    ret = 0;

cleanup:
    free(enc.ciphertext.data);
    if (der != NULL)
        krb5_free_data(e->ctx, der);
    if (apreq != NULL)
        krb5_free_data(e->ctx, apreq);
    return ret;
}

void diff_login_free(diff_env *e, diff_login *l)
{
    if (l->ticket != NULL)
        krb5_free_ticket(e->ctx, l->ticket);
    free(l->service_key.contents);
    if (l->auth.client != NULL)
        krb5_free_principal(e->ctx, l->auth.client);
    if (l->auth.authorization_data != NULL)
        krb5_free_authdata(e->ctx, l->auth.authorization_data);
    free(l->subkey.contents);
    memset(l, 0, sizeof(*l));
}

unsigned char *diff_wrap_spnego(const unsigned char *raw, size_t len,
                                size_t *out_len)
{
    unsigned char mech[16], *a, *b, *c, *d, *f, *g;
    size_t alen, blen, clen, dlen, flen, glen, mlen;

    /* [0] SEQUENCE { OID krb5 } */
    mlen = der_hdr(mech, 0x06, sizeof(oid_krb5));
    memcpy(mech + mlen, oid_krb5, sizeof(oid_krb5));
    mlen += sizeof(oid_krb5);
    a = wrap(0x30, mech, mlen, NULL, 0, &alen);
    b = wrap(0xa0, a, alen, NULL, 0, &blen);
    /* [2] OCTET STRING token */
    c = wrap(0x04, raw, len, NULL, 0, &clen);
    d = wrap(0xa2, c, clen, NULL, 0, &dlen);
    f = wrap(0x30, b, blen, d, dlen, &flen);
    free(a);
    free(c);
    g = wrap(0xa0, f, flen, NULL, 0, &glen);
    free(f);
    free(b);
    free(d);
    /* 60 { 06 spnego, [0] ... } */
    mlen = der_hdr(mech, 0x06, sizeof(oid_spnego));
    memcpy(mech + mlen, oid_spnego, sizeof(oid_spnego));
    mlen += sizeof(oid_spnego);
    a = wrap(0x60, mech, mlen, g, glen, out_len);
    free(g);
    return a;
}
