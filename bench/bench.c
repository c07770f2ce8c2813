/* bench/bench.c - how fast gan.h's kernels and layers run on this machine. Nothing is asserted.

   make bench                                  (or: cc -O2 bench/bench.c -lm && ./a.out)

   One figure per line, "NAME VALUE UNIT key=value ...", so runs can be compared with grep and diff:
      gemm.gflops  GFLOP/s of gan_gemm ("ours"), gan_gemm_naive and, when built with -DBENCH_OPENBLAS
                   and -lopenblas (make bench does that when libopenblas-dev is installed), OpenBLAS's
                   sgemm on one thread; on the GEMM shapes of the reference DCGAN's layers (per image
                   for the convolutions) and on squares of 256, 512 and 1024.
      layer.ms     milliseconds of one layer's forward or backward at batch 64, in that DCGAN.
      net.ms       one whole forward + backward of G or D at batch 64.
      step.ms      one whole training step: D on a real and a fake batch, then G through D, two Adam steps.
   Lines starting with "#" are comments (and skipped figures, with the reason).
   Each value is the median of at least 5 repetitions (clock_gettime, CLOCK_MONOTONIC); a repetition
   of a fast operation loops it enough times to last about 20 ms. The whole run takes under a minute
   on 2 cores at about 5 GFLOP/s; everything runs on one thread.

   The reference DCGAN (28 x 28 x 1 images, latent 100):
      G: Linear(100, 6272), BatchNorm, ReLU, reshape (128, 7, 7), ConvTranspose2d(128, 64, 4, 2, 1),
         BatchNorm, ReLU, ConvTranspose2d(64, 1, 4, 2, 1), Tanh
      D: Conv2d(1, 64, 4, 2, 1), LeakyReLU(0.2), Conv2d(64, 128, 4, 2, 1), BatchNorm, LeakyReLU(0.2),
         Flatten, Linear(6272, 1) */
#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c99 */
#define GAN_IMPLEMENTATION
#include "../gan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef BENCH_OPENBLAS
#include <cblas.h>
#endif

#define BATCH 64
#define MIN_REPS 5
#define MAX_REPS 15
#define REP_BUDGET_S 0.6 /* stop adding repetitions (beyond MIN_REPS) once this much time is spent */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* What is being timed: fn(ctx) does one operation. */
typedef void (*bench_fn)(void *ctx);

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds of one fn(ctx). One untimed call warms caches and sizes a repetition: fast
   operations are looped so a repetition lasts about 20 ms and the clock's resolution does not matter. */
static double time_median(bench_fn fn, void *ctx, int min_reps)
{
    double times[MAX_REPS], t0, first, spent = 0;
    long inner = 1, i;
    int reps = 0;

    t0 = now_s();
    fn(ctx);
    first = now_s() - t0;
    if (first < 0.02) inner = (long)(0.02 / (first > 1e-7 ? first : 1e-7)) + 1;
    while (reps < MAX_REPS && (reps < min_reps || spent < REP_BUDGET_S)) {
        t0 = now_s();
        for (i = 0; i < inner; i++) fn(ctx);
        times[reps] = (now_s() - t0) / (double)inner;
        spent += times[reps] * (double)inner;
        reps++;
    }
    qsort(times, (size_t)reps, sizeof times[0], cmp_double);
    return reps % 2 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]);
}

static gan_float *alloc_floats(size_t n, gan_rng *rng)
{
    gan_float *p = (gan_float *)malloc(n * sizeof *p);
    if (!p) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    gan_fill_uniform(p, n, -1, 1, rng);
    return p;
}

/* ---- GEMM ----------------------------------------------------------------------------------------- */

typedef enum { IMPL_OURS, IMPL_NAIVE, IMPL_OPENBLAS } gemm_impl;
static const char *impl_name[] = { "ours", "naive", "openblas" };

typedef struct {
    gemm_impl impl;
    int ta, tb, M, N, K;
    const gan_float *A, *B;
    gan_float *C;
} gemm_case;

static void run_gemm(void *ctx)
{
    gemm_case *g = (gemm_case *)ctx;
    /* Leading dimensions of row-major op(A) = M x K and op(B) = K x N as stored. */
    int lda = g->ta ? g->M : g->K, ldb = g->tb ? g->K : g->N;
    switch (g->impl) {
    case IMPL_OURS:
        gan_gemm(g->ta, g->tb, g->M, g->N, g->K, 1, g->A, lda, g->B, ldb, 0, g->C, g->N);
        break;
    case IMPL_NAIVE:
        gan_gemm_naive(g->ta, g->tb, g->M, g->N, g->K, 1, g->A, lda, g->B, ldb, 0, g->C, g->N);
        break;
    case IMPL_OPENBLAS:
#ifdef BENCH_OPENBLAS
#ifdef GAN_DOUBLE
        cblas_dgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans,
                    g->M, g->N, g->K, 1, g->A, lda, g->B, ldb, 0, g->C, g->N);
#else
        cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans,
                    g->M, g->N, g->K, 1, g->A, lda, g->B, ldb, 0, g->C, g->N);
#endif
#endif
        break;
    }
}

/* Times one shape with one implementation; returns the median seconds. */
static double bench_gemm(gemm_impl impl, const char *shape, int ta, int tb, int M, int N, int K,
                         gan_rng *rng, int min_reps)
{
    gemm_case g;
    gan_float *A = alloc_floats((size_t)M * K, rng), *B = alloc_floats((size_t)K * N, rng);
    gan_float *C = alloc_floats((size_t)M * N, rng);
    double s;
    g.impl = impl;
    g.ta = ta;
    g.tb = tb;
    g.M = M;
    g.N = N;
    g.K = K;
    g.A = A;
    g.B = B;
    g.C = C;
    s = time_median(run_gemm, &g, min_reps);
    printf("gemm.gflops %.2f GFLOP/s impl=%s shape=%s ta=%d tb=%d M=%d N=%d K=%d\n",
           2.0 * M * N * K / s * 1e-9, impl_name[impl], shape, ta, tb, M, N, K);
    fflush(stdout);
    free(A);
    free(B);
    free(C);
    return s;
}

/* The GEMMs the DCGAN's layers reduce to, with the usual lowering (weights times im2col columns, one
   image at a time, for the convolutions; the whole batch at once for Linear). */
static const struct {
    const char *shape;
    int ta, tb, M, N, K;
} dcgan_gemms[] = {
    { "G.linear.fwd", 0, 1, BATCH, 6272, 100 },     /* y = x W^T */
    { "G.linear.dW", 1, 0, 6272, 100, BATCH },      /* dW = dy^T x */
    { "G.convT1.fwd", 1, 0, 1024, 49, 128 },        /* columns = W^T x, then col2im */
    { "G.convT1.dW", 0, 1, 128, 1024, 49 },         /* dW = x columns(dy)^T */
    { "G.convT2.fwd", 1, 0, 16, 196, 64 },
    { "D.conv1.fwd", 0, 0, 64, 196, 16 },           /* y = W im2col(x) */
    { "D.conv2.fwd", 0, 0, 128, 49, 1024 },
    { "D.conv2.dW", 0, 1, 128, 1024, 49 },          /* dW = dy im2col(x)^T */
    { "D.conv2.dx", 1, 0, 1024, 49, 128 },          /* columns(dx) = W^T dy, then col2im */
    { "D.linear.dx", 0, 0, BATCH, 6272, 1 },        /* dx = dy W */
};

static void bench_gemms(gan_rng *rng)
{
    int i, n, have_openblas = 0;
    double naive512 = 0;

#ifdef BENCH_OPENBLAS
    /* One thread, as gan.h uses: the comparison is of kernels, not of core counts. */
    openblas_set_num_threads(1);
    have_openblas = 1;
#else
    printf("# skip impl=openblas: built without OpenBLAS (make bench uses it when libopenblas-dev is installed)\n");
#endif
    for (i = 0; i < GAN_COUNT(dcgan_gemms); i++) {
        int impl;
        for (impl = IMPL_OURS; impl <= IMPL_OPENBLAS; impl++) {
            if (impl == IMPL_OPENBLAS && !have_openblas) continue;
            bench_gemm((gemm_impl)impl, dcgan_gemms[i].shape, dcgan_gemms[i].ta, dcgan_gemms[i].tb,
                       dcgan_gemms[i].M, dcgan_gemms[i].N, dcgan_gemms[i].K, rng, MIN_REPS);
        }
    }
    for (n = 256; n <= 1024; n *= 2) {
        char shape[32];
        sprintf(shape, "square%d", n);
        bench_gemm(IMPL_OURS, shape, 0, 0, n, n, n, rng, MIN_REPS);
        if (have_openblas) bench_gemm(IMPL_OPENBLAS, shape, 0, 0, n, n, n, rng, MIN_REPS);
        /* The naive loop grows as n^3 with no cache reuse; at 1024 it runs only if 512 was quick. */
        if (n < 1024)
            naive512 = bench_gemm(IMPL_NAIVE, shape, 0, 0, n, n, n, rng, MIN_REPS);
        else if (naive512 * 8 < 1.0)
            bench_gemm(IMPL_NAIVE, shape, 0, 0, n, n, n, rng, 3);
        else
            printf("# skip impl=naive shape=square1024: about %.0f s a run (8 x the 512 one)\n",
                   naive512 * 8);
    }
}

/* ---- layers and networks --------------------------------------------------------------------------- */

typedef struct {
    gan_layer *layer;
    gan_tensor x, y, dx, dy;
} layer_case;

static void run_layer_forward(void *ctx)
{
    layer_case *c = (layer_case *)ctx;
    gan_layer_forward(c->layer, &c->y, &c->x, 1);
}

static void run_layer_backward(void *ctx)
{
    layer_case *c = (layer_case *)ctx;
    gan_layer_backward(c->layer, &c->dx, &c->dy, &c->x, &c->y);
}

static const char *kind_name(gan_layer_kind kind)
{
    switch (kind) {
    case GAN_LINEAR: return "linear";
    case GAN_CONV2D: return "conv2d";
    case GAN_CONV_TRANSPOSE2D: return "conv_transpose2d";
    case GAN_BATCHNORM: return "batchnorm";
    case GAN_LAYERNORM: return "layernorm";
    case GAN_RELU: return "relu";
    case GAN_LEAKY_RELU: return "leaky_relu";
    case GAN_TANH: return "tanh";
    case GAN_SIGMOID: return "sigmoid";
    case GAN_DROPOUT: return "dropout";
    case GAN_RESHAPE: return "reshape";
    case GAN_FLATTEN: return "flatten";
    case GAN_UPSAMPLE2X: return "upsample2x";
    default: return "other"; /* the reference DCGAN has no other kind */
    }
}

static gan_tensor batch_of(gan_float *data, gan_shape s)
{
    return gan_tensor_make(data, BATCH, s.c, s.h, s.w);
}

/* Times each layer of net on its own, in training mode, on activations of our own: one forward of x
   layer by layer through buffers we hold (the network's arena reuses its memory), the gradients
   into two buffers of our own. */
static void bench_layers(const char *name, gan_net *net, const gan_tensor *x, gan_rng *rng)
{
    size_t most = 0;
    gan_float *dx, *dy, **acts;
    int i;

    acts = (gan_float **)calloc((size_t)net->n_layers + 1, sizeof *acts);
    if (!acts) exit(1);
    acts[0] = x->data;
    for (i = 0; i < net->n_layers; i++) {
        gan_layer *l = gan_net_layer(net, i);
        size_t in = (size_t)l->in.c * l->in.h * l->in.w, out = (size_t)l->out.c * l->out.h * l->out.w;
        gan_tensor xi = batch_of(acts[i], l->in), yi;
        if (in > most) most = in;
        if (out > most) most = out;
        acts[i + 1] = alloc_floats(out * BATCH, rng);
        yi = batch_of(acts[i + 1], l->out);
        gan_layer_forward(l, &yi, &xi, 1);
    }
    dx = alloc_floats(most * BATCH, rng);
    dy = alloc_floats(most * BATCH, rng);
    for (i = 0; i < net->n_layers; i++) {
        layer_case c;
        gan_layer *l = gan_net_layer(net, i);
        double fwd, bwd;
        c.layer = l;
        c.x = batch_of(acts[i], l->in);
        c.y = batch_of(acts[i + 1], l->out);
        c.dx = batch_of(dx, l->in);
        c.dy = batch_of(dy, l->out);
        fwd = time_median(run_layer_forward, &c, MIN_REPS);
        bwd = time_median(run_layer_backward, &c, MIN_REPS);
        printf("layer.ms %.3f ms net=%s layer=%d kind=%s pass=fwd batch=%d in=%dx%dx%d out=%dx%dx%d\n",
               fwd * 1e3, name, i, kind_name(l->kind), BATCH, l->in.c, l->in.h, l->in.w, l->out.c,
               l->out.h, l->out.w);
        printf("layer.ms %.3f ms net=%s layer=%d kind=%s pass=bwd batch=%d in=%dx%dx%d out=%dx%dx%d\n",
               bwd * 1e3, name, i, kind_name(l->kind), BATCH, l->in.c, l->in.h, l->in.w, l->out.c,
               l->out.h, l->out.w);
        fflush(stdout);
    }
    for (i = 1; i <= net->n_layers; i++) free(acts[i]);
    free(acts);
    free(dx);
    free(dy);
}

typedef struct {
    gan_net *net;
    const gan_tensor *x, *dy;
} net_case;

static void run_net(void *ctx)
{
    net_case *c = (net_case *)ctx;
    gan_net_forward(c->net, c->x);
    gan_net_backward(c->net, c->dy);
}

static void bench_net(const char *name, gan_net *net, const gan_tensor *x, const gan_tensor *dy)
{
    net_case c;
    double s;
    c.net = net;
    c.x = x;
    c.dy = dy;
    gan_net_zero_grad(net);
    s = time_median(run_net, &c, MIN_REPS);
    printf("net.ms %.3f ms net=%s pass=fwd+bwd batch=%d params=%lu arena_mb=%.1f\n", s * 1e3, name,
           BATCH, (unsigned long)net->n_params, (double)gan_net_arena_bytes(net) / (1 << 20));
    fflush(stdout);
}

/* One DCGAN training step, as a training loop would run it (non-saturating G loss). */
typedef struct {
    gan_net *G, *D;
    gan_tensor z, real;
    gan_float *dlogits;
} step_case;

static void run_step(void *ctx)
{
    step_case *c = (step_case *)ctx;
    gan_tensor dl = gan_tensor_make(c->dlogits, BATCH, 1, 1, 1);
    const gan_tensor *fake, *logits, *dfake;

    /* D: real images towards 1, G's images towards 0. */
    gan_net_zero_grad(c->D);
    logits = gan_net_forward(c->D, &c->real);
    gan_bce_logits_const(c->dlogits, logits->data, 1, BATCH);
    gan_net_backward(c->D, &dl);
    fake = gan_net_forward(c->G, &c->z);
    logits = gan_net_forward(c->D, fake);
    gan_bce_logits_const(c->dlogits, logits->data, 0, BATCH);
    gan_net_backward(c->D, &dl);
    gan_net_step(c->D);

    /* G: D's gradient with respect to the fake images is handed to G. D's parameter gradients also
       accumulate here; its next step starts with zero_grad, so they are never used. */
    gan_net_zero_grad(c->G);
    logits = gan_net_forward(c->D, fake);
    gan_bce_logits_const(c->dlogits, logits->data, 1, BATCH);
    dfake = gan_net_backward(c->D, &dl);
    gan_net_backward(c->G, dfake);
    gan_net_step(c->G);
}

int main(void)
{
    gan_rng rng;
    gan_layer g_layers[] = {
        gan_linear(100, 128 * 7 * 7), gan_batchnorm(128 * 7 * 7), gan_relu(), gan_reshape(128, 7, 7),
        gan_conv_transpose2d(128, 64, 4, 2, 1, 0), gan_batchnorm(64), gan_relu(),
        gan_conv_transpose2d(64, 1, 4, 2, 1, 0), gan_tanh()
    };
    gan_layer d_layers[] = {
        gan_conv2d(1, 64, 4, 2, 1), gan_leaky_relu(0.2f), gan_conv2d(64, 128, 4, 2, 1),
        gan_batchnorm(128), gan_leaky_relu(0.2f), gan_flatten(), gan_linear(128 * 7 * 7, 1)
    };
    gan_net *G, *D;
    gan_float *z, *real, *dimg, *dlogit;
    gan_tensor tz, treal, tdimg, tdlogit;
    step_case step;

    gan_rng_seed(&rng, 42);
    printf("# gan.h %d.%d.%d bench: medians of >= %d repetitions, one thread, gan_float of %d bytes\n",
           GAN_VERSION_MAJOR, GAN_VERSION_MINOR, GAN_VERSION_PATCH, MIN_REPS, (int)sizeof(gan_float));
    fflush(stdout);

    bench_gemms(&rng);

    G = gan_net_create(gan_chw(100, 1, 1), g_layers, GAN_COUNT(g_layers), BATCH, &rng);
    D = gan_net_create(gan_chw(1, 28, 28), d_layers, GAN_COUNT(d_layers), BATCH, &rng);
    if (!G || !D) {
        fprintf(stderr, "bench: %s\n", gan_last_error());
        return 1;
    }
    gan_net_init(G, GAN_INIT_DCGAN, &rng);
    gan_net_init(D, GAN_INIT_DCGAN, &rng);
    gan_net_set_optim(G, gan_adam(2e-4f, 0.5f, 0.999f));
    gan_net_set_optim(D, gan_adam(2e-4f, 0.5f, 0.999f));

    z = alloc_floats((size_t)BATCH * 100, &rng);
    gan_fill_normal(z, (size_t)BATCH * 100, 0, 1, &rng);
    real = alloc_floats((size_t)BATCH * 28 * 28, &rng);
    dimg = alloc_floats((size_t)BATCH * 28 * 28, &rng);
    dlogit = alloc_floats(BATCH, &rng);
    tz = gan_tensor_make(z, BATCH, 100, 1, 1);
    treal = gan_tensor_make(real, BATCH, 1, 28, 28);
    tdimg = gan_tensor_make(dimg, BATCH, 1, 28, 28);
    tdlogit = gan_tensor_make(dlogit, BATCH, 1, 1, 1);

    bench_layers("G", G, &tz, &rng);
    bench_layers("D", D, &treal, &rng);
    bench_net("G", G, &tz, &tdimg);
    bench_net("D", D, &treal, &tdlogit);

    step.G = G;
    step.D = D;
    step.z = tz;
    step.real = treal;
    step.dlogits = dlogit;
    printf("step.ms %.3f ms what=dcgan-train-step batch=%d optim=adam\n",
           time_median(run_step, &step, MIN_REPS) * 1e3, BATCH);

    gan_net_free(G);
    gan_net_free(D);
    free(z);
    free(real);
    free(dimg);
    free(dlogit);
    return 0;
}
