/*
 * n8443ctl - run the httpd config test or reload: a shell command line
 * from the user, or a program found on $PATH (see runner.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "msgs.h"
#include "runner.h"
#include "site.h"

extern char **environ;

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
    for (p = path;;) {
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

void n8443_command_free(struct command *cmd)
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
int n8443_command_resolve(const char *option, const char *env_name,
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
                    "--%s-cmd CMD or set %s",
                    label,
                    strcmp(action, "configtest") == 0 ? "configtest" : "reload",
                    env_name);
        return N8443_IO;
    }
    cmd_out->program = program;
    cmd_out->arg = action;
    cmd_out->label = strcmp(action, "configtest") == 0 ? "apachectl configtest"
                                                       : "apachectl graceful";
    return N8443_OK;
}

/*
 * Run CMD and wait.  Its standard output goes to our standard error: what
 * it prints is diagnostics, and our stdout is for data.  Returns 1 when
 * it exited 0, 0 when it failed (printed), -1 when it could not start.
 */
int n8443_command_run(const struct command *cmd)
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
            n8443_error("cannot wait for %s: %s", cmd->label, strerror(errno));
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
