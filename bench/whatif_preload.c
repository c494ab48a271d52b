/*
 * whatif_preload.c - LD_PRELOAD emulation of two changes suggested for the
 * module (bench/README.md, "Profile"), so that their effect can be
 * measured in the benchmark before anyone writes them (scenario (x)):
 *
 *   N8443X_HOLD_CTX=1   hold one krb5_context for the life of the
 *       process.  MIT's profile library keeps a parsed krb5.conf only while
 *       some context references it; the GSS calls of one login create and
 *       free about five contexts, so without a held one every login reads
 *       and parses krb5.conf again (open, fstat, read, close, parse).
 *       The module would do this in child_init (and before the first
 *       gss_* call in post_config).
 *
 *   N8443X_MEMKT=FILE:/path/to/keytab   copy the keytab into the MEMORY
 *       keytab "MEMORY:n8443x" at start-up; with "NegotiateKeytab
 *       MEMORY:n8443x" every accept then looks its key up in memory
 *       instead of open + lock + read + lseek + close of the file.  The
 *       module would do this when it acquires credentials (and again when
 *       its keytab stat() shows a change).
 *
 * The constructor runs in httpd's parent before the configuration is read,
 * so the children inherit both through fork().
 *
 * Build: cc -O2 -shared -fPIC -o whatif_preload.so whatif_preload.c \
 *            $(krb5-config --cflags --libs krb5)
 */
#include <stdlib.h>

#include <krb5/krb5.h>

static krb5_context held;

__attribute__((constructor)) static void n8443x_init(void)
{
    const char *src = getenv("N8443X_MEMKT");
    krb5_context ctx;

    if (getenv("N8443X_HOLD_CTX") == NULL && src == NULL)
        return;
    if (krb5_init_context(&ctx) != 0)
        return;
    if (src != NULL) {
        krb5_keytab in, out;
        krb5_kt_cursor cur;
        krb5_keytab_entry e;

        if (krb5_kt_resolve(ctx, src, &in) == 0) {
            if (krb5_kt_resolve(ctx, "MEMORY:n8443x", &out) == 0
                && krb5_kt_start_seq_get(ctx, in, &cur) == 0) {
                while (krb5_kt_next_entry(ctx, in, &e, &cur) == 0) {
                    krb5_kt_add_entry(ctx, out, &e);
                    krb5_free_keytab_entry_contents(ctx, &e);
                }
                krb5_kt_end_seq_get(ctx, in, &cur);
                /* "out" stays open: the MEMORY keytab lives on. */
            }
            krb5_kt_close(ctx, in);
        }
    }
    if (getenv("N8443X_HOLD_CTX") != NULL)
        held = ctx;             /* never freed: that is the point */
    else
        krb5_free_context(ctx);
}
