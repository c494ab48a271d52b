/*
 * connection.c - where a login is good beyond the request that made it:
 *
 *   the request's own record of its login (request_config), which an
 *   internal redirect or a sub-request of it may reuse;
 *   NegotiateConnectionAuth, the login kept on its TLS connection;
 *   NegotiateTrustedProxy and the forwarding headers that tell that a
 *   connection is a proxy's, on which no login is kept.
 *
 * The rule for both kinds of reuse: a login is only good where the same
 * vhost, the same credential set (keytab and acceptor principal), a
 * mechanism the location offers and a channel binding at least as strong
 * as the location asks for apply; a login made without a token on its
 * request (the connection's, a session cookie's, a password) only where
 * the location offers that kind of login too.  Everything else asks for
 * a new token.
 *
 * A connection from a proxy is shared by the proxy's clients (HAProxy's
 * http-reuse, mod_proxy's pool), so a login on it would let the next
 * client in as the last one: a request that shows it came through a proxy
 * never resumes a connection login and none is kept from it.  The peer
 * address is tested against every vhost's NegotiateTrustedProxy list
 * together (n8443_peer_is_any_trusted_proxy), since the proxy's connection
 * serves every name-based vhost of its address and port; what a listed
 * proxy's X-Forwarded-Proto is believed for stays per vhost
 * (n8443_peer_is_trusted_proxy).
 */
#include "connection.h"

#include "mod_ssl.h"

#include "apr_network_io.h"

static APR_OPTIONAL_FN_TYPE(ssl_is_https) * is_https_fn;

void n8443_conn_post_config(void)
{
    is_https_fn = APR_RETRIEVE_OPTIONAL_FN(ssl_is_https);
}

int n8443_conn_is_tls(conn_rec *c)
{
    return is_https_fn != NULL && is_https_fn(c);
}

/* ------------------------------------------------------ connection state */

/* What the module keeps per connection (conn_config slot): the channel
 * binding of its TLS certificate, and under NegotiateConnectionAuth the
 * login made on it. */
typedef struct {
    n8443_conn_binding binding;
    const n8443_login *login; /* NULL, or &kept while a login holds */
    n8443_login kept;
    char *name; /* kept.principal, reused */
    apr_size_t name_size;
    int proxied; /* a proxy's: never keeps a login */
} n8443_conn;

static n8443_conn *n8443_conn_get(conn_rec *c)
{
    n8443_conn *nc =
        ap_get_module_config(c->conn_config, &negotiate8443_module);

    if (nc == NULL) {
        nc = apr_pcalloc(c->pool, sizeof(*nc));
        ap_set_module_config(c->conn_config, &negotiate8443_module, nc);
    }
    return nc;
}

n8443_conn_binding *n8443_conn_binding_slot(conn_rec *c)
{
    return &n8443_conn_get(c)->binding;
}

/* ------------------------------------------------------ the login record */

static int same_str(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

void n8443_login_note(request_rec *r, const n8443_dir_conf *dc,
                      const n8443_server_conf *sc, const char *principal,
                      const char *mech, int bound, n8443_login_via via)
{
    n8443_login *l = apr_pcalloc(r->pool, sizeof(*l));

    l->principal = apr_pstrdup(r->pool, principal);
    l->mech = mech;
    l->via = via;
    l->bound = bound;
    l->server = r->server;
    /* The configured values: within one vhost they resolve to the same
     * credentials (n8443_cred_key_for) exactly when equal.  Not copied:
     * the record lives no longer than the request and its configuration
     * (also one from .htaccess); n8443_conn_remember copies. */
    l->keytab = dc->keytab;
    l->acceptor = dc->service_principal;
    ap_set_module_config(r->request_config, &negotiate8443_module, l);
}

const n8443_login *n8443_login_of(const request_rec *r)
{
    return ap_get_module_config(r->request_config, &negotiate8443_module);
}

const char *n8443_login_misfit(request_rec *r, const n8443_dir_conf *dc,
                               const n8443_server_conf *sc,
                               const n8443_login *l)
{
    if (l->server != r->server)
        return "it was made in another virtual host";
    if (!same_str(l->keytab, dc->keytab))
        return "it was made with another keytab";
    if (!same_str(l->acceptor, dc->service_principal))
        return "it was made for another NegotiateServicePrincipal";
    /* A login that came without a token: only where a request without
     * one would have got in the same way. */
    switch (l->via) {
    case N8443_VIA_TOKEN:
    case N8443_VIA_BASIC: /* by its mechanism, below */ break;
    case N8443_VIA_CONNECTION:
        if (!dc->connection_auth)
            return "it was a connection login and this location does not "
                   "have NegotiateConnectionAuth On";
        break;
    case N8443_VIA_SESSION:
        if (!dc->session || !sc->session_key_set)
            return "it came from a session cookie and this location does "
                   "not have NegotiateSession On";
        break;
    default: return "it was made in a way this location does not know";
    }
    /* Anonymous tickets (RFC 8062) only where the location takes them,
     * however the login is kept: as NegotiateAllowAnonymous Off refuses
     * the token itself, it refuses its session, connection and earlier
     * request. */
    if (!dc->allow_anonymous && n8443_login_is_anonymous(l->principal, 0))
        return "it was an anonymous login and this location has "
               "NegotiateAllowAnonymous Off";
    if (strcmp(l->mech, "basic") == 0 && !dc->basic_fallback)
        return "it was a Basic login and this location offers Negotiate "
               "only";
    if (dc->channel_binding == N8443_CB_REQUIRE && !l->bound)
        return "it was not bound to the TLS channel and this location "
               "has NegotiateChannelBinding require";
    return NULL;
}

/* --------------------------------------------------------------- proxies */

/* Headers that proxies add (or that say a proxy was asked to add them). */
static const char *const proxy_headers[] = {"Forwarded",
                                            "X-Forwarded-For",
                                            "X-Forwarded-Host",
                                            "X-Forwarded-Proto",
                                            "X-Forwarded-Server",
                                            "X-Forwarded-Port",
                                            "X-Real-IP",
                                            "Via",
                                            NULL};

const char *n8443_request_via_proxy(request_rec *r)
{
    conn_rec *c = r->connection;
    int i;

    for (i = 0; proxy_headers[i] != NULL; i++) {
        if (apr_table_get(r->headers_in, proxy_headers[i]) != NULL)
            return apr_pstrcat(r->pool, "a ", proxy_headers[i], " header",
                               NULL);
    }
    /* mod_remoteip took the client's address from a header (and may have
     * removed the header). */
    if (r->useragent_ip != NULL && c->client_ip != NULL
        && strcmp(r->useragent_ip, c->client_ip) != 0)
        return "a client address taken from a header (mod_remoteip)";
    if (n8443_peer_is_any_trusted_proxy(c))
        return "an address listed in NegotiateTrustedProxy (in this or "
               "another vhost)";
    return NULL;
}

/*
 * Every NegotiateTrustedProxy list of the configuration (the main
 * server's and each vhost's), built at post_config in pconf.  One backend
 * connection carries requests for every name-based vhost on its address
 * and port, so "this connection is a proxy's" cannot be decided by the
 * list of the vhost a request lands on: a vhost that does not repeat the
 * list would keep a login on the proxy's connection for its next user.
 */
static apr_array_header_t *all_trusted_proxies;

void n8443_trusted_proxies_collect(apr_pool_t *pconf, server_rec *s)
{
    all_trusted_proxies = apr_array_make(pconf, 4, sizeof(apr_ipsubnet_t *));
    for (; s != NULL; s = s->next) {
        const n8443_server_conf *sc =
            ap_get_module_config(s->module_config, &negotiate8443_module);

        if (sc->trusted_proxies != NULL)
            apr_array_cat(all_trusted_proxies, sc->trusted_proxies);
    }
}

int n8443_any_trusted_proxy_listed(void)
{
    return all_trusted_proxies != NULL && all_trusted_proxies->nelts > 0;
}

int n8443_peer_is_any_trusted_proxy(conn_rec *c)
{
    apr_ipsubnet_t **nets;
    int i;

    if (all_trusted_proxies == NULL || c->client_addr == NULL)
        return 0;
    nets = (apr_ipsubnet_t **)all_trusted_proxies->elts;
    for (i = 0; i < all_trusted_proxies->nelts; i++) {
        if (apr_ipsubnet_test(nets[i], c->client_addr))
            return 1;
    }
    return 0;
}

int n8443_peer_is_trusted_proxy(request_rec *r)
{
    const n8443_server_conf *sc =
        ap_get_module_config(r->server->module_config, &negotiate8443_module);
    conn_rec *c = r->connection;
    apr_ipsubnet_t **nets;
    int i;

    /* The connection's own peer (never an address from a header). */
    if (sc->trusted_proxies == NULL || c->client_addr == NULL)
        return 0;
    nets = (apr_ipsubnet_t **)sc->trusted_proxies->elts;
    for (i = 0; i < sc->trusted_proxies->nelts; i++) {
        if (apr_ipsubnet_test(nets[i], c->client_addr))
            return 1;
    }
    return 0;
}

/* The X-Forwarded-Proto fields: how many, and the last value. */
typedef struct {
    int count;
    const char *value;
} proto_fields;

static int proto_field(void *rec, const char *key, const char *value)
{
    proto_fields *f = rec;

    f->count++;
    f->value = value;
    return 1;
}

int n8443_request_is_https(request_rec *r, const n8443_dir_conf *dc,
                           int *via_proxy)
{
    proto_fields seen = {0, NULL};

    if (via_proxy != NULL)
        *via_proxy = 0;
    if (n8443_conn_is_tls(r->connection))
        return 1;
    if (dc->require_tls != N8443_TLS_TRUSTED_PROXY
        || !n8443_peer_is_trusted_proxy(r))
        return 0;
    /* One field, one value: a list ("https, http") or a repeated field
     * says that more than one hop wrote it, and only the last one is
     * the trusted proxy's. */
    apr_table_do(proto_field, &seen, r->headers_in, "X-Forwarded-Proto", NULL);
    if (seen.count != 1 || strcasecmp(seen.value, "https") != 0)
        return 0;
    if (via_proxy != NULL)
        *via_proxy = 1;
    return 1;
}

/* NegotiateRequireTLS On | Off | TrustedProxy (n8443_request_is_https). */
const char *n8443_set_require_tls(cmd_parms *cmd, void *dconf, const char *arg)
{
    n8443_dir_conf *conf = dconf;

    if (strcasecmp(arg, "On") == 0)
        conf->require_tls = N8443_TLS_ON;
    else if (strcasecmp(arg, "Off") == 0)
        conf->require_tls = N8443_TLS_OFF;
    else if (strcasecmp(arg, "TrustedProxy") == 0)
        conf->require_tls = N8443_TLS_TRUSTED_PROXY;
    else
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not On, Off or "
                            "TrustedProxy",
                            cmd->cmd->name, arg);
    conf->require_tls_set = 1;
    return NULL;
}

/* NegotiateTrustedProxy ADDR[/BITS]...: connections from these addresses
 * are a proxy's. */
const char *n8443_set_trusted_proxy(cmd_parms *cmd, void *dconf,
                                    const char *arg)
{
    n8443_server_conf *conf =
        ap_get_module_config(cmd->server->module_config, &negotiate8443_module);
    char *ip = apr_pstrdup(cmd->pool, arg);
    char *mask = ap_strchr(ip, '/');
    apr_ipsubnet_t *net;

    if (mask != NULL)
        *mask++ = '\0';
    /* Host names are refused: the address is what the connection has. */
    if (apr_ipsubnet_create(&net, ip, mask, cmd->pool) != APR_SUCCESS)
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not an IP address or "
                            "ADDRESS/BITS network (no host names)",
                            cmd->cmd->name, arg);
    if (conf->trusted_proxies == NULL)
        conf->trusted_proxies =
            apr_array_make(cmd->pool, 2, sizeof(apr_ipsubnet_t *));
    APR_ARRAY_PUSH(conf->trusted_proxies, apr_ipsubnet_t *) = net;
    return NULL;
}

/* ---------------------------------------------------- connection logins */

/*
 * HTTP/2 runs each request on a connection of its own (c->master is the
 * client's): there is no connection to keep a login on.  The client's
 * connection is not touched from here: its pool belongs to another
 * thread.  Logged where a login is not kept (each login, not each
 * request).
 */
static int is_http2_stream(request_rec *r, int log)
{
    if (r->connection->master == NULL)
        return 0;
    if (log)
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            N8443LOGNO(221) "NegotiateConnectionAuth does nothing over HTTP/2: "
            "the login of this request is not kept, each request "
            "needs its own token (or a session cookie)");
    return 1;
}

/* A connection found to be a proxy's keeps no login from then on. */
static int proxied(request_rec *r, n8443_conn *nc)
{
    const char *why;

    if (nc->proxied)
        return 1;
    why = n8443_request_via_proxy(r);
    if (why == NULL)
        return 0;
    nc->proxied = 1;
    nc->login = NULL;
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  N8443LOGNO(220) "NegotiateConnectionAuth: this connection "
                  "comes through a "
                  "proxy (%s), which may carry other users' requests on it: "
                  "no login is kept or resumed on it, every request needs "
                  "its own token",
                  why);
    return 1;
}

void n8443_conn_remember(request_rec *r, const n8443_login *l,
                         apr_uint32_t lifetime)
{
    conn_rec *c = r->connection;
    n8443_conn *nc;
    n8443_login *kept;
    apr_size_t len;

    if (is_http2_stream(r, 1))
        return;
    nc = n8443_conn_get(c);
    if (proxied(r, nc))
        return;
    /* One record per connection, its name buffer grown only when a
     * longer name comes: a long keep-alive connection of many logins
     * does not grow its pool with each. */
    kept = &nc->kept;
    len = strlen(l->principal) + 1;
    if (len > nc->name_size) {
        nc->name = apr_palloc(c->pool, len);
        nc->name_size = len;
    }
    memcpy(nc->name, l->principal, len);
    /* The credential set may come from .htaccess, which lives in the
     * request's pool: copied, unless the one kept before (also after it
     * was forgotten) is the same already. */
    if (kept->server == NULL || !same_str(kept->keytab, l->keytab))
        kept->keytab = l->keytab ? apr_pstrdup(c->pool, l->keytab) : NULL;
    if (kept->server == NULL || !same_str(kept->acceptor, l->acceptor))
        kept->acceptor = l->acceptor ? apr_pstrdup(c->pool, l->acceptor) : NULL;
    kept->principal = nc->name;
    kept->mech = l->mech; /* a literal */
    kept->via = N8443_VIA_CONNECTION;
    kept->bound = l->bound;
    kept->server = l->server;
    /* Never beyond the ticket's end. */
    kept->expires = lifetime == GSS_C_INDEFINITE
                        ? 0
                        : apr_time_now() + apr_time_from_sec(lifetime);
    nc->login = kept;
}

int n8443_conn_has_login(conn_rec *c)
{
    const n8443_conn *nc =
        ap_get_module_config(c->conn_config, &negotiate8443_module);

    return nc != NULL && nc->login != NULL;
}

void n8443_conn_forget(conn_rec *c)
{
    n8443_conn *nc =
        ap_get_module_config(c->conn_config, &negotiate8443_module);

    if (nc != NULL)
        nc->login = NULL;
}

/*
 * Any Authorization ends the connection's login, also at a location the
 * module does not guard (a public page, AuthType Basic): whoever sends
 * credentials on a connection is not taken for the one who logged in on
 * it before.  Only for requests read from the connection: an internal
 * redirect runs this hook again with the same headers, and must not end
 * the login its own request has just made.  A table lookup per request.
 */
int n8443_conn_end_on_authorization(request_rec *r)
{
    n8443_conn *nc;

    if (r->prev != NULL || r->main != NULL || r->connection->master != NULL
        || apr_table_get(r->headers_in, "Authorization") == NULL)
        return DECLINED;
    nc =
        ap_get_module_config(r->connection->conn_config, &negotiate8443_module);
    if (nc == NULL || nc->login == NULL)
        return DECLINED;
    ap_log_rerror(
        APLOG_MARK, APLOG_INFO, 0, r,
        N8443LOGNO(226) "connection login of %s ended: this request carries an "
        "Authorization header",
        nc->login->principal);
    nc->login = NULL;
    return DECLINED;
}

const n8443_login *n8443_conn_resume(request_rec *r, const n8443_dir_conf *dc,
                                     const n8443_server_conf *sc)
{
    n8443_conn *nc;
    const n8443_login *l;
    const char *misfit;

    if (is_http2_stream(r, 0))
        return NULL;
    nc = n8443_conn_get(r->connection);
    /* Nothing to refuse (and so nothing to log) without a login. */
    if (nc->login == NULL || proxied(r, nc))
        return NULL;
    l = nc->login;
    if (l->expires != 0 && apr_time_now() >= l->expires) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            N8443LOGNO(222) "connection login of %s ended with its ticket: "
            "asking for a new token",
            l->principal);
        nc->login = NULL;
        return NULL;
    }
    misfit = n8443_login_misfit(r, dc, sc, l);
    if (misfit != NULL) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            N8443LOGNO(223) "connection login of %s not used here: %s; asking "
            "for a new token",
            l->principal, misfit);
        return NULL;
    }
    return l;
}
