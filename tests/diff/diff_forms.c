/*
 * diff_forms.c - the differential test's table for issue 17: the
 * address-free forms of a channel binding (see diff_binding_forms in
 * diff_core.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gssapi/gssapi_krb5.h>

#include "diff_core.h"
#include "krb5_accept.h"

#define FLAGS                                                                  \
    (GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG               \
     | GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG)

static const unsigned char cbt_bit[] = {0x00, 0x40, 0x00, 0x00};

/*
 * Issue 17: the address-free forms of one binding.  Not only "the paths
 * agree" but what they must agree on: a client that hashed the
 * acceptor's application data with GSS_C_AF_UNSPEC or GSS_C_AF_NULLADDR
 * (both address types the same) is accepted and bound by both paths,
 * under either form of the acceptor's bindings, also with MS-KILE's CBT
 * bit; mixed address types are neither form and refused by both; no
 * binding at all is accepted unbound (refused with the CBT bit).
 */
static int expect_form(diff_env *e, diff_cb_kind acceptor, diff_cb_kind client,
                       int cbt, int want)
{
    diff_login l;
    unsigned char *tok;
    size_t len;
    n8443_apreq_info info;
    n8443_accept_result f, g;
    int fast, rc, got_g, got_f;
    char name[96];

    if (diff_login_forged(e, NULL, 36000, &l) != 0) {
        e->violations++;
        return 0;
    }
    diff_login_set_gss_cksum(e, &l, client, FLAGS, NULL, 0);
    if (cbt) /* AD-AUTH-DATA-AP-OPTIONS with KERB_AP_OPTIONS_CBT */
        diff_login_add_authdata(&l, 0, KRB5_AUTHDATA_AP_OPTIONS, cbt_bit,
                                sizeof(cbt_bit));
    snprintf(name, sizeof(name), "forms/acceptor%d-client%d%s", (int)acceptor,
             (int)client, cbt ? "-cbt" : "");
    if (diff_login_token(e, &l, &tok, &len) != 0) {
        diff_login_free(e, &l);
        e->violations++;
        return 0;
    }
    diff_compare(e, name, tok, len, acceptor);
    memset(&f, 0, sizeof(f));
    fast = n8443_token_walk(tok, len, &info) == N8443_TOK_KRB5
           && n8443_krb5_accept(e->ctx, e->kt, NULL, &info,
                                diff_cb(e, acceptor), e->skew, &f)
                  == N8443_KACC_ACCEPTED;
    rc = n8443_accept_once(e->cred, tok, len, diff_cb(e, acceptor), &g);
    /* want: 1 bound, 0 accepted unbound, -1 refused */
    got_g = rc != 0 ? -1 : (g.ret_flags & GSS_C_CHANNEL_BOUND_FLAG) ? 1 : 0;
    got_f = !fast ? -1 : (f.ret_flags & GSS_C_CHANNEL_BOUND_FLAG) ? 1 : 0;
    if (got_g != want || got_f != want) {
        e->violations++;
        fprintf(stderr, "DIFF %s: expected %d, GSS-API %d, fast path %d\n",
                name, want, got_g, got_f);
    }
    n8443_accept_result_clear(&f);
    n8443_accept_result_clear(&g);
    free(tok);
    diff_login_free(e, &l);
    return 1;
}

unsigned long diff_binding_forms(diff_env *e)
{
    static const diff_cb_kind acceptors[] = {DIFF_CB_APP, DIFF_CB_APP_NULLADDR};
    static const diff_cb_kind clients[] = {
        DIFF_CB_NONE, DIFF_CB_APP, DIFF_CB_APP_NULLADDR, DIFF_CB_APP_MIXED,
        DIFF_CB_APP_MIXED2};
    size_t a, c;
    unsigned long n = 0;
    int cbt;

    for (a = 0; a < 2; a++)
        for (c = 0; c < 5; c++)
            for (cbt = 0; cbt < 2; cbt++) {
                int want = clients[c] == DIFF_CB_NONE ? (cbt ? -1 : 0)
                           : clients[c] == DIFF_CB_APP
                                   || clients[c] == DIFF_CB_APP_NULLADDR
                               ? 1
                               : -1;

                n += expect_form(e, acceptors[a], clients[c], cbt, want);
            }
    return n;
}
