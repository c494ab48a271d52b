/*
 * n8443ctl check --online - like `kvno -k`: a ticket for each SPN,
 * decrypted with the keytab, which tells a stale keytab (the KDC's kvno
 * is newer) from a wrong key (online.kvno, online.decrypt).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check_online.h"

/* Does the keytab have PRINCIPAL at KVNO (with ENCTYPE, if not 0)? */
static int keytab_has_key(const struct n8443_keytab *kt, const char *principal,
                          krb5_kvno kvno, krb5_enctype enctype)
{
    size_t i;

    for (i = 0; i < kt->n; i++) {
        if (strcmp(kt->entries[i].principal, principal) == 0
            && kt->entries[i].kvno == kvno
            && (enctype == 0 || kt->entries[i].enctype == enctype)) {
            return 1;
        }
    }
    return 0;
}

/*
 * The KDC's kvno for PRINCIPAL against the keytab's, and its ticket
 * decrypted with the keytab (kvno -k).
 */
void n8443_online_check_spn(struct online *on, const char *principal)
{
    struct n8443_check_ctx *ctx = on->ctx;
    krb5_creds in;
    krb5_creds *out = NULL;
    krb5_ticket *tkt = NULL;
    struct n8443_record *rec;
    krb5_error_code code;
    krb5_kvno newest = n8443_keytab_newest_kvno(&ctx->kt, principal);
    krb5_kvno kvno;
    char ename[64];
    char msg[256];
    time_t before;
    time_t after;

    memset(&in, 0, sizeof(in));
    in.client = on->client;
    code = krb5_parse_name(ctx->kctx, principal, &in.server);
    if (code != 0) {
        return;
    }
    before = time(NULL);
    code = krb5_get_credentials(ctx->kctx, 0, on->cc, &in, &out);
    after = time(NULL);
    if (code == KRB5KRB_AP_ERR_SKEW) {
        if (!on->clock_reported) {
            on->clock_reported = 1;
            rec = n8443_report_add(
                ctx->rep, "online.clock", N8443_SEV_ERROR,
                "the KDC refused a request from this host as too far off in "
                "time (clock skew too great): every client with a correct "
                "clock is refused too. Synchronise the clock (chronyd or "
                "ntpd)");
        }
        goto cleanup;
    }
    if (code != 0) {
        n8443_online_kerr(on, code, msg, sizeof(msg));
        if (code == KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN) {
            rec = n8443_report_add(
                ctx->rep, "online.kvno", N8443_SEV_ERROR,
                "the KDC has no principal %s: browsers get no ticket for it "
                "and fall back to NTLM or a password prompt. Create it (MIT: "
                "kadmin addprinc -randkey; AD: setspn -S; FreeIPA: ipa "
                "service-add) and export its key",
                principal);
        }
        else {
            rec = n8443_report_add(ctx->rep, "online.kvno", N8443_SEV_ERROR,
                                   "cannot get a ticket for %s from the KDC: "
                                   "%s",
                                   principal, msg);
            if (n8443_online_kdc_unreachable(code)) {
                n8443_record_unusable(rec);
            }
        }
        n8443_record_detail(ctx->rep, rec, "principal", "%s", principal);
        goto cleanup;
    }
    n8443_online_note_kdc_time(
        on, out->times.starttime ? out->times.starttime : out->times.authtime,
        before, after);
    n8443_online_report_clock(on);
    code = krb5_decode_ticket(&out->ticket, &tkt);
    if (code != 0) {
        goto cleanup;
    }
    kvno = tkt->enc_part.kvno;
    n8443_enctype_name(tkt->enc_part.enctype, ename, sizeof(ename));

    if (kvno == newest) {
        rec = n8443_report_add(ctx->rep, "online.kvno", N8443_SEV_OK,
                               "%s: the KDC's kvno %u is the keytab's "
                               "newest",
                               principal, (unsigned)kvno);
    }
    else if (newest == 0) {
        rec = n8443_report_add(
            ctx->rep, "online.kvno", N8443_SEV_ERROR,
            "the KDC issues tickets for %s (kvno %u), but the keytab has no "
            "key for it: export it into the keytab",
            principal, (unsigned)kvno);
    }
    else if (kvno > newest) {
        rec = n8443_report_add(
            ctx->rep, "online.kvno", N8443_SEV_ERROR,
            "stale keytab: the KDC's key for %s is kvno %u, the keytab's "
            "newest is kvno %u, so every ticket is refused. The key changed "
            "on the KDC after the keytab was exported (another ktadd or "
            "randkey, a password reset, a re-join): export the current key "
            "once more (kadmin ktadd -norandkey, ipa-getkeytab -r, msktutil "
            "--update) and give every server behind the name the same file",
            principal, (unsigned)kvno, (unsigned)newest);
    }
    else {
        rec = n8443_report_add(
            ctx->rep, "online.kvno", N8443_SEV_ERROR,
            "the keytab's newest key for %s is kvno %u, newer than the "
            "KDC's kvno %u: the keytab was made for another KDC, or for an "
            "account that was deleted and created again, or another "
            "account holds the same SPN (setspn -Q / -X)",
            principal, (unsigned)newest, (unsigned)kvno);
    }
    n8443_record_detail(ctx->rep, rec, "principal", "%s", principal);
    n8443_record_detail_num(ctx->rep, rec, "kdc_kvno", kvno);
    n8443_record_detail_num(ctx->rep, rec, "keytab_kvno", newest);

    code = krb5_server_decrypt_ticket_keytab(ctx->kctx, on->kt, tkt);
    if (code == 0) {
        rec = n8443_report_add(ctx->rep, "online.decrypt", N8443_SEV_OK,
                               "a ticket from the KDC for %s (kvno %u, %s) "
                               "decrypts with the keytab",
                               principal, (unsigned)kvno, ename);
    }
    else if (!keytab_has_key(&ctx->kt, principal, kvno, 0)) {
        rec = n8443_report_add(
            ctx->rep, "online.decrypt", N8443_SEV_ERROR,
            "a ticket from the KDC for %s is encrypted with kvno %u, which "
            "the keytab does not have: %s",
            principal, (unsigned)kvno,
            kvno > newest ? "stale keytab (see online.kvno), export the "
                            "current key"
                          : "the keytab belongs to another account or KDC "
                            "(see online.kvno)");
    }
    else if (!keytab_has_key(&ctx->kt, principal, kvno,
                             tkt->enc_part.enctype)) {
        rec = n8443_report_add(
            ctx->rep, "online.decrypt", N8443_SEV_ERROR,
            "the KDC encrypts tickets for %s with %s, but the keytab's kvno "
            "%u has no %s key: export all enctypes of the current key",
            principal, ename, (unsigned)kvno, ename);
    }
    else {
        rec = n8443_report_add(
            ctx->rep, "online.decrypt", N8443_SEV_ERROR,
            "wrong key: a ticket from the KDC for %s (kvno %u, %s) does not "
            "decrypt with the keytab's key of the same kvno. The keytab was "
            "exported from another key with the same number (the principal "
            "deleted and created again, an export on another KDC, a keytab "
            "typed in with ktutil and the wrong password or salt), or "
            "another account holds the same SPN (setspn -X). Export the "
            "current key again",
            principal, (unsigned)kvno, ename);
        n8443_record_detail(ctx->rep, rec, "krb5", "%s",
                            n8443_online_kerr(on, code, msg, sizeof(msg)));
    }
    n8443_record_detail(ctx->rep, rec, "principal", "%s", principal);
    n8443_record_detail_num(ctx->rep, rec, "kvno", kvno);
    n8443_record_detail(ctx->rep, rec, "enctype", "%s", ename);

cleanup:
    if (tkt != NULL) {
        krb5_free_ticket(ctx->kctx, tkt);
    }
    if (out != NULL) {
        krb5_free_creds(ctx->kctx, out);
    }
    krb5_free_principal(ctx->kctx, in.server);
}
