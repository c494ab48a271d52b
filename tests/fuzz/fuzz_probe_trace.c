/*
 * fuzz_probe_trace.c - libFuzzer target: the token decoder of
 * `n8443ctl probe --trace` on raw bytes (what a server, or anything in
 * between, sends back in WWW-Authenticate).
 *
 * Memory safety is the sanitizers' job; the contract is checked here
 * with abort(), so that libFuzzer keeps the input: the decoder returns
 * 0 or -1, always says something, runs out of no memory on a small
 * input, and prints only printable ASCII lines -- never a raw byte of
 * the token, which is how "secrets never printed" holds for bytes it
 * does not understand.
 */
#include <stdint.h>
#include <stdlib.h>

#include "probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct n8443_buf out;
    size_t i;
    int rc;

    n8443_buf_init(&out);
    rc = n8443_probe_decode_token(data, size, &out);
    if ((rc != 0 && rc != -1) || out.failed || out.len == 0) {
        abort();
    }
    for (i = 0; i < out.len; i++) {
        unsigned char c = (unsigned char)out.data[i];

        if (c != '\n' && (c < 0x20 || c > 0x7e)) {
            abort();
        }
    }
    n8443_buf_free(&out);
    return 0;
}
