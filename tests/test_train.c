/* tests/test_train.c - whole networks: they learn, they repeat themselves, they keep their promises.

   - overfitting one fixed batch (an MLP, a conv classifier, a transposed-conv generator) drives the
     loss near zero: forward, backward and the optimizer agree with each other end to end;
   - the same seed gives bitwise the same weights after training, a different seed does not;
   - the networks API: parameter and buffer lists, zero_grad, accumulation of parameter gradients,
     training and evaluation modes, gan_no_bias, the initialization schemes' statistics;
   - forward, backward and step never allocate (GAN_MALLOC is a counting wrapper here);
   - a batch below max_batch gives the same per-sample results as inside a full batch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "counting_alloc.h" /* every allocation gan.h makes is counted */

#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "test.h"

/* ---- helpers ------------------------------------------------------------------------------------- */

static gan_net *make_net(gan_shape in, const gan_layer *layers, int n, int max_batch, uint64_t seed)
{
    gan_rng rng;
    gan_net *net;
    gan_rng_seed(&rng, seed);
    net = gan_net_create(in, layers, n, max_batch, &rng);
    if (!net) printf("# gan_net_create failed: %s\n", gan_last_error());
    return net;
}

/* Room for the failure details of one check. */
#define WHY_LEN 300

/* Big enough for every batch of outputs and gradients in this file. */
#define BUF 8192
static gan_float grad_buf[BUF];

/* Forward, loss, zero_grad, backward, step; returns the loss before the step. */
/* A loss as gan.h writes them: the mean over n values, its gradient into grad. */
typedef gan_float (*loss_fn)(gan_float *grad, const gan_float *x, const gan_float *target, size_t n);

/* One optimizer step on one batch; returns the loss before the step. */
static gan_float train_step(gan_net *net, const gan_tensor *x, const gan_float *target, loss_fn loss_of)
{
    const gan_tensor *y = gan_net_forward(net, x);
    gan_float loss = loss_of(grad_buf, y->data, target, gan_tensor_count(y));
    gan_tensor dy = gan_tensor_make(grad_buf, y->n, y->c, y->h, y->w);
    gan_net_zero_grad(net);
    gan_net_backward(net, &dy);
    gan_net_step(net);
    return loss;
}

static double max_abs_diff(const gan_float *a, const gan_float *b, size_t n)
{
    double d = 0;
    size_t i;
    for (i = 0; i < n; i++)
        if (fabs((double)a[i] - b[i]) > d) d = fabs((double)a[i] - b[i]);
    return d;
}

static double max_abs(const gan_float *a, size_t n)
{
    double d = 0;
    size_t i;
    for (i = 0; i < n; i++)
        if (fabs((double)a[i]) > d) d = fabs((double)a[i]);
    return d;
}

/* ---- overfitting one batch ----------------------------------------------------------------------- */

/* What one overfitting run expects: its loss, a start above start_min (so the task was not already
   solved) and an end below end_max, stopping early once the loss falls below stop. */
typedef struct overfit_case {
    const char *name, *loss_name;
    loss_fn loss_of;
    int max_steps;
    gan_float stop, start_min, end_max;
} overfit_case;

/* Trains net on the one batch (in, target) and reports the loss of the final weights. */
static void overfit(const overfit_case *oc, gan_net *net, const gan_tensor *in, const gan_float *target)
{
    gan_float first = 0, loss = 0;
    int step;
    for (step = 0; step < oc->max_steps; step++) {
        loss = train_step(net, in, target, oc->loss_of);
        if (step == 0) first = loss;
        if (loss < oc->stop) break;
    }
    /* the loss of the weights as they are now, without a step after it */
    {
        const gan_tensor *y = gan_net_forward(net, in);
        loss = oc->loss_of(NULL, y->data, target, gan_tensor_count(y));
    }
    printf("# %s: %s %.4g -> %.3g after %d Adam steps\n", oc->name, oc->loss_name, first, loss, step);
    test_report(oc->name, first > oc->start_min && loss < oc->end_max,
                "%s %g -> %g after %d steps (want a start > %g and an end < %g)", oc->loss_name, first, loss, step,
                oc->start_min, oc->end_max);
}

/* Fills an overfit_case (C99 without designated initializers, so C++ compilers take it too). */
static overfit_case overfit_spec(const char *name, const char *loss_name, loss_fn loss_of, int max_steps,
                                 gan_float stop, gan_float start_min, gan_float end_max)
{
    overfit_case oc;
    oc.name = name;
    oc.loss_name = loss_name;
    oc.loss_of = loss_of;
    oc.max_steps = max_steps;
    oc.stop = stop;
    oc.start_min = start_min;
    oc.end_max = end_max;
    return oc;
}

/* 8 samples of 16 features to 4 targets, N(0, 1) each, so the loss starts near 1. */
static void test_overfit_mlp(void)
{
    enum { N = 8, IN = 16, OUT = 4, MAX_STEPS = 3000 };
    static gan_float x[N * IN], t[N * OUT];
    gan_layer L[5];
    gan_net *net;
    gan_rng rng;
    gan_tensor in;
    overfit_case oc = overfit_spec("overfit.mlp", "MSE", gan_mse, MAX_STEPS, 1e-5f, 0.3f, 1e-4f);

    L[0] = gan_linear(IN, 32);
    L[1] = gan_tanh();
    L[2] = gan_linear(32, 32);
    L[3] = gan_relu();
    L[4] = gan_linear(32, OUT);
    net = make_net(gan_chw(IN, 1, 1), L, 5, N, 11);
    if (!net) {
        test_report("overfit.mlp", 0, "gan_net_create failed");
        return;
    }
    gan_rng_seed(&rng, 12);
    gan_fill_normal(x, N * IN, 0, 1, &rng);
    gan_fill_normal(t, N * OUT, 0, 1, &rng);
    in = gan_tensor_make(x, N, IN, 1, 1);
    gan_net_set_optim(net, gan_adam(3e-3f, 0.9f, 0.999f));
    overfit(&oc, net, &in, t);
    gan_net_free(net);
}

/* Conv2d -> BatchNorm -> LeakyReLU -> Conv2d stride 2 -> Flatten -> Linear on 8 random 1x8x8 images
   with random 0/1 labels (four of each): BCE-with-logits starts near log 2 and must reach 1e-3. */
static void test_overfit_conv(void)
{
    enum { N = 8, MAX_STEPS = 2000 };
    static gan_float x[N * 64], labels[N];
    gan_layer L[6];
    gan_net *net;
    gan_rng rng;
    gan_tensor in;
    overfit_case oc = overfit_spec("overfit.conv_bce", "BCE", gan_bce_logits, MAX_STEPS, 1e-4f, 0.3f, 1e-3f);
    int i;

    L[0] = gan_conv2d(1, 8, 3, 1, 1);
    L[1] = gan_batchnorm(8);
    L[2] = gan_leaky_relu(0.2f);
    L[3] = gan_conv2d(8, 8, 3, 2, 1); /* 8x8 -> 4x4 */
    L[4] = gan_flatten();
    L[5] = gan_linear(8 * 4 * 4, 1);
    net = make_net(gan_chw(1, 8, 8), L, 6, N, 21);
    if (!net) {
        test_report("overfit.conv_bce", 0, "gan_net_create failed");
        return;
    }
    gan_rng_seed(&rng, 22);
    gan_fill_normal(x, N * 64, 0, 1, &rng);
    /* a random permutation of four zeros and four ones (Fisher-Yates) */
    for (i = 0; i < N; i++) labels[i] = (gan_float)(i % 2);
    for (i = N - 1; i > 0; i--) {
        int j = (int)(gan_rng_u32(&rng) % (uint32_t)(i + 1));
        gan_float tmp = labels[i];
        labels[i] = labels[j];
        labels[j] = tmp;
    }
    in = gan_tensor_make(x, N, 1, 8, 8);
    gan_net_set_optim(net, gan_adam(1e-2f, 0.9f, 0.999f));
    overfit(&oc, net, &in, labels);
    gan_net_free(net);
}

/* A DCGAN-shaped generator, latent (8, 1, 1) -> ConvT to 32x4x4 -> BatchNorm -> ReLU -> ConvT stride 2
   to 16x8x8 -> BatchNorm -> ReLU -> ConvT stride 2 to 1x16x16 -> Tanh, fits four fixed target images
   with values in [-0.8, 0.8] by MSE: the transposed convolutions' forward and backward end to end. */
static void test_overfit_generator(void)
{
    enum { N = 4, PIX = 16 * 16, MAX_STEPS = 2000 };
    static gan_float z[N * 8], target[N * PIX];
    gan_layer L[8];
    gan_net *net;
    gan_rng rng;
    gan_tensor in;
    overfit_case oc = overfit_spec("overfit.convT_generator", "MSE", gan_mse, MAX_STEPS, 1e-4f, 0.15f, 1e-3f);

    L[0] = gan_conv_transpose2d(8, 32, 4, 1, 0, 0);  /* 1x1 -> 4x4 */
    L[1] = gan_batchnorm(32);
    L[2] = gan_relu();
    L[3] = gan_conv_transpose2d(32, 16, 4, 2, 1, 0); /* 4x4 -> 8x8 */
    L[4] = gan_batchnorm(16);
    L[5] = gan_relu();
    L[6] = gan_conv_transpose2d(16, 1, 4, 2, 1, 0);  /* 8x8 -> 16x16 */
    L[7] = gan_tanh();
    net = make_net(gan_chw(8, 1, 1), L, 8, N, 31);
    if (!net) {
        test_report("overfit.convT_generator", 0, "gan_net_create failed");
        return;
    }
    gan_rng_seed(&rng, 32);
    gan_fill_normal(z, N * 8, 0, 1, &rng);
    gan_fill_uniform(target, N * PIX, -0.8f, 0.8f, &rng);
    in = gan_tensor_make(z, N, 8, 1, 1);
    gan_net_set_optim(net, gan_adam(3e-3f, 0.9f, 0.999f));
    overfit(&oc, net, &in, target);
    gan_net_free(net);
}

/* ---- determinism --------------------------------------------------------------------------------- */

/* 50 Adam steps of a net with conv layers, BatchNorm and Dropout; weights from `seed` (which also
   seeds the Dropout streams), data and labels from data_seed. */
static gan_net *train_for_determinism(uint64_t seed, uint64_t data_seed)
{
    enum { N = 8, STEPS = 50 };
    static gan_float x[N * 64], labels[N];
    gan_layer L[7];
    gan_net *net;
    gan_rng rng;
    gan_tensor in;
    int step, i;

    L[0] = gan_conv2d(1, 4, 3, 1, 1);
    L[1] = gan_batchnorm(4);
    L[2] = gan_leaky_relu(0.2f);
    L[3] = gan_dropout(0.3f);
    L[4] = gan_conv2d(4, 4, 3, 2, 1);
    L[5] = gan_flatten();
    L[6] = gan_linear(4 * 4 * 4, 1);
    net = make_net(gan_chw(1, 8, 8), L, 7, N, seed);
    if (!net) return NULL;
    gan_rng_seed(&rng, data_seed);
    for (step = 0; step < STEPS; step++) {
        gan_fill_normal(x, N * 64, 0, 1, &rng);
        for (i = 0; i < N; i++) labels[i] = (gan_float)(gan_rng_u32(&rng) & 1);
        in = gan_tensor_make(x, N, 1, 8, 8);
        train_step(net, &in, labels, gan_bce_logits);
    }
    return net;
}

/* 1 if every parameter and buffer of a and b is bitwise equal. */
static int same_state(gan_net *a, gan_net *b)
{
    int i;
    if (gan_net_param_count(a) != gan_net_param_count(b) || gan_net_buffer_count(a) != gan_net_buffer_count(b))
        return 0;
    for (i = 0; i < gan_net_param_count(a); i++) {
        gan_param p = gan_net_param(a, i), q = gan_net_param(b, i);
        if (p.count != q.count || memcmp(p.data, q.data, p.count * sizeof(gan_float)) != 0) return 0;
    }
    for (i = 0; i < gan_net_buffer_count(a); i++) {
        gan_param p = gan_net_buffer(a, i), q = gan_net_buffer(b, i);
        if (p.count != q.count || memcmp(p.data, q.data, p.count * sizeof(gan_float)) != 0) return 0;
    }
    return 1;
}

static void test_determinism(void)
{
    gan_net *a = train_for_determinism(41, 42);
    gan_net *b = train_for_determinism(41, 42);
    gan_net *c = train_for_determinism(43, 42);
    if (!a || !b || !c) {
        test_report("determinism.create", 0, "gan_net_create failed");
    } else {
        test_report("determinism.same_seed_same_weights", same_state(a, b),
                    "two runs from seed 41 differ in some parameter or buffer after 50 steps");
        test_report("determinism.other_seed_other_weights", !same_state(a, c),
                    "seeds 41 and 43 gave bitwise identical networks");
    }
    gan_net_free(a);
    gan_net_free(b);
    gan_net_free(c);
}

/* ---- networks API -------------------------------------------------------------------------------- */

struct expect_param {
    int layer;
    const char *role;
    int ndim, shape[4];
};

/* Conv2d -> LeakyReLU -> BatchNorm -> ConvTranspose2d -> Conv2d without bias -> Flatten -> Linear,
   on 3x8x8. (The LeakyReLU sits before the BatchNorm so that the conv bias has a gradient: right
   before a BatchNorm it would cancel out.) */
static gan_net *make_api_net(uint64_t seed)
{
    gan_layer L[7];
    L[0] = gan_conv2d(3, 4, 3, 1, 1);                 /* 4x8x8 */
    L[1] = gan_leaky_relu(0.2f);
    L[2] = gan_batchnorm(4);
    L[3] = gan_conv_transpose2d(4, 2, 4, 2, 1, 0);    /* 2x16x16 */
    L[4] = gan_no_bias(gan_conv2d(2, 3, 3, 2, 1));    /* 3x8x8 */
    L[5] = gan_flatten();                             /* 192 */
    L[6] = gan_linear(192, 5);
    return make_net(gan_chw(3, 8, 8), L, 7, 4, seed);
}

static void test_param_list(void)
{
    static const struct expect_param want[] = {
        {0, "weight", 4, {4, 3, 3, 3}}, {0, "bias", 1, {4, 0, 0, 0}},
        {2, "weight", 1, {4, 0, 0, 0}}, {2, "bias", 1, {4, 0, 0, 0}},
        {3, "weight", 4, {4, 2, 4, 4}}, {3, "bias", 1, {2, 0, 0, 0}},
        {4, "weight", 4, {3, 2, 3, 3}},
        {6, "weight", 2, {5, 192, 0, 0}}, {6, "bias", 1, {5, 0, 0, 0}}};
    static const struct expect_param want_buf[] = {
        {2, "running_mean", 1, {4, 0, 0, 0}}, {2, "running_var", 1, {4, 0, 0, 0}}};
    gan_net *net = make_api_net(51);
    int i, d, ok = 1, bok = 1, n, nb, grads_ok = 1, init_ok = 1, bias_ok;
    size_t count, total = 0;
    char why[WHY_LEN] = "";

    if (!net) {
        test_report("api.param_list", 0, "gan_net_create failed");
        return;
    }
    n = gan_net_param_count(net);
    if (n != GAN_COUNT(want)) {
        ok = 0;
        snprintf(why, WHY_LEN, "%d parameters, want %d", n, GAN_COUNT(want));
    }
    for (i = 0; ok && i < n; i++) {
        gan_param p = gan_net_param(net, i);
        count = 1;
        for (d = 0; d < want[i].ndim; d++) count *= (size_t)want[i].shape[d];
        if (p.layer != want[i].layer || strcmp(p.role, want[i].role) != 0 || p.ndim != want[i].ndim ||
            p.count != count) {
            ok = 0;
            snprintf(why, WHY_LEN, "parameter %d is %d.%s ndim %d count %lu, want %d.%s ndim %d count %lu", i, p.layer,
                    p.role, p.ndim, (unsigned long)p.count, want[i].layer, want[i].role, want[i].ndim,
                    (unsigned long)count);
        }
        for (d = 0; ok && d < want[i].ndim; d++)
            if (p.shape[d] != want[i].shape[d]) {
                ok = 0;
                snprintf(why, WHY_LEN, "parameter %d (%d.%s) has shape[%d] = %d, want %d", i, p.layer, p.role, d,
                        p.shape[d], want[i].shape[d]);
            }
        if (!p.grad) grads_ok = 0;
        total += p.count;
    }
    /* 108 + 4 + 4 + 4 + 128 + 2 + 54 + 960 + 5 */
    if (ok && total != 1269) {
        ok = 0;
        snprintf(why, WHY_LEN, "the parameters hold %lu values, want 1269", (unsigned long)total);
    }
    test_report("api.param_list_roles_and_shapes", ok, "%s", why);
    test_report("api.params_have_grads", grads_ok, "some parameter has grad NULL");

    nb = gan_net_buffer_count(net);
    if (nb != GAN_COUNT(want_buf)) {
        bok = 0;
        snprintf(why, WHY_LEN, "%d buffers, want 2", nb);
    }
    for (i = 0; bok && i < nb; i++) {
        gan_param b = gan_net_buffer(net, i);
        if (b.layer != want_buf[i].layer || strcmp(b.role, want_buf[i].role) != 0 || b.ndim != 1 ||
            b.shape[0] != 4 || b.count != 4 || b.grad != NULL) {
            bok = 0;
            snprintf(why, WHY_LEN, "buffer %d is %d.%s ndim %d shape[0] %d count %lu grad %p, want %d.%s (4), no grad", i,
                    b.layer, b.role, b.ndim, b.shape[0], (unsigned long)b.count, (void *)b.grad,
                    want_buf[i].layer, want_buf[i].role);
        }
        /* PyTorch starts running_mean at 0 and running_var at 1 */
        for (d = 0; bok && d < 4; d++)
            if (b.data[d] != (i == 0 ? 0.0f : 1.0f)) init_ok = 0;
    }
    test_report("api.buffer_list", bok, "%s", why);
    test_report("api.running_stats_start_at_0_and_1", bok && init_ok, "running_mean/var do not start at 0/1");

    /* The parameter views agree with the layers' own views. */
    ok = n == GAN_COUNT(want);
    for (i = 0; ok && i < n; i++) {
        gan_param p = gan_net_param(net, i);
        gan_layer *L = gan_net_layer(net, p.layer);
        int is_w = strcmp(p.role, "weight") == 0;
        if (p.data != (is_w ? L->W : L->b) || p.grad != (is_w ? L->dW : L->db) || p.count != (is_w ? L->nW : L->nb))
            ok = 0;
    }
    test_report("api.param_views_match_layers", ok, "a gan_param's data/grad/count differs from its layer's W/b");

    bias_ok = gan_net_layer(net, 4)->has_bias == 0 && gan_net_layer(net, 4)->nb == 0 &&
              gan_net_layer(net, 0)->has_bias != 0 && gan_net_layer(net, 0)->nb == 4;
    test_report("api.no_bias_removes_the_bias", bias_ok,
                "layer 4 (gan_no_bias) has_bias %d nb %lu; layer 0 has_bias %d nb %lu",
                gan_net_layer(net, 4)->has_bias, (unsigned long)gan_net_layer(net, 4)->nb,
                gan_net_layer(net, 0)->has_bias, (unsigned long)gan_net_layer(net, 0)->nb);
    {
        gan_layer lin = gan_no_bias(gan_linear(3, 2)), convt = gan_no_bias(gan_conv_transpose2d(2, 2, 3, 1, 1, 0));
        test_report("api.no_bias_on_linear_and_convT", lin.has_bias == 0 && convt.has_bias == 0 &&
                    gan_linear(3, 2).has_bias != 0 && gan_conv_transpose2d(2, 2, 3, 1, 1, 0).has_bias != 0,
                    "has_bias: no_bias linear %d, no_bias convT %d", lin.has_bias, convt.has_bias);
    }
    gan_net_free(net);
}

/* zero_grad, accumulation of parameter gradients across two backwards, and input gradients that are
   written, not accumulated. */
static void test_grad_accumulation(void)
{
    enum { N = 4 };
    static gan_float x[N * 3 * 64], dy[N * 5], g1[4096], dx1[N * 3 * 64];
    gan_net *net = make_api_net(61);
    gan_rng rng;
    gan_tensor in, dout;
    const gan_tensor *dx;
    double worst = 0, scale, d;
    int i, n, every_tensor_moved = 1, zero = 1, dx_same;
    size_t e, off;

    if (!net) {
        test_report("api.grad_accumulation", 0, "gan_net_create failed");
        return;
    }
    gan_rng_seed(&rng, 62);
    gan_fill_normal(x, N * 3 * 64, 0, 1, &rng);
    gan_fill_normal(dy, N * 5, 0, 1, &rng);
    in = gan_tensor_make(x, N, 3, 8, 8);
    dout = gan_tensor_make(dy, N, 5, 1, 1);
    n = gan_net_param_count(net);
    for (i = 0, off = 0; i < n; i++) off += gan_net_param(net, i).count;
    if (off > GAN_COUNT(g1)) {
        test_skip("api.grad_accumulation", "the parameters hold %lu values, more than the %d this test keeps",
                  (unsigned long)off, GAN_COUNT(g1));
        gan_net_free(net);
        return;
    }

    gan_net_zero_grad(net);
    gan_net_forward(net, &in);
    dx = gan_net_backward(net, &dout);
    memcpy(dx1, dx->data, sizeof dx1);
    for (i = 0, off = 0; i < n; i++) {
        gan_param p = gan_net_param(net, i);
        memcpy(g1 + off, p.grad, p.count * sizeof(gan_float));
        if (max_abs(p.grad, p.count) == 0) every_tensor_moved = 0;
        off += p.count;
    }
    test_report("api.backward_fills_every_grad", every_tensor_moved, "some parameter's gradient is all zero");

    dx = gan_net_backward(net, &dout);
    dx_same = memcmp(dx1, dx->data, sizeof dx1) == 0;
    scale = max_abs(g1, off);
    for (i = 0, off = 0; i < n; i++) {
        gan_param p = gan_net_param(net, i);
        for (e = 0; e < p.count; e++) {
            d = fabs(p.grad[e] - 2.0 * g1[off + e]) / (scale > 0 ? scale : 1);
            if (d > worst) worst = d;
        }
        off += p.count;
    }
    /* g + g = 2 g exactly when the second backward adds the same total at once; a kernel that adds
       its partial sums into dW one by one rounds differently, so allow a few float ulps of the
       network's largest gradient. Overwriting instead of adding would leave g2 = g1, off by 50%. */
    printf("# api.grads_accumulate: worst |g2 - 2 g1| / max|g1| = %.3g\n", worst);
    test_report("api.grads_accumulate", scale > 0 && worst <= 1e-6, "after two backwards grad differs from 2 x one backward "
                "by %g of the largest gradient", worst);
    test_report("api.input_grad_is_written_not_accumulated", dx_same,
                "the second backward's dL/dx differs from the first's");

    gan_net_zero_grad(net);
    for (i = 0; i < n; i++) {
        gan_param p = gan_net_param(net, i);
        if (max_abs(p.grad, p.count) != 0) zero = 0;
    }
    test_report("api.zero_grad_zeroes_every_grad", zero, "a gradient is not zero after gan_net_zero_grad");
    gan_net_free(net);
}

/* Evaluation mode: BatchNorm uses the running estimates and Dropout is the identity, so a sample's
   output does not depend on the rest of the batch; training mode's BatchNorm does. */
static void test_train_eval_modes(void)
{
    enum { N = 4, IN = 6, OUT = 3 };
    static gan_float xa[N * IN], xb[N * IN], ya[N * OUT], yb[N * OUT], yc[N * OUT];
    gan_layer L[5];
    gan_net *net, *bn;
    gan_rng rng;
    gan_tensor ta, tb;
    int i, c;

    gan_rng_seed(&rng, 71);
    gan_fill_normal(xa, N * IN, 0, 1, &rng);
    gan_fill_normal(xb, N * IN, 0, 1, &rng);
    memcpy(xb, xa, IN * sizeof(gan_float)); /* sample 0 is shared, samples 1..3 differ */
    ta = gan_tensor_make(xa, N, IN, 1, 1);
    tb = gan_tensor_make(xb, N, IN, 1, 1);

    L[0] = gan_linear(IN, 5);
    L[1] = gan_batchnorm(5);
    L[2] = gan_relu();
    L[3] = gan_dropout(0.5f);
    L[4] = gan_linear(5, OUT);
    net = make_net(gan_chw(IN, 1, 1), L, 5, N, 72);
    if (!net) {
        test_report("api.modes", 0, "gan_net_create failed");
        return;
    }
    test_report("api.created_in_training_mode", net->training == 1, "net->training = %d", net->training);
    /* a few training forwards so that the running estimates are no longer 0 and 1 */
    for (i = 0; i < 3; i++) gan_net_forward(net, i % 2 ? &ta : &tb);

    gan_net_set_training(net, 0);
    memcpy(ya, gan_net_forward(net, &ta)->data, sizeof ya);
    memcpy(yb, gan_net_forward(net, &tb)->data, sizeof yb);
    memcpy(yc, gan_net_forward(net, &ta)->data, sizeof yc);
    test_report("api.eval_sample_independent_of_batch", net->training == 0 &&
                max_abs_diff(ya, yb, OUT) <= 1e-6 * (1 + max_abs(ya, OUT)),
                "sample 0's output differs by %g between two batches in evaluation mode",
                max_abs_diff(ya, yb, OUT));
    test_report("api.eval_repeatable", memcmp(ya, yc, sizeof ya) == 0,
                "two evaluation forwards of the same batch differ (Dropout active?) by %g",
                max_abs_diff(ya, yc, N * OUT));
    gan_net_free(net);

    /* Without Dropout, training mode's batch statistics make sample 0 depend on the others. */
    L[0] = gan_linear(IN, 5);
    L[1] = gan_batchnorm(5);
    L[2] = gan_linear(5, OUT);
    bn = make_net(gan_chw(IN, 1, 1), L, 3, N, 73);
    if (!bn) {
        test_report("api.modes", 0, "gan_net_create failed");
        return;
    }
    memcpy(ya, gan_net_forward(bn, &ta)->data, sizeof ya);
    memcpy(yb, gan_net_forward(bn, &tb)->data, sizeof yb);
    test_report("api.training_batchnorm_depends_on_batch", max_abs_diff(ya, yb, OUT) > 1e-3,
                "sample 0's output changes only by %g when the other samples change",
                max_abs_diff(ya, yb, OUT));
    gan_net_free(bn);

    /* A lone BatchNorm(3): one training forward moves the running estimates by momentum 0.1 towards
       the batch mean and the unbiased variance; evaluation then normalizes with them. */
    L[0] = gan_batchnorm(3);
    bn = make_net(gan_chw(3, 1, 1), L, 1, N, 74);
    if (!bn) {
        test_report("api.modes", 0, "gan_net_create failed");
        return;
    }
    {
        static gan_float xs[N * 3] = {1, -2, 0.5f, 3, 0, 1.5f, -1, 4, 2.5f, 5, 2, -0.5f};
        double mean[3], var[3], worst_run = 0, worst_eval = 0, want;
        const gan_tensor *y;
        gan_tensor t = gan_tensor_make(xs, N, 3, 1, 1);
        gan_float *rm = gan_net_layer(bn, 0)->run_mean, *rv = gan_net_layer(bn, 0)->run_var;
        for (c = 0; c < 3; c++) {
            mean[c] = var[c] = 0;
            for (i = 0; i < N; i++) mean[c] += xs[i * 3 + c] / (double)N;
            for (i = 0; i < N; i++) var[c] += (xs[i * 3 + c] - mean[c]) * (xs[i * 3 + c] - mean[c]);
            var[c] /= N - 1; /* unbiased, for the running estimate */
        }
        gan_net_forward(bn, &t);
        for (c = 0; c < 3; c++) {
            if (fabs(rm[c] - 0.1 * mean[c]) > worst_run) worst_run = fabs(rm[c] - 0.1 * mean[c]);
            if (fabs(rv[c] - (0.9 + 0.1 * var[c])) > worst_run) worst_run = fabs(rv[c] - (0.9 + 0.1 * var[c]));
        }
        test_report("api.running_stats_update", worst_run <= 1e-6,
                    "running estimates off by %g from 0.9 old + 0.1 batch (unbiased var)", worst_run);
        gan_net_set_training(bn, 0);
        y = gan_net_forward(bn, &t);
        for (i = 0; i < N; i++)
            for (c = 0; c < 3; c++) {
                want = (xs[i * 3 + c] - 0.1 * mean[c]) / sqrt(0.9 + 0.1 * var[c] + 1e-5);
                if (fabs(y->data[i * 3 + c] - want) > worst_eval) worst_eval = fabs(y->data[i * 3 + c] - want);
            }
        test_report("api.eval_batchnorm_uses_running_stats", worst_eval <= 1e-5,
                    "evaluation output off by %g from (x - running_mean) / sqrt(running_var + eps)", worst_eval);
    }
    gan_net_free(bn);

    /* A lone Dropout(0.25) on 4 x 1000 values: identity in evaluation; in training about a quarter
       zeroed (4000 draws: the fraction's standard deviation is 0.007) and the rest scaled by 4/3. */
    L[0] = gan_dropout(0.25f);
    bn = make_net(gan_chw(1000, 1, 1), L, 1, N, 75);
    if (!bn) {
        test_report("api.modes", 0, "gan_net_create failed");
        return;
    }
    {
        static gan_float xs[N * 1000];
        const gan_tensor *y;
        gan_tensor t = gan_tensor_make(xs, N, 1000, 1, 1);
        int zeros = 0, scaled_ok = 1;
        gan_fill_uniform(xs, N * 1000, 0.5f, 1.5f, &rng);
        y = gan_net_forward(bn, &t);
        for (i = 0; i < N * 1000; i++) {
            if (y->data[i] == 0)
                zeros++;
            else if (fabs(y->data[i] - xs[i] / 0.75) > 1e-6 * fabs(xs[i] / 0.75))
                scaled_ok = 0;
        }
        test_report("api.training_dropout_drops_and_scales", fabs(zeros / 4000.0 - 0.25) < 0.035 && scaled_ok,
                    "%d of 4000 zeroed (want about 1000); kept values scaled by 1/(1-p): %d", zeros, scaled_ok);
        gan_net_set_training(bn, 0);
        y = gan_net_forward(bn, &t);
        test_report("api.eval_dropout_is_identity", memcmp(y->data, xs, sizeof xs) == 0,
                    "evaluation-mode Dropout changed its input (max change %g)", max_abs_diff(y->data, xs, N * 1000));
    }
    gan_net_free(bn);
}

/* ---- initialization statistics ------------------------------------------------------------------- */

struct stats {
    double mean, std, maxabs, within; /* within: fraction with |x - mean| < the expected std */
};

static struct stats stats_of(const gan_float *x, size_t n, double expected_std)
{
    struct stats s;
    double sum = 0, sq = 0;
    size_t i, in = 0;
    s.maxabs = 0;
    for (i = 0; i < n; i++) sum += x[i];
    s.mean = sum / (double)n;
    for (i = 0; i < n; i++) {
        double d = x[i] - s.mean;
        sq += d * d;
        if (fabs(d) < expected_std) in++;
        if (fabs((double)x[i]) > s.maxabs) s.maxabs = fabs((double)x[i]);
    }
    s.std = sqrt(sq / (double)n);
    s.within = (double)in / (double)n;
    return s;
}

/* Uniform(-bound, bound): std bound / sqrt 3, every value inside, the extremes near the bound, and
   only 57.7% within one std (a normal has 68.3%). */
static int is_uniform(const gan_float *x, size_t n, double bound, char *why)
{
    double sd = bound / sqrt(3.0);
    struct stats s = stats_of(x, n, sd);
    int ok = fabs(s.mean) < 5 * sd / sqrt((double)n) && fabs(s.std / sd - 1) < 0.02 &&
             s.maxabs <= bound * (1 + 1e-6) && s.maxabs > 0.99 * bound && fabs(s.within - 0.5774) < 0.02;
    snprintf(why, WHY_LEN, "n %lu mean %.3g std %.5g (want %.5g) max|x| %.5g (bound %.5g) within 1 std %.3f (want 0.577)",
            (unsigned long)n, s.mean, s.std, sd, s.maxabs, bound, s.within);
    return ok;
}

static int is_normal(const gan_float *x, size_t n, double mean, double sd, char *why)
{
    struct stats s = stats_of(x, n, sd);
    int ok = fabs(s.mean - mean) < 5 * sd / sqrt((double)n) && fabs(s.std / sd - 1) < 0.02 &&
             fabs(s.within - 0.6827) < 0.02;
    snprintf(why, WHY_LEN, "n %lu mean %.4g (want %g) std %.5g (want %.5g) within 1 std %.3f (want 0.683)",
            (unsigned long)n, s.mean, mean, s.std, sd, s.within);
    return ok;
}

static int all_equal(const gan_float *x, size_t n, gan_float value)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (x[i] != value) return 0;
    return 1;
}

static void test_init_schemes(void)
{
    gan_layer L[2];
    gan_net *lin, *conv, *convt;
    gan_layer *ll, *lc, *ln, *lt;
    gan_rng rng;
    char why[WHY_LEN];
    struct stats s;
    int ok;
    /* fan_in and fan_out as PyTorch computes them from the weight's shape:
       Linear (400, 1000): 1000, 400; Conv2d (128, 64, 4, 4): 64*16, 128*16;
       ConvTranspose2d (128, 32, 4, 4): 32*16 (the second dimension), 128*16. */
    const double lin_in = 1000, lin_out = 400, conv_in = 1024, conv_out = 2048, convt_in = 512, convt_out = 2048;

    L[0] = gan_linear(1000, 400);
    lin = make_net(gan_chw(1000, 1, 1), L, 1, 1, 81);
    L[0] = gan_conv2d(64, 128, 4, 2, 1); /* 4x4 -> 2x2 */
    L[1] = gan_batchnorm(128);
    conv = make_net(gan_chw(64, 4, 4), L, 2, 1, 82);
    L[0] = gan_conv_transpose2d(128, 32, 4, 1, 0, 0); /* 1x1 -> 4x4 */
    convt = make_net(gan_chw(128, 1, 1), L, 1, 1, 83);
    if (!lin || !conv || !convt) {
        test_report("init.create", 0, "gan_net_create failed");
        gan_net_free(lin);
        gan_net_free(conv);
        gan_net_free(convt);
        return;
    }
    ll = gan_net_layer(lin, 0);
    lc = gan_net_layer(conv, 0);
    ln = gan_net_layer(conv, 1);
    lt = gan_net_layer(convt, 0);
    gan_rng_seed(&rng, 84);

    /* gan_net_create itself initializes the PyTorch way; then each scheme through gan_net_init. */
    test_report("init.create_is_pytorch_linear", is_uniform(ll->W, ll->nW, 1 / sqrt(lin_in), why), "%s", why);

    gan_net_init(lin, GAN_INIT_PYTORCH, &rng);
    gan_net_init(conv, GAN_INIT_PYTORCH, &rng);
    gan_net_init(convt, GAN_INIT_PYTORCH, &rng);
    test_report("init.pytorch_linear_weight", is_uniform(ll->W, ll->nW, 1 / sqrt(lin_in), why), "%s", why);
    test_report("init.pytorch_conv_weight", is_uniform(lc->W, lc->nW, 1 / sqrt(conv_in), why), "%s", why);
    test_report("init.pytorch_convT_weight_fan_in_from_dim1", is_uniform(lt->W, lt->nW, 1 / sqrt(convt_in), why),
                "%s", why);
    s = stats_of(ll->b, ll->nb, 1);
    ok = s.maxabs <= (1 + 1e-6) / sqrt(lin_in) && s.maxabs > 0.9 / sqrt(lin_in);
    s = stats_of(lt->b, lt->nb, 1);
    ok = ok && s.maxabs <= (1 + 1e-6) / sqrt(convt_in) && s.maxabs > 0.5 / sqrt(convt_in);
    test_report("init.pytorch_bias_bound", ok, "Linear or ConvT biases outside or far inside +-1/sqrt(fan_in)");
    test_report("init.pytorch_norm_ones_zeros", all_equal(ln->W, ln->nW, 1) && all_equal(ln->b, ln->nb, 0),
                "BatchNorm weight not all 1 or bias not all 0");

    gan_net_init(lin, GAN_INIT_DCGAN, &rng);
    gan_net_init(conv, GAN_INIT_DCGAN, &rng);
    gan_net_init(convt, GAN_INIT_DCGAN, &rng);
    test_report("init.dcgan_linear_weight", is_normal(ll->W, ll->nW, 0, 0.02, why), "%s", why);
    test_report("init.dcgan_conv_weight", is_normal(lc->W, lc->nW, 0, 0.02, why), "%s", why);
    test_report("init.dcgan_convT_weight", is_normal(lt->W, lt->nW, 0, 0.02, why), "%s", why);
    test_report("init.dcgan_biases_zero", all_equal(ll->b, ll->nb, 0) && all_equal(lc->b, lc->nb, 0) &&
                all_equal(lt->b, lt->nb, 0) && all_equal(ln->b, ln->nb, 0), "a bias is not zero");
    /* only 128 norm weights: mean within 4 standard errors, std within 25% */
    s = stats_of(ln->W, ln->nW, 0.02);
    test_report("init.dcgan_norm_weight", fabs(s.mean - 1) < 4 * 0.02 / sqrt(128.0) && fabs(s.std / 0.02 - 1) < 0.25,
                "BatchNorm weights mean %g std %g, want N(1, 0.02)", s.mean, s.std);

    gan_net_init(lin, GAN_INIT_XAVIER, &rng);
    gan_net_init(conv, GAN_INIT_XAVIER, &rng);
    gan_net_init(convt, GAN_INIT_XAVIER, &rng);
    test_report("init.xavier_linear_weight", is_uniform(ll->W, ll->nW, sqrt(6 / (lin_in + lin_out)), why), "%s", why);
    test_report("init.xavier_conv_weight", is_uniform(lc->W, lc->nW, sqrt(6 / (conv_in + conv_out)), why), "%s", why);
    test_report("init.xavier_convT_weight", is_uniform(lt->W, lt->nW, sqrt(6 / (convt_in + convt_out)), why),
                "%s", why);
    test_report("init.xavier_biases_zero", all_equal(ll->b, ll->nb, 0) && all_equal(lc->b, lc->nb, 0) &&
                all_equal(lt->b, lt->nb, 0), "a bias is not zero");

    gan_net_init(lin, GAN_INIT_KAIMING, &rng);
    gan_net_init(conv, GAN_INIT_KAIMING, &rng);
    gan_net_init(convt, GAN_INIT_KAIMING, &rng);
    test_report("init.kaiming_linear_weight", is_normal(ll->W, ll->nW, 0, sqrt(2 / lin_in), why), "%s", why);
    test_report("init.kaiming_conv_weight", is_normal(lc->W, lc->nW, 0, sqrt(2 / conv_in), why), "%s", why);
    test_report("init.kaiming_convT_weight_fan_in_from_dim1", is_normal(lt->W, lt->nW, 0, sqrt(2 / convt_in), why), "%s", why);
    test_report("init.kaiming_biases_zero", all_equal(ll->b, ll->nb, 0) && all_equal(lc->b, lc->nb, 0) &&
                all_equal(lt->b, lt->nb, 0), "a bias is not zero");

    gan_net_free(lin);
    gan_net_free(conv);
    gan_net_free(convt);
}

/* ---- no allocation while training --------------------------------------------------------------- */

/* Ten GAN steps: D on real and fake, then G through D's input gradient. */
static void test_no_allocation(void)
{
    enum { N = 8, Z = 8, STEPS = 10 };
    static gan_float z[N * Z], real[N * 64];
    gan_layer G[5], D[5];
    gan_net *g, *d;
    gan_rng rng;
    long allocs_before, frees_before, allocs_created;
    int step;

    alloc_count = free_count = 0;
    G[0] = gan_conv_transpose2d(Z, 8, 4, 1, 0, 0); /* 1x1 -> 4x4 */
    G[1] = gan_batchnorm(8);
    G[2] = gan_relu();
    G[3] = gan_conv_transpose2d(8, 1, 4, 2, 1, 0); /* 4x4 -> 8x8 */
    G[4] = gan_tanh();
    D[0] = gan_conv2d(1, 8, 4, 2, 1);           /* 8x8 -> 4x4 */
    D[1] = gan_leaky_relu(0.2f);
    D[2] = gan_dropout(0.3f);
    D[3] = gan_flatten();
    D[4] = gan_linear(8 * 16, 1);
    g = make_net(gan_chw(Z, 1, 1), G, 5, N, 91);
    d = make_net(gan_chw(1, 8, 8), D, 5, N, 92);
    if (!g || !d) {
        test_report("alloc.create", 0, "gan_net_create failed");
        gan_net_free(g);
        gan_net_free(d);
        return;
    }
    allocs_created = alloc_count;
    gan_net_set_optim(g, gan_adam(2e-4f, 0.5f, 0.999f));
    gan_net_set_optim(d, gan_adam(2e-4f, 0.5f, 0.999f));
    gan_rng_seed(&rng, 93);
    gan_fill_uniform(real, N * 64, -1, 1, &rng);

    allocs_before = alloc_count;
    frees_before = free_count;
    for (step = 0; step < STEPS; step++) {
        gan_tensor zt, rt, dyt;
        const gan_tensor *fake, *out, *dx;
        gan_fill_normal(z, N * Z, 0, 1, &rng);
        zt = gan_tensor_make(z, N, Z, 1, 1);
        rt = gan_tensor_make(real, N, 1, 8, 8);
        fake = gan_net_forward(g, &zt);

        gan_net_zero_grad(d);
        out = gan_net_forward(d, &rt);
        gan_bce_logits_const(grad_buf, out->data, 1, N);
        dyt = gan_tensor_make(grad_buf, N, 1, 1, 1);
        gan_net_backward(d, &dyt);
        out = gan_net_forward(d, fake);
        gan_bce_logits_const(grad_buf, out->data, 0, N);
        gan_net_backward(d, &dyt);
        gan_net_step(d);

        gan_net_zero_grad(g);
        out = gan_net_forward(d, fake);
        gan_bce_logits_const(grad_buf, out->data, 1, N);
        dx = gan_net_backward(d, &dyt);
        gan_net_backward(g, dx);
        gan_net_step(g);
    }
    printf("# alloc: %ld GAN_MALLOC calls to create two nets, %ld during %d training steps\n", allocs_created,
           alloc_count - allocs_before, STEPS);
    test_report("alloc.create_uses_GAN_MALLOC", allocs_created > 0,
                "gan_net_create never called GAN_MALLOC, so the counter proves nothing");
    test_report("alloc.none_in_forward_backward_step", alloc_count == allocs_before && free_count == frees_before,
                "%ld allocations and %ld frees during %d steps", alloc_count - allocs_before,
                free_count - frees_before, STEPS);
    gan_net_free(g);
    gan_net_free(d);
    test_report("alloc.free_releases_everything", free_count == alloc_count,
                "%ld GAN_MALLOC calls but %ld GAN_FREE calls", alloc_count, free_count);
}

/* ---- batches below max_batch --------------------------------------------------------------------- */

/* A net without BatchNorm or Dropout treats samples independently: a batch of 3 (samples 2..4) or of
   1 (sample 7, the last one) gives the same outputs, input gradients and parameter gradients as
   those samples inside a full batch of 8 whose other samples get zero output gradient. */
static void test_small_batch(void)
{
    enum { MAX = 8, IN = 2 * 36, OUT = 5, NP = 2048 };
    static gan_float x[MAX * IN], dy_full[MAX * OUT], y_full[MAX * OUT], dx_full[MAX * IN], g_full[NP];
    static const int first[2] = {2, 7}, count[2] = {3, 1};
    gan_layer L[6];
    gan_net *net;
    gan_rng rng;
    int trial, i, n;
    size_t off;

    L[0] = gan_conv2d(2, 4, 3, 2, 1);            /* 6x6 -> 3x3 */
    L[1] = gan_leaky_relu(0.1f);
    L[2] = gan_conv_transpose2d(4, 3, 4, 2, 1, 0); /* 3x3 -> 6x6 */
    L[3] = gan_tanh();
    L[4] = gan_flatten();
    L[5] = gan_linear(3 * 36, OUT);
    net = make_net(gan_chw(2, 6, 6), L, 6, MAX, 101);
    if (!net) {
        test_report("small_batch.create", 0, "gan_net_create failed");
        return;
    }
    n = gan_net_param_count(net);
    for (i = 0, off = 0; i < n; i++) off += gan_net_param(net, i).count;
    if (off > NP) {
        test_skip("small_batch", "the parameters hold %lu values, more than the %d this test keeps",
                  (unsigned long)off, (int)NP);
        gan_net_free(net);
        return;
    }
    gan_rng_seed(&rng, 102);
    gan_fill_normal(x, MAX * IN, 0, 1, &rng);

    for (trial = 0; trial < 2; trial++) {
        int f = first[trial], c = count[trial];
        gan_tensor full = gan_tensor_make(x, MAX, 2, 6, 6), part = gan_tensor_make(x + f * IN, c, 2, 6, 6);
        gan_tensor dfull = gan_tensor_make(dy_full, MAX, OUT, 1, 1), dpart;
        const gan_tensor *y, *dx;
        double dy_diff, dx_diff, g_diff = 0, g_scale = 0;
        char name[80];
        int shape_ok;

        /* output gradient only on the chosen samples */
        memset(dy_full, 0, sizeof dy_full);
        gan_fill_normal(dy_full + f * OUT, (size_t)c * OUT, 0, 1, &rng);
        dpart = gan_tensor_make(dy_full + f * OUT, c, OUT, 1, 1);

        gan_net_zero_grad(net);
        memcpy(y_full, gan_net_forward(net, &full)->data, sizeof y_full);
        memcpy(dx_full, gan_net_backward(net, &dfull)->data, sizeof dx_full);
        for (i = 0, off = 0; i < n; i++) {
            gan_param p = gan_net_param(net, i);
            memcpy(g_full + off, p.grad, p.count * sizeof(gan_float));
            off += p.count;
        }

        gan_net_zero_grad(net);
        y = gan_net_forward(net, &part);
        shape_ok = y->n == c && gan_net_output(net)->n == c && net->batch == c;
        dy_diff = max_abs_diff(y->data, y_full + f * OUT, (size_t)c * OUT);
        dx = gan_net_backward(net, &dpart);
        shape_ok = shape_ok && dx->n == c && dx->c == 2 && dx->h == 6 && dx->w == 6;
        dx_diff = max_abs_diff(dx->data, dx_full + f * IN, (size_t)c * IN);
        for (i = 0, off = 0; i < n; i++) {
            gan_param p = gan_net_param(net, i);
            double dd = max_abs_diff(p.grad, g_full + off, p.count), sc = max_abs(g_full + off, p.count);
            if (dd > g_diff) g_diff = dd;
            if (sc > g_scale) g_scale = sc;
            off += p.count;
        }
        snprintf(name, sizeof name, "small_batch.n%d_matches_full_batch", c);
        test_report(name, shape_ok && dy_diff <= 1e-6 && dx_diff <= 1e-6 && g_diff <= 1e-5 * g_scale,
                    "batch of %d at sample %d: shapes ok %d, output differs by %g, dL/dx by %g, "
                    "parameter gradients by %g (largest %g)", c, f, shape_ok, dy_diff, dx_diff, g_diff, g_scale);
    }
    gan_net_free(net);
}

int main(void)
{
    clock_t start = clock();
    test_overfit_mlp();
    test_overfit_conv();
    test_overfit_generator();
    test_determinism();
    test_param_list();
    test_grad_accumulation();
    test_train_eval_modes();
    test_init_schemes();
    test_no_allocation();
    test_small_batch();
    printf("# test_train: %.2f s of CPU time\n", (double)(clock() - start) / CLOCKS_PER_SEC);
    return test_finish();
}
