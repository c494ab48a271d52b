/*
 * sha256.c - see sha256.h.
 */
#include "sha256.h"

#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const EVP_MD *n8443_sha256_md(void)
{
    pthread_once(&sha256_once, fetch_sha256);
    return sha256_md != NULL ? sha256_md : EVP_sha256();
}

/* SHA-256's block size: the key is padded (or first hashed) to it. */
#define BLOCK 64

struct n8443_hmac_key {
    EVP_MD_CTX *inner; /* after (key ^ ipad) */
    EVP_MD_CTX *outer; /* after (key ^ opad) */
};

void n8443_hmac_key_free(n8443_hmac_key *k)
{
    if (k == NULL)
        return;
    EVP_MD_CTX_free(k->inner);
    EVP_MD_CTX_free(k->outer);
    OPENSSL_free(k);
}

/* ctx: SHA-256 after one block, k0 XOR pad. */
static int pad_state(EVP_MD_CTX **ctx, const unsigned char *k0,
                     unsigned char pad)
{
    unsigned char block[BLOCK];
    int i, ok;

    for (i = 0; i < BLOCK; i++)
        block[i] = k0[i] ^ pad;
    *ctx = EVP_MD_CTX_new();
    ok = *ctx != NULL && EVP_DigestInit_ex2(*ctx, n8443_sha256_md(), NULL) == 1
         && EVP_DigestUpdate(*ctx, block, BLOCK) == 1;
    OPENSSL_cleanse(block, sizeof(block));
    return ok;
}

n8443_hmac_key *n8443_hmac_key_new(const unsigned char *key, size_t len)
{
    unsigned char k0[BLOCK];
    n8443_hmac_key *k = OPENSSL_zalloc(sizeof(*k));
    int ok = k != NULL;

    /* RFC 2104: a key longer than a block is hashed first; the key is
     * then padded with zeros to the block. */
    memset(k0, 0, sizeof(k0));
    if (ok && len > BLOCK)
        ok = EVP_Digest(key, len, k0, NULL, n8443_sha256_md(), NULL) == 1;
    else if (ok && len > 0)
        memcpy(k0, key, len);
    ok = ok && pad_state(&k->inner, k0, 0x36) && pad_state(&k->outer, k0, 0x5c);
    OPENSSL_cleanse(k0, sizeof(k0));
    if (!ok) {
        n8443_hmac_key_free(k);
        return NULL;
    }
    return k;
}

int n8443_hmac_sha256(const n8443_hmac_key *k, const void *msg, size_t len,
                      unsigned char *out)
{
    unsigned char ih[N8443_SHA256_LEN];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c != NULL && k != NULL && EVP_MD_CTX_copy_ex(c, k->inner) == 1
             && EVP_DigestUpdate(c, msg, len) == 1
             && EVP_DigestFinal_ex(c, ih, NULL) == 1
             && EVP_MD_CTX_copy_ex(c, k->outer) == 1
             && EVP_DigestUpdate(c, ih, sizeof(ih)) == 1
             && EVP_DigestFinal_ex(c, out, NULL) == 1;

    OPENSSL_cleanse(ih, sizeof(ih));
    EVP_MD_CTX_free(c);
    return ok ? 0 : -1;
}
