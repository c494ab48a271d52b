/*
 * n8443ctl check --online, when the KDC is Active Directory (--ldap-uri,
 * the site's kerberos.ad_ldap_uri or N8443CTL_LDAP_URI):
 * the accounts behind the site's SPNs, read over LDAP with the client of
 * the online checks (bound with GSSAPI through Cyrus SASL, sealed).
 *
 *   online.ad-ldap      the directory answers and is AD (rootDSE)
 *   online.ad-spn       each HTTP/NAME is on exactly one account: a
 *                       duplicate SPN makes the KDC refuse it or use
 *                       another account's key
 *   online.ad-kvno      the account's msDS-KeyVersionNumber is the
 *                       keytab's newest kvno
 *   online.ad-enctypes  the keytab has a key of the enctype the KDC
 *                       picks from msDS-SupportedEncryptionTypes
 *   online.ad-rc4       the account allows AES (unset or RC4 only: an
 *                       error)
 *   online.ad-account   the account is neither disabled nor expired
 *
 * Each finding names the command that fixes it, for a Samba DC
 * (samba-tool) and a Windows one (setspn, ktpass, PowerShell).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_online.h"

#ifdef HAVE_LDAP
#include "ad_ldap.h"

#define MAX_ACCOUNTS 8
/* 100 ns intervals from 1601-01-01 to 1970-01-01. */
#define FILETIME_UNIX_OFFSET 11644473600LL

struct account {
    char *dn;
    char *name;       /* sAMAccountName */
    long long kvno;   /* -1: not readable */
    long long etypes; /* -1: not set */
    long long uac;
    long long expires; /* FILETIME; 0 or max: never */
};

struct found {
    struct account acc[MAX_ACCOUNTS];
    size_t n;
    size_t total;
};

static long long number_of(struct n8443_ldap *l, LDAPMessage *e,
                           const char *attr)
{
    char *s = n8443_ldap_first(l, e, attr);
    char *end = NULL;
    long long v = -1;

    if (s != NULL) {
        v = strtoll(s, &end, 10);
        if (end == s || *end != '\0') {
            v = -1;
        }
    }
    free(s);
    return v;
}

static int on_account(struct n8443_ldap *l, LDAPMessage *e, void *arg)
{
    struct found *f = arg;
    struct account *a;
    char *dn;

    f->total++;
    if (f->n == MAX_ACCOUNTS) {
        return 0;
    }
    a = &f->acc[f->n];
    dn = ldap_get_dn(l->ld, e);
    a->dn = dn != NULL ? strdup(dn) : NULL;
    ldap_memfree(dn);
    a->name = n8443_ldap_first(l, e, "sAMAccountName");
    a->kvno = number_of(l, e, "msDS-KeyVersionNumber");
    a->etypes = number_of(l, e, "msDS-SupportedEncryptionTypes");
    a->uac = number_of(l, e, "userAccountControl");
    a->expires = number_of(l, e, "accountExpires");
    if (a->name == NULL) {
        a->name = strdup(a->dn != NULL ? a->dn : "?");
    }
    f->n++;
    return 0;
}

static void found_free(struct found *f)
{
    size_t i;

    for (i = 0; i < f->n; i++) {
        free(f->acc[i].dn);
        free(f->acc[i].name);
    }
    f->n = 0;
}

/* The msDS-SupportedEncryptionTypes bit of a keytab enctype, or 0. */
static unsigned etype_bit(krb5_enctype e)
{
    switch (e) {
    case ENCTYPE_AES256_CTS_HMAC_SHA1_96: return N8443_ETYPE_AES256;
    case ENCTYPE_AES128_CTS_HMAC_SHA1_96: return N8443_ETYPE_AES128;
    case ENCTYPE_ARCFOUR_HMAC: return N8443_ETYPE_RC4;
    case ENCTYPE_DES_CBC_CRC: return N8443_ETYPE_DES_CRC;
    case ENCTYPE_DES_CBC_MD5: return N8443_ETYPE_DES_MD5;
    default: return 0;
    }
}

static void etype_names(unsigned bits, char *buf, size_t len)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {N8443_ETYPE_AES256, "aes256"},   {N8443_ETYPE_AES128, "aes128"},
        {N8443_ETYPE_RC4, "rc4"},         {N8443_ETYPE_DES_MD5, "des-md5"},
        {N8443_ETYPE_DES_CRC, "des-crc"},
    };
    size_t i;
    size_t n = 0;

    buf[0] = '\0';
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if ((bits & names[i].bit) && n + 12 < len) {
            n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "",
                                  names[i].name);
        }
    }
    if (n == 0) {
        snprintf(buf, len, "none");
    }
}

/* online.ad-kvno, -enctypes and -rc4 for PRINCIPAL on account A. */
static void check_keys(struct online *on, const char *principal,
                       const struct account *a)
{
    struct n8443_check_ctx *ctx = on->ctx;
    krb5_kvno newest = n8443_keytab_newest_kvno(&ctx->kt, principal);
    struct n8443_record *rec;
    unsigned kt_bits = 0;
    unsigned ad_bits;
    unsigned strongest;
    char kt_names[64];
    char ad_names[64];
    char spn[300];
    size_t i;

    /* samba-tool and ktpass take the SPN without the realm. */
    snprintf(spn, sizeof(spn), "%.*s", (int)strcspn(principal, "@"), principal);

    if (a->kvno < 0) {
        rec = n8443_report_add(ctx->rep, "online.ad-kvno", N8443_SEV_WARNING,
                               "cannot read msDS-KeyVersionNumber of %s: "
                               "bind as a user who may read it",
                               a->name);
    }
    else if (newest == (krb5_kvno)a->kvno) {
        rec = n8443_report_add(ctx->rep, "online.ad-kvno", N8443_SEV_OK,
                               "%s: account %s is at kvno %lld, as the "
                               "keytab",
                               principal, a->name, a->kvno);
    }
    else {
        rec = n8443_report_add(
            ctx->rep, "online.ad-kvno", N8443_SEV_ERROR,
            "%s: account %s is at kvno %lld (msDS-KeyVersionNumber), the "
            "keytab's newest is kvno %u: the password changed after the "
            "export, and tickets are refused. Export the current keys: "
            "samba-tool domain exportkeytab FILE --principal=%s (Samba "
            "DC), or ktpass -princ %s -mapuser %s -crypto AES256-SHA1 "
            "-ptype KRB5_NT_PRINCIPAL -pass * -out FILE (Windows: sets a "
            "new password, so give every server the new file)",
            principal, a->name, a->kvno, (unsigned)newest, spn, principal,
            a->name);
        n8443_record_detail(ctx->rep, rec, "fix",
                            "samba-tool domain exportkeytab FILE "
                            "--principal=%s",
                            spn);
    }
    n8443_record_detail(ctx->rep, rec, "principal", "%s", principal);
    n8443_record_detail(ctx->rep, rec, "account", "%s", a->name);
    n8443_record_detail_num(ctx->rep, rec, "ad_kvno", a->kvno);
    n8443_record_detail_num(ctx->rep, rec, "keytab_kvno", newest);

    for (i = 0; i < ctx->kt.n; i++) {
        if (strcmp(ctx->kt.entries[i].principal, principal) == 0
            && ctx->kt.entries[i].kvno == newest) {
            kt_bits |= etype_bit(ctx->kt.entries[i].enctype);
        }
    }
    /* Unset: the KDC's default for the account, RC4 (MS-KILE 3.3.5.7). */
    ad_bits = a->etypes > 0 ? (unsigned)a->etypes & 0x1f : N8443_ETYPE_RC4;
    etype_names(kt_bits, kt_names, sizeof(kt_names));
    etype_names(ad_bits, ad_names, sizeof(ad_names));

    if (!(ad_bits & (N8443_ETYPE_AES128 | N8443_ETYPE_AES256))) {
        rec = n8443_report_add(
            ctx->rep, "online.ad-rc4", N8443_SEV_ERROR,
            "account %s allows %s only (msDS-SupportedEncryptionTypes %s): "
            "its tickets are RC4, which current clients and DCs refuse. "
            "Allow AES: Set-ADUser %s -KerberosEncryptionType AES128,AES256 "
            "(Windows), or set msDS-SupportedEncryptionTypes to 24 with "
            "ldbmodify on a Samba DC; then reset the password "
            "(samba-tool user setpassword %s --random-password) and "
            "export the keytab again",
            a->name, ad_names, a->etypes < 0 ? "unset" : "set", a->name,
            a->name);
        n8443_record_detail(ctx->rep, rec, "fix",
                            "Set-ADUser %s -KerberosEncryptionType "
                            "AES128,AES256",
                            a->name);
    }
    else {
        rec = n8443_report_add(ctx->rep, "online.ad-rc4", N8443_SEV_OK,
                               "account %s allows AES (%s)", a->name, ad_names);
    }
    n8443_record_detail(ctx->rep, rec, "account", "%s", a->name);
    n8443_record_detail_num(ctx->rep, rec, "supported_enctypes", a->etypes);

    /* The KDC encrypts with the strongest enctype the account allows. */
    for (strongest = N8443_ETYPE_AES256; strongest && !(ad_bits & strongest);
         strongest >>= 1) {
    }
    if (newest == 0) {
        return; /* online.ad-kvno said it */
    }
    if (strongest != 0 && !(kt_bits & strongest)) {
        rec = n8443_report_add(
            ctx->rep, "online.ad-enctypes", N8443_SEV_ERROR,
            "%s: account %s allows %s, so the KDC encrypts tickets with "
            "the first of them, but the keytab (kvno %u) has %s: tickets "
            "do not decrypt. Export the keys of every enctype the account "
            "allows (samba-tool domain exportkeytab FILE --principal=%s; "
            "ktpass -crypto ALL)",
            principal, a->name, ad_names, (unsigned)newest, kt_names, spn);
        n8443_record_detail(ctx->rep, rec, "fix",
                            "samba-tool domain exportkeytab FILE "
                            "--principal=%s",
                            spn);
    }
    else if ((kt_bits & 0x1f) != ad_bits) {
        rec = n8443_report_add(
            ctx->rep, "online.ad-enctypes", N8443_SEV_WARNING,
            "%s: the keytab has %s, account %s allows %s: logins work, "
            "but a client that asks for another enctype fails; make the "
            "two agree (msDS-SupportedEncryptionTypes, then export the "
            "keytab again)",
            principal, kt_names, a->name, ad_names);
    }
    else {
        rec = n8443_report_add(ctx->rep, "online.ad-enctypes", N8443_SEV_OK,
                               "%s: the keytab has the enctypes account %s "
                               "allows (%s)",
                               principal, a->name, ad_names);
    }
    n8443_record_detail(ctx->rep, rec, "principal", "%s", principal);
    n8443_record_detail(ctx->rep, rec, "keytab_enctypes", "%s", kt_names);
    n8443_record_detail(ctx->rep, rec, "ad_enctypes", "%s", ad_names);
}

/* online.ad-account: neither disabled nor expired. */
static void check_account(struct online *on, const struct account *a)
{
    struct n8443_check_ctx *ctx = on->ctx;
    struct n8443_record *rec;
    long long until = 0;

    if (a->expires > 0 && a->expires != 0x7FFFFFFFFFFFFFFFLL) {
        until = a->expires / 10000000LL - FILETIME_UNIX_OFFSET;
    }
    if (a->uac >= 0 && (a->uac & N8443_UAC_ACCOUNTDISABLE)) {
        rec = n8443_report_add(
            ctx->rep, "online.ad-account", N8443_SEV_ERROR,
            "account %s is disabled: the KDC issues no tickets for its "
            "SPNs. Enable it: samba-tool user enable %s (Samba DC), "
            "Enable-ADAccount %s (Windows)",
            a->name, a->name, a->name);
        n8443_record_detail(ctx->rep, rec, "fix", "samba-tool user enable %s",
                            a->name);
    }
    else if (until != 0 && until < (long long)time(NULL)) {
        rec = n8443_report_add(
            ctx->rep, "online.ad-account", N8443_SEV_ERROR,
            "account %s expired (accountExpires): the KDC issues no "
            "tickets for its SPNs. Clear the date: samba-tool user "
            "setexpiry %s --noexpiry (Samba DC), Clear-ADAccountExpiration "
            "%s (Windows)",
            a->name, a->name, a->name);
        n8443_record_detail(ctx->rep, rec, "fix",
                            "samba-tool user setexpiry %s --noexpiry", a->name);
    }
    else {
        rec = n8443_report_add(ctx->rep, "online.ad-account", N8443_SEV_OK,
                               "account %s is enabled and has not expired",
                               a->name);
    }
    n8443_record_detail(ctx->rep, rec, "account", "%s", a->name);
    n8443_record_detail_num(ctx->rep, rec, "user_account_control", a->uac);
}

/* online.ad-spn for HTTP/NAME, then the account's checks.  SEEN holds the DNs
 * whose online.ad-account is reported. */
static void check_name(struct online *on, struct n8443_ldap *l,
                       const char *name, char **seen, size_t *nseen)
{
    static const char *const attrs[] = {"sAMAccountName",
                                        "msDS-KeyVersionNumber",
                                        "msDS-SupportedEncryptionTypes",
                                        "userAccountControl",
                                        "accountExpires",
                                        NULL};
    struct n8443_check_ctx *ctx = on->ctx;
    struct n8443_record *rec;
    struct found f;
    char spn[300];
    char value[600];
    char filter[700];
    char principal[600];
    char list[400];
    char err[512];
    size_t i;
    size_t n = 0;

    memset(&f, 0, sizeof(f));
    snprintf(spn, sizeof(spn), "HTTP/%s", name);
    snprintf(principal, sizeof(principal), "%s@%s", spn, ctx->realm);
    if (n8443_ldap_escape(spn, value, sizeof(value)) != 0) {
        return;
    }
    snprintf(filter, sizeof(filter), "(servicePrincipalName=%s)", value);
    if (n8443_ldap_search(l, NULL, filter, attrs, on_account, &f, err,
                          sizeof(err))
        != N8443_OK) {
        rec = n8443_report_add(ctx->rep, "online.ad-spn", N8443_SEV_ERROR,
                               "cannot look up %s in AD: %s", spn, err);
        n8443_record_unusable(rec);
        goto cleanup;
    }
    if (f.total == 0) {
        rec = n8443_report_add(
            ctx->rep, "online.ad-spn", N8443_SEV_ERROR,
            "no account in AD has the SPN %s: browsers get no ticket. "
            "Register it on the service account: samba-tool spn add %s "
            "ACCOUNT (Samba DC), setspn -S %s ACCOUNT (Windows)",
            spn, spn, spn);
        n8443_record_detail(ctx->rep, rec, "fix", "setspn -S %s ACCOUNT", spn);
    }
    else if (f.total > 1) {
        list[0] = '\0';
        for (i = 0; i < f.n && n + 40 < sizeof(list); i++) {
            n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
                                  i ? ", " : "", f.acc[i].name);
        }
        rec = n8443_report_add(
            ctx->rep, "online.ad-spn", N8443_SEV_ERROR,
            "duplicate SPN: %s is on %zu accounts (%s): the KDC refuses "
            "it or encrypts with another account's key. Keep it on the "
            "account the keytab is from and remove it from the others: "
            "samba-tool spn delete %s OTHER (Samba DC), setspn -D %s "
            "OTHER (Windows; setspn -X lists all duplicates)",
            spn, f.total, list, spn, spn);
        n8443_record_detail(ctx->rep, rec, "accounts", "%s", list);
        n8443_record_detail(ctx->rep, rec, "fix", "setspn -D %s OTHER", spn);
    }
    else {
        rec = n8443_report_add(ctx->rep, "online.ad-spn", N8443_SEV_OK,
                               "%s is on one account: %s", spn, f.acc[0].name);
        n8443_record_detail(ctx->rep, rec, "account", "%s", f.acc[0].name);
    }
    n8443_record_detail(ctx->rep, rec, "spn", "%s", spn);
    if (f.n != 1) {
        goto cleanup;
    }
    check_keys(on, principal, &f.acc[0]);
    for (i = 0; i < *nseen; i++) {
        if (strcmp(seen[i], f.acc[0].dn) == 0) {
            goto cleanup;
        }
    }
    check_account(on, &f.acc[0]);
    seen[(*nseen)++] = f.acc[0].dn;
    f.acc[0].dn = NULL;

cleanup:
    found_free(&f);
}

void n8443_online_check_ad(struct online *on)
{
    struct n8443_check_ctx *ctx = on->ctx;
    const char *uri = on->ldap_uri;
    struct n8443_ldap *l = NULL;
    struct n8443_record *rec;
    char **seen;
    size_t nseen = 0;
    char err[512];
    size_t i;

    if (n8443_ldap_open(uri, on->ccache_name, &l, err, sizeof(err))
        != N8443_OK) {
        rec = n8443_report_add(ctx->rep, "online.ad-ldap", N8443_SEV_ERROR,
                               "cannot use the directory %s as %s: %s", uri,
                               on->client_name ? on->client_name : "?", err);
        n8443_record_unusable(rec);
        return;
    }
    if (!l->is_ad) {
        rec = n8443_report_add(ctx->rep, "online.ad-ldap", N8443_SEV_WARNING,
                               "%s is not Active Directory (no AD "
                               "capability in its rootDSE): the ad checks "
                               "do not apply",
                               uri);
        n8443_ldap_close(l);
        return;
    }
    rec = n8443_report_add(ctx->rep, "online.ad-ldap", N8443_SEV_OK,
                           "%s is Active Directory (%s), bound as %s", uri,
                           l->base, on->client_name ? on->client_name : "?");
    n8443_record_detail(ctx->rep, rec, "base", "%s", l->base);
    seen = calloc(ctx->nnames + 1, sizeof(*seen));
    if (seen == NULL) {
        ctx->rep->failed = 1;
        n8443_ldap_close(l);
        return;
    }
    for (i = 0; i < ctx->nnames; i++) {
        check_name(on, l, ctx->names[i], seen, &nseen);
    }
    for (i = 0; i < nseen; i++) {
        free(seen[i]);
    }
    free(seen);
    n8443_ldap_close(l);
}

#else /* !HAVE_LDAP */

void n8443_online_check_ad(struct online *on)
{
    struct n8443_record *rec;

    rec = n8443_report_add(on->ctx->rep, "online.ad-ldap", N8443_SEV_ERROR,
                           "--ldap-uri: this n8443ctl was built without "
                           "LDAP (libldap and Cyrus SASL); rebuild with "
                           "configure --with-ldap");
    n8443_record_unusable(rec);
}

#endif /* HAVE_LDAP */
