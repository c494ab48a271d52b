/*
 * config_merge.c - the configuration's defaults and its merges: what a
 * section starts with, and field by field what a nested section (or a
 * vhost) inherits when it does not set a value itself ("set" markers).
 * The directive handlers that fill the fields are config.c's.
 */
#include "n8443_private.h"

#include <string.h>

void *n8443_create_dir_conf(apr_pool_t *p, char *dir)
{
    n8443_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));

    conf->require_tls = 1;
    conf->user_name = N8443_USER_PRINCIPAL;
    conf->channel_binding = N8443_CB_OPTIONAL;
    conf->session_max_age = N8443_DEFAULT_SESSION_MAX_AGE;
    conf->fast_path = 1;
    return conf;
}

/* Field by field: a nested section inherits whatever it does not set. */
void *n8443_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    const n8443_dir_conf *base = basev, *add = addv;
    n8443_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));

    conf->keytab = add->keytab_set ? add->keytab : base->keytab;
    conf->keytab_set = add->keytab_set || base->keytab_set;
    conf->service_principal = add->service_principal_set
                                  ? add->service_principal
                                  : base->service_principal;
    conf->service_principal_set =
        add->service_principal_set || base->service_principal_set;
    conf->require_tls =
        add->require_tls_set ? add->require_tls : base->require_tls;
    conf->require_tls_set = add->require_tls_set || base->require_tls_set;
    conf->user_name = add->user_name_set ? add->user_name : base->user_name;
    conf->user_name_set = add->user_name_set || base->user_name_set;
    conf->channel_binding =
        add->channel_binding_set ? add->channel_binding : base->channel_binding;
    conf->channel_binding_set =
        add->channel_binding_set || base->channel_binding_set;
    conf->basic_fallback =
        add->basic_fallback_set ? add->basic_fallback : base->basic_fallback;
    conf->basic_fallback_set =
        add->basic_fallback_set || base->basic_fallback_set;
    conf->connection_auth =
        add->connection_auth_set ? add->connection_auth : base->connection_auth;
    conf->connection_auth_set =
        add->connection_auth_set || base->connection_auth_set;
    conf->session = add->session_set ? add->session : base->session;
    conf->session_path =
        add->session_set ? add->session_path : base->session_path;
    conf->session_set = add->session_set || base->session_set;
    conf->session_max_age =
        add->session_max_age_set ? add->session_max_age : base->session_max_age;
    conf->session_max_age_set =
        add->session_max_age_set || base->session_max_age_set;
    conf->delegation = add->delegation_set ? add->delegation : base->delegation;
    conf->delegation_set = add->delegation_set || base->delegation_set;
    conf->constrained_delegation = add->constrained_delegation_set
                                       ? add->constrained_delegation
                                       : base->constrained_delegation;
    conf->constrained_delegation_set =
        add->constrained_delegation_set || base->constrained_delegation_set;
    conf->fast_path = add->fast_path_set ? add->fast_path : base->fast_path;
    conf->fast_path_set = add->fast_path_set || base->fast_path_set;
    conf->allow_anonymous =
        add->allow_anonymous_set ? add->allow_anonymous : base->allow_anonymous;
    conf->allow_anonymous_set =
        add->allow_anonymous_set || base->allow_anonymous_set;
    n8443_challenge_merge(conf, base, add);
    return conf;
}

void *n8443_create_server_conf(apr_pool_t *p, server_rec *s)
{
    n8443_server_conf *conf = apr_pcalloc(p, sizeof(*conf));

    conf->max_token_size = N8443_DEFAULT_MAX_TOKEN;
    conf->rc.backend = N8443_RC_SHM;
    return conf;
}

void *n8443_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    const n8443_server_conf *base = basev, *add = addv, *from;
    n8443_server_conf *conf = apr_pcalloc(p, sizeof(*conf));

    conf->max_token_size =
        add->max_token_size_set ? add->max_token_size : base->max_token_size;
    conf->max_token_size_set =
        add->max_token_size_set || base->max_token_size_set;
    /* The replay cache setting is one unit: backend and its argument. */
    conf->rc = add->rc.backend_set ? add->rc : base->rc;
    conf->rc.memcache = NULL; /* each vhost gets its own client */
    /* The keys are one unit: current and previous together. */
    if (add->session_key_set || base->session_key_set) {
        from = add->session_key_set ? add : base;
        memcpy(conf->session_keys, from->session_keys,
               sizeof(conf->session_keys));
        conf->session_nkeys = from->session_nkeys;
        conf->session_key_set = 1;
    }
    conf->delegation_dir =
        add->delegation_dir ? add->delegation_dir : base->delegation_dir;
    conf->trusted_proxies =
        add->trusted_proxies ? add->trusted_proxies : base->trusted_proxies;
    /* The certificate's binding is one unit: file, status and bytes. */
    from = add->cb_cert_file ? add : base;
    conf->cb_cert_file = from->cb_cert_file;
    conf->cb_cert_status = from->cb_cert_status;
    memcpy(conf->cb_cert_data, from->cb_cert_data, from->cb_cert_len);
    conf->cb_cert_len = from->cb_cert_len;
    conf->group_map = add->group_map ? add->group_map : base->group_map;
    conf->delegation_perms.mode_set =
        add->delegation_perms.mode_set || base->delegation_perms.mode_set;
    conf->delegation_perms.mode = add->delegation_perms.mode_set
                                      ? add->delegation_perms.mode
                                      : base->delegation_perms.mode;
    conf->delegation_perms.group_set =
        add->delegation_perms.group_set || base->delegation_perms.group_set;
    conf->delegation_perms.group = add->delegation_perms.group_set
                                       ? add->delegation_perms.group
                                       : base->delegation_perms.group;
    return conf;
}
