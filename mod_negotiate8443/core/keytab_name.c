/*
 * keytab_name.c - which keytab names are files, as krb5_kt_resolve reads
 * them (keytab_name.h).
 */
#include "keytab_name.h"

#include <string.h>

const char *n8443_keytab_name_file(const char *name)
{
    const char *colon;
    char c;

    if (name == NULL)
        return NULL;
    colon = strchr(name, ':');
    if (colon == NULL)
        return name;
    /* A drive letter, as MIT's isalpha() in the C locale. */
    c = name[0];
    if (colon - name == 1 && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
        return name;
    if (name[0] == '/')
        return name;
    if (colon - name == 4 && strncmp(name, "FILE", 4) == 0)
        return colon + 1;
    if (colon - name == 6 && strncmp(name, "WRFILE", 6) == 0)
        return colon + 1;
    return NULL;
}
