/*
 * safe_dir.c - who besides root may write in a file's directories
 * (safe_dir.h).
 */
#include "safe_dir.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Symbolic links followed in one check: the kernel's limit (ELOOP). */
#define SAFE_DIR_MAX_LINKS 40

/* One check: whom it judges for, where the verdict goes. */
typedef struct {
    uid_t uid;
    const gid_t *groups;
    size_t ngroups;
    char *bad;
    size_t badlen;
    char *why;
    size_t whylen;
    int links;
} walk;

static const char *say(walk *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The reason, in w->why; returns it. */
static const char *say(walk *w, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(w->why, w->whylen, fmt, ap);
    va_end(ap);
    return w->why;
}

static void set_bad(walk *w, const char *path)
{
    snprintf(w->bad, w->badlen, "%s", path);
}

static int in_groups(const walk *w, uint32_t gid)
{
    size_t i;

    for (i = 0; i < w->ngroups; i++)
        if (gid == (uint32_t)w->groups[i])
            return 1;
    return 0;
}

/* An access ACL on dir (the kernel's xattr form: version 2, then tag,
 * perm, id, little-endian) with a named entry for the user or one of its
 * groups that may write, under a mask that lets it: 1.  An ACL that
 * cannot be read or understood counts as one (fail closed). */
static int acl_writer(const walk *w, const char *dir)
{
    unsigned char b[4 + 8 * 256];
    int named = 0, mask = 1;
    ssize_t n = lgetxattr(dir, "system.posix_acl_access", b, sizeof(b));
    ssize_t o;

    if (n < 0)
        return errno != ENODATA && errno != ENOTSUP && errno != EOPNOTSUPP;
    if (n < 4 || (n - 4) % 8 != 0 || (b[0] | b[1] << 8) != 2 || b[2] || b[3])
        return 1;
    for (o = 4; o < n; o += 8) {
        unsigned tag = b[o] | b[o + 1] << 8, perm = b[o + 2] | b[o + 3] << 8;
        uint32_t id = (uint32_t)b[o + 4] | (uint32_t)b[o + 5] << 8
                      | (uint32_t)b[o + 6] << 16 | (uint32_t)b[o + 7] << 24;

        if (tag == 0x10) /* ACL_MASK */
            mask = (perm & 2) != 0;
        else if (tag == 0x02 && (perm & 2) /* ACL_USER */
                 && id == (uint32_t)w->uid)
            named = 1;
        else if (tag == 0x08 && (perm & 2) && in_groups(w, id)) /* GROUP */
            named = 1;
    }
    return named && mask;
}

/* Who besides root may write in dir (st), for the user: NULL when
 * nobody; own: the file's own directory (no sticky bit excuse). */
static const char *dir_writer(walk *w, const char *dir, const struct stat *st,
                              int own)
{
    int sticky = !own && (st->st_mode & S_ISVTX);

    if (st->st_uid == w->uid)
        return say(w, "owned by httpd's User (uid %ld)", (long)st->st_uid);
    if ((st->st_mode & S_IWGRP) && !sticky && in_groups(w, st->st_gid))
        return say(w,
                   "writable by group %ld, one of httpd's User's (mode "
                   "%04o)",
                   (long)st->st_gid, (unsigned)(st->st_mode & 07777));
    if ((st->st_mode & S_IWOTH) && !sticky)
        return say(w, "writable by everybody (mode %04o)",
                   (unsigned)(st->st_mode & 07777));
    if (!sticky && acl_writer(w, dir))
        return say(w, "writable by httpd's User or one of its groups "
                      "through an access ACL (getfacl shows it)");
    return NULL;
}

static const char *chain_writer(walk *w, char *dir, int own);

/* The symbolic link at path: the directories its target text walks
 * through are walked as well (a link's target may go through another
 * link, or through "..", in a directory of User, which neither the real
 * path nor the path as written shows). */
static const char *link_writer(walk *w, const char *path)
{
    char buf[PATH_MAX], *target;
    const char *slash, *why;
    size_t head;
    ssize_t n;

    if (++w->links > SAFE_DIR_MAX_LINKS) {
        set_bad(w, path);
        return say(w, "the end of too many symbolic links");
    }
    n = readlink(path, buf, sizeof(buf) - 1);
    if (n < 0) {
        set_bad(w, path);
        return say(w, "cannot be examined (%s)", strerror(errno));
    }
    buf[n] = '\0';
    slash = strrchr(path, '/');
    head = buf[0] == '/' || slash == NULL ? 0 : (size_t)(slash - path) + 1;
    target = malloc(head + (size_t)n + 1);
    if (target == NULL) {
        set_bad(w, path);
        return say(w, "cannot be examined (%s)", strerror(ENOMEM));
    }
    memcpy(target, path, head); /* "dir/" of the link, or nothing */
    memcpy(target + head, buf, (size_t)n + 1);
    why = chain_writer(w, target, 0);
    free(target);
    return why;
}

/* The first directory from dir up to / that the user may write in: what
 * is wrong with it, and its path in w->bad; NULL when none.  dir
 * (modified) is walked as written: a symbolic link on the way is not
 * followed, its own directory is checked, and so is every directory its
 * target walks through (link_writer); own: dir is the file's own. */
static const char *chain_writer(walk *w, char *dir, int own)
{
    const char *why;
    struct stat st;
    char *slash;

    for (;;) {
        if (lstat(dir, &st) != 0)
            why = say(w, "cannot be examined (%s)", strerror(errno));
        else if (S_ISLNK(st.st_mode)) {
            why = link_writer(w, dir);
            if (why != NULL)
                return why;
        }
        else
            why = dir_writer(w, dir, &st, own);
        if (why != NULL) {
            set_bad(w, dir);
            return why;
        }
        slash = strrchr(dir, '/');
        if (slash == NULL || strcmp(dir, "/") == 0)
            return NULL;
        own = 0;
        if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
    }
}

gid_t *n8443_user_groups(const char *name, gid_t gid, size_t *n)
{
    int k = 64, rc = -1;
    gid_t *g = malloc((size_t)k * sizeof(*g)), *more;

    if (g == NULL)
        return NULL;
    if (name != NULL && name[0] != '#') {
        rc = getgrouplist(name, gid, g, &k);
        if (rc < 0 && k > 64) { /* k: the number it needs */
            more = realloc(g, (size_t)k * sizeof(*g));
            if (more == NULL) {
                free(g);
                return NULL;
            }
            g = more;
            rc = getgrouplist(name, gid, g, &k);
        }
    }
    if (rc < 0) {
        g[0] = gid;
        k = 1;
    }
    *n = (size_t)k;
    return g;
}

char *n8443_dir_of(char *copy)
{
    char *slash = strrchr(copy, '/');

    if (slash == NULL)
        return ".";
    if (slash == copy)
        return "/";
    *slash = '\0';
    return copy;
}

const char *n8443_safe_dir_check(const char *path, uid_t uid,
                                 const gid_t *groups, size_t ngroups, char *bad,
                                 size_t badlen, char *why, size_t whylen)
{
    walk w = {uid, groups, ngroups, bad, badlen, why, whylen, 0};
    char real[PATH_MAX], *copy, *dir;
    const char *found = NULL;

    bad[0] = '\0';
    why[0] = '\0';
    copy = strdup(path);
    if (copy == NULL) {
        set_bad(&w, path);
        return say(&w, "cannot be examined (%s)", strerror(ENOMEM));
    }
    dir = n8443_dir_of(copy);
    /* A missing directory: opening the file says so. */
    if (realpath(dir, real) != NULL) {
        /* Where the directory really is, and the path that leads there
         * (dir, cut as it is walked: the last use of it). */
        found = chain_writer(&w, real, 1);
        if (found == NULL && dir[0] == '/')
            found = chain_writer(&w, dir, 1);
    }
    free(copy);
    return found;
}
