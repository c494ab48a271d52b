/*
 * pac.h - a decoder of the Microsoft PAC (MS-PAC) as far as authorization
 * by group needs it: the PAC's buffer table, and in the PAC_LOGON_INFO
 * buffer (KERB_VALIDATION_INFO, NDR: MS-RPCE type serialization version
 * 1, little-endian) the user's and groups' SIDs: the domain SID with the
 * user RID, primary group RID and group RIDs, the extra SIDs, and the
 * resource group domain SID with its RIDs.
 *
 * The input is hostile (it comes out of a ticket): every count, length,
 * offset and pointer is checked against the bytes that are there before
 * anything is read, nothing is allocated, and a buffer is either decoded
 * in full or refused (-1).  It does not check the PAC's signatures: the
 * caller must decode only a PAC the Kerberos library verified.  MIT does
 * not refuse a ticket whose PAC fails verification: it hands the PAC out
 * as the name attribute "urn:mspac:" all the same, marked not
 * authenticated (mspac_verify in MIT's pac.c), so a caller of
 * gss_get_name_attribute must require authenticated == 1, and the fast
 * path must call krb5_pac_verify itself.
 *
 * Pure C: no httpd, no APR, no Kerberos library.  The module decodes the
 * logon info that core/claims.c got verified (groups.c).
 */
#ifndef N8443_PAC_H
#define N8443_PAC_H

#include <stddef.h>
#include <stdint.h>

/* PAC buffer types (MS-PAC 2.4). */
#define N8443_PAC_LOGON_INFO   1
#define N8443_PAC_CLIENT_INFO  10
#define N8443_PAC_UPN_DNS_INFO 12

/* KERB_VALIDATION_INFO.UserFlags bits (MS-PAC 2.5). */
#define N8443_PAC_LOGON_EXTRA_SIDS      0x0020
#define N8443_PAC_LOGON_RESOURCE_GROUPS 0x0200

/* A SID has at most 15 sub-authorities (MS-DTYP 2.4.2). */
#define N8443_SID_MAX_SUBAUTH 15
/* "S-1-" + a 48-bit authority + 15 x "-4294967295" + NUL fits. */
#define N8443_SID_STRING_MAX 192

typedef struct {
    uint8_t revision;   /* always 1 */
    uint8_t count;      /* sub-authorities, 0 to 15 */
    uint64_t authority; /* 48 bits */
    uint32_t sub[N8443_SID_MAX_SUBAUTH];
} n8443_sid;

/* Where a SID came from in the logon info. */
typedef enum {
    N8443_PAC_SID_USER = 0,      /* domain SID + UserId */
    N8443_PAC_SID_PRIMARY_GROUP, /* domain SID + PrimaryGroupId */
    N8443_PAC_SID_GROUP,         /* domain SID + a GroupIds RID */
    N8443_PAC_SID_EXTRA,         /* an ExtraSids entry */
    N8443_PAC_SID_RESOURCE       /* resource domain SID + a RID */
} n8443_pac_sid_kind;

typedef struct {
    uint32_t user_rid;
    uint32_t primary_group_rid;
    uint32_t user_flags;
    uint32_t group_count;
    uint32_t extra_sid_count; /* entries with a SID */
    uint32_t resource_group_count;
    n8443_sid domain_sid; /* LogonDomainId */
    int has_resource_domain;
    n8443_sid resource_domain_sid; /* valid when has_resource_domain */
} n8443_logon_info;

/*
 * Called once for each SID of a logon info that decoded in full, in the
 * order of n8443_pac_sid_kind (the user first); attributes are the
 * SE_GROUP_* bits (0 for the user).  A non-zero return stops the walk and
 * is returned by n8443_pac_logon_info.
 */
typedef int (*n8443_pac_sid_fn)(void *ctx, n8443_pac_sid_kind kind,
                                const n8443_sid *sid, uint32_t attributes);

/*
 * Check a PAC's header and buffer table (every entry inside the PAC, at an
 * 8-byte aligned offset past the table, as MIT's krb5_pac_parse checks)
 * and find the one buffer of the given type.  Returns 0 and sets *buf and
 * *buflen; 1 when there is no buffer of that type; -1 when the PAC is
 * malformed or holds that type twice.
 */
int n8443_pac_find_buffer(const unsigned char *pac, size_t len, uint32_t type,
                          const unsigned char **buf, size_t *buflen);

/*
 * Decode a PAC_LOGON_INFO buffer.  On success (0), *out (may be NULL) is
 * filled and fn (may be NULL) is called for each SID; fn is only called
 * once the whole buffer has decoded.  ExtraSids are passed to fn only
 * when UserFlags has N8443_PAC_LOGON_EXTRA_SIDS, resource groups only
 * with N8443_PAC_LOGON_RESOURCE_GROUPS (MS-PAC 2.5); the counts in *out
 * are what the buffer holds.  Returns -1 on any malformed input,
 * or what fn returned when it stopped the walk.
 */
int n8443_pac_logon_info(const unsigned char *buf, size_t len,
                         n8443_logon_info *out, n8443_pac_sid_fn fn, void *ctx);

/*
 * The SID as text, "S-1-5-21-...": the authority in decimal below 2^32,
 * else as 0x followed by 12 hex digits (MS-DTYP 2.4.2.1).  Returns the
 * length written (without the NUL, which is always written), or -1 when
 * outcap is too small or the SID is not valid.
 */
int n8443_sid_to_string(const n8443_sid *sid, char *out, size_t outcap);

/* The SID of a domain SID plus one RID; -1 if the domain has 15
 * sub-authorities already. */
int n8443_sid_append_rid(const n8443_sid *domain, uint32_t rid, n8443_sid *out);

/* A SID from its text form (MS-DTYP 2.4.2.1; "S" or "s"), as
 * n8443_sid_to_string writes it or with a hex authority: 0, or -1 when it
 * is not a SID. */
int n8443_sid_from_string(const char *in, n8443_sid *out);

#endif /* N8443_PAC_H */
