/*
cgan.c - a conditional DCGAN (Mirza & Osindero 2014, with DCGAN's networks) on 28x28 labelled images,
trained with gan.h's GAN step: G draws the class it is asked for, D judges an image with its label.

    cc -O2 examples/cgan.c -lm -o cgan && ./cgan --data DIR      (or: make, then build/cgan --data DIR)

DIR holds the MNIST IDX files (.gz or not), directly or in DIR/mnist (DIR/fashion-mnist for
--dataset fashion); the environment variable GAN_DATA may name it instead. Without one the built-in
procedural shapes are used (4 classes: discs, rings, squares, bars), and the first line says so.

Both networks are graphs with two inputs, the sample and its label (a (1, 1, 1) float holding the
class index: gan_embedding reads it).
    G: z (100), label -> Embedding (classes, 10); Concat -> (110)
              -> Linear (110, 128*7*7) -> BatchNorm -> ReLU -> Reshape (128, 7, 7)
              -> ConvTranspose2d (128, 64, 4, 2, 1) -> BatchNorm -> ReLU -> ConvTranspose2d (64, 1, 4, 2, 1) -> Tanh
    D (default): the label as an image: Embedding (classes, 784) -> Reshape (1, 28, 28), concatenated with
              x -> (2, 28, 28) -> Conv2d (2, 64, 4, 2, 1) -> LeakyReLU(0.2) -> Conv2d (64, 128, 4, 2, 1)
              -> BatchNorm -> LeakyReLU(0.2) -> Flatten (h, 6272 values) -> Linear (6272, 1)
    D (--projection, Miyato & Koyama 2018): x alone through the same layers to h; the output is
              Linear(h) + <h, Embedding (classes, 6272)(label)> (gan_inner), the class's vector
              initialized N(0, 0.02^2) like the other weights (nn.Embedding's N(0, 1) would swamp the
              linear term at the start).
Weights GAN_INIT_DCGAN (the label-map embedding keeps N(0, 1), so the map is on the images' scale),
Adam(2e-4, 0.5, 0.999), batch 64, the non-saturating loss. With a gradient penalty (--loss wgan-gp or
r1) D's BatchNorm becomes a LayerNorm. D steps use the real batch's labels for the fakes too, and
with one D step (the default) the G step reuses that fake batch and so its labels; with n_critic > 1
the G step draws fresh labels uniformly (see gan_train_step).

Runtime (default 2000 steps, 12.8 epochs of the 10000 MNIST images): about 210 s on this 2-core VM
(AMD EPYC, gcc 12 -O2): 103 ms a step at 2 threads, measured over 300 steps with the machine
otherwise idle. The default run described below took 863 s at --threads 1 beside other jobs (349 s
of CPU).

What the pictures show (cgan_stepNNNNNN.png: one row per class, 0 to 9 top to bottom for MNIST, and
the same noise down each column, so a column is one "style" in every class; G in evaluation mode; at
step 0 and each quarter), for the default seed on MNIST: at step 0 an even grey; at step 500 each row
is already its class, if crudely (rows of 0s, 1s, 3s and 7s are clear; 2s, 4s, 5s and 8s are broken
scrawls); at step 2000 every row holds its own digit, 0 to 9, and nearly all 80 tiles are readable
(a few 3s and 8s are smudged, one 3 looks like a 5); along a row the digits vary in slant, width and
stroke weight, and a column keeps some of its character from row to row (bold in one, slanted in
another). With --projection on the built-in shapes (300 steps) the ring row is clearly rings, while
the disc, square and bar rows are still blobs of about the right size.

Flags: all of examples/train_flags.h's but --pack (packing would join samples of different labels;
gan_trainer_create refuses it): --data --dataset --steps/--epochs --batch --lr --loss --ema --seed
--threads --out --dump N FILE (sample i is of class i mod classes) --dump-bn --dump-labels FILE
--save FILE --save-every K --resume FILE --help, and --projection.

Checkpoints (the details are at the top of examples/train_flags.h): --save FILE writes the whole run
to FILE when training ends, --save-every K also after every K-th step; --resume FILE goes on from it
with its settings, --projection among them (user.projection: a resume builds the D it was trained
with; leave the flags out, or give the same), and --steps stays the total:
    build/cgan --steps 1000 --save cgan.st && build/cgan --resume cgan.st --steps 2000 --save cgan.st
ends with the same cgan.st, byte for byte, as one run of 2000 steps. Ctrl-C stops after the step
under way and saves (to the --save file, else out/cgan_interrupted.st; exit status 130); a step with
a loss that is not finite stops the run with exit status 1 and saves nothing.
*/

#define _POSIX_C_SOURCE 200809L /* mkdir and clock_gettime under -std=c99 */

#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "train_flags.h"

#define ZDIM 100
#define EMB 10             /* length of G's label vector */
#define COLS 8             /* noise vectors in the picture: one per column */
#define MAX_CLASSES 256

/* G: z and the label's learned vector, joined, then the reference DCGAN generator. */
static gan_graph *generator(int classes)
{
    gan_graph *g = gan_graph_new();
    gan_layer L[9];
    gan_node in[2];
    if (!g) return NULL;
    in[0] = gan_input(g, gan_chw(ZDIM, 1, 1));
    in[1] = gan_apply(g, gan_embedding(classes, EMB), gan_input(g, gan_chw(1, 1, 1)));
    L[0] = gan_no_bias(gan_linear(ZDIM + EMB, 128 * 7 * 7));
    L[1] = gan_batchnorm(128 * 7 * 7);
    L[2] = gan_relu();
    L[3] = gan_reshape(128, 7, 7);
    L[4] = gan_no_bias(gan_conv_transpose2d(128, 64, 4, 2, 1, 0));
    L[5] = gan_batchnorm(64);
    L[6] = gan_relu();
    L[7] = gan_conv_transpose2d(64, 1, 4, 2, 1, 0);
    L[8] = gan_tanh();
    gan_chain(g, gan_concat(g, in, 2), L, 9);
    return g;
}

/* D: the label joined to the image as a map, or (projection) D's features dotted with the label's
   vector and added to the linear output. *proj is the projection's Embedding node (id -1 without). */
static gan_graph *discriminator(int classes, int projection, int penalty, gan_node *proj)
{
    gan_graph *g = gan_graph_new();
    gan_layer L[5];
    gan_node x, label, h, out;
    if (!g) return NULL;
    x = gan_input(g, gan_chw(1, 28, 28));
    label = gan_input(g, gan_chw(1, 1, 1));
    proj->id = -1;
    if (!projection) {
        gan_node joined[2];
        joined[0] = x;
        joined[1] = gan_apply(g, gan_reshape(1, 28, 28), gan_apply(g, gan_embedding(classes, 28 * 28), label));
        x = gan_concat(g, joined, 2);
    }
    L[0] = gan_conv2d(projection ? 1 : 2, 64, 4, 2, 1);
    L[1] = gan_leaky_relu(0.2f);
    L[2] = gan_no_bias(gan_conv2d(64, 128, 4, 2, 1));
    L[3] = penalty ? gan_layernorm() : gan_batchnorm(128);
    L[4] = gan_leaky_relu(0.2f);
    h = gan_apply(g, gan_flatten(), gan_chain(g, x, L, 5));
    out = gan_apply(g, gan_linear(128 * 7 * 7, 1), h);
    if (projection) {
        *proj = gan_apply(g, gan_embedding(classes, 128 * 7 * 7), label);
        out = gan_add(g, out, gan_inner(g, h, *proj));
    }
    gan_output(g, out);
    return g;
}

/* The picture: row r is class r, column c noise vector c. */
static int picture(const tf_flags *f, gan_trainer *t, const gan_float *col_z, int classes, gan_float *z,
                   gan_float *labels, gan_float *samples, long step)
{
    int n = classes * COLS, i;
    gan_tensor zt = gan_tensor_make(z, n, ZDIM, 1, 1), y = gan_tensor_make(samples, n, 1, 28, 28);
    char name[32];
    for (i = 0; i < n; i++) {
        memcpy(z + (size_t)i * ZDIM, col_z + (size_t)(i % COLS) * ZDIM, sizeof(gan_float) * ZDIM);
        labels[i] = (gan_float)(i / COLS);
    }
    if (!gan_trainer_sample(t, &y, &zt, labels, GAN_STATS_RUNNING)) {
        fprintf(stderr, "cgan: %s\n", gan_last_error());
        return 0;
    }
    snprintf(name, sizeof name, "step%06ld", step);
    return tf_save_grid(f, name, samples, n, 1, 28, 28, COLS);
}

int main(int argc, char **argv)
{
    tf_flags f;
    gan_dataset data;
    gan_loader loader;
    gan_graph *gg, *dg;
    gan_net *G, *D, *G_ema = NULL;
    gan_node proj;
    gan_trainer *t;
    gan_train_config cfg;
    gan_step_stats s;
    tf_progress p;
    gan_rng rng;
    gan_float col_z[COLS * ZDIM], *z, *labels, *samples;
    long step, total, every;
    int rc, penalty, projection = 0, classes;
    tf_option extra[1] = { { "projection", TF_SWITCH, &projection, 0, 0, NULL,
                             "a projection discriminator instead of the label map", 1 } };

    tf_defaults(&f, "cgan", "Trains a conditional DCGAN on labelled 28x28 images; one picture row per class.",
                TF_DATA | TF_DUMP_BN | TF_LABELS);
    f.steps = 2000;
    f.extra = extra;
    f.n_extra = 1;
    if ((rc = tf_parse(&f, argc, argv)) >= 0) return rc;
    if (!tf_load_data(&f, &data)) return 1;
    if (data.c != 1 || data.h != 28 || data.w != 28 || data.classes < 2 || data.classes > MAX_CLASSES) {
        fprintf(stderr, "cgan: the networks are for 1 x 28 x 28 images in 2 to %d classes; the data set's are "
                "%d x %d x %d in %d\n", MAX_CLASSES, data.c, data.h, data.w, data.classes);
        return 1;
    }
    classes = data.classes;
    if (!tf_make_dir(&f, f.out) || !gan_loader_init(&loader, &data, (uint64_t)f.seed + 1)) {
        if (gan_last_error()[0]) fprintf(stderr, "cgan: %s\n", gan_last_error());
        return 1;
    }

    cfg = tf_config(&f);
    cfg.classes = classes;
    penalty = cfg.penalty_weight > 0;
    gan_rng_seed(&rng, (uint64_t)f.seed);
    gg = generator(classes);
    dg = discriminator(classes, projection, penalty, &proj);
    G = gg ? gan_net_build(gg, cfg.batch, 0, &rng) : NULL;
    D = dg ? gan_net_build(dg, cfg.batch, penalty ? GAN_BUILD_PENALTY : 0, &rng) : NULL;
    if (G && f.ema > 0) G_ema = gan_net_build(gg, cfg.batch, 0, &rng);
    if (!G || !D || (f.ema > 0 && !G_ema)) {
        fprintf(stderr, "cgan: gan_net_build: %s\n", gan_last_error());
        return 1;
    }
    gan_net_init(G, GAN_INIT_DCGAN, &rng); /* Embeddings keep N(0, 1) under every scheme */
    gan_net_init(D, GAN_INIT_DCGAN, &rng);
    if (projection) {
        gan_layer *e = gan_net_node_layer(D, proj);
        gan_fill_normal(e->W, e->nW, 0, 0.02f, &rng);
    }
    if (!(t = gan_trainer_create(G, D, G_ema, &cfg))) {
        fprintf(stderr, "cgan: %s\n", gan_last_error());
        return 1;
    }
    total = tf_total_steps(&f, data.n, cfg.n_critic);
    printf("cgan: %d classes, %s D, loss %s, batch %d, n_critic %d%s%s, %ld steps (%.2f epochs), threads %d\n",
           classes, projection ? "projection" : "label-map", gan_family_name(f.family), cfg.batch, cfg.n_critic,
           penalty ? ", D with LayerNorm" : "", G_ema ? ", sampling from G_ema" : "", total,
           (double)total * cfg.n_critic * cfg.batch / data.n, gan_threads());
    if (!tf_resume_load(&f, t, &loader, total)) return 1;

    z = (gan_float *)malloc(sizeof(gan_float) * (size_t)classes * COLS * ZDIM);
    labels = (gan_float *)malloc(sizeof(gan_float) * (size_t)classes * COLS);
    samples = (gan_float *)malloc(sizeof(gan_float) * (size_t)classes * COLS * 28 * 28);
    if (!z || !labels || !samples) {
        fprintf(stderr, "cgan: out of memory\n");
        return 1;
    }
    gan_fill_normal(col_z, COLS * ZDIM, 0, 1, &rng);

    every = total >= 20 ? total / 20 : 1;
    tf_progress_start(&p, t);
    tf_catch_signals(1);
    for (step = (long)t->steps;; step++) { /* a resumed run goes on with its step numbers */
        if (tf_picture_due(step, total, 4) && !picture(&f, t, col_z, classes, z, labels, samples, step)) return 1;
        if (step >= total) break;
        if (!gan_train_step(t, &s, gan_loader_real, &loader)) return tf_step_failed(&f); /* saves nothing */
        tf_progress_add(&p, &s);
        if (!tf_finite(&s)) {
            fprintf(stderr, "cgan: the losses are no longer finite at step %ld\n", step + 1);
            return 1;
        }
        if ((step + 1) % every == 0 || step + 1 == total)
            tf_progress_line(&p, t, step + 1, total, gan_loader_epochs(&loader));
        if ((rc = tf_step_done(&f, t, &loader, total)) >= 0) return rc; /* a signal, or --save-every failed */
    }
    printf("trained in %.1f s\n", tf_seconds() - p.t_start);
    if ((rc = tf_finish(&f, t, &loader, total)) >= 0) return rc;
    printf("pictures: %s/cgan_step*.png (row r: class r)\n", f.out);
    if (f.dump_n > 0 && !tf_dump(&f, t)) return 1;

    free(z);
    free(labels);
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
