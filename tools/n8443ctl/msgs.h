/*
 * n8443ctl - messages.
 *
 * stdout carries data (a rendered config, a diff, a status line that a
 * script may read); every diagnostic goes to stderr through these
 * printers, so that `n8443ctl render site.yaml > x.conf` never mixes a
 * warning into the file.
 */
#ifndef N8443CTL_MSGS_H
#define N8443CTL_MSGS_H

#include "n8443ctl.h"

#define N8443_PROG "n8443ctl"

/* "n8443ctl: MESSAGE" on stderr. */
void n8443_error(const char *fmt, ...) N8443_PRINTF(1, 2);
/* "n8443ctl: MESSAGE" on stderr, for progress that is not a failure. */
void n8443_note(const char *fmt, ...) N8443_PRINTF(1, 2);
/* "n8443ctl: warning: MESSAGE" on stderr. */
void n8443_warn(const char *fmt, ...) N8443_PRINTF(1, 2);
/* "FILE:LINE:COL: MESSAGE" on stderr, the form editors jump to. */
void n8443_error_at(const char *file, int line, int col, const char *fmt, ...)
    N8443_PRINTF(4, 5);
/* Data on stdout. */
void n8443_out(const char *fmt, ...) N8443_PRINTF(1, 2);

struct n8443_diags;
void n8443_diags_print(const char *file, const struct n8443_diags *diags);

#endif /* N8443CTL_MSGS_H */
