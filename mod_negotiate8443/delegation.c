/*
 * delegation.c - credentials for the application behind the login:
 *
 *   NegotiateDelegation On            the ticket the client delegated
 *   NegotiateConstrainedDelegation On S4U2Proxy evidence: the client's own
 *                                     (forwardable) service ticket plus the
 *                                     service's keys, so that the
 *                                     application can get tickets to the
 *                                     backends the KDC allows, for the user
 *
 * Either way the credentials go into a FILE ccache under
 * NegotiateDelegationDir and the application gets KRB5CCNAME.  The file
 * name is a digest of the principal, never its text: a principal with '/'
 * or '..' cannot name a path outside the directory.  The file is written
 * under a temporary name and renamed into place, so a concurrent request
 * of the same user never reads half a cache; its mtime is set to the
 * credentials' end, and caches past that are removed.
 */
#include "n8443_private.h"

#include "apr_file_info.h"
#include "apr_strings.h"
#include "replay_key.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define CC_PREFIX "n8443cc_"
/* How often (per process) the directory is swept for expired caches. */
#define SWEEP_INTERVAL apr_time_from_sec(60)

static apr_time_t last_sweep;

/* CC_PREFIX + 32 hex digits of SHA-256(principal). */
static const char *cache_file_name(apr_pool_t *p, const char *principal)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char hex[33];
    int i;

    if (!EVP_Digest(principal, strlen(principal), md, &n, EVP_sha256(),
                    NULL) || n < 16)
        return NULL;
    for (i = 0; i < 16; i++)
        apr_snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return apr_pstrcat(p, CC_PREFIX, hex, NULL);
}

/* Remove caches whose credentials have ended (mtime = end time). */
static void sweep(request_rec *r, const char *dir)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    apr_time_t now = apr_time_now();

    if (now - last_sweep < SWEEP_INTERVAL)
        return;
    last_sweep = now;
    if (apr_dir_open(&d, dir, r->pool) != APR_SUCCESS)
        return;
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_MTIME | APR_FINFO_TYPE,
                        d) == APR_SUCCESS) {
        if (fi.filetype != APR_REG
            || strncmp(fi.name, CC_PREFIX, sizeof(CC_PREFIX) - 1) != 0
            || fi.mtime > now)
            continue;
        apr_file_remove(apr_pstrcat(r->pool, dir, "/", fi.name, NULL),
                        r->pool);
    }
    apr_dir_close(d);
}

const char *n8443_delegation_store(request_rec *r,
                                   const n8443_server_conf *sc,
                                   const char *principal, gss_cred_id_t cred)
{
    gss_key_value_element_desc el;
    gss_key_value_set_desc store = { 1, &el };
    OM_uint32 maj, min, lifetime = 0;
    const char *name, *final, *tmp;
    unsigned char rnd[8];
    struct timeval tv[2];
    char text[512];

    if (sc->delegation_dir == NULL)
        return NULL;
    name = cache_file_name(r->pool, principal);
    if (name == NULL || RAND_bytes(rnd, sizeof(rnd)) != 1)
        return NULL;
    final = apr_pstrcat(r->pool, sc->delegation_dir, "/", name, NULL);
    tmp = apr_psprintf(r->pool, "%s.tmp.%02x%02x%02x%02x%02x%02x%02x%02x",
                       final, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5],
                       rnd[6], rnd[7]);

    el.key = "ccache";
    el.value = apr_pstrcat(r->pool, "FILE:", tmp, NULL);
    maj = gss_store_cred_into(&min, cred, GSS_C_INITIATE, GSS_C_NO_OID, 1, 1,
                              &store, NULL, NULL);
    if (GSS_ERROR(maj)) {
        n8443_gss_error_text(maj, min, text, sizeof(text));
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, N8443LOGNO(110)
                      "cannot store the delegated credentials of %s in %s: "
                      "%s", principal, sc->delegation_dir, text);
        unlink(tmp);
        return NULL;
    }
    /* MIT writes caches 0600; make sure of it before the rename. */
    if (chmod(tmp, S_IRUSR | S_IWUSR) != 0 || rename(tmp, final) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, errno, r, N8443LOGNO(111)
                      "cannot put the credential cache in place in %s",
                      sc->delegation_dir);
        unlink(tmp);
        return NULL;
    }
    if (!GSS_ERROR(gss_inquire_cred(&min, cred, NULL, &lifetime, NULL,
                                    NULL)) && lifetime != GSS_C_INDEFINITE) {
        gettimeofday(&tv[0], NULL);
        tv[1].tv_sec = tv[0].tv_sec + (time_t)lifetime;
        tv[1].tv_usec = 0;
        utimes(final, tv);
    }
    sweep(r, sc->delegation_dir);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, N8443LOGNO(112)
                  "credentials of %s stored for the application (%s)",
                  principal, name);
    return apr_pstrcat(r->pool, "FILE:", final, NULL);
}

/* Start-up: the directory exists, is a directory, and is not open to
 * others (the caches in it are the users' credentials). */
const char *n8443_delegation_check_dir(apr_pool_t *p, const char *dir)
{
    struct stat sb;

    if (stat(dir, &sb) != 0)
        return apr_psprintf(p, "%s does not exist", dir);
    if (!S_ISDIR(sb.st_mode))
        return apr_psprintf(p, "%s is not a directory", dir);
    if (sb.st_mode & (S_IWGRP | S_IWOTH | S_IRWXO))
        return apr_psprintf(p, "%s is open to other users (mode %04o): it "
                            "must be 0700, owned by the httpd user", dir,
                            (unsigned)(sb.st_mode & 07777));
    return NULL;
}
