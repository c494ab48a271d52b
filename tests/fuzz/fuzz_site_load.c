/*
 * libFuzzer target: arbitrary bytes as a site file.
 *
 * Whatever the input, the loader must return OK, INVALID or IO without
 * crashing, leaking or reading out of bounds; an accepted file must render,
 * and render to the same bytes twice (render is pure).  Diagnostics must
 * stay printable: no control character from the input may reach a
 * message, since messages go to a terminal.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "site.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct n8443_config *cfg = NULL;
    struct n8443_diags diags;
    struct n8443_buf first;
    struct n8443_buf second;
    size_t i;
    size_t j;
    int rc;

    rc = n8443_site_load_buffer((const char *)data, size, &diags, &cfg);
    if (rc == N8443_INVALID && diags.n == 0 && !diags.truncated) {
        abort(); /* invalid without a reason */
    }
    for (i = 0; i < diags.n; i++) {
        const char *msg = diags.items[i].msg;

        if (diags.items[i].line < 1 || diags.items[i].col < 1) {
            abort();
        }
        for (j = 0; msg[j] != '\0'; j++) {
            if ((unsigned char)msg[j] < 0x20 || msg[j] == 0x7F) {
                abort();
            }
        }
    }
    if (rc != N8443_OK) {
        return 0;
    }
    n8443_buf_init(&first);
    n8443_buf_init(&second);
    if (n8443_render(cfg, &first) != N8443_OK
        || n8443_render(cfg, &second) != N8443_OK || first.len != second.len
        || memcmp(first.data, second.data, first.len) != 0) {
        abort();
    }
    n8443_buf_free(&first);
    n8443_buf_free(&second);
    n8443_config_free(cfg);
    return 0;
}
