/* tests/bits_check.c - one small training run whose result must be the same bits whichever compiler,
   language and flags build it. tests/run compiles it with gcc -std=c99 -O2, gcc -std=gnu99 -O2
   -march=native, g++ -O2 -march=native, clang -std=c99 -O2 -march=native and clang++ -O3
   -march=native and requires the same output from all: gan.h settles floating-point contraction
   itself, so neither GNU mode, C++ nor an FMA-capable -march may change a bit.

   For the baseline kernels and for those GAN_ISA_AUTO picks, on two threads, it prints the kernel
   set's name and a 64-bit FNV-1a hash of G's and D's parameters and running statistics, the losses
   and G's last output after a few steps of a small GAN: G a DCGAN generator (ConvTranspose2d,
   BatchNorm, ReLU, Tanh, Adam), D a critic (Conv2d, LeakyReLU, LayerNorm, Dropout, Linear, RMSProp
   with momentum) with an R1 penalty. All the arithmetic is gan.h's: this file only moves bits. */
#define GAN_IMPLEMENTATION
#include "../gan.h"

#include <stdio.h>
#include <string.h>

enum { N = 8, Z = 8, STEPS = 3 };

static uint64_t fnv1a(uint64_t h, const void *p, size_t bytes)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < bytes; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t hash_net(uint64_t h, gan_net *net)
{
    int i;
    for (i = 0; i < gan_net_param_count(net); i++) {
        gan_param p = gan_net_param(net, i);
        h = fnv1a(h, p.data, p.count * sizeof(gan_float));
    }
    for (i = 0; i < gan_net_buffer_count(net); i++) {
        gan_param p = gan_net_buffer(net, i);
        h = fnv1a(h, p.data, p.count * sizeof(gan_float));
    }
    return h;
}

/* One training run with the kernels in use; 0 if a network could not be built. */
static int train(uint64_t *hash)
{
    static gan_float z[N * Z], real[N * 256], dl[N];
    gan_layer G[8], D[8];
    gan_graph *graph;
    gan_net *g, *d;
    gan_rng rng;
    gan_tensor zt = gan_tensor_make(z, N, Z, 1, 1), rt = gan_tensor_make(real, N, 1, 16, 16);
    gan_tensor dlt = gan_tensor_make(dl, N, 1, 1, 1);
    gan_optim rms = gan_rmsprop(1e-3f, 0.9f);
    uint64_t h = 14695981039346656037ULL;
    int step;

    G[0] = gan_conv_transpose2d(Z, 32, 4, 1, 0, 0); /* 1x1 -> 4x4 */
    G[1] = gan_batchnorm(32);
    G[2] = gan_relu();
    G[3] = gan_conv_transpose2d(32, 16, 4, 2, 1, 0); /* 8x8 */
    G[4] = gan_batchnorm(16);
    G[5] = gan_relu();
    G[6] = gan_conv_transpose2d(16, 1, 4, 2, 1, 0); /* 16x16 */
    G[7] = gan_tanh();
    D[0] = gan_conv2d(1, 16, 4, 2, 1); /* 8x8 */
    D[1] = gan_leaky_relu(0.2f);
    D[2] = gan_conv2d(16, 32, 4, 2, 1); /* 4x4 */
    D[3] = gan_layernorm();
    D[4] = gan_leaky_relu(0.2f);
    D[5] = gan_dropout(0.25f);
    D[6] = gan_flatten();
    D[7] = gan_linear(32 * 16, 1);
    gan_rng_seed(&rng, 2024);
    g = gan_net_create(gan_chw(Z, 1, 1), G, 8, N, &rng);
    graph = gan_graph_new();
    if (!graph) return 0;
    gan_chain(graph, gan_input(graph, gan_chw(1, 16, 16)), D, 8);
    d = gan_net_build(graph, N, GAN_BUILD_PENALTY, &rng);
    gan_graph_free(graph);
    if (!g || !d) {
        printf("could not build the networks: %s\n", gan_last_error());
        gan_net_free(g);
        gan_net_free(d);
        return 0;
    }
    gan_net_set_optim(g, gan_adam(2e-4f, 0.5f, 0.999f));
    rms.momentum = 0.5f;
    gan_net_set_optim(d, rms);
    gan_fill_uniform(real, N * 256, -1, 1, &rng);

    for (step = 0; step < STEPS; step++) {
        const gan_tensor *fake, *out;
        gan_float loss[4];
        gan_fill_normal(z, N * Z, 0, 1, &rng);
        fake = gan_net_forward(g, &zt);

        gan_net_zero_grad(d);
        out = gan_net_forward(d, &rt);
        loss[0] = gan_bce_logits_const(dl, out->data, 1, N);
        gan_net_backward(d, &dlt);
        out = gan_net_forward(d, fake);
        loss[1] = gan_bce_logits_const(dl, out->data, 0, N);
        gan_net_backward(d, &dlt);
        gan_net_set_training(d, 0); /* the penalty passes no Dropout in training mode */
        if (!gan_net_penalty(d, &loss[2], &rt, 0, GAN_PENALTY_R1, 10)) {
            printf("penalty refused: %s\n", gan_last_error());
            return 0;
        }
        gan_net_set_training(d, 1);
        gan_net_step(d);

        gan_net_zero_grad(g);
        out = gan_net_forward(d, fake);
        loss[3] = gan_bce_logits_const(dl, out->data, 1, N);
        gan_net_backward(g, gan_net_backward_input(d, &dlt));
        gan_net_step(g);
        h = fnv1a(h, loss, sizeof loss);
    }
    h = fnv1a(h, gan_net_forward(g, &zt)->data, (size_t)N * 256 * sizeof(gan_float));
    h = hash_net(h, g);
    h = hash_net(h, d);
    gan_net_free(g);
    gan_net_free(d);
    *hash = h;
    return 1;
}

int main(void)
{
    const gan_isa isas[2] = { GAN_ISA_BASELINE, GAN_ISA_AUTO };
    int k;
    gan_set_threads(2);
    for (k = 0; k < 2; k++) {
        uint64_t h = 0;
        if (!gan_set_isa(isas[k]) || !train(&h)) return 1;
        printf("%-8s %016llx\n", gan_isa_name(gan_isa_in_use()), (unsigned long long)h);
    }
    return 0;
}
