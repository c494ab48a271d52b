/*
 * test_rc_table.c - the replay cache's bucket table (core/rc_table.c):
 * a key is a replay while live and free again once expired, two keys never
 * answer for each other, a key goes to the emptier of its two buckets, and
 * a table full of live entries says so instead of evicting one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "rc_table.h"

#define NBUCKETS 4

static n8443_rc_slot mem[NBUCKETS * N8443_RC_TABLE_SLOTS];
static n8443_rc_table table = {NBUCKETS, mem};

/* A key whose two halves choose buckets b1 and b2, told apart by n. */
static void make_key(unsigned char key[N8443_RC_TABLE_KEY_LEN], unsigned b1,
                     unsigned b2, unsigned n)
{
    memset(key, 0, N8443_RC_TABLE_KEY_LEN);
    /* Big-endian 64-bit halves, reduced modulo NBUCKETS. */
    key[7] = (unsigned char)(b1 + NBUCKETS * (n % 32));
    key[6] = (unsigned char)(n / 32);
    key[15] = (unsigned char)(b2 + NBUCKETS * (n % 32));
    key[14] = (unsigned char)(n / 32);
}

static int setup(void **state)
{
    (void)state;
    memset(mem, 0, sizeof(mem));
    return 0;
}

/* Store key at now, for ttl; asserts it was not there. */
static void store(const unsigned char *key, int64_t now, int64_t ttl)
{
    n8443_rc_slot *slot;

    assert_int_equal(n8443_rc_table_lookup(&table, key, now, &slot), 0);
    assert_non_null(slot);
    n8443_rc_table_store(slot, key, now + ttl);
}

static void test_buckets(void **state)
{
    (void)state;
    assert_int_equal(n8443_rc_table_buckets(0), 1);
    assert_int_equal(n8443_rc_table_buckets(1), 1);
    assert_int_equal(n8443_rc_table_buckets(8), 1);
    assert_int_equal(n8443_rc_table_buckets(9), 2);
    assert_int_equal(n8443_rc_table_buckets(600000), 75000);
}

static void test_replay_while_live(void **state)
{
    unsigned char a[N8443_RC_TABLE_KEY_LEN], b[N8443_RC_TABLE_KEY_LEN];
    n8443_rc_slot *slot;

    (void)state;
    make_key(a, 1, 2, 0);
    make_key(b, 1, 2, 1);
    store(a, 100, 10);
    assert_int_equal(n8443_rc_table_lookup(&table, a, 100, &slot), 1);
    assert_int_equal(n8443_rc_table_lookup(&table, a, 109, &slot), 1);
    /* Another key in the same buckets is not a replay. */
    assert_int_equal(n8443_rc_table_lookup(&table, b, 100, &slot), 0);
    assert_non_null(slot);
    /* Expired at expires: the key is fresh again, its slot free. */
    assert_int_equal(n8443_rc_table_lookup(&table, a, 110, &slot), 0);
    assert_non_null(slot);
    assert_int_equal(n8443_rc_table_live(&table, 105), 1);
    assert_int_equal(n8443_rc_table_live(&table, 110), 0);
}

static void test_emptier_bucket(void **state)
{
    unsigned char k[N8443_RC_TABLE_KEY_LEN];
    n8443_rc_slot *slot;
    unsigned n;

    (void)state;
    /* Three live entries in bucket 0 (keys choosing 0 and 0). */
    for (n = 0; n < 3; n++) {
        make_key(k, 0, 0, n);
        store(k, 0, 100);
    }
    /* A key choosing buckets 0 and 3 goes to 3, the emptier. */
    make_key(k, 0, 3, 7);
    assert_int_equal(n8443_rc_table_lookup(&table, k, 0, &slot), 0);
    assert_ptr_equal(slot, &mem[3 * N8443_RC_TABLE_SLOTS]);
    /* And one choosing 3 and 0 as well. */
    make_key(k, 3, 0, 8);
    assert_int_equal(n8443_rc_table_lookup(&table, k, 0, &slot), 0);
    assert_ptr_equal(slot, &mem[3 * N8443_RC_TABLE_SLOTS]);
}

static void test_full_never_evicts(void **state)
{
    unsigned char k[N8443_RC_TABLE_KEY_LEN], first[N8443_RC_TABLE_KEY_LEN];
    n8443_rc_slot *slot;
    unsigned n;

    (void)state;
    /* Buckets 1 and 2 filled with live entries. */
    for (n = 0; n < 2 * N8443_RC_TABLE_SLOTS; n++) {
        make_key(k, 1, 2, n);
        if (n == 0)
            memcpy(first, k, sizeof(first));
        store(k, 0, 100);
    }
    make_key(k, 2, 1, 40);
    assert_int_equal(n8443_rc_table_lookup(&table, k, 50, &slot), 0);
    assert_null(slot);
    /* Everything stored is still there. */
    assert_int_equal(n8443_rc_table_lookup(&table, first, 50, &slot), 1);
    assert_int_equal(n8443_rc_table_live(&table, 50), 2 * N8443_RC_TABLE_SLOTS);
    /* Once they expire there is room again. */
    assert_int_equal(n8443_rc_table_lookup(&table, k, 100, &slot), 0);
    assert_non_null(slot);
}

static void test_one_bucket_table(void **state)
{
    n8443_rc_slot one[N8443_RC_TABLE_SLOTS];
    n8443_rc_table t = {1, one};
    unsigned char k[N8443_RC_TABLE_KEY_LEN];
    n8443_rc_slot *slot;
    unsigned n;

    (void)state;
    memset(one, 0, sizeof(one));
    for (n = 0; n < N8443_RC_TABLE_SLOTS; n++) {
        make_key(k, 0, 0, n);
        assert_int_equal(n8443_rc_table_lookup(&t, k, 0, &slot), 0);
        assert_non_null(slot);
        n8443_rc_table_store(slot, k, 10);
    }
    make_key(k, 0, 0, 99);
    assert_int_equal(n8443_rc_table_lookup(&t, k, 0, &slot), 0);
    assert_null(slot);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets),
        cmocka_unit_test_setup(test_replay_while_live, setup),
        cmocka_unit_test_setup(test_emptier_bucket, setup),
        cmocka_unit_test_setup(test_full_never_evicts, setup),
        cmocka_unit_test(test_one_bucket_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
