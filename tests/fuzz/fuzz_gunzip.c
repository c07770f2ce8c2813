/* tests/fuzz/fuzz_gunzip.c - gan_gunzip (gzip and inflate) on any bytes.

   The input is the gzip file. gan_gunzip promises that no input makes it read or write out of
   bounds (the sanitizers watch that), and the harness checks what else it says:
      - 1: *out holds *out_len <= max_len bytes (a GAN_MALLOC'd block, freed here, so a leak shows);
        then the same input with max_len = *out_len gives the same bytes (the limit is inclusive),
        and with one byte less is refused (output past max_len never comes back);
      - 0: *out is NULL, *out_len 0, and gan_last_error() starts "gan_gunzip:".
   max_len is 1 MiB, so a decompression bomb of a few KiB of input costs at most that much memory.

   Build (make fuzz does this):  clang -fsanitize=fuzzer,address,undefined tests/fuzz/fuzz_gunzip.c -lm
   Reproduce without libFuzzer:  cc -fsanitize=address,undefined tests/fuzz/fuzz_gunzip.c
                                 tests/fuzz/main_standalone.c -lm && ./a.out crash-file */
#define GAN_IMPLEMENTATION
#define GAN_NO_THREADS /* nothing here is threaded; no pool to start per process */
#include "../../gan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LEN ((size_t)1 << 20)

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_gunzip: invariant broken: %s (gan_last_error: \"%s\")\n", what, gan_last_error());
    abort();
}

/* A message no gan_gunzip call writes, so that a failure which forgets to set one is seen. */
static void clear_error(void)
{
    gan_family family;
    gan_family_parse(&family, "");
}

/* One call; returns its result after checking what holds whatever the result. */
static int gunzip(uint8_t **out, size_t *len, const uint8_t *data, size_t size, size_t max_len)
{
    int ok;
    *out = (uint8_t *)data; /* overwritten on every path */
    *len = (size_t)-1;
    clear_error();
    ok = gan_gunzip(out, len, data, size, max_len);
    if (ok) {
        if (!*out) fail("success with a NULL block");
        if (*len > max_len) fail("success with more than max_len bytes");
    } else {
        if (*out != NULL || *len != 0) fail("a failure that leaves *out or *out_len set");
        if (strncmp(gan_last_error(), "gan_gunzip: ", 12) != 0) fail("a failure without its message");
    }
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *out, *again;
    size_t len, again_len;
    if (!gunzip(&out, &len, data, size, MAX_LEN)) return 0;
    /* the limit exactly: the same bytes */
    if (!gunzip(&again, &again_len, data, size, len)) fail("refused with max_len equal to its own output's length");
    if (again_len != len || (len && memcmp(again, out, len) != 0)) fail("a different output with max_len = its length");
    GAN_FREE(again);
    /* one byte under the limit: refused */
    if (len > 0 && gunzip(&again, &again_len, data, size, len - 1)) fail("accepted with max_len one byte short");
    GAN_FREE(out);
    return 0;
}
