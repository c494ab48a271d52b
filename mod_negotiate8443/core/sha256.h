/*
 * sha256.h - SHA-256, fetched from OpenSSL's provider once per process.
 *
 * EVP_sha256() makes OpenSSL 3 look the algorithm up again on every
 * digest or HMAC it starts; the replay key, the session cookie's scope,
 * the replay quota and the delegation names are on the login path, so
 * they share one fetched object instead.
 */
#ifndef N8443_SHA256_H
#define N8443_SHA256_H

#include <openssl/evp.h>

/* The fetched SHA-256, kept for the process' life; EVP_sha256() where
 * the fetch failed (it still works, only slower).  Thread-safe. */
const EVP_MD *n8443_sha256_md(void);

#endif
