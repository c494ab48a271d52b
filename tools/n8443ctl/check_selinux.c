/*
 * n8443ctl check - SELinux: what the policy lets httpd do with this
 * site's files and ports (RHEL, Fedora).
 *
 * Where SELinux is enabled, httpd runs as httpd_t and a login fails for
 * reasons no file mode shows: a keytab copied from a home directory keeps
 * its user_home_t label and cannot be read, a delegation directory made
 * by hand is not writable, a memcached replay cache needs a boolean, and
 * port 8443 must be an http_port_t.  The kernel says all of this without
 * libselinux: the label of a file is its security.selinux attribute, the
 * booleans are files under /sys/fs/selinux/booleans, and the port types
 * come from `semanage port -l`.
 *
 * The decisions are pure functions of those texts (n8443_se_*), so the
 * unit tests feed them recorded outputs of the real tools.  Where SELinux
 * is not enabled, one record says so and the rest is skipped.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "check.h"

#define SELINUXFS "/sys/fs/selinux"

/* Types httpd_t may read a keytab with (RHEL's apache and kerberos
 * policy modules), and those it may read but that mark web content. */
static const char *const keytab_types[] = {"httpd_keytab_t", "krb5_keytab_t",
                                           "httpd_config_t", NULL};
static const char *const content_types[] = {"httpd_sys_content_t",
                                            "httpd_sys_rw_content_t", NULL};
/* Types httpd_t may create files in. */
static const char *const writable_types[] = {
    "httpd_var_run_t",        "httpd_cache_t", "httpd_var_lib_t",
    "httpd_sys_rw_content_t", "httpd_tmp_t",   NULL};

static int in_list(const char *type, const char *const *list)
{
    size_t i;

    for (i = 0; list[i] != NULL; i++) {
        if (strcmp(type, list[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

int n8443_se_context_type(const char *context, char *type, size_t len)
{
    const char *p = context;
    size_t n;
    int i;

    /* user:role:type[:level] */
    for (i = 0; i < 2; i++) {
        p = strchr(p, ':');
        if (p == NULL) {
            return -1;
        }
        p++;
    }
    n = strcspn(p, ":\n");
    if (n == 0 || n >= len) {
        return -1;
    }
    memcpy(type, p, n);
    type[n] = '\0';
    return 0;
}

enum n8443_se_verdict n8443_se_keytab_verdict(const char *type)
{
    if (in_list(type, keytab_types)) {
        return N8443_SE_OK;
    }
    return in_list(type, content_types) ? N8443_SE_EXPOSED : N8443_SE_DENIED;
}

enum n8443_se_verdict n8443_se_writable_verdict(const char *type)
{
    return in_list(type, writable_types) ? N8443_SE_OK : N8443_SE_DENIED;
}

int n8443_se_getsebool(const char *out, const char *name)
{
    size_t n = strlen(name);
    const char *line;

    /* "httpd_can_network_memcache --> off" */
    for (line = out; line != NULL && *line != '\0';
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        const char *p = line + n;

        if (strncmp(line, name, n) != 0 || (*p != ' ' && *p != '\t')) {
            continue;
        }
        p += strspn(p, " \t");
        if (strncmp(p, "-->", 3) != 0) {
            continue;
        }
        p += 3;
        p += strspn(p, " \t");
        if (strncmp(p, "on", 2) == 0) {
            return 1;
        }
        if (strncmp(p, "off", 3) == 0) {
            return 0;
        }
    }
    return -1;
}

int n8443_se_port_has(const char *out, const char *type, const char *proto,
                      long port)
{
    size_t n = strlen(type);
    size_t plen = strlen(proto);
    const char *line;
    int found = -1;

    /* "http_port_t                    tcp      80, 81, 443, 8000-8010" */
    for (line = out; line != NULL && *line != '\0';
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        const char *p = line + n;
        const char *eol;

        if (strncmp(line, type, n) != 0 || (*p != ' ' && *p != '\t')) {
            continue;
        }
        p += strspn(p, " \t");
        if (strncmp(p, proto, plen) != 0
            || (p[plen] != ' ' && p[plen] != '\t')) {
            continue;
        }
        found = 0;
        p += plen;
        eol = p + strcspn(p, "\n");
        while (p < eol) {
            char *end;
            long lo;
            long hi;

            p += strspn(p, " \t,");
            if (p >= eol || !isdigit((unsigned char)*p)) {
                break;
            }
            lo = strtol(p, &end, 10);
            hi = lo;
            if (*end == '-') {
                hi = strtol(end + 1, &end, 10);
            }
            if (port >= lo && port <= hi) {
                return 1;
            }
            p = end;
        }
    }
    return found;
}

/* The SELinux type of PATH, into TYPE; 0, or -1 with errno. */
static int file_type(const char *path, char *type, size_t len)
{
    char ctx[256];
    ssize_t n = getxattr(path, "security.selinux", ctx, sizeof(ctx) - 1);

    if (n <= 0) {
        return -1;
    }
    ctx[n] = '\0';
    if (n8443_se_context_type(ctx, type, len) != 0) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* A file's whole contents, NUL-terminated, or NULL. */
static char *read_small(const char *path)
{
    char buf[64];
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL) {
        return NULL;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

static void check_keytab_label(struct n8443_check_ctx *ctx)
{
    const char *path = ctx->keytab_name;
    struct n8443_record *rec;
    char type[128];

    if (path == NULL) {
        return;
    }
    if (strncmp(path, "FILE:", 5) == 0) {
        path += 5;
    }
    if (ctx->site->kerberos.gssproxy.v) {
        rec = n8443_report_add(ctx->rep, "selinux.keytab", N8443_SEV_OK,
                               "GSS-Proxy (gssproxy_t) reads the keytab, "
                               "not httpd");
    }
    else if (file_type(path, type, sizeof(type)) != 0) {
        rec = n8443_report_add(ctx->rep, "selinux.keytab", N8443_SEV_WARNING,
                               "cannot read the SELinux label of %s: %s", path,
                               strerror(errno));
    }
    else if (n8443_se_keytab_verdict(type) == N8443_SE_OK) {
        rec = n8443_report_add(ctx->rep, "selinux.keytab", N8443_SEV_OK,
                               "%s is labelled %s: httpd may read it", path,
                               type);
    }
    else if (n8443_se_keytab_verdict(type) == N8443_SE_EXPOSED) {
        rec = n8443_report_add(
            ctx->rep, "selinux.keytab", N8443_SEV_WARNING,
            "%s is labelled %s, as web content: httpd reads it, and so "
            "would a mistake that serves it. Label it a keytab: semanage "
            "fcontext -a -t httpd_keytab_t '%s' && restorecon -v %s",
            path, type, path, path);
    }
    else {
        rec = n8443_report_add(
            ctx->rep, "selinux.keytab", N8443_SEV_ERROR,
            "%s is labelled %s, which httpd (httpd_t) may not read: every "
            "login fails (an AVC denial in the audit log). Run: semanage "
            "fcontext -a -t httpd_keytab_t '%s' && restorecon -v %s",
            path, type, path, path);
    }
    n8443_record_detail(ctx->rep, rec, "file", "%s", path);
}

/* DIR (or the directory of a file) must take httpd's new files. */
static void check_writable(struct n8443_check_ctx *ctx, const char *what,
                           const char *dir)
{
    struct n8443_record *rec;
    char type[128];

    if (file_type(dir, type, sizeof(type)) != 0) {
        rec = n8443_report_add(ctx->rep, "selinux.writable", N8443_SEV_WARNING,
                               "cannot read the SELinux label of %s (%s): "
                               "%s",
                               dir, what, strerror(errno));
    }
    else if (n8443_se_writable_verdict(type) == N8443_SE_OK) {
        rec = n8443_report_add(ctx->rep, "selinux.writable", N8443_SEV_OK,
                               "%s (%s) is labelled %s: httpd may write "
                               "there",
                               dir, what, type);
    }
    else {
        rec = n8443_report_add(
            ctx->rep, "selinux.writable", N8443_SEV_ERROR,
            "%s (%s) is labelled %s, where httpd (httpd_t) may not create "
            "files. Run: semanage fcontext -a -t httpd_var_run_t '%s(/.*)?' "
            "&& restorecon -Rv %s",
            dir, what, type, dir, dir);
    }
    n8443_record_detail(ctx->rep, rec, "directory", "%s", dir);
}

/* NAME's current value: from selinuxfs ("1 1"), else from getsebool;
 * 1 on, 0 off, -1 unknown. */
static int boolean_value(const char *name)
{
    struct n8443_buf out;
    char path[256];
    char chunk[512];
    char *value;
    FILE *f;
    size_t n;
    int on = -1;

    snprintf(path, sizeof(path), SELINUXFS "/booleans/%s", name);
    value = read_small(path);
    if (value != NULL) {
        on = value[0] == '1' ? 1 : value[0] == '0' ? 0 : -1;
        free(value);
        return on;
    }
    /* NAME is one of ours: letters and underscores, safe for sh. */
    snprintf(path, sizeof(path), "getsebool %s 2>/dev/null", name);
    f = popen(path, "r");
    if (f == NULL) {
        return -1;
    }
    n8443_buf_init(&out);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        n8443_buf_add(&out, chunk, n);
    }
    n8443_buf_add(&out, "", 1);
    if (pclose(f) == 0 && !out.failed) {
        on = n8443_se_getsebool(out.data, name);
    }
    n8443_buf_free(&out);
    return on;
}

static void check_boolean(struct n8443_check_ctx *ctx, const char *name,
                          const char *why)
{
    struct n8443_record *rec;
    int on = boolean_value(name);

    if (on < 0) {
        rec = n8443_report_add(ctx->rep, "selinux.boolean", N8443_SEV_WARNING,
                               "cannot read the boolean %s (%s): check with "
                               "getsebool %s",
                               name, why, name);
    }
    else if (on) {
        rec = n8443_report_add(ctx->rep, "selinux.boolean", N8443_SEV_OK,
                               "%s is on (%s)", name, why);
    }
    else {
        rec = n8443_report_add(ctx->rep, "selinux.boolean", N8443_SEV_ERROR,
                               "%s is off, and %s needs it: httpd's "
                               "connections are denied. Run: setsebool -P "
                               "%s on",
                               name, why, name);
    }
    n8443_record_detail(ctx->rep, rec, "boolean", "%s", name);
}

/* The whole output of `semanage port -l`, or NULL. */
static char *semanage_ports(void)
{
    FILE *f = popen("semanage port -l 2>/dev/null", "r");
    struct n8443_buf out;
    char chunk[4096];
    size_t n;

    if (f == NULL) {
        return NULL;
    }
    n8443_buf_init(&out);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        n8443_buf_add(&out, chunk, n);
    }
    if (pclose(f) != 0 || out.failed || out.len == 0) {
        n8443_buf_free(&out);
        return NULL;
    }
    n8443_buf_add(&out, "", 1);
    return out.data;
}

static void check_port(struct n8443_check_ctx *ctx)
{
    long port = ctx->site->listen.v > 0 ? ctx->site->listen.v : 8443;
    struct n8443_record *rec;
    char *out = semanage_ports();
    int has = out ? n8443_se_port_has(out, "http_port_t", "tcp", port) : -1;

    if (out == NULL || has < 0) {
        rec = n8443_report_add(
            ctx->rep, "selinux.port", N8443_SEV_WARNING,
            "cannot tell whether port %ld is an http_port_t (semanage, from "
            "policycoreutils-python-utils, did not answer): check with "
            "semanage port -l | grep http_port_t",
            port);
    }
    else if (has) {
        rec = n8443_report_add(ctx->rep, "selinux.port", N8443_SEV_OK,
                               "port %ld is an http_port_t: httpd may "
                               "listen on it",
                               port);
    }
    else {
        rec = n8443_report_add(
            ctx->rep, "selinux.port", N8443_SEV_ERROR,
            "port %ld is not an http_port_t: httpd cannot bind it and does "
            "not start. Run: semanage port -a -t http_port_t -p tcp %ld (-m "
            "instead of -a if another type has it)",
            port, port);
    }
    n8443_record_detail_num(ctx->rep, rec, "port", port);
    free(out);
}

int n8443_check_selinux(struct n8443_check_ctx *ctx)
{
    const struct n8443_site *site = ctx->site;
    struct n8443_record *rec;
    char *enforce;
    size_t i;

    if (!n8443_report_wants(ctx->rep, "selinux.enabled")
        && !n8443_report_wants(ctx->rep, "selinux.keytab")
        && !n8443_report_wants(ctx->rep, "selinux.writable")
        && !n8443_report_wants(ctx->rep, "selinux.boolean")
        && !n8443_report_wants(ctx->rep, "selinux.port")) {
        return N8443_OK;
    }
    enforce = read_small(SELINUXFS "/enforce");
    if (enforce == NULL) {
        n8443_report_add(ctx->rep, "selinux.enabled", N8443_SEV_SKIPPED,
                         "SELinux is not enabled on this host (no " SELINUXFS
                         "): its checks are skipped");
        return ctx->rep->failed ? N8443_IO : N8443_OK;
    }
    rec = n8443_report_add(ctx->rep, "selinux.enabled", N8443_SEV_OK,
                           "SELinux is %s",
                           enforce[0] == '1' ? "enforcing"
                                             : "permissive: what follows "
                                               "is logged, not enforced");
    (void)rec;
    free(enforce);
    check_keytab_label(ctx);
    if (site->kerberos.delegation.v != N8443_DELEG_NONE
        && site->kerberos.delegation_dir.v != NULL) {
        check_writable(ctx, "delegation_dir", site->kerberos.delegation_dir.v);
    }
    if (site->kerberos.replay_cache.kind == N8443_RC_KRB5
        && site->kerberos.replay_cache.arg != NULL) {
        const char *name = site->kerberos.replay_cache.arg;
        const char *colon = strchr(name, ':');
        const char *path = colon ? colon + 1 : name;
        const char *slash = strrchr(path, '/');
        char dir[512];

        if (slash != NULL && path[0] == '/') {
            snprintf(dir, sizeof(dir), "%.*s",
                     (int)(slash == path ? 1 : slash - path), path);
            check_writable(ctx, "the krb5 replay cache", dir);
        }
    }
    if (site->kerberos.replay_cache.kind == N8443_RC_MEMCACHE) {
        check_boolean(ctx, "httpd_can_network_memcache",
                      "replay_cache: memcache");
    }
    for (i = 0; i < site->nlocations; i++) {
        if (site->locations[i].proxy.v != NULL) {
            check_boolean(ctx, "httpd_can_network_connect",
                          "a location proxies to a backend");
            break;
        }
    }
    /* Redis and Sentinel ports (redis_port_t) are no httpd port: the
     * boolean, or a local policy module (README). */
    if (i == site->nlocations
        && site->kerberos.replay_cache.kind == N8443_RC_REDIS) {
        check_boolean(ctx, "httpd_can_network_connect",
                      "replay_cache: redis (or a local policy module that "
                      "lets httpd_t connect to redis_port_t)");
    }
    check_port(ctx);
    return ctx->rep->failed ? N8443_IO : N8443_OK;
}
