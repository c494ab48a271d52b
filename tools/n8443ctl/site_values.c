/*
 * n8443ctl - site file loader, part 1: one value at a time.
 *
 * Checks of a single YAML node against what its key needs (type, range,
 * form) and the diagnostics they produce; the values with a form of
 * their own (principal, replay cache URL, proxy...) are site_fields.c's.
 * site_sections.c walks the sections and calls these.
 *
 * Every string that reaches the renderer passes through here and is
 * checked for the characters that could break out of an httpd directive
 * (line breaks, quotes, backslashes): the renderer quotes but does not
 * escape.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "site_values.h"

/* ------------------------------------------------------- diagnostics */

struct n8443_pos n8443_ld_pos(const ynode *n)
{
    struct n8443_pos pos;

    pos.line = n->line;
    pos.col = n->col;
    return pos;
}

void n8443_ld_diag_pos(struct n8443_ld *c, struct n8443_pos pos,
                       const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    n8443_diag_addv(c->diags, pos.line, pos.col, fmt, ap);
    va_end(ap);
}

void n8443_ld_diag(struct n8443_ld *c, const ynode *n, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    n8443_diag_addv(c->diags, n->line, n->col, fmt, ap);
    va_end(ap);
}

/*
 * TEXT as a message may quote it: control characters become '?' (a
 * message must not carry a line break from the file) and long text is
 * cut, at a UTF-8 character boundary, with "...".
 */
const char *n8443_ld_show(char *buf, const char *text, size_t len)
{
    size_t n = len > SHOW_MAX ? SHOW_MAX : len;
    size_t i;

    if (n < len) {
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80) {
            n--;
        }
    }
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)text[i];

        buf[i] = (ch < 0x20 || ch == 0x7F) ? '?' : (char)ch;
    }
    if (n < len) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

/* --------------------------------------------------- scalar typing */

int n8443_ld_is_null(const ynode *n)
{
    return n->kind == N8443_YSCALAR && n->plain
           && (n->len == 0 || strcmp(n->text, "~") == 0
               || strcmp(n->text, "null") == 0 || strcmp(n->text, "Null") == 0
               || strcmp(n->text, "NULL") == 0);
}

/* YAML 1.2 core booleans.  yes/no/on/off (YAML 1.1) are not booleans
 * here, so `hsts: yes` is reported instead of guessed at. */
static int scalar_bool(const ynode *n, int *value_out)
{
    static const char *const yes[] = {"true", "True", "TRUE", NULL};
    static const char *const no[] = {"false", "False", "FALSE", NULL};
    size_t i;

    if (n->kind != N8443_YSCALAR || !n->plain) {
        return 0;
    }
    for (i = 0; yes[i] != NULL; i++) {
        if (strcmp(n->text, yes[i]) == 0) {
            *value_out = 1;
            return 1;
        }
        if (strcmp(n->text, no[i]) == 0) {
            *value_out = 0;
            return 1;
        }
    }
    return 0;
}

/* A plain decimal integer: optional '-', digits, no leading zero (YAML
 * 1.1 would read 0644 as octal, 1.2 as decimal; neither is guessed). */
static int is_decimal(const ynode *n)
{
    const char *p = n->text;
    size_t digits;

    if (n->kind != N8443_YSCALAR || !n->plain || n->len != strlen(p)) {
        return 0;
    }
    if (*p == '-') {
        p++;
    }
    digits = strspn(p, "0123456789");
    if (digits == 0 || p[digits] != '\0' || digits > 18) {
        return 0;
    }
    return !(p[0] == '0' && digits > 1);
}

/* What the file has, in words: "a list", "'5m'", "a quoted string '8443'". */
const char *n8443_ld_describe(char *buf, const ynode *n)
{
    char shown[SHOW_BUF];

    if (n->kind == N8443_YMAP) {
        return "a mapping";
    }
    if (n->kind == N8443_YSEQ) {
        return "a list";
    }
    if (n8443_ld_is_null(n)) {
        return "an empty value";
    }
    snprintf(buf, SHOW_BUF + 20, n->plain ? "'%s'" : "a quoted string '%s'",
             n8443_ld_show(shown, n->text, n->len));
    return buf;
}

/* ------------------------------------------------------- mapping keys */

/* Where each key belongs, to answer "unknown key 'keytab'" at site level
 * with "it belongs under 'kerberos'". */
struct placement {
    const char *key;
    const char *where;
};

static const struct placement placements[] = {
    {"certificate", "under 'tls'"},
    {"key", "under 'tls'"},
    {"chain", "under 'tls'"},
    {"profile", "under 'tls'"},
    {"hsts", "under 'tls'"},
    {"realm", "under 'kerberos'"},
    {"keytab", "under 'kerberos'"},
    {"service_principal", "under 'kerberos'"},
    {"gssproxy", "under 'kerberos'"},
    {"replay_cache", "under 'kerberos'"},
    {"redis", "under 'kerberos'"},
    {"replay_cache_file", "under 'kerberos'"},
    {"replay_cache_margin", "under 'kerberos'"},
    {"auth_file", "under 'redis'"},
    {"tls_ca", "under 'redis'"},
    {"tls_name", "under 'redis'"},
    {"wait_replicas", "under 'redis'"},
    {"wait_timeout", "under 'redis'"},
    {"clock_skew", "under 'kerberos'"},
    {"channel_binding", "under 'kerberos'"},
    {"basic_fallback", "under 'kerberos'"},
    {"user_name", "under 'kerberos'"},
    {"session", "under 'kerberos'"},
    {"session_key_file", "under 'kerberos'"},
    {"session_max_age", "under 'kerberos'"},
    {"delegation", "under 'kerberos'"},
    {"delegation_dir", "under 'kerberos'"},
    {"max_token_size", "under 'kerberos'"},
    {"negotiate_once", "under 'kerberos'"},
    {"contact", "under 'help'"},
    {"url", "under 'help'"},
    {"pages", "under 'help'"},
    {"group_map", "under 'kerberos'"},
    {"path", "in an entry of 'locations'"},
    {"require", "in an entry of 'locations'"},
    {"group_file", "in an entry of 'locations'"},
    {"proxy", "in an entry of 'locations'"},
    {"user_header", "in an entry of 'locations'"},
    {"forward_groups", "in an entry of 'locations'"},
    {"users", "under 'require'"},
    {"groups", "under 'require'"},
    {"auth_indicators", "under 'require'"},
    {"server_name", "in a site"},
    {"aliases", "in a site"},
    {"listen", "in a site"},
    {"tls", "in a site"},
    {"kerberos", "in a site"},
    {"locations", "in a site"},
    {"auth_name", "in a site"},
    {"help", "in a site"},
    {NULL, NULL},
};

/*
 * Look the key KEY up in NAMES.  Returns its index, or -1 after reporting
 * a key that is not a name, is unknown (with the closest name or the
 * section it belongs to) or repeats one seen before (SEEN has a slot per
 * name and remembers the first occurrence).
 */
int n8443_ld_key_index(struct n8443_ld *c, const ynode *key,
                       const char *const *names, const ynode **seen)
{
    char shown[SHOW_BUF];
    char described[DESCRIBE_BUF];
    const char *hint;
    size_t i;

    if (key->kind != N8443_YSCALAR || n8443_ld_is_null(key)) {
        n8443_ld_diag(c, key, "a key must be a name, got %s",
                      n8443_ld_describe(described, key));
        return -1;
    }
    for (i = 0; names[i] != NULL; i++) {
        if (strcmp(key->text, names[i]) == 0 && key->len == strlen(names[i])) {
            if (seen[i] != NULL) {
                n8443_ld_diag(c, key, "duplicate key '%s' (first at %d:%d)",
                              names[i], seen[i]->line, seen[i]->col);
                return -1;
            }
            seen[i] = key;
            return (int)i;
        }
    }
    n8443_ld_show(shown, key->text, key->len);
    hint =
        key->len == strlen(key->text) ? n8443_suggest(key->text, names) : NULL;
    if (hint != NULL) {
        n8443_ld_diag(c, key, "unknown key '%s' (did you mean '%s'?)", shown,
                      hint);
        return -1;
    }
    for (i = 0; placements[i].key != NULL; i++) {
        if (strcmp(key->text, placements[i].key) == 0) {
            n8443_ld_diag(c, key, "unknown key '%s' here (it belongs %s)",
                          shown, placements[i].where);
            return -1;
        }
    }
    n8443_ld_diag(c, key, "unknown key '%s'", shown);
    return -1;
}

/* ------------------------------------------------------ value checks */

void n8443_ld_set_str(struct n8443_str *out, const ynode *v)
{
    out->v = v->text;
    out->pos = n8443_ld_pos(v);
    out->set = 1;
}

#define MAX_TEXT 1024

/*
 * Every value is rendered as a literal, but httpd reads some sequences in
 * it as something else: "${NAME}" in any directive is replaced with a
 * Define or an environment variable when the configuration is read, and
 * AuthName and Require user/group are string expressions (ap_expr), where
 * "%{...}" is a variable or a function of the request (%{HTTP:X} lets the
 * client choose the required user, %{file:/path} sends a file to every
 * client) and "$0".."$9" a regex back-reference ('\' escapes and quotes are
 * refused by the callers that quote).  None of them has a use in a site
 * file, so they are refused in every value, with the value's position.
 */
static int interpreted_by_httpd(struct n8443_ld *c, const ynode *v,
                                const char *key)
{
    const char *p;

    for (p = v->text; p < v->text + v->len; p++) {
        if (p[0] == '%' && p[1] == '{') {
            n8443_ld_diag(c, v,
                          "'%s' must not contain '%%{': httpd would read "
                          "it as an expression variable, not as text",
                          key);
            return 1;
        }
        if (p[0] == '$' && p[1] == '{') {
            n8443_ld_diag(c, v,
                          "'%s' must not contain '${': httpd would replace "
                          "it with a variable when it reads the "
                          "configuration",
                          key);
            return 1;
        }
        if (p[0] == '$' && p[1] >= '0' && p[1] <= '9') {
            n8443_ld_diag(c, v,
                          "'%s' must not contain '$%c': httpd would read it "
                          "as a regular expression back-reference",
                          key, p[1]);
            return 1;
        }
    }
    return 0;
}

/*
 * A scalar that can stand for text: quoted, or plain but neither empty
 * nor a boolean (a plain number is fine text: `name: 2024`), without
 * control characters (a line break would end the httpd directive and
 * start one the file's author did not write).
 */
int n8443_ld_want_text(struct n8443_ld *c, const ynode *v, const char *key,
                       const char *expected)
{
    char described[DESCRIBE_BUF];
    int ignored;
    size_t i;

    if (v->kind != N8443_YSCALAR || n8443_ld_is_null(v)
        || scalar_bool(v, &ignored)) {
        n8443_ld_diag(c, v, "'%s' must be %s, got %s", key, expected,
                      n8443_ld_describe(described, v));
        return 0;
    }
    if (v->len == 0) {
        n8443_ld_diag(c, v, "'%s' must not be empty", key);
        return 0;
    }
    for (i = 0; i < v->len; i++) {
        unsigned char ch = (unsigned char)v->text[i];

        if (ch < 0x20 || ch == 0x7F) {
            n8443_ld_diag(c, v,
                          "'%s' contains a control character (a line break "
                          "would end the httpd directive)",
                          key);
            return 0;
        }
    }
    if (v->len > MAX_TEXT) {
        n8443_ld_diag(c, v, "'%s' is longer than %d characters", key, MAX_TEXT);
        return 0;
    }
    return !interpreted_by_httpd(c, v, key);
}

/* Text that goes into a quoted httpd argument: no '"' and no '\', which
 * httpd's argument parser would read as the end or an escape. */
int n8443_ld_want_quotable(struct n8443_ld *c, const ynode *v, const char *key,
                           const char *expected)
{
    if (!n8443_ld_want_text(c, v, key, expected)) {
        return 0;
    }
    if (strpbrk(v->text, "\"\\") != NULL) {
        n8443_ld_diag(c, v, "'%s' must not contain '\"' or '\\'", key);
        return 0;
    }
    return 1;
}

/* Text without blanks or quotes: one httpd argument as it stands. */
int n8443_ld_want_word(struct n8443_ld *c, const ynode *v, const char *key,
                       const char *expected)
{
    char shown[SHOW_BUF];

    if (!n8443_ld_want_text(c, v, key, expected)) {
        return 0;
    }
    if (strpbrk(v->text, " \"\\'") != NULL) {
        n8443_ld_diag(c, v,
                      "'%s' must be %s without spaces or quotes, got '%s'", key,
                      expected, n8443_ld_show(shown, v->text, v->len));
        return 0;
    }
    return 1;
}

/* A file httpd or the module opens.  Relative paths are refused: httpd
 * would resolve them against ServerRoot, which is /etc/httpd on RHEL and
 * /etc/apache2 on Debian, so one site file would mean two files. */
void n8443_ld_get_path(struct n8443_ld *c, const ynode *v, const char *key,
                       struct n8443_str *out)
{
    char shown[SHOW_BUF];

    out->seen = 1;
    if (!n8443_ld_want_quotable(c, v, key, "an absolute path")) {
        return;
    }
    if (v->text[0] != '/') {
        n8443_ld_diag(c, v, "'%s' must be an absolute path, got '%s'", key,
                      n8443_ld_show(shown, v->text, v->len));
        return;
    }
    n8443_ld_set_str(out, v);
}

/* A plain integer in [MIN, MAX]; UNIT ("a port number") says in the
 * message what the number counts. */
void n8443_ld_get_int(struct n8443_ld *c, const ynode *v, const char *key,
                      long min, long max, const char *unit,
                      struct n8443_int *out)
{
    char described[DESCRIBE_BUF];
    long value;

    out->seen = 1;
    if (!is_decimal(v)) {
        n8443_ld_diag(c, v, "'%s' must be %s from %ld to %ld, got %s", key,
                      unit, min, max, n8443_ld_describe(described, v));
        return;
    }
    errno = 0;
    value = strtol(v->text, NULL, 10);
    if (errno != 0 || value < min || value > max) {
        n8443_ld_diag(c, v,
                      "'%s' %s is out of range: it must be %s from %ld to %ld",
                      key, v->text, unit, min, max);
        return;
    }
    out->v = value;
    out->pos = n8443_ld_pos(v);
    out->set = 1;
}

void n8443_ld_get_bool(struct n8443_ld *c, const ynode *v, const char *key,
                       struct n8443_bool *out)
{
    char described[DESCRIBE_BUF];
    int value;

    out->seen = 1;
    if (!scalar_bool(v, &value)) {
        n8443_ld_diag(c, v, "'%s' must be true or false, got %s", key,
                      n8443_ld_describe(described, v));
        return;
    }
    out->v = value;
    out->pos = n8443_ld_pos(v);
    out->set = 1;
}

/* "one of a, b, c" for NAMES. */
static const char *one_of(char *buf, size_t size, const char *const *names)
{
    size_t i;
    size_t used;

    used = (size_t)snprintf(buf, size, "one of");
    for (i = 0; names[i] != NULL && used < size; i++) {
        used += (size_t)snprintf(buf + used, size - used, "%s %s", i ? "," : "",
                                 names[i]);
    }
    return buf;
}

void n8443_ld_get_enum(struct n8443_ld *c, const ynode *v, const char *key,
                       const char *const *names, struct n8443_enum *out)
{
    char expected[128];
    char shown[SHOW_BUF];
    const char *hint;
    size_t i;

    out->seen = 1;
    one_of(expected, sizeof(expected), names);
    if (!n8443_ld_want_text(c, v, key, expected)) {
        return;
    }
    for (i = 0; names[i] != NULL; i++) {
        if (strcmp(v->text, names[i]) == 0) {
            out->v = (int)i;
            out->pos = n8443_ld_pos(v);
            out->set = 1;
            return;
        }
    }
    n8443_ld_show(shown, v->text, v->len);
    hint = n8443_suggest(v->text, names);
    if (hint != NULL) {
        n8443_ld_diag(c, v, "'%s' must be %s, got '%s' (did you mean '%s'?)",
                      key, expected, shown, hint);
    }
    else {
        n8443_ld_diag(c, v, "'%s' must be %s, got '%s'", key, expected, shown);
    }
}

/*
 * A list of scalars, each passed through CHECK with KEY[i] as its name so
 * that a message says which entry is wrong.  An empty list is an error
 * unless ALLOW_EMPTY.
 */
void n8443_ld_get_list(struct n8443_ld *c, const ynode *v, const char *key,
                       n8443_ld_item_check check, int allow_empty,
                       struct n8443_list *out)
{
    char described[DESCRIBE_BUF];
    char item_key[64];
    const char **items;
    struct n8443_pos *item_pos;
    size_t i;
    size_t good = 0;

    out->seen = 1;
    if (v->kind != N8443_YSEQ) {
        n8443_ld_diag(c, v, "'%s' must be a list, got %s", key,
                      n8443_ld_describe(described, v));
        return;
    }
    if (v->nitems == 0 && !allow_empty) {
        n8443_ld_diag(c, v, "'%s' must not be an empty list", key);
        return;
    }
    items = n8443_arena_alloc(c->arena, (v->nitems + 1) * sizeof(*items));
    item_pos = n8443_arena_alloc(c->arena, (v->nitems + 1) * sizeof(*item_pos));
    if (items == NULL || item_pos == NULL) {
        c->oom = 1;
        return;
    }
    for (i = 0; i < v->nitems; i++) {
        snprintf(item_key, sizeof(item_key), "%s[%zu]", key, i);
        if (check(c, v->items[i], item_key)) {
            items[good] = v->items[i]->text;
            item_pos[good] = n8443_ld_pos(v->items[i]);
            good++;
        }
    }
    if (good != v->nitems) {
        return;
    }
    out->v = items;
    out->item_pos = item_pos;
    out->n = good;
    out->pos = n8443_ld_pos(v);
    out->set = 1;
}
