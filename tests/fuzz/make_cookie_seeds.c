/*
 * make_cookie_seeds.c - writes the seed corpus of fuzz_sealed_cookie:
 * genuine cookies, sealed by the real n8443_cookie_seal() under the
 * fuzzer's farm key, for the sessions the module issues (the test realm's
 * users, a channel-bound login, a Basic login, the longest principal, a
 * UTF-8 name, an expired one), and the same sessions as input for the
 * fuzzer's seal-and-damage mode.
 *
 * Usage: make_cookie_seeds DIR     (DIR: tests/fuzz/corpus/fuzz_sealed_cookie)
 * Build: cc -Imod_negotiate8443/core tests/fuzz/make_cookie_seeds.c
 *        mod_negotiate8443/core/{sealed_cookie,sha256,encode}.c -lcrypto
 * The nonce is random, so every run writes other (equally genuine) bytes;
 * the corpus in git is one such run.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealed_cookie.h"

static const unsigned char farm_key[N8443_COOKIE_KEY_LEN] =
    "n8443-fuzz-session-key-32-bytes";
#define NOW INT64_C(1764000000)

static const char *dir;

static void write_seed(const char *name, const unsigned char *buf, size_t len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "make_cookie_seeds: %s: %s\n", path, strerror(errno));
        exit(1);
    }
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

static void seeds_for(const char *name, const char *principal, int64_t expires,
                      unsigned int flags)
{
    n8443_session s;
    char cookie[N8443_COOKIE_MAX + 1], seedname[128];
    unsigned char buf[1 + N8443_COOKIE_MAX + 64];
    size_t len, plen = strlen(principal);

    memset(&s, 0, sizeof(s));
    s.expires = expires;
    s.issued = NOW - 60;
    s.flags = flags;
    /* As the fuzzer's seal mode derives them (see fuzz_sealed_cookie.c). */
    memset(s.scope, (int)flags, sizeof(s.scope));
    memset(s.channel, 1, sizeof(s.channel));
    memcpy(s.principal, principal, plen + 1);
    if (n8443_cookie_seal(farm_key, &s, cookie, sizeof(cookie)) != 0) {
        fprintf(stderr, "make_cookie_seeds: cannot seal %s\n", name);
        exit(1);
    }
    /* even: the cookie value as a client sends it back */
    len = strlen(cookie);
    buf[0] = 0;
    memcpy(buf + 1, cookie, len);
    snprintf(seedname, sizeof(seedname), "open_%s", name);
    write_seed(seedname, buf, 1 + len);

    /* odd: the session, for seal-open-damage (where = 7, what = 0x01) */
    buf[0] = 1;
    put64(buf + 1, expires);
    put64(buf + 9, s.issued);
    buf[17] = (unsigned char)flags;
    buf[18] = 0;
    buf[19] = 7;
    buf[20] = 1;
    memcpy(buf + 21, principal, plen);
    snprintf(seedname, sizeof(seedname), "seal_%s", name);
    write_seed(seedname, buf, 21 + plen);
}

int main(int argc, char **argv)
{
    char longest[N8443_COOKIE_MAX_PRINCIPAL + 1];

    if (argc != 2) {
        fprintf(stderr, "usage: make_cookie_seeds DIR\n");
        return 2;
    }
    dir = argv[1];

    seeds_for("alice", "alice@TEST.N8443", NOW + 3600, 0);
    seeds_for("bob_bound", "bob@TEST.N8443", NOW + 600, N8443_SESSION_BOUND);
    /* A flag bit no issuer sets (0x02, once "basic"). */
    seeds_for("alice_basic", "alice@TEST.N8443", NOW + 3600, 0x02);
    seeds_for("service", "HTTP/portal.example.com@EXAMPLE.COM", NOW + 36000,
              N8443_SESSION_BOUND);
    seeds_for("utf8", "j\xc3\xbcrgen.m\xc3\xbcller@EXAMPLE.COM", NOW + 60, 0);
    seeds_for("expired", "alice@TEST.N8443", NOW - 1, 0);
    seeds_for("expires_now", "alice@TEST.N8443", NOW, 0);
    memset(longest, 'a', sizeof(longest) - 1);
    memcpy(longest + sizeof(longest) - 12, "@TEST.N8443", 11);
    longest[sizeof(longest) - 1] = '\0';
    seeds_for("longest", longest, NOW + 3600, 0);
    seeds_for("one_char", "a", NOW + 1, 0);
    return 0;
}
