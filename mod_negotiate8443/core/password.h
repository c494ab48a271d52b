/*
 * password.h - checking a Kerberos password the safe way: get a ticket
 * from the KDC, then verify that ticket against the service keytab, so a
 * spoofed KDC (one that does not know the service key) cannot log anyone
 * in.  Used by the Basic fallback and the negotiate8443 authn provider.
 */
#ifndef N8443_PASSWORD_H
#define N8443_PASSWORD_H

#include <stddef.h>

typedef enum {
    N8443_PW_OK = 0,
    N8443_PW_REFUSED,       /* wrong password, unknown or locked user */
    N8443_PW_FOREIGN_REALM, /* a realm this server has no key for */
    N8443_PW_KDC_UNREACHABLE,
    N8443_PW_NOT_VERIFIED, /* the ticket did not verify with the keytab:
                               the KDC is not the one that has our key */
    N8443_PW_ERROR         /* anything else: also a refusal */
} n8443_pw_result;

/* Every refusal takes at least this long, whatever its reason, so that
 * its timing does not tell a known user from an unknown one. */
#define N8443_PW_REFUSAL_FLOOR_MS 200

/*
 * Check user (a principal name; the default realm if it has none) and
 * password.  keytab NULL means the default keytab; server_principal NULL
 * means the first key in the keytab of the user's realm.  On N8443_PW_OK
 * *principal_out is the canonical client principal (free() it); on every
 * result err holds a sentence for the log.  A refusal returns no sooner
 * than N8443_PW_REFUSAL_FLOOR_MS after the call (the calling thread
 * sleeps).
 */
n8443_pw_result n8443_password_check(const char *user, const char *password,
                                     const char *keytab,
                                     const char *server_principal,
                                     char **principal_out, char *err,
                                     size_t errlen);

#endif /* N8443_PASSWORD_H */
