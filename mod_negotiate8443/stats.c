/*
 * stats.c - the instance's counters (stats.h).
 */
#include "stats.h"

#include <stddef.h>

static n8443_stats local_stats; /* until the shared ones exist */
static n8443_stats *shared_stats;

n8443_stats *n8443_stats_get(void)
{
    return shared_stats != NULL ? shared_stats : &local_stats;
}

void n8443_stats_attach(n8443_stats *shared)
{
    shared_stats = shared;
}
