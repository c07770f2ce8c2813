/* tests/test_data.c - the data section: gan_gunzip against Python's gzip (stored, fixed and dynamic
   blocks, an empty payload, long repeats, header fields, two members), every truncation and a set of
   corruptions and hostile deflate streams failing cleanly with a message, a random-mutation sweep;
   IDX files gzipped and plain to the exact bytes, malformed ones refused by name and reason;
   gan_dataset_load's layout and its message when a set is missing; the loader's epochs, order and
   determinism; the procedural shapes; every allocation failing in turn; and, when GAN_DATA points at
   the data, MNIST and Fashion-MNIST.

   The fixtures are tests/fixtures/data_* (GAN_FIXTURES names another directory), written by
   tests/fixtures/make_data_fixtures.py. The allocator below counts live blocks, so each failure path
   is also checked for leaks, and can be told to fail its Nth call. */
#if defined(__unix__) || defined(__APPLE__)
#define _POSIX_C_SOURCE 200809L /* mkdtemp, mkdir, rmdir, unlink under -std=c99 */
#define TEST_POSIX 1
#include <sys/stat.h>
#include <unistd.h>
#endif

#include <stdlib.h>

#include "flaky_alloc.h"
#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- helpers ---------------------------------------------------------------------------------- */

static char fixture_path[512];

/* The path of a fixture: GAN_FIXTURES/name, else tests/fixtures/name. */
static const char *fixture(const char *name)
{
    const char *dir = getenv("GAN_FIXTURES");
    snprintf(fixture_path, sizeof fixture_path, "%s/%s", dir && *dir ? dir : "tests/fixtures", name);
    return fixture_path;
}

/* A whole file in a malloc'd block (not through gan.h's allocator); NULL if it cannot be read. */
static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *p = NULL;
    size_t cap = 0, n = 0, got;
    if (!f) return NULL;
    do {
        if (n == cap) {
            uint8_t *q = (uint8_t *)realloc(p, cap = cap ? 2 * cap : 4096);
            if (!q) break;
            p = q;
        }
        got = fread(p + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return p;
}

/* A fixture's bytes; reports a FAIL naming it when it is missing. */
static uint8_t *load_fixture(const char *name, size_t *len)
{
    uint8_t *p = read_all(fixture(name), len);
    if (!p) test_report(name, 0, "cannot read %s (run from the repository root, or set GAN_FIXTURES)", fixture_path);
    return p;
}

static int has(const char *s, const char *part) { return strstr(s, part) != NULL; }

/* make_data_fixtures.py's repeat_payload(). */
static uint8_t *repeat_payload(size_t *len)
{
    size_t n = 300 + 32000 + 300 + 9000, i;
    uint8_t *p = (uint8_t *)malloc(n);
    for (i = 0; i < 300; i++) p[i] = p[32300 + i] = (uint8_t)((i * i * 7 + i * 13 + 5) % 256);
    memset(p + 300, 0, 32000);
    for (i = 0; i < 9000; i++) p[32600 + i] = (uint8_t)"gan"[i % 3];
    *len = n;
    return p;
}

/* ---- gzip fixtures ---------------------------------------------------------------------------- */

/* gan_gunzip of a fixture must give exactly want (want_len bytes). */
static void check_decode(const char *file, const uint8_t *want, size_t want_len)
{
    char name[96];
    size_t len, out_len = 0;
    uint8_t *in = load_fixture(file, &len), *out = NULL;
    long live0 = live;
    int ok;
    if (!in) return;
    ok = gan_gunzip(&out, &out_len, in, len, (size_t)1 << 20);
    snprintf(name, sizeof name, "gunzip: %s decodes to the expected %d bytes", file, (int)want_len);
    test_report(name, ok && out_len == want_len && (want_len == 0 || memcmp(out, want, want_len) == 0),
                "ok %d, %d bytes: %s", ok, (int)out_len, ok ? "different bytes" : gan_last_error());
    if (ok) GAN_FREE(out);
    test_report("gunzip: the output is the one block left", live == live0, "%ld blocks left", live - live0);
    free(in);
}

static void test_gzip_fixtures(void)
{
    static const char fixed_text[] = "hello, hello, hello gan.h!\n";
    static const char flags_text[] = "a member with every optional header field\n";
    static const char multi_text[] = "first member\nsecond member, a little longer\n";
    size_t text_len, rep_len;
    uint8_t *text = load_fixture("data_text.bin", &text_len), *rep = repeat_payload(&rep_len);
    if (text) {
        check_decode("data_text_l0.gz", text, text_len);
        check_decode("data_text_l1.gz", text, text_len);
        check_decode("data_text_l9.gz", text, text_len);
        check_decode("data_fname.gz", text, 200);
    }
    check_decode("data_fixed.gz", (const uint8_t *)fixed_text, strlen(fixed_text));
    check_decode("data_empty.gz", NULL, 0);
    check_decode("data_repeat.gz", rep, rep_len);
    check_decode("data_flags.gz", (const uint8_t *)flags_text, strlen(flags_text));
    check_decode("data_multi.gz", (const uint8_t *)multi_text, strlen(multi_text));
    {
        /* max_len: the exact size passes, one byte less is refused as a bomb */
        size_t len, out_len;
        uint8_t *in = load_fixture("data_repeat.gz", &len), *out;
        if (in) {
            int ok = gan_gunzip(&out, &out_len, in, len, rep_len);
            if (ok) GAN_FREE(out);
            test_report("gunzip: max_len equal to the output passes", ok && out_len == rep_len, "%s", gan_last_error());
            ok = gan_gunzip(&out, &out_len, in, len, rep_len - 1);
            test_report("gunzip: one byte over max_len is refused as a bomb",
                        !ok && out == NULL && has(gan_last_error(), "max_len") && has(gan_last_error(), "bomb"), "ok %d: %s",
                        ok, gan_last_error());
            ok = gan_gunzip(&out, &out_len, in, len, 1000);
            test_report("gunzip: a small max_len is refused", !ok && has(gan_last_error(), "1000 bytes"), "%s", gan_last_error());
            free(in);
        }
    }
    free(text);
    free(rep);
}

/* ---- broken gzip streams ---------------------------------------------------------------------- */

/* Every proper prefix of a fixture fails with "truncated" and the caller's name, allocating nothing. */
static void check_prefixes(const char *file)
{
    char name[96];
    size_t len, k, out_len, bad = 0, first_bad = 0;
    uint8_t *in = load_fixture(file, &len), *out;
    long live0 = live;
    char why[256] = "";
    if (!in) return;
    for (k = 0; k < len; k++) {
        /* a copy of exactly k bytes, so the sanitizer sees any read past its end */
        uint8_t *cut = (uint8_t *)malloc(k ? k : 1);
        int ok;
        memcpy(cut, in, k);
        ok = gan_gunzip(&out, &out_len, cut, k, (size_t)1 << 20);
        if (ok) GAN_FREE(out);
        if (ok || !has(gan_last_error(), "truncated") || !has(gan_last_error(), "gan_gunzip")) {
            if (!bad++) {
                first_bad = k;
                snprintf(why, sizeof why, "%s", ok ? "decoded" : gan_last_error());
            }
        }
        free(cut);
    }
    snprintf(name, sizeof name, "gunzip: each of the %d prefixes of %s fails as truncated", (int)len, file);
    test_report(name, bad == 0 && live == live0, "%d wrong, the first at %d bytes: %s; %ld blocks leaked", (int)bad,
                (int)first_bad, why, live - live0);
    free(in);
}

/* gan_gunzip of p (n bytes) must fail with a message containing want. */
static void expect_fail(const char *name, const uint8_t *p, size_t n, const char *want)
{
    uint8_t *out = NULL, *copy = (uint8_t *)malloc(n ? n : 1);
    size_t out_len;
    long live0 = live;
    int ok;
    memcpy(copy, p, n);
    ok = gan_gunzip(&out, &out_len, copy, n, (size_t)1 << 20);
    if (ok) GAN_FREE(out);
    test_report(name, !ok && has(gan_last_error(), want) && live == live0, "ok %d, message \"%s\" (wanted \"%s\")", ok,
                gan_last_error(), want);
    free(copy);
}

/* A deflate stream written bit by bit: fields first bit lowest, Huffman codes first bit highest. */
typedef struct bitwriter {
    uint8_t buf[512];
    size_t n;
    int bit;
} bitwriter;

static void put_bits(bitwriter *w, unsigned v, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        if (w->bit == 0) w->buf[w->n++] = 0;
        w->buf[w->n - 1] |= (uint8_t)(((v >> i) & 1u) << w->bit);
        w->bit = (w->bit + 1) & 7;
    }
}

static void put_code(bitwriter *w, unsigned code, int len)
{
    int i;
    for (i = len - 1; i >= 0; i--) put_bits(w, (code >> i) & 1u, 1);
}

/* A gzip member around the deflate bytes of w, with a trailer of zeros (the errors come first). */
static size_t wrap(uint8_t *out, const bitwriter *w)
{
    static const uint8_t header[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
    memcpy(out, header, 10);
    memcpy(out + 10, w->buf, w->n);
    memset(out + 10 + w->n, 0, 8);
    return 10 + w->n + 8;
}

/* The fixed code of a literal/length symbol (RFC 1951 3.2.6). */
static void put_fixed(bitwriter *w, int sym)
{
    if (sym < 144) put_code(w, 0x30u + (unsigned)sym, 8);
    else if (sym < 256) put_code(w, 0x190u + (unsigned)(sym - 144), 9);
    else if (sym < 280) put_code(w, (unsigned)(sym - 256), 7);
    else put_code(w, 0xc0u + (unsigned)(sym - 280), 8);
}

/* A dynamic block's header with HLIT, HDIST and a code-length code over 16, 17, 18 and 0 (HCLEN 4)
   of the given lengths; with all four 2, the codes are 0: 00, 16: 01, 17: 10, 18: 11. */
static void put_dynamic(bitwriter *w, int hlit, int hdist, const int *clen4)
{
    int i;
    memset(w, 0, sizeof *w);
    put_bits(w, 1, 1);
    put_bits(w, 2, 2);
    put_bits(w, (unsigned)(hlit - 257), 5);
    put_bits(w, (unsigned)(hdist - 1), 5);
    put_bits(w, 0, 4);
    for (i = 0; i < 4; i++) put_bits(w, (unsigned)clen4[i], 3);
}

static void test_gzip_errors(void)
{
    static const int two[4] = { 2, 2, 2, 2 }, ones[4] = { 1, 1, 1, 1 };
    uint8_t buf[600];
    bitwriter w;
    size_t len, n;
    uint8_t *in;
    check_prefixes("data_text_l0.gz");
    check_prefixes("data_text_l9.gz");
    check_prefixes("data_fixed.gz");
    check_prefixes("data_flags.gz");
    check_prefixes("data_empty.gz");
    if ((in = load_fixture("data_text_l9.gz", &len)) != NULL && len < sizeof buf - 8) {
        memcpy(buf, in, len);
        buf[len - 8] ^= 1;
        expect_fail("gunzip: a flipped CRC-32 byte", buf, len, "CRC-32");
        buf[len - 8] ^= 1;
        buf[len - 1] ^= 0x40;
        expect_fail("gunzip: a wrong ISIZE", buf, len, "ISIZE");
        buf[len - 1] ^= 0x40;
        buf[1] = 0x8c;
        expect_fail("gunzip: a wrong magic", buf, len, "not gzip");
        buf[1] = 0x8b;
        buf[2] = 7;
        expect_fail("gunzip: a method other than deflate", buf, len, "method 7");
        buf[2] = 8;
        buf[3] = 0x20;
        expect_fail("gunzip: a reserved flag bit", buf, len, "reserved flag");
        buf[3] = 0;
        memcpy(buf + len, "junk", 4);
        expect_fail("gunzip: trailing bytes after the member", buf, len + 4, "4 trailing bytes");
        buf[len] = 0x1f;
        buf[len + 1] = 0x8b;
        expect_fail("gunzip: a second member cut short", buf, len + 4, "truncated");
        /* a corrupted payload byte: with the CRC in place it cannot pass */
        buf[len / 2] ^= 0x10;
        expect_fail("gunzip: a flipped payload bit is caught", buf, len, "gan_gunzip");
        free(in);
    }
    if ((in = load_fixture("data_text_l0.gz", &len)) != NULL) {
        uint8_t *copy = (uint8_t *)malloc(len);
        memcpy(copy, in, len);
        copy[13] ^= 1; /* the first stored block's NLEN */
        expect_fail("gunzip: a stored block whose NLEN is not ~LEN", copy, len, "complement");
        free(copy);
        free(in);
    }
    if ((in = load_fixture("data_flags.gz", &len)) != NULL) {
        uint8_t *copy = (uint8_t *)malloc(len);
        memcpy(copy, in, len);
        copy[20] ^= 1; /* inside FNAME, covered by FHCRC */
        expect_fail("gunzip: a header that does not match its FHCRC", copy, len, "CRC-16");
        free(copy);
        free(in);
    }

    memset(&w, 0, sizeof w);
    put_bits(&w, 1, 1);
    put_bits(&w, 3, 2);
    put_bits(&w, 0, 16);
    n = wrap(buf, &w);
    expect_fail("gunzip: block type 3", buf, n, "block type 3");

    memset(&w, 0, sizeof w); /* fixed block: 'a', then a match 2 back after 1 byte */
    put_bits(&w, 1, 1);
    put_bits(&w, 1, 2);
    put_fixed(&w, 'a');
    put_fixed(&w, 257);
    put_code(&w, 1, 5);
    put_fixed(&w, 256);
    n = wrap(buf, &w);
    expect_fail("gunzip: a distance before the start of the output", buf, n, "2 bytes back, 1 bytes into");

    if ((in = load_fixture("data_fixed.gz", &len)) != NULL && len < 100) {
        /* a second member whose first symbol is a match 1 back: into the first member's output */
        memset(&w, 0, sizeof w);
        put_bits(&w, 1, 1);
        put_bits(&w, 1, 2);
        put_fixed(&w, 257);
        put_code(&w, 0, 5);
        put_fixed(&w, 256);
        memcpy(buf, in, len);
        n = len + wrap(buf + len, &w);
        expect_fail("gunzip: a match in member 2 reaching into member 1", buf, n, "1 bytes back, 0 bytes into");
        free(in);
    }

    memset(&w, 0, sizeof w);
    put_bits(&w, 1, 1);
    put_bits(&w, 1, 2);
    put_fixed(&w, 286);
    n = wrap(buf, &w);
    expect_fail("gunzip: length symbol 286", buf, n, "length symbol 286");

    memset(&w, 0, sizeof w);
    put_bits(&w, 1, 1);
    put_bits(&w, 1, 2);
    put_fixed(&w, 'a');
    put_fixed(&w, 257);
    put_code(&w, 30, 5);
    n = wrap(buf, &w);
    expect_fail("gunzip: distance symbol 30", buf, n, "distance symbol 30");

    put_dynamic(&w, 257, 1, ones);
    n = wrap(buf, &w);
    expect_fail("gunzip: an over-subscribed code-length code", buf, n, "over-subscribed or incomplete code-length");

    memset(&w, 0, sizeof w);
    put_bits(&w, 1, 1);
    put_bits(&w, 2, 2);
    put_bits(&w, 30, 5); /* HLIT 287 */
    put_bits(&w, 0, 5);
    put_bits(&w, 0, 4);
    n = wrap(buf, &w);
    expect_fail("gunzip: HLIT above 286", buf, n, "287 literal/length");

    memset(&w, 0, sizeof w);
    put_bits(&w, 1, 1);
    put_bits(&w, 2, 2);
    put_bits(&w, 0, 5);
    put_bits(&w, 31, 5); /* HDIST 32 */
    put_bits(&w, 0, 4);
    n = wrap(buf, &w);
    expect_fail("gunzip: HDIST above 30", buf, n, "32 distance");

    put_dynamic(&w, 257, 1, two);
    put_code(&w, 1, 2); /* 16 with nothing to repeat */
    put_bits(&w, 0, 2);
    n = wrap(buf, &w);
    expect_fail("gunzip: a repeat code before any length", buf, n, "before any");

    put_dynamic(&w, 257, 1, two);
    put_code(&w, 3, 2); /* 18: 138 zeros, twice: past the 258 lengths */
    put_bits(&w, 127, 7);
    put_code(&w, 3, 2);
    put_bits(&w, 127, 7);
    n = wrap(buf, &w);
    expect_fail("gunzip: a repeat past the declared lengths", buf, n, "repeated past the 258");

    put_dynamic(&w, 257, 1, two);
    put_code(&w, 3, 2); /* 138 + 120 zeros: no end-of-block code */
    put_bits(&w, 127, 7);
    put_code(&w, 3, 2);
    put_bits(&w, 109, 7);
    n = wrap(buf, &w);
    expect_fail("gunzip: a block without end-of-block", buf, n, "end-of-block");

    {
        /* code-length code over 16, 17, 18, 0, 8 with lengths 4, 4, 3, 2, 1 (8: 0, 0: 10, 18: 110,
           16: 1110, 17: 1111): 256 zeros, then 8 for symbol 256 and 0 for the one distance: one
           literal/length code of 8 bits, incomplete */
        int i;
        static const int clen5[5] = { 4, 4, 3, 2, 1 };
        memset(&w, 0, sizeof w);
        put_bits(&w, 1, 1);
        put_bits(&w, 2, 2);
        put_bits(&w, 0, 5);
        put_bits(&w, 0, 5);
        put_bits(&w, 1, 4);
        for (i = 0; i < 5; i++) put_bits(&w, (unsigned)clen5[i], 3);
        put_code(&w, 6, 3);
        put_bits(&w, 127, 7);
        put_code(&w, 6, 3);
        put_bits(&w, 107, 7);
        put_code(&w, 0, 1);
        put_code(&w, 2, 2);
        n = wrap(buf, &w);
        expect_fail("gunzip: an incomplete literal/length code", buf, n, "an incomplete literal/length");
    }
}

/* Random damage to the fixtures: each run either fails with a message or decodes (only a change that
   keeps the CRC can), and nothing is read or written out of bounds (the sanitizer build says). */
static void test_gzip_mutations(void)
{
    static const char *const files[4] = { "data_text_l9.gz", "data_text_l1.gz", "data_repeat.gz", "data_fixed.gz" };
    gan_rng rng;
    int f, k, failed = 0, decoded = 0, silent = 0;
    long live0 = live;
    gan_rng_seed(&rng, 2024);
    for (f = 0; f < 4; f++) {
        size_t len;
        uint8_t *in = load_fixture(files[f], &len);
        if (!in) return;
        for (k = 0; k < 1500; k++) {
            uint8_t *copy = (uint8_t *)malloc(len), *out;
            size_t cut = len, out_len;
            int j, flips = 1 + (int)(gan_rng_u32(&rng) % 4);
            memcpy(copy, in, len);
            for (j = 0; j < flips; j++) {
                size_t at = 10 + gan_rng_u32(&rng) % (uint32_t)(len - 10);
                if (gan_rng_u32(&rng) & 1) copy[at] ^= (uint8_t)(1u << (gan_rng_u32(&rng) & 7));
                else copy[at] = (uint8_t)gan_rng_u32(&rng);
            }
            if (k % 5 == 0) cut = 10 + gan_rng_u32(&rng) % (uint32_t)(len - 10);
            gan__error[0] = 0;
            if (gan_gunzip(&out, &out_len, copy, cut, (size_t)1 << 20)) {
                GAN_FREE(out);
                decoded++;
            } else {
                failed++;
                silent += gan_last_error()[0] == 0;
            }
            free(copy);
        }
        free(in);
    }
    test_report("gunzip: 6000 damaged streams fail with a message or decode, and leak nothing",
                silent == 0 && failed > 5000 && live == live0, "%d failed (%d without a message), %d decoded, %ld leaked",
                failed, silent, decoded, live - live0);
}

/* ---- IDX -------------------------------------------------------------------------------------- */

/* make_data_fixtures.py's pixels: 37 k mod 256, the last one 255. */
static uint8_t idx_pixel(int k) { return (uint8_t)(k == 59 ? 255 : (k * 37) % 256); }

/* The fixture data set: 5 images of 3 x 4, labels 3 1 4 1 5. */
static int check_small_set(const gan_dataset *d, const char *how)
{
    static const uint8_t labels[5] = { 3, 1, 4, 1, 5 };
    char name[128];
    int k, ok = d->n == 5 && d->c == 1 && d->h == 3 && d->w == 4 && d->classes == 6 && d->pixels && d->labels;
    for (k = 0; ok && k < 60; k++) ok = d->pixels[k] == idx_pixel(k);
    for (k = 0; ok && k < 5; k++) ok = d->labels[k] == labels[k];
    snprintf(name, sizeof name, "idx: %s gives the exact pixels and labels", how);
    test_report(name, ok, "n %d c %d h %d w %d classes %d", d->n, d->c, d->h, d->w, d->classes);
    return ok;
}

static void test_idx_fixtures(void)
{
    size_t il, ll, gl, gll;
    uint8_t *img = load_fixture("data_images.idx", &il), *lab = load_fixture("data_labels.idx", &ll);
    uint8_t *gimg = load_fixture("data_images.idx.gz", &gl), *glab = load_fixture("data_labels.idx.gz", &gll);
    gan_dataset d;
    long live0 = live;
    if (!img || !lab || !gimg || !glab) return;
    test_report("idx: plain files from memory", gan_dataset_from_idx(&d, img, il, lab, ll, "small"), "%s", gan_last_error());
    check_small_set(&d, "plain from memory");
    gan_dataset_free(&d);
    test_report("idx: gzipped files from memory", gan_dataset_from_idx(&d, gimg, gl, glab, gll, "small.gz"), "%s",
                gan_last_error());
    check_small_set(&d, "gzipped from memory");
    gan_dataset_free(&d);
    test_report("idx: gzipped images, plain labels", gan_dataset_from_idx(&d, gimg, gl, lab, ll, NULL), "%s", gan_last_error());
    check_small_set(&d, "mixed");
    gan_dataset_free(&d);
    {
        char ipath[512], lpath[512];
        snprintf(ipath, sizeof ipath, "%s", fixture("data_images.idx.gz"));
        snprintf(lpath, sizeof lpath, "%s", fixture("data_labels.idx"));
        test_report("idx: gan_dataset_load_idx from files", gan_dataset_load_idx(&d, ipath, lpath), "%s", gan_last_error());
        if (check_small_set(&d, "files")) {
            /* 0 -> -1 and 255 -> 1 exactly; 37 -> 37 / 127.5 - 1 */
            gan_float x[24], y[2];
            int index[2] = { 4, 0 }, k, exact = 1;
            gan_dataset_batch(&d, x, y, index, 2);
            for (k = 0; k < 24; k++) {
                uint8_t p = idx_pixel((k < 12 ? 48 : -12) + k);
                if (fabs((double)x[k] - ((double)p / 127.5 - 1.0)) > 1e-6) exact = 0;
            }
            test_report("batch: p / 127.5 - 1 for every pixel, in index order", exact, "x[0] %g x[12] %g", (double)x[0],
                        (double)x[12]);
            test_report("batch: 255 -> 1 and 0 -> -1 exactly", x[11] == 1 && x[12] == -1, "%.9g %.9g", (double)x[11],
                        (double)x[12]);
            test_report("batch: labels as floats", y[0] == 5 && y[1] == 3, "%g %g", (double)y[0], (double)y[1]);
        }
        gan_dataset_free(&d);
        test_report("idx: gan_dataset_load_idx without labels", gan_dataset_load_idx(&d, ipath, NULL) && d.n == 5 &&
                    !d.labels && d.classes == 0, "%s", gan_last_error());
        gan_dataset_free(&d);
        test_report("idx: a missing file is named", !gan_dataset_load_idx(&d, ipath, "no/such/labels.idx") &&
                    has(gan_last_error(), "no/such/labels.idx") && has(gan_last_error(), "cannot open") && !d.pixels,
                    "%s", gan_last_error());
    }
    {
        /* gzipped labels with a broken CRC: the message names the file and the CRC */
        uint8_t *bad = (uint8_t *)malloc(gll);
        memcpy(bad, glab, gll);
        bad[gll - 6] ^= 0x80;
        test_report("idx: a gzipped file with a bad CRC", !gan_dataset_from_idx(&d, gimg, gl, bad, gll, "set.gz") &&
                    has(gan_last_error(), "set.gz") && has(gan_last_error(), "CRC-32") && !d.pixels && d.n == 0,
                    "%s", gan_last_error());
        free(bad);
    }
    {
        /* IDX4: (n, c, h, w) = (2, 3, 2, 2) */
        uint8_t f4[4 + 16 + 24];
        int k;
        memset(f4, 0, sizeof f4);
        f4[2] = 8;
        f4[3] = 4;
        f4[7] = 2;
        f4[11] = 3;
        f4[15] = 2;
        f4[19] = 2;
        for (k = 0; k < 24; k++) f4[20 + k] = (uint8_t)(10 * k);
        test_report("idx: IDX4 (n, c, h, w)", gan_dataset_from_idx(&d, f4, sizeof f4, NULL, 0, "four") && d.n == 2 &&
                    d.c == 3 && d.h == 2 && d.w == 2 && d.pixels[23] == 230 && !d.labels, "%s", gan_last_error());
        gan_dataset_free(&d);
    }
    test_report("idx: nothing left allocated", live == live0, "%ld blocks", live - live0);
    free(img);
    free(lab);
    free(gimg);
    free(glab);
}

/* An IDX header of nd sizes, then fill data bytes, in buf; returns the length. */
static size_t idx_make(uint8_t *buf, int type, int nd, const uint32_t *dims, size_t data)
{
    int k;
    buf[0] = buf[1] = 0;
    buf[2] = (uint8_t)type;
    buf[3] = (uint8_t)nd;
    for (k = 0; k < nd; k++) {
        buf[4 + 4 * k] = (uint8_t)(dims[k] >> 24);
        buf[5 + 4 * k] = (uint8_t)(dims[k] >> 16);
        buf[6 + 4 * k] = (uint8_t)(dims[k] >> 8);
        buf[7 + 4 * k] = (uint8_t)dims[k];
    }
    memset(buf + 4 + 4 * nd, 7, data);
    return 4 + 4 * (size_t)nd + data;
}

/* gan_dataset_from_idx must fail, name "bad.idx", say want, and leave d zeroed and nothing allocated. */
static void idx_expect_fail(const char *name, const uint8_t *img, size_t il, const uint8_t *lab, size_t ll, const char *want)
{
    gan_dataset d;
    long live0 = live;
    int ok = gan_dataset_from_idx(&d, img, il, lab, ll, "bad.idx");
    test_report(name, !ok && has(gan_last_error(), "bad.idx") && has(gan_last_error(), want) && !d.pixels && !d.labels &&
                d.n == 0 && live == live0, "ok %d: \"%s\" (wanted \"%s\")", ok, gan_last_error(), want);
    if (ok) gan_dataset_free(&d);
}

static void test_idx_errors(void)
{
    static const uint32_t d543[3] = { 5, 3, 4 }, d5[1] = { 5 }, d4[1] = { 4 };
    static const uint32_t big3[3] = { 0x7fffffffu, 0x7fffffffu, 0x7fffffffu }, wide[3] = { 1, 65536, 65536 };
    static const uint32_t big4[4] = { 0x7fffffffu, 0x7fffffffu, 0x7fffffffu, 0x7fffffffu };
    static const uint32_t huge[3] = { 65536, 256, 65536 }, zero[3] = { 5, 0, 4 }, over[3] = { 0x80000000u, 1, 1 };
    uint8_t img[128], lab[32];
    size_t il, ll = idx_make(lab, 8, 1, d5, 5);
    il = idx_make(img, 8, 3, d543, 60);
    idx_expect_fail("idx: images with the label magic", lab, ll, NULL, 0, "magic 0 0 8 1");
    img[2] = 0x0d;
    idx_expect_fail("idx: images of floats (type 0x0d)", img, il, NULL, 0, "unsigned bytes");
    img[2] = 8;
    img[0] = 1;
    idx_expect_fail("idx: a nonzero first magic byte", img, il, NULL, 0, "not an IDX images file");
    img[0] = 0;
    idx_expect_fail("idx: labels with the image magic", img, il, img, il, "labels file");
    idx_expect_fail("idx: truncated by one byte", img, il - 1, NULL, 0, "truncated");
    idx_expect_fail("idx: truncated in the header", img, 9, NULL, 0, "truncated");
    idx_expect_fail("idx: three bytes only", img, 3, NULL, 0, "truncated");
    idx_expect_fail("idx: a trailing byte", img, il + 1, NULL, 0, "1 trailing bytes");
    idx_expect_fail("idx: labels truncated", img, il, lab, ll - 2, "truncated IDX labels");
    idx_make(lab, 8, 1, d4, 4);
    idx_expect_fail("idx: 4 labels for 5 images", img, il, lab, 12, "4 labels for the 5 images");
    il = idx_make(img, 8, 3, big3, 16);
    idx_expect_fail("idx: sizes whose product overflows size_t (3 x 2^31)", img, il, NULL, 0, "more than INT_MAX");
    il = idx_make(img, 8, 4, big4, 16);
    idx_expect_fail("idx: four sizes whose product overflows", img, il, NULL, 0, "more than INT_MAX");
    il = idx_make(img, 8, 3, wide, 16);
    idx_expect_fail("idx: an image of more than INT_MAX bytes", img, il, NULL, 0, "more than INT_MAX");
    il = idx_make(img, 8, 3, huge, 16);
    idx_expect_fail("idx: 2^40 bytes in all", img, il, NULL, 0, "GAN_MAX_DATA_BYTES");
    il = idx_make(img, 8, 3, zero, 16);
    idx_expect_fail("idx: a size of 0", img, il, NULL, 0, "size 1 is 0");
    il = idx_make(img, 8, 3, over, 16);
    idx_expect_fail("idx: a size past INT_MAX", img, il, NULL, 0, "2147483648");
}

/* ---- gan_dataset_load's layout ---------------------------------------------------------------- */

#ifdef TEST_POSIX
static int write_file(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(p, 1, n, f) == n;
    if (f) ok = fclose(f) == 0 && ok;
    return ok;
}
#endif

static void test_load_layout(void)
{
#ifdef TEST_POSIX
    char dir[64] = "/tmp/gan_test_data_XXXXXX", path[160], sub[96];
    size_t gl, ll;
    uint8_t *gimg = load_fixture("data_images.idx.gz", &gl), *lab = load_fixture("data_labels.idx", &ll);
    gan_dataset d;
    int ok;
    if (!gimg || !lab) return;
    if (!mkdtemp(dir)) {
        test_skip("load: MNIST layout", "cannot make a directory under /tmp");
        return;
    }
    snprintf(sub, sizeof sub, "%s/mnist", dir);
    ok = mkdir(sub, 0700) == 0;
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", sub);
    ok = ok && write_file(path, gimg, gl);
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte", sub);
    ok = ok && write_file(path, lab, ll);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
    ok = ok && write_file(path, gimg, gl); /* gzipped under a plain name: told by its magic */
    if (!ok) {
        test_skip("load: MNIST layout", "cannot write files under %s", dir);
    } else {
        test_report("load: dir/mnist/t10k-*.gz and plain labels (GAN_SPLIT_ANY, no train there)",
                    gan_dataset_load(&d, dir, "mnist", GAN_SPLIT_ANY) && d.n == 5 && d.classes == 6, "%s", gan_last_error());
        gan_dataset_free(&d);
        test_report("load: GAN_SPLIT_TEST", gan_dataset_load(&d, dir, "mnist", GAN_SPLIT_TEST) && d.n == 5 && d.labels,
                    "%s", gan_last_error());
        gan_dataset_free(&d);
        test_report("load: GAN_SPLIT_TRAIN falls back to dir/ itself, images without labels",
                    gan_dataset_load(&d, dir, "mnist", GAN_SPLIT_TRAIN) && d.n == 5 && !d.labels && d.classes == 0, "%s",
                    gan_last_error());
        gan_dataset_free(&d);
        ok = gan_dataset_load(&d, sub, NULL, GAN_SPLIT_TRAIN);
        test_report("load: a missing split names the places tried and GAN_DATA / --data",
                    !ok && has(gan_last_error(), sub) && has(gan_last_error(), "train-images-idx3-ubyte[.gz]") &&
                    has(gan_last_error(), "GAN_DATA") && has(gan_last_error(), "--data") && !d.pixels,
                    "%s", gan_last_error());
        ok = gan_dataset_load(&d, dir, "fashion", GAN_SPLIT_TEST);
        test_report("load: \"fashion\" looks in fashion-mnist/, then in dir/", !ok && has(gan_last_error(), "fashion-mnist/ and") &&
                    has(gan_last_error(), "for t10k-images"), "%s", gan_last_error());
        ok = gan_dataset_load(&d, "/nonexistent", "fashion", GAN_SPLIT_ANY);
        test_report("load: GAN_SPLIT_ANY tries both splits", !ok && has(gan_last_error(), "/nonexistent/fashion-mnist/") &&
                    has(gan_last_error(), "{train,t10k}-images"), "%s", gan_last_error());
    }
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", sub);
    unlink(path);
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte", sub);
    unlink(path);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
    unlink(path);
    rmdir(sub);
    rmdir(dir);
    free(gimg);
    free(lab);
#else
    test_skip("load: MNIST layout", "no POSIX mkdtemp here");
#endif
}

/* ---- the loader ------------------------------------------------------------------------------- */

#define LN 7

/* A set of LN one-pixel images whose pixel is 30 times its label, so a sample says which it is. */
static void tiny_set(gan_dataset *d, uint8_t *pix, uint8_t *lab)
{
    int i;
    memset(d, 0, sizeof *d);
    d->n = LN;
    d->c = d->h = d->w = 1;
    d->classes = LN;
    d->pixels = pix;
    d->labels = lab;
    for (i = 0; i < LN; i++) {
        pix[i] = (uint8_t)(30 * i);
        lab[i] = (uint8_t)i;
    }
}

/* 5 epochs of LN samples drawn in batches of 3 (so batches straddle the ends of passes). */
static int draw(gan_loader *l, int *seq, int *consistent)
{
    gan_float x[3], y[3];
    int got = 0, i;
    *consistent = 1;
    while (got < 5 * LN) {
        int n = 5 * LN - got < 3 ? 5 * LN - got : 3;
        if (!gan_loader_real(l, x, y, n)) return 0;
        for (i = 0; i < n; i++) {
            seq[got + i] = (int)y[i];
            if (x[i] != (gan_float)(30 * (int)y[i]) / (gan_float)127.5 - 1) *consistent = 0;
        }
        got += n;
    }
    return 1;
}

static void test_loader(void)
{
    uint8_t pix[LN], lab[LN];
    gan_dataset d;
    gan_loader a, b, c;
    int sa[5 * LN], sb[5 * LN], sc[5 * LN], consistent, e, i, perm = 1, same_order = 1, same_b = 1, diff_c = 0;
    long live0 = live, calls0;
    tiny_set(&d, pix, lab);
    if (!gan_loader_init(&a, &d, 11) || !gan_loader_init(&b, &d, 11) || !gan_loader_init(&c, &d, 12)) {
        test_report("loader: init", 0, "%s", gan_last_error());
        return;
    }
    calls0 = calls;
    draw(&a, sa, &consistent);
    test_report("loader: next never allocates", calls == calls0, "%ld allocations", calls - calls0);
    test_report("loader: each sample's pixels match its label", consistent, "a pixel belongs to another sample");
    for (e = 0; e < 5; e++) {
        int seen[LN] = { 0 };
        for (i = 0; i < LN; i++) seen[sa[e * LN + i]]++;
        for (i = 0; i < LN; i++) perm = perm && seen[i] == 1;
        for (i = 0; i < LN && e > 0; i++) same_order = same_order && sa[e * LN + i] == sa[i];
    }
    test_report("loader: every index once per epoch, straddling batches included", perm, "epochs are not permutations");
    test_report("loader: a different order in later epochs", !same_order, "5 epochs in one order");
    draw(&b, sb, &consistent);
    draw(&c, sc, &consistent);
    for (i = 0; i < 5 * LN; i++) {
        same_b = same_b && sa[i] == sb[i];
        diff_c = diff_c || sa[i] != sc[i];
    }
    test_report("loader: the same seed, the same samples", same_b, "two loaders of seed 11 differ");
    test_report("loader: another seed, another order", diff_c, "seeds 11 and 12 agree");
    test_report("loader: 5 epochs done at the end", a.epoch == 5 && a.pos == 0 && gan_loader_epochs(&a) == 5.0, "epoch %d pos %d",
                (int)a.epoch, a.pos);
    {
        gan_float x[10];
        gan_loader_next(&a, x, NULL, 10);
        test_report("loader: epochs as a fraction, 5 + 10/7 = 6 + 3/7", a.epoch == 6 && a.pos == 3 &&
                    fabs(gan_loader_epochs(&a) - (6.0 + 3.0 / LN)) < 1e-12, "%.6f", gan_loader_epochs(&a));
    }
    gan_loader_free(&a);
    gan_loader_free(&b);
    gan_loader_free(&c);
    test_report("loader: free gives the order back and zeroes", live == live0 && a.order == NULL, "%ld blocks", live - live0);
    {
        /* three samples: each of the 6 orders about 1/6 of 6000 epochs (Lemire's draw is unbiased;
           with 3 sigma at 29, 880..1120 leaves over 4 sigma of room) */
        int count[6] = { 0 }, k, lo = 6000, hi = 0;
        gan_dataset d3 = d;
        gan_loader l;
        d3.n = 3;
        gan_loader_init(&l, &d3, 5);
        for (e = 0; e < 6000; e++) {
            gan_float x[3], y[3];
            gan_loader_next(&l, x, y, 3);
            k = (int)y[0] * 2 + ((int)y[1] > (int)y[2]);
            count[k]++;
        }
        for (k = 0; k < 6; k++) {
            lo = count[k] < lo ? count[k] : lo;
            hi = count[k] > hi ? count[k] : hi;
        }
        test_report("loader: the 6 orders of 3 samples equally often over 6000 epochs", lo >= 880 && hi <= 1120,
                    "%d %d %d %d %d %d", count[0], count[1], count[2], count[3], count[4], count[5]);
        gan_loader_free(&l);
    }
}

/* ---- shapes ----------------------------------------------------------------------------------- */

/* A second implementation of the 16 x 16 drawing (values in [-1, 1]), written apart from gan.h's, to
   check gan__draw_shape against. */
static float ref_uniform(gan_rng *rng, float lo, float hi) { return lo + (hi - lo) * (float)gan_rng_uniform(rng); }
static float ref_clampf(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }
static void ref_draw_shape(float *img, gan_rng *rng)
{
    int kind = (int)(gan_rng_u32(rng) % 4), x, y;
    float ink = ref_uniform(rng, 0.5f, 1.0f), r = 0, t = 0, hw, hh, cx, cy;
    switch (kind) {
    case 0: r = ref_uniform(rng, 2.5f, 6.0f); hw = hh = r; break;
    case 1: r = ref_uniform(rng, 3.5f, 6.5f); t = ref_uniform(rng, 0.7f, 1.3f); hw = hh = r + t; break;
    case 2: hw = hh = ref_uniform(rng, 2.0f, 5.5f); break;
    default:
        hw = ref_uniform(rng, 4.5f, 7.0f);
        hh = ref_uniform(rng, 1.0f, 1.8f);
        if (gan_rng_u32(rng) & 1) { float s = hw; hw = hh; hh = s; }
        break;
    }
    cx = ref_uniform(rng, hw + 0.5f, 16 - hw - 0.5f);
    cy = ref_uniform(rng, hh + 0.5f, 16 - hh - 0.5f);
    for (y = 0; y < 16; y++) {
        for (x = 0; x < 16; x++) {
            float px = (float)x + 0.5f - cx, py = (float)y + 0.5f - cy, d;
            if (kind == 0) d = sqrtf(px * px + py * py) - r;
            else if (kind == 1) d = fabsf(sqrtf(px * px + py * py) - r) - t;
            else { float dx = fabsf(px) - hw, dy = fabsf(py) - hh; d = dx > dy ? dx : dy; }
            img[y * 16 + x] = 2.0f * ink * ref_clampf(0.5f - d, 0.0f, 1.0f) - 1.0f;
        }
    }
}

static void test_shapes(void)
{
    gan_dataset a, b, c, s8;
    int count[4] = { 0 }, i, ok, unlit = 0, lit_corner = 0, bright = 0;
    size_t k, per = 28 * 28;
    double mean = 0;
    long live0 = live;
    ok = gan_dataset_shapes(&a, 400, 28, 1) && gan_dataset_shapes(&b, 400, 28, 1) && gan_dataset_shapes(&c, 400, 28, 2);
    test_report("shapes: made", ok && a.n == 400 && a.c == 1 && a.h == 28 && a.w == 28 && a.classes == 4, "%s", gan_last_error());
    if (!ok) return;
    test_report("shapes: the same seed, the same bytes", memcmp(a.pixels, b.pixels, 400 * per) == 0 &&
                memcmp(a.labels, b.labels, 400) == 0, "seed 1 twice differs");
    test_report("shapes: another seed, other images", memcmp(a.pixels, c.pixels, 400 * per) != 0, "seeds 1 and 2 agree");
    for (i = 0; i < 400; i++) {
        const uint8_t *p = a.pixels + (size_t)i * per;
        int mx = 0, mn = 255;
        if (a.labels[i] < 4) count[a.labels[i]]++;
        for (k = 0; k < per; k++) {
            mx = p[k] > mx ? p[k] : mx;
            mn = p[k] < mn ? p[k] : mn;
            mean += p[k];
        }
        unlit += mn == 0;
        bright += mx >= 127;
        lit_corner += p[0] != 0 || p[27] != 0 || p[per - 28] != 0 || p[per - 1] != 0;
    }
    mean /= 400.0 * (double)per;
    test_report("shapes: all 4 classes, each about a quarter", count[0] > 60 && count[1] > 60 && count[2] > 60 &&
                count[3] > 60, "%d %d %d %d", count[0], count[1], count[2], count[3]);
    /* a shape's edge may reach the border (the centre keeps half a pixel of room), rarely a corner */
    test_report("shapes: each image a fully inked shape (>= 0.5) on black, corners nearly always black",
                unlit == 400 && bright == 400 && lit_corner < 20, "%d with black, %d bright, %d with a lit corner", unlit,
                bright, lit_corner);
    test_report("shapes: mean pixel plausible (black background, shapes a few % to a third of the area)",
                mean > 5 && mean < 80, "mean %.2f", mean);
    {
        /* size 16 is the reference drawing: the same kinds, pixels within rounding */
        gan_dataset t;
        gan_rng rng;
        float ref[256];
        int worst = 0, kinds = 1, j;
        gan_dataset_shapes(&t, 50, 16, 9);
        gan_rng_seed(&rng, 9);
        for (i = 0; i < 50; i++) {
            gan_rng copy = rng;
            kinds = kinds && (int)(gan_rng_u32(&copy) % 4) == t.labels[i];
            ref_draw_shape(ref, &rng);
            for (j = 0; j < 256; j++) {
                int want = (int)((ref[j] + 1.0f) * 127.5f + 0.5f), diff = abs(want - t.pixels[i * 256 + j]);
                worst = diff > worst ? diff : worst;
            }
        }
        test_report("shapes: size 16 draws the reference drawing's images", kinds && worst <= 1, "kinds %d, worst %d", kinds, worst);
        gan_dataset_free(&t);
    }
    test_report("shapes: size 8 works", gan_dataset_shapes(&s8, 20, 8, 3) && s8.h == 8 && s8.pixels[0] == 0, "%s",
                gan_last_error());
    gan_dataset_free(&s8);
    gan_dataset_free(&a);
    gan_dataset_free(&b);
    gan_dataset_free(&c);
    test_report("shapes: nothing left allocated", live == live0, "%ld", live - live0);
}

/* ---- out of memory ---------------------------------------------------------------------------- */

/* Fails each allocation of the call in turn: every failure returns 0 with "out of memory" and frees
   all it took, until the call needs no more. */
static void test_oom(void)
{
    size_t gl, gll;
    uint8_t *gimg = load_fixture("data_images.idx.gz", &gl), *glab = load_fixture("data_labels.idx.gz", &gll);
    int step, kind;
    if (!gimg || !glab) return;
    for (kind = 0; kind < 3; kind++) {
        static const char *const what[3] = { "gan_dataset_from_idx (gzipped)", "gan_dataset_shapes", "gan_loader_init" };
        char name[128];
        int bad = 0, done = 0;
        for (step = 1; step < 40 && !done; step++) {
            gan_dataset d;
            gan_loader l;
            long live0 = live;
            int ok;
            if (kind == 2) gan_dataset_shapes(&d, 10, 8, 1);
            live0 = live;
            calls = 0;
            fail_at = step;
            if (kind == 0) ok = gan_dataset_from_idx(&d, gimg, gl, glab, gll, "oom");
            else if (kind == 1) ok = gan_dataset_shapes(&d, 10, 8, 1);
            else ok = gan_loader_init(&l, &d, 1);
            fail_at = 0;
            if (ok && calls < step) done = 1; /* nothing left to fail */
            if (!ok && (!has(gan_last_error(), "out of memory") || live != live0)) bad++;
            if (ok && kind == 2) gan_loader_free(&l);
            gan_dataset_free(&d);
        }
        snprintf(name, sizeof name, "oom: %s fails cleanly at each allocation", what[kind]);
        test_report(name, bad == 0 && done, "%d bad, done %d: %s", bad, done, gan_last_error());
    }
    free(gimg);
    free(glab);
}

/* ---- the real data sets ----------------------------------------------------------------------- */

static void check_real(const char *dir, const char *set, gan_split split, int n, const char *label)
{
    gan_dataset d;
    char name[128];
    long hist[10] = { 0 };
    double mean = 0;
    size_t k, total;
    int i, ok = gan_dataset_load(&d, dir, set, split), hist_ok = 1;
    snprintf(name, sizeof name, "data.%s: %d images of 28 x 28, 10 classes", label, n);
    test_report(name, ok && d.n == n && d.c == 1 && d.h == 28 && d.w == 28 && d.classes == 10, "%s; n %d h %d w %d classes %d",
                gan_last_error(), d.n, d.h, d.w, d.classes);
    if (!ok) return;
    for (i = 0; i < d.n; i++) hist[d.labels[i] < 10 ? d.labels[i] : 0]++;
    for (i = 0; i < 10; i++) hist_ok = hist_ok && hist[i] * 10000 >= 800L * n && hist[i] * 10000 <= 1300L * n;
    snprintf(name, sizeof name, "data.%s: each class 8%% to 13%% of the labels", label);
    test_report(name, hist_ok, "%ld %ld %ld %ld %ld %ld %ld %ld %ld %ld", hist[0], hist[1], hist[2], hist[3], hist[4], hist[5],
                hist[6], hist[7], hist[8], hist[9]);
    total = (size_t)d.n * 784;
    for (k = 0; k < total; k++) mean += d.pixels[k];
    mean /= (double)total;
    snprintf(name, sizeof name, "data.%s: mean pixel plausible", label);
    /* MNIST's mean is about 33, Fashion-MNIST's about 73 */
    test_report(name, mean > 20 && mean < 100, "mean %.2f", mean);
    gan_dataset_free(&d);
}

static void test_real_data(void)
{
    const char *dir = getenv("GAN_DATA");
    char path[1024];
    FILE *f;
    if (!dir || !*dir) {
        test_skip("data.mnist", "GAN_DATA not set (point it at a directory with mnist/ and fashion-mnist/)");
        test_skip("data.fashion", "GAN_DATA not set");
        return;
    }
    snprintf(path, sizeof path, "%s/mnist/t10k-images-idx3-ubyte.gz", dir);
    if ((f = fopen(path, "rb")) != NULL) {
        fclose(f);
        check_real(dir, "mnist", GAN_SPLIT_ANY, 10000, "mnist");
    } else {
        test_skip("data.mnist", "no %s", path);
    }
    snprintf(path, sizeof path, "%s/fashion-mnist/train-images-idx3-ubyte.gz", dir);
    if ((f = fopen(path, "rb")) != NULL) {
        fclose(f);
        check_real(dir, "fashion", GAN_SPLIT_TRAIN, 60000, "fashion");
    } else {
        test_skip("data.fashion", "no %s", path);
    }
}

int main(void)
{
    test_gzip_fixtures();
    test_gzip_errors();
    test_gzip_mutations();
    test_idx_fixtures();
    test_idx_errors();
    test_load_layout();
    test_loader();
    test_shapes();
    test_oom();
    test_real_data();
    return test_finish();
}
