/*
 * test_authz_header.c - Authorization header parsing, strict base64 and
 * the Basic credentials split.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "authz_header.h"
#include "encode.h"
#include "token_walk.h"
#include "fixture.h"

/* Parse value and check kind, scheme and parameter (NULL: none). */
static void assert_parse(const char *value, n8443_authz_kind kind,
                         const char *scheme, const char *param)
{
    n8443_authz a;

    memset(&a, 0xa5, sizeof(a));
    if (n8443_authz_parse(value, &a) != kind || a.kind != kind)
        fail_msg("\"%s\": kind %d, expected %d", value ? value : "(null)",
                 (int)a.kind, (int)kind);
    if (scheme == NULL) {
        assert_null(a.scheme);
        assert_int_equal(a.scheme_len, 0);
    }
    else {
        assert_int_equal(a.scheme_len, strlen(scheme));
        assert_memory_equal(a.scheme, scheme, a.scheme_len);
    }
    if (param == NULL) {
        assert_null(a.param);
        assert_int_equal(a.param_len, 0);
    }
    else {
        assert_int_equal(a.param_len, strlen(param));
        assert_memory_equal(a.param, param, a.param_len);
    }
}

static void test_parse_negotiate(void **state)
{
    (void)state;
    assert_parse("Negotiate abc=", N8443_AUTHZ_NEGOTIATE, "Negotiate", "abc=");
    assert_parse("negotiate abc=", N8443_AUTHZ_NEGOTIATE, "negotiate", "abc=");
    assert_parse("NEGOTIATE YII+/w==", N8443_AUTHZ_NEGOTIATE, "NEGOTIATE",
                 "YII+/w==");
    assert_parse("Negotiate TlRMTVNTUAABAAAAl4II4g", N8443_AUTHZ_NEGOTIATE,
                 "Negotiate", "TlRMTVNTUAABAAAAl4II4g");
    /* token68 also allows - . _ ~ (base64url and friends) */
    assert_parse("Negotiate a-b.c_d~e", N8443_AUTHZ_NEGOTIATE, "Negotiate",
                 "a-b.c_d~e");
}

static void test_parse_whitespace(void **state)
{
    (void)state;
    assert_parse("Negotiate\tabc=", N8443_AUTHZ_NEGOTIATE, "Negotiate", "abc=");
    assert_parse(" \tNegotiate \t abc= \t", N8443_AUTHZ_NEGOTIATE, "Negotiate",
                 "abc=");
    assert_parse("Negotiate   abc", N8443_AUTHZ_NEGOTIATE, "Negotiate", "abc");
}

static void test_parse_empty(void **state)
{
    (void)state;
    assert_parse("Negotiate", N8443_AUTHZ_EMPTY, "Negotiate", NULL);
    assert_parse("Negotiate  ", N8443_AUTHZ_EMPTY, "Negotiate", NULL);
    assert_parse("Negotiate\t", N8443_AUTHZ_EMPTY, "Negotiate", NULL);
    assert_parse("Basic", N8443_AUTHZ_EMPTY, "Basic", NULL);
    assert_parse("basic \t ", N8443_AUTHZ_EMPTY, "basic", NULL);
}

static void test_parse_basic(void **state)
{
    (void)state;
    assert_parse("Basic YWxpY2U6cHc=", N8443_AUTHZ_BASIC, "Basic",
                 "YWxpY2U6cHc=");
    assert_parse("bAsIc YWxpY2U6cHc=", N8443_AUTHZ_BASIC, "bAsIc",
                 "YWxpY2U6cHc=");
}

static void test_parse_other(void **state)
{
    (void)state;
    assert_parse("Bearer x", N8443_AUTHZ_OTHER, "Bearer", "x");
    assert_parse("Bearer", N8443_AUTHZ_OTHER, "Bearer", NULL);
    assert_parse("Bearer   ", N8443_AUTHZ_OTHER, "Bearer", NULL);
    /* auth-params with quoted strings are another scheme's business */
    assert_parse("Digest username=\"a b\", realm=\"x\"  ", N8443_AUTHZ_OTHER,
                 "Digest", "username=\"a b\", realm=\"x\"");
    /* a scheme that merely starts like ours is not ours */
    assert_parse("Negotiate2 abc", N8443_AUTHZ_OTHER, "Negotiate2", "abc");
    assert_parse("Basi abc", N8443_AUTHZ_OTHER, "Basi", "abc");
}

static void test_parse_malformed(void **state)
{
    static const char *bad[] = {
        "",
        "   ",
        "\t",
        "Negotiate a b",
        "Negotiate abc=d",
        "Negotiate ====",
        "Negotiate abc,def",
        "Negotiate abc\r\n",
        "Negotiate \"abc\"",
        "Negotiate:abc",
        "Negotiate\200abc",
        "Basic a b",
        "Bearer x\ny",
        "Bearer x\x7f",
        "(Negotiate) abc",
        "=abc",
    };
    n8443_authz a;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_parse(bad[i], N8443_AUTHZ_MALFORMED, NULL, NULL);
    assert_int_equal(n8443_authz_parse(NULL, &a), N8443_AUTHZ_MALFORMED);
    assert_int_equal(a.kind, N8443_AUTHZ_MALFORMED);
    /* out is optional */
    assert_int_equal(n8443_authz_parse("Negotiate abc", NULL),
                     N8443_AUTHZ_NEGOTIATE);
}

/* Decode s and compare with expected (expected_len bytes). */
static void assert_decodes(const char *s, const void *expected,
                           size_t expected_len)
{
    unsigned char out[64];
    size_t outlen = 12345;

    if (n8443_base64_decode(s, strlen(s), out, sizeof(out), &outlen) != 0)
        fail_msg("\"%s\" did not decode", s);
    assert_int_equal(outlen, expected_len);
    assert_memory_equal(out, expected, expected_len);
    assert_true(n8443_base64_decoded_max(strlen(s)) >= outlen);
}

static void assert_refused(const char *s)
{
    unsigned char out[64];
    size_t outlen = 12345;

    if (n8443_base64_decode(s, strlen(s), out, sizeof(out), &outlen) != -1)
        fail_msg("\"%s\" was accepted", s);
    /* *outlen is written only on success */
    assert_int_equal(outlen, 12345);
}

static void test_base64_valid(void **state)
{
    /* RFC 4648 section 10 */
    static const char *vectors[][2] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    static const unsigned char high[] = {0xfb, 0xff, 0xbf};
    char enc[64];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        assert_decodes(vectors[i][1], vectors[i][0], strlen(vectors[i][0]));
        assert_int_equal(
            n8443_base64_encode((const unsigned char *)vectors[i][0],
                                strlen(vectors[i][0]), enc, sizeof(enc)),
            strlen(vectors[i][1]));
        assert_string_equal(enc, vectors[i][1]);
    }
    assert_decodes("+/+/", high, sizeof(high));
}

static void test_base64_bad_chars(void **state)
{
    (void)state;
    assert_refused("TW-u"); /* base64url is not base64 */
    assert_refused("TW_u");
    assert_refused("TW.u");
    assert_refused("TWF\x80");
    assert_refused("TQ=u"); /* '=' before the end */
    assert_refused("T=Fu");
    assert_refused("====");
    assert_refused("A===");
    assert_refused("TQ==TWFu"); /* padding in a quartet that is not last */
}

/*
 * Strict base64 the plain way, one character at a time, to check the
 * decoder's table and quartet loop against: 0 and the bytes, or -1.
 */
static int reference_decode(const char *in, size_t len, unsigned char *out,
                            size_t *outlen)
{
    const char *alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, pad = 0, o = 0, bits = 0;
    uint32_t acc = 0;
    const char *p;

    if (len % 4 != 0)
        return -1;
    while (pad < 2 && pad < len && in[len - 1 - pad] == '=')
        pad++;
    for (i = 0; i < len - pad; i++) {
        p = in[i] != '\0' ? strchr(alphabet, in[i]) : NULL;
        if (p == NULL)
            return -1;
        acc = (acc << 6) | (uint32_t)(p - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* "x===" has one data character in its quartet: never valid. */
    if (len > 0 && (len - pad) % 4 == 1)
        return -1;
    if (acc != 0) /* bits cut off by the padding */
        return -1;
    *outlen = o;
    return 0;
}

/* Every byte value in every position of two-quartet inputs, padded and
 * not: the decoder agrees with the reference on whether and to what. */
static void test_base64_every_byte(void **state)
{
    static const char *const bases[] = {
        "TWFuTWFu", "TWFuTWE=", "TWFuTQ==", "TWFuTWA=", "TWFuTA=="};
    unsigned char out[8], ref[8];
    size_t b, pos, outlen, reflen, len;
    int c, rc, refrc;
    char in[9];

    (void)state;
    for (b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
        len = strlen(bases[b]);
        for (pos = 0; pos < len; pos++) {
            for (c = 0; c < 256; c++) {
                memcpy(in, bases[b], len + 1);
                in[pos] = (char)c;
                refrc = reference_decode(in, len, ref, &reflen);
                rc = n8443_base64_decode(in, len, out, sizeof(out), &outlen);
                if (rc != refrc)
                    fail_msg("\"%s\" with 0x%02x at %zu: %s", bases[b],
                             (unsigned)c, pos,
                             rc == 0 ? "accepted" : "refused");
                if (rc == 0) {
                    assert_int_equal(outlen, reflen);
                    assert_memory_equal(out, ref, reflen);
                }
            }
        }
    }
}

static void test_base64_bad_padding(void **state)
{
    (void)state;
    assert_refused("TQ"); /* padding missing */
    assert_refused("TQ=");
    assert_refused("TWE");
    assert_refused("TWFuTQ");
    assert_refused("TQ===");
    assert_refused("T");
}

static void test_base64_whitespace(void **state)
{
    (void)state;
    assert_refused(" TWFu");
    assert_refused("TWFu ");
    assert_refused("TWFu\n");
    assert_refused("TW\r\nFu");
    assert_refused("TWFu    "); /* a multiple of 4, still not base64 */
    assert_refused("TW  Fu==");
    assert_refused("TW\tF");
}

static void test_base64_trailing_bits(void **state)
{
    (void)state;
    assert_decodes("TQ==", "M", 1);
    assert_refused("TR=="); /* same 'M', 4 dropped bits not zero */
    assert_refused("TX==");
    assert_decodes("TWE=", "Ma", 2);
    assert_refused("TWF="); /* 2 dropped bits not zero */
    assert_refused("TWH=");
}

static void test_base64_outcap(void **state)
{
    unsigned char out[3];
    size_t outlen = 777;

    (void)state;
    assert_int_equal(n8443_base64_decode("TWFu", 4, out, 2, &outlen), -1);
    assert_int_equal(outlen, 777);
    assert_int_equal(n8443_base64_decode("TWFu", 4, out, 3, &outlen), 0);
    assert_int_equal(outlen, 3);
    assert_memory_equal(out, "Man", 3);
    /* "TQ==" needs one byte, not three */
    assert_int_equal(n8443_base64_decode("TQ==", 4, out, 1, &outlen), 0);
    assert_int_equal(outlen, 1);
    assert_int_equal(n8443_base64_decode("TQ==", 4, out, 0, &outlen), -1);
    assert_int_equal(n8443_base64_decode("TQ==", 4, NULL, 0, &outlen), -1);
    assert_int_equal(n8443_base64_decode("TQ==", 4, out, 3, NULL), -1);
    assert_int_equal(n8443_base64_decode(NULL, 4, out, 3, &outlen), -1);
    /* empty input decodes to nothing, wherever out points */
    outlen = 777;
    assert_int_equal(n8443_base64_decode("", 0, NULL, 0, &outlen), 0);
    assert_int_equal(outlen, 0);
}

static void test_base64_sizes(void **state)
{
    char enc[9];

    (void)state;
    assert_int_equal(n8443_base64_decoded_max(0), 0);
    assert_int_equal(n8443_base64_decoded_max(4), 3);
    assert_int_equal(n8443_base64_decoded_max(5), 6);
    assert_int_equal(n8443_base64_decoded_max(8), 6);
    assert_int_equal(n8443_base64_decoded_max(SIZE_MAX), SIZE_MAX / 4 * 3 + 3);

    /* "foobar" needs 8 + NUL */
    assert_int_equal(
        n8443_base64_encode((const unsigned char *)"foobar", 6, enc, 9), 8);
    assert_string_equal(enc, "Zm9vYmFy");
    assert_int_equal(
        n8443_base64_encode((const unsigned char *)"foobar", 6, enc, 8), 0);
    assert_int_equal(n8443_base64_encode((const unsigned char *)"f", 1, enc, 0),
                     0);
    assert_int_equal(n8443_base64_encode(NULL, 0, enc, 1), 0);
    assert_string_equal(enc, "");
    /* a size whose encoding does not fit in size_t */
    assert_int_equal(n8443_base64_encode((const unsigned char *)"f",
                                         SIZE_MAX - 1, enc, sizeof(enc)),
                     0);
}

/* Every byte value, at every position modulo 3, survives a round trip, and
 * the encoder's output is the one text the strict decoder accepts. */
static void test_base64_round_trip(void **state)
{
    unsigned char raw[258], back[258];
    char enc[4 * 86 + 1];
    size_t len, enclen, outlen;
    int i;

    (void)state;
    for (i = 0; i < 258; i++)
        raw[i] = (unsigned char)(i * 131 + 7);
    for (len = 0; len <= sizeof(raw); len++) {
        enclen = n8443_base64_encode(raw, len, enc, sizeof(enc));
        assert_int_equal(enclen, (len + 2) / 3 * 4);
        assert_int_equal(
            n8443_base64_decode(enc, enclen, back, sizeof(back), &outlen), 0);
        assert_int_equal(outlen, len);
        assert_memory_equal(back, raw, len);
    }
}

/* Header -> base64 -> token walk, as the module does it, on a real token. */
static void test_header_to_token(void **state)
{
    fixture fx = fixture_load("spnego_init.bin");
    static const char prefix[] = "negotiate ";
    char *header, *enc;
    unsigned char *tok;
    size_t enclen, toklen;
    n8443_apreq_info info;
    n8443_authz a;

    (void)state;
    header = malloc(sizeof(prefix) + fx.len * 2);
    assert_non_null(header);
    memcpy(header, prefix, sizeof(prefix) - 1);
    enc = header + sizeof(prefix) - 1;
    enclen = n8443_base64_encode(fx.data, fx.len, enc, fx.len * 2);
    assert_int_equal(enclen, (fx.len + 2) / 3 * 4);

    assert_int_equal(n8443_authz_parse(header, &a), N8443_AUTHZ_NEGOTIATE);
    assert_ptr_equal(a.param, enc);
    assert_int_equal(a.param_len, enclen);
    tok = malloc(n8443_base64_decoded_max(a.param_len));
    assert_non_null(tok);
    assert_int_equal(n8443_base64_decode(a.param, a.param_len, tok,
                                         n8443_base64_decoded_max(a.param_len),
                                         &toklen),
                     0);
    assert_int_equal(toklen, fx.len);
    assert_int_equal(n8443_token_walk(tok, toklen, &info), N8443_TOK_KRB5);
    assert_int_equal(info.framing, N8443_FRAME_SPNEGO_INIT);
    assert_int_equal(info.sname_count, 2);
    free(tok);
    free(header);
    fixture_free(&fx);
}

/* Split len bytes of s; on success check user and password. */
static void assert_split(const char *s, size_t len, const char *user,
                         const char *pass)
{
    const char *u = (const char *)1, *p = (const char *)1;
    size_t ulen = 999, plen = 999;
    int rc;

    rc = n8443_basic_split((const unsigned char *)s, len, &u, &ulen, &p, &plen);
    if (user == NULL) {
        if (rc != -1)
            fail_msg("split of \"%.*s\" accepted", (int)len, s);
        /* outputs untouched on refusal */
        assert_ptr_equal(u, (const char *)1);
        assert_int_equal(ulen, 999);
        assert_int_equal(plen, 999);
        return;
    }
    assert_int_equal(rc, 0);
    assert_ptr_equal(u, s);
    assert_int_equal(ulen, strlen(user));
    assert_memory_equal(u, user, ulen);
    assert_int_equal(plen, strlen(pass));
    assert_memory_equal(p, pass, plen);
}

#define SPLIT(lit, user, pass) assert_split(lit, sizeof(lit) - 1, user, pass)

static void test_basic_split(void **state)
{
    (void)state;
    SPLIT("alice:pw", "alice", "pw");
    SPLIT("alice:p:w", "alice", "p:w"); /* first colon splits */
    SPLIT("alice@EXAMPLE.ORG:pw", "alice@EXAMPLE.ORG", "pw");
    SPLIT("alice:", "alice", ""); /* the KDC judges passwords */
    SPLIT("j\xc3\xbcrgen:p\xc3\xa4ss", "j\xc3\xbcrgen", "p\xc3\xa4ss");

    SPLIT("alicepw", NULL, NULL); /* no colon */
    SPLIT("", NULL, NULL);
    SPLIT(":pw", NULL, NULL); /* empty user */
    SPLIT(":", NULL, NULL);
    SPLIT("al\0ice:pw", NULL, NULL); /* NUL in the user */
    SPLIT("alice:p\0w", NULL, NULL); /* NUL in the password */
    SPLIT("\0:pw", NULL, NULL);
    SPLIT("alice\x01:pw", NULL, NULL); /* control characters */
    SPLIT("alice:pw\n", NULL, NULL);
    SPLIT("alice\r\nX-Evil: 1:pw", NULL, NULL);
    SPLIT("alice:pw\x7f", NULL, NULL);
    SPLIT("ali\tce:pw", NULL, NULL);

    assert_int_equal(n8443_basic_split(NULL, 0, NULL, NULL, NULL, NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_negotiate),
        cmocka_unit_test(test_parse_whitespace),
        cmocka_unit_test(test_parse_empty),
        cmocka_unit_test(test_parse_basic),
        cmocka_unit_test(test_parse_other),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_base64_valid),
        cmocka_unit_test(test_base64_bad_chars),
        cmocka_unit_test(test_base64_every_byte),
        cmocka_unit_test(test_base64_bad_padding),
        cmocka_unit_test(test_base64_whitespace),
        cmocka_unit_test(test_base64_trailing_bits),
        cmocka_unit_test(test_base64_outcap),
        cmocka_unit_test(test_base64_sizes),
        cmocka_unit_test(test_base64_round_trip),
        cmocka_unit_test(test_header_to_token),
        cmocka_unit_test(test_basic_split),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
