/* tests/test_speed.c - the fast paths: the packed GEMM's kernels for each instruction set, its thread
   pool, batched convolutions, and the optimizer's subnormal flush.

   - For every kernel set this build and CPU have (baseline, AVX2, AVX-512; a missing one is a SKIP
     with the reason), gan_gemm equals gan_gemm_naive within a worst-case rounding bound on odd
     shapes around every tile (MR, NR), block (KC, MC, NC) and the transposed path (N < NR, M > N),
     all four transposes, alpha in {1, -0.5}, beta in {0, 1, 0.25}, leading dimensions above the
     minimum (their gaps hold NaN) and C holding NaN when beta = 0.
     The bound: each of the two results is within gamma_n (|alpha| sum_k |a_ik b_kj| + |beta c_ij|) of
     the exact value, n counting the roundings on the way (K products or fused multiply-adds and sums,
     one per KC block, alpha, beta and the final addition: at most K + ceil(K / 128) + 3), u =
     FLT_EPSILON / 2 (Higham, "Accuracy and Stability of Numerical Algorithms", 3.1). Their difference
     is then within (K + ceil(K / 128) + 5) FLT_EPSILON times that magnitude (+ FLT_MIN): summation
     order and fused or not never trip it, a lost or doubled product (of size |a b|, about 4 / K of
     the magnitude for the uniform [-1, 1] operands used here) does for every K here.
   - A product whose last tiles are partial (the AVX-512 edge kernel, elsewhere the full kernel into a
     tile buffer) gives the same bits as the same values of a product padded out to whole tiles.
   - Results are bitwise the same for 1, 2, 3 and 4 threads, per kernel set: gan_gemm on products
     large enough to split (over columns, over rows, and transposed), a mini DCGAN (Conv2d,
     BatchNorm, ConvTranspose2d, Linear) trained a few Adam steps at 1, 2 and 3 threads, and a
     WGAN-GP penalty on a LayerNorm critic (the penalty and its gradients) at 1, 2 and 3 threads.
   - Every kernel set trains that DCGAN like the baseline, within tolerances stated where they are
     checked; a convolution's batch of 30 (two chunks of 15 samples, plane 7 x 7 = 49) gives each
     sample what a batch of 1 gives it, within the rounding bound above applied to the convolution's
     own sums.
   - gan_gemm runs on a thread with a 64 KiB stack (it once kept ~100 KiB of packing buffers there).
   - Adam, RMSProp and SGD-momentum moments of a parameter whose gradient stops are never subnormal
     and end exactly 0, while Adam's parameters track a double-precision Adam.
   - Training steps allocate nothing with two threads (GAN_MALLOC is a counting wrapper here).
   - The pool runs every part of 20000 tasks of 1 to 4 parts exactly once, across pauses that let its
     threads sleep.
   - gan_set_isa refuses a kernel set that is not there; gan_isa_name names every value.
   Also built by tests/run with -DGAN_NO_DISPATCH and with -DGAN_NO_THREADS. */
#define _POSIX_C_SOURCE 200809L /* pthread_attr_setstacksize under -std=c99 */

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "counting_alloc.h" /* every allocation gan.h makes is counted */

#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "test.h"

/* gan.h's own condition for its thread pool; the stack test needs POSIX threads too. */
#if !defined(GAN_NO_THREADS) && (defined(__unix__) || defined(__APPLE__))
#define SPEED_THREADS 1
#include <pthread.h>
#endif

#ifdef GAN_DOUBLE
#define EPS DBL_EPSILON
#define TINY DBL_MIN
#else
#define EPS FLT_EPSILON
#define TINY FLT_MIN
#endif

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        printf("FAIL speed: out of memory\n");
        exit(1);
    }
    return p;
}

static void *xdup(const void *src, size_t bytes)
{
    void *p = xcalloc(bytes, 1);
    memcpy(p, src, bytes);
    return p;
}

/* The kernel sets, in gan_isa order; have[i]: gan_set_isa accepted it here. */
#define N_ISA 3
static const gan_isa isa_list[N_ISA] = { GAN_ISA_BASELINE, GAN_ISA_AVX2, GAN_ISA_AVX512 };
static int have[N_ISA];

static void use_isa(int k)
{
    if (!gan_set_isa(isa_list[k])) {
        printf("FAIL speed: gan_set_isa(%s) accepted before, refused now: %s\n", gan_isa_name(isa_list[k]),
               gan_last_error());
        exit(1);
    }
}

/* The worst-case bound described at the top, for a sum of n terms of total size mag. */
static double sum_bound(double n, double mag)
{
    return (n + ceil(n / 128) + 5) * (double)EPS * mag + TINY;
}

/* ---- the kernel sets this machine has ------------------------------------------------------------ */

static void test_isa_select(void)
{
    int k;
    for (k = 0; k < N_ISA; k++) {
        char name[96];
        gan_isa isa = isa_list[k];
        sprintf(name, "isa.%s.selectable", gan_isa_name(isa));
        if (!gan_set_isa(isa)) {
            test_skip(name, "gan_set_isa refused it (\"%s\"); its checks below are skipped", gan_last_error());
            continue;
        }
        have[k] = 1;
        test_report(name, gan_isa_in_use() == isa, "gan_set_isa(%s) returned 1 but %s is in use", gan_isa_name(isa),
                    gan_isa_name(gan_isa_in_use()));
    }
}

/* ---- gan_set_isa refusals and names ---------------------------------------------------------------- */

static void test_isa_api(void)
{
    const gan_isa all[4] = { GAN_ISA_AUTO, GAN_ISA_BASELINE, GAN_ISA_AVX2, GAN_ISA_AVX512 };
    const char *out_of_range = gan_isa_name((gan_isa)99);
    int i, j, names_ok = 1, refused = 0, best = -1, k;
    char why[300] = "";

    for (i = 0; i < 4; i++) {
        const char *n = gan_isa_name(all[i]);
        if (!n || !*n || (out_of_range && strcmp(n, out_of_range) == 0)) {
            names_ok = 0;
            sprintf(why, "value %d has name \"%s\"", (int)all[i], n ? n : "(null)");
        }
        for (j = 0; j < i && names_ok; j++)
            if (strcmp(n, gan_isa_name(all[j])) == 0) {
                names_ok = 0;
                sprintf(why, "values %d and %d are both \"%s\"", (int)all[j], (int)all[i], n);
            }
    }
    test_report("isa.names_distinct_for_every_value", names_ok && out_of_range != NULL, "%s%s", why,
                out_of_range ? "" : " (an out-of-range value gives NULL)");
    printf("# isa names: %s %s %s %s, out of range: %s\n", gan_isa_name(GAN_ISA_AUTO), gan_isa_name(GAN_ISA_BASELINE),
           gan_isa_name(GAN_ISA_AVX2), gan_isa_name(GAN_ISA_AVX512), out_of_range ? out_of_range : "(null)");

    for (k = 0; k < N_ISA; k++) {
        char name[96];
        gan_isa before;
        int r;
        if (have[k]) {
            best = k;
            continue;
        }
        refused++;
        use_isa(0);
        before = gan_isa_in_use();
        r = gan_set_isa(isa_list[k]);
        sprintf(name, "isa.%s.refused_with_message", gan_isa_name(isa_list[k]));
        test_report(name, r == 0 && strstr(gan_last_error(), gan_isa_name(isa_list[k])) != NULL && gan_isa_in_use() == before,
                    "gan_set_isa returned %d, gan_last_error \"%s\", kernels in use %s (were %s)", r, gan_last_error(),
                    gan_isa_name(gan_isa_in_use()), gan_isa_name(before));
    }
    if (!refused)
        test_skip("isa.unavailable_refused",
                  "this build on this CPU has every kernel set, so no refusal can be provoked here (tests/run's "
                  "GAN_NO_DISPATCH build of this program checks it)");

    {
        int r = gan_set_isa(GAN_ISA_AUTO);
        test_report("isa.auto_picks_the_best_available", r == 1 && best >= 0 && gan_isa_in_use() == isa_list[best],
                    "gan_set_isa(auto) returned %d and chose %s; the best accepted one is %s", r,
                    gan_isa_name(gan_isa_in_use()), best >= 0 ? gan_isa_name(isa_list[best]) : "none");
    }
}

/* ---- GEMM against gan_gemm_naive ------------------------------------------------------------------ */

/* Operands with leading dimensions above the minimum; the gaps hold NaN, which must never be read. C
   holds NaN when beta = 0 (it must be ignored) and a sentinel beyond its N columns (never written). */
typedef struct gemm_operands {
    int ta, tb, M, N, K, lda, ldb, ldc;
    gan_float alpha, beta;
    gan_float *A, *B, *C0;
    double *mag; /* |alpha| sum_k |a_ik b_kj| + |beta c_ij|, M x N */
} gemm_operands;

#define SENTINEL ((gan_float)7.25)

static void operands_make(gemm_operands *op, int ta, int tb, int M, int N, int K, gan_float alpha, gan_float beta,
                          int pad, gan_rng *rng)
{
    int arows = ta ? K : M, acols = ta ? M : K, brows = tb ? N : K, bcols = tb ? K : N, i, j, p;
    op->ta = ta;
    op->tb = tb;
    op->M = M;
    op->N = N;
    op->K = K;
    op->alpha = alpha;
    op->beta = beta;
    op->lda = acols + pad;
    op->ldb = bcols + 1 + pad % 3;
    op->ldc = N + 2 + pad % 2;
    op->A = (gan_float *)xcalloc((size_t)arows * op->lda, sizeof(gan_float));
    op->B = (gan_float *)xcalloc((size_t)brows * op->ldb, sizeof(gan_float));
    op->C0 = (gan_float *)xcalloc((size_t)M * op->ldc, sizeof(gan_float));
    op->mag = (double *)xcalloc((size_t)M * N, sizeof(double));
    for (i = 0; i < arows; i++)
        for (j = 0; j < op->lda; j++) op->A[(size_t)i * op->lda + j] = j < acols ? 2 * gan_rng_uniform(rng) - 1 : NAN;
    for (i = 0; i < brows; i++)
        for (j = 0; j < op->ldb; j++) op->B[(size_t)i * op->ldb + j] = j < bcols ? 2 * gan_rng_uniform(rng) - 1 : NAN;
    for (i = 0; i < M; i++)
        for (j = 0; j < op->ldc; j++)
            op->C0[(size_t)i * op->ldc + j] = j >= N ? SENTINEL : beta == 0 ? NAN : 2 * gan_rng_uniform(rng) - 1;
    for (i = 0; i < M; i++)
        for (j = 0; j < N; j++) {
            double s = 0;
            for (p = 0; p < K; p++) {
                double a = ta ? op->A[(size_t)p * op->lda + i] : op->A[(size_t)i * op->lda + p];
                double b = tb ? op->B[(size_t)j * op->ldb + p] : op->B[(size_t)p * op->ldb + j];
                s += fabs(a * b);
            }
            op->mag[(size_t)i * N + j] = fabs((double)alpha) * s +
                                         (beta != 0 ? fabs((double)beta * op->C0[(size_t)i * op->ldc + j]) : 0);
        }
}

static void operands_free(gemm_operands *op)
{
    free(op->A);
    free(op->B);
    free(op->C0);
    free(op->mag);
}

static gan_float *run_gemm(const gemm_operands *op, int naive)
{
    gan_float *C = (gan_float *)xdup(op->C0, (size_t)op->M * op->ldc * sizeof(gan_float));
    (naive ? gan_gemm_naive : gan_gemm)(op->ta, op->tb, op->M, op->N, op->K, op->alpha, op->A, op->lda, op->B, op->ldb,
                                        op->beta, C, op->ldc);
    return C;
}

/* The worst |C - ref| / bound of one product, where; NaN or a written pad counts as infinite. */
typedef struct gemm_worst {
    double ratio, err, bound;
    int M, N, K, i, j, cases, nan_kept, pad_written;
    gan_float alpha, beta;
} gemm_worst;

static void gemm_compare(gemm_worst *w, const gemm_operands *op, const gan_float *C, const gan_float *ref)
{
    int i, j, nan_kept = 0, pad = 0;
    w->cases++;
    for (i = 0; i < op->M; i++) {
        for (j = 0; j < op->N; j++) {
            double c = C[(size_t)i * op->ldc + j], r = ref[(size_t)i * op->ldc + j];
            double b = sum_bound(op->K, op->mag[(size_t)i * op->N + j]), e = fabs(c - r), q = e / b;
            if (q != q) q = HUGE_VAL;
            if (!isfinite(c)) nan_kept = 1;
            if (q > w->ratio || (w->cases == 1 && i == 0 && j == 0)) {
                w->ratio = q;
                w->err = e;
                w->bound = b;
                w->M = op->M;
                w->N = op->N;
                w->K = op->K;
                w->i = i;
                w->j = j;
                w->alpha = op->alpha;
                w->beta = op->beta;
            }
        }
        for (j = op->N; j < op->ldc; j++) pad |= C[(size_t)i * op->ldc + j] != SENTINEL;
    }
    w->nan_kept += nan_kept;
    w->pad_written += pad;
}

static gemm_worst gemm_tally[N_ISA][4];

/* One product by gan_gemm_naive, then by gan_gemm with every kernel set this machine has. */
static void gemm_case(int ta, int tb, int M, int N, int K, gan_float alpha, gan_float beta, int pad, gan_rng *rng)
{
    gemm_operands op;
    gan_float *ref;
    int k;
    operands_make(&op, ta, tb, M, N, K, alpha, beta, pad, rng);
    ref = run_gemm(&op, 1);
    for (k = 0; k < N_ISA; k++) {
        gan_float *C;
        if (!have[k]) continue;
        use_isa(k);
        C = run_gemm(&op, 0);
        gemm_compare(&gemm_tally[k][ta * 2 + tb], &op, C, ref);
        free(C);
    }
    free(ref);
    operands_free(&op);
}

static void test_gemm_shapes(void)
{
    static const gan_float alphas[2] = { 1, -0.5 }, betas[3] = { 0, 1, 0.25 };
    /* small sizes in every combination: below, at and above the tiles (4 x 8, 6 x 16, 6 x 64) */
    static const int small_mn[] = { 1, 2, 3, 5, 7, 13, 17 }, small_k[] = { 1, 5, 17 };
    /* edges of MR, NR, KC (128, 256), MC (144), NC (512), and N < NR with M > N (transposed) */
    static const int big[][3] = {
        { 63, 64, 65 },   { 64, 65, 127 },   { 65, 63, 129 },  { 143, 17, 255 },  { 144, 65, 256 },
        { 145, 127, 257 }, { 6, 513, 128 },   { 12, 1029, 129 }, { 289, 65, 63 },   { 127, 40, 513 },
        { 129, 16, 300 },  { 300, 8, 257 },   { 17, 1029, 65 },  { 1029, 7, 129 },  { 1029, 13, 64 },
        { 513, 3, 300 },   { 257, 63, 17 },   { 145, 15, 129 },  { 300, 5, 513 },   { 2, 1029, 257 },
        { 1, 513, 513 },   { 513, 1, 257 },   { 7, 17, 1029 },   { 64, 33, 1029 },  { 4, 8, 256 },
        { 6, 16, 128 },    { 6, 64, 129 },    { 288, 512, 1 },   { 289, 511, 2 },   { 5, 2, 1029 },
        { 1029, 1029, 1 }, { 145, 64, 0 },    { 3, 200, 0 },
    };
    gan_rng rng;
    int a, b, c, t, k, idx = 0, nm = GAN_COUNT(small_mn), nk = GAN_COUNT(small_k);
    double fmas = 0;

    gan_rng_seed(&rng, 4242);
    for (a = 0; a < nm; a++)
        for (b = 0; b < nm; b++)
            for (c = 0; c < nk; c++, idx++)
                for (t = 0; t < 4; t++)
                    for (k = (idx + t) % 6; k < 6; k += 3) { /* two (alpha, beta) pairs each, all six over the grid */
                        gemm_case(t >> 1, t & 1, small_mn[a], small_mn[b], small_k[c], alphas[k / 3], betas[k % 3],
                                  1 + (idx + k) % 4, &rng);
                        fmas += (double)small_mn[a] * small_mn[b] * small_k[c];
                    }
    for (a = 0; a < GAN_COUNT(big); a++)
        for (t = 0; t < 4; t++) {
            k = (a + t) % 6; /* each transpose meets every (alpha, beta) over the list */
            gemm_case(t >> 1, t & 1, big[a][0], big[a][1], big[a][2], alphas[k / 3], betas[k % 3], 1 + (a + t) % 5, &rng);
            fmas += (double)big[a][0] * big[a][1] * big[a][2];
        }
    /* alpha = 0: C = beta C, NaN in C ignored when beta = 0 too */
    for (t = 0; t < 4; t++) {
        gemm_case(t >> 1, t & 1, 65, 70, 33, 0, t < 2 ? 0 : 0.25, 2, &rng);
        fmas += 65.0 * 70 * 33;
    }
    printf("# gemm shapes: %d products of %.3g multiply-adds in all, per kernel set\n", gemm_tally[0][0].cases * 4, fmas);

    for (k = 0; k < N_ISA; k++) {
        const char *isa = gan_isa_name(isa_list[k]);
        int nan_kept = 0, pad = 0, cases = 0;
        for (t = 0; t < 4; t++) {
            const gemm_worst *w = &gemm_tally[k][t];
            const char *tn = t == 0 ? "NN" : t == 1 ? "NT" : t == 2 ? "TN" : "TT";
            char name[96];
            sprintf(name, "gemm.%s.%s_matches_naive_within_bound", isa, tn);
            if (!have[k]) {
                test_skip(name, "kernel set %s not available here", isa);
                continue;
            }
            test_report(name, w->ratio <= 1 && w->cases > 0,
                        "worst |gemm - naive| = %.3g is %.3g times the bound %.3g at C[%d][%d] of M=%d N=%d K=%d "
                        "alpha=%g beta=%g", w->err, w->ratio, w->bound, w->i, w->j, w->M, w->N, w->K, (double)w->alpha,
                        (double)w->beta);
            printf("# gemm %s %s: %d products, worst error %.3g = %.3g of the bound (M=%d N=%d K=%d)\n", isa, tn,
                   w->cases, w->err, w->ratio, w->M, w->N, w->K);
            nan_kept += w->nan_kept;
            pad += w->pad_written;
            cases += w->cases;
        }
        if (!have[k]) continue;
        {
            char name[96];
            sprintf(name, "gemm.%s.finite_results_beta0_ignores_nan_in_c", isa);
            test_report(name, nan_kept == 0, "%d of %d products left a NaN or infinity in C", nan_kept, cases);
            sprintf(name, "gemm.%s.c_beyond_n_columns_untouched", isa);
            test_report(name, pad == 0, "%d of %d products wrote past column N (ldc > N)", pad, cases);
        }
    }
}

/* ---- the gradient penalty: the same bits for every thread count ------------------------------------- */

/* A WGAN-GP critic (Conv2d, LayerNorm over 3136 values, LeakyReLU, Linear) at batch 16: the penalty and
   every parameter gradient it leaves are bitwise the same at 1, 2 and 3 threads. Its LayerNorm passes
   (the tangent; the dual backward's per-sample pass and its dgamma pass over ranges of values) and
   the GEMMs are all split between the threads at these sizes. */
#define GP_N 16
static int gp_run(gan_float *out, size_t n_out, int threads)
{
    static gan_float x[GP_N * 28 * 28];
    gan_layer L[5];
    gan_graph *g = gan_graph_new();
    gan_net *C;
    gan_rng rng;
    gan_tensor xt = gan_tensor_make(x, GP_N, 1, 28, 28);
    size_t at = 1;
    int i, ok;
    if (!g) return 0;
    gan_rng_seed(&rng, 91);
    L[0] = gan_conv2d(1, 16, 4, 2, 1);
    L[1] = gan_layernorm();
    L[2] = gan_leaky_relu((gan_float)0.2);
    L[3] = gan_flatten();
    L[4] = gan_linear(16 * 14 * 14, 1);
    gan_chain(g, gan_input(g, gan_chw(1, 28, 28)), L, GAN_COUNT(L));
    C = gan_net_build(g, GP_N, GAN_BUILD_PENALTY, &rng);
    gan_graph_free(g);
    if (!C) return 0;
    for (i = 0; i < gan_net_param_count(C); i++) {
        gan_param q = gan_net_param(C, i);
        if (strcmp(q.role, "weight") == 0 && q.layer == 1) gan_fill_uniform(q.data, q.count, (gan_float)0.5, (gan_float)1.5, &rng);
        if (strcmp(q.role, "bias") == 0 && q.layer == 1) gan_fill_uniform(q.data, q.count, (gan_float)-0.5, (gan_float)0.5, &rng);
    }
    gan_fill_uniform(x, (size_t)GP_N * 28 * 28, -1, 1, &rng);
    gan_set_threads(threads);
    gan_net_zero_grad(C);
    ok = gan_net_penalty(C, &out[0], &xt, 0, GAN_PENALTY_WGAN_GP, 10);
    for (i = 0; ok && i < gan_net_param_count(C); i++) {
        gan_param q = gan_net_param(C, i);
        if (at + q.count > n_out) ok = 0;
        else memcpy(out + at, q.grad, q.count * sizeof(gan_float));
        at += q.count;
    }
    gan_net_free(C);
    return ok;
}

static void test_penalty_threads(void)
{
    size_t n = 1 + 16 * 16 + 16 + 2 * 16 * 14 * 14 + 16 * 14 * 14 + 1, j;
    gan_float *base = (gan_float *)xcalloc(n, sizeof(gan_float)), *other = (gan_float *)xcalloc(n, sizeof(gan_float));
    int k, nt;
    for (k = 0; k < N_ISA; k++) {
        char name[96];
        int ok, bad = 0, bad_nt = 0;
        size_t first = 0;
        sprintf(name, "threads.%s.penalty_same_bits_at_1_2_3_threads", gan_isa_name(isa_list[k]));
        if (!have[k]) continue;
        use_isa(k);
        ok = gp_run(base, n, 1);
        for (nt = 2; ok && nt <= 3; nt++) {
            if (!gp_run(other, n, nt)) ok = 0;
            for (j = 0; ok && j < n; j++)
                if (memcmp(&base[j], &other[j], sizeof(gan_float)) != 0 && !bad++) {
                    first = j;
                    bad_nt = nt;
                }
        }
        test_report(name, ok && bad == 0, "%s; %d values differ, the first (value %zu: 0 is the penalty) at %d threads",
                    ok ? "penalty computed" : gan_last_error(), bad, first, bad_nt);
    }
    free(base);
    free(other);
    gan_set_threads(2);
}

/* ---- the same bits for every thread count ------------------------------------------------------------ */

/* ---- edge tiles: the same sums as full tiles ----------------------------------------------------- */

/* A product whose last tile is partial (rows < MR, cols < NR: the edge kernel, or the full kernel into
   a tile buffer) against the same rows and columns of a product padded out to whole tiles: bitwise
   equal, since every element sums its K products in the same blocks and order. */
static void test_gemm_edges(void)
{
    static const int shapes[][3] = { { 7, 70, 300 }, { 13, 150, 129 }, { 6, 17, 5 }, { 1, 1, 1 }, { 11, 113, 40 } };
    int k, s, i, j;
    gan_rng rng;
    gan_rng_seed(&rng, 44);
    for (k = 0; k < N_ISA; k++) {
        int worst_s = -1, worst_i = 0, worst_j = 0, bad = 0;
        char name[96];
        if (!have[k]) continue;
        use_isa(k);
        for (s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); s++) {
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], beta_i;
            int Mw = (M + 5) / 6 * 6 + 6, Nw = (N + 63) / 64 * 64 + 64; /* whole tiles for every kernel set */
            gan_float *A = (gan_float *)xcalloc((size_t)Mw * K, sizeof(gan_float));
            gan_float *B = (gan_float *)xcalloc((size_t)K * Nw, sizeof(gan_float));
            gan_float *Cn = (gan_float *)xcalloc((size_t)M * N, sizeof(gan_float));
            gan_float *Cw = (gan_float *)xcalloc((size_t)Mw * Nw, sizeof(gan_float));
            for (i = 0; i < Mw * K; i++) A[i] = 2 * gan_rng_uniform(&rng) - 1;
            for (i = 0; i < K * Nw; i++) B[i] = 2 * gan_rng_uniform(&rng) - 1;
            for (beta_i = 0; beta_i < 2; beta_i++) {
                gan_float beta = beta_i ? 1 : 0;
                for (i = 0; i < M; i++)
                    for (j = 0; j < N; j++) Cn[(size_t)i * N + j] = Cw[(size_t)i * Nw + j] = (gan_float)(0.5 + i - j * 0.25);
                /* B's first N columns as a K x N matrix with row stride Nw */
                gan_gemm(0, 0, M, N, K, 1, A, K, B, Nw, beta, Cn, N);
                gan_gemm(0, 0, Mw, Nw, K, 1, A, K, B, Nw, beta, Cw, Nw);
                for (i = 0; i < M; i++)
                    for (j = 0; j < N; j++)
                        if (memcmp(&Cn[(size_t)i * N + j], &Cw[(size_t)i * Nw + j], sizeof(gan_float)) != 0 && !bad++) {
                            worst_s = s;
                            worst_i = i;
                            worst_j = j;
                        }
            }
            free(A);
            free(B);
            free(Cn);
            free(Cw);
        }
        sprintf(name, "gemm.%s.edge_tiles_same_bits_as_full_tiles", gan_isa_name(isa_list[k]));
        test_report(name, bad == 0, "%d values differ; first at shape %d x %d x %d, C(%d, %d)", bad,
                    worst_s >= 0 ? shapes[worst_s][0] : 0, worst_s >= 0 ? shapes[worst_s][1] : 0,
                    worst_s >= 0 ? shapes[worst_s][2] : 0, worst_i, worst_j);
    }
}

static void test_gemm_threads(void)
{
    /* 200 x 700 splits columns; 1029 x 130 rows where NR is 64; 2000 x 5 is computed transposed;
       1029 x 20 splits rows (baseline, AVX2) or is transposed (AVX-512) */
    static const int shapes[][5] = {
        { 200, 700, 300, 0, 0 }, { 1029, 130, 257, 1, 0 }, { 2000, 5, 300, 0, 1 }, { 1029, 20, 300, 1, 1 },
    };
    gan_rng rng;
    int s, k, nt;
    gan_rng_seed(&rng, 777);
#ifndef SPEED_THREADS
    printf("# threads: built without threads, so every thread count below runs on one\n");
#endif
    for (k = 0; k < N_ISA; k++) {
        const char *isa = gan_isa_name(isa_list[k]);
        char name[96];
        int mism = 0, first_shape = -1, first_nt = 0, first_at = -1, in_effect_ok = 1;
        gemm_worst w;
        memset(&w, 0, sizeof w);
        sprintf(name, "threads.%s.gemm_same_bits_for_1_2_3_4_threads", isa);
        if (!have[k]) {
            test_skip(name, "kernel set %s not available here", isa);
            continue;
        }
        use_isa(k);
        for (s = 0; s < GAN_COUNT(shapes); s++) {
            gemm_operands op;
            gan_float *ref, *one;
            operands_make(&op, shapes[s][3], shapes[s][4], shapes[s][0], shapes[s][1], shapes[s][2], -0.5, 0.25, 3, &rng);
            ref = run_gemm(&op, 1);
            gan_set_threads(1);
            one = run_gemm(&op, 0);
            gemm_compare(&w, &op, one, ref);
            for (nt = 2; nt <= 4; nt++) {
                gan_float *C;
                size_t i, n = (size_t)op.M * op.ldc;
#ifdef SPEED_THREADS
                if (gan_set_threads(nt) != nt) in_effect_ok = 0;
#else
                if (gan_set_threads(nt) != 1) in_effect_ok = 0;
#endif
                C = run_gemm(&op, 0);
                for (i = 0; i < n; i++)
                    if (memcmp(&C[i], &one[i], sizeof C[i]) != 0) {
                        if (first_at < 0) {
                            first_shape = s;
                            first_nt = nt;
                            first_at = (int)i;
                        }
                        mism++;
                    }
                free(C);
            }
            free(one);
            free(ref);
            operands_free(&op);
        }
        gan_set_threads(2);
        test_report(name, mism == 0 && in_effect_ok,
                    "%d elements differ from the 1-thread result, the first at %d of %dx%dx%d with %d threads; "
                    "gan_set_threads returned the count asked for each time: %s", mism, first_at,
                    first_shape >= 0 ? shapes[first_shape][0] : 0, first_shape >= 0 ? shapes[first_shape][1] : 0,
                    first_shape >= 0 ? shapes[first_shape][2] : 0, first_nt, in_effect_ok ? "yes" : "no");
        sprintf(name, "threads.%s.gemm_large_products_match_naive", isa);
        test_report(name, w.ratio <= 1, "worst |gemm - naive| = %.3g is %.3g times the bound at C[%d][%d] of M=%d N=%d K=%d",
                    w.err, w.ratio, w.i, w.j, w.M, w.N, w.K);
    }
}

/* ---- a mini DCGAN ------------------------------------------------------------------------------------ */

enum { DC_N = 16, DC_Z = 16, DC_STEPS = 3 };
#define DC_LR ((gan_float)2e-4)

static gan_net *dc_net(gan_shape in, const gan_layer *L, int n, uint64_t seed)
{
    gan_rng rng;
    gan_net *net;
    gan_rng_seed(&rng, seed);
    net = gan_net_create(in, L, n, DC_N, &rng);
    if (!net) printf("# gan_net_create failed: %s\n", gan_last_error());
    else gan_net_set_optim(net, gan_adam(DC_LR, 0.5f, 0.999f));
    return net;
}

/* G: z (16) -> 4x4x32 -> 8x8x16 -> 16x16x1; D: 16x16 -> 8x8x16 -> 4x4x32 -> 64 -> 1. Its products
   (up to 256 x 256 x 32 and 64 x 256 x 256 at batch 16) are big enough to run on several threads. */
static int dc_make(gan_net **g, gan_net **d)
{
    gan_layer G[8], D[9];
    G[0] = gan_conv_transpose2d(DC_Z, 32, 4, 1, 0, 0);
    G[1] = gan_batchnorm(32);
    G[2] = gan_relu();
    G[3] = gan_conv_transpose2d(32, 16, 4, 2, 1, 0);
    G[4] = gan_batchnorm(16);
    G[5] = gan_relu();
    G[6] = gan_conv_transpose2d(16, 1, 4, 2, 1, 0);
    G[7] = gan_tanh();
    D[0] = gan_conv2d(1, 16, 4, 2, 1);
    D[1] = gan_leaky_relu(0.2f);
    D[2] = gan_conv2d(16, 32, 4, 2, 1);
    D[3] = gan_batchnorm(32);
    D[4] = gan_leaky_relu(0.2f);
    D[5] = gan_flatten();
    D[6] = gan_linear(32 * 16, 64);
    D[7] = gan_leaky_relu(0.2f);
    D[8] = gan_linear(64, 1);
    *g = dc_net(gan_chw(DC_Z, 1, 1), G, 8, 11);
    *d = dc_net(gan_chw(1, 16, 16), D, 9, 12);
    if (*g && *d) return 1;
    gan_net_free(*g);
    gan_net_free(*d);
    return 0;
}

/* Does parameter or buffer p hold rounding noise? A bias that feeds a BatchNorm has an exact gradient
   of 0 (BatchNorm subtracts the batch mean), so its computed gradient is rounding noise and Adam,
   normalizing it, moves the bias by about +-lr per step in a direction that noise decides; the
   running mean of that BatchNorm follows the bias. */
static int dc_is_noise(const gan_net *net, const gan_param *p)
{
    if (strcmp(p->role, "bias") == 0)
        return p->layer + 1 < net->n_layers && net->layers[p->layer + 1].kind == GAN_BATCHNORM;
    if (strcmp(p->role, "running_mean") == 0)
        return p->layer > 0 && net->layers[p->layer - 1].b != NULL;
    return 0;
}

/* Parameters and buffers (grads = 0) or parameter gradients (grads = 1) of net, appended at dst + *at
   (dst NULL: only counted), with noise[] marking dc_is_noise values. */
static void dc_collect(gan_net *net, gan_float *dst, unsigned char *noise, size_t *at, int grads)
{
    int i, n_params = gan_net_param_count(net), n = n_params + (grads ? 0 : gan_net_buffer_count(net));
    for (i = 0; i < n; i++) {
        gan_param p = i < n_params ? gan_net_param(net, i) : gan_net_buffer(net, i - n_params);
        if (dst) memcpy(dst + *at, grads ? p.grad : p.data, p.count * sizeof(gan_float));
        if (noise) memset(noise + *at, dc_is_noise(net, &p), p.count);
        *at += p.count;
    }
}

/* What one training run leaves: parameters and running statistics of G then D after DC_STEPS steps,
   the gradients of the first step (D's before its step, G's before its), the losses of each step and
   G's output on the last z after training. */
typedef struct dc_result {
    gan_float *vals, *grads, *fake;
    unsigned char *vals_noise, *grads_noise; /* dc_is_noise */
    size_t n_vals, n_grads, n_fake;
    gan_float loss[3 * DC_STEPS];
} dc_result;

static int dc_train(dc_result *r)
{
    static gan_float z[DC_N * DC_Z], real[DC_N * 256], dl[DC_N];
    gan_net *g, *d;
    gan_rng rng;
    gan_tensor zt = gan_tensor_make(z, DC_N, DC_Z, 1, 1), rt = gan_tensor_make(real, DC_N, 1, 16, 16);
    gan_tensor dlt = gan_tensor_make(dl, DC_N, 1, 1, 1);
    size_t at;
    int step;

    memset(r, 0, sizeof *r);
    if (!dc_make(&g, &d)) return 0;
    dc_collect(g, NULL, NULL, &r->n_vals, 0);
    dc_collect(d, NULL, NULL, &r->n_vals, 0);
    dc_collect(g, NULL, NULL, &r->n_grads, 1);
    dc_collect(d, NULL, NULL, &r->n_grads, 1);
    r->n_fake = (size_t)DC_N * 256;
    r->vals = (gan_float *)xcalloc(r->n_vals, sizeof(gan_float));
    r->grads = (gan_float *)xcalloc(r->n_grads, sizeof(gan_float));
    r->fake = (gan_float *)xcalloc(r->n_fake, sizeof(gan_float));
    r->vals_noise = (unsigned char *)xcalloc(r->n_vals, 1);
    r->grads_noise = (unsigned char *)xcalloc(r->n_grads, 1);
    gan_rng_seed(&rng, 13);
    gan_fill_uniform(real, DC_N * 256, -1, 1, &rng);
    for (step = 0; step < DC_STEPS; step++) {
        const gan_tensor *fake, *out, *dx;
        gan_fill_normal(z, DC_N * DC_Z, 0, 1, &rng);
        fake = gan_net_forward(g, &zt);

        gan_net_zero_grad(d);
        out = gan_net_forward(d, &rt);
        r->loss[3 * step] = gan_bce_logits_const(dl, out->data, 1, DC_N);
        gan_net_backward(d, &dlt);
        out = gan_net_forward(d, fake);
        r->loss[3 * step + 1] = gan_bce_logits_const(dl, out->data, 0, DC_N);
        gan_net_backward(d, &dlt);
        at = 0;
        if (step == 0) dc_collect(d, r->grads, r->grads_noise, &at, 1);
        gan_net_step(d);

        gan_net_zero_grad(g);
        out = gan_net_forward(d, fake);
        r->loss[3 * step + 2] = gan_bce_logits_const(dl, out->data, 1, DC_N);
        dx = gan_net_backward_input(d, &dlt);
        gan_net_backward(g, dx);
        if (step == 0) dc_collect(g, r->grads, r->grads_noise, &at, 1);
        gan_net_step(g);
    }
    memcpy(r->fake, gan_net_forward(g, &zt)->data, r->n_fake * sizeof(gan_float));
    at = 0;
    dc_collect(g, r->vals, r->vals_noise, &at, 0);
    dc_collect(d, r->vals, r->vals_noise, &at, 0);
    gan_net_free(g);
    gan_net_free(d);
    return 1;
}

static void dc_free(dc_result *r)
{
    free(r->vals);
    free(r->grads);
    free(r->fake);
    free(r->vals_noise);
    free(r->grads_noise);
}

static int dc_same_bits(const dc_result *a, const dc_result *b)
{
    return a->n_vals == b->n_vals && a->n_grads == b->n_grads && memcmp(a->vals, b->vals, a->n_vals * sizeof(gan_float)) == 0 &&
           memcmp(a->grads, b->grads, a->n_grads * sizeof(gan_float)) == 0 &&
           memcmp(a->fake, b->fake, a->n_fake * sizeof(gan_float)) == 0 && memcmp(a->loss, b->loss, sizeof a->loss) == 0;
}

static double max_abs(const gan_float *a, size_t n)
{
    double m = 0;
    size_t i;
    for (i = 0; i < n; i++)
        if (fabs((double)a[i]) > m) m = fabs((double)a[i]);
    return m;
}

/* max |a - b| over the values not marked in skip (NULL: all of them) */
static double max_diff_masked(const gan_float *a, const gan_float *b, const unsigned char *skip, size_t n)
{
    double m = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        double d;
        if (skip && skip[i]) continue;
        d = fabs((double)a[i] - (double)b[i]);
        if (d != d) return HUGE_VAL;
        if (d > m) m = d;
    }
    return m;
}

static double max_diff(const gan_float *a, const gan_float *b, size_t n)
{
    double m = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d != d) return HUGE_VAL;
        if (d > m) m = d;
    }
    return m;
}

/* Per kernel set: bitwise the same at 1, 2 and 3 threads; then each set against the baseline's run.
   The tolerances against the baseline: the first step's gradients, the losses and G's output after
   training each within 1e-4 of their largest value (the products sum at most 512 terms: about 6e-5
   relative in the worst case, typically sqrt(512) times less; BatchNorm's 1 / std rescales both
   sides alike); the parameters and running statistics within 1e-2 lr of the baseline's (Adam moves a
   parameter by about lr per step, and a rounding-level change of its gradient changes that step by a
   rounding-level fraction of lr, while a gradient wrong by a term changes it by O(lr)). Left out of
   the last comparison, and checked instead to have rounding-level gradients: the biases that feed a
   BatchNorm and the running means of those BatchNorms (dc_is_noise). */
static void test_dcgan(void)
{
    dc_result base, runs[N_ISA];
    int k, nt, base_ok = 0, ran[N_ISA] = { 0 };
    for (k = 0; k < N_ISA; k++) {
        const char *isa = gan_isa_name(isa_list[k]);
        char name[96];
        int same = 1, bad_nt = 0;
        sprintf(name, "threads.%s.dcgan_same_bits_after_training_at_1_2_3_threads", isa);
        if (!have[k]) {
            test_skip(name, "kernel set %s not available here", isa);
            continue;
        }
        use_isa(k);
        gan_set_threads(1);
        if (!dc_train(&runs[k])) {
            test_report(name, 0, "the networks could not be built: %s", gan_last_error());
            continue;
        }
        ran[k] = 1;
        for (nt = 2; nt <= 3; nt++) {
            dc_result r;
            gan_set_threads(nt);
            if (!dc_train(&r)) {
                same = 0;
                bad_nt = nt;
                continue;
            }
            if (!dc_same_bits(&r, &runs[k])) {
                if (same) printf("# dcgan %s, %d threads: parameters differ by %.3g, gradients by %.3g, output by %.3g\n", isa,
                                 nt, max_diff(r.vals, runs[k].vals, r.n_vals), max_diff(r.grads, runs[k].grads, r.n_grads),
                                 max_diff(r.fake, runs[k].fake, r.n_fake));
                same = 0;
                bad_nt = nt;
            }
            dc_free(&r);
        }
        test_report(name, same, "the run at %d threads differs from the run at 1 thread (bits of parameters, running "
                    "statistics, first gradients, losses or output)", bad_nt);
        if (k == 0) {
            base = runs[0]; /* shares runs[0]'s arrays */
            base_ok = 1;
        }
    }
    gan_set_threads(2);
    if (!base_ok) return;
    {
        double gs = max_abs(base.grads, base.n_grads), noise = 0;
        size_t i, n_noise = 0, v_noise = 0;
        for (i = 0; i < base.n_grads; i++)
            if (base.grads_noise[i]) {
                n_noise++;
                if (fabs((double)base.grads[i]) > noise) noise = fabs((double)base.grads[i]);
            }
        for (i = 0; i < base.n_vals; i++) v_noise += base.vals_noise[i];
        printf("# dcgan: %lu parameter and buffer values (%lu left out of the comparison of parameters), %lu gradients, %d steps\n",
               (unsigned long)base.n_vals, (unsigned long)v_noise, (unsigned long)base.n_grads, DC_STEPS);
        test_report("dcgan.biases_before_batchnorm_have_rounding_level_gradients", n_noise > 0 && noise <= 1e-6 * gs,
                    "the largest of %lu such gradients is %.3g, the largest gradient %.3g", (unsigned long)n_noise, noise, gs);
    }
    for (k = 1; k < N_ISA; k++) {
        const char *isa = gan_isa_name(isa_list[k]);
        char name[96];
        double dg, gs, dl, ls, df, fs, dp, dn;
        if (!ran[k]) {
            sprintf(name, "isa.%s.dcgan_trains_like_baseline", isa);
            test_skip(name, "kernel set %s not available here (or its networks were not built)", isa);
            continue;
        }
        dg = max_diff_masked(runs[k].grads, base.grads, base.grads_noise, base.n_grads);
        gs = max_abs(base.grads, base.n_grads);
        dl = max_diff(runs[k].loss, base.loss, 3 * DC_STEPS);
        ls = max_abs(base.loss, 3 * DC_STEPS);
        df = max_diff(runs[k].fake, base.fake, base.n_fake);
        fs = max_abs(base.fake, base.n_fake);
        dp = max_diff_masked(runs[k].vals, base.vals, base.vals_noise, base.n_vals);
        dn = max_diff(runs[k].vals, base.vals, base.n_vals);
        printf("# dcgan %s vs baseline: first gradients %.3g (largest %.3g), losses %.3g (largest %.3g), output %.3g "
               "(largest %.3g), parameters %.3g lr (%.3g lr with the noise-driven ones)\n", isa, dg, gs, dl, ls, df, fs,
               dp / DC_LR, dn / DC_LR);
        sprintf(name, "isa.%s.dcgan_first_gradients_match_baseline", isa);
        test_report(name, dg <= 1e-4 * gs, "gradients differ by %.3g, 1e-4 of the largest (%.3g) allowed", dg, gs);
        sprintf(name, "isa.%s.dcgan_losses_and_output_match_baseline", isa);
        test_report(name, dl <= 1e-4 * ls && df <= 1e-4 * fs, "losses differ by %.3g (largest %.3g), outputs by %.3g (largest %.3g)",
                    dl, ls, df, fs);
        sprintf(name, "isa.%s.dcgan_parameters_match_baseline", isa);
        test_report(name, dp <= 1e-2 * DC_LR, "parameters differ by %.3g = %.3g lr after %d Adam steps", dp, dp / DC_LR, DC_STEPS);
    }
    for (k = 0; k < N_ISA; k++)
        if (ran[k]) dc_free(&runs[k]);
}

/* ---- batched convolutions: chunks do not mix samples ----------------------------------------------- */

/* One layer as a network of its own, max batch 30; and its twin with |W|, |b|, whose forward on |x| and
   backward of |dy| give the magnitudes sum |w x|, sum |w dy|, sum |dy x| of every result. */
enum { CH_N = 30 };

typedef struct conv_case {
    const char *name;
    gan_layer layer;
    gan_shape in;
    int terms_y, terms_dx, terms_dw_per_sample; /* how many products each result element sums, at most */
} conv_case;

static void conv_chunk_case(const conv_case *cc, int k)
{
    gan_rng rng;
    gan_net *net, *mag;
    size_t nin = (size_t)cc->in.c * cc->in.h * cc->in.w, nout, np = 0, i, j;
    gan_float *x, *ax, *dy, *ady, *y30, *dx30, *g30, *my, *mdx, *mg;
    double *gsum, wy = 0, wdx = 0, wg = 0;
    const gan_tensor *t;
    gan_tensor xt, dyt;
    char name[128];
    int s, p, n_params;

    gan_rng_seed(&rng, 31);
    net = gan_net_create(cc->in, &cc->layer, 1, CH_N, &rng);
    gan_rng_seed(&rng, 31);
    mag = gan_net_create(cc->in, &cc->layer, 1, CH_N, &rng);
    sprintf(name, "conv_chunks.%s.%s_batch_30_equals_30_batches_of_1", gan_isa_name(isa_list[k]), cc->name);
    if (!net || !mag) {
        test_report(name, 0, "gan_net_create failed: %s", gan_last_error());
        gan_net_free(net);
        gan_net_free(mag);
        return;
    }
    n_params = gan_net_param_count(net);
    for (p = 0; p < n_params; p++) {
        gan_param q = gan_net_param(mag, p);
        for (i = 0; i < q.count; i++) q.data[i] = (gan_float)fabs((double)q.data[i]);
        np += q.count;
    }
    nout = (size_t)net->layers[0].out.c * net->layers[0].out.h * net->layers[0].out.w;
    x = (gan_float *)xcalloc(CH_N * nin, sizeof(gan_float));
    ax = (gan_float *)xcalloc(CH_N * nin, sizeof(gan_float));
    dy = (gan_float *)xcalloc(CH_N * nout, sizeof(gan_float));
    ady = (gan_float *)xcalloc(CH_N * nout, sizeof(gan_float));
    y30 = (gan_float *)xcalloc(CH_N * nout, sizeof(gan_float));
    my = (gan_float *)xcalloc(CH_N * nout, sizeof(gan_float));
    dx30 = (gan_float *)xcalloc(CH_N * nin, sizeof(gan_float));
    mdx = (gan_float *)xcalloc(CH_N * nin, sizeof(gan_float));
    g30 = (gan_float *)xcalloc(np, sizeof(gan_float));
    mg = (gan_float *)xcalloc(np, sizeof(gan_float));
    gsum = (double *)xcalloc(np, sizeof(double));
    gan_fill_normal(x, CH_N * nin, 0, 1, &rng);
    gan_fill_normal(dy, CH_N * nout, 0, 1, &rng);
    for (i = 0; i < CH_N * nin; i++) ax[i] = (gan_float)fabs((double)x[i]);
    for (i = 0; i < CH_N * nout; i++) ady[i] = (gan_float)fabs((double)dy[i]);

    /* the batch of 30, and the magnitudes */
    xt = gan_tensor_make(ax, CH_N, cc->in.c, cc->in.h, cc->in.w);
    t = gan_net_forward(mag, &xt);
    memcpy(my, t->data, CH_N * nout * sizeof(gan_float));
    dyt = gan_tensor_make(ady, CH_N, t->c, t->h, t->w);
    gan_net_zero_grad(mag);
    memcpy(mdx, gan_net_backward(mag, &dyt)->data, CH_N * nin * sizeof(gan_float));
    xt = gan_tensor_make(x, CH_N, cc->in.c, cc->in.h, cc->in.w);
    t = gan_net_forward(net, &xt);
    memcpy(y30, t->data, CH_N * nout * sizeof(gan_float));
    dyt = gan_tensor_make(dy, CH_N, t->c, t->h, t->w);
    gan_net_zero_grad(net);
    memcpy(dx30, gan_net_backward(net, &dyt)->data, CH_N * nin * sizeof(gan_float));
    for (p = 0, j = 0; p < n_params; p++) {
        gan_param q = gan_net_param(net, p), qm = gan_net_param(mag, p);
        memcpy(g30 + j, q.grad, q.count * sizeof(gan_float));
        memcpy(mg + j, qm.grad, q.count * sizeof(gan_float));
        j += q.count;
    }

    /* one sample at a time */
    for (s = 0; s < CH_N; s++) {
        xt = gan_tensor_make(x + s * nin, 1, cc->in.c, cc->in.h, cc->in.w);
        t = gan_net_forward(net, &xt);
        for (i = 0; i < nout; i++) {
            double e = fabs((double)t->data[i] - y30[s * nout + i]) / sum_bound(cc->terms_y + 1, my[s * nout + i]);
            if (e > wy || e != e) wy = e;
        }
        dyt = gan_tensor_make(dy + s * nout, 1, t->c, t->h, t->w);
        gan_net_zero_grad(net);
        t = gan_net_backward(net, &dyt);
        for (i = 0; i < nin; i++) {
            double e = fabs((double)t->data[i] - dx30[s * nin + i]) / sum_bound(cc->terms_dx, mdx[s * nin + i]);
            if (e > wdx || e != e) wdx = e;
        }
        for (p = 0, j = 0; p < n_params; p++) {
            gan_param q = gan_net_param(net, p);
            for (i = 0; i < q.count; i++) gsum[j + i] += q.grad[i];
            j += q.count;
        }
    }
    for (j = 0; j < np; j++) {
        double e = fabs(gsum[j] - g30[j]) / sum_bound((double)cc->terms_dw_per_sample * CH_N, mg[j]);
        if (e > wg || e != e) wg = e;
    }
    test_report(name, wy <= 1 && wdx <= 1 && wg <= 1,
                "worst error / rounding bound: output %.3g, input gradient %.3g, parameter gradients %.3g", wy, wdx, wg);
    printf("# conv chunks %s %s (chunks of %d and %d, plane 49): worst error / bound: output %.3g, dL/dx %.3g, "
           "dL/dparams %.3g\n", gan_isa_name(isa_list[k]), cc->name, CH_N / 2, CH_N - CH_N / 2, wy, wdx, wg);
    free(x);
    free(ax);
    free(dy);
    free(ady);
    free(y30);
    free(my);
    free(dx30);
    free(mdx);
    free(g30);
    free(mg);
    free(gsum);
    gan_net_free(net);
    gan_net_free(mag);
}

static void test_conv_chunks(void)
{
    conv_case cases[2];
    int k, c;
    /* Conv2d 3 -> 8, 3x3 pad 1 on 7 x 7: im2col reads x, 49 columns per sample, 27-term sums; dL/dx
       sums 8 channels over 9 taps; dW and db sum 49 positions per sample. */
    cases[0].name = "conv2d";
    cases[0].layer = gan_conv2d(3, 8, 3, 1, 1);
    cases[0].in = gan_chw(3, 7, 7);
    cases[0].terms_y = 27;
    cases[0].terms_dx = 8 * 9;
    cases[0].terms_dw_per_sample = 49;
    /* ConvTranspose2d 8 -> 5, 4x4 stride 2 on 7 x 7 -> 14 x 14: im2col reads dy over the 7 x 7 input
       plane; y sums 8 channels over 16 taps (4 reach each pixel), dL/dx 5 x 16, dW 49 per sample,
       db 196 per sample. */
    cases[1].name = "conv_transpose2d";
    cases[1].layer = gan_conv_transpose2d(8, 5, 4, 2, 1, 0);
    cases[1].in = gan_chw(8, 7, 7);
    cases[1].terms_y = 8 * 16;
    cases[1].terms_dx = 5 * 16;
    cases[1].terms_dw_per_sample = 196;
    for (k = 0; k < N_ISA; k++)
        for (c = 0; c < 2; c++) {
            if (!have[k]) {
                char name[128];
                sprintf(name, "conv_chunks.%s.%s_batch_30_equals_30_batches_of_1", gan_isa_name(isa_list[k]), cases[c].name);
                test_skip(name, "kernel set not available here");
                continue;
            }
            use_isa(k);
            conv_chunk_case(&cases[c], k);
        }
}

/* ---- gan_gemm on a small stack ----------------------------------------------------------------------- */

#ifdef SPEED_THREADS
typedef struct stack_job {
    const gemm_operands *op;
    gan_float *C;
} stack_job;

static void *stack_thread(void *arg)
{
    stack_job *j = (stack_job *)arg;
    const gemm_operands *op = j->op;
    gan_gemm(op->ta, op->tb, op->M, op->N, op->K, op->alpha, op->A, op->lda, op->B, op->ldb, op->beta, j->C, op->ldc);
    return NULL;
}
#endif

static void test_small_stack(void)
{
#ifdef SPEED_THREADS
    gemm_operands op;
    gan_float *ref;
    gan_rng rng;
    int k, nt;
    gan_rng_seed(&rng, 64);
    operands_make(&op, 0, 1, 300, 600, 400, 1, 0.25, 2, &rng);
    ref = run_gemm(&op, 1);
    for (k = 0; k < N_ISA; k++)
        for (nt = 1; nt <= 2; nt++) {
            char name[96];
            pthread_attr_t attr;
            pthread_t tid;
            stack_job job;
            gemm_worst w;
            int rc;
            sprintf(name, "stack.%s.gemm_300x600x400_on_a_64k_stack_%d_thread%s", gan_isa_name(isa_list[k]), nt,
                    nt > 1 ? "s" : "");
            if (!have[k]) {
                test_skip(name, "kernel set not available here");
                continue;
            }
            use_isa(k);
            gan_set_threads(nt);
            memset(&w, 0, sizeof w);
            job.op = &op;
            job.C = (gan_float *)xdup(op.C0, (size_t)op.M * op.ldc * sizeof(gan_float));
            pthread_attr_init(&attr);
            rc = pthread_attr_setstacksize(&attr, 65536);
            if (rc == 0) rc = pthread_create(&tid, &attr, stack_thread, &job);
            if (rc == 0) rc = pthread_join(tid, NULL);
            pthread_attr_destroy(&attr);
            if (rc != 0) {
                test_skip(name, "could not run a thread with a 64 KiB stack (error %d)", rc);
                free(job.C);
                continue;
            }
            gemm_compare(&w, &op, job.C, ref);
            test_report(name, w.ratio <= 1 && w.nan_kept == 0 && w.pad_written == 0,
                        "worst |gemm - naive| = %.3g, %.3g times the bound, at C[%d][%d]; NaN left: %d, pad written: %d",
                        w.err, w.ratio, w.i, w.j, w.nan_kept, w.pad_written);
            free(job.C);
        }
    gan_set_threads(2);
    free(ref);
    operands_free(&op);
#else
    test_skip("stack.gemm_on_a_64k_stack", "built without POSIX threads (GAN_NO_THREADS or not a POSIX system)");
#endif
}

/* ---- subnormal flush of the optimizer's moments ---------------------------------------------------- */

#define FL_N 24

/* Gradients of the first step (then 0 for ever): sizes from 1 down past the smallest normal. */
static void flush_gradients(gan_float *g)
{
    static const double mags[FL_N] = { 1,     0.3,   1e-1,  1e-3,  1e-6,  1e-10, 1e-15, 1e-19, 1e-20, 1e-25, 1e-30, 1e-35,
                                       1e-37, 0.7,   2e-2,  1e-8,  1e-18, 1e-33, 3e-38, 1e-17, 5e-5,  0,     1e-12, 0.05 };
    int i;
    for (i = 0; i < FL_N; i++) g[i] = (gan_float)((i % 2 ? -1 : 1) * mags[i]);
    g[18] = (gan_float)(20 * TINY);  /* (1 - b1) g just above the smallest normal: flushed a few steps later */
    g[19] = (gan_float)(-TINY / 2);  /* a subnormal gradient */
}

/* Counts of moments that were subnormal, flushed too early (the exact moment above 2 TINY but 0),
   or kept too long (the exact moment below TINY / 2 but not 0). */
typedef struct flush_tally {
    long subnormal, early, late, nonzero_end;
    int steps;
} flush_tally;

static void flush_check(flush_tally *f, const gan_float *mf, double md)
{
    if (fpclassify(*mf) == FP_SUBNORMAL) f->subnormal++;
    if (fabs(md) >= 2 * TINY && *mf == 0) f->early++;
    if (fabs(md) <= TINY / 2 && *mf != 0) f->late++;
}

static void flush_report(const char *name, const flush_tally *f)
{
    test_report(name, f->subnormal == 0 && f->early == 0 && f->late == 0 && f->nonzero_end == 0,
                "over %d steps: %ld subnormal moments, %ld flushed while above 2 x the smallest normal, %ld kept "
                "while below half of it; %ld not exactly 0 at the end", f->steps, f->subnormal, f->early, f->late,
                f->nonzero_end);
}

static void test_flush(void)
{
    gan_float w[FL_N], m[FL_N], v[FL_N], g[FL_N], zero[FL_N];
    double wd[FL_N], md[FL_N], vd[FL_N], bound[FL_N], g1[FL_N], worst = 0;
    gan_optim opt;
    flush_tally f;
    gan_rng rng;
    int i, t, steps, wi = 0, wt = 0, first_flush = 0;
    const double U = EPS / 2;
    double b1, b2, lr, eps, need = 0;

    /* Adam, PyTorch's betas: v of a gradient of 1 falls below FLT_MIN after about 80,000 steps. */
    opt = gan_adam(1e-3f, 0.9f, 0.999f);
    b1 = opt.beta1;
    b2 = opt.beta2;
    lr = opt.lr;
    eps = opt.eps;
    flush_gradients(g);
    memset(zero, 0, sizeof zero);
    memset(m, 0, sizeof m);
    memset(v, 0, sizeof v);
    memset(md, 0, sizeof md);
    memset(vd, 0, sizeof vd);
    memset(bound, 0, sizeof bound);
    memset(&f, 0, sizeof f);
    gan_rng_seed(&rng, 5);
    gan_fill_uniform(w, FL_N, -1, 1, &rng);
    for (i = 0; i < FL_N; i++) {
        double v1 = (1 - b2) * (double)g[i] * g[i];
        wd[i] = w[i];
        g1[i] = g[i];
        if (v1 > 0 && (log(v1) - log(TINY)) / -log(b2) > need) need = (log(v1) - log(TINY)) / -log(b2);
    }
    steps = (int)(need * 1.1) + 100;
    for (t = 1; t <= steps; t++) {
        double bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);
        opt.step = t;
        gan_optim_update(w, m, v, t == 1 ? g : zero, &opt, FL_N);
        for (i = 0; i < FL_N; i++) {
            double gi = t == 1 ? g1[i] : 0, upd, e;
            md[i] = b1 * md[i] + (1 - b1) * gi;
            vd[i] = b2 * vd[i] + (1 - b2) * gi * gi;
            upd = lr / bc1 * md[i] / (sqrt(vd[i]) / sqrt(bc2) + eps);
            /* the float update is off by at most (8 + 3t) u relatively (m and v carry t roundings each),
               its subtraction by min(u |w - upd|, |upd|) (w itself is a float |upd| away); a flushed
               moment may drop the update entirely (or, v flushed, enlarge it by a factor 1 + 1e-11) */
            bound[i] += fmin(U * (fabs(wd[i]) + fabs(upd)), fabs(upd)) + (8 + 3.0 * t) * U * fabs(upd) +
                        2 * DBL_EPSILON * fabs(wd[i]); /* the last: the reference's own rounding */
            if ((m[i] == 0 && md[i] != 0) || (v[i] == 0 && vd[i] != 0)) {
                bound[i] += 3 * fabs(upd);
                if (!first_flush) first_flush = t;
            }
            wd[i] -= upd;
            e = fabs((double)w[i] - wd[i]) / (bound[i] + TINY);
            if (e > worst || e != e) {
                worst = e;
                wi = i;
                wt = t;
            }
            flush_check(&f, &m[i], md[i]);
            flush_check(&f, &v[i], vd[i]);
        }
    }
    f.steps = steps;
    for (i = 0; i < FL_N; i++) f.nonzero_end += (m[i] != 0) + (v[i] != 0);
    flush_report("flush.adam_moments_never_subnormal_and_end_zero", &f);
    test_report("flush.adam_parameters_track_a_double_adam", worst <= 1,
                "w[%d] at step %d is %.3g times the rounding bound away from the double-precision Adam", wi, wt, worst);
    printf("# flush adam: %d steps (needed ~%.0f), first flush at step %d; worst |w - w_double| / bound %.6g "
           "(w[%d], step %d: %.3g)\n", steps, need, first_flush, worst, wi, wt, (double)w[wi]);

    /* RMSProp with momentum, and SGD with momentum: every moment starts below 10 (RMSProp's buffer at
       about g / sqrt(0.1 g^2)) and decays by 0.9 a step, so ln(1000 / TINY) / -ln(0.9) steps take it
       below the smallest normal: about 900 in float. */
    steps = (int)((log(1e3) - log(TINY)) / -log(0.9)) + 100;
    if (steps < 3000) steps = 3000;
    {
        gan_optim ro = gan_rmsprop(1e-3f, 0.9f), so = gan_sgd(1e-2f, 0.9f);
        gan_float rm[FL_N], rv[FL_N], rw[FL_N], sm[FL_N], sw[FL_N];
        double rmd[FL_N], rvd[FL_N], smd[FL_N];
        flush_tally fr, fs;
        ro.momentum = 0.9f;
        memset(&fr, 0, sizeof fr);
        memset(&fs, 0, sizeof fs);
        memset(rm, 0, sizeof rm);
        memset(rv, 0, sizeof rv);
        memset(sm, 0, sizeof sm);
        memset(rmd, 0, sizeof rmd);
        memset(rvd, 0, sizeof rvd);
        memset(smd, 0, sizeof smd);
        memcpy(rw, w, sizeof w);
        memcpy(sw, w, sizeof w);
        fr.steps = fs.steps = steps;
        for (t = 1; t <= steps; t++) {
            ro.step = so.step = t;
            gan_optim_update(rw, rm, rv, t == 1 ? g : zero, &ro, FL_N);
            gan_optim_update(sw, sm, NULL, t == 1 ? g : zero, &so, FL_N);
            for (i = 0; i < FL_N; i++) {
                double gi = t == 1 ? g1[i] : 0;
                rvd[i] = (double)ro.alpha * rvd[i] + (1 - (double)ro.alpha) * gi * gi;
                rmd[i] = (double)ro.momentum * rmd[i] + gi / (sqrt(rvd[i]) + (double)ro.eps);
                smd[i] = (double)so.momentum * smd[i] + gi;
                flush_check(&fr, &rm[i], rmd[i]);
                flush_check(&fr, &rv[i], rvd[i]);
                flush_check(&fs, &sm[i], smd[i]);
            }
        }
        for (i = 0; i < FL_N; i++) {
            fr.nonzero_end += (rm[i] != 0) + (rv[i] != 0);
            fs.nonzero_end += sm[i] != 0;
        }
        flush_report("flush.rmsprop_momentum_moments_never_subnormal_and_end_zero", &fr);
        flush_report("flush.sgd_momentum_buffer_never_subnormal_and_ends_zero", &fs);
    }
}

/* ---- no allocation in training steps ------------------------------------------------------------------ */

/* The GAN steps of dc_train, counting GAN_MALLOC and GAN_FREE calls around them. */
static void count_steps(const char *name, int steps)
{
    static gan_float z[DC_N * DC_Z], real[DC_N * 256], dl[DC_N];
    gan_net *g, *d;
    gan_rng rng;
    gan_tensor zt = gan_tensor_make(z, DC_N, DC_Z, 1, 1), rt = gan_tensor_make(real, DC_N, 1, 16, 16);
    gan_tensor dlt = gan_tensor_make(dl, DC_N, 1, 1, 1);
    long allocs, frees;
    int step;
    if (!dc_make(&g, &d)) {
        test_report(name, 0, "the networks could not be built: %s", gan_last_error());
        return;
    }
    gan_rng_seed(&rng, 3);
    gan_fill_uniform(real, DC_N * 256, -1, 1, &rng);
    allocs = alloc_count;
    frees = free_count;
    for (step = 0; step < steps; step++) {
        const gan_tensor *fake, *out;
        gan_fill_normal(z, DC_N * DC_Z, 0, 1, &rng);
        fake = gan_net_forward(g, &zt);
        gan_net_zero_grad(d);
        out = gan_net_forward(d, &rt);
        gan_bce_logits_const(dl, out->data, 1, DC_N);
        gan_net_backward(d, &dlt);
        out = gan_net_forward(d, fake);
        gan_bce_logits_const(dl, out->data, 0, DC_N);
        gan_net_backward(d, &dlt);
        gan_net_step(d);
        gan_net_zero_grad(g);
        out = gan_net_forward(d, fake);
        gan_bce_logits_const(dl, out->data, 1, DC_N);
        gan_net_backward(g, gan_net_backward_input(d, &dlt));
        gan_net_step(g);
    }
    test_report(name, alloc_count == allocs && free_count == frees, "%ld GAN_MALLOC and %ld GAN_FREE calls during %d steps",
                alloc_count - allocs, free_count - frees, steps);
    gan_net_free(g);
    gan_net_free(d);
}

/* Must run before anything else: gan.h's docs say that until gan_set_threads is called, the first
   network built chooses the thread count (one per core), and that training never allocates. */
static void test_alloc_first_network(void)
{
    count_steps("alloc.first_network_without_gan_set_threads_trains_without_allocating", 1);
}

static void test_alloc_two_threads(void)
{
    int k, n;
    gan_set_threads(1);
    n = gan_set_threads(2);
#ifdef SPEED_THREADS
    test_report("threads.set_threads_2_returns_2", n == 2 && gan_threads() == 2, "gan_set_threads(2) returned %d, gan_threads() %d",
                n, gan_threads());
#else
    test_report("threads.set_threads_without_threads_returns_1", n == 1 && gan_threads() == 1,
                "gan_set_threads(2) returned %d, gan_threads() %d in a build without threads", n, gan_threads());
#endif
    for (k = 0; k < N_ISA; k++) {
        char name[96];
        sprintf(name, "alloc.%s.no_allocation_in_training_steps_with_2_threads", gan_isa_name(isa_list[k]));
        if (!have[k]) {
            test_skip(name, "kernel set not available here");
            continue;
        }
        use_isa(k);
        count_steps(name, 3);
    }
}

#ifdef SPEED_THREADS
/* The pool's hand-off: tasks of 1 to 4 parts in a random order on a pool of 4 threads (so workers
   sit some tasks out), with pauses longer than the threads poll, so that they also go to sleep and
   are woken. Each part adds the task's number to its own sum: every part must run exactly once a
   task (a lost wake-up hangs instead, and TSan in CI watches the atomics). */
static long pool_sums[4];
static void pool_part(void *ctx, int t, int nt)
{
    (void)nt;
    pool_sums[t] += *(const long *)ctx;
}

static void test_pool_handoff(void)
{
    long expect[4] = { 0, 0, 0, 0 }, task;
    int i, t, bad = 0, n = gan_set_threads(4);
    gan_rng rng;
    gan_rng_seed(&rng, 7);
    for (i = 0; i < 20000; i++) {
        int nt = 1 + (int)(gan_rng_u32(&rng) % 4u);
        task = i + 1;
        gan__parallel(pool_part, &task, nt);
        for (t = 0; t < (nt <= n ? nt : 1); t++) expect[t] += task;
        if (i % 2000 == 1999) {
            struct timespec pause = { 0, 3000000 }; /* 3 ms, past the polling */
            nanosleep(&pause, NULL);
        }
    }
    for (t = 0; t < 4; t++) bad += pool_sums[t] != expect[t];
    test_report("threads.pool_runs_every_part_once", n == 4 && bad == 0, "%d of 4 parts' sums wrong (pool of %d threads)",
                bad, n);
    gan_set_threads(2);
}
#endif

/* CPU seconds since the last call, printed after each group of checks. */
static void lap(const char *what)
{
    static clock_t last;
    clock_t now = clock();
    printf("# time: %s %.2f s of CPU\n", what, (double)(now - last) / CLOCKS_PER_SEC);
    last = clock();
}

int main(void)
{
    clock_t start = clock();
    time_t wall = time(NULL);
    setvbuf(stdout, NULL, _IOLBF, 0); /* a crash (a stack overflow, say) still shows the checks before it */
    lap("start");
    test_alloc_first_network();
    test_isa_select();
    test_isa_api();
    gan_set_threads(2);
    test_gemm_shapes();
    test_gemm_edges();
    lap("gemm shapes");
    test_gemm_threads();
    lap("gemm threads");
    test_dcgan();
    test_penalty_threads();
    lap("dcgan, penalty");
    test_conv_chunks();
    test_small_stack();
    lap("conv chunks, small stack");
    test_flush();
    lap("flush");
    test_alloc_two_threads();
#ifdef SPEED_THREADS
    test_pool_handoff();
    lap("pool hand-off");
#endif
    gan_set_isa(GAN_ISA_AUTO);
    gan_set_threads(1);
    printf("# test_speed: %.2f s of CPU time, about %.0f s of wall time\n", (double)(clock() - start) / CLOCKS_PER_SEC,
           difftime(time(NULL), wall));
    return test_finish();
}
