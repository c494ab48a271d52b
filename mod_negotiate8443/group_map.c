/*
 * group_map.c - NegotiateGroupMap FILE: lines "name SID" that give the
 * names of Require negotiate-group (groups.c) their SIDs, and the SIDs
 * of a ticket's groups their names (NEGOTIATE_GROUPS).
 *
 * The map is read at start-up, where a bad line stops httpd, and again in
 * each child when the file changes (checked at most once a second, by
 * its signature: core/file_sig.h).  A changed file with a bad line, a
 * last line without its newline (a write in place caught half-way), or
 * larger than 4 MiB is logged and the map in use stays; a file changed
 * less than a second ago is read on a later look; a file that is gone
 * empties the map (fail closed).  Names are only ever resolved through
 * it.
 */
#include "n8443_private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_sig.h"
#include "pac.h"

/* The map and the one copy of it in use (its own pool), swapped whole. */
struct n8443_group_map {
    const char *file;
    apr_pool_t *pool; /* parent of the generations */
    apr_thread_mutex_t *mutex;
    apr_pool_t *gen;     /* the generation in use */
    apr_hash_t *by_name; /* name -> canonical SID */
    apr_hash_t *by_sid;  /* canonical SID -> name */
    n8443_file_sig sig;  /* of the file last looked at */
    apr_time_t checked;
};

/* A map larger than this is refused (a mistake, not a map). */
#define MAP_MAX_BYTES (4 * 1024 * 1024)

int n8443_sid_canonical(const char *in, char *out, size_t outcap)
{
    n8443_sid sid;

    if (n8443_sid_from_string(in, &sid) != 0)
        return -1;
    return n8443_sid_to_string(&sid, out, outcap) < 0 ? -1 : 0;
}

int n8443_group_name_ok(const char *s)
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
                            size_t *outlen, n8443_file_sig *sig)
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
    n8443_file_sig_of(&st, sig);
    *out = buf;
    *outlen = got;
    return NULL;
}

/* Read the map file into a new generation in p.  With whole_lines, a
 * last line without its newline means the file is still being written
 * (in place): refused.  NULL, or why not ("FILE:LINE: ..."). */
static const char *map_load(apr_pool_t *p, const char *file, int whole_lines,
                            apr_hash_t **by_name, apr_hash_t **by_sid,
                            n8443_file_sig *sig)
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
        if (!n8443_group_name_ok(name)
            || n8443_sid_canonical(name, canon, sizeof(canon)) == 0)
            return apr_psprintf(p, "%s:%d: '%s' is not a group name", file, no,
                                name);
        if (n8443_sid_canonical(sid, canon, sizeof(canon)) != 0)
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
    n8443_file_sig now_sig, read_sig;
    apr_time_t now = apr_time_now();
    apr_time_t age;
    apr_pool_t *gen;
    apr_hash_t *by_name, *by_sid;
    const char *err;

    if (now - m->checked < apr_time_from_sec(1))
        return;
    m->checked = now;
    n8443_file_sig_stat(m->file, &now_sig);
    if (n8443_file_sig_same(&now_sig, &m->sig))
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

const char *n8443_group_map_sid(request_rec *r, struct n8443_group_map *m,
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

const char *n8443_group_map_names(request_rec *r, struct n8443_group_map *m,
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

const char *n8443_group_map_file(const struct n8443_group_map *m)
{
    return m->file;
}
