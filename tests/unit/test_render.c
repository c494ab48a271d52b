/*
 * Unit tests for n8443ctl's renderer and unified diff
 * (tools/n8443ctl/render.c, udiff.c): structure of the output, placement
 * of instance-wide and per-vhost directives, purity, and exact diff text.
 * The golden files in tests/n8443ctl/golden pin whole outputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "site.h"

/* Render TEXT (a valid site file) into a NUL-terminated string. */
static char *render(const char *text)
{
    struct n8443_config *cfg = NULL;
    struct n8443_diags diags;
    struct n8443_buf out;

    assert_int_equal(n8443_site_load_buffer(text, strlen(text), &diags, &cfg),
                     N8443_OK);
    n8443_buf_init(&out);
    assert_int_equal(n8443_render(cfg, &out), N8443_OK);
    n8443_config_free(cfg);
    return out.data;
}

static size_t count(const char *haystack, const char *needle)
{
    size_t n = 0;
    const char *p = haystack;

    while ((p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    return n;
}

static const char *at(const char *haystack, const char *needle)
{
    const char *p = strstr(haystack, needle);

    if (p == NULL) {
        print_error("missing: %s\n", needle);
    }
    assert_non_null(p);
    return p;
}

#define TWO_SITES                                                              \
    "version: 1\n"                                                             \
    "defaults:\n"                                                              \
    "  tls: {certificate: /c.pem, key: /k.pem}\n"                              \
    "  kerberos: {clock_skew: 90}\n"                                           \
    "sites:\n"                                                                 \
    "  - name: b\n"                                                            \
    "    server_name: b.example.com\n"                                         \
    "    listen: 9443\n"                                                       \
    "  - name: a\n"                                                            \
    "    server_name: a.example.com\n"                                         \
    "  - name: c\n"                                                            \
    "    server_name: c.example.com\n"                                         \
    "    listen: 9443\n"

static void test_listen_once_per_port_in_order(void **state)
{
    char *out = render(TWO_SITES);

    (void)state;
    assert_int_equal(count(out, "Listen "), 2);
    assert_true(at(out, "Listen 8443 https\n")
                < at(out, "Listen 9443 https\n"));
    assert_int_equal(count(out, "<VirtualHost *:9443>"), 2);
    assert_int_equal(count(out, "<VirtualHost *:8443>"), 1);
    /* Sites keep the file's order. */
    assert_true(at(out, "ServerName b.example.com")
                < at(out, "ServerName a.example.com"));
    free(out);
}

static void test_clock_skew_once_outside_vhosts(void **state)
{
    char *out = render(TWO_SITES);

    (void)state;
    assert_int_equal(count(out, "NegotiateClockSkew"), 1);
    assert_true(at(out, "\nNegotiateClockSkew 90\n") < at(out, "<VirtualHost"));
    free(out);
}

/* The header line limit: per port, the largest token's (the port's
 * first vhost rules in httpd), in every vhost of that port; another port
 * keeps its own. */
static void test_field_size_per_port(void **state)
{
    char *out = render("version: 1\n"
                       "defaults:\n"
                       "  tls: {certificate: /c.pem, key: /k.pem}\n"
                       "sites:\n"
                       "  - name: a\n"
                       "    server_name: a.example.com\n"
                       "    kerberos: {max_token_size: 4096}\n"
                       "  - name: b\n"
                       "    server_name: b.example.com\n"
                       "    kerberos: {max_token_size: 98304}\n"
                       "  - name: c\n"
                       "    server_name: c.example.com\n"
                       "    listen: 9443\n"
                       "    kerberos: {max_token_size: 4096}\n");

    (void)state;
    /* 4/3 * 98304 + "Authorization: Negotiate " + 256, in KiB */
    assert_int_equal(count(out, "    LimitRequestFieldSize 132096\n"), 2);
    assert_int_equal(count(out, "    LimitRequestFieldSize 6144\n"), 1);
    assert_true(at(out, "ServerName c.example.com")
                < at(out, "LimitRequestFieldSize 6144"));
    assert_int_equal(count(out, "NegotiateMaxTokenSize 4096\n"), 2);
    assert_int_equal(n8443_field_size_for_token(65536), 88064);
    assert_int_equal(n8443_field_size_for_token(48000), 64512);
    /* Nothing about the 401 page without help: */
    assert_int_equal(count(out, "ErrorDocument"), 0);
    assert_int_equal(count(out, "include_module"), 0);
    free(out);
}

/* help: the page's directives, and its location after every other one
 * (it must win over "/" that needs a login). */
static void test_help_page(void **state)
{
    char *out = render("version: 1\n"
                       "sites:\n"
                       "  - name: a\n"
                       "    server_name: a.example.com\n"
                       "    tls: {certificate: /c.pem, key: /k.pem}\n"
                       "    help: {contact: Desk, pages: /srv/p}\n");

    (void)state;
    at(out, "<IfModule !include_module>");
    at(out, "    SetEnv N8443_HELP_CONTACT \"Desk\"\n");
    assert_int_equal(count(out, "N8443_HELP_URL"), 0);
    /* The page file alone, not its directory. */
    at(out, "    Alias \"/negotiate8443-error/401.shtml\" "
            "\"/srv/p/401.shtml\"\n");
    assert_int_equal(count(out, "Alias \"/negotiate8443-error/\""), 0);
    at(out, "    ErrorDocument 401 /negotiate8443-error/401.shtml\n");
    assert_true(at(out, "<Location \"/\">")
                < at(out, "<Location \"/negotiate8443-error/\">"));
    at(out, "        AuthType None\n");
    at(out, "        Require expr \"%{REQUEST_URI} == "
            "'/negotiate8443-error/401.shtml'\"\n");
    assert_int_equal(count(out, "Require all granted"), 0);
    at(out, "        Options -Indexes +IncludesNOEXEC\n");
    /* No mod_proxy without a proxied location. */
    assert_int_equal(count(out, "ProxyPass"), 0);
    free(out);
}

/* A proxied "/": neither the page nor the counters inherit its
 * ProxyPass; a site location under the page's path comes after the
 * page's Location (it keeps its login), all others before. */
static void test_help_page_proxied_root(void **state)
{
    char *out = render("version: 1\n"
                       "sites:\n"
                       "  - name: a\n"
                       "    server_name: a.example.com\n"
                       "    tls: {certificate: /c.pem, key: /k.pem}\n"
                       "    help: {contact: Desk, pages: /srv/p}\n"
                       "    locations:\n"
                       "      - path: /negotiate8443-error/admin/\n"
                       "        proxy: http://127.0.0.1:8080/admin/\n"
                       "      - path: /\n"
                       "        proxy: http://127.0.0.1:8080/\n"
                       "      - path: /negotiate8443-status/x/\n"
                       "      - path: /a/path/longer/than/the/admin/one/\n");
    const char *root, *status, *page, *admin, *status_x, *longer;

    (void)state;
    root = at(out, "<Location \"/\">");
    status = at(out, "<Location \"/negotiate8443-status\">");
    page = at(out, "<Location \"/negotiate8443-error/\">");
    admin = at(out, "<Location \"/negotiate8443-error/admin/\">");
    status_x = at(out, "<Location \"/negotiate8443-status/x/\">");
    longer = at(out, "<Location \"/a/path/longer/than/the/admin/one/\">");
    assert_true(root < status && status < page && page < admin);
    /* Under the counters' path: before them (Require local wins). */
    assert_true(status_x < status && longer < status);
    assert_true(strstr(status, "        ProxyPass \"!\"\n") < page);
    assert_true(strstr(page, "        ProxyPass \"!\"\n") < admin);
    assert_int_equal(count(out, "ProxyPass \"!\""), 2);
    free(out);
}

static void test_render_is_pure(void **state)
{
    char *a = render(TWO_SITES);
    char *b = render(TWO_SITES);
    unsigned char md[32];
    char hex[65];
    size_t i;

    (void)state;
    assert_string_equal(a, b);
    assert_int_equal(n8443_sha256(TWO_SITES, strlen(TWO_SITES), md), N8443_OK);
    for (i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    at(a, hex);
    assert_true(strncmp(a, "# Generated by n8443ctl " PACKAGE_VERSION ".",
                        strlen("# Generated by n8443ctl " PACKAGE_VERSION "."))
                == 0);
    free(a);
    free(b);
}

static void test_locations_general_first(void **state)
{
    char *out = render("version: 1\nsites:\n  - name: a\n"
                       "    server_name: a.example.com\n"
                       "    tls: {certificate: /c, key: /k}\n"
                       "    locations:\n"
                       "      - path: /api/v2\n"
                       "      - path: /\n"
                       "      - path: /api\n");

    (void)state;
    /* httpd merges <Location> in file order, the later winning. */
    assert_true(at(out, "<Location \"/\">") < at(out, "<Location \"/api\">"));
    assert_true(at(out, "<Location \"/api\">")
                < at(out, "<Location \"/api/v2\">"));
    free(out);
}

static void test_proxy_user_header(void **state)
{
    char *out = render("version: 1\nsites:\n  - name: a\n"
                       "    server_name: a.example.com\n"
                       "    tls: {certificate: /c, key: /k}\n"
                       "    locations:\n"
                       "      - path: /x/\n"
                       "        proxy: http://127.0.0.1:1/\n"
                       "        user_header: A-B_C\n"
                       "      - path: /y/\n"
                       "        proxy: http://127.0.0.1:2/\n"
                       "        user_header: a-b_c\n");
    const char *vhost_unset;

    (void)state;
    /* Every '-'/'_' spelling, once for both locations, early, at vhost
     * level (httpd never runs "early" inside <Location>). */
    assert_int_equal(count(out, " early\n"), 4);
    vhost_unset = at(out, "    RequestHeader unset A-B-C early\n");
    at(out, "    RequestHeader unset A_B-C early\n");
    at(out, "    RequestHeader unset A-B_C early\n");
    at(out, "    RequestHeader unset A_B_C early\n");
    assert_true(vhost_unset < at(out, "<Location"));
    /* Then set from REMOTE_USER after the login, credentials dropped. */
    at(out, "        RequestHeader set A-B_C \"expr=%{REMOTE_USER}\"\n"
            "        RequestHeader unset Authorization\n");
    at(out, "        RequestHeader set a-b_c \"expr=%{REMOTE_USER}\"\n");
    at(out, "<IfModule !proxy_http_module>");
    at(out, "<IfModule !headers_module>");
    free(out);
}

static void test_gssproxy_has_no_keytab(void **state)
{
    char *out = render("version: 1\n"
                       "defaults: {kerberos: {keytab: /etc/http.keytab}}\n"
                       "sites:\n  - name: a\n"
                       "    server_name: a.example.com\n"
                       "    tls: {certificate: /c, key: /k}\n"
                       "    kerberos: {gssproxy: true}\n"
                       "  - name: b\n"
                       "    server_name: b.example.com\n"
                       "    tls: {certificate: /c, key: /k}\n");

    (void)state;
    assert_int_equal(count(out, "NegotiateKeytab"), 1);
    assert_true(at(out, "ServerName b.example.com")
                < at(out, "NegotiateKeytab \"/etc/http.keytab\""));
    free(out);
}

static void test_profiles(void **state)
{
    char *out = render("version: 1\nsites:\n"
                       "  - {name: s, server_name: s.example, tls: "
                       "{certificate: /c, key: /k, profile: system}}\n"
                       "  - {name: i, server_name: i.example, tls: "
                       "{certificate: /c, key: /k, profile: intermediate,"
                       " hsts: true}}\n"
                       "  - {name: m, server_name: m.example, tls: "
                       "{certificate: /c, key: /k, profile: modern}}\n");

    (void)state;
    assert_int_equal(count(out, "SSLProtocol"), 2);
    at(out, "SSLProtocol -all +TLSv1.2 +TLSv1.3\n"
            "    SSLCipherSuite ECDHE-ECDSA-AES128-GCM-SHA256:"
            "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
            "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
            "ECDHE-RSA-CHACHA20-POLY1305\n"
            "    SSLHonorCipherOrder off\n"
            "    SSLSessionTickets off\n");
    at(out, "SSLProtocol -all +TLSv1.3\n");
    assert_int_equal(count(out, "Strict-Transport-Security"), 1);
    assert_true(at(out, "ServerName s.example") < at(out, "SSLProtocol"));
    free(out);
}

/* ------------------------------------------------------------- diff */

static char *diff(const char *a, const char *b, int *differs)
{
    struct n8443_buf out;

    n8443_buf_init(&out);
    assert_int_equal(n8443_diff_unified(a, strlen(a), b, strlen(b), "old",
                                        "new", &out, differs),
                     N8443_OK);
    n8443_buf_add(&out, "", 0);
    return out.data;
}

static void test_diff_exact(void **state)
{
    int differs = -1;
    char *out;

    (void)state;
    out = diff("a\nb\nc\n", "a\nb\nc\n", &differs);
    assert_int_equal(differs, 0);
    assert_string_equal(out ? out : "", "");
    free(out);

    out = diff("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n",
               "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n", &differs);
    assert_int_equal(differs, 1);
    assert_string_equal(out, "--- old\n+++ new\n"
                             "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n"
                             " 6\n 7\n 8\n");
    free(out);

    /* Changes 7 lines apart get two hunks; 6 apart, one. */
    out = diff("a\n1\n2\n3\n4\n5\n6\n7\nb\n", "A\n1\n2\n3\n4\n5\n6\n7\nB\n",
               &differs);
    assert_string_equal(out, "--- old\n+++ new\n"
                             "@@ -1,4 +1,4 @@\n-a\n+A\n 1\n 2\n 3\n"
                             "@@ -6,4 +6,4 @@\n 5\n 6\n 7\n-b\n+B\n");
    free(out);
    out =
        diff("a\n1\n2\n3\n4\n5\n6\nb\n", "A\n1\n2\n3\n4\n5\n6\nB\n", &differs);
    assert_string_equal(out, "--- old\n+++ new\n"
                             "@@ -1,8 +1,8 @@\n-a\n+A\n 1\n 2\n 3\n 4\n"
                             " 5\n 6\n-b\n+B\n");
    free(out);
}

static void test_diff_edges(void **state)
{
    int differs = -1;
    char *out;

    (void)state;
    out = diff("", "x\ny\n", &differs);
    assert_string_equal(out, "--- old\n+++ new\n@@ -0,0 +1,2 @@\n+x\n+y\n");
    free(out);
    out = diff("x\n", "", &differs);
    assert_string_equal(out, "--- old\n+++ new\n@@ -1 +0,0 @@\n-x\n");
    free(out);
    out = diff("x\ny", "x\ny\n", &differs);
    assert_string_equal(out, "--- old\n+++ new\n@@ -1,2 +1,2 @@\n x\n-y\n"
                             "\\ No newline at end of file\n+y\n");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_once_per_port_in_order),
        cmocka_unit_test(test_clock_skew_once_outside_vhosts),
        cmocka_unit_test(test_render_is_pure),
        cmocka_unit_test(test_field_size_per_port),
        cmocka_unit_test(test_help_page),
        cmocka_unit_test(test_help_page_proxied_root),
        cmocka_unit_test(test_locations_general_first),
        cmocka_unit_test(test_proxy_user_header),
        cmocka_unit_test(test_gssproxy_has_no_keytab),
        cmocka_unit_test(test_profiles),
        cmocka_unit_test(test_diff_exact),
        cmocka_unit_test(test_diff_edges),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
