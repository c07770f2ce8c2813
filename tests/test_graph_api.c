/* tests/test_graph_api.c - what a graph network promises besides correct gradients (those are
   test_graph.c's, test_penalty.c's and test_graph_torch.c's):

   - sampling beside training: gan_net_infer at any batch, in even chunks of at most max_batch, with running or
     batch statistics, equals the plain forward it stands for; and drawn between a forward and its
     backward it leaves every gradient, input gradient, running statistic and Dropout stream bitwise
     as they were (an evaluation-mode gan_net_forward in the same place does not: the check can fail);
   - buffers handed back: a network's own output as its next input, its own input gradient as the
     next dL/doutput, give what copies of them give;
   - sizes that overflow, or that no machine has, are refused with NULL and a message before anything
     is allocated (make check runs this under AddressSanitizer, which would report a huge malloc);
   - graph steps (forward, backward, penalty, sampling, optimizer) never allocate: GAN_MALLOC is a
     counting wrapper here;
   - parameter groups: lr_mult scales one layer's learning rate exactly; a frozen layer neither
     accumulates gradients nor moves, while gradients still pass through it; gan_net_copy_params;
   - names: a chain's are PyTorch nn.Sequential's, a graph's those gan_name gave; duplicates refused;
   - class indices that are not integers in range are refused by the forward, naming the node;
   - a Scale node's factor changes between steps; gan_net_layer_output says which outputs survive. */
#include <stdint.h>
#include <stdlib.h>

#include "counting_alloc.h" /* every allocation gan.h makes is counted */
#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "test.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#define N 6 /* the planned batch of the small networks */
#define ZDIM 8
#define IMG 64 /* 8 x 8 */

static gan_float *floats(size_t n)
{
    gan_float *p = (gan_float *)calloc(n ? n : 1, sizeof(gan_float));
    if (!p) {
        printf("FAIL graph_api: out of memory\n");
        exit(1);
    }
    return p;
}

static int same(const gan_float *a, const gan_float *b, size_t n) { return memcmp(a, b, n * sizeof(gan_float)) == 0; }

static gan_net *build_or_die(gan_graph *g, int max_batch, unsigned flags, uint64_t seed)
{
    gan_rng rng;
    gan_net *net;
    gan_rng_seed(&rng, seed);
    net = gan_net_build(g, max_batch, flags, &rng);
    gan_graph_free(g);
    if (!net) {
        printf("FAIL graph_api: gan_net_build: %s\n", gan_last_error());
        exit(1);
    }
    return net;
}

/* A small generator with everything that keeps state between a forward and its backward: BatchNorm
   (batch statistics, running estimates), Dropout (a mask and a random stream), a skip connection.
   z (8, 1, 1) -> (1, 8, 8). */
static gan_net *make_gen(uint64_t seed, int max_batch)
{
    gan_graph *g = gan_graph_new();
    gan_node z, h, s;
    gan_layer up[4];
    up[0] = gan_batchnorm(4);
    up[1] = gan_relu();
    up[2] = gan_upsample2x();
    up[3] = gan_conv2d(4, 4, 3, 1, 1);
    z = gan_input(g, gan_chw(ZDIM, 1, 1));
    h = gan_apply(g, gan_linear(ZDIM, 64), z);
    h = gan_apply(g, gan_reshape(4, 4, 4), h);
    s = gan_apply(g, gan_upsample2x(), h);
    h = gan_add(g, gan_chain(g, h, up, GAN_COUNT(up)), s);
    h = gan_apply(g, gan_dropout(0.25f), h);
    h = gan_apply(g, gan_batchnorm(4), h);
    h = gan_apply(g, gan_conv2d(4, 1, 3, 1, 1), h);
    gan_apply(g, gan_tanh(), h);
    return build_or_die(g, max_batch, 0, seed);
}

/* ---- sampling beside training --------------------------------------------------------------------- */

/* Everything a backward leaves behind: parameter gradients, dL/dz, running statistics, Dropout streams. */
typedef struct after_backward {
    size_t n_params, n_stats;
    gan_float *grads, *dz, *stats;
    gan_rng streams[4];
} after_backward;

static void record(after_backward *r, gan_net *net)
{
    int i, s = 0;
    size_t at = 0;
    memset(r, 0, sizeof *r);
    r->n_params = net->n_params;
    r->grads = floats(net->n_params);
    memcpy(r->grads, net->grads, net->n_params * sizeof(gan_float));
    r->dz = floats((size_t)N * ZDIM);
    memcpy(r->dz, gan_net_input_grad(net, 0)->data, (size_t)N * ZDIM * sizeof(gan_float));
    for (i = 0; i < gan_net_buffer_count(net); i++) r->n_stats += gan_net_buffer(net, i).count;
    r->stats = floats(r->n_stats);
    for (i = 0; i < gan_net_buffer_count(net); i++) {
        gan_param b = gan_net_buffer(net, i);
        memcpy(r->stats + at, b.data, b.count * sizeof(gan_float));
        at += b.count;
    }
    for (i = 0; i < net->n_layers; i++)
        if (net->layers[i].kind == GAN_DROPOUT) r->streams[s++] = net->layers[i].rng;
}

static int same_record(const after_backward *a, const after_backward *b)
{
    return same(a->grads, b->grads, a->n_params) && same(a->dz, b->dz, (size_t)N * ZDIM) &&
           same(a->stats, b->stats, a->n_stats) && memcmp(a->streams, b->streams, sizeof a->streams) == 0;
}

static void free_record(after_backward *r)
{
    free(r->grads);
    free(r->dz);
    free(r->stats);
}

enum { NOTHING_BETWEEN, INFER_BETWEEN, EVAL_FORWARD_BETWEEN };

/* forward(z), then something, then backward(dy), recorded. INFER_BETWEEN samples 15 (2.5 max_batch)
   in both modes; EVAL_FORWARD_BETWEEN is the old way of sampling, an evaluation-mode forward. */
static void forward_between_backward(after_backward *r, int between)
{
    gan_net *net = make_gen(41, N);
    gan_rng rng;
    gan_float z[N * ZDIM], dy[N * IMG], *zs = floats(15 * ZDIM), *ys = floats(15 * IMG);
    gan_tensor zt = gan_tensor_make(z, N, ZDIM, 1, 1), dyt = gan_tensor_make(dy, N, 1, 8, 8);
    gan_tensor zst = gan_tensor_make(zs, 15, ZDIM, 1, 1), yst = gan_tensor_make(ys, 15, 1, 8, 8);
    gan_tensor z6 = gan_tensor_make(zs, N, ZDIM, 1, 1);
    gan_rng_seed(&rng, 42);
    gan_fill_normal(z, N * ZDIM, 0, 1, &rng);
    gan_fill_normal(dy, N * IMG, 0, 1, &rng);
    gan_fill_normal(zs, 15 * ZDIM, 0, 1, &rng);
    gan_net_forward(net, &zt);
    if (between == INFER_BETWEEN) {
        gan_net_infer(net, &yst, &zst, GAN_STATS_RUNNING);
        gan_net_infer(net, &yst, &zst, GAN_STATS_BATCH);
    } else if (between == EVAL_FORWARD_BETWEEN) {
        gan_net_set_training(net, 0);
        gan_net_forward(net, &z6);
        gan_net_set_training(net, 1);
    }
    gan_net_zero_grad(net);
    gan_net_backward(net, &dyt);
    record(r, net);
    gan_net_free(net);
    free(zs);
    free(ys);
}

static void test_sampling_beside_training(void)
{
    after_backward plain, sampled, old_way;
    forward_between_backward(&plain, NOTHING_BETWEEN);
    forward_between_backward(&sampled, INFER_BETWEEN);
    forward_between_backward(&old_way, EVAL_FORWARD_BETWEEN);
    test_report("infer: a sample drawn between a forward and its backward leaves every gradient, dL/dz, running "
                "statistic and Dropout stream bitwise as it was",
                same_record(&plain, &sampled), "something differs");
    test_report("infer: (the check can fail) an evaluation-mode gan_net_forward in the same place changes them",
                !same_record(&plain, &old_way), "the old way of sampling left everything equal, so the check proves nothing");
    free_record(&plain);
    free_record(&sampled);
    free_record(&old_way);
}

/* gan_net_infer on 2.5 max_batch samples (15 at 6: three chunks of 5) equals the plain forward on each
   chunk: in evaluation mode (running statistics; per sample, so chunking cannot matter) and with batch
   statistics (each chunk normalized on its own, as a training forward of that chunk, running
   estimates untouched). */
static void test_infer_equals_forward(void)
{
    enum { M = 15, CHUNK = 5 };
    gan_net *net = make_gen(43, N), *ref = make_gen(43, N);
    gan_rng rng;
    gan_float *z = floats(M * ZDIM), *y = floats(M * IMG), *want = floats(M * IMG), *stats_before;
    gan_tensor zt = gan_tensor_make(z, M, ZDIM, 1, 1), yt = gan_tensor_make(y, M, 1, 8, 8);
    int i, c0, ok_running, ok_batch, stats_same = 1, n_stats = 0;
    gan_param b;

    gan_rng_seed(&rng, 44);
    gan_fill_normal(z, M * ZDIM, 0, 1, &rng);
    /* give the running statistics values of their own first, so evaluation mode differs from training */
    for (i = 0; i < 3; i++) {
        gan_tensor zi = gan_tensor_make(z + (size_t)i * 2 * ZDIM, N, ZDIM, 1, 1);
        gan_net_forward(net, &zi);
        gan_net_forward(ref, &zi);
    }
    for (i = 0; i < gan_net_buffer_count(net); i++) n_stats += (int)gan_net_buffer(net, i).count;
    stats_before = floats((size_t)n_stats);
    for (i = 0, c0 = 0; i < gan_net_buffer_count(net); i++) {
        b = gan_net_buffer(net, i);
        memcpy(stats_before + c0, b.data, b.count * sizeof(gan_float));
        c0 += (int)b.count;
    }

    for (c0 = 0; c0 < M; c0 += CHUNK) {
        int m = CHUNK;
        gan_tensor zc = gan_tensor_make(z + (size_t)c0 * ZDIM, m, ZDIM, 1, 1);
        gan_net_set_training(ref, 0);
        memcpy(want + (size_t)c0 * IMG, gan_net_forward(ref, &zc)->data, (size_t)m * IMG * sizeof(gan_float));
    }
    ok_running = gan_net_infer(net, &yt, &zt, GAN_STATS_RUNNING) && same(y, want, M * IMG);
    test_report("infer: running statistics, 15 samples at max_batch 6 == evaluation-mode forward, bitwise", ok_running,
                "differs");

    /* the training forward draws Dropout masks; batch statistics in gan_net_infer have no Dropout, so the
       reference is a training forward of a copy whose Dropout is switched off (p = 0 keeps every value, scale 1) */
    for (i = 0; i < ref->n_layers; i++)
        if (ref->layers[i].kind == GAN_DROPOUT) ref->layers[i].p = 0;
    gan_net_set_training(ref, 1);
    for (c0 = 0; c0 < M; c0 += CHUNK) {
        int m = CHUNK;
        gan_tensor zc = gan_tensor_make(z + (size_t)c0 * ZDIM, m, ZDIM, 1, 1);
        memcpy(want + (size_t)c0 * IMG, gan_net_forward(ref, &zc)->data, (size_t)m * IMG * sizeof(gan_float));
    }
    ok_batch = gan_net_infer(net, &yt, &zt, GAN_STATS_BATCH) && same(y, want, M * IMG);
    test_report("infer: batch statistics, 15 samples at max_batch 6 == a training forward of each chunk of 5, bitwise",
                ok_batch, "differs");
    for (i = 0, c0 = 0; i < gan_net_buffer_count(net); i++) {
        b = gan_net_buffer(net, i);
        stats_same = stats_same && same(stats_before + c0, b.data, b.count);
        c0 += (int)b.count;
    }
    test_report("infer: neither mode changes the running statistics", stats_same, "they moved");

    /* BatchNorm over (3, 1, 1) features: 7 samples at max_batch 3 go as 3, 2, 2, each with statistics of
       its own; one sample alone has none */
    {
        gan_graph *g = gan_graph_new();
        gan_net *bn;
        gan_float x1[7 * 3], y1[7 * 3];
        gan_tensor xt = gan_tensor_make(x1, 7, 3, 1, 1), yt1 = gan_tensor_make(y1, 7, 3, 1, 1);
        gan_tensor x_one = gan_tensor_make(x1, 1, 3, 1, 1), y_one = gan_tensor_make(y1, 1, 3, 1, 1);
        gan_apply(g, gan_batchnorm(3), gan_input(g, gan_chw(3, 1, 1)));
        bn = build_or_die(g, 3, 0, 5);
        gan_fill_normal(x1, 7 * 3, 0, 1, &rng);
        test_report("infer: batch statistics of 7 samples at max_batch 3 (chunks 3, 2, 2) work",
                    gan_net_infer(bn, &yt1, &xt, GAN_STATS_BATCH), "error \"%s\"", gan_last_error());
        test_report("infer: batch statistics of one sample are refused with a message, running ones are fine",
                    !gan_net_infer(bn, &y_one, &x_one, GAN_STATS_BATCH) && strstr(gan_last_error(), "BatchNorm") &&
                        gan_net_infer(bn, &y_one, &x_one, GAN_STATS_RUNNING),
                    "error \"%s\"", gan_last_error());
        gan_net_free(bn);
    }
    gan_net_free(net);
    gan_net_free(ref);
    free(z);
    free(y);
    free(want);
    free(stats_before);
}

/* ---- buffers handed back ---------------------------------------------------------------------------- */

/* A network with an odd number of layers whose input and output shapes agree, so that its output can
   be its next input and its input gradient its next dL/doutput. */
static gan_net *make_square(uint64_t seed)
{
    gan_layer L[3];
    gan_rng rng;
    gan_net *net;
    L[0] = gan_linear(5, 7);
    L[1] = gan_tanh();
    L[2] = gan_linear(7, 5);
    gan_rng_seed(&rng, seed);
    net = gan_net_create(gan_chw(5, 1, 1), L, 3, N, &rng);
    if (!net) {
        printf("FAIL graph_api: gan_net_create: %s\n", gan_last_error());
        exit(1);
    }
    return net;
}

static void test_handing_back(void)
{
    gan_net *a = make_square(7), *b = make_square(7);
    gan_rng rng;
    gan_float x[N * 5], dy[N * 5], copy[N * 5];
    gan_tensor xt = gan_tensor_make(x, N, 5, 1, 1), dyt = gan_tensor_make(dy, N, 5, 1, 1);
    gan_tensor ct = gan_tensor_make(copy, N, 5, 1, 1);
    const gan_tensor *ya, *yb, *da, *db;
    int ok_fwd, ok_bwd;
    gan_rng_seed(&rng, 8);
    gan_fill_normal(x, N * 5, 0, 1, &rng);
    gan_fill_normal(dy, N * 5, 0, 1, &rng);

    /* its own output as its next input */
    ya = gan_net_forward(a, &xt);
    memcpy(copy, ya->data, sizeof copy);
    ya = gan_net_forward(a, ya);
    gan_net_forward(b, &xt);
    yb = gan_net_forward(b, &ct);
    ok_fwd = same(ya->data, yb->data, N * 5);
    test_report("handback: a network's own output as its next input == a copy of it", ok_fwd, "differs");

    /* its own input gradient as the next dL/doutput (with 3 layers the old ping-pong buffers clashed) */
    gan_net_zero_grad(a);
    gan_net_zero_grad(b);
    da = gan_net_backward(a, &dyt);
    gan_net_backward(b, &dyt);
    memcpy(copy, gan_net_input_grad(b, 0)->data, sizeof copy);
    da = gan_net_backward(a, da);
    db = gan_net_backward(b, &ct);
    ok_bwd = same(da->data, db->data, N * 5) && same(a->grads, b->grads, a->n_params);
    test_report("handback: a network's own dL/dinput as its next dL/doutput == a copy of it (input and parameter "
                "gradients)",
                ok_bwd, "differs");
    gan_net_free(a);
    gan_net_free(b);
}

/* ---- sizes ---------------------------------------------------------------------------------------------- */

/* One layer on an input of the given shape must be refused: NULL, a message, nothing held. */
static void refused(const char *name, gan_shape in, gan_layer layer, int max_batch)
{
    gan_rng rng;
    gan_net *net;
    long allocs = alloc_count, frees = free_count;
    gan_rng_seed(&rng, 1);
    net = gan_net_create(in, &layer, 1, max_batch, &rng);
    test_report(name, net == NULL && strlen(gan_last_error()) > 0 && alloc_count - allocs == free_count - frees,
                "net %p, error \"%s\", %ld blocks held", (void *)net, gan_last_error(),
                (alloc_count - allocs) - (free_count - frees));
    gan_net_free(net);
}

static void test_sizes(void)
{
    gan_layer conv = gan_conv2d(1, 1, 3, 1, INT_MAX / 2), embed = gan_embedding(INT_MAX, INT_MAX);
    refused("sizes: Linear(INT_MAX, INT_MAX) (its weight count wrapped the arena size before) -> NULL",
            gan_chw(INT_MAX, 1, 1), gan_linear(INT_MAX, INT_MAX), 1);
    refused("sizes: LayerNorm on (2^30, 2^30, 4) -> NULL", gan_chw(1 << 30, 1 << 30, 4), gan_layernorm(), 1);
    refused("sizes: ReLU on 65536^3 at batch 65536 (2^64 values) -> NULL", gan_chw(65536, 65536, 65536), gan_relu(),
            65536);
    refused("sizes: Linear(2^20, 2^20): 4 TiB that does not overflow but exceeds GAN_MAX_ARENA_BYTES -> NULL",
            gan_chw(1 << 20, 1, 1), gan_linear(1 << 20, 1 << 20), 1);
    refused("sizes: Conv2d with padding INT_MAX / 2 (an output height past INT_MAX) -> NULL", gan_chw(1, 8, 8), conv, 1);
    refused("sizes: Upsample2x of (1, 2^30, 2^30) (2^31 rows) -> NULL", gan_chw(1, 1 << 30, 1 << 30), gan_upsample2x(), 1);
    refused("sizes: Embedding(INT_MAX, INT_MAX) -> NULL", gan_chw(1, 1, 1), embed, 1);
    refused("sizes: Flatten of (2^16, 2^16, 2) (C*H*W past INT_MAX) -> NULL", gan_chw(1 << 16, 1 << 16, 2), gan_flatten(), 1);
    {
        /* a refused node, then a layer whose check its meaningless shape would fail: NULL, not an assert */
        gan_graph *g = gan_graph_new();
        gan_rng rng;
        gan_net *net;
        gan_node h = gan_apply(g, gan_upsample2x(), gan_input(g, gan_chw(3, 1, 1200000000)));
        gan_apply(g, gan_batchnorm(3), h);
        gan_rng_seed(&rng, 1);
        net = gan_net_build(g, 1, 0, &rng);
        test_report("sizes: a layer after a refused one is not planned: NULL naming the first problem",
                    net == NULL && strstr(gan_last_error(), "Upsample2x") != NULL, "net %p, error \"%s\"", (void *)net,
                    gan_last_error());
        gan_graph_free(g);
    }
    {
        gan_graph *g = gan_graph_new();
        gan_node a = gan_add(g, gan_input(g, gan_chw(1, 65536, 65536)), gan_input(g, gan_chw(1, 1, 1)));
        gan_shape s = gan_node_shape(g, a);
        test_report("sizes: Add of (1, 65536, 65536) and a broadcast (1, 1, 1) is (1, 65536, 65536) (H W past INT_MAX)",
                    s.c == 1 && s.h == 65536 && s.w == 65536, "got (%d, %d, %d)", s.c, s.h, s.w);
        gan_graph_free(g);
    }
    {
        gan_graph *g = gan_graph_new();
        gan_node a = gan_input(g, gan_chw(INT_MAX / 2 + 1, 1, 1)), xs[2];
        gan_rng rng;
        gan_net *net;
        xs[0] = xs[1] = a;
        gan_concat(g, xs, 2);
        gan_rng_seed(&rng, 1);
        net = gan_net_build(g, 1, 0, &rng);
        test_report("sizes: Concat of two inputs of INT_MAX / 2 + 1 channels -> NULL", net == NULL &&
                    strstr(gan_last_error(), "Concat") != NULL, "net %p, error \"%s\"", (void *)net, gan_last_error());
        gan_net_free(net);
        gan_graph_free(g);
    }
}

/* ---- no allocation in graph steps ------------------------------------------------------------------------- */

/* A conditional generator (label embedding joined to z, conditional BatchNorm) and a projection critic
   with a penalty: steps of everything a training loop calls. */
static void test_no_allocation(void)
{
    enum { STEPS = 4, CLASSES = 3 };
    gan_graph *g = gan_graph_new(), *d = gan_graph_new();
    gan_node z, lab, h, gam, bet, xs[2], x, dl, e;
    gan_net *G, *D;
    gan_rng rng;
    gan_float zb[N * ZDIM], lb[N], dy[N], inter[N * IMG], *samples = floats(20 * IMG), *zs = floats(20 * ZDIM);
    gan_float *labs = floats(20), p;
    long allocs, frees;
    int step, i;

    z = gan_input(g, gan_chw(ZDIM, 1, 1));
    lab = gan_input(g, gan_chw(1, 1, 1));
    xs[0] = z;
    xs[1] = gan_apply(g, gan_embedding(CLASSES, 4), lab);
    h = gan_apply(g, gan_linear(ZDIM + 4, 64), gan_concat(g, xs, 2));
    h = gan_apply(g, gan_no_affine(gan_batchnorm(4)), gan_apply(g, gan_reshape(4, 4, 4), h));
    gam = gan_apply(g, gan_embedding(CLASSES, 4), lab);
    bet = gan_apply(g, gan_embedding(CLASSES, 4), lab);
    h = gan_add(g, gan_mul(g, h, gam), bet);
    h = gan_apply(g, gan_upsample2x(), gan_apply(g, gan_relu(), h));
    gan_apply(g, gan_tanh(), gan_apply(g, gan_conv2d(4, 1, 3, 1, 1), h));
    G = build_or_die(g, N, 0, 11);

    x = gan_input(d, gan_chw(1, 8, 8));
    dl = gan_input(d, gan_chw(1, 1, 1));
    h = gan_apply(d, gan_leaky_relu(0.2f), gan_apply(d, gan_conv2d(1, 4, 4, 2, 1), x));
    h = gan_apply(d, gan_layernorm(), h);
    h = gan_apply(d, gan_relu(), gan_apply(d, gan_linear(64, 8), gan_apply(d, gan_flatten(), h)));
    e = gan_apply(d, gan_embedding(CLASSES, 8), dl);
    gan_output(d, gan_add(d, gan_apply(d, gan_linear(8, 1), h), gan_inner(d, e, h)));
    D = build_or_die(d, N, GAN_BUILD_PENALTY, 12);

    gan_rng_seed(&rng, 13);
    gan_fill_normal(zs, 20 * ZDIM, 0, 1, &rng);
    for (i = 0; i < 20; i++) labs[i] = (gan_float)(i % CLASSES);
    allocs = alloc_count;
    frees = free_count;
    for (step = 0; step < STEPS; step++) {
        gan_tensor in[2], din[1];
        const gan_tensor *fake;
        gan_fill_normal(zb, N * ZDIM, 0, 1, &rng);
        for (i = 0; i < N; i++) lb[i] = (gan_float)((i + step) % CLASSES);
        in[0] = gan_tensor_make(zb, N, ZDIM, 1, 1);
        in[1] = gan_tensor_make(lb, N, 1, 1, 1);
        gan_net_forward_multi(G, in);
        fake = gan_net_output(G);
        gan_net_zero_grad(D);
        in[0] = *fake;
        gan_net_forward_multi(D, in);
        gan_bce_logits_const(dy, gan_net_output(D)->data, 0, N);
        din[0] = gan_tensor_make(dy, N, 1, 1, 1);
        gan_net_backward_multi(D, din, GAN_GRAD_PARAMS);
        memcpy(inter, fake->data, sizeof inter);
        in[0] = gan_tensor_make(inter, N, 1, 8, 8);
        gan_net_penalty(D, &p, in, 0, GAN_PENALTY_WGAN_GP, 10);
        gan_net_step(D);
        gan_net_forward_multi(D, in);
        gan_bce_logits_const(dy, gan_net_output(D)->data, 1, N);
        gan_net_backward_multi(D, din, GAN_GRAD_INPUTS);
        gan_net_zero_grad(G);
        din[0] = *gan_net_input_grad(D, 0);
        gan_net_backward_multi(G, din, GAN_GRAD_PARAMS);
        gan_net_step(G);
        {
            gan_tensor si[2], so = gan_tensor_make(samples, 20, 1, 8, 8);
            si[0] = gan_tensor_make(zs, 20, ZDIM, 1, 1);
            si[1] = gan_tensor_make(labs, 20, 1, 1, 1);
            gan_net_infer_multi(G, &so, si, GAN_STATS_RUNNING);
        }
    }
    printf("# alloc: %ld GAN_MALLOC calls during %d graph GAN steps with penalty and sampling\n", alloc_count - allocs,
           STEPS);
    test_report("alloc: graph steps (forward, backward, penalty, infer, optimizer) allocate nothing",
                alloc_count == allocs && free_count == frees, "%ld allocations, %ld frees", alloc_count - allocs,
                free_count - frees);
    gan_net_free(G);
    gan_net_free(D);
    free(samples);
    free(zs);
    free(labs);
}

/* ---- parameter groups and copies ----------------------------------------------------------------------- */

static void test_groups(void)
{
    gan_net *a = make_square(21), *b = make_square(21), *c = make_square(21);
    gan_rng rng;
    gan_float x[N * 5], dy[N * 5], w_before[35], *w2_before = floats(40);
    gan_tensor xt = gan_tensor_make(x, N, 5, 1, 1), dyt = gan_tensor_make(dy, N, 5, 1, 1);
    const gan_tensor *dx_frozen;
    gan_float *dx_free = floats(N * 5);
    size_t j;
    int moved = 0;
    gan_rng_seed(&rng, 22);
    gan_fill_normal(x, N * 5, 0, 1, &rng);
    gan_fill_normal(dy, N * 5, 0, 1, &rng);

    /* a: SGD lr 0.2 with layer 0 at lr_mult 0.5; b: SGD lr 0.1. Layer 0 must move identically. */
    gan_net_set_optim(a, gan_sgd(0.2f, 0));
    gan_net_set_optim(b, gan_sgd(0.1f, 0));
    gan_net_layer(a, 0)->lr_mult = 0.5f;
    gan_net_forward(a, &xt);
    gan_net_zero_grad(a);
    gan_net_backward(a, &dyt);
    gan_net_step(a);
    gan_net_forward(b, &xt);
    gan_net_zero_grad(b);
    gan_net_backward(b, &dyt);
    gan_net_step(b);
    test_report("groups: lr_mult 0.5 at lr 0.2 moves a layer exactly as lr 0.1 does",
                same(a->layers[0].W, b->layers[0].W, 35) && same(a->layers[0].b, b->layers[0].b, 7) &&
                    !same(a->layers[2].W, b->layers[2].W, 35),
                "layer 0 differs, or layer 2 (at the full rate) does not");

    /* c: layer 2 frozen. No gradient, no move; layer 0 still learns; dL/dx passes through. */
    memcpy(w_before, c->layers[2].W, sizeof w_before);
    memcpy(w2_before, c->layers[0].W, 35 * sizeof(gan_float));
    gan_net_layer(c, 2)->frozen = 1;
    gan_net_set_optim(c, gan_adam(0.01f, 0.9f, 0.999f));
    gan_net_forward(c, &xt);
    gan_net_zero_grad(c);
    dx_frozen = gan_net_backward(c, &dyt);
    for (j = 0; j < 35; j++) moved |= c->layers[2].dW[j] != 0;
    test_report("groups: a frozen layer accumulates no gradient", !moved, "its dW is not zero");
    gan_net_step(c);
    test_report("groups: a frozen layer does not move; the layer before it does",
                same(w_before, c->layers[2].W, 35) && !same(w2_before, c->layers[0].W, 35), "wrong layers moved");
    {
        gan_net *d = make_square(21);
        gan_net_forward(d, &xt);
        memcpy(dx_free, gan_net_backward(d, &dyt)->data, N * 5 * sizeof(gan_float));
        test_report("groups: gradients pass through a frozen layer unchanged", same(dx_frozen->data, dx_free, N * 5),
                    "dL/dx differs from the unfrozen network's");
        gan_net_free(d);
    }

    /* copy: a second network of the same layers, another seed, becomes the first's twin */
    {
        gan_net *e = make_square(99), *f;
        gan_layer other[3];
        gan_rng r2;
        int ok = gan_net_copy_params(e, a);
        const gan_tensor *ya = gan_net_forward(a, &xt), *ye = gan_net_forward(e, &xt);
        test_report("copy: gan_net_copy_params makes the forward of another seed's network equal, bitwise",
                    ok && same(ya->data, ye->data, N * 5), "copy %d, outputs differ", ok);
        other[0] = gan_linear(5, 6);
        other[1] = gan_tanh();
        other[2] = gan_linear(6, 5);
        gan_rng_seed(&r2, 3);
        f = gan_net_create(gan_chw(5, 1, 1), other, 3, N, &r2);
        test_report("copy: networks of other shapes are refused with a message naming the layer",
                    f && !gan_net_copy_params(f, a) && strstr(gan_last_error(), "layer 0") != NULL, "error \"%s\"",
                    gan_last_error());
        gan_net_free(e);
        gan_net_free(f);
    }
    {
        /* the same parameter counts in other shapes: Linear(4, 8) and Linear(8, 4); no-affine BatchNorms of
           1024 and 4 channels (no parameters at all, running statistics of other lengths) */
        gan_rng r3;
        gan_layer l48 = gan_no_bias(gan_linear(4, 8)), l84 = gan_no_bias(gan_linear(8, 4));
        gan_layer bn_big = gan_no_affine(gan_batchnorm(1024)), bn_small = gan_no_affine(gan_batchnorm(4));
        gan_net *p, *q;
        int refused;
        gan_rng_seed(&r3, 4);
        p = gan_net_create(gan_chw(4, 1, 1), &l48, 1, N, &r3);
        q = gan_net_create(gan_chw(8, 1, 1), &l84, 1, N, &r3);
        refused = p && q && !gan_net_copy_params(q, p);
        gan_net_free(p);
        gan_net_free(q);
        p = gan_net_create(gan_chw(1024, 1, 1), &bn_big, 1, N, &r3);
        q = gan_net_create(gan_chw(4, 1, 1), &bn_small, 1, N, &r3);
        refused = refused && p && q && !gan_net_copy_params(q, p);
        test_report("copy: equal parameter counts in other shapes, and statistics of other lengths, are refused",
                    refused, "copied, error \"%s\"", gan_last_error());
        gan_net_free(p);
        gan_net_free(q);
    }
    gan_net_free(a);
    gan_net_free(b);
    gan_net_free(c);
    free(w2_before);
    free(dx_free);
}

/* ---- names, labels, scale, kept outputs ------------------------------------------------------------------ */

static void test_names(void)
{
    gan_layer L[4];
    gan_rng rng;
    gan_net *chain, *net;
    gan_graph *g;
    gan_node x, a, b;
    const char *want[] = { "0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias" };
    int i, ok = 1;
    L[0] = gan_conv2d(1, 2, 3, 1, 1);
    L[1] = gan_batchnorm(2);
    L[2] = gan_flatten();
    L[3] = gan_linear(2 * 16, 1);
    gan_rng_seed(&rng, 31);
    chain = gan_net_create(gan_chw(1, 4, 4), L, 4, N, &rng);
    ok = chain && gan_net_param_count(chain) == 6;
    for (i = 0; ok && i < 6; i++) ok = strcmp(gan_net_param(chain, i).name, want[i]) == 0;
    ok = ok && strcmp(gan_net_buffer(chain, 0).name, "1.running_mean") == 0 &&
         strcmp(gan_net_buffer(chain, 1).name, "1.running_var") == 0;
    test_report("names: a chain's parameters are named as PyTorch's nn.Sequential names them", ok,
                "got %s, ...", chain ? gan_net_param(chain, 0).name : "(no net)");

    g = gan_graph_new();
    x = gan_input(g, gan_chw(3, 1, 1));
    a = gan_apply(g, gan_linear(3, 3), x);
    gan_name(g, a, "mapping.fc0");
    b = gan_apply(g, gan_linear(3, 2), gan_apply(g, gan_relu(), a));
    net = gan_net_build(g, N, 0, &rng);
    test_report("names: gan_name names a node's parameters; unnamed nodes by their layer index",
                net && strcmp(gan_net_param(net, 0).name, "mapping.fc0.weight") == 0 &&
                    strcmp(gan_net_param(net, 1).name, "mapping.fc0.bias") == 0 &&
                    strcmp(gan_net_param(net, 2).name, "2.weight") == 0,
                "got %s, %s", net ? gan_net_param(net, 0).name : "-", net ? gan_net_param(net, 2).name : "-");
    gan_name(g, b, "mapping.fc0");
    gan_net_free(net);
    net = gan_net_build(g, N, 0, &rng);
    test_report("names: two nodes with parameters and one name are refused", net == NULL && strstr(gan_last_error(), "name"),
                "error \"%s\"", gan_last_error());
    gan_net_free(net);
    gan_graph_free(g);
    g = gan_graph_new();
    a = gan_apply(g, gan_linear(3, 3), gan_input(g, gan_chw(3, 1, 1)));
    gan_name(g, gan_apply(g, gan_linear(3, 2), a), "0"); /* the unnamed first layer's default name */
    net = gan_net_build(g, N, 0, &rng);
    test_report("names: a given name equal to another node's default name is refused",
                net == NULL && strstr(gan_last_error(), "'0'"), "error \"%s\"", gan_last_error());
    gan_net_free(net);
    gan_graph_free(g);
    gan_net_free(chain);
}

static void test_input_grads_and_order(void)
{
    gan_net *a = make_square(61);
    gan_graph *g;
    gan_node x, y;
    gan_net *net;
    gan_rng rng;
    gan_float xv[N * 5] = { 0 }, dy[N * 5] = { 0 };
    gan_tensor xt = gan_tensor_make(xv, N, 5, 1, 1), dyt = gan_tensor_make(dy, N, 5, 1, 1);
    gan_net_forward(a, &xt);
    gan_net_backward_multi(a, &dyt, GAN_GRAD_INPUTS);
    gan_net_backward_multi(a, &dyt, GAN_GRAD_PARAMS);
    test_report("input grads: after a parameters-only backward, gan_net_input_grad says n = 0 (not computed)",
                gan_net_input_grad(a, 0)->n == 0, "n = %d", gan_net_input_grad(a, 0)->n);
    gan_net_free(a);

    g = gan_graph_new();
    x = gan_input(g, gan_chw(2, 1, 1));
    y = gan_apply(g, gan_linear(2, 1), x);
    gan_output(g, y);
    gan_input(g, gan_chw(3, 1, 1)); /* declared last, unused */
    gan_rng_seed(&rng, 62);
    net = gan_net_build(g, 2, 0, &rng);
    test_report("order: a graph whose last node is an unused input builds when its output is marked", net != NULL,
                "error \"%s\"", gan_last_error());
    gan_net_free(net);
    gan_graph_free(g);
}

static void test_labels_scale_kept(void)
{
    gan_graph *g = gan_graph_new();
    gan_node lab, x, e, s;
    gan_net *net;
    gan_float labels[3], xv[3 * 4], *y;
    gan_tensor in[2];
    const float bad[3] = { 5, 2.5f, NAN };
    int i, refused_all = 1, scale_ok;
    x = gan_input(g, gan_chw(4, 1, 1));
    lab = gan_input(g, gan_chw(1, 1, 1));
    e = gan_apply(g, gan_embedding(5, 4), lab);
    gan_name(g, e, "classes");
    s = gan_apply(g, gan_scale(2), gan_mul(g, x, e));
    gan_output(g, gan_apply(g, gan_relu(), s));
    net = build_or_die(g, 3, 0, 51);
    for (i = 0; i < 12; i++) xv[i] = (gan_float)(i + 1);
    in[0] = gan_tensor_make(xv, 3, 4, 1, 1);
    in[1] = gan_tensor_make(labels, 3, 1, 1, 1);
    for (i = 0; i < 3; i++) {
        labels[0] = 0;
        labels[1] = (gan_float)bad[i];
        labels[2] = 4;
        refused_all = refused_all && !gan_net_forward_multi(net, in) && strstr(gan_last_error(), "classes") &&
                      strstr(gan_last_error(), "sample 1");
    }
    test_report("labels: class indices 5 (of 5), 2.5 and NaN are refused by the forward, naming the node and the sample",
                refused_all, "error \"%s\"", gan_last_error());
    labels[1] = 1;
    gan_net_forward_multi(net, in);
    y = floats(12);
    memcpy(y, gan_net_output(net)->data, 12 * sizeof(gan_float));
    gan_net_node_layer(net, s)->scale = 0.5f;
    gan_net_forward_multi(net, in);
    for (i = 0, scale_ok = 1; i < 12; i++) scale_ok = scale_ok && gan_net_output(net)->data[i] == y[i] / 4;
    test_report("scale: a Scale node's factor changed between steps (2 -> 0.5) changes the output by exactly 4",
                scale_ok, "differs");
    /* Mul reads its inputs in backward, so the Embedding's output is kept; Scale's output is read only by
       the ReLU after it, which reads its own output: Scale's memory is reused, the ReLU's kept. */
    test_report("kept: gan_net_layer_output is NULL where the memory was reused and the output where it was kept",
                gan_net_layer_output(net, 0) != NULL && gan_net_layer_output(net, 2) == NULL &&
                    gan_net_layer_output(net, 3) == gan_net_output(net),
                "embedding %p, scale %p, relu %p", (const void *)gan_net_layer_output(net, 0),
                (const void *)gan_net_layer_output(net, 2), (const void *)gan_net_layer_output(net, 3));
    gan_net_free(net);
    free(y);
}

int main(void)
{
    test_sampling_beside_training();
    test_infer_equals_forward();
    test_handing_back();
    test_sizes();
    test_no_allocation();
    test_groups();
    test_names();
    test_input_grads_and_order();
    test_labels_scale_kept();
    return test_finish();
}
