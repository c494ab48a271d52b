/*
 * encode.h - the one base64 and the one hex encoder of the module, the
 * tool and the tests (there were three of each).  Pure C, no httpd.
 *
 * Each writes a NUL-terminated string into a buffer of the caller's and
 * returns its length, or 0 (with out[0] = '\0' where outcap > 0) when
 * the buffer is too small or the arguments are bad: nothing is ever cut
 * short silently.  (Decoding, which takes bytes from the network, is
 * authz_header.c's and sealed_cookie.c's, each with its own strict
 * rules.)
 */
#ifndef N8443_ENCODE_H
#define N8443_ENCODE_H

#include <stddef.h>

/* Characters n8443_base64_encode writes for INLEN bytes, without the NUL
 * (0 if that does not fit in a size_t). */
size_t n8443_base64_encoded_len(size_t inlen);

/* RFC 4648 section 4 base64, padded with '=' (headers: "Negotiate X"). */
size_t n8443_base64_encode(const unsigned char *in, size_t inlen, char *out,
                           size_t outcap);

/* RFC 4648 section 5 base64url ('-', '_'), without padding (cookies). */
size_t n8443_base64url_encode(const unsigned char *in, size_t inlen, char *out,
                              size_t outcap);

/* Lower-case hex, two digits a byte: 2 * INLEN characters and the NUL. */
size_t n8443_hex_encode(const unsigned char *in, size_t inlen, char *out,
                        size_t outcap);

#endif /* N8443_ENCODE_H */
