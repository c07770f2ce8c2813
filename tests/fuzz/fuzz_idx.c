/* tests/fuzz/fuzz_idx.c - gan_dataset_from_idx (IDX images and labels in memory, gzipped or not)
   on any bytes.

   The input holds both files:
      byte 0       bit 0: the labels file is there (else labels is NULL); bit 1: name is NULL (else
                   "fuzz.idx"), so the default name is taken too
      bytes 1, 2   the images file's length, little-endian (cut to what is left)
      then         the images file, then (bit 0) the rest is the labels file
   tests/fuzz/make_corpus.sh writes its seeds in this layout.

   Checked besides the sanitizers' watch:
      - 1: positive sizes, pixels of n c h w bytes that are the images file's data (after gunzip for
        a gzipped one), labels exactly when a labels file was given, each below classes, and classes
        the largest plus one (0 without labels); gan_dataset_batch reads the first and last image;
      - 0: *d zeroed, and gan_last_error() starting with the name.
   GAN_MAX_DATA_BYTES is 1 MiB here instead of 4 GiB: the same code, but a few KiB of gzip can then
   reach the limit's refusals, and no input costs more than a few MiB. */
#define GAN_IMPLEMENTATION
#define GAN_NO_THREADS /* nothing here is threaded; no pool to start per process */
#define GAN_MAX_DATA_BYTES ((size_t)1 << 20)
#include "../../gan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_idx: invariant broken: %s (gan_last_error: \"%s\")\n", what, gan_last_error());
    abort();
}

/* A message no IDX call writes, so that a failure which forgets to set one is seen. */
static void clear_error(void)
{
    gan_family family;
    gan_family_parse(&family, "");
}

/* Every field zero (the padding between them is no field: not compared). */
static int is_zero(const gan_dataset *d)
{
    return d->n == 0 && d->c == 0 && d->h == 0 && d->w == 0 && d->classes == 0 && !d->pixels && !d->labels;
}

/* The data bytes of an IDX file that gan_dataset_from_idx accepted: after its gunzip when gzipped.
   *block is what to free (NULL when the bytes are the input's own). */
static const uint8_t *idx_data(const uint8_t *file, size_t len, size_t count, uint8_t **block)
{
    size_t n = len;
    *block = NULL;
    if (len >= 2 && file[0] == 0x1f && file[1] == 0x8b) {
        if (!gan_gunzip(block, &n, file, len, GAN_MAX_DATA_BYTES)) fail("accepted gzip data that gan_gunzip refuses");
        file = *block;
    }
    if (n < count) fail("more data bytes than the file has");
    return file + (n - count);
}

static void check_set(const gan_dataset *d, const uint8_t *images, size_t images_len, const uint8_t *labels,
                      size_t labels_len)
{
    size_t count, i;
    const uint8_t *want;
    uint8_t *block;
    int max_label = -1;
    if (d->n <= 0 || d->c <= 0 || d->h <= 0 || d->w <= 0) fail("a set with a size that is not positive");
    if (!d->pixels) fail("a set without pixels");
    count = (size_t)d->n * (size_t)d->c * (size_t)d->h * (size_t)d->w;
    if (count > GAN_MAX_DATA_BYTES) fail("more pixels than GAN_MAX_DATA_BYTES");
    want = idx_data(images, images_len, count, &block);
    if (memcmp(d->pixels, want, count) != 0) fail("pixels that are not the file's data");
    GAN_FREE(block);
    if (!labels) {
        if (d->labels || d->classes != 0) fail("labels without a labels file");
    } else {
        if (!d->labels) fail("no labels from a labels file");
        want = idx_data(labels, labels_len, (size_t)d->n, &block);
        if (memcmp(d->labels, want, (size_t)d->n) != 0) fail("labels that are not the file's data");
        GAN_FREE(block);
        for (i = 0; i < (size_t)d->n; i++)
            if (d->labels[i] > max_label) max_label = d->labels[i];
        if (d->classes != max_label + 1) fail("classes is not the largest label plus one");
    }
    /* the first and the last image through the batch reader, when they are small enough to copy */
    if ((size_t)d->c * d->h * d->w <= 4096) {
        size_t per = (size_t)d->c * d->h * d->w;
        gan_float *x = (gan_float *)malloc(2 * per * sizeof(gan_float)), y[2];
        int index[2];
        index[0] = 0;
        index[1] = d->n - 1;
        if (!x) fail("out of memory in the harness");
        gan_dataset_batch(d, x, d->labels ? y : NULL, index, 2);
        for (i = 0; i < 2 * per; i++)
            if (!(x[i] >= -1 && x[i] <= 1)) fail("gan_dataset_batch wrote a value outside [-1, 1]");
        free(x);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *images, *labels = NULL;
    size_t images_len, labels_len = 0;
    const char *name;
    gan_dataset d;
    int ok;
    if (size < 3) return 0;
    name = data[0] & 2 ? NULL : "fuzz.idx";
    images_len = (size_t)data[1] | (size_t)data[2] << 8;
    if (images_len > size - 3) images_len = size - 3;
    images = data + 3;
    if (data[0] & 1) {
        labels = images + images_len;
        labels_len = size - 3 - images_len;
    }
    memset(&d, 0xa5, sizeof d); /* so that "zeroed on failure" means something */
    clear_error();
    ok = gan_dataset_from_idx(&d, images, images_len, labels, labels_len, name);
    if (ok) {
        check_set(&d, images, images_len, labels, labels_len);
    } else {
        const char *who = name ? name : "gan_dataset_from_idx";
        if (!is_zero(&d)) fail("a failure that does not zero the set");
        if (strncmp(gan_last_error(), who, strlen(who)) != 0 || gan_last_error()[strlen(who)] != ':')
            fail("a failure without its message");
    }
    gan_dataset_free(&d);
    return 0;
}
