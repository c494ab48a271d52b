/*
 * n8443ctl - site file loader, pass 3: rules that span values (a session
 * needs a key file, user_header needs proxy) or sites (one server name
 * per port, one clock skew per instance), checked after merging so that
 * they see what will be rendered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "msgs.h"
#include "site_values.h"

static int ends_with_slash(const char *s)
{
    size_t len = strlen(s);

    return len > 0 && s[len - 1] == '/';
}

/* The proxy URL's path part ("" when it has none). */
static const char *url_path(const char *url)
{
    const char *p = strchr(url + 7, '/');

    return p ? p : "";
}

static int cmp_location_path(const void *a, const void *b)
{
    const struct n8443_location *const *la = a;
    const struct n8443_location *const *lb = b;
    int d = strcmp((*la)->path.v, (*lb)->path.v);

    if (d != 0) {
        return d;
    }
    return (*la < *lb) ? -1 : (*la > *lb);
}

/* Rules within one location that need more than one of its keys. */
static void check_location(struct n8443_ld *c, const struct n8443_kerberos *krb,
                           const struct n8443_location *loc)
{
    size_t i;
    char shown[SHOW_BUF];
    char suggestion[SHOW_BUF + 8];

    /* A companion that is there but bad is already reported as bad. */
    if (loc->user_header.set && !loc->proxy.seen) {
        n8443_ld_diag_pos(
            c, loc->user_header.pos,
            "'user_header' needs 'proxy': "
            "without a backend the application reads REMOTE_USER");
    }
    /* Without group_file, the groups are the ticket's (the PAC's SIDs):
     * a name needs the map that gives its SID; the module never guesses
     * one. */
    for (i = 0; loc->groups.set && !loc->group_file.seen && !krb->group_map.seen
                && i < loc->groups.n;
         i++) {
        if ((loc->groups.v[i][0] != 'S' && loc->groups.v[i][0] != 's')
            || loc->groups.v[i][1] != '-') {
            n8443_ld_diag_pos(
                c, loc->groups.item_pos[i],
                "group '%s' is a name: give its SID, or 'group_map' "
                "under 'kerberos' (the file of \"name SID\" lines that "
                "'n8443ctl groups resolve' writes), or 'group_file' in "
                "the same location for groups of a file",
                loc->groups.v[i]);
            break;
        }
    }
    if (loc->forward_groups.set && !loc->proxy.seen) {
        n8443_ld_diag_pos(
            c, loc->forward_groups.pos,
            "'forward_groups' needs 'proxy': "
            "without a backend the application reads NEGOTIATE_GROUP_SIDS");
    }
    if (loc->forward_groups.set && loc->user_header.set
        && strcasecmp(loc->forward_groups.v, loc->user_header.v) == 0) {
        n8443_ld_diag_pos(c, loc->forward_groups.pos,
                          "'forward_groups' and 'user_header' must be "
                          "different headers");
    }
    if (loc->group_file.set && !loc->groups.seen) {
        n8443_ld_diag_pos(c, loc->group_file.pos,
                          "'group_file' is only used with "
                          "'require: {groups: [...]}'");
    }
    if (loc->proxy.set && loc->path.set) {
        int path_slash = ends_with_slash(loc->path.v);
        int url_slash = ends_with_slash(url_path(loc->proxy.v));

        /* httpd maps PATH + rest to URL + rest: a slash on one side only
         * makes "/api/x" reach the backend as "//x" or "/apix". */
        if (path_slash != url_slash) {
            n8443_ld_show(shown, loc->proxy.v, strlen(loc->proxy.v));
            if (url_slash) {
                snprintf(suggestion, sizeof(suggestion), "%.*s",
                         (int)strlen(loc->proxy.v) - 1, loc->proxy.v);
            }
            else {
                snprintf(suggestion, sizeof(suggestion), "%s/", loc->proxy.v);
            }
            n8443_ld_diag_pos(c, loc->proxy.pos,
                              "'proxy' '%s' %s with '/' but "
                              "'path' '%s' %s: use proxy '%s'",
                              shown, url_slash ? "ends" : "does not end",
                              loc->path.v, path_slash ? "does" : "does not",
                              suggestion);
        }
    }
}

/*
 * Checks within one site after merging: required TLS files, settings
 * that need a companion, location rules, repeated paths.
 */
void n8443_ld_check_site(struct n8443_ld *c, struct n8443_site *site,
                         int own_tls)
{
    const struct n8443_kerberos *krb = &site->kerberos;
    struct n8443_pos tls_pos = own_tls ? site->tls.pos : site->pos;
    const struct n8443_location **sorted;
    size_t n = 0;
    size_t i;

    if (!site->tls.present && !site->tls.seen) {
        n8443_ld_diag_pos(c, site->pos, "missing required key 'tls'");
    }
    else if (site->tls.present) {
        if (!site->tls.certificate.seen) {
            n8443_ld_diag_pos(c, tls_pos,
                              "missing required key 'certificate' in "
                              "'tls'");
        }
        if (!site->tls.key.seen) {
            n8443_ld_diag_pos(c, tls_pos,
                              "missing required key 'key' in 'tls'");
        }
    }
    if (krb->session.v && !krb->session_key_file.seen) {
        n8443_ld_diag_pos(c, krb->session.pos,
                          "'session: true' needs "
                          "'session_key_file' (the key that seals the session "
                          "cookie)");
    }
    if (krb->delegation.v != N8443_DELEG_NONE && !krb->delegation_dir.seen) {
        n8443_ld_diag_pos(
            c, krb->delegation.pos,
            "'delegation: %s' needs "
            "'delegation_dir' (where delegated credentials are kept)",
            n8443_ld_delegation_names[krb->delegation.v]);
    }
    if (site->help.present && !site->help.contact.seen) {
        n8443_ld_diag_pos(c, site->help.pos,
                          "'help' needs 'contact' (whom a user whose "
                          "login failed should ask)");
    }
    for (i = 0; i < site->nlocations; i++) {
        check_location(c, krb, &site->locations[i]);
    }

    sorted = malloc(site->nlocations * sizeof(*sorted));
    if (sorted == NULL) {
        c->oom = 1;
        return;
    }
    for (i = 0; i < site->nlocations; i++) {
        /* A location whose path was missing or bad is already reported. */
        if (site->locations[i].path.v != NULL) {
            sorted[n++] = &site->locations[i];
        }
    }
    qsort(sorted, n, sizeof(*sorted), cmp_location_path);
    for (i = 1; i < n; i++) {
        if (strcmp(sorted[i]->path.v, sorted[i - 1]->path.v) == 0) {
            const struct n8443_location *first = sorted[i - 1];

            while (i < n && strcmp(sorted[i]->path.v, first->path.v) == 0) {
                n8443_ld_diag_pos(c, sorted[i]->path.pos,
                                  "duplicate location '%s' "
                                  "(first at %d:%d)",
                                  first->path.v, first->path.pos.line,
                                  first->path.pos.col);
                i++;
            }
        }
    }
    free(sorted);
}

/* One name a vhost answers to, for the one-name-per-port check. */
struct host_use {
    long port;
    const char *name;
    struct n8443_pos pos;
    const struct n8443_site *site;
    size_t order;
};

static int cmp_host_use(const void *a, const void *b)
{
    const struct host_use *ha = a;
    const struct host_use *hb = b;
    int d;

    if (ha->port != hb->port) {
        return ha->port < hb->port ? -1 : 1;
    }
    d = strcasecmp(ha->name, hb->name);
    if (d != 0) {
        return d;
    }
    return (ha->order > hb->order) - (ha->order < hb->order);
}

/*
 * httpd picks a name-based vhost by the first ServerName/ServerAlias that
 * matches; a second one with the same name on the same port would never
 * be reached.  Sorting keeps this linear-logarithmic for large files.
 */
void n8443_ld_check_host_names(struct n8443_ld *c,
                               const struct n8443_config *cfg)
{
    struct host_use *uses;
    size_t n = 0;
    size_t total = 0;
    size_t i;
    size_t j;

    for (i = 0; i < cfg->nsites; i++) {
        total += 1 + cfg->sites[i].aliases.n;
    }
    uses = malloc(total * sizeof(*uses));
    if (uses == NULL) {
        c->oom = 1;
        return;
    }
    for (i = 0; i < cfg->nsites; i++) {
        const struct n8443_site *s = &cfg->sites[i];

        if (s->server_name.set) {
            uses[n].port = s->listen.v;
            uses[n].name = s->server_name.v;
            uses[n].pos = s->server_name.pos;
            uses[n].site = s;
            uses[n].order = n;
            n++;
        }
        for (j = 0; j < s->aliases.n; j++) {
            uses[n].port = s->listen.v;
            uses[n].name = s->aliases.v[j];
            uses[n].pos = s->aliases.item_pos[j];
            uses[n].site = s;
            uses[n].order = n;
            n++;
        }
    }
    qsort(uses, n, sizeof(*uses), cmp_host_use);
    for (i = 1; i < n; i++) {
        const struct host_use *first = &uses[i - 1];

        while (i < n && uses[i].port == first->port
               && strcasecmp(uses[i].name, first->name) == 0) {
            n8443_ld_diag_pos(
                c, uses[i].pos,
                "server name '%s' is already used on "
                "port %ld by %s%s%s (%d:%d)",
                uses[i].name, first->port,
                first->site == uses[i].site ? "this site" : "site '",
                first->site == uses[i].site
                    ? ""
                    : (first->site->name.v ? first->site->name.v : "?"),
                first->site == uses[i].site ? "" : "'", first->pos.line,
                first->pos.col);
            i++;
        }
    }
    free(uses);
}

static int cmp_site_name(const void *a, const void *b)
{
    const struct n8443_site *const *sa = a;
    const struct n8443_site *const *sb = b;
    int d = strcasecmp((*sa)->name.v, (*sb)->name.v);

    if (d != 0) {
        return d;
    }
    return (*sa > *sb) - (*sa < *sb);
}

/* Site names name files and appear in messages; two that differ only in
 * case would collide on a case-insensitive file system. */
void n8443_ld_check_site_names(struct n8443_ld *c,
                               const struct n8443_config *cfg)
{
    const struct n8443_site **named;
    size_t n = 0;
    size_t i;

    named = malloc(cfg->nsites * sizeof(*named));
    if (named == NULL) {
        c->oom = 1;
        return;
    }
    for (i = 0; i < cfg->nsites; i++) {
        if (cfg->sites[i].name.set) {
            named[n++] = &cfg->sites[i];
        }
    }
    qsort(named, n, sizeof(*named), cmp_site_name);
    for (i = 1; i < n; i++) {
        const struct n8443_site *first = named[i - 1];

        while (i < n && strcasecmp(named[i]->name.v, first->name.v) == 0) {
            n8443_ld_diag_pos(c, named[i]->name.pos,
                              "duplicate site name '%s' "
                              "(first at %d:%d)",
                              named[i]->name.v, first->name.pos.line,
                              first->name.pos.col);
            i++;
        }
    }
    free(named);
}

/*
 * NegotiateClockSkew is global-only in httpd (Kerberos applies the skew
 * per process), so the file can carry one value.  The first site that
 * sets it decides; a site that sets another value is an error, a site
 * that sets none gets it too.
 */
void n8443_ld_check_clock_skew(struct n8443_ld *c, struct n8443_config *cfg)
{
    const struct n8443_int *first = NULL;
    size_t i;

    for (i = 0; i < cfg->nsites; i++) {
        const struct n8443_int *skew = &cfg->sites[i].kerberos.clock_skew;

        if (!skew->set) {
            continue;
        }
        if (first == NULL) {
            first = skew;
        }
        else if (skew->v != first->v) {
            n8443_ld_diag_pos(c, skew->pos,
                              "clock_skew %ld differs from %ld at "
                              "%d:%d: the clock skew is instance-wide "
                              "(NegotiateClockSkew), so all sites must agree",
                              skew->v, first->v, first->pos.line,
                              first->pos.col);
        }
    }
    cfg->clock_skew = first ? first->v : N8443_DEFAULT_CLOCK_SKEW;
}
