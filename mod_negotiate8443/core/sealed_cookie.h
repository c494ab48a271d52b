/*
 * sealed_cookie.h - the session cookie: the identity of a Kerberos login,
 * sealed with AES-256-GCM under a key that every server of a farm shares
 * (NegotiateSessionKeyFile), so that no one without the key can read,
 * forge or alter it.
 *
 * Wire form (base64url, no padding):
 *   version (1) | nonce (12) | ciphertext | GCM tag (16)
 * plaintext:
 *   expires (8, big-endian Unix seconds) | issued (8) | flags (1) |
 *   principal (rest, UTF-8, no NUL)
 * The version byte is also authenticated (AAD), so a cookie cannot be
 * re-labelled.
 *
 * Pure C over OpenSSL 3; no httpd.
 */
#ifndef N8443_SEALED_COOKIE_H
#define N8443_SEALED_COOKIE_H

#include <stddef.h>
#include <stdint.h>

#define N8443_COOKIE_KEY_LEN 32
#define N8443_COOKIE_MAX_PRINCIPAL 511
/* Enough for the longest principal, base64url-encoded, plus NUL. */
#define N8443_COOKIE_MAX 800

#define N8443_SESSION_BOUND 0x01    /* the login was channel-bound */
#define N8443_SESSION_BASIC 0x02    /* the login was a Basic password */

typedef struct {
    int64_t expires;
    int64_t issued;
    unsigned int flags;
    char principal[N8443_COOKIE_MAX_PRINCIPAL + 1];
} n8443_session;

typedef enum {
    N8443_COOKIE_OK = 0,
    N8443_COOKIE_BAD,       /* not ours: malformed, tampered, other key */
    N8443_COOKIE_EXPIRED    /* genuine, but past its expiry */
} n8443_cookie_status;

/* Seal s into out (a NUL-terminated cookie value).  Returns 0, or -1 when
 * the principal is too long or the crypto library fails. */
int n8443_cookie_seal(const unsigned char key[N8443_COOKIE_KEY_LEN],
                      const n8443_session *s, char *out, size_t outcap);

/* Open a cookie value of len bytes; *s is filled only on N8443_COOKIE_OK. */
n8443_cookie_status n8443_cookie_open(
    const unsigned char key[N8443_COOKIE_KEY_LEN], const char *value,
    size_t len, int64_t now, n8443_session *s);

#endif /* N8443_SEALED_COOKIE_H */
