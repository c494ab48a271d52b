/*
 * n8443ctl - `check`, family http: can a large Kerberos token reach the
 * module at all?
 *
 * httpd measures each request header line against LimitRequestFieldSize
 * (8190 bytes unless set) before any module runs and answers a longer
 * one with a bare 400, with nothing in the log from the module.  A user
 * in many groups sends a token of 12-48 KB (Microsoft documents
 * MaxTokenSize up to 48,000 bytes before base64).  render writes a limit
 * that fits the site's NegotiateMaxTokenSize (core/modes.h); this checks
 * the installed file (--target, or the default target of a one-site
 * file) and the token size itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check.h"
#include "msgs.h"

/* Microsoft's documented largest Kerberos token (MaxTokenSize). */
#define MS_MAX_TOKEN 48000

/*
 * The header line limit a rendered file gives httpd: its first
 * LimitRequestFieldSize line outside comments (render writes the same
 * value into every vhost of a port; the port's first vhost rules), or
 * -1 when it has none.
 */
static long field_size_in(const char *data, size_t len)
{
    const char *p = data;
    const char *end = data + len;
    static const char directive[] = "LimitRequestFieldSize";

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *q = p;
        char *num_end;
        long v;

        if (eol == NULL) {
            eol = end;
        }
        while (q < eol && (*q == ' ' || *q == '\t')) {
            q++;
        }
        if ((size_t)(eol - q) > sizeof(directive)
            && strncasecmp(q, directive, sizeof(directive) - 1) == 0
            && (q[sizeof(directive) - 1] == ' '
                || q[sizeof(directive) - 1] == '\t')) {
            errno = 0;
            v = strtol(q + sizeof(directive), &num_end, 10);
            if (errno == 0 && num_end > q + sizeof(directive) && v >= 0) {
                return v;
            }
        }
        p = eol + 1;
    }
    return -1;
}

static void check_token_size(struct n8443_check_ctx *ctx)
{
    const struct n8443_int *max = &ctx->site->kerberos.max_token_size;
    struct n8443_record *rec;
    char where[300];

    if (max->v < MS_MAX_TOKEN) {
        rec = n8443_report_add(
            ctx->rep, "http.token-size", N8443_SEV_WARNING,
            "max_token_size %ld is below the %d bytes Microsoft documents "
            "for Kerberos tokens: users in many groups will be refused "
            "(400, N8443019). Leave it out (default %d) or raise it",
            max->v, MS_MAX_TOKEN, N8443_DEFAULT_MAX_TOKEN);
    }
    else {
        rec = n8443_report_add(ctx->rep, "http.token-size", N8443_SEV_OK,
                               "tokens up to %ld bytes are accepted "
                               "(NegotiateMaxTokenSize)",
                               max->v);
    }
    n8443_record_detail_num(ctx->rep, rec, "max_token_size", max->v);
    if (n8443_check_where(ctx, max->pos, where, sizeof(where)) != NULL) {
        n8443_record_detail(ctx->rep, rec, "where", "%s", where);
    }
}

static void check_field_size(struct n8443_check_ctx *ctx)
{
    long max_token = ctx->site->kerberos.max_token_size.v;
    long need = n8443_field_size_for_token(max_token);
    const char *target = ctx->opts->target;
    struct n8443_record *rec;
    char *data = NULL;
    size_t len = 0;
    int exists = 0;
    long have;

    if (target == NULL) {
        rec = n8443_report_add(
            ctx->rep, "http.field-size", N8443_SEV_OK,
            "render writes LimitRequestFieldSize %ld for tokens up to %ld "
            "bytes (give --target FILE to check an installed file)",
            need, max_token);
        n8443_record_detail_num(ctx->rep, rec, "needed", need);
        return;
    }
    if (n8443_read_file_optional(target, N8443_MAX_CONF_FILE, &data, &len,
                                 &exists, NULL)
        != N8443_OK) {
        rec = n8443_report_add(ctx->rep, "http.field-size", N8443_SEV_ERROR,
                               "cannot read %s", target);
        n8443_record_unusable(rec);
        return;
    }
    if (!exists) {
        rec = n8443_report_add(
            ctx->rep, "http.field-size", N8443_SEV_OK,
            "%s is not installed yet; render writes LimitRequestFieldSize "
            "%ld for tokens up to %ld bytes",
            target, need, max_token);
        n8443_record_detail_num(ctx->rep, rec, "needed", need);
        return;
    }
    have = field_size_in(data, len);
    free(data);
    if (have < need) {
        rec = n8443_report_add(
            ctx->rep, "http.field-size", N8443_SEV_WARNING,
            "%s lets httpd read request header lines of at most %ld bytes "
            "(%s), but a Kerberos token of %ld bytes (NegotiateMaxTokenSize)"
            " needs %ld: users in many groups get a bare 400 from httpd, "
            "with no line from the module. Run n8443ctl install (render "
            "writes LimitRequestFieldSize %ld)",
            target, have < 0 ? (long)N8443_HTTPD_DEFAULT_FIELD_SIZE : have,
            have < 0 ? "no LimitRequestFieldSize: httpd's default, unless "
                       "httpd.conf sets another"
                     : "LimitRequestFieldSize",
            max_token, need, need);
    }
    else {
        rec = n8443_report_add(
            ctx->rep, "http.field-size", N8443_SEV_OK,
            "LimitRequestFieldSize %ld in %s fits tokens up to %ld bytes "
            "(it must be in the port's first vhost to count)",
            have, target, max_token);
    }
    n8443_record_detail_num(ctx->rep, rec, "needed", need);
    n8443_record_detail_num(ctx->rep, rec, "limit",
                            have < 0 ? N8443_HTTPD_DEFAULT_FIELD_SIZE : have);
    n8443_record_detail(ctx->rep, rec, "file", "%s", target);
}

int n8443_check_http(struct n8443_check_ctx *ctx)
{
    if (!ctx->from_site_file) {
        return N8443_OK;
    }
    check_token_size(ctx);
    check_field_size(ctx);
    return N8443_OK;
}
