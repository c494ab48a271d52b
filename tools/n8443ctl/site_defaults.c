/*
 * n8443ctl - site file loader, pass 2: `defaults` merged into a site
 * field by field, then the built-in defaults for what neither set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "msgs.h"
#include "site_values.h"

/* Where the package installs the 401 page (pages/401.shtml); the build
 * sets it from --datadir. */
#ifndef N8443_PAGES_DIR
#define N8443_PAGES_DIR "/usr/share/mod_negotiate8443/pages"
#endif

#define MERGE(field)                                                           \
    do {                                                                       \
        if (!site->field.set && !site->field.seen) {                           \
            site->field = defs->field;                                         \
        }                                                                      \
    } while (0)

/* Field by field, so that a site overrides one TLS or Kerberos setting
 * and inherits the rest of the block.  A key the site has, even with a
 * bad value, keeps the site's (reported) value rather than the default. */
void n8443_ld_merge_defaults(struct n8443_site *site,
                             const struct n8443_site *defs)
{
    MERGE(listen);
    MERGE(auth_name);
    MERGE(tls.certificate);
    MERGE(tls.key);
    MERGE(tls.chain);
    MERGE(tls.profile);
    MERGE(tls.hsts);
    MERGE(kerberos.realm);
    MERGE(kerberos.keytab);
    MERGE(kerberos.service_principal);
    MERGE(kerberos.gssproxy);
    MERGE(kerberos.replay_cache);
    MERGE(kerberos.redis.auth_file);
    MERGE(kerberos.redis.tls_ca);
    MERGE(kerberos.redis.tls_name);
    MERGE(kerberos.redis.timeout);
    MERGE(kerberos.redis.wait_replicas);
    MERGE(kerberos.redis.wait_timeout);
    if (!site->kerberos.redis.seen && defs->kerberos.redis.present) {
        site->kerberos.redis.present = 1;
        site->kerberos.redis.pos = defs->kerberos.redis.pos;
        site->kerberos.redis.from_defaults = 1;
    }
    MERGE(kerberos.replay_cache_file);
    MERGE(kerberos.replay_cache_margin);
    MERGE(kerberos.clock_skew);
    MERGE(kerberos.channel_binding);
    MERGE(kerberos.basic_fallback);
    MERGE(kerberos.user_name);
    MERGE(kerberos.session);
    MERGE(kerberos.session_key_file);
    MERGE(kerberos.session_max_age);
    MERGE(kerberos.delegation);
    MERGE(kerberos.delegation_dir);
    MERGE(kerberos.max_token_size);
    MERGE(kerberos.negotiate_once);
    MERGE(kerberos.ad_ldap_uri);
    MERGE(help.contact);
    MERGE(help.url);
    MERGE(help.pages);
    if (!site->help.seen && defs->help.present) {
        site->help.present = 1;
        site->help.pos = defs->help.pos;
    }
    MERGE(kerberos.group_map);
}

#undef MERGE

/* Built-in defaults for what neither the site nor `defaults` set. */
int n8443_ld_apply_builtin_defaults(struct n8443_ld *c, struct n8443_site *site)
{
    struct n8443_kerberos *krb = &site->kerberos;

    if (!site->listen.set) {
        site->listen.v = N8443_LD_DEFAULT_PORT;
    }
    if (!site->auth_name.set) {
        site->auth_name.v = site->server_name.v;
    }
    if (!site->tls.profile.set) {
        site->tls.profile.v = N8443_PROFILE_SYSTEM;
    }
    if (!krb->service_principal.set) {
        krb->service_principal.v = "any";
    }
    if (!krb->replay_cache.set) {
        krb->replay_cache.kind = N8443_RC_SHM;
    }
    if (!krb->clock_skew.set) {
        krb->clock_skew.v = N8443_DEFAULT_CLOCK_SKEW;
    }
    if (!krb->channel_binding.set) {
        krb->channel_binding.v = N8443_CB_OPTIONAL;
    }
    if (!krb->user_name.set) {
        krb->user_name.v = N8443_USER_PRINCIPAL;
    }
    if (!krb->delegation.set) {
        krb->delegation.v = N8443_DELEG_NONE;
    }
    if (!krb->max_token_size.set) {
        krb->max_token_size.v = N8443_DEFAULT_MAX_TOKEN;
    }
    if (!site->help.pages.set) {
        site->help.pages.v = N8443_PAGES_DIR;
    }
    if (!site->locations_set) {
        /* No locations: the whole site needs a login. */
        site->locations = n8443_arena_alloc(c->arena, sizeof(*site->locations));
        if (site->locations == NULL) {
            c->oom = 1;
            return 0;
        }
        site->locations[0].path.v = "/";
        site->locations[0].pos = site->pos;
        site->nlocations = 1;
    }
    return 1;
}

/* For the ProxyPass slash rule in check_location. */
