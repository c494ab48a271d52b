/*
 * replay_key.c - digest of the encrypted authenticator, the replay-cache
 * key (see replay_key.h for why the authenticator and not the token).
 */
#include <string.h>

#include <openssl/evp.h>

#include "replay_key.h"
#include "sha256.h"

/*
 * Domain separation: the same cipher bytes hashed for another purpose (or
 * by a later, different key layout, which bumps the version) never give a
 * key that collides with this one.  v1 also hashed the etype field, which
 * no checksum covers (an etype-rewritten copy got a fresh key); v2 hashes
 * the cipher alone.
 */
static const char replay_key_label[] = "mod_negotiate8443 replay key v2";

int n8443_replay_key(const n8443_apreq_info *info,
                     unsigned char key[N8443_REPLAY_KEY_LEN])
{
    EVP_MD_CTX *ctx = NULL;
    unsigned int md_len = 0;
    int ret = -1;

    if (key == NULL)
        return -1;
    if (info == NULL || info->authenticator.data == NULL
        || info->authenticator.len == 0)
        goto cleanup;

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        goto cleanup;
    if (EVP_DigestInit_ex2(ctx, n8443_sha256_md(), NULL) != 1
        || EVP_DigestUpdate(ctx, replay_key_label, sizeof(replay_key_label))
               != 1
        || EVP_DigestUpdate(ctx, info->authenticator.data,
                            info->authenticator.len)
               != 1
        || EVP_DigestFinal_ex(ctx, key, &md_len) != 1
        || md_len != N8443_REPLAY_KEY_LEN)
        goto cleanup;
    ret = 0;

cleanup:
    if (ret != 0)
        memset(key, 0, N8443_REPLAY_KEY_LEN);
    EVP_MD_CTX_free(ctx);
    return ret;
}
