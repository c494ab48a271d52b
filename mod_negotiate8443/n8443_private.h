/*
 * n8443_private.h - what the parts of mod_negotiate8443 share.
 *
 * The module is split one concern per file:
 *   mod_negotiate8443.c  module record and hook registration
 *   config.c             directives, create/merge of the configs
 *   instance.c           instance-wide settings (skew, cache sizes)
 *   startup.c            start-up checks, one walk over the configs
 *   exchange.c           one request: header -> decode -> login ->
 *                        replay -> identity, or the status
 *   challenge.c          the 401's challenge, NEGOTIATE_ERROR for its
 *                        page, NegotiateOnce / NegotiateOptional
 *   credentials.c        per-process acceptor credentials, keytab refresh
 *   keytab_dump.c        a keytab's keys in a log line
 *   identity.c           principal -> r->user; n8443_identity_set
 *   basic.c              Basic fallback and the authn provider
 *   session.c            sealed session cookies
 *   connection.c         the connection record (connection.h): logins
 *                        kept on a request or TLS connection, proxies
 *   binding.c            TLS channel bindings
 *   delegation.c         delegated and S4U2Proxy credentials
 *   skew.c               krb5 settings fixed at start (clock skew)
 *   rcache*.c            the replay cache (rcache.h) and its providers
 *   stats.c, status.c    the counters and their status handler
 * The pure-C pieces (token walker, header parsing, the login, the GSS
 * acceptor step, the fast path, the replay table) live in core/ and are
 * shared with n8443ctl, the unit tests and the fuzzers.
 */
#ifndef N8443_PRIVATE_H
#define N8443_PRIVATE_H

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_hash.h"
#include "apr_strings.h"
#include "apr_thread_mutex.h"

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

#include "acceptor.h"
#include "gssproxy.h"
#include "krb5_accept.h"
#include "modes.h"
#include "login.h"
#include "instance.h"
#include "rcache.h"
#include "stats.h"
#include "claims.h"

/* Log tags: "AH"-style numbers of our own, unique per call site, so that an
 * administrator can grep for the line that bit them. */
#define N8443LOGNO(n) "N8443" #n ": "

#define N8443_AUTH_TYPE "Negotiate"

extern module AP_MODULE_DECLARE_DATA negotiate8443_module;

#if defined(APLOG_USE_MODULE) && !defined(N8443_MODULE_RECORD)
APLOG_USE_MODULE(negotiate8443);
#endif

/* ------------------------------------------------------------------ config */

/* n8443_cb_mode, n8443_user_name_mode: core/modes.h, shared with
 * n8443ctl. */

/* N8443_DEFAULT_MAX_TOKEN: core/modes.h, shared with n8443ctl. */

/* NegotiateRequireTLS Off | On | TrustedProxy (connection.h:
 * n8443_request_is_https). */
#define N8443_TLS_OFF           0
#define N8443_TLS_ON            1
#define N8443_TLS_TRUSTED_PROXY 2

/* Per-directory configuration ("server, vhost, dir" and "dir" directives).
 * Every field has a *_set marker so that a nested section inherits exactly
 * what it does not override. */
typedef struct {
    const char *keytab; /* NULL: Kerberos default */
    unsigned int keytab_set : 1;
    const char *service_principal; /* NULL or "any": every key */
    unsigned int service_principal_set : 1;
    int require_tls; /* N8443_TLS_* */
    unsigned int require_tls_set : 1;
    n8443_user_name_mode user_name;
    unsigned int user_name_set : 1;
    n8443_cb_mode channel_binding;
    unsigned int channel_binding_set : 1;
    int basic_fallback;
    unsigned int basic_fallback_set : 1;
    int connection_auth;
    unsigned int connection_auth_set : 1;
    int session;
    unsigned int session_set : 1;
    const char *session_path; /* cookie Path: the <Location> of
                                     * NegotiateSession On, or NULL: "/" */
    long session_max_age;     /* seconds */
    unsigned int session_max_age_set : 1;
    int delegation;
    unsigned int delegation_set : 1;
    int constrained_delegation;
    unsigned int constrained_delegation_set : 1;
    int fast_path; /* NegotiateFastPath, default On */
    unsigned int fast_path_set : 1;
    int allow_anonymous; /* NegotiateAllowAnonymous, default Off */
    unsigned int allow_anonymous_set : 1;
    int negotiate_once; /* NegotiateOnce, default Off */
    unsigned int negotiate_once_set : 1;
    int optional; /* NegotiateOptional, default Off */
    unsigned int optional_set : 1;
} n8443_dir_conf;

/* NegotiateDelegationPerms: what the credential caches are given. */
typedef struct {
    mode_t mode;
    gid_t group;
    unsigned int mode_set : 1;
    unsigned int group_set : 1;
} n8443_deleg_perms;

/* One session key and what its file looked like when it was read (as
 * root, at start-up), for the ownership checks that need the User. */
typedef struct {
    unsigned char key[32];
    const char *file;
    long uid, gid;
    unsigned int mode;
} n8443_session_key;

/* Per-server configuration ("server, vhost" directives). */
typedef struct {
    apr_size_t max_token_size; /* decoded bytes */
    unsigned int max_token_size_set : 1;
    n8443_rc_conf rc; /* NegotiateReplayCache */
    /* NegotiateSessionKeyFile CURRENT [PREVIOUS]: seal with [0], open
     * with either. */
    n8443_session_key session_keys[2];
    int session_nkeys;
    unsigned int session_key_set : 1;
    const char *delegation_dir;          /* NegotiateDelegationDir */
    apr_array_header_t *trusted_proxies; /* apr_ipsubnet_t *, or NULL */
    /* NegotiateChannelBindingCertificate: the binding of the certificate
     * clients see (a balancer's), read at start-up, in place of the
     * connection's own; cb_cert_status: N8443_CERT_HASH_*
     * (channel_binding.h). */
    const char *cb_cert_file; /* NULL: the connection's certificate */
    int cb_cert_status;
    unsigned char cb_cert_data[128];
    size_t cb_cert_len;
    n8443_deleg_perms delegation_perms;
    /* Set in post_config (delegation.c): this vhost's own directory under
     * delegation_dir, and the owner and mode it was made with. */
    struct n8443_group_map *group_map; /* NegotiateGroupMap (groups.c) */
    const char *delegation_vhost_dir;
    uid_t delegation_dir_uid;
    mode_t delegation_dir_mode;
} n8443_server_conf;

#define N8443_DEFAULT_SESSION_MAX_AGE 3600

/* How a request's login was made.  An internal redirect or sub-request
 * reuses it only where the target offers that kind of login (a token
 * login wherever its scope fits). */
typedef enum {
    N8443_VIA_TOKEN = 0,  /* a Negotiate token on the request */
    N8443_VIA_BASIC,      /* a password: NegotiateBasicFallback */
    N8443_VIA_CONNECTION, /* the connection's: ConnectionAuth */
    N8443_VIA_SESSION     /* a cookie: NegotiateSession */
} n8443_login_via;

/* What a ticket login's ticket said beyond the name (groups.c). */
typedef struct {
    n8443_pac_state pac;
    apr_array_header_t *sids; /* const char *: the PAC's enabled group
                                   SIDs, canonical; NULL without one */
    const char *indicators;   /* space-separated, or NULL */
} n8443_claims;

/* A login and the scope it was proven in (connection.c): kept on the
 * request (request_config) for its internal redirects and sub-requests,
 * and on the connection under NegotiateConnectionAuth. */
typedef struct {
    const char *principal;
    const char *mech; /* "krb5" or "basic" */
    n8443_login_via via;
    int bound;                  /* bound to this TLS channel */
    server_rec *server;         /* the vhost */
    const char *keytab;         /* the credential set: NegotiateKeytab */
    const char *acceptor;       /*  and NegotiateServicePrincipal */
    apr_time_t expires;         /* connection logins: the ticket's end */
    const n8443_claims *claims; /* a ticket login's, in this request only:
                                   never kept on a connection or cookie */
} n8443_login;

void *n8443_create_dir_conf(apr_pool_t *p, char *dir);
void *n8443_merge_dir_conf(apr_pool_t *p, void *base, void *add);
void *n8443_create_server_conf(apr_pool_t *p, server_rec *s);
void *n8443_merge_server_conf(apr_pool_t *p, void *base, void *add);
extern const command_rec n8443_cmds[];

/* ------------------------------------------------------------- credentials */

/* One set of acceptor credentials, shared by the threads of a process and
 * replaced (not mutated) when the keytab changes on disk. */
typedef struct n8443_creds n8443_creds;

/* The resolved acceptor settings of a request's configuration. */
typedef struct {
    const char *keytab;     /* NULL: default */
    const char *principal;  /* NULL: any key */
    const char *rcache;     /* MIT rcache name ("none:" when ours is on) */
    const char *s4u_ccache; /* set under NegotiateConstrainedDelegation */
} n8443_cred_key;

void n8443_cred_key_for(request_rec *r, const n8443_dir_conf *dc,
                        const n8443_server_conf *sc, n8443_cred_key *key);
apr_status_t n8443_creds_child_init(apr_pool_t *pchild, server_rec *s);
/* n8443_gssproxy_in_use: core/gssproxy.h. */
/* Borrow the process' credentials for key (acquiring or refreshing them
 * when needed), with the keys for one login (core/login.h): the fast
 * path's krb5 context and keytab copy only where fast_path is set (the
 * fast path, or the authenticator's time after GSS-API) and the keytab
 * could be copied (not under GSS-Proxy).  Give them back with
 * n8443_creds_release. */
n8443_creds *n8443_creds_get(request_rec *r, const n8443_cred_key *key,
                             int fast_path, n8443_login_keys *keys);
void n8443_creds_release(n8443_creds *c, n8443_login_keys *keys);
/* The file behind a keytab name (NULL: the default one), or NULL for
 * non-file keytab types. */
const char *n8443_keytab_file(const char *keytab);
/* Start-up checks, in one walk over the merged configuration (startup.c):
 * keytabs and service principals, session keys, delegation directories,
 * the channel binding's certificates.  Returns !OK (after logging why) to
 * stop httpd. */
int n8443_startup_check(apr_pool_t *p, apr_pool_t *ptemp, server_rec *s);
/* Can the User httpd's children run as open file?  (Asked by a child
 * process that becomes that user, so groups and ACLs count.) */
int n8443_readable_by_httpd_user(const char *file);
/* Log which keys the keytab holds for the principal a client asked for. */
void n8443_log_keytab_contents(request_rec *r, const char *keytab,
                               const char *asked_principal);

/* ---------------------------------------------------------------- identity */

/* Map the client's principal to r->user according to the mode; the
 * result is always in r->pool (never the pointer passed in). */
const char *n8443_map_user(request_rec *r, const char *principal,
                           n8443_user_name_mode mode);
/* 1 when name has no control characters (C0, DEL, C1); otherwise logs
 * N8443230 with the name escaped ("how": which login path) and returns 0:
 * the caller refuses the login. */
int n8443_principal_clean(request_rec *r, const char *name, const char *how);
/* The same test without the log line: n8443_name_has_no_control
 * (core/login.h). */
apr_status_t n8443_identity_child_init(apr_pool_t *pchild, server_rec *s);
/* The one place a login becomes the request's identity: r->user, the auth
 * type, the NEGOTIATE_* variables and, where sc is given, the login
 * record for redirects (identity.c). */
void n8443_identity_set(request_rec *r, const n8443_dir_conf *dc,
                        const n8443_server_conf *sc, const char *principal,
                        const char *mech, int bound, n8443_login_via via);

/* ------------------------------------------------- channel binding, Basic */

void n8443_binding_post_config(void);
void n8443_binding_child_init(apr_pool_t *pchild);
/* This connection's tls-server-end-point bindings; 0 when there are none
 * (plain HTTP, or a certificate whose signature has no hash). */
int n8443_binding_for(request_rec *r, struct gss_channel_bindings_struct *cb);
/* Where the request's binding comes from, for log lines. */
const char *n8443_binding_source(request_rec *r);
const char *n8443_set_binding_certificate(cmd_parms *cmd, void *dconf,
                                          const char *arg);
/* Does c run over TLS (mod_ssl)?  0 without mod_ssl (connection.c,
 * after n8443_conn_post_config). */
void n8443_conn_post_config(void);
int n8443_conn_is_tls(conn_rec *c);
int n8443_binding_check_config(apr_pool_t *ptemp, server_rec *s);

/* Basic credentials (the token68 of "Basic ...") under
 * NegotiateBasicFallback: OK, 400 or 401. */
int n8443_basic_login(request_rec *r, const n8443_dir_conf *dc,
                      const n8443_server_conf *sc, const char *param,
                      apr_size_t param_len);
void n8443_basic_register(apr_pool_t *p);

/* -------------------------------- logins beyond a request (connection.c) */

/* Record r's login with the scope of r's configuration. */
void n8443_login_note(request_rec *r, const n8443_dir_conf *dc,
                      const n8443_server_conf *sc, const char *principal,
                      const char *mech, int bound, n8443_login_via via);
const n8443_login *n8443_login_of(const request_rec *r);
/* NULL when login l is good for r under dc, else why not (for the log). */
const char *n8443_login_misfit(request_rec *r, const n8443_dir_conf *dc,
                               const n8443_server_conf *sc,
                               const n8443_login *l);
/* The connection record (what the module keeps per connection: its
 * certificate's binding, its login, whether it is a proxy's) and the
 * proxy rules: connection.h, included by the files that use them. */

/* ------------------------------------------ authorization from the ticket */

/* NegotiateGroupMap FILE (server config; group_map.c). */
const char *n8443_set_group_map(cmd_parms *cmd, void *dconf, const char *arg);
/* The canonical SID of a name (read again first when the file changed),
 * in r->pool, or NULL: not in the map, or m is NULL. */
const char *n8443_group_map_sid(request_rec *r, struct n8443_group_map *m,
                                const char *name);
/* The names the map gives sids (a const char * array), space-separated,
 * in r->pool, or NULL: one look under the lock for all of them. */
const char *n8443_group_map_names(request_rec *r, struct n8443_group_map *m,
                                  const apr_array_header_t *sids);
/* The map's file, for log lines. */
const char *n8443_group_map_file(const struct n8443_group_map *m);
/* A SID in text to its canonical form (core/pac.c) in out; 0, or -1 when
 * in is not a SID. */
int n8443_sid_canonical(const char *in, char *out, size_t outcap);
/* A name of the map: printable, no space (1), else 0. */
int n8443_group_name_ok(const char *s);
/* The claims of an accepted ticket, in r->pool (after r->user is set). */
const n8443_claims *n8443_claims_make(request_rec *r,
                                      const n8443_ticket_claims *tc);
/* Keep c with r's login and set NEGOTIATE_GROUP_SIDS, NEGOTIATE_GROUPS
 * and NEGOTIATE_AUTH_INDICATORS. */
void n8443_claims_set(request_rec *r, const n8443_claims *c);
/* Require negotiate-group, negotiate-auth-indicator. */
void n8443_groups_register(apr_pool_t *p);

/* ------------------------------------------------------------ sessions */

/* Read a NegotiateSessionKeyFile (no symlink, a regular file of 32
 * bytes, not group/world-writable, not world-readable); NULL or why not. */
const char *n8443_session_read_key(apr_pool_t *p, const char *file,
                                   n8443_session_key *key);
/* check_config: every key file is root's and out of the httpd user's
 * and group's reach.  !OK (after logging why) stops httpd. */
int n8443_session_check_keys(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s);
/* post_read_request: take our cookie out of the request, in every
 * spelling, before anything else sees it; kept in r->notes for
 * n8443_session_resume. */
int n8443_session_strip(request_rec *r);
/* OK when a valid session cookie put an identity on r, else DECLINED. */
int n8443_session_resume(request_rec *r, const n8443_dir_conf *dc,
                         const n8443_server_conf *sc);
void n8443_session_issue(request_rec *r, const n8443_dir_conf *dc,
                         const n8443_server_conf *sc, const char *principal,
                         apr_uint32_t ticket_lifetime, int bound);

/* -------------------------------------------------------------- delegation */

/* Store delegated (or S4U2Proxy evidence) credentials of principal under
 * NegotiateDelegationDir; returns "FILE:path" for KRB5CCNAME, or NULL. */
const char *n8443_delegation_store(request_rec *r, const n8443_server_conf *sc,
                                   const char *principal, gss_cred_id_t cred);
const char *n8443_delegation_check_dir(apr_pool_t *p, const char *dir);
const char *n8443_delegation_set_perms(cmd_parms *cmd, n8443_deleg_perms *perms,
                                       const char *arg);
/* post_config: this vhost's directory; NULL or why httpd must not start. */
const char *n8443_delegation_prepare(apr_pool_t *pconf, server_rec *s,
                                     n8443_server_conf *sc);
void n8443_delegation_pre_config(void);
/* Monitor hook (parent): remove expired caches. */
int n8443_delegation_monitor(apr_pool_t *p, server_rec *s);

/* ------------------------------------------------------------------ status */

int n8443_status_handler(request_rec *r);

/* -------------------------------------------------------------- clock skew */

int n8443_skew_apply(apr_pool_t *pconf, server_rec *s);

/* --------------------------------------------------------------- challenge */

/* Where n8443_session_strip keeps the session cookies it took out. */
#define N8443_SESSION_COOKIE_NOTE "negotiate8443-session-cookies"
/* Set on a request whose credentials the module has looked at (exchange.c):
 * its internal redirects (an ErrorDocument) and sub-requests do not run
 * them again at an optional location (n8443_force_authn). */
#define N8443_TRIED_NOTE "negotiate8443-tried"

/* The 401 (challenge.c): WWW-Authenticate as the location, the request's
 * environment (negotiate8443-no-negotiate) and NegotiateOnce allow, and
 * NEGOTIATE_ERROR / NEGOTIATE_ERROR_TEXT.  Returns HTTP_UNAUTHORIZED. */
int n8443_challenge(request_rec *r);
/* Note why this request is not logged in: a word of core/refusal.c's
 * (no_token, ntlm, no_ticket, skew, ...); the last note wins. */
void n8443_refusal_note(request_rec *r, const char *word);
/* NEGOTIATE_ERROR and NEGOTIATE_ERROR_TEXT from the note. */
void n8443_refusal_env(request_rec *r);
/* force_authn hook: NegotiateOptional. */
int n8443_force_authn(request_rec *r);
void n8443_challenge_merge(n8443_dir_conf *conf, const n8443_dir_conf *base,
                           const n8443_dir_conf *add);
const char *n8443_set_negotiate_once(cmd_parms *cmd, void *dconf, int flag);
const char *n8443_set_optional(cmd_parms *cmd, void *dconf, int flag);

/* ---------------------------------------------------------------- exchange */

/* note_auth_failure hook: a later 401 carries the challenge. */
int n8443_note_auth_failure(request_rec *r, const char *auth_type);
int n8443_check_user_id(request_rec *r);

/* A login core/login.c did not accept (refuse.c): the log line that names
 * the rule, the counter, the refusal's word; returns the status (400, or
 * 401 with the challenge).  cb: the bindings the login was given. */
int n8443_refuse_login(request_rec *r, const n8443_login_keys *keys,
                       const n8443_login_result *lr,
                       const struct gss_channel_bindings_struct *cb);
/* Count a refused login by its cause (the status page's failures). */
void n8443_count_failure(n8443_cause cause);

#endif /* N8443_PRIVATE_H */
