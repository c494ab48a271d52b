/*
 * startup.c - the start-up checks, in one walk over the merged
 * configuration: each virtual host, its server-wide settings and each of
 * its <Location> and <Directory> sections.  What a section switches on is
 * gathered for the host; then the host's checks run:
 *
 *   keytab and service principal  exist, readable by the httpd user, hold
 *                                 a key (every section that names them)
 *   NegotiateSession              a key (NegotiateSessionKeyFile)
 *   delegation                    a private NegotiateDelegationDir
 *   NegotiateConnectionAuth       a warning behind NegotiateTrustedProxy
 *                                 (this or another vhost's)
 *
 * The one check that reads the configuration tree instead is the channel
 * binding's certificate (binding.c): the certificate file is mod_ssl's,
 * private to it, and found only among the directives.
 * A check that fails logs why (EMERG) and stops httpd.
 */
#include "n8443_private.h"
#include "connection.h"

#include "mod_unixd.h"
#include "unixd.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* What one host's sections switch on, gathered by the walk. */
typedef struct {
    int session;
    int delegation;
    int connection_auth;
} n8443_seen;

/*
 * Can the user httpd's children run as open the file?  Answered by a child
 * process that takes on that user's identity and tries, so that groups,
 * ACLs and directory permissions all count, as they will at run time.
 */
int n8443_readable_by_httpd_user(const char *file)
{
    pid_t pid;
    int status;

    if (geteuid() != 0 || ap_unixd_config.user_id == 0)
        return access(file, R_OK) == 0;

    pid = fork();
    if (pid < 0)
        return access(file, R_OK) == 0;
    if (pid == 0) {
        FILE *f;
        if (initgroups(ap_unixd_config.user_name, ap_unixd_config.group_id) != 0
            || setgid(ap_unixd_config.group_id) != 0
            || setuid(ap_unixd_config.user_id) != 0)
            _exit(2);
        f = fopen(file, "r");
        _exit(f != NULL ? 0 : 1);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Check one (keytab, principal) pair of a configuration section. */
static int check_pair(apr_pool_t *ptemp, server_rec *s, const char *keytab,
                      const char *principal, const char *where)
{
    n8443_acceptor_opts opts = {keytab, principal, NULL, NULL};
    const char *file = n8443_keytab_file(keytab);
    gss_cred_id_t cred;
    OM_uint32 min;
    struct stat sb;
    char err[1024];

    /* With GSS-Proxy holding the keys, httpd never sees a keytab. */
    if (keytab == NULL && n8443_gssproxy_in_use())
        return OK;

    if (principal != NULL && strcmp(principal, "{HOSTNAME}") == 0)
        principal = opts.principal =
            apr_pstrcat(ptemp, "HTTP/", s->server_hostname, NULL);

    if (file != NULL) {
        if (stat(file, &sb) != 0) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, errno, s,
                         N8443LOGNO(040) "NegotiateKeytab %s (%s): the file "
                         "does not exist "
                         "or cannot be reached",
                         file, where);
            return !OK;
        }
        if (!n8443_readable_by_httpd_user(file)) {
            ap_log_error(
                APLOG_MARK, APLOG_EMERG, 0, s,
                N8443LOGNO(041) "NegotiateKeytab %s (%s): not readable by the "
                "httpd user '%s' (uid %ld); give that user read "
                "access (e.g. chgrp %s + mode 0640), and no one "
                "else",
                file, where,
                ap_unixd_config.user_name ? ap_unixd_config.user_name : "?",
                (long)ap_unixd_config.user_id,
                ap_unixd_config.user_name ? ap_unixd_config.user_name
                                          : "<group>");
            return !OK;
        }
    }
    if (n8443_acceptor_acquire(&opts, &cred, err, sizeof(err)) != 0) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, N8443LOGNO(042) "%s (%s)",
                     err, where);
        return !OK;
    }
    gss_release_cred(&min, &cred);
    return OK;
}

/* Check the Negotiate settings of one section (server or <Location>). */
static int check_section(apr_pool_t *ptemp, server_rec *s,
                         const n8443_dir_conf *server_dc,
                         const n8443_dir_conf *dc, const char *where)
{
    const char *keytab, *principal;

    if (dc == NULL || (!dc->keytab_set && !dc->service_principal_set))
        return OK;
    keytab = dc->keytab_set ? dc->keytab : server_dc->keytab;
    principal = dc->service_principal_set ? dc->service_principal
                                          : server_dc->service_principal;
    return check_pair(ptemp, s, keytab, principal, where);
}

/* Delegation needs a directory, and the directory must be private. */
static int check_delegation(server_rec *s, n8443_server_conf *sc, int on)
{
    const char *err;
    if (!on) {
        /* Delegation may still be switched on where this cannot see it
         * (<Directory>, .htaccess): give the vhost its directory anyway,
         * but a problem with it does not stop httpd here. */
        if (sc->delegation_dir != NULL
            && n8443_delegation_check_dir(s->process->pconf, sc->delegation_dir)
                   == NULL
            && (err = n8443_delegation_prepare(s->process->pconf, s, sc))
                   != NULL)
            ap_log_error(
                APLOG_MARK, APLOG_WARNING, 0, s,
                N8443LOGNO(258) "NegotiateDelegationDir in server %s:%u: %s",
                s->server_hostname ? s->server_hostname : "?",
                (unsigned)s->port, err);
        return OK;
    }
    if (sc->delegation_dir == NULL) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     N8443LOGNO(113) "NegotiateDelegation/"
                     "NegotiateConstrainedDelegation "
                     "in server %s:%u need NegotiateDelegationDir",
                     s->server_hostname ? s->server_hostname : "?",
                     (unsigned)s->port);
        return !OK;
    }
    if (n8443_gssproxy_in_use())
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     N8443LOGNO(115) "server %s:%u: with GSS-Proxy the service "
                     "keys are not "
                     "in httpd, so NegotiateConstrainedDelegation stores no "
                     "S4U2Proxy credentials (only tickets the client "
                     "delegated itself are kept)",
                     s->server_hostname ? s->server_hostname : "?",
                     (unsigned)s->port);
    err = n8443_delegation_check_dir(s->process->pconf, sc->delegation_dir);
    if (err != NULL) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     N8443LOGNO(114) "NegotiateDelegationDir: %s", err);
        return !OK;
    }
    err = n8443_delegation_prepare(s->process->pconf, s, sc);
    if (err != NULL) {
        ap_log_error(
            APLOG_MARK, APLOG_EMERG, 0, s,
            N8443LOGNO(255) "NegotiateDelegationDir in server %s:%u: %s",
            s->server_hostname ? s->server_hostname : "?", (unsigned)s->port,
            err);
        return !OK;
    }
    return OK;
}

/* NegotiateSession On needs a key wherever it is switched on. */
static int check_session_key(server_rec *s, const n8443_server_conf *sc, int on)
{
    if (on && !sc->session_key_set) {
        ap_log_error(
            APLOG_MARK, APLOG_EMERG, 0, s,
            N8443LOGNO(103) "NegotiateSession On in server %s:%u needs "
            "NegotiateSessionKeyFile (32 random bytes: "
            "openssl rand -out FILE 32)",
            s->server_hostname ? s->server_hostname : "?", (unsigned)s->port);
        return !OK;
    }
    return OK;
}

/*
 * Decided: NegotiateConnectionAuth in a vhost that names a proxy in front
 * (NegotiateTrustedProxy) still starts, since clients that connect
 * directly may use it; connections from the proxy never get it, and the
 * start-up log says so once per vhost (not in the first of httpd's two
 * configuration passes).
 */
static void warn_connection_auth(server_rec *s, const n8443_server_conf *sc,
                                 int on)
{
    if (!on || ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return;
    /* The proxies of the other vhosts count here too (their connections
     * carry this vhost's names as well): say so where it is not obvious. */
    if (sc->trusted_proxies == NULL) {
        if (n8443_any_trusted_proxy_listed())
            ap_log_error(
                APLOG_MARK, APLOG_WARNING, 0, s,
                N8443LOGNO(440) "server %s:%u has NegotiateConnectionAuth On; "
                "connections from an address listed in "
                "NegotiateTrustedProxy of another vhost (or the "
                "main server) never keep a connection login here "
                "either",
                s->server_hostname ? s->server_hostname : "?",
                (unsigned)s->port);
        return;
    }
    ap_log_error(
        APLOG_MARK, APLOG_WARNING, 0, s,
        N8443LOGNO(225) "server %s:%u has NegotiateConnectionAuth On and "
        "NegotiateTrustedProxy: requests through the proxy "
        "never resume a connection login (each needs a "
        "token or a session cookie); only clients that "
        "connect directly keep theirs",
        s->server_hostname ? s->server_hostname : "?", (unsigned)s->port);
}

/* Note what a <Location> (url) or <Directory> section switches on. */
static void gather(const n8443_dir_conf *ldc, int url, n8443_seen *seen)
{
    if (ldc == NULL)
        return;
    /* Sessions and delegation as far as the <Location>s show them
     * (n8443_delegation_prepare covers the others at run time). */
    if (url && ldc->session_set && ldc->session)
        seen->session = 1;
    if (url
        && ((ldc->delegation_set && ldc->delegation)
            || (ldc->constrained_delegation_set
                && ldc->constrained_delegation)))
        seen->delegation = 1;
    if (ldc->connection_auth_set && ldc->connection_auth)
        seen->connection_auth = 1;
}

/* One host: its sections, then what they switched on. */
static int check_host(apr_pool_t *ptemp, server_rec *s)
{
    n8443_server_conf *sc =
        ap_get_module_config(s->module_config, &negotiate8443_module);
    const n8443_dir_conf *server_dc =
        ap_get_module_config(s->lookup_defaults, &negotiate8443_module);
    core_server_config *core = ap_get_core_module_config(s->module_config);
    const char *host = apr_psprintf(
        ptemp, "server %s:%u", s->server_hostname ? s->server_hostname : "?",
        (unsigned)s->port);
    apr_array_header_t *arrays[2];
    n8443_seen seen;
    int a, i;

    seen.session = server_dc->session;
    seen.delegation =
        server_dc->delegation || server_dc->constrained_delegation;
    seen.connection_auth = server_dc->connection_auth;
    if (check_section(ptemp, s, server_dc, server_dc, host) != OK)
        return !OK;
    arrays[0] = core->sec_dir;
    arrays[1] = core->sec_url;
    for (a = 0; a < 2; a++) {
        ap_conf_vector_t **sec = (ap_conf_vector_t **)arrays[a]->elts;

        for (i = 0; i < arrays[a]->nelts; i++) {
            const n8443_dir_conf *dc =
                ap_get_module_config(sec[i], &negotiate8443_module);
            core_dir_config *cd = ap_get_core_module_config(sec[i]);
            const char *where =
                apr_psprintf(ptemp, "%s, <%s %s>", host,
                             a ? "Location" : "Directory", cd->d ? cd->d : "?");

            gather(dc, a == 1, &seen);
            if (check_section(ptemp, s, server_dc, dc, where) != OK)
                return !OK;
        }
    }
    if (check_delegation(s, sc, seen.delegation) != OK)
        return !OK;
    if (check_session_key(s, sc, seen.session) != OK)
        return !OK;
    warn_connection_auth(s, sc, seen.connection_auth);
    return OK;
}

/* A NegotiateMaxTokenSize raised beyond what the vhost's
 * LimitRequestFieldSize lets through: httpd answers those tokens with a
 * bare 400 before the module runs, so say it once, at start-up. */
static void check_field_size(server_rec *s)
{
    const n8443_server_conf *sc =
        ap_get_module_config(s->module_config, &negotiate8443_module);
    long need;

    if (!sc->max_token_size_set)
        return;
    need = n8443_field_size_for_token((long)sc->max_token_size);
    if (need > (long)s->limit_req_fieldsize)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     N8443LOGNO(343) "NegotiateMaxTokenSize %" APR_SIZE_T_FMT
                     " needs "
                     "LimitRequestFieldSize %ld in %s:%u (and in the first "
                     "vhost of its port), which has %d: httpd answers "
                     "larger tokens with a bare 400 before this module "
                     "sees them",
                     sc->max_token_size, need,
                     s->server_hostname ? s->server_hostname : "?",
                     (unsigned)s->port, s->limit_req_fieldsize);
}

int n8443_startup_check(apr_pool_t *p, apr_pool_t *ptemp, server_rec *s)
{
    if (n8443_binding_check_config(ptemp, s) != OK)
        return !OK;
    /* Before the checks: warn_connection_auth looks at the union. */
    n8443_trusted_proxies_collect(p, s);
    for (; s != NULL; s = s->next) {
        if (check_host(ptemp, s) != OK)
            return !OK;
        check_field_size(s);
    }
    return OK;
}
