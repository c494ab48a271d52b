/*
 * gssproxy.h - is GSS-API routed through GSS-Proxy?  Then the keys are
 * gssproxy's, not httpd's: no keytab to watch, copy or check.  Asked by
 * the credentials (credentials.c), the start-up checks and the replay
 * cache's watermark (rcache.c).  Pure C, no httpd.
 */
#ifndef N8443_GSSPROXY_H
#define N8443_GSSPROXY_H

/* GSS_USE_PROXY set to a value the interposer takes for true ("1",
 * "yes", "true", "on", in any case): 1, else 0. */
int n8443_gssproxy_in_use(void);

#endif /* N8443_GSSPROXY_H */
