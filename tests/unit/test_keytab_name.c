/*
 * test_keytab_name.c - the one rule for "this keytab name is a file"
 * (core/keytab_name.c), which the module (watching and copying the
 * keytab) and n8443ctl (checking its owner and mode) share: each edge
 * case against the answer written down here, and against MIT krb5
 * itself (krb5_kt_resolve, then the type and name it resolved to), so
 * the rule cannot drift from what Kerberos does with the name.
 *
 * The names whose answer changed when the rule became one (the module
 * took only "FILE:", "WRFILE:" and absolute paths for files; n8443ctl
 * took a '/' before the first ':' for a file, and a drive letter for
 * none) are marked: krb5 agreed with neither.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <krb5/krb5.h>

#include "keytab_name.h"

typedef struct {
    const char *name;
    const char *file; /* NULL: not a file keytab */
} kt_case;

static const kt_case cases[] = {
    {"FILE:/etc/krb5.keytab", "/etc/krb5.keytab"},
    {"WRFILE:/x", "/x"},
    {"FILE:rel.keytab", "rel.keytab"},
    {"FILE:", ""},
    {"WRFILE:", ""},
    {"FILE:/a:b", "/a:b"},
    {"/abs", "/abs"},
    {"/abs/with:colon", "/abs/with:colon"},
    {"/", "/"},
    /* Changed for the module (it watched none of these): */
    {"rel/path", "rel/path"},
    {"krb5.keytab", "krb5.keytab"},
    {"", ""},
    /* Changed for both: a drive letter is a file, the whole name. */
    {"C:\\x", "C:\\x"},
    {"c:x", "c:x"},
    {"C:", "C:"},
    /* Changed for n8443ctl (it took these for files; krb5 refuses an
     * unknown type "rel/path" or "."): */
    {"rel/path:x", NULL},
    {"./kt:x", NULL},
    /* Other types, known or not. */
    {":", NULL},
    {":x", NULL},
    {"MEMORY:x", NULL},
    {"MEMORY:", NULL},
    {"KEYRING:persistent:0", NULL},
    {"DIR:/etc/kt", NULL},
    {"KDB:", NULL},
    {"1:x", NULL},
    {"file:/x", NULL}, /* type names are case-sensitive */
    {"FILEX:/x", NULL},
    {"FIL:/x", NULL},
    {"WRFILE/x:y", NULL},
};

static void rule_as_written(void **state)
{
    size_t i;

    (void)state;
    assert_null(n8443_keytab_name_file(NULL));
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = n8443_keytab_name_file(cases[i].name);

        if (cases[i].file == NULL) {
            if (got != NULL)
                fail_msg("'%s': a file ('%s'), expected none", cases[i].name,
                         got);
            continue;
        }
        if (got == NULL)
            fail_msg("'%s': not a file, expected '%s'", cases[i].name,
                     cases[i].file);
        assert_string_equal(got, cases[i].file);
        /* A pointer into the name: nothing to free, no copy. */
        assert_true(got >= cases[i].name
                    && got <= cases[i].name + strlen(cases[i].name));
    }
}

/* What krb5 makes of NAME: the file of a FILE or WRFILE keytab in buf,
 * or NULL (another type, or a name it refuses). */
static const char *krb5_file_of(krb5_context ctx, const char *name, char *buf,
                                size_t len)
{
    krb5_keytab kt;
    const char *type, *colon;
    char full[1024];
    const char *file = NULL;

    if (krb5_kt_resolve(ctx, name, &kt) != 0)
        return NULL;
    type = krb5_kt_get_type(ctx, kt);
    if (type != NULL
        && (strcmp(type, "FILE") == 0 || strcmp(type, "WRFILE") == 0)
        && krb5_kt_get_name(ctx, kt, full, sizeof(full)) == 0) {
        colon = strchr(full, ':');
        if (colon != NULL && strlen(colon + 1) < len) {
            strcpy(buf, colon + 1);
            file = buf;
        }
    }
    krb5_kt_close(ctx, kt);
    return file;
}

static void rule_is_krb5s(void **state)
{
    krb5_context ctx;
    char buf[1024];
    size_t i;

    (void)state;
    assert_int_equal(krb5_init_context(&ctx), 0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *want = krb5_file_of(ctx, cases[i].name, buf, sizeof(buf));
        const char *got = n8443_keytab_name_file(cases[i].name);

        if ((want == NULL) != (got == NULL))
            fail_msg("'%s': krb5 reads %s%s%s, the rule says %s%s%s",
                     cases[i].name, want ? "the file '" : "no file",
                     want ? want : "", want ? "'" : "",
                     got ? "the file '" : "no file", got ? got : "",
                     got ? "'" : "");
        if (want != NULL)
            assert_string_equal(got, want);
    }
    krb5_free_context(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rule_as_written),
        cmocka_unit_test(rule_is_krb5s),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
