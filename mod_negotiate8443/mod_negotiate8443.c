/*
 * mod_negotiate8443.c - the module record and its hooks; the work is done
 * in the files named in n8443_private.h.
 */
/* AP_DECLARE_MODULE below declares the log module index itself. */
#define N8443_MODULE_RECORD
#include "connection.h"

#include "mod_auth.h"
#include "mpm_common.h"

#include <stdlib.h>

static int n8443_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp)
{
    /* Instance-wide settings start from their defaults in every
     * generation: a directive removed before a graceful restart is gone. */
    n8443_instance_defaults();
    n8443_delegation_pre_config();
    return n8443_rcache_pre_config(pconf);
}

static int n8443_post_config(apr_pool_t *p, apr_pool_t *plog, apr_pool_t *ptemp,
                             server_rec *s)
{
    n8443_binding_post_config();
    n8443_conn_post_config();
    /* The skew first: every krb5 context made after this sees it. */
    if (n8443_skew_apply(p, s) != OK)
        return !OK;
    if (n8443_rcache_post_config(p, ptemp, s) != OK)
        return !OK;
    return n8443_startup_check(p, ptemp, s);
}

static void n8443_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    rv = n8443_creds_child_init(pchild, s);
    if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     N8443LOGNO(003) "cannot set up the credential table; "
                     "every login in "
                     "this process will fail");
    n8443_identity_child_init(pchild, s);
    n8443_binding_child_init(pchild);
    n8443_rcache_child_init(pchild, s);
}

static void n8443_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(n8443_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(n8443_session_check_keys, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(n8443_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(n8443_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_monitor(n8443_delegation_monitor, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_monitor(n8443_rcache_monitor, NULL, NULL, APR_HOOK_MIDDLE);
    n8443_basic_register(p);
    n8443_groups_register(p);
    /* Before any other module sees the request: the session cookie is
     * ours, never the application's. */
    ap_hook_post_read_request(n8443_session_strip, NULL, NULL,
                              APR_HOOK_REALLY_FIRST);
    ap_hook_handler(n8443_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_authn(n8443_check_user_id, NULL, NULL, APR_HOOK_MIDDLE,
                        AP_AUTH_INTERNAL_PER_CONF);
    /* NegotiateOptional: log in who brings credentials, where the
     * location lets anonymous requests in. */
    ap_hook_force_authn(n8443_force_authn, NULL, NULL, APR_HOOK_MIDDLE);
    /* A 401 decided later (authz) still carries the challenge. */
    ap_hook_note_auth_failure(n8443_note_auth_failure, NULL, NULL,
                              APR_HOOK_MIDDLE);
    /* First: the Authorization header as the client sent it. */
    ap_hook_post_read_request(n8443_conn_end_on_authorization, NULL, NULL,
                              APR_HOOK_REALLY_FIRST);
}

AP_DECLARE_MODULE(negotiate8443) = {
    STANDARD20_MODULE_STUFF,  n8443_create_dir_conf,   n8443_merge_dir_conf,
    n8443_create_server_conf, n8443_merge_server_conf, n8443_cmds,
    n8443_register_hooks,
#ifdef AP_MODULE_FLAG_NONE
    AP_MODULE_FLAG_NONE
#endif
};
