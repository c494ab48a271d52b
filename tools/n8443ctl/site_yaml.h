/*
 * n8443ctl - YAML text to a small node tree with positions.
 *
 * libyaml's document API would do this too, but it resolves aliases into
 * shared nodes (an exponential walk for a "billion laughs" file), keeps
 * no difference between `8443` and `"8443"` once tags are resolved by
 * the caller, and stops at the first duplicate key silently.  Reading the
 * event stream ourselves keeps all three under our control.
 */
#ifndef N8443CTL_SITE_YAML_H
#define N8443CTL_SITE_YAML_H

#include <stddef.h>

#include "site.h"

enum n8443_ynode_kind { N8443_YSCALAR, N8443_YMAP, N8443_YSEQ };

struct n8443_ynode {
    enum n8443_ynode_kind kind;
    int line; /* 1-based start of the node */
    int col;
    /* scalars */
    const char *text; /* NUL-terminated copy */
    size_t len;       /* may hold NULs: check before use */
    int plain;        /* plain style, no string tag: typed
                                       by content (int, bool, null) */
    /* mappings: key, value, key, value ...; sequences: the items */
    struct n8443_ynode **items;
    size_t nitems;
};

#define N8443_YAML_MAX_DEPTH 32
#define N8443_YAML_MAX_NODES 100000

/*
 * Parse DATA into a tree allocated from ARENA.  Returns N8443_OK with the
 * root in *root_out (NULL for a file without a document), N8443_INVALID
 * with a syntax error in DIAGS, or N8443_IO when memory ran out.
 */
int n8443_yaml_parse(struct n8443_arena *arena, const char *data, size_t len,
                     struct n8443_diags *diags, struct n8443_ynode **root_out);

/* Append a diagnostic at LINE:COL; identical repeats are dropped. */
void n8443_diag_add(struct n8443_diags *diags, int line, int col,
                    const char *fmt, ...) N8443_PRINTF(4, 5);
void n8443_diag_addv(struct n8443_diags *diags, int line, int col,
                     const char *fmt, va_list ap) N8443_PRINTF(4, 0);

#endif /* N8443CTL_SITE_YAML_H */
