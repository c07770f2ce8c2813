/* tests/fixture.h - the reference fixtures' reader and the comparisons against them, shared by
   the programs that check gan.h against PyTorch (test_torch.c, test_graph_torch.c).

   A fixture is a text file of tests/fixtures written by a make_*fixtures.py script: '#' starts a
   comment line; every tensor is a header line "name ndim d0 d1 ..." followed by its d0 d1 ...
   values, row-major. fx_load reads one (from GAN_FIXTURES, else tests/fixtures relative to the
   working directory); fx_find / fx_need look a tensor up by name; check_close and check_tensor
   compare gan.h's values with PyTorch's, one PASS or FAIL line each (tests/test.h), printing the
   worst error beside the tolerance when fx_verbose is set (fx_init_verbose: GAN_TEST_VERBOSE=1).

   Include after "../gan.h" (it needs gan_float and gan_shape). Every function is static and
   TEST_MAYBE_UNUSED, so a program that uses only some of them still builds with -Werror. */
#ifndef GAN_TEST_FIXTURE_H
#define GAN_TEST_FIXTURE_H

#ifndef GAN_H_INCLUDE
#error "include ../gan.h before tests/fixture.h"
#endif

#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1: every comparison prints its worst error beside its tolerance. */
static int fx_verbose;

/* Sets fx_verbose from GAN_TEST_VERBOSE (set, non-empty and not "0"). */
TEST_MAYBE_UNUSED static void fx_init_verbose(void)
{
    const char *v = getenv("GAN_TEST_VERBOSE");
    fx_verbose = v && *v && strcmp(v, "0") != 0;
}

/* ==== fixture files ==== */

#define FX_MAX_DIMS 4

typedef struct fx_tensor {
    char name[64];
    int ndim, dims[FX_MAX_DIMS];
    size_t count;
    double *v;
} fx_tensor;

typedef struct fixture {
    char path[512];
    int n, cap;
    fx_tensor *t;
} fixture;

TEST_MAYBE_UNUSED static void fx_free(fixture *fx)
{
    int i;
    for (i = 0; i < fx->n; i++)
        free(fx->t[i].v);
    free(fx->t);
    fx->t = NULL;
    fx->n = fx->cap = 0;
}

/* Reads one fixture file ("name ndim d0 d1 ..." then the values; '#' starts a comment line).
   On failure reports "<check>" failed with the reason and returns 0. */
TEST_MAYBE_UNUSED static int fx_load(fixture *fx, const char *check, const char *file)
{
    const char *dir = getenv("GAN_FIXTURES");
    char name[64];
    FILE *f;
    memset(fx, 0, sizeof *fx);
    snprintf(fx->path, sizeof fx->path, "%s/%s", dir && *dir ? dir : "tests/fixtures", file);
    f = fopen(fx->path, "r");
    if (!f) {
        test_report(check, 0, "cannot open fixture %s (set GAN_FIXTURES to the fixture directory)",
                    fx->path);
        return 0;
    }
    while (fscanf(f, " %63s", name) == 1) {
        fx_tensor *t;
        size_t i;
        int d, c;
        if (name[0] == '#') {
            while ((c = getc(f)) != EOF && c != '\n')
                continue;
            continue;
        }
        if (fx->n == fx->cap) {
            int cap = fx->cap ? 2 * fx->cap : 32;
            fx_tensor *grown = (fx_tensor *)realloc(fx->t, (size_t)cap * sizeof *grown);
            if (!grown)
                break;
            fx->t = grown;
            fx->cap = cap;
        }
        t = &fx->t[fx->n];
        memset(t, 0, sizeof *t);
        strcpy(t->name, name);
        if (fscanf(f, "%d", &t->ndim) != 1 || t->ndim < 1 || t->ndim > FX_MAX_DIMS)
            break;
        t->count = 1;
        for (d = 0; d < t->ndim; d++) {
            if (fscanf(f, "%d", &t->dims[d]) != 1 || t->dims[d] < 1)
                break;
            t->count *= (size_t)t->dims[d];
        }
        if (d < t->ndim)
            break;
        t->v = (double *)malloc(t->count * sizeof *t->v);
        if (!t->v)
            break;
        fx->n++;
        for (i = 0; i < t->count; i++)
            if (fscanf(f, "%lf", &t->v[i]) != 1)
                break;
        if (i < t->count)
            break;
    }
    if (!feof(f)) {
        test_report(check, 0, "malformed fixture %s near \"%s\"", fx->path, name);
        fclose(f);
        fx_free(fx);
        return 0;
    }
    fclose(f);
    return 1;
}

TEST_MAYBE_UNUSED static const fx_tensor *fx_find(const fixture *fx, const char *name)
{
    int i;
    for (i = 0; i < fx->n; i++)
        if (strcmp(fx->t[i].name, name) == 0)
            return &fx->t[i];
    return NULL;
}

/* fx_find that fails the check when the tensor is absent (the fixture is then broken). */
TEST_MAYBE_UNUSED static const fx_tensor *fx_need(const fixture *fx, const char *check, const char *name)
{
    const fx_tensor *t = fx_find(fx, name);
    if (!t)
        test_report(check, 0, "fixture %s has no tensor \"%s\"", fx->path, name);
    return t;
}

/* A fixture tensor as a freshly allocated gan_float array (the caller frees it). */
TEST_MAYBE_UNUSED static gan_float *fx_floats(const fx_tensor *t)
{
    gan_float *a = (gan_float *)malloc(t->count * sizeof *a);
    size_t i;
    if (a)
        for (i = 0; i < t->count; i++)
            a[i] = (gan_float)t->v[i];
    return a;
}

/* Per-sample shape of a (N, features) or (N, C, H, W) fixture tensor. */
TEST_MAYBE_UNUSED static gan_shape fx_sample_shape(const fx_tensor *t)
{
    if (t->ndim == 4)
        return gan_chw(t->dims[1], t->dims[2], t->dims[3]);
    return gan_chw(t->ndim >= 2 ? t->dims[1] : 1, 1, 1);
}

TEST_MAYBE_UNUSED static double max_abs(const double *v, size_t n)
{
    double m = 0.0;
    size_t i;
    for (i = 0; i < n; i++)
        if (fabs(v[i]) > m)
            m = fabs(v[i]);
    return m;
}

/* ==== comparisons ==== */

/* Passes when every |got[i] - want[i]| <= tol (and nothing is NaN). Returns the largest
   |got[i] - want[i]| (HUGE_VAL for a NaN or a size mismatch), for a caller that tracks margins. */
TEST_MAYBE_UNUSED static double check_close(const char *check, const gan_float *got, size_t n_got,
                                            const double *want, size_t n_want, size_t stride, double tol)
{
    double err = 0.0;
    size_t i, worst = 0;
    int nan = 0;
    /* A strided sample of n_got values has ceil(n_got / stride) of them. */
    if (n_want == 0 || n_got <= (n_want - 1) * stride || n_got > n_want * stride) {
        test_report(check, 0, "%lu values where PyTorch has %lu", (unsigned long)n_got,
                    (unsigned long)n_want);
        return HUGE_VAL;
    }
    for (i = 0; i < n_want; i++) {
        double d = fabs((double)got[i * stride] - want[i]);
        if (d != d)
            nan = 1;
        else if (d > err) {
            err = d;
            worst = i * stride;
        }
    }
    if (fx_verbose)
        printf("  %-44s max|err| %.3g  tol %.3g  (%.2g of tol)\n", check, err, tol, err / tol);
    test_report(check, !nan && err <= tol, "%smax |err| %.4g > tol %.4g at index %lu (got %.9g, PyTorch %.9g)",
                nan ? "NaN in output; " : "", err, tol, (unsigned long)worst, (double)got[worst],
                want[worst / stride]);
    return nan ? HUGE_VAL : err;
}

/* Compares got with the fixture tensor <name>, tolerance rtol times scale.<name> when the fixture
   has it (the sum of |terms|, see test_torch.c's TOLERANCES) or else times the largest |value|
   of <name>. */
TEST_MAYBE_UNUSED static void check_tensor(const char *check, const fixture *fx, const char *name,
                                           const gan_float *got, size_t n_got, double rtol)
{
    char sname[96];
    const fx_tensor *want = fx_need(fx, check, name), *scale;
    if (!want)
        return;
    snprintf(sname, sizeof sname, "scale.%s", name);
    scale = fx_find(fx, sname);
    check_close(check, got, n_got, want->v, want->count, 1,
                rtol * (scale ? scale->v[0] : max_abs(want->v, want->count)));
}

/* Copies fixture tensor t into parameter p (as `label` in messages): 0 after a failed `check` if their
   counts differ. If p describes its shape otherwise than t's, and *shapes is still empty, it says
   so there (shapes_size bytes), for a separate check. */
TEST_MAYBE_UNUSED static int fx_copy_param(const char *check, const char *label, gan_param p, const fx_tensor *t,
                                           char *shapes, size_t shapes_size)
{
    size_t k;
    int j, same;
    if (p.count != t->count) {
        test_report(check, 0, "%s has %lu values, PyTorch's %lu", label, (unsigned long)p.count,
                    (unsigned long)t->count);
        return 0;
    }
    for (k = 0; k < p.count; k++)
        p.data[k] = (gan_float)t->v[k];
    same = p.ndim == t->ndim;
    for (j = 0; same && j < t->ndim; j++)
        same = p.shape[j] == t->dims[j];
    if (!same && !shapes[0])
        snprintf(shapes, shapes_size, "%s is described as %d-D (%d %d %d %d), PyTorch's is %d-D (%d %d %d %d)", label,
                 p.ndim, p.shape[0], p.shape[1], p.shape[2], p.shape[3], t->ndim, t->dims[0],
                 t->ndim > 1 ? t->dims[1] : 0, t->ndim > 2 ? t->dims[2] : 0, t->ndim > 3 ? t->dims[3] : 0);
    return 1;
}

#endif
