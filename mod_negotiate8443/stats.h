/*
 * stats.h - the instance's counters, for the status handler (status.c):
 * logins, refusals by cause, replay cache answers.  They live in the
 * shared segment (rcache_shm.c), so that every child and thread adds to
 * the same ones; until it exists, in a process-local dummy.
 */
#ifndef N8443_STATS_H
#define N8443_STATS_H

#include "apr.h"

/* Failure buckets of the status handler; n8443_cause values index them. */
#define N8443_STAT_CAUSES 12
/* Distinct memcached lists whose state the parent shares with the
 * children; more lists share words (a refusal then covers them all). */
#define N8443_MC_SLOTS 64

typedef struct {
    apr_uint32_t logins;
    apr_uint32_t logins_fast_path; /* of logins: by core/krb5_accept.c */
    apr_uint32_t failures[N8443_STAT_CAUSES];
    apr_uint32_t backend_errors;
    apr_uint32_t full;
    apr_uint32_t quota_refused; /* N8443_RC_QUOTA answers */
    /* Per memcached list (n8443_rc_conf.memcache_slot), written by the
     * parent's probe: 0, or why its logins are refused (503) - a
     * N8443_MC_* reason << 16 | the index of the server in the list. */
    apr_uint32_t memcache_refuse[N8443_MC_SLOTS];
    /* Per memcached list: commands it did not answer, answers that
     * were errors, since the start. */
    apr_uint32_t memcache_errors[N8443_MC_SLOTS];
} n8443_stats;

#define N8443_MC_EVICTS  1u /* "evictions on": runs without -M */
#define N8443_MC_EVICTED 2u /* its "evictions" counter grew */

/* The instance's counters (never NULL). */
n8443_stats *n8443_stats_get(void);
/* From now on, the counters are these (in the shared segment). */
void n8443_stats_attach(n8443_stats *shared);

#endif /* N8443_STATS_H */
