/*
 * diff_core.h - the differential test of the fast path (issue 15): one
 * token, fed to n8443_krb5_accept (core/krb5_accept.c) and to GSS-API
 * (n8443_accept_once, core/acceptor.c) with the same keytab and channel
 * bindings, must give the same answer wherever the fast path answers at
 * all: accepted by both, same principal, same flags, same lifetime, no
 * delegated credential, an answer token in both or neither and of the
 * same shape (SPNEGO's negState, supportedMech and fields; the krb5
 * header), and a replay key over exactly the authenticator cipher krb5
 * decrypted.
 *
 * And the forge that makes the corpus' mutations: given the service key
 * (the keytab), any ticket and any authenticator can be written, so every
 * field of both can be varied, not only the clear ones.
 *
 * Test code: no httpd, no APR.  GSS-API runs with the replay cache off
 * ("none:"), so one token may be fed any number of times.
 */
#ifndef N8443_DIFF_CORE_H
#define N8443_DIFF_CORE_H

#include <stddef.h>
#include <stdint.h>

#include <gssapi/gssapi.h>
#include <krb5/krb5.h>

#include "acceptor.h"
#include "token_walk.h"

/* The acceptor's channel bindings the corpus is made for: the
 * application data of a tls-server-end-point binding (RFC 5929) over a
 * certificate hash of 32 octets of 0x11, as the pytest corpus makes them. */
#define DIFF_CB_PREFIX "tls-server-end-point:"
#define DIFF_CB_BYTE   0x11
#define DIFF_CB_LEN    (sizeof(DIFF_CB_PREFIX) - 1 + 32)

typedef enum {
    DIFF_CB_NONE = 0,     /* the acceptor has no bindings */
    DIFF_CB_APP,          /* application data only */
    DIFF_CB_ADDR,         /* application data and IPv4 addresses */
    DIFF_CB_APP_NULLADDR, /* application data, GSS_C_AF_NULLADDR for
                             both address types (JGSS, Heimdal callers) */
    DIFF_CB_APP_MIXED,    /* application data, initiator NULLADDR and
                           acceptor UNSPEC: neither form */
    DIFF_CB_APP_MIXED2,   /* application data, initiator UNSPEC and
                           acceptor NULLADDR: neither form */
    DIFF_CB_COUNT
} diff_cb_kind;

typedef struct {
    krb5_context ctx;
    krb5_keytab kt;
    gss_cred_id_t cred;
    krb5_deltat skew;
    unsigned char cb_data[DIFF_CB_LEN];
    struct gss_channel_bindings_struct cb[DIFF_CB_COUNT];
    /* counters */
    unsigned long tokens, fast_accepted, gss_accepted, both_refused,
        deferred_gss_accepted, violations;
    int verbose;
} diff_env;

/* 0, or -1 with a message on stderr. */
int diff_env_init(diff_env *e, const char *keytab);
void diff_env_free(diff_env *e);

/* The acceptor bindings of a kind (NULL for DIFF_CB_NONE). */
gss_channel_bindings_t diff_cb(diff_env *e, diff_cb_kind kind);

/*
 * Feed tok to both paths with the acceptor bindings cb.  Returns 0 when
 * they agree (or the fast path deferred), 1 on a difference, which is
 * described on stderr with name.
 */
int diff_compare(diff_env *e, const char *name, const unsigned char *tok,
                 size_t len, diff_cb_kind cb);

/*
 * Issue 17: forged logins whose client hashed the bindings in each
 * address-free form, mixed forms and none, with and without MS-KILE's
 * CBT bit, under both forms of the acceptor's bindings: besides the
 * paths agreeing (diff_compare), each must give the expected outcome
 * (bound, accepted unbound, refused).  Returns the number of cases; an
 * unexpected outcome counts as a violation.
 */
unsigned long diff_binding_forms(diff_env *e);

/* ------------------------------------------------------------- the forge */

/* What a forged login consists of; diff_forge_defaults fills it from a
 * real token (its ticket decrypted with the keytab) or from scratch. */
typedef struct {
    /* ticket */
    krb5_ticket *ticket;       /* enc_part2 decrypted */
    krb5_keyblock service_key; /* to re-encrypt the ticket with */
    krb5_kvno service_kvno;
    int reencrypt_ticket; /* 1: encrypt enc_part2 anew */
    /* authenticator */
    krb5_authenticator auth; /* client, ctime, ... (ours) */
    krb5_checksum cksum;     /* auth.checksum points here or NULL */
    unsigned char cksum_buf[256];
    krb5_keyblock subkey;
    /* AP-REQ */
    krb5_flags ap_options;
    krb5_enctype auth_etype_field; /* written into the EncryptedData */
    krb5_kvno auth_kvno_field;     /* 0: absent */
    long flip_cipher_byte;         /* -1: none; else index (mod length) */
} diff_login;

/*
 * A login for the ticket in the AP-REQ apreq (decrypted with the keytab):
 * the authenticator a GSS initiator would send now, with the 0x8003
 * checksum (flags, bindings hash of cb_kind), no subkey, no sequence
 * number.
 */
int diff_login_from_apreq(diff_env *e, const unsigned char *apreq, size_t len,
                          diff_login *l);

/*
 * A login with a ticket made here for the keytab's first principal:
 * client (NULL: alice@ the service's realm), valid from now for
 * `lifetime` seconds.
 */
int diff_login_forged(diff_env *e, const char *client, long lifetime,
                      diff_login *l);

/* The 0x8003 checksum: bindings hash of the acceptor bindings cb_kind
 * (DIFF_CB_NONE: zeros), flags, and `extra` octets after them. */
void diff_login_set_gss_cksum(diff_env *e, diff_login *l, diff_cb_kind cb_kind,
                              uint32_t flags, const unsigned char *extra,
                              size_t extra_len);

/* Add one authorization-data element to the authenticator (ticket = 0)
 * or the ticket (ticket = 1). */
void diff_login_add_authdata(diff_login *l, int ticket, krb5_authdatatype t,
                             const void *data, size_t len);

/* Pad the ticket's authorization data with `pad` bytes in an
 * AD-IF-RELEVANT element Kerberos ignores (diff_pad.c): a large token.
 * 0, or -1. */
int diff_login_pad_ticket(diff_login *l, size_t pad);

/* The raw krb5 GSS token (60 .. 01 00 AP-REQ) of l, malloc'd. */
int diff_login_token(diff_env *e, diff_login *l, unsigned char **tok,
                     size_t *len);

void diff_login_free(diff_env *e, diff_login *l);

/* DER helpers for framings (malloc'd results). */
unsigned char *diff_wrap_spnego(const unsigned char *raw, size_t len,
                                size_t *out_len);

/* The PAC mutations (diff_pac.c). */
typedef enum {
    DIFF_PAC_UNCHANGED = 0,   /* re-encoded as it was: verifies */
    DIFF_PAC_LOGON_INFO,      /* a byte of the logon info flipped */
    DIFF_PAC_SERVER_SIGNATURE /* a byte of the server signature */
} diff_pac_change;

/* Change the PAC of l's ticket; 0, 1 when the ticket has no PAC, -1 when
 * it cannot be done. */
int diff_pac_mutate(diff_env *e, diff_login *l, diff_pac_change what);
/* NULL when both paths report the same claims (the verified PAC, or
 * that there is none or one that did not verify; the indicators), else
 * what differs, with the details in text. */
const char *diff_claims_differ(const n8443_ticket_claims *f,
                               const n8443_ticket_claims *g, char *text,
                               size_t len);
/* n8443_diff --tamper-pac KEYTAB TOKENFILE WHAT (diff_pac.c). */
int diff_pac_tamper_main(diff_env *e, const char *file, const char *what);
/* n8443_diff --redteam KEYTAB TOKENFILE WHAT (diff_pac.c). */
int diff_pac_redteam_main(diff_env *e, const char *file, const char *what);

#endif /* N8443_DIFF_CORE_H */
