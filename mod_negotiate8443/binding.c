/*
 * binding.c - TLS channel binding (RFC 5929 tls-server-end-point) for the
 * Kerberos exchange: the binding is derived from the certificate the
 * server presented on this connection, once per connection, and handed to
 * gss_accept_sec_context.  A client that bound its login to another TLS
 * channel (a man in the middle with its own certificate) is refused.
 */
#include "n8443_private.h"

#include "mod_ssl.h"
#include "channel_binding.h"

#include "apr_file_io.h"
#include "apr_thread_mutex.h"
#include "util_cfgtree.h"

/* The per-connection buffer must hold any binding. */
typedef char n8443_cb_fits[sizeof(((n8443_conn *)0)->cb_data) >= N8443_CB_MAX
                           ? 1 : -1];

static APR_OPTIONAL_FN_TYPE(ssl_var_lookup) *var_lookup_fn;
static APR_OPTIONAL_FN_TYPE(ssl_is_https) *is_https_fn;

void n8443_binding_post_config(void)
{
    var_lookup_fn = APR_RETRIEVE_OPTIONAL_FN(ssl_var_lookup);
    is_https_fn = APR_RETRIEVE_OPTIONAL_FN(ssl_is_https);
}

int n8443_conn_is_tls(conn_rec *c)
{
    return is_https_fn != NULL && is_https_fn(c);
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
    char *pem;                  /* malloc'd, NULL: slot unused */
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
                                pchild) != APR_SUCCESS)
        cb_cache_lock = NULL;
    apr_pool_cleanup_register(pchild, NULL, cb_cache_cleanup,
                              apr_pool_cleanup_null);
}

static int cb_cache_find(const char *pem, size_t len, n8443_conn *b,
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
            memcpy(b->cb_data, e->data, e->len);
            b->cb_len = e->len;
            found = 1;
        }
    }
    apr_thread_mutex_unlock(cb_cache_lock);
    return found;
}

static void cb_cache_add(const char *pem, size_t len, const n8443_conn *b,
                         n8443_cert_hash_status st)
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
    memcpy(e->data, b->cb_data, b->cb_len);
    e->len = b->cb_len;
    apr_thread_mutex_unlock(cb_cache_lock);
}

/*
 * Fill *cb with this connection's bindings, or return 0 when there are
 * none to offer (plain HTTP, no mod_ssl, a certificate without a hash).
 */
int n8443_binding_for(request_rec *r, struct gss_channel_bindings_struct *cb)
{
    conn_rec *c = r->connection;
    n8443_conn *b = n8443_conn_get(c);
    const char *pem;

    if (b->cb_state == 0) {
        b->cb_state = -1;
        pem = var_lookup_fn ? var_lookup_fn(r->pool, r->server, c, r,
                                            "SSL_SERVER_CERT")
                            : NULL;
        if (pem != NULL && *pem != '\0') {
            size_t len = strlen(pem);
            n8443_cert_hash_status st;

            if (!cb_cache_find(pem, len, b, &st)) {
                b->cb_len = 0;
                st = n8443_cb_from_pem(pem, len, b->cb_data, &b->cb_len);
                if (st != N8443_CERT_HASH_OK)
                    b->cb_len = 0;
                cb_cache_add(pem, len, b, st);
            }
            if (st == N8443_CERT_HASH_OK)
                b->cb_state = 1;
            else
                ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, N8443LOGNO(090)
                              "no tls-server-end-point binding for this "
                              "certificate (%s)", st == N8443_CERT_HASH_NONE
                              ? "its signature has no hash" : "unreadable");
        }
    }
    if (b->cb_state != 1)
        return 0;
    memset(cb, 0, sizeof(*cb));
    cb->initiator_addrtype = GSS_C_AF_UNSPEC;
    cb->acceptor_addrtype = GSS_C_AF_UNSPEC;
    cb->application_data.value = b->cb_data;
    cb->application_data.length = b->cb_len;
    return 1;
}

/* Does the certificate file have a binding hash?  1 yes, 0 no, -1 could
 * not be read (mod_ssl reports that itself). */
static int cert_file_has_binding(apr_pool_t *p, const char *file)
{
    unsigned char out[N8443_CB_MAX];
    size_t outlen;
    apr_file_t *f;
    apr_finfo_t fi;
    char *buf;
    apr_size_t n;

    if (apr_file_open(&f, file, APR_FOPEN_READ, 0, p) != APR_SUCCESS)
        return -1;
    if (apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS
        || fi.size <= 0 || fi.size > 1024 * 1024) {
        apr_file_close(f);
        return -1;
    }
    n = (apr_size_t)fi.size;
    buf = apr_palloc(p, n + 1);
    if (apr_file_read_full(f, buf, n, &n) != APR_SUCCESS) {
        apr_file_close(f);
        return -1;
    }
    apr_file_close(f);
    buf[n] = '\0';
    switch (n8443_cb_from_pem(buf, n, out, &outlen)) {
    case N8443_CERT_HASH_OK:
        return 1;
    case N8443_CERT_HASH_NONE:
        return 0;
    default:
        return -1;
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

static int check_vhost_certs(apr_pool_t *ptemp, server_rec *s,
                             const ap_directive_t *vhost, int required)
{
    const ap_directive_t *d;

    if (!required && !requires_binding(vhost->first_child))
        return OK;
    for (d = vhost->first_child; d != NULL; d = d->next) {
        const char *file, *args;

        if (strcasecmp(d->directive, "SSLCertificateFile") != 0)
            continue;
        args = d->args;
        file = ap_server_root_relative(ptemp, ap_getword_conf(ptemp, &args));
        if (file != NULL && cert_file_has_binding(ptemp, file) == 0) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, N8443LOGNO(091)
                         "NegotiateChannelBinding require in <VirtualHost "
                         "%s> (%s:%d), but certificate %s is signed with an "
                         "algorithm without a hash (e.g. Ed25519), for "
                         "which RFC 5929 defines no tls-server-end-point "
                         "binding: use an RSA or ECDSA certificate, or "
                         "'optional'", vhost->args, d->filename,
                         d->line_num, file);
            return !OK;
        }
    }
    return OK;
}

/*
 * Start-up: a virtual host that requires channel binding must present a
 * certificate for which a binding exists.  Read from the configuration
 * tree, because mod_ssl's own records are private to it.
 */
int n8443_binding_check_config(apr_pool_t *ptemp, server_rec *s)
{
    const ap_directive_t *top;
    int global_require = 0;

    for (top = ap_conftree; top != NULL; top = top->next)
        if (strcasecmp(top->directive, "NegotiateChannelBinding") == 0
            && top->args && strcasecmp(top->args, "require") == 0)
            global_require = 1;
    for (top = ap_conftree; top != NULL; top = top->next) {
        if (strcasecmp(top->directive, "<VirtualHost") == 0
            && check_vhost_certs(ptemp, s, top, global_require) != OK)
            return !OK;
    }
    return OK;
}
