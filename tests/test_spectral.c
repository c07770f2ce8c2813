/* tests/test_spectral.c - spectral normalization (gan_spectral_norm on Linear and Conv2d) in the
   float build, the one users run:

     1. PyTorch parity (tests/sn_parity.h on tests/fixtures/spectral.txt): three training forwards
        (y, u, v, sigma after each), a backward, evaluation mode, gan_net_infer, and an SN critic's
        WGAN-GP penalty with its parameter gradients.
     2. Names: "<node>.weight_orig" for the parameter, buffers "<node>.weight_u" (out values) and
        "<node>.weight_v" (in k k values) in layer order among BatchNorm's running statistics, for a
        chain and for a named graph node; a plain layer keeps "weight" and has no buffers.
     3. u and v start as unit vectors drawn from the network's rng (the same seed the same, another
        seed others).
     4. What it computes: after many training forwards sigma is W's largest singular value (by an
        independent double-precision power iteration on W^T W) and the layer's output is W x / sigma
        + b; the power iteration does not depend on the batch (batch 1 and 4 give the same u, v).
     5. Sampling and evaluation leave u and v alone: evaluation-mode forwards, gan_net_infer (both
        statistics, chunked above max_batch) and an evaluation-mode penalty change no bit of u or v,
        and a training forward afterwards is bitwise the one without them in between.
     6. gan_net_infer between a forward and its backward changes no bit of the backward's dL/dW,
        dL/db or dL/dx (training and evaluation mode, chunked or not).
     7. gan_net_copy_params copies u and v (the copy's next training forward is bitwise the
        original's), and refuses to copy between a normalized and a plain layer.
     8. A frozen SN layer gets no gradient and no optimizer update, the rest of the backward is
        bitwise the unfrozen one's, and its u and v still follow the power iteration (as PyTorch's
        buffers do for a parameter with requires_grad False).

   Finite differences (which need GAN_DOUBLE) are in test_spectral_fd.c. Run from the repository
   root or set GAN_FIXTURES; GAN_TEST_VERBOSE=1 prints each parity check's error beside its tolerance. */
#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "sn_parity.h" /* sn_parity_all, sn_buffer; fixture.h, test.h */

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void fatal(const char *what)
{
    printf("FAIL spectral: %s: %s\n", what, gan_last_error());
    exit(1);
}

static gan_net *make(gan_shape in, const gan_layer *layers, int n, int max_batch, uint64_t seed)
{
    gan_rng rng;
    gan_net *net;
    gan_rng_seed(&rng, seed);
    net = gan_net_create(in, layers, n, max_batch, &rng);
    if (!net) fatal("gan_net_create");
    return net;
}

/* count values uniform in [-1, 1] from seed (the caller frees them). */
static gan_float *random_values(size_t count, uint64_t seed)
{
    gan_rng rng;
    gan_float *x = (gan_float *)malloc(count * sizeof *x);
    if (!x) fatal("out of memory");
    gan_rng_seed(&rng, seed);
    gan_fill_uniform(x, count, -1, 1, &rng);
    return x;
}

static const gan_tensor *forward(gan_net *net, gan_float *x, int n)
{
    gan_shape s = gan_net_input_shape(net, 0);
    gan_tensor in = gan_tensor_make(x, n, s.c, s.h, s.w);
    const gan_tensor *y = gan_net_forward(net, &in);
    if (!y) fatal("gan_net_forward");
    return y;
}

static const gan_tensor *backward(gan_net *net, gan_float *dy)
{
    const gan_tensor *y = gan_net_output(net), *dx;
    gan_tensor d = gan_tensor_make(dy, y->n, y->c, y->h, y->w);
    gan_net_zero_grad(net);
    dx = gan_net_backward(net, &d);
    if (!dx) fatal("gan_net_backward");
    return dx;
}

/* gan_net_infer of n samples of x into a scratch output (discarded). */
static void infer(gan_net *net, gan_float *x, int n, gan_stats stats)
{
    gan_shape s = gan_net_input_shape(net, 0);
    const gan_tensor *o = gan_net_output(net);
    gan_float *out = (gan_float *)malloc((size_t)n * o->c * o->h * o->w * sizeof *out);
    gan_tensor in = gan_tensor_make(x, n, s.c, s.h, s.w), y = gan_tensor_make(out, n, o->c, o->h, o->w);
    if (!out || !gan_net_infer(net, &y, &in, stats)) fatal("gan_net_infer");
    free(out);
}

/* All of a network's buffers, concatenated (the caller frees them); *count values. */
static gan_float *buffers_copy(gan_net *net, size_t *count)
{
    size_t n = 0, at = 0;
    int i;
    gan_float *c;
    for (i = 0; i < gan_net_buffer_count(net); i++) n += gan_net_buffer(net, i).count;
    c = (gan_float *)malloc((n ? n : 1) * sizeof *c);
    if (!c) fatal("out of memory");
    for (i = 0; i < gan_net_buffer_count(net); i++) {
        gan_param b = gan_net_buffer(net, i);
        memcpy(c + at, b.data, b.count * sizeof *c);
        at += b.count;
    }
    *count = n;
    return c;
}

/* Puts back what buffers_copy took. */
static void restore_buffers(gan_net *net, const gan_float *copy)
{
    size_t at = 0;
    int i;
    for (i = 0; i < gan_net_buffer_count(net); i++) {
        gan_param b = gan_net_buffer(net, i);
        memcpy(b.data, copy + at, b.count * sizeof *copy);
        at += b.count;
    }
}

static int same_buffers(gan_net *net, const gan_float *copy, size_t count)
{
    size_t n;
    gan_float *now = buffers_copy(net, &n);
    int same = n == count && memcmp(now, copy, n * sizeof *now) == 0;
    free(now);
    return same;
}

static double norm2(const gan_float *x, size_t n)
{
    double s = 0;
    size_t j;
    for (j = 0; j < n; j++) s += (double)x[j] * x[j];
    return sqrt(s);
}

/* ---- 2. names -------------------------------------------------------------------------------------- */

static void test_names(void)
{
    static const char *const params[6] = {"0.weight_orig", "0.bias", "1.weight", "1.bias", "4.weight_orig", "4.bias"};
    static const char *const bufs[6] = {"0.weight_u", "0.weight_v", "1.running_mean", "1.running_var", "4.weight_u",
                                        "4.weight_v"};
    static const size_t counts[6] = {4, 9, 4, 4, 1, 64};
    gan_layer layers[5];
    gan_net *net;
    gan_graph *g;
    gan_node n;
    gan_rng rng;
    char why[256] = "";
    int i;
    layers[0] = gan_spectral_norm(gan_conv2d(1, 4, 3, 1, 1));
    layers[1] = gan_batchnorm(4);
    layers[2] = gan_leaky_relu((gan_float)0.2);
    layers[3] = gan_flatten();
    layers[4] = gan_spectral_norm(gan_linear(64, 1));
    net = make(gan_chw(1, 4, 4), layers, 5, 2, 1);
    if (gan_net_param_count(net) != 6 || gan_net_buffer_count(net) != 6)
        sprintf(why, "%d parameters and %d buffers, not 6 and 6", gan_net_param_count(net), gan_net_buffer_count(net));
    for (i = 0; !why[0] && i < 6; i++) {
        gan_param p = gan_net_param(net, i), b = gan_net_buffer(net, i);
        if (strcmp(p.name, params[i]) != 0) sprintf(why, "parameter %d is %.100s, not %s", i, p.name, params[i]);
        else if (strcmp(b.name, bufs[i]) != 0) sprintf(why, "buffer %d is %.100s, not %s", i, b.name, bufs[i]);
        else if (b.count != counts[i]) sprintf(why, "buffer %s has %lu values, not %lu", b.name, (unsigned long)b.count,
                                               (unsigned long)counts[i]);
        else if (b.grad || b.m || b.v) sprintf(why, "buffer %s has a gradient or optimizer moments", b.name);
    }
    test_report("spectral/names/chain: weight_orig, bias; weight_u, weight_v among running statistics", !why[0], "%s",
                why);
    gan_net_free(net);

    /* a named graph node, and a plain Linear beside it */
    g = gan_graph_new();
    n = gan_apply(g, gan_spectral_norm(gan_linear(3, 2)), gan_input(g, gan_chw(3, 1, 1)));
    gan_name(g, n, "disc");
    gan_name(g, gan_apply(g, gan_linear(2, 1), n), "head");
    gan_rng_seed(&rng, 2);
    net = gan_net_build(g, 2, 0, &rng);
    gan_graph_free(g);
    if (!net) fatal("gan_net_build");
    why[0] = 0;
    if (gan_net_param_count(net) != 4 || gan_net_buffer_count(net) != 2)
        sprintf(why, "%d parameters and %d buffers, not 4 and 2", gan_net_param_count(net), gan_net_buffer_count(net));
    else if (strcmp(gan_net_param(net, 0).name, "disc.weight_orig") != 0 ||
             strcmp(gan_net_param(net, 0).role, "weight_orig") != 0 || strcmp(gan_net_param(net, 1).name, "disc.bias") != 0)
        sprintf(why, "parameters %.80s (%.40s), %.80s", gan_net_param(net, 0).name, gan_net_param(net, 0).role,
                gan_net_param(net, 1).name);
    else if (strcmp(gan_net_param(net, 2).name, "head.weight") != 0 || strcmp(gan_net_param(net, 2).role, "weight") != 0)
        sprintf(why, "the plain Linear's weight is %.80s (%.40s)", gan_net_param(net, 2).name, gan_net_param(net, 2).role);
    else if (strcmp(gan_net_buffer(net, 0).name, "disc.weight_u") != 0 ||
             strcmp(gan_net_buffer(net, 1).name, "disc.weight_v") != 0 || gan_net_buffer(net, 0).count != 2 ||
             gan_net_buffer(net, 1).count != 3)
        sprintf(why, "buffers %.80s (%lu), %.80s (%lu)", gan_net_buffer(net, 0).name,
                (unsigned long)gan_net_buffer(net, 0).count, gan_net_buffer(net, 1).name,
                (unsigned long)gan_net_buffer(net, 1).count);
    test_report("spectral/names/graph: disc.weight_orig, disc.weight_u (2), disc.weight_v (3); head.weight plain", !why[0],
                "%s", why);
    gan_net_free(net);
}

/* ---- 3. the starting u and v ----------------------------------------------------------------------- */

static void test_init(void)
{
    gan_layer layer = gan_spectral_norm(gan_conv2d(3, 5, 3, 1, 1));
    gan_net *a = make(gan_chw(3, 4, 4), &layer, 1, 1, 5), *b = make(gan_chw(3, 4, 4), &layer, 1, 1, 5),
            *c = make(gan_chw(3, 4, 4), &layer, 1, 1, 6);
    size_t nu, nv;
    gan_float *u = sn_buffer(a, 0, "weight_u", &nu), *v = sn_buffer(a, 0, "weight_v", &nv);
    double du = fabs(norm2(u, nu) - 1), dv = fabs(norm2(v, nv) - 1);
    test_report("spectral/init: u and v are unit vectors", nu == 5 && nv == 27 && du < 1e-6 && dv < 1e-6,
                "|u| - 1 = %.3g, |v| - 1 = %.3g (%lu and %lu values)", du, dv, (unsigned long)nu, (unsigned long)nv);
    test_report("spectral/init: the same seed gives the same u and v, another seed others",
                memcmp(u, sn_buffer(b, 0, "weight_u", NULL), nu * sizeof *u) == 0 &&
                    memcmp(v, sn_buffer(b, 0, "weight_v", NULL), nv * sizeof *v) == 0 &&
                    memcmp(u, sn_buffer(c, 0, "weight_u", NULL), nu * sizeof *u) != 0 &&
                    memcmp(v, sn_buffer(c, 0, "weight_v", NULL), nv * sizeof *v) != 0,
                "u, v not determined by the seed");
    gan_net_free(a);
    gan_net_free(b);
    gan_net_free(c);
}

/* ---- 4. what it computes --------------------------------------------------------------------------- */

/* W's largest singular value (rows x cols, row-major): sqrt of the power iteration's limit on W^T W,
   in double, from an uneven start. */
static double largest_singular_value(const gan_float *W, int rows, int cols)
{
    double x[64], y[64], lambda = 0;
    int it, i, j;
    for (j = 0; j < cols; j++) x[j] = 1 + 0.1 * j;
    for (it = 0; it < 5000; it++) {
        double t[64], n = 0;
        for (i = 0; i < rows; i++) {
            t[i] = 0;
            for (j = 0; j < cols; j++) t[i] += (double)W[i * cols + j] * x[j];
        }
        for (j = 0; j < cols; j++) {
            y[j] = 0;
            for (i = 0; i < rows; i++) y[j] += (double)W[i * cols + j] * t[i];
            n += y[j] * y[j];
        }
        n = sqrt(n);
        lambda = n; /* ||W^T W x|| for the unit x */
        for (j = 0; j < cols; j++) x[j] = y[j] / n;
    }
    return sqrt(lambda);
}

static void test_semantics(void)
{
    gan_layer layer = gan_spectral_norm(gan_linear(10, 6));
    gan_net *net = make(gan_chw(10, 1, 1), &layer, 1, 4, 21), *one = make(gan_chw(10, 1, 1), &layer, 1, 4, 21);
    gan_layer *L = gan_net_layer(net, 0);
    gan_float *x = random_values(40, 22);
    const gan_tensor *y = NULL;
    double smax, err = 0, big = 0;
    int it, i, j;
    for (it = 0; it < 300; it++) y = forward(net, x, 4);
    smax = largest_singular_value(L->W, 6, 10);
    test_report("spectral/semantics: after 300 training forwards sigma is W's largest singular value",
                fabs(L->sn_sigma - smax) <= 1e-5 * smax, "sigma %.9g, largest singular value %.9g", (double)L->sn_sigma,
                smax);
    for (i = 0; i < 4; i++)
        for (j = 0; j < 6; j++) {
            double want = L->b[j];
            int k;
            for (k = 0; k < 10; k++) want += (double)L->W[j * 10 + k] / smax * x[i * 10 + k];
            if (fabs(want) > big) big = fabs(want);
            if (fabs(y->data[i * 6 + j] - want) > err) err = fabs(y->data[i * 6 + j] - want);
        }
    test_report("spectral/semantics: the output is W x / sigma_max + b", err <= 1e-5 * big, "max |error| %.3g of %.3g", err,
                big);

    /* the power iteration reads W, u and v only: batch 1 moves u and v as batch 4 does */
    forward(net, x, 4);
    forward(one, x, 1);
    for (it = 0; it < 299; it++) forward(one, x + 10, 1);
    forward(one, x, 1);
    test_report("spectral/semantics: u and v do not depend on the batch (batch 1 and 4 agree bitwise)",
                memcmp(sn_buffer(net, 0, "weight_u", NULL), sn_buffer(one, 0, "weight_u", NULL), 6 * sizeof(gan_float)) == 0 &&
                    memcmp(sn_buffer(net, 0, "weight_v", NULL), sn_buffer(one, 0, "weight_v", NULL), 10 * sizeof(gan_float)) == 0,
                "u or v differ");
    free(x);
    gan_net_free(net);
    gan_net_free(one);
}

/* ---- 5, 6. sampling and evaluation ----------------------------------------------------------------- */

/* A conv critic with two SN layers and a BatchNorm (whose running statistics are buffers too). */
static gan_net *make_critic(uint64_t seed, int max_batch)
{
    gan_layer layers[6];
    layers[0] = gan_spectral_norm(gan_conv2d(2, 4, 3, 2, 1));
    layers[1] = gan_batchnorm(4);
    layers[2] = gan_leaky_relu((gan_float)0.2);
    layers[3] = gan_flatten();
    layers[4] = gan_spectral_norm(gan_linear(36, 3));
    layers[5] = gan_tanh();
    return make(gan_chw(2, 5, 5), layers, 6, max_batch, seed);
}

static void test_sampling_keeps_uv(void)
{
    gan_net *a = make_critic(31, 4), *b = make_critic(31, 4);
    gan_float *x = random_values(50 * 20, 32), *before;
    const gan_tensor *ya, *yb;
    size_t n;
    int same;
    forward(a, x, 4);
    forward(b, x, 4);
    before = buffers_copy(b, &n);

    gan_net_set_training(b, 0);
    forward(b, x + 100, 4);
    forward(b, x + 200, 3);
    test_report("spectral/eval: evaluation-mode forwards leave every buffer bitwise", same_buffers(b, before, n),
                "u, v or running statistics changed");
    gan_net_set_training(b, 1);
    infer(b, x + 100, 10, GAN_STATS_RUNNING); /* 10 > max_batch 4: three chunks */
    infer(b, x + 150, 4, GAN_STATS_BATCH);
    test_report("spectral/infer: gan_net_infer (running and batch statistics, chunked) leaves every buffer bitwise",
                same_buffers(b, before, n), "u, v or running statistics changed");

    ya = forward(a, x + 300, 4);
    yb = forward(b, x + 300, 4);
    free(before);
    before = buffers_copy(a, &n);
    same = same_buffers(b, before, n) && memcmp(ya->data, yb->data, gan_tensor_count(ya) * sizeof(gan_float)) == 0;
    test_report("spectral/eval: the next training forward is bitwise the one without evaluation and sampling between",
                same, "u, v or the output differ");
    free(before);
    free(x);
    gan_net_free(a);
    gan_net_free(b);
}

/* A forward, optionally something in between, then a backward: dL/dparameters and dL/dx (copied). */
static void run_backward(gan_net *net, gan_float *x, gan_float *dy, int between, gan_float *grads, gan_float *dx)
{
    const gan_tensor *g;
    forward(net, x, 4);
    if (between == 1) infer(net, x + 100, 10, GAN_STATS_RUNNING);
    if (between == 2) infer(net, x + 100, 4, GAN_STATS_BATCH);
    if (between == 3) infer(net, x + 100, 1, GAN_STATS_RUNNING);
    g = backward(net, dy);
    memcpy(grads, net->grads, net->n_params * sizeof *grads);
    memcpy(dx, g->data, gan_tensor_count(g) * sizeof *dx);
}

static void test_infer_between(void)
{
    static const char *const what[4] = {"", "chunked", "batch statistics", "one sample"};
    gan_net *net = make_critic(41, 4);
    gan_float *x = random_values(50 * 20, 42), *dy = random_values(12, 43);
    gan_float *g0 = (gan_float *)malloc(net->n_params * sizeof *g0), *g1 = (gan_float *)malloc(net->n_params * sizeof *g1);
    gan_float dx0[200], dx1[200];
    char name[200], changed[200];
    int mode, between;
    double nonzero;
    for (mode = 1; mode >= 0; mode--) {
        changed[0] = 0;
        gan_net_set_training(net, mode);
        run_backward(net, x, dy, 0, g0, dx0);
        nonzero = norm2(g0, net->n_params);
        for (between = 1; between <= 3; between++) {
            int dg, ddx;
            if (mode) { /* a training forward moves u and v: both backwards start from the same buffers */
                size_t n;
                gan_float *state = buffers_copy(net, &n);
                run_backward(net, x, dy, 0, g0, dx0);
                restore_buffers(net, state);
                free(state);
            }
            run_backward(net, x, dy, between, g1, dx1);
            dg = memcmp(g0, g1, net->n_params * sizeof *g0) != 0;
            ddx = memcmp(dx0, dx1, sizeof dx0) != 0;
            if (dg || ddx)
                sprintf(changed + strlen(changed), "%s%s: %s%s%s", changed[0] ? "; " : "", what[between],
                        dg ? "parameter gradients" : "", dg && ddx ? " and " : "", ddx ? "dL/dx" : "");
        }
        sprintf(name, "spectral/infer: in %s mode, gan_net_infer (chunked, batch statistics, one sample) between "
                "forward and backward leaves dL/dW, dL/db, dL/dx bitwise", mode ? "training" : "evaluation");
        test_report(name, nonzero > 0 && !changed[0], "the backward changed (%s)", changed);
    }
    free(g0);
    free(g1);
    free(x);
    free(dy);
    gan_net_free(net);
}

/* An evaluation-mode penalty leaves u and v; a training-mode one moves them as a training forward does. */
static void test_penalty_uv(void)
{
    gan_layer layers[3];
    gan_graph *g;
    gan_net *net, *ref;
    gan_rng rng;
    gan_float *x = random_values(3 * 18, 51), P;
    gan_float *before;
    gan_tensor in = gan_tensor_make(x, 3, 2, 3, 3);
    size_t n;
    layers[0] = gan_spectral_norm(gan_conv2d(2, 3, 3, 1, 1));
    layers[1] = gan_flatten();
    layers[2] = gan_spectral_norm(gan_linear(27, 1));
    g = gan_graph_new();
    gan_chain(g, gan_input(g, gan_chw(2, 3, 3)), layers, 3);
    gan_rng_seed(&rng, 52);
    net = gan_net_build(g, 3, GAN_BUILD_PENALTY, &rng);
    gan_rng_seed(&rng, 52);
    ref = gan_net_build(g, 3, GAN_BUILD_PENALTY, &rng);
    gan_graph_free(g);
    if (!net || !ref) fatal("gan_net_build");
    before = buffers_copy(net, &n);
    gan_net_set_training(net, 0);
    if (!gan_net_penalty(net, &P, &in, 0, GAN_PENALTY_WGAN_GP, 10)) fatal("gan_net_penalty");
    test_report("spectral/penalty: an evaluation-mode penalty leaves u and v bitwise", same_buffers(net, before, n),
                "u or v changed");
    gan_net_set_training(net, 1);
    if (!gan_net_penalty(net, &P, &in, 0, GAN_PENALTY_R1, 10)) fatal("gan_net_penalty");
    forward(ref, x, 3);
    free(before);
    before = buffers_copy(ref, &n);
    test_report("spectral/penalty: a training-mode penalty runs the power iteration once (bitwise a training forward's u, v)",
                same_buffers(net, before, n), "u or v differ from a training forward's");
    free(before);
    free(x);
    gan_net_free(net);
    gan_net_free(ref);
}

/* ---- 7. copying ---------------------------------------------------------------------------------- */

static void test_copy(void)
{
    gan_net *src = make_critic(61, 4), *dst = make_critic(62, 4);
    gan_float *x = random_values(50 * 20, 63), *before;
    const gan_tensor *ys, *yd;
    gan_layer plain[6];
    gan_net *other;
    size_t n;
    int i, ok, differed;
    for (i = 0; i < 3; i++) forward(src, x + 100 * i, 4);
    before = buffers_copy(src, &n);
    differed = !same_buffers(dst, before, n);
    ok = gan_net_copy_params(dst, src);
    test_report("spectral/copy: gan_net_copy_params copies u and v (and the running statistics)",
                differed && ok && same_buffers(dst, before, n), "%s",
                !differed ? "the two networks had the same buffers already" : ok ? "buffers differ" : gan_last_error());
    ys = forward(src, x + 300, 4);
    yd = forward(dst, x + 300, 4);
    free(before);
    before = buffers_copy(src, &n);
    test_report("spectral/copy: the copy's next training forward is bitwise the original's (output, u, v)",
                memcmp(ys->data, yd->data, gan_tensor_count(ys) * sizeof(gan_float)) == 0 && same_buffers(dst, before, n),
                "output or buffers differ");

    /* a plain network of the same shapes is another layout */
    plain[0] = gan_conv2d(2, 4, 3, 2, 1);
    plain[1] = gan_batchnorm(4);
    plain[2] = gan_leaky_relu((gan_float)0.2);
    plain[3] = gan_flatten();
    plain[4] = gan_spectral_norm(gan_linear(36, 3));
    plain[5] = gan_tanh();
    other = make(gan_chw(2, 5, 5), plain, 6, 4, 64);
    ok = gan_net_copy_params(other, src);
    test_report("spectral/copy: normalized into plain is refused with a message", !ok && gan_last_error()[0],
                "copied (error \"%s\")", gan_last_error());
    ok = gan_net_copy_params(src, other);
    test_report("spectral/copy: plain into normalized is refused with a message", !ok && gan_last_error()[0],
                "copied (error \"%s\")", gan_last_error());
    free(before);
    free(x);
    gan_net_free(src);
    gan_net_free(dst);
    gan_net_free(other);
}

/* ---- 8. frozen ---------------------------------------------------------------------------------- */

static void test_frozen(void)
{
    gan_net *a = make_critic(71, 4), *b = make_critic(71, 4);
    gan_layer *L = gan_net_layer(b, 0);
    gan_float *x = random_values(50 * 20, 72), *dy = random_values(12, 73), *before;
    gan_float *ga = (gan_float *)malloc(a->n_params * sizeof *ga), *w0 = (gan_float *)malloc(L->nW * sizeof *w0);
    const gan_tensor *dxa, *dxb;
    gan_float dx0[200];
    size_t j, off = (size_t)(L->dW - b->grads), n;
    int untouched = 1, others = 1, nonzero = 0;
    L->frozen = 1;
    forward(a, x, 4);
    forward(b, x, 4);
    dxa = backward(a, dy);
    memcpy(ga, a->grads, a->n_params * sizeof *ga);
    memcpy(dx0, dxa->data, sizeof dx0);
    gan_net_zero_grad(b);
    for (j = 0; j < L->nW; j++) L->dW[j] = 12345;
    for (j = 0; j < L->nb; j++) L->db[j] = -12345;
    {
        const gan_tensor *y = gan_net_output(b);
        gan_tensor d = gan_tensor_make(dy, y->n, y->c, y->h, y->w);
        dxb = gan_net_backward(b, &d);
        if (!dxb) fatal("gan_net_backward");
    }
    for (j = 0; j < L->nW; j++) untouched &= L->dW[j] == 12345;
    for (j = 0; j < L->nb; j++) untouched &= L->db[j] == -12345;
    for (j = 0; j < off; j++) nonzero |= ga[j] != 0;
    for (j = 0; j < L->nW; j++) nonzero |= ga[off + j] != 0;
    for (j = off + L->nW + L->nb; j < b->n_params; j++) others &= b->grads[j] == ga[j];
    test_report("spectral/frozen: a frozen SN layer gets no gradient (and gets one unfrozen)", untouched && nonzero,
                "frozen gradients untouched %d, unfrozen gradient nonzero %d", untouched, nonzero);
    test_report("spectral/frozen: the other layers' gradients and dL/dx are bitwise the unfrozen backward's",
                others && memcmp(dx0, dxb->data, sizeof dx0) == 0, "a gradient differs");
    memcpy(w0, L->W, L->nW * sizeof *w0);
    gan_net_zero_grad(b);
    gan_net_step(b);
    test_report("spectral/frozen: gan_net_step leaves its weight_orig", memcmp(w0, L->W, L->nW * sizeof *w0) == 0,
                "the frozen weight moved");
    forward(a, x + 100, 4);
    forward(b, x + 100, 4);
    before = buffers_copy(a, &n);
    test_report("spectral/frozen: its u and v still follow the power iteration", same_buffers(b, before, n),
                "u or v differ from the unfrozen network's");
    free(before);
    free(ga);
    free(w0);
    free(x);
    free(dy);
    gan_net_free(a);
    gan_net_free(b);
}

int main(void)
{
    /* Line by line, so the results before a failed assertion still reach tests/run. */
    setvbuf(stdout, NULL, _IOLBF, BUFSIZ);
    fx_init_verbose();
    sn_parity_all();
    test_names();
    test_init();
    test_semantics();
    test_sampling_keeps_uv();
    test_infer_between();
    test_penalty_uv();
    test_copy();
    test_frozen();
    return test_finish();
}
