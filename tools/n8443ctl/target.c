/*
 * n8443ctl - where install writes: the default target for a site file,
 * and the checks that make a target safe to replace as root (see
 * target.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "msgs.h"
#include "site.h"
#include "target.h"

#define ENV_CONFDIR "N8443CTL_CONFDIR"

/*
 * TARGET when --target is not given: CONFDIR/n8443-NAME.conf for a site
 * file with one site.  CONFDIR is $N8443CTL_CONFDIR, else the directory
 * chosen at build time from httpd's layout (apxs); a file with several
 * sites has no single name, so it needs --target.
 */
int n8443_default_target(const struct n8443_config *config, char **path_out)
{
    const char *dir = getenv(ENV_CONFDIR);
    size_t size;
    char *path;

#ifdef N8443CTL_CONFDIR
    if (dir == NULL || *dir == '\0') {
        dir = N8443CTL_CONFDIR;
    }
#endif
    if (dir == NULL || *dir == '\0') {
        n8443_error("no default configuration directory in this build: "
                    "pass --target FILE or set " ENV_CONFDIR);
        return N8443_USAGE;
    }
    if (config->nsites != 1) {
        n8443_error("the site file has %zu sites, so no single site names "
                    "the output file: pass --target FILE",
                    config->nsites);
        return N8443_USAGE;
    }
    size = strlen(dir) + strlen(config->sites[0].name.v) + 16;
    path = malloc(size);
    if (path == NULL) {
        n8443_error("out of memory");
        return N8443_IO;
    }
    snprintf(path, size, "%s/n8443-%s.conf", dir, config->sites[0].name.v);
    *path_out = path;
    return N8443_OK;
}

void n8443_target_close(struct target *t)
{
    if (t->dir_fd >= 0) {
        close(t->dir_fd);
    }
    free(t->dir);
    free(t->name);
    free(t->path);
    memset(t, 0, sizeof(*t));
    t->dir_fd = -1;
}

/* Owned by root or by whoever runs the tool: nobody else can replace an
 * entry in it or change its mode. */
static int trusted_owner(const struct stat *st)
{
    return st->st_uid == 0 || st->st_uid == geteuid();
}

/* Writable by someone other than its owner (and root's group)? */
static int writable_by_others(const struct stat *st)
{
    return (st->st_mode & S_IWOTH) != 0
           || ((st->st_mode & S_IWGRP) != 0 && st->st_gid != 0);
}

/*
 * A directory on the way to the target: a trusted owner, and writable by
 * nobody else unless it is sticky (/tmp: others cannot rename or remove
 * what they do not own).
 */
static int check_ancestor(const char *dir, const struct stat *st)
{
    char who[128];

    if (!trusted_owner(st)) {
        n8443_error("refusing to install below %s: owned by uid %ld, not "
                    "root",
                    dir, (long)st->st_uid);
        return 0;
    }
    if (st->st_mode & S_ISVTX) {
        return 1;
    }
    if (writable_by_others(st)) {
        n8443_error("refusing to install below %s: writable by others "
                    "(mode %04o), who could replace what is in it",
                    dir, (unsigned)(st->st_mode & 07777));
        return 0;
    }
    /* The mode does not tell all: an ACL entry can give write to
     * another user or group (while the mode reads 0775 root:root). */
    if (n8443_acl_dir_write_others(dir, -1, st->st_gid, who, sizeof(who))) {
        n8443_error("refusing to install below %s: writable by others "
                    "(ACL: %s), who could replace what is in it; remove "
                    "the entry (setfacl -b %s)",
                    dir, who, dir);
        return 0;
    }
    return 1;
}

/* The target's own directory: no sticky exception, a file in it would be
 * created next to files of others. */
static int check_target_dir(const char *dir, int fd, const struct stat *st)
{
    char who[128];

    if (!S_ISDIR(st->st_mode)) {
        n8443_error("cannot use %s: not a directory", dir);
        return 0;
    }
    if (!trusted_owner(st)) {
        n8443_error("refusing to install into %s: owned by uid %ld, not "
                    "root",
                    dir, (long)st->st_uid);
        return 0;
    }
    if (writable_by_others(st)) {
        n8443_error("refusing to install into %s: writable by others (mode "
                    "%04o), who could plant a link or a file in the "
                    "target's place; use a directory only root can write",
                    dir, (unsigned)(st->st_mode & 07777));
        return 0;
    }
    if (n8443_acl_dir_write_others(dir, fd, st->st_gid, who, sizeof(who))) {
        n8443_error("refusing to install into %s: writable by others (ACL: "
                    "%s), who could plant a link or a file in the target's "
                    "place; remove the entry (setfacl -b %s)",
                    dir, who, dir);
        return 0;
    }
    return 1;
}

/*
 * Every directory from / down to DIR (absolute) passes check_ancestor as
 * the holder of the next entry, and every symbolic link on the way is
 * owned by root or us (in a directory that passed: else someone could
 * point it elsewhere).  DIR itself is checked by the caller, on the open
 * directory.
 */
static int check_path_chain(const char *dir)
{
    size_t n = strlen(dir);
    char *prefix = malloc(n + 1);
    char *parent = malloc(n + 2);
    struct stat st;
    size_t i;
    size_t j;
    int ok = 0;

    if (prefix == NULL || parent == NULL) {
        n8443_error("out of memory");
        goto cleanup;
    }
    for (i = 1; i <= n; i++) {
        if ((i < n && dir[i] != '/') || dir[i - 1] == '/') {
            continue;
        }
        memcpy(prefix, dir, i);
        prefix[i] = '\0';
        for (j = i - 1; j > 0 && prefix[j] != '/'; j--) {
        }
        memcpy(parent, prefix, j == 0 ? 1 : j);
        parent[j == 0 ? 1 : j] = '\0';
        if (stat(parent, &st) != 0) {
            n8443_error("cannot use %s: %s", parent, strerror(errno));
            goto cleanup;
        }
        if (!check_ancestor(parent, &st)) {
            goto cleanup;
        }
        if (lstat(prefix, &st) != 0) {
            n8443_error("cannot use %s: %s", prefix, strerror(errno));
            goto cleanup;
        }
        if (S_ISLNK(st.st_mode) && !trusted_owner(&st)) {
            n8443_error("refusing to install below %s: a symbolic link "
                        "owned by uid %ld, not root",
                        prefix, (long)st.st_uid);
            goto cleanup;
        }
    }
    ok = 1;

cleanup:
    free(prefix);
    free(parent);
    return ok;
}

/*
 * Open the target's directory and check the target: not a symbolic link
 * (root following a link that someone else planted would overwrite any
 * file, and keep its old contents in .prev), not a FIFO, device or
 * directory (checked before anything opens it), in a directory that only
 * root (or the user running the tool) can write, reached through
 * directories and links nobody else controls.  Also takes the install
 * lock: flock(2) on the directory serialises installs into it (two at
 * once could keep each other's file as .prev or roll back to a file the
 * other wrote), needs no lock file and ends with the process.
 */
int n8443_target_open(const char *target, struct target *t)
{
    char *dcopy = strdup(target);
    char *bcopy = strdup(target);
    char cwd[PATH_MAX];
    char *absdir = NULL;
    char *real = NULL;
    struct stat st;
    int rc = N8443_IO;

    memset(t, 0, sizeof(*t));
    t->dir_fd = -1;
    if (dcopy == NULL || bcopy == NULL) {
        n8443_error("out of memory");
        goto cleanup;
    }
    t->dir = strdup(dirname(dcopy));
    t->name = strdup(basename(bcopy));
    t->path = strdup(target);
    if (t->dir == NULL || t->name == NULL || t->path == NULL) {
        n8443_error("out of memory");
        goto cleanup;
    }
    if (target[0] == '\0' || target[strlen(target) - 1] == '/'
        || strcmp(t->name, ".") == 0 || strcmp(t->name, "..") == 0) {
        n8443_error("cannot use %s: not a file name", target);
        goto cleanup;
    }
    if (t->dir[0] == '/') {
        absdir = strdup(t->dir);
    }
    else if (getcwd(cwd, sizeof(cwd)) != NULL) {
        size_t size = strlen(cwd) + strlen(t->dir) + 2;

        absdir = malloc(size);
        if (absdir != NULL) {
            snprintf(absdir, size, "%s/%s", cwd, t->dir);
        }
    }
    else {
        n8443_error("cannot use %s: %s", t->dir, strerror(errno));
        goto cleanup;
    }
    if (absdir == NULL) {
        n8443_error("out of memory");
        goto cleanup;
    }
    if (stat(t->dir, &st) != 0) {
        n8443_error("cannot use %s: %s", t->dir, strerror(errno));
        goto cleanup;
    }
    if (!S_ISDIR(st.st_mode)) {
        n8443_error("cannot use %s: not a directory", t->dir);
        goto cleanup;
    }
    /* The path as given (its links), then where it leads. */
    if (!check_path_chain(absdir)) {
        goto cleanup;
    }
    real = realpath(absdir, NULL);
    if (real == NULL) {
        n8443_error("cannot use %s: %s", t->dir, strerror(errno));
        goto cleanup;
    }
    if (strcmp(real, absdir) != 0 && !check_path_chain(real)) {
        goto cleanup;
    }
    t->dir_fd = open(real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (t->dir_fd < 0 || fstat(t->dir_fd, &st) != 0) {
        n8443_error("cannot use %s: %s", t->dir, strerror(errno));
        goto cleanup;
    }
    if (!check_target_dir(t->dir, t->dir_fd, &st)) {
        goto cleanup;
    }
    if (flock(t->dir_fd, LOCK_EX) != 0) {
        n8443_error("cannot lock %s: %s", t->dir, strerror(errno));
        goto cleanup;
    }
    /* Under the lock, as everything that follows. */
    if (fstatat(t->dir_fd, t->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(st.st_mode)) {
            char dest[PATH_MAX];
            ssize_t n = readlinkat(t->dir_fd, t->name, dest, sizeof(dest) - 1);

            dest[n > 0 ? n : 0] = '\0';
            n8443_error("refusing to install to %s: it is a symbolic link "
                        "(to %s); pass the file itself as --target",
                        target, n > 0 ? dest : "?");
            goto cleanup;
        }
        if (!S_ISREG(st.st_mode)) {
            n8443_error("refusing to install to %s: not a regular file (%s)",
                        target,
                        S_ISFIFO(st.st_mode)   ? "a FIFO"
                        : S_ISDIR(st.st_mode)  ? "a directory"
                        : S_ISSOCK(st.st_mode) ? "a socket"
                                               : "a device");
            goto cleanup;
        }
    }
    else if (errno != ENOENT) {
        n8443_error("cannot use %s: %s", target, strerror(errno));
        goto cleanup;
    }
    rc = N8443_OK;

cleanup:
    free(real);
    free(absdir);
    free(dcopy);
    free(bcopy);
    if (rc != N8443_OK) {
        n8443_target_close(t);
    }
    return rc;
}
