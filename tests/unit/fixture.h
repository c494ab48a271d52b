/*
 * fixture.h - helpers shared by the unit tests: loading the real tokens in
 * tests/unit/data/ (made by tests/unit/data/make-fixtures) and building DER
 * envelopes around them.
 *
 * Include after <cmocka.h>: failures are reported as cmocka failures.
 */
#ifndef N8443_TEST_FIXTURE_H
#define N8443_TEST_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set by the Makefile to the source tree's data directory, so that the
 * tests also run from a separate build directory. */
#ifndef N8443_TEST_DATA
#define N8443_TEST_DATA "tests/unit/data"
#endif

#define DER_BUF_MAX 8192

typedef struct {
    unsigned char *data;
    size_t len;
} fixture;

typedef struct {
    unsigned char buf[DER_BUF_MAX];
    size_t len;
} der_buf;

/* OID contents, as the walker knows them. */
static const unsigned char OID_SPNEGO[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x02};
static const unsigned char OID_KRB5[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
                                         0x12, 0x01, 0x02, 0x02};
static const unsigned char OID_KRB5_MS[] = {0x2a, 0x86, 0x48, 0x82, 0xf7,
                                            0x12, 0x01, 0x02, 0x02};
static const unsigned char OID_KRB5_OLD[] = {0x2b, 0x05, 0x01, 0x05, 0x02};
static const unsigned char OID_NTLM[] = {0x2b, 0x06, 0x01, 0x04, 0x01,
                                         0x82, 0x37, 0x02, 0x02, 0x0a};
static const unsigned char OID_NEGOEX[] = {0x2b, 0x06, 0x01, 0x04, 0x01,
                                           0x82, 0x37, 0x02, 0x02, 0x1e};
static const unsigned char OID_IAKERB[] = {0x2b, 0x06, 0x01, 0x05, 0x02, 0x05};

/* Read tests/unit/data/<name> into an exact-size heap buffer, so that
 * AddressSanitizer sees any read past the token's end. */
static inline fixture fixture_load(const char *name)
{
    char path[1024];
    fixture fx = {NULL, 0};
    long size = -1;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", N8443_TEST_DATA, name);
    f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open fixture %s", path);
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size <= 0 || fseek(f, 0, SEEK_SET) != 0)
        fail_msg("cannot size fixture %s", path);
    fx.len = (size_t)size;
    fx.data = malloc(fx.len);
    assert_non_null(fx.data);
    if (fread(fx.data, 1, fx.len, f) != fx.len)
        fail_msg("short read on fixture %s", path);
    fclose(f);
    return fx;
}

static inline void fixture_free(fixture *fx)
{
    free(fx->data);
    fx->data = NULL;
    fx->len = 0;
}

/* A heap copy of exactly len bytes (so ASan guards its end). */
static inline unsigned char *bytes_dup(const unsigned char *src, size_t len)
{
    unsigned char *copy = malloc(len ? len : 1);

    assert_non_null(copy);
    if (len > 0)
        memcpy(copy, src, len);
    return copy;
}

static inline void der_append(der_buf *b, const void *src, size_t n)
{
    assert_true(n <= sizeof(b->buf) - b->len);
    memcpy(b->buf + b->len, src, n);
    b->len += n;
}

/* DER length octets for n into hdr; returns how many. */
static inline size_t der_length_octets(size_t n, unsigned char *hdr)
{
    if (n < 0x80) {
        hdr[0] = (unsigned char)n;
        return 1;
    }
    if (n < 0x100) {
        hdr[0] = 0x81;
        hdr[1] = (unsigned char)n;
        return 2;
    }
    assert_true(n < 0x10000);
    hdr[0] = 0x82;
    hdr[1] = (unsigned char)(n >> 8);
    hdr[2] = (unsigned char)n;
    return 3;
}

/* Append tag, length and content. */
static inline void der_append_tlv(der_buf *b, unsigned char tag,
                                  const void *content, size_t n)
{
    unsigned char hdr[4];
    size_t hlen = der_length_octets(n, hdr);

    der_append(b, &tag, 1);
    der_append(b, hdr, hlen);
    der_append(b, content, n);
}

/* Turn everything in b into the contents of one value with this tag. */
static inline void der_wrap(der_buf *b, unsigned char tag)
{
    unsigned char hdr[5];
    size_t hlen;

    hdr[0] = tag;
    hlen = 1 + der_length_octets(b->len, hdr + 1);
    assert_true(hlen <= sizeof(b->buf) - b->len);
    memmove(b->buf + hlen, b->buf, b->len);
    memcpy(b->buf, hdr, hlen);
    b->len += hlen;
}

/* [ctx] { tag { content } }: an explicitly tagged field. */
static inline void der_append_explicit(der_buf *b, unsigned char ctx,
                                       unsigned char tag, const void *content,
                                       size_t n)
{
    der_buf field = {.len = 0};

    der_append_tlv(&field, tag, content, n);
    der_wrap(&field, ctx);
    der_append(b, field.buf, field.len);
}

/*
 * [APPLICATION 0] spnego [0] NegTokenInit { [0] mechTypes, [2] mechToken }
 * with the mechanisms given as OID contents; mech_token may be NULL.
 */
static inline void build_spnego_init(der_buf *out,
                                     const unsigned char *const *oids,
                                     const size_t *oid_lens, size_t n_oids,
                                     const unsigned char *mech_token,
                                     size_t mech_token_len)
{
    der_buf types = {.len = 0}, init = {.len = 0};
    size_t i;

    for (i = 0; i < n_oids; i++)
        der_append_tlv(&types, 0x06, oids[i], oid_lens[i]);
    der_wrap(&types, 0x30);
    der_wrap(&types, 0xa0);
    der_append(&init, types.buf, types.len);
    if (mech_token != NULL)
        der_append_explicit(&init, 0xa2, 0x04, mech_token, mech_token_len);
    der_wrap(&init, 0x30);
    der_wrap(&init, 0xa0);

    out->len = 0;
    der_append_tlv(out, 0x06, OID_SPNEGO, sizeof(OID_SPNEGO));
    der_append(out, init.buf, init.len);
    der_wrap(out, 0x60);
}

/* [1] NegTokenResp { [0] negState accept-incomplete, [2] responseToken } */
static inline void build_spnego_resp(der_buf *out, const unsigned char *token,
                                     size_t len)
{
    static const unsigned char incomplete = 0x01;

    out->len = 0;
    der_append_explicit(out, 0xa0, 0x0a, &incomplete, 1);
    der_append_explicit(out, 0xa2, 0x04, token, len);
    der_wrap(out, 0x30);
    der_wrap(out, 0xa1);
}

#endif /* N8443_TEST_FIXTURE_H */
