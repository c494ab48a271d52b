/*
 * Unit tests for the pure parts of tools/n8443ctl/ad_ldap.c: an objectSid
 * from the directory (bytes from the network) as "S-1-5-21-...", and
 * RFC 4515 escaping of a name put into a search filter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sid_string),
        cmocka_unit_test(test_sid_well_known),
        cmocka_unit_test(test_sid_malformed),
        cmocka_unit_test(test_filter_escape),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
