/*
 * n8443ctl - entry point: parse the command line, run one command.
 *
 * Nothing else happens here; the command table (commands.c) says what
 * each command accepts and which function runs it, and that function
 * returns the process's exit status (enum n8443_rc).
 */
#include "n8443ctl.h"

int main(int argc, char **argv)
{
    struct n8443_args args;
    int rc;

    rc = n8443_args_parse(argc, argv, n8443_commands, &args);
    if (rc != N8443_OK) {
        return rc;
    }
    return args.command->run(&args);
}
