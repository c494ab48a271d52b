/*
 * n8443ctl - the SASL GSSAPI mechanism (RFC 4752) for ad_ldap.c, and its
 * security layer under libldap.
 *
 * The exchange: GSS-API tokens to ldap/HOST in SASL bind requests until
 * the context is complete; the server then sends, wrapped, the layers it
 * offers (1 none, 2 integrity, 4 confidentiality) and its largest buffer;
 * the client answers, wrapped, with the one it takes.  This client takes
 * confidentiality, else integrity, and refuses a server that offers
 * neither: the group map decides who is let in, so nobody on the path
 * may edit the answers.  From then on every LDAP message travels as a
 * 4-byte big-endian length and a gss_wrap token: an lber Sockbuf_IO
 * layer, pushed onto libldap's socket, does that.
 */
#include "n8443ctl.h"

#ifdef HAVE_LDAP

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

#include "ad_ldap.h"

#define LAYER_NONE            1
#define LAYER_INTEGRITY       2
#define LAYER_CONFIDENTIALITY 4
/* The most this client accepts in one wrapped message (3 bytes). */
#define OUR_MAXBUF 0xFFFFFF

static void gss_err(char *err, size_t errlen, const char *what, OM_uint32 major,
                    OM_uint32 minor)
{
    OM_uint32 min2;
    OM_uint32 ctx = 0;
    gss_buffer_desc text = GSS_C_EMPTY_BUFFER;

    gss_display_status(&min2, major != GSS_S_FAILURE ? major : minor,
                       major != GSS_S_FAILURE ? GSS_C_GSS_CODE
                                              : GSS_C_MECH_CODE,
                       GSS_C_NO_OID, &ctx, &text);
    snprintf(err, errlen, "%s: %.*s", what, (int)text.length,
             text.value != NULL ? (char *)text.value : "?");
    gss_release_buffer(&min2, &text);
}

/* ------------------------------------------------------ the IO layer */

struct layer {
    gss_ctx_id_t gss;
    int sealed;
    size_t max_plain;   /* per wrapped message */
    unsigned char *raw; /* one wrapped message, being read */
    size_t raw_len;
    size_t raw_need;       /* 4, then 4 + its length */
    gss_buffer_desc plain; /* unwrapped, not yet handed up */
    size_t plain_off;
};

static int layer_setup(Sockbuf_IO_Desc *sbiod, void *arg)
{
    sbiod->sbiod_pvt = arg;
    return 0;
}

static int layer_remove(Sockbuf_IO_Desc *sbiod)
{
    struct layer *ly = sbiod->sbiod_pvt;
    OM_uint32 minor;

    if (ly != NULL) {
        gss_release_buffer(&minor, &ly->plain);
        free(ly->raw);
        free(ly);
        sbiod->sbiod_pvt = NULL;
    }
    return 0;
}

static int layer_ctrl(Sockbuf_IO_Desc *sbiod, int opt, void *arg)
{
    struct layer *ly = sbiod->sbiod_pvt;

    if (opt == LBER_SB_OPT_DATA_READY && ly->plain_off < ly->plain.length) {
        return 1;
    }
    return LBER_SBIOD_CTRL_NEXT(sbiod, opt, arg);
}

static ber_slen_t layer_read(Sockbuf_IO_Desc *sbiod, void *buf, ber_len_t len)
{
    struct layer *ly = sbiod->sbiod_pvt;
    gss_buffer_desc in;
    OM_uint32 major;
    OM_uint32 minor;
    ber_slen_t n;
    size_t take;

    while (ly->plain_off >= ly->plain.length) {
        gss_release_buffer(&minor, &ly->plain);
        ly->plain_off = 0;
        while (ly->raw_len < ly->raw_need) {
            n = LBER_SBIOD_READ_NEXT(sbiod, ly->raw + ly->raw_len,
                                     ly->raw_need - ly->raw_len);
            if (n <= 0) {
                return n; /* EOF, or errno says (EAGAIN: again) */
            }
            ly->raw_len += (size_t)n;
            if (ly->raw_need == 4 && ly->raw_len == 4) {
                size_t mlen = (size_t)ly->raw[0] << 24
                              | (size_t)ly->raw[1] << 16
                              | (size_t)ly->raw[2] << 8 | ly->raw[3];
                unsigned char *grown;

                if (mlen == 0 || mlen > OUR_MAXBUF) {
                    errno = EPROTO;
                    return -1;
                }
                grown = realloc(ly->raw, 4 + mlen);
                if (grown == NULL) {
                    errno = ENOMEM;
                    return -1;
                }
                ly->raw = grown;
                ly->raw_need = 4 + mlen;
            }
        }
        in.value = ly->raw + 4;
        in.length = ly->raw_len - 4;
        major = gss_unwrap(&minor, ly->gss, &in, &ly->plain, NULL, NULL);
        ly->raw_len = 0;
        ly->raw_need = 4;
        if (GSS_ERROR(major)) {
            errno = EPROTO;
            return -1;
        }
    }
    take = ly->plain.length - ly->plain_off;
    if (take > len) {
        take = len;
    }
    memcpy(buf, (unsigned char *)ly->plain.value + ly->plain_off, take);
    ly->plain_off += take;
    return (ber_slen_t)take;
}

/* All of LEN bytes to the next layer (the socket is blocking). */
static int write_all(Sockbuf_IO_Desc *sbiod, unsigned char *p, size_t len)
{
    ber_slen_t n;

    while (len > 0) {
        n = LBER_SBIOD_WRITE_NEXT(sbiod, p, len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static ber_slen_t layer_write(Sockbuf_IO_Desc *sbiod, void *buf, ber_len_t len)
{
    struct layer *ly = sbiod->sbiod_pvt;
    gss_buffer_desc in;
    gss_buffer_desc out = GSS_C_EMPTY_BUFFER;
    unsigned char hdr[4];
    OM_uint32 major;
    OM_uint32 minor;
    int rc;

    /* One wrapped message per call; lber writes the rest next time. */
    in.value = buf;
    in.length = len < ly->max_plain ? len : ly->max_plain;
    major = gss_wrap(&minor, ly->gss, ly->sealed, GSS_C_QOP_DEFAULT, &in, NULL,
                     &out);
    if (GSS_ERROR(major)) {
        errno = EPROTO;
        return -1;
    }
    hdr[0] = (unsigned char)(out.length >> 24);
    hdr[1] = (unsigned char)(out.length >> 16);
    hdr[2] = (unsigned char)(out.length >> 8);
    hdr[3] = (unsigned char)out.length;
    rc = write_all(sbiod, hdr, 4);
    if (rc == 0) {
        rc = write_all(sbiod, out.value, out.length);
    }
    gss_release_buffer(&minor, &out);
    return rc == 0 ? (ber_slen_t)in.length : -1;
}

static Sockbuf_IO layer_io = {layer_setup, layer_remove, layer_ctrl,
                              layer_read,  layer_write,  NULL};

/* -------------------------------------------------------- the bind */

/* One SASL bind step: send OUT, the server's answer into *IN. */
static int bind_step(struct n8443_ldap *l, gss_buffer_t out, struct berval **in,
                     char *err, size_t errlen)
{
    struct berval cred;
    char *diag = NULL;
    int rc;

    cred.bv_val = out->value;
    cred.bv_len = out->length;
    *in = NULL;
    rc = ldap_sasl_bind_s(l->ld, NULL, "GSSAPI", &cred, NULL, NULL, in);
    if (rc == LDAP_SUCCESS || rc == LDAP_SASL_BIND_IN_PROGRESS) {
        return rc;
    }
    ldap_get_option(l->ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
    snprintf(err, errlen, "the GSSAPI bind to %s was refused: %s%s%s%s",
             l->host, ldap_err2string(rc), diag != NULL && *diag ? " - " : "",
             diag != NULL ? diag : "",
             rc == LDAP_STRONG_AUTH_REQUIRED ? " (the server wants TLS)" : "");
    ldap_memfree(diag);
    return -1;
}

/* The client's credentials: CCACHE, or the default one. */
static OM_uint32 client_cred(const char *ccache, gss_cred_id_t *cred,
                             OM_uint32 *minor)
{
    gss_key_value_element_desc el;
    gss_key_value_set_desc store;

    *cred = GSS_C_NO_CREDENTIAL;
    if (ccache == NULL) {
        return GSS_S_COMPLETE;
    }
    el.key = "ccache";
    el.value = ccache;
    store.count = 1;
    store.elements = &el;
    return gss_acquire_cred_from(minor, GSS_C_NO_NAME, GSS_C_INDEFINITE,
                                 GSS_C_NO_OID_SET, GSS_C_INITIATE, &store, cred,
                                 NULL, NULL);
}

int n8443_sasl_gssapi_bind(struct n8443_ldap *l, const char *ccache, char *err,
                           size_t errlen)
{
    gss_buffer_desc name_buf;
    gss_name_t target = GSS_C_NO_NAME;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    gss_buffer_desc in = GSS_C_EMPTY_BUFFER;
    gss_buffer_desc out = GSS_C_EMPTY_BUFFER;
    gss_buffer_desc plain = GSS_C_EMPTY_BUFFER;
    struct berval *answer = NULL;
    unsigned char choice[4];
    struct layer *ly = NULL;
    Sockbuf *sb = NULL;
    OM_uint32 major;
    OM_uint32 minor;
    OM_uint32 flags = 0;
    OM_uint32 max_in = 0;
    char spn[300];
    unsigned offered;
    size_t server_max;
    int rc = N8443_IO;
    int ldap_rc;
    int step;

    snprintf(spn, sizeof(spn), "ldap@%s", l->host);
    name_buf.value = spn;
    name_buf.length = strlen(spn);
    major =
        gss_import_name(&minor, &name_buf, GSS_C_NT_HOSTBASED_SERVICE, &target);
    if (!GSS_ERROR(major)) {
        major = client_cred(ccache, &cred, &minor);
    }
    if (GSS_ERROR(major)) {
        gss_err(err, errlen, "no Kerberos ticket for the LDAP bind", major,
                minor);
        goto cleanup;
    }
    for (step = 0; step < 8; step++) {
        major = gss_init_sec_context(
            &minor, cred, &l->gss, target, (gss_OID)gss_mech_krb5,
            GSS_C_MUTUAL_FLAG | GSS_C_INTEG_FLAG | GSS_C_CONF_FLAG
                | GSS_C_SEQUENCE_FLAG,
            0, GSS_C_NO_CHANNEL_BINDINGS, &in, NULL, &out, &flags, NULL);
        ber_bvfree(answer);
        answer = NULL;
        if (GSS_ERROR(major)) {
            snprintf(spn, sizeof(spn), "no ticket for ldap/%s", l->host);
            gss_err(err, errlen, spn, major, minor);
            goto cleanup;
        }
        if (out.length == 0) {
            out.value = ""; /* an empty response, not none */
        }
        ldap_rc = bind_step(l, &out, &answer, err, errlen);
        if (out.value != NULL && out.length == 0) {
            out.value = NULL;
        }
        if (ldap_rc != LDAP_SASL_BIND_IN_PROGRESS) {
            if (ldap_rc == LDAP_SUCCESS) {
                snprintf(err, errlen,
                         "the server ended the GSSAPI bind "
                         "before a security layer was agreed");
            }
            goto cleanup;
        }
        gss_release_buffer(&minor, &out);
        in.value = answer != NULL ? answer->bv_val : NULL;
        in.length = answer != NULL ? answer->bv_len : 0;
        if (major == GSS_S_COMPLETE) {
            break;
        }
    }
    if (major != GSS_S_COMPLETE) {
        snprintf(err, errlen, "the GSSAPI bind did not complete");
        goto cleanup;
    }
    /* The server's offer: layers and its largest message. */
    major = gss_unwrap(&minor, l->gss, &in, &plain, NULL, NULL);
    if (GSS_ERROR(major) || plain.length != 4) {
        snprintf(err, errlen,
                 "the server's security layer offer is "
                 "malformed");
        goto cleanup;
    }
    offered = ((unsigned char *)plain.value)[0];
    server_max = (size_t)((unsigned char *)plain.value)[1] << 16
                 | (size_t)((unsigned char *)plain.value)[2] << 8
                 | ((unsigned char *)plain.value)[3];
    gss_release_buffer(&minor, &plain);
    if ((offered & LAYER_CONFIDENTIALITY) && (flags & GSS_C_CONF_FLAG)) {
        choice[0] = LAYER_CONFIDENTIALITY;
        l->sealed = 1;
    }
    else if ((offered & LAYER_INTEGRITY) && (flags & GSS_C_INTEG_FLAG)) {
        choice[0] = LAYER_INTEGRITY;
    }
    else {
        snprintf(err, errlen,
                 "%s offers no integrity protection for LDAP "
                 "(layers 0x%02x): refused, the answers could be forged",
                 l->host, offered);
        goto cleanup;
    }
    choice[1] = (unsigned char)(OUR_MAXBUF >> 16);
    choice[2] = (unsigned char)(OUR_MAXBUF >> 8);
    choice[3] = (unsigned char)OUR_MAXBUF;
    plain.value = choice;
    plain.length = 4;
    major = gss_wrap(&minor, l->gss, 0, GSS_C_QOP_DEFAULT, &plain, NULL, &out);
    plain.value = NULL;
    plain.length = 0;
    if (GSS_ERROR(major)) {
        gss_err(err, errlen, "gss_wrap", major, minor);
        goto cleanup;
    }
    ber_bvfree(answer);
    answer = NULL;
    if (bind_step(l, &out, &answer, err, errlen) != LDAP_SUCCESS) {
        goto cleanup;
    }
    if (server_max == 0 || server_max > OUR_MAXBUF) {
        server_max = OUR_MAXBUF;
    }
    major = gss_wrap_size_limit(&minor, l->gss, l->sealed, GSS_C_QOP_DEFAULT,
                                (OM_uint32)server_max, &max_in);
    ly = calloc(1, sizeof(*ly));
    if (GSS_ERROR(major) || max_in == 0 || ly == NULL
        || (ly->raw = malloc(4)) == NULL) {
        snprintf(err, errlen, "cannot set up the LDAP security layer");
        goto cleanup;
    }
    ly->gss = l->gss;
    ly->sealed = l->sealed;
    ly->max_plain = max_in;
    ly->raw_need = 4;
    if (ldap_get_option(l->ld, LDAP_OPT_SOCKBUF, &sb) != LDAP_OPT_SUCCESS
        || ber_sockbuf_add_io(sb, &layer_io, LBER_SBIOD_LEVEL_APPLICATION, ly)
               != 0) {
        snprintf(err, errlen, "cannot set up the LDAP security layer");
        goto cleanup;
    }
    ly = NULL; /* the Sockbuf owns it */
    rc = N8443_OK;

cleanup:
    if (ly != NULL) {
        free(ly->raw);
        free(ly);
    }
    gss_release_buffer(&minor, &out);
    ber_bvfree(answer);
    gss_release_name(&minor, &target);
    if (cred != GSS_C_NO_CREDENTIAL) {
        gss_release_cred(&minor, &cred);
    }
    return rc;
}

#endif /* HAVE_LDAP */
