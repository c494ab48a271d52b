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
    N8443_DIFFERS = 1,      /* diff: the files differ */
    N8443_USAGE = 2,        /* bad command line */
    N8443_INVALID = 3,      /* invalid site file */
    N8443_IO = 4,           /* a file or service could not be used */
    N8443_ROLLED_BACK = 5   /* writing or the config test failed; undone */
};

/* ------------------------------------------------------------ args.c */

enum n8443_command {
    N8443_CMD_NONE = 0,
    N8443_CMD_HELP,
    N8443_CMD_VERSION,
    N8443_CMD_RENDER,
    N8443_CMD_DIFF,
    N8443_CMD_INSTALL,
    N8443_CMD_CHECK,
    N8443_CMD_PROBE
};

/* check --alias may be given this many times. */
#define N8443_MAX_ALIASES 32

struct n8443_args {
    enum n8443_command command;
    const char *site_path;      /* SITE.yaml, "-" for stdin */
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
    const char *format;         /* text (NULL) | json */
    const char *only;           /* --only IDS, checked by check.c */
    const char *httpd_user;
    const char *ccache;         /* client credentials for --online */
    const char *keytab;         /* without a site file: */
    const char *host;
    const char *aliases[N8443_MAX_ALIASES];
    size_t naliases;
    const char *cert;
    const char *key;
    const char *chain;
    const char *realm;
    /* probe */
    const char *url;
    const char *as_principal;   /* --as: a password prompt */
    const char *browser;        /* chrome | firefox | curl, NULL: all */
    const char *ca_file;        /* --ca: trust these, not the system's */
    const char *address;        /* --address: connect here, not to DNS's */
    long timeout;               /* --timeout seconds (0: default) */
    int no_login;
    int trace;
};

int n8443_args_parse(int argc, char **argv, struct n8443_args *args_out);

/* ------------------------------------------------------------ help.c */

void n8443_help_general(int to_stderr);
int n8443_help_command(const char *name, int to_stderr);
const char *const *n8443_command_names(void);

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
int n8443_acl_write_others(const unsigned char *acl, size_t len,
                           uid_t self, gid_t owner_gid, char *who,
                           size_t who_size);
/* The same for the directory FD (or PATH when FD < 0), group OWNER_GID:
 * 0 when it has no ACL or one that gives nobody else write. */
int n8443_acl_dir_write_others(const char *path, int fd, gid_t owner_gid,
                               char *who, size_t who_size);

/* ----------------------------------------------------------- render.c */

struct n8443_config;
int n8443_render(const struct n8443_config *config, struct n8443_buf *out);
int n8443_cmd_render(const struct n8443_args *args);

/* ------------------------------------------------------------- diff.c */

int n8443_diff_unified(const char *old_data, size_t old_len,
                       const char *new_data, size_t new_len,
                       const char *old_label, const char *new_label,
                       struct n8443_buf *out, int *differs_out);
int n8443_cmd_diff(const struct n8443_args *args);

/* ---------------------------------------------------------- install.c */

int n8443_default_target(const struct n8443_config *config,
                         char **path_out);
int n8443_cmd_install(const struct n8443_args *args);

/* ------------------------------------------------------------ check.c */

int n8443_cmd_check(const struct n8443_args *args);

/* ------------------------------------------------------------ probe.c */

int n8443_cmd_probe(const struct n8443_args *args);

#endif /* N8443CTL_H */
