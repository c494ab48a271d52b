/*
 * test_password.c - core/password.c's error paths, without a KDC: a name
 * that is not a principal, a keytab that cannot be opened, a realm the
 * keytab has no key for (found or named), an unknown realm and a KDC that
 * does not answer.  Each is refused with its own result and a sentence
 * for the log, sets no principal, and takes at least the refusal floor
 * (N8443_PW_REFUSAL_FLOOR_MS), whatever the reason; a short or empty
 * error buffer is never overrun.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "password.h"

#ifndef N8443_TEST_DATA
#define N8443_TEST_DATA "tests/unit/data"
#endif

/* The fast path's keytab: one key, HTTP/localhost@TEST.N8443. */
#define KEYTAB "FILE:" N8443_TEST_DATA "/accept_http.keytab"

static char conf_path[] = "/tmp/n8443-test-password-XXXXXX";

static double ms_since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1000.0
           + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Check USER with the keytab and server; assert the result WANT, the
 * words WORDS in the log sentence, no principal, and the floor. */
static void refused(const char *user, const char *keytab, const char *server,
                    n8443_pw_result want, const char *words)
{
    char *principal = (char *)0x1;
    char err[512];
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(err, 'X', sizeof(err));
    assert_int_equal(n8443_password_check(user, "pw", keytab, server,
                                          &principal, err, sizeof(err)),
                     want);
    assert_ptr_equal(principal, (char *)0x1);
    assert_non_null(memchr(err, '\0', sizeof(err)));
    if (strstr(err, words) == NULL)
        fail_msg("'%s' not in '%s'", words, err);
    assert_non_null(strstr(err, "[refusal held to"));
    assert_true(ms_since(&t0) >= N8443_PW_REFUSAL_FLOOR_MS - 1);
}

static void test_not_a_principal(void **state)
{
    (void)state;
    refused("alice@A@B", KEYTAB, NULL, N8443_PW_REFUSED,
            "not a principal name");
}

static void test_keytab_cannot_be_opened(void **state)
{
    (void)state;
    refused("alice@TEST.N8443", "NOSUCHTYPE:/x", NULL, N8443_PW_ERROR,
            "cannot open the keytab");
}

static void test_no_key_for_the_users_realm(void **state)
{
    (void)state;
    refused("alice@OTHER.N8443", KEYTAB, NULL, N8443_PW_FOREIGN_REALM,
            "no service key in the keytab for the user's realm");
    /* A file that is not there has no key for anyone. */
    refused("alice@TEST.N8443", "FILE:/nonexistent/n8443.keytab", NULL,
            N8443_PW_FOREIGN_REALM, "no service key");
}

static void test_service_key_of_another_realm(void **state)
{
    (void)state;
    refused("alice@OTHER.N8443", KEYTAB, "HTTP/localhost@TEST.N8443",
            N8443_PW_FOREIGN_REALM,
            "the user's realm is not the realm of the service key");
}

/* The KDC step: a realm no configuration names (and no DNS lookup), and
 * a KDC on a port where nothing listens. */
static void test_kdc_unreachable(void **state)
{
    (void)state;
    refused("alice@NOWHERE.N8443", KEYTAB, "HTTP/x@NOWHERE.N8443",
            N8443_PW_KDC_UNREACHABLE, "KDC unreachable");
    refused("alice@TEST.N8443", KEYTAB, NULL, N8443_PW_KDC_UNREACHABLE,
            "KDC unreachable");
}

/* A short buffer gets a cut sentence; an empty one (errlen 0) is never
 * read or written. */
static void test_short_error_buffers(void **state)
{
    char *principal = NULL;
    char small[8], none[4];

    (void)state;
    memset(small, 'X', sizeof(small));
    assert_int_equal(n8443_password_check("alice@A@B", "pw", KEYTAB, NULL,
                                          &principal, small, sizeof(small)),
                     N8443_PW_REFUSED);
    assert_string_equal(small, "not a p");
    memset(none, 'X', sizeof(none));
    assert_int_equal(n8443_password_check("alice@A@B", "pw", KEYTAB, NULL,
                                          &principal, none, 0),
                     N8443_PW_REFUSED);
    assert_memory_equal(none, "XXXX", sizeof(none));
    assert_null(principal);
}

/* A krb5.conf of our own: TEST.N8443's KDC on a closed loopback port
 * (port 9, discard: nothing listens on it here), no DNS. */
static int setup(void **state)
{
    FILE *f;
    int fd;

    (void)state;
    fd = mkstemp(conf_path);
    if (fd < 0 || (f = fdopen(fd, "w")) == NULL)
        return -1;
    fprintf(f, "[libdefaults]\n"
               "    default_realm = TEST.N8443\n"
               "    dns_lookup_kdc = false\n"
               "    dns_lookup_realm = false\n"
               "    kdc_timeout = 1000\n"
               "    max_retries = 1\n"
               "[realms]\n"
               "    TEST.N8443 = {\n"
               "        kdc = 127.0.0.1:9\n"
               "    }\n");
    fclose(f);
    setenv("KRB5_CONFIG", conf_path, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(conf_path);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_a_principal),
        cmocka_unit_test(test_keytab_cannot_be_opened),
        cmocka_unit_test(test_no_key_for_the_users_realm),
        cmocka_unit_test(test_service_key_of_another_realm),
        cmocka_unit_test(test_kdc_unreachable),
        cmocka_unit_test(test_short_error_buffers),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
