/*
 * n8443ctl check - krb5.replay-cache-file: the directory of the replay
 * cache table's file (replay_cache_file, NegotiateReplayCacheFile;
 * default negotiate8443-rcache in httpd's runtime directory), which the
 * module maps at every start whatever the vhosts' replay_cache (the shm
 * store's table, and the instance's counters and quota), judged by
 * the rule httpd's parent applies at every start (N8443480, the module's
 * core/safe_dir.c itself) for the httpd user and its groups: neither the
 * directory nor any above it may be writable by them or by everybody (a
 * sticky directory allowed above the file's own), nor through an access
 * ACL; symbolic links' targets are walked too.  Otherwise httpd refuses
 * to start.  A missing directory stops it as well (N8443301: the file
 * cannot be created), except httpd's runtime directory, which the
 * service manager or apachectl makes before httpd starts.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "safe_dir.h"

#define ID "krb5.replay-cache-file"

#ifndef N8443_RUNTIME_DIR
#define N8443_RUNTIME_DIR ""
#endif

/* A missing (or unreadable) directory: what httpd does then. */
static struct n8443_record *no_dir(struct n8443_check_ctx *ctx,
                                   const char *path, const char *dir,
                                   int is_default, int err)
{
    struct n8443_record *rec;

    if (err == EACCES) {
        rec = n8443_report_add(ctx->rep, ID, N8443_SEV_ERROR,
                               "cannot examine %s, the directory of the "
                               "replay cache file %s (%s): run as root, as "
                               "httpd's parent is when it checks it",
                               dir, path, strerror(err));
        n8443_record_unusable(rec);
    }
    else if (is_default) {
        rec = n8443_report_add(
            ctx->rep, ID, N8443_SEV_WARNING,
            "httpd's runtime directory %s, where the replay cache file %s "
            "goes by default, does not exist (%s): the service manager or "
            "apachectl creates it before httpd starts; if nothing does, "
            "httpd cannot create the file and does not start (N8443301)",
            dir, path, strerror(err));
    }
    else {
        rec = n8443_report_add(
            ctx->rep, ID, N8443_SEV_ERROR,
            "the directory %s of the replay cache file %s "
            "(replay_cache_file) %s: httpd cannot create the file and does "
            "not start (N8443301). Create it, writable by root only: "
            "install -d -m 0755 %s",
            dir, path, err == ENOTDIR ? "is not a directory" : "does not exist",
            dir);
    }
    return rec;
}

/* The rule for the user: the record. */
static struct n8443_record *judge(struct n8443_check_ctx *ctx, const char *path,
                                  const char *dir)
{
    const struct n8443_httpd_user *user = &ctx->user;
    struct n8443_record *rec;
    char bad[PATH_MAX];
    char why[256];
    gid_t *groups;
    size_t ngroups;

    if (user->uid == 0) {
        /* As the module: the children are the parent. */
        return n8443_report_add(ctx->rep, ID, N8443_SEV_OK,
                                "the httpd user %s is root: its children "
                                "are no less trusted than the parent that "
                                "owns %s",
                                user->name, path);
    }
    /* The groups httpd's children run with (httpd calls initgroups). */
    groups = n8443_user_groups(user->name, user->gid, &ngroups);
    if (groups == NULL) {
        ctx->rep->failed = 1;
        return NULL;
    }
    if (n8443_safe_dir_check(path, user->uid, groups, ngroups, bad, sizeof(bad),
                             why, sizeof(why))
        == NULL) {
        rec = n8443_report_add(ctx->rep, ID, N8443_SEV_OK,
                               "%s: neither its directory nor any above it "
                               "can be written by the httpd user %s, its "
                               "groups or everybody",
                               path, user->name);
    }
    else {
        rec = n8443_report_add(
            ctx->rep, ID, N8443_SEV_ERROR,
            "the replay cache file %s is in %s, and %s is %s: httpd "
            "refuses to start (N8443480), as its children (and CGI "
            "scripts, as %s) could replace the table with an older copy "
            "and let used tokens in again. Make every directory of the "
            "path writable by root only (chown root; chmod go-w), or put "
            "the file in one that is, such as httpd's runtime directory",
            path, dir, bad, why, user->name);
        n8443_record_detail(ctx->rep, rec, "directory", "%s", bad);
        n8443_record_detail(ctx->rep, rec, "reason", "%s", why);
        /* The tool could not look where httpd's parent (root) can. */
        if (geteuid() != 0 && strncmp(why, "cannot be examined", 18) == 0) {
            n8443_record_unusable(rec);
        }
    }
    free(groups);
    return rec;
}

void n8443_check_rcache_file(struct n8443_check_ctx *ctx)
{
    const struct n8443_str *set = &ctx->site->kerberos.replay_cache_file;
    const char *path = ctx->opts->replay_cache_file;
    struct n8443_record *rec;
    char deflt[PATH_MAX];
    char copy[PATH_MAX];
    const char *dir;
    char where[300];
    struct stat st;
    int err;

    if (!n8443_report_wants(ctx->rep, ID)) {
        return;
    }
    if (path == NULL && N8443_RUNTIME_DIR[0] == '\0') {
        n8443_report_add(ctx->rep, ID, N8443_SEV_WARNING,
                         "httpd's runtime directory, where the replay "
                         "cache file goes by default, is unknown to this "
                         "build: set replay_cache_file to check its "
                         "directory");
        return;
    }
    if (path == NULL) {
        snprintf(deflt, sizeof(deflt), "%s/negotiate8443-rcache",
                 N8443_RUNTIME_DIR);
        path = deflt;
    }
    snprintf(copy, sizeof(copy), "%s", path); /* absolute: site_values.c */
    dir = n8443_dir_of(copy);
    if (ctx->user.name == NULL) {
        rec = n8443_report_add(ctx->rep, ID, N8443_SEV_WARNING,
                               "no httpd user found (neither apache nor "
                               "www-data exists): pass --httpd-user USER to "
                               "check that it cannot write in %s",
                               dir);
    }
    else {
        err = stat(dir, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
        rec = err != 0 ? no_dir(ctx, path, dir,
                                ctx->opts->replay_cache_file == NULL, err)
                       : judge(ctx, path, dir);
    }
    n8443_record_detail(ctx->rep, rec, "file", "%s", path);
    if (ctx->user.name != NULL) {
        n8443_record_detail(ctx->rep, rec, "user", "%s", ctx->user.name);
    }
    if (set->set && n8443_check_where(ctx, set->pos, where, sizeof(where))) {
        n8443_record_detail(ctx->rep, rec, "where", "%s", where);
    }
}
