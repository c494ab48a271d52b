/*
 * runner.h - the commands n8443ctl runs after writing a file: httpd's
 * config test and graceful reload.
 */
#ifndef N8443CTL_RUNNER_H
#define N8443CTL_RUNNER_H

/* A command to run: either a shell command line from the user, or a
 * program found on $PATH with one argument. */
struct command {
    const char *shell; /* run with /bin/sh -c */
    char *program;     /* or this, with `arg` */
    const char *arg;
    const char *label; /* for messages */
};

/* The command: OPTION, else $ENV_NAME, else `apachectl ACTION` from $PATH.
 * N8443_OK and *cmd_out filled, or an error code (printed). */
int n8443_command_resolve(const char *option, const char *env_name,
                          const char *action, const char *label,
                          struct command *cmd_out);

/* Run CMD and wait: 1 when it exited 0, 0 when it failed (printed), -1
 * when it could not start. */
int n8443_command_run(const struct command *cmd);

void n8443_command_free(struct command *cmd);

#endif
