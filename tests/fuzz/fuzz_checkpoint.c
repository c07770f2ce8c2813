/* tests/fuzz/fuzz_checkpoint.c - gan_checkpoint_parse (a safetensors file in memory) on any bytes.

   It uses these two and nothing else of the checkpoint API:
      gan_checkpoint *gan_checkpoint_parse(const uint8_t *bytes, size_t n, const char *name);
      void gan_checkpoint_close(gan_checkpoint *ck);
   It was written before the parser was, so make fuzz (tests/fuzz/run.sh) skips it, and says so,
   when `grep -q gan_checkpoint_parse gan.h` fails (a gan.h from before the parser).

   The input is the file: 8 bytes of header length (little-endian), the JSON header, the data.
   No input may make the parser read or write out of bounds, leak, or hit undefined behaviour (the
   sanitizers' part); and, as every runtime failure in gan.h, a refusal is NULL with a message in
   gan_last_error(). The parse may keep pointers into the bytes: it is closed before they go.

   The parser checks the file's CRC-32 (the "crc32" metadata, 8 hex digits) after everything else,
   so a mutated file would never be accepted and the end of the parse never reached. For inputs of
   even length the harness therefore writes the right digits into a copy first (those of odd length
   keep theirs, so a mismatch is tried too); the digits are found by their key, as a writer puts
   them, and a header that hides them otherwise is simply refused. */
#define GAN_IMPLEMENTATION
#define GAN_NO_THREADS /* nothing here is threaded; no pool to start per process */
#include "../../gan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_checkpoint: invariant broken: %s (gan_last_error: \"%s\")\n", what, gan_last_error());
    abort();
}

/* A message the parser does not write, so that a refusal which forgets to set one is seen. */
static void clear_error(void)
{
    gan_family family;
    gan_family_parse(&family, "");
}

/* CRC-32 as gzip's (reflected 0xEDB88320), bit by bit: the harness's own, not gan.h's. */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
    size_t i;
    int k;
    crc = ~crc;
    for (i = 0; i < n; i++) {
        crc ^= p[i];
        for (k = 0; k < 8; k++) crc = crc & 1 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
    }
    return ~crc;
}

/* The right crc32 digits written over those after "crc32": in the header, when there are 8 of them;
   the CRC is of every byte of the file with those digits read as '0's. */
static void fix_crc(uint8_t *b, size_t n)
{
    static const char key[] = "\"crc32\"";
    uint64_t header_len = 0;
    size_t end, at, p;
    uint32_t crc;
    int k;
    if (n < 8) return;
    for (k = 7; k >= 0; k--) header_len = header_len << 8 | b[k];
    if (header_len > n - 8) return;
    end = 8 + (size_t)header_len;
    for (at = 8; at + sizeof key - 1 <= end; at++) {
        if (memcmp(b + at, key, sizeof key - 1) != 0) continue;
        p = at + sizeof key - 1;
        while (p < end && (b[p] == ' ' || b[p] == '\t' || b[p] == '\n' || b[p] == '\r')) p++;
        if (p >= end || b[p++] != ':') continue;
        while (p < end && (b[p] == ' ' || b[p] == '\t' || b[p] == '\n' || b[p] == '\r')) p++;
        if (p >= end || b[p++] != '"' || end - p < 8) continue;
        crc = crc32_update(0, b, p);
        crc = crc32_update(crc, (const uint8_t *)"00000000", 8);
        crc = crc32_update(crc, b + p + 8, n - p - 8);
        for (k = 7; k >= 0; k--, crc >>= 4) b[p + (size_t)k] = (uint8_t)"0123456789abcdef"[crc & 15];
        return;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gan_checkpoint *ck;
    uint8_t *copy = (uint8_t *)malloc(size ? size : 1); /* exactly size bytes: ASan sees the end */
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    if (size % 2 == 0) fix_crc(copy, size);
    clear_error();
    ck = gan_checkpoint_parse(copy, size, "fuzz.safetensors");
    if (!ck) {
        if (strncmp(gan_last_error(), "gan_family_parse", 16) == 0 || !gan_last_error()[0])
            fail("a refusal without a message");
    }
    gan_checkpoint_close(ck); /* NULL: nothing */
    free(copy);
    return 0;
}
