/*
 * n8443ctl - site file loader, part 2: the top level and the passes.
 *
 * Three passes, so that each kind of mistake is reported where it is
 * made: (1) every mapping is walked against its table of keys
 * (site_sections.c), each value checked by site_values.c; (2) `defaults`
 * is merged into each site field by field and the built-in defaults fill
 * what is left (site_defaults.c); (3) rules that span values (a session
 * needs a key file) or sites (one server name per port, one clock skew
 * per instance) are checked (site_checks.c).  This file walks the top
 * level and runs them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "msgs.h"
#include "site_values.h"

/* ------------------------------------------------------------- root */

enum { ROOT_VERSION, ROOT_DEFAULTS, ROOT_SITES, ROOT_N };
static const char *const root_keys[] = {"version", "defaults", "sites", NULL};

/*
 * The top level: `version`, `defaults`, `sites`.  Each site is merged with
 * the defaults and completed with built-in defaults before the checks that
 * span values and sites run, so those see what will be rendered.
 */
static void load_root(struct n8443_ld *c, const ynode *root,
                      struct n8443_config *cfg)
{
    const ynode *seen[ROOT_N] = {NULL};
    const ynode *sites = NULL;
    struct n8443_site defs;
    struct n8443_int version;
    char described[DESCRIBE_BUF];
    int *own_tls = NULL;
    size_t i;

    memset(&defs, 0, sizeof(defs));
    memset(&version, 0, sizeof(version));
    if (root == NULL || n8443_ld_is_null(root)) {
        n8443_diag_add(c->diags, root ? root->line : 1, root ? root->col : 1,
                       "the site file is empty");
        return;
    }
    if (root->kind != N8443_YMAP) {
        n8443_ld_diag(c, root,
                      "the site file must be a mapping with 'version' and "
                      "'sites', got %s",
                      n8443_ld_describe(described, root));
        return;
    }
    for (i = 0; i + 1 < root->nitems; i += 2) {
        const ynode *v = root->items[i + 1];

        switch (n8443_ld_key_index(c, root->items[i], root_keys, seen)) {
        case ROOT_VERSION:
            n8443_ld_get_int(c, v, "version", 1, 1000000, "a version number",
                             &version);
            if (version.set && version.v != 1) {
                n8443_ld_diag(c, v,
                              "unsupported version %ld: this n8443ctl reads "
                              "version 1",
                              version.v);
            }
            break;
        case ROOT_DEFAULTS:
            if (n8443_ld_want_map(c, v, "defaults")) {
                n8443_ld_parse_site(c, v, &defs, 1);
            }
            break;
        case ROOT_SITES: sites = v; break;
        default: break;
        }
    }
    if (seen[ROOT_VERSION] == NULL) {
        n8443_ld_diag(c, root, "missing required key 'version'");
    }
    if (seen[ROOT_SITES] == NULL) {
        n8443_ld_diag(c, root, "missing required key 'sites'");
        return;
    }
    if (sites->kind != N8443_YSEQ) {
        n8443_ld_diag(c, sites, "'sites' must be a list, got %s",
                      n8443_ld_describe(described, sites));
        return;
    }
    if (sites->nitems == 0) {
        n8443_ld_diag(c, sites, "'sites' must list at least one site");
        return;
    }
    cfg->version = version.v;
    cfg->sites =
        n8443_arena_alloc(c->arena, sites->nitems * sizeof(*cfg->sites));
    own_tls = calloc(sites->nitems, sizeof(*own_tls));
    if (cfg->sites == NULL || own_tls == NULL) {
        c->oom = 1;
        goto cleanup;
    }
    cfg->nsites = sites->nitems;
    for (i = 0; i < sites->nitems; i++) {
        const ynode *item = sites->items[i];

        if (item->kind != N8443_YMAP) {
            n8443_ld_diag(c, item,
                          "each entry of 'sites' must be a mapping, got %s",
                          n8443_ld_describe(described, item));
            continue;
        }
        n8443_ld_parse_site(c, item, &cfg->sites[i], 0);
        own_tls[i] = cfg->sites[i].tls.present;
        /* A site's own bad `tls:` is reported; the defaults' block does
         * not stand in for it. */
        if (defs.tls.present && !cfg->sites[i].tls.seen) {
            cfg->sites[i].tls.present = 1;
        }
        n8443_ld_merge_defaults(&cfg->sites[i], &defs);
        if (!n8443_ld_apply_builtin_defaults(c, &cfg->sites[i])) {
            goto cleanup;
        }
    }
    for (i = 0; i < cfg->nsites && !c->oom; i++) {
        if (sites->items[i]->kind == N8443_YMAP) {
            n8443_ld_check_site(c, &cfg->sites[i], own_tls[i]);
            n8443_ld_check_redis(c, &cfg->sites[i]);
        }
    }
    if (!c->oom) {
        n8443_ld_check_site_names(c, cfg);
    }
    if (!c->oom) {
        n8443_ld_check_host_names(c, cfg);
    }
    n8443_ld_check_clock_skew(c, cfg);
    n8443_ld_check_replay_globals(c, cfg);

cleanup:
    free(own_tls);
}

/* Reading order: by line, then column; equal positions keep the order in
 * which they were found. */
static void sort_diags(struct n8443_diags *diags)
{
    size_t i;
    size_t j;

    for (i = 1; i < diags->n; i++) {
        struct n8443_diag d = diags->items[i];

        for (j = i; j > 0; j--) {
            const struct n8443_diag *prev = &diags->items[j - 1];

            if (prev->line < d.line
                || (prev->line == d.line && prev->col <= d.col)) {
                break;
            }
            diags->items[j] = *prev;
        }
        diags->items[j] = d;
    }
}

int n8443_site_load_buffer(const char *data, size_t len,
                           struct n8443_diags *diags,
                           struct n8443_config **config_out)
{
    struct n8443_config *cfg;
    struct n8443_ynode *root = NULL;
    struct n8443_ld c;
    int rc;

    memset(diags, 0, sizeof(*diags));
    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        return N8443_IO;
    }
    if (len > N8443_MAX_SITE_FILE) {
        n8443_diag_add(diags, 1, 1, "the site file is larger than %d bytes",
                       N8443_MAX_SITE_FILE);
        rc = N8443_INVALID;
        goto cleanup;
    }
    rc = n8443_sha256(data, len, cfg->input_sha256);
    if (rc != N8443_OK) {
        goto cleanup;
    }
    rc = n8443_yaml_parse(&cfg->arena, data, len, diags, &root);
    if (rc != N8443_OK) {
        goto cleanup;
    }
    c.arena = &cfg->arena;
    c.diags = diags;
    c.oom = 0;
    load_root(&c, root, cfg);
    if (c.oom) {
        rc = N8443_IO;
        goto cleanup;
    }
    if (diags->n > 0 || diags->truncated) {
        sort_diags(diags);
        rc = N8443_INVALID;
        goto cleanup;
    }
    *config_out = cfg;
    cfg = NULL;
    rc = N8443_OK;

cleanup:
    n8443_config_free(cfg);
    return rc;
}

/* Everything the config points to lives in its arena. */
void n8443_config_free(struct n8443_config *config)
{
    if (config == NULL) {
        return;
    }
    n8443_arena_free(&config->arena);
    free(config);
}

const char *n8443_site_label(const char *path)
{
    return strcmp(path, "-") == 0 ? "<stdin>" : path;
}

int n8443_site_load_path(const char *path, struct n8443_config **config_out)
{
    struct n8443_diags *diags;
    char *data = NULL;
    size_t len = 0;
    int rc;

    diags = malloc(sizeof(*diags));
    if (diags == NULL) {
        n8443_error("out of memory");
        return N8443_IO;
    }
    /* Up to one byte over the limit, which the loader reports as an
     * invalid site file. */
    rc = n8443_read_file(path, N8443_MAX_SITE_FILE, &data, &len);
    if (rc != N8443_OK) {
        goto cleanup;
    }
    rc = n8443_site_load_buffer(data, len, diags, config_out);
    if (rc == N8443_INVALID) {
        n8443_diags_print(n8443_site_label(path), diags);
    }
    else if (rc == N8443_IO) {
        n8443_error("%s: out of memory", n8443_site_label(path));
    }

cleanup:
    free(data);
    free(diags);
    return rc;
}
