/*
 * n8443ctl groups resolve - the group map (NegotiateGroupMap FILE) from
 * Active Directory: one "name SID" line per group, the SID read from the
 * group's objectSid over LDAP, bound with the admin's Kerberos ticket.
 *
 * The module splits a map line at white space and skips lines that
 * start with '#', and has no quoting.  So a name with white space or a
 * control character, one that starts with '#', or one that reads as a
 * SID cannot be a map name: a group asked for by such a name is an
 * error, and one met under --base is left out with a warning naming it
 * (write its SID in the Require line instead).  Nothing is escaped.
 *
 * The output is sorted by name and carries no time stamp, so the same
 * directory gives the same bytes; -o writes it atomically, mode 0644.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "msgs.h"
#include "n8443ctl.h"

#ifdef HAVE_LDAP
#include "ad_ldap.h"

struct group {
    char *name;
    char *sid;
};

struct resolve {
    struct group *groups;
    size_t n;
    size_t cap;
    const char *asked; /* the name being looked up, or NULL (--base) */
    size_t found;      /* entries for it */
    int failed;        /* memory */
    int skipped;       /* names that cannot be map names */
};

/* Can NAME stand in a map line as it is? */
static const char *name_problem(const char *name)
{
    const unsigned char *p;

    if (*name == '\0') {
        return "it is empty";
    }
    if (*name == '#') {
        return "it starts with '#', which makes the line a comment";
    }
    if (strncasecmp(name, "S-1-", 4) == 0) {
        return "it reads as a SID";
    }
    for (p = (const unsigned char *)name; *p; p++) {
        if (*p <= 0x20 || *p == 0x7f) {
            return "it contains white space or a control character";
        }
    }
    return NULL;
}

/* NAME with control characters shown as \xNN, for messages. */
static const char *printable(const char *name, char *buf, size_t len)
{
    size_t n = 0;

    for (; *name && n + 5 < len; name++) {
        unsigned char c = (unsigned char)*name;

        if (c < 0x20 || c == 0x7f) {
            n += (size_t)snprintf(buf + n, len - n, "\\x%02x", c);
        }
        else {
            buf[n++] = (char)c;
        }
    }
    buf[n] = '\0';
    return buf;
}

static int add_group(struct resolve *r, const char *name, const char *sid)
{
    struct group *g;

    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;

        g = realloc(r->groups, cap * sizeof(*g));
        if (g == NULL) {
            return -1;
        }
        r->groups = g;
        r->cap = cap;
    }
    g = &r->groups[r->n];
    g->name = strdup(name);
    g->sid = strdup(sid);
    if (g->name == NULL || g->sid == NULL) {
        free(g->name);
        free(g->sid);
        return -1;
    }
    r->n++;
    return 0;
}

static int on_group(struct n8443_ldap *l, LDAPMessage *entry, void *arg)
{
    struct resolve *r = arg;
    struct berval **sid = ldap_get_values_len(l->ld, entry, "objectSid");
    char *name = n8443_ldap_first(l, entry, "sAMAccountName");
    char sid_text[200];
    char shown[300];
    const char *why;

    if (sid == NULL || sid[0] == NULL || name == NULL
        || n8443_sid_string((unsigned char *)sid[0]->bv_val, sid[0]->bv_len,
                            sid_text, sizeof(sid_text))
               != 0) {
        goto done;
    }
    r->found++;
    if (r->asked != NULL) {
        /* The name as asked for: the Require line uses that spelling. */
        if (r->found == 1 && add_group(r, r->asked, sid_text) != 0) {
            r->failed = 1;
        }
        goto done;
    }
    why = name_problem(name);
    if (why != NULL) {
        n8443_warn("group '%s' (%s) left out: %s; require it by its SID",
                   printable(name, shown, sizeof(shown)), sid_text, why);
        r->skipped++;
        goto done;
    }
    if (add_group(r, name, sid_text) != 0) {
        r->failed = 1;
    }

done:
    ldap_value_free_len(sid);
    free(name);
    return r->failed;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct group *)a)->name,
                  ((const struct group *)b)->name);
}

/* The groups NAMES (or all under --base) into R.  N8443_OK,
 * N8443_DIFFERS (a name not found, ambiguous or not writable), or
 * N8443_IO. */
static int lookup(const struct n8443_args *args, struct n8443_ldap *l,
                  struct resolve *r)
{
    static const char *const attrs[] = {"sAMAccountName", "objectSid", NULL};
    char filter[700];
    char value[600];
    char shown[300];
    char err[512];
    const char *why;
    size_t i;
    int rc = N8443_OK;

    if (args->nnames == 0) {
        if (n8443_ldap_search(l, args->base, "(objectClass=group)", attrs,
                              on_group, r, err, sizeof(err))
            != N8443_OK) {
            n8443_error("groups: %s", err);
            return N8443_IO;
        }
        return r->failed ? N8443_IO : N8443_OK;
    }
    for (i = 0; i < args->nnames; i++) {
        why = name_problem(args->names[i]);
        if (why != NULL) {
            n8443_error("groups: '%s' cannot be a name in the map: %s; "
                        "require the group by its SID",
                        printable(args->names[i], shown, sizeof(shown)), why);
            rc = N8443_DIFFERS;
            continue;
        }
        if (n8443_ldap_escape(args->names[i], value, sizeof(value)) != 0) {
            n8443_error("groups: '%s' is too long", args->names[i]);
            rc = N8443_DIFFERS;
            continue;
        }
        snprintf(filter, sizeof(filter),
                 "(&(objectClass=group)(sAMAccountName=%s))", value);
        r->asked = args->names[i];
        r->found = 0;
        if (n8443_ldap_search(l, args->base, filter, attrs, on_group, r, err,
                              sizeof(err))
            != N8443_OK) {
            n8443_error("groups: %s", err);
            return N8443_IO;
        }
        if (r->failed) {
            return N8443_IO;
        }
        if (r->found != 1) {
            n8443_error("groups: %s group '%s' under %s",
                        r->found == 0 ? "no" : "more than one", args->names[i],
                        args->base != NULL ? args->base : l->base);
            rc = N8443_DIFFERS;
        }
    }
    return rc;
}

int n8443_cmd_groups(const struct n8443_args *args)
{
    const char *uri =
        args->ldap_uri != NULL ? args->ldap_uri : getenv("N8443CTL_LDAP_URI");
    struct n8443_ldap *l = NULL;
    struct resolve r;
    struct n8443_buf out;
    char err[512];
    size_t i;
    int rc;

    memset(&r, 0, sizeof(r));
    n8443_buf_init(&out);
    if (uri == NULL) {
        n8443_error("groups: which directory? give --ldap-uri "
                    "ldap://DC.EXAMPLE.COM (or set N8443CTL_LDAP_URI)");
        fprintf(stderr, "Try '" N8443_PROG " help groups'.\n");
        return N8443_USAGE;
    }
    rc = n8443_ldap_open(uri, args->ccache, &l, err, sizeof(err));
    if (rc != N8443_OK) {
        n8443_error("groups: %s: %s", uri, err);
        return rc;
    }
    rc = lookup(args, l, &r);
    if (rc != N8443_OK) {
        if (rc == N8443_DIFFERS) {
            n8443_error("groups: nothing written");
        }
        goto cleanup;
    }
    qsort(r.groups, r.n, sizeof(*r.groups), by_name);
    n8443_buf_printf(&out,
                     "# NegotiateGroupMap: written by " N8443_PROG
                     " groups resolve from %s (%s)\n",
                     uri, args->base != NULL ? args->base : l->base);
    for (i = 0; i < r.n; i++) {
        if (i > 0 && strcmp(r.groups[i].name, r.groups[i - 1].name) == 0) {
            n8443_error("groups: two groups are named '%s': nothing "
                        "written",
                        r.groups[i].name);
            rc = N8443_DIFFERS;
            goto cleanup;
        }
        n8443_buf_printf(&out, "%s %s\n", r.groups[i].name, r.groups[i].sid);
    }
    if (out.failed) {
        rc = N8443_IO;
        goto cleanup;
    }
    if (args->output != NULL && strcmp(args->output, "-") != 0) {
        rc = n8443_write_atomic(args->output, out.data, out.len, 0644);
        if (rc == N8443_OK) {
            n8443_note("%s: %zu groups%s", args->output, r.n,
                       r.skipped ? " (some left out, see above)" : "");
        }
    }
    else if (fwrite(out.data, 1, out.len, stdout) != out.len
             || fflush(stdout) != 0) {
        n8443_error("cannot write to standard output");
        rc = N8443_IO;
    }

cleanup:
    for (i = 0; i < r.n; i++) {
        free(r.groups[i].name);
        free(r.groups[i].sid);
    }
    free(r.groups);
    n8443_buf_free(&out);
    n8443_ldap_close(l);
    return rc;
}

#else /* !HAVE_LDAP */

int n8443_cmd_groups(const struct n8443_args *args)
{
    (void)args;
    n8443_error("groups: this n8443ctl was built without LDAP (libldap "
                "and Cyrus SASL); rebuild with configure --with-ldap");
    return N8443_IO;
}

#endif /* HAVE_LDAP */
