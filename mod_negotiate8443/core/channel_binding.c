/*
 * channel_binding.c - RFC 5929 tls-server-end-point from a certificate.
 */
#include "channel_binding.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* The hash RFC 5929 4.1 prescribes for the certificate's signature, or
 * NULL when the signature algorithm has none. */
static const EVP_MD *binding_md(X509 *cert)
{
    int mdnid = NID_undef, pknid = NID_undef;

    if (!X509_get_signature_info(cert, &mdnid, &pknid, NULL, NULL))
        return NULL;
    if (mdnid == NID_undef)
        return NULL;
    if (mdnid == NID_md5 || mdnid == NID_sha1)
        return EVP_sha256();
    return EVP_get_digestbynid(mdnid);
}

static n8443_cert_hash_status binding_of(X509 *cert, unsigned char *out,
                                         size_t *outlen)
{
    const size_t plen = sizeof(N8443_CB_PREFIX) - 1;
    const EVP_MD *md = binding_md(cert);
    unsigned int n = 0;

    if (md == NULL)
        return N8443_CERT_HASH_NONE;
    if (EVP_MD_get_size(md) <= 0
        || plen + (size_t)EVP_MD_get_size(md) > N8443_CB_MAX)
        return N8443_CERT_HASH_NONE;
    memcpy(out, N8443_CB_PREFIX, plen);
    if (!X509_digest(cert, md, out + plen, &n))
        return N8443_CERT_HASH_BAD_CERT;
    *outlen = plen + n;
    return N8443_CERT_HASH_OK;
}

static X509 *read_pem(const char *pem, size_t len)
{
    BIO *bio;
    X509 *cert;

    if (len > (size_t)0x7fffffff)
        return NULL;
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return NULL;
    cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return cert;
}

n8443_cert_hash_status n8443_cb_from_pem(const char *pem, size_t len,
                                         unsigned char *out, size_t *outlen)
{
    X509 *cert = read_pem(pem, len);
    n8443_cert_hash_status st;

    if (cert == NULL)
        return N8443_CERT_HASH_BAD_CERT;
    st = binding_of(cert, out, outlen);
    X509_free(cert);
    return st;
}

n8443_cert_hash_status n8443_cb_from_der(const unsigned char *der, size_t len,
                                         unsigned char *out, size_t *outlen)
{
    const unsigned char *p = der;
    X509 *cert;
    n8443_cert_hash_status st;

    if (len > (size_t)0x7fffffff)
        return N8443_CERT_HASH_BAD_CERT;
    cert = d2i_X509(NULL, &p, (long)len);
    if (cert == NULL)
        return N8443_CERT_HASH_BAD_CERT;
    st = p == der + len ? binding_of(cert, out, outlen)
                        : N8443_CERT_HASH_BAD_CERT;
    X509_free(cert);
    return st;
}

const char *n8443_cb_hash_name_pem(const char *pem, size_t len)
{
    X509 *cert = read_pem(pem, len);
    const EVP_MD *md;
    const char *name = NULL;

    if (cert == NULL)
        return NULL;
    md = binding_md(cert);
    if (md != NULL)
        name = OBJ_nid2sn(EVP_MD_get_type(md));
    X509_free(cert);
    return name;
}

long n8443_cb_other_addrtype(unsigned long init_addrtype,
                             unsigned long acc_addrtype, size_t init_addrlen,
                             size_t acc_addrlen)
{
    if (init_addrlen != 0 || acc_addrlen != 0 || init_addrtype != acc_addrtype)
        return -1;
    if (init_addrtype == N8443_BINDING_AF_UNSPEC)
        return (long)N8443_BINDING_AF_NULLADDR;
    if (init_addrtype == N8443_BINDING_AF_NULLADDR)
        return (long)N8443_BINDING_AF_UNSPEC;
    return -1;
}

const char *n8443_cb_addrtype_name(unsigned long addrtype)
{
    switch (addrtype) {
    case N8443_BINDING_AF_UNSPEC: return "GSS_C_AF_UNSPEC";
    case N8443_BINDING_AF_NULLADDR: return "GSS_C_AF_NULLADDR";
    default: return "another address type";
    }
}
