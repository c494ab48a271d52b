/*
 * test_sealed_cookie.c - the session cookie: what is sealed opens to the
 * same identity; anything altered, cut, expired or sealed under another
 * key does not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sealed_cookie.h"
#include "channel_binding.h"

static const unsigned char key1[N8443_COOKIE_KEY_LEN] = {1, 2, 3, 4, 5};
static const unsigned char key2[N8443_COOKIE_KEY_LEN] = {9, 8, 7, 6, 5};

static void sample(n8443_session *s, int64_t expires)
{
    memset(s, 0, sizeof(*s));
    s->expires = expires;
    s->issued = 1000;
    s->flags = N8443_SESSION_BOUND;
    memset(s->scope, 0x5c, sizeof(s->scope));
    memset(s->channel, 0xc5, sizeof(s->channel));
    strcpy(s->principal, "alice@TEST.N8443");
}

static void test_round_trip(void **state)
{
    n8443_session in, out;
    char cookie[N8443_COOKIE_MAX];

    sample(&in, 5000);
    assert_int_equal(n8443_cookie_seal(key1, &in, cookie, sizeof(cookie)), 0);
    assert_null(strpbrk(cookie, "+/=;, ")); /* base64url, unpadded */
    assert_int_equal(
        n8443_cookie_open(key1, cookie, strlen(cookie), 4999, &out),
        N8443_COOKIE_OK);
    assert_string_equal(out.principal, "alice@TEST.N8443");
    assert_int_equal(out.expires, 5000);
    assert_int_equal(out.issued, 1000);
    assert_int_equal(out.flags, N8443_SESSION_BOUND);
    assert_memory_equal(out.scope, in.scope, sizeof(in.scope));
    assert_memory_equal(out.channel, in.channel, sizeof(in.channel));
}

/* The version byte: 2 since the scope is sealed in; the version is also
 * the AAD, so relabelling a cookie breaks the tag. */
static void test_version(void **state)
{
    n8443_session in, out;
    char cookie[N8443_COOKIE_MAX];
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int v;

    sample(&in, 5000);
    assert_int_equal(n8443_cookie_seal(key1, &in, cookie, sizeof(cookie)), 0);
    /* Byte 0 is 0x02: the first character holds its top 6 bits (0), the
     * second its low 2 bits (10) and the nonce's first 4. */
    assert_int_equal(cookie[0], 'A');
    v = (int)(strchr(b64, cookie[1]) - b64);
    assert_int_equal(v >> 4, 2);
    cookie[1] = b64[(1 << 4) | (v & 15)]; /* version 1, same nonce */
    assert_int_equal(n8443_cookie_open(key1, cookie, strlen(cookie), 10, &out),
                     N8443_COOKIE_BAD);
}

/* The scope digest: length-prefixed, so lists that concatenate alike
 * differ, and NULL (absent) differs from "". */
static void test_digest(void **state)
{
    const char *ab_c[] = {"ab", "c"}, *a_bc[] = {"a", "bc"};
    const char *with_null[] = {"x", NULL}, *with_empty[] = {"x", ""};
    unsigned char d1[N8443_COOKIE_DIGEST_LEN], d2[N8443_COOKIE_DIGEST_LEN];

    assert_int_equal(n8443_cookie_digest(ab_c, 2, d1), 0);
    assert_int_equal(n8443_cookie_digest(ab_c, 2, d2), 0);
    assert_memory_equal(d1, d2, sizeof(d1));
    assert_int_equal(n8443_cookie_digest(a_bc, 2, d2), 0);
    assert_memory_not_equal(d1, d2, sizeof(d1));
    assert_int_equal(n8443_cookie_digest(with_null, 2, d1), 0);
    assert_int_equal(n8443_cookie_digest(with_empty, 2, d2), 0);
    assert_memory_not_equal(d1, d2, sizeof(d1));
    assert_int_equal(
        n8443_cookie_digest_bytes((const unsigned char *)"ab", 2, d1), 0);
    assert_int_equal(
        n8443_cookie_digest_bytes((const unsigned char *)"ac", 2, d2), 0);
    assert_memory_not_equal(d1, d2, sizeof(d1));
}

static void test_two_seals_differ(void **state)
{
    n8443_session in;
    char a[N8443_COOKIE_MAX], b[N8443_COOKIE_MAX];

    sample(&in, 5000);
    assert_int_equal(n8443_cookie_seal(key1, &in, a, sizeof(a)), 0);
    assert_int_equal(n8443_cookie_seal(key1, &in, b, sizeof(b)), 0);
    assert_string_not_equal(a, b); /* a fresh nonce each time */
}

static void test_expired(void **state)
{
    n8443_session in, out;
    char cookie[N8443_COOKIE_MAX];

    sample(&in, 5000);
    assert_int_equal(n8443_cookie_seal(key1, &in, cookie, sizeof(cookie)), 0);
    assert_int_equal(
        n8443_cookie_open(key1, cookie, strlen(cookie), 5000, &out),
        N8443_COOKIE_EXPIRED);
}

static void test_other_key(void **state)
{
    n8443_session in, out;
    char cookie[N8443_COOKIE_MAX];

    sample(&in, 5000);
    assert_int_equal(n8443_cookie_seal(key1, &in, cookie, sizeof(cookie)), 0);
    assert_int_equal(n8443_cookie_open(key2, cookie, strlen(cookie), 10, &out),
                     N8443_COOKIE_BAD);
}

/* Every single-character change and every truncation is refused. */
static void test_every_change_refused(void **state)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    n8443_session in, out;
    char cookie[N8443_COOKIE_MAX], bad[N8443_COOKIE_MAX];
    size_t len, i;

    sample(&in, 5000);
    assert_int_equal(n8443_cookie_seal(key1, &in, cookie, sizeof(cookie)), 0);
    len = strlen(cookie);
    for (i = 0; i < len; i++) {
        memcpy(bad, cookie, len + 1);
        bad[i] = alphabet[(strchr(alphabet, bad[i]) - alphabet + 1) % 64];
        assert_int_not_equal(n8443_cookie_open(key1, bad, len, 10, &out),
                             N8443_COOKIE_OK);
        assert_int_equal(n8443_cookie_open(key1, cookie, i, 10, &out),
                         N8443_COOKIE_BAD);
    }
}

static void test_garbage_and_limits(void **state)
{
    n8443_session in, out;
    char cookie[N8443_COOKIE_MAX], small[20];

    assert_int_equal(n8443_cookie_open(key1, "", 0, 10, &out),
                     N8443_COOKIE_BAD);
    assert_int_equal(n8443_cookie_open(key1, "a=b;c", 5, 10, &out),
                     N8443_COOKIE_BAD);
    sample(&in, 5000);
    memset(in.principal, 'a', N8443_COOKIE_MAX_PRINCIPAL);
    in.principal[N8443_COOKIE_MAX_PRINCIPAL] = '\0';
    assert_int_equal(n8443_cookie_seal(key1, &in, cookie, sizeof(cookie)), 0);
    assert_int_equal(n8443_cookie_open(key1, cookie, strlen(cookie), 10, &out),
                     N8443_COOKIE_OK);
    assert_int_equal(strlen(out.principal), N8443_COOKIE_MAX_PRINCIPAL);
    assert_int_equal(n8443_cookie_seal(key1, &in, small, sizeof(small)), -1);
    in.principal[0] = '\0';
    assert_int_equal(n8443_cookie_seal(key1, &in, cookie, sizeof(cookie)), -1);
}

/* ----------------------------------------- the Cookie field, stripped */

static void collect(void *arg, const char *value, size_t len)
{
    char *acc = arg;

    strncat(acc, "[", 255 - strlen(acc));
    strncat(acc, value, len < 255 - strlen(acc) ? len : 255 - strlen(acc));
    strncat(acc, "]", 255 - strlen(acc));
}

static void test_strip_table(void **state)
{
    static const struct {
        const char *field, *kept, *values;
        int removed;
    } cases[] = {
        {"a=1; n8443_session=V; b=2", "a=1; b=2", "[V]", 1},
        {"n8443_session=V", "", "[V]", 1},
        {"n8443_session=V; keep=1", "keep=1", "[V]", 1},
        {"keep=1; n8443_session=V", "keep=1", "[V]", 1},
        {"keep=1;n8443_session=V;", "keep=1", "[V]", 1},
        {"  n8443_session = V  ; k=1", "k=1", "[V]", 1},
        /* Other spellings go, but are not ours to read. */
        {"N8443_SESSION=x; n8443.session=y; n8443%5Fsession=z; "
         "n8443%5fsession=z; n8443[session=w; n8443 session =u; k=1",
         "k=1", "", 6},
        /* ',' separates too (httpd's join of repeated fields). */
        {"x=1, n8443_session=V", "x=1", "[V]", 1},
        {"n8443_session=A; n8443_session=B", "", "[A][B]", 2},
        {"n8443_session", "", "", 1},
        {"n8443_session=", "", "", 1},
        /* Names that only look alike stay. */
        {"n8443_session2=V; xn8443_session=V; n8443_sessio=V; "
         "n8443%5session=V",
         "n8443_session2=V; xn8443_session=V; n8443_sessio=V; "
         "n8443%5session=V",
         "", 0},
        {"", "", "", 0},
        {"a=b=c; n8443_session=V=W", "a=b=c", "[V=W]", 1},
        {";;, ;", ";;, ;", "", 0},
    };
    char out[256], values[256];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        values[0] = '\0';
        assert_int_equal(n8443_cookie_strip(cases[i].field, "n8443_session",
                                            out, collect, values),
                         cases[i].removed);
        assert_string_equal(out, cases[i].kept);
        assert_string_equal(values, cases[i].values);
    }
}

/* Channel binding of a certificate with no signature hash, and garbage. */
static void test_channel_binding_bad_input(void **state)
{
    unsigned char out[N8443_CB_MAX];
    size_t n = 0;

    assert_int_equal(n8443_cb_from_pem("not a cert", 10, out, &n),
                     N8443_CERT_HASH_BAD_CERT);
    assert_int_equal(
        n8443_cb_from_der((const unsigned char *)"\x30\x00", 2, out, &n),
        N8443_CERT_HASH_BAD_CERT);
    assert_null(n8443_cb_hash_name_pem("", 0));
}

/* The two address-free forms of a binding (issue 17), and nothing else. */
static void test_channel_binding_forms(void **state)
{
    (void)state;
    assert_int_equal(n8443_cb_other_addrtype(0, 0, 0, 0), 255);
    assert_int_equal(n8443_cb_other_addrtype(255, 255, 0, 0), 0);
    assert_int_equal(n8443_cb_other_addrtype(255, 0, 0, 0), -1);
    assert_int_equal(n8443_cb_other_addrtype(0, 255, 0, 0), -1);
    assert_int_equal(n8443_cb_other_addrtype(2, 2, 4, 4), -1);
    assert_int_equal(n8443_cb_other_addrtype(0, 0, 4, 0), -1);
    assert_int_equal(n8443_cb_other_addrtype(0, 0, 0, 4), -1);
    assert_string_equal(n8443_cb_addrtype_name(0), "GSS_C_AF_UNSPEC");
    assert_string_equal(n8443_cb_addrtype_name(255), "GSS_C_AF_NULLADDR");
    assert_string_equal(n8443_cb_addrtype_name(2), "another address type");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_two_seals_differ),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_other_key),
        cmocka_unit_test(test_every_change_refused),
        cmocka_unit_test(test_garbage_and_limits),
        cmocka_unit_test(test_strip_table),
        cmocka_unit_test(test_channel_binding_bad_input),
        cmocka_unit_test(test_channel_binding_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
