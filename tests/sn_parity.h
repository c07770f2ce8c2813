/* tests/sn_parity.h - spectral normalization against PyTorch (tests/fixtures/spectral.txt, written
   by tests/fixtures/make_sn_fixtures.py), shared by test_spectral.c (the float build) and
   test_spectral_fd.c (GAN_DOUBLE), which run the same checks at their own precision.

   For a spectrally normalized Linear(5, 3), Conv2d(2, 4, 3, 2, 1) and bias-free Conv2d(1, 4, 4, 2, 1):
   the parameter and buffer names and shapes PyTorch's (weight_orig, bias; weight_u, weight_v); then
   from PyTorch's u and v, three training forwards in a row (y, u, v and sigma after each: one power
   iteration per forward), a backward (dL/dx, dL/dweight_orig through sigma with u and v fixed,
   dL/dbias), an evaluation-mode forward and backward of another input (u and v unchanged, sigma
   still the third forward's), and gan_net_infer of that input from training mode (the evaluation
   output, u and v unchanged). For the critic SN-Conv2d -> LeakyReLU(0.2) -> Flatten -> SN-Linear:
   the WGAN-GP penalty in training mode (its forward runs the power iteration), the critic's output,
   the parameter gradients of the penalty and u, v afterwards.

   TOLERANCES. PyTorch computed in float64 from float32 inputs, so in the double build every
   difference is float64 round-off: SN_RTOL 1e-12 of the scales (measured: at most 3e-3 of it).
   In the float build gemm-like results are held to 1e-5 of their sum of |terms| (the fixture's
   scale.*, as in test_torch.c); u and v (unit vectors) to 1e-5 absolute; sigma to 2e-6 relative,
   where one more or one fewer power iteration moves it by at least 2e-5 (make_sn_fixtures.py
   asserts it; "iteration_visible" checks it here), and W / sigma without sigma, or with ||W||_F,
   is O(1) off; the penalty, D and the penalty's gradients to 1e-5 of the largest penalty gradient.
   The float build's measured errors are at most 0.05 of these tolerances (GAN_TEST_VERBOSE=1
   prints them). Include after "../gan.h". */
#ifndef GAN_TEST_SN_PARITY_H
#define GAN_TEST_SN_PARITY_H

#include "fixture.h" /* fx_load, fx_need, fx_floats, check_close, check_tensor, fx_copy_param */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef GAN_DOUBLE
#define SN_BUILD "double"
#define SN_RTOL 1e-12         /* gemm-like results, relative to their sum of |terms|; u, v absolute */
#define SN_RTOL_SIGMA 1e-13   /* sigma, relative */
#define SN_RTOL_PENALTY 1e-12 /* the penalty, D and its gradients, relative to the largest gradient */
#else
#define SN_BUILD "float"
#define SN_RTOL 1e-5
#define SN_RTOL_SIGMA 2e-6
#define SN_RTOL_PENALTY 1e-5
#endif

/* The buffer <role> of layer `layer` (its data, count in *count), or NULL. */
TEST_MAYBE_UNUSED static gan_float *sn_buffer(gan_net *net, int layer, const char *role, size_t *count)
{
    int i;
    for (i = 0; i < gan_net_buffer_count(net); i++) {
        gan_param b = gan_net_buffer(net, i);
        if (b.layer == layer && strcmp(b.role, role) == 0) {
            if (count) *count = b.count;
            return b.data;
        }
    }
    if (count) *count = 0;
    return NULL;
}

/* Copies fixture tensor <name> into count values at dst: 0 (a failed `check`) if absent or of another size. */
static int sn_load(const fixture *fx, const char *check, const char *name, gan_float *dst, size_t count)
{
    const fx_tensor *t = fx_need(fx, check, name);
    size_t k;
    if (!t) return 0;
    if (!dst || t->count != count) {
        test_report(check, 0, "%s has %lu values in the fixture, %lu here", name, (unsigned long)t->count,
                    (unsigned long)count);
        return 0;
    }
    for (k = 0; k < count; k++) dst[k] = (gan_float)t->v[k];
    return 1;
}

/* The layer's sigma (sn_sigma, the last non-sampling forward's) against fixture scalar <name>. */
static void sn_check_sigma(const char *check, const fixture *fx, const char *name, const gan_layer *L)
{
    const fx_tensor *t = fx_need(fx, check, name);
    gan_float got = L->sn_sigma;
    if (t) check_close(check, &got, 1, t->v, 1, 1, SN_RTOL_SIGMA * fabs(t->v[0]));
}

/* u and v of layer 0 against <pre>u<s>, <pre>v<s>. */
static void sn_check_uv(const char *cas, const fixture *fx, gan_net *net, const char *pre, int s)
{
    char check[128], name[96];
    const char *roles[2] = {"weight_u", "weight_v"};
    int j;
    for (j = 0; j < 2; j++) {
        size_t n;
        gan_float *d = sn_buffer(net, 0, roles[j], &n);
        const fx_tensor *t;
        snprintf(name, sizeof name, "%s%c%d", pre, j ? 'v' : 'u', s);
        snprintf(check, sizeof check, "spectral/%s/%s/%c%d", SN_BUILD, cas, j ? 'v' : 'u', s);
        t = fx_need(fx, check, name);
        if (!d) test_report(check, 0, "no buffer %s", roles[j]);
        else if (t) check_close(check, d, n, t->v, t->count, 1, SN_RTOL);
    }
}

/* Checks gan_net_param / gan_net_buffer describe layer 0 as PyTorch does. */
static void sn_check_names(const char *cas, gan_net *net, int has_bias, int out, size_t cols)
{
    char check[128];
    gan_param w = gan_net_param(net, 0);
    gan_param u, v;
    int ok;
    snprintf(check, sizeof check, "spectral/%s/%s/names", SN_BUILD, cas);
    if (gan_net_param_count(net) != 1 + has_bias || gan_net_buffer_count(net) != 2) {
        test_report(check, 0, "%d parameters and %d buffers, PyTorch %d and 2", gan_net_param_count(net),
                    gan_net_buffer_count(net), 1 + has_bias);
        return;
    }
    u = gan_net_buffer(net, 0);
    v = gan_net_buffer(net, 1);
    ok = strcmp(w.name, "0.weight_orig") == 0 && strcmp(w.role, "weight_orig") == 0 &&
         (!has_bias || strcmp(gan_net_param(net, 1).name, "0.bias") == 0) && strcmp(u.name, "0.weight_u") == 0 &&
         strcmp(u.role, "weight_u") == 0 && strcmp(v.name, "0.weight_v") == 0 && strcmp(v.role, "weight_v") == 0 &&
         u.grad == NULL && v.grad == NULL && u.count == (size_t)out && v.count == cols && u.ndim == 1 && v.ndim == 1 &&
         u.shape[0] == out && v.shape[0] == (int)cols;
    test_report(check, ok, "parameter %s (%s); buffers %s (%s, %lu values), %s (%s, %lu values); PyTorch 0.weight_orig, "
                "0.weight_u (%d values), 0.weight_v (%lu values)", w.name, w.role, u.name, u.role, (unsigned long)u.count,
                v.name, v.role, (unsigned long)v.count, out, (unsigned long)cols);
}

/* A forward of fixture tensor <name> (whose batch fits the network); NULL when absent. */
static const gan_tensor *sn_forward(gan_net *net, const fixture *fx, const char *check, const char *name,
                                    gan_float **buf)
{
    const fx_tensor *x = fx_need(fx, check, name);
    gan_shape s;
    gan_tensor in;
    if (!x) return NULL;
    free(*buf);
    *buf = fx_floats(x);
    s = fx_sample_shape(x);
    in = gan_tensor_make(*buf, x->dims[0], s.c, s.h, s.w);
    return gan_net_forward(net, &in);
}

/* gan_net_zero_grad and a backward of fixture tensor <name>; NULL when absent or of another size. */
static const gan_tensor *sn_backward(gan_net *net, const fixture *fx, const char *check, const char *name,
                                     gan_float **buf)
{
    const fx_tensor *dy = fx_need(fx, check, name);
    const gan_tensor *y = gan_net_output(net);
    gan_tensor d;
    if (!dy) return NULL;
    if (dy->count != gan_tensor_count(y)) {
        test_report(check, 0, "%s has %lu values, the output %lu", name, (unsigned long)dy->count,
                    (unsigned long)gan_tensor_count(y));
        return NULL;
    }
    free(*buf);
    *buf = fx_floats(dy);
    d = gan_tensor_make(*buf, y->n, y->c, y->h, y->w);
    gan_net_zero_grad(net);
    return gan_net_backward(net, &d);
}

/* dL/dx (into <pre><dx>) and the parameter gradients (<pre>grad.<role><suffix>) of the last backward. */
static void sn_check_grads(const char *cas, const fixture *fx, gan_net *net, const gan_tensor *dx, const char *pre,
                           const char *dx_name, const char *suffix)
{
    char check[160], name[96];
    int i;
    snprintf(name, sizeof name, "%s%s", pre, dx_name);
    snprintf(check, sizeof check, "spectral/%s/%s/%s", SN_BUILD, cas, dx_name);
    check_tensor(check, fx, name, dx->data, gan_tensor_count(dx), SN_RTOL);
    for (i = 0; i < gan_net_param_count(net); i++) {
        gan_param p = gan_net_param(net, i);
        snprintf(name, sizeof name, "%sgrad.%s%s", pre, p.role, suffix);
        snprintf(check, sizeof check, "spectral/%s/%s/grad.%s%s", SN_BUILD, cas, p.role, suffix);
        check_tensor(check, fx, name, p.grad, p.count, SN_RTOL);
    }
}

/* One layer case of spectral.txt (see make_sn_fixtures.py's CASES). */
static void sn_parity_layer(const fixture *fx, const char *cas)
{
    char check[160], name[96], pre[64], shapes[200] = "";
    const fx_tensor *cfg, *x;
    gan_float *xb = NULL, *dyb = NULL, *u3 = NULL, *v3 = NULL, *ye = NULL;
    gan_float *u, *v;
    size_t nu = 0, nv = 0;
    const gan_tensor *y, *dx;
    gan_layer layer, *L;
    gan_net *net = NULL;
    gan_rng rng;
    int i, s, c[7];
    snprintf(pre, sizeof pre, "%s.", cas);
    snprintf(check, sizeof check, "spectral/%s/%s/fixture", SN_BUILD, cas);
    snprintf(name, sizeof name, "%sconfig", pre);
    cfg = fx_need(fx, check, name);
    snprintf(name, sizeof name, "%sx", pre);
    x = fx_need(fx, check, name);
    if (!cfg || !x) return;
    if (cfg->count != 7) {
        test_report(check, 0, "config has %lu values, not 7", (unsigned long)cfg->count);
        return;
    }
    for (i = 0; i < 7; i++) c[i] = (int)cfg->v[i];
    layer = c[0] == 0 ? gan_linear(c[1], c[2]) : gan_conv2d(c[1], c[2], c[3], c[4], c[5]);
    if (!c[6]) layer = gan_no_bias(layer);
    layer = gan_spectral_norm(layer);
    gan_rng_seed(&rng, 11);
    net = gan_net_create(fx_sample_shape(x), &layer, 1, x->dims[0], &rng);
    if (!net) {
        test_report(check, 0, "gan_net_create: %s", gan_last_error());
        return;
    }
    L = gan_net_layer(net, 0);
    sn_check_names(cas, net, c[6], c[2], L->nW / (size_t)c[2]);
    if (gan_net_param_count(net) != 1 + c[6] || gan_net_buffer_count(net) != 2) goto done;

    /* parameters (with PyTorch's shapes) and the starting u, v */
    snprintf(check, sizeof check, "spectral/%s/%s/load", SN_BUILD, cas);
    for (i = 0; i < gan_net_param_count(net); i++) {
        gan_param p = gan_net_param(net, i);
        const fx_tensor *t;
        snprintf(name, sizeof name, "%s%s", pre, p.role);
        t = fx_need(fx, check, name);
        if (!t || !fx_copy_param(check, p.role, p, t, shapes, sizeof shapes)) goto done;
    }
    u = sn_buffer(net, 0, "weight_u", &nu);
    v = sn_buffer(net, 0, "weight_v", &nv);
    snprintf(name, sizeof name, "%su0", pre);
    if (!sn_load(fx, check, name, u, nu)) goto done;
    snprintf(name, sizeof name, "%sv0", pre);
    if (!sn_load(fx, check, name, v, nv)) goto done;
    snprintf(check, sizeof check, "spectral/%s/%s/param_shapes", SN_BUILD, cas);
    test_report(check, !shapes[0], "%s", shapes);

    /* three training forwards: one power iteration each */
    for (s = 1; s <= 3; s++) {
        snprintf(check, sizeof check, "spectral/%s/%s/y%d", SN_BUILD, cas, s);
        y = sn_forward(net, fx, check, (snprintf(name, sizeof name, "%sx", pre), name), &xb);
        if (!y) goto done;
        snprintf(name, sizeof name, "%sy%d", pre, s);
        check_tensor(check, fx, name, y->data, gan_tensor_count(y), SN_RTOL);
        sn_check_uv(cas, fx, net, pre, s);
        snprintf(check, sizeof check, "spectral/%s/%s/sigma%d", SN_BUILD, cas, s);
        snprintf(name, sizeof name, "%ssigma%d", pre, s);
        sn_check_sigma(check, fx, name, L);
    }
    /* the checks above can tell one power iteration more from none: sigma would move this much */
    {
        const fx_tensor *s3, *s4;
        snprintf(check, sizeof check, "spectral/%s/%s/iteration_visible", SN_BUILD, cas);
        s3 = fx_need(fx, check, (snprintf(name, sizeof name, "%ssigma3", pre), name));
        s4 = fx_need(fx, check, (snprintf(name, sizeof name, "%ssigma4", pre), name));
        if (s3 && s4)
            test_report(check, fabs(s4->v[0] - s3->v[0]) > 10 * SN_RTOL_SIGMA * fabs(s3->v[0]),
                        "sigma after one more iteration %.9g, now %.9g: within 10 tolerances", s4->v[0], s3->v[0]);
    }
    u3 = (gan_float *)malloc(nu * sizeof *u3);
    v3 = (gan_float *)malloc(nv * sizeof *v3);
    memcpy(u3, u, nu * sizeof *u3);
    memcpy(v3, v, nv * sizeof *v3);

    /* the backward of the third forward */
    snprintf(check, sizeof check, "spectral/%s/%s/backward", SN_BUILD, cas);
    snprintf(name, sizeof name, "%sdy", pre);
    dx = sn_backward(net, fx, check, name, &dyb);
    if (!dx) goto done;
    sn_check_grads(cas, fx, net, dx, pre, "dx", "");

    /* evaluation mode: no power iteration, the backward through the same sigma */
    gan_net_set_training(net, 0);
    snprintf(check, sizeof check, "spectral/%s/%s/ye", SN_BUILD, cas);
    y = sn_forward(net, fx, check, (snprintf(name, sizeof name, "%sxe", pre), name), &xb);
    if (!y) goto done;
    snprintf(name, sizeof name, "%sye", pre);
    check_tensor(check, fx, name, y->data, gan_tensor_count(y), SN_RTOL);
    snprintf(check, sizeof check, "spectral/%s/%s/eval_keeps_uv", SN_BUILD, cas);
    test_report(check, memcmp(u, u3, nu * sizeof *u) == 0 && memcmp(v, v3, nv * sizeof *v) == 0,
                "an evaluation-mode forward changed u or v");
    snprintf(check, sizeof check, "spectral/%s/%s/eval_sigma", SN_BUILD, cas);
    snprintf(name, sizeof name, "%ssigma3", pre);
    sn_check_sigma(check, fx, name, L);
    ye = (gan_float *)malloc(gan_tensor_count(y) * sizeof *ye);
    memcpy(ye, y->data, gan_tensor_count(y) * sizeof *ye);
    snprintf(check, sizeof check, "spectral/%s/%s/eval_backward", SN_BUILD, cas);
    snprintf(name, sizeof name, "%sdye", pre);
    dx = sn_backward(net, fx, check, name, &dyb);
    if (!dx) goto done;
    sn_check_grads(cas, fx, net, dx, pre, "dxe", ".e");

    /* gan_net_infer from training mode: the evaluation output, u and v untouched */
    gan_net_set_training(net, 1);
    {
        const fx_tensor *xe;
        gan_float *out;
        gan_tensor in, o;
        gan_shape sh;
        snprintf(check, sizeof check, "spectral/%s/%s/infer", SN_BUILD, cas);
        snprintf(name, sizeof name, "%sxe", pre);
        xe = fx_need(fx, check, name);
        if (!xe) goto done;
        free(xb);
        xb = fx_floats(xe);
        sh = fx_sample_shape(xe);
        in = gan_tensor_make(xb, xe->dims[0], sh.c, sh.h, sh.w);
        out = (gan_float *)calloc(gan_tensor_count(gan_net_output(net)), sizeof *out);
        o = gan_tensor_make(out, xe->dims[0], L->out.c, L->out.h, L->out.w);
        if (!gan_net_infer(net, &o, &in, GAN_STATS_RUNNING)) {
            test_report(check, 0, "gan_net_infer: %s", gan_last_error());
        } else {
            snprintf(name, sizeof name, "%sye", pre);
            check_tensor(check, fx, name, out, gan_tensor_count(&o), SN_RTOL);
            snprintf(check, sizeof check, "spectral/%s/%s/infer_is_eval_bitwise", SN_BUILD, cas);
            test_report(check, memcmp(out, ye, gan_tensor_count(&o) * sizeof *out) == 0,
                        "gan_net_infer's output differs from the evaluation-mode forward's");
            snprintf(check, sizeof check, "spectral/%s/%s/infer_keeps_uv", SN_BUILD, cas);
            test_report(check, memcmp(u, u3, nu * sizeof *u) == 0 && memcmp(v, v3, nv * sizeof *v) == 0,
                        "gan_net_infer changed u or v");
        }
        free(out);
    }
done:
    free(xb);
    free(dyb);
    free(u3);
    free(v3);
    free(ye);
    gan_net_free(net);
}

/* The critic's WGAN-GP penalty in training mode (make_sn_fixtures.py's critic). */
static void sn_parity_critic(const fixture *fx)
{
    char check[160], name[128];
    const fx_tensor *x, *want;
    gan_graph *g;
    gan_layer layers[4];
    gan_net *net;
    gan_rng rng;
    gan_float *xb = NULL, P = 0;
    gan_tensor in;
    double big;
    int i;
    snprintf(check, sizeof check, "spectral/%s/critic/fixture", SN_BUILD);
    x = fx_need(fx, check, "critic.x");
    if (!x) return;
    layers[0] = gan_spectral_norm(gan_conv2d(1, 4, 4, 2, 1));
    layers[1] = gan_leaky_relu((gan_float)0.2);
    layers[2] = gan_flatten();
    layers[3] = gan_spectral_norm(gan_linear(36, 1));
    g = gan_graph_new();
    gan_chain(g, gan_input(g, fx_sample_shape(x)), layers, 4);
    gan_rng_seed(&rng, 12);
    net = gan_net_build(g, x->dims[0], GAN_BUILD_PENALTY, &rng);
    gan_graph_free(g);
    if (!net) {
        test_report(check, 0, "gan_net_build: %s", gan_last_error());
        return;
    }
    snprintf(check, sizeof check, "spectral/%s/critic/load", SN_BUILD);
    for (i = 0; i < gan_net_param_count(net); i++) {
        gan_param p = gan_net_param(net, i);
        snprintf(name, sizeof name, "critic.%s", p.name);
        if (!sn_load(fx, check, name, p.data, p.count)) goto done;
    }
    for (i = 0; i < gan_net_buffer_count(net); i++) {
        gan_param b = gan_net_buffer(net, i);
        snprintf(name, sizeof name, "critic.%s", b.name);
        if (!sn_load(fx, check, name, b.data, b.count)) goto done;
    }
    test_report(check, gan_net_param_count(net) == 4 && gan_net_buffer_count(net) == 4,
                "%d parameters and %d buffers, PyTorch 4 and 4", gan_net_param_count(net), gan_net_buffer_count(net));

    xb = fx_floats(x);
    in = gan_tensor_make(xb, x->dims[0], fx_sample_shape(x).c, fx_sample_shape(x).h, fx_sample_shape(x).w);
    gan_net_zero_grad(net);
    snprintf(check, sizeof check, "spectral/%s/critic/penalty", SN_BUILD);
    if (!gan_net_penalty(net, &P, &in, 0, GAN_PENALTY_WGAN_GP, 10)) {
        test_report(check, 0, "gan_net_penalty: %s", gan_last_error());
        goto done;
    }
    want = fx_need(fx, check, "scale.critic.grad.0.weight_orig");
    big = want ? want->v[0] : 1;
    want = fx_need(fx, check, "critic.penalty");
    if (want) check_close(check, &P, 1, want->v, 1, 1, SN_RTOL_PENALTY * fabs(want->v[0]));
    snprintf(check, sizeof check, "spectral/%s/critic/D", SN_BUILD);
    want = fx_need(fx, check, "critic.D");
    if (want)
        check_close(check, gan_net_output(net)->data, gan_tensor_count(gan_net_output(net)), want->v, want->count, 1,
                    SN_RTOL_PENALTY * max_abs(want->v, want->count));
    for (i = 0; i < gan_net_param_count(net); i++) {
        gan_param p = gan_net_param(net, i);
        snprintf(name, sizeof name, "critic.grad.%s", p.name);
        snprintf(check, sizeof check, "spectral/%s/critic/grad.%s", SN_BUILD, p.name);
        want = fx_need(fx, check, name);
        if (want) check_close(check, p.grad, p.count, want->v, want->count, 1, SN_RTOL_PENALTY * big);
    }
    for (i = 0; i < gan_net_buffer_count(net); i++) {
        gan_param b = gan_net_buffer(net, i);
        snprintf(name, sizeof name, "critic.after.%s", b.name);
        snprintf(check, sizeof check, "spectral/%s/critic/after.%s", SN_BUILD, b.name);
        want = fx_need(fx, check, name);
        if (want) check_close(check, b.data, b.count, want->v, want->count, 1, SN_RTOL);
    }
done:
    free(xb);
    gan_net_free(net);
}

/* Every parity check of spectral.txt. */
TEST_MAYBE_UNUSED static void sn_parity_all(void)
{
    fixture fx;
    char check[96];
    snprintf(check, sizeof check, "spectral/%s/fixture", SN_BUILD);
    if (!fx_load(&fx, check, "spectral.txt")) return;
    sn_parity_layer(&fx, "linear");
    sn_parity_layer(&fx, "conv");
    sn_parity_layer(&fx, "conv_nobias");
    sn_parity_critic(&fx);
    fx_free(&fx);
}

#endif
