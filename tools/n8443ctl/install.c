/*
 * n8443ctl - the `install` command.
 *
 * Order of work, each step undoable until the config test passes:
 *   1. load the site file; check the target (target_open: a regular file
 *      or none, in a directory only root can write, reached through
 *      nothing anyone else controls), open its directory once and lock
 *      it, every later step works relative to that directory; render
 *      (nothing touched yet);
 *   2. same bytes as installed: "unchanged", done;
 *   3. keep the installed file as TARGET.prev (atomic);
 *   4. replace TARGET (atomic: temp file, fsync, rename, fsync dir);
 *   5. run the httpd config test; if it fails, put the previous bytes back
 *      (or remove a file that did not exist before) and exit 5;
 *   6. with --reload, ask httpd for a graceful restart.
 * The ".prev" suffix keeps the copy out of an Include of "*.conf".
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "msgs.h"
#include "runner.h"
#include "site.h"
#include "target.h"

#define ENV_CONFIGTEST "N8443CTL_CONFIGTEST"
#define ENV_RELOAD     "N8443CTL_RELOAD"

/* Put OLD back (or remove the target when it did not exist before). */
static int restore(const struct target *t, int existed, const char *old,
                   size_t old_len, mode_t mode)
{
    if (existed) {
        return n8443_write_atomic_at(t->dir_fd, t->dir, t->name, old, old_len,
                                     mode);
    }
    if (unlinkat(t->dir_fd, t->name, 0) != 0) {
        n8443_error("cannot remove %s: %s", t->path, strerror(errno));
        return N8443_IO;
    }
    return N8443_OK;
}

static int show_dry_run(const struct n8443_args *args, const char *path,
                        int existed, const char *old, size_t old_len,
                        const struct n8443_buf *rendered)
{
    struct n8443_buf out;
    int differs = 0;
    int rc;

    n8443_buf_init(&out);
    rc = n8443_diff_unified(old ? old : "", old_len, rendered->data,
                            rendered->len, existed ? path : "/dev/null", path,
                            &out, &differs);
    if (rc != N8443_OK) {
        n8443_error("out of memory");
        goto cleanup;
    }
    fwrite(out.data ? out.data : "", 1, out.len, stdout);
    n8443_out("would install: %s%s", path,
              args->no_configtest ? "" : " (then run the config test)");

cleanup:
    n8443_buf_free(&out);
    return rc;
}

/* install SITE.yaml [--target FILE] [--dry-run] [--no-configtest]
 * [--reload] [--configtest-cmd CMD] [--reload-cmd CMD] */
int n8443_cmd_install(const struct n8443_args *args)
{
    struct n8443_config *cfg = NULL;
    struct n8443_buf rendered;
    struct command configtest;
    struct command reload;
    char *target = NULL;
    struct target t = {-1, NULL, NULL, NULL};
    const char *path;
    char *prev = NULL;
    char *old = NULL;
    size_t old_len = 0;
    size_t prev_size;
    mode_t mode = 0644;
    int existed = 0;
    int ok;
    int rc;

    n8443_buf_init(&rendered);
    memset(&configtest, 0, sizeof(configtest));
    memset(&reload, 0, sizeof(reload));

    rc = n8443_site_load_path(args->site_path, &cfg);
    if (rc != N8443_OK) {
        goto cleanup;
    }
    if (args->target != NULL) {
        target = strdup(args->target);
        if (target == NULL) {
            n8443_error("out of memory");
            rc = N8443_IO;
        }
    }
    else {
        rc = n8443_default_target(cfg, &target);
    }
    if (rc != N8443_OK) {
        goto cleanup;
    }
    rc = n8443_target_open(target, &t);
    if (rc != N8443_OK) {
        goto cleanup;
    }
    path = t.path;
    rc = n8443_render(cfg, &rendered);
    if (rc != N8443_OK) {
        n8443_error("out of memory");
        goto cleanup;
    }
    rc = n8443_read_file_at(t.dir_fd, t.name, path, N8443_MAX_CONF_FILE, &old,
                            &old_len, &existed, &mode);
    if (rc != N8443_OK) {
        goto cleanup;
    }
    if (existed && old_len == rendered.len
        && memcmp(old, rendered.data, old_len) == 0) {
        n8443_out("unchanged: %s", path);
        rc = N8443_OK;
        goto cleanup;
    }
    if (args->dry_run) {
        rc = show_dry_run(args, path, existed, old, old_len, &rendered);
        goto cleanup;
    }

    /* Find the commands before touching anything. */
    if (!args->no_configtest) {
        rc = n8443_command_resolve(args->configtest_cmd, ENV_CONFIGTEST,
                                   "configtest", "config test", &configtest);
        if (rc != N8443_OK) {
            goto cleanup;
        }
    }
    if (args->reload) {
        rc = n8443_command_resolve(args->reload_cmd, ENV_RELOAD, "graceful",
                                   "reload", &reload);
        if (rc != N8443_OK) {
            goto cleanup;
        }
    }

    if (existed) {
        prev_size = strlen(path) + sizeof(".prev");
        prev = malloc(prev_size);
        if (prev == NULL) {
            n8443_error("out of memory");
            rc = N8443_IO;
            goto cleanup;
        }
        /* NAME.prev: the path for messages, the name for the write. */
        snprintf(prev, prev_size, "%s.prev", path);
        if (n8443_write_atomic_at(t.dir_fd, t.dir,
                                  prev + strlen(path) - strlen(t.name), old,
                                  old_len, mode)
            != N8443_OK) {
            n8443_error("nothing installed: could not keep the previous "
                        "file as %s",
                        prev);
            rc = N8443_IO;
            goto cleanup;
        }
    }
    if (n8443_write_atomic_at(t.dir_fd, t.dir, t.name, rendered.data,
                              rendered.len, mode)
        != N8443_OK) {
        n8443_error("nothing installed: %s is unchanged", path);
        rc = N8443_ROLLED_BACK;
        goto cleanup;
    }

    if (!args->no_configtest) {
        n8443_note("running the config test: %s", configtest.label);
        ok = n8443_command_run(&configtest);
        if (ok != 1) {
            if (restore(&t, existed, old, old_len, mode) != N8443_OK) {
                n8443_error("the config test failed and %s could not be "
                            "restored%s%s",
                            path, prev ? "; the previous file is in " : "",
                            prev ? prev : "");
                rc = N8443_IO;
                goto cleanup;
            }
            n8443_error("the config test failed: %s %s", path,
                        existed ? "was restored" : "was removed again");
            rc = N8443_ROLLED_BACK;
            goto cleanup;
        }
    }
    if (prev != NULL) {
        n8443_out("installed: %s (previous file kept as %s)", path, prev);
    }
    else {
        n8443_out("installed: %s (new file)", path);
    }

    if (args->reload) {
        n8443_note("reloading httpd: %s", reload.label);
        if (n8443_command_run(&reload) != 1) {
            n8443_error("%s is installed and passed the config test, but "
                        "httpd was not reloaded",
                        path);
            rc = N8443_IO;
            goto cleanup;
        }
        n8443_out("reloaded: %s", reload.label);
    }
    rc = N8443_OK;

cleanup:
    n8443_target_close(&t);
    n8443_command_free(&configtest);
    n8443_command_free(&reload);
    free(prev);
    free(old);
    free(target);
    n8443_buf_free(&rendered);
    n8443_config_free(cfg);
    return rc;
}
