/*
 * n8443ctl - the `diff` command: the installed file against a fresh
 * render, as a unified diff (udiff.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msgs.h"
#include "site.h"

/* diff SITE.yaml [--target FILE]: 0 same, 1 differs, 2 trouble (diff(1)),
 * 3 invalid site file. */
int n8443_cmd_diff(const struct n8443_args *args)
{
    struct n8443_config *cfg = NULL;
    struct n8443_buf rendered;
    struct n8443_buf out;
    char *target = NULL;
    char *installed = NULL;
    char *label = NULL;
    size_t installed_len = 0;
    size_t label_len;
    int exists = 0;
    int differs = 0;
    int rc;

    n8443_buf_init(&rendered);
    n8443_buf_init(&out);
    rc = n8443_site_load_path(args->site_path, &cfg);
    if (rc != N8443_OK) {
        rc = rc == N8443_INVALID ? N8443_INVALID : N8443_USAGE;
        goto cleanup;
    }
    if (args->target != NULL) {
        target = strdup(args->target);
        if (target == NULL) {
            n8443_error("out of memory");
            rc = N8443_USAGE;
            goto cleanup;
        }
    }
    else {
        rc = n8443_default_target(cfg, &target);
        if (rc != N8443_OK) {
            goto cleanup;
        }
    }
    if (n8443_render(cfg, &rendered) != N8443_OK
        || n8443_read_file_optional(target, N8443_MAX_CONF_FILE, &installed,
                                    &installed_len, &exists, NULL)
               != N8443_OK) {
        rc = N8443_USAGE;
        goto cleanup;
    }
    label_len = strlen(target) + strlen(args->site_path) + 32;
    label = malloc(label_len);
    if (label == NULL) {
        n8443_error("out of memory");
        rc = N8443_USAGE;
        goto cleanup;
    }
    /* A tab ends the file name for patch(1); the rest is a comment. */
    snprintf(label, label_len, "%s\trendered from %s", target,
             n8443_site_label(args->site_path));
    if (n8443_diff_unified(installed ? installed : "", installed_len,
                           rendered.data, rendered.len,
                           exists ? target : "/dev/null", label, &out, &differs)
        != N8443_OK) {
        n8443_error("out of memory");
        rc = N8443_USAGE;
        goto cleanup;
    }
    if (fwrite(out.data ? out.data : "", 1, out.len, stdout) != out.len
        || fflush(stdout) != 0) {
        n8443_error("cannot write to standard output");
        rc = N8443_USAGE;
        goto cleanup;
    }
    rc = differs ? N8443_DIFFERS : N8443_OK;

cleanup:
    free(label);
    free(installed);
    free(target);
    n8443_buf_free(&out);
    n8443_buf_free(&rendered);
    n8443_config_free(cfg);
    return rc;
}
