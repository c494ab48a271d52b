/*
 * test_claims.c - core/claims.c's fast-path PAC check, on tickets built
 * here: a PAC with the logon info of a real Samba PAC (pac_alice.bin),
 * signed with a key of a memory keytab (krb5_pac_sign), in the ticket's
 * authorization data inside AD-IF-RELEVANT as AD puts it.  What MIT's
 * acceptor does with each (mspac_verify) is what n8443_claims_from_ticket
 * must report: verified; not verified (tampered, another key, another
 * client, another authtime); a PAC without logon info; no PAC.  And the
 * indicator list's filter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <krb5/krb5.h>

#include "claims.h"
#include "pac.h"
#include "fixture.h"

#define SERVER   "HTTP/web.example.test@EXAMPLE.TEST"
#define CLIENT   "alice@EXAMPLE.TEST"
#define AUTHTIME 1700000000

typedef struct {
    krb5_context ctx;
    krb5_keytab kt;
    krb5_keyblock key;   /* in kt, for SERVER */
    krb5_keyblock other; /* not in kt */
    krb5_principal server, client;
    unsigned char *logon; /* pac_alice.bin's logon info */
    size_t logon_len;
} env;

static int setup(void **state)
{
    env *e = calloc(1, sizeof(*e));
    krb5_keytab_entry ent;
    fixture fx = fixture_load("pac_alice.bin");
    const unsigned char *buf;
    size_t len;

    assert_int_equal(krb5_init_context(&e->ctx), 0);
    assert_int_equal(krb5_kt_resolve(e->ctx, "MEMORY:test_claims", &e->kt), 0);
    assert_int_equal(krb5_parse_name(e->ctx, SERVER, &e->server), 0);
    assert_int_equal(krb5_parse_name(e->ctx, CLIENT, &e->client), 0);
    assert_int_equal(krb5_c_make_random_key(
                         e->ctx, ENCTYPE_AES256_CTS_HMAC_SHA1_96, &e->key),
                     0);
    assert_int_equal(krb5_c_make_random_key(
                         e->ctx, ENCTYPE_AES256_CTS_HMAC_SHA1_96, &e->other),
                     0);
    memset(&ent, 0, sizeof(ent));
    ent.principal = e->server;
    ent.vno = 3;
    ent.key = e->key;
    assert_int_equal(krb5_kt_add_entry(e->ctx, e->kt, &ent), 0);
    assert_int_equal(n8443_pac_find_buffer(fx.data, fx.len,
                                           N8443_PAC_LOGON_INFO, &buf, &len),
                     0);
    e->logon = malloc(len);
    memcpy(e->logon, buf, len);
    e->logon_len = len;
    fixture_free(&fx);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;

    free(e->logon);
    krb5_free_keyblock_contents(e->ctx, &e->key);
    krb5_free_keyblock_contents(e->ctx, &e->other);
    krb5_free_principal(e->ctx, e->server);
    krb5_free_principal(e->ctx, e->client);
    krb5_kt_close(e->ctx, e->kt);
    krb5_free_context(e->ctx);
    free(e);
    return 0;
}

/* How the test's PAC differs from a good one. */
enum { GOOD, NO_LOGON_INFO, FLIP, OTHER_KEY, OTHER_CLIENT, OTHER_TIME };

/*
 * A decrypted ticket as krb5_rd_req leaves it: enc_part2 filled in, and
 * enc_part the encryption of something under the key that "decrypted"
 * it (claims.c finds that key by decrypting enc_part).  pac: -1 none.
 */
static krb5_ticket *make_ticket(env *e, int pac, int cammac)
{
    krb5_ticket *t = calloc(1, sizeof(*t));
    krb5_enc_tkt_part *p = calloc(1, sizeof(*p));
    krb5_authdata *ads[3] = {NULL, NULL, NULL}, ad_pac, ad_cammac;
    krb5_authdata **container = NULL;
    krb5_data plain, signed_pac = {0, 0, NULL};
    krb5_pac kp;
    krb5_principal signer = e->client;
    krb5_timestamp when = AUTHTIME;
    size_t clen;
    int n = 0;

    t->enc_part2 = p;
    assert_int_equal(krb5_copy_principal(e->ctx, e->server, &t->server), 0);
    assert_int_equal(krb5_copy_principal(e->ctx, e->client, &p->client), 0);
    p->times.authtime = AUTHTIME;
    plain.data = "the ticket";
    plain.length = 10;
    t->enc_part.enctype = ENCTYPE_AES256_CTS_HMAC_SHA1_96;
    t->enc_part.kvno = 3;
    assert_int_equal(
        krb5_c_encrypt_length(e->ctx, t->enc_part.enctype, 10, &clen), 0);
    t->enc_part.ciphertext.data = malloc(clen);
    t->enc_part.ciphertext.length = (unsigned int)clen;
    assert_int_equal(krb5_c_encrypt(e->ctx, &e->key,
                                    KRB5_KEYUSAGE_KDC_REP_TICKET, NULL, &plain,
                                    &t->enc_part),
                     0);
    if (pac >= 0) {
        krb5_data li;

        assert_int_equal(krb5_pac_init(e->ctx, &kp), 0);
        li.data = (char *)e->logon;
        li.length = (unsigned int)e->logon_len;
        if (pac != NO_LOGON_INFO)
            assert_int_equal(
                krb5_pac_add_buffer(e->ctx, kp, KRB5_PAC_LOGON_INFO, &li), 0);
        if (pac == OTHER_CLIENT)
            assert_int_equal(
                krb5_parse_name(e->ctx, "mallory@EXAMPLE.TEST", &signer), 0);
        if (pac == OTHER_TIME)
            when = AUTHTIME + 1;
        assert_int_equal(krb5_pac_sign(e->ctx, kp, when, signer,
                                       pac == OTHER_KEY ? &e->other : &e->key,
                                       &e->key, &signed_pac),
                         0);
        if (signer != e->client)
            krb5_free_principal(e->ctx, signer);
        krb5_pac_free(e->ctx, kp);
        if (pac == FLIP) /* a byte of the logon info, in the middle */
            signed_pac.data[signed_pac.length / 2] ^= 1;
        ad_pac.magic = KV5M_AUTHDATA;
        ad_pac.ad_type = KRB5_AUTHDATA_WIN2K_PAC;
        ad_pac.length = signed_pac.length;
        ad_pac.contents = (krb5_octet *)signed_pac.data;
        ads[n++] = &ad_pac;
    }
    if (cammac) {
        ad_cammac.magic = KV5M_AUTHDATA;
        ad_cammac.ad_type = KRB5_AUTHDATA_CAMMAC;
        ad_cammac.length = 2;
        ad_cammac.contents = (krb5_octet *)"\x30\x00";
        ads[n++] = &ad_cammac;
    }
    if (n > 0) {
        assert_int_equal(
            krb5_encode_authdata_container(e->ctx, KRB5_AUTHDATA_IF_RELEVANT,
                                           ads, &container),
            0);
        p->authorization_data = container;
    }
    krb5_free_data_contents(e->ctx, &signed_pac);
    return t;
}

static n8443_pac_state claims_of(env *e, int pac, n8443_ticket_claims *c)
{
    krb5_ticket *t = make_ticket(e, pac, 0);

    assert_int_equal(n8443_claims_from_ticket(e->ctx, e->kt, t, c), 0);
    krb5_free_ticket(e->ctx, t);
    return c->pac;
}

static void test_verified_pac(void **state)
{
    env *e = *state;
    n8443_ticket_claims c;

    assert_int_equal(claims_of(e, GOOD, &c), N8443_PAC_VERIFIED);
    assert_int_equal(c.logon_info_len, e->logon_len);
    assert_memory_equal(c.logon_info, e->logon, e->logon_len);
    assert_int_equal(
        n8443_pac_logon_info(c.logon_info, c.logon_info_len, NULL, NULL, NULL),
        0);
    n8443_claims_clear(&c);
}

static void test_unverified_pacs(void **state)
{
    static const int bad[] = {FLIP, OTHER_KEY, OTHER_CLIENT, OTHER_TIME};
    env *e = *state;
    n8443_ticket_claims c;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(claims_of(e, bad[i], &c), N8443_PAC_UNVERIFIED);
        assert_null(c.logon_info);
        assert_int_equal(c.logon_info_len, 0);
        n8443_claims_clear(&c);
    }
}

static void test_pac_without_logon_info(void **state)
{
    env *e = *state;
    n8443_ticket_claims c;

    assert_int_equal(claims_of(e, NO_LOGON_INFO, &c), N8443_PAC_NO_LOGON_INFO);
    assert_null(c.logon_info);
    n8443_claims_clear(&c);
}

static void test_no_pac(void **state)
{
    env *e = *state;
    n8443_ticket_claims c;
    krb5_ticket *t;

    assert_int_equal(claims_of(e, -1, &c), N8443_PAC_ABSENT);
    n8443_claims_clear(&c);
    t = make_ticket(e, -1, 0);
    assert_int_equal(n8443_ticket_has_cammac(e->ctx, t), 0);
    krb5_free_ticket(e->ctx, t);
    t = make_ticket(e, GOOD, 1);
    assert_int_equal(n8443_ticket_has_cammac(e->ctx, t), 1);
    krb5_free_ticket(e->ctx, t);
}

/* The key that decrypted the ticket is the one the PAC is checked with:
 * a keytab whose entry for the server holds another key verifies
 * nothing. */
static void test_ticket_of_another_key(void **state)
{
    env *e = *state;
    n8443_ticket_claims c;
    krb5_ticket *t = make_ticket(e, GOOD, 0);

    free(t->enc_part.ciphertext.data);
    t->enc_part.ciphertext.length = 64;
    t->enc_part.ciphertext.data = calloc(1, 64);
    assert_int_equal(n8443_claims_from_ticket(e->ctx, e->kt, t, &c), 0);
    assert_int_equal(c.pac, N8443_PAC_UNVERIFIED);
    n8443_claims_clear(&c);
    krb5_free_ticket(e->ctx, t);
}

static void test_indicator_list(void **state)
{
    char *list = NULL;
    char big[300];

    (void)state;
    assert_int_equal(n8443_claims_add_indicator(&list, "hardened", 8), 0);
    assert_int_equal(n8443_claims_add_indicator(&list, "two words", 9), 0);
    assert_int_equal(n8443_claims_add_indicator(&list, "cr\r", 3), 0);
    assert_int_equal(n8443_claims_add_indicator(&list, "", 0), 0);
    assert_int_equal(n8443_claims_add_indicator(&list, "nul\0x", 5), 0);
    memset(big, 'a', sizeof(big));
    assert_int_equal(n8443_claims_add_indicator(&list, big, sizeof(big)), 0);
    assert_int_equal(n8443_claims_add_indicator(&list, "pkinit", 6), 0);
    assert_string_equal(list, "hardened pkinit");
    free(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verified_pac),
        cmocka_unit_test(test_unverified_pacs),
        cmocka_unit_test(test_pac_without_logon_info),
        cmocka_unit_test(test_no_pac),
        cmocka_unit_test(test_ticket_of_another_key),
        cmocka_unit_test(test_indicator_list),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
