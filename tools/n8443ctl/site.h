/*
 * n8443ctl - the site file as plain C structs.
 *
 * Every value keeps the line and column it came from, so that a check
 * that runs long after loading (a duplicate server name, a clock skew two
 * sites disagree on, or a later `check` finding) can still point at the
 * exact place in the file.  `set` says whether the file (the site or its
 * `defaults`) gave a good value; when it is 0, `v` holds the built-in
 * default and `pos` is {0, 0}.  `seen` says that the key was there at all,
 * good or bad, so that a bad value is not also reported as missing.
 *
 * n8443-site.yaml(5) documents every key; site_load.c fills these structs.
 */
#ifndef N8443CTL_SITE_H
#define N8443CTL_SITE_H

#include <stddef.h>

#include "modes.h"
#include "n8443ctl.h"

struct n8443_pos {
    int line; /* 1-based; 0: not from the file */
    int col;  /* 1-based */
};

struct n8443_str {
    const char *v;
    struct n8443_pos pos;
    int set;
    int seen;
};

struct n8443_int {
    long v;
    struct n8443_pos pos;
    int set;
    int seen;
};

struct n8443_bool {
    int v;
    struct n8443_pos pos;
    int set;
    int seen;
};

struct n8443_enum {
    int v;
    struct n8443_pos pos;
    int set;
    int seen;
};

struct n8443_list {
    const char **v;
    struct n8443_pos *item_pos;
    size_t n;
    struct n8443_pos pos;
    int set;
    int seen;
};

enum n8443_profile {
    N8443_PROFILE_SYSTEM,
    N8443_PROFILE_INTERMEDIATE,
    N8443_PROFILE_MODERN
};

/* The channel binding and user name modes (n8443_cb_mode,
 * n8443_user_name_mode) and the replay cache kinds (n8443_rc_backend)
 * are the module's: core/modes.h.  The name tables of the loader follow
 * their order. */

enum n8443_delegation {
    N8443_DELEG_NONE,
    N8443_DELEG_FORWARDED,
    N8443_DELEG_CONSTRAINED
};

/* replay_cache: the YAML spelling (memcache://h:p,h:p, redis://h:p,h:p,
 * redis-sentinel://h:p,h:p/MASTER or krb5:NAME) is parsed once; `arg`
 * already has the directive's form ("h:p,h:p", NAME), `master` the
 * Sentinel master's name (NULL for plain redis). */
struct n8443_replay {
    n8443_rc_backend kind;
    const char *arg;
    const char *master;
    struct n8443_pos pos;
    int set;
    int seen;
};

/* redis: the NegotiateReplayCacheRedis* settings (site_replay.c); only
 * with replay_cache redis:// or redis-sentinel://. */
struct n8443_redis {
    struct n8443_str auth_file;     /* NegotiateReplayCacheRedisAuth */
    struct n8443_str tls_ca;        /* NegotiateReplayCacheRedisTLS CA */
    struct n8443_str tls_name;      /* ... and the name the servers carry */
    struct n8443_int timeout;       /* ms: ...RedisTimeout */
    struct n8443_int wait_replicas; /* ...RedisWait NUMREPLICAS */
    struct n8443_int wait_timeout;  /* ... TIMEOUT-MS */
    struct n8443_pos pos;
    int present;       /* a good `redis:` mapping */
    int seen;          /* a `redis:` key, good or bad */
    int from_defaults; /* the block came from `defaults` */
};

struct n8443_tls {
    struct n8443_str certificate;
    struct n8443_str key;
    struct n8443_str chain;
    struct n8443_enum profile; /* enum n8443_profile */
    struct n8443_bool hsts;
    struct n8443_pos pos; /* the `tls:` mapping, if any */
    int present;          /* a good `tls:` mapping */
    int seen;             /* a `tls:` key, good or bad */
};

/* behind: the site sits behind a TLS-terminating load balancer
 * (site_behind.c). */
struct n8443_behind {
    struct n8443_list proxy_addresses; /* NegotiateTrustedProxy */
    struct n8443_str certificate;      /* NegotiateChannelBinding-
                                           Certificate; optional */
    struct n8443_pos pos;
    int present;
    int seen;
};

struct n8443_kerberos {
    struct n8443_str realm;
    struct n8443_str keytab;
    struct n8443_str service_principal;
    struct n8443_bool gssproxy;
    struct n8443_replay replay_cache;
    struct n8443_redis redis;
    struct n8443_str replay_cache_file;   /* NegotiateReplayCacheFile */
    struct n8443_int replay_cache_margin; /* NegotiateReplayCacheMargin */
    struct n8443_int clock_skew;
    struct n8443_enum channel_binding; /* n8443_cb_mode */
    struct n8443_bool basic_fallback;
    struct n8443_enum user_name; /* n8443_user_name_mode */
    struct n8443_bool session;
    struct n8443_str session_key_file;
    struct n8443_int session_max_age;
    struct n8443_enum delegation; /* enum n8443_delegation */
    struct n8443_str delegation_dir;
    struct n8443_int max_token_size;  /* NegotiateMaxTokenSize, bytes */
    struct n8443_bool negotiate_once; /* NegotiateOnce */
    struct n8443_str ad_ldap_uri;     /* the KDC is AD: its LDAP (check) */
    struct n8443_str group_map;       /* NegotiateGroupMap: name -> SID */
    struct n8443_pos pos;
    int present;
};

/* help: the page a browser shows for a 401 (why the login failed, what
 * to do, whom to ask).  With it, render adds the ErrorDocument 401. */
struct n8443_help {
    struct n8443_str contact; /* required in `help` */
    struct n8443_str url;     /* http(s):// or mailto: */
    struct n8443_str pages;   /* directory with 401.shtml */
    struct n8443_pos pos;
    int present;
    int seen;
};

struct n8443_location {
    struct n8443_str path;
    struct n8443_list users; /* both empty: Require valid-user */
    /* With group_file: groups of that file (mod_authz_groupfile); without:
     * groups of the ticket's PAC (SIDs, or names of kerberos.group_map). */
    struct n8443_list groups;
    struct n8443_list auth_indicators; /* and one of these (MIT KDC) */
    struct n8443_str group_file;
    struct n8443_str proxy;
    struct n8443_str user_header;
    struct n8443_str forward_groups; /* header with the group SIDs */
    struct n8443_pos pos;
};

struct n8443_site {
    struct n8443_str name;
    struct n8443_str server_name;
    struct n8443_list aliases;
    struct n8443_int listen;
    struct n8443_str auth_name;
    struct n8443_tls tls;
    struct n8443_kerberos kerberos;
    struct n8443_help help;
    struct n8443_behind behind;
    struct n8443_location *locations;
    size_t nlocations;
    int locations_set;
    struct n8443_pos pos;
};

struct n8443_config {
    long version;
    struct n8443_site *sites;
    size_t nsites;
    long clock_skew; /* instance-wide: one for all sites */
    /* Instance-wide too (global-only directives): NULL / -1 when no site
     * sets them. */
    const char *replay_cache_file;
    long replay_cache_margin;
    unsigned char input_sha256[32];
    struct n8443_arena arena; /* owns every string and array above */
};

/* Loader diagnostics: collected, not printed, so that tests and the fuzzer
 * see them as data and the command decides where they go. */
#define N8443_MAX_DIAGS 20
#define N8443_DIAG_LEN  240

struct n8443_diag {
    int line;
    int col;
    char msg[N8443_DIAG_LEN];
};

struct n8443_diags {
    struct n8443_diag items[N8443_MAX_DIAGS];
    size_t n;
    int truncated;
};

/*
 * Parse and validate a site file held in memory.  Returns N8443_OK and a
 * config in *config_out (free it with n8443_config_free), N8443_INVALID
 * with the reasons in *diags, or N8443_IO when memory ran out.
 */
int n8443_site_load_buffer(const char *data, size_t len,
                           struct n8443_diags *diags,
                           struct n8443_config **config_out);

/*
 * Read PATH ("-" for stdin), load it and print every diagnostic to
 * stderr as PATH:LINE:COL.  Returns N8443_OK, N8443_INVALID or N8443_IO.
 */
int n8443_site_load_path(const char *path, struct n8443_config **config_out);

void n8443_config_free(struct n8443_config *config);

/* The label a diagnostic or a header uses for PATH ("<stdin>" for "-"). */
const char *n8443_site_label(const char *path);

#endif /* N8443CTL_SITE_H */
