/*
 * n8443ctl check - the keytab, offline: the file, who can read it, a key
 * for every name of the site, and keys the acceptor can use.
 *
 * Like `klist -k -e`, the entries are read once with krb5_kt_*; the
 * online checks then compare them with what the KDC says.
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

static const char *enctype_name(krb5_enctype e, char *buf, size_t len)
{
    if (krb5_enctype_to_name(e, FALSE, buf, len) != 0) {
        snprintf(buf, len, "enctype %d", (int)e);
    }
    return buf;
}

/* The file behind a keytab name ("FILE:x", "WRFILE:x", or a name
 * without a type, which krb5 reads as a file); NULL for other types. */
static const char *keytab_file(const char *name)
{
    const char *colon = strchr(name, ':');
    const char *slash = strchr(name, '/');

    if (strncmp(name, "FILE:", 5) == 0) {
        return name + 5;
    }
    if (strncmp(name, "WRFILE:", 7) == 0) {
        return name + 7;
    }
    return colon == NULL || (slash != NULL && slash < colon) ? name : NULL;
}

static char *component(const krb5_data *d)
{
    char *s = malloc(d->length + 1);

    if (s != NULL) {
        memcpy(s, d->data, d->length);
        s[d->length] = '\0';
    }
    return s;
}

/* Append one entry's names to KT.  Returns 0, or -1 without memory. */
static int add_entry(krb5_context kctx, struct n8443_keytab *kt,
                     const krb5_keytab_entry *entry, size_t *cap)
{
    struct n8443_kt_entry *e;
    krb5_principal p = entry->principal;

    if (kt->n == *cap) {
        size_t grown_cap = *cap ? *cap * 2 : 16;
        struct n8443_kt_entry *grown =
            realloc(kt->entries, grown_cap * sizeof(*grown));

        if (grown == NULL) {
            return -1;
        }
        kt->entries = grown;
        *cap = grown_cap;
    }
    e = &kt->entries[kt->n];
    memset(e, 0, sizeof(*e));
    if (krb5_unparse_name(kctx, p, &e->principal) != 0) {
        return -1;
    }
    /* Freed with free(): keep our own copy. */
    {
        char *copy = strdup(e->principal);

        krb5_free_unparsed_name(kctx, e->principal);
        e->principal = copy;
    }
    e->realm = component(&p->realm);
    if (p->length == 2) {
        e->service = component(&p->data[0]);
        e->host = component(&p->data[1]);
    }
    e->kvno = entry->vno;
    e->enctype = entry->key.enctype;
    kt->n++;
    if (e->principal == NULL || e->realm == NULL
        || (p->length == 2 && (e->service == NULL || e->host == NULL))) {
        return -1;
    }
    return 0;
}

/* Read every entry of NAME into KT.  Returns 0 or a krb5 error code;
 * ENOMEM when memory ran out. */
static krb5_error_code read_keytab(krb5_context kctx, const char *name,
                                   struct n8443_keytab *kt)
{
    krb5_keytab keytab = NULL;
    krb5_kt_cursor cursor;
    krb5_keytab_entry entry;
    krb5_error_code code;
    int started = 0;
    size_t cap = 0;

    code = krb5_kt_resolve(kctx, name, &keytab);
    if (code != 0) {
        goto cleanup;
    }
    code = krb5_kt_start_seq_get(kctx, keytab, &cursor);
    if (code != 0) {
        goto cleanup;
    }
    started = 1;
    while ((code = krb5_kt_next_entry(kctx, keytab, &entry, &cursor)) == 0) {
        int failed = add_entry(kctx, kt, &entry, &cap);

        krb5_free_keytab_entry_contents(kctx, &entry);
        if (failed) {
            code = ENOMEM;
            goto cleanup;
        }
    }
    if (code == KRB5_KT_END) {
        code = 0;
    }

cleanup:
    if (started) {
        krb5_kt_end_seq_get(kctx, keytab, &cursor);
    }
    if (keytab != NULL) {
        krb5_kt_close(kctx, keytab);
    }
    return code;
}

/*
 * Can USER open FILE for reading?  As root, a child process becomes the
 * user (groups included) and tries, as mod_negotiate8443 does at start-up;
 * otherwise the answer comes from the file mode (*how_out says which).
 * Returns 1 or 0, or -1 when it could not be found out.
 */
static int readable_by(const struct n8443_httpd_user *user, const char *file,
                       const struct stat *st, const char **how_out)
{
    gid_t groups[256];
    int ngroups = 256;
    int status;
    pid_t pid;
    int i;

    if (geteuid() == 0) {
        *how_out = "tried as that user";
        pid = fork();
        if (pid < 0) {
            return -1;
        }
        if (pid == 0) {
            int fd;

            if (initgroups(user->name, user->gid) != 0
                || setgid(user->gid) != 0 || setuid(user->uid) != 0) {
                _exit(2);
            }
            fd = open(file, O_RDONLY | O_CLOEXEC);
            _exit(fd >= 0 ? 0 : 1);
        }
        while (waitpid(pid, &status, 0) < 0) {
            if (errno != EINTR) {
                return -1;
            }
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) > 1) {
            return -1;
        }
        return WEXITSTATUS(status) == 0;
    }
    if (geteuid() == user->uid) {
        *how_out = "tried as that user";
        return access(file, R_OK) == 0;
    }
    /* Not root: the mode bits, without directories or ACLs. */
    *how_out = "estimated from the file mode (run as root to try it)";
    if (st->st_uid == user->uid) {
        return (st->st_mode & S_IRUSR) != 0;
    }
    if (getgrouplist(user->name, user->gid, groups, &ngroups) >= 0) {
        for (i = 0; i < ngroups; i++) {
            if (groups[i] == st->st_gid) {
                return (st->st_mode & S_IRGRP) != 0;
            }
        }
    }
    return (st->st_mode & S_IROTH) != 0;
}

static const char *owner_name(uid_t uid, char *buf, size_t len)
{
    const struct passwd *pw = getpwuid(uid);

    if (pw != NULL) {
        snprintf(buf, len, "%s", pw->pw_name);
    }
    else {
        snprintf(buf, len, "%ld", (long)uid);
    }
    return buf;
}

static const char *group_name(gid_t gid, char *buf, size_t len)
{
    const struct group *gr = getgrgid(gid);

    if (gr != NULL) {
        snprintf(buf, len, "%s", gr->gr_name);
    }
    else {
        snprintf(buf, len, "%ld", (long)gid);
    }
    return buf;
}

/* Mode bits that let others than owner and group near the key. */
static void check_permissions(struct n8443_check_ctx *ctx, const char *file,
                              const struct stat *st)
{
    struct n8443_record *rec;
    char owner[64];
    char group[64];
    unsigned mode = (unsigned)(st->st_mode & 07777);

    owner_name(st->st_uid, owner, sizeof(owner));
    group_name(st->st_gid, group, sizeof(group));
    if (st->st_mode & (S_IROTH | S_IWOTH)) {
        rec = n8443_report_add(
            ctx->rep, "keytab.permissions", N8443_SEV_ERROR,
            "%s is %s by every user on this host (mode %04o): the keytab "
            "is the service's password, anyone who reads it can pose as "
            "the site or decrypt its tickets. chmod 0640 %s (owner %s, "
            "group of the httpd user), and since it was exposed, change "
            "the key on the KDC and export it again",
            file, (st->st_mode & S_IROTH) ? "readable" : "writable", mode,
            file, owner);
        n8443_record_detail(ctx->rep, rec, "file", "%s", file);
        n8443_record_detail(ctx->rep, rec, "mode", "%04o", mode);
        n8443_record_detail(ctx->rep, rec, "owner", "%s", owner);
        n8443_record_detail(ctx->rep, rec, "group", "%s", group);
        return;
    }
    rec = n8443_report_add(ctx->rep, "keytab.permissions", N8443_SEV_OK,
                           "%s: mode %04o, owner %s, group %s; no one else "
                           "can read it",
                           file, mode, owner, group);
    n8443_record_detail(ctx->rep, rec, "mode", "%04o", mode);
}

/*
 * Without GSS-Proxy the httpd user must read the keytab (or httpd starts
 * and every login fails); with GSS-Proxy it must not (that is the point).
 */
static void check_httpd_user(struct n8443_check_ctx *ctx, const char *file,
                             const struct stat *st)
{
    const struct n8443_httpd_user *user = &ctx->user;
    int gssproxy = ctx->site->kerberos.gssproxy.v;
    struct n8443_record *rec;
    const char *how = "";
    int readable;

    if (user->name == NULL) {
        n8443_report_add(ctx->rep, "keytab.httpd-user", N8443_SEV_WARNING,
                         "no httpd user found (neither apache nor "
                         "www-data exists): pass --httpd-user USER to check "
                         "that httpd can read %s",
                         file);
        return;
    }
    readable = readable_by(user, file, st, &how);
    if (readable < 0) {
        rec = n8443_report_add(ctx->rep, "keytab.httpd-user",
                               N8443_SEV_WARNING,
                               "could not find out whether %s can read %s",
                               user->name, file);
        n8443_record_detail(ctx->rep, rec, "user", "%s", user->name);
        return;
    }
    if (gssproxy && readable) {
        rec = n8443_report_add(
            ctx->rep, "keytab.httpd-user", N8443_SEV_WARNING,
            "the httpd user %s can read %s, which only gssproxy (root) "
            "should: with gssproxy: true a compromised httpd child could "
            "copy the keys. chown root:root %s; chmod 0400 %s",
            user->name, file, file, file);
    }
    else if (gssproxy) {
        rec = n8443_report_add(ctx->rep, "keytab.httpd-user", N8443_SEV_OK,
                               "the httpd user %s cannot read %s: only "
                               "gssproxy holds the keys",
                               user->name, file);
    }
    else if (!readable) {
        rec = n8443_report_add(
            ctx->rep, "keytab.httpd-user", N8443_SEV_ERROR,
            "the httpd user %s (uid %ld) cannot read %s: httpd refuses to "
            "start (or, after a key rotation, every login fails). chgrp "
            "%s %s; chmod 0640 %s (and make the directories searchable)",
            user->name, (long)user->uid, file, user->name, file, file);
    }
    else {
        rec = n8443_report_add(ctx->rep, "keytab.httpd-user", N8443_SEV_OK,
                               "the httpd user %s can read %s", user->name,
                               file);
    }
    n8443_record_detail(ctx->rep, rec, "user", "%s", user->name);
    n8443_record_detail(ctx->rep, rec, "user_from", "%s", user->how);
    n8443_record_detail(ctx->rep, rec, "method", "%s", how);
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
        snprintf(host, sizeof(host), "%.*s", (int)(colon - e->host),
                 e->host);
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
                wanted = e->service != NULL
                         && strcmp(e->service, "HTTP") == 0
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
        enctype_name(e->enctype, name, sizeof(name));
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
    ctx->kt.file = keytab_file(ctx->kt.name);
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
            "keytab %s (from %s): %s. %s",
            file, how, strerror(err),
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
    code = read_keytab(ctx->kctx, ctx->kt.name, &ctx->kt);
    if (code == ENOMEM) {
        return N8443_IO;
    }
    if (code != 0 || ctx->kt.n == 0) {
        const char *msg = code ? krb5_get_error_message(ctx->kctx, code)
                               : "it holds no keys";

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
                           "keytab %s (from %s): %zu key%s",
                           ctx->kt.name, how, ctx->kt.n,
                           ctx->kt.n == 1 ? "" : "s");
    n8443_record_detail(ctx->rep, rec, "keytab", "%s", ctx->kt.name);

after_file:
    if (file != NULL) {
        if (n8443_report_wants(ctx->rep, "keytab.permissions")) {
            check_permissions(ctx, file, &st);
        }
        if (n8443_report_wants(ctx->rep, "keytab.httpd-user")) {
            check_httpd_user(ctx, file, &st);
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
