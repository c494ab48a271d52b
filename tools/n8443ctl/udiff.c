/*
 * n8443ctl - unified diff of two buffers (a plain library: diff.c and
 * install.c show the change they are about to make with it).
 *
 * The line matcher is Myers' O((N+M)D) algorithm in its linear-space form
 * (find the middle snake, recurse on both halves), the same shape as
 * diff-match-patch's bisect.  It finds a shortest edit script, so the
 * output has as few -/+ lines as GNU `diff -u --minimal`.  A budget bounds
 * the work on huge, wholly different inputs; past it a segment is shown
 * as replaced, which is still a correct diff, just not a minimal one.
 * The output follows the unified format that patch(1) reads.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "n8443ctl.h"

#define CONTEXT 3

struct line {
    const char *text; /* includes the '\n', if there is one */
    size_t len;
    uint64_t hash;
};

struct side {
    struct line *lines;
    size_t n;
    char *changed; /* per line: deleted (old) or inserted (new) */
};

struct differ {
    struct side a;
    struct side b;
    long budget; /* snake steps left before giving up on minimal */
};

static uint64_t hash_line(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* Split DATA into lines; the last one may lack its '\n'. */
static int split_lines(const char *data, size_t len, struct side *side)
{
    size_t n = 0;
    size_t i;
    size_t start = 0;

    for (i = 0; i < len; i++) {
        n += data[i] == '\n';
    }
    if (len > 0 && data[len - 1] != '\n') {
        n++;
    }
    side->lines = malloc((n ? n : 1) * sizeof(*side->lines));
    side->changed = calloc(n ? n : 1, 1);
    if (side->lines == NULL || side->changed == NULL) {
        return N8443_IO;
    }
    side->n = 0;
    for (i = 0; i < len; i++) {
        if (data[i] == '\n' || i + 1 == len) {
            struct line *l = &side->lines[side->n++];

            l->text = data + start;
            l->len = i + 1 - start;
            l->hash = hash_line(l->text, l->len);
            start = i + 1;
        }
    }
    return N8443_OK;
}

static int same(const struct differ *d, size_t x, size_t y)
{
    const struct line *la = &d->a.lines[x];
    const struct line *lb = &d->b.lines[y];

    return la->hash == lb->hash && la->len == lb->len
           && memcmp(la->text, lb->text, la->len) == 0;
}

static void mark_range(char *changed, size_t from, size_t to)
{
    if (to > from) {
        memset(changed + from, 1, to - from);
    }
}

static int compare(struct differ *d, size_t x0, size_t x1, size_t y0,
                   size_t y1);

/*
 * Find the middle snake of a[x0,x1) and b[y0,y1) (both non-empty, no
 * common first or last line) by running the forward and the reverse
 * search until they overlap, then diff both halves.  Without the budget
 * (or memory) the whole segment counts as replaced.
 */
static int bisect(struct differ *d, size_t x0, size_t x1, size_t y0, size_t y1)
{
    long n = (long)(x1 - x0);
    long m = (long)(y1 - y0);
    long max_d = (n + m + 1) / 2;
    long offset = max_d;
    long vlen = 2 * max_d + 2;
    long delta = n - m;
    int front = (delta % 2) != 0;
    long k1start = 0, k1end = 0, k2start = 0, k2end = 0;
    long *v1;
    long *v2;
    long dd;
    long k;
    int rc = N8443_OK;

    v1 = malloc((size_t)vlen * sizeof(*v1));
    v2 = malloc((size_t)vlen * sizeof(*v2));
    if (v1 == NULL || v2 == NULL) {
        rc = N8443_IO;
        goto cleanup;
    }
    for (k = 0; k < vlen; k++) {
        v1[k] = -1;
        v2[k] = -1;
    }
    v1[offset + 1] = 0;
    v2[offset + 1] = 0;

    for (dd = 0; dd < max_d && d->budget > 0; dd++) {
        /* Forward paths. */
        for (k = -dd + k1start; k <= dd - k1end; k += 2) {
            long ko = offset + k;
            long start;
            long x;
            long y;

            if (k == -dd || (k != dd && v1[ko - 1] < v1[ko + 1])) {
                x = v1[ko + 1];
            }
            else {
                x = v1[ko - 1] + 1;
            }
            y = x - k;
            start = x;
            while (x < n && y < m && same(d, x0 + (size_t)x, y0 + (size_t)y)) {
                x++;
                y++;
            }
            d->budget -= 1 + (x - start);
            v1[ko] = x;
            if (x > n) {
                k1end += 2;
            }
            else if (y > m) {
                k1start += 2;
            }
            else if (front) {
                long k2o = offset + delta - k;

                if (k2o >= 0 && k2o < vlen && v2[k2o] != -1
                    && x >= n - v2[k2o]) {
                    rc = compare(d, x0, x0 + (size_t)x, y0, y0 + (size_t)y);
                    if (rc == N8443_OK) {
                        rc = compare(d, x0 + (size_t)x, x1, y0 + (size_t)y, y1);
                    }
                    goto cleanup;
                }
            }
        }
        /* Reverse paths, counted from the ends. */
        for (k = -dd + k2start; k <= dd - k2end; k += 2) {
            long ko = offset + k;
            long start;
            long x;
            long y;

            if (k == -dd || (k != dd && v2[ko - 1] < v2[ko + 1])) {
                x = v2[ko + 1];
            }
            else {
                x = v2[ko - 1] + 1;
            }
            y = x - k;
            start = x;
            while (x < n && y < m
                   && same(d, x1 - 1 - (size_t)x, y1 - 1 - (size_t)y)) {
                x++;
                y++;
            }
            d->budget -= 1 + (x - start);
            v2[ko] = x;
            if (x > n) {
                k2end += 2;
            }
            else if (y > m) {
                k2start += 2;
            }
            else if (!front) {
                long k1o = offset + delta - k;

                if (k1o >= 0 && k1o < vlen && v1[k1o] != -1) {
                    long fx = v1[k1o];
                    long fy = fx - (k1o - offset);

                    if (fx >= n - x) {
                        rc = compare(d, x0, x0 + (size_t)fx, y0,
                                     y0 + (size_t)fy);
                        if (rc == N8443_OK) {
                            rc = compare(d, x0 + (size_t)fx, x1,
                                         y0 + (size_t)fy, y1);
                        }
                        goto cleanup;
                    }
                }
            }
        }
    }
    /* No overlap within the budget: replace the segment. */
    mark_range(d->a.changed, x0, x1);
    mark_range(d->b.changed, y0, y1);

cleanup:
    free(v1);
    free(v2);
    return rc;
}

/* Mark the lines that differ between a[x0,x1) and b[y0,y1). */
static int compare(struct differ *d, size_t x0, size_t x1, size_t y0, size_t y1)
{
    while (x0 < x1 && y0 < y1 && same(d, x0, y0)) {
        x0++;
        y0++;
    }
    while (x0 < x1 && y0 < y1 && same(d, x1 - 1, y1 - 1)) {
        x1--;
        y1--;
    }
    if (x0 == x1) {
        mark_range(d->b.changed, y0, y1);
        return N8443_OK;
    }
    if (y0 == y1) {
        mark_range(d->a.changed, x0, x1);
        return N8443_OK;
    }
    return bisect(d, x0, x1, y0, y1);
}

static void emit_line(struct n8443_buf *out, char tag, const struct line *l)
{
    n8443_buf_add(out, &tag, 1);
    n8443_buf_add(out, l->text, l->len);
    if (l->len == 0 || l->text[l->len - 1] != '\n') {
        n8443_buf_puts(out, "\n\\ No newline at end of file\n");
    }
}

/* "-START,COUNT" as diff -u prints it: a count of 1 is left out, and an
 * empty range names the line before it. */
static void emit_range(struct n8443_buf *out, char tag, size_t start,
                       size_t count)
{
    if (count == 1) {
        n8443_buf_printf(out, "%c%zu", tag, start + 1);
    }
    else {
        n8443_buf_printf(out, "%c%zu,%zu", tag, count ? start + 1 : start,
                         count);
    }
}

/*
 * Walk both sides in step and print hunks: each change with up to CONTEXT
 * unchanged lines around it; changes closer than 2*CONTEXT lines share a
 * hunk.
 */
static void emit_hunks(const struct differ *d, struct n8443_buf *out)
{
    size_t i = 0;
    size_t j = 0;

    for (;;) {
        size_t hi;
        size_t hj;
        size_t ei;
        size_t ej;
        size_t gap;

        /* Skip to the next change, keeping both sides aligned. */
        while (i < d->a.n && j < d->b.n && !d->a.changed[i]
               && !d->b.changed[j]) {
            i++;
            j++;
        }
        if (i >= d->a.n && j >= d->b.n) {
            return;
        }
        hi = i > CONTEXT ? i - CONTEXT : 0;
        hj = j - (i - hi);

        /* Extend the hunk over changes and short unchanged gaps. */
        ei = i;
        ej = j;
        for (;;) {
            while (ei < d->a.n && d->a.changed[ei]) {
                ei++;
            }
            while (ej < d->b.n && d->b.changed[ej]) {
                ej++;
            }
            gap = 0;
            while (ei + gap < d->a.n && ej + gap < d->b.n
                   && !d->a.changed[ei + gap] && !d->b.changed[ej + gap]) {
                gap++;
                if (gap > 2 * CONTEXT) {
                    break;
                }
            }
            if (gap <= 2 * CONTEXT
                && (ei + gap < d->a.n || ej + gap < d->b.n)) {
                ei += gap;
                ej += gap;
                continue;
            }
            /* Trailing context. */
            gap = gap > CONTEXT ? CONTEXT : gap;
            ei += gap;
            ej += gap;
            break;
        }

        n8443_buf_puts(out, "@@ ");
        emit_range(out, '-', hi, ei - hi);
        n8443_buf_puts(out, " ");
        emit_range(out, '+', hj, ej - hj);
        n8443_buf_puts(out, " @@\n");
        i = hi;
        j = hj;
        while (i < ei || j < ej) {
            if (i < ei && d->a.changed[i]) {
                emit_line(out, '-', &d->a.lines[i++]);
            }
            else if (j < ej && d->b.changed[j]) {
                emit_line(out, '+', &d->b.lines[j++]);
            }
            else {
                emit_line(out, ' ', &d->a.lines[i]);
                i++;
                j++;
            }
        }
    }
}

/*
 * Append to OUT the unified diff (3 lines of context) from OLD to NEW,
 * labelled OLD_LABEL and NEW_LABEL, and set *differs_out; identical
 * inputs append nothing.  Returns N8443_OK or N8443_IO (out of memory).
 */
int n8443_diff_unified(const char *old_data, size_t old_len,
                       const char *new_data, size_t new_len,
                       const char *old_label, const char *new_label,
                       struct n8443_buf *out, int *differs_out)
{
    struct differ d;
    int rc;

    memset(&d, 0, sizeof(d));
    if (old_len == new_len
        && (old_len == 0 || memcmp(old_data, new_data, old_len) == 0)) {
        *differs_out = 0;
        return N8443_OK;
    }
    rc = split_lines(old_data, old_len, &d.a);
    if (rc == N8443_OK) {
        rc = split_lines(new_data, new_len, &d.b);
    }
    if (rc != N8443_OK) {
        goto cleanup;
    }
    d.budget = 50L * 1000 * 1000;
    rc = compare(&d, 0, d.a.n, 0, d.b.n);
    if (rc != N8443_OK) {
        goto cleanup;
    }
    n8443_buf_printf(out, "--- %s\n+++ %s\n", old_label, new_label);
    emit_hunks(&d, out);
    if (out->failed) {
        rc = N8443_IO;
        goto cleanup;
    }
    *differs_out = 1;

cleanup:
    free(d.a.lines);
    free(d.a.changed);
    free(d.b.lines);
    free(d.b.changed);
    return rc;
}
