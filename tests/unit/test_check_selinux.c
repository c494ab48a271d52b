/*
 * Unit tests for the SELinux decisions of `n8443ctl check`
 * (tools/n8443ctl/check_selinux.c), fed with outputs of the real tools
 * recorded on RHEL 9 (selinux-policy-targeted 38.1): `semanage port -l`,
 * `getsebool -a` and `ls -Z`.  The suite's Debian has SELinux off, so
 * this is where the decisions are tested.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"

/* semanage port -l | grep -E '^(http|memcache|kerberos)_' (RHEL 9) */
static const char semanage_port_l[] =
    "SELinux Port Type              Proto    Port Number\n"
    "\n"
    "http_cache_port_t              tcp      8080, 8118, 8123, "
    "10001-10010\n"
    "http_cache_port_t              udp      3130\n"
    "http_port_t                    tcp      80, 81, 443, 488, 8008, 8009, "
    "8443, 9000\n"
    "kerberos_port_t                tcp      88, 750, 4444\n"
    "kerberos_port_t                udp      88, 750, 4444\n"
    "memcache_port_t                tcp      11211\n"
    "memcache_port_t                udp      11211\n";

/* getsebool -a | grep -E '^httpd_can_network' (RHEL 9, memcache on) */
static const char getsebool_a[] = "httpd_can_network_connect --> off\n"
                                  "httpd_can_network_connect_cobbler --> off\n"
                                  "httpd_can_network_connect_db --> off\n"
                                  "httpd_can_network_memcache --> on\n"
                                  "httpd_can_network_relay --> off\n";

static void test_port_types(void **state)
{
    (void)state;
    assert_int_equal(
        n8443_se_port_has(semanage_port_l, "http_port_t", "tcp", 8443), 1);
    assert_int_equal(
        n8443_se_port_has(semanage_port_l, "http_port_t", "tcp", 443), 1);
    assert_int_equal(
        n8443_se_port_has(semanage_port_l, "http_port_t", "tcp", 9000), 1);
    /* 8444 is no http_port_t; 8080 is http_cache_port_t, not ours. */
    assert_int_equal(
        n8443_se_port_has(semanage_port_l, "http_port_t", "tcp", 8444), 0);
    assert_int_equal(
        n8443_se_port_has(semanage_port_l, "http_port_t", "tcp", 8080), 0);
    /* A range, and the other protocol's line. */
    assert_int_equal(
        n8443_se_port_has(semanage_port_l, "http_cache_port_t", "tcp", 10005),
        1);
    assert_int_equal(
        n8443_se_port_has(semanage_port_l, "http_cache_port_t", "tcp", 3130),
        0);
    assert_int_equal(
        n8443_se_port_has(semanage_port_l, "http_cache_port_t", "udp", 3130),
        1);
    /* A type the output does not list: cannot tell. */
    assert_int_equal(
        n8443_se_port_has(semanage_port_l, "redis_port_t", "tcp", 6379), -1);
    /* A prefix of a type is not the type. */
    assert_int_equal(n8443_se_port_has(semanage_port_l, "http_port", "tcp", 80),
                     -1);
    assert_int_equal(n8443_se_port_has("", "http_port_t", "tcp", 80), -1);
}

static void test_booleans(void **state)
{
    (void)state;
    assert_int_equal(
        n8443_se_getsebool(getsebool_a, "httpd_can_network_memcache"), 1);
    assert_int_equal(
        n8443_se_getsebool(getsebool_a, "httpd_can_network_connect"), 0);
    /* httpd_can_network_connect must not match its _db sibling. */
    assert_int_equal(n8443_se_getsebool("httpd_can_network_connect_db --> "
                                        "on\n",
                                        "httpd_can_network_connect"),
                     -1);
    assert_int_equal(n8443_se_getsebool(getsebool_a, "httpd_use_nfs"), -1);
    /* getsebool NAME prints the one line, without a newline at the end
     * when captured by some shells. */
    assert_int_equal(n8443_se_getsebool("httpd_can_network_memcache --> off",
                                        "httpd_can_network_memcache"),
                     0);
}

static const char *type_of(const char *context)
{
    static char type[64];

    if (n8443_se_context_type(context, type, sizeof(type)) != 0) {
        return NULL;
    }
    return type;
}

static void test_contexts(void **state)
{
    (void)state;
    /* ls -Z /etc/httpd/conf/http.keytab, a keytab copied from /root,
     * /run/httpd, a directory made with mkdir under /var/lib. */
    assert_string_equal(type_of("system_u:object_r:httpd_keytab_t:s0"),
                        "httpd_keytab_t");
    assert_string_equal(type_of("unconfined_u:object_r:admin_home_t:s0"),
                        "admin_home_t");
    assert_string_equal(type_of("system_u:object_r:httpd_var_run_t:s0"),
                        "httpd_var_run_t");
    assert_string_equal(type_of("system_u:object_r:var_lib_t:s0-s0:c0.c1023"),
                        "var_lib_t");
    /* No level (a policy without MLS). */
    assert_string_equal(type_of("system_u:object_r:krb5_keytab_t"),
                        "krb5_keytab_t");
    assert_null(type_of("system_u:object_r"));
    assert_null(type_of("garbage"));
    assert_null(type_of("a:b::s0"));
}

static void test_verdicts(void **state)
{
    (void)state;
    assert_int_equal(n8443_se_keytab_verdict("httpd_keytab_t"), N8443_SE_OK);
    assert_int_equal(n8443_se_keytab_verdict("krb5_keytab_t"), N8443_SE_OK);
    assert_int_equal(n8443_se_keytab_verdict("httpd_config_t"), N8443_SE_OK);
    assert_int_equal(n8443_se_keytab_verdict("httpd_sys_content_t"),
                     N8443_SE_EXPOSED);
    assert_int_equal(n8443_se_keytab_verdict("admin_home_t"), N8443_SE_DENIED);
    assert_int_equal(n8443_se_keytab_verdict("user_home_t"), N8443_SE_DENIED);
    assert_int_equal(n8443_se_keytab_verdict("unlabeled_t"), N8443_SE_DENIED);
    assert_int_equal(n8443_se_writable_verdict("httpd_var_run_t"), N8443_SE_OK);
    assert_int_equal(n8443_se_writable_verdict("httpd_sys_rw_content_t"),
                     N8443_SE_OK);
    assert_int_equal(n8443_se_writable_verdict("var_lib_t"), N8443_SE_DENIED);
    assert_int_equal(n8443_se_writable_verdict("httpd_sys_content_t"),
                     N8443_SE_DENIED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_types),
        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_contexts),
        cmocka_unit_test(test_verdicts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
