/* tests/test_oom.c - running out of memory is a runtime failure, not a crash: gan_net_create returns
   NULL, says why in gan_last_error(), and gives back whatever it had already taken. The allocator
   below fails its Nth call, for every N that gan_net_create reaches. */
#include <stdlib.h>

#include "flaky_alloc.h"
#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "test.h"

#include <string.h>

static gan_net *create(void)
{
    gan_rng rng;
    gan_layer L[3];
    L[0] = gan_conv2d(1, 4, 3, 1, 1);
    L[1] = gan_flatten();
    L[2] = gan_linear(4 * 5 * 5, 2);
    gan_rng_seed(&rng, 3);
    return gan_net_create(gan_chw(1, 5, 5), L, 3, 4, &rng);
}

int main(void)
{
    gan_net *net;
    int total, n;
    char name[96];

    /* The thread pool is the program's, not a network's: with one thread there is none, so the
       counts below are the network's alone. The pool's own failures are checked at the end. */
    gan_set_threads(1);

    /* How many allocations does a successful create make? */
    fail_at = 0;
    calls = 0;
    net = create();
    total = calls;
    test_report("oom: a create with memory succeeds", net != NULL && strcmp(gan_last_error(), "") == 0,
                "create failed: %s", gan_last_error());
    gan_net_free(net);
    test_report("oom: free gives back everything", live == 0, "%ld blocks still held", live);

    for (n = 1; n <= total; n++) {
        fail_at = n;
        calls = 0;
        live = 0;
        net = create();
        sprintf(name, "oom: allocation %d of %d fails -> NULL, a message, nothing held", n, total);
        test_report(name, net == NULL && strlen(gan_last_error()) > 0 && live == 0,
                    "net %p, error \"%s\", %ld blocks still held", (void *)net, gan_last_error(), live);
        if (net) gan_net_free(net);
    }
    test_report("oom: create allocates at least once (so the loop above ran)", total >= 1, "%d allocations", total);

#ifndef GAN_NO_THREADS
    /* Starting workers: each allocation failing in turn leaves one thread running, a message, and
       nothing held; with memory, gan_set_threads(1) gives everything back. */
    fail_at = 0;
    calls = 0;
    live = 0;
    test_report("oom: three threads start with memory", gan_set_threads(3) == 3, "%s", gan_last_error());
    total = calls;
    gan_set_threads(1);
    test_report("oom: gan_set_threads(1) frees the pool", live == 0, "%ld blocks still held", live);
    for (n = 1; n <= total; n++) {
        int got;
        fail_at = n;
        calls = 0;
        live = 0;
        got = gan_set_threads(3);
        sprintf(name, "oom: pool allocation %d of %d fails -> 0, one thread, a message, nothing held", n, total);
        test_report(name, got == 0 && gan_threads() == 1 && strlen(gan_last_error()) > 0 && live == 0,
                    "returned %d, %d threads, error \"%s\", %ld blocks still held", got, gan_threads(), gan_last_error(), live);
    }
#endif
    return test_finish();
}
