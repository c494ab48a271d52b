/*
 * n8443ctl check --online - helpers below the online steps: error texts,
 * and the KDC's clock as the tickets show it (online.clock).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "check_online.h"

const char *n8443_online_kerr(struct online *on, krb5_error_code code,
                              char *buf, size_t len)
{
    const char *msg = krb5_get_error_message(on->ctx->kctx, code);

    snprintf(buf, len, "%s", msg);
    krb5_free_error_message(on->ctx->kctx, msg);
    return buf;
}

/* Errors that mean "no KDC answered": a service not reached, exit 4. */
int n8443_online_kdc_unreachable(krb5_error_code code)
{
    return code == KRB5_KDC_UNREACH || code == KRB5_REALM_CANT_RESOLVE
           || code == KRB5_REALM_UNKNOWN || code == ETIMEDOUT
           || code == ECONNREFUSED;
}

/*
 * Where the KDC's clock is: T, a time it stamped into a ticket between
 * our BEFORE and AFTER.  The offset is how far T lies outside that
 * window (0 inside it): whole seconds, which is what the skew is
 * measured in.
 */
void n8443_online_note_kdc_time(struct online *on, krb5_timestamp t,
                                time_t before, time_t after)
{
    long kdc = (long)(uint32_t)t;

    if (on->have_offset) {
        return;
    }
    if (kdc < (long)before) {
        on->offset = kdc - (long)before;
    }
    else if (kdc > (long)after) {
        on->offset = kdc - (long)after;
    }
    else {
        on->offset = 0;
    }
    on->have_offset = 1;
}

/* online.clock, once: from the measured offset, or from a refusal. */
void n8443_online_report_clock(struct online *on)
{
    struct n8443_check_ctx *ctx = on->ctx;
    struct n8443_record *rec;
    long skew = ctx->clock_skew;
    long off = on->offset < 0 ? -on->offset : on->offset;

    if (on->clock_reported || !on->have_offset) {
        return;
    }
    on->clock_reported = 1;
    if (off > skew) {
        rec = n8443_report_add(
            ctx->rep, "online.clock", N8443_SEV_ERROR,
            "this host's clock is %ld s %s the KDC's, more than the clock "
            "skew (%ld s): every client with a correct clock is refused "
            "(clock skew too great, 401). Synchronise the clock (chronyd or "
            "ntpd against the KDCs or domain controllers)",
            off, on->offset < 0 ? "ahead of" : "behind", skew);
    }
    else if (2 * off > skew) {
        rec = n8443_report_add(
            ctx->rep, "online.clock", N8443_SEV_WARNING,
            "this host's clock is %ld s %s the KDC's, more than half the "
            "clock skew (%ld s): clients whose clocks drift the other way "
            "will be refused. Synchronise the clock (chronyd or ntpd)",
            off, on->offset < 0 ? "ahead of" : "behind", skew);
    }
    else {
        /* Tickets carry whole seconds: "within 1 s" is as exact as
         * it gets. */
        rec = n8443_report_add(ctx->rep, "online.clock", N8443_SEV_OK,
                               "this host's clock is within %ld s of the "
                               "KDC's (clock skew %ld s)",
                               off > 0 ? off : 1, skew);
    }
    n8443_record_detail_num(ctx->rep, rec, "offset", -on->offset);
    n8443_record_detail_num(ctx->rep, rec, "clock_skew", skew);
}
