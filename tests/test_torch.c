/* tests/test_torch.c - gan.h gives PyTorch's numbers: for the same weights, input and upstream
   gradient, each layer's output, input gradient and parameter gradients, each loss, and each
   optimizer's parameters after three steps equal what PyTorch computed.

   The references are float64 PyTorch results written by tests/fixtures/make_fixtures.py into
   the .txt files of tests/fixtures (committed; torch is never needed here). The fixtures' inputs
   and parameters are float32 values, so this float build of gan.h loads them exactly and every
   difference is gan.h's own float32 rounding (or a bug).

   Run from the repository root, or point GAN_FIXTURES at the fixture directory. A missing or
   unreadable fixture is a failure: the files are committed, so missing means broken.
   GAN_TEST_VERBOSE=1 prints every check's worst error beside its tolerance.

   TOLERANCES (float32 unit roundoff u = 6e-8). A float32 sum of K products is accurate to about
   sqrt(K) u (at worst K u) of the sum of |terms|, so Linear and convolution results are compared
   relative to that sum, which the fixture stores as scale.<name> (it is what keeps a bias gradient
   that cancels to 0 comparable). Other tensors are compared relative to their largest |value|.
   The tolerances below sit at least 4x above the measured errors (usually 100x; the closest is
   BatchNorm's output, where the low-variance channel magnifies the rounding of its mean) while
   staying far below every effect a check is meant to catch: wrong padding or output size is an
   O(1) error, biased instead of unbiased running variance 3-20%, eps outside instead of inside
   BatchNorm's square root 5% on the fixtures' low-variance channel, Adam's eps before the bias
   correction ~90% of the step of the tiny-gradient element. */
#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "fixture.h" /* fx_load, fx_need, fx_floats, check_close, check_tensor, ... */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RTOL_GEMM 1e-5      /* Linear, Conv2d, ConvTranspose2d: relative to the sum of |terms| */
#define RTOL_NORM 2e-5      /* BatchNorm, LayerNorm: relative to the largest |value| */
#define RTOL_ELEMENTWISE 1e-5 /* activations, upsampling, losses: a few ulp of libm */
#define RTOL_OPTIM 1e-4     /* optimizers: relative to the largest distance travelled */
#define RTOL_DCGAN 1e-4     /* nine layers deep, BatchNorm over batches of 4 amplifying rounding */

/* ==== networks of one layer ==== */

static gan_net *make_net(gan_shape in, const gan_layer *layers, int n, int batch, const char *check)
{
    gan_rng rng;
    gan_net *net;
    gan_rng_seed(&rng, 7);
    net = gan_net_create(in, layers, n, batch, &rng);
    if (!net)
        test_report(check, 0, "gan_net_create failed: %s", gan_last_error());
    return net;
}

/* Loads every parameter of layer 0 from the fixture tensor named by its role ("<case>/params":
   the same parameters with the same counts as PyTorch's), and checks that gan_net_param describes
   each with PyTorch's shape ("<case>/param_shapes", separate so that a wrong description does not
   stop the value checks). */
static int load_params(gan_net *net, const fixture *fx, const char *cas)
{
    char check[128], shapes[160] = "";
    int i, found = 0;
    const char *roles[2] = {"weight", "bias"};
    snprintf(check, sizeof check, "torch/%s/params", cas);
    for (i = 0; i < gan_net_param_count(net); i++) {
        gan_param p = gan_net_param(net, i);
        const fx_tensor *t = fx_find(fx, p.role);
        if (!t) {
            test_report(check, 0, "layer has a parameter \"%s\" that PyTorch's lacks", p.role);
            return 0;
        }
        found++;
        if (!fx_copy_param(check, p.role, p, t, shapes, sizeof shapes)) return 0;
    }
    for (i = 0; i < 2; i++)
        found -= fx_find(fx, roles[i]) != NULL;
    if (found != 0) {
        test_report(check, 0, "PyTorch's layer has a parameter this one lacks");
        return 0;
    }
    test_report(check, 1, "");
    snprintf(check, sizeof check, "torch/%s/param_shapes", cas);
    test_report(check, !shapes[0], "%s", shapes);
    return 1;
}

/* The output's shape must be the fixture's (N, C, H, W) or (N, features). */
static void check_out_shape(const char *cas, const gan_tensor *y, const fx_tensor *want)
{
    char check[128];
    gan_shape s = fx_sample_shape(want);
    snprintf(check, sizeof check, "torch/%s/output_shape", cas);
    test_report(check, y->n == want->dims[0] && y->c == s.c && y->h == s.h && y->w == s.w,
                "got %dx%dx%dx%d, PyTorch %dx%dx%dx%d", y->n, y->c, y->h, y->w, want->dims[0], s.c, s.h,
                s.w);
}

/* One layer, one forward of x_name, one backward of dy_name: output, input gradient and parameter
   gradients against <prefix>y, <prefix>dx, grad.weight, grad.bias. */
static void run_layer(const char *cas, const fixture *fx, gan_layer layer, const char *x_name,
                      const char *dy_name, const char *prefix, double rtol)
{
    char check[128], name[96];
    const fx_tensor *x, *dy, *y;
    gan_float *xf = NULL, *dyf = NULL;
    gan_net *net;
    gan_tensor in, dout;
    const gan_tensor *out, *dx;
    int i;

    snprintf(check, sizeof check, "torch/%s/fixture", cas);
    snprintf(name, sizeof name, "%sy", prefix);
    x = fx_need(fx, check, x_name);
    dy = fx_need(fx, check, dy_name);
    y = fx_need(fx, check, name);
    if (!x || !dy || !y)
        return;
    net = make_net(fx_sample_shape(x), &layer, 1, x->dims[0], check);
    if (!net)
        return;
    if (gan_net_param_count(net) > 0 && !load_params(net, fx, cas))
        goto done;
    xf = fx_floats(x);
    dyf = fx_floats(dy);
    in = gan_tensor_make(xf, x->dims[0], fx_sample_shape(x).c, fx_sample_shape(x).h,
                         fx_sample_shape(x).w);
    out = gan_net_forward(net, &in);
    check_out_shape(cas, out, y);
    if (out->n * out->c * out->h * out->w != (int)dy->count)
        goto done;
    snprintf(check, sizeof check, "torch/%s/y", cas);
    check_tensor(check, fx, name, out->data, gan_tensor_count(out), rtol);

    dout = gan_tensor_make(dyf, out->n, out->c, out->h, out->w);
    gan_net_zero_grad(net);
    dx = gan_net_backward(net, &dout);
    snprintf(check, sizeof check, "torch/%s/dx", cas);
    snprintf(name, sizeof name, "%sdx", prefix);
    check_tensor(check, fx, name, dx->data, gan_tensor_count(dx), rtol);
    for (i = 0; i < gan_net_param_count(net); i++) {
        gan_param p = gan_net_param(net, i);
        snprintf(check, sizeof check, "torch/%s/grad.%s", cas, p.role);
        snprintf(name, sizeof name, "grad.%s", p.role);
        check_tensor(check, fx, name, p.grad, p.count, rtol);
    }
done:
    free(xf);
    free(dyf);
    gan_net_free(net);
}

/* config = in out k stride pad [out_pad], as make_fixtures.py writes it. */
static void test_conv(const char *cas, int transposed, int bias)
{
    char check[128], file[128];
    fixture fx;
    const fx_tensor *cfg;
    gan_layer layer;
    snprintf(check, sizeof check, "torch/%s/fixture", cas);
    snprintf(file, sizeof file, "%s.txt", cas);
    if (!fx_load(&fx, check, file))
        return;
    cfg = fx_need(&fx, check, "config");
    if (cfg && cfg->count >= (size_t)(transposed ? 6 : 5)) {
        int c[6], i;
        for (i = 0; i < 6; i++)
            c[i] = i < (int)cfg->count ? (int)cfg->v[i] : 0;
        layer = transposed ? gan_conv_transpose2d(c[0], c[1], c[2], c[3], c[4], c[5])
                           : gan_conv2d(c[0], c[1], c[2], c[3], c[4]);
        if (!bias)
            layer = gan_no_bias(layer);
        run_layer(cas, &fx, layer, "x", "dy", "", RTOL_GEMM);
    }
    fx_free(&fx);
}

static void test_linear(void)
{
    fixture fx;
    const fx_tensor *cfg;
    if (!fx_load(&fx, "torch/linear/fixture", "linear.txt"))
        return;
    cfg = fx_need(&fx, "torch/linear/fixture", "config");
    if (cfg && cfg->count == 2)
        run_layer("linear", &fx, gan_linear((int)cfg->v[0], (int)cfg->v[1]), "x", "dy", "", RTOL_GEMM);
    fx_free(&fx);
}

static void test_layernorm(void)
{
    fixture fx;
    if (!fx_load(&fx, "torch/layernorm/fixture", "layernorm.txt"))
        return;
    run_layer("layernorm", &fx, gan_layernorm(), "x", "dy", "", RTOL_NORM);
    fx_free(&fx);
}

static void test_activations(void)
{
    fixture fx;
    if (!fx_load(&fx, "torch/activations/fixture", "activations.txt"))
        return;
    run_layer("leaky_relu", &fx, gan_leaky_relu((gan_float)0.2), "x", "dy", "leaky_relu.", RTOL_ELEMENTWISE);
    run_layer("relu", &fx, gan_relu(), "x", "dy", "relu.", RTOL_ELEMENTWISE);
    run_layer("tanh", &fx, gan_tanh(), "x", "dy", "tanh.", RTOL_ELEMENTWISE);
    run_layer("sigmoid", &fx, gan_sigmoid(), "x", "dy", "sigmoid.", RTOL_ELEMENTWISE);
    run_layer("upsample2x", &fx, gan_upsample2x(), "xu", "dyu", "upsample.", RTOL_ELEMENTWISE);
    fx_free(&fx);
}

/* ==== BatchNorm: two training forwards, then evaluation with the running estimates ==== */

static gan_float *buffer_data(gan_net *net, const char *role, size_t *count)
{
    int i;
    for (i = 0; i < gan_net_buffer_count(net); i++) {
        gan_param b = gan_net_buffer(net, i);
        if (strcmp(b.role, role) == 0) {
            *count = b.count;
            return b.data;
        }
    }
    *count = 0;
    return NULL;
}

static void check_buffer(const char *cas, gan_net *net, const fixture *fx, const char *role,
                         const char *want)
{
    char check[128];
    size_t n;
    gan_float *data = buffer_data(net, role, &n);
    snprintf(check, sizeof check, "torch/%s/%s", cas, want);
    if (!data)
        test_report(check, 0, "the network has no buffer \"%s\"", role);
    else
        check_tensor(check, fx, want, data, n, RTOL_NORM);
}

/* Forward of fixture tensor x_name; returns the output, or NULL (reported) on a shape mismatch. */
static const gan_tensor *forward_fixture(gan_net *net, const fixture *fx, const char *cas,
                                         const char *x_name, gan_float **buf)
{
    char check[128];
    const fx_tensor *x;
    gan_shape s;
    gan_tensor in;
    snprintf(check, sizeof check, "torch/%s/fixture", cas);
    x = fx_need(fx, check, x_name);
    if (!x)
        return NULL;
    free(*buf);
    *buf = fx_floats(x);
    s = fx_sample_shape(x);
    if (s.c != gan_net_input_shape(net, 0).c || s.h != gan_net_input_shape(net, 0).h ||
        s.w != gan_net_input_shape(net, 0).w || x->dims[0] > net->max_batch) {
        test_report(check, 0, "%s does not have the first input's shape", x_name);
        return NULL;
    }
    in = gan_tensor_make(*buf, x->dims[0], s.c, s.h, s.w);
    return gan_net_forward(net, &in);
}

/* Backward of fixture tensor dy_name after zeroing the gradients; returns dL/dx. */
static const gan_tensor *backward_fixture(gan_net *net, const fixture *fx, const char *cas,
                                          const char *dy_name, gan_float **buf)
{
    char check[128];
    const fx_tensor *dy;
    const gan_tensor *out = gan_net_output(net);
    gan_tensor dout;
    snprintf(check, sizeof check, "torch/%s/fixture", cas);
    dy = fx_need(fx, check, dy_name);
    if (!dy)
        return NULL;
    if (dy->count != gan_tensor_count(out)) {
        test_report(check, 0, "%s has %lu values, the output %lu", dy_name, (unsigned long)dy->count,
                    (unsigned long)gan_tensor_count(out));
        return NULL;
    }
    free(*buf);
    *buf = fx_floats(dy);
    dout = gan_tensor_make(*buf, out->n, out->c, out->h, out->w);
    gan_net_zero_grad(net);
    return gan_net_backward(net, &dout);
}

static void check_output(const char *cas, const fixture *fx, const gan_tensor *t, const char *want)
{
    char check[128];
    snprintf(check, sizeof check, "torch/%s/%s", cas, want);
    check_tensor(check, fx, want, t->data, gan_tensor_count(t), RTOL_NORM);
}

static void check_param_grads(const char *cas, gan_net *net, const fixture *fx, const char *suffix)
{
    char check[128], name[64];
    int i;
    for (i = 0; i < gan_net_param_count(net); i++) {
        gan_param p = gan_net_param(net, i);
        snprintf(name, sizeof name, "grad.%s%s", p.role, suffix);
        snprintf(check, sizeof check, "torch/%s/%s", cas, name);
        check_tensor(check, fx, name, p.grad, p.count, RTOL_NORM);
    }
}

static void test_batchnorm(const char *cas)
{
    char check[128], file[128];
    fixture fx;
    const fx_tensor *x1;
    const gan_tensor *t;
    gan_float *xb = NULL, *dyb = NULL;
    gan_layer layer;
    gan_net *net;
    snprintf(check, sizeof check, "torch/%s/fixture", cas);
    snprintf(file, sizeof file, "%s.txt", cas);
    if (!fx_load(&fx, check, file))
        return;
    x1 = fx_need(&fx, check, "x1");
    if (!x1) {
        fx_free(&fx);
        return;
    }
    layer = gan_batchnorm(x1->dims[1]);
    net = make_net(fx_sample_shape(x1), &layer, 1, x1->dims[0], check);
    if (net && load_params(net, &fx, cas)) {
        /* Training: batch statistics with the biased variance; running estimates updated. */
        if ((t = forward_fixture(net, &fx, cas, "x1", &xb)) != NULL) {
            check_output(cas, &fx, t, "y1");
            check_buffer(cas, net, &fx, "running_mean", "running_mean1");
            check_buffer(cas, net, &fx, "running_var", "running_var1");
            if ((t = backward_fixture(net, &fx, cas, "dy1", &dyb)) != NULL) {
                check_output(cas, &fx, t, "dx1");
                check_param_grads(cas, net, &fx, "1");
            }
        }
        if ((t = forward_fixture(net, &fx, cas, "x2", &xb)) != NULL) {
            check_output(cas, &fx, t, "y2");
            check_buffer(cas, net, &fx, "running_mean", "running_mean2");
            check_buffer(cas, net, &fx, "running_var", "running_var2");
        }
        /* Evaluation: the running estimates normalize, and the backward goes through them. */
        gan_net_set_training(net, 0);
        if ((t = forward_fixture(net, &fx, cas, "x3", &xb)) != NULL) {
            check_output(cas, &fx, t, "y3");
            if ((t = backward_fixture(net, &fx, cas, "dy3", &dyb)) != NULL) {
                check_output(cas, &fx, t, "dx3");
                check_param_grads(cas, net, &fx, "3");
            }
        }
    }
    free(xb);
    free(dyb);
    gan_net_free(net);
    fx_free(&fx);
}

/* ==== losses ==== */

static void check_loss(const char *cas, const fixture *fx, gan_float loss, const gan_float *grad, size_t n)
{
    char check[128], name[64];
    snprintf(name, sizeof name, "%s.loss", cas);
    snprintf(check, sizeof check, "torch/%s/loss", cas);
    check_tensor(check, fx, name, &loss, 1, RTOL_ELEMENTWISE);
    snprintf(name, sizeof name, "%s.grad", cas);
    snprintf(check, sizeof check, "torch/%s/grad", cas);
    check_tensor(check, fx, name, grad, n, RTOL_ELEMENTWISE);
}

static void test_losses(void)
{
    const char *fc = "torch/losses/fixture";
    fixture fx;
    const fx_tensor *x, *t, *xm, *tm;
    gan_float *xf, *tf, *xmf, *tmf, *grad;
    gan_float loss;
    size_t n;
    if (!fx_load(&fx, fc, "losses.txt"))
        return;
    x = fx_need(&fx, fc, "x");
    t = fx_need(&fx, fc, "t");
    xm = fx_need(&fx, fc, "xm");
    tm = fx_need(&fx, fc, "tm");
    if (!x || !t || !xm || !tm || x->count != t->count || xm->count != tm->count) {
        if (x && t && xm && tm)
            test_report(fc, 0, "inputs and targets differ in size");
        fx_free(&fx);
        return;
    }
    xf = fx_floats(x);
    tf = fx_floats(t);
    xmf = fx_floats(xm);
    tmf = fx_floats(tm);
    n = x->count > xm->count ? x->count : xm->count;
    grad = (gan_float *)malloc(n * sizeof *grad);

    loss = gan_bce_logits(grad, xf, tf, x->count);
    check_loss("bce", &fx, loss, grad, x->count);
    loss = gan_bce_logits_const(grad, xf, 1, x->count);
    check_loss("bce_t1", &fx, loss, grad, x->count);
    loss = gan_bce_logits_const(grad, xf, 0, x->count);
    check_loss("bce_t0", &fx, loss, grad, x->count);
    loss = gan_mse(grad, xmf, tmf, xm->count);
    check_loss("mse", &fx, loss, grad, xm->count);
    loss = gan_mse_const(grad, xmf, 1, xm->count);
    check_loss("mse_t1", &fx, loss, grad, xm->count);

    free(xf);
    free(tf);
    free(xmf);
    free(tmf);
    free(grad);
    fx_free(&fx);
}

/* ==== optimizers ==== */

/* config = kind lr momentum beta1 beta2 alpha eps weight_decay (make_fixtures.py's OPTIMIZERS). */
static gan_optim optim_from_config(const fx_tensor *c)
{
    gan_optim opt;
    gan_float lr = (gan_float)c->v[1];
    switch ((int)c->v[0]) {
    case 0:
        opt = gan_sgd(lr, (gan_float)c->v[2]);
        break;
    case 1:
        opt = gan_adam(lr, (gan_float)c->v[3], (gan_float)c->v[4]);
        break;
    default:
        opt = gan_rmsprop(lr, (gan_float)c->v[5]);
        break;
    }
    opt.momentum = (gan_float)c->v[2];
    opt.eps = (gan_float)c->v[6];
    opt.weight_decay = (gan_float)c->v[7];
    opt.step = 0;
    return opt;
}

/* Parameters after a step against PyTorch's, within RTOL_OPTIM of the largest distance travelled
   from w0 plus two float32 ulps of the parameters themselves. */
static void check_step(const char *check, const gan_float *w, const fx_tensor *want, const double *w0)
{
    double travelled = 0.0, size = max_abs(want->v, want->count);
    size_t i;
    for (i = 0; i < want->count; i++)
        if (fabs(want->v[i] - w0[i]) > travelled)
            travelled = fabs(want->v[i] - w0[i]);
    check_close(check, w, want->count, want->v, want->count, 1,
                RTOL_OPTIM * travelled + 2.0 * size * 1.1920929e-7);
}

static void test_optimizers(void)
{
    const char *fc = "torch/optim/fixture";
    fixture fx;
    const fx_tensor *w0, *g[3];
    gan_float *w = NULL, *m = NULL, *v = NULL, *gf[3] = {NULL, NULL, NULL};
    size_t n, k;
    int i, s, ran = 0;
    if (!fx_load(&fx, fc, "optim.txt"))
        return;
    w0 = fx_need(&fx, fc, "w0");
    g[0] = fx_need(&fx, fc, "g1");
    g[1] = fx_need(&fx, fc, "g2");
    g[2] = fx_need(&fx, fc, "g3");
    if (!w0 || !g[0] || !g[1] || !g[2])
        goto done;
    n = w0->count;
    w = (gan_float *)malloc(n * sizeof *w);
    m = (gan_float *)malloc(n * sizeof *m);
    v = (gan_float *)malloc(n * sizeof *v);
    for (s = 0; s < 3; s++)
        gf[s] = fx_floats(g[s]);
    for (i = 0; i < fx.n; i++) {
        const fx_tensor *cfg = &fx.t[i];
        size_t len = strlen(cfg->name);
        char opt_name[64], check[128], name[96];
        gan_optim opt;
        if (len < 8 || strcmp(cfg->name + len - 7, ".config") != 0 || cfg->count != 8)
            continue;
        memcpy(opt_name, cfg->name, len - 7);
        opt_name[len - 7] = '\0';
        opt = optim_from_config(cfg);
        for (k = 0; k < n; k++) {
            w[k] = (gan_float)w0->v[k];
            m[k] = v[k] = 0;
        }
        for (s = 0; s < 3; s++) {
            const fx_tensor *want;
            snprintf(name, sizeof name, "%s.w%d", opt_name, s + 1);
            snprintf(check, sizeof check, "torch/optim/%s/step%d", opt_name, s + 1);
            opt.step = s + 1;
            gan_optim_update(w, m, v, gf[s], &opt, n);
            want = fx_need(&fx, check, name);
            if (want)
                check_step(check, w, want, w0->v);
        }
        ran++;
    }
    if (!ran)
        test_report(fc, 0, "no optimizer configurations in %s", fx.path);
done:
    for (s = 0; s < 3; s++)
        free(gf[s]);
    free(w);
    free(m);
    free(v);
    fx_free(&fx);
}

/* gan_net_step on a Linear(3, 2): the same updates through the network's own optimizer state. */
static void test_net_step(void)
{
    const char *fc = "torch/net_step/fixture";
    const char *opts[2] = {"adamw", "sgd_momentum"};
    gan_layer layer = gan_linear(3, 2);
    fixture fx;
    gan_net *net;
    int o, s, i;
    if (!fx_load(&fx, fc, "net_step.txt"))
        return;
    net = make_net(gan_chw(3, 1, 1), &layer, 1, 1, fc);
    for (o = 0; net && o < 2; o++) {
        char name[96], check[128];
        const fx_tensor *cfg;
        snprintf(name, sizeof name, "%s.config", opts[o]);
        cfg = fx_need(&fx, fc, name);
        snprintf(check, sizeof check, "net_step/%s", opts[o]);
        if (!cfg || cfg->count != 8 || !load_params(net, &fx, check))
            break;
        gan_net_set_optim(net, optim_from_config(cfg));
        for (s = 1; s <= 3; s++) {
            gan_net_zero_grad(net);
            for (i = 0; i < gan_net_param_count(net); i++) {
                gan_param p = gan_net_param(net, i);
                const fx_tensor *g;
                size_t k;
                snprintf(name, sizeof name, "grad.%s%d", p.role, s);
                g = fx_need(&fx, fc, name);
                if (!g || g->count != p.count)
                    goto done;
                for (k = 0; k < p.count; k++)
                    p.grad[k] = (gan_float)g->v[k];
            }
            gan_net_step(net);
            for (i = 0; i < gan_net_param_count(net); i++) {
                gan_param p = gan_net_param(net, i);
                const fx_tensor *want, *w0 = fx_find(&fx, p.role);
                snprintf(name, sizeof name, "%s.%s%d", opts[o], p.role, s);
                snprintf(check, sizeof check, "torch/net_step/%s/%s/step%d", opts[o], p.role, s);
                want = fx_need(&fx, check, name);
                if (want && w0 && want->count == p.count)
                    check_step(check, p.data, want, w0->v);
            }
        }
    }
done:
    gan_net_free(net);
    fx_free(&fx);
}

/* ==== the reference DCGAN generator, end to end ==== */

/* Chris Wellons' lowbias32; hash_value repeats make_fixtures.py's hash_values exactly. */
static uint32_t mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

static double hash_value(uint32_t seed, size_t i, double scale, double offset)
{
    uint32_t h = mix32((uint32_t)i * 0x9E3779B9U + seed * 0x85EBCA6BU);
    return ((double)(h >> 8) / 16777216.0 - 0.5) * scale + offset;
}

static void hash_fill(gan_float *x, size_t n, const fx_tensor *gen)
{
    size_t i;
    for (i = 0; i < n; i++)
        x[i] = (gan_float)hash_value((uint32_t)gen->v[0], i, gen->v[1], gen->v[2]);
}

/* A tensor the fixture keeps as a summary: every stride-th value, and the sum of t * h with h from
   the hash, whose error is bounded by the per-element tolerance times sum |h| ~ count / 4, or
   more tightly by rtol times the sum of |t * h| when nothing cancels. */
static void check_summary(const char *check, const fixture *fx, const char *name, const gan_float *t,
                          size_t n)
{
    char sname[96], dcheck[160];
    const fx_tensor *sample = fx_need(fx, check, name), *sum;
    double dot = 0.0, tol;
    size_t i, stride;
    snprintf(sname, sizeof sname, "%s.sum", name);
    sum = fx_need(fx, check, sname);
    if (!sample || !sum || sum->count != 5)
        return;
    stride = (size_t)sum->v[0];
    tol = RTOL_DCGAN * sum->v[4];
    check_close(check, t, n, sample->v, sample->count, stride, tol);
    for (i = 0; i < n; i++)
        dot += (double)t[i] * hash_value((uint32_t)sum->v[1], i, 1.0, 0.0);
    snprintf(dcheck, sizeof dcheck, "%s.checksum", check);
    tol = RTOL_DCGAN * sum->v[3] + tol * sqrt((double)n);
    if (fx_verbose)
        printf("  %-44s |err| %.3g  tol %.3g  (%.2g of tol)\n", dcheck, fabs(dot - sum->v[2]), tol,
               fabs(dot - sum->v[2]) / tol);
    test_report(dcheck, fabs(dot - sum->v[2]) <= tol, "sum t*h = %.9g, PyTorch %.9g, tol %.3g", dot,
                sum->v[2], tol);
}

static void test_dcgan(void)
{
    const char *fc = "torch/dcgan/fixture";
    gan_layer layers[9];
    fixture fx;
    gan_net *net = NULL;
    const fx_tensor *z, *gz, *gdy, *want_y;
    const gan_tensor *y, *dx;
    gan_float *zf = NULL, *dyf = NULL;
    gan_tensor in, dout;
    char name[96], check[128];
    int i, same = 1;
    size_t k;
    if (!fx_load(&fx, fc, "dcgan.txt"))
        return;
    z = fx_need(&fx, fc, "z");
    gz = fx_need(&fx, fc, "gen.z");
    gdy = fx_need(&fx, fc, "gen.dy");
    want_y = fx_need(&fx, fc, "y");
    if (!z || !gz || !gdy || !want_y)
        goto done;

    /* The formula the weights come from must be the script's: z is both stored and generated. */
    for (k = 0; k < z->count; k++)
        same &= (gan_float)hash_value((uint32_t)gz->v[0], k, gz->v[1], gz->v[2]) == (gan_float)z->v[k];
    test_report("torch/dcgan/hash", same, "hash_value does not reproduce the stored z");

    layers[0] = gan_linear(100, 128 * 7 * 7);
    layers[1] = gan_batchnorm(128 * 7 * 7);
    layers[2] = gan_relu();
    layers[3] = gan_reshape(128, 7, 7);
    layers[4] = gan_conv_transpose2d(128, 64, 4, 2, 1, 0);
    layers[5] = gan_batchnorm(64);
    layers[6] = gan_relu();
    layers[7] = gan_conv_transpose2d(64, 1, 4, 2, 1, 0);
    layers[8] = gan_tanh();
    net = make_net(gan_chw(100, 1, 1), layers, 9, 4, fc);
    if (!net)
        goto done;
    for (i = 0; i < gan_net_param_count(net); i++) {
        gan_param p = gan_net_param(net, i);
        const fx_tensor *gen;
        snprintf(name, sizeof name, "gen.%d.%s", p.layer, p.role);
        gen = fx_need(&fx, "torch/dcgan/params", name);
        if (!gen)
            goto done;
        if (gen->count != 4 || (size_t)gen->v[3] != p.count) {
            test_report("torch/dcgan/params", 0, "%d.%s has %lu values, PyTorch's %.0f", p.layer, p.role,
                        (unsigned long)p.count, gen->v[3]);
            goto done;
        }
        hash_fill(p.data, p.count, gen);
    }
    test_report("torch/dcgan/params", gan_net_param_count(net) == 10, "%d parameter tensors, PyTorch 10",
                gan_net_param_count(net));

    zf = fx_floats(z);
    in = gan_tensor_make(zf, 4, 100, 1, 1);
    y = gan_net_forward(net, &in);
    check_out_shape("dcgan", y, want_y);
    if (gan_tensor_count(y) != want_y->count)
        goto done;
    check_tensor("torch/dcgan/y", &fx, "y", y->data, gan_tensor_count(y), RTOL_DCGAN);

    dyf = (gan_float *)malloc(gan_tensor_count(y) * sizeof *dyf);
    hash_fill(dyf, gan_tensor_count(y), gdy);
    dout = gan_tensor_make(dyf, y->n, y->c, y->h, y->w);
    gan_net_zero_grad(net);
    dx = gan_net_backward(net, &dout);
    check_tensor("torch/dcgan/dx", &fx, "dx", dx->data, gan_tensor_count(dx), RTOL_DCGAN);

    for (i = 0; i < gan_net_param_count(net); i++) {
        gan_param p = gan_net_param(net, i);
        snprintf(name, sizeof name, "grad.%d.%s", p.layer, p.role);
        snprintf(check, sizeof check, "torch/dcgan/%s", name);
        check_summary(check, &fx, name, p.grad, p.count);
    }
    for (i = 0; i < gan_net_buffer_count(net); i++) {
        gan_param b = gan_net_buffer(net, i);
        snprintf(name, sizeof name, "%d.%s", b.layer, b.role);
        snprintf(check, sizeof check, "torch/dcgan/%s", name);
        check_summary(check, &fx, name, b.data, b.count);
    }
done:
    free(zf);
    free(dyf);
    gan_net_free(net);
    fx_free(&fx);
}

int main(void)
{
    /* Line by line, so the results before a failed assertion still reach tests/run. */
    setvbuf(stdout, NULL, _IOLBF, BUFSIZ);
    fx_init_verbose();

    test_linear();
    test_conv("conv2d_k4s2p1", 0, 1);
    test_conv("conv2d_k3s2p1", 0, 1);
    test_conv("conv2d_k5s3p2", 0, 1);
    test_conv("conv2d_k4s2p1_nobias", 0, 0);
    test_conv("convt2d_k4s2p1", 1, 1);
    test_conv("convt2d_k3s2p1op1", 1, 1);
    test_batchnorm("batchnorm1d");
    test_batchnorm("batchnorm2d");
    test_layernorm();
    test_activations();
    test_losses();
    test_optimizers();
    test_net_step();
    test_dcgan();
    return test_finish();
}
