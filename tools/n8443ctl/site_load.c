/*
 * n8443ctl - site file loader, part 2: sections, defaults, cross checks.
 *
 * Three passes, so that each kind of mistake is reported where it is
 * made: (1) every mapping is walked against its table of keys, each value
 * checked by site_values.c; (2) `defaults` is merged into each site field
 * by field and the built-in defaults fill what is left; (3) rules that
 * span values (a session needs a key file) or sites (one server name per
 * port, one clock skew per instance) are checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "msgs.h"
#include "site_values.h"

/* --------------------------------------------------------- sections */

static const char *const profile_names[] = {"system", "intermediate", "modern",
                                            NULL};
static const char *const cb_names[] = {"off", "optional", "require", NULL};
static const char *const user_name_names[] = {"principal", "short", "local",
                                              NULL};
static const char *const delegation_names[] = {"none", "forwarded",
                                               "constrained", NULL};

static int want_map(struct n8443_ld *c, const ynode *v, const char *key)
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
 * (check_site): `defaults` may carry a certificate that all sites share. */
static void parse_tls(struct n8443_ld *c, const ynode *map,
                      struct n8443_tls *tls)
{
    const ynode *seen[TLS_N] = {NULL};
    size_t i;

    tls->seen = 1;
    if (!want_map(c, map, "tls")) {
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
        case TLS_KEY:
            n8443_ld_get_path(c, v, "key", &tls->key);
            break;
        case TLS_CHAIN:
            n8443_ld_get_path(c, v, "chain", &tls->chain);
            break;
        case TLS_PROFILE:
            n8443_ld_get_enum(c, v, "profile", profile_names, &tls->profile);
            break;
        case TLS_HSTS:
            n8443_ld_get_bool(c, v, "hsts", &tls->hsts);
            break;
        default:
            break;
        }
    }
}

enum {
    K_REALM,
    K_KEYTAB,
    K_SPN,
    K_GSSPROXY,
    K_RCACHE,
    K_SKEW,
    K_CB,
    K_BASIC,
    K_USER,
    K_SESSION,
    K_SESSION_KEY,
    K_SESSION_AGE,
    K_DELEG,
    K_DELEG_DIR,
    K_N
};
static const char *const kerberos_keys[] = {
    "realm",           "keytab",           "service_principal",
    "gssproxy",        "replay_cache",     "clock_skew",
    "channel_binding", "basic_fallback",   "user_name",
    "session",         "session_key_file", "session_max_age",
    "delegation",      "delegation_dir",   NULL};

/* The `kerberos:` block.  No key is required; a key that needs a
 * companion (session -> session_key_file) is checked after merging, when
 * both may have come from different places. */
static void parse_kerberos(struct n8443_ld *c, const ynode *map,
                           struct n8443_kerberos *krb)
{
    const ynode *seen[K_N] = {NULL};
    size_t i;

    if (!want_map(c, map, "kerberos")) {
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
        case K_KEYTAB:
            n8443_ld_get_path(c, v, "keytab", &krb->keytab);
            break;
        case K_SPN:
            n8443_ld_get_service_principal(c, v, &krb->service_principal);
            break;
        case K_GSSPROXY:
            n8443_ld_get_bool(c, v, "gssproxy", &krb->gssproxy);
            break;
        case K_RCACHE:
            n8443_ld_get_replay_cache(c, v, &krb->replay_cache);
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
            n8443_ld_get_path(c, v, "session_key_file",
                              &krb->session_key_file);
            break;
        case K_SESSION_AGE:
            n8443_ld_get_int(c, v, "session_max_age", 60, 604800,
                             "a number of seconds", &krb->session_max_age);
            break;
        case K_DELEG:
            n8443_ld_get_enum(c, v, "delegation", delegation_names,
                              &krb->delegation);
            break;
        case K_DELEG_DIR:
            n8443_ld_get_path(c, v, "delegation_dir", &krb->delegation_dir);
            break;
        default:
            break;
        }
    }
}

enum { R_USERS, R_GROUPS, R_N };
static const char *const require_keys[] = {"users", "groups", NULL};

/*
 * require: valid-user, or a mapping with `users` and/or `groups`.  Each
 * name becomes its own Require line, and several Require lines admit
 * whoever matches any of them (httpd's implicit <RequireAny>).
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
                      "'require' must be valid-user or a mapping with 'users' "
                      "and/or 'groups', got %s%s",
                      n8443_ld_describe(described, v),
                      hint ? " (did you mean 'valid-user'?)" : "");
        return;
    }
    if (v->kind != N8443_YMAP || v->nitems == 0) {
        n8443_ld_diag(c, v,
                      "'require' must be valid-user or a mapping with 'users' "
                      "and/or 'groups', got %s",
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
            n8443_ld_get_list(c, value, "groups", n8443_ld_check_account, 0,
                              &loc->groups);
            break;
        default:
            break;
        }
    }
}

enum { L_PATH, L_REQUIRE, L_GROUP_FILE, L_PROXY, L_USER_HEADER, L_N };
static const char *const location_keys[] = {
    "path", "require", "group_file", "proxy", "user_header", NULL};

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
        case L_PATH:
            n8443_ld_get_location_path(c, v, &loc->path);
            break;
        case L_REQUIRE:
            parse_require(c, v, loc);
            break;
        case L_GROUP_FILE:
            n8443_ld_get_path(c, v, "group_file", &loc->group_file);
            break;
        case L_PROXY:
            n8443_ld_get_proxy(c, v, &loc->proxy);
            break;
        case L_USER_HEADER:
            n8443_ld_get_user_header(c, v, &loc->user_header);
            break;
        default:
            break;
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
    S_N
};
static const char *const site_keys[] = {"name",     "server_name", "aliases",
                                        "listen",   "auth_name",   "tls",
                                        "kerberos", "locations",   NULL};

/*
 * One entry of `sites`, or `defaults` (IN_DEFAULTS), which takes the same
 * keys except those that can only differ from site to site.
 */
static void parse_site(struct n8443_ld *c, const ynode *map,
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
                || idx == S_LOCATIONS)) {
            n8443_ld_diag(c, map->items[i],
                          "'%s' cannot be set in 'defaults': it "
                          "belongs to each site",
                          site_keys[idx]);
            continue;
        }
        switch (idx) {
        case S_NAME:
            n8443_ld_get_site_name(c, v, &site->name);
            break;
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
        case S_TLS:
            parse_tls(c, v, &site->tls);
            break;
        case S_KERBEROS:
            parse_kerberos(c, v, &site->kerberos);
            break;
        case S_LOCATIONS:
            parse_locations(c, v, site);
            break;
        default:
            break;
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

/* -------------------------------------------------- defaults, checks */

#define MERGE(field)                                                          \
    do {                                                                      \
        if (!site->field.set && !site->field.seen) {                          \
            site->field = defs->field;                                        \
        }                                                                     \
    } while (0)

/* Field by field, so that a site overrides one TLS or Kerberos setting
 * and inherits the rest of the block.  A key the site has, even with a
 * bad value, keeps the site's (reported) value rather than the default. */
static void merge_defaults(struct n8443_site *site,
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
    MERGE(kerberos.clock_skew);
    MERGE(kerberos.channel_binding);
    MERGE(kerberos.basic_fallback);
    MERGE(kerberos.user_name);
    MERGE(kerberos.session);
    MERGE(kerberos.session_key_file);
    MERGE(kerberos.session_max_age);
    MERGE(kerberos.delegation);
    MERGE(kerberos.delegation_dir);
}

#undef MERGE

#define DEFAULT_PORT 8443
#define DEFAULT_CLOCK_SKEW 300

/* Built-in defaults for what neither the site nor `defaults` set. */
static int apply_builtin_defaults(struct n8443_ld *c, struct n8443_site *site)
{
    struct n8443_kerberos *krb = &site->kerberos;

    if (!site->listen.set) {
        site->listen.v = DEFAULT_PORT;
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
        krb->clock_skew.v = DEFAULT_CLOCK_SKEW;
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
    if (!site->locations_set) {
        /* No locations: the whole site needs a login. */
        site->locations =
            n8443_arena_alloc(c->arena, sizeof(*site->locations));
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
static int ends_with_slash(const char *s)
{
    size_t len = strlen(s);

    return len > 0 && s[len - 1] == '/';
}

/* The proxy URL's path part ("" when it has none). */
static const char *url_path(const char *url)
{
    const char *p = strchr(url + 7, '/');

    return p ? p : "";
}

static int cmp_location_path(const void *a, const void *b)
{
    const struct n8443_location *const *la = a;
    const struct n8443_location *const *lb = b;
    int d = strcmp((*la)->path.v, (*lb)->path.v);

    if (d != 0) {
        return d;
    }
    return (*la < *lb) ? -1 : (*la > *lb);
}

/* Rules within one location that need more than one of its keys. */
static void check_location(struct n8443_ld *c,
                           const struct n8443_location *loc)
{
    char shown[SHOW_BUF];
    char suggestion[SHOW_BUF + 8];

    /* A companion that is there but bad is already reported as bad. */
    if (loc->user_header.set && !loc->proxy.seen) {
        n8443_ld_diag_pos(
            c, loc->user_header.pos,
            "'user_header' needs 'proxy': "
            "without a backend the application reads REMOTE_USER");
    }
    if (loc->groups.set && !loc->group_file.seen) {
        n8443_ld_diag_pos(
            c, loc->groups.pos,
            "'groups' needs 'group_file' in the "
            "same location (mod_authz_groupfile reads the members "
            "from it)");
    }
    if (loc->group_file.set && !loc->groups.seen) {
        n8443_ld_diag_pos(c, loc->group_file.pos,
                          "'group_file' is only used with "
                          "'require: {groups: [...]}'");
    }
    if (loc->proxy.set && loc->path.set) {
        int path_slash = ends_with_slash(loc->path.v);
        int url_slash = ends_with_slash(url_path(loc->proxy.v));

        /* httpd maps PATH + rest to URL + rest: a slash on one side only
         * makes "/api/x" reach the backend as "//x" or "/apix". */
        if (path_slash != url_slash) {
            n8443_ld_show(shown, loc->proxy.v, strlen(loc->proxy.v));
            if (url_slash) {
                snprintf(suggestion, sizeof(suggestion), "%.*s",
                         (int)strlen(loc->proxy.v) - 1, loc->proxy.v);
            }
            else {
                snprintf(suggestion, sizeof(suggestion), "%s/", loc->proxy.v);
            }
            n8443_ld_diag_pos(c, loc->proxy.pos,
                              "'proxy' '%s' %s with '/' but "
                              "'path' '%s' %s: use proxy '%s'",
                              shown, url_slash ? "ends" : "does not end",
                              loc->path.v, path_slash ? "does" : "does not",
                              suggestion);
        }
    }
}

/*
 * Checks within one site after merging: required TLS files, settings
 * that need a companion, location rules, repeated paths.
 */
static void check_site(struct n8443_ld *c, struct n8443_site *site,
                       int own_tls)
{
    const struct n8443_kerberos *krb = &site->kerberos;
    struct n8443_pos tls_pos = own_tls ? site->tls.pos : site->pos;
    const struct n8443_location **sorted;
    size_t n = 0;
    size_t i;

    if (!site->tls.present && !site->tls.seen) {
        n8443_ld_diag_pos(c, site->pos, "missing required key 'tls'");
    }
    else if (site->tls.present) {
        if (!site->tls.certificate.seen) {
            n8443_ld_diag_pos(c, tls_pos,
                              "missing required key 'certificate' in "
                              "'tls'");
        }
        if (!site->tls.key.seen) {
            n8443_ld_diag_pos(c, tls_pos,
                              "missing required key 'key' in 'tls'");
        }
    }
    if (krb->session.v && !krb->session_key_file.seen) {
        n8443_ld_diag_pos(c, krb->session.pos,
                          "'session: true' needs "
                          "'session_key_file' (the key that seals the session "
                          "cookie)");
    }
    if (krb->delegation.v != N8443_DELEG_NONE
        && !krb->delegation_dir.seen) {
        n8443_ld_diag_pos(
            c, krb->delegation.pos,
            "'delegation: %s' needs "
            "'delegation_dir' (where delegated credentials are kept)",
            delegation_names[krb->delegation.v]);
    }
    for (i = 0; i < site->nlocations; i++) {
        check_location(c, &site->locations[i]);
    }

    sorted = malloc(site->nlocations * sizeof(*sorted));
    if (sorted == NULL) {
        c->oom = 1;
        return;
    }
    for (i = 0; i < site->nlocations; i++) {
        /* A location whose path was missing or bad is already reported. */
        if (site->locations[i].path.v != NULL) {
            sorted[n++] = &site->locations[i];
        }
    }
    qsort(sorted, n, sizeof(*sorted), cmp_location_path);
    for (i = 1; i < n; i++) {
        if (strcmp(sorted[i]->path.v, sorted[i - 1]->path.v) == 0) {
            const struct n8443_location *first = sorted[i - 1];

            while (i < n && strcmp(sorted[i]->path.v, first->path.v) == 0) {
                n8443_ld_diag_pos(c, sorted[i]->path.pos,
                                  "duplicate location '%s' "
                                  "(first at %d:%d)",
                                  first->path.v, first->path.pos.line,
                                  first->path.pos.col);
                i++;
            }
        }
    }
    free(sorted);
}

/* One name a vhost answers to, for the one-name-per-port check. */
struct host_use {
    long port;
    const char *name;
    struct n8443_pos pos;
    const struct n8443_site *site;
    size_t order;
};

static int cmp_host_use(const void *a, const void *b)
{
    const struct host_use *ha = a;
    const struct host_use *hb = b;
    int d;

    if (ha->port != hb->port) {
        return ha->port < hb->port ? -1 : 1;
    }
    d = strcasecmp(ha->name, hb->name);
    if (d != 0) {
        return d;
    }
    return (ha->order > hb->order) - (ha->order < hb->order);
}

/*
 * httpd picks a name-based vhost by the first ServerName/ServerAlias that
 * matches; a second one with the same name on the same port would never
 * be reached.  Sorting keeps this linear-logarithmic for large files.
 */
static void check_host_names(struct n8443_ld *c,
                             const struct n8443_config *cfg)
{
    struct host_use *uses;
    size_t n = 0;
    size_t total = 0;
    size_t i;
    size_t j;

    for (i = 0; i < cfg->nsites; i++) {
        total += 1 + cfg->sites[i].aliases.n;
    }
    uses = malloc(total * sizeof(*uses));
    if (uses == NULL) {
        c->oom = 1;
        return;
    }
    for (i = 0; i < cfg->nsites; i++) {
        const struct n8443_site *s = &cfg->sites[i];

        if (s->server_name.set) {
            uses[n].port = s->listen.v;
            uses[n].name = s->server_name.v;
            uses[n].pos = s->server_name.pos;
            uses[n].site = s;
            uses[n].order = n;
            n++;
        }
        for (j = 0; j < s->aliases.n; j++) {
            uses[n].port = s->listen.v;
            uses[n].name = s->aliases.v[j];
            uses[n].pos = s->aliases.item_pos[j];
            uses[n].site = s;
            uses[n].order = n;
            n++;
        }
    }
    qsort(uses, n, sizeof(*uses), cmp_host_use);
    for (i = 1; i < n; i++) {
        const struct host_use *first = &uses[i - 1];

        while (i < n && uses[i].port == first->port
               && strcasecmp(uses[i].name, first->name) == 0) {
            n8443_ld_diag_pos(
                c, uses[i].pos,
                "server name '%s' is already used on "
                "port %ld by %s%s%s (%d:%d)",
                uses[i].name, first->port,
                first->site == uses[i].site ? "this site" : "site '",
                first->site == uses[i].site
                    ? ""
                    : (first->site->name.v ? first->site->name.v : "?"),
                first->site == uses[i].site ? "" : "'", first->pos.line,
                first->pos.col);
            i++;
        }
    }
    free(uses);
}

static int cmp_site_name(const void *a, const void *b)
{
    const struct n8443_site *const *sa = a;
    const struct n8443_site *const *sb = b;
    int d = strcasecmp((*sa)->name.v, (*sb)->name.v);

    if (d != 0) {
        return d;
    }
    return (*sa > *sb) - (*sa < *sb);
}

/* Site names name files and appear in messages; two that differ only in
 * case would collide on a case-insensitive file system. */
static void check_site_names(struct n8443_ld *c,
                             const struct n8443_config *cfg)
{
    const struct n8443_site **named;
    size_t n = 0;
    size_t i;

    named = malloc(cfg->nsites * sizeof(*named));
    if (named == NULL) {
        c->oom = 1;
        return;
    }
    for (i = 0; i < cfg->nsites; i++) {
        if (cfg->sites[i].name.set) {
            named[n++] = &cfg->sites[i];
        }
    }
    qsort(named, n, sizeof(*named), cmp_site_name);
    for (i = 1; i < n; i++) {
        const struct n8443_site *first = named[i - 1];

        while (i < n && strcasecmp(named[i]->name.v, first->name.v) == 0) {
            n8443_ld_diag_pos(c, named[i]->name.pos,
                              "duplicate site name '%s' "
                              "(first at %d:%d)",
                              named[i]->name.v, first->name.pos.line,
                              first->name.pos.col);
            i++;
        }
    }
    free(named);
}

/*
 * NegotiateClockSkew is global-only in httpd (Kerberos applies the skew
 * per process), so the file can carry one value.  The first site that
 * sets it decides; a site that sets another value is an error, a site
 * that sets none gets it too.
 */
static void check_clock_skew(struct n8443_ld *c, struct n8443_config *cfg)
{
    const struct n8443_int *first = NULL;
    size_t i;

    for (i = 0; i < cfg->nsites; i++) {
        const struct n8443_int *skew = &cfg->sites[i].kerberos.clock_skew;

        if (!skew->set) {
            continue;
        }
        if (first == NULL) {
            first = skew;
        }
        else if (skew->v != first->v) {
            n8443_ld_diag_pos(c, skew->pos,
                              "clock_skew %ld differs from %ld at "
                              "%d:%d: the clock skew is instance-wide "
                              "(NegotiateClockSkew), so all sites must agree",
                              skew->v, first->v, first->pos.line,
                              first->pos.col);
        }
    }
    cfg->clock_skew = first ? first->v : DEFAULT_CLOCK_SKEW;
}

/* ------------------------------------------------------------- root */

enum { ROOT_VERSION, ROOT_DEFAULTS, ROOT_SITES, ROOT_N };
static const char *const root_keys[] = {"version", "defaults", "sites", NULL};

/*
 * The top level: `version`, `defaults`, `sites`.  Each site is merged with
 * the defaults and completed with built-in defaults before the checks that
 * span values and sites run, so those see what will be rendered.
 */
static void load_root(struct n8443_ld *c, const ynode *root,
                      struct n8443_config *cfg)
{
    const ynode *seen[ROOT_N] = {NULL};
    const ynode *sites = NULL;
    struct n8443_site defs;
    struct n8443_int version;
    char described[DESCRIBE_BUF];
    int *own_tls = NULL;
    size_t i;

    memset(&defs, 0, sizeof(defs));
    memset(&version, 0, sizeof(version));
    if (root == NULL || n8443_ld_is_null(root)) {
        n8443_diag_add(c->diags, root ? root->line : 1, root ? root->col : 1,
                       "the site file is empty");
        return;
    }
    if (root->kind != N8443_YMAP) {
        n8443_ld_diag(c, root,
                      "the site file must be a mapping with 'version' and "
                      "'sites', got %s",
                      n8443_ld_describe(described, root));
        return;
    }
    for (i = 0; i + 1 < root->nitems; i += 2) {
        const ynode *v = root->items[i + 1];

        switch (n8443_ld_key_index(c, root->items[i], root_keys, seen)) {
        case ROOT_VERSION:
            n8443_ld_get_int(c, v, "version", 1, 1000000, "a version number",
                             &version);
            if (version.set && version.v != 1) {
                n8443_ld_diag(c, v,
                              "unsupported version %ld: this n8443ctl reads "
                              "version 1",
                              version.v);
            }
            break;
        case ROOT_DEFAULTS:
            if (want_map(c, v, "defaults")) {
                parse_site(c, v, &defs, 1);
            }
            break;
        case ROOT_SITES:
            sites = v;
            break;
        default:
            break;
        }
    }
    if (seen[ROOT_VERSION] == NULL) {
        n8443_ld_diag(c, root, "missing required key 'version'");
    }
    if (seen[ROOT_SITES] == NULL) {
        n8443_ld_diag(c, root, "missing required key 'sites'");
        return;
    }
    if (sites->kind != N8443_YSEQ) {
        n8443_ld_diag(c, sites, "'sites' must be a list, got %s",
                      n8443_ld_describe(described, sites));
        return;
    }
    if (sites->nitems == 0) {
        n8443_ld_diag(c, sites, "'sites' must list at least one site");
        return;
    }
    cfg->version = version.v;
    cfg->sites =
        n8443_arena_alloc(c->arena, sites->nitems * sizeof(*cfg->sites));
    own_tls = calloc(sites->nitems, sizeof(*own_tls));
    if (cfg->sites == NULL || own_tls == NULL) {
        c->oom = 1;
        goto cleanup;
    }
    cfg->nsites = sites->nitems;
    for (i = 0; i < sites->nitems; i++) {
        const ynode *item = sites->items[i];

        if (item->kind != N8443_YMAP) {
            n8443_ld_diag(c, item,
                          "each entry of 'sites' must be a mapping, got %s",
                          n8443_ld_describe(described, item));
            continue;
        }
        parse_site(c, item, &cfg->sites[i], 0);
        own_tls[i] = cfg->sites[i].tls.present;
        /* A site's own bad `tls:` is reported; the defaults' block does
         * not stand in for it. */
        if (defs.tls.present && !cfg->sites[i].tls.seen) {
            cfg->sites[i].tls.present = 1;
        }
        merge_defaults(&cfg->sites[i], &defs);
        if (!apply_builtin_defaults(c, &cfg->sites[i])) {
            goto cleanup;
        }
    }
    for (i = 0; i < cfg->nsites && !c->oom; i++) {
        if (sites->items[i]->kind == N8443_YMAP) {
            check_site(c, &cfg->sites[i], own_tls[i]);
        }
    }
    if (!c->oom) {
        check_site_names(c, cfg);
    }
    if (!c->oom) {
        check_host_names(c, cfg);
    }
    check_clock_skew(c, cfg);

cleanup:
    free(own_tls);
}

/* Reading order: by line, then column; equal positions keep the order in
 * which they were found. */
static void sort_diags(struct n8443_diags *diags)
{
    size_t i;
    size_t j;

    for (i = 1; i < diags->n; i++) {
        struct n8443_diag d = diags->items[i];

        for (j = i; j > 0; j--) {
            const struct n8443_diag *prev = &diags->items[j - 1];

            if (prev->line < d.line
                || (prev->line == d.line && prev->col <= d.col)) {
                break;
            }
            diags->items[j] = *prev;
        }
        diags->items[j] = d;
    }
}

int n8443_site_load_buffer(const char *data, size_t len,
                           struct n8443_diags *diags,
                           struct n8443_config **config_out)
{
    struct n8443_config *cfg;
    struct n8443_ynode *root = NULL;
    struct n8443_ld c;
    int rc;

    memset(diags, 0, sizeof(*diags));
    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        return N8443_IO;
    }
    if (len > N8443_MAX_SITE_FILE) {
        n8443_diag_add(diags, 1, 1, "the site file is larger than %d bytes",
                       N8443_MAX_SITE_FILE);
        rc = N8443_INVALID;
        goto cleanup;
    }
    rc = n8443_sha256(data, len, cfg->input_sha256);
    if (rc != N8443_OK) {
        goto cleanup;
    }
    rc = n8443_yaml_parse(&cfg->arena, data, len, diags, &root);
    if (rc != N8443_OK) {
        goto cleanup;
    }
    c.arena = &cfg->arena;
    c.diags = diags;
    c.oom = 0;
    load_root(&c, root, cfg);
    if (c.oom) {
        rc = N8443_IO;
        goto cleanup;
    }
    if (diags->n > 0 || diags->truncated) {
        sort_diags(diags);
        rc = N8443_INVALID;
        goto cleanup;
    }
    *config_out = cfg;
    cfg = NULL;
    rc = N8443_OK;

cleanup:
    n8443_config_free(cfg);
    return rc;
}

/* Everything the config points to lives in its arena. */
void n8443_config_free(struct n8443_config *config)
{
    if (config == NULL) {
        return;
    }
    n8443_arena_free(&config->arena);
    free(config);
}

const char *n8443_site_label(const char *path)
{
    return strcmp(path, "-") == 0 ? "<stdin>" : path;
}

int n8443_site_load_path(const char *path, struct n8443_config **config_out)
{
    struct n8443_diags *diags;
    char *data = NULL;
    size_t len = 0;
    int rc;

    diags = malloc(sizeof(*diags));
    if (diags == NULL) {
        n8443_error("out of memory");
        return N8443_IO;
    }
    /* Up to one byte over the limit, which the loader reports as an
     * invalid site file. */
    rc = n8443_read_file(path, N8443_MAX_SITE_FILE, &data, &len);
    if (rc != N8443_OK) {
        goto cleanup;
    }
    rc = n8443_site_load_buffer(data, len, diags, config_out);
    if (rc == N8443_INVALID) {
        n8443_diags_print(n8443_site_label(path), diags);
    }
    else if (rc == N8443_IO) {
        n8443_error("%s: out of memory", n8443_site_label(path));
    }

cleanup:
    free(data);
    free(diags);
    return rc;
}
