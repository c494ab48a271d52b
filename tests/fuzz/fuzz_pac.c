/*
 * fuzz_pac.c - libFuzzer target: the PAC decoder (core/pac.c) on hostile
 * bytes.  The input is a whole PAC (the seeds are real ones from Samba's
 * AD DC); its logon info buffer, when the table has one, is decoded, and
 * the raw input is also decoded as a logon info buffer directly, so that
 * the NDR decoder sees bytes the table check would have stopped.
 *
 * Beyond memory safety (the sanitizers), checked with abort(): the buffer
 * found lies inside the PAC; SIDs are handed out only for a buffer that
 * decodes in full (a refused buffer never reached the callback), their
 * number is what the counts say (ExtraSids and resource groups only with
 * their UserFlags bit), and every SID converts to a string that
 * starts "S-1-".  The input is also read as the text of a SID (what
 * NegotiateGroupMap and Require negotiate-group take): one that parses
 * converts back to a string that parses to the same SID.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pac.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    size_t sids;
} walk;

static int count_sid(void *ctx, n8443_pac_sid_kind kind, const n8443_sid *sid,
                     uint32_t attributes)
{
    walk *w = ctx;
    char text[N8443_SID_STRING_MAX];
    int n;

    (void)attributes;
    if (kind > N8443_PAC_SID_RESOURCE)
        abort();
    n = n8443_sid_to_string(sid, text, sizeof(text));
    if (n < 5 || (size_t)n >= sizeof(text) || strncmp(text, "S-1-", 4) != 0
        || strlen(text) != (size_t)n)
        abort();
    w->sids++;
    return 0;
}

/* Decode from an exact-size heap copy, so that ASan sees any read past
 * the end. */
static void decode(const unsigned char *buf, size_t len)
{
    unsigned char *copy = malloc(len ? len : 1);
    n8443_logon_info li;
    walk w = {0};
    int rc;

    if (copy == NULL)
        abort();
    memcpy(copy, buf, len);
    rc = n8443_pac_logon_info(copy, len, &li, count_sid, &w);
    if (rc != 0) {
        if (rc != -1 || w.sids != 0)
            abort();
    }
    else if (w.sids
             != 2 + (size_t)li.group_count
                    + ((li.user_flags & N8443_PAC_LOGON_EXTRA_SIDS)
                           ? li.extra_sid_count
                           : 0)
                    + ((li.user_flags & N8443_PAC_LOGON_RESOURCE_GROUPS)
                           ? li.resource_group_count
                           : 0)) {
        abort();
    }
    free(copy);
}

/* n8443_sid_from_string on the input as a C string (up to 256 bytes):
 * a SID that parses survives the round trip to text and back. */
static void sid_text(const unsigned char *data, size_t size)
{
    char in[257], out[N8443_SID_STRING_MAX];
    n8443_sid a, b;
    size_t n = size < 256 ? size : 256;

    memcpy(in, data, n);
    in[n] = '\0';
    if (n8443_sid_from_string(in, &a) != 0)
        return;
    if (n8443_sid_to_string(&a, out, sizeof(out)) < 0
        || n8443_sid_from_string(out, &b) != 0 || a.count != b.count
        || a.authority != b.authority
        || memcmp(a.sub, b.sub, a.count * sizeof(a.sub[0])) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const unsigned char *buf;
    size_t len;
    int rc;

    rc = n8443_pac_find_buffer(data, size, N8443_PAC_LOGON_INFO, &buf, &len);
    if (rc == 0) {
        if (buf < data || len > size || buf + len > data + size)
            abort();
        decode(buf, len);
    }
    else if (rc != 1 && rc != -1) {
        abort();
    }
    decode(data, size);
    sid_text(data, size);
    return 0;
}
