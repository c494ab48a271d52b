/*
 * n8443ctl - `check`: what the check families share.
 *
 * Every finding is a record (report.c): a stable id, a severity, a
 * sentence that says what to do, and details as key/value pairs.  The
 * families (check_krb5.c, check_gssproxy.c, check_keytab.c, check_cert.c,
 * check_dns.c, check_selinux.c, check_online.c) only add records, using
 * the libraries below them (check_ctx.c, keytab.c, dns.c); check.c runs
 * them for each site and report_print.c turns the same records into text
 * or JSON and into the exit status.  n8443ctl(8) lists every id.
 */
#ifndef N8443CTL_CHECK_H
#define N8443CTL_CHECK_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <krb5/krb5.h>

#include "channel_binding.h"
#include "n8443ctl.h"
#include "site.h"

/* ------------------------------------------ report.c, report_print.c */

enum n8443_severity {
    N8443_SEV_OK = 0,
    N8443_SEV_WARNING,
    N8443_SEV_ERROR,
    N8443_SEV_SKIPPED /* probe: a step that could not run (the
                               reason says why); fails nothing */
};

struct n8443_detail {
    char *key;
    char *value;
    int is_number; /* JSON: a number, not a string */
};

struct n8443_record {
    const char *id; /* static: from n8443_check_ids */
    enum n8443_severity severity;
    int unusable; /* a file or service could not be
                                       used: exit 4 rather than 1 */
    char *message;
    struct n8443_detail *details;
    size_t ndetails;
};

/*
 * The records of one run.  Allocation failures stick in `failed` (as in
 * struct n8443_buf), so that the checks can add records without testing
 * every call; check.c looks once at the end.
 */
struct n8443_report {
    struct n8443_record **records;
    size_t n;
    size_t cap;
    char **only; /* --only: ids and families; none: all */
    size_t nonly;
    const char *site; /* added as the first detail of each record */
    int failed;
};

/* One check id: its family is the part before the dot. */
struct n8443_check_id {
    const char *id;
    int online; /* runs only with --online */
};

extern const struct n8443_check_id n8443_check_ids[];

void n8443_report_init(struct n8443_report *rep);
void n8443_report_free(struct n8443_report *rep);

/*
 * Parse --only: a comma-separated list of ids ("keytab.spn") and families
 * ("keytab" or "keytab.*").  Returns N8443_OK, or N8443_USAGE with the
 * reason in err; N8443_IO when memory ran out.
 */
int n8443_report_set_only(struct n8443_report *rep, const char *list, char *err,
                          size_t errlen);

/* Does --only select ID?  (Always, without --only.) */
int n8443_report_wants(const struct n8443_report *rep, const char *id);

/* Does --only select any online check? */
int n8443_report_wants_online(const struct n8443_report *rep);

/* Does an item of --only select online checks only ("online",
 * "online.kvno")?  Those need --online. */
int n8443_report_only_names_online(const struct n8443_report *rep);

/*
 * Add a record.  Returns it for n8443_record_detail*, or NULL when --only
 * leaves ID out or memory ran out (the detail functions accept NULL).
 */
struct n8443_record *n8443_report_add(struct n8443_report *rep, const char *id,
                                      enum n8443_severity severity,
                                      const char *fmt, ...) N8443_PRINTF(4, 5);

void n8443_record_detail(struct n8443_report *rep, struct n8443_record *rec,
                         const char *key, const char *fmt, ...)
    N8443_PRINTF(4, 5);
void n8443_record_detail_num(struct n8443_report *rep, struct n8443_record *rec,
                             const char *key, long long value);
/* Mark an error as "could not use a file or service" (exit 4). */
void n8443_record_unusable(struct n8443_record *rec);

/* S as a JSON string, quotes included.  Invalid UTF-8 becomes U+FFFD. */
void n8443_json_string(struct n8443_buf *out, const char *s);

const char *n8443_severity_name(enum n8443_severity severity);

/* The report for people and for programs, from the same records. */
int n8443_report_text(const struct n8443_report *rep, int strict,
                      struct n8443_buf *out);
int n8443_report_json(const struct n8443_report *rep, int strict,
                      struct n8443_buf *out);

/* 0 all ok (warnings too unless STRICT), 1 a check failed, 3 the site
 * file is invalid, 4 a file or service could not be used. */
int n8443_report_exit_status(const struct n8443_report *rep, int strict);

/* ------------------------------------------------- the check context */

/* One keytab entry, as klist -k -e -t shows it. */
struct n8443_kt_entry {
    char *principal; /* unparsed, with realm */
    char *service;   /* first component, if two components */
    char *host;      /* second component, if two components */
    char *realm;
    krb5_kvno kvno;
    krb5_enctype enctype;
};

struct n8443_keytab {
    char *name;       /* what krb5_kt_resolve got */
    const char *file; /* inside name; NULL if not a file keytab */
    struct n8443_kt_entry *entries;
    size_t n;
    int loaded; /* read in full */
};

/* The httpd user the keytab must be readable by. */
struct n8443_httpd_user {
    char *name; /* NULL: none found */
    uid_t uid;
    gid_t gid;
    const char *how; /* "--httpd-user", "default" */
};

/* Options of one `check` run (from struct n8443_args). */
struct n8443_check_opts {
    int online;
    int strict;
    int json;
    const char *ccache;   /* client credentials for --online, or NULL:
                               the service key */
    const char *target;   /* the installed file (--target, or a one-site
                               file's default), or NULL */
    const char *ldap_uri; /* --ldap-uri: the KDC is AD, its LDAP */
    const char *replay_cache_file; /* the instance's replay_cache_file, or
                                      NULL: the module's default */
};

/* One site being checked: its settings, and what earlier families
 * found that later ones need. */
struct n8443_check_ctx {
    const struct n8443_check_opts *opts;
    struct n8443_report *rep;
    const struct n8443_site *site;
    const char *site_file; /* for positions; NULL without one */
    int from_site_file;    /* 0: --keytab/--host: module settings
                                   unknown */
    krb5_context kctx;
    long clock_skew; /* what the module applies */
    const char *clock_skew_source;
    char *realm; /* effective realm, or NULL */
    const char *realm_source;
    const char **names; /* server_name, then the aliases */
    size_t nnames;
    const char *keytab_name; /* the keytab httpd (or gssproxy) uses */
    char *gssproxy_keytab;   /* from the gssproxy stanza, if found */
    struct n8443_keytab kt;
    struct n8443_httpd_user user;
    /* The certificate's RFC 5929 binding, for the online round trip. */
    int have_cb;
    unsigned char cb_data[N8443_CB_MAX];
    size_t cb_len;
};

/* ----------------------------------------------------------- keytab.c */

/* The file behind a keytab name ("FILE:x", "WRFILE:x", or a name
 * without a type, which krb5 reads as a file); NULL for other types. */
const char *n8443_keytab_file(const char *name);
/* Read every entry of NAME into KT.  Returns 0 or a krb5 error code;
 * ENOMEM when memory ran out. */
krb5_error_code n8443_keytab_read(krb5_context kctx, const char *name,
                                  struct n8443_keytab *kt);
void n8443_keytab_free(struct n8443_keytab *kt);
/* E's name ("aes256-cts-hmac-sha1-96"), or "enctype N", into BUF. */
const char *n8443_enctype_name(krb5_enctype e, char *buf, size_t len);

/* Is there a key for SERVICE/HOST@REALM in the keytab?  (Exact match.) */
int n8443_keytab_has(const struct n8443_keytab *kt, const char *service,
                     const char *host, const char *realm);

/* The newest kvno of PRINCIPAL in the keytab; 0 if none. */
krb5_kvno n8443_keytab_newest_kvno(const struct n8443_keytab *kt,
                                   const char *principal);

/* -------------------------------------------------------- check_ctx.c */

/* "FILE:LINE:COL" of a value in the site file, in BUF; NULL if it did
 * not come from the file. */
const char *n8443_check_where(const struct n8443_check_ctx *ctx,
                              struct n8443_pos pos, char *buf, size_t len);

/* The principal the module accepts with ("any" -> NULL). */
const char *n8443_check_acceptor_principal(const struct n8443_check_ctx *ctx,
                                           char *buf, size_t len);

/*
 * Can USER open FILE for reading?  As root, a child process becomes the
 * user (groups included) and tries, as mod_negotiate8443 does at start-up;
 * otherwise the answer comes from the file mode (*how_out says which).
 * Returns 1 or 0, or -1 when it could not be found out
 * (check_keytab_file.c).
 */
int n8443_check_readable_by(const struct n8443_httpd_user *user,
                            const char *file, const struct stat *st,
                            const char **how_out);

/* ------------------------------------------------------ the families */

/* keytab.permissions and keytab.httpd-user for FILE (check_keytab_file.c,
 * run by check_keytab.c). */
void n8443_check_keytab_permissions(struct n8443_check_ctx *ctx,
                                    const char *file, const struct stat *st);
void n8443_check_keytab_httpd_user(struct n8443_check_ctx *ctx,
                                   const char *file, const struct stat *st);

/* The families.  Each returns N8443_OK, or N8443_IO when memory ran
 * out; what they find goes into ctx->rep. */
int n8443_check_krb5(struct n8443_check_ctx *ctx);
int n8443_check_gssproxy(struct n8443_check_ctx *ctx);
int n8443_check_keytab(struct n8443_check_ctx *ctx);
int n8443_check_cert(struct n8443_check_ctx *ctx);
int n8443_check_dns(struct n8443_check_ctx *ctx);

int n8443_check_selinux(struct n8443_check_ctx *ctx);
/* check_http.c: token size and the header line limit. */
int n8443_check_http(struct n8443_check_ctx *ctx);

/* -------------------------------------------------- check_selinux.c */

/* What the policy lets httpd_t do with a file of a given type. */
enum n8443_se_verdict {
    N8443_SE_OK = 0,
    N8443_SE_EXPOSED, /* readable, but labelled as web content */
    N8443_SE_DENIED
};

/* The type field of a context ("system_u:object_r:TYPE:s0") into TYPE;
 * 0, or -1 if it has none. */
int n8443_se_context_type(const char *context, char *type, size_t len);
enum n8443_se_verdict n8443_se_keytab_verdict(const char *type);
enum n8443_se_verdict n8443_se_writable_verdict(const char *type);
/* NAME in `getsebool -a` output: 1 on, 0 off, -1 not listed. */
int n8443_se_getsebool(const char *out, const char *name);
/* Is PORT/PROTO of TYPE in `semanage port -l` output?  1 yes, 0 no, -1
 * TYPE/PROTO not listed at all. */
int n8443_se_port_has(const char *out, const char *type, const char *proto,
                      long port);

/* The target of NAME's DNS CNAME record into BUF: 0, or -1 if none
 * (dns.c; check_dns.c and probe use it). */
int n8443_dns_cname(const char *name, char *buf, size_t len);

/* The same host name: no case, no trailing dot (dns.c). */
int n8443_same_host(const char *a, const char *b);
int n8443_check_online(struct n8443_check_ctx *ctx);

/* ------------------------------------------------------ check_redis.c */

/* The I-th server of a replay_cache server list ("h:p,[v6]:p"): its
 * host (brackets gone) into HOST and its port.  0, or -1 past the end. */
int n8443_redis_server(const char *list, size_t i, char *host, size_t len,
                       int *port);
/* krb5.redis-module, krb5.redis-host, krb5.redis-auth, krb5.redis-tls:
 * a Redis replay cache, offline. */
void n8443_check_redis(struct n8443_check_ctx *ctx);
/* The first line of the Redis password file FILE, split as the module
 * does ("PASSWORD" or "USER PASSWORD"), into USER ("" for none) and
 * PASS.  0, or an errno value (ENODATA: empty). */
int n8443_redis_read_auth(const char *file, char *user, size_t ulen, char *pass,
                          size_t plen);

/* krb5.replay-cache-file (check_rcache_file.c): the replay cache table
 * file's directory, by the module's own rule (N8443480), for the httpd
 * user. */
void n8443_check_rcache_file(struct n8443_check_ctx *ctx);

/* online.redis (check_online_redis.c): each Redis server or Sentinel
 * answers, and a primary is found. */
void n8443_check_online_redis(struct n8443_check_ctx *ctx);

#endif /* N8443CTL_CHECK_H */
