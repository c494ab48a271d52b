/*
 * n8443ctl probe - the login, as a browser does it, and what the server
 * proves in return.
 *
 * A SPNEGO token with the tls-server-end-point binding of the
 * certificate the server presented (when it gives one), then a fresh one
 * without: together they say whether the server checks the binding,
 * requires it, or refuses its own.  The server's answer token (the
 * AP-REP) goes back into gss_init_sec_context: only a complete context
 * proves that the server holds the key (mutual authentication).  Then
 * the first accepted token is sent again: a server that accepts it has
 * no replay protection.
 *
 * No token goes to a server whose certificate did not verify: it could
 * be anyone, and a token relayed by an impostor logs it in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

#include "acceptor.h"
#include "authz_header.h"
#include "encode.h"
#include "oids.h"
#include "probe.h"

static const unsigned char spnego_bytes[] = {N8443_OID_SPNEGO};
static gss_OID_desc spnego_oid = {sizeof(spnego_bytes), (void *)spnego_bytes};

#define REQ_FLAGS (GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG)

/* One login attempt: the client's context, its token, the answer. */
struct attempt {
    gss_ctx_id_t ctx;
    gss_buffer_desc token;
    char *authz; /* "Negotiate <base64>" */
    struct probe_response resp;
    int sent; /* a response came back */
    int accepted;
};

static void attempt_free(struct attempt *a)
{
    OM_uint32 min;

    if (a->ctx != GSS_C_NO_CONTEXT) {
        gss_delete_sec_context(&min, &a->ctx, GSS_C_NO_BUFFER);
    }
    gss_release_buffer(&min, &a->token);
    free(a->authz);
    n8443_probe_response_free(&a->resp);
    memset(a, 0, sizeof(*a));
}

static int accepted_status(int status)
{
    return status >= 200 && status < 500 && status != 400 && status != 401
           && status != 403;
}

static char *negotiate_header(const gss_buffer_desc *token)
{
    size_t cap = 10 + 4 * (token->length / 3 + 1) + 1;
    char *h = malloc(cap);

    if (h == NULL) {
        return NULL;
    }
    memcpy(h, "Negotiate ", 10);
    if (n8443_base64_encode(token->value, token->length, h + 10, cap - 10)
        == 0) {
        free(h);
        return NULL;
    }
    return h;
}

/* Build the first token to TARGET (with CB if not NULL) and send it. */
static int attempt_login(struct n8443_probe *p, const char *label,
                         gss_cred_id_t cred, gss_name_t target,
                         gss_channel_bindings_t cb, struct attempt *a,
                         char *err, size_t errlen)
{
    OM_uint32 maj;
    OM_uint32 min;

    memset(a, 0, sizeof(*a));
    maj = gss_init_sec_context(&min, cred, &a->ctx, target, &spnego_oid,
                               REQ_FLAGS, 0, cb, GSS_C_NO_BUFFER, NULL,
                               &a->token, NULL, NULL);
    if (GSS_ERROR(maj)) {
        n8443_gss_error_text(maj, min, err, errlen);
        return -1;
    }
    if (p->trace) {
        fprintf(stderr,
                "* %s: GSS-API flags asked for: mutual, replay, "
                "sequence; channel binding: %s\n",
                label, cb != GSS_C_NO_CHANNEL_BINDINGS ? "sent" : "none");
    }
    a->authz = negotiate_header(&a->token);
    if (a->authz == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (n8443_probe_request(p, label, p->login_path, a->authz, &a->resp, err,
                            errlen)
        != 0) {
        return -1;
    }
    a->sent = 1;
    a->accepted = accepted_status(a->resp.status);
    return 0;
}

/* The Negotiate token of the answer, decoded into *out; 0 if found. */
static int answer_token(const struct probe_response *resp, gss_buffer_desc *out,
                        unsigned char **buf)
{
    size_t i;

    for (i = 0; i < resp->nheaders; i++) {
        const char *v = resp->headers[i].value;
        size_t len;
        size_t cap;

        if (strcasecmp(resp->headers[i].name, "WWW-Authenticate") != 0
            || strncasecmp(v, "Negotiate ", 10) != 0) {
            continue;
        }
        v += 10;
        v += strspn(v, " ");
        len = strcspn(v, " ,");
        cap = n8443_base64_decoded_max(len);
        *buf = malloc(cap + 1);
        if (*buf == NULL) {
            return -1;
        }
        if (n8443_base64_decode(v, len, *buf, cap, &out->length) != 0) {
            free(*buf);
            *buf = NULL;
            return -1;
        }
        out->value = *buf;
        return 0;
    }
    return -1;
}

/* login.mutual: complete the client's context on the server's answer. */
static void check_mutual(struct n8443_probe *p, struct attempt *a,
                         gss_cred_id_t cred, gss_name_t target,
                         gss_channel_bindings_t cb)
{
    gss_buffer_desc in = GSS_C_EMPTY_BUFFER;
    gss_buffer_desc out = GSS_C_EMPTY_BUFFER;
    unsigned char *buf = NULL;
    OM_uint32 ret_flags = 0;
    OM_uint32 maj;
    OM_uint32 min;
    char err[512];

    if (answer_token(&a->resp, &in, &buf) != 0) {
        n8443_report_add(
            p->rep, "login.mutual", N8443_SEV_ERROR,
            "the server let the login in (%d) but sent no Negotiate answer "
            "token: the client cannot verify that it is the real server "
            "(mutual authentication), and curl --negotiate, for one, "
            "reports an error. Is something rewriting WWW-Authenticate?",
            a->resp.status);
        return;
    }
    maj = gss_init_sec_context(&min, cred, &a->ctx, target, &spnego_oid,
                               REQ_FLAGS, 0, cb, &in, NULL, &out, &ret_flags,
                               NULL);
    if (maj == GSS_S_COMPLETE) {
        n8443_report_add(p->rep, "login.mutual", N8443_SEV_OK,
                         "the server's answer (AP-REP) verifies: mutual "
                         "authentication complete");
        if (p->trace) {
            fprintf(stderr,
                    "* GSS-API context complete, flags granted:%s%s"
                    "%s%s\n",
                    ret_flags & GSS_C_MUTUAL_FLAG ? " mutual" : "",
                    ret_flags & GSS_C_REPLAY_FLAG ? " replay" : "",
                    ret_flags & GSS_C_SEQUENCE_FLAG ? " sequence" : "",
                    ret_flags & GSS_C_DELEG_FLAG ? " delegation" : "");
        }
    }
    else {
        if (GSS_ERROR(maj)) {
            n8443_gss_error_text(maj, min, err, sizeof(err));
        }
        else {
            snprintf(err, sizeof(err), "it asks for another round trip");
        }
        n8443_report_add(p->rep, "login.mutual", N8443_SEV_ERROR,
                         "the server's answer token does not verify: %s. "
                         "The client cannot be sure this is the real "
                         "server",
                         err);
    }
    gss_release_buffer(&min, &out);
    free(buf);
}

/*
 * Why was a token refused?  The module answers 400 to a token that is
 * not base64; 401 to it means the Authorization header never arrived.
 */
static void diagnose_refusal(struct n8443_probe *p, const char *id,
                             const struct attempt *a,
                             const struct probe_ticket *t)
{
    struct probe_response resp;
    struct n8443_record *rec;
    char err[256];

    if (n8443_probe_request(p, "invalid token (diagnosis)", p->login_path,
                            "Negotiate !", &resp, err, sizeof(err))
            == 0
        && resp.status == 401) {
        rec = n8443_report_add(
            p->rep, id, N8443_SEV_ERROR,
            "the server refused the login (%d), and an invalid token gets "
            "401 as if no Authorization header arrived (the module answers "
            "400 to it): %s strips the Authorization header. Let it pass "
            "Authorization to the server (and WWW-Authenticate back)",
            a->resp.status,
            p->via_proxy ? "the proxy in between (see http.proxy)"
                         : "something in between (a proxy, a load "
                           "balancer, a WAF)");
    }
    else {
        rec = n8443_report_add(
            p->rep, id, N8443_SEV_ERROR,
            "the server refused the ticket for %s (kvno %u, %s) with %d. "
            "Most likely its keytab has no key for this kvno (a stale "
            "keytab: the key changed on the KDC after the export, so export "
            "it again), or it accepts another SPN, or its clock is off. On "
            "the server, run: n8443ctl check SITE.yaml --online; the error "
            "log names the cause",
            t->principal, (unsigned)t->kvno, t->enctype, a->resp.status);
    }
    n8443_record_detail(p->rep, rec, "principal", "%s", t->principal);
    n8443_record_detail_num(p->rep, rec, "kvno", t->kvno);
    n8443_record_detail(p->rep, rec, "enctype", "%s", t->enctype);
    n8443_probe_response_free(&resp);
}

/* login.replay: the accepted token once more must be refused. */
static void check_replay(struct n8443_probe *p, const struct attempt *a)
{
    struct probe_response resp;
    struct n8443_record *rec;
    char err[256];

    if (n8443_probe_request(p, "replay", p->login_path, a->authz, &resp, err,
                            sizeof(err))
        != 0) {
        n8443_report_add(p->rep, "login.replay", N8443_SEV_WARNING,
                         "the replay could not be sent: %s", err);
        return;
    }
    if (accepted_status(resp.status)) {
        rec = n8443_report_add(
            p->rep, "login.replay", N8443_SEV_ERROR,
            "the same token presented again was accepted (%d): the server "
            "has no replay protection, so anyone who captures a token logs "
            "in with it. Use NegotiateReplayCache shm (or memcache or redis "
            "for a farm), not none",
            resp.status);
    }
    else if (resp.status == 401 || resp.status == 403) {
        rec = n8443_report_add(p->rep, "login.replay", N8443_SEV_OK,
                               "the same token presented again was refused "
                               "(%d)",
                               resp.status);
    }
    else {
        rec = n8443_report_add(p->rep, "login.replay", N8443_SEV_WARNING,
                               "the same token presented again got %d, not "
                               "a refusal (401)",
                               resp.status);
    }
    n8443_record_detail_num(p->rep, rec, "status", resp.status);
    n8443_probe_response_free(&resp);
}

/* The name to log in to: the first SPN host (per --browser) with a
 * ticket. */
static const struct probe_ticket *login_ticket(const struct n8443_probe *p)
{
    size_t i;

    for (i = 0; i < p->nnames; i++) {
        if (p->tickets[i].ok) {
            return &p->tickets[i];
        }
    }
    return NULL;
}

static int preconditions(struct n8443_probe *p)
{
    const char *why = NULL;

    if (!p->tls_trusted) {
        why = "not run: the certificate is not trusted (see tls.*), and "
              "no token goes to a server that could be an impostor";
    }
    else if (!p->offers_negotiate) {
        why = "not run: the server does not offer Negotiate (see "
              "http.challenge)";
    }
    else if (p->client == NULL) {
        why = "not run: no Kerberos tickets (see ticket.client)";
    }
    else if (login_ticket(p) == NULL) {
        why = "not run: no service ticket (see ticket.spn)";
    }
    if (why != NULL) {
        n8443_report_add(p->rep, "login.bound", N8443_SEV_SKIPPED, "%s", why);
        return -1;
    }
    return 0;
}

/* Both logins done: what they say together. */
static void report_logins(struct n8443_probe *p, struct attempt *bound,
                          struct attempt *unbound, const struct probe_ticket *t)
{
    struct n8443_record *rec;

    if (!p->have_cb) {
        n8443_report_add(p->rep, "login.bound", N8443_SEV_SKIPPED,
                         "not run: the certificate gives no channel "
                         "binding (see tls.binding)");
    }
    else if (bound->accepted) {
        rec = n8443_report_add(p->rep, "login.bound", N8443_SEV_OK,
                               "login with channel binding to %s: %d",
                               t->principal, bound->resp.status);
        n8443_record_detail_num(p->rep, rec, "status", bound->resp.status);
    }
    else if (unbound->accepted) {
        rec = n8443_report_add(
            p->rep, "login.bound", N8443_SEV_ERROR,
            "a login bound to the certificate the server presented was "
            "refused (%d), one without binding accepted: the server "
            "computes the binding from another certificate, as when a "
            "proxy or load balancer ends TLS with its own. Use "
            "NegotiateChannelBinding off behind such a proxy, or let the "
            "TLS through",
            bound->resp.status);
        n8443_record_detail_num(p->rep, rec, "status", bound->resp.status);
    }
    else {
        diagnose_refusal(p, "login.bound", bound, t);
    }

    if (unbound->accepted) {
        rec = n8443_report_add(p->rep, "login.unbound", N8443_SEV_OK,
                               "login without channel binding to %s: %d",
                               t->principal, unbound->resp.status);
    }
    else if (bound->accepted) {
        rec = n8443_report_add(
            p->rep, "login.unbound", N8443_SEV_OK,
            "a login without channel binding was refused (%d): the server "
            "requires the binding (NegotiateChannelBinding require); "
            "clients that send none cannot log in",
            unbound->resp.status);
    }
    else if (!p->have_cb) {
        diagnose_refusal(p, "login.unbound", unbound, t);
        return;
    }
    else {
        rec = n8443_report_add(p->rep, "login.unbound", N8443_SEV_ERROR,
                               "a login without channel binding was "
                               "refused too (%d)",
                               unbound->resp.status);
    }
    n8443_record_detail_num(p->rep, rec, "status", unbound->resp.status);
}

void n8443_probe_login(struct n8443_probe *p)
{
    const struct probe_ticket *t;
    struct gss_channel_bindings_struct cb;
    gss_key_value_element_desc element;
    gss_key_value_set_desc store;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    gss_name_t target = GSS_C_NO_NAME;
    gss_buffer_desc namebuf;
    struct attempt bound;
    struct attempt unbound;
    struct attempt *first;
    struct n8443_record *rec;
    char *ccname = NULL;
    char err[512];
    OM_uint32 maj;
    OM_uint32 min;

    memset(&bound, 0, sizeof(bound));
    memset(&unbound, 0, sizeof(unbound));
    if (preconditions(p) != 0) {
        return;
    }
    t = login_ticket(p);
    if (krb5_cc_get_full_name(p->kctx, p->cc, &ccname) != 0) {
        p->rep->failed = 1;
        return;
    }
    element.key = "ccache";
    element.value = ccname;
    store.count = 1;
    store.elements = &element;
    namebuf.value = (void *)t->principal;
    namebuf.length = strlen(t->principal);
    maj = gss_acquire_cred_from(&min, GSS_C_NO_NAME, GSS_C_INDEFINITE,
                                GSS_C_NO_OID_SET, GSS_C_INITIATE, &store, &cred,
                                NULL, NULL);
    if (!GSS_ERROR(maj)) {
        maj = gss_import_name(&min, &namebuf, GSS_KRB5_NT_PRINCIPAL_NAME,
                              &target);
    }
    if (GSS_ERROR(maj)) {
        n8443_gss_error_text(maj, min, err, sizeof(err));
        n8443_report_add(p->rep, "login.bound", N8443_SEV_ERROR,
                         "GSS-API cannot use the tickets: %s", err);
        goto cleanup;
    }
    memset(&cb, 0, sizeof(cb));
    cb.initiator_addrtype = GSS_C_AF_UNSPEC;
    cb.acceptor_addrtype = GSS_C_AF_UNSPEC;
    cb.application_data.value = p->cb;
    cb.application_data.length = p->cb_len;

    if (p->have_cb
        && attempt_login(p, "login with channel binding", cred, target, &cb,
                         &bound, err, sizeof(err))
               != 0) {
        rec = n8443_report_add(p->rep, "login.bound", N8443_SEV_ERROR,
                               "the login with channel binding could not "
                               "be sent: %s",
                               err);
        n8443_record_unusable(rec);
        goto cleanup;
    }
    if (attempt_login(p, "login without channel binding", cred, target,
                      GSS_C_NO_CHANNEL_BINDINGS, &unbound, err, sizeof(err))
        != 0) {
        rec = n8443_report_add(p->rep, "login.unbound", N8443_SEV_ERROR,
                               "the login without channel binding could "
                               "not be sent: %s",
                               err);
        n8443_record_unusable(rec);
        goto cleanup;
    }
    report_logins(p, &bound, &unbound, t);
    first = bound.accepted ? &bound : unbound.accepted ? &unbound : NULL;
    if (first == NULL) {
        n8443_report_add(p->rep, "login.replay", N8443_SEV_SKIPPED,
                         "not run: no login was accepted");
        goto cleanup;
    }
    check_mutual(p, first, cred, target,
                 first == &bound ? &cb : GSS_C_NO_CHANNEL_BINDINGS);
    check_replay(p, first);

cleanup:
    attempt_free(&bound);
    attempt_free(&unbound);
    if (target != GSS_C_NO_NAME) {
        gss_release_name(&min, &target);
    }
    if (cred != GSS_C_NO_CREDENTIAL) {
        gss_release_cred(&min, &cred);
    }
    krb5_free_string(p->kctx, ccname);
}
