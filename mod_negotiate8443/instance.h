/*
 * instance.h - the instance-wide settings: NegotiateClockSkew,
 * NegotiateReplayCacheSize and NegotiateReplayCacheQuota are global-only
 * directives, so they live here rather than in a per-server config.  Set
 * by config.c, fixed at start (skew.c), read by the login paths and the
 * replay cache.
 */
#ifndef N8443_INSTANCE_H
#define N8443_INSTANCE_H

#include "apr.h"
#include "apr_time.h"

#include "modes.h" /* N8443_DEFAULT_CLOCK_SKEW */

typedef struct {
    long clock_skew; /* seconds */
    int clock_skew_set;
    apr_uint64_t size;   /* entries; 0 = derived from the skew */
    apr_uint64_t quota;  /* per principal; 0 = 1% of size */
    long rc_margin;      /* NegotiateReplayCacheMargin, s;
                                      * -1: not set (rcache.c) */
    const char *rc_file; /* NegotiateReplayCacheFile; NULL:
                                        in the runtime directory */
} n8443_instance_conf;

extern n8443_instance_conf n8443_instance;

/* Every configuration generation starts from the defaults: a directive
 * removed before a graceful restart is gone. */
void n8443_instance_defaults(void);

/* How long a replay key is kept (see instance.c). */
apr_interval_time_t n8443_rc_retention(void);

#endif /* N8443_INSTANCE_H */
