/* tests/test_eval.c - the eval section (gan_classifier_graph / create / train, gan_classify,
   gan_gaussian_fit / free, gan_classifier_gaussian, gan_eigen_symmetric, gan_frechet_distance,
   gan_eval_images, gan_image_scores) and the softmax cross-entropy (gan_softmax_xent), each against a
   formula written again here, in long double where it helps.

   1. gan_softmax_xent: values against log-sum-exp, logits of +-1000 finite and exact, the gradient
      against (softmax - onehot) / n and against five-point central differences of the loss itself,
      a NULL gradient, one class, nothing written past n k values. This program is a float build (the
      classifier below trains in about 2 s with the float kernels; GAN_DOUBLE, which has only the
      baseline kernels, takes 4 times as long), so the differences use logits that are multiples of
      1/8 and the step h = 1/16: x +- h and x +- 2h are exact, and what is left is the float rounding
      of the returned loss, about 18 * 1.2e-7 / (12 h) = 3e-6 absolute against gradients near 0.1.
   2. gan_eigen_symmetric: a diagonal matrix (sorted ascending, unit vectors), the 2 x 2 closed form,
      random symmetric 50 x 50 and 128 x 128 (A V = V diag(values) and V^T V = I to 1e-10 relative,
      ascending, the trace), repeated eigenvalues (Q diag(1, 1, 1, 4, 9, -2) Q^T and a rank-one
      u u^T), n = 1, values without vectors, a non-finite value refused, an asymmetric input taken as
      its symmetric part (A + A^T) / 2 (as the doc says),
      the input left as it was, and matrices scaled by 1e160 and 1e-170 (finite, so accepted).
   3. gan_gaussian_fit: mean and covariance (divisor n - 1) by hand and against a long double
      two-pass formula, n < 2 and d < 1 refused with g zeroed, a non-finite value refused,
      gan_gaussian_free zeroing.
   4. gan_frechet_distance: a Gaussian against itself ~ 0 (full rank and rank-deficient), 1-D
      (m1 - m2)^2 + (s1 - s2)^2, diagonal covariances, a non-commuting 2 x 2 pair against
      tr((A B)^(1/2)) = sqrt(tr(A B) + 2 sqrt(det A det B)), FD(a, b) = FD(b, a), 128 dimensions
      against tr((A B)^(1/2)) by a Denman-Beavers iteration in long double written here, a dimension
      mismatch and a non-finite covariance refused.
   5. A hand-made classifier whose predictions are known: input (1, 1, 2) -> Flatten -> Linear(2, 3),
      its weights set through gan_net_param, so class = pixel pattern. gan_eval_images' covered (a
      class at exactly 1 % counts, one at 1/101 does not), KL = sum p log(K p), confidence, label
      accuracy, an unlabelled set; gan_classify's probabilities against a softmax written here, and
      features refused without an output 1; gan_classifier_train's *loss (SGD at lr 0: the mean
      cross-entropy over all images, batches 4, 4, 2) and one SGD step against the gradient written
      here; a set with more classes than logits refused; a network with three outputs (the doc: any
      network with logits as output 0), run in a child process since it may read out of bounds.
   6. gan_classifier_graph's layers and outputs (3 x 18 x 13, 10 classes: the flattened size is
      64 (h / 4) (w / 4), floored), Dropout only between the features and the logits;
      gan_classifier_create's seed and optimizer; features from a network fresh from
      gan_classifier_create and after a training whose last batch was short.
   7. The classifier trained on gan_dataset_shapes at 16 x 16: 800 images, 15 epochs (Adam at 3e-3;
      at the default 1e-3 it needs 20 epochs to pass 0.95), then 400 other images: accuracy 0.985
      measured, 0.9 required; covered 4; KL 0.004 measured, below 0.05 required. gan_eval_images
      against the same scores computed here from gan_classify; one image repeated (covered 1, KL =
      log 4, confidence its max probability, FD to a reference |f - mu|^2 + tr(S) exactly); FD of a
      set to its own Gaussian ~ 0, to another set's positive, larger for one class only; flipped and
      removed labels; a subset first / count scores as a copy of it.
   8. Argument errors, each refused with a message that names the function: a range outside the set,
      a shape mismatch, training without labels, a Frechet distance of fewer than 2 images.
   9. Out of memory (tests/flaky_alloc.h): the k-th allocation of gan_frechet_distance,
      gan_eigen_symmetric, gan_gaussian_fit, gan_classify, gan_classifier_gaussian, gan_eval_images,
      gan_classifier_train and gan_classifier_create fails, for every k they reach: 0 (or NULL) with
      "out of memory", and no block left behind.

   Where there is fork, the calls that crash today (see the FAIL lines) and every out-of-memory call
   run in a child process, so a crash is one failed check and the rest still run. One thread
   (gan_set_threads(1)): about 4 s of CPU at -O2, 2.5 s of it the training. */
#if defined(__unix__) || defined(__APPLE__)
#define _POSIX_C_SOURCE 200809L /* fork, waitpid under -std=c99 */
#define TEST_POSIX 1
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <stdlib.h>

#include "flaky_alloc.h"
#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "test.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- helpers ---------------------------------------------------------------------------------- */

static int has(const char *s, const char *part) { return strstr(s, part) != NULL; }

/* gan_last_error() set to a message from outside the eval section, so that a check of a refusal's
   message cannot pass on one left by an earlier call. */
static void clear_error(void)
{
    static const uint8_t junk[4] = { 1, 2, 3, 4 };
    gan_dataset d;
    gan_dataset_from_idx(&d, junk, 4, NULL, 0, "sentinel");
}

/* A refusal: ok == 0 and the message names who and says part (part may be NULL). */
static void check_refused(const char *name, int ok, const char *who, const char *part)
{
    const char *e = gan_last_error();
    test_report(name, !ok && has(e, who) && (!part || has(e, part)), "returned %d, message \"%s\" (wanted \"%s\" and \"%s\")",
                ok, e, who, part ? part : "");
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        printf("FAIL eval: out of memory in the test itself\n");
        exit(1);
    }
    return p;
}

/* A set made here, with malloc (not gan.h's allocator, whose blocks the leak checks count). */
static gan_dataset set_new(int n, int c, int h, int w, int classes)
{
    gan_dataset d;
    memset(&d, 0, sizeof d);
    d.n = n;
    d.c = c;
    d.h = h;
    d.w = w;
    d.classes = classes;
    d.pixels = (uint8_t *)xmalloc((size_t)n * (size_t)c * (size_t)h * (size_t)w);
    d.labels = classes ? (uint8_t *)xmalloc((size_t)n) : NULL;
    return d;
}

static void set_free(gan_dataset *d)
{
    free(d->pixels);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

/* Images first .. first + count - 1 of d, labels and all. */
static gan_dataset set_copy(const gan_dataset *d, int first, int count)
{
    size_t per = (size_t)d->c * (size_t)d->h * (size_t)d->w;
    gan_dataset s = set_new(count, d->c, d->h, d->w, d->labels ? d->classes : 0);
    memcpy(s.pixels, d->pixels + (size_t)first * per, (size_t)count * per);
    if (d->labels) memcpy(s.labels, d->labels + first, (size_t)count);
    return s;
}

static double max2(double a, double b) { return a > b || a != a ? a : b; }

static double rel(double a, double b)
{
    double den = fabs(b) > 1e-300 ? fabs(b) : 1e-300, e = fabs(a - b) / den;
    return e == e ? e : HUGE_VAL;
}

static long double lse_l(const gan_float *z, int k)
{
    long double top = z[0], s = 0;
    int j;
    for (j = 1; j < k; j++) top = z[j] > top ? z[j] : top;
    for (j = 0; j < k; j++) s += expl((long double)z[j] - top);
    return top + logl(s);
}

/* ---- 1. gan_softmax_xent ---------------------------------------------------------------------- */

#define XN 6
#define XK 5

static gan_float xent_x[XN * XK], xent_labels[XN];

static double xent_loss(void) { return (double)gan_softmax_xent(NULL, xent_x, xent_labels, XN, XK); }

static void test_softmax_xent(void)
{
    static const int labels[XN] = { 0, 4, 2, 1, 3, 2 };
    gan_float grad[XN * XK + 4], v, v2;
    gan_rng rng;
    long double ref = 0;
    double worst = 0, scale = 0, fd_worst = 0;
    int r, j;
    gan_rng_seed(&rng, 11);
    for (r = 0; r < XN; r++) {
        xent_labels[r] = (gan_float)labels[r];
        for (j = 0; j < XK; j++) xent_x[r * XK + j] = (gan_float)((int)(gan_rng_u32(&rng) % 49) - 24) / 8; /* -3 .. 3 */
    }
    for (j = 0; j < 4; j++) grad[XN * XK + j] = 12345;
    v = gan_softmax_xent(grad, xent_x, xent_labels, XN, XK);
    for (r = 0; r < XN; r++) ref += lse_l(xent_x + r * XK, XK) - xent_x[r * XK + labels[r]];
    ref /= XN;
    test_report("xent: the mean of log-sum-exp minus the label's logit", rel((double)v, (double)ref) < 1e-6,
                "%.9g, formula %.9Lg", (double)v, ref);
    for (r = 0; r < XN; r++) {
        long double lse = lse_l(xent_x + r * XK, XK);
        for (j = 0; j < XK; j++) {
            long double want = (expl((long double)xent_x[r * XK + j] - lse) - (j == labels[r])) / XN;
            double e = (double)fabsl((long double)grad[r * XK + j] - want) * XN;
            worst = max2(worst, e);
        }
    }
    test_report("xent: grad = (softmax - onehot) / n", worst < 1e-6, "max |error| n = %.3g", worst);
    test_report("xent: nothing written past n k gradient values",
                grad[XN * XK] == 12345 && grad[XN * XK + 1] == 12345 && grad[XN * XK + 3] == 12345, "overwritten");
    v2 = gan_softmax_xent(NULL, xent_x, xent_labels, XN, XK);
    test_report("xent: a NULL grad gives the same value", v2 == v, "%.9g against %.9g", (double)v2, (double)v);
    /* five-point differences of the returned loss (see the top: exact steps, float rounding only) */
    for (r = 0; r < XN * XK; r++) scale = max2(scale, fabs((double)grad[r]));
    for (r = 0; r < XN * XK; r++) {
        static const double at[4] = { 2, 1, -1, -2 };
        const double h = 1.0 / 16;
        gan_float x0 = xent_x[r];
        double f[4], num;
        int k;
        for (k = 0; k < 4; k++) {
            xent_x[r] = (gan_float)(x0 + at[k] * h);
            f[k] = xent_loss();
        }
        xent_x[r] = x0;
        num = (8 * (f[1] - f[2]) - (f[0] - f[3])) / (12 * h);
        fd_worst = max2(fd_worst, fabs(num - (double)grad[r]) / scale);
    }
    /* measured 1.2e-5 of the largest gradient (0.17) */
    test_report("xent: grad against five-point differences of the loss", fd_worst < 2e-4,
                "max |error| %.3g of the largest gradient %.3g", fd_worst, scale);
    {
        /* logits of +-1000: no exp overflows, and the value is still exact */
        static const float big[3 * 4] = { 1000, -1000, 0, 999.5f, -1000, -1000, -1000, -1000, 1000, 1000, -1000, 0 };
        static const int big_labels[3] = { 1, 2, 0 };
        gan_float x[12], lab[3], g[12];
        long double want = 0;
        double gworst = 0;
        int finite = 1;
        for (j = 0; j < 12; j++) x[j] = big[j];
        for (r = 0; r < 3; r++) lab[r] = (gan_float)big_labels[r];
        v = gan_softmax_xent(g, x, lab, 3, 4);
        for (r = 0; r < 3; r++) want += lse_l(x + r * 4, 4) - x[r * 4 + big_labels[r]];
        want /= 3; /* (2000.474 + log 4 + log 2) / 3 */
        for (j = 0; j < 12; j++) finite = finite && g[j] == g[j] && fabs((double)g[j]) <= 1;
        for (r = 0; r < 3; r++) {
            long double lse = lse_l(x + r * 4, 4);
            for (j = 0; j < 4; j++) {
                long double gw = (expl((long double)x[r * 4 + j] - lse) - (j == big_labels[r])) / 3;
                double e = (double)fabsl((long double)g[r * 4 + j] - gw);
                gworst = max2(gworst, e);
            }
        }
        test_report("xent: logits of +-1000 give the exact, finite value", v == v && rel((double)v, (double)want) < 1e-6,
                    "%.9g, formula %.9Lg", (double)v, want);
        test_report("xent: logits of +-1000 give finite, exact gradients", finite && gworst < 1e-7, "finite %d, max error %.3g",
                    finite, gworst);
    }
    {
        /* one class: the loss is 0 and so is the gradient */
        gan_float x[3], lab[3], g[3];
        x[0] = 5;
        x[1] = -7;
        x[2] = 1000;
        lab[0] = lab[1] = lab[2] = 0;
        v = gan_softmax_xent(g, x, lab, 3, 1);
        test_report("xent: one class: loss 0, gradient 0", v == 0 && g[0] == 0 && g[1] == 0 && g[2] == 0, "%g, %g %g %g", (double)v,
                    (double)g[0], (double)g[1], (double)g[2]);
    }
}

/* ---- 2-D modes -------------------------------------------------------------------------------- */

/* gan_eval_modes on points placed by hand, each figure worked out from the definitions in gan.h. */
static void check_modes(const char *name, const gan_float *xy, int n, const gan_float *c, int k, gan_float sigma,
                        int modes, int fair, double hq, double kl)
{
    gan_mode_scores s;
    int ok = gan_eval_modes(&s, xy, n, c, k, sigma);
    test_report(name, ok && s.modes == modes && s.modes_fair == fair && s.high_quality == hq && fabs(s.kl - kl) <= 1e-15,
                "ok %d: modes %d (want %d), fair %d (%d), high quality %.17g (%.17g), kl %.17g (%.17g): %s", ok, s.modes, modes,
                s.modes_fair, fair, s.high_quality, hq, s.kl, kl, gan_last_error());
}

static void test_modes(void)
{
    static const gan_float two[4] = { 0, 0, 10, 0 }, near[4] = { 0, 0, 2, 0 }, four[8] = { 1, 1, -1, 1, -1, -1, 1, -1 };
    gan_mode_scores s;
    long live0 = live;
    {
        /* within 3 sigma of (0, 0): the centre, (0.5, 0.5) and (3, 0) on the boundary; of (10, 0): (10, 2.9);
           (5, 0) and (20, 20) near neither. h = (3, 1) of n = 6. */
        static const gan_float xy[12] = { 0, 0, 3, 0, 0.5f, 0.5f, 10, 2.9f, 5, 0, 20, 20 };
        check_modes("modes: six points by hand (3 sigma included, two far off)", xy, 6, two, 2, 1, 2, 2, 4.0 / 6,
                    0.75 * log(1.5) + 0.25 * log(0.5));
    }
    {
        /* (1, 0) is within 3 sigma of both centres and equally near: it counts for the first (h = (2, 0)
           with the sample on it, where the second would give (1, 1), both fair and kl 0), and both are covered */
        static const gan_float xy[4] = { 1, 0, 0, 0 };
        check_modes("modes: a tie goes to the lower centre; covered needs no nearest", xy, 2, near, 2, 1, 2, 1, 1, log(2.0));
    }
    {
        /* one point at exactly 3 sigma from (0, 0) and no other: covered and high quality on the boundary */
        static const gan_float xy[2] = { 3, 0 };
        check_modes("modes: a lone point exactly 3 sigma out is within", xy, 1, two, 2, 1, 1, 1, 1, log(2.0));
    }
    {
        static const gan_float xy[4] = { 50, 50, -50, 3 };
        check_modes("modes: no high-quality sample: 0 modes, kl = log k", xy, 2, four, 4, 1, 0, 0, 0, log(4.0));
    }
    check_modes("modes: one sample on each centre: every mode fair, kl 0", four, 4, four, 4, 0.01f, 4, 4, 1, 0);
    {
        /* fair is 5 k h_j >= n: with k = 2, n = 10, h = (9, 1) the second mode holds exactly a fifth of its
           share of 5; with one more far sample (n = 11) it no longer does */
        gan_float xy[22];
        int i;
        for (i = 0; i < 9; i++) xy[2 * i] = 0, xy[2 * i + 1] = 0;
        xy[18] = 10, xy[19] = 0;
        xy[20] = 100, xy[21] = 100;
        check_modes("modes: fair at exactly 0.2 n / k", xy, 10, two, 2, 1, 2, 2, 1, 0.9 * log(1.8) + 0.1 * log(0.2));
        check_modes("modes: not fair just below 0.2 n / k", xy, 11, two, 2, 1, 2, 1, 10.0 / 11,
                    0.9 * log(1.8) + 0.1 * log(0.2));
    }
    {
        /* refusals zero *s */
        static const gan_float xy[2] = { 0, 0 };
        gan_float bad[2] = { 0, 0 };
        bad[1] = (gan_float)NAN;
        memset(&s, 0x7f, sizeof s);
        clear_error();
        check_refused("modes: n = 0 is refused", gan_eval_modes(&s, xy, 0, two, 2, 1), "gan_eval_modes", "points");
        test_report("modes: a refusal zeroes the scores", s.modes == 0 && s.modes_fair == 0 && s.high_quality == 0 && s.kl == 0,
                    "modes %d, fair %d, hq %g, kl %g", s.modes, s.modes_fair, s.high_quality, s.kl);
        clear_error();
        check_refused("modes: k = 0 is refused", gan_eval_modes(&s, xy, 1, two, 0, 1), "gan_eval_modes", "centres");
        clear_error();
        check_refused("modes: sigma 0 is refused", gan_eval_modes(&s, xy, 1, two, 2, 0), "gan_eval_modes", NULL);
        clear_error();
        check_refused("modes: a NaN sigma is refused", gan_eval_modes(&s, xy, 1, two, 2, (gan_float)NAN), "gan_eval_modes", NULL);
        clear_error();
        check_refused("modes: a NaN coordinate is refused", gan_eval_modes(&s, bad, 1, two, 2, 1), "gan_eval_modes", NULL);
        clear_error();
        check_refused("modes: a NaN centre is refused", gan_eval_modes(&s, xy, 1, bad, 1, 1), "gan_eval_modes", NULL);
        fail_at = calls + 1;
        clear_error();
        check_refused("modes: out of memory is a refusal", gan_eval_modes(&s, xy, 1, two, 2, 1), "gan_eval_modes", NULL);
        fail_at = 0;
        test_report("modes: nothing left allocated", live == live0, "%ld blocks", live - live0);
    }
}

/* ---- 2. gan_eigen_symmetric ------------------------------------------------------------------- */

/* max_ij |(A V - V diag(l))_ij| / max |A| and max |V^T V - I|, in long double. */
static double eigen_residual(const double *a, const double *v, const double *l, int n)
{
    long double worst = 0, big = 0;
    int i, j, k;
    for (i = 0; i < n * n; i++) big = fabsl((long double)a[i]) > big ? fabsl((long double)a[i]) : big;
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++) {
            long double s = 0;
            for (k = 0; k < n; k++) s += (long double)a[i * n + k] * v[k * n + j];
            s -= (long double)v[i * n + j] * l[j];
            worst = fabsl(s) > worst || s != s ? fabsl(s) : worst;
        }
    return (double)(worst / (big > 0 ? big : 1));
}

static double orth_error(const double *v, int n)
{
    long double worst = 0;
    int i, j, k;
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++) {
            long double s = 0;
            for (k = 0; k < n; k++) s += (long double)v[k * n + i] * v[k * n + j];
            s -= i == j;
            worst = fabsl(s) > worst || s != s ? fabsl(s) : worst;
        }
    return (double)worst;
}

static int ascending(const double *l, int n)
{
    int i;
    for (i = 1; i < n; i++)
        if (!(l[i - 1] <= l[i])) return 0;
    return 1;
}

/* Q (n x n, row-major) orthogonal: Gram-Schmidt of random normals, twice, in long double. */
static void random_orthogonal(long double *q, int n, gan_rng *rng)
{
    int i, j, k, pass;
    for (i = 0; i < n * n; i++) q[i] = gan_rng_normal(rng);
    for (j = 0; j < n; j++) { /* columns */
        for (pass = 0; pass < 2; pass++)
            for (k = 0; k < j; k++) {
                long double dot = 0;
                for (i = 0; i < n; i++) dot += q[i * n + j] * q[i * n + k];
                for (i = 0; i < n; i++) q[i * n + j] -= dot * q[i * n + k];
            }
        {
            long double norm = 0;
            for (i = 0; i < n; i++) norm += q[i * n + j] * q[i * n + j];
            norm = sqrtl(norm);
            for (i = 0; i < n; i++) q[i * n + j] /= norm;
        }
    }
}

static void check_random_symmetric(int n, uint64_t seed)
{
    double *a = (double *)xmalloc(sizeof(double) * (size_t)n * n), *keep = (double *)xmalloc(sizeof(double) * (size_t)n * n);
    double *v = (double *)xmalloc(sizeof(double) * (size_t)n * n), *l = (double *)xmalloc(sizeof(double) * (size_t)n);
    double *l2 = (double *)xmalloc(sizeof(double) * (size_t)n), res, orth, worst2 = 0;
    long double tr = 0, sum = 0;
    char name[128];
    gan_rng rng;
    int i, j, ok, ok2;
    gan_rng_seed(&rng, seed);
    for (i = 0; i < n; i++)
        for (j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = 2 * gan_rng_uniform(&rng) - 1;
    memcpy(keep, a, sizeof(double) * (size_t)n * n);
    ok = gan_eigen_symmetric(l, v, a, n);
    ok2 = gan_eigen_symmetric(l2, NULL, a, n);
    res = eigen_residual(a, v, l, n);
    orth = orth_error(v, n);
    for (i = 0; i < n; i++) {
        tr += a[i * n + i];
        sum += l[i];
        worst2 = max2(worst2, fabs(l2[i] - l[i]));
    }
    /* measured: 50 x 50 residual 2.5e-14, V^T V 1.1e-14; 128 x 128 9.6e-14 and 3.0e-14 */
    snprintf(name, sizeof name, "eigen: random symmetric %d x %d: A V = V diag(values) to 1e-10", n, n);
    test_report(name, ok && res < 1e-10, "ok %d, residual %.3g: %s", ok, res, gan_last_error());
    snprintf(name, sizeof name, "eigen: random symmetric %d x %d: V^T V = I to 1e-10", n, n);
    test_report(name, ok && orth < 1e-10, "max |V^T V - I| %.3g", orth);
    snprintf(name, sizeof name, "eigen: random symmetric %d x %d: values ascending, their sum the trace", n, n);
    test_report(name, ok && ascending(l, n) && fabsl(tr - sum) < 1e-12L * n, "ascending %d, trace %.17Lg, sum %.17Lg",
                ascending(l, n), tr, sum);
    snprintf(name, sizeof name, "eigen: random symmetric %d x %d: the same values without vectors, the input unchanged", n, n);
    test_report(name, ok2 && worst2 <= 1e-13 * fabs(l[n - 1]) && memcmp(a, keep, sizeof(double) * (size_t)n * n) == 0,
                "ok %d, largest difference %.3g", ok2, worst2);
    free(a);
    free(keep);
    free(v);
    free(l);
    free(l2);
}

static void test_eigen(void)
{
    {
        static const double diag[5] = { 3, -1, 2, 0.5, -7 }, sorted[5] = { -7, -1, 0.5, 2, 3 };
        double a[25], v[25], l[5];
        int i, j, ok, units = 1;
        for (i = 0; i < 25; i++) a[i] = 0;
        for (i = 0; i < 5; i++) a[i * 5 + i] = diag[i];
        ok = gan_eigen_symmetric(l, v, a, 5);
        for (j = 0; j < 5; j++) { /* column j is +-e_i with diag[i] = sorted[j] */
            for (i = 0; i < 5; i++) {
                double want = diag[i] == sorted[j] ? 1 : 0;
                units = units && fabs(v[i * 5 + j]) == want;
            }
        }
        test_report("eigen: a diagonal matrix: its diagonal, sorted ascending, exactly",
                    ok && memcmp(l, sorted, sizeof sorted) == 0, "ok %d: %g %g %g %g %g", ok, l[0], l[1], l[2], l[3], l[4]);
        test_report("eigen: a diagonal matrix: the vectors are the unit vectors, in the values' order", ok && units, "not");
    }
    {
        /* [[a, b], [b, c]]: (a + c) / 2 -+ sqrt(((a - c) / 2)^2 + b^2) */
        const double p = 2, q = -3, c = 5;
        double a[4], v[4], l[2];
        long double m = (p + c) / 2.0L, r = sqrtl((p - c) * (p - c) / 4.0L + q * q);
        int ok;
        a[0] = p;
        a[1] = a[2] = q;
        a[3] = c;
        ok = gan_eigen_symmetric(l, v, a, 2);
        test_report("eigen: 2 x 2 against the closed form", ok && fabsl(l[0] - (m - r)) < 1e-15L * (m + r) &&
                    fabsl(l[1] - (m + r)) < 1e-15L * (m + r), "%.17g %.17g, want %.17Lg %.17Lg", l[0], l[1], m - r, m + r);
        test_report("eigen: 2 x 2 vectors", ok && eigen_residual(a, v, l, 2) < 1e-15 && orth_error(v, 2) < 1e-15,
                    "residual %.3g, orthogonality %.3g", eigen_residual(a, v, l, 2), orth_error(v, 2));
    }
    check_random_symmetric(50, 21);
    check_random_symmetric(128, 22);
    {
        /* Q diag(1, 1, 1, 4, 9, -2) Q^T: a three-fold eigenvalue */
        static const double d[6] = { 1, 1, 1, 4, 9, -2 }, want[6] = { -2, 1, 1, 1, 4, 9 };
        long double q[36];
        double a[36], v[36], l[6], worst = 0;
        gan_rng rng;
        int i, j, k, ok;
        gan_rng_seed(&rng, 23);
        random_orthogonal(q, 6, &rng);
        for (i = 0; i < 6; i++)
            for (j = 0; j <= i; j++) {
                long double s = 0;
                for (k = 0; k < 6; k++) s += q[i * 6 + k] * d[k] * q[j * 6 + k];
                a[i * 6 + j] = a[j * 6 + i] = (double)s;
            }
        ok = gan_eigen_symmetric(l, v, a, 6);
        for (i = 0; i < 6; i++) worst = max2(worst, fabs(l[i] - want[i]));
        test_report("eigen: a three-fold eigenvalue: the values", ok && worst < 1e-13, "max error %.3g", worst);
        test_report("eigen: a three-fold eigenvalue: orthonormal vectors that span it",
                    ok && eigen_residual(a, v, l, 6) < 1e-13 && orth_error(v, 6) < 1e-13, "residual %.3g, orthogonality %.3g",
                    eigen_residual(a, v, l, 6), orth_error(v, 6));
    }
    {
        /* u u^T: n - 1 zeros and |u|^2 */
        static const double u[7] = { 1, -2, 0.5, 3, 0, -1, 2 };
        double a[49], v[49], l[7], worst = 0;
        int i, j, ok;
        for (i = 0; i < 7; i++)
            for (j = 0; j < 7; j++) a[i * 7 + j] = u[i] * u[j];
        ok = gan_eigen_symmetric(l, v, a, 7);
        for (i = 0; i < 6; i++) worst = max2(worst, fabs(l[i]));
        test_report("eigen: rank one u u^T: six zeros and |u|^2 = 19.25", ok && worst < 1e-14 * 19.25 && rel(l[6], 19.25) < 1e-14 &&
                    eigen_residual(a, v, l, 7) < 1e-14 && orth_error(v, 7) < 1e-14, "zeros to %.3g, top %.17g, residual %.3g", worst,
                    l[6], eigen_residual(a, v, l, 7));
    }
    {
        double a = -2.5, v = 0, l = 0;
        int ok = gan_eigen_symmetric(&l, &v, &a, 1);
        test_report("eigen: 1 x 1", ok && l == -2.5 && fabs(v) == 1, "ok %d, %g, %g", ok, l, v);
    }
    {
        /* an asymmetric input: the decomposition of (A + A^T) / 2 */
        double a[36], s[36], keep[36], v[36], l[6], vs[36], ls[6], worst = 0;
        gan_rng rng;
        int i, j, ok, oks;
        gan_rng_seed(&rng, 24);
        for (i = 0; i < 36; i++) a[i] = 2 * gan_rng_uniform(&rng) - 1;
        for (i = 0; i < 6; i++)
            for (j = 0; j < 6; j++) s[i * 6 + j] = (a[i * 6 + j] + a[j * 6 + i]) / 2;
        memcpy(keep, a, sizeof a);
        ok = gan_eigen_symmetric(l, v, a, 6);
        oks = gan_eigen_symmetric(ls, vs, s, 6);
        for (i = 0; i < 6; i++) worst = max2(worst, fabs(l[i] - ls[i]));
        test_report("eigen: an asymmetric A is taken as (A + A^T) / 2", ok && oks && worst < 1e-14 &&
                    eigen_residual(s, v, l, 6) < 1e-14 && orth_error(v, 6) < 1e-14, "values differ by %.3g, residual %.3g", worst,
                    eigen_residual(s, v, l, 6));
        test_report("eigen: the input is not written", memcmp(a, keep, sizeof a) == 0, "changed");
    }
    {
        double a[9] = { 1, 0, 0, 0, 1, 0, 0, 0, 1 }, v[9], l[3];
        int ok;
        a[5] = a[7] = NAN;
        clear_error();
        ok = gan_eigen_symmetric(l, v, a, 3);
        check_refused("eigen: a NaN is refused with a message", ok, "gan_eigen_symmetric", "not finite");
        a[5] = a[7] = 0;
        a[0] = HUGE_VAL;
        clear_error();
        ok = gan_eigen_symmetric(l, v, a, 3);
        check_refused("eigen: an infinity is refused with a message", ok, "gan_eigen_symmetric", "not finite");
    }
    {
        /* Finite values far from 1: the eigenvalues scale with the matrix. (The sums of squares of
           the convergence test overflow past about 1e154 and underflow below about 1e-162.) */
        static const double scales[4] = { 1e150, 1e-150, 1e160, 1e-170 };
        int t;
        for (t = 0; t < 4; t++) {
            double a[4], v[4], l[2], sc = scales[t];
            char name[128];
            int ok;
            a[0] = a[3] = 2 * sc;
            a[1] = a[2] = sc;
            ok = gan_eigen_symmetric(l, v, a, 2);
            snprintf(name, sizeof name, "eigen: [[2, 1], [1, 2]] times %g has the values 1 and 3 times %g", sc, sc);
            test_report(name, ok && rel(l[0] / sc, 1) < 1e-14 && rel(l[1] / sc, 3) < 1e-14, "ok %d: %.17g and %.17g times the scale",
                        ok, l[0] / sc, l[1] / sc);
        }
    }
}

/* ---- 3. gan_gaussian_fit ---------------------------------------------------------------------- */

static void test_gaussian_fit(void)
{
    gan_gaussian g;
    long live0 = live;
    {
        static const float rows[8] = { 1, 2, 3, 5, 5, 4, 7, 9 };
        gan_float x[8];
        int i, ok;
        for (i = 0; i < 8; i++) x[i] = rows[i];
        ok = gan_gaussian_fit(&g, x, 4, 2);
        /* mean (4, 5); deviations (-3, -3), (-1, 0), (1, -1), (3, 4): sums 20, 20, 26 over n - 1 = 3 */
        test_report("gaussian: 4 points by hand: mean (4, 5)", ok && g.d == 2 && g.mean[0] == 4 && g.mean[1] == 5, "ok %d: %s", ok,
                    gan_last_error());
        if (ok) {
            test_report("gaussian: 4 points by hand: covariance [[20, 20], [20, 26]] / 3 (divisor n - 1)",
                        rel(g.cov[0], 20.0 / 3) < 1e-15 && rel(g.cov[1], 20.0 / 3) < 1e-15 && rel(g.cov[2], 20.0 / 3) < 1e-15 &&
                        rel(g.cov[3], 26.0 / 3) < 1e-15, "%.17g %.17g %.17g %.17g", g.cov[0], g.cov[1], g.cov[2], g.cov[3]);
            gan_gaussian_free(&g);
        }
        test_report("gaussian: free zeroes", g.d == 0 && g.mean == NULL && g.cov == NULL, "not zeroed");
        gan_gaussian_free(&g); /* again: nothing */
        gan_gaussian_free(NULL);
    }
    {
        /* 300 rows of 7 correlated values against the two-pass formula in long double */
        enum { N = 300, D = 7 };
        gan_float *x = (gan_float *)xmalloc(sizeof(gan_float) * N * D);
        long double mean[D], cov[D * D];
        double em = 0, ec = 0, big = 0;
        gan_rng rng;
        int i, j, r, ok, sym = 1;
        gan_rng_seed(&rng, 31);
        for (r = 0; r < N; r++) {
            gan_float z = gan_rng_normal(&rng);
            for (j = 0; j < D; j++) x[r * D + j] = (gan_float)(3 + j) + (gan_float)(j + 1) * z + gan_rng_normal(&rng);
        }
        for (j = 0; j < D; j++) {
            mean[j] = 0;
            for (r = 0; r < N; r++) mean[j] += x[r * D + j];
            mean[j] /= N;
        }
        for (i = 0; i < D; i++)
            for (j = 0; j < D; j++) {
                cov[i * D + j] = 0;
                for (r = 0; r < N; r++) cov[i * D + j] += (x[r * D + i] - mean[i]) * (x[r * D + j] - mean[j]);
                cov[i * D + j] /= N - 1;
                big = max2(big, (double)fabsl(cov[i * D + j]));
            }
        ok = gan_gaussian_fit(&g, x, N, D);
        if (ok) {
            for (j = 0; j < D; j++) em = max2(em, (double)(fabsl(g.mean[j] - mean[j]) / fabsl(mean[j])));
            for (i = 0; i < D * D; i++) ec = max2(ec, (double)fabsl(g.cov[i] - cov[i]));
            for (i = 0; i < D; i++)
                for (j = 0; j < D; j++) sym = sym && g.cov[i * D + j] == g.cov[j * D + i];
        }
        test_report("gaussian: 300 x 7: mean against the formula in long double", ok && em < 1e-14, "ok %d, relative error %.3g", ok,
                    em);
        test_report("gaussian: 300 x 7: covariance against the two-pass formula", ok && ec < 1e-13 * big, "error %.3g of %.3g", ec,
                    big);
        test_report("gaussian: the covariance is exactly symmetric", ok && sym, "not");
        gan_gaussian_free(&g);
        free(x);
    }
    {
        gan_float x[6] = { 1, 2, 3, 4, 5, 6 };
        int ok;
        g.d = 7;
        g.mean = g.cov = (double *)(void *)x; /* must be zeroed, not freed */
        clear_error();
        ok = gan_gaussian_fit(&g, x, 1, 3);
        check_refused("gaussian: one row is refused", ok, "gan_gaussian_fit", "2 rows or more");
        test_report("gaussian: ... and g is zeroed", g.d == 0 && g.mean == NULL && g.cov == NULL, "d %d", g.d);
        clear_error();
        ok = gan_gaussian_fit(&g, x, 0, 3);
        check_refused("gaussian: no rows are refused", ok, "gan_gaussian_fit", "2 rows or more");
        clear_error();
        ok = gan_gaussian_fit(&g, x, 3, 0);
        check_refused("gaussian: 0 values a row are refused", ok, "gan_gaussian_fit", "1 to");
        x[4] = (gan_float)HUGE_VAL;
        clear_error();
        ok = gan_gaussian_fit(&g, x, 3, 2);
        check_refused("gaussian: an infinity is refused", ok, "gan_gaussian_fit", "not finite");
        test_report("gaussian: ... with g zeroed", g.d == 0 && g.mean == NULL && g.cov == NULL, "d %d", g.d);
        x[4] = (gan_float)NAN;
        clear_error();
        ok = gan_gaussian_fit(&g, x, 3, 2);
        check_refused("gaussian: a NaN is refused", ok, "gan_gaussian_fit", "not finite");
    }
    test_report("gaussian: nothing left allocated", live == live0, "%ld blocks", live - live0);
}

/* ---- 4. gan_frechet_distance ------------------------------------------------------------------ */

/* A Gaussian whose arrays are malloc'd here (free with gauss_free, not gan_gaussian_free). */
static gan_gaussian gauss_new(int d)
{
    gan_gaussian g;
    int i;
    g.d = d;
    g.mean = (double *)xmalloc(sizeof(double) * (size_t)d);
    g.cov = (double *)xmalloc(sizeof(double) * (size_t)d * (size_t)d);
    for (i = 0; i < d; i++) g.mean[i] = 0;
    for (i = 0; i < d * d; i++) g.cov[i] = 0;
    return g;
}

static void gauss_free(gan_gaussian *g)
{
    free(g->mean);
    free(g->cov);
    g->mean = g->cov = NULL;
}

/* cov = X X^T / m + ridge I with X d x m normals; mean normals times mscale. */
static gan_gaussian gauss_random(int d, int m, double ridge, double mscale, uint64_t seed)
{
    gan_gaussian g = gauss_new(d);
    double *x = (double *)xmalloc(sizeof(double) * (size_t)d * (size_t)m);
    gan_rng rng;
    int i, j, k;
    gan_rng_seed(&rng, seed);
    for (i = 0; i < d * m; i++) x[i] = gan_rng_normal(&rng);
    for (i = 0; i < d; i++) g.mean[i] = mscale * gan_rng_normal(&rng);
    for (i = 0; i < d; i++)
        for (j = 0; j <= i; j++) {
            long double s = 0;
            for (k = 0; k < m; k++) s += (long double)x[i * m + k] * x[j * m + k];
            g.cov[i * d + j] = g.cov[j * d + i] = (double)(s / m) + (i == j ? ridge : 0);
        }
    free(x);
    return g;
}

/* inv = m^-1 (n x n) by Gauss-Jordan with partial pivoting; 0 if singular. */
static int inverse_l(long double *inv, const long double *m, int n)
{
    long double *w = (long double *)xmalloc(sizeof(long double) * (size_t)n * 2 * n);
    int i, j, k, ok = 1;
    for (i = 0; i < n; i++)
        for (j = 0; j < 2 * n; j++) w[i * 2 * n + j] = j < n ? m[i * n + j] : (j - n == i);
    for (k = 0; k < n && ok; k++) {
        int p = k;
        for (i = k + 1; i < n; i++)
            if (fabsl(w[i * 2 * n + k]) > fabsl(w[p * 2 * n + k])) p = i;
        if (w[p * 2 * n + k] == 0) {
            ok = 0;
            break;
        }
        if (p != k)
            for (j = 0; j < 2 * n; j++) {
                long double t = w[k * 2 * n + j];
                w[k * 2 * n + j] = w[p * 2 * n + j];
                w[p * 2 * n + j] = t;
            }
        {
            long double piv = w[k * 2 * n + k];
            for (j = 0; j < 2 * n; j++) w[k * 2 * n + j] /= piv;
        }
        for (i = 0; i < n; i++) {
            long double f = w[i * 2 * n + k];
            if (i == k || f == 0) continue;
            for (j = 0; j < 2 * n; j++) w[i * 2 * n + j] -= f * w[k * 2 * n + j];
        }
    }
    for (i = 0; ok && i < n; i++)
        for (j = 0; j < n; j++) inv[i * n + j] = w[i * 2 * n + n + j];
    free(w);
    return ok;
}

/* tr((A B)^(1/2)) by the Denman-Beavers iteration Y <- (Y + Z^-1) / 2, Z <- (Z + Y^-1) / 2 from
   Y = M = A B / c, Z = I (Y -> M^(1/2)), times sqrt(c), c = tr(A B) / n; -1 if it fails. */
static long double trace_sqrt_db(const double *a, const double *b, int n)
{
    size_t nn = (size_t)n * n;
    long double *y = (long double *)xmalloc(sizeof(long double) * nn), *z = (long double *)xmalloc(sizeof(long double) * nn);
    long double *yi = (long double *)xmalloc(sizeof(long double) * nn), *zi = (long double *)xmalloc(sizeof(long double) * nn);
    long double c = 0, tr = -1;
    int i, j, k, it;
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++) {
            long double s = 0;
            for (k = 0; k < n; k++) s += (long double)a[i * n + k] * b[k * n + j];
            y[i * n + j] = s;
            z[i * n + j] = i == j;
        }
    for (i = 0; i < n; i++) c += y[i * n + i];
    c /= n;
    for (i = 0; i < n * n; i++) y[i] /= c;
    for (it = 0; it < 100; it++) {
        long double change = 0, size = 0;
        if (!inverse_l(yi, y, n) || !inverse_l(zi, z, n)) break;
        for (i = 0; i < n * n; i++) {
            long double ny = (y[i] + zi[i]) / 2;
            change += (ny - y[i]) * (ny - y[i]);
            size += ny * ny;
            y[i] = ny;
            z[i] = (z[i] + yi[i]) / 2;
        }
        if (change <= 1e-36L * size) {
            tr = 0;
            for (i = 0; i < n; i++) tr += y[i * n + i];
            tr *= sqrtl(c);
            break;
        }
    }
    free(y);
    free(z);
    free(yi);
    free(zi);
    return tr;
}

/* |mu_a - mu_b|^2 + tr A + tr B - 2 t */
static long double fd_formula(const gan_gaussian *a, const gan_gaussian *b, long double t)
{
    long double s = 0;
    int i, d = a->d;
    for (i = 0; i < d; i++) {
        long double m = (long double)a->mean[i] - b->mean[i];
        s += m * m + a->cov[i * d + i] + b->cov[i * d + i];
    }
    return s - 2 * t;
}

static void test_frechet(void)
{
    long live0 = live;
    {
        gan_gaussian a = gauss_random(16, 40, 0.1, 1, 41);
        double fd = -1, tr = 0;
        int i, ok = gan_frechet_distance(&fd, &a, &a);
        for (i = 0; i < 16; i++) tr += a.cov[i * 16 + i];
        /* measured 0 (clamped) */
        test_report("frechet: a Gaussian against itself: >= 0 and below 1e-12 of 2 tr(S)", ok && fd >= 0 && fd < 1e-12 * 2 * tr,
                    "ok %d, fd %.3g (2 tr S %.3g): %s", ok, fd, 2 * tr, gan_last_error());
        gauss_free(&a);
    }
    {
        /* 20 points of 64 values: rank 19, so most eigenvalues are 0 or rounding below it */
        gan_float *x = (gan_float *)xmalloc(sizeof(gan_float) * 20 * 64);
        gan_gaussian g;
        gan_rng rng;
        double fd = -1, tr = 0;
        int i, ok;
        gan_rng_seed(&rng, 42);
        for (i = 0; i < 20 * 64; i++) x[i] = gan_rng_normal(&rng);
        ok = gan_gaussian_fit(&g, x, 20, 64) && gan_frechet_distance(&fd, &g, &g);
        for (i = 0; ok && i < 64; i++) tr += g.cov[i * 64 + i];
        /* measured 0: the rounding-size eigenvalues' square roots stay below the clamp at 0 */
        test_report("frechet: a rank-deficient Gaussian against itself: >= 0 and below 1e-6 of 2 tr(S)",
                    ok && fd >= 0 && fd < 1e-6 * 2 * tr, "ok %d, fd %.3g (2 tr S %.3g)", ok, fd, 2 * tr);
        gan_gaussian_free(&g);
        free(x);
    }
    {
        gan_gaussian a = gauss_new(1), b = gauss_new(1);
        double fd = -1;
        int ok;
        a.mean[0] = 0.5;
        a.cov[0] = 4;
        b.mean[0] = -1.25;
        b.cov[0] = 0.25;
        ok = gan_frechet_distance(&fd, &a, &b);
        test_report("frechet: 1-D: (m1 - m2)^2 + (s1 - s2)^2 = 1.75^2 + 1.5^2", ok && rel(fd, 5.3125) < 1e-15, "ok %d, %.17g", ok,
                    fd);
        gauss_free(&a);
        gauss_free(&b);
    }
    {
        gan_gaussian a = gauss_new(6), b = gauss_new(6);
        gan_rng rng;
        long double want = 0;
        double fd = -1;
        int i, ok;
        gan_rng_seed(&rng, 43);
        for (i = 0; i < 6; i++) {
            a.mean[i] = gan_rng_normal(&rng);
            b.mean[i] = gan_rng_normal(&rng);
            a.cov[i * 6 + i] = 0.1 + 3 * gan_rng_uniform(&rng);
            b.cov[i * 6 + i] = 0.1 + 3 * gan_rng_uniform(&rng);
            want += (long double)(a.mean[i] - b.mean[i]) * (a.mean[i] - b.mean[i]) +
                    (sqrtl(a.cov[i * 6 + i]) - sqrtl(b.cov[i * 6 + i])) * (sqrtl(a.cov[i * 6 + i]) - sqrtl(b.cov[i * 6 + i]));
        }
        ok = gan_frechet_distance(&fd, &a, &b);
        test_report("frechet: diagonal covariances: sum (sqrt a_i - sqrt b_i)^2 + |mu_a - mu_b|^2",
                    ok && rel(fd, (double)want) < 1e-13, "ok %d, %.17g, formula %.17Lg", ok, fd, want);
        gauss_free(&a);
        gauss_free(&b);
    }
    {
        /* A = [[2, 1], [1, 3]], B = [[1, -0.5], [-0.5, 2]]: A B != B A;
           tr((A B)^(1/2)) = sqrt(tr(A B) + 2 sqrt(det A det B)) */
        gan_gaussian a = gauss_new(2), b = gauss_new(2);
        long double tr_ab, t, want;
        double fd = -1, fd2 = -1;
        int ok, ok2;
        a.cov[0] = 2;
        a.cov[1] = a.cov[2] = 1;
        a.cov[3] = 3;
        b.cov[0] = 1;
        b.cov[1] = b.cov[2] = -0.5;
        b.cov[3] = 2;
        a.mean[0] = 1;
        b.mean[1] = -0.5;
        tr_ab = 2.0L * 1 + 1 * -0.5L + 1 * -0.5L + 3.0L * 2;
        t = sqrtl(tr_ab + 2 * sqrtl((2.0L * 3 - 1) * (1.0L * 2 - 0.25L)));
        want = fd_formula(&a, &b, t);
        ok = gan_frechet_distance(&fd, &a, &b);
        ok2 = gan_frechet_distance(&fd2, &b, &a);
        test_report("frechet: a non-commuting 2 x 2 pair against tr((A B)^(1/2)) = sqrt(tr(A B) + 2 sqrt(det A det B))",
                    ok && rel(fd, (double)want) < 1e-14, "ok %d, %.17g, formula %.17Lg", ok, fd, want);
        test_report("frechet: the 2 x 2 pair the other way round", ok2 && rel(fd2, (double)want) < 1e-14, "ok %d, %.17g", ok2, fd2);
        gauss_free(&a);
        gauss_free(&b);
    }
    {
        /* 128 dimensions: FD(a, b) = FD(b, a), and against Denman-Beavers in long double */
        gan_gaussian a = gauss_random(128, 200, 0.05, 0.3, 44), b = gauss_random(128, 160, 0.2, 0.3, 45);
        long double t, want;
        double fd = -1, fd2 = -1;
        int i, ok, ok2;
        for (i = 0; i < 128 * 128; i++) b.cov[i] *= 1.5;
        ok = gan_frechet_distance(&fd, &a, &b);
        ok2 = gan_frechet_distance(&fd2, &b, &a);
        t = trace_sqrt_db(a.cov, b.cov, 128);
        want = fd_formula(&a, &b, t);
        /* measured: the two orders 7e-15 apart, Denman-Beavers 1.7e-13 from gan.h (fd 82) */
        test_report("frechet: 128-d: FD(a, b) = FD(b, a) to 1e-9", ok && ok2 && rel(fd, fd2) < 1e-9, "%.17g against %.17g", fd, fd2);
        test_report("frechet: 128-d: against tr((A B)^(1/2)) by Denman-Beavers in long double, to 1e-9",
                    ok && t > 0 && rel(fd, (double)want) < 1e-9, "ok %d, %.17g, Denman-Beavers %.17Lg (trace %.17Lg)", ok, fd,
                    want, t);
        gauss_free(&a);
        gauss_free(&b);
    }
    {
        gan_gaussian a = gauss_new(3), b = gauss_new(4);
        double fd = -7;
        int ok;
        clear_error();
        ok = gan_frechet_distance(&fd, &a, &b);
        check_refused("frechet: 3 against 4 dimensions is refused", ok, "gan_frechet_distance", "3 against 4");
        test_report("frechet: ... and *fd is not written", fd == -7, "%g", fd);
        a.cov[0] = a.cov[4] = a.cov[8] = 1;
        a.cov[4] = NAN;
        clear_error();
        ok = gan_frechet_distance(&fd, &a, &a);
        check_refused("frechet: a NaN covariance is refused", ok, "gan_eigen_symmetric", "not finite");
        gauss_free(&a);
        gauss_free(&b);
    }
    test_report("frechet: nothing left allocated", live == live0, "%ld blocks", live - live0);
}

/* ---- 5. a classifier whose predictions are known ---------------------------------------------- */

/* Pixel patterns of a 1 x 1 x 2 image and the class the hand-made network gives each:
   A = (255, 0) -> x = (1, -1) -> class 0; B = (0, 255) -> (-1, 1) -> class 1; C = (0, 0) -> (-1, -1) -> class 2. */
static const uint8_t patterns[3][2] = { { 255, 0 }, { 0, 255 }, { 0, 0 } };
/* W (3 x 2) and b: logits (x0 - x1, x1 - x0, -x0 - x1) + b */
static const float hand_w[6] = { 1, -1, -1, 1, -1, -1 }, hand_b[3] = { 0.25f, 0, -0.5f };

/* input (1, 1, 2) -> Flatten -> Linear(2, 3) as output 0; extra = 1 adds Tanh(flat) and ReLU(flat)
   as outputs 1 and 2. */
static gan_net *hand_net(int max_batch, int extra)
{
    gan_graph *g = gan_graph_new();
    gan_node x, f;
    gan_net *net;
    gan_rng rng;
    int i;
    gan_rng_seed(&rng, 1);
    x = gan_input(g, gan_chw(1, 1, 2));
    f = gan_apply(g, gan_flatten(), x);
    gan_output(g, gan_apply(g, gan_linear(2, 3), f));
    if (extra) {
        gan_output(g, gan_apply(g, gan_tanh(), f));
        gan_output(g, gan_apply(g, gan_relu(), f));
    }
    net = gan_net_build(g, max_batch, 0, &rng);
    gan_graph_free(g);
    if (!net) {
        printf("FAIL eval: the hand-made network: %s\n", gan_last_error());
        exit(1);
    }
    {
        gan_param w = gan_net_param(net, 0), b = gan_net_param(net, 1);
        if (w.count != 6 || b.count != 3 || w.shape[0] != 3 || w.shape[1] != 2) {
            printf("FAIL eval: the hand-made network's Linear is not 3 x 2\n");
            exit(1);
        }
        for (i = 0; i < 6; i++) w.data[i] = hand_w[i];
        for (i = 0; i < 3; i++) b.data[i] = hand_b[i];
    }
    gan_net_set_training(net, 0);
    return net;
}

/* counts[k] images of pattern k, in the order A.., B.., C..; labels = the pattern's class when
   labelled (classes 3). */
static gan_dataset hand_set(const int counts[3], int labelled)
{
    int n = counts[0] + counts[1] + counts[2], i = 0, k, j;
    gan_dataset d = set_new(n, 1, 1, 2, labelled ? 3 : 0);
    for (k = 0; k < 3; k++)
        for (j = 0; j < counts[k]; j++, i++) {
            d.pixels[2 * i] = patterns[k][0];
            d.pixels[2 * i + 1] = patterns[k][1];
            if (labelled) d.labels[i] = (uint8_t)k;
        }
    return d;
}

/* The logits of pattern k, from the pixels as gan_dataset_batch maps them (p / 127.5 - 1). */
static void hand_logits(long double *z, int k)
{
    long double x0 = patterns[k][0] / 127.5L - 1, x1 = patterns[k][1] / 127.5L - 1;
    int j;
    for (j = 0; j < 3; j++) z[j] = hand_w[2 * j] * x0 + hand_w[2 * j + 1] * x1 + hand_b[j];
}

static long double hand_prob(int k, int j)
{
    long double z[3], s = 0;
    int i;
    hand_logits(z, k);
    for (i = 0; i < 3; i++) s += expl(z[i]);
    return expl(z[j]) / s;
}

/* What gan_eval_images should say of the counts: covered, KL, confidence. */
static void hand_expect(const int counts[3], int *covered, long double *kl, long double *conf)
{
    long double n = counts[0] + counts[1] + counts[2];
    int k;
    *covered = 0;
    *kl = *conf = 0;
    for (k = 0; k < 3; k++) {
        long double p = counts[k] / n;
        *covered += counts[k] * 100 >= n; /* p >= 1 % in integers */
        if (counts[k]) *kl += p * logl(3 * p);
        *conf += counts[k] * hand_prob(k, k) / n;
    }
}

static void check_hand_scores(gan_net *net, const int counts[3], const char *what)
{
    gan_dataset d = hand_set(counts, 1);
    gan_image_scores s;
    long double kl, conf;
    char name[160];
    int covered, ok = gan_eval_images(&s, net, &d, 0, d.n, NULL);
    hand_expect(counts, &covered, &kl, &conf);
    snprintf(name, sizeof name, "hand-made: %s: covered %d", what, covered);
    test_report(name, ok && s.covered == covered && s.n == d.n && s.classes == 3, "ok %d, covered %d, n %d, classes %d: %s", ok,
                s.covered, s.n, s.classes, gan_last_error());
    snprintf(name, sizeof name, "hand-made: %s: KL = sum p log(K p)", what);
    test_report(name, ok && fabsl(s.kl - kl) < 1e-12L, "%.17g, formula %.17Lg", s.kl, kl);
    snprintf(name, sizeof name, "hand-made: %s: confidence the mean largest probability", what);
    test_report(name, ok && fabsl(s.confidence - conf) < 1e-6L, "%.9g, formula %.9Lg", s.confidence, conf);
    snprintf(name, sizeof name, "hand-made: %s: the true labels give accuracy 1, no Frechet distance", what);
    test_report(name, ok && s.labelled == 1 && s.accuracy == 1 && s.compared == 0, "labelled %d, accuracy %g, compared %d",
                s.labelled, s.accuracy, s.compared);
    set_free(&d);
}

static void test_hand_made(void)
{
    long live0 = live;
    gan_net *net = hand_net(4, 0);
    {
        static const int exact[3] = { 59, 40, 1 }, under[3] = { 60, 40, 1 }, one[3] = { 0, 7, 0 }, even[3] = { 5, 5, 5 },
                         skew[3] = { 50, 30, 20 };
        check_hand_scores(net, exact, "59 / 40 / 1 of 100 (a class at exactly 1 %)");
        check_hand_scores(net, under, "60 / 40 / 1 of 101 (a class at 1/101, under 1 %)");
        check_hand_scores(net, one, "one class only");
        check_hand_scores(net, even, "every class equally often");
        check_hand_scores(net, skew, "50 / 30 / 20");
    }
    {
        gan_image_scores s;
        static const int counts[3] = { 5, 5, 5 };
        gan_dataset d = hand_set(counts, 1);
        int ok;
        ok = gan_eval_images(&s, net, &d, 0, d.n, NULL);
        test_report("hand-made: every class equally often: KL exactly 0, covered 3", ok && fabs(s.kl) < 1e-15 && s.covered == 3,
                    "kl %.3g", s.kl);
        ok = gan_eval_images(&s, net, &d, 0, 1, NULL);
        test_report("hand-made: one image: covered 1, KL log 3", ok && s.covered == 1 && fabs(s.kl - log(3.0)) < 1e-12 && s.n == 1,
                    "covered %d kl %.17g", s.covered, s.kl);
        /* 7 of the 15 labels wrong: accuracy 8 / 15 */
        d.labels[0] = 1;
        d.labels[1] = 2;
        d.labels[5] = 0;
        d.labels[6] = 0;
        d.labels[7] = 2;
        d.labels[10] = 1;
        d.labels[14] = 0;
        ok = gan_eval_images(&s, net, &d, 0, d.n, NULL);
        test_report("hand-made: label accuracy is the fraction predicted as their label (8 / 15)",
                    ok && s.labelled && fabs(s.accuracy - 8.0 / 15) < 1e-15, "ok %d, %.17g", ok, s.accuracy);
        ok = gan_eval_images(&s, net, &d, 5, 10, NULL);
        test_report("hand-made: ... of images 5 to 14, the labels of those images (5 / 10)", ok && fabs(s.accuracy - 0.5) < 1e-15,
                    "ok %d, %.17g", ok, s.accuracy);
        free(d.labels);
        d.labels = NULL;
        d.classes = 0;
        ok = gan_eval_images(&s, net, &d, 0, d.n, NULL);
        test_report("hand-made: an unlabelled set: labelled 0, accuracy 0, the other scores as before",
                    ok && s.labelled == 0 && s.accuracy == 0 && s.covered == 3 && fabs(s.kl) < 1e-15, "labelled %d, accuracy %g",
                    s.labelled, s.accuracy);
        set_free(&d);
    }
    {
        /* gan_classify's probabilities, and its features: none without an output 1 */
        static const int counts[3] = { 2, 3, 2 };
        gan_dataset d = hand_set(counts, 1);
        gan_float probs[7 * 3], feats[7 * GAN_CLASSIFIER_FEATURES];
        gan_gaussian g;
        gan_image_scores s;
        double worst = 0, sum_err = 0;
        int ok, i, j;
        for (i = 0; i < 7 * 3; i++) probs[i] = -1;
        ok = gan_classify(probs, NULL, net, &d, 0, 7);
        for (i = 0; i < 7; i++) {
            double sum = 0;
            for (j = 0; j < 3; j++) {
                double e = (double)fabsl(probs[i * 3 + j] - hand_prob(d.labels[i], j));
                worst = max2(worst, e);
                sum += (double)probs[i * 3 + j];
            }
            sum_err = max2(sum_err, fabs(sum - 1));
        }
        test_report("hand-made: gan_classify's probabilities are the softmax of the logits", ok && worst < 1e-6 && sum_err < 1e-6,
                    "ok %d, max error %.3g, rows sum to 1 within %.3g: %s", ok, worst, sum_err, gan_last_error());
        clear_error();
        ok = gan_classify(probs, feats, net, &d, 0, 7);
        check_refused("hand-made: gan_classify with features and no output 1 is refused", ok, "gan_classify", "output 1");
        clear_error();
        ok = gan_classifier_gaussian(&g, net, &d, 0, 7);
        check_refused("hand-made: gan_classifier_gaussian without an output 1 is refused", ok, "gan_classify", "output 1");
        test_report("hand-made: ... with g zeroed", g.d == 0 && g.mean == NULL && g.cov == NULL, "d %d", g.d);
        {
            gan_gaussian ref = gauss_new(GAN_CLASSIFIER_FEATURES);
            clear_error();
            ok = gan_eval_images(&s, net, &d, 0, 7, &ref);
            check_refused("hand-made: gan_eval_images with a reference and no output 1 is refused", ok, "gan_classify", "output 1");
            test_report("hand-made: ... and compared stays 0", s.compared == 0, "compared %d", s.compared);
            gauss_free(&ref);
        }
        set_free(&d);
    }
    {
        /* *loss: SGD at lr 0 leaves the weights, so the last pass's mean loss is the mean cross-entropy
           over all 10 images (batches 4, 4, 2: a mean of the batches' means would weigh the last double) */
        static const int counts[3] = { 3, 3, 4 };
        gan_dataset d = hand_set(counts, 1);
        long double want = 0;
        double loss = -1;
        gan_param w = gan_net_param(net, 0);
        int ok, i, same = 1;
        d.labels[0] = 2; /* a few wrong labels, so the loss is not small */
        d.labels[3] = 0;
        d.labels[9] = 1;
        for (i = 0; i < 10; i++) {
            long double z[3], s = 0;
            int k, pat = i < 3 ? 0 : i < 6 ? 1 : 2;
            hand_logits(z, pat);
            for (k = 0; k < 3; k++) s += expl(z[k]);
            want += logl(s) - z[d.labels[i]];
        }
        want /= 10;
        gan_net_set_optim(net, gan_sgd(0, 0));
        ok = gan_classifier_train(net, &d, 0, 10, 2, 5, &loss);
        for (i = 0; i < 6; i++) same = same && w.data[i] == hand_w[i];
        test_report("hand-made: train at lr 0: *loss is the mean cross-entropy over all images of the last pass",
                    ok && rel(loss, (double)want) < 1e-6, "ok %d, %.9g, formula %.9Lg: %s", ok, loss, want, gan_last_error());
        test_report("hand-made: train at lr 0 leaves the weights and the network in evaluation mode", same && net->training == 0,
                    "same %d, training %d", same, net->training);
        set_free(&d);
    }
    {
        /* one SGD step at lr 0.5 on one batch of 4: W -= lr (p - y) x^T / 4, b -= lr (p - y) / 4 */
        static const int counts[3] = { 2, 1, 1 };
        gan_dataset d = hand_set(counts, 1);
        gan_param w = gan_net_param(net, 0), b = gan_net_param(net, 1);
        long double gw[6] = { 0, 0, 0, 0, 0, 0 }, gb[3] = { 0, 0, 0 };
        double worst = 0;
        int ok, i, j;
        d.labels[1] = 1;
        for (i = 0; i < 4; i++) {
            int pat = i < 2 ? 0 : i < 3 ? 1 : 2;
            long double x0 = patterns[pat][0] / 127.5L - 1, x1 = patterns[pat][1] / 127.5L - 1;
            for (j = 0; j < 3; j++) {
                long double e = hand_prob(pat, j) - (j == d.labels[i]);
                gw[2 * j] += e * x0 / 4;
                gw[2 * j + 1] += e * x1 / 4;
                gb[j] += e / 4;
            }
        }
        gan_net_set_optim(net, gan_sgd(0.5f, 0));
        ok = gan_classifier_train(net, &d, 0, 4, 1, 6, NULL);
        for (j = 0; j < 6; j++) worst = max2(worst, (double)fabsl(w.data[j] - (hand_w[j] - 0.5L * gw[j])));
        for (j = 0; j < 3; j++) worst = max2(worst, (double)fabsl(b.data[j] - (hand_b[j] - 0.5L * gb[j])));
        test_report("hand-made: one SGD step of train is -lr times the softmax cross-entropy's gradient", ok && worst < 1e-6,
                    "ok %d, max error %.3g", ok, worst);
        for (j = 0; j < 6; j++) w.data[j] = hand_w[j];
        for (j = 0; j < 3; j++) b.data[j] = hand_b[j];
        set_free(&d);
    }
    {
        /* 4 classes in the set, 3 logits */
        static const int counts[3] = { 2, 2, 2 };
        gan_dataset d = hand_set(counts, 1);
        gan_image_scores s;
        gan_float probs[18];
        int ok;
        d.classes = 4;
        d.labels[5] = 3;
        clear_error();
        ok = gan_classifier_train(net, &d, 0, 6, 1, 1, NULL);
        check_refused("hand-made: train on 4 classes with 3 logits is refused", ok, "gan_classifier_train", "4 classes");
        clear_error();
        ok = gan_eval_images(&s, net, &d, 0, 6, NULL);
        check_refused("hand-made: eval of a set of 4 classes with 3 logits is refused", ok, "gan_eval_images", "4 classes");
        clear_error();
        ok = gan_classify(probs, NULL, net, &d, 0, 6);
        check_refused("hand-made: classify of a set of 4 classes with 3 logits is refused", ok, "gan_classify", "4 classes");
        set_free(&d);
    }
    gan_net_free(net);
#ifdef TEST_POSIX
    {
        /* Three outputs, logits first: the doc's "any network with logits as output 0". Run in a child,
           since a call that looks at only two outputs reads past its array: the child's status says
           (0 passes; 11 to 13 are this check's failures, anything else a crash or a sanitizer's report). */
        pid_t pid;
        int status = 0;
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
            static const int counts[3] = { 3, 3, 4 };
            gan_net *one = hand_net(4, 0), *three = hand_net(4, 1);
            gan_dataset d = hand_set(counts, 1);
            gan_image_scores s1, s3;
            double l1 = -1, l3 = -2;
            int ok;
            gan_net_set_optim(one, gan_sgd(0, 0));
            gan_net_set_optim(three, gan_sgd(0, 0));
            ok = gan_classifier_train(one, &d, 0, 10, 1, 5, &l1) && gan_eval_images(&s1, one, &d, 0, 10, NULL);
            if (!ok) _exit(13);
            ok = gan_classifier_train(three, &d, 0, 10, 1, 5, &l3);
            if (!ok || l1 != l3) {
                printf("    three outputs: train %d, loss %g against %g: %s\n", ok, l3, l1, gan_last_error());
                fflush(stdout);
                _exit(11);
            }
            ok = gan_eval_images(&s3, three, &d, 0, 10, NULL);
            if (!ok || s3.covered != s1.covered || s3.kl != s1.kl || s3.confidence != s1.confidence) {
                printf("    three outputs: eval %d: %s\n", ok, gan_last_error());
                fflush(stdout);
                _exit(12);
            }
            _exit(0);
        }
        if (pid > 0) waitpid(pid, &status, 0);
        test_report("hand-made: a network with three outputs (logits first) trains and is scored as with one",
                    pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s %d",
                    pid <= 0 ? "fork failed" : WIFEXITED(status) ? "the child exited with status" : "the child was killed by signal",
                    pid <= 0 ? 0 : WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    }
#else
    test_skip("hand-made: a network with three outputs (logits first) trains and is scored as with one", "no fork here");
#endif
    test_report("hand-made: nothing left allocated", live == live0, "%ld blocks", live - live0);
}

/* ---- 6. the classifier's graph ---------------------------------------------------------------- */

static void test_classifier_graph(void)
{
    static const int want_shape[8][4] = { { 32, 3, 3, 3 }, { 32, 0, 0, 0 }, { 64, 32, 3, 3 }, { 64, 0, 0, 0 },
                                          { 128, 768, 0, 0 }, { 128, 0, 0, 0 }, { 10, 128, 0, 0 }, { 10, 0, 0, 0 } };
    static const int want_ndim[8] = { 4, 1, 4, 1, 2, 1, 2, 1 };
    gan_graph *g = gan_classifier_graph(gan_chw(3, 18, 13), 10);
    gan_net *net, *same, *other;
    gan_rng rng;
    long live0;
    int i, k, shapes_ok = 1;
    gan_rng_seed(&rng, 3);
    net = g ? gan_net_build(g, 2, 0, &rng) : NULL;
    gan_graph_free(g);
    test_report("graph: gan_classifier_graph(3 x 18 x 13, 10) builds", net != NULL, "%s", gan_last_error());
    if (!net) return;
    test_report("graph: 8 parameter tensors, outputs logits and features", gan_net_param_count(net) == 8 && net->n_outputs == 2,
                "%d parameters, %d outputs", gan_net_param_count(net), net->n_outputs);
    for (i = 0; i < 8 && i < gan_net_param_count(net); i++) {
        gan_param p = gan_net_param(net, i);
        shapes_ok = shapes_ok && p.ndim == want_ndim[i];
        for (k = 0; k < p.ndim; k++) shapes_ok = shapes_ok && p.shape[k] == want_shape[i][k];
        if (!shapes_ok) {
            printf("    parameter %d (%s): ndim %d, shape %d %d %d %d\n", i, p.name, p.ndim, p.shape[0], p.shape[1], p.shape[2],
                   p.shape[3]);
            break;
        }
    }
    test_report("graph: Conv(3, 32, 3), Conv(32, 64, 3), Linear(64 (18 / 4) (13 / 4) = 768, 128), Linear(128, 10)", shapes_ok,
                "shapes differ");
    test_report("graph: the last Linear's parameters are logits.weight and logits.bias",
                gan_net_param_count(net) == 8 && strcmp(gan_net_param(net, 6).name, "logits.weight") == 0 &&
                strcmp(gan_net_param(net, 7).name, "logits.bias") == 0, "%s", gan_net_param(net, 6).name);
    {
        /* in training mode: output 1 (features, before the Dropout) is what inference gives, >= 0;
           output 0 (after it) is not */
        gan_float x[2 * 3 * 18 * 13], logits[2 * 10], feats[2 * 128];
        gan_tensor in = gan_tensor_make(x, 2, 3, 18, 13), ys[2];
        const gan_tensor *t0, *t1;
        double df = 0, dl = 0;
        int neg = 0, ok;
        gan_fill_uniform(x, sizeof x / sizeof x[0], -1, 1, &rng);
        ys[0] = gan_tensor_make(logits, 2, 10, 1, 1);
        ys[1] = gan_tensor_make(feats, 2, 128, 1, 1);
        ok = gan_net_infer_multi(net, ys, &in, GAN_STATS_RUNNING);
        gan_net_set_training(net, 1);
        ok = ok && gan_net_forward_multi(net, &in);
        t0 = gan_net_output_at(net, 0);
        t1 = gan_net_output_at(net, 1);
        test_report("graph: output 0 is (10, 1, 1), output 1 (128, 1, 1)", ok && t0->c == 10 && t0->h == 1 && t0->w == 1 &&
                    t1->c == 128 && t1->h == 1 && t1->w == 1, "ok %d, %d %d %d, %d %d %d", ok, t0->c, t0->h, t0->w, t1->c, t1->h,
                    t1->w);
        for (i = 0; ok && i < 256; i++) {
            df = max2(df, fabs((double)(t1->data[i] - feats[i])));
            neg += feats[i] < 0;
        }
        for (i = 0; ok && i < 20; i++) dl = max2(dl, fabs((double)(t0->data[i] - logits[i])));
        test_report("graph: the features are a ReLU's (>= 0), the Dropout after them: training changes the logits only",
                    ok && neg == 0 && df < 1e-5 && dl > 1e-4, "negative %d, features differ by %.3g, logits by %.3g", neg, df, dl);
    }
    gan_net_free(net);
    live0 = live;
    net = gan_classifier_create(gan_chw(1, 8, 8), 4, 4, 99);
    same = gan_classifier_create(gan_chw(1, 8, 8), 4, 4, 99);
    other = gan_classifier_create(gan_chw(1, 8, 8), 4, 4, 98);
    test_report("create: built", net && same && other, "%s", gan_last_error());
    if (net && same && other) {
        int eq = 1, ne = 0;
        for (i = 0; i < gan_net_param_count(net); i++) {
            gan_param a = gan_net_param(net, i), b = gan_net_param(same, i), c = gan_net_param(other, i);
            eq = eq && memcmp(a.data, b.data, a.count * sizeof(gan_float)) == 0;
            ne = ne || memcmp(a.data, c.data, a.count * sizeof(gan_float)) != 0;
        }
        test_report("create: the same seed, the same weights; another seed, others", eq && ne, "same %d, differ %d", eq, ne);
        test_report("create: Adam(1e-3, 0.9, 0.999), max_batch, training mode",
                    net->opt.kind == GAN_ADAM && net->opt.lr == (gan_float)1e-3 && net->opt.beta1 == (gan_float)0.9 &&
                    net->opt.beta2 == (gan_float)0.999 && net->max_batch == 4 && net->training == 1,
                    "kind %d lr %g b1 %g b2 %g, max_batch %d, training %d", (int)net->opt.kind, (double)net->opt.lr,
                    (double)net->opt.beta1, (double)net->opt.beta2, net->max_batch, net->training);
    }
    {
        /* features from a fresh network, and after a training whose last batch is short (6 = 4 + 2) */
        gan_dataset d;
        gan_float f[6 * GAN_CLASSIFIER_FEATURES];
        double loss;
        int ok;
        gan_dataset_shapes(&d, 6, 8, 4);
        clear_error();
        ok = net && gan_classify(NULL, f, net, &d, 0, 6);
        test_report("create: a fresh classifier gives features (gan_classify)", ok, "%s", gan_last_error());
        ok = net && gan_classifier_train(net, &d, 0, 6, 1, 1, &loss);
        test_report("create: train on 6 images in batches of 4", ok, "%s", gan_last_error());
        clear_error();
        ok = ok && gan_classify(NULL, f, net, &d, 0, 6);
        test_report("create: features after a training whose last batch was short (gan_classify)", ok, "%s", gan_last_error());
        ok = net && gan_classifier_train(net, &d, 0, 4, 1, 1, &loss);
        ok = ok && gan_classify(NULL, f, net, &d, 0, 6);
        test_report("create: features after a training whose last batch was full", ok, "%s", gan_last_error());
        gan_dataset_free(&d);
    }
    gan_net_free(net);
    gan_net_free(same);
    gan_net_free(other);
    test_report("create: free gives everything back", live == live0, "%ld blocks", live - live0);
}

/* ---- 7. the classifier on the shapes ---------------------------------------------------------- */

#define N_TRAIN 800
#define N_TEST 400

static int scores_equal(const gan_image_scores *a, const gan_image_scores *b)
{
    return a->n == b->n && a->classes == b->classes && a->covered == b->covered && a->kl == b->kl &&
           a->confidence == b->confidence && a->labelled == b->labelled && a->accuracy == b->accuracy &&
           a->compared == b->compared && (!a->compared || rel(a->frechet, b->frechet) < 1e-12);
}

static double trace_of(const gan_gaussian *g)
{
    double t = 0;
    int i;
    for (i = 0; i < g->d; i++) t += g->cov[i * g->d + i];
    return t;
}

static void test_shapes_classifier(gan_net **out_net, gan_dataset *out_set)
{
    gan_dataset d;
    gan_net *net;
    gan_image_scores s;
    gan_float *probs = (gan_float *)xmalloc(sizeof(gan_float) * N_TEST * 4);
    double loss = -1;
    int ok, i, k;
    *out_net = NULL;
    memset(out_set, 0, sizeof *out_set);
    ok = gan_dataset_shapes(&d, N_TRAIN + N_TEST, 16, 1);
    net = ok ? gan_classifier_create(gan_chw(1, 16, 16), 4, 32, 7) : NULL;
    test_report("shapes: 1200 images of 16 x 16 and a classifier", ok && net && d.classes == 4, "%s", gan_last_error());
    if (!net) {
        free(probs);
        return;
    }
    gan_net_set_optim(net, gan_adam(3e-3f, 0.9f, 0.999f));
    ok = gan_classifier_train(net, &d, 0, N_TRAIN, 15, 3, &loss);
    /* measured 0.07 */
    test_report("shapes: train 800 images for 15 epochs: the last pass's loss below 0.3, evaluation mode",
                ok && loss == loss && loss < 0.3 && net->training == 0, "ok %d, loss %g, training %d: %s", ok, loss, net->training,
                gan_last_error());
    ok = gan_eval_images(&s, net, &d, N_TRAIN, N_TEST, NULL);
    /* measured: accuracy 0.985, KL 0.0043, confidence 0.97 */
    test_report("shapes: the 400 other images: accuracy >= 0.9", ok && s.labelled && s.accuracy >= 0.9, "ok %d, accuracy %g: %s", ok,
                s.accuracy, gan_last_error());
    test_report("shapes: all 4 classes covered, KL below 0.05, confidence above 0.8",
                ok && s.covered == 4 && s.kl >= 0 && s.kl < 0.05 && s.confidence > 0.8 && s.confidence <= 1,
                "covered %d, kl %g, confidence %g", s.covered, s.kl, s.confidence);
    test_report("shapes: n 400, classes 4, nothing compared", ok && s.n == N_TEST && s.classes == 4 && s.compared == 0,
                "n %d, classes %d, compared %d", s.n, s.classes, s.compared);
    {
        /* the same scores from gan_classify's probabilities, computed here */
        int hist[4] = { 0, 0, 0, 0 }, right = 0, covered = 0;
        long double conf = 0, kl = 0;
        ok = gan_classify(probs, NULL, net, &d, N_TRAIN, N_TEST);
        for (i = 0; ok && i < N_TEST; i++) {
            int best = 0;
            for (k = 1; k < 4; k++)
                if (probs[i * 4 + k] > probs[i * 4 + best]) best = k;
            hist[best]++;
            conf += probs[i * 4 + best];
            right += best == d.labels[N_TRAIN + i];
        }
        for (k = 0; k < 4; k++) {
            long double p = hist[k] / (long double)N_TEST;
            covered += hist[k] * 100 >= N_TEST;
            if (hist[k]) kl += p * logl(4 * p);
        }
        conf /= N_TEST;
        test_report("shapes: gan_eval_images' scores are those of gan_classify's probabilities",
                    ok && s.covered == covered && fabsl(s.kl - kl) < 1e-12L && fabsl(s.confidence - conf) < 1e-12L &&
                    s.accuracy == (double)right / N_TEST, "covered %d/%d, kl %.17g/%.17Lg, confidence %.17g/%.17Lg, accuracy %g/%g",
                    s.covered, covered, s.kl, kl, s.confidence, conf, s.accuracy, (double)right / N_TEST);
    }
    {
        /* flipped labels (k -> k + 1 mod 4): accuracy drops below 1 - accuracy; the rest is as before */
        gan_dataset f = set_copy(&d, N_TRAIN, N_TEST);
        gan_image_scores sf, sn;
        for (i = 0; i < N_TEST; i++) f.labels[i] = (uint8_t)((f.labels[i] + 1) % 4);
        ok = gan_eval_images(&sf, net, &f, 0, N_TEST, NULL);
        test_report("shapes: flipped labels: accuracy below 0.1 and 1 - the true labels' accuracy",
                    ok && sf.accuracy < 0.1 && sf.accuracy <= 1 - s.accuracy + 1e-12, "ok %d, %g (true labels %g)", ok, sf.accuracy,
                    s.accuracy);
        test_report("shapes: flipped labels: covered, KL, confidence unchanged",
                    ok && sf.covered == s.covered && sf.kl == s.kl && sf.confidence == s.confidence, "changed");
        free(f.labels);
        f.labels = NULL;
        f.classes = 0;
        ok = gan_eval_images(&sn, net, &f, 0, N_TEST, NULL);
        test_report("shapes: no labels: labelled 0, the rest unchanged",
                    ok && sn.labelled == 0 && sn.covered == s.covered && sn.kl == s.kl && sn.confidence == s.confidence,
                    "labelled %d", sn.labelled);
        set_free(&f);
    }
    {
        /* one image repeated 50 times */
        gan_dataset r = set_new(50, 1, 16, 16, 4);
        gan_float p1[4], p50[50 * 4], f50[50 * GAN_CLASSIFIER_FEATURES];
        gan_gaussian ref;
        gan_image_scores sr;
        int at = N_TRAIN + 17, best = 0, okr;
        memset(&sr, 0, sizeof sr);
        for (i = 0; i < 50; i++) {
            memcpy(r.pixels + i * 256, d.pixels + (size_t)at * 256, 256);
            r.labels[i] = d.labels[at];
        }
        ok = gan_classify(p1, NULL, net, &d, at, 1) && gan_classify(p50, f50, net, &r, 0, 50);
        for (k = 1; k < 4; k++)
            if (p1[k] > p1[best]) best = k;
        okr = gan_classifier_gaussian(&ref, net, &d, 0, N_TRAIN);
        ok = ok && okr && gan_eval_images(&sr, net, &r, 0, 50, &ref);
        test_report("shapes: one image repeated: covered 1, KL = log 4 to 1e-12",
                    ok && sr.covered == 1 && fabs(sr.kl - log(4.0)) < 1e-12, "ok %d, covered %d, kl %.17g: %s", ok, sr.covered,
                    sr.kl, gan_last_error());
        test_report("shapes: one image repeated: confidence = its largest probability",
                    ok && sr.confidence == (double)p50[best] && fabs(sr.confidence - (double)p1[best]) < 1e-6,
                    "%.9g, alone %.9g, in the set %.9g", sr.confidence, (double)p1[best], (double)p50[best]);
        if (ok) {
            /* its covariance is 0, so FD = |f - mu|^2 + tr(S) */
            long double want = 0;
            for (k = 0; k < GAN_CLASSIFIER_FEATURES; k++) {
                long double m = (long double)f50[k] - ref.mean[k];
                want += m * m + ref.cov[k * GAN_CLASSIFIER_FEATURES + k];
            }
            test_report("shapes: one image repeated: FD to the training images = |f - mu|^2 + tr(S)",
                        sr.compared && rel(sr.frechet, (double)want) < 1e-12, "%.17g, formula %.17Lg", sr.frechet, want);
        }
        {
            /* FD: a set against its own Gaussian ~ 0; the test images against the training images'
               positive; one class of them (the discs) against the training images' larger */
            gan_gaussian own;
            gan_image_scores so, st, s1;
            gan_dataset one = set_new(N_TEST, 1, 16, 16, 4);
            int n1 = 0;
            for (i = 0; i < N_TEST; i++)
                if (d.labels[N_TRAIN + i] == 0) {
                    memcpy(one.pixels + n1 * 256, d.pixels + (size_t)(N_TRAIN + i) * 256, 256);
                    one.labels[n1++] = 0;
                }
            one.n = n1;
            ok = okr && gan_classifier_gaussian(&own, net, &d, N_TRAIN, N_TEST);
            ok = ok && gan_eval_images(&so, net, &d, N_TRAIN, N_TEST, &own) &&
                 gan_eval_images(&st, net, &d, N_TRAIN, N_TEST, &ref) && gan_eval_images(&s1, net, &one, 0, n1, &ref);
            /* measured: 2.9e-10 against itself (tr S 583), 5.3 test against train, 741 discs against train */
            test_report("shapes: FD of a set to its own gan_classifier_gaussian ~ 0",
                        ok && so.compared && so.frechet >= 0 && so.frechet < 1e-9 * trace_of(&own), "ok %d, fd %.3g (tr S %.3g): %s",
                        ok, so.frechet, ok ? trace_of(&own) : 0, gan_last_error());
            test_report("shapes: FD of the test images to the training images' Gaussian > 0, discs only larger",
                        ok && st.frechet > 1e-6 && s1.frechet > 4 * st.frechet, "test %.3g, discs %.3g", st.frechet, s1.frechet);
            test_report("shapes: the scores with a reference are those without it, and compared 1",
                        ok && st.compared == 1 && st.covered == s.covered && st.kl == s.kl && st.accuracy == s.accuracy &&
                        st.confidence == s.confidence, "changed");
            {
                /* a subset first / count scores as a copy of it */
                gan_dataset sub = set_copy(&d, 850, 100);
                gan_image_scores a, b;
                memset(&a, 0, sizeof a);
                memset(&b, 0, sizeof b);
                ok = gan_eval_images(&a, net, &d, 850, 100, &ref) && gan_eval_images(&b, net, &sub, 0, 100, &ref);
                test_report("shapes: images 850 to 949 score as a copy of them", ok && a.compared && scores_equal(&a, &b),
                            "ok %d: covered %d/%d kl %g/%g conf %g/%g acc %g/%g fd %.17g/%.17g", ok, a.covered, b.covered, a.kl,
                            b.kl, a.confidence, b.confidence, a.accuracy, b.accuracy, a.frechet, b.frechet);
                set_free(&sub);
            }
            gan_gaussian_free(&own);
            set_free(&one);
        }
        gan_gaussian_free(&ref);
        set_free(&r);
    }
    free(probs);
    *out_net = net;
    *out_set = d;
}

/* ---- 8. argument errors ----------------------------------------------------------------------- */

static void test_arguments(gan_net *net, gan_dataset *d)
{
    static const int ranges[4][2] = { { -1, 10 }, { 1190, 20 }, { 0, 0 }, { 1200, 1 } };
    gan_image_scores s;
    gan_gaussian g;
    gan_float probs[40 * 4];
    char name[160];
    int t, ok;
    long live0 = live;
    memset(&g, 0, sizeof g);
    for (t = 0; t < 4; t++) {
        int first = ranges[t][0], count = ranges[t][1];
        snprintf(name, sizeof name, "arguments: images %d + %d of 1200: gan_eval_images refuses", first, count);
        clear_error();
        check_refused(name, gan_eval_images(&s, net, d, first, count, NULL), "gan_eval_images", "not in the set");
        snprintf(name, sizeof name, "arguments: images %d + %d of 1200: gan_classify refuses", first, count);
        clear_error();
        check_refused(name, gan_classify(probs, NULL, net, d, first, count), "gan_classify", "not in the set");
        snprintf(name, sizeof name, "arguments: images %d + %d of 1200: gan_classifier_train refuses", first, count);
        clear_error();
        check_refused(name, gan_classifier_train(net, d, first, count, 1, 1, NULL), "gan_classifier_train", "not in the set");
        if (count >= 2) {
            snprintf(name, sizeof name, "arguments: images %d + %d of 1200: gan_classifier_gaussian refuses", first, count);
            clear_error();
            check_refused(name, gan_classifier_gaussian(&g, net, d, first, count), "gan_classify", "not in the set");
        }
    }
    {
        gan_dataset small;
        gan_dataset_shapes(&small, 10, 8, 2);
        clear_error();
        check_refused("arguments: 8 x 8 images for a 16 x 16 classifier: gan_eval_images refuses",
                      gan_eval_images(&s, net, &small, 0, 10, NULL), "gan_eval_images", "1 x 8 x 8");
        clear_error();
        check_refused("arguments: 8 x 8 images for a 16 x 16 classifier: gan_classifier_train refuses",
                      gan_classifier_train(net, &small, 0, 10, 1, 1, NULL), "gan_classifier_train", "1 x 16 x 16");
        clear_error();
        check_refused("arguments: 8 x 8 images for a 16 x 16 classifier: gan_classify refuses",
                      gan_classify(probs, NULL, net, &small, 0, 10), "gan_classify", "network takes");
        gan_dataset_free(&small);
    }
    {
        gan_dataset u = set_copy(d, 0, 40);
        free(u.labels);
        u.labels = NULL;
        u.classes = 0;
        clear_error();
        check_refused("arguments: training on a set without labels is refused", gan_classifier_train(net, &u, 0, 40, 1, 1, NULL),
                      "gan_classifier_train", "no labels");
        set_free(&u);
    }
    {
        gan_gaussian zero = gauss_new(GAN_CLASSIFIER_FEATURES);
        clear_error();
        check_refused("arguments: a Frechet distance of one image is refused", gan_eval_images(&s, net, d, 0, 1, &zero),
                      "gan_eval_images", "2 images");
        gauss_free(&zero);
    }
    clear_error();
    ok = gan_classifier_gaussian(&g, net, d, 0, 1);
    check_refused("arguments: gan_classifier_gaussian of one image is refused", ok, "gan_classifier_gaussian", "2 or more");
    {
        gan_gaussian small = gauss_new(3);
        clear_error();
        ok = gan_eval_images(&s, net, d, 0, 10, &small);
        check_refused("arguments: a reference of 3 dimensions is refused", ok, "gan_frechet_distance", "against 3");
        test_report("arguments: ... with compared 0", s.compared == 0, "compared %d", s.compared);
        gauss_free(&small);
    }
    test_report("arguments: nothing left allocated", live == live0, "%ld blocks", live - live0);
}

/* ---- 9. out of memory ------------------------------------------------------------------------- */

enum { OOM_FRECHET, OOM_EIGEN, OOM_FIT, OOM_CLASSIFY, OOM_GAUSSIAN, OOM_EVAL, OOM_TRAIN, OOM_CREATE, OOM_KINDS };

/* What one call with its k-th allocation failing did. */
enum { OOM_DONE,   /* succeeded having made fewer than k allocations: nothing left to fail */
       OOM_PASSED, /* succeeded anyway (the failure was survived), nothing left behind */
       OOM_CLEAN,  /* returned 0 with "out of memory" and nothing left behind */
       OOM_BAD };  /* anything else: the reason is in oom_why */

static char oom_why[200];

/* A child's exit status is OOM_EXIT + the result, apart from the 1 that a sanitizer's report exits with. */
#define OOM_EXIT 40

typedef struct oom_state {
    gan_dataset d;
    gan_net *net;
    gan_gaussian a, b, ref;
    gan_float *x, probs[16 * 4], feats[16 * GAN_CLASSIFIER_FEATURES];
    double m[64], vals[8], vecs[64];
} oom_state;

static int oom_call(oom_state *st, int kind, int k)
{
    gan_gaussian g;
    gan_image_scores s;
    gan_net *made = NULL;
    double fd;
    long live0 = live;
    int ok, result;
    clear_error();
    calls = 0;
    fail_at = k;
    switch (kind) {
    case OOM_FRECHET: ok = gan_frechet_distance(&fd, &st->a, &st->b); break;
    case OOM_EIGEN: ok = gan_eigen_symmetric(st->vals, st->vecs, st->m, 8); break;
    case OOM_FIT: ok = gan_gaussian_fit(&g, st->x, 40, 16); break;
    case OOM_CLASSIFY: ok = gan_classify(st->probs, st->feats, st->net, &st->d, 0, 16); break;
    case OOM_GAUSSIAN: ok = gan_classifier_gaussian(&g, st->net, &st->d, 0, 16); break;
    case OOM_EVAL: ok = gan_eval_images(&s, st->net, &st->d, 0, 16, &st->ref); break;
    case OOM_TRAIN: ok = gan_classifier_train(st->net, &st->d, 0, 16, 1, (uint64_t)k, NULL); break;
    default: ok = (made = gan_classifier_create(gan_chw(1, 8, 8), 4, 8, 3)) != NULL; break;
    }
    fail_at = 0;
    if (ok && (kind == OOM_FIT || kind == OOM_GAUSSIAN)) gan_gaussian_free(&g);
    gan_net_free(made);
    if (ok) result = calls < k ? OOM_DONE : OOM_PASSED;
    else result = has(gan_last_error(), "out of memory") ? OOM_CLEAN : OOM_BAD;
    if (result == OOM_BAD)
        snprintf(oom_why, sizeof oom_why, "allocation %d: message \"%.120s\"", k, gan_last_error());
    if (result != OOM_BAD && live != live0) {
        snprintf(oom_why, sizeof oom_why, "allocation %d: %s, %ld blocks left behind", k, ok ? "success" : "failure",
                 live - live0);
        result = OOM_BAD;
    }
    return result;
}

/* oom_call in a child process where there is fork (a crash is then a failed check, not the end of the
   program, and the parent's state stays as it was), else here. */
static int oom_run(oom_state *st, int kind, int k)
{
#ifdef TEST_POSIX
    pid_t pid;
    int status = 0;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        int r = oom_call(st, kind, k);
        if (r == OOM_BAD) {
            printf("    %s\n", oom_why);
            fflush(stdout);
        }
        _exit(OOM_EXIT + r);
    }
    if (pid < 0) return oom_call(st, kind, k);
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) >= OOM_EXIT && WEXITSTATUS(status) <= OOM_EXIT + OOM_BAD) {
        if (WEXITSTATUS(status) == OOM_EXIT + OOM_BAD) snprintf(oom_why, sizeof oom_why, "allocation %d: see above", k);
        return WEXITSTATUS(status) - OOM_EXIT;
    }
    snprintf(oom_why, sizeof oom_why, "allocation %d: the call %s %d", k,
             WIFSIGNALED(status) ? "crashed with signal" : "exited with status",
             WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    return OOM_BAD;
#else
    return oom_call(st, kind, k);
#endif
}

static void test_oom(void)
{
    static const char *const what[OOM_KINDS] = { "gan_frechet_distance",    "gan_eigen_symmetric", "gan_gaussian_fit",
                                                 "gan_classify",            "gan_classifier_gaussian", "gan_eval_images",
                                                 "gan_classifier_train",    "gan_classifier_create" };
    oom_state *st = (oom_state *)xmalloc(sizeof *st);
    gan_rng rng;
    int kind, i, ok;
    long live0 = live;
    st->x = (gan_float *)xmalloc(sizeof(gan_float) * 40 * 16);
    gan_rng_seed(&rng, 51);
    for (i = 0; i < 40 * 16; i++) st->x[i] = gan_rng_normal(&rng);
    for (i = 0; i < 64; i++) st->m[i] = st->x[(i % 8) * 8 + i / 8] + st->x[i]; /* X + X^T */
    ok = gan_dataset_shapes(&st->d, 16, 8, 5);
    st->net = ok ? gan_classifier_create(gan_chw(1, 8, 8), 4, 8, 3) : NULL;
    /* two full batches, so that the features are there (see "create: features ..." above) */
    ok = st->net && gan_classifier_train(st->net, &st->d, 0, 16, 1, 1, NULL);
    ok = ok && gan_gaussian_fit(&st->a, st->x, 40, 16) && gan_gaussian_fit(&st->b, st->x + 8, 39, 16) &&
         gan_classifier_gaussian(&st->ref, st->net, &st->d, 0, 16);
    test_report("oom: the set, the classifier and the Gaussians", ok, "%s", gan_last_error());
    if (ok)
        for (kind = 0; kind < OOM_KINDS; kind++) {
            char name[160];
            int k, bad = 0, done = 0, failures = 0;
            char why[200] = "";
            for (k = 1; k < 200 && !done; k++) {
                int r = oom_run(st, kind, k);
                done = r == OOM_DONE;
                failures += r == OOM_CLEAN;
                if (r == OOM_BAD && !bad++) memcpy(why, oom_why, sizeof why);
            }
            snprintf(name, sizeof name, "oom: %s fails cleanly at each of its allocations", what[kind]);
            test_report(name, bad == 0 && done && failures >= 1, "%d bad (the first: %s), done %d, %d clean failures", bad, why,
                        done, failures);
        }
    gan_gaussian_free(&st->a);
    gan_gaussian_free(&st->b);
    gan_gaussian_free(&st->ref);
    gan_net_free(st->net);
    gan_dataset_free(&st->d);
    test_report("oom: nothing left allocated", live == live0, "%ld blocks", live - live0);
    free(st->x);
    free(st);
}

int main(void)
{
    gan_net *net;
    gan_dataset shapes;
    gan_set_threads(1);
    test_softmax_xent();
    test_modes();
    test_eigen();
    test_gaussian_fit();
    test_frechet();
    test_hand_made();
    test_classifier_graph();
    test_shapes_classifier(&net, &shapes);
    if (net) test_arguments(net, &shapes);
    gan_net_free(net);
    gan_dataset_free(&shapes);
    test_oom();
    test_report("eval: every block gan.h allocated is given back", live == 0, "%ld blocks held", live);
    return test_finish();
}
