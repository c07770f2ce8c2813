/* tests/test_grad.c - finite-difference checks of every layer's and every loss's gradients, in double.

   A network check builds a small network (or a generator feeding a discriminator), draws an input x
   and a fixed weight r, and takes the scalar L = sum(r .* output), so dL/doutput = r (or the BCE
   loss of the output, for the two-network chain). Backward gives dL/dx and dL/dparameters; the
   five-point central difference
       L'(v) ~ (8 (L(v + h) - L(v - h)) - (L(v + 2h) - L(v - 2h))) / (12 h)
   estimates each of them element by element. Its truncation error is h^4 L^(5)(v) / 30 and its
   rounding error about 18 eps |L| / (12 h): with h = 1e-4 both are near 1e-12 for these small
   networks. Measured against the floor below, the worst passing error is about 2e-8, fifty times
   below the threshold, so a failure is a wrong gradient and not noise.

   The error of an analytic gradient a against the numeric n (one tensor of count values) is
       max_i |a_i - n_i| / max(|a_i| + |n_i|, 1e-3 max_j (|a_j| + |n_j|)).
   It is elementwise, so one wrong element among thousands shows at its full size (a normwise ratio
   would dilute it by sqrt(count)); the floor keeps an element whose gradient cancels to about 0
   from turning rounding noise into a large ratio (0 / 0 at worst). A tensor passes below 1e-6. The
   self-tests at the end plant single errors in correct gradients and show the checker rejects them.

   ReLU and LeakyReLU have kinks: every forward records on which side of 0 each of their inputs fell,
   and a difference whose evaluations cross a kink is redone with a 100 times smaller step. */
#define GAN_DOUBLE
#define GAN_IMPLEMENTATION
#include "../gan.h"
#define GRADCHECK_PREFIX "grad"
#include "gradcheck.h" /* TOL, STEP (the step for networks), grad_error, report_error, make_norm_net */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOSS_STEP 1e-2  /* losses: |L| reaches 1e5 (MSE at x = 1000), so rounding eps |L| / h needs a
                           larger h; truncation stays ~1e-10 (MSE is quadratic, softplus''''' <= 1/8) */
#define MAX_TENSORS 24

/* ---- a chain of networks and its scalar loss ----------------------------------------------------- */

typedef struct chain {
    gan_net *net[2];
    int n_nets, batch;
    gan_float *x, *r;      /* the input; the weight of each output value in the loss */
    size_t nx, ny;
    int bce;               /* 0: L = sum(r .* y); 1: L = gan_bce_logits_const(y, 1) */
    gan_rng *streams;      /* every layer's rng before the first forward, restored before each one */
    unsigned char *side;   /* which side of 0 each ReLU / LeakyReLU input fell on in the analytic pass */
    size_t nside;
    int recording, crossed;
} chain;

/* Takes the networks (which it frees in chain_free); x uniform on [-1.5, 1.5], r on [-1, 1]. */
static void chain_init(chain *c, gan_net *a, gan_net *b, int batch, int bce, uint64_t seed)
{
    gan_rng rng;
    int j, l, k = 0;
    memset(c, 0, sizeof *c);
    c->net[0] = a;
    c->net[1] = b;
    c->n_nets = b ? 2 : 1;
    c->batch = batch;
    c->bce = bce;
    c->nx = (size_t)batch * shape_count(gan_net_input_shape(a, 0));
    {
        gan_net *last = c->net[c->n_nets - 1];
        c->ny = (size_t)batch * shape_count(last->layers[last->n_layers - 1].out);
    }
    c->x = xcalloc(c->nx, sizeof *c->x);
    c->r = xcalloc(c->ny, sizeof *c->r);
    gan_rng_seed(&rng, seed);
    gan_fill_uniform(c->x, c->nx, -1.5, 1.5, &rng);
    gan_fill_uniform(c->r, c->ny, -1, 1, &rng);
    c->streams = xcalloc((size_t)(a->n_layers + (b ? b->n_layers : 0)), sizeof *c->streams);
    for (j = 0; j < c->n_nets; j++)
        for (l = 0; l < c->net[j]->n_layers; l++) {
            c->streams[k++] = gan_net_layer(c->net[j], l)->rng;
            if (is_kink(c->net[j]->layers[l].kind)) c->nside += (size_t)batch * shape_count(c->net[j]->layers[l].in);
        }
    c->side = xcalloc(c->nside, 1);
}

static void chain_free(chain *c)
{
    int j;
    for (j = 0; j < c->n_nets; j++) gan_net_free(c->net[j]);
    free(c->x);
    free(c->r);
    free(c->streams);
    free(c->side);
}

/* Runs the chain from the saved rng streams (so Dropout draws the same mask every time) and returns
   L; records or compares the sides of the ReLU / LeakyReLU inputs. */
static double chain_loss(chain *c)
{
    gan_tensor in = gan_tensor_make(c->x, c->batch, gan_net_input_shape(c->net[0], 0).c, gan_net_input_shape(c->net[0], 0).h,
                                   gan_net_input_shape(c->net[0], 0).w);
    const gan_tensor *y = &in;
    long double sum = 0;
    size_t i, s = 0;
    int j, l, k = 0;
    for (j = 0; j < c->n_nets; j++) {
        gan_net *net = c->net[j];
        for (l = 0; l < net->n_layers; l++) gan_net_layer(net, l)->rng = c->streams[k++];
        y = gan_net_forward(net, y);
        for (l = 0; l < net->n_layers; l++) {
            size_t m = (size_t)c->batch * shape_count(net->layers[l].in);
            if (!is_kink(net->layers[l].kind)) continue;
            for (i = 0; i < m; i++, s++) {
                /* the layer's output has its input's sign (ReLU, and LeakyReLU with slope >= 0) */
                unsigned char positive = gan_net_layer_output(net, l)->data[i] > 0;
                if (c->recording)
                    c->side[s] = positive;
                else if (c->side[s] != positive)
                    c->crossed = 1;
            }
        }
    }
    if (c->bce) return gan_bce_logits_const(NULL, y->data, 1, c->ny);
    for (i = 0; i < c->ny; i++) sum += (long double)c->r[i] * y->data[i];
    return (double)sum;
}

static double chain_loss_of(void *c) { return chain_loss((chain *)c); }

/* dL/dv by the five-point difference; NaN if even the 100 times smaller step crosses a kink. */
static double numeric(chain *c, gan_float *v, int *unresolved)
{
    fd_loss fd = fd_loss_of(chain_loss_of, c, &c->crossed, 2, 0.01);
    double d = five_point(&fd, v);
    if (d != d) (*unresolved)++;
    return d;
}

/* Analytic and numeric gradients of L for the input and every parameter of every network. */
typedef struct grads {
    int count;
    char name[MAX_TENSORS][48];
    gan_float *ana[MAX_TENSORS], *num[MAX_TENSORS];
    size_t n[MAX_TENSORS];
    int unresolved;
} grads;

static void grads_add(grads *g, const char *name, size_t n)
{
    if (g->count == MAX_TENSORS) {
        printf("FAIL grad: more than %d tensors in one check\n", MAX_TENSORS);
        exit(1);
    }
    sprintf(g->name[g->count], "%.47s", name);
    g->ana[g->count] = xcalloc(n, sizeof(gan_float));
    g->num[g->count] = xcalloc(n, sizeof(gan_float));
    g->n[g->count] = n;
    g->count++;
}

static void grads_free(grads *g)
{
    int t;
    for (t = 0; t < g->count; t++) {
        free(g->ana[t]);
        free(g->num[t]);
    }
    g->count = 0;
}

static void chain_grads(chain *c, grads *g)
{
    gan_net *last = c->net[c->n_nets - 1];
    gan_shape out = last->layers[last->n_layers - 1].out;
    gan_float *dy = xcalloc(c->ny, sizeof *dy);
    gan_tensor dyt = gan_tensor_make(dy, c->batch, out.c, out.h, out.w);
    const gan_tensor *d = &dyt;
    size_t i;
    int j, p, t;

    memset(g, 0, sizeof *g);
    c->recording = 1;
    chain_loss(c);
    c->recording = 0;
    if (c->bce)
        gan_bce_logits_const(dy, gan_net_output(last)->data, 1, c->ny);
    else
        memcpy(dy, c->r, c->ny * sizeof *dy);
    for (j = 0; j < c->n_nets; j++) gan_net_zero_grad(c->net[j]);
    for (j = c->n_nets - 1; j >= 0; j--) d = gan_net_backward(c->net[j], d);

    grads_add(g, "input", c->nx);
    memcpy(g->ana[0], d->data, c->nx * sizeof(gan_float));
    for (j = 0; j < c->n_nets; j++)
        for (p = 0; p < gan_net_param_count(c->net[j]); p++) {
            gan_param prm = gan_net_param(c->net[j], p);
            char name[48];
            sprintf(name, "%s%d.%.20s", c->n_nets == 1 ? "" : j == 0 ? "G:" : "D:", prm.layer, prm.role);
            grads_add(g, name, prm.count);
            memcpy(g->ana[g->count - 1], prm.grad, prm.count * sizeof(gan_float));
        }

    for (i = 0; i < c->nx; i++) g->num[0][i] = numeric(c, &c->x[i], &g->unresolved);
    t = 1;
    for (j = 0; j < c->n_nets; j++)
        for (p = 0; p < gan_net_param_count(c->net[j]); p++, t++) {
            gan_param prm = gan_net_param(c->net[j], p);
            for (i = 0; i < prm.count; i++) g->num[t][i] = numeric(c, &prm.data[i], &g->unresolved);
        }
    free(dy);
}

/* One report per tensor, named "grad <check> <tensor>". Elements whose difference could not avoid a
   kink are left out (they would be NaN) and counted in a skip line. */
static void grads_report(const char *check, grads *g)
{
    int t;
    size_t i;
    for (t = 0; t < g->count; t++) {
        char name[160];
        for (i = 0; i < g->n[t]; i++)
            if (g->num[t][i] != g->num[t][i]) g->num[t][i] = g->ana[t][i];
        sprintf(name, "grad %.100s %.47s", check, g->name[t]);
        report_error(name, g->ana[t], g->num[t], g->n[t]);
    }
    if (g->unresolved) {
        char name[160];
        sprintf(name, "grad %.100s elements at a kink", check);
        test_skip(name, "%d elements sit within 2e-6 of a ReLU / LeakyReLU kink and were left out", g->unresolved);
    }
}

/* ---- building the networks --------------------------------------------------------------------- */

/* A network with PyTorch's initialization, then norm layers given weights in [0.5, 1.5] and biases in
   [-0.5, 0.5] (so gamma = 1, beta = 0 cannot hide a missing factor), and in evaluation mode running
   means in [-1, 1] and variances in [0.5, 2]. */
static gan_net *make_net(gan_shape in, const gan_layer *layers, int n_layers, int batch, int training,
                         uint64_t seed)
{
    gan_rng rng;
    gan_net *net;
    int p;
    gan_rng_seed(&rng, seed);
    net = make_norm_net(in, layers, n_layers, batch, &rng);
    for (p = 0; p < gan_net_buffer_count(net); p++) {
        gan_param buf = gan_net_buffer(net, p);
        if (strcmp(buf.role, "running_mean") == 0)
            gan_fill_uniform(buf.data, buf.count, -1, 1, &rng);
        else if (strcmp(buf.role, "running_var") == 0)
            gan_fill_uniform(buf.data, buf.count, 0.5, 2, &rng);
    }
    gan_net_set_training(net, training);
    return net;
}

/* Checks one network and reports; keeps the chain and gradients for the caller if asked. */
static void check_net(const char *check, gan_shape in, const gan_layer *layers, int n_layers, int batch,
                      int training, uint64_t seed, chain *keep_chain, grads *keep_grads)
{
    chain c;
    grads g;
    chain_init(&c, make_net(in, layers, n_layers, batch, training, seed), NULL, batch, 0, seed + 1);
    chain_grads(&c, &g);
    grads_report(check, &g);
    if (keep_chain)
        *keep_chain = c;
    else
        chain_free(&c);
    if (keep_grads)
        *keep_grads = g;
    else
        grads_free(&g);
}

/* ---- layers one at a time ---------------------------------------------------------------------- */

static void test_linear(void)
{
    gan_layer l[1];
    l[0] = gan_linear(7, 5);
    check_net("linear 7->5 batch 3", gan_chw(7, 1, 1), l, 1, 3, 1, 10, NULL, NULL);
    l[0] = gan_no_bias(gan_linear(5, 3));
    check_net("linear 5->3 no bias batch 2", gan_chw(5, 1, 1), l, 1, 2, 1, 11, NULL, NULL);
}

static void test_conv(grads *keep)
{
    gan_layer l[1];
    l[0] = gan_conv2d(2, 3, 3, 2, 1);
    check_net("conv2d 2->3 k3 s2 p1 on 7x9 batch 2", gan_chw(2, 7, 9), l, 1, 2, 1, 20, NULL, keep);
    l[0] = gan_conv2d(3, 2, 4, 2, 1);
    check_net("conv2d 3->2 k4 s2 p1 on 9x7 batch 3", gan_chw(3, 9, 7), l, 1, 3, 1, 21, NULL, NULL);
    l[0] = gan_conv2d(3, 4, 1, 1, 0);
    check_net("conv2d 3->4 k1 s1 p0 on 3x5 batch 2", gan_chw(3, 3, 5), l, 1, 2, 1, 22, NULL, NULL);
    l[0] = gan_conv2d(2, 3, 5, 3, 2);
    check_net("conv2d 2->3 k5 s3 p2 on 11x8 batch 2", gan_chw(2, 11, 8), l, 1, 2, 1, 23, NULL, NULL);
    l[0] = gan_no_bias(gan_conv2d(3, 2, 3, 1, 1));
    check_net("conv2d 3->2 k3 s1 p1 no bias on 5x6 batch 3", gan_chw(3, 5, 6), l, 1, 3, 1, 24, NULL, NULL);
}

static void test_conv_transpose(void)
{
    gan_layer l[1];
    l[0] = gan_conv_transpose2d(3, 2, 4, 2, 1, 0);
    check_net("convT 3->2 k4 s2 p1 on 4x5 batch 2", gan_chw(3, 4, 5), l, 1, 2, 1, 30, NULL, NULL);
    l[0] = gan_conv_transpose2d(2, 3, 3, 2, 1, 1);
    check_net("convT 2->3 k3 s2 p1 op1 on 3x5 batch 3", gan_chw(2, 3, 5), l, 1, 3, 1, 31, NULL, NULL);
    l[0] = gan_conv_transpose2d(2, 3, 3, 1, 0, 0);
    check_net("convT 2->3 k3 s1 p0 on 5x3 batch 2", gan_chw(2, 5, 3), l, 1, 2, 1, 32, NULL, NULL);
    l[0] = gan_conv_transpose2d(3, 2, 5, 3, 2, 2);
    check_net("convT 3->2 k5 s3 p2 op2 on 3x4 batch 2", gan_chw(3, 3, 4), l, 1, 2, 1, 33, NULL, NULL);
    l[0] = gan_no_bias(gan_conv_transpose2d(2, 2, 4, 2, 1, 0));
    check_net("convT 2->2 k4 s2 p1 no bias on 3x3 batch 2", gan_chw(2, 3, 3), l, 1, 2, 1, 34, NULL, NULL);
}

static void test_norms(chain *keep_chain, grads *keep)
{
    gan_layer l[1];
    l[0] = gan_batchnorm(5);
    check_net("batchnorm1d 5 features training batch 4", gan_chw(5, 1, 1), l, 1, 4, 1, 40, NULL, NULL);
    l[0] = gan_batchnorm(3);
    check_net("batchnorm2d 3 channels 5x7 training batch 2", gan_chw(3, 5, 7), l, 1, 2, 1, 41, keep_chain, keep);
    check_net("batchnorm2d 3 channels 5x7 eval batch 2", gan_chw(3, 5, 7), l, 1, 2, 0, 42, NULL, NULL);
    l[0] = gan_batchnorm(5);
    check_net("batchnorm1d 5 features eval batch 3", gan_chw(5, 1, 1), l, 1, 3, 0, 43, NULL, NULL);
    l[0] = gan_layernorm();
    check_net("layernorm over 3x4x5 batch 3", gan_chw(3, 4, 5), l, 1, 3, 1, 44, NULL, NULL);
    check_net("layernorm over 7x1x1 batch 2 eval", gan_chw(7, 1, 1), l, 1, 2, 0, 45, NULL, NULL);
}

/* An elementwise layer on inputs kept at least 0.1 away from 0 (the ReLU kinks). */
static void check_activation(const char *check, gan_layer layer, uint64_t seed)
{
    chain c;
    grads g;
    size_t i;
    chain_init(&c, make_net(gan_chw(3, 5, 3), &layer, 1, 2, 1, seed), NULL, 2, 0, seed + 1);
    for (i = 0; i < c.nx; i++) c.x[i] = (c.x[i] < 0 ? -0.1 : 0.1) + 2 * c.x[i];
    chain_grads(&c, &g);
    grads_report(check, &g);
    grads_free(&g);
    chain_free(&c);
}

static void test_activations(void)
{
    check_activation("relu", gan_relu(), 50);
    check_activation("leaky_relu 0.2", gan_leaky_relu(0.2), 51);
    check_activation("tanh", gan_tanh(), 52);
    check_activation("sigmoid", gan_sigmoid(), 53);
}

static void test_dropout(void)
{
    gan_layer l[1];
    chain c;
    grads g;
    size_t i, dropped = 0, zeros_in = 0;
    const gan_tensor *y;
    l[0] = gan_dropout(0.3);
    check_net("dropout 0.3 training", gan_chw(4, 3, 5), l, 1, 2, 1, 60, &c, &g);
    /* the check above means something only if the mask both dropped and kept values */
    chain_loss(&c);
    y = gan_net_output(c.net[0]);
    for (i = 0; i < c.nx; i++) {
        dropped += y->data[i] == 0;
        zeros_in += c.x[i] == 0;
    }
    test_report("dropout 0.3 training drops some values and keeps others", zeros_in == 0 && dropped > 0 && dropped < c.nx,
                "%zu of %zu values dropped", dropped, c.nx);
    grads_free(&g);
    chain_free(&c);
    check_net("dropout 0.3 eval", gan_chw(4, 3, 5), l, 1, 2, 0, 61, NULL, NULL);
}

static void test_shapes(void)
{
    gan_layer l[2];
    l[0] = gan_reshape(4, 3, 5);
    check_net("reshape 2x5x6 -> 4x3x5", gan_chw(2, 5, 6), l, 1, 2, 1, 70, NULL, NULL);
    l[0] = gan_flatten();
    check_net("flatten 2x3x5", gan_chw(2, 3, 5), l, 1, 3, 1, 71, NULL, NULL);
    l[0] = gan_upsample2x();
    check_net("upsample2x 2x3x5", gan_chw(2, 3, 5), l, 1, 2, 1, 72, NULL, NULL);
    l[0] = gan_flatten();
    l[1] = gan_linear(30, 4);
    check_net("flatten then linear 30->4", gan_chw(2, 3, 5), l, 2, 3, 1, 73, NULL, NULL);
}

/* ---- several layers, and two networks ---------------------------------------------------------- */

static void test_multilayer(void)
{
    gan_layer d[5], g[9], e[6];
    /* conv -> BN -> leaky -> flatten -> linear; the conv has no bias, since BatchNorm in training mode
       removes any per-channel constant and that bias's gradient would be exactly 0 */
    d[0] = gan_no_bias(gan_conv2d(2, 4, 3, 2, 1));
    d[1] = gan_batchnorm(4);
    d[2] = gan_leaky_relu(0.2);
    d[3] = gan_flatten();
    d[4] = gan_linear(4 * 4 * 5, 3);
    check_net("chain conv-bn-leaky-flatten-linear batch 3", gan_chw(2, 7, 9), d, 5, 3, 1, 80, NULL, NULL);

    g[0] = gan_linear(6, 18);
    g[1] = gan_reshape(3, 2, 3);
    g[2] = gan_upsample2x();
    g[3] = gan_no_bias(gan_conv2d(3, 4, 3, 1, 1));
    g[4] = gan_batchnorm(4);
    g[5] = gan_relu();
    g[6] = gan_conv_transpose2d(4, 2, 3, 2, 1, 1);
    g[7] = gan_sigmoid();
    g[8] = gan_tanh();
    check_net("chain linear-reshape-up-conv-bn-relu-convT-sigmoid-tanh batch 2", gan_chw(6, 1, 1), g, 9, 2, 1, 81,
              NULL, NULL);

    e[0] = gan_conv2d(1, 3, 4, 2, 1);
    e[1] = gan_layernorm();
    e[2] = gan_leaky_relu(0.2);
    e[3] = gan_dropout(0.25);
    e[4] = gan_flatten();
    e[5] = gan_linear(3 * 4 * 4, 2);
    check_net("chain conv-layernorm-leaky-dropout-flatten-linear batch 3", gan_chw(1, 9, 9), e, 6, 3, 1, 82, NULL,
              NULL);
}

/* G then D, with D's input gradient handed to G's backward, under the generator's loss
   BCE(D(G(z)), 1); G's parameters are checked against differences of the whole composite. */
static void test_two_networks(void)
{
    gan_layer g[6], d[4];
    chain c;
    grads gr;
    const int batch = 4;
    g[0] = gan_no_bias(gan_linear(5, 18));
    g[1] = gan_batchnorm(18);
    g[2] = gan_tanh();
    g[3] = gan_reshape(2, 3, 3);
    g[4] = gan_conv_transpose2d(2, 3, 4, 2, 1, 0);
    g[5] = gan_tanh();
    d[0] = gan_conv2d(3, 4, 3, 2, 1);
    d[1] = gan_leaky_relu(0.2);
    d[2] = gan_flatten();
    d[3] = gan_linear(4 * 3 * 3, 1);
    chain_init(&c, make_net(gan_chw(5, 1, 1), g, 6, batch, 1, 90), make_net(gan_chw(3, 6, 6), d, 4, batch, 1, 91),
               batch, 1, 92);
    chain_grads(&c, &gr);
    grads_report("G->D under BCE(D(G(z)), 1)", &gr);
    grads_free(&gr);
    chain_free(&c);
}

/* ---- losses ------------------------------------------------------------------------------------ */

enum { BCE, BCE_CONST, MSE, MSE_CONST };

static gan_float loss_call(int kind, gan_float *grad, const gan_float *x, const gan_float *t, gan_float tc, size_t n)
{
    switch (kind) {
    case BCE: return gan_bce_logits(grad, x, t, n);
    case BCE_CONST: return gan_bce_logits_const(grad, x, tc, n);
    case MSE: return gan_mse(grad, x, t, n);
    default: return gan_mse_const(grad, x, tc, n);
    }
}

/* A loss on logits from -1000 to 1000 (e^1000 overflows a double, and BCE must stay finite), with
   targets 0, 1 and between: the value against the plain formulas log(1 + e^x) - x t and (x - t)^2 in
   long double, the gradient against (sigmoid(x) - t) / n and 2 (x - t) / n in long double, and
   against five-point differences of the returned mean. */
static void check_loss(const char *what, int kind, gan_float tc)
{
    static const gan_float xs[] = {-1000, -500, -50, -7.25, -3.7, -1.1, -0.4, 0, 0.25, 0.9, 2.9, 6.5, 50, 500, 1000};
    static const gan_float ts[] = {1, 0, 1, 0.3, 1, 0, 0.8, 0.5, 1, 0.1, 0, 1, 0, 1, 0};
    const size_t n = GAN_COUNT(xs);
    static const double at[4] = {2, 1, -1, -2};
    gan_float x[GAN_COUNT(xs)], grad[GAN_COUNT(xs)], num[GAN_COUNT(xs)];
    const gan_float *t = ts;
    long double ref = 0, mag = 0;
    double worst_formula = 0;
    gan_float value;
    size_t i;
    int k, finite = 1;
    char name[160];
    int is_bce = kind == BCE || kind == BCE_CONST;

    memcpy(x, xs, sizeof x);
    for (i = 0; i < n; i++) grad[i] = NAN;
    value = loss_call(kind, grad, x, t, tc, n);

    for (i = 0; i < n; i++) {
        long double xi = x[i], ti = kind == BCE || kind == MSE ? t[i] : tc, term, g;
        if (is_bce) {
            /* log(1 + e^x) as written while e^x fits a long double; past that (where long double is
               only double) the identical x + log(1 + e^-x) */
            long double softplus = isfinite(expl(xi)) ? log1pl(expl(xi)) : xi + log1pl(expl(-xi));
            term = softplus - xi * ti;
            mag += softplus + fabsl(xi * ti);
            g = (1 / (1 + expl(-xi)) - ti) / n;
        } else {
            term = (xi - ti) * (xi - ti);
            mag += term;
            g = 2 * (xi - ti) / n;
        }
        ref += term;
        /* error relative to the gradient's scale 1 / n, so saturated ~1e-218 values compare sensibly */
        {
            double e = (double)(fabsl(grad[i] - g) / (fabsl(g) + 1.0L / n));
            if (e != e) e = HUGE_VAL;
            if (e > worst_formula) worst_formula = e;
        }
        if (!isfinite(grad[i])) finite = 0;
    }
    ref /= n;
    mag /= n;

    sprintf(name, "loss %s value and gradient are finite for |x| up to 1000", what);
    test_report(name, finite && isfinite(value), "value %g", (double)value);
    sprintf(name, "loss %s value equals the long double formula", what);
    test_report(name, fabsl(value - ref) <= 1e-13L * mag, "value %.17g, formula %.17Lg", (double)value, ref);
    sprintf(name, "loss %s gradient equals the long double formula", what);
    test_report(name, worst_formula < 1e-13, "worst relative error %.3g", worst_formula);

    for (i = 0; i < n; i++) {
        const gan_float x0 = x[i];
        double f[4];
        for (k = 0; k < 4; k++) {
            x[i] = x0 + at[k] * LOSS_STEP;
            f[k] = loss_call(kind, NULL, x, t, tc, n);
        }
        x[i] = x0;
        num[i] = (8 * (f[1] - f[2]) - (f[0] - f[3])) / (12 * LOSS_STEP);
    }
    sprintf(name, "grad loss %s", what);
    report_error(name, grad, num, n);
}

static void test_losses(void)
{
    check_loss("bce_logits", BCE, 0);
    check_loss("bce_logits_const target 1", BCE_CONST, 1);
    check_loss("bce_logits_const target 0", BCE_CONST, 0);
    check_loss("mse", MSE, 0);
    check_loss("mse_const target 0.25", MSE_CONST, 0.25);
}

/* ---- the checker catches single errors --------------------------------------------------------- */

/* dL/dx of BatchNorm in training mode, written out here: with xhat = (x - mean) istd over the m
   values of a channel, dx = gamma istd (dy - sum(dy) / m_mean - xhat sum(dy xhat) / m).
   m_mean = m and eps = 1e-5 is the right formula; m_mean = m + 1 or eps = 0 each plant one wrong term. */
static void bn_reference_dx(gan_float *dx, const chain *c, const gan_float *gamma, double count_extra, double eps)
{
    const gan_net *net = c->net[0];
    gan_shape in = gan_net_input_shape(net, 0);
    int ch, C = in.c, n, N = c->batch;
    size_t hw = (size_t)in.h * in.w, i;
    for (ch = 0; ch < C; ch++) {
        double m = (double)N * hw, mean = 0, var = 0, sdy = 0, sdyx = 0, istd;
        for (n = 0; n < N; n++)
            for (i = 0; i < hw; i++) mean += c->x[((size_t)n * C + ch) * hw + i];
        mean /= m;
        for (n = 0; n < N; n++)
            for (i = 0; i < hw; i++) {
                double d = c->x[((size_t)n * C + ch) * hw + i] - mean;
                var += d * d;
            }
        var /= m;
        istd = 1 / sqrt(var + eps);
        for (n = 0; n < N; n++)
            for (i = 0; i < hw; i++) {
                size_t at = ((size_t)n * C + ch) * hw + i;
                sdy += c->r[at];
                sdyx += c->r[at] * (c->x[at] - mean) * istd;
            }
        for (n = 0; n < N; n++)
            for (i = 0; i < hw; i++) {
                size_t at = ((size_t)n * C + ch) * hw + i;
                double xhat = (c->x[at] - mean) * istd;
                dx[at] = gamma[ch] * istd * (c->r[at] - sdy / (m + count_extra) - xhat * sdyx / m);
            }
    }
}

static void test_self(const chain *bn_chain, const grads *bn, const grads *conv)
{
    gan_float *ref = xcalloc(bn->n[0], sizeof *ref);
    gan_param gamma = gan_net_param(bn_chain->net[0], 0);
    size_t at, i, med;
    double e;
    int t;

    /* the reference formula passes against the numeric gradient: the planted errors below are the only
       difference */
    bn_reference_dx(ref, bn_chain, gamma.data, 0, 1e-5);
    e = grad_error(ref, bn->num[0], bn->n[0], &at);
    test_report("selftest checker accepts BatchNorm dx written out in the test", strcmp(gamma.role, "weight") == 0 && e < TOL,
                "error %.3g (param 0 role %s)", e, gamma.role);
    bn_reference_dx(ref, bn_chain, gamma.data, 1, 1e-5);
    e = grad_error(ref, bn->num[0], bn->n[0], &at);
    test_report("selftest checker rejects BatchNorm dx with sum(dy) / (m + 1)", e > TOL, "error only %.3g", e);
    printf("# selftest: BatchNorm dx with sum(dy) / (m + 1) has error %.3g\n", e);
    bn_reference_dx(ref, bn_chain, gamma.data, 0, 0);
    e = grad_error(ref, bn->num[0], bn->n[0], &at);
    test_report("selftest checker rejects BatchNorm dx without eps in the square root", e > TOL, "error only %.3g", e);
    printf("# selftest: BatchNorm dx without eps has error %.3g\n", e);
    free(ref);

    /* one element of each conv gradient off by a relative 1e-4: the largest, and the median in size */
    for (t = 0; t < conv->count; t++) {
        gan_float *a = xcalloc(conv->n[t], sizeof *a);
        size_t big = 0, below, j;
        char name[160];
        for (i = 0; i < conv->n[t]; i++)
            if (fabs(conv->ana[t][i]) > fabs(conv->ana[t][big])) big = i;
        /* the median: the element with as many smaller magnitudes as larger ones */
        med = 0;
        for (i = 0; i < conv->n[t]; i++) {
            below = 0;
            for (j = 0; j < conv->n[t]; j++) below += fabs(conv->ana[t][j]) < fabs(conv->ana[t][i]);
            if (below == conv->n[t] / 2) {
                med = i;
                break;
            }
        }
        memcpy(a, conv->ana[t], conv->n[t] * sizeof *a);
        a[big] *= 1 + 1e-4;
        e = grad_error(a, conv->num[t], conv->n[t], &at);
        sprintf(name, "selftest checker rejects conv2d %.40s grad with its largest element off by 1e-4", conv->name[t]);
        test_report(name, e > TOL, "error only %.3g", e);
        memcpy(a, conv->ana[t], conv->n[t] * sizeof *a);
        a[med] *= 1 + 1e-4;
        e = grad_error(a, conv->num[t], conv->n[t], &at);
        sprintf(name, "selftest checker rejects conv2d %.40s grad with its median element off by 1e-4", conv->name[t]);
        test_report(name, e > TOL, "error only %.3g", e);
        free(a);
    }
}

int main(void)
{
    chain bn_chain;
    grads bn, conv;
    test_linear();
    test_conv(&conv);
    test_conv_transpose();
    test_norms(&bn_chain, &bn);
    test_activations();
    test_dropout();
    test_shapes();
    test_multilayer();
    test_two_networks();
    test_losses();
    test_self(&bn_chain, &bn, &conv);
    grads_free(&bn);
    grads_free(&conv);
    chain_free(&bn_chain);
    printf("# grad: worst relative error among passing checks %.3g (%s)\n", worst_pass, worst_pass_name);
    return test_finish();
}
