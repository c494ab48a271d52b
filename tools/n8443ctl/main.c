/*
 * n8443ctl - entry point: parse the command line, run one command.
 *
 * Nothing else happens here; each command lives in its own file and
 * returns the process's exit status (enum n8443_rc).
 */
#include <stdio.h>

#include "n8443ctl.h"

int main(int argc, char **argv)
{
    struct n8443_args args;
    int rc;

    rc = n8443_args_parse(argc, argv, &args);
    if (rc != N8443_OK) {
        return rc;
    }
    switch (args.command) {
    case N8443_CMD_HELP:
        if (args.help_topic == NULL) {
            n8443_help_general(0);
            return N8443_OK;
        }
        return n8443_help_command(args.help_topic, 0);
    case N8443_CMD_VERSION:
        printf("n8443ctl %s\n", PACKAGE_VERSION);
        return N8443_OK;
    case N8443_CMD_RENDER:
        return n8443_cmd_render(&args);
    case N8443_CMD_DIFF:
        return n8443_cmd_diff(&args);
    case N8443_CMD_INSTALL:
        return n8443_cmd_install(&args);
    case N8443_CMD_CHECK:
        return n8443_cmd_check(&args);
    case N8443_CMD_PROBE:
        return n8443_cmd_probe(&args);
    default:
        return N8443_USAGE;
    }
}
