/*
 * skew.c - the Kerberos settings both login paths read, fixed when httpd
 * starts, without editing /etc/krb5.conf.
 *
 * MIT Kerberos reads the allowed clock skew (and allow_weak_crypto,
 * ignore_acceptor_hostname) from the profile.  GSS-API makes a krb5
 * context per login and re-reads krb5.conf when it changes; the fast
 * path keeps its contexts.  So an edit at run time would make the two
 * paths disagree, and a skew raised at run time would outgrow the replay
 * cache's retention (2 x the skew at start).  One rule instead: the
 * values in force at start (NegotiateClockSkew, else krb5.conf) are
 * written into a profile fragment in httpd's runtime directory, put in
 * front of KRB5_CONFIG before any child is forked (KRB5_CONFIG may name
 * several files; for a single-valued relation the first file that has it
 * wins), and logged once.  Everything else in krb5.conf is read as before.
 */
#include "n8443_private.h"

#include "apr_file_io.h"

#include <krb5/krb5.h>
#include <profile.h>
#include <stdlib.h>

#ifndef N8443_KRB5_DEFAULT_PROFILE
#define N8443_KRB5_DEFAULT_PROFILE "/etc/krb5.conf"
#endif

/* What krb5.conf says (Kerberos' defaults where it says nothing). */
typedef struct {
    long skew;
    int allow_weak_crypto;
    int ignore_acceptor_hostname;
} krb5_conf_values;

static void krb5_conf_read(krb5_conf_values *v)
{
    krb5_context ctx;
    profile_t profile;
    int i;

    v->skew = N8443_DEFAULT_CLOCK_SKEW;
    v->allow_weak_crypto = 0;
    v->ignore_acceptor_hostname = 0;
    if (krb5_init_context(&ctx) != 0)
        return;
    if (krb5_get_profile(ctx, &profile) == 0) {
        if (profile_get_integer(profile, "libdefaults", "clockskew", NULL,
                                N8443_DEFAULT_CLOCK_SKEW, &i)
                == 0
            && i > 0)
            v->skew = i;
        if (profile_get_boolean(profile, "libdefaults", "allow_weak_crypto",
                                NULL, 0, &i)
            == 0)
            v->allow_weak_crypto = i != 0;
        if (profile_get_boolean(profile, "libdefaults",
                                "ignore_acceptor_hostname", NULL, 0, &i)
            == 0)
            v->ignore_acceptor_hostname = i != 0;
        profile_release(profile);
    }
    krb5_free_context(ctx);
}

/*
 * Fix the settings for the instance.  Called in post_config of every
 * generation (a graceful restart reads krb5.conf again); the KRB5_CONFIG
 * the administrator started httpd with is remembered on the first call,
 * so a restart does not stack fragments.
 */
int n8443_skew_apply(apr_pool_t *pconf, server_rec *s)
{
    static const char userdata_key[] = "negotiate8443-krb5-config";
    const char *original_krb5_config;
    const char *frag, *text, *chain;
    apr_pool_t *process_pool = s->process->pool;
    krb5_conf_values v;
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

    /* krb5.conf as the administrator has it now, without our fragment. */
    if (original_krb5_config != NULL)
        setenv("KRB5_CONFIG", original_krb5_config, 1);
    else
        unsetenv("KRB5_CONFIG");
    krb5_conf_read(&v);
    if (!n8443_instance.clock_skew_set)
        n8443_instance.clock_skew = v.skew;

    frag = ap_runtime_dir_relative(pconf, "negotiate8443-krb5.conf");
    if (frag == NULL)
        return !OK;
    text = apr_psprintf(pconf,
                        "# written by mod_negotiate8443 at start: "
                        "the settings both login paths use until the next "
                        "restart; do not edit\n"
                        "[libdefaults]\n clockskew = %ld\n"
                        " allow_weak_crypto = %s\n"
                        " ignore_acceptor_hostname = %s\n",
                        n8443_instance.clock_skew,
                        v.allow_weak_crypto ? "true" : "false",
                        v.ignore_acceptor_hostname ? "true" : "false");
    rv = apr_file_open(
        &f, frag, APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_TRUNCATE,
        APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD | APR_FPROT_WREAD,
        pconf);
    if (rv == APR_SUCCESS) {
        len = strlen(text);
        rv = apr_file_write_full(f, text, len, NULL);
        apr_file_close(f);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(
            APLOG_MARK, APLOG_EMERG, rv, s,
            N8443LOGNO(070) "cannot write %s (the Kerberos settings fixed at "
            "start)",
            frag);
        return !OK;
    }
    chain = apr_pstrcat(pconf, frag, ":",
                        original_krb5_config ? original_krb5_config
                                             : N8443_KRB5_DEFAULT_PROFILE,
                        NULL);
    setenv("KRB5_CONFIG", chain, 1);
    /* Once per start: not in httpd's first, configuration-check pass. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK;
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 N8443LOGNO(071) "Kerberos settings fixed until the next "
                 "restart, for the "
                 "fast path and GSS-API alike: clock skew %ld s (%s), "
                 "allow_weak_crypto %s, ignore_acceptor_hostname %s; the "
                 "replay cache keeps authenticators %ld s "
                 "(KRB5_CONFIG=%s)",
                 n8443_instance.clock_skew,
                 n8443_instance.clock_skew_set ? "NegotiateClockSkew"
                                               : "krb5.conf",
                 v.allow_weak_crypto ? "true" : "false",
                 v.ignore_acceptor_hostname ? "true" : "false",
                 (long)apr_time_sec(n8443_rc_retention()), chain);
    return OK;
}
