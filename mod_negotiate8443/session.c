/*
 * session.c - logins that outlive one request (connection logins are in
 * connection.c):
 *
 *   NegotiateSession         the identity travels in a cookie sealed with
 *                            AES-256-GCM (core/sealed_cookie.c) under a key
 *                            a farm shares, expiring at NegotiateSessionMaxAge
 *                            or the ticket's end, whichever comes first.
 *
 * Both end in the same place as a fresh login (identity on the request),
 * and a cookie that does not open (tampered, expired, another key) simply
 * falls back to Negotiate.
 *
 * A cookie holds only where its login would have held: the scope it was
 * proven under is sealed into it (virtual host, keytab, acceptor
 * principal: core/sealed_cookie.h), the TLS certificate of a
 * channel-bound login, its mechanism and its issue time; a resume checks
 * each against the resuming location, with the stricter of the two
 * NegotiateSessionMaxAge values.  The cookie itself never reaches the
 * application: n8443_session_strip takes it out of every request.
 *
 * A cookie is a bearer credential good for its whole life, unlike the
 * one-time Kerberos token: it is issued only over TLS (and marked
 * Secure), and taken only over TLS, even where NegotiateRequireTLS Off
 * lets a location log in over plain HTTP.  Under NegotiateRequireTLS
 * TrustedProxy the client's TLS ends at a trusted proxy that says so
 * (n8443_request_is_https): that counts.
 */
#include "connection.h"

#include "util_cookies.h"
#include "sealed_cookie.h"
#include "unixd.h"
#include "apr_atomic.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#define COOKIE_NAME  "n8443_session"
#define COOKIE_ATTRS ";Secure;HttpOnly;SameSite=Lax" /* after Path */
/* Where n8443_session_strip leaves the values for the resume. */
#define COOKIE_NOTE N8443_SESSION_COOKIE_NOTE
/* A client sends one cookie per Path that matches; a few at most. */
#define MAX_COOKIES 4

/* ------------------------------------------------------------- key file */

const char *n8443_session_read_key(apr_pool_t *p, const char *file,
                                   n8443_session_key *key)
{
    struct stat st;
    size_t got = 0;
    ssize_t n;
    const char *err = NULL;
    int fd;

    memset(key, 0, sizeof(*key));
    /* No symlink: whoever owns the link (or its directory) could point
     * it elsewhere.  O_NONBLOCK: a FIFO planted there must not hang
     * start-up; it is refused as not a regular file below. */
    fd = open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ELOOP)
        return apr_psprintf(p,
                            "%s is a symbolic link: name the key file "
                            "itself",
                            file);
    if (fd < 0)
        return apr_psprintf(p, "cannot open %s: %s", file, strerror(errno));
    if (fstat(fd, &st) != 0)
        err = apr_psprintf(p, "cannot stat %s: %s", file, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        err = apr_psprintf(p, "%s is not a regular file", file);
    else if (st.st_size != N8443_COOKIE_KEY_LEN)
        err = apr_psprintf(p,
                           "%s holds %ld bytes, not %d random bytes "
                           "(make one with: openssl rand -out %s 32)",
                           file, (long)st.st_size, N8443_COOKIE_KEY_LEN, file);
    else if (geteuid() == 0 && st.st_uid != 0) {
        struct passwd *pw = getpwuid(st.st_uid);

        err = apr_psprintf(p,
                           "%s is owned by '%s' (uid %ld), not root: "
                           "code running as that user could read it and "
                           "forge sessions (chown root:root %s; chmod 0600 "
                           "%s)",
                           file, pw ? pw->pw_name : "?", (long)st.st_uid, file,
                           file);
    }
    else if (st.st_mode & (S_IWGRP | S_IWOTH))
        err = apr_psprintf(p,
                           "%s is writable by its group or by everyone "
                           "(mode %04o): chmod 0600 %s",
                           file, (unsigned)(st.st_mode & 07777), file);
    else if (st.st_mode & S_IROTH)
        err = apr_psprintf(p,
                           "%s is readable by everyone: anyone who can "
                           "read it can forge sessions (chmod 0600 %s)",
                           file, file);
    while (err == NULL && got < N8443_COOKIE_KEY_LEN) {
        n = read(fd, key->key + got, N8443_COOKIE_KEY_LEN - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            err = apr_psprintf(p, "cannot read %d bytes from %s",
                               N8443_COOKIE_KEY_LEN, file);
        else
            got += (size_t)n;
    }
    close(fd);
    if (err != NULL) {
        OPENSSL_cleanse(key->key, sizeof(key->key));
        return err;
    }
    key->file = file;
    key->uid = (long)st.st_uid;
    key->gid = (long)st.st_gid;
    key->mode = (unsigned)(st.st_mode & 07777);
    return NULL;
}

/* Is the httpd user a member of group gid? */
static int httpd_user_in_group(long gid)
{
    gid_t groups[256];
    int i, n = 256;

    if ((long)ap_unixd_config.group_id == gid)
        return 1;
    if (ap_unixd_config.user_name == NULL
        || getgrouplist(ap_unixd_config.user_name, ap_unixd_config.group_id,
                        groups, &n)
               < 0)
        return 1; /* cannot tell: assume the worst */
    for (i = 0; i < n; i++) {
        if ((long)groups[i] == gid)
            return 1;
    }
    return 0;
}

/*
 * The key is read at start-up as root, so the httpd user never needs it;
 * if it could read it, so could every CGI and application that runs as
 * that user (other virtual hosts' too), and forge any session.  Needs
 * the final User/Group: a check_config hook, which `httpd -t` runs too.
 */
int n8443_session_check_keys(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    apr_hash_t *seen = apr_hash_make(ptemp);
    int i;

    /* Not started as root: the children run as whoever started httpd,
     * who has just read the key; there is no other user to keep out. */
    if (geteuid() != 0 || ap_unixd_config.user_id == 0)
        return OK;
    for (; s != NULL; s = s->next) {
        const n8443_server_conf *sc =
            ap_get_module_config(s->module_config, &negotiate8443_module);

        for (i = 0; sc->session_key_set && i < sc->session_nkeys; i++) {
            const n8443_session_key *k = &sc->session_keys[i];
            const char *why = NULL;

            if (apr_hash_get(seen, k->file, APR_HASH_KEY_STRING) != NULL)
                continue;
            apr_hash_set(seen, k->file, APR_HASH_KEY_STRING, k);
            if (k->uid == (long)ap_unixd_config.user_id)
                why = "is owned by";
            else if ((k->mode & S_IRGRP) && httpd_user_in_group(k->gid))
                why = "can be read through its group by";
            else if (n8443_readable_by_httpd_user(k->file))
                why = "can be read (ACL) by";
            if (why == NULL)
                continue;
            ap_log_error(
                APLOG_MARK, APLOG_EMERG, 0, s,
                N8443LOGNO(241) "NegotiateSessionKeyFile %s %s the httpd user "
                "'%s' (uid %ld, gid %ld): any code running as that "
                "user could read the key and forge sessions. httpd "
                "reads it at start-up as root: make it root's "
                "alone (chown root:root %s; chmod 0600 %s)",
                k->file, why,
                ap_unixd_config.user_name ? ap_unixd_config.user_name : "?",
                (long)ap_unixd_config.user_id, (long)ap_unixd_config.group_id,
                k->file, k->file);
            return !OK;
        }
    }
    return OK;
}

/* ------------------------------------------------ the cookie on the way in */

/* Collects the values of our cookie for n8443_session_strip. */
typedef struct {
    request_rec *r;
    const char *values; /* space-separated */
    int n;
} found_values;

static void keep_value(void *arg, const char *value, size_t len)
{
    found_values *fv = arg;

    /* Cookie values of ours are base64url: one with a blank is not. */
    if (fv->n >= MAX_COOKIES || memchr(value, ' ', len) != NULL
        || memchr(value, '\t', len) != NULL)
        return;
    fv->values = apr_pstrcat(fv->r->pool, fv->values, *fv->values ? " " : "",
                             apr_pstrmemdup(fv->r->pool, value, len), NULL);
    fv->n++;
}

int n8443_session_strip(request_rec *r)
{
    const apr_array_header_t *arr = apr_table_elts(r->headers_in);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    apr_array_header_t *fields = apr_array_make(r->pool, 2, sizeof(char *));
    found_values fv = {r, "", 0};
    int i, changed = 0;

    if (apr_table_get(r->notes, COOKIE_NOTE) != NULL)
        return DECLINED; /* done for this request */
    for (i = 0; i < arr->nelts; i++) {
        char *kept;

        if (e[i].key == NULL || e[i].val == NULL
            || strcasecmp(e[i].key, "Cookie") != 0)
            continue;
        kept = apr_palloc(r->pool, strlen(e[i].val) + 1);
        if (n8443_cookie_strip(e[i].val, COOKIE_NAME, kept, keep_value, &fv)
            > 0)
            changed = 1;
        if (*kept != '\0')
            APR_ARRAY_PUSH(fields, char *) = kept;
    }
    if (changed) {
        apr_table_unset(r->headers_in, "Cookie");
        for (i = 0; i < fields->nelts; i++)
            apr_table_addn(r->headers_in, "Cookie",
                           APR_ARRAY_IDX(fields, i, char *));
    }
    /* Also when there was none: the note says "stripped". */
    apr_table_setn(r->notes, COOKIE_NOTE, fv.values);
    return DECLINED;
}

/* The values n8443_session_strip found for this request (kept on the
 * request the client sent: sub-requests and internal redirects read the
 * same headers, already without the cookie). */
static const char *cookie_values(request_rec *r)
{
    while (r->main != NULL || r->prev != NULL)
        r = r->main != NULL ? r->main : r->prev;
    if (apr_table_get(r->notes, COOKIE_NOTE) == NULL)
        n8443_session_strip(r); /* a request no hook saw first */
    return apr_table_get(r->notes, COOKIE_NOTE);
}

/* ---------------------------------------------------------------- scope */

/* The digest of where a login at r is proven, for a cookie that leaves
 * the process (a farm shares the key): virtual host name, keytab and
 * acceptor principal, the credential set.  0, or -1. */
static int login_scope(request_rec *r, const n8443_dir_conf *dc,
                       const n8443_server_conf *sc,
                       unsigned char out[N8443_COOKIE_DIGEST_LEN])
{
    n8443_cred_key key;
    const char *parts[4];

    n8443_cred_key_for(r, dc, sc, &key);
    parts[0] = "negotiate8443 session scope 2";
    parts[1] = r->server->server_hostname;
    parts[2] = key.keytab;    /* NULL: the default keytab */
    parts[3] = key.principal; /* NULL: any key in it */
    return n8443_cookie_digest(parts, 4, out);
}

/* The digest of this connection's tls-server-end-point binding; 0 when
 * it has none. */
static int channel_of(request_rec *r,
                      unsigned char out[N8443_COOKIE_DIGEST_LEN])
{
    struct gss_channel_bindings_struct cb;

    return n8443_binding_for(r, &cb)
           && n8443_cookie_digest_bytes(cb.application_data.value,
                                        cb.application_data.length, out)
                  == 0;
}

/* --------------------------------------------------------------- cookies */

/* Open with the current key, then the previous one. */
static n8443_cookie_status open_any(const n8443_server_conf *sc,
                                    const char *value, int64_t now,
                                    n8443_session *s)
{
    n8443_cookie_status st = N8443_COOKIE_BAD;
    int i;

    for (i = 0; i < sc->session_nkeys && st == N8443_COOKIE_BAD; i++)
        st = n8443_cookie_open(sc->session_keys[i].key, value, strlen(value),
                               now, s);
    return st;
}

/* Why an opened cookie does not hold at this location, or NULL.  What a
 * cookie adds to a login record (the scope as a digest, its age, the
 * certificate) is checked here; the rest is the rule of every login
 * kept beyond its request (n8443_login_misfit). */
static const char *does_not_hold(request_rec *r, const n8443_dir_conf *dc,
                                 const n8443_server_conf *sc,
                                 const n8443_session *s,
                                 const unsigned char *scope, int64_t now,
                                 int *bound)
{
    unsigned char chan[N8443_COOKIE_DIGEST_LEN];
    n8443_login l;
    const char *why;

    if (memcmp(s->scope, scope, N8443_COOKIE_DIGEST_LEN) != 0)
        return "it was issued for another virtual host, keytab or "
               "service principal";
    /* The stricter of the issuing location's age (its expiry) and this
     * one's NegotiateSessionMaxAge. */
    if (s->issued > now + 60 || now - s->issued >= dc->session_max_age)
        return apr_psprintf(r->pool,
                            "it is %ld s old, at or over this "
                            "location's NegotiateSessionMaxAge %ld",
                            (long)(now - s->issued), dc->session_max_age);
    *bound = (s->flags & N8443_SESSION_BOUND)
             && dc->channel_binding != N8443_CB_OFF && channel_of(r, chan)
             && memcmp(chan, s->channel, N8443_COOKIE_DIGEST_LEN) == 0;
    /* The scope matched: within this vhost, keytab and acceptor. */
    memset(&l, 0, sizeof(l));
    l.principal = s->principal;
    l.mech = "krb5";
    l.bound = *bound;
    l.server = r->server;
    l.keytab = dc->keytab;
    l.acceptor = dc->service_principal;
    why = n8443_login_misfit(r, dc, sc, &l);
    if (why != NULL && (s->flags & N8443_SESSION_BOUND) && !*bound)
        why = apr_pstrcat(r->pool, why,
                          " (its login was bound to another "
                          "TLS certificate)",
                          NULL);
    return why;
}

int n8443_session_resume(request_rec *r, const n8443_dir_conf *dc,
                         const n8443_server_conf *sc)
{
    unsigned char scope[N8443_COOKIE_DIGEST_LEN];
    const char *values, *why;
    char *v, *last;
    n8443_session s;
    n8443_cookie_status st;
    int64_t now;
    int bound = 0;

    if (!dc->session || !sc->session_key_set)
        return DECLINED;
    values = cookie_values(r);
    if (values == NULL || *values == '\0')
        return DECLINED;
    /* Sent in the clear, it may have been read on the way: whoever sent
     * it logs in with Negotiate instead. */
    if (!n8443_request_is_https(r, dc, NULL)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      N8443LOGNO(287) "session cookie ignored over plain HTTP "
                      "(cookies are "
                      "only taken over TLS): falling back to Negotiate");
        return DECLINED;
    }
    if (login_scope(r, dc, sc, scope) != 0)
        return DECLINED;
    now = (int64_t)apr_time_sec(apr_time_now());
    for (v = apr_strtok(apr_pstrdup(r->pool, values), " ", &last); v != NULL;
         v = apr_strtok(NULL, " ", &last)) {
        st = open_any(sc, v, now, &s);
        if (st != N8443_COOKIE_OK) {
            ap_log_rerror(
                APLOG_MARK, APLOG_INFO, 0, r,
                N8443LOGNO(100) "session cookie %s: falling back to Negotiate",
                st == N8443_COOKIE_EXPIRED
                    ? "expired"
                    : "does not open (tampered, truncated, another "
                      "key or an older format)");
            continue;
        }
        why = does_not_hold(r, dc, sc, &s, scope, now, &bound);
        if (why != NULL) {
            ap_log_rerror(
                APLOG_MARK, APLOG_INFO, 0, r,
                N8443LOGNO(240) "session cookie of %s does not hold here (%s): "
                "falling back to Negotiate",
                ap_escape_logitem(r->pool, s.principal), why);
            OPENSSL_cleanse(&s, sizeof(s));
            continue;
        }
        /* A cookie sealed under the farm key by a server that let such a
         * name in is refused like a fresh login; the client is asked
         * anew. */
        if (!n8443_principal_clean(r, s.principal, "session cookie"))
            continue;
        n8443_identity_set(r, dc, sc, s.principal, "krb5", bound,
                           N8443_VIA_SESSION);
        return OK;
    }
    return DECLINED;
}

/* Has this process said why a plain-HTTP login gets no cookie? */
static apr_uint32_t plain_said;

void n8443_session_issue(request_rec *r, const n8443_dir_conf *dc,
                         const n8443_server_conf *sc, const char *principal,
                         apr_uint32_t ticket_lifetime, int bound)
{
    char value[N8443_COOKIE_MAX];
    n8443_session s;
    apr_int64_t now = apr_time_sec(apr_time_now());
    long age = dc->session_max_age;

    if (!dc->session || !sc->session_key_set)
        return;
    if (!n8443_request_is_https(r, dc, NULL)) {
        /* Said once per process at info, then at debug. */
        if (apr_atomic_cas32(&plain_said, 1, 0) == 0)
            ap_log_rerror(
                APLOG_MARK, APLOG_INFO, 0, r,
                N8443LOGNO(285) "no session cookie for a login over plain HTTP "
                "(NegotiateSession at a location with "
                "NegotiateRequireTLS Off): a cookie is only "
                "issued over TLS; said once per process");
        else
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          N8443LOGNO(286) "no session cookie for a login over "
                          "plain HTTP");
        return;
    }
    /* Never beyond the ticket's end: a session must not outlive the
     * Kerberos credentials it stands for. */
    if (ticket_lifetime != GSS_C_INDEFINITE && (long)ticket_lifetime < age)
        age = (long)ticket_lifetime;
    if (age <= 0)
        return;
    memset(&s, 0, sizeof(s));
    s.expires = now + age;
    s.issued = now;
    s.flags = ((unsigned)dc->channel_binding << N8443_SESSION_CB_SHIFT)
              & N8443_SESSION_CB_MASK;
    if (bound && channel_of(r, s.channel))
        s.flags |= N8443_SESSION_BOUND;
    if (strlen(principal) > N8443_COOKIE_MAX_PRINCIPAL) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      N8443LOGNO(101) "principal too long for a session "
                      "cookie; no session");
        return;
    }
    apr_cpystrn(s.principal, principal, sizeof(s.principal));
    if (login_scope(r, dc, sc, s.scope) != 0
        || n8443_cookie_seal(sc->session_keys[0].key, &s, value, sizeof(value))
               != 0) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            N8443LOGNO(102) "cannot seal the session cookie; no session");
        return;
    }
    ap_cookie_write(
        r, COOKIE_NAME, value,
        apr_pstrcat(r->pool, "Path=", dc->session_path ? dc->session_path : "/",
                    COOKIE_ATTRS, NULL),
        (int)age, r->err_headers_out, NULL);
}
