/*
 * config.c - directives of mod_negotiate8443: the table and the handlers
 * that check every value when the configuration is read, so that
 * `httpd -t` names the directive and the bad value.  Defaults and merges:
 * config_merge.c.
 */
#include "connection.h"

#include "apr_lib.h"

#include <errno.h>
#include <stdlib.h>

/*
 * Parse a whole, positive decimal number no larger than max.  Returns NULL
 * on success, else a message naming the directive and the value.
 */
static const char *parse_count(cmd_parms *cmd, const char *arg, long min,
                               long max, long *out)
{
    char *end;
    long v = 0;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || errno == ERANGE || !apr_isdigit(*arg))
        return apr_psprintf(cmd->pool, "%s: '%s' is not a whole number",
                            cmd->cmd->name, arg);
    if (v < min || v > max)
        return apr_psprintf(cmd->pool, "%s: %s is out of range (%ld to %ld)",
                            cmd->cmd->name, arg, min, max);
    *out = v;
    return NULL;
}

static const char *set_keytab(cmd_parms *cmd, void *dconf, const char *arg)
{
    n8443_dir_conf *conf = dconf;
    const char *path;

    /* "FILE:/path" and other krb5 keytab types pass through as they are;
     * a plain path is made absolute against ServerRoot. */
    if (ap_strchr_c(arg, ':') != NULL && arg[0] != '/') {
        path = arg;
    }
    else {
        path = ap_server_root_relative(cmd->pool, arg);
        if (path == NULL)
            return apr_psprintf(cmd->pool, "%s: invalid path '%s'",
                                cmd->cmd->name, arg);
    }
    conf->keytab = path;
    conf->keytab_set = 1;
    return NULL;
}

static const char *set_service_principal(cmd_parms *cmd, void *dconf,
                                         const char *arg)
{
    n8443_dir_conf *conf = dconf;
    const char *at;

    if (strcasecmp(arg, "any") == 0) {
        conf->service_principal = NULL;
    }
    else if (strcmp(arg, "{HOSTNAME}") == 0) {
        conf->service_principal = arg;
    }
    else {
        /* service/host[@REALM]: one slash, non-empty parts, no spaces. */
        const char *slash = ap_strchr_c(arg, '/');
        at = ap_strchr_c(arg, '@');
        if (slash == NULL || slash == arg || slash[1] == '\0' || slash[1] == '@'
            || ap_strchr_c(slash + 1, '/') != NULL
            || (at != NULL
                && (at < slash || at[1] == '\0'
                    || ap_strchr_c(at + 1, '@') != NULL))
            || ap_strchr_c(arg, ' ') != NULL || ap_strchr_c(arg, ':') != NULL)
            return apr_psprintf(cmd->pool,
                                "%s: '%s' is not 'any', "
                                "'{HOSTNAME}' or a principal like "
                                "HTTP/host.example.com[@REALM] (no port)",
                                cmd->cmd->name, arg);
        conf->service_principal = arg;
    }
    conf->service_principal_set = 1;
    return NULL;
}

static const char *set_user_name(cmd_parms *cmd, void *dconf, const char *arg)
{
    n8443_dir_conf *conf = dconf;

    if (strcasecmp(arg, "principal") == 0)
        conf->user_name = N8443_USER_PRINCIPAL;
    else if (strcasecmp(arg, "short") == 0)
        conf->user_name = N8443_USER_SHORT;
    else if (strcasecmp(arg, "local") == 0)
        conf->user_name = N8443_USER_LOCAL;
    else
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not one of principal, "
                            "short, local",
                            cmd->cmd->name, arg);
    conf->user_name_set = 1;
    return NULL;
}

static const char *set_channel_binding(cmd_parms *cmd, void *dconf,
                                       const char *arg)
{
    n8443_dir_conf *conf = dconf;

    if (strcasecmp(arg, "off") == 0)
        conf->channel_binding = N8443_CB_OFF;
    else if (strcasecmp(arg, "optional") == 0)
        conf->channel_binding = N8443_CB_OPTIONAL;
    else if (strcasecmp(arg, "require") == 0)
        conf->channel_binding = N8443_CB_REQUIRE;
    else
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not one of off, "
                            "optional, require",
                            cmd->cmd->name, arg);
    conf->channel_binding_set = 1;
    return NULL;
}

static const char *set_basic_fallback(cmd_parms *cmd, void *dconf, int flag)
{
    n8443_dir_conf *conf = dconf;

    conf->basic_fallback = flag;
    conf->basic_fallback_set = 1;
    return NULL;
}

/*
 * The narrowest Path the session cookie can have: the URL of the plain
 * <Location> that says NegotiateSession On.  A <LocationMatch>, a regex
 * <Location ~>, a <Directory> (a file system path, not a URL) or a path
 * with characters we would have to quote get NULL: "Path=/".
 */
static const char *cookie_path(cmd_parms *cmd)
{
    const ap_directive_t *sect = cmd->directive ? cmd->directive->parent : NULL;
    const char *p = cmd->path;

    if (sect == NULL || strcasecmp(sect->directive, "<Location") != 0
        || sect->args == NULL || *sect->args == '~' || p == NULL || p[0] != '/')
        return NULL;
    for (; *p; p++) {
        if (!apr_isalnum(*p) && ap_strchr_c("/-._~%", *p) == NULL)
            return NULL;
    }
    return cmd->path;
}

/* On|Off directives: one handler per field, which also marks it set
 * (so that the merge knows it was given here). */
#define N8443_FLAG_HANDLER(field)                                              \
    static const char *set_##field(cmd_parms *cmd, void *dconf, int flag)      \
    {                                                                          \
        n8443_dir_conf *conf = dconf;                                          \
                                                                               \
        (void)cmd;                                                             \
        conf->field = flag;                                                    \
        conf->field##_set = 1;                                                 \
        return NULL;                                                           \
    }

N8443_FLAG_HANDLER(connection_auth)
N8443_FLAG_HANDLER(delegation)
N8443_FLAG_HANDLER(constrained_delegation)
N8443_FLAG_HANDLER(fast_path)
N8443_FLAG_HANDLER(allow_anonymous)

/* NegotiateSession: also the cookie's path, from the section. */
static const char *set_session(cmd_parms *cmd, void *dconf, int flag)
{
    n8443_dir_conf *conf = dconf;

    conf->session = flag;
    conf->session_path = flag ? cookie_path(cmd) : NULL;
    conf->session_set = 1;
    return NULL;
}

static const char *set_session_max_age(cmd_parms *cmd, void *dconf,
                                       const char *arg)
{
    n8443_dir_conf *conf = dconf;
    const char *err;
    long v = 0;

    err = parse_count(cmd, arg, 1, 7L * 86400, &v);
    if (err != NULL)
        return err;
    conf->session_max_age = v;
    conf->session_max_age_set = 1;
    return NULL;
}

/* NegotiateSessionKeyFile CURRENT [PREVIOUS]: new cookies are sealed
 * with CURRENT; cookies sealed with PREVIOUS still open, so that a key
 * can be rotated without logging everyone out. */
static const char *set_session_key_file(cmd_parms *cmd, void *dconf,
                                        const char *current,
                                        const char *previous)
{
    n8443_server_conf *conf =
        ap_get_module_config(cmd->server->module_config, &negotiate8443_module);
    const char *args[2] = {current, previous};
    n8443_session_key keys[2];
    int i, n = previous != NULL ? 2 : 1;

    for (i = 0; i < n; i++) {
        const char *file = ap_server_root_relative(cmd->pool, args[i]);
        const char *err;

        if (file == NULL || *args[i] == '\0')
            return apr_psprintf(cmd->pool, "%s: invalid path '%s'",
                                cmd->cmd->name, args[i]);
        /* Read now, as the user httpd starts as (root): the key file is
         * then readable by root alone. */
        err = n8443_session_read_key(cmd->pool, file, &keys[i]);
        if (err != NULL)
            return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
    }
    if (n == 2 && memcmp(keys[0].key, keys[1].key, sizeof(keys[0].key)) == 0)
        n = 1; /* the same key twice: nothing to rotate from */
    memcpy(conf->session_keys, keys, sizeof(keys));
    conf->session_nkeys = n;
    conf->session_key_set = 1;
    return NULL;
}

static const char *set_delegation_dir(cmd_parms *cmd, void *dconf,
                                      const char *arg)
{
    n8443_server_conf *conf =
        ap_get_module_config(cmd->server->module_config, &negotiate8443_module);
    const char *dir = ap_server_root_relative(cmd->pool, arg);

    if (dir == NULL || *arg == '\0')
        return apr_psprintf(cmd->pool, "%s: invalid path '%s'", cmd->cmd->name,
                            arg);
    conf->delegation_dir = dir;
    return NULL;
}

static const char *set_delegation_perms(cmd_parms *cmd, void *dconf,
                                        const char *arg)
{
    n8443_server_conf *conf =
        ap_get_module_config(cmd->server->module_config, &negotiate8443_module);

    return n8443_delegation_set_perms(cmd, &conf->delegation_perms, arg);
}

static const char *set_max_token_size(cmd_parms *cmd, void *dconf,
                                      const char *arg)
{
    n8443_server_conf *conf =
        ap_get_module_config(cmd->server->module_config, &negotiate8443_module);
    const char *err;
    long v = 0;

    /* 1 KiB is below any real ticket; 1 MiB is above any PAC we have seen
     * and still well inside httpd's LimitRequestFieldSize. */
    err = parse_count(cmd, arg, 1024, 1024 * 1024, &v);
    if (err != NULL)
        return err;
    conf->max_token_size = (apr_size_t)v;
    conf->max_token_size_set = 1;
    return NULL;
}

static const char *set_replay_cache(cmd_parms *cmd, void *dconf,
                                    const char *type, const char *arg,
                                    const char *arg2)
{
    n8443_server_conf *conf =
        ap_get_module_config(cmd->server->module_config, &negotiate8443_module);
    const char *err;

    if (strcasecmp(type, "redis") == 0
        || strcasecmp(type, "redis-sentinel") == 0) {
        err = n8443_rc_redis_set_servers(cmd, &conf->rc, type, arg, arg2);
        if (err != NULL)
            return err;
        conf->rc.backend_set = 1;
        return NULL;
    }
    if (arg2 != NULL)
        return apr_psprintf(cmd->pool, "%s %s: too many arguments",
                            cmd->cmd->name, type);
    if (strcasecmp(type, "shm") == 0 || strcasecmp(type, "none") == 0) {
        if (arg != NULL)
            return apr_psprintf(cmd->pool, "%s %s takes no argument",
                                cmd->cmd->name, type);
        conf->rc.backend =
            strcasecmp(type, "shm") == 0 ? N8443_RC_SHM : N8443_RC_NONE;
    }
    else if (strcasecmp(type, "memcache") == 0) {
        if (arg == NULL)
            return apr_psprintf(cmd->pool,
                                "%s memcache needs "
                                "HOST:PORT[,HOST:PORT...]",
                                cmd->cmd->name);
        err = n8443_rc_memcache_parse(cmd->pool, arg);
        if (err != NULL)
            return apr_psprintf(cmd->pool, "%s memcache: %s", cmd->cmd->name,
                                err);
        conf->rc.backend = N8443_RC_MEMCACHE;
        conf->rc.memcache_servers = arg;
    }
    else if (strcasecmp(type, "krb5") == 0) {
        if (arg == NULL || ap_strchr_c(arg, ':') == NULL)
            return apr_psprintf(cmd->pool,
                                "%s krb5 needs an MIT replay "
                                "cache name such as "
                                "file2:/run/httpd/krb5.rcache2",
                                cmd->cmd->name);
        conf->rc.backend = N8443_RC_KRB5;
        conf->rc.krb5_name = arg;
    }
    else {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not one of shm, "
                            "memcache, redis, redis-sentinel, krb5, none",
                            cmd->cmd->name, type);
    }
    conf->rc.backend_set = 1;
    return NULL;
}

static const char *set_replay_cache_size(cmd_parms *cmd, void *dconf,
                                         const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    long v = 0;

    if (err != NULL)
        return err;
    /* 100 million entries is 2.4 GB of shared memory: far past need. */
    err = parse_count(cmd, arg, 8, 100000000L, &v);
    if (err != NULL)
        return err;
    n8443_instance.size = (apr_uint64_t)v;
    return NULL;
}

static const char *set_replay_cache_quota(cmd_parms *cmd, void *dconf,
                                          const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    long v = 0;

    if (err != NULL)
        return err;
    err = parse_count(cmd, arg, 1, 100000000L, &v);
    if (err != NULL)
        return err;
    n8443_instance.quota = (apr_uint64_t)v;
    return NULL;
}

static const char *set_clock_skew(cmd_parms *cmd, void *dconf, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    long v = 0;

    if (err != NULL)
        return apr_pstrcat(cmd->pool, err,
                           " (Kerberos applies the clock "
                           "skew per process, so it is instance-wide)",
                           NULL);
    err = parse_count(cmd, arg, 1, 86400, &v);
    if (err != NULL)
        return err;
    n8443_instance.clock_skew = v;
    n8443_instance.clock_skew_set = 1;
    return NULL;
}

#define DIR_OR_SERVER (RSRC_CONF | ACCESS_CONF | OR_AUTHCFG)
/* Settings that decide whose keys prove a login, or that hand a login
 * beyond its request (sessions, connection logins, delegated tickets):
 * the server configuration only, never .htaccess.  A user who may write
 * an .htaccess (AllowOverride AuthConfig, Debian's userdir) could else
 * name a keytab of their own KDC and mint any identity for the whole
 * server.  httpd answers 500 for such an .htaccess and logs
 * "<directive> not allowed here". */
#define DIR_OR_SERVER_NO_HTACCESS (RSRC_CONF | ACCESS_CONF)

const command_rec n8443_cmds[] = {
    AP_INIT_TAKE1("NegotiateKeytab", set_keytab, NULL,
                  DIR_OR_SERVER_NO_HTACCESS,
                  "Keytab with the service keys (default: Kerberos' own)"),
    AP_INIT_TAKE1("NegotiateServicePrincipal", set_service_principal, NULL,
                  DIR_OR_SERVER_NO_HTACCESS,
                  "any | {HOSTNAME} | HTTP/host[@REALM]: which keys may "
                  "accept logins"),
    AP_INIT_TAKE1("NegotiateRequireTLS", n8443_set_require_tls, NULL,
                  DIR_OR_SERVER,
                  "On: refuse Negotiate over plain HTTP "
                  "(403); TrustedProxy: also believe X-Forwarded-Proto: "
                  "https from a NegotiateTrustedProxy address"),
    AP_INIT_TAKE1("NegotiateUserName", set_user_name, NULL,
                  ACCESS_CONF | OR_AUTHCFG,
                  "principal | short | local: how REMOTE_USER is formed"),
    AP_INIT_TAKE1("NegotiateChannelBinding", set_channel_binding, NULL,
                  DIR_OR_SERVER,
                  "off | optional | require: TLS channel "
                  "binding (RFC 5929 tls-server-end-point)"),
    AP_INIT_FLAG("NegotiateBasicFallback", set_basic_fallback, NULL,
                 ACCESS_CONF | OR_AUTHCFG,
                 "On: also offer Basic, checked with the KDC and keytab"),
    AP_INIT_FLAG("NegotiateConnectionAuth", set_connection_auth, NULL,
                 ACCESS_CONF,
                 "On: a login holds for the rest of its TLS connection"),
    AP_INIT_FLAG("NegotiateSession", set_session, NULL, ACCESS_CONF,
                 "On: a login is kept in a sealed session cookie"),
    AP_INIT_TAKE1("NegotiateSessionMaxAge", set_session_max_age, NULL,
                  ACCESS_CONF,
                  "Seconds a session lasts at most (never beyond the "
                  "ticket's end)"),
    AP_INIT_TAKE12("NegotiateSessionKeyFile", set_session_key_file, NULL,
                   RSRC_CONF,
                   "CURRENT [PREVIOUS]: files with the 32-byte "
                   "keys that seal (current) and open (both) session "
                   "cookies, shared by a farm; root's, 0600"),
    AP_INIT_FLAG("NegotiateDelegation", set_delegation, NULL, ACCESS_CONF,
                 "On: keep the ticket a client delegated for the "
                 "application (KRB5CCNAME)"),
    AP_INIT_FLAG("NegotiateConstrainedDelegation", set_constrained_delegation,
                 NULL, ACCESS_CONF,
                 "On: S4U2Proxy credentials for the application when the "
                 "client did not delegate"),
    AP_INIT_FLAG("NegotiateFastPath", set_fast_path, NULL, DIR_OR_SERVER,
                 "On (default): plain Kerberos logins are checked with krb5 "
                 "directly; Off: every login goes through GSS-API"),
    AP_INIT_FLAG("NegotiateAllowAnonymous", set_allow_anonymous, NULL,
                 DIR_OR_SERVER,
                 "On: anonymous Kerberos tickets (WELLKNOWN/ANONYMOUS) log "
                 "in; Off (default): they are refused"),
    AP_INIT_TAKE1("NegotiateDelegationDir", set_delegation_dir, NULL, RSRC_CONF,
                  "Directory (0711 or 0700, root's) for the "
                  "applications' credential caches, one directory per "
                  "vhost"),
    AP_INIT_ITERATE("NegotiateTrustedProxy", n8443_set_trusted_proxy, NULL,
                    RSRC_CONF,
                    "Addresses (ADDR or ADDR/BITS) of proxies "
                    "in front: no connection login on their connections"),
    AP_INIT_TAKE1("NegotiateChannelBindingCertificate",
                  n8443_set_binding_certificate, NULL, RSRC_CONF,
                  "PEM file: bind logins to this certificate (the one "
                  "clients see, e.g. a TLS-terminating balancer's)"),
    AP_INIT_ITERATE("NegotiateDelegationPerms", set_delegation_perms, NULL,
                    RSRC_CONF,
                    "mode:OCTAL group:NAME - the credential "
                    "caches' mode (default 0600) and group"),
    AP_INIT_TAKE1("NegotiateGroupMap", n8443_set_group_map, NULL, RSRC_CONF,
                  "File of \"name SID\" lines for Require negotiate-group"),
    AP_INIT_TAKE1("NegotiateMaxTokenSize", set_max_token_size, NULL, RSRC_CONF,
                  "Largest decoded token accepted, in bytes"),
    AP_INIT_TAKE123("NegotiateReplayCache", set_replay_cache, NULL, RSRC_CONF,
                    "shm | memcache HOST:PORT[,...] | redis "
                    "HOST:PORT[,...] | redis-sentinel HOST:PORT[,...] "
                    "MASTER-NAME | krb5 NAME | none"),
    AP_INIT_TAKE1("NegotiateReplayCacheRedisAuth", n8443_rc_redis_cmd_auth,
                  NULL, RSRC_CONF,
                  "File with the Redis password (or "
                  "'USER PASSWORD'), mode 0600"),
    AP_INIT_TAKE12("NegotiateReplayCacheRedisTLS", n8443_rc_redis_cmd_tls, NULL,
                   RSRC_CONF,
                   "CA file that signed the Redis servers' "
                   "certificates [and the name they carry]: TLS to Redis"),
    AP_INIT_TAKE1("NegotiateReplayCacheRedisTimeout",
                  n8443_rc_redis_cmd_timeout, NULL, RSRC_CONF,
                  "Redis connect and command timeout in ms (default 500)"),
    AP_INIT_TAKE12("NegotiateReplayCacheRedisWait", n8443_rc_redis_cmd_wait,
                   NULL, RSRC_CONF,
                   "NUMREPLICAS [TIMEOUT-MS]: WAIT for "
                   "replicas after each entry (default 0: no WAIT)"),
    AP_INIT_TAKE1("NegotiateReplayCacheSize", set_replay_cache_size, NULL,
                  RSRC_CONF,
                  "Entries in the shared-memory replay cache "
                  "(global)"),
    AP_INIT_TAKE1("NegotiateReplayCacheFile", n8443_rc_set_file, NULL,
                  RSRC_CONF,
                  "File the shm replay cache lives in, kept "
                  "across restarts (global; default negotiate8443-rcache "
                  "in the runtime directory)"),
    AP_INIT_TAKE1("NegotiateReplayCacheMargin", n8443_rc_set_margin, NULL,
                  RSRC_CONF,
                  "Seconds after a replay cache's "
                  "watermark during which authenticators are still refused: "
                  "covers clients whose clocks run ahead (global; default 0, "
                  "NegotiateClockSkew for full cover)"),
    AP_INIT_TAKE1("NegotiateReplayCacheQuota", set_replay_cache_quota, NULL,
                  RSRC_CONF,
                  "Logins one principal may have in the replay "
                  "cache at once (global; default 1% of its size, at least "
                  "16); more are refused with 429"),
    AP_INIT_TAKE1("NegotiateClockSkew", set_clock_skew, NULL, RSRC_CONF,
                  "Allowed clock skew in seconds, for the whole instance "
                  "(global)"),
    /* Handlers and merge: challenge.c. */
    AP_INIT_FLAG("NegotiateOnce", n8443_set_negotiate_once, NULL,
                 ACCESS_CONF | OR_AUTHCFG,
                 "On: a 401 after a refused "
                 "Negotiate token does not offer Negotiate again"),
    AP_INIT_FLAG("NegotiateOptional", n8443_set_optional, NULL,
                 ACCESS_CONF | OR_AUTHCFG,
                 "On: where Require lets "
                 "anonymous requests in, one with credentials is still "
                 "logged in"),
    {NULL},
};
