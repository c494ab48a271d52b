/*
 * n8443ctl - the Require lines of a rendered <Location>: users, groups of
 * a file or of the ticket (Require negotiate-group), and the ticket's
 * authentication indicators as a step-up.
 *
 * Pure, as render.c: a function of the loaded site file only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msgs.h"
#include "site.h"

#define INDENT2 "        "
#define INDENT3 "            "
#define INDENT4 "                "

/*
 * Who may pass: any of the users and groups (Require lines are any-of);
 * with auth_indicators, in a <RequireAll> with the indicator rule.  Rules
 * decided by the ticket answer 403 when they fail: the ticket was good,
 * asking again brings the same ticket (AuthzSendForbiddenOnFailure).
 */
void n8443_render_require(const struct n8443_location *loc,
                          struct n8443_buf *out)
{
    const char *in = INDENT2;
    int ticket_groups = loc->groups.set && !loc->group_file.set;
    int all = loc->auth_indicators.set;
    int any = all && (loc->users.set || loc->groups.set);
    size_t i;

    if (ticket_groups || all) {
        n8443_buf_puts(out, INDENT2 "AuthzSendForbiddenOnFailure On\n");
    }
    /* Not inside <RequireAll>/<RequireAny>, which hold Require lines. */
    if (all && loc->groups.set && loc->group_file.set) {
        n8443_buf_printf(out, INDENT2 "AuthGroupFile \"%s\"\n",
                         loc->group_file.v);
    }
    if (all) {
        n8443_buf_puts(out, INDENT2 "<RequireAll>\n");
        in = INDENT3;
    }
    if (any) {
        n8443_buf_printf(out, "%s<RequireAny>\n", in);
        in = INDENT4;
    }
    if (!loc->users.set && !loc->groups.set) {
        n8443_buf_printf(out, "%sRequire valid-user\n", in);
    }
    for (i = 0; i < loc->users.n; i++) {
        n8443_buf_printf(out, "%sRequire user %s\n", in, loc->users.v[i]);
    }
    if (!all && loc->groups.set && loc->group_file.set) {
        n8443_buf_printf(out, INDENT2 "AuthGroupFile \"%s\"\n",
                         loc->group_file.v);
    }
    for (i = 0; i < loc->groups.n; i++) {
        n8443_buf_printf(out, "%sRequire %s %s\n", in,
                         ticket_groups ? "negotiate-group" : "group",
                         loc->groups.v[i]);
    }
    if (any) {
        n8443_buf_puts(out, INDENT3 "</RequireAny>\n");
    }
    if (all) {
        n8443_buf_puts(out, INDENT3 "Require negotiate-auth-indicator");
        for (i = 0; i < loc->auth_indicators.n; i++) {
            n8443_buf_printf(out, " %s", loc->auth_indicators.v[i]);
        }
        n8443_buf_puts(out, "\n" INDENT2 "</RequireAll>\n");
    }
}
