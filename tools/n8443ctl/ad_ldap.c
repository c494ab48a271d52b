/*
 * n8443ctl - Active Directory over LDAP: connect, read the rootDSE, bind
 * with the caller's Kerberos ticket, search in pages.
 *
 * OpenLDAP's libldap carries the protocol, and its SASL path (Cyrus SASL
 * with its GSSAPI plugin: libsasl2-modules-gssapi-mit, cyrus-sasl-gssapi)
 * the bind and the security layer (RFC 4752): the bind asks for
 * confidentiality (secprops minssf=56), so nobody on the path can read or
 * change what the directory answers; a server that offers less is
 * refused.  The SPN is ldap/HOST of the URI, as given (SASL_NOCANON: no
 * reverse DNS of the address connected to).
 */
#include "n8443ctl.h"

#ifdef HAVE_LDAP

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <sasl/sasl.h>

#include "ad_ldap.h"

/* rootDSE supportedCapabilities of an AD DC (MS-ADTS 3.1.1.3.4.3). */
#define CAP_ACTIVE_DIRECTORY "1.2.840.113556.1.4.800"
#define PAGE_SIZE            500
/* The least security layer the bind takes: confidentiality (Cyrus's
 * GSSAPI plugin rates integrity alone as 1, sealing as 56 or more).  The
 * other properties are libldap's defaults, spelled out: SASL_SECPROPS of
 * an ldap.conf, ~/.ldaprc or LDAPSASL_SECPROPS (maxssf=0 is a common one
 * for AD over ldaps) must not take the layer away. */
#define MIN_SSF  56
#define SECPROPS "none,minssf=56,maxssf=2147483647,maxbufsize=16777215"
#define NO_GSSAPI_PLUGIN                                                       \
    "no SASL GSSAPI mechanism: install libsasl2-modules-gssapi-mit / "         \
    "cyrus-sasl-gssapi"

static void set_err(char *err, size_t errlen, const char *what, LDAP *ld,
                    int rc)
{
    char *diag = NULL;

    if (ld != NULL) {
        ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
    }
    snprintf(err, errlen, "%s: %s%s%s", what, ldap_err2string(rc),
             diag != NULL && *diag ? " - " : "", diag != NULL ? diag : "");
    ldap_memfree(diag);
}

/* The rootDSE: is it AD, and its default naming context. */
static int read_root_dse(struct n8443_ldap *l, char *err, size_t errlen)
{
    char *attrs[] = {"defaultNamingContext", "supportedCapabilities", NULL};
    struct timeval tv = {30, 0};
    LDAPMessage *res = NULL;
    LDAPMessage *entry;
    struct berval **caps = NULL;
    size_t i;
    int rc;

    free(l->base);
    l->base = NULL;
    l->is_ad = 0;
    rc = ldap_search_ext_s(l->ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs,
                           0, NULL, NULL, &tv, 1, &res);
    if (rc != LDAP_SUCCESS) {
        set_err(err, errlen, "cannot read the rootDSE", l->ld, rc);
        ldap_msgfree(res);
        return N8443_IO;
    }
    entry = ldap_first_entry(l->ld, res);
    if (entry != NULL) {
        l->base = n8443_ldap_first(l, entry, "defaultNamingContext");
        caps = ldap_get_values_len(l->ld, entry, "supportedCapabilities");
    }
    for (i = 0; caps != NULL && caps[i] != NULL; i++) {
        if (caps[i]->bv_len == strlen(CAP_ACTIVE_DIRECTORY)
            && memcmp(caps[i]->bv_val, CAP_ACTIVE_DIRECTORY, caps[i]->bv_len)
                   == 0) {
            l->is_ad = 1;
        }
    }
    ldap_value_free_len(caps);
    ldap_msgfree(res);
    if (l->base == NULL) {
        snprintf(err, errlen,
                 "the rootDSE names no defaultNamingContext: "
                 "not an Active Directory domain controller");
        return N8443_IO;
    }
    return N8443_OK;
}

/* ------------------------------------------------------- the bind */

int n8443_sasl_interact(LDAP *ld, unsigned flags, void *defaults, void *in)
{
    sasl_interact_t *it;

    (void)ld;
    (void)flags;
    (void)defaults;
    for (it = in; it->id != SASL_CB_LIST_END; it++) {
        if (it->id != SASL_CB_USER) {
            return LDAP_OTHER; /* nothing to answer with: no prompts */
        }
        it->result = ""; /* no authorization identity: the ticket's */
        it->len = 0;
    }
    return LDAP_SUCCESS;
}

void n8443_sasl_bind_error(int rc, const char *diag, const char *host,
                           int has_mech, char *err, size_t errlen)
{
    const char *sep = diag != NULL && *diag ? " - " : "";

    if (diag == NULL) {
        diag = "";
    }
    if (rc == LDAP_AUTH_UNKNOWN && !has_mech) {
        snprintf(err, errlen, "%s", NO_GSSAPI_PLUGIN);
    }
    else if (rc == LDAP_AUTH_UNKNOWN) {
        /* Cyrus SASL: SASL_TOOWEAK, SASL_ENCRYPT, SASL_BADSERV. */
        snprintf(err, errlen,
                 "%s agreed no security layer of %d bits or more for "
                 "LDAP (sealing): refused, the answers could be read or "
                 "forged%s%s",
                 host, MIN_SSF, sep, diag);
    }
    else if (rc == LDAP_LOCAL_ERROR) {
        /* The GSS-API side failed: mostly the KDC's refusal to give a
         * ticket for the SPN (unknown, or no key for an enctype). */
        snprintf(err, errlen, "the KDC gave no ticket for ldap/%s%s%s", host,
                 sep, diag);
    }
    else if (rc > 0) {
        /* A result code from the server. */
        snprintf(err, errlen, "the GSSAPI bind to %s was refused: %s%s%s", host,
                 ldap_err2string(rc), sep, diag);
    }
    else {
        snprintf(err, errlen, "the GSSAPI bind to %s failed: %s%s%s", host,
                 ldap_err2string(rc), sep, diag);
    }
}

/* Does Cyrus SASL have a GSSAPI mechanism (after libldap set it up)? */
static int have_gssapi(void)
{
    const char **mechs = sasl_global_listmech();

    for (; mechs != NULL && *mechs != NULL; mechs++) {
        if (strcmp(*mechs, "GSSAPI") == 0) {
            return 1;
        }
    }
    return 0;
}

/* A usable ticket-granting ticket in the ccache the bind will use; the
 * plugin's own error for a missing one is a long GSS chain. */
static int have_ticket(const char *host, const char *ccache, char *err,
                       size_t errlen)
{
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    gss_buffer_desc text = GSS_C_EMPTY_BUFFER;
    OM_uint32 major;
    OM_uint32 minor;
    OM_uint32 min2;
    OM_uint32 ctx = 0;
    OM_uint32 lifetime = 0;

    major = gss_acquire_cred(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE,
                             GSS_C_NO_OID_SET, GSS_C_INITIATE, &cred, NULL,
                             &lifetime);
    if (!GSS_ERROR(major)) {
        gss_release_cred(&min2, &cred);
        if (lifetime > 0) {
            return 1;
        }
        snprintf(err, errlen,
                 "no ticket for ldap/%s: the Kerberos ticket%s%s has "
                 "expired - run kinit (or give --ccache)",
                 host, ccache != NULL ? " in " : "",
                 ccache != NULL ? ccache : "");
        return 0;
    }
    /* Kerberos's own reason (it names the ccache), else GSS-API's. */
    gss_display_status(&min2, minor != 0 ? minor : major,
                       minor != 0 ? GSS_C_MECH_CODE : GSS_C_GSS_CODE,
                       GSS_C_NO_OID, &ctx, &text);
    snprintf(err, errlen,
             "no ticket for ldap/%s: %.*s%s%s%s - run kinit (or "
             "give --ccache)",
             host, (int)text.length,
             text.value != NULL ? (char *)text.value : "?",
             ccache != NULL ? " (ccache " : "", ccache != NULL ? ccache : "",
             ccache != NULL ? ")" : "");
    gss_release_buffer(&min2, &text);
    return 0;
}

/*
 * SASL GSSAPI through libldap as the client of CCACHE (NULL: the
 * default).  The plugin takes the default credentials of this thread:
 * gss_krb5_ccache_name() points them at CCACHE for the bind, and puts
 * back what was there.
 */
static int sasl_bind(struct n8443_ldap *l, const char *ccache, char *err,
                     size_t errlen)
{
    const char *prev = NULL;
    char *saved = NULL;
    char *diag = NULL;
    ber_len_t ssf = 0;
    OM_uint32 minor;
    int named = 0;
    int rc;

    if (ccache != NULL) {
        if (GSS_ERROR(gss_krb5_ccache_name(&minor, ccache, &prev))) {
            snprintf(err, errlen, "cannot use the ticket cache %s", ccache);
            return N8443_IO;
        }
        named = 1;
        saved = prev != NULL ? strdup(prev) : NULL;
    }
    if (!have_ticket(l->host, ccache, err, errlen)) {
        rc = N8443_IO;
        goto done;
    }
    if (ldap_set_option(l->ld, LDAP_OPT_X_SASL_SECPROPS, SECPROPS)
            != LDAP_OPT_SUCCESS
        || ldap_set_option(l->ld, LDAP_OPT_X_SASL_NOCANON, LDAP_OPT_ON)
               != LDAP_OPT_SUCCESS) {
        snprintf(err, errlen,
                 "libldap takes no SASL options: built without Cyrus "
                 "SASL?");
        rc = N8443_IO;
        goto done;
    }
    rc = ldap_sasl_interactive_bind_s(l->ld, NULL, "GSSAPI", NULL, NULL,
                                      LDAP_SASL_QUIET, n8443_sasl_interact,
                                      NULL);
    if (rc != LDAP_SUCCESS) {
        ldap_get_option(l->ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
        n8443_sasl_bind_error(rc, diag, l->host, have_gssapi(), err, errlen);
        ldap_memfree(diag);
        rc = N8443_IO;
        goto done;
    }
    /* minssf made Cyrus insist already; fail closed all the same. */
    if (ldap_get_option(l->ld, LDAP_OPT_X_SASL_SSF, &ssf) != LDAP_OPT_SUCCESS
        || ssf < MIN_SSF) {
        n8443_sasl_bind_error(LDAP_AUTH_UNKNOWN, NULL, l->host, 1, err, errlen);
        rc = N8443_IO;
        goto done;
    }
    l->ssf = (unsigned)ssf;
    rc = N8443_OK;

done:
    if (named) {
        gss_krb5_ccache_name(&minor, saved, NULL);
        free(saved);
    }
    return rc;
}

int n8443_ldap_open(const char *uri, const char *ccache,
                    struct n8443_ldap **out, char *err, size_t errlen)
{
    struct n8443_ldap *l;
    LDAPURLDesc *lud = NULL;
    struct timeval tv = {10, 0};
    int version = LDAP_VERSION3;
    int rc;

    if (ldap_url_parse(uri, &lud) != LDAP_URL_SUCCESS || lud->lud_host == NULL
        || *lud->lud_host == '\0'
        || (strcmp(lud->lud_scheme, "ldap") != 0
            && strcmp(lud->lud_scheme, "ldaps") != 0)) {
        snprintf(err, errlen,
                 "'%s' is not an ldap://HOST or ldaps://HOST "
                 "URI",
                 uri);
        ldap_free_urldesc(lud);
        return N8443_USAGE;
    }
    l = calloc(1, sizeof(*l));
    if (l == NULL || (l->host = strdup(lud->lud_host)) == NULL) {
        ldap_free_urldesc(lud);
        free(l);
        snprintf(err, errlen, "out of memory");
        return N8443_IO;
    }
    ldap_free_urldesc(lud);
    rc = ldap_initialize(&l->ld, uri);
    if (rc != LDAP_SUCCESS) {
        set_err(err, errlen, uri, NULL, rc);
        goto fail;
    }
    ldap_set_option(l->ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    /* AD refers to other domains' partitions: never chase a referral
     * with our ticket to a server the answer names. */
    ldap_set_option(l->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    ldap_set_option(l->ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
    ldap_set_option(l->ld, LDAP_OPT_TIMEOUT, &tv);
    rc = read_root_dse(l, err, errlen);
    if (rc != N8443_OK) {
        goto fail;
    }
    rc = sasl_bind(l, ccache, err, errlen);
    if (rc != N8443_OK) {
        goto fail;
    }
    /* Once more, protected: the first answer (which tells "cannot
     * reach" from "cannot bind") came over the bare connection. */
    rc = read_root_dse(l, err, errlen);
    if (rc != N8443_OK) {
        goto fail;
    }
    *out = l;
    return N8443_OK;

fail:
    n8443_ldap_close(l);
    return N8443_IO;
}

void n8443_ldap_close(struct n8443_ldap *l)
{
    if (l == NULL) {
        return;
    }
    if (l->ld != NULL) {
        ldap_unbind_ext_s(l->ld, NULL, NULL);
    }
    free(l->host);
    free(l->base);
    free(l);
}

char *n8443_ldap_first(struct n8443_ldap *l, LDAPMessage *entry,
                       const char *attr)
{
    struct berval **vals = ldap_get_values_len(l->ld, entry, attr);
    char *s = NULL;

    if (vals != NULL && vals[0] != NULL) {
        s = malloc(vals[0]->bv_len + 1);
        if (s != NULL) {
            memcpy(s, vals[0]->bv_val, vals[0]->bv_len);
            s[vals[0]->bv_len] = '\0';
        }
    }
    ldap_value_free_len(vals);
    return s;
}

int n8443_ldap_search(struct n8443_ldap *l, const char *base,
                      const char *filter, const char *const *attrs,
                      n8443_ldap_entry_fn fn, void *arg, char *err,
                      size_t errlen)
{
    struct berval cookie = {0, NULL};
    struct timeval tv = {60, 0};
    LDAPControl *page = NULL;
    LDAPControl *sctrls[2] = {NULL, NULL};
    LDAPControl **rctrls = NULL;
    LDAPMessage *res = NULL;
    LDAPMessage *e;
    ber_int_t count;
    int stop = 0;
    int rc;
    int err_rc;

    do {
        rc = ldap_create_page_control(l->ld, PAGE_SIZE,
                                      cookie.bv_len ? &cookie : NULL, 1, &page);
        if (rc != LDAP_SUCCESS) {
            break;
        }
        sctrls[0] = page;
        rc = ldap_search_ext_s(l->ld, base != NULL ? base : l->base,
                               LDAP_SCOPE_SUBTREE, filter, (char **)attrs, 0,
                               sctrls, NULL, &tv, 0, &res);
        ldap_control_free(page);
        page = NULL;
        if (rc != LDAP_SUCCESS) {
            break;
        }
        for (e = ldap_first_entry(l->ld, res); e != NULL && !stop;
             e = ldap_next_entry(l->ld, e)) {
            stop = fn(l, e, arg);
        }
        rc = ldap_parse_result(l->ld, res, &err_rc, NULL, NULL, NULL, &rctrls,
                               0);
        if (rc == LDAP_SUCCESS) {
            rc = err_rc;
        }
        ber_memfree(cookie.bv_val);
        cookie.bv_val = NULL;
        cookie.bv_len = 0;
        if (rc == LDAP_SUCCESS && rctrls != NULL) {
            LDAPControl *c =
                ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, rctrls, NULL);
            if (c != NULL
                && ldap_parse_pageresponse_control(l->ld, c, &count, &cookie)
                       != LDAP_SUCCESS) {
                rc = LDAP_DECODING_ERROR;
            }
        }
        ldap_controls_free(rctrls);
        rctrls = NULL;
        ldap_msgfree(res);
        res = NULL;
    } while (rc == LDAP_SUCCESS && !stop && cookie.bv_len > 0);
    ber_memfree(cookie.bv_val);
    if (rc != LDAP_SUCCESS) {
        set_err(err, errlen, "search failed", l->ld, rc);
        return N8443_IO;
    }
    return N8443_OK;
}

int n8443_sid_string(const unsigned char *sid, size_t len, char *buf,
                     size_t buflen)
{
    unsigned long long auth = 0;
    size_t n;
    size_t i;
    int w;

    /* revision, count, 6-byte authority (big endian), count 4-byte
     * sub-authorities (little endian). */
    if (len < 8 || sid[0] != 1 || len != 8 + 4 * (size_t)sid[1]
        || sid[1] > 15) {
        return -1;
    }
    for (i = 2; i < 8; i++) {
        auth = (auth << 8) | sid[i];
    }
    w = snprintf(buf, buflen, "S-1-%llu", auth);
    if (w < 0 || (size_t)w >= buflen) {
        return -1;
    }
    n = (size_t)w;
    for (i = 0; i < sid[1]; i++) {
        const unsigned char *p = sid + 8 + 4 * i;
        unsigned long v = (unsigned long)p[0] | (unsigned long)p[1] << 8
                          | (unsigned long)p[2] << 16
                          | (unsigned long)p[3] << 24;

        w = snprintf(buf + n, buflen - n, "-%lu", v);
        if (w < 0 || (size_t)w >= buflen - n) {
            return -1;
        }
        n += (size_t)w;
    }
    return 0;
}

int n8443_ldap_escape(const char *value, char *buf, size_t buflen)
{
    size_t n = 0;

    for (; *value; value++) {
        unsigned char c = (unsigned char)*value;

        if (c == '*' || c == '(' || c == ')' || c == '\\' || c < 0x20) {
            if (n + 4 >= buflen) {
                return -1;
            }
            snprintf(buf + n, 4, "\\%02x", c);
            n += 3;
        }
        else {
            if (n + 2 >= buflen) {
                return -1;
            }
            buf[n++] = (char)c;
        }
    }
    buf[n] = '\0';
    return 0;
}

#endif /* HAVE_LDAP */
