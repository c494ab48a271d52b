/*
 * sha256.h - SHA-256, fetched from OpenSSL's provider once per process,
 * and HMAC-SHA-256 under a key set up once.
 *
 * EVP_sha256() makes OpenSSL 3 look the algorithm up again on every
 * digest or HMAC it starts; the replay key, the session cookie's scope,
 * the replay quota and the delegation names are on the login path, so
 * they share one fetched object instead.  OpenSSL 3's one-shot HMAC()
 * also fetches the MAC and sets the key up on every call: for the short
 * messages here four fifths of its cost (n8443_hmac_key).
 */
#ifndef N8443_SHA256_H
#define N8443_SHA256_H

#include <stddef.h>

#include <openssl/evp.h>

#define N8443_SHA256_LEN 32

/* The fetched SHA-256, kept for the process' life; EVP_sha256() where
 * the fetch failed (it still works, only slower).  Thread-safe. */
const EVP_MD *n8443_sha256_md(void);

/* A key's inner and outer SHA-256 states (RFC 2104), computed once. */
typedef struct n8443_hmac_key n8443_hmac_key;

/* NULL when OpenSSL cannot (out of memory). */
n8443_hmac_key *n8443_hmac_key_new(const unsigned char *key, size_t len);
void n8443_hmac_key_free(n8443_hmac_key *k);

/* HMAC-SHA-256(key, msg) into out (N8443_SHA256_LEN bytes), as HMAC()
 * computes it; 0 on success.  Thread-safe: k is only read. */
int n8443_hmac_sha256(const n8443_hmac_key *k, const void *msg, size_t len,
                      unsigned char *out);

#endif
