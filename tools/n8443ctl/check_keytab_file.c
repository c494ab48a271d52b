/*
 * n8443ctl check - who can read the keytab file: its mode bits
 * (keytab.permissions) and the httpd user (keytab.httpd-user); the probe
 * also serves the Redis password file (check_redis.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/*
 * Can USER open FILE for reading?  As root, a child process becomes the
 * user (groups included) and tries, as mod_negotiate8443 does at start-up;
 * otherwise the answer comes from the file mode (*how_out says which).
 * Returns 1 or 0, or -1 when it could not be found out.
 */
int n8443_check_readable_by(const struct n8443_httpd_user *user,
                            const char *file, const struct stat *st,
                            const char **how_out)
{
    gid_t groups[256];
    int ngroups = 256;
    int status;
    pid_t pid;
    int i;

    if (geteuid() == 0) {
        *how_out = "tried as that user";
        pid = fork();
        if (pid < 0) {
            return -1;
        }
        if (pid == 0) {
            int fd;

            if (initgroups(user->name, user->gid) != 0 || setgid(user->gid) != 0
                || setuid(user->uid) != 0) {
                _exit(2);
            }
            fd = open(file, O_RDONLY | O_CLOEXEC);
            _exit(fd >= 0 ? 0 : 1);
        }
        while (waitpid(pid, &status, 0) < 0) {
            if (errno != EINTR) {
                return -1;
            }
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) > 1) {
            return -1;
        }
        return WEXITSTATUS(status) == 0;
    }
    if (geteuid() == user->uid) {
        *how_out = "tried as that user";
        return access(file, R_OK) == 0;
    }
    /* Not root: the mode bits, without directories or ACLs. */
    *how_out = "estimated from the file mode (run as root to try it)";
    if (st->st_uid == user->uid) {
        return (st->st_mode & S_IRUSR) != 0;
    }
    if (getgrouplist(user->name, user->gid, groups, &ngroups) >= 0) {
        for (i = 0; i < ngroups; i++) {
            if (groups[i] == st->st_gid) {
                return (st->st_mode & S_IRGRP) != 0;
            }
        }
    }
    return (st->st_mode & S_IROTH) != 0;
}

static const char *owner_name(uid_t uid, char *buf, size_t len)
{
    const struct passwd *pw = getpwuid(uid);

    if (pw != NULL) {
        snprintf(buf, len, "%s", pw->pw_name);
    }
    else {
        snprintf(buf, len, "%ld", (long)uid);
    }
    return buf;
}

static const char *group_name(gid_t gid, char *buf, size_t len)
{
    const struct group *gr = getgrgid(gid);

    if (gr != NULL) {
        snprintf(buf, len, "%s", gr->gr_name);
    }
    else {
        snprintf(buf, len, "%ld", (long)gid);
    }
    return buf;
}

/* Mode bits that let others than owner and group near the key. */
void n8443_check_keytab_permissions(struct n8443_check_ctx *ctx,
                                    const char *file, const struct stat *st)
{
    struct n8443_record *rec;
    char owner[64];
    char group[64];
    unsigned mode = (unsigned)(st->st_mode & 07777);

    owner_name(st->st_uid, owner, sizeof(owner));
    group_name(st->st_gid, group, sizeof(group));
    if (st->st_mode & (S_IROTH | S_IWOTH)) {
        rec = n8443_report_add(
            ctx->rep, "keytab.permissions", N8443_SEV_ERROR,
            "%s is %s by every user on this host (mode %04o): the keytab "
            "is the service's password, anyone who reads it can pose as "
            "the site or decrypt its tickets. chmod 0640 %s (owner %s, "
            "group of the httpd user), and since it was exposed, change "
            "the key on the KDC and export it again",
            file, (st->st_mode & S_IROTH) ? "readable" : "writable", mode, file,
            owner);
        n8443_record_detail(ctx->rep, rec, "file", "%s", file);
        n8443_record_detail(ctx->rep, rec, "mode", "%04o", mode);
        n8443_record_detail(ctx->rep, rec, "owner", "%s", owner);
        n8443_record_detail(ctx->rep, rec, "group", "%s", group);
        return;
    }
    rec = n8443_report_add(ctx->rep, "keytab.permissions", N8443_SEV_OK,
                           "%s: mode %04o, owner %s, group %s; no one else "
                           "can read it",
                           file, mode, owner, group);
    n8443_record_detail(ctx->rep, rec, "mode", "%04o", mode);
}

/*
 * Without GSS-Proxy the httpd user must read the keytab (or httpd starts
 * and every login fails); with GSS-Proxy it must not (that is the point).
 */
void n8443_check_keytab_httpd_user(struct n8443_check_ctx *ctx,
                                   const char *file, const struct stat *st)
{
    const struct n8443_httpd_user *user = &ctx->user;
    int gssproxy = ctx->site->kerberos.gssproxy.v;
    struct n8443_record *rec;
    const char *how = "";
    int readable;

    if (user->name == NULL) {
        n8443_report_add(ctx->rep, "keytab.httpd-user", N8443_SEV_WARNING,
                         "no httpd user found (neither apache nor "
                         "www-data exists): pass --httpd-user USER to check "
                         "that httpd can read %s",
                         file);
        return;
    }
    readable = n8443_check_readable_by(user, file, st, &how);
    if (readable < 0) {
        rec = n8443_report_add(ctx->rep, "keytab.httpd-user", N8443_SEV_WARNING,
                               "could not find out whether %s can read %s",
                               user->name, file);
        n8443_record_detail(ctx->rep, rec, "user", "%s", user->name);
        return;
    }
    if (gssproxy && readable) {
        rec = n8443_report_add(
            ctx->rep, "keytab.httpd-user", N8443_SEV_WARNING,
            "the httpd user %s can read %s, which only gssproxy (root) "
            "should: with gssproxy: true a compromised httpd child could "
            "copy the keys. chown root:root %s; chmod 0400 %s",
            user->name, file, file, file);
    }
    else if (gssproxy) {
        rec = n8443_report_add(ctx->rep, "keytab.httpd-user", N8443_SEV_OK,
                               "the httpd user %s cannot read %s: only "
                               "gssproxy holds the keys",
                               user->name, file);
    }
    else if (!readable) {
        rec = n8443_report_add(
            ctx->rep, "keytab.httpd-user", N8443_SEV_ERROR,
            "the httpd user %s (uid %ld) cannot read %s: httpd refuses to "
            "start (or, after a key rotation, every login fails). chgrp "
            "%s %s; chmod 0640 %s (and make the directories searchable)",
            user->name, (long)user->uid, file, user->name, file, file);
    }
    else {
        rec =
            n8443_report_add(ctx->rep, "keytab.httpd-user", N8443_SEV_OK,
                             "the httpd user %s can read %s", user->name, file);
    }
    n8443_record_detail(ctx->rep, rec, "user", "%s", user->name);
    n8443_record_detail(ctx->rep, rec, "user_from", "%s", user->how);
    n8443_record_detail(ctx->rep, rec, "method", "%s", how);
}
