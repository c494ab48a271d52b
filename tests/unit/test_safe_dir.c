/*
 * test_safe_dir.c - the replay cache file's directory rule
 * (core/safe_dir.c; the module's N8443480, n8443ctl check's
 * krb5.replay-cache-file), on directories made under a mkdtemp
 * directory in /tmp (a sticky directory, allowed above).  The user
 * judged is a uid that owns nothing here, with the test's own group
 * (which owns every directory it makes) among its groups or not.
 */
#define _XOPEN_SOURCE 700
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "safe_dir.h"

static char base[64];
static uid_t user;  /* the "httpd User": owns nothing here */
static gid_t other; /* a group that owns nothing here */

static int setup(void **state)
{
    (void)state;
    strcpy(base, "/tmp/n8443-safe-dir-XXXXXX");
    if (mkdtemp(base) == NULL || chmod(base, 0755) != 0)
        return -1;
    user = geteuid() + 4242;
    other = getegid() + 4242;
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int teardown(void **state)
{
    (void)state;
    return nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* base/REL, made with MODE (umask aside); returns the path. */
static const char *mk(const char *rel, mode_t mode)
{
    static char paths[16][128];
    static int n;
    char *p = paths[n++ % 16];

    snprintf(p, 128, "%s/%s", base, rel);
    assert_int_equal(mkdir(p, 0700), 0);
    assert_int_equal(chmod(p, mode), 0);
    return p;
}

static void ln(const char *target, const char *rel)
{
    char p[128];

    snprintf(p, sizeof(p), "%s/%s", base, rel);
    assert_int_equal(symlink(target, p), 0);
}

typedef struct {
    char bad[4096];
    char why[256];
    const char *ret;
} verdict;

/* The rule for base/REL, judged for user with GROUP as its one group. */
static void judge(verdict *v, const char *rel, uid_t uid, gid_t group)
{
    char path[160];

    snprintf(path, sizeof(path), "%s/%s", base, rel);
    v->ret = n8443_safe_dir_check(path, uid, &group, 1, v->bad, sizeof(v->bad),
                                  v->why, sizeof(v->why));
}

static void assert_safe(const char *rel, uid_t uid, gid_t group)
{
    verdict v;

    judge(&v, rel, uid, group);
    if (v.ret != NULL)
        fail_msg("%s: %s is %s", rel, v.bad, v.why);
    assert_string_equal(v.bad, "");
}

static void assert_unsafe(const char *rel, uid_t uid, gid_t group,
                          const char *bad_rel, const char *why)
{
    char bad[160];
    verdict v;

    judge(&v, rel, uid, group);
    snprintf(bad, sizeof(bad), "%s/%s", base, bad_rel);
    assert_non_null(v.ret);
    assert_ptr_equal(v.ret, v.why);
    assert_string_equal(v.bad, bad);
    assert_string_equal(v.why, why);
}

static void test_root_only_directories_pass(void **state)
{
    (void)state;
    mk("ok", 0755);
    mk("ok/deep", 0700);
    assert_safe("ok/file", user, getegid());
    assert_safe("ok/deep/file", user, getegid());
    /* Group-writable, but not by a group of the user. */
    mk("grp-other", 0775);
    assert_safe("grp-other/file", user, other);
}

static void test_world_writable_directory(void **state)
{
    (void)state;
    mk("w", 0777);
    mk("w/inner", 0755);
    assert_unsafe("w/file", user, other, "w",
                  "writable by everybody (mode 0777)");
    /* Above the file's own directory counts as well. */
    assert_unsafe("w/inner/file", user, other, "w",
                  "writable by everybody (mode 0777)");
}

static void test_group_writable_by_a_group_of_the_user(void **state)
{
    char why[128];

    (void)state;
    mk("g", 0775);
    snprintf(why, sizeof(why),
             "writable by group %ld, one of httpd's User's (mode 0775)",
             (long)getegid());
    assert_unsafe("g/file", user, getegid(), "g", why);
}

static void test_sticky_allowed_above_not_as_own(void **state)
{
    (void)state;
    mk("s", 01777);
    mk("s/own", 0755);
    assert_safe("s/own/file", user, getegid());
    assert_unsafe("s/file", user, other, "s",
                  "writable by everybody (mode 1777)");
}

static void test_owned_by_the_user(void **state)
{
    char why[64];

    (void)state;
    mk("mine", 0700);
    snprintf(why, sizeof(why), "owned by httpd's User (uid %ld)",
             (long)geteuid());
    assert_unsafe("mine/file", geteuid(), other, "mine", why);
}

/* The real path is root's, but a link on the way goes through a
 * directory everybody may write in (where the link could be swapped). */
static void test_link_target_through_a_writable_directory(void **state)
{
    char target[128];

    (void)state;
    mk("real", 0755);
    mk("u", 0777);
    mk("safe", 0755);
    snprintf(target, sizeof(target), "%s/real", base);
    ln(target, "u/hop");
    snprintf(target, sizeof(target), "%s/u/hop", base);
    ln(target, "safe/abs");
    ln("../u/hop", "safe/rel");
    assert_safe("real/file", user, other);
    assert_unsafe("safe/abs/file", user, other, "u",
                  "writable by everybody (mode 0777)");
    assert_unsafe("safe/rel/file", user, other, "safe/../u",
                  "writable by everybody (mode 0777)");
    /* A link to a root-only directory through root-only ones passes. */
    snprintf(target, sizeof(target), "%s/real", base);
    ln(target, "safe/direct");
    assert_safe("safe/direct/file", user, other);
    /* Where the link leads is writable: its real path says so. */
    snprintf(target, sizeof(target), "%s/u", base);
    ln(target, "safe/tou");
    assert_unsafe("safe/tou/file", user, other, "u",
                  "writable by everybody (mode 0777)");
}

static void test_missing_directory_is_left_to_the_open(void **state)
{
    (void)state;
    assert_safe("none/file", user, getegid());
}

/* setfacl -m SPEC DIR if setfacl is there, else the same ACL in the
 * kernel's xattr form: 0, or -1 when this file system has no ACLs. */
static int set_acl(const char *dir, const char *spec, uint32_t uid,
                   unsigned mask)
{
    const char *setfacl = access("/usr/bin/setfacl", X_OK) == 0
                              ? "/usr/bin/setfacl"
                              : "/bin/setfacl";
    unsigned char b[4 + 5 * 8];
    const unsigned e[5][2] = {
        {0x01, 7}, {0x02, 7}, {0x04, 5}, {0x10, 0}, {0x20, 5}};
    int i, status;
    pid_t pid;

    if (access(setfacl, X_OK) == 0) {
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            execl(setfacl, "setfacl", "-m", spec, dir, (char *)NULL);
            _exit(127);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
    }
    memset(b, 0, sizeof(b));
    b[0] = 2;
    for (i = 0; i < 5; i++) {
        unsigned char *o = b + 4 + 8 * i;
        uint32_t id = e[i][0] == 0x02 ? uid : 0xffffffffu;

        o[0] = (unsigned char)e[i][0];
        o[2] = (unsigned char)(e[i][0] == 0x10 ? mask : e[i][1]);
        o[4] = id & 0xff;
        o[5] = (id >> 8) & 0xff;
        o[6] = (id >> 16) & 0xff;
        o[7] = (id >> 24) & 0xff;
    }
    return setxattr(dir, "system.posix_acl_access", b, sizeof(b), 0);
}

static void test_access_acl_that_lets_the_user_write(void **state)
{
    char spec[64];
    const char *d;

    (void)state;
    d = mk("acl", 0755);
    snprintf(spec, sizeof(spec), "u:%ld:rwx", (long)user);
    if (set_acl(d, spec, (uint32_t)user, 7) != 0)
        skip();
    assert_unsafe("acl/file", user, other, "acl",
                  "writable by httpd's User or one of its groups through "
                  "an access ACL (getfacl shows it)");
    /* A mask without w takes the entry's write away. */
    d = mk("acl-masked", 0755);
    snprintf(spec, sizeof(spec), "u:%ld:rwx,m::r-x", (long)user);
    assert_int_equal(set_acl(d, spec, (uint32_t)user, 5), 0);
    assert_safe("acl-masked/file", user, other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_only_directories_pass),
        cmocka_unit_test(test_world_writable_directory),
        cmocka_unit_test(test_group_writable_by_a_group_of_the_user),
        cmocka_unit_test(test_sticky_allowed_above_not_as_own),
        cmocka_unit_test(test_owned_by_the_user),
        cmocka_unit_test(test_link_target_through_a_writable_directory),
        cmocka_unit_test(test_missing_directory_is_left_to_the_open),
        cmocka_unit_test(test_access_acl_that_lets_the_user_write),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
