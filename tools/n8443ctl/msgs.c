/*
 * n8443ctl - message printers (see msgs.h).
 */
#include <stdio.h>

#include "msgs.h"
#include "site.h"

static void vprint(FILE *stream, const char *prefix, const char *fmt,
                   va_list ap) N8443_PRINTF(3, 0);
static void vprint(FILE *stream, const char *prefix, const char *fmt,
                   va_list ap)
{
    fputs(prefix, stream);
    vfprintf(stream, fmt, ap);
    fputc('\n', stream);
}

void n8443_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprint(stderr, N8443_PROG ": ", fmt, ap);
    va_end(ap);
}

void n8443_note(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprint(stderr, N8443_PROG ": ", fmt, ap);
    va_end(ap);
}

void n8443_warn(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprint(stderr, N8443_PROG ": warning: ", fmt, ap);
    va_end(ap);
}

void n8443_error_at(const char *file, int line, int col, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s:%d:%d: ", file, line, col);
    va_start(ap, fmt);
    vprint(stderr, "", fmt, ap);
    va_end(ap);
}

void n8443_out(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprint(stdout, "", fmt, ap);
    va_end(ap);
}

void n8443_diags_print(const char *file, const struct n8443_diags *diags)
{
    size_t i;

    for (i = 0; i < diags->n; i++) {
        n8443_error_at(file, diags->items[i].line, diags->items[i].col, "%s",
                       diags->items[i].msg);
    }
    if (diags->truncated) {
        n8443_error("%s: more errors not shown (the first %d are above)", file,
                    N8443_MAX_DIAGS);
    }
}
