/*
 * target.h - the file install replaces, opened safely.
 */
#ifndef N8443CTL_TARGET_H
#define N8443CTL_TARGET_H

/*
 * The target, as install uses it: the directory, opened once and checked,
 * and the file's name in it.  Every later step (read, .prev, write,
 * rename, rollback) works relative to the open directory, so nothing that
 * changes in the path after the checks can redirect a write.
 */
struct target {
    int dir_fd;
    char *dir;  /* the directory as given, for messages */
    char *name; /* the file's name in it */
    char *path; /* dir/name, for messages */
};

/* Check TARGET (a regular file or none, in a directory only root can
 * write, reached through nothing anyone else controls), open and lock its
 * directory.  N8443_OK and *t filled, or an error code (printed). */
int n8443_target_open(const char *target, struct target *t);

void n8443_target_close(struct target *t);

#endif
