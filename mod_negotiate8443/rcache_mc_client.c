/*
 * rcache_mc_client.c - the few memcached commands the replay cache needs,
 * over connections of the child's own (rcache_provider.h).
 *
 * Not APR-util's apr_memcache, for two reasons.  Its server selection moves
 * a key to the next server when the key's server is marked dead, where no
 * entry of it was ever stored: a replay would be taken for a fresh login.
 * Here a key has one server, always (n8443_mc_home), and while that server
 * is away its logins fail closed.  And its recovery is slow and uneven: a
 * server it marked dead is tried again only after 5 s, with a connection
 * from its pool - after a memcached restart a stale one, which fails (the
 * "version" ping even puts it back), marks the server dead for another
 * 5 s, and so on for each pooled connection of each child: fresh logins
 * saw 503 on some children long after memcached was back.  Here a pooled
 * connection found reset or closed (before any answer) drops every idle
 * connection of that server and the command is sent once more on a new
 * one; a server that refuses connections is left alone for one second
 * (per child), then tried again by the next login.
 */
#include "n8443_private.h"
#include "rcache_provider.h"

#include "apr_strings.h"
#include "apr_thread_mutex.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/time.h>

/* Seconds a child leaves a server alone after it refused a connection. */
#define MC_RETRY_SEC 1
/* Connect timeout, and the time a command may take. */
#define MC_TIMEOUT apr_time_from_sec(1)

typedef struct mc_conn {
    apr_pool_t *pool;
    apr_socket_t *sock;
    struct mc_conn *next;
} mc_conn;

struct n8443_mc_server {
    const char *name; /* "host:port" as configured */
    const char *host;
    apr_port_t port;
    apr_pool_t *pool;
    apr_thread_mutex_t *lock; /* idle, down_until, the pool's children */
    mc_conn *idle;
    apr_time_t down_until;
};

apr_status_t n8443_mc_create(apr_pool_t *p, const char *servers,
                             n8443_mc_client **out)
{
    char *list = apr_pstrdup(p, servers), *tok, *last;
    n8443_mc_client *c = apr_pcalloc(p, sizeof(*c));
    apr_status_t rv;
    int n = 1;

    for (tok = list; *tok; tok++)
        n += (*tok == ',');
    c->server = apr_pcalloc(p, n * sizeof(*c->server));
    for (tok = apr_strtok(list, ",", &last); tok != NULL;
         tok = apr_strtok(NULL, ",", &last)) {
        n8443_mc_server *s = apr_pcalloc(p, sizeof(*s));
        char *scope = NULL, *host = NULL;

        rv = apr_parse_addr_port(&host, &scope, &s->port, tok, p);
        if (rv != APR_SUCCESS || host == NULL)
            return rv != APR_SUCCESS ? rv : APR_EINVAL;
        s->host = host;
        s->name = apr_pstrdup(p, tok);
        rv = apr_pool_create(&s->pool, p);
        if (rv == APR_SUCCESS)
            rv = apr_thread_mutex_create(&s->lock, APR_THREAD_MUTEX_DEFAULT, p);
        if (rv != APR_SUCCESS)
            return rv;
        c->server[c->n++] = s;
    }
    *out = c;
    return APR_SUCCESS;
}

const char *n8443_mc_name(const n8443_mc_server *s)
{
    return s->name;
}

/* FNV-1a over the key: its server, the same in every child and host that
 * lists the servers in the same order. */
n8443_mc_server *n8443_mc_home(const n8443_mc_client *c, const char *key,
                               int *index)
{
    apr_uint32_t h = 2166136261u;

    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 16777619u;
    *index = (int)(h % (apr_uint32_t)c->n);
    return c->server[*index];
}

static void conn_close(n8443_mc_server *s, mc_conn *conn)
{
    apr_socket_close(conn->sock);
    apr_thread_mutex_lock(s->lock);
    apr_pool_destroy(conn->pool);
    apr_thread_mutex_unlock(s->lock);
}

/* The kernel's receive timeout of sock (and its send timeout, if snd). */
static apr_status_t set_timeouts(apr_socket_t *sock, apr_interval_time_t t,
                                 int snd)
{
    struct timeval tv;
    apr_os_sock_t fd;
    apr_status_t rv = apr_os_sock_get(&fd, sock);

    tv.tv_sec = (time_t)apr_time_sec(t);
    tv.tv_usec = (suseconds_t)apr_time_usec(t);
    if (rv == APR_SUCCESS
        && (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0
            || (snd
                && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv))
                       != 0)))
        rv = APR_FROM_OS_ERROR(errno);
    return rv;
}

/*
 * A connected socket made blocking, with the kernel's send and receive
 * timeouts in place of APR's: APR keeps a socket with a timeout
 * non-blocking and waits in poll() whenever the answer is not there yet,
 * which is every time (two more system calls a command, a few
 * microseconds of the login).  A timeout then ends send or recv with
 * EAGAIN, an error like any other.
 */
static apr_status_t blocking_with_timeout(apr_socket_t *sock)
{
    apr_status_t rv = apr_socket_timeout_set(sock, -1);

    return rv == APR_SUCCESS ? set_timeouts(sock, MC_TIMEOUT, 1) : rv;
}

/* An idle connection (*pooled = 1), or a new one; NULL when the server is
 * left alone or refused it. */
static mc_conn *conn_get(n8443_mc_server *s, int *pooled, apr_status_t *rv)
{
    apr_sockaddr_t *sa;
    mc_conn *conn;
    apr_pool_t *cp;

    apr_thread_mutex_lock(s->lock);
    conn = s->idle;
    if (conn != NULL) {
        s->idle = conn->next;
        apr_thread_mutex_unlock(s->lock);
        *pooled = 1;
        return conn;
    }
    if (apr_time_now() < s->down_until) {
        apr_thread_mutex_unlock(s->lock);
        *rv = APR_ECONNREFUSED;
        return NULL;
    }
    *rv = apr_pool_create(&cp, s->pool);
    apr_thread_mutex_unlock(s->lock);
    if (*rv != APR_SUCCESS)
        return NULL;
    *pooled = 0;
    conn = apr_pcalloc(cp, sizeof(*conn));
    conn->pool = cp;
    *rv = apr_sockaddr_info_get(&sa, s->host, APR_UNSPEC, s->port, 0, cp);
    if (*rv == APR_SUCCESS)
        *rv = apr_socket_create(&conn->sock, sa->family, SOCK_STREAM,
                                APR_PROTO_TCP, cp);
    if (*rv == APR_SUCCESS) {
        apr_socket_opt_set(conn->sock, APR_TCP_NODELAY, 1);
        apr_socket_timeout_set(conn->sock, MC_TIMEOUT);
        *rv = apr_socket_connect(conn->sock, sa);
        if (*rv == APR_SUCCESS)
            *rv = blocking_with_timeout(conn->sock);
        if (*rv != APR_SUCCESS)
            apr_socket_close(conn->sock);
    }
    if (*rv != APR_SUCCESS) {
        apr_thread_mutex_lock(s->lock);
        apr_pool_destroy(cp);
        s->down_until = apr_time_now() + apr_time_from_sec(MC_RETRY_SEC);
        apr_thread_mutex_unlock(s->lock);
        return NULL;
    }
    return conn;
}

static void conn_put(n8443_mc_server *s, mc_conn *conn)
{
    apr_thread_mutex_lock(s->lock);
    conn->next = s->idle;
    s->idle = conn;
    s->down_until = 0;
    apr_thread_mutex_unlock(s->lock);
}

/* A pooled connection failed: the others are as old (a restart of
 * memcached broke them all), so they go too. */
static void drop_idle(n8443_mc_server *s)
{
    mc_conn *conn, *next;

    apr_thread_mutex_lock(s->lock);
    conn = s->idle;
    s->idle = NULL;
    for (; conn != NULL; conn = next) {
        next = conn->next;
        apr_socket_close(conn->sock);
        apr_pool_destroy(conn->pool);
    }
    apr_thread_mutex_unlock(s->lock);
}

/* Has the reply in buf[0..len) ended?  lines: the replies it holds, each
 * one line, but a "get" reply (want_get) ends with END. */
static int reply_complete(const char *buf, apr_size_t len, int lines,
                          int want_get)
{
    const char *p = buf, *end = buf + len, *nl;

    for (; lines > 0; lines--) {
        nl = memchr(p, '\n', (apr_size_t)(end - p));
        if (nl == NULL)
            return 0;
        p = nl + 1;
    }
    if (!want_get)
        return 1;
    /* VALUE <key> <flags> <bytes>\r\n<data>\r\nEND\r\n, or END\r\n */
    return len >= 5 && memcmp(end - 5, "END\r\n", 5) == 0
           && (p == end - 5 || len - (apr_size_t)(p - buf) >= 12);
}

/*
 * Send cmd and read its answer, all within MC_TIMEOUT: the socket's
 * timeout is per read, and a server that sent a byte now and then would
 * hold the login for as long as it liked, so each read waits only for
 * what is left.  *heard: some of the answer came (the server took the
 * command: it must not be sent again).
 */
static apr_status_t exchange(mc_conn *conn, const char *cmd, apr_size_t len,
                             char *reply, apr_size_t size, int lines,
                             int want_get, int *heard)
{
    apr_time_t deadline = apr_time_now() + MC_TIMEOUT;
    apr_interval_time_t left;
    apr_size_t got = 0, n;
    apr_status_t rv = APR_SUCCESS;
    int shortened = 0;

    *heard = 0;
    while (len > 0) {
        n = len;
        rv = apr_socket_send(conn->sock, cmd, &n);
        if (rv != APR_SUCCESS)
            return rv;
        cmd += n;
        len -= n;
    }
    for (;;) {
        if (got >= size - 1)
            return APR_EGENERAL; /* longer than any answer we ask for */
        left = deadline - apr_time_now();
        if (left <= 0)
            return APR_TIMEUP;
        /* Normally the first read, with all the time: no system call. */
        if (left < MC_TIMEOUT - apr_time_from_msec(10)) {
            rv = set_timeouts(conn->sock, left, 0);
            if (rv != APR_SUCCESS)
                return rv;
            shortened = 1;
        }
        n = size - 1 - got;
        rv = apr_socket_recv(conn->sock, reply + got, &n);
        if (rv != APR_SUCCESS && n == 0)
            return rv == APR_EOF ? APR_ECONNRESET : rv;
        *heard = 1;
        got += n;
        reply[got] = '\0';
        if (reply_complete(reply, got, lines, want_get))
            return shortened ? set_timeouts(conn->sock, MC_TIMEOUT, 0)
                             : APR_SUCCESS;
    }
}

/* The command's time ran out (our deadline, or the kernel's timeout). */
static int late(apr_status_t rv)
{
    return APR_STATUS_IS_TIMEUP(rv) || APR_STATUS_IS_EAGAIN(rv)
           || APR_STATUS_IS_ETIMEDOUT(rv);
}

apr_status_t n8443_mc_command(n8443_mc_server *s, const char *cmd, char *reply,
                              apr_size_t size, int lines, int want_get)
{
    apr_size_t len = strlen(cmd);
    apr_status_t rv = APR_EGENERAL;
    int attempt, pooled = 0, heard = 0;
    mc_conn *conn;

    for (attempt = 0; attempt < 2; attempt++) {
        conn = conn_get(s, &pooled, &rv);
        if (conn == NULL)
            return rv;
        rv = exchange(conn, cmd, len, reply, size, lines, want_get, &heard);
        if (rv == APR_SUCCESS) {
            conn_put(s, conn);
            return APR_SUCCESS;
        }
        conn_close(s, conn);
        /* A stale connection (memcached restarted: reset or closed before
         * a byte of the answer): once more, new.  Not after a timeout or
         * part of an answer: the server may have stored the entry, and
         * the same add again would call this fresh login a replay. */
        if (!pooled || heard || late(rv))
            break;
        drop_idle(s);
    }
    apr_thread_mutex_lock(s->lock);
    s->down_until = apr_time_now() + apr_time_from_sec(MC_RETRY_SEC);
    apr_thread_mutex_unlock(s->lock);
    return rv;
}
