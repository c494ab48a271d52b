/*
 * Unit tests for n8443_acl_write_others (tools/n8443ctl/fileio.c): does a
 * directory's POSIX access ACL, in the kernel's xattr form, let anyone but
 * root write (so that `n8443ctl install` must refuse it)?  The root-only
 * end-to-end checks (setxattr on real directories) are in
 * tests/n8443ctl/run-tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include <cmocka.h>

#include "n8443ctl.h"

#define ANY 0xffffffffu

struct ent {
    unsigned tag, perm;
    uint32_t id;
};

/* The xattr form: version 2, then (le16 tag, le16 perm, le32 id). */
static size_t acl(unsigned char *out, const struct ent *e, size_t n)
{
    size_t i, len = 4;

    memset(out, 0, 4);
    out[0] = 2;
    for (i = 0; i < n; i++, len += 8) {
        out[len] = (unsigned char)e[i].tag;
        out[len + 1] = (unsigned char)(e[i].tag >> 8);
        out[len + 2] = (unsigned char)e[i].perm;
        out[len + 3] = 0;
        out[len + 4] = (unsigned char)e[i].id;
        out[len + 5] = (unsigned char)(e[i].id >> 8);
        out[len + 6] = (unsigned char)(e[i].id >> 16);
        out[len + 7] = (unsigned char)(e[i].id >> 24);
    }
    return len;
}

static int check(const struct ent *e, size_t n, gid_t gid, char *who)
{
    unsigned char buf[256];

    return n8443_acl_write_others(buf, acl(buf, e, n), 1000, gid, who, 64);
}

static void test_named_entries(void **state)
{
    struct ent user[] = {
        {1, 7, ANY}, {2, 7, 65534}, {4, 5, ANY}, {0x10, 7, ANY}, {0x20, 5, ANY},
    };
    struct ent group[] = {
        {1, 7, ANY}, {4, 5, ANY}, {8, 7, 100}, {0x10, 7, ANY}, {0x20, 5, ANY},
    };
    char who[64];

    (void)state;
    assert_int_equal(check(user, 5, 0, who), 1);
    assert_string_equal(who, "user 65534");
    assert_int_equal(check(group, 5, 0, who), 1);
    assert_string_equal(who, "group 100");
    /* Masked: no effective write. */
    user[3].perm = 5;
    group[3].perm = 5;
    assert_int_equal(check(user, 5, 0, who), 0);
    assert_int_equal(check(group, 5, 0, who), 0);
    /* Root, the tool's own user and root's group may write. */
    user[3].perm = 7;
    user[1].id = 0;
    assert_int_equal(check(user, 5, 0, who), 0);
    user[1].id = 1000;
    assert_int_equal(check(user, 5, 0, who), 0);
    group[3].perm = 7;
    group[2].id = 0;
    assert_int_equal(check(group, 5, 0, who), 0);
}

static void test_owning_group_and_other(void **state)
{
    /* With a mask the mode shows the mask: the owning group's own entry
     * decides. */
    struct ent e[] = {{1, 7, ANY}, {4, 7, ANY}, {0x10, 7, ANY}, {0x20, 5, ANY}};
    char who[64];

    (void)state;
    assert_int_equal(check(e, 4, 0, who), 0);
    assert_int_equal(check(e, 4, 50, who), 1);
    assert_string_equal(who, "group 50");
    e[1].perm = 5;
    assert_int_equal(check(e, 4, 50, who), 0);
    e[3].perm = 7;
    assert_int_equal(check(e, 4, 0, who), 1);
    assert_string_equal(who, "everyone");
}

static void test_unreadable_is_writable(void **state)
{
    unsigned char buf[64];
    struct ent odd[] = {{1, 7, ANY}, {0x40, 7, 0}};
    char who[64];
    size_t len;

    (void)state;
    len = acl(buf, odd, 2);
    assert_int_equal(n8443_acl_write_others(buf, len, 0, 0, who, 64), 1);
    buf[0] = 1; /* another version */
    assert_int_equal(n8443_acl_write_others(buf, 4, 0, 0, who, 64), 1);
    buf[0] = 2;
    assert_int_equal(n8443_acl_write_others(buf, 7, 0, 0, who, 64), 1);
    assert_int_equal(n8443_acl_write_others(buf, 2, 0, 0, who, 64), 1);
    /* An empty ACL (version only) gives nobody anything. */
    assert_int_equal(n8443_acl_write_others(buf, 4, 0, 0, who, 64), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_named_entries),
        cmocka_unit_test(test_owning_group_and_other),
        cmocka_unit_test(test_unreadable_is_writable),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
