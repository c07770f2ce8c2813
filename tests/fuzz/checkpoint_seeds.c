/* tests/fuzz/checkpoint_seeds.c - writes fuzz_checkpoint's seeds that gan.h itself writes:
   checkpoints of tiny networks, each well under 4 KiB, so that the fuzzer starts from files that
   parse (make_corpus.sh builds and runs it when gan.h has the checkpoint API).

      cc -O1 tests/fuzz/checkpoint_seeds.c -lm && ./a.out DIR

   DIR/net_G.safetensors      gan_net_save of a small generator (a BatchNorm: num_batches_tracked)
   DIR/trainer.safetensors    gan_trainer_save of a smaller G and D (a Dropout: an rng stream), with
                              plain SGD (no moments, to stay small), a loader (data.*) and a user
                              string of the caller's
   Every value is seeded, so the files are the same on every run of the same gan.h. */
#define GAN_IMPLEMENTATION
#define GAN_NO_THREADS
#include "../../gan.h"

#include <stdio.h>
#include <string.h>

static int fail(const char *what)
{
    fprintf(stderr, "checkpoint_seeds: %s: %s\n", what, gan_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    char path[4096];
    gan_rng rng;
    gan_layer g_layers[4], d_layers[2];
    gan_net *G, *D;
    gan_train_config cfg;
    gan_trainer *t;
    gan_dataset set;
    gan_loader data;
    gan_meta meta[1];
    if (argc != 2) {
        fprintf(stderr, "usage: checkpoint_seeds DIR\n");
        return 2;
    }
    gan_rng_seed(&rng, 1);
    g_layers[0] = gan_linear(2, 3);
    g_layers[1] = gan_batchnorm(3);
    g_layers[2] = gan_relu();
    g_layers[3] = gan_linear(3, 4);
    G = gan_net_create(gan_chw(2, 1, 1), g_layers, 4, 2, &rng);
    if (!G) return fail("gan_net_create");
    snprintf(path, sizeof path, "%s/net_G.safetensors", argv[1]);
    if (!gan_net_save(path, G, "G")) return fail("gan_net_save");
    gan_net_free(G);

    g_layers[0] = gan_linear(1, 2);
    d_layers[0] = gan_dropout(0.5f);
    d_layers[1] = gan_linear(2, 1);
    G = gan_net_create(gan_chw(1, 1, 1), g_layers, 1, 2, &rng);
    D = gan_net_create(gan_chw(2, 1, 1), d_layers, 2, 2, &rng);
    if (!G || !D) return fail("gan_net_create");

    cfg = gan_default_train(GAN_FAMILY_NONSATURATING);
    cfg.batch = 2;
    cfg.opt_g = gan_sgd(0.01f, 0);
    cfg.opt_d = gan_sgd(0.01f, 0);
    t = gan_trainer_create(G, D, NULL, &cfg);
    if (!t) return fail("gan_trainer_create");
    if (!gan_dataset_shapes(&set, 3, 8, 1) || !gan_loader_init(&data, &set, 1)) return fail("a loader");
    meta[0].key = "note";
    meta[0].value = "a \"seed\"\n";
    snprintf(path, sizeof path, "%s/trainer.safetensors", argv[1]);
    if (!gan_trainer_save(path, t, &data, meta, 1)) return fail("gan_trainer_save");

    gan_loader_free(&data);
    gan_dataset_free(&set);
    gan_trainer_free(t);
    gan_net_free(G);
    gan_net_free(D);
    return 0;
}
