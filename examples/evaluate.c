/*
evaluate.c - scores generated 28x28 images with gan.h's eval section: trains its small classifier on
the real data, then says what the classifier makes of each file of samples (issue 11's quality table).

    cc -O2 examples/evaluate.c -lm -o evaluate && ./evaluate --data DIR --calibrate samples.idx

DIR (or the environment variable GAN_DATA) holds the MNIST IDX files, directly or in DIR/mnist
(DIR/fashion-mnist for --dataset fashion), as examples/train_flags.h finds them. Without one the
built-in procedural shapes (gan_dataset_shapes, 4 classes) stand in, and the first line says so.
    mnist     the classifier trains on digits 0-7999 of the 10,000 test digits (t10k, the only MNIST
              split these machines have, and what the examples train on), 5 epochs; its accuracy is
              measured on digits 8000-9999, which are also the Frechet reference (2,000 images)
    fashion   it trains on the 60,000 training images, 1 epoch; accuracy and reference: t10k (10,000)
    builtin   10,000 shapes drawn with --seed, split as MNIST's digits are
Each FILE is an IDX file of unsigned bytes, N x 28 x 28, gzipped or not: what the examples' --dump N
FILE writes and what bench/peers/ *.idx.gz hold. FILE:LABELS adds an IDX1 of the class each sample was
meant to be (a conditional G: the examples' --dump-labels), which gives the label accuracy.

The scores (gan.h's eval section, under "---- eval", defines them; K classes, p_k the share of the
images the classifier puts in class k):
    covered   the classes with p_k >= 0.01; a G that has dropped a class has a lower count
    kl        KL(p || uniform) in nats: 0 when every class is equally frequent, log K (2.303 for 10
              classes) when all images are one class
    conf      the mean of the classifier's largest softmax probability: low for images that look
              like no class (noise, blurs, scrawls)
    acc       the share of images classified as their label (a labelled set), else "-"
    fd        the Frechet distance between Gaussians fitted to the classifier's 128 features of the
              images and of the reference: 0 for identical statistics, larger the further apart
              (like FID, but with this classifier in place of Inception, so only comparable with
              other numbers from this program with the same data, epochs and seed)

Output (stdout): lines starting with "#" are comments; then one "classifier" line and one "row" line
per set of images, fields separated by blanks, each value after "key=":
    classifier dataset=mnist trained=8000 epochs=5 loss=0.1665 heldout=2000 acc=0.9780 seconds=74.6
    row NAME     n=N      covered=C  kl=X.XXXX conf=X.XXXX acc=X.XXXX fd=X.XX
NAME is a calibration row's name or the file as given (without ":LABELS"; blanks become '_'), in a
column as wide as the longest; acc is "-" when the set has no labels; seconds is the wall clock of
training the classifier and fitting the reference. awk '$1 == "row"' picks the rows, and a field's
value is what follows its "=" (bench/quality.sh and tests/quality_check.sh read it so).

--calibrate adds four rows computed on the real data, to read the others against:
    real       real images against the reference: about what a perfect G would score (MNIST: digits
               0-7999, the classifier's training digits; Fashion: training images 0-9999 against
               t10k, images the classifier saw, as a G's samples imitate the training set)
    blurred    the same images, each box-blurred with a 3x3 kernel (1 pixel each way, the mean of the
               pixels inside the picture): what a small loss of sharpness costs
    repeated   one real image (the real rows' first) 2000 times: total mode collapse
    noise      as many images as "real" of uniformly random bytes: no resemblance at all
Measured on MNIST (default flags: classifier seed 1, 5 epochs; loss 0.1665, held-out accuracy 0.9780),
with classifier seeds 2 and 3 in brackets:
    real       n=8000  covered=10 kl=0.0017 conf=0.9664 acc=0.9754 fd=12.46     [fd 12.20, 13.67]
    blurred    n=8000  covered=10 kl=0.0020 conf=0.9461 acc=0.9673 fd=65.74     [fd 105.08, 80.60]
    repeated   n=2000  covered=1  kl=2.3026 conf=0.9996 acc=1.0000 fd=1523.27   [fd 1601.78, 1651.35]
    noise      n=8000  covered=3  kl=1.2075 conf=0.4609 acc=-      fd=754.89    [fd 899.76, 831.06]
    (held-out accuracy 0.9810 and 0.9775 for seeds 2 and 3)
and for comparison PyTorch's DCGAN of bench/peers/dcgan-seed1.idx.gz (1500 steps, 10,000 samples)
covered=10 kl=0.1020 conf=0.7983 fd=93.53, its conditional DCGAN (bench/peers/cgan-seed1, 2000 steps,
with its labels) covered=10 kl=0.0004 conf=0.9620 acc=0.9561 fd=11.18, and dcgan.c after 300 steps
(2000 samples, seeds 1, 2, 3) fd 205, 219, 199. So on MNIST an fd near 12 is the real data's own, a blur of one pixel costs 50 to 90,
and a collapsed G or noise scores far above 500. The real row's 12 is mostly not sampling noise: the
first and last 5000 of t10k come from different writers (NIST's training and test sets), the
reference is all of the second kind, and the classifier's features tell them apart (2000 digits of
6000-7999 score 6.7 against it, 2000 of 0-1999 23.3); a G trained on all of t10k imitates both.
On Fashion (1 epoch, held-out accuracy 0.8470): real fd 0.28, blurred 28.62, repeated 1459.35, noise
607.03. fd has no common scale across data sets or classifier settings, and its estimate grows as the
set shrinks: compare sets of the same size, scored in the same run or with the same flags.

Runtime on this 2-core VM (gcc 12 -O2, --threads 1, CPU time; the other core ran other jobs, which
doubled the wall clock): MNIST with --calibrate 38 s (the classifier's 5 epochs about 30 s, scoring
0.26 ms an image, so 2.6 s for a 10,000-sample file); Fashion with --calibrate 56 s (its epoch of
60,000 images about 45 s).

Flags: --data DIR, --dataset mnist|fashion|builtin, --epochs N (the classifier's passes; default 5,
fashion 1), --seed N (the classifier's weights and order, and the noise row; default 1), --threads N
(gan_set_threads; default: gan.h's), --calibrate, --help. A bad flag prints the usage line on stderr
and exits with status 2; a file that cannot be read or scored prints gan_last_error()'s message on
stderr, the other files are still scored, and the exit status is 1 (a file that is not there stops it
at once, before the classifier trains). Flags and files may come in any order; after "--" every
argument is a file.
*/

#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c99 */

#define GAN_IMPLEMENTATION
#include "../gan.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 100          /* the classifier's batch, in training and in scoring */
#define REPEATS 2000       /* copies in the "repeated" row */

static int name_width = 8; /* the NAME column's width: the longest name of the run */

static const char usage[] = "usage: evaluate [--data DIR] [--dataset mnist|fashion|builtin] [--epochs N] [--seed N] "
                            "[--threads N] [--calibrate] [--help] [FILE[:LABELS] ...]\n";

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A bad command line: the reason and the usage line on stderr; the exit status is 2. */
static int bad(const char *what, const char *arg)
{
    fprintf(stderr, "evaluate: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
    fputs(usage, stderr);
    return 2;
}

/* A whole string as an integer in [lo, hi]: 1, or 0. */
static int integer(long *v, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    *v = strtol(s, &end, 10);
    return end != s && *end == '\0' && errno == 0 && *v >= lo && *v <= hi;
}

/* The sets the scores are measured against: the classifier's training images are train's first ..
   first + count - 1, the reference (and held-out accuracy) ref's; "real" rows are real's. */
typedef struct sets {
    gan_dataset train, test;     /* test is unused (n 0) when the data come from one split */
    const gan_dataset *tr, *ref, *real;
    int tr_first, tr_count, ref_first, ref_count, real_first, real_count;
} sets;

/* Loads the data set and settles the ranges. 1, or 0 after printing why not. */
static int load(sets *s, const char *dir, const char **name, unsigned long seed)
{
    memset(s, 0, sizeof *s);
    if (!*name) *name = dir ? "mnist" : "builtin";
    if (strcmp(*name, "builtin") == 0) {
        if (!gan_dataset_shapes(&s->train, 10000, 28, (uint64_t)seed)) goto fail;
    } else if (!dir) {
        fprintf(stderr, "evaluate: --dataset %s needs --data DIR or GAN_DATA\n", *name);
        return 0;
    } else if (strcmp(*name, "mnist") == 0) {
        if (!gan_dataset_load(&s->train, dir, "mnist", GAN_SPLIT_TEST)) goto fail;
    } else {
        if (!gan_dataset_load(&s->train, dir, "fashion", GAN_SPLIT_TRAIN) ||
            !gan_dataset_load(&s->test, dir, "fashion", GAN_SPLIT_TEST))
            goto fail;
    }
    if (!s->train.labels || s->train.classes < 2 || s->train.c != 1 || s->train.h != 28 || s->train.w != 28 ||
        (s->test.n && !s->test.labels)) {
        fprintf(stderr, "evaluate: the %s images are not 28 x 28 with labels of 2 classes or more\n", *name);
        return 0;
    }
    s->tr = s->real = &s->train;
    if (s->test.n) { /* fashion: train on the training split, measure on t10k */
        s->ref = &s->test;
        s->tr_count = s->train.n;
        s->ref_count = s->test.n;
        s->real_count = s->train.n < 10000 ? s->train.n : 10000;
    } else { /* one split: the first 80 % to train, the rest the reference */
        s->ref = &s->train;
        s->tr_count = s->train.n * 4 / 5;
        s->ref_first = s->tr_count;
        s->ref_count = s->train.n - s->tr_count;
        s->real_count = s->tr_count;
    }
    if (s->ref_count < 2 || s->tr_count < 1) {
        fprintf(stderr, "evaluate: %d images are too few\n", s->train.n);
        return 0;
    }
    return 1;
fail:
    fprintf(stderr, "evaluate: %s\n", gan_last_error());
    return 0;
}

/* One row of the table. */
static void row(const char *name, const gan_image_scores *sc)
{
    char label[256], acc[16];
    size_t i;
    snprintf(label, sizeof label, "%s", name);
    for (i = 0; label[i]; i++)
        if (label[i] == ' ' || label[i] == '\t' || label[i] == '\n') label[i] = '_';
    if (sc->labelled) snprintf(acc, sizeof acc, "%.4f", sc->accuracy);
    else snprintf(acc, sizeof acc, "-");
    printf("row %-*s n=%-6d covered=%-2d kl=%.4f conf=%.4f acc=%-6s fd=%.2f\n", name_width, label, sc->n,
           sc->covered, sc->kl, sc->confidence, acc, sc->frechet);
    fflush(stdout);
}

/* Scores images first .. first + count - 1 of d and prints the row. 1, or 0 after printing why not. */
static int score(const char *name, gan_net *net, const gan_dataset *d, int first, int count, const gan_gaussian *ref)
{
    gan_image_scores sc;
    if (!gan_eval_images(&sc, net, d, first, count, ref)) {
        fprintf(stderr, "evaluate: %s: %s\n", name, gan_last_error());
        return 0;
    }
    row(name, &sc);
    return 1;
}

/* The calibration rows of the --calibrate flag (see the top of the file). 1, or 0 after printing. */
static int calibrate(const sets *s, gan_net *net, const gan_gaussian *ref, unsigned long seed)
{
    const gan_dataset *r = s->real;
    size_t per = (size_t)r->c * r->h * r->w, n = (size_t)s->real_count, i;
    gan_dataset d;
    gan_rng rng;
    int ok, x, y, k;
    ok = score("real", net, r, s->real_first, s->real_count, ref);

    memset(&d, 0, sizeof d);
    d.n = s->real_count;
    d.c = r->c;
    d.h = r->h;
    d.w = r->w;
    d.classes = r->classes;
    d.labels = r->labels + s->real_first;
    d.pixels = (uint8_t *)malloc((n > REPEATS ? n : REPEATS) * per); /* room for every row below */
    if (!d.pixels) {
        fprintf(stderr, "evaluate: out of memory\n");
        return 0;
    }
    /* blurred: each pixel the rounded mean of the 3x3 window's pixels inside the picture */
    for (i = 0; i < n; i++) {
        const uint8_t *src = r->pixels + ((size_t)s->real_first + i) * per;
        uint8_t *dst = d.pixels + i * per;
        for (y = 0; y < r->h; y++)
            for (x = 0; x < r->w; x++) {
                int sum = 0, m = 0, dy, dx;
                for (dy = -1; dy <= 1; dy++)
                    for (dx = -1; dx <= 1; dx++) {
                        if (y + dy < 0 || y + dy >= r->h || x + dx < 0 || x + dx >= r->w) continue;
                        sum += src[(y + dy) * r->w + x + dx];
                        m++;
                    }
                dst[y * r->w + x] = (uint8_t)((sum + m / 2) / m);
            }
    }
    ok = score("blurred", net, &d, 0, d.n, ref) && ok;

    /* repeated: the first real image, REPEATS times, with its label */
    d.n = REPEATS;
    d.labels = (uint8_t *)malloc(REPEATS);
    if (!d.labels) {
        free(d.pixels);
        fprintf(stderr, "evaluate: out of memory\n");
        return 0;
    }
    for (k = 0; k < REPEATS; k++) {
        memcpy(d.pixels + (size_t)k * per, r->pixels + (size_t)s->real_first * per, per);
        d.labels[k] = r->labels[s->real_first];
    }
    ok = score("repeated", net, &d, 0, d.n, ref) && ok;
    free(d.labels);
    d.labels = NULL;

    /* noise: as many images as "real", every byte uniform in 0..255, no labels */
    d.n = s->real_count;
    d.classes = 0;
    gan_rng_seed(&rng, (uint64_t)seed + 0x4015e);
    for (i = 0; i < n * per; i++) d.pixels[i] = (uint8_t)(gan_rng_u32(&rng) >> 24);
    ok = score("noise", net, &d, 0, d.n, ref) && ok;
    free(d.pixels);
    return ok;
}

/* Whether a file can be opened for reading. */
static int readable(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* FILE or FILE:LABELS -> the images' path (the whole argument when that is a file, else the part
   before its last ':') in images, and the labels' path or NULL. */
static void split_arg(char *images, size_t cap, const char **labels, const char *arg)
{
    const char *colon = strrchr(arg, ':');
    snprintf(images, cap, "%s", arg);
    *labels = NULL;
    if (!readable(arg) && colon && (size_t)(colon - arg) < cap) {
        images[colon - arg] = '\0';
        *labels = colon + 1;
    }
}

/* Loads the samples of FILE[:LABELS] and scores them. 1, or 0 after printing why not. */
static int score_file(const char *arg, gan_net *net, const gan_gaussian *ref)
{
    char images[1024];
    const char *labels;
    gan_dataset d;
    int ok;
    split_arg(images, sizeof images, &labels, arg);
    if (!gan_dataset_load_idx(&d, images, labels)) {
        fprintf(stderr, "evaluate: %s\n", gan_last_error());
        return 0;
    }
    ok = score(images, net, &d, 0, d.n, ref);
    gan_dataset_free(&d);
    return ok;
}

int main(int argc, char **argv)
{
    const char *dir = getenv("GAN_DATA"), *name = NULL;
    long epochs = 0, v;
    unsigned long seed = 1;
    int threads = -1, calib = 0, i, n_files = 0, ok = 1, dashes = 0;
    const char **files = (const char **)malloc(sizeof(const char *) * (size_t)argc);
    sets s;
    gan_net *net;
    gan_gaussian ref;
    gan_image_scores held;
    double t0, loss = 0;

    if (dir && !*dir) dir = NULL;
    if (!files) {
        fprintf(stderr, "evaluate: out of memory\n");
        return 1;
    }
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *b = i + 1 < argc ? argv[i + 1] : NULL;
        if (dashes || a[0] != '-' || a[1] != '-') { /* a file */
            files[n_files++] = a;
            continue;
        }
        if (strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            printf("Trains gan.h's classifier on the real data and scores IDX files of generated 28x28 samples\n"
                   "(classes covered, class KL, confidence, label accuracy, Frechet distance); the top of\n"
                   "examples/evaluate.c describes the output.\n");
            return 0;
        }
        if (strcmp(a, "--calibrate") == 0) {
            calib = 1;
            continue;
        }
        if (strcmp(a, "--") == 0) { /* the rest are files, whatever their names */
            dashes = 1;
            continue;
        }
        if (strcmp(a, "--data") != 0 && strcmp(a, "--dataset") != 0 && strcmp(a, "--epochs") != 0 &&
            strcmp(a, "--seed") != 0 && strcmp(a, "--threads") != 0)
            return bad("unknown flag", a);
        if (!b) return bad("no value after", a);
        i++;
        if (strcmp(a, "--data") == 0) {
            dir = b;
        } else if (strcmp(a, "--dataset") == 0) {
            if (strcmp(b, "mnist") != 0 && strcmp(b, "fashion") != 0 && strcmp(b, "builtin") != 0)
                return bad("bad value of --dataset (mnist, fashion or builtin)", b);
            name = b;
        } else if (strcmp(a, "--epochs") == 0) {
            if (!integer(&epochs, b, 1, 1000)) return bad("bad value of --epochs (1 to 1000)", b);
        } else if (strcmp(a, "--seed") == 0) {
            if (!integer(&v, b, 0, 2147483647L)) return bad("bad value of --seed", b);
            seed = (unsigned long)v;
        } else {
            if (!integer(&v, b, 0, 64)) return bad("bad value of --threads (0 to 64)", b);
            threads = (int)v;
        }
    }
    if (threads >= 0 && !gan_set_threads(threads)) fprintf(stderr, "evaluate: threads: %s\n", gan_last_error());
    for (i = 0; i < n_files; i++) { /* a file that is not there stops it before the classifier's training */
        char images[1024];
        const char *labels;
        split_arg(images, sizeof images, &labels, files[i]);
        if (!readable(images) || (labels && !readable(labels))) {
            fprintf(stderr, "evaluate: cannot open %s\n", readable(images) ? labels : images);
            return 1;
        }
        if ((int)strlen(images) > name_width) name_width = (int)strlen(images); /* the NAME column fits it */
    }

    if (!load(&s, dir, &name, seed)) return 1;
    if (epochs == 0) epochs = strcmp(name, "fashion") == 0 ? 1 : 5;
    if (strcmp(name, "builtin") == 0)
        printf("# evaluate: builtin shapes, %d images of 28x28 in %d classes (%s)\n", s.train.n, s.train.classes,
               dir ? "--dataset builtin" : "no --data or GAN_DATA");
    else
        printf("# evaluate: %s from %s, %d images%s of 28x28 in %d classes\n", name, dir, s.train.n + s.test.n,
               s.test.n ? " (train and t10k)" : " (t10k)", s.train.classes);
    printf("# classifier: %d epoch%s on images %d-%d of %s, seed %lu, threads %d; reference: images %d-%d of %s\n",
           (int)epochs, epochs == 1 ? "" : "s", s.tr_first, s.tr_first + s.tr_count - 1, s.test.n ? "train" : "the set",
           seed, gan_threads(), s.ref_first, s.ref_first + s.ref_count - 1, s.test.n ? "t10k" : "the set");
    fflush(stdout);

    t0 = seconds();
    net = gan_classifier_create(gan_chw(1, 28, 28), s.tr->classes, BATCH, (uint64_t)seed);
    if (!net || !gan_classifier_train(net, s.tr, s.tr_first, s.tr_count, (int)epochs, (uint64_t)seed + 1, &loss) ||
        !gan_classifier_gaussian(&ref, net, s.ref, s.ref_first, s.ref_count) ||
        !gan_eval_images(&held, net, s.ref, s.ref_first, s.ref_count, NULL)) {
        fprintf(stderr, "evaluate: %s\n", gan_last_error());
        return 1;
    }
    printf("classifier dataset=%s trained=%d epochs=%d loss=%.4f heldout=%d acc=%.4f seconds=%.1f\n", name,
           s.tr_count, (int)epochs, loss, s.ref_count, held.accuracy, seconds() - t0);
    printf("#   %-*s %-8s %-10s %-9s %-11s %-10s %s\n", name_width, "NAME", "n=", "covered=", "kl=", "conf=", "acc=",
           "fd=");
    fflush(stdout);

    if (calib) ok = calibrate(&s, net, &ref, seed) && ok;
    for (i = 0; i < n_files; i++) ok = score_file(files[i], net, &ref) && ok;

    gan_gaussian_free(&ref);
    gan_net_free(net);
    gan_dataset_free(&s.train);
    gan_dataset_free(&s.test);
    free(files);
    return ok ? 0 : 1;
}
