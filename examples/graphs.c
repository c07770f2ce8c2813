/*
graphs.c - networks that are not one chain, written with gan.h's graph calls: a ResNet generator
(SNGAN's upsampling residual blocks) and a two-level U-Net with skip connections (pix2pix's shape),
which is then trained to take the noise out of pictures.

    cc -O2 examples/graphs.c -lm -o graphs && ./graphs

Runtime: 7.6-8.2 s (three runs) on a 2-core AMD EPYC (Zen 5) VM under Debian 12 with gcc 12 -O2; one core
does the work.

It prints both networks (each node with its inputs, output shape and parameters, and the arena's
regions), draws 16 samples from the untrained ResNet generator with gan_net_infer to show its output
shape, then trains the U-Net for 400 steps of Adam on batches of 32 procedural 16 x 16 pictures (one
anti-aliased disc or ring each, pixels in [-1, 1]) with Gaussian noise of standard deviation 0.5 added,
to give back the clean picture (mean squared error). The noisy input is 0.25 away from the clean one
(the noise's variance); the printed loss, a mean over each 100 steps, falls from 0.10 to 0.022 for
the default seed, and the last line gives the U-Net's error on a fresh batch beside the noise's
(0.020 against 0.244).

Picture (binary PGM, in out/ unless --out says otherwise): graphs_denoise.pgm, three rows of eight:
noisy inputs, the U-Net's outputs, the clean pictures. The middle row should show the discs and rings
of the bottom row with the grain of the top row gone and their edges slightly soft.

Flags: --steps N (default 400), --seed N (default 1), --out DIR (default out), --help.
*/
#define _POSIX_C_SOURCE 200809L /* mkdir under -std=c99 */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(_WIN32)
#include <direct.h>
#define make_dir(d) _mkdir(d)
#else
#include <sys/stat.h>
#define make_dir(d) mkdir(d, 0755)
#endif

#define GAN_IMPLEMENTATION
#include "../gan.h"

#define IMG 16
#define PIX (IMG * IMG)
#define BATCH 32
#define ZDIM 32
#define NOISE 0.5f

/* SNGAN's upsampling residual block: BN, ReLU, 2x up, 3x3 conv, BN, ReLU, 3x3 conv, plus a shortcut
   that is upsampled and, as the channels change, a 1x1 conv. (C, H, W) -> (out_ch, 2H, 2W). */
static gan_node resblock_up(gan_graph *g, gan_node x, int in_ch, int out_ch)
{
    gan_node h = gan_apply(g, gan_batchnorm(in_ch), x);
    h = gan_apply(g, gan_relu(), h);
    h = gan_apply(g, gan_upsample2x(), h);
    h = gan_apply(g, gan_conv2d(in_ch, out_ch, 3, 1, 1), h);
    h = gan_apply(g, gan_batchnorm(out_ch), h);
    h = gan_apply(g, gan_relu(), h);
    h = gan_apply(g, gan_conv2d(out_ch, out_ch, 3, 1, 1), h);
    x = gan_apply(g, gan_upsample2x(), x);
    x = gan_apply(g, gan_conv2d(in_ch, out_ch, 1, 1, 0), x);
    return gan_add(g, h, x);
}

/* z (32) -> (64, 4, 4) -> two residual blocks -> (16, 16, 16) -> BN, ReLU, 3x3 conv, Tanh -> (1, 16, 16) */
static gan_graph *resnet_generator(void)
{
    gan_graph *g = gan_graph_new();
    gan_node h = gan_input(g, gan_chw(ZDIM, 1, 1));
    h = gan_apply(g, gan_linear(ZDIM, 64 * 4 * 4), h);
    h = gan_apply(g, gan_reshape(64, 4, 4), h);
    h = resblock_up(g, h, 64, 32);
    h = resblock_up(g, h, 32, 16);
    h = gan_apply(g, gan_batchnorm(16), h);
    h = gan_apply(g, gan_relu(), h);
    h = gan_apply(g, gan_conv2d(16, 1, 3, 1, 1), h);
    gan_apply(g, gan_tanh(), h);
    return g;
}

/* A two-level U-Net on (1, 16, 16): two strided convs down, two transposed convs up, each level's
   features concatenated to the way up, and the input itself to the last conv. */
static gan_graph *unet(void)
{
    gan_graph *g = gan_graph_new();
    gan_node x = gan_input(g, gan_chw(1, IMG, IMG)), d1, d2, u, skip[2];
    d1 = gan_apply(g, gan_conv2d(1, 16, 4, 2, 1), x);          /* (16, 8, 8) */
    d1 = gan_apply(g, gan_leaky_relu(0.2f), d1);
    d2 = gan_apply(g, gan_conv2d(16, 32, 4, 2, 1), d1);        /* (32, 4, 4) */
    d2 = gan_apply(g, gan_batchnorm(32), d2);
    d2 = gan_apply(g, gan_leaky_relu(0.2f), d2);
    u = gan_apply(g, gan_conv_transpose2d(32, 16, 4, 2, 1, 0), d2); /* (16, 8, 8) */
    u = gan_apply(g, gan_batchnorm(16), u);
    u = gan_apply(g, gan_relu(), u);
    skip[0] = u;
    skip[1] = d1;
    u = gan_concat(g, skip, 2);                                 /* (32, 8, 8) */
    u = gan_apply(g, gan_conv_transpose2d(32, 16, 4, 2, 1, 0), u); /* (16, 16, 16) */
    u = gan_apply(g, gan_relu(), u);
    skip[0] = u;
    skip[1] = x;
    u = gan_concat(g, skip, 2);                                 /* (17, 16, 16) */
    u = gan_apply(g, gan_conv2d(17, 1, 3, 1, 1), u);
    gan_apply(g, gan_tanh(), u);
    return g;
}

/* One clean picture: a disc or a ring of random centre, radius and brightness on -1, anti-aliased
   by the distance to the edge. */
static void draw(gan_float *img, gan_rng *rng)
{
    float cx = 4 + 8 * gan_rng_uniform(rng), cy = 4 + 8 * gan_rng_uniform(rng);
    float r = 2.5f + 3.5f * gan_rng_uniform(rng), ink = 0.5f + 0.5f * gan_rng_uniform(rng);
    int ring = gan_rng_u32(rng) & 1, x, y;
    for (y = 0; y < IMG; y++)
        for (x = 0; x < IMG; x++) {
            float d = sqrtf((x + 0.5f - cx) * (x + 0.5f - cx) + (y + 0.5f - cy) * (y + 0.5f - cy)) - r;
            float cover = ring ? 1.25f - fabsf(d) : 0.5f - d;
            cover = cover < 0 ? 0 : cover > 1 ? 1 : cover;
            img[y * IMG + x] = 2 * ink * cover - 1;
        }
}

/* A batch of clean pictures and their noisy copies. */
static void batch(gan_float *clean, gan_float *noisy, int n, gan_rng *rng)
{
    int i;
    for (i = 0; i < n; i++) draw(clean + (size_t)i * PIX, rng);
    for (i = 0; i < n * PIX; i++) noisy[i] = clean[i] + NOISE * gan_rng_normal(rng);
}

static double mse(const gan_float *a, const gan_float *b, size_t n)
{
    double s = 0;
    size_t i;
    for (i = 0; i < n; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
    return s / (double)n;
}

/* rows of 8 pictures, scaled 3x with a 2-pixel gap, [-1, 1] -> 0..255, as a binary PGM */
static int write_rows(const char *path, const gan_float *const *rows, int n_rows)
{
    enum { S = 3, GAP = 2, PER_ROW = 8 };
    int w = PER_ROW * (IMG * S + GAP) + GAP, h = n_rows * (IMG * S + GAP) + GAP, x, y;
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fprintf(f, "P5\n%d %d\n255\n", w, h);
    for (y = 0; y < h; y++)
        for (x = 0; x < w; x++) {
            int r = y / (IMG * S + GAP), c = x / (IMG * S + GAP), py = y % (IMG * S + GAP) - GAP, px = x % (IMG * S + GAP) - GAP;
            int v = 40;
            if (r < n_rows && c < PER_ROW && py >= 0 && px >= 0) {
                gan_float p = rows[r][(size_t)c * PIX + (size_t)(py / S) * IMG + (size_t)(px / S)];
                v = (int)floor((p + 1) * 127.5 + 0.5);
                v = v < 0 ? 0 : v > 255 ? 255 : v;
            }
            fputc(v, f);
        }
    return fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    int steps = 400, i, step;
    unsigned long seed = 1;
    const char *out_dir = "out";
    char path[1024];
    gan_rng rng;
    gan_graph *g;
    gan_net *G, *U;
    static gan_float clean[BATCH * PIX], noisy[BATCH * PIX], dy[BATCH * PIX], z[16 * ZDIM], samples[16 * PIX];
    gan_tensor in = gan_tensor_make(noisy, BATCH, 1, IMG, IMG), dout = gan_tensor_make(dy, BATCH, 1, IMG, IMG);
    gan_tensor zt = gan_tensor_make(z, 16, ZDIM, 1, 1), st = gan_tensor_make(samples, 16, 1, IMG, IMG);
    const gan_float *rows[3];
    double loss = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc) steps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) seed = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) out_dir = argv[++i];
        else {
            printf("usage: %s [--steps N] [--seed N] [--out DIR]\n", argv[0]);
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (steps < 1) {
        fprintf(stderr, "--steps must be at least 1\n");
        return 2;
    }
    gan_rng_seed(&rng, seed);

    g = resnet_generator();
    G = gan_net_build(g, 16, 0, &rng);
    gan_graph_free(g);
    g = unet();
    U = gan_net_build(g, BATCH, 0, &rng);
    gan_graph_free(g);
    if (!G || !U) {
        fprintf(stderr, "gan_net_build: %s\n", gan_last_error());
        return 1;
    }
    printf("ResNet generator:\n");
    gan_net_print(G, stdout);
    gan_fill_normal(z, 16 * ZDIM, 0, 1, &rng);
    if (!gan_net_infer(G, &st, &zt, GAN_STATS_RUNNING)) {
        fprintf(stderr, "gan_net_infer: %s\n", gan_last_error());
        return 1;
    }
    {
        gan_float lo = samples[0], hi = samples[0];
        for (i = 1; i < 16 * PIX; i++) {
            lo = samples[i] < lo ? samples[i] : lo;
            hi = samples[i] > hi ? samples[i] : hi;
        }
        printf("16 samples of the untrained generator: (%d, %d, %d) each, values in [%.3f, %.3f]\n\n", st.c, st.h,
               st.w, (double)lo, (double)hi);
    }
    printf("U-Net:\n");
    gan_net_print(U, stdout);

    gan_net_set_optim(U, gan_adam(2e-3f, 0.9f, 0.999f));
    for (step = 1; step <= steps; step++) {
        const gan_tensor *y;
        batch(clean, noisy, BATCH, &rng);
        y = gan_net_forward(U, &in);
        loss += gan_mse(dy, y->data, clean, BATCH * PIX);
        gan_net_zero_grad(U);
        gan_net_backward(U, &dout);
        gan_net_step(U);
        if (step % 100 == 0 || step == steps) {
            printf("step %4d  loss %.4f\n", step, loss / (step % 100 ? step % 100 : 100));
            loss = 0;
        }
    }

    /* a fresh batch, with BatchNorm's running estimates */
    batch(clean, noisy, BATCH, &rng);
    {
        gan_tensor y = gan_tensor_make(dy, BATCH, 1, IMG, IMG);
        gan_net_infer(U, &y, &in, GAN_STATS_RUNNING);
    }
    printf("fresh batch: noisy input %.4f from the clean pictures, the U-Net's output %.4f\n",
           mse(noisy, clean, BATCH * PIX), mse(dy, clean, BATCH * PIX));
    rows[0] = noisy;
    rows[1] = dy;
    rows[2] = clean;
    make_dir(out_dir); /* it may exist already; fopen below says if it cannot be written */
    snprintf(path, sizeof path, "%s/graphs_denoise.pgm", out_dir);
    if (write_rows(path, rows, 3) != 0) fprintf(stderr, "could not write %s: %s\n", path, strerror(errno));
    else printf("picture: %s (noisy, denoised, clean)\n", path);
    gan_net_free(G);
    gan_net_free(U);
    return 0;
}
