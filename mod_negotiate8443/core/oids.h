/*
 * oids.h - the mechanism OIDs the module and n8443ctl recognise, written
 * once.  Each is the OID's contents (no DER tag and length) as a list of
 * bytes, so that it can initialise an array of its exact size:
 *
 *     static const unsigned char oid_krb5[] = {N8443_OID_KRB5};
 *
 * Pure C, no headers needed.
 */
#ifndef N8443_OIDS_H
#define N8443_OIDS_H

/* 1.3.6.1.5.5.2: SPNEGO (RFC 4178) */
#define N8443_OID_SPNEGO 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02

/* 1.2.840.113554.1.2.2: Kerberos 5 (RFC 1964) */
#define N8443_OID_KRB5 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02

/* 1.3.5.1.5.2: Kerberos 5 before RFC 1964 */
#define N8443_OID_KRB5_OLD 0x2b, 0x05, 0x01, 0x05, 0x02

/* 1.2.840.48018.1.2.2: Kerberos 5 as Microsoft's SSPI has always sent it */
#define N8443_OID_KRB5_MS 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02

/* 1.3.6.1.4.1.311.2.2.10: NTLMSSP */
#define N8443_OID_NTLM                                                         \
    0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a

/* 1.3.6.1.4.1.311.2.2.30: NegoEx */
#define N8443_OID_NEGOEX                                                       \
    0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x1e

/* 1.3.6.1.5.2.5: IAKERB */
#define N8443_OID_IAKERB 0x2b, 0x06, 0x01, 0x05, 0x02, 0x05

#endif /* N8443_OIDS_H */
