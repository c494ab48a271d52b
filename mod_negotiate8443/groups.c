/*
 * groups.c - authorization from the ticket: the groups of the client's
 * verified PAC and the MIT KDC's authentication indicators, kept with
 * the login, handed to applications (NEGOTIATE_GROUP_SIDS,
 * NEGOTIATE_GROUPS, NEGOTIATE_AUTH_INDICATORS) and checked by two authz
 * providers:
 *
 *   Require negotiate-group GROUP...          a SID, or a name of the map
 *   Require negotiate-auth-indicator IND...   e.g. hardened, pkinit, otp
 *
 * Only a login made with a ticket in this request (or an internal
 * redirect or sub-request of it) has claims.  A session cookie or a
 * connection's login does not carry them: the rule then answers "no
 * user" (401 and a new challenge), so the browser sends a ticket and the
 * rule is decided on it; a password login (Basic) never satisfies them.
 * A ticket without a PAC, or with one that did not verify, has no groups.
 * Refusals are 403: the ticket was good, it just does not carry the
 * group or indicator, and sending it again changes nothing (README).
 *
 * The group map (NegotiateGroupMap) that gives names their SIDs:
 * group_map.c.
 */
#include "n8443_private.h"

#include "mod_auth.h"
#include <string.h>

#include "pac.h"

/* ---------------------------------------------------- claims of a login */

/* SE_GROUP_* (MS-DTYP 2.4.2.4; MS-PAC 2.2.1). */
#define SE_GROUP_ENABLED           0x00000004
#define SE_GROUP_USE_FOR_DENY_ONLY 0x00000010

typedef struct {
    apr_pool_t *p;
    apr_array_header_t *sids;
} sid_walk;

/* A group grants access only when enabled and not for deny only, as
 * Windows' access check has it; the user's own SID is not a group. */
static int collect_sid(void *ctx, n8443_pac_sid_kind kind, const n8443_sid *sid,
                       uint32_t attributes)
{
    sid_walk *w = ctx;
    char buf[N8443_SID_STRING_MAX];
    int i;

    if (kind == N8443_PAC_SID_USER || !(attributes & SE_GROUP_ENABLED)
        || (attributes & SE_GROUP_USE_FOR_DENY_ONLY))
        return 0;
    if (n8443_sid_to_string(sid, buf, sizeof(buf)) < 0)
        return -1;
    for (i = 0; i < w->sids->nelts; i++)
        if (strcmp(APR_ARRAY_IDX(w->sids, i, const char *), buf) == 0)
            return 0;
    APR_ARRAY_PUSH(w->sids, const char *) = apr_pstrdup(w->p, buf);
    return 0;
}

const n8443_claims *n8443_claims_make(request_rec *r,
                                      const n8443_ticket_claims *tc)
{
    n8443_claims *c = apr_pcalloc(r->pool, sizeof(*c));

    c->pac = tc->pac;
    c->indicators =
        tc->indicators != NULL ? apr_pstrdup(r->pool, tc->indicators) : NULL;
    if (tc->pac == N8443_PAC_VERIFIED) {
        sid_walk w;

        w.p = r->pool;
        w.sids = apr_array_make(r->pool, 16, sizeof(const char *));
        if (n8443_pac_logon_info(tc->logon_info, tc->logon_info_len, NULL,
                                 collect_sid, &w)
            != 0) {
            ap_log_rerror(
                APLOG_MARK, APLOG_ERR, 0, r,
                N8443LOGNO(382) "the verified PAC's logon info of %s does not "
                "decode: no groups are taken from it",
                r->user);
            c->pac = N8443_PAC_UNAVAILABLE;
        }
        else {
            c->sids = w.sids;
        }
    }
    else if (tc->pac == N8443_PAC_UNVERIFIED) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      N8443LOGNO(383) "the ticket of %s carries a PAC that did "
                      "not verify "
                      "with the service key: its groups are not used",
                      r->user);
    }
    return c;
}

void n8443_claims_set(request_rec *r, const n8443_claims *c)
{
    n8443_login *l =
        ap_get_module_config(r->request_config, &negotiate8443_module);
    const n8443_server_conf *sc;
    const char *names;

    if (l == NULL || c == NULL)
        return;
    l->claims = c;
    if (c->indicators != NULL)
        apr_table_set(r->subprocess_env, "NEGOTIATE_AUTH_INDICATORS",
                      c->indicators);
    if (c->sids == NULL)
        return;
    apr_table_set(r->subprocess_env, "NEGOTIATE_GROUP_SIDS",
                  apr_array_pstrcat(r->pool, c->sids, ' '));
    sc = ap_get_module_config(r->server->module_config, &negotiate8443_module);
    if (sc->group_map == NULL)
        return;
    names = n8443_group_map_names(r, sc->group_map, c->sids);
    if (names != NULL)
        apr_table_set(r->subprocess_env, "NEGOTIATE_GROUPS", names);
}

/* ------------------------------------------------------ the authz rules */

/* The claims of r's login, or the authz answer when there are none. */
static const n8443_claims *claims_for_rule(request_rec *r, const char *rule,
                                           authz_status *st)
{
    const n8443_login *l;

    if (r->user == NULL) {
        *st = AUTHZ_DENIED_NO_USER;
        return NULL;
    }
    l = n8443_login_of(r);
    if (l != NULL && l->claims != NULL)
        return l->claims;
    if (l != NULL
        && (l->via == N8443_VIA_SESSION || l->via == N8443_VIA_CONNECTION)) {
        /* Fail closed, then ask for the ticket that has the answer. */
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            N8443LOGNO(384) "Require %s: the login of %s came from a %s, which "
            "keeps no groups or indicators; asking for a ticket",
            rule, r->user,
            l->via == N8443_VIA_SESSION ? "session cookie"
                                        : "connection's earlier login");
        *st = AUTHZ_DENIED_NO_USER;
        return NULL;
    }
    ap_log_rerror(
        APLOG_MARK, APLOG_ERR, 0, r,
        N8443LOGNO(385) "Require %s: %s did not log in with a Kerberos ticket "
        "(%s), which alone carries groups and indicators: "
        "denied",
        rule, r->user,
        l == NULL ? "not a Negotiate login" : "a password login");
    *st = AUTHZ_DENIED;
    return NULL;
}

static int has_sid(const n8443_claims *c, const char *sid)
{
    int i;

    for (i = 0; i < c->sids->nelts; i++)
        if (strcmp(APR_ARRAY_IDX(c->sids, i, const char *), sid) == 0)
            return 1;
    return 0;
}

static authz_status group_check(request_rec *r, const char *require_args,
                                const void *parsed)
{
    const n8443_server_conf *sc;
    const n8443_claims *c;
    const char *t = require_args, *w;
    authz_status st;

    (void)parsed;
    c = claims_for_rule(r, "negotiate-group", &st);
    if (c == NULL)
        return st;
    if (c->pac != N8443_PAC_VERIFIED || c->sids == NULL) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            N8443LOGNO(386) "Require negotiate-group: the ticket of %s has %s, "
            "so no groups: denied",
            r->user,
            c->pac == N8443_PAC_ABSENT || c->pac == N8443_PAC_NO_LOGON_INFO
                ? "no PAC with groups (an MIT KDC issues none; groups "
                  "come from Active Directory or Samba tickets)"
            : c->pac == N8443_PAC_UNVERIFIED
                ? "a PAC that did not verify with the service key"
                : "a PAC that could not be read (or a GSS-Proxy "
                  "that does not pass name attributes on)");
        return AUTHZ_DENIED;
    }
    sc = ap_get_module_config(r->server->module_config, &negotiate8443_module);
    while ((w = ap_getword_conf(r->pool, &t)) != NULL && *w) {
        char canon[N8443_SID_STRING_MAX];
        const char *sid;

        if (n8443_sid_canonical(w, canon, sizeof(canon)) == 0) {
            sid = canon;
        }
        else {
            sid = n8443_group_map_sid(r, sc->group_map, w);
            if (sid == NULL) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                              N8443LOGNO(387) "Require negotiate-group: '%s' "
                              "is not in %s: "
                              "it matches no one",
                              w,
                              sc->group_map
                                  ? n8443_group_map_file(sc->group_map)
                                  : "a NegotiateGroupMap (none is set)");
                continue;
            }
        }
        if (has_sid(c, sid)) {
            ap_log_rerror(
                APLOG_MARK, APLOG_DEBUG, 0, r,
                N8443LOGNO(388) "Require negotiate-group: %s is in %s (%s)",
                r->user, w, sid);
            return AUTHZ_GRANTED;
        }
    }
    ap_log_rerror(
        APLOG_MARK, APLOG_INFO, 0, r,
        N8443LOGNO(389) "Require negotiate-group %s: %s is in none of these "
        "groups (the ticket's PAC has %d)",
        require_args, r->user, c->sids->nelts);
    return AUTHZ_DENIED;
}

static authz_status indicator_check(request_rec *r, const char *require_args,
                                    const void *parsed)
{
    const n8443_claims *c;
    const char *t = require_args, *w;
    authz_status st;

    (void)parsed;
    c = claims_for_rule(r, "negotiate-auth-indicator", &st);
    if (c == NULL)
        return st;
    while (c->indicators != NULL && (w = ap_getword_conf(r->pool, &t)) != NULL
           && *w) {
        const char *s = c->indicators, *ind;

        while (*(ind = ap_getword_white(r->pool, &s)) != '\0')
            if (strcmp(ind, w) == 0)
                return AUTHZ_GRANTED;
    }
    ap_log_rerror(
        APLOG_MARK, APLOG_INFO, 0, r,
        N8443LOGNO(390) "Require negotiate-auth-indicator %s: the ticket of %s "
        "carries %s%s: denied (log in with a stronger method)",
        require_args, r->user,
        c->indicators ? "only " : "no authentication indicator",
        c->indicators ? c->indicators : "");
    return AUTHZ_DENIED;
}

/* Start-up: every word of a negotiate-group line is a SID or a name (the
 * map decides at request time, so a map edited later can add it). */
static const char *group_parse(cmd_parms *cmd, const char *line,
                               const void **parsed)
{
    const char *t = line, *w;
    int n = 0;

    *parsed = NULL;
    while ((w = ap_getword_conf(cmd->temp_pool, &t)) != NULL && *w) {
        char canon[N8443_SID_STRING_MAX];

        n++;
        if ((w[0] == 'S' || w[0] == 's') && w[1] == '-'
            && n8443_sid_canonical(w, canon, sizeof(canon)) != 0)
            return apr_psprintf(cmd->pool,
                                "Require negotiate-group: '%s' "
                                "is not a SID",
                                w);
        if (!n8443_group_name_ok(w))
            return apr_psprintf(cmd->pool,
                                "Require negotiate-group: '%s' "
                                "is not a group name",
                                w);
    }
    return n ? NULL : "Require negotiate-group: name at least one group";
}

static const char *indicator_parse(cmd_parms *cmd, const char *line,
                                   const void **parsed)
{
    const char *t = line, *w;

    *parsed = NULL;
    w = ap_getword_conf(cmd->temp_pool, &t);
    return w != NULL && *w ? NULL
                           : "Require negotiate-auth-indicator: name "
                             "at least one indicator";
}

static const authz_provider group_provider = {group_check, group_parse};
static const authz_provider indicator_provider = {indicator_check,
                                                  indicator_parse};

void n8443_groups_register(apr_pool_t *p)
{
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "negotiate-group",
                              AUTHZ_PROVIDER_VERSION, &group_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(
        p, AUTHZ_PROVIDER_GROUP, "negotiate-auth-indicator",
        AUTHZ_PROVIDER_VERSION, &indicator_provider, AP_AUTH_INTERNAL_PER_CONF);
}
