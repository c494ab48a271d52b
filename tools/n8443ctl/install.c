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

/*
 * The target, as install uses it: the directory, opened once and checked,
 * and the file's name in it.  Every later step (read, .prev, write,
 * rename, rollback) works relative to the open directory, so nothing that
 * changes in the path after the checks can redirect a write.
 */
struct target {
    int dir_fd;
    char *dir;      /* the directory as given, for messages */
    char *name;     /* the file's name in it */
    char *path;     /* dir/name, for messages */
};

static void target_close(struct target *t)
{
    if (t->dir_fd >= 0) {
        close(t->dir_fd);
    }
    free(t->dir);
    free(t->name);
    free(t->path);
    memset(t, 0, sizeof(*t));
    t->dir_fd = -1;
}

/* Owned by root or by whoever runs the tool: nobody else can replace an
 * entry in it or change its mode. */
static int trusted_owner(const struct stat *st)
{
    return st->st_uid == 0 || st->st_uid == geteuid();
}

/* Writable by someone other than its owner (and root's group)? */
static int writable_by_others(const struct stat *st)
{
    return (st->st_mode & S_IWOTH) != 0
           || ((st->st_mode & S_IWGRP) != 0 && st->st_gid != 0);
}

/*
 * A directory on the way to the target: a trusted owner, and writable by
 * nobody else unless it is sticky (/tmp: others cannot rename or remove
 * what they do not own).
 */
static int check_ancestor(const char *dir, const struct stat *st)
{
    char who[128];

    if (!trusted_owner(st)) {
        n8443_error("refusing to install below %s: owned by uid %ld, not "
                    "root", dir, (long)st->st_uid);
        return 0;
    }
    if (st->st_mode & S_ISVTX) {
        return 1;
    }
    if (writable_by_others(st)) {
        n8443_error("refusing to install below %s: writable by others "
                    "(mode %04o), who could replace what is in it", dir,
                    (unsigned)(st->st_mode & 07777));
        return 0;
    }
    /* The mode does not tell all: an ACL entry can give write to
     * another user or group (while the mode reads 0775 root:root). */
    if (n8443_acl_dir_write_others(dir, -1, st->st_gid, who,
                                   sizeof(who))) {
        n8443_error("refusing to install below %s: writable by others "
                    "(ACL: %s), who could replace what is in it; remove "
                    "the entry (setfacl -b %s)", dir, who, dir);
        return 0;
    }
    return 1;
}

/* The target's own directory: no sticky exception, a file in it would be
 * created next to files of others. */
static int check_target_dir(const char *dir, int fd, const struct stat *st)
{
    char who[128];

    if (!S_ISDIR(st->st_mode)) {
        n8443_error("cannot use %s: not a directory", dir);
        return 0;
    }
    if (!trusted_owner(st)) {
        n8443_error("refusing to install into %s: owned by uid %ld, not "
                    "root", dir, (long)st->st_uid);
        return 0;
    }
    if (writable_by_others(st)) {
        n8443_error("refusing to install into %s: writable by others (mode "
                    "%04o), who could plant a link or a file in the "
                    "target's place; use a directory only root can write",
                    dir, (unsigned)(st->st_mode & 07777));
        return 0;
    }
    if (n8443_acl_dir_write_others(dir, fd, st->st_gid, who, sizeof(who))) {
        n8443_error("refusing to install into %s: writable by others (ACL: "
                    "%s), who could plant a link or a file in the target's "
                    "place; remove the entry (setfacl -b %s)", dir, who,
                    dir);
        return 0;
    }
    return 1;
}

/*
 * Every directory from / down to DIR (absolute) passes check_ancestor as
 * the holder of the next entry, and every symbolic link on the way is
 * owned by root or us (in a directory that passed: else someone could
 * point it elsewhere).  DIR itself is checked by the caller, on the open
 * directory.
 */
static int check_path_chain(const char *dir)
{
    size_t n = strlen(dir);
    char *prefix = malloc(n + 1);
    char *parent = malloc(n + 2);
    struct stat st;
    size_t i;
    size_t j;
    int ok = 0;

    if (prefix == NULL || parent == NULL) {
        n8443_error("out of memory");
        goto cleanup;
    }
    for (i = 1; i <= n; i++) {
        if ((i < n && dir[i] != '/') || dir[i - 1] == '/') {
            continue;
        }
        memcpy(prefix, dir, i);
        prefix[i] = '\0';
        for (j = i - 1; j > 0 && prefix[j] != '/'; j--) {
        }
        memcpy(parent, prefix, j == 0 ? 1 : j);
        parent[j == 0 ? 1 : j] = '\0';
        if (stat(parent, &st) != 0) {
            n8443_error("cannot use %s: %s", parent, strerror(errno));
            goto cleanup;
        }
        if (!check_ancestor(parent, &st)) {
            goto cleanup;
        }
        if (lstat(prefix, &st) != 0) {
            n8443_error("cannot use %s: %s", prefix, strerror(errno));
            goto cleanup;
        }
        if (S_ISLNK(st.st_mode) && !trusted_owner(&st)) {
            n8443_error("refusing to install below %s: a symbolic link "
                        "owned by uid %ld, not root", prefix,
                        (long)st.st_uid);
            goto cleanup;
        }
    }
    ok = 1;

cleanup:
    free(prefix);
    free(parent);
    return ok;
}

/*
 * Open the target's directory and check the target: not a symbolic link
 * (root following a link that someone else planted would overwrite any
 * file, and keep its old contents in .prev), not a FIFO, device or
 * directory (checked before anything opens it), in a directory that only
 * root (or the user running the tool) can write, reached through
 * directories and links nobody else controls.  Also takes the install
 * lock: flock(2) on the directory serialises installs into it (two at
 * once could keep each other's file as .prev or roll back to a file the
 * other wrote), needs no lock file and ends with the process.
 */
static int target_open(const char *target, struct target *t)
{
    char *dcopy = strdup(target);
    char *bcopy = strdup(target);
    char cwd[PATH_MAX];
    char *absdir = NULL;
    char *real = NULL;
    struct stat st;
    int rc = N8443_IO;

    memset(t, 0, sizeof(*t));
    t->dir_fd = -1;
    if (dcopy == NULL || bcopy == NULL) {
        n8443_error("out of memory");
        goto cleanup;
    }
    t->dir = strdup(dirname(dcopy));
    t->name = strdup(basename(bcopy));
    t->path = strdup(target);
    if (t->dir == NULL || t->name == NULL || t->path == NULL) {
        n8443_error("out of memory");
        goto cleanup;
    }
    if (target[0] == '\0' || target[strlen(target) - 1] == '/'
        || strcmp(t->name, ".") == 0 || strcmp(t->name, "..") == 0) {
        n8443_error("cannot use %s: not a file name", target);
        goto cleanup;
    }
    if (t->dir[0] == '/') {
        absdir = strdup(t->dir);
    }
    else if (getcwd(cwd, sizeof(cwd)) != NULL) {
        size_t size = strlen(cwd) + strlen(t->dir) + 2;

        absdir = malloc(size);
        if (absdir != NULL) {
            snprintf(absdir, size, "%s/%s", cwd, t->dir);
        }
    }
    else {
        n8443_error("cannot use %s: %s", t->dir, strerror(errno));
        goto cleanup;
    }
    if (absdir == NULL) {
        n8443_error("out of memory");
        goto cleanup;
    }
    if (stat(t->dir, &st) != 0) {
        n8443_error("cannot use %s: %s", t->dir, strerror(errno));
        goto cleanup;
    }
    if (!S_ISDIR(st.st_mode)) {
        n8443_error("cannot use %s: not a directory", t->dir);
        goto cleanup;
    }
    /* The path as given (its links), then where it leads. */
    if (!check_path_chain(absdir)) {
        goto cleanup;
    }
    real = realpath(absdir, NULL);
    if (real == NULL) {
        n8443_error("cannot use %s: %s", t->dir, strerror(errno));
        goto cleanup;
    }
    if (strcmp(real, absdir) != 0 && !check_path_chain(real)) {
        goto cleanup;
    }
    t->dir_fd = open(real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (t->dir_fd < 0 || fstat(t->dir_fd, &st) != 0) {
        n8443_error("cannot use %s: %s", t->dir, strerror(errno));
        goto cleanup;
    }
    if (!check_target_dir(t->dir, t->dir_fd, &st)) {
        goto cleanup;
    }
    if (flock(t->dir_fd, LOCK_EX) != 0) {
        n8443_error("cannot lock %s: %s", t->dir, strerror(errno));
        goto cleanup;
    }
    /* Under the lock, as everything that follows. */
    if (fstatat(t->dir_fd, t->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(st.st_mode)) {
            char dest[PATH_MAX];
            ssize_t n = readlinkat(t->dir_fd, t->name, dest,
                                   sizeof(dest) - 1);

            dest[n > 0 ? n : 0] = '\0';
            n8443_error("refusing to install to %s: it is a symbolic link "
                        "(to %s); pass the file itself as --target", target,
                        n > 0 ? dest : "?");
            goto cleanup;
        }
        if (!S_ISREG(st.st_mode)) {
            n8443_error("refusing to install to %s: not a regular file (%s)",
                        target, S_ISFIFO(st.st_mode) ? "a FIFO"
                        : S_ISDIR(st.st_mode) ? "a directory"
                        : S_ISSOCK(st.st_mode) ? "a socket"
                        : "a device");
            goto cleanup;
        }
    }
    else if (errno != ENOENT) {
        n8443_error("cannot use %s: %s", target, strerror(errno));
        goto cleanup;
    }
    rc = N8443_OK;

cleanup:
    free(real);
    free(absdir);
    free(dcopy);
    free(bcopy);
    if (rc != N8443_OK) {
        target_close(t);
    }
    return rc;
}

/* Put OLD back (or remove the target when it did not exist before). */
static int restore(const struct target *t, int existed, const char *old,
                   size_t old_len, mode_t mode)
{
    if (existed) {
        return n8443_write_atomic_at(t->dir_fd, t->dir, t->name, old,
                                     old_len, mode);
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
    rc = target_open(target, &t);
    if (rc != N8443_OK) {
        goto cleanup;
    }
    path = t.path;
    rc = n8443_render(cfg, &rendered);
    if (rc != N8443_OK) {
        n8443_error("out of memory");
        goto cleanup;
    }
    rc = n8443_read_file_at(t.dir_fd, t.name, path, N8443_MAX_CONF_FILE,
                            &old, &old_len, &existed, &mode);
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
        /* NAME.prev: the path for messages, the name for the write. */
        snprintf(prev, prev_size, "%s.prev", path);
        if (n8443_write_atomic_at(t.dir_fd, t.dir,
                                  prev + strlen(path) - strlen(t.name), old,
                                  old_len, mode) != N8443_OK) {
            n8443_error("nothing installed: could not keep the previous "
                        "file as %s", prev);
            rc = N8443_IO;
            goto cleanup;
        }
    }
    if (n8443_write_atomic_at(t.dir_fd, t.dir, t.name, rendered.data,
                              rendered.len, mode) != N8443_OK) {
        n8443_error("nothing installed: %s is unchanged", path);
        rc = N8443_ROLLED_BACK;
        goto cleanup;
    }

    if (!args->no_configtest) {
        n8443_note("running the config test: %s", configtest.label);
        ok = command_run(&configtest);
        if (ok != 1) {
            if (restore(&t, existed, old, old_len, mode) != N8443_OK) {
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
    target_close(&t);
    command_free(&configtest);
    command_free(&reload);
    free(prev);
    free(old);
    free(target);
    n8443_buf_free(&rendered);
    n8443_config_free(cfg);
    return rc;
}
