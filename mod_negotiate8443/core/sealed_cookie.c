/*
 * sealed_cookie.c - AES-256-GCM seal and open of the session cookie.
 * See sealed_cookie.h for the format.
 */
#include "sealed_cookie.h"
#include "encode.h"
#include "sha256.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

/* 2: scope and channel sealed in; version 1 cookies no longer open. */
#define VERSION   2
#define NONCE_LEN 12
#define TAG_LEN   16
/* expires + issued + flags + scope + channel */
#define HEAD_LEN  (17 + 2 * N8443_COOKIE_DIGEST_LEN)
#define MAX_PLAIN (HEAD_LEN + N8443_COOKIE_MAX_PRINCIPAL)
#define MAX_RAW   (1 + NONCE_LEN + MAX_PLAIN + TAG_LEN)

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Strict: no padding, no other characters, zero trailing bits. */
static int b64url_decode(const char *in, size_t len, unsigned char *out,
                         size_t outcap, size_t *outlen)
{
    size_t i, o = 0;
    unsigned v = 0;
    int bits = 0, d;

    if (len % 4 == 1)
        return -1;
    for (i = 0; i < len; i++) {
        d = b64url_value(in[i]);
        if (d < 0)
            return -1;
        v = (v << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= outcap)
                return -1;
            out[o++] = (unsigned char)(v >> bits);
            v &= (1u << bits) - 1;
        }
    }
    if (v != 0)
        return -1;
    *outlen = o;
    return 0;
}

static void put64(unsigned char *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    int i;

    for (i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(u & 0xff);
        u >>= 8;
    }
}

static int64_t get64(const unsigned char *p)
{
    uint64_t u = 0;
    int i;

    for (i = 0; i < 8; i++)
        u = (u << 8) | p[i];
    return (int64_t)u;
}

int n8443_cookie_seal(const unsigned char key[N8443_COOKIE_KEY_LEN],
                      const n8443_session *s, char *out, size_t outcap)
{
    unsigned char plain[MAX_PLAIN], raw[MAX_RAW];
    size_t plen = strlen(s->principal);
    EVP_CIPHER_CTX *ctx = NULL;
    int n, total, ret = -1;

    if (plen == 0 || plen > N8443_COOKIE_MAX_PRINCIPAL
        || outcap
               < ((1 + NONCE_LEN + HEAD_LEN + plen + TAG_LEN) * 4 + 2) / 3 + 1)
        return -1;
    put64(plain, s->expires);
    put64(plain + 8, s->issued);
    plain[16] = (unsigned char)s->flags;
    memcpy(plain + 17, s->scope, N8443_COOKIE_DIGEST_LEN);
    memcpy(plain + 17 + N8443_COOKIE_DIGEST_LEN, s->channel,
           N8443_COOKIE_DIGEST_LEN);
    memcpy(plain + HEAD_LEN, s->principal, plen);

    raw[0] = VERSION;
    /* A random 96-bit nonce per cookie: with one key, the chance of a
     * repeat stays negligible far beyond any farm's login count. */
    if (RAND_bytes(raw + 1, NONCE_LEN) != 1)
        goto cleanup;
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL
        || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, raw + 1) != 1
        || EVP_EncryptUpdate(ctx, NULL, &n, raw, 1) != 1
        || EVP_EncryptUpdate(ctx, raw + 1 + NONCE_LEN, &n, plain,
                             (int)(HEAD_LEN + plen))
               != 1)
        goto cleanup;
    total = n;
    if (EVP_EncryptFinal_ex(ctx, raw + 1 + NONCE_LEN + total, &n) != 1)
        goto cleanup;
    total += n;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
                            raw + 1 + NONCE_LEN + total)
        != 1)
        goto cleanup;
    if (n8443_base64url_encode(raw, 1 + NONCE_LEN + (size_t)total + TAG_LEN,
                               out, outcap)
        == 0)
        goto cleanup;
    ret = 0;

cleanup:
    OPENSSL_cleanse(plain, sizeof(plain));
    EVP_CIPHER_CTX_free(ctx);
    return ret;
}

n8443_cookie_status
n8443_cookie_open(const unsigned char key[N8443_COOKIE_KEY_LEN],
                  const char *value, size_t len, int64_t now, n8443_session *s)
{
    unsigned char raw[MAX_RAW], plain[MAX_PLAIN];
    size_t rawlen, clen, plen;
    EVP_CIPHER_CTX *ctx = NULL;
    n8443_cookie_status st = N8443_COOKIE_BAD;
    int n, total;

    if (len > N8443_COOKIE_MAX
        || b64url_decode(value, len, raw, sizeof(raw), &rawlen) != 0
        || rawlen < 1 + NONCE_LEN + HEAD_LEN + 1 + TAG_LEN || raw[0] != VERSION)
        return N8443_COOKIE_BAD;
    clen = rawlen - 1 - NONCE_LEN - TAG_LEN;
    if (clen > MAX_PLAIN)
        return N8443_COOKIE_BAD;

    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL
        || EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, raw + 1) != 1
        || EVP_DecryptUpdate(ctx, NULL, &n, raw, 1) != 1
        || EVP_DecryptUpdate(ctx, plain, &n, raw + 1 + NONCE_LEN, (int)clen)
               != 1)
        goto cleanup;
    total = n;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
                            raw + 1 + NONCE_LEN + clen)
            != 1
        || EVP_DecryptFinal_ex(ctx, plain + total, &n) != 1)
        goto cleanup; /* tampered, truncated or another key */
    total += n;
    plen = (size_t)total - HEAD_LEN;
    if (memchr(plain + HEAD_LEN, '\0', plen) != NULL)
        goto cleanup;
    if (get64(plain) <= now) {
        st = N8443_COOKIE_EXPIRED;
        goto cleanup;
    }
    s->expires = get64(plain);
    s->issued = get64(plain + 8);
    s->flags = plain[16];
    memcpy(s->scope, plain + 17, N8443_COOKIE_DIGEST_LEN);
    memcpy(s->channel, plain + 17 + N8443_COOKIE_DIGEST_LEN,
           N8443_COOKIE_DIGEST_LEN);
    memcpy(s->principal, plain + HEAD_LEN, plen);
    s->principal[plen] = '\0';
    st = N8443_COOKIE_OK;

cleanup:
    OPENSSL_cleanse(plain, sizeof(plain));
    EVP_CIPHER_CTX_free(ctx);
    return st;
}

int n8443_cookie_digest(const char *const *parts, size_t n,
                        unsigned char out[N8443_COOKIE_DIGEST_LEN])
{
    unsigned char md[SHA256_DIGEST_LENGTH], len[5];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t i, l;
    int ret = -1;

    if (ctx == NULL || EVP_DigestInit_ex(ctx, n8443_sha256_md(), NULL) != 1)
        goto cleanup;
    for (i = 0; i < n; i++) {
        /* A marker byte (absent or present) and the length, then the
         * bytes: ("ab", "c") and ("a", "bc") differ, and so do NULL
         * and "". */
        l = parts[i] ? strlen(parts[i]) : 0;
        len[0] = parts[i] ? 1 : 0;
        len[1] = (unsigned char)(l >> 24);
        len[2] = (unsigned char)(l >> 16);
        len[3] = (unsigned char)(l >> 8);
        len[4] = (unsigned char)l;
        if (EVP_DigestUpdate(ctx, len, sizeof(len)) != 1
            || (l > 0 && EVP_DigestUpdate(ctx, parts[i], l) != 1))
            goto cleanup;
    }
    if (EVP_DigestFinal_ex(ctx, md, NULL) != 1)
        goto cleanup;
    memcpy(out, md, N8443_COOKIE_DIGEST_LEN);
    ret = 0;

cleanup:
    EVP_MD_CTX_free(ctx);
    return ret;
}

int n8443_cookie_digest_bytes(const unsigned char *data, size_t len,
                              unsigned char out[N8443_COOKIE_DIGEST_LEN])
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    if (EVP_Digest(data, len, md, NULL, n8443_sha256_md(), NULL) != 1)
        return -1;
    memcpy(out, md, N8443_COOKIE_DIGEST_LEN);
    return 0;
}

/* ------------------------------------------------ the Cookie request field */

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Would some parser read the len bytes at p (no blanks around) as
 * `name` (lower case)? */
static int reads_as(const char *p, size_t len, const char *name)
{
    size_t i, w = 0, wlen = strlen(name);
    int c;

    for (i = 0; i < len; i++) {
        c = (unsigned char)p[i];
        if (c == '%' && i + 2 < len && hex_value(p[i + 1]) >= 0
            && hex_value(p[i + 2]) >= 0) {
            c = hex_value(p[i + 1]) * 16 + hex_value(p[i + 2]);
            i += 2;
        }
        if (c == '.' || c == ' ' || c == '[')
            c = '_';
        if (c >= 'A' && c <= 'Z')
            c += 'a' - 'A';
        if (w >= wlen || c != (unsigned char)name[w])
            return 0;
        w++;
    }
    return w == wlen;
}

int n8443_cookie_strip(const char *field, const char *name, char *out,
                       n8443_cookie_value_fn fn, void *arg)
{
    const char *p = field;
    char *o = out, *start;
    size_t nlen_want = strlen(name);
    int removed = 0;

    while (*p != '\0') {
        const char *end = p + strcspn(p, ";,"), *n = p, *ne, *eq;
        size_t seglen = (size_t)(end - p) + (*end != '\0');

        while (n < end && is_blank(*n))
            n++;
        eq = memchr(n, '=', (size_t)(end - n));
        ne = eq != NULL ? eq : end;
        while (ne > n && is_blank(ne[-1]))
            ne--;
        if (ne > n && reads_as(n, (size_t)(ne - n), name)) {
            removed++;
            if (fn != NULL && eq != NULL && (size_t)(ne - n) == nlen_want
                && memcmp(n, name, nlen_want) == 0) {
                const char *v = eq + 1, *ve = end;

                while (v < ve && is_blank(*v))
                    v++;
                while (ve > v && is_blank(ve[-1]))
                    ve--;
                if (ve > v)
                    fn(arg, v, (size_t)(ve - v));
            }
        }
        else {
            memcpy(o, p, seglen); /* the pair and its separator */
            o += seglen;
        }
        p += seglen;
    }
    *o = '\0';
    if (removed == 0)
        return 0;
    while (o > out && (is_blank(o[-1]) || o[-1] == ';' || o[-1] == ','))
        *--o = '\0';
    for (start = out; is_blank(*start); start++)
        ;
    memmove(out, start, strlen(start) + 1);
    return removed;
}
