/*
 * modes.h - the settings that the module and n8443ctl both name, defined
 * once so that the two cannot number them differently (they did: the
 * tool's replay cache kinds were in another order).  Pure C, no httpd.
 *
 * The module stores them in its configuration (n8443_private.h,
 * rcache.h); n8443ctl reads them from the site file (site.h) and renders
 * the directives.
 */
#ifndef N8443_MODES_H
#define N8443_MODES_H

/* NegotiateReplayCache: where seen authenticators are kept. */
typedef enum {
    N8443_RC_SHM = 0,  /* one table in shared memory */
    N8443_RC_MEMCACHE, /* memcached, shared by a server farm */
    N8443_RC_KRB5,     /* MIT's own replay cache */
    N8443_RC_NONE,     /* replay detection off */
    N8443_RC_REDIS     /* Redis / Valkey (direct or through
                                 * Sentinel), shared by a server farm */
} n8443_rc_backend;

/* NegotiateChannelBinding (RFC 5929 tls-server-end-point). */
typedef enum {
    N8443_CB_OFF = 0,  /* no bindings passed to Kerberos */
    N8443_CB_OPTIONAL, /* checked when the client sends them */
    N8443_CB_REQUIRE   /* a login without them is refused */
} n8443_cb_mode;

/* NegotiateUserName: what REMOTE_USER holds. */
typedef enum {
    N8443_USER_PRINCIPAL = 0, /* alice@EXAMPLE.COM */
    N8443_USER_SHORT,         /* alice, when the realm is the default */
    N8443_USER_LOCAL          /* krb5 auth_to_local */
} n8443_user_name_mode;

/* NegotiateClockSkew without the directive or krb5.conf's clockskew:
 * Kerberos' own default, in seconds. */
#define N8443_DEFAULT_CLOCK_SKEW 300

/* NegotiateMaxTokenSize without the directive: decoded bytes. */
#define N8443_DEFAULT_MAX_TOKEN 65536

/* httpd's LimitRequestFieldSize without the directive. */
#define N8443_HTTPD_DEFAULT_FIELD_SIZE 8190

/*
 * The LimitRequestFieldSize a token of max_token decoded bytes needs:
 * httpd measures the whole line "Authorization: Negotiate <base64>"
 * (without CRLF) against it, before any module runs, and answers a bare
 * 400 for a longer one.  Base64 of the token, the field name and scheme,
 * 256 bytes to spare, rounded up to whole KiB.  render writes it; check
 * and the module's start-up compare against it.
 */
static inline long n8443_field_size_for_token(long max_token)
{
    long need = (max_token + 2) / 3 * 4
                + (long)sizeof("Authorization: Negotiate ") - 1 + 256;

    return (need + 1023) / 1024 * 1024;
}

#endif /* N8443_MODES_H */
