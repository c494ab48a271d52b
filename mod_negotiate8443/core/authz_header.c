/*
 * authz_header.c - the Authorization header value and strict base64.
 *
 * Everything here sees bytes straight from the network before any other
 * check, so it is written to be fuzzed: no allocation, no locale (scheme
 * names are compared as ASCII, whatever setlocale() says), and every input
 * either parses exactly or is refused.  Base64 is strict so that one token
 * has exactly one text form; a lenient decoder would let the same token
 * arrive under many spellings.
 */
#include <stdint.h>
#include <string.h>

#include "authz_header.h"

/* RFC 9110 5.6.2 tchar: the characters of a scheme name. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/*
 * One table for the token68 scanner and the base64 decoder, both on the
 * path of every request: the base64 value (0-63) of each byte of the
 * alphabet, B64_TOKEN68 for the other token68 characters ("-._~", RFC 9110
 * 11.2; '=' is handled by position), B64_NONE for the rest.
 */
#define B64_TOKEN68 0x40
#define B64_NONE    0x80

#define NO B64_NONE
#define TK B64_TOKEN68
static const unsigned char b64_table[256] = {
    NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, /* 0x00 */
    NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, /* 0x10 */
    NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, 62, NO, TK, TK, 63, /* 0x20 */
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, NO, NO, NO, NO, NO, NO, /* 0x30 */
    NO, 0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, /* 0x40 */
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, NO, NO, NO, NO, TK, /* 0x50 */
    NO, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, /* 0x60 */
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, NO, NO, NO, TK, NO, /* 0x70 */
    NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, /* 0x80 */
    NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, /* 0x90 */
    NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, /* 0xa0 */
    NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, /* 0xb0 */
    NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, /* 0xc0 */
    NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, /* 0xd0 */
    NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, /* 0xe0 */
    NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, /* 0xf0 */
};
#undef NO
#undef TK

/* RFC 9110 11.2 token68, without the trailing '=' run. */
static int is_token68_char(unsigned char c)
{
    return b64_table[c] != B64_NONE;
}

/* Optional whitespace (RFC 9110 5.6.3). */
static int is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* Visible characters, whitespace and obs-text may appear in the parameters
 * of schemes we do not parse (Digest's quoted strings, for one). */
static int is_field_char(unsigned char c)
{
    return is_ows(c) || (c > 0x20 && c != 0x7f);
}

static int ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static int scheme_is(const char *s, size_t len, const char *name)
{
    size_t i;

    if (strlen(name) != len)
        return 0;
    for (i = 0; i < len; i++) {
        if (ascii_lower((unsigned char)s[i]) != name[i])
            return 0;
    }
    return 1;
}

/*
 * RFC 7235 credentials: scheme, then (after whitespace) a token68 for the
 * two schemes we serve, or whatever auth-params another scheme uses.  For
 * Negotiate and Basic the token68 must be the only thing after the scheme
 * ("Negotiate a b" is refused rather than guessed at).  *out is always
 * written; on MALFORMED it is zeroed apart from kind.
 */
n8443_authz_kind n8443_authz_parse(const char *value, n8443_authz *out)
{
    const unsigned char *p = (const unsigned char *)value;
    const unsigned char *scheme, *param, *param_end;
    n8443_authz_kind ours;
    n8443_authz parsed;

    memset(&parsed, 0, sizeof(parsed));
    parsed.kind = N8443_AUTHZ_MALFORMED;
    if (p == NULL)
        goto cleanup;

    while (is_ows(*p))
        p++;
    scheme = p;
    while (is_tchar(*p))
        p++;
    if (p == scheme || (*p != '\0' && !is_ows(*p)))
        goto cleanup;
    parsed.scheme = (const char *)scheme;
    parsed.scheme_len = (size_t)(p - scheme);

    if (scheme_is(parsed.scheme, parsed.scheme_len, "negotiate"))
        ours = N8443_AUTHZ_NEGOTIATE;
    else if (scheme_is(parsed.scheme, parsed.scheme_len, "basic"))
        ours = N8443_AUTHZ_BASIC;
    else
        ours = N8443_AUTHZ_OTHER;

    while (is_ows(*p))
        p++;
    param = p;

    if (ours == N8443_AUTHZ_OTHER) {
        param_end = p;
        for (; *p != '\0'; p++) {
            if (!is_field_char(*p))
                goto cleanup;
            if (!is_ows(*p))
                param_end = p + 1;
        }
    }
    else {
        while (is_token68_char(*p))
            p++;
        if (p == param && *p == '=')
            goto cleanup;
        while (*p == '=')
            p++;
        param_end = p;
        while (is_ows(*p))
            p++;
        if (*p != '\0')
            goto cleanup;
    }

    if (param_end == param) {
        parsed.kind =
            ours == N8443_AUTHZ_OTHER ? N8443_AUTHZ_OTHER : N8443_AUTHZ_EMPTY;
    }
    else {
        parsed.kind = ours;
        parsed.param = (const char *)param;
        parsed.param_len = (size_t)(param_end - param);
    }

cleanup:
    if (parsed.kind == N8443_AUTHZ_MALFORMED) {
        memset(&parsed, 0, sizeof(parsed));
        parsed.kind = N8443_AUTHZ_MALFORMED;
    }
    if (out != NULL)
        *out = parsed;
    return parsed.kind;
}

size_t n8443_base64_decoded_max(size_t inlen)
{
    return inlen / 4 * 3 + (inlen % 4 != 0 ? 3 : 0);
}

/*
 * Decode in quartets: all but the last through the table alone (a byte
 * outside the alphabet sets bit 7 or 6 of its entry, so one OR of the four
 * entries tells), the last one with its padding apart.  The size is checked
 * before anything is written; on a bad character found later, out holds a
 * partial result and -1 is returned (callers must not use out on failure).
 */
int n8443_base64_decode(const char *in, size_t inlen, unsigned char *out,
                        size_t outcap, size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t pad = 0, need, i, o = 0;
    unsigned int a, b, c, d;
    uint32_t group;

    if (outlen == NULL || (in == NULL && inlen != 0) || inlen % 4 != 0)
        return -1;
    if (inlen == 0) {
        *outlen = 0;
        return 0;
    }
    if (s[inlen - 1] == '=')
        pad = s[inlen - 2] == '=' ? 2 : 1;
    need = inlen / 4 * 3 - pad;
    if (out == NULL || need > outcap)
        return -1;

    for (i = 0; i + 4 < inlen; i += 4) {
        a = b64_table[s[i]];
        b = b64_table[s[i + 1]];
        c = b64_table[s[i + 2]];
        d = b64_table[s[i + 3]];
        if ((a | b | c | d) & (B64_NONE | B64_TOKEN68))
            return -1;
        group = (a << 18) | (b << 12) | (c << 6) | d;
        out[o++] = (unsigned char)(group >> 16);
        out[o++] = (unsigned char)(group >> 8);
        out[o++] = (unsigned char)group;
    }

    /* The last quartet: "xxxx", "xxx=" or "xx==". */
    a = b64_table[s[i]];
    b = b64_table[s[i + 1]];
    c = pad < 2 ? b64_table[s[i + 2]] : 0;
    d = pad < 1 ? b64_table[s[i + 3]] : 0;
    if ((a | b | c | d) & (B64_NONE | B64_TOKEN68))
        return -1;
    group = (a << 18) | (b << 12) | (c << 6) | d;
    /* Bits that padding cuts off must be zero, or "QQ==" and "QR==" would
     * both decode to "A". */
    if ((pad == 1 && (group & 0xff) != 0)
        || (pad == 2 && (group & 0xffff) != 0))
        return -1;
    out[o++] = (unsigned char)(group >> 16);
    if (pad < 2)
        out[o++] = (unsigned char)(group >> 8);
    if (pad < 1)
        out[o++] = (unsigned char)group;
    *outlen = o;
    return 0;
}

/* NUL and the C0/DEL control characters; bytes >= 0x80 (UTF-8) pass. */
static int has_control_char(const unsigned char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f)
            return 1;
    }
    return 0;
}

/*
 * The user name ends at the first ':' (RFC 7617: a user-id cannot contain
 * one, a password can).  Control characters are refused because the name
 * goes to the KDC and into log lines, and a NUL would cut it short in C.
 * The out parameters are written only on success.
 */
int n8443_basic_split(const unsigned char *buf, size_t len, const char **user,
                      size_t *user_len, const char **pass, size_t *pass_len)
{
    const unsigned char *colon;
    size_t ulen;

    if (buf == NULL || user == NULL || user_len == NULL || pass == NULL
        || pass_len == NULL)
        return -1;
    colon = memchr(buf, ':', len);
    if (colon == NULL)
        return -1;
    ulen = (size_t)(colon - buf);
    if (ulen == 0 || has_control_char(buf, len))
        return -1;

    *user = (const char *)buf;
    *user_len = ulen;
    *pass = (const char *)colon + 1;
    *pass_len = len - ulen - 1;
    return 0;
}
