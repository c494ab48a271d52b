/*
 * fuzz_sealed_cookie.c - libFuzzer target: n8443_cookie_open(), the
 * session cookie's opener, which sees the Cookie header of every request
 * to a NegotiateSession location before anything else does.
 *
 * The first input byte picks what the rest is:
 *
 *   0     (mod 4) a cookie value as a client sends it, opened with the
 *         farm key.  The seeds are genuine cookies sealed with that key (see
 *         make_cookie_seeds.c), so libFuzzer starts from values that get
 *         all the way through GCM and mutates them from there.
 *   odd   a session (expires, issued, flags, scope and channel digests,
 *         principal) that is sealed
 *         with the real n8443_cookie_seal(), then opened back, then
 *         damaged the way an attacker would (one character changed, cut
 *         short, grown, opened with another key or after it expired).
 *
 *   2     (mod 4) a Cookie request field, stripped of n8443_session
 *         (n8443_cookie_strip): what is left holds nothing of ours
 *         (stripping it again removes nothing) and is no longer than
 *         the field; the values found are trimmed, non-empty, one pair's.
 *
 * Beyond memory safety (ASan, UBSan), abort() marks a broken property:
 *   - opening never says OK for a value that did not come out of seal()
 *     with this key: a changed, cut or grown genuine cookie, and any cookie
 *     under another key, is BAD (GCM's tag; strict base64url);
 *   - a genuine cookie opens to exactly the session that was sealed, and
 *     is EXPIRED exactly when its expiry is not after "now";
 *   - an OK session is well-formed: a non-empty principal of at most
 *     N8443_COOKIE_MAX_PRINCIPAL bytes without NUL, expiry after now;
 *   - on anything but OK the output session is not written.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sealed_cookie.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The same values as make_cookie_seeds.c: the seeds are genuine. */
static const unsigned char farm_key[N8443_COOKIE_KEY_LEN] =
    "n8443-fuzz-session-key-32-bytes";
static const unsigned char other_key[N8443_COOKIE_KEY_LEN] =
    "n8443-fuzz-another-key-32-bytes";
#define NOW INT64_C(1764000000)

/* A canary pattern: a session that open() must leave alone. */
static void poison(n8443_session *s)
{
    memset(s, 0xa5, sizeof(*s));
}

static int untouched(const n8443_session *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i;

    for (i = 0; i < sizeof(*s); i++) {
        if (p[i] != 0xa5)
            return 0;
    }
    return 1;
}

/* open() on an exact-size heap copy, so ASan sees any read past len. */
static n8443_cookie_status open_copy(const unsigned char *key,
                                     const char *value, size_t len, int64_t now,
                                     n8443_session *s)
{
    char *copy = malloc(len ? len : 1);
    n8443_cookie_status st;

    if (copy == NULL)
        abort();
    memcpy(copy, value, len);
    poison(s);
    st = n8443_cookie_open(key, copy, len, now, s);
    free(copy);
    if (st != N8443_COOKIE_OK && st != N8443_COOKIE_BAD
        && st != N8443_COOKIE_EXPIRED)
        abort();
    if (st != N8443_COOKIE_OK && !untouched(s))
        abort();
    return st;
}

static void check_ok_session(const n8443_session *s, int64_t now)
{
    size_t n = strnlen(s->principal, sizeof(s->principal));

    if (n == 0 || n > N8443_COOKIE_MAX_PRINCIPAL || s->expires <= now
        || s->flags > 0xff)
        abort();
}

/* Mode even: bytes from the client. */
static void fuzz_open(const uint8_t *data, size_t size)
{
    n8443_session s, again;

    if (open_copy(farm_key, (const char *)data, size, NOW, &s)
        == N8443_COOKIE_OK) {
        check_ok_session(&s, NOW);
        /* Deterministic, and GCM binds the key: the same bytes are
         * nothing under another key. */
        if (open_copy(farm_key, (const char *)data, size, NOW, &again)
                != N8443_COOKIE_OK
            || memcmp(&s, &again, sizeof(s)) != 0)
            abort();
        if (open_copy(other_key, (const char *)data, size, NOW, &again)
            != N8443_COOKIE_BAD)
            abort();
        /* It stops working the second it expires. */
        if (open_copy(farm_key, (const char *)data, size, s.expires, &again)
            != N8443_COOKIE_EXPIRED)
            abort();
    }
}

static int64_t get_i64(const uint8_t *p)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return (int64_t)v;
}

/* Mode odd: seal, open, damage.  Layout after the mode byte:
 * expires(8) issued(8) flags(1) where(2) what(1) principal... */
static void fuzz_seal(const uint8_t *data, size_t size)
{
    n8443_session in, out;
    char cookie[N8443_COOKIE_MAX + 64], *bad;
    size_t len, plen, where, cut;
    unsigned char what;
    n8443_cookie_status st;

    if (size < 20)
        return;
    memset(&in, 0, sizeof(in));
    in.expires = get_i64(data);
    in.issued = get_i64(data + 8);
    in.flags = data[16];
    where = ((size_t)data[17] << 8) | data[18];
    what = data[19];
    plen = size - 20;
    if (plen > N8443_COOKIE_MAX_PRINCIPAL)
        plen = N8443_COOKIE_MAX_PRINCIPAL;
    /* The scope and channel digests are opaque to the cookie: derived
     * from the input so that their round trip is checked too. */
    memset(in.scope, data[16], sizeof(in.scope));
    memset(in.channel, what, sizeof(in.channel));
    memcpy(in.principal, data + 20, plen);
    in.principal[plen] = '\0';
    plen = strlen(in.principal);

    if (n8443_cookie_seal(farm_key, &in, cookie, sizeof(cookie)) != 0) {
        if (plen != 0)
            abort(); /* seal refuses only an empty principal */
        return;
    }
    if (plen == 0)
        abort();
    len = strlen(cookie);
    if (len > N8443_COOKIE_MAX)
        abort(); /* seal made what open refuses to read */
    /* Too small a buffer is refused, not overrun. */
    if (n8443_cookie_seal(farm_key, &in, cookie, len) == 0)
        abort();
    if (n8443_cookie_seal(farm_key, &in, cookie, sizeof(cookie)) != 0
        || strlen(cookie) != len)
        abort();

    st = open_copy(farm_key, cookie, len, NOW, &out);
    if (in.expires > NOW) {
        if (st != N8443_COOKIE_OK || out.expires != in.expires
            || out.issued != in.issued || out.flags != in.flags
            || memcmp(out.scope, in.scope, sizeof(in.scope)) != 0
            || memcmp(out.channel, in.channel, sizeof(in.channel)) != 0
            || strcmp(out.principal, in.principal) != 0)
            abort();
        check_ok_session(&out, NOW);
    }
    else if (st != N8443_COOKIE_EXPIRED) {
        abort();
    }
    if (open_copy(other_key, cookie, len, NOW, &out) != N8443_COOKIE_BAD)
        abort();

    /* One character changed (to another base64url character, or not). */
    bad = malloc(len + 2);
    if (bad == NULL)
        abort();
    memcpy(bad, cookie, len + 1);
    where %= len;
    bad[where] = (char)(what ? (unsigned char)bad[where] ^ what
                             : (unsigned char)'A' + (bad[where] == 'A'));
    if (memcmp(bad, cookie, len) != 0
        && open_copy(farm_key, bad, len, NOW, &out) == N8443_COOKIE_OK)
        abort();
    /* Cut short anywhere, or grown by one character. */
    cut = where;
    if (open_copy(farm_key, cookie, cut, NOW, &out) == N8443_COOKIE_OK)
        abort();
    memcpy(bad, cookie, len);
    bad[len] = "AQgw-_"[what % 6];
    if (open_copy(farm_key, bad, len + 1, NOW, &out) == N8443_COOKIE_OK)
        abort();
    free(bad);
}

static void check_value(void *arg, const char *value, size_t len)
{
    (void)arg;
    if (len == 0 || value[0] == ' ' || value[0] == '\t' || value[len - 1] == ' '
        || value[len - 1] == '\t' || memchr(value, ';', len) != NULL
        || memchr(value, ',', len) != NULL)
        abort();
}

/* Mode 2 (mod 4): a Cookie field, stripped of n8443_session. */
static void fuzz_strip(const uint8_t *data, size_t size)
{
    char *field = malloc(size + 1), *out = malloc(size + 1);
    char *again = malloc(size + 1);
    int removed;

    if (field == NULL || out == NULL || again == NULL)
        abort();
    memcpy(field, data, size);
    field[size] = '\0';
    removed =
        n8443_cookie_strip(field, "n8443_session", out, check_value, NULL);
    if (removed < 0 || strlen(out) > strlen(field)
        || (removed == 0 && strcmp(out, field) != 0))
        abort();
    /* Nothing of ours is left: stripping again removes nothing. */
    if (n8443_cookie_strip(out, "n8443_session", again, check_value, NULL) != 0
        || strcmp(again, out) != 0)
        abort();
    free(field);
    free(out);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if ((data[0] & 3) == 2)
        fuzz_strip(data + 1, size - 1);
    else if (data[0] & 1)
        fuzz_seal(data + 1, size - 1);
    else
        fuzz_open(data + 1, size - 1);
    return 0;
}
