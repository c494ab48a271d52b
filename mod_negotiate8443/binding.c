/*
 * binding.c - TLS channel binding (RFC 5929 tls-server-end-point) for the
 * Kerberos exchange: the binding is derived from the certificate the
 * server presented on this connection, once per connection (kept in the
 * connection record, connection.h), and handed to the login.  A client
 * that bound its login to another TLS channel (a man in the middle with
 * its own certificate) is refused.
 *
 * Behind a balancer that terminates TLS the client binds to the
 * balancer's certificate: NegotiateChannelBindingCertificate names it,
 * and its binding, read at start-up, replaces the connection's for every
 * request of the virtual host (over TLS from the balancer or not).
 */
#include "connection.h"

#include "mod_ssl.h"
#include "channel_binding.h"

#include "apr_file_io.h"
#include "apr_thread_mutex.h"
#include "util_cfgtree.h"

/* The per-connection and per-server buffers must hold any binding. */
typedef char
    n8443_cb_fits[sizeof(((n8443_conn_binding *)0)->data) >= N8443_CB_MAX
                          && sizeof(((n8443_server_conf *)0)->cb_cert_data)
                                 >= N8443_CB_MAX
                      ? 1
                      : -1];

static APR_OPTIONAL_FN_TYPE(ssl_var_lookup) * var_lookup_fn;

void n8443_binding_post_config(void)
{
    var_lookup_fn = APR_RETRIEVE_OPTIONAL_FN(ssl_var_lookup);
}

/*
 * The bindings of the certificates this process has presented, keyed by
 * their PEM text (what mod_ssl gives us): parsing the certificate costs
 * about 15% of a TLS handshake, and a child presents the same few
 * certificates (one or two per virtual host) for its whole life.  A
 * renewed certificate has another PEM text, so it is simply a new entry;
 * the oldest entry makes room.
 */
#define CB_CACHE_SLOTS 16

typedef struct {
    char *pem; /* malloc'd, NULL: slot unused */
    size_t pem_len;
    n8443_cert_hash_status status;
    unsigned char data[N8443_CB_MAX];
    size_t len;
} cb_cache_entry;

static cb_cache_entry cb_cache[CB_CACHE_SLOTS];
static unsigned int cb_cache_next;
static apr_thread_mutex_t *cb_cache_lock;

static apr_status_t cb_cache_cleanup(void *unused)
{
    unsigned int i;

    for (i = 0; i < CB_CACHE_SLOTS; i++) {
        free(cb_cache[i].pem);
        cb_cache[i].pem = NULL;
    }
    cb_cache_lock = NULL;
    return APR_SUCCESS;
}

void n8443_binding_child_init(apr_pool_t *pchild)
{
    /* Without the lock every connection parses, as before. */
    if (apr_thread_mutex_create(&cb_cache_lock, APR_THREAD_MUTEX_DEFAULT,
                                pchild)
        != APR_SUCCESS)
        cb_cache_lock = NULL;
    apr_pool_cleanup_register(pchild, NULL, cb_cache_cleanup,
                              apr_pool_cleanup_null);
}

static int cb_cache_find(const char *pem, size_t len, n8443_conn_binding *b,
                         n8443_cert_hash_status *st)
{
    unsigned int i;
    int found = 0;

    if (cb_cache_lock == NULL
        || apr_thread_mutex_lock(cb_cache_lock) != APR_SUCCESS)
        return 0;
    for (i = 0; i < CB_CACHE_SLOTS && !found; i++) {
        const cb_cache_entry *e = &cb_cache[i];
        if (e->pem != NULL && e->pem_len == len
            && memcmp(e->pem, pem, len) == 0) {
            *st = e->status;
            memcpy(b->data, e->data, e->len);
            b->len = e->len;
            found = 1;
        }
    }
    apr_thread_mutex_unlock(cb_cache_lock);
    return found;
}

static void cb_cache_add(const char *pem, size_t len,
                         const n8443_conn_binding *b, n8443_cert_hash_status st)
{
    cb_cache_entry *e;
    char *copy;

    if (cb_cache_lock == NULL || (copy = malloc(len)) == NULL)
        return;
    memcpy(copy, pem, len);
    if (apr_thread_mutex_lock(cb_cache_lock) != APR_SUCCESS) {
        free(copy);
        return;
    }
    e = &cb_cache[cb_cache_next++ % CB_CACHE_SLOTS];
    free(e->pem);
    e->pem = copy;
    e->pem_len = len;
    e->status = st;
    memcpy(e->data, b->data, b->len);
    e->len = b->len;
    apr_thread_mutex_unlock(cb_cache_lock);
}

static void fill(struct gss_channel_bindings_struct *cb, unsigned char *data,
                 size_t len)
{
    memset(cb, 0, sizeof(*cb));
    cb->initiator_addrtype = GSS_C_AF_UNSPEC;
    cb->acceptor_addrtype = GSS_C_AF_UNSPEC;
    cb->application_data.value = data;
    cb->application_data.length = len;
}

/*
 * Fill *cb with this request's bindings, or return 0 when there are none
 * to offer (plain HTTP, no mod_ssl, a certificate without a hash).
 */
int n8443_binding_for(request_rec *r, struct gss_channel_bindings_struct *cb)
{
    n8443_server_conf *sc =
        ap_get_module_config(r->server->module_config, &negotiate8443_module);
    conn_rec *c = r->connection;
    n8443_conn_binding *b;
    const char *pem;

    if (sc->cb_cert_file != NULL) {
        if (sc->cb_cert_status != N8443_CERT_HASH_OK)
            return 0;
        fill(cb, sc->cb_cert_data, sc->cb_cert_len);
        return 1;
    }
    b = n8443_conn_binding_slot(c);
    if (b->state == 0) {
        b->state = -1;
        pem = var_lookup_fn
                  ? var_lookup_fn(r->pool, r->server, c, r, "SSL_SERVER_CERT")
                  : NULL;
        if (pem != NULL && *pem != '\0') {
            size_t len = strlen(pem);
            n8443_cert_hash_status st;

            if (!cb_cache_find(pem, len, b, &st)) {
                b->len = 0;
                st = n8443_cb_from_pem(pem, len, b->data, &b->len);
                if (st != N8443_CERT_HASH_OK)
                    b->len = 0;
                cb_cache_add(pem, len, b, st);
            }
            if (st == N8443_CERT_HASH_OK)
                b->state = 1;
            else
                ap_log_rerror(
                    APLOG_MARK, APLOG_DEBUG, 0, r,
                    N8443LOGNO(090) "no tls-server-end-point binding for this "
                    "certificate (%s)",
                    st == N8443_CERT_HASH_NONE ? "its signature has no hash"
                                               : "unreadable");
        }
    }
    if (b->state != 1)
        return 0;
    fill(cb, b->data, b->len);
    return 1;
}

const char *n8443_binding_source(request_rec *r)
{
    const n8443_server_conf *sc =
        ap_get_module_config(r->server->module_config, &negotiate8443_module);

    if (sc->cb_cert_file != NULL)
        return apr_pstrcat(r->pool, "NegotiateChannelBindingCertificate ",
                           sc->cb_cert_file, NULL);
    return "this server's own TLS certificate";
}

/* Read a certificate file (at most 1 MB) into the pool; NULL on error. */
static char *read_cert_file(apr_pool_t *p, const char *file, apr_size_t *len)
{
    apr_file_t *f;
    apr_finfo_t fi;
    char *buf;
    apr_size_t n;

    if (apr_file_open(&f, file, APR_FOPEN_READ, 0, p) != APR_SUCCESS)
        return NULL;
    if (apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS || fi.size <= 0
        || fi.size > 1024 * 1024) {
        apr_file_close(f);
        return NULL;
    }
    n = (apr_size_t)fi.size;
    buf = apr_palloc(p, n + 1);
    if (apr_file_read_full(f, buf, n, &n) != APR_SUCCESS) {
        apr_file_close(f);
        return NULL;
    }
    apr_file_close(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/*
 * NegotiateChannelBindingCertificate FILE: read now (as root, when httpd
 * reads its configuration), so that httpd -t names a file that is not
 * there or not a certificate.  A certificate whose signature has no hash
 * (Ed25519) has no binding: an error only under
 * NegotiateChannelBinding require (n8443_binding_check_config).
 */
const char *n8443_set_binding_certificate(cmd_parms *cmd, void *dconf,
                                          const char *arg)
{
    n8443_server_conf *sc =
        ap_get_module_config(cmd->server->module_config, &negotiate8443_module);
    const char *file = ap_server_root_relative(cmd->pool, arg);
    apr_size_t len;
    char *pem;

    if (file == NULL
        || (pem = read_cert_file(cmd->temp_pool, file, &len)) == NULL)
        return apr_psprintf(cmd->pool,
                            "%s: cannot read '%s' (a PEM "
                            "certificate of at most 1 MB)",
                            cmd->cmd->name, arg);
    sc->cb_cert_len = 0;
    sc->cb_cert_status =
        n8443_cb_from_pem(pem, len, sc->cb_cert_data, &sc->cb_cert_len);
    if (sc->cb_cert_status == N8443_CERT_HASH_BAD_CERT)
        return apr_psprintf(cmd->pool, "%s: '%s' is not a PEM certificate",
                            cmd->cmd->name, file);
    sc->cb_cert_file = file;
    return NULL;
}

/* Does the certificate file have a binding hash?  1 yes, 0 no, -1 could
 * not be read (mod_ssl reports that itself). */
static int cert_file_has_binding(apr_pool_t *p, const char *file)
{
    unsigned char out[N8443_CB_MAX];
    size_t outlen;
    apr_size_t n;
    char *buf = read_cert_file(p, file, &n);

    if (buf == NULL)
        return -1;
    switch (n8443_cb_from_pem(buf, n, out, &outlen)) {
    case N8443_CERT_HASH_OK: return 1;
    case N8443_CERT_HASH_NONE: return 0;
    default: return -1;
    }
}

/* Is "NegotiateChannelBinding require" set anywhere below node? */
static int requires_binding(const ap_directive_t *node)
{
    for (; node != NULL; node = node->next) {
        if (strcasecmp(node->directive, "NegotiateChannelBinding") == 0
            && node->args && strcasecmp(node->args, "require") == 0)
            return 1;
        if (node->first_child && requires_binding(node->first_child))
            return 1;
    }
    return 0;
}

/* The binding certificate that d (a NegotiateChannelBindingCertificate
 * or SSLCertificateFile line) names has no hash: say so, !OK. */
static int refuse_cert(apr_pool_t *ptemp, server_rec *s, const char *where,
                       const ap_directive_t *d)
{
    const char *args = d->args;
    const char *file =
        ap_server_root_relative(ptemp, ap_getword_conf(ptemp, &args));

    if (file == NULL || cert_file_has_binding(ptemp, file) != 0)
        return OK;
    ap_log_error(
        APLOG_MARK, APLOG_EMERG, 0, s,
        N8443LOGNO(091) "NegotiateChannelBinding require in %s (%s:%d), but "
        "certificate %s is signed with an algorithm without a "
        "hash (e.g. Ed25519), for which RFC 5929 defines no "
        "tls-server-end-point binding: use an RSA or ECDSA "
        "certificate, or 'optional'",
        where, d->filename, d->line_num, file);
    return !OK;
}

static const ap_directive_t *find(const ap_directive_t *d, const char *name)
{
    for (; d != NULL; d = d->next)
        if (strcasecmp(d->directive, name) == 0)
            return d;
    return NULL;
}

/* The certificate the vhost's clients bind to: its
 * NegotiateChannelBindingCertificate, the global one, or its own
 * SSLCertificateFile lines (each of them: RSA and ECDSA may be paired). */
static int check_vhost_certs(apr_pool_t *ptemp, server_rec *s,
                             const ap_directive_t *vhost, int required,
                             const ap_directive_t *global_cert)
{
    const ap_directive_t *d;
    const char *where;

    if (!required && !requires_binding(vhost->first_child))
        return OK;
    where = apr_pstrcat(ptemp, "<VirtualHost ", vhost->args, ">", NULL);
    d = find(vhost->first_child, "NegotiateChannelBindingCertificate");
    if (d != NULL || (d = global_cert) != NULL)
        return refuse_cert(ptemp, s, where, d);
    for (d = vhost->first_child; d != NULL; d = d->next) {
        if (strcasecmp(d->directive, "SSLCertificateFile") == 0
            && refuse_cert(ptemp, s, where, d) != OK)
            return !OK;
    }
    return OK;
}

/*
 * Start-up: a virtual host that requires channel binding must have a
 * certificate for which a binding exists.  Read from the configuration
 * tree, because mod_ssl's own records are private to it.
 */
int n8443_binding_check_config(apr_pool_t *ptemp, server_rec *s)
{
    const ap_directive_t *top, *global_cert;
    const n8443_server_conf *main_sc =
        ap_get_module_config(s->module_config, &negotiate8443_module);
    server_rec *vs;
    int global_require = 0, main_require = 0;

    for (vs = s; vs != NULL; vs = vs->next) {
        const n8443_server_conf *sc =
            ap_get_module_config(vs->module_config, &negotiate8443_module);

        /* Not in the first of httpd's two configuration passes. */
        if (sc->cb_cert_file != NULL && sc->cb_cert_status != N8443_CERT_HASH_OK
            && (vs == s || sc->cb_cert_file != main_sc->cb_cert_file)
            && ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG)
            ap_log_error(
                APLOG_MARK, APLOG_WARNING, 0, vs,
                N8443LOGNO(362) "NegotiateChannelBindingCertificate %s: its "
                "signature has no hash (e.g. Ed25519), so RFC 5929 "
                "defines no binding for it: logins here are not "
                "bound to the channel",
                sc->cb_cert_file);
    }
    for (top = ap_conftree; top != NULL; top = top->next)
        if (strcasecmp(top->directive, "NegotiateChannelBinding") == 0
            && top->args && strcasecmp(top->args, "require") == 0)
            global_require = 1;
    global_cert = find(ap_conftree, "NegotiateChannelBindingCertificate");
    for (top = ap_conftree; top != NULL && !main_require; top = top->next)
        main_require = strcasecmp(top->directive, "<VirtualHost") != 0
                       && top->first_child != NULL
                       && requires_binding(top->first_child);
    if (global_cert != NULL && (global_require || main_require)
        && refuse_cert(ptemp, s, "the main server", global_cert) != OK)
        return !OK;
    for (top = ap_conftree; top != NULL; top = top->next) {
        if (strcasecmp(top->directive, "<VirtualHost") == 0
            && check_vhost_certs(ptemp, s, top, global_require, global_cert)
                   != OK)
            return !OK;
    }
    return OK;
}
