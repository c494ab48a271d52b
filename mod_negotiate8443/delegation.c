/*
 * delegation.c - credentials for the application behind the login:
 *
 *   NegotiateDelegation On            the ticket the client delegated
 *   NegotiateConstrainedDelegation On S4U2Proxy evidence: the client's own
 *                                     (forwardable) service ticket plus the
 *                                     service's keys, so that the
 *                                     application can get tickets to the
 *                                     backends the KDC allows, for the user
 *
 * Either way the credentials go into a FILE ccache and the application
 * gets its name in KRB5CCNAME, and only there.  Every other program that
 * runs as the httpd user (a CGI of another vhost, say) must not find it:
 *
 *   NegotiateDelegationDir/            0700 or 0711, not writable by others
 *     <host>_<port>_<digest>/          one per vhost, made at start-up:
 *                                      root:<group> 0730 when httpd starts
 *                                      as root, so that the httpd user can
 *                                      create files in it and open a file
 *                                      whose name it knows, but never list
 *                                      it (and cannot chmod it, not its own)
 *       n8443cc_<HMAC(key, principal)> 0600 (NegotiateDelegationPerms), the
 *                                      httpd user's
 *
 * The file name is an HMAC of the principal under a random key that the
 * parent makes once and the children inherit: stable for one user (a new
 * login replaces the cache in place), unguessable for everybody else, and
 * never the principal's text (a principal with '/' or '..' cannot name a
 * path outside the directory).  A cache is written under a temporary name
 * and renamed into place, so a concurrent request of the same user never
 * reads half a cache; its mtime is set to the credentials' end, and the
 * parent (root, the only one that may list the directories) removes caches
 * past that from the monitor hook.
 *
 * What this does not stop: code running as the httpd user can read a file
 * whose name it learns, and it learns it from /proc/<pid>/environ of an
 * application process of the same uid while that runs.  Real separation
 * needs the applications under other uids (suexec, php-fpm pools) and the
 * files given to their group (NegotiateDelegationPerms), or GSS-Proxy.
 */
#include "n8443_private.h"
#include "encode.h"
#include "sha256.h"

#include "apr_lib.h"
#include "apr_strings.h"
#include "mod_unixd.h"
#include "unixd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define CC_PREFIX "n8443cc_"
#define TMP_INFIX ".tmp."
/* How often (per process) a child that may list its directory sweeps it;
 * the parent sweeps on every monitor run (about every 10 s). */
#define SWEEP_INTERVAL apr_time_from_sec(60)
/* A temporary file older than this was left by a crash. */
#define TMP_MAX_AGE       apr_time_from_sec(60)
#define NAME_KEY_LEN      32
#define NAME_KEY_USERDATA "negotiate8443-deleg-name-key"

static apr_time_t last_sweep;
/* The key of the file names: made once per parent, inherited by children. */
static unsigned char name_key[NAME_KEY_LEN];
/* The NegotiateDelegationDir of every server, for the parent's sweep. */
static apr_array_header_t *sweep_dirs;

/* CC_PREFIX + 32 hex digits of HMAC-SHA-256(name_key, principal). */
static const char *cache_file_name(apr_pool_t *p, const char *principal)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char hex[33];

    if (HMAC(n8443_sha256_md(), name_key, sizeof(name_key),
             (const unsigned char *)principal, strlen(principal), md, &n)
            == NULL
        || n < 16)
        return NULL;
    n8443_hex_encode(md, 16, hex, sizeof(hex));
    return apr_pstrcat(p, CC_PREFIX, hex, NULL);
}

/* Remove the caches in the directory open as dfd whose credentials have
 * ended (mtime = end time), and temporary files left behind.  Everything
 * is relative to dfd and no link is followed: the parent runs this as
 * root in directories the httpd user may write to. */
static void sweep_fd(int dfd, apr_time_t now)
{
    DIR *d = fdopendir(dfd);
    struct dirent *de;
    struct stat sb;

    if (d == NULL) {
        close(dfd);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        apr_time_t mtime;

        if (strncmp(de->d_name, CC_PREFIX, sizeof(CC_PREFIX) - 1) != 0
            || fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0
            || !S_ISREG(sb.st_mode))
            continue;
        mtime = apr_time_from_sec(sb.st_mtime);
        if (strstr(de->d_name, TMP_INFIX) != NULL ? mtime > now - TMP_MAX_AGE
                                                  : mtime > now)
            continue;
        unlinkat(dfd, de->d_name, 0);
    }
    closedir(d); /* closes dfd */
}

/* Open a directory without following a link in its last component;
 * -1 where it cannot be (a child under root's 0730 directory cannot
 * read it: then there is nothing for it to sweep). */
static int open_dir_at(int at, const char *name)
{
    return openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static void sweep_one(const char *dir, apr_time_t now)
{
    int dfd = open_dir_at(AT_FDCWD, dir);

    if (dfd >= 0)
        sweep_fd(dfd, now);
}

/* The caches of every vhost directory under base (also of vhosts that are
 * gone from the configuration), and any left directly in base by older
 * versions. */
static void sweep_base(const char *base, apr_time_t now)
{
    int bfd = open_dir_at(AT_FDCWD, base), sfd;
    DIR *d;
    struct dirent *de;

    if (bfd < 0)
        return;
    d = fdopendir(bfd);
    if (d == NULL) {
        close(bfd);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, CC_PREFIX, sizeof(CC_PREFIX) - 1) == 0
            || de->d_name[0] == '.')
            continue;
        sfd = open_dir_at(bfd, de->d_name);
        if (sfd >= 0)
            sweep_fd(sfd, now);
    }
    closedir(d); /* closes bfd */
    /* Caches directly in base (older versions put them there). */
    sweep_one(base, now);
}

/* The parent's sweep (monitor hook: root, so it may list every directory). */
int n8443_delegation_monitor(apr_pool_t *p, server_rec *s)
{
    apr_time_t now = apr_time_now();
    int i;

    if (sweep_dirs == NULL)
        return DECLINED;
    for (i = 0; i < sweep_dirs->nelts; i++)
        sweep_base(APR_ARRAY_IDX(sweep_dirs, i, const char *), now);
    return DECLINED;
}

/* The vhost's directory must still be the one the parent made: a
 * directory, not a link, with the owner and mode set at start-up.  Else
 * somebody replaced it, and the caches would land where they can list. */
static int vhost_dir_intact(const n8443_server_conf *sc)
{
    struct stat sb;

    return lstat(sc->delegation_vhost_dir, &sb) == 0 && S_ISDIR(sb.st_mode)
           && sb.st_uid == sc->delegation_dir_uid
           && (sb.st_mode & 07777) == sc->delegation_dir_mode;
}

const char *n8443_delegation_store(request_rec *r, const n8443_server_conf *sc,
                                   const char *principal, gss_cred_id_t cred)
{
    gss_key_value_element_desc el;
    gss_key_value_set_desc store = {1, &el};
    OM_uint32 maj, min, lifetime = 0;
    const char *name, *final, *tmp;
    unsigned char rnd[8];
    char rnd_hex[2 * sizeof(rnd) + 1];
    struct timeval tv[2];
    char text[512];
    mode_t mode = sc->delegation_perms.mode_set ? sc->delegation_perms.mode
                                                : (S_IRUSR | S_IWUSR);

    if (sc->delegation_vhost_dir == NULL)
        return NULL;
    if (!vhost_dir_intact(sc)) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            N8443LOGNO(256) "%s is not the directory made at start-up (owner "
            "%ld, mode %04o): no credentials stored for %s",
            sc->delegation_vhost_dir, (long)sc->delegation_dir_uid,
            (unsigned)sc->delegation_dir_mode, principal);
        return NULL;
    }
    name = cache_file_name(r->pool, principal);
    if (name == NULL || RAND_bytes(rnd, sizeof(rnd)) != 1)
        return NULL;
    final = apr_pstrcat(r->pool, sc->delegation_vhost_dir, "/", name, NULL);
    n8443_hex_encode(rnd, sizeof(rnd), rnd_hex, sizeof(rnd_hex));
    tmp = apr_pstrcat(r->pool, final, TMP_INFIX, rnd_hex, NULL);

    el.key = "ccache";
    el.value = apr_pstrcat(r->pool, "FILE:", tmp, NULL);
    maj = gss_store_cred_into(&min, cred, GSS_C_INITIATE, GSS_C_NO_OID, 1, 1,
                              &store, NULL, NULL);
    if (GSS_ERROR(maj)) {
        n8443_gss_error_text(maj, min, text, sizeof(text));
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      N8443LOGNO(110) "cannot store the delegated credentials "
                      "of %s in %s: "
                      "%s",
                      principal, sc->delegation_vhost_dir, text);
        unlink(tmp);
        return NULL;
    }
    /* MIT writes caches 0600; set the configured mode (and group) before
     * the rename, so the file is never in place with other rights. */
    if ((sc->delegation_perms.group_set
         && chown(tmp, (uid_t)-1, sc->delegation_perms.group) != 0)
        || chmod(tmp, mode) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, errno, r,
                      N8443LOGNO(260) "cannot set NegotiateDelegationPerms on "
                      "a credential "
                      "cache in %s",
                      sc->delegation_vhost_dir);
        unlink(tmp);
        return NULL;
    }
    if (rename(tmp, final) != 0) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, errno, r,
            N8443LOGNO(111) "cannot put the credential cache in place in %s",
            sc->delegation_vhost_dir);
        unlink(tmp);
        return NULL;
    }
    if (!GSS_ERROR(gss_inquire_cred(&min, cred, NULL, &lifetime, NULL, NULL))
        && lifetime != GSS_C_INDEFINITE) {
        gettimeofday(&tv[0], NULL);
        tv[1].tv_sec = tv[0].tv_sec + (time_t)lifetime;
        tv[1].tv_usec = 0;
        utimes(final, tv);
    }
    /* When httpd was not started as root the child may list its own
     * directory, and the parent's sweep may not run (-X). */
    if (r->request_time - last_sweep >= SWEEP_INTERVAL) {
        last_sweep = r->request_time;
        sweep_one(sc->delegation_vhost_dir, apr_time_now());
    }
    /* Not the file's name: it goes to the application alone. */
    ap_log_rerror(
        APLOG_MARK, APLOG_INFO, 0, r,
        N8443LOGNO(112) "credentials of %s stored for the application in %s",
        principal, sc->delegation_vhost_dir);
    return apr_pstrcat(r->pool, "FILE:", final, NULL);
}

/* Start-up: the directory exists, is a directory, and is neither writable
 * nor listable by others (the caches in it are the users' credentials);
 * 0711 lets applications under other uids reach their caches. */
const char *n8443_delegation_check_dir(apr_pool_t *p, const char *dir)
{
    struct stat sb;

    if (stat(dir, &sb) != 0)
        return apr_psprintf(p, "%s does not exist", dir);
    if (!S_ISDIR(sb.st_mode))
        return apr_psprintf(p, "%s is not a directory", dir);
    if (sb.st_mode & (S_IWGRP | S_IWOTH | S_IRGRP | S_IROTH))
        return apr_psprintf(p,
                            "%s is open to other users (mode %04o): it "
                            "must be 0700 or 0711",
                            dir, (unsigned)(sb.st_mode & 07777));
    return NULL;
}

/*
 * NegotiateDelegationPerms [mode:OCTAL] [group:NAME|GID]: the caches' mode
 * (read/write bits of owner and group only) and group, for an application
 * that runs under another uid; the httpd user must be in that group.
 */
const char *n8443_delegation_set_perms(cmd_parms *cmd, n8443_deleg_perms *perms,
                                       const char *arg)
{
    char *end;
    long v;

    if (strncmp(arg, "mode:", 5) == 0) {
        errno = 0;
        v = strtol(arg + 5, &end, 8);
        if (arg[5] == '\0' || *end != '\0' || errno != 0 || v < 0
            || (v & ~(long)(S_IRUSR | S_IWUSR | S_IRGRP | S_IWGRP)) != 0
            || !(v & S_IRUSR))
            return apr_psprintf(cmd->pool,
                                "%s: '%s': the mode may give "
                                "read/write to owner and group only, and "
                                "the owner must read (e.g. mode:0640)",
                                cmd->cmd->name, arg);
        perms->mode = (mode_t)v;
        perms->mode_set = 1;
        return NULL;
    }
    if (strncmp(arg, "group:", 6) == 0) {
        struct group *gr = getgrnam(arg + 6);

        if (gr != NULL)
            perms->group = gr->gr_gid;
        else {
            errno = 0;
            v = strtol(arg + 6, &end, 10);
            if (arg[6] == '\0' || *end != '\0' || errno != 0 || v < 0)
                return apr_psprintf(cmd->pool, "%s: '%s': no such group",
                                    cmd->cmd->name, arg);
            perms->group = (gid_t)v;
        }
        perms->group_set = 1;
        return NULL;
    }
    return apr_psprintf(cmd->pool,
                        "%s: '%s' is neither mode:OCTAL nor "
                        "group:NAME (an owner cannot be given: the files are "
                        "written by the httpd user, which cannot give them "
                        "away)",
                        cmd->cmd->name, arg);
}

/* Is the httpd user in group g (so that a child may chown a file to it)? */
static int httpd_user_in_group(gid_t g)
{
    gid_t groups[256];
    int n = 256, i;

    if (ap_unixd_config.group_id == g)
        return 1;
    if (ap_unixd_config.user_name == NULL
        || getgrouplist(ap_unixd_config.user_name, ap_unixd_config.group_id,
                        groups, &n)
               < 0)
        return 0;
    for (i = 0; i < n; i++)
        if (groups[i] == g)
            return 1;
    return 0;
}

/* <host>_<port>_<8 hex of the vhost's names and addresses>: readable for
 * the administrator, distinct for vhosts that share a name. */
static const char *vhost_dir_name(apr_pool_t *p, server_rec *s)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char d[EVP_MAX_MD_SIZE];
    char d_hex[9];
    unsigned int n = 0;
    const char *host = s->server_hostname ? s->server_hostname : "default";
    char *safe = apr_pstrdup(p, host), *c;
    server_addr_rec *a;
    unsigned port = s->addrs ? s->addrs->host_port : s->port;

    if (md == NULL)
        return NULL;
    for (c = safe; *c; c++)
        if (!apr_isalnum(*c) && *c != '.' && *c != '-')
            *c = '_';
    if (!EVP_DigestInit_ex(md, n8443_sha256_md(), NULL)
        || !EVP_DigestUpdate(md, host, strlen(host) + 1)) {
        EVP_MD_CTX_free(md);
        return NULL;
    }
    for (a = s->addrs; a != NULL; a = a->next) {
        const char *t =
            apr_psprintf(p, "%s|%u|", a->virthost ? a->virthost : "*",
                         (unsigned)a->host_port);

        if (!EVP_DigestUpdate(md, t, strlen(t))) {
            EVP_MD_CTX_free(md);
            return NULL;
        }
    }
    if (!EVP_DigestFinal_ex(md, d, &n) || n < 4) {
        EVP_MD_CTX_free(md);
        return NULL;
    }
    EVP_MD_CTX_free(md);
    n8443_hex_encode(d, 4, d_hex, sizeof(d_hex));
    return apr_psprintf(p, "%s_%u_%s", safe, port, d_hex);
}

/* What the layout still leaves open, said at start-up. */
static void warn_about_layout(server_rec *s, const char *base, int root)
{
    struct stat sb;

    if (!root)
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     N8443LOGNO(259) "httpd was not started as root: the "
                     "credential caches "
                     "under %s are open to everything that runs as uid %ld",
                     base, (long)geteuid());
    else if (stat(base, &sb) == 0 && sb.st_uid == ap_unixd_config.user_id
             && sb.st_uid != 0)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     N8443LOGNO(257) "NegotiateDelegationDir %s belongs to the "
                     "httpd user, "
                     "who can therefore rename the vhosts' directories in "
                     "it: make it root's (chown root: %s; chmod 0711 %s)",
                     base, base, base);
}

/* The name key: one per parent (kept across graceful restarts in the
 * process pool), so that every child names a user's cache alike. */
static int make_name_key(server_rec *s)
{
    void *data = NULL;
    unsigned char *k;

    apr_pool_userdata_get(&data, NAME_KEY_USERDATA, s->process->pool);
    if (data == NULL) {
        k = apr_palloc(s->process->pool, NAME_KEY_LEN);
        if (RAND_bytes(k, NAME_KEY_LEN) != 1)
            return 0;
        apr_pool_userdata_set(k, NAME_KEY_USERDATA, NULL, s->process->pool);
        data = k;
    }
    memcpy(name_key, data, NAME_KEY_LEN);
    return 1;
}

/*
 * post_config, for a server with delegation: make its own directory under
 * NegotiateDelegationDir (see the top of this file) and remember the base
 * for the sweep.  Returns NULL or why httpd must not start.
 */
const char *n8443_delegation_prepare(apr_pool_t *pconf, server_rec *s,
                                     n8443_server_conf *sc)
{
    const char *name, *dir;
    struct stat sb;
    uid_t uid;
    gid_t gid;
    mode_t mode;
    int i, root = geteuid() == 0;

    if (!make_name_key(s))
        return "cannot make a random key";
    if (sc->delegation_perms.group_set && root
        && !httpd_user_in_group(sc->delegation_perms.group))
        return apr_psprintf(
            pconf,
            "NegotiateDelegationPerms: the httpd "
            "user %s is not in group %ld, so it cannot give "
            "the caches to it",
            ap_unixd_config.user_name ? ap_unixd_config.user_name : "?",
            (long)sc->delegation_perms.group);
    name = vhost_dir_name(pconf, s);
    if (name == NULL)
        return "cannot name the vhost's directory";
    dir = apr_pstrcat(pconf, sc->delegation_dir, "/", name, NULL);
    if (root) {
        uid = 0;
        gid = sc->delegation_perms.group_set ? sc->delegation_perms.group
                                             : ap_unixd_config.group_id;
        mode = S_IRWXU | S_IWGRP | S_IXGRP; /* 0730 */
    }
    else {
        uid = geteuid();
        gid = getegid();
        mode = S_IRWXU; /* 0700 */
    }
    if (mkdir(dir, mode) != 0 && errno != EEXIST)
        return apr_psprintf(pconf, "cannot make %s: %s", dir, strerror(errno));
    if (lstat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return apr_psprintf(pconf, "%s is not a directory", dir);
    if ((sb.st_uid != uid || sb.st_gid != gid) && chown(dir, uid, gid) != 0)
        return apr_psprintf(pconf, "cannot give %s to %ld:%ld: %s", dir,
                            (long)uid, (long)gid, strerror(errno));
    if (chmod(dir, mode) != 0)
        return apr_psprintf(pconf, "cannot chmod %s: %s", dir, strerror(errno));
    sc->delegation_vhost_dir = dir;
    sc->delegation_dir_uid = uid;
    sc->delegation_dir_mode = mode;

    if (sweep_dirs == NULL)
        sweep_dirs = apr_array_make(pconf, 4, sizeof(const char *));
    for (i = 0; i < sweep_dirs->nelts; i++)
        if (strcmp(APR_ARRAY_IDX(sweep_dirs, i, const char *),
                   sc->delegation_dir)
            == 0)
            return NULL;
    APR_ARRAY_PUSH(sweep_dirs, const char *) = sc->delegation_dir;
    /* Once per base, in the configuration pass that goes on to serve. */
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG)
        warn_about_layout(s, sc->delegation_dir, root);
    return NULL;
}

/* A new generation's configuration: forget the old list (its pool is
 * gone). */
void n8443_delegation_pre_config(void)
{
    sweep_dirs = NULL;
}
