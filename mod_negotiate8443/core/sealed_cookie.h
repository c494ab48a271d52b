/*
 * sealed_cookie.h - the session cookie: the identity of a Kerberos login,
 * sealed with AES-256-GCM under a key that every server of a farm shares
 * (NegotiateSessionKeyFile), so that no one without the key can read,
 * forge or alter it.
 *
 * Wire form (base64url, no padding):
 *   version (1) | nonce (12) | ciphertext | GCM tag (16)
 * plaintext (version 2):
 *   expires (8, big-endian Unix seconds) | issued (8) | flags (1) |
 *   scope (16) | channel (16) | principal (rest, UTF-8, no NUL)
 * The version byte is also authenticated (AAD), so a cookie cannot be
 * re-labelled; a cookie of another version (version 1 had no scope) is
 * simply not ours.
 *
 * scope and channel are digests (n8443_cookie_digest) that the module
 * compares when it resumes a session: scope names where the login was
 * proven (virtual host, keytab, acceptor principal), channel the TLS
 * server certificate's tls-server-end-point binding of a channel-bound
 * login (zero otherwise).
 *
 * Pure C over OpenSSL 3; no httpd.
 */
#ifndef N8443_SEALED_COOKIE_H
#define N8443_SEALED_COOKIE_H

#include <stddef.h>
#include <stdint.h>

#define N8443_COOKIE_KEY_LEN       32
#define N8443_COOKIE_MAX_PRINCIPAL 511
/* Enough for the longest principal, base64url-encoded, plus NUL. */
#define N8443_COOKIE_MAX 800

#define N8443_COOKIE_DIGEST_LEN 16

#define N8443_SESSION_BOUND 0x01 /* the login was channel-bound */
/* 0x02 is not used: only a login with a Kerberos token gets a cookie. */
/* The issuing location's NegotiateChannelBinding (bits 2-3): recorded
 * for the log; what a resume may rely on is BOUND and the channel. */
#define N8443_SESSION_CB_SHIFT 2
#define N8443_SESSION_CB_MASK  0x0c

typedef struct {
    int64_t expires;
    int64_t issued;
    unsigned int flags;
    unsigned char scope[N8443_COOKIE_DIGEST_LEN];
    unsigned char channel[N8443_COOKIE_DIGEST_LEN];
    char principal[N8443_COOKIE_MAX_PRINCIPAL + 1];
} n8443_session;

typedef enum {
    N8443_COOKIE_OK = 0,
    N8443_COOKIE_BAD,    /* not ours: malformed, tampered, other key */
    N8443_COOKIE_EXPIRED /* genuine, but past its expiry */
} n8443_cookie_status;

/* Seal s into out (a NUL-terminated cookie value).  Returns 0, or -1 when
 * the principal is too long or the crypto library fails. */
int n8443_cookie_seal(const unsigned char key[N8443_COOKIE_KEY_LEN],
                      const n8443_session *s, char *out, size_t outcap);

/* Open a cookie value of len bytes; *s is filled only on N8443_COOKIE_OK. */
n8443_cookie_status
n8443_cookie_open(const unsigned char key[N8443_COOKIE_KEY_LEN],
                  const char *value, size_t len, int64_t now, n8443_session *s);

/* A digest of n strings (NULL counts as absent, distinct from ""), each
 * length-prefixed so that no two lists collide: SHA-256, first
 * N8443_COOKIE_DIGEST_LEN bytes.  Returns 0, or -1 when the crypto
 * library fails. */
int n8443_cookie_digest(const char *const *parts, size_t n,
                        unsigned char out[N8443_COOKIE_DIGEST_LEN]);

/* The same over one byte string (a channel binding). */
int n8443_cookie_digest_bytes(const unsigned char *data, size_t len,
                              unsigned char out[N8443_COOKIE_DIGEST_LEN]);

/* Called with each value of a pair named exactly like the cookie. */
typedef void (*n8443_cookie_value_fn)(void *arg, const char *value, size_t len);

/*
 * Take the cookie `name` (lower case) out of one Cookie field, so that
 * the application never sees it.  Pairs are split at ';' and also at ','
 * (how httpd joins repeated fields, and how some parsers read them).  A
 * pair goes when its name reads as `name` to some parser: any case, %XX
 * decoded, '.', ' ' and '[' taken for '_' (PHP's mangling), blanks around
 * it ignored.  The other pairs keep their text and separators; blanks and
 * separators a removed first or last pair leaves are trimmed.  The value
 * (blanks trimmed, not empty) of each pair whose name is exactly `name`
 * goes to fn (if not NULL).  out needs strlen(field) + 1 bytes.  Returns
 * how many pairs were removed (0: out is a copy of field).
 */
int n8443_cookie_strip(const char *field, const char *name, char *out,
                       n8443_cookie_value_fn fn, void *arg);

#endif /* N8443_SEALED_COOKIE_H */
