/*
 * accept_loop.c - the floor cost of Kerberos itself: a bare
 * gss_accept_sec_context loop over pre-generated tokens, one thread, with
 * MIT's replay cache off ("rcache" = "none:" in the credential store, as
 * the module does when it runs its own replay cache).
 *
 * Per token it does what any acceptor must: accept the token, read the
 * client's name, and drop the context (the module does exactly these
 * three GSS calls per login).  Decoding the base64 happens before the
 * clock starts.
 *
 *   accept_loop [-H] KEYTAB TOKENFILE [TOKENFILE...]
 *
 * -H holds one krb5_context for the whole loop (what the module would do
 * with the change suggested in bench/README.md): MIT then keeps krb5.conf
 * parsed instead of reading it again for the contexts each GSS call makes.
 *
 * TOKENFILE: lines "Negotiate <base64>" (bench/gen_tokens.py).
 * Prints one JSON object: accepts, failures, cpu_s, wall_s,
 * accepts_per_cpu_s (= accepts per second per core), us_per_accept.
 *
 * Build: cc -O2 -o accept_loop accept_loop.c \
 *            $(krb5-config --cflags --libs gssapi)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5/krb5.h>

typedef struct {
    unsigned char *data;
    size_t len;
} token;

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

static int b64decode(const char *in, size_t inlen, token *out)
{
    size_t i, o = 0;
    unsigned int acc = 0;
    int bits = 0, v;

    out->data = malloc(inlen / 4 * 3 + 3);
    if (out->data == NULL)
        return -1;
    for (i = 0; i < inlen; i++) {
        if (in[i] == '=')
            break;
        v = b64val((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->data[o++] = (unsigned char)(acc >> bits);
        }
    }
    out->len = o;
    return 0;
}

static double now(clockid_t clk)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void gss_err(const char *what, OM_uint32 maj, OM_uint32 min)
{
    OM_uint32 ctx = 0, tmp;
    gss_buffer_desc msg;

    fprintf(stderr, "%s:", what);
    do {
        gss_display_status(&tmp, maj, GSS_C_GSS_CODE, GSS_C_NO_OID, &ctx, &msg);
        fprintf(stderr, " %.*s", (int)msg.length, (char *)msg.value);
        gss_release_buffer(&tmp, &msg);
    } while (ctx != 0);
    ctx = 0;
    do {
        gss_display_status(&tmp, min, GSS_C_MECH_CODE, GSS_C_NO_OID, &ctx,
                           &msg);
        fprintf(stderr, " / %.*s", (int)msg.length, (char *)msg.value);
        gss_release_buffer(&tmp, &msg);
    } while (ctx != 0);
    fprintf(stderr, "\n");
}

int main(int argc, char **argv)
{
    gss_key_value_element_desc el[2] = {{"keytab", NULL}, {"rcache", "none:"}};
    gss_key_value_set_desc store = {2, el};
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    OM_uint32 maj, min, tmp;
    token *toks = NULL;
    size_t ntoks = 0, cap = 0, i, ok = 0, failed = 0;
    char *line = NULL;
    size_t linecap = 0;
    double c0, c1, w0, w1;
    krb5_context held = NULL;
    int a, first = 1, hold = 0;

    if (argc > 1 && strcmp(argv[1], "-H") == 0) {
        hold = 1;
        first = 2;
    }
    if (argc < first + 2) {
        fprintf(stderr, "usage: %s [-H] KEYTAB TOKENFILE...\n", argv[0]);
        return 2;
    }
    el[0].value = argv[first];
    if (hold && krb5_init_context(&held) != 0) {
        fprintf(stderr, "krb5_init_context failed\n");
        return 1;
    }

    for (a = first + 1; a < argc; a++) {
        FILE *f = fopen(argv[a], "r");
        ssize_t n;

        if (f == NULL) {
            perror(argv[a]);
            return 2;
        }
        while ((n = getline(&line, &linecap, f)) > 0) {
            char *p = line;

            while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
                p[--n] = '\0';
            if (strncmp(p, "Negotiate ", 10) == 0) {
                p += 10;
                n -= 10;
            }
            if (n <= 0)
                continue;
            if (ntoks == cap) {
                cap = cap ? 2 * cap : 1024;
                toks = realloc(toks, cap * sizeof(*toks));
                if (toks == NULL)
                    return 2;
            }
            if (b64decode(p, (size_t)n, &toks[ntoks]) != 0) {
                fprintf(stderr, "bad base64 in %s\n", argv[a]);
                return 2;
            }
            ntoks++;
        }
        fclose(f);
    }
    free(line);

    maj = gss_acquire_cred_from(&min, GSS_C_NO_NAME, GSS_C_INDEFINITE,
                                GSS_C_NO_OID_SET, GSS_C_ACCEPT, &store, &cred,
                                NULL, NULL);
    if (GSS_ERROR(maj)) {
        gss_err("gss_acquire_cred_from", maj, min);
        return 1;
    }

    c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    w0 = now(CLOCK_MONOTONIC);
    for (i = 0; i < ntoks; i++) {
        gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
        gss_buffer_desc in = {toks[i].len, toks[i].data};
        gss_buffer_desc out = GSS_C_EMPTY_BUFFER, disp = GSS_C_EMPTY_BUFFER;
        gss_name_t client = GSS_C_NO_NAME;
        gss_cred_id_t deleg = GSS_C_NO_CREDENTIAL;
        OM_uint32 flags = 0, life = 0;
        gss_OID mech = GSS_C_NO_OID;

        maj = gss_accept_sec_context(&min, &ctx, cred, &in,
                                     GSS_C_NO_CHANNEL_BINDINGS, &client, &mech,
                                     &out, &flags, &life, &deleg);
        if (maj == GSS_S_COMPLETE
            && !GSS_ERROR(gss_display_name(&tmp, client, &disp, NULL))) {
            ok++;
        }
        else {
            if (failed++ == 0)
                gss_err("gss_accept_sec_context", maj, min);
        }
        gss_release_buffer(&tmp, &disp);
        gss_release_buffer(&tmp, &out);
        if (client != GSS_C_NO_NAME)
            gss_release_name(&tmp, &client);
        if (deleg != GSS_C_NO_CREDENTIAL)
            gss_release_cred(&tmp, &deleg);
        if (ctx != GSS_C_NO_CONTEXT)
            gss_delete_sec_context(&tmp, &ctx, GSS_C_NO_BUFFER);
    }
    c1 = now(CLOCK_PROCESS_CPUTIME_ID);
    w1 = now(CLOCK_MONOTONIC);

    printf("{\"accepts\": %zu, \"failures\": %zu, \"cpu_s\": %.6f, "
           "\"wall_s\": %.6f, \"accepts_per_cpu_s\": %.1f, "
           "\"us_per_accept\": %.2f, \"held_context\": %s}\n",
           ok, failed, c1 - c0, w1 - w0, (c1 - c0) > 0 ? ok / (c1 - c0) : 0.0,
           ok ? (c1 - c0) * 1e6 / ok : 0.0, hold ? "true" : "false");
    gss_release_cred(&tmp, &cred);
    if (held != NULL)
        krb5_free_context(held);
    for (i = 0; i < ntoks; i++)
        free(toks[i].data);
    free(toks);
    return failed ? 1 : 0;
}
