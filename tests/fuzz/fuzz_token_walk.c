/*
 * fuzz_token_walk.c - libFuzzer target: the token walker on raw bytes.
 *
 * Memory safety is checked by the sanitizers; the contract is checked
 * here, with abort() so that libFuzzer keeps the input: a KRB5 result
 * points only into the input and always yields a replay key, any other
 * result leaves the info zeroed, and the walk is deterministic.
 *
 * Byte-level mutation alone rarely gets past a DER length: growing one
 * INTEGER means fixing the lengths of every value around it, sixteen deep.
 * So half of the mutations are structural (see der_mutate below): the
 * input is read as a tree of TLVs, one value is changed, and the tree is
 * written back with all lengths recomputed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "replay_key.h"
#include "token_walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed);

static int inside(const uint8_t *data, size_t size, n8443_bytes b)
{
    return b.data >= data && b.len <= size
           && (size_t)(b.data - data) <= size - b.len;
}

static void check_krb5(const uint8_t *data, size_t size,
                       const n8443_apreq_info *info)
{
    unsigned char key[N8443_REPLAY_KEY_LEN];
    char name[512];
    size_t name_len;
    int i;

    if (info->framing == N8443_FRAME_NONE || info->sname_count < 1
        || info->sname_count > N8443_MAX_SNAME_PARTS
        || info->authenticator.len == 0
        || !inside(data, size, info->authenticator)
        || !inside(data, size, info->realm) || info->ticket_kvno < -1
        || (info->mutual_required != 0 && info->mutual_required != 1))
        abort();
    for (i = 0; i < info->sname_count; i++) {
        if (!inside(data, size, info->sname[i]))
            abort();
    }
    if (n8443_replay_key(info, key) != 0)
        abort();
    name_len = n8443_apreq_principal(info, name, sizeof(name));
    if (name_len >= sizeof(name) || strlen(name) != name_len)
        abort();
    /* a buffer that is too small gives 0 and an empty string */
    name_len = n8443_apreq_principal(info, name, 1 + size % 32);
    if (strlen(name) != name_len || name_len > size % 32)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const n8443_apreq_info zero;
    n8443_apreq_info info, again;
    unsigned char key[N8443_REPLAY_KEY_LEN];
    n8443_tok_status st;

    st = n8443_token_walk(data, size, &info);
    if (st == N8443_TOK_KRB5) {
        check_krb5(data, size, &info);
    }
    else {
        if (memcmp(&info, &zero, sizeof(info)) != 0)
            abort();
        if (n8443_replay_key(&info, key) != -1)
            abort();
    }
    if (n8443_token_walk(data, size, &again) != st
        || memcmp(&info, &again, sizeof(info)) != 0)
        abort();
    if (strcmp(n8443_tok_status_str(st), "unknown") == 0)
        abort();
    return 0;
}

/* ---- structure-aware mutation ------------------------------------------ */

#define MAX_NODES  4096
#define MAX_DEPTH  32
#define ARENA_SIZE (1 << 16)

/*
 * A value of the input: tag >= 0 is a TLV whose content is either its
 * children (first_child >= 0) or the bytes at raw; tag -1 is a run of raw
 * bytes that did not parse (the TOK_ID of a krb5 token, say).
 */
typedef struct {
    int tag;
    const uint8_t *raw;
    size_t raw_len;
    int first_child;
    int next;
} der_node;

typedef struct {
    der_node nodes[MAX_NODES];
    int count;
    uint8_t arena[ARENA_SIZE]; /* contents made by mutations */
    size_t arena_used;
    uint32_t rng;
} der_tree;

static uint32_t rnd(der_tree *t, uint32_t n)
{
    /* xorshift32: the seed comes from libFuzzer, so runs reproduce */
    t->rng ^= t->rng << 13;
    t->rng ^= t->rng >> 17;
    t->rng ^= t->rng << 5;
    return n ? t->rng % n : 0;
}

static int new_node(der_tree *t, int tag, const uint8_t *raw, size_t raw_len)
{
    der_node *n;

    if (t->count == MAX_NODES)
        return -1;
    n = &t->nodes[t->count];
    n->tag = tag;
    n->raw = raw;
    n->raw_len = raw_len;
    n->first_child = -1;
    n->next = -1;
    return t->count++;
}

/* One TLV header at p (definite lengths up to 4 octets); 0 on success. */
static int read_header(const uint8_t *p, size_t avail, size_t *hdr, size_t *len)
{
    size_t n, i;

    if (avail < 2)
        return -1;
    if (p[1] < 0x80) {
        *hdr = 2;
        *len = p[1];
    }
    else {
        n = p[1] & 0x7f;
        if (n == 0 || n > 4 || n > avail - 2)
            return -1;
        *len = 0;
        for (i = 0; i < n; i++)
            *len = (*len << 8) | p[2 + i];
        *hdr = 2 + n;
    }
    return *len <= avail - *hdr ? 0 : -1;
}

/*
 * Parse p[0..len) as a chain of TLVs; what does not parse becomes one raw
 * node at the end.  Returns the first node (or -1 if there is none) and
 * sets *clean when everything parsed.
 */
static int parse_chain(der_tree *t, const uint8_t *p, size_t len, int depth,
                       int *clean)
{
    int first = -1, prev = -1, node, kids, kids_clean;
    size_t hdr, clen;

    *clean = 1;
    while (len > 0) {
        if (depth >= MAX_DEPTH || read_header(p, len, &hdr, &clen) != 0) {
            node = new_node(t, -1, p, len);
            *clean = 0;
            len = 0;
        }
        else {
            node = new_node(t, p[0], p + hdr, clen);
            if (node < 0)
                return first;
            /* Constructed values, and OCTET STRINGs that hold exactly DER
             * (SPNEGO's mechToken), get children. */
            if (clen > 0 && ((p[0] & 0x20) || p[0] == 0x04)) {
                int mark = t->count;

                kids = parse_chain(t, p + hdr, clen, depth + 1, &kids_clean);
                if (kids >= 0 && (kids_clean || (p[0] & 0x20)))
                    t->nodes[node].first_child = kids;
                else
                    t->count = mark;
            }
            p += hdr + clen;
            len -= hdr + clen;
        }
        if (node < 0)
            return first;
        if (prev >= 0)
            t->nodes[prev].next = node;
        else
            first = node;
        prev = node;
    }
    return first;
}

static size_t length_octets(size_t n)
{
    size_t k = 1;

    if (n < 0x80)
        return 1;
    while (n >> (8 * k))
        k++;
    return 1 + k;
}

/* Serialized size of node and its siblings from i on. */
static size_t chain_size(const der_tree *t, int i, int depth);

static size_t content_size(const der_tree *t, int i, int depth)
{
    const der_node *n = &t->nodes[i];

    if (n->first_child >= 0 && depth < MAX_DEPTH)
        return chain_size(t, n->first_child, depth + 1);
    return n->raw_len;
}

static size_t chain_size(const der_tree *t, int i, int depth)
{
    size_t total = 0, c;

    for (; i >= 0; i = t->nodes[i].next) {
        c = content_size(t, i, depth);
        total += t->nodes[i].tag < 0 ? c : 1 + length_octets(c) + c;
    }
    return total;
}

/* Write the chain from i into out (which has room, by chain_size). */
static size_t chain_write(const der_tree *t, int i, int depth, uint8_t *out)
{
    size_t o = 0, c, k;
    const der_node *n;

    for (; i >= 0; i = t->nodes[i].next) {
        n = &t->nodes[i];
        c = content_size(t, i, depth);
        if (n->tag >= 0) {
            out[o++] = (uint8_t)n->tag;
            if (c < 0x80) {
                out[o++] = (uint8_t)c;
            }
            else {
                k = length_octets(c) - 1;
                out[o++] = (uint8_t)(0x80 | k);
                while (k-- > 0)
                    out[o++] = (uint8_t)(c >> (8 * k));
            }
        }
        if (n->first_child >= 0 && depth < MAX_DEPTH)
            o += chain_write(t, n->first_child, depth + 1, out + o);
        else if (c > 0)
            memcpy(out + o, n->raw, c);
        if (n->first_child < 0 || depth >= MAX_DEPTH)
            o += c;
    }
    return o;
}

static uint8_t *arena_take(der_tree *t, size_t len)
{
    uint8_t *p;

    if (len > ARENA_SIZE - t->arena_used)
        return NULL;
    p = t->arena + t->arena_used;
    t->arena_used += len;
    return p;
}

/* Tags the walker looks for, so that a changed tag is often a near miss. */
static const uint8_t interesting_tags[] = {
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0a, 0x0c, 0x1b, 0x24, 0x30,
    0x60, 0x61, 0x6e, 0x7f, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5};

/* Change node i in one of a few ways; 0 if something changed. */
static int mutate_node(der_tree *t, int i, size_t max_size)
{
    der_node *n = &t->nodes[i];
    size_t len, cap;
    int j, copy;
    uint8_t *buf;

    switch (rnd(t, 6)) {
    case 0: /* new tag */
        if (n->tag < 0)
            return -1;
        n->tag = rnd(t, 2) ? interesting_tags[rnd(t, sizeof(interesting_tags))]
                           : (int)rnd(t, 256);
        return 0;
    case 1: /* drop the value (keeps the tree: a sibling takes over) */
        if (n->next >= 0) {
            *n = t->nodes[n->next];
            return 0;
        }
        n->first_child = -1;
        n->raw_len = 0;
        return 0;
    case 2: /* duplicate it after itself */
        copy = new_node(t, n->tag, n->raw, n->raw_len);
        if (copy < 0)
            return -1;
        t->nodes[copy].first_child = n->first_child;
        t->nodes[copy].next = n->next;
        n->next = copy;
        return 0;
    case 3: /* a small integer-sized content, 1-5 octets */
        len = 1 + rnd(t, 5);
        buf = arena_take(t, len);
        if (buf == NULL)
            return -1;
        for (j = 0; j < (int)len; j++)
            buf[j] = (uint8_t)rnd(t, 256);
        n->first_child = -1;
        n->raw = buf;
        n->raw_len = len;
        return 0;
    default: /* libFuzzer's own mutation of a leaf's bytes */
        if (n->first_child >= 0)
            return -1;
        cap = n->raw_len + 64;
        if (cap > max_size)
            cap = max_size;
        buf = arena_take(t, cap);
        if (buf == NULL || n->raw_len > cap)
            return -1;
        memcpy(buf, n->raw, n->raw_len);
        n->raw = buf;
        n->raw_len = LLVMFuzzerMutate(buf, n->raw_len, cap);
        return 0;
    }
}

/*
 * Structure-aware mutation: parse, change one value (a few times), write
 * back with correct lengths.  Falls back to plain byte mutation when the
 * input has no DER in it or the result would not fit.
 */
static size_t der_mutate(uint8_t *data, size_t size, size_t max_size,
                         unsigned int seed)
{
    static der_tree t;
    static uint8_t out[1 << 16];
    int root, clean, rounds;
    size_t total;

    t.count = 0;
    t.arena_used = 0;
    t.rng = seed ? seed : 1;
    root = parse_chain(&t, data, size, 0, &clean);
    if (root < 0 || t.count < 2)
        return LLVMFuzzerMutate(data, size, max_size);
    for (rounds = 1 + (int)rnd(&t, 3); rounds > 0; rounds--)
        (void)mutate_node(&t, (int)rnd(&t, (uint32_t)t.count), max_size);

    total = chain_size(&t, root, 0);
    if (total > max_size || total > sizeof(out))
        return LLVMFuzzerMutate(data, size, max_size);
    chain_write(&t, root, 0, out);
    memcpy(data, out, total);
    return total;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed)
{
    if (seed % 2 == 0)
        return LLVMFuzzerMutate(data, size, max_size);
    return der_mutate(data, size, max_size, seed / 2);
}
