/*
 * mod_negotiate8443.c - the module record and its hooks; the work is done
 * in the files named in n8443_private.h.
 */
/* AP_DECLARE_MODULE below declares the log module index itself. */
#define N8443_MODULE_RECORD
#include "n8443_private.h"

#include "mod_auth.h"
#include "mpm_common.h"

#include <stdlib.h>

static int n8443_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp)
{
    /* Instance-wide settings start from their defaults in every
     * generation: a directive removed before a graceful restart is gone. */
    n8443_instance.clock_skew = 300;
    n8443_instance.clock_skew_set = 0;
    n8443_instance.size = 0;
    n8443_instance.quota = 0;
    n8443_delegation_pre_config();
    return n8443_rcache_pre_config(pconf);
}

/* Delegation needs a directory, and the directory must be private. */
static int check_delegation(server_rec *s, n8443_server_conf *sc,
                            const n8443_dir_conf *dc, ap_conf_vector_t **sec,
                            int nsec)
{
    const char *err;
    int i, on = dc->delegation || dc->constrained_delegation;

    for (i = 0; i < nsec && !on; i++) {
        const n8443_dir_conf *ldc =
            ap_get_module_config(sec[i], &negotiate8443_module);
        on = ldc != NULL && ((ldc->delegation_set && ldc->delegation)
                             || (ldc->constrained_delegation_set
                                 && ldc->constrained_delegation));
    }
    if (!on) {
        /* Delegation may still be switched on where this cannot see it
         * (<Directory>, .htaccess): give the vhost its directory anyway,
         * but a problem with it does not stop httpd here. */
        if (sc->delegation_dir != NULL
            && n8443_delegation_check_dir(s->process->pconf,
                                          sc->delegation_dir) == NULL
            && (err = n8443_delegation_prepare(s->process->pconf, s, sc))
               != NULL)
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, N8443LOGNO(258)
                         "NegotiateDelegationDir in server %s:%u: %s",
                         s->server_hostname ? s->server_hostname : "?",
                         (unsigned)s->port, err);
        return OK;
    }
    if (sc->delegation_dir == NULL) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, N8443LOGNO(113)
                     "NegotiateDelegation/NegotiateConstrainedDelegation "
                     "in server %s:%u need NegotiateDelegationDir",
                     s->server_hostname ? s->server_hostname : "?",
                     (unsigned)s->port);
        return !OK;
    }
    if (n8443_gssproxy_in_use())
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, N8443LOGNO(115)
                     "server %s:%u: with GSS-Proxy the service keys are not "
                     "in httpd, so NegotiateConstrainedDelegation stores no "
                     "S4U2Proxy credentials (only tickets the client "
                     "delegated itself are kept)",
                     s->server_hostname ? s->server_hostname : "?",
                     (unsigned)s->port);
    err = n8443_delegation_check_dir(s->process->pconf, sc->delegation_dir);
    if (err != NULL) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, N8443LOGNO(114)
                     "NegotiateDelegationDir: %s", err);
        return !OK;
    }
    err = n8443_delegation_prepare(s->process->pconf, s, sc);
    if (err != NULL) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, N8443LOGNO(255)
                     "NegotiateDelegationDir in server %s:%u: %s",
                     s->server_hostname ? s->server_hostname : "?",
                     (unsigned)s->port, err);
        return !OK;
    }
    return OK;
}

/* NegotiateSession On needs a key wherever it is switched on. */
static int check_sessions(server_rec *s)
{
    for (; s != NULL; s = s->next) {
        n8443_server_conf *sc =
            ap_get_module_config(s->module_config, &negotiate8443_module);
        const n8443_dir_conf *dc =
            ap_get_module_config(s->lookup_defaults, &negotiate8443_module);
        core_server_config *core = ap_get_core_module_config(s->module_config);
        ap_conf_vector_t **sec = (ap_conf_vector_t **)core->sec_url->elts;
        int i, on = dc->session;

        for (i = 0; i < core->sec_url->nelts && !on; i++) {
            const n8443_dir_conf *ldc =
                ap_get_module_config(sec[i], &negotiate8443_module);
            on = ldc != NULL && ldc->session_set && ldc->session;
        }
        if (check_delegation(s, sc, dc, sec, core->sec_url->nelts) != OK)
            return !OK;
        if (on && !sc->session_key_set) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, N8443LOGNO(103)
                         "NegotiateSession On in server %s:%u needs "
                         "NegotiateSessionKeyFile (32 random bytes: "
                         "openssl rand -out FILE 32)",
                         s->server_hostname ? s->server_hostname : "?",
                         (unsigned)s->port);
            return !OK;
        }
    }
    return OK;
}

static int n8443_post_config(apr_pool_t *p, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    n8443_exchange_post_config();
    n8443_binding_post_config();
    /* The skew first: every krb5 context made after this sees it. */
    if (n8443_skew_apply(p, s) != OK)
        return !OK;
    if (n8443_rcache_post_config(p, ptemp, s) != OK)
        return !OK;
    if (n8443_binding_check_config(ptemp, s) != OK)
        return !OK;
    if (check_sessions(s) != OK)
        return !OK;
    n8443_conn_check_config(s);
    return n8443_creds_check_config(p, ptemp, s);
}

static void n8443_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    rv = n8443_creds_child_init(pchild, s);
    if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, N8443LOGNO(003)
                     "cannot set up the credential table; every login in "
                     "this process will fail");
    n8443_identity_child_init(pchild, s);
    n8443_binding_child_init(pchild);
    n8443_rcache_child_init(pchild, s);
}

static void n8443_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(n8443_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(n8443_session_check_keys, NULL, NULL,
                         APR_HOOK_MIDDLE);
    ap_hook_post_config(n8443_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(n8443_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_monitor(n8443_delegation_monitor, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_monitor(n8443_rcache_monitor, NULL, NULL, APR_HOOK_MIDDLE);
    n8443_basic_register(p);
    /* Before any other module sees the request: the session cookie is
     * ours, never the application's. */
    ap_hook_post_read_request(n8443_session_strip, NULL, NULL,
                              APR_HOOK_REALLY_FIRST);
    ap_hook_handler(n8443_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_authn(n8443_check_user_id, NULL, NULL, APR_HOOK_MIDDLE,
                        AP_AUTH_INTERNAL_PER_CONF);
    /* First: the Authorization header as the client sent it. */
    ap_hook_post_read_request(n8443_conn_end_on_authorization, NULL, NULL,
                              APR_HOOK_REALLY_FIRST);
}

AP_DECLARE_MODULE(negotiate8443) = {
    STANDARD20_MODULE_STUFF,
    n8443_create_dir_conf,
    n8443_merge_dir_conf,
    n8443_create_server_conf,
    n8443_merge_server_conf,
    n8443_cmds,
    n8443_register_hooks,
#ifdef AP_MODULE_FLAG_NONE
    AP_MODULE_FLAG_NONE
#endif
};
