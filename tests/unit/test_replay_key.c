/*
 * test_replay_key.c - the replay-cache key: a known answer, and the
 * property the replay cache rests on: one authenticator gives one key
 * whatever envelope it comes in, and different authenticators differ.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "encode.h"
#include "replay_key.h"
#include "token_walk.h"
#include "fixture.h"

/*
 * Known answers, computed independently with Python's hashlib:
 *   sha256(b"mod_negotiate8443 replay key v2\0" + cipher)
 * For the real token, make-fixtures writes spnego_init.replay_key the same
 * way, from its own DER parse of spnego_init.bin.
 */
#define KAT_ABC                                                                \
    "da9609085fba9aaf3f6f1ba220dc9667b08efb403dcee81b636d54b830026270"

static void key_hex_of(const n8443_apreq_info *info, char hex[65])
{
    unsigned char key[N8443_REPLAY_KEY_LEN];

    assert_int_equal(n8443_replay_key(info, key), 0);
    assert_int_equal(n8443_hex_encode(key, sizeof(key), hex, 65), 64);
}

/* Walk a token that must be krb5 and return its key in hex. */
static void token_key_hex(const unsigned char *tok, size_t len, char hex[65])
{
    n8443_apreq_info info;

    assert_int_equal(n8443_token_walk(tok, len, &info), N8443_TOK_KRB5);
    key_hex_of(&info, hex);
}

static void fixture_key_hex(const char *name, char hex[65])
{
    fixture fx = fixture_load(name);

    token_key_hex(fx.data, fx.len, hex);
    fixture_free(&fx);
}

static void test_known_answer(void **state)
{
    n8443_apreq_info info;
    char hex[65];
    fixture kat;

    (void)state;
    memset(&info, 0, sizeof(info));
    info.authenticator.data = (const unsigned char *)"abc";
    info.authenticator.len = 3;
    info.authenticator_etype = 18;
    key_hex_of(&info, hex);
    assert_string_equal(hex, KAT_ABC);

    /* the etype field is not authenticated: not part of the key */
    info.authenticator_etype = -1;
    key_hex_of(&info, hex);
    assert_string_equal(hex, KAT_ABC);
    info.authenticator_etype = 511;
    key_hex_of(&info, hex);
    assert_string_equal(hex, KAT_ABC);

    /* only the authenticator counts, not what else info holds */
    info.authenticator_etype = 18;
    info.ticket_etype = 23;
    info.ticket_kvno = 9;
    info.mutual_required = 1;
    info.framing = N8443_FRAME_SPNEGO_RESP;
    key_hex_of(&info, hex);
    assert_string_equal(hex, KAT_ABC);

    /* the real token against make-fixtures' own computation */
    kat = fixture_load("spnego_init.replay_key");
    assert_int_equal(kat.len, 65);
    assert_int_equal(kat.data[64], '\n');
    kat.data[64] = '\0';
    fixture_key_hex("spnego_init.bin", hex);
    assert_string_equal(hex, (const char *)kat.data);
    fixture_free(&kat);
}

/*
 * The replay case: the raw krb5 token that the SPNEGO fixture carries is
 * re-wrapped in another NegTokenInit (Windows' mech list), in a
 * NegTokenResp, and sent bare.  All must give the SPNEGO fixture's key.
 */
static void test_rewrapped_token_same_key(void **state)
{
    fixture inner = fixture_load("spnego_inner_krb5.bin");
    fixture outer = fixture_load("spnego_init.bin");
    const unsigned char *windows[] = {OID_KRB5_MS, OID_KRB5, OID_NEGOEX,
                                      OID_NTLM};
    const size_t windows_lens[] = {sizeof(OID_KRB5_MS), sizeof(OID_KRB5),
                                   sizeof(OID_NEGOEX), sizeof(OID_NTLM)};
    char original[65], hex[65];
    der_buf tok;

    (void)state;
    fixture_key_hex("spnego_init.bin", original);

    build_spnego_init(&tok, windows, windows_lens, 4, inner.data, inner.len);
    /* a different envelope indeed, of a different size */
    assert_int_not_equal(tok.len, outer.len);
    token_key_hex(tok.buf, tok.len, hex);
    assert_string_equal(hex, original);

    build_spnego_resp(&tok, inner.data, inner.len);
    token_key_hex(tok.buf, tok.len, hex);
    assert_string_equal(hex, original);

    token_key_hex(inner.data, inner.len, hex);
    assert_string_equal(hex, original);
    fixture_free(&inner);
    fixture_free(&outer);
}

/* Different logins, different keys. */
static void test_different_authenticators_differ(void **state)
{
    char spnego[65], raw[65], nomutual[65], hex[65];
    fixture fx = fixture_load("krb5_raw.bin");
    unsigned char *copy;

    (void)state;
    fixture_key_hex("spnego_init.bin", spnego);
    fixture_key_hex("krb5_raw.bin", raw);
    fixture_key_hex("krb5_raw_nomutual.bin", nomutual);
    assert_string_not_equal(spnego, raw);
    assert_string_not_equal(raw, nomutual);
    assert_string_not_equal(spnego, nomutual);

    /* one flipped bit in the last byte of the authenticator cipher */
    copy = bytes_dup(fx.data, fx.len);
    copy[fx.len - 1] ^= 0x01;
    token_key_hex(copy, fx.len, hex);
    assert_string_not_equal(hex, raw);
    free(copy);
    fixture_free(&fx);
}

/* ------------------------------------------ re-encoded copies of one AP-REQ */

/* One TLV of src at *off: tag, contents [*cs, *ce), *off moved past it. */
static void read_tlv(const unsigned char *src, size_t len, size_t *off,
                     unsigned char *tag, size_t *cs, size_t *ce)
{
    size_t n, k, i = *off;

    assert_true(i + 2 <= len);
    *tag = src[i];
    n = src[i + 1];
    i += 2;
    if (n & 0x80) {
        k = n & 0x7f;
        assert_true(k >= 1 && k <= 4 && i + k <= len);
        for (n = 0; k > 0; k--)
            n = (n << 8) | src[i++];
    }
    assert_true(i + n <= len);
    *cs = i;
    *ce = i + n;
    *off = i + n;
}

/* Wrap b in tag with a length of `width` octets (0: minimal DER; else
 * the long form with leading zero octets, which only BER allows). */
static void wrap_len(der_buf *b, unsigned char tag, int width)
{
    unsigned char hdr[8];
    size_t hlen, n = b->len;
    int i;

    if (width == 0) {
        der_wrap(b, tag);
        return;
    }
    hdr[0] = tag;
    hdr[1] = (unsigned char)(0x80 | width);
    for (i = 0; i < width; i++)
        hdr[2 + i] = (unsigned char)(n >> (8 * (width - 1 - i)));
    hlen = 2 + (size_t)width;
    assert_true(hlen <= sizeof(b->buf) - b->len);
    memmove(b->buf + hlen, b->buf, b->len);
    memcpy(b->buf, hdr, hlen);
    b->len += hlen;
}

static void tlv_len(der_buf *out, unsigned char tag, const void *v, size_t n,
                    int width)
{
    der_buf t = {.len = 0};

    der_append(&t, v, n);
    wrap_len(&t, tag, width);
    der_append(out, t.buf, t.len);
}

/*
 * The raw krb5 token of info's AP-REQ with its authenticator EncryptedData
 * rewritten: etype as the given INTEGER contents, a kvno field when kvno
 * is non-NULL, and every length from the cipher outwards `width` octets
 * long (0: minimal).  The cipher bytes are the original ones.
 */
static void rebuild(const n8443_apreq_info *info, const unsigned char *etype,
                    size_t etype_len, const unsigned char *kvno,
                    size_t kvno_len, int width, der_buf *out)
{
    const unsigned char *a = info->apreq.data;
    size_t alen = info->apreq.len, off = 0, cs, ce, fs, fe;
    unsigned char tag;
    der_buf seq = {.len = 0}, enc = {.len = 0}, f = {.len = 0};

    read_tlv(a, alen, &off, &tag, &cs, &ce); /* [APPLICATION 14] */
    assert_int_equal(tag, 0x6e);
    off = cs;
    read_tlv(a, alen, &off, &tag, &cs, &ce); /* SEQUENCE */
    assert_int_equal(tag, 0x30);
    off = cs;
    while (off < ce) {
        size_t start = off;

        read_tlv(a, alen, &off, &tag, &fs, &fe);
        if (tag != 0xa4)
            der_append(&seq, a + start, off - start);
    }

    tlv_len(&f, 0x02, etype, etype_len, width);
    wrap_len(&f, 0xa0, width);
    der_append(&enc, f.buf, f.len);
    if (kvno != NULL) {
        f.len = 0;
        tlv_len(&f, 0x02, kvno, kvno_len, width);
        wrap_len(&f, 0xa1, width);
        der_append(&enc, f.buf, f.len);
    }
    f.len = 0;
    tlv_len(&f, 0x04, info->authenticator.data, info->authenticator.len, width);
    wrap_len(&f, 0xa2, width);
    der_append(&enc, f.buf, f.len);
    wrap_len(&enc, 0x30, width);
    wrap_len(&enc, 0xa4, width);
    der_append(&seq, enc.buf, enc.len);
    wrap_len(&seq, 0x30, width);
    wrap_len(&seq, 0x6e, width);

    out->len = 0;
    tlv_len(out, 0x06, OID_KRB5, sizeof(OID_KRB5), 0);
    der_append(out, "\x01\x00", 2);
    der_append(out, seq.buf, seq.len);
    wrap_len(out, 0x60, width);
}

/*
 * Issue 15: an accepted token replayed with its authenticator's etype
 * rewritten (18 -> 511, which MIT still decrypts with the session key),
 * with a kvno added, or with its lengths re-encoded, is the same login:
 * every such copy has the original's key.
 */
static void test_unauthenticated_fields_do_not_count(void **state)
{
    static const unsigned char e18[] = {0x12}, e511[] = {0x01, 0xff},
                               e23[] = {0x17}, eneg[] = {0xff},
                               e18long[] = {0x00, 0x00, 0x00, 0x12},
                               kvno0[] = {0x00}, kvno7[] = {0x07};
    struct {
        const unsigned char *etype;
        size_t etype_len;
        const unsigned char *kvno;
        size_t kvno_len;
        int width;
    } v[] = {
        {e18, 1, NULL, 0, 0},  /* the original, rebuilt */
        {e511, 2, NULL, 0, 0}, /* ENCTYPE_UNKNOWN */
        {e23, 1, NULL, 0, 0},
        {eneg, 1, NULL, 0, 0},
        {e18long, 4, NULL, 0, 0}, /* non-minimal INTEGER */
        {e18, 1, kvno0, 1, 0},    /* a kvno the original lacks */
        {e511, 2, kvno7, 1, 0},
        {e18, 1, NULL, 0, 1 + 1}, /* every length long-form */
        {e511, 2, kvno7, 1, 4},
    };
    fixture fx = fixture_load("krb5_raw.bin");
    const unsigned char *mechs[] = {OID_KRB5_MS, OID_KRB5};
    const size_t mech_lens[] = {sizeof(OID_KRB5_MS), sizeof(OID_KRB5)};
    n8443_apreq_info info, copy_info;
    char original[65], hex[65];
    der_buf tok, wrapped;
    size_t i;

    (void)state;
    assert_int_equal(n8443_token_walk(fx.data, fx.len, &info), N8443_TOK_KRB5);
    assert_int_equal(info.authenticator_etype, 18);
    key_hex_of(&info, original);

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        rebuild(&info, v[i].etype, v[i].etype_len, v[i].kvno, v[i].kvno_len,
                v[i].width, &tok);
        if (i == 0)
            assert_memory_equal(tok.buf, fx.data, fx.len);
        else
            assert_true(tok.len != fx.len
                        || memcmp(tok.buf, fx.data, fx.len) != 0);
        assert_int_equal(n8443_token_walk(tok.buf, tok.len, &copy_info),
                         N8443_TOK_KRB5);
        key_hex_of(&copy_info, hex);
        assert_string_equal(hex, original);

        /* and the same copy re-wrapped in SPNEGO, either leg */
        build_spnego_init(&wrapped, mechs, mech_lens, 2, tok.buf, tok.len);
        token_key_hex(wrapped.buf, wrapped.len, hex);
        assert_string_equal(hex, original);
        build_spnego_resp(&wrapped, tok.buf, tok.len);
        token_key_hex(wrapped.buf, wrapped.len, hex);
        assert_string_equal(hex, original);
    }
    fixture_free(&fx);
}

/* No authenticator, no key: -1 and a zeroed key, never a usable one. */
static void test_refuses_without_authenticator(void **state)
{
    static const unsigned char zero[N8443_REPLAY_KEY_LEN];
    unsigned char key[N8443_REPLAY_KEY_LEN];
    n8443_apreq_info info;

    (void)state;
    memset(key, 0xaa, sizeof(key));
    assert_int_equal(n8443_replay_key(NULL, key), -1);
    assert_memory_equal(key, zero, sizeof(key));

    /* what a refused walk leaves behind */
    memset(key, 0xaa, sizeof(key));
    assert_int_equal(
        n8443_token_walk((const unsigned char *)"\x60\x00", 2, &info),
        N8443_TOK_MALFORMED);
    assert_int_equal(n8443_replay_key(&info, key), -1);
    assert_memory_equal(key, zero, sizeof(key));

    memset(key, 0xaa, sizeof(key));
    info.authenticator.data = (const unsigned char *)"abc";
    info.authenticator.len = 0;
    assert_int_equal(n8443_replay_key(&info, key), -1);
    assert_memory_equal(key, zero, sizeof(key));

    assert_int_equal(n8443_replay_key(&info, NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_rewrapped_token_same_key),
        cmocka_unit_test(test_different_authenticators_differ),
        cmocka_unit_test(test_unauthenticated_fields_do_not_count),
        cmocka_unit_test(test_refuses_without_authenticator),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
