/*
 * n8443ctl - YAML event stream to node tree (see site_yaml.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "site_yaml.h"

void n8443_diag_addv(struct n8443_diags *diags, int line, int col,
                     const char *fmt, va_list ap)
{
    struct n8443_diag diag;
    size_t i;

    diag.line = line;
    diag.col = col;
    vsnprintf(diag.msg, sizeof(diag.msg), fmt, ap);

    /* A bad value in `defaults` is checked once per site that inherits
     * it; the reader needs to hear about it once. */
    for (i = 0; i < diags->n; i++) {
        if (diags->items[i].line == line && diags->items[i].col == col
            && strcmp(diags->items[i].msg, diag.msg) == 0) {
            return;
        }
    }
    if (diags->n == N8443_MAX_DIAGS) {
        diags->truncated = 1;
        return;
    }
    diags->items[diags->n++] = diag;
}

void n8443_diag_add(struct n8443_diags *diags, int line, int col,
                    const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    n8443_diag_addv(diags, line, col, fmt, ap);
    va_end(ap);
}

/* One open mapping or sequence and the children read so far; they move
 * into the arena when the collection ends and its size is known. */
struct frame {
    struct n8443_ynode *node;
    struct n8443_ynode **items;
    size_t n;
    size_t cap;
};

struct tree {
    struct n8443_arena *arena;
    struct n8443_diags *diags;
    struct frame stack[N8443_YAML_MAX_DEPTH];
    size_t depth;
    size_t nodes;
    struct n8443_ynode *root;
};

/* Line and column (1-based, counting bytes) of byte OFFSET, for reader
 * errors (bad UTF-8, control characters), which libyaml reports by
 * offset only. */
static void offset_position(const char *data, size_t len, size_t offset,
                            int *line_out, int *col_out)
{
    int line = 1;
    int col = 1;
    size_t i;

    for (i = 0; i < offset && i < len; i++) {
        if (data[i] == '\n') {
            line++;
            col = 1;
        }
        else {
            col++;
        }
    }
    *line_out = line;
    *col_out = col;
}

/*
 * libyaml's syntax error as a diagnostic at the problem's position.  For
 * parser errors the place where the enclosing construct started is added
 * when it differs: a bad indentation is often found lines after it.
 */
static void syntax_error(struct tree *t, const yaml_parser_t *parser,
                         const char *data, size_t len)
{
    int line;
    int col;
    const char *problem = parser->problem ? parser->problem : "unknown";

    if (parser->error == YAML_READER_ERROR) {
        offset_position(data, len, parser->problem_offset, &line, &col);
        if (parser->problem_value != -1) {
            n8443_diag_add(t->diags, line, col, "YAML syntax error: %s (#x%X)",
                           problem, (unsigned)parser->problem_value);
        }
        else {
            n8443_diag_add(t->diags, line, col, "YAML syntax error: %s",
                           problem);
        }
        return;
    }
    line = (int)parser->problem_mark.line + 1;
    col = (int)parser->problem_mark.column + 1;
    if (parser->problem_mark.index < len
        && data[parser->problem_mark.index] == '\t') {
        n8443_diag_add(t->diags, line, col,
                       "YAML syntax error: %s (a tab; YAML indents with "
                       "spaces only)",
                       problem);
        return;
    }
    if (parser->context != NULL
        && (parser->context_mark.line != parser->problem_mark.line
            || parser->context_mark.column != parser->problem_mark.column)) {
        n8443_diag_add(t->diags, line, col,
                       "YAML syntax error: %s (%s at %d:%d)", problem,
                       parser->context, (int)parser->context_mark.line + 1,
                       (int)parser->context_mark.column + 1);
    }
    else {
        n8443_diag_add(t->diags, line, col, "YAML syntax error: %s", problem);
    }
}

/* A tag as the file spells it: "!!float" rather than the expanded
 * "tag:yaml.org,2002:float". */
static const char *tag_name(const yaml_char_t *tag)
{
    static const char core[] = "tag:yaml.org,2002:";
    static char buf[80];
    const char *t = (const char *)tag;

    if (strncmp(t, core, sizeof(core) - 1) == 0) {
        snprintf(buf, sizeof(buf), "!!%.60s", t + sizeof(core) - 1);
        return buf;
    }
    snprintf(buf, sizeof(buf), "%.60s", t);
    return buf;
}

static int is_tag(const yaml_char_t *tag, const char *name)
{
    return tag != NULL && strcmp((const char *)tag, name) == 0;
}

/* Attach NODE to the open collection, or make it the root. */
static int attach(struct tree *t, struct n8443_ynode *node)
{
    struct frame *f;

    if (t->depth == 0) {
        t->root = node;
        return N8443_OK;
    }
    f = &t->stack[t->depth - 1];
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        struct n8443_ynode **items = realloc(f->items, cap * sizeof(*items));

        if (items == NULL) {
            return N8443_IO;
        }
        f->items = items;
        f->cap = cap;
    }
    f->items[f->n++] = node;
    return N8443_OK;
}

/* A node at MARK, counted against N8443_YAML_MAX_NODES. */
static struct n8443_ynode *new_node(struct tree *t, enum n8443_ynode_kind kind,
                                    const yaml_mark_t *mark)
{
    struct n8443_ynode *node;

    node = n8443_arena_alloc(t->arena, sizeof(*node));
    if (node != NULL) {
        node->kind = kind;
        node->line = (int)mark->line + 1;
        node->col = (int)mark->column + 1;
    }
    t->nodes++;
    return node;
}

/* Handle one event.  Returns N8443_OK, N8443_INVALID (with a diagnostic)
 * or N8443_IO. */
static int on_event(struct tree *t, const yaml_event_t *ev, int *docs)
{
    struct n8443_ynode *node;
    const yaml_char_t *tag;
    struct frame *f;

    if (t->nodes >= N8443_YAML_MAX_NODES) {
        n8443_diag_add(t->diags, (int)ev->start_mark.line + 1,
                       (int)ev->start_mark.column + 1,
                       "more than %d values: this is not a site file",
                       N8443_YAML_MAX_NODES);
        return N8443_INVALID;
    }
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++*docs > 1) {
            n8443_diag_add(t->diags, (int)ev->start_mark.line + 1,
                           (int)ev->start_mark.column + 1,
                           "a site file holds one YAML document; "
                           "this is a second one");
            return N8443_INVALID;
        }
        return N8443_OK;

    case YAML_ALIAS_EVENT:
        n8443_diag_add(t->diags, (int)ev->start_mark.line + 1,
                       (int)ev->start_mark.column + 1,
                       "YAML aliases (*%s) are not supported; put shared "
                       "settings under 'defaults'",
                       (const char *)ev->data.alias.anchor);
        return N8443_INVALID;

    case YAML_SCALAR_EVENT:
        tag = ev->data.scalar.tag;
        if (tag != NULL && !is_tag(tag, "!") && !is_tag(tag, YAML_STR_TAG)
            && !is_tag(tag, YAML_INT_TAG) && !is_tag(tag, YAML_BOOL_TAG)
            && !is_tag(tag, YAML_NULL_TAG)) {
            n8443_diag_add(t->diags, (int)ev->start_mark.line + 1,
                           (int)ev->start_mark.column + 1,
                           "unsupported YAML tag '%s'", tag_name(tag));
            return N8443_INVALID;
        }
        node = new_node(t, N8443_YSCALAR, &ev->start_mark);
        if (node == NULL) {
            return N8443_IO;
        }
        node->text =
            n8443_arena_strndup(t->arena, (const char *)ev->data.scalar.value,
                                ev->data.scalar.length);
        if (node->text == NULL) {
            return N8443_IO;
        }
        node->len = ev->data.scalar.length;
        /* "!" and "!!str" make a string of anything; !!int and friends
         * leave typing to the content, like no tag at all. */
        node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE
                      && !is_tag(tag, "!") && !is_tag(tag, YAML_STR_TAG);
        return attach(t, node);

    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        tag = ev->type == YAML_SEQUENCE_START_EVENT
                  ? ev->data.sequence_start.tag
                  : ev->data.mapping_start.tag;
        if (tag != NULL && !is_tag(tag, YAML_SEQ_TAG)
            && !is_tag(tag, YAML_MAP_TAG) && !is_tag(tag, "!")) {
            n8443_diag_add(t->diags, (int)ev->start_mark.line + 1,
                           (int)ev->start_mark.column + 1,
                           "unsupported YAML tag '%s'", tag_name(tag));
            return N8443_INVALID;
        }
        if (t->depth == N8443_YAML_MAX_DEPTH) {
            n8443_diag_add(t->diags, (int)ev->start_mark.line + 1,
                           (int)ev->start_mark.column + 1,
                           "nested more than %d levels deep: this is not "
                           "a site file",
                           N8443_YAML_MAX_DEPTH);
            return N8443_INVALID;
        }
        node = new_node(
            t, ev->type == YAML_SEQUENCE_START_EVENT ? N8443_YSEQ : N8443_YMAP,
            &ev->start_mark);
        if (node == NULL || attach(t, node) != N8443_OK) {
            return N8443_IO;
        }
        f = &t->stack[t->depth++];
        memset(f, 0, sizeof(*f));
        f->node = node;
        return N8443_OK;

    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        f = &t->stack[--t->depth];
        node = f->node;
        node->nitems = f->n;
        if (f->n > 0) {
            node->items =
                n8443_arena_alloc(t->arena, f->n * sizeof(*node->items));
            if (node->items == NULL) {
                free(f->items);
                f->items = NULL;
                return N8443_IO;
            }
            memcpy(node->items, f->items, f->n * sizeof(*node->items));
        }
        free(f->items);
        f->items = NULL;
        return N8443_OK;

    default: return N8443_OK;
    }
}

int n8443_yaml_parse(struct n8443_arena *arena, const char *data, size_t len,
                     struct n8443_diags *diags, struct n8443_ynode **root_out)
{
    yaml_parser_t parser;
    yaml_event_t event;
    struct tree t;
    int docs = 0;
    int done = 0;
    int rc = N8443_OK;

    memset(&t, 0, sizeof(t));
    t.arena = arena;
    t.diags = diags;
    if (!yaml_parser_initialize(&parser)) {
        return N8443_IO;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);

    while (!done) {
        if (!yaml_parser_parse(&parser, &event)) {
            if (parser.error == YAML_MEMORY_ERROR) {
                rc = N8443_IO;
            }
            else {
                syntax_error(&t, &parser, data, len);
                rc = N8443_INVALID;
            }
            goto cleanup;
        }
        done = event.type == YAML_STREAM_END_EVENT;
        rc = on_event(&t, &event, &docs);
        yaml_event_delete(&event);
        if (rc != N8443_OK) {
            goto cleanup;
        }
    }
    *root_out = t.root;

cleanup:
    while (t.depth > 0) {
        free(t.stack[--t.depth].items);
    }
    yaml_parser_delete(&parser);
    return rc;
}
