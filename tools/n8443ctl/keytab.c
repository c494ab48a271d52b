/*
 * n8443ctl - a keytab as `klist -k -e` shows it: every entry read once
 * with krb5_kt_*, and the lookups the checks make in it.  A plain library
 * below check_keytab.c and the online checks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "keytab_name.h"

const char *n8443_enctype_name(krb5_enctype e, char *buf, size_t len)
{
    if (krb5_enctype_to_name(e, FALSE, buf, len) != 0) {
        snprintf(buf, len, "enctype %d", (int)e);
    }
    return buf;
}

/* The file behind a keytab name, or NULL for other types: krb5's own
 * rule, the module's too (core/keytab_name.c). */
const char *n8443_keytab_file(const char *name)
{
    return n8443_keytab_name_file(name);
}

static char *component(const krb5_data *d)
{
    char *s = malloc(d->length + 1);

    if (s != NULL) {
        memcpy(s, d->data, d->length);
        s[d->length] = '\0';
    }
    return s;
}

/* Append one entry's names to KT.  Returns 0, or -1 without memory. */
static int add_entry(krb5_context kctx, struct n8443_keytab *kt,
                     const krb5_keytab_entry *entry, size_t *cap)
{
    struct n8443_kt_entry *e;
    krb5_principal p = entry->principal;

    if (kt->n == *cap) {
        size_t grown_cap = *cap ? *cap * 2 : 16;
        struct n8443_kt_entry *grown =
            realloc(kt->entries, grown_cap * sizeof(*grown));

        if (grown == NULL) {
            return -1;
        }
        kt->entries = grown;
        *cap = grown_cap;
    }
    e = &kt->entries[kt->n];
    memset(e, 0, sizeof(*e));
    if (krb5_unparse_name(kctx, p, &e->principal) != 0) {
        return -1;
    }
    /* Freed with free(): keep our own copy. */
    {
        char *copy = strdup(e->principal);

        krb5_free_unparsed_name(kctx, e->principal);
        e->principal = copy;
    }
    e->realm = component(&p->realm);
    if (p->length == 2) {
        e->service = component(&p->data[0]);
        e->host = component(&p->data[1]);
    }
    e->kvno = entry->vno;
    e->enctype = entry->key.enctype;
    kt->n++;
    if (e->principal == NULL || e->realm == NULL
        || (p->length == 2 && (e->service == NULL || e->host == NULL))) {
        return -1;
    }
    return 0;
}

/* Read every entry of NAME into KT.  Returns 0 or a krb5 error code;
 * ENOMEM when memory ran out. */
krb5_error_code n8443_keytab_read(krb5_context kctx, const char *name,
                                  struct n8443_keytab *kt)
{
    krb5_keytab keytab = NULL;
    krb5_kt_cursor cursor;
    krb5_keytab_entry entry;
    krb5_error_code code;
    int started = 0;
    size_t cap = 0;

    code = krb5_kt_resolve(kctx, name, &keytab);
    if (code != 0) {
        goto cleanup;
    }
    code = krb5_kt_start_seq_get(kctx, keytab, &cursor);
    if (code != 0) {
        goto cleanup;
    }
    started = 1;
    while ((code = krb5_kt_next_entry(kctx, keytab, &entry, &cursor)) == 0) {
        int failed = add_entry(kctx, kt, &entry, &cap);

        krb5_free_keytab_entry_contents(kctx, &entry);
        if (failed) {
            code = ENOMEM;
            goto cleanup;
        }
    }
    if (code == KRB5_KT_END) {
        code = 0;
    }

cleanup:
    if (started) {
        krb5_kt_end_seq_get(kctx, keytab, &cursor);
    }
    if (keytab != NULL) {
        krb5_kt_close(kctx, keytab);
    }
    return code;
}

/* Everything n8443_keytab_read() allocated; KT is empty afterwards. */
void n8443_keytab_free(struct n8443_keytab *kt)
{
    size_t i;

    for (i = 0; i < kt->n; i++) {
        free(kt->entries[i].principal);
        free(kt->entries[i].service);
        free(kt->entries[i].host);
        free(kt->entries[i].realm);
    }
    free(kt->entries);
    free(kt->name);
    memset(kt, 0, sizeof(*kt));
}

int n8443_keytab_has(const struct n8443_keytab *kt, const char *service,
                     const char *host, const char *realm)
{
    size_t i;

    for (i = 0; i < kt->n; i++) {
        const struct n8443_kt_entry *e = &kt->entries[i];

        if (e->service != NULL && strcmp(e->service, service) == 0
            && strcmp(e->host, host) == 0
            && (realm == NULL || strcmp(e->realm, realm) == 0)) {
            return 1;
        }
    }
    return 0;
}

krb5_kvno n8443_keytab_newest_kvno(const struct n8443_keytab *kt,
                                   const char *principal)
{
    krb5_kvno newest = 0;
    size_t i;

    for (i = 0; i < kt->n; i++) {
        if (strcmp(kt->entries[i].principal, principal) == 0
            && kt->entries[i].kvno > newest) {
            newest = kt->entries[i].kvno;
        }
    }
    return newest;
}
