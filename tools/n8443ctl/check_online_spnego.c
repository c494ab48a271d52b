/*
 * n8443ctl check --online - a full SPNEGO round trip to each name,
 * accepted as the module accepts it (core/login.c: the fast path, then
 * GSS-API, with the module's settings), and the first token presented
 * again, which the module's replay check must refuse (online.spnego,
 * online.replay).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

#include "acceptor.h"
#include "encode.h"
#include "login.h"
#include "oids.h"
#include "rc_table.h"
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
                          gss_buffer_t input, gss_buffer_t token, char *err,
                          size_t errlen)
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
    default: return "see the GSS-API and Kerberos messages";
    }
}

/* The acceptor as the module sets it up for this site, with the
 * private replay cache (RCACHE) in place of the module's own. */
static int acquire_acceptor(struct online *on, const char *rcache,
                            gss_cred_id_t *cred_out, char *err, size_t errlen)
{
    char buf[512];
    n8443_acceptor_opts opts;

    memset(&opts, 0, sizeof(opts));
    opts.keytab = on->ctx->kt.name;
    opts.principal = n8443_check_acceptor_principal(on->ctx, buf, sizeof(buf));
    opts.rcache = rcache;
    return n8443_acceptor_acquire(&opts, cred_out, err, errlen);
}

/*
 * The login mode the module renders for this site (exchange.c,
 * credentials.c): the fast path unless GSS-Proxy holds the keys, the
 * keytab is not a file (the module copies only a file it can watch),
 * S4U2Proxy evidence is wanted or MIT's own replay cache is the replay
 * cache (all GSS-API's alone).
 */
static int login_mode(const struct n8443_check_ctx *ctx)
{
    const struct n8443_kerberos *k = &ctx->site->kerberos;
    int mode = 0;

    if (!k->gssproxy.v && k->delegation.v != N8443_DELEG_CONSTRAINED
        && k->replay_cache.kind != N8443_RC_KRB5
        && (ctx->kt.name == NULL || n8443_keytab_file(ctx->kt.name))) {
        mode |= N8443_LOGIN_FAST_PATH;
    }
    if (k->channel_binding.v == N8443_CB_REQUIRE) {
        mode |= N8443_LOGIN_REQUIRE_BINDING;
    }
    return mode;
}

static void release_keys(n8443_login_keys *keys);

/*
 * The keys of one login (core/login.h) as the module fills them
 * (credentials.c): the acceptor credentials and, for the fast path, a
 * krb5 context of our own with a handle on the keytab, the acceptor
 * principal (NULL: any key) and the skew the module applies.  Without a
 * context every login goes through GSS-API.
 */
static void fill_keys(struct online *on, gss_cred_id_t acred, int mode,
                      n8443_login_keys *keys)
{
    struct n8443_check_ctx *ctx = on->ctx;
    krb5_principal server = NULL;

    memset(keys, 0, sizeof(*keys));
    keys->cred = acred;
    keys->keytab = ctx->kt.name;
    keys->principal = n8443_check_acceptor_principal(ctx, on->acceptor_buf,
                                                     sizeof(on->acceptor_buf));
    keys->skew = ctx->clock_skew;
    if (!(mode & N8443_LOGIN_FAST_PATH) || krb5_init_context(&keys->ctx) != 0) {
        keys->ctx = NULL;
        return;
    }
    if ((ctx->kt.name != NULL
             ? krb5_kt_resolve(keys->ctx, ctx->kt.name, &keys->kt)
             : krb5_kt_default(keys->ctx, &keys->kt))
            != 0
        || (keys->principal != NULL
            && krb5_parse_name(keys->ctx, keys->principal, &server) != 0)) {
        release_keys(keys);
        return;
    }
    keys->server = server;
}

static void release_keys(n8443_login_keys *keys)
{
    if (keys->ctx == NULL) {
        return;
    }
    if (keys->server != NULL) {
        krb5_free_principal(keys->ctx, (krb5_principal)keys->server);
    }
    if (keys->kt != NULL) {
        krb5_kt_close(keys->ctx, keys->kt);
    }
    krb5_free_context(keys->ctx);
    keys->ctx = NULL;
    keys->kt = NULL;
    keys->server = NULL;
}

/*
 * The module's replay check (rcache.c) on a table of the tool's own:
 * the same key (core/replay_key.c) in the same bucket table
 * (core/rc_table.c) the shm backend keeps in shared memory.  Returns 1
 * for a replay, 0 for a fresh key (now stored), -1 when it cannot tell.
 */
static int replay_check_and_store(struct online *on, const unsigned char *key)
{
    n8443_rc_table t = {N8443_ONLINE_RC_BUCKETS, on->rc_slots};
    n8443_rc_slot *slot;
    int64_t now = (int64_t)time(NULL);

    if (n8443_rc_table_lookup(&t, key, now, &slot)) {
        return 1;
    }
    if (slot == NULL) {
        return -1;
    }
    n8443_rc_table_store(slot, key, now + 2 * on->ctx->clock_skew);
    return 0;
}

/* "the fast path" or "GSS-API": which one accepted a login. */
static const char *path_name(const n8443_login_result *lr)
{
    return lr->fast ? "the fast path" : "GSS-API";
}

/*
 * The same token once more, through the same login as the module: a
 * replay cache of the module's own (shm, memcache) must find the key
 * of the first login; MIT's (krb5:) must refuse it inside GSS-API; none
 * lets it in.
 */
static void check_replay(struct online *on, const n8443_login_keys *keys,
                         int mode, const gss_buffer_desc *token,
                         gss_channel_bindings_t cb)
{
    struct n8443_check_ctx *ctx = on->ctx;
    n8443_rc_backend kind = ctx->site->kerberos.replay_cache.kind;
    unsigned char key[N8443_REPLAY_KEY_LEN];
    char hex[2 * N8443_REPLAY_KEY_LEN + 1];
    struct n8443_record *rec;
    n8443_login_result lr;
    n8443_verdict v;
    int seen = 0;

    v = n8443_login_accept(keys, token->value, token->length, cb, mode, &lr);
    if (v == N8443_LOGIN_ACCEPTED && n8443_replay_key(&lr.info, key) != 0) {
        n8443_report_add(ctx->rep, "online.replay", N8443_SEV_ERROR,
                         "the module cannot compute a replay-cache key for "
                         "this login (no authenticator found): it would "
                         "refuse it");
        n8443_login_result_clear(&lr);
        return;
    }
    if (v == N8443_LOGIN_ACCEPTED && kind != N8443_RC_NONE
        && kind != N8443_RC_KRB5) {
        seen = replay_check_and_store(on, key);
    }
    if (v == N8443_LOGIN_ACCEPTED && kind == N8443_RC_NONE) {
        rec = n8443_report_add(
            ctx->rep, "online.replay", N8443_SEV_WARNING,
            "the replayed token was accepted as %s, as replay_cache: none "
            "allows: anyone holding a captured token logs in with it. Use "
            "replay_cache: shm (or memcache)",
            lr.principal);
    }
    else if (v == N8443_LOGIN_ACCEPTED && seen == 1) {
        rec = n8443_report_add(ctx->rep, "online.replay", N8443_SEV_OK,
                               "the same token presented again was "
                               "refused as a replay (%s took it, the "
                               "module's replay cache key found it)",
                               path_name(&lr));
        n8443_record_detail(ctx->rep, rec, "cause", "%s",
                            n8443_cause_name(N8443_CAUSE_REPLAY));
    }
    else if (v == N8443_LOGIN_ACCEPTED) {
        rec = n8443_report_add(ctx->rep, "online.replay", N8443_SEV_ERROR,
                               "a replayed token was accepted: %s took "
                               "it and the replay cache did not detect it",
                               path_name(&lr));
    }
    else if (lr.cause == N8443_CAUSE_REPLAY) {
        rec = n8443_report_add(ctx->rep, "online.replay", N8443_SEV_OK,
                               "the same token presented again was "
                               "refused as a replay");
        n8443_record_detail(ctx->rep, rec, "cause", "%s",
                            n8443_cause_name(lr.cause));
    }
    else {
        rec = n8443_report_add(ctx->rep, "online.replay", N8443_SEV_ERROR,
                               "the replayed token was refused, but as "
                               "'%s', not as a replay%s%s",
                               n8443_cause_name(lr.cause),
                               lr.krb5_text[0] ? ": " : "", lr.krb5_text);
        n8443_record_detail(ctx->rep, rec, "cause", "%s",
                            n8443_cause_name(lr.cause));
    }
    if (n8443_replay_key(&lr.info, key) == 0) {
        n8443_hex_encode(key, sizeof(key), hex, sizeof(hex));
        n8443_record_detail(ctx->rep, rec, "replay_key", "%s", hex);
    }
    n8443_login_result_clear(&lr);
}

/* A refusal of n8443_login_accept, as the module would log it. */
static struct n8443_record *report_refusal(struct online *on, const char *name,
                                           const n8443_login_result *lr)
{
    struct n8443_check_ctx *ctx = on->ctx;
    struct n8443_record *rec;
    char err[512];

    switch (lr->verdict) {
    case N8443_LOGIN_CONTINUE:
        return n8443_report_add(ctx->rep, "online.spnego", N8443_SEV_ERROR,
                                "the acceptor asked for a second round "
                                "trip for %s, which the module does not "
                                "keep state for: the login fails",
                                name);
    case N8443_LOGIN_UNBOUND:
        return n8443_report_add(ctx->rep, "online.spnego", N8443_SEV_ERROR,
                                "a login to %s was not bound to the TLS "
                                "channel, and channel_binding: require "
                                "refuses it (see cert.channel-binding)",
                                name);
    case N8443_LOGIN_MALFORMED:
    case N8443_LOGIN_UNUSABLE:
        return n8443_report_add(ctx->rep, "online.spnego", N8443_SEV_ERROR,
                                "the client's SPNEGO token for %s is one "
                                "the module refuses (%s)",
                                name, n8443_tok_status_str(lr->tok));
    case N8443_LOGIN_UNCLEAN_NAME:
    case N8443_LOGIN_ANONYMOUS:
        return n8443_report_add(ctx->rep, "online.spnego", N8443_SEV_ERROR,
                                "a login to %s was refused (%s): the "
                                "module takes no such client name",
                                name, n8443_cause_name(lr->cause));
    default: break;
    }
    n8443_gss_error_text(lr->acc.major, lr->acc.minor, err, sizeof(err));
    rec = n8443_report_add(
        ctx->rep, "online.spnego", N8443_SEV_ERROR,
        "a login to %s was refused (%s, as the module would log it): "
        "%s. GSS-API: %s%s%s",
        name, n8443_cause_name(lr->cause), cause_advice(lr->cause), err,
        lr->krb5_text[0] ? "; Kerberos: " : "", lr->krb5_text);
    n8443_record_detail(ctx->rep, rec, "cause", "%s",
                        n8443_cause_name(lr->cause));
    n8443_record_detail_num(ctx->rep, rec, "ticket_kvno", lr->info.ticket_kvno);
    return rec;
}

/*
 * One full login to NAME: the client's token, the module's login
 * (core/login.c: the fast path, then GSS-API), the module's replay
 * check, the client completing on the answer; for the first login
 * accepted (*REPLAY_PENDING) also the replay.
 */
static void round_trip(struct online *on, gss_cred_id_t icred,
                       const n8443_login_keys *keys, const char *name,
                       int *replay_pending)
{
    struct n8443_check_ctx *ctx = on->ctx;
    int mode = login_mode(ctx);
    struct gss_channel_bindings_struct cb_buf;
    gss_channel_bindings_t cb = bindings(ctx, &cb_buf);
    gss_buffer_desc token = GSS_C_EMPTY_BUFFER;
    gss_buffer_desc final = GSS_C_EMPTY_BUFFER;
    gss_buffer_desc namebuf;
    gss_ctx_id_t ictx = GSS_C_NO_CONTEXT;
    gss_name_t target = GSS_C_NO_NAME;
    n8443_rc_backend kind = ctx->site->kerberos.replay_cache.kind;
    unsigned char key[N8443_REPLAY_KEY_LEN];
    n8443_login_result lr;
    struct n8443_record *rec = NULL;
    char principal[600];
    char err[512];
    OM_uint32 maj;
    OM_uint32 min;
    int accepted = 0;

    memset(&lr, 0, sizeof(lr));
    lr.acc.delegated = GSS_C_NO_CREDENTIAL;
    snprintf(principal, sizeof(principal), "HTTP/%s@%s", name, ctx->realm);
    namebuf.value = principal;
    namebuf.length = strlen(principal);
    maj = gss_import_name(&min, &namebuf, GSS_KRB5_NT_PRINCIPAL_NAME, &target);
    if (!GSS_ERROR(maj)) {
        maj = initiate(icred, &ictx, target, cb, GSS_C_NO_BUFFER, &token, err,
                       sizeof(err));
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
    if (n8443_login_accept(keys, token.value, token.length,
                           cb != GSS_C_NO_CHANNEL_BINDINGS ? cb : NULL, mode,
                           &lr)
        != N8443_LOGIN_ACCEPTED) {
        rec = report_refusal(on, name, &lr);
        goto done;
    }
    /* The module files every accepted login in its replay cache. */
    if (kind != N8443_RC_NONE && kind != N8443_RC_KRB5
        && n8443_replay_key(&lr.info, key) == 0
        && replay_check_and_store(on, key) == 1) {
        rec = n8443_report_add(ctx->rep, "online.spnego", N8443_SEV_ERROR,
                               "a fresh login to %s was taken for a "
                               "replay by the module's replay cache",
                               name);
        goto done;
    }
    accepted = 1;
    maj = initiate(icred, &ictx, target, cb, &lr.acc.output, &final, err,
                   sizeof(err));
    if (maj != GSS_S_COMPLETE) {
        rec =
            n8443_report_add(ctx->rep, "online.spnego", N8443_SEV_ERROR,
                             "the server accepted a login to %s, but the "
                             "client could not verify its answer "
                             "(mutual authentication): %s",
                             name, GSS_ERROR(maj) ? err : "it wants more legs");
        goto done;
    }
    rec = n8443_report_add(ctx->rep, "online.spnego", N8443_SEV_OK,
                           "SPNEGO login to %s as %s: accepted by %s "
                           "with the module's settings, mutual "
                           "authentication complete%s",
                           name, lr.principal, path_name(&lr),
                           lr.bound ? ", bound to the TLS certificate" : "");
    n8443_record_detail(ctx->rep, rec, "path", "%s",
                        lr.fast ? "fast" : "gss-api");

done:
    n8443_record_detail(ctx->rep, rec, "name", "%s", name);
    if (accepted && *replay_pending
        && n8443_report_wants(ctx->rep, "online.replay")) {
        check_replay(on, keys, mode, &token, cb);
        *replay_pending = 0;
    }
    n8443_login_result_clear(&lr);
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
    n8443_login_keys keys;
    struct n8443_record *rec;
    const char *rcache;
    char err[1024];
    OM_uint32 maj;
    OM_uint32 min;
    int replay_pending = 1;
    size_t i;

    /* As the module (rcache.c): MIT's replay cache is off unless it is
     * the replay cache (krb5:NAME, here a private one in its place). */
    rcache = ctx->site->kerberos.replay_cache.kind == N8443_RC_KRB5
                 ? on->rcache_name
                 : "none:";
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
                               "cannot use the client's credentials: %s", err);
        n8443_record_detail(ctx->rep, rec, "ccache", "%s", on->ccache_name);
        goto cleanup;
    }
    fill_keys(on, acred, login_mode(ctx), &keys);
    for (i = 0; i < ctx->nnames; i++) {
        round_trip(on, icred, &keys, ctx->names[i], &replay_pending);
    }
    release_keys(&keys);

cleanup:
    if (icred != GSS_C_NO_CREDENTIAL) {
        gss_release_cred(&min, &icred);
    }
    if (acred != GSS_C_NO_CREDENTIAL) {
        gss_release_cred(&min, &acred);
    }
}
