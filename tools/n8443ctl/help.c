/*
 * n8443ctl - --help, `help COMMAND` and --version.  The texts of the
 * commands are in the command table (commands.c); here is the frame
 * around them.
 */
#include <stdio.h>
#include <string.h>

#include "msgs.h"
#include "n8443ctl.h"

static const char general_head[] =
    "Usage: " N8443_PROG " COMMAND [OPTIONS] SITE.yaml\n"
    "\n"
    "Turn a site description into httpd configuration for Kerberos (SPNEGO)\n"
    "logins with mod_negotiate8443, and install it safely.\n"
    "\n"
    "Commands:\n";

static const char general_tail[] =
    "\n"
    "Options:\n"
    "  -h, --help                     this text\n"
    "      --version                  the version\n"
    "\n"
    "Exit status: 0 success or nothing to change, 1 diff found differences\n"
    "or a check failed, 2 usage error, 3 invalid site file, 4 a file or\n"
    "service could not be used, 5 writing or the config test failed and was\n"
    "rolled back.\n"
    "See n8443ctl(8) and n8443-site.yaml(5).\n";

/* The general help: the frame, and each command's summary in the order
 * of the table. */
void n8443_help_general(const struct n8443_command *commands, int to_stderr)
{
    FILE *out = to_stderr ? stderr : stdout;
    size_t i;

    fputs(general_head, out);
    for (i = 0; commands[i].name != NULL; i++) {
        fputs(commands[i].summary, out);
    }
    fputs(general_tail, out);
}

const char *n8443_command_suggest(const struct n8443_command *commands,
                                  const char *word)
{
    const char *names[16];
    size_t i;

    for (i = 0; commands[i].name != NULL && i + 1 < 16; i++) {
        names[i] = commands[i].name;
    }
    names[i] = NULL;
    return n8443_suggest(word, names);
}

/*
 * `help [COMMAND]` (and --help): the general help, or the usage of
 * COMMAND.  Returns N8443_OK, or N8443_USAGE for a command that does not
 * exist.
 */
int n8443_cmd_help(const struct n8443_args *args)
{
    const struct n8443_command *commands = args->commands;
    const char *name = args->help_topic;
    const char *hint;
    size_t i;

    if (name == NULL) {
        n8443_help_general(commands, 0);
        return N8443_OK;
    }
    for (i = 0; commands[i].name != NULL; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            fputs(commands[i].usage, stdout);
            return N8443_OK;
        }
    }
    hint = n8443_command_suggest(commands, name);
    if (hint != NULL) {
        n8443_error("help: unknown command '%s' (did you mean '%s'?)", name,
                    hint);
    }
    else {
        n8443_error("help: unknown command '%s'", name);
    }
    return N8443_USAGE;
}

int n8443_cmd_version(const struct n8443_args *args)
{
    (void)args;
    printf("n8443ctl %s\n", PACKAGE_VERSION);
    return N8443_OK;
}

/* --version is an option, not a name on the command line: its command
 * is here, outside the table, next to its handler. */
const struct n8443_command n8443_command_version = {
    "version", 0, N8443_OPERANDS_TOPIC, NULL, NULL, n8443_cmd_version};
