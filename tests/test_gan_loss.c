/* tests/test_gan_loss.c - the adversarial losses (gan_loss_d, gan_loss_g, gan_loss_name) and the
   papers' recipes (gan_default_train, gan_family_name, gan_family_parse), in double (GAN_DOUBLE).

   1. Values: for each of the five losses, L_D and L_G against the formulas of gan.h's doc block
      written here again in long double,
          minimax          L_D = mean softplus(-r) + mean softplus(f)     L_G = -mean softplus(f)
          non-saturating   L_D the same                                   L_G = mean softplus(-f)
          least squares    L_D = mean (r - 1)^2 / 2 + mean f^2 / 2        L_G = mean (f - 1)^2 / 2
          hinge            L_D = mean max(0, 1 - r) + mean max(0, 1 + f)  L_G = -mean f
          wasserstein      L_D = mean f - mean r                          L_G = -mean f
      (softplus(x) = log(1 + e^x), taken as x + log1p(e^-x) above 0), on values from -1000 to 1000:
      the softplus losses must stay finite and exact (softplus(1000) = 1000, softplus(-1000) = 0 to
      rounding), relative error below 1e-14 of the mean absolute term. n_real = 7 and n_fake = 4
      differ, so a mean over the wrong count shows. Gradients against the same formulas' derivatives
      (sigmoid(x) = dsoftplus/dx) and against five-point central differences of gan_loss_d and
      gan_loss_g themselves (gradcheck.h's TOL 1e-6), away from the hinges' kinks.
   2. NULL gradient pointers (either, both) give the same value and leave the other gradient as it
      was with both; nothing is written past n values.
   3. The hinges' kinks (r = 1, f = -1): value exactly 0 there, the gradient a subgradient (between the
      one-sided derivatives -1/n and 0, resp. 0 and 1/n), and just off the kink the side's derivative.
   4. Names: five distinct non-empty gan_loss_name strings.
   5. Families: gan_default_train(f) has the papers' settings (loss, penalty kind and weight, clip,
      n_critic, both optimizers with their lr, betas or alpha, eps), batch 64, pack 1, classes 0, no
      EMA; gan_family_parse round-trips every gan_family_name, the documented short names parse, and an
      unknown name is refused with a message that quotes it and lists every name. */
#define GAN_DOUBLE
#define GAN_IMPLEMENTATION
#include "../gan.h"
#define GRADCHECK_PREFIX "gan_loss"
#include "gradcheck.h" /* TOL, STEP, report_error, five_point, fd_loss */

#include <math.h>
#include <stdio.h>
#include <string.h>

#define N_LOSSES 5
#define VAL_TOL 1e-14 /* long double reference against gan.h's double */

/* ---- the formulas, again ----------------------------------------------------------------------- */

static long double softplus_l(long double x) { return x > 0 ? x + log1pl(expl(-x)) : log1pl(expl(x)); }
static long double sigmoid_l(long double x) { return x >= 0 ? 1 / (1 + expl(-x)) : expl(x) / (1 + expl(x)); }

/* One value's term of L_D (real or fake) or L_G, and its derivative. */
static long double term_d_real(gan_loss loss, long double r, long double *d)
{
    switch (loss) {
    case GAN_LOSS_MINIMAX:
    case GAN_LOSS_NONSATURATING: *d = -sigmoid_l(-r); return softplus_l(-r);
    case GAN_LOSS_LEAST_SQUARES: *d = r - 1; return (r - 1) * (r - 1) / 2;
    case GAN_LOSS_HINGE: *d = r < 1 ? -1 : 0; return r < 1 ? 1 - r : 0;
    case GAN_LOSS_WASSERSTEIN: *d = -1; return -r;
    }
    *d = 0;
    return 0;
}

static long double term_d_fake(gan_loss loss, long double f, long double *d)
{
    switch (loss) {
    case GAN_LOSS_MINIMAX:
    case GAN_LOSS_NONSATURATING: *d = sigmoid_l(f); return softplus_l(f);
    case GAN_LOSS_LEAST_SQUARES: *d = f; return f * f / 2;
    case GAN_LOSS_HINGE: *d = f > -1 ? 1 : 0; return f > -1 ? 1 + f : 0;
    case GAN_LOSS_WASSERSTEIN: *d = 1; return f;
    }
    *d = 0;
    return 0;
}

static long double term_g(gan_loss loss, long double f, long double *d)
{
    switch (loss) {
    case GAN_LOSS_MINIMAX: *d = -sigmoid_l(f); return -softplus_l(f);
    case GAN_LOSS_NONSATURATING: *d = -sigmoid_l(-f); return softplus_l(-f);
    case GAN_LOSS_LEAST_SQUARES: *d = f - 1; return (f - 1) * (f - 1) / 2;
    case GAN_LOSS_HINGE:
    case GAN_LOSS_WASSERSTEIN: *d = -1; return -f;
    }
    *d = 0;
    return 0;
}

static const char *loss_label(gan_loss loss)
{
    static const char *const names[N_LOSSES] = { "minimax", "nonsaturating", "least_squares", "hinge", "wasserstein" };
    return names[loss];
}

/* ---- the values checked ---------------------------------------------------------------------- */

/* Real outputs (7) and fake ones (4): large |x|, values near the hinges' kinks (but not on them:
   those are check 3), small and moderate ones. */
#define NR 7
#define NF 4
static const gan_float real_vals[NR] = { -1000, 50, -50, 0.3, 1.75, -2.5, 1000 };
static const gan_float fake_vals[NF] = { 1000, -50, -0.6, 50 };
/* G's inputs: again large and small, on both sides of the kinks. */
#define NG 9
static const gan_float g_vals[NG] = { -1000, -50, -7, -1.2, -0.4, 0.25, 3, 50, 1000 };

static int all_finite(const gan_float *x, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!(x[i] == x[i]) || x[i] > 1e308 || x[i] < -1e308) return 0;
    return 1;
}

/* |a - b| / max(|b|, scale) with NaN infinite */
static double rel_err(double a, long double b, long double scale)
{
    long double den = fabsl(b) > scale ? fabsl(b) : scale;
    double e;
    if (den == 0) den = 1e-300L;
    e = (double)(fabsl((long double)a - b) / den);
    return e == e ? e : HUGE_VAL;
}

/* The largest error of gradient a (n values at x, of term `which`: 0 D real, 1 D fake, 2 G) against
   the formula's derivative / n, elementwise relative with a floor of 1e-6 of the largest: a saturated
   softplus' derivative near 1e-22 next to ones near 1 / n is judged by its absolute error. */
static double grad_rel_err(const gan_float *a, const gan_float *x, int n, gan_loss loss, int which)
{
    long double ref[NG], big = 0, d;
    double worst = 0, e;
    int i;
    for (i = 0; i < n; i++) {
        if (which == 0) term_d_real(loss, x[i], &d);
        else if (which == 1) term_d_fake(loss, x[i], &d);
        else term_g(loss, x[i], &d);
        ref[i] = d / n;
        if (fabsl(ref[i]) > big) big = fabsl(ref[i]);
    }
    for (i = 0; i < n; i++) {
        e = rel_err(a[i], ref[i], 1e-6L * big + 1e-300L);
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

/* Checks values and gradients of one loss against the formulas. */
static void check_formulas(gan_loss loss)
{
    char name[160];
    gan_float gr[NR], gf[NF], gg[NG];
    long double ref = 0, scale = 0, d, sr = 0, sf = 0, ar = 0, af = 0, refg = 0, scaleg = 0;
    double worst_gr = 0, worst_gf = 0, worst_gg = 0, e;
    gan_float v, vg;
    int i;
    for (i = 0; i < NR; i++) {
        long double t = term_d_real(loss, real_vals[i], &d);
        sr += t;
        ar += fabsl(t);
    }
    for (i = 0; i < NF; i++) {
        long double t = term_d_fake(loss, fake_vals[i], &d);
        sf += t;
        af += fabsl(t);
    }
    ref = sr / NR + sf / NF;
    scale = ar / NR + af / NF;
    v = gan_loss_d(gr, gf, real_vals, NR, fake_vals, NF, loss);
    sprintf(name, "loss %s L_D value (n_real %d, n_fake %d, |x| up to 1000)", loss_label(loss), NR, NF);
    e = rel_err(v, ref, scale);
    test_report(name, e < VAL_TOL, "gan_loss_d %.17g, formula %.17Lg: relative error %.3g", (double)v, ref, e);

    worst_gr = grad_rel_err(gr, real_vals, NR, loss, 0);
    worst_gf = grad_rel_err(gf, fake_vals, NF, loss, 1);
    sprintf(name, "loss %s dL_D/dreal formula (each / n_real)", loss_label(loss));
    test_report(name, worst_gr < VAL_TOL && all_finite(gr, NR), "relative error %.3g", worst_gr);
    sprintf(name, "loss %s dL_D/dfake formula (each / n_fake)", loss_label(loss));
    test_report(name, worst_gf < VAL_TOL && all_finite(gf, NF), "relative error %.3g", worst_gf);

    for (i = 0; i < NG; i++) {
        long double t = term_g(loss, g_vals[i], &d);
        refg += t;
        scaleg += fabsl(t);
    }
    refg /= NG;
    scaleg /= NG;
    vg = gan_loss_g(gg, g_vals, NG, loss);
    sprintf(name, "loss %s L_G value (n %d, |x| up to 1000)", loss_label(loss), NG);
    e = rel_err(vg, refg, scaleg);
    test_report(name, e < VAL_TOL, "gan_loss_g %.17g, formula %.17Lg: relative error %.3g", (double)vg, refg, e);
    worst_gg = grad_rel_err(gg, g_vals, NG, loss, 2);
    sprintf(name, "loss %s dL_G/dfake formula", loss_label(loss));
    test_report(name, worst_gg < VAL_TOL && all_finite(gg, NG), "relative error %.3g", worst_gg);
}

/* ---- finite differences of gan_loss_d and gan_loss_g themselves ------------------------------- */

typedef struct fd_ctx {
    gan_loss loss;
    gan_float r[NR], f[NF], g[NG];
    int which; /* 0: L_D, 1: L_G */
} fd_ctx;

static double fd_eval(void *p)
{
    fd_ctx *c = (fd_ctx *)p;
    return c->which == 0 ? gan_loss_d(NULL, NULL, c->r, NR, c->f, NF, c->loss) : gan_loss_g(NULL, c->g, NG, c->loss);
}

/* Moderate values (the five-point difference of softplus at 1000 loses digits to rounding), none
   within 2 STEP of a hinge's kink. */
static const gan_float fd_r[NR] = { -3.5, 0.3, 1.75, -0.2, 0.9, 12, -40 };
static const gan_float fd_f[NF] = { -0.6, 2.2, -1.5, 30 };
static const gan_float fd_g[NG] = { -30, -4, -1.2, -0.4, 0.25, 0.8, 1.3, 3, 25 };

static void check_fd(gan_loss loss)
{
    fd_ctx c;
    int crossed = 0, i;
    fd_loss d = fd_loss_of(fd_eval, &c, &crossed, 1, 1);
    gan_float an_r[NR], an_f[NF], an_g[NG], nu_r[NR], nu_f[NF], nu_g[NG];
    char name[160];
    c.loss = loss;
    memcpy(c.r, fd_r, sizeof c.r);
    memcpy(c.f, fd_f, sizeof c.f);
    memcpy(c.g, fd_g, sizeof c.g);
    gan_loss_d(an_r, an_f, c.r, NR, c.f, NF, loss);
    gan_loss_g(an_g, c.g, NG, loss);
    c.which = 0;
    for (i = 0; i < NR; i++) nu_r[i] = five_point(&d, &c.r[i]);
    for (i = 0; i < NF; i++) nu_f[i] = five_point(&d, &c.f[i]);
    c.which = 1;
    for (i = 0; i < NG; i++) nu_g[i] = five_point(&d, &c.g[i]);
    sprintf(name, "loss %s dL_D/dreal vs finite differences", loss_label(loss));
    report_error(name, an_r, nu_r, NR);
    sprintf(name, "loss %s dL_D/dfake vs finite differences", loss_label(loss));
    report_error(name, an_f, nu_f, NF);
    sprintf(name, "loss %s dL_G/dfake vs finite differences", loss_label(loss));
    report_error(name, an_g, nu_g, NG);
}

/* ---- NULL gradients, and nothing written past n ---------------------------------------------- */

#define GUARD 12345.0

static void check_nulls(gan_loss loss)
{
    gan_float gr[NR + 1], gf[NF + 1], gr2[NR + 1], gf2[NF + 1], gg[NG + 1];
    gan_float v_both, v_nr, v_nf, v_none, g_with, g_none;
    char name[160];
    int i, ok;
    for (i = 0; i <= NR; i++) gr[i] = gr2[i] = GUARD;
    for (i = 0; i <= NF; i++) gf[i] = gf2[i] = GUARD;
    for (i = 0; i <= NG; i++) gg[i] = GUARD;
    v_both = gan_loss_d(gr, gf, real_vals, NR, fake_vals, NF, loss);
    v_nr = gan_loss_d(NULL, gf2, real_vals, NR, fake_vals, NF, loss);
    v_nf = gan_loss_d(gr2, NULL, real_vals, NR, fake_vals, NF, loss);
    v_none = gan_loss_d(NULL, NULL, real_vals, NR, fake_vals, NF, loss);
    ok = v_both == v_nr && v_both == v_nf && v_both == v_none && memcmp(gr, gr2, sizeof gr) == 0 &&
         memcmp(gf, gf2, sizeof gf) == 0;
    sprintf(name, "loss %s gan_loss_d with NULL gradients: same value and the other gradient", loss_label(loss));
    test_report(name, ok, "values %.17g %.17g %.17g %.17g; gradients %s", (double)v_both, (double)v_nr, (double)v_nf,
                (double)v_none, memcmp(gr, gr2, sizeof gr) == 0 && memcmp(gf, gf2, sizeof gf) == 0 ? "equal" : "differ");
    sprintf(name, "loss %s gan_loss_d writes n_real and n_fake gradients, no more", loss_label(loss));
    test_report(name, gr[NR] == GUARD && gf[NF] == GUARD && gr[NR - 1] != GUARD && gf[NF - 1] != GUARD,
                "guards after the gradients: %g %g", (double)gr[NR], (double)gf[NF]);
    g_with = gan_loss_g(gg, g_vals, NG, loss);
    g_none = gan_loss_g(NULL, g_vals, NG, loss);
    sprintf(name, "loss %s gan_loss_g with a NULL gradient: same value; n gradients written, no more", loss_label(loss));
    test_report(name, g_with == g_none && gg[NG] == GUARD && gg[NG - 1] != GUARD, "values %.17g %.17g, guard %g",
                (double)g_with, (double)g_none, (double)gg[NG]);
}

/* ---- the hinges' kinks ------------------------------------------------------------------------- */

static void check_kinks(void)
{
    const int n = 4;
    gan_float r[4] = { 1, 0.5, 2, 1 }, f[4] = { -1, -3, 0.5, -1 }, gr[4], gf[4];
    gan_float v, r2[2], f2[2], gr2[2], gf2[2];
    double lo_r = -1.0 / n, hi_r = 0, lo_f = 0, hi_f = 1.0 / n;
    /* max(0, 1 - 1) + max(0, 1 - 0.5) + 0 + 0 over 4; max(0, 0) + 0 + 1.5 + 0 over 4 */
    v = gan_loss_d(gr, gf, r, 4, f, 4, GAN_LOSS_HINGE);
    test_report("loss hinge L_D at the kinks r = 1 and f = -1", fabs(v - (0.5 / 4 + 1.5 / 4)) < 1e-15,
                "L_D %.17g, expected %.17g", (double)v, 0.5 / 4 + 1.5 / 4);
    test_report("loss hinge dL_D/dr at r = 1 is a subgradient (in [-1/n, 0])",
                gr[0] >= lo_r && gr[0] <= hi_r && gr[3] >= lo_r && gr[3] <= hi_r && gr[1] == -0.25 && gr[2] == 0,
                "gradients %g %g %g %g", (double)gr[0], (double)gr[1], (double)gr[2], (double)gr[3]);
    test_report("loss hinge dL_D/df at f = -1 is a subgradient (in [0, 1/n])",
                gf[0] >= lo_f && gf[0] <= hi_f && gf[3] >= lo_f && gf[3] <= hi_f && gf[1] == 0 && gf[2] == 0.25,
                "gradients %g %g %g %g", (double)gf[0], (double)gf[1], (double)gf[2], (double)gf[3]);
    /* just off the kinks: the side's derivative and value */
    r2[0] = 1 - 1e-9;
    r2[1] = 1 + 1e-9;
    f2[0] = -1 - 1e-9;
    f2[1] = -1 + 1e-9;
    v = gan_loss_d(gr2, gf2, r2, 2, f2, 2, GAN_LOSS_HINGE);
    test_report("loss hinge just off the kinks: the one-sided derivatives",
                gr2[0] == -0.5 && gr2[1] == 0 && gf2[0] == 0 && gf2[1] == 0.5 && fabs(v - 1e-9) < 1e-15,
                "dr %g %g, df %g %g, L_D %.17g (expected 1e-9)", (double)gr2[0], (double)gr2[1], (double)gf2[0],
                (double)gf2[1], (double)v);
    /* G's hinge loss has no kink: -f at f = -1 as anywhere */
    v = gan_loss_g(gr2, f2, 2, GAN_LOSS_HINGE);
    test_report("loss hinge L_G = -mean f has no kink at -1", gr2[0] == -0.5 && gr2[1] == -0.5 && fabs(v - 1) < 1e-15,
                "grads %g %g, L_G %.17g", (double)gr2[0], (double)gr2[1], (double)v);
}

/* ---- names ------------------------------------------------------------------------------------- */

static void check_names(void)
{
    int i, j, ok = 1;
    for (i = 0; i < N_LOSSES; i++) {
        const char *a = gan_loss_name((gan_loss)i);
        if (!a || !a[0]) ok = 0;
        for (j = 0; ok && j < i; j++)
            if (strcmp(a, gan_loss_name((gan_loss)j)) == 0) ok = 0;
        printf("# gan_loss_name(%d) = \"%s\"\n", i, a ? a : "(null)");
    }
    test_report("loss names: five distinct non-empty strings", ok, "a name is empty or repeated");
}

/* ---- families ---------------------------------------------------------------------------------- */

typedef struct family_want {
    gan_family family;
    const char *name;
    gan_loss loss;
    gan_penalty_kind penalty; /* checked when weight > 0 */
    double weight, clip;
    int n_critic;
    gan_optim_kind optim;
    double lr, beta1, beta2; /* Adam; RMSProp: alpha in beta2 */
} family_want;

static const family_want families[GAN_FAMILY_COUNT] = {
    { GAN_FAMILY_MINIMAX, "minimax", GAN_LOSS_MINIMAX, GAN_PENALTY_WGAN_GP, 0, 0, 1, GAN_ADAM, 2e-4, 0.5, 0.999 },
    { GAN_FAMILY_NONSATURATING, "ns", GAN_LOSS_NONSATURATING, GAN_PENALTY_WGAN_GP, 0, 0, 1, GAN_ADAM, 2e-4, 0.5, 0.999 },
    { GAN_FAMILY_LEAST_SQUARES, "lsgan", GAN_LOSS_LEAST_SQUARES, GAN_PENALTY_WGAN_GP, 0, 0, 1, GAN_ADAM, 2e-4, 0.5, 0.999 },
    { GAN_FAMILY_HINGE, "hinge", GAN_LOSS_HINGE, GAN_PENALTY_WGAN_GP, 0, 0, 1, GAN_ADAM, 2e-4, 0.5, 0.999 },
    /* Arjovsky et al. Algorithm 1: alpha = 5e-5, c = 0.01, n_critic = 5, RMSProp (PyTorch's alpha 0.99) */
    { GAN_FAMILY_WGAN, "wgan", GAN_LOSS_WASSERSTEIN, GAN_PENALTY_WGAN_GP, 0, 0.01, 5, GAN_RMSPROP, 5e-5, 0, 0.99 },
    /* Gulrajani et al. Algorithm 1: lambda = 10, n_critic = 5, Adam(1e-4, 0, 0.9) */
    { GAN_FAMILY_WGAN_GP, "wgan-gp", GAN_LOSS_WASSERSTEIN, GAN_PENALTY_WGAN_GP, 10, 0, 5, GAN_ADAM, 1e-4, 0, 0.9 },
    /* Mescheder et al.: non-saturating, gamma = 10 on real data, Adam(1e-4, 0, 0.99) (as documented) */
    { GAN_FAMILY_R1, "r1", GAN_LOSS_NONSATURATING, GAN_PENALTY_R1, 10, 0, 1, GAN_ADAM, 1e-4, 0, 0.99 },
};

static int same_d(double a, double b) { return fabs(a - b) <= 1e-15 * fabs(b); }

static int optim_ok(const gan_optim *o, const family_want *w, char *why)
{
    if (o->kind != w->optim) return sprintf(why, "kind %d, want %d", (int)o->kind, (int)w->optim), 0;
    if (!same_d(o->lr, w->lr)) return sprintf(why, "lr %g, want %g", (double)o->lr, w->lr), 0;
    if (o->weight_decay != 0 || o->momentum != 0 || o->step != 0)
        return sprintf(why, "weight_decay %g, momentum %g, step %ld", (double)o->weight_decay, (double)o->momentum,
                       (long)o->step), 0;
    if (!same_d(o->eps, 1e-8)) return sprintf(why, "eps %g, want 1e-8", (double)o->eps), 0;
    if (w->optim == GAN_ADAM && (!same_d(o->beta1, w->beta1) || !same_d(o->beta2, w->beta2)))
        return sprintf(why, "betas (%g, %g), want (%g, %g)", (double)o->beta1, (double)o->beta2, w->beta1, w->beta2), 0;
    if (w->optim == GAN_RMSPROP && !same_d(o->alpha, w->beta2))
        return sprintf(why, "alpha %g, want %g", (double)o->alpha, w->beta2), 0;
    return 1;
}

static void check_families(void)
{
    int i, k;
    char name[160], why[200];
    for (i = 0; i < GAN_FAMILY_COUNT; i++) {
        const family_want *w = &families[i];
        gan_train_config c = gan_default_train(w->family);
        int ok = 1;
        why[0] = 0;
        if (c.loss != w->loss) ok = 0, sprintf(why, "loss %d, want %d", (int)c.loss, (int)w->loss);
        else if (!same_d(c.penalty_weight, w->weight))
            ok = 0, sprintf(why, "penalty_weight %g, want %g", (double)c.penalty_weight, w->weight);
        else if (w->weight > 0 && c.penalty != w->penalty)
            ok = 0, sprintf(why, "penalty kind %d, want %d", (int)c.penalty, (int)w->penalty);
        else if (!same_d(c.clip, w->clip)) ok = 0, sprintf(why, "clip %g, want %g", (double)c.clip, w->clip);
        else if (c.n_critic != w->n_critic) ok = 0, sprintf(why, "n_critic %d, want %d", c.n_critic, w->n_critic);
        else if (c.batch != 64 || c.pack != 1 || c.classes != 0 || c.ema_decay != 0)
            ok = 0, sprintf(why, "batch %d pack %d classes %d ema %g, want 64, 1, 0, 0", c.batch, c.pack, c.classes,
                            (double)c.ema_decay);
        else if (!optim_ok(&c.opt_d, w, why)) ok = 0;
        else if (!optim_ok(&c.opt_g, w, why)) ok = 0;
        sprintf(name, "family %s: the paper's settings", w->name);
        test_report(name, ok, "%s", why);
    }
    /* names: the documented ones, distinct, and each parses back to its family */
    for (i = 0; i < GAN_FAMILY_COUNT; i++) {
        gan_family f = (gan_family)((i + 3) % GAN_FAMILY_COUNT);
        const char *n = gan_family_name(families[i].family);
        int r = gan_family_parse(&f, n);
        sprintf(name, "family %s: gan_family_name is \"%s\" and gan_family_parse gives it back", families[i].name,
                families[i].name);
        test_report(name, n && strcmp(n, families[i].name) == 0 && r == 1 && f == families[i].family,
                    "name \"%s\", parse returned %d and family %d", n ? n : "(null)", r, (int)f);
    }
    {
        static const char *const bad[3] = { "wgangp", "", "ns " };
        for (k = 0; k < 3; k++) {
            gan_family f = GAN_FAMILY_HINGE;
            int r = gan_family_parse(&f, bad[k]), listed = 1;
            const char *msg = gan_last_error();
            char quoted[40];
            for (i = 0; i < GAN_FAMILY_COUNT; i++)
                if (!strstr(msg, families[i].name)) listed = 0;
            sprintf(quoted, "'%s'", bad[k]);
            sprintf(name, "family parse refuses \"%s\" with a message quoting it and listing every name", bad[k]);
            test_report(name, r == 0 && listed && strstr(msg, quoted) != NULL, "returned %d, message \"%s\"", r, msg);
        }
    }
}

int main(void)
{
    int l;
    for (l = 0; l < N_LOSSES; l++) {
        check_formulas((gan_loss)l);
        check_fd((gan_loss)l);
        check_nulls((gan_loss)l);
    }
    check_kinks();
    check_names();
    check_families();
    return test_finish();
}
