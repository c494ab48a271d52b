/*
 * fuzz_fast_path.c - libFuzzer target for issue 15: whatever the bytes,
 * "the fast path accepts" implies "GSS-API accepts, with the same
 * principal, flags, lifetime, answer, and a replay key over the
 * authenticator krb5 decrypted" (diff_compare).  Seeds: real tokens
 * (tests/integration/test_differential.py writes them); the keytab that
 * decrypts their tickets comes from N8443_FUZZ_KEYTAB.  Built and run by
 * tests/fuzz/run-fuzzers (fuzz_fast_path).
 */
#include <stdio.h>
#include <stdlib.h>

#include "diff_core.h"

static diff_env env;
static int ready;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *kt = getenv("N8443_FUZZ_KEYTAB");

    (void)argc, (void)argv;
    if (kt == NULL || diff_env_init(&env, kt) != 0) {
        fprintf(stderr, "fuzz_fast_path: set N8443_FUZZ_KEYTAB to the "
                        "service keytab (and KRB5_CONFIG to its realm)\n");
        abort();
    }
    ready = 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    int k;

    if (!ready || size > 16384)
        return 0;
    for (k = 0; k < DIFF_CB_COUNT; k++) {
        if (diff_compare(&env, "fuzz", data, size, (diff_cb_kind)k) != 0)
            abort();
    }
    return 0;
}
