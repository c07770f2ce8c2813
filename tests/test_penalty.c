/* tests/test_penalty.c - gradient penalties (gan_net_penalty) against finite differences.

   For a critic D with image input x and per-sample gradients g_i = dD(x_i)/dx_i (all C H W values
   of sample i), the four kinds are
       WGAN-GP     P = w mean_i (||g_i|| - 1)^2
       one-sided   P = w mean_i max(0, ||g_i|| - 1)^2
       R1, R2      P = w / 2 mean_i ||g_i||^2          (R2 checked at another weight than R1)
   and gan_net_penalty returns P and adds dP/dparameters to the parameter gradients. This file checks:

     1. dP/dparameters of every parameter tensor against the five-point central difference of P
        itself (each P recomputed with gan_net_penalty), for all four kinds, in double, at batch 3
        or 4 (below max_batch 5, or equal to max_batch for (e), (h), (i), (j)), on critics that
        together pass every node kind through the penalty:
          (a) the reference WGAN-GP critic, small: Conv2d(1,4,4,2,1), LeakyReLU(0.2),
              Conv2d(4,8,4,2,1), LayerNorm, LeakyReLU(0.2), Flatten, Linear(32,1) on 1x8x8;
          (b) an MLP with Tanh and Sigmoid;
          (c) a projection discriminator psi(h) + <Embedding(label), h> with AvgPool2x, the label
              as input 0 and the image as input 1 (wrt = 1);
          (d) BatchNorm (2d, 2d without affine, and 1d) and Dropout in evaluation mode, with random
              running statistics;
          (e) concat of the image with a label-derived map (Embedding, Reshape), Mul gating with a
              (C, 1, 1) broadcast (an x-dependent gate, and a label gain as the broadcast first
              operand), ConvTranspose2d, Upsample2x, Scale, an Add residual skip, a label bias
              added with broadcast, and a node (the first conv's Tanh) feeding three consumers;
          (f) LayerNorm without affine, once straight on the image; the image straight into Add
              and into Mul with a (1, H, W) map (four consumers of the input);
          (g) BatchNorm in *training* mode off x's path (on a label embedding): allowed, and its
              batch statistics couple only the labels;
          (h) two outputs (an AC-GAN head reading the first output too): only the first is penalized;
          (i) joins reading one node twice (h * h, [h, h * h, h], <f, f>), an x-dependent (C, 1, 1)
              added with broadcast, and Tanh as the output node;
          (j) a conditional critic D(cond, x): a second image input held fixed, concatenated;
          (z) a critic whose ReLUs are dead for some samples (g_i = 0 there) and alive for another.
        Norm layers get weights in [0.5, 1.5] and biases in [-0.5, 0.5]; the layers producing the
        output are scaled so that the per-sample norms are O(1) and lie on both sides of 1.
        A tensor whose numeric gradient is zero to rounding (a bias that only moves a kink, a last
        bias, the second output's head) must have an analytic gradient that is zero too: a
        separate check, since the relative error of 0 against rounding noise means nothing.
     2. P itself against an independent computation: g_i by five-point differences of D's outputs
        (gan_net_forward_multi) in each image value, then the formulas above; relative 1e-8. The
        norms are printed ("# ..." lines) and must lie on both sides of 1, each at least 0.02 from
        it, so the one-sided kind runs both of its branches.
     3. Zero input gradient (all ReLUs dead, x through Scale(0)): P and every parameter gradient
        finite; P = w exactly for WGAN-GP and 0 for the others; every gradient exactly 0.
     4. Refusals, each returning 0 with parameter gradients and running statistics untouched:
        BatchNorm or Dropout in training mode between x and the first output (gan_last_error() names
        the node given by gan_name), a network built without GAN_BUILD_PENALTY (graph, or
        gan_net_create), a first output with more than one value per sample, an x that does not reach
        the first output (D does not read it, or only a second output does); the same BatchNorm and
        Dropout in evaluation mode are accepted, and so is training-mode BatchNorm in an auxiliary
        head that does not reach the first output.
     5. It adds: random gradients before + the penalty's own = after (1e-14 relative); two calls
        give twice the gradient; a loss's backward then the penalty give the sum; a frozen layer
        gets no penalty gradient while P and the other gradients are bitwise unchanged; BatchNorm's
        running statistics and Dropout's stream are unchanged by a penalty in evaluation mode.
        Also: batch 4 is the mean of its two halves at batch 2 (every kind is a mean of per-sample
        terms), batch 4 again after batches 2 and 1 is bitwise the first, and a backward right
        after a penalty is bitwise the backward of a forward at the same inputs.
     6. Self-tests: the checker rejects the analytic gradient of a weight 1e-4 off, one element
        perturbed by 1e-4 relative, the one-sided gradient for WGAN-GP's; the zero check rejects
        1e-6 of the largest; the value check rejects a P 1e-7 off; the kink watch sees a sign
        change and sees none when nothing changed.

   ReLU and LeakyReLU make P piecewise smooth in the parameters: every evaluation records on which
   side of 0 each kink layer's input lies (its output's sign, slope >= 0); a difference whose
   evaluations cross is redone with a 100 times smaller step (the count is printed), and an element
   that still crosses is left out and counted in a SKIP line. The differences of D in check 2 do
   the same. */
#define GAN_DOUBLE
#define GAN_IMPLEMENTATION
#include "../gan.h"
#define GRADCHECK_PREFIX "penalty"
#include "gradcheck.h" /* TOL, STEP, grad_error, report_error, xcalloc, is_kink, shape_count */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAXB 5          /* the largest max_batch of a critic; checks run at batch 3 or 4, some at max_batch */
#define N_KINDS 4
#define VALUE_TOL 1e-8  /* P against the formula on finite-difference g */
#define ZERO_REL 1e-7   /* "zero" gradient tensor: below this times the net's largest numeric value */
#define MARGIN 0.02     /* every ||g_i|| at least this far from 1 (the one-sided kink) */

typedef struct kind_info {
    gan_penalty_kind kind;
    const char *name;
    double weight;
} kind_info;

static const kind_info kinds[N_KINDS] = {
    {GAN_PENALTY_WGAN_GP, "WGAN-GP", 10},
    {GAN_PENALTY_WGAN_GP_ONE_SIDED, "one-sided", 10},
    {GAN_PENALTY_R1, "R1", 10},
    {GAN_PENALTY_R2, "R2", 0.7},
};

static long redone; /* differences that crossed a kink and were redone with the smaller step */
static double worst_value_err;
static char worst_value_name[200];

/* ---- a critic and its inputs ----------------------------------------------------------------------- */

typedef struct critic {
    char name[96];
    gan_net *net;
    int n_in, wrt, n;      /* inputs, the image input's index, the batch checked */
    gan_tensor xs[2];
    size_t D;              /* values per image sample */
    unsigned char *side;   /* kink sides of the recorded evaluation */
    size_t nside;
    int recording, crossed;
    double norm[MAXB];     /* ||g_i|| by finite differences of D (check_value) */
} critic;

static void fatal(const char *what, const char *detail)
{
    printf("FAIL penalty: %s: %s\n", what, detail);
    exit(1);
}

/* Builds g (and frees it), gives norm layers weights in [0.5, 1.5] and biases in [-0.5, 0.5] and
   BatchNorm running means in [-0.5, 0.5] and variances in [0.5, 1.5], fills every input with
   uniform [-1, 1] values (labels are set by the caller). */
static void critic_build(critic *c, const char *name, gan_graph *g, int wrt, int n, int max_batch, uint64_t seed)
{
    gan_rng rng;
    gan_net *net;
    int p, i, l;
    memset(c, 0, sizeof *c);
    sprintf(c->name, "%.95s", name);
    gan_rng_seed(&rng, seed);
    net = gan_net_build(g, max_batch, GAN_BUILD_PENALTY, &rng);
    gan_graph_free(g);
    if (!net) fatal(name, gan_last_error());
    c->net = net;
    randomize_norms(net, &rng);
    for (p = 0; p < gan_net_buffer_count(net); p++) {
        gan_param b = gan_net_buffer(net, p);
        if (strcmp(b.role, "running_mean") == 0)
            gan_fill_uniform(b.data, b.count, -0.5, 0.5, &rng);
        else
            gan_fill_uniform(b.data, b.count, 0.5, 1.5, &rng);
    }
    c->n_in = net->n_inputs;
    c->wrt = wrt;
    c->n = n;
    for (i = 0; i < c->n_in; i++) {
        gan_shape s = gan_net_input_shape(net, i);
        gan_float *d = (gan_float *)xcalloc((size_t)n * shape_count(s), sizeof(gan_float));
        gan_fill_uniform(d, (size_t)n * shape_count(s), -1, 1, &rng);
        c->xs[i] = gan_tensor_make(d, n, s.c, s.h, s.w);
    }
    c->D = shape_count(gan_net_input_shape(net, wrt));
    for (l = 0; l < net->n_layers; l++)
        if (is_kink(net->layers[l].kind)) c->nside += (size_t)MAXB * shape_count(net->layers[l].out);
    c->side = (unsigned char *)xcalloc(c->nside, 1);
}

static void critic_free(critic *c)
{
    int i;
    for (i = 0; i < c->n_in; i++) free(c->xs[i].data);
    free(c->side);
    gan_net_free(c->net);
}

static void set_labels(critic *c, int input, const gan_float *labels)
{
    memcpy(c->xs[input].data, labels, (size_t)c->n * sizeof(gan_float));
}

/* Records (or compares with the record) the side of 0 of every kink layer's input in the last forward. */
static void watch_kinks(critic *c)
{
    size_t s = 0, i, m;
    int l;
    for (l = 0; l < c->net->n_layers; l++) {
        const gan_tensor *y;
        if (!is_kink(c->net->layers[l].kind)) continue;
        y = gan_net_layer_output(c->net, l);
        if (!y) fatal(c->name, "a ReLU / LeakyReLU output was not kept (gan_net_layer_output gave NULL)");
        m = gan_tensor_count(y);
        for (i = 0; i < m; i++, s++) {
            unsigned char positive = y->data[i] > 0;
            if (c->recording)
                c->side[s] = positive;
            else if (c->side[s] != positive)
                c->crossed = 1;
        }
    }
}

/* P of the current parameters and inputs (parameter gradients accumulate; callers zero them when
   they read them). */
static double penalty_of(critic *c, gan_penalty_kind kind, double weight)
{
    gan_float P = NAN;
    if (!gan_net_penalty(c->net, &P, c->xs, c->wrt, kind, (gan_float)weight)) fatal(c->name, gan_last_error());
    watch_kinks(c);
    return P;
}

/* D's first output for the current inputs, n values. */
static const gan_float *critic_forward(critic *c)
{
    if (!gan_net_forward_multi(c->net, c->xs)) fatal(c->name, gan_last_error());
    watch_kinks(c);
    return gan_net_output(c->net)->data;
}

/* g_i = dD(x_i)/dx_i by the network's own backward (seed 1 per sample, input gradients only). */
static void backward_norms(critic *c, double *norm)
{
    gan_tensor dys[4];
    gan_float ones[MAXB];
    const gan_float *g;
    int i, o;
    size_t j;
    critic_forward(c);
    for (i = 0; i < c->n; i++) ones[i] = 1;
    for (o = 0; o < c->net->n_outputs && o < 4; o++) dys[o] = gan_tensor_make(NULL, c->n, 1, 1, 1);
    dys[0] = gan_tensor_make(ones, c->n, 1, 1, 1);
    if (!gan_net_backward_multi(c->net, dys, GAN_GRAD_INPUTS)) fatal(c->name, gan_last_error());
    g = gan_net_input_grad(c->net, c->wrt)->data;
    for (i = 0; i < c->n; i++) {
        double sq = 0;
        for (j = 0; j < c->D; j++) sq += g[i * c->D + j] * g[i * c->D + j];
        norm[i] = sqrt(sq);
    }
}

static void scale_weights(gan_layer *const *layers, int n_layers, double s)
{
    int l;
    size_t j;
    for (l = 0; l < n_layers; l++)
        for (j = 0; j < layers[l]->nW; j++) layers[l]->W[j] *= s;
}

/* min_i | ||g_i|| - 1 | if some norms lie below 1 and some above, all within [0.2, 5] (no sample
   saturated into a tiny gradient), else -1. */
static double margin_of(critic *c)
{
    double norm[MAXB], m = HUGE_VAL;
    int i, below = 0, above = 0;
    backward_norms(c, norm);
    for (i = 0; i < c->n; i++) {
        if (norm[i] < 0.2 || norm[i] > 5) return -1;
        if (norm[i] < 1) below++;
        else above++;
        if (fabs(norm[i] - 1) < m) m = fabs(norm[i] - 1);
    }
    return below && above ? m : -1;
}

/* Scales the weights of the layers that produce the first output by the factor, among exp(t) for
   t = -5, -4.95, ..., 5, that puts the per-sample norms on both sides of 1 farthest from it (g is
   linear in those weights when nothing nonlinear follows them, nearly so otherwise). */
static void calibrate(critic *c, gan_layer *const *layers, int n_layers)
{
    double best = -1, best_t = 0, now = 0;
    int k;
    for (k = 0; k <= 200; k++) {
        double t = -5 + 0.05 * k, m;
        scale_weights(layers, n_layers, exp(t - now));
        now = t;
        m = margin_of(c);
        if (m > best) {
            best = m;
            best_t = t;
        }
    }
    scale_weights(layers, n_layers, exp(best_t - now));
}

/* ---- 2. the value of P against finite differences of D -------------------------------------------- */

static double formula(const double *norm, int n, gan_penalty_kind kind, double weight)
{
    double total = 0;
    int i;
    for (i = 0; i < n; i++) {
        double d = norm[i] - 1;
        if (kind == GAN_PENALTY_R1 || kind == GAN_PENALTY_R2)
            total += norm[i] * norm[i];
        else if (kind == GAN_PENALTY_WGAN_GP_ONE_SIDED)
            total += d > 0 ? d * d : 0;
        else
            total += d * d;
    }
    return (kind == GAN_PENALTY_R1 || kind == GAN_PENALTY_R2 ? 0.5 * weight : weight) * total / n;
}

/* g by five-point differences of D in each image value (one value of every sample at once: sample i's
   output reads only sample i), then norms; P of every kind against the formula on them. */
static void check_value(critic *c)
{
    static const double at[4] = {2, 1, -1, -2};
    gan_float *x = c->xs[c->wrt].data, v0[MAXB];
    double *g = (double *)xcalloc((size_t)c->n * c->D, sizeof(double)), f[4][MAXB], h = STEP;
    int i, k, t, unresolved = 0, below = 0, above = 0;
    size_t j;
    double closest = HUGE_VAL;
    char name[240], line[200];
    c->recording = 1;
    critic_forward(c);
    c->recording = 0;
    for (j = 0; j < c->D; j++) {
        for (i = 0; i < c->n; i++) v0[i] = x[i * c->D + j];
        for (t = 0, h = STEP; t < 2; t++) {
            c->crossed = 0;
            for (k = 0; k < 4; k++) {
                const gan_float *y;
                for (i = 0; i < c->n; i++) x[i * c->D + j] = v0[i] + at[k] * h;
                y = critic_forward(c);
                for (i = 0; i < c->n; i++) f[k][i] = y[i];
            }
            for (i = 0; i < c->n; i++) x[i * c->D + j] = v0[i];
            if (!c->crossed) break;
            redone++;
            if (t == 0) h *= 0.01;
        }
        if (c->crossed) unresolved++;
        for (i = 0; i < c->n; i++) g[i * c->D + j] = (8 * (f[1][i] - f[2][i]) - (f[0][i] - f[3][i])) / (12 * h);
    }
    line[0] = 0;
    for (i = 0; i < c->n; i++) {
        double sq = 0;
        for (j = 0; j < c->D; j++) sq += g[i * c->D + j] * g[i * c->D + j];
        c->norm[i] = sqrt(sq);
        if (c->norm[i] < 1) below++;
        else above++;
        if (fabs(c->norm[i] - 1) < closest) closest = fabs(c->norm[i] - 1);
        sprintf(line + strlen(line), " %.6f", c->norm[i]);
    }
    printf("# penalty %s: batch %d of max_batch %d; per-sample ||g_i|| (finite differences of D):%s\n", c->name, c->n,
           c->net->max_batch, line);
    if (unresolved) {
        sprintf(name, "penalty %.150s: dD/dx at a kink", c->name);
        test_skip(name, "%d image values sit within 2e-6 of a kink; their g entries used the smaller step", unresolved);
    }
    sprintf(name, "penalty %.150s: ||g_i|| on both sides of 1, each at least %.2g from it", c->name, MARGIN);
    test_report(name, below > 0 && above > 0 && closest >= MARGIN, "%d below, %d above, closest |norm - 1| %.3g", below,
                above, closest);
    for (k = 0; k < N_KINDS; k++) {
        double P = penalty_of(c, kinds[k].kind, kinds[k].weight);
        double ref = formula(c->norm, c->n, kinds[k].kind, kinds[k].weight);
        double err = ref != 0 ? fabs(P - ref) / fabs(ref) : P == 0 ? 0 : HUGE_VAL;
        sprintf(name, "penalty %.150s, %s: P equals the formula on finite-difference g (rel %.0e)", c->name,
                kinds[k].name, VALUE_TOL);
        test_report(name, err < VALUE_TOL, "P %.15g, reference %.15g, relative error %.3g", P, ref, err);
        if (err < VALUE_TOL && err > worst_value_err) {
            worst_value_err = err;
            sprintf(worst_value_name, "%.199s", name);
        }
    }
    free(g);
}

/* ---- 1. dP/dparameters against finite differences of P ------------------------------------------ */

/* P of one kind as a loss for five_point */
typedef struct penalty_loss {
    critic *c;
    const kind_info *ki;
} penalty_loss;

static double penalty_loss_of(void *p)
{
    const penalty_loss *q = (const penalty_loss *)p;
    return penalty_of(q->c, q->ki->kind, q->ki->weight);
}

/* dP/dv by the five-point difference; NaN if even the 100 times smaller step crosses a kink. */
static double numeric_P(critic *c, gan_float *v, const kind_info *ki)
{
    penalty_loss q;
    fd_loss fd;
    double d;
    q.c = c;
    q.ki = ki;
    fd = fd_loss_of(penalty_loss_of, &q, &c->crossed, 2, 0.01);
    d = five_point(&fd, v);
    redone += fd.redone;
    return d;
}

/* Analytic (gradients zeroed, one call) against numeric for every parameter tensor. The two arrays,
   laid out as net->grads, go to *ana_out / *num_out when asked for (the self-tests), else are freed. */
static void check_grads(critic *c, const kind_info *ki, gan_float **ana_out, gan_float **num_out)
{
    gan_net *net = c->net;
    size_t N = net->n_params, j;
    gan_float *ana = (gan_float *)xcalloc(N, sizeof(gan_float)), *num = (gan_float *)xcalloc(N, sizeof(gan_float));
    int p, np = gan_net_param_count(net), unresolved = 0;
    double gscale = 0, worst = 0;
    char worst_name[GAN_NAME_MAX + 16] = "";
    gan_net_zero_grad(net);
    c->recording = 1;
    penalty_of(c, ki->kind, ki->weight);
    c->recording = 0;
    memcpy(ana, net->grads, N * sizeof(gan_float));
    for (p = 0; p < np; p++) {
        gan_param prm = gan_net_param(net, p);
        size_t off = (size_t)(prm.grad - net->grads);
        for (j = 0; j < prm.count; j++) {
            double d = numeric_P(c, &prm.data[j], ki);
            if (d != d) {
                unresolved++;
                d = ana[off + j];
            }
            num[off + j] = (gan_float)d;
            if (fabs(d) > gscale) gscale = fabs(d);
        }
    }
    for (p = 0; p < np; p++) {
        gan_param prm = gan_net_param(net, p);
        size_t off = (size_t)(prm.grad - net->grads), at;
        double big_n = 0, big_a = 0, e;
        char name[300];
        for (j = 0; j < prm.count; j++) {
            if (fabs(num[off + j]) > big_n) big_n = fabs(num[off + j]);
            if (fabs(ana[off + j]) > big_a || ana[off + j] != ana[off + j]) big_a = fabs(ana[off + j]);
        }
        if (big_n <= ZERO_REL * gscale) {
            sprintf(name, "penalty %.120s, %s: d/d %.70s is zero (P does not depend on it)", c->name, ki->name, prm.name);
            test_report(name, big_a <= ZERO_REL * gscale, "largest analytic %.3g, numeric %.3g, net's largest numeric %.3g",
                        big_a, big_n, gscale);
            e = big_a <= ZERO_REL * gscale ? 0 : HUGE_VAL;
        } else {
            sprintf(name, "penalty %.120s, %s: d/d %.70s", c->name, ki->name, prm.name);
            report_error(name, ana + off, num + off, prm.count);
            e = grad_error(ana + off, num + off, prm.count, &at);
        }
        if (e > worst || p == 0) {
            worst = e;
            sprintf(worst_name, "%.79s", prm.name);
        }
    }
    printf("# penalty %s, %s: worst relative error %.3g (d/d %s)\n", c->name, ki->name, worst, worst_name);
    if (unresolved) {
        char name[240];
        sprintf(name, "penalty %.150s, %s: parameters at a kink", c->name, ki->name);
        test_skip(name, "%d elements cross a ReLU / LeakyReLU kink even at step 1e-6 and were left out", unresolved);
    }
    if (ana_out) *ana_out = ana;
    else free(ana);
    if (num_out) *num_out = num;
    else free(num);
}

/* Checks 2 and 1 for every kind; WGAN-GP's analytic and numeric arrays go out when asked for. */
static void check_all(critic *c, gan_float **ana_out, gan_float **num_out)
{
    int k;
    check_value(c);
    for (k = 0; k < N_KINDS; k++) check_grads(c, &kinds[k], k == 0 ? ana_out : NULL, k == 0 ? num_out : NULL);
}

/* ---- the critics ------------------------------------------------------------------------------------ */

/* (a) Conv2d(1,4,4,2,1), LeakyReLU(0.2), Conv2d(4,8,4,2,1), LayerNorm, LeakyReLU(0.2), Flatten,
   Linear(32,1) on 1x8x8: layers 0..6. */
static void make_conv_ln(critic *c)
{
    gan_graph *g = gan_graph_new();
    gan_layer L[7];
    gan_layer *out;
    L[0] = gan_conv2d(1, 4, 4, 2, 1);
    L[1] = gan_leaky_relu(0.2);
    L[2] = gan_conv2d(4, 8, 4, 2, 1);
    L[3] = gan_layernorm();
    L[4] = gan_leaky_relu(0.2);
    L[5] = gan_flatten();
    L[6] = gan_linear(32, 1);
    gan_output(g, gan_chain(g, gan_input(g, gan_chw(1, 8, 8)), L, 7));
    critic_build(c, "(a) conv-LayerNorm critic", g, 0, 4, 5, 101);
    out = gan_net_layer(c->net, 6);
    calibrate(c, &out, 1);
}

/* (b) Flatten, Linear(6,10), Tanh, Linear(10,8), Sigmoid, Linear(8,1) on 1x2x3, batch 3. */
static void make_mlp(critic *c)
{
    gan_graph *g = gan_graph_new();
    gan_layer L[6];
    gan_layer *out;
    L[0] = gan_flatten();
    L[1] = gan_linear(6, 10);
    L[2] = gan_tanh();
    L[3] = gan_linear(10, 8);
    L[4] = gan_sigmoid();
    L[5] = gan_linear(8, 1);
    gan_output(g, gan_chain(g, gan_input(g, gan_chw(1, 2, 3)), L, 6));
    critic_build(c, "(b) MLP with Tanh and Sigmoid", g, 0, 3, 5, 202);
    /* larger hidden weights so that Tanh and Sigmoid bend */
    out = gan_net_layer(c->net, 1);
    scale_weights(&out, 1, 2.0);
    out = gan_net_layer(c->net, 3);
    scale_weights(&out, 1, 3.0);
    out = gan_net_layer(c->net, 5);
    calibrate(c, &out, 1);
}

/* (c) label (input 0), image (input 1, wrt): h = avgpool(lrelu(c1 x)); h = avgpool(lrelu(c2 h));
   h = relu(fc(flatten h)) (8 features); D = psi(h) + <embed(label), h>. */
static void make_projection(critic *c)
{
    static const gan_float labels[4] = {3, 0, 3, 1}; /* classes 2 and 4 unused */
    gan_graph *g = gan_graph_new();
    gan_node y = gan_input(g, gan_chw(1, 1, 1)), x = gan_input(g, gan_chw(1, 8, 8)), h, psi, e;
    gan_layer *scaled[2];
    h = gan_apply(g, gan_conv2d(1, 4, 3, 1, 1), x);
    gan_name(g, h, "c1");
    h = gan_apply(g, gan_avgpool2x(), gan_apply(g, gan_leaky_relu(0.2), h));
    h = gan_apply(g, gan_conv2d(4, 8, 3, 1, 1), h);
    gan_name(g, h, "c2");
    h = gan_apply(g, gan_avgpool2x(), gan_apply(g, gan_leaky_relu(0.2), h));
    h = gan_apply(g, gan_linear(32, 8), gan_apply(g, gan_flatten(), h));
    gan_name(g, h, "fc");
    h = gan_apply(g, gan_relu(), h);
    psi = gan_apply(g, gan_linear(8, 1), h);
    gan_name(g, psi, "psi");
    e = gan_apply(g, gan_embedding(5, 8), y);
    gan_name(g, e, "embed");
    gan_output(g, gan_add(g, psi, gan_inner(g, e, h)));
    critic_build(c, "(c) projection discriminator, wrt input 1", g, 1, 4, 5, 303);
    set_labels(c, 0, labels);
    scaled[0] = gan_net_node_layer(c->net, psi);
    scaled[1] = gan_net_node_layer(c->net, e);
    calibrate(c, scaled, 2);
}

/* (d) Conv2d(2,4,3,1,1), BatchNorm(4), Tanh, Dropout(0.3), Conv2d(4,4,3,2,1), BatchNorm(4) without
   affine, Flatten, Linear(36,8), BatchNorm(8), LeakyReLU(0.2), Linear(8,1) on 2x6x6, evaluation mode,
   running statistics random. Layers 0..10. */
static void make_bn_eval(critic *c)
{
    gan_graph *g = gan_graph_new();
    gan_layer L[11];
    gan_layer *out;
    gan_node h;
    L[0] = gan_conv2d(2, 4, 3, 1, 1);
    L[1] = gan_batchnorm(4);
    L[2] = gan_tanh();
    L[3] = gan_dropout(0.3);
    L[4] = gan_conv2d(4, 4, 3, 2, 1);
    L[5] = gan_no_affine(gan_batchnorm(4));
    L[6] = gan_flatten();
    L[7] = gan_linear(36, 8);
    L[8] = gan_batchnorm(8);
    L[9] = gan_leaky_relu(0.2);
    L[10] = gan_linear(8, 1);
    h = gan_chain(g, gan_input(g, gan_chw(2, 6, 6)), L, 2);
    gan_name(g, h, "bn1");
    h = gan_apply(g, L[2], h);
    h = gan_apply(g, L[3], h);
    gan_name(g, h, "drop");
    gan_output(g, gan_chain(g, h, L + 4, 7));
    critic_build(c, "(d) BatchNorm and Dropout in evaluation mode", g, 0, 4, 5, 404);
    gan_net_set_training(c->net, 0);
    out = gan_net_layer(c->net, 10);
    calibrate(c, &out, 1);
}

/* (e) the joins: see the file's comment. Image (2,4,4) input 0, label input 1, batch 3. */
static void make_joins(critic *c)
{
    static const gan_float labels[3] = {2, 0, 2};
    gan_graph *g = gan_graph_new();
    gan_node x = gan_input(g, gan_chw(2, 4, 4)), y = gan_input(g, gan_chw(1, 1, 1));
    gan_node map, cat[2], a, gate, m, t, s, r, h, fc;
    gan_layer *out;
    map = gan_apply(g, gan_embedding(3, 16), y);
    gan_name(g, map, "label_map");
    map = gan_apply(g, gan_reshape(1, 4, 4), map);
    cat[0] = x;
    cat[1] = map;
    a = gan_apply(g, gan_conv2d(3, 4, 3, 1, 1), gan_concat(g, cat, 2));
    gan_name(g, a, "c1");
    a = gan_apply(g, gan_tanh(), a); /* three consumers: the gate, the gated product, the skip */
    gate = gan_apply(g, gan_linear(16, 4), gan_apply(g, gan_flatten(), gan_apply(g, gan_avgpool2x(), a)));
    gan_name(g, gate, "gate");
    gate = gan_apply(g, gan_sigmoid(), gate);
    m = gan_mul(g, a, gate); /* (4,4,4) * (4,1,1), both depend on x */
    h = gan_apply(g, gan_embedding(3, 4), y);
    gan_name(g, h, "gain");
    m = gan_mul(g, h, m); /* a label gain, broadcast as the first operand */
    t = gan_apply(g, gan_conv_transpose2d(4, 4, 4, 2, 1, 0), m); /* (4,8,8) */
    gan_name(g, t, "up");
    s = gan_apply(g, gan_scale(0.5), gan_apply(g, gan_upsample2x(), a));
    r = gan_add(g, t, s);
    h = gan_apply(g, gan_embedding(3, 4), y);
    gan_name(g, h, "shift");
    r = gan_add(g, r, h); /* a label bias, broadcast */
    h = gan_apply(g, gan_conv2d(4, 2, 4, 2, 1), gan_apply(g, gan_tanh(), r)); /* (2,4,4) */
    gan_name(g, h, "c2");
    fc = gan_apply(g, gan_linear(32, 1), gan_apply(g, gan_flatten(), gan_apply(g, gan_tanh(), h)));
    gan_name(g, fc, "fc");
    gan_output(g, fc);
    critic_build(c, "(e) concat, Mul gating, ConvTranspose2d, Upsample2x, Scale, residual Add", g, 0, 3, 3, 505);
    set_labels(c, 1, labels);
    out = gan_net_node_layer(c->net, fc);
    calibrate(c, &out, 1);
}

/* (f) LayerNorm without affine straight on the image, and the image straight into joins:
   n0 = LN(x); h = conv2(tanh(conv1 n0)); r = h + x + x * sigmoid(conv1x1 x) ((1, H, W) broadcast);
   D = fc(flatten(tanh(LN(conv3 r)))), both LayerNorms without affine; x has four consumers. */
static void make_ln_plain(critic *c)
{
    gan_graph *g = gan_graph_new();
    gan_node x = gan_input(g, gan_chw(2, 4, 4)), h, gt, r, fc;
    gan_layer *out;
    h = gan_apply(g, gan_no_affine(gan_layernorm()), x);
    h = gan_apply(g, gan_tanh(), gan_apply(g, gan_conv2d(2, 4, 3, 1, 1), h));
    h = gan_apply(g, gan_conv2d(4, 2, 3, 1, 1), h);
    gan_name(g, h, "conv2");
    r = gan_add(g, h, x);
    gt = gan_apply(g, gan_sigmoid(), gan_apply(g, gan_conv2d(2, 1, 1, 1, 0), x));
    r = gan_add(g, r, gan_mul(g, x, gt));
    h = gan_apply(g, gan_conv2d(2, 2, 3, 2, 1), r); /* (2,2,2) */
    h = gan_apply(g, gan_tanh(), gan_apply(g, gan_no_affine(gan_layernorm()), h));
    fc = gan_apply(g, gan_linear(8, 1), gan_apply(g, gan_flatten(), h));
    gan_name(g, fc, "fc");
    gan_output(g, fc);
    critic_build(c, "(f) LayerNorm without affine; the image straight into Add and Mul", g, 0, 4, 5, 606);
    out = gan_net_node_layer(c->net, fc);
    calibrate(c, &out, 1);
}

/* (g) h = tanh(conv(x)); e = BatchNorm(3)(Embedding(4,3)(label)) in training mode; D = fc(flatten(h e)). */
static void make_bn_label(critic *c)
{
    static const gan_float labels[4] = {0, 1, 3, 1};
    gan_graph *g = gan_graph_new();
    gan_node x = gan_input(g, gan_chw(1, 4, 4)), y = gan_input(g, gan_chw(1, 1, 1)), h, e, fc;
    gan_layer *out;
    h = gan_apply(g, gan_tanh(), gan_apply(g, gan_conv2d(1, 3, 3, 1, 1), x));
    e = gan_apply(g, gan_batchnorm(3), gan_apply(g, gan_embedding(4, 3), y));
    gan_name(g, e, "bn_label");
    fc = gan_apply(g, gan_linear(48, 1), gan_apply(g, gan_flatten(), gan_mul(g, h, e)));
    gan_output(g, fc);
    critic_build(c, "(g) BatchNorm in training mode on the label path", g, 0, 4, 5, 707);
    set_labels(c, 1, labels);
    out = gan_net_node_layer(c->net, fc);
    calibrate(c, &out, 1);
}

/* (h) h = tanh(fc(flatten(lrelu(conv x)))); output 0 adv(h); output 1 aux(h) + adv(h) (broadcast). */
static void make_two_outputs(critic *c)
{
    gan_graph *g = gan_graph_new();
    gan_node x = gan_input(g, gan_chw(1, 6, 6)), h, adv, aux;
    gan_layer *out;
    h = gan_apply(g, gan_leaky_relu(0.2), gan_apply(g, gan_conv2d(1, 4, 3, 2, 1), x)); /* (4,3,3) */
    h = gan_apply(g, gan_tanh(), gan_apply(g, gan_linear(36, 8), gan_apply(g, gan_flatten(), h)));
    adv = gan_apply(g, gan_linear(8, 1), h);
    gan_name(g, adv, "adv");
    aux = gan_apply(g, gan_linear(8, 3), h);
    gan_name(g, aux, "aux");
    gan_output(g, adv);
    gan_output(g, gan_add(g, aux, adv));
    critic_build(c, "(h) two outputs, the first penalized", g, 0, 3, 3, 808);
    out = gan_net_node_layer(c->net, adv);
    calibrate(c, &out, 1);
}

/* (i) a node used twice by one join: h = tanh(conv x); h2 = h * sigmoid(conv1x1 h) (a (1, H, W) map
   broadcast over channels); sq = h2 * h2; cat = [h2, sq, h2]; h3 = h2 + pm(avgpool cat) (a (C, 1, 1)
   that depends on x, broadcast); f = flatten h3; D = tanh(fc(f) + 0.05 <f, f>): Tanh at the output. */
static void make_self_joins(critic *c)
{
    gan_graph *g = gan_graph_new();
    gan_node x = gan_input(g, gan_chw(2, 4, 4)), h, att, h2, sq, cat[3], pm, f, fc;
    static const double amp[4] = {0.3, 0.8, 1.5, 2.5};
    gan_layer *out;
    int i;
    size_t j;
    h = gan_apply(g, gan_tanh(), gan_apply(g, gan_conv2d(2, 3, 3, 1, 1), x));
    att = gan_apply(g, gan_conv2d(3, 1, 1, 1, 0), h);
    gan_name(g, att, "att");
    h2 = gan_mul(g, h, gan_apply(g, gan_sigmoid(), att));
    sq = gan_mul(g, h2, h2);
    cat[0] = h2;
    cat[1] = sq;
    cat[2] = h2;
    pm = gan_apply(g, gan_avgpool2x(), gan_concat(g, cat, 3)); /* (9,2,2) */
    pm = gan_apply(g, gan_linear(36, 3), gan_apply(g, gan_flatten(), pm));
    gan_name(g, pm, "pm");
    f = gan_apply(g, gan_flatten(), gan_add(g, h2, pm));
    fc = gan_apply(g, gan_linear(48, 1), f);
    gan_name(g, fc, "fc");
    gan_output(g, gan_apply(g, gan_tanh(), gan_add(g, fc, gan_apply(g, gan_scale(0.05), gan_inner(g, f, f)))));
    critic_build(c, "(i) joins reading one node twice (Mul, Concat, Inner), Tanh output", g, 0, 4, 4, 1111);
    for (i = 0; i < 4; i++) /* samples of different sizes, so that their norms spread */
        for (j = 0; j < c->D; j++) c->xs[0].data[(size_t)i * c->D + j] *= amp[i];
    out = gan_net_node_layer(c->net, fc);
    calibrate(c, &out, 1); /* D is not linear in fc's weight: a few steps */
}

/* (j) a conditional (pix2pix-like) critic: input 0 a condition image held fixed, input 1 the image
   (wrt); h = lrelu(conv[cond, x]); D = fc(flatten(conv2(h) * tanh(convc(cond)))). */
static void make_paired(critic *c)
{
    gan_graph *g = gan_graph_new();
    gan_node cond = gan_input(g, gan_chw(1, 4, 4)), x = gan_input(g, gan_chw(1, 4, 4)), cat[2], h, k, fc;
    gan_layer *out;
    cat[0] = cond;
    cat[1] = x;
    h = gan_apply(g, gan_leaky_relu(0.2), gan_apply(g, gan_conv2d(2, 4, 3, 1, 1), gan_concat(g, cat, 2)));
    h = gan_apply(g, gan_conv2d(4, 2, 3, 2, 1), h); /* (2,2,2) */
    gan_name(g, h, "conv2");
    k = gan_apply(g, gan_tanh(), gan_apply(g, gan_conv2d(1, 2, 3, 2, 1), cond));
    gan_name(g, k, "cond_feat");
    fc = gan_apply(g, gan_linear(8, 1), gan_apply(g, gan_flatten(), gan_mul(g, h, k)));
    gan_name(g, fc, "fc");
    gan_output(g, fc);
    critic_build(c, "(j) conditional critic D(cond, x), wrt the second image", g, 1, 4, 4, 1212);
    out = gan_net_node_layer(c->net, fc);
    calibrate(c, &out, 1);
}

/* (z) Flatten, Linear(16,6) with bias -50, ReLU, Linear(6,1): samples 0 and 2 (values in [-1, 1])
   have every ReLU dead and g = 0; sample 1 (values near 100) has every one alive. */
static void make_mixed_dead(critic *c)
{
    gan_graph *g = gan_graph_new();
    gan_layer L[4];
    gan_layer *hid, *out;
    gan_rng rng;
    double norm[MAXB];
    size_t j;
    L[0] = gan_flatten();
    L[1] = gan_linear(16, 6);
    L[2] = gan_relu();
    L[3] = gan_linear(6, 1);
    gan_output(g, gan_chain(g, gan_input(g, gan_chw(1, 4, 4)), L, 4));
    critic_build(c, "(z) ReLUs dead for samples 0 and 2, alive for 1", g, 0, 3, 5, 909);
    hid = gan_net_layer(c->net, 1);
    out = gan_net_layer(c->net, 3);
    gan_rng_seed(&rng, 910);
    gan_fill_uniform(hid->W, hid->nW, 0.5 / 16, 1.5 / 16, &rng);
    for (j = 0; j < hid->nb; j++) hid->b[j] = -50;
    gan_fill_uniform(c->xs[0].data + 16, 16, 99, 101, &rng);
    backward_norms(c, norm);
    if (norm[0] != 0 || norm[2] != 0 || !(norm[1] > 0)) fatal(c->name, "the dead / alive pattern did not come out");
    scale_weights(&out, 1, 1.6 / norm[1]); /* ||g_1|| = 1.6: above 1; the dead samples' 0 below */
}

/* ---- 3. zero input gradient ------------------------------------------------------------------------ */

static void check_zero_grad(critic *c, const char *why)
{
    int k;
    size_t j;
    char name[240];
    for (k = 0; k < N_KINDS; k++) {
        double P, expect = kinds[k].kind == GAN_PENALTY_WGAN_GP ? kinds[k].weight : 0;
        int finite = 1, zero = 1;
        gan_net_zero_grad(c->net);
        P = penalty_of(c, kinds[k].kind, kinds[k].weight);
        for (j = 0; j < c->net->n_params; j++) {
            if (!isfinite(c->net->grads[j])) finite = 0;
            if (c->net->grads[j] != 0) zero = 0;
        }
        sprintf(name, "penalty zero g (%.80s), %s: P = %g exactly", why, kinds[k].name, expect);
        test_report(name, P == expect, "P = %.17g", P);
        sprintf(name, "penalty zero g (%.80s), %s: every parameter gradient finite and 0", why, kinds[k].name);
        test_report(name, finite && zero, "finite %d, all zero %d", finite, zero);
    }
}

static void test_zero_grad(void)
{
    critic c;
    gan_graph *g;
    gan_layer L[4];
    gan_layer *hid;
    gan_node x;
    size_t j;

    /* every ReLU dead */
    g = gan_graph_new();
    L[0] = gan_flatten();
    L[1] = gan_linear(16, 6);
    L[2] = gan_relu();
    L[3] = gan_linear(6, 1);
    gan_output(g, gan_chain(g, gan_input(g, gan_chw(1, 4, 4)), L, 4));
    critic_build(&c, "dead", g, 0, 3, 3, 1001);
    hid = gan_net_layer(c.net, 1);
    for (j = 0; j < hid->nb; j++) hid->b[j] = -50;
    check_zero_grad(&c, "every ReLU dead");
    critic_free(&c);

    /* x through Scale(0) */
    g = gan_graph_new();
    L[0] = gan_scale(0);
    L[1] = gan_flatten();
    L[2] = gan_linear(16, 3);
    L[3] = gan_tanh();
    x = gan_chain(g, gan_input(g, gan_chw(1, 4, 4)), L, 4);
    gan_output(g, gan_apply(g, gan_linear(3, 1), x));
    critic_build(&c, "scale 0", g, 0, 3, 3, 1003);
    check_zero_grad(&c, "x through Scale(0)");
    critic_free(&c);
}

/* ---- 4. refusals ----------------------------------------------------------------------------------- */

/* gan_net_penalty must return 0, leave the gradients (random values) and running statistics as they
   were, and say `must_say` in gan_last_error(). */
static void expect_refusal(gan_net *net, const gan_tensor *xs, const char *what, const char *must_say)
{
    gan_float *before = (gan_float *)xcalloc(net->n_params, sizeof(gan_float)), P = 0;
    gan_float stats[2][64];
    gan_rng rng;
    int r, nb = gan_net_buffer_count(net), same_stats = 1, b;
    char name[240];
    gan_rng_seed(&rng, 77);
    gan_fill_normal(net->grads, net->n_params, 0, 1, &rng);
    memcpy(before, net->grads, net->n_params * sizeof(gan_float));
    for (b = 0; b < nb && b < 2; b++) memcpy(stats[b], gan_net_buffer(net, b).data, gan_net_buffer(net, b).count * sizeof(gan_float));
    r = gan_net_penalty(net, &P, xs, 0, GAN_PENALTY_WGAN_GP, 10);
    for (b = 0; b < nb && b < 2; b++)
        if (memcmp(stats[b], gan_net_buffer(net, b).data, gan_net_buffer(net, b).count * sizeof(gan_float)) != 0)
            same_stats = 0;
    sprintf(name, "penalty refuses %.100s: returns 0, message names '%.60s'", what, must_say);
    test_report(name, r == 0 && strstr(gan_last_error(), must_say) != NULL, "returned %d, message \"%s\"", r,
                gan_last_error());
    printf("# penalty refusal (%s): %s\n", what, gan_last_error());
    sprintf(name, "penalty refuses %.100s: parameter gradients and running statistics untouched", what);
    test_report(name, memcmp(before, net->grads, net->n_params * sizeof(gan_float)) == 0 && same_stats,
                "gradients changed %d, running statistics changed %d",
                memcmp(before, net->grads, net->n_params * sizeof(gan_float)) != 0, !same_stats);
    free(before);
}

/* x (2,4,4) -> Conv2d(2,3,3,1,1) -> `mid` (named) -> Flatten -> Linear(48, out_features). */
static gan_net *refusal_net(gan_layer mid, const char *mid_name, int out_features, unsigned flags)
{
    gan_graph *g = gan_graph_new();
    gan_node h = gan_apply(g, gan_conv2d(2, 3, 3, 1, 1), gan_input(g, gan_chw(2, 4, 4)));
    gan_rng rng;
    gan_net *net;
    h = gan_apply(g, mid, h);
    gan_name(g, h, mid_name);
    gan_output(g, gan_apply(g, gan_linear(48, out_features), gan_apply(g, gan_flatten(), h)));
    gan_rng_seed(&rng, 1100);
    net = gan_net_build(g, MAXB, flags, &rng);
    gan_graph_free(g);
    if (!net) fatal("refusal_net", gan_last_error());
    return net;
}

static void test_refusals(void)
{
    gan_float xd[3 * 32];
    gan_tensor x = gan_tensor_make(xd, 3, 2, 4, 4);
    gan_net *net;
    gan_rng rng;
    gan_float P = 0;
    gan_layer chain[3];
    int r;
    gan_rng_seed(&rng, 1200);
    gan_fill_uniform(xd, GAN_COUNT(xd), -1, 1, &rng);

    net = refusal_net(gan_batchnorm(3), "bn_on_x", 1, GAN_BUILD_PENALTY);
    expect_refusal(net, &x, "BatchNorm in training mode on x's path", "bn_on_x");
    gan_net_set_training(net, 0);
    r = gan_net_penalty(net, &P, &x, 0, GAN_PENALTY_WGAN_GP, 10);
    test_report("penalty accepts the same BatchNorm in evaluation mode", r == 1 && isfinite(P), "returned %d (%s), P %g",
                r, gan_last_error(), P);
    gan_net_free(net);

    net = refusal_net(gan_dropout(0.5), "drop_on_x", 1, GAN_BUILD_PENALTY);
    expect_refusal(net, &x, "Dropout in training mode on x's path", "drop_on_x");
    gan_net_set_training(net, 0);
    r = gan_net_penalty(net, &P, &x, 0, GAN_PENALTY_R1, 10);
    test_report("penalty accepts the same Dropout in evaluation mode", r == 1 && isfinite(P), "returned %d (%s), P %g", r,
                gan_last_error(), P);
    gan_net_free(net);

    net = refusal_net(gan_tanh(), "t", 1, 0);
    expect_refusal(net, &x, "a graph built without GAN_BUILD_PENALTY", "GAN_BUILD_PENALTY");
    gan_net_free(net);

    chain[0] = gan_flatten();
    chain[1] = gan_linear(32, 4);
    chain[2] = gan_linear(4, 1);
    net = gan_net_create(gan_chw(2, 4, 4), chain, 3, MAXB, &rng);
    if (!net) fatal("gan_net_create", gan_last_error());
    expect_refusal(net, &x, "a gan_net_create chain (no GAN_BUILD_PENALTY)", "GAN_BUILD_PENALTY");
    gan_net_free(net);

    net = refusal_net(gan_tanh(), "t", 2, GAN_BUILD_PENALTY);
    expect_refusal(net, &x, "a first output of two values per sample", "one value per sample");
    gan_net_free(net);

    /* x that does not reach the first output is refused (its g is 0 by construction, so the call is a
       mistake: a wrong wrt), whether D ignores x or only the second output reads it */
    {
        gan_float xd[3 * 16] = { 0 }, yd[3] = { 0, 2, 1 };
        gan_tensor xy[2];
        xy[0] = gan_tensor_make(xd, 3, 1, 4, 4);
        xy[1] = gan_tensor_make(yd, 3, 1, 1, 1);
        gan_rng_seed(&rng, 1002);
        gan_graph *g = gan_graph_new();
        gan_node x = gan_input(g, gan_chw(1, 4, 4)), y = gan_input(g, gan_chw(1, 1, 1));
        (void)x;
        gan_output(g, gan_apply(g, gan_linear(4, 1), gan_apply(g, gan_embedding(3, 4), y)));
        net = gan_net_build(g, 3, GAN_BUILD_PENALTY, &rng);
        gan_graph_free(g);
        if (!net) fatal("unused x", gan_last_error());
        expect_refusal(net, xy, "an x that D does not read", "does not reach the first output");
        gan_net_free(net);

        g = gan_graph_new();
        x = gan_input(g, gan_chw(1, 4, 4));
        y = gan_input(g, gan_chw(1, 1, 1));
        gan_output(g, gan_apply(g, gan_linear(4, 1), gan_apply(g, gan_embedding(3, 4), y)));
        gan_output(g, gan_apply(g, gan_linear(16, 2), gan_apply(g, gan_flatten(), x)));
        net = gan_net_build(g, 3, GAN_BUILD_PENALTY, &rng);
        gan_graph_free(g);
        if (!net) fatal("x only in output 1", gan_last_error());
        expect_refusal(net, xy, "an x that only the second output reads", "does not reach the first output");
        gan_net_free(net);
    }

    /* a first output that is an input itself (no layer to differentiate) */
    {
        gan_graph *g = gan_graph_new();
        gan_node v = gan_input(g, gan_chw(1, 1, 1));
        gan_float vd[3] = { 1, 2, 3 };
        gan_tensor vt = gan_tensor_make(vd, 3, 1, 1, 1);
        gan_output(g, v);
        gan_output(g, gan_apply(g, gan_linear(1, 2), v));
        net = gan_net_build(g, 3, GAN_BUILD_PENALTY, &rng);
        gan_graph_free(g);
        if (!net) fatal("input as output 0", gan_last_error());
        expect_refusal(net, &vt, "a first output that is an input", "must be a layer");
        gan_net_free(net);
    }

    /* An auxiliary head (AC-GAN's classes) with training-mode BatchNorm depends on x but does not
       enter P: accepted, with the P and gradients of the same network in evaluation mode. */
    {
        gan_graph *g = gan_graph_new();
        gan_node h = gan_apply(g, gan_flatten(), gan_input(g, gan_chw(2, 4, 4))), aux;
        gan_float P_eval = 0, *grads_train;
        int ok_train;
        h = gan_apply(g, gan_tanh(), gan_apply(g, gan_linear(32, 8), h));
        gan_output(g, gan_apply(g, gan_linear(8, 1), h));
        aux = gan_apply(g, gan_batchnorm(8), h);
        gan_name(g, aux, "aux_bn");
        gan_output(g, gan_apply(g, gan_linear(8, 3), aux));
        net = gan_net_build(g, MAXB, GAN_BUILD_PENALTY, &rng);
        gan_graph_free(g);
        if (!net) fatal("aux head", gan_last_error());
        gan_net_zero_grad(net);
        ok_train = gan_net_penalty(net, &P, &x, 0, GAN_PENALTY_WGAN_GP, 10);
        grads_train = (gan_float *)xcalloc(net->n_params, sizeof(gan_float));
        memcpy(grads_train, net->grads, net->n_params * sizeof(gan_float));
        gan_net_set_training(net, 0);
        gan_net_zero_grad(net);
        r = gan_net_penalty(net, &P_eval, &x, 0, GAN_PENALTY_WGAN_GP, 10);
        test_report("penalty accepts training-mode BatchNorm in an auxiliary head that does not reach the first output, "
                    "with evaluation mode's P and gradients, bitwise",
                    ok_train && r && P == P_eval && memcmp(grads_train, net->grads, net->n_params * sizeof(gan_float)) == 0,
                    "train %d (%s), eval %d, P %.17g vs %.17g", ok_train, gan_last_error(), r, P, P_eval);
        free(grads_train);
        gan_net_free(net);
    }
}

/* ---- 5. accumulation, frozen layers, untouched state ---------------------------------------------- */

static void test_accumulates(critic *c, const char *label)
{
    gan_net *net = c->net;
    size_t N = net->n_params, j;
    gan_float *g0 = (gan_float *)xcalloc(N, sizeof(gan_float)), *gp = (gan_float *)xcalloc(N, sizeof(gan_float));
    gan_rng rng;
    double worst = 0, worst2 = 0, big;
    int p, k;
    char name[240];
    for (k = 0; k < N_KINDS; k += 3) { /* WGAN-GP and R2 */
        gan_net_zero_grad(net);
        penalty_of(c, kinds[k].kind, kinds[k].weight);
        memcpy(gp, net->grads, N * sizeof(gan_float));
        gan_rng_seed(&rng, 1300 + (uint64_t)k);
        for (p = 0; p < gan_net_param_count(net); p++) {
            gan_param prm = gan_net_param(net, p);
            gan_fill_normal(prm.grad, prm.count, 0, 1, &rng);
        }
        memcpy(g0, net->grads, N * sizeof(gan_float));
        penalty_of(c, kinds[k].kind, kinds[k].weight);
        worst = 0;
        for (j = 0; j < N; j++) {
            double e = fabs(net->grads[j] - (g0[j] + gp[j])), s = fabs(g0[j]) + fabs(gp[j]);
            if (s > 0 && e / s > worst) worst = e / s;
            if (s == 0 && e > 0) worst = HUGE_VAL;
        }
        sprintf(name, "penalty %s, %s: gradients after = before + the penalty's own (1e-14)", label, kinds[k].name);
        test_report(name, worst <= 1e-14, "largest relative difference %.3g", worst);
        /* twice, from zero: twice the gradient */
        gan_net_zero_grad(net);
        penalty_of(c, kinds[k].kind, kinds[k].weight);
        penalty_of(c, kinds[k].kind, kinds[k].weight);
        /* the sums of the second call round differently where terms cancel: relative to the largest */
        for (j = 0, big = 0; j < N; j++)
            if (fabs(2 * gp[j]) > big) big = fabs(2 * gp[j]);
        worst2 = 0;
        for (j = 0; j < N; j++) {
            double e = fabs(net->grads[j] - 2 * gp[j]) / big;
            if (e > worst2 || e != e) worst2 = e != e ? HUGE_VAL : e;
        }
        sprintf(name, "penalty %s, %s: two calls give twice the gradient (1e-13 of the largest)", label, kinds[k].name);
        test_report(name, big > 0 && worst2 <= 1e-13, "largest difference %.3g of the largest gradient", worst2);
    }
    free(g0);
    free(gp);
}

/* Every kind is a mean of per-sample terms: P and dP/dtheta at batch 4 are the means of those at the
   two halves (batch 2 each, the same max_batch-5 network), and batch 4 again after calls at batch 2
   and 1 gives bitwise the first result (nothing of one call's batch leaks into the next). */
static void test_batch_halves(critic *c)
{
    gan_net *net = c->net;
    size_t N = net->n_params, j;
    gan_float *g4 = (gan_float *)xcalloc(N, sizeof(gan_float)), *ga = (gan_float *)xcalloc(N, sizeof(gan_float));
    gan_tensor saved[2];
    double P4, PA, PB, P4b, big, worst;
    int k, i, same;
    char name[240];
    memcpy(saved, c->xs, sizeof saved);
    for (k = 0; k < N_KINDS; k++) {
        gan_net_zero_grad(net);
        P4 = penalty_of(c, kinds[k].kind, kinds[k].weight);
        memcpy(g4, net->grads, N * sizeof(gan_float));
        for (i = 0; i < c->n_in; i++) c->xs[i].n = 2; /* samples 0, 1 */
        gan_net_zero_grad(net);
        PA = penalty_of(c, kinds[k].kind, kinds[k].weight);
        memcpy(ga, net->grads, N * sizeof(gan_float));
        for (i = 0; i < c->n_in; i++) c->xs[i].data = saved[i].data + 2 * shape_count(gan_net_input_shape(net, i));
        gan_net_zero_grad(net);
        PB = penalty_of(c, kinds[k].kind, kinds[k].weight); /* samples 2, 3 */
        for (j = 0, big = 0, worst = 0; j < N; j++)
            if (fabs(g4[j]) > big) big = fabs(g4[j]);
        for (j = 0; j < N; j++) {
            double e = fabs(g4[j] - (ga[j] + net->grads[j]) / 2) / big;
            if (e > worst || e != e) worst = e != e ? HUGE_VAL : e;
        }
        for (i = 0; i < c->n_in; i++) c->xs[i].n = 1; /* sample 2 alone */
        penalty_of(c, kinds[k].kind, kinds[k].weight);
        memcpy(c->xs, saved, sizeof saved);
        sprintf(name, "penalty %.100s, %s: batch 4 is the mean of its two halves (P 1e-13, gradients 1e-12)", c->name,
                kinds[k].name);
        test_report(name, fabs(P4 - (PA + PB) / 2) <= 1e-13 * fabs(P4) && worst <= 1e-12 && big > 0,
                    "P %.17g, halves %.17g %.17g; gradient difference %.3g of the largest", P4, PA, PB, worst);
        gan_net_zero_grad(net);
        P4b = penalty_of(c, kinds[k].kind, kinds[k].weight);
        same = P4b == P4 && memcmp(g4, net->grads, N * sizeof(gan_float)) == 0;
        sprintf(name, "penalty %.100s, %s: batch 4 after batches 2 and 1 is bitwise the first", c->name, kinds[k].name);
        test_report(name, same, "P %.17g then %.17g, or a gradient differs", P4, P4b);
    }
    free(g4);
    free(ga);
}

/* The use the doc states: a loss's forward and backward, then the penalty, before the step: the
   gradients are the loss's plus the penalty's. */
static void test_loss_then_penalty(critic *c, const char *label)
{
    gan_net *net = c->net;
    size_t N = net->n_params, j;
    gan_float *gl = (gan_float *)xcalloc(N, sizeof(gan_float)), *gp = (gan_float *)xcalloc(N, sizeof(gan_float));
    gan_float *dx = (gan_float *)xcalloc((size_t)c->n * c->D, sizeof(gan_float));
    gan_float dy[MAXB];
    gan_tensor dys[4];
    double worst = 0;
    int o;
    char name[240];
    for (o = 0; o < c->n; o++) dy[o] = (gan_float)(o % 2 ? -1.0 / c->n : 1.0 / c->n);
    for (o = 0; o < net->n_outputs && o < 4; o++) dys[o] = gan_tensor_make(NULL, c->n, 1, 1, 1);
    dys[0] = gan_tensor_make(dy, c->n, 1, 1, 1);
    gan_net_zero_grad(net);
    critic_forward(c);
    if (!gan_net_backward_multi(net, dys, GAN_GRAD_PARAMS | GAN_GRAD_INPUTS)) fatal(c->name, gan_last_error());
    memcpy(gl, net->grads, N * sizeof(gan_float));
    gan_net_zero_grad(net);
    penalty_of(c, GAN_PENALTY_WGAN_GP, 10);
    memcpy(gp, net->grads, N * sizeof(gan_float));
    gan_net_zero_grad(net);
    critic_forward(c);
    if (!gan_net_backward_multi(net, dys, GAN_GRAD_PARAMS | GAN_GRAD_INPUTS)) fatal(c->name, gan_last_error());
    penalty_of(c, GAN_PENALTY_WGAN_GP, 10);
    for (j = 0; j < N; j++) {
        double e = fabs(net->grads[j] - (gl[j] + gp[j])), s = fabs(gl[j]) + fabs(gp[j]);
        if (s > 0 && e / s > worst) worst = e / s;
        if ((s == 0 && e > 0) || e != e) worst = HUGE_VAL;
    }
    sprintf(name, "penalty %s: forward, backward of a loss, then the penalty: the loss's + the penalty's gradients", label);
    test_report(name, worst <= 1e-14, "largest relative difference %.3g", worst);

    /* the penalty replaces the last forward: a backward right after it is the backward at xs */
    gan_net_zero_grad(net);
    critic_forward(c);
    if (!gan_net_backward_multi(net, dys, GAN_GRAD_PARAMS | GAN_GRAD_INPUTS)) fatal(c->name, gan_last_error());
    memcpy(dx, gan_net_input_grad(net, c->wrt)->data, (size_t)c->n * c->D * sizeof(gan_float));
    gan_net_zero_grad(net);
    penalty_of(c, GAN_PENALTY_R1, 10);
    gan_net_zero_grad(net);
    if (!gan_net_backward_multi(net, dys, GAN_GRAD_PARAMS | GAN_GRAD_INPUTS)) fatal(c->name, gan_last_error());
    sprintf(name, "penalty %s: a backward right after the penalty is bitwise the backward of a forward at xs", label);
    test_report(name,
                memcmp(gl, net->grads, N * sizeof(gan_float)) == 0 &&
                    memcmp(dx, gan_net_input_grad(net, c->wrt)->data, (size_t)c->n * c->D * sizeof(gan_float)) == 0,
                "parameter gradients or dL/dx differ");
    free(dx);
    free(gl);
    free(gp);
}

/* Layer `frozen` frozen: its gradients stay exactly as they were (sentinels), every other gradient
   and P are bitwise the unfrozen run's; then the unfrozen layer gets a nonzero one. */
static void test_frozen(critic *c, int frozen)
{
    gan_net *net = c->net;
    gan_layer *L = gan_net_layer(net, frozen);
    size_t N = net->n_params, j;
    gan_float *gp = (gan_float *)xcalloc(N, sizeof(gan_float));
    double P0, P1;
    int k, untouched, same_others, nonzero;
    char name[240];
    for (k = 0; k < N_KINDS; k++) {
        gan_net_zero_grad(net);
        P0 = penalty_of(c, kinds[k].kind, kinds[k].weight);
        memcpy(gp, net->grads, N * sizeof(gan_float));
        nonzero = 0;
        for (j = 0; j < L->nW; j++)
            if (gp[(size_t)(L->dW - net->grads) + j] != 0) nonzero = 1;
        gan_net_zero_grad(net);
        for (j = 0; j < L->nW; j++) L->dW[j] = 12345.678;
        for (j = 0; j < L->nb; j++) L->db[j] = -12345.678;
        L->frozen = 1;
        P1 = penalty_of(c, kinds[k].kind, kinds[k].weight);
        L->frozen = 0;
        untouched = 1;
        for (j = 0; j < L->nW; j++)
            if (L->dW[j] != 12345.678) untouched = 0;
        for (j = 0; j < L->nb; j++)
            if (L->db[j] != -12345.678) untouched = 0;
        same_others = P0 == P1;
        for (j = 0; j < N; j++) {
            int in_frozen = (net->grads + j >= L->dW && net->grads + j < L->dW + L->nW) ||
                            (L->nb && net->grads + j >= L->db && net->grads + j < L->db + L->nb);
            if (!in_frozen && net->grads[j] != gp[j]) same_others = 0;
        }
        sprintf(name, "penalty %s, %s: frozen layer %d gets no gradient (and gets one unfrozen)", c->name, kinds[k].name,
                frozen);
        test_report(name, untouched && nonzero, "frozen gradients untouched %d, unfrozen gradient nonzero %d", untouched,
                    nonzero);
        sprintf(name, "penalty %s, %s: freezing layer %d leaves P and the other gradients bitwise", c->name,
                kinds[k].name, frozen);
        test_report(name, same_others, "P %.17g vs %.17g, or another layer's gradient changed", P0, P1);
    }
    free(gp);
}

/* Evaluation mode: a penalty leaves BatchNorm's running statistics and Dropout's stream bitwise. */
static void test_eval_state(critic *c)
{
    gan_net *net = c->net;
    int nb = gan_net_buffer_count(net), b, l, same = 1, same_rng = 1, k;
    gan_float *copy[8];
    gan_rng rngs[16];
    for (b = 0; b < nb && b < 8; b++) {
        gan_param q = gan_net_buffer(net, b);
        copy[b] = (gan_float *)xcalloc(q.count, sizeof(gan_float));
        memcpy(copy[b], q.data, q.count * sizeof(gan_float));
    }
    for (l = 0; l < net->n_layers && l < 16; l++) rngs[l] = net->layers[l].rng;
    for (k = 0; k < N_KINDS; k++) penalty_of(c, kinds[k].kind, kinds[k].weight);
    for (b = 0; b < nb && b < 8; b++) {
        gan_param q = gan_net_buffer(net, b);
        if (memcmp(copy[b], q.data, q.count * sizeof(gan_float)) != 0) same = 0;
        free(copy[b]);
    }
    for (l = 0; l < net->n_layers && l < 16; l++)
        if (memcmp(&rngs[l], &net->layers[l].rng, sizeof(gan_rng)) != 0) same_rng = 0;
    test_report("penalty (d), evaluation mode: BatchNorm running statistics bitwise unchanged", same && nb == 6,
                "changed %d, buffers %d", !same, nb);
    test_report("penalty (d), evaluation mode: Dropout's random stream unchanged", same_rng, "a layer's rng moved");
}

/* In training mode a BatchNorm off x's path runs on batch statistics and its running estimates
   move (the penalty runs a training forward); P does not depend on them. */
static void test_label_bn_moves(critic *c)
{
    gan_param q = gan_net_buffer(c->net, 0);
    gan_float before[8];
    double P0, P1;
    memcpy(before, q.data, q.count * sizeof(gan_float));
    P0 = penalty_of(c, GAN_PENALTY_WGAN_GP, 10);
    P1 = penalty_of(c, GAN_PENALTY_WGAN_GP, 10);
    test_report("penalty (g), training mode: a BatchNorm off x's path updates its running mean, P stays",
                memcmp(before, q.data, q.count * sizeof(gan_float)) != 0 && P0 == P1, "P %.17g then %.17g", P0, P1);
}

/* ---- 6. self-tests ------------------------------------------------------------------------------- */

/* ana, num: critic (a)'s WGAN-GP gradients from check 1 (freed here). */
static void selftests(critic *c, gan_float *ana, gan_float *num)
{
    gan_net *net = c->net;
    gan_float *other;
    gan_param prm = gan_net_param(net, 0); /* 0.weight */
    size_t off = (size_t)(prm.grad - net->grads), at, N = net->n_params;
    double e, P, ref;
    kind_info off_weight = kinds[0];
    char name[240];

    /* the analytic gradient of weight 10 (1 + 1e-4) */
    other = (gan_float *)xcalloc(N, sizeof(gan_float));
    off_weight.weight *= 1 + 1e-4;
    gan_net_zero_grad(net);
    penalty_of(c, off_weight.kind, off_weight.weight);
    memcpy(other, net->grads, N * sizeof(gan_float));
    e = grad_error(other + off, num + off, prm.count, &at);
    test_report("selftest penalty: checker rejects the gradient of a weight 1e-4 off", e > TOL, "error only %.3g", e);
    printf("# selftest: weight 1e-4 off: error %.3g on d/d %s\n", e, prm.name);

    /* one element 1e-4 relative off */
    memcpy(other, ana, N * sizeof(gan_float));
    other[off + 5] *= 1 + 1e-4;
    e = grad_error(other + off, num + off, prm.count, &at);
    test_report("selftest penalty: checker rejects one element 1e-4 relative off", e > TOL && at == 5,
                "error %.3g at element %zu", e, at);
    printf("# selftest: one element 1e-4 off: error %.3g at element %zu\n", e, at);

    /* the one-sided kind's gradient as WGAN-GP's */
    gan_net_zero_grad(net);
    penalty_of(c, GAN_PENALTY_WGAN_GP_ONE_SIDED, 10);
    memcpy(other, net->grads, N * sizeof(gan_float));
    e = grad_error(other + off, num + off, prm.count, &at);
    test_report("selftest penalty: checker rejects the one-sided gradient for WGAN-GP's", e > TOL, "error only %.3g", e);
    printf("# selftest: one-sided for two-sided: error %.3g on d/d %s\n", e, prm.name);

    /* the zero check rejects a gradient of 1e-6 relative to the net's largest */
    {
        double big = 0, small;
        size_t j;
        for (j = 0; j < N; j++)
            if (fabs(num[j]) > big) big = fabs(num[j]);
        small = 1e-6 * big;
        sprintf(name, "selftest penalty: the zero check rejects an element %.0e of the largest gradient", 1e-6);
        test_report(name, !(small <= ZERO_REL * big), "threshold %.3g", ZERO_REL * big);
    }

    /* the kink watch sees a crossing: every image value of sample 0 negated */
    {
        gan_float *x0 = c->xs[0].data;
        size_t j;
        c->recording = 1;
        critic_forward(c);
        c->recording = 0;
        c->crossed = 0;
        for (j = 0; j < c->D; j++) x0[j] = -x0[j];
        critic_forward(c);
        for (j = 0; j < c->D; j++) x0[j] = -x0[j];
        test_report("selftest penalty: the kink watch sees LeakyReLU inputs change sign", c->crossed, "no crossing seen");
        c->crossed = 0;
        critic_forward(c);
        test_report("selftest penalty: the kink watch sees no crossing when nothing changed", !c->crossed, "a crossing seen");
    }

    /* the value check rejects a P 1e-7 off */
    P = penalty_of(c, GAN_PENALTY_WGAN_GP, 10);
    ref = formula(c->norm, c->n, GAN_PENALTY_WGAN_GP, 10 * (1 + 1e-7));
    e = fabs(P - ref) / fabs(ref);
    test_report("selftest penalty: the value check rejects P against a weight 1e-7 off", e >= VALUE_TOL,
                "relative error only %.3g", e);
    free(ana);
    free(num);
    free(other);
}

int main(void)
{
    critic c;
    gan_float *ana, *num;

    make_conv_ln(&c);
    check_all(&c, &ana, &num);
    selftests(&c, ana, num);
    test_accumulates(&c, "(a)");
    test_frozen(&c, 0);
    test_frozen(&c, 3); /* the LayerNorm */
    test_loss_then_penalty(&c, "(a)");
    test_batch_halves(&c);
    critic_free(&c);

    make_mlp(&c);
    check_all(&c, NULL, NULL);
    critic_free(&c);

    make_projection(&c);
    check_all(&c, NULL, NULL);
    test_accumulates(&c, "(c)");
    test_loss_then_penalty(&c, "(c)");
    test_batch_halves(&c);
    critic_free(&c);

    make_bn_eval(&c);
    check_all(&c, NULL, NULL);
    test_eval_state(&c);
    critic_free(&c);

    make_joins(&c);
    check_all(&c, NULL, NULL);
    test_loss_then_penalty(&c, "(e)");
    critic_free(&c);

    make_ln_plain(&c);
    check_all(&c, NULL, NULL);
    critic_free(&c);

    make_bn_label(&c);
    check_all(&c, NULL, NULL);
    test_label_bn_moves(&c);
    critic_free(&c);

    make_two_outputs(&c);
    check_all(&c, NULL, NULL);
    critic_free(&c);

    make_self_joins(&c);
    check_all(&c, NULL, NULL);
    critic_free(&c);

    make_paired(&c);
    check_all(&c, NULL, NULL);
    test_loss_then_penalty(&c, "(j)");
    critic_free(&c);

    make_mixed_dead(&c);
    check_all(&c, NULL, NULL);
    critic_free(&c);

    test_zero_grad();
    test_refusals();

    printf("# penalty: %ld differences crossed a kink and were redone with a 100 times smaller step\n", redone);
    printf("# penalty: worst relative error among passing gradient checks %.3g (%s)\n", worst_pass, worst_pass_name);
    printf("# penalty: worst relative error among passing value checks %.3g (%s)\n", worst_value_err, worst_value_name);
    return test_finish();
}
