/*
 * n8443ctl - reading whole files and replacing them atomically.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
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
 * NAME in the directory DIRFD (AT_FDCWD: NAME is a path), read by read_fd;
 * LABEL names it in messages.  A missing file is not an error here:
 * *exists_out is 0 and the data empty.  *mode_out (if given) gets the
 * permission bits, for a replacement that keeps them.
 *
 * Only a regular file is read, and nothing can make the read block or go
 * elsewhere: the type is checked before opening (a FIFO would block open
 * itself, a device could be anything), the open never follows a final
 * symbolic link when NOFOLLOW and never waits (O_NONBLOCK), and the opened
 * file is checked again.  Prints why on failure.
 */
static int read_at(int dirfd, const char *name, const char *label, int nofollow,
                   size_t max, char **data_out, size_t *len_out,
                   int *exists_out, mode_t *mode_out)
{
    struct stat st;
    char *data = NULL;
    size_t len = 0;
    int fd = -1;
    int rc = N8443_IO;

    if (fstatat(dirfd, name, &st, nofollow ? AT_SYMLINK_NOFOLLOW : 0) != 0) {
        if (errno == ENOENT) {
            *data_out = NULL;
            *len_out = 0;
            *exists_out = 0;
            return N8443_OK;
        }
        n8443_error("cannot read %s: %s", label, strerror(errno));
        return N8443_IO;
    }
    if (nofollow && S_ISLNK(st.st_mode)) {
        n8443_error("cannot read %s: a symbolic link", label);
        return N8443_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        n8443_error("cannot read %s: not a regular file", label);
        return N8443_IO;
    }
    fd = openat(dirfd, name,
                O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY
                    | (nofollow ? O_NOFOLLOW : 0));
    if (fd < 0) {
        n8443_error("cannot read %s: %s", label,
                    errno == ELOOP ? "a symbolic link" : strerror(errno));
        return N8443_IO;
    }
    if (fstat(fd, &st) != 0) {
        n8443_error("cannot read %s: %s", label, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        n8443_error("cannot read %s: not a regular file", label);
        goto cleanup;
    }
    if (read_fd(fd, max, &data, &len) != 0) {
        n8443_error("cannot read %s: %s", label, strerror(errno));
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

static int read_path(const char *path, size_t max, char **data_out,
                     size_t *len_out, int *exists_out, mode_t *mode_out)
{
    return read_at(AT_FDCWD, path, path, 0, max, data_out, len_out, exists_out,
                   mode_out);
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
                             size_t *len_out, int *exists_out, mode_t *mode_out)
{
    return n8443_read_file_at(AT_FDCWD, path, path, max, data_out, len_out,
                              exists_out, mode_out);
}

/*
 * As n8443_read_file_optional for NAME in the directory DIRFD, never
 * following a symbolic link at NAME (when DIRFD is AT_FDCWD, links are
 * followed: NAME is the user's own path).  LABEL names it in messages.
 */
int n8443_read_file_at(int dirfd, const char *name, const char *label,
                       size_t max, char **data_out, size_t *len_out,
                       int *exists_out, mode_t *mode_out)
{
    char *data = NULL;
    size_t len = 0;
    int rc;

    rc = read_at(dirfd, name, label, dirfd != AT_FDCWD, max, &data, &len,
                 exists_out, mode_out);
    if (rc != N8443_OK) {
        return rc;
    }
    if (len > max) {
        n8443_error("cannot read %s: larger than %zu bytes", label, max);
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

/* A temporary name ".NAME.XXXXXX" with six random letters. */
static void temp_name(char *buf, size_t size, const char *name)
{
    static const char letters[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char rnd[6];
    char suffix[7];
    size_t i;

    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        unsigned long v = (unsigned long)getpid() ^ (unsigned long)time(NULL)
                          ^ (unsigned long)clock();

        for (i = 0; i < sizeof(rnd); i++) {
            rnd[i] = (unsigned char)(v >> (i * 5));
        }
    }
    for (i = 0; i < sizeof(rnd); i++) {
        suffix[i] = letters[rnd[i] % (sizeof(letters) - 1)];
    }
    suffix[6] = '\0';
    snprintf(buf, size, ".%s.%s", name, suffix);
}

/*
 * Replace NAME in the directory DIRFD with DATA so that a reader (httpd
 * reloading, a crash, a power cut) sees either the old or the new file,
 * never half of one: write a temporary file in the same directory, fsync
 * it, rename it over NAME and fsync the directory so that the rename
 * itself is on disk.  DIR_LABEL names the directory in messages.
 *
 * The temporary file is created with O_EXCL | O_NOFOLLOW (a name someone
 * else made in the meantime, also a link, is never opened: another name
 * is tried), and the rename replaces the directory entry NAME itself,
 * never what a link there points to.  Its name ".NAME.XXXXXX" starts with
 * a dot and does not end in ".conf", so an Include of "*.conf" never picks
 * it up.  Returns N8443_OK, or N8443_IO after printing why (NAME
 * untouched).
 */
int n8443_write_atomic_at(int dirfd, const char *dir_label, const char *name,
                          const char *data, size_t len, mode_t mode)
{
    char *tmp = NULL;
    size_t tmp_size = strlen(name) + 16;
    int fd = -1;
    int tries;
    int rc = N8443_IO;

    tmp = malloc(tmp_size);
    if (tmp == NULL) {
        n8443_error("out of memory");
        return N8443_IO;
    }
    for (tries = 0; tries < 100; tries++) {
        temp_name(tmp, tmp_size, name);
        fd = openat(dirfd, tmp,
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST) {
            break;
        }
    }
    if (fd < 0) {
        n8443_error("cannot create a file in %s: %s", dir_label,
                    strerror(errno));
        free(tmp);
        return N8443_IO;
    }
    if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0
        || fsync(fd) != 0) {
        n8443_error("cannot write %s/%s: %s", dir_label, tmp, strerror(errno));
        goto cleanup;
    }
    if (close(fd) != 0) {
        fd = -1;
        n8443_error("cannot write %s/%s: %s", dir_label, tmp, strerror(errno));
        goto cleanup;
    }
    fd = -1;
    if (renameat(dirfd, tmp, dirfd, name) != 0) {
        n8443_error("cannot rename %s/%s to %s/%s: %s", dir_label, tmp,
                    dir_label, name, strerror(errno));
        goto cleanup;
    }
    free(tmp);
    tmp = NULL;
    if (fsync(dirfd) != 0) {
        /* The file is in place; only its durability across a crash is in
         * doubt, which the caller cannot undo either. */
        n8443_warn("cannot sync directory %s: %s", dir_label, strerror(errno));
    }
    rc = N8443_OK;

cleanup:
    if (fd >= 0) {
        close(fd);
    }
    if (tmp != NULL) {
        unlinkat(dirfd, tmp, 0);
        free(tmp);
    }
    return rc;
}

/* n8443_write_atomic_at for PATH (render -o): its directory as named. */
int n8443_write_atomic(const char *path, const char *data, size_t len,
                       mode_t mode)
{
    char *dir_copy = strdup(path);
    char *base_copy = strdup(path);
    const char *dir;
    int dir_fd = -1;
    int rc = N8443_IO;

    if (dir_copy == NULL || base_copy == NULL) {
        n8443_error("out of memory");
        goto cleanup;
    }
    dir = dirname(dir_copy);
    dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) {
        n8443_error("cannot create a file in %s: %s", dir, strerror(errno));
        goto cleanup;
    }
    rc = n8443_write_atomic_at(dir_fd, dir, basename(base_copy), data, len,
                               mode);

cleanup:
    if (dir_fd >= 0) {
        close(dir_fd);
    }
    free(dir_copy);
    free(base_copy);
    return rc;
}

/* ------------------------------------------------------------ POSIX ACLs */

/* The kernel's xattr form of an access ACL (linux/posix_acl_xattr.h),
 * little-endian whatever the machine: a 4-byte version, then 8-byte
 * entries (tag, perm, id).  No libacl needed to read it. */
#define ACL_XATTR_VERSION 2
#define ACL_USER_OBJ      0x01
#define ACL_USER          0x02
#define ACL_GROUP_OBJ     0x04
#define ACL_GROUP         0x08
#define ACL_MASK          0x10
#define ACL_OTHER         0x20
#define ACL_PERM_WRITE    0x02

static unsigned long get_le(const unsigned char *p, int n)
{
    unsigned long v = 0;

    while (n-- > 0) {
        v = (v << 8) | p[n];
    }
    return v;
}

int n8443_acl_write_others(const unsigned char *acl, size_t len, uid_t self,
                           gid_t owner_gid, char *who, size_t who_size)
{
    unsigned long mask = 7;
    size_t i;

    if (len < 4 || (len - 4) % 8 != 0 || get_le(acl, 4) != ACL_XATTR_VERSION) {
        snprintf(who, who_size, "an ACL this tool cannot read");
        return 1;
    }
    /* A mask limits every entry but the owner's and other's. */
    for (i = 4; i < len; i += 8) {
        if (get_le(acl + i, 2) == ACL_MASK) {
            mask = get_le(acl + i + 2, 2);
        }
    }
    for (i = 4; i < len; i += 8) {
        unsigned long tag = get_le(acl + i, 2);
        unsigned long perm = get_le(acl + i + 2, 2);
        unsigned long id = get_le(acl + i + 4, 4);

        switch (tag) {
        case ACL_USER_OBJ: /* the owner: checked on its own */
        case ACL_MASK: break;
        case ACL_USER:
            if ((perm & mask & ACL_PERM_WRITE) && id != 0
                && id != (unsigned long)self) {
                snprintf(who, who_size, "user %lu", id);
                return 1;
            }
            break;
        case ACL_GROUP_OBJ: /* with a mask, the mode shows the mask */
            if ((perm & mask & ACL_PERM_WRITE) && owner_gid != 0) {
                snprintf(who, who_size, "group %lu", (unsigned long)owner_gid);
                return 1;
            }
            break;
        case ACL_GROUP:
            if ((perm & mask & ACL_PERM_WRITE) && id != 0) {
                snprintf(who, who_size, "group %lu", id);
                return 1;
            }
            break;
        case ACL_OTHER:
            if (perm & ACL_PERM_WRITE) {
                snprintf(who, who_size, "everyone");
                return 1;
            }
            break;
        default:
            snprintf(who, who_size,
                     "an ACL entry this tool cannot read "
                     "(tag 0x%lx)",
                     tag);
            return 1;
        }
    }
    return 0;
}

int n8443_acl_dir_write_others(const char *path, int fd, gid_t owner_gid,
                               char *who, size_t who_size)
{
    /* The largest extended attribute Linux stores. */
    size_t size = 65536;
    unsigned char *buf = malloc(size);
    ssize_t n;
    int res;

    if (buf == NULL) {
        snprintf(who, who_size, "its ACL: out of memory");
        return 1;
    }
    n = fd >= 0 ? fgetxattr(fd, "system.posix_acl_access", buf, size)
                : getxattr(path, "system.posix_acl_access", buf, size);
    if (n < 0) {
        /* No ACL, or a file system without them: the mode says it all. */
        res = errno == ENODATA || errno == ENOTSUP ? 0 : 1;
        if (res) {
            snprintf(who, who_size, "its ACL cannot be read: %s",
                     strerror(errno));
        }
    }
    else {
        res = n8443_acl_write_others(buf, (size_t)n, geteuid(), owner_gid, who,
                                     who_size);
    }
    free(buf);
    return res;
}
