/*
 * instance.c - the instance-wide settings (instance.h).
 */
#include "instance.h"

n8443_instance_conf n8443_instance = {
    N8443_DEFAULT_CLOCK_SKEW, 0, 0, 0, 0, NULL};

void n8443_instance_defaults(void)
{
    n8443_instance.clock_skew = N8443_DEFAULT_CLOCK_SKEW;
    n8443_instance.clock_skew_set = 0;
    n8443_instance.size = 0;
    n8443_instance.quota = 0;
    n8443_instance.rc_margin = -1; /* not set: N8443_RC_DEFAULT_MARGIN */
    n8443_instance.rc_file = NULL;
}

/*
 * How long a replay key is kept: Kerberos takes an authenticator while
 * |now - ctime| <= skew in whole seconds, both ends included, so one first
 * seen at the start of its earliest good second (ctime = now + skew) is
 * good until the end of second ctime + skew: 2 x skew + 1 s after that
 * first use.  One more second covers memcached's once-a-second clock.
 */
apr_interval_time_t n8443_rc_retention(void)
{
    return apr_time_from_sec(2 * n8443_instance.clock_skew + 2);
}
