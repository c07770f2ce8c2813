/* tests/test_optim.c - the optimizers against updates worked out by hand.

   Every expected value below is written out from the formulas in gan.h's CONVENTIONS for one scalar
   parameter w0 = 1 and the gradient sequence g1 = 0.5, g2 = -0.25, g3 = 1.0, in double arithmetic
   that does not go through gan.h. The hyper-parameters are dyadic fractions (0.75, 0.9375, 0.125...)
   so that they are exact in float and the float results differ from the double ones only by
   rounding. Epsilon is large (0.125) on purpose: with it, putting eps inside the square root, or
   before the bias correction, or leaving out a bias correction, changes the result far beyond the
   tolerance, and the test asserts that each of those alternatives would fail. */
#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "test.h"

#include <math.h>
#include <stddef.h>

/* A float parameter near 1 after three updates carries a few ulps (6e-8 each) of rounding. */
#define TOL 2e-6

/* An alternative formula "would not match" if it misses the hand values by this much. */
#define FAR (100 * TOL)

static const double G[3] = {0.5, -0.25, 1.0};

/* Three calls of gan_optim_update on one scalar (w = 1, moments 0), opt.step counted from 1 before
   each call, as the API asks. out[t] is w after step t + 1. */
static void run_scalar(gan_optim opt, const double g[3], double out[3])
{
    gan_float w = 1, m = 0, v = 0, dw;
    int t;
    opt.step = 0;
    for (t = 0; t < 3; t++) {
        dw = (gan_float)g[t];
        opt.step++;
        gan_optim_update(&w, &m, &v, &dw, &opt, 1);
        out[t] = w;
    }
}

static double max_diff3(const double a[3], const double b[3])
{
    double d = 0;
    int t;
    for (t = 0; t < 3; t++)
        if (fabs(a[t] - b[t]) > d) d = fabs(a[t] - b[t]);
    return d;
}

static void check3(const char *name, const double got[3], const double want[3])
{
    test_report(name, max_diff3(got, want) <= TOL,
                "after steps 1..3 got w = %.9f %.9f %.9f, want %.9f %.9f %.9f",
                got[0], got[1], got[2], want[0], want[1], want[2]);
}

/* The ways an Adam implementation can misplace eps or the bias corrections, for the discrimination
   check: each runs the same three steps in double with one formula changed. */
enum adam_variant {
    EPS_INSIDE_SQRT,        /* m^ / sqrt(v^ + eps) */
    EPS_SQUARED_INSIDE,     /* m^ / sqrt(v^ + eps^2) */
    EPS_BEFORE_CORRECTION,  /* m^ / ((sqrt(v) + eps) / sqrt(1 - b2^t)): the paper's eps-hat form */
    NO_CORRECTION,          /* m / (sqrt(v) + eps) */
    NO_V_CORRECTION,        /* m^ / (sqrt(v) + eps) */
    NO_M_CORRECTION,        /* m / (sqrt(v^) + eps) */
    N_ADAM_VARIANTS
};

static void adam_variant(int variant, double lr, double b1, double b2, double eps, double out[3])
{
    double w = 1, m = 0, v = 0, c1, c2, u = 0;
    int t;
    for (t = 1; t <= 3; t++) {
        m = b1 * m + (1 - b1) * G[t - 1];
        v = b2 * v + (1 - b2) * G[t - 1] * G[t - 1];
        c1 = 1 - pow(b1, t);
        c2 = 1 - pow(b2, t);
        switch (variant) {
        case EPS_INSIDE_SQRT:       u = (m / c1) / sqrt(v / c2 + eps); break;
        case EPS_SQUARED_INSIDE:    u = (m / c1) / sqrt(v / c2 + eps * eps); break;
        case EPS_BEFORE_CORRECTION: u = (m / c1) / ((sqrt(v) + eps) / sqrt(c2)); break;
        case NO_CORRECTION:         u = m / (sqrt(v) + eps); break;
        case NO_V_CORRECTION:       u = (m / c1) / (sqrt(v) + eps); break;
        case NO_M_CORRECTION:       u = m / (sqrt(v / c2) + eps); break;
        }
        w -= lr * u;
        out[t - 1] = w;
    }
}

/* ---- Adam ---------------------------------------------------------------------------------------- */

/* lr = 0.125, b1 = 0.75, b2 = 0.9375, eps = 0.125.
   t = 1: m = 0.25 * 0.5 = 0.125                 v = 0.0625 * 0.25 = 0.015625
          m^ = 0.125 / (1 - 0.75) = 0.5          sqrt(v^) = sqrt(0.015625) / sqrt(0.0625) = 0.5
          u1 = 0.125 * 0.5 / (0.5 + 0.125) = 0.1                              w1 = 0.9
   t = 2: m = 0.75 * 0.125 + 0.25 * -0.25 = 0.03125
          v = 0.9375 * 0.015625 + 0.0625 * 0.0625 = 0.0185546875
          1 - b1^2 = 0.4375, 1 - b2^2 = 0.12109375
          m^ = 0.03125 / 0.4375 = 0.0714286      sqrt(v^) = sqrt(0.0185546875) / sqrt(0.12109375) = 0.391441
          u2 = 0.125 * 0.0714286 / (0.391441 + 0.125) = 0.0172887             w2 = 0.882711
   t = 3: m = 0.75 * 0.03125 + 0.25 * 1 = 0.2734375
          v = 0.9375 * 0.0185546875 + 0.0625 * 1 = 0.07989501953125
          1 - b1^3 = 0.578125, 1 - b2^3 = 0.176025390625
          m^ = 0.2734375 / 0.578125 = 0.472973  sqrt(v^) = sqrt(0.07989501953125) / sqrt(0.176025390625) = 0.673709
          u3 = 0.125 * 0.472973 / (0.673709 + 0.125) = 0.0740215              w3 = 0.808690 */
static double adam_u1(void) { return 0.125 * (0.125 / 0.25) / (sqrt(0.015625) / sqrt(0.0625) + 0.125); }
static double adam_u2(void) { return 0.125 * (0.03125 / 0.4375) / (sqrt(0.0185546875) / sqrt(0.12109375) + 0.125); }
static double adam_u3(void)
{
    return 0.125 * (0.2734375 / 0.578125) / (sqrt(0.07989501953125) / sqrt(0.176025390625) + 0.125);
}

static gan_optim hand_adam(void)
{
    gan_optim opt = gan_adam(0.125f, 0.75f, 0.9375f);
    opt.eps = 0.125f;
    return opt;
}

static void test_adam(void)
{
    double want[3], got[3], alt[3];
    int k, all_far = 1;
    static const char *const names[N_ADAM_VARIANTS] = {
        "eps inside sqrt", "eps^2 inside sqrt", "eps before bias correction",
        "no bias correction", "no correction of v", "no correction of m"};

    want[0] = 1 - adam_u1();
    want[1] = want[0] - adam_u2();
    want[2] = want[1] - adam_u3();
    run_scalar(hand_adam(), G, got);
    check3("adam.three_steps_by_hand", got, want);

    /* The hand values must be far from every misplaced formula, or the check above proves nothing. */
    for (k = 0; k < N_ADAM_VARIANTS; k++) {
        adam_variant(k, 0.125, 0.75, 0.9375, 0.125, alt);
        if (max_diff3(alt, want) < FAR) {
            all_far = 0;
            printf("# adam variant \"%s\" is within %g of the hand values\n", names[k], FAR);
        }
    }
    test_report("adam.hand_values_reject_misplaced_eps_and_corrections", all_far,
                "some alternative formula would pass the hand-value check");
}

/* AdamW, weight_decay 0.5: w <- w (1 - lr wd) = w (1 - 0.0625) first, then the same Adam step u_t as
   above (decoupled decay leaves m and v alone):
   w1 = 1 * 0.9375 - 0.1 = 0.8375
   w2 = 0.8375 * 0.9375 - 0.0172887 = 0.767868
   w3 = 0.767868 * 0.9375 - 0.0740215 = 0.645854
   Decaying after the Adam step instead, (w - u) (1 - lr wd), gives w1 = 0.84375; folding the decay
   into the gradient (L2 Adam) changes m and v: both are asserted not to match. */
static void test_adamw(void)
{
    gan_optim opt = hand_adam();
    double want[3], got[3], after[3], l2[3];
    double w, m, v, g;
    int t;

    opt.weight_decay = 0.5f;
    want[0] = 1.0 * 0.9375 - adam_u1();
    want[1] = want[0] * 0.9375 - adam_u2();
    want[2] = want[1] * 0.9375 - adam_u3();
    run_scalar(opt, G, got);
    check3("adamw.three_steps_by_hand", got, want);

    after[0] = (1.0 - adam_u1()) * 0.9375;
    after[1] = (after[0] - adam_u2()) * 0.9375;
    after[2] = (after[1] - adam_u3()) * 0.9375;
    w = 1; m = 0; v = 0;
    for (t = 1; t <= 3; t++) {
        g = G[t - 1] + 0.5 * w;
        m = 0.75 * m + 0.25 * g;
        v = 0.9375 * v + 0.0625 * g * g;
        w -= 0.125 * (m / (1 - pow(0.75, t))) / (sqrt(v) / sqrt(1 - pow(0.9375, t)) + 0.125);
        l2[t - 1] = w;
    }
    test_report("adamw.hand_values_reject_decay_after_step_and_l2",
                max_diff3(after, want) >= FAR && max_diff3(l2, want) >= FAR,
                "decay-after differs by %g, L2 by %g (need >= %g)",
                max_diff3(after, want), max_diff3(l2, want), FAR);
}

/* With the PyTorch defaults the first step of Adam on any gradient g moves w by
   lr m^ / (sqrt(v^) + eps) = lr g / (|g| + eps), i.e. lr sign(g) up to eps. Eight parameters with
   gradients of very different sizes and both signs in one call also check the indexing over n. */
static void test_adam_first_step_sign(void)
{
    static const double g[8] = {3.0, -0.2, 1e-3, -50.0, 0.7, -1e-4, 12.5, -0.9};
    gan_float w[8], m[8], v[8], dw[8];
    gan_optim opt = gan_adam(1e-3f, 0.9f, 0.999f);
    double worst = 0, want;
    int i;

    test_report("adam.defaults", opt.kind == GAN_ADAM && opt.eps == 1e-8f && opt.weight_decay == 0 &&
                opt.step == 0 && opt.lr == 1e-3f && opt.beta1 == 0.9f && opt.beta2 == 0.999f,
                "gan_adam(1e-3, 0.9, 0.999) gave kind %d eps %g wd %g step %lld lr %g b1 %g b2 %g",
                (int)opt.kind, (double)opt.eps, (double)opt.weight_decay, (long long)opt.step, (double)opt.lr,
                (double)opt.beta1, (double)opt.beta2);
    for (i = 0; i < 8; i++) {
        w[i] = 0.5f;
        m[i] = v[i] = 0;
        dw[i] = (gan_float)g[i];
    }
    opt.step = 1;
    gan_optim_update(w, m, v, dw, &opt, 8);
    for (i = 0; i < 8; i++) {
        want = 0.5 - 1e-3 * g[i] / (fabs(g[i]) + 1e-8);
        if (fabs(w[i] - want) > worst) worst = fabs(w[i] - want);
    }
    /* |w| = 0.5 in float has ulp 6e-8; the step is 1e-3, so 2e-7 is a few ulps. */
    test_report("adam.first_step_is_lr_sign_g", worst <= 2e-7,
                "worst |w - (0.5 - lr g / (|g| + eps))| = %g", worst);
}

/* ---- SGD ----------------------------------------------------------------------------------------- */

static void test_sgd(void)
{
    gan_optim opt;
    double want[3], got[3], damp[3];

    opt = gan_sgd(0.25f, 0);
    test_report("sgd.defaults", opt.kind == GAN_SGD && opt.lr == 0.25f && opt.momentum == 0 &&
                opt.weight_decay == 0 && opt.step == 0,
                "gan_sgd(0.25, 0) gave kind %d lr %g momentum %g wd %g step %lld", (int)opt.kind,
                (double)opt.lr, (double)opt.momentum, (double)opt.weight_decay, (long long)opt.step);

    /* Plain SGD, lr 0.25: w1 = 1 - 0.25 * 0.5 = 0.875, w2 = 0.875 + 0.25 * 0.25 = 0.9375,
       w3 = 0.9375 - 0.25 * 1 = 0.6875. */
    want[0] = 1 - 0.25 * 0.5;
    want[1] = want[0] - 0.25 * -0.25;
    want[2] = want[1] - 0.25 * 1.0;
    run_scalar(opt, G, got);
    check3("sgd.three_steps_by_hand", got, want);

    /* Momentum 0.75, PyTorch's form buf = mu buf + g, w -= lr buf:
       buf1 = 0.5                          w1 = 1 - 0.25 * 0.5 = 0.875
       buf2 = 0.75 * 0.5 - 0.25 = 0.125    w2 = 0.875 - 0.25 * 0.125 = 0.84375
       buf3 = 0.75 * 0.125 + 1 = 1.09375   w3 = 0.84375 - 0.25 * 1.09375 = 0.5703125 */
    opt = gan_sgd(0.25f, 0.75f);
    want[0] = 1 - 0.25 * 0.5;
    want[1] = want[0] - 0.25 * (0.75 * 0.5 - 0.25);
    want[2] = want[1] - 0.25 * (0.75 * (0.75 * 0.5 - 0.25) + 1.0);
    run_scalar(opt, G, got);
    check3("sgd.momentum_three_steps_by_hand", got, want);

    /* With dampening, buf = mu buf + (1 - mu) g, the steps would be a quarter as long: not PyTorch's
       default and not what gan.h documents. */
    damp[0] = 1 - 0.25 * (0.25 * 0.5);
    damp[1] = damp[0] - 0.25 * (0.75 * 0.125 + 0.25 * -0.25);
    damp[2] = damp[1] - 0.25 * (0.75 * (0.75 * 0.125 + 0.25 * -0.25) + 0.25 * 1.0);
    test_report("sgd.hand_values_reject_dampening", max_diff3(damp, want) >= FAR,
                "dampened momentum differs by only %g", max_diff3(damp, want));

    /* Momentum 0.75 with weight_decay 0.125 added to the gradient (L2), g' = g + wd w:
       g1' = 0.5 + 0.125 * 1 = 0.625              buf1 = 0.625
       w1 = 1 - 0.25 * 0.625 = 0.84375
       g2' = -0.25 + 0.125 * 0.84375 = -0.14453125 buf2 = 0.75 * 0.625 - 0.14453125 = 0.32421875
       w2 = 0.84375 - 0.25 * 0.32421875 = 0.7626953125
       g3' = 1 + 0.125 * 0.7626953125 = 1.0953369140625
       buf3 = 0.75 * 0.32421875 + 1.0953369140625 = 1.3385009765625
       w3 = 0.7626953125 - 0.25 * 1.3385009765625 = 0.428070068359375 */
    opt = gan_sgd(0.25f, 0.75f);
    opt.weight_decay = 0.125f;
    {
        double g1 = 0.5 + 0.125 * 1.0, buf1 = g1;
        double w1 = 1.0 - 0.25 * buf1;
        double g2 = -0.25 + 0.125 * w1, buf2 = 0.75 * buf1 + g2;
        double w2 = w1 - 0.25 * buf2;
        double g3 = 1.0 + 0.125 * w2, buf3 = 0.75 * buf2 + g3;
        double w3 = w2 - 0.25 * buf3;
        /* Decoupled decay (w -= lr wd w, then the momentum step on the raw gradient) instead: */
        double d1 = 1.0 * (1 - 0.25 * 0.125) - 0.25 * 0.5;
        double d2 = d1 * (1 - 0.25 * 0.125) - 0.25 * (0.75 * 0.5 - 0.25);
        double d3 = d2 * (1 - 0.25 * 0.125) - 0.25 * (0.75 * (0.75 * 0.5 - 0.25) + 1.0);
        double dec[3];
        want[0] = w1;
        want[1] = w2;
        want[2] = w3;
        dec[0] = d1;
        dec[1] = d2;
        dec[2] = d3;
        run_scalar(opt, G, got);
        check3("sgd.weight_decay_momentum_three_steps_by_hand", got, want);
        test_report("sgd.hand_values_reject_decoupled_decay", max_diff3(dec, want) >= FAR,
                    "decoupled decay differs by only %g", max_diff3(dec, want));
    }

    /* Weight decay without momentum: w <- w - lr (g + wd w) = w (1 - 0.03125) - 0.25 g. */
    opt = gan_sgd(0.25f, 0);
    opt.weight_decay = 0.125f;
    want[0] = 1.0 * 0.96875 - 0.25 * 0.5;
    want[1] = want[0] * 0.96875 - 0.25 * -0.25;
    want[2] = want[1] * 0.96875 - 0.25 * 1.0;
    run_scalar(opt, G, got);
    check3("sgd.weight_decay_three_steps_by_hand", got, want);
}

/* ---- RMSProp ------------------------------------------------------------------------------------- */

static void test_rmsprop(void)
{
    gan_optim opt;
    double want[3], got[3], inside[3], corrected[3];

    opt = gan_rmsprop(0.125f, 0.75f);
    test_report("rmsprop.defaults", opt.kind == GAN_RMSPROP && opt.lr == 0.125f && opt.alpha == 0.75f &&
                opt.eps == 1e-8f && opt.momentum == 0 && opt.weight_decay == 0 && opt.step == 0,
                "gan_rmsprop(0.125, 0.75) gave kind %d lr %g alpha %g eps %g momentum %g wd %g step %lld",
                (int)opt.kind, (double)opt.lr, (double)opt.alpha, (double)opt.eps,
                (double)opt.momentum, (double)opt.weight_decay, (long long)opt.step);
    opt.eps = 0.125f;

    /* lr 0.125, alpha 0.75, eps 0.125, no bias correction:
       v1 = 0.25 * 0.25 = 0.0625                    w1 = 1 - 0.125 * 0.5 / (0.25 + 0.125) = 0.833333
       v2 = 0.75 * 0.0625 + 0.25 * 0.0625 = 0.0625  w2 = w1 + 0.125 * 0.25 / (0.25 + 0.125) = 0.916667
       v3 = 0.75 * 0.0625 + 0.25 * 1 = 0.296875     w3 = w2 - 0.125 * 1 / (sqrt(0.296875) + 0.125) = 0.730062 */
    want[0] = 1 - 0.125 * 0.5 / (sqrt(0.0625) + 0.125);
    want[1] = want[0] - 0.125 * -0.25 / (sqrt(0.0625) + 0.125);
    want[2] = want[1] - 0.125 * 1.0 / (sqrt(0.296875) + 0.125);
    run_scalar(opt, G, got);
    check3("rmsprop.three_steps_by_hand", got, want);

    /* eps inside the root (TensorFlow's placement) or an Adam-like bias correction of v must not pass. */
    inside[0] = 1 - 0.125 * 0.5 / sqrt(0.0625 + 0.125);
    inside[1] = inside[0] - 0.125 * -0.25 / sqrt(0.0625 + 0.125);
    inside[2] = inside[1] - 0.125 * 1.0 / sqrt(0.296875 + 0.125);
    corrected[0] = 1 - 0.125 * 0.5 / (sqrt(0.0625 / 0.25) + 0.125);
    corrected[1] = corrected[0] - 0.125 * -0.25 / (sqrt(0.0625 / 0.4375) + 0.125);
    corrected[2] = corrected[1] - 0.125 * 1.0 / (sqrt(0.296875 / 0.578125) + 0.125);
    test_report("rmsprop.hand_values_reject_eps_inside_and_bias_correction",
                max_diff3(inside, want) >= FAR && max_diff3(corrected, want) >= FAR,
                "eps inside differs by %g, bias-corrected by %g", max_diff3(inside, want),
                max_diff3(corrected, want));

    /* Momentum 0.25: buf = 0.25 buf + g / (sqrt(v) + eps), w -= lr buf.
       buf1 = 0.5 / 0.375 = 1.333333                        w1 = 1 - 0.125 * 1.333333 = 0.833333
       buf2 = 0.25 * 1.333333 - 0.25 / 0.375 = -0.333333    w2 = 0.833333 + 0.125 * 0.333333 = 0.875
       buf3 = 0.25 * -0.333333 + 1 / 0.669862 = 1.409512    w3 = 0.875 - 0.125 * 1.409512 = 0.698811 */
    opt.momentum = 0.25f;
    {
        double buf1 = 0.5 / (sqrt(0.0625) + 0.125);
        double buf2 = 0.25 * buf1 + -0.25 / (sqrt(0.0625) + 0.125);
        double buf3 = 0.25 * buf2 + 1.0 / (sqrt(0.296875) + 0.125);
        want[0] = 1 - 0.125 * buf1;
        want[1] = want[0] - 0.125 * buf2;
        want[2] = want[1] - 0.125 * buf3;
    }
    run_scalar(opt, G, got);
    check3("rmsprop.momentum_three_steps_by_hand", got, want);

    /* weight_decay 0.125 (L2), no momentum: g' = g + 0.125 w, v from g'.
       g1' = 0.625, v1 = 0.25 * 0.390625 = 0.09765625, w1 = 1 - 0.125 * 0.625 / (0.3125 + 0.125) = 0.821429 */
    opt.momentum = 0;
    opt.weight_decay = 0.125f;
    {
        double g1 = 0.5 + 0.125 * 1.0, v1 = 0.25 * g1 * g1;
        double w1 = 1.0 - 0.125 * g1 / (sqrt(v1) + 0.125);
        double g2 = -0.25 + 0.125 * w1, v2 = 0.75 * v1 + 0.25 * g2 * g2;
        double w2 = w1 - 0.125 * g2 / (sqrt(v2) + 0.125);
        double g3 = 1.0 + 0.125 * w2, v3 = 0.75 * v2 + 0.25 * g3 * g3;
        double w3 = w2 - 0.125 * g3 / (sqrt(v3) + 0.125);
        want[0] = w1;
        want[1] = w2;
        want[2] = w3;
    }
    run_scalar(opt, G, got);
    check3("rmsprop.weight_decay_three_steps_by_hand", got, want);
}

/* ---- the same updates through a network ---------------------------------------------------------- */

/* Reference update of one value in double, straight from the CONVENTIONS formulas (t counts from 1). */
static void ref_update(const gan_optim *o, double *w, double *m, double *v, double g, long t)
{
    double lr = o->lr, wd = o->weight_decay, eps = o->eps;
    switch (o->kind) {
    case GAN_SGD:
        g += wd * *w;
        *m = o->momentum * *m + g;
        *w -= lr * (o->momentum != 0 ? *m : g);
        break;
    case GAN_ADAM:
        *w -= lr * wd * *w;
        *m = o->beta1 * *m + (1 - (double)o->beta1) * g;
        *v = o->beta2 * *v + (1 - (double)o->beta2) * g * g;
        *w -= lr * (*m / (1 - pow(o->beta1, (double)t))) /
              (sqrt(*v) / sqrt(1 - pow(o->beta2, (double)t)) + eps);
        break;
    case GAN_RMSPROP:
        g += wd * *w;
        *v = o->alpha * *v + (1 - (double)o->alpha) * g * g;
        if (o->momentum != 0) {
            *m = o->momentum * *m + g / (sqrt(*v) + eps);
            *w -= lr * *m;
        } else {
            *w -= lr * g / (sqrt(*v) + eps);
        }
        break;
    }
}

#define NET_MAX 64

/* Runs `steps` gan_net_step calls with hand-set gradients (a different value for every parameter and
   step) and compares every parameter with ref_update. Returns the worst |difference| and checks that
   gan_net_step counted its steps and left the BatchNorm buffers alone. */
static double net_steps_vs_reference(gan_net *net, gan_optim opt, int steps, int *step_ok, int *buffers_ok)
{
    double w[NET_MAX], m[NET_MAX], v[NET_MAX], worst = 0, g;
    gan_float buf_before[NET_MAX];
    int np = gan_net_param_count(net), nb = gan_net_buffer_count(net);
    int t, i, j = 0, k;
    size_t e;

    gan_net_set_optim(net, opt);
    for (i = 0; i < np; i++) {
        gan_param p = gan_net_param(net, i);
        for (e = 0; e < p.count; e++, j++) {
            w[j] = p.data[e];
            m[j] = v[j] = 0;
        }
    }
    for (i = 0, k = 0; i < nb; i++) {
        gan_param b = gan_net_buffer(net, i);
        for (e = 0; e < b.count; e++) buf_before[k++] = b.data[e];
    }
    for (t = 1; t <= steps; t++) {
        for (i = 0, j = 0; i < np; i++) {
            gan_param p = gan_net_param(net, i);
            for (e = 0; e < p.count; e++, j++) {
                /* gradients of both signs and several sizes, changing from step to step */
                g = G[(j + t) % 3] * (1.0 + 0.125 * (j % 7)) * ((j % 2) ? -1.0 : 1.0);
                p.grad[e] = (gan_float)g;
                ref_update(&net->opt, &w[j], &m[j], &v[j], (double)(gan_float)g, t);
            }
        }
        gan_net_step(net);
        for (i = 0, j = 0; i < np; i++) {
            gan_param p = gan_net_param(net, i);
            for (e = 0; e < p.count; e++, j++)
                if (fabs(p.data[e] - w[j]) > worst) worst = fabs(p.data[e] - w[j]);
        }
    }
    *step_ok = net->opt.step == steps;
    *buffers_ok = 1;
    for (i = 0, k = 0; i < nb; i++) {
        gan_param b = gan_net_buffer(net, i);
        for (e = 0; e < b.count; e++)
            if (b.data[e] != buf_before[k++]) *buffers_ok = 0;
    }
    return worst;
}

/* Three steps of opt through gan_net_step against the reference; one report line. */
static void net_steps_report(gan_net *net, gan_optim opt, const char *name, double tol)
{
    int step_ok, buffers_ok;
    double worst = net_steps_vs_reference(net, opt, 3, &step_ok, &buffers_ok);
    test_report(name, worst <= tol && step_ok && buffers_ok,
                "worst |w - reference| %g (tolerance %g), opt.step %lld (want 3), buffers untouched %d", worst, tol,
                (long long)net->opt.step, buffers_ok);
}

static void test_net_step(void)
{
    gan_rng rng;
    gan_layer layers[4];
    gan_net *net;
    gan_optim opt;
    double scale;
    int i, np, cleared, j, total, inside;
    size_t e;

    gan_rng_seed(&rng, 7);
    layers[0] = gan_linear(3, 4);
    layers[1] = gan_batchnorm(4);
    layers[2] = gan_relu();
    layers[3] = gan_linear(4, 2);
    net = gan_net_create(gan_chw(3, 1, 1), layers, 4, 2, &rng);
    if (!net) {
        test_report("net_step.create", 0, "gan_net_create failed: %s", gan_last_error());
        return;
    }
    /* gan_net_step updates the block net->params[0 .. n_params) (which may hold alignment padding
       between tensors), so every enumerated tensor must lie inside it. */
    np = gan_net_param_count(net);
    total = 0;
    inside = 1;
    for (i = 0; i < np; i++) {
        gan_param p = gan_net_param(net, i);
        total += (int)p.count;
        if (p.data < net->params || p.data + p.count > net->params + net->n_params ||
            p.grad != net->grads + (p.data - net->params))
            inside = 0;
    }
    /* 12 + 4 (linear) + 4 + 4 (batchnorm) + 8 + 2 (linear) */
    test_report("net_step.params_cover_the_net", total == 34 && inside,
                "params enumerate %d values (want 34); all inside the stepped block: %d", total, inside);
    if (total > NET_MAX || !inside) {
        test_skip("net_step.optimizers", "the parameter list does not cover the net, so the "
                  "per-parameter comparison cannot run");
        gan_net_free(net);
        return;
    }
    test_report("net_step.created_with_adam", net->opt.kind == GAN_ADAM && net->opt.step == 0 &&
                net->opt.lr == 1e-3f && net->opt.beta1 == 0.9f && net->opt.beta2 == 0.999f,
                "a new net's optimizer is kind %d lr %g b1 %g b2 %g step %lld", (int)net->opt.kind,
                (double)net->opt.lr, (double)net->opt.beta1, (double)net->opt.beta2, (long long)net->opt.step);

    /* Each optimizer in turn on the same net: gan_net_set_optim must clear what the previous one
       left in the moments, or the reference (which starts from zero moments) will not match. */
    opt = hand_adam();
    opt.weight_decay = 0.5f;
    net_steps_report(net, opt, "net_step.adamw_updates_every_parameter", TOL);

    /* gan_net_set_optim clears the step and both moments. */
    opt = gan_sgd(0.25f, 0.75f);
    opt.step = 5; /* a stale count in the argument must not survive either */
    gan_net_set_optim(net, opt);
    cleared = net->opt.step == 0 && net->opt.kind == GAN_SGD && net->opt.lr == 0.25f;
    for (j = 0; (size_t)j < net->n_params; j++)
        if (net->opt_m[j] != 0 || net->opt_v[j] != 0) cleared = 0;
    test_report("net_step.set_optim_clears_moments_and_step", cleared,
                "after set_optim: step %lld, kind %d, or a moment is not zero", (long long)net->opt.step,
                (int)net->opt.kind);

    /* The parameters have moved, so the tolerance grows with their size. */
    scale = 0;
    for (i = 0; i < np; i++) {
        gan_param p = gan_net_param(net, i);
        for (e = 0; e < p.count; e++)
            if (fabs(p.data[e]) > scale) scale = fabs(p.data[e]);
    }
    scale = scale > 1 ? scale : 1;

    opt = gan_sgd(0.25f, 0.75f);
    opt.weight_decay = 0.125f;
    net_steps_report(net, opt, "net_step.sgd_momentum_updates_every_parameter", 4 * TOL * scale);

    opt = gan_rmsprop(0.125f, 0.75f);
    opt.eps = 0.125f;
    opt.momentum = 0.25f;
    net_steps_report(net, opt, "net_step.rmsprop_momentum_updates_every_parameter", 4 * TOL * scale);

    gan_net_free(net);
}

int main(void)
{
    test_adam();
    test_adamw();
    test_adam_first_step_sign();
    test_sgd();
    test_rmsprop();
    test_net_step();
    return test_finish();
}
