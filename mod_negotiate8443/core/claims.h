/*
 * claims.h - what a ticket says about its client beyond the name, read
 * the way MIT's GSS-API acceptor reads it, on both login paths:
 *
 *   - the PAC's logon info (MS-PAC PAC_LOGON_INFO), only when the PAC's
 *     server signature verified with the service key.  MIT's acceptor does
 *     not refuse a ticket whose PAC fails to verify (mspac_verify in its
 *     pac.c: a cross-realm or Open Directory PAC may lack the signature);
 *     it hides the PAC instead (1.20: the attribute is "not there"; older:
 *     authenticated = 0).  So do we: the login stands, the PAC is not
 *     used, and the state says why (N8443_PAC_UNVERIFIED).
 *   - MIT KDC authentication indicators (the "auth-indicators" name
 *     attribute), which the KDC puts in a CAMMAC in the ticket.
 *
 * GSS-API path: gss_get_name_attribute on the accepted initiator name,
 * values taken only when MIT marks them authenticated.  Fast path: the
 * ticket's PAC is verified with krb5_pac_verify (the server checksum with
 * the service key, the client info against the ticket's client and
 * authtime: what mspac_verify checks); a ticket with a CAMMAC is left to
 * GSS-API (n8443_ticket_has_cammac), whose authdata plugins verify it.
 */
#ifndef N8443_CLAIMS_H
#define N8443_CLAIMS_H

#include <stddef.h>
#include <gssapi/gssapi.h>
#include <krb5/krb5.h>

typedef enum {
    N8443_PAC_ABSENT = 0,   /* the ticket has no PAC (MIT KDC) */
    N8443_PAC_VERIFIED,     /* logon_info holds the verified buffer */
    N8443_PAC_UNVERIFIED,   /* a PAC whose signature did not verify:
                                   not used */
    N8443_PAC_UNAVAILABLE,  /* could not be read (memory; GSS-Proxy
                                   without name attributes) */
    N8443_PAC_NO_LOGON_INFO /* verified, but without logon info: the
                                   PAC of an MIT KDC (1.20 and later) */
} n8443_pac_state;

typedef struct {
    n8443_pac_state pac;
    unsigned char *logon_info; /* malloc; N8443_PAC_VERIFIED only */
    size_t logon_info_len;
    /* malloc, the indicators separated by single spaces, or NULL; an
     * indicator with a space or a control byte is left out (MIT's are
     * tokens such as "hardened", "pkinit", "otp"). */
    char *indicators;
} n8443_ticket_claims;

/* Read the claims of an accepted GSS-API initiator name.  Never fails:
 * what cannot be read is not claimed. */
void n8443_claims_from_name(gss_name_t name, n8443_ticket_claims *out);

/* Does the decrypted ticket carry a CAMMAC (MIT's KDC-verified authdata
 * container: authentication indicators)?  1 yes (or cannot tell), 0 no. */
int n8443_ticket_has_cammac(krb5_context ctx, const krb5_ticket *ticket);

/* The fast path's PAC: the ticket (as krb5_rd_req left it: decrypted,
 * its server the keytab principal whose key decrypted it) is checked
 * against the keys of kt.  0, or -1 when out of memory (out cleared). */
int n8443_claims_from_ticket(krb5_context ctx, krb5_keytab kt,
                             const krb5_ticket *ticket,
                             n8443_ticket_claims *out);

void n8443_claims_clear(n8443_ticket_claims *c);

/* Append an indicator to the space-separated list *list (malloc); 0, or
 * -1 out of memory.  Indicators with a space or control byte, or over 256
 * bytes, are skipped. */
int n8443_claims_add_indicator(char **list, const char *ind, size_t len);

#endif /* N8443_CLAIMS_H */
