/*
 * test_refusal.c - the words of NEGOTIATE_ERROR and their sentences:
 * every cause the acceptor can name has a sentence (the module puts
 * n8443_cause_name() into NEGOTIATE_ERROR), the words issue 17 lists are
 * there, and no sentence gives away what only an administrator may see.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "acceptor.h"
#include "refusal.h"

static void every_cause_has_a_sentence(void **state)
{
    n8443_cause c;

    (void)state;
    for (c = N8443_CAUSE_REPLAY; c <= N8443_CAUSE_ANONYMOUS; c++)
        assert_non_null(n8443_refusal_text(n8443_cause_name(c)));
}

static void the_contract_words_are_there(void **state)
{
    static const char *const words[] = {
        "no_token",   "ntlm",         "no_ticket",      "wrong_principal",
        "skew",       "replay",       "expired",        "bad_bindings",
        "malformed",  "bad_password", "not_authorized", "unsupported_scheme",
        "other_mech", "other"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        assert_non_null(n8443_refusal_text(words[i]));
    assert_null(n8443_refusal_text("none"));
    assert_null(n8443_refusal_text(""));
    assert_null(n8443_refusal_text("NTLM"));
}

/* Nothing secret, nothing that needs escaping to be safe in a header
 * value or a page: printable ASCII only, no '<', '>', '&', '"'. */
static void sentences_are_plain_and_not_secret(void **state)
{
    unsigned int i;
    const char *w, *t, *p;

    (void)state;
    for (i = 0; (w = n8443_refusal_word(i)) != NULL; i++) {
        t = n8443_refusal_text(w);
        assert_non_null(t);
        assert_true(strlen(t) > 20);
        assert_null(strstr(t, "kvno"));
        assert_null(strstr(t, "keytab"));
        assert_null(strstr(t, "/etc/"));
        for (p = t; *p; p++) {
            assert_true(*p >= 0x20 && *p < 0x7f);
            assert_null(strchr("<>&\"", *p));
        }
        for (p = w; *p; p++)
            assert_true((*p >= 'a' && *p <= 'z') || *p == '_');
    }
    assert_true(i >= 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_cause_has_a_sentence),
        cmocka_unit_test(the_contract_words_are_there),
        cmocka_unit_test(sentences_are_plain_and_not_secret),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
