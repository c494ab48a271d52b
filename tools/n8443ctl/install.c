/*
 * n8443ctl - the `install` command.
 *
 * Order of work, each step undoable until the config test passes:
 *   1. load and render (nothing touched yet);
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
#include "site.h"

extern char **environ;

#define ENV_CONFDIR "N8443CTL_CONFDIR"
#define ENV_CONFIGTEST "N8443CTL_CONFIGTEST"
#define ENV_RELOAD "N8443CTL_RELOAD"

/*
 * TARGET when --target is not given: CONFDIR/n8443-NAME.conf for a site
 * file with one site.  CONFDIR is $N8443CTL_CONFDIR, else the directory
 * chosen at build time from httpd's layout (apxs); a file with several
 * sites has no single name, so it needs --target.
 */
int n8443_default_target(const struct n8443_config *config, char **path_out)
{
    const char *dir = getenv(ENV_CONFDIR);
    size_t size;
    char *path;

#ifdef N8443CTL_CONFDIR
    if (dir == NULL || *dir == '\0') {
        dir = N8443CTL_CONFDIR;
    }
#endif
    if (dir == NULL || *dir == '\0') {
        n8443_error("no default configuration directory in this build: "
                    "pass --target FILE or set " ENV_CONFDIR);
        return N8443_USAGE;
    }
    if (config->nsites != 1) {
        n8443_error("the site file has %zu sites, so no single site names "
                    "the output file: pass --target FILE", config->nsites);
        return N8443_USAGE;
    }
    size = strlen(dir) + strlen(config->sites[0].name.v) + 16;
    path = malloc(size);
    if (path == NULL) {
        n8443_error("out of memory");
        return N8443_IO;
    }
    snprintf(path, size, "%s/n8443-%s.conf", dir, config->sites[0].name.v);
    *path_out = path;
    return N8443_OK;
}

/* PROGRAM's full path from $PATH, or NULL.  An empty $PATH entry means
 * the current directory, as for execvp(3). */
static char *find_in_path(const char *program)
{
    const char *path = getenv("PATH");
    const char *p;
    char candidate[PATH_MAX];

    if (path == NULL || *path == '\0') {
        return NULL;
    }
    for (p = path; ; ) {
        const char *end = strchr(p, ':');
        int len = end ? (int)(end - p) : (int)strlen(p);
        int n;

        if (len == 0) {
            n = snprintf(candidate, sizeof(candidate), "./%s", program);
        }
        else {
            n = snprintf(candidate, sizeof(candidate), "%.*s/%s", len, p,
                         program);
        }
        if (n > 0 && (size_t)n < sizeof(candidate)
            && access(candidate, X_OK) == 0) {
            return strdup(candidate);
        }
        if (end == NULL) {
            return NULL;
        }
        p = end + 1;
    }
}

/* A command to run: either a shell command line from the user, or a
 * program found on $PATH with one argument. */
struct command {
    const char *shell;      /* run with /bin/sh -c */
    char *program;          /* or this, with `arg` */
    const char *arg;
    const char *label;      /* for messages */
};

static void command_free(struct command *cmd)
{
    free(cmd->program);
    cmd->program = NULL;
}

/*
 * The config test (or reload) command: the option, else the environment
 * variable, else `apachectl ACTION` from $PATH.  apachectl's `configtest`
 * and `graceful` exist on every layout (RHEL, Debian, source builds),
 * which the binary's own name (httpd, apache2) does not.
 */
static int command_resolve(const char *option, const char *env_name,
                           const char *action, const char *label,
                           struct command *cmd_out)
{
    const char *env = getenv(env_name);
    char *program;

    memset(cmd_out, 0, sizeof(*cmd_out));
    if (option != NULL || (env != NULL && *env != '\0')) {
        cmd_out->shell = option ? option : env;
        cmd_out->label = cmd_out->shell;
        return N8443_OK;
    }
    program = find_in_path("apachectl");
    if (program == NULL) {
        n8443_error("apachectl not found on PATH for the %s: pass "
                    "--%s-cmd CMD or set %s", label,
                    strcmp(action, "configtest") == 0 ? "configtest"
                                                      : "reload", env_name);
        return N8443_IO;
    }
    cmd_out->program = program;
    cmd_out->arg = action;
    cmd_out->label = strcmp(action, "configtest") == 0
                     ? "apachectl configtest" : "apachectl graceful";
    return N8443_OK;
}

/*
 * Run CMD and wait.  Its standard output goes to our standard error: what
 * it prints is diagnostics, and our stdout is for data.  Returns 1 when
 * it exited 0, 0 when it failed (printed), -1 when it could not start.
 */
static int command_run(const struct command *cmd)
{
    posix_spawn_file_actions_t actions;
    char *argv[4];
    pid_t pid;
    int status;
    int err;
    int ok = -1;

    fflush(stdout);
    fflush(stderr);
    if (posix_spawn_file_actions_init(&actions) != 0) {
        n8443_error("cannot run %s: out of memory", cmd->label);
        return -1;
    }
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                     O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
    if (cmd->shell != NULL) {
        argv[0] = "sh";
        argv[1] = "-c";
        argv[2] = (char *)cmd->shell;
        argv[3] = NULL;
        err = posix_spawn(&pid, "/bin/sh", &actions, NULL, argv, environ);
    }
    else {
        argv[0] = cmd->program;
        argv[1] = (char *)cmd->arg;
        argv[2] = NULL;
        err = posix_spawn(&pid, cmd->program, &actions, NULL, argv, environ);
    }
    if (err != 0) {
        n8443_error("cannot run %s: %s", cmd->label, strerror(err));
        goto cleanup;
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            n8443_error("cannot wait for %s: %s", cmd->label,
                        strerror(errno));
            goto cleanup;
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        ok = 1;
    }
    else if (WIFEXITED(status)) {
        n8443_error("%s failed (exit %d)", cmd->label, WEXITSTATUS(status));
        ok = 0;
    }
    else {
        n8443_error("%s failed (signal %d)", cmd->label,
                    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        ok = 0;
    }

cleanup:
    posix_spawn_file_actions_destroy(&actions);
    return ok;
}

/* Whether PATH's directory exists: a missing one is a setup problem
 * (exit 4), not a write that failed half-way. */
static int parent_is_dir(const char *path)
{
    struct stat st;
    char *copy = strdup(path);
    const char *dir;
    int ok = 0;

    if (copy == NULL) {
        n8443_error("out of memory");
        return 0;
    }
    dir = dirname(copy);
    if (stat(dir, &st) != 0) {
        n8443_error("cannot use %s: %s", dir, strerror(errno));
    }
    else if (!S_ISDIR(st.st_mode)) {
        n8443_error("cannot use %s: not a directory", dir);
    }
    else {
        ok = 1;
    }
    free(copy);
    return ok;
}

/*
 * Where to write: the file TARGET names.  When TARGET is a symbolic link
 * (Debian's sites-enabled/x.conf -> ../sites-available/x.conf), the
 * link's destination is replaced, so that the link stays a link.
 */
static int resolve_target(const char *target, char **path_out)
{
    struct stat st;
    char *path;

    if (lstat(target, &st) == 0 && S_ISLNK(st.st_mode)) {
        path = realpath(target, NULL);
        if (path == NULL) {
            n8443_error("cannot follow the link %s: %s", target,
                        strerror(errno));
            return N8443_IO;
        }
    }
    else {
        path = strdup(target);
        if (path == NULL) {
            n8443_error("out of memory");
            return N8443_IO;
        }
    }
    if (!parent_is_dir(path)) {
        free(path);
        return N8443_IO;
    }
    *path_out = path;
    return N8443_OK;
}

/*
 * Serialise installs into one directory: two at once could otherwise keep
 * each other's file as .prev, or roll back to a file the other one wrote.
 * flock(2) on the directory itself needs no lock file and is released
 * when the process ends, however it ends.  Returns the locked fd.
 */
static int lock_directory(const char *path, int *fd_out)
{
    char *copy = strdup(path);
    const char *dir;
    int fd;

    if (copy == NULL) {
        n8443_error("out of memory");
        return N8443_IO;
    }
    dir = dirname(copy);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) {
        n8443_error("cannot lock %s: %s", dir, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        free(copy);
        return N8443_IO;
    }
    free(copy);
    *fd_out = fd;
    return N8443_OK;
}

/* Put OLD back in PATH (or remove PATH when it did not exist before). */
static int restore(const char *path, int existed, const char *old,
                   size_t old_len, mode_t mode)
{
    if (existed) {
        return n8443_write_atomic(path, old, old_len, mode);
    }
    if (unlink(path) != 0) {
        n8443_error("cannot remove %s: %s", path, strerror(errno));
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
                            rendered->len, existed ? path : "/dev/null",
                            path, &out, &differs);
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
    char *path = NULL;
    char *prev = NULL;
    char *old = NULL;
    size_t old_len = 0;
    size_t prev_size;
    mode_t mode = 0644;
    int existed = 0;
    int lock_fd = -1;
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
    rc = resolve_target(target, &path);
    if (rc != N8443_OK) {
        goto cleanup;
    }
    rc = lock_directory(path, &lock_fd);
    if (rc != N8443_OK) {
        goto cleanup;
    }
    rc = n8443_render(cfg, &rendered);
    if (rc != N8443_OK) {
        n8443_error("out of memory");
        goto cleanup;
    }
    rc = n8443_read_file_optional(path, N8443_MAX_CONF_FILE, &old, &old_len,
                                  &existed, &mode);
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
        rc = command_resolve(args->configtest_cmd, ENV_CONFIGTEST,
                             "configtest", "config test", &configtest);
        if (rc != N8443_OK) {
            goto cleanup;
        }
    }
    if (args->reload) {
        rc = command_resolve(args->reload_cmd, ENV_RELOAD, "graceful",
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
        snprintf(prev, prev_size, "%s.prev", path);
        if (n8443_write_atomic(prev, old, old_len, mode) != N8443_OK) {
            n8443_error("nothing installed: could not keep the previous "
                        "file as %s", prev);
            rc = N8443_IO;
            goto cleanup;
        }
    }
    if (n8443_write_atomic(path, rendered.data, rendered.len, mode)
        != N8443_OK) {
        n8443_error("nothing installed: %s is unchanged", path);
        rc = N8443_ROLLED_BACK;
        goto cleanup;
    }

    if (!args->no_configtest) {
        n8443_note("running the config test: %s", configtest.label);
        ok = command_run(&configtest);
        if (ok != 1) {
            if (restore(path, existed, old, old_len, mode) != N8443_OK) {
                n8443_error("the config test failed and %s could not be "
                            "restored%s%s", path,
                            prev ? "; the previous file is in " : "",
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
        if (command_run(&reload) != 1) {
            n8443_error("%s is installed and passed the config test, but "
                        "httpd was not reloaded", path);
            rc = N8443_IO;
            goto cleanup;
        }
        n8443_out("reloaded: %s", reload.label);
    }
    rc = N8443_OK;

cleanup:
    if (lock_fd >= 0) {
        close(lock_fd);
    }
    command_free(&configtest);
    command_free(&reload);
    free(prev);
    free(old);
    free(path);
    free(target);
    n8443_buf_free(&rendered);
    n8443_config_free(cfg);
    return rc;
}
