/* tests/gradcheck.h - what the finite-difference gradient checks (test_grad.c, test_compose.c) share:
   the step and threshold, the error of an analytic gradient against a numeric one and its report,
   and a network whose norm layers are given weights that cannot hide a missing factor.

   Numeric gradients use the five-point central difference
       L'(v) ~ (8 (L(v + h) - L(v - h)) - (L(v + 2h) - L(v - 2h))) / (12 h),   h = STEP = 1e-4,
   whose truncation error is h^4 L^(5)(v) / 30 and rounding error about 18 eps |L| / (12 h): near
   1e-12 in double (GAN_DOUBLE) for these small networks, far below TOL, so a failure is a wrong
   gradient and not noise.

   The error of an analytic gradient a against the numeric n (one tensor of count values) is
       max_i |a_i - n_i| / max(|a_i| + |n_i|, 1e-3 max_j (|a_j| + |n_j|)),   must be below TOL = 1e-6.
   It is elementwise, so one wrong element among thousands shows at its full size (a normwise ratio
   would dilute it by sqrt(count)); the floor keeps an element whose gradient cancels to about 0
   from turning rounding noise into a large ratio (0 / 0 at worst). NaN counts as infinite.

   Include after "../gan.h" (built with GAN_DOUBLE), with GRADCHECK_PREFIX defined to the program's
   short name ("grad", "compose"), which prefixes the FAIL line of a fatal error. */
#ifndef GAN_GRADCHECK_H
#define GAN_GRADCHECK_H

#ifndef GAN_H_INCLUDE
#error "include ../gan.h before tests/gradcheck.h"
#endif
#ifndef GRADCHECK_PREFIX
#error "define GRADCHECK_PREFIX (the program's short name) before including tests/gradcheck.h"
#endif

#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-6   /* largest relative error accepted */
#define STEP 1e-4  /* finite-difference step */

/* The largest error among the checks that passed, and its name; report_error keeps them. */
TEST_MAYBE_UNUSED static double worst_pass;
TEST_MAYBE_UNUSED static char worst_pass_name[200];

TEST_MAYBE_UNUSED static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        printf("FAIL " GRADCHECK_PREFIX ": out of memory\n");
        exit(1);
    }
    return p;
}

TEST_MAYBE_UNUSED static size_t shape_count(gan_shape s)
{
    return (size_t)s.c * s.h * s.w;
}

/* ReLU and LeakyReLU: a difference whose evaluations cross 0 in their input is not a derivative. */
TEST_MAYBE_UNUSED static int is_kink(gan_layer_kind k)
{
    return k == GAN_RELU || k == GAN_LEAKY_RELU;
}

/* The error described at the top; *at is where it is largest. NaN counts as infinite. */
TEST_MAYBE_UNUSED static double grad_error(const gan_float *a, const gan_float *n, size_t count, size_t *at)
{
    double scale = 0, worst = 0;
    size_t i;
    *at = 0;
    for (i = 0; i < count; i++) {
        double s = fabs(a[i]) + fabs(n[i]);
        if (s > scale || s != s) scale = s;
    }
    for (i = 0; i < count; i++) {
        double den = fabs(a[i]) + fabs(n[i]), e;
        if (den < 1e-3 * scale) den = 1e-3 * scale;
        e = den > 0 ? fabs(a[i] - n[i]) / den : 0;
        if (e != e || den != den) e = HUGE_VAL;
        if (e > worst) {
            worst = e;
            *at = i;
        }
    }
    return worst;
}

/* One check: passes if grad_error < TOL. A numeric gradient that is identically zero fails, since
   every tensor checked has a non-zero gradient and all zeros would make the check vacuous. */
TEST_MAYBE_UNUSED static void report_error(const char *name, const gan_float *a, const gan_float *n, size_t count)
{
    size_t at, i;
    double e = grad_error(a, n, count, &at), big = 0;
    for (i = 0; i < count; i++)
        if (fabs(n[i]) > big) big = fabs(n[i]);
    if (big == 0) {
        test_report(name, 0, "the numeric gradient is identically zero, so nothing was checked");
        return;
    }
    test_report(name, e < TOL, "max relative error %.3g at element %zu of %zu: analytic %.15g, numeric %.15g", e, at,
                count, (double)a[at], (double)n[at]);
    if (e < TOL && e > worst_pass) {
        worst_pass = e;
        sprintf(worst_pass_name, "%.199s", name);
    }
}

/* A loss to differentiate numerically: loss(ctx) evaluates it and sets *crossed when one of its
   evaluations put a ReLU / LeakyReLU input on the other side of 0 than the one recorded (the
   difference is then no derivative). */
typedef struct fd_loss {
    double (*loss)(void *ctx);
    void *ctx;
    int *crossed;
    int tries;     /* steps to try: STEP, STEP shrink, STEP shrink^2, ... */
    double shrink;
    long redone;   /* differences redone with a smaller step because one crossed a kink */
} fd_loss;

TEST_MAYBE_UNUSED static fd_loss fd_loss_of(double (*loss)(void *), void *ctx, int *crossed, int tries, double shrink)
{
    fd_loss d;
    d.loss = loss;
    d.ctx = ctx;
    d.crossed = crossed;
    d.tries = tries;
    d.shrink = shrink;
    d.redone = 0;
    return d;
}

/* dL/dv by the five-point difference above (v is put back); where a step crosses a kink, the next
   smaller one; NaN if every step does. */
TEST_MAYBE_UNUSED static double five_point(fd_loss *d, gan_float *v)
{
    static const double at[4] = { 2, 1, -1, -2 };
    const gan_float v0 = *v;
    double h = STEP, f[4];
    int tries, k;
    for (tries = 0; tries < d->tries; tries++, h *= d->shrink) {
        *d->crossed = 0;
        for (k = 0; k < 4; k++) {
            *v = v0 + at[k] * h;
            f[k] = d->loss(d->ctx);
        }
        *v = v0;
        if (!*d->crossed) return (8 * (f[1] - f[2]) - (f[0] - f[3])) / (12 * h);
        d->redone++;
    }
    return NAN;
}

/* Norm layers' weights uniform in [0.5, 1.5] and biases in [-0.5, 0.5] from rng, so that gamma = 1,
   beta = 0 cannot hide a missing factor. */
TEST_MAYBE_UNUSED static void randomize_norms(gan_net *net, gan_rng *rng)
{
    int p;
    for (p = 0; p < gan_net_param_count(net); p++) {
        gan_param prm = gan_net_param(net, p);
        gan_layer_kind k = net->layers[prm.layer].kind;
        if (k != GAN_BATCHNORM && k != GAN_LAYERNORM) continue;
        if (strcmp(prm.role, "weight") == 0)
            gan_fill_uniform(prm.data, prm.count, 0.5, 1.5, rng);
        else
            gan_fill_uniform(prm.data, prm.count, -0.5, 0.5, rng);
    }
}

/* A network with PyTorch's initialization drawn from *rng (seeded by the caller), then its norm
   layers randomized from the same rng. Left in training mode; *rng continues for further draws. */
TEST_MAYBE_UNUSED static gan_net *make_norm_net(gan_shape in, const gan_layer *layers, int n_layers, int max_batch,
                                                gan_rng *rng)
{
    gan_net *net = gan_net_create(in, layers, n_layers, max_batch, rng);
    if (!net) {
        printf("FAIL " GRADCHECK_PREFIX ": gan_net_create: %s\n", gan_last_error());
        exit(1);
    }
    randomize_norms(net, rng);
    return net;
}

#endif
