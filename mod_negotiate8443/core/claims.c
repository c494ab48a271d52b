/*
 * claims.c - a ticket's PAC and authentication indicators, as MIT's
 * acceptor reads them (claims.h).
 */
#include "claims.h"

#include <stdlib.h>
#include <string.h>

#include <gssapi/gssapi_ext.h>

#define ATTR_LOGON_INFO "urn:mspac:logon-info"
#define ATTR_PAC        "urn:mspac:"
#define ATTR_INDICATORS "auth-indicators"
/* More than any real ticket carries; a bound on the loop. */
#define MAX_INDICATORS    64
#define MAX_INDICATOR_LEN 256

void n8443_claims_clear(n8443_ticket_claims *c)
{
    free(c->logon_info);
    free(c->indicators);
    memset(c, 0, sizeof(*c));
}

int n8443_claims_add_indicator(char **list, const char *ind, size_t len)
{
    size_t i, have = *list != NULL ? strlen(*list) : 0;
    char *p;

    if (len == 0 || len > MAX_INDICATOR_LEN)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)ind[i];

        if (ch <= 0x20 || ch == 0x7f)
            return 0;
    }
    p = realloc(*list, have + (have ? 1 : 0) + len + 1);
    if (p == NULL)
        return -1;
    if (have)
        p[have++] = ' ';
    memcpy(p + have, ind, len);
    p[have + len] = '\0';
    *list = p;
    return 0;
}

static gss_buffer_desc attr_name(const char *s)
{
    gss_buffer_desc b;

    b.value = (void *)s;
    b.length = strlen(s);
    return b;
}

/* Is attr among the name's attributes (whether MIT will give its value
 * or not)?  -1 when the name's attributes cannot be listed (GSS-Proxy
 * without them). */
static int name_has_attr(gss_name_t name, const char *attr)
{
    OM_uint32 major, minor, tmp;
    int found = 0;
    gss_buffer_set_t attrs = GSS_C_NO_BUFFER_SET;
    size_t i, len = strlen(attr);

    /* No MN_mech: MIT hands out a copy of the OID to be released. */
    major = gss_inquire_name(&minor, name, NULL, NULL, &attrs);
    if (GSS_ERROR(major))
        return -1;
    if (attrs == GSS_C_NO_BUFFER_SET)
        return 0;
    for (i = 0; i < attrs->count; i++)
        if (attrs->elements[i].length == len
            && memcmp(attrs->elements[i].value, attr, len) == 0)
            found = 1;
    gss_release_buffer_set(&tmp, &attrs);
    return found;
}

/* Does MIT give the whole PAC ("urn:mspac:") as authenticated? */
static int pac_vouched(gss_name_t name)
{
    OM_uint32 major, minor, tmp;
    gss_buffer_desc attr = attr_name(ATTR_PAC);
    gss_buffer_desc value = GSS_C_EMPTY_BUFFER;
    gss_buffer_desc display = GSS_C_EMPTY_BUFFER;
    int authenticated = 0, complete = 0, more = -1;

    major = gss_get_name_attribute(&minor, name, &attr, &authenticated,
                                   &complete, &value, &display, &more);
    if (value.value != NULL)
        gss_release_buffer(&tmp, &value);
    if (display.value != NULL)
        gss_release_buffer(&tmp, &display);
    return major == GSS_S_COMPLETE && authenticated;
}

static void pac_from_name(gss_name_t name, n8443_ticket_claims *out)
{
    OM_uint32 major, minor, tmp;
    gss_buffer_desc attr = attr_name(ATTR_LOGON_INFO);
    gss_buffer_desc value = GSS_C_EMPTY_BUFFER;
    gss_buffer_desc display = GSS_C_EMPTY_BUFFER;
    int authenticated = 0, complete = 0, more = -1, listed;

    major = gss_get_name_attribute(&minor, name, &attr, &authenticated,
                                   &complete, &value, &display, &more);
    if (major == GSS_S_COMPLETE && authenticated && value.length > 0) {
        out->logon_info = malloc(value.length);
        if (out->logon_info != NULL) {
            memcpy(out->logon_info, value.value, value.length);
            out->logon_info_len = value.length;
            out->pac = N8443_PAC_VERIFIED;
        }
        else {
            out->pac = N8443_PAC_UNAVAILABLE;
        }
    }
    else if (major == GSS_S_COMPLETE) {
        out->pac = N8443_PAC_UNVERIFIED;
    }
    else if ((listed = name_has_attr(name, ATTR_PAC)) < 0) {
        out->pac = N8443_PAC_UNAVAILABLE;
    }
    else if (listed) {
        /* A PAC without logon info (MIT vouches for the whole PAC), or
         * one MIT did not vouch for: 1.20 hides a PAC that failed
         * verification (its value is "not there"); older releases mark
         * it unauthenticated. */
        out->pac =
            pac_vouched(name) ? N8443_PAC_NO_LOGON_INFO : N8443_PAC_UNVERIFIED;
    }
    if (value.value != NULL)
        gss_release_buffer(&tmp, &value);
    if (display.value != NULL)
        gss_release_buffer(&tmp, &display);
}

static void indicators_from_name(gss_name_t name, n8443_ticket_claims *out)
{
    OM_uint32 major, minor, tmp;
    gss_buffer_desc attr = attr_name(ATTR_INDICATORS);
    int more = -1, n;

    for (n = 0; n < MAX_INDICATORS && more != 0; n++) {
        gss_buffer_desc value = GSS_C_EMPTY_BUFFER;
        gss_buffer_desc display = GSS_C_EMPTY_BUFFER;
        int authenticated = 0, complete = 0, rc = 0;

        major = gss_get_name_attribute(&minor, name, &attr, &authenticated,
                                       &complete, &value, &display, &more);
        if (major != GSS_S_COMPLETE)
            break;
        if (authenticated)
            rc = n8443_claims_add_indicator(&out->indicators, value.value,
                                            value.length);
        if (value.value != NULL)
            gss_release_buffer(&tmp, &value);
        if (display.value != NULL)
            gss_release_buffer(&tmp, &display);
        if (rc != 0)
            break;
    }
}

void n8443_claims_from_name(gss_name_t name, n8443_ticket_claims *out)
{
    memset(out, 0, sizeof(*out));
    if (name == GSS_C_NO_NAME)
        return;
    pac_from_name(name, out);
    indicators_from_name(name, out);
}

int n8443_ticket_has_cammac(krb5_context ctx, const krb5_ticket *ticket)
{
    krb5_authdata **ad = NULL;

    if (ticket->enc_part2 == NULL)
        return 1;
    if (krb5_find_authdata(ctx, ticket->enc_part2->authorization_data, NULL,
                           KRB5_AUTHDATA_CAMMAC, &ad)
        != 0)
        return 1;
    if (ad == NULL)
        return 0;
    krb5_free_authdata(ctx, ad);
    return 1;
}

/* Does key decrypt the ticket's encrypted part? */
static int key_decrypts(krb5_context ctx, const krb5_keyblock *key,
                        const krb5_ticket *ticket)
{
    krb5_data plain;
    int ok;

    plain.magic = 0;
    plain.length = ticket->enc_part.ciphertext.length;
    plain.data = malloc(plain.length ? plain.length : 1);
    if (plain.data == NULL)
        return 0;
    ok = krb5_c_decrypt(ctx, key, KRB5_KEYUSAGE_KDC_REP_TICKET, NULL,
                        &ticket->enc_part, &plain)
         == 0;
    free(plain.data);
    return ok;
}

/*
 * Does the PAC's server signature verify with the key that decrypted the
 * ticket, as MIT's mspac_verify checks it?  krb5_rd_req set ticket->server
 * to the keytab principal whose key it used, but not which of its keys:
 * with no server named it takes the first of that principal's keys (of a
 * similar enctype, any kvno) that decrypts the ticket, so the kvno in the
 * ticket says nothing.  The same walk finds it here: the first key of
 * ticket->server that decrypts the ticket (a key that decrypts it is the
 * key, whichever entry holds it).  krb5_pac_verify also checks the client
 * info buffer against the ticket's client and authtime.
 */
static int pac_verifies(krb5_context ctx, krb5_keytab kt,
                        const krb5_ticket *ticket, krb5_pac pac)
{
    krb5_kt_cursor cur;
    krb5_keytab_entry ent;
    krb5_enctype etype = ticket->enc_part.enctype;
    krb5_boolean similar;
    int ok = 0, found = 0;

    if (krb5_kt_start_seq_get(ctx, kt, &cur) != 0)
        return 0;
    while (!found && krb5_kt_next_entry(ctx, kt, &ent, &cur) == 0) {
        if (krb5_principal_compare(ctx, ent.principal, ticket->server)
            && krb5_c_enctype_compare(ctx, ent.key.enctype, etype, &similar)
                   == 0
            && similar) {
            ent.key.enctype = etype;
            if (key_decrypts(ctx, &ent.key, ticket)) {
                found = 1;
                ok =
                    krb5_pac_verify(ctx, pac, ticket->enc_part2->times.authtime,
                                    ticket->enc_part2->client, &ent.key, NULL)
                    == 0;
            }
        }
        krb5_free_keytab_entry_contents(ctx, &ent);
    }
    krb5_kt_end_seq_get(ctx, kt, &cur);
    return ok;
}

int n8443_claims_from_ticket(krb5_context ctx, krb5_keytab kt,
                             const krb5_ticket *ticket,
                             n8443_ticket_claims *out)
{
    krb5_authdata **ad = NULL;
    krb5_pac pac = NULL;
    krb5_data buf = {0, 0, NULL};
    int ret = 0;

    memset(out, 0, sizeof(*out));
    if (ticket->enc_part2 == NULL)
        return 0;
    /* Where MIT's mspac plugin looks: the ticket's authorization data
     * (inside AD-IF-RELEVANT), never the authenticator's, and the first
     * PAC found. */
    if (krb5_find_authdata(ctx, ticket->enc_part2->authorization_data, NULL,
                           KRB5_AUTHDATA_WIN2K_PAC, &ad)
        != 0) {
        out->pac = N8443_PAC_UNAVAILABLE;
        return -1;
    }
    if (ad == NULL)
        return 0;
    out->pac = N8443_PAC_UNVERIFIED;
    if (krb5_pac_parse(ctx, ad[0]->contents, ad[0]->length, &pac) != 0
        || !pac_verifies(ctx, kt, ticket, pac))
        goto cleanup;
    out->pac = N8443_PAC_NO_LOGON_INFO;
    if (krb5_pac_get_buffer(ctx, pac, KRB5_PAC_LOGON_INFO, &buf) != 0
        || buf.length == 0)
        goto cleanup;
    out->logon_info = malloc(buf.length);
    if (out->logon_info == NULL) {
        out->pac = N8443_PAC_UNAVAILABLE;
        ret = -1;
        goto cleanup;
    }
    memcpy(out->logon_info, buf.data, buf.length);
    out->logon_info_len = buf.length;
    out->pac = N8443_PAC_VERIFIED;

cleanup:
    if (buf.data != NULL)
        krb5_free_data_contents(ctx, &buf);
    if (pac != NULL)
        krb5_pac_free(ctx, pac);
    krb5_free_authdata(ctx, ad);
    return ret;
}
