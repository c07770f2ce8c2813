/* tests/test_graph.c - gradients of graph networks (gan_graph, gan_net_build) against finite differences.

   A graph network's backward visits its nodes last to first, sums the gradients of a node read by
   several consumers (each extra consumer's into a buffer of its own, added before the node runs),
   seeds every output with its dL/doutput, and gives a class-label input no gradient; its memory is
   planned by liveness, so buffers are shared between nodes. This file checks the result against the
   loss itself: for each network,
       L = sum over outputs o of sum(w_o * y_o),   w_o fixed random values (the dys of the backward),
   and dL/d(every float input) and dL/d(every parameter tensor) from gan_net_backward_multi are
   compared with numeric derivatives of L, in training mode (BatchNorm on batch statistics) unless
   said otherwise.

     1. Random graphs: RG_GRAPHS graphs of 6 to 15 nodes (inputs included), graph i drawn from gan_rng
        seed RG_SEED + i and, if the draw misses a requirement below, redrawn from RG_SEED + i +
        1000 * attempt (the seed and attempt of each are printed). Ops are picked from a menu of those
        whose shapes fit: Conv2d (3x3, 1x1, 4x4 stride 2), ConvTranspose2d, Linear, BatchNorm (affine
        and not), LayerNorm, ReLU, LeakyReLU, Tanh, Sigmoid, Scale, Dropout, AvgPool2x, Upsample2x,
        Flatten, Reshape, Embedding, Add, Mul, Concat, Inner; Add and Mul also broadcast (C, 1, 1),
        (1, H, W) and (1, 1, 1) operands. Graph i is built around structure i % N_ST: fan-out (a node
        feeding 3+ consumers), fan-in (a join of different nodes), a skip across 3+ edges, a Concat of
        three, a node read by exactly two consumers, 2-3 float inputs, a label input feeding
        Embeddings, 2-3 outputs, a (C, 1, 1) gate, an Inner product, a join reading one node twice,
        an output that another node also reads, a dead branch; plus random extras. The structures
        are then found in the built graph itself (not taken from what the generator meant to make),
        a draw without its own structure is redrawn, the counts over all graphs are printed, and each
        structure, each broadcast kind, a graph without gan_output and every op kind must occur.
        A draw is also redrawn if it has more than RG_BUDGET values to perturb, or if a norm layer's
        input barely varies (variance below 1e-3: a saturated Tanh before a BatchNorm over 3 samples
        divides by about sqrt(eps) and turns rounding into noise far above TOL; rg_conditioned).
        Batch 3 of a maximum of 4, so the checked batch is below the planned one.
     2. The four models of tests/fixtures/make_graph_fixtures.py, written as a user writes them and
        named as there: the SNGAN residual up-block (also in evaluation mode, BatchNorm on running
        estimates), a two-level U-Net, a projection discriminator and a class-conditional generator
        with conditional BatchNorm (batch 3 or 4).
     3. Special cases: outputs that are also consumed (a Tanh, a Flatten view, a Scale read only by
        an Upsample, which keeps nothing, so only being an output keeps its values); the input itself
        and a view of it as outputs, a view of a view, a Concat of a node and its view; a label input
        read only by Embeddings (its gradient must be all zeros, as in every graph with labels); dead
        branches (their parameters' gradients and the gradient of an input read only by them must
        be exactly 0); dys[i].data = NULL for one of two outputs gives bitwise what zeros give;
        dys that are the network's own outputs give what copies give; frozen layers get no gradient
        and pass dL/dx on. For every network: GAN_GRAD_PARAMS alone must give bitwise the parameter
        gradients of both flags, and GAN_GRAD_INPUTS alone bitwise their input gradients while
        leaving the parameter gradients untouched; sampling (gan_net_infer_multi, which shares memory
        with the backward's gradients) after a backward must leave the input gradients as they were,
        and between a forward and its backward must change no gradient.
     4. Self-tests ("selftest ..." lines): an analytic gradient with one element (the largest, or a
        typical one) off by a relative 1e-4 is rejected; a numeric gradient that is identically zero
        is rejected; the gradient of an output that is also consumed, computed without its own dy
        (one term of the sum rule dropped), is rejected.

   Numeric gradients: gradcheck.h's five-point central difference with h = STEP = 1e-4, whose error
   is near 1e-12 in double (GAN_DOUBLE); an analytic tensor passes when the numeric one is not
   identically zero and gradcheck.h's elementwise error grad_error is below TOL = 1e-6 (the rule of
   gradcheck.h's report_error, written out in verdict() so that the self-tests can exercise it).

   Where the gradient is 0 in exact arithmetic it is checked as such: a tensor with no path to the
   loss (dead branch, an output whose dy is NULL) must have analytic and numeric gradients of exactly
   0; a bias that feeds a BatchNorm in training mode (its shift is removed with the batch mean:
   resblock's conv1, the U-Net's down2 and up2) must be round-off small (analytic below 1e-12,
   numeric below 1e-8, make_graph_fixtures.py's FD_ZERO). The random graphs avoid such cancellations
   by applying norm layers only to an input or to an activation's output (after a bias and a
   per-channel op a BatchNorm would remove the bias; after a norm or a Scale it would remove the
   scale), and ReLU / Dropout only to tensors large enough that they cannot zero all of one.

   Buffers: every checked gradient is copied into a NaN-filled buffer of the test. Before the forward
   and backward whose gradients are checked, the network runs a forward and a backward from NaN
   upstream gradients at its max_batch (then gan_net_zero_grad): every library buffer the real
   backward does not overwrite (an input gradient left unwritten, a consumer's buffer added to but
   never cleared, a size taken from the earlier batch) is NaN and shows as an infinite error.
   Every input gradient is compared in full, and its tensor must have the batch and the input's
   shape; after the backward the whole gradient block must be finite.

   ReLU and LeakyReLU have a kink at 0: each loss evaluation records the sign of every ReLU/LeakyReLU
   output (gan_net_layer_output keeps them; for slope >= 0 it is the sign of the input), a difference
   whose evaluations cross a kink is redone with a 10 times smaller step, then a 100 times smaller
   one, and if even that crosses, the element is left out (its analytic value stands in) and counted
   in a SKIP line. Dropout layers have their random streams (gan_layer.rng) restored before every
   forward, so each evaluation draws the same mask. */
#define GAN_DOUBLE
#define GAN_IMPLEMENTATION
#include "../gan.h"
#define GRADCHECK_PREFIX "graph"
#include "gradcheck.h" /* TOL, STEP, grad_error, is_kink, shape_count, xcalloc, worst_pass */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IN 4
#define MAX_OUT 6
#define MAX_PROBES 64
#define FD_ZERO 1e-8     /* |numeric| allowed where the exact gradient is 0 (make_graph_fixtures.py's) */
#define ROUND_ZERO 1e-12 /* |analytic| allowed there: the round-off of a sum that cancels */

static void fill_nan(gan_float *x, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) x[i] = NAN;
}

static size_t tensor_count(const gan_tensor *t)
{
    return (size_t)t->n * t->c * t->h * t->w;
}

/* ---- the checker --------------------------------------------------------------------------------- */

/* What a probe's gradient must be. */
enum {
    EXPECT_GRAD,  /* non-zero, and equal to the numeric one (verdict) */
    EXPECT_ZERO,  /* exactly 0, analytic and numeric: no path to the loss */
    EXPECT_CANCEL, /* 0 up to round-off: a bias whose shift a BatchNorm removes */
    EXPECT_FROZEN  /* a frozen layer's: exactly 0 analytic, though the numeric one is not */
};

/* One tensor whose gradient is checked: the values v the difference perturbs, and the analytic and
   numeric gradients. input >= 0: network input `input`; else parameter `param`. */
typedef struct probe {
    char name[96];
    gan_float *v;
    gan_float *ana, *num;
    size_t n;
    int expect;
    int input, param;
} probe;

/* A network under check: its inputs, the loss weights, the probes, the kink record. */
typedef struct gcheck {
    char name[80];
    gan_net *net;
    int batch, n_in, n_out;   /* the network's inputs and outputs (gc_free needs no network) */
    gan_tensor xs[MAX_IN];
    int classes[MAX_IN];      /* > 0: input i is a class label of that many classes (not perturbed) */
    gan_tensor w[MAX_OUT];    /* L = sum_o sum(w_o * y_o); w[o].data NULL leaves output o out */
    gan_tensor poison[MAX_OUT]; /* NaN dys of the first backward */
    probe p[MAX_PROBES];
    int np;
    gan_rng *drop;            /* each layer's Dropout stream as built, restored before every forward */
    unsigned char *side;
    size_t nside;
    int recording, crossed, unresolved, failed_forward, lost_kink;
    int bad_grad_shape, grads_finite;
} gcheck;

/* The network's inputs uniform in [-1.5, 1.5], the loss weights in [-1, 1], and norm layers given
   weights in [0.5, 1.5] and biases in [-0.5, 0.5] (gradcheck.h's make_norm_net, for a graph), all
   from gan_rng seed `seed`. */
static gcheck *gc_new(const char *name, gan_net *net, int batch, uint64_t seed)
{
    gcheck *c = (gcheck *)xcalloc(1, sizeof *c);
    gan_rng rng;
    int i, l;
    gan_rng_seed(&rng, seed);
    sprintf(c->name, "%.79s", name);
    c->net = net;
    c->batch = batch;
    c->n_in = net->n_inputs;
    c->n_out = net->n_outputs;
    if (net->n_inputs > MAX_IN || net->n_outputs > MAX_OUT) {
        printf("FAIL graph: %s has more than %d inputs or %d outputs\n", name, MAX_IN, MAX_OUT);
        exit(1);
    }
    for (i = 0; i < net->n_inputs; i++) { /* max_batch samples, of which the first `batch` are checked */
        gan_shape s = gan_net_input_shape(net, i);
        size_t n = (size_t)net->max_batch * shape_count(s);
        c->xs[i] = gan_tensor_make((gan_float *)xcalloc(n, sizeof(gan_float)), batch, s.c, s.h, s.w);
        gan_fill_uniform(c->xs[i].data, n, -1.5, 1.5, &rng);
    }
    for (i = 0; i < net->n_outputs; i++) {
        const gan_tensor *y = gan_net_output_at(net, i);
        size_t n = (size_t)batch * y->c * y->h * y->w, nmax = (size_t)net->max_batch * y->c * y->h * y->w;
        c->w[i] = gan_tensor_make((gan_float *)xcalloc(n, sizeof(gan_float)), batch, y->c, y->h, y->w);
        c->poison[i] = gan_tensor_make((gan_float *)xcalloc(nmax, sizeof(gan_float)), net->max_batch, y->c, y->h, y->w);
        gan_fill_uniform(c->w[i].data, n, -1, 1, &rng);
        fill_nan(c->poison[i].data, nmax);
    }
    randomize_norms(net, &rng);
    c->drop = (gan_rng *)xcalloc((size_t)net->n_layers, sizeof(gan_rng));
    for (l = 0; l < net->n_layers; l++) {
        c->drop[l] = net->layers[l].rng;
        if (is_kink(net->layers[l].kind)) c->nside += (size_t)batch * shape_count(net->layers[l].out);
    }
    c->side = (unsigned char *)xcalloc(c->nside, 1);
    return c;
}

/* Input i is a class label of `classes` classes, sample j's being labels[j]. */
static void gc_label(gcheck *c, int i, int classes, const int *labels)
{
    int j;
    c->classes[i] = classes;
    for (j = 0; j < c->net->max_batch; j++) c->xs[i].data[j] = j < c->batch ? labels[j] : j % classes;
}

static probe *gc_add_probe(gcheck *c, const char *name, gan_float *v, size_t n, int input, int param)
{
    probe *p;
    if (c->np == MAX_PROBES) {
        printf("FAIL graph: more than %d tensors in %s\n", MAX_PROBES, c->name);
        exit(1);
    }
    p = &c->p[c->np++];
    sprintf(p->name, "%.95s", name);
    p->v = v;
    p->n = n;
    p->ana = (gan_float *)xcalloc(n, sizeof(gan_float));
    p->num = (gan_float *)xcalloc(n, sizeof(gan_float));
    p->expect = EXPECT_GRAD;
    p->input = input;
    p->param = param;
    return p;
}

/* Every float input ("input 0", ...) and every parameter ("param conv1.weight", ...). */
static void gc_probe_all(gcheck *c)
{
    int i;
    char name[96];
    for (i = 0; i < c->net->n_inputs; i++) {
        if (c->classes[i]) continue;
        sprintf(name, "input %d", i);
        gc_add_probe(c, name, c->xs[i].data, tensor_count(&c->xs[i]), i, -1);
    }
    for (i = 0; i < gan_net_param_count(c->net); i++) {
        gan_param prm = gan_net_param(c->net, i);
        sprintf(name, "param %.80s", prm.name);
        gc_add_probe(c, name, prm.data, prm.count, -1, i);
    }
}

static probe *gc_find(gcheck *c, const char *name)
{
    int t;
    for (t = 0; t < c->np; t++)
        if (strcmp(c->p[t].name, name) == 0) return &c->p[t];
    printf("FAIL graph: %s has no tensor named %s\n", c->name, name);
    exit(1);
}

static void gc_expect(gcheck *c, const char *name, int expect)
{
    gc_find(c, name)->expect = expect;
}

static void gc_free(gcheck *c)
{
    int i;
    for (i = 0; i < c->np; i++) {
        free(c->p[i].ana);
        free(c->p[i].num);
    }
    for (i = 0; i < c->n_in; i++) free(c->xs[i].data);
    for (i = 0; i < c->n_out; i++) {
        free(c->w[i].data);
        free(c->poison[i].data);
    }
    free(c->drop);
    free(c->side);
    free(c);
}

static void gc_restore_dropout(gcheck *c)
{
    int l;
    for (l = 0; l < c->net->n_layers; l++)
        if (c->net->layers[l].kind == GAN_DROPOUT) gan_net_layer(c->net, l)->rng = c->drop[l];
}

/* One forward; L, and the sides of every kink (recorded, or compared with the record). */
static double gc_loss(gcheck *c)
{
    gan_net *net = c->net;
    long double sum = 0;
    size_t s = 0, i;
    int o, l;
    gc_restore_dropout(c);
    if (!gan_net_forward_multi(net, c->xs)) {
        c->failed_forward = 1;
        return NAN;
    }
    for (o = 0; o < net->n_outputs; o++) {
        const gan_tensor *y = gan_net_output_at(net, o);
        size_t n = tensor_count(&c->w[o]);
        if (!c->w[o].data) continue;
        for (i = 0; i < n; i++) sum += (long double)c->w[o].data[i] * y->data[i];
    }
    for (l = 0; l < net->n_layers; l++) {
        const gan_tensor *y;
        size_t m;
        if (!is_kink(net->layers[l].kind)) continue;
        y = gan_net_layer_output(net, l);
        m = (size_t)c->batch * shape_count(net->layers[l].out);
        if (!y) {
            c->lost_kink = 1;
            s += m;
            continue;
        }
        for (i = 0; i < m; i++, s++) {
            unsigned char positive = y->data[i] > 0; /* the sign of the input, for slope >= 0 */
            if (c->recording)
                c->side[s] = positive;
            else if (c->side[s] != positive)
                c->crossed = 1;
        }
    }
    return (double)sum;
}

/* A forward and a backward from NaN dys at max_batch (then zero_grad), the forward and the backward
   from dys at the checked batch; each probe's analytic gradient copied into its NaN-filled buffer.
   0 if a call failed. */
static int gc_analytic(gcheck *c, const gan_tensor *dys)
{
    gan_net *net = c->net;
    gan_tensor full[MAX_IN];
    size_t j;
    int t;
    for (t = 0; t < c->n_in; t++) {
        full[t] = c->xs[t];
        full[t].n = net->max_batch;
    }
    if (!gan_net_forward_multi(net, full)) return 0;
    if (!gan_net_backward_multi(net, c->poison, GAN_GRAD_PARAMS | GAN_GRAD_INPUTS)) return 0;
    gan_net_zero_grad(net);
    gc_restore_dropout(c);
    if (!gan_net_forward_multi(net, c->xs)) return 0;
    if (!gan_net_backward_multi(net, dys, GAN_GRAD_PARAMS | GAN_GRAD_INPUTS)) return 0;
    c->grads_finite = 1;
    for (j = 0; j < net->n_params; j++)
        if (!isfinite(net->grads[j])) c->grads_finite = 0;
    for (t = 0; t < c->np; t++) {
        probe *p = &c->p[t];
        fill_nan(p->ana, p->n);
        if (p->input >= 0) {
            const gan_tensor *g = gan_net_input_grad(net, p->input);
            const gan_tensor *x = &c->xs[p->input];
            if (!g->data || g->n != c->batch || g->c != x->c || g->h != x->h || g->w != x->w) {
                c->bad_grad_shape = 1;
                continue;
            }
            memcpy(p->ana, g->data, p->n * sizeof(gan_float));
        } else {
            memcpy(p->ana, gan_net_param(net, p->param).grad, p->n * sizeof(gan_float));
        }
    }
    return 1;
}

/* dL/dv by the five-point difference, with h = STEP, or STEP / 10 or STEP / 100 where a larger step
   crosses a kink (each tenth of the step costs ten times the rounding error, still far below TOL);
   NaN if even the smallest step crosses one. */
static double gc_loss_of(void *c) { return gc_loss((gcheck *)c); }

static double gc_numeric(gcheck *c, gan_float *v)
{
    fd_loss fd = fd_loss_of(gc_loss_of, c, &c->crossed, 3, 0.1);
    double d = five_point(&fd, v);
    if (d != d) c->unresolved++;
    return d;
}

static int any_nonzero(const gan_float *x, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (x[i] != 0) return 1; /* NaN counts */
    return 0;
}

static double max_abs(const gan_float *x, size_t n)
{
    double m = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        if (x[i] != x[i]) return HUGE_VAL;
        if (fabs(x[i]) > m) m = fabs(x[i]);
    }
    return m;
}

/* gradcheck.h's rule (report_error's): the numeric gradient is not identically zero, and
   grad_error(a, n) < TOL. 1 if the analytic gradient passes; *e and *at: the error and where. */
static int verdict(const gan_float *a, const gan_float *n, size_t count, double *e, size_t *at)
{
    *e = grad_error(a, n, count, at);
    return any_nonzero(n, count) && *e < TOL;
}

/* One PASS/FAIL line for probe p of c. */
static void gc_report(gcheck *c, const probe *p)
{
    char name[300];
    size_t at, i;
    double e, ma, mn;
    int exact = 1;
    switch (p->expect) {
    case EXPECT_GRAD:
        sprintf(name, "%.80s: dL/d%.96s", c->name, p->name);
        if (!any_nonzero(p->num, p->n)) {
            test_report(name, 0, "the numeric gradient is identically zero, so nothing was checked");
            return;
        }
        verdict(p->ana, p->num, p->n, &e, &at);
        test_report(name, e < TOL, "max relative error %.3g at element %zu of %zu: analytic %.15g, numeric %.15g",
                    e, at, p->n, (double)p->ana[at], (double)p->num[at]);
        if (e < TOL && e > worst_pass) {
            worst_pass = e;
            sprintf(worst_pass_name, "%.199s", name);
        }
        return;
    case EXPECT_ZERO:
        sprintf(name, "%.80s: dL/d%.96s is exactly 0 (no path to the loss)", c->name, p->name);
        for (i = 0; i < p->n; i++)
            if (p->ana[i] != 0 || p->num[i] != 0) exact = 0;
        test_report(name, exact, "max |analytic| %.3g, max |numeric| %.3g", max_abs(p->ana, p->n),
                    max_abs(p->num, p->n));
        return;
    case EXPECT_FROZEN:
        sprintf(name, "%.80s: dL/d%.96s is not accumulated (frozen layer)", c->name, p->name);
        for (i = 0; i < p->n; i++)
            if (p->ana[i] != 0) exact = 0;
        test_report(name, exact && any_nonzero(p->num, p->n),
                    "max |analytic| %.3g (must be 0), max |numeric| %.3g (must not be)", max_abs(p->ana, p->n),
                    max_abs(p->num, p->n));
        return;
    default:
        sprintf(name, "%.80s: dL/d%.96s is 0 up to round-off (the BatchNorm after it removes its shift)", c->name,
                p->name);
        ma = max_abs(p->ana, p->n);
        mn = max_abs(p->num, p->n);
        test_report(name, ma < ROUND_ZERO && mn < FD_ZERO,
                    "max |analytic| %.3g (limit %g), max |numeric| %.3g (limit %g)", ma, ROUND_ZERO, mn, FD_ZERO);
        printf("# %s: dL/d%s: max |analytic| %.3g, max |numeric| %.3g\n", c->name, p->name, ma, mn);
        return;
    }
}

/* What one backward's flags select: GAN_GRAD_PARAMS alone must give bitwise the parameter gradients of
   both flags, and GAN_GRAD_INPUTS alone bitwise their input gradients while leaving the parameter
   gradients exactly as they were (the backward skips different nodes in each case). */
static void gc_flags(gcheck *c)
{
    gan_net *net = c->net;
    size_t np = net->n_params, nx = 0, j, at;
    gan_float *params, *inputs;
    int i, pass, same_params = 1, same_inputs = 1, untouched = 1, ok;
    char name[200];
    for (i = 0; i < net->n_inputs; i++) nx += tensor_count(&c->xs[i]);
    params = (gan_float *)xcalloc(np, sizeof(gan_float));
    inputs = (gan_float *)xcalloc(nx, sizeof(gan_float));
    gc_restore_dropout(c);
    ok = gan_net_forward_multi(net, c->xs);
    for (pass = 0; ok && pass < 3; pass++) { /* both flags, GAN_GRAD_PARAMS, GAN_GRAD_INPUTS */
        static const unsigned what[3] = {GAN_GRAD_PARAMS | GAN_GRAD_INPUTS, GAN_GRAD_PARAMS, GAN_GRAD_INPUTS};
        if (pass < 2) gan_net_zero_grad(net);
        if (!gan_net_backward_multi(net, c->w, what[pass])) {
            ok = 0;
            break;
        }
        for (j = 0; j < np; j++) {
            if (pass == 0) params[j] = net->grads[j];
            else if (pass == 1 && params[j] != net->grads[j]) same_params = 0;
            else if (pass == 2 && params[j] != net->grads[j]) untouched = 0;
        }
        for (i = 0, at = 0; pass != 1 && i < net->n_inputs; i++) {
            const gan_tensor *g = gan_net_input_grad(net, i);
            for (j = 0; j < tensor_count(&c->xs[i]); j++, at++) {
                if (pass == 0) inputs[at] = g->data[j];
                else if (inputs[at] != g->data[j]) same_inputs = 0;
            }
        }
    }
    sprintf(name, "%.80s: GAN_GRAD_PARAMS alone gives bitwise the parameter gradients of both flags", c->name);
    test_report(name, ok && same_params, ok ? "a parameter gradient differs" : "a call failed: %s", gan_last_error());
    sprintf(name, "%.80s: GAN_GRAD_INPUTS alone gives bitwise their input gradients, parameter gradients untouched",
            c->name);
    test_report(name, ok && same_inputs && untouched,
                "input gradients the same %d, parameter gradients untouched %d%s%s", same_inputs, untouched,
                ok ? "" : "; a call failed: ", ok ? "" : gan_last_error());
    free(params);
    free(inputs);
}

/* Sampling shares memory with the backward's gradients, but must change nothing: right after the
   checked backward, gan_net_infer_multi on 2 max_batch + 2 other samples (in chunks, batch statistics)
   must leave every input gradient bitwise as it was; and forward, gan_net_infer_multi (running
   estimates), backward must give bitwise the gradients of forward, backward. Call it right after
   gc_analytic(c, c->w), while the probes hold its gradients. */
static void gc_infer_between(gcheck *c)
{
    gan_net *net = c->net;
    gan_tensor xi[MAX_IN], yi[MAX_OUT];
    gan_rng rng;
    int n = 2 * net->max_batch + 2, i, t, ok, survive = 1, same = 1;
    size_t j;
    char name[200];
    gan_rng_seed(&rng, 77);
    for (i = 0; i < c->n_in; i++) {
        size_t m = (size_t)n * shape_count(gan_net_input_shape(net, i));
        xi[i] = c->xs[i];
        xi[i].n = n;
        xi[i].data = (gan_float *)xcalloc(m, sizeof(gan_float));
        gan_fill_uniform(xi[i].data, m, -1.5, 1.5, &rng);
        if (c->classes[i])
            for (j = 0; j < (size_t)n; j++) xi[i].data[j] = (gan_float)(j % (size_t)c->classes[i]);
    }
    for (i = 0; i < c->n_out; i++) {
        yi[i] = c->w[i];
        yi[i].n = n;
        yi[i].data = (gan_float *)xcalloc((size_t)n * yi[i].c * yi[i].h * yi[i].w, sizeof(gan_float));
    }
    ok = gan_net_infer_multi(net, yi, xi, GAN_STATS_BATCH);
    for (t = 0; ok && t < c->np; t++)
        if (c->p[t].input >= 0 && memcmp(c->p[t].ana, gan_net_input_grad(net, c->p[t].input)->data,
                                         c->p[t].n * sizeof(gan_float)) != 0)
            survive = 0;
    sprintf(name, "%.80s: input gradients survive a gan_net_infer_multi after the backward", c->name);
    test_report(name, ok && survive, ok ? "an input gradient changed" : "gan_net_infer_multi: %s", gan_last_error());

    gan_net_zero_grad(net);
    gc_restore_dropout(c);
    ok = gan_net_forward_multi(net, c->xs) && gan_net_infer_multi(net, yi, xi, GAN_STATS_RUNNING) &&
         gan_net_backward_multi(net, c->w, GAN_GRAD_PARAMS | GAN_GRAD_INPUTS);
    for (t = 0; ok && t < c->np; t++) {
        const gan_float *g = c->p[t].input >= 0 ? gan_net_input_grad(net, c->p[t].input)->data
                                                : gan_net_param(net, c->p[t].param).grad;
        if (memcmp(c->p[t].ana, g, c->p[t].n * sizeof(gan_float)) != 0) same = 0;
    }
    sprintf(name, "%.80s: a gan_net_infer_multi between forward and backward changes no gradient", c->name);
    test_report(name, ok && same, ok ? "a gradient differs" : "a call failed: %s", gan_last_error());
    for (i = 0; i < c->n_in; i++) free(xi[i].data);
    for (i = 0; i < c->n_out; i++) free(yi[i].data);
}

/* The whole check of c: analytic gradients (the loss's w as dys), numeric gradients of every probe,
   one line per probe, then the label inputs' gradients and the bookkeeping checks. */
static void gc_check(gcheck *c)
{
    char name[200];
    int t, i, worst_t = -1;
    size_t j, values = 0;
    double worst = 0;

    c->recording = 1;
    gc_loss(c);
    c->recording = 0;
    sprintf(name, "%.80s: forward and backward run", c->name);
    if (c->failed_forward || !gc_analytic(c, c->w)) {
        test_report(name, 0, "%s", gan_last_error());
        return;
    }
    gc_infer_between(c);
    for (t = 0; t < c->np; t++) {
        for (j = 0; j < c->p[t].n; j++) c->p[t].num[j] = gc_numeric(c, &c->p[t].v[j]);
        values += c->p[t].n;
    }
    for (t = 0; t < c->np; t++) {
        probe *p = &c->p[t];
        size_t at;
        double e;
        for (j = 0; j < p->n; j++)
            if (p->num[j] != p->num[j]) p->num[j] = p->ana[j]; /* at a kink even with the small step */
        gc_report(c, p);
        if (p->expect != EXPECT_GRAD) continue;
        e = grad_error(p->ana, p->num, p->n, &at);
        if (worst_t < 0 || e > worst) {
            worst = e;
            worst_t = t;
        }
    }
    if (worst_t >= 0) {
        probe *p = &c->p[worst_t];
        size_t at;
        grad_error(p->ana, p->num, p->n, &at);
        printf("# %s: %zu values perturbed; worst relative error %.3g (dL/d%s element %zu: analytic %.6g, numeric "
               "%.6g, largest |analytic| %.3g)\n", c->name, values, worst, p->name, at, (double)p->ana[at],
               (double)p->num[at], max_abs(p->ana, p->n));
    }

    for (i = 0; i < c->net->n_inputs; i++) {
        const gan_tensor *g = gan_net_input_grad(c->net, i);
        int zero = g->data && g->n == c->batch && g->c == 1 && g->h == 1 && g->w == 1;
        if (!c->classes[i]) continue;
        for (j = 0; zero && j < (size_t)c->batch; j++)
            if (g->data[j] != 0) zero = 0;
        sprintf(name, "%.80s: dL/dinput %d (a class label read by Embeddings) is all zeros", c->name, i);
        test_report(name, zero, "a non-zero or NaN value, or a tensor of the wrong shape");
    }
    gc_flags(c);
    sprintf(name, "%.80s: every input gradient has the batch and the input's shape", c->name);
    test_report(name, !c->bad_grad_shape, "gan_net_input_grad returned a tensor of another batch or shape");
    sprintf(name, "%.80s: every parameter gradient is finite after a backward that follows a NaN one", c->name);
    test_report(name, c->grads_finite, "a NaN or infinite value in the gradient block");
    if (c->failed_forward) {
        sprintf(name, "%.80s: every perturbed forward runs", c->name);
        test_report(name, 0, "%s", gan_last_error());
    }
    if (c->lost_kink) {
        sprintf(name, "%.80s: ReLU and LeakyReLU outputs are kept", c->name);
        test_report(name, 0, "gan_net_layer_output returned NULL for one");
    }
    if (c->unresolved) {
        sprintf(name, "%.80s: elements at a kink", c->name);
        test_skip(name, "%d elements sit within 2e-6 of a ReLU/LeakyReLU kink and were left out", c->unresolved);
    }
}

/* ---- self-tests of the checker -------------------------------------------------------------------- */

/* Element `at` of probe `pname`'s analytic gradient off by a relative 1e-4 must be rejected. */
static void selftest_planted(gcheck *c, const char *pname, int largest)
{
    probe *p = gc_find(c, pname);
    gan_float *a = (gan_float *)xcalloc(p->n, sizeof(gan_float));
    char name[240];
    size_t i, at = 0, where;
    double e, e0;
    int ok, accepted;
    memcpy(a, p->ana, p->n * sizeof(gan_float));
    if (largest) {
        for (i = 1; i < p->n; i++)
            if (fabs(a[i]) > fabs(a[at])) at = i;
    } else { /* the element whose magnitude is nearest the mean magnitude: a typical one */
        double mean = 0, best = HUGE_VAL;
        for (i = 0; i < p->n; i++) mean += fabs(a[i]) / (double)p->n;
        for (i = 0; i < p->n; i++)
            if (fabs(fabs(a[i]) - mean) < best) {
                best = fabs(fabs(a[i]) - mean);
                at = i;
            }
    }
    accepted = verdict(a, p->num, p->n, &e0, &where); /* as it is: accepted (the check above passed) */
    a[at] *= 1 + 1e-4;
    sprintf(name, "selftest %.80s: checker rejects dL/d%.60s with its %s element off by a relative 1e-4", c->name,
            p->name, largest ? "largest" : "typical");
    ok = !verdict(a, p->num, p->n, &e, &where) && e > TOL;
    if (accepted)
        test_report(name, ok, "error only %.3g", e);
    else
        test_report(name, 0, "the unchanged gradient is rejected already (error %.3g)", e0);
    printf("# selftest: dL/d%s with element %zu off by 1e-4: error %.3g\n", p->name, at, e);
    free(a);
}

/* A numeric gradient that is identically zero checks nothing: rejected even against a zero analytic. */
static void selftest_zero_numeric(void)
{
    gan_float a[6] = {0, 0, 0, 0, 0, 0}, n[6] = {0, 0, 0, 0, 0, 0}, b[6] = {1, -2, 3, 0.5, 0, 1};
    double e;
    size_t at;
    int rejects = !verdict(a, n, 6, &e, &at) && !verdict(b, n, 6, &e, &at);
    test_report("selftest graph: checker rejects an identically zero numeric gradient (analytic zero or not)", rejects,
                "an all-zero numeric gradient was accepted");
}

/* ---- random graphs -------------------------------------------------------------------------------- */

#define RG_GRAPHS 39    /* three of each structure */
#define RG_SEED 1000
#define RG_ATTEMPTS 200
#define RG_MAX 64       /* nodes the generator may make before it is rejected */
#define RG_MIN_NODES 6
#define RG_MAX_NODES 15
#define RG_BATCH 3
#define RG_MAX_BATCH 4
#define RG_BUDGET 1500  /* values perturbed in one graph, at most */
#define KIND_INPUT (-1)
#define KIND_LABEL (-2)

/* The structures found in the built graphs (rg_analyze): the first N_ST are themes, one of which each
   graph is built around; the rest occur on the way. Every one must occur in some graph. */
enum {
    ST_FANOUT,
    ST_FANIN,
    ST_SKIP,
    ST_CONCAT3,
    ST_TWO_CONSUMERS,
    ST_INPUTS,
    ST_LABEL,
    ST_OUTPUTS,
    ST_GATE,
    ST_INNER,
    ST_SELF_JOIN,
    ST_OUT_CONSUMED,
    ST_DEAD,
    N_ST, /* the themes; the rest are counted (and required) but no graph is built around them */
    ST_BC_PLANE = N_ST,
    ST_BC_OUTER,
    ST_BC_SCALAR,
    ST_IMPLICIT_OUT,
    N_COV
};

static const char *const st_name[N_COV] = {"fanout", "fanin", "skip", "concat3", "two_consumers", "inputs", "label",
                                           "outputs", "gate", "inner", "self_join", "output_consumed", "dead_branch",
                                           "bcast_plane", "bcast_outer", "bcast_scalar", "implicit_output"};

static const char *const st_what[N_COV] = {
    "a node feeding 3 or more consumers",
    "an Add, Mul or Concat of two different nodes",
    "an Add of a node and a node 3 or more edges after it",
    "a Concat of three or more nodes",
    "a node read by exactly two consumers",
    "two or three float inputs",
    "a class-label input feeding Embeddings",
    "two or more outputs",
    "a Mul broadcasting a (C, 1, 1) operand over (C, H, W)",
    "an Inner product",
    "a join reading one node twice",
    "an output that another node also reads",
    "a node that reaches no output",
    "an Add or Mul broadcasting a (1, H, W) operand over (C, H, W)",
    "an Add or Mul of (C, 1, 1) and (1, H, W), both broadcast",
    "an Add or Mul broadcasting a (1, 1, 1) operand over a larger one",
    "no gan_output call: the last node is the one output"};

/* The graph under construction, mirrored: every node's shape, kind and inputs. */
typedef struct rgraph {
    gan_graph *g;
    gan_rng rng;
    int n;
    gan_node node[RG_MAX];
    gan_shape s[RG_MAX];
    int kind[RG_MAX]; /* a gan_layer_kind, KIND_INPUT or KIND_LABEL */
    int nin[RG_MAX], in[RG_MAX][4];
    int classes[RG_MAX];
    int heads[RG_MAX], nheads; /* nodes nothing reads yet */
    int outs[MAX_OUT], nout;
    int implicit; /* no gan_output call: the last node is the output */
    int too_big;
} rgraph;

static int rg_rand(rgraph *r, int n)
{
    return (int)(gan_rng_u32(&r->rng) % (uint32_t)n);
}

static int is_image(gan_shape s)
{
    return s.h > 1 || s.w > 1;
}

static int same_shape(gan_shape a, gan_shape b)
{
    return a.c == b.c && a.h == b.h && a.w == b.w;
}

/* A node the graph just made, recorded in the mirror. Past RG_MAX the graph is marked too big and
   the last slot reused (the graph is rejected anyway). */
static int rg_record(rgraph *r, gan_node h, int kind, const int *ins, int nin)
{
    int k = r->n, i;
    if (k == RG_MAX) {
        r->too_big = 1;
        k = RG_MAX - 1;
    } else {
        r->n++;
    }
    r->node[k] = h;
    r->s[k] = gan_node_shape(r->g, h);
    r->kind[k] = kind;
    r->nin[k] = nin;
    for (i = 0; i < nin; i++) r->in[k][i] = ins[i];
    return k;
}

static int rg_input(rgraph *r, gan_shape s, int classes)
{
    int k = rg_record(r, gan_input(r->g, s), classes ? KIND_LABEL : KIND_INPUT, NULL, 0);
    r->classes[k] = classes;
    return k;
}

static int rg_apply(rgraph *r, gan_layer L, int x)
{
    return rg_record(r, gan_apply(r->g, L, r->node[x]), (int)L.kind, &x, 1);
}

static int rg_join(rgraph *r, gan_layer_kind kind, int a, int b)
{
    int ins[2];
    gan_node h;
    ins[0] = a;
    ins[1] = b;
    if (kind == GAN_ADD)
        h = gan_add(r->g, r->node[a], r->node[b]);
    else if (kind == GAN_MUL)
        h = gan_mul(r->g, r->node[a], r->node[b]);
    else
        h = gan_inner(r->g, r->node[a], r->node[b]);
    return rg_record(r, h, (int)kind, ins, 2);
}

static int rg_concat(rgraph *r, const int *xs, int n)
{
    gan_node hs[4];
    int i;
    for (i = 0; i < n; i++) hs[i] = r->node[xs[i]];
    return rg_record(r, gan_concat(r->g, hs, n), GAN_CONCAT, xs, n);
}

static void rg_push(rgraph *r, int k)
{
    r->heads[r->nheads++] = k;
}

/* A random head, taken off the list (-1 if there is none). */
static int rg_take(rgraph *r)
{
    int i, k;
    if (!r->nheads) return -1;
    i = rg_rand(r, r->nheads);
    k = r->heads[i];
    r->heads[i] = r->heads[--r->nheads];
    return k;
}

/* Norm layers only on an input or an activation's output: after a bias and per-channel ops a
   BatchNorm would remove the bias (gradient 0), after a norm or a Scale it would remove the scale. */
static int norm_ok(const rgraph *r, int x)
{
    int k = r->kind[x];
    return k == KIND_INPUT || k == GAN_RELU || k == GAN_LEAKY_RELU || k == GAN_TANH || k == GAN_SIGMOID;
}

/* One random one-input layer on x (same: one that keeps x's shape). Images are square, 2x2 to 8x8. */
static int rg_unary(rgraph *r, int x, int same)
{
    gan_layer cand[24];
    int nc = 0, c2 = 2 + rg_rand(r, 3);
    gan_shape s = r->s[x];
    size_t count = shape_count(s);
    gan_float alpha = (gan_float)(0.5 + 1.5 * gan_rng_uniform(&r->rng)); /* one draw per statement: */
    if (rg_rand(r, 2)) alpha = -alpha;                                       /* the same graph on any compiler */
    if (is_image(s)) {
        cand[nc++] = gan_conv2d(s.c, same ? s.c : c2, 3, 1, 1);
        if (!same) {
            cand[nc++] = gan_conv2d(s.c, c2, 1, 1, 0);
            if (s.h >= 4) cand[nc++] = gan_conv2d(s.c, c2, 4, 2, 1);
            cand[nc++] = gan_avgpool2x();
            if (s.h <= 4) {
                cand[nc++] = gan_conv_transpose2d(s.c, c2, 4, 2, 1, 0);
                cand[nc++] = gan_upsample2x();
            }
            if (count <= 48) cand[nc++] = gan_flatten();
        }
    } else {
        cand[nc++] = gan_linear(s.c, same ? s.c : 2 + rg_rand(r, 7));
        if (!same && s.c % 4 == 0 && s.c >= 8) cand[nc++] = gan_reshape(s.c / 4, 2, 2);
    }
    /* ReLU and Dropout only where they cannot zero all of a small tensor (3 samples of one value:
       a chance of 1 in 8 and 1 in 64), which would leave everything before it a zero gradient */
    if (count >= 4) cand[nc++] = gan_relu();
    if (count >= 8) cand[nc++] = gan_dropout(0.25);
    cand[nc++] = gan_leaky_relu(0.2);
    cand[nc++] = gan_tanh();
    cand[nc++] = gan_sigmoid();
    cand[nc++] = gan_scale(alpha);
    if (norm_ok(r, x)) {
        cand[nc++] = gan_batchnorm(s.c);
        cand[nc++] = gan_no_affine(gan_batchnorm(s.c));
        if (count >= 4) cand[nc++] = gan_layernorm();
    }
    return rg_apply(r, cand[rg_rand(r, nc)], x);
}

/* A node of shape t made from src (exact = 0: or one that broadcasts over t, (C, 1, 1) or (1, 1, 1)). */
static int rg_adapt(rgraph *r, int src, gan_shape t, int exact)
{
    gan_shape s = r->s[src];
    int c, k;
    if (same_shape(s, t)) return src;
    if (!exact && !is_image(s) && (s.c == t.c || s.c == 1)) return src;     /* (C, 1, 1), (1, 1, 1) */
    if (!exact && s.c == 1 && s.h == t.h && s.w == t.w) return src;         /* (1, H, W) */
    if (is_image(t) && is_image(s)) {
        while (r->s[src].h > 2 * t.h) src = rg_apply(r, gan_avgpool2x(), src);
        while (2 * r->s[src].h < t.h) src = rg_apply(r, gan_upsample2x(), src);
        s = r->s[src];
        if (s.h == 2 * t.h) return rg_apply(r, gan_conv2d(s.c, t.c, 4, 2, 1), src);
        if (2 * s.h == t.h) return rg_apply(r, gan_conv_transpose2d(s.c, t.c, 4, 2, 1, 0), src);
        if (s.c == t.c) return src;
        c = exact || rg_rand(r, 3) ? t.c : 1; /* or one channel, broadcast over t's */
        k = rg_rand(r, 2) ? 3 : 1;
        return rg_apply(r, gan_conv2d(s.c, c, k, 1, k / 2), src);
    }
    if (is_image(s)) { /* to a vector first */
        while (r->s[src].h > 2) src = rg_apply(r, gan_avgpool2x(), src);
        src = rg_apply(r, gan_flatten(), src);
        s = r->s[src];
        if (same_shape(s, t)) return src;
    }
    if (!is_image(t)) return rg_apply(r, gan_linear(s.c, t.c), src);
    if (!exact && rg_rand(r, 3)) return rg_apply(r, gan_linear(s.c, t.c), src); /* (C, 1, 1), broadcast over t */
    src = rg_apply(r, gan_linear(s.c, (int)shape_count(t)), src);
    return rg_apply(r, gan_reshape(t.c, t.h, t.w), src);
}

/* A Concat of xs[0..n): every other node brought to xs[0]'s H and W. */
static int rg_concat_of(rgraph *r, int *xs, int n)
{
    gan_shape t0 = r->s[xs[0]];
    int i;
    for (i = 1; i < n; i++) {
        gan_shape s = r->s[xs[i]];
        int c;
        if (s.h == t0.h && s.w == t0.w) continue;
        c = is_image(t0) ? (is_image(s) ? s.c : 1 + rg_rand(r, 2)) : 2 + rg_rand(r, 3);
        xs[i] = rg_adapt(r, xs[i], gan_chw(c, t0.h, t0.w), 1);
    }
    return rg_concat(r, xs, n);
}

/* a and b joined into one node: Add, Mul (b adapted to a's shape or to broadcast over it), Concat or Inner. */
static int rg_merge(rgraph *r, int a, int b)
{
    int t, xs[2], op;
    if ((is_image(r->s[b]) && !is_image(r->s[a])) ||
        (!is_image(r->s[a]) && !is_image(r->s[b]) && r->s[b].c > r->s[a].c)) { /* a: the larger */
        t = a;
        a = b;
        b = t;
    }
    op = rg_rand(r, 5);
    switch (op) {
    case 0:
    case 1:
    case 2:
        t = rg_adapt(r, b, r->s[a], 0);
        if (op == 2) return rg_join(r, GAN_MUL, a, t);
        return op == 0 ? rg_join(r, GAN_ADD, a, t) : rg_join(r, GAN_ADD, t, a);
    case 3:
        xs[0] = a;
        xs[1] = b;
        return rg_concat_of(r, xs, 2);
    default:
        t = rg_adapt(r, b, r->s[a], 1);
        return rg_join(r, GAN_INNER, a, t);
    }
}

/* The label input conditions a head: a (C, 1, 1) gain or shift of an image, or an inner product with
   / concatenation onto a vector (a projection discriminator's and a conditional generator's uses). */
static void rg_embed(rgraph *r, int label)
{
    int a = rg_take(r), e, xs[2], how = rg_rand(r, 3), classes = r->classes[label];
    gan_shape s = r->s[a];
    if (is_image(s)) {
        e = rg_apply(r, gan_embedding(classes, s.c), label);
        rg_push(r, how == 0   ? rg_join(r, GAN_MUL, a, e)
                   : how == 1 ? rg_join(r, GAN_ADD, e, a)
                              : rg_join(r, GAN_MUL, e, a));
        return;
    }
    if (how == 1) {
        e = rg_apply(r, gan_embedding(classes, 2), label);
        xs[0] = a;
        xs[1] = e;
        rg_push(r, rg_concat(r, xs, 2));
        return;
    }
    e = rg_apply(r, gan_embedding(classes, s.c), label);
    rg_push(r, how == 0 ? rg_join(r, GAN_INNER, a, e) : rg_join(r, GAN_MUL, a, e));
}

/* Structure st built on the heads (the ones the generator makes by construction). */
static void rg_motif(rgraph *r, int st)
{
    int a, b, k, xs[3], g;
    a = rg_take(r);
    switch (st) {
    case ST_FANOUT:
        for (k = 0; k < 3; k++) rg_push(r, rg_unary(r, a, 0));
        return;
    case ST_FANIN:
        b = r->nheads ? rg_take(r) : rg_unary(r, a, 0);
        rg_push(r, rg_merge(r, a, b));
        return;
    case ST_SKIP:
        b = a;
        for (k = 0; k < 3; k++) b = rg_unary(r, b, 1);
        rg_push(r, rg_rand(r, 2) ? rg_join(r, GAN_ADD, a, b) : rg_join(r, GAN_ADD, b, a));
        return;
    case ST_CONCAT3:
        xs[0] = a;
        for (k = 1; k < 3; k++) xs[k] = r->nheads && rg_rand(r, 2) ? rg_take(r) : rg_unary(r, a, 0);
        rg_push(r, rg_concat_of(r, xs, 3));
        return;
    case ST_TWO_CONSUMERS:
        b = rg_unary(r, a, 0);
        k = rg_unary(r, a, 0);
        rg_push(r, rg_merge(r, b, k));
        return;
    case ST_GATE: /* a channel gate (C, 1, 1), or sometimes a spatial one (1, H, W), or their product */
        if (!is_image(r->s[a])) a = rg_adapt(r, a, gan_chw(2 + rg_rand(r, 2), 4, 4), 1);
        b = r->nheads && rg_rand(r, 2) ? rg_take(r) : a;
        k = rg_rand(r, 4);
        g = rg_adapt(r, b, k == 2 ? gan_chw(1, r->s[a].h, r->s[a].w) : gan_chw(r->s[a].c, 1, 1), 1);
        g = rg_apply(r, rg_rand(r, 2) ? gan_sigmoid() : gan_tanh(), g);
        if (k == 3) { /* (C, 1, 1) times (1, H, W): both broadcast, to (C, H, W), added to a */
            b = rg_adapt(r, a, gan_chw(1, r->s[a].h, r->s[a].w), 1);
            g = rg_rand(r, 2) ? rg_join(r, GAN_MUL, g, b) : rg_join(r, GAN_ADD, b, g);
            rg_push(r, rg_join(r, GAN_ADD, a, g));
            return;
        }
        rg_push(r, rg_rand(r, 2) ? rg_join(r, GAN_MUL, a, g) : rg_join(r, GAN_MUL, g, a));
        return;
    case ST_INNER:
        b = r->nheads && rg_rand(r, 2) ? rg_take(r) : rg_unary(r, a, 0);
        b = rg_adapt(r, b, r->s[a], 1);
        rg_push(r, rg_join(r, GAN_INNER, a, b));
        return;
    case ST_SELF_JOIN:
        switch (rg_rand(r, 4)) {
        case 0: rg_push(r, rg_join(r, GAN_ADD, a, a)); return;
        case 1: rg_push(r, rg_join(r, GAN_MUL, a, a)); return;
        case 2: rg_push(r, rg_join(r, GAN_INNER, a, a)); return;
        default:
            xs[0] = xs[1] = a;
            rg_push(r, rg_concat(r, xs, 2));
            return;
        }
    default:
        rg_push(r, a);
        return;
    }
}

/* Graph `theme` from r->rng: inputs, a stem of 1 or 2 layers on each float input, the theme's
   structure, the label's Embeddings, random extras (a layer on a head, or another structure) up to a
   random size, heads merged down to the outputs (or branched up to them), then perhaps a dead branch
   and an output that is also consumed. 0 if it came out too big or too small. */
static int rg_generate(rgraph *r, int theme)
{
    int nfloat = theme == ST_INPUTS ? 2 + rg_rand(r, 2) : 1 + (rg_rand(r, 4) == 0);
    int label = theme == ST_LABEL || rg_rand(r, 4) == 0;
    int nout = theme == ST_OUTPUTS ? 2 + rg_rand(r, 2) : 1 + (rg_rand(r, 4) == 0);
    int dead = theme == ST_DEAD || rg_rand(r, 8) == 0;
    int consumed = theme == ST_OUT_CONSUMED || rg_rand(r, 6) == 0;
    int i, k, target, lab = -1, first[MAX_IN], nfirst = 0;
    static const int motifs[6] = {ST_FANOUT, ST_SKIP, ST_TWO_CONSUMERS, ST_GATE, ST_SELF_JOIN, ST_INNER};

    r->g = gan_graph_new();
    if (!r->g) {
        printf("FAIL graph: gan_graph_new: %s\n", gan_last_error());
        exit(1);
    }
    for (i = 0; i < nfloat; i++) {
        gan_shape s = i == 0 ? gan_chw(2 + rg_rand(r, 2), 4, 4)
                             : rg_rand(r, 2) ? gan_chw(1 + rg_rand(r, 3), 4, 4) : gan_chw(3 + rg_rand(r, 4), 1, 1);
        first[nfirst++] = rg_input(r, s, 0);
    }
    if (label) lab = rg_input(r, gan_chw(1, 1, 1), 3 + rg_rand(r, 3));
    for (i = 0; i < nfirst; i++) {
        k = rg_unary(r, first[i], 0);
        if (rg_rand(r, 2)) k = rg_unary(r, k, 0);
        rg_push(r, k);
    }
    rg_motif(r, theme);
    if (label) {
        rg_embed(r, lab);
        if (rg_rand(r, 2)) rg_embed(r, lab); /* a label read by two Embeddings */
    }
    for (target = RG_MIN_NODES + rg_rand(r, RG_MAX_NODES - RG_MIN_NODES - 2); r->n < target;) {
        if (rg_rand(r, 3) == 0) {
            rg_motif(r, motifs[rg_rand(r, 6)]);
        } else {
            k = rg_take(r);
            rg_push(r, rg_unary(r, k, 0));
        }
    }
    while (r->nheads > nout) {
        int a = rg_take(r), b = rg_take(r);
        rg_push(r, rg_merge(r, a, b));
    }
    while (r->nheads < nout) { /* another output: a layer on any node but a label */
        do k = rg_rand(r, r->n); while (r->kind[k] == KIND_LABEL);
        rg_push(r, rg_unary(r, k, 0));
    }
    if (dead) { /* a chain of 1 or 2 layers from any node but a label, read by nothing */
        do k = rg_rand(r, r->n); while (r->kind[k] == KIND_LABEL);
        k = rg_unary(r, k, 0);
        if (rg_rand(r, 2)) rg_unary(r, k, 0);
    }
    for (i = 0; i < r->nheads; i++) r->outs[r->nout++] = r->heads[i];
    if (consumed) { /* a node with a consumer, not an input, not already an output, marked as one */
        int cand[RG_MAX], nc = 0, j;
        for (k = 0; k < r->n; k++) {
            int has_consumer = 0, is_out = 0;
            if (r->kind[k] < 0) continue;
            for (j = k + 1; j < r->n; j++)
                for (i = 0; i < r->nin[j]; i++)
                    if (r->in[j][i] == k) has_consumer = 1;
            for (i = 0; i < r->nout; i++)
                if (r->outs[i] == k) is_out = 1;
            if (has_consumer && !is_out) cand[nc++] = k;
        }
        if (nc && r->nout < MAX_OUT) {
            int at = rg_rand(r, r->nout + 1);
            for (i = r->nout; i > at; i--) r->outs[i] = r->outs[i - 1];
            r->outs[at] = cand[rg_rand(r, nc)];
            r->nout++;
        }
    }
    r->implicit = r->nout == 1 && r->outs[0] == r->n - 1 && rg_rand(r, 2);
    for (i = 0; i < r->nout && !r->implicit; i++) gan_output(r->g, r->node[r->outs[i]]);
    return !r->too_big && r->n >= RG_MIN_NODES && r->n <= RG_MAX_NODES;
}

/* Which structures the built graph has, read off the mirror; reach[k]: node k reaches an output. */
static void rg_analyze(const rgraph *r, int *has, int *reach)
{
    int cons[RG_MAX], k, j, i, nfloat = 0, lp[RG_MAX];
    memset(has, 0, N_COV * sizeof(int));
    for (k = 0; k < r->n; k++) {
        reach[k] = 0;
        for (i = 0; i < r->nout; i++)
            if (r->outs[i] == k) reach[k] = 1;
    }
    for (k = r->n - 1; k >= 0; k--)
        for (j = k + 1; j < r->n; j++)
            for (i = 0; i < r->nin[j]; i++)
                if (r->in[j][i] == k && reach[j]) reach[k] = 1;
    for (k = 0; k < r->n; k++) {
        cons[k] = 0; /* distinct consumers */
        for (j = k + 1; j < r->n; j++)
            for (i = 0; i < r->nin[j]; i++)
                if (r->in[j][i] == k) {
                    cons[k]++;
                    break;
                }
        if (cons[k] >= 3) has[ST_FANOUT] = 1;
        if (cons[k] == 2) has[ST_TWO_CONSUMERS] = 1;
        if (r->kind[k] == KIND_INPUT) nfloat++;
        if (r->kind[k] == GAN_EMBEDDING) has[ST_LABEL] = 1;
        if (r->kind[k] == GAN_INNER) has[ST_INNER] = 1;
        if (r->kind[k] >= 0 && !reach[k]) has[ST_DEAD] = 1;
    }
    if (nfloat >= 2) has[ST_INPUTS] = 1;
    has[ST_IMPLICIT_OUT] = r->implicit;
    if (r->nout >= 2) has[ST_OUTPUTS] = 1;
    for (i = 0; i < r->nout; i++)
        if (cons[r->outs[i]] > 0) has[ST_OUT_CONSUMED] = 1;
    for (k = 0; k < r->n; k++) {
        int kind = r->kind[k], distinct = 0;
        if (kind != GAN_ADD && kind != GAN_MUL && kind != GAN_CONCAT && kind != GAN_INNER) continue;
        for (i = 0; i < r->nin[k]; i++)
            for (j = 0; j < i; j++)
                if (r->in[k][i] == r->in[k][j]) has[ST_SELF_JOIN] = 1;
        for (i = 1; i < r->nin[k]; i++)
            if (r->in[k][i] != r->in[k][0]) distinct = 1;
        if (distinct && kind != GAN_INNER) has[ST_FANIN] = 1;
        if (kind == GAN_CONCAT && r->nin[k] >= 3) has[ST_CONCAT3] = 1;
        if (kind == GAN_MUL || kind == GAN_ADD) {
            gan_shape a = r->s[r->in[k][0]], b = r->s[r->in[k][1]], o = r->s[k];
            int q;
            for (q = 0; q < 2; q++) {
                gan_shape x = q ? b : a, y = q ? a : b; /* x broadcast over the output */
                if (kind == GAN_MUL && !is_image(x) && x.c > 1 && is_image(y) && y.c == x.c) has[ST_GATE] = 1;
                if (is_image(x) && x.c == 1 && o.c > 1 && y.c == o.c) has[ST_BC_PLANE] = 1;
                if (is_image(x) && x.c == 1 && !is_image(y) && y.c > 1) has[ST_BC_OUTER] = 1;
                if (shape_count(x) == 1 && shape_count(o) > 1) has[ST_BC_SCALAR] = 1;
            }
        }
        if (kind == GAN_ADD && distinct) { /* longest path from the earlier operand to the later */
            int from = r->in[k][0] < r->in[k][1] ? r->in[k][0] : r->in[k][1];
            int to = r->in[k][0] < r->in[k][1] ? r->in[k][1] : r->in[k][0];
            for (j = 0; j < r->n; j++) lp[j] = -1;
            lp[from] = 0;
            for (j = from + 1; j <= to; j++)
                for (i = 0; i < r->nin[j]; i++)
                    if (lp[r->in[j][i]] >= 0 && lp[r->in[j][i]] + 1 > lp[j]) lp[j] = lp[r->in[j][i]] + 1;
            if (lp[to] >= 3) has[ST_SKIP] = 1;
        }
    }
}

/* In gan_layer_kind's order; the sizeof check below keeps it whole when a kind is added. */
static const char *const kind_name[] = {
    "Linear", "Conv2d", "ConvTranspose2d", "BatchNorm", "LayerNorm", "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Dropout",
    "Reshape", "Flatten", "Upsample2x", "AvgPool2x", "Scale", "Embedding", "Add", "Mul", "Concat", "Inner"};
typedef char kind_name_has_every_kind[sizeof kind_name / sizeof kind_name[0] == GAN_INNER + 1 ? 1 : -1];

/* The graph as its network sees it: node of each layer index, layer index of each node, input index. */
typedef struct rg_map {
    int layer_node[RG_MAX], node_layer[RG_MAX], in_node[MAX_IN];
    int nl, ni;
} rg_map;

static void rg_mapping(const rgraph *r, rg_map *m)
{
    int k;
    m->nl = m->ni = 0;
    for (k = 0; k < r->n; k++) {
        m->node_layer[k] = -1;
        if (r->kind[k] >= 0) {
            m->node_layer[k] = m->nl;
            m->layer_node[m->nl++] = k;
        } else {
            m->in_node[m->ni++] = k;
        }
    }
}

/* The smallest variance over the groups a norm layer normalizes: per channel over the batch and the
   plane (BatchNorm), or per sample over C H W (LayerNorm). */
static double min_variance(const gan_float *x, int batch, gan_shape s, int per_channel)
{
    size_t plane = (size_t)s.h * s.w, D = shape_count(s), j, cnt;
    double worst = HUGE_VAL;
    int g, i;
    for (g = 0; g < (per_channel ? s.c : batch); g++) {
        double sum = 0, sq = 0, mean;
        cnt = 0;
        for (i = 0; i < (per_channel ? batch : 1); i++)
            for (j = 0; j < (per_channel ? plane : D); j++, cnt++) {
                double v = per_channel ? x[((size_t)i * s.c + g) * plane + j] : x[(size_t)g * D + j];
                sum += v;
                sq += v * v;
            }
        mean = sum / (double)cnt;
        if (sq / (double)cnt - mean * mean < worst) worst = sq / (double)cnt - mean * mean;
    }
    return worst;
}

/* Finite differences need a well-conditioned forward: a norm layer whose input barely varies (a
   saturated Tanh before a BatchNorm over 3 samples, say) divides by about sqrt(eps) and turns the
   rounding of its input into noise far above TOL. 0 if any BatchNorm channel or LayerNorm sample has
   an input variance below 1e-3 in the first forward (such a draw is redrawn). */
static int rg_conditioned(const rgraph *r, const rg_map *m, gcheck *c)
{
    int k, i;
    gc_loss(c);
    if (c->failed_forward) return 1; /* the check reports it */
    for (k = 0; k < r->n; k++) {
        int src = r->in[k][0];
        const gan_float *x = NULL;
        if (r->kind[k] != GAN_BATCHNORM && r->kind[k] != GAN_LAYERNORM) continue;
        if (m->node_layer[src] >= 0) {
            x = gan_net_layer_output(c->net, m->node_layer[src])->data; /* kept: the norm's backward reads it */
        } else {
            for (i = 0; i < m->ni; i++)
                if (m->in_node[i] == src) x = c->xs[i].data;
        }
        if (min_variance(x, c->batch, r->s[src], r->kind[k] == GAN_BATCHNORM) < 1e-3) return 0;
    }
    return 1;
}

/* Graph i (theme i % N_ST): drawn from seed RG_SEED + i, redrawn from RG_SEED + i + 1000 * attempt
   until it has its theme's structure, 6 to 15 nodes, at most RG_BUDGET values to perturb and a
   well-conditioned forward. Returns the check (NULL if no draw qualified). */
static gcheck *rg_draw(int i, rgraph *r, rg_map *m, int *has, int *reach, uint64_t *seed, int *attempt)
{
    int theme = i % N_ST, k;
    char name[80];
    sprintf(name, "graph.random.%02d.%s", i, st_name[theme]);
    for (*attempt = 0; *attempt < RG_ATTEMPTS; (*attempt)++) {
        gan_net *net = NULL;
        gcheck *c;
        size_t values = 0;
        int ok;
        memset(r, 0, sizeof *r);
        *seed = RG_SEED + (uint64_t)i + 1000 * (uint64_t)*attempt;
        gan_rng_seed(&r->rng, *seed);
        ok = rg_generate(r, theme);
        if (ok) {
            rg_analyze(r, has, reach);
            ok = has[theme]; /* the structure it is built around, for certain */
        }
        if (ok) {
            net = gan_net_build(r->g, RG_MAX_BATCH, 0, &r->rng);
            if (!net) test_report(name, 0, "gan_net_build: %s", gan_last_error());
        }
        gan_graph_free(r->g);
        if (!net) continue;
        rg_mapping(r, m);
        for (k = 0; k < gan_net_param_count(net); k++) values += gan_net_param(net, k).count;
        for (k = 0; k < m->ni; k++)
            if (r->kind[m->in_node[k]] == KIND_INPUT) values += RG_BATCH * shape_count(r->s[m->in_node[k]]);
        if (values > RG_BUDGET) {
            gan_net_free(net);
            continue;
        }
        c = gc_new(name, net, RG_BATCH, *seed + 7);
        for (k = 0; k < m->ni; k++) {
            int labels[RG_BATCH], j, classes = r->classes[m->in_node[k]];
            if (r->kind[m->in_node[k]] != KIND_LABEL) continue;
            for (j = 0; j < RG_BATCH; j++) labels[j] = (int)((*seed + (uint64_t)j) % (uint64_t)classes); /* distinct */
            gc_label(c, k, classes, labels);
        }
        if (rg_conditioned(r, m, c)) return c;
        gc_free(c);
        gan_net_free(net);
    }
    test_report(name, 0, "no draw in %d attempts had the structure, %d to %d nodes, a budget of %d values and a "
                "well-conditioned forward", RG_ATTEMPTS, RG_MIN_NODES, RG_MAX_NODES, RG_BUDGET);
    return NULL;
}

static void test_random(void)
{
    int count[N_COV], kinds[GAN_INNER + 1], i, t, sizes_ok = 1, all_kinds = 1;
    char missing[400] = "";
    memset(count, 0, sizeof count);
    memset(kinds, 0, sizeof kinds);
    for (i = 0; i < RG_GRAPHS; i++) {
        int attempt, has[N_COV], reach[RG_MAX], k, nlabel, failed;
        rgraph *r = (rgraph *)xcalloc(1, sizeof *r);
        rg_map m;
        gcheck *c;
        gan_net *net;
        uint64_t seed;
        c = rg_draw(i, r, &m, has, reach, &seed, &attempt);
        if (!c) {
            free(r);
            continue;
        }
        net = c->net;
        for (k = 0; k < m.nl; k++) kinds[r->kind[m.layer_node[k]]]++;
        if (r->n < RG_MIN_NODES || r->n > RG_MAX_NODES) sizes_ok = 0;
        for (k = 0, nlabel = 0; k < m.ni; k++) nlabel += r->kind[m.in_node[k]] == KIND_LABEL;
        printf("# %s: seed %llu (attempt %d), %d nodes (%d float and %d label inputs), %d outputs, structures:",
               c->name, (unsigned long long)seed, attempt, r->n, m.ni - nlabel, nlabel, r->nout);
        for (t = 0; t < N_COV; t++) {
            count[t] += has[t];
            if (has[t]) printf(" %s", st_name[t]);
        }
        printf("\n");
        gc_probe_all(c);
        for (t = 0; t < c->np; t++) { /* a tensor with no path to an output: exactly 0 */
            probe *p = &c->p[t];
            int node = p->input >= 0 ? m.in_node[p->input] : m.layer_node[gan_net_param(net, p->param).layer];
            if (!reach[node]) p->expect = EXPECT_ZERO;
        }
        failed = gan_test_failed;
        gc_check(c);
        if (gan_test_failed > failed) gan_net_print(net, stdout); /* the graph that failed, for the record */
        if (i == 0) {
            selftest_planted(c, "input 0", 1);
            selftest_planted(c, "input 0", 0);
        }
        gc_free(c);
        gan_net_free(net);
        free(r);
    }

    printf("# graph.random: %d graphs from seeds %d + i (+ 1000 per redraw); structures:", RG_GRAPHS, RG_SEED);
    for (t = 0; t < N_COV; t++) printf(" %s %d", st_name[t], count[t]);
    printf("\n# graph.random: nodes by kind:");
    for (t = 0; t <= GAN_INNER; t++) {
        printf(" %s %d", kind_name[t], kinds[t]);
        if (!kinds[t]) {
            all_kinds = 0;
            strcat(missing, " ");
            strcat(missing, kind_name[t]);
        }
    }
    printf("\n");
    for (t = 0; t < N_COV; t++) {
        char name[160];
        sprintf(name, "graph.random: coverage: %s (%s) occurred", st_name[t], st_what[t]);
        test_report(name, count[t] > 0, "in none of the %d graphs", RG_GRAPHS);
    }
    test_report("graph.random: coverage: every op kind occurred", all_kinds, "never made:%s", missing);
    test_report("graph.random: every graph has 6 to 15 nodes", sizes_ok, "a graph outside the range");
}

/* ---- the four models of make_graph_fixtures.py ----------------------------------------------------- */

static gan_node named(gan_graph *g, gan_layer layer, gan_node x, const char *name)
{
    gan_node h = gan_apply(g, layer, x);
    gan_name(g, h, name);
    return h;
}

static gan_net *build(gan_graph *g, int max_batch, uint64_t seed)
{
    gan_rng rng;
    gan_net *net;
    gan_rng_seed(&rng, seed);
    net = gan_net_build(g, max_batch, 0, &rng);
    gan_graph_free(g);
    if (!net) {
        printf("FAIL graph: gan_net_build: %s\n", gan_last_error());
        exit(1);
    }
    return net;
}

/* SNGAN's upsampling residual block: y = conv2(relu(bn2(conv1(up(relu(bn1(x))))))) + sc(up(x)). */
static gcheck *test_resblock(void)
{
    gan_graph *g = gan_graph_new();
    gan_node x = gan_input(g, gan_chw(6, 4, 4)), h, s;
    gan_net *net;
    gcheck *c;
    h = named(g, gan_batchnorm(6), x, "bn1");
    h = gan_apply(g, gan_relu(), h);
    h = gan_apply(g, gan_upsample2x(), h);
    h = named(g, gan_conv2d(6, 4, 3, 1, 1), h, "conv1");
    h = named(g, gan_batchnorm(4), h, "bn2");
    h = gan_apply(g, gan_relu(), h);
    h = named(g, gan_conv2d(4, 4, 3, 1, 1), h, "conv2");
    s = gan_apply(g, gan_upsample2x(), x);
    s = named(g, gan_conv2d(6, 4, 1, 1, 0), s, "sc");
    gan_output(g, gan_add(g, h, s));
    net = build(g, 4, 10);
    c = gc_new("graph.model.resblock", net, 4, 11);
    gc_probe_all(c);
    gc_expect(c, "param conv1.bias", EXPECT_CANCEL);
    gc_check(c);
    return c;
}

/* The same block in evaluation mode (BatchNorm on the running estimates the training checks left,
   so conv1.bias now has a gradient of its own). */
static void test_resblock_eval(gan_net *net)
{
    gcheck *c;
    gan_net_set_training(net, 0);
    c = gc_new("graph.model.resblock.eval", net, 3, 12);
    gc_probe_all(c);
    gc_check(c);
    gc_free(c);
}

/* Two-level U-Net with skip concatenations. */
static void test_unet(void)
{
    gan_graph *g = gan_graph_new();
    gan_node x = gan_input(g, gan_chw(2, 8, 8)), a1, a2, u2, u1, cat[2];
    gcheck *c;
    a1 = gan_apply(g, gan_leaky_relu(0.2), named(g, gan_conv2d(2, 4, 4, 2, 1), x, "down1"));
    a2 = named(g, gan_conv2d(4, 8, 4, 2, 1), a1, "down2");
    a2 = gan_apply(g, gan_leaky_relu(0.2), named(g, gan_batchnorm(8), a2, "bn_d2"));
    u2 = named(g, gan_conv_transpose2d(8, 4, 4, 2, 1, 0), a2, "up2");
    u2 = gan_apply(g, gan_relu(), named(g, gan_batchnorm(4), u2, "bn_u2"));
    cat[0] = u2;
    cat[1] = a1;
    u1 = gan_apply(g, gan_relu(), named(g, gan_conv_transpose2d(8, 4, 4, 2, 1, 0), gan_concat(g, cat, 2), "up1"));
    cat[0] = u1;
    cat[1] = x;
    gan_output(g, gan_apply(g, gan_tanh(), named(g, gan_conv2d(6, 2, 1, 1, 0), gan_concat(g, cat, 2), "out")));
    c = gc_new("graph.model.unet", build(g, 4, 20), 3, 21);
    gc_probe_all(c);
    gc_expect(c, "param down2.bias", EXPECT_CANCEL);
    gc_expect(c, "param up2.bias", EXPECT_CANCEL);
    gc_check(c);
    gan_net_free(c->net);
    gc_free(c);
}

/* Projection discriminator: h = relu(fc(flatten(avgpool(lrelu(c2(avgpool(lrelu(c1(x))))))))),
   y = psi(h) + <embed(label), h>. */
static void test_projection(void)
{
    static const int labels[4] = {2, 0, 4, 2}; /* classes 1 and 3 unused: their embedding rows get 0 */
    gan_graph *g = gan_graph_new();
    gan_node x = gan_input(g, gan_chw(1, 8, 8)), label = gan_input(g, gan_chw(1, 1, 1)), h, e;
    gcheck *c;
    h = gan_apply(g, gan_avgpool2x(), gan_apply(g, gan_leaky_relu(0.2), named(g, gan_conv2d(1, 4, 3, 1, 1), x, "c1")));
    h = gan_apply(g, gan_avgpool2x(), gan_apply(g, gan_leaky_relu(0.2), named(g, gan_conv2d(4, 8, 3, 1, 1), h, "c2")));
    h = gan_apply(g, gan_relu(), named(g, gan_linear(32, 16), gan_apply(g, gan_flatten(), h), "fc"));
    e = named(g, gan_embedding(5, 16), label, "embed");
    gan_output(g, gan_add(g, named(g, gan_linear(16, 1), h, "psi"), gan_inner(g, e, h)));
    c = gc_new("graph.model.projection", build(g, 5, 30), 4, 31);
    gc_label(c, 1, 5, labels);
    gc_probe_all(c);
    gc_check(c);
    gan_net_free(c->net);
    gc_free(c);
}

/* Class-conditional generator: h = fc(cat[z, label_emb(label)]) as (4, 4, 4);
   h = relu(bn(h) * gamma(label) + beta(label)), bn without affine; y = tanh(conv(up(h))). */
static void test_cgen(void)
{
    static const int labels[4] = {3, 1, 1, 4};
    gan_graph *g = gan_graph_new();
    gan_node z = gan_input(g, gan_chw(8, 1, 1)), label = gan_input(g, gan_chw(1, 1, 1)), h, cat[2], gamma, beta;
    gan_net *net;
    gcheck *c;
    gan_layer *L;
    gan_rng rng;
    cat[0] = z;
    cat[1] = named(g, gan_embedding(5, 3), label, "label_emb");
    h = named(g, gan_linear(11, 64), gan_concat(g, cat, 2), "fc");
    h = named(g, gan_no_affine(gan_batchnorm(4)), gan_apply(g, gan_reshape(4, 4, 4), h), "bn");
    gamma = named(g, gan_embedding(5, 4), label, "gamma");
    beta = named(g, gan_embedding(5, 4), label, "beta");
    h = gan_add(g, gan_mul(g, h, gamma), beta);
    h = named(g, gan_conv2d(4, 1, 3, 1, 1), gan_apply(g, gan_upsample2x(), gan_apply(g, gan_relu(), h)), "conv");
    gan_output(g, gan_apply(g, gan_tanh(), h));
    net = build(g, 4, 40);
    /* gamma near 1 and beta near 0, as a conditional BatchNorm starts (make_graph_fixtures.py's) */
    gan_rng_seed(&rng, 41);
    L = gan_net_node_layer(net, gamma);
    gan_fill_uniform(L->W, L->nW, 0.5, 1.5, &rng);
    L = gan_net_node_layer(net, beta);
    gan_fill_uniform(L->W, L->nW, -0.5, 0.5, &rng);
    c = gc_new("graph.model.cgen", net, 4, 42);
    gc_label(c, 1, 5, labels);
    gc_probe_all(c);
    gc_check(c);
    gan_net_free(c->net);
    gc_free(c);
}

/* ---- special cases ------------------------------------------------------------------------------- */

/* Outputs that other nodes also read: t1 = tanh(c1(x)) (output 0, read by c2 and by a Scale),
   f = flatten(c2(t1)) (output 1, a view, read by fc), sigmoid(fc(f)) (output 2), s = 0.5 t1 (output 3,
   read by an Upsample) and tanh(c3(up(s))) (output 4). dL/dt1 = w0 + what comes back from c2 and from
   s. Self-tests: the gradient without output 0's or output 1's own dy (dys[o] NULL) is rejected. */
static void test_output_consumed(void)
{
    gan_graph *g = gan_graph_new();
    gan_node x = gan_input(g, gan_chw(2, 4, 4)), t1, f, sc, h;
    const gan_tensor *y0, *y3, *kept;
    gan_tensor dys[5];
    gcheck *c;
    double e = 0;
    size_t at;
    probe *p;
    int ok;
    t1 = gan_apply(g, gan_tanh(), named(g, gan_conv2d(2, 3, 3, 1, 1), x, "c1"));
    f = gan_apply(g, gan_flatten(), named(g, gan_conv2d(3, 2, 4, 2, 1), t1, "c2"));
    sc = gan_apply(g, gan_scale(0.5), t1);
    gan_output(g, t1);
    gan_output(g, f);
    gan_output(g, gan_apply(g, gan_sigmoid(), named(g, gan_linear(8, 3), f, "fc")));
    gan_output(g, sc);
    h = named(g, gan_conv2d(3, 3, 4, 2, 1), gan_apply(g, gan_upsample2x(), sc), "c3");
    gan_output(g, gan_apply(g, gan_tanh(), h));
    c = gc_new("graph.output_consumed", build(g, 3, 50), 3, 51);
    gc_probe_all(c);
    gc_check(c);

    /* Output 3 (Scale) is read only by an Upsample, whose backward needs no input, and c3's output
       has its size: only being an output keeps its memory from being reused within the forward. */
    ok = gan_net_forward_multi(c->net, c->xs);
    y0 = gan_net_output_at(c->net, 0);
    y3 = gan_net_output_at(c->net, 3);
    for (at = 0; ok && at < tensor_count(&c->w[3]); at++)
        if (y3->data[at] != (gan_float)0.5 * y0->data[at]) ok = 0;
    test_report("graph.output_consumed: an output read by a node that keeps nothing (Scale -> Upsample) still holds "
                "its values after the forward", ok, "output 3 is not 0.5 output 0 at element %zu", at);
    kept = gan_net_layer_output(c->net, (int)(gan_net_node_layer(c->net, sc) - c->net->layers));
    test_report("graph.output_consumed: gan_net_layer_output of that output's layer is the output",
                kept && kept->data == y3->data,
                "NULL, or another buffer (an output is kept)");

    for (at = 0; at < 5; at++) dys[at] = c->w[at];
    dys[0].data = NULL;
    p = gc_find(c, "param c1.weight");
    ok = gc_analytic(c, dys) && !verdict(p->ana, p->num, p->n, &e, &at);
    test_report("selftest graph.output_consumed: checker rejects dL/dparam c1.weight without output 0's own dy", ok,
                "error only %.3g", e);
    printf("# selftest: dL/dc1.weight without the own dy of output 0 (tanh): error %.3g\n", e);
    p = gc_find(c, "param c2.weight");
    dys[0] = c->w[0];
    dys[1].data = NULL;
    ok = gc_analytic(c, dys) && !verdict(p->ana, p->num, p->n, &e, &at);
    test_report("selftest graph.output_consumed: checker rejects dL/dparam c2.weight without output 1's own dy "
                "(a Flatten view)", ok, "error only %.3g", e);
    printf("# selftest: dL/dc2.weight without the own dy of output 1 (flatten): error %.3g\n", e);
    gan_net_free(c->net);
    gc_free(c);
}

/* A label input (input 0) read only by two Embeddings: a gain and a scalar shift of an image path. */
static void test_label_only(void)
{
    static const int labels[3] = {1, 3, 0};
    gan_graph *g = gan_graph_new();
    gan_node label = gan_input(g, gan_chw(1, 1, 1)), x = gan_input(g, gan_chw(2, 4, 4)), h;
    gcheck *c;
    h = gan_apply(g, gan_leaky_relu(0.2), named(g, gan_conv2d(2, 3, 3, 1, 1), x, "conv"));
    h = gan_mul(g, h, named(g, gan_embedding(4, 3), label, "gain"));
    h = gan_add(g, named(g, gan_embedding(4, 1), label, "shift"), h);
    gan_output(g, gan_apply(g, gan_tanh(), h));
    c = gc_new("graph.label_only", build(g, 3, 60), 3, 61);
    gc_label(c, 0, 4, labels);
    gc_probe_all(c);
    gc_check(c);
    gan_net_free(c->net);
    gc_free(c);
}

/* Dead branches: c1 -> dead_conv -> relu -> dead_bn reaches no output, nor does input 1 -> dead_fc;
   the graph's last node is dead. Their parameters, and input 1, must get exactly 0. */
static void test_dead_branch(void)
{
    gan_graph *g = gan_graph_new();
    gan_node x = gan_input(g, gan_chw(2, 4, 4)), v = gan_input(g, gan_chw(3, 1, 1)), h, d;
    gcheck *c;
    h = gan_apply(g, gan_leaky_relu(0.2), named(g, gan_conv2d(2, 3, 3, 1, 1), x, "c1"));
    gan_output(g, named(g, gan_linear(12, 2), gan_apply(g, gan_flatten(), gan_apply(g, gan_avgpool2x(), h)), "fc"));
    d = gan_apply(g, gan_relu(), named(g, gan_conv2d(3, 2, 3, 1, 1), h, "dead_conv"));
    named(g, gan_batchnorm(2), d, "dead_bn");
    named(g, gan_linear(3, 2), v, "dead_fc");
    c = gc_new("graph.dead_branch", build(g, 4, 70), 3, 71);
    gc_probe_all(c);
    gc_expect(c, "input 1", EXPECT_ZERO);
    gc_expect(c, "param dead_conv.weight", EXPECT_ZERO);
    gc_expect(c, "param dead_conv.bias", EXPECT_ZERO);
    gc_expect(c, "param dead_bn.weight", EXPECT_ZERO);
    gc_expect(c, "param dead_bn.bias", EXPECT_ZERO);
    gc_expect(c, "param dead_fc.weight", EXPECT_ZERO);
    gc_expect(c, "param dead_fc.bias", EXPECT_ZERO);
    gc_check(c);
    gan_net_free(c->net);
    gc_free(c);
}

/* Two outputs of one trunk: dys[o].data = NULL must give bitwise the gradients zeros give, for each
   o; and the loss without output 1 is checked numerically (its branch's parameters then get 0). */
static void test_null_dy(void)
{
    gan_graph *g = gan_graph_new();
    gan_node x = gan_input(g, gan_chw(2, 4, 4)), h;
    gan_tensor dys[2];
    gcheck *c;
    gan_net *net;
    gan_float *zeros, *first, *w1;
    size_t nfirst, j;
    int o, k;
    h = gan_apply(g, gan_tanh(), named(g, gan_conv2d(2, 3, 3, 1, 1), x, "trunk"));
    h = gan_apply(g, gan_flatten(), gan_apply(g, gan_avgpool2x(), h));
    gan_output(g, named(g, gan_linear(12, 2), h, "head_a"));
    gan_output(g, gan_apply(g, gan_sigmoid(), named(g, gan_linear(12, 3), h, "head_b")));
    net = build(g, 3, 80);
    c = gc_new("graph.null_dy", net, 3, 81);
    w1 = c->w[1].data;
    c->w[1].data = NULL; /* the loss leaves output 1 out, and so do the backward's dys */
    gc_probe_all(c);
    gc_expect(c, "param head_b.weight", EXPECT_ZERO);
    gc_expect(c, "param head_b.bias", EXPECT_ZERO);
    gc_check(c);
    c->w[1].data = w1;

    nfirst = net->n_params + tensor_count(&c->xs[0]);
    first = (gan_float *)xcalloc(nfirst, sizeof(gan_float));
    zeros = (gan_float *)xcalloc(3 * 3, sizeof(gan_float));
    for (o = 0; o < 2; o++) {
        char name[160];
        int same = 1;
        for (k = 0; k < 2; k++) { /* k = 0: dys[o].data NULL; k = 1: zeros */
            dys[0] = c->w[0];
            dys[1] = c->w[1];
            dys[o].data = k ? zeros : NULL;
            gan_net_zero_grad(net);
            if (!gan_net_forward_multi(net, c->xs) ||
                !gan_net_backward_multi(net, dys, GAN_GRAD_PARAMS | GAN_GRAD_INPUTS)) {
                same = 0;
                break;
            }
            for (j = 0; j < net->n_params; j++) {
                if (k == 0) first[j] = net->grads[j];
                else if (first[j] != net->grads[j]) same = 0;
            }
            for (j = 0; j < tensor_count(&c->xs[0]); j++) {
                gan_float v = gan_net_input_grad(net, 0)->data[j];
                if (k == 0) first[net->n_params + j] = v;
                else if (first[net->n_params + j] != v) same = 0;
            }
        }
        sprintf(name, "graph.null_dy: dys[%d].data = NULL gives bitwise the parameter and input gradients of zeros", o);
        test_report(name, same, "a gradient differs (or a call failed: %s)", gan_last_error());
    }
    { /* dys pointing into the network (its own outputs, L = sum y^2 / 2) give what copies give */
        gan_float *copy[2] = {NULL, NULL};
        int same;
        gan_net_zero_grad(net);
        same = gan_net_forward_multi(net, c->xs);
        for (o = 0; same && o < 2; o++) {
            dys[o] = *gan_net_output_at(net, o);
            copy[o] = (gan_float *)xcalloc(tensor_count(&dys[o]), sizeof(gan_float));
            memcpy(copy[o], dys[o].data, tensor_count(&dys[o]) * sizeof(gan_float));
        }
        same = same && gan_net_backward_multi(net, dys, GAN_GRAD_PARAMS | GAN_GRAD_INPUTS);
        memcpy(first, net->grads, net->n_params * sizeof(gan_float));
        memcpy(first + net->n_params, gan_net_input_grad(net, 0)->data, tensor_count(&c->xs[0]) * sizeof(gan_float));
        gan_net_zero_grad(net);
        for (o = 0; o < 2; o++) dys[o].data = copy[o];
        same = same && gan_net_backward_multi(net, dys, GAN_GRAD_PARAMS | GAN_GRAD_INPUTS);
        for (j = 0; same && j < net->n_params; j++)
            if (first[j] != net->grads[j]) same = 0;
        for (j = 0; same && j < tensor_count(&c->xs[0]); j++)
            if (first[net->n_params + j] != gan_net_input_grad(net, 0)->data[j]) same = 0;
        test_report("graph.null_dy: dys that are the network's own outputs give bitwise what copies of them give", same,
                    "a gradient differs (or a call failed: %s)", gan_last_error());
        free(copy[0]);
        free(copy[1]);
    }
    free(first);
    free(zeros);
    gan_net_free(net);
    gc_free(c);
}

/* Views and inputs as outputs: output 0 is the input itself (dL/dx gets w0 directly), output 1 a
   Flatten view of it; t = tanh(c1(x)) is read directly, through a same-shape Reshape view and through
   a Reshape of a Flatten (a view of a view), joined by a Concat of three (with x) and a Mul. */
static void test_views(void)
{
    gan_graph *g = gan_graph_new();
    gan_node x = gan_input(g, gan_chw(2, 4, 4)), t, v, vv, cat[3], h;
    gcheck *c;
    t = gan_apply(g, gan_tanh(), named(g, gan_conv2d(2, 3, 3, 1, 1), x, "c1"));
    v = gan_apply(g, gan_reshape(3, 4, 4), t);
    vv = gan_apply(g, gan_reshape(3, 4, 4), gan_apply(g, gan_flatten(), t));
    cat[0] = t;
    cat[1] = v;
    cat[2] = x;
    h = named(g, gan_conv2d(8, 2, 4, 2, 1), gan_concat(g, cat, 3), "c2");
    gan_output(g, x);
    gan_output(g, gan_apply(g, gan_flatten(), x));
    gan_output(g, named(g, gan_linear(8, 2), gan_apply(g, gan_flatten(), h), "fc"));
    gan_output(g, gan_mul(g, vv, t));
    c = gc_new("graph.views_and_inputs", build(g, 3, 95), 3, 96);
    gc_probe_all(c);
    gc_check(c);
    gan_net_free(c->net);
    gc_free(c);
}

/* Frozen layers (the first one, reading the input, and one in the middle): their parameters get no
   gradient, and dL/dx still passes through them to the layers before and to the input. */
static void test_frozen(void)
{
    gan_graph *g = gan_graph_new();
    gan_node x = gan_input(g, gan_chw(2, 4, 4)), h;
    gan_layer c0 = gan_conv2d(2, 3, 3, 1, 1), c2 = gan_conv2d(3, 2, 4, 2, 1);
    gcheck *c;
    c0.frozen = 1;
    c2.frozen = 1;
    h = gan_apply(g, gan_tanh(), named(g, c0, x, "c0"));
    h = gan_apply(g, gan_leaky_relu(0.2), named(g, gan_conv2d(3, 3, 3, 1, 1), h, "c1"));
    h = named(g, c2, h, "c2");
    gan_output(g, named(g, gan_linear(8, 2), gan_apply(g, gan_flatten(), h), "fc"));
    c = gc_new("graph.frozen", build(g, 3, 90), 3, 91);
    gc_probe_all(c);
    gc_expect(c, "param c0.weight", EXPECT_FROZEN);
    gc_expect(c, "param c0.bias", EXPECT_FROZEN);
    gc_expect(c, "param c2.weight", EXPECT_FROZEN);
    gc_expect(c, "param c2.bias", EXPECT_FROZEN);
    gc_check(c);
    gan_net_free(c->net);
    gc_free(c);
}

int main(void)
{
    gcheck *res;
    selftest_zero_numeric();
    res = test_resblock();
    selftest_planted(res, "param conv2.weight", 1);
    selftest_planted(res, "param conv2.weight", 0);
    selftest_planted(res, "param bn1.weight", 0);
    selftest_planted(res, "input 0", 0);
    test_resblock_eval(res->net);
    gan_net_free(res->net);
    gc_free(res);
    test_unet();
    test_projection();
    test_cgen();
    test_output_consumed();
    test_label_only();
    test_dead_branch();
    test_null_dy();
    test_frozen();
    test_views();
    test_random();
    printf("# graph: worst relative error among passing gradient checks %.3g (%s)\n", worst_pass, worst_pass_name);
    return test_finish();
}
