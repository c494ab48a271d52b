/*
 * credentials.c - acceptor credentials: acquired once per process for each
 * (keytab, principal) a configuration names, shared by the process'
 * threads, and replaced when the keytab changes on disk, so that a key
 * rotation is picked up without a restart.
 *
 * A replaced set is not released while a request still uses it: each set
 * carries a reference count, guarded by the one process-wide mutex that
 * also guards the table of sets.  The mutex is held for a hash lookup and
 * a stat() comparison; acquiring new credentials (keytab I/O) happens only
 * when the keytab changed.
 */
#include "n8443_private.h"

#include "file_sig.h"
#include "keytab_name.h"

#include <krb5/krb5.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

struct n8443_creds {
    gss_cred_id_t cred;
    unsigned int refs; /* requests using it, + 1 while current */
    /* The fast path's keys (core/krb5_accept.c): a MEMORY copy of the
     * keytab, made when the set is acquired, so that a login reads no file.
     * kt is held open for the set's lifetime because MIT frees a MEMORY
     * keytab with its last handle.  kt_ctx is NULL when the keytab could
     * not be copied (GSS-Proxy holds it, or another keytab type): then
     * every login goes through GSS-API. */
    krb5_context kt_ctx;
    krb5_keytab kt;
    char kt_name[64];
    krb5_principal server; /* NULL: any key, as for the GSS credentials */
};

/* krb5 contexts for the fast path, one per thread at a time: a context
 * must not be used by two threads at once, and making one per login is
 * the very cost the fast path avoids.  A lock of their own, because
 * slots_lock is held while a changed keytab is read. */
typedef struct spare_context {
    krb5_context ctx;
    struct spare_context *next;
} spare_context;

static spare_context *spare_contexts;
static apr_thread_mutex_t *spare_lock;

/* A credential set and what its keytab file looked like when it was
 * acquired (core/file_sig.h; not exists: no file, or not a file type). */
typedef struct {
    n8443_creds *current;
    n8443_file_sig stamp;
} cred_slot;

static apr_thread_mutex_t *slots_lock;
static apr_hash_t *slots;
static apr_pool_t *slots_pool;

/* The keytab Kerberos uses when none is configured (KRB5_KTNAME, else
 * krb5.conf's default_keytab_name, else its built-in default), found once
 * per child so that it can be watched for changes like a configured one. */
static const char *default_keytab;

void n8443_cred_key_for(request_rec *r, const n8443_dir_conf *dc,
                        const n8443_server_conf *sc, n8443_cred_key *key)
{
    key->keytab = dc->keytab;
    key->rcache = n8443_rc_krb5_store_name(&sc->rc);
    /* One MEMORY ccache per process holds the service's own TGT for
     * S4U2Proxy; MIT gets it from the KDC with the keytab during the
     * accept that produces the proxy credential. */
    key->s4u_ccache =
        dc->constrained_delegation ? "MEMORY:negotiate8443-s4u" : NULL;
    key->principal = dc->service_principal;
    if (key->principal != NULL && strcmp(key->principal, "{HOSTNAME}") == 0)
        key->principal =
            apr_pstrcat(r->pool, "HTTP/", r->server->server_hostname, NULL);
}

/* The file behind a keytab name (NULL: the default one), or NULL for
 * non-file keytab types (core/keytab_name.c: krb5_kt_resolve's rule). */
const char *n8443_keytab_file(const char *keytab)
{
    if (keytab == NULL) {
        keytab = getenv("KRB5_KTNAME");
        if (keytab == NULL)
            keytab = default_keytab;
        if (keytab == NULL)
            return NULL; /* not known: not watched */
    }
    return n8443_keytab_name_file(keytab); /* krb5's rule */
}

/* Forget the fast path's copy of the keytab (the last handle frees it). */
static void drop_copy(n8443_creds *c)
{
    if (c->kt_ctx == NULL)
        return;
    if (c->server != NULL)
        krb5_free_principal(c->kt_ctx, c->server);
    if (c->kt != NULL)
        krb5_kt_close(c->kt_ctx, c->kt);
    krb5_free_context(c->kt_ctx);
    c->kt_ctx = NULL;
    c->kt = NULL;
    c->server = NULL;
    c->kt_name[0] = '\0';
}

static void creds_free(n8443_creds *c)
{
    OM_uint32 min;

    if (c->cred != GSS_C_NO_CREDENTIAL)
        gss_release_cred(&min, &c->cred);
    drop_copy(c);
    free(c);
}

/* Drop one reference; the last one releases the credentials.
 * Called with slots_lock held. */
static void creds_unref_locked(n8443_creds *c)
{
    if (--c->refs == 0)
        creds_free(c);
}

/*
 * Copy the keytab into a MEMORY keytab of this process, for the fast
 * path.  1: copied; 0: not copied (GSS-Proxy holds the keys, the keytab is
 * not a watched file, or it cannot be opened: GSS-API then does every
 * login and reports the error); -1: reading it failed part of the way (a
 * file being rewritten): no new keys should be taken from it now.
 */
static int copy_keytab(n8443_creds *c, const n8443_cred_key *key)
{
    static unsigned int serial;
    krb5_context ctx = NULL;
    krb5_keytab src = NULL, dst = NULL;
    krb5_kt_cursor cursor;
    krb5_keytab_entry entry;
    krb5_error_code code;
    int copied = 0, ok = 0;

    /* Only a keytab whose file is watched (get_set) may be copied:
     * a copy of anything else would never see a new key. */
    if (n8443_gssproxy_in_use() || n8443_keytab_file(key->keytab) == NULL)
        return 0;
    if (krb5_init_context(&ctx) != 0)
        return 0;
    if ((key->keytab ? krb5_kt_resolve(ctx, key->keytab, &src)
                     : krb5_kt_default(ctx, &src))
        != 0)
        goto cleanup;
    apr_snprintf(c->kt_name, sizeof(c->kt_name),
                 "MEMORY:negotiate8443-%" APR_PID_T_FMT "-%u", getpid(),
                 ++serial);
    if (krb5_kt_resolve(ctx, c->kt_name, &dst) != 0)
        goto cleanup;
    if (krb5_kt_start_seq_get(ctx, src, &cursor) != 0)
        goto cleanup;
    ok = 1;
    while ((code = krb5_kt_next_entry(ctx, src, &entry, &cursor)) == 0) {
        if (krb5_kt_add_entry(ctx, dst, &entry) != 0)
            ok = 0;
        else
            copied++;
        krb5_free_keytab_entry_contents(ctx, &entry);
    }
    /* Anything but the end (a file cut short while it is rewritten) is a
     * partial copy: not used, so the previous keys stay in force. */
    if (code != KRB5_KT_END)
        ok = -1;
    krb5_kt_end_seq_get(ctx, src, &cursor);
    if (ok == 1 && key->principal != NULL
        && krb5_parse_name(ctx, key->principal, &c->server) != 0)
        ok = 0;

cleanup:
    if (src != NULL)
        krb5_kt_close(ctx, src);
    if (ok == 1 && copied > 0) {
        c->kt_ctx = ctx;
        c->kt = dst;
        return 1;
    }
    if (c->server != NULL)
        krb5_free_principal(ctx, c->server);
    c->server = NULL;
    if (dst != NULL)
        krb5_kt_close(ctx, dst); /* the last handle: frees the copy */
    c->kt_name[0] = '\0';
    krb5_free_context(ctx);
    return ok < 0 ? -1 : 0;
}

static apr_status_t creds_cleanup(void *data)
{
    apr_hash_index_t *hi;
    spare_context *sc;

    for (hi = apr_hash_first(NULL, slots); hi; hi = apr_hash_next(hi)) {
        cred_slot *slot = apr_hash_this_val(hi);
        if (slot->current != NULL)
            creds_unref_locked(slot->current);
        slot->current = NULL;
    }
    while ((sc = spare_contexts) != NULL) {
        spare_contexts = sc->next;
        krb5_free_context(sc->ctx);
        free(sc);
    }
    return APR_SUCCESS;
}

apr_status_t n8443_creds_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    krb5_context ctx;
    char name[1024];

    rv = apr_thread_mutex_create(&slots_lock, APR_THREAD_MUTEX_DEFAULT, pchild);
    if (rv == APR_SUCCESS)
        rv = apr_thread_mutex_create(&spare_lock, APR_THREAD_MUTEX_DEFAULT,
                                     pchild);
    if (rv != APR_SUCCESS)
        return rv;
    if (krb5_init_context(&ctx) == 0) {
        if (krb5_kt_default_name(ctx, name, sizeof(name)) == 0)
            default_keytab = apr_pstrdup(pchild, name);
        krb5_free_context(ctx);
    }
    slots_pool = pchild;
    slots = apr_hash_make(pchild);
    apr_pool_cleanup_register(pchild, NULL, creds_cleanup,
                              apr_pool_cleanup_null);
    return APR_SUCCESS;
}

/*
 * A new set for key: the keytab copied for the fast path, and GSS
 * credentials over the same copy (so the GSS-API path reads no file per
 * login either, and both paths see the same keys).  Where the copy cannot
 * be used, GSS-API gets the keytab as configured, which also makes its
 * error message name the file.  NULL (and err written) on failure.
 */
static n8443_creds *acquire_set(const n8443_cred_key *key, char *err,
                                size_t errlen)
{
    n8443_acceptor_opts opts = {key->keytab, key->principal, key->rcache,
                                key->s4u_ccache};
    n8443_creds *c = calloc(1, sizeof(*c));
    int ret = -1;

    if (c == NULL) {
        apr_cpystrn(err, "out of memory", errlen);
        return NULL;
    }
    if (copy_keytab(c, key) < 0) {
        snprintf(err, errlen,
                 "keytab %s could not be read to its end "
                 "(being rewritten?)",
                 n8443_keytab_file(key->keytab));
        creds_free(c);
        return NULL;
    }
    if (c->kt_ctx != NULL) {
        opts.keytab = c->kt_name;
        ret = n8443_acceptor_acquire(&opts, &c->cred, err, errlen);
        opts.keytab = key->keytab;
    }
    if (ret != 0) {
        /* Both paths must use the same keys: without the copy, GSS-API
         * alone, from the keytab as configured. */
        drop_copy(c);
        ret = n8443_acceptor_acquire(&opts, &c->cred, err, errlen);
    }
    if (ret != 0) {
        c->cred = GSS_C_NO_CREDENTIAL;
        creds_free(c);
        return NULL;
    }
    c->refs = 1;
    return c;
}

/* A context (with its list node, kept so that a login allocates none). */
static spare_context *take_context(void)
{
    spare_context *sc = NULL;

    if (apr_thread_mutex_lock(spare_lock) == APR_SUCCESS) {
        sc = spare_contexts;
        if (sc != NULL)
            spare_contexts = sc->next;
        apr_thread_mutex_unlock(spare_lock);
    }
    if (sc != NULL)
        return sc;
    sc = malloc(sizeof(*sc));
    if (sc != NULL && krb5_init_context(&sc->ctx) != 0) {
        free(sc);
        sc = NULL;
    }
    return sc;
}

static void give_context(spare_context *sc)
{
    if (apr_thread_mutex_lock(spare_lock) != APR_SUCCESS) {
        krb5_free_context(sc->ctx);
        free(sc);
        return;
    }
    sc->next = spare_contexts;
    spare_contexts = sc;
    apr_thread_mutex_unlock(spare_lock);
}

static n8443_creds *get_set(request_rec *r, const n8443_cred_key *key)
{
    const char *name;
    cred_slot *slot;
    n8443_file_sig now;
    n8443_creds *c = NULL, *fresh;
    char err[1024];

    name = apr_pstrcat(r->pool, key->keytab ? key->keytab : "", "\n",
                       key->principal ? key->principal : "", "\n",
                       key->rcache ? key->rcache : "", "\n",
                       key->s4u_ccache ? key->s4u_ccache : "", NULL);
    n8443_file_sig_stat(n8443_keytab_file(key->keytab), &now);

    if (apr_thread_mutex_lock(slots_lock) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_CRIT, 0, r,
                      N8443LOGNO(030) "cannot lock the credential table");
        return NULL;
    }
    slot = apr_hash_get(slots, name, APR_HASH_KEY_STRING);
    if (slot == NULL) {
        slot = apr_pcalloc(slots_pool, sizeof(*slot));
        apr_hash_set(slots, apr_pstrdup(slots_pool, name), APR_HASH_KEY_STRING,
                     slot);
    }

    if (slot->current == NULL || !n8443_file_sig_same(&slot->stamp, &now)) {
        fresh = acquire_set(key, err, sizeof(err));
        if (fresh != NULL) {
            if (slot->current != NULL) {
                ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                              N8443LOGNO(031) "keytab %s changed on disk: "
                              "new acceptor credentials in use",
                              key->keytab ? key->keytab : "(default)");
                creds_unref_locked(slot->current);
            }
            slot->current = fresh;
            slot->stamp = now;
        }
        else if (slot->current != NULL) {
            /* Keep the keys we have rather than refuse everyone while an
             * administrator is half-way through replacing the file. */
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          N8443LOGNO(032) "keytab changed but cannot be used "
                          "(%s); keeping "
                          "the previous credentials",
                          err);
            slot->stamp = now;
        }
        else {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, N8443LOGNO(033) "%s",
                          err);
        }
    }
    c = slot->current;
    if (c != NULL)
        c->refs++;
    apr_thread_mutex_unlock(slots_lock);
    return c;
}

/*
 * The keys for one login (core/login.h): the GSS credentials and, where
 * the fast path is wanted and the keytab was copied, a context of this
 * thread's own with a handle on the shared copy (which c's own handle
 * keeps alive while c is in use).  Without one, keys->ctx is NULL and
 * GSS-API does the login.
 */
static void fill_keys(n8443_creds *c, const n8443_cred_key *key, int fast_path,
                      n8443_login_keys *keys)
{
    spare_context *sc;

    memset(keys, 0, sizeof(*keys));
    keys->cred = c->cred;
    keys->keytab = key->keytab;
    keys->principal = key->principal;
    keys->skew = (long)n8443_instance.clock_skew;
    if (!fast_path || c->kt_ctx == NULL)
        return;
    sc = take_context();
    if (sc == NULL)
        return;
    if (krb5_kt_resolve(sc->ctx, c->kt_name, &keys->kt) != 0) {
        give_context(sc);
        return;
    }
    keys->ctx = sc->ctx;
    keys->server = c->server;
    keys->baton = sc;
}

n8443_creds *n8443_creds_get(request_rec *r, const n8443_cred_key *key,
                             int fast_path, n8443_login_keys *keys)
{
    n8443_creds *c = get_set(r, key);

    if (c != NULL)
        fill_keys(c, key, fast_path, keys);
    return c;
}

void n8443_creds_release(n8443_creds *c, n8443_login_keys *keys)
{
    spare_context *sc = keys->baton;

    if (sc != NULL) {
        krb5_kt_close(sc->ctx, keys->kt);
        give_context(sc);
        keys->baton = NULL;
        keys->ctx = NULL;
        keys->kt = NULL;
    }
    if (apr_thread_mutex_lock(slots_lock) != APR_SUCCESS)
        return; /* leak one reference rather than risk a double free */
    creds_unref_locked(c);
    apr_thread_mutex_unlock(slots_lock);
}
