/* tests/test_conv_paths.c - Conv2d and ConvTranspose2d against plain loops, on odd geometries.

   The convolution layers never form an im2col matrix the simple way: the packed GEMM gathers the
   windows straight into its panels through a window table (on AVX-512 through gather plans made from
   it), col2im is a per-pixel sum through tables (on AVX-512 by image rows, fused with the product),
   and a batch runs through the GEMM in chunks of samples (about 1024 columns each, as even as can be).
   Those paths are only as right as their index arithmetic, so each case here runs a one-layer network
   (gan_net_create, gan_net_forward, gan_net_backward) and compares the output y, dL/dx, dL/dweight and
   dL/dbias with a reference written out below: one loop nest over (sample, out channel, out y, out x,
   in channel, ky, kx) in double, following PyTorch's definitions (Conv2d weight (out_ch, in_ch, k, k),
   ConvTranspose2d weight (in_ch, out_ch, k, k); output (H + 2p - k) / s + 1 and
   (H - 1) s - 2p + k + output_padding). Every product of the forward sum is also a term of the
   gradients (dx += dy w, dw += dy x), so one nest gives all four.

   Tolerance: a sum of n products, in any order, fused or not, is within gamma_n sum |products| of the
   exact value (Higham 3.1); the reference's own error is ~1e-16 of that. The check allows
   (n + ceil(n / 128) + 5) FLT_EPSILON sum |products| + FLT_MIN per element (test_speed.c's bound: the
   extra terms cover the GEMM's KC blocks, alpha, beta and the chunks' += into the gradient), n the
   most products any element of that result sums: in_ch k k + 1 (bias) for y, out_ch k k for dL/dx,
   batch x plane for dL/dweight and dL/dbias. A wrong index, a lost sample or a lost tap costs whole
   terms and trips it; rounding never does. The worst error / bound is printed per kernel set.

   Cases, each a Conv2d and a ConvTranspose2d: k 5 stride 3 pad 2 on 11 x 9; k 1; k 3 pad 0; k 4
   stride 2 pad 1 on 7 x 7 (DCGAN's, plus Conv2d on 14 x 14); k 3 stride 2 pad 1 (output_padding 1 for
   the transpose); channels 3 -> 5 and 7 -> 4; DCGAN's one-channel layers (Conv2d 1 -> 64 on 28 x 28,
   ConvTranspose2d 64 -> 1 from 14 x 14), where two threads share col2im's product by samples, not
   channels; batch 30 and batch 1 (a network planned for one sample). Where the plane im2col works over (Conv2d's output, ConvTranspose2d's input) is 49 to 144
   pixels, batch 30 runs in 2 to 4 chunks (15 + 15, 3 x 10, 8 + 8 + 8 + 6); the two Conv2d cases with
   outputs of 4 x 3 and 3 x 3 run it as one chunk. Each runs with every kernel set this machine has
   (the rest SKIP) at 1 and at 2 threads, whose results must be the same bits.

   Then, where the machine has AVX-512, its shortcuts against their twins, bit for bit, on every case:
   the im2col panels packed through gather plans (loads and a permute) against the gather
   instruction, both orientations, every K and N block; each plan's loads inside the image they
   read; and col2im by rows against the per-pixel sums, on columns with exact zeros of both signs. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "test.h"

#ifdef GAN_DOUBLE
#define EPS DBL_EPSILON
#define TINY DBL_MIN
#else
#define EPS FLT_EPSILON
#define TINY FLT_MIN
#endif

typedef struct spec {
    const char *name;
    int transpose, in_ch, out_ch, k, stride, pad, out_pad, h, w;
} spec;

static const spec specs[] = {
    { "conv2d_k5s3p2_11x9", 0, 3, 5, 5, 3, 2, 0, 11, 9 },
    { "conv_transpose2d_k5s3p2_11x9", 1, 3, 5, 5, 3, 2, 0, 11, 9 },
    { "conv2d_k1s1p0_13x11", 0, 7, 4, 1, 1, 0, 0, 13, 11 },
    { "conv_transpose2d_k1s1p0_13x11", 1, 7, 4, 1, 1, 0, 0, 13, 11 },
    { "conv2d_k3s1p0_13x13", 0, 3, 5, 3, 1, 0, 0, 13, 13 },
    { "conv_transpose2d_k3s1p0_11x11", 1, 3, 5, 3, 1, 0, 0, 11, 11 },
    { "conv2d_k4s2p1_7x7", 0, 7, 4, 4, 2, 1, 0, 7, 7 },
    { "conv2d_k4s2p1_14x14", 0, 7, 4, 4, 2, 1, 0, 14, 14 },
    { "conv_transpose2d_k4s2p1_7x7", 1, 7, 4, 4, 2, 1, 0, 7, 7 },
    { "conv2d_k3s2p1_24x22", 0, 3, 5, 3, 2, 1, 0, 24, 22 },
    { "conv_transpose2d_k3s2p1op1_12x11", 1, 3, 5, 3, 2, 1, 1, 12, 11 },
    /* one channel on im2col's side (DCGAN's first and last layers): big enough for two threads,
       which then share col2im's product by samples */
    { "conv2d_1to64_k4s2p1_28x28", 0, 1, 64, 4, 2, 1, 0, 28, 28 },
    { "conv_transpose2d_64to1_k4s2p1_14x14", 1, 64, 1, 4, 2, 1, 0, 14, 14 },
};

#define N_ISA 3
static const gan_isa isas[N_ISA] = { GAN_ISA_BASELINE, GAN_ISA_AVX2, GAN_ISA_AVX512 };
static const char *const what[4] = { "forward", "input_grad", "weight_grad", "bias_grad" };

/* The worst error / bound of each result kind over one kernel set's cases, and where. */
static double worst[N_ISA][4];
static char worst_at[N_ISA][4][64];

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        printf("FAIL conv_paths: out of memory\n");
        exit(1);
    }
    return p;
}

static double sum_bound(double n, double mag)
{
    return (n + ceil(n / 128) + 5) * (double)EPS * mag + TINY;
}

/* One case at one batch size: the inputs, and the reference results with their sums of |products|. */
typedef struct problem {
    int N, C, H, W, O, OH, OW, k, s, p, T;
    size_t count[4];       /* elements of y, dx, dw, db */
    gan_float *x, *dy, *wt, *b;
    double *ref[4], *mag[4];
    double terms[4];       /* the most products one element of each result sums */
} problem;

static void reference(problem *P)
{
    int n, o, oy, ox, c, ky, kx, k = P->k, s = P->s, p = P->p;
    double *y = P->ref[0], *dx = P->ref[1], *dw = P->ref[2], *db = P->ref[3];
    double *my = P->mag[0], *mdx = P->mag[1], *mdw = P->mag[2], *mdb = P->mag[3];
    for (n = 0; n < P->N; n++)
        for (o = 0; o < P->O; o++)
            for (oy = 0; oy < P->OH; oy++)
                for (ox = 0; ox < P->OW; ox++) {
                    size_t yi = (((size_t)n * P->O + o) * P->OH + oy) * P->OW + ox;
                    double g = P->dy[yi];
                    for (c = 0; c < P->C; c++)
                        for (ky = 0; ky < k; ky++)
                            for (kx = 0; kx < k; kx++) {
                                int iy, ix;
                                size_t xi, wi;
                                double xv, wv;
                                if (!P->T) { /* Conv2d: out (oy, ox) reads in (oy s - p + ky, ox s - p + kx) */
                                    iy = oy * s - p + ky;
                                    ix = ox * s - p + kx;
                                } else { /* ConvTranspose2d: in (iy, ix) writes out (iy s - p + ky, ix s - p + kx) */
                                    int ty = oy + p - ky, tx = ox + p - kx;
                                    if (ty < 0 || tx < 0 || ty % s || tx % s) continue;
                                    iy = ty / s;
                                    ix = tx / s;
                                }
                                if (iy < 0 || iy >= P->H || ix < 0 || ix >= P->W) continue;
                                xi = (((size_t)n * P->C + c) * P->H + iy) * P->W + ix;
                                wi = P->T ? (((size_t)c * P->O + o) * k + ky) * k + kx : (((size_t)o * P->C + c) * k + ky) * k + kx;
                                xv = P->x[xi];
                                wv = P->wt[wi];
                                y[yi] += wv * xv;
                                my[yi] += fabs(wv * xv);
                                dx[xi] += g * wv;
                                mdx[xi] += fabs(g * wv);
                                dw[wi] += g * xv;
                                mdw[wi] += fabs(g * xv);
                            }
                    y[yi] += P->b[o];
                    my[yi] += fabs((double)P->b[o]);
                    db[o] += g;
                    mdb[o] += fabs(g);
                }
}

/* The layer's four results at the current kernel set and thread count, into out[0..3]; 0 with why. */
static int run_layer(gan_net *net, const problem *P, gan_float *out[4], char *why)
{
    gan_tensor xt = gan_tensor_make(P->x, P->N, P->C, P->H, P->W), dyt = gan_tensor_make(P->dy, P->N, P->O, P->OH, P->OW);
    const gan_tensor *y, *dx;
    gan_net_zero_grad(net);
    y = gan_net_forward(net, &xt);
    if (!y || y->n != P->N || y->c != P->O || y->h != P->OH || y->w != P->OW) {
        sprintf(why, "output shape %dx%dx%dx%d, expected %dx%dx%dx%d", y ? y->n : -1, y ? y->c : -1, y ? y->h : -1,
                y ? y->w : -1, P->N, P->O, P->OH, P->OW);
        return 0;
    }
    memcpy(out[0], y->data, P->count[0] * sizeof(gan_float));
    dx = gan_net_backward(net, &dyt);
    if (!dx || !dx->data) {
        sprintf(why, "gan_net_backward returned no input gradient");
        return 0;
    }
    memcpy(out[1], dx->data, P->count[1] * sizeof(gan_float));
    memcpy(out[2], gan_net_param(net, 0).grad, P->count[2] * sizeof(gan_float));
    memcpy(out[3], gan_net_param(net, 1).grad, P->count[3] * sizeof(gan_float));
    return 1;
}

/* The weight and bias as PyTorch lays them out, checked; then set to the problem's values. */
static int set_params(gan_net *net, const problem *P, char *why)
{
    gan_param w = gan_net_param(net, 0), b = gan_net_param(net, 1);
    int a0 = P->T ? P->C : P->O, a1 = P->T ? P->O : P->C;
    if (gan_net_param_count(net) != 2 || strcmp(w.role, "weight") || strcmp(b.role, "bias") || w.ndim != 4 ||
        w.shape[0] != a0 || w.shape[1] != a1 || w.shape[2] != P->k || w.shape[3] != P->k || w.count != P->count[2] ||
        b.ndim != 1 || b.shape[0] != P->O || b.count != P->count[3]) {
        sprintf(why, "%d parameters; weight \"%s\" %dx%dx%dx%d (expected %dx%dx%dx%d), bias \"%s\" of %d",
                gan_net_param_count(net), w.role, w.shape[0], w.shape[1], w.shape[2], w.shape[3], a0, a1, P->k, P->k,
                b.role, (int)b.count);
        return 0;
    }
    memcpy(w.data, P->wt, w.count * sizeof(gan_float));
    memcpy(b.data, P->b, b.count * sizeof(gan_float));
    return 1;
}

static void run_case(const spec *sp, int batch, gan_rng *rng)
{
    problem P;
    gan_layer L = sp->transpose ? gan_conv_transpose2d(sp->in_ch, sp->out_ch, sp->k, sp->stride, sp->pad, sp->out_pad)
                                : gan_conv2d(sp->in_ch, sp->out_ch, sp->k, sp->stride, sp->pad);
    gan_net *net = gan_net_create(gan_chw(sp->in_ch, sp->h, sp->w), &L, 1, batch, rng);
    gan_float *res[2][4];
    char base[128], name[192], why[256];
    int i, t, q, k;

    memset(&P, 0, sizeof P);
    P.N = batch, P.C = sp->in_ch, P.H = sp->h, P.W = sp->w, P.O = sp->out_ch;
    P.k = sp->k, P.s = sp->stride, P.p = sp->pad, P.T = sp->transpose;
    P.OH = P.T ? (P.H - 1) * P.s - 2 * P.p + P.k + sp->out_pad : (P.H + 2 * P.p - P.k) / P.s + 1;
    P.OW = P.T ? (P.W - 1) * P.s - 2 * P.p + P.k + sp->out_pad : (P.W + 2 * P.p - P.k) / P.s + 1;
    P.count[0] = (size_t)P.N * P.O * P.OH * P.OW;
    P.count[1] = (size_t)P.N * P.C * P.H * P.W;
    P.count[2] = (size_t)P.O * P.C * P.k * P.k;
    P.count[3] = (size_t)P.O;
    P.terms[0] = (double)P.C * P.k * P.k + 1;
    P.terms[1] = (double)P.O * P.k * P.k;
    P.terms[2] = (double)P.N * (P.T ? P.H * P.W : P.OH * P.OW);
    P.terms[3] = (double)P.N * P.OH * P.OW;
    P.x = (gan_float *)xcalloc(P.count[1], sizeof(gan_float));
    P.dy = (gan_float *)xcalloc(P.count[0], sizeof(gan_float));
    P.wt = (gan_float *)xcalloc(P.count[2], sizeof(gan_float));
    P.b = (gan_float *)xcalloc(P.count[3], sizeof(gan_float));
    for (q = 0; q < 4; q++) {
        P.ref[q] = (double *)xcalloc(P.count[q], sizeof(double));
        P.mag[q] = (double *)xcalloc(P.count[q], sizeof(double));
        for (t = 0; t < 2; t++) res[t][q] = (gan_float *)xcalloc(P.count[q], sizeof(gan_float));
    }
    gan_fill_normal(P.x, P.count[1], 0, 1, rng);
    gan_fill_normal(P.dy, P.count[0], 0, 1, rng);
    gan_fill_normal(P.wt, P.count[2], 0, 1, rng);
    gan_fill_normal(P.b, P.count[3], 0, 1, rng);
    reference(&P);
    sprintf(base, "%s_b%d", sp->name, batch);

    for (k = 0; k < N_ISA; k++) {
        const char *isa = gan_isa_name(isas[k]);
        int ok = 1, threads2 = 2;
        sprintf(name, "conv_paths.%s.%s", isa, base);
        if (!gan_set_isa(isas[k])) {
            test_skip(name, "gan_set_isa(%s) refused: %s", isa, gan_last_error());
            continue;
        }
        if (!net || !set_params(net, &P, why)) {
            test_report(name, 0, "%s", net ? why : gan_last_error());
            continue;
        }
        for (t = 0; t < 2 && ok; t++) {
            int got = gan_set_threads(t + 1);
            if (t == 1) threads2 = got;
            ok = run_layer(net, &P, res[t], why);
        }
        if (!ok) {
            test_report(name, 0, "%s", why);
            continue;
        }
        for (q = 0; q < 4; q++) {
            double ratio = 0, err = 0, bound = 0;
            size_t at = 0;
            for (t = 0; t < 2; t++)
                for (i = 0; i < (int)P.count[q]; i++) {
                    double e = fabs((double)res[t][q][i] - P.ref[q][i]), b = sum_bound(P.terms[q], P.mag[q][i]);
                    double r = e / b;
                    if (r != r) r = HUGE_VAL; /* NaN */
                    if (r > ratio) ratio = r, err = e, bound = b, at = (size_t)i;
                }
            sprintf(name, "conv_paths.%s.%s.%s", isa, base, what[q]);
            test_report(name, ratio <= 1, "|lib - ref| = %.3g at element %zu (lib %.9g, ref %.9g) is %.3g times the "
                        "bound %.3g (%.0f terms)", err, at, (double)res[0][q][at], P.ref[q][at], ratio, bound, P.terms[q]);
            if (ratio > worst[k][q] || !worst_at[k][q][0]) {
                worst[k][q] = ratio;
                sprintf(worst_at[k][q], "%.60s", base);
            }
        }
        sprintf(name, "conv_paths.%s.%s.threads_1_2_bitwise", isa, base);
        if (threads2 != 2) {
            test_skip(name, "gan_set_threads(2) returned %d (built without threads?) %s", threads2, gan_last_error());
            continue;
        }
        for (q = 0; q < 4 && !memcmp(res[0][q], res[1][q], P.count[q] * sizeof(gan_float)); q++) {}
        test_report(name, q == 4, "%s differs between 1 and 2 threads", q < 4 ? what[q] : "");
    }
    gan_net_free(net);
    free(P.x);
    free(P.dy);
    free(P.wt);
    free(P.b);
    for (q = 0; q < 4; q++) {
        free(P.ref[q]);
        free(P.mag[q]);
        free(res[0][q]);
        free(res[1][q]);
    }
}

#if defined(GAN__DISPATCH_X86) && !defined(GAN_DOUBLE)
/* The packed panels of the whole im2col operand of w, K block by K block and N block by N block. */
static void pack_all(gan_float *out, gan_float *pack, gan__im2col_src *im, int trans_b, int K, int N)
{
    const gan__isa_info *isa = gan__isa();
    int j0, p0;
    for (j0 = 0; j0 < N; j0 += GAN__NC)
        for (p0 = 0; p0 < K; p0 += isa->kc) {
            int nc = N - j0 < GAN__NC ? N - j0 : GAN__NC, kc = K - p0 < isa->kc ? K - p0 : isa->kc;
            gan__pack_b_im2col(pack, pack + (size_t)GAN__KC_MAX * GAN__NC, im, trans_b, j0, nc, p0, kc, isa);
            memcpy(out, pack, (size_t)kc * ((nc + isa->nr - 1) / isa->nr * isa->nr) * sizeof(gan_float));
            out += (size_t)kc * ((nc + isa->nr - 1) / isa->nr * isa->nr);
        }
}

static void run_twins(const spec *sp, int batch, gan_rng *rng)
{
    gan_layer L0 = sp->transpose ? gan_conv_transpose2d(sp->in_ch, sp->out_ch, sp->k, sp->stride, sp->pad, sp->out_pad)
                                 : gan_conv2d(sp->in_ch, sp->out_ch, sp->k, sp->stride, sp->pad);
    gan_net *net;
    gan_layer *L;
    gan__conv_work w, plain;
    gan_float *x, *pack, *got[2], *img[2];
    char name[192];
    int trans, K, N, r, s, bad, nt, which;
    size_t panels, i, at;

    sprintf(name, "conv_paths.avx512_twins.%s_b%d", sp->name, batch);
    if (!gan_set_isa(GAN_ISA_AVX512)) {
        test_skip(name, "no AVX-512 here: %s", gan_last_error());
        return;
    }
    gan_set_threads(1);
    net = gan_net_create(gan_chw(sp->in_ch, sp->h, sp->w), &L0, 1, batch, rng);
    if (!net) {
        test_report(name, 0, "gan_net_create: %s", gan_last_error());
        return;
    }
    L = gan_net_layer(net, 0);
    w = gan__conv_scratch(L, batch);
    plain = w;
    plain.im.plan = NULL;
    plain.spread = NULL; /* and the table of per-pixel sums, which the AVX-512 path does not make */
    plain.sum_width = gan__col2im_table(plain.sum_at, plain.im.window, plain.im.ld, plain.col_ld, plain.im.kk_n,
                                        plain.plane, plain.im.hw, gan__col2im_width_bound(&plain.g));
    x = (gan_float *)xcalloc((size_t)w.chunk * w.count, sizeof(gan_float));
    gan_fill_normal(x, (size_t)w.chunk * w.count, 0, 1, rng);
    w.im.x = plain.im.x = x;
    pack = (gan_float *)xcalloc(GAN__PACK_FLOATS, sizeof(gan_float));

    /* each run's loads stay in the image (one channel of one sample) its lanes read */
    for (bad = 0, r = 0; r < w.im.kk_n * w.im.plan_ld; r++)
        for (s = 0; s < w.im.plan[r].runs && !w.im.plan[r].direct; s++) {
            size_t base = (size_t)w.im.plan[r].base[s], start = base / w.count * w.count;
            if (base + GAN__GSPAN > start + (size_t)w.im.hw) bad++;
        }
    sprintf(name, "conv_paths.avx512_twins.%s_b%d.plan_loads_inside", sp->name, batch);
    test_report(name, bad == 0, "%d runs read past their image", bad);

    for (trans = 0; trans < 2; trans++) {
        K = trans ? w.im.ld : w.ckk;
        N = trans ? w.ckk : w.im.ld;
        panels = (size_t)K * ((N + GAN__NC - 1) / GAN__NC) * GAN__NC + (size_t)K * gan__isa()->nr;
        for (which = 0; which < 2; which++) {
            got[which] = (gan_float *)xcalloc(panels, sizeof(gan_float));
            pack_all(got[which], pack, which ? &plain.im : &w.im, trans, K, N);
        }
        for (at = 0; at < panels && !memcmp(&got[0][at], &got[1][at], sizeof(gan_float)); at++) {}
        sprintf(name, "conv_paths.avx512_twins.%s_b%d.pack_%s", sp->name, batch, trans ? "col_t" : "col");
        test_report(name, at == panels, "planned and plain gathers differ at panel value %zu", at);
        free(got[0]);
        free(got[1]);
    }

    /* col2im of a col_chunk of samples: columns with zeros of both signs among them */
    nt = w.col_chunk < w.chunk ? w.col_chunk : w.chunk;
    gan_fill_normal(w.col, (size_t)w.ckk * w.col_ld, 0, 1, rng);
    for (i = 0; i < (size_t)w.ckk * w.col_ld; i += 7) w.col[i] = (i / 7) % 2 ? (gan_float)0 : -(gan_float)0;
    for (which = 0; which < 2; which++) {
        img[which] = (gan_float *)xcalloc((size_t)nt * w.count, sizeof(gan_float));
        gan__unfold_batch(gan__col2im_part, img[which], w.col, 0, nt, which ? &plain : &w);
    }
    for (at = 0; at < (size_t)nt * w.count && !memcmp(&img[0][at], &img[1][at], sizeof(gan_float)); at++) {}
    sprintf(name, "conv_paths.avx512_twins.%s_b%d.col2im_rows", sp->name, batch);
    i = at < (size_t)nt * w.count ? at : 0;
    test_report(name, at == (size_t)nt * w.count, "col2im by rows and by sums differ at value %zu (%.9g vs %.9g)", at,
                (double)img[0][i], (double)img[1][i]);
    free(img[0]);
    free(img[1]);
    free(x);
    free(pack);
    gan_net_free(net);
}
#endif

int main(void)
{
    static const int batches[2] = { 30, 1 };
    gan_rng rng;
    int c, b, k, q;
    gan_rng_seed(&rng, 2024);
    for (c = 0; c < (int)GAN_COUNT(specs); c++)
        for (b = 0; b < 2; b++) run_case(&specs[c], batches[b], &rng);
#if defined(GAN__DISPATCH_X86) && !defined(GAN_DOUBLE)
    for (c = 0; c < (int)GAN_COUNT(specs); c++)
        for (b = 0; b < 2; b++) run_twins(&specs[c], batches[b], &rng);
#endif
    for (k = 0; k < N_ISA; k++) {
        if (!worst_at[k][0][0]) continue;
        printf("# conv_paths %s: worst error / rounding bound:", gan_isa_name(isas[k]));
        for (q = 0; q < 4; q++) printf(" %s %.3g (%s)%s", what[q], worst[k][q], worst_at[k][q], q < 3 ? "," : "\n");
    }
    gan_set_isa(GAN_ISA_AUTO);
    gan_set_threads(1);
    return test_finish();
}
