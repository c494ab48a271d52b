/* heimdal_token: print one initiator token (binary, to stdout) made with
 * Heimdal's GSS-API for HTTP@HOST from the ccache in KRB5CCNAME.
 * Usage: heimdal_token HOST spnego|krb5 FLAGS [CB_APP_DATA_HEX] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <gssapi/gssapi_spnego.h>

int main(int argc, char **argv)
{
    OM_uint32 maj, min, flags;
    gss_buffer_desc nb, out = GSS_C_EMPTY_BUFFER;
    gss_name_t name;
    gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
    struct gss_channel_bindings_struct cb;
    unsigned char cbdata[256];
    size_t cblen = 0, i;
    char host[300];

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
    }
    maj = gss_init_sec_context(&min, GSS_C_NO_CREDENTIAL, &ctx, name,
                               strcmp(argv[2], "spnego") == 0
                               ? GSS_SPNEGO_MECHANISM : GSS_KRB5_MECHANISM,
                               flags, 0, argc > 4 ? &cb : NULL,
                               GSS_C_NO_BUFFER, NULL, &out, NULL, NULL);
    if (GSS_ERROR(maj)) {
        fprintf(stderr, "gss_init_sec_context: %u/%u\n", maj, min);
        return 4;
    }
    fwrite(out.value, 1, out.length, stdout);
    return 0;
}
