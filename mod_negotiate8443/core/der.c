/*
 * der.c - bounded DER reading for the token walker (der.h).
 */
#include <string.h>

#include "der.h"

int der_at_end(const der_cursor *cur)
{
    return cur->p == cur->end;
}

int der_next_is(const der_cursor *cur, unsigned char tag)
{
    return cur->p < cur->end && cur->p[0] == tag;
}

/*
 * Take the value with identifier octet `tag` at the cursor: on success *val
 * covers its contents, the cursor moves past it, and 0 is returned.  -1 (and
 * nothing moved) when the tag differs, the length is indefinite, longer than
 * four octets, or runs past the end of the enclosing value.  Comparing whole
 * identifier octets also rejects high tag numbers and constructed strings.
 */
int der_take(der_cursor *cur, unsigned char tag, der_cursor *val)
{
    size_t avail, len, nlen, i;
    const unsigned char *p = cur->p;

    avail = (size_t)(cur->end - p);
    if (avail < 2 || p[0] != tag)
        return -1;
    p += 2;
    avail -= 2;
    if (cur->p[1] < 0x80) {
        len = cur->p[1];
    }
    else {
        /* 0x80 is BER's indefinite form; five or more length octets cannot
         * describe anything that fits in a header-sized token. */
        nlen = cur->p[1] & 0x7f;
        if (nlen == 0 || nlen > 4 || nlen > avail)
            return -1;
        len = 0;
        for (i = 0; i < nlen; i++)
            len = (len << 8) | p[i];
        /* BER lets a length be longer than it needs to be (a leading
         * zero octet, or the long form for less than 0x80); MIT's GSS
         * headers refuse some of those, so they are noted (not refused:
         * GSS-API may still take them, and is asked). */
        if (p[0] == 0 || len < 0x80)
            *cur->noncanonical = 1;
        p += nlen;
        avail -= nlen;
    }
    if (len > avail)
        return -1;
    val->p = p;
    val->end = p + len;
    val->noncanonical = cur->noncanonical;
    cur->p = p + len;
    return 0;
}

/* Take an explicitly tagged value: [ctx] { inner }, with nothing else inside
 * the [ctx] wrapper. */
int der_take_explicit(der_cursor *cur, unsigned char ctx, unsigned char inner,
                      der_cursor *val)
{
    der_cursor wrapper;

    if (der_take(cur, ctx, &wrapper) != 0)
        return -1;
    if (der_take(&wrapper, inner, val) != 0 || !der_at_end(&wrapper))
        return -1;
    return 0;
}

/* Contents of an INTEGER or ENUMERATED as int32; -1 if empty or wider than
 * four octets. */
int der_int32_value(const der_cursor *val, int32_t *out)
{
    size_t len = (size_t)(val->end - val->p), i;
    int64_t v;

    if (len < 1 || len > 4)
        return -1;
    /* DER: no leading octet that only repeats the sign of the next. */
    if (len > 1
        && ((val->p[0] == 0x00 && val->p[1] < 0x80)
            || (val->p[0] == 0xff && val->p[1] >= 0x80)))
        *val->noncanonical = 1;
    /* Two's complement: the first octet carries the sign. */
    v = val->p[0] >= 0x80 ? (int64_t)val->p[0] - 256 : (int64_t)val->p[0];
    for (i = 1; i < len; i++)
        v = v * 256 + val->p[i];
    *out = (int32_t)v;
    return 0;
}

/* [ctx] INTEGER that fits int32. */
int der_take_int32(der_cursor *cur, unsigned char ctx, int32_t *out)
{
    der_cursor val;

    if (der_take_explicit(cur, ctx, TAG_INTEGER, &val) != 0)
        return -1;
    return der_int32_value(&val, out);
}

/*
 * A BIT STRING's contents: the unused-bits octet (0-7, and 0 when there are
 * no bits at all) followed by the bits.
 */
int der_bit_string_ok(const der_cursor *val)
{
    size_t len = (size_t)(val->end - val->p);

    if (len < 1 || val->p[0] > 7)
        return -1;
    if (len == 1 && val->p[0] != 0)
        return -1;
    return 0;
}

/*
 * An OID's contents must be non-empty, end on a final sub-identifier octet,
 * and use no 0x80 padding octet at the start of a sub-identifier.  Only the
 * shape is checked: OIDs we do not know are never interpreted.
 */
int der_oid_ok(const der_cursor *val)
{
    const unsigned char *q;
    int at_start = 1;

    if (val->p == val->end || (val->end[-1] & 0x80) != 0)
        return -1;
    for (q = val->p; q < val->end; q++) {
        if (at_start && *q == 0x80)
            return -1;
        at_start = (*q & 0x80) == 0;
    }
    return 0;
}
