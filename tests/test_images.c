/* tests/test_images.c - the image writers, grids and plots. PNGs of odd sizes, every comp, a stride
   with padding, noise (which must fall back to stored blocks), a constant picture (which must shrink
   a hundredfold) and patterned pictures go to a temporary directory with the raw bytes each should
   hold beside them; tests/png_check.py, an independent decoder (zlib and CRC-32 from Python's standard
   library, its own filters), decodes each and compares every byte. Then: the PNG signature and IHDR,
   PGM/PPM and IDX bytes, gan_to_bytes at its edges, a grid's layout, plots, write failures at every
   byte offset and allocation failures (no leak: the allocator below counts, and the sanitizer build
   runs this), sizes that overflow, and the speed and ratio of the PNG encoder. ImageMagick, where it
   is installed, decodes one file too. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <stdlib.h>

#include "flaky_alloc.h"
#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "test.h"

#include <limits.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---- helpers ---- */

/* A gan_write_fn target in memory that refuses any write that would take it past limit bytes. */
typedef struct {
    uint8_t *p;
    size_t n, cap, limit;
} membuf;

/* The gan_write_fn of a membuf: appends, growing the buffer, up to the limit. */
static int mem_write(void *user, const void *data, size_t n)
{
    membuf *m = (membuf *)user;
    if (n > m->limit - m->n) return 0;
    if (m->n + n > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        uint8_t *p;
        while (cap < m->n + n) cap *= 2;
        p = (uint8_t *)realloc(m->p, cap);
        if (!p) return 0;
        m->p = p;
        m->cap = cap;
    }
    memcpy(m->p + m->n, data, n);
    m->n += n;
    return 1;
}

/* An empty membuf that takes up to limit bytes. */
static membuf mem_make(size_t limit)
{
    membuf m;
    m.p = NULL;
    m.n = m.cap = 0;
    m.limit = limit;
    return m;
}

/* The big-endian 32-bit number at p. */
static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* xorshift32, so the pictures are the same on every run and platform, and its noise has no short
   period for LZ77 to find (an LCG's low bits have one). */
static uint32_t rng_state = 12345;
static int rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return (int)(rng_state >> 1);
}

static char tmpdir[64];
static char written[64][96];
static int n_written;
static int have_python, have_checker, decode_skipped;

/* dir/name, remembered so that it is removed at the end. */
static const char *tmp_path(const char *name)
{
    char *p = written[n_written < 63 ? n_written++ : 63];
    sprintf(p, "%s/%s", tmpdir, name);
    return p;
}

/* The whole file at path into a fresh m; 0 if it cannot be opened. */
static int read_file(const char *path, membuf *m)
{
    uint8_t chunk[4096];
    size_t n;
    FILE *f = fopen(path, "rb");
    *m = mem_make((size_t)-1);
    if (!f) return 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) mem_write(m, chunk, n);
    fclose(f);
    return 1;
}

/* Saves the picture as NAME.png and its packed bytes as NAME.raw, then has png_check.py decode it
   (extra: its options). Returns the PNG's size, 0 if it could not be saved. */
static size_t png_case(const char *name, const uint8_t *pixels, int w, int h, int comp, int stride, const char *extra)
{
    char png[96], raw[96], check[512], label[128];
    FILE *f;
    membuf m;
    int y, ok;
    size_t size;
    sprintf(png, "%s.png", name);
    sprintf(raw, "%s.raw", name);
    strcpy(png, tmp_path(png));
    strcpy(raw, tmp_path(raw));
    sprintf(label, "images.png_save: %s (%d x %d, comp %d, stride %d)", name, w, h, comp, stride);
    ok = gan_png_save(png, pixels, w, h, comp, stride);
    test_report(label, ok, "gan_png_save failed: %s", gan_last_error());
    if (!ok) return 0;
    f = fopen(raw, "wb");
    for (y = 0; f && y < h; y++) fwrite(pixels + (size_t)y * (size_t)stride, 1, (size_t)w * (size_t)comp, f);
    if (f) fclose(f);
    read_file(png, &m);
    size = m.n;
    free(m.p);
    sprintf(label, "images.png_decode: %s", name);
    if (!have_python || !have_checker) {
        if (!decode_skipped++)
            test_skip("images.png_decode", have_python ? "tests/png_check.py not found (run from the repository root)"
                                                       : "/usr/bin/python3 not found");
    } else {
        sprintf(check, "/usr/bin/python3 tests/png_check.py %s %s %d %d %d %s", png, raw, w, h, comp, extra);
        fflush(stdout); /* so that a message of png_check.py comes after the lines above */
        ok = system(check);
        test_report(label, ok == 0, "png_check.py: status %d (its message is above)", ok);
    }
    return size;
}

/* The first deflate block's BTYPE in a PNG in memory: the low bits of the byte after the first IDAT's
   two-byte zlib header (BFINAL is bit 0, BTYPE bits 1-2). -1 if there is no IDAT. */
static int first_btype(const membuf *m)
{
    size_t at = 8;
    while (at + 12 <= m->n) {
        uint32_t len = be32(m->p + at);
        if (memcmp(m->p + at + 4, "IDAT", 4) == 0 && len >= 3) return (m->p[at + 10] >> 1) & 3;
        at += 12 + len;
    }
    return -1;
}

/* A 28 x 28 "digit": an anti-aliased ring and a stroke in [-1, 1] on a background of -1, like MNIST. */
static void make_digit(gan_float *x)
{
    double cx = 10 + rnd() % 8, cy = 10 + rnd() % 8, rx = 4 + rnd() % 5, ry = 5 + rnd() % 6;
    double ax = 6 + rnd() % 16, ay = 4, bx = 6 + rnd() % 16, by = 24;
    int i, j;
    for (i = 0; i < 28; i++)
        for (j = 0; j < 28; j++) {
            double u = (j - cx) / rx, v = (i - cy) / ry, ring = fabs(sqrt(u * u + v * v) - 1) * 4;
            double t = ((j - ax) * (bx - ax) + (i - ay) * (by - ay)) / ((bx - ax) * (bx - ax) + (by - ay) * (by - ay));
            double dx, dy, line, ink;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            dx = j - (ax + t * (bx - ax));
            dy = i - (ay + t * (by - ay));
            line = sqrt(dx * dx + dy * dy) / 1.5;
            ink = 1 - (ring < line ? ring : line);
            x[i * 28 + j] = (gan_float)(ink < 0 ? -1 : 2 * ink - 1);
        }
}

/* ---- PNG round trips through the independent decoder ---- */

static void test_png_files(void)
{
    static const int gray_sizes[5][2] = { { 1, 1 }, { 1, 7 }, { 7, 1 }, { 3, 5 }, { 13, 17 } };
    uint8_t *p;
    char name[64];
    int i, x, y;
    size_t size, raw;

    for (i = 0; i < 5; i++) {
        int w = gray_sizes[i][0], h = gray_sizes[i][1];
        p = (uint8_t *)malloc((size_t)w * h);
        for (y = 0; y < h; y++)
            for (x = 0; x < w; x++) p[y * w + x] = (uint8_t)((x * 37 + y * 11) ^ (rnd() & 7));
        sprintf(name, "gray_%dx%d", w, h);
        png_case(name, p, w, h, 1, w, "");
        free(p);
    }
    {
        uint8_t ga[3][4 * 2], rgb[3][5 * 3], rgba[4][6 * 4], padded[6][9 * 3 + 5];
        for (y = 0; y < 3; y++)
            for (x = 0; x < 8; x++) ga[y][x] = (uint8_t)(x & 1 ? 255 - 40 * y : 30 * x + y);
        for (y = 0; y < 3; y++)
            for (x = 0; x < 15; x++) rgb[y][x] = (uint8_t)(x % 3 == 0 ? 50 * y : x % 3 == 1 ? 17 * x : 200 + y);
        for (y = 0; y < 4; y++)
            for (x = 0; x < 24; x++) rgba[y][x] = (uint8_t)(x % 4 == 3 ? 64 * y + 3 : rnd());
        for (y = 0; y < 6; y++)
            for (x = 0; x < 9 * 3 + 5; x++) padded[y][x] = (uint8_t)(x >= 27 ? 0xEE : (x / 3) * 20 + y * (x % 3));
        png_case("gray_alpha_4x3", ga[0], 4, 3, 2, 8, "");
        png_case("rgb_5x3", rgb[0], 5, 3, 3, 15, "");
        png_case("rgba_6x4", rgba[0], 6, 4, 4, 24, "");
        png_case("rgb_9x6_stride_32", padded[0], 9, 6, 3, 9 * 3 + 5, "");
    }

    /* noise: deflate cannot shrink it, so every block must be stored (BTYPE 00), and the file be the
       raw stream plus 5 bytes a block (of 16 KiB), 12 an IDAT chunk (of 32 KiB), the zlib header and
       Adler-32 (6), the signature, IHDR and IEND (8 + 25 + 12) */
    {
        int w = 300, h = 300;
        membuf m = mem_make((size_t)-1);
        p = (uint8_t *)malloc((size_t)w * h);
        for (i = 0; i < w * h; i++) p[i] = (uint8_t)rnd();
        size = png_case("noise_300x300", p, w, h, 1, w, "");
        raw = (size_t)h * (w + 1);
        gan_png_write(mem_write, &m, p, w, h, 1, w);
        test_report("images.png: noise falls back to stored blocks", first_btype(&m) == 0,
                    "the first block has BTYPE %d", first_btype(&m));
        test_report("images.png: noise grows only by the stored blocks' headers",
                    size > raw && size <= raw + 5 * (raw / 16384 + 1) + 12 * (raw / 32768 + 1) + 6 + 8 + 25 + 12,
                    "%lu bytes for a %lu-byte stream", (unsigned long)size, (unsigned long)raw);
        free(m.p);
        free(p);
    }

    /* a large constant picture: runs of 258-byte matches, under 1 % of its size */
    {
        int w = 1024, h = 1024;
        membuf m = mem_make((size_t)-1);
        p = (uint8_t *)malloc((size_t)w * h);
        memset(p, 77, (size_t)w * h);
        size = png_case("constant_1024x1024", p, w, h, 1, w, "");
        gan_png_write(mem_write, &m, p, w, h, 1, w);
        test_report("images.png: a constant picture uses the fixed codes", first_btype(&m) == 1,
                    "the first block has BTYPE %d", first_btype(&m));
        test_report("images.png: a constant 1024 x 1024 picture compresses below 1 %",
                    size > 0 && size < (size_t)w * h / 100, "%lu bytes", (unsigned long)size);
        free(m.p);
        free(p);
    }

    /* 300 x 200 RGB in five bands of 40 rows, each made for one filter to win: noise (None), a
       horizontal ramp under a per-row offset (Sub), a vertical ramp over per-column noise (Up), rows
       that are the mean of left and up (Average), and 8 x 8 blocks of random colour (Paeth on the rows
       where the blocks change). png_check.py must see all five filter types. */
    {
        int w = 300, h = 200, c;
        p = (uint8_t *)malloc((size_t)w * h * 3);
        for (y = 0; y < h; y++)
            for (x = 0; x < w; x++)
                for (c = 0; c < 3; c++) {
                    uint8_t *v = p + ((size_t)y * w + x) * 3 + c;
                    int band = y / 40;
                    if (band == 0) *v = (uint8_t)rnd();
                    else if (band == 1) *v = (uint8_t)(x * (3 + c) + (y * 73) % 251);
                    else if (band == 2) *v = (uint8_t)(y * (5 + c) + ((x * 2654435761u) >> 13) % 200);
                    else if (band == 3) *v = (uint8_t)(y == 120 || x == 0 ? rnd() : (v[-3] + v[-3 * w]) / 2);
                    else *v = (uint8_t)((((unsigned)(x / 8) * 7919u + (unsigned)(y / 8) * 104729u + (unsigned)c * 31u) * 2654435761u) >> 24);
                }
        png_case("patterned_300x200", p, w, h, 3, w * 3, "--filters=01234");
        free(p);
    }

    /* one row of 40000 gray pixels: a row longer than the 64 KiB window's refill, cut mid-row */
    {
        int w = 40000, h = 2;
        p = (uint8_t *)malloc((size_t)w * h);
        for (i = 0; i < w * h; i++) p[i] = (uint8_t)((i % 1000) < 500 ? i / 7 : rnd() & 3);
        png_case("wide_40000x2", p, w, h, 1, w, "");
        free(p);
    }
}

/* ---- format bytes checked in C ---- */

static void test_png_header(void)
{
    uint8_t pixels[17][13];
    static const uint8_t signature[8] = { 137, 80, 78, 71, 13, 10, 26, 10 };
    membuf m = mem_make((size_t)-1);
    int ok, i, x, y;
    for (y = 0; y < 17; y++)
        for (x = 0; x < 13; x++) pixels[y][x] = (uint8_t)(x * y);
    ok = gan_png_write(mem_write, &m, pixels[0], 13, 17, 1, 13);
    test_report("images.png: gan_png_write succeeds into memory", ok, "%s", gan_last_error());
    test_report("images.png: the signature", m.n > 33 && memcmp(m.p, signature, 8) == 0, "%lu bytes", (unsigned long)m.n);
    test_report("images.png: IHDR first, 13 bytes: 13 x 17, depth 8, gray, deflate, no interlace",
                m.n > 33 && be32(m.p + 8) == 13 && memcmp(m.p + 12, "IHDR", 4) == 0 && be32(m.p + 16) == 13 &&
                    be32(m.p + 20) == 17 && m.p[24] == 8 && m.p[25] == 0 && m.p[26] == 0 && m.p[27] == 0 && m.p[28] == 0,
                "the header bytes differ");
    test_report("images.png: IHDR's CRC", m.n > 33 && be32(m.p + 29) == gan__crc32(0, m.p + 12, 17), "CRC differs");
    test_report("images.png: the zlib header 78 01", m.n > 43 && memcmp(m.p + 37, "IDAT", 4) == 0 && m.p[41] == 0x78 &&
                m.p[42] == 0x01 && (m.p[41] * 256 + m.p[42]) % 31 == 0, "the first chunk after IHDR is not IDAT with 78 01");
    test_report("images.png: the file ends with an empty IEND",
                m.n > 45 && be32(m.p + m.n - 12) == 0 && memcmp(m.p + m.n - 8, "IEND", 4) == 0 && be32(m.p + m.n - 4) == 0xAE426082u,
                "the last 12 bytes are not IEND");
    free(m.p);
    for (i = 1; i <= 4; i++) {
        static const int colour[5] = { 0, 0, 4, 2, 6 };
        uint8_t px[2 * 2 * 4] = { 0 };
        char name[80];
        m = mem_make((size_t)-1);
        gan_png_write(mem_write, &m, px, 2, 2, i, 2 * i);
        sprintf(name, "images.png: comp %d has colour type %d", i, colour[i]);
        test_report(name, m.n > 26 && m.p[25] == colour[i], "colour type %d", m.n > 26 ? m.p[25] : -1);
        free(m.p);
    }
}

static void test_pnm_idx(void)
{
    uint8_t gray[2][4] = { { 1, 2, 3, 99 }, { 4, 5, 6, 99 } }, rgb[2][6] = { { 10, 20, 30, 40, 50, 60 }, { 70, 80, 90, 100, 110, 120 } };
    uint8_t data[24];
    int dims[3] = { 2, 3, 4 }, huge[4] = { INT_MAX, INT_MAX, INT_MAX, INT_MAX }, i, ok;
    membuf m = mem_make((size_t)-1), f;
    const char *path;

    ok = gan_pnm_write(mem_write, &m, gray[0], 3, 2, 1, 4);
    test_report("images.pgm: header P5 3 2 255 and the rows without the stride's padding",
                ok && m.n == 11 + 6 && memcmp(m.p, "P5\n3 2\n255\n\1\2\3\4\5\6", 17) == 0, "%lu bytes", (unsigned long)m.n);
    free(m.p);
    m = mem_make((size_t)-1);
    ok = gan_pnm_write(mem_write, &m, rgb[0], 2, 2, 3, 6);
    test_report("images.ppm: header P6 2 2 255 and the pixels",
                ok && m.n == 11 + 12 && memcmp(m.p, "P6\n2 2\n255\n", 11) == 0 && memcmp(m.p + 11, rgb[0], 6) == 0 &&
                    memcmp(m.p + 17, rgb[1], 6) == 0, "%lu bytes", (unsigned long)m.n);
    free(m.p);
    m = mem_make((size_t)-1);
    {
        static uint8_t wide[12345 * 3];
        char head[32];
        ok = gan_pnm_write(mem_write, &m, wide, 12345, 1, 1, 12345);
        sprintf(head, "P5\n12345 1\n255\n");
        test_report("images.pgm: multi-digit sizes", ok && m.n == strlen(head) + 12345 && memcmp(m.p, head, strlen(head)) == 0,
                    "%lu bytes", (unsigned long)m.n);
        free(m.p);
    }

    for (i = 0; i < 24; i++) data[i] = (uint8_t)(i * 10);
    m = mem_make((size_t)-1);
    ok = gan_idx_write(mem_write, &m, data, 3, dims);
    test_report("images.idx: magic 00 00 08 03, big-endian dims 2 3 4, then the 24 bytes",
                ok && m.n == 4 + 12 + 24 && memcmp(m.p, "\0\0\x08\x03\0\0\0\2\0\0\0\3\0\0\0\4", 16) == 0 &&
                    memcmp(m.p + 16, data, 24) == 0, "%lu bytes", (unsigned long)m.n);
    path = tmp_path("data.idx");
    ok = gan_idx_save(path, data, 3, dims);
    test_report("images.idx: gan_idx_save writes the same bytes to a file",
                ok && read_file(path, &f) && f.n == m.n && memcmp(f.p, m.p, m.n) == 0, "%s", gan_last_error());
    free(f.p);
    free(m.p);
    {
        int big[1] = { 70000 };
        static uint8_t lots[70000];
        m = mem_make((size_t)-1);
        ok = gan_idx_write(mem_write, &m, lots, 1, big);
        test_report("images.idx: a dim above 65535 in four bytes", ok && m.n == 8 + 70000 && be32(m.p + 4) == 70000,
                    "%lu bytes", (unsigned long)m.n);
        free(m.p);
    }
    m = mem_make((size_t)-1);
    ok = gan_idx_write(mem_write, &m, data, 4, huge);
    test_report("images.idx: dims whose product overflows size_t are refused before writing",
                !ok && m.n == 0 && strstr(gan_last_error(), "gan_idx_write") != NULL, "ok %d, %lu bytes, \"%s\"", ok,
                (unsigned long)m.n, gan_last_error());
    free(m.p);
}

/* ---- gan_to_bytes, grids, plots ---- */

static void test_to_bytes(void)
{
    gan_float x[12];
    uint8_t b[12];
    static const uint8_t want[12] = { 0, 255, 128, 0, 255, 0, 64, 191, 255, 0, 1, 254 };
    char got[128];
    int i, ok = 1;
    x[0] = -1;
    x[1] = 1;
    x[2] = 0;
    x[3] = -2;
    x[4] = 7;
    x[5] = (gan_float)NAN;
    x[6] = -0.5f;                  /* 63.75 */
    x[7] = 0.5f;                   /* 191.25 */
    x[8] = (gan_float)HUGE_VAL;
    x[9] = -(gan_float)HUGE_VAL;
    x[10] = (gan_float)(-1 + 1.0 / 127.5 * 0.51); /* 0.51 */
    x[11] = (gan_float)(1 - 1.0 / 127.5 * 0.51);  /* 254.49 */
    gan_to_bytes(b, x, 12);
    for (i = 0; i < 12; i++) ok &= b[i] == want[i];
    for (i = 0; i < 12; i++) sprintf(got + 4 * i, "%3d ", b[i]);
    test_report("images.to_bytes: -1 0, 1 255, 0 128, clamped outside, NaN 0, +-inf, rounding", ok, "got %s", got);
}

static void test_grid(void)
{
    enum { N = 3, C = 3, Hh = 2, Ww = 3 };
    gan_float x[N * C * Hh * Ww];
    uint8_t *out, bytes[N * C * Hh * Ww];
    int W = 0, H = 0, ok, i, X, Y, c, bad = 0, border_bad = 0;
    for (i = 0; i < N * C * Hh * Ww; i++) x[i] = (gan_float)(i - 27) / 27;
    gan_to_bytes(bytes, x, N * C * Hh * Ww);

    ok = gan_grid_size(&W, &H, N, Hh, Ww, 2, 1, 2);
    test_report("images.grid: 3 tiles of 2 x 3, 2 a row, pad 1, scale 2: 15 x 11", ok && W == 15 && H == 11, "%d x %d", W, H);
    ok = gan_grid_size(&W, &H, 3, 2, 3, 8, 1, 2);
    test_report("images.grid: cols above n: the row holds n tiles", ok && W == 3 * 7 + 1 && H == 6, "%d x %d", W, H);

    /* RGB: each output pixel is either border (80) or the tile's byte at its (c, yy / scale, xx / scale) */
    gan_grid_size(&W, &H, N, Hh, Ww, 2, 1, 2);
    out = (uint8_t *)malloc((size_t)W * H * C);
    gan_grid(out, x, N, C, Hh, Ww, 2, 1, 2);
    for (Y = 0; Y < H; Y++)
        for (X = 0; X < W; X++) {
            int q = (X - 1) / 7, qx = (X - 1) % 7, r = (Y - 1) / 5, ry = (Y - 1) % 5, tile = r * 2 + q;
            int inside = X >= 1 && Y >= 1 && qx < 6 && ry < 4 && tile < N;
            for (c = 0; c < C; c++) {
                int v = out[((size_t)Y * W + X) * C + c];
                if (!inside) border_bad += v != 80;
                else bad += v != bytes[((tile * C + c) * Hh + ry / 2) * Ww + qx / 2];
            }
        }
    test_report("images.grid: RGB tiles interleaved at their offsets, scaled", bad == 0, "%d bytes differ", bad);
    test_report("images.grid: border and the empty fourth cell are gray 80", border_bad == 0, "%d bytes differ", border_bad);
    /* one pixel by hand: tile 2 (second row, first column), channel 1, row 1, column 2 lands at
       X = pad + 2 scale = 5..6, Y = pad + (2 scale + pad) + 1 scale = 8..9; row 5 is border */
    test_report("images.grid: tile 2, channel 1, pixel (1, 2) at x 5-6, y 8-9",
                out[(8 * 15 + 5) * 3 + 1] == bytes[((2 * 3 + 1) * 2 + 1) * 3 + 2] &&
                    out[(9 * 15 + 6) * 3 + 1] == bytes[((2 * 3 + 1) * 2 + 1) * 3 + 2] && out[(5 * 15 + 5) * 3 + 1] == 80,
                "pixel value %d", out[(8 * 15 + 5) * 3 + 1]);
    free(out);

    /* gray: the first image's first pixel sits at (pad, pad) */
    gan_grid_size(&W, &H, 2, 2, 3, 2, 2, 1);
    out = (uint8_t *)malloc((size_t)W * H);
    gan_grid(out, x, 2, 1, 2, 3, 2, 2, 1);
    test_report("images.grid: gray, pad 2, scale 1", W == 12 && H == 6 && out[2 * W + 2] == bytes[0] &&
                out[3 * W + 4] == bytes[5] && out[2 * W + 7] == bytes[6] && out[2 * W + 6] == 80 && out[1 * W + 2] == 80,
                "%d x %d", W, H);
    free(out);

    ok = gan_grid_size(&W, &H, 1, INT_MAX, 1, 1, 1, 1);
    test_report("images.grid: a height past INT_MAX is refused", !ok && strstr(gan_last_error(), "too large") != NULL,
                "ok %d \"%s\"", ok, gan_last_error());
    ok = gan_grid_size(&W, &H, INT_MAX, 1, 1, 1, 1, 1);
    test_report("images.grid: INT_MAX rows of tiles are refused", !ok, "ok %d", ok);
    ok = gan_grid_size(&W, &H, 4, 10, 100000, 4, 0, 100000);
    test_report("images.grid: a scale whose product overflows is refused", !ok, "ok %d", ok);
}

static void test_grid_save_digits(void)
{
    gan_float *x = (gan_float *)malloc(sizeof(gan_float) * 64 * 28 * 28);
    uint8_t *pixels;
    int W, H, i, ok;
    size_t size, stored;
    membuf m = mem_make((size_t)-1);
    const char *path = tmp_path("grid_64_digits.png");
    membuf f;
    clock_t t0;
    double ms;
    for (i = 0; i < 64; i++) make_digit(x + i * 28 * 28);
    ok = gan_grid_save(path, x, 64, 1, 28, 28, 8, 1);
    test_report("images.grid_save: 64 digits, 8 a row", ok, "%s", gan_last_error());
    gan_grid_size(&W, &H, 64, 28, 28, 8, 2, 1);
    pixels = (uint8_t *)malloc((size_t)W * H);
    gan_grid(pixels, x, 64, 1, 28, 28, 8, 2, 1);
    test_report("images.grid_save: the file is the grid with pad 2",
                read_file(path, &f) && gan_png_write(mem_write, &m, pixels, W, H, 1, W) && f.n == m.n && memcmp(f.p, m.p, m.n) == 0,
                "%lu vs %lu bytes", (unsigned long)f.n, (unsigned long)m.n);
    free(f.p);
    size = png_case("digits_grid", pixels, W, H, 1, W, "");
    stored = (size_t)H * (W + 1) + 5 + 6 + 57;
    t0 = clock();
    for (i = 0; i < 10; i++) {
        m.n = 0;
        gan_png_write(mem_write, &m, pixels, W, H, 1, W);
    }
    ms = (double)(clock() - t0) * 1000.0 / CLOCKS_PER_SEC / 10;
    printf("# note: the %d x %d grid of 64 digits: %lu bytes as PNG, %lu stored (ratio %.3f), %.2f ms to encode\n", W, H,
           (unsigned long)size, (unsigned long)stored, (double)size / (double)stored, ms);
    test_report("images.png: 64 digit-like tiles compress below half their stored size", size > 0 && size * 2 < stored,
                "%lu of %lu bytes", (unsigned long)size, (unsigned long)stored);
    free(m.p);
    free(pixels);
    free(x);
}

static void test_plot(void)
{
    enum { W = 21, H = 11, GUARD = 16 };
    uint8_t *mem = (uint8_t *)malloc(W * H * 3 + 2 * GUARD), *rgb = mem + GUARD;
    static const uint8_t bg[3] = { 255, 255, 255 }, ink[3] = { 200, 0, 10 }, axis[3] = { 0, 0, 0 };
    gan_float pts[2 * 6];
    int i, count = 0, guard_ok = 1;
    memset(mem, 0xA5, W * H * 3 + 2 * GUARD);
    gan_plot_fill(rgb, W, H, bg);
    for (i = 0; i < W * H; i++) count += memcmp(rgb + 3 * i, bg, 3) == 0;
    test_report("images.plot: fill", count == W * H, "%d pixels", count);

    pts[0] = 0, pts[1] = 0;     /* the centre: pixel (10, 5) */
    gan_plot_points(rgb, W, H, pts, 1, -1, 1, -1, 1, 2, ink);
    for (i = count = 0; i < W * H; i++) count += memcmp(rgb + 3 * i, ink, 3) == 0;
    test_report("images.plot: a disc of radius 2 at the centre is 13 pixels around (10, 5)",
                count == 13 && memcmp(rgb + 3 * (5 * W + 10), ink, 3) == 0 && memcmp(rgb + 3 * (3 * W + 10), ink, 3) == 0 &&
                    memcmp(rgb + 3 * (4 * W + 12), bg, 3) == 0, "%d pixels", count);

    gan_plot_fill(rgb, W, H, bg);
    pts[0] = 1, pts[1] = 1;     /* the top right corner: a quarter disc, 6 pixels */
    pts[2] = (gan_float)NAN, pts[3] = 0;
    pts[4] = (gan_float)1e30, pts[5] = 0;
    pts[6] = -1, pts[7] = (gan_float)-1e30;
    pts[8] = -1, pts[9] = -1;   /* bottom left, radius 2: also 6 */
    pts[10] = (gan_float)1.1, pts[11] = 0; /* one pixel right of the picture: the disc's left part shows */
    gan_plot_points(rgb, W, H, pts, 6, -1, 1, -1, 1, 2, ink);
    for (i = count = 0; i < W * H; i++) count += memcmp(rgb + 3 * i, ink, 3) == 0;
    for (i = 0; i < GUARD; i++) guard_ok &= mem[i] == 0xA5 && rgb[W * H * 3 + i] == 0xA5;
    test_report("images.plot: discs clipped at the edges, NaN and far points left out, y up",
                count == 6 + 6 + 4 && memcmp(rgb + 3 * (0 * W + 20), ink, 3) == 0 && memcmp(rgb + 3 * (10 * W + 0), ink, 3) == 0,
                "%d pixels", count);
    test_report("images.plot: nothing written outside the picture", guard_ok, "guard bytes changed");

    gan_plot_fill(rgb, W, H, bg);
    pts[0] = (gan_float)0.1, pts[1] = (gan_float)-0.2; /* x 0.1 -> pixel 11, y -0.2 -> row 6 */
    gan_plot_points(rgb, W, H, pts, 1, -1, 1, -1, 1, 0, ink);
    gan_plot_axes(rgb, W, H, -1, 1, -1, 1, axis);
    for (i = count = 0; i < W * H; i++) count += memcmp(rgb + 3 * i, axis, 3) == 0;
    test_report("images.plot: r 0 is one pixel; the axes are column 10 and row 5",
                memcmp(rgb + 3 * (6 * W + 11), ink, 3) == 0 && count == W + H - 1 && memcmp(rgb + 3 * (0 * W + 10), axis, 3) == 0 &&
                    memcmp(rgb + 3 * (5 * W + 0), axis, 3) == 0, "%d axis pixels", count);
    gan_plot_fill(rgb, W, H, bg);
    gan_plot_axes(rgb, W, H, 1, 2, 1, 2, axis);
    for (i = count = 0; i < W * H; i++) count += memcmp(rgb + 3 * i, axis, 3) == 0;
    test_report("images.plot: no axes when 0 is outside the window", count == 0, "%d axis pixels", count);
    free(mem);
}

/* ---- failures ---- */

static void test_failures(void)
{
    uint8_t small[17 * 13], *big;
    membuf m = mem_make((size_t)-1);
    size_t total, k, cuts[16];
    int i, ok, wrong = 0, n_cuts = 0, leaks = 0;
    char why[256] = "";
    const char *path;
    struct stat st;
    for (i = 0; i < 17 * 13; i++) small[i] = (uint8_t)(i * 7 ^ (i >> 3));

    /* a callback that refuses after k bytes, for every k below the file's size */
    gan_png_write(mem_write, &m, small, 13, 17, 1, 13);
    total = m.n;
    for (k = 0; k < total; k++) {
        membuf cut = mem_make(k);
        int before = live;
        ok = gan_png_write(mem_write, &cut, small, 13, 17, 1, 13);
        if (ok || strstr(gan_last_error(), "gan_png_write: the write callback failed") == NULL) {
            if (!wrong) sprintf(why, "k %lu: ok %d \"%s\"", (unsigned long)k, ok, gan_last_error());
            wrong++;
        }
        leaks += live != before;
        free(cut.p);
    }
    test_report("images.png: a callback refusing after k bytes, every k, fails with a message", wrong == 0, "%s", why);
    test_report("images.png: ... and frees its working memory", leaks == 0 && live == 0, "%d leaks", leaks);
    free(m.p);

    /* a picture of several IDAT chunks, cut around each chunk boundary */
    big = (uint8_t *)malloc(256 * 512);
    for (i = 0; i < 256 * 512; i++) big[i] = (uint8_t)(rnd() % 5 + i / 997);
    m = mem_make((size_t)-1);
    gan_png_write(mem_write, &m, big, 256, 512, 1, 256);
    for (k = 8; k + 8 <= m.n && n_cuts < 14; k += 12 + be32(m.p + k)) {
        cuts[n_cuts++] = k;
        cuts[n_cuts++] = k + 9;
    }
    cuts[n_cuts++] = m.n - 1;
    for (i = wrong = 0; i < n_cuts; i++) {
        membuf cut = mem_make(cuts[i]);
        wrong += gan_png_write(mem_write, &cut, big, 256, 512, 1, 256) != 0 || cut.n > cuts[i];
        free(cut.p);
    }
    test_report("images.png: cuts at chunk boundaries of a multi-IDAT file fail", wrong == 0 && n_cuts > 6 && live == 0,
                "%d of %d cuts succeeded, %ld blocks held", wrong, n_cuts, live);
    free(m.p);
    free(big);

    for (k = wrong = 0; k < 11 + 17 * 13; k++) {
        membuf cut = mem_make(k);
        wrong += gan_pnm_write(mem_write, &cut, small, 13, 17, 1, 13) != 0 || strstr(gan_last_error(), "callback") == NULL;
        free(cut.p);
    }
    test_report("images.pgm: a refusing callback, every k, fails with a message", wrong == 0, "%d wrong", wrong);
    {
        int dims[2] = { 17, 13 };
        for (k = wrong = 0; k < 12 + 17 * 13; k++) {
            membuf cut = mem_make(k);
            wrong += gan_idx_write(mem_write, &cut, small, 2, dims) != 0 || strstr(gan_last_error(), "callback") == NULL;
            free(cut.p);
        }
        test_report("images.idx: a refusing callback, every k, fails with a message", wrong == 0, "%d wrong", wrong);
    }

    /* out of memory: the encoder's one allocation, and gan_grid_save's two */
    m = mem_make((size_t)-1);
    calls = 0;
    fail_at = 1;
    ok = gan_png_write(mem_write, &m, small, 13, 17, 1, 13);
    test_report("images.png: out of memory fails with a message, writes nothing",
                !ok && m.n == 0 && strstr(gan_last_error(), "out of memory") != NULL && live == 0, "ok %d \"%s\"", ok, gan_last_error());
    free(m.p);
    {
        gan_float x[2 * 4 * 4] = { 0 };
        FILE *f;
        path = tmp_path("oom_grid.png");
        for (i = 1, wrong = 0; i <= 2; i++) {
            calls = 0;
            fail_at = i;
            ok = gan_grid_save(path, x, 2, 1, 4, 4, 2, 1);
            f = fopen(path, "rb");
            wrong += ok || strstr(gan_last_error(), "out of memory") == NULL || strstr(gan_last_error(), path) == NULL || f != NULL;
            if (wrong && !why[0]) sprintf(why, "allocation %d: ok %d \"%s\"", i, ok, gan_last_error());
            if (f) fclose(f);
        }
        fail_at = 0;
        test_report("images.grid_save: out of memory fails naming the file, leaves no file, frees all",
                    wrong == 0 && live == 0, "%s; %ld held", why, live);
    }

    ok = gan_png_save("/nonexistent-gan-dir/x.png", small, 13, 17, 1, 13);
    test_report("images.png_save: an unwritable path fails naming it", !ok && strstr(gan_last_error(), "/nonexistent-gan-dir/x.png") != NULL,
                "ok %d \"%s\"", ok, gan_last_error());
    if (stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode)) {
        ok = gan_png_save("/dev/full", small, 13, 17, 1, 13);
        test_report("images.png_save: a full disk (/dev/full) fails naming the file",
                    !ok && strstr(gan_last_error(), "cannot write /dev/full") != NULL, "ok %d \"%s\"", ok, gan_last_error());
        test_report("images.png_save: ... and /dev/full is still the device (written in place, not renamed over)",
                    stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode), "it was replaced by a regular file");
    } else {
        test_skip("images.png_save: a full disk", "/dev/full is not a device here");
    }
    if (stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode)) {
        ok = gan_png_save("/dev/null", small, 13, 17, 1, 13);
        test_report("images.png_save: /dev/null takes the picture and stays the device",
                    ok && stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode), "ok %d \"%s\"", ok, gan_last_error());
    } else {
        test_skip("images.png_save: /dev/null", "/dev/null is not a device here");
    }

    /* rows of more than INT_MAX bytes are refused before anything is read or written */
    m = mem_make((size_t)-1);
    ok = gan_png_write(mem_write, &m, small, INT_MAX, 1, 4, INT_MAX);
    test_report("images.png: a row of INT_MAX x 4 bytes is refused", !ok && m.n == 0 && strstr(gan_last_error(), "INT_MAX") != NULL,
                "ok %d \"%s\"", ok, gan_last_error());
    ok = gan_pnm_write(mem_write, &m, small, INT_MAX / 2, 1, 3, INT_MAX);
    test_report("images.ppm: a row past INT_MAX bytes is refused", !ok && m.n == 0 && strstr(gan_last_error(), "gan_pnm_write") != NULL,
                "ok %d \"%s\"", ok, gan_last_error());
    free(m.p);
}

/* ---- speed, and ImageMagick when it is there ---- */

static void test_speed(void)
{
    int w = 1000, h = 1000, x, y, c, rep;
    uint8_t *p = (uint8_t *)malloc((size_t)w * h * 3);
    membuf m = mem_make((size_t)-1);
    double best = 1e9;
    for (y = 0; y < h; y++)
        for (x = 0; x < w; x++)
            for (c = 0; c < 3; c++)
                p[((size_t)y * w + x) * 3 + c] = (uint8_t)((x * (c + 1) + y * (3 - c)) / 4 + ((x / 50 + y / 50) & 1) * 60 + (rnd() & 3));
    for (rep = 0; rep < 3; rep++) {
        clock_t t0 = clock();
        m.n = 0;
        gan_png_write(mem_write, &m, p, w, h, 3, w * 3);
        if ((double)(clock() - t0) * 1000.0 / CLOCKS_PER_SEC < best) best = (double)(clock() - t0) * 1000.0 / CLOCKS_PER_SEC;
    }
    printf("# note: a 1000 x 1000 RGB picture: %.1f ms to encode, %lu bytes (%.3f of 3 MB)\n", best, (unsigned long)m.n,
           (double)m.n / 3e6);
    test_report("images.png: 1000 x 1000 RGB encodes in under 2 s (well under 100 ms optimized)", best < 2000, "%.0f ms", best);
    free(m.p);
    free(p);
}

static void test_imagemagick(void)
{
    const char *tool = NULL, *name = "images.imagemagick: decode rgb_5x3.png";
    char png[96], raw[96], out[96], cmd[400];
    membuf got, want;
    int ok;
    if (system("convert -version 2>/dev/null | grep -q '^Version: ImageMagick'") == 0) tool = "convert";
    else if (system("magick -version 2>/dev/null | grep -q '^Version: ImageMagick'") == 0) tool = "magick";
    if (!tool) {
        test_skip(name, "ImageMagick's convert (or magick) is not installed");
        return;
    }
    got = want = mem_make((size_t)-1);
    sprintf(png, "%s/rgb_5x3.png", tmpdir);
    sprintf(raw, "%s/rgb_5x3.raw", tmpdir);
    strcpy(out, tmp_path("rgb_5x3.magick"));
    sprintf(cmd, "%s %s -depth 8 rgb:%s 2>/dev/null", tool, png, out);
    ok = system(cmd) == 0 && read_file(out, &got) && read_file(raw, &want) && got.n == want.n && memcmp(got.p, want.p, got.n) == 0;
    test_report(name, ok, "%s gave other bytes than %s", tool, raw);
    free(got.p);
    free(want.p);
}

int main(void)
{
    FILE *f;
    int i;
    {
        const char *t = getenv("TMPDIR");
        sprintf(tmpdir, "%s/gan_images.XXXXXX", t && *t && strlen(t) < 40 ? t : "/tmp");
    }
    if (!mkdtemp(tmpdir)) {
        test_report("images: a temporary directory", 0, "mkdtemp(%s) failed", tmpdir);
        return test_finish();
    }
    f = fopen("/usr/bin/python3", "rb");
    have_python = f != NULL;
    if (f) fclose(f);
    f = fopen("tests/png_check.py", "rb");
    have_checker = f != NULL;
    if (f) fclose(f);

    test_to_bytes();
    test_png_header();
    test_png_files();
    test_pnm_idx();
    test_grid();
    test_grid_save_digits();
    test_plot();
    test_failures();
    test_speed();
    test_imagemagick();
    test_report("images: every block allocated is freed", live == 0, "%ld blocks held", live);

    if (gan_test_failed) {
        printf("# the files are kept in %s\n", tmpdir);
    } else {
        for (i = 0; i < n_written; i++) remove(written[i]);
        remove(tmpdir);
    }
    return test_finish();
}
