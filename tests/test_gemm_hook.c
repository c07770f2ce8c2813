/* tests/test_gemm_hook.c - GAN_GEMM: the layers call the GEMM the user names, so another one (an
   adapter to a BLAS, say) can stand in. Here the stand-in is gan_gemm_naive behind a counter: the
   counter proves every Linear, Conv2d and ConvTranspose2d product went through it, and the results
   must agree with the default build's (gan_gemm) to float rounding. */
#include <stddef.h>

static long hook_calls;

/* The stb way: the declarations first, then the stand-in's prototype (it needs gan_float), then
   the implementation, which calls it. */
#include "../gan.h"
static void counting_gemm(int ta, int tb, int M, int N, int K, gan_float alpha, const gan_float *A, int lda,
                          const gan_float *B, int ldb, gan_float beta, gan_float *C, int ldc);
#define GAN_GEMM counting_gemm
#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "test.h"

#include <math.h>

static void counting_gemm(int ta, int tb, int M, int N, int K, gan_float alpha, const gan_float *A, int lda,
                          const gan_float *B, int ldb, gan_float beta, gan_float *C, int ldc)
{
    hook_calls++;
    gan_gemm_naive(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

int main(void)
{
    gan_rng rng;
    gan_layer layers[5];
    gan_net *net;
    gan_float x[2 * 1 * 6 * 6], dy[2 * 3];
    const gan_tensor *y;
    gan_tensor xt, dyt;
    long after_forward, after_backward;
    int i;
    gan_rng_seed(&rng, 5);
    layers[0] = gan_conv2d(1, 2, 3, 2, 1);            /* (2, 3, 3) */
    layers[1] = gan_conv_transpose2d(2, 1, 4, 2, 1, 0); /* (1, 6, 6) */
    layers[2] = gan_flatten();
    layers[3] = gan_linear(36, 3);
    layers[4] = gan_tanh();
    net = gan_net_create(gan_chw(1, 6, 6), layers, 5, 2, &rng);
    gan_fill_normal(x, 72, 0, 1, &rng);
    gan_fill_normal(dy, 6, 0, 1, &rng);
    xt = gan_tensor_make(x, 2, 1, 6, 6);
    dyt = gan_tensor_make(dy, 2, 3, 1, 1);
    hook_calls = 0;
    y = gan_net_forward(net, &xt);
    after_forward = hook_calls;
    /* forward: one GEMM each, the convolutions taking both samples at once (a chunk) */
    test_report("gemm_hook: forward goes through GAN_GEMM", after_forward == 1 + 1 + 1, "%ld calls", after_forward);
    gan_net_backward(net, &dyt);
    after_backward = hook_calls - after_forward;
    /* backward: dW and dx of each, the convolutions' for both samples at once */
    test_report("gemm_hook: backward goes through GAN_GEMM", after_backward == 2 + 2 + 2, "%ld calls", after_backward);
    {
        /* Linear's output by hand from its weights, the flattened input it saw, and gan_gemm. */
        gan_layer *lin = gan_net_layer(net, 3);
        gan_float ref[6];
        double worst = 0;
        gan_gemm(0, 1, 2, 3, 36, 1, gan_net_layer_output(net, 2)->data, 36, lin->W, 36, 0, ref, 3);
        for (i = 0; i < 6; i++) {
            double want = tanh(ref[i % 6] + lin->b[i % 3]);
            if (fabs(want - y->data[i]) > worst) worst = fabs(want - y->data[i]);
        }
        test_report("gemm_hook: results equal the default GEMM's", worst < 1e-5, "worst difference %g", worst);
    }
    gan_net_free(net);
    return test_finish();
}
