/*
 * roundtrip.c - what one round trip to the replay store costs on this
 * machine, with nothing else in it: one connection, one command, wait for
 * the answer, N times; the CPU time of this client and of the store's
 * process per round trip, and the wall time.
 *
 *   roundtrip memcache|redis PORT STORE-PID N
 *
 * memcache: "add KEY 0 600 1" (the module's entry), redis: "SET KEY 1 NX
 * PX 600000"; every key new.  Blocking socket, TCP_NODELAY, one write and
 * one read a command: the least a client can do.  The benchmark prints it
 * beside scenarios (b) and (r): the part of their cost that no client
 * code can take away.  127.0.0.1 only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double cpu_self(void)
{
    struct rusage u;

    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec)
           + (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static double wall(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* utime + stime of a process (all its threads), seconds; -1 if unknown. */
static double cpu_of(long pid)
{
    char path[64], buf[4096], *p;
    unsigned long ut, st;
    FILE *f;
    int i;

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    p = fgets(buf, sizeof(buf), f);
    fclose(f);
    /* The name may hold spaces: count fields after its ')'. */
    if (p == NULL || (p = strrchr(buf, ')')) == NULL)
        return -1;
    for (i = 0; i < 12 && p != NULL; i++)
        p = strchr(p + 1, ' ');
    if (p == NULL || sscanf(p, "%lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int connect_local(int port)
{
    struct sockaddr_in a;
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    if (s < 0)
        return -1;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0
        || setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
        close(s);
        return -1;
    }
    return s;
}

/* One command, its whole answer (one line: STORED, NOT_STORED, +OK, $-1). */
static int exchange(int s, const char *cmd, size_t len)
{
    char buf[512];
    size_t got = 0;
    ssize_t n;

    while (len > 0) {
        n = write(s, cmd, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        cmd += n;
        len -= (size_t)n;
    }
    do {
        n = read(s, buf + got, sizeof(buf) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    } while (got < sizeof(buf) && memchr(buf, '\n', got) == NULL);
    return 0;
}

int main(int argc, char **argv)
{
    double c0, w0, s0, c1, w1, s1;
    char cmd[256], key[40];
    long pid, i, n;
    int s, redis, len;

    if (argc != 5
        || (strcmp(argv[1], "memcache") != 0
            && strcmp(argv[1], "redis") != 0)) {
        fprintf(stderr, "usage: roundtrip memcache|redis PORT STORE-PID N\n");
        return 2;
    }
    redis = strcmp(argv[1], "redis") == 0;
    pid = atol(argv[3]);
    n = atol(argv[4]);
    s = connect_local(atoi(argv[2]));
    if (s < 0 || n <= 0) {
        perror("roundtrip: connect");
        return 1;
    }
    c0 = cpu_self();
    w0 = wall();
    s0 = cpu_of(pid);
    for (i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "rt%d%015ld", (int)getpid() % 100000, i);
        len = redis
                  ? snprintf(cmd, sizeof(cmd),
                             "*6\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$1\r\n1\r\n"
                             "$2\r\nNX\r\n$2\r\nPX\r\n$6\r\n600000\r\n",
                             strlen(key), key)
                  : snprintf(cmd, sizeof(cmd), "add %s 0 600 1\r\n1\r\n", key);
        if (exchange(s, cmd, (size_t)len) != 0) {
            fprintf(stderr, "roundtrip: the store stopped answering\n");
            return 1;
        }
    }
    c1 = cpu_self();
    w1 = wall();
    s1 = cpu_of(pid);
    close(s);
    printf("{\"round_trips\": %ld, \"wall_us\": %.2f, \"client_cpu_us\": %.2f, "
           "\"store_cpu_us\": %.2f}\n",
           n, (w1 - w0) / (double)n * 1e6, (c1 - c0) / (double)n * 1e6,
           s0 < 0 || s1 < 0 ? -1.0 : (s1 - s0) / (double)n * 1e6);
    return 0;
}
