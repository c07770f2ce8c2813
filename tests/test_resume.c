/* tests/test_resume.c - everything a training run depends on is plain data reachable through the
   API, so a run can be stopped and continued bit for bit (the later checkpoint format builds on
   this): the parameters with their Adam moments (gan_net_param: data, m, v), BatchNorm's running
   statistics (gan_net_buffer), the optimizer and its step count (net->opt), each Dropout layer's
   random stream (its rng field) and the caller's own gan_rng.

   Run A trains 2K steps in one go. Run B trains K steps, copies that state out, frees its network,
   builds a new one from a different seed, writes the state back and trains K more. Their weights,
   moments and statistics must be bitwise equal; and a run restored without its moments must not be,
   so the comparison can fail. */
#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

#define K 12
#define BATCH 6

typedef struct saved_state {
    gan_float *values; /* every parameter, then its m, then its v, then every buffer */
    size_t count;
    gan_optim opt;
    gan_rng dropout_rng[8];
    gan_rng data_rng;
} saved_state;

static gan_net *make_net(uint64_t seed)
{
    gan_rng rng;
    gan_layer L[8];
    L[0] = gan_conv2d(1, 4, 3, 2, 1);
    L[1] = gan_batchnorm(4);
    L[2] = gan_leaky_relu((gan_float)0.2);
    L[3] = gan_dropout((gan_float)0.25);
    L[4] = gan_flatten();
    L[5] = gan_linear(4 * 4 * 4, 8);
    L[6] = gan_relu();
    L[7] = gan_linear(8, 1);
    gan_rng_seed(&rng, seed);
    return gan_net_create(gan_chw(1, 8, 8), L, 8, BATCH, &rng);
}

/* One Adam step on a fresh batch from data_rng: BCE against labels that depend on the image. */
static void train_step(gan_net *net, gan_rng *data_rng)
{
    gan_float x[BATCH * 64], t[BATCH], d[BATCH];
    gan_tensor xt = gan_tensor_make(x, BATCH, 1, 8, 8), dt = gan_tensor_make(d, BATCH, 1, 1, 1);
    const gan_tensor *y;
    int i;
    gan_fill_normal(x, BATCH * 64, 0, 1, data_rng);
    for (i = 0; i < BATCH; i++) t[i] = x[i * 64] > 0;
    y = gan_net_forward(net, &xt);
    gan_bce_logits(d, y->data, t, BATCH);
    gan_net_zero_grad(net);
    gan_net_backward(net, &dt);
    gan_net_step(net);
}

/* Visits every persistent value in a fixed order: copy out (save = 1) or back in (save = 0). */
static size_t visit(gan_net *net, gan_float *values, int save, int with_moments)
{
    size_t at = 0;
    int i, part;
    for (part = 0; part < 3; part++)
        for (i = 0; i < gan_net_param_count(net); i++) {
            gan_param p = gan_net_param(net, i);
            gan_float *src = part == 0 ? p.data : part == 1 ? p.m : p.v;
            if (part > 0 && !with_moments) {
                at += p.count;
                continue;
            }
            if (values) {
                if (save) memcpy(values + at, src, p.count * sizeof(gan_float));
                else memcpy(src, values + at, p.count * sizeof(gan_float));
            }
            at += p.count;
        }
    for (i = 0; i < gan_net_buffer_count(net); i++) {
        gan_param b = gan_net_buffer(net, i);
        if (values) {
            if (save) memcpy(values + at, b.data, b.count * sizeof(gan_float));
            else memcpy(b.data, values + at, b.count * sizeof(gan_float));
        }
        at += b.count;
    }
    return at;
}

static void save_state(saved_state *s, gan_net *net, const gan_rng *data_rng)
{
    int i, d = 0;
    s->count = visit(net, NULL, 1, 1);
    s->values = (gan_float *)malloc(s->count * sizeof(gan_float));
    visit(net, s->values, 1, 1);
    s->opt = net->opt;
    for (i = 0; i < net->n_layers; i++)
        if (net->layers[i].kind == GAN_DROPOUT) s->dropout_rng[d++] = net->layers[i].rng;
    s->data_rng = *data_rng;
}

static void restore_state(gan_net *net, gan_rng *data_rng, const saved_state *s, int with_moments)
{
    int i, d = 0;
    visit(net, s->values, 0, with_moments);
    net->opt = s->opt;
    for (i = 0; i < net->n_layers; i++)
        if (net->layers[i].kind == GAN_DROPOUT) net->layers[i].rng = s->dropout_rng[d++];
    *data_rng = s->data_rng;
}

static int same_state(gan_net *a, gan_net *b)
{
    size_t n = visit(a, NULL, 1, 1);
    gan_float *va = (gan_float *)malloc(n * sizeof(gan_float)), *vb = (gan_float *)malloc(n * sizeof(gan_float));
    int same;
    visit(a, va, 1, 1);
    visit(b, vb, 1, 1);
    same = memcmp(va, vb, n * sizeof(gan_float)) == 0 && a->opt.step == b->opt.step;
    free(va);
    free(vb);
    return same;
}

int main(void)
{
    gan_net *a = make_net(1), *b = make_net(1), *c, *d;
    gan_rng data_a, data_b, data_d;
    saved_state s;
    int i;
    gan_rng_seed(&data_a, 77);
    gan_rng_seed(&data_b, 77);
    for (i = 0; i < 2 * K; i++) train_step(a, &data_a);

    for (i = 0; i < K; i++) train_step(b, &data_b);
    save_state(&s, b, &data_b);
    gan_net_free(b);

    /* A new network from another seed: nothing of run B survives except what was saved. */
    c = make_net(999);
    restore_state(c, &data_b, &s, 1);
    for (i = 0; i < K; i++) train_step(c, &data_b);
    test_report("resume: K steps, save, new network, restore, K steps == 2K steps, bitwise", same_state(a, c),
                "the resumed run differs from the unbroken one");

    /* The same without Adam's moments: the weights must differ, or the check above proves nothing. */
    d = make_net(999);
    restore_state(d, &data_d, &s, 0);
    for (i = 0; i < K; i++) train_step(d, &data_d);
    test_report("resume: restoring without the optimizer's moments does not match", !same_state(a, d),
                "a run without its moments matched, so the comparison cannot tell");
    free(s.values);
    gan_net_free(a);
    gan_net_free(c);
    gan_net_free(d);
    return test_finish();
}
