/*
 * n8443ctl check --online - ask the KDC, and log in once for real.
 *
 * Like `kvno -k`: get a ticket for each SPN and decrypt it with the
 * keytab, which tells a stale keytab (the KDC's kvno is newer) from a
 * wrong key (same kvno, the key does not decrypt).  The client is the
 * user's ticket cache (--ccache, else KRB5CCNAME) or, on a server with no
 * user ticket, the service key itself.  Either way its tickets go into a
 * private FILE ccache in a temporary directory, so nothing cached from
 * before answers for the KDC, the user's cache is not touched, and the
 * KDC time offset MIT learns in the AS exchange travels with it.
 *
 * Then a full SPNEGO round trip: gss_init_sec_context to each name,
 * accepted by core/acceptor.c with the module's settings (keytab,
 * service principal, channel binding), the client completing on the
 * server's answer, and the first token presented again, which must be
 * refused as a replay.  The replay cache is MIT's, in the temporary
 * directory: the tool has none of its own.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

#include "acceptor.h"
#include "check.h"
#include "replay_key.h"
#include "token_walk.h"

static gss_OID_desc spnego_oid = {6, (void *)"\x2b\x06\x01\x05\x05\x02"};

/* The state of one site's online checks. */
struct online {
    struct n8443_check_ctx *ctx;
    char dir[512];
    char ccache_name[512 + 16];
    char rcache_name[512 + 16];
    krb5_ccache cc;             /* the private ccache */
    krb5_keytab kt;
    krb5_principal client;
    char *client_name;
    const char *client_how;
    long offset;                /* KDC time - local time, seconds */
    int have_offset;
    int clock_reported;
};

static const char *kerr(struct online *on, krb5_error_code code,
                        char *buf, size_t len)
{
    const char *msg = krb5_get_error_message(on->ctx->kctx, code);

    snprintf(buf, len, "%s", msg);
    krb5_free_error_message(on->ctx->kctx, msg);
    return buf;
}

static const char *enctype_name_of(krb5_enctype e, char *buf, size_t len)
{
    if (krb5_enctype_to_name(e, FALSE, buf, len) != 0) {
        snprintf(buf, len, "enctype %d", (int)e);
    }
    return buf;
}

/* Errors that mean "no KDC answered": a service not reached, exit 4. */
static int kdc_unreachable(krb5_error_code code)
{
    return code == KRB5_KDC_UNREACH || code == KRB5_REALM_CANT_RESOLVE
           || code == KRB5_REALM_UNKNOWN || code == ETIMEDOUT
           || code == ECONNREFUSED;
}

/*
 * Where the KDC's clock is: T, a time it stamped into a ticket between
 * our BEFORE and AFTER.  The offset is how far T lies outside that
 * window (0 inside it): whole seconds, which is what the skew is
 * measured in.
 */
static void note_kdc_time(struct online *on, krb5_timestamp t, time_t before,
                          time_t after)
{
    long kdc = (long)(uint32_t)t;

    if (on->have_offset) {
        return;
    }
    if (kdc < (long)before) {
        on->offset = kdc - (long)before;
    }
    else if (kdc > (long)after) {
        on->offset = kdc - (long)after;
    }
    else {
        on->offset = 0;
    }
    on->have_offset = 1;
}

/* A private directory for the ccache and the replay cache. */
static int make_dir(struct online *on)
{
    const char *tmp = getenv("TMPDIR");

    if (tmp == NULL || *tmp != '/' || strlen(tmp) > 400) {
        tmp = "/tmp";
    }
    snprintf(on->dir, sizeof(on->dir), "%s/n8443ctl-check.XXXXXX", tmp);
    if (mkdtemp(on->dir) == NULL) {
        return -1;
    }
    snprintf(on->ccache_name, sizeof(on->ccache_name), "FILE:%s/ccache",
             on->dir);
    snprintf(on->rcache_name, sizeof(on->rcache_name), "file2:%s/rcache",
             on->dir);
    return 0;
}

/*
 * Client credentials from the user's ticket cache NAME: its TGTs copied
 * into the private ccache (not its service tickets: a ticket cached
 * before a key change would hide the change).  Returns 0, or -1 with the
 * reason in WHY.
 */
static int client_from_ccache(struct online *on, const char *name,
                              char *why, size_t whylen)
{
    krb5_context kctx = on->ctx->kctx;
    krb5_ccache user = NULL;
    krb5_principal princ = NULL;
    krb5_cc_cursor cursor;
    krb5_creds creds;
    krb5_error_code code;
    int started = 0;
    int stored = 0;
    char msg[256];
    time_t now = time(NULL);

    code = krb5_cc_resolve(kctx, name, &user);
    if (code == 0) {
        code = krb5_cc_get_principal(kctx, user, &princ);
    }
    if (code != 0) {
        snprintf(why, whylen, "%s: %s", name, kerr(on, code, msg,
                                                   sizeof(msg)));
        goto cleanup;
    }
    code = krb5_cc_initialize(kctx, on->cc, princ);
    if (code == 0) {
        code = krb5_cc_start_seq_get(kctx, user, &cursor);
    }
    if (code != 0) {
        snprintf(why, whylen, "%s: %s", name, kerr(on, code, msg,
                                                   sizeof(msg)));
        goto cleanup;
    }
    started = 1;
    while (krb5_cc_next_cred(kctx, user, &cursor, &creds) == 0) {
        if (!krb5_is_config_principal(kctx, creds.server)
            && creds.server->length == 2
            && creds.server->data[0].length == 6
            && memcmp(creds.server->data[0].data, "krbtgt", 6) == 0
            && (time_t)(uint32_t)creds.times.endtime > now
            && krb5_cc_store_cred(kctx, on->cc, &creds) == 0) {
            stored++;
        }
        krb5_free_cred_contents(kctx, &creds);
    }
    if (stored == 0) {
        snprintf(why, whylen, "%s holds no valid ticket-granting ticket",
                 name);
        goto cleanup;
    }
    on->client = princ;
    princ = NULL;
    on->client_how = "the ticket cache";

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
    return on->client != NULL ? 0 : -1;
}

/* Which keytab principal logs in as the client: the server name's SPN if
 * the keytab has it, else its first HTTP/ key, else its first key. */
static const char *service_client_name(const struct n8443_check_ctx *ctx)
{
    const char *first_http = NULL;
    size_t i;

    for (i = 0; i < ctx->kt.n; i++) {
        const struct n8443_kt_entry *e = &ctx->kt.entries[i];

        if (e->service != NULL && strcmp(e->service, "HTTP") == 0) {
            if (strcmp(e->host, ctx->names[0]) == 0
                && (ctx->realm == NULL || strcmp(e->realm, ctx->realm) == 0)) {
                return e->principal;
            }
            if (first_http == NULL) {
                first_http = e->principal;
            }
        }
    }
    return first_http ? first_http : ctx->kt.entries[0].principal;
}

/*
 * Client credentials from the service key: an AS exchange with the
 * keytab, as `kinit -k` does.  It also measures the KDC's clock (the
 * ticket's authtime), and MIT's kdc_timesync makes the context, and the
 * ccache initialised after it, carry the offset.  Returns 0, or -1 after
 * recording online.client.
 */
static int client_from_keytab(struct online *on, const char *note)
{
    struct n8443_check_ctx *ctx = on->ctx;
    krb5_get_init_creds_opt *opt = NULL;
    krb5_principal princ = NULL;
    struct n8443_record *rec;
    krb5_creds creds;
    krb5_error_code code;
    const char *name = service_client_name(ctx);
    char msg[256];
    time_t before;
    time_t after;
    int have_creds = 0;
    int rc = -1;

    memset(&creds, 0, sizeof(creds));
    code = krb5_parse_name(ctx->kctx, name, &princ);
    if (code == 0) {
        code = krb5_get_init_creds_opt_alloc(ctx->kctx, &opt);
    }
    if (code != 0) {
        goto fail;
    }
    krb5_get_init_creds_opt_set_tkt_life(opt, 600);
    krb5_get_init_creds_opt_set_forwardable(opt, 0);
    krb5_get_init_creds_opt_set_proxiable(opt, 0);
    before = time(NULL);
    code = krb5_get_init_creds_keytab(ctx->kctx, &creds, princ, on->kt, 0,
                                      NULL, opt);
    after = time(NULL);
    if (code != 0) {
        goto fail;
    }
    have_creds = 1;
    note_kdc_time(on, creds.times.authtime, before, after);
    code = krb5_cc_initialize(ctx->kctx, on->cc, princ);
    if (code == 0) {
        code = krb5_cc_store_cred(ctx->kctx, on->cc, &creds);
    }
    if (code != 0) {
        goto fail;
    }
    on->client = princ;
    princ = NULL;
    on->client_how = "the service key";
    rc = 0;
    goto cleanup;

fail:
    kerr(on, code, msg, sizeof(msg));
    if (kdc_unreachable(code)) {
        rec = n8443_report_add(
            ctx->rep, "online.client", N8443_SEV_ERROR,
            "no KDC of %s answered (%s): check [realms] kdc in krb5.conf "
            "(or the DNS SRV records) and that port 88 is open",
            ctx->realm ? ctx->realm : "the realm", msg);
        n8443_record_unusable(rec);
    }
    else if (code == KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN) {
        rec = n8443_report_add(
            ctx->rep, "online.client", N8443_SEV_ERROR,
            "the KDC does not know %s, the keytab's principal: it was "
            "deleted or renamed, or the keytab is from another realm or "
            "domain. Create it again and export its key",
            name);
    }
    else if (code == KRB5KDC_ERR_PREAUTH_FAILED
             || code == KRB5KRB_AP_ERR_BAD_INTEGRITY
             || code == KRB5KDC_ERR_ETYPE_NOSUPP) {
        rec = n8443_report_add(
            ctx->rep, "online.client", N8443_SEV_ERROR,
            "the KDC refused the keytab's key for %s (%s): the keytab is "
            "stale (the key changed on the KDC after it was exported: a "
            "second ktadd or randkey, a password reset, a re-join) or "
            "holds another key. Export the current key again (kadmin "
            "ktadd -norandkey, ipa-getkeytab -r, msktutil --update); run "
            "with --ccache (a user's ticket) to see the KDC's kvno",
            name, msg);
        n8443_record_detail_num(ctx->rep, rec, "keytab_kvno",
                                n8443_keytab_newest_kvno(&ctx->kt, name));
    }
    else {
        rec = n8443_report_add(ctx->rep, "online.client", N8443_SEV_ERROR,
                               "cannot get a ticket with the keytab's key "
                               "for %s: %s",
                               name, msg);
    }
    n8443_record_detail(ctx->rep, rec, "client", "%s", name);
    if (note != NULL) {
        n8443_record_detail(ctx->rep, rec, "ccache", "%s", note);
    }

cleanup:
    if (have_creds) {
        krb5_free_cred_contents(ctx->kctx, &creds);
    }
    if (opt != NULL) {
        krb5_get_init_creds_opt_free(ctx->kctx, opt);
    }
    if (princ != NULL) {
        krb5_free_principal(ctx->kctx, princ);
    }
    return rc;
}

/* The client for everything that follows; records online.client. */
static int get_client(struct online *on)
{
    struct n8443_check_ctx *ctx = on->ctx;
    struct n8443_record *rec;
    krb5_error_code code;
    char why[512] = "";
    char *unparsed = NULL;

    code = krb5_cc_resolve(ctx->kctx, on->ccache_name, &on->cc);
    if (code != 0) {
        return N8443_IO;
    }
    if (ctx->opts->ccache == NULL
        || client_from_ccache(on, ctx->opts->ccache, why, sizeof(why)) != 0) {
        if (client_from_keytab(on, why[0] ? why : NULL) != 0) {
            return -1;
        }
    }
    if (krb5_unparse_name(ctx->kctx, on->client, &unparsed) != 0) {
        return N8443_IO;
    }
    on->client_name = strdup(unparsed);
    krb5_free_unparsed_name(ctx->kctx, unparsed);
    if (on->client_name == NULL) {
        return N8443_IO;
    }
    /* A ticket cache that was asked for and could not be used is worth
     * a warning: the run went on with the service key instead. */
    rec = n8443_report_add(ctx->rep, "online.client",
                           why[0] ? N8443_SEV_WARNING : N8443_SEV_OK,
                           "got tickets from the KDC as %s, with %s%s",
                           on->client_name, on->client_how,
                           why[0] ? " instead of the ticket cache, which "
                                    "could not be used (see ccache_note): "
                                    "kinit again for a user's view"
                                  : "");
    if (why[0]) {
        n8443_record_detail(ctx->rep, rec, "ccache_note", "%s", why);
    }
    n8443_record_detail(ctx->rep, rec, "client", "%s", on->client_name);
    return N8443_OK;
}

/* online.clock, once: from the measured offset, or from a refusal. */
static void report_clock(struct online *on)
{
    struct n8443_check_ctx *ctx = on->ctx;
    struct n8443_record *rec;
    long skew = ctx->clock_skew;
    long off = on->offset < 0 ? -on->offset : on->offset;

    if (on->clock_reported || !on->have_offset) {
        return;
    }
    on->clock_reported = 1;
    if (off > skew) {
        rec = n8443_report_add(
            ctx->rep, "online.clock", N8443_SEV_ERROR,
            "this host's clock is %ld s %s the KDC's, more than the clock "
            "skew (%ld s): every client with a correct clock is refused "
            "(clock skew too great, 401). Synchronise the clock (chronyd or "
            "ntpd against the KDCs or domain controllers)",
            off, on->offset < 0 ? "ahead of" : "behind", skew);
    }
    else if (2 * off > skew) {
        rec = n8443_report_add(
            ctx->rep, "online.clock", N8443_SEV_WARNING,
            "this host's clock is %ld s %s the KDC's, more than half the "
            "clock skew (%ld s): clients whose clocks drift the other way "
            "will be refused. Synchronise the clock (chronyd or ntpd)",
            off, on->offset < 0 ? "ahead of" : "behind", skew);
    }
    else {
        /* Tickets carry whole seconds: "within 1 s" is as exact as
         * it gets. */
        rec = n8443_report_add(ctx->rep, "online.clock", N8443_SEV_OK,
                               "this host's clock is within %ld s of the "
                               "KDC's (clock skew %ld s)",
                               off > 0 ? off : 1, skew);
    }
    n8443_record_detail_num(ctx->rep, rec, "offset", -on->offset);
    n8443_record_detail_num(ctx->rep, rec, "clock_skew", skew);
}

/* Does the keytab have PRINCIPAL at KVNO (with ENCTYPE, if not 0)? */
static int keytab_has_key(const struct n8443_keytab *kt,
                          const char *principal, krb5_kvno kvno,
                          krb5_enctype enctype)
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
static void check_spn_online(struct online *on, const char *principal)
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
        kerr(on, code, msg, sizeof(msg));
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
            if (kdc_unreachable(code)) {
                n8443_record_unusable(rec);
            }
        }
        n8443_record_detail(ctx->rep, rec, "principal", "%s", principal);
        goto cleanup;
    }
    note_kdc_time(on, out->times.starttime ? out->times.starttime
                                           : out->times.authtime,
                  before, after);
    report_clock(on);
    code = krb5_decode_ticket(&out->ticket, &tkt);
    if (code != 0) {
        goto cleanup;
    }
    kvno = tkt->enc_part.kvno;
    enctype_name_of(tkt->enc_part.enctype, ename, sizeof(ename));

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
                            kerr(on, code, msg, sizeof(msg)));
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

/* Channel bindings as the module builds them from the same certificate
 * (binding.c), unless the site switches them off. */
static gss_channel_bindings_t bindings(const struct n8443_check_ctx *ctx,
                                       struct gss_channel_bindings_struct *cb)
{
    if (ctx->site->kerberos.channel_binding.v == N8443_CB_OFF
        || !ctx->have_cb) {
        return GSS_C_NO_CHANNEL_BINDINGS;
    }
    memset(cb, 0, sizeof(*cb));
    cb->initiator_addrtype = GSS_C_AF_UNSPEC;
    cb->acceptor_addrtype = GSS_C_AF_UNSPEC;
    cb->application_data.value = (void *)ctx->cb_data;
    cb->application_data.length = ctx->cb_len;
    return cb;
}

/*
 * The client's side of one step: the first token when INPUT is empty,
 * else the step on the server's answer.  Returns the GSS major status;
 * ERR gets the text of a failure.
 */
static OM_uint32 initiate(gss_cred_id_t icred, gss_ctx_id_t *ictx,
                          gss_name_t target, gss_channel_bindings_t cb,
                          gss_buffer_t input, gss_buffer_t token,
                          char *err, size_t errlen)
{
    OM_uint32 maj;
    OM_uint32 min;

    maj = gss_init_sec_context(&min, icred, ictx, target, &spnego_oid,
                               GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG
                                   | GSS_C_SEQUENCE_FLAG,
                               0, cb, input, NULL, token, NULL, NULL);
    if (GSS_ERROR(maj)) {
        n8443_gss_error_text(maj, min, err, errlen);
    }
    return maj;
}

/* Why the acceptor refused: what the module would log, and what to do. */
static const char *cause_advice(n8443_cause cause)
{
    switch (cause) {
    case N8443_CAUSE_SKEW:
        return "this host's clock is too far from the client's (see "
               "online.clock): synchronise it";
    case N8443_CAUSE_WRONG_PRINCIPAL:
        return "no key in the keytab fits the ticket (see keytab.spn, "
               "online.kvno, online.decrypt and krb5.service-principal)";
    case N8443_CAUSE_BAD_BINDINGS:
        return "the channel bindings differ from the certificate's";
    case N8443_CAUSE_EXPIRED:
        return "the ticket is expired or not yet valid: check the clocks";
    case N8443_CAUSE_REPLAY:
        return "the acceptor took a fresh token for a replay";
    default:
        return "see the GSS-API and Kerberos messages";
    }
}

/* The acceptor as the module sets it up for this site, with the
 * private replay cache (RCACHE) in place of the module's own. */
static int acquire_acceptor(struct online *on, const char *rcache,
                            gss_cred_id_t *cred_out, char *err,
                            size_t errlen)
{
    char buf[512];
    n8443_acceptor_opts opts;

    memset(&opts, 0, sizeof(opts));
    opts.keytab = on->ctx->kt.name;
    opts.principal = n8443_check_acceptor_principal(on->ctx, buf,
                                                    sizeof(buf));
    opts.rcache = rcache;
    return n8443_acceptor_acquire(&opts, cred_out, err, errlen);
}

/*
 * The same token once more.  The module's replay cache keys a login by
 * its authenticator (core/replay_key.c); here MIT's replay cache stands
 * in for it, and the key is computed to show the module can file it.
 */
static void check_replay(struct online *on, gss_cred_id_t acred,
                         const gss_buffer_desc *token,
                         gss_channel_bindings_t cb,
                         const n8443_apreq_info *info)
{
    struct n8443_check_ctx *ctx = on->ctx;
    int none = ctx->site->kerberos.replay_cache.kind == N8443_RC_NONE;
    unsigned char key[N8443_REPLAY_KEY_LEN];
    char hex[2 * N8443_REPLAY_KEY_LEN + 1];
    char principal_buf[512];
    const char *principal;
    n8443_accept_result res;
    struct n8443_record *rec;
    char krb5_text[256];
    char gss_text[512];
    n8443_cause cause;
    long code;
    int rc;

    if (n8443_replay_key(info, key) != 0) {
        n8443_report_add(ctx->rep, "online.replay", N8443_SEV_ERROR,
                         "the module cannot compute a replay-cache key for "
                         "this login (no authenticator found): it would "
                         "refuse it");
        return;
    }
    n8443_replay_key_hex(key, hex);
    rc = n8443_accept_once(acred, token->value, token->length, cb, &res);
    if (rc == 0 && none) {
        rec = n8443_report_add(
            ctx->rep, "online.replay", N8443_SEV_WARNING,
            "the replayed token was accepted as %s, as replay_cache: none "
            "allows: anyone holding a captured token logs in with it. Use "
            "replay_cache: shm (or memcache)",
            res.principal);
    }
    else if (rc == 0) {
        rec = n8443_report_add(ctx->rep, "online.replay", N8443_SEV_ERROR,
                               "a replayed token was accepted: the acceptor "
                               "did not detect the replay");
    }
    else {
        principal = n8443_check_acceptor_principal(ctx, principal_buf,
                                                   sizeof(principal_buf));
        code = n8443_diagnose_apreq(ctx->kt.name, principal,
                                    info->apreq.data, info->apreq.len,
                                    krb5_text, sizeof(krb5_text));
        code = n8443_refusal_code(res.major, res.minor, code);
        cause = n8443_accept_cause(res.major, code);
        if (cause == N8443_CAUSE_REPLAY) {
            rec = n8443_report_add(ctx->rep, "online.replay", N8443_SEV_OK,
                                   "the same token presented again was "
                                   "refused as a replay");
        }
        else {
            n8443_gss_error_text(res.major, res.minor, gss_text,
                                 sizeof(gss_text));
            rec = n8443_report_add(ctx->rep, "online.replay",
                                   N8443_SEV_ERROR,
                                   "the replayed token was refused, but as "
                                   "'%s', not as a replay: %s",
                                   n8443_cause_name(cause), gss_text);
        }
        n8443_record_detail(ctx->rep, rec, "cause", "%s",
                            n8443_cause_name(cause));
    }
    n8443_record_detail(ctx->rep, rec, "replay_key", "%s", hex);
    n8443_accept_result_clear(&res);
}

/*
 * One full login to NAME: the client's token, the module's acceptor,
 * the client completing on the answer; for the first login accepted
 * (*REPLAY_PENDING) also the replay.
 */
static void round_trip(struct online *on, gss_cred_id_t icred,
                       gss_cred_id_t acred, const char *name,
                       int *replay_pending)
{
    struct n8443_check_ctx *ctx = on->ctx;
    int mode = ctx->site->kerberos.channel_binding.v;
    struct gss_channel_bindings_struct cb_buf;
    gss_channel_bindings_t cb = bindings(ctx, &cb_buf);
    gss_buffer_desc token = GSS_C_EMPTY_BUFFER;
    gss_buffer_desc final = GSS_C_EMPTY_BUFFER;
    gss_buffer_desc namebuf;
    gss_ctx_id_t ictx = GSS_C_NO_CONTEXT;
    gss_name_t target = GSS_C_NO_NAME;
    n8443_accept_result res;
    n8443_apreq_info info;
    n8443_tok_status st;
    struct n8443_record *rec = NULL;
    char principal[600];
    char accept_buf[512];
    const char *acceptor_principal;
    char err[512];
    char krb5_text[256];
    OM_uint32 maj;
    OM_uint32 min;
    int accepted = 0;
    int rc;

    memset(&res, 0, sizeof(res));
    snprintf(principal, sizeof(principal), "HTTP/%s@%s", name, ctx->realm);
    namebuf.value = principal;
    namebuf.length = strlen(principal);
    maj = gss_import_name(&min, &namebuf, GSS_KRB5_NT_PRINCIPAL_NAME,
                          &target);
    if (!GSS_ERROR(maj)) {
        maj = initiate(icred, &ictx, target, cb, GSS_C_NO_BUFFER, &token,
                       err, sizeof(err));
    }
    else {
        n8443_gss_error_text(maj, min, err, sizeof(err));
    }
    if (GSS_ERROR(maj)) {
        rec = n8443_report_add(ctx->rep, "online.spnego", N8443_SEV_ERROR,
                               "the client side could not start a login to "
                               "%s: %s",
                               principal, err);
        goto done;
    }
    st = n8443_token_walk(token.value, token.length, &info);
    if (st != N8443_TOK_KRB5) {
        rec = n8443_report_add(ctx->rep, "online.spnego", N8443_SEV_ERROR,
                               "the client's SPNEGO token for %s is one the "
                               "module refuses (%s)",
                               principal, n8443_tok_status_str(st));
        goto done;
    }
    rc = n8443_accept_once(acred, token.value, token.length, cb, &res);
    if (rc < 0) {
        n8443_cause cause;
        long code;

        acceptor_principal = n8443_check_acceptor_principal(
            ctx, accept_buf, sizeof(accept_buf));
        code = n8443_diagnose_apreq(ctx->kt.name, acceptor_principal,
                                    info.apreq.data, info.apreq.len,
                                    krb5_text, sizeof(krb5_text));
        code = n8443_refusal_code(res.major, res.minor, code);
        cause = n8443_accept_cause(res.major, code);
        n8443_gss_error_text(res.major, res.minor, err, sizeof(err));
        rec = n8443_report_add(
            ctx->rep, "online.spnego", N8443_SEV_ERROR,
            "a login to %s was refused (%s, as the module would log it): "
            "%s. GSS-API: %s%s%s",
            name, n8443_cause_name(cause), cause_advice(cause), err,
            krb5_text[0] ? "; Kerberos: " : "", krb5_text);
        n8443_record_detail(ctx->rep, rec, "cause", "%s",
                            n8443_cause_name(cause));
        n8443_record_detail_num(ctx->rep, rec, "ticket_kvno",
                                info.ticket_kvno);
        goto done;
    }
    if (rc > 0) {
        rec = n8443_report_add(ctx->rep, "online.spnego", N8443_SEV_ERROR,
                               "the acceptor asked for a second round trip "
                               "for %s, which the module does not keep "
                               "state for: the login fails",
                               name);
        goto done;
    }
    if (mode == N8443_CB_REQUIRE
        && !(cb != GSS_C_NO_CHANNEL_BINDINGS
             && (res.ret_flags & GSS_C_CHANNEL_BOUND_FLAG))) {
        rec = n8443_report_add(ctx->rep, "online.spnego", N8443_SEV_ERROR,
                               "a login to %s was not bound to the TLS "
                               "channel, and channel_binding: require "
                               "refuses it (see cert.channel-binding)",
                               name);
        goto done;
    }
    accepted = 1;
    maj = initiate(icred, &ictx, target, cb, &res.output, &final, err,
                   sizeof(err));
    if (maj != GSS_S_COMPLETE) {
        rec = n8443_report_add(ctx->rep, "online.spnego", N8443_SEV_ERROR,
                               "the server accepted a login to %s, but the "
                               "client could not verify its answer "
                               "(mutual authentication): %s",
                               name, GSS_ERROR(maj) ? err
                                                    : "it wants more legs");
        goto done;
    }
    rec = n8443_report_add(ctx->rep, "online.spnego", N8443_SEV_OK,
                           "SPNEGO login to %s as %s: accepted with the "
                           "module's settings, mutual authentication "
                           "complete%s",
                           name, res.principal,
                           (res.ret_flags & GSS_C_CHANNEL_BOUND_FLAG)
                               ? ", bound to the TLS certificate"
                               : "");

done:
    n8443_record_detail(ctx->rep, rec, "name", "%s", name);
    if (accepted && *replay_pending
        && n8443_report_wants(ctx->rep, "online.replay")) {
        check_replay(on, acred, &token, cb, &info);
        *replay_pending = 0;
    }
    n8443_accept_result_clear(&res);
    if (ictx != GSS_C_NO_CONTEXT) {
        gss_delete_sec_context(&min, &ictx, GSS_C_NO_BUFFER);
    }
    if (target != GSS_C_NO_NAME) {
        gss_release_name(&min, &target);
    }
    gss_release_buffer(&min, &token);
    gss_release_buffer(&min, &final);
}

/* The round trips of every name, through one acceptor credential as in
 * an httpd child. */
static void check_spnego(struct online *on)
{
    struct n8443_check_ctx *ctx = on->ctx;
    gss_key_value_element_desc element;
    gss_key_value_set_desc store;
    gss_cred_id_t icred = GSS_C_NO_CREDENTIAL;
    gss_cred_id_t acred = GSS_C_NO_CREDENTIAL;
    struct n8443_record *rec;
    const char *rcache;
    char err[1024];
    OM_uint32 maj;
    OM_uint32 min;
    int replay_pending = 1;
    size_t i;

    /* replay_cache none: the module switches MIT's cache off too, so the
     * replay shows what it would do. */
    rcache = ctx->site->kerberos.replay_cache.kind == N8443_RC_NONE
                 ? "none:" : on->rcache_name;
    if (acquire_acceptor(on, rcache, &acred, err, sizeof(err)) != 0) {
        rec = n8443_report_add(ctx->rep, "online.spnego", N8443_SEV_ERROR,
                               "%s: httpd would fail the same way", err);
        goto cleanup;
    }
    element.key = "ccache";
    element.value = on->ccache_name;
    store.count = 1;
    store.elements = &element;
    maj = gss_acquire_cred_from(&min, GSS_C_NO_NAME, GSS_C_INDEFINITE,
                                GSS_C_NO_OID_SET, GSS_C_INITIATE, &store,
                                &icred, NULL, NULL);
    if (GSS_ERROR(maj)) {
        n8443_gss_error_text(maj, min, err, sizeof(err));
        rec = n8443_report_add(ctx->rep, "online.spnego", N8443_SEV_ERROR,
                               "cannot use the client's credentials: %s",
                               err);
        n8443_record_detail(ctx->rep, rec, "ccache", "%s", on->ccache_name);
        goto cleanup;
    }
    for (i = 0; i < ctx->nnames; i++) {
        round_trip(on, icred, acred, ctx->names[i], &replay_pending);
    }

cleanup:
    if (icred != GSS_C_NO_CREDENTIAL) {
        gss_release_cred(&min, &icred);
    }
    if (acred != GSS_C_NO_CREDENTIAL) {
        gss_release_cred(&min, &acred);
    }
}

int n8443_check_online(struct n8443_check_ctx *ctx)
{
    struct online on;
    struct n8443_record *rec;
    char path[512 + 16];
    char principal[600];
    size_t i;
    int rc = N8443_OK;

    if (!n8443_report_wants_online(ctx->rep)) {
        return N8443_OK;
    }
    if (!ctx->kt.loaded || ctx->realm == NULL) {
        rec = n8443_report_add(ctx->rep, "online.client", N8443_SEV_ERROR,
                               "the online checks need a readable keytab "
                               "and a realm (see keytab.file and "
                               "krb5.realm)");
        n8443_record_unusable(rec);
        return ctx->rep->failed ? N8443_IO : N8443_OK;
    }
    memset(&on, 0, sizeof(on));
    on.ctx = ctx;
    if (make_dir(&on) != 0) {
        rec = n8443_report_add(ctx->rep, "online.client", N8443_SEV_ERROR,
                               "cannot create a temporary directory in "
                               "TMPDIR: %s", strerror(errno));
        n8443_record_unusable(rec);
        return ctx->rep->failed ? N8443_IO : N8443_OK;
    }
    if (krb5_kt_resolve(ctx->kctx, ctx->kt.name, &on.kt) != 0) {
        rc = N8443_IO;
        goto cleanup;
    }
    rc = get_client(&on);
    if (rc != N8443_OK) {
        rc = rc < 0 ? N8443_OK : rc;
        goto cleanup;
    }
    for (i = 0; i < ctx->nnames; i++) {
        snprintf(principal, sizeof(principal), "HTTP/%s@%s", ctx->names[i],
                 ctx->realm);
        if (n8443_report_wants(ctx->rep, "online.kvno")
            || n8443_report_wants(ctx->rep, "online.decrypt")
            || n8443_report_wants(ctx->rep, "online.clock")) {
            check_spn_online(&on, principal);
        }
    }
    report_clock(&on);
    if (!on.clock_reported) {
        n8443_report_add(ctx->rep, "online.clock", N8443_SEV_WARNING,
                         "could not measure the clock offset from the KDC "
                         "(no ticket came back): see the other online "
                         "checks");
    }
    if (n8443_report_wants(ctx->rep, "online.spnego")
        || n8443_report_wants(ctx->rep, "online.replay")) {
        check_spnego(&on);
    }

cleanup:
    if (on.cc != NULL) {
        krb5_cc_destroy(ctx->kctx, on.cc);
    }
    if (on.kt != NULL) {
        krb5_kt_close(ctx->kctx, on.kt);
    }
    if (on.client != NULL) {
        krb5_free_principal(ctx->kctx, on.client);
    }
    free(on.client_name);
    snprintf(path, sizeof(path), "%s/rcache", on.dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/ccache", on.dir);
    unlink(path);
    rmdir(on.dir);
    return rc == N8443_OK && ctx->rep->failed ? N8443_IO : rc;
}
