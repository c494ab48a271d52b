/*
 * encode.c - base64, base64url and hex (encode.h).
 */
#include "encode.h"

#include <stdint.h>

static const char b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Is the call usable at all?  Empties OUT where there is room. */
static int usable(const unsigned char *in, size_t inlen, char *out,
                  size_t outcap)
{
    if (out == NULL || outcap == 0)
        return 0;
    out[0] = '\0';
    return in != NULL || inlen == 0;
}

size_t n8443_base64_encoded_len(size_t inlen)
{
    size_t groups = inlen / 3 + (inlen % 3 != 0);

    /* 4 characters per group, and room for the NUL after them. */
    return groups > (SIZE_MAX - 1) / 4 ? 0 : groups * 4;
}

/*
 * Both alphabets: 3 bytes -> 4 characters; the last 1 or 2 bytes give 2
 * or 3 characters, and PAD adds '=' up to 4.  NEED (the length without
 * the NUL) has been checked against outcap by the caller.
 */
static size_t b64(const unsigned char *in, size_t inlen, char *out,
                  const char *alphabet, int pad)
{
    size_t i, o = 0;
    uint32_t group;

    for (i = 0; i + 2 < inlen; i += 3) {
        group =
            ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = alphabet[(group >> 18) & 0x3f];
        out[o++] = alphabet[(group >> 12) & 0x3f];
        out[o++] = alphabet[(group >> 6) & 0x3f];
        out[o++] = alphabet[group & 0x3f];
    }
    if (i < inlen) {
        group = (uint32_t)in[i] << 16;
        if (i + 1 < inlen)
            group |= (uint32_t)in[i + 1] << 8;
        out[o++] = alphabet[(group >> 18) & 0x3f];
        out[o++] = alphabet[(group >> 12) & 0x3f];
        if (i + 1 < inlen)
            out[o++] = alphabet[(group >> 6) & 0x3f];
        else if (pad)
            out[o++] = '=';
        if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

size_t n8443_base64_encode(const unsigned char *in, size_t inlen, char *out,
                           size_t outcap)
{
    size_t need = n8443_base64_encoded_len(inlen);

    if (!usable(in, inlen, out, outcap) || (need == 0 && inlen != 0)
        || need >= outcap)
        return 0;
    return b64(in, inlen, out, b64_std, 1);
}

size_t n8443_base64url_encode(const unsigned char *in, size_t inlen, char *out,
                              size_t outcap)
{
    size_t need = n8443_base64_encoded_len(inlen);

    /* Without padding: 2 or 3 characters for the last 1 or 2 bytes. */
    if (inlen % 3 != 0)
        need -= 3 - inlen % 3;
    if (!usable(in, inlen, out, outcap)
        || (n8443_base64_encoded_len(inlen) == 0 && inlen != 0)
        || need >= outcap)
        return 0;
    return b64(in, inlen, out, b64_url, 0);
}

size_t n8443_hex_encode(const unsigned char *in, size_t inlen, char *out,
                        size_t outcap)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    if (!usable(in, inlen, out, outcap) || inlen > (SIZE_MAX - 1) / 2
        || 2 * inlen >= outcap)
        return 0;
    for (i = 0; i < inlen; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * inlen] = '\0';
    return 2 * inlen;
}
