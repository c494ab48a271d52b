/*
 * channel_binding.h - RFC 5929 "tls-server-end-point" channel bindings from
 * a server certificate: the certificate's hash, with the hash function of
 * its signature (MD5 and SHA-1 are replaced by SHA-256, RFC 5929 4.1).
 *
 * Pure C over OpenSSL 3; shared by the module and n8443ctl's checks.
 */
#ifndef N8443_CHANNEL_BINDING_H
#define N8443_CHANNEL_BINDING_H

#include <stddef.h>

/* "tls-server-end-point:" followed by at most a SHA-512 digest */
#define N8443_CB_PREFIX "tls-server-end-point:"
#define N8443_CB_MAX    (sizeof(N8443_CB_PREFIX) - 1 + 64)

/* The status of a certificate's binding (not to be confused with the
 * NegotiateChannelBinding modes, N8443_CB_* in modes.h). */
typedef enum {
    N8443_CERT_HASH_OK = 0,
    N8443_CERT_HASH_NONE,    /* the signature has no hash (Ed25519, Ed448):
                                 RFC 5929 defines no binding for it */
    N8443_CERT_HASH_BAD_CERT /* not a certificate OpenSSL can read */
} n8443_cert_hash_status;

/*
 * Compute the application data of the binding ("tls-server-end-point:" ||
 * hash) from a PEM (pem != NULL) or DER certificate.  out must hold
 * N8443_CB_MAX bytes; *outlen is set on N8443_CERT_HASH_OK only.
 */
n8443_cert_hash_status n8443_cb_from_pem(const char *pem, size_t len,
                                         unsigned char *out, size_t *outlen);
n8443_cert_hash_status n8443_cb_from_der(const unsigned char *der, size_t len,
                                         unsigned char *out, size_t *outlen);

/*
 * The address types a client may hash its bindings with when it binds
 * application data only (RFC 2744 3.11, RFC 4121 4.1.1.2): MIT,
 * python-gssapi and Windows write GSS_C_AF_UNSPEC (0) for both
 * addresses; OpenJDK's JGSS (ChannelBinding without addresses) and some
 * Heimdal callers write GSS_C_AF_NULLADDR (255).  MIT's acceptor hashes
 * what it is given (kg_checksum_channel_bindings) and compares, so the two
 * are different bindings to it: the module tries both (acceptor.c,
 * krb5_accept.c).  The same values as gssapi.h's, without it.
 */
#define N8443_BINDING_AF_UNSPEC   0u
#define N8443_BINDING_AF_NULLADDR 255u

/* The other address-free form's address type, or -1 when addrtype is
 * neither form (addresses are never rewritten). */
long n8443_cb_other_addrtype(unsigned long init_addrtype,
                             unsigned long acc_addrtype, size_t init_addrlen,
                             size_t acc_addrlen);

/* "GSS_C_AF_UNSPEC", "GSS_C_AF_NULLADDR" or "address type N", for logs. */
const char *n8443_cb_addrtype_name(unsigned long addrtype);

/* The name of the hash used (e.g. "SHA256"), for logs and checks; NULL
 * where there is none. */
const char *n8443_cb_hash_name_pem(const char *pem, size_t len);

#endif /* N8443_CHANNEL_BINDING_H */
