/* tests/test_print.c - gan_net_print: one line per node with its name, kind, inputs, output shape and
   parameter count, then the total and the arena's size, so a user can see what was planned: for a
   chain (gan_net_create) and for a graph with named nodes, two inputs and a join. */
#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "test.h"

#include <string.h>

int main(void)
{
    gan_rng rng;
    gan_layer layers[4];
    gan_net *net;
    FILE *f = tmpfile();
    char text[4096];
    size_t len;
    int lines = 0;
    const char *p;
    gan_rng_seed(&rng, 1);
    layers[0] = gan_conv2d(1, 4, 4, 2, 1); /* 4 1 4 4 + 4 = 68 parameters, output (4, 14, 14) */
    layers[1] = gan_batchnorm(4);          /* 8 parameters */
    layers[2] = gan_flatten();             /* (784, 1, 1) */
    layers[3] = gan_linear(784, 1);        /* 785 parameters */
    net = gan_net_create(gan_chw(1, 28, 28), layers, 4, 8, &rng);
    if (!f || !net) {
        test_report("print: set up", 0, "tmpfile or gan_net_create failed: %s", gan_last_error());
        return test_finish();
    }
    gan_net_print(net, f);
    rewind(f);
    len = fread(text, 1, sizeof text - 1, f);
    text[len] = 0;
    for (p = text; *p; p++) lines += *p == '\n';
    /* a header, the input, four layers, the total */
    test_report("print: one line per layer plus header, input and total", lines == 7, "%d lines:\n%s", lines, text);
    test_report("print: every kind named", strstr(text, "Conv2d") && strstr(text, "BatchNorm") &&
                strstr(text, "Flatten") && strstr(text, "Linear"), "%s", text);
    test_report("print: output shapes", strstr(text, "(4, 14, 14)") && strstr(text, "(784, 1, 1)") &&
                strstr(text, "(1, 1, 1)"), "%s", text);
    test_report("print: total parameters 68 + 8 + 785 = 861", strstr(text, "861 parameters") != NULL, "%s", text);
    gan_net_free(net);

    {
        gan_graph *g = gan_graph_new();
        gan_node img = gan_input(g, gan_chw(1, 4, 4)), lab = gan_input(g, gan_chw(1, 1, 1)), h, e;
        gan_name(g, img, "image");
        h = gan_apply(g, gan_flatten(), img);
        gan_name(g, h, "flat");
        e = gan_apply(g, gan_embedding(3, 16), lab); /* 48 parameters */
        gan_name(g, e, "embed");
        gan_inner(g, h, e);
        net = gan_net_build(g, 2, 0, &rng);
        gan_graph_free(g);
        rewind(f);
        gan_net_print(net, f);
        len = (size_t)ftell(f);
        rewind(f);
        len = fread(text, 1, len < sizeof text - 1 ? len : sizeof text - 1, f);
        text[len] = 0;
        for (p = text, lines = 0; *p; p++) lines += *p == '\n';
        /* a header, two inputs, three layers, the total */
        test_report("print: a graph shows one line per node, inputs included", lines == 7, "%d lines:\n%s", lines, text);
        test_report("print: a graph's nodes by name, each with its inputs", strstr(text, "image") && strstr(text, "in1") &&
                    strstr(text, "Embedding") && strstr(text, "Inner") && strstr(text, "flat,embed"), "%s", text);
        test_report("print: a graph's total, 48 parameters", strstr(text, " 48 parameters") != NULL, "%s", text);
        gan_net_free(net);
    }
    fclose(f);
    return test_finish();
}
