/* tests/bits_wide.c - the rest of gan.h's floating point, hashed, for a C build and a C++ build of
   the same options to compare (tests/bits_check.c does this for one DCGAN-like run: a ConvTranspose2d
   G with BatchNorm, ReLU and Tanh, a Conv2d critic with LeakyReLU, LayerNorm, Dropout and Linear,
   Adam, RMSProp with momentum, BCE and R1). In C++, <math.h> overloads exp, log, tanh, sqrt ... for
   float, so a call whose argument is a gan_float would quietly become expf, logf, tanhf in a C++
   build and change the bits (tanh did once); every such call must be reached by some compared
   program. This one reaches what bits_check does not:

     layers     Sigmoid, Scale, Upsample2x, AvgPool2x, Reshape, Embedding, the joins Add, Mul (with
                broadcast), Concat and Inner, spectral norm on Linear and Conv2d, BatchNorm in
                evaluation mode, gan_net_infer with both kinds of statistics
     optim      SGD with momentum, Adam with decoupled weight decay, RMSProp without momentum, the
                per-layer lr_mult
     losses     gan_mse, gan_mse_const, gan_bce_logits, gan_softmax_xent, and gan_loss_d / gan_loss_g
                of every gan_loss, at finite values
     penalties  all four kinds
     train      gan_train_step for every gan_family (clipping, packing, the EMA, labels), which also
                computes gradient norms and the reported sigmoid of D's outputs
     data       gan_dataset_shapes (anti-aliasing in float), gan_rng_normal, gan_to_bytes and a PNG
     eval       gan_gaussian_fit, gan_eigen_symmetric, gan_frechet_distance, gan_eval_modes

   It prints one line per area: the name and a 64-bit FNV-1a hash of the values, on the baseline
   kernels and two threads (the kernel sets and thread counts are bits_check's business). tests/run
   builds it with "gcc -std=gnu99 -O2 -march=native" and with "g++ -x c++ -O2 -march=native", runs
   both and requires byte-identical outputs. All the arithmetic is gan.h's: this file only moves bits. */
#define GAN_IMPLEMENTATION
#include "../gan.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static uint64_t fnv1a(uint64_t h, const void *p, size_t bytes)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < bytes; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

#define FNV_START 14695981039346656037ULL

static uint64_t hash_floats(uint64_t h, const gan_float *x, size_t n) { return fnv1a(h, x, n * sizeof(gan_float)); }

static uint64_t hash_net(uint64_t h, gan_net *net)
{
    int i;
    for (i = 0; i < gan_net_param_count(net); i++) {
        gan_param p = gan_net_param(net, i);
        h = hash_floats(h, p.data, p.count);
        h = hash_floats(h, p.grad, p.count);
    }
    for (i = 0; i < gan_net_buffer_count(net); i++) {
        gan_param p = gan_net_buffer(net, i);
        h = hash_floats(h, p.data, p.count);
    }
    return h;
}

static int failed;

static void print(const char *what, uint64_t h)
{
    printf("%-10s %016llx\n", what, (unsigned long long)h);
}

static gan_net *must(gan_net *net, const char *what)
{
    if (!net) {
        printf("could not build %s: %s\n", what, gan_last_error());
        failed = 1;
    }
    return net;
}

/* ---- layers, optimizers, losses, penalties ----------------------------------------------------- */

enum { N = 6, CLASSES = 3 };

/* x (1, 8, 8) and a label (1, 1, 1) -> one logit, through every layer bits_check leaves out */
static gan_graph *wide_graph(void)
{
    gan_graph *g = gan_graph_new();
    gan_node x, lab, h, e, gate, parts[2], f, t, u;
    gan_layer lin;
    if (!g) return NULL;
    x = gan_input(g, gan_chw(1, 8, 8));
    lab = gan_input(g, gan_chw(1, 1, 1));
    h = gan_apply(g, gan_spectral_norm(gan_conv2d(1, 4, 3, 1, 1)), x);
    h = gan_apply(g, gan_batchnorm(4), h);
    h = gan_apply(g, gan_sigmoid(), h);
    h = gan_apply(g, gan_avgpool2x(), h);                      /* (4, 4, 4) */
    h = gan_apply(g, gan_upsample2x(), h);                     /* (4, 8, 8) */
    h = gan_apply(g, gan_avgpool2x(), h);                      /* (4, 4, 4) */
    e = gan_apply(g, gan_embedding(CLASSES, 4), lab);          /* (4, 1, 1) */
    gate = gan_mul(g, h, e);                                   /* broadcast over (4, 4) */
    h = gan_add(g, gate, gan_apply(g, gan_scale(0.5f), h));
    parts[0] = h;
    parts[1] = gan_apply(g, gan_leaky_relu(0.1f), h);
    h = gan_concat(g, parts, 2);                               /* (8, 4, 4) */
    h = gan_apply(g, gan_reshape(8, 16, 1), h);
    f = gan_apply(g, gan_flatten(), h);
    lin = gan_spectral_norm(gan_linear(128, 16));
    lin.lr_mult = 0.5f;
    t = gan_apply(g, lin, f);
    u = gan_apply(g, gan_tanh(), gan_apply(g, gan_linear(128, 16), f));
    gan_output(g, gan_add(g, gan_inner(g, t, u), gan_apply(g, gan_linear(16, 1), t)));
    return g;
}

static void check_net(void)
{
    static gan_float x[N * 64], lab[N], y[N], dl[N], target[N], probs[N * CLASSES], dprobs[N * CLASSES];
    gan_rng rng;
    gan_graph *g = wide_graph();
    gan_net *net;
    gan_tensor xs[2], dy, ys[1];
    gan_optim opts[3];
    uint64_t h = FNV_START;
    int i, step;
    gan_rng_seed(&rng, 11);
    if (!g) {
        failed = 1;
        return;
    }
    net = must(gan_net_build(g, N, GAN_BUILD_PENALTY, &rng), "the wide network");
    gan_graph_free(g);
    if (!net) return;
    gan_fill_normal(x, N * 64, 0, 1, &rng);
    for (i = 0; i < N; i++) {
        lab[i] = (gan_float)(i % CLASSES);
        target[i] = (gan_float)(i % 2);
    }
    xs[0] = gan_tensor_make(x, N, 1, 8, 8);
    xs[1] = gan_tensor_make(lab, N, 1, 1, 1);
    dy = gan_tensor_make(dl, N, 1, 1, 1);
    opts[0] = gan_sgd(0.05f, 0.9f);
    opts[0].weight_decay = 1e-3f;
    opts[1] = gan_adam(1e-2f, 0.5f, 0.99f);
    opts[1].weight_decay = 1e-2f;
    opts[2] = gan_rmsprop(1e-3f, 0.9f);
    for (i = 0; i < 3; i++) {
        gan_net_set_optim(net, opts[i]);
        for (step = 0; step < 2; step++) {
            gan_float loss[2];
            gan_net_zero_grad(net);
            if (!gan_net_forward_multi(net, xs)) {
                printf("forward refused: %s\n", gan_last_error());
                failed = 1;
                return;
            }
            loss[0] = i == 0 ? gan_mse(dl, gan_net_output(net)->data, target, N)
                             : gan_bce_logits(dl, gan_net_output(net)->data, target, N);
            loss[1] = gan_mse_const(NULL, gan_net_output(net)->data, 0.25f, N);
            gan_net_backward_multi(net, &dy, GAN_GRAD_PARAMS);
            h = hash_floats(h, loss, 2);
            gan_net_step(net);
        }
    }
    print("layers", hash_net(h, net));

    /* sampling, with the running statistics and with each chunk's own */
    ys[0] = gan_tensor_make(y, N, 1, 1, 1);
    h = FNV_START;
    gan_net_infer_multi(net, ys, xs, GAN_STATS_RUNNING);
    h = hash_floats(h, y, N);
    gan_net_infer_multi(net, ys, xs, GAN_STATS_BATCH);
    print("infer", hash_floats(h, y, N));

    /* the penalties, in evaluation mode (BatchNorm's running statistics) */
    h = FNV_START;
    gan_net_set_training(net, 0);
    for (i = 0; i < 4; i++) {
        gan_float P = 0;
        gan_net_zero_grad(net);
        if (!gan_net_penalty(net, &P, xs, 0, (gan_penalty_kind)i, 10)) {
            printf("penalty %d refused: %s\n", i, gan_last_error());
            failed = 1;
        }
        h = hash_floats(h, &P, 1);
        h = hash_net(h, net);
    }
    print("penalty", h);
    gan_net_free(net);

    /* the losses on their own, at finite values of both signs */
    h = FNV_START;
    for (i = 0; i < N * CLASSES; i++) probs[i] = (gan_float)(i % 7) - 3;
    {
        gan_float loss = gan_softmax_xent(dprobs, probs, lab, N, CLASSES);
        h = hash_floats(h, &loss, 1);
        h = hash_floats(h, dprobs, N * CLASSES);
    }
    for (i = 0; i < 5; i++) {
        gan_float dr[N], df[N], dg[N], l[2];
        l[0] = gan_loss_d(dr, df, probs, N, probs + N, N, (gan_loss)i);
        l[1] = gan_loss_g(dg, probs + 2 * N, N, (gan_loss)i);
        h = hash_floats(h, l, 2);
        h = hash_floats(h, dr, N);
        h = hash_floats(h, df, N);
        h = hash_floats(h, dg, N);
    }
    print("losses", h);
}

/* ---- the GAN step, every family ---------------------------------------------------------------- */

enum { Z = 4, B = 8 };

static gan_net *generator(int classes, gan_rng *rng)
{
    gan_graph *g = gan_graph_new();
    gan_node z, h;
    gan_net *net;
    if (!g) return NULL;
    z = gan_input(g, gan_chw(Z, 1, 1));
    h = gan_apply(g, gan_linear(Z, 64), z);
    if (classes) {
        gan_node lab = gan_input(g, gan_chw(1, 1, 1));
        h = gan_add(g, h, gan_apply(g, gan_embedding(classes, 64), lab));
    }
    h = gan_apply(g, gan_batchnorm(64), h);
    h = gan_apply(g, gan_reshape(1, 8, 8), gan_apply(g, gan_relu(), h));
    gan_apply(g, gan_tanh(), gan_apply(g, gan_conv2d(1, 1, 3, 1, 1), h));
    net = gan_net_build(g, B, 0, rng);
    gan_graph_free(g);
    return net;
}

static gan_net *discriminator(int classes, int pack, gan_rng *rng)
{
    gan_graph *g = gan_graph_new();
    gan_node x, h, out;
    gan_net *net;
    if (!g) return NULL;
    x = gan_input(g, gan_chw(pack, 8, 8));
    h = gan_apply(g, gan_spectral_norm(gan_conv2d(pack, 4, 4, 2, 1)), x); /* (4, 4, 4) */
    h = gan_apply(g, gan_layernorm(), h);
    h = gan_apply(g, gan_flatten(), gan_apply(g, gan_leaky_relu(0.2f), h));
    out = gan_apply(g, gan_linear(64, 1), h);
    if (classes) { /* a projection term: <Embedding(label), features> */
        gan_node lab = gan_input(g, gan_chw(1, 1, 1));
        out = gan_add(g, out, gan_inner(g, gan_apply(g, gan_embedding(classes, 64), lab), h));
    }
    gan_output(g, out);
    net = gan_net_build(g, B, GAN_BUILD_PENALTY, rng);
    gan_graph_free(g);
    return net;
}

static void check_train(void)
{
    gan_dataset data;
    gan_loader loader;
    int family;
    if (!gan_dataset_shapes(&data, 40, 8, 5) || !gan_loader_init(&loader, &data, 5)) {
        printf("no data: %s\n", gan_last_error());
        failed = 1;
        return;
    }
    for (family = 0; family < GAN_FAMILY_COUNT; family++) {
        gan_train_config cfg = gan_default_train((gan_family)family);
        gan_rng rng;
        gan_net *G, *D, *G_ema = NULL;
        gan_trainer *t;
        uint64_t h = FNV_START;
        int step;
        /* the variations ride on families where they fit: labels with hinge, packing with
           least squares, an EMA with non-saturating */
        cfg.batch = B;
        cfg.n_critic = cfg.n_critic > 2 ? 2 : cfg.n_critic;
        if (family == GAN_FAMILY_HINGE) cfg.classes = 4;
        if (family == GAN_FAMILY_LEAST_SQUARES) cfg.pack = 2;
        gan_rng_seed(&rng, 100 + (uint64_t)family);
        G = must(generator(cfg.classes, &rng), "G");
        D = must(discriminator(cfg.classes, cfg.pack, &rng), "D");
        if (family == GAN_FAMILY_NONSATURATING) {
            cfg.ema_decay = 0.9f;
            G_ema = must(generator(cfg.classes, &rng), "G_ema");
        }
        t = G && D ? gan_trainer_create(G, D, G_ema, &cfg) : NULL;
        if (!t) {
            printf("%s: no trainer: %s\n", gan_family_name((gan_family)family), gan_last_error());
            failed = 1;
        }
        for (step = 0; t && step < 3; step++) {
            gan_step_stats st;
            if (!gan_train_step(t, &st, gan_loader_real, &loader)) {
                printf("%s: step refused: %s\n", gan_family_name((gan_family)family), gan_last_error());
                failed = 1;
                break;
            }
            h = fnv1a(h, &st, sizeof st);
        }
        if (t) {
            h = hash_net(hash_net(h, G), D);
            if (G_ema) h = hash_net(h, G_ema);
            print(gan_family_name((gan_family)family), h);
        }
        gan_trainer_free(t);
        gan_net_free(G);
        gan_net_free(D);
        gan_net_free(G_ema);
    }
    gan_loader_free(&loader);
    gan_dataset_free(&data);
}

/* ---- data, pictures, eval ---------------------------------------------------------------------- */

static int to_hash(void *user, const void *data, size_t n)
{
    *(uint64_t *)user = fnv1a(*(uint64_t *)user, data, n);
    return 1;
}

static void check_data_eval(void)
{
    static gan_float x[200 * 2], centres[8 * 2];
    static uint8_t bytes[200 * 2];
    gan_dataset shapes;
    gan_gaussian a, b;
    gan_mode_scores modes;
    gan_rng rng;
    double values[4], vectors[16], m[16], fd = 0;
    uint64_t h = FNV_START;
    int i;
    if (!gan_dataset_shapes(&shapes, 16, 24, 9)) {
        printf("no shapes: %s\n", gan_last_error());
        failed = 1;
        return;
    }
    h = fnv1a(h, shapes.pixels, (size_t)16 * 24 * 24);
    h = fnv1a(h, shapes.labels, 16);
    gan_dataset_free(&shapes);
    gan_rng_seed(&rng, 3);
    for (i = 0; i < 400; i++) x[i] = gan_rng_normal(&rng) * 0.7f;
    h = hash_floats(h, x, 400);
    gan_to_bytes(bytes, x, 400);
    h = fnv1a(h, bytes, 400);
    gan_png_write(to_hash, &h, bytes, 20, 10, 2, 40);
    print("data", h);

    h = FNV_START;
    if (!gan_gaussian_fit(&a, x, 100, 4) || !gan_gaussian_fit(&b, x + 40, 90, 4) || !gan_frechet_distance(&fd, &a, &b)) {
        printf("eval refused: %s\n", gan_last_error());
        failed = 1;
        return;
    }
    h = fnv1a(h, a.mean, 4 * sizeof(double));
    h = fnv1a(h, a.cov, 16 * sizeof(double));
    h = fnv1a(h, &fd, sizeof fd);
    for (i = 0; i < 16; i++) m[i] = a.cov[i] + (i % 5 == 0 ? 1 : 0);
    gan_eigen_symmetric(values, vectors, m, 4);
    h = fnv1a(h, values, sizeof values);
    h = fnv1a(h, vectors, sizeof vectors);
    for (i = 0; i < 8; i++) { /* a ring of 8 modes, radius 2 */
        centres[2 * i] = (gan_float)(2 * cos(6.283185307179586 * i / 8));
        centres[2 * i + 1] = (gan_float)(2 * sin(6.283185307179586 * i / 8));
    }
    gan_eval_modes(&modes, x, 200, centres, 8, 0.5f);
    h = fnv1a(h, &modes, sizeof modes);
    print("eval", h);
    gan_gaussian_free(&a);
    gan_gaussian_free(&b);
}

int main(void)
{
    gan_set_threads(2);
    if (!gan_set_isa(GAN_ISA_BASELINE)) return 1;
    check_net();
    check_train();
    check_data_eval();
    return failed;
}
