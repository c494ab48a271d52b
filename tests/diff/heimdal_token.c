/* heimdal_token: print one initiator token (binary, to stdout) made with
 * Heimdal's GSS-API for HTTP@HOST from the ccache in KRB5CCNAME.
 * Usage: heimdal_token HOST spnego|krb5 FLAGS [CB_APP_DATA_HEX [ADDRTYPE]]
 * ADDRTYPE: the address type both addresses of the bindings are hashed
 * with (0 GSS_C_AF_UNSPEC, the default; 255 GSS_C_AF_NULLADDR).
 *
 * With "-n COUNT" first (heimdal_token -n COUNT HOST ...), it prints COUNT
 * tokens instead, each from a new initiator context (a fresh
 * authenticator of the same service ticket), base64, one per line: the
 * benchmark's token mix (bench/gen_tokens.py --heimdal-share). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <gssapi/gssapi_spnego.h>

static void put_base64(const unsigned char *p, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;

    for (i = 0; i + 2 < n; i += 3) {
        putchar(tab[p[i] >> 2]);
        putchar(tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)]);
        putchar(tab[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)]);
        putchar(tab[p[i + 2] & 63]);
    }
    if (n - i == 1) {
        putchar(tab[p[i] >> 2]);
        putchar(tab[(p[i] & 3) << 4]);
        fputs("==", stdout);
    }
    else if (n - i == 2) {
        putchar(tab[p[i] >> 2]);
        putchar(tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)]);
        putchar(tab[(p[i + 1] & 15) << 2]);
        putchar('=');
    }
    putchar('\n');
}

int main(int argc, char **argv)
{
    OM_uint32 maj, min, flags;
    gss_buffer_desc nb, out = GSS_C_EMPTY_BUFFER;
    gss_name_t name;
    gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    struct gss_channel_bindings_struct cb;
    unsigned char cbdata[256];
    size_t cblen = 0, i;
    char host[300], *end;
    long count = 0, k;

    if (argc > 2 && strcmp(argv[1], "-n") == 0) {
        count = strtol(argv[2], &end, 10);
        if (*argv[2] == '\0' || *end != '\0' || count < 1)
            return 2;
        argc -= 2;
        argv += 2;
    }
    if (argc < 4)
        return 2;
    snprintf(host, sizeof(host), "HTTP@%s", argv[1]);
    nb.value = host;
    nb.length = strlen(host);
    maj = gss_import_name(&min, &nb, GSS_C_NT_HOSTBASED_SERVICE, &name);
    if (GSS_ERROR(maj))
        return 3;
    flags = (OM_uint32)strtoul(argv[3], NULL, 0);
    memset(&cb, 0, sizeof(cb));
    if (argc > 4) {
        for (i = 0; argv[4][2 * i] && i < sizeof(cbdata); i++) {
            unsigned v;
            sscanf(argv[4] + 2 * i, "%2x", &v);
            cbdata[i] = (unsigned char)v;
        }
        cblen = i;
        cb.application_data.value = cbdata;
        cb.application_data.length = cblen;
        if (argc > 5) {
            cb.initiator_addrtype = (OM_uint32)strtoul(argv[5], NULL, 0);
            cb.acceptor_addrtype = cb.initiator_addrtype;
        }
    }
    if (count > 0) {
        /* One credential for all the tokens, as a long-lived client. */
        maj = gss_acquire_cred(&min, GSS_C_NO_NAME, GSS_C_INDEFINITE,
                               GSS_C_NO_OID_SET, GSS_C_INITIATE, &cred, NULL,
                               NULL);
        if (GSS_ERROR(maj)) {
            fprintf(stderr, "gss_acquire_cred: %u/%u\n", maj, min);
            return 4;
        }
    }
    for (k = 0; k < (count > 0 ? count : 1); k++) {
        ctx = GSS_C_NO_CONTEXT;
        maj = gss_init_sec_context(&min, cred, &ctx, name,
                                   strcmp(argv[2], "spnego") == 0
                                       ? GSS_SPNEGO_MECHANISM
                                       : GSS_KRB5_MECHANISM,
                                   flags, 0, argc > 4 ? &cb : NULL,
                                   GSS_C_NO_BUFFER, NULL, &out, NULL, NULL);
        if (GSS_ERROR(maj)) {
            fprintf(stderr, "gss_init_sec_context: %u/%u\n", maj, min);
            return 4;
        }
        if (count == 0) {
            fwrite(out.value, 1, out.length, stdout);
            return 0;
        }
        put_base64(out.value, out.length);
        gss_release_buffer(&min, &out);
        gss_delete_sec_context(&min, &ctx, GSS_C_NO_BUFFER);
    }
    return fflush(stdout) == 0 ? 0 : 5;
}
