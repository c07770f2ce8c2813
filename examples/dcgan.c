/*
dcgan.c - the reference DCGAN (Radford et al. 2015) for 28x28 images, trained on MNIST, Fashion-MNIST
or gan.h's built-in shapes with the library's GAN step.

    cc -O2 examples/dcgan.c -lm -o dcgan && ./dcgan --data DIR       (or: make demo)

DIR holds the MNIST IDX files (.gz or not), directly or in DIR/mnist (DIR/fashion-mnist for
--dataset fashion); the environment variable GAN_DATA may name it instead. Without one the built-in
procedural shapes (discs, rings, squares, bars) are used, and the first line says so.

    G: z (100) -> Linear (100, 128*7*7) -> BatchNorm -> ReLU -> Reshape (128, 7, 7)
              -> ConvTranspose2d (128, 64, 4, 2, 1) -> BatchNorm -> ReLU             (64, 14, 14)
              -> ConvTranspose2d (64, 1, 4, 2, 1) -> Tanh                            (1, 28, 28)
    D: x (1, 28, 28) -> Conv2d (1, 64, 4, 2, 1) -> LeakyReLU(0.2)                    (64, 14, 14)
              -> Conv2d (64, 128, 4, 2, 1) -> BatchNorm -> LeakyReLU(0.2)            (128, 7, 7)
              -> Flatten -> Linear (6272, 1)
The layers before a BatchNorm have no bias (its shift is the bias). Weights GAN_INIT_DCGAN, Adam(2e-4,
0.5, 0.999) for both, batch 64, the non-saturating loss (--loss changes the recipe: gan_default_train).
With a gradient penalty (--loss wgan-gp or r1) D's BatchNorm becomes a LayerNorm, since the penalty
needs each sample's D(x) to depend on that sample alone. --pack M gives D's first conv M input
channels (PacGAN).

Runtime (default 1500 steps, 9.6 epochs of the 10000 MNIST images): 137 s of training on a 2-core
AMD EPYC Zen 4 VM (gcc 12 -O2, both threads, AVX-512 kernels), 91 ms a step; `make demo` took
2 min 17 s with the compile (2000 steps took 3 min 9 s, over the demo's 3-minute budget). On a 2-core
Intel Xeon VM (family 6 model 167; 139 GFLOP/s measured FMA peak a core, yet slower steps) the
same run trained in 227 s (151 ms a step) and `make demo` took 3 min 47 s once built. With another
job holding one of the two cores a step takes over twice as long (and --threads 1 is then faster).
On a 2-core Intel Xeon VM of family 6 model 207 (AVX-512 kernels), `make demo` with the example
already built trained in 129 s (86 ms a step).

What the pictures show (dcgan_stepNNNNNN.png: 64 samples from one fixed noise batch, G in evaluation
mode, at step 0 and each quarter; dcgan_real.png: 64 training images), for the default seed on MNIST:
at step 0 even mid-grey tiles (G's outputs start near 0, tanh(0) being the grey between black and
white) in a darker grey border; at step 375 blotchy, speckled white scrawls on black, digit-sized,
a few already a 0, 7 or 9; at step 1500 every tile is a white stroke figure on black and about half are digits read at
a glance (0, 1, 3, 5, 7, 8, 9 the clearest), the rest with blotchy or broken strokes or two digits
melted together. The tiles differ in digit, slant and thickness: no collapse. Training on to 2000
steps (--steps 2000) sharpens them a little.

Flags: all of examples/train_flags.h's (--data --dataset --steps/--epochs --batch --lr --loss --pack
--ema --seed --threads --out --dump N FILE --dump-bn --save FILE --save-every K --resume FILE --help).

Checkpoints (the details are at the top of examples/train_flags.h): --save FILE writes the whole run
to FILE when training ends, --save-every K also after every K-th step; --resume FILE goes on from it
with its settings (loss, batch, lr, pack, EMA, seed, data set: leave them out, or give the same), and
--steps stays the total. So
    build/dcgan --steps 750 --save dcgan.st && build/dcgan --resume dcgan.st --steps 1500 --save dcgan.st
ends with the same dcgan.st, byte for byte, as build/dcgan --steps 1500 --save dcgan.st. Ctrl-C stops
after the step under way and saves (to the --save file, else out/dcgan_interrupted.st; exit status
130); a step with a loss that is not finite stops the run with exit status 1 and saves nothing.
*/

#define _POSIX_C_SOURCE 200809L /* mkdir and clock_gettime under -std=c99 */

#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "train_flags.h"

#define ZDIM 100
#define GRID 64            /* samples in each picture: 8 x 8 */

/* G of the reference DCGAN for 28x28 (see the top of the file). */
static gan_graph *generator(void)
{
    gan_graph *g = gan_graph_new();
    gan_layer L[9];
    if (!g) return NULL;
    L[0] = gan_no_bias(gan_linear(ZDIM, 128 * 7 * 7));
    L[1] = gan_batchnorm(128 * 7 * 7);
    L[2] = gan_relu();
    L[3] = gan_reshape(128, 7, 7);
    L[4] = gan_no_bias(gan_conv_transpose2d(128, 64, 4, 2, 1, 0));
    L[5] = gan_batchnorm(64);
    L[6] = gan_relu();
    L[7] = gan_conv_transpose2d(64, 1, 4, 2, 1, 0);
    L[8] = gan_tanh();
    gan_chain(g, gan_input(g, gan_chw(ZDIM, 1, 1)), L, 9);
    return g;
}

/* D of the reference DCGAN; pack images joined along channels; LayerNorm for a penalty. */
static gan_graph *discriminator(int pack, int penalty)
{
    gan_graph *g = gan_graph_new();
    gan_layer L[7];
    if (!g) return NULL;
    L[0] = gan_conv2d(pack, 64, 4, 2, 1);
    L[1] = gan_leaky_relu(0.2f);
    L[2] = gan_no_bias(gan_conv2d(64, 128, 4, 2, 1));
    L[3] = penalty ? gan_layernorm() : gan_batchnorm(128);
    L[4] = gan_leaky_relu(0.2f);
    L[5] = gan_flatten();
    L[6] = gan_linear(128 * 7 * 7, 1);
    gan_chain(g, gan_input(g, gan_chw(pack, 28, 28)), L, 7);
    return g;
}

/* The picture of G's samples from the fixed noise at `step`. */
static int picture(const tf_flags *f, gan_trainer *t, gan_float *fixed_z, gan_float *samples, long step)
{
    gan_tensor z = gan_tensor_make(fixed_z, GRID, ZDIM, 1, 1), y = gan_tensor_make(samples, GRID, 1, 28, 28);
    char name[32];
    if (!gan_trainer_sample(t, &y, &z, NULL, GAN_STATS_RUNNING)) {
        fprintf(stderr, "dcgan: %s\n", gan_last_error());
        return 0;
    }
    snprintf(name, sizeof name, "step%06ld", step);
    return tf_save_grid(f, name, samples, GRID, 1, 28, 28, 8);
}

int main(int argc, char **argv)
{
    tf_flags f;
    gan_dataset data;
    gan_loader loader;
    gan_graph *gg, *dg;
    gan_net *G, *D, *G_ema = NULL;
    gan_trainer *t;
    gan_train_config cfg;
    gan_step_stats s;
    tf_progress p;
    gan_rng rng;
    gan_float fixed_z[GRID * ZDIM], *samples;
    long step, total, every;
    int rc, penalty;

    tf_defaults(&f, "dcgan", "Trains the reference DCGAN on 28x28 images and writes PNG sample grids.",
                TF_DATA | TF_PACK | TF_DUMP_BN);
    f.steps = 1500;
    if ((rc = tf_parse(&f, argc, argv)) >= 0) return rc;
    if (!tf_load_data(&f, &data)) return 1;
    if (data.c != 1 || data.h != 28 || data.w != 28) {
        fprintf(stderr, "dcgan: the networks are for 1 x 28 x 28 images; the data set's are %d x %d x %d\n", data.c,
                data.h, data.w);
        return 1;
    }
    if (!tf_make_dir(&f, f.out) || !gan_loader_init(&loader, &data, (uint64_t)f.seed + 1)) {
        if (gan_last_error()[0]) fprintf(stderr, "dcgan: %s\n", gan_last_error());
        return 1;
    }

    cfg = tf_config(&f);
    penalty = cfg.penalty_weight > 0;
    gan_rng_seed(&rng, (uint64_t)f.seed);
    gg = generator();
    dg = discriminator(f.pack, penalty);
    G = gg ? gan_net_build(gg, cfg.batch, 0, &rng) : NULL;
    D = dg ? gan_net_build(dg, cfg.batch / cfg.pack, penalty ? GAN_BUILD_PENALTY : 0, &rng) : NULL;
    if (G && f.ema > 0) G_ema = gan_net_build(gg, cfg.batch, 0, &rng);
    if (!G || !D || (f.ema > 0 && !G_ema)) {
        fprintf(stderr, "dcgan: gan_net_build: %s\n", gan_last_error());
        return 1;
    }
    gan_net_init(G, GAN_INIT_DCGAN, &rng);
    gan_net_init(D, GAN_INIT_DCGAN, &rng);
    if (!(t = gan_trainer_create(G, D, G_ema, &cfg))) { /* copies G into G_ema */
        fprintf(stderr, "dcgan: %s\n", gan_last_error());
        return 1;
    }
    total = tf_total_steps(&f, data.n, cfg.n_critic);
    printf("dcgan: loss %s, batch %d, pack %d, n_critic %d%s%s, %ld steps (%.2f epochs), threads %d\n",
           gan_family_name(f.family), cfg.batch, cfg.pack, cfg.n_critic, penalty ? ", D with LayerNorm" : "",
           G_ema ? ", sampling from G_ema" : "", total, (double)total * cfg.n_critic * cfg.batch / data.n, gan_threads());
    if (!tf_resume_load(&f, t, &loader, total)) return 1;

    samples = (gan_float *)malloc(sizeof(gan_float) * GRID * 28 * 28);
    if (!samples) {
        fprintf(stderr, "dcgan: out of memory\n");
        return 1;
    }
    /* the training images, then the fixed noise of every picture (from its own stream) */
    {
        int idx[GRID], i;
        for (i = 0; i < GRID; i++) idx[i] = (int)((long)i * data.n / GRID);
        gan_dataset_batch(&data, samples, NULL, idx, GRID);
        tf_save_grid(&f, "real", samples, GRID, 1, 28, 28, 8);
    }
    gan_fill_normal(fixed_z, GRID * ZDIM, 0, 1, &rng);

    every = total >= 20 ? total / 20 : 1;
    tf_progress_start(&p, t);
    tf_catch_signals(1);
    for (step = (long)t->steps;; step++) { /* a resumed run goes on with its step numbers */
        if (tf_picture_due(step, total, 4) && !picture(&f, t, fixed_z, samples, step)) return 1;
        if (step >= total) break;
        if (!gan_train_step(t, &s, gan_loader_real, &loader)) return tf_step_failed(&f); /* saves nothing */
        tf_progress_add(&p, &s);
        if (!tf_finite(&s)) {
            fprintf(stderr, "dcgan: the losses are no longer finite at step %ld\n", step + 1);
            return 1;
        }
        if ((step + 1) % every == 0 || step + 1 == total)
            tf_progress_line(&p, t, step + 1, total, gan_loader_epochs(&loader));
        if ((rc = tf_step_done(&f, t, &loader, total)) >= 0) return rc; /* a signal, or --save-every failed */
    }
    printf("trained in %.1f s\n", tf_seconds() - p.t_start);
    if ((rc = tf_finish(&f, t, &loader, total)) >= 0) return rc;
    printf("pictures: %s/dcgan_real.png (training images), %s/dcgan_step*.png (samples)\n", f.out, f.out);
    if (f.dump_n > 0 && !tf_dump(&f, t)) return 1;

    free(samples);
    gan_trainer_free(t);
    gan_net_free(G);
    gan_net_free(D);
    gan_net_free(G_ema);
    gan_graph_free(gg);
    gan_graph_free(dg);
    gan_loader_free(&loader);
    gan_dataset_free(&data);
    gan_set_threads(1); /* joins the workers, so a leak checker finds nothing held */
    return 0;
}
