/*
 * n8443ctl check - the keytab, offline: the file, who can read it, a key
 * for every name of the site, and keys the acceptor can use.
 *
 * Like `klist -k -e`, the entries are read once (keytab.c); the online
 * checks then compare them with what the KDC says.  Who may read the
 * file is check_keytab_file.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define MAX_NEAR 3

/* AES (RFC 3962, RFC 8009) and Camellia: what current KDCs and clients
 * use.  Everything else (DES, 3DES, RC4) is weak or going away. */
static int strong_enctype(krb5_enctype e)
{
    return e == ENCTYPE_AES128_CTS_HMAC_SHA1_96
           || e == ENCTYPE_AES256_CTS_HMAC_SHA1_96
           || e == ENCTYPE_AES128_CTS_HMAC_SHA256_128
           || e == ENCTYPE_AES256_CTS_HMAC_SHA384_192
           || e == ENCTYPE_CAMELLIA128_CTS_CMAC
           || e == ENCTYPE_CAMELLIA256_CTS_CMAC;
}

/* Does HOST name NAME, with a port after it ("name:8443")? */
static int host_with_port(const char *host, const char *name)
{
    size_t len = strlen(name);

    return strncasecmp(host, name, len) == 0 && host[len] == ':';
}

/* Principals of the keytab that look like the one wanted but are not
 * (other realm, other case, a port), as "a, b", into OUT. */
static void near_misses(const struct n8443_keytab *kt, const char *name,
                        struct n8443_buf *out)
{
    const char *shown[MAX_NEAR];
    size_t nshown = 0;
    size_t i;
    size_t j;

    for (i = 0; i < kt->n && nshown < MAX_NEAR; i++) {
        const struct n8443_kt_entry *e = &kt->entries[i];
        int dup = 0;

        if (e->service == NULL || strcasecmp(e->service, "HTTP") != 0
            || (strcasecmp(e->host, name) != 0
                && !host_with_port(e->host, name))) {
            continue;
        }
        for (j = 0; j < nshown; j++) {
            dup |= strcmp(shown[j], e->principal) == 0;
        }
        if (!dup) {
            n8443_buf_printf(out, "%s%s", nshown ? ", " : "", e->principal);
            shown[nshown++] = e->principal;
        }
    }
}

/* An HTTP/<name>@REALM key for every name of the site. */
static void check_spns(struct n8443_check_ctx *ctx)
{
    const char *realm = ctx->realm;
    struct n8443_record *rec;
    size_t i;

    for (i = 0; i < ctx->nnames; i++) {
        const char *name = ctx->names[i];
        struct n8443_buf near;

        if (n8443_keytab_has(&ctx->kt, "HTTP", name, realm)) {
            rec = n8443_report_add(ctx->rep, "keytab.spn", N8443_SEV_OK,
                                   "HTTP/%s@%s is in the keytab", name,
                                   realm ? realm : "*");
            n8443_record_detail(ctx->rep, rec, "name", "%s", name);
            continue;
        }
        n8443_buf_init(&near);
        near_misses(&ctx->kt, name, &near);
        rec = n8443_report_add(
            ctx->rep, "keytab.spn", N8443_SEV_ERROR,
            "no key for HTTP/%s@%s in %s%s%s%s: a browser opening %s gets a "
            "ticket for that principal, which nothing here can decrypt "
            "(401). Create it and export its key into the keytab: MIT: "
            "kadmin addprinc -randkey HTTP/%s, then ktadd -k %s HTTP/%s; "
            "Active Directory: setspn -S HTTP/%s ACCOUNT, then ktpass or "
            "msktutil; FreeIPA: ipa service-add HTTP/%s, then "
            "ipa-getkeytab",
            name, realm ? realm : "REALM", ctx->kt.name,
            near.len ? " (it has " : "", near.len ? near.data : "",
            near.len ? ", which does not match)" : "", name, name,
            ctx->kt.file ? ctx->kt.file : ctx->kt.name, name, name, name);
        n8443_record_detail(ctx->rep, rec, "name", "%s", name);
        n8443_record_detail(ctx->rep, rec, "principal", "HTTP/%s@%s", name,
                            realm ? realm : "REALM");
        if (near.len) {
            n8443_record_detail(ctx->rep, rec, "similar", "%s", near.data);
        }
        if (near.failed) {
            ctx->rep->failed = 1;
        }
        n8443_buf_free(&near);
    }
}

/* Service principals with a port ("HTTP/host:8443"): browsers never ask
 * for one. */
static void check_spn_ports(struct n8443_check_ctx *ctx)
{
    struct n8443_record *rec;
    int found = 0;
    size_t i;
    size_t j;

    for (i = 0; i < ctx->kt.n; i++) {
        const struct n8443_kt_entry *e = &ctx->kt.entries[i];
        const char *colon;
        int seen = 0;
        char host[256];

        if (e->host == NULL || (colon = strchr(e->host, ':')) == NULL) {
            continue;
        }
        for (j = 0; j < i; j++) {
            seen |= strcmp(ctx->kt.entries[j].principal, e->principal) == 0;
        }
        if (seen) {
            continue;
        }
        found = 1;
        snprintf(host, sizeof(host), "%.*s", (int)(colon - e->host), e->host);
        if (n8443_keytab_has(&ctx->kt, e->service, host, e->realm)) {
            rec = n8443_report_add(
                ctx->rep, "keytab.spn-port", N8443_SEV_WARNING,
                "%s carries a port, which browsers never put into the "
                "principal they ask for; %s/%s@%s is there too, so this key "
                "is only unused: remove it (setspn -D / kadmin delprinc)",
                e->principal, e->service, host, e->realm);
        }
        else {
            rec = n8443_report_add(
                ctx->rep, "keytab.spn-port", N8443_SEV_ERROR,
                "%s carries a port: browsers ask for %s/%s@%s without one "
                "(the port never belongs in the SPN), and there is no key "
                "for that. Create %s/%s (setspn -S %s/%s ACCOUNT, or kadmin "
                "addprinc -randkey) and export it",
                e->principal, e->service, host, e->realm, e->service, host,
                e->service, host);
        }
        n8443_record_detail(ctx->rep, rec, "principal", "%s", e->principal);
    }
    if (!found) {
        n8443_report_add(ctx->rep, "keytab.spn-port", N8443_SEV_OK,
                         "no service principal in the keytab carries a "
                         "port");
    }
}

/* The principals whose keys the site needs: its SPNs that are in the
 * keytab, or, if none is, all of the keytab's (into LIST, *N used). */
static size_t site_principals(const struct n8443_check_ctx *ctx,
                              const char **list, size_t max)
{
    size_t n = 0;
    size_t i;
    size_t j;
    int pass;

    for (pass = 0; pass < 2 && n == 0; pass++) {
        for (i = 0; i < ctx->kt.n && n < max; i++) {
            const struct n8443_kt_entry *e = &ctx->kt.entries[i];
            int wanted = pass == 1;
            int dup = 0;

            for (j = 0; !wanted && j < ctx->nnames; j++) {
                wanted = e->service != NULL && strcmp(e->service, "HTTP") == 0
                         && strcmp(e->host, ctx->names[j]) == 0
                         && (ctx->realm == NULL
                             || strcmp(e->realm, ctx->realm) == 0);
            }
            for (j = 0; j < n; j++) {
                dup |= strcmp(list[j], e->principal) == 0;
            }
            if (wanted && !dup) {
                list[n++] = e->principal;
            }
        }
    }
    return n;
}

/*
 * The enctypes of one principal's newest kvno: at least one strong, no
 * weak ones beside them, and none that an older kvno had and this one
 * lacks.
 */
static void check_enctypes_of(struct n8443_check_ctx *ctx,
                              const char *principal)
{
    krb5_kvno newest = n8443_keytab_newest_kvno(&ctx->kt, principal);
    struct n8443_buf have;
    struct n8443_buf weak;
    struct n8443_buf lost;
    struct n8443_record *rec;
    char name[64];
    int strong = 0;
    size_t i;
    size_t j;

    n8443_buf_init(&have);
    n8443_buf_init(&weak);
    n8443_buf_init(&lost);
    for (i = 0; i < ctx->kt.n; i++) {
        const struct n8443_kt_entry *e = &ctx->kt.entries[i];
        int in_newest = 0;

        if (strcmp(e->principal, principal) != 0) {
            continue;
        }
        n8443_enctype_name(e->enctype, name, sizeof(name));
        if (e->kvno == newest) {
            n8443_buf_printf(&have, "%s%s", have.len ? ", " : "", name);
            if (strong_enctype(e->enctype)) {
                strong = 1;
            }
            else {
                n8443_buf_printf(&weak, "%s%s", weak.len ? ", " : "", name);
            }
            continue;
        }
        for (j = 0; j < ctx->kt.n; j++) {
            in_newest |= strcmp(ctx->kt.entries[j].principal, principal) == 0
                         && ctx->kt.entries[j].kvno == newest
                         && ctx->kt.entries[j].enctype == e->enctype;
        }
        if (!in_newest && strong_enctype(e->enctype)
            && strstr(lost.len ? lost.data : "", name) == NULL) {
            n8443_buf_printf(&lost, "%s%s", lost.len ? ", " : "", name);
        }
    }
    if (have.failed || weak.failed || lost.failed) {
        ctx->rep->failed = 1;
        goto cleanup;
    }
    if (!strong) {
        rec = n8443_report_add(
            ctx->rep, "keytab.enctypes", N8443_SEV_ERROR,
            "%s has only %s keys (kvno %u): current Windows, browsers and "
            "KDCs refuse DES and RC4, so logins fail or fall back to NTLM. "
            "Give the principal AES keys and export them: MIT: kadmin "
            "ktadd -e aes256-cts-hmac-sha1-96:normal,aes128-cts-hmac-"
            "sha1-96:normal; Active Directory: enable AES for the account "
            "(msDS-SupportedEncryptionTypes), reset its password, ktpass "
            "-crypto AES256-SHA1",
            principal, have.data, (unsigned)newest);
    }
    else if (lost.len > 0) {
        rec = n8443_report_add(
            ctx->rep, "keytab.enctypes", N8443_SEV_WARNING,
            "the newest key of %s (kvno %u: %s) lacks %s, which an older "
            "kvno has: if the KDC still has that enctype it issues tickets "
            "this keytab cannot decrypt. Export all enctypes of the current "
            "key",
            principal, (unsigned)newest, have.data, lost.data);
    }
    else if (weak.len > 0) {
        rec = n8443_report_add(
            ctx->rep, "keytab.enctypes", N8443_SEV_WARNING,
            "%s (kvno %u) also has weak keys (%s): remove them from the "
            "principal unless very old clients need them",
            principal, (unsigned)newest, weak.data);
    }
    else {
        rec = n8443_report_add(ctx->rep, "keytab.enctypes", N8443_SEV_OK,
                               "%s: kvno %u with %s", principal,
                               (unsigned)newest, have.data);
    }
    n8443_record_detail(ctx->rep, rec, "principal", "%s", principal);
    n8443_record_detail_num(ctx->rep, rec, "kvno", newest);
    n8443_record_detail(ctx->rep, rec, "enctypes", "%s", have.data);

cleanup:
    n8443_buf_free(&have);
    n8443_buf_free(&weak);
    n8443_buf_free(&lost);
}

/* krb5.conf's permitted_enctypes must allow a key of each principal's
 * newest kvno, or the acceptor cannot use it. */
static void check_permitted(struct n8443_check_ctx *ctx, const char **list,
                            size_t n)
{
    krb5_enctype *permitted = NULL;
    struct n8443_buf refused;
    struct n8443_record *rec;
    size_t i;
    size_t j;
    size_t k;

    if (krb5_get_permitted_enctypes(ctx->kctx, &permitted) != 0) {
        n8443_report_add(ctx->rep, "keytab.permitted", N8443_SEV_ERROR,
                         "cannot read permitted_enctypes from krb5.conf: "
                         "fix the setting (enctype names separated by "
                         "spaces)");
        return;
    }
    n8443_buf_init(&refused);
    for (i = 0; i < n; i++) {
        krb5_kvno newest = n8443_keytab_newest_kvno(&ctx->kt, list[i]);
        int usable = 0;

        for (j = 0; j < ctx->kt.n && !usable; j++) {
            const struct n8443_kt_entry *e = &ctx->kt.entries[j];

            if (strcmp(e->principal, list[i]) != 0 || e->kvno != newest) {
                continue;
            }
            for (k = 0; permitted[k] != 0; k++) {
                usable |= permitted[k] == e->enctype;
            }
        }
        if (!usable) {
            n8443_buf_printf(&refused, "%s%s", refused.len ? ", " : "",
                             list[i]);
        }
    }
    if (refused.failed) {
        ctx->rep->failed = 1;
    }
    else if (refused.len > 0) {
        rec = n8443_report_add(
            ctx->rep, "keytab.permitted", N8443_SEV_ERROR,
            "no key of %s has an enctype that permitted_enctypes in "
            "krb5.conf allows, so the acceptor cannot use them: add AES "
            "keys (see keytab.enctypes) or allow their enctype",
            refused.data);
        n8443_record_detail(ctx->rep, rec, "principals", "%s", refused.data);
    }
    else {
        n8443_report_add(ctx->rep, "keytab.permitted", N8443_SEV_OK,
                         "permitted_enctypes allows the keys in use");
    }
    n8443_buf_free(&refused);
    krb5_free_enctypes(ctx->kctx, permitted);
}

/* Which keytab: GSS-Proxy's, the site's, or Kerberos' default (as the
 * module has it without NegotiateKeytab). */
static int keytab_name(struct n8443_check_ctx *ctx, const char **how_out)
{
    const struct n8443_kerberos *krb = &ctx->site->kerberos;
    char def[1024];
    const char *name;

    if (krb->gssproxy.v && ctx->gssproxy_keytab != NULL) {
        name = ctx->gssproxy_keytab;
        *how_out = "the GSS-Proxy stanza";
    }
    else if (krb->keytab.v != NULL) {
        name = krb->keytab.v;
        *how_out = ctx->from_site_file ? "the site file" : "--keytab";
    }
    else {
        if (krb5_kt_default_name(ctx->kctx, def, sizeof(def)) != 0) {
            snprintf(def, sizeof(def), "FILE:/etc/krb5.keytab");
        }
        name = def;
        *how_out = "the Kerberos default (KRB5_KTNAME, else krb5.conf)";
    }
    ctx->kt.name = strdup(name);
    if (ctx->kt.name == NULL) {
        return N8443_IO;
    }
    ctx->kt.file = n8443_keytab_file(ctx->kt.name);
    ctx->keytab_name = ctx->kt.name;
    return N8443_OK;
}

int n8443_check_keytab(struct n8443_check_ctx *ctx)
{
    struct n8443_record *rec;
    const char *principals[64];
    const char *file;
    const char *how = "";
    krb5_error_code code;
    struct stat st;
    size_t nprinc;
    size_t i;
    int rc;

    rc = keytab_name(ctx, &how);
    if (rc != N8443_OK) {
        return rc;
    }
    file = ctx->kt.file;
    if (file != NULL && stat(file, &st) != 0) {
        int err = errno;

        rec = n8443_report_add(
            ctx->rep, "keytab.file", N8443_SEV_ERROR,
            "keytab %s (from %s): %s. %s", file, how, strerror(err),
            err == ENOENT ? "Export the service keys into it (kadmin "
                            "ktadd, ktpass, msktutil or ipa-getkeytab)"
                          : "Run the check as root");
        n8443_record_detail(ctx->rep, rec, "file", "%s", file);
        n8443_record_unusable(rec);
        return ctx->rep->failed ? N8443_IO : N8443_OK;
    }
    if (file != NULL && !S_ISREG(st.st_mode)) {
        rec = n8443_report_add(ctx->rep, "keytab.file", N8443_SEV_ERROR,
                               "keytab %s is not a regular file", file);
        n8443_record_detail(ctx->rep, rec, "file", "%s", file);
        return ctx->rep->failed ? N8443_IO : N8443_OK;
    }
    if (file != NULL && access(file, R_OK) != 0) {
        rec = n8443_report_add(ctx->rep, "keytab.file", N8443_SEV_ERROR,
                               "cannot read keytab %s as uid %ld: run the "
                               "check as root (or as its owner)",
                               file, (long)geteuid());
        n8443_record_detail(ctx->rep, rec, "file", "%s", file);
        n8443_record_unusable(rec);
        goto after_file;
    }
    code = n8443_keytab_read(ctx->kctx, ctx->kt.name, &ctx->kt);
    if (code == ENOMEM) {
        return N8443_IO;
    }
    if (code != 0 || ctx->kt.n == 0) {
        const char *msg =
            code ? krb5_get_error_message(ctx->kctx, code) : "it holds no keys";

        rec = n8443_report_add(ctx->rep, "keytab.file", N8443_SEV_ERROR,
                               "%s is not a usable keytab: %s. Export the "
                               "service keys again",
                               ctx->kt.name, msg);
        n8443_record_detail(ctx->rep, rec, "keytab", "%s", ctx->kt.name);
        if (code) {
            krb5_free_error_message(ctx->kctx, msg);
        }
        goto after_file;
    }
    ctx->kt.loaded = 1;
    rec = n8443_report_add(ctx->rep, "keytab.file", N8443_SEV_OK,
                           "keytab %s (from %s): %zu key%s", ctx->kt.name, how,
                           ctx->kt.n, ctx->kt.n == 1 ? "" : "s");
    n8443_record_detail(ctx->rep, rec, "keytab", "%s", ctx->kt.name);

after_file:
    if (file != NULL) {
        if (n8443_report_wants(ctx->rep, "keytab.permissions")) {
            n8443_check_keytab_permissions(ctx, file, &st);
        }
        if (n8443_report_wants(ctx->rep, "keytab.httpd-user")) {
            n8443_check_keytab_httpd_user(ctx, file, &st);
        }
    }
    if (!ctx->kt.loaded) {
        return ctx->rep->failed ? N8443_IO : N8443_OK;
    }
    check_spns(ctx);
    check_spn_ports(ctx);
    nprinc = site_principals(ctx, principals,
                             sizeof(principals) / sizeof(principals[0]));
    for (i = 0; i < nprinc; i++) {
        check_enctypes_of(ctx, principals[i]);
    }
    if (n8443_report_wants(ctx->rep, "keytab.permitted")) {
        check_permitted(ctx, principals, nprinc);
    }
    return ctx->rep->failed ? N8443_IO : N8443_OK;
}
