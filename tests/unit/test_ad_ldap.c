/*
 * Unit tests for the pure parts of tools/n8443ctl/ad_ldap.c: an objectSid
 * from the directory (bytes from the network) as "S-1-5-21-...", RFC 4515
 * escaping of a name put into a search filter, and the GSSAPI bind's
 * parts of our own: the SASL interact callback and the error messages.
 * (The bind itself runs against Samba's AD DC:
 * tests/integration/test_n8443ctl_ad_bind.py.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sasl/sasl.h>

#include "n8443ctl.h"
#include "ad_ldap.h"

/* S-1-5-21-550707866-2755856591-4189014057-1108, as AD stores it. */
static const unsigned char domain_sid[] = {
    1,    5,    0,    0,    0,    0,    0,    5,    21,   0,
    0,    0,    0x9a, 0x22, 0xd3, 0x20, 0xcf, 0x08, 0x43, 0xa4,
    0x29, 0x48, 0xaf, 0xf9, 0x54, 0x04, 0,    0};

static void test_sid_string(void **state)
{
    char buf[200];

    (void)state;
    assert_int_equal(
        n8443_sid_string(domain_sid, sizeof(domain_sid), buf, sizeof(buf)), 0);
    assert_string_equal(buf, "S-1-5-21-550707866-2755856591-4189014057-1108");
}

static void test_sid_well_known(void **state)
{
    /* S-1-5-32-544 (BUILTIN\Administrators). */
    static const unsigned char sid[] = {1,  2, 0, 0, 0,    0, 0, 5,
                                        32, 0, 0, 0, 0x20, 2, 0, 0};
    char buf[64];

    (void)state;
    assert_int_equal(n8443_sid_string(sid, sizeof(sid), buf, sizeof(buf)), 0);
    assert_string_equal(buf, "S-1-5-32-544");
}

static void test_sid_malformed(void **state)
{
    unsigned char sid[8 + 4 * 16];
    char buf[300];

    (void)state;
    memcpy(sid, domain_sid, sizeof(domain_sid));
    /* Shorter or longer than its count says. */
    assert_int_equal(
        n8443_sid_string(sid, sizeof(domain_sid) - 1, buf, sizeof(buf)), -1);
    assert_int_equal(
        n8443_sid_string(sid, sizeof(domain_sid) + 4, buf, sizeof(buf)), -1);
    assert_int_equal(n8443_sid_string(sid, 7, buf, sizeof(buf)), -1);
    /* Another revision. */
    sid[0] = 2;
    assert_int_equal(
        n8443_sid_string(sid, sizeof(domain_sid), buf, sizeof(buf)), -1);
    /* More than 15 sub-authorities. */
    memset(sid, 0, sizeof(sid));
    sid[0] = 1;
    sid[1] = 16;
    assert_int_equal(n8443_sid_string(sid, sizeof(sid), buf, sizeof(buf)), -1);
    /* A buffer too small: refused, never cut short. */
    assert_int_equal(n8443_sid_string(domain_sid, sizeof(domain_sid), buf, 20),
                     -1);
}

static void test_filter_escape(void **state)
{
    char buf[64];

    (void)state;
    assert_int_equal(n8443_ldap_escape("web-users", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "web-users");
    assert_int_equal(n8443_ldap_escape("a*)(x=\\", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "a\\2a\\29\\28x=\\5c");
    assert_int_equal(n8443_ldap_escape("a\x01", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "a\\01");
    assert_int_equal(n8443_ldap_escape("(((((", buf, 10), -1);
}

/* The authorization identity is left empty: the ticket's client binds. */
static void test_interact_authzid_empty(void **state)
{
    sasl_interact_t in[2];

    (void)state;
    memset(in, 0, sizeof(in));
    in[0].id = SASL_CB_USER;
    in[0].defresult = "someone-else";
    in[0].result = "x";
    in[0].len = 1;
    in[1].id = SASL_CB_LIST_END;
    assert_int_equal(n8443_sasl_interact(NULL, LDAP_SASL_QUIET, NULL, in),
                     LDAP_SUCCESS);
    assert_non_null(in[0].result);
    assert_string_equal(in[0].result, "");
    assert_int_equal(in[0].len, 0);
}

/* A password or any other prompt: nothing to answer, the bind fails. */
static void test_interact_refuses_other_prompts(void **state)
{
    static const unsigned long ids[] = {SASL_CB_PASS, SASL_CB_AUTHNAME,
                                        SASL_CB_GETREALM, SASL_CB_NOECHOPROMPT};
    sasl_interact_t in[3];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        memset(in, 0, sizeof(in));
        in[0].id = SASL_CB_USER;
        in[1].id = ids[i];
        in[2].id = SASL_CB_LIST_END;
        assert_int_equal(n8443_sasl_interact(NULL, LDAP_SASL_QUIET, NULL, in),
                         LDAP_OTHER);
        assert_null(in[1].result);
    }
}

static void test_bind_error_no_plugin(void **state)
{
    char err[300];

    (void)state;
    n8443_sasl_bind_error(LDAP_AUTH_UNKNOWN,
                          "SASL(-4): no mechanism available: No worthy "
                          "mechs found",
                          "dc1.example.com", 0, err, sizeof(err));
    assert_string_equal(err, "no SASL GSSAPI mechanism: install "
                             "libsasl2-modules-gssapi-mit / "
                             "cyrus-sasl-gssapi");
}

/* The plugin is there but no layer of 56 bits was agreed. */
static void test_bind_error_too_weak(void **state)
{
    char err[300];

    (void)state;
    n8443_sasl_bind_error(LDAP_AUTH_UNKNOWN, "SASL(-15): mechanism too weak",
                          "dc1.example.com", 1, err, sizeof(err));
    assert_non_null(strstr(err, "dc1.example.com agreed no security layer "
                                "of 56 bits or more"));
    assert_non_null(strstr(err, "- SASL(-15): mechanism too weak"));
    n8443_sasl_bind_error(LDAP_AUTH_UNKNOWN, NULL, "dc1", 1, err, sizeof(err));
    assert_null(strstr(err, " - "));
}

static void test_bind_error_kdc_and_server(void **state)
{
    char err[300];

    (void)state;
    n8443_sasl_bind_error(LDAP_LOCAL_ERROR,
                          "SASL(-1): generic failure: GSSAPI Error: "
                          "(Server not found in Kerberos database)",
                          "dc1", 1, err, sizeof(err));
    assert_non_null(strstr(err, "the KDC gave no ticket for ldap/dc1 - "));
    assert_non_null(strstr(err, "Server not found in Kerberos database"));
    n8443_sasl_bind_error(LDAP_INVALID_CREDENTIALS, "", "dc1", 1, err,
                          sizeof(err));
    assert_string_equal(err, "the GSSAPI bind to dc1 was refused: Invalid "
                             "credentials");
    n8443_sasl_bind_error(LDAP_STRONG_AUTH_REQUIRED, "Sign or Seal", "dc1", 1,
                          err, sizeof(err));
    assert_non_null(strstr(err, "refused: Strong(er) authentication required"
                                " - Sign or Seal"));
    n8443_sasl_bind_error(LDAP_SERVER_DOWN, NULL, "dc1", 1, err, sizeof(err));
    assert_string_equal(err, "the GSSAPI bind to dc1 failed: Can't contact "
                             "LDAP server");
    /* Cut to the buffer, never past it. */
    n8443_sasl_bind_error(LDAP_LOCAL_ERROR, "a long diagnostic", "dc1", 1, err,
                          10);
    assert_int_equal(strlen(err), 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sid_string),
        cmocka_unit_test(test_sid_well_known),
        cmocka_unit_test(test_sid_malformed),
        cmocka_unit_test(test_filter_escape),
        cmocka_unit_test(test_interact_authzid_empty),
        cmocka_unit_test(test_interact_refuses_other_prompts),
        cmocka_unit_test(test_bind_error_no_plugin),
        cmocka_unit_test(test_bind_error_too_weak),
        cmocka_unit_test(test_bind_error_kdc_and_server),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
