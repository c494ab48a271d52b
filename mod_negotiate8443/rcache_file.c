/*
 * rcache_file.c - the file the shm replay cache lives in
 * (NegotiateReplayCacheFile; default "negotiate8443-rcache" in httpd's
 * runtime directory), mapped shared into the parent and, through fork(),
 * every child.  Because the table is in a file and not in anonymous
 * memory, a full stop/start and a kill -9 of every httpd process keep it:
 * the next start maps the same pages again.  rcache_shm.c checks the
 * header and decides whether the contents can be used.
 *
 * The file is checked at start-up as the keytab is: a regular file (no
 * symbolic link followed), owned by the user httpd starts as, with no
 * permission for group or others (created 0600).  A file owned by httpd's
 * User (the identity of CGI scripts too, which could plant an older copy
 * of the table) is not trusted: removed, and the table starts empty with
 * a new watermark.  Its directory, and every one above it, must not be
 * writable by httpd's User or Group (or by everybody: a sticky directory
 * such as /tmp is allowed above the file's own): who may write there may
 * swap the file for an older copy made by root, which no owner check
 * sees (an access ACL that lets them write counts; every symbolic
 * link's target path is walked too).  Checked at every start
 * (n8443_rc_file_dir_check, with the rule in core/safe_dir.c, which
 * n8443ctl check applies too); a directory that fails it stops httpd.  The
 * instance holds an exclusive lock (flock) on it for as long as any of its
 * processes lives, so two instances never share one table (they would
 * not share a mutex).  The blocks are reserved (posix_fallocate) so that
 * a full disk is a start-up error and never a SIGBUS in a child.
 */
#include "n8443_private.h"
#include "rcache_provider.h"
#include "safe_dir.h"

#include "unixd.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* How long a start waits for the previous instance's last processes to
 * let go of the file. */
#define RC_FILE_LOCK_WAIT 10

const char *n8443_rc_file_path(apr_pool_t *p)
{
    if (n8443_instance.rc_file != NULL)
        return n8443_instance.rc_file;
    return ap_runtime_dir_relative(p, "negotiate8443-rcache");
}

/* The owner and mode the file must have; NULL or what is wrong. */
static const char *file_misfit(apr_pool_t *p, const struct stat *st)
{
    if (!S_ISREG(st->st_mode))
        return "not a regular file";
    if (st->st_uid != geteuid())
        return apr_psprintf(p,
                            "owned by uid %ld, not by the user httpd "
                            "starts as (%ld)",
                            (long)st->st_uid, (long)geteuid());
    if (st->st_mode & (S_IRWXG | S_IRWXO))
        return apr_psprintf(p,
                            "mode %04o: group or others may access it "
                            "(it must be 0600)",
                            (unsigned)(st->st_mode & 07777));
    return NULL;
}

apr_status_t n8443_rc_file_dir_check(apr_pool_t *pool, server_rec *s,
                                     const char *path)
{
    char bad[PATH_MAX], why[256];
    apr_status_t rv = APR_SUCCESS;
    gid_t *groups;
    size_t ngroups;

    /* Started as the User itself: the children are the parent. */
    if (geteuid() != 0 || ap_unixd_config.user_id == geteuid())
        return APR_SUCCESS;
    /* Group and User's supplementary groups (httpd calls initgroups). */
    groups = n8443_user_groups(ap_unixd_config.user_name,
                               ap_unixd_config.group_id, &ngroups);
    if (groups == NULL)
        return APR_ENOMEM;
    /* The rule (core/safe_dir.c, shared with n8443ctl check): NULL for a
     * missing directory too, which opening the file reports (N8443301). */
    if (n8443_safe_dir_check(path, ap_unixd_config.user_id, groups, ngroups,
                             bad, sizeof(bad), why, sizeof(why))
        != NULL) {
        ap_log_error(
            APLOG_MARK, APLOG_EMERG, 0, s,
            N8443LOGNO(480) "the replay cache file %s "
            "(NegotiateReplayCacheFile) is in %s, and %s is %s: "
            "httpd's children (and CGI scripts) could replace the table "
            "with an older copy and let used tokens in again. Make every "
            "directory of the path writable by root only (chown root; "
            "chmod go-w), or put the file in one that is, such as httpd's "
            "runtime directory (/run/httpd on RHEL)",
            path, n8443_dir_of(apr_pstrdup(pool, path)), bad, why);
        rv = APR_EGENERAL;
    }
    free(groups);
    return rv;
}

static int lock_file(int fd)
{
    int i;

    for (i = 0; i < RC_FILE_LOCK_WAIT * 10; i++) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        apr_sleep(apr_time_from_msec(100));
    }
    return -1;
}

void n8443_rc_file_close(n8443_rc_file *f)
{
    if (f->base != NULL)
        munmap(f->base, f->bytes);
    if (f->fd >= 0)
        close(f->fd);
    f->base = NULL;
    f->fd = -1;
}

apr_status_t n8443_rc_file_map(apr_pool_t *p, server_rec *s, const char *path,
                               apr_size_t bytes, n8443_rc_file **out)
{
    n8443_rc_file *f = apr_pcalloc(p, sizeof(*f));
    const char *misfit = NULL;
    struct stat st;
    apr_status_t rv;
    int replaced = 0;

    f->fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (f->fd < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     N8443LOGNO(301) "cannot open the replay cache file %s "
                     "(NegotiateReplayCacheFile): its directory must exist "
                     "and be writable by the user httpd starts as; a "
                     "symbolic link is not followed",
                     path);
        return rv;
    }
    if (fstat(f->fd, &st) == 0 && st.st_uid != geteuid()
        && st.st_uid == ap_unixd_config.user_id && S_ISREG(st.st_mode)) {
        /* Its contents may be anything the User wrote: lost memory. */
        ap_log_error(
            APLOG_MARK, APLOG_WARNING, 0, s,
            N8443LOGNO(452) "the replay cache file %s is owned by httpd's User "
            "(uid %ld), which may have written it: removed, the "
            "table starts empty",
            path, (long)st.st_uid);
        close(f->fd);
        f->fd = -1;
        replaced = 1;
        if (unlink(path) == 0)
            f->fd = open(
                path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (f->fd < 0) {
            rv = APR_FROM_OS_ERROR(errno);
            ap_log_error(
                APLOG_MARK, APLOG_EMERG, rv, s,
                N8443LOGNO(453) "cannot replace the replay cache file %s",
                path);
            return rv;
        }
    }
    /* The path may live in the configuration pool, which dies between
     * the two configuration passes; f lives in the process pool. */
    f->path = apr_pstrdup(p, path);
    f->bytes = bytes;
    /* No cleanup in p (the process pool): httpd destroys it after it
     * unloaded the module, and would call into unmapped code.  The
     * failures below close f; the process's end closes the rest. */
    if (fstat(f->fd, &st) != 0 || (misfit = file_misfit(p, &st)) != NULL) {
        ap_log_error(
            APLOG_MARK, APLOG_EMERG, 0, s,
            N8443LOGNO(302) "the replay cache file %s cannot be trusted: %s. "
            "It must be a regular file owned by the user httpd "
            "starts as, mode 0600; remove it and "
            "httpd creates it",
            path, misfit ? misfit : strerror(errno));
        n8443_rc_file_close(f);
        return APR_EGENERAL;
    }
    if (lock_file(f->fd) != 0) {
        ap_log_error(
            APLOG_MARK, APLOG_EMERG, 0, s,
            N8443LOGNO(303) "the replay cache file %s is in use by another "
            "httpd instance (or its processes did not exit "
            "within %d s): each instance needs a file of its own "
            "(NegotiateReplayCacheFile)",
            path, RC_FILE_LOCK_WAIT);
        n8443_rc_file_close(f);
        return APR_EGENERAL;
    }
    /* Same size: the contents may be usable (the caller checks the
     * header).  Otherwise start from zeros.  Either way every block is
     * reserved (a kept file may have holes). */
    f->kept = (apr_size_t)st.st_size == bytes;
    f->created = st.st_size == 0 && !replaced;
    {
        int err = 0;

        if (!f->kept && ftruncate(f->fd, 0) != 0)
            err = errno;
        else
            err = posix_fallocate(f->fd, 0, (off_t)bytes);
        if (err != 0) {
            rv = APR_FROM_OS_ERROR(err);
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                         N8443LOGNO(304) "cannot size the replay cache file %s "
                         "to %" APR_SIZE_T_FMT " bytes (disk full?); lower "
                         "NegotiateReplayCacheSize or free space",
                         path, bytes);
            n8443_rc_file_close(f);
            return rv;
        }
    }
    f->base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
    if (f->base == MAP_FAILED) {
        f->base = NULL;
        rv = APR_FROM_OS_ERROR(errno);
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     N8443LOGNO(305) "cannot map the replay cache file %s "
                     "(%" APR_SIZE_T_FMT " bytes)",
                     path, bytes);
        n8443_rc_file_close(f);
        return rv;
    }
    *out = f;
    return APR_SUCCESS;
}

void n8443_rc_boot_id(char *buf, apr_size_t len)
{
    apr_file_t *f;
    apr_pool_t *p;
    apr_size_t n = len - 1;

    memset(buf, 0, len);
    if (apr_pool_create(&p, NULL) != APR_SUCCESS)
        return;
    if (apr_file_open(&f, "/proc/sys/kernel/random/boot_id", APR_FOPEN_READ, 0,
                      p)
        == APR_SUCCESS) {
        if (apr_file_read(f, buf, &n) != APR_SUCCESS)
            memset(buf, 0, len);
        apr_file_close(f);
    }
    apr_pool_destroy(p);
}
