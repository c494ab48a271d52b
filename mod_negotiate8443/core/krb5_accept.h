/*
 * krb5_accept.h - the fast path for a plain Kerberos login: the AP-REQ the
 * token walker found is checked with krb5_rd_req and answered with
 * krb5_mk_rep directly, without GSS-API's mechanism glue, SPNEGO and krb5
 * mechanism layers (about a third of a login's instructions, most of them
 * in the krb5 contexts those layers make and free per call).
 *
 * It accepts only what it fully understands and leaves everything else to
 * GSS-API (n8443_accept_once), which stays the reference: any refusal by
 * krb5, a checksum other than the plain RFC 4121 one, delegation, DCE
 * style, checksum extensions, an authenticator etype field that is not
 * the session key's enctype, channel bindings that match in neither
 * address-free form (GSS_C_AF_UNSPEC, GSS_C_AF_NULLADDR) (or carry
 * addresses, or are missing where the client's AP-options authdata says
 * it binds), GSS flags and AP options that disagree about mutual
 * authentication, an anonymous client, non-canonical DER or SPNEGO
 * reqFlags MIT would refuse, a NegTokenResp or a mechListMIC, a ticket
 * with a CAMMAC (MIT's authentication indicators, which its authdata
 * plugins verify).  A PAC is verified as MIT's acceptor verifies it
 * (core/claims.c: the server signature with the key that decrypted the
 * ticket); one that does not verify is not used, the login stands.  So every
 * failure is still diagnosed and logged by the one GSS-API path.
 * Authenticator authorization data (Windows, Heimdal) is taken: krb5_rd_req
 * handles it as for GSS-API, and MIT's one GSS-level check of it
 * (check_cbt) is made here too.  That the two paths agree is tested by
 * tests/diff/n8443_diff.
 */
#ifndef N8443_KRB5_ACCEPT_H
#define N8443_KRB5_ACCEPT_H

#include <krb5/krb5.h>

#include "acceptor.h"
#include "token_walk.h"

typedef enum {
    N8443_KACC_ACCEPTED = 0, /* *res is filled in as GSS-API would */
    N8443_KACC_DEFER         /* not handled here: ask GSS-API */
} n8443_kacc_status;

/*
 * Accept the AP-REQ in info (from n8443_token_walk over the whole token)
 * with the keys in kt, for server (NULL: any key in kt, as GSS-API does
 * for credentials acquired without a name).  ctx must not be in use by
 * another thread.  cb: the acceptor's channel bindings, or NULL.
 *
 * No replay cache is consulted: the caller checks the authenticator
 * against its own cache afterwards, as it does after GSS-API.
 *
 * On ACCEPTED res holds what MIT's GSS-API would report for the token:
 * the client principal; the authenticator's time (res->stamp, see
 * n8443_krb5_stamp); the lifetime as MIT counts it, the ticket's end
 * minus now plus the clock skew (skew: the one ctx was made with, which
 * mod_negotiate8443 fixes at start for both paths; see
 * n8443_ticket_left); the flags (GSS_C_CHANNEL_BOUND_FLAG when the
 * client's bindings matched cb, the initiator's flags MIT keeps, TRANS,
 * and PROT_READY with mutual authentication); in res->claims the
 * verified PAC's logon info, as GSS-API's name attributes give it; and in
 * res->output the token for the client (SPNEGO's answer with the AP-REP
 * for a SPNEGO token, the bare krb5 token for a raw one); release it with
 * n8443_accept_result_clear.  On DEFER *res is zeroed.
 */
n8443_kacc_status n8443_krb5_accept(krb5_context ctx, krb5_keytab kt,
                                    krb5_const_principal server,
                                    const n8443_apreq_info *info,
                                    gss_channel_bindings_t cb, krb5_deltat skew,
                                    n8443_accept_result *res);

/*
 * Which form of the acceptor's bindings cb the client's 16-byte bindings
 * hash (from its 0x8003 checksum) is: 1 and *addrtype (when not NULL) the
 * address type it was hashed with (cb's own or the other address-free
 * one, core/channel_binding.h); 0 when the client bound nothing (all
 * zeros) or cb is NULL; -1 when it is neither form (or cb carries
 * addresses).  expected (when not NULL) gets both forms' hashes as far
 * as they were computed (all of them on -1).
 */
int n8443_cb_hash_form(krb5_context ctx, const unsigned char *hash,
                       gss_channel_bindings_t cb, OM_uint32 *addrtype,
                       unsigned char expected[2][16]);

/*
 * The authenticator's time (ctime and cusec, the client's clock) of the
 * AP-REQ in info, in microseconds since the epoch, read with the keys in
 * kt for server (NULL: any): for a login GSS-API accepted, which does not
 * tell it.  No replay cache, nothing else checked beyond krb5_rd_req's
 * own (the ticket, the skew).  0 when it cannot be read (no keys here,
 * e.g. GSS-Proxy holds them): the caller treats the time as unknown.
 */
long long n8443_krb5_stamp(krb5_context ctx, krb5_keytab kt,
                           krb5_const_principal server,
                           const n8443_apreq_info *info);

#endif /* N8443_KRB5_ACCEPT_H */
