/*
 * der.h - the DER reading the token walker (token_walk.c) is built from:
 * a cursor over the caller's buffer that never reads past its end, and
 * bounded takes of one value at a time.  Nothing is allocated.
 */
#ifndef N8443_DER_H
#define N8443_DER_H

#include <stddef.h>
#include <stdint.h>

#define TAG_INTEGER 0x02
#define TAG_CTX(n)  (0xa0 | (n)) /* [n] constructed (explicit) */

/* A window [p, end) of the caller's buffer that the walk has not read yet. */
typedef struct {
    const unsigned char *p;
    const unsigned char *end;
    int *noncanonical; /* set to 1 when a length is not minimal DER */
} der_cursor;

/* 1 when the cursor has read everything. */
int der_at_end(const der_cursor *cur);

/* 1 when the next identifier octet is tag. */
int der_next_is(const der_cursor *cur, unsigned char tag);

/* Take the value with identifier octet tag: 0 (*val its contents, the
 * cursor past it) or -1 (nothing moved).  See der.c. */
int der_take(der_cursor *cur, unsigned char tag, der_cursor *val);

/* Take [ctx] EXPLICIT inner: 0 (*val the inner contents) or -1. */
int der_take_explicit(der_cursor *cur, unsigned char ctx, unsigned char inner,
                      der_cursor *val);

/* The INTEGER contents val as an int32_t: 0, or -1 when over 4 octets. */
int der_int32_value(const der_cursor *val, int32_t *out);

/* Take [ctx] EXPLICIT INTEGER into *out: 0 or -1. */
int der_take_int32(der_cursor *cur, unsigned char ctx, int32_t *out);

/* 0 when val is well-formed BIT STRING contents, else -1. */
int der_bit_string_ok(const der_cursor *val);

/* 0 when val is well-formed OID contents (only its shape), else -1. */
int der_oid_ok(const der_cursor *val);

#endif /* N8443_DER_H */
