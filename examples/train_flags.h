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
    --n-critic N        (wgan) D steps per G step (else the loss family's)
    --pack M            PacGAN: D judges M samples joined along channels (M divides --batch)
    --ema DECAY         sample from G_ema, an exponential moving average of G (decay in (0, 1))
    --seed N            weights, data order and noise all follow from it
    --threads N         gan_set_threads (0: one per core, the default)
    --out DIR           pictures go here (created with its parents; default out)
    --dump N FILE       N samples from G as an IDX file of unsigned bytes, N x H x W, pixel =
                        round((x + 1) 127.5) clamped; G in evaluation mode (BatchNorm's running
                        estimates), or with --dump-bn batch each chunk's own statistics
    --dump-labels FILE  (conditional) the class each dumped sample was asked for, IDX, N bytes
    --save FILE         write the run to FILE (gan_trainer_save) when training ends
    --save-every K      also after every K-th step (step numbers as the progress lines count them;
                        needs --save)
    --resume FILE       go on with the run a --save (or a Ctrl-C) left in FILE
    --help              this, on stdout, and exit status 0
A bad flag or value prints the usage line on stderr and exits with status 2.

Checkpoints. gan_trainer_save writes FILE.tmp, syncs it and renames it over FILE, so a crash, a kill
or a full disk leaves the last good FILE. It holds G, D (and G_ema) with their optimizers, every
random stream, the counters, the training settings and the loader's order and position, and the
example's own strings (gan_meta, stored as "user.<key>"): the example's name (user.example), the
data set and its size (user.dataset, user.dataset_size), the loss family (user.loss), each of the
example's own flags that shapes its networks or its training (cgan's --projection, toy2d's --dist,
--zdim, --hidden, --decay) and, for an example whose learning rate follows a schedule, the rate it
starts from (user.lr). Nothing that may differ between two runs of the same training is stored
(no time, paths, thread count or step total), so a run that was stopped and resumed ends with the
same bytes in its --save file as one that was not (tests/resume_check.sh checks it).
    --resume FILE reads the file (a damaged one is refused, naming it: exit status 1) and takes
the training settings from it: --loss, --batch, --lr, --n-critic, --pack, --ema, --seed, --dataset
and the example's own network flags. A flag not on the command line takes the checkpoint's value;
one that is there and differs is refused with both values named, e.g. "dcgan: --batch 32
contradicts the checkpoint's batch 64", exit status 2. The networks are then built as that run
built them and gan_checkpoint_load restores everything, so training goes on bit for bit where it
stopped (at any --threads). --steps and --epochs stay totals (not stored: without either, the
example's default total): resuming a checkpoint of step 500 with --steps 1000 trains 500 more; a
total at or below the checkpoint's step trains nothing, says so, and writes the final outputs (the
last picture, --dump, --save), exit status 0. Pictures and progress lines go on
with the step numbers. --out, --threads, --dump, --save and --data are not training settings and
may differ from the first run's.
    Ctrl-C (SIGINT) or SIGTERM: the signal handler only sets a flag; after the step under way the
run is saved to the --save file, or without one to OUT/PROG_interrupted.st, the step it stopped at
and the file are printed on stderr, and the exit status is 128 + the signal's number (130 for
Ctrl-C, 143 for SIGTERM, the shell's convention, so a script can tell a finished run from a stopped
one). A second Ctrl-C during that save is caught the same way and changes nothing. Before the first
step (loading data, building) and after the final save (--dump) Ctrl-C has its usual effect: there
is nothing to lose then, and every file is written to a .tmp and renamed.
    A failed step (gan_train_step refuses a loss or gradient that is not finite, naming the step)
stops the run with its message and exit status 1, and saves nothing: the --save file keeps the
last good state (from --save-every, or the run before).
*/

#ifndef TRAIN_FLAGS_H
#define TRAIN_FLAGS_H

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
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
   --threads --out --dump --save --save-every --resume --help). */
#define TF_DATA    1u  /* --data, --dataset, --epochs: an example that trains on a gan_dataset */
#define TF_PACK    2u  /* --pack */
#define TF_DUMP_BN 4u  /* --dump-bn (a G with BatchNorm) */
#define TF_LABELS  8u  /* --dump-labels (a conditional G) */
#define TF_CRITIC 16u  /* --n-critic */

/* One example-specific flag: --name with an int, a double or a string, or a switch without one. */
typedef enum tf_kind { TF_INT, TF_DOUBLE, TF_STRING, TF_SWITCH } tf_kind;
typedef struct tf_option {
    const char *name;   /* without the dashes */
    tf_kind kind;
    void *value;        /* int *, double *, const char **, or int * set to 1 */
    double lo, hi;      /* the range of a number */
    const char *arg;    /* the argument's name in the usage line (NULL for a switch) */
    const char *help;
    int setting;        /* 1: it shapes the networks or the training, so a checkpoint stores it as
                           user.<name> and --resume takes it from there (and refuses another) */
} tf_option;

#define TF_MAX_EXTRA 16 /* an example's own flags, at most */
#define TF_TEXT 64      /* room for a string flag's value read back from a checkpoint */

/* The shared training settings, as bits of tf_flags.given: which the command line named, so that
   --resume knows which to compare with the checkpoint and which to take from it. */
#define TF_GIVEN_DATASET 1u
#define TF_GIVEN_BATCH   2u
#define TF_GIVEN_LR      4u
#define TF_GIVEN_LOSS    8u
#define TF_GIVEN_PACK   16u
#define TF_GIVEN_EMA    32u
#define TF_GIVEN_SEED   64u
#define TF_GIVEN_CRITIC 128u

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
    int n_critic;               /* --n-critic (TF_CRITIC); 0: the family's */
    const char *save;           /* --save FILE, or NULL */
    long save_every;            /* --save-every K; 0: only at the end */
    const char *resume;         /* --resume FILE, or NULL */
    /* set by the example before tf_parse when it needs them */
    int lr_schedule;            /* it changes the nets' learning rates as it trains (toy2d): the
                                   checkpoint's rate is then the current one, so the rate the
                                   schedule starts from is stored as user.lr */
    gan_rng *data_rng;          /* the stream of its own real-data callback (toy2d), stored as
                                   user.data_rng; a gan_loader's state is in the checkpoint already */
    /* filled in by tf_parse and tf_load_data */
    unsigned given;             /* TF_GIVEN_* */
    unsigned extra_given;       /* bit k: extra[k] was on the command line */
    char extra_text[TF_MAX_EXTRA][TF_TEXT]; /* string values read from the checkpoint */
    int data_n;                 /* images in the data set tf_load_data loaded */
    gan_checkpoint *ck;         /* the --resume file, open from tf_parse to tf_resume_load */
    gan_train_config ck_cfg;    /* its settings (gan_checkpoint_config) */
    long ck_data_n;             /* its user.dataset_size; -1 without a data set */
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
    if (f->groups & TF_CRITIC) fprintf(s, " [--n-critic N]");
    if (f->groups & TF_PACK) fprintf(s, " [--pack M]");
    fprintf(s, " [--ema DECAY] [--seed N] [--threads N] [--out DIR] [--dump N FILE]");
    if (f->groups & TF_DUMP_BN) fprintf(s, " [--dump-bn running|batch]");
    if (f->groups & TF_LABELS) fprintf(s, " [--dump-labels FILE]");
    fprintf(s, " [--save FILE [--save-every K]] [--resume FILE]");
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
    if (f->groups & TF_CRITIC)
        printf(" --n-critic %d", f->n_critic > 0 ? f->n_critic : gan_default_train(f->family).n_critic);
    printf(" --seed %lu --out %s%s%s\n", f->seed, f->out, f->data_dir ? " --data " : "", f->data_dir ? f->data_dir : "");
    for (i = 0; i < f->n_extra; i++) {
        const tf_option *o = &f->extra[i];
        char name[64];
        snprintf(name, sizeof name, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        printf("  %-22s %s\n", name, o->help);
    }
    printf("Checkpoints: --save FILE writes the run there at the end (and after every K-th step with\n"
           "--save-every K); --resume FILE goes on with it, its settings kept (a flag that contradicts one\n"
           "is refused, exit 2) and --steps/--epochs still the total. Ctrl-C or SIGTERM stops after the\n"
           "step under way, saves to the --save file (else %s/%s_interrupted.st) and exits 130 (143).\n",
           f->out, f->prog);
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
    static const char *const any[] = { "steps", "batch", "lr", "loss", "ema", "seed", "threads", "out", "dump",
                                       "save", "save-every", "resume" };
    static const char *const data[] = { "data", "dataset", "epochs" };
    size_t i;
    for (i = 0; i < sizeof any / sizeof any[0]; i++)
        if (strcmp(name, any[i]) == 0) return 1;
    for (i = 0; i < sizeof data / sizeof data[0]; i++)
        if (strcmp(name, data[i]) == 0) return (f->groups & TF_DATA) != 0;
    if (strcmp(name, "pack") == 0) return (f->groups & TF_PACK) != 0;
    if (strcmp(name, "n-critic") == 0) return (f->groups & TF_CRITIC) != 0;
    if (strcmp(name, "dump-bn") == 0) return (f->groups & TF_DUMP_BN) != 0;
    if (strcmp(name, "dump-labels") == 0) return (f->groups & TF_LABELS) != 0;
    return 0;
}

/* tf_config's stream seed from --seed, and back: --resume reads the seed from the checkpoint's
   settings (train.seed) rather than from a string of its own. */
#define TF_SEED_MUL 2654435761u
#define TF_SEED_ADD 3u

/* Option o's value as text: how a checkpoint stores it (user.<name>) and how --resume compares it.
   %.17g gives a double back exactly. */
static void tf_option_text(const tf_option *o, char *buf, size_t n)
{
    if (o->kind == TF_DOUBLE) snprintf(buf, n, "%.17g", *(const double *)o->value);
    else if (o->kind == TF_STRING) snprintf(buf, n, "%s", *(const char *const *)o->value);
    else snprintf(buf, n, "%d", *(const int *)o->value);
}

/* Option k's value from the checkpoint's text. 1, or 0 when the text is not one of its values. */
static int tf_option_set(tf_flags *f, int k, const char *text)
{
    const tf_option *o = &f->extra[k];
    double v;
    if (o->kind == TF_STRING) {
        if (strlen(text) >= TF_TEXT) return 0;
        memcpy(f->extra_text[k], text, strlen(text) + 1);
        *(const char **)o->value = f->extra_text[k];
        return 1;
    }
    if (o->kind == TF_SWITCH) {
        if (strcmp(text, "0") != 0 && strcmp(text, "1") != 0) return 0;
        *(int *)o->value = text[0] == '1';
        return 1;
    }
    if (!tf_number(&v, text, o->lo, o->hi, o->kind == TF_INT)) return 0;
    if (o->kind == TF_INT) *(int *)o->value = (int)v;
    else *(double *)o->value = v;
    return 1;
}

/* One setting on the command line that is not the checkpoint's: says so with both values. */
static void tf_contradiction(const tf_flags *f, const char *flag, const char *mine, const char *key, const char *theirs)
{
    fprintf(stderr, "%s: --%s%s%s contradicts the checkpoint's %s %s (in %s); leave --%s out to keep it\n", f->prog,
            flag, mine[0] ? " " : "", mine, key, theirs, f->resume, flag);
}

/* A --resume file that cannot be used (unreadable, damaged, another example's): why, on stderr. */
static int tf_bad_checkpoint(tf_flags *f, const char *why)
{
    fprintf(stderr, "%s: --resume %s: %s\n", f->prog, f->resume, why);
    gan_checkpoint_close(f->ck);
    f->ck = NULL;
    return 1;
}

/* --resume: opens the file and takes the training settings from it into f, refusing any on the
   command line that differ. Returns -1 to go on, 1 when the file cannot be used, 2 after a
   contradiction (each one is named). */
static int tf_resume_open(tf_flags *f)
{
    gan_train_config c;
    const char *example, *loss, *v;
    gan_family family;
    char mine[TF_TEXT], theirs[TF_TEXT], why[256];
    unsigned long seed;
    uint64_t s;
    double lr, x;
    int k, rc = -1;
    if (!(f->ck = gan_checkpoint_open(f->resume)) || !gan_checkpoint_config(f->ck, &c)) {
        /* gan.h's message names the file and what is wrong with it */
        fprintf(stderr, "%s: --resume: %s\n", f->prog, gan_last_error());
        gan_checkpoint_close(f->ck);
        f->ck = NULL;
        return 1;
    }
    example = gan_checkpoint_meta(f->ck, "user.example");
    loss = gan_checkpoint_meta(f->ck, "user.loss");
    if (!example || strcmp(example, f->prog) != 0) {
        snprintf(why, sizeof why, "not a checkpoint of %s (its user.example is %s)", f->prog,
                 example ? example : "missing");
        return tf_bad_checkpoint(f, why);
    }
    if (!loss || !gan_family_parse(&family, loss)) return tf_bad_checkpoint(f, "its user.loss is missing or unknown");
    s = c.seed - TF_SEED_ADD;
    if (c.seed < TF_SEED_ADD || s % TF_SEED_MUL != 0 || s / TF_SEED_MUL > 4294967295u)
        return tf_bad_checkpoint(f, "its train.seed is not one that --seed gives");
    seed = (unsigned long)(s / TF_SEED_MUL);
    lr = c.opt_g.lr;
    if (f->lr_schedule && (!(v = gan_checkpoint_meta(f->ck, "user.lr")) || !tf_number(&lr, v, 1e-12, 10, 0)))
        return tf_bad_checkpoint(f, "its user.lr (the rate the schedule starts from) is missing or bad");
    f->ck_data_n = -1;
    if (f->groups & TF_DATA) {
        v = gan_checkpoint_meta(f->ck, "user.dataset");
        if (!v || (strcmp(v, "mnist") != 0 && strcmp(v, "fashion") != 0 && strcmp(v, "builtin") != 0))
            return tf_bad_checkpoint(f, "its user.dataset is missing or not mnist, fashion or builtin");
        if ((f->given & TF_GIVEN_DATASET) && strcmp(f->dataset, v) != 0) {
            tf_contradiction(f, "dataset", f->dataset, "dataset", v);
            rc = 2;
        }
        /* the literal, not the checkpoint's copy: the file is closed once it is loaded */
        f->dataset = !strcmp(v, "mnist") ? "mnist" : !strcmp(v, "fashion") ? "fashion" : "builtin";
        if (!(v = gan_checkpoint_meta(f->ck, "user.dataset_size")) || !tf_number(&x, v, 1, INT_MAX, 1))
            return tf_bad_checkpoint(f, "its user.dataset_size is missing or bad");
        f->ck_data_n = (long)x;
    }
    /* each setting named on the command line must be the checkpoint's */
    if ((f->given & TF_GIVEN_LOSS) && f->family != family) {
        tf_contradiction(f, "loss", gan_family_name(f->family), "loss", loss);
        rc = 2;
    }
    if ((f->given & TF_GIVEN_BATCH) && f->batch != c.batch) {
        snprintf(mine, sizeof mine, "%d", f->batch);
        snprintf(theirs, sizeof theirs, "%d", c.batch);
        tf_contradiction(f, "batch", mine, "batch", theirs);
        rc = 2;
    }
    if ((f->given & TF_GIVEN_LR) && (gan_float)f->lr != (gan_float)lr) {
        snprintf(mine, sizeof mine, "%g", f->lr);
        snprintf(theirs, sizeof theirs, "%g", (double)(gan_float)lr);
        tf_contradiction(f, "lr", mine, "lr", theirs);
        rc = 2;
    }
    if ((f->given & TF_GIVEN_CRITIC) && f->n_critic != c.n_critic) {
        snprintf(mine, sizeof mine, "%d", f->n_critic);
        snprintf(theirs, sizeof theirs, "%d", c.n_critic);
        tf_contradiction(f, "n-critic", mine, "n_critic", theirs);
        rc = 2;
    }
    if ((f->given & TF_GIVEN_PACK) && f->pack != c.pack) {
        snprintf(mine, sizeof mine, "%d", f->pack);
        snprintf(theirs, sizeof theirs, "%d", c.pack);
        tf_contradiction(f, "pack", mine, "pack", theirs);
        rc = 2;
    }
    if ((f->given & TF_GIVEN_EMA) && (gan_float)f->ema != c.ema_decay) {
        snprintf(mine, sizeof mine, "%g", f->ema);
        snprintf(theirs, sizeof theirs, "%g%s", (double)c.ema_decay, c.ema_decay > 0 ? "" : " (none)");
        tf_contradiction(f, "ema", mine, "ema", theirs);
        rc = 2;
    }
    if ((f->given & TF_GIVEN_SEED) && f->seed != seed) {
        snprintf(mine, sizeof mine, "%lu", f->seed);
        snprintf(theirs, sizeof theirs, "%lu", seed);
        tf_contradiction(f, "seed", mine, "seed", theirs);
        rc = 2;
    }
    for (k = 0; k < f->n_extra && k < TF_MAX_EXTRA; k++) {
        const tf_option *o = &f->extra[k];
        char key[TF_TEXT + 8];
        if (!o->setting) continue;
        snprintf(key, sizeof key, "user.%s", o->name);
        if (!(v = gan_checkpoint_meta(f->ck, key))) {
            snprintf(why, sizeof why, "it has no %s (the value of --%s)", key, o->name);
            return tf_bad_checkpoint(f, why);
        }
        tf_option_text(o, mine, sizeof mine);
        if ((f->extra_given >> k & 1u) && strcmp(mine, v) != 0) {
            if (o->kind == TF_SWITCH) tf_contradiction(f, o->name, "", o->name, "off");
            else tf_contradiction(f, o->name, mine, o->name, v);
            rc = 2;
        }
        if (!tf_option_set(f, k, v)) {
            snprintf(why, sizeof why, "its %s is \"%s\", not a value of --%s", key, v, o->name);
            return tf_bad_checkpoint(f, why);
        }
    }
    if (rc >= 0) {
        gan_checkpoint_close(f->ck);
        f->ck = NULL;
        return rc;
    }
    /* the rest are the checkpoint's */
    f->ck_cfg = c;
    f->family = family;
    f->batch = c.batch;
    f->lr = lr;
    f->n_critic = c.n_critic;
    f->pack = c.pack;
    f->ema = c.ema_decay;
    f->seed = seed;
    return -1;
}

/* Parses argv into f; with --resume, reads the checkpoint's settings (tf_resume_open). Returns -1 to
   go on, or the exit status: 0 after --help, 2 after a bad flag or one that contradicts the
   checkpoint, 1 when the --resume file cannot be used. */
static int tf_parse(tf_flags *f, int argc, char **argv)
{
    int i, k, rc;
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
        for (k = 0; k < f->n_extra && k < TF_MAX_EXTRA; k++)
            if (strcmp(name, f->extra[k].name) == 0) {
                o = &f->extra[k];
                f->extra_given |= 1u << k;
                break;
            }
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
            f->given |= TF_GIVEN_DATASET;
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
            f->given |= TF_GIVEN_BATCH;
        } else if (strcmp(name, "lr") == 0) {
            if (!tf_number(&v, b, 1e-12, 10, 0)) return tf_bad(f, "bad value of --lr", b);
            f->lr = v;
            f->given |= TF_GIVEN_LR;
        } else if (strcmp(name, "loss") == 0) {
            if (!gan_family_parse(&f->family, b)) return tf_bad(f, gan_last_error(), NULL);
            f->given |= TF_GIVEN_LOSS;
        } else if (strcmp(name, "n-critic") == 0 && (f->groups & TF_CRITIC)) {
            if (!tf_number(&v, b, 1, 100, 1)) return tf_bad(f, "bad value of --n-critic (1 to 100)", b);
            f->n_critic = (int)v;
            f->given |= TF_GIVEN_CRITIC;
        } else if (strcmp(name, "pack") == 0 && (f->groups & TF_PACK)) {
            if (!tf_number(&v, b, 1, 64, 1)) return tf_bad(f, "bad value of --pack (1 to 64)", b);
            f->pack = (int)v;
            f->given |= TF_GIVEN_PACK;
        } else if (strcmp(name, "ema") == 0) {
            if (!tf_number(&v, b, 0, 0.999999999, 0) || v == 0) return tf_bad(f, "bad value of --ema (0 < DECAY < 1)", b);
            f->ema = v;
            f->given |= TF_GIVEN_EMA;
        } else if (strcmp(name, "seed") == 0) {
            if (!tf_number(&v, b, 0, 4294967295.0, 1)) return tf_bad(f, "bad value of --seed", b);
            f->seed = (unsigned long)v;
            f->given |= TF_GIVEN_SEED;
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
        } else if (strcmp(name, "save") == 0) {
            f->save = b;
        } else if (strcmp(name, "save-every") == 0) {
            if (!tf_number(&v, b, 1, 1e9, 1)) return tf_bad(f, "bad value of --save-every (a number of steps)", b);
            f->save_every = (long)v;
        } else if (strcmp(name, "resume") == 0) {
            f->resume = b;
        } else {
            return tf_bad(f, "unknown flag", a);
        }
    }
    if (f->save_every > 0 && !f->save) return tf_bad(f, "--save-every needs --save FILE", NULL);
    if (f->dump_labels && !f->dump_file) return tf_bad(f, "--dump-labels needs --dump N FILE", NULL);
    if (f->resume && (rc = tf_resume_open(f)) >= 0) return rc;
    if (f->batch % f->pack != 0) return tf_bad(f, "--pack must divide --batch", NULL);
    if (f->threads >= 0 && !gan_set_threads(f->threads)) fprintf(stderr, "threads: %s\n", gan_last_error());
    return -1;
}

/* The training settings. With --resume the checkpoint's (gan_checkpoint_config), the rate a
   learning-rate schedule starts from put back (user.lr: the file holds the nets' current rate);
   else the family's recipe with the command line's batch, lr, n_critic, pack, EMA and seed. */
static gan_train_config tf_config(const tf_flags *f)
{
    gan_train_config c;
    if (f->resume) {
        c = f->ck_cfg;
        if (f->lr_schedule) c.opt_g.lr = c.opt_d.lr = (gan_float)f->lr;
        return c;
    }
    c = gan_default_train(f->family);
    c.batch = f->batch;
    c.pack = f->pack;
    if (f->n_critic > 0) c.n_critic = f->n_critic;
    c.ema_decay = (gan_float)f->ema;
    c.seed = (uint64_t)f->seed * TF_SEED_MUL + TF_SEED_ADD; /* a stream apart from the weights' and the data's */
    if (f->lr > 0) {
        c.opt_g.lr = (gan_float)f->lr;
        c.opt_d.lr = (gan_float)f->lr;
    }
    return c;
}

#ifndef TF_NO_IMAGES /* toy2d: its data are points, not images */
/* Loads the data set the flags ask for (or chooses one) and says on stdout which it is. Returns 1,
   or 0 after printing why not. */
static int tf_load_data_set(tf_flags *f, gan_dataset *d)
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

/* tf_load_data_set; with --resume, the set must be as large as the checkpoint's (its loader's order
   is a permutation of that many images). */
static int tf_load_data(tf_flags *f, gan_dataset *d)
{
    if (!tf_load_data_set(f, d)) return 0;
    f->data_n = d->n;
    if (f->resume && f->ck_data_n >= 0 && d->n != f->ck_data_n) {
        fprintf(stderr, "%s: --resume %s: the checkpoint trained on %ld images of %s, and this %s has %d\n", f->prog,
                f->resume, f->ck_data_n, f->dataset, f->dataset, d->n);
        gan_dataset_free(d);
        return 0;
    }
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
   1 / parts of the steps (so the last step always has one, and so does a resumed run that is past
   its total already: it trains nothing, and the picture shows where it is). */
static int tf_picture_due(long step, long total, int parts)
{
    if (step == 0 || step >= total) return 1;
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
    int64_t step_start;         /* the trainer's step when this process began (a resumed run's) */
    int64_t seen_last;          /* real samples drawn at the last line */
    double d_loss, g_loss, d_real, d_fake, penalty;
    int n;
    int penalty_shown;          /* the loss has a penalty: show its column */
} tf_progress;

static void tf_progress_start(tf_progress *p, const gan_trainer *t)
{
    memset(p, 0, sizeof *p);
    p->t_start = p->t_last = tf_seconds();
    p->step_start = t->steps;
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
    double now = tf_seconds(), dt = now - p->t_last;
    double per_step = step > p->step_start ? (now - p->t_start) / (double)(step - p->step_start) : 0;
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

/* ---- checkpoints and signals ---- */

/* The signal that asked the run to stop (SIGINT or SIGTERM), or 0. A handler may do no more than
   set such a flag: the loop looks at it after each step, where saving is safe. */
static volatile sig_atomic_t tf_signal = 0;

static void tf_on_signal(int sig)
{
#if defined(_WIN32)
    signal(sig, tf_on_signal); /* Windows resets the handler before calling it */
#endif
    tf_signal = sig;
}

/* on: SIGINT and SIGTERM only set tf_signal from now on, so a second Ctrl-C while the run is being
   saved changes nothing; off: their default action again. */
static void tf_catch_signals(int on)
{
#if defined(_WIN32)
    signal(SIGINT, on ? tf_on_signal : SIG_DFL);
    signal(SIGTERM, on ? tf_on_signal : SIG_DFL);
#else
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on ? tf_on_signal : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* a write or wait under way when the signal comes goes on */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
#endif
}

/* Writes the run to path (gan_trainer_save: path.tmp, synced, renamed over path) with the example's
   strings (see the top of the file), and says so. 1, or 0 after printing why not. */
static int tf_save(const tf_flags *f, const gan_trainer *t, const gan_loader *data, const char *path)
{
    gan_meta meta[6 + TF_MAX_EXTRA];
    char text[6 + TF_MAX_EXTRA][TF_TEXT];
    int n = 0, k;
    meta[n].key = "example";
    meta[n++].value = f->prog;
    if (f->groups & TF_DATA) {
        meta[n].key = "dataset";
        meta[n++].value = f->dataset;
        snprintf(text[n], TF_TEXT, "%d", f->data_n);
        meta[n].key = "dataset_size";
        meta[n].value = text[n];
        n++;
    }
    meta[n].key = "loss";
    meta[n++].value = gan_family_name(f->family);
    if (f->lr_schedule) {
        snprintf(text[n], TF_TEXT, "%.17g", f->lr > 0 ? f->lr : (double)gan_default_train(f->family).opt_g.lr);
        meta[n].key = "lr";
        meta[n].value = text[n];
        n++;
    }
    if (f->data_rng) {
        snprintf(text[n], TF_TEXT, "%016llx %016llx", (unsigned long long)f->data_rng->state,
                 (unsigned long long)f->data_rng->inc);
        meta[n].key = "data_rng";
        meta[n].value = text[n];
        n++;
    }
    for (k = 0; k < f->n_extra && k < TF_MAX_EXTRA; k++)
        if (f->extra[k].setting) {
            tf_option_text(&f->extra[k], text[n], TF_TEXT);
            meta[n].key = f->extra[k].name;
            meta[n].value = text[n];
            n++;
        }
    if (!gan_trainer_save(path, t, data, meta, n)) {
        fprintf(stderr, "%s: %s\n", f->prog, gan_last_error());
        return 0;
    }
    printf("saved step %lld to %s\n", (long long)t->steps, path);
    fflush(stdout);
    return 1;
}

/* With --resume: restores the run into t and data (gan_checkpoint_load: weights, optimizers, every
   random stream, the loader's order and position, the counters) and the example's own stream,
   closes the file and says where the run goes on from. 1 (also without --resume), or 0 after
   printing why not. */
static int tf_resume_load(tf_flags *f, gan_trainer *t, gan_loader *data, long total)
{
    int ok = 1;
    if (!f->ck) return 1;
    if (!gan_checkpoint_load(f->ck, t, data)) {
        fprintf(stderr, "%s: --resume: %s\n", f->prog, gan_last_error());
        ok = 0;
    } else if (f->data_rng) {
        /* "state inc", as tf_save writes it */
        const char *v = gan_checkpoint_meta(f->ck, "user.data_rng");
        char *end = NULL;
        unsigned long long state = 0, inc = 0;
        if (v) state = strtoull(v, &end, 16);
        if (end) inc = strtoull(end, &end, 16);
        if (!v || !end || *end != '\0' || !(inc & 1u)) {
            fprintf(stderr, "%s: --resume %s: its user.data_rng (the real data's stream) is missing or bad\n", f->prog,
                    f->resume);
            ok = 0;
        } else {
            f->data_rng->state = (uint64_t)state;
            f->data_rng->inc = (uint64_t)inc;
        }
    }
    if (ok) {
        printf("%s: resumed %s at step %lld", f->prog, f->resume, (long long)t->steps);
        if (data) printf(" (epoch %.2f)", gan_loader_epochs(data));
        if (t->steps >= total)
            printf(": the total asked for is %ld steps, so there is nothing to train\n", total);
        else
            printf(", training on to step %ld\n", total);
    }
    gan_checkpoint_close(f->ck);
    f->ck = NULL;
    return ok;
}

/* A step gan_train_step refused (a loss or gradient that is not finite, its message naming the
   step): said on stderr, and nothing is saved, since the trainer may be part-way through the step;
   the --save file keeps what the last save wrote. Returns the exit status, 1. */
static int tf_step_failed(const tf_flags *f)
{
    const char *why = gan_last_error();
    fprintf(stderr, "%s: %s%s\n", f->prog, strncmp(why, "gan_train_step", 14) == 0 ? "" : "gan_train_step: ", why);
    if (f->save) fprintf(stderr, "%s: stopped without saving: %s is as the last save left it\n", f->prog, f->save);
    return 1;
}

/* A signal came: the run is saved (to --save, else OUT/PROG_interrupted.st) and stops. Returns the
   exit status, 128 + the signal's number, or 1 when the save failed. */
static int tf_stop(const tf_flags *f, const gan_trainer *t, const gan_loader *data, long total)
{
    char path[1024];
    int sig = tf_signal;
    const char *where = f->save, *name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
    if (!where) {
        snprintf(path, sizeof path, "%s/%s_interrupted.st", f->out, f->prog);
        where = path;
    }
    fprintf(stderr, "%s: %s: stopped after step %lld of %ld; saving the run to %s\n", f->prog, name,
            (long long)t->steps, total, where);
    if (!tf_save(f, t, data, where)) return 1;
    fprintf(stderr, "%s: go on with --resume %s\n", f->prog, where);
    return 128 + sig;
}

/* After each step: a signal stops the run here (tf_stop); --save-every saves (the last step's save
   is tf_finish's). Returns -1 to go on, or the exit status. */
static int tf_step_done(const tf_flags *f, const gan_trainer *t, const gan_loader *data, long total)
{
    if (tf_signal) return tf_stop(f, t, data, total);
    if (f->save_every > 0 && t->steps % f->save_every == 0 && t->steps < total && !tf_save(f, t, data, f->save))
        return 1;
    return -1;
}

/* After the training loop: a signal that came since the last step stops the run as there; else
   --save writes the final state. Then Ctrl-C has its default action again (the rest writes files
   atomically). Returns -1 to go on with the final outputs, or the exit status. */
static int tf_finish(const tf_flags *f, const gan_trainer *t, const gan_loader *data, long total)
{
    if (tf_signal) return tf_stop(f, t, data, total);
    if (f->save && !tf_save(f, t, data, f->save)) return 1;
    if (tf_signal) { /* it came during the save, which is complete */
        fprintf(stderr, "%s: %s during the final save: stopping there\n", f->prog,
                tf_signal == SIGINT ? "SIGINT" : "SIGTERM");
        return 128 + tf_signal;
    }
    tf_catch_signals(0);
    return -1;
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
