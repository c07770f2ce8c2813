/* tests/test_activations.c - ReLU and LeakyReLU are written in a branch-free form for speed (see
   gan.h); they must still be exactly the plain formulas, value for value, including 0, -0, the
   infinities and tiny numbers, and they must pass NaN on (as PyTorch does) so that a diverged
   network shows in its loss instead of being hidden by an activation. */
#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "test.h"

#include <float.h>
#include <math.h>

#define N 4099 /* odd, so no loop can silently assume a multiple of a vector width */

static gan_float plain_leaky(gan_float x, gan_float slope) { return x > 0 ? x : slope * x; }

int main(void)
{
    static gan_float x[N], dy[N], want[N];
    gan_rng rng;
    gan_layer relu_l = gan_relu(), leaky_l = gan_leaky_relu((gan_float)0.2);
    gan_net *relu, *leaky;
    const gan_tensor *y, *dx;
    gan_tensor xt, dyt;
    int i, bad, nan_in, nan_out;

    gan_rng_seed(&rng, 11);
    gan_fill_normal(x, N, 0, 1, &rng);
    gan_fill_normal(dy, N, 0, 1, &rng);
    x[0] = 0;
    x[1] = -(gan_float)0;
    x[2] = (gan_float)HUGE_VAL;
    x[3] = -(gan_float)HUGE_VAL;
    x[4] = FLT_MIN / 4; /* subnormal */
    x[5] = -FLT_MIN / 4;
    x[6] = (gan_float)NAN;
    relu = gan_net_create(gan_chw(N, 1, 1), &relu_l, 1, 1, &rng);
    leaky = gan_net_create(gan_chw(N, 1, 1), &leaky_l, 1, 1, &rng);
    xt = gan_tensor_make(x, 1, N, 1, 1);
    dyt = gan_tensor_make(dy, 1, N, 1, 1);

    /* ReLU forward: max(x, 0) for numbers, NaN for NaN */
    y = gan_net_forward(relu, &xt);
    for (i = 0, bad = 0; i < N; i++) {
        if (x[i] != x[i]) bad += y->data[i] == y->data[i];
        else bad += y->data[i] != (x[i] > 0 ? x[i] : 0);
    }
    test_report("activations: ReLU forward is max(x, 0) and keeps NaN", bad == 0, "%d values differ", bad);
    /* ReLU backward: dy where x > 0, else 0 */
    dx = gan_net_backward(relu, &dyt);
    for (i = 0, bad = 0; i < N; i++) bad += dx->data[i] != (x[i] > 0 ? dy[i] : 0);
    test_report("activations: ReLU backward is dy where x > 0, else 0", bad == 0, "%d values differ", bad);

    /* LeakyReLU forward: x or slope x, bitwise, and NaN for NaN */
    y = gan_net_forward(leaky, &xt);
    for (i = 0; i < N; i++) want[i] = plain_leaky(x[i], (gan_float)0.2);
    for (i = 0, bad = 0; i < N; i++) {
        if (x[i] != x[i]) bad += y->data[i] == y->data[i];
        else bad += y->data[i] != want[i];
    }
    test_report("activations: LeakyReLU forward is x or slope x, bitwise, and keeps NaN", bad == 0,
                "%d values differ", bad);
    /* LeakyReLU backward: dy or slope dy (the slope at 0, as PyTorch) */
    dx = gan_net_backward(leaky, &dyt);
    for (i = 0, bad = 0; i < N; i++) {
        if (x[i] != x[i]) continue; /* the derivative at NaN is not defined */
        bad += dx->data[i] != (x[i] > 0 ? dy[i] : (gan_float)0.2 * dy[i]);
    }
    test_report("activations: LeakyReLU backward is dy or slope dy, bitwise", bad == 0, "%d values differ", bad);

    /* NaN in a weight reaches the loss through a whole network. */
    {
        gan_layer L[4];
        gan_net *net;
        gan_float in[3] = { 1, 2, 3 };
        gan_tensor t = gan_tensor_make(in, 1, 3, 1, 1);
        L[0] = gan_linear(3, 4);
        L[1] = gan_relu();
        L[2] = gan_linear(4, 2);
        L[3] = gan_leaky_relu((gan_float)0.2);
        net = gan_net_create(gan_chw(3, 1, 1), L, 4, 1, &rng);
        net->layers[0].W[0] = (gan_float)NAN;
        y = gan_net_forward(net, &t);
        nan_in = y->data[0] != y->data[0] && y->data[1] != y->data[1];
        net->layers[0].W[0] = 1;
        y = gan_net_forward(net, &t);
        nan_out = y->data[0] == y->data[0] && y->data[1] == y->data[1];
        test_report("activations: a NaN weight makes the output NaN (and a finite one does not)",
                    nan_in && nan_out, "NaN reached the output: %d; finite output after repair: %d", nan_in, nan_out);
        gan_net_free(net);
    }
    gan_net_free(relu);
    gan_net_free(leaky);
    return test_finish();
}
