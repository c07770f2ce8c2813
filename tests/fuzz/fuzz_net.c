/* tests/fuzz/fuzz_net.c - random valid networks and random call sequences on them.

   The input bytes are a little program (tests/fuzz/make_corpus.sh writes a few by hand):
      header   byte 0: bit 0 graph (gan_net_build) or chain (gan_net_create), bit 1 a critic (it ends
               in Linear(C H W, 1) and is built with GAN_BUILD_PENALTY, a chain then through
               gan_chain), bits 2-3 max_batch - 1, bits 4-5 the init scheme, bit 6 gan_name every graph
               node, bit 7 gan_output the graph's last node even when it is the output anyway;
               bytes 1-3 the input shape (1 + b % 3, 1 + b % 8, 1 + b % 8);
               byte 4: b % 13 layers, and the GEMM's kernels (b / 13 % 3: the best this CPU has,
               the baseline, AVX2)
      layers   an op byte and two parameter bytes each, op % 15 (graph: % 20) choosing Linear,
               Conv2d, ConvTranspose2d, BatchNorm, LayerNorm, ReLU, LeakyReLU, Tanh, Sigmoid,
               Dropout, Reshape, Flatten, Upsample2x, AvgPool2x, Scale (with or without bias, affine,
               spectral norm), and in a graph Add, Mul (broadcasting), Concat (of 2 or 3), Inner,
               and a branch (the next layer applies to an earlier node), whose parameter byte picks
               the other node; decode_layer says which bits mean what
      calls    an op byte and a parameter byte each (% 15): forward, backward, backward_input,
               zero_grad, step, infer (1 to 3 max_batch samples, running or batch statistics),
               set_training, set_optim (SGD, Adam, RMSProp, momentum, weight decay), penalty
               (WGAN-GP, one-sided, R1, R2), a layer's lr_mult, frozen or Scale factor, gan_net_init,
               infer beside the forward it stands for, a twin given gan_net_copy_params, and a look
               inside (gan_net_print, gan_net_layer_output)
   Only what fits is made: the harness computes the shapes as it goes and skips a layer that would
   not fit its input, because a misfit is a programmer error that stops at GAN_ASSERT by design.
   Inputs, dL/doutputs and the like are uniform in [-1, 1] from a gan_rng seeded by a call's byte.

   What must hold, besides no crash, no leak and no sanitizer report:
      - a valid network builds, with the shapes the harness computed (gan_node_shape), and its calls
        succeed, except where gan.h documents a refusal (batch statistics of one value per channel;
        a penalty through BatchNorm or Dropout in training), which the harness predicts: such a
        call must fail, with a message, and change nothing the harness watches;
      - results have the documented shapes, and are finite whenever a bound worked out from the
        network's largest weight (bounds()) says no float can overflow; weights are kept small
        (gan_net_init again when a step takes one past 20);
      - what gan.h says stays unchanged does: the last forward's output until the next forward or
        penalty, the last input gradient until the next backward or penalty; gan_net_infer leaves
        the gradients, buffers and Dropout streams; gan_net_backward_input the parameter
        gradients; gan_net_zero_grad leaves every gradient 0;
      - gan_net_infer equals the forward it stands for, bitwise (running statistics: an evaluation-
        mode forward; batch statistics: a training forward, when no Dropout draws and no spectral
        norm iterates), and a twin with copied parameters samples the same bits.
   Sizes stay tiny (at most 256 values per sample at every node, convolutions of at most 8 output
   channels), so that one run takes a few milliseconds under the sanitizers; one thread
   (gan_set_threads(1)), so runs are reproducible. FUZZ_NET_TRACE=1 in the environment prints each
   input's network and calls to stderr. */
#define GAN_IMPLEMENTATION
#include "../../gan.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NODES 24       /* input, 12 layers, and what a branch or the critic's head adds */
#define MAX_LAYERS 12
#define MAX_CALLS 48
#define MAX_COUNT 256      /* values per sample, at every node */
#define MAX_CH 8
#define MAX_HW 8           /* height and width at the input; layers may reach 2 MAX_HW */
#define MAX_BATCH 4
#define MAX_INFER (3 * MAX_BATCH)
#define BIG 1e15           /* activations and gradients below this cannot overflow in their products */
#define WEIGHT_LIMIT 20    /* a step that takes a weight past this is followed by gan_net_init */

/* ---- reading the input ---- */

typedef struct reader {
    const uint8_t *p;
    size_t n, at;
} reader;

static unsigned next(reader *r) { return r->at < r->n ? r->p[r->at++] : 0; }
static int more(const reader *r) { return r->at < r->n; }

/* ---- failing ---- */

static void fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "fuzz_net: invariant broken: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (gan_last_error: \"%s\")\n", gan_last_error());
    abort();
}

/* FUZZ_NET_TRACE=1 in the environment: each input's network (gan_net_print) and calls go to
   stderr, to see what a crashing input does, or what a corpus covers. */
static int tracing;

static void trace(const char *fmt, ...)
{
    va_list ap;
    if (!tracing) return;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

/* A message no network call writes, so that a refusal which forgets to set one is seen. */
static void clear_error(void)
{
    gan_family family;
    gan_family_parse(&family, "");
}

static int error_is_clear(void) { return strncmp(gan_last_error(), "gan_family_parse", 16) == 0; }

/* ---- the network as the harness knows it ---- */

typedef struct node {
    gan_layer_kind kind; /* of the layer; an input has none (input = 1) */
    int input;
    int in[3], n_in;     /* indices of the nodes it reads */
    gan_shape shape;
    gan_node handle;     /* in the graph */
    gan_layer layer;     /* as made (a chain's gan_net_create takes these) */
} node;

typedef struct model {
    node nodes[MAX_NODES];
    int n_nodes;
    int graph, critic, spectral, dropout; /* spectral, dropout: how many layers have it, are one */
    int max_batch;
    int out;             /* the output node: the last one made, or the earlier one a branch went back to */
    gan_init init;
    gan_graph *g;
    gan_net *net;
} model;

static size_t count_of(gan_shape s) { return (size_t)s.c * (size_t)s.h * (size_t)s.w; }

static int shape_eq(gan_shape a, gan_shape b) { return a.c == b.c && a.h == b.h && a.w == b.w; }

/* Whether the shape is one the harness keeps to (small, so a run is fast). */
static int small(gan_shape s)
{
    return s.c >= 1 && s.h >= 1 && s.h <= 2 * MAX_HW && s.w >= 1 && s.w <= 2 * MAX_HW && count_of(s) <= MAX_COUNT;
}

/* Add/Mul's rule (gan_add's comment): equal shapes, or each operand's C is 1 or the output's, and its
   (H, W) is (1, 1) or the output's; the output has the larger C and the larger plane. */
static int join_shape(gan_shape a, gan_shape b, gan_shape *o)
{
    long long pa = (long long)a.h * a.w, pb = (long long)b.h * b.w;
    o->c = a.c > b.c ? a.c : b.c;
    o->h = pa >= pb ? a.h : b.h;
    o->w = pa >= pb ? a.w : b.w;
    return (a.c == o->c || a.c == 1) && (b.c == o->c || b.c == 1) && ((a.h == o->h && a.w == o->w) || pa == 1) &&
           ((b.h == o->h && b.w == o->w) || pb == 1);
}

/* The output shape of a one-input layer on x, or 0 when it does not fit (or is not small). */
static int layer_shape(const gan_layer *L, gan_shape x, gan_shape *o)
{
    long long oh, ow;
    switch (L->kind) {
    case GAN_LINEAR:
        if ((size_t)L->in_ch != count_of(x)) return 0;
        *o = gan_chw(L->out_ch, 1, 1);
        break;
    case GAN_CONV2D:
        if (L->in_ch != x.c || x.h + 2 * L->pad < L->k || x.w + 2 * L->pad < L->k) return 0;
        *o = gan_chw(L->out_ch, (x.h + 2 * L->pad - L->k) / L->stride + 1, (x.w + 2 * L->pad - L->k) / L->stride + 1);
        break;
    case GAN_CONV_TRANSPOSE2D:
        if (L->in_ch != x.c) return 0;
        oh = (long long)(x.h - 1) * L->stride - 2LL * L->pad + L->k + L->out_pad;
        ow = (long long)(x.w - 1) * L->stride - 2LL * L->pad + L->k + L->out_pad;
        if (oh <= 0 || ow <= 0 || oh > 2 * MAX_HW || ow > 2 * MAX_HW) return 0;
        *o = gan_chw(L->out_ch, (int)oh, (int)ow);
        break;
    case GAN_BATCHNORM:
        if (L->in_ch != x.c) return 0;
        *o = x;
        break;
    case GAN_RESHAPE:
        if (count_of(L->to) != count_of(x)) return 0;
        *o = L->to;
        break;
    case GAN_FLATTEN: *o = gan_chw((int)count_of(x), 1, 1); break;
    case GAN_UPSAMPLE2X: *o = gan_chw(x.c, 2 * x.h, 2 * x.w); break;
    case GAN_AVGPOOL2X:
        if (x.h < 2 || x.w < 2) return 0;
        *o = gan_chw(x.c, x.h / 2, x.w / 2);
        break;
    default: *o = x; break; /* LayerNorm, the activations, Dropout, Scale */
    }
    return small(*o);
}

static const float slopes[4] = { 0.01f, 0.2f, 0.5f, 1.0f };
static const float drops[5] = { 0.0f, 0.2f, 0.5f, 0.9f, 1.0f };
static const float scales[5] = { 0.0f, 0.5f, 1.0f, -1.0f, 2.0f };

/* A divisor of v chosen by pick (1 when there is no other). */
static int divisor(int v, unsigned pick)
{
    int d[32], n = 0, i;
    for (i = 1; i <= v && n < 32; i++)
        if (v % i == 0) d[n++] = i;
    return d[pick % (unsigned)n];
}

/* The one-input layer the next bytes describe, for input shape x (its fields may not fit x: the caller
   checks with layer_shape). kind_pick chooses among the 15 kinds. */
static gan_layer decode_layer(reader *r, unsigned kind_pick, gan_shape x)
{
    unsigned a = next(r), b = next(r);
    gan_layer L;
    int k, stride, pad;
    switch (kind_pick % 15) {
    case 0:
        L = gan_linear((int)count_of(x), 1 + (int)(a % 16));
        if (b & 1) L = gan_no_bias(L);
        if (b & 2) L = gan_spectral_norm(L);
        return L;
    case 1:
        k = 1 + (int)(b % 3);
        stride = 1 + (int)((b >> 2) % 2);
        pad = (int)((b >> 3) % 3);
        L = gan_conv2d(x.c, 1 + (int)(a % MAX_CH), k, stride, pad);
        if (b & 0x20) L = gan_no_bias(L);
        if (b & 0x40) L = gan_spectral_norm(L);
        return L;
    case 2:
        k = 1 + (int)(b % 4);
        stride = 1 + (int)((b >> 2) % 2);
        pad = (int)((b >> 3) % 2);
        L = gan_conv_transpose2d(x.c, 1 + (int)(a % MAX_CH), k, stride, pad, (int)((b >> 4) % (unsigned)stride));
        if (b & 0x40) L = gan_no_bias(L);
        return L;
    case 3:
        L = gan_batchnorm(x.c);
        if (a & 1) L = gan_no_affine(L);
        if (a & 2) L.momentum = 0.5f;
        return L;
    case 4:
        L = gan_layernorm();
        if (a & 1) L = gan_no_affine(L);
        return L;
    case 5: return gan_relu();
    case 6: return gan_leaky_relu(slopes[a % 4]);
    case 7: return gan_tanh();
    case 8: return gan_sigmoid();
    case 9: return gan_dropout(drops[a % 5]);
    case 10: {
        int total = (int)count_of(x), c = divisor(total, a), h = divisor(total / c, b);
        return gan_reshape(c, h, total / c / h);
    }
    case 11: return gan_flatten();
    case 12: return gan_upsample2x();
    case 13: return gan_avgpool2x();
    default: return gan_scale(scales[a % 5]);
    }
}

/* A node of the model; the graph's handle is made by the caller. */
static int add_node(model *m, gan_layer_kind kind, const int *in, int n_in, gan_shape shape, const gan_layer *L)
{
    node *nd = &m->nodes[m->n_nodes];
    int i;
    memset(nd, 0, sizeof *nd);
    nd->kind = kind;
    nd->n_in = n_in;
    for (i = 0; i < n_in; i++) nd->in[i] = in[i];
    nd->shape = shape;
    if (L) nd->layer = *L;
    if (L && L->spectral) m->spectral++;
    if (kind == GAN_DROPOUT) m->dropout++;
    return m->n_nodes++;
}

/* Decodes the header and the layers and builds the network; 0 when the input is too short to say. */
static int decode_model(model *m, reader *r, gan_rng *rng)
{
    unsigned flags, n_layers, i, b;
    gan_shape in;
    gan_layer chain[MAX_NODES];
    int cur = 0, names;
    if (r->n < 5) return 0;
    memset(m, 0, sizeof *m);
    flags = next(r);
    m->graph = flags & 1;
    m->critic = (flags >> 1) & 1;
    m->max_batch = 1 + (int)((flags >> 2) % MAX_BATCH);
    m->init = (gan_init)((flags >> 4) % 4);
    names = (flags >> 6) & 1;
    in = gan_chw(1 + (int)(next(r) % 3), 1 + (int)(next(r) % MAX_HW), 1 + (int)(next(r) % MAX_HW));
    b = next(r);
    n_layers = b % (MAX_LAYERS + 1);
    /* the GEMM's kernels: the best this CPU has, or the baseline or AVX2 one where there is a better */
    {
        static const gan_isa isas[3] = { GAN_ISA_AUTO, GAN_ISA_BASELINE, GAN_ISA_AVX2 };
        if (!gan_set_isa(isas[b / (MAX_LAYERS + 1) % 3])) gan_set_isa(GAN_ISA_AUTO);
    }
    if (m->graph) {
        m->g = gan_graph_new();
        if (!m->g) fail("gan_graph_new: out of memory");
        m->nodes[0].handle = gan_input(m->g, in);
    }
    m->nodes[0].input = 1;
    m->nodes[0].shape = in;
    m->n_nodes = 1;
    for (i = 0; i < n_layers && more(r); i++) {
        unsigned op = next(r);
        gan_shape x = m->nodes[cur].shape, o;
        int k;
        if (!m->graph || op % 20 < 15) {
            gan_layer L = decode_layer(r, op, x);
            if (!layer_shape(&L, x, &o)) continue; /* does not fit: not generated */
            k = add_node(m, L.kind, &cur, 1, o, &L);
            if (m->graph) m->nodes[k].handle = gan_apply(m->g, L, m->nodes[cur].handle);
            else chain[k - 1] = L;
            cur = k;
            continue;
        }
        /* the graph's own: joins with an earlier node, or a branch from one */
        {
            int other = (int)(next(r) % (unsigned)m->n_nodes), ins[3];
            gan_shape os = m->nodes[other].shape;
            ins[0] = cur;
            ins[1] = other;
            switch (op % 20) {
            case 15: /* Add */
            case 16: /* Mul */
                if (!join_shape(x, os, &o) || !small(o)) continue;
                k = add_node(m, op % 20 == 15 ? GAN_ADD : GAN_MUL, ins, 2, o, NULL);
                m->nodes[k].handle = op % 20 == 15 ? gan_add(m->g, m->nodes[cur].handle, m->nodes[other].handle)
                                                   : gan_mul(m->g, m->nodes[cur].handle, m->nodes[other].handle);
                break;
            case 17: { /* Concat of two or three, the second one maybe again */
                gan_node hs[3];
                int n_in = 2 + (int)(next(r) & 1), j;
                ins[2] = (int)(next(r) % (unsigned)m->n_nodes);
                o = x;
                for (j = 1; j < n_in; j++) {
                    if (m->nodes[ins[j]].shape.h != x.h || m->nodes[ins[j]].shape.w != x.w) break;
                    o.c += m->nodes[ins[j]].shape.c;
                }
                if (j < n_in || !small(o)) continue;
                for (j = 0; j < n_in; j++) hs[j] = m->nodes[ins[j]].handle;
                k = add_node(m, GAN_CONCAT, ins, n_in, o, NULL);
                m->nodes[k].handle = gan_concat(m->g, hs, n_in);
                break;
            }
            case 18: /* Inner */
                if (!shape_eq(x, os)) continue;
                k = add_node(m, GAN_INNER, ins, 2, gan_chw(1, 1, 1), NULL);
                m->nodes[k].handle = gan_inner(m->g, m->nodes[cur].handle, m->nodes[other].handle);
                break;
            default: /* a branch: what follows applies to the earlier node (this one may end up unused) */
                cur = other;
                continue;
            }
            cur = k;
        }
    }
    if (m->critic) { /* one value per sample, from a layer: what gan_net_penalty differentiates */
        gan_layer L = gan_linear((int)count_of(m->nodes[cur].shape), 1);
        int k = add_node(m, GAN_LINEAR, &cur, 1, gan_chw(1, 1, 1), &L);
        if (m->graph) m->nodes[k].handle = gan_apply(m->g, L, m->nodes[cur].handle);
        else chain[k - 1] = L;
        cur = k;
    }
    if (m->graph) {
        /* a graph without gan_output has its last node as its output: say so only half the time then */
        if (cur != m->n_nodes - 1 || (flags & 0x80)) gan_output(m->g, m->nodes[cur].handle);
        if (names)
            for (i = 1; i < (unsigned)m->n_nodes; i++) {
                char name[16];
                snprintf(name, sizeof name, "n%u", i);
                gan_name(m->g, m->nodes[i].handle, name);
            }
    }
    m->out = cur;
    if (m->n_nodes == 1) { /* a network needs a layer (gan_net_create asserts it, gan_net_build refuses) */
        if (m->g) gan_graph_free(m->g);
        return 0;
    }
    if (!m->graph && m->critic) {
        /* gan_net_create has no flags: a chain that is a critic is gan_chain's, built with them */
        m->g = gan_graph_new();
        if (!m->g) fail("gan_graph_new: out of memory");
        gan_chain(m->g, gan_input(m->g, in), chain, m->n_nodes - 1);
    }
    if (m->g) m->net = gan_net_build(m->g, m->max_batch, m->critic ? GAN_BUILD_PENALTY : 0, rng);
    else m->net = gan_net_create(in, chain, m->n_nodes - 1, m->max_batch, rng);
    if (!m->net) fail("a valid network of %d nodes was refused", m->n_nodes);
    /* the shapes gan.h worked out are the harness's */
    if (!shape_eq(gan_net_input_shape(m->net, 0), in)) fail("gan_net_input_shape is not the input's");
    if (m->graph)
        for (i = 0; i < (unsigned)m->n_nodes; i++)
            if (!shape_eq(gan_node_shape(m->g, m->nodes[i].handle), m->nodes[i].shape))
                fail("node %u: gan_node_shape is not the harness's", i);
    trace("%s%s, max_batch %d, output node %d, init %d, kernels %s\n", m->graph ? "graph" : m->g ? "gan_chain" : "gan_net_create",
          m->critic ? " critic" : "", m->max_batch, m->out, (int)m->init, gan_isa_name(gan_isa_in_use()));
    if (tracing) gan_net_print(m->net, stderr);
    if (m->init != GAN_INIT_PYTORCH) gan_net_init(m->net, m->init, rng);
    return 1;
}

/* ---- what the harness predicts and checks ---- */

typedef struct state {
    model m;
    int out;                         /* the output node */
    int reaches[MAX_NODES];          /* the node feeds the output */
    gan_shape out_shape;
    size_t in_count, out_count;
    /* the last forward */
    int have_fwd, fwd_n;
    gan_float out_copy[MAX_BATCH * MAX_COUNT];
    int have_out_copy;
    /* the last backward's input gradient */
    gan_float dx_copy[MAX_BATCH * MAX_COUNT];
    int have_dx_copy, dx_n;
    /* parameter gradients: backward calls since zero_grad, and whether a penalty added to them */
    int grad_calls, grad_penalty;
    gan_rng rng;
} state;

/* The largest |value| of the parameters (or of the buffers with this role), for the bounds;
   infinity when one is not finite. */
static double max_param(gan_net *net, int buffers, const char *role)
{
    int i, n = buffers ? gan_net_buffer_count(net) : gan_net_param_count(net);
    double mx = 0;
    for (i = 0; i < n; i++) {
        gan_param p = buffers ? gan_net_buffer(net, i) : gan_net_param(net, i);
        size_t j;
        if (role && strcmp(p.role, role) != 0) continue;
        for (j = 0; j < p.count; j++) {
            double v = fabs((double)p.data[j]);
            if (!isfinite(v)) return INFINITY;
            if (v > mx) mx = v;
        }
    }
    return mx;
}

/* Bounds on |value| of every node's forward (fwd), of its dL/d(value) for |dL/doutput| <= 1 (bwd),
   and of the parameter gradients one backward adds (pgrad), for batches up to max_batch, in either
   mode: a generous product of each op's gains (1 / sqrt(eps) < 320 for a norm's 1 / std). Returns
   whether every bound is below BIG (then no float overflows on the way, nor in the products of two
   such values), and 0 outright with spectral norm (W / sigma has no bound from W alone). */
static int bounds(state *s, double *pgrad_out)
{
    model *m = &s->m;
    double fwd[MAX_NODES], bwd[MAX_NODES], W, R, Wn, pgrad = 0;
    int k, i;
    if (m->spectral) return 0;
    W = max_param(m->net, 0, NULL);
    R = max_param(m->net, 1, "running_mean");
    Wn = W > 1 ? W : 1;
    /* a running variance only divides (by at least sqrt(eps)), but it must be a number */
    if (!(W < BIG) || !(R < BIG) || !(max_param(m->net, 1, "running_var") < INFINITY)) return 0;
    for (k = 0; k < m->n_nodes; k++) {
        const node *nd = &m->nodes[k];
        gan_shape xs = nd->n_in ? m->nodes[nd->in[0]].shape : nd->shape;
        double B = nd->n_in ? fwd[nd->in[0]] : 1, f = B;
        double mbn = (double)m->max_batch * xs.h * xs.w, mln = (double)count_of(xs);
        gan_layer *L = nd->input ? NULL : gan_net_layer(m->net, k - 1);
        if (nd->input) {
            fwd[k] = 1;
            continue;
        }
        switch (nd->kind) {
        case GAN_LINEAR: f = (double)L->in_ch * W * B + W; break;
        case GAN_CONV2D:
        case GAN_CONV_TRANSPOSE2D: f = (double)L->in_ch * L->k * L->k * W * B + W; break;
        case GAN_BATCHNORM: {
            double train = sqrt(mbn) * Wn + W, eval = (B + R) * 320 * Wn + W;
            f = train > eval ? train : eval;
            break;
        }
        case GAN_LAYERNORM: f = sqrt(mln) * Wn + W; break;
        case GAN_TANH:
        case GAN_SIGMOID: f = 1; break;
        case GAN_DROPOUT: f = L->p < 1 ? B / (1 - L->p) : 0; break;
        case GAN_SCALE: f = fabs((double)L->scale) * B; break;
        case GAN_ADD: f = fwd[nd->in[0]] + fwd[nd->in[1]]; break;
        case GAN_MUL: f = fwd[nd->in[0]] * fwd[nd->in[1]]; break;
        case GAN_INNER: f = (double)count_of(xs) * fwd[nd->in[0]] * fwd[nd->in[1]]; break;
        case GAN_CONCAT:
            for (i = 0; i < nd->n_in; i++)
                if (fwd[nd->in[i]] > f) f = fwd[nd->in[i]];
            break;
        default: break; /* ReLU, LeakyReLU (|slope| <= 1), the reshapes, Upsample2x, AvgPool2x: B */
        }
        fwd[k] = f;
        if (!(f < BIG)) return 0;
    }
    for (k = 0; k < m->n_nodes; k++) bwd[k] = k == s->out ? 1 : 0;
    for (k = m->n_nodes - 1; k >= 1; k--) {
        const node *nd = &m->nodes[k];
        gan_shape xs = m->nodes[nd->in[0]].shape;
        double G = bwd[k], B = fwd[nd->in[0]], g0 = G, pg = 0;
        double mbn = (double)m->max_batch * xs.h * xs.w, mln = (double)count_of(xs);
        double pos = (double)m->max_batch * (xs.h * xs.w > nd->shape.h * nd->shape.w ? xs.h * xs.w : nd->shape.h * nd->shape.w);
        gan_layer *L = gan_net_layer(m->net, k - 1);
        if (!(G < BIG)) return 0;
        if (G == 0) continue;
        switch (nd->kind) {
        case GAN_LINEAR:
        case GAN_CONV2D:
        case GAN_CONV_TRANSPOSE2D:
            g0 = (double)L->out_ch * (L->k ? L->k * L->k : 1) * W * G;
            pg = pos * G * (B > 1 ? B : 1);
            break;
        case GAN_BATCHNORM: g0 = Wn * 320 * (2 + mbn) * G; pg = pos * G * (sqrt(mbn) + 1); break;
        case GAN_LAYERNORM: g0 = Wn * 320 * (2 + mln) * G; pg = pos * G * (sqrt(mln) + 1); break;
        case GAN_DROPOUT: g0 = L->p < 1 ? G / (1 - L->p) : 0; break;
        case GAN_SCALE: g0 = fabs((double)L->scale) * G; break;
        case GAN_UPSAMPLE2X: g0 = 4 * G; break;
        case GAN_ADD:
        case GAN_MUL:
            for (i = 0; i < 2; i++) { /* a broadcast operand's gradient is summed over what it was broadcast over */
                int src = nd->in[i];
                double spread = (double)count_of(nd->shape) / (double)count_of(m->nodes[src].shape);
                double other = nd->kind == GAN_MUL ? fwd[nd->in[1 - i]] : 1;
                bwd[src] += G * other * spread;
            }
            continue;
        case GAN_INNER:
            bwd[nd->in[0]] += G * fwd[nd->in[1]];
            bwd[nd->in[1]] += G * fwd[nd->in[0]];
            continue;
        case GAN_CONCAT:
            for (i = 0; i < nd->n_in; i++) bwd[nd->in[i]] += G;
            continue;
        default: break; /* ReLU, LeakyReLU, Tanh, Sigmoid, the reshapes, AvgPool2x: G */
        }
        bwd[nd->in[0]] += g0;
        if (pg > pgrad) pgrad = pg;
    }
    for (k = 0; k < m->n_nodes; k++)
        if (!(bwd[k] < BIG)) return 0;
    *pgrad_out = pgrad;
    return 1;
}

/* Whether n samples in a training-mode call meet every BatchNorm's "more than one value per channel". */
static int batch_stats_ok(const model *m, int n)
{
    int k;
    for (k = 1; k < m->n_nodes; k++)
        if (m->nodes[k].kind == GAN_BATCHNORM && (long long)n * m->nodes[k].shape.h * m->nodes[k].shape.w < 2) return 0;
    return 1;
}

static void check_finite(const gan_float *x, size_t n, const char *what)
{
    size_t j;
    for (j = 0; j < n; j++)
        if (!isfinite((double)x[j])) fail("%s: value %zu is %g, though the bounds say it is finite", what, j, (double)x[j]);
}

static void fill(gan_float *x, size_t n, gan_rng *rng) { gan_fill_uniform(x, n, -1, 1, rng); }

static void check_tensor(const gan_tensor *t, int n, gan_shape s, const char *what)
{
    if (!t || !t->data || t->n != n || t->c != s.c || t->h != s.h || t->w != s.w)
        fail("%s: not %d samples of (%d, %d, %d)", what, n, s.c, s.h, s.w);
}

/* The promises about memory that outlives a call: the last forward's output, the last input gradient. */
static void check_kept(state *s, const char *after)
{
    if (s->have_out_copy &&
        memcmp(gan_net_output(s->m.net)->data, s->out_copy, (size_t)s->fwd_n * s->out_count * sizeof(gan_float)) != 0)
        fail("the last forward's output changed in %s", after);
    if (s->have_dx_copy &&
        memcmp(gan_net_input_grad(s->m.net, 0)->data, s->dx_copy, (size_t)s->dx_n * s->in_count * sizeof(gan_float)) != 0)
        fail("the last input gradient changed in %s", after);
}

/* A copy of every parameter gradient, buffer (running statistics, spectral norm's u and v) and
   Dropout stream, to see that a call leaves them alone. */
typedef struct snapshot {
    gan_float *grads;
    size_t n_grads;
    gan_float *bufs;
    size_t n_bufs;
    gan_rng streams[MAX_NODES];
} snapshot;

static void take(snapshot *sn, gan_net *net)
{
    int i, nb = gan_net_buffer_count(net);
    size_t at = 0;
    sn->n_grads = net->n_params;
    sn->grads = (gan_float *)malloc((sn->n_grads ? sn->n_grads : 1) * sizeof(gan_float));
    if (!sn->grads) fail("out of memory in the harness");
    if (sn->n_grads) memcpy(sn->grads, net->grads, sn->n_grads * sizeof(gan_float));
    sn->n_bufs = 0;
    for (i = 0; i < nb; i++) sn->n_bufs += gan_net_buffer(net, i).count;
    sn->bufs = (gan_float *)malloc((sn->n_bufs ? sn->n_bufs : 1) * sizeof(gan_float));
    if (!sn->bufs) fail("out of memory in the harness");
    for (i = 0; i < nb; i++) {
        gan_param p = gan_net_buffer(net, i);
        memcpy(sn->bufs + at, p.data, p.count * sizeof(gan_float));
        at += p.count;
    }
    for (i = 0; i < net->n_layers; i++) sn->streams[i] = gan_net_layer(net, i)->rng;
}

/* Whether the gradients, or the buffers and streams, are as in the snapshot. */
static int same_grads(const snapshot *sn, gan_net *net)
{
    return sn->n_grads == 0 || memcmp(sn->grads, net->grads, sn->n_grads * sizeof(gan_float)) == 0;
}

static int same_bufs(const snapshot *sn, gan_net *net)
{
    int i, nb = gan_net_buffer_count(net);
    size_t at = 0;
    for (i = 0; i < nb; i++) {
        gan_param p = gan_net_buffer(net, i);
        if (memcmp(sn->bufs + at, p.data, p.count * sizeof(gan_float)) != 0) return 0;
        at += p.count;
    }
    for (i = 0; i < net->n_layers; i++) {
        gan_rng r = gan_net_layer(net, i)->rng;
        if (r.state != sn->streams[i].state || r.inc != sn->streams[i].inc) return 0;
    }
    return 1;
}

static void drop(snapshot *sn)
{
    free(sn->grads);
    free(sn->bufs);
}

/* ---- the calls ---- */

static gan_float xbuf[MAX_INFER * MAX_COUNT], ybuf[MAX_INFER * MAX_COUNT], ybuf2[MAX_INFER * MAX_COUNT];

static void do_forward(state *s, int n)
{
    model *m = &s->m;
    gan_tensor x = gan_tensor_make(xbuf, n, m->nodes[0].shape.c, m->nodes[0].shape.h, m->nodes[0].shape.w);
    int expect = !m->net->training || batch_stats_ok(m, n);
    const gan_tensor *y;
    double pg;
    fill(xbuf, (size_t)n * s->in_count, &s->rng);
    clear_error();
    y = gan_net_forward(m->net, &x);
    if (!expect) {
        if (y) fail("a training forward of %d samples through a BatchNorm of one value per channel ran", n);
        if (error_is_clear()) fail("a refused forward without a message");
        check_kept(s, "a refused forward");
        return;
    }
    if (!y) fail("gan_net_forward of %d samples refused", n);
    check_tensor(y, n, s->out_shape, "gan_net_forward's output");
    if (bounds(s, &pg)) check_finite(y->data, (size_t)n * s->out_count, "gan_net_forward's output");
    s->have_fwd = 1;
    s->fwd_n = n;
    memcpy(s->out_copy, y->data, (size_t)n * s->out_count * sizeof(gan_float));
    s->have_out_copy = 1;
}

static void do_backward(state *s, int params)
{
    model *m = &s->m;
    gan_tensor dy;
    const gan_tensor *dx;
    snapshot sn;
    double pg = 0;
    int bounded;
    if (!s->have_fwd) return; /* backward before a forward is a programmer error */
    dy = gan_tensor_make(ybuf, s->fwd_n, s->out_shape.c, s->out_shape.h, s->out_shape.w);
    fill(ybuf, (size_t)s->fwd_n * s->out_count, &s->rng);
    if (!params) take(&sn, m->net);
    dx = params ? gan_net_backward(m->net, &dy) : gan_net_backward_input(m->net, &dy);
    if (!dx) fail("gan_net_backward%s refused", params ? "" : "_input");
    check_tensor(dx, s->fwd_n, m->nodes[0].shape, "dL/dinput");
    if (!params) {
        if (!same_grads(&sn, m->net)) fail("gan_net_backward_input changed a parameter gradient");
        drop(&sn);
    }
    bounded = bounds(s, &pg);
    if (bounded) check_finite(dx->data, (size_t)s->fwd_n * s->in_count, "dL/dinput");
    if (params) s->grad_calls++;
    if (bounded && !s->grad_penalty && pg * s->grad_calls < BIG * BIG)
        check_finite(m->net->grads, m->net->n_params, "a parameter gradient");
    memcpy(s->dx_copy, dx->data, (size_t)s->fwd_n * s->in_count * sizeof(gan_float));
    s->dx_n = s->fwd_n;
    s->have_dx_copy = 1;
}

static void do_infer(state *s, int n, gan_stats stats)
{
    model *m = &s->m;
    gan_shape in = m->nodes[0].shape;
    gan_tensor x = gan_tensor_make(xbuf, n, in.c, in.h, in.w);
    gan_tensor y = gan_tensor_make(ybuf, n, s->out_shape.c, s->out_shape.h, s->out_shape.w);
    int chunks = (n + m->max_batch - 1) / m->max_batch;
    int expect = stats == GAN_STATS_RUNNING || batch_stats_ok(m, n / chunks), ok;
    snapshot sn;
    double pg;
    fill(xbuf, (size_t)n * s->in_count, &s->rng);
    take(&sn, m->net);
    clear_error();
    ok = gan_net_infer(m->net, &y, &x, stats);
    if (ok != expect) fail("gan_net_infer of %d samples (%s statistics) %s", n, stats ? "batch" : "running", ok ? "ran" : "refused");
    if (!ok && error_is_clear()) fail("a refused gan_net_infer without a message");
    if (ok && bounds(s, &pg)) check_finite(ybuf, (size_t)n * s->out_count, "gan_net_infer's output");
    if (!same_grads(&sn, m->net)) fail("gan_net_infer changed a parameter gradient");
    if (!same_bufs(&sn, m->net)) fail("gan_net_infer changed a buffer (a running statistic, u or v) or a Dropout stream");
    drop(&sn);
}

/* gan_net_infer beside the forward it stands for, on one chunk: the same bits. */
static void do_compare(state *s, int n, gan_stats stats)
{
    model *m = &s->m;
    gan_shape in = m->nodes[0].shape;
    gan_tensor x = gan_tensor_make(xbuf, n, in.c, in.h, in.w);
    gan_tensor y = gan_tensor_make(ybuf2, n, s->out_shape.c, s->out_shape.h, s->out_shape.w);
    int training = m->net->training;
    const gan_tensor *f;
    if (stats == GAN_STATS_BATCH && (m->dropout || m->spectral || !batch_stats_ok(m, n))) return;
    fill(xbuf, (size_t)n * s->in_count, &s->rng);
    if (!gan_net_infer(m->net, &y, &x, stats)) fail("gan_net_infer of %d samples refused", n);
    gan_net_set_training(m->net, stats == GAN_STATS_BATCH);
    f = gan_net_forward(m->net, &x);
    gan_net_set_training(m->net, training);
    if (!f) fail("gan_net_forward of %d samples refused", n);
    if (memcmp(f->data, ybuf2, (size_t)n * s->out_count * sizeof(gan_float)) != 0)
        fail("gan_net_infer (%s statistics) differs from the %s forward on %d samples", stats ? "batch" : "running",
             stats ? "training" : "evaluation", n);
    s->have_fwd = 1;
    s->fwd_n = n;
    memcpy(s->out_copy, f->data, (size_t)n * s->out_count * sizeof(gan_float));
    s->have_out_copy = 1;
}

static void do_penalty(state *s, int n, gan_penalty_kind kind, gan_float weight)
{
    model *m = &s->m;
    gan_shape in = m->nodes[0].shape;
    gan_tensor x = gan_tensor_make(xbuf, n, in.c, in.h, in.w);
    gan_float p = -1;
    int expect = 1, ok, k;
    double pg;
    if (!m->critic) return; /* built without GAN_BUILD_PENALTY, or no one value per sample */
    if (m->net->training) {
        /* refused: BatchNorm or Dropout between x and the output; and the forward's own rule */
        for (k = 1; k < m->n_nodes; k++)
            if (s->reaches[k] && (m->nodes[k].kind == GAN_BATCHNORM || m->nodes[k].kind == GAN_DROPOUT)) expect = 0;
        if (!batch_stats_ok(m, n)) expect = 0;
    }
    fill(xbuf, (size_t)n * s->in_count, &s->rng);
    clear_error();
    ok = gan_net_penalty(m->net, &p, &x, 0, kind, weight);
    if (ok != expect) fail("gan_net_penalty on %d samples %s", n, ok ? "ran" : "refused");
    if (!ok) {
        if (error_is_clear()) fail("a refused gan_net_penalty without a message");
        check_kept(s, "a refused penalty");
        return;
    }
    if (bounds(s, &pg) && !(isfinite((double)p) && p >= 0)) fail("a penalty of %g", (double)p);
    /* it replaced the last forward and backward: a backward now needs a forward first (so says the
       harness, which does not rely on what the penalty's passes leave behind) */
    s->have_fwd = 0;
    s->have_out_copy = 0;
    s->have_dx_copy = 0;
    s->grad_penalty = 1;
}

/* A step from finite gradients (below 1e30), finite parameters and optimizer moments gives finite
   parameters: v may have overflowed to infinity (then its update is 0), m may not. */
static void do_step(state *s)
{
    model *m = &s->m;
    gan_net *net = m->net;
    int finite = max_param(net, 0, NULL) < BIG;
    size_t j;
    for (j = 0; j < net->n_params && finite; j++)
        finite = fabs((double)net->grads[j]) < 1e30 && fabs((double)net->opt_m[j]) < 1e30 && !isnan((double)net->opt_v[j]);
    gan_net_step(net);
    if (finite) check_finite(net->params, net->n_params, "a parameter after a step from finite gradients");
    /* keep the weights small, so that the bounds stay useful */
    if (!(max_param(net, 0, NULL) <= WEIGHT_LIMIT)) gan_net_init(net, m->init, &s->rng);
}

static gan_optim decode_optim(unsigned pick)
{
    gan_optim o;
    switch (pick % 6) {
    case 0: return gan_sgd(1e-3f, 0);
    case 1: return gan_sgd(1e-2f, 0.9f);
    case 2: return gan_adam(1e-3f, 0.9f, 0.999f);
    case 3:
        o = gan_adam(1e-4f, 0, 0.9f);
        o.weight_decay = 0.01f;
        return o;
    case 4: return gan_rmsprop(1e-3f, 0.99f);
    default:
        o = gan_rmsprop(1e-3f, 0.9f);
        o.momentum = 0.9f;
        o.weight_decay = 1e-3f;
        return o;
    }
}

/* A second network of the same description, given this one's parameters: it samples the same bits. */
static void do_twin(state *s, gan_rng *rng)
{
    model *m = &s->m;
    gan_shape in = m->nodes[0].shape;
    gan_net *twin;
    gan_tensor x, y1, y2;
    int n = m->max_batch, k;
    if (m->g) {
        twin = gan_net_build(m->g, m->max_batch, m->critic ? GAN_BUILD_PENALTY : 0, rng);
    } else {
        gan_layer chain[MAX_NODES];
        for (k = 1; k < m->n_nodes; k++) chain[k - 1] = m->nodes[k].layer;
        twin = gan_net_create(in, chain, m->n_nodes - 1, m->max_batch, rng);
    }
    if (!twin) fail("the twin of a network that was built is refused");
    if (!gan_net_copy_params(twin, m->net)) fail("gan_net_copy_params refused a twin");
    for (k = 0; k < m->net->n_layers; k++) gan_net_layer(twin, k)->scale = gan_net_layer(m->net, k)->scale;
    x = gan_tensor_make(xbuf, n, in.c, in.h, in.w);
    y1 = gan_tensor_make(ybuf, n, s->out_shape.c, s->out_shape.h, s->out_shape.w);
    y2 = gan_tensor_make(ybuf2, n, s->out_shape.c, s->out_shape.h, s->out_shape.w);
    fill(xbuf, (size_t)n * s->in_count, &s->rng);
    if (!gan_net_infer(m->net, &y1, &x, GAN_STATS_RUNNING) || !gan_net_infer(twin, &y2, &x, GAN_STATS_RUNNING))
        fail("gan_net_infer refused");
    if (memcmp(ybuf, ybuf2, (size_t)n * s->out_count * sizeof(gan_float)) != 0)
        fail("a twin with copied parameters samples other values");
    gan_net_free(twin);
}

/* gan_net_print (to /dev/null), and gan_net_layer_output of every layer: NULL, or its node's shape
   at the last forward's batch; never NULL for the output, which it is. */
static void do_look(state *s)
{
    static FILE *null_file;
    static int opened;
    model *m = &s->m;
    int i;
    if (!opened) {
        null_file = fopen("/dev/null", "w");
        opened = 1;
    }
    if (null_file) gan_net_print(m->net, null_file);
    for (i = 0; i < m->net->n_layers; i++) {
        const gan_tensor *t = gan_net_layer_output(m->net, i);
        const node *nd = &m->nodes[i + 1];
        if (i + 1 == s->out && (!t || t->data != gan_net_output(m->net)->data))
            fail("gan_net_layer_output of the output layer is not the output");
        if (!t) continue;
        if (t->c != nd->shape.c || t->h != nd->shape.h || t->w != nd->shape.w) fail("layer %d's output has another shape", i);
        if (s->have_fwd && t->n != s->fwd_n) fail("layer %d's output has another batch than the last forward", i);
    }
}

static void run_calls(state *s, reader *r, gan_rng *rng)
{
    model *m = &s->m;
    int calls, twins = 0;
    for (calls = 0; calls < MAX_CALLS && more(r); calls++) {
        unsigned op = next(r), a = next(r);
        int n = 1 + (int)(a % (unsigned)m->max_batch);
        static const char *const names[15] = { "forward", "forward", "backward", "backward_input", "zero_grad", "step",
                                               "infer", "set_training", "set_optim", "penalty", "layer tweak", "init",
                                               "infer vs forward", "twin", "look inside" };
        double pg;
        gan_rng_seed(&s->rng, a); /* the values of this call's tensors */
        trace("call %d: %s (byte %u; training %d, bounded %d)\n", calls, names[op % 15], a, m->net->training, bounds(s, &pg));
        switch (op % 15) {
        case 0:
        case 1: do_forward(s, n); break;
        case 2: do_backward(s, 1); break;
        case 3: do_backward(s, 0); break;
        case 4: {
            size_t j;
            gan_net_zero_grad(m->net);
            for (j = 0; j < m->net->n_params; j++)
                if (m->net->grads[j] != 0) fail("gradient %zu is %g after gan_net_zero_grad", j, (double)m->net->grads[j]);
            s->grad_calls = 0;
            s->grad_penalty = 0;
            break;
        }
        case 5: do_step(s); break;
        case 6: do_infer(s, 1 + (int)(a % (unsigned)(3 * m->max_batch)), (a >> 6) & 1 ? GAN_STATS_BATCH : GAN_STATS_RUNNING); break;
        case 7: gan_net_set_training(m->net, (int)(a & 1)); break;
        case 8: gan_net_set_optim(m->net, decode_optim(a)); break;
        case 9: {
            static const gan_float weights[4] = { 10, 1, 0.1f, 0 };
            do_penalty(s, n, (gan_penalty_kind)((a >> 2) % 4), weights[(a >> 4) % 4]);
            break;
        }
        case 10: { /* lr_mult, frozen, or a Scale's factor, on one layer, between steps */
            static const gan_float mults[4] = { 1, 0, 0.5f, 2 };
            gan_layer *L = gan_net_layer(m->net, (int)(a % (unsigned)m->net->n_layers));
            unsigned b = next(r);
            if (L->kind == GAN_SCALE && (b & 1)) L->scale = scales[(b >> 1) % 5];
            else if (b & 2) L->frozen = (b >> 2) & 1;
            else L->lr_mult = mults[(b >> 2) % 4];
            break;
        }
        case 11: gan_net_init(m->net, (gan_init)(a % 4), &s->rng); break;
        case 12: do_compare(s, n, (a >> 6) & 1 ? GAN_STATS_BATCH : GAN_STATS_RUNNING); break;
        case 13:
            if (twins++ == 0) do_twin(s, rng); /* once: a second build costs as much as the first */
            break;
        default: do_look(s); break;
        }
        check_kept(s, "a call after it");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int started;
    static state s; /* large (the copies of outputs and gradients): not on the stack */
    reader r;
    gan_rng rng;
    int k, i;
    if (!started) {
        const char *t = getenv("FUZZ_NET_TRACE");
        tracing = t && *t && *t != '0';
        gan_set_threads(1); /* reproducible and cheap: no pool woken per call */
        started = 1;
    }
    r.p = data;
    r.n = size;
    r.at = 0;
    memset(&s, 0, sizeof s);
    gan_rng_seed(&rng, 7);
    if (!decode_model(&s.m, &r, &rng)) return 0;
    s.out = s.m.out;
    s.out_shape = s.m.nodes[s.out].shape;
    s.in_count = count_of(s.m.nodes[0].shape);
    s.out_count = count_of(s.out_shape);
    /* which nodes feed the output (the penalty refuses BatchNorm and Dropout only there) */
    for (k = s.m.n_nodes - 1; k >= 0; k--) {
        s.reaches[k] = k == s.out;
        for (i = k + 1; i < s.m.n_nodes && !s.reaches[k]; i++) {
            int j;
            for (j = 0; j < s.m.nodes[i].n_in; j++)
                if (s.m.nodes[i].in[j] == k && s.reaches[i]) s.reaches[k] = 1;
        }
    }
    run_calls(&s, &r, &rng);
    gan_net_free(s.m.net);
    if (s.m.g) gan_graph_free(s.m.g);
    return 0;
}
