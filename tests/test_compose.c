/* tests/test_compose.c - models that are not one chain, built from gan.h's pieces by explicit calls.

   gan.h promises that every layer also runs on its own (gan_layer_forward / gan_layer_backward on
   plain tensors) and that a model which is not one chain is several networks joined by hand: sums,
   products, concatenations and shared networks are loops over the tensors' data, and backward
   returns dL/dinput so one network's input gradient is handed to another by an explicit call.
   This file writes five such models and checks, for each, the gradient of a scalar loss L of the
   WHOLE composite with respect to its inputs and to every parameter of every network in it:

     1. one layer called on the caller's own buffers (Linear, Conv2d stride 2 pad 1, BatchNorm in
        training mode), batch below the network's maximum; dx = NULL accumulates the same dW, db;
     2. a projection discriminator (Miyato & Koyama 2018): D(x, y) = psi(phi(x)) + <embed(y), phi(x)>;
     3. two generators joined by a cycle loss (CycleGAN, Zhu et al. 2017), each used in both paths;
     4. a residual y = f(x) + x, and a channel concatenation of two networks feeding a third;
     5. a style-modulated convolution (StyleGAN-like): x_mod[c] = x[c] s[c] with s = A(w).

   The analytic gradient is what the explicit backward calls produce (chain rule by hand, product
   rule for 5, sum rule for shared uses in 2, 3 and 4). The numeric gradient perturbs one value v
   at a time and differentiates the composite's loss with the five-point central difference
       L'(v) ~ (8 (L(v + h) - L(v - h)) - (L(v + 2h) - L(v - 2h))) / (12 h),   h = 1e-4,
   whose truncation error is h^4 L^(5) / 30 ~ 1e-17 and rounding error ~ 18 eps |L| / (12 h) ~ 1e-12
   in double (GAN_DOUBLE): far below the threshold, so a failure is a wrong gradient, not noise.

   Error of an analytic tensor a against the numeric n (test_grad.c's formula, elementwise):
       max_i |a_i - n_i| / max(|a_i| + |n_i|, 1e-3 max_j (|a_j| + |n_j|)),   must be below 1e-6.
   Elementwise so one wrong element shows at full size; the floor keeps an element whose gradient is
   about 0 from turning rounding noise into a large ratio. A tensor whose numeric gradient is
   identically zero fails: it would check nothing.

   Every buffer that receives a checked input gradient (dx, da, db, dw) is filled with NaN before
   the backward calls, so an element the library or the glue forgot to write shows as an infinite
   error (input gradients are written, =, not accumulated).

   Self-tests ("selftest ..." lines) plant one mistake each in the hand-written glue -- a term of the
   sum or product rule dropped, a concatenation split the wrong way, a shared network's gradients
   reset between its two uses, the cycle's calls in the wrong order -- and require the checker to
   reject the resulting gradient against the same numeric one: the checks above them can fail.

   LeakyReLU (in 2) has a kink at 0: each loss evaluation records on which side of 0 each of its
   inputs fell, and a difference whose evaluations cross the kink is redone with a 100 times smaller
   step; if even that crosses, the element is left out and counted in a SKIP line. */
#define GAN_DOUBLE
#define GAN_IMPLEMENTATION
#include "../gan.h"
#define GRADCHECK_PREFIX "compose"
#include "gradcheck.h" /* TOL, STEP, grad_error, report_error, make_norm_net */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROBES 24  /* tensors checked in one composite */
#define MAX_WATCH 4    /* networks with kinks in one composite */
#define GUARD 7        /* sentinel values after the caller's buffers in check 1 */
#define SENTINEL 12345.678

static void fill_nan(gan_float *x, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) x[i] = NAN;
}

/* A network with PyTorch's initialization from its own seed; norm layers get weights in [0.5, 1.5]
   and biases in [-0.5, 0.5] so that gamma = 1, beta = 0 cannot hide a missing factor. Training mode. */
static gan_net *make_net(gan_shape in, const gan_layer *layers, int n_layers, int max_batch, uint64_t seed)
{
    gan_rng rng;
    gan_rng_seed(&rng, seed);
    return make_norm_net(in, layers, n_layers, max_batch, &rng);
}

/* ---- the checker --------------------------------------------------------------------------------- */

/* One tensor whose gradient is checked: the values v perturbed by the difference, and src, where
   the composite's analytic() leaves dL/dv (a parameter's grad, or a buffer of the test's own). */
typedef struct probe {
    char name[64];
    gan_float *v;
    const gan_float *src;
    gan_float *ana, *num;
    size_t n;
} probe;

/* A composite model: loss() runs the forward calls only and returns L; analytic(variant) runs the
   forward and backward calls (variant 0 correct, others a planted mistake for the self-tests). Each
   test's context struct starts with a comp, so the callbacks cast back to it. */
typedef struct comp comp;
struct comp {
    const char *name;
    double (*loss)(comp *c);
    void (*analytic)(comp *c, int variant);
    probe p[MAX_PROBES];
    int np;
    gan_net *watch[MAX_WATCH]; /* networks with ReLU / LeakyReLU, forwarded once per loss() */
    int nwatch;
    unsigned char *side;
    size_t nside;
    int recording, crossed, unresolved;
};

static void comp_probe(comp *c, const char *name, gan_float *v, const gan_float *src, size_t n)
{
    probe *p;
    if (c->np == MAX_PROBES) {
        printf("FAIL compose: more than %d tensors in one check\n", MAX_PROBES);
        exit(1);
    }
    p = &c->p[c->np++];
    sprintf(p->name, "%.63s", name);
    p->v = v;
    p->src = src;
    p->n = n;
    p->ana = xcalloc(n, sizeof(gan_float));
    p->num = xcalloc(n, sizeof(gan_float));
}

/* Every parameter tensor of net, named "<prefix><layer>.<role>". */
static void comp_probe_net(comp *c, const char *prefix, gan_net *net)
{
    int i;
    for (i = 0; i < gan_net_param_count(net); i++) {
        gan_param prm = gan_net_param(net, i);
        char name[64];
        sprintf(name, "%.20s%d.%.20s", prefix, prm.layer, prm.role);
        comp_probe(c, name, prm.data, prm.grad, prm.count);
    }
}

static void comp_watch(comp *c, gan_net *net)
{
    int l;
    c->watch[c->nwatch++] = net;
    for (l = 0; l < net->n_layers; l++)
        if (is_kink(net->layers[l].kind)) c->nside += (size_t)net->max_batch * shape_count(net->layers[l].in);
    free(c->side);
    c->side = xcalloc(c->nside, 1);
}

static void comp_free(comp *c)
{
    int i;
    for (i = 0; i < c->np; i++) {
        free(c->p[i].ana);
        free(c->p[i].num);
    }
    free(c->side);
}

/* L, and the sides of every kink input of the watched networks (recorded, or compared). */
static double comp_eval(comp *c)
{
    double L = c->loss(c);
    size_t s = 0, i;
    int j, l;
    for (j = 0; j < c->nwatch; j++) {
        gan_net *net = c->watch[j];
        for (l = 0; l < net->n_layers; l++) {
            size_t m = (size_t)net->batch * shape_count(net->layers[l].in);
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
    return L;
}

static double comp_loss(void *c) { return comp_eval((comp *)c); }

/* dL/dv by the five-point difference; NaN if even the 100 times smaller step crosses a kink. */
static double numeric(comp *c, gan_float *v)
{
    fd_loss fd = fd_loss_of(comp_loss, c, &c->crossed, 2, 0.01);
    double d = five_point(&fd, v);
    if (d != d) c->unresolved++;
    return d;
}

/* Analytic gradients (variant 0), numeric gradients of every probe, one report per probe. */
static void comp_check(comp *c)
{
    int t, worst_t = 0;
    size_t i;
    double worst = 0;
    c->recording = 1;
    comp_eval(c);
    c->recording = 0;
    c->analytic(c, 0);
    for (t = 0; t < c->np; t++) memcpy(c->p[t].ana, c->p[t].src, c->p[t].n * sizeof(gan_float));
    for (t = 0; t < c->np; t++)
        for (i = 0; i < c->p[t].n; i++) c->p[t].num[i] = numeric(c, &c->p[t].v[i]);
    for (t = 0; t < c->np; t++) {
        char name[200];
        size_t at;
        double e;
        for (i = 0; i < c->p[t].n; i++)
            if (c->p[t].num[i] != c->p[t].num[i]) c->p[t].num[i] = c->p[t].ana[i];
        sprintf(name, "compose %.120s: d/d %.63s", c->name, c->p[t].name);
        report_error(name, c->p[t].ana, c->p[t].num, c->p[t].n);
        e = grad_error(c->p[t].ana, c->p[t].num, c->p[t].n, &at);
        if (e > worst || t == 0) {
            worst = e;
            worst_t = t;
        }
    }
    printf("# compose %s: worst relative error %.3g (d/d %s)\n", c->name, worst, c->p[worst_t].name);
    if (c->unresolved) {
        char name[200];
        sprintf(name, "compose %.120s: elements at a kink", c->name);
        test_skip(name, "%d elements sit within 2e-6 of a LeakyReLU kink and were left out", c->unresolved);
    }
}

/* The glue with one planted mistake must be rejected on the named probe. */
static void comp_selftest(comp *c, int variant, const char *probe_name, const char *what)
{
    char name[240];
    int t;
    size_t at;
    double e;
    for (t = 0; t < c->np; t++)
        if (strcmp(c->p[t].name, probe_name) == 0) break;
    sprintf(name, "selftest compose %.100s: checker rejects %.100s", c->name, what);
    if (t == c->np) {
        test_report(name, 0, "no tensor named %s", probe_name);
        return;
    }
    c->analytic(c, variant);
    e = grad_error(c->p[t].src, c->p[t].num, c->p[t].n, &at);
    test_report(name, e > TOL, "error only %.3g on d/d %s", e, probe_name);
    printf("# selftest: %s: error %.3g on d/d %s\n", what, e, probe_name);
}

/* ---- 1. one layer on the caller's own tensors ----------------------------------------------------- */

/* L = sum(r .* layer(x)) with x, y, dx, r all buffers of this test (with GUARD sentinel values after
   each), batch below the network's max_batch, the layer taken from a one-layer network. */
typedef struct solo {
    comp c;
    gan_net *net;
    gan_layer *L;
    int batch;
    size_t nx, ny;
    gan_float *x, *y, *r, *dx;
} solo;

static gan_tensor solo_x(solo *s, gan_float *data)
{
    return gan_tensor_make(data, s->batch, s->L->in.c, s->L->in.h, s->L->in.w);
}

static gan_tensor solo_y(solo *s, gan_float *data)
{
    return gan_tensor_make(data, s->batch, s->L->out.c, s->L->out.h, s->L->out.w);
}

static double solo_loss(comp *c)
{
    solo *s = (solo *)c;
    gan_tensor xt = solo_x(s, s->x), yt = solo_y(s, s->y);
    long double sum = 0;
    size_t i;
    gan_layer_forward(s->L, &yt, &xt, 1);
    for (i = 0; i < s->ny; i++) sum += (long double)s->r[i] * s->y[i];
    return (double)sum;
}

static void solo_analytic(comp *c, int variant)
{
    solo *s = (solo *)c;
    gan_tensor xt = solo_x(s, s->x), yt = solo_y(s, s->y), rt = solo_y(s, s->r), dxt = solo_x(s, s->dx);
    (void)variant;
    gan_net_zero_grad(s->net);
    gan_layer_forward(s->L, &yt, &xt, 1);
    fill_nan(s->dx, s->nx);
    gan_layer_backward(s->L, &dxt, &rt, &xt, &yt);
}

static int guard_intact(const gan_float *buf, size_t n)
{
    int i;
    for (i = 0; i < GUARD; i++)
        if (buf[n + i] != SENTINEL) return 0;
    return 1;
}

static void check_solo(const char *name, gan_shape in, gan_layer layer, int max_batch, int batch, uint64_t seed)
{
    solo s;
    gan_rng rng;
    char label[200];
    int t, i, same = 1, np;
    double worst_twice = 0;
    gan_tensor xt, yt, rt;
    const gan_tensor *net_y;
    size_t j;

    memset(&s, 0, sizeof s);
    s.c.name = name;
    s.c.loss = solo_loss;
    s.c.analytic = solo_analytic;
    s.net = make_net(in, &layer, 1, max_batch, seed);
    s.L = gan_net_layer(s.net, 0);
    s.batch = batch;
    s.nx = (size_t)batch * shape_count(s.L->in);
    s.ny = (size_t)batch * shape_count(s.L->out);
    s.x = xcalloc(s.nx + GUARD, sizeof(gan_float));
    s.y = xcalloc(s.ny + GUARD, sizeof(gan_float));
    s.r = xcalloc(s.ny + GUARD, sizeof(gan_float));
    s.dx = xcalloc(s.nx + GUARD, sizeof(gan_float));
    gan_rng_seed(&rng, seed + 1);
    gan_fill_uniform(s.x, s.nx, -1.5, 1.5, &rng);
    gan_fill_uniform(s.r, s.ny, -1, 1, &rng);
    for (i = 0; i < GUARD; i++) s.x[s.nx + i] = s.y[s.ny + i] = s.r[s.ny + i] = s.dx[s.nx + i] = SENTINEL;

    comp_probe(&s.c, "x", s.x, s.dx, s.nx);
    comp_probe_net(&s.c, "", s.net);
    comp_check(&s.c);

    /* The layer ran on batch < max_batch in buffers sized for that batch: it must not have written
       past the batch (a layer that used max_batch would have overwritten the sentinels). */
    sprintf(label, "compose %.120s: writes nothing past the caller's batch", name);
    test_report(label, guard_intact(s.y, s.ny) && guard_intact(s.dx, s.nx), "a sentinel after y or dx changed");

    /* dx = NULL: the same calls on the same x, y, dy must leave bitwise the same dW, db (the
       parameter gradient dW += dy^T x does not depend on whether dx is wanted). */
    xt = solo_x(&s, s.x);
    yt = solo_y(&s, s.y);
    rt = solo_y(&s, s.r);
    gan_net_zero_grad(s.net);
    gan_layer_forward(s.L, &yt, &xt, 1);
    gan_layer_backward(s.L, NULL, &rt, &xt, &yt);
    np = gan_net_param_count(s.net);
    for (t = 0; t < np; t++) {
        gan_param prm = gan_net_param(s.net, t);
        for (j = 0; j < prm.count; j++)
            if (prm.grad[j] != s.c.p[1 + t].ana[j]) same = 0;
    }
    sprintf(label, "compose %.120s: backward with dx = NULL gives bitwise the same parameter gradients", name);
    test_report(label, same && np > 0, "a parameter gradient differs from the dx != NULL call");

    /* A second backward without zero_grad accumulates: every gradient is twice the first one
       (up to the rounding of the accumulation, relative 1e-12). */
    gan_layer_backward(s.L, NULL, &rt, &xt, &yt);
    for (t = 0; t < np; t++) {
        gan_param prm = gan_net_param(s.net, t);
        size_t at;
        gan_float *twice = xcalloc(prm.count, sizeof(gan_float));
        double e;
        for (j = 0; j < prm.count; j++) twice[j] = 2 * s.c.p[1 + t].ana[j];
        e = grad_error(prm.grad, twice, prm.count, &at);
        if (e > worst_twice) worst_twice = e;
        free(twice);
    }
    sprintf(label, "compose %.120s: a second backward accumulates (+=) the parameter gradients", name);
    test_report(label, worst_twice < 1e-12, "relative error %.3g against twice the first gradient", worst_twice);

    /* The standalone forward on the caller's buffers equals the network's own forward. */
    net_y = gan_net_forward(s.net, &xt);
    gan_layer_forward(s.L, &yt, &xt, 1);
    same = net_y->n == batch;
    for (j = 0; j < s.ny && same; j++)
        if (net_y->data[j] != s.y[j]) same = 0;
    sprintf(label, "compose %.120s: forward on the caller's tensors equals gan_net_forward", name);
    test_report(label, same, "the outputs differ");

    comp_free(&s.c);
    gan_net_free(s.net);
    free(s.x);
    free(s.y);
    free(s.r);
    free(s.dx);
}

static void test_solo(void)
{
    check_solo("layer linear 6->4 batch 3 of 5", gan_chw(6, 1, 1), gan_linear(6, 4), 5, 3, 100);
    check_solo("layer conv2d 2->3 k3 s2 p1 on 7x6 batch 2 of 4", gan_chw(2, 7, 6), gan_conv2d(2, 3, 3, 2, 1), 4, 2,
               110);
    check_solo("layer batchnorm2d 3 training on 4x5 batch 3 of 5", gan_chw(3, 4, 5), gan_batchnorm(3), 5, 3, 120);
}

/* ---- 2. projection discriminator --------------------------------------------------------------- */

/* h = phi(x) (trunk: conv -> leaky -> flatten -> linear -> leaky, F features);
   D(x, y) = psi(h) + <embed(y), h>, embed a bias-free Linear(n_classes, F) fed one-hot rows, so
   embed(y) = W_embed[:, y]; L = mean BCE-with-logits(D, t).
   Chain rule: dL/dh = dL/dD (dpsi/dh) + dL/dD embed(y); dL/dembed(y) = dL/dD h; dL/dW_embed from the
   embedding layer's backward; dL/dx from the trunk's backward of dL/dh. */
#define PJ_N 4
#define PJ_CLASSES 4
#define PJ_F 5

typedef struct proj {
    comp c;
    gan_net *trunk, *psi, *embed;
    gan_float x[PJ_N * 2 * 6 * 6], dx[PJ_N * 2 * 6 * 6];
    gan_float onehot[PJ_N * PJ_CLASSES], e[PJ_N * PJ_F], de[PJ_N * PJ_F], dh[PJ_N * PJ_F];
    gan_float out[PJ_N], dout[PJ_N], t[PJ_N];
    int label[PJ_N];
} proj;

/* Forward: trunk, psi and the embedding; returns h (the trunk's output). */
static const gan_tensor *proj_forward(proj *d)
{
    gan_tensor xt = gan_tensor_make(d->x, PJ_N, 2, 6, 6);
    gan_tensor ot = gan_tensor_make(d->onehot, PJ_N, PJ_CLASSES, 1, 1);
    gan_tensor et = gan_tensor_make(d->e, PJ_N, PJ_F, 1, 1);
    const gan_tensor *h = gan_net_forward(d->trunk, &xt), *p;
    int n, f;
    p = gan_net_forward(d->psi, h);
    gan_layer_forward(gan_net_layer(d->embed, 0), &et, &ot, 1);
    for (n = 0; n < PJ_N; n++) {
        double acc = p->data[n];
        for (f = 0; f < PJ_F; f++) acc += d->e[n * PJ_F + f] * h->data[n * PJ_F + f];
        d->out[n] = acc;
    }
    return h;
}

static double proj_loss(comp *c)
{
    proj *d = (proj *)c;
    proj_forward(d);
    return gan_bce_logits(NULL, d->out, d->t, PJ_N);
}

/* variant 1 drops the embedding term of dL/dh (the inner product's derivative wrt h). */
static void proj_analytic(comp *c, int variant)
{
    proj *d = (proj *)c;
    gan_tensor dot = gan_tensor_make(d->dout, PJ_N, 1, 1, 1);
    gan_tensor det = gan_tensor_make(d->de, PJ_N, PJ_F, 1, 1);
    gan_tensor dht = gan_tensor_make(d->dh, PJ_N, PJ_F, 1, 1);
    gan_tensor ot = gan_tensor_make(d->onehot, PJ_N, PJ_CLASSES, 1, 1);
    gan_tensor et = gan_tensor_make(d->e, PJ_N, PJ_F, 1, 1);
    const gan_tensor *h, *dpsi, *dx;
    int n, f;
    gan_net_zero_grad(d->trunk);
    gan_net_zero_grad(d->psi);
    gan_net_zero_grad(d->embed);
    fill_nan(d->dx, GAN_COUNT(d->dx));
    h = proj_forward(d);
    gan_bce_logits(d->dout, d->out, d->t, PJ_N);
    dpsi = gan_net_backward(d->psi, &dot);
    for (n = 0; n < PJ_N; n++)
        for (f = 0; f < PJ_F; f++) {
            int i = n * PJ_F + f;
            d->dh[i] = dpsi->data[i] + (variant == 1 ? 0 : d->dout[n] * d->e[i]);
            d->de[i] = d->dout[n] * h->data[i];
        }
    gan_layer_backward(gan_net_layer(d->embed, 0), NULL, &det, &ot, &et);
    dx = gan_net_backward(d->trunk, &dht);
    memcpy(d->dx, dx->data, sizeof d->dx);
}

static void test_projection(void)
{
    proj *d = xcalloc(1, sizeof *d);
    gan_layer trunk[5], psi[1], embed[1];
    static const int labels[PJ_N] = {2, 0, 3, 2}; /* class 1 unused: its embedding column gets 0 */
    static const gan_float targets[PJ_N] = {1, 0, 1, 0};
    gan_rng rng;
    gan_layer *E;
    int n, f, is_column = 1;

    trunk[0] = gan_conv2d(2, 4, 3, 2, 1); /* 2x6x6 -> 4x3x3 */
    trunk[1] = gan_leaky_relu(0.2);
    trunk[2] = gan_flatten();
    trunk[3] = gan_linear(36, PJ_F);
    trunk[4] = gan_leaky_relu(0.2);
    psi[0] = gan_linear(PJ_F, 1);
    embed[0] = gan_no_bias(gan_linear(PJ_CLASSES, PJ_F));
    d->c.name = "projection discriminator psi(h) + <embed(y), h>, BCE";
    d->c.loss = proj_loss;
    d->c.analytic = proj_analytic;
    d->trunk = make_net(gan_chw(2, 6, 6), trunk, 5, PJ_N, 200);
    d->psi = make_net(gan_chw(PJ_F, 1, 1), psi, 1, PJ_N, 201);
    d->embed = make_net(gan_chw(PJ_CLASSES, 1, 1), embed, 1, PJ_N, 202);
    gan_rng_seed(&rng, 203);
    gan_fill_uniform(d->x, GAN_COUNT(d->x), -1.5, 1.5, &rng);
    for (n = 0; n < PJ_N; n++) {
        d->label[n] = labels[n];
        d->onehot[n * PJ_CLASSES + labels[n]] = 1;
        d->t[n] = targets[n];
    }
    /* A larger embedding than PyTorch's +-1/2 init, so the inner-product term is not negligible. */
    E = gan_net_layer(d->embed, 0);
    gan_fill_uniform(E->W, E->nW, -1.5, 1.5, &rng);

    comp_probe(&d->c, "x", d->x, d->dx, GAN_COUNT(d->x));
    comp_probe_net(&d->c, "trunk:", d->trunk);
    comp_probe_net(&d->c, "psi:", d->psi);
    comp_probe_net(&d->c, "embed:", d->embed);
    comp_watch(&d->c, d->trunk);
    comp_check(&d->c);

    /* embed(y) is column y of the (F, n_classes) weight: a one-hot row times W^T picks it exactly. */
    proj_forward(d);
    for (n = 0; n < PJ_N; n++)
        for (f = 0; f < PJ_F; f++)
            if (d->e[n * PJ_F + f] != E->W[f * PJ_CLASSES + d->label[n]]) is_column = 0;
    test_report("compose projection: embed(y) is column y of the embedding weight", is_column,
                "embed(y) differs from W[:, y]");

    comp_selftest(&d->c, 1, "x", "dL/dh without the <embed(y), h> term");
    comp_selftest(&d->c, 1, "trunk:3.weight", "dL/dh without the <embed(y), h> term");

    comp_free(&d->c);
    gan_net_free(d->trunk);
    gan_net_free(d->psi);
    gan_net_free(d->embed);
    free(d);
}

/* ---- 3. two generators joined by a cycle loss ---------------------------------------------------- */

/* G: A -> B, F: B -> A; L = mean (F(G(a)) - a)^2 + mean (G(F(b)) - b)^2. a and b are both the
   inputs and the targets, so dL/da = (G's backward of F's backward of d1) - d1 with
   d1 = dmse/d(F(G(a))), and likewise for b. G and F each appear in both paths: their parameter
   gradients are the sum (+=) over the two backward calls. A network keeps only its last forward's
   activations, so each path's backward follows its own forward. */
#define CY_N 2
#define CY_MAX 3
#define CY_COUNT (CY_N * 1 * 5 * 5)

typedef struct cycle {
    comp c;
    gan_net *G, *F;
    gan_float a[CY_COUNT], b[CY_COUNT], d1[CY_COUNT], d2[CY_COUNT], da[CY_COUNT], db[CY_COUNT];
} cycle;

static double cycle_loss(comp *c)
{
    cycle *s = (cycle *)c;
    gan_tensor at = gan_tensor_make(s->a, CY_N, 1, 5, 5), bt = gan_tensor_make(s->b, CY_N, 1, 5, 5);
    const gan_tensor *ra = gan_net_forward(s->F, gan_net_forward(s->G, &at));
    double L = gan_mse(NULL, ra->data, s->a, CY_COUNT);
    const gan_tensor *rb = gan_net_forward(s->G, gan_net_forward(s->F, &bt));
    return L + gan_mse(NULL, rb->data, s->b, CY_COUNT);
}

/* variant 1: dL/da without the target's own term -d1; 2: G's gradients reset between the two
   paths (no accumulation); 3: both forwards first, then both backwards (stale activations). */
static void cycle_analytic(comp *c, int variant)
{
    cycle *s = (cycle *)c;
    gan_tensor at = gan_tensor_make(s->a, CY_N, 1, 5, 5), bt = gan_tensor_make(s->b, CY_N, 1, 5, 5);
    gan_tensor d1t = gan_tensor_make(s->d1, CY_N, 1, 5, 5), d2t = gan_tensor_make(s->d2, CY_N, 1, 5, 5);
    const gan_tensor *ra, *rb, *d;
    int i;
    gan_net_zero_grad(s->G);
    gan_net_zero_grad(s->F);
    fill_nan(s->da, CY_COUNT);
    fill_nan(s->db, CY_COUNT);
    if (variant == 3) {
        ra = gan_net_forward(s->F, gan_net_forward(s->G, &at));
        gan_mse(s->d1, ra->data, s->a, CY_COUNT);
        rb = gan_net_forward(s->G, gan_net_forward(s->F, &bt));
        gan_mse(s->d2, rb->data, s->b, CY_COUNT);
        d = gan_net_backward(s->G, gan_net_backward(s->F, &d1t));
        for (i = 0; i < CY_COUNT; i++) s->da[i] = d->data[i] - s->d1[i];
        d = gan_net_backward(s->F, gan_net_backward(s->G, &d2t));
        for (i = 0; i < CY_COUNT; i++) s->db[i] = d->data[i] - s->d2[i];
        return;
    }
    /* path A -> B -> A: forward G, forward F, backward F, backward G */
    ra = gan_net_forward(s->F, gan_net_forward(s->G, &at));
    gan_mse(s->d1, ra->data, s->a, CY_COUNT);
    d = gan_net_backward(s->F, &d1t);   /* dL/dG(a), in F's buffer */
    d = gan_net_backward(s->G, d);      /* dL/da through the cycle, in G's buffer: copy it now */
    for (i = 0; i < CY_COUNT; i++) s->da[i] = d->data[i] - (variant == 1 ? 0 : s->d1[i]);
    if (variant == 2) gan_net_zero_grad(s->G);
    /* path B -> A -> B: forward F, forward G, backward G, backward F */
    rb = gan_net_forward(s->G, gan_net_forward(s->F, &bt));
    gan_mse(s->d2, rb->data, s->b, CY_COUNT);
    d = gan_net_backward(s->G, &d2t);
    d = gan_net_backward(s->F, d);
    for (i = 0; i < CY_COUNT; i++) s->db[i] = d->data[i] - s->d2[i];
}

static void test_cycle(void)
{
    cycle *s = xcalloc(1, sizeof *s);
    gan_layer g[3];
    gan_rng rng;
    g[0] = gan_conv2d(1, 4, 3, 1, 1);
    g[1] = gan_tanh();
    g[2] = gan_conv2d(4, 1, 3, 1, 1);
    s->c.name = "cycle F(G(a)) ~ a, G(F(b)) ~ b, batch 2 of 3";
    s->c.loss = cycle_loss;
    s->c.analytic = cycle_analytic;
    s->G = make_net(gan_chw(1, 5, 5), g, 3, CY_MAX, 300);
    s->F = make_net(gan_chw(1, 5, 5), g, 3, CY_MAX, 301);
    gan_rng_seed(&rng, 302);
    gan_fill_uniform(s->a, CY_COUNT, -1.5, 1.5, &rng);
    gan_fill_uniform(s->b, CY_COUNT, -1.5, 1.5, &rng);
    comp_probe(&s->c, "a", s->a, s->da, CY_COUNT);
    comp_probe(&s->c, "b", s->b, s->db, CY_COUNT);
    comp_probe_net(&s->c, "G:", s->G);
    comp_probe_net(&s->c, "F:", s->F);
    comp_check(&s->c);
    comp_selftest(&s->c, 1, "a", "dL/da without the target term -dmse/dF(G(a))");
    comp_selftest(&s->c, 2, "G:0.weight", "G's gradients reset between its two uses");
    comp_selftest(&s->c, 3, "F:0.weight", "both forwards before both backwards (stale activations)");
    comp_selftest(&s->c, 3, "G:2.weight", "both forwards before both backwards (stale activations)");
    comp_free(&s->c);
    gan_net_free(s->G);
    gan_net_free(s->F);
    free(s);
}

/* ---- 4. residual and concatenation --------------------------------------------------------------- */

/* y = f(x) + x, L = mean (y - t)^2: x is used twice, so dL/dx = f's backward of dL/dy plus dL/dy. */
#define SK_N 2
#define SK_COUNT (SK_N * 2 * 4 * 5)

typedef struct skip {
    comp c;
    gan_net *f;
    gan_float x[SK_COUNT], y[SK_COUNT], t[SK_COUNT], dy[SK_COUNT], dx[SK_COUNT];
} skip;

static void skip_forward(skip *s)
{
    gan_tensor xt = gan_tensor_make(s->x, SK_N, 2, 4, 5);
    const gan_tensor *fx = gan_net_forward(s->f, &xt);
    int i;
    for (i = 0; i < SK_COUNT; i++) s->y[i] = fx->data[i] + s->x[i];
}

static double skip_loss(comp *c)
{
    skip *s = (skip *)c;
    skip_forward(s);
    return gan_mse(NULL, s->y, s->t, SK_COUNT);
}

/* variant 1 drops the identity path's dL/dy */
static void skip_analytic(comp *c, int variant)
{
    skip *s = (skip *)c;
    gan_tensor dyt = gan_tensor_make(s->dy, SK_N, 2, 4, 5);
    const gan_tensor *d;
    int i;
    gan_net_zero_grad(s->f);
    fill_nan(s->dx, SK_COUNT);
    skip_forward(s);
    gan_mse(s->dy, s->y, s->t, SK_COUNT);
    d = gan_net_backward(s->f, &dyt);
    for (i = 0; i < SK_COUNT; i++) s->dx[i] = d->data[i] + (variant == 1 ? 0 : s->dy[i]);
}

static void test_skip_connection(void)
{
    skip *s = xcalloc(1, sizeof *s);
    gan_layer f[3];
    gan_rng rng;
    f[0] = gan_conv2d(2, 3, 3, 1, 1);
    f[1] = gan_tanh();
    f[2] = gan_conv2d(3, 2, 3, 1, 1);
    s->c.name = "residual f(x) + x, MSE";
    s->c.loss = skip_loss;
    s->c.analytic = skip_analytic;
    s->f = make_net(gan_chw(2, 4, 5), f, 3, SK_N, 400);
    gan_rng_seed(&rng, 401);
    gan_fill_uniform(s->x, SK_COUNT, -1.5, 1.5, &rng);
    gan_fill_uniform(s->t, SK_COUNT, -1, 1, &rng);
    comp_probe(&s->c, "x", s->x, s->dx, SK_COUNT);
    comp_probe_net(&s->c, "f:", s->f);
    comp_check(&s->c);
    comp_selftest(&s->c, 1, "x", "dL/dx without the identity path");
    comp_free(&s->c);
    gan_net_free(s->f);
    free(s);
}

/* P(x1) (2 channels) and Q(x2) (3 channels) concatenated per sample along channels into 5 x 4 x 4,
   fed to R; L = mean BCE(R(cat), t). dL/dcat splits per sample: its channels 0-1 go to P's backward,
   2-4 to Q's (in N C H W layout the samples interleave the two parts). */
#define CC_N 3
#define CC_MAX 4
#define CC_PLANE 16

typedef struct concat {
    comp c;
    gan_net *P, *Q, *R;
    gan_float x1[CC_N * 1 * CC_PLANE], x2[CC_N * 2 * CC_PLANE], dx1[CC_N * 1 * CC_PLANE], dx2[CC_N * 2 * CC_PLANE];
    gan_float cat[CC_N * 5 * CC_PLANE], dp[CC_N * 2 * CC_PLANE], dq[CC_N * 3 * CC_PLANE];
    gan_float t[CC_N], dout[CC_N];
} concat;

static const gan_tensor *concat_forward(concat *s)
{
    gan_tensor x1t = gan_tensor_make(s->x1, CC_N, 1, 4, 4), x2t = gan_tensor_make(s->x2, CC_N, 2, 4, 4);
    gan_tensor ct = gan_tensor_make(s->cat, CC_N, 5, 4, 4);
    const gan_tensor *p = gan_net_forward(s->P, &x1t), *q = gan_net_forward(s->Q, &x2t);
    int n;
    for (n = 0; n < CC_N; n++) {
        memcpy(s->cat + (size_t)n * 5 * CC_PLANE, p->data + (size_t)n * 2 * CC_PLANE, 2 * CC_PLANE * sizeof(gan_float));
        memcpy(s->cat + ((size_t)n * 5 + 2) * CC_PLANE, q->data + (size_t)n * 3 * CC_PLANE,
               3 * CC_PLANE * sizeof(gan_float));
    }
    return gan_net_forward(s->R, &ct);
}

static double concat_loss(comp *c)
{
    concat *s = (concat *)c;
    const gan_tensor *o = concat_forward(s);
    return gan_bce_logits(NULL, o->data, s->t, CC_N);
}

/* variant 1 splits dL/dcat as if the concatenation were [all of P's output, then all of Q's]. */
static void concat_analytic(comp *c, int variant)
{
    concat *s = (concat *)c;
    gan_tensor dot = gan_tensor_make(s->dout, CC_N, 1, 1, 1);
    gan_tensor dpt = gan_tensor_make(s->dp, CC_N, 2, 4, 4), dqt = gan_tensor_make(s->dq, CC_N, 3, 4, 4);
    const gan_tensor *o, *dcat, *d;
    int n;
    gan_net_zero_grad(s->P);
    gan_net_zero_grad(s->Q);
    gan_net_zero_grad(s->R);
    fill_nan(s->dx1, GAN_COUNT(s->dx1));
    fill_nan(s->dx2, GAN_COUNT(s->dx2));
    o = concat_forward(s);
    gan_bce_logits(s->dout, o->data, s->t, CC_N);
    dcat = gan_net_backward(s->R, &dot);
    if (variant == 1) {
        memcpy(s->dp, dcat->data, sizeof s->dp);
        memcpy(s->dq, dcat->data + GAN_COUNT(s->dp), sizeof s->dq);
    } else {
        for (n = 0; n < CC_N; n++) {
            memcpy(s->dp + (size_t)n * 2 * CC_PLANE, dcat->data + (size_t)n * 5 * CC_PLANE,
                   2 * CC_PLANE * sizeof(gan_float));
            memcpy(s->dq + (size_t)n * 3 * CC_PLANE, dcat->data + ((size_t)n * 5 + 2) * CC_PLANE,
                   3 * CC_PLANE * sizeof(gan_float));
        }
    }
    d = gan_net_backward(s->P, &dpt);
    memcpy(s->dx1, d->data, sizeof s->dx1);
    d = gan_net_backward(s->Q, &dqt);
    memcpy(s->dx2, d->data, sizeof s->dx2);
}

static void test_concat(void)
{
    concat *s = xcalloc(1, sizeof *s);
    gan_layer p[2], q[2], r[4];
    static const gan_float targets[CC_N] = {1, 0, 1};
    gan_rng rng;
    p[0] = gan_conv2d(1, 2, 3, 1, 1);
    p[1] = gan_tanh();
    q[0] = gan_conv2d(2, 3, 3, 1, 1);
    q[1] = gan_tanh();
    r[0] = gan_conv2d(5, 2, 3, 2, 1); /* 5x4x4 -> 2x2x2 */
    r[1] = gan_tanh();
    r[2] = gan_flatten();
    r[3] = gan_linear(8, 1);
    s->c.name = "concat [P(x1), Q(x2)] along channels into R, BCE, batch 3 of 4";
    s->c.loss = concat_loss;
    s->c.analytic = concat_analytic;
    s->P = make_net(gan_chw(1, 4, 4), p, 2, CC_MAX, 410);
    s->Q = make_net(gan_chw(2, 4, 4), q, 2, CC_MAX, 411);
    s->R = make_net(gan_chw(5, 4, 4), r, 4, CC_MAX, 412);
    gan_rng_seed(&rng, 413);
    gan_fill_uniform(s->x1, GAN_COUNT(s->x1), -1.5, 1.5, &rng);
    gan_fill_uniform(s->x2, GAN_COUNT(s->x2), -1.5, 1.5, &rng);
    memcpy(s->t, targets, sizeof s->t);
    comp_probe(&s->c, "x1", s->x1, s->dx1, GAN_COUNT(s->x1));
    comp_probe(&s->c, "x2", s->x2, s->dx2, GAN_COUNT(s->x2));
    comp_probe_net(&s->c, "P:", s->P);
    comp_probe_net(&s->c, "Q:", s->Q);
    comp_probe_net(&s->c, "R:", s->R);
    comp_check(&s->c);
    comp_selftest(&s->c, 1, "x1", "dL/dcat split batch-major instead of per sample");
    comp_selftest(&s->c, 1, "Q:0.weight", "dL/dcat split batch-major instead of per sample");
    comp_free(&s->c);
    gan_net_free(s->P);
    gan_net_free(s->Q);
    gan_net_free(s->R);
    free(s);
}

/* ---- 5. style modulation ------------------------------------------------------------------------- */

/* s = A(w) (Linear, one scale per input channel), x_mod[n, c, :] = x[n, c, :] s[n, c], y = C(x_mod),
   L = mean (y - t)^2. Product rule: dL/dx[n, c, p] = dL/dx_mod[n, c, p] s[n, c];
   dL/ds[n, c] = sum_p dL/dx_mod[n, c, p] x[n, c, p]; dL/dw from A's backward of dL/ds. */
#define ST_N 3
#define ST_MAX 4
#define ST_C 2
#define ST_Z 3
#define ST_PLANE 16
#define ST_COUNT (ST_N * ST_C * ST_PLANE)
#define ST_OUT (ST_N * 2 * 2 * 2)

typedef struct style {
    comp c;
    gan_net *A, *C;
    gan_float w[ST_N * ST_Z], x[ST_COUNT], xm[ST_COUNT], dx[ST_COUNT], dw[ST_N * ST_Z], ds[ST_N * ST_C];
    gan_float s[ST_N * ST_C], t[ST_OUT], dy[ST_OUT];
} style;

static const gan_tensor *style_forward(style *m)
{
    gan_tensor wt = gan_tensor_make(m->w, ST_N, ST_Z, 1, 1), xt = gan_tensor_make(m->xm, ST_N, ST_C, 4, 4);
    const gan_tensor *s = gan_net_forward(m->A, &wt);
    int n, c, p;
    memcpy(m->s, s->data, sizeof m->s);
    for (n = 0; n < ST_N; n++)
        for (c = 0; c < ST_C; c++)
            for (p = 0; p < ST_PLANE; p++) {
                int i = (n * ST_C + c) * ST_PLANE + p;
                m->xm[i] = m->x[i] * m->s[n * ST_C + c];
            }
    return gan_net_forward(m->C, &xt);
}

static double style_loss(comp *c)
{
    style *m = (style *)c;
    const gan_tensor *y = style_forward(m);
    return gan_mse(NULL, y->data, m->t, ST_OUT);
}

/* variant 1: dL/dx = dL/dx_mod (the factor s forgotten); 2: dL/ds summed against x_mod, not x. */
static void style_analytic(comp *c, int variant)
{
    style *m = (style *)c;
    gan_tensor dyt = gan_tensor_make(m->dy, ST_N, 2, 2, 2), dst = gan_tensor_make(m->ds, ST_N, ST_C, 1, 1);
    const gan_tensor *y, *dxm, *dw;
    int n, ch, p;
    gan_net_zero_grad(m->A);
    gan_net_zero_grad(m->C);
    fill_nan(m->dx, ST_COUNT);
    fill_nan(m->dw, GAN_COUNT(m->dw));
    y = style_forward(m);
    gan_mse(m->dy, y->data, m->t, ST_OUT);
    dxm = gan_net_backward(m->C, &dyt);
    for (n = 0; n < ST_N; n++)
        for (ch = 0; ch < ST_C; ch++) {
            double acc = 0;
            for (p = 0; p < ST_PLANE; p++) {
                int i = (n * ST_C + ch) * ST_PLANE + p;
                m->dx[i] = dxm->data[i] * (variant == 1 ? 1 : m->s[n * ST_C + ch]);
                acc += dxm->data[i] * (variant == 2 ? m->xm[i] : m->x[i]);
            }
            m->ds[n * ST_C + ch] = acc;
        }
    dw = gan_net_backward(m->A, &dst);
    memcpy(m->dw, dw->data, sizeof m->dw);
}

static void test_style(void)
{
    style *m = xcalloc(1, sizeof *m);
    gan_layer a[1], cv[3];
    gan_rng rng;
    a[0] = gan_linear(ST_Z, ST_C);
    cv[0] = gan_conv2d(ST_C, 3, 3, 1, 1);
    cv[1] = gan_tanh();
    cv[2] = gan_conv2d(3, 2, 3, 2, 1); /* 3x4x4 -> 2x2x2 */
    m->c.name = "style modulation C(x * A(w)), MSE, batch 3 of 4";
    m->c.loss = style_loss;
    m->c.analytic = style_analytic;
    m->A = make_net(gan_chw(ST_Z, 1, 1), a, 1, ST_MAX, 500);
    m->C = make_net(gan_chw(ST_C, 4, 4), cv, 3, ST_MAX, 501);
    gan_rng_seed(&rng, 502);
    gan_fill_uniform(m->w, GAN_COUNT(m->w), -1.5, 1.5, &rng);
    gan_fill_uniform(m->x, GAN_COUNT(m->x), -1.5, 1.5, &rng);
    gan_fill_uniform(m->t, GAN_COUNT(m->t), -1, 1, &rng);
    comp_probe(&m->c, "x", m->x, m->dx, GAN_COUNT(m->x));
    comp_probe(&m->c, "w", m->w, m->dw, GAN_COUNT(m->w));
    comp_probe_net(&m->c, "A:", m->A);
    comp_probe_net(&m->c, "C:", m->C);
    comp_check(&m->c);
    comp_selftest(&m->c, 1, "x", "dL/dx without the factor s (product rule)");
    comp_selftest(&m->c, 2, "w", "dL/ds summed against x_mod instead of x");
    comp_selftest(&m->c, 2, "A:0.weight", "dL/ds summed against x_mod instead of x");
    comp_free(&m->c);
    gan_net_free(m->A);
    gan_net_free(m->C);
    free(m);
}

/* ---- the input gradient alone ------------------------------------------------------------------- */

/* gan_net_backward_input is what a G step wants from D: dL/dinput, with D's parameter gradients left
   exactly as they were. Its input gradient must be bitwise gan_net_backward's (the same arithmetic),
   on every layer kind that has parameters, in training and in evaluation mode. */
static void test_backward_input(void)
{
    gan_layer layers[9];
    gan_net *net;
    gan_rng rng;
    gan_float *x, *dy, *dx_full, *grads_before;
    const gan_tensor *y, *dx;
    gan_tensor xt, dyt;
    size_t nx, ny, j;
    int mode, same_dx, untouched;
    layers[0] = gan_conv2d(2, 3, 3, 2, 1);
    layers[1] = gan_batchnorm(3);
    layers[2] = gan_leaky_relu(0.2);
    layers[3] = gan_conv_transpose2d(3, 2, 4, 2, 1, 0);
    layers[4] = gan_layernorm();
    layers[5] = gan_tanh();
    layers[6] = gan_flatten();
    layers[7] = gan_linear(2 * 8 * 6, 3);
    layers[8] = gan_sigmoid();
    net = make_net(gan_chw(2, 7, 5), layers, 9, 4, 91);
    nx = 3 * shape_count(gan_net_input_shape(net, 0));
    x = (gan_float *)xcalloc(nx, sizeof(gan_float));
    dx_full = (gan_float *)xcalloc(nx, sizeof(gan_float));
    grads_before = (gan_float *)xcalloc(net->n_params, sizeof(gan_float));
    gan_rng_seed(&rng, 92);
    gan_fill_normal(x, nx, 0, 1, &rng);
    xt = gan_tensor_make(x, 3, 2, 7, 5);
    for (mode = 1; mode >= 0; mode--) {
        gan_net_set_training(net, mode);
        y = gan_net_forward(net, &xt);
        ny = gan_tensor_count(y);
        dy = (gan_float *)xcalloc(ny, sizeof(gan_float));
        gan_fill_normal(dy, ny, 0, 1, &rng);
        dyt = gan_tensor_make(dy, y->n, y->c, y->h, y->w);
        /* Gradients left from an earlier step must survive: fill them with values to compare. */
        gan_fill_normal(net->grads, net->n_params, 0, 1, &rng);
        memcpy(grads_before, net->grads, net->n_params * sizeof(gan_float));
        dx = gan_net_backward_input(net, &dyt);
        untouched = memcmp(grads_before, net->grads, net->n_params * sizeof(gan_float)) == 0;
        memcpy(dx_full, dx->data, nx * sizeof(gan_float));
        dx = gan_net_backward(net, &dyt);
        same_dx = memcmp(dx_full, dx->data, nx * sizeof(gan_float)) == 0;
        /* ...and gan_net_backward, by contrast, does add to them (so "untouched" can fail). */
        for (j = 0; j < net->n_params && grads_before[j] == net->grads[j]; j++) {}
        test_report(mode ? "compose/backward_input/training: parameter gradients untouched"
                         : "compose/backward_input/evaluation: parameter gradients untouched",
                    untouched && j < net->n_params, "untouched %d, full backward changed them %d", untouched,
                    j < net->n_params);
        test_report(mode ? "compose/backward_input/training: dx equals gan_net_backward's bitwise"
                         : "compose/backward_input/evaluation: dx equals gan_net_backward's bitwise",
                    same_dx, "input gradients differ");
        free(dy);
    }
    free(x);
    free(dx_full);
    free(grads_before);
    gan_net_free(net);
}

int main(void)
{
    test_solo();
    test_projection();
    test_cycle();
    test_skip_connection();
    test_concat();
    test_style();
    test_backward_input();
    printf("# compose: worst relative error among passing gradient checks %.3g (%s)\n", worst_pass,
           worst_pass_name);
    return test_finish();
}
