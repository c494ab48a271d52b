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

enum {
    OPT_OUTPUT = 1 << 0,
    OPT_TARGET = 1 << 1,
    OPT_DRY_RUN = 1 << 2,
    OPT_NO_CONFIGTEST = 1 << 3,
    OPT_RELOAD = 1 << 4,
    OPT_CONFIGTEST_CMD = 1 << 5,
    OPT_RELOAD_CMD = 1 << 6,
    OPT_HELP = 1 << 7,
    OPT_VERSION = 1 << 8,
    OPT_ONLINE = 1 << 9,
    OPT_FORMAT = 1 << 10,
    OPT_ONLY = 1 << 11,
    OPT_STRICT = 1 << 12,
    OPT_HTTPD_USER = 1 << 13,
    OPT_CCACHE = 1 << 14,
    OPT_KEYTAB = 1 << 15,
    OPT_HOST = 1 << 16,
    OPT_ALIAS = 1 << 17,
    OPT_CERT = 1 << 18,
    OPT_KEY = 1 << 19,
    OPT_CHAIN = 1 << 20,
    OPT_REALM = 1 << 21,
    OPT_AS = 1 << 22,
    OPT_BROWSER = 1 << 23,
    OPT_NO_LOGIN = 1 << 24,
    OPT_TRACE = 1 << 25,
    OPT_CA = 1 << 26,
    OPT_TIMEOUT = 1 << 27,
    OPT_ADDRESS = 1 << 28
};

/* check's options without a site file, and those it may repeat. */
#define OPTS_NO_SITE                                                          \
    (OPT_KEYTAB | OPT_HOST | OPT_ALIAS | OPT_CERT | OPT_KEY | OPT_CHAIN       \
     | OPT_REALM)
#define OPTS_REPEATABLE OPT_ALIAS

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
    VAL_ADDRESS
};

struct command_spec {
    const char *name;
    enum n8443_command command;
    unsigned options;
};

static const struct command_spec specs[] = {
    {"render", N8443_CMD_RENDER, OPT_OUTPUT},
    {"diff", N8443_CMD_DIFF, OPT_TARGET},
    {"install", N8443_CMD_INSTALL,
     OPT_TARGET | OPT_DRY_RUN | OPT_NO_CONFIGTEST | OPT_RELOAD
     | OPT_CONFIGTEST_CMD | OPT_RELOAD_CMD},
    {"help", N8443_CMD_HELP, 0},
    {"check", N8443_CMD_CHECK,
     OPT_ONLINE | OPT_FORMAT | OPT_ONLY | OPT_STRICT | OPT_HTTPD_USER
     | OPT_CCACHE | OPTS_NO_SITE},
    {"probe", N8443_CMD_PROBE,
     OPT_AS | OPT_CCACHE | OPT_BROWSER | OPT_NO_LOGIN | OPT_FORMAT
     | OPT_TRACE | OPT_CA | OPT_TIMEOUT | OPT_ADDRESS},
    {NULL, N8443_CMD_NONE, 0}
};

/* In the order of the OPT_* bits: option_bit() derives one from the
 * other. */
static const struct option long_options[] = {
    {"output", required_argument, NULL, 'o'},
    {"target", required_argument, NULL, 't'},
    {"dry-run", no_argument, NULL, 'n'},
    {"no-configtest", no_argument, NULL, 'N'},
    {"reload", no_argument, NULL, 'r'},
    {"configtest-cmd", required_argument, NULL, 'C'},
    {"reload-cmd", required_argument, NULL, 'R'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"online", no_argument, NULL, VAL_ONLINE},
    {"format", required_argument, NULL, VAL_FORMAT},
    {"only", required_argument, NULL, VAL_ONLY},
    {"strict", no_argument, NULL, VAL_STRICT},
    {"httpd-user", required_argument, NULL, VAL_HTTPD_USER},
    {"ccache", required_argument, NULL, VAL_CCACHE},
    {"keytab", required_argument, NULL, VAL_KEYTAB},
    {"host", required_argument, NULL, VAL_HOST},
    {"alias", required_argument, NULL, VAL_ALIAS},
    {"cert", required_argument, NULL, VAL_CERT},
    {"key", required_argument, NULL, VAL_KEY},
    {"chain", required_argument, NULL, VAL_CHAIN},
    {"realm", required_argument, NULL, VAL_REALM},
    {"as", required_argument, NULL, VAL_AS},
    {"browser", required_argument, NULL, VAL_BROWSER},
    {"no-login", no_argument, NULL, VAL_NO_LOGIN},
    {"trace", no_argument, NULL, VAL_TRACE},
    {"ca", required_argument, NULL, VAL_CA},
    {"timeout", required_argument, NULL, VAL_TIMEOUT},
    {"address", required_argument, NULL, VAL_ADDRESS},
    {NULL, 0, NULL, 0}
};

/* Option bit and the name messages use, by getopt value. */
static unsigned option_bit(int opt, const char **name_out)
{
    size_t i;

    for (i = 0; long_options[i].name != NULL; i++) {
        if (long_options[i].val == opt) {
            *name_out = long_options[i].name;
            return 1u << i;
        }
    }
    *name_out = "?";
    return 0;
}

static const struct command_spec *find_command(const char *name)
{
    size_t i;

    for (i = 0; specs[i].name != NULL; i++) {
        if (strcmp(specs[i].name, name) == 0) {
            return &specs[i];
        }
    }
    return NULL;
}

const char *const *n8443_command_names(void)
{
    static const char *names[sizeof(specs) / sizeof(specs[0])];
    size_t i;

    for (i = 0; specs[i].name != NULL; i++) {
        names[i] = specs[i].name;
    }
    names[i] = NULL;
    return names;
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
static int parse_global(int argc, char **argv, struct n8443_args *args)
{
    const char *first = argv[1];

    if (strcmp(first, "--help") == 0 || strcmp(first, "-h") == 0) {
        if (argc > 3) {
            n8443_error("unexpected argument '%s'", argv[3]);
            return usage_error(NULL);
        }
        args->command = N8443_CMD_HELP;
        args->help_topic = argc == 3 ? argv[2] : NULL;
        return N8443_OK;
    }
    if (strcmp(first, "--version") == 0) {
        if (argc > 2) {
            n8443_error("unexpected argument '%s'", argv[2]);
            return usage_error(NULL);
        }
        args->command = N8443_CMD_VERSION;
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
    if (args->site_path != NULL && (given & OPTS_NO_SITE)) {
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
static int finish_probe(struct n8443_args *args, const char *timeout,
                        int argc, char **argv)
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
                    "'%s'", args->browser);
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
        if (errno != 0 || end == timeout || *end != '\0'
            || args->timeout < 1 || args->timeout > 600) {
            n8443_error("probe: --timeout '%s' is not a number of seconds "
                        "from 1 to 600", timeout);
            return usage_error("probe");
        }
    }
    return N8443_OK;
}

/*
 * Fill *args_out from ARGV.  Prints the reason and returns N8443_USAGE on
 * a bad command line; --help and --version anywhere turn the command
 * into HELP (for this command) or VERSION.
 */
int n8443_args_parse(int argc, char **argv, struct n8443_args *args_out)
{
    const struct command_spec *spec;
    struct n8443_args args;
    unsigned given = 0;
    const char *timeout = NULL;
    const char *hint;
    int opt;
    int rc;

    memset(&args, 0, sizeof(args));
    if (argc < 2) {
        n8443_help_general(1);
        return N8443_USAGE;
    }
    if (argv[1][0] == '-') {
        rc = parse_global(argc, argv, &args);
        if (rc == N8443_OK) {
            *args_out = args;
        }
        return rc;
    }
    spec = find_command(argv[1]);
    if (spec == NULL) {
        hint = n8443_suggest(argv[1], n8443_command_names());
        if (hint != NULL) {
            n8443_error("unknown command '%s' (did you mean '%s'?)", argv[1],
                        hint);
        }
        else {
            n8443_error("unknown command '%s'", argv[1]);
        }
        return usage_error(NULL);
    }
    if (spec->command == N8443_CMD_HELP) {
        if (argc > 3) {
            n8443_error("help: unexpected argument '%s'", argv[3]);
            return usage_error(NULL);
        }
        args.command = N8443_CMD_HELP;
        args.help_topic = argc == 3 ? argv[2] : NULL;
        *args_out = args;
        return N8443_OK;
    }

    args.command = spec->command;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc - 1, argv + 1, ":ho:", long_options,
                              NULL)) != -1) {
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
        if (bit == OPT_HELP) {
            args.command = N8443_CMD_HELP;
            args.help_topic = spec->name;
            *args_out = args;
            return N8443_OK;
        }
        if (bit == OPT_VERSION) {
            args.command = N8443_CMD_VERSION;
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
        case 'o':
            args.output = optarg;
            break;
        case 't':
            args.target = optarg;
            break;
        case 'n':
            args.dry_run = 1;
            break;
        case 'N':
            args.no_configtest = 1;
            break;
        case 'r':
            args.reload = 1;
            break;
        case 'C':
            args.configtest_cmd = optarg;
            break;
        case 'R':
            args.reload_cmd = optarg;
            break;
        case VAL_ONLINE:
            args.online = 1;
            break;
        case VAL_FORMAT:
            args.format = optarg;
            break;
        case VAL_ONLY:
            args.only = optarg;
            break;
        case VAL_STRICT:
            args.strict = 1;
            break;
        case VAL_HTTPD_USER:
            args.httpd_user = optarg;
            break;
        case VAL_CCACHE:
            args.ccache = optarg;
            break;
        case VAL_KEYTAB:
            args.keytab = optarg;
            break;
        case VAL_HOST:
            args.host = optarg;
            break;
        case VAL_ALIAS:
            if (args.naliases == N8443_MAX_ALIASES) {
                n8443_error("%s: at most %d --alias", spec->name,
                            N8443_MAX_ALIASES);
                return usage_error(spec->name);
            }
            args.aliases[args.naliases++] = optarg;
            break;
        case VAL_CERT:
            args.cert = optarg;
            break;
        case VAL_KEY:
            args.key = optarg;
            break;
        case VAL_CHAIN:
            args.chain = optarg;
            break;
        case VAL_REALM:
            args.realm = optarg;
            break;
        case VAL_AS:
            args.as_principal = optarg;
            break;
        case VAL_BROWSER:
            args.browser = optarg;
            break;
        case VAL_NO_LOGIN:
            args.no_login = 1;
            break;
        case VAL_TRACE:
            args.trace = 1;
            break;
        case VAL_CA:
            args.ca_file = optarg;
            break;
        case VAL_TIMEOUT:
            timeout = optarg;
            break;
        case VAL_ADDRESS:
            args.address = optarg;
            break;
        default:
            break;
        }
    }
    /* getopt counted from argv + 1. */
    optind += 1;
    if (args.command == N8443_CMD_CHECK) {
        rc = finish_check(&args, given, argc, argv);
        if (rc == N8443_OK) {
            *args_out = args;
        }
        return rc;
    }
    if (args.command == N8443_CMD_PROBE) {
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
                    "each other", spec->name);
        return usage_error(spec->name);
    }
    if (args.reload_cmd != NULL && !args.reload) {
        n8443_error("%s: --reload-cmd needs --reload", spec->name);
        return usage_error(spec->name);
    }
    *args_out = args;
    return N8443_OK;
}
