/* tests/test_gan_step.c - the GAN trainer (gan_trainer_create, gan_train_step, gan_trainer_sample), in
   double (GAN_DOUBLE), on tiny networks:
       G: z (3) [, Embedding(label) joined by Concat] -> Linear(., 5) [-> BatchNorm] -> Tanh -> Linear(5, 4)
          [-> Reshape(1, 2, 2)]
       D: x (4 pack values) [-> Flatten] [, Embedding(label) joined by Concat] -> Linear(., 6)
          [-> BatchNorm | LayerNorm] -> LeakyReLU(0.2) -> Linear(6, 1)

   1. Gradients of one step against finite differences. Learning rates 0 (SGD) leave the parameters
      as they were and the gradients in place: D->grads then holds dL_D/dtheta_D of the last D step
      (the G step must leave it alone) and G->grads dL_G/dtheta_G. This file replays the trainer's
      random stream (a copy of t->rng taken before the step: per D step z ~ N(0, 1) by gan_fill_normal,
      then, for WGAN-GP, one gan_rng_uniform per D sample; for n_critic > 1 the G step's own z and its
      labels by gan__rng_below), regenerates the real batches of its own callback, and recomputes
          L_D(theta_D) = mean_i a(D(x_i)) + mean_i b(D(G(z_i))) + P,   L_G(theta_G) = mean_i c(D(G(z'_i)))
      with the loss terms written here again and P from D's input gradients by a plain backward
      (gan_net_backward_multi, GAN_GRAD_INPUTS; the trainer's penalty goes another way, forward-mode):
          WGAN-GP  P = w mean_i (||g_i|| - 1)^2 at x^_i = e_i x_i + (1 - e_i) G(z_i),
          R1 / R2  P = w / 2 mean_i ||g_i||^2 at x_i / at G(z_i).
      Each parameter's five-point central difference of that recomputation must match the trainer's
      gradient (gradcheck.h: elementwise relative error below 1e-6), for every family, with BatchNorm
      in G and D (the non-penalty losses), a LayerNorm critic (the penalties), PacGAN pack 2 (D's input
      has 2C channels and sees B / 2 samples), a conditional G and D, and n_critic 2 and 5. The
      replayed stream must end where the trainer's does (every draw accounted for). Kinks (LeakyReLU
      inputs, the hinge's 1 - r and 1 + f) are watched: a difference whose evaluations cross one is
      redone with steps 10, 100, 1000 times smaller.
      Two cases use real learning rates with n_critic 1 (WGAN's with a clip that binds): the G step's
      gradient must be that of D's *new* (clipped) parameters, and is checked not to be the old one's.
   2. The stats of the step: d_loss (L_D without P), g_loss, d_real and d_fake (means of sigmoid(D) for
      the logit losses, of D otherwise), the penalty (weight included), and the gradient norms
      sqrt(sum g^2) of the gradients left in place.
   3. Clipping with real learning rates: WGAN's RMSProp leaves every D parameter in [-0.01, 0.01], some
      at the bound; with SGD, D's parameters are exactly clamp(w - lr g, -c, c) and G's are not clamped.
   4. EMA: after create G_ema is G; after each step G_ema = d G_ema + (1 - d) G for every parameter,
      BatchNorm running statistics copied exactly; gan_trainer_sample uses G_ema (bitwise its
      gan_net_infer, and not G's), and G without an EMA.
   5. Determinism: two trainers from the same seeds and data have bitwise the same parameters after
      3 steps (WGAN-GP, conditional, EMA); another trainer seed gives others.
   6. gan_trainer_create refuses, with NULL, a message naming the problem and nothing leaked: pack
      not dividing batch, pack with classes, D's input shape, D's output not one value, max_batch too
      small (G's; D's for batch / pack, which is enough), a penalty on a D built without
      GAN_BUILD_PENALTY, an EMA decay without G_ema and G_ema without a decay (and decay 1), G_ema of
      another graph, wrong input counts, a label input of the wrong shape, G with two outputs,
      batch 0, n_critic 0, negative clip or penalty weight. It sets fresh optimizers on G and D.
   7. A callback that returns 0 (at the first or second D step) makes gan_train_step return 0 with a
      message; so does a label out of range. stats may be NULL.
   8. No allocation inside gan_train_step or gan_trainer_sample after create (GAN_MALLOC counts).
   9. A critic with an auxiliary second output (an AC-GAN head; create accepts it, since only D's
      first output must be one value per sample) trains: the step succeeds and the head gets no
      gradient. Run in a child process (POSIX), since a failure here may be a crash. */
#define _POSIX_C_SOURCE 200809L /* fork, waitpid under -std=c99 */
#include "counting_alloc.h"     /* every allocation gan.h makes is counted */
#define GAN_DOUBLE
#define GAN_IMPLEMENTATION
#include "../gan.h"
#define GRADCHECK_PREFIX "gan_step"
#include "gradcheck.h" /* TOL, STEP, report_error, grad_error, five_point, fd_loss, randomize_norms */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#define HAVE_FORK 1
#else
#define HAVE_FORK 0
#endif

#define B_ 6          /* the batch of every case */
#define MAXC 5        /* the most D steps per G step */
#define ZC 3          /* values of z per sample */
#define XC 4          /* values of G's output per sample */
#define HID 6         /* D's hidden width */
#define CLASSES 3
#define STAT_TOL 1e-12

static long redone; /* differences redone with a smaller step because one crossed a kink */

static void fatal(const char *what, const char *detail)
{
    printf("FAIL gan_step: %s: %s\n", what, detail);
    exit(1);
}

/* ---- networks ----------------------------------------------------------------------------------- */

enum { NORM_NONE, NORM_BATCH, NORM_LAYER };

typedef struct arch {
    int g_norm;   /* NORM_NONE or NORM_BATCH */
    int d_norm;   /* NORM_NONE, NORM_BATCH or NORM_LAYER */
    int reshape;  /* G's output (1, 2, 2) instead of (4, 1, 1) */
    int classes;  /* > 0: conditional */
    int pack;
} arch;

static arch arch_of(int g_norm, int d_norm, int reshape, int classes, int pack)
{
    arch a;
    a.g_norm = g_norm;
    a.d_norm = d_norm;
    a.reshape = reshape;
    a.classes = classes;
    a.pack = pack;
    return a;
}

static gan_shape x_shape_of(const arch *a) { return a->reshape ? gan_chw(1, 2, 2) : gan_chw(XC, 1, 1); }

static gan_graph *g_graph(const arch *a)
{
    gan_graph *g = gan_graph_new();
    gan_node h = gan_input(g, gan_chw(ZC, 1, 1));
    int in = ZC;
    if (!g) fatal("gan_graph_new", "out of memory");
    if (a->classes) {
        gan_node parts[2];
        gan_node lab = gan_input(g, gan_chw(1, 1, 1));
        parts[0] = h;
        parts[1] = gan_apply(g, gan_embedding(a->classes, 2), lab);
        h = gan_concat(g, parts, 2);
        in += 2;
    }
    h = gan_apply(g, gan_linear(in, 5), h);
    if (a->g_norm == NORM_BATCH) h = gan_apply(g, gan_batchnorm(5), h);
    h = gan_apply(g, gan_tanh(), h);
    h = gan_apply(g, gan_linear(5, XC), h);
    if (a->reshape) h = gan_apply(g, gan_reshape(1, 2, 2), h);
    return g;
}

/* D's graph; d_in overrides its input shape (for the refusals), out_values its output width. */
static gan_graph *d_graph_ex(const arch *a, gan_shape d_in, int out_values, gan_shape lab_shape)
{
    gan_graph *g = gan_graph_new();
    gan_node h = gan_input(g, d_in);
    int in = d_in.c * d_in.h * d_in.w;
    if (!g) fatal("gan_graph_new", "out of memory");
    if (d_in.h != 1 || d_in.w != 1) h = gan_apply(g, gan_flatten(), h);
    if (a->classes) {
        gan_node parts[2];
        gan_node lab = gan_input(g, lab_shape);
        parts[0] = h;
        /* a label input of another shape (a refusal) is read by a Linear, as an Embedding could not */
        parts[1] = lab_shape.c == 1 ? gan_apply(g, gan_embedding(a->classes, 2), lab)
                                    : gan_apply(g, gan_linear(lab_shape.c, 2), lab);
        h = gan_concat(g, parts, 2);
        in += 2;
    }
    h = gan_apply(g, gan_linear(in, HID), h);
    if (a->d_norm == NORM_BATCH) h = gan_apply(g, gan_batchnorm(HID), h);
    if (a->d_norm == NORM_LAYER) h = gan_apply(g, gan_layernorm(), h);
    h = gan_apply(g, gan_leaky_relu(0.2), h);
    gan_apply(g, gan_linear(HID, out_values), h);
    return g;
}

static gan_graph *d_graph(const arch *a)
{
    gan_shape x = x_shape_of(a);
    return d_graph_ex(a, gan_chw(x.c * a->pack, x.h, x.w), 1, gan_chw(1, 1, 1));
}

/* Builds (and frees) g, with norm layers' weights randomized so gamma = 1, beta = 0 hide nothing. */
static gan_net *build(gan_graph *g, int max_batch, unsigned flags, uint64_t seed)
{
    gan_rng rng;
    gan_net *net;
    gan_rng_seed(&rng, seed);
    net = gan_net_build(g, max_batch, flags, &rng);
    gan_graph_free(g);
    if (!net) fatal("gan_net_build", gan_last_error());
    randomize_norms(net, &rng);
    return net;
}

static int leaky_layer(const gan_net *D)
{
    int i;
    for (i = 0; i < D->n_layers; i++)
        if (D->layers[i].kind == GAN_LEAKY_RELU) return i;
    return -1;
}

/* ---- the real data --------------------------------------------------------------------------- */

/* The batch of call number `call`: values in [-0.9, 0.9] that differ per call, sample and value,
   and labels cycling through the classes. */
static void real_batch(int call, gan_float *x, gan_float *labels, int n, size_t xc, int classes)
{
    int i;
    size_t j;
    for (i = 0; i < n; i++) {
        for (j = 0; j < xc; j++) x[i * xc + j] = 0.9 * sin(1.3 * call + 0.7 * i + 0.37 * (double)(j * (j + 1)) + 0.1);
        if (labels) labels[i] = (gan_float)((call * 5 + i * 2) % classes);
    }
}

typedef struct data_src {
    int calls;        /* batches handed out */
    int classes;
    size_t xc;
    int fail_at;      /* the call that returns 0 (-1: none) */
    int bad_label_at; /* the call whose first label is out of range (-1: none) */
    int bad_args;     /* calls whose n or labels pointer were not as expected */
    int batch;
} data_src;

static data_src data_of(int classes, size_t xc, int batch)
{
    data_src d;
    d.calls = 0;
    d.classes = classes;
    d.xc = xc;
    d.fail_at = -1;
    d.bad_label_at = -1;
    d.bad_args = 0;
    d.batch = batch;
    return d;
}

static int real_fn(void *user, gan_float *x, gan_float *labels, int n)
{
    data_src *d = (data_src *)user;
    int call = d->calls++;
    if (n != d->batch || (labels != NULL) != (d->classes > 0)) d->bad_args++;
    if (call == d->fail_at) return 0;
    real_batch(call, x, d->classes > 0 ? labels : NULL, n, d->xc, d->classes > 0 ? d->classes : 1);
    if (call == d->bad_label_at && labels) labels[0] = (gan_float)d->classes;
    return 1;
}

/* ---- the loss terms, written again ---------------------------------------------------------------- */

static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double sigmoid(double x) { return 1 / (1 + exp(-x)); }

static double term_real(gan_loss l, double r)
{
    switch (l) {
    case GAN_LOSS_MINIMAX:
    case GAN_LOSS_NONSATURATING: return softplus(-r);
    case GAN_LOSS_LEAST_SQUARES: return (r - 1) * (r - 1) / 2;
    case GAN_LOSS_HINGE: return r < 1 ? 1 - r : 0;
    case GAN_LOSS_WASSERSTEIN: return -r;
    }
    return 0;
}

static double term_fake(gan_loss l, double f)
{
    switch (l) {
    case GAN_LOSS_MINIMAX:
    case GAN_LOSS_NONSATURATING: return softplus(f);
    case GAN_LOSS_LEAST_SQUARES: return f * f / 2;
    case GAN_LOSS_HINGE: return f > -1 ? 1 + f : 0;
    case GAN_LOSS_WASSERSTEIN: return f;
    }
    return 0;
}

static double term_gen(gan_loss l, double f)
{
    switch (l) {
    case GAN_LOSS_MINIMAX: return -softplus(f);
    case GAN_LOSS_NONSATURATING: return softplus(-f);
    case GAN_LOSS_LEAST_SQUARES: return (f - 1) * (f - 1) / 2;
    case GAN_LOSS_HINGE:
    case GAN_LOSS_WASSERSTEIN: return -f;
    }
    return 0;
}

static int is_logit(gan_loss l) { return l == GAN_LOSS_MINIMAX || l == GAN_LOSS_NONSATURATING; }

static int is_gp(const gan_train_config *c)
{
    return c->penalty_weight > 0 && (c->penalty == GAN_PENALTY_WGAN_GP || c->penalty == GAN_PENALTY_WGAN_GP_ONE_SIDED);
}

/* ---- the recomputation ------------------------------------------------------------------------- */

#define MAXSIDE 4096

typedef struct rig {
    gan_net *G, *D;
    gan_train_config cfg;
    int B, nd, pack, classes;
    gan_shape xs;           /* G's output shape */
    size_t xc;
    /* the last D step's batches, the G step's, and scratch */
    gan_float x_real[B_ * XC], y_real[B_], z_d[B_ * ZC], e[B_], fake[B_ * XC];
    gan_float z_g[B_ * ZC], y_g[B_], points[B_ * XC], ones[B_], outs[B_];
    int leaky;
    signed char side[MAXSIDE];
    int at, recording, crossed;
    /* the base evaluation's parts */
    double l_real, l_fake, pen, l_g, m_real, m_fake;
} rig;

static void note_side(rig *r, double v)
{
    signed char s = v > 0 ? 1 : -1;
    if (r->at >= MAXSIDE) fatal("note_side", "too many kinks to watch");
    if (r->recording) r->side[r->at] = s;
    else if (r->side[r->at] != s) r->crossed = 1;
    r->at++;
}

/* D on x (B samples of G's output, so nd of D's input) with labels; its nd outputs in r->outs. The
   LeakyReLU's outputs (same sign as its inputs) are watched. */
static void judge(rig *r, const gan_float *x, const gan_float *labels)
{
    gan_tensor in[2];
    const gan_tensor *o, *h;
    size_t i, n;
    in[0] = gan_tensor_make((gan_float *)x, r->nd, r->xs.c * r->pack, r->xs.h, r->xs.w);
    in[1] = gan_tensor_make((gan_float *)labels, r->nd, 1, 1, 1);
    if (!gan_net_forward_multi(r->D, in)) fatal("D forward", gan_last_error());
    o = gan_net_output(r->D);
    memcpy(r->outs, o->data, (size_t)r->nd * sizeof(gan_float));
    h = gan_net_layer_output(r->D, r->leaky);
    if (!h) fatal("judge", "D's LeakyReLU output is not kept");
    n = gan_tensor_count(h);
    for (i = 0; i < n; i++) note_side(r, h->data[i]);
}

/* G on (z, labels) into dst (B samples). */
static void generate(rig *r, gan_float *dst, const gan_float *z, const gan_float *labels)
{
    gan_tensor in[2];
    in[0] = gan_tensor_make((gan_float *)z, r->B, ZC, 1, 1);
    in[1] = gan_tensor_make((gan_float *)labels, r->B, 1, 1, 1);
    if (!gan_net_forward_multi(r->G, in)) fatal("G forward", gan_last_error());
    memcpy(dst, gan_net_output(r->G)->data, (size_t)r->B * r->xc * sizeof(gan_float));
}

/* P at the points the config names, from D's input gradient by a backward of ones. */
static double penalty_of(rig *r)
{
    const gan_train_config *c = &r->cfg;
    size_t per = r->xc * (size_t)r->pack, j;
    const gan_float *at = r->x_real;
    gan_tensor dy;
    const gan_tensor *gx;
    double sum = 0;
    int i;
    if (!(c->penalty_weight > 0)) return 0;
    if (is_gp(c)) {
        for (i = 0; i < r->nd; i++)
            for (j = 0; j < per; j++)
                r->points[i * per + j] = r->e[i] * r->x_real[i * per + j] + (1 - r->e[i]) * r->fake[i * per + j];
        at = r->points;
    } else if (c->penalty == GAN_PENALTY_R2) {
        at = r->fake;
    }
    judge(r, at, r->y_real);
    dy = gan_tensor_make(r->ones, r->nd, 1, 1, 1);
    if (!gan_net_backward_multi(r->D, &dy, GAN_GRAD_INPUTS)) fatal("D backward", gan_last_error());
    gx = gan_net_input_grad(r->D, 0);
    for (i = 0; i < r->nd; i++) {
        double n2 = 0, nrm;
        for (j = 0; j < per; j++) n2 += (double)gx->data[i * per + j] * gx->data[i * per + j];
        nrm = sqrt(n2);
        if (c->penalty == GAN_PENALTY_WGAN_GP) sum += (nrm - 1) * (nrm - 1);
        else if (c->penalty == GAN_PENALTY_WGAN_GP_ONE_SIDED) sum += nrm > 1 ? (nrm - 1) * (nrm - 1) : 0;
        else sum += n2 / 2;
    }
    return c->penalty_weight * sum / r->nd;
}

static double eval_ld(void *p)
{
    rig *r = (rig *)p;
    gan_loss l = r->cfg.loss;
    double lr = 0, lf = 0, mr = 0, mf = 0;
    int i;
    r->at = 0;
    judge(r, r->x_real, r->y_real);
    for (i = 0; i < r->nd; i++) {
        lr += term_real(l, r->outs[i]);
        mr += is_logit(l) ? sigmoid(r->outs[i]) : r->outs[i];
        if (l == GAN_LOSS_HINGE) note_side(r, 1 - r->outs[i]);
    }
    judge(r, r->fake, r->y_real);
    for (i = 0; i < r->nd; i++) {
        lf += term_fake(l, r->outs[i]);
        mf += is_logit(l) ? sigmoid(r->outs[i]) : r->outs[i];
        if (l == GAN_LOSS_HINGE) note_side(r, 1 + r->outs[i]);
    }
    r->l_real = lr / r->nd;
    r->l_fake = lf / r->nd;
    r->m_real = mr / r->nd;
    r->m_fake = mf / r->nd;
    r->pen = penalty_of(r);
    return r->l_real + r->l_fake + r->pen;
}

static double eval_lg(void *p)
{
    rig *r = (rig *)p;
    gan_float xg[B_ * XC];
    double s = 0;
    int i;
    r->at = 0;
    generate(r, xg, r->z_g, r->y_g);
    judge(r, xg, r->y_g);
    for (i = 0; i < r->nd; i++) s += term_gen(r->cfg.loss, r->outs[i]);
    r->l_g = s / r->nd;
    return r->l_g;
}

/* Copies of a network's parameter block. */
static gan_float *save_params(const gan_net *net)
{
    gan_float *p = (gan_float *)xcalloc(net->n_params, sizeof(gan_float));
    memcpy(p, net->params, net->n_params * sizeof(gan_float));
    return p;
}

static void load_params(gan_net *net, const gan_float *p) { memcpy(net->params, p, net->n_params * sizeof(gan_float)); }

/* Every parameter of net against the difference of loss; returns the worst error (grad_error). */
static double fd_net(const char *name, gan_net *net, const gan_float *grads, double (*loss)(void *), rig *r,
                     int report)
{
    int p, total = 0, k = 0;
    gan_float *an, *nu;
    fd_loss d = fd_loss_of(loss, r, &r->crossed, 4, 0.1);
    double worst;
    size_t at, j;
    for (p = 0; p < gan_net_param_count(net); p++) total += (int)gan_net_param(net, p).count;
    an = (gan_float *)xcalloc((size_t)total, sizeof(gan_float));
    nu = (gan_float *)xcalloc((size_t)total, sizeof(gan_float));
    r->recording = 1;
    loss(r);
    r->recording = 0;
    for (p = 0; p < gan_net_param_count(net); p++) {
        gan_param prm = gan_net_param(net, p);
        size_t off = (size_t)(prm.grad - net->grads);
        for (j = 0; j < prm.count; j++, k++) {
            an[k] = grads[off + j];
            nu[k] = five_point(&d, &prm.data[j]);
        }
    }
    redone += d.redone;
    worst = grad_error(an, nu, (size_t)total, &at);
    if (report) report_error(name, an, nu, (size_t)total);
    free(an);
    free(nu);
    return worst;
}

static double rel(double a, double b)
{
    double den = fabs(b) > 1e-300 ? fabs(b) : 1e-300;
    double e = fabs(a - b) / den;
    return e == e ? e : HUGE_VAL;
}

static double block_norm(const gan_float *g, size_t n)
{
    double s = 0;
    size_t j;
    for (j = 0; j < n; j++) s += (double)g[j] * g[j];
    return sqrt(s);
}

/* ---- one gradient case ------------------------------------------------------------------------- */

typedef struct gcase {
    const char *name;
    gan_family family;
    arch a;
    int n_critic;            /* 0: the family's */
    int r2;                  /* replace the penalty with R2 of weight 3 */
    double lr_d, lr_g;       /* SGD learning rates (0: parameters stay) */
    double clip;             /* < 0: none; else this clip */
} gcase;

static gcase case_of(const char *name, gan_family f, arch a, int n_critic, int r2, double lr_d, double lr_g, double clip)
{
    gcase c;
    c.name = name;
    c.family = f;
    c.a = a;
    c.n_critic = n_critic;
    c.r2 = r2;
    c.lr_d = lr_d;
    c.lr_g = lr_g;
    c.clip = clip;
    return c;
}

static void run_case(const gcase *gc, uint64_t seed)
{
    rig *r = (rig *)xcalloc(1, sizeof(rig));
    gan_train_config cfg = gan_default_train(gc->family);
    gan_trainer *t;
    gan_step_stats st;
    data_src src;
    gan_rng rng;
    gan_float *g0, *d0, *d1, *gD, *gG;
    char name[300];
    int k, nc, ok, call0;
    int penalty = cfg.penalty_weight > 0 || gc->r2;
    const arch *a = &gc->a;

    if (gc->n_critic) cfg.n_critic = gc->n_critic;
    if (gc->r2) {
        cfg.penalty = GAN_PENALTY_R2;
        cfg.penalty_weight = 3;
    }
    if (gc->clip >= 0) cfg.clip = gc->clip;
    cfg.batch = B_;
    cfg.pack = a->pack;
    cfg.classes = a->classes;
    cfg.opt_d = gan_sgd(gc->lr_d, 0);
    cfg.opt_g = gan_sgd(gc->lr_g, 0);
    cfg.seed = seed * 7 + 3;
    nc = cfg.n_critic;

    r->G = build(g_graph(a), B_, 0, seed);
    r->D = build(d_graph(a), B_ / a->pack, penalty ? GAN_BUILD_PENALTY : 0, seed + 100);
    r->leaky = leaky_layer(r->D);
    r->cfg = cfg;
    r->B = B_;
    r->pack = a->pack;
    r->nd = B_ / a->pack;
    r->classes = a->classes;
    r->xs = x_shape_of(a);
    r->xc = XC;
    for (k = 0; k < B_; k++) r->ones[k] = 1;
    t = gan_trainer_create(r->G, r->D, NULL, &cfg);
    if (!t) fatal(gc->name, gan_last_error());
    src = data_of(a->classes, XC, B_);
    /* one step first, so the checked one is not the first (counters and the stream move on) */
    if (!gan_train_step(t, NULL, real_fn, &src)) fatal(gc->name, gan_last_error());
    call0 = src.calls;
    rng = t->rng;
    g0 = save_params(r->G);
    d0 = save_params(r->D);
    if (!gan_train_step(t, &st, real_fn, &src)) fatal(gc->name, gan_last_error());
    d1 = save_params(r->D);
    gD = (gan_float *)xcalloc(r->D->n_params, sizeof(gan_float));
    gG = (gan_float *)xcalloc(r->G->n_params, sizeof(gan_float));
    memcpy(gD, r->D->grads, r->D->n_params * sizeof(gan_float));
    memcpy(gG, r->G->grads, r->G->n_params * sizeof(gan_float));

    /* the replay */
    for (k = 0; k < nc; k++) {
        gan_fill_normal(r->z_d, ZC * (size_t)B_, 0, 1, &rng);
        if (penalty && is_gp(&cfg)) {
            int i;
            for (i = 0; i < r->nd; i++) r->e[i] = gan_rng_uniform(&rng);
        }
    }
    real_batch(call0 + nc - 1, r->x_real, a->classes ? r->y_real : NULL, B_, XC, a->classes ? a->classes : 1);
    if (nc > 1) {
        int i;
        gan_fill_normal(r->z_g, ZC * (size_t)B_, 0, 1, &rng);
        for (i = 0; i < B_ && a->classes > 0; i++) r->y_g[i] = (gan_float)gan__rng_below(&rng, (uint32_t)a->classes);
        if (!a->classes) memcpy(r->y_g, r->y_real, sizeof r->y_g);
    } else {
        memcpy(r->z_g, r->z_d, sizeof r->z_g);
        memcpy(r->y_g, r->y_real, sizeof r->y_g);
    }
    sprintf(name, "%s: the replayed stream ends where the trainer's does, %d real batches of %d", gc->name, nc, B_);
    test_report(name, rng.state == t->rng.state && rng.inc == t->rng.inc && src.calls == call0 + nc && src.bad_args == 0,
                "stream %s, %d calls (want %d), %d with unexpected arguments",
                rng.state == t->rng.state ? "equal" : "different", src.calls - call0, nc, src.bad_args);
    sprintf(name, "%s: counters (steps, d_steps, real_seen)", gc->name);
    test_report(name, t->steps == 2 && t->d_steps == 2 * nc && t->real_seen == 2 * (int64_t)nc * B_,
                "steps %ld, d_steps %ld, real_seen %ld", (long)t->steps, (long)t->d_steps, (long)t->real_seen);

    /* L_D at the last D step's parameters (d0 when lr_d = 0 or n_critic = 1) */
    load_params(r->G, g0);
    load_params(r->D, d0);
    generate(r, r->fake, r->z_d, r->y_real);
    sprintf(name, "%s: dL_D/dtheta_D (the last D step's, penalty included) vs finite differences", gc->name);
    fd_net(name, r->D, gD, eval_ld, r, 1);

    /* the stats, against the base evaluation at these parameters */
    r->recording = 1;
    eval_ld(r);
    sprintf(name, "%s: stats d_loss, d_real, d_fake", gc->name);
    ok = rel(st.d_loss, r->l_real + r->l_fake) < STAT_TOL && rel(st.d_real, r->m_real) < STAT_TOL &&
         rel(st.d_fake, r->m_fake) < STAT_TOL;
    test_report(name, ok, "d_loss %.15g (want %.15g), d_real %.15g (%.15g), d_fake %.15g (%.15g)", (double)st.d_loss,
                r->l_real + r->l_fake, (double)st.d_real, r->m_real, (double)st.d_fake, r->m_fake);
    sprintf(name, "%s: stats penalty (%s)", gc->name, penalty ? "weight included" : "0 without one");
    test_report(name, penalty ? rel(st.penalty, r->pen) < 1e-10 && r->pen > 0 : st.penalty == 0,
                "penalty %.15g, want %.15g", (double)st.penalty, r->pen);
    sprintf(name, "%s: stats d_grad_norm and g_grad_norm are sqrt(sum g^2)", gc->name);
    test_report(name, rel(st.d_grad_norm, block_norm(gD, r->D->n_params)) < STAT_TOL &&
                          rel(st.g_grad_norm, block_norm(gG, r->G->n_params)) < STAT_TOL && st.g_grad_norm > 0,
                "d %.15g (want %.15g), g %.15g (want %.15g)", (double)st.d_grad_norm, block_norm(gD, r->D->n_params),
                (double)st.g_grad_norm, block_norm(gG, r->G->n_params));

    /* L_G with D's parameters after its step */
    load_params(r->D, d1);
    sprintf(name, "%s: dL_G/dtheta_G (through D's new parameters) vs finite differences", gc->name);
    fd_net(name, r->G, gG, eval_lg, r, 1);
    r->recording = 1;
    eval_lg(r);
    sprintf(name, "%s: stats g_loss", gc->name);
    test_report(name, rel(st.g_loss, r->l_g) < STAT_TOL, "g_loss %.15g, want %.15g", (double)st.g_loss, r->l_g);

    if (gc->lr_d > 0) {
        /* the check above tells D's new parameters from its old ones */
        size_t j;
        double moved = 0, e;
        for (j = 0; j < r->D->n_params; j++) moved += fabs(d1[j] - d0[j]);
        load_params(r->D, d0);
        e = fd_net("", r->G, gG, eval_lg, r, 0);
        sprintf(name, "%s: self-check: D moved, and G's gradient is not the one through D's old parameters", gc->name);
        test_report(name, moved > 1e-3 && e > 1e-4, "D moved by %g in sum, error against the old D %g", moved, e);
    }
    gan_trainer_free(t);
    gan_net_free(r->G);
    gan_net_free(r->D);
    free(g0);
    free(d0);
    free(d1);
    free(gD);
    free(gG);
    free(r);
}

static void gradient_cases(void)
{
    gcase cs[20];
    int n = 0, i;
    cs[n++] = case_of("minimax", GAN_FAMILY_MINIMAX, arch_of(NORM_NONE, NORM_NONE, 0, 0, 1), 0, 0, 0, 0, -1);
    cs[n++] = case_of("ns, BatchNorm in G and D", GAN_FAMILY_NONSATURATING, arch_of(NORM_BATCH, NORM_BATCH, 0, 0, 1), 0, 0,
                      0, 0, -1);
    cs[n++] = case_of("lsgan, BatchNorm in G and D", GAN_FAMILY_LEAST_SQUARES, arch_of(NORM_BATCH, NORM_BATCH, 0, 0, 1),
                      0, 0, 0, 0, -1);
    cs[n++] = case_of("hinge, BatchNorm in G and D", GAN_FAMILY_HINGE, arch_of(NORM_BATCH, NORM_BATCH, 0, 0, 1), 0, 0, 0,
                      0, -1);
    cs[n++] = case_of("wgan, n_critic 5, clip 100 (not binding)", GAN_FAMILY_WGAN, arch_of(NORM_BATCH, NORM_NONE, 0, 0, 1),
                      0, 0, 0, 0, 100);
    cs[n++] = case_of("wgan-gp, n_critic 5, LayerNorm critic", GAN_FAMILY_WGAN_GP,
                      arch_of(NORM_BATCH, NORM_LAYER, 0, 0, 1), 0, 0, 0, 0, -1);
    cs[n++] = case_of("r1, LayerNorm critic", GAN_FAMILY_R1, arch_of(NORM_BATCH, NORM_LAYER, 0, 0, 1), 0, 0, 0, 0, -1);
    cs[n++] = case_of("ns with R2 (weight 3), LayerNorm critic", GAN_FAMILY_NONSATURATING,
                      arch_of(NORM_NONE, NORM_LAYER, 0, 0, 1), 0, 1, 0, 0, -1);
    cs[n++] = case_of("minimax, n_critic 2", GAN_FAMILY_MINIMAX, arch_of(NORM_BATCH, NORM_BATCH, 0, 0, 1), 2, 0, 0, 0, -1);
    cs[n++] = case_of("ns, pack 2, G reshaped to (1, 2, 2)", GAN_FAMILY_NONSATURATING,
                      arch_of(NORM_NONE, NORM_NONE, 1, 0, 2), 0, 0, 0, 0, -1);
    cs[n++] = case_of("lsgan, pack 2, BatchNorm in D (3 samples)", GAN_FAMILY_LEAST_SQUARES,
                      arch_of(NORM_BATCH, NORM_BATCH, 0, 0, 2), 0, 0, 0, 0, -1);
    cs[n++] = case_of("wgan-gp, pack 2, n_critic 2, reshaped, LayerNorm critic", GAN_FAMILY_WGAN_GP,
                      arch_of(NORM_NONE, NORM_LAYER, 1, 0, 2), 2, 0, 0, 0, -1);
    cs[n++] = case_of("r1, pack 2, LayerNorm critic", GAN_FAMILY_R1, arch_of(NORM_NONE, NORM_LAYER, 0, 0, 2), 0, 0, 0, 0,
                      -1);
    cs[n++] = case_of("ns, conditional (3 classes)", GAN_FAMILY_NONSATURATING,
                      arch_of(NORM_BATCH, NORM_NONE, 0, CLASSES, 1), 0, 0, 0, 0, -1);
    cs[n++] = case_of("hinge, conditional, BatchNorm in G and D, n_critic 2", GAN_FAMILY_HINGE,
                      arch_of(NORM_BATCH, NORM_BATCH, 0, CLASSES, 1), 2, 0, 0, 0, -1);
    cs[n++] = case_of("wgan-gp, conditional, n_critic 2, LayerNorm critic", GAN_FAMILY_WGAN_GP,
                      arch_of(NORM_BATCH, NORM_LAYER, 1, CLASSES, 1), 2, 0, 0, 0, -1);
    cs[n++] = case_of("r1, conditional, LayerNorm critic", GAN_FAMILY_R1, arch_of(NORM_NONE, NORM_LAYER, 0, CLASSES, 1),
                      0, 0, 0, 0, -1);
    cs[n++] = case_of("ns, real learning rates (SGD 0.5 and 0.1)", GAN_FAMILY_NONSATURATING,
                      arch_of(NORM_BATCH, NORM_BATCH, 0, 0, 1), 0, 0, 0.5, 0.1, -1);
    cs[n++] = case_of("wgan, n_critic 1, SGD 0.5, clip 0.05 binding", GAN_FAMILY_WGAN,
                      arch_of(NORM_NONE, NORM_NONE, 0, 0, 1), 1, 0, 0.5, 0.1, 0.05);
    for (i = 0; i < n; i++) run_case(&cs[i], (uint64_t)(i + 1));
}

/* ---- a trainer of the usual kind, for the checks below ------------------------------------------ */

typedef struct setup {
    gan_net *G, *D, *E;
    gan_trainer *t;
    data_src src;
    arch a;
} setup;

/* The family's settings at batch 6 with Adam(0.01, 0.5, 0.999) for both; the EMA's decay 0.9. */
static gan_train_config setup_cfg(gan_family f, arch a, int ema, uint64_t trainer_seed)
{
    gan_train_config cfg = gan_default_train(f);
    cfg.batch = B_;
    cfg.pack = a.pack;
    cfg.classes = a.classes;
    cfg.seed = trainer_seed;
    cfg.opt_g = gan_adam(0.01, 0.5, 0.999);
    cfg.opt_d = gan_adam(0.01, 0.5, 0.999);
    if (ema) cfg.ema_decay = 0.9;
    return cfg;
}

/* Networks of arch a from seed and a trainer with cfg (G_ema when cfg has a decay). */
static void setup_with(setup *s, const gan_train_config *cfgp, arch a, uint64_t seed)
{
    gan_train_config cfg = *cfgp;
    int penalty = cfg.penalty_weight > 0, ema = cfg.ema_decay > 0;
    memset(s, 0, sizeof *s);
    s->a = a;
    s->G = build(g_graph(&a), B_, 0, seed);
    s->D = build(d_graph(&a), B_ / a.pack, penalty ? GAN_BUILD_PENALTY : 0, seed + 1);
    if (ema) s->E = build(g_graph(&a), B_, 0, seed + 2);
    s->t = gan_trainer_create(s->G, s->D, s->E, &cfg);
    if (!s->t) fatal("setup_make", gan_last_error());
    s->src = data_of(a.classes, XC, B_);
}

static void setup_make(setup *s, gan_family f, arch a, int ema, uint64_t seed, uint64_t trainer_seed)
{
    gan_train_config cfg = setup_cfg(f, a, ema, trainer_seed);
    setup_with(s, &cfg, a, seed);
}

static void setup_free(setup *s)
{
    gan_trainer_free(s->t);
    gan_net_free(s->G);
    gan_net_free(s->D);
    if (s->E) gan_net_free(s->E);
}

static int step(setup *s, gan_step_stats *st)
{
    int ok = gan_train_step(s->t, st, real_fn, &s->src);
    if (!ok) printf("# gan_train_step: %s\n", gan_last_error());
    return ok;
}

/* ---- clipping ---------------------------------------------------------------------------------- */

static void check_clipping(void)
{
    setup s;
    arch a = arch_of(NORM_NONE, NORM_NONE, 0, 0, 1);
    gan_train_config cfg;
    gan_float *w0;
    size_t j;
    double worst = 0, big_g = 0;
    int at_bound = 0, inside = 1, p, ok;

    /* WGAN's own settings: RMSProp(5e-5) moves little, so the clip is what brings them within 0.01 */
    cfg = setup_cfg(GAN_FAMILY_WGAN, a, 0, 5);
    cfg.opt_d = gan_default_train(GAN_FAMILY_WGAN).opt_d;
    setup_with(&s, &cfg, a, 41);
    ok = step(&s, NULL);
    for (j = 0; j < s.D->n_params; j++) {
        double w = fabs(s.D->params[j]);
        if (w > 0.01) inside = 0;
        if (w == (gan_float)0.01) at_bound++;
    }
    test_report("clip: after a WGAN step every D parameter is in [-0.01, 0.01], some at the bound",
                ok && inside && at_bound > 0, "step %d, all inside %d, %d at the bound", ok, inside, at_bound);
    setup_free(&s);

    /* SGD: exactly clamp(w - lr g, -c, c); G is not clamped */
    cfg = setup_cfg(GAN_FAMILY_WGAN, a, 0, 5);
    cfg.n_critic = 1;
    cfg.clip = 0.2;
    cfg.opt_d = gan_sgd(0.5, 0);
    setup_with(&s, &cfg, a, 42);
    w0 = save_params(s.D);
    ok = step(&s, NULL);
    at_bound = 0;
    for (p = 0; p < gan_net_param_count(s.D); p++) {
        gan_param prm = gan_net_param(s.D, p);
        size_t off = (size_t)(prm.data - s.D->params);
        for (j = 0; j < prm.count; j++) {
            double want = w0[off + j] - 0.5 * prm.grad[j];
            want = want > 0.2 ? 0.2 : want < -0.2 ? -0.2 : want;
            if (fabs(want) == 0.2) at_bound++;
            if (fabs(prm.data[j] - want) > worst) worst = fabs(prm.data[j] - want);
            if (fabs(prm.grad[j]) > big_g) big_g = fabs(prm.grad[j]);
        }
    }
    test_report("clip: with SGD each D parameter is clamp(w - lr g, -c, c)", ok && worst < 1e-15 && at_bound > 0 &&
                    big_g > 0,
                "largest difference %g, %d at the bound, largest gradient %g", worst, at_bound, big_g);
    {
        double gmax = 0;
        for (j = 0; j < s.G->n_params; j++)
            if (fabs(s.G->params[j]) > gmax) gmax = fabs(s.G->params[j]);
        test_report("clip: G's parameters are not clamped", gmax > 0.2, "largest |w| in G %g", gmax);
    }
    free(w0);
    setup_free(&s);
}

/* ---- EMA and sampling ----------------------------------------------------------------------------- */

static int buffers_equal(gan_net *a, gan_net *b)
{
    int i;
    if (gan_net_buffer_count(a) != gan_net_buffer_count(b) || gan_net_buffer_count(a) == 0) return 0;
    for (i = 0; i < gan_net_buffer_count(a); i++) {
        gan_param x = gan_net_buffer(a, i), y = gan_net_buffer(b, i);
        if (x.count != y.count || memcmp(x.data, y.data, x.count * sizeof(gan_float)) != 0) return 0;
    }
    return 1;
}

static double ema_error(const gan_float *e_before, const gan_float *g_after, const gan_net *E, size_t n, double d)
{
    double worst = 0;
    size_t j;
    for (j = 0; j < n; j++) {
        double want = d * e_before[j] + (1 - d) * g_after[j];
        double den = fabs(e_before[j]) + fabs(g_after[j]) + 1e-300;
        double err = fabs(E->params[j] - want) / den;
        if (!(err <= worst)) worst = err;
    }
    return worst;
}

static void check_ema(void)
{
    setup s;
    gan_float *gb, *eb, z[5 * ZC], y1[5 * XC], y2[5 * XC], y3[5 * XC];
    gan_tensor zt = gan_tensor_make(z, 5, ZC, 1, 1), yt1 = gan_tensor_make(y1, 5, XC, 1, 1);
    gan_tensor yt2 = gan_tensor_make(y2, 5, XC, 1, 1), yt3 = gan_tensor_make(y3, 5, XC, 1, 1);
    gan_rng rng;
    gan_param bn_mean;
    gan_float bn0;
    double e1, e2, moved = 0, diff = 0;
    size_t j, n;
    int ok, st;
    setup_make(&s, GAN_FAMILY_NONSATURATING, arch_of(NORM_BATCH, NORM_BATCH, 0, 0, 1), 1, 51, 9);
    n = s.G->n_params;
    test_report("ema: after create G_ema holds G's parameters and running statistics",
                s.E->n_params == n && memcmp(s.E->params, s.G->params, n * sizeof(gan_float)) == 0 &&
                    buffers_equal(s.E, s.G),
                "they differ (G_ema was built from another seed)");
    bn_mean = gan_net_buffer(s.G, 0);
    bn0 = bn_mean.data[0];
    gb = save_params(s.G);
    eb = save_params(s.E);
    st = step(&s, NULL);
    for (j = 0; j < n; j++) moved += fabs(s.G->params[j] - gb[j]);
    e1 = ema_error(eb, s.G->params, s.E, n, 0.9);
    test_report("ema: after a step G_ema = 0.9 G_before + 0.1 G_after, every parameter", st && e1 < 1e-15 && moved > 1e-3,
                "largest relative error %g, G moved by %g", e1, moved);
    test_report("ema: BatchNorm running statistics copied exactly", buffers_equal(s.E, s.G) && bn_mean.data[0] != bn0,
                "equal %d, G's first running mean %g (was %g)", buffers_equal(s.E, s.G), (double)bn_mean.data[0],
                (double)bn0);
    memcpy(eb, s.E->params, n * sizeof(gan_float));
    st = step(&s, NULL) && st;
    e2 = ema_error(eb, s.G->params, s.E, n, 0.9);
    test_report("ema: after a second step G_ema = 0.9 G_ema + 0.1 G", st && e2 < 1e-15, "largest relative error %g", e2);

    gan_rng_seed(&rng, 77);
    gan_fill_normal(z, 5 * ZC, 0, 1, &rng);
    ok = gan_trainer_sample(s.t, &yt1, &zt, NULL, GAN_STATS_RUNNING) && gan_net_infer(s.E, &yt2, &zt, GAN_STATS_RUNNING) &&
         gan_net_infer(s.G, &yt3, &zt, GAN_STATS_RUNNING);
    for (j = 0; j < 5 * XC; j++)
        if (fabs(y1[j] - y3[j]) > diff) diff = fabs(y1[j] - y3[j]);
    test_report("ema: gan_trainer_sample is G_ema's gan_net_infer, bitwise, and not G's",
                ok && memcmp(y1, y2, sizeof y1) == 0 && diff > 1e-6, "sample ok %d, equal to G_ema's %d, differs from G's by %g",
                ok, memcmp(y1, y2, sizeof y1) == 0, diff);
    ok = gan_trainer_sample(s.t, &yt1, &zt, NULL, GAN_STATS_BATCH) && gan_net_infer(s.E, &yt2, &zt, GAN_STATS_BATCH);
    test_report("ema: gan_trainer_sample passes the stats choice (batch statistics)",
                ok && memcmp(y1, y2, sizeof y1) == 0, "ok %d", ok);
    free(gb);
    free(eb);
    setup_free(&s);

    /* without an EMA: G, here conditional */
    setup_make(&s, GAN_FAMILY_NONSATURATING, arch_of(NORM_BATCH, NORM_NONE, 0, CLASSES, 1), 0, 52, 9);
    st = step(&s, NULL);
    {
        gan_float lab[5] = { 0, 2, 1, 1, 0 };
        gan_tensor in[2];
        in[0] = zt;
        in[1] = gan_tensor_make(lab, 5, 1, 1, 1);
        ok = gan_trainer_sample(s.t, &yt1, &zt, lab, GAN_STATS_RUNNING) && gan_net_infer_multi(s.G, &yt2, in, GAN_STATS_RUNNING);
        lab[0] = 1;
        ok = ok && gan_net_infer_multi(s.G, &yt3, in, GAN_STATS_RUNNING);
    }
    test_report("sample: without G_ema gan_trainer_sample is G's (conditional) gan_net_infer_multi, bitwise",
                st && ok && memcmp(y1, y2, sizeof y1) == 0 && memcmp(y1, y3, XC * sizeof(gan_float)) != 0,
                "ok %d, equal %d, the label changes sample 0 %d", ok, memcmp(y1, y2, sizeof y1) == 0,
                memcmp(y1, y3, XC * sizeof(gan_float)) != 0);
    setup_free(&s);
}

/* ---- determinism --------------------------------------------------------------------------------- */

static void check_determinism(void)
{
    setup s1, s2, s3;
    arch a = arch_of(NORM_BATCH, NORM_LAYER, 0, CLASSES, 1);
    int i, ok = 1, same;
    setup_make(&s1, GAN_FAMILY_WGAN_GP, a, 1, 61, 17);
    setup_make(&s2, GAN_FAMILY_WGAN_GP, a, 1, 61, 17);
    setup_make(&s3, GAN_FAMILY_WGAN_GP, a, 1, 61, 18);
    for (i = 0; i < 3; i++) ok = step(&s1, NULL) && step(&s2, NULL) && step(&s3, NULL) && ok;
    same = memcmp(s1.G->params, s2.G->params, s1.G->n_params * sizeof(gan_float)) == 0 &&
           memcmp(s1.D->params, s2.D->params, s1.D->n_params * sizeof(gan_float)) == 0 &&
           memcmp(s1.E->params, s2.E->params, s1.E->n_params * sizeof(gan_float)) == 0 && buffers_equal(s1.G, s2.G) &&
           memcmp(&s1.t->rng, &s2.t->rng, sizeof s1.t->rng) == 0;
    test_report("determinism: same seeds and data, 3 WGAN-GP steps (conditional, EMA): bitwise the same G, D, G_ema",
                ok && same, "steps ok %d, same %d", ok, same);
    test_report("determinism: another trainer seed gives other parameters",
                ok && memcmp(s1.G->params, s3.G->params, s1.G->n_params * sizeof(gan_float)) != 0 &&
                    memcmp(s1.D->params, s3.D->params, s1.D->n_params * sizeof(gan_float)) != 0,
                "the parameters are the same");
    setup_free(&s1);
    setup_free(&s2);
    setup_free(&s3);
}

/* ---- refusals ------------------------------------------------------------------------------------ */

static gan_train_config small_cfg(gan_family f, int classes, int pack)
{
    gan_train_config c = gan_default_train(f);
    c.batch = B_;
    c.classes = classes;
    c.pack = pack;
    return c;
}

/* create must return NULL with a message containing every keyword (separated by '|'), freeing what it took. */
static void expect_refusal(const char *name, gan_net *G, gan_net *D, gan_net *E, const gan_train_config *cfg,
                           const char *keywords)
{
    long allocs = alloc_count, frees = free_count;
    gan_trainer *t = gan_trainer_create(G, D, E, cfg);
    const char *msg = gan_last_error();
    char buf[200], full[300];
    const char *k = keywords;
    int found = 1;
    while (*k) {
        size_t len = strcspn(k, "|");
        memcpy(buf, k, len);
        buf[len] = 0;
        if (!strstr(msg, buf)) found = 0;
        k += len;
        if (*k == '|') k++;
    }
    sprintf(full, "create refuses %s", name);
    test_report(full, t == NULL && found && alloc_count - allocs == free_count - frees,
                "returned %s, message \"%s\" (want \"%s\"), %ld allocations not freed", t ? "a trainer" : "NULL", msg,
                keywords, (alloc_count - allocs) - (free_count - frees));
    if (t) gan_trainer_free(t);
}

static void check_refusals(void)
{
    arch plain = arch_of(NORM_NONE, NORM_NONE, 0, 0, 1), cond = arch_of(NORM_NONE, NORM_NONE, 0, CLASSES, 1);
    arch packed = arch_of(NORM_NONE, NORM_NONE, 0, 0, 2);
    gan_net *G = build(g_graph(&plain), B_, 0, 71), *D = build(d_graph(&plain), B_, 0, 72);
    gan_net *Gc = build(g_graph(&cond), B_, 0, 73), *Dc = build(d_graph(&cond), B_, 0, 74);
    gan_net *Dp = build(d_graph(&packed), B_ / 2, 0, 75), *Dp_small = build(d_graph(&packed), B_ / 2 - 1, 0, 75);
    gan_net *D5 = build(d_graph_ex(&plain, gan_chw(5, 1, 1), 1, gan_chw(1, 1, 1)), B_, 0, 76);
    gan_net *D2out = build(d_graph_ex(&plain, gan_chw(XC, 1, 1), 2, gan_chw(1, 1, 1)), B_, 0, 77);
    gan_net *Dlab = build(d_graph_ex(&cond, gan_chw(XC, 1, 1), 1, gan_chw(2, 1, 1)), B_, 0, 78);
    gan_net *G_small = build(g_graph(&plain), B_ - 1, 0, 79), *E = build(g_graph(&plain), B_, 0, 80);
    gan_net *E_other = build(g_graph(&cond), B_, 0, 81);
    gan_net *G2out, *Dpen = build(d_graph(&plain), B_, GAN_BUILD_PENALTY, 82);
    gan_train_config c;
    gan_trainer *t;
    {
        gan_graph *g = gan_graph_new();
        gan_node z = gan_input(g, gan_chw(ZC, 1, 1));
        gan_node h = gan_apply(g, gan_linear(ZC, XC), z);
        gan_output(g, h);
        gan_output(g, gan_apply(g, gan_tanh(), h));
        G2out = build(g, B_, 0, 83);
    }

    c = small_cfg(GAN_FAMILY_NONSATURATING, 0, 4);
    expect_refusal("pack 4, which does not divide batch 6", G, D, NULL, &c, "pack|dividing");
    c = small_cfg(GAN_FAMILY_NONSATURATING, CLASSES, 2);
    expect_refusal("pack 2 with classes", Gc, Dc, NULL, &c, "pack");
    c = small_cfg(GAN_FAMILY_NONSATURATING, 0, 1);
    expect_refusal("D's input (5, 1, 1) for G's (4, 1, 1)", G, D5, NULL, &c, "D's input|(4, 1, 1)|(5, 1, 1)");
    c = small_cfg(GAN_FAMILY_NONSATURATING, 0, 2);
    expect_refusal("pack 2 with D's input unpacked", G, D, NULL, &c, "D's input|(8, 1, 1)");
    c = small_cfg(GAN_FAMILY_NONSATURATING, 0, 1);
    expect_refusal("D's output of two values", G, D2out, NULL, &c, "one value per sample");
    expect_refusal("G's max_batch 5 for batch 6", G_small, D, NULL, &c, "max_batch");
    c = small_cfg(GAN_FAMILY_NONSATURATING, 0, 2);
    expect_refusal("D's max_batch 2 for batch 6 at pack 2", G, Dp_small, NULL, &c, "max_batch");
    t = gan_trainer_create(G, Dp, NULL, &c);
    test_report("create accepts D's max_batch 3 for batch 6 at pack 2", t != NULL, "%s", gan_last_error());
    gan_trainer_free(t);
    c = small_cfg(GAN_FAMILY_WGAN_GP, 0, 1);
    expect_refusal("a penalty with D built without GAN_BUILD_PENALTY", G, D, NULL, &c, "GAN_BUILD_PENALTY");
    c = small_cfg(GAN_FAMILY_R1, 0, 1);
    expect_refusal("R1 with D built without GAN_BUILD_PENALTY", G, D, NULL, &c, "GAN_BUILD_PENALTY");
    t = gan_trainer_create(G, Dpen, NULL, &c);
    test_report("create accepts R1 with D built with GAN_BUILD_PENALTY", t != NULL, "%s", gan_last_error());
    gan_trainer_free(t);
    c = small_cfg(GAN_FAMILY_NONSATURATING, 0, 1);
    c.ema_decay = 0.99;
    expect_refusal("an EMA decay without G_ema", G, D, NULL, &c, "EMA|G_ema");
    c.ema_decay = 0;
    expect_refusal("G_ema without an EMA decay", G, D, E, &c, "EMA|G_ema");
    c.ema_decay = 1;
    expect_refusal("EMA decay 1", G, D, E, &c, "EMA");
    c.ema_decay = 0.9;
    expect_refusal("G_ema of another graph", G, D, E_other, &c, "G_ema");
    c = small_cfg(GAN_FAMILY_NONSATURATING, CLASSES, 1);
    expect_refusal("classes 3 with an unconditional G", G, Dc, NULL, &c, "G has 1 inputs");
    expect_refusal("classes 3 with an unconditional D", Gc, D, NULL, &c, "D has 1 inputs");
    expect_refusal("a conditional D whose label input is (2, 1, 1)", Gc, Dlab, NULL, &c, "D's input 1|label");
    c = small_cfg(GAN_FAMILY_NONSATURATING, 0, 1);
    expect_refusal("classes 0 with a conditional D", G, Dc, NULL, &c, "D has 2 inputs");
    expect_refusal("classes 0 with a conditional G", Gc, D, NULL, &c, "G has 2 inputs");
    expect_refusal("G with two outputs", G2out, D, NULL, &c, "G has 2 outputs");
    c.batch = 0;
    expect_refusal("batch 0", G, D, NULL, &c, "batch 0");
    c = small_cfg(GAN_FAMILY_NONSATURATING, 0, 1);
    c.n_critic = 0;
    expect_refusal("n_critic 0", G, D, NULL, &c, "n_critic 0");
    c = small_cfg(GAN_FAMILY_WGAN, 0, 1);
    c.clip = -0.01;
    expect_refusal("a negative clip", G, D, NULL, &c, "clip");
    c = small_cfg(GAN_FAMILY_NONSATURATING, 0, 1);
    c.penalty_weight = -1;
    expect_refusal("a negative penalty weight", G, Dpen, NULL, &c, "penalty_weight");

    /* a trainer sets fresh optimizers */
    {
        size_t j;
        int fresh = 1;
        for (j = 0; j < G->n_params; j++) G->opt_m[j] = G->opt_v[j] = 1;
        for (j = 0; j < D->n_params; j++) D->opt_m[j] = D->opt_v[j] = 1;
        G->opt.step = D->opt.step = 7;
        c = small_cfg(GAN_FAMILY_WGAN, 0, 1);
        c.opt_g = gan_adam(3e-4, 0.25, 0.75);
        t = gan_trainer_create(G, D, NULL, &c);
        for (j = 0; j < G->n_params; j++)
            if (G->opt_m[j] != 0 || G->opt_v[j] != 0) fresh = 0;
        for (j = 0; j < D->n_params; j++)
            if (D->opt_m[j] != 0 || D->opt_v[j] != 0) fresh = 0;
        test_report("create sets cfg's optimizers on G and D with fresh moments",
                    t && fresh && G->opt.kind == GAN_ADAM && G->opt.lr == (gan_float)3e-4 && G->opt.beta1 == (gan_float)0.25 &&
                        D->opt.kind == GAN_RMSPROP && D->opt.lr == c.opt_d.lr && G->opt.step == 0 && D->opt.step == 0,
                    "trainer %p, moments cleared %d, G kind %d lr %g, D kind %d, steps %ld %ld", (void *)t, fresh,
                    (int)G->opt.kind, (double)G->opt.lr, (int)D->opt.kind, (long)G->opt.step, (long)D->opt.step);
        gan_trainer_free(t);
    }
    gan_net_free(G);
    gan_net_free(D);
    gan_net_free(Gc);
    gan_net_free(Dc);
    gan_net_free(Dp);
    gan_net_free(Dp_small);
    gan_net_free(D5);
    gan_net_free(D2out);
    gan_net_free(Dlab);
    gan_net_free(G_small);
    gan_net_free(E);
    gan_net_free(E_other);
    gan_net_free(G2out);
    gan_net_free(Dpen);
}

/* ---- failing steps --------------------------------------------------------------------------------- */

static void check_step_failures(void)
{
    setup s;
    int r;
    setup_make(&s, GAN_FAMILY_NONSATURATING, arch_of(NORM_NONE, NORM_NONE, 0, 0, 1), 0, 91, 3);
    s.src.fail_at = 0;
    r = gan_train_step(s.t, NULL, real_fn, &s.src);
    test_report("step: a callback returning 0 makes gan_train_step return 0 with a message",
                r == 0 && strstr(gan_last_error(), "callback") != NULL, "returned %d, message \"%s\"", r, gan_last_error());
    s.src.fail_at = -1;
    r = gan_train_step(s.t, NULL, real_fn, &s.src);
    test_report("step: and the next step (stats NULL) succeeds", r == 1, "%s", gan_last_error());
    setup_free(&s);

    {
        gan_train_config cfg = setup_cfg(GAN_FAMILY_WGAN_GP, arch_of(NORM_NONE, NORM_LAYER, 0, 0, 1), 0, 3);
        cfg.n_critic = 2;
        setup_with(&s, &cfg, arch_of(NORM_NONE, NORM_LAYER, 0, 0, 1), 92);
    }
    s.src.fail_at = 1;
    r = gan_train_step(s.t, NULL, real_fn, &s.src);
    test_report("step: a callback failing at the second D step makes gan_train_step return 0 with a message",
                r == 0 && strstr(gan_last_error(), "callback") != NULL, "returned %d, message \"%s\"", r, gan_last_error());
    setup_free(&s);

    setup_make(&s, GAN_FAMILY_NONSATURATING, arch_of(NORM_NONE, NORM_NONE, 0, CLASSES, 1), 0, 93, 3);
    s.src.bad_label_at = 0;
    r = gan_train_step(s.t, NULL, real_fn, &s.src);
    test_report("step: a label out of range makes gan_train_step return 0 with the network's message",
                r == 0 && strstr(gan_last_error(), "class index") != NULL, "returned %d, message \"%s\"", r,
                gan_last_error());
    setup_free(&s);

    /* a penalty through a training-mode BatchNorm: the penalty's refusal, naming the node */
    setup_make(&s, GAN_FAMILY_WGAN_GP, arch_of(NORM_NONE, NORM_BATCH, 0, 0, 1), 0, 94, 3);
    r = gan_train_step(s.t, NULL, real_fn, &s.src);
    test_report("step: WGAN-GP through a BatchNorm critic returns 0 with the penalty's message",
                r == 0 && strstr(gan_last_error(), "atch") != NULL, "returned %d, message \"%s\"", r, gan_last_error());
    setup_free(&s);
}

/* ---- allocations ----------------------------------------------------------------------------------- */

static void check_no_alloc(void)
{
    setup s[4];
    gan_float z[7 * ZC], y[7 * XC], lab[7] = { 0, 1, 2, 0, 1, 2, 0 };
    gan_tensor zt = gan_tensor_make(z, 7, ZC, 1, 1), yt = gan_tensor_make(y, 7, XC, 1, 1);
    gan_step_stats st;
    long allocs, frees;
    int i, k, ok = 1;
    memset(z, 0, sizeof z);
    setup_make(&s[0], GAN_FAMILY_WGAN_GP, arch_of(NORM_BATCH, NORM_LAYER, 0, CLASSES, 1), 1, 101, 1);
    setup_make(&s[1], GAN_FAMILY_NONSATURATING, arch_of(NORM_BATCH, NORM_BATCH, 0, 0, 1), 1, 102, 1);
    setup_make(&s[2], GAN_FAMILY_R1, arch_of(NORM_NONE, NORM_LAYER, 1, 0, 2), 0, 103, 1);
    setup_make(&s[3], GAN_FAMILY_WGAN, arch_of(NORM_BATCH, NORM_NONE, 0, 0, 1), 0, 104, 1);
    allocs = alloc_count;
    frees = free_count;
    for (k = 0; k < 3; k++)
        for (i = 0; i < 4; i++) ok = step(&s[i], &st) && ok;
    for (i = 0; i < 4; i++) {
        yt = gan_tensor_make(y, 7, x_shape_of(&s[i].a).c, x_shape_of(&s[i].a).h, x_shape_of(&s[i].a).w);
        ok = gan_trainer_sample(s[i].t, &yt, &zt, s[i].a.classes ? lab : NULL, GAN_STATS_RUNNING) && ok;
    }
    test_report("alloc: gan_train_step (WGAN-GP, NS with BatchNorm and EMA, R1 packed, WGAN) and gan_trainer_sample "
                "allocate nothing",
                ok && alloc_count == allocs && free_count == frees, "ok %d, %ld allocations, %ld frees", ok,
                alloc_count - allocs, free_count - frees);
    for (i = 0; i < 4; i++) setup_free(&s[i]);
}

/* ---- a critic with an auxiliary output --------------------------------------------------------------- */

/* Fills 16 KiB of stack below the caller with 0xff bytes, called through a volatile pointer so that
   it is not inlined. */
static void dirty_stack(void)
{
    volatile unsigned char junk[16384];
    size_t i;
    for (i = 0; i < sizeof junk; i++) junk[i] = 0xff;
}

static void (*volatile dirty)(void) = dirty_stack;

/* The child's work: 0 if the step succeeds and the auxiliary head has no gradient. */
static int aux_head_child(void)
{
    arch a = arch_of(NORM_NONE, NORM_NONE, 0, 0, 1);
    gan_graph *g = gan_graph_new();
    gan_node x = gan_input(g, gan_chw(XC, 1, 1)), h, o, aux;
    gan_net *G, *D;
    gan_train_config c = small_cfg(GAN_FAMILY_NONSATURATING, 0, 1);
    gan_trainer *t;
    data_src src = data_of(0, XC, B_);
    int i, ok;
    h = gan_apply(g, gan_leaky_relu(0.2), gan_apply(g, gan_linear(XC, HID), x));
    o = gan_apply(g, gan_linear(HID, 1), h);
    aux = gan_apply(g, gan_linear(HID, CLASSES), h);
    gan_name(g, aux, "aux");
    gan_output(g, o);
    gan_output(g, aux);
    G = build(g_graph(&a), B_, 0, 111);
    D = build(g, B_, 0, 112);
    c.opt_d = gan_sgd(0, 0);
    t = gan_trainer_create(G, D, NULL, &c);
    if (!t) {
        printf("# create refused the critic: %s\n", gan_last_error());
        return 2;
    }
    (*dirty)(); /* stack garbage that is not NULL nor a valid shape, for whatever reads past a local */
    ok = gan_train_step(t, NULL, real_fn, &src);
    if (!ok) {
        printf("# step: %s\n", gan_last_error());
        return 3;
    }
    for (i = 0; i < gan_net_param_count(D); i++) {
        gan_param p = gan_net_param(D, i);
        size_t j;
        if (strncmp(p.name, "aux.", 4) != 0) continue;
        for (j = 0; j < p.count; j++)
            if (p.grad[j] != 0) return 4;
    }
    gan_trainer_free(t);
    gan_net_free(G);
    gan_net_free(D);
    return 0;
}

static void check_aux_head(void)
{
#if HAVE_FORK
    pid_t pid;
    int status = 0;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        int rc = aux_head_child();
        fflush(stdout);
        _exit(rc);
    }
    if (pid < 0) {
        test_skip("step: a critic with an auxiliary second output", "fork failed");
        return;
    }
    waitpid(pid, &status, 0);
    test_report("step: a critic with an auxiliary second output (accepted by create) trains, the head untouched",
                WIFEXITED(status) && WEXITSTATUS(status) == 0,
                "the child %s %d (1: a sanitizer's report, 2: refused, 3: the step returned 0, 4: the head got a "
                "gradient; a signal: a crash, e.g. gan__judge_backward passing one dL/dy to gan_net_backward_multi "
                "for D's %s outputs)",
                WIFEXITED(status) ? "exited with" : "was killed by signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), "two");
#else
    test_skip("step: a critic with an auxiliary second output", "no fork() here to contain a crash");
#endif
}

int main(void)
{
    gradient_cases();
    check_clipping();
    check_ema();
    check_determinism();
    check_refusals();
    check_step_failures();
    check_no_alloc();
    check_aux_head();
    printf("# %ld differences redone with a smaller step (a kink crossed)\n", redone);
    if (worst_pass > 0) printf("# worst passing gradient error %.3g (%s)\n", worst_pass, worst_pass_name);
    return test_finish();
}
