/*
 * test_krb5_accept.c - the fast path (core/krb5_accept.c) on AP-REQs
 * recorded from a real MIT realm (tests/unit/data/make-fixtures --accept):
 * the service keytab, a keytab with another key under the same name and
 * kvno, and tokens made by python-gssapi.  The krb5 context's clock is
 * pinned to the time they were made (accept_time), so the tickets stay
 * valid here; no KDC, no replay cache.
 *
 * What it accepts (SPNEGO and raw krb5, with and without mutual
 * authentication, bound to the right channel) it reports as GSS-API
 * would: the client, the flags, the lifetime with the skew's grace, an
 * answer in the token's own framing.  Everything else it leaves to
 * GSS-API (DEFER, *res zeroed): a wrong key, another service principal,
 * an expired or future ticket, other channel bindings, delegation, a
 * changed byte of the authenticator.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5/krb5.h>

#include "krb5_accept.h"
#include "token_walk.h"
#include "fixture.h"

#define SKEW   300
#define CLIENT "alice@TEST.N8443"
#define SERVER "HTTP/localhost@TEST.N8443"

static krb5_timestamp made; /* when the fixtures were recorded */

typedef struct {
    krb5_context ctx;
    krb5_keytab kt;
    krb5_principal server; /* NULL: any key */
} keys;

/* A context whose clock reads MADE + OFFSET, and the keytab NAME. */
static void keys_open(keys *k, const char *keytab, long offset,
                      const char *server)
{
    char name[1024];

    memset(k, 0, sizeof(*k));
    assert_int_equal(krb5_init_context(&k->ctx), 0);
    assert_int_equal(krb5_set_real_time(k->ctx, made + offset, 0), 0);
    snprintf(name, sizeof(name), "FILE:%s/%s", N8443_TEST_DATA, keytab);
    assert_int_equal(krb5_kt_resolve(k->ctx, name, &k->kt), 0);
    if (server != NULL)
        assert_int_equal(krb5_parse_name(k->ctx, server, &k->server), 0);
}

static void keys_close(keys *k)
{
    if (k->server != NULL)
        krb5_free_principal(k->ctx, k->server);
    krb5_kt_close(k->ctx, k->kt);
    krb5_free_context(k->ctx);
}

/* The fast path on fixture NAME (or on its bytes changed by the caller,
 * when TOK is not NULL). */
static n8443_kacc_status accept_with(const keys *k, const char *name,
                                     const fixture *tok,
                                     gss_channel_bindings_t cb,
                                     n8443_accept_result *res)
{
    fixture fx = tok != NULL ? *tok : fixture_load(name);
    n8443_apreq_info info;
    n8443_kacc_status st;

    assert_int_equal(n8443_token_walk(fx.data, fx.len, &info), N8443_TOK_KRB5);
    st = n8443_krb5_accept(k->ctx, k->kt, k->server, &info, cb, SKEW, res);
    if (tok == NULL)
        fixture_free(&fx);
    return st;
}

static void assert_deferred(const n8443_accept_result *res)
{
    static const n8443_accept_result zero;

    /* DEFER leaves nothing behind for GSS-API's turn. */
    assert_memory_equal(res, &zero, sizeof(zero));
}

/* The channel bindings the cb fixture was made with, or others. */
static struct gss_channel_bindings_struct cb_of(unsigned char *data, int other)
{
    static const char prefix[] = "tls-server-end-point:";
    struct gss_channel_bindings_struct cb;
    size_t i;

    memcpy(data, prefix, sizeof(prefix) - 1);
    for (i = 0; i < 32; i++)
        data[sizeof(prefix) - 1 + i] = (unsigned char)(i ^ (other ? 1 : 0));
    memset(&cb, 0, sizeof(cb));
    cb.initiator_addrtype = GSS_C_AF_UNSPEC;
    cb.acceptor_addrtype = GSS_C_AF_UNSPEC;
    cb.application_data.value = data;
    cb.application_data.length = sizeof(prefix) - 1 + 32;
    return cb;
}

static void test_spnego_mutual_accepted(void **state)
{
    n8443_accept_result res;
    keys k;

    (void)state;
    keys_open(&k, "accept_http.keytab", 60, SERVER);
    assert_int_equal(accept_with(&k, "accept_spnego.bin", NULL, NULL, &res),
                     N8443_KACC_ACCEPTED);
    assert_string_equal(res.principal, CLIENT);
    assert_true(res.ret_flags & GSS_C_MUTUAL_FLAG);
    assert_false(res.ret_flags & GSS_C_CHANNEL_BOUND_FLAG);
    assert_false(res.ret_flags & GSS_C_DELEG_FLAG);
    assert_true(res.delegated == GSS_C_NO_CREDENTIAL);
    /* SPNEGO's answer: a NegTokenResp [1] carrying the AP-REP. */
    assert_true(res.output.length > 16);
    assert_int_equal(((unsigned char *)res.output.value)[0], 0xa1);
    /* MIT's lifetime: the ticket's end - now + the skew; the ticket is
     * good for hours, and the clock reads made + 60. */
    assert_true(res.lifetime > 3600 + SKEW);
    assert_true(res.lifetime <= 7 * 86400 + SKEW);
    n8443_accept_result_clear(&res);

    /* Any key in the keytab (server NULL) takes it too. */
    keys_close(&k);
    keys_open(&k, "accept_http.keytab", 60, NULL);
    assert_int_equal(accept_with(&k, "accept_spnego.bin", NULL, NULL, &res),
                     N8443_KACC_ACCEPTED);
    assert_string_equal(res.principal, CLIENT);
    n8443_accept_result_clear(&res);
    keys_close(&k);
}

/* The lifetime counts down with the clock, by the same seconds (both
 * clocks within the skew of the authenticator's time). */
static void test_lifetime_follows_the_clock(void **state)
{
    n8443_accept_result a, b;
    keys k1, k2;

    (void)state;
    keys_open(&k1, "accept_http.keytab", -100, SERVER);
    keys_open(&k2, "accept_http.keytab", 200, SERVER);
    assert_int_equal(accept_with(&k1, "accept_raw.bin", NULL, NULL, &a),
                     N8443_KACC_ACCEPTED);
    assert_int_equal(accept_with(&k2, "accept_raw.bin", NULL, NULL, &b),
                     N8443_KACC_ACCEPTED);
    assert_int_equal(a.lifetime - b.lifetime, 300);
    n8443_accept_result_clear(&a);
    n8443_accept_result_clear(&b);
    keys_close(&k1);
    keys_close(&k2);
}

static void test_raw_krb5_answers_raw(void **state)
{
    n8443_accept_result res;
    keys k;

    (void)state;
    keys_open(&k, "accept_http.keytab", 60, SERVER);
    assert_int_equal(accept_with(&k, "accept_raw.bin", NULL, NULL, &res),
                     N8443_KACC_ACCEPTED);
    assert_string_equal(res.principal, CLIENT);
    assert_true(res.ret_flags & GSS_C_MUTUAL_FLAG);
    /* The bare krb5 token: [APPLICATION 0] with the AP-REP (TOK_ID 02 00)
     * after the krb5 OID. */
    assert_true(res.output.length > 17);
    assert_int_equal(((unsigned char *)res.output.value)[0], 0x60);
    n8443_accept_result_clear(&res);

    /* Without mutual authentication: accepted, nothing to answer. */
    assert_int_equal(accept_with(&k, "accept_nomutual.bin", NULL, NULL, &res),
                     N8443_KACC_ACCEPTED);
    assert_string_equal(res.principal, CLIENT);
    assert_false(res.ret_flags & GSS_C_MUTUAL_FLAG);
    assert_int_equal(res.output.length, 0);
    n8443_accept_result_clear(&res);
    keys_close(&k);
}

static void test_channel_bindings(void **state)
{
    unsigned char right_data[64], wrong_data[64];
    struct gss_channel_bindings_struct right = cb_of(right_data, 0);
    struct gss_channel_bindings_struct wrong = cb_of(wrong_data, 1);
    n8443_accept_result res;
    keys k;

    (void)state;
    keys_open(&k, "accept_http.keytab", 60, SERVER);
    assert_int_equal(accept_with(&k, "accept_cb.bin", NULL, &right, &res),
                     N8443_KACC_ACCEPTED);
    assert_true(res.ret_flags & GSS_C_CHANNEL_BOUND_FLAG);
    n8443_accept_result_clear(&res);

    assert_int_equal(accept_with(&k, "accept_cb.bin", NULL, &wrong, &res),
                     N8443_KACC_DEFER);
    assert_deferred(&res);

    /* A token without bindings on a bound channel: accepted, not bound
     * (NegotiateChannelBinding require refuses that later, in login.c). */
    assert_int_equal(accept_with(&k, "accept_spnego.bin", NULL, &right, &res),
                     N8443_KACC_ACCEPTED);
    assert_false(res.ret_flags & GSS_C_CHANNEL_BOUND_FLAG);
    n8443_accept_result_clear(&res);
    keys_close(&k);
}

/* Keys that cannot decrypt the ticket: GSS-API's turn (and its words). */
static void test_wrong_key_or_principal_defers(void **state)
{
    n8443_accept_result res;
    keys k;

    (void)state;
    keys_open(&k, "accept_wrong.keytab", 60, SERVER);
    assert_int_equal(accept_with(&k, "accept_spnego.bin", NULL, NULL, &res),
                     N8443_KACC_DEFER);
    assert_deferred(&res);
    keys_close(&k);

    keys_open(&k, "accept_http.keytab", 60, "HTTP/other@TEST.N8443");
    assert_int_equal(accept_with(&k, "accept_spnego.bin", NULL, NULL, &res),
                     N8443_KACC_DEFER);
    assert_deferred(&res);
    keys_close(&k);
}

/* A clock the ticket's times (or the authenticator's, within the skew)
 * do not fit. */
static void test_clock_defers(void **state)
{
    static const long offsets[] = {-(SKEW + 60), 8 * 86400};
    n8443_accept_result res;
    keys k;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
        keys_open(&k, "accept_http.keytab", offsets[i], SERVER);
        assert_int_equal(accept_with(&k, "accept_spnego.bin", NULL, NULL, &res),
                         N8443_KACC_DEFER);
        assert_deferred(&res);
        keys_close(&k);
    }
    /* Within the skew before the authenticator's time: still accepted. */
    keys_open(&k, "accept_http.keytab", -(SKEW - 60), SERVER);
    assert_int_equal(accept_with(&k, "accept_spnego.bin", NULL, NULL, &res),
                     N8443_KACC_ACCEPTED);
    n8443_accept_result_clear(&res);
    keys_close(&k);
}

/* Delegated credentials are GSS-API's to store. */
static void test_delegation_defers(void **state)
{
    n8443_accept_result res;
    keys k;

    (void)state;
    keys_open(&k, "accept_http.keytab", 60, SERVER);
    assert_int_equal(accept_with(&k, "accept_deleg.bin", NULL, NULL, &res),
                     N8443_KACC_DEFER);
    assert_deferred(&res);
    keys_close(&k);
}

/* One changed byte in the authenticator's cipher text, anywhere: the
 * checksum fails and GSS-API gets it. */
static void test_changed_authenticator_defers(void **state)
{
    fixture fx = fixture_load("accept_raw.bin");
    n8443_apreq_info info;
    n8443_accept_result res;
    size_t off, start, step;
    keys k;

    (void)state;
    assert_int_equal(n8443_token_walk(fx.data, fx.len, &info), N8443_TOK_KRB5);
    start = (size_t)(info.authenticator.data - fx.data);
    step = info.authenticator.len / 7 + 1;
    keys_open(&k, "accept_http.keytab", 60, SERVER);
    for (off = start; off < start + info.authenticator.len; off += step) {
        fx.data[off] ^= 0x01;
        assert_int_equal(accept_with(&k, NULL, &fx, NULL, &res),
                         N8443_KACC_DEFER);
        assert_deferred(&res);
        fx.data[off] ^= 0x01;
    }
    /* And back as recorded: accepted. */
    assert_int_equal(accept_with(&k, NULL, &fx, NULL, &res),
                     N8443_KACC_ACCEPTED);
    n8443_accept_result_clear(&res);
    keys_close(&k);
    fixture_free(&fx);
}

/* The authenticator's time (issue 16's watermark): the fast path reports
 * it, n8443_krb5_stamp reads the same after GSS-API; 0 without the keys. */
static void test_authenticator_stamp(void **state)
{
    static const char *const names[] = {"accept_spnego.bin", "accept_raw.bin",
                                        "accept_deleg.bin"};
    n8443_accept_result res;
    n8443_apreq_info info;
    long long stamp;
    fixture fx;
    keys k, wrong;
    size_t i;

    (void)state;
    keys_open(&k, "accept_http.keytab", 60, SERVER);
    keys_open(&wrong, "accept_wrong.keytab", 60, SERVER);
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        fx = fixture_load(names[i]);
        assert_int_equal(n8443_token_walk(fx.data, fx.len, &info),
                         N8443_TOK_KRB5);
        stamp = n8443_krb5_stamp(k.ctx, k.kt, k.server, &info);
        /* Recorded within a few seconds before accept_time was written;
         * microseconds in [0, 1e6). */
        assert_true(stamp / 1000000 >= (long long)made - 60);
        assert_true(stamp / 1000000 <= (long long)made);
        assert_true(stamp % 1000000 >= 0);
        assert_int_equal(
            n8443_krb5_stamp(wrong.ctx, wrong.kt, wrong.server, &info), 0);
        assert_int_equal(n8443_krb5_stamp(NULL, k.kt, k.server, &info), 0);
        if (i < 2) {
            /* The fast path's own answer carries the same time. */
            assert_int_equal(n8443_krb5_accept(k.ctx, k.kt, k.server, &info,
                                               NULL, SKEW, &res),
                             N8443_KACC_ACCEPTED);
            assert_true(res.stamp == stamp);
            n8443_accept_result_clear(&res);
        }
        fixture_free(&fx);
    }
    keys_close(&k);
    keys_close(&wrong);
}

static int setup(void **state)
{
    char path[1024];
    FILE *f;
    long t = 0;

    (void)state;
    /* Nothing from the host's krb5.conf: the keytab and tokens say it
     * all. */
    setenv("KRB5_CONFIG", "/dev/null", 1);
    snprintf(path, sizeof(path), "%s/accept_time", N8443_TEST_DATA);
    f = fopen(path, "r");
    if (f == NULL || fscanf(f, "%ld", &t) != 1 || t <= 0) {
        if (f != NULL)
            fclose(f);
        return -1;
    }
    fclose(f);
    made = (krb5_timestamp)t;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spnego_mutual_accepted),
        cmocka_unit_test(test_lifetime_follows_the_clock),
        cmocka_unit_test(test_raw_krb5_answers_raw),
        cmocka_unit_test(test_channel_bindings),
        cmocka_unit_test(test_wrong_key_or_principal_defers),
        cmocka_unit_test(test_clock_defers),
        cmocka_unit_test(test_delegation_defers),
        cmocka_unit_test(test_changed_authenticator_defers),
        cmocka_unit_test(test_authenticator_stamp),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
