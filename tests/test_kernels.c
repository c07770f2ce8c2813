/* tests/test_kernels.c - the GEMM (blocked and naive), im2col / col2im and the random number
   generator, in the default float build.

   Every GEMM result is compared with a double-precision triple loop written here. The tolerance is
   the classical bound for a dot product of K terms summed in any order (Higham, "Accuracy and
   Stability of Numerical Algorithms", 3.1): |fl(s) - s| <= gamma_K sum |a_k b_k|, gamma_K ~ K u with
   u = FLT_EPSILON / 2. Scaling by alpha and adding beta C cost two more roundings, so each element of
   C may be off by (K + 2) FLT_EPSILON (|alpha| sum_k |a_ik b_kj| + |beta c_ij|): twice the bound, so
   FMA contraction or a different blocking order never trips it, while one lost or doubled product
   (an error of order |a_ik b_kj|) does. */
#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "test.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        printf("FAIL kernels: out of memory\n");
        exit(1);
    }
    return p;
}

/* ---- GEMM -------------------------------------------------------------------------------------- */

/* op(A)[i][k] for a row-major A that holds op(A) (M x K) or its transpose (K x M). */
static double op_a(const float *A, int lda, int trans, int i, int k)
{
    return trans ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
}

/* op(B)[k][j] for a row-major B that holds op(B) (K x N) or its transpose (N x K). */
static double op_b(const float *B, int ldb, int trans, int k, int j)
{
    return trans ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
}

/* The reference product in double, and the per-element error bound described at the top. */
static void gemm_reference(int ta, int tb, int M, int N, int K, double alpha, const float *A, int lda,
                           const float *B, int ldb, double beta, const float *C0, int ldc,
                           double *ref, double *bound)
{
    int i, j, k;
    for (i = 0; i < M; i++)
        for (j = 0; j < N; j++) {
            double s = 0, mag = 0, c0 = beta != 0 ? C0[(size_t)i * ldc + j] : 0;
            for (k = 0; k < K; k++) {
                double p = op_a(A, lda, ta, i, k) * op_b(B, ldb, tb, k, j);
                s += p;
                mag += fabs(p);
            }
            ref[(size_t)i * N + j] = alpha * s + beta * c0;
            bound[(size_t)i * N + j] = (K + 2) * (double)FLT_EPSILON * (fabs(alpha) * mag + fabs(beta * c0))
                                       + FLT_MIN;
        }
}

/* Largest |c - ref| / bound over the M x N block of C; at (*wi, *wj). NaN counts as infinite. */
static double gemm_excess(const float *C, int ldc, const double *ref, const double *bound, double scale,
                          int M, int N, int *wi, int *wj)
{
    double worst = 0;
    int i, j;
    for (i = 0; i < M; i++)
        for (j = 0; j < N; j++) {
            double c = C[(size_t)i * ldc + j];
            double e = fabs(c - ref[(size_t)i * N + j]) / (scale * bound[(size_t)i * N + j]);
            if (e != e) e = HUGE_VAL;
            if (e > worst) {
                worst = e;
                *wi = i;
                *wj = j;
            }
        }
    return worst;
}

/* One tally per transpose combination: the worst ratio to the bound and where it happened. */
typedef struct tally {
    double worst;
    int M, N, K, i, j;
    float alpha, beta;
} tally;

static void tally_add(tally *t, double e, int M, int N, int K, int i, int j, float alpha, float beta)
{
    if (e > t->worst || (e != e)) {
        t->worst = e;
        t->M = M;
        t->N = N;
        t->K = K;
        t->i = i;
        t->j = j;
        t->alpha = alpha;
        t->beta = beta;
    }
}

static void tally_report(const char *name, const tally *t)
{
    test_report(name, t->worst <= 1, "error %.3g times the bound at C[%d][%d] of M=%d N=%d K=%d alpha=%g beta=%g",
                t->worst, t->i, t->j, t->M, t->N, t->K, t->alpha, t->beta);
}

/* Everything the GEMM checks gather over all the products. */
typedef struct gemm_stats {
    tally naive_ref[4], blocked_ref[4], blocked_naive[4]; /* per transpose combination */
    int cases, nan_cases, nan_bad, pad_bad;
} gemm_stats;

/* One product C = alpha op(A) op(B) + beta C by both GEMMs, on fresh random operands. */
static void gemm_case(gemm_stats *st, int ta, int tb, int M, int N, int K, float alpha, float beta, gan_rng *rng)
{
    const float sentinel = 7.25f; /* what C holds beyond its N columns: must survive */
    const int t = ta * 2 + tb;
    /* Leading dimensions above the minimum; the gaps hold NaN, which must never be read. */
    int arows = ta ? K : M, acols = ta ? M : K, lda = acols + 3;
    int brows = tb ? N : K, bcols = tb ? K : N, ldb = bcols + 2;
    int ldc = N + 5;
    float *A = xcalloc((size_t)arows * lda, sizeof *A);
    float *B = xcalloc((size_t)brows * ldb, sizeof *B);
    float *C0 = xcalloc((size_t)M * ldc, sizeof *C0);
    float *Cn = xcalloc((size_t)M * ldc, sizeof *Cn);
    float *Cb = xcalloc((size_t)M * ldc, sizeof *Cb);
    double *ref = xcalloc((size_t)M * N, sizeof *ref);
    double *bound = xcalloc((size_t)M * N, sizeof *bound);
    int i, j, wi = 0, wj = 0, nan_left = 0, pad_hit = 0;
    double e;

    for (i = 0; i < arows; i++)
        for (j = 0; j < lda; j++) A[(size_t)i * lda + j] = j < acols ? 2 * gan_rng_uniform(rng) - 1 : NAN;
    for (i = 0; i < brows; i++)
        for (j = 0; j < ldb; j++) B[(size_t)i * ldb + j] = j < bcols ? 2 * gan_rng_uniform(rng) - 1 : NAN;
    /* beta = 0 must ignore C, so C starts as NaN then. */
    for (i = 0; i < M; i++)
        for (j = 0; j < ldc; j++)
            C0[(size_t)i * ldc + j] = j >= N ? sentinel : beta == 0 ? NAN : 2 * gan_rng_uniform(rng) - 1;
    memcpy(Cn, C0, (size_t)M * ldc * sizeof *C0);
    memcpy(Cb, C0, (size_t)M * ldc * sizeof *C0);

    gemm_reference(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C0, ldc, ref, bound);
    gan_gemm_naive(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, Cn, ldc);
    gan_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, Cb, ldc);

    e = gemm_excess(Cn, ldc, ref, bound, 1, M, N, &wi, &wj);
    tally_add(&st->naive_ref[t], e, M, N, K, wi, wj, alpha, beta);
    e = gemm_excess(Cb, ldc, ref, bound, 1, M, N, &wi, &wj);
    tally_add(&st->blocked_ref[t], e, M, N, K, wi, wj, alpha, beta);
    /* The naive result as the reference: each is within one bound of the exact value. */
    for (i = 0; i < M; i++)
        for (j = 0; j < N; j++) ref[(size_t)i * N + j] = Cn[(size_t)i * ldc + j];
    e = gemm_excess(Cb, ldc, ref, bound, 2, M, N, &wi, &wj);
    tally_add(&st->blocked_naive[t], e, M, N, K, wi, wj, alpha, beta);

    for (i = 0; i < M; i++) {
        for (j = 0; j < N; j++)
            nan_left |= !isfinite(Cn[(size_t)i * ldc + j]) || !isfinite(Cb[(size_t)i * ldc + j]);
        for (j = N; j < ldc; j++) pad_hit |= Cn[(size_t)i * ldc + j] != sentinel || Cb[(size_t)i * ldc + j] != sentinel;
    }
    st->cases++;
    st->pad_bad += pad_hit;
    if (beta == 0) {
        st->nan_cases++;
        st->nan_bad += nan_left;
    }
    free(A);
    free(B);
    free(C0);
    free(Cn);
    free(Cb);
    free(ref);
    free(bound);
}

/* All four transpose combinations of one shape; alpha and beta cycle with the shape's index. */
static void gemm_shape(gemm_stats *st, int M, int N, int K, int idx, gan_rng *rng)
{
    static const float alphas[] = {1.0f, -1.25f, 0.5f};
    static const float betas[] = {0.0f, 1.0f, 0.5f};
    int t;
    for (t = 0; t < 4; t++) gemm_case(st, t >> 1, t & 1, M, N, K, alphas[(idx / 3) % 3], betas[idx % 3], rng);
}

static void test_gemm(void)
{
    static const int sizes[] = {1, 3, 17, 31, 64, 67, 129, 300};
    const int ns = GAN_COUNT(sizes);
    gemm_stats st;
    char what[96];
    gan_rng rng;
    int a, b, c, t, idx = 0;

    memset(&st, 0, sizeof st);
    gan_rng_seed(&rng, 2024);
    /* Every (M, N, K) from the list up to 2e6 multiply-adds, then two cubes past every block size. */
    for (a = 0; a < ns; a++)
        for (b = 0; b < ns; b++)
            for (c = 0; c < ns; c++)
                if ((double)sizes[a] * sizes[b] * sizes[c] <= 2e6) gemm_shape(&st, sizes[a], sizes[b], sizes[c], idx++, &rng);
    gemm_shape(&st, 129, 129, 129, idx++, &rng);
    gemm_shape(&st, 300, 300, 300, idx++, &rng);

    for (t = 0; t < 4; t++) {
        const char *tn = t == 0 ? "NN" : t == 1 ? "NT" : t == 2 ? "TN" : "TT";
        sprintf(what, "gemm_naive %s matches the double reference within the rounding bound", tn);
        tally_report(what, &st.naive_ref[t]);
        sprintf(what, "gemm %s matches the double reference within the rounding bound", tn);
        tally_report(what, &st.blocked_ref[t]);
        sprintf(what, "gemm %s matches gemm_naive within twice the rounding bound", tn);
        tally_report(what, &st.blocked_naive[t]);
    }
    test_report("gemm and gemm_naive with beta = 0 ignore NaN already in C", st.nan_bad == 0 && st.nan_cases > 0,
                "%d of %d products kept a NaN", st.nan_bad, st.nan_cases);
    test_report("gemm and gemm_naive leave C beyond N columns (ldc > N) untouched", st.pad_bad == 0,
                "%d of %d products wrote past column N", st.pad_bad, st.cases);
    printf("# gemm: %d products; worst error / bound: naive %.3g %.3g %.3g %.3g, blocked %.3g %.3g %.3g %.3g\n",
           st.cases, st.naive_ref[0].worst, st.naive_ref[1].worst, st.naive_ref[2].worst, st.naive_ref[3].worst,
           st.blocked_ref[0].worst, st.blocked_ref[1].worst, st.blocked_ref[2].worst, st.blocked_ref[3].worst);
}

/* ---- im2col / col2im --------------------------------------------------------------------------- */

static gan_conv_geom geom(int c, int h, int w, int k, int stride, int pad)
{
    gan_conv_geom g;
    g.c = c;
    g.h = h;
    g.w = w;
    g.k = k;
    g.stride = stride;
    g.pad = pad;
    g.oh = (h + 2 * pad - k) / stride + 1;
    g.ow = (w + 2 * pad - k) / stride + 1;
    return g;
}

/* The value im2col must put in row (ci, ki, kj), column (oy, ox): the input pixel under that kernel
   tap, or 0 where the window hangs over the zero padding. */
static float im2col_at(const float *x, const gan_conv_geom *g, int ci, int ki, int kj, int oy, int ox)
{
    int iy = oy * g->stride - g->pad + ki, ix = ox * g->stride - g->pad + kj;
    if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) return 0;
    return x[((size_t)ci * g->h + iy) * g->w + ix];
}

static void test_im2col(void)
{
    gan_conv_geom gs[7];
    gan_rng rng;
    int n;

    gs[0] = geom(2, 5, 7, 3, 2, 1);
    gs[1] = geom(3, 6, 5, 4, 2, 1);
    gs[2] = geom(1, 7, 7, 5, 3, 2);
    gs[3] = geom(2, 4, 5, 1, 1, 0);
    gs[4] = geom(3, 5, 5, 3, 1, 2);
    gs[5] = geom(2, 3, 4, 3, 1, 0);
    gs[6] = geom(2, 9, 8, 4, 3, 1);
    gan_rng_seed(&rng, 77);

    for (n = 0; n < GAN_COUNT(gs); n++) {
        const gan_conv_geom *g = &gs[n];
        size_t nx = (size_t)g->c * g->h * g->w, ncol = (size_t)g->c * g->k * g->k * g->oh * g->ow, j;
        float *x = xcalloc(nx, sizeof *x), *col = xcalloc(ncol, sizeof *col);
        float *a = xcalloc(ncol, sizeof *a), *back = xcalloc(nx, sizeof *back), *acc = xcalloc(nx, sizeof *acc);
        double *scatter = xcalloc(nx, sizeof *scatter), *mag = xcalloc(nx, sizeof *mag);
        double lhs = 0, rhs = 0, terms = 0, worst = 0;
        int ci, ki, kj, oy, ox, mism = 0, bad_back = 0, bad_acc = 0;
        char name[160];

        gan_fill_uniform(x, nx, -1, 1, &rng);
        gan_fill_uniform(a, ncol, -1, 1, &rng);
        for (j = 0; j < ncol; j++) col[j] = NAN; /* every element must be written */
        gan_im2col(col, x, g);

        for (ci = 0; ci < g->c; ci++)
            for (ki = 0; ki < g->k; ki++)
                for (kj = 0; kj < g->k; kj++)
                    for (oy = 0; oy < g->oh; oy++)
                        for (ox = 0; ox < g->ow; ox++) {
                            size_t row = ((size_t)ci * g->k + ki) * g->k + kj;
                            size_t at = row * g->oh * g->ow + (size_t)oy * g->ow + ox;
                            int iy = oy * g->stride - g->pad + ki, ix = ox * g->stride - g->pad + kj;
                            if (col[at] != im2col_at(x, g, ci, ki, kj, oy, ox)) mism++;
                            /* the adjoint scatter, in double, with the size of what lands on each pixel */
                            if (iy >= 0 && iy < g->h && ix >= 0 && ix < g->w) {
                                size_t xi = ((size_t)ci * g->h + iy) * g->w + ix;
                                scatter[xi] += a[at];
                                mag[xi] += fabs(a[at]);
                            }
                        }
        sprintf(name, "im2col c=%d h=%d w=%d k=%d stride=%d pad=%d equals the direct definition", g->c, g->h,
                g->w, g->k, g->stride, g->pad);
        test_report(name, mism == 0, "%d of %zu elements differ", mism, ncol);

        /* col2im into zeros is the scatter; each pixel sums at most k^2 floats, so it may be off by
           k^2 FLT_EPSILON times the sum of their sizes. */
        gan_col2im(back, a, g);
        for (j = 0; j < nx; j++) {
            double e = fabs(back[j] - scatter[j]) / ((g->k * g->k + 1) * (double)FLT_EPSILON * mag[j] + FLT_MIN);
            if (!(e <= 1)) bad_back++;
            if (e > worst || e != e) worst = e;
        }
        sprintf(name, "col2im c=%d h=%d w=%d k=%d stride=%d pad=%d equals the direct scatter", g->c, g->h, g->w,
                g->k, g->stride, g->pad);
        test_report(name, bad_back == 0, "%d of %zu pixels off, worst %.3g times the bound", bad_back, nx, worst);

        /* col2im adds to what x holds. */
        for (j = 0; j < nx; j++) acc[j] = x[j];
        gan_col2im(acc, a, g);
        for (j = 0; j < nx; j++) {
            double e = fabs(acc[j] - (x[j] + scatter[j]));
            if (!(e <= (g->k * g->k + 2) * (double)FLT_EPSILON * (mag[j] + fabs(x[j])) + FLT_MIN)) bad_acc++;
        }
        sprintf(name, "col2im c=%d h=%d w=%d k=%d stride=%d pad=%d accumulates into x", g->c, g->h, g->w, g->k,
                g->stride, g->pad);
        test_report(name, bad_acc == 0, "%d of %zu pixels are not x + scatter", bad_acc, nx);

        /* Adjointness <col2im(a), x> = <a, im2col(x)>, accumulated in double. The left side inherits
           col2im's rounding: at most (k^2 + 1) FLT_EPSILON sum_j |a_j| |im2col(x)_j|. */
        for (j = 0; j < nx; j++) lhs += (double)back[j] * x[j];
        for (j = 0; j < ncol; j++) {
            rhs += (double)a[j] * col[j];
            terms += fabs((double)a[j] * col[j]);
        }
        sprintf(name, "col2im is the adjoint of im2col, c=%d h=%d w=%d k=%d stride=%d pad=%d", g->c, g->h, g->w,
                g->k, g->stride, g->pad);
        test_report(name, fabs(lhs - rhs) <= (g->k * g->k + 1) * (double)FLT_EPSILON * terms + 1e-30,
                    "<col2im(a), x> = %.10g but <a, im2col(x)> = %.10g", lhs, rhs);

        free(x);
        free(col);
        free(a);
        free(back);
        free(acc);
        free(scatter);
        free(mag);
    }
}

/* ---- rng --------------------------------------------------------------------------------------- */

#define PCG_MULT 6364136223846793005ULL

/* PCG32's output: XSH RR of a 64-bit state (O'Neill 2014, pcg32_random_r). */
static uint32_t pcg_output(uint64_t s)
{
    uint32_t xs = (uint32_t)(((s >> 18) ^ s) >> 27);
    uint32_t rot = (uint32_t)(s >> 59);
    return (xs >> rot) | (xs << ((0u - rot) & 31));
}

/* A state whose output is want, with rotation rot (the top five bits) and the free low 27 bits low:
   XSH RR outputs rotr(xs, rot) with xs = bits 27..58 of s ^ (s >> 18), so xs = rotl(want, rot) is
   solved bit by bit from bit 58 down (bit j of s >> 18 is bit j + 18 of s, known by then). */
static uint64_t pcg_state_for(uint32_t want, uint32_t rot, uint64_t low)
{
    uint32_t xs = rot ? (want << rot) | (want >> (32 - rot)) : want;
    uint64_t s = ((uint64_t)rot << 59) | (low & ((1ULL << 27) - 1));
    int j;
    for (j = 58; j >= 27; j--) {
        uint64_t above = j + 18 <= 63 ? (s >> (j + 18)) & 1 : 0;
        s |= ((((uint64_t)xs >> (j - 27)) & 1) ^ above) << j;
    }
    return s;
}

/* The inverse of an odd number mod 2^64, by Newton's iteration x <- x (2 - a x). */
static uint64_t inverse_mod64(uint64_t a)
{
    uint64_t x = a;
    int i;
    for (i = 0; i < 6; i++) x *= 2 - a * x;
    return x;
}

/* 1 if the library outputs from the state before the LCG step (as pcg32_random_r), 2 if after it,
   0 if neither matches PCG32. */
static int pcg_model(void)
{
    gan_rng lib, before, after;
    int i, ok_before = 1, ok_after = 1;
    gan_rng_seed(&lib, 12345);
    before = after = lib;
    for (i = 0; i < 16; i++) {
        uint32_t got = gan_rng_u32(&lib);
        if (got != pcg_output(before.state)) ok_before = 0;
        before.state = before.state * PCG_MULT + before.inc;
        after.state = after.state * PCG_MULT + after.inc;
        if (got != pcg_output(after.state)) ok_after = 0;
    }
    return ok_before ? 1 : ok_after ? 2 : 0;
}

/* An rng whose next u32 is first and whose u32 after that agrees with second in its top 26 bits, so
   both a 24-bit uniform (one u32) and a 53-bit one (27 + 26 bits of two u32) come out at their
   extreme. Searches the free bits: a match has probability 2^-26 per try and there are 2^32 tries. */
static int rng_crafted(int model, uint32_t first, uint32_t second, gan_rng *out)
{
    gan_rng r;
    uint32_t rot;
    uint64_t low;
    gan_rng_seed(&r, 99);
    for (rot = 0; rot < 32; rot++) {
        uint64_t base = pcg_state_for(first, rot, 0);
        for (low = 0; low < (1ULL << 27); low++) {
            uint64_t s = base | low;
            if ((pcg_output(s * PCG_MULT + r.inc) >> 6) == (second >> 6)) {
                r.state = model == 1 ? s : (s - r.inc) * inverse_mod64(PCG_MULT);
                *out = r;
                return 1;
            }
        }
    }
    return 0;
}

static void test_rng_extremes(void)
{
    int model = pcg_model(), found_lo, found_hi, ok_lo, ok_hi;
    gan_rng lo, hi, r;
    gan_float u_lo, u_hi, z_lo, z_hi;
    test_report("rng u32 follows PCG32 (LCG multiplier 6364136223846793005, XSH RR output)", model != 0,
                "16 outputs after gan_rng_seed(12345) match neither the output of the state before nor after the step");
    if (model == 0) {
        test_skip("rng uniform of the largest u32 stays below 1", "cannot craft a state without the PCG32 step");
        test_skip("rng normal of the smallest and largest draws is finite", "cannot craft a state without the PCG32 step");
        return;
    }
    found_lo = rng_crafted(model, 0, 0, &lo);
    found_hi = rng_crafted(model, 0xFFFFFFFFu, 0xFFFFFFFFu, &hi);
    if (!found_lo || !found_hi) {
        test_skip("rng uniform of the largest u32 stays below 1", "no state with the extreme outputs was found");
        test_skip("rng normal of the smallest and largest draws is finite", "no state with the extreme outputs was found");
        return;
    }
    r = lo;
    ok_lo = gan_rng_u32(&r) == 0 && gan_rng_u32(&r) >> 6 == 0;
    r = hi;
    ok_hi = gan_rng_u32(&r) == 0xFFFFFFFFu && gan_rng_u32(&r) >> 6 == 0xFFFFFFFFu >> 6;
    test_report("rng crafted states give the smallest and the largest u32 pairs", ok_lo && ok_hi,
                "the crafted states do not produce the intended outputs");
    r = hi;
    u_hi = gan_rng_uniform(&r);
    r = lo;
    u_lo = gan_rng_uniform(&r);
    test_report("rng uniform of the largest u32 stays below 1", u_hi < 1 && u_lo >= 0,
                "gan_rng_uniform gave %.9g (largest draw) and %.9g (smallest): rounding must not reach 1",
                (double)u_hi, (double)u_lo);
    r = lo;
    z_lo = gan_rng_normal(&r);
    r = hi;
    z_hi = gan_rng_normal(&r);
    test_report("rng normal of the smallest and largest draws is finite", isfinite(z_lo) && isfinite(z_hi),
                "normal gave %g from the smallest draws and %g from the largest (log(0) in Box-Muller?)",
                (double)z_lo, (double)z_hi);
}

static void test_rng_streams(void)
{
    gan_rng a, b;
    int i, differ = 0, same = 0, out = 0;
    static const uint64_t seeds[][2] = {{1, 2}, {0, 1}, {42, 43}, {7, 7ULL << 32}};
    int s;

    gan_rng_seed(&a, 5);
    gan_rng_seed(&b, 5);
    for (i = 0; i < 1000; i++) {
        gan_float x = gan_rng_uniform(&a), y = gan_rng_uniform(&b);
        gan_float n1 = gan_rng_normal(&a), n2 = gan_rng_normal(&b);
        if (x != y || n1 != n2 || gan_rng_u32(&a) != gan_rng_u32(&b)) differ++;
    }
    test_report("rng same seed gives the same stream", differ == 0, "%d of 1000 draws differ", differ);

    for (s = 0; s < GAN_COUNT(seeds); s++) {
        char name[96];
        same = 0;
        gan_rng_seed(&a, seeds[s][0]);
        gan_rng_seed(&b, seeds[s][1]);
        for (i = 0; i < 1000; i++) same += gan_rng_u32(&a) == gan_rng_u32(&b);
        sprintf(name, "rng seeds %llu and %llu give different streams", (unsigned long long)seeds[s][0],
                (unsigned long long)seeds[s][1]);
        /* two independent streams agree on a u32 with probability 2^-32 */
        test_report(name, same <= 2, "%d of 1000 u32 draws are equal", same);
    }

    gan_rng_seed(&a, 11);
    for (i = 0; i < 1000000; i++) {
        gan_float u = gan_rng_uniform(&a);
        if (!(u >= 0 && u < 1)) out++;
    }
    test_report("rng uniform lies in [0, 1) over 1e6 draws", out == 0, "%d draws outside", out);
}

/* Moments of n samples, accumulated in double. */
typedef struct moments {
    double mean, var, m4, within1; /* m4: fourth central moment / var^2; within1: share within one std */
} moments;

static moments moments_of(const gan_float *x, size_t n, double mu, double sd)
{
    moments m;
    double s = 0, s2 = 0, s4 = 0, in1 = 0;
    size_t i;
    for (i = 0; i < n; i++) s += x[i];
    m.mean = s / n;
    for (i = 0; i < n; i++) {
        double d = x[i] - m.mean;
        s2 += d * d;
        s4 += d * d * d * d;
        in1 += fabs((x[i] - mu) / sd) < 1;
    }
    m.var = s2 / n;
    m.m4 = (s4 / n) / (m.var * m.var);
    m.within1 = in1 / n;
    return m;
}

/* Normal samples: each statistic within 5 standard errors of its expectation. For N(mu, sd^2):
   se(mean) = sd / sqrt(n), se(var) = sd^2 sqrt(2 / n), se(kurtosis) ~ sqrt(24 / n),
   se(share within one sd) = sqrt(p (1 - p) / n) with p = erf(1 / sqrt 2). */
static void check_normal(const char *what, const gan_float *x, size_t n, double mu, double sd)
{
    moments m = moments_of(x, n, mu, sd);
    double p = 0.6826894921370859;
    char name[128];
    sprintf(name, "%s mean within 5 standard errors", what);
    test_report(name, fabs(m.mean - mu) < 5 * sd / sqrt((double)n), "mean %.6g, expected %.6g +- %.3g", m.mean, mu,
                5 * sd / sqrt((double)n));
    sprintf(name, "%s variance within 5 standard errors", what);
    test_report(name, fabs(m.var - sd * sd) < 5 * sd * sd * sqrt(2.0 / n), "variance %.6g, expected %.6g +- %.3g",
                m.var, sd * sd, 5 * sd * sd * sqrt(2.0 / n));
    sprintf(name, "%s kurtosis within 5 standard errors of 3", what);
    test_report(name, fabs(m.m4 - 3) < 5 * sqrt(24.0 / n), "kurtosis %.5g, expected 3 +- %.3g", m.m4,
                5 * sqrt(24.0 / n));
    sprintf(name, "%s share within one sd within 5 standard errors", what);
    test_report(name, fabs(m.within1 - p) < 5 * sqrt(p * (1 - p) / n), "share %.6g, expected %.6g +- %.3g",
                m.within1, p, 5 * sqrt(p * (1 - p) / n));
}

static void test_rng_distributions(void)
{
    const size_t n = 100000;
    gan_float *x = xcalloc(n, sizeof *x);
    gan_rng r;
    size_t i, bins[16], out = 0;
    double worst_bin = 0;
    int b;
    moments m;

    gan_rng_seed(&r, 31337);
    for (i = 0; i < n; i++) x[i] = gan_rng_normal(&r);
    check_normal("rng normal", x, n, 0, 1);

    gan_rng_seed(&r, 271828);
    gan_fill_normal(x, n, 3, 0.25, &r);
    check_normal("fill_normal(3, 0.25)", x, n, 3, 0.25);

    /* Uniform on [lo, hi): mean (lo + hi) / 2 with se (hi - lo) / sqrt(12 n); variance (hi - lo)^2 / 12
       with se (hi - lo)^2 sqrt(1 / (180 n)) (Var (u - 1/2)^2 = 1/80 - 1/144 for u on [0, 1)); 16 equal
       bins each hold n / 16 +- 5 sqrt(n p (1 - p)). */
    gan_rng_seed(&r, 161803);
    gan_fill_uniform(x, n, -2, 5, &r);
    memset(bins, 0, sizeof bins);
    for (i = 0; i < n; i++) {
        if (!(x[i] >= -2 && x[i] <= 5)) {
            out++;
            continue;
        }
        b = (int)((x[i] + 2) / 7 * 16);
        bins[b > 15 ? 15 : b]++;
    }
    m = moments_of(x, n, 1.5, 7 / sqrt(12.0));
    test_report("fill_uniform(-2, 5) stays in [-2, 5]", out == 0, "%zu of %zu values outside", out, n);
    test_report("fill_uniform(-2, 5) mean within 5 standard errors", fabs(m.mean - 1.5) < 5 * 7 / sqrt(12.0 * n),
                "mean %.6g, expected 1.5 +- %.3g", m.mean, 5 * 7 / sqrt(12.0 * n));
    test_report("fill_uniform(-2, 5) variance within 5 standard errors",
                fabs(m.var - 49 / 12.0) < 5 * 49 * sqrt(1 / (180.0 * n)), "variance %.6g, expected %.6g +- %.3g",
                m.var, 49 / 12.0, 5 * 49 * sqrt(1 / (180.0 * n)));
    for (b = 0; b < 16; b++) {
        double e = fabs((double)bins[b] - n / 16.0) / sqrt(n * (1 / 16.0) * (15 / 16.0));
        if (e > worst_bin) worst_bin = e;
    }
    test_report("fill_uniform(-2, 5) histogram of 16 bins within 5 standard errors", worst_bin < 5,
                "a bin is %.3g standard errors from n / 16", worst_bin);

    gan_rng_seed(&r, 8);
    for (i = 0; i < n; i++) x[i] = gan_rng_uniform(&r);
    m = moments_of(x, n, 0.5, 1 / sqrt(12.0));
    test_report("rng uniform mean within 5 standard errors", fabs(m.mean - 0.5) < 5 / sqrt(12.0 * n),
                "mean %.6g, expected 0.5 +- %.3g", m.mean, 5 / sqrt(12.0 * n));
    test_report("rng uniform variance within 5 standard errors", fabs(m.var - 1 / 12.0) < 5 * sqrt(1 / (180.0 * n)),
                "variance %.6g, expected %.6g +- %.3g", m.var, 1 / 12.0, 5 * sqrt(1 / (180.0 * n)));
    free(x);
}

int main(void)
{
    test_gemm();
    test_im2col();
    test_rng_extremes();
    test_rng_streams();
    test_rng_distributions();
    return test_finish();
}
