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
      kernels      GEMM (packed and blocked, and its naive twin), im2col / col2im
      layers       Linear, Conv2d, ConvTranspose2d, BatchNorm, LayerNorm, ReLU, LeakyReLU, Tanh,
                   Sigmoid, Dropout, Reshape/Flatten, Upsample x2: forward and backward
      losses       BCE-with-logits (softplus form), mean squared error
      optim        SGD with momentum, Adam (optional decoupled weight decay), RMSProp
      net          a sequential container that plans one arena for a stated maximum batch
      (errors)     gan_last_error; its one static pointer opens the implementation

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
      GAN_GEMM             the GEMM the layers call, with gan_gemm's signature   default: gan_gemm
                           (an adapter to cblas_sgemm, say: include gan.h once, declare it, then
                           define GAN_GEMM and GAN_IMPLEMENTATION and include gan.h again)

   QUICK START (examples/quickstart.c: fits y = sin(x) with a small MLP; cc -O2 quick.c -lm)

      #define GAN_IMPLEMENTATION
      #include "gan.h"
      #include <math.h>
      #include <stdio.h>

      int main(void)
      {
          gan_rng rng;
          gan_rng_seed(&rng, 1);
          gan_layer layers[3] = { gan_linear(1, 32), gan_tanh(), gan_linear(32, 1) };
          gan_net *net = gan_net_create(gan_chw(1, 1, 1), layers, GAN_COUNT(layers), 64, &rng);
          if (!net) { printf("%s\n", gan_last_error()); return 1; }
          gan_net_set_optim(net, gan_adam(0.01f, 0.9f, 0.999f));

          gan_float x[64], t[64], dy[64];
          gan_tensor in = gan_tensor_make(x, 64, 1, 1, 1), dout = gan_tensor_make(dy, 64, 1, 1, 1);
          for (int step = 0; step <= 2000; step++) {
              for (int i = 0; i < 64; i++) { x[i] = 6 * gan_rng_uniform(&rng) - 3; t[i] = sin(x[i]); }
              const gan_tensor *y = gan_net_forward(net, &in);
              gan_float loss = gan_mse(dy, y->data, t, 64); // dy = d(loss)/dy
              gan_net_zero_grad(net);
              gan_net_backward(net, &dout);
              gan_net_step(net);
              if (step % 500 == 0) printf("step %4d  loss %.5f\n", step, loss);
          }
          gan_float one = 1;
          gan_tensor x1 = gan_tensor_make(&one, 1, 1, 1, 1);
          printf("sin(1) = %.4f, the net says %.4f\n", sin(1.0), gan_net_forward(net, &x1)->data[0]);
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
      run it                      gan_net_forward, gan_net_backward, gan_net_backward_input,
                                  gan_net_set_training
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
        Training mode needs more than one value per channel. eps and momentum are fields of the
        layer: set them on the value gan_batchnorm returns (L.momentum = 0.01f) before creating.
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
        GAN_INIT_DCGAN: weights normal with mean 0 and std 0.02, BatchNorm weights mean 1 and std 0.02,
        biases 0 (LayerNorm 1, 0). GAN_INIT_XAVIER: uniform +-sqrt(6 / (fan_in + fan_out));
        GAN_INIT_KAIMING: normal with mean 0 and std sqrt(2 / fan_in).
      - Gradients of parameters accumulate (+=) until gan_net_zero_grad; gradients of inputs are
        written (=). Backward returns dL/dinput so one network's input gradient is handed to another
        by an explicit call.

   MEMORY
      gan_net_create plans one arena for the largest batch you state: parameters, gradients, optimizer
      moments, running statistics, every layer's output and saved values, two gradient buffers and one
      scratch area. Forward, backward and optimizer steps never allocate. Pointers returned by forward
      and backward point into the arena: the output stays valid until the next forward, the input
      gradient until the next backward of the same network.

   MODELS THAT ARE NOT ONE CHAIN
      Networks are chains; anything else is several networks joined by explicit calls. A GAN's
      generator step, for example:
          const gan_tensor *fake = gan_net_forward(G, &z);
          const gan_tensor *logit = gan_net_forward(D, fake);        (D copies its input)
          gan_bce_logits_const(dlogit, logit->data, 1, n);
          const gan_tensor *dfake = gan_net_backward_input(D, &dlogit_t); (dL/dfake; D's gradients untouched)
          gan_net_backward(G, dfake);                                 (the hand-off, by hand)
          gan_net_step(G);
      A network keeps the activations of its last forward only: a network used twice before one
      backward (two losses through one G) runs forward, backward, forward, backward, its parameter
      gradients adding up. gan_net_backward_input, used above, leaves parameter gradients alone and
      skips their work: D's weights get no gradient from G's step.
      A single layer on its own (an embedding for a projection discriminator, say) is a one-layer
      network: it owns the layer's parameters and scratch, and gan_layer_forward / gan_layer_backward
      on gan_net_layer(net, 0) run it on your own tensors (any batch up to the network's maximum).
      Sums, products and concatenations between networks are plain loops over the tensors' data.

   ERRORS
      Programmer errors (mismatched shapes, a batch above the maximum, NULL) stop at GAN_ASSERT with the
      failed condition. Runtime failures (out of memory) return NULL or 0 and set gan_last_error().
      The library never calls exit() and never prints unless you call gan_net_print.

   LIMITATIONS (v0.1.0)
      - Sequential containers only; other graphs are written with explicit calls between networks
        (see gan_layer_forward / gan_layer_backward and the README).
      - One thread; the GEMM is packed and blocked but compiled for the baseline instruction set only
        (no run-time AVX2/AVX-512 dispatch yet).
      - gan_last_error() is one pointer per program (per file with GAN_STATIC), not per thread.
      - Conv layers are square-kernel, no dilation, no groups.
      - gan_gemm packs its operands in about 96 KiB of stack (192 KiB with GAN_DOUBLE).
      - No model files yet: gan_net_param and gan_net_buffer reach every value, saving is up to you.
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
/* A program rarely calls every function; unused static ones should not warn. */
#if defined(__GNUC__) || defined(__clang__)
#define GANDEF static __attribute__((unused))
#else
#define GANDEF static
#endif
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
    GAN_INIT_DCGAN,   /* weights std 0.02 around 0, BatchNorm weights around 1, zero biases (Radford et al.) */
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
    int last_training;          /* mode of the last forward: 1 training, 0 evaluation */
    gan_rng rng;                /* Dropout's own stream, seeded by gan_net_create: training state */
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
   y must have the layer's output shape and x's batch, and must not overlap x. */
GANDEF void gan_layer_forward(gan_layer *L, gan_tensor *y, const gan_tensor *x, int training);
/* Given dy = dL/dy and the x, y of the last forward: dW, db += dL/dparameters; dx = dL/dx
   (dx may be NULL when the input gradient is not wanted; it must not overlap dy, x or y). */
GANDEF void gan_layer_backward(gan_layer *L, gan_tensor *dx, const gan_tensor *dy,
                               const gan_tensor *x, const gan_tensor *y);
GANDEF void gan_layer_init(gan_layer *L, gan_init scheme, gan_rng *rng);

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
    int64_t step;            /* steps taken; gan_optim_update uses it as t */
} gan_optim;

GANDEF gan_optim gan_sgd(gan_float lr, gan_float momentum);
GANDEF gan_optim gan_adam(gan_float lr, gan_float beta1, gan_float beta2);   /* eps 1e-8 */
GANDEF gan_optim gan_rmsprop(gan_float lr, gan_float alpha);                /* eps 1e-8 */
/* One update of n parameters w with gradient dw, moments m and v (each n values, zero at first;
   SGD without momentum reads neither, SGD with momentum and RMSProp without only m or v),
   at step t = opt->step (count it from 1 before the call). */
GANDEF void gan_optim_update(gan_float *w, gan_float *m, gan_float *v, const gan_float *dw,
                             const gan_optim *opt, size_t n);

/* ---- net --------------------------------------------------------------------------------------- */

/* One parameter (or buffer) tensor of a network: PyTorch's Sequential names it "<layer>.<role>". */
typedef struct gan_param {
    int layer;
    const char *role;  /* "weight", "bias", "running_mean", "running_var" */
    gan_float *data, *grad; /* grad is NULL for buffers */
    gan_float *m, *v;       /* the optimizer's moments of a parameter (NULL for buffers) */
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
    gan_optim opt;           /* Adam(1e-3, 0.9, 0.999) after creation. Writable between steps: change
                                lr for a schedule, set step when restoring a checkpoint */
    gan_float *params, *grads, *opt_m, *opt_v; /* n_params each, contiguous */
    size_t n_params;         /* the block's length, with alignment padding (kept 0) between layers;
                                the parameters themselves are the sum of gan_net_param counts */
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
/* The same dL/dinput, leaving parameter gradients untouched (and skipping their work). */
GANDEF const gan_tensor *gan_net_backward_input(gan_net *net, const gan_tensor *dy);
GANDEF const gan_tensor *gan_net_output(const gan_net *net);

GANDEF void     gan_net_zero_grad(gan_net *net);
/* Starts a fresh optimizer: sets it and clears its moments and step count. */
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

#include <math.h>
#include <string.h>
#include <stdlib.h>

#if defined(GAN_MALLOC) && !defined(GAN_FREE)
#error "gan.h: define GAN_MALLOC and GAN_FREE together, or neither"
#endif
#if defined(GAN_FREE) && !defined(GAN_MALLOC)
#error "gan.h: define GAN_MALLOC and GAN_FREE together, or neither"
#endif
#ifndef GAN_MALLOC
#define GAN_MALLOC(n) malloc(n)
#define GAN_FREE(p) free(p)
#endif

#ifndef GAN_ASSERT
#include <assert.h>
#define GAN_ASSERT(cond) assert(cond)
#endif

#ifndef GAN_GEMM
#define GAN_GEMM gan_gemm
#endif

#if defined(__cplusplus) && (defined(__GNUC__) || defined(__clang__))
#define GAN__RESTRICT __restrict__
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L
#define GAN__RESTRICT restrict
#else
#define GAN__RESTRICT
#endif

/* Every block of the arena starts on a 64-byte boundary so vector loads of a row are aligned. */
#define GAN__ALIGN_BYTES 64
#define GAN__ALIGN_FLOATS (GAN__ALIGN_BYTES / sizeof(gan_float))

/* ==== errors ==== */

static const char *gan__error = "";

GANDEF const char *gan_last_error(void) { return gan__error; }

static void gan__fail(const char *msg) { gan__error = msg; }

/* ==== tensor ==== */

GANDEF gan_tensor gan_tensor_make(gan_float *data, int n, int c, int h, int w)
{
    gan_tensor t;
    t.data = data;
    t.n = n;
    t.c = c;
    t.h = h;
    t.w = w;
    return t;
}

GANDEF size_t gan_tensor_count(const gan_tensor *t)
{
    return (size_t)t->n * (size_t)t->c * (size_t)t->h * (size_t)t->w;
}

GANDEF gan_shape gan_chw(int c, int h, int w)
{
    gan_shape s;
    s.c = c;
    s.h = h;
    s.w = w;
    return s;
}

static size_t gan__shape_count(gan_shape s) { return (size_t)s.c * (size_t)s.h * (size_t)s.w; }

/* ==== rng ==== */

/* PCG32, the XSH-RR output of a 64-bit LCG (O'Neill 2014), seeded as pcg32_srandom(seed, stream). */
#define GAN__PCG_MULT 6364136223846793005ULL
#define GAN__PCG_STREAM 0xda3e39cb94b95bdbULL

GANDEF uint32_t gan_rng_u32(gan_rng *rng)
{
    uint64_t old = rng->state;
    uint32_t xorshifted, rot;
    rng->state = old * GAN__PCG_MULT + rng->inc;
    xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
    rot = (uint32_t)(old >> 59);
    return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
}

GANDEF void gan_rng_seed(gan_rng *rng, uint64_t seed)
{
    rng->state = 0;
    rng->inc = (GAN__PCG_STREAM << 1) | 1u;
    gan_rng_u32(rng);
    rng->state += seed;
    gan_rng_u32(rng);
}

/* 53 random bits in [0, 1), for the double build and for Box-Muller. */
static double gan__rng_double(gan_rng *rng)
{
    uint64_t hi = gan_rng_u32(rng) >> 5, lo = gan_rng_u32(rng) >> 6;
    return (double)((hi << 26) | lo) * (1.0 / 9007199254740992.0);
}

GANDEF gan_float gan_rng_uniform(gan_rng *rng)
{
#ifdef GAN_DOUBLE
    return gan__rng_double(rng);
#else
    /* 24 bits: every value is exactly representable, so the result never rounds up to 1. */
    return (gan_float)(gan_rng_u32(rng) >> 8) * (1.0f / 16777216.0f);
#endif
}

#define GAN__TWO_PI 6.283185307179586

GANDEF gan_float gan_rng_normal(gan_rng *rng)
{
    /* Box-Muller: sqrt(-2 ln u1) cos(2 pi u2), u1 in (0, 1] so the log is finite. */
    double u1 = 1.0 - gan__rng_double(rng);
    double u2 = gan__rng_double(rng);
    return (gan_float)(sqrt(-2.0 * log(u1)) * cos(GAN__TWO_PI * u2));
}

GANDEF void gan_fill_uniform(gan_float *x, size_t n, gan_float lo, gan_float hi, gan_rng *rng)
{
    size_t i;
    for (i = 0; i < n; i++) x[i] = lo + (hi - lo) * gan_rng_uniform(rng);
}

GANDEF void gan_fill_normal(gan_float *x, size_t n, gan_float mean, gan_float std, gan_rng *rng)
{
    size_t i;
    for (i = 0; i < n; i++) x[i] = mean + std * gan_rng_normal(rng);
}

/* ==== kernels ==== */

/* C (M x N) = alpha op(A) op(B) + beta C: the reference, one dot product per element. */
GANDEF void gan_gemm_naive(int trans_a, int trans_b, int M, int N, int K, gan_float alpha,
                           const gan_float *A, int lda, const gan_float *B, int ldb,
                           gan_float beta, gan_float *C, int ldc)
{
    int i, j, p;
    for (i = 0; i < M; i++) {
        for (j = 0; j < N; j++) {
            gan_float acc = 0;
            for (p = 0; p < K; p++) {
                gan_float a = trans_a ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p];
                gan_float b = trans_b ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j];
                acc += a * b;
            }
            C[(size_t)i * ldc + j] = alpha * acc + (beta == 0 ? 0 : beta * C[(size_t)i * ldc + j]);
        }
    }
}

/* c[0..n) += a * b[0..n) */
static void gan__axpy_row(gan_float *GAN__RESTRICT c, const gan_float *GAN__RESTRICT b, gan_float a, int n)
{
    int j;
    for (j = 0; j < n; j++) c[j] += a * b[j];
}

/* Blocking of the packed GEMM (the Goto/BLIS scheme): a KC x NC block of op(B) and an MC x KC block of
   op(A) are copied into panels of GAN__NR columns and GAN__MR rows, contiguous in the order the
   micro-kernel reads them; both fit in L2 (96 KiB of floats together, on the stack). */
#define GAN__MR 8
#define GAN__NR 8
#define GAN__KC 128
#define GAN__MC 64
#define GAN__NC 128

/* C (mr x nr, row stride ldc) += sum over p < kc of a[p][0..MR) b[p][0..NR): the micro-kernel.
   Fixed trip counts let gcc and clang at -O2 keep acc in vector registers. */
static void gan__gemm_kernel(gan_float *GAN__RESTRICT C, int ldc, const gan_float *GAN__RESTRICT a,
                             const gan_float *GAN__RESTRICT b, int kc, int mr, int nr)
{
    gan_float acc[GAN__MR][GAN__NR];
    int p, r, j;
    memset(acc, 0, sizeof acc);
    for (p = 0; p < kc; p++)
        for (r = 0; r < GAN__MR; r++)
            for (j = 0; j < GAN__NR; j++) acc[r][j] += a[p * GAN__MR + r] * b[p * GAN__NR + j];
    for (r = 0; r < mr; r++)
        for (j = 0; j < nr; j++) C[(size_t)r * ldc + j] += acc[r][j];
}

/* Copies scale X(q0 + q, p0 + p) for q < nq, p < kc into panels of `width` consecutive q, each panel
   stored p-major (dst[panel][p][0..width)), zero-padded past nq. X(q, p) is X[q ld + p] when q_major,
   else X[p ld + q]: op(B) packs with q_major = trans_b (q a column), op(A) with q_major = !trans_a. */
static void gan__gemm_pack(gan_float *GAN__RESTRICT dst, const gan_float *GAN__RESTRICT X, int ld, int q_major,
                           int q0, int nq, int p0, int kc, int width, gan_float scale)
{
    int q, p, r;
    for (q = 0; q < nq; q += width, dst += (size_t)width * kc)
        for (p = 0; p < kc; p++)
            for (r = 0; r < width; r++) {
                size_t row = (size_t)(q0 + q + r), col = (size_t)(p0 + p);
                dst[p * width + r] = q + r >= nq ? 0 : scale * (q_major ? X[row * ld + col] : X[col * ld + row]);
            }
}

/* C (M x N) = alpha op(A) op(B) + beta C, packed and blocked; the transposes are absorbed by packing,
   so the micro-kernel always reads unit stride. Edge panels are zero-padded. */
GANDEF void gan_gemm(int trans_a, int trans_b, int M, int N, int K, gan_float alpha,
                     const gan_float *A, int lda, const gan_float *B, int ldb,
                     gan_float beta, gan_float *C, int ldc)
{
    gan_float apack[GAN__MC * GAN__KC], bpack[GAN__KC * GAN__NC];
    int i, j, i0, j0, p0;
    GAN_ASSERT(M >= 0 && N >= 0 && K >= 0 && "gan_gemm: negative size");
    GAN_ASSERT(lda >= (trans_a ? M : K) && ldb >= (trans_b ? K : N) && ldc >= N && "gan_gemm: leading dimension too small");

    /* C = beta C first; beta = 0 overwrites so that garbage (even NaN) in C is ignored. */
    for (i = 0; i < M; i++) {
        gan_float *c = C + (size_t)i * ldc;
        if (beta == 0) for (j = 0; j < N; j++) c[j] = 0;
        else if (beta != 1) for (j = 0; j < N; j++) c[j] *= beta;
    }
    if (K <= 0 || alpha == 0) return;

    for (j0 = 0; j0 < N; j0 += GAN__NC) {
        int nc = N - j0 < GAN__NC ? N - j0 : GAN__NC;
        for (p0 = 0; p0 < K; p0 += GAN__KC) {
            int kc = K - p0 < GAN__KC ? K - p0 : GAN__KC;
            gan__gemm_pack(bpack, B, ldb, trans_b, j0, nc, p0, kc, GAN__NR, 1);
            for (i0 = 0; i0 < M; i0 += GAN__MC) {
                int mc = M - i0 < GAN__MC ? M - i0 : GAN__MC;
                gan__gemm_pack(apack, A, lda, !trans_a, i0, mc, p0, kc, GAN__MR, alpha);
                for (j = 0; j < nc; j += GAN__NR)
                    for (i = 0; i < mc; i += GAN__MR)
                        gan__gemm_kernel(C + (size_t)(i0 + i) * ldc + j0 + j, ldc, apack + (size_t)i * kc,
                                         bpack + (size_t)j * kc, kc, mc - i < GAN__MR ? mc - i : GAN__MR,
                                         nc - j < GAN__NR ? nc - j : GAN__NR);
            }
        }
    }
}

/* col[(c k + ki) k + kj][oh OW + ow] = x[c][oh stride - pad + ki][ow stride - pad + kj], 0 outside. */
GANDEF void gan_im2col(gan_float *col, const gan_float *x, const gan_conv_geom *g)
{
    int c, ki, kj, oh, ow;
    for (c = 0; c < g->c; c++)
        for (ki = 0; ki < g->k; ki++)
            for (kj = 0; kj < g->k; kj++) {
                gan_float *row = col + ((size_t)(c * g->k + ki) * g->k + kj) * g->oh * g->ow;
                const gan_float *xc = x + (size_t)c * g->h * g->w;
                for (oh = 0; oh < g->oh; oh++) {
                    int ih = oh * g->stride - g->pad + ki;
                    gan_float *dst = row + (size_t)oh * g->ow;
                    if (ih < 0 || ih >= g->h) {
                        for (ow = 0; ow < g->ow; ow++) dst[ow] = 0;
                        continue;
                    }
                    for (ow = 0; ow < g->ow; ow++) {
                        int iw = ow * g->stride - g->pad + kj;
                        dst[ow] = (iw >= 0 && iw < g->w) ? xc[(size_t)ih * g->w + iw] : 0;
                    }
                }
            }
}

/* x[c][oh stride - pad + ki][ow stride - pad + kj] += col[(c k + ki) k + kj][oh OW + ow]: im2col's adjoint. */
GANDEF void gan_col2im(gan_float *x, const gan_float *col, const gan_conv_geom *g)
{
    int c, ki, kj, oh, ow;
    for (c = 0; c < g->c; c++)
        for (ki = 0; ki < g->k; ki++)
            for (kj = 0; kj < g->k; kj++) {
                const gan_float *row = col + ((size_t)(c * g->k + ki) * g->k + kj) * g->oh * g->ow;
                gan_float *xc = x + (size_t)c * g->h * g->w;
                for (oh = 0; oh < g->oh; oh++) {
                    int ih = oh * g->stride - g->pad + ki;
                    const gan_float *src = row + (size_t)oh * g->ow;
                    if (ih < 0 || ih >= g->h) continue;
                    for (ow = 0; ow < g->ow; ow++) {
                        int iw = ow * g->stride - g->pad + kj;
                        if (iw >= 0 && iw < g->w) xc[(size_t)ih * g->w + iw] += src[ow];
                    }
                }
            }
}

/* ==== layers ==== */

/* PyTorch's defaults for the norm layers. */
#define GAN__NORM_EPS 1e-5
#define GAN__BN_MOMENTUM 0.1

static gan_layer gan__layer_new(gan_layer_kind kind)
{
    gan_layer L;
    memset(&L, 0, sizeof L);
    L.kind = kind;
    L.stride = 1;
    L.last_training = 1;
    return L;
}

GANDEF gan_layer gan_linear(int in_features, int out_features)
{
    gan_layer L = gan__layer_new(GAN_LINEAR);
    GAN_ASSERT(in_features > 0 && out_features > 0 && "Linear needs positive sizes");
    L.in_ch = in_features;
    L.out_ch = out_features;
    L.has_bias = 1;
    return L;
}

/* Conv2d and ConvTranspose2d share their hyper-parameters. */
static gan_layer gan__conv_layer(gan_layer_kind kind, int in_ch, int out_ch, int k, int stride, int pad)
{
    gan_layer L = gan__layer_new(kind);
    GAN_ASSERT(in_ch > 0 && out_ch > 0 && k > 0 && stride > 0 && pad >= 0
               && "convolution: channels, kernel and stride must be positive, padding not negative");
    L.in_ch = in_ch;
    L.out_ch = out_ch;
    L.k = k;
    L.stride = stride;
    L.pad = pad;
    L.has_bias = 1;
    return L;
}

GANDEF gan_layer gan_conv2d(int in_ch, int out_ch, int k, int stride, int pad)
{
    return gan__conv_layer(GAN_CONV2D, in_ch, out_ch, k, stride, pad);
}

GANDEF gan_layer gan_conv_transpose2d(int in_ch, int out_ch, int k, int stride, int pad, int out_pad)
{
    gan_layer L = gan__conv_layer(GAN_CONV_TRANSPOSE2D, in_ch, out_ch, k, stride, pad);
    GAN_ASSERT(out_pad >= 0 && out_pad < stride && "ConvTranspose2d: out_pad must be smaller than stride");
    L.out_pad = out_pad;
    return L;
}

GANDEF gan_layer gan_batchnorm(int features)
{
    gan_layer L = gan__layer_new(GAN_BATCHNORM);
    GAN_ASSERT(features > 0 && "BatchNorm needs a positive feature count");
    L.in_ch = features;
    L.out_ch = features;
    L.has_bias = 1;
    L.eps = (gan_float)GAN__NORM_EPS;
    L.momentum = (gan_float)GAN__BN_MOMENTUM;
    return L;
}

GANDEF gan_layer gan_layernorm(void)
{
    gan_layer L = gan__layer_new(GAN_LAYERNORM);
    L.has_bias = 1;
    L.eps = (gan_float)GAN__NORM_EPS;
    return L;
}

GANDEF gan_layer gan_relu(void) { return gan__layer_new(GAN_RELU); }

GANDEF gan_layer gan_leaky_relu(gan_float slope)
{
    gan_layer L = gan__layer_new(GAN_LEAKY_RELU);
    L.slope = slope;
    return L;
}

GANDEF gan_layer gan_tanh(void) { return gan__layer_new(GAN_TANH); }

GANDEF gan_layer gan_sigmoid(void) { return gan__layer_new(GAN_SIGMOID); }

GANDEF gan_layer gan_dropout(gan_float p)
{
    gan_layer L = gan__layer_new(GAN_DROPOUT);
    GAN_ASSERT(p >= 0 && p <= 1 && "Dropout probability must be in [0, 1]");
    L.p = p;
    return L;
}

GANDEF gan_layer gan_reshape(int c, int h, int w)
{
    gan_layer L = gan__layer_new(GAN_RESHAPE);
    GAN_ASSERT(c > 0 && h > 0 && w > 0 && "Reshape needs a positive shape");
    L.to = gan_chw(c, h, w);
    return L;
}

GANDEF gan_layer gan_flatten(void)
{
    gan_layer L = gan__layer_new(GAN_RESHAPE);
    L.to = gan_chw(-1, 1, 1);
    return L;
}

GANDEF gan_layer gan_upsample2x(void) { return gan__layer_new(GAN_UPSAMPLE2X); }

GANDEF gan_layer gan_no_bias(gan_layer layer)
{
    GAN_ASSERT((layer.kind == GAN_LINEAR || layer.kind == GAN_CONV2D || layer.kind == GAN_CONV_TRANSPOSE2D)
               && "gan_no_bias applies to Linear, Conv2d and ConvTranspose2d");
    layer.has_bias = 0;
    return layer;
}

/* The geometry seen by im2col. Conv2d: over the input. ConvTranspose2d: over its *output*, whose
   convolution windows land on the input grid (the transposed layer is the conv's adjoint). */
static gan_conv_geom gan__geom(const gan_layer *L)
{
    gan_conv_geom g;
    int conv = L->kind == GAN_CONV2D;
    g.c = conv ? L->in.c : L->out.c;
    g.h = conv ? L->in.h : L->out.h;
    g.w = conv ? L->in.w : L->out.w;
    g.oh = conv ? L->out.h : L->in.h;
    g.ow = conv ? L->out.w : L->in.w;
    g.k = L->k;
    g.stride = L->stride;
    g.pad = L->pad;
    return g;
}

/* Memory a layer needs, in gan_float units. */
typedef struct gan__layer_sizes {
    size_t params;  /* weight and bias */
    size_t buffers; /* running statistics */
    size_t saved;   /* values kept from forward for backward, for max_batch samples */
    size_t work;    /* scratch, shared across the network */
} gan__layer_sizes;

/* Fixes the layer's input and output shapes from the shape it receives, its parameter counts and
   its maximum batch, and checks that its hyper-parameters fit that shape. */
static void gan__layer_plan(gan_layer *L, gan_shape in, int max_batch)
{
    size_t in_count = gan__shape_count(in);
    L->in = in;
    L->out = in;
    L->max_batch = max_batch;
    L->nW = 0;
    L->nb = 0;
    switch (L->kind) {
    case GAN_LINEAR:
        GAN_ASSERT((size_t)L->in_ch == in_count && "Linear: in_features must equal the input's C*H*W");
        L->out = gan_chw(L->out_ch, 1, 1);
        L->nW = (size_t)L->out_ch * L->in_ch;
        L->nb = L->has_bias ? (size_t)L->out_ch : 0;
        break;
    case GAN_CONV2D:
        GAN_ASSERT(L->in_ch == in.c && "Conv2d: in_ch must equal the input's channels");
        GAN_ASSERT(in.h + 2 * L->pad >= L->k && in.w + 2 * L->pad >= L->k && "Conv2d: kernel larger than the padded input");
        L->out = gan_chw(L->out_ch, (in.h + 2 * L->pad - L->k) / L->stride + 1,
                         (in.w + 2 * L->pad - L->k) / L->stride + 1);
        L->nW = (size_t)L->out_ch * L->in_ch * L->k * L->k;
        L->nb = L->has_bias ? (size_t)L->out_ch : 0;
        break;
    case GAN_CONV_TRANSPOSE2D:
        GAN_ASSERT(L->in_ch == in.c && "ConvTranspose2d: in_ch must equal the input's channels");
        L->out = gan_chw(L->out_ch, (in.h - 1) * L->stride - 2 * L->pad + L->k + L->out_pad,
                         (in.w - 1) * L->stride - 2 * L->pad + L->k + L->out_pad);
        GAN_ASSERT(L->out.h > 0 && L->out.w > 0 && "ConvTranspose2d: padding leaves no output");
        L->nW = (size_t)L->in_ch * L->out_ch * L->k * L->k;
        L->nb = L->has_bias ? (size_t)L->out_ch : 0;
        break;
    case GAN_BATCHNORM:
        GAN_ASSERT(L->in_ch == in.c && "BatchNorm: features must equal the input's channels (C of C,H,W)");
        L->nW = (size_t)in.c;
        L->nb = (size_t)in.c;
        break;
    case GAN_LAYERNORM:
        L->nW = in_count;
        L->nb = in_count;
        break;
    case GAN_RESHAPE:
        L->out = L->to.c < 0 ? gan_chw((int)in_count, 1, 1) : L->to;
        GAN_ASSERT(gan__shape_count(L->out) == in_count && "Reshape: the new shape must hold C*H*W values");
        break;
    case GAN_UPSAMPLE2X:
        L->out = gan_chw(in.c, 2 * in.h, 2 * in.w);
        break;
    case GAN_DROPOUT:
    case GAN_RELU:
    case GAN_LEAKY_RELU:
    case GAN_TANH:
    case GAN_SIGMOID:
        break;
    }
}

/* The memory a planned layer needs, in gan_float units. */
static gan__layer_sizes gan__layer_memory(const gan_layer *L)
{
    gan__layer_sizes s;
    size_t in_count = gan__shape_count(L->in);
    memset(&s, 0, sizeof s);
    s.params = L->nW + L->nb;
    switch (L->kind) {
    case GAN_CONV2D: s.work = (size_t)L->in_ch * L->k * L->k * L->out.h * L->out.w; break;
    case GAN_CONV_TRANSPOSE2D: s.work = (size_t)L->out_ch * L->k * L->k * L->in.h * L->in.w; break;
    case GAN_BATCHNORM: s.buffers = s.saved = 2 * (size_t)L->in.c; break;
    case GAN_LAYERNORM: s.saved = 2 * (size_t)L->max_batch; break;
    case GAN_DROPOUT: s.saved = (size_t)L->max_batch * in_count; break;
    default: break;
    }
    return s;
}

/* y (N, out) = x (N, in) W^T + b */
static void gan__linear_forward(gan_float *y, const gan_float *x, const gan_layer *L, int n)
{
    int i;
    GAN_GEMM(0, 1, n, L->out_ch, L->in_ch, 1, x, L->in_ch, L->W, L->in_ch, 0, y, L->out_ch);
    if (L->b)
        for (i = 0; i < n; i++) gan__axpy_row(y + (size_t)i * L->out_ch, L->b, 1, L->out_ch);
}

/* dW += dy^T x, db += sum_n dy (when dparams), dx = dy W (when dx) */
static void gan__linear_backward(gan_float *dx, const gan_float *dy, const gan_float *x, gan_layer *L, int n,
                                 int dparams)
{
    int i;
    if (dparams) {
        GAN_GEMM(1, 0, L->out_ch, L->in_ch, n, 1, dy, L->out_ch, x, L->in_ch, 1, L->dW, L->in_ch);
        if (L->db)
            for (i = 0; i < n; i++) gan__axpy_row(L->db, dy + (size_t)i * L->out_ch, 1, L->out_ch);
    }
    if (dx) GAN_GEMM(0, 0, n, L->in_ch, L->out_ch, 1, dy, L->out_ch, L->W, L->in_ch, 0, dx, L->in_ch);
}

/* y[oc] += b[oc] over each of the `plane` positions of every sample */
static void gan__add_channel_bias(gan_float *y, const gan_float *b, int n, int channels, size_t plane)
{
    int i, c;
    size_t j;
    for (i = 0; i < n; i++)
        for (c = 0; c < channels; c++) {
            gan_float *yc = y + ((size_t)i * channels + c) * plane;
            for (j = 0; j < plane; j++) yc[j] += b[c];
        }
}

/* db[oc] += sum over samples and positions of dy[oc] */
static void gan__channel_bias_grad(gan_float *db, const gan_float *dy, int n, int channels, size_t plane)
{
    int i, c;
    size_t j;
    for (i = 0; i < n; i++)
        for (c = 0; c < channels; c++) {
            const gan_float *d = dy + ((size_t)i * channels + c) * plane;
            gan_float acc = 0;
            for (j = 0; j < plane; j++) acc += d[j];
            db[c] += acc;
        }
}

/* Per sample: col = im2col(x), y (OC x OH OW) = W (OC x C k k) col + b */
static void gan__conv2d_forward(gan_float *y, const gan_float *x, const gan_layer *L, int n)
{
    gan_conv_geom g = gan__geom(L);
    int ckk = L->in_ch * L->k * L->k, ohw = L->out.h * L->out.w, i;
    for (i = 0; i < n; i++) {
        gan_im2col(L->work, x + (size_t)i * gan__shape_count(L->in), &g);
        GAN_GEMM(0, 0, L->out_ch, ohw, ckk, 1, L->W, ckk, L->work, ohw, 0,
                 y + (size_t)i * gan__shape_count(L->out), ohw);
    }
    if (L->b) gan__add_channel_bias(y, L->b, n, L->out_ch, (size_t)ohw);
}

/* Per sample: dW += dy col^T with col = im2col(x) (when dparams); dx = col2im(W^T dy) (when dx) */
static void gan__conv2d_backward(gan_float *dx, const gan_float *dy, const gan_float *x, gan_layer *L, int n,
                                 int dparams)
{
    gan_conv_geom g = gan__geom(L);
    int ckk = L->in_ch * L->k * L->k, ohw = L->out.h * L->out.w, i;
    size_t in_count = gan__shape_count(L->in);
    for (i = 0; i < n; i++) {
        const gan_float *dyi = dy + (size_t)i * gan__shape_count(L->out);
        if (dparams) {
            gan_im2col(L->work, x + (size_t)i * in_count, &g);
            GAN_GEMM(0, 1, L->out_ch, ckk, ohw, 1, dyi, ohw, L->work, ohw, 1, L->dW, ckk);
        }
        if (dx) { /* the scratch now holds dcol, col being done with */
            GAN_GEMM(1, 0, ckk, ohw, L->out_ch, 1, L->W, ckk, dyi, ohw, 0, L->work, ohw);
            memset(dx + (size_t)i * in_count, 0, in_count * sizeof(gan_float));
            gan_col2im(dx + (size_t)i * in_count, L->work, &g);
        }
    }
    if (dparams && L->db) gan__channel_bias_grad(L->db, dy, n, L->out_ch, (size_t)ohw);
}

/* Per sample: col (OC k k x H W) = W^T x, y = col2im(col) + b. W is (in_ch, out_ch k k). */
static void gan__conv_transpose2d_forward(gan_float *y, const gan_float *x, const gan_layer *L, int n)
{
    gan_conv_geom g = gan__geom(L);
    int okk = L->out_ch * L->k * L->k, hw = L->in.h * L->in.w, i;
    size_t out_count = gan__shape_count(L->out);
    for (i = 0; i < n; i++) {
        GAN_GEMM(1, 0, okk, hw, L->in_ch, 1, L->W, okk, x + (size_t)i * gan__shape_count(L->in), hw, 0,
                 L->work, hw);
        memset(y + (size_t)i * out_count, 0, out_count * sizeof(gan_float));
        gan_col2im(y + (size_t)i * out_count, L->work, &g);
    }
    if (L->b) gan__add_channel_bias(y, L->b, n, L->out_ch, (size_t)L->out.h * L->out.w);
}

/* Per sample: dcol = im2col(dy); dW += x dcol^T (when dparams); dx = W dcol (when dx) */
static void gan__conv_transpose2d_backward(gan_float *dx, const gan_float *dy, const gan_float *x,
                                           gan_layer *L, int n, int dparams)
{
    gan_conv_geom g = gan__geom(L);
    int okk = L->out_ch * L->k * L->k, hw = L->in.h * L->in.w, i;
    size_t in_count = gan__shape_count(L->in);
    if (!dparams && !dx) return;
    for (i = 0; i < n; i++) {
        gan_im2col(L->work, dy + (size_t)i * gan__shape_count(L->out), &g);
        if (dparams) GAN_GEMM(0, 1, L->in_ch, okk, hw, 1, x + (size_t)i * in_count, hw, L->work, hw, 1, L->dW, okk);
        if (dx) GAN_GEMM(0, 0, L->in_ch, hw, okk, 1, L->W, okk, L->work, hw, 0, dx + (size_t)i * in_count, hw);
    }
    if (dparams && L->db) gan__channel_bias_grad(L->db, dy, n, L->out_ch, (size_t)L->out.h * L->out.w);
}

/* Training: per channel c over the m = N H W values, mean and biased var; y = gamma (x - mean) / sqrt(var + eps) + beta;
   running = (1 - momentum) running + momentum (mean, var m / (m - 1)). Evaluation: the running estimates.
   saved = [mean (C), 1/sqrt(var + eps) (C)], the statistics the output was normalized with. */
static void gan__batchnorm_forward(gan_float *y, const gan_float *x, gan_layer *L, int n, int training)
{
    int C = L->in.c, c, i;
    size_t plane = (size_t)L->in.h * L->in.w, j, m = (size_t)n * plane;
    gan_float *mean = L->saved, *invstd = L->saved + C;
    GAN_ASSERT((!training || m > 1) && "BatchNorm in training mode needs more than one value per channel");
    for (c = 0; c < C; c++) {
        if (training) {
            /* two passes in double: the mean, then the sum of squared deviations */
            double sum = 0, sq = 0, mu, var;
            for (i = 0; i < n; i++) {
                const gan_float *xc = x + ((size_t)i * C + c) * plane;
                for (j = 0; j < plane; j++) sum += xc[j];
            }
            mu = sum / (double)m;
            for (i = 0; i < n; i++) {
                const gan_float *xc = x + ((size_t)i * C + c) * plane;
                for (j = 0; j < plane; j++) sq += (xc[j] - mu) * (xc[j] - mu);
            }
            var = sq / (double)m;
            mean[c] = (gan_float)mu;
            invstd[c] = (gan_float)(1.0 / sqrt(var + L->eps));
            L->run_mean[c] = (1 - L->momentum) * L->run_mean[c] + L->momentum * (gan_float)mu;
            L->run_var[c] = (1 - L->momentum) * L->run_var[c] + L->momentum * (gan_float)(sq / (double)(m - 1));
        } else {
            mean[c] = L->run_mean[c];
            invstd[c] = (gan_float)(1.0 / sqrt((double)L->run_var[c] + L->eps));
        }
    }
    for (i = 0; i < n; i++)
        for (c = 0; c < C; c++) {
            const gan_float *xc = x + ((size_t)i * C + c) * plane;
            gan_float *yc = y + ((size_t)i * C + c) * plane;
            gan_float scale = L->W[c] * invstd[c], shift = L->b[c] - mean[c] * scale;
            for (j = 0; j < plane; j++) yc[j] = xc[j] * scale + shift;
        }
}

/* xhat = (x - mean) invstd; dgamma += sum dy xhat; dbeta += sum dy;
   training: dx = gamma invstd (dy - mean(dy) - xhat mean(dy xhat)) (the batch statistics depend on x);
   evaluation: dx = gamma invstd dy. The sums are needed for dx either way; dparams says whether
   they also go into the parameter gradients. */
static void gan__batchnorm_backward(gan_float *dx, const gan_float *dy, const gan_float *x, gan_layer *L, int n,
                                    int dparams)
{
    int C = L->in.c, c, i;
    size_t plane = (size_t)L->in.h * L->in.w, j, m = (size_t)n * plane;
    const gan_float *mean = L->saved, *invstd = L->saved + C;
    for (c = 0; c < C; c++) {
        double sum_dy = 0, sum_dy_xhat = 0;
        gan_float mean_dy, mean_dy_xhat, g;
        for (i = 0; i < n; i++) {
            const gan_float *xc = x + ((size_t)i * C + c) * plane, *dc = dy + ((size_t)i * C + c) * plane;
            for (j = 0; j < plane; j++) {
                sum_dy += dc[j];
                sum_dy_xhat += dc[j] * (xc[j] - mean[c]) * invstd[c];
            }
        }
        if (dparams) {
            L->dW[c] += (gan_float)sum_dy_xhat;
            L->db[c] += (gan_float)sum_dy;
        }
        if (!dx) continue;
        mean_dy = L->last_training ? (gan_float)(sum_dy / (double)m) : 0;
        mean_dy_xhat = L->last_training ? (gan_float)(sum_dy_xhat / (double)m) : 0;
        g = L->W[c] * invstd[c];
        for (i = 0; i < n; i++) {
            const gan_float *xc = x + ((size_t)i * C + c) * plane, *dc = dy + ((size_t)i * C + c) * plane;
            gan_float *dxc = dx + ((size_t)i * C + c) * plane;
            for (j = 0; j < plane; j++) {
                gan_float xhat = (xc[j] - mean[c]) * invstd[c];
                dxc[j] = g * (dc[j] - mean_dy - xhat * mean_dy_xhat);
            }
        }
    }
}

/* Per sample over its D = C H W values: y = (x - mean) / sqrt(var + eps) gamma + beta (biased var).
   saved = [mean (N), invstd (N)]. */
static void gan__layernorm_forward(gan_float *y, const gan_float *x, gan_layer *L, int n)
{
    size_t D = gan__shape_count(L->in), j;
    gan_float *mean = L->saved, *invstd = L->saved + L->max_batch;
    int i;
    for (i = 0; i < n; i++) {
        const gan_float *xi = x + (size_t)i * D;
        gan_float *yi = y + (size_t)i * D;
        double sum = 0, sq = 0, mu;
        for (j = 0; j < D; j++) sum += xi[j];
        mu = sum / (double)D;
        for (j = 0; j < D; j++) sq += (xi[j] - mu) * (xi[j] - mu);
        mean[i] = (gan_float)mu;
        invstd[i] = (gan_float)(1.0 / sqrt(sq / (double)D + L->eps));
        for (j = 0; j < D; j++) yi[j] = (xi[j] - mean[i]) * invstd[i] * L->W[j] + L->b[j];
    }
}

/* dxhat = dy gamma; dgamma += dy xhat, dbeta += dy (when dparams);
   dx = invstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) */
static void gan__layernorm_backward(gan_float *dx, const gan_float *dy, const gan_float *x, gan_layer *L, int n,
                                    int dparams)
{
    size_t D = gan__shape_count(L->in), j;
    const gan_float *mean = L->saved, *invstd = L->saved + L->max_batch;
    int i;
    for (i = 0; i < n; i++) {
        const gan_float *xi = x + (size_t)i * D, *dyi = dy + (size_t)i * D;
        double sum_g = 0, sum_g_xhat = 0;
        gan_float mean_g, mean_g_xhat;
        for (j = 0; j < D; j++) {
            gan_float xhat = (xi[j] - mean[i]) * invstd[i], g = dyi[j] * L->W[j];
            if (dparams) {
                L->dW[j] += dyi[j] * xhat;
                L->db[j] += dyi[j];
            }
            sum_g += g;
            sum_g_xhat += g * xhat;
        }
        if (!dx) continue;
        mean_g = (gan_float)(sum_g / (double)D);
        mean_g_xhat = (gan_float)(sum_g_xhat / (double)D);
        for (j = 0; j < D; j++) {
            gan_float xhat = (xi[j] - mean[i]) * invstd[i];
            dx[(size_t)i * D + j] = invstd[i] * (dyi[j] * L->W[j] - mean_g - xhat * mean_g_xhat);
        }
    }
}

/* y = x mask, mask = 0 with probability p else 1 / (1 - p); saved = mask */
static void gan__dropout_forward(gan_float *y, const gan_float *x, gan_layer *L, size_t count)
{
    gan_float keep_scale = L->p < 1 ? 1 / (1 - L->p) : 0;
    size_t j;
    for (j = 0; j < count; j++) {
        L->saved[j] = gan_rng_uniform(&L->rng) < L->p ? 0 : keep_scale;
        y[j] = x[j] * L->saved[j];
    }
}

/* dx = dy mask */
static void gan__dropout_backward(gan_float *GAN__RESTRICT dx, const gan_float *GAN__RESTRICT dy,
                                  const gan_float *GAN__RESTRICT mask, size_t count)
{
    size_t j;
    for (j = 0; j < count; j++) dx[j] = dy[j] * mask[j];
}

/* y = tanh(x) */
static void gan__tanh_forward(gan_float *GAN__RESTRICT y, const gan_float *GAN__RESTRICT x, size_t n)
{
    size_t j;
    for (j = 0; j < n; j++) y[j] = (gan_float)tanh(x[j]);
}

/* dx = dy (1 - y^2), from the output */
static void gan__tanh_backward(gan_float *GAN__RESTRICT dx, const gan_float *GAN__RESTRICT dy,
                               const gan_float *GAN__RESTRICT y, size_t n)
{
    size_t j;
    for (j = 0; j < n; j++) dx[j] = dy[j] * (1 - y[j] * y[j]);
}

/* y = 1 / (1 + exp(-x)), in double so large |x| saturates cleanly to 0 or 1 */
static void gan__sigmoid_forward(gan_float *GAN__RESTRICT y, const gan_float *GAN__RESTRICT x, size_t n)
{
    size_t j;
    for (j = 0; j < n; j++) y[j] = (gan_float)(1 / (1 + exp(-(double)x[j])));
}

/* dx = dy y (1 - y), from the output */
static void gan__sigmoid_backward(gan_float *GAN__RESTRICT dx, const gan_float *GAN__RESTRICT dy,
                                  const gan_float *GAN__RESTRICT y, size_t n)
{
    size_t j;
    for (j = 0; j < n; j++) dx[j] = dy[j] * y[j] * (1 - y[j]);
}

/* y (C, 2H, 2W): y[c][i][j] = x[c][i / 2][j / 2] */
static void gan__upsample2x_forward(gan_float *y, const gan_float *x, const gan_layer *L, int n)
{
    int planes = n * L->in.c, p, i, j, H = L->in.h, W = L->in.w;
    for (p = 0; p < planes; p++) {
        const gan_float *xp = x + (size_t)p * H * W;
        gan_float *yp = y + (size_t)p * 4 * H * W;
        for (i = 0; i < 2 * H; i++)
            for (j = 0; j < 2 * W; j++) yp[(size_t)i * 2 * W + j] = xp[(size_t)(i / 2) * W + j / 2];
    }
}

/* dx[c][i][j] = sum of the four dy it was copied to */
static void gan__upsample2x_backward(gan_float *dx, const gan_float *dy, const gan_layer *L, int n)
{
    int planes = n * L->in.c, p, i, j, H = L->in.h, W = L->in.w;
    for (p = 0; p < planes; p++) {
        const gan_float *d = dy + (size_t)p * 4 * H * W;
        gan_float *dxp = dx + (size_t)p * H * W;
        for (i = 0; i < H; i++)
            for (j = 0; j < W; j++) {
                const gan_float *d0 = d + (size_t)(2 * i) * 2 * W + 2 * j;
                dxp[(size_t)i * W + j] = d0[0] + d0[1] + d0[2 * W] + d0[2 * W + 1];
            }
    }
}

/* The activations are written as selects of a value against 0 ("c ? v : 0"), a form gcc -O2
   compiles without a branch; the plain "x > 0 ? x : slope x" becomes one, which mispredicts on
   half of random signs and made these loops about 8x slower. */

/* y = max(x, 0); NaN stays NaN, as in PyTorch, so a diverged network is seen downstream */
static void gan__relu_forward(gan_float *GAN__RESTRICT y, const gan_float *GAN__RESTRICT x, size_t n)
{
    size_t j;
    for (j = 0; j < n; j++) {
        gan_float v = x[j], pos = v > 0 ? v : 0;
        y[j] = v != v ? v : pos;
    }
}

/* dx = dy where x > 0, else 0 (the derivative at 0 taken as 0, as PyTorch) */
static void gan__relu_backward(gan_float *GAN__RESTRICT dx, const gan_float *GAN__RESTRICT dy,
                               const gan_float *GAN__RESTRICT x, size_t n)
{
    size_t j;
    for (j = 0; j < n; j++) {
        gan_float g = dy[j];
        dx[j] = x[j] > 0 ? g : 0;
    }
}

/* y = x for x > 0, slope x otherwise (exactly: one of the two terms is 0); NaN stays NaN */
static void gan__leaky_relu_forward(gan_float *GAN__RESTRICT y, const gan_float *GAN__RESTRICT x, gan_float slope,
                                    size_t n)
{
    size_t j;
    for (j = 0; j < n; j++) {
        gan_float v = x[j], pos = v > 0 ? v : 0, neg = v < 0 ? v : 0;
        y[j] = v != v ? v : pos + slope * neg;
    }
}

/* dx = dy for x > 0, slope dy otherwise (exactly: one of the two terms is 0) */
static void gan__leaky_relu_backward(gan_float *GAN__RESTRICT dx, const gan_float *GAN__RESTRICT dy,
                                     const gan_float *GAN__RESTRICT x, gan_float slope, size_t n)
{
    size_t j;
    for (j = 0; j < n; j++) {
        gan_float g = dy[j], v = x[j], pos = v > 0 ? g : 0, neg = v <= 0 ? g : 0;
        dx[j] = pos + slope * neg;
    }
}

/* Only asserts: with NDEBUG (or a GAN_ASSERT that ignores its argument) it does nothing. */
static void gan__check_io(const gan_layer *L, const gan_tensor *t, gan_shape s)
{
    (void)L;
    (void)t;
    (void)s;
    GAN_ASSERT(L && L->max_batch > 0 && "the layer has no memory: use one from gan_net_layer(net, i)");
    GAN_ASSERT(t && t->data && "tensor and its data must not be NULL");
    GAN_ASSERT(t->c == s.c && t->h == s.h && t->w == s.w && "tensor shape must match the layer's (C, H, W)");
    GAN_ASSERT(t->n > 0 && t->n <= L->max_batch && "batch must be between 1 and the planned maximum");
}

GANDEF void gan_layer_forward(gan_layer *L, gan_tensor *y, const gan_tensor *x, int training)
{
    int n;
    size_t count;
    gan__check_io(L, x, L->in);
    gan__check_io(L, y, L->out);
    GAN_ASSERT(y->n == x->n && "output batch must equal the input batch");
    GAN_ASSERT(y->data != x->data && "layers do not run in place: y must not be x");
    n = x->n;
    count = gan_tensor_count(x);
    L->last_training = training;
    switch (L->kind) {
    case GAN_LINEAR: gan__linear_forward(y->data, x->data, L, n); break;
    case GAN_CONV2D: gan__conv2d_forward(y->data, x->data, L, n); break;
    case GAN_CONV_TRANSPOSE2D: gan__conv_transpose2d_forward(y->data, x->data, L, n); break;
    case GAN_BATCHNORM: gan__batchnorm_forward(y->data, x->data, L, n, training); break;
    case GAN_LAYERNORM: gan__layernorm_forward(y->data, x->data, L, n); break;
    case GAN_RELU: gan__relu_forward(y->data, x->data, count); break;
    case GAN_LEAKY_RELU: gan__leaky_relu_forward(y->data, x->data, L->slope, count); break;
    case GAN_TANH: gan__tanh_forward(y->data, x->data, count); break;
    case GAN_SIGMOID: gan__sigmoid_forward(y->data, x->data, count); break;
    case GAN_DROPOUT:
        if (training) gan__dropout_forward(y->data, x->data, L, count);
        else memcpy(y->data, x->data, count * sizeof(gan_float));
        break;
    case GAN_RESHAPE: memcpy(y->data, x->data, count * sizeof(gan_float)); break;
    case GAN_UPSAMPLE2X: gan__upsample2x_forward(y->data, x->data, L, n); break;
    }
}

/* The backward of one layer; dparams = 0 leaves its parameter gradients alone. */
static void gan__layer_backward(gan_layer *L, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x,
                                const gan_tensor *y, int dparams)
{
    int n;
    size_t count;
    gan_float *d;
    gan__check_io(L, dy, L->out);
    gan__check_io(L, x, L->in);
    gan__check_io(L, y, L->out);
    n = dy->n;
    GAN_ASSERT(x->n == n && y->n == n && "dy, x and y must have one batch size");
    if (dx) {
        gan__check_io(L, dx, L->in);
        GAN_ASSERT(dx->n == n && "dx must have dy's batch size");
        GAN_ASSERT(dx->data != dy->data && dx->data != x->data && dx->data != y->data
                   && "backward does not run in place: dx must not be dy, x or y");
    }
    d = dx ? dx->data : NULL;
    count = gan_tensor_count(x);
    switch (L->kind) {
    case GAN_LINEAR: gan__linear_backward(d, dy->data, x->data, L, n, dparams); break;
    case GAN_CONV2D: gan__conv2d_backward(d, dy->data, x->data, L, n, dparams); break;
    case GAN_CONV_TRANSPOSE2D: gan__conv_transpose2d_backward(d, dy->data, x->data, L, n, dparams); break;
    case GAN_BATCHNORM: gan__batchnorm_backward(d, dy->data, x->data, L, n, dparams); break;
    case GAN_LAYERNORM: gan__layernorm_backward(d, dy->data, x->data, L, n, dparams); break;
    case GAN_RELU:
        if (d) gan__relu_backward(d, dy->data, x->data, count);
        break;
    case GAN_LEAKY_RELU:
        if (d) gan__leaky_relu_backward(d, dy->data, x->data, L->slope, count);
        break;
    case GAN_TANH:
        if (d) gan__tanh_backward(d, dy->data, y->data, count);
        break;
    case GAN_SIGMOID:
        if (d) gan__sigmoid_backward(d, dy->data, y->data, count);
        break;
    case GAN_DROPOUT:
        if (d && L->last_training) gan__dropout_backward(d, dy->data, L->saved, count);
        else if (d) memcpy(d, dy->data, count * sizeof(gan_float));
        break;
    case GAN_RESHAPE:
        if (d) memcpy(d, dy->data, count * sizeof(gan_float));
        break;
    case GAN_UPSAMPLE2X:
        if (d) gan__upsample2x_backward(d, dy->data, L, n);
        break;
    }
}

GANDEF void gan_layer_backward(gan_layer *L, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x,
                               const gan_tensor *y)
{
    gan__layer_backward(L, dx, dy, x, y, 1);
}

/* fan_in and fan_out as PyTorch computes them from the weight's dimensions (dim 1 and dim 0 times
   the kernel area), which for ConvTranspose2d means fan_in = out_ch k k. */
static void gan__fans(const gan_layer *L, double *fan_in, double *fan_out)
{
    double area = (double)L->k * L->k;
    switch (L->kind) {
    case GAN_LINEAR: *fan_in = L->in_ch; *fan_out = L->out_ch; break;
    case GAN_CONV2D: *fan_in = L->in_ch * area; *fan_out = L->out_ch * area; break;
    case GAN_CONV_TRANSPOSE2D: *fan_in = L->out_ch * area; *fan_out = L->in_ch * area; break;
    default: *fan_in = *fan_out = 1; break;
    }
}

/* DCGAN's initialization (Radford et al. 2016): weights and norm gains from N(0 or 1, 0.02). */
#define GAN__DCGAN_STD 0.02

GANDEF void gan_layer_init(gan_layer *L, gan_init scheme, gan_rng *rng)
{
    double fan_in, fan_out, bound;
    size_t j;
    if (!L->nW) return;
    if (L->kind == GAN_BATCHNORM || L->kind == GAN_LAYERNORM) {
        if (scheme == GAN_INIT_DCGAN && L->kind == GAN_BATCHNORM)
            gan_fill_normal(L->W, L->nW, 1, (gan_float)GAN__DCGAN_STD, rng);
        else
            for (j = 0; j < L->nW; j++) L->W[j] = 1;
        for (j = 0; j < L->nb; j++) L->b[j] = 0;
        return;
    }
    gan__fans(L, &fan_in, &fan_out);
    switch (scheme) {
    case GAN_INIT_PYTORCH: /* kaiming_uniform(a = sqrt(5)) gives bound 1 / sqrt(fan_in); so does the bias */
        bound = 1 / sqrt(fan_in);
        gan_fill_uniform(L->W, L->nW, (gan_float)-bound, (gan_float)bound, rng);
        if (L->nb) gan_fill_uniform(L->b, L->nb, (gan_float)-bound, (gan_float)bound, rng);
        return;
    case GAN_INIT_DCGAN:
        gan_fill_normal(L->W, L->nW, 0, (gan_float)GAN__DCGAN_STD, rng);
        break;
    case GAN_INIT_XAVIER:
        bound = sqrt(6 / (fan_in + fan_out));
        gan_fill_uniform(L->W, L->nW, (gan_float)-bound, (gan_float)bound, rng);
        break;
    case GAN_INIT_KAIMING:
        gan_fill_normal(L->W, L->nW, 0, (gan_float)sqrt(2 / fan_in), rng);
        break;
    }
    for (j = 0; j < L->nb; j++) L->b[j] = 0;
}

/* ==== losses ==== */

/* max(x, 0) - x t + log(1 + exp(-|x|)); d/dx = sigmoid(x) - t */
static double gan__bce1(gan_float *grad, gan_float x, gan_float t, double scale)
{
    double xd = x, e = exp(-fabs(xd)), sig = xd >= 0 ? 1 / (1 + e) : e / (1 + e);
    if (grad) *grad = (gan_float)((sig - t) * scale);
    return (xd > 0 ? xd : 0) - xd * t + log1p(e);
}

/* (x - t)^2; d/dx = 2 (x - t) */
static double gan__se1(gan_float *grad, gan_float x, gan_float t, double scale)
{
    double diff = (double)x - t;
    if (grad) *grad = (gan_float)(2 * diff * scale);
    return diff * diff;
}

/* The mean of f over n values against target[i] (or the constant target_const when target is NULL);
   grad[i] = d(mean)/dx[i] when grad is not NULL. Sums in double so the mean of many terms stays exact. */
static gan_float gan__mean_loss(double (*f)(gan_float *, gan_float, gan_float, double), gan_float *grad,
                                const gan_float *x, const gan_float *target, gan_float target_const, size_t n)
{
    double sum = 0, scale = 1.0 / (double)n;
    size_t i;
    GAN_ASSERT(x && n > 0 && "a loss needs at least one value");
    for (i = 0; i < n; i++) sum += f(grad ? grad + i : NULL, x[i], target ? target[i] : target_const, scale);
    return (gan_float)(sum * scale);
}

GANDEF gan_float gan_bce_logits(gan_float *grad, const gan_float *x, const gan_float *target, size_t n)
{
    GAN_ASSERT(target && "gan_bce_logits needs targets (gan_bce_logits_const takes one value)");
    return gan__mean_loss(gan__bce1, grad, x, target, 0, n);
}

GANDEF gan_float gan_bce_logits_const(gan_float *grad, const gan_float *x, gan_float target, size_t n)
{
    return gan__mean_loss(gan__bce1, grad, x, NULL, target, n);
}

GANDEF gan_float gan_mse(gan_float *grad, const gan_float *x, const gan_float *target, size_t n)
{
    GAN_ASSERT(target && "gan_mse needs targets (gan_mse_const takes one value)");
    return gan__mean_loss(gan__se1, grad, x, target, 0, n);
}

GANDEF gan_float gan_mse_const(gan_float *grad, const gan_float *x, gan_float target, size_t n)
{
    return gan__mean_loss(gan__se1, grad, x, NULL, target, n);
}

/* ==== optim ==== */

static gan_optim gan__optim_new(gan_optim_kind kind, gan_float lr)
{
    gan_optim o;
    GAN_ASSERT(lr >= 0 && "learning rate must not be negative");
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.lr = lr;
    return o;
}

GANDEF gan_optim gan_sgd(gan_float lr, gan_float momentum)
{
    gan_optim o = gan__optim_new(GAN_SGD, lr);
    GAN_ASSERT(momentum >= 0 && "SGD momentum must not be negative");
    o.momentum = momentum;
    return o;
}

/* PyTorch's defaults: eps for Adam and RMSProp; Adam's learning rate and betas (a new network's optimizer). */
#define GAN__OPTIM_EPS 1e-8
#define GAN__ADAM_LR 1e-3
#define GAN__ADAM_BETA1 0.9
#define GAN__ADAM_BETA2 0.999

GANDEF gan_optim gan_adam(gan_float lr, gan_float beta1, gan_float beta2)
{
    gan_optim o = gan__optim_new(GAN_ADAM, lr);
    GAN_ASSERT(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1 && "Adam betas must be in [0, 1)");
    o.beta1 = beta1;
    o.beta2 = beta2;
    o.eps = (gan_float)GAN__OPTIM_EPS;
    return o;
}

GANDEF gan_optim gan_rmsprop(gan_float lr, gan_float alpha)
{
    gan_optim o = gan__optim_new(GAN_RMSPROP, lr);
    GAN_ASSERT(alpha >= 0 && alpha < 1 && "RMSProp alpha must be in [0, 1)");
    o.alpha = alpha;
    o.eps = (gan_float)GAN__OPTIM_EPS;
    return o;
}

GANDEF void gan_optim_update(gan_float *w, gan_float *m, gan_float *v, const gan_float *dw,
                             const gan_optim *opt, size_t n)
{
    size_t i;
    GAN_ASSERT(w && dw && opt && "gan_optim_update: NULL argument");
    GAN_ASSERT(opt->step >= 1 && "count the step (opt->step += 1) before gan_optim_update");
    switch (opt->kind) {
    case GAN_SGD: /* buf = momentum buf + g; w -= lr buf */
        for (i = 0; i < n; i++) {
            gan_float g = dw[i] + opt->weight_decay * w[i];
            if (opt->momentum != 0) {
                m[i] = opt->momentum * m[i] + g;
                g = m[i];
            }
            w[i] -= opt->lr * g;
        }
        break;
    case GAN_ADAM: {
        /* w -= lr (m / (1 - b1^t)) / (sqrt(v) / sqrt(1 - b2^t) + eps), PyTorch's eps placement */
        double bc1 = 1 - pow((double)opt->beta1, (double)opt->step);
        double bc2 = 1 - pow((double)opt->beta2, (double)opt->step);
        gan_float step_size = (gan_float)(opt->lr / bc1), rsqrt_bc2 = (gan_float)(1 / sqrt(bc2));
        gan_float decay = 1 - opt->lr * opt->weight_decay;
        for (i = 0; i < n; i++) {
            gan_float g = dw[i];
            if (opt->weight_decay != 0) w[i] *= decay; /* decoupled (AdamW) */
            m[i] = opt->beta1 * m[i] + (1 - opt->beta1) * g;
            v[i] = opt->beta2 * v[i] + (1 - opt->beta2) * g * g;
            w[i] -= step_size * m[i] / ((gan_float)sqrt(v[i]) * rsqrt_bc2 + opt->eps);
        }
        break;
    }
    case GAN_RMSPROP: /* v = alpha v + (1 - alpha) g^2; w -= lr g / (sqrt(v) + eps) */
        for (i = 0; i < n; i++) {
            gan_float g = dw[i] + opt->weight_decay * w[i], upd;
            v[i] = opt->alpha * v[i] + (1 - opt->alpha) * g * g;
            upd = g / ((gan_float)sqrt(v[i]) + opt->eps);
            if (opt->momentum != 0) {
                m[i] = opt->momentum * m[i] + upd;
                upd = m[i];
            }
            w[i] -= opt->lr * upd;
        }
        break;
    }
}

/* ==== net ==== */

static size_t gan__round_up(size_t count) { return (count + GAN__ALIGN_FLOATS - 1) / GAN__ALIGN_FLOATS * GAN__ALIGN_FLOATS; }

/* Hands out aligned slices of the arena in planning order. With base NULL it only counts. */
typedef struct gan__carver {
    gan_float *base;
    size_t used;
} gan__carver;

static gan_float *gan__carve(gan__carver *cv, size_t count)
{
    gan_float *p = cv->base ? cv->base + cv->used : NULL;
    cv->used += gan__round_up(count);
    return count ? p : NULL;
}

/* Lays the planned network's arena out: parameters | gradients | first moments | second moments
   (each one contiguous block, so the optimizer and zero-grad are single loops) | running statistics
   (with the blocks before, everything a checkpoint holds) | saved values | input copy | layer outputs |
   two gradient buffers | shared scratch. With cv->base NULL it only counts. */
static void gan__net_layout(gan_net *net, gan__carver *cv)
{
    size_t params = 0, off = 0, largest = gan__shape_count(net->in), work = 0;
    int i, B = net->max_batch;
    gan_float *work_base;

    for (i = 0; i < net->n_layers; i++) {
        gan__layer_sizes ls = gan__layer_memory(&net->layers[i]);
        params += gan__round_up(ls.params);
        if (ls.work > work) work = ls.work;
        if (gan__shape_count(net->layers[i].out) > largest) largest = gan__shape_count(net->layers[i].out);
    }
    net->n_params = params;
    net->params = gan__carve(cv, params);
    net->grads = gan__carve(cv, params);
    net->opt_m = gan__carve(cv, params);
    net->opt_v = gan__carve(cv, params);
    for (i = 0; i < net->n_layers; i++) {
        gan_layer *L = &net->layers[i];
        gan__layer_sizes ls = gan__layer_memory(L);
        L->W = L->nW && cv->base ? net->params + off : NULL;
        L->dW = L->nW && cv->base ? net->grads + off : NULL;
        L->b = L->nb && cv->base ? net->params + off + L->nW : NULL;
        L->db = L->nb && cv->base ? net->grads + off + L->nW : NULL;
        off += gan__round_up(ls.params);
        L->run_mean = ls.buffers ? gan__carve(cv, ls.buffers / 2) : NULL;
        L->run_var = ls.buffers ? gan__carve(cv, ls.buffers / 2) : NULL;
    }
    for (i = 0; i < net->n_layers; i++) net->layers[i].saved = gan__carve(cv, gan__layer_memory(&net->layers[i]).saved);
    net->acts[0] = gan_tensor_make(gan__carve(cv, (size_t)B * gan__shape_count(net->in)), B, net->in.c,
                                   net->in.h, net->in.w);
    for (i = 0; i < net->n_layers; i++) {
        gan_shape o = net->layers[i].out;
        net->acts[i + 1] = gan_tensor_make(gan__carve(cv, (size_t)B * gan__shape_count(o)), B, o.c, o.h, o.w);
    }
    net->dbuf[0] = gan__carve(cv, (size_t)B * largest);
    net->dbuf[1] = gan__carve(cv, (size_t)B * largest);
    work_base = gan__carve(cv, work);
    for (i = 0; i < net->n_layers; i++) net->layers[i].work = work_base;
}

GANDEF gan_net *gan_net_create(gan_shape in, const gan_layer *layers, int n_layers, int max_batch,
                               gan_rng *rng)
{
    gan_net *net;
    gan__carver count_only, cv;
    size_t header;
    int i;
    GAN_ASSERT(layers && n_layers > 0 && rng && "gan_net_create needs layers and an rng");
    GAN_ASSERT(in.c > 0 && in.h > 0 && in.w > 0 && max_batch > 0 && "input shape and max_batch must be positive");

    /* One block for the struct, the layers and the activation views; one for the arena. */
    header = sizeof(gan_net) + (size_t)n_layers * sizeof(gan_layer) + (size_t)(n_layers + 1) * sizeof(gan_tensor);
    net = (gan_net *)GAN_MALLOC(header);
    if (!net) {
        gan__fail("gan_net_create: out of memory for the network's description");
        return NULL;
    }
    memset(net, 0, header);
    net->layers = (gan_layer *)(net + 1);
    net->acts = (gan_tensor *)(net->layers + n_layers);
    memcpy(net->layers, layers, (size_t)n_layers * sizeof(gan_layer));
    net->n_layers = n_layers;
    net->in = in;
    net->max_batch = max_batch;
    net->training = 1;
    for (i = 0; i < n_layers; i++)
        gan__layer_plan(&net->layers[i], i ? net->layers[i - 1].out : in, max_batch);

    count_only.base = NULL;
    count_only.used = 0;
    gan__net_layout(net, &count_only);
    net->arena_count = count_only.used;
    if (net->arena_count > (SIZE_MAX - GAN__ALIGN_BYTES) / sizeof(gan_float)) {
        GAN_FREE(net);
        gan__fail("gan_net_create: the network's arena would not fit in memory's address range");
        return NULL;
    }
    net->arena_block = GAN_MALLOC(net->arena_count * sizeof(gan_float) + GAN__ALIGN_BYTES);
    if (!net->arena_block) {
        GAN_FREE(net);
        gan__fail("gan_net_create: out of memory for the arena");
        return NULL;
    }
    net->arena = (gan_float *)((char *)net->arena_block +
                               (GAN__ALIGN_BYTES - (size_t)((uintptr_t)net->arena_block % GAN__ALIGN_BYTES)) % GAN__ALIGN_BYTES);
    memset(net->arena, 0, net->arena_count * sizeof(gan_float));
    cv.base = net->arena;
    cv.used = 0;
    gan__net_layout(net, &cv);

    for (i = 0; i < n_layers; i++) {
        gan_layer *L = &net->layers[i];
        size_t j;
        if (L->run_var)
            for (j = 0; j < (size_t)L->in.c; j++) L->run_var[j] = 1;
        if (L->kind == GAN_DROPOUT) {
            uint64_t hi = gan_rng_u32(rng), lo = gan_rng_u32(rng); /* two statements: a fixed order */
            gan_rng_seed(&L->rng, (hi << 32) | lo);
        }
    }
    gan_net_init(net, GAN_INIT_PYTORCH, rng);
    net->opt = gan_adam((gan_float)GAN__ADAM_LR, (gan_float)GAN__ADAM_BETA1, (gan_float)GAN__ADAM_BETA2);
    return net;
}

GANDEF void gan_net_free(gan_net *net)
{
    if (!net) return;
    GAN_FREE(net->arena_block);
    GAN_FREE(net);
}

GANDEF size_t gan_net_arena_bytes(const gan_net *net) { return net->arena_count * sizeof(gan_float); }

GANDEF void gan_net_init(gan_net *net, gan_init scheme, gan_rng *rng)
{
    int i;
    for (i = 0; i < net->n_layers; i++) gan_layer_init(&net->layers[i], scheme, rng);
}

GANDEF void gan_net_set_training(gan_net *net, int training) { net->training = training ? 1 : 0; }

GANDEF const gan_tensor *gan_net_forward(gan_net *net, const gan_tensor *x)
{
    int i, n;
    GAN_ASSERT(net && x && x->data && "gan_net_forward: NULL argument");
    GAN_ASSERT(x->c == net->in.c && x->h == net->in.h && x->w == net->in.w && "input shape must match the network's");
    GAN_ASSERT(x->n > 0 && x->n <= net->max_batch && "batch must be between 1 and the network's max_batch");
    n = x->n;
    net->batch = n;
    for (i = 0; i <= net->n_layers; i++) net->acts[i].n = n;
    /* A copy, so the caller may reuse x (another network's output, say) before backward. */
    memcpy(net->acts[0].data, x->data, gan_tensor_count(x) * sizeof(gan_float));
    for (i = 0; i < net->n_layers; i++) gan_layer_forward(&net->layers[i], &net->acts[i + 1], &net->acts[i], net->training);
    return &net->acts[net->n_layers];
}

/* Backward through every layer, last to first; dparams = 0 leaves parameter gradients alone. */
static const gan_tensor *gan__net_backward(gan_net *net, const gan_tensor *dy, int dparams)
{
    const gan_tensor *out, *cur = dy;
    gan_tensor grads[2];
    int i;
    GAN_ASSERT(net && dy && dy->data && "gan_net_backward: NULL argument");
    GAN_ASSERT(net->batch > 0 && "gan_net_backward needs a forward first");
    out = &net->acts[net->n_layers];
    GAN_ASSERT(dy->n == out->n && dy->c == out->c && dy->h == out->h && dy->w == out->w
               && "dy must have the shape of the last forward's output");
    (void)out;
    /* Layer i writes its input gradient into dbuf[i % 2] while reading the other one. */
    for (i = net->n_layers - 1; i >= 0; i--) {
        gan_tensor *dx = &grads[i % 2];
        const gan_tensor *x = &net->acts[i];
        *dx = gan_tensor_make(net->dbuf[i % 2], x->n, x->c, x->h, x->w);
        gan__layer_backward(&net->layers[i], dx, cur, x, &net->acts[i + 1], dparams);
        cur = dx;
    }
    net->dx = *cur;
    return &net->dx;
}

GANDEF const gan_tensor *gan_net_backward(gan_net *net, const gan_tensor *dy) { return gan__net_backward(net, dy, 1); }

GANDEF const gan_tensor *gan_net_backward_input(gan_net *net, const gan_tensor *dy)
{
    return gan__net_backward(net, dy, 0);
}

GANDEF const gan_tensor *gan_net_output(const gan_net *net) { return &net->acts[net->n_layers]; }

/* n values of x set to 0; x may be NULL when n is 0 (a network without parameters). */
static void gan__clear(gan_float *x, size_t n)
{
    if (n) memset(x, 0, n * sizeof(gan_float));
}

GANDEF void gan_net_zero_grad(gan_net *net) { gan__clear(net->grads, net->n_params); }

GANDEF void gan_net_set_optim(gan_net *net, gan_optim opt)
{
    net->opt = opt;
    net->opt.step = 0;
    gan__clear(net->opt_m, net->n_params);
    gan__clear(net->opt_v, net->n_params);
}

GANDEF void gan_net_step(gan_net *net)
{
    net->opt.step++;
    gan_optim_update(net->params, net->opt_m, net->opt_v, net->grads, &net->opt, net->n_params);
}

GANDEF gan_layer *gan_net_layer(gan_net *net, int i)
{
    GAN_ASSERT(i >= 0 && i < net->n_layers && "layer index out of range");
    return &net->layers[i];
}

/* The shape of a layer's weight as PyTorch lays it out. */
static int gan__weight_shape(const gan_layer *L, int *shape)
{
    switch (L->kind) {
    case GAN_LINEAR: shape[0] = L->out_ch; shape[1] = L->in_ch; return 2;
    case GAN_CONV2D: shape[0] = L->out_ch; shape[1] = L->in_ch; shape[2] = shape[3] = L->k; return 4;
    case GAN_CONV_TRANSPOSE2D: shape[0] = L->in_ch; shape[1] = L->out_ch; shape[2] = shape[3] = L->k; return 4;
    case GAN_LAYERNORM:
        shape[0] = L->in.c; shape[1] = L->in.h; shape[2] = L->in.w;
        return 3;
    default: shape[0] = (int)L->nW; return 1;
    }
}

/* Parameters in order: for each layer, its weight then its bias. */
GANDEF int gan_net_param_count(const gan_net *net)
{
    int i, count = 0;
    for (i = 0; i < net->n_layers; i++) count += (net->layers[i].nW > 0) + (net->layers[i].nb > 0);
    return count;
}

GANDEF gan_param gan_net_param(gan_net *net, int index)
{
    gan_param p;
    int i, k = index;
    memset(&p, 0, sizeof p);
    GAN_ASSERT(index >= 0 && index < gan_net_param_count(net) && "parameter index out of range");
    for (i = 0; i < net->n_layers; i++) {
        gan_layer *L = &net->layers[i];
        if (L->nW && k-- == 0) {
            p.data = L->W;
            p.grad = L->dW;
            p.count = L->nW;
            p.ndim = gan__weight_shape(L, p.shape);
        } else if (L->nb && k-- == 0) {
            p.data = L->b;
            p.grad = L->db;
            p.count = L->nb;
            p.ndim = L->kind == GAN_LAYERNORM ? gan__weight_shape(L, p.shape) : 1; /* LayerNorm: (C, H, W) */
            if (p.ndim == 1) p.shape[0] = (int)L->nb;
        } else {
            continue;
        }
        p.layer = i;
        p.role = p.data == L->W ? "weight" : "bias";
        p.m = net->opt_m + (p.data - net->params);
        p.v = net->opt_v + (p.data - net->params);
        break;
    }
    return p;
}

/* Buffers in order: for each BatchNorm, running_mean then running_var. */
GANDEF int gan_net_buffer_count(const gan_net *net)
{
    int i, count = 0;
    for (i = 0; i < net->n_layers; i++) count += net->layers[i].run_mean ? 2 : 0;
    return count;
}

GANDEF gan_param gan_net_buffer(gan_net *net, int index)
{
    gan_param p;
    int i;
    memset(&p, 0, sizeof p);
    GAN_ASSERT(index >= 0 && index < gan_net_buffer_count(net) && "buffer index out of range");
    for (i = 0; i < net->n_layers; i++) {
        gan_layer *L = &net->layers[i];
        if (!L->run_mean) continue;
        if (index < 2) {
            p.layer = i;
            p.role = index == 0 ? "running_mean" : "running_var";
            p.data = index == 0 ? L->run_mean : L->run_var;
            p.count = (size_t)L->in.c;
            p.ndim = 1;
            p.shape[0] = L->in.c;
            break;
        }
        index -= 2;
    }
    return p;
}

#ifndef GAN_NO_STDIO
static const char *gan__kind_name(gan_layer_kind kind)
{
    switch (kind) {
    case GAN_LINEAR: return "Linear";
    case GAN_CONV2D: return "Conv2d";
    case GAN_CONV_TRANSPOSE2D: return "ConvTranspose2d";
    case GAN_BATCHNORM: return "BatchNorm";
    case GAN_LAYERNORM: return "LayerNorm";
    case GAN_RELU: return "ReLU";
    case GAN_LEAKY_RELU: return "LeakyReLU";
    case GAN_TANH: return "Tanh";
    case GAN_SIGMOID: return "Sigmoid";
    case GAN_DROPOUT: return "Dropout";
    case GAN_RESHAPE: return "Reshape";
    case GAN_UPSAMPLE2X: return "Upsample2x";
    }
    return "?";
}

GANDEF void gan_net_print(const gan_net *net, FILE *f)
{
    int i;
    size_t total = 0;
    fprintf(f, "  #  layer            output (C, H, W)   parameters\n");
    fprintf(f, "     input            (%d, %d, %d)\n", net->in.c, net->in.h, net->in.w);
    for (i = 0; i < net->n_layers; i++) {
        const gan_layer *L = &net->layers[i];
        char shape[48];
        sprintf(shape, "(%d, %d, %d)", L->out.c, L->out.h, L->out.w);
        fprintf(f, "%3d  %-15s  %-17s  %lu\n", i, L->kind == GAN_RESHAPE && L->to.c < 0 ? "Flatten" : gan__kind_name(L->kind),
                shape, (unsigned long)(L->nW + L->nb));
        total += L->nW + L->nb;
    }
    fprintf(f, "     %lu parameters, arena %.2f MiB for batches up to %d\n", (unsigned long)total,
            (double)gan_net_arena_bytes(net) / (1024.0 * 1024.0), net->max_batch);
}
#endif

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
