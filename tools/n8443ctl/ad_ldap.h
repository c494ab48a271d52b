/*
 * n8443ctl - Active Directory over LDAP: a connection bound with the
 * caller's Kerberos ticket (libldap's SASL GSSAPI, Cyrus SASL's plugin),
 * and paged searches (ad_ldap.c).  `groups resolve` (groups.c) and
 * the AD checks of `check --online` (check_online_ad.c) use it.
 *
 * Built only with libldap and Cyrus SASL's headers (configure
 * --with-ldap); without them HAVE_LDAP is undefined and nothing here
 * exists.
 */
#ifndef N8443CTL_AD_LDAP_H
#define N8443CTL_AD_LDAP_H

#include <stddef.h>

#include <ldap.h>

/* userAccountControl bits (MS-ADTS 2.2.16). */
#define N8443_UAC_ACCOUNTDISABLE 0x0002
/* msDS-SupportedEncryptionTypes bits (MS-KILE 2.2.7). */
#define N8443_ETYPE_DES_CRC 0x01
#define N8443_ETYPE_DES_MD5 0x02
#define N8443_ETYPE_RC4     0x04
#define N8443_ETYPE_AES128  0x08
#define N8443_ETYPE_AES256  0x10

struct n8443_ldap {
    LDAP *ld;
    char *host;   /* of the URI: the SPN is ldap/HOST */
    char *base;   /* defaultNamingContext */
    int is_ad;    /* rootDSE: LDAP_CAP_ACTIVE_DIRECTORY_OID */
    unsigned ssf; /* the bind's security layer (56 or more: sealed) */
};

/*
 * Connect to URI (ldap://HOST[:PORT]), read the rootDSE and bind with
 * SASL GSSAPI as the client of CCACHE (a ccache name; NULL: the default,
 * KRB5CCNAME), to the SPN ldap/HOST (HOST as the URI has it, no reverse
 * DNS).  The bind insists on a confidentiality layer (SASL ssf 56 or
 * more): an attacker on the path must not be able to read or change what
 * the directory answers.  N8443_OK with *out, or N8443_IO with the reason in
 * ERR.
 */
int n8443_ldap_open(const char *uri, const char *ccache,
                    struct n8443_ldap **out, char *err, size_t errlen);
void n8443_ldap_close(struct n8443_ldap *l);

/* Called for each entry of a search; nonzero stops it. */
typedef int (*n8443_ldap_entry_fn)(struct n8443_ldap *l, LDAPMessage *entry,
                                   void *arg);

/*
 * Search the subtree under BASE (NULL: the default naming context) with
 * FILTER for ATTRS, in pages of 500 (AD answers at most 1000 entries per
 * request).  N8443_OK, or N8443_IO with the reason in ERR.
 */
int n8443_ldap_search(struct n8443_ldap *l, const char *base,
                      const char *filter, const char *const *attrs,
                      n8443_ldap_entry_fn fn, void *arg, char *err,
                      size_t errlen);

/* The first value of ATTR of ENTRY, as a string (malloc'd), or NULL. */
char *n8443_ldap_first(struct n8443_ldap *l, LDAPMessage *entry,
                       const char *attr);

/* A binary objectSid (LEN bytes) as "S-1-5-21-..." into BUF: 0, or -1
 * when it is malformed. */
int n8443_sid_string(const unsigned char *sid, size_t len, char *buf,
                     size_t buflen);

/* FILTER-safe copy of VALUE (RFC 4515 escapes) into BUF: 0, or -1 when
 * it does not fit. */
int n8443_ldap_escape(const char *value, char *buf, size_t buflen);

/* ------------------------------------------------- the bind's parts */

/*
 * The SASL interact callback (LDAP_SASL_QUIET): the authorization
 * identity is left empty (the ticket's client is who binds); any other
 * prompt fails the bind, there is nothing to answer it with.
 */
int n8443_sasl_interact(LDAP *ld, unsigned flags, void *defaults, void *in);

/*
 * Why the GSSAPI bind to HOST failed, into ERR: from the result RC of
 * ldap_sasl_interactive_bind_s(), its diagnostic DIAG (or NULL), and
 * HAS_MECH, whether Cyrus SASL has a GSSAPI mechanism at all.
 */
void n8443_sasl_bind_error(int rc, const char *diag, const char *host,
                           int has_mech, char *err, size_t errlen);

#endif /* N8443CTL_AD_LDAP_H */
