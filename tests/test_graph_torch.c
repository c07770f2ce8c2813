/* tests/test_graph_torch.c - gan.h's graph networks and gradient penalties give PyTorch's numbers:
   for the same weights, inputs and upstream gradient, each model's output, input gradients,
   parameter gradients and BatchNorm running statistics, and for a critic each penalty's value and
   parameter gradients (PyTorch's double backward), equal what PyTorch computed.

   The references are float64 PyTorch results written by tests/fixtures/make_graph_fixtures.py
   (its docstring defines the five models and every entry): graph_resblock.txt (SNGAN residual
   block: BatchNorm, upsampling, a shortcut joined by gan_add), graph_unet.txt (U-Net: strided and
   transposed convolutions, two skip concatenations), graph_projection.txt (projection
   discriminator: average pooling, Linear on a flattened image, Embedding of a label input,
   gan_inner; and its WGAN-GP penalty), graph_cgen.txt (conditional generator: Embedding joined to
   z by gan_concat, Reshape, BatchNorm without affine, per-class gamma and beta broadcast by gan_mul
   and gan_add) and penalty_critic.txt (a conv critic with LayerNorm and its WGAN-GP, one-sided
   WGAN-GP and R1 penalties). Inputs, parameters and dy are float32 values, so this float build
   loads them exactly and every difference is gan.h's own float32 rounding (or a bug).

   Each model is built with the graph API the way the PyTorch module is written, each node with
   parameters or statistics named with gan_name after its module, so gan_net_param(net, i).name and
   gan_net_buffer(net, i).name are the state_dict names. The state is loaded by those names: a
   gan.h name the fixture lacks, or a state_dict entry no gan.h parameter or buffer has, fails the
   "names" check of the model (the name scheme is part of what is tested), and each tensor's
   described shape must be PyTorch's ("param_shapes"). Then, in training mode (BatchNorm uses batch
   statistics): gan_net_forward_multi, y; gan_net_zero_grad and gan_net_backward_multi with the
   fixture's dy, the float inputs' gradients (a class label's must be 0: nothing flows into an
   index), every parameter's gradient, and every running statistic after the forward. For the
   critics, every penalty kind after gan_net_zero_grad: P and every parameter's gradient; the
   per-sample gradient norms ||dD(x_i)/dx_i|| from an ordinary backward of ones; and a critic step
   as training runs it, the loss's forward and backward and the penalty adding to the same
   gradients, in both orders.

   Run from the repository root, or point GAN_FIXTURES at the fixture directory. A missing fixture
   is a failure (they are committed). GAN_TEST_VERBOSE=1 prints every check's worst error beside
   its tolerance, and each fixture's closest margin.

   TOLERANCES (float32, unit roundoff u = 6e-8). Every tensor is compared relative to its largest
   |value| (these fixtures have no scale.<name> entries), with two exceptions:
     - a parameter gradient is compared relative to the largest |value| of its node's gradients,
       weight and bias together (node_scale). A bias gradient sums over the batch and positions the
       same dL/doutput that the weight gradient sums against the node's (O(1)) input, so the two
       share one rounding scale. This floor is what makes the exact zeros comparable: conv1.bias
       (resblock), down2.bias and up2.bias (unet) feed BatchNorm, so their gradients are 0 in exact
       arithmetic and the fixture holds ~1e-15 of round-off; the penalty gradients of ln.bias and
       fc.bias (critic) and of every bias of the projection critic are exactly 0 (dD/dx does not
       depend on them). Relative to their own largest |value| these would ask gan.h for 1e-15.
     - the penalty P, a scalar, is compared relative to itself.
   RTOL_GRAPH (y, input and parameter gradients), RTOL_STATS (running statistics after one forward:
   statistics accumulated in double, so only a ulp or two of storage and of the inputs' rounding)
   and RTOL_PENALTY (P, gradient norms, penalty gradients; a critic step takes their sum) sit 9x or
   more above the worst errors measured on these fixtures with gcc and clang at -O2, the sanitizer
   build, and clang -O3 -march=native -ffp-contract=fast (FMA): 0.044 of tol for RTOL_GRAPH (unet
   grad.down2.weight, 4.4e-7 of its scale), 0.11 for RTOL_STATS (cgen bn.running_mean, whose
   channel means are small beside the values they average), 0.11 for RTOL_PENALTY (the one-sided
   P, whose only term (n - 1)^2 at n = 1.16 magnifies the norm's rounding by n / (n - 1) ~ 7).
   They stay far below every mistake the checks are meant to catch, each of which was planted in a
   scratch copy of gan.h to confirm it fails here, by the factor shown (error / tolerance):
     - a wrong shape, stride, padding, broadcast or concatenation order is an O(1) error in y
       (swapping the unet's cat[u2, a1]: 1e3x on out.bias, 4e4x on y);
     - a dropped path of the sum rule where branches meet (the shortcut, a skip) is O(1) in dx and
       in the gradients upstream of the join (4e3x);
     - biased instead of unbiased running variance changes it by 0.1 var / (m - 1), m = 64..256
       values per channel here: 65x on resblock's bn2 (m = 256), up to 1800x on bn1;
     - in the penalty, LayerNorm's dual backward without its second-order term (the normalization
       treated as linear in x) changes c1's and c2's gradients by O(1) of their size (5e3x); its
       tangent half of dgamma left out changes ln.weight's (1.6e4x); a wrong coefficient inside
       the second-order term (3BC as 2BC) 200x; a Linear or convolution without the tangent
       adjoint's dW += dty tx^T loses the second-order part of every weight's gradient (4.7e3x);
       the one-sided penalty applied two-sided, or R1 without its 1/2, 6e4x and more.
   The same program compiled with -DGAN_DOUBLE (cc -DGAN_DOUBLE -std=c99 -O2
   tests/test_graph_torch.c -lm) compares with the RTOL_* of its GAN_DOUBLE branch, 1e-13: every
   check then passes with errors of 6e-15 of scale or less, so all the differences of the float
   build are float32 rounding, none an approximation in gan.h's algorithms (this float program is
   what make builds and runs). */
#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "fixture.h" /* fx_load, fx_find, fx_need, fx_floats, fx_sample_shape, max_abs, check_close */

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Worst measured (error / tolerance) beside each; see TOLERANCES. */
#ifdef GAN_DOUBLE
#define RTOL_GRAPH 1e-13   /* float64 against float64: 0.007 */
#define RTOL_STATS 1e-13   /* 0.003 */
#define RTOL_PENALTY 1e-13 /* 0.057 (the one-sided P) */
#else
#define RTOL_GRAPH 1e-5    /* y, input and parameter gradients: 0.044 (unet grad.down2.weight) */
#define RTOL_STATS 1e-6    /* running statistics after one forward: 0.11 (cgen bn.running_mean, FMA) */
#define RTOL_PENALTY 1e-5  /* P, gradient norms, penalty gradients: 0.11 (one-sided P, FMA; 0.03 without) */
#endif

#define MAX_INPUTS 2
#define BATCH 4 /* every fixture's N, and the networks' max_batch */

/* The closest margin of the current fixture: the check whose error came nearest its tolerance. */
static struct {
    double ratio, err, tol;
    char check[128];
} worst;

static void worst_reset(void)
{
    worst.ratio = -1;
    worst.check[0] = '\0';
}

static void worst_print(const char *cas)
{
    if (fx_verbose && worst.ratio >= 0)
        printf("  worst of %s: %s, max|err| %.3g, tol %.3g (%.2g of tol)\n", cas, worst.check, worst.err,
               worst.tol, worst.ratio);
}

/* check_close against a whole fixture tensor, keeping track of the fixture's closest margin. */
static void compare(const char *check, const gan_float *got, size_t n, const fx_tensor *want, double tol)
{
    double err = check_close(check, got, n, want->v, want->count, 1, tol);
    if (tol > 0 && err / tol > worst.ratio) {
        worst.ratio = err / tol;
        worst.err = err;
        worst.tol = tol;
        snprintf(worst.check, sizeof worst.check, "%s", check);
    }
}

/* <name> compared relative to its own largest |value|. */
static void compare_named(const char *check, const fixture *fx, const char *name, const gan_float *got, size_t n,
                          double rtol)
{
    const fx_tensor *want = fx_need(fx, check, name);
    if (want)
        compare(check, got, n, want, rtol * max_abs(want->v, want->count));
}

/* The largest |value| of <prefix><node>.weight and <prefix><node>.bias together, for parameter p
   named "<node>.<role>" (see TOLERANCES); 0 when the fixture has neither. */
static double node_scale(const fixture *fx, const char *prefix, const gan_param *p)
{
    char name[160], node[GAN_NAME_MAX + 16];
    const char *roles[2] = {"weight", "bias"};
    const char *dot = strrchr(p->name, '.');
    size_t len = dot ? (size_t)(dot - p->name) : strlen(p->name);
    const fx_tensor *t;
    double scale = 0;
    int r;
    memcpy(node, p->name, len);
    node[len] = '\0';
    for (r = 0; r < 2; r++) {
        snprintf(name, sizeof name, "%s%s.%s", prefix, node, roles[r]);
        if ((t = fx_find(fx, name)) != NULL && max_abs(t->v, t->count) > scale)
            scale = max_abs(t->v, t->count);
    }
    return scale;
}

/* The gradient <prefix><param name> of parameter p, relative to its node's scale. */
static void compare_grad(const char *check, const fixture *fx, const char *prefix, const gan_param *p,
                         const gan_float *got, double rtol)
{
    char name[160];
    const fx_tensor *want;
    snprintf(name, sizeof name, "%s%s", prefix, p->name);
    want = fx_need(fx, check, name);
    if (want)
        compare(check, got, p->count, want, rtol * node_scale(fx, prefix, p));
}

/* ==== building and loading ==== */

static gan_net *build(gan_graph *g, int batch, unsigned flags, const char *cas)
{
    char check[128];
    gan_rng rng;
    gan_net *net;
    gan_rng_seed(&rng, 7);
    net = g ? gan_net_build(g, batch, flags, &rng) : NULL;
    snprintf(check, sizeof check, "torch/%s/build", cas);
    test_report(check, net != NULL, "gan_net_build failed: %s", g ? gan_last_error() : "no graph");
    gan_graph_free(g);
    return net;
}

/* Entries of a fixture that are not state_dict entries (make_graph_fixtures.py's ENTRIES). */
static int is_state_entry(const char *name)
{
    const char *data[] = {"x", "z", "label", "dy", "y", "dx", "dz"};
    const char *prefixes[] = {"grad.", "after.", "gp.", "penalty.", "gnorm."};
    size_t i;
    for (i = 0; i < sizeof data / sizeof data[0]; i++)
        if (strcmp(name, data[i]) == 0)
            return 0;
    for (i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return 0;
    return 1;
}

/* Parameter (i < gan_net_param_count) or buffer i of the network, one index space over both. */
static gan_param state_tensor(gan_net *net, int i)
{
    int np = gan_net_param_count(net);
    return i < np ? gan_net_param(net, i) : gan_net_buffer(net, i - np);
}

/* Loads every parameter and running statistic by its name from the fixture; the names must match
   PyTorch's state_dict both ways ("<case>/names"), and each tensor's described shape must be
   PyTorch's ("<case>/param_shapes", separate so a wrong description does not stop the values). */
static int load_state(gan_net *net, const fixture *fx, const char *cas)
{
    char check[128], shapes[256] = "";
    int i, j, n = gan_net_param_count(net) + gan_net_buffer_count(net), matched = 0;
    snprintf(check, sizeof check, "torch/%s/names", cas);
    for (i = 0; i < n; i++) {
        gan_param p = state_tensor(net, i);
        const fx_tensor *t = fx_find(fx, p.name);
        if (!t || !is_state_entry(p.name)) {
            test_report(check, 0, "gan.h's network has \"%s\", PyTorch's state_dict does not", p.name);
            return 0;
        }
        if (!fx_copy_param(check, p.name, p, t, shapes, sizeof shapes)) return 0;
        matched++;
    }
    for (j = 0; j < fx->n; j++) {
        const char *name = fx->t[j].name;
        int found = 0;
        if (!is_state_entry(name))
            continue;
        for (i = 0; i < n && !found; i++)
            found = strcmp(state_tensor(net, i).name, name) == 0;
        if (!found) {
            test_report(check, 0, "PyTorch's state_dict has \"%s\", gan.h's network does not", name);
            return 0;
        }
    }
    test_report(check, matched > 0, "the network has no parameters");
    snprintf(check, sizeof check, "torch/%s/param_shapes", cas);
    test_report(check, !shapes[0], "%s", shapes);
    return 1;
}

/* The network's inputs from the fixture tensors names[0 .. n_inputs): xs[i] views bufs[i]. */
static int load_inputs(gan_net *net, const fixture *fx, const char *cas, const char *const *names, gan_tensor *xs,
                       gan_float **bufs)
{
    char check[128];
    int i;
    snprintf(check, sizeof check, "torch/%s/fixture", cas);
    for (i = 0; i < net->n_inputs; i++) {
        const fx_tensor *t = fx_need(fx, check, names[i]);
        gan_shape s = gan_net_input_shape(net, i);
        if (!t)
            return 0;
        if (t->count != (size_t)t->dims[0] * s.c * s.h * s.w || t->dims[0] > net->max_batch) {
            test_report(check, 0, "%s is not a batch of input %d's shape (%d, %d, %d)", names[i], i, s.c, s.h, s.w);
            return 0;
        }
        bufs[i] = fx_floats(t);
        if (!bufs[i]) {
            test_report(check, 0, "out of memory");
            return 0;
        }
        xs[i] = gan_tensor_make(bufs[i], t->dims[0], s.c, s.h, s.w);
    }
    return 1;
}

static void free_inputs(gan_float **bufs, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        free(bufs[i]);
        bufs[i] = NULL;
    }
}

/* ==== a forward and a backward ==== */

/* In training mode: y, then the gradients of L = sum(y * dy): grads[i] names input i's gradient in
   the fixture (NULL for a class label, whose gradient must be 0), grad.<param> every parameter's;
   and after.<buffer> every running statistic after the forward. */
static void forward_backward(gan_net *net, const fixture *fx, const char *cas, const gan_tensor *xs,
                             const char *const *grads)
{
    char check[256], name[160];
    const fx_tensor *want_y, *dy;
    const gan_tensor *y;
    gan_float *dyf = NULL;
    gan_tensor dout;
    gan_shape s;
    int i;

    snprintf(check, sizeof check, "torch/%s/fixture", cas);
    want_y = fx_need(fx, check, "y");
    dy = fx_need(fx, check, "dy");
    if (!want_y || !dy)
        return;
    gan_net_set_training(net, 1);
    snprintf(check, sizeof check, "torch/%s/forward", cas);
    if (!gan_net_forward_multi(net, xs)) {
        test_report(check, 0, "gan_net_forward_multi failed: %s", gan_last_error());
        return;
    }
    y = gan_net_output(net);
    s = fx_sample_shape(want_y);
    snprintf(check, sizeof check, "torch/%s/output_shape", cas);
    test_report(check, y->n == want_y->dims[0] && y->c == s.c && y->h == s.h && y->w == s.w,
                "got %dx%dx%dx%d, PyTorch %dx%dx%dx%d", y->n, y->c, y->h, y->w, want_y->dims[0], s.c, s.h, s.w);
    if (gan_tensor_count(y) != want_y->count || dy->count != want_y->count)
        return;
    snprintf(check, sizeof check, "torch/%s/y", cas);
    compare_named(check, fx, "y", y->data, gan_tensor_count(y), RTOL_GRAPH);

    /* The running statistics after this one training forward (0 and 1 before it). */
    for (i = 0; i < gan_net_buffer_count(net); i++) {
        gan_param b = gan_net_buffer(net, i);
        snprintf(name, sizeof name, "after.%s", b.name);
        snprintf(check, sizeof check, "torch/%s/%s", cas, name);
        compare_named(check, fx, name, b.data, b.count, RTOL_STATS);
    }

    dyf = fx_floats(dy);
    if (!dyf)
        return;
    dout = gan_tensor_make(dyf, y->n, y->c, y->h, y->w);
    gan_net_zero_grad(net);
    snprintf(check, sizeof check, "torch/%s/backward", cas);
    if (!gan_net_backward_multi(net, &dout, GAN_GRAD_PARAMS | GAN_GRAD_INPUTS)) {
        test_report(check, 0, "gan_net_backward_multi failed: %s", gan_last_error());
        free(dyf);
        return;
    }
    for (i = 0; i < net->n_inputs; i++) {
        const gan_tensor *dx = gan_net_input_grad(net, i);
        if (grads[i]) {
            snprintf(check, sizeof check, "torch/%s/%s", cas, grads[i]);
            compare_named(check, fx, grads[i], dx->data, gan_tensor_count(dx), RTOL_GRAPH);
        } else {
            size_t k, nonzero = 0, count = gan_tensor_count(dx);
            for (k = 0; k < count; k++)
                nonzero += dx->data[k] != 0;
            snprintf(check, sizeof check, "torch/%s/dinput%d_is_zero", cas, i);
            test_report(check, count == (size_t)xs[i].n && nonzero == 0,
                        "the class label input's gradient has %lu values, %lu of them not 0", (unsigned long)count,
                        (unsigned long)nonzero);
        }
    }
    for (i = 0; i < gan_net_param_count(net); i++) {
        gan_param p = gan_net_param(net, i);
        snprintf(check, sizeof check, "torch/%s/grad.%s", cas, p.name);
        compare_grad(check, fx, "grad.", &p, p.grad, RTOL_GRAPH);
    }
    free(dyf);
}

/* ==== gradient penalties ==== */

/* Per-sample norms of dD(x_i)/dx_i from an ordinary backward of dy = 1 (the input gradient only),
   against <gnorm>: the first half of the penalty, seen through the plain API. */
static void check_gnorm(gan_net *net, const fixture *fx, const char *cas, const gan_tensor *xs, const char *gnorm)
{
    char check[128];
    gan_float ones[BATCH], norms[BATCH];
    const gan_tensor *g;
    gan_tensor dy;
    int i, n = xs[0].n;
    size_t j, d;
    snprintf(check, sizeof check, "torch/%s/%s", cas, gnorm);
    if (!gan_net_forward_multi(net, xs)) {
        test_report(check, 0, "forward failed: %s", gan_last_error());
        return;
    }
    for (i = 0; i < n; i++)
        ones[i] = 1;
    dy = gan_tensor_make(ones, n, 1, 1, 1);
    if (!gan_net_backward_multi(net, &dy, GAN_GRAD_INPUTS)) {
        test_report(check, 0, "backward failed: %s", gan_last_error());
        return;
    }
    g = gan_net_input_grad(net, 0);
    d = gan_tensor_count(g) / (size_t)n;
    for (i = 0; i < n; i++) {
        double sq = 0;
        for (j = 0; j < d; j++)
            sq += (double)g->data[i * d + j] * g->data[i * d + j];
        norms[i] = (gan_float)sqrt(sq);
    }
    compare_named(check, fx, gnorm, norms, (size_t)n, RTOL_PENALTY);
}

/* One penalty kind at xs (input 0 differentiated, the others held fixed), after gan_net_zero_grad:
   P against <pen>, every parameter's gradient against <prefix><param>. */
static void check_penalty(gan_net *net, const fixture *fx, const char *cas, const gan_tensor *xs, const char *kind_name,
                          gan_penalty_kind kind, const char *pen, const char *prefix)
{
    char check[128];
    const fx_tensor *want;
    gan_float P = 0;
    int i;
    snprintf(check, sizeof check, "torch/%s/%s/penalty", cas, kind_name);
    gan_net_zero_grad(net);
    if (!gan_net_penalty(net, &P, xs, 0, kind, 10)) {
        test_report(check, 0, "gan_net_penalty failed: %s", gan_last_error());
        return;
    }
    if ((want = fx_need(fx, check, pen)) != NULL)
        compare(check, &P, 1, want, RTOL_PENALTY * fabs(want->v[0]));
    for (i = 0; i < gan_net_param_count(net); i++) {
        gan_param p = gan_net_param(net, i);
        snprintf(check, sizeof check, "torch/%s/%s/grad.%s", cas, kind_name, p.name);
        compare_grad(check, fx, prefix, &p, p.grad, RTOL_PENALTY);
    }
}

/* A critic step as training runs it: gan_net_zero_grad, then the loss's forward and backward (dy)
   and the penalty adding (+=) to the same gradients, in either order (penalty_first: the penalty,
   then the loss's forward and backward, which must not see the penalty's passes). Every parameter's
   gradient must be grad.<param> + <prefix><param>, within the sum of the two tolerances on the
   larger of the two tensors' node scales. */
static void check_loss_plus_penalty(gan_net *net, const fixture *fx, const char *cas, const gan_tensor *xs,
                                    gan_penalty_kind kind, const char *prefix, int penalty_first)
{
    const char *what = penalty_first ? "penalty_then_loss" : "loss_then_penalty";
    char check[128], name[256];
    const fx_tensor *dy;
    gan_float *dyf, P;
    gan_tensor dout;
    int i, ok;
    snprintf(check, sizeof check, "torch/%s/%s", cas, what);
    dy = fx_need(fx, check, "dy");
    if (!dy || (dyf = fx_floats(dy)) == NULL)
        return;
    gan_net_zero_grad(net);
    dout = gan_tensor_make(dyf, xs[0].n, 1, 1, 1);
    ok = !penalty_first || gan_net_penalty(net, &P, xs, 0, kind, 10);
    ok = ok && gan_net_forward_multi(net, xs) && gan_net_backward_multi(net, &dout, GAN_GRAD_PARAMS);
    ok = ok && (penalty_first || gan_net_penalty(net, &P, xs, 0, kind, 10));
    if (!ok) {
        test_report(check, 0, "failed: %s", gan_last_error());
        free(dyf);
        return;
    }
    for (i = 0; i < gan_net_param_count(net); i++) {
        gan_param p = gan_net_param(net, i);
        const fx_tensor *loss, *pen;
        fx_tensor want;
        double s_loss, s_pen;
        size_t k;
        snprintf(name, sizeof name, "grad.%s", p.name);
        loss = fx_need(fx, check, name);
        snprintf(name, sizeof name, "%s%s", prefix, p.name);
        pen = fx_need(fx, check, name);
        if (!loss || !pen)
            break;
        if (loss->count != p.count || pen->count != p.count) {
            test_report(check, 0, "%s has %lu values, the fixture's gradients %lu and %lu", p.name,
                        (unsigned long)p.count, (unsigned long)loss->count, (unsigned long)pen->count);
            break;
        }
        memset(&want, 0, sizeof want);
        want.count = p.count;
        want.v = (double *)malloc(p.count * sizeof *want.v);
        if (!want.v)
            break;
        for (k = 0; k < p.count; k++)
            want.v[k] = loss->v[k] + pen->v[k];
        /* the node scales of compare_grad: a bias whose penalty gradient is 0 keeps its weight's */
        s_loss = node_scale(fx, "grad.", &p);
        s_pen = node_scale(fx, prefix, &p);
        snprintf(name, sizeof name, "torch/%s/%s/grad.%s", cas, what, p.name);
        compare(name, p.grad, p.count, &want, (RTOL_GRAPH + RTOL_PENALTY) * (s_loss > s_pen ? s_loss : s_pen));
        free(want.v);
    }
    free(dyf);
}

/* ==== the five models ==== */

static gan_node named(gan_graph *g, gan_node x, gan_layer layer, const char *name)
{
    gan_node y = gan_apply(g, layer, x);
    gan_name(g, y, name);
    return y;
}

/* One penalty kind of a critic fixture: its name in check names, and the fixture's names of P, the
   gradient norms and the prefix of the parameter gradients. */
typedef struct penalty_case {
    const char *kind_name;
    gan_penalty_kind kind;
    const char *pen, *gnorm, *prefix;
} penalty_case;

/* One fixture's model, from graph g (freed here): built with flags, the state loaded by name, then
   a forward and a backward with the inputs named by inputs[] (their gradients by grads[]). A critic
   (n_kinds > 0) is then checked for each penalty kind, and for a critic step in both orders. */
static void run_model(const char *cas, gan_graph *g, unsigned flags, const char *const *inputs,
                      const char *const *grads, const penalty_case *kinds, int n_kinds)
{
    char check[128], file[128];
    fixture fx;
    gan_net *net;
    gan_tensor xs[MAX_INPUTS];
    gan_float *bufs[MAX_INPUTS] = {NULL, NULL};
    int k;
    snprintf(check, sizeof check, "torch/%s/fixture", cas);
    snprintf(file, sizeof file, "%s.txt", cas);
    if (!fx_load(&fx, check, file)) {
        gan_graph_free(g);
        return;
    }
    worst_reset();
    net = build(g, BATCH, flags, cas);
    if (net && net->n_inputs <= MAX_INPUTS && load_state(net, &fx, cas) &&
        load_inputs(net, &fx, cas, inputs, xs, bufs)) {
        forward_backward(net, &fx, cas, xs, grads);
        for (k = 0; k < n_kinds; k++) {
            check_gnorm(net, &fx, cas, xs, kinds[k].gnorm);
            check_penalty(net, &fx, cas, xs, kinds[k].kind_name, kinds[k].kind, kinds[k].pen, kinds[k].prefix);
        }
        for (k = 0; n_kinds > 0 && k < 2; k++)
            check_loss_plus_penalty(net, &fx, cas, xs, kinds[0].kind, kinds[0].prefix, k);
    }
    worst_print(cas);
    free_inputs(bufs, MAX_INPUTS);
    gan_net_free(net);
    fx_free(&fx);
}

/* y = conv2(relu(bn2(conv1(up(relu(bn1(x))))))) + sc(up(x)) */
static void test_resblock(void)
{
    const char *inputs[] = {"x"}, *grads[] = {"dx"};
    gan_graph *g = gan_graph_new();
    gan_node x, h, s;
    if (!g)
        return;
    x = gan_input(g, gan_chw(6, 4, 4));
    h = named(g, x, gan_batchnorm(6), "bn1");
    h = gan_apply(g, gan_relu(), h);
    h = gan_apply(g, gan_upsample2x(), h);
    h = named(g, h, gan_conv2d(6, 4, 3, 1, 1), "conv1");
    h = named(g, h, gan_batchnorm(4), "bn2");
    h = gan_apply(g, gan_relu(), h);
    h = named(g, h, gan_conv2d(4, 4, 3, 1, 1), "conv2");
    s = gan_apply(g, gan_upsample2x(), x);
    s = named(g, s, gan_conv2d(6, 4, 1, 1, 0), "sc");
    gan_output(g, gan_add(g, h, s));
    run_model("graph_resblock", g, 0, inputs, grads, NULL, 0);
}

/* a1 = lrelu(down1(x)); a2 = lrelu(bn_d2(down2(a1))); u2 = relu(bn_u2(up2(a2)));
   u1 = relu(up1(cat[u2, a1])); y = tanh(out(cat[u1, x])) */
static void test_unet(void)
{
    const char *inputs[] = {"x"}, *grads[] = {"dx"};
    gan_graph *g = gan_graph_new();
    gan_node x, a1, a2, u2, u1, cat[2], y;
    if (!g)
        return;
    x = gan_input(g, gan_chw(2, 8, 8));
    a1 = named(g, x, gan_conv2d(2, 4, 4, 2, 1), "down1");
    a1 = gan_apply(g, gan_leaky_relu((gan_float)0.2), a1);
    a2 = named(g, a1, gan_conv2d(4, 8, 4, 2, 1), "down2");
    a2 = named(g, a2, gan_batchnorm(8), "bn_d2");
    a2 = gan_apply(g, gan_leaky_relu((gan_float)0.2), a2);
    u2 = named(g, a2, gan_conv_transpose2d(8, 4, 4, 2, 1, 0), "up2");
    u2 = named(g, u2, gan_batchnorm(4), "bn_u2");
    u2 = gan_apply(g, gan_relu(), u2);
    cat[0] = u2;
    cat[1] = a1;
    u1 = named(g, gan_concat(g, cat, 2), gan_conv_transpose2d(8, 4, 4, 2, 1, 0), "up1");
    u1 = gan_apply(g, gan_relu(), u1);
    cat[0] = u1;
    cat[1] = x;
    y = named(g, gan_concat(g, cat, 2), gan_conv2d(6, 2, 1, 1, 0), "out");
    gan_output(g, gan_apply(g, gan_tanh(), y));
    run_model("graph_unet", g, 0, inputs, grads, NULL, 0);
}

/* h = avgpool2(lrelu(c1(x))); h = avgpool2(lrelu(c2(h))); h = relu(fc(flatten h));
   y = psi(h) + <embed(label), h> */
static void test_projection(void)
{
    const char *inputs[] = {"x", "label"}, *grads[] = {"dx", NULL};
    const penalty_case gp = {"wgan_gp", GAN_PENALTY_WGAN_GP, "gp.penalty", "gp.gnorm", "gp.grad."};
    gan_graph *g = gan_graph_new();
    gan_node x, label, h, e;
    if (!g)
        return;
    x = gan_input(g, gan_chw(1, 8, 8));
    label = gan_input(g, gan_chw(1, 1, 1));
    h = named(g, x, gan_conv2d(1, 4, 3, 1, 1), "c1");
    h = gan_apply(g, gan_leaky_relu((gan_float)0.2), h);
    h = gan_apply(g, gan_avgpool2x(), h);
    h = named(g, h, gan_conv2d(4, 8, 3, 1, 1), "c2");
    h = gan_apply(g, gan_leaky_relu((gan_float)0.2), h);
    h = gan_apply(g, gan_avgpool2x(), h);
    h = gan_apply(g, gan_flatten(), h);
    h = named(g, h, gan_linear(32, 16), "fc");
    h = gan_apply(g, gan_relu(), h);
    e = named(g, label, gan_embedding(5, 16), "embed");
    gan_output(g, gan_add(g, named(g, h, gan_linear(16, 1), "psi"), gan_inner(g, e, h)));
    run_model("graph_projection", g, GAN_BUILD_PENALTY, inputs, grads, &gp, 1);
}

/* h = fc(cat[z, label_emb(label)]).view(4, 4, 4); h = relu(bn(h) * gamma(label) + beta(label));
   y = tanh(conv(up(h))) */
static void test_cgen(void)
{
    const char *inputs[] = {"z", "label"}, *grads[] = {"dz", NULL};
    gan_graph *g = gan_graph_new();
    gan_node z, label, cat[2], h;
    if (!g)
        return;
    z = gan_input(g, gan_chw(8, 1, 1));
    label = gan_input(g, gan_chw(1, 1, 1));
    cat[0] = z;
    cat[1] = named(g, label, gan_embedding(5, 3), "label_emb");
    h = named(g, gan_concat(g, cat, 2), gan_linear(11, 64), "fc");
    h = gan_apply(g, gan_reshape(4, 4, 4), h);
    h = named(g, h, gan_no_affine(gan_batchnorm(4)), "bn");
    h = gan_mul(g, h, named(g, label, gan_embedding(5, 4), "gamma"));
    h = gan_add(g, h, named(g, label, gan_embedding(5, 4), "beta"));
    h = gan_apply(g, gan_relu(), h);
    h = gan_apply(g, gan_upsample2x(), h);
    h = named(g, h, gan_conv2d(4, 1, 3, 1, 1), "conv");
    gan_output(g, gan_apply(g, gan_tanh(), h));
    run_model("graph_cgen", g, 0, inputs, grads, NULL, 0);
}

/* D(x) = fc(flatten lrelu(ln(c2(lrelu(c1(x)))))) */
static void test_critic(void)
{
    const char *inputs[] = {"x"}, *grads[] = {"dx"};
    const penalty_case kinds[3] = {
        {"wgan_gp", GAN_PENALTY_WGAN_GP, "penalty.wgan_gp", "gnorm.wgan_gp", "grad.wgan_gp."},
        {"wgan_gp_one_sided", GAN_PENALTY_WGAN_GP_ONE_SIDED, "penalty.wgan_gp_one_sided", "gnorm.wgan_gp_one_sided",
         "grad.wgan_gp_one_sided."},
        {"r1", GAN_PENALTY_R1, "penalty.r1", "gnorm.r1", "grad.r1."}};
    gan_graph *g = gan_graph_new();
    gan_node h;
    if (!g)
        return;
    h = gan_input(g, gan_chw(1, 8, 8));
    h = named(g, h, gan_conv2d(1, 4, 4, 2, 1), "c1");
    h = gan_apply(g, gan_leaky_relu((gan_float)0.2), h);
    h = named(g, h, gan_conv2d(4, 8, 4, 2, 1), "c2");
    h = named(g, h, gan_layernorm(), "ln");
    h = gan_apply(g, gan_leaky_relu((gan_float)0.2), h);
    h = gan_apply(g, gan_flatten(), h);
    gan_output(g, named(g, h, gan_linear(32, 1), "fc"));
    run_model("penalty_critic", g, GAN_BUILD_PENALTY, inputs, grads, kinds, 3);
}

int main(void)
{
    /* Line by line, so the results before a failed assertion still reach tests/run. */
    setvbuf(stdout, NULL, _IOLBF, BUFSIZ);
    fx_init_verbose();

    test_resblock();
    test_unet();
    test_projection();
    test_cgen();
    test_critic();
    return test_finish();
}
