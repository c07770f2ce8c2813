/* tests/test_spectral_fd.c - spectral normalization in double (GAN_DOUBLE): PyTorch parity at
   float64 round-off, and the gradients against finite differences.

   What the gradient is. A training forward first moves u and v by one power iteration
   (v = W^T u / ||W^T u||, u = W v / ||W v||) and then uses W / sigma, sigma = u^T W v; PyTorch's
   gradient, and gan.h's, treats the updated u and v as constants (they are computed under no_grad).
   That is not the derivative of the training forward as a function of W, which also moves u and v.
   It is exactly the derivative of an evaluation-mode forward (no power iteration, u and v fixed)
   taken at the updated u and v. So:

     1. PyTorch parity (tests/sn_parity.h) with the double build's tolerances (1e-12 of the scales).
     2. For SN Linear(5, 3), SN Conv2d(2, 4, 3, 2, 1) and the bias-free SN Conv2d(1, 4, 4, 2, 1), after
        two training forwards: the training backward is bitwise the evaluation-mode backward at the
        u, v it left; that backward's dL/dweight_orig, dL/dbias and dL/dx match five-point
        differences of evaluation-mode forwards (L = <c, y>, c random; gradcheck.h's error measure,
        below 1e-6). And, to show the distinction is real and the harness can see it: differences of
        the training forward itself (u, v put back to their pre-forward values before each
        evaluation, so they follow W) match dL/dbias (the power iteration does not read b) but
        differ from dL/dweight_orig by more than 1e-4.
     3. gan_net_penalty (WGAN-GP weight 10, and R1) on SN critics in evaluation mode: the parameter
        gradients against five-point differences of the penalty (recomputed by gan_net_penalty), on
        Conv2d(SN) -> LeakyReLU(0.2) -> Flatten -> Linear(SN) (whose biases get a zero penalty
        gradient: a separate check that the analytic one is zero too) and on the same with Tanh
        (where the first bias's is not; the last bias's is zero for every critic). A difference whose evaluations move a LeakyReLU input across 0 is
        redone with a 100 times smaller step. A training-mode penalty's gradients are bitwise the
        evaluation-mode ones at the u, v it left. */
#define GAN_DOUBLE
#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "sn_parity.h" /* sn_parity_all, sn_buffer */
#define GRADCHECK_PREFIX "spectral_fd"
#include "gradcheck.h" /* TOL, STEP, grad_error, report_error, five_point, xcalloc, shape_count */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DIFFERS 1e-4   /* the training forward's differences against PyTorch's dL/dW: at least this far */
#define ZERO_REL 1e-7  /* a zero gradient: below this times the network's largest numeric gradient */
#define MAXN 4

static void fatal(const char *what)
{
    printf("FAIL spectral_fd: %s: %s\n", what, gan_last_error());
    exit(1);
}

static long redone;

/* ---- 2. one layer -------------------------------------------------------------------------------- */

typedef struct layer_ctx {
    gan_net *net;
    gan_float *x, *c;      /* input, and the loss's weights on the output */
    int n;
    gan_float *u0, *v0;    /* pre-forward u, v for the training function (NULL: evaluation mode) */
    size_t nu, nv;
    int crossed;
} layer_ctx;

/* L = <c, y> of one forward (training mode with u, v put back first, or evaluation mode). */
static double layer_loss(void *p)
{
    layer_ctx *t = (layer_ctx *)p;
    gan_shape s = gan_net_input_shape(t->net, 0);
    gan_tensor in = gan_tensor_make(t->x, t->n, s.c, s.h, s.w);
    const gan_tensor *y;
    double L = 0;
    size_t j;
    if (t->u0) {
        memcpy(sn_buffer(t->net, 0, "weight_u", NULL), t->u0, t->nu * sizeof(gan_float));
        memcpy(sn_buffer(t->net, 0, "weight_v", NULL), t->v0, t->nv * sizeof(gan_float));
    }
    y = gan_net_forward(t->net, &in);
    if (!y) fatal("gan_net_forward");
    for (j = 0; j < gan_tensor_count(y); j++) L += (double)t->c[j] * y->data[j];
    return L;
}

/* Five-point differences of fd's loss in each of count values at v, into num. */
static void numeric(fd_loss *fd, gan_float *v, size_t count, gan_float *num)
{
    size_t j;
    for (j = 0; j < count; j++) num[j] = (gan_float)five_point(fd, v + j);
}

static void test_layer(const char *cas, gan_layer layer, gan_shape in, int n, uint64_t seed)
{
    layer_ctx t;
    gan_rng rng;
    gan_net *net;
    gan_layer *L;
    gan_float *gtrain, *geval, *dxtrain, *num, *u, *v, *pre_u, *pre_v;
    const gan_tensor *y, *dx;
    gan_tensor d;
    fd_loss fd;
    size_t nx = (size_t)n * shape_count(in), ny, np;
    char name[200];
    int same;
    double e;
    size_t at;

    gan_rng_seed(&rng, seed);
    net = gan_net_create(in, &layer, 1, n, &rng);
    if (!net) fatal("gan_net_create");
    L = gan_net_layer(net, 0);
    memset(&t, 0, sizeof t);
    t.net = net;
    t.n = n;
    t.x = (gan_float *)xcalloc(nx, sizeof(gan_float));
    gan_fill_uniform(t.x, nx, -1, 1, &rng);
    ny = (size_t)n * shape_count(L->out);
    t.c = (gan_float *)xcalloc(ny, sizeof(gan_float));
    gan_fill_uniform(t.c, ny, -1, 1, &rng);
    if (L->nb) gan_fill_uniform(L->b, L->nb, -0.5, 0.5, &rng);
    np = net->n_params;
    gtrain = (gan_float *)xcalloc(np, sizeof(gan_float));
    geval = (gan_float *)xcalloc(np, sizeof(gan_float));
    dxtrain = (gan_float *)xcalloc(nx, sizeof(gan_float));
    num = (gan_float *)xcalloc(nx > L->nW ? nx : L->nW, sizeof(gan_float));
    u = sn_buffer(net, 0, "weight_u", &t.nu);
    v = sn_buffer(net, 0, "weight_v", &t.nv);
    pre_u = (gan_float *)xcalloc(t.nu, sizeof(gan_float));
    pre_v = (gan_float *)xcalloc(t.nv, sizeof(gan_float));

    /* two training forwards move u, v off their random start; the third, from (pre_u, pre_v), is checked */
    layer_loss(&t);
    layer_loss(&t);
    memcpy(pre_u, u, t.nu * sizeof(gan_float));
    memcpy(pre_v, v, t.nv * sizeof(gan_float));
    layer_loss(&t);
    y = gan_net_output(net);
    d = gan_tensor_make(t.c, y->n, y->c, y->h, y->w);
    gan_net_zero_grad(net);
    dx = gan_net_backward(net, &d);
    if (!dx) fatal("gan_net_backward");
    memcpy(gtrain, net->grads, np * sizeof(gan_float));
    memcpy(dxtrain, dx->data, nx * sizeof(gan_float));

    /* the evaluation-mode backward at the u, v the training forward left */
    gan_net_set_training(net, 0);
    layer_loss(&t);
    gan_net_zero_grad(net);
    dx = gan_net_backward(net, &d);
    if (!dx) fatal("gan_net_backward");
    memcpy(geval, net->grads, np * sizeof(gan_float));
    same = memcmp(gtrain, geval, np * sizeof(gan_float)) == 0 && memcmp(dxtrain, dx->data, nx * sizeof(gan_float)) == 0;
    sprintf(name, "spectral_fd %s: the training backward is bitwise the evaluation-mode one at the u, v it left", cas);
    test_report(name, same, "parameter gradients or dL/dx differ");

    /* 2a. evaluation mode against differences of evaluation-mode forwards */
    fd = fd_loss_of(layer_loss, &t, &t.crossed, 1, 0.01);
    numeric(&fd, L->W, L->nW, num);
    sprintf(name, "spectral_fd %s: dL/dweight_orig (u, v fixed) against differences of evaluation forwards", cas);
    report_error(name, geval + (L->dW - net->grads), num, L->nW);
    if (L->nb) {
        numeric(&fd, L->b, L->nb, num);
        sprintf(name, "spectral_fd %s: dL/dbias against differences of evaluation forwards", cas);
        report_error(name, geval + (L->db - net->grads), num, L->nb);
    }
    numeric(&fd, t.x, nx, num);
    sprintf(name, "spectral_fd %s: dL/dx against differences of evaluation forwards", cas);
    report_error(name, dxtrain, num, nx);

    /* 2b. the training forward as a function of W (u, v put back before each evaluation) */
    gan_net_set_training(net, 1);
    t.u0 = pre_u;
    t.v0 = pre_v;
    fd = fd_loss_of(layer_loss, &t, &t.crossed, 1, 0.01);
    if (L->nb) {
        numeric(&fd, L->b, L->nb, num);
        sprintf(name, "spectral_fd %s: differences of training forwards give dL/dbias (the iteration does not read b)", cas);
        report_error(name, gtrain + (L->db - net->grads), num, L->nb);
    }
    numeric(&fd, L->W, L->nW, num);
    e = grad_error(gtrain + (L->dW - net->grads), num, L->nW, &at);
    sprintf(name, "spectral_fd %s: differences of training forwards (u, v following W) are not dL/dweight_orig", cas);
    test_report(name, e > DIFFERS, "relative error only %.3g: the power iteration's dependence on W does not show", e);
    printf("# spectral_fd %s: training-forward differences against dL/dweight_orig: relative error %.3g\n", cas, e);

    free(pre_u);
    free(pre_v);
    free(gtrain);
    free(geval);
    free(dxtrain);
    free(num);
    free(t.x);
    free(t.c);
    gan_net_free(net);
}

/* ---- 3. the penalty ------------------------------------------------------------------------------ */

typedef struct critic_ctx {
    gan_net *net;
    gan_tensor x;
    gan_penalty_kind kind;
    double weight;
    int kink_layer;          /* the LeakyReLU's index, or -1 */
    unsigned char side[256]; /* its output's signs in the recorded evaluation */
    int recording, crossed;
} critic_ctx;

static double penalty_loss(void *p)
{
    critic_ctx *c = (critic_ctx *)p;
    gan_float P = NAN;
    if (!gan_net_penalty(c->net, &P, &c->x, 0, c->kind, (gan_float)c->weight)) fatal("gan_net_penalty");
    if (c->kink_layer >= 0) {
        const gan_tensor *y = gan_net_layer_output(c->net, c->kink_layer);
        size_t j, m = gan_tensor_count(y);
        if (m > sizeof c->side) fatal("the kink watch's record is too small");
        for (j = 0; j < m; j++) {
            unsigned char positive = y->data[j] > 0;
            if (c->recording) c->side[j] = positive;
            else if (c->side[j] != positive) c->crossed = 1;
        }
    }
    return P;
}

/* dP/dv by five-point differences; redone with a 100 times smaller step where a step crossed a kink. */
static double penalty_diff(critic_ctx *c, gan_float *v)
{
    fd_loss fd = fd_loss_of(penalty_loss, c, &c->crossed, 2, 0.01);
    double d = five_point(&fd, v);
    redone += fd.redone;
    return d;
}

static void test_critic(const char *cas, int tanh_act, uint64_t seed)
{
    static const struct {
        gan_penalty_kind kind;
        const char *name;
        double weight;
    } kinds[2] = {{GAN_PENALTY_WGAN_GP, "WGAN-GP", 10}, {GAN_PENALTY_R1, "R1", 10}};
    critic_ctx c;
    gan_layer layers[4];
    gan_graph *g;
    gan_rng rng;
    gan_net *net;
    gan_float *ana, *num, *gtrain, P;
    size_t j;
    int k, i;
    char name[240];

    layers[0] = gan_spectral_norm(gan_conv2d(1, 4, 4, 2, 1));
    layers[1] = tanh_act ? gan_tanh() : gan_leaky_relu((gan_float)0.2);
    layers[2] = gan_flatten();
    layers[3] = gan_spectral_norm(gan_linear(36, 1));
    g = gan_graph_new();
    gan_chain(g, gan_input(g, gan_chw(1, 6, 6)), layers, 4);
    gan_rng_seed(&rng, seed);
    net = gan_net_build(g, MAXN, GAN_BUILD_PENALTY, &rng);
    gan_graph_free(g);
    if (!net) fatal("gan_net_build");
    memset(&c, 0, sizeof c);
    c.net = net;
    c.kink_layer = tanh_act ? -1 : 1;
    c.x = gan_tensor_make((gan_float *)xcalloc(3 * 36, sizeof(gan_float)), 3, 1, 6, 6);
    gan_fill_uniform(c.x.data, 3 * 36, -1, 1, &rng);
    for (i = 0; i < gan_net_param_count(net); i++) {
        gan_param p = gan_net_param(net, i);
        if (strcmp(p.role, "bias") == 0) gan_fill_uniform(p.data, p.count, -0.5, 0.5, &rng);
    }
    ana = (gan_float *)xcalloc(net->n_params, sizeof(gan_float));
    num = (gan_float *)xcalloc(net->n_params, sizeof(gan_float));
    gtrain = (gan_float *)xcalloc(net->n_params, sizeof(gan_float));

    /* two training penalties move u, v; a third gives the training-mode gradients */
    c.kind = GAN_PENALTY_WGAN_GP;
    c.weight = 10;
    penalty_loss(&c);
    penalty_loss(&c);
    gan_net_zero_grad(net);
    penalty_loss(&c);
    memcpy(gtrain, net->grads, net->n_params * sizeof(gan_float));

    gan_net_set_training(net, 0);
    for (k = 0; k < 2; k++) {
        double big = 0;
        c.kind = kinds[k].kind;
        c.weight = kinds[k].weight;
        gan_net_zero_grad(net);
        c.recording = 1;
        P = (gan_float)penalty_loss(&c);
        c.recording = 0;
        memcpy(ana, net->grads, net->n_params * sizeof(gan_float));
        if (k == 0) {
            sprintf(name, "spectral_fd %s: a training-mode penalty's gradients are bitwise the evaluation-mode ones at its u, v",
                    cas);
            test_report(name, memcmp(ana, gtrain, net->n_params * sizeof(gan_float)) == 0, "gradients differ");
        }
        printf("# spectral_fd %s, %s: P = %.6f\n", cas, kinds[k].name, (double)P);
        for (i = 0; i < gan_net_param_count(net); i++) {
            gan_param p = gan_net_param(net, i);
            for (j = 0; j < p.count; j++) {
                num[(p.data - net->params) + j] = (gan_float)penalty_diff(&c, p.data + j);
                if (fabs(num[(p.data - net->params) + j]) > big) big = fabs(num[(p.data - net->params) + j]);
            }
        }
        for (i = 0; i < gan_net_param_count(net); i++) {
            gan_param p = gan_net_param(net, i);
            size_t off = (size_t)(p.data - net->params);
            double nmax = 0, amax = 0;
            for (j = 0; j < p.count; j++) {
                if (fabs(num[off + j]) > nmax) nmax = fabs(num[off + j]);
                if (fabs(ana[off + j]) > amax) amax = fabs(ana[off + j]);
            }
            if (nmax < ZERO_REL * big) {
                sprintf(name, "spectral_fd %s, %s: d/d %s is zero, numerically and analytically", cas, kinds[k].name, p.name);
                test_report(name, amax < ZERO_REL * big, "analytic max |gradient| %.3g, numeric %.3g, largest %.3g", amax,
                            nmax, big);
            } else {
                sprintf(name, "spectral_fd %s, %s: d/d %s against differences of the penalty (evaluation mode)", cas,
                        kinds[k].name, p.name);
                report_error(name, ana + off, num + off, p.count);
            }
        }
    }
    free(c.x.data);
    free(ana);
    free(num);
    free(gtrain);
    gan_net_free(net);
}

int main(void)
{
    /* Line by line, so the results before a failed assertion still reach tests/run. */
    setvbuf(stdout, NULL, _IOLBF, BUFSIZ);
    fx_init_verbose();
    sn_parity_all();
    test_layer("Linear(5, 3)", gan_spectral_norm(gan_linear(5, 3)), gan_chw(5, 1, 1), 3, 81);
    test_layer("Conv2d(2, 4, 3, 2, 1)", gan_spectral_norm(gan_conv2d(2, 4, 3, 2, 1)), gan_chw(2, 5, 5), 2, 82);
    test_layer("Conv2d(1, 4, 4, 2, 1) without bias", gan_spectral_norm(gan_no_bias(gan_conv2d(1, 4, 4, 2, 1))),
               gan_chw(1, 6, 6), 2, 83);
    test_critic("critic (LeakyReLU)", 0, 91);
    test_critic("critic (Tanh)", 1, 92);
    printf("# spectral_fd: %ld penalty differences crossed a kink and were redone with a 100 times smaller step\n", redone);
    printf("# spectral_fd: worst relative error among passing gradient checks %.3g (%s)\n", worst_pass, worst_pass_name);
    return test_finish();
}
