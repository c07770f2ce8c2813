/*
tiny_gan.c - a small DCGAN trained on procedural 16x16 shapes, written with gan.h's core calls.

    cc -O2 examples/tiny_gan.c -lm -o tiny_gan && ./tiny_gan        (or: make demo)

Runtime: 12 s, measured on a 2-core AMD EPYC (Zen 5) VM under Debian 12 with gcc 12 -O2 (about 15000
training images a second, on both cores with the AVX-512 kernels); compiling takes another 4-5 s.
tcc's build runs the baseline kernel unoptimized at about 300 images a second, 50 times slower.

The data set is drawn on the fly from a seeded gan_rng: anti-aliased filled discs, rings, squares and
bars, each of a random position, size and brightness on a black background, pixels in [-1, 1]. No file
is read and nothing is downloaded.

The two networks are sequential gan_nets; the adversarial part - which network sees which batch, which
target each loss uses, whose gradient flows where - is written out below in the order it happens, so
that nothing is hidden in a library "GAN step". The loss is the non-saturating one of Goodfellow et al.
(2014) on logits, with the architecture, initialization and Adam betas of DCGAN (Radford et al.,
2015), narrowed to fit the time budget:

    G: z (64) -> Linear -> BatchNorm -> ReLU -> Reshape                 (32, 4, 4)
              -> ConvTranspose2d (k4 s2 p1) -> BatchNorm -> ReLU        (16, 8, 8)
              -> ConvTranspose2d (k4 s2 p1) -> Tanh                     (1, 16, 16)
    D: x (1, 16, 16) -> Conv2d (k4 s2 p1) -> LeakyReLU(0.2)             (16, 8, 8)
              -> Conv2d (k4 s2 p1) -> BatchNorm -> LeakyReLU(0.2)       (32, 4, 4)
              -> Flatten -> Linear -> one logit

Pictures (binary PGM, 8 x 8 grids of 16 x 16 samples scaled up 2x), in out/ unless --out says otherwise:
    tiny_gan_real.pgm          64 training images, for comparison
    tiny_gan_stepNNNN.pgm      G's samples from one fixed noise batch at steps 0, 625, 1250, 1875 and
                               2500 (0 and each quarter of --steps)
What they should show, for the default seed: at step 0 flat mid-grey tiles (G's outputs start near 0,
and tanh(0) is the grey between the data's black and white). By the first quarter bright blobs and
broken arcs on black, roughly where and how large shapes are. At the end most tiles are one of the
four kinds - rings (the most convincing), discs, squares, lying and standing bars - at varied places,
sizes and brightness; edges are ragged, filled shapes have mottled insides, and a few tiles are still
broken arcs or shapeless blobs. The tiles differ from one another: G has not collapsed to one shape.

Flags: --steps N (default 2500), --seed N (default 1), --out DIR (default out), --help.
*/

#define _POSIX_C_SOURCE 200809L /* mkdir and clock_gettime under -std=c99 */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(_WIN32)
#include <direct.h>
#else
#include <sys/stat.h>
#endif

#define GAN_IMPLEMENTATION
#include "../gan.h"

#define IMG 16             /* images are IMG x IMG, one channel */
#define PIX (IMG * IMG)
#define BATCH 64
#define ZDIM 64            /* length of G's noise vector z */
#define GC 32              /* G's channels at 4 x 4 (it halves them at 8 x 8) */
#define DC 16              /* D's channels at 8 x 8 (it doubles them at 4 x 4) */
/* Adam's step size for both networks. With DCGAN's 2e-4 these narrow networks still draw blurred,
   broken arcs after the default 2500 steps; 1e-3 reaches whole shapes in that budget and stayed stable
   over the seeds tried, helped by DCGAN's beta1 = 0.5 (a short first-moment average suits a target
   that moves as the other network learns). */
#define LR 1e-3f
#define GRID 8             /* sample pictures are GRID x GRID tiles */
#define SCALE 2            /* each tile pixel becomes SCALE x SCALE picture pixels */
#define GAP 2              /* border between tiles, in picture pixels */
#define BORDER 80          /* its grey level: darker than G's first, all-zero (mid-grey) outputs */
#define N_SNAPSHOTS 5      /* sample grids written at steps 0, 1/4, 1/2, 3/4 and the end */

/* ----------------------------------------------------------------------------------------------------
   the data: procedural shapes */

static float clampf(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* A uniform number in [lo, hi). */
static float uniform(gan_rng *rng, float lo, float hi)
{
    return lo + (hi - lo) * (float)gan_rng_uniform(rng);
}

/* Draws one shape into img (PIX values in [-1, 1]). Each shape is a signed distance d(p) to its edge,
   negative inside; a pixel's coverage is clamp(0.5 - d, 0, 1) at its centre, which is the exact area
   for a straight edge crossing the pixel and gives the soft, anti-aliased border a renderer would. */
static void draw_shape(gan_float *img, gan_rng *rng)
{
    int kind = (int)(gan_rng_u32(rng) % 4);
    float ink = uniform(rng, 0.5f, 1.0f);  /* brightness of the shape on a black background */
    float r = 0, t = 0, hw, hh, cx, cy;    /* radius, half line width, half extents, centre */
    int x, y;
    switch (kind) {
    case 0:  /* disc */
        r = uniform(rng, 2.5f, 6.0f);
        hw = hh = r;
        break;
    case 1:  /* ring */
        r = uniform(rng, 3.5f, 6.5f);
        t = uniform(rng, 0.7f, 1.3f);
        hw = hh = r + t;
        break;
    case 2:  /* square */
        hw = hh = uniform(rng, 2.0f, 5.5f);
        break;
    default: /* bar, lying or standing */
        hw = uniform(rng, 4.5f, 7.0f);
        hh = uniform(rng, 1.0f, 1.8f);
        if (gan_rng_u32(rng) & 1) { float s = hw; hw = hh; hh = s; }
        break;
    }
    /* the centre anywhere that keeps the whole shape, and half a pixel more, inside the image */
    cx = uniform(rng, hw + 0.5f, IMG - hw - 0.5f);
    cy = uniform(rng, hh + 0.5f, IMG - hh - 0.5f);
    for (y = 0; y < IMG; y++) {
        for (x = 0; x < IMG; x++) {
            float px = (float)x + 0.5f - cx, py = (float)y + 0.5f - cy, d;
            if (kind == 0) {
                d = sqrtf(px * px + py * py) - r;
            } else if (kind == 1) {
                d = fabsf(sqrtf(px * px + py * py) - r) - t;
            } else {
                float dx = fabsf(px) - hw, dy = fabsf(py) - hh;
                d = dx > dy ? dx : dy;
            }
            img[y * IMG + x] = 2.0f * ink * clampf(0.5f - d, 0.0f, 1.0f) - 1.0f;
        }
    }
}

/* ----------------------------------------------------------------------------------------------------
   pictures */

/* Writes n (at most GRID x GRID) images in [-1, 1] as one binary PGM grid. Returns 0 on success. */
static int write_grid(const char *path, const gan_float *imgs, int n)
{
    int side = GRID * IMG * SCALE + (GRID + 1) * GAP;
    unsigned char *pic = (unsigned char *)malloc((size_t)side * (size_t)side);
    FILE *f;
    int i, y, x, ok;
    if (!pic) return -1;
    memset(pic, BORDER, (size_t)side * (size_t)side);
    for (i = 0; i < n && i < GRID * GRID; i++) {
        int oy = GAP + (i / GRID) * (IMG * SCALE + GAP), ox = GAP + (i % GRID) * (IMG * SCALE + GAP);
        for (y = 0; y < IMG * SCALE; y++) {
            for (x = 0; x < IMG * SCALE; x++) {
                float v = (float)imgs[(size_t)i * PIX + (size_t)(y / SCALE) * IMG + (size_t)(x / SCALE)];
                pic[(size_t)(oy + y) * (size_t)side + (size_t)(ox + x)] =
                    (unsigned char)(clampf(0.5f * (v + 1.0f), 0.0f, 1.0f) * 255.0f + 0.5f);
            }
        }
    }
    f = fopen(path, "wb");
    ok = f != NULL;
    if (f) {
        fprintf(f, "P5\n%d %d\n255\n", side, side);
        ok = fwrite(pic, 1, (size_t)side * (size_t)side, f) == (size_t)side * (size_t)side;
        ok = (fclose(f) == 0) && ok;
    }
    free(pic);
    return ok ? 0 : -1;
}

static int make_dir(const char *dir)
{
#if defined(_WIN32)
    return _mkdir(dir);
#else
    return mkdir(dir, 0755);
#endif
}

static double seconds(void)
{
#if defined(_WIN32)
    return (double)clock() / CLOCKS_PER_SEC;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#endif
}

static float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

/* Mean of sigmoid(logit) over a batch: the probability D gives to "real", on average. */
static float mean_prob(const gan_tensor *logits)
{
    int i;
    float s = 0;
    for (i = 0; i < logits->n; i++) s += sigmoid((float)logits->data[i]);
    return s / (float)logits->n;
}

/* Samples G on the fixed noise batch with BatchNorm's running estimates (a sample does not depend on
   the rest of the batch) and writes the grid. gan_net_infer has memory of its own, so sampling never
   disturbs training, wherever it is called. */
static void snapshot(gan_net *G, gan_float *fixed_z, gan_float *samples, const char *dir, int step)
{
    char path[1024];
    gan_tensor z = gan_tensor_make(fixed_z, BATCH, ZDIM, 1, 1), y = gan_tensor_make(samples, BATCH, 1, IMG, IMG);
    if (!gan_net_infer(G, &y, &z, GAN_STATS_RUNNING)) {
        fprintf(stderr, "gan_net_infer: %s\n", gan_last_error());
        return;
    }
    snprintf(path, sizeof path, "%s/tiny_gan_step%04d.pgm", dir, step);
    if (write_grid(path, samples, BATCH) != 0) fprintf(stderr, "could not write %s\n", path);
}

/* ----------------------------------------------------------------------------------------------------
   main */

static void usage(const char *prog)
{
    printf("usage: %s [--steps N] [--seed N] [--out DIR] [--help]\n"
           "Trains a small DCGAN on procedural 16x16 shapes and writes PGM sample grids\n"
           "to DIR (default out).\n",
           prog);
}

int main(int argc, char **argv)
{
    int steps = 2500;
    unsigned long seed = 1;
    const char *out_dir = "out";
    int i, step, print_every;
    gan_rng rng, data_rng, noise_rng;
    gan_net *G, *D;
    gan_float *real, *z, *fixed_z, *samples, dlogits[BATCH];
    double t_start, t_last;
    float acc_d = 0, acc_g = 0, acc_dx = 0, acc_dgz = 0;
    int acc_n = 0;
    char path[1024];

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(argv[0]);
            return 0;
        } else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc) {
            steps = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out_dir = argv[++i];
        } else {
            usage(argv[0]);
            return 1;
        }
    }
    if (steps < 1) steps = 1;

    /* Three streams from one seed: weights, training data, noise. The fixed noise batch for the
       pictures is drawn first so it is the same whatever --steps says. */
    gan_rng_seed(&rng, (uint64_t)seed);
    gan_rng_seed(&data_rng, (uint64_t)gan_rng_u32(&rng));
    gan_rng_seed(&noise_rng, (uint64_t)gan_rng_u32(&rng));

    {
        gan_layer g_layers[9], d_layers[7];
        /* no bias where a BatchNorm follows: its beta is the bias, and the mean subtraction would
           cancel any other */
        g_layers[0] = gan_no_bias(gan_linear(ZDIM, GC * 4 * 4));
        g_layers[1] = gan_batchnorm(GC * 4 * 4);
        g_layers[2] = gan_relu();
        g_layers[3] = gan_reshape(GC, 4, 4);
        g_layers[4] = gan_no_bias(gan_conv_transpose2d(GC, GC / 2, 4, 2, 1, 0));
        g_layers[5] = gan_batchnorm(GC / 2);
        g_layers[6] = gan_relu();
        g_layers[7] = gan_conv_transpose2d(GC / 2, 1, 4, 2, 1, 0);
        g_layers[8] = gan_tanh(); /* onto the data's range [-1, 1] */
        G = gan_net_create(gan_chw(ZDIM, 1, 1), g_layers, GAN_COUNT(g_layers), BATCH, &rng);
        d_layers[0] = gan_conv2d(1, DC, 4, 2, 1);
        d_layers[1] = gan_leaky_relu(0.2f);
        d_layers[2] = gan_no_bias(gan_conv2d(DC, DC * 2, 4, 2, 1));
        d_layers[3] = gan_batchnorm(DC * 2);
        d_layers[4] = gan_leaky_relu(0.2f);
        d_layers[5] = gan_flatten();
        d_layers[6] = gan_linear(DC * 2 * 4 * 4, 1);
        D = gan_net_create(gan_chw(1, IMG, IMG), d_layers, GAN_COUNT(d_layers), BATCH, &rng);
    }
    if (!G || !D) {
        fprintf(stderr, "gan_net_create: %s\n", gan_last_error());
        return 1;
    }
    gan_net_init(G, GAN_INIT_DCGAN, &rng);
    gan_net_init(D, GAN_INIT_DCGAN, &rng);
    gan_net_set_optim(G, gan_adam(LR, 0.5f, 0.999f));
    gan_net_set_optim(D, gan_adam(LR, 0.5f, 0.999f));
    gan_net_print(G, stdout);
    gan_net_print(D, stdout);

    real = (gan_float *)malloc(sizeof(gan_float) * BATCH * PIX);
    z = (gan_float *)malloc(sizeof(gan_float) * BATCH * ZDIM);
    fixed_z = (gan_float *)malloc(sizeof(gan_float) * BATCH * ZDIM);
    samples = (gan_float *)malloc(sizeof(gan_float) * BATCH * PIX);
    if (!real || !z || !fixed_z || !samples) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    gan_fill_normal(fixed_z, (size_t)BATCH * ZDIM, 0, 1, &noise_rng);

    if (make_dir(out_dir) != 0 && errno != EEXIST) {
        fprintf(stderr, "could not create %s; writing pictures into the current directory\n", out_dir);
        out_dir = ".";
    }
    for (i = 0; i < BATCH; i++) draw_shape(real + (size_t)i * PIX, &data_rng);
    snprintf(path, sizeof path, "%s/tiny_gan_real.pgm", out_dir);
    if (write_grid(path, real, BATCH) != 0) fprintf(stderr, "could not write %s\n", path);

    print_every = steps >= 20 ? steps / 20 : 1;
    snapshot(G, fixed_z, samples, out_dir, 0);

    printf("training %d steps, batch %d\n", steps, BATCH);
    t_start = t_last = seconds();
    for (step = 1; step <= steps; step++) {
        gan_tensor x, zt, dl;
        const gan_tensor *logits, *fake, *dfake;
        float loss_d, loss_g;

        for (i = 0; i < BATCH; i++) draw_shape(real + (size_t)i * PIX, &data_rng);
        gan_fill_normal(z, (size_t)BATCH * ZDIM, 0, 1, &noise_rng);
        x = gan_tensor_make(real, BATCH, 1, IMG, IMG);
        zt = gan_tensor_make(z, BATCH, ZDIM, 1, 1);
        dl = gan_tensor_make(dlogits, BATCH, 1, 1, 1);

        /* 1. D on a real batch: loss softplus(-l) = BCE(l, 1); its parameter gradients accumulate. */
        logits = gan_net_forward(D, &x);
        acc_dx += mean_prob(logits);
        loss_d = (float)gan_bce_logits_const(dlogits, logits->data, 1, BATCH);
        gan_net_backward(D, &dl);

        /* 2. D on a fake batch G(z): loss softplus(l) = BCE(l, 0), added to the same gradients. G's
           forward is kept: its activations are what step 4's backward of G needs, and nothing touches
           G's arena until then. */
        fake = gan_net_forward(G, &zt);
        logits = gan_net_forward(D, fake);
        loss_d += (float)gan_bce_logits_const(dlogits, logits->data, 0, BATCH);
        gan_net_backward(D, &dl);

        /* 3. D's Adam step on the sum of both gradients, then clear them for the next step. */
        gan_net_step(D);
        gan_net_zero_grad(D);

        /* 4. G: the updated D on the same fakes with target 1, the non-saturating loss softplus(-l)
           (its gradient does not vanish when D confidently rejects the fakes, unlike log(1 - D)).
           D's backward returns dL/d(fake), the chain rule's link between the two networks, and G's
           backward takes it as its output gradient. gan_net_backward_input leaves D's parameter
           gradients alone (and skips computing them): only G learns from this loss. */
        logits = gan_net_forward(D, gan_net_output(G));
        acc_dgz += mean_prob(logits);
        loss_g = (float)gan_bce_logits_const(dlogits, logits->data, 1, BATCH);
        dfake = gan_net_backward_input(D, &dl);
        gan_net_backward(G, dfake);
        gan_net_step(G);
        gan_net_zero_grad(G);

        acc_d += loss_d;
        acc_g += loss_g;
        acc_n++;
        /* Averages since the last line. D(x) is D's belief in the real batch before its step, D(G(z))
           the stepped D's belief in the fakes; img/s counts real training images. */
        if (step % print_every == 0 || step == steps) {
            double now = seconds();
            printf("step %5d | D loss %.4f | G loss %.4f | D(x) %.3f | D(G(z)) %.3f | %.0f img/s\n",
                   step, acc_d / acc_n, acc_g / acc_n, acc_dx / acc_n, acc_dgz / acc_n,
                   (double)acc_n * BATCH / (now - t_last));
            fflush(stdout);
            acc_d = acc_g = acc_dx = acc_dgz = 0;
            acc_n = 0;
            t_last = now;
        }
        /* a picture each time training passes another 1 / (N_SNAPSHOTS - 1) of the steps */
        if ((long)step * (N_SNAPSHOTS - 1) / steps != (long)(step - 1) * (N_SNAPSHOTS - 1) / steps)
            snapshot(G, fixed_z, samples, out_dir, step);
    }
    printf("trained in %.1f s\n", seconds() - t_start);
    printf("pictures: %s/tiny_gan_real.pgm (training images) and %s/tiny_gan_step*.pgm (samples)\n",
           out_dir, out_dir);

    free(real);
    free(z);
    free(fixed_z);
    free(samples);
    gan_net_free(G);
    gan_net_free(D);
    return 0;
}
