/*
 * n8443ctl check - the Kerberos settings: realm, clock skew, replay
 * cache, service principal, and GSS-Proxy when it holds the keys.
 *
 * These need neither the keytab nor the KDC.  The realm found here is
 * the one the keytab and online checks look for.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <profile.h>

#include "check.h"

/*
 * The realm the site's principals are in: the site file's (or --realm),
 * else krb5.conf's [domain_realm] mapping of the server name (what a
 * client on this host would use), else default_realm.
 */
static int find_realm(struct n8443_check_ctx *ctx)
{
    const struct n8443_site *site = ctx->site;
    char **realms = NULL;
    char *def = NULL;
    const char *found = NULL;

    if (site->kerberos.realm.v != NULL) {
        found = site->kerberos.realm.v;
        ctx->realm_source = ctx->from_site_file ? "the site file" : "--realm";
    }
    else if (krb5_get_host_realm(ctx->kctx, site->server_name.v, &realms)
                 == 0
             && realms != NULL && realms[0] != NULL && realms[0][0] != '\0') {
        found = realms[0];
        ctx->realm_source = "krb5.conf [domain_realm]";
    }
    else if (krb5_get_default_realm(ctx->kctx, &def) == 0) {
        found = def;
        ctx->realm_source = "krb5.conf default_realm";
    }
    if (found != NULL) {
        ctx->realm = strdup(found);
    }
    if (realms != NULL) {
        krb5_free_host_realm(ctx->kctx, realms);
    }
    if (def != NULL) {
        krb5_free_default_realm(ctx->kctx, def);
    }
    return found != NULL && ctx->realm == NULL ? N8443_IO : N8443_OK;
}

static int has_lower(const char *s)
{
    for (; *s != '\0'; s++) {
        if (islower((unsigned char)*s)) {
            return 1;
        }
    }
    return 0;
}

static void check_realm(struct n8443_check_ctx *ctx)
{
    struct n8443_record *rec;
    char where[300];
    char upper[256];
    size_t i;

    if (ctx->realm == NULL) {
        n8443_report_add(ctx->rep, "krb5.realm", N8443_SEV_ERROR,
                         "no Kerberos realm: set kerberos.realm in the site "
                         "file (or --realm), or default_realm in krb5.conf");
        return;
    }
    if (!has_lower(ctx->realm)) {
        rec = n8443_report_add(ctx->rep, "krb5.realm", N8443_SEV_OK,
                               "realm %s (from %s)", ctx->realm,
                               ctx->realm_source);
        n8443_record_detail(ctx->rep, rec, "realm", "%s", ctx->realm);
        return;
    }
    for (i = 0; ctx->realm[i] != '\0' && i + 1 < sizeof(upper); i++) {
        upper[i] = (char)toupper((unsigned char)ctx->realm[i]);
    }
    upper[i] = '\0';
    rec = n8443_report_add(
        ctx->rep, "krb5.realm", N8443_SEV_ERROR,
        "realm '%s' (from %s) is not upper case: realm names are "
        "case-sensitive, and Active Directory and nearly every MIT realm "
        "are upper case, so browsers get tickets from %s and no key here "
        "matches them. Write the realm as %s (and export the keys under "
        "that name)",
        ctx->realm, ctx->realm_source, upper, upper);
    n8443_record_detail(ctx->rep, rec, "realm", "%s", ctx->realm);
    if (n8443_check_where(ctx, ctx->site->kerberos.realm.pos, where,
                          sizeof(where))
        != NULL) {
        n8443_record_detail(ctx->rep, rec, "where", "%s", where);
    }
}

/* A clock skew as krb5.conf must spell it: digits only. */
static int plain_integer(const char *s)
{
    const char *p = s;

    while (isspace((unsigned char)*p)) {
        p++;
    }
    if (*p == '-' || *p == '+') {
        p++;
    }
    if (!isdigit((unsigned char)*p)) {
        return 0;
    }
    while (isdigit((unsigned char)*p)) {
        p++;
    }
    while (isspace((unsigned char)*p)) {
        p++;
    }
    return *p == '\0';
}

/*
 * The skew the module applies, and krb5.conf's `clockskew`: MIT reads it
 * with profile_get_integer and, when that fails ("5m", "300s"), quietly
 * keeps 300 - the setting an administrator believes in is not the one in
 * force.  Under GSS-Proxy the accept runs in gssproxy, which knows no
 * NegotiateClockSkew: krb5.conf's value is the one that counts.
 */
static void check_clock_skew(struct n8443_check_ctx *ctx)
{
    const char *config = getenv("KRB5_CONFIG");
    const struct n8443_int *site_skew = &ctx->site->kerberos.clock_skew;
    struct n8443_record *rec;
    profile_t profile = NULL;
    char *value = NULL;
    char where[300];
    long conf_skew = 300;

    if (config == NULL) {
        config = "/etc/krb5.conf";
    }
    if (krb5_get_profile(ctx->kctx, &profile) == 0) {
        if (profile_get_string(profile, "libdefaults", "clockskew", NULL,
                               NULL, &value) != 0) {
            value = NULL;
        }
    }
    if (value != NULL && !plain_integer(value)) {
        rec = n8443_report_add(
            ctx->rep, "krb5.clock-skew", N8443_SEV_ERROR,
            "krb5.conf sets clockskew = '%s', which is not a whole number "
            "of seconds: MIT Kerberos ignores it without a word and uses "
            "300. Write it in seconds, digits only (clockskew = 300)",
            value);
        n8443_record_detail(ctx->rep, rec, "krb5_config", "%s", config);
        n8443_record_detail(ctx->rep, rec, "clockskew", "%s", value);
        n8443_record_detail_num(ctx->rep, rec, "effective", 300);
        goto cleanup;
    }
    if (value != NULL) {
        conf_skew = strtol(value, NULL, 10);
    }
    if (ctx->site->kerberos.gssproxy.v && site_skew->set
        && site_skew->v != conf_skew) {
        rec = n8443_report_add(
            ctx->rep, "krb5.clock-skew", N8443_SEV_WARNING,
            "clock_skew %ld does not reach GSS-Proxy: the accept runs in "
            "gssproxy, which uses krb5.conf's clockskew (%ld). Set "
            "clockskew = %ld in [libdefaults] of the krb5.conf gssproxy "
            "reads",
            site_skew->v, conf_skew, site_skew->v);
        n8443_record_detail_num(ctx->rep, rec, "clock_skew", site_skew->v);
        n8443_record_detail_num(ctx->rep, rec, "krb5_conf", conf_skew);
        if (n8443_check_where(ctx, site_skew->pos, where, sizeof(where))
            != NULL) {
            n8443_record_detail(ctx->rep, rec, "where", "%s", where);
        }
        goto cleanup;
    }
    rec = n8443_report_add(ctx->rep, "krb5.clock-skew", N8443_SEV_OK,
                           "clock skew %ld s (%s)", ctx->clock_skew,
                           ctx->clock_skew_source);
    n8443_record_detail_num(ctx->rep, rec, "clock_skew", ctx->clock_skew);

cleanup:
    if (value != NULL) {
        profile_release_string(value);
    }
    if (profile != NULL) {
        profile_release(profile);
    }
}

/* The directory of an MIT replay cache name ("file2:/x/y" -> "/x"), in
 * BUF; NULL for types without a file. */
static const char *rcache_dir(const char *name, char *buf, size_t len)
{
    const char *path = NULL;
    const char *slash;

    if (strncmp(name, "file2:", 6) == 0) {
        path = name + 6;
    }
    else if (strncmp(name, "dfl:", 4) == 0 && name[4] == '/') {
        path = name + 4;
    }
    if (path == NULL || path[0] != '/') {
        return NULL;
    }
    slash = strrchr(path, '/');
    snprintf(buf, len, "%.*s", slash == path ? 1 : (int)(slash - path),
             path);
    return buf;
}

static void check_replay_cache(struct n8443_check_ctx *ctx)
{
    const struct n8443_replay *rc = &ctx->site->kerberos.replay_cache;
    struct n8443_record *rec = NULL;
    struct stat st;
    char where[300];
    char dir[1024];

    switch (rc->kind) {
    case N8443_RC_NONE:
        rec = n8443_report_add(
            ctx->rep, "krb5.replay-cache", N8443_SEV_WARNING,
            "replay_cache none: a login token someone captured (from a "
            "proxy, a log, a browser extension) logs them in again for as "
            "long as the clock skew allows (%ld s). Use replay_cache: shm "
            "on one server, memcache://HOST:PORT for several behind a "
            "load balancer",
            ctx->clock_skew);
        break;
    case N8443_RC_MEMCACHE:
        rec = n8443_report_add(ctx->rep, "krb5.replay-cache", N8443_SEV_OK,
                               "replay cache memcache %s (every server "
                               "behind the load balancer must use the same)",
                               rc->arg);
        break;
    case N8443_RC_KRB5:
        if (rcache_dir(rc->arg, dir, sizeof(dir)) != NULL
            && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
            rec = n8443_report_add(
                ctx->rep, "krb5.replay-cache", N8443_SEV_ERROR,
                "replay_cache krb5:%s: the directory %s does not exist, so "
                "every login fails when MIT cannot open its replay cache: "
                "create it, writable by the httpd user",
                rc->arg, dir);
            n8443_record_detail(ctx->rep, rec, "directory", "%s", dir);
        }
        else {
            rec = n8443_report_add(ctx->rep, "krb5.replay-cache",
                                   N8443_SEV_OK,
                                   "replay cache: MIT's %s", rc->arg);
        }
        break;
    default:
        rec = n8443_report_add(ctx->rep, "krb5.replay-cache", N8443_SEV_OK,
                               "replay cache shm (the module's shared "
                               "memory; for one server)");
        break;
    }
    if (n8443_check_where(ctx, rc->pos, where, sizeof(where)) != NULL) {
        n8443_record_detail(ctx->rep, rec, "where", "%s", where);
    }
}

/*
 * NegotiateServicePrincipal other than "any" makes the acceptor take
 * tickets for that one principal only; a browser asks for HTTP/<the name
 * in its address bar>, so every other name of the site is refused.
 */
static void check_service_principal(struct n8443_check_ctx *ctx)
{
    const struct n8443_str *spn = &ctx->site->kerberos.service_principal;
    struct n8443_buf refused;
    struct n8443_record *rec;
    const char *principal;
    const char *host;
    const char *at;
    char buf[512];
    char where[300];
    size_t host_len;
    size_t i;

    principal = n8443_check_acceptor_principal(ctx, buf, sizeof(buf));
    if (principal == NULL) {
        n8443_report_add(ctx->rep, "krb5.service-principal", N8443_SEV_OK,
                         "service_principal any: a ticket for any key in "
                         "the keytab is accepted");
        return;
    }
    n8443_buf_init(&refused);
    host = strchr(principal, '/') + 1;
    at = strchr(host, '@');
    host_len = at ? (size_t)(at - host) : strlen(host);
    for (i = 0; i < ctx->nnames; i++) {
        if (strlen(ctx->names[i]) != host_len
            || strncmp(ctx->names[i], host, host_len) != 0
            || strncmp(principal, "HTTP/", 5) != 0) {
            n8443_buf_printf(&refused, "%s%s", refused.len ? ", " : "",
                             ctx->names[i]);
        }
    }
    if (refused.failed) {
        ctx->rep->failed = 1;
    }
    else if (refused.len > 0) {
        rec = n8443_report_add(
            ctx->rep, "krb5.service-principal", N8443_SEV_ERROR,
            "service_principal %s accepts tickets for %s only, but browsers "
            "ask for HTTP/<name> of the address they open, so logins to %s "
            "are refused (401). Use service_principal: any",
            spn->v, principal, refused.data);
        n8443_record_detail(ctx->rep, rec, "principal", "%s", principal);
        n8443_record_detail(ctx->rep, rec, "refused", "%s", refused.data);
        if (n8443_check_where(ctx, spn->pos, where, sizeof(where)) != NULL) {
            n8443_record_detail(ctx->rep, rec, "where", "%s", where);
        }
    }
    else if (at != NULL && ctx->realm != NULL
             && strcmp(at + 1, ctx->realm) != 0) {
        rec = n8443_report_add(
            ctx->rep, "krb5.service-principal", N8443_SEV_ERROR,
            "service_principal %s is in realm %s, but the site's realm is "
            "%s: write the principal with @%s",
            principal, at + 1, ctx->realm, ctx->realm);
        n8443_record_detail(ctx->rep, rec, "principal", "%s", principal);
    }
    else {
        n8443_report_add(ctx->rep, "krb5.service-principal", N8443_SEV_OK,
                         "service_principal %s: accepts tickets for %s, "
                         "which covers every name of the site",
                         spn->v, principal);
    }
    n8443_buf_free(&refused);
}

int n8443_check_krb5(struct n8443_check_ctx *ctx)
{
    int rc;

    rc = find_realm(ctx);
    if (rc != N8443_OK) {
        return rc;
    }
    if (n8443_report_wants(ctx->rep, "krb5.realm")) {
        check_realm(ctx);
    }
    if (n8443_report_wants(ctx->rep, "krb5.clock-skew")) {
        check_clock_skew(ctx);
    }
    /* Without a site file the module's directives are unknown. */
    if (ctx->from_site_file) {
        check_replay_cache(ctx);
        check_service_principal(ctx);
    }
    return ctx->rep->failed ? N8443_IO : N8443_OK;
}

/* ----------------------------------------------------------- gssproxy */

/* One [service/...] stanza of the gssproxy configuration. */
struct gp_stanza {
    char name[128];
    char file[512];
    char euid[64];
    char keytab[1024];
    char program[1024];
    char cred_usage[32];
    char mechs[64];
    int allow_any_uid;
};

static char *trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s)) {
        s++;
    }
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1])) {
        *--end = '\0';
    }
    return s;
}

/* Does this stanza serve USER? */
static int gp_serves(const struct gp_stanza *st,
                     const struct n8443_httpd_user *user)
{
    char uid[32];

    snprintf(uid, sizeof(uid), "%ld", (long)user->uid);
    return strcmp(st->euid, user->name) == 0 || strcmp(st->euid, uid) == 0;
}

/*
 * Append the [service/...] stanzas of PATH to STANZAS (*N of MAX used).
 * gssproxy's syntax is ini-like: sections, "key = value", '#' comments;
 * cred_store may repeat (only its keytab: matters here).
 */
static int gp_read_file(const char *path, struct gp_stanza *stanzas,
                        size_t max, size_t *n)
{
    struct gp_stanza *cur = NULL;
    char line[2048];
    FILE *f;

    f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *p = trim(line);
        char *eq;
        char *key;
        char *value;

        if (*p == '#' || *p == ';' || *p == '\0') {
            continue;
        }
        if (*p == '[') {
            cur = NULL;
            if (strncmp(p, "[service/", 9) == 0 && *n < max) {
                cur = &stanzas[(*n)++];
                memset(cur, 0, sizeof(*cur));
                snprintf(cur->name, sizeof(cur->name), "%s", p);
                snprintf(cur->file, sizeof(cur->file), "%s", path);
            }
            continue;
        }
        eq = strchr(p, '=');
        if (cur == NULL || eq == NULL) {
            continue;
        }
        *eq = '\0';
        key = trim(p);
        value = trim(eq + 1);
        if (strcmp(key, "euid") == 0) {
            snprintf(cur->euid, sizeof(cur->euid), "%s", value);
        }
        else if (strcmp(key, "cred_store") == 0
                 && strncmp(value, "keytab:", 7) == 0) {
            snprintf(cur->keytab, sizeof(cur->keytab), "%s", value + 7);
        }
        else if (strcmp(key, "program") == 0) {
            snprintf(cur->program, sizeof(cur->program), "%s", value);
        }
        else if (strcmp(key, "cred_usage") == 0) {
            snprintf(cur->cred_usage, sizeof(cur->cred_usage), "%s", value);
        }
        else if (strcmp(key, "mechs") == 0) {
            snprintf(cur->mechs, sizeof(cur->mechs), "%s", value);
        }
        else if (strcmp(key, "allow_any_uid") == 0) {
            cur->allow_any_uid = strcasecmp(value, "yes") == 0
                                 || strcasecmp(value, "true") == 0;
        }
    }
    fclose(f);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* gssproxy.conf first, then the directory's *.conf in name order, as
 * gssproxy reads them.  Returns the number of stanzas, or -1 when DIR
 * cannot be read. */
static int gp_read_dir(const char *dir, struct gp_stanza *stanzas,
                       size_t max)
{
    char *names[256];
    size_t nnames = 0;
    struct dirent *de;
    char path[1024];
    size_t n = 0;
    size_t i;
    DIR *d;

    d = opendir(dir);
    if (d == NULL) {
        return -1;
    }
    snprintf(path, sizeof(path), "%s/gssproxy.conf", dir);
    gp_read_file(path, stanzas, max, &n);
    while ((de = readdir(d)) != NULL && nnames < 256) {
        size_t len = strlen(de->d_name);

        if (len > 5 && strcmp(de->d_name + len - 5, ".conf") == 0
            && strcmp(de->d_name, "gssproxy.conf") != 0
            && de->d_name[0] != '.') {
            names[nnames] = strdup(de->d_name);
            if (names[nnames] != NULL) {
                nnames++;
            }
        }
    }
    closedir(d);
    qsort(names, nnames, sizeof(names[0]), cmp_names);
    for (i = 0; i < nnames; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        gp_read_file(path, stanzas, max, &n);
        free(names[i]);
    }
    return (int)n;
}

/* Is gssproxy's interposer registered with GSS-API (a mech.d entry that
 * names it)? */
static int interposer_registered(const char *dir)
{
    struct dirent *de;
    char path[1024];
    char line[512];
    int found = 0;
    DIR *d;

    d = opendir(dir);
    if (d == NULL) {
        return 0;
    }
    while (!found && (de = readdir(d)) != NULL) {
        FILE *f;

        if (de->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        f = fopen(path, "r");
        if (f == NULL) {
            continue;
        }
        while (fgets(line, sizeof(line), f) != NULL) {
            char *p = trim(line);

            if (*p != '#' && strstr(p, "gssproxy") != NULL) {
                found = 1;
                break;
            }
        }
        fclose(f);
    }
    closedir(d);
    return found;
}

/*
 * gssproxy: true.  httpd never sees a keytab; gssproxy must have a
 * stanza for the httpd user, its interposer must be registered, and the
 * keytab the stanza names is the one the keytab checks look at.
 * N8443CTL_GSSPROXY_DIR and N8443CTL_GSS_MECH_DIR override the system
 * directories (for tests and unusual layouts).
 */
int n8443_check_gssproxy(struct n8443_check_ctx *ctx)
{
    const char *dir = getenv("N8443CTL_GSSPROXY_DIR");
    const char *mech_dir = getenv("N8443CTL_GSS_MECH_DIR");
    const struct gp_stanza *match = NULL;
    const struct gp_stanza *any_first = NULL;
    struct gp_stanza *stanzas;
    struct n8443_record *rec;
    int n;
    int i;

    if (dir == NULL) {
        dir = "/etc/gssproxy";
    }
    if (mech_dir == NULL) {
        mech_dir = "/etc/gss/mech.d";
    }
    stanzas = calloc(64, sizeof(*stanzas));
    if (stanzas == NULL) {
        return N8443_IO;
    }
    n = gp_read_dir(dir, stanzas, 64);
    for (i = 0; i < n && ctx->user.name != NULL; i++) {
        if (gp_serves(&stanzas[i], &ctx->user)
            && strcmp(stanzas[i].cred_usage, "initiate") != 0) {
            match = &stanzas[i];
            break;
        }
        if (stanzas[i].allow_any_uid && any_first == NULL) {
            any_first = &stanzas[i];
        }
    }
    if (match != NULL && match->keytab[0] != '\0') {
        ctx->gssproxy_keytab = strdup(match->keytab);
        if (ctx->gssproxy_keytab == NULL) {
            free(stanzas);
            return N8443_IO;
        }
    }

    if (!interposer_registered(mech_dir)) {
        rec = n8443_report_add(
            ctx->rep, "krb5.gssproxy", N8443_SEV_ERROR,
            "gssproxy: true, but GSS-Proxy's interposer is not registered "
            "(no entry naming gssproxy in %s): httpd's GSS-API calls never "
            "reach gssproxy. Install the gssproxy package",
            mech_dir);
        n8443_record_detail(ctx->rep, rec, "mech_dir", "%s", mech_dir);
    }
    else if (n < 0) {
        rec = n8443_report_add(ctx->rep, "krb5.gssproxy", N8443_SEV_ERROR,
                               "gssproxy: true, but %s cannot be read: "
                               "install and configure gssproxy",
                               dir);
        n8443_record_detail(ctx->rep, rec, "directory", "%s", dir);
    }
    else if (ctx->user.name == NULL) {
        n8443_report_add(ctx->rep, "krb5.gssproxy", N8443_SEV_ERROR,
                         "gssproxy: true, but no httpd user is known to "
                         "look for in its stanzas: pass --httpd-user");
    }
    else if (match == NULL) {
        rec = n8443_report_add(
            ctx->rep, "krb5.gssproxy", N8443_SEV_ERROR,
            "gssproxy: true, but no [service/...] stanza in %s serves the "
            "httpd user %s (euid = %s, cred_usage accept or both): gssproxy "
            "refuses httpd and every login fails. Copy the module's "
            "80-httpd.conf example there, with euid = %s",
            dir, ctx->user.name, ctx->user.name, ctx->user.name);
        n8443_record_detail(ctx->rep, rec, "directory", "%s", dir);
    }
    else if (any_first != NULL) {
        rec = n8443_report_add(
            ctx->rep, "krb5.gssproxy", N8443_SEV_ERROR,
            "%s in %s has allow_any_uid = yes and comes before %s (%s), "
            "so gssproxy never uses the HTTP stanza: give the HTTP stanza's "
            "file a lower number",
            any_first->name, any_first->file, match->name, match->file);
        n8443_record_detail(ctx->rep, rec, "stanza", "%s", match->name);
    }
    else if (match->program[0] != '\0' && access(match->program, X_OK) != 0) {
        rec = n8443_report_add(
            ctx->rep, "krb5.gssproxy", N8443_SEV_ERROR,
            "%s (%s) has program = %s, which does not exist here, so "
            "gssproxy never matches httpd: use the httpd binary's path "
            "(/usr/sbin/httpd on RHEL, /usr/sbin/apache2 on Debian)",
            match->name, match->file, match->program);
        n8443_record_detail(ctx->rep, rec, "program", "%s", match->program);
    }
    else {
        rec = n8443_report_add(
            ctx->rep, "krb5.gssproxy", N8443_SEV_OK,
            "GSS-Proxy stanza %s (%s) serves %s with keytab %s; httpd must "
            "run with GSS_USE_PROXY=yes",
            match->name, match->file, ctx->user.name,
            match->keytab[0] ? match->keytab : "(the default)");
        n8443_record_detail(ctx->rep, rec, "stanza", "%s", match->name);
    }
    free(stanzas);
    return ctx->rep->failed ? N8443_IO : N8443_OK;
}
