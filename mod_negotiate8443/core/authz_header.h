/*
 * authz_header.h - parsing of the HTTP Authorization header value and of
 * base64 (RFC 4648, strict), as the module and the fuzzers see it.
 *
 * Pure C: no httpd, no APR, no allocation.
 */
#ifndef N8443_AUTHZ_HEADER_H
#define N8443_AUTHZ_HEADER_H

#include <stddef.h>

typedef enum {
    N8443_AUTHZ_NEGOTIATE = 0, /* "Negotiate <token68>" */
    N8443_AUTHZ_BASIC,         /* "Basic <token68>" */
    N8443_AUTHZ_OTHER,         /* a well-formed other scheme (Bearer, ...) */
    N8443_AUTHZ_EMPTY,         /* "Negotiate" / "Basic" without a token */
    N8443_AUTHZ_MALFORMED      /* not "scheme SP token68" at all */
} n8443_authz_kind;

typedef struct {
    n8443_authz_kind kind;
    const char *scheme; /* points into the header value */
    size_t scheme_len;
    const char *param; /* the token68, whitespace trimmed */
    size_t param_len;
} n8443_authz;

/*
 * Split an Authorization header value into scheme and parameter.  The scheme
 * is matched case-insensitively (ASCII, whatever the locale); spaces/tabs
 * around the token are allowed.  For Negotiate and Basic, any other byte
 * that is not part of one token68 makes it MALFORMED ("Negotiate a b").
 * Other schemes are OTHER whatever their parameters look like (Digest's
 * quoted auth-params included), unless they hold control characters.
 * out may be NULL; on MALFORMED it is zeroed apart from kind.
 */
n8443_authz_kind n8443_authz_parse(const char *value, n8443_authz *out);

/* Upper bound on the decoded size of inlen base64 characters. */
size_t n8443_base64_decoded_max(size_t inlen);

/*
 * Strict base64 decode: standard alphabet, length a multiple of 4 with
 * correct '=' padding, no whitespace, and zero trailing bits, so that each
 * byte string has exactly one accepted text.
 * Returns 0 and sets *outlen on success, -1 on any malformed input or when
 * outcap is too small (checked before anything is written; after a bad
 * character out may hold a partial result, and *outlen is untouched).
 */
int n8443_base64_decode(const char *in, size_t inlen, unsigned char *out,
                        size_t outcap, size_t *outlen);

/*
 * Split decoded Basic credentials "user:password" at the first ':'.
 * Returns -1 (refuse) when there is no ':', the user is empty, or either part
 * contains a NUL or a control character (C0 or DEL).  An empty password is
 * returned as such: the KDC refuses it.  The pointers point into buf and are
 * not NUL-terminated; they are written only on success.
 */
int n8443_basic_split(const unsigned char *buf, size_t len, const char **user,
                      size_t *user_len, const char **pass, size_t *pass_len);

#endif /* N8443_AUTHZ_HEADER_H */
