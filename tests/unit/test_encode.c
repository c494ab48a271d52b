/*
 * test_encode.c - the one base64, base64url and hex encoder
 * (core/encode.c): RFC 4648's test vectors, the URL alphabet and its
 * missing padding, every byte value through the module's own decoder,
 * and the edges: an empty input, a buffer one byte short or exactly
 * large enough, NULL arguments and lengths whose output would not fit
 * in a size_t.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "authz_header.h"
#include "encode.h"

typedef size_t (*encoder)(const unsigned char *, size_t, char *, size_t);

/* RFC 4648 section 10. */
static const char *const rfc_in[] = {"",     "f",     "fo",    "foo",
                                     "foob", "fooba", "foobar"};
static const char *const rfc_b64[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
static const char *const rfc_url[] = {"",       "Zg",      "Zm8",     "Zm9v",
                                      "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
static const char *const rfc_hex[] = {
    "", "66", "666f", "666f6f", "666f6f62", "666f6f6261", "666f6f626172"};

/* ENC of IN must give WANT, in a buffer of exactly the right size, and
 * nothing (an empty string) in one a byte short. */
static void exact(encoder enc, const char *in, const char *want)
{
    size_t len = strlen(in), wlen = strlen(want);
    char buf[64];

    memset(buf, 'X', sizeof(buf));
    assert_int_equal(enc((const unsigned char *)in, len, buf, wlen + 1), wlen);
    assert_string_equal(buf, want);
    memset(buf, 'X', sizeof(buf));
    assert_int_equal(enc((const unsigned char *)in, len, buf, wlen), 0);
    if (wlen > 0)
        assert_int_equal(buf[0], '\0');
    /* Nothing is written past the buffer it was given. */
    assert_int_equal(buf[wlen], 'X');
}

static void test_rfc4648_vectors(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rfc_in) / sizeof(rfc_in[0]); i++) {
        exact(n8443_base64_encode, rfc_in[i], rfc_b64[i]);
        exact(n8443_base64url_encode, rfc_in[i], rfc_url[i]);
        exact(n8443_hex_encode, rfc_in[i], rfc_hex[i]);
        assert_int_equal(n8443_base64_encoded_len(strlen(rfc_in[i])),
                         strlen(rfc_b64[i]));
    }
}

/* The two alphabets differ in 62 and 63 only. */
static void test_alphabets(void **state)
{
    const unsigned char in[] = {0xfb, 0xff, 0xbf, 0x00, 0x10, 0x83};
    char buf[16];

    (void)state;
    assert_int_equal(n8443_base64_encode(in, sizeof(in), buf, sizeof(buf)), 8);
    assert_string_equal(buf, "+/+/ABCD");
    assert_int_equal(n8443_base64url_encode(in, sizeof(in), buf, sizeof(buf)),
                     8);
    assert_string_equal(buf, "-_-_ABCD");
    assert_int_equal(n8443_base64url_encode(in, 1, buf, sizeof(buf)), 2);
    assert_string_equal(buf, "-w");
    assert_int_equal(n8443_hex_encode(in, sizeof(in), buf, sizeof(buf)), 12);
    assert_string_equal(buf, "fbffbf001083");
}

/* Every byte value, at every length up to 256 (each remainder mod 3),
 * comes back unchanged through the header's decoder. */
static void test_round_trip(void **state)
{
    unsigned char raw[256], back[256];
    char enc[400], hex[520];
    size_t len, outlen, i;

    (void)state;
    for (i = 0; i < sizeof(raw); i++)
        raw[i] = (unsigned char)(255 - i);
    for (len = 0; len <= sizeof(raw); len++) {
        assert_int_equal(n8443_base64_encode(raw, len, enc, sizeof(enc)),
                         n8443_base64_encoded_len(len));
        assert_int_equal(
            n8443_base64_decode(enc, strlen(enc), back, sizeof(back), &outlen),
            0);
        assert_int_equal(outlen, len);
        assert_memory_equal(back, raw, len);
        assert_int_equal(n8443_hex_encode(raw, len, hex, sizeof(hex)), 2 * len);
        for (i = 0; i < len; i++) {
            unsigned hi = (unsigned)(hex[2 * i] <= '9' ? hex[2 * i] - '0'
                                                       : hex[2 * i] - 'a' + 10);
            unsigned lo =
                (unsigned)(hex[2 * i + 1] <= '9' ? hex[2 * i + 1] - '0'
                                                 : hex[2 * i + 1] - 'a' + 10);

            assert_int_equal(hi * 16 + lo, raw[i]);
        }
    }
}

/* NULL and zero-sized buffers, NULL input with a length, and lengths
 * whose output would not fit in a size_t: 0, and nothing written past
 * what the caller gave. */
static void test_bad_arguments(void **state)
{
    const unsigned char in[] = "abc";
    char buf[8];
    encoder encs[] = {n8443_base64_encode, n8443_base64url_encode,
                      n8443_hex_encode};
    size_t i;

    (void)state;
    for (i = 0; i < 3; i++) {
        assert_int_equal(encs[i](in, 3, NULL, 8), 0);
        memset(buf, 'X', sizeof(buf));
        assert_int_equal(encs[i](in, 3, buf, 0), 0);
        assert_int_equal(buf[0], 'X');
        assert_int_equal(encs[i](NULL, 3, buf, sizeof(buf)), 0);
        assert_int_equal(buf[0], '\0');
        /* NULL with no bytes is the empty string. */
        memset(buf, 'X', sizeof(buf));
        assert_int_equal(encs[i](NULL, 0, buf, 1), 0);
        assert_int_equal(buf[0], '\0');
        /* Too long to encode at all: refused before reading a byte. */
        memset(buf, 'X', sizeof(buf));
        assert_int_equal(encs[i](in, SIZE_MAX, buf, sizeof(buf)), 0);
        assert_int_equal(buf[0], '\0');
    }
    /* Hex: 2 * inlen + 1 would wrap, whatever the buffer claims. */
    assert_int_equal(n8443_hex_encode(in, SIZE_MAX / 2 + 1, buf, SIZE_MAX), 0);
    assert_int_equal(n8443_base64_encoded_len(SIZE_MAX), 0);
    assert_int_equal(n8443_base64_encoded_len(0), 0);
    assert_int_equal(n8443_base64_encoded_len(1), 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_alphabets),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_arguments),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
