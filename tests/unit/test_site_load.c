/*
 * Unit tests for the n8443ctl site file loader (tools/n8443ctl/site_*.c):
 * values and their positions, defaults merging, typing rules, and the
 * exact diagnostics for a few mistakes.  tests/n8443ctl/run-tests covers
 * the full list of bad files through the command line.
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

static struct n8443_config *load_ok(const char *text)
{
    struct n8443_config *cfg = NULL;
    struct n8443_diags diags;
    int rc;

    rc = n8443_site_load_buffer(text, strlen(text), &diags, &cfg);
    if (rc != N8443_OK) {
        size_t i;

        for (i = 0; i < diags.n; i++) {
            print_error("%d:%d: %s\n", diags.items[i].line, diags.items[i].col,
                        diags.items[i].msg);
        }
    }
    assert_int_equal(rc, N8443_OK);
    assert_non_null(cfg);
    return cfg;
}

/* Load TEXT, expect it to be invalid, return its diagnostics. */
static void load_bad(const char *text, struct n8443_diags *diags)
{
    struct n8443_config *cfg = NULL;

    assert_int_equal(n8443_site_load_buffer(text, strlen(text), diags, &cfg),
                     N8443_INVALID);
    assert_null(cfg);
}

static void expect_diag(const struct n8443_diags *diags, size_t i, int line,
                        int col, const char *msg)
{
    assert_true(i < diags->n);
    assert_string_equal(diags->items[i].msg, msg);
    assert_int_equal(diags->items[i].line, line);
    assert_int_equal(diags->items[i].col, col);
}

#define SITE                                                                   \
    "version: 1\n"                                                             \
    "sites:\n"                                                                 \
    "  - name: portal\n"                                                       \
    "    server_name: portal.example.com\n"                                    \
    "    tls:\n"                                                               \
    "      certificate: /c.pem\n"                                              \
    "      key: /k.pem\n"

static void test_minimal_defaults(void **state)
{
    struct n8443_config *cfg = load_ok(SITE);
    const struct n8443_site *s;

    (void)state;
    assert_int_equal(cfg->version, 1);
    assert_int_equal(cfg->nsites, 1);
    s = &cfg->sites[0];
    assert_string_equal(s->name.v, "portal");
    assert_int_equal(s->name.pos.line, 3);
    assert_int_equal(s->name.pos.col, 11);
    assert_string_equal(s->server_name.v, "portal.example.com");
    assert_int_equal(s->server_name.pos.line, 4);
    assert_int_equal(s->server_name.pos.col, 18);
    /* Built-in defaults are values without a position. */
    assert_int_equal(s->listen.v, 8443);
    assert_false(s->listen.set);
    assert_int_equal(s->listen.pos.line, 0);
    assert_int_equal(s->tls.profile.v, N8443_PROFILE_SYSTEM);
    assert_string_equal(s->kerberos.service_principal.v, "any");
    assert_int_equal(s->kerberos.channel_binding.v, N8443_CB_OPTIONAL);
    assert_int_equal(s->kerberos.replay_cache.kind, N8443_RC_SHM);
    assert_string_equal(s->auth_name.v, "portal.example.com");
    assert_int_equal(cfg->clock_skew, 300);
    assert_int_equal(s->nlocations, 1);
    assert_string_equal(s->locations[0].path.v, "/");
    assert_false(s->locations[0].users.set);
    n8443_config_free(cfg);
}

static void test_defaults_merge_field_by_field(void **state)
{
    struct n8443_config *cfg = load_ok("version: 1\n"
                                       "defaults:\n"
                                       "  listen: 9443\n"
                                       "  tls:\n"
                                       "    profile: modern\n"
                                       "    key: /default.key\n"
                                       "  kerberos:\n"
                                       "    keytab: /etc/http.keytab\n"
                                       "    clock_skew: 120\n"
                                       "sites:\n"
                                       "  - name: a\n"
                                       "    server_name: a.example.com\n"
                                       "    tls:\n"
                                       "      certificate: /a.pem\n"
                                       "  - name: b\n"
                                       "    server_name: b.example.com\n"
                                       "    listen: 8443\n"
                                       "    tls:\n"
                                       "      certificate: /b.pem\n"
                                       "      profile: intermediate\n");
    const struct n8443_site *a;
    const struct n8443_site *b;

    (void)state;
    a = &cfg->sites[0];
    b = &cfg->sites[1];
    assert_int_equal(a->listen.v, 9443);
    assert_int_equal(a->listen.pos.line, 3); /* from defaults */
    assert_int_equal(b->listen.v, 8443);
    assert_int_equal(b->listen.pos.line, 17);
    assert_string_equal(a->tls.key.v, "/default.key");
    assert_string_equal(b->tls.key.v, "/default.key");
    assert_int_equal(a->tls.profile.v, N8443_PROFILE_MODERN);
    assert_int_equal(b->tls.profile.v, N8443_PROFILE_INTERMEDIATE);
    assert_string_equal(b->kerberos.keytab.v, "/etc/http.keytab");
    assert_int_equal(b->kerberos.keytab.pos.line, 8);
    assert_int_equal(cfg->clock_skew, 120);
    n8443_config_free(cfg);
}

static void test_replay_cache_forms(void **state)
{
    struct n8443_config *cfg = load_ok(
        SITE "    kerberos:\n"
             "      replay_cache: memcache://[::1]:11211,m2.example.com:11212\n"
             "  - name: other\n"
             "    server_name: other.example.com\n"
             "    tls: {certificate: /c.pem, key: /k.pem}\n"
             "    kerberos: {replay_cache: 'krb5:file2:/var/rc'}\n");

    (void)state;
    assert_int_equal(cfg->sites[0].kerberos.replay_cache.kind,
                     N8443_RC_MEMCACHE);
    assert_string_equal(cfg->sites[0].kerberos.replay_cache.arg,
                        "[::1]:11211,m2.example.com:11212");
    assert_int_equal(cfg->sites[1].kerberos.replay_cache.kind, N8443_RC_KRB5);
    assert_string_equal(cfg->sites[1].kerberos.replay_cache.arg,
                        "file2:/var/rc");
    n8443_config_free(cfg);
}

/* redis:// and redis-sentinel://: the directive's words, the `redis`
 * block merged field by field, the instance-wide file and margin. */
static void test_replay_cache_redis(void **state)
{
    struct n8443_config *cfg = load_ok(
        "version: 1\n"
        "defaults:\n"
        "  tls: {certificate: /c.pem, key: /k.pem}\n"
        "  kerberos:\n"
        "    redis: {timeout: 250, auth_file: /etc/redis.pw}\n"
        "    replay_cache_margin: 7\n"
        "sites:\n"
        "  - name: a\n"
        "    server_name: a.example.com\n"
        "    kerberos:\n"
        "      replay_cache: redis-sentinel://[::1]:26379,s2:26379/n8443.m\n"
        "      redis:\n"
        "        wait_replicas: 1\n"
        "        wait_timeout: 100\n"
        "      replay_cache_file: /var/lib/httpd/rc\n"
        "  - name: b\n"
        "    server_name: b.example.com\n"
        "    kerberos: {replay_cache: 'redis://10.0.0.7:6379,r2:6380'}\n"
        "  - name: c\n"
        "    server_name: c.example.com\n");
    const struct n8443_kerberos *a, *b, *c;

    (void)state;
    a = &cfg->sites[0].kerberos;
    b = &cfg->sites[1].kerberos;
    c = &cfg->sites[2].kerberos;
    assert_int_equal(a->replay_cache.kind, N8443_RC_REDIS);
    assert_string_equal(a->replay_cache.arg, "[::1]:26379,s2:26379");
    assert_string_equal(a->replay_cache.master, "n8443.m");
    assert_int_equal(a->redis.wait_replicas.v, 1);
    assert_int_equal(a->redis.wait_timeout.v, 100);
    assert_int_equal(a->redis.timeout.v, 250); /* from defaults */
    assert_int_equal(a->redis.timeout.pos.line, 5);
    assert_string_equal(a->redis.auth_file.v, "/etc/redis.pw");
    assert_false(a->redis.from_defaults);
    assert_int_equal(b->replay_cache.kind, N8443_RC_REDIS);
    assert_string_equal(b->replay_cache.arg, "10.0.0.7:6379,r2:6380");
    assert_null(b->replay_cache.master);
    assert_true(b->redis.from_defaults);
    assert_int_equal(b->redis.timeout.v, 250);
    /* A defaults block does not bind a site with another cache. */
    assert_int_equal(c->replay_cache.kind, N8443_RC_SHM);
    assert_string_equal(cfg->replay_cache_file, "/var/lib/httpd/rc");
    assert_int_equal(cfg->replay_cache_margin, 7);
    n8443_config_free(cfg);

    cfg = load_ok(SITE);
    assert_null(cfg->replay_cache_file);
    assert_int_equal(cfg->replay_cache_margin, -1);
    n8443_config_free(cfg);
}

static void test_replay_cache_redis_mistakes(void **state)
{
    struct n8443_diags diags;

    (void)state;
    load_bad(SITE "    kerberos:\n"
                  "      replay_cache: redis://r1:6379,::1:6379\n",
             &diags);
    assert_int_equal(diags.n, 1);
    expect_diag(&diags, 0, 9, 21,
                "'replay_cache' Redis server '::1:6379' must be HOST:PORT "
                "with a port from 1 to 65535 (an IPv6 address in brackets: "
                "[2001:db8::7]:6379)");

    load_bad(SITE "    kerberos:\n"
                  "      replay_cache: redis-sentinel://s1:26379/my master\n",
             &diags);
    assert_int_equal(diags.n, 1);
    assert_int_equal(diags.items[0].line, 9);

    load_bad(SITE "    kerberos:\n"
                  "      replay_cache: redis://r1:6379/mymaster\n",
             &diags);
    assert_int_equal(diags.n, 1);
    assert_non_null(strstr(diags.items[0].msg, "redis-sentinel://"));

    load_bad(SITE "    kerberos:\n"
                  "      replay_cache: memcache://m1:11211\n"
                  "      redis: {timeout: 100000, wait_timeout: 5}\n",
             &diags);
    assert_int_equal(diags.n, 3);
    expect_diag(&diags, 0, 10, 14,
                "'redis' sets up a replay_cache of redis:// or "
                "redis-sentinel://, but this site's replay_cache is "
                "memcache");
    expect_diag(&diags, 1, 10, 24,
                "'timeout' 100000 is out of range: it must be a number of "
                "milliseconds from 10 to 10000");
    expect_diag(&diags, 2, 10, 46,
                "'wait_timeout' needs 'wait_replicas' (how many replicas "
                "must acknowledge each entry)");

    load_bad(SITE "    kerberos: {replay_cache_margin: 5}\n"
                  "  - name: b\n    server_name: b.example.com\n"
                  "    tls: {certificate: /c, key: /k}\n"
                  "    kerberos: {replay_cache_margin: 0}\n",
             &diags);
    assert_int_equal(diags.n, 1);
    expect_diag(&diags, 0, 12, 37,
                "replay_cache_margin 0 differs from 5 at 8:37: the margin is "
                "instance-wide (NegotiateReplayCacheMargin), so all sites "
                "must agree");
}

static void test_typing(void **state)
{
    struct n8443_diags diags;
    struct n8443_config *cfg;

    (void)state;
    /* A plain number is fine text; "8443" in quotes is not a number. */
    cfg = load_ok("version: 1\nsites:\n  - name: 2024\n"
                  "    server_name: x.example.com\n"
                  "    tls: {certificate: /c, key: /k}\n");
    assert_string_equal(cfg->sites[0].name.v, "2024");
    n8443_config_free(cfg);

    load_bad(SITE "    listen: \"8443\"\n", &diags);
    assert_int_equal(diags.n, 1);
    expect_diag(&diags, 0, 8, 13,
                "'listen' must be a port number from 1 "
                "to 65535, got a quoted string '8443'");

    /* Leading zeros are neither octal nor decimal here. */
    load_bad(SITE "    listen: 08443\n", &diags);
    expect_diag(&diags, 0, 8, 13,
                "'listen' must be a port number from 1 "
                "to 65535, got '08443'");

    /* YAML 1.1 booleans are reported, not guessed. */
    load_bad(SITE "      hsts: on\n", &diags);
    expect_diag(&diags, 0, 8, 13, "'hsts' must be true or false, got 'on'");

    /* !!str makes a string of anything, so it is not a boolean. */
    load_bad(SITE "      hsts: !!str true\n", &diags);
    expect_diag(&diags, 0, 8, 13,
                "'hsts' must be true or false, got a "
                "quoted string 'true'");
}

static void test_unknown_key_suggestion(void **state)
{
    struct n8443_diags diags;

    (void)state;
    load_bad(SITE "    kerberos:\n      keytb: /k\n      Realm: X\n", &diags);
    assert_int_equal(diags.n, 2);
    expect_diag(&diags, 0, 9, 7,
                "unknown key 'keytb' (did you mean 'keytab'?)");
    expect_diag(&diags, 1, 10, 7,
                "unknown key 'Realm' (did you mean 'realm'?)");

    load_bad(SITE "    zzz: 1\n", &diags);
    expect_diag(&diags, 0, 8, 5, "unknown key 'zzz'");
}

static void test_duplicate_key_and_names(void **state)
{
    struct n8443_diags diags;

    (void)state;
    load_bad(SITE "    listen: 1\n    listen: 2\n", &diags);
    assert_int_equal(diags.n, 1);
    expect_diag(&diags, 0, 9, 5, "duplicate key 'listen' (first at 8:5)");

    /* Same name on another port is fine; on the same port it is not,
     * whatever the case. */
    load_bad(SITE "  - name: b\n    server_name: PORTAL.example.com\n"
                  "    tls: {certificate: /c, key: /k}\n",
             &diags);
    expect_diag(&diags, 0, 9, 18,
                "server name 'PORTAL.example.com' is "
                "already used on port 8443 by site 'portal' (4:18)");
    n8443_config_free(load_ok(SITE "  - name: b\n"
                                   "    server_name: portal.example.com\n"
                                   "    listen: 9443\n"
                                   "    tls: {certificate: /c, key: /k}\n"));
}

static void test_bad_value_not_also_missing(void **state)
{
    struct n8443_diags diags;

    (void)state;
    load_bad("version: 1\nsites:\n  - name: a\n"
             "    server_name: a.example.com\n"
             "    tls:\n      certificate: rel.pem\n      key: /k\n",
             &diags);
    assert_int_equal(diags.n, 1);
    expect_diag(&diags, 0, 6, 20,
                "'certificate' must be an absolute path, "
                "got 'rel.pem'");
}

static void test_control_characters_never_pass(void **state)
{
    struct n8443_diags diags;
    const char text[] = SITE "    auth_name: \"a\\u0000b\"\n";

    (void)state;
    load_bad(text, &diags);
    expect_diag(&diags, 0, 8, 16,
                "'auth_name' contains a control character "
                "(a line break would end the httpd directive)");
    /* A control character in a key is not echoed either. */
    load_bad(SITE "    \"a\\tb\": 1\n", &diags);
    expect_diag(&diags, 0, 8, 5, "unknown key 'a?b'");
}

/* Issue 23: values are rendered as literals, so nothing httpd would
 * interpret (an expression variable in Require/AuthName, a ${} when the
 * configuration is read, a regex back-reference) may pass, in any value,
 * and the message points at the value. */
static void test_httpd_expressions_never_pass(void **state)
{
    static const struct {
        const char *text;
        int line;
        int col;
        const char *msg;
    } cases[] = {
        {SITE "    auth_name: '%{file:/etc/shadow}'\n", 8, 16,
         "'auth_name' must not contain '%{': httpd would read it as an "
         "expression variable, not as text"},
        {SITE "    auth_name: \"Portal %{:reqenv('X'):}\"\n", 8, 16,
         "'auth_name' must not contain '%{': httpd would read it as an "
         "expression variable, not as text"},
        {SITE "    auth_name: 'Portal ${HOME}'\n", 8, 16,
         "'auth_name' must not contain '${': httpd would replace it with a "
         "variable when it reads the configuration"},
        {SITE "    locations:\n      - path: /a\n"
              "        require: {users: ['%{HTTP:X}']}\n",
         10, 27,
         "'users[0]' must not contain '%{': httpd would read it as an "
         "expression variable, not as text"},
        {SITE "    locations:\n      - path: /a\n"
              "        require: {users: [alice, 'bob$1']}\n",
         10, 34,
         "'users[1]' must not contain '$1': httpd would read it as a "
         "regular expression back-reference"},
        {SITE "    locations:\n      - path: /a\n"
              "        require: {groups: ['x%{REMOTE_USER}']}\n"
              "        group_file: /etc/g\n",
         10, 28,
         "'groups[0]' must not contain '%{': httpd would read it as an "
         "expression variable, not as text"},
        {SITE "    locations:\n      - path: /a\n"
              "        require: {groups: [admins]}\n"
              "        group_file: '/etc/${G}'\n",
         11, 21,
         "'group_file' must not contain '${': httpd would replace it with a "
         "variable when it reads the configuration"},
        {SITE "    kerberos: {keytab: '/etc/%{HTTP:K}.keytab'}\n", 8, 24,
         "'keytab' must not contain '%{': httpd would read it as an "
         "expression variable, not as text"},
        {SITE "    kerberos: {service_principal: 'HTTP/a.example@${R}'}\n", 8,
         35,
         "'service_principal' must not contain '${': httpd would replace it "
         "with a variable when it reads the configuration"},
        {SITE "    kerberos: {realm: '${REALM}'}\n", 8, 23,
         "'realm' must not contain '${': httpd would replace it with a "
         "variable when it reads the configuration"},
    };
    struct n8443_diags diags;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        load_bad(cases[i].text, &diags);
        assert_int_equal(diags.n, 1);
        expect_diag(&diags, 0, cases[i].line, cases[i].col, cases[i].msg);
    }
}

static void test_clock_skew_is_instance_wide(void **state)
{
    struct n8443_diags diags;
    struct n8443_config *cfg;

    (void)state;
    cfg = load_ok(SITE "    kerberos: {clock_skew: 600}\n"
                       "  - name: b\n    server_name: b.example.com\n"
                       "    tls: {certificate: /c, key: /k}\n");
    assert_int_equal(cfg->clock_skew, 600);
    n8443_config_free(cfg);

    load_bad(SITE "    kerberos: {clock_skew: 600}\n"
                  "  - name: b\n    server_name: b.example.com\n"
                  "    tls: {certificate: /c, key: /k}\n"
                  "    kerberos: {clock_skew: 60}\n",
             &diags);
    assert_int_equal(diags.n, 1);
    expect_diag(&diags, 0, 12, 28,
                "clock_skew 60 differs from 600 at 8:28: "
                "the clock skew is instance-wide (NegotiateClockSkew), so "
                "all sites must agree");
}

static void test_diagnostics_are_capped(void **state)
{
    struct n8443_diags diags;
    char text[8192];
    size_t used;
    int i;

    (void)state;
    used = (size_t)snprintf(text, sizeof(text), "version: 1\nsites:\n");
    for (i = 0; i < 30; i++) {
        used += (size_t)snprintf(text + used, sizeof(text) - used,
                                 "  - {name: s%d, server_name: s%d.example,"
                                 " listen: 0, tls: {certificate: /c, key: "
                                 "/k}}\n",
                                 i, i);
    }
    load_bad(text, &diags);
    assert_int_equal(diags.n, N8443_MAX_DIAGS);
    assert_true(diags.truncated);
    assert_int_equal(diags.items[19].line, 22);
}

static void test_syntax_error_position(void **state)
{
    struct n8443_diags diags;

    (void)state;
    load_bad("version: 1\nsites: [\n", &diags);
    assert_int_equal(diags.n, 1);
    assert_int_equal(diags.items[0].line, 3);
    assert_non_null(strstr(diags.items[0].msg, "YAML syntax error: "));

    load_bad("", &diags);
    expect_diag(&diags, 0, 1, 1, "the site file is empty");
}

/* behind: the balancer's addresses and certificate, with positions;
 * host names and out-of-range prefixes refused where they are. */
static void test_behind(void **state)
{
    struct n8443_config *cfg = load_ok(
        SITE "    behind:\n"
             "      proxy_addresses: [10.0.0.5, \"10.1.0.0/16\", \"::1\"]\n"
             "      certificate: /lb.pem\n");
    const struct n8443_behind *b = &cfg->sites[0].behind;
    struct n8443_diags diags;

    (void)state;
    assert_true(b->present);
    assert_int_equal(b->proxy_addresses.n, 3);
    assert_string_equal(b->proxy_addresses.v[1], "10.1.0.0/16");
    assert_int_equal(b->proxy_addresses.item_pos[1].line, 9);
    assert_string_equal(b->certificate.v, "/lb.pem");
    n8443_config_free(cfg);
    cfg = load_ok(SITE);
    assert_false(cfg->sites[0].behind.present);
    n8443_config_free(cfg);

    load_bad(SITE "    behind:\n"
                  "      proxy_addresses: [lb.example.com, 10.0.0.0/33]\n",
             &diags);
    assert_int_equal(diags.n, 2);
    expect_diag(&diags, 0, 9, 25,
                "'proxy_addresses[0]' must be an IP address or ADDRESS/BITS "
                "network (no host names: the module compares the "
                "connection's address), got 'lb.example.com'");
    assert_non_null(strstr(diags.items[1].msg, "got '10.0.0.0/33'"));
    load_bad(SITE "    behind:\n      certificate: /lb.pem\n", &diags);
    expect_diag(&diags, 0, 9, 7,
                "missing required key 'proxy_addresses' in 'behind' (the "
                "balancer's addresses)");
}

static void test_edit_distance(void **state)
{
    static const char *const names[] = {"keytab", "realm", "listen", NULL};

    (void)state;
    assert_int_equal(n8443_edit_distance("keytab", "keytab"), 0);
    assert_int_equal(n8443_edit_distance("keytb", "keytab"), 1);
    assert_int_equal(n8443_edit_distance("ketyab", "keytab"), 1);
    assert_int_equal(n8443_edit_distance("LISTEN", "listen"), 0);
    assert_int_equal(n8443_edit_distance("", "abc"), 3);
    assert_string_equal(n8443_suggest("lisen", names), "listen");
    assert_null(n8443_suggest("port", names));
    /* Short words need a close match: "ra" is not "realm". */
    assert_null(n8443_suggest("ra", names));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_defaults),
        cmocka_unit_test(test_defaults_merge_field_by_field),
        cmocka_unit_test(test_replay_cache_forms),
        cmocka_unit_test(test_replay_cache_redis),
        cmocka_unit_test(test_replay_cache_redis_mistakes),
        cmocka_unit_test(test_typing),
        cmocka_unit_test(test_unknown_key_suggestion),
        cmocka_unit_test(test_duplicate_key_and_names),
        cmocka_unit_test(test_bad_value_not_also_missing),
        cmocka_unit_test(test_control_characters_never_pass),
        cmocka_unit_test(test_httpd_expressions_never_pass),
        cmocka_unit_test(test_clock_skew_is_instance_wide),
        cmocka_unit_test(test_diagnostics_are_capped),
        cmocka_unit_test(test_syntax_error_position),
        cmocka_unit_test(test_edit_distance),
        cmocka_unit_test(test_behind),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
