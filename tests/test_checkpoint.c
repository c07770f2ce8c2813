/* tests/test_checkpoint.c - checkpoints (gan_trainer_write / gan_checkpoint_load, gan_net_write /
   gan_checkpoint_load_net, gan_save_file):

   1. Exact resume: a run of 2K steps in one go against K steps, a checkpoint written to memory, a
      new trainer (networks from another seed, a loader from another seed) loaded from it, K more:
      every parameter, moment, buffer, counter and the loader must be bitwise equal. The same
      comparison with the checkpoint's moments zeroed must differ, so the check can fail.
   2. Every single-byte change of a small checkpoint (each byte xor 0x01 and xor 0x80), and every
      length it could be cut to, is refused by gan_checkpoint_parse or loads a state bit-identical to
      the original's.
   3. A save cut short by a write failure (the encoder's callback refuses after k bytes) leaves the
      old file as it was, loadable, and no temporary file behind.
   4. Refusals name the problem: another architecture (a different stride, which changes no weight's
      shape) and another width (both shapes named); a failed load leaves the trainer as it was.
   5. gan_checkpoint_config gives back the settings; gan_net_write and gan_checkpoint_load_net give a
      generator that samples the same bits.
   6. A non-finite loss stops gan_train_step with the step number, before any update. */
#define _POSIX_C_SOURCE 200809L
#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K 6
#define BATCH 8
#define Z 8

static void fatal(const char *what)
{
    printf("FAIL %s: %s\n", what, gan_last_error());
    exit(1);
}

/* G: z -> Linear -> BatchNorm -> ReLU -> (4, 4, 4) -> ConvT -> (1, 8, 8) -> Tanh. */
static gan_net *make_g(uint64_t seed, int width)
{
    gan_rng rng;
    gan_layer L[6];
    gan_net *net;
    L[0] = gan_linear(Z, width * 16);
    L[1] = gan_batchnorm(width * 16);
    L[2] = gan_relu();
    L[3] = gan_reshape(width, 4, 4);
    L[4] = gan_conv_transpose2d(width, 1, 4, 2, 1, 0);
    L[5] = gan_tanh();
    gan_rng_seed(&rng, seed);
    net = gan_net_create(gan_chw(Z, 1, 1), L, 6, BATCH, &rng);
    if (!net) fatal("make_g");
    return net;
}

/* D: (1, 8, 8) -> Conv -> LeakyReLU -> Dropout -> Conv(stride) -> BatchNorm -> LeakyReLU -> Linear. */
static gan_net *make_d(uint64_t seed, int stride)
{
    gan_rng rng;
    gan_layer L[8];
    gan_net *net;
    int side = stride == 2 ? 2 : 4;
    L[0] = gan_conv2d(1, 4, 4, 2, 1);
    L[1] = gan_leaky_relu((gan_float)0.2);
    L[2] = gan_dropout((gan_float)0.25);
    L[3] = gan_conv2d(4, 8, stride == 2 ? 4 : 3, stride, 1);
    L[4] = gan_batchnorm(8);
    L[5] = gan_leaky_relu((gan_float)0.2);
    L[6] = gan_flatten();
    L[7] = gan_linear(8 * side * side, 1);
    gan_rng_seed(&rng, seed);
    net = gan_net_create(gan_chw(1, 8, 8), L, 8, BATCH, &rng);
    if (!net) fatal("make_d");
    return net;
}

typedef struct run {
    gan_net *G, *D, *E;
    gan_trainer *t;
    gan_loader data;
} run;

static gan_dataset images;

static void run_make(run *r, uint64_t seed)
{
    gan_train_config cfg = gan_default_train(GAN_FAMILY_NONSATURATING);
    cfg.batch = BATCH;
    cfg.ema_decay = (gan_float)0.9;
    cfg.seed = seed;
    r->G = make_g(seed, 4);
    r->D = make_d(seed + 1, 2);
    r->E = make_g(seed + 2, 4);
    if (!(r->t = gan_trainer_create(r->G, r->D, r->E, &cfg))) fatal("gan_trainer_create");
    if (!gan_loader_init(&r->data, &images, seed + 3)) fatal("gan_loader_init");
}

static void run_free(run *r)
{
    gan_trainer_free(r->t);
    gan_net_free(r->G);
    gan_net_free(r->D);
    gan_net_free(r->E);
    gan_loader_free(&r->data);
}

static void train(run *r, int steps)
{
    int i;
    for (i = 0; i < steps; i++)
        if (!gan_train_step(r->t, NULL, gan_loader_real, &r->data)) fatal("gan_train_step");
}

/* A growing buffer as a gan_write_fn. */
typedef struct buffer {
    uint8_t *p;
    size_t n, cap;
} buffer;

static int buffer_write(void *user, const void *data, size_t n)
{
    buffer *b = (buffer *)user;
    if (b->n + n > b->cap) {
        size_t cap = (b->n + n) * 2;
        uint8_t *p = (uint8_t *)realloc(b->p, cap);
        if (!p) return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    return 1;
}

/* Whether two networks hold the same bits: parameters, gradients aside, moments, buffers, streams. */
static int same_net(const gan_net *a, const gan_net *b)
{
    int i;
    if (a->n_params != b->n_params || memcmp(a->params, b->params, a->n_params * sizeof(gan_float)) ||
        memcmp(a->opt_m, b->opt_m, a->n_params * sizeof(gan_float)) ||
        memcmp(a->opt_v, b->opt_v, a->n_params * sizeof(gan_float)) || a->opt.step != b->opt.step ||
        a->opt.lr != b->opt.lr)
        return 0;
    for (i = 0; i < a->n_layers; i++) {
        const gan_layer *x = &a->layers[i], *y = &b->layers[i];
        if (x->rng.state != y->rng.state || x->rng.inc != y->rng.inc || x->batches_tracked != y->batches_tracked) return 0;
        if (x->run_mean && (memcmp(x->run_mean, y->run_mean, (size_t)x->in.c * sizeof(gan_float)) ||
                            memcmp(x->run_var, y->run_var, (size_t)x->in.c * sizeof(gan_float))))
            return 0;
    }
    return 1;
}

static int same_run(const run *a, const run *b)
{
    return same_net(a->G, b->G) && same_net(a->D, b->D) && same_net(a->E, b->E) && a->t->steps == b->t->steps &&
           a->t->d_steps == b->t->d_steps && a->t->real_seen == b->t->real_seen && a->t->rng.state == b->t->rng.state &&
           a->data.pos == b->data.pos && a->data.epoch == b->data.epoch && a->data.rng.state == b->data.rng.state &&
           !memcmp(a->data.order, b->data.order, (size_t)images.n * sizeof(int));
}

static buffer save(const run *r)
{
    buffer b;
    gan_meta meta[1];
    memset(&b, 0, sizeof b);
    meta[0].key = "note";
    meta[0].value = "a \"quoted\" value\n";
    if (!gan_trainer_write(buffer_write, &b, r->t, &r->data, meta, 1)) fatal("gan_trainer_write");
    return b;
}

static void test_resume(void)
{
    run a, b;
    buffer file;
    gan_checkpoint *ck;
    const char *note;
    run_make(&a, 1);
    train(&a, 2 * K);

    run_make(&b, 1);
    train(&b, K);
    file = save(&b);
    run_free(&b);
    run_make(&b, 77); /* other weights, streams and order, all to be replaced */
    ck = gan_checkpoint_parse(file.p, file.n, "resume.st");
    test_report("checkpoint_parses", ck != NULL, "%s", gan_last_error());
    if (!ck) return;
    note = gan_checkpoint_meta(ck, "user.note");
    test_report("checkpoint_user_meta", note && !strcmp(note, "a \"quoted\" value\n"), "got %s", note ? note : "NULL");
    test_report("checkpoint_load", gan_checkpoint_load(ck, b.t, &b.data), "%s", gan_last_error());
    train(&b, K);
    test_report("checkpoint_resume_bitwise", same_run(&a, &b), "a resumed run differs from one without a break");

    /* the same with the moments of the file zeroed: the comparison must then fail */
    {
        run c;
        int i;
        run_make(&c, 77);
        gan_checkpoint_load(ck, c.t, &c.data);
        for (i = 0; i < (int)c.G->n_params; i++) c.G->opt_m[i] = c.G->opt_v[i] = 0;
        train(&c, K);
        test_report("checkpoint_resume_can_fail", !same_run(&a, &c), "a run without its moments matched");
        run_free(&c);
    }
    gan_checkpoint_close(ck);
    free(file.p);
    run_free(&a);
    run_free(&b);
}

/* A loaded state's fingerprint, to compare corrupted loads with the original's. */
static int loads_same(const uint8_t *bytes, size_t n, const run *ref, run *scratch)
{
    gan_checkpoint *ck = gan_checkpoint_parse(bytes, n, "corrupt.st");
    int ok;
    if (!ck) return -1; /* refused */
    ok = gan_checkpoint_load(ck, scratch->t, &scratch->data);
    gan_checkpoint_close(ck);
    if (!ok) return -1;
    return same_run(ref, scratch);
}

static void test_corruption(void)
{
    run r, s;
    buffer file;
    size_t i, bad_flip = 0, bad_cut = 0, refused = 0, identical = 0, first_bad = 0;
    int x;
    run_make(&r, 3);
    train(&r, 2);
    file = save(&r);
    run_make(&s, 5);
    for (i = 0; i < file.n; i++)
        for (x = 0; x < 2; x++) {
            int got;
            uint8_t keep = file.p[i];
            file.p[i] ^= (uint8_t)(x ? 0x80 : 0x01);
            got = loads_same(file.p, file.n, &r, &s);
            file.p[i] = keep;
            if (got < 0) refused++;
            else if (got) identical++;
            else if (!bad_flip++) first_bad = i;
        }
    test_report("checkpoint_every_byte_flip", bad_flip == 0,
                "%lu of %lu single-byte changes loaded a different state (the first at byte %lu)",
                (unsigned long)bad_flip, (unsigned long)(2 * file.n), (unsigned long)first_bad);
    printf("     %lu bytes: %lu changes refused, %lu loaded bit-identically\n", (unsigned long)file.n,
           (unsigned long)refused, (unsigned long)identical);
    for (i = 0; i < file.n; i++)
        if (loads_same(file.p, i, &r, &s) >= 0) bad_cut++;
    test_report("checkpoint_every_truncation", bad_cut == 0, "%lu cut lengths were accepted", (unsigned long)bad_cut);
    test_report("checkpoint_intact_loads", loads_same(file.p, file.n, &r, &s) == 1, "%s", gan_last_error());
    free(file.p);
    run_free(&r);
    run_free(&s);
}

/* An encoder whose callback refuses after `limit` bytes: a disk filling up in the middle of a save. */
typedef struct failing {
    const run *r;
    size_t limit, written;
    gan_write_fn write;
    void *user;
} failing;

static int failing_write(void *user, const void *data, size_t n)
{
    failing *f = (failing *)user;
    if (f->written + n > f->limit) return 0;
    f->written += n;
    return f->write(f->user, data, n);
}

static int failing_encode(void *ctx, gan_write_fn write, void *user)
{
    failing *f = (failing *)ctx;
    f->write = write;
    f->user = user;
    f->written = 0;
    return gan_trainer_write(failing_write, f, f->r->t, &f->r->data, NULL, 0);
}

static int file_exists(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

static void test_crash_safe(void)
{
    char path[] = "/tmp/gan_ck_XXXXXX", file[64], tmp[80];
    run r, s;
    failing f;
    gan_checkpoint *ck;
    size_t limits[3];
    int i, ok = 1;
    if (!mkdtemp(path)) {
        test_skip("checkpoint_save_cut_short", "mkdtemp failed");
        return;
    }
    sprintf(file, "%s/run.st", path);
    sprintf(tmp, "%s.tmp", file);
    run_make(&r, 9);
    train(&r, 1);
    test_report("checkpoint_save", gan_trainer_save(file, r.t, &r.data, NULL, 0), "%s", gan_last_error());
    train(&r, 1);
    memset(&f, 0, sizeof f);
    f.r = &r;
    limits[0] = 0;
    limits[1] = 100;
    limits[2] = 20000;
    for (i = 0; i < 3; i++) {
        f.limit = limits[i];
        ok &= !gan_save_file(file, failing_encode, &f);
        ok &= !file_exists(tmp);
    }
    test_report("checkpoint_save_cut_short_fails", ok, "a save cut short reported success or left %s", tmp);
    ck = gan_checkpoint_open(file);
    test_report("checkpoint_old_file_survives", ck != NULL, "%s", gan_last_error());
    if (ck) {
        run_make(&s, 10);
        test_report("checkpoint_old_file_loads", gan_checkpoint_load(ck, s.t, &s.data) && s.t->steps == 1,
                    "%s (steps %ld)", gan_last_error(), (long)s.t->steps);
        run_free(&s);
        gan_checkpoint_close(ck);
    }
    remove(file);
    remove(path);
    run_free(&r);
}

static void test_refusals(void)
{
    run r;
    buffer file;
    gan_checkpoint *ck;
    gan_net *G2, *D2, *E2;
    gan_trainer *t2;
    gan_train_config cfg = gan_default_train(GAN_FAMILY_NONSATURATING), got;
    const char *e;
    run_make(&r, 11);
    train(&r, 1);
    file = save(&r);
    ck = gan_checkpoint_parse(file.p, file.n, "arch.st");
    if (!ck) fatal("gan_checkpoint_parse");

    /* D with a stride-1 second conv: the weight shapes of that conv differ (3x3), and the Linear */
    cfg.batch = BATCH;
    cfg.ema_decay = (gan_float)0.9;
    G2 = make_g(1, 4);
    D2 = make_d(2, 1);
    E2 = make_g(3, 4);
    t2 = gan_trainer_create(G2, D2, E2, &cfg);
    if (!t2) fatal("gan_trainer_create");
    test_report("checkpoint_refuses_other_arch", !gan_checkpoint_load(ck, t2, NULL), "loaded");
    e = gan_last_error();
    test_report("checkpoint_arch_message", strstr(e, "arch.st") && strstr(e, "node 4") && strstr(e, "s2") && strstr(e, "s1"),
                "message: %s", e);
    gan_trainer_free(t2);
    gan_net_free(D2);

    /* G twice as wide: refused with both shapes, the trainer untouched */
    gan_net_free(G2);
    gan_net_free(E2);
    {
        gan_net *G3 = make_g(1, 8), *E3 = make_g(3, 8), *D3 = make_d(2, 2);
        gan_float first = G3->params[0];
        int64_t steps;
        t2 = gan_trainer_create(G3, D3, E3, &cfg);
        if (!t2) fatal("gan_trainer_create");
        steps = t2->steps;
        test_report("checkpoint_refuses_other_width", !gan_checkpoint_load(ck, t2, NULL), "loaded");
        e = gan_last_error();
        test_report("checkpoint_width_message", strstr(e, "G") != NULL, "message: %s", e);
        test_report("checkpoint_failed_load_changes_nothing", G3->params[0] == first && t2->steps == steps,
                    "the trainer changed");
        gan_trainer_free(t2);
        gan_net_free(G3);
        gan_net_free(E3);
        gan_net_free(D3);
    }

    /* shapes named: load G's tensors into a net with another width through load_net */
    {
        gan_net *wide = make_g(1, 8);
        int ok = gan_checkpoint_load_net(ck, wide, "G");
        e = gan_last_error();
        test_report("checkpoint_load_net_refuses_width", !ok && strstr(e, "G"), "message: %s", e);
        gan_net_free(wide);
    }

    test_report("checkpoint_config", gan_checkpoint_config(ck, &got) && got.batch == BATCH &&
                    got.ema_decay == (gan_float)0.9 && got.opt_g.kind == GAN_ADAM && got.opt_g.lr == r.G->opt.lr &&
                    got.opt_g.beta1 == r.G->opt.beta1 && got.loss == GAN_LOSS_NONSATURATING && got.n_critic == 1,
                "%s", gan_last_error());
    gan_checkpoint_close(ck);
    free(file.p);
    run_free(&r);
}

static void test_export(void)
{
    run r;
    buffer file;
    gan_checkpoint *ck;
    gan_net *G;
    gan_float z[BATCH * Z], y1[BATCH * 64], y2[BATCH * 64];
    gan_tensor tz = gan_tensor_make(z, BATCH, Z, 1, 1), t1 = gan_tensor_make(y1, BATCH, 1, 8, 8),
               t2 = gan_tensor_make(y2, BATCH, 1, 8, 8);
    gan_rng rng;
    run_make(&r, 13);
    train(&r, 3);
    memset(&file, 0, sizeof file);
    test_report("checkpoint_net_write", gan_net_write(buffer_write, &file, r.E, "G"), "%s", gan_last_error());
    ck = gan_checkpoint_parse(file.p, file.n, "g.st");
    G = make_g(99, 4);
    test_report("checkpoint_load_net", ck && gan_checkpoint_load_net(ck, G, "G"), "%s", gan_last_error());
    gan_rng_seed(&rng, 5);
    gan_fill_normal(z, BATCH * Z, 0, 1, &rng);
    gan_net_infer(r.E, &t1, &tz, GAN_STATS_RUNNING);
    gan_net_infer(G, &t2, &tz, GAN_STATS_RUNNING);
    test_report("checkpoint_export_samples_same", !memcmp(y1, y2, sizeof y1), "samples differ");
    {
        gan_train_config c;
        test_report("checkpoint_export_is_not_a_trainer", ck && !gan_checkpoint_config(ck, &c),
                    "a net file gave a trainer's settings");
    }
    gan_checkpoint_close(ck);
    free(file.p);
    gan_net_free(G);
    run_free(&r);
}

static void test_non_finite(void)
{
    run r;
    gan_step_stats st;
    int ok;
    const char *e;
    gan_float before;
    run_make(&r, 17);
    train(&r, 2);
    r.D->layers[7].W[0] = (gan_float)INFINITY; /* D's logits become infinite or NaN */
    before = r.D->params[0];
    ok = gan_train_step(r.t, &st, gan_loader_real, &r.data);
    e = gan_last_error();
    test_report("train_step_stops_on_non_finite", !ok && strstr(e, "step 3") && strstr(e, "not finite"), "ok %d, %s", ok, e);
    test_report("train_step_non_finite_no_update", r.D->params[0] == before && r.t->steps == 2, "D was updated");
    run_free(&r);
}

int main(void)
{
    if (!gan_dataset_shapes(&images, 20, 8, 1)) fatal("gan_dataset_shapes");
    test_resume();
    test_corruption();
    test_crash_safe();
    test_refusals();
    test_export();
    test_non_finite();
    gan_dataset_free(&images);
    return test_finish();
}
