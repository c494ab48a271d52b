/*
 * n8443ctl check - GSS-Proxy, when it holds the keys: a [service/...]
 * stanza that serves httpd with the keytab, and the interposer
 * registered so that httpd's GSS-API calls reach gssproxy.
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

#include "check.h"

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
static int gp_read_file(const char *path, struct gp_stanza *stanzas, size_t max,
                        size_t *n)
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
            cur->allow_any_uid =
                strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0;
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
static int gp_read_dir(const char *dir, struct gp_stanza *stanzas, size_t max)
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
