/*
 * n8443ctl - command line parsing.
 *
 * The syntax is `n8443ctl COMMAND [OPTIONS] ARGS`; options may come before
 * or after the site file.  Each command accepts a fixed set of options and
 * refuses the others by name, so that `render --dry-run` is a usage error
 * (exit 2) and not silently ignored.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msgs.h"
#include "n8443ctl.h"

/* check's options that may be given more than once. */
#define OPTS_REPEATABLE N8443_OPT_ALIAS

/* getopt values of the long-only options. */
enum {
    VAL_ONLINE = 256,
    VAL_FORMAT,
    VAL_ONLY,
    VAL_STRICT,
    VAL_HTTPD_USER,
    VAL_CCACHE,
    VAL_KEYTAB,
    VAL_HOST,
    VAL_ALIAS,
    VAL_CERT,
    VAL_KEY,
    VAL_CHAIN,
    VAL_REALM,
    VAL_AS,
    VAL_BROWSER,
    VAL_NO_LOGIN,
    VAL_TRACE,
    VAL_CA,
    VAL_TIMEOUT,
    VAL_ADDRESS,
    VAL_LDAP_URI,
    VAL_BASE
};

/* Every option: its getopt spelling and its bit, side by side. */
struct option_spec {
    struct option getopt;
    unsigned bit;
};

static const struct option_spec options[] = {
    {{"output", required_argument, NULL, 'o'}, N8443_OPT_OUTPUT},
    {{"target", required_argument, NULL, 't'}, N8443_OPT_TARGET},
    {{"dry-run", no_argument, NULL, 'n'}, N8443_OPT_DRY_RUN},
    {{"no-configtest", no_argument, NULL, 'N'}, N8443_OPT_NO_CONFIGTEST},
    {{"reload", no_argument, NULL, 'r'}, N8443_OPT_RELOAD},
    {{"configtest-cmd", required_argument, NULL, 'C'},
     N8443_OPT_CONFIGTEST_CMD},
    {{"reload-cmd", required_argument, NULL, 'R'}, N8443_OPT_RELOAD_CMD},
    {{"help", no_argument, NULL, 'h'}, N8443_OPT_HELP},
    {{"version", no_argument, NULL, 'V'}, N8443_OPT_VERSION},
    {{"online", no_argument, NULL, VAL_ONLINE}, N8443_OPT_ONLINE},
    {{"format", required_argument, NULL, VAL_FORMAT}, N8443_OPT_FORMAT},
    {{"only", required_argument, NULL, VAL_ONLY}, N8443_OPT_ONLY},
    {{"strict", no_argument, NULL, VAL_STRICT}, N8443_OPT_STRICT},
    {{"httpd-user", required_argument, NULL, VAL_HTTPD_USER},
     N8443_OPT_HTTPD_USER},
    {{"ccache", required_argument, NULL, VAL_CCACHE}, N8443_OPT_CCACHE},
    {{"keytab", required_argument, NULL, VAL_KEYTAB}, N8443_OPT_KEYTAB},
    {{"host", required_argument, NULL, VAL_HOST}, N8443_OPT_HOST},
    {{"alias", required_argument, NULL, VAL_ALIAS}, N8443_OPT_ALIAS},
    {{"cert", required_argument, NULL, VAL_CERT}, N8443_OPT_CERT},
    {{"key", required_argument, NULL, VAL_KEY}, N8443_OPT_KEY},
    {{"chain", required_argument, NULL, VAL_CHAIN}, N8443_OPT_CHAIN},
    {{"realm", required_argument, NULL, VAL_REALM}, N8443_OPT_REALM},
    {{"as", required_argument, NULL, VAL_AS}, N8443_OPT_AS},
    {{"browser", required_argument, NULL, VAL_BROWSER}, N8443_OPT_BROWSER},
    {{"no-login", no_argument, NULL, VAL_NO_LOGIN}, N8443_OPT_NO_LOGIN},
    {{"trace", no_argument, NULL, VAL_TRACE}, N8443_OPT_TRACE},
    {{"ca", required_argument, NULL, VAL_CA}, N8443_OPT_CA},
    {{"timeout", required_argument, NULL, VAL_TIMEOUT}, N8443_OPT_TIMEOUT},
    {{"address", required_argument, NULL, VAL_ADDRESS}, N8443_OPT_ADDRESS},
    {{"ldap-uri", required_argument, NULL, VAL_LDAP_URI}, N8443_OPT_LDAP_URI},
    {{"base", required_argument, NULL, VAL_BASE}, N8443_OPT_BASE},
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

/* Option bit and the name messages use, by getopt value. */
static unsigned option_bit(int opt, const char **name_out)
{
    size_t i;

    for (i = 0; i < NOPTIONS; i++) {
        if (options[i].getopt.val == opt) {
            *name_out = options[i].getopt.name;
            return options[i].bit;
        }
    }
    *name_out = "?";
    return 0;
}

static const struct n8443_command *
find_command(const struct n8443_command *commands, const char *name)
{
    size_t i;

    for (i = 0; commands[i].name != NULL; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

static int usage_error(const char *command)
{
    if (command != NULL) {
        fprintf(stderr, "Try '" N8443_PROG " help %s'.\n", command);
    }
    else {
        fprintf(stderr, "Try '" N8443_PROG " --help'.\n");
    }
    return N8443_USAGE;
}

/* Top-level options: --help [COMMAND], --version. */
static int parse_global(int argc, char **argv,
                        const struct n8443_command *commands,
                        struct n8443_args *args)
{
    const char *first = argv[1];

    if (strcmp(first, "--help") == 0 || strcmp(first, "-h") == 0) {
        if (argc > 3) {
            n8443_error("unexpected argument '%s'", argv[3]);
            return usage_error(NULL);
        }
        args->command = find_command(commands, "help");
        args->help_topic = argc == 3 ? argv[2] : NULL;
        return N8443_OK;
    }
    if (strcmp(first, "--version") == 0) {
        if (argc > 2) {
            n8443_error("unexpected argument '%s'", argv[2]);
            return usage_error(NULL);
        }
        args->command = &n8443_command_version;
        return N8443_OK;
    }
    n8443_error("unknown option '%s'", first);
    return usage_error(NULL);
}

/*
 * The rest of `check`: a site file, or --keytab and --host for a server
 * without one (not both); --cert and --key together; a known --format.
 */
static int finish_check(struct n8443_args *args, unsigned given, int argc,
                        char **argv)
{
    if (optind + 1 < argc) {
        n8443_error("check: unexpected argument '%s'", argv[optind + 1]);
        return usage_error("check");
    }
    args->site_path = optind < argc ? argv[optind] : NULL;
    if (args->site_path != NULL && (given & N8443_OPTS_NO_SITE)) {
        n8443_error("check: --keytab, --host, --alias, --cert, --key, "
                    "--chain and --realm describe a site without a site "
                    "file: give them or SITE.yaml, not both");
        return usage_error("check");
    }
    if (args->site_path == NULL
        && (args->keytab == NULL || args->host == NULL)) {
        n8443_error("check: missing SITE.yaml (or --keytab FILE --host "
                    "NAME)");
        return usage_error("check");
    }
    if ((args->cert == NULL) != (args->key == NULL)) {
        n8443_error("check: --cert and --key go together");
        return usage_error("check");
    }
    if (args->chain != NULL && args->cert == NULL) {
        n8443_error("check: --chain needs --cert and --key");
        return usage_error("check");
    }
    if (args->format != NULL && strcmp(args->format, "text") != 0
        && strcmp(args->format, "json") != 0) {
        n8443_error("check: --format must be text or json, got '%s'",
                    args->format);
        return usage_error("check");
    }
    return N8443_OK;
}

/*
 * The rest of `probe`: one https URL (probe.c reads it), --as or
 * --ccache (not both), a known --browser and --format, a --timeout of
 * 1 to 600 seconds.
 */
static int finish_probe(struct n8443_args *args, const char *timeout, int argc,
                        char **argv)
{
    char *end = NULL;

    if (optind >= argc) {
        n8443_error("probe: missing URL");
        return usage_error("probe");
    }
    if (optind + 1 < argc) {
        n8443_error("probe: unexpected argument '%s'", argv[optind + 1]);
        return usage_error("probe");
    }
    args->url = argv[optind];
    if (args->as_principal != NULL && args->ccache != NULL) {
        n8443_error("probe: --as and --ccache contradict each other: "
                    "give one");
        return usage_error("probe");
    }
    if (args->browser != NULL && strcmp(args->browser, "chrome") != 0
        && strcmp(args->browser, "firefox") != 0
        && strcmp(args->browser, "curl") != 0) {
        n8443_error("probe: --browser must be chrome, firefox or curl, got "
                    "'%s'",
                    args->browser);
        return usage_error("probe");
    }
    if (args->format != NULL && strcmp(args->format, "text") != 0
        && strcmp(args->format, "json") != 0) {
        n8443_error("probe: --format must be text or json, got '%s'",
                    args->format);
        return usage_error("probe");
    }
    if (timeout != NULL) {
        errno = 0;
        args->timeout = strtol(timeout, &end, 10);
        if (errno != 0 || end == timeout || *end != '\0' || args->timeout < 1
            || args->timeout > 600) {
            n8443_error("probe: --timeout '%s' is not a number of seconds "
                        "from 1 to 600",
                        timeout);
            return usage_error("probe");
        }
    }
    return N8443_OK;
}

/*
 * The rest of `groups`: the sub-command (resolve), then the group names,
 * or --base alone for every group under it.
 */
static int finish_groups(struct n8443_args *args, int argc, char **argv)
{
    if (optind >= argc) {
        n8443_error("groups: missing sub-command (resolve)");
        return usage_error("groups");
    }
    if (strcmp(argv[optind], "resolve") != 0) {
        n8443_error("groups: unknown sub-command '%s' (there is: resolve)",
                    argv[optind]);
        return usage_error("groups");
    }
    args->names = argv + optind + 1;
    args->nnames = (size_t)(argc - optind - 1);
    if (args->nnames == 0 && args->base == NULL) {
        n8443_error("groups resolve: name the groups, or give --base DN "
                    "for every group under DN");
        return usage_error("groups");
    }
    return N8443_OK;
}

/*
 * Fill *args_out from ARGV.  Prints the reason and returns N8443_USAGE on
 * a bad command line; --help and --version anywhere turn the command
 * into HELP (for this command) or VERSION.
 */
int n8443_args_parse(int argc, char **argv,
                     const struct n8443_command *commands,
                     struct n8443_args *args_out)
{
    struct option long_options[NOPTIONS + 1];
    const struct n8443_command *spec;
    struct n8443_args args;
    unsigned given = 0;
    const char *timeout = NULL;
    const char *hint;
    size_t i;
    int opt;
    int rc;

    memset(&args, 0, sizeof(args));
    args.commands = commands;
    if (argc < 2) {
        n8443_help_general(commands, 1);
        return N8443_USAGE;
    }
    if (argv[1][0] == '-') {
        rc = parse_global(argc, argv, commands, &args);
        if (rc == N8443_OK) {
            *args_out = args;
        }
        return rc;
    }
    spec = find_command(commands, argv[1]);
    if (spec == NULL) {
        hint = n8443_command_suggest(commands, argv[1]);
        if (hint != NULL) {
            n8443_error("unknown command '%s' (did you mean '%s'?)", argv[1],
                        hint);
        }
        else {
            n8443_error("unknown command '%s'", argv[1]);
        }
        return usage_error(NULL);
    }
    if (spec->operands == N8443_OPERANDS_TOPIC) {
        if (argc > 3) {
            n8443_error("%s: unexpected argument '%s'", spec->name, argv[3]);
            return usage_error(NULL);
        }
        args.command = spec;
        args.help_topic = argc == 3 ? argv[2] : NULL;
        *args_out = args;
        return N8443_OK;
    }

    for (i = 0; i < NOPTIONS; i++) {
        long_options[i] = options[i].getopt;
    }
    memset(&long_options[NOPTIONS], 0, sizeof(long_options[NOPTIONS]));
    args.command = spec;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc - 1, argv + 1, ":ho:", long_options, NULL))
           != -1) {
        const char *name;
        unsigned bit;

        if (opt == '?') {
            if (optopt != 0) {
                n8443_error("%s: unknown option '-%c'", spec->name, optopt);
            }
            else {
                n8443_error("%s: unknown option '%s'", spec->name,
                            argv[optind]);
            }
            return usage_error(spec->name);
        }
        if (opt == ':') {
            n8443_error("%s: option '%s' needs a value", spec->name,
                        argv[optind]);
            return usage_error(spec->name);
        }
        bit = option_bit(opt, &name);
        if (bit == N8443_OPT_HELP) {
            args.command = find_command(commands, "help");
            args.help_topic = spec->name;
            *args_out = args;
            return N8443_OK;
        }
        if (bit == N8443_OPT_VERSION) {
            args.command = &n8443_command_version;
            *args_out = args;
            return N8443_OK;
        }
        if (!(spec->options & bit)) {
            n8443_error("%s: --%s does not apply to %s", spec->name, name,
                        spec->name);
            return usage_error(spec->name);
        }
        if ((given & bit) && !(bit & OPTS_REPEATABLE)) {
            n8443_error("%s: --%s is given twice", spec->name, name);
            return usage_error(spec->name);
        }
        given |= bit;
        switch (opt) {
        case 'o': args.output = optarg; break;
        case 't': args.target = optarg; break;
        case 'n': args.dry_run = 1; break;
        case 'N': args.no_configtest = 1; break;
        case 'r': args.reload = 1; break;
        case 'C': args.configtest_cmd = optarg; break;
        case 'R': args.reload_cmd = optarg; break;
        case VAL_ONLINE: args.online = 1; break;
        case VAL_FORMAT: args.format = optarg; break;
        case VAL_ONLY: args.only = optarg; break;
        case VAL_STRICT: args.strict = 1; break;
        case VAL_HTTPD_USER: args.httpd_user = optarg; break;
        case VAL_CCACHE: args.ccache = optarg; break;
        case VAL_KEYTAB: args.keytab = optarg; break;
        case VAL_HOST: args.host = optarg; break;
        case VAL_ALIAS:
            if (args.naliases == N8443_MAX_ALIASES) {
                n8443_error("%s: at most %d --alias", spec->name,
                            N8443_MAX_ALIASES);
                return usage_error(spec->name);
            }
            args.aliases[args.naliases++] = optarg;
            break;
        case VAL_CERT: args.cert = optarg; break;
        case VAL_KEY: args.key = optarg; break;
        case VAL_CHAIN: args.chain = optarg; break;
        case VAL_REALM: args.realm = optarg; break;
        case VAL_AS: args.as_principal = optarg; break;
        case VAL_BROWSER: args.browser = optarg; break;
        case VAL_NO_LOGIN: args.no_login = 1; break;
        case VAL_TRACE: args.trace = 1; break;
        case VAL_CA: args.ca_file = optarg; break;
        case VAL_TIMEOUT: timeout = optarg; break;
        case VAL_ADDRESS: args.address = optarg; break;
        case VAL_LDAP_URI: args.ldap_uri = optarg; break;
        case VAL_BASE: args.base = optarg; break;
        default: break;
        }
    }
    /* getopt counted from argv + 1. */
    optind += 1;
    if (spec->operands == N8443_OPERANDS_CHECK) {
        rc = finish_check(&args, given, argc, argv);
        if (rc == N8443_OK) {
            *args_out = args;
        }
        return rc;
    }
    if (spec->operands == N8443_OPERANDS_GROUPS) {
        rc = finish_groups(&args, argc, argv);
        if (rc == N8443_OK) {
            *args_out = args;
        }
        return rc;
    }
    if (spec->operands == N8443_OPERANDS_URL) {
        rc = finish_probe(&args, timeout, argc, argv);
        if (rc == N8443_OK) {
            *args_out = args;
        }
        return rc;
    }
    if (optind >= argc) {
        n8443_error("%s: missing SITE.yaml", spec->name);
        return usage_error(spec->name);
    }
    if (optind + 1 < argc) {
        n8443_error("%s: unexpected argument '%s'", spec->name,
                    argv[optind + 1]);
        return usage_error(spec->name);
    }
    args.site_path = argv[optind];
    if (args.no_configtest && args.configtest_cmd != NULL) {
        n8443_error("%s: --configtest-cmd and --no-configtest contradict "
                    "each other",
                    spec->name);
        return usage_error(spec->name);
    }
    if (args.reload_cmd != NULL && !args.reload) {
        n8443_error("%s: --reload-cmd needs --reload", spec->name);
        return usage_error(spec->name);
    }
    *args_out = args;
    return N8443_OK;
}
