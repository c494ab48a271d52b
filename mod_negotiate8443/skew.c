/*
 * skew.c - NegotiateClockSkew for the whole instance, without editing
 * /etc/krb5.conf.
 *
 * MIT Kerberos reads the allowed skew from the profile when a krb5 context
 * is made, and KRB5_CONFIG may name several files: the first one that has
 * a relation wins.  So the parent writes a one-line profile into httpd's
 * runtime directory and puts it in front of KRB5_CONFIG before any child
 * is forked; every context in every child then sees the configured skew,
 * and everything else in krb5.conf as before.
 */
#include "n8443_private.h"
#include "rcache.h"

#include "apr_file_io.h"

#include <krb5/krb5.h>
#include <profile.h>
#include <stdlib.h>

#ifndef N8443_KRB5_DEFAULT_PROFILE
#define N8443_KRB5_DEFAULT_PROFILE "/etc/krb5.conf"
#endif

/* The skew krb5.conf gives (or Kerberos' default, 300 s). */
static long krb5_conf_skew(void)
{
    krb5_context ctx;
    profile_t profile;
    int v = 300;

    if (krb5_init_context(&ctx) != 0)
        return 300;
    if (krb5_get_profile(ctx, &profile) == 0) {
        profile_get_integer(profile, "libdefaults", "clockskew", NULL, 300,
                            &v);
        profile_release(profile);
    }
    krb5_free_context(ctx);
    return v > 0 ? v : 300;
}

/*
 * Make the configured skew effective for the instance.  Called in
 * post_config of every generation; the KRB5_CONFIG the administrator
 * started httpd with is remembered on the first call, so a graceful
 * restart does not stack fragments.
 */
int n8443_skew_apply(apr_pool_t *pconf, server_rec *s)
{
    static const char userdata_key[] = "negotiate8443-krb5-config";
    const char *original_krb5_config;
    const char *frag, *text, *chain;
    apr_pool_t *process_pool = s->process->pool;
    apr_file_t *f;
    apr_size_t len;
    apr_status_t rv;
    void *data;

    /* Remembered in the process pool: httpd reloads the module (and so
     * forgets its statics) between configuration passes. */
    apr_pool_userdata_get(&data, userdata_key, process_pool);
    if (data == NULL) {
        const char *env = getenv("KRB5_CONFIG");
        data = apr_pstrdup(process_pool, env ? env : "");
        apr_pool_userdata_set(data, userdata_key, apr_pool_cleanup_null,
                              process_pool);
    }
    original_krb5_config = *(const char *)data ? data : NULL;

    if (!n8443_instance.clock_skew_set) {
        /* Not configured: krb5.conf decides, and the replay cache keeps
         * entries for as long as that skew requires. */
        if (original_krb5_config != NULL)
            setenv("KRB5_CONFIG", original_krb5_config, 1);
        else
            unsetenv("KRB5_CONFIG");
        n8443_instance.clock_skew = krb5_conf_skew();
        return OK;
    }

    frag = ap_runtime_dir_relative(pconf, "negotiate8443-krb5.conf");
    if (frag == NULL)
        return !OK;
    text = apr_psprintf(pconf, "# written by mod_negotiate8443 from "
                        "NegotiateClockSkew; do not edit\n"
                        "[libdefaults]\n clockskew = %ld\n",
                        n8443_instance.clock_skew);
    rv = apr_file_open(&f, frag, APR_FOPEN_WRITE | APR_FOPEN_CREATE
                       | APR_FOPEN_TRUNCATE,
                       APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD
                       | APR_FPROT_WREAD, pconf);
    if (rv == APR_SUCCESS) {
        len = strlen(text);
        rv = apr_file_write_full(f, text, len, NULL);
        apr_file_close(f);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, N8443LOGNO(070)
                     "NegotiateClockSkew: cannot write %s", frag);
        return !OK;
    }
    chain = apr_pstrcat(pconf, frag, ":",
                        original_krb5_config ? original_krb5_config
                                             : N8443_KRB5_DEFAULT_PROFILE,
                        NULL);
    setenv("KRB5_CONFIG", chain, 1);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, N8443LOGNO(071)
                 "clock skew %ld s for the whole instance (KRB5_CONFIG=%s)",
                 n8443_instance.clock_skew, chain);
    return OK;
}
