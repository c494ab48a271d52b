/*
 * n8443ctl - small helpers: byte buffer, arena, "did you mean", SHA-256.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "n8443ctl.h"

/* ------------------------------------------------------------ buffer */

void n8443_buf_init(struct n8443_buf *buf)
{
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    buf->failed = 0;
}

void n8443_buf_free(struct n8443_buf *buf)
{
    free(buf->data);
    n8443_buf_init(buf);
}

/* Make room for LEN more bytes plus a NUL, so that data is always a C
 * string for whoever wants to print it. */
static int buf_reserve(struct n8443_buf *buf, size_t len)
{
    size_t need;
    size_t cap;
    char *data;

    if (buf->failed) {
        return 0;
    }
    if (len > SIZE_MAX / 2 - buf->len) {
        buf->failed = 1;
        return 0;
    }
    need = buf->len + len + 1;
    if (need <= buf->cap) {
        return 1;
    }
    cap = buf->cap ? buf->cap : 256;
    while (cap < need) {
        cap *= 2;
    }
    data = realloc(buf->data, cap);
    if (data == NULL) {
        buf->failed = 1;
        return 0;
    }
    buf->data = data;
    buf->cap = cap;
    return 1;
}

void n8443_buf_add(struct n8443_buf *buf, const char *data, size_t len)
{
    if (!buf_reserve(buf, len)) {
        return;
    }
    if (len > 0) {
        memcpy(buf->data + buf->len, data, len);
    }
    buf->len += len;
    buf->data[buf->len] = '\0';
}

void n8443_buf_puts(struct n8443_buf *buf, const char *str)
{
    n8443_buf_add(buf, str, strlen(str));
}

void n8443_buf_printf(struct n8443_buf *buf, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        buf->failed = 1;
        return;
    }
    if (!buf_reserve(buf, (size_t)n)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf->len += (size_t)n;
}

/* ------------------------------------------------------------- arena */

/*
 * Blocks of at least 16 KiB, each holding many small allocations; a large
 * request gets a block of its own.  Nothing is freed until the end.
 */
struct n8443_arena_block {
    struct n8443_arena_block *next;
    size_t used;
    size_t size;
    max_align_t data[];
};

#define ARENA_BLOCK (16 * 1024)

void *n8443_arena_alloc(struct n8443_arena *arena, size_t size)
{
    struct n8443_arena_block *block = arena->head;
    size_t align = sizeof(max_align_t);
    size_t rounded;
    size_t bytes;
    void *p;

    if (size > SIZE_MAX - align - sizeof(*block) - ARENA_BLOCK) {
        return NULL;
    }
    rounded = (size + align - 1) / align * align;
    if (rounded == 0) {
        rounded = align;
    }
    if (block == NULL || block->size - block->used < rounded) {
        bytes = rounded > ARENA_BLOCK ? rounded : ARENA_BLOCK;
        block = malloc(sizeof(*block) + bytes);
        if (block == NULL) {
            return NULL;
        }
        block->size = bytes;
        block->used = 0;
        block->next = arena->head;
        arena->head = block;
    }
    p = (char *)block->data + block->used;
    block->used += rounded;
    memset(p, 0, size);
    return p;
}

char *n8443_arena_strndup(struct n8443_arena *arena, const char *str,
                          size_t len)
{
    char *copy;

    if (len == SIZE_MAX) {
        return NULL;
    }
    copy = n8443_arena_alloc(arena, len + 1);
    if (copy == NULL) {
        return NULL;
    }
    memcpy(copy, str, len);
    copy[len] = '\0';
    return copy;
}

void n8443_arena_free(struct n8443_arena *arena)
{
    struct n8443_arena_block *block = arena->head;
    struct n8443_arena_block *next;

    while (block != NULL) {
        next = block->next;
        free(block);
        block = next;
    }
    arena->head = NULL;
}

/* ------------------------------------------------------ did you mean */

#define EDIT_MAX 64

/*
 * Optimal string alignment distance (Levenshtein plus swapping two
 * neighbours, the commonest typo), ignoring case: "Listen" is one step
 * from nothing and zero from "listen".  Words longer than EDIT_MAX count
 * as far from everything; no key is that long.
 */
size_t n8443_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    size_t d[EDIT_MAX + 1][EDIT_MAX + 1];
    size_t i;
    size_t j;

    if (la > EDIT_MAX || lb > EDIT_MAX) {
        return SIZE_MAX;
    }
    for (i = 0; i <= la; i++) {
        d[i][0] = i;
    }
    for (j = 0; j <= lb; j++) {
        d[0][j] = j;
    }
    for (i = 1; i <= la; i++) {
        for (j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]);
            int cb = tolower((unsigned char)b[j - 1]);
            size_t best = d[i - 1][j - 1] + (ca != cb);

            if (d[i - 1][j] + 1 < best) {
                best = d[i - 1][j] + 1;
            }
            if (d[i][j - 1] + 1 < best) {
                best = d[i][j - 1] + 1;
            }
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2])
                && tolower((unsigned char)a[i - 2]) == cb
                && d[i - 2][j - 2] + 1 < best) {
                best = d[i - 2][j - 2] + 1;
            }
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

/*
 * The name in NAMES (NULL-terminated) closest to WORD, if it is close
 * enough to be a plausible typo: one edit for words up to 3 characters,
 * two beyond.  Ties go to the earlier name, so the answer is stable.
 */
const char *n8443_suggest(const char *word, const char *const *names)
{
    size_t limit = strlen(word) <= 3 ? 1 : 2;
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    size_t i;

    for (i = 0; names[i] != NULL; i++) {
        size_t d = n8443_edit_distance(word, names[i]);

        if (d <= limit && d < best_d) {
            best = names[i];
            best_d = d;
        }
    }
    return best;
}

/* ----------------------------------------------------------- SHA-256 */

int n8443_sha256(const void *data, size_t len, unsigned char md_out[32])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    if (!EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL)
        || md_len != 32) {
        return N8443_IO;
    }
    memcpy(md_out, md, 32);
    return N8443_OK;
}
