/*
toy2d.c - the 2-D mode-collapse benchmark of the Unrolled GAN (Metz et al. 2017), VEEGAN (Srivastava
et al. 2017) and PacGAN (Lin et al. 2018) papers, trained with gan.h's GAN step.

    cc -O2 examples/toy2d.c -lm -o toy2d && ./toy2d          (or: make, then build/toy2d)

The real data is a mixture of Gaussians sampled on the fly by this file's own gan_real_fn:
    --dist ring8     8 Gaussians of std 0.02 evenly spaced on a circle of radius 2 (the default)
    --dist grid25    25 Gaussians of std 0.05 centred on {-4, -2, 0, 2, 4}^2
G and D are MLPs of two hidden ReLU layers (--hidden N units each, default 128, as in the Unrolled GAN
and VEEGAN experiments; PacGAN's are wider and deeper), PyTorch's initialization:
    G: z (--zdim, default 2) -> Linear -> ReLU -> Linear -> ReLU -> Linear -> (x, y)
    D: (x, y) x pack -> Linear -> ReLU -> Linear -> ReLU -> Linear -> one output

Defaults, the same for both mixtures (chosen on grid25, the harder one; the figures quoted are grid25
at seed 1 with only that one setting changed):
    --loss ns        gan_default_train's recipe: Adam with betas 0.5, 0.999, one D step a G step
    --lr 1e-3        for both, not the recipe's 2e-4, at which G had not settled after 32000 steps
                     (25 modes but 21 fair, 39.7 % high quality)
    --batch 256
    --pack 2         PacGAN2: D judges pairs of samples, which kept G on all the modes. Without it
                     (--pack 1) G left modes short (21 modes, 17 fair, 92.1 %) and took 67 s; with
                     --pack 4 most samples stayed off the modes (20 modes, 2 fair, 7.8 %)
    --zdim 2         a 2-D noise for a 2-D target: with --zdim 16 G lost modes (17, 15 fair, 93.7 %)
    --steps 32000
    --decay 0.75     this example's own schedule: from step 8000 on both learning rates fall linearly
                     from 1e-3 towards 0 (1/24000 of it at the last step). It sets G->opt.lr and
                     D->opt.lr in place (gan_net_set_optim would clear Adam's moments). As the rates
                     fall the samples strung between modes gather into them: without it (--decay 0)
                     91.3 % high quality instead of 93.6 %, and seed 2 ended with five modes short
                     (23 modes, 20 fair, 90.0 %), as it did with --decay 0.5 (24 modes, 20 fair)
    no --ema         G_ema (--ema 0.999) gave about the same (25, 25 fair, 94.4 %)

Metrics (printed at each picture and at the end): gan_eval_modes on 2500 samples of G drawn from a
fixed noise batch, against the mixture's centres with sigma its std:
    modes          modes covered: at least one sample within 3 std of the mode's centre
    high quality   the share of the samples within 3 std of some mode's centre
    fair           modes holding at least 20 % of their fair share: at least 0.2 x 2500 / k
                   high-quality samples (63 for ring8, 20 for grid25) whose nearest centre it is
    kl             KL(p || uniform) in nats, p the histogram over the modes of the high-quality
                   samples (each counted at its nearest centre): 0 when they are spread evenly,
                   log k (2.08, 3.22) when there are none
The final line, "modes M of K, high quality Q %, fair F of K, kl X (...)", is what
tests/examples_check.sh and bench/quality.sh read (as whitespace-separated fields 2, 4, 7, 10, 14).
The targets these defaults meet on seeds 1, 2 and 3: ring8 8 of 8 modes, 8 fair, at least 90 % high
quality; grid25 25 of 25, 25 fair, at least 80 % (PacGAN4 reports 24.8 of 25 modes at 93.6 %). They
measured ring8 96.7, 96.5 and 98.8 %, grid25 93.6, 95.4 and 93.9 %, every mode covered and fair. Not
every seed makes it: grid25 at seed 4 ends with five modes short (24 modes, 20 fair, 94.2 %), and
at seed 5 it passes (25, 25 fair, 94.4 %).

Pictures (PNG, 512 x 512), in --out DIR (default out/): toy2d_stepNNNNNN.png at step 0 and each
quarter of --steps: 2500 samples of the true mixture in light grey with G's 2500 in red on top, axes
through the origin, the window [-3, 3]^2 (ring8) or [-6, 6]^2 (grid25).

Runtime: about 41 s (39 to 43 s) of wall clock for either mixture with --threads 1, on this 2-core VM
(AMD EPYC, Zen 4, gcc 12 -O2) while another job held the other core.

What the pictures show at seed 1. ring8: at step 0 a small red smear at the origin (G's
untrained outputs) among the eight grey modes; at step 8000 a red ring through all eight modes, each
a red clump (some elongated along the circle) joined to the next by a trail of samples; at step
32000 tight red clusters on all eight grey modes with a few dozen stray samples along the arcs
between them. grid25: at step 0 the same red smear on the centre mode; at step 8000 red samples in
vertical stripes along the five columns of modes, more scattered between them (23 modes,
18.3 %); at step 16000 a red cluster on every grey mode, with dotted lines of samples along the grid
lines between neighbours (82.5 %); at step 32000 red clusters on all 25 modes and far fewer strays,
most of them on short vertical and horizontal dotted lines between neighbouring modes.

Flags: those of examples/train_flags.h that apply here: --steps --batch --lr --loss --pack --ema --seed
--threads --out --dump N FILE (text, one "x y" line a sample) --save FILE --save-every K --resume FILE
--help; not --data, --dataset, --epochs (the data is endless), --dump-bn (no BatchNorm) or
--dump-labels. Its own: --dist ring8|grid25, --zdim N, --hidden N, --decay F.

Checkpoints (the details are at the top of examples/train_flags.h): --save FILE writes the whole run
to FILE when training ends, --save-every K also after every K-th step; --resume FILE goes on from it.
Beside gan.h's state the file keeps this example's own: --dist, --zdim, --hidden and --decay
(user.dist ...), the learning rate the decay starts from (user.lr; the file's optimizer rate is the
decayed one) and the real data's random stream (user.data_rng). The decay is laid over --steps, so a
resume with the first run's --steps (after Ctrl-C: its command line with --resume FILE added) ends
with the same checkpoint, byte for byte, as a run that was not stopped; with another total the
rates follow that total's schedule from there on (with --decay 0 any split gives the same bytes).
Ctrl-C stops after the step under way and saves (to the --save file, else out/toy2d_interrupted.st;
exit status 130).
*/

#define _POSIX_C_SOURCE 200809L /* mkdir and clock_gettime under -std=c99 */

#define GAN_IMPLEMENTATION
#include "../gan.h"
#define TF_NO_IMAGES /* points, not images: no data set, grids or IDX dumps */
#include "train_flags.h"

#define N_EVAL 2500        /* samples the metrics and pictures use, as in the papers */
#define PIC 512            /* pictures are PIC x PIC pixels */
#define MAX_MODES 25

/* The mixture: its modes' centres and their common standard deviation. */
typedef struct mixture {
    int k;
    double std;
    double cx[MAX_MODES], cy[MAX_MODES];
    double extent;       /* the picture's window is [-extent, extent]^2 */
    gan_rng rng;         /* the real data's own stream */
} mixture;

static int mixture_init(mixture *m, const char *dist, uint64_t seed)
{
    int i;
    memset(m, 0, sizeof *m);
    if (strcmp(dist, "ring8") == 0) {
        m->k = 8;
        m->std = 0.02;
        m->extent = 3;
        for (i = 0; i < 8; i++) {
            m->cx[i] = 2 * cos(2 * 3.14159265358979323846 * i / 8);
            m->cy[i] = 2 * sin(2 * 3.14159265358979323846 * i / 8);
        }
    } else if (strcmp(dist, "grid25") == 0) {
        m->k = 25;
        m->std = 0.05;
        m->extent = 6;
        for (i = 0; i < 25; i++) {
            m->cx[i] = -4 + 2 * (i % 5);
            m->cy[i] = -4 + 2 * (i / 5);
        }
    } else {
        return 0;
    }
    gan_rng_seed(&m->rng, seed);
    return 1;
}

/* The gan_real_fn: n points, each from a mode chosen uniformly plus N(0, std^2 I) noise. */
static int mixture_real(void *user, gan_float *x, gan_float *labels, int n)
{
    mixture *m = (mixture *)user;
    int i;
    (void)labels;
    for (i = 0; i < n; i++) {
        int j = (int)(gan_rng_u32(&m->rng) % (uint32_t)m->k);
        x[2 * i] = (gan_float)(m->cx[j] + m->std * gan_rng_normal(&m->rng));
        x[2 * i + 1] = (gan_float)(m->cy[j] + m->std * gan_rng_normal(&m->rng));
    }
    return 1;
}

/* gan_eval_modes' four figures for n points xy against mixture m. 1, or 0 after printing why not. */
static int score(const mixture *m, const gan_float *xy, int n, gan_mode_scores *sc)
{
    gan_float centres[2 * MAX_MODES];
    int j;
    for (j = 0; j < m->k; j++) {
        centres[2 * j] = (gan_float)m->cx[j];
        centres[2 * j + 1] = (gan_float)m->cy[j];
    }
    if (gan_eval_modes(sc, xy, n, centres, m->k, (gan_float)m->std)) return 1;
    fprintf(stderr, "toy2d: %s\n", gan_last_error());
    return 0;
}

/* The scatter plot: real points light grey, G's red, axes dark grey, on white. */
static int save_plot(const tf_flags *f, const mixture *m, const gan_float *real, const gan_float *fake, long step)
{
    static const uint8_t white[3] = { 255, 255, 255 }, grey[3] = { 190, 190, 190 }, axis[3] = { 120, 120, 120 },
                         red[3] = { 220, 30, 30 };
    uint8_t *rgb = (uint8_t *)malloc((size_t)PIC * PIC * 3);
    gan_float e = (gan_float)m->extent;
    char path[1024];
    int ok;
    if (!rgb) return 0;
    gan_plot_fill(rgb, PIC, PIC, white);
    gan_plot_axes(rgb, PIC, PIC, -e, e, -e, e, axis);
    gan_plot_points(rgb, PIC, PIC, real, N_EVAL, -e, e, -e, e, 2, grey);
    gan_plot_points(rgb, PIC, PIC, fake, N_EVAL, -e, e, -e, e, 1, red);
    snprintf(path, sizeof path, "%s/toy2d_step%06ld.png", f->out, step);
    ok = gan_png_save(path, rgb, PIC, PIC, 3, 3 * PIC);
    if (ok) printf("wrote %s\n", path);
    else fprintf(stderr, "toy2d: %s\n", gan_last_error());
    free(rgb);
    return ok;
}

/* --dump N FILE: N samples of G, one "x y" line each. */
static int dump_text(const tf_flags *f, gan_trainer *t, int zdim)
{
    size_t n = (size_t)f->dump_n, i;
    gan_float *z = (gan_float *)malloc(sizeof(gan_float) * n * (size_t)zdim), *xy = (gan_float *)malloc(sizeof(gan_float) * n * 2);
    gan_tensor zt, yt;
    gan_rng rng;
    FILE *out;
    int ok = 0;
    if (!z || !xy) goto done;
    gan_rng_seed(&rng, (uint64_t)f->seed + 0x5eedull);
    gan_fill_normal(z, n * (size_t)zdim, 0, 1, &rng);
    zt = gan_tensor_make(z, (int)n, zdim, 1, 1);
    yt = gan_tensor_make(xy, (int)n, 2, 1, 1);
    if (!gan_trainer_sample(t, &yt, &zt, NULL, GAN_STATS_RUNNING)) {
        fprintf(stderr, "toy2d: %s\n", gan_last_error());
        goto done;
    }
    if (!(out = fopen(f->dump_file, "w"))) {
        fprintf(stderr, "toy2d: cannot write %s\n", f->dump_file);
        goto done;
    }
    for (i = 0; i < n; i++) fprintf(out, "%.6f %.6f\n", (double)xy[2 * i], (double)xy[2 * i + 1]);
    ok = fclose(out) == 0;
    if (ok) printf("dumped %ld samples to %s\n", f->dump_n, f->dump_file);
done:
    free(z);
    free(xy);
    return ok;
}

/* The figures as the progress and final lines print them, between before and after. */
static void print_scores(const char *before, const gan_mode_scores *sc, int k, const char *after)
{
    printf("%smodes %d of %d, high quality %.1f %%, fair %d of %d, kl %.4f%s\n", before, sc->modes, k,
           100 * sc->high_quality, sc->modes_fair, k, sc->kl, after);
}

/* G: z -> hidden -> hidden -> (x, y); D: pack points -> hidden -> hidden -> 1. */
static gan_graph *mlp(int in, int hidden, int out)
{
    gan_graph *g = gan_graph_new();
    gan_layer L[5];
    if (!g) return NULL;
    L[0] = gan_linear(in, hidden);
    L[1] = gan_relu();
    L[2] = gan_linear(hidden, hidden);
    L[3] = gan_relu();
    L[4] = gan_linear(hidden, out);
    gan_chain(g, gan_input(g, gan_chw(in, 1, 1)), L, 5);
    return g;
}

int main(int argc, char **argv)
{
    tf_flags f;
    const char *dist = "ring8";
    int zdim = 2, hidden = 128, rc;
    double decay = 0.75;
    tf_option extra[4] = { /* all four are settings a checkpoint keeps */
        { "dist", TF_STRING, (void *)&dist, 0, 0, "ring8|grid25", "the mixture (default ring8)", 1 },
        { "zdim", TF_INT, &zdim, 1, 256, "N", "length of G's noise vector, 1 to 256 (default 2)", 1 },
        { "hidden", TF_INT, &hidden, 1, 4096, "N", "units in each of the two hidden layers (default 128)", 1 },
        { "decay", TF_DOUBLE, &decay, 0, 1, "F",
          "both learning rates fall linearly to 0 over the last F of the steps (default 0.75; 0: none)", 1 }
    };
    mixture mix, eval;
    gan_graph *gg, *dg;
    gan_net *G, *D, *G_ema = NULL;
    gan_trainer *t;
    gan_train_config cfg;
    gan_rng rng;
    gan_float *fixed_z, *fake, *real;
    gan_step_stats s;
    gan_mode_scores sc;
    tf_progress p;
    long step, total, every, decay_from;

    tf_defaults(&f, "toy2d",
                "Trains an MLP GAN (PacGAN2: --pack 2) on a 2-D mixture of Gaussians; prints gan_eval_modes' figures.",
                TF_PACK);
    f.extra = extra;
    f.n_extra = 4;
    f.steps = 32000;
    f.batch = 256;
    f.lr = 1e-3;
    f.pack = 2;
    f.data_dir = NULL;
    f.lr_schedule = 1;      /* --decay changes the nets' rates: a checkpoint keeps the starting one */
    f.data_rng = &mix.rng;  /* the real data's stream goes into a checkpoint (user.data_rng) */
    if ((rc = tf_parse(&f, argc, argv)) >= 0) return rc;
    if (!mixture_init(&mix, dist, (uint64_t)f.seed + 1) || !mixture_init(&eval, dist, (uint64_t)f.seed + 2)) {
        tf_usage(&f, stderr);
        fprintf(stderr, "toy2d: --dist is ring8 or grid25, not %s\n", dist);
        return 2;
    }
    if (!tf_make_dir(&f, f.out)) return 1;

    cfg = tf_config(&f);
    gan_rng_seed(&rng, (uint64_t)f.seed);
    gg = mlp(zdim, hidden, 2);
    dg = mlp(2 * f.pack, hidden, 1);
    G = gg ? gan_net_build(gg, cfg.batch, 0, &rng) : NULL;
    D = dg ? gan_net_build(dg, cfg.batch / cfg.pack, cfg.penalty_weight > 0 ? GAN_BUILD_PENALTY : 0, &rng) : NULL;
    if (G && f.ema > 0) G_ema = gan_net_build(gg, cfg.batch, 0, &rng);
    if (!G || !D || (f.ema > 0 && !G_ema)) {
        fprintf(stderr, "toy2d: gan_net_build: %s\n", gan_last_error());
        return 1;
    }
    if (!(t = gan_trainer_create(G, D, G_ema, &cfg))) {
        fprintf(stderr, "toy2d: %s\n", gan_last_error());
        return 1;
    }
    total = f.steps;
    decay_from = total - (long)(decay * (double)total + 0.5);
    printf("toy2d: %s, z %d, hidden %d, loss %s, lr %g, batch %d, pack %d%s, %ld steps (lr decay from step %ld), "
           "threads %d\n",
           dist, zdim, hidden, gan_family_name(f.family), (double)cfg.opt_g.lr, cfg.batch, cfg.pack,
           G_ema ? ", EMA" : "", total, decay_from, gan_threads());
    if (!tf_resume_load(&f, t, NULL, total)) return 1;

    fixed_z = (gan_float *)malloc(sizeof(gan_float) * N_EVAL * (size_t)zdim);
    fake = (gan_float *)malloc(sizeof(gan_float) * N_EVAL * 2);
    real = (gan_float *)malloc(sizeof(gan_float) * N_EVAL * 2);
    if (!fixed_z || !fake || !real) {
        fprintf(stderr, "toy2d: out of memory\n");
        return 1;
    }
    gan_fill_normal(fixed_z, (size_t)N_EVAL * (size_t)zdim, 0, 1, &rng);
    mixture_real(&eval, real, NULL, N_EVAL);
    if (!score(&mix, real, N_EVAL, &sc)) return 1;
    print_scores("the mixture's own samples: ", &sc, mix.k, "");

    every = total >= 20 ? total / 20 : 1;
    tf_progress_start(&p, t);
    tf_catch_signals(1);
    for (step = (long)t->steps;; step++) { /* a resumed run goes on with its step numbers */
        if (tf_picture_due(step, total, 4)) {
            gan_tensor zt = gan_tensor_make(fixed_z, N_EVAL, zdim, 1, 1), yt = gan_tensor_make(fake, N_EVAL, 2, 1, 1);
            if (!gan_trainer_sample(t, &yt, &zt, NULL, GAN_STATS_RUNNING)) {
                fprintf(stderr, "toy2d: %s\n", gan_last_error());
                return 1;
            }
            if (!score(&mix, fake, N_EVAL, &sc)) return 1;
            {
                char at[32];
                snprintf(at, sizeof at, "step %ld: ", step);
                print_scores(at, &sc, mix.k, "");
            }
            save_plot(&f, &mix, real, fake, step);
        }
        if (step >= total) break;
        if (step >= decay_from) { /* the rates stay in the nets' gan_optim, which keeps Adam's moments */
            double k = (double)(total - step) / (double)(total - decay_from);
            G->opt.lr = (gan_float)(cfg.opt_g.lr * k);
            D->opt.lr = (gan_float)(cfg.opt_d.lr * k);
        }
        if (!gan_train_step(t, &s, mixture_real, &mix)) return tf_step_failed(&f); /* saves nothing */
        tf_progress_add(&p, &s);
        if (!tf_finite(&s)) {
            fprintf(stderr, "toy2d: the losses are no longer finite at step %ld\n", step + 1);
            return 1;
        }
        if ((step + 1) % every == 0 || step + 1 == total) tf_progress_line(&p, t, step + 1, total, -1);
        if ((rc = tf_step_done(&f, t, NULL, total)) >= 0) return rc; /* a signal, or --save-every failed */
    }
    printf("trained in %.1f s\n", tf_seconds() - p.t_start);
    if ((rc = tf_finish(&f, t, NULL, total)) >= 0) return rc;
    print_scores("", &sc, mix.k, " (2500 samples of G, gan_eval_modes)");
    if (f.dump_n > 0 && !dump_text(&f, t, zdim)) return 1;

    free(fixed_z);
    free(fake);
    free(real);
    gan_trainer_free(t);
    gan_net_free(G);
    gan_net_free(D);
    gan_net_free(G_ema);
    gan_graph_free(gg);
    gan_graph_free(dg);
    gan_set_threads(1); /* joins the workers, so a leak checker finds nothing held */
    return 0;
}
