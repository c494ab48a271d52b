/*
 * test_token_walk.c - the token walker against real MIT tokens (from
 * tests/unit/data/make-fixtures) and against hand-built DER that breaks one
 * rule at a time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "token_walk.h"
#include "fixture.h"

/* Facts about the fixtures: the realm and service they were made for, the
 * default MIT enctype (aes256-cts-hmac-sha1-96) and the first key version.
 * The authenticator is the last field of the AP-REQ, which is the last
 * thing in both fixtures, so its offset is the token length minus its own. */
#define FX_REALM      "TEST.N8443"
#define FX_ETYPE      18
#define FX_KVNO       1
#define FX_AUTH_LEN   191
#define FX_SPNEGO_LEN 739
#define FX_KRB5_LEN   696

static void assert_bytes_str(n8443_bytes b, const char *expected)
{
    assert_int_equal(b.len, strlen(expected));
    assert_memory_equal(b.data, expected, b.len);
}

/* The info of a failed walk must be all zero: callers may log it. */
static void assert_info_zero(const n8443_apreq_info *info)
{
    static const n8443_apreq_info zero;

    assert_memory_equal(info, &zero, sizeof(zero));
}

/* Walk a heap copy of exactly len bytes. */
static n8443_tok_status walk_copy(const unsigned char *tok, size_t len,
                                  n8443_apreq_info *info)
{
    unsigned char *copy = bytes_dup(tok, len);
    n8443_tok_status st = n8443_token_walk(copy, len, info);

    /* Pointers in info die with the copy: callers pass info only to see
     * that a refused token left it zeroed. */
    free(copy);
    return st;
}

static void assert_fixture_ticket(const n8443_apreq_info *info)
{
    assert_int_equal(info->sname_count, 2);
    assert_bytes_str(info->sname[0], "HTTP");
    assert_bytes_str(info->sname[1], "localhost");
    assert_bytes_str(info->realm, FX_REALM);
    assert_int_equal(info->ticket_etype, FX_ETYPE);
    assert_int_equal(info->ticket_kvno, FX_KVNO);
    assert_int_equal(info->authenticator_etype, FX_ETYPE);
    assert_int_equal(info->authenticator.len, FX_AUTH_LEN);
}

static void test_real_spnego_init(void **state)
{
    fixture fx = fixture_load("spnego_init.bin");
    n8443_apreq_info info;

    (void)state;
    assert_int_equal(fx.len, FX_SPNEGO_LEN);
    assert_int_equal(n8443_token_walk(fx.data, fx.len, &info), N8443_TOK_KRB5);
    assert_int_equal(info.framing, N8443_FRAME_SPNEGO_INIT);
    assert_int_equal(info.mutual_required, 1);
    assert_fixture_ticket(&info);
    assert_ptr_equal(info.authenticator.data,
                     fx.data + FX_SPNEGO_LEN - FX_AUTH_LEN);
    /* What the fast path echoes: the first mechType, the inner header. */
    assert_int_equal(info.mech_oid.len, sizeof(OID_KRB5));
    assert_memory_equal(info.mech_oid.data, OID_KRB5, sizeof(OID_KRB5));
    assert_int_equal(info.token_oid.len, sizeof(OID_KRB5));
    assert_memory_equal(info.token_oid.data, OID_KRB5, sizeof(OID_KRB5));
    assert_int_equal(info.spnego_mic, 0);
    fixture_free(&fx);
}

static void test_real_krb5_raw(void **state)
{
    fixture fx = fixture_load("krb5_raw.bin");
    n8443_apreq_info info;

    (void)state;
    assert_int_equal(fx.len, FX_KRB5_LEN);
    assert_int_equal(n8443_token_walk(fx.data, fx.len, &info), N8443_TOK_KRB5);
    assert_int_equal(info.framing, N8443_FRAME_GSS_KRB5);
    assert_int_equal(info.mutual_required, 1);
    assert_fixture_ticket(&info);
    assert_ptr_equal(info.authenticator.data,
                     fx.data + FX_KRB5_LEN - FX_AUTH_LEN);
    assert_int_equal(info.mech_oid.len, sizeof(OID_KRB5));
    assert_memory_equal(info.mech_oid.data, OID_KRB5, sizeof(OID_KRB5));
    assert_ptr_equal(info.token_oid.data, info.mech_oid.data);
    assert_int_equal(info.token_oid.len, sizeof(OID_KRB5));
    fixture_free(&fx);
}

static void test_real_krb5_no_mutual(void **state)
{
    fixture fx = fixture_load("krb5_raw_nomutual.bin");
    n8443_apreq_info info;

    (void)state;
    assert_int_equal(n8443_token_walk(fx.data, fx.len, &info), N8443_TOK_KRB5);
    assert_int_equal(info.framing, N8443_FRAME_GSS_KRB5);
    assert_int_equal(info.mutual_required, 0);
    assert_fixture_ticket(&info);
    fixture_free(&fx);
}

/* The SPNEGO fixture's mechToken, walked on its own, yields the very same
 * authenticator bytes: the envelope does not change what is found. */
static void test_spnego_inner_is_same_authenticator(void **state)
{
    fixture outer = fixture_load("spnego_init.bin");
    fixture inner = fixture_load("spnego_inner_krb5.bin");
    n8443_apreq_info a, b;

    (void)state;
    assert_int_equal(n8443_token_walk(outer.data, outer.len, &a),
                     N8443_TOK_KRB5);
    assert_int_equal(n8443_token_walk(inner.data, inner.len, &b),
                     N8443_TOK_KRB5);
    assert_int_equal(b.framing, N8443_FRAME_GSS_KRB5);
    assert_int_equal(a.authenticator.len, b.authenticator.len);
    assert_memory_equal(a.authenticator.data, b.authenticator.data,
                        a.authenticator.len);
    fixture_free(&outer);
    fixture_free(&inner);
}

/* Every proper prefix of a real token is refused, inside an exact-size
 * buffer so that a read past the end is caught under ASan. */
static void assert_all_truncations_malformed(const char *name)
{
    fixture fx = fixture_load(name);
    n8443_apreq_info info;
    unsigned char *copy;
    size_t len;

    for (len = 0; len < fx.len; len++) {
        copy = bytes_dup(fx.data, len);
        memset(&info, 0xa5, sizeof(info));
        if (n8443_token_walk(copy, len, &info) != N8443_TOK_MALFORMED)
            fail_msg("%s cut to %zu bytes was not MALFORMED", name, len);
        assert_info_zero(&info);
        free(copy);
    }
    fixture_free(&fx);
}

static void test_truncations(void **state)
{
    (void)state;
    assert_all_truncations_malformed("spnego_init.bin");
    assert_all_truncations_malformed("krb5_raw.bin");
    assert_all_truncations_malformed("spnego_ntlm.bin");
}

static void test_short_inputs(void **state)
{
    static const unsigned char one[] = {0x60};
    static const unsigned char two[] = {0x60, 0x00};
    n8443_apreq_info info;

    (void)state;
    assert_int_equal(n8443_token_walk(NULL, 0, &info), N8443_TOK_MALFORMED);
    assert_int_equal(n8443_token_walk(one, 0, &info), N8443_TOK_MALFORMED);
    assert_int_equal(walk_copy(one, 1, &info), N8443_TOK_MALFORMED);
    assert_int_equal(walk_copy(two, 2, &info), N8443_TOK_MALFORMED);
    assert_info_zero(&info);
    /* info is optional */
    assert_int_equal(walk_copy(two, 2, NULL), N8443_TOK_MALFORMED);
}

static void test_length_overflow(void **state)
{
    /* four length octets claiming 4 GiB, and five length octets */
    static const unsigned char huge[] = {0x60, 0x84, 0xff, 0xff, 0xff,
                                         0xff, 0x06, 0x06, 0x2b, 0x06,
                                         0x01, 0x05, 0x05, 0x02};
    static const unsigned char five[] = {0x60, 0x85, 0x00, 0x00, 0x00,
                                         0x00, 0x08, 0x06, 0x06, 0x2b,
                                         0x06, 0x01, 0x05, 0x05, 0x02};
    static const unsigned char resp[] = {0xa1, 0x84, 0x7f, 0xff,
                                         0xff, 0xff, 0x30, 0x00};
    /* length octets cut off by the end of the buffer */
    static const unsigned char cut[] = {0x60, 0x84, 0x00, 0x00};
    fixture fx = fixture_load("krb5_raw.bin");
    unsigned char *copy;
    size_t at;

    (void)state;
    assert_int_equal(walk_copy(huge, sizeof(huge), NULL), N8443_TOK_MALFORMED);
    assert_int_equal(walk_copy(five, sizeof(five), NULL), N8443_TOK_MALFORMED);
    assert_int_equal(walk_copy(resp, sizeof(resp), NULL), N8443_TOK_MALFORMED);
    assert_int_equal(walk_copy(cut, sizeof(cut), NULL), N8443_TOK_MALFORMED);

    /* One more than what is there in the authenticator's OCTET STRING
     * (04 81 bf at the end of a real token): the inner length overruns the
     * enclosing values. */
    at = FX_KRB5_LEN - FX_AUTH_LEN - 1;
    assert_int_equal(fx.data[at], FX_AUTH_LEN);
    copy = bytes_dup(fx.data, fx.len);
    copy[at]++;
    assert_int_equal(n8443_token_walk(copy, fx.len, NULL), N8443_TOK_MALFORMED);
    copy[at] -= 2; /* one less: a byte is left over inside */
    assert_int_equal(n8443_token_walk(copy, fx.len, NULL), N8443_TOK_MALFORMED);
    free(copy);
    fixture_free(&fx);
}

static void test_indefinite_length(void **state)
{
    static const unsigned char init[] = {0x60, 0x80, 0x06, 0x06, 0x2b, 0x06,
                                         0x01, 0x05, 0x05, 0x02, 0x00, 0x00};
    static const unsigned char resp[] = {0xa1, 0x80, 0x30, 0x00, 0x00, 0x00};
    fixture fx = fixture_load("krb5_raw.bin");
    unsigned char *copy;

    (void)state;
    assert_int_equal(walk_copy(init, sizeof(init), NULL), N8443_TOK_MALFORMED);
    assert_int_equal(walk_copy(resp, sizeof(resp), NULL), N8443_TOK_MALFORMED);
    /* An empty value with the indefinite form (04 80) as mechListMIC,
     * where nothing follows that could be mistaken for trailing bytes. */
    {
        der_buf body = {.len = 0}, tok = {.len = 0};

        der_append(&body, "\xa0\x0b\x30\x09\x06\x07", 6);
        der_append(&body, "\x2a\x86\x48\x86\xf7\x12\x02", 7);
        der_append(&body, "\xa3\x02\x04\x80", 4);
        der_wrap(&body, 0x30);
        der_wrap(&body, 0xa0);
        der_append_tlv(&tok, 0x06, OID_SPNEGO, sizeof(OID_SPNEGO));
        der_append(&tok, body.buf, body.len);
        der_wrap(&tok, 0x60);
        assert_int_equal(walk_copy(tok.buf, tok.len, NULL),
                         N8443_TOK_MALFORMED);
        /* and with a definite empty OCTET STRING it is fine */
        tok.buf[tok.len - 1] = 0x00;
        assert_int_equal(walk_copy(tok.buf, tok.len, NULL),
                         N8443_TOK_OTHER_MECH);
    }
    /* A real token whose outer length (60 82 02 b4) is made indefinite and
     * end-of-contents octets appended. */
    copy = malloc(fx.len);
    assert_non_null(copy);
    assert_int_equal(fx.data[1], 0x82);
    copy[0] = 0x60;
    copy[1] = 0x80;
    memcpy(copy + 2, fx.data + 4, fx.len - 4);
    copy[fx.len - 2] = 0x00;
    copy[fx.len - 1] = 0x00;
    assert_int_equal(n8443_token_walk(copy, fx.len, NULL), N8443_TOK_MALFORMED);
    free(copy);
    fixture_free(&fx);
}

static void test_trailing_garbage(void **state)
{
    fixture sp = fixture_load("spnego_init.bin");
    fixture kr = fixture_load("krb5_raw.bin");
    unsigned char *copy;
    der_buf tok, padded;

    (void)state;
    copy = malloc(sp.len + 1);
    assert_non_null(copy);
    memcpy(copy, sp.data, sp.len);
    copy[sp.len] = 0x00;
    assert_int_equal(n8443_token_walk(copy, sp.len + 1, NULL),
                     N8443_TOK_MALFORMED);
    free(copy);

    copy = malloc(kr.len + 1);
    assert_non_null(copy);
    memcpy(copy, kr.data, kr.len);
    copy[kr.len] = 0x00;
    assert_int_equal(n8443_token_walk(copy, kr.len + 1, NULL),
                     N8443_TOK_MALFORMED);
    free(copy);

    /* A trailing byte inside the mechToken OCTET STRING, after the krb5
     * token: the SPNEGO envelope is fine, its content is not. */
    padded.len = 0;
    der_append(&padded, kr.data, kr.len);
    der_append(&padded, "\0", 1);
    {
        const unsigned char *oids[] = {OID_KRB5};
        const size_t lens[] = {sizeof(OID_KRB5)};

        build_spnego_init(&tok, oids, lens, 1, padded.buf, padded.len);
        assert_int_equal(walk_copy(tok.buf, tok.len, NULL),
                         N8443_TOK_MALFORMED);
        /* and the same envelope without the extra byte is fine */
        build_spnego_init(&tok, oids, lens, 1, kr.data, kr.len);
        assert_int_equal(walk_copy(tok.buf, tok.len, NULL), N8443_TOK_KRB5);
    }
    fixture_free(&sp);
    fixture_free(&kr);
}

/* 2000 nested [APPLICATION 0] values: refused at the second level, without
 * recursion. */
static void test_nesting_bomb_framing(void **state)
{
    der_buf b = {.len = 0};
    int i;

    (void)state;
    der_append(&b, "\x05\x00", 2);
    for (i = 0; i < 2000 && b.len < DER_BUF_MAX - 8; i++)
        der_wrap(&b, 0x60);
    assert_true(i > 1000);
    assert_int_equal(walk_copy(b.buf, b.len, NULL), N8443_TOK_MALFORMED);
}

/* SPNEGO carrying SPNEGO carrying SPNEGO...: the walker does not descend
 * into a mechanism token of a mechanism it does not know. */
static void test_nesting_bomb_spnego(void **state)
{
    const unsigned char *spnego[] = {OID_SPNEGO};
    const unsigned char *krb5[] = {OID_KRB5};
    const size_t lens[] = {sizeof(OID_SPNEGO)};
    const size_t krb5_lens[] = {sizeof(OID_KRB5)};
    der_buf inner = {.len = 0}, outer;
    int i;

    (void)state;
    der_append(&inner, "\x05\x00", 2);
    for (i = 0; i < 100; i++) {
        build_spnego_init(&outer, spnego, lens, 1, inner.buf, inner.len);
        inner = outer;
    }
    assert_int_equal(walk_copy(inner.buf, inner.len, NULL),
                     N8443_TOK_OTHER_MECH);
    /* claiming krb5 but carrying SPNEGO: contradiction */
    build_spnego_init(&outer, krb5, krb5_lens, 1, inner.buf, inner.len);
    assert_int_equal(walk_copy(outer.buf, outer.len, NULL),
                     N8443_TOK_MALFORMED);

    /* NegTokenResp inside NegTokenResp inside ... */
    inner.len = 0;
    der_append(&inner, "\x05\x00", 2);
    for (i = 0; i < 200; i++) {
        build_spnego_resp(&outer, inner.buf, inner.len);
        inner = outer;
    }
    assert_int_equal(walk_copy(inner.buf, inner.len, NULL),
                     N8443_TOK_OTHER_MECH);
}

/* Deep [0] nesting where NegTokenInit expects a SEQUENCE. */
static void test_nesting_bomb_context(void **state)
{
    der_buf b = {.len = 0}, tok = {.len = 0};
    int i;

    (void)state;
    der_append(&b, "\x30\x00", 2);
    for (i = 0; i < 1500; i++)
        der_wrap(&b, 0xa0);
    der_append_tlv(&tok, 0x06, OID_SPNEGO, sizeof(OID_SPNEGO));
    der_append(&tok, b.buf, b.len);
    der_wrap(&tok, 0x60);
    assert_int_equal(walk_copy(tok.buf, tok.len, NULL), N8443_TOK_MALFORMED);
}

static void test_ntlm_raw(void **state)
{
    fixture fx = fixture_load("ntlm_negotiate.bin");
    n8443_apreq_info info;

    (void)state;
    memset(&info, 0xa5, sizeof(info));
    assert_int_equal(n8443_token_walk(fx.data, fx.len, &info), N8443_TOK_NTLM);
    assert_info_zero(&info);
    /* the signature alone is NTLM; one byte short of it is nothing */
    assert_int_equal(walk_copy((const unsigned char *)"NTLMSSP\0", 8, NULL),
                     N8443_TOK_NTLM);
    assert_int_equal(walk_copy((const unsigned char *)"NTLMSSP", 7, NULL),
                     N8443_TOK_MALFORMED);
    fixture_free(&fx);
}

static void test_ntlm_in_spnego(void **state)
{
    fixture fx = fixture_load("spnego_ntlm.bin");
    fixture ntlm = fixture_load("ntlm_negotiate.bin");
    const unsigned char *ntlm_only[] = {OID_NTLM};
    const size_t ntlm_lens[] = {sizeof(OID_NTLM)};
    const unsigned char *ntlm_krb5[] = {OID_NTLM, OID_KRB5};
    const size_t ntlm_krb5_lens[] = {sizeof(OID_NTLM), sizeof(OID_KRB5)};
    const unsigned char *krb5_only[] = {OID_KRB5};
    const size_t krb5_lens[] = {sizeof(OID_KRB5)};
    n8443_apreq_info info;
    der_buf tok;

    (void)state;
    memset(&info, 0xa5, sizeof(info));
    assert_int_equal(n8443_token_walk(fx.data, fx.len, &info), N8443_TOK_NTLM);
    assert_info_zero(&info);

    /* the same, built here: proves the builder and the fixture agree */
    build_spnego_init(&tok, ntlm_only, ntlm_lens, 1, ntlm.data, ntlm.len);
    assert_int_equal(tok.len, fx.len);
    assert_memory_equal(tok.buf, fx.data, fx.len);

    /* NTLM first with an NTLM token, krb5 offered second: still NTLM */
    build_spnego_init(&tok, ntlm_krb5, ntlm_krb5_lens, 2, ntlm.data, ntlm.len);
    assert_int_equal(walk_copy(tok.buf, tok.len, NULL), N8443_TOK_NTLM);
    /* NTLM offered alone, no token */
    build_spnego_init(&tok, ntlm_only, ntlm_lens, 1, NULL, 0);
    assert_int_equal(walk_copy(tok.buf, tok.len, NULL), N8443_TOK_NTLM);
    /* NTLM first, krb5 offered, no token: a krb5 leg could follow */
    build_spnego_init(&tok, ntlm_krb5, ntlm_krb5_lens, 2, NULL, 0);
    assert_int_equal(walk_copy(tok.buf, tok.len, NULL),
                     N8443_TOK_NO_MECH_TOKEN);
    /* an NTLM token for a krb5 first mech is a contradiction */
    build_spnego_init(&tok, krb5_only, krb5_lens, 1, ntlm.data, ntlm.len);
    assert_int_equal(walk_copy(tok.buf, tok.len, NULL), N8443_TOK_MALFORMED);
    fixture_free(&fx);
    fixture_free(&ntlm);
}

static void test_spnego_mech_lists(void **state)
{
    fixture kr = fixture_load("krb5_raw.bin");
    const unsigned char *windows[] = {OID_KRB5_MS, OID_KRB5, OID_NEGOEX,
                                      OID_NTLM};
    const size_t windows_lens[] = {sizeof(OID_KRB5_MS), sizeof(OID_KRB5),
                                   sizeof(OID_NEGOEX), sizeof(OID_NTLM)};
    const unsigned char *old[] = {OID_KRB5_OLD};
    const size_t old_lens[] = {sizeof(OID_KRB5_OLD)};
    const unsigned char *negoex[] = {OID_NEGOEX, OID_KRB5_MS, OID_NTLM};
    const size_t negoex_lens[] = {sizeof(OID_NEGOEX), sizeof(OID_KRB5_MS),
                                  sizeof(OID_NTLM)};
    const unsigned char *negoex_only[] = {OID_NEGOEX, OID_IAKERB};
    const size_t negoex_only_lens[] = {sizeof(OID_NEGOEX), sizeof(OID_IAKERB)};
    const unsigned char *ntlm_first[] = {OID_NTLM, OID_KRB5};
    const size_t ntlm_first_lens[] = {sizeof(OID_NTLM), sizeof(OID_KRB5)};
    static const unsigned char bad_oid[] = {0x2a, 0x86};
    const unsigned char *bad[] = {bad_oid};
    const size_t bad_lens[] = {sizeof(bad_oid)};
    static const unsigned char padded_oid[] = {0x2a, 0x80, 0x03};
    const unsigned char *pad[] = {padded_oid};
    const size_t pad_lens[] = {sizeof(padded_oid)};
    static const unsigned char unpadded_oid[] = {0x2a, 0x03};
    const unsigned char *unpadded[] = {unpadded_oid};
    const size_t unpadded_lens[] = {sizeof(unpadded_oid)};
    static const unsigned char negoex_msg[] = "NEGOEXTS\x01\x00\x00\x00";
    n8443_apreq_info info;
    der_buf tok;

    (void)state;
    /* Windows' list, MS OID first, with the standard-OID token */
    build_spnego_init(&tok, windows, windows_lens, 4, kr.data, kr.len);
    assert_int_equal(n8443_token_walk(tok.buf, tok.len, &info), N8443_TOK_KRB5);
    assert_int_equal(info.framing, N8443_FRAME_SPNEGO_INIT);
    assert_fixture_ticket(&info);
    assert_ptr_equal(info.authenticator.data, tok.buf + tok.len - FX_AUTH_LEN);
    /* The answer must name Microsoft's OID; the token's own header is
     * the standard one. */
    assert_int_equal(info.mech_oid.len, sizeof(OID_KRB5_MS));
    assert_memory_equal(info.mech_oid.data, OID_KRB5_MS, sizeof(OID_KRB5_MS));
    assert_memory_equal(info.token_oid.data, OID_KRB5, sizeof(OID_KRB5));

    build_spnego_init(&tok, old, old_lens, 1, kr.data, kr.len);
    assert_int_equal(walk_copy(tok.buf, tok.len, NULL), N8443_TOK_KRB5);

    /* krb5 offered without a token */
    build_spnego_init(&tok, windows, windows_lens, 4, NULL, 0);
    assert_int_equal(walk_copy(tok.buf, tok.len, NULL),
                     N8443_TOK_NO_MECH_TOKEN);
    build_spnego_init(&tok, negoex, negoex_lens, 3, NULL, 0);
    assert_int_equal(walk_copy(tok.buf, tok.len, NULL),
                     N8443_TOK_NO_MECH_TOKEN);

    /* NegoEx first with its own (opaque) token */
    build_spnego_init(&tok, negoex, negoex_lens, 3, negoex_msg,
                      sizeof(negoex_msg) - 1);
    assert_int_equal(walk_copy(tok.buf, tok.len, NULL), N8443_TOK_OTHER_MECH);
    /* ... but a krb5 token sent for NegoEx is a contradiction */
    build_spnego_init(&tok, negoex, negoex_lens, 3, kr.data, kr.len);
    assert_int_equal(walk_copy(tok.buf, tok.len, NULL), N8443_TOK_MALFORMED);
    /* neither krb5 nor NTLM anywhere */
    build_spnego_init(&tok, negoex_only, negoex_only_lens, 2, NULL, 0);
    assert_int_equal(walk_copy(tok.buf, tok.len, NULL), N8443_TOK_OTHER_MECH);
    /* a krb5 token sent for NTLM */
    build_spnego_init(&tok, ntlm_first, ntlm_first_lens, 2, kr.data, kr.len);
    assert_int_equal(walk_copy(tok.buf, tok.len, NULL), N8443_TOK_MALFORMED);
    /* an OID sub-identifier padded with 0x80 */
    build_spnego_init(&tok, pad, pad_lens, 1, NULL, 0);
    assert_int_equal(walk_copy(tok.buf, tok.len, NULL), N8443_TOK_MALFORMED);
    /* the same OID without the padding is just some other mechanism */
    build_spnego_init(&tok, unpadded, unpadded_lens, 1, NULL, 0);
    assert_int_equal(walk_copy(tok.buf, tok.len, NULL), N8443_TOK_OTHER_MECH);
    /* empty mech list, malformed OID */
    build_spnego_init(&tok, windows, windows_lens, 0, kr.data, kr.len);
    assert_int_equal(walk_copy(tok.buf, tok.len, NULL), N8443_TOK_MALFORMED);
    build_spnego_init(&tok, bad, bad_lens, 1, NULL, 0);
    assert_int_equal(walk_copy(tok.buf, tok.len, NULL), N8443_TOK_MALFORMED);
    fixture_free(&kr);
}

/* Optional NegTokenInit fields, in order: reqFlags, mechListMIC. */
static void test_spnego_optional_fields(void **state)
{
    fixture kr = fixture_load("krb5_raw.bin");
    static const unsigned char flags[] = {0x01, 0x62};
    static const unsigned char bad_flags[] = {0x08, 0x00};
    static const unsigned char mic[] = {0xde, 0xad};
    der_buf types = {.len = 0}, body, tok;
    n8443_apreq_info info;
    int variant;
    n8443_tok_status expected;

    (void)state;
    der_append_tlv(&types, 0x06, OID_KRB5, sizeof(OID_KRB5));
    der_wrap(&types, 0x30);
    der_wrap(&types, 0xa0);
    for (variant = 0; variant < 4; variant++) {
        body.len = 0;
        der_append(&body, types.buf, types.len);
        if (variant == 3) {
            /* fields out of order: mechListMIC before mechToken */
            der_append_explicit(&body, 0xa3, 0x04, mic, sizeof(mic));
            der_append_explicit(&body, 0xa2, 0x04, kr.data, kr.len);
            expected = N8443_TOK_MALFORMED;
        }
        else {
            der_append_explicit(&body, 0xa1, 0x03,
                                variant == 2 ? bad_flags : flags,
                                sizeof(flags));
            der_append_explicit(&body, 0xa2, 0x04, kr.data, kr.len);
            if (variant >= 1)
                der_append_explicit(&body, 0xa3, 0x04, mic, sizeof(mic));
            expected = variant == 2 ? N8443_TOK_MALFORMED : N8443_TOK_KRB5;
        }
        der_wrap(&body, 0x30);
        der_wrap(&body, 0xa0);
        tok.len = 0;
        der_append_tlv(&tok, 0x06, OID_SPNEGO, sizeof(OID_SPNEGO));
        der_append(&tok, body.buf, body.len);
        der_wrap(&tok, 0x60);
        if (walk_copy(tok.buf, tok.len, &info) != expected)
            fail_msg("optional-field variant %d", variant);
        /* A mechListMIC sends the login to GSS-API (krb5_accept.c). */
        if (expected == N8443_TOK_KRB5)
            assert_int_equal(info.spnego_mic, variant >= 1);
    }
    fixture_free(&kr);
}

static void test_neg_token_resp(void **state)
{
    fixture kr = fixture_load("krb5_raw.bin");
    fixture ntlm = fixture_load("ntlm_negotiate.bin");
    static const unsigned char state4[] = {0xa1, 0x07, 0x30, 0x05, 0xa0,
                                           0x03, 0x0a, 0x01, 0x04};
    static const unsigned char mic_only[] = {0xa1, 0x08, 0x30, 0x06, 0xa3,
                                             0x04, 0x04, 0x02, 0xde, 0xad};
    n8443_apreq_info info;
    der_buf tok, body;

    (void)state;
    build_spnego_resp(&tok, kr.data, kr.len);
    assert_int_equal(n8443_token_walk(tok.buf, tok.len, &info), N8443_TOK_KRB5);
    assert_int_equal(info.framing, N8443_FRAME_SPNEGO_RESP);
    assert_int_equal(info.mutual_required, 1);
    assert_fixture_ticket(&info);
    assert_ptr_equal(info.authenticator.data, tok.buf + tok.len - FX_AUTH_LEN);

    build_spnego_resp(&tok, ntlm.data, ntlm.len);
    assert_int_equal(walk_copy(tok.buf, tok.len, NULL), N8443_TOK_NTLM);

    assert_int_equal(walk_copy(state4, sizeof(state4), NULL),
                     N8443_TOK_MALFORMED);
    assert_int_equal(walk_copy(mic_only, sizeof(mic_only), NULL),
                     N8443_TOK_NO_MECH_TOKEN);

    /* supportedMech NTLM with a krb5 token: contradiction */
    body.len = 0;
    der_append_explicit(&body, 0xa1, 0x06, OID_NTLM, sizeof(OID_NTLM));
    der_append_explicit(&body, 0xa2, 0x04, kr.data, kr.len);
    der_wrap(&body, 0x30);
    der_wrap(&body, 0xa1);
    assert_int_equal(walk_copy(body.buf, body.len, NULL), N8443_TOK_MALFORMED);
    /* supportedMech krb5 with it: fine */
    body.len = 0;
    der_append_explicit(&body, 0xa1, 0x06, OID_KRB5, sizeof(OID_KRB5));
    der_append_explicit(&body, 0xa2, 0x04, kr.data, kr.len);
    der_wrap(&body, 0x30);
    der_wrap(&body, 0xa1);
    assert_int_equal(walk_copy(body.buf, body.len, NULL), N8443_TOK_KRB5);
    fixture_free(&kr);
    fixture_free(&ntlm);
}

/* Outside SPNEGO only the RFC 1964 OID is krb5. */
static void test_raw_other_oids(void **state)
{
    fixture kr = fixture_load("krb5_raw.bin");
    der_buf tok;
    size_t oid_end;

    (void)state;
    /* the fixture's OID (06 09 <krb5>) replaced by the MS one */
    oid_end = 4 + 2 + sizeof(OID_KRB5);
    assert_memory_equal(kr.data + 6, OID_KRB5, sizeof(OID_KRB5));
    tok.len = 0;
    der_append_tlv(&tok, 0x06, OID_KRB5_MS, sizeof(OID_KRB5_MS));
    der_append(&tok, kr.data + oid_end, kr.len - oid_end);
    der_wrap(&tok, 0x60);
    assert_int_equal(walk_copy(tok.buf, tok.len, NULL), N8443_TOK_OTHER_MECH);

    tok.len = 0;
    der_append_tlv(&tok, 0x06, OID_IAKERB, sizeof(OID_IAKERB));
    der_append(&tok, "\x05\x01\x00", 3);
    der_wrap(&tok, 0x60);
    assert_int_equal(walk_copy(tok.buf, tok.len, NULL), N8443_TOK_OTHER_MECH);

    /* and the krb5 OID again: the rebuilt token equals the fixture */
    tok.len = 0;
    der_append_tlv(&tok, 0x06, OID_KRB5, sizeof(OID_KRB5));
    der_append(&tok, kr.data + oid_end, kr.len - oid_end);
    der_wrap(&tok, 0x60);
    assert_int_equal(tok.len, kr.len);
    assert_memory_equal(tok.buf, kr.data, kr.len);
    fixture_free(&kr);
}

static void test_not_a_token(void **state)
{
    static const unsigned char seq[] = {0x30, 0x03, 0x02, 0x01, 0x05};
    static const unsigned char high_tag[] = {0x7f, 0x21, 0x00};
    static const unsigned char text[] = "Negotiate";

    (void)state;
    assert_int_equal(walk_copy(seq, sizeof(seq), NULL), N8443_TOK_MALFORMED);
    assert_int_equal(walk_copy(high_tag, sizeof(high_tag), NULL),
                     N8443_TOK_MALFORMED);
    assert_int_equal(walk_copy(text, sizeof(text) - 1, NULL),
                     N8443_TOK_MALFORMED);
}

/*
 * A hand-built raw krb5 token whose fields each test changes one at a
 * time.  Lengths of everything around a changed field are recomputed, so
 * each variant is well-formed DER except for the one rule under test.
 */
typedef struct {
    unsigned char tok_id[2];
    int64_t pvno, msg_type;
    const unsigned char *ap_options;
    size_t ap_options_len;
    const char *realm;
    unsigned char realm_tag;
    const char *sname[6];
    int sname_count;
    int64_t ticket_etype, ticket_kvno; /* kvno < -(1<<40): absent */
    int64_t auth_etype, auth_kvno;
    size_t auth_cipher_len;
    unsigned char auth_cipher_tag;
    int trailing_in_encdata;
    int extra_apreq_field;
    int last_sname_overruns; /* its length claims 1 MiB */
} apreq_spec;

#define ABSENT (-(INT64_C(1) << 40))

static const unsigned char mutual_opts[] = {0x00, 0x20, 0x00, 0x00, 0x00};

static apreq_spec default_spec(void)
{
    apreq_spec s = {
        .tok_id = {0x01, 0x00},
        .pvno = 5,
        .msg_type = 14,
        .ap_options = mutual_opts,
        .ap_options_len = sizeof(mutual_opts),
        .realm = "EXAMPLE.ORG",
        .realm_tag = 0x1b,
        .sname = {"HTTP", "www.example.org"},
        .sname_count = 2,
        .ticket_etype = 17,
        .ticket_kvno = 7,
        .auth_etype = 20,
        .auth_kvno = ABSENT,
        .auth_cipher_len = 100,
        .auth_cipher_tag = 0x04,
    };
    return s;
}

/* [ctx] INTEGER v, minimal two's complement. */
static void append_int(der_buf *b, unsigned char ctx, int64_t v)
{
    unsigned char octets[8];
    size_t start = 0, i;

    for (i = 0; i < 8; i++)
        octets[i] = (unsigned char)((uint64_t)v >> (56 - 8 * i));
    /* drop leading octets that only repeat the sign bit of the next one */
    while (start < 7
           && ((octets[start] == 0x00 && (octets[start + 1] & 0x80) == 0)
               || (octets[start] == 0xff && (octets[start + 1] & 0x80) != 0)))
        start++;
    der_append_explicit(b, ctx, 0x02, octets + start, 8 - start);
}

static void append_encrypted_data(der_buf *b, unsigned char ctx, int64_t etype,
                                  int64_t kvno, size_t cipher_len,
                                  unsigned char cipher_tag, int trailing)
{
    der_buf ed = {.len = 0}, cipher = {.len = 0};
    size_t i;

    append_int(&ed, 0xa0, etype);
    if (kvno != ABSENT)
        append_int(&ed, 0xa1, kvno);
    for (i = 0; i < cipher_len; i++)
        cipher.buf[i] = (unsigned char)(i * 7 + 1);
    cipher.len = cipher_len;
    der_append_explicit(&ed, 0xa2, cipher_tag, cipher.buf, cipher.len);
    if (trailing)
        der_append(&ed, "\x00", 1);
    der_wrap(&ed, 0x30);
    der_wrap(&ed, ctx);
    der_append(b, ed.buf, ed.len);
}

static void build_krb5_token(const apreq_spec *s, der_buf *out)
{
    der_buf names = {.len = 0}, pname = {.len = 0};
    der_buf ticket = {.len = 0}, apreq = {.len = 0};
    int i;

    for (i = 0; i < s->sname_count; i++) {
        if (s->last_sname_overruns && i == s->sname_count - 1) {
            der_append(&names, "\x1b\x84\x00\x10\x00\x00", 6);
            der_append(&names, s->sname[i], strlen(s->sname[i]));
        }
        else {
            der_append_tlv(&names, 0x1b, s->sname[i], strlen(s->sname[i]));
        }
    }
    der_wrap(&names, 0x30);
    der_wrap(&names, 0xa1);
    append_int(&pname, 0xa0, 3);
    der_append(&pname, names.buf, names.len);
    der_wrap(&pname, 0x30);
    der_wrap(&pname, 0xa2);

    append_int(&ticket, 0xa0, 5);
    der_append_explicit(&ticket, 0xa1, s->realm_tag, s->realm,
                        strlen(s->realm));
    der_append(&ticket, pname.buf, pname.len);
    append_encrypted_data(&ticket, 0xa3, s->ticket_etype, s->ticket_kvno, 300,
                          0x04, 0);
    der_wrap(&ticket, 0x30);
    der_wrap(&ticket, 0x61);
    der_wrap(&ticket, 0xa3);

    append_int(&apreq, 0xa0, s->pvno);
    append_int(&apreq, 0xa1, s->msg_type);
    der_append_explicit(&apreq, 0xa2, 0x03, s->ap_options, s->ap_options_len);
    der_append(&apreq, ticket.buf, ticket.len);
    append_encrypted_data(&apreq, 0xa4, s->auth_etype, s->auth_kvno,
                          s->auth_cipher_len, s->auth_cipher_tag,
                          s->trailing_in_encdata);
    if (s->extra_apreq_field)
        append_int(&apreq, 0xa5, 0);
    der_wrap(&apreq, 0x30);
    der_wrap(&apreq, 0x6e);

    out->len = 0;
    der_append_tlv(out, 0x06, OID_KRB5, sizeof(OID_KRB5));
    der_append(out, s->tok_id, 2);
    der_append(out, apreq.buf, apreq.len);
    der_wrap(out, 0x60);
}

/* Build and walk; info (if wanted) points into tok. */
static n8443_tok_status walk_spec(const apreq_spec *s, n8443_apreq_info *info,
                                  der_buf *tok)
{
    build_krb5_token(s, tok);
    return n8443_token_walk(tok->buf, tok->len, info);
}

/* Build and walk a heap copy of exactly the token's size, for the cases
 * that are about reading past the end. */
static n8443_tok_status walk_spec_copy(const apreq_spec *s)
{
    der_buf tok;

    build_krb5_token(s, &tok);
    return walk_copy(tok.buf, tok.len, NULL);
}

static void test_built_apreq_fields(void **state)
{
    apreq_spec s = default_spec();
    n8443_apreq_info info;
    der_buf tok;

    (void)state;
    assert_int_equal(walk_spec(&s, &info, &tok), N8443_TOK_KRB5);
    assert_int_equal(info.framing, N8443_FRAME_GSS_KRB5);
    assert_int_equal(info.mutual_required, 1);
    assert_bytes_str(info.realm, "EXAMPLE.ORG");
    assert_int_equal(info.sname_count, 2);
    assert_bytes_str(info.sname[0], "HTTP");
    assert_bytes_str(info.sname[1], "www.example.org");
    assert_int_equal(info.ticket_etype, 17);
    assert_int_equal(info.ticket_kvno, 7);
    assert_int_equal(info.authenticator_etype, 20);
    assert_int_equal(info.authenticator.len, 100);
    assert_ptr_equal(info.authenticator.data, tok.buf + tok.len - 100);
    assert_int_equal(info.authenticator.data[99], (unsigned char)(99 * 7 + 1));

    /* kvno absent; int32 extremes; four sname components */
    s.ticket_kvno = ABSENT;
    s.ticket_etype = INT32_MIN;
    s.auth_etype = INT32_MAX;
    s.sname[2] = "a";
    s.sname[3] = "b";
    s.sname_count = 4;
    assert_int_equal(walk_spec(&s, &info, &tok), N8443_TOK_KRB5);
    assert_int_equal(info.ticket_kvno, -1);
    assert_int_equal(info.ticket_etype, INT32_MIN);
    assert_int_equal(info.authenticator_etype, INT32_MAX);
    assert_int_equal(info.sname_count, 4);
    assert_bytes_str(info.sname[3], "b");

    /* a kvno on the authenticator is read and ignored */
    s = default_spec();
    s.auth_kvno = 3;
    assert_int_equal(walk_spec(&s, &info, &tok), N8443_TOK_KRB5);
    assert_int_equal(info.ticket_kvno, 7);
    assert_int_equal(info.authenticator.len, 100);

    /* ap-options without mutual-required; a one-octet empty bit string */
    s = default_spec();
    s.ap_options = (const unsigned char *)"\x00\x40\x00\x00\x00";
    assert_int_equal(walk_spec(&s, &info, &tok), N8443_TOK_KRB5);
    assert_int_equal(info.mutual_required, 0);
    s.ap_options = (const unsigned char *)"\x00";
    s.ap_options_len = 1;
    assert_int_equal(walk_spec(&s, &info, &tok), N8443_TOK_KRB5);
    assert_int_equal(info.mutual_required, 0);
}

/* One broken rule per case; apply_reject_case() returns its name, NULL
 * past the last case. */
static const char *apply_reject_case(apreq_spec *s, int which)
{
    switch (which) {
    case 0: s->pvno = 4; return "pvno 4";
    case 1: s->msg_type = 15; return "msg-type AP-REP";
    case 2: s->tok_id[0] = 0x02; return "TOK_ID AP-REP";
    case 3: s->tok_id[1] = 0x01; return "TOK_ID 01 01";
    case 4: s->auth_etype = INT32_MAX + INT64_C(1); return "etype above int32";
    case 5:
        s->ticket_etype = INT32_MIN - INT64_C(1);
        return "etype below int32";
    case 6: s->ticket_kvno = -2; return "negative kvno";
    case 7: s->ticket_kvno = INT64_C(0x80000000); return "kvno above int32";
    case 8: s->auth_cipher_len = 0; return "empty authenticator";
    case 9:
        s->auth_cipher_tag = 0x24;
        return "constructed (BER) cipher OCTET STRING";
    case 10: s->realm_tag = 0x0c; return "realm as UTF8String";
    case 11:
        s->trailing_in_encdata = 1;
        return "trailing byte inside EncryptedData";
    case 12: s->extra_apreq_field = 1; return "extra [5] field in AP-REQ";
    case 13: s->sname_count = 0; return "no sname component";
    case 14:
        s->sname[2] = s->sname[3] = s->sname[4] = "x";
        s->sname_count = 5;
        return "five sname components";
    case 15:
        s->ap_options = (const unsigned char *)"\x08\x20";
        s->ap_options_len = 2;
        return "bit string with 8 unused bits";
    case 16:
        s->ap_options = (const unsigned char *)"";
        s->ap_options_len = 0;
        return "empty bit string";
    case 17:
        s->ap_options = (const unsigned char *)"\x03";
        s->ap_options_len = 1;
        return "unused bits in a bit string without bits";
    case 18:
        s->last_sname_overruns = 1;
        return "sname component longer than the token";
    }
    return NULL;
}

static void test_built_apreq_rejects(void **state)
{
    n8443_apreq_info info;
    const char *what;
    apreq_spec s;
    der_buf tok;
    int i;

    (void)state;
    for (i = 0;; i++) {
        s = default_spec();
        what = apply_reject_case(&s, i);
        if (what == NULL)
            break;
        if (walk_spec_copy(&s) != N8443_TOK_MALFORMED)
            fail_msg("not refused: %s", what);
        memset(&info, 0xa5, sizeof(info));
        if (walk_spec(&s, &info, &tok) != N8443_TOK_MALFORMED)
            fail_msg("not refused: %s", what);
        assert_info_zero(&info);
    }
    assert_int_equal(i, 19);
}

static void test_status_str(void **state)
{
    (void)state;
    assert_string_equal(n8443_tok_status_str(N8443_TOK_KRB5), "krb5");
    assert_string_equal(n8443_tok_status_str(N8443_TOK_MALFORMED), "malformed");
    assert_string_equal(n8443_tok_status_str(N8443_TOK_NTLM), "ntlm");
    assert_string_equal(n8443_tok_status_str(N8443_TOK_OTHER_MECH),
                        "other-mech");
    assert_string_equal(n8443_tok_status_str(N8443_TOK_NO_MECH_TOKEN),
                        "no-mech-token");
    assert_string_equal(n8443_tok_status_str((n8443_tok_status)99), "unknown");
}

static void test_principal_string(void **state)
{
    fixture fx = fixture_load("spnego_init.bin");
    static const char expected[] = "HTTP/localhost@TEST.N8443";
    apreq_spec s = default_spec();
    n8443_apreq_info info, empty;
    char buf[64];
    der_buf tok;

    (void)state;
    assert_int_equal(n8443_token_walk(fx.data, fx.len, &info), N8443_TOK_KRB5);
    assert_int_equal(n8443_apreq_principal(&info, buf, sizeof(buf)),
                     strlen(expected));
    assert_string_equal(buf, expected);
    /* exactly enough room, and one byte short (the NUL does not fit) */
    assert_int_equal(n8443_apreq_principal(&info, buf, sizeof(expected)),
                     strlen(expected));
    assert_string_equal(buf, expected);
    assert_int_equal(n8443_apreq_principal(&info, buf, sizeof(expected) - 1),
                     0);
    assert_string_equal(buf, "");
    assert_int_equal(n8443_apreq_principal(&info, buf, 0), 0);
    memset(&empty, 0, sizeof(empty));
    assert_int_equal(n8443_apreq_principal(&empty, buf, sizeof(buf)), 0);

    /* control characters and DEL in a name become '?' */
    s.sname[1] = "evil\r\nhost\x7f";
    s.realm = "R\x1b";
    assert_int_equal(walk_spec(&s, &info, &tok), N8443_TOK_KRB5);
    assert_int_equal(n8443_apreq_principal(&info, buf, sizeof(buf)),
                     strlen("HTTP/evil??host?@R?"));
    assert_string_equal(buf, "HTTP/evil??host?@R?");
    fixture_free(&fx);
}

/*
 * Issue 15: the fast path takes only the encodings MIT's GSS-API takes,
 * so the walker notes non-minimal DER (a long-form OID length in the GSS
 * header, a padded length) and how reqFlags were written.
 */
static void test_canonical_form(void **state)
{
    fixture fx = fixture_load("krb5_raw.bin");
    const unsigned char *mechs[] = {OID_KRB5};
    const size_t mech_lens[] = {sizeof(OID_KRB5)};
    n8443_apreq_info info;
    unsigned char *tok;
    der_buf sp;
    size_t n;

    (void)state;
    assert_int_equal(n8443_token_walk(fx.data, fx.len, &info), N8443_TOK_KRB5);
    assert_int_equal(info.der_canonical, 1);
    assert_int_equal(info.req_flags, N8443_REQFLAGS_ABSENT);
    assert_int_equal(n8443_apreq_walk(info.apreq.data, info.apreq.len, &info),
                     N8443_TOK_KRB5);
    assert_int_equal(info.der_canonical, 1);

    /* 60 82 02 b4 06 09 ... -> 60 82 02 b5 06 81 09 ... */
    assert_int_equal(fx.data[4], 0x06);
    assert_int_equal(fx.data[5], 0x09);
    n = fx.len + 1;
    tok = malloc(n);
    assert_non_null(tok);
    memcpy(tok, fx.data, 5);
    tok[5] = 0x81;
    memcpy(tok + 6, fx.data + 5, fx.len - 5);
    tok[3] = (unsigned char)(tok[3] + 1);
    assert_int_equal(n8443_token_walk(tok, n, &info), N8443_TOK_KRB5);
    assert_int_equal(info.der_canonical, 0);

    /* 60 82 02 b4 -> 60 83 00 02 b4: a leading zero octet */
    memcpy(tok, "\x60\x83\x00", 3);
    memcpy(tok + 3, fx.data + 2, fx.len - 2);
    assert_int_equal(n8443_token_walk(tok, n, &info), N8443_TOK_KRB5);
    assert_int_equal(info.der_canonical, 0);
    free(tok);

    /* reqFlags: MIT's one form, and others */
    {
        static const struct {
            const char *bytes;
            size_t len;
            n8443_reqflags_form form;
        } rf[] = {
            {"\xa1\x04\x03\x02\x01\x00", 6, N8443_REQFLAGS_MIT},
            {"\xa1\x04\x03\x02\x01\x7e", 6, N8443_REQFLAGS_MIT},
            {"\xa1\x03\x03\x01\x00", 5, N8443_REQFLAGS_OTHER},
            {"\xa1\x04\x03\x02\x00\x00", 6, N8443_REQFLAGS_OTHER},
            {"\xa1\x05\x03\x03\x00\x00\x00", 7, N8443_REQFLAGS_OTHER},
        };
        size_t i;

        for (i = 0; i < sizeof(rf) / sizeof(rf[0]); i++) {
            der_buf init = {.len = 0}, types = {.len = 0};

            der_append_tlv(&types, 0x06, OID_KRB5, sizeof(OID_KRB5));
            der_wrap(&types, 0x30);
            der_wrap(&types, 0xa0);
            der_append(&init, types.buf, types.len);
            der_append(&init, rf[i].bytes, rf[i].len);
            der_append_explicit(&init, 0xa2, 0x04, fx.data, fx.len);
            der_wrap(&init, 0x30);
            der_wrap(&init, 0xa0);
            sp.len = 0;
            der_append_tlv(&sp, 0x06, OID_SPNEGO, sizeof(OID_SPNEGO));
            der_append(&sp, init.buf, init.len);
            der_wrap(&sp, 0x60);
            assert_int_equal(n8443_token_walk(sp.buf, sp.len, &info),
                             N8443_TOK_KRB5);
            assert_int_equal(info.req_flags, rf[i].form);
            assert_int_equal(info.der_canonical, 1);
        }
    }
    build_spnego_init(&sp, mechs, mech_lens, 1, fx.data, fx.len);
    assert_int_equal(n8443_token_walk(sp.buf, sp.len, &info), N8443_TOK_KRB5);
    assert_int_equal(info.req_flags, N8443_REQFLAGS_ABSENT);
    fixture_free(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_spnego_init),
        cmocka_unit_test(test_real_krb5_raw),
        cmocka_unit_test(test_real_krb5_no_mutual),
        cmocka_unit_test(test_spnego_inner_is_same_authenticator),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_short_inputs),
        cmocka_unit_test(test_length_overflow),
        cmocka_unit_test(test_indefinite_length),
        cmocka_unit_test(test_trailing_garbage),
        cmocka_unit_test(test_nesting_bomb_framing),
        cmocka_unit_test(test_nesting_bomb_spnego),
        cmocka_unit_test(test_nesting_bomb_context),
        cmocka_unit_test(test_ntlm_raw),
        cmocka_unit_test(test_ntlm_in_spnego),
        cmocka_unit_test(test_spnego_mech_lists),
        cmocka_unit_test(test_spnego_optional_fields),
        cmocka_unit_test(test_neg_token_resp),
        cmocka_unit_test(test_raw_other_oids),
        cmocka_unit_test(test_not_a_token),
        cmocka_unit_test(test_built_apreq_fields),
        cmocka_unit_test(test_built_apreq_rejects),
        cmocka_unit_test(test_status_str),
        cmocka_unit_test(test_canonical_form),
        cmocka_unit_test(test_principal_string),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
