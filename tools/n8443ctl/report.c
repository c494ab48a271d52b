/*
 * n8443ctl - check records and --only.
 *
 * The checks add records and never print.  Text (for people) and JSON
 * (for programs) are built from the same records (report_print.c), so the
 * two cannot say different things, and the exit status comes from them
 * too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/*
 * Every id `check` can report, in the order n8443ctl(8) documents them.
 * Ids are an interface: scripts filter on them (--only, JSON), so one
 * never changes meaning; a new check gets a new id.
 */
const struct n8443_check_id n8443_check_ids[] = {
    {"site.file", 0},
    {"site.invalid", 0},
    {"krb5.config", 0},
    {"krb5.realm", 0},
    {"krb5.clock-skew", 0},
    {"krb5.replay-cache", 0},
    {"krb5.replay-cache-file", 0},
    {"krb5.service-principal", 0},
    {"krb5.gssproxy", 0},
    {"krb5.redis-module", 0},
    {"krb5.redis-host", 0},
    {"krb5.redis-auth", 0},
    {"krb5.redis-tls", 0},
    {"keytab.file", 0},
    {"keytab.permissions", 0},
    {"keytab.httpd-user", 0},
    {"keytab.spn", 0},
    {"keytab.spn-port", 0},
    {"keytab.enctypes", 0},
    {"keytab.permitted", 0},
    {"cert.file", 0},
    {"cert.key", 0},
    {"cert.san", 0},
    {"cert.expiry", 0},
    {"cert.chain", 0},
    {"cert.channel-binding", 0},
    {"dns.resolve", 0},
    {"dns.canonical", 0},
    {"selinux.enabled", 0},
    {"selinux.keytab", 0},
    {"selinux.writable", 0},
    {"selinux.boolean", 0},
    {"selinux.port", 0},
    {"http.token-size", 0},
    {"http.field-size", 0},
    {"online.client", 1},
    {"online.clock", 1},
    {"online.kvno", 1},
    {"online.decrypt", 1},
    {"online.spnego", 1},
    {"online.replay", 1},
    {"online.redis", 1},
    {"online.ad-ldap", 1},
    {"online.ad-spn", 1},
    {"online.ad-kvno", 1},
    {"online.ad-enctypes", 1},
    {"online.ad-rc4", 1},
    {"online.ad-account", 1},
    {NULL, 0},
};

/* Records that say why nothing else could run: --only never hides them. */
static int is_precondition(const char *id)
{
    return strcmp(id, "site.file") == 0 || strcmp(id, "site.invalid") == 0
           || strcmp(id, "krb5.config") == 0;
}

void n8443_report_init(struct n8443_report *rep)
{
    memset(rep, 0, sizeof(*rep));
}

static void record_free(struct n8443_record *rec)
{
    size_t i;

    if (rec == NULL) {
        return;
    }
    for (i = 0; i < rec->ndetails; i++) {
        free(rec->details[i].key);
        free(rec->details[i].value);
    }
    free(rec->details);
    free(rec->message);
    free(rec);
}

void n8443_report_free(struct n8443_report *rep)
{
    size_t i;

    for (i = 0; i < rep->n; i++) {
        record_free(rep->records[i]);
    }
    free(rep->records);
    for (i = 0; i < rep->nonly; i++) {
        free(rep->only[i]);
    }
    free(rep->only);
    memset(rep, 0, sizeof(*rep));
}

static const struct n8443_check_id *find_id(const char *id)
{
    size_t i;

    for (i = 0; n8443_check_ids[i].id != NULL; i++) {
        if (strcmp(n8443_check_ids[i].id, id) == 0) {
            return &n8443_check_ids[i];
        }
    }
    return NULL;
}

/* Is FAMILY ("keytab") the family of some id? */
static int is_family(const char *family, size_t len)
{
    size_t i;

    for (i = 0; n8443_check_ids[i].id != NULL; i++) {
        const char *id = n8443_check_ids[i].id;

        if (strncmp(id, family, len) == 0 && id[len] == '.') {
            return 1;
        }
    }
    return 0;
}

/* Does one --only item ("keytab", "keytab.*", "keytab.spn") select ID? */
static int item_selects(const char *item, const char *id)
{
    size_t len = strlen(item);

    if (strcmp(item, id) == 0) {
        return 1;
    }
    if (len > 2 && strcmp(item + len - 2, ".*") == 0) {
        len -= 2;
    }
    else if (strchr(item, '.') != NULL) {
        return 0;
    }
    return strncmp(item, id, len) == 0 && id[len] == '.';
}

/* An id, a family, or a family with ".*". */
static int only_item_valid(const char *item)
{
    size_t len = strlen(item);

    if (find_id(item) != NULL) {
        return 1;
    }
    if (len > 2 && strcmp(item + len - 2, ".*") == 0) {
        return is_family(item, len - 2);
    }
    return strchr(item, '.') == NULL && is_family(item, len);
}

/* Names --only accepts, for "did you mean". */
static const char *const *only_words(void)
{
    static const char
        *words[sizeof(n8443_check_ids) / sizeof(n8443_check_ids[0]) + 8];
    static const char *const families[] = {"site", "krb5",   "keytab",
                                           "cert", "dns",    "selinux",
                                           "http", "online", NULL};
    size_t n = 0;
    size_t i;

    for (i = 0; families[i] != NULL; i++) {
        words[n++] = families[i];
    }
    for (i = 0; n8443_check_ids[i].id != NULL; i++) {
        words[n++] = n8443_check_ids[i].id;
    }
    words[n] = NULL;
    return words;
}

int n8443_report_set_only(struct n8443_report *rep, const char *list, char *err,
                          size_t errlen)
{
    const char *p = list;
    char **items = NULL;
    size_t nitems = 0;
    size_t i;
    int rc = N8443_USAGE;

    if (*list == '\0') {
        snprintf(err, errlen, "--only needs at least one check id");
        goto cleanup;
    }
    items = calloc(strlen(list) / 2 + 2, sizeof(*items));
    if (items == NULL) {
        rc = N8443_IO;
        goto cleanup;
    }
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char *item;

        if (len == 0) {
            snprintf(err, errlen, "--only: empty check id in '%s'", list);
            goto cleanup;
        }
        item = malloc(len + 1);
        if (item == NULL) {
            rc = N8443_IO;
            goto cleanup;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        items[nitems++] = item;
        if (!only_item_valid(item)) {
            const char *hint = n8443_suggest(item, only_words());

            if (hint != NULL) {
                snprintf(err, errlen,
                         "--only: unknown check '%s' (did you mean '%s'?)",
                         item, hint);
            }
            else {
                snprintf(err, errlen,
                         "--only: unknown check '%s' (n8443ctl(8) lists "
                         "them)",
                         item);
            }
            goto cleanup;
        }
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    for (i = 0; i < rep->nonly; i++) {
        free(rep->only[i]);
    }
    free(rep->only);
    rep->only = items;
    rep->nonly = nitems;
    items = NULL;
    rc = N8443_OK;

cleanup:
    if (items != NULL) {
        for (i = 0; i < nitems; i++) {
            free(items[i]);
        }
        free(items);
    }
    return rc;
}

int n8443_report_wants(const struct n8443_report *rep, const char *id)
{
    size_t i;

    if (rep->nonly == 0 || is_precondition(id)) {
        return 1;
    }
    for (i = 0; i < rep->nonly; i++) {
        if (item_selects(rep->only[i], id)) {
            return 1;
        }
    }
    return 0;
}

int n8443_report_wants_online(const struct n8443_report *rep)
{
    size_t i;

    for (i = 0; n8443_check_ids[i].id != NULL; i++) {
        if (n8443_check_ids[i].online
            && n8443_report_wants(rep, n8443_check_ids[i].id)) {
            return 1;
        }
    }
    return 0;
}

int n8443_report_only_names_online(const struct n8443_report *rep)
{
    size_t i;
    size_t j;

    for (i = 0; i < rep->nonly; i++) {
        int online = 0;
        int offline = 0;

        for (j = 0; n8443_check_ids[j].id != NULL; j++) {
            if (item_selects(rep->only[i], n8443_check_ids[j].id)) {
                if (n8443_check_ids[j].online) {
                    online = 1;
                }
                else {
                    offline = 1;
                }
            }
        }
        if (online && !offline) {
            return 1;
        }
    }
    return 0;
}

static char *vformat(const char *fmt, va_list ap) N8443_PRINTF(1, 0);
static char *vformat(const char *fmt, va_list ap)
{
    va_list copy;
    char *s;
    int len;

    va_copy(copy, ap);
    len = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (len < 0) {
        return NULL;
    }
    s = malloc((size_t)len + 1);
    if (s != NULL) {
        vsnprintf(s, (size_t)len + 1, fmt, ap);
    }
    return s;
}

/* Append a detail that owns KEY and VALUE (both freed on failure). */
static void add_detail(struct n8443_report *rep, struct n8443_record *rec,
                       char *key, char *value, int is_number)
{
    struct n8443_detail *grown;

    if (key == NULL || value == NULL) {
        goto fail;
    }
    grown = realloc(rec->details, (rec->ndetails + 1) * sizeof(*grown));
    if (grown == NULL) {
        goto fail;
    }
    rec->details = grown;
    grown[rec->ndetails].key = key;
    grown[rec->ndetails].value = value;
    grown[rec->ndetails].is_number = is_number;
    rec->ndetails++;
    return;

fail:
    free(key);
    free(value);
    rep->failed = 1;
}

static char *dup_str(const char *s)
{
    size_t len = strlen(s) + 1;
    char *copy = malloc(len);

    if (copy != NULL) {
        memcpy(copy, s, len);
    }
    return copy;
}

struct n8443_record *n8443_report_add(struct n8443_report *rep, const char *id,
                                      enum n8443_severity severity,
                                      const char *fmt, ...)
{
    struct n8443_record *rec;
    va_list ap;

    if (!n8443_report_wants(rep, id)) {
        return NULL;
    }
    if (rep->n == rep->cap) {
        size_t cap = rep->cap ? rep->cap * 2 : 32;
        struct n8443_record **grown =
            realloc(rep->records, cap * sizeof(*grown));

        if (grown == NULL) {
            rep->failed = 1;
            return NULL;
        }
        rep->records = grown;
        rep->cap = cap;
    }
    rec = calloc(1, sizeof(*rec));
    if (rec == NULL) {
        rep->failed = 1;
        return NULL;
    }
    rec->id = id;
    rec->severity = severity;
    va_start(ap, fmt);
    rec->message = vformat(fmt, ap);
    va_end(ap);
    if (rec->message == NULL) {
        free(rec);
        rep->failed = 1;
        return NULL;
    }
    rep->records[rep->n++] = rec;
    if (rep->site != NULL) {
        add_detail(rep, rec, dup_str("site"), dup_str(rep->site), 0);
    }
    return rec;
}

void n8443_record_detail(struct n8443_report *rep, struct n8443_record *rec,
                         const char *key, const char *fmt, ...)
{
    va_list ap;
    char *value;

    if (rec == NULL) {
        return;
    }
    va_start(ap, fmt);
    value = vformat(fmt, ap);
    va_end(ap);
    add_detail(rep, rec, dup_str(key), value, 0);
}

void n8443_record_detail_num(struct n8443_report *rep, struct n8443_record *rec,
                             const char *key, long long value)
{
    char text[32];

    if (rec == NULL) {
        return;
    }
    snprintf(text, sizeof(text), "%lld", value);
    add_detail(rep, rec, dup_str(key), dup_str(text), 1);
}

void n8443_record_unusable(struct n8443_record *rec)
{
    if (rec != NULL) {
        rec->unusable = 1;
        rec->severity = N8443_SEV_ERROR;
    }
}
