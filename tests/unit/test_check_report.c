/*
 * Unit tests for the records of `n8443ctl check` (tools/n8443ctl/
 * report.c): JSON string escaping, --only parsing and filtering, text
 * and JSON built from the same records, and the exit status.  The checks
 * themselves run against a real KDC in
 * tests/integration/test_n8443ctl_check.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"

/* S as a JSON string, NUL-terminated, in a static buffer. */
static const char *json_of(const char *s)
{
    static char text[1024];
    struct n8443_buf out;

    n8443_buf_init(&out);
    n8443_json_string(&out, s);
    assert_false(out.failed);
    assert_true(out.len < sizeof(text));
    memcpy(text, out.data, out.len);
    text[out.len] = '\0';
    n8443_buf_free(&out);
    return text;
}

static void test_json_escapes_syntax(void **state)
{
    (void)state;
    assert_string_equal(json_of(""), "\"\"");
    assert_string_equal(json_of("plain"), "\"plain\"");
    assert_string_equal(json_of("say \"hi\""), "\"say \\\"hi\\\"\"");
    assert_string_equal(json_of("C:\\keytab"), "\"C:\\\\keytab\"");
    assert_string_equal(json_of("a/b"), "\"a/b\"");
}

static void test_json_escapes_controls(void **state)
{
    (void)state;
    assert_string_equal(json_of("l1\nl2\r\t\b\f"), "\"l1\\nl2\\r\\t\\b\\f\"");
    assert_string_equal(json_of("\x01\x1f\x7f"), "\"\\u0001\\u001f\\u007f\"");
    /* An escape sequence from a hostile file name stays text. */
    assert_string_equal(json_of("\x1b[31mred"), "\"\\u001b[31mred\"");
}

static void test_json_keeps_valid_utf8(void **state)
{
    (void)state;
    /* 2, 3 and 4 byte sequences, and the largest code point. */
    assert_string_equal(json_of("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
    assert_string_equal(json_of("\xe2\x82\xac"), "\"\xe2\x82\xac\"");
    assert_string_equal(json_of("\xf0\x9f\x94\x91"), "\"\xf0\x9f\x94\x91\"");
    assert_string_equal(json_of("\xf4\x8f\xbf\xbf"), "\"\xf4\x8f\xbf\xbf\"");
}

static void test_json_replaces_invalid_utf8(void **state)
{
    (void)state;
    /* A lone continuation byte and a byte never valid in UTF-8. */
    assert_string_equal(json_of("a\x80z"), "\"a\\ufffdz\"");
    assert_string_equal(json_of("\xff"), "\"\\ufffd\"");
    /* Overlong "/" (C0 AF), and an overlong 3-byte form. */
    assert_string_equal(json_of("\xc0\xaf"), "\"\\ufffd\\ufffd\"");
    assert_string_equal(json_of("\xe0\x80\xaf"), "\"\\ufffd\\ufffd\\ufffd\"");
    /* A UTF-16 surrogate (U+D800) and a code point above U+10FFFF. */
    assert_string_equal(json_of("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
    assert_string_equal(json_of("\xf4\x90\x80\x80"),
                        "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    /* Cut short by the end of the string: no read past the NUL. */
    assert_string_equal(json_of("x\xe2\x82"), "\"x\\ufffd\\ufffd\"");
    assert_string_equal(json_of("\xf0\x9f"), "\"\\ufffd\\ufffd\"");
}

static void test_only_ids_and_families(void **state)
{
    struct n8443_report rep;
    char err[256];

    (void)state;
    n8443_report_init(&rep);
    assert_int_equal(
        n8443_report_set_only(&rep, "keytab.spn,cert", err, sizeof(err)),
        N8443_OK);
    assert_true(n8443_report_wants(&rep, "keytab.spn"));
    assert_false(n8443_report_wants(&rep, "keytab.spn-port"));
    assert_false(n8443_report_wants(&rep, "keytab.file"));
    assert_true(n8443_report_wants(&rep, "cert.san"));
    assert_true(n8443_report_wants(&rep, "cert.channel-binding"));
    assert_false(n8443_report_wants(&rep, "dns.resolve"));
    assert_false(n8443_report_wants_online(&rep));
    /* What stops the run is never hidden. */
    assert_true(n8443_report_wants(&rep, "site.invalid"));
    assert_true(n8443_report_wants(&rep, "krb5.config"));

    assert_int_equal(n8443_report_set_only(&rep, "online.*", err, sizeof(err)),
                     N8443_OK);
    assert_true(n8443_report_wants(&rep, "online.kvno"));
    assert_false(n8443_report_wants(&rep, "cert.san"));
    assert_true(n8443_report_wants_online(&rep));
    assert_true(n8443_report_only_names_online(&rep));

    assert_int_equal(
        n8443_report_set_only(&rep, "dns,online.clock", err, sizeof(err)),
        N8443_OK);
    assert_true(n8443_report_only_names_online(&rep));
    assert_int_equal(n8443_report_set_only(&rep, "dns", err, sizeof(err)),
                     N8443_OK);
    assert_false(n8443_report_only_names_online(&rep));
    n8443_report_free(&rep);

    /* Without --only everything is wanted. */
    n8443_report_init(&rep);
    assert_true(n8443_report_wants(&rep, "online.replay"));
    assert_true(n8443_report_wants_online(&rep));
    assert_false(n8443_report_only_names_online(&rep));
    n8443_report_free(&rep);
}

static void expect_only_error(const char *list, const char *msg)
{
    struct n8443_report rep;
    char err[256];

    n8443_report_init(&rep);
    assert_int_equal(n8443_report_set_only(&rep, list, err, sizeof(err)),
                     N8443_USAGE);
    assert_string_equal(err, msg);
    /* A refused list leaves the filter as it was: none. */
    assert_int_equal(rep.nonly, 0);
    n8443_report_free(&rep);
}

static void test_only_refuses_unknown(void **state)
{
    (void)state;
    expect_only_error("keytab.spm",
                      "--only: unknown check 'keytab.spm' (did you mean "
                      "'keytab.spn'?)");
    expect_only_error("dsn", "--only: unknown check 'dsn' (did you mean "
                             "'dns'?)");
    expect_only_error("nothing.like.this",
                      "--only: unknown check 'nothing.like.this' "
                      "(n8443ctl(8) lists them)");
    /* A family needs its ".*" or nothing, not a half id. */
    expect_only_error("keytab.", "--only: unknown check 'keytab.' (did you "
                                 "mean 'keytab'?)");
    expect_only_error("", "--only needs at least one check id");
    expect_only_error("cert,,dns", "--only: empty check id in 'cert,,dns'");
    expect_only_error("cert,", "--only: empty check id in 'cert,'");
}

static void test_filtered_records_are_not_added(void **state)
{
    struct n8443_report rep;
    struct n8443_record *rec;
    char err[256];

    (void)state;
    n8443_report_init(&rep);
    assert_int_equal(n8443_report_set_only(&rep, "dns", err, sizeof(err)),
                     N8443_OK);
    rec = n8443_report_add(&rep, "keytab.spn", N8443_SEV_ERROR, "no key");
    assert_null(rec);
    /* Details of a filtered record are ignored, not a crash. */
    n8443_record_detail(&rep, rec, "name", "%s", "x");
    n8443_record_detail_num(&rep, rec, "kvno", 3);
    n8443_record_unusable(rec);
    rec = n8443_report_add(&rep, "dns.resolve", N8443_SEV_OK, "resolves");
    assert_non_null(rec);
    assert_int_equal(rep.n, 1);
    assert_string_equal(rep.records[0]->id, "dns.resolve");
    /* A filtered error does not fail the run. */
    assert_int_equal(n8443_report_exit_status(&rep, 1), N8443_OK);
    n8443_report_free(&rep);
}

/* A report with one record of each severity, in site "portal". */
static void three_records(struct n8443_report *rep)
{
    struct n8443_record *rec;

    n8443_report_init(rep);
    rep->site = "portal";
    rec =
        n8443_report_add(rep, "keytab.spn", N8443_SEV_OK,
                         "HTTP/%s@%s is in the keytab", "a.example", "EXAMPLE");
    n8443_record_detail(rep, rec, "name", "%s", "a.example");
    rec = n8443_report_add(rep, "cert.expiry", N8443_SEV_WARNING,
                           "expires in %d days", 12);
    n8443_record_detail_num(rep, rec, "days_left", 12);
    rec = n8443_report_add(rep, "keytab.permissions", N8443_SEV_ERROR,
                           "world-readable \"%s\"", "/k\\t");
    n8443_record_detail(rep, rec, "mode", "%s", "0644");
    rep->site = NULL;
}

static void test_json_document(void **state)
{
    struct n8443_report rep;
    struct n8443_buf out;

    (void)state;
    three_records(&rep);
    n8443_buf_init(&out);
    assert_int_equal(n8443_report_json(&rep, 0, &out), N8443_OK);
    n8443_buf_add(&out, "", 1);
    assert_string_equal(
        out.data,
        "{\n"
        "  \"version\": 1,\n"
        "  \"tool\": \"n8443ctl " PACKAGE_VERSION "\",\n"
        "  \"checks\": [\n"
        "    {\"id\": \"keytab.spn\", \"severity\": \"ok\", \"message\": "
        "\"HTTP/a.example@EXAMPLE is in the keytab\", \"details\": "
        "{\"site\": \"portal\", \"name\": \"a.example\"}},\n"
        "    {\"id\": \"cert.expiry\", \"severity\": \"warning\", "
        "\"message\": \"expires in 12 days\", \"details\": {\"site\": "
        "\"portal\", \"days_left\": 12}},\n"
        "    {\"id\": \"keytab.permissions\", \"severity\": \"error\", "
        "\"message\": \"world-readable \\\"/k\\\\t\\\"\", \"details\": "
        "{\"site\": \"portal\", \"mode\": \"0644\"}}\n"
        "  ],\n"
        "  \"summary\": {\"ok\": 1, \"warning\": 1, \"error\": 1, "
        "\"strict\": false, \"exit_status\": 1}\n"
        "}\n");
    n8443_buf_free(&out);
    n8443_report_free(&rep);
}

static void test_json_empty_report(void **state)
{
    struct n8443_report rep;
    struct n8443_buf out;

    (void)state;
    n8443_report_init(&rep);
    n8443_buf_init(&out);
    assert_int_equal(n8443_report_json(&rep, 1, &out), N8443_OK);
    n8443_buf_add(&out, "", 1);
    assert_string_equal(
        out.data,
        "{\n  \"version\": 1,\n  \"tool\": \"n8443ctl " PACKAGE_VERSION
        "\",\n  \"checks\": [],\n"
        "  \"summary\": {\"ok\": 0, \"warning\": 0, "
        "\"error\": 0, \"strict\": true, "
        "\"exit_status\": 0}\n}\n");
    n8443_buf_free(&out);
    n8443_report_free(&rep);
}

static void test_text_from_the_same_records(void **state)
{
    struct n8443_report rep;
    struct n8443_buf out;

    (void)state;
    three_records(&rep);
    n8443_buf_init(&out);
    assert_int_equal(n8443_report_text(&rep, 1, &out), N8443_OK);
    n8443_buf_add(&out, "", 1);
    assert_string_equal(
        out.data,
        "ok      keytab.spn              [portal] HTTP/a.example@EXAMPLE is "
        "in the keytab\n"
        "warning cert.expiry             [portal] expires in 12 days\n"
        "                               days_left: 12\n"
        "error   keytab.permissions      [portal] world-readable "
        "\"/k\\t\"\n"
        "                               mode: 0644\n"
        "1 ok, 1 warning, 1 error (--strict: warnings fail)\n");
    n8443_buf_free(&out);
    n8443_report_free(&rep);
}

static void test_exit_status(void **state)
{
    struct n8443_report rep;
    struct n8443_record *rec;

    (void)state;
    n8443_report_init(&rep);
    assert_int_equal(n8443_report_exit_status(&rep, 0), 0);
    n8443_report_add(&rep, "dns.resolve", N8443_SEV_OK, "ok");
    assert_int_equal(n8443_report_exit_status(&rep, 1), 0);
    n8443_report_add(&rep, "cert.expiry", N8443_SEV_WARNING, "soon");
    assert_int_equal(n8443_report_exit_status(&rep, 0), 0);
    assert_int_equal(n8443_report_exit_status(&rep, 1), 1);
    n8443_report_add(&rep, "keytab.spn", N8443_SEV_ERROR, "missing");
    assert_int_equal(n8443_report_exit_status(&rep, 0), 1);
    /* Could not read a file: the result is incomplete, exit 4. */
    rec = n8443_report_add(&rep, "cert.file", N8443_SEV_OK, "unreadable");
    n8443_record_unusable(rec);
    assert_int_equal(rec->severity, N8443_SEV_ERROR);
    assert_int_equal(n8443_report_exit_status(&rep, 0), N8443_IO);
    /* An invalid site file beats everything. */
    n8443_report_add(&rep, "site.invalid", N8443_SEV_ERROR, "bad");
    assert_int_equal(n8443_report_exit_status(&rep, 0), N8443_INVALID);
    n8443_report_free(&rep);
}

/* Every id is unique, belongs to a known family, and the online ones
 * are exactly the "online." family. */
static void test_id_table(void **state)
{
    static const char *const families[] = {"site.", "krb5.",   "keytab.",
                                           "cert.", "dns.",    "selinux.",
                                           "http.", "online.", NULL};
    size_t i;
    size_t j;

    (void)state;
    for (i = 0; n8443_check_ids[i].id != NULL; i++) {
        const char *id = n8443_check_ids[i].id;
        int family = 0;

        for (j = 0; families[j] != NULL; j++) {
            family |= strncmp(id, families[j], strlen(families[j])) == 0;
        }
        assert_true(family);
        assert_int_equal(n8443_check_ids[i].online,
                         strncmp(id, "online.", 7) == 0);
        for (j = 0; j < i; j++) {
            assert_string_not_equal(n8443_check_ids[j].id, id);
        }
    }
    assert_true(i >= 25);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_escapes_syntax),
        cmocka_unit_test(test_json_escapes_controls),
        cmocka_unit_test(test_json_keeps_valid_utf8),
        cmocka_unit_test(test_json_replaces_invalid_utf8),
        cmocka_unit_test(test_only_ids_and_families),
        cmocka_unit_test(test_only_refuses_unknown),
        cmocka_unit_test(test_filtered_records_are_not_added),
        cmocka_unit_test(test_json_document),
        cmocka_unit_test(test_json_empty_report),
        cmocka_unit_test(test_text_from_the_same_records),
        cmocka_unit_test(test_exit_status),
        cmocka_unit_test(test_id_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
