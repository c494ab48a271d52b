/*
 * n8443ctl - private declarations shared by the tool's files.
 *
 * The site file's data model lives in site.h and the message printers in
 * msgs.h; everything else that more than one file needs is here.
 */
#ifndef N8443CTL_H
#define N8443CTL_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef PACKAGE_VERSION
#error "PACKAGE_VERSION must come from config.h or -DPACKAGE_VERSION"
#endif

#if defined(__GNUC__) || defined(__clang__)
#define N8443_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define N8443_PRINTF(fmt, args)
#endif

/*
 * Exit status of every command (n8443ctl(8) documents them).  Internal
 * functions return these too, so that a failure deep down reaches main()
 * without being translated on the way.
 */
enum n8443_rc {
    N8443_OK = 0,
    N8443_DIFFERS = 1,    /* diff: the files differ */
    N8443_USAGE = 2,      /* bad command line */
    N8443_INVALID = 3,    /* invalid site file */
    N8443_IO = 4,         /* a file or service could not be used */
    N8443_ROLLED_BACK = 5 /* writing or the config test failed; undone */
};

/* ------------------------------------------------------- commands.c */

/*
 * The options, one bit each.  The bits are written here, once, and not
 * derived from the order of a table: args.c's option table names the bit
 * of each option, and commands.c says which bits each command accepts.
 */
enum n8443_opt {
    N8443_OPT_OUTPUT = 1u << 0,
    N8443_OPT_TARGET = 1u << 1,
    N8443_OPT_DRY_RUN = 1u << 2,
    N8443_OPT_NO_CONFIGTEST = 1u << 3,
    N8443_OPT_RELOAD = 1u << 4,
    N8443_OPT_CONFIGTEST_CMD = 1u << 5,
    N8443_OPT_RELOAD_CMD = 1u << 6,
    N8443_OPT_HELP = 1u << 7,
    N8443_OPT_VERSION = 1u << 8,
    N8443_OPT_ONLINE = 1u << 9,
    N8443_OPT_FORMAT = 1u << 10,
    N8443_OPT_ONLY = 1u << 11,
    N8443_OPT_STRICT = 1u << 12,
    N8443_OPT_HTTPD_USER = 1u << 13,
    N8443_OPT_CCACHE = 1u << 14,
    N8443_OPT_KEYTAB = 1u << 15,
    N8443_OPT_HOST = 1u << 16,
    N8443_OPT_ALIAS = 1u << 17,
    N8443_OPT_CERT = 1u << 18,
    N8443_OPT_KEY = 1u << 19,
    N8443_OPT_CHAIN = 1u << 20,
    N8443_OPT_REALM = 1u << 21,
    N8443_OPT_AS = 1u << 22,
    N8443_OPT_BROWSER = 1u << 23,
    N8443_OPT_NO_LOGIN = 1u << 24,
    N8443_OPT_TRACE = 1u << 25,
    N8443_OPT_CA = 1u << 26,
    N8443_OPT_TIMEOUT = 1u << 27,
    N8443_OPT_ADDRESS = 1u << 28,
    N8443_OPT_LDAP_URI = 1u << 29,
    N8443_OPT_BASE = 1u << 30
};

/* check's options without a site file. */
#define N8443_OPTS_NO_SITE                                                     \
    (N8443_OPT_KEYTAB | N8443_OPT_HOST | N8443_OPT_ALIAS | N8443_OPT_CERT      \
     | N8443_OPT_KEY | N8443_OPT_CHAIN | N8443_OPT_REALM)

struct n8443_args;

/* What a command takes besides its options. */
enum n8443_operands {
    N8443_OPERANDS_SITE = 0, /* SITE.yaml */
    N8443_OPERANDS_CHECK,    /* SITE.yaml, or --keytab and --host */
    N8443_OPERANDS_URL,      /* one https URL */
    N8443_OPERANDS_TOPIC,    /* [COMMAND], and no options */
    N8443_OPERANDS_GROUPS    /* resolve [NAME...] */
};

/*
 * One command: what main() runs, what the argument parser accepts and
 * what the help prints, written once (as curl's tool_getparam.c and
 * tool_help.c read one option table).  main.c hands the table to the
 * parser; the help finds it in struct n8443_args.
 */
struct n8443_command {
    const char *name;
    unsigned options; /* N8443_OPT_* bits it accepts */
    enum n8443_operands operands;
    const char *summary; /* its lines in the general help's list */
    const char *usage;   /* `help NAME` */
    int (*run)(const struct n8443_args *args);
};

/* The commands, ended by a NULL name (commands.c). */
extern const struct n8443_command n8443_commands[];
/* --version: a command that no name on the command line selects
 * (help.c). */
extern const struct n8443_command n8443_command_version;

/* ------------------------------------------------------------ args.c */

/* check --alias may be given this many times. */
#define N8443_MAX_ALIASES 32

struct n8443_args {
    const struct n8443_command *command;  /* what main() runs */
    const struct n8443_command *commands; /* the table, for help */
    const char *site_path;                /* SITE.yaml, "-" for stdin */
    const char *help_topic;     /* help COMMAND, or the command of --help */
    const char *output;         /* render -o */
    const char *target;         /* diff/install --target */
    const char *configtest_cmd; /* install --configtest-cmd */
    const char *reload_cmd;     /* install --reload-cmd */
    int dry_run;
    int no_configtest;
    int reload;
    /* check */
    int online;
    int strict;
    const char *format; /* text (NULL) | json */
    const char *only;   /* --only IDS, checked by check.c */
    const char *httpd_user;
    const char *ccache; /* client credentials for --online */
    const char *keytab; /* without a site file: */
    const char *host;
    const char *aliases[N8443_MAX_ALIASES];
    size_t naliases;
    const char *cert;
    const char *key;
    const char *chain;
    const char *realm;
    /* probe */
    const char *url;
    const char *as_principal; /* --as: a password prompt */
    const char *browser;      /* chrome | firefox | curl, NULL: all */
    const char *ca_file;      /* --ca: trust these, not the system's */
    const char *address;      /* --address: connect here, not to DNS's */
    long timeout;             /* --timeout seconds (0: default) */
    int no_login;
    int trace;
    /* groups resolve, and check --online against AD */
    const char *ldap_uri; /* --ldap-uri */
    const char *base;     /* --base DN */
    char *const *names;   /* the group names, in argv */
    size_t nnames;
};

int n8443_args_parse(int argc, char **argv,
                     const struct n8443_command *commands,
                     struct n8443_args *args_out);

/* ------------------------------------------------------------ help.c */

void n8443_help_general(const struct n8443_command *commands, int to_stderr);
int n8443_cmd_help(const struct n8443_args *args);
int n8443_cmd_version(const struct n8443_args *args);
/* The nearest name in COMMANDS to WORD (n8443_suggest), or NULL. */
const char *n8443_command_suggest(const struct n8443_command *commands,
                                  const char *word);

/* ------------------------------------------------------------ util.c */

/* A growing byte buffer.  An allocation failure sticks in `failed`, so
 * that a renderer can append without checking every call and look once
 * at the end. */
struct n8443_buf {
    char *data;
    size_t len;
    size_t cap;
    int failed;
};

void n8443_buf_init(struct n8443_buf *buf);
void n8443_buf_free(struct n8443_buf *buf);
void n8443_buf_add(struct n8443_buf *buf, const char *data, size_t len);
void n8443_buf_puts(struct n8443_buf *buf, const char *str);
void n8443_buf_printf(struct n8443_buf *buf, const char *fmt, ...)
    N8443_PRINTF(2, 3);

/* Everything the loader allocates comes from one arena and goes with it,
 * which keeps the many error paths of a validator free of leaks. */
struct n8443_arena_block;
struct n8443_arena {
    struct n8443_arena_block *head;
};

void *n8443_arena_alloc(struct n8443_arena *arena, size_t size);
char *n8443_arena_strndup(struct n8443_arena *arena, const char *str,
                          size_t len);
void n8443_arena_free(struct n8443_arena *arena);

size_t n8443_edit_distance(const char *a, const char *b);
const char *n8443_suggest(const char *word, const char *const *names);
int n8443_sha256(const void *data, size_t len, unsigned char md_out[32]);

/* ----------------------------------------------------------- fileio.c */

#define N8443_MAX_SITE_FILE (1024 * 1024)
#define N8443_MAX_CONF_FILE (16 * 1024 * 1024)

int n8443_read_file(const char *path, size_t max, char **data_out,
                    size_t *len_out);
int n8443_read_file_optional(const char *path, size_t max, char **data_out,
                             size_t *len_out, int *exists_out,
                             mode_t *mode_out);
int n8443_read_file_at(int dirfd, const char *name, const char *label,
                       size_t max, char **data_out, size_t *len_out,
                       int *exists_out, mode_t *mode_out);
int n8443_write_atomic(const char *path, const char *data, size_t len,
                       mode_t mode);
int n8443_write_atomic_at(int dirfd, const char *dir_label, const char *name,
                          const char *data, size_t len, mode_t mode);
/* Does the POSIX access ACL ACL (its xattr form, LEN bytes) let anyone but
 * root, SELF and a root-owned group write?  1 with WHO naming one ("user
 * 65534"), also for an ACL it cannot read; else 0. */
int n8443_acl_write_others(const unsigned char *acl, size_t len, uid_t self,
                           gid_t owner_gid, char *who, size_t who_size);
/* The same for the directory FD (or PATH when FD < 0), group OWNER_GID:
 * 0 when it has no ACL or one that gives nobody else write. */
int n8443_acl_dir_write_others(const char *path, int fd, gid_t owner_gid,
                               char *who, size_t who_size);

/* ----------------------------------------------------------- render.c */

struct n8443_config;
int n8443_render(const struct n8443_config *config, struct n8443_buf *out);
int n8443_cmd_render(const struct n8443_args *args);

/* ------------------------------------------------------ render_help.c */

struct n8443_site;
/* The LimitRequestFieldSize render writes for SITE's vhost: what the
 * largest NegotiateMaxTokenSize of the sites on its port needs. */
long n8443_render_field_size(const struct n8443_config *cfg,
                             const struct n8443_site *site);
void n8443_render_limits(const struct n8443_config *cfg,
                         const struct n8443_site *site, struct n8443_buf *out);
void n8443_render_help_server(const struct n8443_site *site,
                              struct n8443_buf *out);
void n8443_render_help_location(const struct n8443_site *site,
                                struct n8443_buf *out);
/* Is PATH under the 401 page's /negotiate8443-error/?  Such site
 * locations are rendered after the page's, so that they keep their
 * login. */
int n8443_render_under_page_path(const char *path);
void n8443_render_status_location(const struct n8443_site *site,
                                  struct n8443_buf *out);

/* ---------------------------------------------------- render_rcache.c */

struct n8443_kerberos;
/* NegotiateReplayCache (and its Redis settings) in a vhost. */
void n8443_render_replay_cache(const struct n8443_kerberos *krb,
                               struct n8443_buf *out);
/* NegotiateReplayCacheFile / Margin at the top level, when set. */
void n8443_render_replay_globals(const struct n8443_config *cfg,
                                 struct n8443_buf *out);

/* --------------------------------------------------- render_require.c */

struct n8443_location;
/* Who may pass LOC: its Require lines (and AuthGroupFile). */
void n8443_render_require(const struct n8443_location *loc,
                          struct n8443_buf *out);

/* ------------------------------------------------------------ udiff.c */

int n8443_diff_unified(const char *old_data, size_t old_len,
                       const char *new_data, size_t new_len,
                       const char *old_label, const char *new_label,
                       struct n8443_buf *out, int *differs_out);

/* ------------------------------------------------------------- diff.c */

int n8443_cmd_diff(const struct n8443_args *args);

/* ---------------------------------------------------------- install.c */

int n8443_default_target(const struct n8443_config *config, char **path_out);
int n8443_cmd_install(const struct n8443_args *args);

/* ------------------------------------------------------------ check.c */

int n8443_cmd_check(const struct n8443_args *args);

/* ------------------------------------------------------------ probe.c */

int n8443_cmd_probe(const struct n8443_args *args);

/* ----------------------------------------------------------- groups.c */

int n8443_cmd_groups(const struct n8443_args *args);

#endif /* N8443CTL_H */
