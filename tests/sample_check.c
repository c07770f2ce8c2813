/*
sample_check.c - tells a trained generator's samples from noise, from an untrained generator and from
a collapsed one, by statistics of an IDX file of unsigned bytes (the --dump of the training examples).

    cc -O2 tests/sample_check.c -lm -o sample_check
    ./sample_check [--loose] FILE.idx        one line of figures, then PASS or FAIL; exit 0 or 1
    ./sample_check --uniform N H W           the same on N uniform-noise images (it must FAIL)
    ./sample_check --collapse FILE.idx       the same on FILE's first image repeated (it must FAIL)

The file holds N images of H x W bytes (IDX magic 0 0 8 3, or 0 0 8 4 with a channel count of 1).
Figures, each over all N images:
    extreme   the share of pixels below 32 or above 223. Digits, clothes and the built-in shapes are
              mostly a flat background with saturated strokes (real MNIST 0.92, the built-in shapes
              0.80, Fashion-MNIST 0.63); uniform noise has 0.25, and an untrained DCGAN generator,
              whose tanh outputs sit near 0, nearly none.
    corr      Pearson's correlation of horizontally and vertically adjacent pixels: high for images
              of strokes (real MNIST 0.81, shapes 0.91, Fashion 0.87), 0 for independent noise.
    ink       the share of pixels above 127: 0.03 to 0.50 (--loose 0.01 to 0.70), which an
              all-black or all-white output fails.
    diversity the mean absolute difference (in [0, 1]) between image i and image i + N / 2, and the
              share of those pairs closer than 0.01: a collapsed generator draws the same image for
              every z, so its pairs are near-identical.
The thresholds are below; the first figure that misses is named on the FAIL line. --loose is for
short runs whose samples are still grey blurs (WGAN after 100 G steps: extreme 0.08 to 0.30, corr
0.73): it drops the extreme-pixel test and lowers the rest; noise and an untrained or collapsed G
still fail it on correlation and diversity, which examples_check.sh verifies with --loose.
*/

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct limits {
    double extreme, corr, ink_lo, ink_hi, diversity, dup;
} limits;

static const limits strict = { 0.60, 0.60, 0.03, 0.50, 0.08, 0.10 };
static const limits loose = { 0.00, 0.40, 0.01, 0.70, 0.04, 0.30 };

static unsigned long be32(const unsigned char *p)
{
    return ((unsigned long)p[0] << 24) | ((unsigned long)p[1] << 16) | ((unsigned long)p[2] << 8) | p[3];
}

/* Reads an IDX file of N x H x W (or N x 1 x H x W) bytes. Returns the pixels, or NULL after printing. */
static unsigned char *read_idx(const char *path, long *n, long *h, long *w)
{
    unsigned char head[20], *px;
    FILE *f = fopen(path, "rb");
    size_t count, hn;
    if (!f) {
        fprintf(stderr, "sample_check: cannot open %s\n", path);
        return NULL;
    }
    if (fread(head, 1, 4, f) != 4 || head[0] || head[1] || head[2] != 8 || (head[3] != 3 && head[3] != 4)) {
        fprintf(stderr, "sample_check: %s is not an IDX file of 3 or 4 dimensions of bytes\n", path);
        fclose(f);
        return NULL;
    }
    hn = (size_t)head[3] * 4;
    if (fread(head + 4, 1, hn, f) != hn || (head[3] == 4 && be32(head + 8) != 1)) {
        fprintf(stderr, "sample_check: %s: a short header, or more than one channel\n", path);
        fclose(f);
        return NULL;
    }
    *n = (long)be32(head + 4);
    *h = (long)be32(head + hn - 4);
    *w = (long)be32(head + hn);
    if (*n < 2 || *h < 2 || *w < 2 || *n > 10000000L || *h > 4096 || *w > 4096) {
        fprintf(stderr, "sample_check: %s: %ld images of %ld x %ld is not a size this checks\n", path, *n, *h, *w);
        fclose(f);
        return NULL;
    }
    count = (size_t)*n * (size_t)*h * (size_t)*w;
    px = (unsigned char *)malloc(count);
    if (!px || fread(px, 1, count, f) != count) {
        fprintf(stderr, "sample_check: %s: %s\n", path, px ? "fewer pixels than its header says" : "out of memory");
        free(px);
        fclose(f);
        return NULL;
    }
    fclose(f);
    return px;
}

/* The figures of the file's top comment, printed, checked against lim: 0 pass, 1 fail. */
static int check(const unsigned char *px, long n, long h, long w, const limits *lim, const char *what)
{
    size_t per = (size_t)h * (size_t)w, total = per * (size_t)n, i, extreme = 0, ink = 0;
    double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, m = 0, corr, div = 0, dup = 0, var_a, var_b;
    long k, y, x;
    const char *fail = NULL;
    for (i = 0; i < total; i++) {
        extreme += px[i] < 32 || px[i] > 223;
        ink += px[i] > 127;
    }
    /* adjacent pairs (a, b): each pixel with its right and its lower neighbour */
    for (k = 0; k < n; k++) {
        const unsigned char *p = px + (size_t)k * per;
        for (y = 0; y < h; y++)
            for (x = 0; x < w; x++) {
                double a = p[y * w + x], b;
                if (x + 1 < w) {
                    b = p[y * w + x + 1];
                    sa += a; sb += b; saa += a * a; sbb += b * b; sab += a * b; m++;
                }
                if (y + 1 < h) {
                    b = p[(y + 1) * w + x];
                    sa += a; sb += b; saa += a * a; sbb += b * b; sab += a * b; m++;
                }
            }
    }
    var_a = saa / m - (sa / m) * (sa / m);
    var_b = sbb / m - (sb / m) * (sb / m);
    corr = var_a > 1e-9 && var_b > 1e-9 ? (sab / m - (sa / m) * (sb / m)) / sqrt(var_a * var_b) : 0;
    for (k = 0; k < n / 2; k++) {
        const unsigned char *a = px + (size_t)k * per, *b = px + (size_t)(k + n / 2) * per;
        double d = 0;
        for (i = 0; i < per; i++) d += fabs((double)a[i] - (double)b[i]);
        d /= 255.0 * (double)per;
        div += d;
        dup += d < 0.01;
    }
    div /= (double)(n / 2);
    dup /= (double)(n / 2);
    if ((double)extreme / total < lim->extreme) fail = "too few near-black or near-white pixels (noise or grey)";
    else if (corr < lim->corr) fail = "neighbouring pixels barely correlated (noise)";
    else if ((double)ink / total < lim->ink_lo || (double)ink / total > lim->ink_hi) fail = "ink share out of range";
    else if (div < lim->diversity || dup > lim->dup) fail = "samples too alike (collapse)";
    printf("%s: %ld images %ldx%ld: extreme %.3f (>= %.2f) corr %.3f (>= %.2f) ink %.3f (%.2f..%.2f) "
           "diversity %.3f (>= %.2f) near-duplicates %.3f (<= %.2f)\n",
           what, n, h, w, (double)extreme / total, lim->extreme, corr, lim->corr, (double)ink / total, lim->ink_lo,
           lim->ink_hi, div, lim->diversity, dup, lim->dup);
    if (fail) printf("FAIL %s: %s\n", what, fail);
    else printf("PASS %s\n", what);
    return fail != NULL;
}

static int usage(void)
{
    fprintf(stderr, "usage: sample_check [--loose] FILE.idx | [--loose] --collapse FILE.idx | [--loose] --uniform N H W\n");
    return 2;
}

int main(int argc, char **argv)
{
    const limits *lim = &strict;
    unsigned char *px;
    long n, h, w, i;
    int a = 1, rc;
    if (a < argc && strcmp(argv[a], "--loose") == 0) {
        lim = &loose;
        a++;
    }
    if (a >= argc) return usage();
    if (strcmp(argv[a], "--uniform") == 0) {
        unsigned long s = 12345;
        if (a + 4 != argc) return usage();
        n = atol(argv[a + 1]);
        h = atol(argv[a + 2]);
        w = atol(argv[a + 3]);
        if (n < 2 || h < 2 || w < 2 || n > 100000 || h > 4096 || w > 4096) return usage();
        px = (unsigned char *)malloc((size_t)n * (size_t)h * (size_t)w);
        if (!px) return 2;
        for (i = 0; i < n * h * w; i++) {
            s = s * 1103515245ul + 12345ul; /* a plain LCG: its high bits are uniform enough here */
            px[i] = (unsigned char)((s >> 16) & 255);
        }
        rc = check(px, n, h, w, lim, "uniform noise");
    } else if (strcmp(argv[a], "--collapse") == 0) {
        if (a + 2 != argc || !(px = read_idx(argv[a + 1], &n, &h, &w))) return 2;
        for (i = 1; i < n; i++) memcpy(px + (size_t)i * (size_t)(h * w), px, (size_t)(h * w));
        rc = check(px, n, h, w, lim, "first image repeated");
    } else {
        if (a + 1 != argc || !(px = read_idx(argv[a], &n, &h, &w))) return 2;
        rc = check(px, n, h, w, lim, argv[a]);
    }
    free(px);
    return rc;
}
