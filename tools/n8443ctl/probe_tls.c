/*
 * n8443ctl probe - TLS: the connection, and the certificate as a client
 * sees it.
 *
 * The chain is verified against the system's trust store (or --ca); the
 * name, the dates and the RFC 5929 binding are judged separately so that
 * each gets its own record and its own advice.  The binding is computed
 * by core/channel_binding.c, the code the module uses for its side: the
 * hash of the certificate with the hash function of its signature, none
 * for Ed25519/Ed448.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "probe.h"

/* Days before expiry that earn a warning. */
#define EXPIRY_WARN_DAYS 14

/* The certificate's DNS names and addresses, comma-separated. */
static void cert_names(X509 *cert, char *buf, size_t len)
{
    GENERAL_NAMES *names =
        X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    size_t used = 0;
    int i;

    buf[0] = '\0';
    for (i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

        if (gn->type == GEN_DNS && used < len) {
            used += (size_t)snprintf(
                buf + used, len - used, "%s%.*s", used ? ", " : "",
                ASN1_STRING_length(gn->d.dNSName),
                (const char *)ASN1_STRING_get0_data(gn->d.dNSName));
        }
        else if (gn->type == GEN_IPADD && used < len) {
            used += (size_t)snprintf(buf + used, len - used, "%sIP address",
                                     used ? ", " : "");
        }
    }
    GENERAL_NAMES_free(names);
    if (buf[0] == '\0') {
        X509_NAME_oneline(X509_get_subject_name(cert), buf, (int)len);
    }
}

static void when(const ASN1_TIME *t, char *buf, size_t len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int n = 0;

    buf[0] = '\0';
    if (bio != NULL && ASN1_TIME_print(bio, t) == 1) {
        n = BIO_read(bio, buf, (int)len - 1);
    }
    buf[n > 0 ? n : 0] = '\0';
    BIO_free(bio);
}

/* tls.chain: the verification OpenSSL did during the handshake. */
static int report_chain(struct n8443_probe *p, SSL *ssl, X509 *cert)
{
    long v = SSL_get_verify_result(ssl);
    struct n8443_record *rec;
    char issuer[256];

    X509_NAME_oneline(X509_get_issuer_name(cert), issuer, sizeof(issuer));
    if (v == X509_V_OK) {
        rec = n8443_report_add(p->rep, "tls.chain", N8443_SEV_OK,
                               "the certificate chain verifies against %s",
                               p->args->ca_file ? p->args->ca_file
                                                : "the system's trust store");
    }
    else if (v == X509_V_ERR_CERT_HAS_EXPIRED
             || v == X509_V_ERR_CERT_NOT_YET_VALID) {
        /* tls.expiry says it with the dates. */
        rec = n8443_report_add(p->rep, "tls.chain", N8443_SEV_ERROR,
                               "the certificate chain does not verify: %s "
                               "(see tls.expiry)",
                               X509_verify_cert_error_string(v));
    }
    else {
        rec = n8443_report_add(
            p->rep, "tls.chain", N8443_SEV_ERROR,
            "the certificate chain does not verify: %s. Install the "
            "intermediate certificates on the server (SSLCertificateFile "
            "with the chain), or give the issuing CA to this client "
            "(--ca FILE, or the system's trust store)",
            X509_verify_cert_error_string(v));
    }
    n8443_record_detail(p->rep, rec, "issuer", "%s", issuer);
    return v == X509_V_OK;
}

/* tls.name: is the URL's host in the certificate? */
static int report_name(struct n8443_probe *p, X509 *cert)
{
    struct n8443_record *rec;
    char names[1024];
    int ok;

    if (p->url.host_is_ip) {
        ok = X509_check_ip_asc(cert, p->url.host, 0) == 1;
    }
    else {
        ok = X509_check_host(cert, p->url.host, 0, 0, NULL) == 1;
    }
    cert_names(cert, names, sizeof(names));
    if (ok) {
        rec = n8443_report_add(p->rep, "tls.name", N8443_SEV_OK,
                               "the certificate is valid for %s", p->url.host);
    }
    else {
        rec = n8443_report_add(
            p->rep, "tls.name", N8443_SEV_ERROR,
            "the certificate is not valid for %s (it names: %s): browsers "
            "refuse the site. Issue a certificate with %s in its subject "
            "alternative names, or use a name it has",
            p->url.host, names, p->url.host);
    }
    n8443_record_detail(p->rep, rec, "names", "%s", names);
    return ok;
}

/* tls.expiry: the dates, with a warning two weeks ahead. */
static int report_expiry(struct n8443_probe *p, X509 *cert)
{
    const ASN1_TIME *nb = X509_get0_notBefore(cert);
    const ASN1_TIME *na = X509_get0_notAfter(cert);
    struct n8443_record *rec;
    char until[64];
    char from[64];
    int days = 0;
    int secs = 0;
    int ok = 0;

    when(nb, from, sizeof(from));
    when(na, until, sizeof(until));
    if (X509_cmp_current_time(nb) > 0) {
        rec = n8443_report_add(p->rep, "tls.expiry", N8443_SEV_ERROR,
                               "the certificate is not valid before %s: "
                               "check this host's clock, or the "
                               "certificate's dates",
                               from);
    }
    else if (X509_cmp_current_time(na) < 0) {
        rec = n8443_report_add(p->rep, "tls.expiry", N8443_SEV_ERROR,
                               "the certificate expired on %s: renew it "
                               "(and reload httpd)",
                               until);
    }
    else {
        ASN1_TIME_diff(&days, &secs, NULL, na);
        ok = 1;
        rec = n8443_report_add(
            p->rep, "tls.expiry",
            days < EXPIRY_WARN_DAYS ? N8443_SEV_WARNING : N8443_SEV_OK,
            "the certificate is valid until %s (%d "
            "day%s)%s",
            until, days, days == 1 ? "" : "s",
            days < EXPIRY_WARN_DAYS ? ": renew it soon" : "");
        n8443_record_detail_num(p->rep, rec, "days_left", days);
    }
    n8443_record_detail(p->rep, rec, "not_before", "%s", from);
    n8443_record_detail(p->rep, rec, "not_after", "%s", until);
    return ok;
}

/* tls.binding: the tls-server-end-point data a client will send. */
static void report_binding(struct n8443_probe *p, X509 *cert)
{
    unsigned char *der = NULL;
    struct n8443_record *rec;
    const char *hash = NULL;
    n8443_cert_hash_status st;
    char *pem = NULL;
    long pemlen;
    BIO *bio;
    int len;

    len = i2d_X509(cert, &der);
    if (len <= 0) {
        return;
    }
    st = n8443_cb_from_der(der, (size_t)len, p->cb, &p->cb_len);
    bio = BIO_new(BIO_s_mem());
    if (bio != NULL && PEM_write_bio_X509(bio, cert) == 1) {
        pemlen = BIO_get_mem_data(bio, &pem);
        hash = n8443_cb_hash_name_pem(pem, (size_t)pemlen);
    }
    if (st == N8443_CERT_HASH_OK) {
        p->have_cb = 1;
        rec = n8443_report_add(p->rep, "tls.binding", N8443_SEV_OK,
                               "channel binding (tls-server-end-point) "
                               "uses %s of the certificate",
                               hash ? hash : "a hash");
        n8443_record_detail(p->rep, rec, "hash", "%s", hash ? hash : "?");
    }
    else if (st == N8443_CERT_HASH_NONE) {
        n8443_report_add(
            p->rep, "tls.binding", N8443_SEV_WARNING,
            "the certificate's signature has no hash (Ed25519 or Ed448): "
            "RFC 5929 defines no tls-server-end-point binding for it, so "
            "clients send none, and NegotiateChannelBinding require "
            "refuses every login. Use an RSA or ECDSA certificate where "
            "binding is wanted");
    }
    else {
        n8443_report_add(p->rep, "tls.binding", N8443_SEV_WARNING,
                         "cannot compute the channel binding of the "
                         "certificate");
    }
    BIO_free(bio);
    OPENSSL_free(der);
}

void n8443_probe_tls(struct n8443_probe *p)
{
    struct n8443_record *rec;
    SSL *ssl = NULL;
    X509 *cert = NULL;
    char err[512];
    int trusted;

    if (n8443_probe_connect(p, &ssl, err, sizeof(err)) != 0) {
        if (strstr(err, "refused") != NULL) {
            rec = n8443_report_add(
                p->rep, "tls.connect", N8443_SEV_ERROR,
                "nothing listens on %s port %d (%s): is httpd running, with "
                "Listen %d, and does the firewall let it through?",
                p->url.host, p->url.port, err, p->url.port);
        }
        else {
            rec = n8443_report_add(p->rep, "tls.connect", N8443_SEV_ERROR,
                                   "no TLS connection to %s port %d: %s",
                                   p->url.host, p->url.port, err);
        }
        n8443_record_unusable(rec);
        p->unreachable = 1;
        return;
    }
    p->tls_up = 1;
    rec = n8443_report_add(p->rep, "tls.connect", N8443_SEV_OK,
                           "TLS connection to %s port %d: %s, %s", p->url.host,
                           p->url.port, SSL_get_version(ssl),
                           SSL_get_cipher_name(ssl));
    cert = SSL_get1_peer_certificate(ssl);
    if (cert == NULL) {
        n8443_report_add(p->rep, "tls.chain", N8443_SEV_ERROR,
                         "the server sent no certificate");
        goto cleanup;
    }
    trusted = report_chain(p, ssl, cert);
    trusted &= report_name(p, cert);
    trusted &= report_expiry(p, cert);
    report_binding(p, cert);
    p->tls_trusted = trusted;

cleanup:
    X509_free(cert);
    n8443_probe_disconnect(ssl);
}
