/*
 * pac.c - bounded decoding of the PAC and of its PAC_LOGON_INFO buffer
 * (see pac.h).
 *
 * PAC_LOGON_INFO is a KERB_VALIDATION_INFO in NDR (MS-PAC 2.5, MS-RPCE
 * 2.2.6): a 16-byte type serialization header, a top-level pointer, the
 * structure's 216 fixed bytes, then the referents of its embedded
 * pointers in the order the pointers appear, each one complete (with its
 * own deferred referents) before the next:
 *
 *   EffectiveName, FullName, LogonScript, ProfilePath, HomeDirectory,
 *   HomeDirectoryDrive   strings: max u32, offset u32, actual u32, UTF-16
 *   GroupIds             max u32, then max x { RID u32, attributes u32 }
 *   LogonServer, LogonDomainName   strings
 *   LogonDomainId        SID: max u32, revision u8, count u8,
 *                        authority 6 bytes big-endian, count x u32
 *   ExtraSids            max u32, max x { SID ptr u32, attributes u32 },
 *                        then the SID of each non-NULL pointer
 *   ResourceGroupDomainSid   SID
 *   ResourceGroupIds     as GroupIds
 *
 * A NULL pointer (0) has no referent.  Every read goes through struct rd,
 * which never moves past its end; every count is checked against what is
 * left before it is multiplied.
 */
#include <stdio.h>
#include <string.h>

#include "pac.h"

#define PAC_HEADER_LEN 8
#define PAC_ENTRY_LEN  16
#define PAC_ALIGNMENT  8
#define NDR_HEADER_LEN 16
#define KVI_FIXED_LEN  216

typedef struct {
    const unsigned char *p;
    size_t len;
    size_t off;
    int bad; /* sticky: a read went past the end */
} rd;

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
           | (uint32_t)p[3] << 24;
}

static int rd_need(rd *r, size_t n)
{
    if (r->bad || n > r->len - r->off) {
        r->bad = 1;
        return -1;
    }
    return 0;
}

static void rd_skip(rd *r, size_t n)
{
    if (rd_need(r, n) == 0)
        r->off += n;
}

static uint8_t rd_u8(rd *r)
{
    if (rd_need(r, 1) != 0)
        return 0;
    return r->p[r->off++];
}

static uint16_t rd_u16(rd *r)
{
    uint16_t v;

    if (rd_need(r, 2) != 0)
        return 0;
    v = (uint16_t)(r->p[r->off] | r->p[r->off + 1] << 8);
    r->off += 2;
    return v;
}

static uint32_t rd_u32(rd *r)
{
    uint32_t v;

    if (rd_need(r, 4) != 0)
        return 0;
    v = le32(r->p + r->off);
    r->off += 4;
    return v;
}

/* NDR aligns to the primitive's size, counted from the stream's start
 * (the stream starts at an 8-byte boundary of the buffer). */
static void rd_align(rd *r, size_t n)
{
    size_t pad = (n - r->off % n) % n;

    rd_skip(r, pad);
}

/* Fixed part of an RPC_UNICODE_STRING. */
typedef struct {
    uint16_t length;
    uint16_t maximum;
    uint32_t ptr;
} ustr;

static void rd_ustr(rd *r, ustr *s)
{
    s->length = rd_u16(r);
    s->maximum = rd_u16(r);
    s->ptr = rd_u32(r);
}

/* A string's referent: conformant varying array of UTF-16 units. */
static int rd_ustr_deferred(rd *r, const ustr *s)
{
    uint32_t max, offset, actual;

    if (s->ptr == 0)
        return s->length == 0 ? 0 : -1;
    if (s->length % 2 != 0 || s->length > s->maximum)
        return -1;
    rd_align(r, 4);
    max = rd_u32(r);
    offset = rd_u32(r);
    actual = rd_u32(r);
    if (r->bad || offset != 0 || actual > max || actual != s->length / 2u)
        return -1;
    rd_skip(r, (size_t)actual * 2);
    return r->bad ? -1 : 0;
}

/* A SID's referent (conformance first); sid may be NULL. */
static int rd_sid(rd *r, n8443_sid *sid)
{
    uint32_t max, i;
    uint8_t rev, count;
    uint64_t auth = 0;

    rd_align(r, 4);
    max = rd_u32(r);
    rev = rd_u8(r);
    count = rd_u8(r);
    if (r->bad || rev != 1 || count > N8443_SID_MAX_SUBAUTH || max != count)
        return -1;
    for (i = 0; i < 6; i++)
        auth = auth << 8 | rd_u8(r);
    if (rd_need(r, (size_t)count * 4) != 0)
        return -1;
    if (sid != NULL) {
        memset(sid, 0, sizeof(*sid));
        sid->revision = rev;
        sid->count = count;
        sid->authority = auth;
    }
    for (i = 0; i < count; i++) {
        uint32_t v = rd_u32(r);

        if (sid != NULL)
            sid->sub[i] = v;
    }
    return r->bad ? -1 : 0;
}

/* A GROUP_MEMBERSHIP array's referent: returns where its count x 8 bytes
 * start, or -1. */
static int rd_groups(rd *r, uint32_t ptr, uint32_t count, size_t *start)
{
    uint32_t max;

    if (ptr == 0)
        return count == 0 ? 0 : -1;
    rd_align(r, 4);
    max = rd_u32(r);
    if (r->bad || max != count || count > (r->len - r->off) / 8)
        return -1;
    *start = r->off;
    rd_skip(r, (size_t)count * 8);
    return r->bad ? -1 : 0;
}

int n8443_sid_append_rid(const n8443_sid *domain, uint32_t rid, n8443_sid *out)
{
    if (domain->count >= N8443_SID_MAX_SUBAUTH)
        return -1;
    *out = *domain;
    out->sub[out->count++] = rid;
    return 0;
}

int n8443_sid_to_string(const n8443_sid *sid, char *out, size_t outcap)
{
    size_t used;
    int n;
    uint8_t i;

    if (outcap == 0)
        return -1;
    out[0] = '\0';
    if (sid->revision != 1 || sid->count > N8443_SID_MAX_SUBAUTH
        || sid->authority >> 48 != 0)
        return -1;
    if (sid->authority >> 32 == 0)
        n = snprintf(out, outcap, "S-1-%lu", (unsigned long)sid->authority);
    else
        n = snprintf(out, outcap, "S-1-0x%012llx",
                     (unsigned long long)sid->authority);
    if (n < 0 || (size_t)n >= outcap)
        goto toolong;
    used = (size_t)n;
    for (i = 0; i < sid->count; i++) {
        n = snprintf(out + used, outcap - used, "-%lu",
                     (unsigned long)sid->sub[i]);
        if (n < 0 || (size_t)n >= outcap - used)
            goto toolong;
        used += (size_t)n;
    }
    return (int)used;

toolong:
    out[0] = '\0';
    return -1;
}

int n8443_pac_find_buffer(const unsigned char *pac, size_t len, uint32_t type,
                          const unsigned char **buf, size_t *buflen)
{
    uint32_t count, version, i;
    size_t header_len;
    int found = 0;

    if (pac == NULL || len < PAC_HEADER_LEN)
        return -1;
    count = le32(pac);
    version = le32(pac + 4);
    if (count < 1 || version != 0
        || count > (len - PAC_HEADER_LEN) / PAC_ENTRY_LEN)
        return -1;
    header_len = PAC_HEADER_LEN + (size_t)count * PAC_ENTRY_LEN;
    for (i = 0; i < count; i++) {
        const unsigned char *e =
            pac + PAC_HEADER_LEN + (size_t)i * PAC_ENTRY_LEN;
        uint32_t t = le32(e), size = le32(e + 4);
        uint32_t off_lo = le32(e + 8), off_hi = le32(e + 12);

        if (off_hi != 0 || off_lo % PAC_ALIGNMENT != 0 || off_lo < header_len
            || off_lo > len || size > len - off_lo)
            return -1;
        if (t != type)
            continue;
        if (found)
            return -1;
        found = 1;
        *buf = pac + off_lo;
        *buflen = size;
    }
    return found ? 0 : 1;
}

/* One pass over a logon info: decode into *info, and when fn is not NULL
 * emit the SIDs (the caller made a first pass without fn). */
static int logon_info_pass(const unsigned char *buf, size_t len,
                           n8443_logon_info *info, n8443_pac_sid_fn fn,
                           void *ctx)
{
    ustr names[6], server, domain;
    uint32_t groups_ptr, domain_ptr, extra_count, extras_ptr;
    uint32_t res_domain_ptr, res_count, res_ptr, i;
    size_t groups_at = 0, extras_at = 0, res_at = 0, sids_at = 0;
    n8443_sid sid;
    rd r;
    int rc;

    if (buf == NULL || len < NDR_HEADER_LEN)
        return -1;
    /* Common type header: version 1, little-endian, 8 bytes long. */
    if (buf[0] != 1 || buf[1] != 0x10 || buf[2] != 8 || buf[3] != 0)
        return -1;
    /* Private header: the object's length, a multiple of 8. */
    if (le32(buf + 8) > len - NDR_HEADER_LEN || le32(buf + 8) % 8 != 0)
        return -1;
    r.p = buf + NDR_HEADER_LEN;
    r.len = le32(buf + 8);
    r.off = 0;
    r.bad = 0;

    if (rd_u32(&r) == 0) /* top-level pointer */
        return -1;
    if (rd_need(&r, KVI_FIXED_LEN) != 0)
        return -1;
    memset(info, 0, sizeof(*info));
    rd_skip(&r, 6 * 8); /* six FILETIMEs */
    for (i = 0; i < 6; i++)
        rd_ustr(&r, &names[i]);
    rd_skip(&r, 4); /* LogonCount, BadPasswordCount */
    info->user_rid = rd_u32(&r);
    info->primary_group_rid = rd_u32(&r);
    info->group_count = rd_u32(&r);
    groups_ptr = rd_u32(&r);
    info->user_flags = rd_u32(&r);
    rd_skip(&r, 16); /* UserSessionKey */
    rd_ustr(&r, &server);
    rd_ustr(&r, &domain);
    domain_ptr = rd_u32(&r);
    rd_skip(&r, 8 + 4 + 4 + 8 + 8 + 4 + 4);
    extra_count = rd_u32(&r);
    extras_ptr = rd_u32(&r);
    res_domain_ptr = rd_u32(&r);
    res_count = rd_u32(&r);
    res_ptr = rd_u32(&r);
    if (r.bad)
        return -1;

    for (i = 0; i < 6; i++) {
        if (rd_ustr_deferred(&r, &names[i]) != 0)
            return -1;
    }
    if (rd_groups(&r, groups_ptr, info->group_count, &groups_at) != 0)
        return -1;
    if (rd_ustr_deferred(&r, &server) != 0
        || rd_ustr_deferred(&r, &domain) != 0)
        return -1;
    /* Without the domain SID no RID means anything. */
    if (domain_ptr == 0 || rd_sid(&r, &info->domain_sid) != 0)
        return -1;

    if (extras_ptr == 0) {
        if (extra_count != 0)
            return -1;
    }
    else {
        uint32_t max, nonnull = 0;

        rd_align(&r, 4);
        max = rd_u32(&r);
        if (r.bad || max != extra_count || extra_count > (r.len - r.off) / 8)
            return -1;
        extras_at = r.off;
        for (i = 0; i < extra_count; i++) {
            if (rd_u32(&r) != 0)
                nonnull++;
            rd_skip(&r, 4);
        }
        sids_at = r.off;
        for (i = 0; i < nonnull; i++) {
            if (rd_sid(&r, NULL) != 0)
                return -1;
        }
        info->extra_sid_count = nonnull;
    }

    if (res_domain_ptr != 0) {
        if (rd_sid(&r, &info->resource_domain_sid) != 0)
            return -1;
        info->has_resource_domain = 1;
    }
    info->resource_group_count = res_count;
    if (rd_groups(&r, res_ptr, res_count, &res_at) != 0)
        return -1;
    /* RIDs of a resource domain that is not there mean nothing. */
    if (res_count != 0 && !info->has_resource_domain)
        return -1;
    if (r.bad)
        return -1;
    if (fn == NULL)
        return 0;

    /* Second pass: everything above was checked, emit the SIDs. */
    if (n8443_sid_append_rid(&info->domain_sid, info->user_rid, &sid) != 0)
        return -1;
    if ((rc = fn(ctx, N8443_PAC_SID_USER, &sid, 0)) != 0)
        return rc;
    if (n8443_sid_append_rid(&info->domain_sid, info->primary_group_rid, &sid)
        != 0)
        return -1;
    if ((rc = fn(ctx, N8443_PAC_SID_PRIMARY_GROUP, &sid, 7)) != 0)
        return rc;
    for (i = 0; i < info->group_count; i++) {
        const unsigned char *g = r.p + groups_at + (size_t)i * 8;

        if (n8443_sid_append_rid(&info->domain_sid, le32(g), &sid) != 0)
            return -1;
        if ((rc = fn(ctx, N8443_PAC_SID_GROUP, &sid, le32(g + 4))) != 0)
            return rc;
    }
    /* MS-PAC 2.5: ExtraSids count only with the D bit (LOGON_EXTRA_SIDS)
     * and resource groups only with the H bit (LOGON_RESOURCE_GROUPS) of
     * UserFlags.  Without its bit a list is still decoded and checked,
     * but not granted.  Samba (make_user_info_dc_pac) skips resource
     * groups without the H bit the same way; for ExtraSids it does not
     * look at the D bit, but the KDCs (Windows, Samba's own) set it
     * whenever SidCount is not zero, so skipping them only affects a
     * PAC that breaks the spec's MUST. */
    if (extras_ptr != 0 && (info->user_flags & N8443_PAC_LOGON_EXTRA_SIDS)) {
        rd s = r;

        s.off = sids_at;
        for (i = 0; i < extra_count; i++) {
            const unsigned char *e = r.p + extras_at + (size_t)i * 8;

            if (le32(e) == 0)
                continue;
            if (rd_sid(&s, &sid) != 0)
                return -1;
            if ((rc = fn(ctx, N8443_PAC_SID_EXTRA, &sid, le32(e + 4))) != 0)
                return rc;
        }
    }
    if (!(info->user_flags & N8443_PAC_LOGON_RESOURCE_GROUPS))
        res_count = 0;
    for (i = 0; i < res_count; i++) {
        const unsigned char *g = r.p + res_at + (size_t)i * 8;

        if (n8443_sid_append_rid(&info->resource_domain_sid, le32(g), &sid)
            != 0)
            return -1;
        if ((rc = fn(ctx, N8443_PAC_SID_RESOURCE, &sid, le32(g + 4))) != 0)
            return rc;
    }
    return 0;
}

int n8443_pac_logon_info(const unsigned char *buf, size_t len,
                         n8443_logon_info *out, n8443_pac_sid_fn fn, void *ctx)
{
    n8443_logon_info info;
    int rc;

    /* A domain SID with 15 sub-authorities leaves no room for a RID. */
    rc = logon_info_pass(buf, len, &info, NULL, NULL);
    if (rc == 0
        && (info.domain_sid.count >= N8443_SID_MAX_SUBAUTH
            || (info.resource_group_count != 0
                && info.resource_domain_sid.count >= N8443_SID_MAX_SUBAUTH)))
        rc = -1;
    if (rc == 0 && fn != NULL)
        rc = logon_info_pass(buf, len, &info, fn, ctx);
    if (rc == 0 && out != NULL)
        *out = info;
    return rc;
}

/* "S-1-A(-S){0,15}": A decimal up to 2^48-1 or 0x and hex digits; each S
 * a decimal 32-bit number; nothing else (no sign, space or empty part). */
int n8443_sid_from_string(const char *in, n8443_sid *out)
{
    const char *p = in;
    uint64_t v;
    int hex, digits;

    memset(out, 0, sizeof(*out));
    if ((p[0] != 'S' && p[0] != 's') || p[1] != '-' || p[2] != '1'
        || p[3] != '-')
        return -1;
    p += 4;
    out->revision = 1;
    hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
    if (hex)
        p += 2;
    for (v = 0, digits = 0;; p++, digits++) {
        unsigned d;

        if (*p >= '0' && *p <= '9')
            d = (unsigned)(*p - '0');
        else if (hex && *p >= 'a' && *p <= 'f')
            d = (unsigned)(*p - 'a' + 10);
        else if (hex && *p >= 'A' && *p <= 'F')
            d = (unsigned)(*p - 'A' + 10);
        else
            break;
        v = v * (hex ? 16 : 10) + d;
        if (v > 0xffffffffffffULL)
            return -1;
    }
    if (digits == 0)
        return -1;
    out->authority = v;
    while (*p == '-') {
        p++;
        if (out->count == N8443_SID_MAX_SUBAUTH)
            return -1;
        for (v = 0, digits = 0; *p >= '0' && *p <= '9'; p++, digits++) {
            v = v * 10 + (unsigned)(*p - '0');
            if (v > 0xffffffffULL)
                return -1;
        }
        if (digits == 0)
            return -1;
        out->sub[out->count++] = (uint32_t)v;
    }
    return *p == '\0' ? 0 : -1;
}
