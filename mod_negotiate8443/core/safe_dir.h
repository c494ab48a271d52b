/*
 * safe_dir.h - the one rule for "httpd's children cannot swap this file
 * for another", shared by the module (which applies it to the replay
 * cache table's file at every start, N8443480: rcache_file.c) and
 * n8443ctl check (krb5.replay-cache-file), so an operator learns of an
 * unsafe directory before httpd refuses to start.  Pure C, no httpd.
 *
 * The file's directory, and every one above it, must not be writable by
 * httpd's User, by one of its groups or by everybody (a sticky directory
 * such as /tmp is allowed above the file's own directory, not as it),
 * nor through an access ACL that lets User or one of its groups write; a
 * directory owned by User fails too.  Both where the directory really is
 * (realpath) and the path as written are walked, and for every symbolic
 * link on the way every directory its target text walks through (a link
 * whose target goes through a link, or "..", in a directory of User shows
 * in neither).  Who may write there may rename an older copy of the file
 * (made by root, which no owner check sees) over it.
 */
#ifndef N8443_SAFE_DIR_H
#define N8443_SAFE_DIR_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Judge the directory of path (the file itself need not exist) for a
 * user uid whose groups are groups[0..ngroups-1] (httpd's Group and
 * User's supplementary groups).  NULL when nobody besides root may write
 * there, or when the directory cannot be resolved (missing: opening the
 * file says so).  Else what is wrong, in words ("writable by everybody
 * (mode 0777)"), in why, and the directory or link it is about in bad
 * (both always terminated; a path too long for bad is cut).
 */
const char *n8443_safe_dir_check(const char *path, uid_t uid,
                                 const gid_t *groups, size_t ngroups, char *bad,
                                 size_t badlen, char *why, size_t whylen);

/* The groups a process of user name runs with after initgroups: gid and
 * name's supplementary groups (only gid for a NULL name or "#uid");
 * *n of them, malloc'ed.  NULL when memory ran out. */
gid_t *n8443_user_groups(const char *name, gid_t gid, size_t *n);

/* The directory of path, a copy of it that the caller may write: the
 * last '/' cut there ("." for a bare name, "/" for a file in /). */
char *n8443_dir_of(char *copy);

#endif /* N8443_SAFE_DIR_H */
