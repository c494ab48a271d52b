/*
 * n8443ctl check - the Kerberos settings: realm, clock skew, replay
 * cache, service principal (GSS-Proxy: check_gssproxy.c).
 *
 * These need neither the keytab nor the KDC.  The realm found here is
 * the one the keytab and online checks look for.
 */
#include <ctype.h>
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
    else if (krb5_get_host_realm(ctx->kctx, site->server_name.v, &realms) == 0
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
    long conf_skew = N8443_DEFAULT_CLOCK_SKEW;

    if (config == NULL) {
        config = "/etc/krb5.conf";
    }
    if (krb5_get_profile(ctx->kctx, &profile) == 0) {
        if (profile_get_string(profile, "libdefaults", "clockskew", NULL, NULL,
                               &value)
            != 0) {
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
        n8443_record_detail_num(ctx->rep, rec, "effective",
                                N8443_DEFAULT_CLOCK_SKEW);
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
    snprintf(buf, len, "%.*s", slash == path ? 1 : (int)(slash - path), path);
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
            "on one server, memcache://HOST:PORT or redis://HOST:PORT for "
            "several behind a load balancer",
            ctx->clock_skew);
        break;
    case N8443_RC_MEMCACHE:
        rec = n8443_report_add(ctx->rep, "krb5.replay-cache", N8443_SEV_OK,
                               "replay cache memcache %s (every server "
                               "behind the load balancer must use the same)",
                               rc->arg);
        break;
    case N8443_RC_REDIS:
        rec = n8443_report_add(ctx->rep, "krb5.replay-cache", N8443_SEV_OK,
                               "replay cache %s %s%s%s (every server behind "
                               "the load balancer must use the same)",
                               rc->master ? "redis-sentinel" : "redis", rc->arg,
                               rc->master ? " " : "",
                               rc->master ? rc->master : "");
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
            rec = n8443_report_add(ctx->rep, "krb5.replay-cache", N8443_SEV_OK,
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
        n8443_check_rcache_file(ctx);
        n8443_check_redis(ctx);
        check_service_principal(ctx);
    }
    return ctx->rep->failed ? N8443_IO : N8443_OK;
}
