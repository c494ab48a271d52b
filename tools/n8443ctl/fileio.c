/*
 * n8443ctl - reading whole files and replacing them atomically.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "msgs.h"
#include "n8443ctl.h"

/*
 * Read FD to its end, but no more than MAX + 1 bytes: a result of MAX + 1
 * bytes tells the caller that the file is larger than MAX without
 * reading all of a huge file (or an endless pipe).
 */
static int read_fd(int fd, size_t max, char **data_out, size_t *len_out)
{
    char *data = NULL;
    size_t len = 0;
    size_t cap = 0;
    ssize_t got;
    int rc = -1;

    while (len <= max) {
        if (len == cap) {
            size_t new_cap = cap ? cap * 2 : 8192;
            char *p;

            if (new_cap > max + 1) {
                new_cap = max + 1;
            }
            p = realloc(data, new_cap);
            if (p == NULL) {
                goto cleanup;
            }
            data = p;
            cap = new_cap;
        }
        got = read(fd, data + len, cap - len);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            goto cleanup;
        }
        if (got == 0) {
            break;
        }
        len += (size_t)got;
    }
    *data_out = data;
    *len_out = len;
    data = NULL;
    rc = 0;

cleanup:
    free(data);
    return rc;
}

/*
 * PATH read by read_fd.  A missing PATH is not an error here: *exists_out
 * is 0 and the data empty.  *mode_out (if given) gets the permission
 * bits, for a replacement that keeps them.  Prints why on failure.
 */
static int read_path(const char *path, size_t max, char **data_out,
                     size_t *len_out, int *exists_out, mode_t *mode_out)
{
    struct stat st;
    char *data = NULL;
    size_t len = 0;
    int fd;
    int rc = N8443_IO;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        *data_out = NULL;
        *len_out = 0;
        *exists_out = 0;
        return N8443_OK;
    }
    if (fd < 0) {
        n8443_error("cannot read %s: %s", path, strerror(errno));
        return N8443_IO;
    }
    if (fstat(fd, &st) != 0) {
        n8443_error("cannot read %s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        n8443_error("cannot read %s: not a regular file", path);
        goto cleanup;
    }
    if (read_fd(fd, max, &data, &len) != 0) {
        n8443_error("cannot read %s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (mode_out != NULL) {
        *mode_out = st.st_mode & 07777;
    }
    *data_out = data;
    *len_out = len;
    *exists_out = 1;
    data = NULL;
    rc = N8443_OK;

cleanup:
    free(data);
    close(fd);
    return rc;
}

/*
 * The whole of PATH ("-": stdin), up to MAX + 1 bytes: the caller decides
 * what a file over MAX means (the site loader reports it as an invalid
 * site file).  Prints why on failure and returns N8443_IO.  The data may
 * hold NULs; callers use the length.
 */
int n8443_read_file(const char *path, size_t max, char **data_out,
                    size_t *len_out)
{
    int exists = 0;
    int rc;

    if (strcmp(path, "-") == 0) {
        if (read_fd(STDIN_FILENO, max, data_out, len_out) != 0) {
            n8443_error("cannot read standard input: %s", strerror(errno));
            return N8443_IO;
        }
        return N8443_OK;
    }
    rc = read_path(path, max, data_out, len_out, &exists, NULL);
    if (rc == N8443_OK && !exists) {
        n8443_error("cannot read %s: %s", path, strerror(ENOENT));
        return N8443_IO;
    }
    return rc;
}

/*
 * PATH, at most MAX bytes (more is an error), or *exists_out = 0 when
 * there is no such file.  *mode_out as for read_path.
 */
int n8443_read_file_optional(const char *path, size_t max, char **data_out,
                             size_t *len_out, int *exists_out,
                             mode_t *mode_out)
{
    char *data = NULL;
    size_t len = 0;
    int rc;

    rc = read_path(path, max, &data, &len, exists_out, mode_out);
    if (rc != N8443_OK) {
        return rc;
    }
    if (len > max) {
        n8443_error("cannot read %s: larger than %zu bytes", path, max);
        free(data);
        return N8443_IO;
    }
    *data_out = data;
    *len_out = len;
    return N8443_OK;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t put = write(fd, data, len);

        if (put < 0 && errno == EINTR) {
            continue;
        }
        if (put < 0) {
            return -1;
        }
        data += put;
        len -= (size_t)put;
    }
    return 0;
}

/*
 * Replace PATH with DATA so that a reader (httpd reloading, a crash, a
 * power cut) sees either the old or the new file, never half of one:
 * write a temporary file in the same directory, fsync it, rename it over
 * PATH and fsync the directory so that the rename itself is on disk.
 *
 * The temporary name ".NAME.XXXXXX" starts with a dot and does not end in
 * ".conf", so an Include of "*.conf" never picks it up.
 * Returns N8443_OK, or N8443_IO after printing why (PATH untouched).
 */
int n8443_write_atomic(const char *path, const char *data, size_t len,
                       mode_t mode)
{
    char *dir_copy = NULL;
    char *base_copy = NULL;
    char *tmp = NULL;
    const char *dir;
    size_t tmp_size;
    int fd = -1;
    int dir_fd = -1;
    int rc = N8443_IO;

    dir_copy = strdup(path);
    base_copy = strdup(path);
    if (dir_copy == NULL || base_copy == NULL) {
        n8443_error("out of memory");
        goto cleanup;
    }
    dir = dirname(dir_copy);
    tmp_size = strlen(dir) + strlen(path) + 16;
    tmp = malloc(tmp_size);
    if (tmp == NULL) {
        n8443_error("out of memory");
        goto cleanup;
    }
    snprintf(tmp, tmp_size, "%s/.%s.XXXXXX", dir, basename(base_copy));

    fd = mkstemp(tmp);
    if (fd < 0) {
        n8443_error("cannot create a file in %s: %s", dir, strerror(errno));
        free(tmp);
        tmp = NULL;
        goto cleanup;
    }
    if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0
        || fsync(fd) != 0) {
        n8443_error("cannot write %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (close(fd) != 0) {
        fd = -1;
        n8443_error("cannot write %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        n8443_error("cannot rename %s to %s: %s", tmp, path,
                    strerror(errno));
        goto cleanup;
    }
    free(tmp);
    tmp = NULL;

    dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0 || fsync(dir_fd) != 0) {
        /* The file is in place; only its durability across a crash is in
         * doubt, which the caller cannot undo either. */
        n8443_warn("cannot sync directory %s: %s", dir, strerror(errno));
    }
    rc = N8443_OK;

cleanup:
    if (fd >= 0) {
        close(fd);
    }
    if (tmp != NULL) {
        unlink(tmp);
        free(tmp);
    }
    if (dir_fd >= 0) {
        close(dir_fd);
    }
    free(dir_copy);
    free(base_copy);
    return rc;
}
