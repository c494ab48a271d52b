/*
 * n8443ctl - the `check` command: what to check, in which order.
 *
 * A site comes from the site file, or from --keytab/--host (and --cert,
 * --key, ...) for a server that has no site file; then the settings the
 * module would use are unknown and the checks that need them are left
 * out.  For each site the families run in dependency order: the Kerberos
 * settings (they decide the realm), GSS-Proxy (it may name the keytab),
 * the keytab (its entries are needed by DNS and online), the
 * certificate, DNS, and with --online the KDC.  Each family only adds
 * records; report_print.c prints them and turns them into the exit
 * status.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <profile.h>

#include "check.h"
#include "msgs.h"

/* The accounts httpd runs as, in the order they are tried when
 * --httpd-user is not given: RHEL/Fedora, then Debian/Ubuntu. */
static const char *const default_httpd_users[] = {"apache", "www-data", NULL};

/*
 * The httpd user: NAME, or the first of default_httpd_users that exists.
 * Returns N8443_USAGE for a NAME that is not a user; finding no default
 * is not an error (keytab.httpd-user says so).
 */
static int find_httpd_user(const char *name, struct n8443_httpd_user *out)
{
    struct n8443_httpd_user user;
    const struct passwd *pw = NULL;
    size_t i;

    memset(&user, 0, sizeof(user));
    if (name != NULL) {
        pw = getpwnam(name);
        if (pw == NULL) {
            n8443_error("check: --httpd-user: no user '%s'", name);
            return N8443_USAGE;
        }
        user.how = "--httpd-user";
    }
    for (i = 0; pw == NULL && default_httpd_users[i] != NULL; i++) {
        pw = getpwnam(default_httpd_users[i]);
        user.how = "default";
    }
    if (pw != NULL) {
        user.name = strdup(pw->pw_name);
        if (user.name == NULL) {
            return N8443_IO;
        }
        user.uid = pw->pw_uid;
        user.gid = pw->pw_gid;
    }
    *out = user;
    return N8443_OK;
}

/*
 * Load the site file; every loader diagnostic becomes a site.invalid
 * record (and is printed to stderr as FILE:LINE:COL, as every command
 * does).  Returns N8443_OK, N8443_INVALID or N8443_IO.
 */
static int load_site_file(const char *path, struct n8443_report *rep,
                          struct n8443_config **config_out)
{
    const char *label = n8443_site_label(path);
    struct n8443_diags *diags = NULL;
    struct n8443_record *rec;
    char *data = NULL;
    size_t len = 0;
    size_t i;
    int rc;

    rc = n8443_read_file(path, N8443_MAX_SITE_FILE, &data, &len);
    if (rc != N8443_OK) {
        rec = n8443_report_add(rep, "site.file", N8443_SEV_ERROR,
                               "cannot read the site file %s", label);
        n8443_record_detail(rep, rec, "file", "%s", label);
        n8443_record_unusable(rec);
        goto cleanup;
    }
    diags = malloc(sizeof(*diags));
    if (diags == NULL) {
        rc = N8443_IO;
        goto cleanup;
    }
    rc = n8443_site_load_buffer(data, len, diags, config_out);
    if (rc == N8443_INVALID) {
        n8443_diags_print(label, diags);
        for (i = 0; i < diags->n; i++) {
            rec = n8443_report_add(rep, "site.invalid", N8443_SEV_ERROR,
                                   "%s:%d:%d: %s", label, diags->items[i].line,
                                   diags->items[i].col, diags->items[i].msg);
            n8443_record_detail(rep, rec, "file", "%s", label);
            n8443_record_detail_num(rep, rec, "line", diags->items[i].line);
            n8443_record_detail_num(rep, rec, "column", diags->items[i].col);
        }
    }

cleanup:
    free(diags);
    free(data);
    return rc;
}

/* Letters, digits, dots and dashes: a host name, never "host:port" or a
 * principal (the SPN is built from it). */
static int plain_host(const char *s)
{
    return *s != '\0' && *s != '.' && *s != '-'
           && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                        "0123456789.-")
                  == strlen(s);
}

/*
 * A site from --keytab/--host/--alias/--cert/--key/--chain/--realm, in
 * the site file's struct so that the checks need not care where it came
 * from.  Strings point into ARGS; ALIASES holds the alias pointers.
 */
static int site_from_args(const struct n8443_args *args,
                          struct n8443_site *site, const char **aliases)
{
    size_t i;

    memset(site, 0, sizeof(*site));
    if (!plain_host(args->host)) {
        n8443_error("check: --host '%s' must be a host name (no port, no "
                    "service, no realm)",
                    args->host);
        return N8443_USAGE;
    }
    for (i = 0; i < args->naliases; i++) {
        if (!plain_host(args->aliases[i])) {
            n8443_error("check: --alias '%s' must be a host name",
                        args->aliases[i]);
            return N8443_USAGE;
        }
        aliases[i] = args->aliases[i];
    }
    site->name.v = args->host;
    site->server_name.v = args->host;
    site->server_name.set = 1;
    site->aliases.v = aliases;
    site->aliases.n = args->naliases;
    site->kerberos.keytab.v = args->keytab;
    site->kerberos.keytab.set = 1;
    site->kerberos.service_principal.v = "any";
    if (args->realm != NULL) {
        site->kerberos.realm.v = args->realm;
        site->kerberos.realm.set = 1;
    }
    if (args->cert != NULL) {
        site->tls.present = 1;
        site->tls.certificate.v = args->cert;
        site->tls.certificate.set = 1;
        site->tls.key.v = args->key;
        site->tls.key.set = 1;
        if (args->chain != NULL) {
            site->tls.chain.v = args->chain;
            site->tls.chain.set = 1;
        }
    }
    /* What the module does without directives. */
    site->kerberos.replay_cache.kind = N8443_RC_SHM;
    site->kerberos.channel_binding.v = N8443_CB_OPTIONAL;
    return N8443_OK;
}

/* The clock skew krb5.conf gives, as MIT reads it: a value that is not a
 * plain integer counts as the default, 300 (krb5.clock-skew says so). */
static long krb5_conf_skew(krb5_context kctx)
{
    profile_t profile = NULL;
    int v = N8443_DEFAULT_CLOCK_SKEW;

    if (krb5_get_profile(kctx, &profile) == 0) {
        if (profile_get_integer(profile, "libdefaults", "clockskew", NULL,
                                N8443_DEFAULT_CLOCK_SKEW, &v)
            != 0) {
            v = N8443_DEFAULT_CLOCK_SKEW;
        }
        profile_release(profile);
    }
    return v > 0 ? v : N8443_DEFAULT_CLOCK_SKEW;
}

/* All checks of one site, into REP. */
static int check_site(const struct n8443_check_opts *opts,
                      struct n8443_report *rep, krb5_context kctx,
                      const struct n8443_site *site, const char *site_file,
                      long clock_skew, const char *clock_skew_source,
                      const struct n8443_httpd_user *user)
{
    struct n8443_check_ctx ctx;
    size_t i;
    int rc;

    memset(&ctx, 0, sizeof(ctx));
    ctx.opts = opts;
    ctx.rep = rep;
    ctx.site = site;
    ctx.site_file = site_file;
    ctx.from_site_file = site_file != NULL;
    ctx.kctx = kctx;
    ctx.user = *user;
    ctx.clock_skew = clock_skew;
    ctx.clock_skew_source = clock_skew_source;
    ctx.nnames = 1 + site->aliases.n;
    ctx.names = calloc(ctx.nnames, sizeof(*ctx.names));
    if (ctx.names == NULL) {
        rc = N8443_IO;
        goto cleanup;
    }
    ctx.names[0] = site->server_name.v;
    for (i = 0; i < site->aliases.n; i++) {
        ctx.names[i + 1] = site->aliases.v[i];
    }
    rep->site = site->name.v;

    rc = n8443_check_krb5(&ctx);
    if (rc == N8443_OK && site->kerberos.gssproxy.v) {
        rc = n8443_check_gssproxy(&ctx);
    }
    if (rc == N8443_OK) {
        rc = n8443_check_keytab(&ctx);
    }
    if (rc == N8443_OK) {
        rc = n8443_check_cert(&ctx);
    }
    if (rc == N8443_OK) {
        rc = n8443_check_dns(&ctx);
    }
    if (rc == N8443_OK) {
        rc = n8443_check_selinux(&ctx);
    }
    if (rc == N8443_OK) {
        rc = n8443_check_http(&ctx);
    }
    if (rc == N8443_OK && opts->online) {
        rc = n8443_check_online(&ctx);
    }

cleanup:
    rep->site = NULL;
    n8443_keytab_free(&ctx.kt);
    free(ctx.realm);
    free(ctx.gssproxy_keytab);
    free(ctx.names);
    return rc;
}

/* Write the report in the chosen format to stdout. */
static int print_report(const struct n8443_report *rep,
                        const struct n8443_check_opts *opts)
{
    struct n8443_buf out;
    int rc;

    n8443_buf_init(&out);
    rc = opts->json ? n8443_report_json(rep, opts->strict, &out)
                    : n8443_report_text(rep, opts->strict, &out);
    if (rc != N8443_OK) {
        n8443_error("out of memory");
        goto cleanup;
    }
    if (fwrite(out.data, 1, out.len, stdout) != out.len
        || fflush(stdout) != 0) {
        n8443_error("cannot write to standard output");
        rc = N8443_IO;
    }

cleanup:
    n8443_buf_free(&out);
    return rc;
}

/* check SITE.yaml | check --keytab FILE --host NAME ... */
int n8443_cmd_check(const struct n8443_args *args)
{
    const char *aliases[N8443_MAX_ALIASES];
    struct n8443_check_opts opts;
    struct n8443_report rep;
    struct n8443_httpd_user user;
    struct n8443_config *cfg = NULL;
    struct n8443_site args_site;
    struct n8443_record *rec;
    krb5_context kctx = NULL;
    char *default_target = NULL;
    const char *skew_source;
    long skew;
    char err[300];
    size_t i;
    int rc;

    n8443_report_init(&rep);
    memset(&user, 0, sizeof(user));
    memset(&opts, 0, sizeof(opts));
    opts.online = args->online;
    opts.strict = args->strict;
    opts.json = args->format != NULL && strcmp(args->format, "json") == 0;
    opts.ccache = args->ccache != NULL ? args->ccache : getenv("KRB5CCNAME");
    opts.ldap_uri = args->ldap_uri;

    if (args->only != NULL) {
        rc = n8443_report_set_only(&rep, args->only, err, sizeof(err));
        if (rc == N8443_USAGE) {
            n8443_error("check: %s", err);
            fprintf(stderr, "Try '" N8443_PROG " help check'.\n");
        }
        if (rc != N8443_OK) {
            goto cleanup;
        }
        if (!opts.online && n8443_report_only_names_online(&rep)) {
            n8443_error("check: --only %s selects online checks: add "
                        "--online",
                        args->only);
            rc = N8443_USAGE;
            goto cleanup;
        }
    }
    rc = find_httpd_user(args->httpd_user, &user);
    if (rc != N8443_OK) {
        goto cleanup;
    }
    if (args->site_path == NULL && args->target != NULL) {
        n8443_error("check: --target names the installed file of a site "
                    "file: give SITE.yaml");
        rc = N8443_USAGE;
        goto cleanup;
    }
    if (args->site_path == NULL) {
        rc = site_from_args(args, &args_site, aliases);
        if (rc != N8443_OK) {
            goto cleanup;
        }
    }
    else {
        rc = load_site_file(args->site_path, &rep, &cfg);
        if (rc != N8443_OK) {
            /* Text: the loader's FILE:LINE:COL lines on stderr are the
             * report.  JSON: programs get the records as a document. */
            if (opts.json && !rep.failed) {
                print_report(&rep, &opts);
            }
            rc = rep.failed ? N8443_IO : n8443_report_exit_status(&rep, 0);
            goto cleanup;
        }
    }

    if (krb5_init_context(&kctx) != 0) {
        const char *config = getenv("KRB5_CONFIG");

        rec = n8443_report_add(&rep, "krb5.config", N8443_SEV_ERROR,
                               "cannot read the Kerberos configuration "
                               "(%s): fix its syntax; kinit and httpd fail "
                               "on it too",
                               config ? config : "/etc/krb5.conf");
        n8443_record_unusable(rec);
        kctx = NULL;
    }
    else if (cfg != NULL) {
        int set = 0;

        /* The installed file, for http.field-size: a one-site file's
         * default target is install's (no message when there is none). */
        opts.target = args->target;
        opts.replay_cache_file = cfg->replay_cache_file;
        if (opts.target == NULL && cfg->nsites == 1
            && n8443_default_target(cfg, &default_target) == N8443_OK) {
            opts.target = default_target;
        }

        for (i = 0; i < cfg->nsites; i++) {
            set |= cfg->sites[i].kerberos.clock_skew.set;
        }
        /* render always writes NegotiateClockSkew, so the module's skew
         * is the site file's, or its default. */
        skew = cfg->clock_skew;
        skew_source = set ? "clock_skew in the site file"
                          : "the default: the site file sets no clock_skew";
        for (i = 0; i < cfg->nsites && rc == N8443_OK; i++) {
            rc = check_site(&opts, &rep, kctx, &cfg->sites[i],
                            n8443_site_label(args->site_path), skew,
                            skew_source, &user);
        }
    }
    else {
        /* No site file: no NegotiateClockSkew known, krb5.conf decides
         * (as the module does without the directive). */
        skew = krb5_conf_skew(kctx);
        rc = check_site(&opts, &rep, kctx, &args_site, NULL, skew,
                        "krb5.conf's clockskew: no site file", &user);
    }
    if (rc != N8443_OK || rep.failed) {
        n8443_error("out of memory");
        rc = N8443_IO;
        goto cleanup;
    }
    rc = print_report(&rep, &opts);
    if (rc == N8443_OK) {
        rc = n8443_report_exit_status(&rep, opts.strict);
    }

cleanup:
    if (kctx != NULL) {
        krb5_free_context(kctx);
    }
    n8443_config_free(cfg);
    n8443_report_free(&rep);
    free(user.name);
    free(default_target);
    return rc;
}
