/* gan.h - v0.1.0 - train generative adversarial networks on the CPU, in plain C.
   No dependencies beyond libc and libm.

   Do this:
      #define GAN_IMPLEMENTATION
   before you include this file in *one* C or C++ file to create the implementation.

      // i.e. it should look like this:
      #include ...
      #include ...
      #define GAN_IMPLEMENTATION
      #include "gan.h"

   CONTENTS (each part of the implementation starts with a banner you can grep for, "==== name ====")
      tensor       4-D float views (N, C, H, W), shapes
      rng          a seeded PCG32 generator kept in a struct; uniform, normal; initializers
      kernels      GEMM (blocked, and its naive twin), im2col / col2im
      layers       Linear, Conv2d, ConvTranspose2d, BatchNorm, LayerNorm, ReLU, LeakyReLU, Tanh,
                   Sigmoid, Dropout, Reshape/Flatten, Upsample x2: forward and backward
      losses       BCE-with-logits (softplus form), mean squared error
      optim        SGD with momentum, Adam (optional decoupled weight decay), RMSProp
      net          a sequential container that plans one arena for a stated maximum batch

   OPTIONS (#define before including; all are optional)
      GAN_IMPLEMENTATION   emit the implementation (in exactly one file)
      GAN_STATIC           make every function static, private to the file that includes it
                           (then every file that includes gan.h defines GAN_IMPLEMENTATION)
      GANDEF               storage class of the API functions       default: extern (static with GAN_STATIC)
      GAN_DOUBLE           make the scalar gan_float a double        default: float
                           (the gradient-check tests use it; a float and a double build do not mix)
      GAN_MALLOC(n)        allocator, with GAN_FREE(p): both or neither   default: malloc / free
      GAN_FREE(p)
      GAN_ASSERT(cond)     programmer-error check                   default: assert(cond) from <assert.h>
      GAN_NO_STDIO         leave out everything that uses FILE * (gan_net_print)

   QUICK START (fits y = sin(x) with a small MLP; cc -O2 quick.c -lm)

      #define GAN_IMPLEMENTATION
      #include "gan.h"
      #include <math.h>
      #include <stdio.h>
      int main(void) {
          gan_rng rng; gan_rng_seed(&rng, 1);
          gan_layer layers[3];
          layers[0] = gan_linear(1, 32); layers[1] = gan_tanh(); layers[2] = gan_linear(32, 1);
          gan_net *net = gan_net_create(gan_chw(1, 1, 1), layers, 3, 64, &rng);
          if (!net) { printf("%s\n", gan_last_error()); return 1; }
          gan_net_set_optim(net, gan_adam(1e-2f, 0.9f, 0.999f));
          float x[64], t[64], dy[64];
          for (int step = 0; step <= 2000; step++) {
              for (int i = 0; i < 64; i++) { x[i] = 6.0f * gan_rng_uniform(&rng) - 3.0f; t[i] = sinf(x[i]); }
              gan_tensor in = gan_tensor_make(x, 64, 1, 1, 1);
              const gan_tensor *y = gan_net_forward(net, &in);
              float loss = gan_mse(dy, y->data, t, 64);
              gan_tensor dout = gan_tensor_make(dy, 64, 1, 1, 1);
              gan_net_zero_grad(net);
              gan_net_backward(net, &dout);
              gan_net_step(net);
              if (step % 500 == 0) printf("step %d  loss %.5f\n", step, loss);
          }
          gan_net_free(net);
          return 0;
      }

   API MAP, BY TASK
      make a tensor view          gan_tensor_make, gan_tensor_count, gan_chw
      random numbers              gan_rng_seed, gan_rng_u32, gan_rng_uniform, gan_rng_normal,
                                  gan_fill_uniform, gan_fill_normal
      describe layers             gan_linear, gan_conv2d, gan_conv_transpose2d, gan_batchnorm,
                                  gan_layernorm, gan_relu, gan_leaky_relu, gan_tanh, gan_sigmoid,
                                  gan_dropout, gan_reshape, gan_flatten, gan_upsample2x, gan_no_bias
      build / free a network      gan_net_create, gan_net_free, gan_net_arena_bytes, gan_net_print
      initialize weights          gan_net_init, gan_layer_init (GAN_INIT_PYTORCH, _DCGAN, _XAVIER, _KAIMING)
      run it                      gan_net_forward, gan_net_backward, gan_net_set_training
      train it                    gan_net_zero_grad, gan_net_set_optim, gan_net_step;
                                  gan_sgd, gan_adam, gan_rmsprop, gan_optim_update
      look inside                 gan_net_layer, gan_net_output, gan_net_param_count, gan_net_param,
                                  gan_net_buffer_count, gan_net_buffer
      one layer on its own        gan_layer_forward, gan_layer_backward (on plain tensors)
      losses                      gan_bce_logits, gan_bce_logits_const, gan_mse, gan_mse_const
      kernels                     gan_gemm, gan_gemm_naive, gan_im2col, gan_col2im
      errors                      gan_last_error

   CONVENTIONS (chosen to give the same numbers as PyTorch for the same weights and input)
      - Tensors are row-major N x C x H x W. A feature vector is (C, 1, 1).
      - Parameter layouts: Linear weight (out, in); Conv2d weight (out_ch, in_ch, k, k);
        ConvTranspose2d weight (in_ch, out_ch, k, k); every bias (out_ch).
      - Conv2d output size: floor((H + 2 pad - k) / stride) + 1.
        ConvTranspose2d output size: (H - 1) stride - 2 pad + k + out_pad, with out_pad < stride.
      - BatchNorm normalizes each channel over N (and H, W for images) with the biased batch variance
        and eps = 1e-5 inside the square root. The running estimates update with momentum 0.1 as
        running = (1 - momentum) running + momentum batch, using the *unbiased* variance
        (times m / (m - 1), m values per channel). Evaluation mode uses the running estimates.
        Training mode needs more than one value per channel.
      - LayerNorm normalizes each sample over all of (C, H, W), biased variance, eps = 1e-5, with an
        elementwise weight and bias of shape (C, H, W): PyTorch's nn.LayerNorm([C, H, W]).
      - LeakyReLU(x) = x for x > 0, slope x otherwise; its derivative at 0 is the slope, as ReLU's is 0.
      - Dropout zeroes with probability p in training and scales the kept values by 1 / (1 - p);
        it is the identity in evaluation.
      - Losses return the mean over the n values and write d(mean)/d(input).
        BCE-with-logits is max(x, 0) - x t + log(1 + exp(-|x|)): no overflow for any x.
      - SGD: buf = momentum buf + g, w -= lr buf (PyTorch's form, no dampening).
        Adam: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, t counts from 1,
              w -= lr (m / (1 - b1^t)) / (sqrt(v) / sqrt(1 - b2^t) + eps)  -- eps after the bias
              correction, as PyTorch; weight_decay is decoupled (AdamW): w -= lr wd w first.
        RMSProp: v = alpha v + (1 - alpha) g^2, w -= lr g / (sqrt(v) + eps); with momentum,
              buf = momentum buf + g / (sqrt(v) + eps), w -= lr buf.
        SGD and RMSProp add weight_decay w to the gradient (L2), as PyTorch does.
      - Default initialization (GAN_INIT_PYTORCH) is PyTorch's: weight and bias uniform in
        +-1/sqrt(fan_in), with fan_in = in_features, in_ch k k (Conv2d) or out_ch k k (ConvTranspose2d,
        from the weight's second dimension, as PyTorch computes it); norm layers weight 1, bias 0.
        GAN_INIT_DCGAN: weights N(0, 0.02), norm weights N(1, 0.02), biases 0.
        GAN_INIT_XAVIER: uniform +-sqrt(6 / (fan_in + fan_out)); GAN_INIT_KAIMING: N(0, 2 / fan_in).
      - Gradients of parameters accumulate (+=) until gan_net_zero_grad; gradients of inputs are
        written (=). Backward returns dL/dinput so one network's input gradient is handed to another
        by an explicit call.

   MEMORY
      gan_net_create plans one arena for the largest batch you state: parameters, gradients, optimizer
      moments, running statistics, every layer's output and saved values, two gradient buffers and one
      scratch area. Forward, backward and optimizer steps never allocate. Pointers returned by forward
      and backward point into the arena: the output stays valid until the next forward, the input
      gradient until the next backward of the same network.

   ERRORS
      Programmer errors (mismatched shapes, a batch above the maximum, NULL) stop at GAN_ASSERT with the
      failed condition. Runtime failures (out of memory) return NULL or 0 and set gan_last_error().
      The library never calls exit() and never prints unless you call gan_net_print.

   LIMITATIONS (v0.1.0)
      - Sequential containers only; other graphs are written with explicit calls between networks
        (see gan_layer_forward / gan_layer_backward and the README).
      - One thread; the GEMM is blocked but not yet packed or dispatched per instruction set.
      - gan_last_error() is one pointer per program (per file with GAN_STATIC), not per thread.
      - Conv layers are square-kernel, no dilation, no groups.
*/

#ifndef GAN_H_INCLUDE
#define GAN_H_INCLUDE

#include <stddef.h>
#include <stdint.h>
#ifndef GAN_NO_STDIO
#include <stdio.h>
#endif

#define GAN_VERSION_MAJOR 0
#define GAN_VERSION_MINOR 1
#define GAN_VERSION_PATCH 0

#ifndef GANDEF
#ifdef GAN_STATIC
#define GANDEF static
#else
#define GANDEF extern
#endif
#endif

#ifdef GAN_DOUBLE
typedef double gan_float;
#else
typedef float gan_float;
#endif

/* Number of elements of an array, for layer lists: gan_net_create(shape, L, GAN_COUNT(L), ...). */
#define GAN_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

#ifdef __cplusplus
extern "C" {
#endif

/* ---- tensor ------------------------------------------------------------------------------------ */

/* A view of n samples of c x h x w values, row-major; it never owns its data. */
typedef struct gan_tensor {
    gan_float *data;
    int n, c, h, w;
} gan_tensor;

/* The shape of one sample. */
typedef struct gan_shape {
    int c, h, w;
} gan_shape;

GANDEF gan_tensor gan_tensor_make(gan_float *data, int n, int c, int h, int w);
GANDEF size_t     gan_tensor_count(const gan_tensor *t); /* n c h w */
GANDEF gan_shape  gan_chw(int c, int h, int w);

/* ---- rng --------------------------------------------------------------------------------------- */

/* PCG32 (O'Neill 2014). Plain data: copy it to save it, copy it back to restore it. */
typedef struct gan_rng {
    uint64_t state, inc;
} gan_rng;

GANDEF void      gan_rng_seed(gan_rng *rng, uint64_t seed);
GANDEF uint32_t  gan_rng_u32(gan_rng *rng);
GANDEF gan_float gan_rng_uniform(gan_rng *rng);  /* [0, 1) */
GANDEF gan_float gan_rng_normal(gan_rng *rng);   /* N(0, 1), Box-Muller */
GANDEF void      gan_fill_uniform(gan_float *x, size_t n, gan_float lo, gan_float hi, gan_rng *rng);
GANDEF void      gan_fill_normal(gan_float *x, size_t n, gan_float mean, gan_float std, gan_rng *rng);

/* ---- kernels ----------------------------------------------------------------------------------- */

/* C (M x N) = alpha op(A) op(B) + beta C, row-major, op(X) = X or X^T; BLAS argument order so a
   cblas_sgemm can stand in. beta = 0 ignores what C held (NaN included). */
GANDEF void gan_gemm(int trans_a, int trans_b, int M, int N, int K, gan_float alpha,
                     const gan_float *A, int lda, const gan_float *B, int ldb,
                     gan_float beta, gan_float *C, int ldc);
GANDEF void gan_gemm_naive(int trans_a, int trans_b, int M, int N, int K, gan_float alpha,
                           const gan_float *A, int lda, const gan_float *B, int ldb,
                           gan_float beta, gan_float *C, int ldc);

/* Geometry of a convolution: input c x h x w, square kernel k, stride, pad, output oh x ow. */
typedef struct gan_conv_geom {
    int c, h, w, k, stride, pad, oh, ow;
} gan_conv_geom;

/* col (c k k) x (oh ow) from one image x (c x h x w); zero where the window leaves the image. */
GANDEF void gan_im2col(gan_float *col, const gan_float *x, const gan_conv_geom *g);
/* The adjoint of gan_im2col: x += scatter of col. x must be cleared first if it is not to accumulate. */
GANDEF void gan_col2im(gan_float *x, const gan_float *col, const gan_conv_geom *g);

/* ---- layers ------------------------------------------------------------------------------------ */

typedef enum gan_layer_kind {
    GAN_LINEAR,
    GAN_CONV2D,
    GAN_CONV_TRANSPOSE2D,
    GAN_BATCHNORM,
    GAN_LAYERNORM,
    GAN_RELU,
    GAN_LEAKY_RELU,
    GAN_TANH,
    GAN_SIGMOID,
    GAN_DROPOUT,
    GAN_RESHAPE,
    GAN_UPSAMPLE2X
} gan_layer_kind;

typedef enum gan_init {
    GAN_INIT_PYTORCH, /* PyTorch's defaults (what gan_net_create uses) */
    GAN_INIT_DCGAN,   /* N(0, 0.02) weights, N(1, 0.02) norm weights, zero biases (Radford et al.) */
    GAN_INIT_XAVIER,  /* Glorot uniform, zero biases */
    GAN_INIT_KAIMING  /* He normal for ReLU (fan_in), zero biases */
} gan_init;

/* A layer: its kind, its hyper-parameters, and (once it belongs to a network) its shapes and views
   of the network's arena. Constructors fill the first part; gan_net_create fills the rest. */
typedef struct gan_layer {
    gan_layer_kind kind;
    /* hyper-parameters */
    int in_ch, out_ch;          /* Linear: features; Conv: channels; BatchNorm: features (in_ch) */
    int k, stride, pad, out_pad;
    int has_bias;
    gan_float slope;            /* LeakyReLU: slope for x <= 0 */
    gan_float p;                /* Dropout: probability of zeroing */
    gan_float eps, momentum;    /* BatchNorm, LayerNorm */
    gan_shape to;               /* Reshape: target shape (c < 0 flattens) */
    /* per-sample shapes, fixed by gan_net_create */
    gan_shape in, out;
    int max_batch;
    /* views into the owner's arena */
    gan_float *W, *b, *dW, *db; /* weight and bias (BatchNorm/LayerNorm: gamma and beta) */
    size_t nW, nb;
    gan_float *run_mean, *run_var; /* BatchNorm running estimates */
    gan_float *saved;           /* BatchNorm: mean, 1/std per channel; LayerNorm: per sample; Dropout: mask */
    gan_float *work;            /* scratch shared by the network's layers (im2col columns) */
    int trained;                /* mode of the last forward: 1 training, 0 evaluation */
    gan_rng rng;                /* Dropout's own stream, seeded by gan_net_create */
} gan_layer;

GANDEF gan_layer gan_linear(int in_features, int out_features);
GANDEF gan_layer gan_conv2d(int in_ch, int out_ch, int k, int stride, int pad);
GANDEF gan_layer gan_conv_transpose2d(int in_ch, int out_ch, int k, int stride, int pad, int out_pad);
GANDEF gan_layer gan_batchnorm(int features);   /* features = channels for images (BatchNorm2d) */
GANDEF gan_layer gan_layernorm(void);           /* over (C, H, W) of each sample */
GANDEF gan_layer gan_relu(void);
GANDEF gan_layer gan_leaky_relu(gan_float slope);
GANDEF gan_layer gan_tanh(void);
GANDEF gan_layer gan_sigmoid(void);
GANDEF gan_layer gan_dropout(gan_float p);
GANDEF gan_layer gan_reshape(int c, int h, int w);
GANDEF gan_layer gan_flatten(void);             /* (C, H, W) -> (C H W, 1, 1) */
GANDEF gan_layer gan_upsample2x(void);          /* nearest neighbour */
GANDEF gan_layer gan_no_bias(gan_layer layer);  /* Linear, Conv2d, ConvTranspose2d without bias */

/* y = layer(x). training: 1 uses batch statistics (BatchNorm) and drops (Dropout); 0 does not.
   y must have the layer's output shape and x's batch. */
GANDEF void gan_layer_forward(gan_layer *layer, gan_tensor *y, const gan_tensor *x, int training);
/* Given dy = dL/dy and the x, y of the last forward: dW, db += dL/dparameters; dx = dL/dx
   (dx may be NULL when the input gradient is not wanted). */
GANDEF void gan_layer_backward(gan_layer *layer, gan_tensor *dx, const gan_tensor *dy,
                               const gan_tensor *x, const gan_tensor *y);
GANDEF void gan_layer_init(gan_layer *layer, gan_init scheme, gan_rng *rng);

/* ---- losses ------------------------------------------------------------------------------------ */
/* Each returns the mean loss over n values and, when grad is not NULL, writes grad = d(mean)/dx. */

GANDEF gan_float gan_bce_logits(gan_float *grad, const gan_float *x, const gan_float *target, size_t n);
GANDEF gan_float gan_bce_logits_const(gan_float *grad, const gan_float *x, gan_float target, size_t n);
GANDEF gan_float gan_mse(gan_float *grad, const gan_float *x, const gan_float *target, size_t n);
GANDEF gan_float gan_mse_const(gan_float *grad, const gan_float *x, gan_float target, size_t n);

/* ---- optim ------------------------------------------------------------------------------------- */

typedef enum gan_optim_kind { GAN_SGD, GAN_ADAM, GAN_RMSPROP } gan_optim_kind;

/* Hyper-parameters and the step count; the moments live beside the parameters. */
typedef struct gan_optim {
    gan_optim_kind kind;
    gan_float lr;
    gan_float momentum;      /* SGD, RMSProp */
    gan_float beta1, beta2;  /* Adam */
    gan_float alpha;         /* RMSProp smoothing */
    gan_float eps;           /* Adam, RMSProp */
    gan_float weight_decay;  /* Adam: decoupled (AdamW); SGD, RMSProp: added to the gradient */
    long step;               /* steps taken; gan_optim_update uses it as t */
} gan_optim;

GANDEF gan_optim gan_sgd(gan_float lr, gan_float momentum);
GANDEF gan_optim gan_adam(gan_float lr, gan_float beta1, gan_float beta2);   /* eps 1e-8 */
GANDEF gan_optim gan_rmsprop(gan_float lr, gan_float alpha);                /* eps 1e-8 */
/* One update of n parameters w with gradient dw, moments m and v (each n values, zero at first),
   at step t = opt->step (count it from 1 before the call). */
GANDEF void gan_optim_update(gan_float *w, gan_float *m, gan_float *v, const gan_float *dw,
                             const gan_optim *opt, size_t n);

/* ---- net --------------------------------------------------------------------------------------- */

/* One parameter (or buffer) tensor of a network: PyTorch's Sequential names it "<layer>.<role>". */
typedef struct gan_param {
    int layer;
    const char *role;  /* "weight", "bias", "running_mean", "running_var" */
    gan_float *data, *grad; /* grad is NULL for buffers */
    size_t count;
    int ndim, shape[4];
} gan_param;

/* A sequential network and its arena. The fields are readable; change them only through the API. */
typedef struct gan_net {
    int n_layers;
    gan_layer *layers;
    gan_shape in;
    int max_batch;
    int training;            /* 1 after creation */
    int batch;               /* batch of the last forward */
    gan_optim opt;           /* Adam(1e-3, 0.9, 0.999) after creation */
    gan_float *params, *grads, *opt_m, *opt_v; /* n_params each, contiguous */
    size_t n_params;
    gan_tensor *acts;        /* n_layers + 1: acts[0] a copy of the input, acts[i + 1] layer i's output */
    gan_tensor dx;           /* dL/dinput of the last backward */
    gan_float *dbuf[2];      /* gradient ping-pong buffers */
    gan_float *arena;        /* the one allocation everything above points into */
    size_t arena_count;      /* in gan_float */
    void *arena_block;       /* what GAN_MALLOC returned */
} gan_net;

/* Plans and allocates the arena for batches up to max_batch, initializes weights the PyTorch way
   from rng (and seeds Dropout streams from it). NULL on failure (see gan_last_error). */
GANDEF gan_net *gan_net_create(gan_shape in, const gan_layer *layers, int n_layers, int max_batch,
                               gan_rng *rng);
GANDEF void     gan_net_free(gan_net *net);
GANDEF size_t   gan_net_arena_bytes(const gan_net *net);
GANDEF void     gan_net_init(gan_net *net, gan_init scheme, gan_rng *rng);

GANDEF void     gan_net_set_training(gan_net *net, int training);
/* Runs the layers on a copy of x; returns the output (in the arena). */
GANDEF const gan_tensor *gan_net_forward(gan_net *net, const gan_tensor *x);
/* dy = dL/doutput for the last forward's batch. Accumulates parameter gradients, returns dL/dinput. */
GANDEF const gan_tensor *gan_net_backward(gan_net *net, const gan_tensor *dy);
GANDEF const gan_tensor *gan_net_output(const gan_net *net);

GANDEF void     gan_net_zero_grad(gan_net *net);
/* Sets the optimizer and clears its moments and step count. */
GANDEF void     gan_net_set_optim(gan_net *net, gan_optim opt);
/* One optimizer step over every parameter (opt.step += 1 first). */
GANDEF void     gan_net_step(gan_net *net);

GANDEF gan_layer *gan_net_layer(gan_net *net, int i);
GANDEF int       gan_net_param_count(const gan_net *net);
GANDEF gan_param gan_net_param(gan_net *net, int i);
GANDEF int       gan_net_buffer_count(const gan_net *net);
GANDEF gan_param gan_net_buffer(gan_net *net, int i);
#ifndef GAN_NO_STDIO
GANDEF void      gan_net_print(const gan_net *net, FILE *f); /* one line per layer */
#endif

/* ---- errors ------------------------------------------------------------------------------------ */

/* The last runtime failure, or "" if none. */
GANDEF const char *gan_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* GAN_H_INCLUDE */

/* ============================================================================================== */
/*                                        IMPLEMENTATION                                          */
/* ============================================================================================== */

#ifdef GAN_IMPLEMENTATION
#ifndef GAN_IMPLEMENTATION_DONE
#define GAN_IMPLEMENTATION_DONE

/* IMPLEMENTATION_PENDING */

#endif /* GAN_IMPLEMENTATION_DONE */
#endif /* GAN_IMPLEMENTATION */

/*
   HISTORY
      0.1.0  (2026-11)  first release: tensors, rng, layers, losses, optimizers, sequential networks.

   LICENSE
      MIT License. Copyright (c) 2026 the gan.h authors.
      Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
      associated documentation files (the "Software"), to deal in the Software without restriction,
      including without limitation the rights to use, copy, modify, merge, publish, distribute,
      sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
      furnished to do so, subject to the following conditions:
      The above copyright notice and this permission notice shall be included in all copies or
      substantial portions of the Software.
      THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
      NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
      NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
      DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
      OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
*/
