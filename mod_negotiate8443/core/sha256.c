/*
 * sha256.c - see sha256.h.
 */
#include "sha256.h"

#include <pthread.h>

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
