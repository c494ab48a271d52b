/*
 * fuzz_authz_header.c - libFuzzer target: what the module does with an
 * Authorization header before GSS-API sees anything.  The input is the
 * header value; Negotiate tokens are base64-decoded and walked, Basic
 * credentials decoded and split.  The raw input also goes to the base64
 * decoder directly, so that it sees '=' and bytes token68 never lets by.
 *
 * Beyond memory safety (the sanitizers), the properties checked are the
 * ones the module relies on, with abort() so that libFuzzer keeps the
 * input: results point into the input, strict base64 has exactly one text
 * for each byte string (decode then encode gives the input back), and a
 * Basic split never lets a control character through.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authz_header.h"
#include "encode.h"
#include "token_walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Strictly decode in[0..len) into an exact-size heap buffer (so ASan sees
 * reads past the decoded length), check that encoding gives in back, and
 * return the buffer (NULL when the decoder refused; *outlen set).
 */
static unsigned char *decode_exact(const char *in, size_t len, size_t *outlen)
{
    size_t max = n8443_base64_decoded_max(len), n, enc_len;
    unsigned char *buf, *exact;
    char *enc;

    buf = malloc(max ? max : 1);
    if (buf == NULL)
        abort();
    if (n8443_base64_decode(in, len, buf, max, &n) != 0) {
        free(buf);
        return NULL;
    }
    if (n > max)
        abort();
    enc = malloc(len + 1);
    if (enc == NULL)
        abort();
    enc_len = n8443_base64_encode(buf, n, enc, len + 1);
    if (enc_len != len || memcmp(enc, in, len) != 0)
        abort();
    free(enc);

    exact = malloc(n ? n : 1);
    if (exact == NULL)
        abort();
    memcpy(exact, buf, n);
    free(buf);
    *outlen = n;
    return exact;
}

static void check_basic(const unsigned char *cred, size_t len)
{
    const char *user, *pass;
    size_t user_len, pass_len, i;

    if (n8443_basic_split(cred, len, &user, &user_len, &pass, &pass_len) != 0)
        return;
    if (user != (const char *)cred || user_len == 0
        || user_len + 1 + pass_len != len || user[user_len] != ':'
        || pass != user + user_len + 1)
        abort();
    for (i = 0; i < len; i++) {
        if (cred[i] < 0x20 || cred[i] == 0x7f)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    n8443_apreq_info info;
    n8443_authz_kind kind;
    unsigned char *tok;
    size_t toklen;
    n8443_authz a;
    char *value;

    /* the module sees a NUL-terminated header value */
    value = malloc(size + 1);
    if (value == NULL)
        abort();
    memcpy(value, data, size);
    value[size] = '\0';

    tok = decode_exact(value, size, &toklen);
    free(tok);

    kind = n8443_authz_parse(value, &a);
    if (kind != a.kind)
        abort();
    if (a.kind == N8443_AUTHZ_MALFORMED) {
        if (a.scheme != NULL || a.param != NULL)
            abort();
        goto cleanup;
    }
    if (a.scheme < value || a.scheme_len == 0
        || a.scheme + a.scheme_len > value + strlen(value))
        abort();
    if (a.kind == N8443_AUTHZ_EMPTY) {
        if (a.param != NULL || a.param_len != 0)
            abort();
        goto cleanup;
    }
    if (a.param != NULL
        && (a.param <= a.scheme || a.param_len == 0
            || a.param + a.param_len > value + strlen(value)))
        abort();
    if (a.kind != N8443_AUTHZ_NEGOTIATE && a.kind != N8443_AUTHZ_BASIC)
        goto cleanup;
    if (a.param == NULL)
        abort();

    tok = decode_exact(a.param, a.param_len, &toklen);
    if (tok == NULL)
        goto cleanup;
    if (a.kind == N8443_AUTHZ_NEGOTIATE)
        (void)n8443_token_walk(tok, toklen, &info);
    else
        check_basic(tok, toklen);
    free(tok);

cleanup:
    free(value);
    return 0;
}
