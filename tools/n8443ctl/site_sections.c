/*
 * n8443ctl - site file loader, pass 1: each section (a site, its `tls`,
 * `kerberos` and `locations` blocks) walked against its table of keys,
 * every value checked by site_values.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "msgs.h"
#include "site_values.h"

static const char *const profile_names[] = {"system", "intermediate", "modern",
                                            NULL};
static const char *const cb_names[] = {"off", "optional", "require", NULL};
static const char *const user_name_names[] = {"principal", "short", "local",
                                              NULL};
const char *const n8443_ld_delegation_names[] = {"none", "forwarded",
                                                 "constrained", NULL};

int n8443_ld_want_map(struct n8443_ld *c, const ynode *v, const char *key)
{
    char described[DESCRIBE_BUF];

    if (v->kind != N8443_YMAP) {
        n8443_ld_diag(c, v, "'%s' must be a mapping, got %s", key,
                      n8443_ld_describe(described, v));
        return 0;
    }
    return 1;
}

enum { TLS_CERT, TLS_KEY, TLS_CHAIN, TLS_PROFILE, TLS_HSTS, TLS_N };
static const char *const tls_keys[] = {"certificate", "key",  "chain",
                                       "profile",     "hsts", NULL};

/* The `tls:` block.  Its required keys are checked after merging
 * (n8443_ld_check_site): `defaults` may carry a certificate that all
 * sites share. */
static void parse_tls(struct n8443_ld *c, const ynode *map,
                      struct n8443_tls *tls)
{
    const ynode *seen[TLS_N] = {NULL};
    size_t i;

    tls->seen = 1;
    if (!n8443_ld_want_map(c, map, "tls")) {
        return;
    }
    tls->present = 1;
    tls->pos = n8443_ld_pos(map);
    for (i = 0; i + 1 < map->nitems; i += 2) {
        const ynode *v = map->items[i + 1];

        switch (n8443_ld_key_index(c, map->items[i], tls_keys, seen)) {
        case TLS_CERT:
            n8443_ld_get_path(c, v, "certificate", &tls->certificate);
            break;
        case TLS_KEY: n8443_ld_get_path(c, v, "key", &tls->key); break;
        case TLS_CHAIN: n8443_ld_get_path(c, v, "chain", &tls->chain); break;
        case TLS_PROFILE:
            n8443_ld_get_enum(c, v, "profile", profile_names, &tls->profile);
            break;
        case TLS_HSTS: n8443_ld_get_bool(c, v, "hsts", &tls->hsts); break;
        default: break;
        }
    }
}

enum {
    K_REALM,
    K_KEYTAB,
    K_SPN,
    K_GSSPROXY,
    K_RCACHE,
    K_REDIS,
    K_RC_FILE,
    K_RC_MARGIN,
    K_SKEW,
    K_CB,
    K_BASIC,
    K_USER,
    K_SESSION,
    K_SESSION_KEY,
    K_SESSION_AGE,
    K_DELEG,
    K_DELEG_DIR,
    K_MAX_TOKEN,
    K_ONCE,
    K_AD_LDAP,
    K_GROUP_MAP,
    K_N
};
static const char *const kerberos_keys[] = {"realm",
                                            "keytab",
                                            "service_principal",
                                            "gssproxy",
                                            "replay_cache",
                                            "redis",
                                            "replay_cache_file",
                                            "replay_cache_margin",
                                            "clock_skew",
                                            "channel_binding",
                                            "basic_fallback",
                                            "user_name",
                                            "session",
                                            "session_key_file",
                                            "session_max_age",
                                            "delegation",
                                            "delegation_dir",
                                            "max_token_size",
                                            "negotiate_once",
                                            "ad_ldap_uri",
                                            "group_map",
                                            NULL};

/* The `kerberos:` block.  No key is required; a key that needs a
 * companion (session -> session_key_file) is checked after merging, when
 * both may have come from different places. */
static void parse_kerberos(struct n8443_ld *c, const ynode *map,
                           struct n8443_kerberos *krb)
{
    const ynode *seen[K_N] = {NULL};
    size_t i;

    if (!n8443_ld_want_map(c, map, "kerberos")) {
        return;
    }
    krb->present = 1;
    krb->pos = n8443_ld_pos(map);
    for (i = 0; i + 1 < map->nitems; i += 2) {
        const ynode *v = map->items[i + 1];

        switch (n8443_ld_key_index(c, map->items[i], kerberos_keys, seen)) {
        case K_REALM:
            if (n8443_ld_want_word(c, v, "realm", "a realm name")) {
                n8443_ld_set_str(&krb->realm, v);
            }
            break;
        case K_KEYTAB: n8443_ld_get_path(c, v, "keytab", &krb->keytab); break;
        case K_SPN:
            n8443_ld_get_service_principal(c, v, &krb->service_principal);
            break;
        case K_GSSPROXY:
            n8443_ld_get_bool(c, v, "gssproxy", &krb->gssproxy);
            break;
        case K_RCACHE:
            n8443_ld_get_replay_cache(c, v, &krb->replay_cache);
            break;
        case K_REDIS: n8443_ld_parse_redis(c, v, &krb->redis); break;
        case K_RC_FILE:
            n8443_ld_get_path(c, v, "replay_cache_file",
                              &krb->replay_cache_file);
            break;
        case K_RC_MARGIN:
            n8443_ld_get_int(c, v, "replay_cache_margin", 0, 86400,
                             "a number of seconds", &krb->replay_cache_margin);
            break;
        case K_SKEW:
            n8443_ld_get_int(c, v, "clock_skew", 1, 86400,
                             "a number of seconds", &krb->clock_skew);
            break;
        case K_CB:
            n8443_ld_get_enum(c, v, "channel_binding", cb_names,
                              &krb->channel_binding);
            break;
        case K_BASIC:
            n8443_ld_get_bool(c, v, "basic_fallback", &krb->basic_fallback);
            break;
        case K_USER:
            n8443_ld_get_enum(c, v, "user_name", user_name_names,
                              &krb->user_name);
            break;
        case K_SESSION:
            n8443_ld_get_bool(c, v, "session", &krb->session);
            break;
        case K_SESSION_KEY:
            n8443_ld_get_path(c, v, "session_key_file", &krb->session_key_file);
            break;
        case K_SESSION_AGE:
            n8443_ld_get_int(c, v, "session_max_age", 60, 604800,
                             "a number of seconds", &krb->session_max_age);
            break;
        case K_DELEG:
            n8443_ld_get_enum(c, v, "delegation", n8443_ld_delegation_names,
                              &krb->delegation);
            break;
        case K_DELEG_DIR:
            n8443_ld_get_path(c, v, "delegation_dir", &krb->delegation_dir);
            break;
        case K_MAX_TOKEN:
            /* The module's own bounds (NegotiateMaxTokenSize). */
            n8443_ld_get_int(c, v, "max_token_size", 1024, 1048576,
                             "a number of bytes", &krb->max_token_size);
            break;
        case K_ONCE:
            n8443_ld_get_bool(c, v, "negotiate_once", &krb->negotiate_once);
            break;
        case K_AD_LDAP:
            /* Only check --online reads it (the AD checks); the module
             * never talks LDAP. */
            krb->ad_ldap_uri.seen = 1;
            if (n8443_ld_want_word(c, v, "ad_ldap_uri",
                                   "an ldap://HOST or ldaps://HOST URI")) {
                if ((strncmp(v->text, "ldap://", 7) != 0 || v->len == 7)
                    && (strncmp(v->text, "ldaps://", 8) != 0 || v->len == 8)) {
                    n8443_ld_diag(c, v,
                                  "'ad_ldap_uri' must be "
                                  "ldap://HOST or ldaps://HOST (the domain "
                                  "controller), got '%s'",
                                  v->text);
                }
                else {
                    n8443_ld_set_str(&krb->ad_ldap_uri, v);
                }
            }
            break;
        case K_GROUP_MAP:
            n8443_ld_get_path(c, v, "group_map", &krb->group_map);
            break;
        default: break;
        }
    }
}

/*
 * Why PATH (help: pages) cannot be the 401 page's directory, or NULL.
 * Only the page file is published (render_help.c), but its <Directory>
 * section and a mistake in it would reach the whole tree: "/", a
 * top-level directory, a web root or a system tree are refused, and so
 * are "." and ".." (the path must name the directory it looks like).
 */
static const char *pages_misfit(const char *path, size_t len)
{
    static const char *const roots[] = {"/var/www",   "/var/www/html",
                                        "/var/lib",   "/var/log",
                                        "/usr/share", "/usr/local",
                                        "/usr/lib",   "/usr/lib64",
                                        "/etc/httpd", "/etc/apache2",
                                        "/etc/pki",   "/etc/ssl",
                                        "/srv/www",   NULL};
    size_t i, n = len, depth = 0;

    while (n > 1 && path[n - 1] == '/') {
        n--;
    }
    for (i = 0; i < n; i++) {
        size_t seg;

        if (path[i] != '/') {
            continue;
        }
        if (i + 1 < n && path[i + 1] == '/') {
            return "has an empty segment ('//')";
        }
        seg = strcspn(path + i + 1, "/");
        if (seg > n - i - 1) {
            seg = n - i - 1;
        }
        if ((seg == 1 && path[i + 1] == '.')
            || (seg == 2 && path[i + 1] == '.' && path[i + 2] == '.')) {
            return "has a '.' or '..' segment";
        }
        if (seg > 0) {
            depth++;
        }
    }
    if (depth < 2) {
        return "is the root or a top-level directory";
    }
    for (i = 0; roots[i] != NULL; i++) {
        if (strlen(roots[i]) == n && strncmp(path, roots[i], n) == 0) {
            return "is a web root or a system directory";
        }
    }
    return NULL;
}

enum { H_CONTACT, H_URL, H_PAGES, H_N };
static const char *const help_keys[] = {"contact", "url", "pages", NULL};

/* The `help:` block: whom a user whose login failed should ask.  The
 * values end up in SetEnv lines and, entity-escaped by mod_include, in
 * the 401 page: quotable text is enough. */
static void parse_help(struct n8443_ld *c, const ynode *map,
                       struct n8443_help *help)
{
    const ynode *seen[H_N] = {NULL};
    char shown[SHOW_BUF];
    size_t i;

    help->seen = 1;
    if (!n8443_ld_want_map(c, map, "help")) {
        return;
    }
    help->present = 1;
    help->pos = n8443_ld_pos(map);
    for (i = 0; i + 1 < map->nitems; i += 2) {
        const ynode *v = map->items[i + 1];

        switch (n8443_ld_key_index(c, map->items[i], help_keys, seen)) {
        case H_CONTACT:
            help->contact.seen = 1;
            if (n8443_ld_want_quotable(c, v, "contact", "a string")) {
                n8443_ld_set_str(&help->contact, v);
            }
            break;
        case H_URL:
            help->url.seen = 1;
            if (!n8443_ld_want_word(c, v, "url", "a URL")) {
                break;
            }
            if (strncmp(v->text, "https://", 8) != 0
                && strncmp(v->text, "http://", 7) != 0
                && strncmp(v->text, "mailto:", 7) != 0) {
                n8443_ld_diag(c, v,
                              "'url' must start with https://, http:// or "
                              "mailto:, got '%s'",
                              n8443_ld_show(shown, v->text, v->len));
                break;
            }
            n8443_ld_set_str(&help->url, v);
            break;
        case H_PAGES: {
            const char *why;

            n8443_ld_get_path(c, v, "pages", &help->pages);
            if (!help->pages.set) {
                break;
            }
            why = pages_misfit(v->text, v->len);
            if (why != NULL) {
                /* Published without a login: only a directory of the
                 * page(s), like the package's own. */
                n8443_ld_diag(c, v,
                              "'pages' '%s' %s: name a directory that holds "
                              "only the 401 page (401.shtml), such as "
                              "the package's /usr/share/mod_negotiate8443/"
                              "pages",
                              n8443_ld_show(shown, v->text, v->len), why);
                help->pages.set = 0;
            }
            break;
        }
        default: break;
        }
    }
}

enum { R_USERS, R_GROUPS, R_INDICATORS, R_N };
static const char *const require_keys[] = {"users", "groups", "auth_indicators",
                                           NULL};

/*
 * require: valid-user, or a mapping with `users`, `groups` and/or
 * `auth_indicators`.  Whoever is one of the users or in one of the groups
 * may pass (any of them), and, with auth_indicators, only with a ticket
 * that carries one of those (render.c: <RequireAll>).
 */
static void parse_require(struct n8443_ld *c, const ynode *v,
                          struct n8443_location *loc)
{
    static const char *const words[] = {"valid-user", NULL};
    const ynode *seen[R_N] = {NULL};
    char described[DESCRIBE_BUF];
    const char *hint;
    size_t i;

    if (v->kind == N8443_YSCALAR && !n8443_ld_is_null(v)) {
        if (strcmp(v->text, "valid-user") == 0) {
            return;
        }
        hint = n8443_suggest(v->text, words);
        n8443_ld_diag(c, v,
                      "'require' must be valid-user or a mapping with 'users', "
                      "'groups' and/or 'auth_indicators', got %s%s",
                      n8443_ld_describe(described, v),
                      hint ? " (did you mean 'valid-user'?)" : "");
        return;
    }
    if (v->kind != N8443_YMAP || v->nitems == 0) {
        n8443_ld_diag(c, v,
                      "'require' must be valid-user or a mapping with 'users', "
                      "'groups' and/or 'auth_indicators', got %s",
                      n8443_ld_describe(described, v));
        return;
    }
    for (i = 0; i + 1 < v->nitems; i += 2) {
        const ynode *value = v->items[i + 1];

        switch (n8443_ld_key_index(c, v->items[i], require_keys, seen)) {
        case R_USERS:
            n8443_ld_get_list(c, value, "users", n8443_ld_check_account, 0,
                              &loc->users);
            break;
        case R_GROUPS:
            n8443_ld_get_list(c, value, "groups", n8443_ld_check_group, 0,
                              &loc->groups);
            break;
        case R_INDICATORS:
            n8443_ld_get_list(c, value, "auth_indicators",
                              n8443_ld_check_account, 0, &loc->auth_indicators);
            break;
        default: break;
        }
    }
}

enum {
    L_PATH,
    L_REQUIRE,
    L_GROUP_FILE,
    L_PROXY,
    L_USER_HEADER,
    L_FWD_GROUPS,
    L_N
};
static const char *const location_keys[] = {
    "path",        "require",        "group_file", "proxy",
    "user_header", "forward_groups", NULL};

/* One entry of `locations`.  Rules between its keys (user_header needs
 * proxy) wait for check_location, which sees the whole entry. */
static void parse_location(struct n8443_ld *c, const ynode *map,
                           struct n8443_location *loc)
{
    const ynode *seen[L_N] = {NULL};
    size_t i;

    loc->pos = n8443_ld_pos(map);
    for (i = 0; i + 1 < map->nitems; i += 2) {
        const ynode *v = map->items[i + 1];

        switch (n8443_ld_key_index(c, map->items[i], location_keys, seen)) {
        case L_PATH: n8443_ld_get_location_path(c, v, &loc->path); break;
        case L_REQUIRE: parse_require(c, v, loc); break;
        case L_GROUP_FILE:
            n8443_ld_get_path(c, v, "group_file", &loc->group_file);
            break;
        case L_PROXY: n8443_ld_get_proxy(c, v, &loc->proxy); break;
        case L_USER_HEADER:
            n8443_ld_get_user_header(c, v, &loc->user_header);
            break;
        case L_FWD_GROUPS:
            n8443_ld_get_header(c, v, "forward_groups", &loc->forward_groups);
            break;
        default: break;
        }
    }
    if (seen[L_PATH] == NULL) {
        n8443_ld_diag(c, map, "missing required key 'path'");
    }
}

/* `locations:`.  An explicit empty list is refused rather than read as
 * "no login anywhere": leaving the key out means one location "/". */
static void parse_locations(struct n8443_ld *c, const ynode *v,
                            struct n8443_site *site)
{
    char described[DESCRIBE_BUF];
    size_t i;

    if (v->kind != N8443_YSEQ) {
        n8443_ld_diag(c, v, "'locations' must be a list, got %s",
                      n8443_ld_describe(described, v));
        return;
    }
    if (v->nitems == 0) {
        n8443_ld_diag(c, v,
                      "'locations' must not be an empty list (leave it out "
                      "for one location '/' that needs a login)");
        return;
    }
    site->locations =
        n8443_arena_alloc(c->arena, v->nitems * sizeof(*site->locations));
    if (site->locations == NULL) {
        c->oom = 1;
        return;
    }
    site->nlocations = v->nitems;
    site->locations_set = 1;
    for (i = 0; i < v->nitems; i++) {
        if (v->items[i]->kind != N8443_YMAP) {
            n8443_ld_diag(c, v->items[i],
                          "each entry of 'locations' must be a "
                          "mapping with a 'path', got %s",
                          n8443_ld_describe(described, v->items[i]));
            continue;
        }
        parse_location(c, v->items[i], &site->locations[i]);
    }
}

enum {
    S_NAME,
    S_SERVER_NAME,
    S_ALIASES,
    S_LISTEN,
    S_AUTH_NAME,
    S_TLS,
    S_KERBEROS,
    S_LOCATIONS,
    S_HELP,
    S_BEHIND,
    S_N
};
static const char *const site_keys[] = {
    "name",     "server_name", "aliases", "listen", "auth_name", "tls",
    "kerberos", "locations",   "help",    "behind", NULL};

/*
 * One entry of `sites`, or `defaults` (IN_DEFAULTS), which takes the same
 * keys except those that can only differ from site to site.
 */
void n8443_ld_parse_site(struct n8443_ld *c, const ynode *map,
                         struct n8443_site *site, int in_defaults)
{
    const ynode *seen[S_N] = {NULL};
    size_t i;

    site->pos = n8443_ld_pos(map);
    for (i = 0; i + 1 < map->nitems; i += 2) {
        const ynode *v = map->items[i + 1];
        int idx = n8443_ld_key_index(c, map->items[i], site_keys, seen);

        if (in_defaults
            && (idx == S_NAME || idx == S_SERVER_NAME || idx == S_ALIASES
                || idx == S_LOCATIONS || idx == S_BEHIND)) {
            n8443_ld_diag(c, map->items[i],
                          "'%s' cannot be set in 'defaults': it "
                          "belongs to each site",
                          site_keys[idx]);
            continue;
        }
        switch (idx) {
        case S_NAME: n8443_ld_get_site_name(c, v, &site->name); break;
        case S_SERVER_NAME:
            n8443_ld_get_host(c, v, "server_name", &site->server_name);
            break;
        case S_ALIASES:
            n8443_ld_get_list(c, v, "aliases", n8443_ld_check_host, 1,
                              &site->aliases);
            break;
        case S_LISTEN:
            n8443_ld_get_int(c, v, "listen", 1, 65535, "a port number",
                             &site->listen);
            break;
        case S_AUTH_NAME:
            if (n8443_ld_want_quotable(c, v, "auth_name", "a string")) {
                n8443_ld_set_str(&site->auth_name, v);
            }
            break;
        case S_TLS: parse_tls(c, v, &site->tls); break;
        case S_KERBEROS: parse_kerberos(c, v, &site->kerberos); break;
        case S_LOCATIONS: parse_locations(c, v, site); break;
        case S_HELP: parse_help(c, v, &site->help); break;
        case S_BEHIND: n8443_ld_parse_behind(c, v, &site->behind); break;
        default: break;
        }
    }
    if (!in_defaults) {
        if (seen[S_NAME] == NULL) {
            n8443_ld_diag(c, map, "missing required key 'name'");
        }
        if (seen[S_SERVER_NAME] == NULL) {
            n8443_ld_diag(c, map, "missing required key 'server_name'");
        }
    }
}
