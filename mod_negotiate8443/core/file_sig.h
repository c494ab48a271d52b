/*
 * file_sig.h - what tells one version of a file from another, for the
 * files the module watches and reads again when they change (the keytab:
 * credentials.c; NegotiateGroupMap: group_map.c).  Pure C, no httpd.
 *
 * The signature is the file's stat: device and inode (a new file renamed
 * over the old one), size, and mtime and ctime to the nanosecond (an
 * edit of the same size within the same second still changes them; a
 * rewrite in place that puts the old mtime back, as `cp -p`, `rsync -t
 * --inplace` or tar do, still changes ctime).
 */
#ifndef N8443_FILE_SIG_H
#define N8443_FILE_SIG_H

#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

typedef struct {
    int exists; /* 0: gone, or cannot be looked at */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    struct timespec ctime;
} n8443_file_sig;

/* The signature of what st describes (stat or fstat of an open file). */
void n8443_file_sig_of(const struct stat *st, n8443_file_sig *sig);

/* The signature of path now; exists 0 when path is NULL, gone or cannot
 * be looked at. */
void n8443_file_sig_stat(const char *path, n8443_file_sig *sig);

/* 1 when a and b are the same version of the file (both gone counts as
 * the same), else 0. */
int n8443_file_sig_same(const n8443_file_sig *a, const n8443_file_sig *b);

#endif /* N8443_FILE_SIG_H */
