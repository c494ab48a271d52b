/*
 * gssproxy.c - GSS_USE_PROXY, as GSS-Proxy's interposer reads it
 * (gssproxy.h).
 */
#include "gssproxy.h"

#include <stdlib.h>
#include <strings.h>

int n8443_gssproxy_in_use(void)
{
    const char *v = getenv("GSS_USE_PROXY");

    return v != NULL
           && (strcasecmp(v, "1") == 0 || strcasecmp(v, "yes") == 0
               || strcasecmp(v, "true") == 0 || strcasecmp(v, "on") == 0);
}
