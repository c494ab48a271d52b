/*
 * n8443ctl check - the TLS certificate: readable, matching its key,
 * naming every server name, in date, in chain order, and usable for
 * channel binding the way the site asks for it.
 *
 * The same PEM bytes go to core/channel_binding.c as in the module, so
 * "can this certificate bind?" gets the module's answer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "check.h"

#define MAX_PEM   (1024 * 1024)
#define MAX_CERTS 16
#define WARN_DAYS 30

/* The certificates in file order: cert file first, then the chain file. */
struct cert_set {
    X509 *certs[MAX_CERTS];
    size_t n;
    size_t in_cert_file;
    EVP_PKEY *key;
    char *pem; /* the certificate file's bytes */
    size_t pem_len;
};

/* Whole file into *data_out (NUL-terminated).  Returns 0 or an errno. */
static int slurp(const char *path, char **data_out, size_t *len_out)
{
    char *data = NULL;
    size_t len = 0;
    size_t got;
    FILE *f;
    int err = 0;

    f = fopen(path, "rb");
    if (f == NULL) {
        return errno;
    }
    data = malloc(MAX_PEM + 1);
    if (data == NULL) {
        err = ENOMEM;
        goto cleanup;
    }
    while ((got = fread(data + len, 1, MAX_PEM - len, f)) > 0) {
        len += got;
    }
    if (ferror(f)) {
        err = errno ? errno : EIO;
        goto cleanup;
    }
    if (len == MAX_PEM) {
        err = EFBIG;
        goto cleanup;
    }
    data[len] = '\0';
    *data_out = data;
    *len_out = len;
    data = NULL;

cleanup:
    free(data);
    fclose(f);
    return err;
}

/* No prompt for a pass phrase: an encrypted key is reported instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* Append every PEM certificate of DATA to SET.  Returns how many. */
static size_t read_certs(const char *data, size_t len, struct cert_set *set)
{
    size_t before = set->n;
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    X509 *x;

    if (bio == NULL) {
        return 0;
    }
    while (set->n < MAX_CERTS
           && (x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) != NULL) {
        set->certs[set->n++] = x;
    }
    ERR_clear_error();
    BIO_free(bio);
    return set->n - before;
}

static void set_free(struct cert_set *set)
{
    size_t i;

    for (i = 0; i < set->n; i++) {
        X509_free(set->certs[i]);
    }
    EVP_PKEY_free(set->key);
    free(set->pem);
}

/* "CN=..." of a certificate's subject, one line, into BUF. */
static const char *subject_of(X509 *x, char *buf, size_t len)
{
    X509_NAME_oneline(X509_get_subject_name(x), buf, (int)len);
    return buf;
}

static const char *time_text(const ASN1_TIME *t, char *buf, size_t len)
{
    struct tm tm;

    if (ASN1_TIME_to_tm(t, &tm) != 1
        || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) {
        snprintf(buf, len, "?");
    }
    return buf;
}

/* A file problem as a cert.file record; UNUSABLE when we could not read
 * it (exit 4), not when it holds the wrong thing. */
static void file_error(struct n8443_check_ctx *ctx, const char *what,
                       const char *path, const char *why, int unusable)
{
    struct n8443_record *rec;

    rec = n8443_report_add(ctx->rep, "cert.file", N8443_SEV_ERROR,
                           "cannot use the %s %s: %s", what, path, why);
    n8443_record_detail(ctx->rep, rec, "file", "%s", path);
    if (unusable) {
        n8443_record_unusable(rec);
    }
}

/*
 * Read the certificate, key and chain files into SET.  Returns 1 when
 * the leaf and the key are there (the other checks can run), else 0
 * with a cert.file record.
 */
static int load_files(struct n8443_check_ctx *ctx, struct cert_set *set)
{
    const struct n8443_tls *tls = &ctx->site->tls;
    char *data = NULL;
    size_t len = 0;
    BIO *bio = NULL;
    int err;
    int ok = 0;

    err = slurp(tls->certificate.v, &set->pem, &set->pem_len);
    if (err != 0) {
        file_error(ctx, "certificate", tls->certificate.v, strerror(err), 1);
        goto cleanup;
    }
    set->in_cert_file = read_certs(set->pem, set->pem_len, set);
    if (set->in_cert_file == 0) {
        file_error(ctx, "certificate", tls->certificate.v,
                   "it holds no PEM certificate", 0);
        goto cleanup;
    }
    if (tls->key.v != NULL) {
        err = slurp(tls->key.v, &data, &len);
        if (err != 0) {
            file_error(ctx, "key", tls->key.v, strerror(err), 1);
            goto cleanup;
        }
        bio = BIO_new_mem_buf(data, (int)len);
        set->key = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)
                       : NULL;
        ERR_clear_error();
        if (set->key == NULL) {
            file_error(ctx, "key", tls->key.v,
                       "no PEM private key, or one encrypted with a pass "
                       "phrase (n8443ctl cannot check those)",
                       0);
            goto cleanup;
        }
    }
    if (tls->chain.v != NULL) {
        free(data);
        data = NULL;
        err = slurp(tls->chain.v, &data, &len);
        if (err != 0) {
            file_error(ctx, "chain", tls->chain.v, strerror(err), 1);
            goto cleanup;
        }
        if (read_certs(data, len, set) == 0) {
            file_error(ctx, "chain", tls->chain.v,
                       "it holds no PEM certificate", 0);
            goto cleanup;
        }
    }
    ok = 1;

cleanup:
    BIO_free(bio);
    free(data);
    return ok;
}

static void check_key(struct n8443_check_ctx *ctx, struct cert_set *set)
{
    const struct n8443_tls *tls = &ctx->site->tls;
    struct n8443_record *rec;
    size_t i;

    if (set->key == NULL) {
        return;
    }
    if (X509_check_private_key(set->certs[0], set->key) == 1) {
        n8443_report_add(ctx->rep, "cert.key", N8443_SEV_OK,
                         "the key %s belongs to the certificate", tls->key.v);
        ERR_clear_error();
        return;
    }
    ERR_clear_error();
    for (i = 1; i < set->n; i++) {
        if (X509_check_private_key(set->certs[i], set->key) == 1) {
            break;
        }
    }
    ERR_clear_error();
    if (i < set->n) {
        rec = n8443_report_add(
            ctx->rep, "cert.key", N8443_SEV_ERROR,
            "the key %s belongs to certificate #%zu of %s, not to the "
            "first: mod_ssl takes the first as the server certificate and "
            "refuses to start. Put the server certificate first",
            tls->key.v, i + 1,
            i < set->in_cert_file ? tls->certificate.v : tls->chain.v);
    }
    else {
        rec = n8443_report_add(
            ctx->rep, "cert.key", N8443_SEV_ERROR,
            "the key %s does not belong to the certificate %s: mod_ssl "
            "refuses to start. Install the key the certificate was issued "
            "for (or a certificate issued for this key)",
            tls->key.v, tls->certificate.v);
    }
    n8443_record_detail(ctx->rep, rec, "certificate", "%s", tls->certificate.v);
    n8443_record_detail(ctx->rep, rec, "key", "%s", tls->key.v);
}

/* The DNS names of the subjectAltName, "a, b", into OUT. */
static void san_names(X509 *x, struct n8443_buf *out)
{
    GENERAL_NAMES *names =
        X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int i;

    for (i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

        if (gn->type == GEN_DNS) {
            n8443_buf_printf(
                out, "%s%.*s", out->len ? ", " : "",
                ASN1_STRING_length(gn->d.dNSName),
                (const char *)ASN1_STRING_get0_data(gn->d.dNSName));
        }
    }
    GENERAL_NAMES_free(names);
}

/* Browsers match the address against the subjectAltName only (RFC 6125;
 * the subject CN is ignored), wildcards included. */
static void check_san(struct n8443_check_ctx *ctx, struct cert_set *set)
{
    struct n8443_record *rec;
    struct n8443_buf sans;
    size_t i;

    n8443_buf_init(&sans);
    san_names(set->certs[0], &sans);
    for (i = 0; i < ctx->nnames; i++) {
        const char *name = ctx->names[i];

        if (X509_check_host(set->certs[0], name, 0,
                            X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL)
            == 1) {
            rec = n8443_report_add(ctx->rep, "cert.san", N8443_SEV_OK,
                                   "%s is in the certificate's "
                                   "subjectAltName",
                                   name);
        }
        else {
            rec = n8443_report_add(
                ctx->rep, "cert.san", N8443_SEV_ERROR,
                "%s is not in the certificate's subjectAltName (%s): "
                "browsers stop at a certificate warning before any login. "
                "Have the certificate reissued with DNS:%s",
                name, sans.len ? sans.data : "no DNS names", name);
            n8443_record_detail(ctx->rep, rec, "san", "%s",
                                sans.len ? sans.data : "");
        }
        n8443_record_detail(ctx->rep, rec, "name", "%s", name);
    }
    if (sans.failed) {
        ctx->rep->failed = 1;
    }
    n8443_buf_free(&sans);
}

static void check_expiry(struct n8443_check_ctx *ctx, struct cert_set *set)
{
    const ASN1_TIME *not_before = X509_get0_notBefore(set->certs[0]);
    const ASN1_TIME *not_after = X509_get0_notAfter(set->certs[0]);
    const char *file = ctx->site->tls.certificate.v;
    struct n8443_record *rec;
    char until[64];
    char from[64];
    int days = 0;
    int secs = 0;

    time_text(not_after, until, sizeof(until));
    time_text(not_before, from, sizeof(from));
    if (X509_cmp_current_time(not_before) > 0) {
        rec = n8443_report_add(
            ctx->rep, "cert.expiry", N8443_SEV_ERROR,
            "the certificate %s is not valid before %s: browsers refuse it "
            "(or this host's clock is behind; see online.clock)",
            file, from);
    }
    else if (X509_cmp_current_time(not_after) <= 0) {
        rec = n8443_report_add(ctx->rep, "cert.expiry", N8443_SEV_ERROR,
                               "the certificate %s expired on %s: renew "
                               "it",
                               file, until);
    }
    else {
        ASN1_TIME_diff(&days, &secs, NULL, not_after);
        if (days < WARN_DAYS) {
            rec = n8443_report_add(ctx->rep, "cert.expiry", N8443_SEV_WARNING,
                                   "the certificate %s expires on %s, in "
                                   "%d days: renew it now",
                                   file, until, days);
        }
        else {
            rec = n8443_report_add(ctx->rep, "cert.expiry", N8443_SEV_OK,
                                   "the certificate is valid until %s (%d "
                                   "days)",
                                   until, days);
        }
        n8443_record_detail_num(ctx->rep, rec, "days_left", days);
    }
    n8443_record_detail(ctx->rep, rec, "not_before", "%s", from);
    n8443_record_detail(ctx->rep, rec, "not_after", "%s", until);
}

/* Server certificate first, then each certificate's issuer, as mod_ssl
 * sends them and clients expect them. */
static void check_chain(struct n8443_check_ctx *ctx, struct cert_set *set)
{
    struct n8443_record *rec;
    char subject[256];
    char issuer[256];
    size_t i;

    for (i = 0; i + 1 < set->n; i++) {
        if (X509_check_issued(set->certs[i + 1], set->certs[i]) != X509_V_OK) {
            rec = n8443_report_add(
                ctx->rep, "cert.chain", N8443_SEV_ERROR,
                "certificate #%zu (%s) did not issue #%zu (%s): the chain "
                "is out of order or has a stranger in it, and clients that "
                "do not repair chains fail. List the server certificate "
                "first, then its issuer, then that one's issuer",
                i + 2, subject_of(set->certs[i + 1], issuer, sizeof(issuer)),
                i + 1, subject_of(set->certs[i], subject, sizeof(subject)));
            n8443_record_detail_num(ctx->rep, rec, "position", (long)i + 2);
            return;
        }
    }
    if (set->n == 1) {
        n8443_report_add(ctx->rep, "cert.chain", N8443_SEV_OK,
                         "no intermediate certificates given (the issuer "
                         "must be trusted by clients directly)");
    }
    else {
        n8443_report_add(ctx->rep, "cert.chain", N8443_SEV_OK,
                         "the chain of %zu certificates is in order", set->n);
    }
}

/*
 * RFC 5929's tls-server-end-point hashes the certificate with its
 * signature's hash; an Ed25519 or Ed448 signature has none, so there is
 * no binding: `require` refuses every login, `optional` never binds.
 */
static void check_binding(struct n8443_check_ctx *ctx, struct cert_set *set)
{
    int mode = ctx->site->kerberos.channel_binding.v;
    const char *hash;
    struct n8443_record *rec;
    n8443_cert_hash_status st;

    st = n8443_cb_from_pem(set->pem, set->pem_len, ctx->cb_data, &ctx->cb_len);
    if (st == N8443_CERT_HASH_OK) {
        ctx->have_cb = 1;
        hash = n8443_cb_hash_name_pem(set->pem, set->pem_len);
        n8443_report_add(ctx->rep, "cert.channel-binding", N8443_SEV_OK,
                         "channel binding %s: tls-server-end-point with %s",
                         mode == N8443_CB_OFF       ? "off"
                         : mode == N8443_CB_REQUIRE ? "required"
                                                    : "optional",
                         hash ? hash : "its signature hash");
        return;
    }
    if (st != N8443_CERT_HASH_NONE) {
        return; /* cert.file said why */
    }
    if (mode == N8443_CB_OFF) {
        n8443_report_add(ctx->rep, "cert.channel-binding", N8443_SEV_OK,
                         "channel binding off (the certificate's signature "
                         "has no hash, so it could not bind anyway)");
        return;
    }
    if (mode == N8443_CB_REQUIRE) {
        rec = n8443_report_add(
            ctx->rep, "cert.channel-binding", N8443_SEV_ERROR,
            "channel_binding: require, but the certificate's signature "
            "(EdDSA, e.g. Ed25519) has no hash, so RFC 5929 defines no "
            "tls-server-end-point binding for it and every login is "
            "refused. Use an RSA or ECDSA certificate, or channel_binding: "
            "optional");
    }
    else {
        rec = n8443_report_add(
            ctx->rep, "cert.channel-binding", N8443_SEV_WARNING,
            "the certificate's signature (EdDSA, e.g. Ed25519) has no hash, "
            "so RFC 5929 defines no channel binding for it: logins work "
            "but are never bound to the TLS connection%s. Use an RSA or "
            "ECDSA certificate to get binding",
            ctx->from_site_file ? ""
                                : ", and NegotiateChannelBinding "
                                  "require would refuse them all");
    }
    n8443_record_detail(ctx->rep, rec, "certificate", "%s",
                        ctx->site->tls.certificate.v);
}

int n8443_check_cert(struct n8443_check_ctx *ctx)
{
    const struct n8443_tls *tls = &ctx->site->tls;
    struct n8443_record *rec;
    struct cert_set set;
    char subject[256];

    if (!tls->present || tls->certificate.v == NULL) {
        return N8443_OK; /* --keytab/--host without --cert */
    }
    memset(&set, 0, sizeof(set));
    if (!load_files(ctx, &set)) {
        goto cleanup;
    }
    rec = n8443_report_add(
        ctx->rep, "cert.file", N8443_SEV_OK, "certificate %s (%s)%s%s",
        tls->certificate.v, subject_of(set.certs[0], subject, sizeof(subject)),
        tls->key.v ? " and key " : "", tls->key.v ? tls->key.v : "");
    n8443_record_detail(ctx->rep, rec, "certificate", "%s", tls->certificate.v);
    check_key(ctx, &set);
    if (n8443_report_wants(ctx->rep, "cert.san")) {
        check_san(ctx, &set);
    }
    check_expiry(ctx, &set);
    check_chain(ctx, &set);
    check_binding(ctx, &set);

cleanup:
    set_free(&set);
    return ctx->rep->failed ? N8443_IO : N8443_OK;
}
