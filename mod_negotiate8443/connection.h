/*
 * connection.h - the connection record (connection.c): what the module
 * keeps per connection, and the rules about connections that are not the
 * client's own (proxies).  Included directly by the files that use it:
 *
 *   binding.c     the binding of the connection's certificate, found once
 *                 per connection (n8443_conn_binding_slot);
 *   exchange.c    NegotiateConnectionAuth (remember, resume, forget) and
 *                 NegotiateRequireTLS (n8443_request_is_https);
 *   challenge.c   NegotiateOptional: is there a connection login;
 *   session.c     cookies only where the request counts as HTTPS;
 *   config.c      NegotiateTrustedProxy;
 *   mod_negotiate8443.c  the post_read_request hook.
 */
#ifndef N8443_CONNECTION_H
#define N8443_CONNECTION_H

#include "n8443_private.h"

/* The tls-server-end-point binding of the certificate a connection
 * presented, as binding.c found it on the connection's first login. */
typedef struct {
    int state; /* 0 unknown, 1 have, -1 none possible */
    unsigned char data[128];
    size_t len;
} n8443_conn_binding;

/* c's binding slot (created with the record, zeroed). */
n8443_conn_binding *n8443_conn_binding_slot(conn_rec *c);

/* NULL, or why r looks like it came through a proxy. */
const char *n8443_request_via_proxy(request_rec *r);
/* Is the peer of r's connection in NegotiateTrustedProxy of r's vhost
 * (what NegotiateRequireTLS TrustedProxy believes)? */
int n8443_peer_is_trusted_proxy(request_rec *r);
/* Is the peer of c in any vhost's (or the main server's)
 * NegotiateTrustedProxy?  Then the connection keeps no login in any
 * vhost.  The union is built by n8443_trusted_proxies_collect at
 * post_config. */
int n8443_peer_is_any_trusted_proxy(conn_rec *c);
void n8443_trusted_proxies_collect(apr_pool_t *pconf, server_rec *s);
int n8443_any_trusted_proxy_listed(void);
const char *n8443_set_trusted_proxy(cmd_parms *cmd, void *dconf,
                                    const char *arg);
const char *n8443_set_require_tls(cmd_parms *cmd, void *dconf, const char *arg);

/*
 * Does r count as HTTPS: its connection runs over TLS, or, under
 * NegotiateRequireTLS TrustedProxy only, the connection's peer is in
 * NegotiateTrustedProxy and it says so in exactly one X-Forwarded-Proto:
 * https.  *via_proxy (when not NULL) is 1 for the latter.  Nobody
 * else's header is ever believed.
 */
int n8443_request_is_https(request_rec *r, const n8443_dir_conf *dc,
                           int *via_proxy);

/* NegotiateConnectionAuth: keep l on r's connection (not on a proxy's,
 * not over HTTP/2), until the ticket's end (lifetime seconds). */
void n8443_conn_remember(request_rec *r, const n8443_login *l,
                         apr_uint32_t lifetime);
void n8443_conn_forget(conn_rec *c);
/* post_read_request: a request that carries Authorization, wherever it
 * goes, ends its connection's login. */
int n8443_conn_end_on_authorization(request_rec *r);
/* Does c hold a connection login (whether it is good for a request is
 * n8443_conn_resume's to say)?  Makes no record where there is none. */
int n8443_conn_has_login(conn_rec *c);
/* The connection's login when it is good for r, else NULL. */
const n8443_login *n8443_conn_resume(request_rec *r, const n8443_dir_conf *dc,
                                     const n8443_server_conf *sc);

#endif /* N8443_CONNECTION_H */
