/*
 * n8443ctl probe --trace - the packet capture without Wireshark.
 *
 * Every request and response of the exchange, with the Negotiate tokens
 * decoded: SPNEGO framing and mechanism list, the AP-REQ's service
 * principal, realm, kvno and enctypes (core/token_walk.c, the module's
 * own walker), an AP-REP's or KRB-ERROR's outer fields.  What could
 * log someone in is never printed: not a token, not a cookie, not a
 * Basic password; encrypted parts only by length.
 *
 * The decoder reads bytes from the network: it is bounded (every length
 * checked against what is left, depth fixed by the code), and
 * tests/fuzz/fuzz_probe_trace.c feeds it random tokens.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "authz_header.h"
#include "oids.h"
#include "probe.h"
#include "token_walk.h"

/* One DER value: tag, contents. */
struct tlv {
    unsigned tag;
    const unsigned char *v;
    size_t len;
};

/* Read one TLV from *p (bounded by end) into *t and advance *p.
 * Single-byte tags only (all that SPNEGO and Kerberos use here). */
static int der_next(const unsigned char **p, const unsigned char *end,
                    struct tlv *t)
{
    const unsigned char *q = *p;
    size_t len;

    if (end - q < 2) {
        return -1;
    }
    t->tag = *q++;
    if ((t->tag & 0x1f) == 0x1f) {
        return -1;
    }
    len = *q++;
    if (len & 0x80) {
        size_t n = len & 0x7f;

        if (n == 0 || n > 4 || (size_t)(end - q) < n) {
            return -1;
        }
        len = 0;
        while (n-- > 0) {
            len = (len << 8) | *q++;
        }
    }
    if (len > (size_t)(end - q)) {
        return -1;
    }
    t->v = q;
    t->len = len;
    *p = q + len;
    return 0;
}

/* The value inside a context tag [n] of SEQUENCE contents, or -1. */
static int der_field(const struct tlv *seq, unsigned n, struct tlv *out)
{
    const unsigned char *p = seq->v;
    const unsigned char *end = seq->v + seq->len;
    struct tlv t;

    while (p < end) {
        if (der_next(&p, end, &t) != 0) {
            return -1;
        }
        if (t.tag == (0xa0 | n)) {
            const unsigned char *q = t.v;

            return der_next(&q, t.v + t.len, out);
        }
    }
    return -1;
}

static long der_int(const struct tlv *t)
{
    long v = 0;
    size_t i;

    if (t->tag != 0x02 && t->tag != 0x0a) {
        return -1;
    }
    if (t->len == 0 || t->len > 4) {
        return -1;
    }
    v = (t->v[0] & 0x80) ? -1 : 0;
    for (i = 0; i < t->len; i++) {
        v = (long)(((unsigned long)v << 8) | t->v[i]);
    }
    return v;
}

static const unsigned char oid_krb5[] = {N8443_OID_KRB5};
static const unsigned char oid_krb5_ms[] = {N8443_OID_KRB5_MS};
static const unsigned char oid_ntlm[] = {N8443_OID_NTLM};
static const unsigned char oid_negoex[] = {N8443_OID_NEGOEX};
static const unsigned char oid_iakerb[] = {N8443_OID_IAKERB};
static const unsigned char oid_spnego[] = {N8443_OID_SPNEGO};

static const struct {
    const unsigned char *der;
    size_t len;
    const char *name;
} known_oids[] = {
    {oid_krb5, sizeof(oid_krb5), "krb5"},
    {oid_krb5_ms, sizeof(oid_krb5_ms), "krb5 (Microsoft's OID)"},
    {oid_ntlm, sizeof(oid_ntlm), "NTLM"},
    {oid_negoex, sizeof(oid_negoex), "NegoEx"},
    {oid_iakerb, sizeof(oid_iakerb), "IAKERB"},
    {oid_spnego, sizeof(oid_spnego), "SPNEGO"},
    {NULL, 0, NULL},
};

static void oid_text(const struct tlv *t, struct n8443_buf *out)
{
    unsigned long arc = 0;
    size_t i;

    for (i = 0; known_oids[i].der != NULL; i++) {
        if (t->len == known_oids[i].len
            && memcmp(t->v, known_oids[i].der, t->len) == 0) {
            n8443_buf_puts(out, known_oids[i].name);
            return;
        }
    }
    if (t->len == 0) {
        n8443_buf_puts(out, "(empty OID)");
        return;
    }
    n8443_buf_printf(out, "%u.%u", t->v[0] / 40, t->v[0] % 40);
    for (i = 1; i < t->len; i++) {
        arc = (arc << 7) | (t->v[i] & 0x7f);
        if (!(t->v[i] & 0x80)) {
            n8443_buf_printf(out, ".%lu", arc);
            arc = 0;
        }
        else if (arc > 0xffffffUL) {
            n8443_buf_puts(out, ".?");
            return;
        }
    }
}

static const char *enctype_name(long e)
{
    switch (e) {
    case 16: return "des3-cbc-sha1";
    case 17: return "aes128-cts-hmac-sha1-96";
    case 18: return "aes256-cts-hmac-sha1-96";
    case 19: return "aes128-cts-hmac-sha256-128";
    case 20: return "aes256-cts-hmac-sha384-192";
    case 23: return "rc4-hmac";
    case 25: return "camellia128-cts-cmac";
    case 26: return "camellia256-cts-cmac";
    default: return "unknown";
    }
}

/* The fields of an AP-REQ, through the module's walker. */
static int decode_apreq(const unsigned char *tok, size_t len,
                        struct n8443_buf *out)
{
    n8443_apreq_info info;
    n8443_tok_status st;
    char principal[512];

    st = n8443_token_walk(tok, len, &info);
    if (st != N8443_TOK_KRB5) {
        n8443_buf_printf(out, "  AP-REQ: not one the module reads (%s)\n",
                         n8443_tok_status_str(st));
        return st == N8443_TOK_MALFORMED ? -1 : 0;
    }
    n8443_apreq_principal(&info, principal, sizeof(principal));
    n8443_buf_printf(out, "  AP-REQ: ticket for %s\n", principal);
    if (info.ticket_kvno >= 0) {
        n8443_buf_printf(
            out, "  ticket: kvno %ld, %s (%ld)\n", (long)info.ticket_kvno,
            enctype_name(info.ticket_etype), (long)info.ticket_etype);
    }
    else {
        n8443_buf_printf(out, "  ticket: no kvno, %s (%ld)\n",
                         enctype_name(info.ticket_etype),
                         (long)info.ticket_etype);
    }
    n8443_buf_printf(out,
                     "  authenticator: %s (%ld), %zu bytes encrypted "
                     "(GSS flags and channel binding are inside it)\n",
                     enctype_name(info.authenticator_etype),
                     (long)info.authenticator_etype, info.authenticator.len);
    n8443_buf_printf(out, "  AP options: %s\n",
                     info.mutual_required ? "mutual-required"
                                          : "none (no mutual auth asked)");
    return 0;
}

/* A raw krb5 GSS token's inner message (after the OID): AP-REP or
 * KRB-ERROR; AP-REQ goes to decode_apreq. */
static int decode_krb5_inner(const unsigned char *p, const unsigned char *end,
                             struct n8443_buf *out)
{
    struct tlv msg;
    struct tlv seq;
    struct tlv f;
    struct tlv enc;
    const unsigned char *q;

    if (end - p < 2) {
        n8443_buf_puts(out, "  krb5: too short\n");
        return -1;
    }
    if (p[0] == 0x02 && p[1] == 0x00) {
        p += 2;
        if (der_next(&p, end, &msg) != 0 || msg.tag != 0x6f) {
            n8443_buf_puts(out, "  AP-REP: malformed\n");
            return -1;
        }
        q = msg.v;
        if (der_next(&q, msg.v + msg.len, &seq) != 0 || seq.tag != 0x30
            || der_field(&seq, 2, &enc) != 0 || enc.tag != 0x30) {
            n8443_buf_puts(out, "  AP-REP: malformed\n");
            return -1;
        }
        n8443_buf_printf(out, "  AP-REP (mutual authentication): ");
        if (der_field(&enc, 0, &f) == 0) {
            n8443_buf_printf(out, "%s, ", enctype_name(der_int(&f)));
        }
        if (der_field(&enc, 2, &f) == 0) {
            n8443_buf_printf(out, "%zu bytes encrypted", f.len);
        }
        n8443_buf_puts(out, "\n");
        return 0;
    }
    if (p[0] == 0x03 && p[1] == 0x00) {
        p += 2;
        if (der_next(&p, end, &msg) != 0 || msg.tag != 0x7e) {
            n8443_buf_puts(out, "  KRB-ERROR: malformed\n");
            return -1;
        }
        q = msg.v;
        if (der_next(&q, msg.v + msg.len, &seq) == 0 && seq.tag == 0x30
            && der_field(&seq, 6, &f) == 0) {
            n8443_buf_printf(out, "  KRB-ERROR: error code %ld\n", der_int(&f));
            return 0;
        }
        n8443_buf_puts(out, "  KRB-ERROR: malformed\n");
        return -1;
    }
    n8443_buf_printf(out, "  krb5 token id %02x%02x\n", p[0], p[1]);
    return 0;
}

static void mech_list(const struct tlv *list, struct n8443_buf *out)
{
    const unsigned char *p = list->v;
    const unsigned char *end = list->v + list->len;
    struct tlv oid;
    int n = 0;

    n8443_buf_puts(out, "  mechanisms offered: ");
    while (p < end && der_next(&p, end, &oid) == 0 && oid.tag == 0x06) {
        if (n++ > 0) {
            n8443_buf_puts(out, ", ");
        }
        oid_text(&oid, out);
    }
    n8443_buf_puts(out, n == 0 ? "none\n" : "\n");
}

static int decode_resp(const struct tlv *t, struct n8443_buf *out)
{
    static const char *const states[] = {
        "accept-completed", "accept-incomplete", "reject", "request-mic"};
    struct tlv seq;
    struct tlv f;
    const unsigned char *p = t->v;
    long st;

    if (der_next(&p, t->v + t->len, &seq) != 0 || seq.tag != 0x30) {
        n8443_buf_puts(out, "  SPNEGO NegTokenResp: malformed\n");
        return -1;
    }
    n8443_buf_puts(out, "  SPNEGO NegTokenResp");
    if (der_field(&seq, 0, &f) == 0) {
        st = der_int(&f);
        n8443_buf_printf(out, ", state %s",
                         st >= 0 && st <= 3 ? states[st] : "unknown");
    }
    if (der_field(&seq, 1, &f) == 0 && f.tag == 0x06) {
        n8443_buf_puts(out, ", mechanism ");
        oid_text(&f, out);
    }
    if (der_field(&seq, 3, &f) == 0) {
        n8443_buf_puts(out, ", with mechListMIC");
    }
    n8443_buf_puts(out, "\n");
    if (der_field(&seq, 2, &f) == 0 && f.tag == 0x04) {
        const unsigned char *q = f.v;
        const unsigned char *end = f.v + f.len;
        struct tlv gss;
        struct tlv oid;

        if (der_next(&q, end, &gss) != 0 || gss.tag != 0x60) {
            n8443_buf_puts(out, "  response token: not a GSS token\n");
            return -1;
        }
        q = gss.v;
        if (der_next(&q, gss.v + gss.len, &oid) != 0 || oid.tag != 0x06) {
            n8443_buf_puts(out, "  response token: malformed\n");
            return -1;
        }
        return decode_krb5_inner(q, gss.v + gss.len, out);
    }
    return 0;
}

int n8443_probe_decode_token(const unsigned char *tok, size_t len,
                             struct n8443_buf *out)
{
    const unsigned char *p = tok;
    const unsigned char *end = tok + len;
    struct tlv t;
    struct tlv oid;
    struct tlv init;
    struct tlv seq;
    struct tlv f;

    if (len >= 8 && memcmp(tok, "NTLMSSP", 8) == 0) {
        n8443_buf_puts(out, "  NTLM (raw NTLMSSP): the client had no "
                            "Kerberos ticket for this name\n");
        return 0;
    }
    if (der_next(&p, end, &t) != 0) {
        n8443_buf_puts(out, "  not DER: no GSS token\n");
        return -1;
    }
    if (t.tag == 0xa1) {
        return decode_resp(&t, out);
    }
    p = t.v;
    if (t.tag != 0x60 || der_next(&p, t.v + t.len, &oid) != 0
        || oid.tag != 0x06) {
        n8443_buf_puts(out, "  not a GSS token\n");
        return -1;
    }
    n8443_buf_puts(out, "  GSS token, mechanism ");
    oid_text(&oid, out);
    n8443_buf_puts(out, "\n");
    if (oid.len == sizeof(oid_spnego)
        && memcmp(oid.v, oid_spnego, sizeof(oid_spnego)) == 0) {
        if (der_next(&p, t.v + t.len, &init) != 0 || init.tag != 0xa0) {
            n8443_buf_puts(out, "  SPNEGO: not a NegTokenInit\n");
            return -1;
        }
        p = init.v;
        if (der_next(&p, init.v + init.len, &seq) != 0 || seq.tag != 0x30) {
            n8443_buf_puts(out, "  SPNEGO NegTokenInit: malformed\n");
            return -1;
        }
        n8443_buf_puts(out, "  SPNEGO NegTokenInit\n");
        if (der_field(&seq, 0, &f) == 0 && f.tag == 0x30) {
            mech_list(&f, out);
        }
        if (der_field(&seq, 3, &f) == 0) {
            n8443_buf_puts(out, "  with mechListMIC\n");
        }
        return decode_apreq(tok, len, out);
    }
    if (end - p >= 2 && p[0] == 0x01 && p[1] == 0x00) {
        return decode_apreq(tok, len, out);
    }
    return decode_krb5_inner(p, t.v + t.len, out);
}

/* A Negotiate token in a header line, decoded into OUT. */
static void decode_header_token(const char *value, struct n8443_buf *out)
{
    unsigned char buf[65536];
    size_t n = strcspn(value, " ,\r\n");
    size_t len = 0;

    if (n == 0) {
        n8443_buf_puts(out, "  (no token: a bare challenge)\n");
        return;
    }
    if (n8443_base64_decoded_max(n) > sizeof(buf)
        || n8443_base64_decode(value, n, buf, sizeof(buf), &len) != 0) {
        n8443_buf_printf(out, "  not base64 (%zu characters)\n", n);
        return;
    }
    n8443_buf_printf(out, "  %zu bytes:\n", len);
    n8443_probe_decode_token(buf, len, out);
}

void n8443_probe_trace(const char *label, const char *direction,
                       const char *text, size_t len)
{
    struct n8443_buf out;
    const char *p = text;
    const char *end = text + len;

    n8443_buf_init(&out);
    n8443_buf_printf(&out, "* %s\n", label);
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
        char line[8192];

        if (n > 0 && p[n - 1] == '\r') {
            n--;
        }
        if (n >= sizeof(line)) {
            n = sizeof(line) - 1;
        }
        memcpy(line, p, n);
        line[n] = '\0';
        p = eol ? eol + 1 : end;
        if (line[0] == '\0') {
            continue;
        }
        if ((strncasecmp(line, "Authorization: Negotiate ", 25) == 0
             || strncasecmp(line, "WWW-Authenticate: Negotiate ", 28) == 0)) {
            const char *tok = strchr(line, ' ') + 1 + 10;

            n8443_buf_printf(&out, "%s %.*s <token, not shown>\n", direction,
                             (int)(tok - line - 1), line);
            decode_header_token(tok, &out);
        }
        else if (strncasecmp(line, "Authorization:", 14) == 0
                 || strncasecmp(line, "Cookie:", 7) == 0
                 || strncasecmp(line, "Set-Cookie:", 11) == 0) {
            n8443_buf_printf(&out, "%s %.*s <not shown>\n", direction,
                             (int)(strchr(line, ':') - line + 1), line);
        }
        else {
            n8443_buf_printf(&out, "%s %s\n", direction, line);
        }
    }
    if (!out.failed) {
        fwrite(out.data, 1, out.len, stderr);
    }
    n8443_buf_free(&out);
}
