/*
 * n8443ctl probe - the ticket: can this user get a service ticket for
 * the SPN each client asks for, and which key (kvno, enctype) is it for?
 *
 * The user's ticket-granting ticket (from --ccache, KRB5CCNAME, or a
 * password prompt for --as) is copied into a private MEMORY ccache, so
 * that a service ticket cached before a key change cannot hide the
 * change and the user's cache is left as it was.  A KDC error becomes a
 * cause and a fix: "Server not found in Kerberos database" is a missing
 * SPN, and the record names the command that registers it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

static const char *kerr(krb5_context kctx, krb5_error_code code, char *buf,
                        size_t len)
{
    const char *msg = krb5_get_error_message(kctx, code);

    snprintf(buf, len, "%s", msg);
    krb5_free_error_message(kctx, msg);
    return buf;
}

static int kdc_unreachable(krb5_error_code code)
{
    return code == KRB5_KDC_UNREACH || code == KRB5_REALM_CANT_RESOLVE
           || code == KRB5_REALM_UNKNOWN || code == ETIMEDOUT
           || code == ECONNREFUSED;
}

static void time_text(krb5_timestamp t, char *buf, size_t len)
{
    time_t tt = (time_t)(uint32_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL
        || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) {
        snprintf(buf, len, "?");
    }
}

/* What a KDC error means for the client, and what to do. */
static const char *kdc_advice(krb5_error_code code)
{
    switch (code) {
    case KRB5KRB_AP_ERR_SKEW:
        return "this host's clock is too far from the KDC's (more than the "
               "clock skew, 5 minutes by default): synchronise it (chronyd "
               "or ntpd against the KDCs or domain controllers)";
    case KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN:
        return "the KDC does not know this user: check the name and the "
               "realm (kinit user@REALM)";
    case KRB5KDC_ERR_PREAUTH_FAILED:
    case KRB5KRB_AP_ERR_BAD_INTEGRITY: return "wrong password";
    case KRB5KDC_ERR_ETYPE_NOSUPP:
        return "the KDC and this client share no encryption type for this "
               "key: the account has only keys this client refuses (DES, "
               "RC4) or the other way round. Check permitted_enctypes in "
               "krb5.conf and the account's encryption types "
               "(msDS-SupportedEncryptionTypes in AD), then reset the key";
    case KRB5KRB_AP_ERR_TKT_EXPIRED:
    case KRB5KDC_ERR_TGT_REVOKED:
        return "the ticket-granting ticket expired or was revoked: kinit "
               "again";
    case KRB5KDC_ERR_KEY_EXP:
    case KRB5KDC_ERR_CLIENT_REVOKED:
        return "the account is locked, disabled or its password expired";
    case KRB5KDC_ERR_POLICY:
    case KRB5KDC_ERR_BADOPTION:
        return "the KDC's policy refuses this ticket (for example a service "
               "that no user may get tickets for)";
    default: return "see the Kerberos message";
    }
}

/* Copy the valid TGTs of NAME into p->cc.  Returns 0, or -1 after the
 * ticket.client record. */
static int client_from_ccache(struct n8443_probe *p, const char *name)
{
    krb5_context kctx = p->kctx;
    krb5_ccache user = NULL;
    krb5_principal princ = NULL;
    struct n8443_record *rec;
    krb5_cc_cursor cursor;
    krb5_creds creds;
    krb5_error_code code;
    krb5_timestamp newest_end = 0;
    time_t now = time(NULL);
    char msg[256];
    int started = 0;
    int stored = 0;
    int rc = -1;

    code = krb5_cc_resolve(kctx, name, &user);
    if (code == 0) {
        code = krb5_cc_get_principal(kctx, user, &princ);
    }
    if (code != 0) {
        rec = n8443_report_add(p->rep, "ticket.client", N8443_SEV_ERROR,
                               "no Kerberos tickets in %s (%s): kinit "
                               "first, or give --as PRINCIPAL",
                               name, kerr(kctx, code, msg, sizeof(msg)));
        n8443_record_detail(p->rep, rec, "ccache", "%s", name);
        goto cleanup;
    }
    code = krb5_cc_initialize(kctx, p->cc, princ);
    if (code == 0) {
        code = krb5_cc_start_seq_get(kctx, user, &cursor);
    }
    if (code != 0) {
        rec = n8443_report_add(p->rep, "ticket.client", N8443_SEV_ERROR,
                               "cannot read %s: %s", name,
                               kerr(kctx, code, msg, sizeof(msg)));
        goto cleanup;
    }
    started = 1;
    while (krb5_cc_next_cred(kctx, user, &cursor, &creds) == 0) {
        if (!krb5_is_config_principal(kctx, creds.server)
            && creds.server->length == 2 && creds.server->data[0].length == 6
            && memcmp(creds.server->data[0].data, "krbtgt", 6) == 0) {
            if ((uint32_t)creds.times.endtime > (uint32_t)newest_end) {
                newest_end = creds.times.endtime;
            }
            if ((time_t)(uint32_t)creds.times.endtime > now
                && krb5_cc_store_cred(kctx, p->cc, &creds) == 0) {
                stored++;
            }
        }
        krb5_free_cred_contents(kctx, &creds);
    }
    if (stored == 0) {
        if (newest_end != 0) {
            time_text(newest_end, msg, sizeof(msg));
            rec = n8443_report_add(p->rep, "ticket.client", N8443_SEV_ERROR,
                                   "the tickets in %s expired at %s: kinit "
                                   "again",
                                   name, msg);
        }
        else {
            rec = n8443_report_add(p->rep, "ticket.client", N8443_SEV_ERROR,
                                   "%s holds no ticket-granting ticket: "
                                   "kinit again",
                                   name);
        }
        n8443_record_detail(p->rep, rec, "ccache", "%s", name);
        goto cleanup;
    }
    p->client = princ;
    princ = NULL;
    rc = 0;

cleanup:
    if (started) {
        krb5_cc_end_seq_get(kctx, user, &cursor);
    }
    if (princ != NULL) {
        krb5_free_principal(kctx, princ);
    }
    if (user != NULL) {
        krb5_cc_close(kctx, user);
    }
    return rc;
}

/*
 * The password prompt of --as: the prompt on stderr (stdout carries the
 * report), the answer from stdin, not echoed on a terminal.  A pipe
 * works too, as for kinit.
 */
static krb5_error_code prompter(krb5_context kctx, void *data, const char *name,
                                const char *banner, int num_prompts,
                                krb5_prompt prompts[])
{
    struct termios saved;
    struct termios quiet;
    int tty = isatty(STDIN_FILENO);
    krb5_error_code code = 0;
    int i;

    (void)kctx;
    (void)data;
    if (name != NULL) {
        fprintf(stderr, "%s\n", name);
    }
    if (banner != NULL) {
        fprintf(stderr, "%s\n", banner);
    }
    for (i = 0; i < num_prompts && code == 0; i++) {
        krb5_data *reply = prompts[i].reply;
        size_t len;

        fprintf(stderr, "%s: ", prompts[i].prompt);
        fflush(stderr);
        if (tty && prompts[i].hidden && tcgetattr(STDIN_FILENO, &saved) == 0) {
            quiet = saved;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        }
        else {
            tty = 0;
        }
        if (fgets(reply->data, (int)reply->length, stdin) == NULL) {
            code = KRB5_LIBOS_CANTREADPWD;
        }
        if (tty) {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
            fputc('\n', stderr);
        }
        if (code == 0) {
            len = strcspn(reply->data, "\r\n");
            reply->data[len] = '\0';
            reply->length = (unsigned int)len;
        }
    }
    return code;
}

/* --as: a password prompt (never a password on the command line). */
static int client_from_password(struct n8443_probe *p, const char *name)
{
    krb5_context kctx = p->kctx;
    krb5_principal princ = NULL;
    struct n8443_record *rec;
    krb5_creds creds;
    krb5_error_code code;
    char msg[256];
    int have = 0;
    int rc = -1;

    memset(&creds, 0, sizeof(creds));
    code = krb5_parse_name(kctx, name, &princ);
    if (code == 0) {
        code = krb5_get_init_creds_password(kctx, &creds, princ, NULL, prompter,
                                            NULL, 0, NULL, NULL);
    }
    if (code == 0) {
        have = 1;
        code = krb5_cc_initialize(kctx, p->cc, princ);
    }
    if (code == 0) {
        code = krb5_cc_store_cred(kctx, p->cc, &creds);
    }
    if (code != 0) {
        rec = n8443_report_add(p->rep, "ticket.client", N8443_SEV_ERROR,
                               "cannot get tickets as %s: %s: %s", name,
                               kerr(kctx, code, msg, sizeof(msg)),
                               kdc_advice(code));
        if (kdc_unreachable(code)) {
            n8443_record_unusable(rec);
        }
        goto cleanup;
    }
    p->client = princ;
    princ = NULL;
    rc = 0;

cleanup:
    if (have) {
        krb5_free_cred_contents(kctx, &creds);
    }
    if (princ != NULL) {
        krb5_free_principal(kctx, princ);
    }
    return rc;
}

static int get_client(struct n8443_probe *p)
{
    struct n8443_record *rec;
    const char *source;
    char *unparsed = NULL;
    krb5_data *realm;
    int rc;

    if (p->args->as_principal != NULL) {
        source = "a password prompt";
        rc = client_from_password(p, p->args->as_principal);
    }
    else {
        source =
            p->args->ccache ? p->args->ccache : krb5_cc_default_name(p->kctx);
        if (source == NULL) {
            source = "the default ticket cache";
        }
        rc = client_from_ccache(p, source);
    }
    if (rc != 0) {
        return -1;
    }
    if (krb5_unparse_name(p->kctx, p->client, &unparsed) != 0) {
        return -1;
    }
    p->client_name = strdup(unparsed);
    krb5_free_unparsed_name(p->kctx, unparsed);
    if (p->client_name == NULL) {
        p->rep->failed = 1;
        return -1;
    }
    realm = krb5_princ_realm(p->kctx, p->client);
    snprintf(p->realm, sizeof(p->realm), "%.*s", (int)realm->length,
             realm->data);
    rec =
        n8443_report_add(p->rep, "ticket.client", N8443_SEV_OK,
                         "client %s, tickets from %s", p->client_name, source);
    n8443_record_detail(p->rep, rec, "client", "%s", p->client_name);
    return 0;
}

/* The realm of HOST, as the client's libraries map it ([domain_realm]);
 * the client's own realm where nothing maps it (a referral would). */
static void host_realm(struct n8443_probe *p, const char *host, char *buf,
                       size_t len)
{
    char **realms = NULL;

    snprintf(buf, len, "%s", p->realm);
    if (krb5_get_host_realm(p->kctx, host, &realms) == 0) {
        if (realms != NULL && realms[0] != NULL && realms[0][0] != '\0') {
            snprintf(buf, len, "%s", realms[0]);
        }
        krb5_free_host_realm(p->kctx, realms);
    }
}

static void enctype_text(krb5_enctype e, char *buf, size_t len)
{
    if (krb5_enctype_to_name(e, FALSE, buf, len) != 0) {
        snprintf(buf, len, "enctype %d", (int)e);
    }
}

/* The clients (of those probed) that ask for HTTP/HOST, "Firefox,
 * curl", into BUF. */
static void clients_of(const struct n8443_probe *p, const char *host, char *buf,
                       size_t len)
{
    size_t used = 0;
    int b;

    buf[0] = '\0';
    for (b = 0; b < PROBE_NBROWSERS && used < len; b++) {
        if ((p->browser < 0 || p->browser == b)
            && strcasecmp(p->spn_host[b], host) == 0) {
            used += (size_t)snprintf(buf + used, len - used, "%s%s",
                                     used ? ", " : "",
                                     n8443_probe_browser_names[b]);
        }
    }
}

/* One service ticket, for HTTP/HOST. */
static void ticket_for(struct n8443_probe *p, const char *host,
                       struct probe_ticket *t)
{
    krb5_context kctx = p->kctx;
    struct n8443_record *rec;
    krb5_creds *out = NULL;
    krb5_ticket *tkt = NULL;
    krb5_error_code code;
    krb5_creds in;
    char clients[64];
    char realm[256];
    char msg[256];

    memset(&in, 0, sizeof(in));
    clients_of(p, host, clients, sizeof(clients));
    host_realm(p, host, realm, sizeof(realm));
    snprintf(t->principal, sizeof(t->principal), "HTTP/%s@%s", host, realm);
    in.client = p->client;
    code = krb5_parse_name(kctx, t->principal, &in.server);
    if (code == 0) {
        code = krb5_get_credentials(kctx, 0, p->cc, &in, &out);
    }
    if (code == KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN) {
        rec = n8443_report_add(
            p->rep, "ticket.spn", N8443_SEV_ERROR,
            "the KDC has no service principal %s (Server not found in "
            "Kerberos database): the clients that ask for it (%s) get no "
            "ticket and fall back to NTLM or a password prompt. Register "
            "the SPN for the server's account and export its key into the "
            "keytab: MIT: kadmin -q "
            "'addprinc -randkey %s' and 'ktadd -k FILE %s'; AD: setspn -S "
            "HTTP/%s ACCOUNT; FreeIPA: ipa service-add HTTP/%s",
            t->principal, clients, t->principal, t->principal, host, host);
    }
    else if (code != 0) {
        rec = n8443_report_add(
            p->rep, "ticket.spn", N8443_SEV_ERROR, "no ticket for %s: %s: %s",
            t->principal, kerr(kctx, code, msg, sizeof(msg)), kdc_advice(code));
        if (kdc_unreachable(code)) {
            n8443_record_unusable(rec);
        }
    }
    else if (krb5_decode_ticket(&out->ticket, &tkt) != 0) {
        rec = n8443_report_add(p->rep, "ticket.spn", N8443_SEV_ERROR,
                               "the KDC's ticket for %s cannot be decoded",
                               t->principal);
    }
    else {
        t->ok = 1;
        t->kvno = tkt->enc_part.kvno;
        enctype_text(tkt->enc_part.enctype, t->enctype, sizeof(t->enctype));
        enctype_text(out->keyblock.enctype, t->session_enctype,
                     sizeof(t->session_enctype));
        rec = n8443_report_add(p->rep, "ticket.spn", N8443_SEV_OK,
                               "ticket for %s: kvno %u, %s", t->principal,
                               (unsigned)t->kvno, t->enctype);
        n8443_record_detail_num(p->rep, rec, "kvno", t->kvno);
        n8443_record_detail(p->rep, rec, "enctype", "%s", t->enctype);
        n8443_record_detail(p->rep, rec, "session_enctype", "%s",
                            t->session_enctype);
    }
    n8443_record_detail(p->rep, rec, "principal", "%s", t->principal);
    n8443_record_detail(p->rep, rec, "asked_for_by", "%s", clients);
    if (tkt != NULL) {
        krb5_free_ticket(kctx, tkt);
    }
    if (out != NULL) {
        krb5_free_creds(kctx, out);
    }
    if (in.server != NULL) {
        krb5_free_principal(kctx, in.server);
    }
}

void n8443_probe_ticket(struct n8443_probe *p)
{
    krb5_error_code code;
    char msg[256];
    size_t i;

    code = krb5_init_context(&p->kctx);
    if (code == 0) {
        code = krb5_cc_new_unique(p->kctx, "MEMORY", NULL, &p->cc);
    }
    if (code != 0) {
        n8443_report_add(p->rep, "ticket.client", N8443_SEV_ERROR,
                         "cannot set up Kerberos: %s (check "
                         "krb5.conf, or KRB5_CONFIG)",
                         p->kctx ? kerr(p->kctx, code, msg, sizeof(msg))
                                 : "no context");
        return;
    }
    if (get_client(p) != 0) {
        return;
    }
    for (i = 0; i < p->nnames; i++) {
        ticket_for(p, p->names[i], &p->tickets[i]);
    }
}

void n8443_probe_ticket_free(struct n8443_probe *p)
{
    if (p->kctx == NULL) {
        return;
    }
    if (p->cc != NULL) {
        krb5_cc_destroy(p->kctx, p->cc);
    }
    if (p->client != NULL) {
        krb5_free_principal(p->kctx, p->client);
    }
    free(p->client_name);
    krb5_free_context(p->kctx);
    p->kctx = NULL;
}
