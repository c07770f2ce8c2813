/*
torch_export.c - writes a trained reference DCGAN generator and what it makes, for
tests/torch_load_check.sh to compare with examples/load_in_pytorch.py.

    cc -std=c99 -O2 tests/torch_export.c -o torch_export -lm && ./torch_export OUT_DIR [N]

It builds G and D exactly as examples/dcgan.c does (the file is included, its main renamed, so the
graph, its node names and layers are dcgan.c's own), initializes them with GAN_INIT_DCGAN from seed 1,
and trains them a few steps with the non-saturating loss on gan.h's built-in shapes, with an EMA of G
(decay 0.9), so that BatchNorm's running statistics, num_batches_tracked and G_ema all differ from
their starting values. Then it writes into OUT_DIR:

    G.safetensors        gan_net_save(path, G, "G")
    trainer.safetensors  gan_trainer_save: G, D, G_ema, optimizers, streams, loader
    z.f32                N x 100 float32 noise (N(0, 1); N defaults to 16)
    y_G.f32              G(z) in evaluation mode (gan_net_infer, GAN_STATS_RUNNING), N x 1 x 28 x 28
    y_G_ema.f32          G_ema(z), likewise
    grid_G.u8            y_G as gan_grid draws it (8 a row, pad 2, scale 2): W x H gray bytes
    grid_G.txt           "W H"

The raw files are the machine's float32, little-endian on every machine it is tested on. One line
goes to stdout: the number of samples and BatchNorm 1's num_batches_tracked. Exit status 0, or 1 with
a message.
*/

#define main dcgan_main /* dcgan.c's main is not ours */
#include "../examples/dcgan.c"
#undef main

#define STEPS 6
#define BATCH 16

static int write_floats(const char *dir, const char *name, const gan_float *x, size_t n)
{
    char path[4096];
    FILE *f;
    size_t i;
    int ok = 1;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!(f = fopen(path, "wb"))) {
        fprintf(stderr, "torch_export: cannot write %s\n", path);
        return 0;
    }
    for (i = 0; i < n && ok; i++) {
        float v = (float)x[i];
        ok = fwrite(&v, sizeof v, 1, f) == 1;
    }
    if (fclose(f) != 0) ok = 0;
    if (!ok) fprintf(stderr, "torch_export: writing %s failed\n", path);
    return ok;
}

/* G's samples as gan_grid draws them (8 a row, pad 2, scale 2): grid_G.u8, its W H in grid_G.txt. */
static int write_grid(const char *dir, const gan_float *y, int n)
{
    char path[4096];
    int W, H, ok;
    uint8_t *pix;
    FILE *f = NULL;
    if (!gan_grid_size(&W, &H, n, 28, 28, 8, 2, 2) || !(pix = (uint8_t *)malloc((size_t)W * (size_t)H))) {
        fprintf(stderr, "torch_export: the grid: %s\n", gan_last_error()[0] ? gan_last_error() : "out of memory");
        return 0;
    }
    gan_grid(pix, y, n, 1, 28, 28, 8, 2, 2);
    snprintf(path, sizeof path, "%s/grid_G.u8", dir);
    ok = (f = fopen(path, "wb")) != NULL;
    if (ok) ok = fwrite(pix, 1, (size_t)W * (size_t)H, f) == (size_t)W * (size_t)H;
    if (f && fclose(f) != 0) ok = 0;
    free(pix);
    snprintf(path, sizeof path, "%s/grid_G.txt", dir);
    if (ok && (ok = (f = fopen(path, "w")) != NULL)) {
        fprintf(f, "%d %d\n", W, H);
        if (fclose(f) != 0) ok = 0;
    }
    if (!ok) fprintf(stderr, "torch_export: writing %s failed\n", path);
    return ok;
}

int main(int argc, char **argv)
{
    const char *dir;
    int n = 16, step;
    char path[4096];
    gan_rng rng;
    gan_graph *gg, *dg;
    gan_net *G, *D, *G_ema;
    gan_train_config cfg;
    gan_trainer *t;
    gan_dataset data;
    gan_loader loader;
    gan_float *z, *y;
    gan_tensor zt, yt;
    gan_meta meta[1];

    if (argc < 2 || argc > 3 || (argc == 3 && (n = atoi(argv[2])) < 1)) {
        fprintf(stderr, "usage: torch_export OUT_DIR [N]\n");
        return 2;
    }
    dir = argv[1];

    gan_rng_seed(&rng, 1);
    gg = generator();
    dg = discriminator(1, 0);
    G = gg ? gan_net_build(gg, BATCH, 0, &rng) : NULL;
    D = dg ? gan_net_build(dg, BATCH, 0, &rng) : NULL;
    G_ema = gg ? gan_net_build(gg, BATCH, 0, &rng) : NULL;
    if (!G || !D || !G_ema) {
        fprintf(stderr, "torch_export: gan_net_build: %s\n", gan_last_error());
        return 1;
    }
    gan_net_init(G, GAN_INIT_DCGAN, &rng);
    gan_net_init(D, GAN_INIT_DCGAN, &rng);
    cfg = gan_default_train(GAN_FAMILY_NONSATURATING);
    cfg.batch = BATCH;
    cfg.ema_decay = 0.9f;
    if (!(t = gan_trainer_create(G, D, G_ema, &cfg))) {
        fprintf(stderr, "torch_export: %s\n", gan_last_error());
        return 1;
    }
    if (!gan_dataset_shapes(&data, 256, 28, 7) || !gan_loader_init(&loader, &data, 3)) {
        fprintf(stderr, "torch_export: %s\n", gan_last_error());
        return 1;
    }
    for (step = 0; step < STEPS; step++)
        if (!gan_train_step(t, NULL, gan_loader_real, &loader)) {
            fprintf(stderr, "torch_export: gan_train_step: %s\n", gan_last_error());
            return 1;
        }

    snprintf(path, sizeof path, "%s/G.safetensors", dir);
    if (!gan_net_save(path, G, "G")) {
        fprintf(stderr, "torch_export: %s\n", gan_last_error());
        return 1;
    }
    meta[0].key = "note";
    meta[0].value = "tests/torch_export.c";
    snprintf(path, sizeof path, "%s/trainer.safetensors", dir);
    if (!gan_trainer_save(path, t, &loader, meta, 1)) {
        fprintf(stderr, "torch_export: %s\n", gan_last_error());
        return 1;
    }

    z = (gan_float *)malloc(sizeof(gan_float) * (size_t)n * ZDIM);
    y = (gan_float *)malloc(sizeof(gan_float) * (size_t)n * 28 * 28);
    if (!z || !y) {
        fprintf(stderr, "torch_export: out of memory\n");
        return 1;
    }
    gan_fill_normal(z, (size_t)n * ZDIM, 0, 1, &rng);
    zt = gan_tensor_make(z, n, ZDIM, 1, 1);
    yt = gan_tensor_make(y, n, 1, 28, 28);
    if (!write_floats(dir, "z.f32", z, (size_t)n * ZDIM)) return 1;
    if (!gan_net_infer(G, &yt, &zt, GAN_STATS_RUNNING) || !write_floats(dir, "y_G.f32", y, (size_t)n * 28 * 28)) {
        if (gan_last_error()[0]) fprintf(stderr, "torch_export: %s\n", gan_last_error());
        return 1;
    }
    if (!write_grid(dir, y, n)) return 1;
    if (!gan_net_infer(G_ema, &yt, &zt, GAN_STATS_RUNNING) ||
        !write_floats(dir, "y_G_ema.f32", y, (size_t)n * 28 * 28)) {
        if (gan_last_error()[0]) fprintf(stderr, "torch_export: %s\n", gan_last_error());
        return 1;
    }
    printf("torch_export: %d samples, %d steps, BatchNorm 1 num_batches_tracked %lld\n", n, STEPS,
           (long long)gan_net_layer(G, 1)->batches_tracked);

    free(z);
    free(y);
    gan_trainer_free(t);
    gan_loader_free(&loader);
    gan_dataset_free(&data);
    gan_net_free(G);
    gan_net_free(D);
    gan_net_free(G_ema);
    gan_graph_free(gg);
    gan_graph_free(dg);
    return 0;
}
