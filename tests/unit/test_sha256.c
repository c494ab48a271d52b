/*
 * test_sha256.c - HMAC-SHA-256 under a key set up once (core/sha256.c)
 * against its reference, OpenSSL's one-shot HMAC(): RFC 4231's known
 * answers, then random keys (empty, short, a block, longer than a block:
 * hashed first) and messages of every length around the block size, each
 * key used for many messages and from several threads at once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "sha256.h"

static void reference(const unsigned char *key, size_t klen,
                      const unsigned char *msg, size_t mlen,
                      unsigned char out[N8443_SHA256_LEN])
{
    unsigned int n = 0;

    assert_non_null(HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &n));
    assert_int_equal(n, N8443_SHA256_LEN);
}

static void assert_same(const n8443_hmac_key *k, const unsigned char *key,
                        size_t klen, const unsigned char *msg, size_t mlen)
{
    unsigned char want[N8443_SHA256_LEN], got[N8443_SHA256_LEN];

    reference(key, klen, msg, mlen, want);
    assert_int_equal(n8443_hmac_sha256(k, msg, mlen, got), 0);
    assert_memory_equal(got, want, sizeof(want));
}

static void hex_to(const char *hex, unsigned char *out)
{
    size_t i;

    for (i = 0; hex[2 * i]; i++) {
        unsigned int v;

        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (unsigned char)v;
    }
}

/* RFC 4231 test cases 1 (a short key) and 6 (131 bytes: hashed first). */
static void test_rfc4231(void **state)
{
    static const struct {
        unsigned char byte;
        size_t klen;
        const char *msg;
        const char *mac;
    } kat[] = {
        {0x0b, 20, "Hi There",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {0xaa, 131, "Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    };
    unsigned char key[131], want[N8443_SHA256_LEN], got[N8443_SHA256_LEN];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
        n8443_hmac_key *k;

        memset(key, kat[i].byte, kat[i].klen);
        k = n8443_hmac_key_new(key, kat[i].klen);
        assert_non_null(k);
        hex_to(kat[i].mac, want);
        assert_int_equal(
            n8443_hmac_sha256(k, kat[i].msg, strlen(kat[i].msg), got), 0);
        assert_memory_equal(got, want, sizeof(want));
        n8443_hmac_key_free(k);
    }
}

static void test_random_against_openssl(void **state)
{
    static const size_t klens[] = {0, 1, 16, 32, 63, 64, 65, 128, 200};
    unsigned char key[200], msg[300];
    size_t i, mlen;

    (void)state;
    for (i = 0; i < sizeof(klens) / sizeof(klens[0]); i++) {
        n8443_hmac_key *k;

        assert_int_equal(RAND_bytes(key, sizeof(key)), 1);
        k = n8443_hmac_key_new(key, klens[i]);
        assert_non_null(k);
        for (mlen = 0; mlen <= sizeof(msg); mlen++) {
            assert_int_equal(RAND_bytes(msg, sizeof(msg)), 1);
            assert_same(k, key, klens[i], msg, mlen);
        }
        n8443_hmac_key_free(k);
    }
}

typedef struct {
    const n8443_hmac_key *k;
    const unsigned char *key;
    int bad;
} shared;

static void *worker(void *arg)
{
    shared *sh = arg;
    unsigned char msg[48], want[N8443_SHA256_LEN], got[N8443_SHA256_LEN];
    unsigned int n = 0;
    int i;

    for (i = 0; i < 2000; i++) {
        if (RAND_bytes(msg, sizeof(msg)) != 1
            || HMAC(EVP_sha256(), sh->key, 32, msg, sizeof(msg), want, &n)
                   == NULL
            || n8443_hmac_sha256(sh->k, msg, sizeof(msg), got) != 0
            || memcmp(got, want, sizeof(want)) != 0)
            __atomic_add_fetch(&sh->bad, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

/* One key, read by several threads at once (a threaded MPM's workers). */
static void test_threads_share_a_key(void **state)
{
    unsigned char key[32];
    pthread_t t[4];
    shared sh;
    int i;

    (void)state;
    assert_int_equal(RAND_bytes(key, sizeof(key)), 1);
    sh.k = n8443_hmac_key_new(key, sizeof(key));
    sh.key = key;
    sh.bad = 0;
    assert_non_null(sh.k);
    for (i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, &sh), 0);
    for (i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(sh.bad, 0);
    n8443_hmac_key_free((n8443_hmac_key *)sh.k);
}

static void test_no_key_is_an_error(void **state)
{
    unsigned char out[N8443_SHA256_LEN];

    (void)state;
    assert_int_equal(n8443_hmac_sha256(NULL, "x", 1, out), -1);
    n8443_hmac_key_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4231),
        cmocka_unit_test(test_random_against_openssl),
        cmocka_unit_test(test_threads_share_a_key),
        cmocka_unit_test(test_no_key_is_an_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
