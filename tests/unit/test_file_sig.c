/*
 * test_file_sig.c - a file's signature (core/file_sig.c), which tells the
 * module that its keytab (credentials.c) or its group map (group_map.c)
 * changed: the same file looked at twice is the same; a new file renamed
 * over it, a write in place of the same size, and one whose old mtime
 * was put back (cp -p, rsync -t --inplace: ctime still moves) are not;
 * a file that is gone is, and stays, gone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_sig.h"

typedef struct {
    char dir[64];
    char path[96];
    char other[96];
} files;

static int setup(void **state)
{
    files *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    strcpy(f->dir, "/tmp/n8443-file-sig-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/file", f->dir);
    snprintf(f->other, sizeof(f->other), "%s/other", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    files *f = *state;

    unlink(f->path);
    unlink(f->other);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void put(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(close(fd), 0);
}

/* Wait until the file system's clock (coarse: a tick, not a nanosecond)
 * has moved past what path shows, so the next change gets new times. */
static void tick_past(const char *path)
{
    struct stat before, probe;
    char tmp[128];
    int i;

    assert_int_equal(stat(path, &before), 0);
    snprintf(tmp, sizeof(tmp), "%s.tick", path);
    for (i = 0; i < 400; i++) {
        usleep(5000);
        put(tmp, "t");
        assert_int_equal(stat(tmp, &probe), 0);
        unlink(tmp);
        if (probe.st_ctim.tv_sec != before.st_ctim.tv_sec
            || probe.st_ctim.tv_nsec != before.st_ctim.tv_nsec)
            return;
    }
    fail_msg("the file system's clock did not move in 2 s");
}

static void same_file_is_same(void **state)
{
    files *f = *state;
    n8443_file_sig a, b;

    put(f->path, "alice S-1-5-21-1-2-3-1000\n");
    n8443_file_sig_stat(f->path, &a);
    n8443_file_sig_stat(f->path, &b);
    assert_true(a.exists);
    assert_int_equal(a.size, 26);
    assert_true(n8443_file_sig_same(&a, &b));
}

static void of_an_open_file_is_stats(void **state)
{
    files *f = *state;
    n8443_file_sig a, b;
    struct stat st;
    int fd;

    put(f->path, "abc");
    fd = open(f->path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    close(fd);
    n8443_file_sig_of(&st, &a);
    n8443_file_sig_stat(f->path, &b);
    assert_true(n8443_file_sig_same(&a, &b));
}

static void write_in_place_same_size_differs(void **state)
{
    files *f = *state;
    n8443_file_sig a, b;

    put(f->path, "aaaa");
    n8443_file_sig_stat(f->path, &a);
    tick_past(f->path);
    put(f->path, "bbbb");
    n8443_file_sig_stat(f->path, &b);
    assert_int_equal(a.ino, b.ino);
    assert_int_equal(a.size, b.size);
    assert_false(n8443_file_sig_same(&a, &b));
}

/* The case mtime alone misses: same inode, same size, the old mtime put
 * back; only ctime tells. */
static void restored_mtime_still_differs(void **state)
{
    files *f = *state;
    n8443_file_sig a, b;
    struct timespec times[2];

    put(f->path, "key1");
    n8443_file_sig_stat(f->path, &a);
    tick_past(f->path);
    put(f->path, "key2");
    times[0] = a.mtime;
    times[1] = a.mtime;
    assert_int_equal(utimensat(AT_FDCWD, f->path, times, 0), 0);
    n8443_file_sig_stat(f->path, &b);
    assert_int_equal(a.ino, b.ino);
    assert_int_equal(a.size, b.size);
    assert_int_equal(a.mtime.tv_sec, b.mtime.tv_sec);
    assert_int_equal(a.mtime.tv_nsec, b.mtime.tv_nsec);
    assert_false(n8443_file_sig_same(&a, &b));
}

static void renamed_over_differs(void **state)
{
    files *f = *state;
    n8443_file_sig a, b;
    struct timespec times[2];

    put(f->path, "old1");
    n8443_file_sig_stat(f->path, &a);
    put(f->other, "new1");
    times[0] = a.mtime;
    times[1] = a.mtime;
    assert_int_equal(utimensat(AT_FDCWD, f->other, times, 0), 0);
    assert_int_equal(rename(f->other, f->path), 0);
    n8443_file_sig_stat(f->path, &b);
    assert_true(a.ino != b.ino);
    assert_false(n8443_file_sig_same(&a, &b));
}

static void gone_is_gone(void **state)
{
    files *f = *state;
    n8443_file_sig a, gone, gone2, none;

    put(f->path, "x");
    n8443_file_sig_stat(f->path, &a);
    unlink(f->path);
    n8443_file_sig_stat(f->path, &gone);
    n8443_file_sig_stat(f->path, &gone2);
    n8443_file_sig_stat(NULL, &none);
    assert_false(gone.exists);
    assert_false(none.exists);
    assert_false(n8443_file_sig_same(&a, &gone));
    assert_false(n8443_file_sig_same(&gone, &a));
    assert_true(n8443_file_sig_same(&gone, &gone2));
    assert_true(n8443_file_sig_same(&gone, &none));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(same_file_is_same, setup, teardown),
        cmocka_unit_test_setup_teardown(of_an_open_file_is_stats, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(write_in_place_same_size_differs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(restored_mtime_still_differs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(renamed_over_differs, setup, teardown),
        cmocka_unit_test_setup_teardown(gone_is_gone, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
