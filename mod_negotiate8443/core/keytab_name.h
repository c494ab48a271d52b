/*
 * keytab_name.h - the one rule for "this keytab name is a file", shared by
 * the module (which watches the file for key rotations and copies it for
 * the fast path) and n8443ctl (which checks the file's owner and mode).
 * Pure C, no httpd, no krb5.
 *
 * The rule is MIT krb5's own (krb5_kt_resolve, src/lib/krb5/keytab/
 * ktbase.c), so neither can take a name for a file that Kerberos reads
 * as something else, or the other way round:
 *
 *   no ':'                      a file, the whole name ("rel/path", "",
 *                               relative names against the cwd)
 *   one letter before ':'       a file, the whole name (a drive letter:
 *                               "C:\x")
 *   starts with '/'             a file, the whole name ("/a:b")
 *   "FILE:x", "WRFILE:x"        the file x (may be empty: "FILE:")
 *   any other "TYPE:residual"   not a file (MEMORY:, KEYRING:, KDB:, an
 *                               unknown type such as ":x" or "rel/p:x",
 *                               which krb5 refuses); type names are
 *                               case-sensitive, as in krb5.
 */
#ifndef N8443_KEYTAB_NAME_H
#define N8443_KEYTAB_NAME_H

/* The file behind keytab name (a pointer into it), or NULL when krb5
 * reads the name as another keytab type (or name is NULL). */
const char *n8443_keytab_name_file(const char *name);

#endif /* N8443_KEYTAB_NAME_H */
