/*
toy2d.c - the 2-D mode-collapse benchmark of the Unrolled GAN (Metz et al. 2017), VEEGAN (Srivastava
et al. 2017) and PacGAN (Lin et al. 2018) papers, trained with gan.h's GAN step.

    cc -O2 examples/toy2d.c -lm -o toy2d && ./toy2d          (or: make, then build/toy2d)

The real data is a mixture of Gaussians sampled on the fly by this file's own gan_real_fn:
    --dist ring8     8 Gaussians of std 0.02 evenly spaced on a circle of radius 2 (the default)
    --dist grid25    25 Gaussians of std 0.05 centred on {-4, -2, 0, 2, 4}^2
G and D are MLPs of two hidden ReLU layers (--hidden N units each, default 128, as in the Unrolled GAN
and VEEGAN experiments; PacGAN's are wider and deeper):
    G: z (--zdim, default 16) -> Linear -> ReLU -> Linear -> ReLU -> Linear -> (x, y)
    D: (x, y) x pack -> Linear -> ReLU -> Linear -> ReLU -> Linear -> one output
with gan_default_train's recipe for --loss (default ns: Adam with betas 0.5, 0.999, one D step) but a
learning rate of 1e-3 for both (--lr): at the recipe's 2e-4 G's samples were still one blob
beside a single mode after 4000 steps (0 of 8 modes covered). Batch 256, PyTorch's initialization.

Metrics (printed at each picture and at the end), on 2500 samples of G drawn from a fixed noise batch:
    high quality   the share of samples within 3 std of the nearest mode's centre
    modes          the number of modes covered, a mode counting when at least 20 of the 2500 samples
                   (0.8 %; a tenth of a fair share for ring8, half of one for grid25) are high-quality
                   samples of it. This threshold is our rule: the papers count samples within 3 std
                   the same way but state their thresholds differently.
Pictures (PNG, 512 x 512), in --out DIR (default out/): toy2d_stepNNNNNN.png at step 0 and each
quarter of --steps: 2500 samples of the true mixture in light grey with G's 2500 in red on top, axes
through the origin, the window [-3, 3]^2 (ring8) or [-6, 6]^2 (grid25).

Runtime: 7.5 s for the default 4000 steps (ring8) on this 2-core VM (AMD EPYC, gcc 12 -O2), 13 s of
CPU time: the second thread gains little on networks this small (--threads 1 gives the same numbers,
bit for bit). With another job holding one core it took 41 s.

What the pictures show for the default seed (ring8): at step 0 a small red blob at the origin (G's
untrained outputs) among the eight grey modes; at step 1000 a red ring through all eight modes with
samples strewn along the arcs between them (7 of 8 modes, 20 % high quality); by step 3000 and at
the end tight red clusters on all eight grey modes, joined by thin trails of samples along the
circle (8 of 8, 75 % at step 3000, 56 % at step 4000). With --dist grid25 the default run does not
succeed: at step 4000 G's samples lie along the edges of the square through the outer modes,
crowding the four corners (4 of 25 modes, 33 % high quality), the inner modes bare.

Flags: those of examples/train_flags.h that apply here: --steps --batch --lr --loss --pack --ema --seed
--threads --out --dump N FILE (text, one "x y" line a sample) --help; not --data, --dataset,
--epochs (the data is endless), --dump-bn (no BatchNorm) or --dump-labels. Its own:
--dist ring8|grid25, --zdim N, --hidden N.
*/

#define _POSIX_C_SOURCE 200809L /* mkdir and clock_gettime under -std=c99 */

#define GAN_IMPLEMENTATION
#include "../gan.h"
#define TF_NO_IMAGES /* points, not images: no data set, grids or IDX dumps */
#include "train_flags.h"

#define N_EVAL 2500        /* samples the metrics and pictures use, as in the papers */
#define MIN_COVER 20       /* high-quality samples (of N_EVAL) a mode needs to count as covered */
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

/* The papers' two figures for n points xy: the share within 3 std of their nearest mode, and the
   number of modes with at least MIN_COVER such points. */
static void mixture_score(const mixture *m, const gan_float *xy, int n, double *quality, int *modes)
{
    int count[MAX_MODES], i, j, good = 0;
    memset(count, 0, sizeof count);
    for (i = 0; i < n; i++) {
        double best = HUGE_VAL;
        int at = 0;
        for (j = 0; j < m->k; j++) {
            double dx = xy[2 * i] - m->cx[j], dy = xy[2 * i + 1] - m->cy[j], d = dx * dx + dy * dy;
            if (d < best) {
                best = d;
                at = j;
            }
        }
        if (best <= 9 * m->std * m->std) { /* within 3 std: the squared distance against (3 std)^2 */
            good++;
            count[at]++;
        }
    }
    *quality = (double)good / n;
    *modes = 0;
    for (j = 0; j < m->k; j++) *modes += count[j] >= MIN_COVER;
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
    int zdim = 16, hidden = 128, rc, modes;
    tf_option extra[3] = {
        { "dist", TF_STRING, (void *)&dist, 0, 0, "ring8|grid25", "the mixture (default ring8)" },
        { "zdim", TF_INT, &zdim, 1, 256, "N", "length of G's noise vector, 1 to 256 (default 16)" },
        { "hidden", TF_INT, &hidden, 1, 4096, "N", "units in each of the two hidden layers (default 128)" }
    };
    mixture mix, eval;
    gan_graph *gg, *dg;
    gan_net *G, *D, *G_ema = NULL;
    gan_trainer *t;
    gan_train_config cfg;
    gan_rng rng;
    gan_float *fixed_z, *fake, *real;
    gan_step_stats s;
    tf_progress p;
    long step, total, every;
    double quality;

    tf_defaults(&f, "toy2d", "Trains an MLP GAN on a 2-D mixture of Gaussians; prints modes covered and high-quality share.",
                TF_PACK);
    f.extra = extra;
    f.n_extra = 3;
    f.steps = 4000;
    f.batch = 256;
    f.lr = 1e-3;
    f.data_dir = NULL;
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
    printf("toy2d: %s, z %d, hidden %d, loss %s, batch %d, pack %d%s, %ld steps, threads %d\n", dist, zdim, hidden,
           gan_family_name(f.family), cfg.batch, cfg.pack, G_ema ? ", EMA" : "", total, gan_threads());

    fixed_z = (gan_float *)malloc(sizeof(gan_float) * N_EVAL * (size_t)zdim);
    fake = (gan_float *)malloc(sizeof(gan_float) * N_EVAL * 2);
    real = (gan_float *)malloc(sizeof(gan_float) * N_EVAL * 2);
    if (!fixed_z || !fake || !real) {
        fprintf(stderr, "toy2d: out of memory\n");
        return 1;
    }
    gan_fill_normal(fixed_z, (size_t)N_EVAL * (size_t)zdim, 0, 1, &rng);
    mixture_real(&eval, real, NULL, N_EVAL);
    mixture_score(&mix, real, N_EVAL, &quality, &modes);
    printf("the mixture's own samples: %d of %d modes, %.1f %% high quality\n", modes, mix.k, 100 * quality);

    every = total >= 20 ? total / 20 : 1;
    tf_progress_start(&p, t);
    for (step = 0;; step++) {
        if (tf_picture_due(step, total, 4)) {
            gan_tensor zt = gan_tensor_make(fixed_z, N_EVAL, zdim, 1, 1), yt = gan_tensor_make(fake, N_EVAL, 2, 1, 1);
            if (!gan_trainer_sample(t, &yt, &zt, NULL, GAN_STATS_RUNNING)) {
                fprintf(stderr, "toy2d: %s\n", gan_last_error());
                return 1;
            }
            mixture_score(&mix, fake, N_EVAL, &quality, &modes);
            printf("step %ld: %d of %d modes covered, %.1f %% high quality\n", step, modes, mix.k, 100 * quality);
            save_plot(&f, &mix, real, fake, step);
        }
        if (step == total) break;
        if (!gan_train_step(t, &s, mixture_real, &mix)) {
            fprintf(stderr, "toy2d: gan_train_step: %s\n", gan_last_error());
            return 1;
        }
        tf_progress_add(&p, &s);
        if (!tf_finite(&s)) {
            fprintf(stderr, "toy2d: the losses are no longer finite at step %ld\n", step + 1);
            return 1;
        }
        if ((step + 1) % every == 0 || step + 1 == total) tf_progress_line(&p, t, step + 1, total, -1);
    }
    printf("trained in %.1f s\n", tf_seconds() - p.t_start);
    printf("modes %d of %d, high quality %.1f %% (2500 samples; a mode counts with >= %d of them within 3 std)\n",
           modes, mix.k, 100 * quality, MIN_COVER);
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
    return 0;
}
