/* tests/test_share.c - gan_net_share_scratch: networks that keep their call-local memory (backward's
   gradients, sampling, the penalty's passes, the kernels' scratch) in one block compute exactly what
   they compute apart.

   Two copies of one small WGAN-GP setup (G with BatchNorm and a transposed convolution, a critic with
   LayerNorm built for the penalty, and an EMA-style third network) are built from the same seed. In
   copy A all three share one block; copy B keeps its own. Both run the same explicit steps - critic
   on real and fake, the penalty, G's step through the critic's dL/dinput (handed over inside the
   shared block), sampling from the third network in between - and every parameter and statistic
   must stay bitwise equal. The block must really be one: in copy A a sample drawn after the critic's
   backward overwrites the critic's dL/dinput, in copy B it does not. Freeing the networks in any
   order leaves the others working. */
#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

#define BATCH 4
#define LATENT 8
#define STEPS 3

typedef struct setup {
    gan_net *G, *C, *E; /* generator, critic, a second generator sampled between steps */
} setup;

static gan_net *make_G(gan_rng *rng)
{
    gan_layer L[9];
    L[0] = gan_linear(LATENT, 8 * 3 * 3);
    L[1] = gan_batchnorm(8 * 3 * 3);
    L[2] = gan_relu();
    L[3] = gan_reshape(8, 3, 3);
    L[4] = gan_conv_transpose2d(8, 4, 4, 2, 1, 0);
    L[5] = gan_batchnorm(4);
    L[6] = gan_relu();
    L[7] = gan_conv_transpose2d(4, 1, 4, 2, 1, 0);
    L[8] = gan_tanh();
    return gan_net_create(gan_chw(LATENT, 1, 1), L, GAN_COUNT(L), BATCH, rng);
}

static gan_net *make_C(gan_rng *rng)
{
    gan_layer L[7];
    gan_graph *g = gan_graph_new();
    gan_net *C;
    L[0] = gan_conv2d(1, 4, 4, 2, 1);
    L[1] = gan_leaky_relu((gan_float)0.2);
    L[2] = gan_conv2d(4, 8, 4, 2, 1);
    L[3] = gan_layernorm();
    L[4] = gan_leaky_relu((gan_float)0.2);
    L[5] = gan_flatten();
    L[6] = gan_linear(8 * 3 * 3, 1);
    if (!g) return NULL;
    gan_chain(g, gan_input(g, gan_chw(1, 12, 12)), L, GAN_COUNT(L));
    C = gan_net_build(g, BATCH, GAN_BUILD_PENALTY, rng);
    gan_graph_free(g);
    return C;
}

static int make_setup(setup *s, uint64_t seed)
{
    gan_rng rng;
    gan_rng_seed(&rng, seed);
    s->G = make_G(&rng);
    s->C = make_C(&rng);
    s->E = make_G(&rng);
    if (!s->G || !s->C || !s->E) return 0;
    gan_net_set_optim(s->G, gan_adam((gan_float)1e-3, 0, (gan_float)0.9));
    gan_net_set_optim(s->C, gan_adam((gan_float)1e-3, 0, (gan_float)0.9));
    return 1;
}

/* One critic step and one G step on the batches drawn from rng, then a sample from E into out. */
static int train_step(setup *s, gan_rng *rng, gan_float *out)
{
    gan_float z[BATCH * LATENT], real[BATCH * 144], xhat[BATCH * 144], minus[BATCH], plus[BATCH], gp;
    gan_tensor tz = gan_tensor_make(z, BATCH, LATENT, 1, 1), treal = gan_tensor_make(real, BATCH, 1, 12, 12);
    gan_tensor txhat = gan_tensor_make(xhat, BATCH, 1, 12, 12), tminus = gan_tensor_make(minus, BATCH, 1, 1, 1);
    gan_tensor tplus = gan_tensor_make(plus, BATCH, 1, 1, 1), tout = gan_tensor_make(out, BATCH, 1, 12, 12);
    const gan_tensor *fake, *dfake;
    int i, j;
    for (i = 0; i < BATCH; i++) minus[i] = (gan_float)-1 / BATCH, plus[i] = (gan_float)1 / BATCH;
    gan_fill_uniform(real, BATCH * 144, -1, 1, rng);
    gan_fill_normal(z, BATCH * LATENT, 0, 1, rng);

    /* the critic: -mean C(real) + mean C(fake) + the penalty at interpolates */
    if (!(fake = gan_net_forward(s->G, &tz))) return 0;
    for (i = 0; i < BATCH; i++) {
        gan_float eps = gan_rng_uniform(rng);
        for (j = 0; j < 144; j++) xhat[i * 144 + j] = eps * real[i * 144 + j] + (1 - eps) * fake->data[i * 144 + j];
    }
    gan_net_zero_grad(s->C);
    if (!gan_net_forward(s->C, &treal) || !gan_net_backward_multi(s->C, &tminus, GAN_GRAD_PARAMS)) return 0;
    if (!gan_net_forward(s->C, fake) || !gan_net_backward_multi(s->C, &tplus, GAN_GRAD_PARAMS)) return 0;
    if (!gan_net_penalty(s->C, &gp, &txhat, 0, GAN_PENALTY_WGAN_GP, 10)) return 0;
    gan_net_step(s->C);

    /* G: -mean C(G(z)), through the critic's dL/dinput */
    if (!gan_net_forward(s->C, fake) || !(dfake = gan_net_backward_input(s->C, &tminus))) return 0;
    gan_net_zero_grad(s->G);
    if (!gan_net_backward_multi(s->G, dfake, GAN_GRAD_PARAMS)) return 0;
    gan_net_step(s->G);
    return gan_net_infer(s->E, &tout, &tz, GAN_STATS_BATCH);
}

/* Are the networks' parameters, moments and statistics bitwise equal? */
static int same_state(gan_net *a, gan_net *b)
{
    int i;
    for (i = 0; i < gan_net_param_count(a); i++) {
        gan_param p = gan_net_param(a, i), q = gan_net_param(b, i);
        size_t bytes = p.count * sizeof(gan_float);
        if (memcmp(p.data, q.data, bytes) || memcmp(p.m, q.m, bytes) || memcmp(p.v, q.v, bytes)) return 0;
    }
    for (i = 0; i < gan_net_buffer_count(a); i++) {
        gan_param p = gan_net_buffer(a, i), q = gan_net_buffer(b, i);
        if (memcmp(p.data, q.data, p.count * sizeof(gan_float))) return 0;
    }
    return 1;
}

int main(void)
{
    setup A, B;
    gan_rng ra, rb;
    gan_float out_a[BATCH * 144], out_b[BATCH * 144], z[BATCH * LATENT], minus[BATCH], before[BATCH * 144];
    gan_tensor tz = gan_tensor_make(z, BATCH, LATENT, 1, 1), tminus = gan_tensor_make(minus, BATCH, 1, 1, 1);
    gan_tensor tout = gan_tensor_make(out_a, BATCH, 1, 12, 12);
    const gan_tensor *fake, *dx;
    size_t bytes_before;
    int step, ok, i, same_samples = 1;

    gan_set_threads(1);
    if (!make_setup(&A, 5) || !make_setup(&B, 5)) {
        test_report("build the networks", 0, "%s", gan_last_error());
        return test_finish();
    }
    bytes_before = gan_net_arena_bytes(A.C);
    ok = gan_net_share_scratch(A.G, A.C) && gan_net_share_scratch(A.E, A.C) && gan_net_share_scratch(A.C, A.G);
    test_report("sharing G with C, then E with C, then C with G again succeeds", ok, "%s", ok ? "" : gan_last_error());
    test_report("gan_net_arena_bytes still counts what the network needs", gan_net_arena_bytes(A.C) == bytes_before,
                "%lu, was %lu", (unsigned long)gan_net_arena_bytes(A.C), (unsigned long)bytes_before);

    gan_rng_seed(&ra, 11);
    gan_rng_seed(&rb, 11);
    for (step = 0, ok = 1; step < STEPS && ok; step++) {
        ok = train_step(&A, &ra, out_a) && train_step(&B, &rb, out_b);
        if (ok && memcmp(out_a, out_b, sizeof out_a)) same_samples = 0;
    }
    test_report("the critic and G steps and the samples run", ok, "%s", ok ? "" : gan_last_error());
    test_report("G: shared and separate call-local memory give the same bits", ok && same_state(A.G, B.G), "after %d steps",
                STEPS);
    test_report("the critic: the same bits", ok && same_state(A.C, B.C), "after %d steps", STEPS);
    test_report("the samples drawn between steps: the same bits", ok && same_samples, "%d steps", STEPS);

    /* The block is one: sampling from E overwrites the critic's dL/dinput in A, not in B. */
    for (i = 0; i < BATCH; i++) minus[i] = (gan_float)-1 / BATCH;
    gan_fill_normal(z, BATCH * LATENT, 0, 1, &ra);
    fake = gan_net_forward(A.G, &tz);
    dx = fake && gan_net_forward(A.C, fake) ? gan_net_backward_input(A.C, &tminus) : NULL;
    ok = dx != NULL;
    if (ok) {
        memcpy(before, dx->data, sizeof before);
        ok = gan_net_infer(A.E, &tout, &tz, GAN_STATS_BATCH) && memcmp(before, dx->data, sizeof before) != 0;
    }
    test_report("in A, a sample from E reuses the memory of the critic's dL/dinput", ok, "the block is not shared");
    fake = gan_net_forward(B.G, &tz);
    dx = fake && gan_net_forward(B.C, fake) ? gan_net_backward_input(B.C, &tminus) : NULL;
    ok = dx != NULL;
    if (ok) {
        memcpy(before, dx->data, sizeof before);
        tout.data = out_b;
        ok = gan_net_infer(B.E, &tout, &tz, GAN_STATS_BATCH) && memcmp(before, dx->data, sizeof before) == 0;
    }
    test_report("in B, a sample from E leaves the critic's dL/dinput alone", ok, "separate blocks interfere");

    /* Freed in any order: G goes first, the critic and E go on sharing. */
    gan_net_free(A.G);
    gan_net_free(B.G);
    rb = ra; /* the same stream from here on for both */
    A.G = make_G(&ra);
    B.G = make_G(&rb);
    ok = A.G && B.G;
    if (ok) {
        gan_net_set_optim(A.G, gan_adam((gan_float)1e-3, 0, (gan_float)0.9));
        gan_net_set_optim(B.G, gan_adam((gan_float)1e-3, 0, (gan_float)0.9));
        ok = gan_net_share_scratch(A.C, A.G);
        for (step = 0; step < STEPS && ok; step++) ok = train_step(&A, &ra, out_a) && train_step(&B, &rb, out_b);
    }
    test_report("after freeing G, a new G joins the block and training goes on bitwise equal",
                ok && same_state(A.G, B.G) && same_state(A.C, B.C) && !memcmp(out_a, out_b, sizeof out_a), "%s",
                ok ? "the states differ" : gan_last_error());
    gan_net_free(A.C);
    gan_net_free(A.E);
    gan_net_free(A.G);
    gan_net_free(B.G);
    gan_net_free(B.C);
    gan_net_free(B.E);
    return test_finish();
}
