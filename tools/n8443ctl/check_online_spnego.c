/*
 * n8443ctl check --online - a full SPNEGO round trip to each name,
 * accepted by core/acceptor.c with the module's settings, and the first
 * token presented again, which must be refused as a replay
 * (online.spnego, online.replay).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

#include "acceptor.h"
#include "oids.h"
#include "replay_key.h"
#include "token_walk.h"

#include "check_online.h"

static const unsigned char spnego_bytes[] = {N8443_OID_SPNEGO};
static gss_OID_desc spnego_oid = {sizeof(spnego_bytes), (void *)spnego_bytes};

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
void n8443_online_check_spnego(struct online *on)
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
