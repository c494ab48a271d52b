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

#include "replay_key.h"
#include "token_walk.h"
#include "fixture.h"

/*
 * Known answers, computed independently with Python's hashlib:
 *   sha256(b"mod_negotiate8443 replay key v1\0" + etype.to_bytes(4, "big",
 *          signed=True) + cipher)
 * For the real token, make-fixtures writes spnego_init.replay_key the same
 * way, from its own DER parse of spnego_init.bin.
 */
#define KAT_ABC_18 \
    "0fefc0706686540cb9ff45d923cc73b46590eee75cc7c39d8093b8aa6c96b2ba"
#define KAT_ABC_MINUS1 \
    "9bb133c1a2fb1e7bb89f99ff2fbd730522822ed9ca0b8a911e3b3fcaea267b30"

static void
key_hex_of(const n8443_apreq_info *info, char hex[65])
{
    unsigned char key[N8443_REPLAY_KEY_LEN];

    assert_int_equal(n8443_replay_key(info, key), 0);
    n8443_replay_key_hex(key, hex);
}

/* Walk a token that must be krb5 and return its key in hex. */
static void
token_key_hex(const unsigned char *tok, size_t len, char hex[65])
{
    n8443_apreq_info info;

    assert_int_equal(n8443_token_walk(tok, len, &info), N8443_TOK_KRB5);
    key_hex_of(&info, hex);
}

static void
fixture_key_hex(const char *name, char hex[65])
{
    fixture fx = fixture_load(name);

    token_key_hex(fx.data, fx.len, hex);
    fixture_free(&fx);
}

static void
test_known_answer(void **state)
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
    assert_string_equal(hex, KAT_ABC_18);

    /* the etype is part of the key, negative ones included */
    info.authenticator_etype = -1;
    key_hex_of(&info, hex);
    assert_string_equal(hex, KAT_ABC_MINUS1);

    /* only the authenticator counts, not what else info holds */
    info.authenticator_etype = 18;
    info.ticket_etype = 23;
    info.ticket_kvno = 9;
    info.mutual_required = 1;
    info.framing = N8443_FRAME_SPNEGO_RESP;
    key_hex_of(&info, hex);
    assert_string_equal(hex, KAT_ABC_18);

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
static void
test_rewrapped_token_same_key(void **state)
{
    fixture inner = fixture_load("spnego_inner_krb5.bin");
    fixture outer = fixture_load("spnego_init.bin");
    const unsigned char *windows[] = { OID_KRB5_MS, OID_KRB5, OID_NEGOEX,
                                       OID_NTLM };
    const size_t windows_lens[] = { sizeof(OID_KRB5_MS), sizeof(OID_KRB5),
                                    sizeof(OID_NEGOEX), sizeof(OID_NTLM) };
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
static void
test_different_authenticators_differ(void **state)
{
    char spnego[65], raw[65], nomutual[65], hex[65];
    fixture fx = fixture_load("krb5_raw.bin");
    n8443_apreq_info info;
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

    /* the same cipher under another etype */
    assert_int_equal(n8443_token_walk(fx.data, fx.len, &info),
                     N8443_TOK_KRB5);
    info.authenticator_etype = 17;
    key_hex_of(&info, hex);
    assert_string_not_equal(hex, raw);
    free(copy);
    fixture_free(&fx);
}

/* No authenticator, no key: -1 and a zeroed key, never a usable one. */
static void
test_refuses_without_authenticator(void **state)
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
    assert_int_equal(n8443_token_walk((const unsigned char *)"\x60\x00", 2,
                                      &info), N8443_TOK_MALFORMED);
    assert_int_equal(n8443_replay_key(&info, key), -1);
    assert_memory_equal(key, zero, sizeof(key));

    memset(key, 0xaa, sizeof(key));
    info.authenticator.data = (const unsigned char *)"abc";
    info.authenticator.len = 0;
    assert_int_equal(n8443_replay_key(&info, key), -1);
    assert_memory_equal(key, zero, sizeof(key));

    assert_int_equal(n8443_replay_key(&info, NULL), -1);
}

static void
test_hex(void **state)
{
    unsigned char key[N8443_REPLAY_KEY_LEN];
    char hex[65];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(key); i++)
        key[i] = (unsigned char)(i * 8 + 7);
    memset(hex, 'X', sizeof(hex));
    n8443_replay_key_hex(key, hex);
    assert_string_equal(hex,
                        "070f171f272f373f474f575f676f777f"
                        "878f979fa7afb7bfc7cfd7dfe7eff7ff");
    assert_int_equal(hex[64], '\0');
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_rewrapped_token_same_key),
        cmocka_unit_test(test_different_authenticators_differ),
        cmocka_unit_test(test_refuses_without_authenticator),
        cmocka_unit_test(test_hex),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
