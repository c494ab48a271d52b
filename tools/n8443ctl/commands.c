/*
 * n8443ctl - the command table: name, options, help texts and handler of
 * every command, written once.  main.c runs the handler, args.c accepts
 * the options and help.c prints the texts, all from this table.
 *
 * The order is the order of the general help's list and of the names
 * n8443_suggest() tries (on a tie, the first wins).  n8443ctl(8) has the
 * long form of the texts; these are what fits on a screen.
 */
#include <stddef.h>

#include "msgs.h"
#include "n8443ctl.h"

const struct n8443_command n8443_commands[] = {
    {"render", N8443_OPT_OUTPUT, N8443_OPERANDS_SITE,
     "  render SITE.yaml [-o FILE]     write the httpd configuration\n",
     "Usage: " N8443_PROG " render SITE.yaml [-o FILE]\n"
     "\n"
     "Write the httpd configuration for SITE.yaml (\"-\" reads stdin) to\n"
     "stdout, or atomically to FILE.  The same input always gives the same\n"
     "bytes: the header names the tool version and the input's SHA-256.\n"
     "\n"
     "  -o, --output FILE   write to FILE instead of stdout\n"
     "\n"
     "Exit status: 0 written, 3 invalid site file, 4 a file could not be\n"
     "read or written.\n",
     n8443_cmd_render},
    {"diff", N8443_OPT_TARGET, N8443_OPERANDS_SITE,
     "  diff SITE.yaml [--target FILE] show what install would change\n",
     "Usage: " N8443_PROG " diff SITE.yaml [--target FILE]\n"
     "\n"
     "Print a unified diff from the installed configuration to what render\n"
     "would write now.  A missing target counts as empty.\n"
     "\n"
     "      --target FILE   the installed file (default: n8443-NAME.conf\n"
     "                      in the httpd configuration directory, for a\n"
     "                      site file with one site)\n"
     "\n"
     "Exit status, as diff(1): 0 no differences, 1 differences, 2 trouble\n"
     "(usage, unreadable file); 3 invalid site file.\n",
     n8443_cmd_diff},
    {"install",
     N8443_OPT_TARGET | N8443_OPT_DRY_RUN | N8443_OPT_NO_CONFIGTEST
         | N8443_OPT_RELOAD | N8443_OPT_CONFIGTEST_CMD | N8443_OPT_RELOAD_CMD,
     N8443_OPERANDS_SITE,
     "  install SITE.yaml [...]        write it, test it, roll back on "
     "failure\n",
     "Usage: " N8443_PROG " install SITE.yaml [--target FILE] [--dry-run]\n"
     "                [--no-configtest] [--configtest-cmd CMD]\n"
     "                [--reload [--reload-cmd CMD]]\n"
     "\n"
     "Write the configuration atomically, keep the previous file as\n"
     "FILE.prev, run the httpd config test and put the previous file back\n"
     "if the test fails.  Same bytes as installed: \"unchanged\".\n"
     "\n"
     "      --target FILE         the file to write (see diff)\n"
     "      --dry-run             print the diff, write nothing\n"
     "      --no-configtest       skip the config test\n"
     "      --configtest-cmd CMD  config test, run with /bin/sh -c\n"
     "                            (default: $N8443CTL_CONFIGTEST, else\n"
     "                            \"apachectl configtest\" from PATH)\n"
     "      --reload              graceful restart after a passed test\n"
     "      --reload-cmd CMD      restart command (default:\n"
     "                            $N8443CTL_RELOAD, else \"apachectl "
     "graceful\")\n"
     "\n"
     "Exit status: 0 installed or unchanged, 2 usage error, 3 invalid site\n"
     "file, 4 a file or service could not be used (also: reload failed),\n"
     "5 writing or the config test failed and the previous file is back.\n",
     n8443_cmd_install},
    {"check",
     N8443_OPT_ONLINE | N8443_OPT_FORMAT | N8443_OPT_ONLY | N8443_OPT_STRICT
         | N8443_OPT_HTTPD_USER | N8443_OPT_CCACHE | N8443_OPT_TARGET
         | N8443_OPT_LDAP_URI | N8443_OPTS_NO_SITE,
     N8443_OPERANDS_CHECK,
     "  check SITE.yaml [--online]     find what makes logins fail: SPN,\n"
     "                                 keytab, certificate, DNS, clock\n",
     "Usage: " N8443_PROG " check SITE.yaml [--online] [--format text|json]\n"
     "                [--only IDS] [--strict] [--httpd-user USER]\n"
     "                [--ccache NAME] [--target FILE]\n"
     "                [--ldap-uri URI]\n"
     "       " N8443_PROG " check --keytab FILE --host NAME [--alias NAME]...\n"
     "                [--cert FILE --key FILE [--chain FILE]] [--realm R]\n"
     "                [...same options]\n"
     "\n"
     "Find what would make Kerberos logins fail: service principals,\n"
     "keytab, certificate, DNS, clock, replay cache, SELinux labels,\n"
     "booleans and port (where SELinux is on), the token size and the\n"
     "header line limit of the installed file.  Each check has an id,\n"
     "a severity (ok, warning, error) and says what to do.\n"
     "\n"
     "      --online           also ask the KDC: kvno, a ticket decrypted\n"
     "                         with the keytab, the clock offset, a full\n"
     "                         SPNEGO login and a replay that must fail;\n"
     "                         a Redis replay cache's servers answer\n"
     "      --format FORMAT    text (default) or json\n"
     "      --only IDS         only these checks: ids or families, comma-\n"
     "                         separated (keytab,online.kvno)\n"
     "      --strict           warnings fail too (exit 1)\n"
     "      --httpd-user USER  who must read the keytab, and not write in\n"
     "                         the replay cache file's directories\n"
     "                         (default: apache, else www-data)\n"
     "      --ccache NAME      client tickets for --online (default:\n"
     "                         $KRB5CCNAME, else the service key itself)\n"
     "      --target FILE      the installed file, for http.field-size\n"
     "                         (default: as diff, for one site)\n"
     "      --ldap-uri URI     with --online: the KDC is Active Directory;\n"
     "                         check the SPNs' accounts over LDAP\n"
     "                         (default: $N8443CTL_LDAP_URI, else none)\n"
     "      --keytab FILE      without a site file: the keytab,\n"
     "      --host NAME        the server name, --alias NAME more names,\n"
     "      --cert, --key, --chain FILE   the TLS files, --realm REALM\n"
     "\n"
     "Exit status: 0 all ok (warnings allowed unless --strict), 1 a check\n"
     "failed, 2 usage error, 3 invalid site file, 4 a file or service could\n"
     "not be read or reached.\n",
     n8443_cmd_check},
    {"probe",
     N8443_OPT_AS | N8443_OPT_CCACHE | N8443_OPT_BROWSER | N8443_OPT_NO_LOGIN
         | N8443_OPT_FORMAT | N8443_OPT_TRACE | N8443_OPT_CA | N8443_OPT_TIMEOUT
         | N8443_OPT_ADDRESS,
     N8443_OPERANDS_URL,
     "  probe URL [--as PRINC]         diagnose a site from a client: name,\n"
     "                                 TLS, HTTP, ticket, login, replay\n",
     "Usage: " N8443_PROG " probe URL [--as PRINC | --ccache NAME]\n"
     "                [--browser chrome|firefox|curl] [--no-login]\n"
     "                [--format text|json] [--trace] [--ca FILE]\n"
     "                [--timeout S] [--address ADDR]\n"
     "\n"
     "Diagnose a Kerberos (SPNEGO) site from the client's side, step by\n"
     "step: name (DNS, the SPN each browser asks for), TLS (chain, names,\n"
     "expiry, channel binding, HSTS), HTTP (challenges, proxies), ticket\n"
     "(a service ticket for each SPN) and login (with and without channel\n"
     "binding, mutual authentication, a replay that must be refused).\n"
     "\n"
     "      --as PRINC         get a ticket as PRINC (password prompt)\n"
     "      --ccache NAME      the ticket cache (default: $KRB5CCNAME)\n"
     "      --browser NAME     only the SPN this client asks for\n"
     "      --no-login         stop before sending a token\n"
     "      --format FORMAT    text (default) or json\n"
     "      --trace            every request and response on stderr, the\n"
     "                         tokens decoded (never a secret)\n"
     "      --ca FILE          trust the CAs in FILE, not the system's\n"
     "      --timeout S        per connection and read (default: 10)\n"
     "      --address ADDR     connect to ADDR (one server behind a load\n"
     "                         balancer), the URL's name for all else\n"
     "\n"
     "Exit status: 0 all steps ok (warnings allowed), 1 a step failed,\n"
     "2 usage error, 4 the site could not be reached.\n",
     n8443_cmd_probe},
    {"groups",
     N8443_OPT_OUTPUT | N8443_OPT_LDAP_URI | N8443_OPT_BASE | N8443_OPT_CCACHE,
     N8443_OPERANDS_GROUPS,
     "  groups resolve NAME... -o FILE write the group map from AD\n",
     "Usage: " N8443_PROG " groups resolve NAME... [--base DN] [-o FILE]\n"
     "                [--ldap-uri URI] [--ccache NAME]\n"
     "       " N8443_PROG " groups resolve --base DN [-o FILE] [...]\n"
     "\n"
     "Write the group map of NegotiateGroupMap (\"name SID\" lines) for\n"
     "the named groups (sAMAccountName), or for every group under DN,\n"
     "from Active Directory over LDAP, bound with your Kerberos ticket\n"
     "(SASL GSSAPI, sealed).  A name with white space or a control\n"
     "character, or starting with '#', cannot be in the map: asked for,\n"
     "it is an error; under --base it is left out with a warning.\n"
     "\n"
     "  -o, --output FILE   write FILE atomically (mode 0644), not stdout\n"
     "      --base DN       search under DN (default: the domain)\n"
     "      --ldap-uri URI  the domain controller, ldap://DC.FQDN (default:\n"
     "                      $N8443CTL_LDAP_URI); the SPN is ldap/DC.FQDN\n"
     "      --ccache NAME   the ticket to bind with (default: $KRB5CCNAME)\n"
     "\n"
     "Exit status: 0 written, 1 a group not found, ambiguous or not a map\n"
     "name (nothing written), 2 usage error, 4 the directory could not be\n"
     "used, or this n8443ctl was built without LDAP.\n",
     n8443_cmd_groups},
    {"help", 0, N8443_OPERANDS_TOPIC,
     "  help COMMAND                   options of one command\n",
     "Usage: " N8443_PROG " help [COMMAND]\n"
     "\n"
     "Show the options of COMMAND, or the list of commands.\n",
     n8443_cmd_help},
    {NULL, 0, N8443_OPERANDS_SITE, NULL, NULL, NULL},
};
