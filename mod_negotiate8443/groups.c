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
 * The map (NegotiateGroupMap FILE: lines "name SID") is read at start-up,
 * where a bad line stops httpd, and again in each child when the file
 * changes (checked at most once a second, by inode, size and mtime/ctime
 * to the nanosecond).  A changed file with a bad line, a last line
 * without its newline (a write in place caught half-way), or larger than
 * 4 MiB is logged and the map in use stays; a file changed less than a
 * second ago is read on a later look; a file that is gone empties the
 * map (fail closed).  Names are only ever resolved through it.
 */
#include "n8443_private.h"

#include "mod_auth.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pac.h"

/* What tells one version of the map file from another: the stat of the
 * file, with the nanoseconds of mtime and ctime (an edit of the same
 * size within the same second still changes them). */
typedef struct {
    int exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    struct timespec ctime;
} map_sig;

/* The map and the one copy of it in use (its own pool), swapped whole. */
struct n8443_group_map {
    const char *file;
    apr_pool_t *pool; /* parent of the generations */
    apr_thread_mutex_t *mutex;
    apr_pool_t *gen;     /* the generation in use */
    apr_hash_t *by_name; /* name -> canonical SID */
    apr_hash_t *by_sid;  /* canonical SID -> name */
    map_sig sig;         /* of the file last looked at */
    apr_time_t checked;
};

/* A map larger than this is refused (a mistake, not a map). */
#define MAP_MAX_BYTES (4 * 1024 * 1024)

static void sig_of(const struct stat *st, map_sig *sig)
{
    memset(sig, 0, sizeof(*sig));
    sig->exists = 1;
    sig->dev = st->st_dev;
    sig->ino = st->st_ino;
    sig->size = st->st_size;
    sig->mtime = st->st_mtim;
    sig->ctime = st->st_ctim;
}

static int sig_same(const map_sig *a, const map_sig *b)
{
    return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino
           && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec
           && a->mtime.tv_nsec == b->mtime.tv_nsec
           && a->ctime.tv_sec == b->ctime.tv_sec
           && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* A SID in text to its canonical form (pac.c); 0, or -1 when it is not
 * a SID. */
static int sid_canonical(const char *in, char *out, size_t outcap)
{
    n8443_sid sid;

    if (n8443_sid_from_string(in, &sid) != 0)
        return -1;
    return n8443_sid_to_string(&sid, out, outcap) < 0 ? -1 : 0;
}

/* A name of the map: printable, no space, not a SID. */
static int map_name_ok(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

/* The whole file into p, NUL-terminated, and the stat of what was read.
 * Opened non-blocking and checked on the open descriptor, so a FIFO or
 * device put in its place cannot hang start-up or a child holding the
 * map's lock.  NULL, or why not. */
static const char *map_read(apr_pool_t *p, const char *file, char **out,
                            size_t *outlen, map_sig *sig)
{
    struct stat st;
    char *buf;
    size_t got = 0;
    int fd, e;

    fd = open(file, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        e = errno;
        return apr_psprintf(p, "%s: cannot be read (%s)", file, strerror(e));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return apr_psprintf(p, "%s: not a regular file", file);
    }
    if (st.st_size > MAP_MAX_BYTES) {
        close(fd);
        return apr_psprintf(p, "%s: larger than %d bytes (%ld)", file,
                            MAP_MAX_BYTES, (long)st.st_size);
    }
    buf = apr_palloc(p, (apr_size_t)st.st_size + 1);
    e = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            e = errno;
        if (n <= 0)
            break; /* shortened while read: EOF here */
        got += (size_t)n;
    }
    close(fd);
    if (e != 0)
        return apr_psprintf(p, "%s: read error (%s)", file, strerror(e));
    buf[got] = '\0';
    if (strlen(buf) != got)
        return apr_psprintf(p, "%s: holds a NUL byte", file);
    sig_of(&st, sig);
    *out = buf;
    *outlen = got;
    return NULL;
}

/* Read the map file into a new generation in p.  With whole_lines, a
 * last line without its newline means the file is still being written
 * (in place): refused.  NULL, or why not ("FILE:LINE: ..."). */
static const char *map_load(apr_pool_t *p, const char *file, int whole_lines,
                            apr_hash_t **by_name, apr_hash_t **by_sid,
                            map_sig *sig)
{
    char *buf = NULL, *at, *nl;
    size_t len = 0;
    int no = 0;
    const char *err;

    *by_name = apr_hash_make(p);
    *by_sid = apr_hash_make(p);
    if ((err = map_read(p, file, &buf, &len, sig)) != NULL)
        return err;
    if (whole_lines && len > 0 && buf[len - 1] != '\n')
        return apr_psprintf(p,
                            "%s: the last line has no newline: the file "
                            "is still being written (write a new file and "
                            "rename it over the map)",
                            file);
    for (at = buf; *at; at = nl ? nl + 1 : at + strlen(at)) {
        char *line, *name, *sid, *extra, *last;
        char canon[N8443_SID_STRING_MAX];

        nl = strchr(at, '\n');
        if (nl != NULL)
            *nl = '\0';
        line = at;
        no++;
        if (strlen(line) > 1022)
            return apr_psprintf(p, "%s:%d: line too long", file, no);
        name = apr_strtok(line, " \t\r", &last);
        if (name == NULL || name[0] == '#') {
            if (nl == NULL)
                break;
            continue;
        }
        sid = apr_strtok(NULL, " \t\r", &last);
        extra = apr_strtok(NULL, " \t\r", &last);
        if (sid == NULL || extra != NULL)
            return apr_psprintf(p, "%s:%d: expected \"name SID\"", file, no);
        if (!map_name_ok(name)
            || sid_canonical(name, canon, sizeof(canon)) == 0)
            return apr_psprintf(p, "%s:%d: '%s' is not a group name", file, no,
                                name);
        if (sid_canonical(sid, canon, sizeof(canon)) != 0)
            return apr_psprintf(p,
                                "%s:%d: '%s' is not a SID (S-1-5-21-"
                                "...)",
                                file, no, sid);
        if (apr_hash_get(*by_name, name, APR_HASH_KEY_STRING) != NULL)
            return apr_psprintf(p, "%s:%d: '%s' is mapped twice", file, no,
                                name);
        sid = apr_pstrdup(p, canon);
        apr_hash_set(*by_name, name, APR_HASH_KEY_STRING, sid);
        if (apr_hash_get(*by_sid, sid, APR_HASH_KEY_STRING) == NULL)
            apr_hash_set(*by_sid, sid, APR_HASH_KEY_STRING, name);
        if (nl == NULL)
            break;
    }
    return NULL;
}

/* The file's signature now; sig->exists 0 when it is gone (or cannot be
 * looked at). */
static void map_stat(struct n8443_group_map *m, map_sig *sig)
{
    struct stat st;

    if (stat(m->file, &st) == 0)
        sig_of(&st, sig);
    else
        memset(sig, 0, sizeof(*sig));
}

const char *n8443_set_group_map(cmd_parms *cmd, void *dconf, const char *arg)
{
    n8443_server_conf *sc =
        ap_get_module_config(cmd->server->module_config, &negotiate8443_module);
    struct n8443_group_map *m = apr_pcalloc(cmd->pool, sizeof(*m));
    const char *err;

    (void)dconf;
    m->file = ap_server_root_relative(cmd->pool, arg);
    if (m->file == NULL)
        return apr_psprintf(cmd->pool, "NegotiateGroupMap: bad path '%s'", arg);
    if (apr_pool_create(&m->pool, cmd->pool) != APR_SUCCESS
        || apr_pool_create(&m->gen, m->pool) != APR_SUCCESS
        || apr_thread_mutex_create(&m->mutex, APR_THREAD_MUTEX_DEFAULT,
                                   cmd->pool)
               != APR_SUCCESS)
        return "NegotiateGroupMap: out of memory";
    err = map_load(m->gen, m->file, 0, &m->by_name, &m->by_sid, &m->sig);
    if (err != NULL)
        return apr_pstrcat(cmd->pool, "NegotiateGroupMap ", err, NULL);
    m->checked = apr_time_now();
    sc->group_map = m;
    return NULL;
}

/* Under m->mutex: read the file again if it changed (at most once a
 * second).  A file changed less than a second ago is left for the next
 * look (a writer may not be done); a bad or unfinished new file is
 * logged and the old map stays; a file that is gone empties the map
 * (fail closed: names no longer resolve, so Require negotiate-group NAME
 * matches no one, SIDs still do).  Each is logged once per change. */
static void map_refresh(request_rec *r, struct n8443_group_map *m)
{
    map_sig now_sig, read_sig;
    apr_time_t now = apr_time_now();
    apr_time_t age;
    apr_pool_t *gen;
    apr_hash_t *by_name, *by_sid;
    const char *err;

    if (now - m->checked < apr_time_from_sec(1))
        return;
    m->checked = now;
    map_stat(m, &now_sig);
    if (sig_same(&now_sig, &m->sig))
        return;
    if (!now_sig.exists) {
        if (apr_pool_create(&gen, m->pool) != APR_SUCCESS)
            return;
        ap_log_rerror(
            APLOG_MARK, APLOG_WARNING, 0, r,
            N8443LOGNO(445) "NegotiateGroupMap %s is gone (or cannot be looked "
            "at): the map is empty until it is back; group names "
            "match no one",
            m->file);
        apr_pool_destroy(m->gen);
        m->gen = gen;
        m->by_name = apr_hash_make(gen);
        m->by_sid = apr_hash_make(gen);
        m->sig = now_sig;
        return;
    }
    age = now
          - (apr_time_from_sec(now_sig.mtime.tv_sec)
             + now_sig.mtime.tv_nsec / 1000);
    if (age >= 0 && age < apr_time_from_sec(1))
        return; /* being written: look again next time */
    if (apr_pool_create(&gen, m->pool) != APR_SUCCESS)
        return;
    err = map_load(gen, m->file, 1, &by_name, &by_sid, &read_sig);
    if (err != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      N8443LOGNO(380) "NegotiateGroupMap %s; the map read "
                      "before stays in "
                      "use",
                      err);
        apr_pool_destroy(gen);
        m->sig = now_sig; /* logged once per change */
        return;
    }
    apr_pool_destroy(m->gen);
    m->gen = gen;
    m->by_name = by_name;
    m->by_sid = by_sid;
    m->sig = read_sig;
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  N8443LOGNO(381) "NegotiateGroupMap %s read again: %u names",
                  m->file, apr_hash_count(by_name));
}

/* The SID of a name, in r->pool, or NULL. */
static const char *map_sid_of(request_rec *r, struct n8443_group_map *m,
                              const char *name)
{
    const char *v;

    if (m == NULL || apr_thread_mutex_lock(m->mutex) != APR_SUCCESS)
        return NULL;
    map_refresh(r, m);
    v = apr_hash_get(m->by_name, name, APR_HASH_KEY_STRING);
    v = v != NULL ? apr_pstrdup(r->pool, v) : NULL;
    apr_thread_mutex_unlock(m->mutex);
    return v;
}

/* The names the map gives sids (a const char * array), space-separated,
 * in r->pool, or NULL: one look under the lock for all of them. */
static const char *map_names(request_rec *r, struct n8443_group_map *m,
                             const apr_array_header_t *sids)
{
    const char *names = NULL;
    int i;

    if (apr_thread_mutex_lock(m->mutex) != APR_SUCCESS)
        return NULL;
    map_refresh(r, m);
    for (i = 0; i < sids->nelts; i++) {
        const char *name =
            apr_hash_get(m->by_sid, APR_ARRAY_IDX(sids, i, const char *),
                         APR_HASH_KEY_STRING);
        if (name != NULL)
            names = names ? apr_pstrcat(r->pool, names, " ", name, NULL)
                          : apr_pstrdup(r->pool, name);
    }
    apr_thread_mutex_unlock(m->mutex);
    return names;
}

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
    names = map_names(r, sc->group_map, c->sids);
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

        if (sid_canonical(w, canon, sizeof(canon)) == 0) {
            sid = canon;
        }
        else {
            sid = map_sid_of(r, sc->group_map, w);
            if (sid == NULL) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                              N8443LOGNO(387) "Require negotiate-group: '%s' "
                              "is not in %s: "
                              "it matches no one",
                              w,
                              sc->group_map
                                  ? sc->group_map->file
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
            && sid_canonical(w, canon, sizeof(canon)) != 0)
            return apr_psprintf(cmd->pool,
                                "Require negotiate-group: '%s' "
                                "is not a SID",
                                w);
        if (!map_name_ok(w))
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
