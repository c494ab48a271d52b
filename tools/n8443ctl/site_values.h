/*
 * n8443ctl - site file loader internals shared by site_values.c and
 * site_fields.c (one value at a time), and the passes: site_sections.c,
 * site_defaults.c, site_checks.c, run by site_load.c.
 *
 * Each n8443_ld_get_* checks one node for one key and fills *out only
 * when the value is good; otherwise it adds a diagnostic that names the
 * key and says what was expected and what the file has.
 */
#ifndef N8443CTL_SITE_VALUES_H
#define N8443CTL_SITE_VALUES_H

#include "site.h"
#include "site_yaml.h"

typedef struct n8443_ynode ynode;

struct n8443_ld {
    struct n8443_arena *arena;
    struct n8443_diags *diags;
    int oom;
};

/* Room for n8443_ld_show (SHOW_BUF) and n8443_ld_describe (DESCRIBE_BUF). */
#define SHOW_MAX     60
#define SHOW_BUF     (SHOW_MAX + 24)
#define DESCRIBE_BUF (SHOW_BUF + 20)

struct n8443_pos n8443_ld_pos(const ynode *n);
void n8443_ld_diag(struct n8443_ld *c, const ynode *n, const char *fmt, ...)
    N8443_PRINTF(3, 4);
void n8443_ld_diag_pos(struct n8443_ld *c, struct n8443_pos pos,
                       const char *fmt, ...) N8443_PRINTF(3, 4);
const char *n8443_ld_show(char *buf, const char *text, size_t len);
const char *n8443_ld_describe(char *buf, const ynode *n);
int n8443_ld_is_null(const ynode *n);

int n8443_ld_key_index(struct n8443_ld *c, const ynode *key,
                       const char *const *names, const ynode **seen);

void n8443_ld_set_str(struct n8443_str *out, const ynode *v);
int n8443_ld_want_quotable(struct n8443_ld *c, const ynode *v, const char *key,
                           const char *expected);
int n8443_ld_want_word(struct n8443_ld *c, const ynode *v, const char *key,
                       const char *expected);

void n8443_ld_get_path(struct n8443_ld *c, const ynode *v, const char *key,
                       struct n8443_str *out);
void n8443_ld_get_int(struct n8443_ld *c, const ynode *v, const char *key,
                      long min, long max, const char *unit,
                      struct n8443_int *out);
void n8443_ld_get_bool(struct n8443_ld *c, const ynode *v, const char *key,
                       struct n8443_bool *out);
void n8443_ld_get_enum(struct n8443_ld *c, const ynode *v, const char *key,
                       const char *const *names, struct n8443_enum *out);
/* Text for KEY: quoted, or plain but neither empty nor a boolean, no
 * control characters; 1, or 0 after a diagnostic naming EXPECTED. */
int n8443_ld_want_text(struct n8443_ld *c, const ynode *v, const char *key,
                       const char *expected);

/* Item checks for n8443_ld_get_list: 1 when good, 0 after a diagnostic. */
typedef int (*n8443_ld_item_check)(struct n8443_ld *c, const ynode *v,
                                   const char *key);
void n8443_ld_get_list(struct n8443_ld *c, const ynode *v, const char *key,
                       n8443_ld_item_check check, int allow_empty,
                       struct n8443_list *out);

/* ------------------------------------------------------ site_fields.c */

int n8443_ld_check_host(struct n8443_ld *c, const ynode *v, const char *key);
int n8443_ld_check_account(struct n8443_ld *c, const ynode *v, const char *key);
void n8443_ld_get_host(struct n8443_ld *c, const ynode *v, const char *key,
                       struct n8443_str *out);
void n8443_ld_get_site_name(struct n8443_ld *c, const ynode *v,
                            struct n8443_str *out);
void n8443_ld_get_service_principal(struct n8443_ld *c, const ynode *v,
                                    struct n8443_str *out);
/* HOST:PORT (HOST a DNS name, IPv4, or [IPv6]) in the LEN bytes at S. */
int n8443_ld_valid_host_port(const char *s, size_t len);
void n8443_ld_get_location_path(struct n8443_ld *c, const ynode *v,
                                struct n8443_str *out);
void n8443_ld_get_proxy(struct n8443_ld *c, const ynode *v,
                        struct n8443_str *out);
void n8443_ld_get_user_header(struct n8443_ld *c, const ynode *v,
                              struct n8443_str *out);
void n8443_ld_get_header(struct n8443_ld *c, const ynode *v, const char *key,
                         struct n8443_str *out);
int n8443_ld_check_group(struct n8443_ld *c, const ynode *v, const char *key);

/* -------------------------------------------------------- the passes */

/* Built-in default of `listen` (the clock skew's is core/modes.h's). */
#define N8443_LD_DEFAULT_PORT 8443

/* site_sections.c: pass 1. */
extern const char *const n8443_ld_delegation_names[];
int n8443_ld_want_map(struct n8443_ld *c, const ynode *v, const char *key);
void n8443_ld_parse_site(struct n8443_ld *c, const ynode *map,
                         struct n8443_site *site, int in_defaults);

/* site_behind.c: the `behind:` block. */
void n8443_ld_parse_behind(struct n8443_ld *c, const ynode *map,
                           struct n8443_behind *behind);

/* site_replay.c: replay_cache, the `redis:` block (pass 1), and their
 * rules after merging (pass 3). */
void n8443_ld_get_replay_cache(struct n8443_ld *c, const ynode *v,
                               struct n8443_replay *out);
void n8443_ld_parse_redis(struct n8443_ld *c, const ynode *map,
                          struct n8443_redis *redis);
void n8443_ld_check_redis(struct n8443_ld *c, const struct n8443_site *site);
void n8443_ld_check_replay_globals(struct n8443_ld *c,
                                   struct n8443_config *cfg);

/* site_defaults.c: pass 2. */
void n8443_ld_merge_defaults(struct n8443_site *site,
                             const struct n8443_site *defs);
int n8443_ld_apply_builtin_defaults(struct n8443_ld *c,
                                    struct n8443_site *site);

/* site_checks.c: pass 3. */
void n8443_ld_check_site(struct n8443_ld *c, struct n8443_site *site,
                         int own_tls);
void n8443_ld_check_host_names(struct n8443_ld *c,
                               const struct n8443_config *cfg);
void n8443_ld_check_site_names(struct n8443_ld *c,
                               const struct n8443_config *cfg);
void n8443_ld_check_clock_skew(struct n8443_ld *c, struct n8443_config *cfg);

#endif /* N8443CTL_SITE_VALUES_H */
