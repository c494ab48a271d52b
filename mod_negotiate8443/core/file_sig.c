/*
 * file_sig.c - a file's signature: one version of it (file_sig.h).
 */
#include "file_sig.h"

#include <string.h>

void n8443_file_sig_of(const struct stat *st, n8443_file_sig *sig)
{
    memset(sig, 0, sizeof(*sig));
    sig->exists = 1;
    sig->dev = st->st_dev;
    sig->ino = st->st_ino;
    sig->size = st->st_size;
    sig->mtime = st->st_mtim;
    sig->ctime = st->st_ctim;
}

void n8443_file_sig_stat(const char *path, n8443_file_sig *sig)
{
    struct stat st;

    if (path != NULL && stat(path, &st) == 0)
        n8443_file_sig_of(&st, sig);
    else
        memset(sig, 0, sizeof(*sig));
}

int n8443_file_sig_same(const n8443_file_sig *a, const n8443_file_sig *b)
{
    if (!a->exists || !b->exists)
        return a->exists == b->exists;
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size
           && a->mtime.tv_sec == b->mtime.tv_sec
           && a->mtime.tv_nsec == b->mtime.tv_nsec
           && a->ctime.tv_sec == b->ctime.tv_sec
           && a->ctime.tv_nsec == b->ctime.tv_nsec;
}
