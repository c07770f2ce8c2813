/*
train_flags.h - what the training examples share: the command line, the data set, progress lines,
the output directory, sample grids and --dump files. Not a part of gan.h: each example includes it
after gan.h (with GAN_IMPLEMENTATION) and defines _POSIX_C_SOURCE 200809L before anything else;
one whose data are not images (toy2d) defines TF_NO_IMAGES first, leaving out the data set, grid and
--dump helpers.

Flags (an example names the groups it takes; --help lists what it has):
    --data DIR          MNIST-layout IDX files (.gz or not) in DIR, DIR/mnist or DIR/fashion-mnist;
                        default: the environment variable GAN_DATA, else none
    --dataset NAME      mnist, fashion or builtin (gan_dataset_shapes, 28x28, no file read); default:
                        mnist when a data directory is known and has it, else builtin
    --steps N           G steps in all (one step: n_critic D steps, then one G step)
    --epochs X          instead of --steps: passes of the real data through D (a D step reads a
                        batch, so with n_critic 5 an epoch has a fifth of the G steps); --steps
                        wins when both are given
    --batch N           samples in each real, fake and G batch
    --lr X              both optimizers' learning rate (else the loss family's)
    --loss NAME         minimax, ns, lsgan, hinge, wgan, wgan-gp or r1: gan_default_train's recipe
    --pack M            PacGAN: D judges M samples joined along channels (M divides --batch)
    --ema DECAY         sample from G_ema, an exponential moving average of G (decay in (0, 1))
    --seed N            weights, data order and noise all follow from it
    --threads N         gan_set_threads (0: one per core, the default)
    --out DIR           pictures go here (created with its parents; default out)
    --dump N FILE       N samples from G as an IDX file of unsigned bytes, N x H x W, pixel =
                        round((x + 1) 127.5) clamped; G in evaluation mode (BatchNorm's running
                        estimates), or with --dump-bn batch each chunk's own statistics
    --dump-labels FILE  (conditional) the class each dumped sample was asked for, IDX, N bytes
    --help              this, on stdout, and exit status 0
A bad flag or value prints the usage line on stderr and exits with status 2.
*/

#ifndef TRAIN_FLAGS_H
#define TRAIN_FLAGS_H

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(_WIN32)
#include <direct.h>
#else
#include <sys/stat.h>
#endif

/* Groups of flags beside the ones every example has (--steps --batch --lr --loss --ema --seed
   --threads --out --dump --help). */
#define TF_DATA    1u  /* --data, --dataset, --epochs: an example that trains on a gan_dataset */
#define TF_PACK    2u  /* --pack */
#define TF_DUMP_BN 4u  /* --dump-bn (a G with BatchNorm) */
#define TF_LABELS  8u  /* --dump-labels (a conditional G) */

/* One example-specific flag: --name with an int, a double or a string, or a switch without one. */
typedef enum tf_kind { TF_INT, TF_DOUBLE, TF_STRING, TF_SWITCH } tf_kind;
typedef struct tf_option {
    const char *name;   /* without the dashes */
    tf_kind kind;
    void *value;        /* int *, double *, const char **, or int * set to 1 */
    double lo, hi;      /* the range of a number */
    const char *arg;    /* the argument's name in the usage line (NULL for a switch) */
    const char *help;
} tf_option;

typedef struct tf_flags {
    /* what the example says before parsing */
    const char *prog;           /* its name: file names start with it */
    const char *about;          /* one line for --help */
    unsigned groups;            /* TF_DATA | ... */
    const tf_option *extra;     /* its own flags */
    int n_extra;
    /* the flags: set to the example's defaults before tf_parse, changed by the command line */
    const char *data_dir;       /* NULL: none */
    const char *dataset;        /* NULL: choose (tf_load_data) */
    long steps;                 /* what --steps said, or the default when steps_set and epochs_set are 0 */
    double epochs;
    int steps_set, epochs_set;
    int batch;
    double lr;                  /* 0: the family's */
    gan_family family;
    int pack;
    double ema;                 /* 0: none */
    unsigned long seed;
    int threads;                /* -1: leave gan.h's default */
    const char *out;
    long dump_n;                /* 0: no dump */
    const char *dump_file, *dump_labels;
    gan_stats dump_stats;
} tf_flags;

/* Defaults shared by every example; the example changes what it wants before tf_parse. */
static void tf_defaults(tf_flags *f, const char *prog, const char *about, unsigned groups)
{
    memset(f, 0, sizeof *f);
    f->prog = prog;
    f->about = about;
    f->groups = groups;
    f->data_dir = getenv("GAN_DATA");
    if (f->data_dir && !*f->data_dir) f->data_dir = NULL;
    f->steps = 1000;
    f->epochs = 1;
    f->batch = 64;
    f->family = GAN_FAMILY_NONSATURATING;
    f->pack = 1;
    f->seed = 1;
    f->threads = -1;
    f->out = "out";
    f->dump_stats = GAN_STATS_RUNNING;
}

/* The usage line, on stream s. */
static void tf_usage(const tf_flags *f, FILE *s)
{
    int i;
    fprintf(s, "usage: %s", f->prog);
    if (f->groups & TF_DATA) fprintf(s, " [--data DIR] [--dataset mnist|fashion|builtin]");
    fprintf(s, " [--steps N%s] [--batch N] [--lr X]", (f->groups & TF_DATA) ? " | --epochs X" : "");
    fprintf(s, " [--loss minimax|ns|lsgan|hinge|wgan|wgan-gp|r1]");
    if (f->groups & TF_PACK) fprintf(s, " [--pack M]");
    fprintf(s, " [--ema DECAY] [--seed N] [--threads N] [--out DIR] [--dump N FILE]");
    if (f->groups & TF_DUMP_BN) fprintf(s, " [--dump-bn running|batch]");
    if (f->groups & TF_LABELS) fprintf(s, " [--dump-labels FILE]");
    for (i = 0; i < f->n_extra; i++) {
        const tf_option *o = &f->extra[i];
        if (o->arg) fprintf(s, " [--%s %s]", o->name, o->arg);
        else fprintf(s, " [--%s]", o->name);
    }
    fprintf(s, " [--help]\n");
}

/* --help: the usage line, the example's line and its own flags, with their defaults. */
static void tf_help(const tf_flags *f)
{
    int i;
    tf_usage(f, stdout);
    printf("%s\n", f->about);
    printf("defaults: --steps %ld --batch %d --loss %s", f->steps, f->batch, gan_family_name(f->family));
    if (f->lr > 0) printf(" --lr %g", f->lr);
    printf(" --seed %lu --out %s%s%s\n", f->seed, f->out, f->data_dir ? " --data " : "", f->data_dir ? f->data_dir : "");
    for (i = 0; i < f->n_extra; i++) {
        const tf_option *o = &f->extra[i];
        char name[64];
        snprintf(name, sizeof name, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        printf("  %-22s %s\n", name, o->help);
    }
    printf("The flags shared by the training examples are described in examples/train_flags.h.\n");
}

/* A bad command line: the reason and the usage line on stderr; the exit status is 2. */
static int tf_bad(const tf_flags *f, const char *what, const char *arg)
{
    fprintf(stderr, "%s: %s%s%s\n", f->prog, what, arg ? ": " : "", arg ? arg : "");
    tf_usage(f, stderr);
    return 2;
}

/* A whole string as a number in [lo, hi]: 1, or 0 (not a number, junk after it, out of range). */
static int tf_number(double *v, const char *s, double lo, double hi, int integer)
{
    char *end;
    errno = 0;
    if (integer) {
        long long n = strtoll(s, &end, 10);
        *v = (double)n;
    } else {
        *v = strtod(s, &end);
    }
    return end != s && *end == '\0' && errno == 0 && *v == *v && *v >= lo && *v <= hi;
}

/* Whether --name is one of the shared flags this example takes. */
static int tf_known(const tf_flags *f, const char *name)
{
    static const char *const any[] = { "steps", "batch", "lr", "loss", "ema", "seed", "threads", "out", "dump" };
    static const char *const data[] = { "data", "dataset", "epochs" };
    size_t i;
    for (i = 0; i < sizeof any / sizeof any[0]; i++)
        if (strcmp(name, any[i]) == 0) return 1;
    for (i = 0; i < sizeof data / sizeof data[0]; i++)
        if (strcmp(name, data[i]) == 0) return (f->groups & TF_DATA) != 0;
    if (strcmp(name, "pack") == 0) return (f->groups & TF_PACK) != 0;
    if (strcmp(name, "dump-bn") == 0) return (f->groups & TF_DUMP_BN) != 0;
    if (strcmp(name, "dump-labels") == 0) return (f->groups & TF_LABELS) != 0;
    return 0;
}

/* Parses argv into f. Returns -1 to go on, or the exit status: 0 after --help, 2 after a bad flag. */
static int tf_parse(tf_flags *f, int argc, char **argv)
{
    int i, k;
    double v;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *b = i + 1 < argc ? argv[i + 1] : NULL;
        const char *name = a[0] == '-' && a[1] == '-' ? a + 2 : NULL;
        const tf_option *o = NULL;
        if (!name) return tf_bad(f, "not a flag", a);
        if (strcmp(name, "help") == 0) {
            tf_help(f);
            return 0;
        }
        for (k = 0; k < f->n_extra; k++)
            if (strcmp(name, f->extra[k].name) == 0) o = &f->extra[k];
        if (o && o->kind == TF_SWITCH) {
            *(int *)o->value = 1;
            continue;
        }
        if (!o && !tf_known(f, name)) return tf_bad(f, "unknown flag", a);
        /* every other flag takes one argument (--dump two) */
        if (!b) return tf_bad(f, "no value after", a);
        i++;
        if (o) {
            if (o->kind == TF_STRING) *(const char **)o->value = b;
            else if (!tf_number(&v, b, o->lo, o->hi, o->kind == TF_INT)) {
                char what[96];
                snprintf(what, sizeof what, "bad value of %s (%g to %g)", a, o->lo, o->hi);
                return tf_bad(f, what, b);
            }
            else if (o->kind == TF_INT) *(int *)o->value = (int)v;
            else *(double *)o->value = v;
        } else if (strcmp(name, "data") == 0 && (f->groups & TF_DATA)) {
            f->data_dir = b;
        } else if (strcmp(name, "dataset") == 0 && (f->groups & TF_DATA)) {
            if (strcmp(b, "mnist") != 0 && strcmp(b, "fashion") != 0 && strcmp(b, "builtin") != 0)
                return tf_bad(f, "bad value of --dataset (mnist, fashion or builtin)", b);
            f->dataset = b;
        } else if (strcmp(name, "steps") == 0) {
            if (!tf_number(&v, b, 0, 1e9, 1)) return tf_bad(f, "bad value of --steps", b);
            f->steps = (long)v;
            f->steps_set = 1;
        } else if (strcmp(name, "epochs") == 0 && (f->groups & TF_DATA)) {
            if (!tf_number(&v, b, 0, 1e6, 0)) return tf_bad(f, "bad value of --epochs", b);
            f->epochs = v;
            f->epochs_set = 1;
        } else if (strcmp(name, "batch") == 0) {
            if (!tf_number(&v, b, 2, 4096, 1)) return tf_bad(f, "bad value of --batch (2 to 4096)", b);
            f->batch = (int)v;
        } else if (strcmp(name, "lr") == 0) {
            if (!tf_number(&v, b, 1e-12, 10, 0)) return tf_bad(f, "bad value of --lr", b);
            f->lr = v;
        } else if (strcmp(name, "loss") == 0) {
            if (!gan_family_parse(&f->family, b)) return tf_bad(f, gan_last_error(), NULL);
        } else if (strcmp(name, "pack") == 0 && (f->groups & TF_PACK)) {
            if (!tf_number(&v, b, 1, 64, 1)) return tf_bad(f, "bad value of --pack (1 to 64)", b);
            f->pack = (int)v;
        } else if (strcmp(name, "ema") == 0) {
            if (!tf_number(&v, b, 0, 0.999999999, 0) || v == 0) return tf_bad(f, "bad value of --ema (0 < DECAY < 1)", b);
            f->ema = v;
        } else if (strcmp(name, "seed") == 0) {
            if (!tf_number(&v, b, 0, 4294967295.0, 1)) return tf_bad(f, "bad value of --seed", b);
            f->seed = (unsigned long)v;
        } else if (strcmp(name, "threads") == 0) {
            if (!tf_number(&v, b, 0, 64, 1)) return tf_bad(f, "bad value of --threads (0 to 64)", b);
            f->threads = (int)v;
        } else if (strcmp(name, "out") == 0) {
            f->out = b;
        } else if (strcmp(name, "dump") == 0) {
            if (!tf_number(&v, b, 1, 1e7, 1)) return tf_bad(f, "bad value of --dump (a count, then a file)", b);
            if (i + 1 >= argc) return tf_bad(f, "--dump takes a count and a file", NULL);
            f->dump_n = (long)v;
            f->dump_file = argv[++i];
        } else if (strcmp(name, "dump-bn") == 0 && (f->groups & TF_DUMP_BN)) {
            if (strcmp(b, "running") == 0) f->dump_stats = GAN_STATS_RUNNING;
            else if (strcmp(b, "batch") == 0) f->dump_stats = GAN_STATS_BATCH;
            else return tf_bad(f, "bad value of --dump-bn (running or batch)", b);
        } else if (strcmp(name, "dump-labels") == 0 && (f->groups & TF_LABELS)) {
            f->dump_labels = b;
        } else {
            return tf_bad(f, "unknown flag", a);
        }
    }
    if (f->batch % f->pack != 0) return tf_bad(f, "--pack must divide --batch", NULL);
    if (f->dump_labels && !f->dump_file) return tf_bad(f, "--dump-labels needs --dump N FILE", NULL);
    if (f->threads >= 0 && !gan_set_threads(f->threads)) fprintf(stderr, "threads: %s\n", gan_last_error());
    return -1;
}

/* The training settings: the family's recipe with the command line's batch, lr, pack, EMA and seed. */
static gan_train_config tf_config(const tf_flags *f)
{
    gan_train_config c = gan_default_train(f->family);
    c.batch = f->batch;
    c.pack = f->pack;
    c.ema_decay = (gan_float)f->ema;
    c.seed = (uint64_t)f->seed * 2654435761u + 3; /* a stream apart from the weights' and the data's */
    if (f->lr > 0) {
        c.opt_g.lr = (gan_float)f->lr;
        c.opt_d.lr = (gan_float)f->lr;
    }
    return c;
}

#ifndef TF_NO_IMAGES /* toy2d: its data are points, not images */
/* Loads the data set the flags ask for (or chooses one) and says on stdout which it is. Returns 1,
   or 0 after printing why not. */
static int tf_load_data(tf_flags *f, gan_dataset *d)
{
    const char *why = "no --data or GAN_DATA";
    char reason[512];
    if (!f->dataset && f->data_dir) {
        if (gan_dataset_load(d, f->data_dir, "mnist", GAN_SPLIT_ANY)) {
            f->dataset = "mnist";
            printf("dataset: mnist, %d images of %dx%d from %s\n", d->n, d->h, d->w, f->data_dir);
            return 1;
        }
        snprintf(reason, sizeof reason, "no MNIST in %s: %s", f->data_dir, gan_last_error());
        why = reason;
    }
    if (!f->dataset || strcmp(f->dataset, "builtin") == 0) {
        if (!gan_dataset_shapes(d, 10000, 28, (uint64_t)f->seed)) {
            fprintf(stderr, "%s: gan_dataset_shapes: %s\n", f->prog, gan_last_error());
            return 0;
        }
        printf("dataset: builtin shapes, %d images of %dx%d in %d classes (%s)\n", d->n, d->h, d->w,
               d->classes, f->dataset ? "--dataset builtin" : why);
        f->dataset = "builtin";
        return 1;
    }
    if (!f->data_dir) {
        fprintf(stderr, "%s: --dataset %s needs --data DIR or GAN_DATA\n", f->prog, f->dataset);
        return 0;
    }
    if (!gan_dataset_load(d, f->data_dir, f->dataset, GAN_SPLIT_ANY)) {
        fprintf(stderr, "%s: %s\n", f->prog, gan_last_error());
        return 0;
    }
    printf("dataset: %s, %d images of %dx%d from %s\n", f->dataset, d->n, d->h, d->w, f->data_dir);
    return 1;
}

/* G steps in all: --steps, or --epochs passes of n real samples at n_critic batches a G step. */
static long tf_total_steps(const tf_flags *f, long n, int n_critic)
{
    double per_step = (double)n_critic * f->batch;
    if (!f->epochs_set || f->steps_set) return f->steps;
    return (long)ceil(f->epochs * (double)n / per_step);
}

#endif /* TF_NO_IMAGES */

/* Makes dir and its parents (mkdir -p). 1, or 0 after printing why not. */
static int tf_make_dir(const tf_flags *f, const char *dir)
{
    char path[1024];
    size_t i, n = strlen(dir);
    if (n == 0 || n >= sizeof path) {
        fprintf(stderr, "%s: bad output directory '%s'\n", f->prog, dir);
        return 0;
    }
    memcpy(path, dir, n + 1);
    for (i = 1; i <= n; i++) {
        int r;
        if (path[i] != '/' && path[i] != '\0') continue;
        path[i] = '\0';
#if defined(_WIN32)
        r = _mkdir(path);
#else
        r = mkdir(path, 0755);
#endif
        if (r != 0 && errno != EEXIST) {
            fprintf(stderr, "%s: cannot create %s: %s\n", f->prog, path, strerror(errno));
            return 0;
        }
        path[i] = dir[i];
    }
    return 1;
}

static double tf_seconds(void)
{
#if defined(_WIN32)
    return (double)clock() / CLOCKS_PER_SEC;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#endif
}

/* Whether a picture is due after `step` of `total`: at 0 and each time training passes another
   1 / parts of the steps (so the last step always has one). */
static int tf_picture_due(long step, long total, int parts)
{
    if (step == 0) return 1;
    if (total <= 0) return 0;
    return (long long)step * parts / total != (long long)(step - 1) * parts / total;
}

#ifndef TF_NO_IMAGES
/* Writes a PNG grid of n samples (c, h, w) as DIR/PROG_NAME.png and says so. 1, or 0 after printing. */
static int tf_save_grid(const tf_flags *f, const char *name, const gan_float *x, int n, int c, int h, int w,
                        int cols)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s_%s.png", f->out, f->prog, name);
    if (!gan_grid_save(path, x, n, c, h, w, cols, 2)) {
        fprintf(stderr, "%s: %s\n", f->prog, gan_last_error());
        return 0;
    }
    printf("wrote %s\n", path);
    return 1;
}

#endif /* TF_NO_IMAGES */

/* The averages a progress line shows, since the last line. */
typedef struct tf_progress {
    double t_start, t_last;
    int64_t seen_last;          /* real samples drawn at the last line */
    double d_loss, g_loss, d_real, d_fake, penalty;
    int n;
    int penalty_shown;          /* the loss has a penalty: show its column */
} tf_progress;

static void tf_progress_start(tf_progress *p, const gan_trainer *t)
{
    memset(p, 0, sizeof *p);
    p->t_start = p->t_last = tf_seconds();
    p->seen_last = t->real_seen;
    p->penalty_shown = t->cfg.penalty_weight > 0;
}

static void tf_progress_add(tf_progress *p, const gan_step_stats *s)
{
    p->d_loss += s->d_loss;
    p->g_loss += s->g_loss;
    p->d_real += s->d_real;
    p->d_fake += s->d_fake;
    p->penalty += s->penalty;
    p->n++;
}

/* One progress line after G step `step` of `total`: epochs < 0 leaves the epoch out. D(x) and D(G(z))
   are probabilities for the minimax and non-saturating losses, raw outputs for the others; img/s
   counts the real images D reads. */
static void tf_progress_line(tf_progress *p, const gan_trainer *t, long step, long total, double epochs)
{
    double now = tf_seconds(), dt = now - p->t_last, per_step = step > 0 ? (now - p->t_start) / (double)step : 0;
    double left = per_step * (double)(total - step);
    int n = p->n > 0 ? p->n : 1;
    printf("step %6ld/%ld", step, total);
    if (epochs >= 0) printf("  epoch %6.2f", epochs);
    printf("  D %8.4f  G %8.4f  D(x) %7.3f  D(G(z)) %7.3f", p->d_loss / n, p->g_loss / n, p->d_real / n,
           p->d_fake / n);
    if (p->penalty_shown) printf("  penalty %7.4f", p->penalty / n);
    printf("  %6.0f img/s  %dm%02ds left\n", dt > 0 ? (double)(t->real_seen - p->seen_last) / dt : 0.0,
           (int)(left / 60), (int)fmod(left, 60));
    fflush(stdout);
    p->d_loss = p->g_loss = p->d_real = p->d_fake = p->penalty = 0;
    p->n = 0;
    p->t_last = now;
    p->seen_last = t->real_seen;
}

/* Whether a step's figures are all finite (a diverged run is stopped rather than drawn). */
static int tf_finite(const gan_step_stats *s)
{
    return isfinite(s->d_loss) && isfinite(s->g_loss) && isfinite(s->d_real) && isfinite(s->d_fake) &&
           isfinite(s->penalty);
}

#ifndef TF_NO_IMAGES
/* --dump: f->dump_n samples from the trainer's G (G_ema when there is one) into f->dump_file as IDX
   bytes N x H x W (N x C x H x W when C > 1); a conditional G gets labels i % classes, written to
   f->dump_labels when that is set. The noise has its own stream, so a dump does not depend on when
   it is taken. 1, or 0 after printing why not. */
static int tf_dump(const tf_flags *f, gan_trainer *t)
{
    size_t n = (size_t)f->dump_n, zc = t->z_count, xc = t->x_count, i;
    int classes = t->cfg.classes, ok = 0, dims[4], nd;
    gan_float *z = (gan_float *)malloc(sizeof(gan_float) * n * zc);
    gan_float *x = (gan_float *)malloc(sizeof(gan_float) * n * xc);
    gan_float *lab = classes > 0 ? (gan_float *)malloc(sizeof(gan_float) * n) : NULL;
    uint8_t *bytes = (uint8_t *)malloc(n * xc);
    gan_rng rng;
    if (!z || !x || !bytes || (classes > 0 && !lab)) {
        fprintf(stderr, "%s: out of memory for --dump %ld\n", f->prog, f->dump_n);
        goto done;
    }
    gan_rng_seed(&rng, (uint64_t)f->seed + 0x5eedull);
    gan_fill_normal(z, n * zc, 0, 1, &rng);
    for (i = 0; i < n && lab; i++) lab[i] = (gan_float)(i % (size_t)classes);
    {
        gan_tensor zt = gan_tensor_make(z, (int)n, t->z_shape.c, t->z_shape.h, t->z_shape.w);
        gan_tensor yt = gan_tensor_make(x, (int)n, t->x_shape.c, t->x_shape.h, t->x_shape.w);
        if (!gan_trainer_sample(t, &yt, &zt, lab, f->dump_stats)) {
            fprintf(stderr, "%s: gan_trainer_sample: %s\n", f->prog, gan_last_error());
            goto done;
        }
    }
    gan_to_bytes(bytes, x, n * xc);
    nd = 0;
    dims[nd++] = (int)n;
    if (t->x_shape.c > 1) dims[nd++] = t->x_shape.c;
    dims[nd++] = t->x_shape.h;
    dims[nd++] = t->x_shape.w;
    if (!gan_idx_save(f->dump_file, bytes, nd, dims)) {
        fprintf(stderr, "%s: %s\n", f->prog, gan_last_error());
        goto done;
    }
    printf("dumped %ld samples (%s statistics) to %s\n", f->dump_n,
           f->dump_stats == GAN_STATS_BATCH ? "batch" : "running", f->dump_file);
    if (f->dump_labels) {
        for (i = 0; i < n; i++) bytes[i] = (uint8_t)(i % (size_t)classes);
        dims[0] = (int)n;
        if (!gan_idx_save(f->dump_labels, bytes, 1, dims)) {
            fprintf(stderr, "%s: %s\n", f->prog, gan_last_error());
            goto done;
        }
        printf("dumped their labels to %s\n", f->dump_labels);
    }
    ok = 1;
done:
    free(z);
    free(x);
    free(lab);
    free(bytes);
    return ok;
}

#endif /* TF_NO_IMAGES */

#endif /* TRAIN_FLAGS_H */
