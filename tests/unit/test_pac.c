/*
 * test_pac.c - the PAC decoder (core/pac.c) on real PACs from Samba's AD
 * DC and on hostile variations of them.
 *
 * tests/unit/data/pac_{alice,bob,carol,dave,erin}.bin are whole PACs as MIT's
 * acceptor handed them out (name attribute "urn:mspac:") for users of the
 * AD.N8443.TEST domain that tests/integration/ad_realm.py provisions: the
 * integration test test_the_accepted_context_carries_a_pac saves them
 * with N8443_SAVE_PACS=DIR.  RIDs: alice 1102 (web-users 1108), bob 1103
 * (ops 1109, and web-admins 1110 through ops), carol 1104 (bulk-000 to
 * bulk-999: 1111 to 2110), dave 1105 (only Domain Users, 513), erin 2111
 * (primary group web-users 1108, and Domain Users 513).  Samba
 * adds the extra SID S-1-18-1 (authentication authority asserted
 * identity).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pac.h"
#include "fixture.h"

#define DOMAIN   "S-1-5-21-3638735613-577288692-2752473655"
#define MAX_SEEN 1100

typedef struct {
    int count[5];
    char sids[MAX_SEEN][N8443_SID_STRING_MAX];
    int n;
} seen;

static int collect(void *ctx, n8443_pac_sid_kind kind, const n8443_sid *sid,
                   uint32_t attributes)
{
    seen *s = ctx;

    (void)attributes;
    assert_true(kind <= N8443_PAC_SID_RESOURCE);
    s->count[kind]++;
    assert_true(s->n < MAX_SEEN);
    assert_true(n8443_sid_to_string(sid, s->sids[s->n], N8443_SID_STRING_MAX)
                > 0);
    s->n++;
    return 0;
}

static int has(const seen *s, const char *sid)
{
    int i;

    for (i = 0; i < s->n; i++) {
        if (strcmp(s->sids[i], sid) == 0)
            return 1;
    }
    return 0;
}

/* The logon info buffer of a fixture PAC. */
static void logon_info_of(const fixture *fx, const unsigned char **buf,
                          size_t *len)
{
    assert_int_equal(n8443_pac_find_buffer(fx->data, fx->len,
                                           N8443_PAC_LOGON_INFO, buf, len),
                     0);
    assert_true(*buf > fx->data && *buf + *len <= fx->data + fx->len);
}

static void decode_user(const char *file, seen *s, n8443_logon_info *li)
{
    fixture fx = fixture_load(file);
    const unsigned char *buf;
    size_t len;

    memset(s, 0, sizeof(*s));
    logon_info_of(&fx, &buf, &len);
    assert_int_equal(n8443_pac_logon_info(buf, len, li, collect, s), 0);
    fixture_free(&fx);
}

static void test_alice_plain_group(void **state)
{
    static seen s;
    n8443_logon_info li;
    char dom[N8443_SID_STRING_MAX];

    (void)state;
    decode_user("pac_alice.bin", &s, &li);
    assert_true(n8443_sid_to_string(&li.domain_sid, dom, sizeof(dom)) > 0);
    assert_string_equal(dom, DOMAIN);
    assert_int_equal(li.user_rid, 1102);
    assert_int_equal(li.primary_group_rid, 513);
    assert_int_equal(li.group_count, 2);
    assert_int_equal(li.extra_sid_count, 1);
    assert_true(li.user_flags & N8443_PAC_LOGON_EXTRA_SIDS);
    assert_string_equal(s.sids[0], DOMAIN "-1102");
    assert_int_equal(s.count[N8443_PAC_SID_USER], 1);
    assert_int_equal(s.count[N8443_PAC_SID_PRIMARY_GROUP], 1);
    assert_int_equal(s.count[N8443_PAC_SID_GROUP], 2);
    assert_int_equal(s.count[N8443_PAC_SID_EXTRA], 1);
    assert_true(has(&s, DOMAIN "-513"));
    assert_true(has(&s, DOMAIN "-1108"));
    assert_true(has(&s, "S-1-18-1"));
    assert_false(has(&s, DOMAIN "-1109"));
}

static void test_bob_nested_group(void **state)
{
    static seen s;
    n8443_logon_info li;

    (void)state;
    decode_user("pac_bob.bin", &s, &li);
    assert_int_equal(li.user_rid, 1103);
    assert_true(has(&s, DOMAIN "-1109")); /* ops */
    assert_true(has(&s, DOMAIN "-1110")); /* web-admins, via ops */
    assert_false(has(&s, DOMAIN "-1108"));
}

static void test_dave_primary_group_only(void **state)
{
    static seen s;
    n8443_logon_info li;

    (void)state;
    decode_user("pac_dave.bin", &s, &li);
    assert_int_equal(li.user_rid, 1105);
    assert_int_equal(li.group_count, 1);
    assert_int_equal(s.n, 4); /* user, 513 twice, 18-1 */
}

static void test_erin_primary_group(void **state)
{
    static seen s;
    n8443_logon_info li;

    (void)state;
    decode_user("pac_erin.bin", &s, &li);
    assert_int_equal(li.user_rid, 2111);
    assert_int_equal(li.primary_group_rid, 1108);
    assert_string_equal(s.sids[1], DOMAIN "-1108");
    assert_true(has(&s, DOMAIN "-513"));
}

static void test_carol_1000_groups(void **state)
{
    static seen s;
    n8443_logon_info li;

    (void)state;
    decode_user("pac_carol.bin", &s, &li);
    assert_int_equal(li.user_rid, 1104);
    assert_int_equal(li.group_count, 1001);
    assert_true(has(&s, DOMAIN "-1111"));
    assert_true(has(&s, DOMAIN "-2110"));
    assert_int_equal(s.count[N8443_PAC_SID_GROUP], 1001);
}

static int stop_at_third(void *ctx, n8443_pac_sid_kind kind,
                         const n8443_sid *sid, uint32_t attributes)
{
    int *n = ctx;

    (void)kind;
    (void)sid;
    (void)attributes;
    return ++*n == 3 ? 42 : 0;
}

static void test_callback_stops_the_walk(void **state)
{
    fixture fx = fixture_load("pac_carol.bin");
    const unsigned char *buf;
    size_t len;
    int n = 0;

    (void)state;
    logon_info_of(&fx, &buf, &len);
    assert_int_equal(n8443_pac_logon_info(buf, len, NULL, stop_at_third, &n),
                     42);
    assert_int_equal(n, 3);
    fixture_free(&fx);
}

static int never(void *ctx, n8443_pac_sid_kind kind, const n8443_sid *sid,
                 uint32_t attributes)
{
    (void)ctx;
    (void)kind;
    (void)sid;
    (void)attributes;
    fail_msg("callback called for a refused buffer");
    return 0;
}

/* Every truncation of the logon info is refused, and the callback never
 * sees a SID of a buffer that is refused.  Each copy is exact-size, so
 * AddressSanitizer sees a read past its end. */
static void test_truncations_refused(void **state)
{
    fixture fx = fixture_load("pac_bob.bin");
    const unsigned char *buf;
    size_t len, cut;

    (void)state;
    logon_info_of(&fx, &buf, &len);
    for (cut = 0; cut < len; cut++) {
        unsigned char *copy = malloc(cut ? cut : 1);

        assert_non_null(copy);
        memcpy(copy, buf, cut);
        /* The private header's length, when it still fits, must not
         * save a short buffer. */
        assert_int_not_equal(n8443_pac_logon_info(copy, cut, NULL, never, NULL),
                             0);
        free(copy);
    }
    for (cut = 0; cut < fx.len; cut++)
        assert_int_not_equal(n8443_pac_find_buffer(fx.data, cut,
                                                   N8443_PAC_LOGON_INFO, &buf,
                                                   &len),
                             0);
    fixture_free(&fx);
}

/* Flip every byte of the logon info to a few values: decoding either
 * succeeds or is refused, never reads out of bounds (ASan/valgrind). */
static void test_every_byte_mutated(void **state)
{
    static const unsigned char values[] = {0x00, 0x01, 0x0f, 0x10,
                                           0x7f, 0x80, 0xff};
    fixture fx = fixture_load("pac_alice.bin");
    const unsigned char *buf;
    size_t len, i, v;
    unsigned char *copy;
    static seen s;

    (void)state;
    logon_info_of(&fx, &buf, &len);
    copy = malloc(len);
    assert_non_null(copy);
    for (i = 0; i < len; i++) {
        for (v = 0; v < sizeof(values); v++) {
            memcpy(copy, buf, len);
            copy[i] = values[v];
            s.n = 0;
            (void)n8443_pac_logon_info(copy, len, NULL, collect, &s);
        }
    }
    free(copy);
    fixture_free(&fx);
}

/* --- hand-built logon infos for what Samba does not send --- */

typedef struct {
    unsigned char b[4096];
    size_t n;
} ndr;

static void put32(ndr *o, uint32_t v)
{
    assert_true(o->n + 4 <= sizeof(o->b));
    o->b[o->n++] = v & 0xff;
    o->b[o->n++] = v >> 8 & 0xff;
    o->b[o->n++] = v >> 16 & 0xff;
    o->b[o->n++] = v >> 24 & 0xff;
}

static void put_sid(ndr *o, uint8_t count, const uint32_t *sub)
{
    uint8_t i;

    put32(o, count);
    o->b[o->n++] = 1;
    o->b[o->n++] = count;
    memcpy(o->b + o->n, "\0\0\0\0\0\5", 6);
    o->n += 6;
    for (i = 0; i < count; i++)
        put32(o, sub[i]);
}

/* A KERB_VALIDATION_INFO with no strings, two groups, one extra SID (and
 * one NULL extra SID pointer) and resource groups; groups_max is the
 * conformance written for GroupIds (2 when honest). */
static size_t build(unsigned char *out, uint32_t groups_max, uint32_t res_count)
{
    static const uint32_t dom[4] = {21, 1, 2, 3};
    static const uint32_t res[4] = {21, 7, 8, 9};
    static const uint32_t extra[2] = {32, 544};
    ndr o;
    size_t i, len;

    memset(&o, 0, sizeof(o));
    o.n = 16;           /* headers, written below */
    put32(&o, 0x20000); /* top-level pointer */
    o.n += 48 + 48 + 4; /* times, NULL strings, counts */
    put32(&o, 1000);    /* UserId */
    put32(&o, 513);     /* PrimaryGroupId */
    put32(&o, 2);       /* GroupCount */
    put32(&o, 0x20004); /* GroupIds */
    put32(&o, N8443_PAC_LOGON_EXTRA_SIDS | N8443_PAC_LOGON_RESOURCE_GROUPS);
    o.n += 16 + 16;     /* session key, NULL strings */
    put32(&o, 0x20008); /* LogonDomainId */
    o.n += 40;
    put32(&o, 2);                       /* SidCount */
    put32(&o, 0x2000c);                 /* ExtraSids */
    put32(&o, 0x20010);                 /* ResourceGroupDomainSid */
    put32(&o, res_count);               /* ResourceGroupCount */
    put32(&o, res_count ? 0x20014 : 0); /* ResourceGroupIds */
    assert_int_equal(o.n, 16 + 4 + 216);
    put32(&o, groups_max);
    put32(&o, 1101);
    put32(&o, 7);
    put32(&o, 1102);
    put32(&o, 7);
    put_sid(&o, 4, dom);
    put32(&o, 2); /* ExtraSids array */
    put32(&o, 0x20018);
    put32(&o, 7);
    put32(&o, 0); /* a NULL SID pointer */
    put32(&o, 0);
    put_sid(&o, 2, extra);
    put_sid(&o, 4, res);
    if (res_count) {
        put32(&o, res_count);
        for (i = 0; i < res_count; i++) {
            put32(&o, 2000 + (uint32_t)i);
            put32(&o, 0x20000007);
        }
    }
    while (o.n % 8 != 0)
        o.b[o.n++] = 0;
    len = o.n;
    o.b[0] = 1;
    o.b[1] = 0x10;
    o.b[2] = 8;
    o.b[4] = o.b[5] = o.b[6] = o.b[7] = 0xcc;
    o.n = 8;
    put32(&o, (uint32_t)(len - 16));
    memcpy(out, o.b, len);
    return len;
}

static void test_extra_sids_and_resource_groups(void **state)
{
    static unsigned char buf[4096];
    static seen s;
    n8443_logon_info li;
    size_t len;
    char res[N8443_SID_STRING_MAX];

    (void)state;
    memset(&s, 0, sizeof(s));
    len = build(buf, 2, 3);
    assert_int_equal(n8443_pac_logon_info(buf, len, &li, collect, &s), 0);
    assert_int_equal(li.extra_sid_count, 1);
    assert_int_equal(li.resource_group_count, 3);
    assert_true(li.has_resource_domain);
    assert_true(n8443_sid_to_string(&li.resource_domain_sid, res, sizeof(res))
                > 0);
    assert_string_equal(res, "S-1-5-21-7-8-9");
    assert_string_equal(s.sids[0], "S-1-5-21-1-2-3-1000");
    assert_true(has(&s, "S-1-5-21-1-2-3-1101"));
    assert_true(has(&s, "S-1-5-21-1-2-3-1102"));
    assert_true(has(&s, "S-1-5-32-544"));
    assert_true(has(&s, "S-1-5-21-7-8-9-2000"));
    assert_true(has(&s, "S-1-5-21-7-8-9-2002"));
    assert_int_equal(s.count[N8443_PAC_SID_EXTRA], 1);
    assert_int_equal(s.count[N8443_PAC_SID_RESOURCE], 3);

    /* Conformance that disagrees with GroupCount is refused. */
    len = build(buf, 3, 3);
    assert_int_equal(n8443_pac_logon_info(buf, len, NULL, never, NULL), -1);
    /* A count far past the buffer: refused before any multiplication
     * could wrap. */
    len = build(buf, 0x20000000, 3);
    assert_int_equal(n8443_pac_logon_info(buf, len, NULL, never, NULL), -1);
}

/* Red team: MS-PAC 2.5 ties ExtraSids to the D bit of UserFlags
 * (LOGON_EXTRA_SIDS: "if SidCount is not zero then the D bit MUST be
 * set") and ResourceGroupDomainSid/ResourceGroupIds to the H bit
 * (LOGON_RESOURCE_GROUPS).  A logon info with the bits clear must not
 * grant its extra SIDs or resource groups: refused, or the SIDs left
 * out.  Today they are granted (here BUILTIN\Administrators). */
static void test_extra_sids_need_their_user_flag(void **state)
{
    static unsigned char buf[4096];
    static seen s;
    size_t len;
    int rc;

    (void)state;
    memset(&s, 0, sizeof(s));
    len = build(buf, 2, 3);
    /* UserFlags: headers, top pointer, 116 bytes of fixed fields. */
    memset(buf + 16 + 4 + 116, 0, 4);
    rc = n8443_pac_logon_info(buf, len, NULL, collect, &s);
    assert_true(rc != 0 || !has(&s, "S-1-5-32-544"));
    assert_true(rc != 0 || !has(&s, "S-1-5-21-7-8-9-2000"));
}

static void test_headers_refused(void **state)
{
    static unsigned char buf[4096];
    size_t len;

    (void)state;
    len = build(buf, 2, 0);
    assert_int_equal(n8443_pac_logon_info(buf, len, NULL, NULL, NULL), 0);
    buf[1] = 0x00; /* big-endian */
    assert_int_equal(n8443_pac_logon_info(buf, len, NULL, NULL, NULL), -1);
    len = build(buf, 2, 0);
    buf[8] = (unsigned char)(buf[8] + 8); /* object past the end */
    assert_int_equal(n8443_pac_logon_info(buf, len, NULL, NULL, NULL), -1);
    len = build(buf, 2, 0);
    memset(buf + 16, 0, 4); /* NULL top-level pointer */
    assert_int_equal(n8443_pac_logon_info(buf, len, NULL, NULL, NULL), -1);
    assert_int_equal(n8443_pac_logon_info(NULL, 0, NULL, NULL, NULL), -1);
}

static void test_pac_table(void **state)
{
    fixture fx = fixture_load("pac_alice.bin");
    const unsigned char *buf;
    size_t len;
    unsigned char *copy;

    (void)state;
    assert_int_equal(n8443_pac_find_buffer(fx.data, fx.len, 0x7777, &buf, &len),
                     1);
    assert_int_equal(n8443_pac_find_buffer(fx.data, fx.len,
                                           N8443_PAC_CLIENT_INFO, &buf, &len),
                     0);
    copy = malloc(fx.len);
    assert_non_null(copy);
    /* Two logon infos: which one counts?  Refused, as MIT does. */
    memcpy(copy, fx.data, fx.len);
    assert_true(copy[0] >= 2);
    memcpy(copy + 8 + 16, "\1\0\0\0", 4);
    assert_int_equal(
        n8443_pac_find_buffer(copy, fx.len, N8443_PAC_LOGON_INFO, &buf, &len),
        -1);
    /* An offset that is not 8-aligned, one inside the table, a 64-bit
     * offset, a version other than 0, no buffers. */
    memcpy(copy, fx.data, fx.len);
    copy[8 + 8] |= 4;
    assert_int_equal(n8443_pac_find_buffer(copy, fx.len, 0x7777, &buf, &len),
                     -1);
    memcpy(copy, fx.data, fx.len);
    memcpy(copy + 8 + 8, "\x08\0\0\0", 4);
    assert_int_equal(n8443_pac_find_buffer(copy, fx.len, 0x7777, &buf, &len),
                     -1);
    memcpy(copy, fx.data, fx.len);
    copy[8 + 12] = 1;
    assert_int_equal(n8443_pac_find_buffer(copy, fx.len, 0x7777, &buf, &len),
                     -1);
    memcpy(copy, fx.data, fx.len);
    copy[4] = 1;
    assert_int_equal(n8443_pac_find_buffer(copy, fx.len, 0x7777, &buf, &len),
                     -1);
    memcpy(copy, fx.data, fx.len);
    memset(copy, 0, 4);
    assert_int_equal(n8443_pac_find_buffer(copy, fx.len, 0x7777, &buf, &len),
                     -1);
    /* A buffer count whose table would not fit. */
    memcpy(copy, fx.data, fx.len);
    memcpy(copy, "\xff\xff\xff\x0f", 4);
    assert_int_equal(n8443_pac_find_buffer(copy, fx.len, 0x7777, &buf, &len),
                     -1);
    free(copy);
    fixture_free(&fx);
}

static void test_sid_to_string(void **state)
{
    n8443_sid sid;
    char out[N8443_SID_STRING_MAX];
    int i;

    (void)state;
    memset(&sid, 0, sizeof(sid));
    sid.revision = 1;
    sid.authority = 5;
    assert_int_equal(n8443_sid_to_string(&sid, out, sizeof(out)), 5);
    assert_string_equal(out, "S-1-5");
    sid.authority = 0x123456789abcULL;
    sid.count = N8443_SID_MAX_SUBAUTH;
    for (i = 0; i < N8443_SID_MAX_SUBAUTH; i++)
        sid.sub[i] = 4294967295u;
    assert_true(n8443_sid_to_string(&sid, out, sizeof(out)) > 0);
    assert_int_equal(strncmp(out, "S-1-0x123456789abc-4294967295", 29), 0);
    assert_int_equal(n8443_sid_to_string(&sid, out, 20), -1);
    assert_string_equal(out, "");
    assert_int_equal(n8443_sid_append_rid(&sid, 1, &sid), -1);
    sid.count = 16;
    assert_int_equal(n8443_sid_to_string(&sid, out, sizeof(out)), -1);
    sid.count = 1;
    sid.authority = 1ULL << 48;
    assert_int_equal(n8443_sid_to_string(&sid, out, sizeof(out)), -1);
    sid.authority = 5;
    sid.revision = 2;
    assert_int_equal(n8443_sid_to_string(&sid, out, sizeof(out)), -1);
}

static void test_sid_from_string(void **state)
{
    static const char *good[][2] = {
        {"S-1-5-21-1004336348-1177238915-682003330-512",
         "S-1-5-21-1004336348-1177238915-682003330-512"},
        {"s-1-5-32-544", "S-1-5-32-544"},
        {"S-1-0x000000000005-18", "S-1-5-18"},
        {"S-1-0x123456789ABC-1", "S-1-0x123456789abc-1"},
        {"S-1-18-1", "S-1-18-1"},
        {"S-1-5", "S-1-5"},
        {"S-1-1-0", "S-1-1-0"},
        {"S-1-5-4294967295", "S-1-5-4294967295"},
        {"S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15",
         "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15"},
    };
    static const char *bad[] = {
        "",
        "S",
        "S-",
        "S-1",
        "S-1-",
        "S-2-5-21",
        "S-1-5-",
        "S-1--5",
        "S-1-5-21-",
        "S-1-5--21",
        "S-1-5-4294967296",
        "S-1-281474976710656",
        "S-1-0x",
        "S-1-0x1000000000000-1",
        "S-1-5-+1",
        "S-1-5- 1",
        "S-1-5-1 ",
        "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16",
        "web-users",
        "S-1-5-1a",
        "S-1-5-0x10",
        "X-1-5-21",
    };
    char out[N8443_SID_STRING_MAX];
    n8443_sid sid;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(n8443_sid_from_string(good[i][0], &sid), 0);
        assert_true(n8443_sid_to_string(&sid, out, sizeof(out)) > 0);
        assert_string_equal(out, good[i][1]);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(n8443_sid_from_string(bad[i], &sid), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alice_plain_group),
        cmocka_unit_test(test_bob_nested_group),
        cmocka_unit_test(test_dave_primary_group_only),
        cmocka_unit_test(test_erin_primary_group),
        cmocka_unit_test(test_carol_1000_groups),
        cmocka_unit_test(test_callback_stops_the_walk),
        cmocka_unit_test(test_truncations_refused),
        cmocka_unit_test(test_every_byte_mutated),
        cmocka_unit_test(test_extra_sids_and_resource_groups),
        cmocka_unit_test(test_extra_sids_need_their_user_flag),
        cmocka_unit_test(test_headers_refused),
        cmocka_unit_test(test_pac_table),
        cmocka_unit_test(test_sid_to_string),
        cmocka_unit_test(test_sid_from_string),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
