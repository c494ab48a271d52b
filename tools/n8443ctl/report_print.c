/*
 * n8443ctl - the two ways to print check records, and the exit status.
 *
 * Text (for people) and JSON (for programs) are built here from the same
 * records (report.c), so the two cannot say different things.  JSON is
 * written by hand: a dozen lines of escaping do not justify a library.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

const char *n8443_severity_name(enum n8443_severity severity)
{
    switch (severity) {
    case N8443_SEV_OK: return "ok";
    case N8443_SEV_WARNING: return "warning";
    case N8443_SEV_SKIPPED: return "skipped";
    default: return "error";
    }
}

/*
 * Length of the well-formed UTF-8 sequence at S (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0 if there is none.
 */
static size_t utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80) {
        return 1;
    }
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        return (s[1] & 0xC0) == 0x80 ? 2 : 0;
    }
    if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        unsigned char lo = s[0] == 0xE0 ? 0xA0 : 0x80;
        unsigned char hi = s[0] == 0xED ? 0x9F : 0xBF;

        return s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        unsigned char lo = s[0] == 0xF0 ? 0x90 : 0x80;
        unsigned char hi = s[0] == 0xF4 ? 0x8F : 0xBF;

        return s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80
                       && (s[3] & 0xC0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

void n8443_json_string(struct n8443_buf *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    n8443_buf_add(out, "\"", 1);
    while (*p != '\0') {
        size_t len;

        switch (*p) {
        case '"':
            n8443_buf_add(out, "\\\"", 2);
            p++;
            continue;
        case '\\':
            n8443_buf_add(out, "\\\\", 2);
            p++;
            continue;
        case '\b':
            n8443_buf_add(out, "\\b", 2);
            p++;
            continue;
        case '\f':
            n8443_buf_add(out, "\\f", 2);
            p++;
            continue;
        case '\n':
            n8443_buf_add(out, "\\n", 2);
            p++;
            continue;
        case '\r':
            n8443_buf_add(out, "\\r", 2);
            p++;
            continue;
        case '\t':
            n8443_buf_add(out, "\\t", 2);
            p++;
            continue;
        default: break;
        }
        if (*p < 0x20 || *p == 0x7F) {
            n8443_buf_printf(out, "\\u%04x", *p);
            p++;
            continue;
        }
        /* The string ends at the NUL, so a sequence cut short by it fails
         * its continuation-byte test before reading past the end. */
        len = utf8_len(p);
        if (len == 0) {
            n8443_buf_puts(out, "\\ufffd");
            p++;
            continue;
        }
        n8443_buf_add(out, (const char *)p, len);
        p += len;
    }
    n8443_buf_add(out, "\"", 1);
}

struct counts {
    size_t ok;
    size_t warning;
    size_t error;
    size_t skipped;
};

static void count(const struct n8443_report *rep, struct counts *c)
{
    size_t i;

    memset(c, 0, sizeof(*c));
    for (i = 0; i < rep->n; i++) {
        switch (rep->records[i]->severity) {
        case N8443_SEV_OK: c->ok++; break;
        case N8443_SEV_WARNING: c->warning++; break;
        case N8443_SEV_SKIPPED: c->skipped++; break;
        default: c->error++; break;
        }
    }
}

int n8443_report_exit_status(const struct n8443_report *rep, int strict)
{
    int invalid = 0;
    int unusable = 0;
    int failed = 0;
    size_t i;

    for (i = 0; i < rep->n; i++) {
        const struct n8443_record *rec = rep->records[i];

        if (strcmp(rec->id, "site.invalid") == 0) {
            invalid = 1;
        }
        if (rec->unusable) {
            unusable = 1;
        }
        if (rec->severity == N8443_SEV_ERROR
            || (strict && rec->severity == N8443_SEV_WARNING)) {
            failed = 1;
        }
    }
    /* The most fundamental problem wins: a result built on a site file
     * that did not load, or on a file that could not be read, is
     * incomplete, whatever else it found. */
    if (invalid) {
        return N8443_INVALID;
    }
    if (unusable) {
        return N8443_IO;
    }
    return failed ? 1 : N8443_OK;
}

/*
 * One line per record, "SEVERITY ID [SITE] MESSAGE", then for warnings
 * and errors the other details indented under it, and a summary line.
 */
int n8443_report_text(const struct n8443_report *rep, int strict,
                      struct n8443_buf *out)
{
    struct counts c;
    size_t i;
    size_t j;

    for (i = 0; i < rep->n; i++) {
        const struct n8443_record *rec = rep->records[i];
        const char *site = NULL;

        for (j = 0; j < rec->ndetails; j++) {
            if (strcmp(rec->details[j].key, "site") == 0) {
                site = rec->details[j].value;
            }
        }
        n8443_buf_printf(out, "%-8s%-23s", n8443_severity_name(rec->severity),
                         rec->id);
        if (site != NULL) {
            n8443_buf_printf(out, " [%s]", site);
        }
        n8443_buf_printf(out, " %s\n", rec->message);
        if (rec->severity == N8443_SEV_OK) {
            continue;
        }
        for (j = 0; j < rec->ndetails; j++) {
            if (strcmp(rec->details[j].key, "site") != 0) {
                n8443_buf_printf(out, "%31s%s: %s\n", "", rec->details[j].key,
                                 rec->details[j].value);
            }
        }
    }
    count(rep, &c);
    n8443_buf_printf(out, "%zu ok, %zu warning%s, %zu error%s", c.ok, c.warning,
                     c.warning == 1 ? "" : "s", c.error,
                     c.error == 1 ? "" : "s");
    /* Only probe skips steps: check's summary stays as it was. */
    if (c.skipped > 0) {
        n8443_buf_printf(out, ", %zu skipped", c.skipped);
    }
    n8443_buf_printf(out, "%s\n",
                     strict && c.warning > 0 ? " (--strict: warnings fail)"
                                             : "");
    return out->failed ? N8443_IO : N8443_OK;
}

/*
 * {"version": 1, "tool": ..., "checks": [...], "summary": {...}}: one
 * check per line, details as an object of strings and numbers.
 */
int n8443_report_json(const struct n8443_report *rep, int strict,
                      struct n8443_buf *out)
{
    struct counts c;
    size_t i;
    size_t j;

    n8443_buf_puts(out, "{\n  \"version\": 1,\n  \"tool\": ");
    n8443_json_string(out, "n8443ctl " PACKAGE_VERSION);
    n8443_buf_puts(out, ",\n  \"checks\": [");
    for (i = 0; i < rep->n; i++) {
        const struct n8443_record *rec = rep->records[i];

        n8443_buf_puts(out, i == 0 ? "\n    {\"id\": " : ",\n    {\"id\": ");
        n8443_json_string(out, rec->id);
        n8443_buf_puts(out, ", \"severity\": ");
        n8443_json_string(out, n8443_severity_name(rec->severity));
        n8443_buf_puts(out, ", \"message\": ");
        n8443_json_string(out, rec->message);
        n8443_buf_puts(out, ", \"details\": {");
        for (j = 0; j < rec->ndetails; j++) {
            if (j > 0) {
                n8443_buf_puts(out, ", ");
            }
            n8443_json_string(out, rec->details[j].key);
            n8443_buf_puts(out, ": ");
            if (rec->details[j].is_number) {
                n8443_buf_puts(out, rec->details[j].value);
            }
            else {
                n8443_json_string(out, rec->details[j].value);
            }
        }
        n8443_buf_puts(out, "}}");
    }
    count(rep, &c);
    n8443_buf_printf(out,
                     "%s],\n  \"summary\": {\"ok\": %zu, \"warning\": %zu, "
                     "\"error\": %zu, ",
                     rep->n > 0 ? "\n  " : "", c.ok, c.warning, c.error);
    if (c.skipped > 0) {
        n8443_buf_printf(out, "\"skipped\": %zu, ", c.skipped);
    }
    n8443_buf_printf(out, "\"strict\": %s, \"exit_status\": %d}\n}\n",
                     strict ? "true" : "false",
                     n8443_report_exit_status(rep, strict));
    return out->failed ? N8443_IO : N8443_OK;
}
