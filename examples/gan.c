/*
gan.c - an MLP GAN on MNIST in the spirit of Goodfellow et al. (2014), trained with gan.h's GAN step.

    cc -O2 examples/gan.c -lm -o gan && ./gan --data DIR         (or: make, then build/gan --data DIR)

DIR holds the MNIST IDX files (.gz or not), directly or in DIR/mnist (DIR/fashion-mnist for
--dataset fashion); the environment variable GAN_DATA may name it instead. Without one the built-in
procedural shapes (discs, rings, squares, bars) are used, and the first line says so.

The paper's networks were MLPs with ReLU and sigmoid units in G and maxout units with dropout in D;
gan.h has no maxout, so this is the common modern reading of it, with LeakyReLU:
    G: z (100) -> Linear 256 -> LeakyReLU(0.2) -> Linear 512 -> LeakyReLU(0.2) -> Linear 1024
              -> LeakyReLU(0.2) -> Linear 784 -> Tanh -> Reshape (1, 28, 28)
    D: x -> Flatten -> Linear 1024 -> LeakyReLU(0.2) -> Dropout(0.3) -> Linear 512 -> LeakyReLU(0.2)
              -> Dropout(0.3) -> Linear 256 -> LeakyReLU(0.2) -> Dropout(0.3) -> Linear 1
PyTorch's default initialization, the non-saturating loss (the paper's "maximize log D(G(z))" advice;
--loss minimax is the game as first written), Adam(2e-4, 0.5, 0.999), batch 64. With a gradient
penalty (--loss wgan-gp or r1) D has no Dropout, since the penalty needs a deterministic D. --pack M
makes D's first layer take M images (PacGAN).

Runtime (default 6000 steps, 38 epochs of the 10000 MNIST images): about 200 s on this 2-core VM (AMD
EPYC, gcc 12 -O2): 33 ms a step at 2 threads, measured over 1500 steps with the machine otherwise
idle. The default run described below took 785 s at --threads 1 beside other jobs (272 s of CPU).

What the pictures show (gan_stepNNNNNN.png: 64 samples from one fixed noise batch at step 0 and each
quarter; gan_real.png: 64 training images), for the default seed on MNIST: at step 0 a flat grey with
a faint fine-grained noise; at step 1500 white digit-like strokes on black, speckled with isolated
white dots, and many tiles the same few shapes (a 9, a 3, a 1): partial mode collapse; at step 3000 it
is worse, about half the tiles a slanted 1; by step 6000 the variety is back: 1, 4, 5, 7, 8, 9 and
others in different styles, about half of them readable, strokes ragged and the black background
still sprinkled with white specks (an MLP has no notion of neighbouring pixels). dcgan.c draws cleaner digits in a
third of the steps.

Flags: all of examples/train_flags.h's but --dump-bn (G has no BatchNorm): --data --dataset
--steps/--epochs --batch --lr --loss --pack --ema --seed --threads --out --dump N FILE --save FILE
--save-every K --resume FILE --help.

Checkpoints (the details are at the top of examples/train_flags.h): --save FILE writes the whole run
to FILE when training ends (Dropout's random streams too), --save-every K also after every K-th
step; --resume FILE goes on from it with its settings (leave them out, or give the same), and
--steps stays the total:
    build/gan --steps 3000 --save gan.st && build/gan --resume gan.st --steps 6000 --save gan.st
ends with the same gan.st, byte for byte, as one run of 6000 steps. Ctrl-C stops after the step
under way and saves (to the --save file, else out/gan_interrupted.st; exit status 130); a step with
a loss that is not finite stops the run with exit status 1 and saves nothing.
*/

#define _POSIX_C_SOURCE 200809L /* mkdir and clock_gettime under -std=c99 */

#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "train_flags.h"

#define ZDIM 100
#define GRID 64            /* samples in each picture: 8 x 8 */

/* G: four Linear layers from z to 784 pixels (see the top of the file). */
static gan_graph *generator(void)
{
    gan_graph *g = gan_graph_new();
    gan_layer L[9];
    if (!g) return NULL;
    L[0] = gan_linear(ZDIM, 256);
    L[1] = gan_leaky_relu(0.2f);
    L[2] = gan_linear(256, 512);
    L[3] = gan_leaky_relu(0.2f);
    L[4] = gan_linear(512, 1024);
    L[5] = gan_leaky_relu(0.2f);
    L[6] = gan_linear(1024, 28 * 28);
    L[7] = gan_tanh();
    L[8] = gan_reshape(1, 28, 28);
    gan_chain(g, gan_input(g, gan_chw(ZDIM, 1, 1)), L, 9);
    return g;
}

/* D: four Linear layers from pack images to one logit, Dropout after each hidden one unless a
   penalty is wanted (it differentiates D(x) at fixed parameters, which a random mask is not). */
static gan_graph *discriminator(int pack, int penalty)
{
    static const int width[4] = { 28 * 28, 1024, 512, 256 };
    gan_graph *g = gan_graph_new();
    gan_node h;
    int i;
    if (!g) return NULL;
    h = gan_apply(g, gan_flatten(), gan_input(g, gan_chw(pack, 28, 28)));
    for (i = 0; i < 3; i++) {
        h = gan_apply(g, gan_linear(width[i] * (i == 0 ? pack : 1), width[i + 1]), h);
        h = gan_apply(g, gan_leaky_relu(0.2f), h);
        if (!penalty) h = gan_apply(g, gan_dropout(0.3f), h);
    }
    gan_apply(g, gan_linear(256, 1), h);
    return g;
}

/* The picture of G's samples from the fixed noise at `step`. */
static int picture(const tf_flags *f, gan_trainer *t, gan_float *fixed_z, gan_float *samples, long step)
{
    gan_tensor z = gan_tensor_make(fixed_z, GRID, ZDIM, 1, 1), y = gan_tensor_make(samples, GRID, 1, 28, 28);
    char name[32];
    if (!gan_trainer_sample(t, &y, &z, NULL, GAN_STATS_RUNNING)) {
        fprintf(stderr, "gan: %s\n", gan_last_error());
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

    tf_defaults(&f, "gan", "Trains an MLP GAN (Goodfellow et al. 2014) on 28x28 images and writes PNG sample grids.",
                TF_DATA | TF_PACK);
    f.steps = 6000;
    if ((rc = tf_parse(&f, argc, argv)) >= 0) return rc;
    if (!tf_load_data(&f, &data)) return 1;
    if (data.c != 1 || data.h != 28 || data.w != 28) {
        fprintf(stderr, "gan: the networks are for 1 x 28 x 28 images; the data set's are %d x %d x %d\n", data.c,
                data.h, data.w);
        return 1;
    }
    if (!tf_make_dir(&f, f.out) || !gan_loader_init(&loader, &data, (uint64_t)f.seed + 1)) {
        if (gan_last_error()[0]) fprintf(stderr, "gan: %s\n", gan_last_error());
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
        fprintf(stderr, "gan: gan_net_build: %s\n", gan_last_error());
        return 1;
    }
    if (!(t = gan_trainer_create(G, D, G_ema, &cfg))) { /* copies G into G_ema */
        fprintf(stderr, "gan: %s\n", gan_last_error());
        return 1;
    }
    total = tf_total_steps(&f, data.n, cfg.n_critic);
    printf("gan: loss %s, batch %d, pack %d, n_critic %d%s%s, %ld steps (%.2f epochs), threads %d\n",
           gan_family_name(f.family), cfg.batch, cfg.pack, cfg.n_critic, penalty ? ", D without Dropout" : "",
           G_ema ? ", sampling from G_ema" : "", total, (double)total * cfg.n_critic * cfg.batch / data.n, gan_threads());
    if (!tf_resume_load(&f, t, &loader, total)) return 1;

    samples = (gan_float *)malloc(sizeof(gan_float) * GRID * 28 * 28);
    if (!samples) {
        fprintf(stderr, "gan: out of memory\n");
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
            fprintf(stderr, "gan: the losses are no longer finite at step %ld\n", step + 1);
            return 1;
        }
        if ((step + 1) % every == 0 || step + 1 == total)
            tf_progress_line(&p, t, step + 1, total, gan_loader_epochs(&loader));
        if ((rc = tf_step_done(&f, t, &loader, total)) >= 0) return rc; /* a signal, or --save-every failed */
    }
    printf("trained in %.1f s\n", tf_seconds() - p.t_start);
    if ((rc = tf_finish(&f, t, &loader, total)) >= 0) return rc;
    printf("pictures: %s/gan_real.png (training images), %s/gan_step*.png (samples)\n", f.out, f.out);
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
