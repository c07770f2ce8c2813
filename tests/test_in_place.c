/* tests/test_in_place.c - in-place planning changes memory, never numbers.

   The planner lets ReLU, LeakyReLU and BatchNorm write over their input's buffer: in the forward
   (training and sampling schedules) when the one input is a layer's own output (not a view, not a
   network output) that only this node reads and, in training, that no backward reads; in the
   backward, dL/dx over dL/dy when the input layer passes its gradient to nothing else. A wrong
   decision (an output overwritten that a backward, a view, a second reader or the caller still
   needs) or a kernel that is wrong on aliased pointers would change numbers, so every graph here is
   built three times from the same parameters:

     in place   the graph as is: the planner decides;
     readers    every in-place candidate's input also read by a Tanh that reaches no output (two
                readers, so nothing may be overwritten; no gradient flows from the Tanh, so the
                backward's sums are the very same operations);
     outputs    every candidate's input also marked a network output, seeded with a zero gradient
                (gan_net_backward_multi) and left out of sampling (gan_net_infer_multi, data NULL).

   and the three must agree BITWISE (memcmp) on: the training output; every layer output
   gan_net_layer_output says survived; dL/dinput and every parameter gradient; BatchNorm's running
   statistics; the parameters after each Adam step (three steps, the last at a smaller batch, so
   later forwards run on moved weights); gan_net_backward_input; an evaluation-mode forward and its
   backward; gan_net_infer with running and with batch statistics over 2 max_batch + 1 samples
   (three chunks), drawn between a forward and its backward; and for the two critics (built with
   GAN_BUILD_PENALTY) gan_net_penalty's value, the parameter gradients it adds, the input gradient
   g it leaves and the output of its forward, for WGAN-GP, R1 and one-sided WGAN-GP. Everything
   runs with each kernel set this CPU has (the elementwise loops are compiled per set) at 1 and at
   2 threads; the largest graph's ReLU and BatchNorm are big enough to split over 2 threads.

   Graphs (expected in-place sites: T training forward, I inference forward, B backward):
     conv            Conv2d 3->16 on 16x16, BatchNorm (I B), ReLU (T I B), Conv2d 16->8 s2,
                     LeakyReLU(0.2) (T I B), Flatten, Linear: batch 10 of 12
     linear_bn_relu  Linear, BatchNorm over features (I B), ReLU (T I B), Linear
     leaky_negative  Linear, BatchNorm (I B), LeakyReLU(-0.5) (I B), Linear, LeakyReLU(-0.5) (I B),
                     Linear: a negative slope reads x in backward, so never T
     relu_output     Conv2d, BatchNorm (I B), ReLU as the network output (T I B; its gradient is the seed)
     two_readers     Linear, BatchNorm (I B) read by a ReLU (none) and by Add(ReLU, BatchNorm),
                     LeakyReLU(0.2) after the Add (T I B), Linear
     view_between    Conv2d on 2x2 (BatchNorm's plane below 8 lanes), BatchNorm (I B), Reshape,
                     ReLU of the view (B only), Linear
     relu_chain      Linear, ReLU (T I B), ReLU (I B), LeakyReLU(0.1) (I B), Linear: one gradient
                     buffer shared by four nodes
     dropout_relu    Linear, Dropout(0.3), ReLU (T I B), Linear (Dropout's streams alike in all three)
     generator       DCGAN's, small: Linear, BatchNorm (I B), ReLU (T I B), Reshape,
                     ConvTranspose2d, BatchNorm (I B), ReLU (T I B), ConvTranspose2d, Tanh
     residual        the residual block of gan.h's GRAPHS section: BatchNorm straight on the input
                     (never over an input: none), ReLU (T I B), Conv2d, BatchNorm (I B), ReLU (T I B),
                     Conv2d, Add of a 1x1-conv shortcut; then Flatten, Linear
     joins           ReLU of Mul(Linear, Linear) (T I B), LeakyReLU(0.2) of Concat(that, the first
                     Linear) (T I B), Linear
     critic_ln       the WGAN-GP critic: Conv2d, LeakyReLU(0.2) (T I B), Conv2d, LayerNorm,
                     LeakyReLU(0.2) (T I B), Flatten, Linear(32, 1); penalties in training mode
     critic_bn_eval  Conv2d, BatchNorm (I; never B in a penalty net: its dual reads the dL/dy the
                     plan keeps as the tangent adjoint), ReLU (T I B), Conv2d, LeakyReLU(0.2) (T I B),
                     Flatten, Linear(64, 1); penalties in evaluation mode (BatchNorm on running statistics)

   So that the equalities are not vacuous, the plan itself (private: net->plan) is read once per
   graph: each expected site shares its input's buffer in the in-place net, in the schedules listed
   and no others, and in neither reference anywhere. Memory, against a twin with every ReLU and
   LeakyReLU replaced by Tanh (which reads its output in backward as they do, but never works in
   place): the in-place arena is smaller where a site saves a buffer in use at a region's peak
   (conv, linear_bn_relu, relu_output, relu_chain, joins, both critics), and never larger where the
   buffers saved are off the peaks (two_readers, dropout_relu, generator, residual) or there is no
   T site (view_between); for leaky_negative (no twin: a negative slope reads x) the training
   region is exactly as large as the outputs reference's, whose extra outputs are kept to the end
   anyway. The arenas are printed on "#" lines. A self-test shows the comparison sees a one-ulp
   change. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "test.h"

/* ---- small helpers ------------------------------------------------------------------------------- */

static gan_float *floats(size_t n)
{
    gan_float *p = (gan_float *)calloc(n ? n : 1, sizeof(gan_float));
    if (!p) {
        printf("FAIL in_place: out of memory\n");
        exit(1);
    }
    return p;
}

/* The first difference of a check across everything it covers, and how many comparisons failed. */
typedef struct tally {
    int fails, ran;
    char why[512];
} tally;

/* Compares a and b bitwise; on a difference records (for the first) what, where and by how much. */
static int note(tally *t, const char *ctx, const gan_float *a, const gan_float *b, size_t n)
{
    size_t i, differ = 0, first = 0;
    double worst = 0;
    t->ran++;
    if (memcmp(a, b, n * sizeof(gan_float)) == 0) return 1;
    for (i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(gan_float)) != 0) {
            double d = fabs((double)a[i] - (double)b[i]);
            if (!differ) first = i;
            differ++;
            if (d > worst || d != d) worst = d;
        }
    if (t->fails++ == 0)
        snprintf(t->why, sizeof t->why,
                 "%s: %lu of %lu values differ (first [%lu]: in place %.9g, reference %.9g), max |diff| %.3g",
                 ctx, (unsigned long)differ, (unsigned long)n, (unsigned long)first, (double)a[first], (double)b[first],
                 worst);
    return 0;
}

static void note_fail(tally *t, const char *ctx, const char *what)
{
    t->ran++;
    if (t->fails++ == 0) snprintf(t->why, sizeof t->why, "%s: %s", ctx, what);
}

static void report(const char *graph, const char *what, const tally *t)
{
    char name[160];
    snprintf(name, sizeof name, "in_place.%s.%s", graph, what);
    if (!t->ran) {
        test_skip(name, "nothing ran (no kernel set or thread count was available)");
        return;
    }
    test_report(name, t->fails == 0, "%s (%d of %d comparisons failed)", t->why, t->fails, t->ran);
}

/* ---- graphs ---------------------------------------------------------------------------------------- */

enum { AT_TRAIN = 1u, AT_INFER = 2u, AT_BACK = 4u };

/* The variants of one graph. */
enum { V_IN_PLACE, V_READERS, V_OUTPUTS, N_BUILT, V_TWIN = N_BUILT };
static const char *variant_name[] = { "in place", "readers reference", "outputs reference", "tanh twin" };

#define MAX_SITES 8

typedef struct site {
    int node, src;  /* node may write over src's buffers */
    unsigned where; /* AT_ bits the rules give */
} site;

typedef struct builder {
    gan_graph *g;
    int twin; /* ReLU and LeakyReLU become Tanh */
    int n_sites;
    site sites[MAX_SITES];
} builder;

/* Applies an in-place capable layer to x and records the site with where the rules put it in place. */
static gan_node ip(builder *b, gan_layer L, gan_node x, unsigned where)
{
    gan_node y;
    if (b->twin && (L.kind == GAN_RELU || L.kind == GAN_LEAKY_RELU)) L = gan_tanh();
    y = gan_apply(b->g, L, x);
    if (b->n_sites >= MAX_SITES) {
        printf("FAIL in_place: too many sites in one graph\n");
        exit(1);
    }
    b->sites[b->n_sites].node = y.id;
    b->sites[b->n_sites].src = x.id;
    b->sites[b->n_sites].where = where;
    b->n_sites++;
    return y;
}

static gan_node conv_graph(builder *b, gan_node x)
{
    gan_graph *g = b->g;
    gan_node h = gan_apply(g, gan_conv2d(3, 16, 3, 1, 1), x);
    h = ip(b, gan_batchnorm(16), h, AT_INFER | AT_BACK);
    h = ip(b, gan_relu(), h, AT_TRAIN | AT_INFER | AT_BACK);
    h = gan_apply(g, gan_conv2d(16, 8, 3, 2, 1), h); /* (8, 8, 8) */
    h = ip(b, gan_leaky_relu(0.2f), h, AT_TRAIN | AT_INFER | AT_BACK);
    h = gan_apply(g, gan_flatten(), h);
    return gan_apply(g, gan_linear(512, 4), h);
}

static gan_node linear_bn_relu_graph(builder *b, gan_node x)
{
    gan_node h = gan_apply(b->g, gan_linear(6, 24), x);
    h = ip(b, gan_batchnorm(24), h, AT_INFER | AT_BACK);
    h = ip(b, gan_relu(), h, AT_TRAIN | AT_INFER | AT_BACK);
    return gan_apply(b->g, gan_linear(24, 3), h);
}

static gan_node leaky_negative_graph(builder *b, gan_node x)
{
    gan_node h = gan_apply(b->g, gan_linear(6, 20), x);
    h = ip(b, gan_batchnorm(20), h, AT_INFER | AT_BACK);
    h = ip(b, gan_leaky_relu(-0.5f), h, AT_INFER | AT_BACK);
    h = gan_apply(b->g, gan_linear(20, 10), h);
    h = ip(b, gan_leaky_relu(-0.5f), h, AT_INFER | AT_BACK);
    return gan_apply(b->g, gan_linear(10, 3), h);
}

static gan_node relu_output_graph(builder *b, gan_node x)
{
    gan_node h = gan_apply(b->g, gan_conv2d(2, 6, 3, 1, 0), x); /* (6, 3, 3) */
    h = ip(b, gan_batchnorm(6), h, AT_INFER | AT_BACK);
    return ip(b, gan_relu(), h, AT_TRAIN | AT_INFER | AT_BACK);
}

static gan_node two_readers_graph(builder *b, gan_node x)
{
    gan_node h = gan_apply(b->g, gan_linear(6, 16), x), r, s;
    h = ip(b, gan_batchnorm(16), h, AT_INFER | AT_BACK);
    r = ip(b, gan_relu(), h, 0); /* BatchNorm's output is read by the Add too */
    s = gan_add(b->g, r, h);
    /* a LeakyReLU, not a ReLU: relu(relu(h) + h) = relu(2 relu(h)) would hide an overwritten h */
    s = ip(b, gan_leaky_relu(0.2f), s, AT_TRAIN | AT_INFER | AT_BACK);
    return gan_apply(b->g, gan_linear(16, 3), s);
}

static gan_node view_between_graph(builder *b, gan_node x)
{
    gan_node h = gan_apply(b->g, gan_conv2d(1, 3, 3, 1, 1), x); /* (3, 2, 2) */
    h = ip(b, gan_batchnorm(3), h, AT_INFER | AT_BACK);
    h = gan_apply(b->g, gan_reshape(12, 1, 1), h);
    h = ip(b, gan_relu(), h, AT_BACK); /* its input is a view: never over it in the forward */
    return gan_apply(b->g, gan_linear(12, 2), h);
}

static gan_node relu_chain_graph(builder *b, gan_node x)
{
    gan_node h = gan_apply(b->g, gan_linear(6, 12), x);
    h = ip(b, gan_relu(), h, AT_TRAIN | AT_INFER | AT_BACK);
    h = ip(b, gan_relu(), h, AT_INFER | AT_BACK); /* the first ReLU's output is read by its backward */
    h = ip(b, gan_leaky_relu(0.1f), h, AT_INFER | AT_BACK);
    return gan_apply(b->g, gan_linear(12, 3), h);
}

static gan_node critic_ln_graph(builder *b, gan_node x)
{
    gan_node h = gan_apply(b->g, gan_conv2d(1, 4, 4, 2, 1), x); /* (4, 4, 4) */
    h = ip(b, gan_leaky_relu(0.2f), h, AT_TRAIN | AT_INFER | AT_BACK);
    h = gan_apply(b->g, gan_conv2d(4, 8, 4, 2, 1), h); /* (8, 2, 2) */
    h = gan_apply(b->g, gan_layernorm(), h);
    h = ip(b, gan_leaky_relu(0.2f), h, AT_TRAIN | AT_INFER | AT_BACK);
    h = gan_apply(b->g, gan_flatten(), h);
    return gan_apply(b->g, gan_linear(32, 1), h);
}

static gan_node critic_bn_graph(builder *b, gan_node x)
{
    gan_node h = gan_apply(b->g, gan_conv2d(1, 4, 3, 1, 1), x); /* (4, 8, 8) */
    /* not B in a penalty net: its dual reads its dL/dy (the tangent adjoint), which the plan keeps */
    h = ip(b, gan_batchnorm(4), h, AT_INFER);
    h = ip(b, gan_relu(), h, AT_TRAIN | AT_INFER | AT_BACK);
    h = gan_apply(b->g, gan_conv2d(4, 4, 4, 2, 1), h); /* (4, 4, 4) */
    h = ip(b, gan_leaky_relu(0.2f), h, AT_TRAIN | AT_INFER | AT_BACK);
    h = gan_apply(b->g, gan_flatten(), h);
    return gan_apply(b->g, gan_linear(64, 1), h);
}

static gan_node dropout_relu_graph(builder *b, gan_node x)
{
    gan_node h = gan_apply(b->g, gan_linear(6, 40), x);
    h = gan_apply(b->g, gan_dropout(0.3f), h);
    h = ip(b, gan_relu(), h, AT_TRAIN | AT_INFER | AT_BACK); /* Dropout's backward reads its mask only */
    return gan_apply(b->g, gan_linear(40, 3), h);
}

/* DCGAN's generator, small: z (8) -> (1, 8, 8) */
static gan_node generator_graph(builder *b, gan_node z)
{
    gan_node h = gan_apply(b->g, gan_linear(8, 32), z);
    h = ip(b, gan_batchnorm(32), h, AT_INFER | AT_BACK);
    h = ip(b, gan_relu(), h, AT_TRAIN | AT_INFER | AT_BACK);
    h = gan_apply(b->g, gan_reshape(8, 2, 2), h);
    h = gan_apply(b->g, gan_conv_transpose2d(8, 4, 4, 2, 1, 0), h); /* (4, 4, 4) */
    h = ip(b, gan_batchnorm(4), h, AT_INFER | AT_BACK);
    h = ip(b, gan_relu(), h, AT_TRAIN | AT_INFER | AT_BACK);
    h = gan_apply(b->g, gan_conv_transpose2d(4, 1, 4, 2, 1, 0), h); /* (1, 8, 8) */
    return gan_apply(b->g, gan_tanh(), h);
}

/* gan.h's residual block: BatchNorm straight on the input (never over an input), the shortcut a 1x1 conv */
static gan_node residual_graph(builder *b, gan_node x)
{
    gan_graph *g = b->g;
    gan_node h = ip(b, gan_batchnorm(4), x, 0);
    h = ip(b, gan_relu(), h, AT_TRAIN | AT_INFER | AT_BACK);
    h = gan_apply(g, gan_conv2d(4, 6, 3, 1, 1), h);
    h = ip(b, gan_batchnorm(6), h, AT_INFER | AT_BACK);
    h = ip(b, gan_relu(), h, AT_TRAIN | AT_INFER | AT_BACK);
    h = gan_apply(g, gan_conv2d(6, 6, 3, 1, 1), h);
    h = gan_add(g, h, gan_apply(g, gan_conv2d(4, 6, 1, 1, 0), x));
    h = gan_apply(g, gan_flatten(), h);
    return gan_apply(g, gan_linear(6 * 5 * 5, 2), h);
}

/* Mul and Concat under in-place layers: neither's backward reads its own output */
static gan_node joins_graph(builder *b, gan_node x)
{
    gan_node h1 = gan_apply(b->g, gan_linear(6, 8), x), h2 = gan_apply(b->g, gan_linear(6, 8), x), m, c;
    gan_node both[2];
    m = gan_mul(b->g, h1, h2);
    m = ip(b, gan_relu(), m, AT_TRAIN | AT_INFER | AT_BACK);
    both[0] = m;
    both[1] = h1;
    c = gan_concat(b->g, both, 2);
    c = ip(b, gan_leaky_relu(0.2f), c, AT_TRAIN | AT_INFER | AT_BACK);
    return gan_apply(b->g, gan_linear(16, 3), c);
}

enum { NO_PENALTY, PENALTY_TRAINING, PENALTY_EVAL };

/* The Tanh twin reads its output in backward as ReLU and LeakyReLU with a slope >= 0 do, so its plan
   differs only where they work in place: its arena is never smaller, and strictly larger where a
   site saves a buffer in use at the training region's peak. A negative slope reads x instead: no
   twin. */
enum { TWIN_NONE, TWIN_NOT_LARGER, TWIN_SMALLER };

typedef struct graph_spec {
    const char *name;
    int c, h, w;        /* the input */
    int max_batch, batch;
    int penalty;        /* NO_PENALTY, or the mode gan_net_penalty runs in */
    int twin;           /* the arena against the Tanh twin's: TWIN_SMALLER, TWIN_NOT_LARGER or TWIN_NONE */
    int train_equal;    /* no T site: the training region must equal the outputs reference's */
    gan_node (*build)(builder *b, gan_node x);
} graph_spec;

static const graph_spec graphs[] = {
    { "conv", 3, 16, 16, 12, 10, NO_PENALTY, TWIN_SMALLER, 0, conv_graph },
    { "linear_bn_relu", 6, 1, 1, 8, 7, NO_PENALTY, TWIN_SMALLER, 0, linear_bn_relu_graph },
    { "leaky_negative", 6, 1, 1, 8, 7, NO_PENALTY, TWIN_NONE, 1, leaky_negative_graph },
    { "relu_output", 2, 5, 5, 8, 7, NO_PENALTY, TWIN_SMALLER, 0, relu_output_graph },
    /* its T site (the ReLU over the Add) is not at the peak: the region is as large either way */
    { "two_readers", 6, 1, 1, 8, 7, NO_PENALTY, TWIN_NOT_LARGER, 0, two_readers_graph },
    { "view_between", 1, 2, 2, 8, 7, NO_PENALTY, TWIN_NOT_LARGER, 0, view_between_graph },
    { "relu_chain", 6, 1, 1, 8, 7, NO_PENALTY, TWIN_SMALLER, 0, relu_chain_graph },
    /* the buffers these save are not in use at either region's peak */
    { "dropout_relu", 6, 1, 1, 8, 7, NO_PENALTY, TWIN_NOT_LARGER, 0, dropout_relu_graph },
    { "generator", 8, 1, 1, 8, 7, NO_PENALTY, TWIN_NOT_LARGER, 0, generator_graph },
    { "residual", 4, 5, 5, 8, 7, NO_PENALTY, TWIN_NOT_LARGER, 0, residual_graph },
    { "joins", 6, 1, 1, 8, 7, NO_PENALTY, TWIN_SMALLER, 0, joins_graph },
    { "critic_ln", 1, 8, 8, 6, 5, PENALTY_TRAINING, TWIN_SMALLER, 0, critic_ln_graph },
    { "critic_bn_eval", 1, 8, 8, 6, 5, PENALTY_EVAL, TWIN_SMALLER, 0, critic_bn_graph },
};

/* Parameters and running statistics from a fixed stream per tensor, the same in every variant:
   weights uniform in +-sqrt(3 / fan_in), biases in +-0.2, norm weights in [0.6, 1.4] and biases in
   +-0.4, running means in +-0.3 and variances in [0.5, 1.5]. */
static void set_params(gan_net *net)
{
    int i;
    for (i = 0; i < gan_net_param_count(net); i++) {
        gan_param p = gan_net_param(net, i);
        gan_layer_kind kind = gan_net_layer(net, p.layer)->kind;
        int norm = kind == GAN_BATCHNORM || kind == GAN_LAYERNORM, weight = strcmp(p.role, "weight") == 0;
        gan_rng rng;
        gan_rng_seed(&rng, 1000 + (uint64_t)i);
        if (norm) gan_fill_uniform(p.data, p.count, weight ? 0.6f : -0.4f, weight ? 1.4f : 0.4f, &rng);
        else if (weight) {
            gan_float a = (gan_float)sqrt(3.0 * (double)p.shape[0] / (double)p.count);
            gan_fill_uniform(p.data, p.count, -a, a, &rng);
        } else
            gan_fill_uniform(p.data, p.count, -0.2f, 0.2f, &rng);
    }
    for (i = 0; i < gan_net_buffer_count(net); i++) {
        gan_param p = gan_net_buffer(net, i);
        gan_rng rng;
        int mean = strcmp(p.role, "running_mean") == 0;
        gan_rng_seed(&rng, 2000 + (uint64_t)i);
        gan_fill_uniform(p.data, p.count, mean ? -0.3f : 0.5f, mean ? 0.3f : 1.5f, &rng);
    }
}

/* Builds one variant; *sites gets the in-place candidates (the same node ids in every variant). */
static gan_net *make(const graph_spec *s, int variant, builder *b)
{
    gan_rng rng;
    gan_net *net;
    gan_node x, y;
    int i, j;
    b->g = gan_graph_new();
    b->twin = variant == V_TWIN;
    b->n_sites = 0;
    if (!b->g) {
        printf("FAIL in_place: gan_graph_new: out of memory\n");
        exit(1);
    }
    x = gan_input(b->g, gan_chw(s->c, s->h, s->w));
    y = s->build(b, x);
    gan_output(b->g, y);
    for (i = 0; i < b->n_sites && (variant == V_READERS || variant == V_OUTPUTS); i++) {
        gan_node src;
        for (j = 0; j < i && b->sites[j].src != b->sites[i].src; j++) {}
        if (j < i || b->sites[i].src == x.id || b->sites[i].src == y.id) continue; /* once per source */
        src.id = b->sites[i].src;
        if (variant == V_READERS) gan_apply(b->g, gan_tanh(), src); /* reaches no output */
        else gan_output(b->g, src);
    }
    gan_rng_seed(&rng, 7);
    net = gan_net_build(b->g, s->max_batch, s->penalty != NO_PENALTY ? GAN_BUILD_PENALTY : 0, &rng);
    gan_graph_free(b->g);
    b->g = NULL;
    if (!net) {
        printf("FAIL in_place.%s: gan_net_build (%s): %s\n", s->name, variant_name[variant], gan_last_error());
        exit(1);
    }
    set_params(net);
    gan_net_set_optim(net, gan_adam(0.01f, 0.9f, 0.999f));
    return net;
}

/* ---- running the variants alike -------------------------------------------------------------------- */

#define MAX_OUT 8
static gan_float zeros[65536]; /* the outputs reference's dL/d(extra output) */

static size_t out_count(const gan_net *net, int i)
{
    const gan_tensor *o = gan_net_output_at(net, i);
    return (size_t)o->c * o->h * o->w;
}

/* A backward with dy for output 0 and zeros for the others. */
static void backward(gan_net *net, gan_float *dy, int n, unsigned what)
{
    gan_tensor dys[MAX_OUT];
    int i;
    for (i = 0; i < net->n_outputs && i < MAX_OUT; i++) {
        const gan_tensor *o = gan_net_output_at(net, i);
        if ((size_t)n * out_count(net, i) > sizeof zeros / sizeof zeros[0]) {
            printf("FAIL in_place: the zero seed is too small\n");
            exit(1);
        }
        dys[i] = gan_tensor_make(i == 0 ? dy : zeros, n, o->c, o->h, o->w);
    }
    if (!gan_net_backward_multi(net, dys, what)) {
        printf("FAIL in_place: gan_net_backward_multi: %s\n", gan_last_error());
        exit(1);
    }
}

static void forward(gan_net *net, gan_float *x, const graph_spec *s, int n)
{
    gan_tensor xt = gan_tensor_make(x, n, s->c, s->h, s->w);
    if (!gan_net_forward_multi(net, &xt)) {
        printf("FAIL in_place: gan_net_forward: %s\n", gan_last_error());
        exit(1);
    }
}

static void infer(gan_net *net, gan_float *y, gan_float *x, const graph_spec *s, int n, gan_stats stats)
{
    gan_tensor xt = gan_tensor_make(x, n, s->c, s->h, s->w), ys[MAX_OUT];
    int i;
    for (i = 0; i < net->n_outputs && i < MAX_OUT; i++) {
        const gan_tensor *o = gan_net_output_at(net, i);
        ys[i] = gan_tensor_make(i == 0 ? y : NULL, n, o->c, o->h, o->w);
    }
    if (!gan_net_infer_multi(net, ys, &xt, stats)) {
        printf("FAIL in_place: gan_net_infer: %s\n", gan_last_error());
        exit(1);
    }
}

/* The checks of one graph, each over every kernel set, thread count, step and reference. */
enum {
    Q_FORWARD, Q_LAYER_OUT, Q_INPUT_GRAD, Q_PARAM_GRADS, Q_RUNNING, Q_STEP, Q_BACKWARD_INPUT, Q_EVAL_FORWARD,
    Q_EVAL_BACKWARD, Q_INFER_RUNNING, Q_INFER_BATCH, Q_PEN_VALUE, Q_PEN_GRADS, Q_PEN_INPUT_GRAD, Q_PEN_OUTPUT, N_Q
};
static const char *q_name[N_Q] = {
    "forward_bitwise", "surviving_layer_outputs_bitwise", "input_grad_bitwise", "param_grads_bitwise",
    "running_stats_bitwise", "params_after_adam_bitwise", "backward_input_bitwise", "eval_forward_bitwise",
    "eval_backward_bitwise", "infer_running_bitwise", "infer_batch_stats_bitwise", "penalty_value_bitwise",
    "penalty_param_grads_bitwise", "penalty_input_grad_bitwise", "penalty_forward_output_bitwise"
};

/* Output 0, dL/dinput 0 and every parameter gradient of net[0] against the references'. */
static void compare_output(tally *t, gan_net **net, const char *ctx, int n)
{
    int v;
    char c[256];
    for (v = 1; v < N_BUILT; v++) {
        snprintf(c, sizeof c, "%s, vs %s: output", ctx, variant_name[v]);
        note(t, c, gan_net_output_at(net[0], 0)->data, gan_net_output_at(net[v], 0)->data, (size_t)n * out_count(net[0], 0));
    }
}

static void compare_input_grad(tally *t, gan_net **net, const char *ctx, const graph_spec *s, int n)
{
    int v;
    char c[256];
    for (v = 1; v < N_BUILT; v++) {
        const gan_tensor *a = gan_net_input_grad(net[0], 0), *b = gan_net_input_grad(net[v], 0);
        snprintf(c, sizeof c, "%s, vs %s: dL/dinput", ctx, variant_name[v]);
        if (a->n != n || b->n != n) note_fail(t, c, "not computed");
        else note(t, c, a->data, b->data, (size_t)n * s->c * s->h * s->w);
    }
}

/* which: 0 gradients, 1 values */
static void compare_params(tally *t, gan_net **net, const char *ctx, int which)
{
    int v, i;
    char c[256];
    for (v = 1; v < N_BUILT; v++) {
        if (gan_net_param_count(net[v]) != gan_net_param_count(net[0])) {
            snprintf(c, sizeof c, "%s, vs %s", ctx, variant_name[v]);
            note_fail(t, c, "different parameter counts");
            continue;
        }
        for (i = 0; i < gan_net_param_count(net[0]); i++) {
            gan_param a = gan_net_param(net[0], i), b = gan_net_param(net[v], i);
            snprintf(c, sizeof c, "%s, vs %s: %s %s", ctx, variant_name[v], a.name, which ? "value" : "gradient");
            note(t, c, which ? a.data : a.grad, which ? b.data : b.grad, a.count);
        }
    }
}

static void compare_buffers(tally *t, gan_net **net, const char *ctx)
{
    int v, i;
    char c[256];
    for (v = 1; v < N_BUILT; v++)
        for (i = 0; i < gan_net_buffer_count(net[0]); i++) {
            gan_param a = gan_net_buffer(net[0], i), b = gan_net_buffer(net[v], i);
            snprintf(c, sizeof c, "%s, vs %s: %s", ctx, variant_name[v], a.name);
            note(t, c, a.data, b.data, a.count);
        }
}

/* Every layer output the in-place net says survived the forward, against the references' (which
   keep at least as much: the same layers come first in every variant). */
static void compare_layer_outputs(tally *t, gan_net **net, const char *ctx)
{
    int v, i;
    char c[256];
    for (i = 0; i < net[0]->n_layers; i++) {
        const gan_tensor *a = gan_net_layer_output(net[0], i);
        if (!a) continue;
        for (v = 1; v < N_BUILT; v++) {
            const gan_tensor *b = gan_net_layer_output(net[v], i);
            snprintf(c, sizeof c, "%s, vs %s: layer %d's output", ctx, variant_name[v], i);
            if (!b) note_fail(t, c, "kept in place but not in the reference");
            else note(t, c, a->data, b->data, gan_tensor_count(a));
        }
    }
}

/* The whole scenario on fresh nets, at the kernel set and thread count in effect. */
static void run_graph(const graph_spec *s, tally *T, const char *combo)
{
    static const gan_penalty_kind kinds[3] = { GAN_PENALTY_WGAN_GP, GAN_PENALTY_R1, GAN_PENALTY_WGAN_GP_ONE_SIDED };
    static const gan_float weights[3] = { 10, 5, 10 };
    gan_net *net[N_BUILT];
    builder b;
    gan_rng rng;
    size_t in_n = (size_t)s->c * s->h * s->w, on;
    int m = 2 * s->max_batch + 1, step, v, n;
    gan_float *x, *x2, *dy, *xs, *ys[N_BUILT][2];
    char ctx[200];

    for (v = 0; v < N_BUILT; v++) net[v] = make(s, v, &b);
    on = out_count(net[0], 0);
    x = floats((size_t)s->max_batch * in_n);
    x2 = floats((size_t)s->max_batch * in_n);
    dy = floats((size_t)s->max_batch * on);
    xs = floats((size_t)m * in_n);
    for (v = 0; v < N_BUILT; v++) {
        ys[v][0] = floats((size_t)m * on);
        ys[v][1] = floats((size_t)m * on);
    }
    gan_rng_seed(&rng, 99);

    for (step = 0; step < 3; step++) {
        n = step == 2 ? s->batch - 3 : s->batch;
        snprintf(ctx, sizeof ctx, "%s, step %d (batch %d)", combo, step, n);
        gan_fill_normal(x, (size_t)n * in_n, 0, 1, &rng);
        gan_fill_normal(dy, (size_t)n * on, 0, 1, &rng);
        for (v = 0; v < N_BUILT; v++) forward(net[v], x, s, n);
        compare_output(&T[Q_FORWARD], net, ctx, n);
        compare_layer_outputs(&T[Q_LAYER_OUT], net, ctx);
        if (step == 1) { /* samples drawn between a forward and its backward */
            gan_fill_normal(xs, (size_t)m * in_n, 0, 1, &rng);
            for (v = 0; v < N_BUILT; v++) {
                infer(net[v], ys[v][0], xs, s, m, GAN_STATS_RUNNING);
                infer(net[v], ys[v][1], xs, s, m, GAN_STATS_BATCH);
            }
            for (v = 1; v < N_BUILT; v++) {
                char c[256];
                snprintf(c, sizeof c, "%s, vs %s: %d samples", ctx, variant_name[v], m);
                note(&T[Q_INFER_RUNNING], c, ys[0][0], ys[v][0], (size_t)m * on);
                note(&T[Q_INFER_BATCH], c, ys[0][1], ys[v][1], (size_t)m * on);
            }
        }
        for (v = 0; v < N_BUILT; v++) {
            gan_net_zero_grad(net[v]);
            backward(net[v], dy, n, GAN_GRAD_PARAMS | GAN_GRAD_INPUTS);
        }
        compare_input_grad(&T[Q_INPUT_GRAD], net, ctx, s, n);
        compare_params(&T[Q_PARAM_GRADS], net, ctx, 0);
        compare_buffers(&T[Q_RUNNING], net, ctx);
        if (s->penalty != NO_PENALTY) {
            gan_float value[N_BUILT];
            gan_tensor xt = gan_tensor_make(x2, n, s->c, s->h, s->w);
            char c[256];
            gan_fill_normal(x2, (size_t)n * in_n, 0, 1, &rng);
            for (v = 0; v < N_BUILT; v++) {
                if (s->penalty == PENALTY_EVAL) gan_net_set_training(net[v], 0);
                if (!gan_net_penalty(net[v], &value[v], &xt, 0, kinds[step], weights[step])) {
                    printf("FAIL in_place.%s: gan_net_penalty (%s): %s\n", s->name, variant_name[v], gan_last_error());
                    exit(1);
                }
                gan_net_set_training(net[v], 1);
            }
            for (v = 1; v < N_BUILT; v++) {
                snprintf(c, sizeof c, "%s, vs %s: penalty kind %d", ctx, variant_name[v], (int)kinds[step]);
                note(&T[Q_PEN_VALUE], c, &value[0], &value[v], 1);
            }
            compare_params(&T[Q_PEN_GRADS], net, ctx, 0);
            compare_input_grad(&T[Q_PEN_INPUT_GRAD], net, ctx, s, n);
            compare_output(&T[Q_PEN_OUTPUT], net, ctx, n);
        }
        for (v = 0; v < N_BUILT; v++) gan_net_step(net[v]);
        compare_params(&T[Q_STEP], net, ctx, 1);
    }

    /* dL/dinput alone, after a training forward */
    n = s->batch;
    snprintf(ctx, sizeof ctx, "%s, backward_input", combo);
    gan_fill_normal(x, (size_t)n * in_n, 0, 1, &rng);
    gan_fill_normal(dy, (size_t)n * on, 0, 1, &rng);
    for (v = 0; v < N_BUILT; v++) {
        forward(net[v], x, s, n);
        backward(net[v], dy, n, GAN_GRAD_INPUTS);
    }
    compare_input_grad(&T[Q_BACKWARD_INPUT], net, ctx, s, n);

    /* evaluation mode: the forward, then a backward through it */
    snprintf(ctx, sizeof ctx, "%s, evaluation mode", combo);
    for (v = 0; v < N_BUILT; v++) {
        gan_net_set_training(net[v], 0);
        forward(net[v], x, s, n);
    }
    compare_output(&T[Q_EVAL_FORWARD], net, ctx, n);
    compare_layer_outputs(&T[Q_EVAL_FORWARD], net, ctx);
    for (v = 0; v < N_BUILT; v++) {
        gan_net_zero_grad(net[v]);
        backward(net[v], dy, n, GAN_GRAD_PARAMS | GAN_GRAD_INPUTS);
        gan_net_set_training(net[v], 1);
    }
    compare_input_grad(&T[Q_EVAL_BACKWARD], net, ctx, s, n);
    compare_params(&T[Q_EVAL_BACKWARD], net, ctx, 0);

    for (v = 0; v < N_BUILT; v++) {
        gan_net_free(net[v]);
        free(ys[v][0]);
        free(ys[v][1]);
    }
    free(x);
    free(x2);
    free(dy);
    free(xs);
}

/* ---- the plan itself (private fields, read only) ------------------------------------------------- */

/* Where node s->node shares its input's buffers: AT_TRAIN (training output), AT_INFER (sampling
   output), AT_BACK (gradient). Two buffers in use at one step never share memory, and a node's
   output (gradient) and its input's (dL/dx) are both in use when it runs, so sharing is working in
   place. */
static unsigned shared(const gan_net *net, const site *s)
{
    const gan__pnode *a = &net->plan->nodes[s->node], *b = &net->plan->nodes[s->src];
    unsigned w = 0;
    if (a->act.data && a->act.data == b->act.data) w |= AT_TRAIN;
    if (a->iact && a->iact == b->iact) w |= AT_INFER;
    if (a->grad && a->grad == b->grad) w |= AT_BACK;
    return w;
}

static void where_text(char *buf, size_t size, unsigned w)
{
    snprintf(buf, size, "%s%s%s%s", w & AT_TRAIN ? "T" : "", w & AT_INFER ? "I" : "", w & AT_BACK ? "B" : "",
             w ? "" : "none");
}

static void check_plan(const graph_spec *s)
{
    gan_net *net[N_BUILT + 1];
    builder b;
    int v, i, ok = 1;
    char name[160], why[512] = "", got[8], want[8];
    for (v = 0; v <= V_TWIN; v++) net[v] = make(s, v, &b);
    for (v = 0; v < N_BUILT && ok; v++)
        for (i = 0; i < b.n_sites && ok; i++) {
            unsigned w = shared(net[v], &b.sites[i]), expect = v == V_IN_PLACE ? b.sites[i].where : 0;
            if (w == expect) continue;
            ok = 0;
            where_text(got, sizeof got, w);
            where_text(want, sizeof want, expect);
            snprintf(why, sizeof why, "%s: node %d (%s) over node %d: in place at %s, the rules give %s", variant_name[v],
                     b.sites[i].node, gan__ops[net[v]->plan->nodes[b.sites[i].node].layer->kind].name, b.sites[i].src,
                     got, want);
        }
    snprintf(name, sizeof name, "in_place.%s.planned_as_the_rules_say", s->name);
    test_report(name, ok, "%s", why);

    printf("# in_place.%s: arena bytes: in place %lu, readers reference %lu, outputs reference %lu, tanh twin %lu; "
           "training region %lu / %lu / %lu / %lu; shared region %lu / %lu / %lu / %lu\n",
           s->name, (unsigned long)gan_net_arena_bytes(net[0]), (unsigned long)gan_net_arena_bytes(net[1]),
           (unsigned long)gan_net_arena_bytes(net[2]), (unsigned long)gan_net_arena_bytes(net[3]),
           (unsigned long)net[0]->plan->bytes_train, (unsigned long)net[1]->plan->bytes_train,
           (unsigned long)net[2]->plan->bytes_train, (unsigned long)net[3]->plan->bytes_train,
           (unsigned long)net[0]->plan->bytes_shared, (unsigned long)net[1]->plan->bytes_shared,
           (unsigned long)net[2]->plan->bytes_shared, (unsigned long)net[3]->plan->bytes_shared);
    if (s->twin != TWIN_NONE) {
        size_t a = gan_net_arena_bytes(net[0]), t = gan_net_arena_bytes(net[V_TWIN]);
        snprintf(name, sizeof name, "in_place.%s.arena_%s_tanh_twin", s->name,
                 s->twin == TWIN_SMALLER ? "smaller_than" : "not_larger_than");
        test_report(name, s->twin == TWIN_SMALLER ? a < t : a <= t,
                    "in place %lu bytes, the twin that never works in place %lu", (unsigned long)a, (unsigned long)t);
    }
    if (s->train_equal) {
        snprintf(name, sizeof name, "in_place.%s.training_region_unchanged", s->name);
        test_report(name, net[0]->plan->bytes_train == net[V_OUTPUTS]->plan->bytes_train,
                    "training region: in place %lu bytes, outputs reference %lu", (unsigned long)net[0]->plan->bytes_train,
                    (unsigned long)net[V_OUTPUTS]->plan->bytes_train);
    }
    for (v = 0; v <= V_TWIN; v++) gan_net_free(net[v]);
}

/* ---- main ------------------------------------------------------------------------------------------ */

static void self_test(void)
{
    gan_float a[5] = { 1, -2, 3, 0.5f, 7 }, b[5];
    tally same, off;
    memset(&same, 0, sizeof same);
    memset(&off, 0, sizeof off);
    memcpy(b, a, sizeof a);
    note(&same, "copy", a, b, 5);
#ifdef GAN_DOUBLE
    b[3] = nextafter(a[3], 1.0);
#else
    b[3] = nextafterf(a[3], 1.0f);
#endif
    note(&off, "one ulp", a, b, 5);
    test_report("in_place.selftest.compare_sees_one_ulp", same.fails == 0 && off.fails == 1,
                "a copy: %d failures, one value one ulp up: %d", same.fails, off.fails);
}

int main(void)
{
    static const gan_isa isas[3] = { GAN_ISA_BASELINE, GAN_ISA_AVX2, GAN_ISA_AVX512 };
    int gi, k, t, q;
    self_test();
    for (gi = 0; gi < (int)GAN_COUNT(graphs); gi++) {
        const graph_spec *s = &graphs[gi];
        tally T[N_Q];
        memset(T, 0, sizeof T);
        check_plan(s);
        for (k = 0; k < 3; k++) {
            if (!gan_set_isa(isas[k])) {
                if (gi == 0) printf("# in_place: kernel set %s not here: %s\n", gan_isa_name(isas[k]), gan_last_error());
                continue;
            }
            for (t = 1; t <= 2; t++) {
                char combo[64];
                int got = gan_set_threads(t);
                if (got != t) {
                    if (gi == 0) printf("# in_place: gan_set_threads(%d) gave %d: %s\n", t, got, gan_last_error());
                    continue;
                }
                snprintf(combo, sizeof combo, "%s, %d thread%s", gan_isa_name(isas[k]), t, t > 1 ? "s" : "");
                run_graph(s, T, combo);
            }
        }
        for (q = 0; q < N_Q; q++) {
            if (q == Q_RUNNING && !T[q].ran) continue;                            /* no BatchNorm */
            if (q >= Q_PEN_VALUE && s->penalty == NO_PENALTY) continue;
            report(s->name, q_name[q], &T[q]);
        }
    }
    gan_set_isa(GAN_ISA_AUTO);
    gan_set_threads(1);
    return test_finish();
}
