/*
 * test_login.c - core/login.c without a KDC: what the walker refuses
 * never reaches Kerberos (NTLM, other mechanisms, bytes that are not a
 * token), a Kerberos token the keys cannot check is refused with a cause
 * and advice and nothing else, and the control-byte rule for names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include "login.h"
#include "fixture.h"

/* Keys that check nothing: no credentials, no fast path, a keytab that
 * is not there. */
static const n8443_login_keys no_keys = {GSS_C_NO_CREDENTIAL,
                                         NULL,
                                         NULL,
                                         NULL,
                                         300,
                                         "FILE:/nonexistent/n8443-unit.keytab",
                                         NULL,
                                         NULL};

static n8443_verdict login_with(const char *name, n8443_login_result *res,
                                int mode)
{
    fixture fx = fixture_load(name);
    n8443_verdict v =
        n8443_login_accept(&no_keys, fx.data, fx.len, NULL, mode, res);

    fixture_free(&fx);
    return v;
}

static void test_ntlm_is_unusable(void **state)
{
    n8443_login_result res;

    (void)state;
    assert_int_equal(login_with("ntlm_negotiate.bin", &res, 0),
                     N8443_LOGIN_UNUSABLE);
    assert_int_equal(res.tok, N8443_TOK_NTLM);
    assert_int_equal(res.cause, N8443_CAUSE_NTLM);
    assert_null(res.principal);
    n8443_login_result_clear(&res);

    assert_int_equal(login_with("spnego_ntlm.bin", &res, 0),
                     N8443_LOGIN_UNUSABLE);
    assert_int_equal(res.cause, N8443_CAUSE_NTLM);
    n8443_login_result_clear(&res);
}

static void test_garbage_is_malformed(void **state)
{
    static const unsigned char junk[] = {0x60, 0x05, 0x01, 0x02, 0x03};
    n8443_login_result res;

    (void)state;
    assert_int_equal(n8443_login_accept(&no_keys, junk, sizeof(junk), NULL,
                                        N8443_LOGIN_FAST_PATH, &res),
                     N8443_LOGIN_MALFORMED);
    assert_int_equal(res.cause, N8443_CAUSE_MALFORMED);
    assert_int_equal(res.acc.output.length, 0);
    n8443_login_result_clear(&res);
}

/* A real Kerberos token, but no keys: refused with a cause and advice,
 * no principal, no output token; the fast path (no context) is not
 * taken. */
static void test_unchecked_token_is_refused(void **state)
{
    n8443_login_result res;
    n8443_verdict v;

    (void)state;
    v = login_with("spnego_init.bin", &res, N8443_LOGIN_FAST_PATH);
    assert_true(v == N8443_LOGIN_REFUSED || v == N8443_LOGIN_MALFORMED);
    assert_int_equal(res.tok, N8443_TOK_KRB5);
    assert_false(res.fast);
    assert_null(res.principal);
    assert_int_equal(res.acc.output.length, 0);
    if (v == N8443_LOGIN_REFUSED) {
        assert_non_null(res.advice);
        assert_int_not_equal(res.cause, N8443_CAUSE_NONE);
    }
    n8443_login_result_clear(&res);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(n8443_name_has_no_control("alice@TEST.N8443"));
    assert_true(n8443_name_has_no_control("j\xc3\xbcrgen@EXAMPLE.COM"));
    assert_false(n8443_name_has_no_control("alice\r\nX: y@TEST.N8443"));
    assert_false(n8443_name_has_no_control("a\x7f@R"));
    assert_false(n8443_name_has_no_control("a\xc2\x85@R")); /* NEL */
    assert_true(n8443_name_has_no_control("a\xc2\xa0@R"));  /* NBSP */
}

static void test_advice(void **state)
{
    (void)state;
    assert_non_null(n8443_login_advice(N8443_CAUSE_SKEW));
    assert_string_equal(n8443_login_advice(N8443_CAUSE_OTHER),
                        "Kerberos refused the token");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ntlm_is_unusable),
        cmocka_unit_test(test_garbage_is_malformed),
        cmocka_unit_test(test_unchecked_token_is_refused),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_advice),
    };

    setenv("KRB5_KTNAME", "FILE:/nonexistent/n8443-unit.keytab", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
