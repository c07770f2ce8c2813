/* gan.h - v0.5.3 - train generative adversarial networks on the CPU, in plain C.
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
      kernels      GEMM (packed and blocked; micro-kernels for AVX-512, AVX2 and a baseline, chosen
                   at run time; its naive twin), a thread pool, im2col / col2im
      layers       Linear, Conv2d, ConvTranspose2d, BatchNorm, LayerNorm, ReLU, LeakyReLU, Tanh,
                   Sigmoid, Dropout, Reshape/Flatten, Upsample x2, AvgPool 2x2, Scale, Embedding,
                   and the joins Add, Mul, Concat, Inner: one table row per op with its forward,
                   backward, tangent (forward-mode derivative) and dual backward
      losses       BCE-with-logits (softplus form), mean squared error, softmax cross-entropy
      optim        SGD with momentum, Adam (optional decoupled weight decay), RMSProp
      planner      overflow-safe sizes; buffers placed by liveness
      graph        a network under construction: inputs, layers applied to nodes, joins, outputs
      net          a built network: one arena for a stated maximum batch; forward, backward,
                   sampling, gradient penalties, optimizer steps, parameter access; spectral norm
      train        the GAN step: the adversarial losses, the papers' recipes, a trainer holding
                   G, D (and an EMA of G) that runs n_critic D steps and a G step per call
      data         gzip and inflate (RFC 1952 / 1951, CRC-32 checked), IDX files (MNIST's layout,
                   gzipped or not), the procedural shapes, batches in [-1, 1], a shuffling loader
      images       writers to a callback or a file: PNG (LZ77 and fixed-Huffman deflate of its own,
                   Adler-32, per-row filters), PGM/PPM, IDX; grids of samples; 2-D scatter plots
      checkpoint   a run's whole state in one safetensors file (written crash-safe: a temporary
                   file, fsync, rename), read back with every byte checked (JSON, sizes, CRC-32)
      eval         sample quality: a classifier gan.h trains itself, classes covered, class KL,
                   confidence, label accuracy, the Frechet distance of its features (a symmetric
                   eigendecomposition by Jacobi rotations); mode metrics of 2-D mixtures
      (errors)     gan_last_error; its message buffer opens the implementation

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
      GAN_FATAL(msg)       what a check of run-time data does in a function that cannot return an
                           error (gan_layer_forward, gan_layer_backward: a tensor of the wrong shape or
                           batch), in every build, after GAN_ASSERT; it must not return (abort or
                           longjmp)                   default: msg on stderr (none with GAN_NO_STDIO), abort()
      GAN_NO_STDIO         leave out everything that uses FILE * (gan_net_print, gan_dataset_load,
                           gan_dataset_load_idx, the *_save functions); gan_dataset_from_idx,
                           gan_gunzip and the writers to a gan_write_fn work on memory
      GAN_GEMM             the GEMM the layers call, with gan_gemm's signature
                           default: the built-in packed GEMM with the network's packing buffer
                           (an adapter to cblas_sgemm, say: include gan.h once, declare it, then
                           define GAN_GEMM and GAN_IMPLEMENTATION and include gan.h again);
                           convolutions then fill im2col columns for it, where the built-in GEMM
                           gathers the windows straight into its packed panels
      GAN_NO_DISPATCH      compile only the baseline GEMM kernel (no AVX2/AVX-512 copies)   default: off
      GAN_NO_THREADS       no worker threads and no <pthread.h>                          default: off
                           (threads are used where __unix__ or __APPLE__ is defined)
      GAN_MAX_THREADS      the most threads gan_set_threads starts                 default: 64
      GAN_MAX_ARENA_BYTES  the largest arena a network may plan; a bigger one is refused before any
                           allocation                     default: 2^39 (512 GiB; 2^30 where size_t is 32-bit)
      GAN_MAX_DATA_BYTES   the largest file, and decompressed stream, the data loaders take; bigger
                           ones are refused before they are allocated
                           default: 2^32 (4 GiB; 2^30 where size_t is 32-bit)

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
                                  gan_dropout, gan_reshape, gan_flatten, gan_upsample2x, gan_avgpool2x,
                                  gan_scale, gan_embedding, gan_no_bias, gan_no_affine
      build a chain               gan_net_create
      build a graph               gan_graph_new, gan_input, gan_apply, gan_chain, gan_add, gan_mul,
                                  gan_concat, gan_inner, gan_output, gan_name, gan_node_shape,
                                  gan_net_build (GAN_BUILD_PENALTY), gan_graph_free
      free, size, show            gan_net_free, gan_net_arena_bytes, gan_net_print
      one scratch for G and D     gan_net_share_scratch (gan_trainer_create calls it)
      initialize weights          gan_net_init, gan_layer_init (GAN_INIT_PYTORCH, _DCGAN, _XAVIER, _KAIMING)
      run it                      gan_net_forward, gan_net_backward, gan_net_backward_input,
                                  gan_net_forward_multi, gan_net_backward_multi (GAN_GRAD_PARAMS,
                                  GAN_GRAD_INPUTS), gan_net_output_at, gan_net_input_grad,
                                  gan_net_set_training
      sample                      gan_net_infer, gan_net_infer_multi (GAN_STATS_RUNNING, _BATCH)
      gradient penalties          gan_net_penalty (GAN_PENALTY_WGAN_GP, _WGAN_GP_ONE_SIDED, _R1, _R2)
      train it                    gan_net_zero_grad, gan_net_set_optim, gan_net_step;
                                  gan_sgd, gan_adam, gan_rmsprop, gan_optim_update;
                                  per layer: lr_mult, frozen; gan_net_copy_params
      spectral normalization      gan_spectral_norm (Linear, Conv2d)
      train a GAN                 gan_default_train (GAN_FAMILY_MINIMAX, _NONSATURATING, _LEAST_SQUARES,
                                  _HINGE, _WGAN, _WGAN_GP, _R1), gan_family_name, gan_family_parse,
                                  gan_trainer_create, gan_train_step, gan_trainer_sample,
                                  gan_trainer_free
      adversarial losses          gan_loss_d, gan_loss_g, gan_loss_name (GAN_LOSS_MINIMAX,
                                  _NONSATURATING, _LEAST_SQUARES, _HINGE, _WASSERSTEIN)
      data sets                   gan_dataset_load (GAN_SPLIT_TRAIN, _TEST, _ANY), gan_dataset_load_idx,
                                  gan_dataset_from_idx, gan_dataset_shapes, gan_dataset_free,
                                  gan_dataset_batch
      batches in shuffled order   gan_loader_init, gan_loader_next, gan_loader_real (a gan_real_fn),
                                  gan_loader_epochs, gan_loader_free
      decompress                  gan_gunzip
      save and resume a run       gan_trainer_save (gan_trainer_write, gan_meta), gan_checkpoint_open
                                  (gan_checkpoint_parse), gan_checkpoint_config, gan_checkpoint_load,
                                  gan_checkpoint_meta, gan_checkpoint_close
      export a generator          gan_net_save (gan_net_write), gan_checkpoint_load_net;
                                  examples/load_in_pytorch.py opens it in PyTorch
      crash-safe files            gan_save_file (gan_encode_fn)
      write pictures and data     gan_png_write, gan_pnm_write, gan_idx_write (to a gan_write_fn);
                                  gan_png_save, gan_pnm_save, gan_idx_save (to a file)
      show samples                gan_to_bytes, gan_grid_size, gan_grid, gan_grid_save
      plot 2-D points             gan_plot_fill, gan_plot_points, gan_plot_axes
      measure sample quality      gan_classifier_create (gan_classifier_graph), gan_classifier_train,
                                  gan_classifier_gaussian, gan_eval_images (gan_image_scores),
                                  gan_classify; gan_gaussian_fit, gan_gaussian_free,
                                  gan_frechet_distance, gan_eigen_symmetric; gan_eval_modes
                                  (gan_mode_scores) for 2-D samples
      look inside                 gan_net_layer, gan_net_node_layer, gan_net_output, gan_net_layer_output,
                                  gan_net_input_shape, gan_net_param_count, gan_net_param,
                                  gan_net_buffer_count, gan_net_buffer
      one layer on its own        gan_layer_forward, gan_layer_backward (on plain tensors)
      losses                      gan_bce_logits, gan_bce_logits_const, gan_mse, gan_mse_const,
                                  gan_softmax_xent
      kernels                     gan_gemm, gan_gemm_naive, gan_im2col, gan_col2im
      threads and kernels         gan_set_threads, gan_threads, gan_set_isa (GAN_ISA_AUTO, _BASELINE,
                                  _AVX2, _AVX512), gan_isa_in_use, gan_isa_name
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
        gan_no_affine(gan_batchnorm(C)) has no weight or bias (affine=False), for conditional
        BatchNorm, whose scale and shift come from elsewhere in the graph.
      - LayerNorm normalizes each sample over all of (C, H, W), biased variance, eps = 1e-5, with an
        elementwise weight and bias of shape (C, H, W): PyTorch's nn.LayerNorm([C, H, W]).
      - AvgPool2x is AvgPool2d(2): the mean of each 2x2 block, an odd last row or column left out.
      - Embedding(classes, dim) is nn.Embedding: weight (classes, dim), initialized N(0, 1). A class
        label enters a network as a float input of shape (1, 1, 1) holding the integer index (exact
        below 2^24); the Embedding reading it must take it straight from that input. The forward
        refuses an index that is not an integer in [0, classes); no gradient flows to the label.
      - Spectral norm is torch.nn.utils.spectral_norm with one power iteration: the parameter is
        "<node>.weight_orig", the buffers "<node>.weight_u" and "<node>.weight_v" (random unit vectors
        when the network is built), W seen as out x (in k k), eps 1e-12 in the normalizations.
      - Add and Mul broadcast an operand whose C is 1 or whose (H, W) is (1, 1) over the other's
        shape, as PyTorch does for (N, C, 1, 1) against (N, C, H, W); the gradient of a broadcast
        operand is summed over what it was broadcast over. Concat stacks channels (torch.cat dim 1).
        Inner is the per-sample sum of a b over all C H W values, (1, 1, 1) per sample.
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
        by an explicit call. Where paths meet in a graph, gradients are summed, in a fixed order.
      - Parameter names follow PyTorch's state_dict: "<node>.<role>", role weight, bias,
        running_mean or running_var. A chain's nodes are named by their index (nn.Sequential's
        "0.weight"); a graph's by gan_name, or by their index among the layers when unnamed.
      - lr_mult (1) and frozen (0) are per layer: gan_net_step moves a layer at opt.lr * lr_mult,
        and not at all when frozen; a frozen layer accumulates no gradient but passes dL/dx on.

   MEMORY
      Building a network plans one arena for the largest batch you state: parameters, gradients,
      optimizer moments and running statistics (contiguous, so a checkpoint is a few blocks), then
      two regions whose buffers are placed by liveness, so that buffers in use at different times
      share memory: the training forward's outputs and saved values (kept until backward when
      backward reads them, reused as soon as nothing will), and one region shared by sampling, the
      backward's gradients and the penalty's passes (which never run at once); then one scratch area
      (the GEMM's packing buffer, about 670 KiB, and the largest convolution's columns and tables).
      ReLU, LeakyReLU and BatchNorm work in place where nothing else reads their input: their output
      takes the input's memory (a ReLU after a BatchNorm, in training), and their dL/dx that of dL/dy.
      Every size is computed with overflow-checked arithmetic; a plan past GAN_MAX_ARENA_BYTES is
      refused with NULL and a message before the arena is allocated. Forward, backward, sampling,
      penalties and optimizer steps never allocate. Pointers returned point into the arena: outputs
      stay valid until the next forward (or penalty), input gradients until the next backward (or
      penalty). Inputs and dL/doutputs are copied in first, so they may be any buffers, the
      network's own included. gan_net_print shows each region's size.
      The region shared by sampling, gradients and the penalty, and the scratch, live only inside
      one call, in a block apart from the arena: networks that never run at the same time can use
      one block (gan_net_share_scratch; the trainer does it for G, D and G_ema), which saves the
      smaller block (7.5 MiB for the reference DCGAN at batch 64). The block is not cleared: its
      pages cost memory only once a call touches them.

   GRAPHS
      A model that is not one chain is a graph: make its inputs, apply layers to nodes, join them,
      mark outputs, build. A residual block (the shortcut is a 1x1 conv when the channels change):
          gan_node h = gan_apply(g, gan_batchnorm(in_ch), x);
          h = gan_apply(g, gan_relu(), h);
          h = gan_apply(g, gan_conv2d(in_ch, out_ch, 3, 1, 1), h);
          h = gan_apply(g, gan_batchnorm(out_ch), h);
          h = gan_apply(g, gan_relu(), h);
          h = gan_apply(g, gan_conv2d(out_ch, out_ch, 3, 1, 1), h);
          gan_node y = gan_add(g, h, gan_apply(g, gan_conv2d(in_ch, out_ch, 1, 1, 0), x));
      Conditional BatchNorm scales and shifts by class: with lab = gan_input(g, gan_chw(1, 1, 1)),
          h = gan_apply(g, gan_no_affine(gan_batchnorm(C)), h);
          h = gan_mul(g, h, gan_apply(g, gan_embedding(classes, C), lab));     ((C, 1, 1) broadcast)
          h = gan_add(g, h, gan_apply(g, gan_embedding(classes, C), lab));
      and a U-Net's skip is gan_concat(g, (gan_node[2]){ up, down }, 2) in C99 (an array in C++).
      A PGGAN fade-in blends two paths with Scale nodes whose factor changes between steps:
      gan_net_node_layer(net, node)->scale = alpha. examples/graphs.c builds a ResNet generator and a
      U-Net and trains the U-Net. Several inputs go in together (gan_net_forward_multi, in gan_input
      order), several outputs come out (gan_net_output_at) and take their gradients together
      (gan_net_backward_multi). A GAN's generator step, with two single-input networks:
          const gan_tensor *fake = gan_net_forward(G, &z);
          const gan_tensor *logit = gan_net_forward(D, fake);           (D copies its input)
          gan_bce_logits_const(dlogit, logit->data, 1, n);              (dlogit: n values of yours)
          gan_tensor dl = gan_tensor_make(dlogit, n, 1, 1, 1);
          const gan_tensor *dfake = gan_net_backward_input(D, &dl);    (dL/dfake; D's gradients untouched)
          gan_net_backward(G, dfake);                                   (the hand-off)
          gan_net_step(G);
      A network keeps the activations of its last forward only: a network used twice before one
      backward (two losses through one G) runs forward, backward, forward, backward, its parameter
      gradients adding up.

   SAMPLING
      gan_net_infer(G, &y, &z, GAN_STATS_RUNNING) runs G on any number of samples (in even chunks of
      at most max_batch) with Dropout off and BatchNorm's running estimates (GAN_STATS_BATCH: each
      chunk's own statistics, running estimates untouched). It has memory of its own: it leaves the last
      training forward, the running statistics, Dropout's streams and every gradient as they were,
      so a sample grid drawn between a forward and its backward changes nothing.

   GRADIENT PENALTIES
      gan_net_penalty(D, &P, xs, wrt, kind, weight) evaluates a penalty on g_i = dD(x_i)/dx_i at the
      points xs[wrt] (the WGAN-GP interpolates, R1's real batch, R2's fakes) and adds dP/dtheta to
      D's gradients, exactly: not by finite differences, and without a backward-of-backward. With
      v = dP/dg held fixed, dP/dtheta = d<v, g>/dtheta, and <v_i, g_i> is the forward-mode derivative
      of D at x_i along v_i; so D runs forward on x and on the tangent v together and one backward
      carries the adjoints back, each op contributing its second-order terms (LayerNorm, Tanh,
      Sigmoid, Mul, Inner). The tangent's adjoints are the gradients of the backward that found g
      (the same linear backward from the same seed), kept for the ops that read them. Where
      ||g_i|| = 0 the factor (||g_i|| - 1) / ||g_i|| is taken as 0, as PyTorch's norm backward does.
      Build D with GAN_BUILD_PENALTY. BatchNorm and Dropout in training mode couple samples or draw
      noise, so between x and the first output they are refused, naming the node (LayerNorm is the
      usual critic norm). A WGAN-GP critic step:
          gan_net_zero_grad(D);
          ... forward and backward of the loss on real and fake batches ...
          ... x_hat = eps real + (1 - eps) fake, per sample ...
          gan_net_penalty(D, &gp, &x_hat, 0, GAN_PENALTY_WGAN_GP, 10);
          gan_net_step(D);

   DATA AND PICTURES
      gan_dataset_load(&d, dir, "mnist", GAN_SPLIT_ANY) reads MNIST's files (train-images-idx3-ubyte,
      train-labels-idx1-ubyte, t10k-...), gzipped or not, from dir/mnist/ or dir/ ("fashion" looks in
      dir/fashion-mnist/); gan_dataset_shapes(&d, n, 28, seed) draws a set with no file at all
      (discs, rings, squares and bars, labels 0..3). Pixels stay bytes; gan_dataset_batch and the
      loader write them as floats p / 127.5 - 1, so 0 and 255 are -1 and 1, the range of a Tanh output.
      Inflate is built in (Fashion-MNIST's 60000 training images and labels, 26 MB gzipped, load in
      about 0.3 s on one core), so there is no zlib to link.
      gan_grid_save("samples.png", y.data, 64, 1, 28, 28, 8, 2) saves 64 generated 28 x 28 images
      (values in [-1, 1]) as an 8 x 8 grid, each pixel drawn 2 x 2, with a gray border of 2 pixels;
      gan_grid_size, gan_grid and gan_png_save (or gan_png_write, to memory through a gan_write_fn)
      make pictures of your own. A toy 2-D GAN's progress:
          gan_plot_fill(rgb, W, H, white);
          gan_plot_axes(rgb, W, H, -2, 2, -2, 2, gray);
          gan_plot_points(rgb, W, H, real_xy, n, -2, 2, -2, 2, 1, blue);
          gan_plot_points(rgb, W, H, fake_xy, n, -2, 2, -2, 2, 1, red);
          gan_png_save("step.png", rgb, W, H, 3, 3 * W);

   TRAINING A GAN
      gan_train_step runs one G step and the cfg.n_critic D steps before it, in the order of the
      papers' pseudo-code; its loop is gan__d_step and gan_train_step in the train section, to be read.
      Real batches come from a callback (gan_real_fn; gan_loader_real serves a gan_dataset), called once
      per D step. z is N(0, 1) of G's input 0 shape, drawn from the trainer's own seeded stream. A
      conditional GAN (cfg.classes > 0) gives G and D the class index as input 1, shape (1, 1, 1): a D
      step generates with the real batch's labels, a G step of n_critic > 1 draws labels uniformly.
      Counting: one step is one G update; one epoch is one pass of the real data through D, so with
      n_critic = 5 an epoch of 60000 images at batch 64 has 188 steps. A DCGAN:
          gan_train_config cfg = gan_default_train(GAN_FAMILY_NONSATURATING);
          gan_trainer *t = gan_trainer_create(G, D, NULL, &cfg);      (G, D: gan_nets of batch >= 64)
          gan_loader data;  gan_loader_init(&data, &mnist, 1);            (mnist: from gan_dataset_load)
          for (step = 0; step < 2000; step++) {
              gan_step_stats st;
              if (!gan_train_step(t, &st, gan_loader_real, &data)) { puts(gan_last_error()); break; }
          }
          gan_trainer_sample(t, &y, &z, NULL, GAN_STATS_RUNNING);     (y, z: tensors of 64 samples)
      (examples/dcgan.c is the whole program).
      With an EMA (cfg.ema_decay, and a G_ema built from G's graph) gan_trainer_sample draws from G_ema;
      its parameters average G's, its buffers (BatchNorm's running statistics, spectral norm's u and v)
      are copies of G's, not averages. Packing (cfg.pack = m, PacGAN) needs D's input to have m times
      G's channels: m consecutive samples are joined along channels, which in N C H W memory is the
      same batch seen as batch / m samples, so it costs no copy.

   CHECKPOINTS
      gan_trainer_save("run.st", t, &data, NULL, 0) writes everything the run depends on (G, D, G_ema,
      both optimizers' moments and steps, every random stream, the loader's order and position, the
      counters and settings) into one file, crash-safe: a half-written save never replaces the last
      good one. To go on in another process, build the same networks and trainer, then
          gan_checkpoint *ck = gan_checkpoint_open("run.st");          (checked: layout, JSON, CRC-32)
          if (!ck || !gan_checkpoint_load(ck, t, &data)) puts(gan_last_error());
          gan_checkpoint_close(ck);
      and gan_train_step continues bit for bit (same build and kernel path, any thread count).
      gan_checkpoint_config reads the settings first, to build the networks and check a command line.
      The file is safetensors: "G.<name>" with "G." stripped is G's PyTorch state_dict, and
      examples/load_in_pytorch.py samples from it in PyTorch. gan_net_save("g.st", G, "G") exports a
      generator alone; gan_checkpoint_load_net(ck, G, "G_ema") loads one part of either file.

   MEASURING SAMPLE QUALITY
      Inception scores need Inception's weights; gan.h trains its own judge instead, on your real
      data, and reads generated images with it (examples/evaluate.c scores IDX files of samples):
          gan_net *c = gan_classifier_create(gan_chw(1, 28, 28), 10, 100, 1);
          gan_classifier_train(c, &mnist, 0, 8000, 5, 1, NULL);       (digits 0-7999 of t10k)
          gan_gaussian ref;
          gan_classifier_gaussian(&ref, c, &mnist, 8000, 2000);       (the held-out 2000)
          gan_image_scores s;
          gan_eval_images(&s, c, &samples, 0, samples.n, &ref);       (samples: a gan_dataset)
      s.covered, s.kl and s.confidence say whether G draws every class, and how evenly and clearly;
      s.frechet compares the classifier's features of the samples with those of the real images;
      with labels in the samples' set (a conditional G's intended classes), s.accuracy. The numbers
      are this classifier's, comparable between runs that use the same one (same data, epochs and
      seed), not with FID figures from Inception features. For 2-D mixtures gan_eval_modes counts the
      modes G reaches and how many of its samples land near one.

   ERRORS
      Programmer errors (mismatched shapes, a batch above the maximum, NULL) stop at GAN_ASSERT with the
      failed condition. Checks that depend on run-time data (batches, shapes, sizes, file contents)
      also hold with NDEBUG: a function that can fail returns NULL or 0 and sets gan_last_error(); the
      two that cannot (gan_layer_forward and gan_layer_backward, on plain tensors) call GAN_FATAL,
      which prints the message and aborts unless you define your own. Runtime failures (out of memory,
      sizes past GAN_MAX_ARENA_BYTES, class labels out of range, a node a penalty cannot pass, a loss
      that is no longer finite, a damaged file) return NULL or 0 and set gan_last_error(), which names
      the node, the step or the file where there is one. The library never calls exit() and prints
      only through gan_net_print and the default GAN_FATAL. C and C++ builds with the same compiler
      options compute the same bits (tests/run compares them); builds with other options, compilers or
      kernel paths (gan_set_isa) may differ in the last bits.

   LIMITATIONS (v0.5.3)
      - A graph's layers do not share parameters (apply a layer twice and it gets two sets of them);
        a network built twice from one graph, with gan_net_copy_params, is the way to a twin.
      - Penalties are of the first output's per-sample gradient with respect to one input.
      - Threads split the GEMMs, col2im, the norms (the penalty's LayerNorm passes too), the
        activations, biases and the optimizer update; the other layers (joins, pooling, Dropout,
        Embedding) run on the calling thread. The pool serves one calling thread at a time (a second
        one runs alone).
      - The AVX2/AVX-512 kernels are x86-64 and float only; GAN_DOUBLE, other CPUs, tcc and MSVC get
        the baseline kernel.
      - gan_last_error() is one pointer per program (per file with GAN_STATIC), not per thread.
      - Conv layers are square-kernel, no dilation, no groups.
      - gan_gemm on its own allocates its packing buffer (about 670 KiB) per call; networks use the
        one in their arena.
      - Checkpoints hold gan_trainer's state or one network's; a training loop of your own saves its
        networks with gan_net_write and the rest (its streams, counters) itself. gan.h writes
        safetensors files of F32 (F64) tensors and reads only the files it wrote (the format's
        metadata and CRC are required), not ones from PyTorch.
      - Data sets are bytes in memory, whole: IDX files of unsigned bytes (IDX3 (n, h, w) with one
        channel, or IDX4 (n, c, h, w)); no image files (PNG, JPEG) are read and nothing streams from
        disk. gan_gunzip reads gzip, not zlib (RFC 1950) or raw deflate streams.
      - PNG output is 8-bit gray, gray + alpha, RGB or RGBA, not interlaced, without palettes or
        ancillary chunks; deflate uses the fixed Huffman codes and a greedy LZ77 (a chain of 4
        candidates): a grid of 64 MNIST-like digits takes 28 % of its stored size, 1.1 times what
        zlib level 6 makes of it. There are no picture readers.
      - Spectral norm applies to Linear and Conv2d (not ConvTranspose2d), with one power iteration.
      - The GAN step takes G with one output; D's outputs after the first get no gradient (an
        auxiliary classifier's loss is not built in). Packing is for unconditional GANs.
*/

#ifndef GAN_H_INCLUDE
#define GAN_H_INCLUDE

#include <stddef.h>
#include <stdint.h>
#ifndef GAN_NO_STDIO
#include <stdio.h>
#endif

#define GAN_VERSION_MAJOR 0
#define GAN_VERSION_MINOR 5
#define GAN_VERSION_PATCH 3

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

#ifndef GAN_MAX_THREADS
#define GAN_MAX_THREADS 64
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

/* ---- run-time settings: threads and kernels ----------------------------------------------------- */

/* Threads the GEMM splits its output over (the caller's thread is one of them). n = 0: one per core
   online. Call it outside training steps: starting or stopping workers allocates. Returns the number
   in effect; if threads cannot be started, 0 with gan_last_error() set, and one thread runs. Until it
   is called, the first network built (or gan_gemm) chooses one per core. Results are the same bits
   for every thread count. gan_set_threads(1) stops the workers and frees their memory. */
GANDEF int gan_set_threads(int n);
GANDEF int gan_threads(void);

/* The GEMM's micro-kernels. GAN_ISA_AUTO (the default) takes the best this CPU has. */
typedef enum gan_isa { GAN_ISA_AUTO, GAN_ISA_BASELINE, GAN_ISA_AVX2, GAN_ISA_AVX512 } gan_isa;
/* Forces a kernel set; returns 0 with gan_last_error() set when this build or CPU lacks it. */
GANDEF int gan_set_isa(gan_isa isa);
GANDEF gan_isa gan_isa_in_use(void);
GANDEF const char *gan_isa_name(gan_isa isa);

/* Geometry of a convolution: input c x h x w, square kernel k, stride, pad, output oh x ow. */
typedef struct gan_conv_geom {
    int c, h, w, k, stride, pad, oh, ow;
} gan_conv_geom;

/* col (c k k) x (oh ow) from one image x (c x h x w); zero where the window leaves the image. */
GANDEF void gan_im2col(gan_float *col, const gan_float *x, const gan_conv_geom *g);
/* The adjoint of gan_im2col: x += scatter of col. x must be cleared first if it is not to accumulate. */
GANDEF void gan_col2im(gan_float *x, const gan_float *col, const gan_conv_geom *g);

/* ---- layers ------------------------------------------------------------------------------------ */

/* What a layer computes. The first group takes one input and works in a chain or a graph; the
   joins take two or more and exist only in graphs (gan_add, gan_mul, gan_concat, gan_inner). */
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
    GAN_FLATTEN,
    GAN_UPSAMPLE2X,
    GAN_AVGPOOL2X,
    GAN_SCALE,
    GAN_EMBEDDING,
    GAN_ADD,
    GAN_MUL,
    GAN_CONCAT,
    GAN_INNER
} gan_layer_kind;

typedef enum gan_init {
    GAN_INIT_PYTORCH, /* PyTorch's defaults (what gan_net_create uses) */
    GAN_INIT_DCGAN,   /* weights std 0.02 around 0, BatchNorm weights around 1, zero biases (Radford et al.) */
    GAN_INIT_XAVIER,  /* Glorot uniform, zero biases */
    GAN_INIT_KAIMING  /* He normal for ReLU (fan_in), zero biases */
} gan_init;

/* A layer: its kind, its hyper-parameters, and (once it belongs to a network) its shapes and views
   of the network's arena. Constructors fill the first part; building a network fills the rest.
   eps, momentum, scale, lr_mult and frozen may be set on the value a constructor returns, and
   changed between steps on gan_net_layer(net, i) or gan_net_node_layer(net, node). */
typedef struct gan_layer {
    gan_layer_kind kind;
    /* hyper-parameters */
    int in_ch, out_ch;          /* Linear: features; Conv: channels; BatchNorm: features (in_ch);
                                   Embedding: classes (in_ch) and vector length (out_ch) */
    int k, stride, pad, out_pad;
    int has_bias;
    int affine;                 /* BatchNorm, LayerNorm: 1 learns a weight and a bias (the default) */
    gan_float slope;            /* LeakyReLU: slope for x <= 0 */
    gan_float p;                /* Dropout: probability of zeroing */
    gan_float eps, momentum;    /* BatchNorm, LayerNorm */
    gan_float scale;            /* Scale: the factor (PGGAN's fade-in alpha) */
    gan_shape to;               /* Reshape: target shape */
    gan_float lr_mult;          /* the optimizer's learning rate is multiplied by this for this layer (1) */
    int frozen;                 /* 1: no parameter gradients and no optimizer updates (0) */
    int spectral;               /* 1: W is used divided by its largest singular value (gan_spectral_norm) */
    /* per-sample shapes, fixed when the layer joins a network (in: its first input's) */
    gan_shape in, out;
    int max_batch;
    /* views into the owner's arena */
    gan_float *W, *b, *dW, *db; /* weight and bias (BatchNorm/LayerNorm: gamma and beta) */
    size_t nW, nb;
    gan_float *run_mean, *run_var; /* BatchNorm running estimates */
    int64_t batches_tracked;    /* BatchNorm: training forwards that updated them (num_batches_tracked) */
    gan_float *saved;           /* values the training forward keeps for backward: BatchNorm mean and
                                   1/std per channel, LayerNorm the same per sample, Dropout its mask */
    gan_float *work;            /* scratch shared by the network's layers (im2col columns) */
    gan_float *pack;            /* the GEMM's packing buffer, shared likewise */
    int last_training;          /* mode of the last gan_layer_forward: 1 training, 0 evaluation */
    gan_rng rng;                /* Dropout's own stream, seeded when the network is built: training state */
    gan_float *sn_u, *sn_v;     /* spectral norm: the power iteration's unit vectors (training state) */
    gan_float *sn_w, *sn_dw;    /* ... W / sigma as the kernels see it, and dL/d(W / sigma) of one backward */
    gan_float sn_sigma;         /* ... sigma of the last forward that was not sampling */
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
GANDEF gan_layer gan_avgpool2x(void);           /* mean of each 2x2 block: (C, H, W) -> (C, H / 2, W / 2), floored */
GANDEF gan_layer gan_scale(gan_float factor);   /* y = factor x */
/* Class index -> learned vector of `dim` values: (1, 1, 1) -> (dim, 1, 1). The index arrives as a
   float holding an integer in [0, classes) (exact below 2^24), from a network input. */
GANDEF gan_layer gan_embedding(int classes, int dim);
GANDEF gan_layer gan_no_bias(gan_layer layer);  /* Linear, Conv2d, ConvTranspose2d without bias */
GANDEF gan_layer gan_no_affine(gan_layer layer); /* BatchNorm, LayerNorm without weight and bias */
/* Linear or Conv2d with spectral normalization (Miyato et al. 2018), as torch.nn.utils.spectral_norm:
   the layer uses W / sigma, sigma = u^T W v estimated by one power iteration per forward that is not
   sampling (v = W^T u / ||W^T u||, u = W v / ||W v||, W seen as out x (in k k)), with u and v kept
   as training state; sampling and evaluation mode reuse u and v without updating them. Gradients
   flow through sigma with u and v held fixed. In a network only (not gan_layer_forward). */
GANDEF gan_layer gan_spectral_norm(gan_layer layer);

/* y = layer(x) for a layer with one input. training: 1 uses batch statistics (BatchNorm) and drops
   (Dropout); 0 does not. y must have the layer's output shape and x's batch, and must not overlap x. */
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
/* The softmax cross-entropy of n rows of k logits x against labels (n class indices in [0, k), as
   floats): the mean over rows of log(sum_j exp(x_j)) - x_label, the row's largest logit taken out
   first so no exp overflows; grad = (softmax(x) - onehot(label)) / n. */
GANDEF gan_float gan_softmax_xent(gan_float *grad, const gan_float *x, const gan_float *labels, size_t n, int k);

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

/* ---- graph ------------------------------------------------------------------------------------- */

/* A network under construction: inputs, layers applied to nodes, joins, outputs. Every call that
   makes a node returns its handle; shapes are worked out as the nodes are made, so a layer that
   does not fit its input stops at GAN_ASSERT right there (and with NDEBUG marks the graph failed:
   gan_net_build then returns NULL with the first problem). A graph is only a description: build
   it into a network (as often as you like: an EMA copy of G is a second build), then free it. */
typedef struct gan_graph gan_graph;

/* A node of a graph; the same handle names the node in every network built from the graph. */
typedef struct gan_node {
    int id;
} gan_node;

GANDEF gan_graph *gan_graph_new(void);  /* NULL if out of memory */
GANDEF void       gan_graph_free(gan_graph *g);
/* A network input of the given per-sample shape (a class label is a (1, 1, 1) input; see gan_embedding). */
GANDEF gan_node   gan_input(gan_graph *g, gan_shape shape);
/* The layer (any of the one-input kinds above) applied to x. */
GANDEF gan_node   gan_apply(gan_graph *g, gan_layer layer, gan_node x);
/* layers[0] applied to x, layers[1] to that, ...; returns the last. */
GANDEF gan_node   gan_chain(gan_graph *g, gan_node x, const gan_layer *layers, int n_layers);
/* a + b and a * b, elementwise. Shapes are equal, or one operand broadcasts: its C is 1 or equal,
   and its (H, W) is (1, 1) or equal ((C, 1, 1) over (C, H, W) for gating and conditional BatchNorm). */
GANDEF gan_node   gan_add(gan_graph *g, gan_node a, gan_node b);
GANDEF gan_node   gan_mul(gan_graph *g, gan_node a, gan_node b);
/* xs[0], ..., xs[n - 1] stacked along channels; their H and W are equal. */
GANDEF gan_node   gan_concat(gan_graph *g, const gan_node *xs, int n);
/* Per sample, sum_j a_j b_j over all C H W values -> (1, 1, 1) (a projection discriminator's term). */
GANDEF gan_node   gan_inner(gan_graph *g, gan_node a, gan_node b);
/* Marks y as the network's next output (a graph with no outputs marked has its last node as its one). */
GANDEF void       gan_output(gan_graph *g, gan_node y);
/* Names a node; its parameters are then "<name>.weight", "<name>.bias" (see gan_param). At most
   GAN_NAME_MAX - 1 characters; names of nodes with parameters must be unique. */
GANDEF void       gan_name(gan_graph *g, gan_node node, const char *name);
GANDEF gan_shape  gan_node_shape(const gan_graph *g, gan_node node);

/* ---- net --------------------------------------------------------------------------------------- */

#define GAN_NAME_MAX 64

/* One parameter (or buffer) tensor of a network. name is "<node>.<role>": a node's name is the one
   gan_name gave it, else its index among the network's layers, so a chain's names are PyTorch
   nn.Sequential's ("0.weight", "3.running_mean"). */
typedef struct gan_param {
    const char *name;
    int layer;              /* index of the layer it belongs to (gan_net_layer) */
    const char *role;       /* "weight", "bias", "running_mean", "running_var"; spectral norm: "weight_orig",
                               "weight_u", "weight_v" */
    gan_float *data, *grad; /* grad is NULL for buffers */
    gan_float *m, *v;       /* the optimizer's moments of a parameter (NULL for buffers) */
    size_t count;
    int ndim, shape[4];
} gan_param;

struct gan__plan;

/* A network and its arena. The fields are readable; change them only through the API. */
typedef struct gan_net {
    int n_layers;            /* every node but the inputs, in the order they were made */
    gan_layer *layers;
    int n_inputs, n_outputs;
    int max_batch;
    int training;            /* 1 after creation */
    int batch;               /* batch of the last forward */
    gan_optim opt;           /* Adam(1e-3, 0.9, 0.999) after creation. Writable between steps: change
                                lr for a schedule, set step when restoring a checkpoint */
    gan_float *params, *grads, *opt_m, *opt_v; /* n_params each, contiguous */
    size_t n_params;         /* the block's length, with alignment padding (kept 0) between layers;
                                the parameters themselves are the sum of gan_net_param counts */
    gan_float *arena;        /* the one allocation of values everything points into */
    size_t arena_count;      /* in gan_float */
    void *arena_block;       /* what GAN_MALLOC returned */
    struct gan__plan *plan;  /* nodes, edges and buffers: private */
} gan_net;

/* Flags of gan_net_build. */
#define GAN_BUILD_PENALTY 1u /* also plan the memory gan_net_penalty needs (a WGAN-GP or R1 critic) */

/* What a backward computes (gan_net_backward_multi). */
#define GAN_GRAD_PARAMS 1u   /* accumulate parameter gradients */
#define GAN_GRAD_INPUTS 2u   /* write dL/dinput for every input */

/* Which normalization statistics gan_net_infer uses. Dropout is off in both. */
typedef enum gan_stats {
    GAN_STATS_RUNNING, /* BatchNorm's running estimates (evaluation mode) */
    GAN_STATS_BATCH    /* each chunk's own batch statistics; the running estimates stay as they are */
} gan_stats;

/* Gradient penalties of a critic D at points x_i, with g_i = dD(x_i)/dx_i over its C H W values. */
typedef enum gan_penalty_kind {
    GAN_PENALTY_WGAN_GP,          /* weight * mean_i (||g_i|| - 1)^2            (Gulrajani et al. 2017) */
    GAN_PENALTY_WGAN_GP_ONE_SIDED, /* weight * mean_i max(0, ||g_i|| - 1)^2 */
    GAN_PENALTY_R1,               /* weight / 2 * mean_i ||g_i||^2 at real x  (Mescheder et al. 2018) */
    GAN_PENALTY_R2                /* the same formula at generated x */
} gan_penalty_kind;

/* A chain: layers[0] applied to the input, layers[1] to its output, and so on. Plans and allocates
   the arena for batches up to max_batch, initializes weights the PyTorch way from rng (and seeds
   Dropout streams from it). NULL on failure (see gan_last_error). The same network as
   gan_net_build of the graph gan_chain makes. */
GANDEF gan_net *gan_net_create(gan_shape in, const gan_layer *layers, int n_layers, int max_batch,
                               gan_rng *rng);
/* A network from a graph, planned for batches up to max_batch; flags: 0 or GAN_BUILD_PENALTY.
   Initialized as gan_net_create does. The graph is not changed and may be built again. */
GANDEF gan_net *gan_net_build(const gan_graph *g, int max_batch, unsigned flags, gan_rng *rng);
GANDEF void     gan_net_free(gan_net *net);   /* NULL: nothing */
GANDEF size_t   gan_net_arena_bytes(const gan_net *net);
/* a and b (and every network either shares with already) then keep the memory that lives only
   inside one call (backward's gradients, sampling, the penalty's passes, the kernels' scratch) in one
   block, sized for the largest: G and D of a GAN need only one. They must never run at the same
   time (in two threads), and what a call leaves there (gan_net_input_grad, backward's dL/dinput)
   lasts until the next call on any of them; handing it to the other network's backward is fine (it
   is copied first). Call it before training: the block's contents are lost. 1, or 0 with
   gan_last_error() (out of memory; then nothing changed). gan_trainer_create does it for its
   networks. */
GANDEF int      gan_net_share_scratch(gan_net *a, gan_net *b);
GANDEF void     gan_net_init(gan_net *net, gan_init scheme, gan_rng *rng);

GANDEF void     gan_net_set_training(gan_net *net, int training);
/* Runs the network on a copy of x (its one input); returns its (first) output, in the arena. */
GANDEF const gan_tensor *gan_net_forward(gan_net *net, const gan_tensor *x);
/* The same for every input: xs[i] is input i (in the order gan_input made them). 1, or 0 with
   gan_last_error() (a class label that is not an integer in range). Outputs: gan_net_output_at. */
GANDEF int      gan_net_forward_multi(gan_net *net, const gan_tensor *xs);
/* dy = dL/doutput for the last forward's batch. Accumulates parameter gradients, returns dL/dinput
   (of input 0). dy may be any buffer, this network's own included: it is copied first. */
GANDEF const gan_tensor *gan_net_backward(gan_net *net, const gan_tensor *dy);
/* The same dL/dinput, leaving parameter gradients untouched (and skipping their work). */
GANDEF const gan_tensor *gan_net_backward_input(gan_net *net, const gan_tensor *dy);
/* dys[i] = dL/d output i (data NULL: no gradient from that output); what: GAN_GRAD_PARAMS and/or
   GAN_GRAD_INPUTS. Input gradients: gan_net_input_grad. 1, or 0 with gan_last_error(). */
GANDEF int      gan_net_backward_multi(gan_net *net, const gan_tensor *dys, unsigned what);
GANDEF const gan_tensor *gan_net_output(const gan_net *net);           /* output 0 of the last forward */
GANDEF const gan_tensor *gan_net_output_at(const gan_net *net, int i);
/* dL/dinput i of the last backward (n = 0 if that backward did not compute it) */
GANDEF const gan_tensor *gan_net_input_grad(const gan_net *net, int i);

/* Runs the network on x.n >= 1 samples, any number, in as few chunks of at most max_batch as can
   be, as equal as can be (15 at max_batch 6: 5, 5, 5), writing y; Dropout off, BatchNorm per `stats`. It has memory of its own: the last training forward's activations and saved
   values, the running statistics and every gradient stay as they were, so a sample grid may be drawn
   between a forward and its backward. 1, or 0 with gan_last_error(). */
GANDEF int      gan_net_infer(gan_net *net, gan_tensor *y, const gan_tensor *x, gan_stats stats);
/* The same for every input and output (ys[i].data NULL: output i not wanted). */
GANDEF int      gan_net_infer_multi(gan_net *net, gan_tensor *ys, const gan_tensor *xs, gan_stats stats);

/* The gradient penalty of this critic at xs (xs[wrt] the image input; other inputs, labels say, are
   held fixed): *penalty = P, and dP/dparameters is added (+=) to the parameter gradients. The
   network's first output must hold one value per sample. It runs its own forward and backward passes,
   so it replaces the last forward: call it beside the loss's backward calls, before gan_net_step.
   Needs GAN_BUILD_PENALTY. 1, or 0 with gan_last_error(): a node between x and the first output that
   the penalty cannot pass (BatchNorm or Dropout in training mode), named; an x that does not reach
   the first output; a first output that is not one value per sample of a layer. */
GANDEF int      gan_net_penalty(gan_net *net, gan_float *penalty, const gan_tensor *xs, int wrt,
                                gan_penalty_kind kind, gan_float weight);

GANDEF void     gan_net_zero_grad(gan_net *net);
/* Starts a fresh optimizer: sets it and clears its moments and step count. */
GANDEF void     gan_net_set_optim(gan_net *net, gan_optim opt);
/* One optimizer step over every parameter that is not frozen (opt.step += 1 first), each layer's at
   opt.lr times its lr_mult. */
GANDEF void     gan_net_step(gan_net *net);
/* dst's parameters and running statistics = src's, for two networks of the same layers and shapes
   (an EMA generator starts as a copy). 1, or 0 with gan_last_error() naming the first difference. */
GANDEF int      gan_net_copy_params(gan_net *dst, const gan_net *src);

GANDEF gan_layer *gan_net_layer(gan_net *net, int i);
GANDEF gan_layer *gan_net_node_layer(gan_net *net, gan_node node);  /* NULL for an input */
GANDEF gan_shape  gan_net_input_shape(const gan_net *net, int i);
/* Layer i's output of the last forward, or NULL where the planner reused its memory (nothing
   after the forward reads it; make the node an output to keep it). */
GANDEF const gan_tensor *gan_net_layer_output(const gan_net *net, int i);
GANDEF int       gan_net_param_count(const gan_net *net);
GANDEF gan_param gan_net_param(gan_net *net, int i);
GANDEF int       gan_net_buffer_count(const gan_net *net);
GANDEF gan_param gan_net_buffer(gan_net *net, int i);
#ifndef GAN_NO_STDIO
/* One line per node (its name, kind, inputs, output shape, parameters), then the totals and the arena. */
GANDEF void      gan_net_print(const gan_net *net, FILE *f);
#endif

/* ---- train ------------------------------------------------------------------------------------- */

/* The adversarial losses, on D's raw outputs (logits for the first two). With r = D(x) on a real
   sample and f = D(G(z)) on a generated one, each term a mean over its batch:
      GAN_LOSS_MINIMAX         L_D = softplus(-r) + softplus(f)     L_G = -softplus(f)     Goodfellow et al. 2014
      GAN_LOSS_NONSATURATING   L_D the same                         L_G = softplus(-f)     (log D trick, same paper)
      GAN_LOSS_LEAST_SQUARES   L_D = (r - 1)^2 / 2 + f^2 / 2        L_G = (f - 1)^2 / 2    Mao et al. 2017 (a, b, c = 0, 1, 1)
      GAN_LOSS_HINGE           L_D = max(0, 1 - r) + max(0, 1 + f)  L_G = -f               Lim & Ye 2017, Miyato et al. 2018
      GAN_LOSS_WASSERSTEIN     L_D = f - r                          L_G = -f               Arjovsky et al. 2017
   softplus(-r) + softplus(f) is BCE-with-logits against 1 for r and 0 for f, and -softplus(f) is
   log(1 - sigmoid(f)). */
typedef enum gan_loss {
    GAN_LOSS_MINIMAX,
    GAN_LOSS_NONSATURATING,
    GAN_LOSS_LEAST_SQUARES,
    GAN_LOSS_HINGE,
    GAN_LOSS_WASSERSTEIN
} gan_loss;

/* L_D of n real and n fake outputs; writes d_real_grad = dL_D/dr and d_fake_grad = dL_D/df (either
   may be NULL). n_real and n_fake may differ. */
GANDEF gan_float gan_loss_d(gan_float *d_real_grad, gan_float *d_fake_grad, const gan_float *real, size_t n_real,
                            const gan_float *fake, size_t n_fake, gan_loss loss);
/* L_G of n fake outputs; writes grad = dL_G/df (or not, when NULL). */
GANDEF gan_float gan_loss_g(gan_float *grad, const gan_float *fake, size_t n, gan_loss loss);
GANDEF const char *gan_loss_name(gan_loss loss);

/* The recipes of the papers, as complete settings (gan_default_train): the loss, the penalty, weight
   clipping, critic steps and both optimizers.
      GAN_FAMILY_MINIMAX, _NONSATURATING, _LEAST_SQUARES, _HINGE   Adam(2e-4, 0.5, 0.999) (DCGAN), 1 D step
      GAN_FAMILY_WGAN     Wasserstein loss, RMSProp(5e-5) for both, D's parameters clipped to +-0.01
                          after each D step, 5 D steps per G step (Arjovsky et al. 2017, Algorithm 1)
      GAN_FAMILY_WGAN_GP  Wasserstein loss, penalty 10 (||grad D(x_hat)|| - 1)^2 at x_hat = e x + (1 - e) G(z),
                          e ~ U(0, 1) per sample, Adam(1e-4, 0, 0.9), 5 D steps (Gulrajani et al. 2017)
      GAN_FAMILY_R1       non-saturating loss, penalty 10 / 2 ||grad D(x)||^2 on the real batch,
                          Adam(1e-4, 0, 0.99), 1 D step (Mescheder et al. 2018) */
typedef enum gan_family {
    GAN_FAMILY_MINIMAX,
    GAN_FAMILY_NONSATURATING,
    GAN_FAMILY_LEAST_SQUARES,
    GAN_FAMILY_HINGE,
    GAN_FAMILY_WGAN,
    GAN_FAMILY_WGAN_GP,
    GAN_FAMILY_R1
} gan_family;

#define GAN_FAMILY_COUNT 7

/* Short names for command lines: "minimax", "ns", "lsgan", "hinge", "wgan", "wgan-gp", "r1". */
GANDEF const char *gan_family_name(gan_family family);
/* The family of a short name: 1, or 0 with gan_last_error() listing the names. */
GANDEF int gan_family_parse(gan_family *family, const char *name);

/* Everything a GAN step needs to know besides the networks. gan_default_train fills it. */
typedef struct gan_train_config {
    gan_loss loss;
    gan_penalty_kind penalty;   /* applied to D when penalty_weight > 0 */
    gan_float penalty_weight;   /* lambda of WGAN-GP, gamma of R1; 0: no penalty */
    gan_float clip;             /* > 0: every D parameter clamped to [-clip, clip] after each D step */
    int n_critic;               /* D steps per G step (1) */
    int batch;                  /* samples in each real batch, each fake batch and the G step's batch (64) */
    int pack;                   /* PacGAN: D judges pack samples joined along channels; 1: off */
    int classes;                /* > 0: conditional, labels in [0, classes) are G's and D's input 1; 0 */
    gan_optim opt_g, opt_d;
    gan_float ema_decay;        /* G_ema = decay G_ema + (1 - decay) G after each G step; 0: no EMA */
    uint64_t seed;              /* the trainer's own stream: noise, labels, interpolation weights (1) */
} gan_train_config;

GANDEF gan_train_config gan_default_train(gan_family family);

/* Fills x with n real samples (n c h w values in [-1, 1], the shape of G's output) and, for a
   conditional GAN, labels with their n class indices (else labels is NULL). 1, or 0 on failure.
   gan_loader_real is one. */
typedef int (*gan_real_fn)(void *user, gan_float *x, gan_float *labels, int n);

/* What one GAN step reports (the D figures are those of its last D step). */
typedef struct gan_step_stats {
    gan_float d_loss;       /* L_D, without the penalty */
    gan_float g_loss;       /* L_G */
    gan_float d_real;       /* mean D(x): sigmoid of the logits for MINIMAX and NONSATURATING, raw otherwise */
    gan_float d_fake;       /* mean D(G(z)) before D's step, likewise */
    gan_float penalty;      /* the penalty's value, weight included (0 without one) */
    gan_float d_grad_norm;  /* ||dL_D/dtheta_D|| (penalty included) before D's step */
    gan_float g_grad_norm;  /* ||dL_G/dtheta_G|| before G's step */
} gan_step_stats;

/* A GAN in training: the two networks (not owned), the settings, the trainer's random stream and
   the batches it fills. */
typedef struct gan_trainer {
    gan_net *G, *D, *G_ema;     /* G_ema may be NULL (then cfg.ema_decay must be 0) */
    gan_train_config cfg;
    gan_rng rng;
    int64_t steps;              /* G steps taken */
    int64_t d_steps;            /* D steps taken */
    int64_t real_seen;          /* real samples drawn; / the data set's size = epochs */
    gan_shape z_shape, x_shape; /* G's input 0, G's output (= D's input 0 unpacked) */
    size_t z_count, x_count;    /* their values per sample */
    gan_float *block;           /* one allocation for the buffers below */
    gan_float *z, *x_real, *x_mix, *y_real, *y_fake, *d_grad;
    gan_tensor *d_dys;          /* dL/d(D's outputs): d_grad for the first, none for any other */
} gan_trainer;

/* A trainer for G and D (and G_ema, built from the same graph as G, or NULL). It checks that they fit
   (G's output is D's input, unpacked; conditional networks take the label as input 1; D's first
   output is one value per sample; max_batch covers batch, and batch / pack for D), sets cfg's
   optimizers on G and D (fresh moments), and copies G into G_ema. NULL with gan_last_error(). */
GANDEF gan_trainer *gan_trainer_create(gan_net *G, gan_net *D, gan_net *G_ema, const gan_train_config *cfg);
GANDEF void gan_trainer_free(gan_trainer *t);   /* not the networks */

/* One G step and the n_critic D steps before it, with real batches from real(user, ...):
      for each D step:  x = a real batch (and its labels y); z ~ N(0, 1); x~ = G(z, y)
                        D's gradients cleared; L_D from D(x) and D(x~), backward into D
                        (+ the penalty at x_hat = e x + (1 - e) x~, at x for R1, at x~ for R2)
                        D steps (then clipping)
      the G step:       D(x~) again with D's new parameters (n_critic = 1: the last x~, as PyTorch's
                        DCGAN example does; else a new z and labels drawn uniformly); L_G; dL/dx~
                        through D, leaving D's gradients alone, handed to G; G steps; G_ema follows.
   A conditional D step generates with the real batch's labels, so both batches have the same classes
   and an interpolate one label. Packing: D's input is pack consecutive samples joined along
   channels, so D sees batch / pack samples (unconditional GANs only). Networks stay in training mode.
   stats may be NULL. 1, or 0 with gan_last_error(): the callback failed, a network refused, or a loss
   or gradient norm was not finite, in which case the update it would have made is not made and the
   message names the step (t->steps + 1). */
GANDEF int gan_train_step(gan_trainer *t, gan_step_stats *stats, gan_real_fn real, void *user);

/* Samples from G_ema when there is one, else G: y (n samples of G's output) from z (n samples of G's
   input) and, when conditional, labels (n class indices). stats as gan_net_infer. 1, or 0 with
   gan_last_error(). */
GANDEF int gan_trainer_sample(gan_trainer *t, gan_tensor *y, const gan_tensor *z, const gan_float *labels,
                              gan_stats stats);

/* ---- data -------------------------------------------------------------------------------------- */

/* Images in memory: n images of c x h x w bytes, row-major, with a class label each when the set has
   labels. gan_dataset_free gives back what the loaders allocated (pixels and labels are GAN_MALLOC'd). */
typedef struct gan_dataset {
    int n, c, h, w;      /* n images of c x h x w bytes */
    int classes;         /* labels are in [0, classes); 0 when there are no labels */
    uint8_t *pixels;     /* n c h w bytes, 0..255, row-major (owned; gan_dataset_free) */
    uint8_t *labels;     /* n labels, or NULL */
} gan_dataset;

/* Which part of a set gan_dataset_load reads: MNIST's train (60000) or t10k (10000) files. */
typedef enum gan_split { GAN_SPLIT_TRAIN, GAN_SPLIT_TEST, GAN_SPLIT_ANY /* train when present, else test */ } gan_split;

/* A gzip file in memory (RFC 1952: one member, or several one after another, joined as gunzip joins
   them; any other byte after them is refused) -> *out, a GAN_MALLOC'd block of *out_len bytes (free
   it with GAN_FREE). Inflate (RFC 1951: stored, fixed and dynamic Huffman blocks) is built in. Each
   header's magic, method and flags (FEXTRA, FNAME, FCOMMENT skipped; FHCRC's CRC-16 checked) and each
   member's CRC-32 and ISIZE are checked; output past max_len is refused (a decompression bomb); no
   input, however hostile, makes it read or write out of bounds. 1, or 0 with gan_last_error(). */
GANDEF int gan_gunzip(uint8_t **out, size_t *out_len, const uint8_t *in, size_t in_len, size_t max_len);

/* A data set from IDX files in memory, each gzipped or not (told by the gzip magic 1f 8b): images an
   IDX3 of unsigned bytes (n, h, w), c = 1, or an IDX4 (n, c, h, w); labels an IDX1 (n), or NULL for
   none. The magic, the sizes (none 0, none past INT_MAX, an image at most INT_MAX bytes, products that
   do not overflow and stay within GAN_MAX_DATA_BYTES), the lengths (no byte missing, none after) and
   the label count are checked; classes is the largest label plus one. name (a file name, or NULL)
   starts every message. 1, or 0 with gan_last_error() and *d zeroed. */
GANDEF int gan_dataset_from_idx(gan_dataset *d, const uint8_t *images, size_t images_len, const uint8_t *labels,
                                size_t labels_len, const char *name);
#ifndef GAN_NO_STDIO
/* The same from files (labels_path NULL: no labels); messages name the file at fault. */
GANDEF int gan_dataset_load_idx(gan_dataset *d, const char *images_path, const char *labels_path);
/* A set in MNIST's layout, by name: dir/<sub>/ or else dir/ itself holds train-images-idx3-ubyte,
   train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each with ".gz" or
   without (tried in that order); <sub> is "fashion-mnist" for name "fashion", else name itself
   ("mnist"; NULL: dir only). The labels are optional (classes 0 without them). When no images are
   found the message names the places tried and says to point GAN_DATA or --data at the directory.
   1, or 0 with gan_last_error() and *d zeroed. */
GANDEF int gan_dataset_load(gan_dataset *d, const char *dir, const char *name, gan_split split);
#endif
/* The built-in procedural set, with no file: n images of 1 x size x size (size >= 8), each an
   anti-aliased filled disc, ring, square or bar (labels 0..3, classes 4; bars lie or stand) of random
   position, size and brightness on black, drawn from a gan_rng seeded with seed: the same images for
   the same seed in every build (float or double), and image i does not depend on n. Sizes scale with
   size / 16. 1, or 0 with gan_last_error(). */
GANDEF int gan_dataset_shapes(gan_dataset *d, int n, int size, uint64_t seed);
GANDEF void gan_dataset_free(gan_dataset *d);  /* frees pixels and labels and zeroes *d (NULL: nothing) */
/* x (n c h w values) = the bytes p of images index[0], ..., index[n - 1] as p / 127.5 - 1, in [-1, 1]
   (0 -> -1 and 255 -> 1 exactly); labels (n values, each the integer label) when not NULL, which
   needs a labelled set. */
GANDEF void gan_dataset_batch(const gan_dataset *d, gan_float *x, gan_float *labels, const int *index, int n);

/* Batches in shuffled order: a fresh permutation (Fisher-Yates from a gan_rng seeded with seed) for
   each pass over the data, so every image is seen once per epoch. Plain data apart from order. */
typedef struct gan_loader {
    const gan_dataset *data;
    int *order;          /* a permutation of 0..n-1 (owned) */
    int pos;             /* next position in order */
    int64_t epoch;       /* passes completed */
    gan_rng rng;
} gan_loader;
/* A loader over d (which must outlive it), at epoch 0. Allocates order: 1, or 0 with gan_last_error(). */
GANDEF int  gan_loader_init(gan_loader *l, const gan_dataset *d, uint64_t seed);
GANDEF void gan_loader_free(gan_loader *l);    /* frees order and zeroes *l */
/* The next n samples as gan_dataset_batch writes them (labels may be NULL). A batch may straddle the
   end of a pass: it continues in the next permutation. Never allocates. */
GANDEF void gan_loader_next(gan_loader *l, gan_float *x, gan_float *labels, int n);
/* gan_loader_next with the signature of gan_train_step's real-batch callback (gan_real_fn): user is a
   gan_loader *. Returns 1. */
GANDEF int  gan_loader_real(void *user, gan_float *x, gan_float *labels, int n);
/* Epochs so far as a fraction: epoch + pos / n. */
GANDEF double gan_loader_epochs(const gan_loader *l);

/* ---- images ------------------------------------------------------------------------------------ */

/* Where an encoder's bytes go, in order, in pieces of any size: returns 1 if it took all n bytes, 0 if
   not (the encoder then stops and fails). gan_png_save and the others write to a FILE * with one. */
typedef int (*gan_write_fn)(void *user, const void *data, size_t n);

/* PNG of w x h 8-bit pixels, comp bytes each: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA; row y starts at
   pixels + y stride (stride >= w comp). Each row gets the PNG filter whose residues have the smallest
   sum of absolute values; the rows are deflated with LZ77 (32 KiB window) and the fixed Huffman
   codes, each 16 KiB block stored instead where that is smaller (noise grows by under 0.1 %). Its
   working memory (416 KiB at most, less for a small picture) is allocated and freed here; nothing is
   buffered beyond one IDAT chunk of 32 KiB. 1, or 0 with gan_last_error() set (out of memory, a row
   longer than INT_MAX bytes, the callback failed). */
GANDEF int gan_png_write(gan_write_fn write, void *user, const uint8_t *pixels, int w, int h, int comp, int stride);
/* Binary PGM (P5, comp 1) or PPM (P6, comp 3) with maxval 255, the same pixel layout. 1, or 0 + error. */
GANDEF int gan_pnm_write(gan_write_fn write, void *user, const uint8_t *pixels, int w, int h, int comp, int stride);
/* IDX file of unsigned bytes (MNIST's format): the magic 0, 0, 0x08, ndim, then ndim big-endian 32-bit
   dims, then the dims[0] x ... x dims[ndim - 1] bytes of data; ndim 1 to 4, dims >= 0. 1, or 0 + error. */
GANDEF int gan_idx_write(gan_write_fn write, void *user, const uint8_t *data, int ndim, const int *dims);
#ifndef GAN_NO_STDIO
/* The same into a file ("wb"); a failed save removes the file and its message names it. */
GANDEF int gan_png_save(const char *path, const uint8_t *pixels, int w, int h, int comp, int stride);
GANDEF int gan_pnm_save(const char *path, const uint8_t *pixels, int w, int h, int comp, int stride);
GANDEF int gan_idx_save(const char *path, const uint8_t *data, int ndim, const int *dims);
#endif

/* out[i] = round((x[i] + 1) 127.5) clamped to 0..255, so -1 is 0, 0 is 128 and 1 is 255; NaN is 0. */
GANDEF void gan_to_bytes(uint8_t *out, const gan_float *x, size_t n);
/* A grid of n images, each (c, h, w) of an NCHW batch x in [-1, 1] (c = 1 gray, 3 RGB), min(n, cols)
   per row, filled row by row; every pixel drawn as a scale x scale block and pad pixels of gray
   level 80 (darker than an untrained G's mid-gray) between the tiles and around them:
   W = cols' (w scale + pad) + pad, likewise H.
   gan_grid_size gives W and H: 1, or 0 with gan_last_error() set if W, H or W H 4 bytes would not fit
   (int, size_t). gan_grid draws into out, W x H x c bytes, channels interleaved (RGBRGB...); cells past
   n stay border. */
GANDEF int  gan_grid_size(int *W, int *H, int n, int h, int w, int cols, int pad, int scale);
GANDEF void gan_grid(uint8_t *out, const gan_float *x, int n, int c, int h, int w, int cols, int pad, int scale);
#ifndef GAN_NO_STDIO
/* gan_grid with pad 2 into a buffer of its own (allocated and freed here), saved as a PNG. 1, or 0 + error. */
GANDEF int  gan_grid_save(const char *path, const gan_float *x, int n, int c, int h, int w, int cols, int scale);
#endif

/* 2-D scatter plots on an RGB picture of W x H pixels (3 W bytes a row, as gan_png_save(..., 3, 3 W)
   takes it). The data window [x0, x1] x [y0, y1] (y up) spans the picture, x0 at the left pixel's
   centre and x1 at the right one's, y1 at the top. */
GANDEF void gan_plot_fill(uint8_t *rgb, int W, int H, const uint8_t color[3]);
/* n points (x, y pairs in xy) as discs of the pixels within r of the point's nearest pixel (r = 0: that
   pixel), clipped to the picture; a point that is not finite is left out. */
GANDEF void gan_plot_points(uint8_t *rgb, int W, int H, const gan_float *xy, int n, gan_float x0, gan_float x1,
                            gan_float y0, gan_float y1, int r, const uint8_t color[3]);
/* One-pixel lines along x = 0 and y = 0, each where it falls inside the window. */
GANDEF void gan_plot_axes(uint8_t *rgb, int W, int H, gan_float x0, gan_float x1, gan_float y0, gan_float y1,
                          const uint8_t color[3]);

/* ---- checkpoint -------------------------------------------------------------------------------- */

/* A run's state in one file, in the safetensors layout (8 bytes of little-endian header length, a
   JSON header naming each tensor's dtype, shape and byte range, then the tensors' raw little-endian
   bytes), so Python reads it with json and torch.frombuffer. Tensor names, with part = G, D or G_ema:
      <part>.<param>                   each parameter and buffer as gan_net_param / gan_net_buffer name
                                       them, and <node>.num_batches_tracked (I64) of each BatchNorm:
                                       with "<part>." stripped, the network's PyTorch state_dict
      opt.<part>.<param>.<moment>      the optimizer's moments (exp_avg and exp_avg_sq for Adam,
                                       momentum_buffer for SGD, square_avg and momentum_buffer for
                                       RMSProp); opt.<part>.step (I64) and .lr, .momentum, .beta1,
                                       .beta2, .alpha, .eps, .weight_decay (G and D)
      rng.<part>.<node>                each Dropout stream (U64 [2]: PCG32's state and increment)
      train.*                          the trainer's stream (train.rng), its counters (train.steps,
                                       .d_steps, .real_seen) and settings (.batch, .n_critic, .pack,
                                       .classes, .penalty_weight, .clip, .ema_decay, .seed)
      data.*                           the loader: data.order (I32 [n]), .pos, .epoch, .rng
   Floats are F32 (F64 with GAN_DOUBLE). __metadata__ holds strings: "format" ("gan.h checkpoint"),
   "format_version" ("1"), "gan.h" (the version that wrote it), "kind" ("trainer" or "net"),
   "arch.<part>" (each node of the network: name, kind, inputs, output shape and the integer
   hyper-parameters), "train.loss", "train.penalty", "opt.<part>.kind", "user.<key>" for the caller's
   own strings, and last "crc32": 8 hex digits of the CRC-32 (gzip's) of every byte of the file, those
   8 digits read as '0's. */
typedef struct gan_checkpoint gan_checkpoint;

/* One of the caller's strings for a checkpoint's metadata, stored as "user.<key>". */
typedef struct gan_meta {
    const char *key, *value;
} gan_meta;

/* Writes everything gan_train_step depends on: G, D and G_ema with their optimizers, every random
   stream, the counters and settings, and (data not NULL) the loader's order and position; meta: n_meta
   strings of the caller's (NULL, 0: none). 1, or 0 with gan_last_error() (the callback failed). */
GANDEF int gan_trainer_write(gan_write_fn write, void *user, const gan_trainer *t, const gan_loader *data,
                             const gan_meta *meta, int n_meta);
/* One network's parameters and buffers, named "<part>.<param>" (part "G": a generator to sample from
   or to open in PyTorch): no optimizer state or random streams. 1, or 0 with gan_last_error(). */
GANDEF int gan_net_write(gan_write_fn write, void *user, const gan_net *net, const char *part);

/* A checkpoint in memory: bytes (n of them, kept by the caller until gan_checkpoint_close) checked
   through and through: the layout, the JSON, every tensor's size and place (they must tile the data
   exactly), the format version and the CRC-32. name is used in messages. NULL with gan_last_error()
   naming the problem. */
GANDEF gan_checkpoint *gan_checkpoint_parse(const uint8_t *bytes, size_t n, const char *name);
GANDEF void gan_checkpoint_close(gan_checkpoint *ck);   /* NULL: nothing */
/* The metadata string under key, or NULL. */
GANDEF const char *gan_checkpoint_meta(const gan_checkpoint *ck, const char *key);
/* The training settings a trainer checkpoint holds (loss, penalty, clipping, batch, critic steps,
   packing, classes, EMA decay, seed, both optimizers' hyper-parameters), to build the same networks
   and compare with a command line. 1, or 0 with gan_last_error(). */
GANDEF int gan_checkpoint_config(const gan_checkpoint *ck, gan_train_config *cfg);
/* Restores a trainer checkpoint into t (its networks of the same architectures, built from the same
   graphs) and, when data is not NULL, the loader (over a data set of the same size): afterwards
   gan_train_step continues the run bit for bit as if it had not stopped (same build and kernel
   path, any thread count). Settings come from the file and replace t->cfg. Everything is checked
   before anything is changed: a tensor missing, extra or of another dtype or shape, or an
   architecture that differs, is refused naming both; t and data are then as they were. 1, or 0. */
GANDEF int gan_checkpoint_load(const gan_checkpoint *ck, gan_trainer *t, gan_loader *data);
/* Loads part's parameters and buffers (part "G_ema" or "G" of a trainer checkpoint, or the part a
   gan_net_write file was written with) into net, checked as gan_checkpoint_load checks. 1, or 0. */
GANDEF int gan_checkpoint_load_net(const gan_checkpoint *ck, gan_net *net, const char *part);

/* Writes a file so that a crash, a kill or a full disk never leaves it half-written: encode(ctx,
   write, user) writes the bytes into path + ".tmp" in the same folder, which is flushed, fsync'ed
   (where POSIX offers fsync) and closed, then renamed over path (and the folder fsync'ed); on any
   failure the temporary file is removed and path is as it was. Not covered: where fsync is missing
   (Windows, say) a power cut may still lose the last writes; on Windows an existing path is removed
   before the rename, so a crash at that moment leaves only the .tmp file. A path that exists and is
   not a regular file (a device such as /dev/null, a pipe) is written where it is, with none of
   this: a file renamed over it would replace the device. gan_png_save and the other saves go
   through it. 1, or 0 with gan_last_error() naming the path. */
typedef int (*gan_encode_fn)(void *ctx, gan_write_fn write, void *user);
#ifndef GAN_NO_STDIO
GANDEF int gan_save_file(const char *path, gan_encode_fn encode, void *ctx);
/* gan_trainer_write and gan_net_write into a file, crash-safe as gan_save_file. */
GANDEF int gan_trainer_save(const char *path, const gan_trainer *t, const gan_loader *data, const gan_meta *meta,
                            int n_meta);
GANDEF int gan_net_save(const char *path, const gan_net *net, const char *part);
/* Reads the whole file and parses it as gan_checkpoint_parse (the file's bytes are then owned). */
GANDEF gan_checkpoint *gan_checkpoint_open(const char *path);
#endif

/* ---- eval -------------------------------------------------------------------------------------- */

/* Sample quality without Inception weights: a small classifier that gan.h trains itself on the real
   data, then what it says of generated images. With K classes, n images and p_k the fraction of
   them predicted as class k (the arg max of the softmax):
      classes covered    #{k : p_k >= 0.01}
      class KL           KL(p || uniform) = sum_k p_k log(K p_k), in nats (0: every class equally
                         often; log K: one class only)
      confidence         the mean over images of the largest softmax probability
      label accuracy     the fraction predicted as the class they were meant to be (a labelled set:
                         a conditional G's intended labels, or real images' own)
      Frechet distance   (Heusel et al. 2017) between Gaussians fitted to the classifier's features f
                         (its last hidden layer) of the images and of a reference set:
                         |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2)), with
                         tr((S_a S_b)^(1/2)) = tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)), each square root
                         by a symmetric eigendecomposition (Jacobi), in double precision.
   The classifier (gan_classifier_graph), for images of c x h x w (h, w >= 4):
      x -> Conv2d(c, 32, 3, 1, 1) -> ReLU -> AvgPool2x -> Conv2d(32, 64, 3, 1, 1) -> ReLU -> AvgPool2x
        -> Flatten -> Linear(64 (h / 4) (w / 4), 128) -> ReLU  = f, output 1 (node "features")
        -> Dropout(0.5) -> Linear(128, classes)                 = the logits, output 0 (node "logits")
   On MNIST's 10,000 test digits, trained on the first 8,000 (gan_classifier_train, 5 epochs, about
   40 s on one core), it classifies the other 2,000 with 98 % accuracy (97.8 to 98.1 % over
   classifier seeds 1 to 3). */
#define GAN_CLASSIFIER_FEATURES 128

/* The graph above (NULL if out of memory), for a network built with gan_net_build. */
GANDEF gan_graph *gan_classifier_graph(gan_shape in, int classes);
/* That graph built for batches of up to max_batch, initialized from seed (PyTorch's scheme), with
   Adam(1e-3, 0.9, 0.999). NULL with gan_last_error() on failure. Free it with gan_net_free. */
GANDEF gan_net *gan_classifier_create(gan_shape in, int classes, int max_batch, uint64_t seed);
/* Trains net (a gan_classifier_create network, or any with logits as output 0) on images first to
   first + count - 1 of d, a labelled set of the network's input shape whose classes fit its logits:
   epochs passes, each in a fresh order (Fisher-Yates from a gan_rng seeded with seed), batches of
   the network's max_batch (the last of a pass smaller), the softmax cross-entropy, the network's
   optimizer. *loss (may be NULL) = the mean loss of the last pass. Leaves the network in evaluation
   mode. Allocates its batch buffers here. 1, or 0 with gan_last_error(). */
GANDEF int gan_classifier_train(gan_net *net, const gan_dataset *d, int first, int count, int epochs, uint64_t seed,
                                double *loss);
/* Runs the classifier in evaluation mode on images first .. first + count - 1 of d: probs (count x
   classes softmax probabilities) and features (count x GAN_CLASSIFIER_FEATURES values of output 1),
   each skipped when NULL. 1, or 0 with gan_last_error(). */
GANDEF int gan_classify(gan_float *probs, gan_float *features, gan_net *net, const gan_dataset *d, int first,
                        int count);

/* A Gaussian in d dimensions: the mean (d values) and covariance (d x d, row-major), both owned. */
typedef struct gan_gaussian {
    int d;
    double *mean, *cov;
} gan_gaussian;
/* Fits g to n >= 2 rows of d values (1 <= d <= 4096): the mean and the sample covariance (divisor
   n - 1), summed in double. 1, or 0 with gan_last_error() (and g zeroed). */
GANDEF int  gan_gaussian_fit(gan_gaussian *g, const gan_float *x, int n, int d);
GANDEF void gan_gaussian_free(gan_gaussian *g);   /* frees and zeroes (NULL: nothing) */
/* The classifier's features of images first .. first + count - 1 of d, fitted as gan_gaussian_fit. */
GANDEF int  gan_classifier_gaussian(gan_gaussian *g, gan_net *net, const gan_dataset *d, int first, int count);
/* *fd = the Frechet distance between a and b (the formula above; negative eigenvalues, which only
   rounding makes, count as 0, and so does a total that rounds below 0). 1, or 0 with
   gan_last_error(): dimensions differ, out of memory, or the eigendecomposition did not converge. */
GANDEF int  gan_frechet_distance(double *fd, const gan_gaussian *a, const gan_gaussian *b);
/* The eigendecomposition of a symmetric n x n matrix a (row-major, 1 <= n <= 4096; (a + a^T) / 2 is
   what is decomposed, so a rounding asymmetry does no harm):
   values (n, ascending) and, when not NULL, vectors (n x n, row-major, column j the unit eigenvector
   of values[j]), by cyclic Jacobi rotations to machine precision. Allocates a working copy. 1, or 0
   with gan_last_error() (out of memory; no convergence in 100 sweeps; a value that is not finite). */
GANDEF int  gan_eigen_symmetric(double *values, double *vectors, const double *a, int n);

/* What the classifier says of a set of images; the formulas above. */
typedef struct gan_image_scores {
    int n;               /* images scored */
    int classes;         /* K */
    int covered;         /* classes covered */
    double kl;           /* class KL, nats */
    double confidence;   /* mean confidence */
    int labelled;        /* 1 when the set had labels, so accuracy was measured */
    double accuracy;     /* label accuracy (when labelled) */
    int compared;        /* 1 when a reference was given, so frechet was measured */
    double frechet;      /* Frechet distance to the reference (when compared) */
} gan_image_scores;
/* Scores images first .. first + count - 1 of d (its labels, when it has them, are the intended
   classes) with the classifier net; reference (NULL: no Frechet distance) from
   gan_classifier_gaussian on the real images. Allocates its work buffers here. 1, or 0 with
   gan_last_error(). */
GANDEF int gan_eval_images(gan_image_scores *s, gan_net *net, const gan_dataset *d, int first, int count,
                           const gan_gaussian *reference);

/* How well n generated 2-D points cover a mixture of k Gaussians of common standard deviation sigma
   centred at c_1 .. c_k: the figures of the Unrolled GAN, VEEGAN and PacGAN papers' ring and grid
   benchmarks. With d(x, c) the Euclidean distance, taken in double, a sample x is "within 3 sigma" of
   c when d(x, c) <= 3 sigma (the boundary included), and its nearest centre is the c_j of smallest
   d(x, c_j) (the lowest j on a tie). Then, with H the set of high-quality samples (those within
   3 sigma of some centre) and h_j the number of them whose nearest centre is c_j:
      modes          #{ j : some sample is within 3 sigma of c_j }
      modes_fair     #{ j : h_j >= 0.2 n / k }, a fifth of the share each mode holds under a
                     perfect G (compared as 5 k h_j >= n, in integers)
      high_quality   |H| / n
      kl             KL(p || uniform) = sum_j p_j log(k p_j) in nats, p_j = h_j / |H| (0 log 0 = 0):
                     0 when H is spread evenly, log k when it sits on one mode; log k, the worst
                     value, when H is empty, so that a G with no good sample never scores better
                     than one with a single good mode.
   modes alone is generous (one stray sample covers a mode); modes_fair and kl say whether the modes
   are held in proportion. The figures need no more than the points: the papers' 2500 samples of G
   are the usual n. */
typedef struct gan_mode_scores {
    int    modes;         /* modes covered: at least one sample within 3 sigma of the mode's centre */
    int    modes_fair;    /* modes holding at least 20% of their share: high-quality samples whose nearest centre is this mode >= 0.2 n / k */
    double high_quality;  /* fraction of the n samples within 3 sigma of some centre */
    double kl;            /* KL(p || uniform) in nats of p, the histogram over modes of the high-quality samples (each counted at its nearest centre); log k when there are none */
} gan_mode_scores;
/* xy: n points (x, y) interleaved; centres: k points interleaved. Works in O(n k) time and allocates
   2 k ints of scratch (freed before it returns). Returns 1, or 0 with gan_last_error() set and *s
   zeroed on n < 1, k < 1, sigma <= 0 or a non-finite input (any coordinate, or sigma), or when out
   of memory. */
GANDEF int gan_eval_modes(gan_mode_scores *s, const gan_float *xy, int n, const gan_float *centres, int k, gan_float sigma);

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

/* a * b + c is never fused behind the code's back: gcc fuses it in GNU modes (C++ included) when the
   target has FMA and not in ISO C, clang within one expression, so the same source would give other
   bits. The kernels fuse explicitly where they mean to. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
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

/* A check of run-time data in a function that cannot return an error: GAN_ASSERT shows the failed
   condition in a debug build; in every build GAN_FATAL then stops the program with the message. */
#ifndef GAN_FATAL
#define GAN_FATAL(msg) gan__fatal(msg)
#define GAN__DEFAULT_FATAL 1
#endif
#define GAN__CHECK(cond, msg)          \
    do {                               \
        GAN_ASSERT((cond) && msg);     \
        if (!(cond)) {                 \
            GAN_FATAL(msg);            \
            return 0;                  \
        }                              \
    } while (0)

#ifdef GAN_GEMM
#define GAN__USER_GEMM 1
#endif

/* Run-time dispatch of the GEMM's kernels on x86-64 with gcc and clang: each kernel is compiled for
   its instruction set with __attribute__((target)) and chosen with __builtin_cpu_supports. */
#if !defined(GAN_NO_DISPATCH) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__TINYC__)
#define GAN__DISPATCH_X86 1
#include <immintrin.h>
#endif

/* Threads where there are POSIX threads. */
#if !defined(GAN_NO_THREADS) && (defined(__unix__) || defined(__APPLE__))
#define GAN__THREADS 1
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#endif

/* Saves write through POSIX file descriptors where there are any, so that they can fsync. */
#if !defined(GAN_NO_STDIO) && (defined(__unix__) || defined(__APPLE__))
#define GAN__POSIX_FILES 1
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#define GAN__STR2(x) #x
#define GAN__STR(x) GAN__STR2(x)
#define GAN__VERSION_TEXT GAN__STR(GAN_VERSION_MAJOR) "." GAN__STR(GAN_VERSION_MINOR) "." GAN__STR(GAN_VERSION_PATCH)

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

/* p rounded up to the next 64-byte boundary (NULL stays NULL); blocks are allocated 64 bytes over. */
static void *gan__align_up(void *p)
{
    return p ? (char *)p + (GAN__ALIGN_BYTES - (size_t)((uintptr_t)p % GAN__ALIGN_BYTES)) % GAN__ALIGN_BYTES : NULL;
}

/* x - x is 0 for a finite x, NaN for an infinity or a NaN (no -ffast-math here). */
static int gan__finite(double x) { return x - x == 0; }

/* ==== errors ==== */

/* The message of the last runtime failure: with the thread count, the library's only mutable state. */
#define GAN__ERROR_MAX 256
static char gan__error[GAN__ERROR_MAX];

GANDEF const char *gan_last_error(void) { return gan__error; }

#ifdef GAN__DEFAULT_FATAL
/* GAN_FATAL's default: the message on stderr (where there is stdio), then abort(). */
static void gan__fatal(const char *msg)
{
#ifndef GAN_NO_STDIO
    fprintf(stderr, "gan.h: %s\n", msg);
#else
    (void)msg;
#endif
    abort();
}
#endif

/* Appends the decimal digits of v at *at, within the error buffer. */
static void gan__error_number(size_t *at, unsigned long long v, int negative)
{
    char digits[24];
    int n = 0;
    do digits[n++] = (char)('0' + v % 10); while ((v /= 10) && n < 24);
    if (negative) digits[n++] = '-';
    while (n > 0 && *at < GAN__ERROR_MAX - 1) gan__error[(*at)++] = digits[--n];
}

/* Sets the message from a format that knows %s, %d (int) and %z (size_t), without stdio, truncated
   to fit. Returns 0, so a failing function can end with `return gan__fail(...)`. */
static int gan__fail(const char *fmt, ...)
{
    va_list ap;
    size_t at = 0;
    va_start(ap, fmt);
    for (; *fmt && at < GAN__ERROR_MAX - 1; fmt++) {
        if (*fmt != '%' || !fmt[1]) {
            gan__error[at++] = *fmt;
            continue;
        }
        switch (*++fmt) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            while (*s && at < GAN__ERROR_MAX - 1) gan__error[at++] = *s++;
            break;
        }
        case 'd': {
            int v = va_arg(ap, int);
            gan__error_number(&at, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v, v < 0);
            break;
        }
        case 'z': gan__error_number(&at, va_arg(ap, size_t), 0); break;
        default: gan__error[at++] = *fmt; break;
        }
    }
    va_end(ap);
    gan__error[at] = 0;
    return 0;
}

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

static int gan__shape_eq(gan_shape a, gan_shape b) { return a.c == b.c && a.h == b.h && a.w == b.w; }

/* ==== rng ==== */

/* PCG32, the XSH-RR output of a 64-bit LCG (O'Neill 2014), seeded as pcg32_srandom(seed, stream). */
#define GAN__PCG_MULT 6364136223846793005ULL
#define GAN__PCG_STREAM 0xda3e39cb94b95bdbULL

GANDEF uint32_t gan_rng_u32(gan_rng *rng)
{
    uint64_t old;
    uint32_t xorshifted, rot;
    GAN_ASSERT(rng && "gan_rng_u32: NULL rng");
    old = rng->state;
    rng->state = old * GAN__PCG_MULT + rng->inc;
    xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
    rot = (uint32_t)(old >> 59);
    return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
}

GANDEF void gan_rng_seed(gan_rng *rng, uint64_t seed)
{
    GAN_ASSERT(rng && "gan_rng_seed: NULL rng");
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
    GAN_ASSERT(rng && "gan_rng_uniform: NULL rng");
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
    double u1, u2;
    GAN_ASSERT(rng && "gan_rng_normal: NULL rng");
    u1 = 1.0 - gan__rng_double(rng);
    u2 = gan__rng_double(rng);
    return (gan_float)(sqrt(-2.0 * log(u1)) * cos(GAN__TWO_PI * u2));
}

GANDEF void gan_fill_uniform(gan_float *x, size_t n, gan_float lo, gan_float hi, gan_rng *rng)
{
    size_t i;
    GAN_ASSERT((x || n == 0) && rng && "gan_fill_uniform: NULL x or rng");
    for (i = 0; i < n; i++) x[i] = lo + (hi - lo) * gan_rng_uniform(rng);
}

GANDEF void gan_fill_normal(gan_float *x, size_t n, gan_float mean, gan_float std, gan_rng *rng)
{
    size_t i;
    GAN_ASSERT((x || n == 0) && rng && "gan_fill_normal: NULL x or rng");
    for (i = 0; i < n; i++) x[i] = mean + std * gan_rng_normal(rng);
}

/* ==== kernels ==== */

/* C (M x N) = alpha op(A) op(B) + beta C: the reference, one dot product per element. */
GANDEF void gan_gemm_naive(int trans_a, int trans_b, int M, int N, int K, gan_float alpha,
                           const gan_float *A, int lda, const gan_float *B, int ldb,
                           gan_float beta, gan_float *C, int ldc)
{
    int i, j, p;
    GAN_ASSERT((M == 0 || N == 0 || K == 0 || (A && B)) && (M == 0 || N == 0 || C) && "gan_gemm_naive: NULL matrix");
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

/* ---- the packed GEMM: blocking, packing, micro-kernels, dispatch ---- */

/* Blocking (the Goto/BLIS scheme): a KC x NC block of op(B) and an MC x KC block of op(A) are copied
   into panels NR columns wide and MR rows high, contiguous in the order the micro-kernel reads them.
   A KC x NR panel of B stays in L1 while the MC x KC block of A streams from L2. MC is a multiple
   of every MR and NC of every NR; KC is each instruction set's own, at most GAN__KC_MAX. */
#define GAN__KC_MAX 256
#define GAN__MC 144
#define GAN__NC 512
#define GAN__MR_MAX 6
#define GAN__NR_MAX 64

/* A micro-kernel: C (MR x NR, row stride ldc) = sum over p < kc of a[p][0..MR) b[p][0..NR), added to
   what C holds when `add` (the first block of a beta = 0 product overwrites: no pass to clear C). */
typedef void (*gan__kernel_fn)(int kc, const gan_float *GAN__RESTRICT a, const gan_float *GAN__RESTRICT b,
                               gan_float *GAN__RESTRICT C, int ldc, int add);

/* The same product on a partial tile, rows <= MR and cols <= NR (the panels zero-padded as ever):
   only those values of C are read and written, and only the column vectors that hold them are
   computed, with the same sums in the same order as the full kernel. */
typedef void (*gan__edge_fn)(int kc, const gan_float *GAN__RESTRICT a, const gan_float *GAN__RESTRICT b,
                             gan_float *GAN__RESTRICT C, int ldc, int add, int rows, int cols);

/* gcc's -O2 vectorizes only loops whose trip count the vector width divides; the dynamic cost model
   (the default at -O3) lets it vectorize these loops at any length, as clang does at -O2. Vector
   loops round each element as the scalar loop does, and sums are never reordered. Only the AVX2 and
   AVX-512 copies of GAN__WIDE loops get it (and the one copy where there is no dispatch): compile
   time is the price. AVX-512's gather has it too, so that gcc inlines it into the GEMM's copy (a
   function with other optimize options is never inlined). Copy and zero loops stay loops there
   instead of becoming calls to memcpy and memset: the packing copies 6 to 64 values at a time, and
   a call costs about what such a copy does. */
#if defined(__GNUC__) && !defined(__clang__) && !defined(__TINYC__)
#define GAN__VECTORIZE __attribute__((optimize("vect-cost-model=dynamic", "no-tree-loop-distribute-patterns")))
#else
#define GAN__VECTORIZE
#endif

/* A gather plan: how GAN__GVEC consecutive entries of an index table (one AVX-512 vector of floats)
   are read with plain vector loads instead of the gather instruction, which is slow on the x86
   cores seen here (about 1.5 cycles a float on AMD Zen 5). An im2col window row of a strided convolution is a few
   runs of nearby indices (one per output row the vector covers), so the lanes fall into runs, each
   within GAN__GSPAN floats of its base: two loads at x + base and one two-register permute fill a
   run's lanes. A block with more runs than GAN__GRUNS, or whose loads could leave their source, is
   `direct`: gathered as the table says. */
#define GAN__GVEC 16
#define GAN__GRUNS 3
#define GAN__GSPAN 32
typedef struct gan__gblock {
    int base[GAN__GRUNS];              /* each run's first index */
    unsigned short lanes[GAN__GRUNS];  /* the lanes it fills */
    unsigned char rel[GAN__GVEC];      /* each filled lane's index less its run's base */
    unsigned char runs, direct;
} gan__gblock;

/* The plans of table row t's n entries, a block per GAN__GVEC (the last may be partial). The table
   indexes images of unit floats each, entries reading only the first len of them (a window table:
   one channel of each sample). A run stays in one unit and its loads in that unit's first len
   floats, so they never leave the source (with len < GAN__GSPAN every block is direct). */
static void gan__gather_plan(gan__gblock *plan, const int *t, int n, int unit, int len)
{
    int b, lane, s, first[GAN__GRUNS], end[GAN__GRUNS]; /* end: of the image a run's first index is in */
    for (b = 0; b < n; b += GAN__GVEC, plan++, t += GAN__GVEC) {
        int m = n - b < GAN__GVEC ? n - b : GAN__GVEC;
        memset(plan, 0, sizeof *plan);
        plan->direct = len < GAN__GSPAN;
        for (lane = 0; lane < m && !plan->direct; lane++) {
            int q = t[lane];
            if (q < 0) continue;
            for (s = 0; s < plan->runs; s++)
                if (q >= first[s] && q - first[s] < GAN__GSPAN && q < end[s]) break;
            if (s == GAN__GRUNS) {
                plan->direct = 1;
                break;
            }
            if (s == plan->runs) {
                first[s] = q;
                end[s] = q - q % unit + len;
                plan->runs++;
            }
            plan->lanes[s] = (unsigned short)(plan->lanes[s] | 1u << lane);
            plan->rel[lane] = (unsigned char)(q - first[s]);
        }
        for (s = 0; s < plan->runs && !plan->direct; s++) { /* the window moved back to end with the image */
            int shift = end[s] - first[s] < GAN__GSPAN ? first[s] + GAN__GSPAN - end[s] : 0;
            plan->base[s] = first[s] - shift;
            if (shift)
                for (lane = 0; lane < GAN__GVEC; lane++)
                    if (plan->lanes[s] >> lane & 1) plan->rel[lane] = (unsigned char)(plan->rel[lane] + shift);
        }
        for (s = plan->runs; s < 2; s++) plan->base[s] = plan->base[0]; /* filling no lane */
    }
}

/* A row of an im2col panel read through its window table: d[r] = t[r] >= 0 ? x[t[r]] : 0, r < n.
   plan: the plans of t's blocks from t onwards (t at a block's start), or NULL; kernel sets without
   a two-register permute ignore it. */
typedef void (*gan__gather_fn)(gan_float *GAN__RESTRICT d, const gan_float *GAN__RESTRICT x,
                               const int *GAN__RESTRICT t, const gan__gblock *plan, int n);

/* A transposed copy, for packing op(B) = B^T: dst[c ldd + r] = src[r lds + c], r < rows, c < cols. */
typedef void (*gan__transpose_fn)(gan_float *GAN__RESTRICT dst, int ldd, const gan_float *GAN__RESTRICT src, int lds,
                                  int rows, int cols);

/* One instruction set's kernel and the tile and depth it is written for, its edge kernel (NULL where
   a tile is narrow enough that the full kernel into a tile buffer costs little: baseline, AVX2), the
   columns its kernels compute at the least (nu: the edge kernel's vector; without one, a whole tile),
   its gathers (gather as above, gather_add d[r] += (t[r] >= 0 ? x[t[r]] : 0): col2im's sums), whether
   they read gather plans (so that convolutions make them), and its transpose. */
typedef struct gan__isa_info {
    gan_isa isa;
    const char *name;
    gan__kernel_fn kernel;
    gan__edge_fn edge;
    int mr, nr, nu, kc;
    gan__gather_fn gather, gather_add;
    int planned;
    gan__transpose_fn transpose;
} gan__isa_info;

static void gan__transpose_base(gan_float *GAN__RESTRICT dst, int ldd, const gan_float *GAN__RESTRICT src, int lds,
                                int rows, int cols)
{
    int r, c;
    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c++) dst[(size_t)c * ldd + r] = src[(size_t)r * lds + c];
}

static void gan__gather_base(gan_float *GAN__RESTRICT d, const gan_float *GAN__RESTRICT x, const int *GAN__RESTRICT t,
                             const gan__gblock *plan, int n)
{
    int r;
    (void)plan;
    for (r = 0; r < n; r++) d[r] = t[r] >= 0 ? x[t[r]] : 0;
}

static void gan__gather_add_base(gan_float *GAN__RESTRICT d, const gan_float *GAN__RESTRICT x, const int *GAN__RESTRICT t,
                                 const gan__gblock *plan, int n)
{
    int r;
    (void)plan;
    for (r = 0; r < n; r++) d[r] += t[r] >= 0 ? x[t[r]] : 0;
}

/* The baseline kernel, 4 x 8 (4 x 4 in double). With GNU C's vector extensions a row of the tile is
   two 16-byte vectors, which every target with SIMD registers holds; elsewhere plain loops. */
#define GAN__BASE_MR 4
#if defined(__GNUC__) && !defined(__TINYC__)
#define GAN__VECTOR_EXT 1
typedef gan_float gan__v16b __attribute__((vector_size(16)));
#define GAN__BASE_LANES ((int)(16 / sizeof(gan_float)))
#define GAN__BASE_NR (2 * GAN__BASE_LANES)
static gan__v16b gan__v16b_load(const gan_float *p)
{
    gan__v16b v;
    memcpy(&v, p, sizeof v);
    return v;
}
static void gan__kernel_base(int kc, const gan_float *GAN__RESTRICT a, const gan_float *GAN__RESTRICT b,
                             gan_float *GAN__RESTRICT C, int ldc, int add)
{
    gan__v16b c00 = gan__v16b_load(b) * 0, c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
              c31 = c00;
    int p, j;
    for (p = 0; p < kc; p++, a += GAN__BASE_MR, b += GAN__BASE_NR) {
        gan__v16b b0 = gan__v16b_load(b), b1 = gan__v16b_load(b + GAN__BASE_LANES);
        c00 += b0 * a[0];
        c01 += b1 * a[0];
        c10 += b0 * a[1];
        c11 += b1 * a[1];
        c20 += b0 * a[2];
        c21 += b1 * a[2];
        c30 += b0 * a[3];
        c31 += b1 * a[3];
    }
    if (!add)
        for (j = 0; j < GAN__BASE_NR; j++) C[0 * ldc + j] = C[1 * ldc + j] = C[2 * ldc + j] = C[3 * ldc + j] = 0;
    for (j = 0; j < GAN__BASE_LANES; j++) {
        C[0 * ldc + j] += c00[j];
        C[0 * ldc + j + GAN__BASE_LANES] += c01[j];
        C[1 * ldc + j] += c10[j];
        C[1 * ldc + j + GAN__BASE_LANES] += c11[j];
        C[2 * ldc + j] += c20[j];
        C[2 * ldc + j + GAN__BASE_LANES] += c21[j];
        C[3 * ldc + j] += c30[j];
        C[3 * ldc + j + GAN__BASE_LANES] += c31[j];
    }
}
#else
#define GAN__BASE_NR 8
static void gan__kernel_base(int kc, const gan_float *GAN__RESTRICT a, const gan_float *GAN__RESTRICT b,
                             gan_float *GAN__RESTRICT C, int ldc, int add)
{
    gan_float acc[GAN__BASE_MR][GAN__BASE_NR];
    int p, r, j;
    memset(acc, 0, sizeof acc);
    for (p = 0; p < kc; p++)
        for (r = 0; r < GAN__BASE_MR; r++)
            for (j = 0; j < GAN__BASE_NR; j++) acc[r][j] += a[p * GAN__BASE_MR + r] * b[p * GAN__BASE_NR + j];
    for (r = 0; r < GAN__BASE_MR; r++)
        for (j = 0; j < GAN__BASE_NR; j++) C[(size_t)r * ldc + j] = add ? C[(size_t)r * ldc + j] + acc[r][j] : acc[r][j];
}
#endif

/* x86-64 kernels for AVX2 + FMA (6 x 16) and AVX-512 (6 x 64), float only, each compiled for its
   instruction set alone with __attribute__((target)) and chosen at run time, so plain cc -O2 gets
   them. Every multiply-add is an explicit FMA: the bits do not depend on contraction flags. */
#if defined(GAN__DISPATCH_X86) && !defined(GAN_DOUBLE)
#define GAN__FMA_ROW256(r)                                   \
    do {                                                     \
        __m256 ar = _mm256_broadcast_ss(a + r);              \
        c##r##0 = _mm256_fmadd_ps(ar, b0, c##r##0);          \
        c##r##1 = _mm256_fmadd_ps(ar, b1, c##r##1);          \
    } while (0)
#define GAN__STORE_ROW256(r)                                                                            \
    do {                                                                                                \
        _mm256_storeu_ps(C + r * ldc, add ? _mm256_add_ps(_mm256_loadu_ps(C + r * ldc), c##r##0) : c##r##0); \
        _mm256_storeu_ps(C + r * ldc + 8,                                                               \
                         add ? _mm256_add_ps(_mm256_loadu_ps(C + r * ldc + 8), c##r##1) : c##r##1);     \
    } while (0)
__attribute__((target("avx2,fma"))) static void gan__kernel_avx2(int kc, const float *GAN__RESTRICT a,
                                                                 const float *GAN__RESTRICT b,
                                                                 float *GAN__RESTRICT C, int ldc, int add)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
           c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    int p;
    for (p = 0; p < kc; p++, a += 6, b += 16) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        GAN__FMA_ROW256(0);
        GAN__FMA_ROW256(1);
        GAN__FMA_ROW256(2);
        GAN__FMA_ROW256(3);
        GAN__FMA_ROW256(4);
        GAN__FMA_ROW256(5);
    }
    GAN__STORE_ROW256(0);
    GAN__STORE_ROW256(1);
    GAN__STORE_ROW256(2);
    GAN__STORE_ROW256(3);
    GAN__STORE_ROW256(4);
    GAN__STORE_ROW256(5);
}

/* Row r of the tile over its first nv column vectors (nv a constant, so the tests fold away). */
#define GAN__FMA_ROW512(r, nv)                                      \
    do {                                                            \
        __m512 ar = _mm512_set1_ps(a[r]);                           \
        c##r##0 = _mm512_fmadd_ps(ar, b0, c##r##0);                 \
        if (nv > 1) c##r##1 = _mm512_fmadd_ps(ar, b1, c##r##1);     \
        if (nv > 2) c##r##2 = _mm512_fmadd_ps(ar, b2, c##r##2);     \
        if (nv > 3) c##r##3 = _mm512_fmadd_ps(ar, b3, c##r##3);     \
    } while (0)
/* The k loop over the first nr rows (of MR = 6) and nv column vectors: one row of the B panel (64
   wide) and the panel's 6 values of A a step (nr, nv constants). */
#define GAN__LOOP512(nr, nv)                                                                          \
    for (p = 0; p < kc; p++, a += 6, b += 64) {                                                       \
        __m512 b0 = _mm512_loadu_ps(b), b1 = nv > 1 ? _mm512_loadu_ps(b + 16) : b0,                 \
               b2 = nv > 2 ? _mm512_loadu_ps(b + 32) : b0, b3 = nv > 3 ? _mm512_loadu_ps(b + 48) : b0; \
        GAN__FMA_ROW512(0, nv);                                                                       \
        if (nr > 1) GAN__FMA_ROW512(1, nv);                                                           \
        if (nr > 2) GAN__FMA_ROW512(2, nv);                                                           \
        if (nr > 3) GAN__FMA_ROW512(3, nv);                                                           \
        if (nr > 4) GAN__FMA_ROW512(4, nv);                                                           \
        if (nr > 5) GAN__FMA_ROW512(5, nv);                                                           \
    }
#define GAN__STORE_VEC512(r, v)          \
    _mm512_storeu_ps(C + r * ldc + 16 * v, \
                     add ? _mm512_add_ps(_mm512_loadu_ps(C + r * ldc + 16 * v), c##r##v) : c##r##v)
#define GAN__STORE_ROW512(r)       \
    do {                           \
        GAN__STORE_VEC512(r, 0);   \
        GAN__STORE_VEC512(r, 1);   \
        GAN__STORE_VEC512(r, 2);   \
        GAN__STORE_VEC512(r, 3);   \
    } while (0)
__attribute__((target("avx512f"))) static void gan__kernel_avx512(int kc, const float *GAN__RESTRICT a,
                                                                  const float *GAN__RESTRICT b,
                                                                  float *GAN__RESTRICT C, int ldc, int add)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00,
           c13 = c00, c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00,
           c40 = c00, c41 = c00, c42 = c00, c43 = c00, c50 = c00, c51 = c00, c52 = c00, c53 = c00;
    int p;
    GAN__LOOP512(6, 4)
    GAN__STORE_ROW512(0);
    GAN__STORE_ROW512(1);
    GAN__STORE_ROW512(2);
    GAN__STORE_ROW512(3);
    GAN__STORE_ROW512(4);
    GAN__STORE_ROW512(5);
}

/* A partial tile's value (r, v) with masked loads and stores, v < nv: lanes past the tile are
   neither read nor written (masked-off lanes cannot fault). */
#define GAN__EDGE_VEC512(r, v)                                                                   \
    if (v < nv) {                                                                                \
        __mmask16 m_ = v == nv - 1 ? last : (__mmask16)0xFFFF;                                   \
        float *cp_ = C + r * ldc + 16 * v;                                                       \
        _mm512_mask_storeu_ps(cp_, m_, add ? _mm512_add_ps(_mm512_maskz_loadu_ps(m_, cp_), c##r##v) : c##r##v); \
    }
#define GAN__EDGE_ROW512(r)     \
    if (r < rows) {             \
        GAN__EDGE_VEC512(r, 0)  \
        GAN__EDGE_VEC512(r, 1)  \
        GAN__EDGE_VEC512(r, 2)  \
        GAN__EDGE_VEC512(r, 3)  \
    }
/* The edge kernel's loop over nr rows and the ceil(cols / 16) column vectors a partial tile reaches. */
#define GAN__EDGE_LOOP512(nr)              \
    switch (nv) {                          \
    case 1: GAN__LOOP512(nr, 1) break;     \
    case 2: GAN__LOOP512(nr, 2) break;     \
    case 3: GAN__LOOP512(nr, 3) break;     \
    default: GAN__LOOP512(nr, 4) break;    \
    }
/* The edge kernel: only the column vectors a partial tile reaches are multiplied (on the last tile
   of N = 294, 3 of 4; of N = 196, 1 of 4), and only 2, 4 or 6 rows (M = 128 ends in a tile of 2). */
__attribute__((target("avx512f"))) static void gan__edge_avx512(int kc, const float *GAN__RESTRICT a,
                                                                const float *GAN__RESTRICT b, float *GAN__RESTRICT C,
                                                                int ldc, int add, int rows, int cols)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00,
           c13 = c00, c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00,
           c40 = c00, c41 = c00, c42 = c00, c43 = c00, c50 = c00, c51 = c00, c52 = c00, c53 = c00;
    int p, nv = (cols + 15) / 16;
    __mmask16 last = (__mmask16)(0xFFFFu >> (16 * nv - cols));
    if (rows <= 2) GAN__EDGE_LOOP512(2)
    else if (rows <= 4) GAN__EDGE_LOOP512(4)
    else GAN__EDGE_LOOP512(6)
    GAN__EDGE_ROW512(0)
    GAN__EDGE_ROW512(1)
    GAN__EDGE_ROW512(2)
    GAN__EDGE_ROW512(3)
    GAN__EDGE_ROW512(4)
    GAN__EDGE_ROW512(5)
}

/* The gathers with the vector gather instructions, masked where the window leaves the image (no
   load there): copies (add = 0) or one add each (add = 1), so the same bits as the baseline's; the
   tail past the last full vector is the baseline's. */
__attribute__((target("avx2"))) static void gan__gather_avx2_op(float *GAN__RESTRICT d, const float *GAN__RESTRICT x,
                                                              const int *GAN__RESTRICT t, int n, int add)
{
    int r = 0;
    for (; r + 8 <= n; r += 8) {
        __m256i idx = _mm256_loadu_si256((const __m256i *)(const void *)(t + r));
        __m256 inside = _mm256_castsi256_ps(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(-1)));
        __m256 v = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), x, idx, inside, 4);
        _mm256_storeu_ps(d + r, add ? _mm256_add_ps(_mm256_loadu_ps(d + r), v) : v);
    }
    if (add) gan__gather_add_base(d + r, x, t + r, NULL, n - r);
    else gan__gather_base(d + r, x, t + r, NULL, n - r);
}

/* 16 bytes widened to 16 ints (the maskz form: g++ warns of the plain one's undefined input). */
__attribute__((target("avx512f"))) static inline __m512i gan__bytes_avx512(const unsigned char *b)
{
    return _mm512_maskz_cvtepu8_epi32((__mmask16)0xFFFF, _mm_loadu_si128((const __m128i *)(const void *)b));
}

/* With a plan, each block's runs by loads and a permute (the same values: copies either way). */
__attribute__((target("avx512f"))) GAN__VECTORIZE static inline void
gan__gather_avx512_op(float *GAN__RESTRICT d, const float *GAN__RESTRICT x, const int *GAN__RESTRICT t,
                      const gan__gblock *plan, int n, int add)
{
    int r = 0, s;
    for (; r + 16 <= n; r += 16) {
        const gan__gblock *p = plan ? plan + r / 16 : NULL;
        __m512 v;
        if (!p || p->direct) {
            __m512i idx = _mm512_loadu_si512((const void *)(t + r));
            __mmask16 inside = _mm512_cmpge_epi32_mask(idx, _mm512_setzero_si512());
            v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), inside, idx, x, 4);
        } else {
            __m512i rel = gan__bytes_avx512(p->rel);
            /* two runs always (the plan's second may fill no lane), the rare others after a branch:
               a loop over runs would mispredict its exit about once a block */
            const float *x0 = x + p->base[0], *x1 = x + p->base[1];
            v = _mm512_maskz_permutex2var_ps((__mmask16)p->lanes[0], _mm512_loadu_ps(x0), rel,
                                             _mm512_loadu_ps(x0 + 16));
            v = _mm512_mask_mov_ps(v, (__mmask16)p->lanes[1],
                                   _mm512_permutex2var_ps(_mm512_loadu_ps(x1), rel, _mm512_loadu_ps(x1 + 16)));
            for (s = 2; s < p->runs; s++) {
                const float *xs = x + p->base[s];
                __m512 run = _mm512_permutex2var_ps(_mm512_loadu_ps(xs), rel, _mm512_loadu_ps(xs + 16));
                v = _mm512_mask_mov_ps(v, (__mmask16)p->lanes[s], run);
            }
        }
        _mm512_storeu_ps(d + r, add ? _mm512_add_ps(_mm512_loadu_ps(d + r), v) : v);
    }
    if (add) gan__gather_add_base(d + r, x, t + r, NULL, n - r);
    else gan__gather_base(d + r, x, t + r, NULL, n - r);
}

/* A 16 x 16 block transposed in registers: pairs of rows interleaved (unpack), then pairs of pairs
   (shuffle), then 128-bit quarters twice (shuffle_f32x4): dst row c = src column c. The zero-masked
   forms with every lane set are the same instructions; g++ 12 warns on the plain ones' undefined
   source operand. */
#define GAN__ALL16 ((__mmask16)0xFFFF)
#define GAN__UNPACK512(a, b) \
    t##a = _mm512_maskz_unpacklo_ps(GAN__ALL16, r##a, r##b), t##b = _mm512_maskz_unpackhi_ps(GAN__ALL16, r##a, r##b)
#define GAN__SHUF512(a, b, c, d)                                                                 \
    u##a = _mm512_shuffle_ps(t##a, t##c, 0x44), u##b = _mm512_shuffle_ps(t##a, t##c, 0xEE),   \
    u##c = _mm512_shuffle_ps(t##b, t##d, 0x44), u##d = _mm512_shuffle_ps(t##b, t##d, 0xEE)
#define GAN__QUARTERS512(out, in, x, y)                                \
    out##x = _mm512_maskz_shuffle_f32x4(GAN__ALL16, in##x, in##y, 0x88), \
    out##y = _mm512_maskz_shuffle_f32x4(GAN__ALL16, in##x, in##y, 0xDD)
#define GAN__ROW512(i) r##i = _mm512_loadu_ps(src + (size_t)(i) * lds)
#define GAN__OUT512(i) _mm512_storeu_ps(dst + (size_t)(i) * ldd, w##i)
__attribute__((target("avx512f"))) static void gan__transpose16_avx512(float *GAN__RESTRICT dst, int ldd,
                                                                       const float *GAN__RESTRICT src, int lds)
{
    __m512 GAN__ROW512(0), GAN__ROW512(1), GAN__ROW512(2), GAN__ROW512(3), GAN__ROW512(4), GAN__ROW512(5),
        GAN__ROW512(6), GAN__ROW512(7), GAN__ROW512(8), GAN__ROW512(9), GAN__ROW512(10), GAN__ROW512(11),
        GAN__ROW512(12), GAN__ROW512(13), GAN__ROW512(14), GAN__ROW512(15);
    __m512 GAN__UNPACK512(0, 1), GAN__UNPACK512(2, 3), GAN__UNPACK512(4, 5), GAN__UNPACK512(6, 7),
        GAN__UNPACK512(8, 9), GAN__UNPACK512(10, 11), GAN__UNPACK512(12, 13), GAN__UNPACK512(14, 15);
    __m512 GAN__SHUF512(0, 1, 2, 3), GAN__SHUF512(4, 5, 6, 7), GAN__SHUF512(8, 9, 10, 11),
        GAN__SHUF512(12, 13, 14, 15);
    __m512 GAN__QUARTERS512(v, u, 0, 4), GAN__QUARTERS512(v, u, 1, 5), GAN__QUARTERS512(v, u, 2, 6),
        GAN__QUARTERS512(v, u, 3, 7), GAN__QUARTERS512(v, u, 8, 12), GAN__QUARTERS512(v, u, 9, 13),
        GAN__QUARTERS512(v, u, 10, 14), GAN__QUARTERS512(v, u, 11, 15);
    __m512 GAN__QUARTERS512(w, v, 0, 8), GAN__QUARTERS512(w, v, 1, 9), GAN__QUARTERS512(w, v, 2, 10),
        GAN__QUARTERS512(w, v, 3, 11), GAN__QUARTERS512(w, v, 4, 12), GAN__QUARTERS512(w, v, 5, 13),
        GAN__QUARTERS512(w, v, 6, 14), GAN__QUARTERS512(w, v, 7, 15);
    GAN__OUT512(0);
    GAN__OUT512(1);
    GAN__OUT512(2);
    GAN__OUT512(3);
    GAN__OUT512(4);
    GAN__OUT512(5);
    GAN__OUT512(6);
    GAN__OUT512(7);
    GAN__OUT512(8);
    GAN__OUT512(9);
    GAN__OUT512(10);
    GAN__OUT512(11);
    GAN__OUT512(12);
    GAN__OUT512(13);
    GAN__OUT512(14);
    GAN__OUT512(15);
}

/* Whole 16 x 16 blocks in registers, the ragged rest as the baseline copies it. */
__attribute__((target("avx512f"))) static void gan__transpose_avx512(float *GAN__RESTRICT dst, int ldd,
                                                                     const float *GAN__RESTRICT src, int lds, int rows,
                                                                     int cols)
{
    int r0, c0, rows16 = rows / 16 * 16, cols16 = cols / 16 * 16;
    for (r0 = 0; r0 < rows16; r0 += 16)
        for (c0 = 0; c0 < cols16; c0 += 16)
            gan__transpose16_avx512(dst + (size_t)c0 * ldd + r0, ldd, src + (size_t)r0 * lds + c0, lds);
    if (cols16 < cols) gan__transpose_base(dst + (size_t)cols16 * ldd, ldd, src + cols16, lds, rows16, cols - cols16);
    if (rows16 < rows) gan__transpose_base(dst + rows16, ldd, src + (size_t)rows16 * lds, lds, rows - rows16, cols);
}

static void gan__gather_avx2(float *GAN__RESTRICT d, const float *GAN__RESTRICT x, const int *GAN__RESTRICT t,
                             const gan__gblock *plan, int n)
{
    (void)plan; /* AVX2 has no two-register permute */
    gan__gather_avx2_op(d, x, t, n, 0);
}
static void gan__gather_add_avx2(float *GAN__RESTRICT d, const float *GAN__RESTRICT x, const int *GAN__RESTRICT t,
                                 const gan__gblock *plan, int n)
{
    (void)plan;
    gan__gather_avx2_op(d, x, t, n, 1);
}
static void gan__gather_avx512(float *GAN__RESTRICT d, const float *GAN__RESTRICT x, const int *GAN__RESTRICT t,
                               const gan__gblock *plan, int n)
{
    gan__gather_avx512_op(d, x, t, plan, n, 0);
}
static void gan__gather_add_avx512(float *GAN__RESTRICT d, const float *GAN__RESTRICT x, const int *GAN__RESTRICT t,
                                   const gan__gblock *plan, int n)
{
    gan__gather_avx512_op(d, x, t, plan, n, 1);
}
#endif

/* The kernels this build has, in gan_isa order. */
static const gan__isa_info gan__isas[] = {
    /* isa, name, kernel, edge, mr, nr, nu, kc, gather, gather_add, planned, transpose */
    { GAN_ISA_BASELINE, "baseline", gan__kernel_base, NULL, GAN__BASE_MR, GAN__BASE_NR, GAN__BASE_NR, GAN__KC_MAX,
      gan__gather_base, gan__gather_add_base, 0, gan__transpose_base },
#if defined(GAN__DISPATCH_X86) && !defined(GAN_DOUBLE)
    { GAN_ISA_AVX2, "avx2", gan__kernel_avx2, NULL, 6, 16, 16, GAN__KC_MAX,
      gan__gather_avx2, gan__gather_add_avx2, 0, gan__transpose_base },
    { GAN_ISA_AVX512, "avx512", gan__kernel_avx512, gan__edge_avx512, 6, 64, 16, 128,
      gan__gather_avx512, gan__gather_add_avx512, 1, gan__transpose_avx512 },
#endif
};

/* The chosen kernels (NULL until the first use picks the best the CPU has): run-time state beside
   the thread count and the last error. */
static const gan__isa_info *gan__isa_current;

static int gan__isa_supported(gan_isa isa)
{
    switch (isa) {
    case GAN_ISA_BASELINE: return 1;
#if defined(GAN__DISPATCH_X86) && !defined(GAN_DOUBLE)
    case GAN_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case GAN_ISA_AVX512: return __builtin_cpu_supports("avx512f");
#endif
    default: return 0;
    }
}

static const gan__isa_info *gan__isa_find(gan_isa isa)
{
    size_t i;
    for (i = 0; i < sizeof gan__isas / sizeof gan__isas[0]; i++)
        if (gan__isas[i].isa == isa) return &gan__isas[i];
    return NULL;
}

GANDEF int gan_set_isa(gan_isa isa)
{
    int k;
    if (isa == GAN_ISA_AUTO) {
        for (k = GAN_ISA_AVX512; k >= GAN_ISA_BASELINE; k--)
            if (gan__isa_find((gan_isa)k) && gan__isa_supported((gan_isa)k)) break;
        gan__isa_current = gan__isa_find((gan_isa)k);
        return 1;
    }
    if (!gan__isa_find(isa) || !gan__isa_supported(isa))
        return gan__fail("gan_set_isa: %s is not available in this build on this CPU", gan_isa_name(isa));
    gan__isa_current = gan__isa_find(isa);
    return 1;
}

static const gan__isa_info *gan__isa(void)
{
    if (!gan__isa_current) gan_set_isa(GAN_ISA_AUTO);
    return gan__isa_current;
}

/* A loop compiled once per instruction set of the kernels, so that the compiler vectorizes it at that
   width: GAN__WIDE(name, (parameters), (arguments)) defines name(), which runs name##_body (a
   GAN__BODY function) compiled for the kernels in use. The loops round each element alike at every
   width and fix the order of their sums, so every copy computes the same bits. */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(__TINYC__)
#define GAN__BODY static inline __attribute__((always_inline))
#else
#define GAN__BODY static
#endif
#if defined(GAN__DISPATCH_X86) && !defined(GAN_DOUBLE)
#define GAN__WIDE(name, params, args)                                                                  \
    __attribute__((target("avx512f"))) GAN__VECTORIZE static void name##_avx512 params { name##_body args; } \
    __attribute__((target("avx2"))) GAN__VECTORIZE static void name##_avx2 params { name##_body args; }     \
    static void name params                                                                            \
    {                                                                                                  \
        gan_isa isa_ = gan__isa()->isa;                                                                \
        if (isa_ == GAN_ISA_AVX512) name##_avx512 args;                                                \
        else if (isa_ == GAN_ISA_AVX2) name##_avx2 args;                                               \
        else name##_body args;                                                                         \
    }
#else
#define GAN__WIDE(name, params, args) \
    GAN__VECTORIZE static void name params { name##_body args; }
#endif

/* Partial sums in double that a loop keeps side by side: value j of a run goes to sum j mod
   GAN__LANES, so the adds vectorize; the sums are then added in one fixed order. */
#define GAN__LANES 8

/* acc[l] += f(x[j], y[j]) for the n values of a run, value j into acc[j mod GAN__LANES]:
   GAN__RUN_SUM(acc, n, expression of j). */
#define GAN__RUN_SUM(acc, n, expr)                                                                      \
    do {                                                                                               \
        size_t j_ = 0, n_ = (n);                                                                       \
        int l_;                                                                                        \
        for (; j_ + GAN__LANES <= n_; j_ += GAN__LANES)                                               \
            for (l_ = 0; l_ < GAN__LANES; l_++) {                                                     \
                size_t j = j_ + (size_t)l_;                                                           \
                (acc)[l_] += (expr);                                                                   \
            }                                                                                          \
        for (l_ = 0; j_ < n_; j_++, l_++) {                                                            \
            size_t j = j_;                                                                             \
            (acc)[l_] += (expr);                                                                       \
        }                                                                                              \
    } while (0)

/* The sum of the GAN__LANES partial sums, pairwise: ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7)). */
GAN__BODY double gan__lanes_total(const double *acc)
{
    double t[GAN__LANES];
    int l, w;
    for (l = 0; l < GAN__LANES; l++) t[l] = acc[l];
    for (w = 1; w < GAN__LANES; w *= 2)
        for (l = 0; l + w < GAN__LANES; l += 2 * w) t[l] += t[l + w];
    return t[0];
}

/* Values per thread below which an elementwise layer runs on one thread. */
#define GAN__ELEM_GRAIN 16384

GANDEF gan_isa gan_isa_in_use(void) { return gan__isa()->isa; }

GANDEF const char *gan_isa_name(gan_isa isa)
{
    static const char *const names[] = { "auto", "baseline", "avx2", "avx512" };
    return (int)isa >= 0 && (int)isa < (int)(sizeof names / sizeof names[0]) ? names[isa] : "unknown";
}

/* Values of one thread's packing buffer: an MC x KC block of A, a KC x NC block of B, and a strip of
   GAN__TBLOCK rows of KC columns of an im2col operand, before they are transposed into B's block. */
#define GAN__TBLOCK 16
#define GAN__PACK_FLOATS \
    ((size_t)GAN__MC * GAN__KC_MAX + (size_t)GAN__KC_MAX * GAN__NC + (size_t)GAN__TBLOCK * GAN__KC_MAX)

/* Copies alpha op(A)(i0 + i, p0 + p) for i < mc, p < kc into panels of mr rows, each stored p-major
   (dst[panel][p][0..mr)), zero past mc. op(A)(i, p) is A[p lda + i] when trans_a, else A[i lda + p]. */
GAN__BODY void gan__pack_a(gan_float *GAN__RESTRICT dst, const gan_float *GAN__RESTRICT A, int lda, int trans_a,
                           int i0, int mc, int p0, int kc, int mr, gan_float alpha)
{
    int i, p, r;
    for (i = 0; i < mc; i += mr, dst += (size_t)mr * kc) {
        int rows = mc - i < mr ? mc - i : mr;
        if (trans_a && rows == GAN__MR_MAX && mr == GAN__MR_MAX) { /* a whole panel: a copy of known width */
            for (p = 0; p < kc; p++) {
                const gan_float *GAN__RESTRICT src = A + (size_t)(p0 + p) * lda + i0 + i;
                gan_float *GAN__RESTRICT d = dst + (size_t)p * GAN__MR_MAX;
                for (r = 0; r < GAN__MR_MAX; r++) d[r] = alpha * src[r];
            }
        } else if (trans_a) { /* row p of the panel is contiguous in A */
            for (p = 0; p < kc; p++) {
                const gan_float *GAN__RESTRICT src = A + (size_t)(p0 + p) * lda + i0 + i;
                gan_float *GAN__RESTRICT d = dst + (size_t)p * mr;
                for (r = 0; r < rows; r++) d[r] = alpha * src[r];
                for (; r < mr; r++) d[r] = 0;
            }
        } else if (rows == 6 && mr == 6) { /* a whole panel of the AVX kernels' six rows, named, interleaved */
            const gan_float *GAN__RESTRICT s0 = A + (size_t)(i0 + i) * lda + p0, *GAN__RESTRICT s1 = s0 + lda,
                                           *GAN__RESTRICT s2 = s1 + lda, *GAN__RESTRICT s3 = s2 + lda,
                                           *GAN__RESTRICT s4 = s3 + lda, *GAN__RESTRICT s5 = s4 + lda;
            gan_float *GAN__RESTRICT d = dst;
            for (p = 0; p < kc; p++) {
                d[6 * p] = alpha * s0[p];
                d[6 * p + 1] = alpha * s1[p];
                d[6 * p + 2] = alpha * s2[p];
                d[6 * p + 3] = alpha * s3[p];
                d[6 * p + 4] = alpha * s4[p];
                d[6 * p + 5] = alpha * s5[p];
            }
        } else { /* the panel's rows are rows of A: read them side by side, write the panel in order */
            const gan_float *src[GAN__MR_MAX];
            for (r = 0; r < rows; r++) src[r] = A + (size_t)(i0 + i + r) * lda + p0;
            for (p = 0; p < kc; p++) {
                gan_float *GAN__RESTRICT d = dst + (size_t)p * mr;
                for (r = 0; r < rows; r++) d[r] = alpha * src[r][p];
                for (; r < mr; r++) d[r] = 0;
            }
        }
    }
}

/* Copies op(B)(p0 + p, j0 + j) for p < kc, j < nc into panels of nr columns (dst[panel][p][0..nr)),
   zero past nc. op(B)(p, j) is B[j ldb + p] when trans_b, else B[p ldb + j]. */
GAN__BODY void gan__pack_b(gan_float *GAN__RESTRICT dst, const gan_float *GAN__RESTRICT B, int ldb, int trans_b,
                           int j0, int nc, int p0, int kc, int nr, gan__transpose_fn transpose)
{
    int j, p, r;
    for (j = 0; j < nc; j += nr, dst += (size_t)nr * kc) {
        int cols = nc - j < nr ? nc - j : nr;
        if (!trans_b) {
            for (p = 0; p < kc; p++) {
                const gan_float *src = B + (size_t)(p0 + p) * ldb + j0 + j;
                for (r = 0; r < cols; r++) dst[p * nr + r] = src[r];
                for (; r < nr; r++) dst[p * nr + r] = 0;
            }
        } else { /* panel column r is row j0 + j + r of B */
            transpose(dst, nr, B + (size_t)(j0 + j) * ldb + p0, ldb, cols, kc);
            for (p = 0; p < kc; p++)
                for (r = cols; r < nr; r++) dst[p * nr + r] = 0;
        }
    }
}

/* A GEMM operand that is the im2col of a chunk of images, read where it lies instead of copied out:
   col(r, q), for the row r = c k k + kk (channel c, kernel offset kk) and the column q (position q of
   the chunk's outputs, sample by sample), is x[c H W + window[kk ld + q]], 0 where the window entry is
   -1 (outside the image). */
typedef struct gan__im2col_src {
    const gan_float *x;     /* the chunk's first image */
    const int *window;      /* k k rows of ld entries (gan__window_table) */
    const gan__gblock *plan; /* the window rows' gather plans, rows plan_ld blocks apart; or NULL */
    int ld, kk_n, hw;       /* row stride of window, k k, H W */
    int plan_ld;
} gan__im2col_src;

/* The plans from entry `at` of a planned table row onwards, when `at` starts a block. */
static const gan__gblock *gan__plan_at(const gan__gblock *row, int at)
{
    return row && at % GAN__GVEC == 0 ? row + at / GAN__GVEC : NULL;
}

/* The kernel set's gather; AVX-512's called directly, so that it inlines into that copy of the GEMM
   (an indirect call costs about what gathering a block of 16 does). */
GAN__BODY void gan__gather_of(const gan__isa_info *isa, gan_float *GAN__RESTRICT d, const gan_float *GAN__RESTRICT x,
                              const int *GAN__RESTRICT t, const gan__gblock *plan, int n)
{
#if defined(GAN__DISPATCH_X86) && !defined(GAN_DOUBLE)
    if (isa->isa == GAN_ISA_AVX512) {
        gan__gather_avx512_op(d, x, t, plan, n, 0);
        return;
    }
#endif
    isa->gather(d, x, t, plan, n);
}

/* gan__pack_b with op(B) = col (trans_b = 0) or col^T (trans_b = 1) of an im2col operand: each value
   gathered from its image through the window table straight into the panel; for col^T a strip of
   GAN__TBLOCK rows of col at a time, whole (one long gather a row), then transposed into place. */
GAN__BODY void gan__pack_b_im2col(gan_float *GAN__RESTRICT dst, gan_float *GAN__RESTRICT strip,
                                  const gan__im2col_src *im, int trans_b, int j0, int nc, int p0, int kc,
                                  const gan__isa_info *isa)
{
    int j, p, r, r0, i, nr = isa->nr;
    for (j = 0; j < nc; j += nr, dst += (size_t)nr * kc) {
        int cols = nc - j < nr ? nc - j : nr;
        if (!trans_b) { /* panel row p is col's row p0 + p = c k k + kk, columns j0 + j onwards */
            int c = p0 / im->kk_n, kk = p0 - c * im->kk_n;
            for (p = 0; p < kc; p++) {
                const int *GAN__RESTRICT t = im->window + (size_t)kk * im->ld + j0 + j;
                const gan__gblock *plan = im->plan ? im->plan + (size_t)kk * im->plan_ld : NULL;
                gan_float *GAN__RESTRICT d = dst + (size_t)p * nr;
                gan__gather_of(isa, d, im->x + (size_t)c * im->hw, t, gan__plan_at(plan, j0 + j), cols);
                for (r = cols; r < nr; r++) d[r] = 0;
                if (++kk == im->kk_n) {
                    kk = 0;
                    c++;
                }
            }
        } else { /* panel column r is col's row j0 + j + r, over its columns p0 onwards */
            for (r0 = 0; r0 < cols; r0 += GAN__TBLOCK) {
                int rows = cols - r0 < GAN__TBLOCK ? cols - r0 : GAN__TBLOCK;
                for (i = 0; i < rows; i++) {
                    int row = j0 + j + r0 + i, c = row / im->kk_n, kk = row - c * im->kk_n;
                    const gan__gblock *plan = im->plan ? im->plan + (size_t)kk * im->plan_ld : NULL;
                    gan__gather_of(isa, strip + (size_t)i * GAN__KC_MAX, im->x + (size_t)c * im->hw,
                                   im->window + (size_t)kk * im->ld + p0, gan__plan_at(plan, p0), kc);
                }
                isa->transpose(dst + r0, nr, strip, GAN__KC_MAX, rows, kc);
            }
            for (p = 0; p < kc; p++)
                for (r = cols; r < nr; r++) dst[(size_t)p * nr + r] = 0;
        }
    }
}

/* One GEMM as the threads share it. C(i, j) is at C[i ldc_i + j ldc_j]: row-major C has ldc_j = 1;
   a product computed transposed (C^T = op(B)^T op(A)^T, when N is narrower than a tile) has ldc_i = 1. */
typedef struct gan__gemm_job {
    const gan__isa_info *isa;
    int trans_a, trans_b, M, N, K;
    gan_float alpha, beta;
    const gan_float *A, *B;
    const gan__im2col_src *im; /* B is this im2col operand instead, when not NULL */
    const gan_float *apacked;  /* op(A) packed already (gan__prepack_a), when not NULL ... */
    int a_row0, a_rows;        /* ... its row a_row0 this product's row 0, of the a_rows it holds */
    int lda, ldb;
    gan_float *C;
    size_t ldc_i, ldc_j;
    gan_float *pack0;  /* the calling thread's packing buffer */
    int split_n;       /* threads take ranges of columns (1) or of rows (0) */
    int b_ready;       /* the thread's packing buffer holds op(B) already: the one K x N block of a
                          product no larger than KC x NC, packed by the thread's call before */
} gan__gemm_job;

/* The panels of op(A)'s rows i0 .. i0 + mc over K block p0: packed into apack, or where they already
   lie in the prepacked A (each K block's panels of all rows, block p0 at p0 M rounded up to mr). */
GAN__BODY const gan_float *gan__a_panels(const gan__gemm_job *job, gan_float *apack, int i0, int mc, int p0, int kc)
{
    int mr = job->isa->mr;
    if (job->apacked)
        return job->apacked + (size_t)p0 * ((job->a_rows + mr - 1) / mr * mr) + (size_t)(job->a_row0 + i0) * kc;
    gan__pack_a(apack, job->A, job->lda, job->trans_a, i0, mc, p0, kc, mr, job->alpha);
    return apack;
}

/* The KC x nc block of op(B) at (p0, j0) into the packing buffer's panels. */
GAN__BODY void gan__pack_b_of(const gan__gemm_job *job, gan_float *bpack, int j0, int nc, int p0, int kc)
{
    const gan__isa_info *isa = job->isa;
    if (job->im)
        gan__pack_b_im2col(bpack, bpack + (size_t)GAN__KC_MAX * GAN__NC, job->im, job->trans_b, j0, nc, p0, kc, isa);
    else gan__pack_b(bpack, job->B, job->ldb, job->trans_b, j0, nc, p0, kc, isa->nr, isa->transpose);
}

/* C(i0 .., j0 ..) (mc x nc) += (or, for the first K block with beta = 0, =) the packed panels' product,
   tile by tile; edge tiles go to the edge kernel where the kernel set has one, and otherwise, like
   transposed C, through a small tile buffer. */
GAN__BODY void gan__gemm_block(const gan__gemm_job *job, const gan_float *apack, const gan_float *bpack, int i0, int mc,
                               int j0, int nc, int p0, int kc)
{
    const gan__isa_info *isa = job->isa;
    int mr = isa->mr, nr = isa->nr, add = p0 > 0 || job->beta != 0, i, j, r, q;
    gan_float tile[GAN__MR_MAX * GAN__NR_MAX]; /* 1.5 KiB */
    for (j = 0; j < nc; j += nr)
        for (i = 0; i < mc; i += mr) {
            int rows = mc - i < mr ? mc - i : mr, cols = nc - j < nr ? nc - j : nr;
            gan_float *c = job->C + (size_t)(i0 + i) * job->ldc_i + (size_t)(j0 + j) * job->ldc_j;
            const gan_float *a = apack + (size_t)i * kc, *b = bpack + (size_t)j * kc;
            if (rows == mr && cols == nr && job->ldc_j == 1) {
                isa->kernel(kc, a, b, c, (int)job->ldc_i, add);
                continue;
            }
            if (isa->edge && job->ldc_j == 1) {
                isa->edge(kc, a, b, c, (int)job->ldc_i, add, rows, cols);
                continue;
            }
            isa->kernel(kc, a, b, tile, nr, 0);
            for (r = 0; r < rows; r++)
                for (q = 0; q < cols; q++) {
                    gan_float *cq = c + (size_t)r * job->ldc_i + (size_t)q * job->ldc_j;
                    *cq = add ? *cq + tile[r * nr + q] : tile[r * nr + q];
                }
        }
}

/* C(i0..i1, j0..j1) = beta C + alpha op(A) op(B) on one thread with its packing buffer. Every element
   sums its K products in the same blocks and order whatever the range, so the bits do not depend on
   how the threads split C. */
GAN__BODY void gan__gemm_range_body(const gan__gemm_job *job, gan_float *pack, int i_lo, int i_hi, int j_lo, int j_hi)
{
    int kcmax = job->isa->kc;
    gan_float *apack = pack, *bpack = pack + (size_t)GAN__MC * GAN__KC_MAX;
    int i, j, i0, j0, p0;

    /* C = beta C first, unless beta = 0 and the first block of products overwrites C (garbage, even
       NaN, in C is then ignored) */
    if (job->beta != 1 && (job->beta != 0 || job->K <= 0 || job->alpha == 0))
        for (i = i_lo; i < i_hi; i++) {
            gan_float *c = job->C + (size_t)i * job->ldc_i;
            if (job->ldc_j != 1)
                for (j = j_lo; j < j_hi; j++) c[(size_t)j * job->ldc_j] = job->beta == 0 ? 0 : job->beta * c[(size_t)j * job->ldc_j];
            else if (job->beta == 0) memset(c + j_lo, 0, (size_t)(j_hi - j_lo) * sizeof(gan_float));
            else for (j = j_lo; j < j_hi; j++) c[j] *= job->beta;
        }
    if (job->K <= 0 || job->alpha == 0) return;

    if (i_hi - i_lo <= GAN__MC) { /* one block of rows: its panel of A is packed once per K block */
        for (p0 = 0; p0 < job->K; p0 += kcmax) {
            int kc = job->K - p0 < kcmax ? job->K - p0 : kcmax;
            const gan_float *a = gan__a_panels(job, apack, i_lo, i_hi - i_lo, p0, kc);
            GAN_ASSERT((!job->b_ready || (job->K <= kcmax && j_hi - j_lo <= GAN__NC)) && "a ready op(B) is one block");
            for (j0 = j_lo; j0 < j_hi; j0 += GAN__NC) {
                int nc = j_hi - j0 < GAN__NC ? j_hi - j0 : GAN__NC;
                if (!job->b_ready) gan__pack_b_of(job, bpack, j0, nc, p0, kc);
                gan__gemm_block(job, a, bpack, i_lo, i_hi - i_lo, j0, nc, p0, kc);
            }
        }
        return;
    }
    for (j0 = j_lo; j0 < j_hi; j0 += GAN__NC) {
        int nc = j_hi - j0 < GAN__NC ? j_hi - j0 : GAN__NC;
        for (p0 = 0; p0 < job->K; p0 += kcmax) {
            int kc = job->K - p0 < kcmax ? job->K - p0 : kcmax;
            gan__pack_b_of(job, bpack, j0, nc, p0, kc);
            for (i0 = i_lo; i0 < i_hi; i0 += GAN__MC) {
                int mc = i_hi - i0 < GAN__MC ? i_hi - i0 : GAN__MC;
                gan__gemm_block(job, gan__a_panels(job, apack, i0, mc, p0, kc), bpack, i0, mc, j0, nc, p0, kc);
            }
        }
    }
}

GAN__WIDE(gan__gemm_range, (const gan__gemm_job *job, gan_float *pack, int i_lo, int i_hi, int j_lo, int j_hi),
          (job, pack, i_lo, i_hi, j_lo, j_hi))

/* ---- threads: a pool of workers, each with its own packing buffer ---- */

/* A parallel task: fn(ctx, t, nt) does part t of nt; the parts never write the same values. */
typedef void (*gan__task_fn)(void *ctx, int t, int nt);

#ifdef GAN__THREADS
typedef struct gan__pool gan__pool;

typedef struct gan__worker {
    gan__pool *pool;
    int t;
    unsigned long go; /* the last task's round that the caller gave this worker a part of */
} gan__worker;

struct gan__pool {
    int n;                /* threads in all, the caller included */
    gan__worker *workers; /* what each worker thread is told: its pool and its part number */
    pthread_t *tid;       /* the n - 1 workers */
    gan_float **pack;     /* packing buffer of worker t at pack[t] (t >= 1) */
    void **pack_block;    /* their unaligned allocations */
    pthread_mutex_t mu, busy; /* busy: one caller at a time; another runs its task alone */
    pthread_cond_t go, done;
    unsigned long round;  /* bumped for each task (by the caller only) */
    int pending, quit;    /* parts not yet done; stop */
    int sleepers, caller_asleep; /* workers waiting on go; the caller waiting on done */
    gan__task_fn fn;      /* the task: written before its round is handed out, read by its parts */
    void *ctx;
    int nt;
};

static gan__pool *gan__the_pool;

/* Before sleeping on the condition variable, a thread waiting for the next task (or for the others
   to finish one) polls: GAN__PAUSES times with the pause instruction (some 50 microseconds: a pause
   is 23 ns on AMD Zen 5), then up to GAN__SPINS in all with sched_yield between polls (some 0.5 ms
   more), which hands the core to any thread waiting for it: the one being waited for, when there
   are more threads than free cores. A step starts hundreds of tasks a few microseconds apart, with
   serial stretches of up to a few hundred microseconds between some (drawing z, a loss), and a
   sleep and wake-up through the kernel costs more than many tasks (polling 50 microseconds only, a
   DCGAN step slept some 37 times). The bound keeps the waste small when the caller stops.
   With gcc and clang the hand-off is atomics alone while no one sleeps: the caller hands each worker
   its round and wakes sleepers only if there are any; a worker counts its part done and wakes the
   caller only if it sleeps. The two pairs (round, sleepers) and (pending, caller_asleep) are each
   written by one side and read by the other in sequentially consistent order, so one side always
   sees the other and no wake-up is lost. Elsewhere every hand-off goes through the mutex and the
   threads just sleep. */
#if defined(__GNUC__) || defined(__clang__)
#define GAN__ATOMICS 1
#define GAN__PAUSES 2000
#define GAN__SPINS (GAN__PAUSES + 1000)
#define GAN__LOAD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define GAN__STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
#define GAN__LOAD_SC(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define GAN__STORE_SC(x, v) __atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define GAN__DEC(x) __atomic_sub_fetch(&(x), 1, __ATOMIC_SEQ_CST)
#if defined(__x86_64__) || defined(__i386__)
#define GAN__PAUSE() __builtin_ia32_pause()
#else
#define GAN__PAUSE() ((void)0)
#endif
#else
#define GAN__ATOMICS 0
#define GAN__SPINS 0
#define GAN__LOAD(x) (x)
#define GAN__STORE(x, v) ((x) = (v))
#define GAN__LOAD_SC(x) (x)
#define GAN__STORE_SC(x, v) ((x) = (v))
#define GAN__DEC(x) (--(x))
#define GAN__PAUSE() ((void)0)
#define GAN__PAUSES 0
#endif
/* Poll number `spin` of a wait. */
#define GAN__POLL(spin) ((spin) < GAN__PAUSES ? GAN__PAUSE() : (void)sched_yield())
#endif

/* Threads in use: 0 until the first network, gan_gemm or gan_set_threads chooses (the cores). */
static int gan__n_threads;

#ifdef GAN__THREADS
static void *gan__worker_main(void *arg)
{
    gan__worker *w = (gan__worker *)arg;
    gan__pool *pool = w->pool;
    unsigned long seen = 0;
    long spin;
    for (;;) {
        int asleep;
        for (spin = 0; spin < GAN__SPINS && GAN__LOAD(w->go) == seen && !GAN__LOAD(pool->quit); spin++) GAN__POLL(spin);
        if (!GAN__ATOMICS || (GAN__LOAD(w->go) == seen && !GAN__LOAD(pool->quit))) {
            pthread_mutex_lock(&pool->mu);
            GAN__STORE_SC(pool->sleepers, pool->sleepers + 1);
            while (GAN__LOAD_SC(w->go) == seen && !GAN__LOAD(pool->quit)) pthread_cond_wait(&pool->go, &pool->mu);
            GAN__STORE(pool->sleepers, pool->sleepers - 1);
            pthread_mutex_unlock(&pool->mu);
        }
        if (GAN__LOAD(pool->quit)) break;
        seen = GAN__LOAD(w->go); /* the task's fields were written before it: they hold until pending is 0 */
        pool->fn(pool->ctx, w->t, pool->nt);
        if (!GAN__ATOMICS) pthread_mutex_lock(&pool->mu);
        asleep = GAN__DEC(pool->pending) == 0 && (!GAN__ATOMICS || GAN__LOAD_SC(pool->caller_asleep));
        if (GAN__ATOMICS && asleep) pthread_mutex_lock(&pool->mu);
        if (asleep) pthread_cond_signal(&pool->done);
        if (!GAN__ATOMICS || asleep) pthread_mutex_unlock(&pool->mu);
    }
    return NULL;
}

/* Stops and frees the pool (its workers finish nothing: no task is running). */
static void gan__pool_free(gan__pool *pool)
{
    int t;
    if (!pool) return;
    pthread_mutex_lock(&pool->mu);
    GAN__STORE(pool->quit, 1);
    pthread_cond_broadcast(&pool->go);
    pthread_mutex_unlock(&pool->mu);
    for (t = 1; t < pool->n; t++)
        if (pool->tid[t]) pthread_join(pool->tid[t], NULL);
    for (t = 1; t < pool->n; t++) GAN_FREE(pool->pack_block[t]);
    pthread_mutex_destroy(&pool->mu);
    pthread_mutex_destroy(&pool->busy);
    pthread_cond_destroy(&pool->go);
    pthread_cond_destroy(&pool->done);
    GAN_FREE(pool->tid);
    GAN_FREE(pool->workers);
    GAN_FREE(pool->pack);
    GAN_FREE(pool->pack_block);
    GAN_FREE(pool);
}

static gan__pool *gan__pool_new(int n)
{
    gan__pool *pool = (gan__pool *)GAN_MALLOC(sizeof *pool);
    int t, ok = 1;
    if (!pool) return NULL;
    memset(pool, 0, sizeof *pool);
    pool->n = n;
    pool->tid = (pthread_t *)GAN_MALLOC((size_t)n * sizeof *pool->tid);
    pool->workers = (gan__worker *)GAN_MALLOC((size_t)n * sizeof *pool->workers);
    pool->pack = (gan_float **)GAN_MALLOC((size_t)n * sizeof *pool->pack);
    pool->pack_block = (void **)GAN_MALLOC((size_t)n * sizeof *pool->pack_block);
    if (!pool->tid || !pool->workers || !pool->pack || !pool->pack_block) {
        GAN_FREE(pool->tid);
        GAN_FREE(pool->workers);
        GAN_FREE(pool->pack);
        GAN_FREE(pool->pack_block);
        GAN_FREE(pool);
        return NULL;
    }
    memset(pool->tid, 0, (size_t)n * sizeof *pool->tid);
    for (t = 0; t < n; t++) {
        pool->pack_block[t] = t ? GAN_MALLOC(GAN__PACK_FLOATS * sizeof(gan_float) + GAN__ALIGN_BYTES) : NULL;
        pool->pack[t] = (gan_float *)gan__align_up(pool->pack_block[t]);
        if (t && !pool->pack_block[t]) ok = 0;
    }
    pthread_mutex_init(&pool->mu, NULL);
    pthread_mutex_init(&pool->busy, NULL);
    pthread_cond_init(&pool->go, NULL);
    pthread_cond_init(&pool->done, NULL);
    for (t = 1; t < n && ok; t++) {
        pool->workers[t].pool = pool;
        pool->workers[t].t = t;
        pool->workers[t].go = 0;
        if (pthread_create(&pool->tid[t], NULL, gan__worker_main, &pool->workers[t]) != 0) {
            pool->tid[t] = 0;
            ok = 0;
        }
    }
    if (!ok) {
        gan__pool_free(pool);
        return NULL;
    }
    return pool;
}
#endif

/* The number of processors online (1 where it cannot be known). */
static int gan__cores(void)
{
#if defined(GAN__THREADS) && defined(_SC_NPROCESSORS_ONLN)
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > GAN_MAX_THREADS ? GAN_MAX_THREADS : (int)n;
#else
    return 1;
#endif
}

GANDEF int gan_set_threads(int n)
{
    GAN_ASSERT(n >= 0 && "gan_set_threads: n must be >= 0 (0: one per core)");
    if (n <= 0) n = gan__cores();
    if (n > GAN_MAX_THREADS) n = GAN_MAX_THREADS;
#ifdef GAN__THREADS
    if (gan__the_pool && gan__the_pool->n == n) return n;
    gan__pool_free(gan__the_pool);
    gan__the_pool = NULL;
    if (n > 1) {
        gan__the_pool = gan__pool_new(n);
        if (!gan__the_pool) {
            gan__n_threads = 1;
            return gan__fail("gan_set_threads: could not start %d threads (running on one)", n);
        }
    }
    gan__n_threads = n;
    return n;
#else
    gan__n_threads = 1;
    return 1;
#endif
}

GANDEF int gan_threads(void)
{
    if (!gan__n_threads) gan_set_threads(0);
    return gan__n_threads;
}

/* Runs fn over nt parts, part 0 on the calling thread. A second caller while the pool is busy, or
   nt = 1, runs the whole task alone (as one part). */
static void gan__parallel(gan__task_fn fn, void *ctx, int nt)
{
#ifdef GAN__THREADS
    gan__pool *pool = gan__the_pool;
    long spin;
    if (nt > 1 && pool && nt <= pool->n && pthread_mutex_trylock(&pool->busy) == 0) {
        int t, wake;
        pool->fn = fn;
        pool->ctx = ctx;
        pool->nt = nt;
        GAN__STORE(pool->pending, nt - 1);
        pool->round++;
        if (!GAN__ATOMICS) pthread_mutex_lock(&pool->mu);
        for (t = 1; t < nt; t++) GAN__STORE_SC(pool->workers[t].go, pool->round);
        wake = !GAN__ATOMICS || GAN__LOAD_SC(pool->sleepers) > 0;
        if (GAN__ATOMICS && wake) pthread_mutex_lock(&pool->mu);
        if (wake) {
            pthread_cond_broadcast(&pool->go);
            pthread_mutex_unlock(&pool->mu);
        }
        fn(ctx, 0, nt);
        for (spin = 0; spin < GAN__SPINS && GAN__LOAD(pool->pending) > 0; spin++) GAN__POLL(spin);
        if (!GAN__ATOMICS || GAN__LOAD(pool->pending) > 0) {
            pthread_mutex_lock(&pool->mu);
            GAN__STORE_SC(pool->caller_asleep, 1);
            while (GAN__LOAD_SC(pool->pending) > 0) pthread_cond_wait(&pool->done, &pool->mu);
            GAN__STORE(pool->caller_asleep, 0);
            pthread_mutex_unlock(&pool->mu);
        }
        pthread_mutex_unlock(&pool->busy);
        return;
    }
#endif
    (void)nt;
    fn(ctx, 0, 1);
}

/* Worker t's packing buffer; part 0 uses the caller's. */
static gan_float *gan__pack_of(gan_float *caller_pack, int t)
{
#ifdef GAN__THREADS
    if (t > 0) return gan__the_pool->pack[t];
#endif
    (void)t;
    return caller_pack;
}

/* A loop over [0, n) whose iterations are independent, run in contiguous ranges by the threads:
   fn(ctx, lo, hi). Each iteration computes the same bits whichever thread runs it. */
typedef void (*gan__range_fn)(void *ctx, size_t lo, size_t hi);
typedef struct gan__range_task {
    gan__range_fn fn;
    void *ctx;
    size_t n;
} gan__range_task;

static void gan__range_part(void *ctx, int t, int nt)
{
    const gan__range_task *task = (const gan__range_task *)ctx;
    size_t lo = task->n / (size_t)nt * (size_t)t + (task->n % (size_t)nt < (size_t)t ? task->n % (size_t)nt : (size_t)t);
    size_t hi = lo + task->n / (size_t)nt + ((size_t)t < task->n % (size_t)nt);
    if (lo < hi) task->fn(task->ctx, lo, hi);
}

/* Runs the loop on as many threads as give each at least `grain` iterations. */
static void gan__parallel_for(gan__range_fn fn, void *ctx, size_t n, size_t grain)
{
    gan__range_task task;
    size_t nt = gan__n_threads > 1 ? (size_t)gan__n_threads : 1;
    task.fn = fn;
    task.ctx = ctx;
    task.n = n;
    if (grain < 1) grain = 1;
    if (nt > n / grain) nt = n / grain;
    if (nt <= 1) fn(ctx, 0, n);
    else gan__parallel(gan__range_part, &task, (int)nt);
}

/* Part t of nt of a GEMM: a range of columns in strips of nu (the edge kernel takes a range's last,
   partial tile), or of rows in whole tiles. */
static void gan__gemm_part(void *ctx, int t, int nt)
{
    const gan__gemm_job *job = (const gan__gemm_job *)ctx;
    int unit = job->split_n ? job->isa->nu : job->isa->mr, extent = job->split_n ? job->N : job->M;
    int tiles = (extent + unit - 1) / unit;
    int lo = (int)((long long)tiles * t / nt) * unit, hi = (int)((long long)tiles * (t + 1) / nt) * unit;
    if (hi > extent) hi = extent;
    if (lo >= hi) return;
    if (job->split_n) gan__gemm_range(job, gan__pack_of(job->pack0, t), 0, job->M, lo, hi);
    else gan__gemm_range(job, gan__pack_of(job->pack0, t), lo, hi, 0, job->N);
}

/* Below this many multiply-adds a GEMM runs on one thread: waking the others costs more. */
#define GAN__PARALLEL_MIN_FMAS (1 << 18)

/* The time, roughly, that the busiest of nt threads takes when they share a GEMM's `tiles` strips of
   `width` along one side (the other side `other` long, K deep): its strips' multiply-adds (16 lanes,
   two a cycle) and packing, and the whole other operand, which each thread packs for itself. */
static double gan__split_cost(int tiles, int width, int other, int K, int nt)
{
    double strips = (double)((tiles + nt - 1) / nt);
    return strips * width * other * K / 32.0 + strips * width * K + (double)other * K;
}

/* The job of the packed GEMM below, and the threads to share it (M, N > 0). */
static int gan__gemm_job_of(gan__gemm_job *out, gan_float *pack, int trans_a, int trans_b, int M, int N, int K,
                            gan_float alpha, const gan_float *A, int lda, const gan_float *apacked, const gan_float *B,
                            int ldb, const gan__im2col_src *im, gan_float beta, gan_float *C, int ldc)
{
    gan__gemm_job job;
    int nt = gan_threads(), tiles_m, tiles_n;
    job.isa = gan__isa();
    job.alpha = alpha;
    job.beta = beta;
    job.K = K;
    job.C = C;
    job.im = im;
    job.apacked = apacked;
    job.a_row0 = 0;
    job.a_rows = M;
    job.pack0 = pack;
    job.b_ready = 0;
    GAN_ASSERT((!apacked || alpha == 1) && "a prepacked A is packed with alpha 1");
    if (N < job.isa->nr && M > N && !im && !apacked) { /* C^T = op(B)^T op(A)^T: the narrow side goes across the rows */
        job.trans_a = !trans_b;
        job.trans_b = !trans_a;
        job.M = N;
        job.N = M;
        job.A = B;
        job.lda = ldb;
        job.B = A;
        job.ldb = lda;
        job.ldc_i = 1;
        job.ldc_j = (size_t)ldc;
    } else {
        job.trans_a = trans_a;
        job.trans_b = trans_b;
        job.M = M;
        job.N = N;
        job.A = A;
        job.lda = lda;
        job.B = B;
        job.ldb = ldb;
        job.ldc_i = (size_t)ldc;
        job.ldc_j = 1;
    }
    tiles_m = (job.M + job.isa->mr - 1) / job.isa->mr;
    tiles_n = (job.N + job.isa->nu - 1) / job.isa->nu; /* column strips as narrow as the kernels go */
    job.split_n = gan__split_cost(tiles_n, job.isa->nu, job.M, job.K, nt) <=
                  gan__split_cost(tiles_m, job.isa->mr, job.N, job.K, nt);
    if ((double)M * N * K < GAN__PARALLEL_MIN_FMAS) nt = 1;
    if (nt > (job.split_n ? tiles_n : tiles_m)) nt = job.split_n ? tiles_n : tiles_m;
    *out = job;
    return nt;
}

/* The packed GEMM with a given packing buffer (GAN__PACK_FLOATS values, 64-byte aligned). A comes
   prepacked (gan__prepack_a, alpha 1) when apacked is not NULL; B is the im2col operand im when that
   is not NULL (then B and ldb are unused). */
static void gan__gemm_packed(gan_float *pack, int trans_a, int trans_b, int M, int N, int K, gan_float alpha,
                             const gan_float *A, int lda, const gan_float *apacked, const gan_float *B, int ldb,
                             const gan__im2col_src *im, gan_float beta, gan_float *C, int ldc)
{
    gan__gemm_job job;
    int nt;
    GAN_ASSERT(M >= 0 && N >= 0 && K >= 0 && "gan_gemm: negative size");
    GAN_ASSERT(lda >= (trans_a ? M : K) && (im || ldb >= (trans_b ? K : N)) && ldc >= N && "gan_gemm: leading dimension too small");
    if (M == 0 || N == 0) return;
    nt = gan__gemm_job_of(&job, pack, trans_a, trans_b, M, N, K, alpha, A, lda, apacked, B, ldb, im, beta, C, ldc);
    gan__parallel(gan__gemm_part, &job, nt);
}

#ifndef GAN__USER_GEMM /* a GAN_GEMM takes the weights as they are */
/* op(A) (M x K) packed as the GEMM packs it, once for many products with the same A (a layer's
   weights over the chunks of a batch): K block p0 (of the kernels' KC) at dst + p0 M', M' = M
   rounded up to whole panels of mr rows. The threads take K blocks, each in parts of GAN__MC rows. */
typedef struct gan__prepack {
    gan_float *dst;
    const gan_float *A;
    int lda, trans_a, M, K;
} gan__prepack;

GAN__BODY void gan__prepack_part_body(void *ctx, size_t lo, size_t hi)
{
    const gan__prepack *u = (const gan__prepack *)ctx;
    const gan__isa_info *isa = gan__isa();
    int m_pad = (u->M + isa->mr - 1) / isa->mr * isa->mr, groups = (u->M + GAN__MC - 1) / GAN__MC;
    size_t part;
    for (part = lo; part < hi; part++) { /* K block part / groups, rows GAN__MC (part % groups) onwards */
        int p0 = (int)(part / (size_t)groups) * isa->kc, i0 = (int)(part % (size_t)groups) * GAN__MC;
        int kc = u->K - p0 < isa->kc ? u->K - p0 : isa->kc;
        gan__pack_a(u->dst + (size_t)p0 * m_pad + (size_t)i0 * kc, u->A, u->lda, u->trans_a, i0,
                    u->M - i0 < GAN__MC ? u->M - i0 : GAN__MC, p0, kc, isa->mr, 1);
    }
}
GAN__WIDE(gan__prepack_part, (void *ctx, size_t lo, size_t hi), (ctx, lo, hi))

static void gan__prepack_a(gan_float *dst, const gan_float *A, int lda, int trans_a, int M, int K)
{
    gan__prepack u;
    int kc = gan__isa()->kc;
    size_t groups = (size_t)((M + GAN__MC - 1) / GAN__MC); /* of GAN__MC rows, the parts of a K block */
    u.dst = dst;
    u.A = A;
    u.lda = lda;
    u.trans_a = trans_a;
    u.M = M;
    u.K = K;
    gan__parallel_for(gan__prepack_part, &u, (size_t)((K + kc - 1) / kc) * groups,
                      (size_t)(GAN__ELEM_GRAIN / ((size_t)(M < GAN__MC ? M : GAN__MC) * kc) + 1));
}
#endif

/* C (M x N) = alpha op(A) op(B) + beta C, packed and blocked; the transposes are absorbed by packing,
   so the micro-kernel always reads unit stride. Edge panels are zero-padded. The packing buffer is
   allocated here, once per call; when that fails the naive twin computes the same product. */
GANDEF void gan_gemm(int trans_a, int trans_b, int M, int N, int K, gan_float alpha,
                     const gan_float *A, int lda, const gan_float *B, int ldb,
                     gan_float beta, gan_float *C, int ldc)
{
    void *block;
    GAN_ASSERT((M == 0 || N == 0 || K == 0 || (A && B)) && (M == 0 || N == 0 || C) && "gan_gemm: NULL matrix");
    block = GAN_MALLOC(GAN__PACK_FLOATS * sizeof(gan_float) + GAN__ALIGN_BYTES);
    if (!block) {
        gan_gemm_naive(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    gan__gemm_packed((gan_float *)gan__align_up(block), trans_a, trans_b, M, N, K, alpha, A, lda, NULL, B, ldb, NULL, beta,
                     C, ldc);
    GAN_FREE(block);
}

/* The layers' matrix products: GAN_GEMM when the program names one, else the packed GEMM with the
   network's packing buffer (no allocation, no stack). */
static void gan__matmul(const gan_layer *L, int trans_a, int trans_b, int M, int N, int K, const gan_float *A,
                        int lda, const gan_float *B, int ldb, gan_float beta, gan_float *C, int ldc)
{
#ifdef GAN__USER_GEMM
    (void)L;
    GAN_GEMM(trans_a, trans_b, M, N, K, 1, A, lda, B, ldb, beta, C, ldc);
#else
    gan__gemm_packed(L->pack, trans_a, trans_b, M, N, K, 1, A, lda, NULL, B, ldb, NULL, beta, C, ldc);
#endif
}

/* gan__matmul with A a layer's weights, prepacked in Wp (gan__conv_weights; NULL with a GAN_GEMM). */
static void gan__matmul_w(const gan_layer *L, const gan_float *Wp, int trans_a, int M, int N, int K, const gan_float *A,
                          int lda, const gan_float *B, int ldb, gan_float beta, gan_float *C, int ldc)
{
#ifdef GAN__USER_GEMM
    (void)Wp;
    gan__matmul(L, trans_a, 0, M, N, K, A, lda, B, ldb, beta, C, ldc);
#else
    gan__gemm_packed(L->pack, trans_a, 0, M, N, K, 1, A, lda, Wp, B, ldb, NULL, beta, C, ldc);
#endif
}

/* The output columns ow whose input column ow stride - pad + kj lies in [0, w): [*lo, *hi). */
static void gan__conv_valid(int *lo, int *hi, const gan_conv_geom *g, int kj)
{
    int first = g->pad - kj, last = g->w - 1 + g->pad - kj; /* ow stride must lie in [first, last] */
    *lo = first <= 0 ? 0 : (first + g->stride - 1) / g->stride;
    *hi = last < 0 ? 0 : last / g->stride + 1;
    if (*hi > g->ow) *hi = g->ow;
    if (*lo > *hi) *lo = *hi;
}

/* col[(c k + ki) k + kj][oh OW + ow] (rows ld apart) = x[c][oh stride - pad + ki][ow stride - pad + kj],
   0 outside the image. */
static void gan__im2col_ld(gan_float *GAN__RESTRICT col, int ld, const gan_float *GAN__RESTRICT x, const gan_conv_geom *g)
{
    int c, ki, kj, oh, ow, lo, hi;
    for (kj = 0; kj < g->k; kj++) {
        gan__conv_valid(&lo, &hi, g, kj);
        for (c = 0; c < g->c; c++)
            for (ki = 0; ki < g->k; ki++) {
                gan_float *row = col + (size_t)((c * g->k + ki) * g->k + kj) * ld;
                const gan_float *xc = x + (size_t)c * g->h * g->w;
                for (oh = 0; oh < g->oh; oh++) {
                    int ih = oh * g->stride - g->pad + ki;
                    gan_float *dst = row + (size_t)oh * g->ow;
                    ptrdiff_t at = (ptrdiff_t)ih * g->w - g->pad + kj; /* x's index at ow = 0 */
                    if (ih < 0 || ih >= g->h) {
                        for (ow = 0; ow < g->ow; ow++) dst[ow] = 0;
                        continue;
                    }
                    for (ow = 0; ow < lo; ow++) dst[ow] = 0;
                    if (g->stride == 1)
                        for (; ow < hi; ow++) dst[ow] = xc[at + ow];
                    else
                        for (; ow < hi; ow++) dst[ow] = xc[at + (ptrdiff_t)ow * g->stride];
                    for (; ow < g->ow; ow++) dst[ow] = 0;
                }
            }
    }
}

/* x[c][oh stride - pad + ki][ow stride - pad + kj] += col[(c k + ki) k + kj][oh OW + ow]: the adjoint. */
static void gan__col2im_ld(gan_float *GAN__RESTRICT x, const gan_float *GAN__RESTRICT col, int ld, const gan_conv_geom *g)
{
    int c, ki, kj, oh, ow, lo, hi;
    for (kj = 0; kj < g->k; kj++) {
        gan__conv_valid(&lo, &hi, g, kj);
        for (c = 0; c < g->c; c++)
            for (ki = 0; ki < g->k; ki++) {
                const gan_float *row = col + (size_t)((c * g->k + ki) * g->k + kj) * ld;
                gan_float *xc = x + (size_t)c * g->h * g->w;
                for (oh = 0; oh < g->oh; oh++) {
                    int ih = oh * g->stride - g->pad + ki;
                    const gan_float *src = row + (size_t)oh * g->ow;
                    ptrdiff_t at = (ptrdiff_t)ih * g->w - g->pad + kj;
                    if (ih < 0 || ih >= g->h) continue;
                    if (g->stride == 1)
                        for (ow = lo; ow < hi; ow++) xc[at + ow] += src[ow];
                    else
                        for (ow = lo; ow < hi; ow++) xc[at + (ptrdiff_t)ow * g->stride] += src[ow];
                }
            }
    }
}

GANDEF void gan_im2col(gan_float *col, const gan_float *x, const gan_conv_geom *g)
{
    GAN_ASSERT(col && x && g && "gan_im2col: NULL argument");
    gan__im2col_ld(col, g->oh * g->ow, x, g);
}

GANDEF void gan_col2im(gan_float *x, const gan_float *col, const gan_conv_geom *g)
{
    GAN_ASSERT(col && x && g && "gan_col2im: NULL argument");
    gan__col2im_ld(x, col, g->oh * g->ow, g);
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
    L.lr_mult = 1;
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
    L.affine = 1;
    L.eps = (gan_float)GAN__NORM_EPS;
    L.momentum = (gan_float)GAN__BN_MOMENTUM;
    return L;
}

GANDEF gan_layer gan_layernorm(void)
{
    gan_layer L = gan__layer_new(GAN_LAYERNORM);
    L.affine = 1;
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

GANDEF gan_layer gan_flatten(void) { return gan__layer_new(GAN_FLATTEN); }

GANDEF gan_layer gan_upsample2x(void) { return gan__layer_new(GAN_UPSAMPLE2X); }

GANDEF gan_layer gan_avgpool2x(void) { return gan__layer_new(GAN_AVGPOOL2X); }

GANDEF gan_layer gan_scale(gan_float factor)
{
    gan_layer L = gan__layer_new(GAN_SCALE);
    L.scale = factor;
    return L;
}

GANDEF gan_layer gan_embedding(int classes, int dim)
{
    gan_layer L = gan__layer_new(GAN_EMBEDDING);
    GAN_ASSERT(classes > 0 && dim > 0 && "Embedding needs a positive class count and length");
    L.in_ch = classes;
    L.out_ch = dim;
    return L;
}

GANDEF gan_layer gan_no_bias(gan_layer layer)
{
    GAN_ASSERT((layer.kind == GAN_LINEAR || layer.kind == GAN_CONV2D || layer.kind == GAN_CONV_TRANSPOSE2D)
               && "gan_no_bias applies to Linear, Conv2d and ConvTranspose2d");
    layer.has_bias = 0;
    return layer;
}

GANDEF gan_layer gan_spectral_norm(gan_layer layer)
{
    GAN_ASSERT((layer.kind == GAN_LINEAR || layer.kind == GAN_CONV2D) && "gan_spectral_norm applies to Linear and Conv2d");
    layer.spectral = 1;
    return layer;
}

GANDEF gan_layer gan_no_affine(gan_layer layer)
{
    GAN_ASSERT((layer.kind == GAN_BATCHNORM || layer.kind == GAN_LAYERNORM)
               && "gan_no_affine applies to BatchNorm and LayerNorm");
    layer.affine = 0;
    return layer;
}

/* ---- sizes ---- */

/* Size arithmetic that saturates: a product or sum that would not fit in size_t gives SIZE_MAX, which
   every later product (of positive factors) and sum keeps, so one check of a total catches an
   overflow anywhere inside it. */
static size_t gan__mul(size_t a, size_t b) { return a && b > SIZE_MAX / a ? SIZE_MAX : a * b; }
static size_t gan__add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }
static size_t gan__count(gan_shape s) { return gan__mul(gan__mul((size_t)s.c, (size_t)s.h), (size_t)s.w); }

/* What a planned layer needs besides its parameters, in gan_float values. */
typedef struct gan__sizes {
    size_t saved_per_sample; /* kept from forward for backward, per sample (LayerNorm, Dropout) */
    size_t saved_fixed;      /* ... and per call (BatchNorm's statistics per channel) */
    size_t work;             /* scratch during one call, per sample of a chunk when work_chunk > 0 */
    int work_chunk;          /* samples the scratch serves at once (a convolution's chunk), or 0 */
    size_t work_fixed;       /* ... plus this much per call (a convolution's window table) */
    size_t buffers;          /* running statistics */
} gan__sizes;

/* A programmer error found while planning (a layer that does not fit its input): it stops at
   GAN_ASSERT; with NDEBUG the plan fails with the same message, so nothing is built from it. */
#define GAN__REQUIRE(cond, msg) \
    do {                        \
        GAN_ASSERT((cond) && msg); \
        if (!(cond)) return msg; \
    } while (0)

/* ---- the calls an op receives ---- */

/* How a forward runs: training (batch statistics, running estimates updated, Dropout drops),
   evaluation (running estimates, no Dropout), or batch statistics that update nothing
   (gan_net_infer with GAN_STATS_BATCH). */
typedef enum gan__mode { GAN__TRAIN, GAN__EVAL, GAN__BATCH_STATS } gan__mode;

/* One forward call: n samples of each input x[i] (per-sample shape in[i]) into y. */
typedef struct gan__fwd {
    int n, n_in;
    const gan_shape *in;
    const gan_float *const *x;
    gan_float *y;
    gan_float *saved; /* what the op keeps for its backward (gan__sizes' saved values) */
    gan__mode mode;
    int bias;         /* 0 leaves the bias out: the tangent of an affine map is its linear part */
} gan__fwd;

/* One backward call: dy = dL/dy in; dx[i] = dL/dx[i] out (written, =; NULL where not wanted);
   dW += when dparams, db += when dbias. The forward call it follows gives x, y and saved. */
typedef struct gan__bwd {
    const gan_float *dy;
    gan_float *const *dx;
    int dparams, dbias;
} gan__bwd;

/* The tangent half of a dual backward call: the inputs' tangents tx, and the tangent adjoint as a
   backward call of its own (dL/dty in, dL/dtx out). primal_zero: the primal adjoint is zero. */
typedef struct gan__dual_call {
    const gan_float *const *tx;
    gan__bwd tan;
    int primal_zero;
} gan__dual_call;

typedef struct gan__op gan__op;

/* One kind of op, described once. Gradient penalties use the last two: the tangent (forward-mode
   derivative) ty = J tx along input tangents tx, and the dual backward, which carries the primal
   adjoint back (`primal`: dL/dy -> dL/dx, zero when d->primal_zero) given the tangent adjoint
   d->tan.dy = dL/dty, adding the cross term d<dL/dty, J tx>/dx to the primal dx and dL/dparameters
   from both. The tangent adjoints need no pass of their own: they are the penalty's first backward's
   gradients (gan__dual_nodes), so d->tan.dx is NULL (each op leaves a NULL dx alone). dual returns
   whether it wrote the primal dx (not when it is zero). */
struct gan__op {
    gan_layer_kind kind;
    const char *name;
    int arity;      /* inputs; 0: one or more (Concat) */
    unsigned flags; /* GAN__NEEDS_X, ... below */
    /* Fixes L->out, L->nW, L->nb and s from the input shapes; NULL, or what is wrong. */
    const char *(*plan)(gan_layer *L, const gan_shape *in, int n_in, gan__sizes *s);
    void (*forward)(gan_layer *L, const gan__fwd *f);
    void (*backward)(gan_layer *L, const gan__fwd *f, const gan__bwd *b);
    void (*tangent)(const gan__op *op, gan_layer *L, const gan__fwd *f, const gan_float *const *tx, gan_float *ty);
    int (*dual)(const gan__op *op, gan_layer *L, const gan__fwd *f, const gan__bwd *primal, const gan__dual_call *d);
};

#define GAN__NEEDS_X 1u      /* its backward reads its inputs */
#define GAN__NEEDS_Y 2u      /* its backward reads its output */
#define GAN__VIEW 4u         /* its output is its input, reinterpreted: a network gives it no memory of its own */
#define GAN__LABEL_IN 8u     /* its input is a class index in [0, in_ch): straight from a network input,
                                checked before a forward runs, and no gradient reaches it */
#define GAN__NORMS_BATCH 16u /* in training it normalizes with batch statistics: it mixes the samples (no
                                per-sample penalty) and needs more than one value per channel */
#define GAN__RANDOM 32u      /* in training it draws noise from a stream of its own (no per-sample penalty) */
#define GAN__BILINEAR 64u    /* parameters meet the input in a product: the tangent adjoint's dW reads tangents */
#define GAN__IN_PLACE 128u   /* one input, y the shape of x: its forward may write y over x (when nothing
                                reads x later), its backward dL/dx over dL/dy */

/* The forward as the op's own backward sees it, with the tangents standing in for the inputs. */
static gan__fwd gan__on_tangents(const gan__fwd *f, const gan_float *const *tx, gan_float *ty)
{
    gan__fwd t = *f;
    t.x = tx;
    t.y = ty;
    t.bias = 0;
    return t;
}

/* Tangent of a linear op (or an affine one: the bias drops out): the op itself on the tangents. */
static void gan__tangent_linear(const gan__op *op, gan_layer *L, const gan__fwd *f, const gan_float *const *tx,
                                gan_float *ty)
{
    gan__fwd t = gan__on_tangents(f, tx, ty);
    op->forward(L, &t);
}

/* Tangent of an elementwise op: its Jacobian is diagonal, so J tx is its backward applied to tx. */
static void gan__tangent_diagonal(const gan__op *op, gan_layer *L, const gan__fwd *f, const gan_float *const *tx,
                                  gan_float *ty)
{
    gan__bwd b;
    b.dy = tx[0];
    b.dx = &ty;
    b.dparams = b.dbias = 0;
    op->backward(L, f, &b);
}

/* Dual backward of an op without a second-order term: the primal adjoint goes through the op's
   backward. The tangent adjoint adds only, for an op marked GAN__BILINEAR (Linear, convolutions),
   dW += dty tx^T (the backward reading the tangents where it reads the inputs; no bias term: the
   bias never reaches a tangent). */
static int gan__dual_linear(const gan__op *op, gan_layer *L, const gan__fwd *f, const gan__bwd *primal, const gan__dual_call *d)
{
    int primal_zero = d->primal_zero;
    if (!primal_zero) op->backward(L, f, primal);
    if ((op->flags & GAN__BILINEAR) && d->tan.dparams) {
        gan__fwd t = *f;
        gan__bwd tb = d->tan;
        t.x = d->tx;
        tb.dbias = 0;
        op->backward(L, &t, &tb);
    }
    return !primal_zero;
}

/* The plan of an op whose output has its input's shape. */
static const char *gan__plan_same(gan_layer *L, const gan_shape *in, int n_in, gan__sizes *s)
{
    (void)n_in;
    (void)s;
    L->out = in[0];
    return NULL;
}

/* Checked int result of a shape formula computed in a wider type. */
static int gan__fits_int(long long v) { return v > 0 && v <= INT_MAX; }

/* ---- Linear ---- */

static const char *gan__linear_plan(gan_layer *L, const gan_shape *in, int n_in, gan__sizes *s)
{
    (void)n_in;
    (void)s;
    GAN__REQUIRE((size_t)L->in_ch == gan__count(in[0]), "Linear: in_features must equal the input's C*H*W");
    L->out = gan_chw(L->out_ch, 1, 1);
    L->nW = gan__mul((size_t)L->out_ch, (size_t)L->in_ch);
    L->nb = L->has_bias ? (size_t)L->out_ch : 0;
    return NULL;
}

/* A bias along rows of n x width values: y[i][j] += b[j] (add), or db[j] += dy[i][j] row by row
   (grad; y is db, b is dy), for the columns j in [lo, hi): the threads take ranges of columns. */
typedef struct gan__row_bias_call {
    gan_float *y;
    const gan_float *b;
    int n, width, grad;
} gan__row_bias_call;

GAN__BODY void gan__row_bias_part_body(void *ctx, size_t lo, size_t hi)
{
    const gan__row_bias_call *u = (const gan__row_bias_call *)ctx;
    size_t j;
    int i;
    for (i = 0; i < u->n; i++) {
        gan_float *GAN__RESTRICT y = u->grad ? u->y : u->y + (size_t)i * u->width;
        const gan_float *GAN__RESTRICT b = u->grad ? u->b + (size_t)i * u->width : u->b;
        for (j = lo; j < hi; j++) y[j] += b[j];
    }
}
GAN__WIDE(gan__row_bias_part, (void *ctx, size_t lo, size_t hi), (ctx, lo, hi))

static void gan__row_bias(gan_float *y, const gan_float *b, int n, int width, int grad)
{
    gan__row_bias_call u;
    u.y = y;
    u.b = b;
    u.n = n;
    u.width = width;
    u.grad = grad;
    gan__parallel_for(gan__row_bias_part, &u, (size_t)width, GAN__ELEM_GRAIN / ((size_t)n + 1) + 1);
}

/* y (N, out) = x (N, in) W^T + b */
static void gan__linear_forward(gan_layer *L, const gan__fwd *f)
{
    gan__matmul(L, 0, 1, f->n, L->out_ch, L->in_ch, f->x[0], L->in_ch, L->W, L->in_ch, 0, f->y, L->out_ch);
    if (L->b && f->bias) gan__row_bias(f->y, L->b, f->n, L->out_ch, 0);
}

/* dW += dy^T x, db += sum_n dy, dx = dy W */
static void gan__linear_backward(gan_layer *L, const gan__fwd *f, const gan__bwd *b)
{
    if (b->dparams) gan__matmul(L, 1, 0, L->out_ch, L->in_ch, f->n, b->dy, L->out_ch, f->x[0], L->in_ch, 1, L->dW, L->in_ch);
    if (b->dbias && L->db) gan__row_bias(L->db, b->dy, f->n, L->out_ch, 1);
    if (b->dx[0]) gan__matmul(L, 0, 0, f->n, L->in_ch, L->out_ch, b->dy, L->out_ch, L->W, L->in_ch, 0, b->dx[0], L->in_ch);
}

/* ---- Conv2d and ConvTranspose2d ---- */

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

/* Samples a convolution runs through one GEMM: enough that the product is GAN__CONV_COLS columns wide
   (one sample's OH OW columns are too few for the tiles), and no more, which bounds the scratch. */
#define GAN__CONV_COLS 1024
static int gan__conv_chunk(int plane, int max_batch)
{
    int chunk = (GAN__CONV_COLS + plane - 1) / plane;
    return chunk < 1 ? 1 : chunk > max_batch && max_batch > 0 ? max_batch : chunk;
}

/* Samples whose columns col2im's paths (Conv2d's dL/dx, ConvTranspose2d's forward) hold at once:
   about GAN__COL_COLS columns, enough for the GEMM's tiles and few enough to stay in a core's cache
   for col2im, or more while the ckk rows of col stay within GAN__COL_VALUES (a one-channel side's 16
   rows would otherwise make 32 small products a batch, each a hand-off to the threads). A GAN_GEMM
   reads im2col's columns from the same buffer, so it keeps the whole chunk. */
#define GAN__COL_COLS 256
#define GAN__COL_VALUES (1 << 18)
static int gan__col_chunk(int plane, int ckk, int chunk)
{
#ifdef GAN__USER_GEMM
    (void)plane;
    (void)ckk;
    return chunk;
#else
    int c = (GAN__COL_COLS + plane - 1) / plane, fits = (int)(GAN__COL_VALUES / ((double)ckk * plane));
    if (fits > c) c = fits;
    return c < chunk ? c : chunk;
#endif
}

/* The chunk a call over n samples uses: at most gan__conv_chunk's, the chunks as even as can be
   (64 samples of at most 21 run as 4 x 16, not 21 + 21 + 21 + 1). */
static int gan__conv_even_chunk(int most, int n)
{
    int pieces = n > most ? (n + most - 1) / most : 1;
    return n > most ? (n + pieces - 1) / pieces : most;
}

/* Values of a convolution's prepacked weights, op(W) = W (other x ckk) or W^T: gan__prepack_a
   writes every K block's panels of all rows, M rounded up to a panel, so (M + a panel) K either way. */
static size_t gan__conv_wpack_count(size_t ckk, size_t other)
{
    size_t as_w = gan__mul(gan__add(other, GAN__MR_MAX), ckk), as_wt = gan__mul(gan__add(ckk, GAN__MR_MAX), other);
    return as_w > as_wt ? as_w : as_wt;
}

/* Gather plan blocks of a table row of n entries. */
static int gan__plan_blocks(size_t n) { return (int)((n + GAN__GVEC - 1) / GAN__GVEC); }

/* col2im by image rows, for a kernel set with a vector permute: for kernel column kw and the v-th
   vector of an image row, the lanes that an output row's column values land on (iw = ow stride -
   pad + kw) and which values: a vector load at column ow_lo, permuted. */
typedef struct gan__spread {
    int ow_lo;
    unsigned short lanes;
    unsigned char at[GAN__GVEC]; /* each lane's output column less ow_lo */
} gan__spread;

/* The spreads of every kernel column (rows of gan__plan_blocks(w) vectors). A vector of lanes at
   stride >= 1 reads at most GAN__GVEC consecutive output columns. */
static void gan__spread_table(gan__spread *sp, const gan_conv_geom *g)
{
    int kw, v, lane, nv = gan__plan_blocks((size_t)g->w);
    for (kw = 0; kw < g->k; kw++)
        for (v = 0; v < nv; v++, sp++) {
            memset(sp, 0, sizeof *sp);
            sp->ow_lo = -1;
            for (lane = 0; lane < GAN__GVEC && v * GAN__GVEC + lane < g->w; lane++) {
                int t = v * GAN__GVEC + lane + g->pad - kw;
                if (t < 0 || t % g->stride != 0 || t / g->stride >= g->ow) continue;
                if (sp->ow_lo < 0) sp->ow_lo = t / g->stride;
                sp->lanes = (unsigned short)(sp->lanes | 1u << lane);
                sp->at[lane] = (unsigned char)(t / g->stride - sp->ow_lo);
            }
            if (sp->ow_lo < 0) sp->ow_lo = 0;
        }
}

/* The most column values any input position sums in col2im: ceil(k / stride) per axis. */
static size_t gan__col2im_width_bound(const gan_conv_geom *g)
{
    size_t per_axis = (size_t)((g->k + g->stride - 1) / g->stride);
    return per_axis * per_axis;
}

/* Output size of both convolutions (PyTorch's formulas), weight and bias counts, and the im2col
   scratch: a (C k k) x (OH OW) matrix over the side of the convolution that im2col reads. The GEMM
   takes int sizes, so c k k and oh ow must fit in an int. */
static const char *gan__conv_plan(gan_layer *L, const gan_shape *in, int n_in, gan__sizes *s)
{
    int conv = L->kind == GAN_CONV2D;
    long long oh, ow;
    size_t kk, plans;
    gan_conv_geom g;
    (void)n_in;
    GAN__REQUIRE(L->k >= 1 && L->stride >= 1 && L->pad >= 0 && L->out_pad >= 0 && (conv || L->out_pad < L->stride) &&
                 L->in_ch >= 1 && L->out_ch >= 1, "convolution: k, stride, channels >= 1, pad >= 0, 0 <= out_pad < stride");
    if (conv) {
        GAN__REQUIRE(L->in_ch == in[0].c, "Conv2d: in_ch must equal the input's channels");
        GAN__REQUIRE((long long)in[0].h + 2LL * L->pad >= L->k && (long long)in[0].w + 2LL * L->pad >= L->k,
                     "Conv2d: kernel larger than the padded input");
        oh = ((long long)in[0].h + 2LL * L->pad - L->k) / L->stride + 1;
        ow = ((long long)in[0].w + 2LL * L->pad - L->k) / L->stride + 1;
    } else {
        GAN__REQUIRE(L->in_ch == in[0].c, "ConvTranspose2d: in_ch must equal the input's channels");
        oh = ((long long)in[0].h - 1) * L->stride - 2LL * L->pad + L->k + L->out_pad;
        ow = ((long long)in[0].w - 1) * L->stride - 2LL * L->pad + L->k + L->out_pad;
        GAN__REQUIRE(oh > 0 && ow > 0, "ConvTranspose2d: padding leaves no output");
    }
    if (!gan__fits_int(oh) || !gan__fits_int(ow)) return "convolution: output height or width does not fit in an int";
    L->out = gan_chw(L->out_ch, (int)oh, (int)ow);
    g = gan__geom(L);
    kk = gan__mul((size_t)L->k, (size_t)L->k);
    if (gan__mul(kk, (size_t)g.c) > INT_MAX || oh * ow > INT_MAX || (long long)in[0].h * in[0].w > INT_MAX)
        return "convolution: C*k*k or H*W exceeds the GEMM's int sizes";
    if ((double)g.c * g.h * g.w * gan__conv_chunk(g.oh * g.ow, 0) > INT_MAX)
        return "convolution: a chunk's images exceed the window table's int indices";
    L->nW = gan__mul(gan__mul((size_t)L->in_ch, (size_t)L->out_ch), kk);
    L->nb = L->has_bias ? (size_t)L->out_ch : 0;
    /* per sample of a chunk: the other side's channels; per call: col2im's columns, then (ints) the
       window table and col2im's table (for each input position, up to ceil(k / stride)^2 entries) */
    s->work = gan__mul((size_t)(conv ? L->out_ch : L->in_ch), gan__mul((size_t)g.oh, (size_t)g.ow));
    s->work_chunk = gan__conv_chunk(g.oh * g.ow, 0);
    s->work_fixed = gan__add(gan__mul(gan__mul((size_t)g.c, kk), gan__mul((size_t)g.oh * g.ow,
                                                                        (size_t)gan__col_chunk(g.oh * g.ow, (int)kk * g.c,
                                                                                               s->work_chunk))),
                             gan__add(gan__mul(kk, gan__mul((size_t)g.oh * g.ow, (size_t)s->work_chunk)),
                                      gan__mul(gan__col2im_width_bound(&g), (size_t)g.h * g.w)));
    s->work_fixed = gan__add(s->work_fixed, gan__conv_wpack_count(gan__mul((size_t)g.c, kk), (size_t)(conv ? L->out_ch : L->in_ch)));
    /* then col2im's slack, the window rows' gather plans and the spreads of col2im by rows, in floats */
    plans = gan__mul(gan__mul(kk, (size_t)gan__plan_blocks(gan__mul((size_t)g.oh * g.ow, (size_t)s->work_chunk))),
                     sizeof(gan__gblock));
    plans = gan__add(plans,
                     gan__mul(gan__mul((size_t)L->k, (size_t)gan__plan_blocks((size_t)g.w)), sizeof(gan__spread)));
    s->work_fixed = gan__add(s->work_fixed, GAN__GVEC + plans / sizeof(gan_float) + 1);
    return NULL;
}

/* A per-channel bias over n samples of `channels` planes: added to y, or its gradient summed into db. */
typedef struct gan__bias_call {
    gan_float *y;       /* y, or db */
    const gan_float *b; /* b, or dy */
    int n, channels;
    size_t plane;
} gan__bias_call;

/* y[i][c] += b[c] over each position, for the rows r = i channels + c in [lo, hi) */
GAN__BODY void gan__add_bias_part_body(void *ctx, size_t lo, size_t hi)
{
    const gan__bias_call *u = (const gan__bias_call *)ctx;
    size_t r, j;
    for (r = lo; r < hi; r++) {
        gan_float *GAN__RESTRICT yc = u->y + r * u->plane, bc = u->b[r % (size_t)u->channels];
        for (j = 0; j < u->plane; j++) yc[j] += bc;
    }
}
GAN__WIDE(gan__add_bias_part, (void *ctx, size_t lo, size_t hi), (ctx, lo, hi))

/* db[c] += the sum of dy[i][c] over the samples and positions, in double lanes that run on from
   sample to sample, for the channels c in [lo, hi) */
GAN__BODY void gan__bias_grad_part_body(void *ctx, size_t lo, size_t hi)
{
    const gan__bias_call *u = (const gan__bias_call *)ctx;
    size_t c;
    int i;
    for (c = lo; c < hi; c++) {
        double acc[GAN__LANES] = { 0 };
        for (i = 0; i < u->n; i++) {
            const gan_float *GAN__RESTRICT d = u->b + ((size_t)i * u->channels + c) * u->plane;
            GAN__RUN_SUM(acc, u->plane, d[j]);
        }
        u->y[c] += (gan_float)gan__lanes_total(acc);
    }
}
GAN__WIDE(gan__bias_grad_part, (void *ctx, size_t lo, size_t hi), (ctx, lo, hi))

static void gan__channel_bias(gan__range_fn part, gan_float *y, const gan_float *b, int n, int channels, size_t plane)
{
    gan__bias_call u;
    int grad = part == gan__bias_grad_part;
    u.y = y;
    u.b = b;
    u.n = n;
    u.channels = channels;
    u.plane = plane;
    gan__parallel_for(part, &u, grad ? (size_t)channels : (size_t)n * channels,
                      GAN__ELEM_GRAIN / (plane * (grad ? (size_t)n : 1) + 1) + 1);
}

/* y[oc] += b[oc] over each of the `plane` positions of every sample */
static void gan__add_channel_bias(gan_float *y, const gan_float *b, int n, int channels, size_t plane)
{
    gan__channel_bias(gan__add_bias_part, y, b, n, channels, plane);
}

/* db[oc] += sum over samples and positions of dy[oc] */
static void gan__channel_bias_grad(gan_float *db, const gan_float *dy, int n, int channels, size_t plane)
{
    gan__channel_bias(gan__bias_grad_part, db, dy, n, channels, plane);
}

/* Between a batch's layout (n, C, plane) and a GEMM operand's (C, n plane), the channels of n
   samples side by side: one plane of one sample and channel per row r = s C + c, rows in parallel. */
typedef struct gan__regroup {
    gan_float *dst;
    const gan_float *src;
    int n, channels, to_operand; /* gather into the operand (1) or scatter back (0) */
    size_t plane;
} gan__regroup;

/* The rows are short (a plane of 7 x 7 is 196 bytes): copied in a loop that the vector copies keep
   inline, where a call to memcpy a row would cost about what the copy does. */
GAN__BODY void gan__regroup_part_body(void *ctx, size_t lo, size_t hi)
{
    const gan__regroup *u = (const gan__regroup *)ctx;
    size_t r, j;
    for (r = lo; r < hi; r++) {
        size_t s = r / (size_t)u->channels, c = r % (size_t)u->channels;
        size_t batch_at = r * u->plane, operand_at = (c * (size_t)u->n + s) * u->plane;
        gan_float *GAN__RESTRICT d = u->dst + (u->to_operand ? operand_at : batch_at);
        const gan_float *GAN__RESTRICT x = u->src + (u->to_operand ? batch_at : operand_at);
        for (j = 0; j < u->plane; j++) d[j] = x[j];
    }
}
GAN__WIDE(gan__regroup_part, (void *ctx, size_t lo, size_t hi), (ctx, lo, hi))

static void gan__regroup_batch(gan_float *dst, const gan_float *src, int n, int channels, size_t plane, int to_operand)
{
    gan__regroup u;
    u.dst = dst;
    u.src = src;
    u.n = n;
    u.channels = channels;
    u.plane = plane;
    u.to_operand = to_operand;
    gan__parallel_for(gan__regroup_part, &u, (size_t)n * channels, GAN__ELEM_GRAIN / (plane + 1) + 1);
}

/* The chunk's n samples at src (n, C, plane) as a GEMM operand (C, n plane): src itself for one
   sample, else gathered into side. */
static const gan_float *gan__batch_operand(gan_float *side, const gan_float *src, int n, int channels, size_t plane)
{
    if (n == 1) return src;
    gan__regroup_batch(side, src, n, channels, plane, 1);
    return side;
}

/* dst (n, C, plane) = src (C, n plane): gan__batch_operand's gather undone. */
static void gan__batch_scatter(gan_float *dst, const gan_float *src, int n, int channels, size_t plane)
{
    gan__regroup_batch(dst, src, n, channels, plane, 0);
}

/* The scratch of one batched convolution call: the other side's channels for a chunk's columns (a
   GEMM operand or result, the chunk's samples side by side), col2im's columns (c k k) x (col_chunk
   OH OW) over the side im2col reads (geometry g), then the window table and col2im's table. */
typedef struct gan__conv_work {
    gan_conv_geom g;
    int ckk, plane, chunk, col_chunk, col_ld, other_ch;
    size_t count;       /* values per sample on im2col's side */
    gan_float *col, *side, *wpack; /* wpack: the weights prepacked as the GEMM's A */
    gan__im2col_src im; /* the chunk's columns as a GEMM operand, its window table in the scratch */
    int *sum_at, sum_width; /* col2im as sums: input position p (one channel of one sample) is the sum
                               over e < sum_width of col[sum_at[e hw + p]], each entry -1 for none
                               (made only where there is no spread) */
    const gan__spread *spread; /* AVX-512's col2im by rows (gan__spread_table), or NULL */
} gan__conv_work;

/* The window table's row for kernel offset (ki, kj): for each column q = s OH OW + oh OW + ow of a
   chunk, the index s count + (oh stride - pad + ki) w + ow stride - pad + kj of channel 0 of sample
   s, or -1 where the window leaves the image. im2col, col2im and the GEMM's packing then read
   through the table with no bounds arithmetic. */
static void gan__window_row(int *window, const gan_conv_geom *g, int ki, int kj, int chunk, size_t count)
{
    int s, oh, ow;
    for (s = 0; s < chunk; s++)
        for (oh = 0; oh < g->oh; oh++)
            for (ow = 0; ow < g->ow; ow++) {
                int ih = oh * g->stride - g->pad + ki, iw = ow * g->stride - g->pad + kj;
                *window++ = ih >= 0 && ih < g->h && iw >= 0 && iw < g->w ? s * (int)count + ih * g->w + iw : -1;
            }
}

/* The window table's rows [lo, hi) (kernel offsets kk = ki k + kj) of a call's scratch, each with its
   gather plans when the kernel set reads them (plans not NULL). */
typedef struct gan__window_tables {
    const gan__conv_work *w;
    int *window;        /* w's table, written here (w holds it as const) */
    gan__gblock *plans; /* or NULL */
} gan__window_tables;

static void gan__window_tables_part(void *ctx, size_t lo, size_t hi)
{
    const gan__window_tables *u = (const gan__window_tables *)ctx;
    const gan__im2col_src *im = &u->w->im;
    size_t kk;
    for (kk = lo; kk < hi; kk++) {
        int *row = u->window + kk * (size_t)im->ld;
        gan__window_row(row, &u->w->g, (int)kk / u->w->g.k, (int)kk % u->w->g.k, u->w->chunk, u->w->count);
        if (u->plans) gan__gather_plan(u->plans + kk * (size_t)im->plan_ld, row, im->ld, (int)u->w->count, im->hw);
    }
}

/* Table entries (a row and its plans cost about 10 ns an entry) worth waking the threads for. */
#define GAN__TABLE_GRAIN 4096

/* col2im's table: for each input position p of channel 0 of sample 0, the entries kk col_ld + pos of
   the columns whose windows read p (window rows ld apart), in increasing kernel offset kk (the order
   a scatter-add would add them in), entry e of p at at[e hw + p] (so a run of positions is a vector
   gather), -1 past p's last. Returns the width: the most entries of any position. */
static int gan__col2im_table(int *at, const int *window, int ld, int col_ld, int kk_n, int plane, int hw, size_t bound)
{
    int kk, pos, width = 0;
    size_t e;
    for (e = 0; e < bound * (size_t)hw; e++) at[e] = -1;
    for (kk = 0; kk < kk_n; kk++)
        for (pos = 0; pos < plane; pos++) {
            int q = window[(size_t)kk * ld + pos], slot = 0;
            if (q < 0) continue;
            while (at[(size_t)slot * hw + q] >= 0) slot++;
            GAN_ASSERT((size_t)slot < bound && "col2im: more entries than ceil(k / stride)^2");
            at[(size_t)slot * hw + q] = kk * col_ld + pos;
            if (slot + 1 > width) width = slot + 1;
        }
    return width;
}

static gan__conv_work gan__conv_scratch(const gan_layer *L, int n)
{
    gan__conv_work w;
    gan__window_tables tables;
    int *window;
    w.g = gan__geom(L);
    w.ckk = w.g.c * L->k * L->k;
    w.plane = w.g.oh * w.g.ow;
    w.chunk = gan__conv_even_chunk(gan__conv_chunk(w.plane, L->max_batch), n);
    w.other_ch = L->kind == GAN_CONV2D ? L->out_ch : L->in_ch;
    w.count = (size_t)w.g.c * w.g.h * w.g.w;
    w.col_chunk = gan__col_chunk(w.plane, w.ckk, w.chunk);
    w.col_ld = w.col_chunk * w.plane;
    w.side = L->work;
    w.col = w.side + (size_t)w.other_ch * w.chunk * w.plane;
    w.wpack = w.col + (size_t)w.ckk * w.col_ld + GAN__GVEC; /* col2im's vector loads may read past col */
    window = (int *)(void *)(w.wpack + gan__conv_wpack_count((size_t)w.ckk, (size_t)w.other_ch));
    w.im.x = NULL;
    w.im.window = window;
    w.im.ld = w.chunk * w.plane;
    w.im.kk_n = L->k * L->k;
    w.im.hw = w.g.h * w.g.w;
    w.sum_at = window + (size_t)w.im.kk_n * w.im.ld;
    w.sum_width = 0;
    w.im.plan = NULL;
    w.spread = NULL;
    w.im.plan_ld = gan__plan_blocks((size_t)w.im.ld);
    tables.w = &w;
    tables.window = window;
    tables.plans = gan__isa()->planned ? (gan__gblock *)(void *)(w.sum_at + gan__col2im_width_bound(&w.g) * (size_t)w.im.hw)
                                       : NULL;
    gan__parallel_for(gan__window_tables_part, &tables, (size_t)w.im.kk_n, GAN__TABLE_GRAIN / (size_t)w.im.ld + 1);
    if (!tables.plans) {
        w.sum_width = gan__col2im_table(w.sum_at, window, w.im.ld, w.col_ld, w.im.kk_n, w.plane, w.im.hw,
                                        gan__col2im_width_bound(&w.g));
    } else { /* col2im by rows needs no table of its own */
        gan__spread *spread = (gan__spread *)(void *)(tables.plans + (size_t)w.im.kk_n * w.im.plan_ld);
        gan__spread_table(spread, &w.g);
        w.im.plan = tables.plans;
        w.spread = spread;
    }
    return w;
}

/* im2col or col2im of samples of one chunk, in parallel: the i-th has columns i plane onwards of the
   column matrix (rows w->col_ld apart). im2col reads the chunk's images at `in` (samples first
   onwards) into columns at `out`; col2im reads columns at `in` and overwrites images at `out`. */
typedef struct gan__unfold {
    gan_float *out;
    const gan_float *in;
    int first;
    const gan__conv_work *w;
} gan__unfold;

static void gan__im2col_part(void *ctx, size_t lo, size_t hi)
{
    const gan__unfold *u = (const gan__unfold *)ctx;
    const gan__conv_work *w = u->w;
    int i, c, kk, pos;
    for (i = (int)lo; i < (int)hi; i++)
        for (c = 0; c < w->g.c; c++) {
            const gan_float *GAN__RESTRICT xc = u->in + (size_t)c * w->im.hw;
            for (kk = 0; kk < w->im.kk_n; kk++) {
                gan_float *GAN__RESTRICT row = u->out + (size_t)(c * w->im.kk_n + kk) * w->col_ld + (size_t)i * w->plane;
                const int *GAN__RESTRICT t = w->im.window + (size_t)kk * w->im.ld + (size_t)(u->first + i) * w->plane;
                for (pos = 0; pos < w->plane; pos++) row[pos] = t[pos] >= 0 ? xc[t[pos]] : 0;
            }
        }
}

#if defined(GAN__DISPATCH_X86) && !defined(GAN_DOUBLE)
/* One vector of an image row's col2im in nb (1 or 4) samples plane apart: zero plus, for each
   kernel row kh from kh0 on, every stride-th while its window covers the row, and each kernel
   column kw in turn, the permuted column values of the output row that land there (gan__spread);
   c is the channel's place among col's rows. Four samples make four chains of adds, which overlap. */
#define GAN__SPREAD_ADD(acc, off) \
    acc = _mm512_mask_add_ps(acc, lanes, acc, _mm512_maskz_permutexvar_ps(lanes, at, _mm512_loadu_ps(r + (off))))
__attribute__((target("avx512f"))) static inline void
gan__col2im_vector_avx512(float *xv, size_t count, const float *col, int plane, int nb, int ih, int kh0, int v, int c,
                          const gan__conv_work *w)
{
    const gan_conv_geom *g = &w->g;
    int kh, kw, nv = gan__plan_blocks((size_t)g->w), left = g->w - v * GAN__GVEC;
    __mmask16 tail = (__mmask16)(left >= GAN__GVEC ? 0xFFFF : (1u << left) - 1);
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (kh = kh0; kh < g->k && ih + g->pad - kh >= 0; kh += g->stride) {
        const float *row = col + (size_t)(c * g->k + kh) * g->k * w->col_ld +
                           (size_t)((ih + g->pad - kh) / g->stride) * g->ow;
        for (kw = 0; kw < g->k; kw++, row += w->col_ld) {
            const gan__spread *sp = w->spread + (size_t)kw * nv + v;
            __mmask16 lanes = (__mmask16)sp->lanes;
            __m512i at = gan__bytes_avx512(sp->at);
            const float *r = row + sp->ow_lo;
            GAN__SPREAD_ADD(a0, 0);
            if (nb == 4) {
                GAN__SPREAD_ADD(a1, plane);
                GAN__SPREAD_ADD(a2, 2 * plane);
                GAN__SPREAD_ADD(a3, 3 * plane);
            }
        }
    }
    _mm512_mask_storeu_ps(xv, tail, a0);
    if (nb == 4) {
        _mm512_mask_storeu_ps(xv + count, tail, a1);
        _mm512_mask_storeu_ps(xv + 2 * count, tail, a2);
        _mm512_mask_storeu_ps(xv + 3 * count, tail, a3);
    }
}
#undef GAN__SPREAD_ADD

/* col2im of n samples' channels c_lo .. c_hi (col's rows from channel c_lo's first), image row by
   image row, vector by vector, in the order gan__col2im_part's sums add them. The first kernel row
   covering image row ih is kh0 = (ih + pad) mod stride, past those whose output row would be
   beyond the last. */
__attribute__((target("avx512f"))) static void gan__col2im_avx512(float *x, const float *col, int n, int c_lo,
                                                                  int c_hi, const gan__conv_work *w)
{
    const gan_conv_geom *g = &w->g;
    int c, s, ih, v, nv = gan__plan_blocks((size_t)g->w);
    for (c = c_lo; c < c_hi; c++)
        for (ih = 0; ih < g->h; ih++) {
            int kh0 = (ih + g->pad) % g->stride, oh = (ih + g->pad) / g->stride;
            for (; oh >= g->oh; oh--) kh0 += g->stride;
            for (v = 0; v < nv; v++)
                for (s = 0; s < n; s += n - s >= 4 ? 4 : 1)
                    gan__col2im_vector_avx512(x + (size_t)s * w->count + (size_t)c * w->im.hw + (size_t)ih * g->w +
                                                  v * GAN__GVEC,
                                              w->count, col + (size_t)s * w->plane, w->plane, n - s >= 4 ? 4 : 1, ih,
                                              kh0, v, c - c_lo, w);
        }
}
#endif

/* x = col2im(col), sample by sample: each input value the sum of the column values that read it, in
   increasing kernel offset, as a scatter-add into zeros adds them: a plane of x is zero plus the
   gather of each entry in turn (or, on AVX-512, the same sums row by row). */
static void gan__col2im_part(void *ctx, size_t lo, size_t hi)
{
    const gan__unfold *u = (const gan__unfold *)ctx;
    const gan__conv_work *w = u->w;
    const gan__isa_info *isa = gan__isa();
    int s, c, e, hw = w->im.hw;
#if defined(GAN__DISPATCH_X86) && !defined(GAN_DOUBLE)
    if (w->spread) {
        gan__col2im_avx512(u->out + lo * w->count, u->in + lo * w->plane, (int)(hi - lo), 0, w->g.c, w);
        return;
    }
#endif
    for (s = (int)lo; s < (int)hi; s++) {
        for (c = 0; c < w->g.c; c++) {
            gan_float *xc = u->out + (size_t)s * w->count + (size_t)c * hw;
            const gan_float *cc = u->in + (size_t)c * w->im.kk_n * w->col_ld + (size_t)s * w->plane;
            memset(xc, 0, (size_t)hw * sizeof(gan_float));
            for (e = 0; e < w->sum_width; e++) isa->gather_add(xc, cc, w->sum_at + (size_t)e * hw, NULL, hw);
        }
    }
}

/* part (gan__im2col_part or gan__col2im_part) over nc samples of a chunk, from sample `first` (im2col). */
static void gan__unfold_batch(gan__range_fn part, gan_float *out, const gan_float *in, int first, int nc,
                              const gan__conv_work *w)
{
    gan__unfold u;
    u.out = out;
    u.in = in;
    u.first = first;
    u.w = w;
    gan__parallel_for(part, &u, (size_t)nc, 1);
}

#if defined(GAN__DISPATCH_X86) && !defined(GAN_DOUBLE) && !defined(GAN__USER_GEMM)
/* col = W^T B then its col2im, fused: each thread takes whole channels of col's rows (c k k each),
   a group of rows at a time (at most a GEMM row block, a multiple of the kernels' mr rows), and sums
   a group into the images while it is still in the cache: each group's rows are written over the
   thread's first group's, so col is a few hundred KiB in use where the product and then col2im over
   all of it (a megabyte and more) would go through memory. */
typedef struct gan__fused_col2im {
    gan__gemm_job job;
    const gan__conv_work *w;
    gan_float *out; /* the first sample's image */
    int n, per_thread, group; /* samples; channels a thread, a group */
    int by_samples; /* too few channels to share: each thread takes samples, all of their rows */
} gan__fused_col2im;

static void gan__fused_col2im_part(void *ctx, int t, int nt)
{
    const gan__fused_col2im *u = (const gan__fused_col2im *)ctx;
    int kk_n = u->w->im.kk_n, c0 = t * u->per_thread, end = c0 + u->per_thread, c1;
    gan__gemm_job job = u->job;
    if (u->by_samples) { /* the columns of samples s0 .. s1, then their images */
        int s0 = u->n * t / nt, s1 = u->n * (t + 1) / nt, plane = u->w->plane;
        if (s0 == s1) return;
        gan__gemm_range(&job, gan__pack_of(u->job.pack0, t), 0, job.M, s0 * plane, s1 * plane);
        gan__col2im_avx512(u->out + (size_t)s0 * u->w->count, job.C + (size_t)s0 * plane, s1 - s0, 0, u->w->g.c, u->w);
        return;
    }
    if (end > u->w->g.c) end = u->w->g.c;
    job.C = u->job.C + (size_t)c0 * kk_n * job.ldc_i; /* the rows of the thread's first group */
    for (; c0 < end; c0 = c1) {
        c1 = c0 + u->group < end ? c0 + u->group : end;
        job.a_row0 = c0 * kk_n;
        job.M = (c1 - c0) * kk_n;
        gan__gemm_range(&job, gan__pack_of(u->job.pack0, t), 0, job.M, 0, job.N);
        gan__col2im_avx512(u->out, job.C, u->n, c0, c1, u->w);
        /* B (K x N) packed by the first group serves the others when it is one block */
        job.b_ready = job.K <= job.isa->kc && job.N <= GAN__NC;
    }
}
#endif

/* out (nt samples, the im2col side's images) = col2im(W^T B) with W's transpose prepacked in Wp
   (gan__conv_weights), B the K x (nt plane) block at B (rows ldb apart), through w->col. */
static void gan__col2im_product(const gan_layer *L, const gan__conv_work *w, const gan_float *Wp, int K,
                                const gan_float *B, int ldb, int nt, gan_float *out)
{
#if defined(GAN__DISPATCH_X86) && !defined(GAN_DOUBLE) && !defined(GAN__USER_GEMM)
    if (w->spread) {
        gan__fused_col2im u;
        int mr = gan__isa()->mr, kk_n = w->im.kk_n, a, b, step, threads;
        for (a = mr, b = kk_n; b; step = a % b, a = b, b = step) {} /* a = gcd(mr, k k) */
        step = mr / a; /* channels whose rows are a multiple of mr */
        /* the product's own job (W^T is prepacked, so never computed transposed), its thread count */
        threads = gan__gemm_job_of(&u.job, L->pack, 1, 0, w->ckk, nt * w->plane, K, 1, L->W, w->ckk, Wp, B, ldb,
                                   NULL, 0, w->col, w->col_ld);
        u.w = w;
        u.out = out;
        u.n = nt;
        u.per_thread = (w->g.c + threads - 1) / threads;
        u.per_thread = (u.per_thread + step - 1) / step * step;
        u.group = GAN__MC / kk_n / step * step;
        if (u.group < step) u.group = step;
        u.by_samples = 0;
        if (threads > 1 && (w->g.c + u.per_thread - 1) / u.per_thread == 1) { /* one thread's channels */
            u.by_samples = 1;
            if (threads > nt) threads = nt;
        } else threads = (w->g.c + u.per_thread - 1) / u.per_thread;
        gan__parallel(gan__fused_col2im_part, &u, threads);
        return;
    }
#endif
    gan__matmul_w(L, Wp, 1, w->ckk, nt * w->plane, K, L->W, w->ckk, B, ldb, 0, w->col, w->col_ld);
    gan__unfold_batch(gan__col2im_part, out, w->col, 0, nt, w);
}

/* Makes the im2col of the chunk's nc images at x the GEMM operand of gan__matmul_columns. The packed
   GEMM gathers the windows straight into its panels; a GAN_GEMM needs them in w->col first. */
static void gan__conv_columns(gan__conv_work *w, const gan_float *x, int nc)
{
    w->im.x = x;
#ifdef GAN__USER_GEMM
    gan__unfold_batch(gan__im2col_part, w->col, x, 0, nc, w);
#else
    (void)nc;
#endif
}

/* C = op(A) op(col) + beta C with the chunk's columns as B: op(col) = col (ckk x cols), or col^T. A
   is the layer's weights prepacked in Wp (gan__conv_weights) when Wp is not NULL. */
static void gan__matmul_columns(const gan_layer *L, const gan__conv_work *w, const gan_float *Wp, int trans_b, int M,
                                int N, int K, const gan_float *A, int lda, gan_float beta, gan_float *C, int ldc)
{
#ifdef GAN__USER_GEMM
    (void)L;
    (void)Wp;
    GAN_GEMM(0, trans_b, M, N, K, 1, A, lda, w->col, w->col_ld, beta, C, ldc);
#else
    gan__gemm_packed(L->pack, 0, trans_b, M, N, K, 1, A, lda, Wp, NULL, 0, &w->im, beta, C, ldc);
#endif
}

/* dW (M x ckk) += A (M x the chunk's columns, rows lda apart) im2col(x)^T over the chunk's nc images at
   x. When ckk is narrower than a tile (a first layer's one channel) the gathered operand would fill a
   quarter of each tile, so im2col fills col2im's columns part by part instead, and the packed GEMM
   computes each part transposed, in full tiles. */
static void gan__conv_dW(const gan_layer *L, gan__conv_work *w, const gan_float *x, int nc, int M, const gan_float *A,
                         int lda, gan_float *dW)
{
#ifndef GAN__USER_GEMM
    int t0;
    if (w->ckk < gan__isa()->nr && M > w->ckk) {
        for (t0 = 0; t0 < nc; t0 += w->col_chunk) {
            int nt = nc - t0 < w->col_chunk ? nc - t0 : w->col_chunk;
            gan__unfold_batch(gan__im2col_part, w->col, x, t0, nt, w);
            gan__matmul(L, 0, 1, M, w->ckk, nt * w->plane, A + (size_t)t0 * w->plane, lda, w->col, w->col_ld, 1, dW, w->ckk);
        }
        return;
    }
#endif
    gan__conv_columns(w, x, nc);
    gan__matmul_columns(L, w, NULL, 1, M, w->ckk, nc * w->plane, A, lda, 1, dW, w->ckk);
}

/* The layer's weights as the GEMM's A, op(W) = W (trans_a 0) or W^T, M x K: packed once for all the
   call's chunks. NULL with a GAN_GEMM, which takes W as it is. */
static const gan_float *gan__conv_weights(const gan_layer *L, const gan__conv_work *w, int trans_a, int M, int K)
{
#ifdef GAN__USER_GEMM
    (void)L;
    (void)w;
    (void)trans_a;
    (void)M;
    (void)K;
    return NULL;
#else
    gan__prepack_a(w->wpack, L->W, trans_a ? M : K, trans_a, M, K);
    return w->wpack;
#endif
}

/* Per chunk of samples: Y (OC x chunk OH OW) = W (OC x C k k) im2col(x), y = Y + b */
static void gan__conv2d_forward(gan_layer *L, const gan__fwd *f)
{
    gan__conv_work w = gan__conv_scratch(L, f->n);
    size_t in_count = gan__shape_count(L->in), out_count = gan__shape_count(L->out);
    const gan_float *Wp = gan__conv_weights(L, &w, 0, L->out_ch, w.ckk);
    int s0;
    for (s0 = 0; s0 < f->n; s0 += w.chunk) {
        int nc = f->n - s0 < w.chunk ? f->n - s0 : w.chunk, cols = nc * w.plane;
        gan_float *y = f->y + (size_t)s0 * out_count;
        gan__conv_columns(&w, f->x[0] + (size_t)s0 * in_count, nc);
        gan__matmul_columns(L, &w, Wp, 0, L->out_ch, cols, w.ckk, L->W, w.ckk, 0, nc == 1 ? y : w.side, cols);
        if (nc > 1) gan__batch_scatter(y, w.side, nc, L->out_ch, (size_t)w.plane);
    }
    if (L->b && f->bias) gan__add_channel_bias(f->y, L->b, f->n, L->out_ch, (size_t)w.plane);
}

/* Per chunk: dW += dY im2col(x)^T; then per col2im's part of it, dcol = W^T dY, dx = col2im(dcol) */
static void gan__conv2d_backward(gan_layer *L, const gan__fwd *f, const gan__bwd *b)
{
    gan__conv_work w = gan__conv_scratch(L, f->n);
    size_t in_count = gan__shape_count(L->in), out_count = gan__shape_count(L->out);
    gan_float *dx = b->dx[0];
    const gan_float *Wp = dx ? gan__conv_weights(L, &w, 1, w.ckk, L->out_ch) : NULL;
    int s0, t0;
    if (b->dparams || dx)
        for (s0 = 0; s0 < f->n; s0 += w.chunk) {
            int nc = f->n - s0 < w.chunk ? f->n - s0 : w.chunk, cols = nc * w.plane;
            const gan_float *dY = gan__batch_operand(w.side, b->dy + (size_t)s0 * out_count, nc, L->out_ch, (size_t)w.plane);
            if (b->dparams) gan__conv_dW(L, &w, f->x[0] + (size_t)s0 * in_count, nc, L->out_ch, dY, cols, L->dW);
            for (t0 = 0; dx && t0 < nc; t0 += w.col_chunk) { /* col holds dcol (im2col's copy, if any, being done with) */
                int nt = nc - t0 < w.col_chunk ? nc - t0 : w.col_chunk;
                gan__col2im_product(L, &w, Wp, L->out_ch, dY + (size_t)t0 * w.plane, cols, nt,
                                    dx + (size_t)(s0 + t0) * in_count);
            }
        }
    if (b->dbias && L->db) gan__channel_bias_grad(L->db, b->dy, f->n, L->out_ch, (size_t)w.plane);
}

/* Per chunk, and per col2im's part of it: col (OC k k x part H W) = W^T X, y = col2im(col) + b.
   W is (in_ch, out_ch k k). */
static void gan__conv_transpose2d_forward(gan_layer *L, const gan__fwd *f)
{
    gan__conv_work w = gan__conv_scratch(L, f->n);
    size_t in_count = gan__shape_count(L->in), out_count = gan__shape_count(L->out);
    const gan_float *Wp = gan__conv_weights(L, &w, 1, w.ckk, L->in_ch);
    int s0, t0;
    for (s0 = 0; s0 < f->n; s0 += w.chunk) {
        int nc = f->n - s0 < w.chunk ? f->n - s0 : w.chunk, cols = nc * w.plane;
        const gan_float *X = gan__batch_operand(w.side, f->x[0] + (size_t)s0 * in_count, nc, L->in_ch, (size_t)w.plane);
        for (t0 = 0; t0 < nc; t0 += w.col_chunk) {
            int nt = nc - t0 < w.col_chunk ? nc - t0 : w.col_chunk;
            gan__col2im_product(L, &w, Wp, L->in_ch, X + (size_t)t0 * w.plane, cols, nt,
                                f->y + (size_t)(s0 + t0) * out_count);
        }
    }
    if (L->b && f->bias) gan__add_channel_bias(f->y, L->b, f->n, L->out_ch, (size_t)L->out.h * L->out.w);
}

/* Per chunk, with dcol = im2col(dy): dW += X dcol^T; dX = W dcol */
static void gan__conv_transpose2d_backward(gan_layer *L, const gan__fwd *f, const gan__bwd *b)
{
    gan__conv_work w = gan__conv_scratch(L, f->n);
    size_t in_count = gan__shape_count(L->in), out_count = gan__shape_count(L->out);
    gan_float *dx = b->dx[0];
    const gan_float *Wp = dx ? gan__conv_weights(L, &w, 0, L->in_ch, w.ckk) : NULL;
    int s0;
    if (b->dparams || dx)
        for (s0 = 0; s0 < f->n; s0 += w.chunk) {
            int nc = f->n - s0 < w.chunk ? f->n - s0 : w.chunk, cols = nc * w.plane;
            if (b->dparams) {
                const gan_float *X = gan__batch_operand(w.side, f->x[0] + (size_t)s0 * in_count, nc, L->in_ch,
                                                        (size_t)w.plane);
                gan__conv_dW(L, &w, b->dy + (size_t)s0 * out_count, nc, L->in_ch, X, cols, L->dW);
            }
            if (dx) {
                gan__conv_columns(&w, b->dy + (size_t)s0 * out_count, nc);
                gan_float *dX = dx + (size_t)s0 * in_count;
                gan__matmul_columns(L, &w, Wp, 0, L->in_ch, cols, w.ckk, L->W, w.ckk, 0, nc == 1 ? dX : w.side, cols);
                if (nc > 1) gan__batch_scatter(dX, w.side, nc, L->in_ch, (size_t)w.plane);
            }
        }
    if (b->dbias && L->db) gan__channel_bias_grad(L->db, b->dy, f->n, L->out_ch, (size_t)L->out.h * L->out.w);
}

/* A layer's forward or backward call as the threads share it: each runs part of it over a range
   [lo, hi) of values, samples or channels. */
typedef struct gan__elem_call {
    gan_layer *L;
    const gan__fwd *f;
    const gan__bwd *b;
} gan__elem_call;


/* Runs part over [0, n) on the threads, `grain` iterations each at least, for layer L's call. */
static void gan__layer_parallel(gan__range_fn part, gan_layer *L, const gan__fwd *f, const gan__bwd *b, size_t n,
                                size_t grain)
{
    gan__elem_call call;
    call.L = L;
    call.f = f;
    call.b = b;
    gan__parallel_for(part, &call, n, grain);
}

/* An elementwise layer's forward (b NULL) or backward over its values. */
static void gan__elementwise(gan__range_fn part, gan_layer *L, const gan__fwd *f, const gan__bwd *b)
{
    if (b && !b->dx[0]) return; /* a backward with no dL/dx wanted: an activation has nothing else to do */
    gan__layer_parallel(part, L, f, b, (size_t)f->n * gan__shape_count(L->in), GAN__ELEM_GRAIN);
}

/* ---- BatchNorm ---- */

static const char *gan__batchnorm_plan(gan_layer *L, const gan_shape *in, int n_in, gan__sizes *s)
{
    (void)n_in;
    GAN__REQUIRE(L->in_ch == in[0].c, "BatchNorm: features must equal the input's channels (C of C,H,W)");
    L->out = in[0];
    L->nW = L->nb = L->affine ? (size_t)in[0].c : 0;
    s->buffers = 2 * (size_t)in[0].c;
    s->saved_fixed = 2 * (size_t)in[0].c;
    return NULL;
}

/* Channels BatchNorm handles side by side when a channel's plane is shorter than GAN__LANES (a
   BatchNorm over features has plane 1): the loops then run across channels. */
#define GAN__BN_BLOCK 64

/* Per channel c of [c0, c0 + nb), with plane < GAN__LANES: sum[c] = sum over samples i and
   positions j, in that order, of f(value at (i, c, j)). */
#define GAN__BN_CROSS_SUM(sum, c0, nb, n, C, plane, expr)                                                \
    do {                                                                                               \
        int i_, b_;                                                                                    \
        size_t j_;                                                                                     \
        for (b_ = 0; b_ < (nb); b_++) (sum)[b_] = 0;                                                   \
        for (i_ = 0; i_ < (n); i_++)                                                                   \
            if ((plane) == 1) /* BatchNorm1d: a sample's channels are contiguous; the loop vectorizes */ \
                for (b_ = 0; b_ < (nb); b_++) {                                                        \
                    size_t at = (size_t)i_ * (C) + (c0) + b_;                                           \
                    (sum)[b_] += (expr);                                                               \
                }                                                                                      \
            else                                                                                       \
                for (j_ = 0; j_ < (plane); j_++)                                                       \
                    for (b_ = 0; b_ < (nb); b_++) {                                                    \
                        size_t at = ((size_t)i_ * (C) + (c0) + b_) * (plane) + j_;                      \
                        (sum)[b_] += (expr);                                                           \
                    }                                                                                  \
    } while (0)

/* y = x scale + shift over channels [c0, c0 + nb). y may be x (the inference forward works in
   place): called as (y, y) the compiler sees one pointer, as (y, x) it checks for overlap. */
GAN__BODY void gan__bn_affine(gan_float *y, const gan_float *x, const gan_float *scale, const gan_float *shift, int c0,
                              int nb, int n, int C, size_t plane)
{
    int i, b;
    size_t j;
    for (i = 0; i < n; i++)
        if (plane == 1) /* BatchNorm1d: contiguous channels, a loop the compiler vectorizes */
            for (b = 0; b < nb; b++) {
                size_t at = (size_t)i * C + c0 + b;
                y[at] = x[at] * scale[b] + shift[b];
            }
        else if (plane < GAN__LANES)
            for (j = 0; j < plane; j++)
                for (b = 0; b < nb; b++) {
                    size_t at = ((size_t)i * C + c0 + b) * plane + j;
                    y[at] = x[at] * scale[b] + shift[b];
                }
        else
            for (b = 0; b < nb; b++) {
                size_t at = ((size_t)i * C + c0 + b) * plane;
                for (j = 0; j < plane; j++) y[at + j] = x[at + j] * scale[b] + shift[b];
            }
}

/* Batch statistics (training, or GAN__BATCH_STATS): per channel c over the m = N H W values, mean and
   biased var; in training the running estimates move: running = (1 - momentum) running + momentum
   (mean, var m / (m - 1)). Evaluation: the running estimates. saved = [mean (C), 1/sqrt(var + eps) (C)],
   the statistics the output is normalized with; y = gamma (x - mean) / sqrt(var + eps) + beta. */
GAN__BODY void gan__batchnorm_forward_part_body(void *ctx, size_t lo, size_t hi)
{
    gan_layer *L = ((const gan__elem_call *)ctx)->L;
    const gan__fwd *f = ((const gan__elem_call *)ctx)->f;
    int C = L->in.c, c, c0, b, i, n = f->n;
    size_t plane = (size_t)L->in.h * L->in.w, m = (size_t)n * plane;
    const gan_float *x = f->x[0];
    gan_float *y = f->y, *mean = f->saved, *invstd = f->saved + C;
    double sum[GAN__BN_BLOCK], sq[GAN__BN_BLOCK];
    gan_float scale[GAN__BN_BLOCK], shift[GAN__BN_BLOCK];
    for (c0 = (int)lo; c0 < (int)hi; c0 += GAN__BN_BLOCK) {
        int nb = (int)hi - c0 < GAN__BN_BLOCK ? (int)hi - c0 : GAN__BN_BLOCK;
        if (f->mode != GAN__EVAL) {
            /* two passes in double: the mean, then the sum of squared deviations */
            if (plane < GAN__LANES) {
                GAN__BN_CROSS_SUM(sum, c0, nb, n, C, plane, x[at]);
                for (b = 0; b < nb; b++) sum[b] /= (double)m;
                GAN__BN_CROSS_SUM(sq, c0, nb, n, C, plane, (x[at] - sum[b_]) * (x[at] - sum[b_]));
            } else
                for (b = 0; b < nb; b++) {
                    double acc[GAN__LANES] = { 0 }, dev[GAN__LANES] = { 0 }, mu;
                    for (i = 0; i < n; i++) {
                        const gan_float *GAN__RESTRICT xc = x + ((size_t)i * C + c0 + b) * plane;
                        GAN__RUN_SUM(acc, plane, xc[j]);
                    }
                    mu = sum[b] = gan__lanes_total(acc) / (double)m;
                    for (i = 0; i < n; i++) {
                        const gan_float *GAN__RESTRICT xc = x + ((size_t)i * C + c0 + b) * plane;
                        GAN__RUN_SUM(dev, plane, (xc[j] - mu) * (xc[j] - mu));
                    }
                    sq[b] = gan__lanes_total(dev);
                }
            for (b = 0; b < nb; b++) {
                double var = sq[b] / (double)m;
                c = c0 + b;
                mean[c] = (gan_float)sum[b];
                invstd[c] = (gan_float)(1.0 / sqrt(var + L->eps));
                if (f->mode == GAN__TRAIN) {
                    L->run_mean[c] = (1 - L->momentum) * L->run_mean[c] + L->momentum * (gan_float)sum[b];
                    L->run_var[c] = (1 - L->momentum) * L->run_var[c] + L->momentum * (gan_float)(sq[b] / (double)(m - 1));
                }
            }
        } else
            for (c = c0; c < c0 + nb; c++) {
                mean[c] = L->run_mean[c];
                invstd[c] = (gan_float)(1.0 / sqrt((double)L->run_var[c] + L->eps));
            }
        for (b = 0; b < nb; b++) {
            c = c0 + b;
            scale[b] = (L->W ? L->W[c] : 1) * invstd[c];
            shift[b] = (L->b ? L->b[c] : 0) - mean[c] * scale[b];
        }
        if (y == x) gan__bn_affine(y, y, scale, shift, c0, nb, n, C, plane);
        else gan__bn_affine(y, x, scale, shift, c0, nb, n, C, plane);
    }
}
GAN__WIDE(gan__batchnorm_forward_part, (void *ctx, size_t lo, size_t hi), (ctx, lo, hi))

/* Channels per thread below which BatchNorm runs on one thread (each channel is a pass over n plane values). */
#define GAN__CHANNEL_GRAIN 8

static void gan__batchnorm_forward(gan_layer *L, const gan__fwd *f)
{
    GAN_ASSERT((f->mode == GAN__EVAL || (size_t)f->n * L->in.h * L->in.w > 1) && "BatchNorm with batch statistics needs more than one value per channel");
    gan__layer_parallel(gan__batchnorm_forward_part, L, f, NULL, (size_t)L->in.c, GAN__CHANNEL_GRAIN);
    if (f->mode == GAN__TRAIN && L->run_mean) L->batches_tracked++;
}

/* dx = g (dy - mean(dy) - xhat mean(dy xhat)) over channels [c0, c0 + nb), the per-channel values
   indexed from c0. dx may be dy (the backward works in place), as in gan__bn_affine. */
GAN__BODY void gan__bn_dx(gan_float *dx, const gan_float *dy, const gan_float *GAN__RESTRICT x,
                          const gan_float *mean, const gan_float *invstd, const gan_float *g, const gan_float *mean_dy,
                          const gan_float *mean_dy_xhat, int c0, int nb, int n, int C, size_t plane)
{
    int i, b;
    size_t j;
    for (i = 0; i < n; i++)
        if (plane == 1) /* BatchNorm1d, as in gan__bn_affine */
            for (b = 0; b < nb; b++) {
                size_t at = (size_t)i * C + c0 + b;
                gan_float xhat = (x[at] - mean[b]) * invstd[b];
                dx[at] = g[b] * (dy[at] - mean_dy[b] - xhat * mean_dy_xhat[b]);
            }
        else if (plane < GAN__LANES)
            for (j = 0; j < plane; j++)
                for (b = 0; b < nb; b++) {
                    size_t at = ((size_t)i * C + c0 + b) * plane + j;
                    gan_float xhat = (x[at] - mean[b]) * invstd[b];
                    dx[at] = g[b] * (dy[at] - mean_dy[b] - xhat * mean_dy_xhat[b]);
                }
        else
            for (b = 0; b < nb; b++) {
                size_t at = ((size_t)i * C + c0 + b) * plane;
                gan_float mu = mean[b], is = invstd[b];
                for (j = 0; j < plane; j++) {
                    gan_float xhat = (x[at + j] - mu) * is;
                    dx[at + j] = g[b] * (dy[at + j] - mean_dy[b] - xhat * mean_dy_xhat[b]);
                }
            }
}

/* xhat = (x - mean) invstd; dgamma += sum dy xhat; dbeta += sum dy;
   training: dx = gamma invstd (dy - mean(dy) - xhat mean(dy xhat)) (the batch statistics depend on x);
   evaluation: dx = gamma invstd dy. The sums are needed for dx either way; dparams says whether
   they also go into the parameter gradients. */
GAN__BODY void gan__batchnorm_backward_part_body(void *ctx, size_t lo, size_t hi)
{
    gan_layer *L = ((const gan__elem_call *)ctx)->L;
    const gan__fwd *f = ((const gan__elem_call *)ctx)->f;
    const gan__bwd *bw = ((const gan__elem_call *)ctx)->b;
    int C = L->in.c, c, c0, b, i, n = f->n, training = f->mode == GAN__TRAIN;
    size_t plane = (size_t)L->in.h * L->in.w, m = (size_t)n * plane;
    const gan_float *GAN__RESTRICT mean = f->saved, *GAN__RESTRICT invstd = f->saved + C, *GAN__RESTRICT x = f->x[0];
    const gan_float *dy = bw->dy;
    gan_float *dx = bw->dx[0];
    double sum_dy[GAN__BN_BLOCK], sum_dy_xhat[GAN__BN_BLOCK];
    gan_float g[GAN__BN_BLOCK], mean_dy[GAN__BN_BLOCK], mean_dy_xhat[GAN__BN_BLOCK];
    for (c0 = (int)lo; c0 < (int)hi; c0 += GAN__BN_BLOCK) {
        int nb = (int)hi - c0 < GAN__BN_BLOCK ? (int)hi - c0 : GAN__BN_BLOCK;
        if (plane < GAN__LANES) {
            GAN__BN_CROSS_SUM(sum_dy, c0, nb, n, C, plane, dy[at]);
            GAN__BN_CROSS_SUM(sum_dy_xhat, c0, nb, n, C, plane, dy[at] * (x[at] - mean[c0 + b_]) * invstd[c0 + b_]);
        } else
            for (b = 0; b < nb; b++) {
                double a_dy[GAN__LANES] = { 0 }, a_dy_xhat[GAN__LANES] = { 0 };
                gan_float mu = mean[c0 + b], is = invstd[c0 + b];
                for (i = 0; i < n; i++) {
                    size_t at = ((size_t)i * C + c0 + b) * plane;
                    const gan_float *GAN__RESTRICT xc = x + at, *GAN__RESTRICT dc = dy + at;
                    GAN__RUN_SUM(a_dy, plane, dc[j]);
                    GAN__RUN_SUM(a_dy_xhat, plane, dc[j] * (xc[j] - mu) * is);
                }
                sum_dy[b] = gan__lanes_total(a_dy);
                sum_dy_xhat[b] = gan__lanes_total(a_dy_xhat);
            }
        for (b = 0; b < nb; b++) {
            c = c0 + b;
            if (bw->dparams && L->dW) {
                L->dW[c] += (gan_float)sum_dy_xhat[b];
                L->db[c] += (gan_float)sum_dy[b];
            }
            mean_dy[b] = training ? (gan_float)(sum_dy[b] / (double)m) : 0;
            mean_dy_xhat[b] = training ? (gan_float)(sum_dy_xhat[b] / (double)m) : 0;
            g[b] = (L->W ? L->W[c] : 1) * invstd[c];
        }
        if (!dx) continue;
        if (dx == dy) gan__bn_dx(dx, dx, x, mean + c0, invstd + c0, g, mean_dy, mean_dy_xhat, c0, nb, n, C, plane);
        else gan__bn_dx(dx, dy, x, mean + c0, invstd + c0, g, mean_dy, mean_dy_xhat, c0, nb, n, C, plane);
    }
}
GAN__WIDE(gan__batchnorm_backward_part, (void *ctx, size_t lo, size_t hi), (ctx, lo, hi))

static void gan__batchnorm_backward(gan_layer *L, const gan__fwd *f, const gan__bwd *b)
{
    gan__layer_parallel(gan__batchnorm_backward_part, L, f, b, (size_t)L->in.c, GAN__CHANNEL_GRAIN);
}

/* In evaluation mode y = gamma invstd x + const per channel, so dty -> dtx is the backward's
   dx = gamma invstd dty, and the tangent half adds dgamma += sum dty invstd tx. (The penalty
   refuses BatchNorm in training mode, where the statistics couple the samples.) */
static int gan__batchnorm_dual(const gan__op *op, gan_layer *L, const gan__fwd *f, const gan__bwd *primal, const gan__dual_call *d)
{
    const gan_float *const *tx = d->tx;
    const gan__bwd *tan = &d->tan;
    int primal_zero = d->primal_zero;
    int C = L->in.c, c, i;
    size_t plane = (size_t)L->in.h * L->in.w, j;
    const gan_float *invstd = f->saved + C;
    gan__bwd tb = *tan;
    (void)op;
    if (!primal_zero) gan__batchnorm_backward(L, f, primal);
    tb.dparams = 0;
    gan__batchnorm_backward(L, f, &tb);
    if (tan->dparams && L->dW)
        for (c = 0; c < C; c++) {
            double acc = 0;
            for (i = 0; i < f->n; i++) {
                const gan_float *t = tx[0] + ((size_t)i * C + c) * plane, *d = tan->dy + ((size_t)i * C + c) * plane;
                for (j = 0; j < plane; j++) acc += d[j] * t[j];
            }
            L->dW[c] += (gan_float)(acc * invstd[c]);
        }
    return !primal_zero;
}

/* ---- LayerNorm ---- */

static const char *gan__layernorm_plan(gan_layer *L, const gan_shape *in, int n_in, gan__sizes *s)
{
    (void)n_in;
    L->out = in[0];
    L->nW = L->nb = L->affine ? gan__count(in[0]) : 0;
    s->saved_per_sample = 2;
    s->work = 2; /* the penalty's dual pass keeps mean(tx) and C per sample (gan__layernorm_dual) */
    s->work_chunk = INT_MAX;
    return NULL;
}

/* Per sample over its D = C H W values: y = (x - mean) / sqrt(var + eps) gamma + beta (biased var).
   saved = [mean, invstd] per sample. The threads take ranges of samples. */
GAN__BODY void gan__layernorm_forward_part_body(void *ctx, size_t lo, size_t hi)
{
    const gan_layer *L = ((const gan__elem_call *)ctx)->L;
    const gan__fwd *f = ((const gan__elem_call *)ctx)->f;
    size_t D = gan__shape_count(L->in), i, j;
    const gan_float *GAN__RESTRICT W = L->W, *GAN__RESTRICT bias = L->b;
    for (i = lo; i < hi; i++) {
        const gan_float *GAN__RESTRICT xi = f->x[0] + i * D;
        gan_float *GAN__RESTRICT yi = f->y + i * D, *st = f->saved + 2 * i, mean, invstd;
        double sum[GAN__LANES] = { 0 }, sq[GAN__LANES] = { 0 }, mu;
        GAN__RUN_SUM(sum, D, xi[j]);
        mu = gan__lanes_total(sum) / (double)D;
        GAN__RUN_SUM(sq, D, (xi[j] - mu) * (xi[j] - mu));
        mean = st[0] = (gan_float)mu;
        invstd = st[1] = (gan_float)(1.0 / sqrt(gan__lanes_total(sq) / (double)D + L->eps));
        if (W)
            for (j = 0; j < D; j++) yi[j] = (xi[j] - mean) * invstd * W[j] + bias[j];
        else
            for (j = 0; j < D; j++) yi[j] = (xi[j] - mean) * invstd;
    }
}
GAN__WIDE(gan__layernorm_forward_part, (void *ctx, size_t lo, size_t hi), (ctx, lo, hi))

/* Samples per thread below which LayerNorm runs on one thread. */
#define GAN__SAMPLE_GRAIN 4

static void gan__layernorm_forward(gan_layer *L, const gan__fwd *f)
{
    gan__layer_parallel(gan__layernorm_forward_part, L, f, NULL, (size_t)f->n, GAN__SAMPLE_GRAIN);
}

/* dxhat = dy gamma; dx = invstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), over ranges of samples */
GAN__BODY void gan__layernorm_dx_part_body(void *ctx, size_t lo, size_t hi)
{
    const gan_layer *L = ((const gan__elem_call *)ctx)->L;
    const gan__fwd *f = ((const gan__elem_call *)ctx)->f;
    const gan__bwd *b = ((const gan__elem_call *)ctx)->b;
    size_t D = gan__shape_count(L->in), i, j;
    const gan_float *GAN__RESTRICT W = L->W;
    for (i = lo; i < hi; i++) {
        const gan_float *GAN__RESTRICT xi = f->x[0] + i * D, *GAN__RESTRICT dyi = b->dy + i * D, *st = f->saved + 2 * i;
        gan_float *GAN__RESTRICT dxi = b->dx[0] + i * D, mean = st[0], invstd = st[1], mean_g, mean_g_xhat;
        double sum_g[GAN__LANES] = { 0 }, sum_g_xhat[GAN__LANES] = { 0 };
        if (W) {
            GAN__RUN_SUM(sum_g, D, dyi[j] * W[j]);
            GAN__RUN_SUM(sum_g_xhat, D, dyi[j] * W[j] * ((xi[j] - mean) * invstd));
        } else {
            GAN__RUN_SUM(sum_g, D, dyi[j]);
            GAN__RUN_SUM(sum_g_xhat, D, dyi[j] * ((xi[j] - mean) * invstd));
        }
        mean_g = (gan_float)(gan__lanes_total(sum_g) / (double)D);
        mean_g_xhat = (gan_float)(gan__lanes_total(sum_g_xhat) / (double)D);
        for (j = 0; j < D; j++) {
            gan_float xhat = (xi[j] - mean) * invstd;
            dxi[j] = invstd * (dyi[j] * (W ? W[j] : 1) - mean_g - xhat * mean_g_xhat);
        }
    }
}
GAN__WIDE(gan__layernorm_dx_part, (void *ctx, size_t lo, size_t hi), (ctx, lo, hi))

/* dgamma[j] += sum over samples of dy xhat, dbeta[j] += sum of dy, sample by sample, over ranges of j */
GAN__BODY void gan__layernorm_dparams_part_body(void *ctx, size_t lo, size_t hi)
{
    const gan_layer *L = ((const gan__elem_call *)ctx)->L;
    const gan__fwd *f = ((const gan__elem_call *)ctx)->f;
    const gan__bwd *b = ((const gan__elem_call *)ctx)->b;
    size_t D = gan__shape_count(L->in), j;
    gan_float *GAN__RESTRICT dW = L->dW, *GAN__RESTRICT db = L->db;
    int i;
    for (i = 0; i < f->n; i++) {
        const gan_float *GAN__RESTRICT xi = f->x[0] + (size_t)i * D, *GAN__RESTRICT dyi = b->dy + (size_t)i * D;
        gan_float mean = f->saved[2 * (size_t)i], invstd = f->saved[2 * (size_t)i + 1];
        for (j = lo; j < hi; j++) {
            dW[j] += dyi[j] * ((xi[j] - mean) * invstd);
            db[j] += dyi[j];
        }
    }
}
GAN__WIDE(gan__layernorm_dparams_part, (void *ctx, size_t lo, size_t hi), (ctx, lo, hi))

static void gan__layernorm_backward(gan_layer *L, const gan__fwd *f, const gan__bwd *b)
{
    if (b->dparams && L->dW)
        gan__layer_parallel(gan__layernorm_dparams_part, L, f, b, gan__shape_count(L->in), GAN__ELEM_GRAIN / (size_t)f->n + 1);
    if (b->dx[0]) gan__layer_parallel(gan__layernorm_dx_part, L, f, b, (size_t)f->n, GAN__SAMPLE_GRAIN);
}

/* The penalty's LayerNorm passes as the threads share them: a tangent (d NULL) or a dual backward,
   with two values per sample kept between the dual's passes (L->work). */
typedef struct gan__ln_call {
    const gan_layer *L;
    const gan__fwd *f;
    const gan_float *const *tx;
    gan_float *ty;
    const gan__bwd *primal;
    const gan__dual_call *d;
} gan__ln_call;

/* ty = gamma r (tx - mean(tx) - xhat mean(tx xhat)) with r = invstd: the derivative of xhat along tx.
   The threads take ranges of samples. */
GAN__BODY void gan__layernorm_tangent_part_body(void *ctx, size_t lo, size_t hi)
{
    const gan__ln_call *c = (const gan__ln_call *)ctx;
    const gan_layer *L = c->L;
    const gan__fwd *f = c->f;
    size_t D = gan__shape_count(L->in), i, j;
    const gan_float *GAN__RESTRICT W = L->W;
    for (i = lo; i < hi; i++) {
        const gan_float *GAN__RESTRICT xi = f->x[0] + i * D, *GAN__RESTRICT ti = c->tx[0] + i * D;
        gan_float *GAN__RESTRICT tyi = c->ty + i * D, mean = f->saved[2 * i], invstd = f->saved[2 * i + 1];
        double sum_t[GAN__LANES] = { 0 }, sum_t_xhat[GAN__LANES] = { 0 };
        gan_float mean_t, mean_t_xhat;
        GAN__RUN_SUM(sum_t, D, ti[j]);
        GAN__RUN_SUM(sum_t_xhat, D, ti[j] * ((xi[j] - mean) * invstd));
        mean_t = (gan_float)(gan__lanes_total(sum_t) / (double)D);
        mean_t_xhat = (gan_float)(gan__lanes_total(sum_t_xhat) / (double)D);
        for (j = 0; j < D; j++) {
            gan_float xhat = (xi[j] - mean) * invstd;
            tyi[j] = (W ? W[j] : 1) * invstd * (ti[j] - mean_t - xhat * mean_t_xhat);
        }
    }
}
GAN__WIDE(gan__layernorm_tangent_part, (void *ctx, size_t lo, size_t hi), (ctx, lo, hi))

static void gan__layernorm_tangent(const gan__op *op, gan_layer *L, const gan__fwd *f, const gan_float *const *tx,
                                   gan_float *ty)
{
    gan__ln_call c;
    (void)op;
    c.L = L;
    c.f = f;
    c.tx = tx;
    c.ty = ty;
    c.primal = NULL;
    c.d = NULL;
    gan__parallel_for(gan__layernorm_tangent_part, &c, (size_t)f->n, GAN__SAMPLE_GRAIN);
}

/* The tangent half, per sample with r = invstd, xhat, u = tx - mean(tx) and h = dty gamma (the adjoint
   of d xhat = r (u - xhat C)):
       dtx    = r (h - mean(h) - xhat B)                         (the backward's formula on h)
       dgamma += dty r (u - xhat C)
       dx     += r^2 ((3 B C - A) xhat - C (h - mean(h)) - B u)  (d<h, d xhat>/dx: r and xhat depend on x)
   with A = mean(h u), B = mean(h xhat), C = mean(u xhat). The last line is the gradient of
   S = r <h, u> - r^3 <h, x - mean> mean(u (x - mean)) using dr/dx = -(r^3 / D) (x - mean) and
   d(x - mean)/dx = I - 1/D. Pass 1 (ranges of samples) writes dtx and dx and keeps mean(tx) and C
   per sample in L->work; pass 2 (ranges of j) sums dgamma sample by sample, as the backward does. */
GAN__BODY void gan__layernorm_dual_samples_part_body(void *ctx, size_t lo, size_t hi)
{
    const gan__ln_call *c = (const gan__ln_call *)ctx;
    const gan_layer *L = c->L;
    const gan__fwd *f = c->f;
    const gan__bwd *tan = &c->d->tan;
    size_t D = gan__shape_count(L->in), i, j;
    const gan_float *GAN__RESTRICT W = L->W;
    int primal_zero = c->d->primal_zero;
    for (i = lo; i < hi; i++) {
        const gan_float *GAN__RESTRICT xi = f->x[0] + i * D, *GAN__RESTRICT ti = c->tx[0] + i * D;
        const gan_float *GAN__RESTRICT di = tan->dy + i * D;
        gan_float *GAN__RESTRICT dx = c->primal->dx[0] ? c->primal->dx[0] + i * D : NULL;
        gan_float *GAN__RESTRICT dtx = tan->dx[0] ? tan->dx[0] + i * D : NULL;
        gan_float mean = f->saved[2 * i], invstd = f->saved[2 * i + 1], mean_t, mean_h, *keep = L->work + 2 * i;
        double sum_t[GAN__LANES] = { 0 }, sum_h[GAN__LANES] = { 0 }, sum_hu[GAN__LANES] = { 0 };
        double sum_hx[GAN__LANES] = { 0 }, sum_ux[GAN__LANES] = { 0 }, A, B, C, r = invstd, r2 = r * r;
        GAN__RUN_SUM(sum_t, D, ti[j]);
        mean_t = (gan_float)(gan__lanes_total(sum_t) / (double)D);
        GAN__RUN_SUM(sum_h, D, di[j] * (W ? W[j] : 1));
        GAN__RUN_SUM(sum_hu, D, (double)(di[j] * (W ? W[j] : 1)) * (ti[j] - mean_t));
        GAN__RUN_SUM(sum_hx, D, (double)(di[j] * (W ? W[j] : 1)) * ((xi[j] - mean) * invstd));
        GAN__RUN_SUM(sum_ux, D, (double)(ti[j] - mean_t) * ((xi[j] - mean) * invstd));
        mean_h = (gan_float)(gan__lanes_total(sum_h) / (double)D);
        A = gan__lanes_total(sum_hu) / (double)D;
        B = gan__lanes_total(sum_hx) / (double)D;
        C = gan__lanes_total(sum_ux) / (double)D;
        keep[0] = mean_t;
        keep[1] = (gan_float)C;
        for (j = 0; j < D; j++) {
            double xhat = (xi[j] - mean) * invstd, h = di[j] * (W ? W[j] : 1), u = ti[j] - mean_t;
            double second = r2 * ((3 * B * C - A) * xhat - C * (h - mean_h) - B * u);
            if (dtx) dtx[j] = (gan_float)(r * (h - mean_h - xhat * B));
            if (dx) dx[j] = primal_zero ? (gan_float)second : dx[j] + (gan_float)second;
        }
    }
}
GAN__WIDE(gan__layernorm_dual_samples_part, (void *ctx, size_t lo, size_t hi), (ctx, lo, hi))

GAN__BODY void gan__layernorm_dual_dgamma_part_body(void *ctx, size_t lo, size_t hi)
{
    const gan__ln_call *c = (const gan__ln_call *)ctx;
    const gan_layer *L = c->L;
    const gan__fwd *f = c->f;
    size_t D = gan__shape_count(L->in), j;
    gan_float *GAN__RESTRICT dW = L->dW;
    int i;
    for (i = 0; i < f->n; i++) {
        const gan_float *GAN__RESTRICT xi = f->x[0] + (size_t)i * D, *GAN__RESTRICT ti = c->tx[0] + (size_t)i * D;
        const gan_float *GAN__RESTRICT di = c->d->tan.dy + (size_t)i * D, *keep = L->work + 2 * (size_t)i;
        gan_float mean = f->saved[2 * (size_t)i], invstd = f->saved[2 * (size_t)i + 1], mean_t = keep[0];
        double r = invstd, C = keep[1];
        for (j = lo; j < hi; j++) dW[j] += (gan_float)(di[j] * r * ((ti[j] - mean_t) - ((xi[j] - mean) * invstd) * C));
    }
}
GAN__WIDE(gan__layernorm_dual_dgamma_part, (void *ctx, size_t lo, size_t hi), (ctx, lo, hi))

static int gan__layernorm_dual(const gan__op *op, gan_layer *L, const gan__fwd *f, const gan__bwd *primal, const gan__dual_call *d)
{
    gan__ln_call c;
    (void)op;
    if (!d->primal_zero) gan__layernorm_backward(L, f, primal);
    c.L = L;
    c.f = f;
    c.tx = d->tx;
    c.ty = NULL;
    c.primal = primal;
    c.d = d;
    gan__parallel_for(gan__layernorm_dual_samples_part, &c, (size_t)f->n, GAN__SAMPLE_GRAIN);
    if (d->tan.dparams && L->dW)
        gan__parallel_for(gan__layernorm_dual_dgamma_part, &c, gan__shape_count(L->in),
                          GAN__ELEM_GRAIN / (size_t)f->n + 1);
    return 1;
}

/* ---- ReLU, LeakyReLU ---- */

/* The activations are written as selects of a value against 0 ("c ? v : 0"), a form gcc -O2
   compiles without a branch; the plain "x > 0 ? x : slope x" becomes one, which mispredicts on
   half of random signs and made these loops about 8x slower. */

/* y = max(x, 0); NaN stays NaN, as in PyTorch, so a diverged network is seen downstream */

/* The ReLUs work in place: the network may give y the memory of x (gan__in_place_source), and dL/dx
   that of dL/dy. Each loop then runs on the one pointer; restrict pointers only when they differ,
   so that both loops vectorize. */

/* y = max(x, 0); NaN stays NaN */
GAN__BODY gan_float gan__relu_value(gan_float v)
{
    gan_float pos = v > 0 ? v : 0;
    return v != v ? v : pos;
}

GAN__BODY void gan__relu_forward_part_body(void *ctx, size_t lo, size_t hi)
{
    const gan__fwd *f = ((const gan__elem_call *)ctx)->f;
    size_t j;
    if (f->y == f->x[0]) {
        gan_float *y = f->y;
        for (j = lo; j < hi; j++) y[j] = gan__relu_value(y[j]);
    } else {
        const gan_float *GAN__RESTRICT x = f->x[0];
        gan_float *GAN__RESTRICT y = f->y;
        for (j = lo; j < hi; j++) y[j] = gan__relu_value(x[j]);
    }
}
GAN__WIDE(gan__relu_forward_part, (void *ctx, size_t lo, size_t hi), (ctx, lo, hi))
static void gan__relu_forward(gan_layer *L, const gan__fwd *f) { gan__elementwise(gan__relu_forward_part, L, f, NULL); }

/* dx = dy where y > 0 (exactly where x > 0, NaN excluded), else 0: the derivative at 0 taken as 0,
   as PyTorch. Reading y instead of x lets the network reuse the input's memory. */
GAN__BODY void gan__relu_backward_part_body(void *ctx, size_t lo, size_t hi)
{
    const gan__fwd *f = ((const gan__elem_call *)ctx)->f;
    const gan__bwd *b = ((const gan__elem_call *)ctx)->b;
    const gan_float *GAN__RESTRICT y = f->y;
    size_t j;
    if (b->dx[0] == b->dy) {
        gan_float *d = b->dx[0];
        for (j = lo; j < hi; j++) d[j] = y[j] > 0 ? d[j] : 0;
    } else {
        const gan_float *GAN__RESTRICT dy = b->dy;
        gan_float *GAN__RESTRICT dx = b->dx[0];
        for (j = lo; j < hi; j++) dx[j] = y[j] > 0 ? dy[j] : 0;
    }
}
GAN__WIDE(gan__relu_backward_part, (void *ctx, size_t lo, size_t hi), (ctx, lo, hi))
static void gan__relu_backward(gan_layer *L, const gan__fwd *f, const gan__bwd *b)
{
    gan__elementwise(gan__relu_backward_part, L, f, b);
}

/* y = x for x > 0, slope x otherwise (exactly: one of the two terms is 0); NaN stays NaN */
GAN__BODY gan_float gan__leaky_relu_value(gan_float v, gan_float slope)
{
    gan_float pos = v > 0 ? v : 0, neg = v < 0 ? v : 0;
    return v != v ? v : pos + slope * neg;
}

GAN__BODY void gan__leaky_relu_forward_part_body(void *ctx, size_t lo, size_t hi)
{
    const gan__fwd *f = ((const gan__elem_call *)ctx)->f;
    gan_float slope = ((const gan__elem_call *)ctx)->L->slope;
    size_t j;
    if (f->y == f->x[0]) {
        gan_float *y = f->y;
        for (j = lo; j < hi; j++) y[j] = gan__leaky_relu_value(y[j], slope);
    } else {
        const gan_float *GAN__RESTRICT x = f->x[0];
        gan_float *GAN__RESTRICT y = f->y;
        for (j = lo; j < hi; j++) y[j] = gan__leaky_relu_value(x[j], slope);
    }
}
GAN__WIDE(gan__leaky_relu_forward_part, (void *ctx, size_t lo, size_t hi), (ctx, lo, hi))
static void gan__leaky_relu_forward(gan_layer *L, const gan__fwd *f)
{
    gan__elementwise(gan__leaky_relu_forward_part, L, f, NULL);
}

/* dx = dy for x > 0, slope dy otherwise (exactly: one of the two terms is 0). With slope >= 0 the
   sign of y is the sign of x, so y is read (the network then need not keep x); else x. */
GAN__BODY gan_float gan__leaky_relu_grad(gan_float g, gan_float v, gan_float slope)
{
    gan_float pos = v > 0 ? g : 0, neg = v <= 0 ? g : 0;
    return pos + slope * neg;
}

GAN__BODY void gan__leaky_relu_backward_part_body(void *ctx, size_t lo, size_t hi)
{
    const gan_layer *L = ((const gan__elem_call *)ctx)->L;
    const gan__fwd *f = ((const gan__elem_call *)ctx)->f;
    const gan__bwd *b = ((const gan__elem_call *)ctx)->b;
    const gan_float *GAN__RESTRICT v = L->slope >= 0 ? f->y : f->x[0];
    gan_float slope = L->slope;
    size_t j;
    if (b->dx[0] == b->dy) {
        gan_float *d = b->dx[0];
        for (j = lo; j < hi; j++) d[j] = gan__leaky_relu_grad(d[j], v[j], slope);
    } else {
        const gan_float *GAN__RESTRICT dy = b->dy;
        gan_float *GAN__RESTRICT dx = b->dx[0];
        for (j = lo; j < hi; j++) dx[j] = gan__leaky_relu_grad(dy[j], v[j], slope);
    }
}
GAN__WIDE(gan__leaky_relu_backward_part, (void *ctx, size_t lo, size_t hi), (ctx, lo, hi))
static void gan__leaky_relu_backward(gan_layer *L, const gan__fwd *f, const gan__bwd *b)
{
    gan__elementwise(gan__leaky_relu_backward_part, L, f, b);
}

/* ---- Tanh, Sigmoid ---- */

/* y = tanh(x) */
GAN__BODY void gan__tanh_forward_part_body(void *ctx, size_t lo, size_t hi)
{
    const gan__fwd *f = ((const gan__elem_call *)ctx)->f;
    const gan_float *GAN__RESTRICT x = f->x[0];
    gan_float *GAN__RESTRICT y = f->y;
    size_t j;
    for (j = lo; j < hi; j++) y[j] = (gan_float)tanh((double)x[j]);
}
GAN__WIDE(gan__tanh_forward_part, (void *ctx, size_t lo, size_t hi), (ctx, lo, hi))
static void gan__tanh_forward(gan_layer *L, const gan__fwd *f) { gan__elementwise(gan__tanh_forward_part, L, f, NULL); }

/* dx = dy (1 - y^2), from the output */
GAN__BODY void gan__tanh_backward_part_body(void *ctx, size_t lo, size_t hi)
{
    const gan__fwd *f = ((const gan__elem_call *)ctx)->f;
    const gan__bwd *b = ((const gan__elem_call *)ctx)->b;
    const gan_float *GAN__RESTRICT dy = b->dy, *GAN__RESTRICT y = f->y;
    gan_float *GAN__RESTRICT dx = b->dx[0];
    size_t j;
    for (j = lo; j < hi; j++) dx[j] = dy[j] * (1 - y[j] * y[j]);
}
GAN__WIDE(gan__tanh_backward_part, (void *ctx, size_t lo, size_t hi), (ctx, lo, hi))
static void gan__tanh_backward(gan_layer *L, const gan__fwd *f, const gan__bwd *b)
{
    gan__elementwise(gan__tanh_backward_part, L, f, b);
}

/* y = 1 / (1 + exp(-x)), in double so large |x| saturates cleanly to 0 or 1 */
GAN__BODY void gan__sigmoid_forward_part_body(void *ctx, size_t lo, size_t hi)
{
    const gan__fwd *f = ((const gan__elem_call *)ctx)->f;
    const gan_float *GAN__RESTRICT x = f->x[0];
    gan_float *GAN__RESTRICT y = f->y;
    size_t j;
    for (j = lo; j < hi; j++) y[j] = (gan_float)(1 / (1 + exp(-(double)x[j])));
}
GAN__WIDE(gan__sigmoid_forward_part, (void *ctx, size_t lo, size_t hi), (ctx, lo, hi))
static void gan__sigmoid_forward(gan_layer *L, const gan__fwd *f)
{
    gan__elementwise(gan__sigmoid_forward_part, L, f, NULL);
}

/* dx = dy y (1 - y), from the output */
GAN__BODY void gan__sigmoid_backward_part_body(void *ctx, size_t lo, size_t hi)
{
    const gan__fwd *f = ((const gan__elem_call *)ctx)->f;
    const gan__bwd *b = ((const gan__elem_call *)ctx)->b;
    const gan_float *GAN__RESTRICT dy = b->dy, *GAN__RESTRICT y = f->y;
    gan_float *GAN__RESTRICT dx = b->dx[0];
    size_t j;
    for (j = lo; j < hi; j++) dx[j] = dy[j] * y[j] * (1 - y[j]);
}
GAN__WIDE(gan__sigmoid_backward_part, (void *ctx, size_t lo, size_t hi), (ctx, lo, hi))
static void gan__sigmoid_backward(gan_layer *L, const gan__fwd *f, const gan__bwd *b)
{
    gan__elementwise(gan__sigmoid_backward_part, L, f, b);
}

/* Tanh and Sigmoid have y' = s(y) and y'' = s'(y) s(y): tanh s = 1 - y^2, s' = -2 y;
   sigmoid s = y (1 - y), s' = 1 - 2 y. With ty = s tx:
       dtx = s dty,   dx = s dy + y'' tx dty   (y'' = s' s). */
static int gan__smooth_dual(const gan__op *op, gan_layer *L, const gan__fwd *f, const gan__bwd *primal, const gan__dual_call *d)
{
    const gan_float *const *tx = d->tx;
    const gan__bwd *tan = &d->tan;
    int primal_zero = d->primal_zero;
    size_t j, n = (size_t)f->n * gan__shape_count(L->in);
    int is_tanh = L->kind == GAN_TANH;
    const gan_float *y = f->y, *t = tx[0], *dty = tan->dy, *dy = primal->dy;
    gan_float *dx = primal->dx[0], *dtx = tan->dx[0];
    (void)op;
    for (j = 0; j < n; j++) {
        gan_float s = is_tanh ? 1 - y[j] * y[j] : y[j] * (1 - y[j]);
        gan_float ds = is_tanh ? -2 * y[j] : 1 - 2 * y[j];
        if (dtx) dtx[j] = s * dty[j];
        if (dx) dx[j] = (primal_zero ? 0 : s * dy[j]) + ds * s * t[j] * dty[j];
    }
    return 1;
}

/* ---- Dropout ---- */

static const char *gan__dropout_plan(gan_layer *L, const gan_shape *in, int n_in, gan__sizes *s)
{
    (void)n_in;
    L->out = in[0];
    s->saved_per_sample = gan__count(in[0]);
    return NULL;
}

/* Training: y = x mask, mask = 0 with probability p else 1 / (1 - p), saved = mask. Otherwise y = x. */
static void gan__dropout_forward(gan_layer *L, const gan__fwd *f)
{
    gan_float keep_scale = L->p < 1 ? 1 / (1 - L->p) : 0;
    size_t j, n = (size_t)f->n * gan__shape_count(L->in);
    if (f->mode != GAN__TRAIN) {
        memcpy(f->y, f->x[0], n * sizeof(gan_float));
        return;
    }
    for (j = 0; j < n; j++) {
        f->saved[j] = gan_rng_uniform(&L->rng) < L->p ? 0 : keep_scale;
        f->y[j] = f->x[0][j] * f->saved[j];
    }
}

/* dx = dy mask (training), dy (otherwise) */
static void gan__dropout_backward(gan_layer *L, const gan__fwd *f, const gan__bwd *b)
{
    size_t j, n = (size_t)f->n * gan__shape_count(L->in);
    const gan_float *GAN__RESTRICT dy = b->dy, *GAN__RESTRICT mask = f->saved;
    gan_float *GAN__RESTRICT dx = b->dx[0];
    if (!dx) return;
    if (f->mode != GAN__TRAIN) memcpy(dx, dy, n * sizeof(gan_float));
    else for (j = 0; j < n; j++) dx[j] = dy[j] * mask[j];
}

/* ---- Reshape, Upsample2x, AvgPool2x, Scale ---- */

static const char *gan__reshape_plan(gan_layer *L, const gan_shape *in, int n_in, gan__sizes *s)
{
    (void)n_in;
    (void)s;
    L->out = L->to;
    GAN__REQUIRE(gan__count(L->out) == gan__count(in[0]), "Reshape: the new shape must hold C*H*W values");
    return NULL;
}

/* (C, H, W) -> (C H W, 1, 1) */
static const char *gan__flatten_plan(gan_layer *L, const gan_shape *in, int n_in, gan__sizes *s)
{
    size_t count = gan__count(in[0]);
    (void)n_in;
    (void)s;
    if (count > INT_MAX) return "Flatten: C*H*W does not fit in an int";
    L->out = gan_chw((int)count, 1, 1);
    return NULL;
}

/* y = x: the same values under another shape (inside a network the two share memory); Flatten too */
static void gan__reshape_forward(gan_layer *L, const gan__fwd *f)
{
    if (f->y != f->x[0]) memcpy(f->y, f->x[0], (size_t)f->n * gan__shape_count(L->in) * sizeof(gan_float));
}

/* dx = dy, reshaped back */
static void gan__reshape_backward(gan_layer *L, const gan__fwd *f, const gan__bwd *b)
{
    if (b->dx[0]) memcpy(b->dx[0], b->dy, (size_t)f->n * gan__shape_count(L->in) * sizeof(gan_float));
}

static const char *gan__upsample2x_plan(gan_layer *L, const gan_shape *in, int n_in, gan__sizes *s)
{
    (void)n_in;
    (void)s;
    if (!gan__fits_int(2LL * in[0].h) || !gan__fits_int(2LL * in[0].w)) return "Upsample2x: output does not fit in an int";
    L->out = gan_chw(in[0].c, 2 * in[0].h, 2 * in[0].w);
    return NULL;
}

/* y (C, 2H, 2W): y[c][i][j] = x[c][i / 2][j / 2] */
static void gan__upsample2x_forward(gan_layer *L, const gan__fwd *f)
{
    size_t planes = (size_t)f->n * L->in.c, p;
    int i, j, H = L->in.h, W = L->in.w;
    for (p = 0; p < planes; p++) {
        const gan_float *xp = f->x[0] + p * H * W;
        gan_float *yp = f->y + p * 4 * H * W;
        for (i = 0; i < 2 * H; i++)
            for (j = 0; j < 2 * W; j++) yp[(size_t)i * 2 * W + j] = xp[(size_t)(i / 2) * W + j / 2];
    }
}

/* dx[c][i][j] = sum of the four dy it was copied to */
static void gan__upsample2x_backward(gan_layer *L, const gan__fwd *f, const gan__bwd *b)
{
    size_t planes = (size_t)f->n * L->in.c, p;
    int i, j, H = L->in.h, W = L->in.w;
    if (!b->dx[0]) return;
    for (p = 0; p < planes; p++) {
        const gan_float *d = b->dy + p * 4 * H * W;
        gan_float *dxp = b->dx[0] + p * H * W;
        for (i = 0; i < H; i++)
            for (j = 0; j < W; j++) {
                const gan_float *d0 = d + (size_t)(2 * i) * 2 * W + 2 * j;
                dxp[(size_t)i * W + j] = d0[0] + d0[1] + d0[2 * W] + d0[2 * W + 1];
            }
    }
}

static const char *gan__avgpool2x_plan(gan_layer *L, const gan_shape *in, int n_in, gan__sizes *s)
{
    (void)n_in;
    (void)s;
    GAN__REQUIRE(in[0].h >= 2 && in[0].w >= 2, "AvgPool2x: the input must be at least 2x2");
    L->out = gan_chw(in[0].c, in[0].h / 2, in[0].w / 2);
    return NULL;
}

/* y (C, H / 2, W / 2): y[c][i][j] = (x[2i][2j] + x[2i][2j+1] + x[2i+1][2j] + x[2i+1][2j+1]) / 4; an odd
   last row or column is left out, as PyTorch's AvgPool2d(2) does */
static void gan__avgpool2x_forward(gan_layer *L, const gan__fwd *f)
{
    size_t planes = (size_t)f->n * L->in.c, p;
    int i, j, W = L->in.w, OH = L->out.h, OW = L->out.w;
    for (p = 0; p < planes; p++) {
        const gan_float *xp = f->x[0] + p * L->in.h * W;
        gan_float *yp = f->y + p * OH * OW;
        for (i = 0; i < OH; i++)
            for (j = 0; j < OW; j++) {
                const gan_float *x0 = xp + (size_t)(2 * i) * W + 2 * j;
                yp[(size_t)i * OW + j] = (gan_float)0.25 * (x0[0] + x0[1] + x0[W] + x0[W + 1]);
            }
    }
}

/* dx = dy / 4 on each of the four inputs of a window, 0 on a left-out row or column */
static void gan__avgpool2x_backward(gan_layer *L, const gan__fwd *f, const gan__bwd *b)
{
    size_t planes = (size_t)f->n * L->in.c, p, in_plane = (size_t)L->in.h * L->in.w;
    int i, j, W = L->in.w, OH = L->out.h, OW = L->out.w;
    if (!b->dx[0]) return;
    memset(b->dx[0], 0, planes * in_plane * sizeof(gan_float));
    for (p = 0; p < planes; p++) {
        const gan_float *d = b->dy + p * OH * OW;
        gan_float *dxp = b->dx[0] + p * in_plane;
        for (i = 0; i < OH; i++)
            for (j = 0; j < OW; j++) {
                gan_float *d0 = dxp + (size_t)(2 * i) * W + 2 * j, g = (gan_float)0.25 * d[(size_t)i * OW + j];
                d0[0] = d0[1] = d0[W] = d0[W + 1] = g;
            }
    }
}

/* y = scale x */
static void gan__scale_forward(gan_layer *L, const gan__fwd *f)
{
    size_t j, n = (size_t)f->n * gan__shape_count(L->in);
    for (j = 0; j < n; j++) f->y[j] = L->scale * f->x[0][j];
}

/* dx = scale dy */
static void gan__scale_backward(gan_layer *L, const gan__fwd *f, const gan__bwd *b)
{
    size_t j, n = (size_t)f->n * gan__shape_count(L->in);
    if (b->dx[0])
        for (j = 0; j < n; j++) b->dx[0][j] = L->scale * b->dy[j];
}

/* ---- Embedding ---- */

/* A class index is valid when it is an integer in [0, classes) (NaN is not). */
static int gan__label_ok(gan_float v, int classes) { return v >= 0 && v < classes && v == (gan_float)(int)v; }

static const char *gan__embedding_plan(gan_layer *L, const gan_shape *in, int n_in, gan__sizes *s)
{
    (void)n_in;
    (void)s;
    GAN__REQUIRE(in[0].c == 1 && in[0].h == 1 && in[0].w == 1, "Embedding: the input must be a (1, 1, 1) class index");
    L->out = gan_chw(L->out_ch, 1, 1);
    L->nW = gan__mul((size_t)L->in_ch, (size_t)L->out_ch);
    return NULL;
}

/* y_i = W[label_i] (W is classes x dim). A network checks the labels before it runs; an invalid one
   here gives zeros rather than a read outside W. */
static void gan__embedding_forward(gan_layer *L, const gan__fwd *f)
{
    int i;
    size_t dim = (size_t)L->out_ch;
    for (i = 0; i < f->n; i++) {
        gan_float v = f->x[0][i];
        if (gan__label_ok(v, L->in_ch)) memcpy(f->y + i * dim, L->W + (size_t)(int)v * dim, dim * sizeof(gan_float));
        else memset(f->y + i * dim, 0, dim * sizeof(gan_float));
    }
}

/* dW[label_i] += dy_i; the class index gets no gradient */
static void gan__embedding_backward(gan_layer *L, const gan__fwd *f, const gan__bwd *b)
{
    int i;
    size_t dim = (size_t)L->out_ch;
    if (!b->dparams) return;
    for (i = 0; i < f->n; i++) {
        gan_float v = f->x[0][i];
        if (gan__label_ok(v, L->in_ch)) gan__axpy_row(L->dW + (size_t)(int)v * dim, b->dy + i * dim, 1, L->out_ch);
    }
}

/* The output does not depend on the image a penalty differentiates: its tangent is 0, and only the
   primal adjoint reaches W. */
static void gan__embedding_tangent(const gan__op *op, gan_layer *L, const gan__fwd *f, const gan_float *const *tx,
                                   gan_float *ty)
{
    (void)op;
    (void)tx;
    memset(ty, 0, (size_t)f->n * L->out_ch * sizeof(gan_float));
}

static int gan__embedding_dual(const gan__op *op, gan_layer *L, const gan__fwd *f, const gan__bwd *primal, const gan__dual_call *d)
{
    (void)op;
    if (!d->primal_zero) gan__embedding_backward(L, f, primal);
    return 0;
}

/* ---- Add, Mul (with broadcasting) ---- */

/* Where operand value (c, j) of a sample lives, for an operand that may broadcast over the output:
   index c sc + j sj, with sc = 0 when it has one channel and sj = 0 when it has one position. */
typedef struct gan__bcast {
    size_t count, sc, sj;
} gan__bcast;

static gan__bcast gan__bcast_of(gan_shape s)
{
    gan__bcast b;
    size_t plane = (size_t)s.h * s.w;
    b.count = gan__shape_count(s);
    b.sc = s.c == 1 ? 0 : plane;
    b.sj = plane == 1 ? 0 : 1;
    return b;
}

static const char *gan__join_plan(gan_layer *L, const gan_shape *in, int n_in, gan__sizes *s)
{
    gan_shape a = in[0], b = in[1], o;
    int a_plane_ok, b_plane_ok;
    (void)n_in;
    (void)s;
    o.c = a.c > b.c ? a.c : b.c;
    o.h = (long long)a.h * a.w >= (long long)b.h * b.w ? a.h : b.h;
    o.w = (long long)a.h * a.w >= (long long)b.h * b.w ? a.w : b.w;
    a_plane_ok = (a.h == o.h && a.w == o.w) || (a.h == 1 && a.w == 1);
    b_plane_ok = (b.h == o.h && b.w == o.w) || (b.h == 1 && b.w == 1);
    GAN__REQUIRE((a.c == o.c || a.c == 1) && (b.c == o.c || b.c == 1) && a_plane_ok && b_plane_ok,
                 "Add/Mul: shapes must be equal, or one operand's C be 1 and its H, W be 1 x 1 or equal");
    L->out = o;
    return NULL;
}

/* y = a + b (add) or a b, each operand broadcast over the output (C, H W) */
static void gan__binary(gan_float *y, const gan_float *a, gan__bcast pa, const gan_float *b, gan__bcast pb, int n,
                        gan_shape out, int mul)
{
    size_t plane = (size_t)out.h * out.w, j;
    int i, c;
    for (i = 0; i < n; i++)
        for (c = 0; c < out.c; c++) {
            const gan_float *ac = a + (size_t)i * pa.count + (size_t)c * pa.sc;
            const gan_float *bc = b + (size_t)i * pb.count + (size_t)c * pb.sc;
            gan_float *yc = y + ((size_t)i * out.c + c) * plane;
            if (pa.sj && pb.sj) {
                if (mul) for (j = 0; j < plane; j++) yc[j] = ac[j] * bc[j];
                else for (j = 0; j < plane; j++) yc[j] = ac[j] + bc[j];
            } else if (pa.sj) {
                if (mul) for (j = 0; j < plane; j++) yc[j] = ac[j] * bc[0];
                else for (j = 0; j < plane; j++) yc[j] = ac[j] + bc[0];
            } else if (pb.sj) {
                if (mul) for (j = 0; j < plane; j++) yc[j] = ac[0] * bc[j];
                else for (j = 0; j < plane; j++) yc[j] = ac[0] + bc[j];
            } else {
                for (j = 0; j < plane; j++) yc[j] = mul ? ac[0] * bc[0] : ac[0] + bc[0];
            }
        }
}

/* d[operand index of (c, j)] += dy[c][j] q[q's index of (c, j)] (q NULL: times 1), over every sample,
   channel and position of the output: the adjoint of broadcasting, a sum over what was broadcast. */
static void gan__bcast_acc(gan_float *d, gan__bcast pd, const gan_float *dy, const gan_float *q, gan__bcast pq, int n,
                           gan_shape out)
{
    size_t plane = (size_t)out.h * out.w, j;
    int i, c;
    for (i = 0; i < n; i++)
        for (c = 0; c < out.c; c++) {
            gan_float *dc = d + (size_t)i * pd.count + (size_t)c * pd.sc;
            const gan_float *g = dy + ((size_t)i * out.c + c) * plane;
            const gan_float *qc = q ? q + (size_t)i * pq.count + (size_t)c * pq.sc : NULL;
            if (pd.sj) {
                if (!qc) for (j = 0; j < plane; j++) dc[j] += g[j];
                else if (pq.sj) for (j = 0; j < plane; j++) dc[j] += g[j] * qc[j];
                else for (j = 0; j < plane; j++) dc[j] += g[j] * qc[0];
            } else {
                gan_float acc = 0;
                if (!qc) for (j = 0; j < plane; j++) acc += g[j];
                else if (pq.sj) for (j = 0; j < plane; j++) acc += g[j] * qc[j];
                else for (j = 0; j < plane; j++) acc += g[j] * qc[0];
                dc[0] += acc;
            }
        }
}

/* y (out) = a + b, each operand broadcast over the output */
static void gan__add_forward(gan_layer *L, const gan__fwd *f)
{
    gan__binary(f->y, f->x[0], gan__bcast_of(f->in[0]), f->x[1], gan__bcast_of(f->in[1]), f->n, L->out, 0);
}

/* da = dy and db = dy, each summed over what it was broadcast over */
static void gan__add_backward(gan_layer *L, const gan__fwd *f, const gan__bwd *b)
{
    int k;
    for (k = 0; k < 2; k++) {
        gan__bcast p = gan__bcast_of(f->in[k]);
        if (!b->dx[k]) continue;
        if (p.count == gan__shape_count(L->out)) {
            memcpy(b->dx[k], b->dy, (size_t)f->n * p.count * sizeof(gan_float));
            continue;
        }
        memset(b->dx[k], 0, (size_t)f->n * p.count * sizeof(gan_float));
        gan__bcast_acc(b->dx[k], p, b->dy, NULL, p, f->n, L->out);
    }
}

/* y (out) = a b, each operand broadcast over the output */
static void gan__mul_forward(gan_layer *L, const gan__fwd *f)
{
    gan__binary(f->y, f->x[0], gan__bcast_of(f->in[0]), f->x[1], gan__bcast_of(f->in[1]), f->n, L->out, 1);
}

/* dx[k] = sum over what x[k] was broadcast over of dy terms[k], for a product of two operands whose
   adjoint is a sum of `terms` pairs (dy, other operand): da = R(dy b [+ dty tb]), db = R(dy a [+ dty ta]). */
static void gan__mul_grads(gan_float *const *dx, const gan_layer *L, const gan__fwd *f, const gan_float *const *dy,
                           const gan_float *const *const *other, int terms)
{
    int k, t;
    for (k = 0; k < 2; k++) {
        gan__bcast p = gan__bcast_of(f->in[k]), q = gan__bcast_of(f->in[1 - k]);
        if (!dx[k]) continue;
        memset(dx[k], 0, (size_t)f->n * p.count * sizeof(gan_float));
        for (t = 0; t < terms; t++) gan__bcast_acc(dx[k], p, dy[t], other[t][1 - k], q, f->n, L->out);
    }
}

/* da = R(dy b), db = R(dy a) */
static void gan__mul_backward(gan_layer *L, const gan__fwd *f, const gan__bwd *b)
{
    gan__mul_grads(b->dx, L, f, &b->dy, &f->x, 1);
}

/* ty = ta b + a tb */
static void gan__mul_tangent(const gan__op *op, gan_layer *L, const gan__fwd *f, const gan_float *const *tx,
                             gan_float *ty)
{
    gan__bcast pa = gan__bcast_of(f->in[0]), pb = gan__bcast_of(f->in[1]);
    size_t plane = (size_t)L->out.h * L->out.w, j;
    int i, c;
    (void)op;
    for (i = 0; i < f->n; i++)
        for (c = 0; c < L->out.c; c++) {
            size_t ia = (size_t)i * pa.count + (size_t)c * pa.sc, ib = (size_t)i * pb.count + (size_t)c * pb.sc;
            gan_float *t = ty + ((size_t)i * L->out.c + c) * plane;
            for (j = 0; j < plane; j++)
                t[j] = tx[0][ia + j * pa.sj] * f->x[1][ib + j * pb.sj] + f->x[0][ia + j * pa.sj] * tx[1][ib + j * pb.sj];
        }
}

/* The gradients of a product of two operands (Mul, Inner): dx[k] from `terms` pairs of an adjoint
   dy[t] and the operands other[t] it multiplies. */
typedef void (*gan__product_grads)(gan_float *const *dx, const gan_layer *L, const gan__fwd *f,
                                   const gan_float *const *dy, const gan_float *const *const *other, int terms);

/* The dual backward of a product y = a b (elementwise or summed): with ty = ta b + a tb,
   da = dy b + dty tb and db = dy a + dty ta (the cross terms); dta = dty b, dtb = dty a. */
static int gan__product_dual(gan__product_grads grads, const gan_layer *L, const gan__fwd *f, const gan__bwd *primal,
                             const gan__dual_call *d)
{
    const gan_float *dys[2];
    const gan_float *const *others[2];
    int terms = 0;
    if (!d->primal_zero) {
        dys[terms] = primal->dy;
        others[terms++] = f->x;
    }
    dys[terms] = d->tan.dy;
    others[terms++] = d->tx;
    grads(primal->dx, L, f, dys, others, terms);
    grads(d->tan.dx, L, f, &d->tan.dy, &f->x, 1);
    return 1;
}

/* Mul's, summed over what each operand was broadcast over */
static int gan__mul_dual(const gan__op *op, gan_layer *L, const gan__fwd *f, const gan__bwd *primal, const gan__dual_call *d)
{
    (void)op;
    return gan__product_dual(gan__mul_grads, L, f, primal, d);
}

/* ---- Concat ---- */

static const char *gan__concat_plan(gan_layer *L, const gan_shape *in, int n_in, gan__sizes *s)
{
    long long c = 0;
    int i;
    (void)s;
    for (i = 0; i < n_in; i++) {
        GAN__REQUIRE(in[i].h == in[0].h && in[i].w == in[0].w, "Concat: inputs must have the same H and W");
        c += in[i].c;
    }
    if (!gan__fits_int(c)) return "Concat: the channel count does not fit in an int";
    L->out = gan_chw((int)c, in[0].h, in[0].w);
    return NULL;
}

/* y[n] = [x0[n]; x1[n]; ...] along channels */
static void gan__concat_forward(gan_layer *L, const gan__fwd *f)
{
    size_t out_count = gan__shape_count(L->out), at;
    int i, k;
    for (i = 0; i < f->n; i++)
        for (k = 0, at = 0; k < f->n_in; k++) {
            size_t count = gan__shape_count(f->in[k]);
            memcpy(f->y + (size_t)i * out_count + at, f->x[k] + (size_t)i * count, count * sizeof(gan_float));
            at += count;
        }
}

/* dx_k = the slice of dy that x_k filled */
static void gan__concat_backward(gan_layer *L, const gan__fwd *f, const gan__bwd *b)
{
    size_t out_count = gan__shape_count(L->out), at;
    int i, k;
    for (i = 0; i < f->n; i++)
        for (k = 0, at = 0; k < f->n_in; k++) {
            size_t count = gan__shape_count(f->in[k]);
            if (b->dx[k]) memcpy(b->dx[k] + (size_t)i * count, b->dy + (size_t)i * out_count + at, count * sizeof(gan_float));
            at += count;
        }
}

/* ---- Inner ---- */

static const char *gan__inner_plan(gan_layer *L, const gan_shape *in, int n_in, gan__sizes *s)
{
    (void)n_in;
    (void)s;
    GAN__REQUIRE(in[0].c == in[1].c && in[0].h == in[1].h && in[0].w == in[1].w, "Inner: both inputs must have one shape");
    L->out = gan_chw(1, 1, 1);
    return NULL;
}

/* y_i = sum_j a_ij b_ij */
static void gan__inner_forward(gan_layer *L, const gan__fwd *f)
{
    size_t D = gan__shape_count(L->in), j;
    int i;
    for (i = 0; i < f->n; i++) {
        const gan_float *a = f->x[0] + (size_t)i * D, *b = f->x[1] + (size_t)i * D;
        double acc = 0;
        for (j = 0; j < D; j++) acc += (double)a[j] * b[j];
        f->y[i] = (gan_float)acc;
    }
}

/* dx[k] = sum over terms of dy_t[i] other_t (the operand the other side), per sample */
static void gan__inner_grads(gan_float *const *dx, const gan_layer *L, const gan__fwd *f, const gan_float *const *dy,
                             const gan_float *const *const *other, int terms)
{
    int i, k, t;
    size_t j, D = gan__shape_count(L->in);
    for (k = 0; k < 2; k++) {
        if (!dx[k]) continue;
        for (i = 0; i < f->n; i++) {
            gan_float *d = dx[k] + (size_t)i * D;
            for (j = 0; j < D; j++) d[j] = 0;
            for (t = 0; t < terms; t++) gan__axpy_row(d, other[t][1 - k] + (size_t)i * D, dy[t][i], (int)D);
        }
    }
}

/* da = dy_i b, db = dy_i a */
static void gan__inner_backward(gan_layer *L, const gan__fwd *f, const gan__bwd *b)
{
    gan__inner_grads(b->dx, L, f, &b->dy, &f->x, 1);
}

/* ty_i = <ta, b> + <a, tb> */
static void gan__inner_tangent(const gan__op *op, gan_layer *L, const gan__fwd *f, const gan_float *const *tx,
                               gan_float *ty)
{
    size_t D = gan__shape_count(L->in), j;
    int i;
    (void)op;
    for (i = 0; i < f->n; i++) {
        const gan_float *a = f->x[0] + (size_t)i * D, *b = f->x[1] + (size_t)i * D;
        const gan_float *ta = tx[0] + (size_t)i * D, *tb = tx[1] + (size_t)i * D;
        double acc = 0;
        for (j = 0; j < D; j++) acc += (double)ta[j] * b[j] + (double)a[j] * tb[j];
        ty[i] = (gan_float)acc;
    }
}

static int gan__inner_dual(const gan__op *op, gan_layer *L, const gan__fwd *f, const gan__bwd *primal, const gan__dual_call *d)
{
    (void)op;
    return gan__product_dual(gan__inner_grads, L, f, primal, d);
}

/* ---- the ops ---- */

/* One row per gan_layer_kind, in the enum's order (gan_net_build checks it). */
static const gan__op gan__ops[] = {
    { GAN_LINEAR, "Linear", 1, GAN__NEEDS_X | GAN__BILINEAR, gan__linear_plan, gan__linear_forward,
      gan__linear_backward, gan__tangent_linear, gan__dual_linear },
    { GAN_CONV2D, "Conv2d", 1, GAN__NEEDS_X | GAN__BILINEAR, gan__conv_plan, gan__conv2d_forward,
      gan__conv2d_backward, gan__tangent_linear, gan__dual_linear },
    { GAN_CONV_TRANSPOSE2D, "ConvTranspose2d", 1, GAN__NEEDS_X | GAN__BILINEAR, gan__conv_plan,
      gan__conv_transpose2d_forward, gan__conv_transpose2d_backward, gan__tangent_linear, gan__dual_linear },
    { GAN_BATCHNORM, "BatchNorm", 1, GAN__NEEDS_X | GAN__NORMS_BATCH | GAN__IN_PLACE, gan__batchnorm_plan, gan__batchnorm_forward,
      gan__batchnorm_backward, gan__tangent_diagonal, gan__batchnorm_dual },
    { GAN_LAYERNORM, "LayerNorm", 1, GAN__NEEDS_X, gan__layernorm_plan, gan__layernorm_forward,
      gan__layernorm_backward, gan__layernorm_tangent, gan__layernorm_dual },
    { GAN_RELU, "ReLU", 1, GAN__NEEDS_Y | GAN__IN_PLACE, gan__plan_same, gan__relu_forward, gan__relu_backward,
      gan__tangent_diagonal, gan__dual_linear },
    { GAN_LEAKY_RELU, "LeakyReLU", 1, GAN__NEEDS_Y | GAN__IN_PLACE, gan__plan_same, gan__leaky_relu_forward,
      gan__leaky_relu_backward, gan__tangent_diagonal, gan__dual_linear },
    { GAN_TANH, "Tanh", 1, GAN__NEEDS_Y, gan__plan_same, gan__tanh_forward, gan__tanh_backward,
      gan__tangent_diagonal, gan__smooth_dual },
    { GAN_SIGMOID, "Sigmoid", 1, GAN__NEEDS_Y, gan__plan_same, gan__sigmoid_forward, gan__sigmoid_backward,
      gan__tangent_diagonal, gan__smooth_dual },
    { GAN_DROPOUT, "Dropout", 1, GAN__RANDOM, gan__dropout_plan, gan__dropout_forward, gan__dropout_backward,
      gan__tangent_diagonal, gan__dual_linear },
    { GAN_RESHAPE, "Reshape", 1, GAN__VIEW, gan__reshape_plan, gan__reshape_forward, gan__reshape_backward,
      gan__tangent_linear, gan__dual_linear },
    { GAN_FLATTEN, "Flatten", 1, GAN__VIEW, gan__flatten_plan, gan__reshape_forward, gan__reshape_backward,
      gan__tangent_linear, gan__dual_linear },
    { GAN_UPSAMPLE2X, "Upsample2x", 1, 0, gan__upsample2x_plan, gan__upsample2x_forward,
      gan__upsample2x_backward, gan__tangent_linear, gan__dual_linear },
    { GAN_AVGPOOL2X, "AvgPool2x", 1, 0, gan__avgpool2x_plan, gan__avgpool2x_forward, gan__avgpool2x_backward,
      gan__tangent_linear, gan__dual_linear },
    { GAN_SCALE, "Scale", 1, 0, gan__plan_same, gan__scale_forward, gan__scale_backward, gan__tangent_linear,
      gan__dual_linear },
    { GAN_EMBEDDING, "Embedding", 1, GAN__NEEDS_X | GAN__LABEL_IN, gan__embedding_plan, gan__embedding_forward,
      gan__embedding_backward, gan__embedding_tangent, gan__embedding_dual },
    { GAN_ADD, "Add", 2, 0, gan__join_plan, gan__add_forward, gan__add_backward, gan__tangent_linear,
      gan__dual_linear },
    { GAN_MUL, "Mul", 2, GAN__NEEDS_X, gan__join_plan, gan__mul_forward, gan__mul_backward, gan__mul_tangent,
      gan__mul_dual },
    { GAN_CONCAT, "Concat", 0, 0, gan__concat_plan, gan__concat_forward, gan__concat_backward,
      gan__tangent_linear, gan__dual_linear },
    { GAN_INNER, "Inner", 2, GAN__NEEDS_X, gan__inner_plan, gan__inner_forward, gan__inner_backward,
      gan__inner_tangent, gan__inner_dual }
};

/* Whether a layer's dual backward reads its tangent adjoint dL/dty: a second-order term of its own,
   or a bilinear op's dW (gan__dual_linear). */
static int gan__reads_tangent_adjoint(const gan_layer *L)
{
    const gan__op *op = &gan__ops[L->kind];
    return op->dual != gan__dual_linear || ((op->flags & GAN__BILINEAR) && L->nW > 0);
}

#define GAN__N_OPS ((int)(sizeof gan__ops / sizeof gan__ops[0]))

/* What the layer's backward reads: its row's flags, except a LeakyReLU with a negative slope, whose
   output's sign is not its input's. */
static unsigned gan__needs(const gan_layer *L)
{
    unsigned flags = gan__ops[L->kind].flags;
    if (L->kind == GAN_LEAKY_RELU && L->slope < 0) flags = (flags & ~GAN__NEEDS_Y) | GAN__NEEDS_X;
    return flags;
}

/* Only asserts: with NDEBUG (or a GAN_ASSERT that ignores its argument) it does nothing. */
/* A tensor handed to a layer on its own: the layer's input (output 0) or output (1) shape, a batch
   it has memory for. Checked in every build (GAN__CHECK): nothing could be returned to say no. */
static int gan__check_io(const gan_layer *L, const gan_tensor *t, int output)
{
    GAN__CHECK(L && L->max_batch > 0, "gan_layer_forward/_backward: the layer has no memory: use one from gan_net_layer(net, i)");
    GAN__CHECK(t && t->data, "gan_layer_forward/_backward: a tensor or its data is NULL");
    GAN__CHECK(gan__shape_eq(gan_chw(t->c, t->h, t->w), output ? L->out : L->in),
               "gan_layer_forward/_backward: a tensor's shape is not the layer's (C, H, W)");
    GAN__CHECK(t->n > 0 && t->n <= L->max_batch, "gan_layer_forward/_backward: batch must be between 1 and the planned maximum");
    return 1;
}

/* What both calls need of the layer itself. */
static int gan__check_alone(const gan_layer *L)
{
    GAN__CHECK(gan__ops[L->kind].arity == 1, "gan_layer_forward/_backward run one-input layers; joins run in a graph");
    GAN__CHECK(!L->spectral, "a spectrally normalized layer keeps u and v in a network's arena: run it in one");
    return 1;
}

static int gan__check_forward(const gan_layer *L, const gan_tensor *y, const gan_tensor *x)
{
    if (!gan__check_io(L, x, 0) || !gan__check_io(L, y, 1) || !gan__check_alone(L)) return 0;
    GAN__CHECK(y->n == x->n, "gan_layer_forward: output batch must equal the input batch");
    GAN__CHECK(y->data != x->data, "gan_layer_forward: layers do not run in place: y must not be x");
    return 1;
}

static int gan__check_backward(const gan_layer *L, const gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x,
                               const gan_tensor *y)
{
    if (!gan__check_io(L, dy, 1) || !gan__check_io(L, x, 0) || !gan__check_io(L, y, 1) || !gan__check_alone(L))
        return 0;
    GAN__CHECK(x->n == dy->n && y->n == dy->n, "gan_layer_backward: dy, x and y must have one batch size");
    if (!dx) return 1;
    if (!gan__check_io(L, dx, 0)) return 0;
    GAN__CHECK(dx->n == dy->n, "gan_layer_backward: dx must have dy's batch size");
    GAN__CHECK(dx->data != dy->data && dx->data != x->data && dx->data != y->data,
               "gan_layer_backward does not run in place: dx must not be dy, x or y");
    return 1;
}

/* The forward call of a one-input layer on plain tensors. */
static gan__fwd gan__layer_call(gan_layer *L, const gan_float *const *x, gan_float *y, int n, int training)
{
    gan__fwd f;
    f.n = n;
    f.n_in = 1;
    f.in = &L->in;
    f.x = x;
    f.y = y;
    f.saved = L->saved;
    f.mode = training ? GAN__TRAIN : GAN__EVAL;
    f.bias = 1;
    return f;
}

GANDEF void gan_layer_forward(gan_layer *L, gan_tensor *y, const gan_tensor *x, int training)
{
    const gan_float *xs[1];
    gan__fwd f;
    if (!gan__check_forward(L, y, x)) return;
    xs[0] = x->data;
    f = gan__layer_call(L, xs, y->data, x->n, training);
    L->last_training = training;
    gan__ops[L->kind].forward(L, &f);
}

GANDEF void gan_layer_backward(gan_layer *L, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x,
                               const gan_tensor *y)
{
    const gan_float *xs[1];
    gan_float *dxs[1];
    gan__fwd f;
    gan__bwd b;
    if (!gan__check_backward(L, dx, dy, x, y)) return;
    xs[0] = x->data;
    dxs[0] = dx ? dx->data : NULL;
    f = gan__layer_call(L, xs, y->data, dy->n, L->last_training);
    b.dy = dy->data;
    b.dx = dxs;
    b.dparams = b.dbias = 1;
    gan__ops[L->kind].backward(L, &f, &b);
}

/* fan_in and fan_out as PyTorch computes them from the weight's dimensions (dim 1 and dim 0 times
   the kernel area), which for ConvTranspose2d means fan_in = out_ch k k. */
static void gan__fans(const gan_layer *L, double *fan_in, double *fan_out)
{
    double area = (double)L->k * L->k;
    switch (L->kind) {
    case GAN_CONV2D: *fan_in = L->in_ch * area; *fan_out = L->out_ch * area; break;
    case GAN_CONV_TRANSPOSE2D: *fan_in = L->out_ch * area; *fan_out = L->in_ch * area; break;
    default: *fan_in = L->in_ch; *fan_out = L->out_ch; break; /* Linear */
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
    if (L->kind == GAN_EMBEDDING) { /* nn.Embedding's N(0, 1) under every scheme */
        gan_fill_normal(L->W, L->nW, 0, 1, rng);
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
    if (xd - xd != 0 && xd == xd) { /* an infinite logit: the limit, x (1 - t) at +inf and -x t at -inf */
        double c = xd > 0 ? 1 - (double)t : (double)t;
        return c == 0 ? 0.0 : c > 0 ? HUGE_VAL : -HUGE_VAL;
    }
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

/* log(sum_j exp(z_j)) over k values, the largest taken out first so that no exp overflows */
static double gan__log_sum_exp(const gan_float *z, int k)
{
    double top = z[0], total = 0;
    int j;
    for (j = 1; j < k; j++) top = z[j] > top ? z[j] : top;
    if (top == HUGE_VAL) return HUGE_VAL;
    for (j = 0; j < k; j++) total += exp((double)z[j] - top);
    return top + log(total);
}

GANDEF gan_float gan_softmax_xent(gan_float *grad, const gan_float *x, const gan_float *labels, size_t n, int k)
{
    double sum = 0, scale = 1.0 / (double)n;
    size_t r;
    int j;
    GAN_ASSERT(x && labels && n > 0 && k >= 1 && "gan_softmax_xent: logits, labels, at least one row");
    for (r = 0; r < n; r++) {
        const gan_float *z = x + r * (size_t)k;
        int label = (int)labels[r];
        double lse;
        GAN_ASSERT(labels[r] == (gan_float)label && label >= 0 && label < k && "gan_softmax_xent: a label in [0, k)");
        lse = gan__log_sum_exp(z, k);
        if (lse == HUGE_VAL) { /* logits of +inf: in the limit they share the probability */
            int m = 0;
            for (j = 0; j < k; j++) m += z[j] == HUGE_VAL;
            sum += z[label] == HUGE_VAL ? log((double)m) : HUGE_VAL;
            for (j = 0; grad && j < k; j++)
                grad[r * (size_t)k + j] = (gan_float)(((z[j] == HUGE_VAL ? 1.0 / m : 0.0) - (j == label)) * scale);
            continue;
        }
        sum += lse - z[label];
        if (grad)
            for (j = 0; j < k; j++)
                grad[r * (size_t)k + j] = (gan_float)((exp((double)z[j] - lse) - (j == label)) * scale);
    }
    return (gan_float)(sum * scale);
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

/* A moment that has decayed below the smallest normal number becomes 0. Moments of a parameter whose
   gradient stays 0 shrink geometrically into subnormals, where arithmetic runs tens of times slower;
   flushing them here, explicitly, is portable and leaves the caller's floating-point state alone.
   Such a moment moves its parameter by less than 1e-30 relative to eps, so nothing visible changes. */
#ifdef GAN_DOUBLE
#define GAN__SMALLEST_NORMAL DBL_MIN
#else
#define GAN__SMALLEST_NORMAL FLT_MIN
#endif
GAN__BODY gan_float gan__flush(gan_float x) { return x < GAN__SMALLEST_NORMAL && x > -GAN__SMALLEST_NORMAL ? 0 : x; }

/* One optimizer update of values [lo, hi), elementwise. */
typedef struct gan__update {
    gan_float *w, *m, *v;
    const gan_float *dw;
    const gan_optim *opt;
} gan__update;

#ifdef GAN_DOUBLE
#define GAN__SQRT(x) sqrt(x)
#else
#define GAN__SQRT(x) sqrtf(x) /* the same bits as (float)sqrt((double)x): sqrt rounds once either way */
#endif

/* Values whose square roots are taken in a loop of their own: sqrt may set errno, so a loop calling
   it stays scalar; the loops around it then vectorize. */
#define GAN__OPTIM_BLOCK 256

GAN__BODY void gan__optim_range_body(void *ctx, size_t lo, size_t hi)
{
    const gan__update *u = (const gan__update *)ctx;
    gan_float *GAN__RESTRICT w = u->w, *GAN__RESTRICT m = u->m, *GAN__RESTRICT v = u->v;
    const gan_float *GAN__RESTRICT dw = u->dw;
    const gan_optim hyper = *u->opt, *opt = &hyper; /* a local copy: stores to w, m, v cannot change it,
                                                      so the loops keep it in registers */
    gan_float root[GAN__OPTIM_BLOCK];
    size_t i, b, e;
    switch (opt->kind) {
    case GAN_SGD: /* buf = momentum buf + g; w -= lr buf */
        if (opt->momentum != 0)
            for (i = lo; i < hi; i++) {
                m[i] = gan__flush(opt->momentum * m[i] + (dw[i] + opt->weight_decay * w[i]));
                w[i] -= opt->lr * m[i];
            }
        else
            for (i = lo; i < hi; i++) w[i] -= opt->lr * (dw[i] + opt->weight_decay * w[i]);
        break;
    case GAN_ADAM: {
        /* w -= lr (m / (1 - b1^t)) / (sqrt(v) / sqrt(1 - b2^t) + eps), PyTorch's eps placement */
        double bc1 = 1 - pow((double)opt->beta1, (double)opt->step);
        double bc2 = 1 - pow((double)opt->beta2, (double)opt->step);
        gan_float step_size = (gan_float)(opt->lr / bc1), rsqrt_bc2 = (gan_float)(1 / sqrt(bc2));
        gan_float decay = 1 - opt->lr * opt->weight_decay;
        if (opt->weight_decay != 0) /* decoupled (AdamW) */
            for (i = lo; i < hi; i++) w[i] *= decay;
        for (b = lo; b < hi; b = e) {
            e = hi - b < GAN__OPTIM_BLOCK ? hi : b + GAN__OPTIM_BLOCK;
            for (i = b; i < e; i++) {
                m[i] = gan__flush(opt->beta1 * m[i] + (1 - opt->beta1) * dw[i]);
                v[i] = gan__flush(opt->beta2 * v[i] + (1 - opt->beta2) * dw[i] * dw[i]);
            }
            for (i = b; i < e; i++) root[i - b] = GAN__SQRT(v[i]);
            for (i = b; i < e; i++) w[i] -= step_size * m[i] / (root[i - b] * rsqrt_bc2 + opt->eps);
        }
        break;
    }
    case GAN_RMSPROP: /* v = alpha v + (1 - alpha) g^2; w -= lr g / (sqrt(v) + eps) */
        for (b = lo; b < hi; b = e) {
            e = hi - b < GAN__OPTIM_BLOCK ? hi : b + GAN__OPTIM_BLOCK;
            for (i = b; i < e; i++) {
                gan_float g = dw[i] + opt->weight_decay * w[i];
                v[i] = gan__flush(opt->alpha * v[i] + (1 - opt->alpha) * g * g);
            }
            for (i = b; i < e; i++) root[i - b] = GAN__SQRT(v[i]);
            if (opt->momentum != 0)
                for (i = b; i < e; i++) {
                    m[i] = gan__flush(opt->momentum * m[i] + (dw[i] + opt->weight_decay * w[i]) / (root[i - b] + opt->eps));
                    w[i] -= opt->lr * m[i];
                }
            else
                for (i = b; i < e; i++) w[i] -= opt->lr * ((dw[i] + opt->weight_decay * w[i]) / (root[i - b] + opt->eps));
        }
        break;
    }
}
GAN__WIDE(gan__optim_range, (void *ctx, size_t lo, size_t hi), (ctx, lo, hi))

/* Elements per thread below which an update runs on one thread. */
#define GAN__OPTIM_GRAIN 32768

GANDEF void gan_optim_update(gan_float *w, gan_float *m, gan_float *v, const gan_float *dw,
                             const gan_optim *opt, size_t n)
{
    gan__update u;
    GAN_ASSERT(w && dw && opt && "gan_optim_update: NULL argument");
    GAN_ASSERT(opt->step >= 1 && "count the step (opt->step += 1) before gan_optim_update");
    u.w = w;
    u.m = m;
    u.v = v;
    u.dw = dw;
    u.opt = opt;
    gan__parallel_for(gan__optim_range, &u, n, GAN__OPTIM_GRAIN);
}

/* ==== planner ==== */

/* One buffer to place in a region: `size` values, in use from step `first` to step `last` inclusive. */
typedef struct gan__req {
    size_t size, off;
    int first, last;
} gan__req;

/* Does request a (index ia) go before b (index ib)? Larger first, then earlier, then by index. */
static int gan__req_before(const gan__req *a, int ia, const gan__req *b, int ib)
{
    if (a->size != b->size) return a->size > b->size;
    if (a->first != b->first) return a->first < b->first;
    return ia < ib;
}

/* Gives every request an offset such that two requests in use at one step never overlap, placing
   the largest first, each at the lowest offset clear of those already placed that are in use at the
   same time (the "greedy by size" heuristic of arena planners). Returns the region's size in values
   (SIZE_MAX if it overflows). order: n ints of scratch. Deterministic, O(n^3) at worst. */
static size_t gan__place(gan__req *r, int n, int *order)
{
    size_t top = 0;
    int i, j, k, moved;
    for (i = 0; i < n; i++) {
        int v = i;
        for (j = i; j > 0 && gan__req_before(&r[v], v, &r[order[j - 1]], order[j - 1]); j--) order[j] = order[j - 1];
        order[j] = v;
    }
    for (i = 0; i < n; i++) {
        gan__req *q = &r[order[i]];
        size_t off = 0;
        if (q->size)
            do { /* any placed request that overlaps [off, off + size) in time and space pushes it above itself */
                moved = 0;
                for (k = 0; k < i; k++) {
                    const gan__req *p = &r[order[k]];
                    if (p->size && p->first <= q->last && q->first <= p->last && off < gan__add(p->off, p->size) &&
                        p->off < gan__add(off, q->size)) {
                        off = gan__add(p->off, p->size);
                        moved = 1;
                    }
                }
            } while (moved && off != SIZE_MAX);
        q->off = off;
        if (gan__add(off, q->size) > top) top = gan__add(off, q->size);
    }
    return top;
}

/* ==== graph ==== */

/* A node under construction: an input (layer unused) or a layer planned for its inputs' shapes. */
typedef struct gan__gnode {
    gan_layer layer;
    int is_input;
    int first_in, n_in; /* its inputs are g->edges[first_in .. first_in + n_in) */
    gan__sizes sizes;
    char name[GAN_NAME_MAX];
} gan__gnode;

struct gan_graph {
    gan__gnode *nodes;
    int *edges, *outputs;
    int n_nodes, n_edges, n_outputs;
    int cap_nodes, cap_edges, cap_outputs;
    int n_inputs;
    const char *error; /* the first problem, at node error_node */
    int error_node;
};

/* Grows *p (elements of `size` bytes, capacity *cap) to hold `need`. 0 if out of memory. */
static int gan__grow(void **p, int *cap, int need, size_t size)
{
    void *q;
    int cap2 = *cap ? *cap : 8;
    if (need <= *cap) return 1;
    if (need > INT_MAX / 2) return 0;
    while (cap2 < need) cap2 *= 2;
    q = GAN_MALLOC((size_t)cap2 * size);
    if (!q) return 0;
    if (*cap) memcpy(q, *p, (size_t)*cap * size);
    GAN_FREE(*p);
    *p = q;
    *cap = cap2;
    return 1;
}

/* Records the graph's first problem (later ones are usually its consequences). */
static void gan__graph_error(gan_graph *g, const char *msg, int node)
{
    if (g->error) return;
    g->error = msg;
    g->error_node = node;
}

GANDEF gan_graph *gan_graph_new(void)
{
    gan_graph *g = (gan_graph *)GAN_MALLOC(sizeof(gan_graph));
    if (!g) {
        gan__fail("gan_graph_new: out of memory");
        return NULL;
    }
    memset(g, 0, sizeof *g);
    return g;
}

GANDEF void gan_graph_free(gan_graph *g)
{
    if (!g) return;
    GAN_FREE(g->nodes);
    GAN_FREE(g->edges);
    GAN_FREE(g->outputs);
    GAN_FREE(g);
}

/* A node handle that this graph made. A bad one after an earlier failure is that failure's
   consequence; otherwise it is a programmer error (a handle from another graph). */
static int gan__node_ok(gan_graph *g, gan_node x)
{
    int ok = x.id >= 0 && x.id < g->n_nodes;
    GAN_ASSERT((ok || g->error) && "a node handle that this graph did not make");
    if (!ok) gan__graph_error(g, "a node handle that this graph did not make", g->n_nodes);
    return ok;
}

/* Appends a node with the given inputs; the failed handle { -1 } if it cannot (the graph says why). */
static gan_node gan__graph_add(gan_graph *g, const gan_layer *layer, const gan_node *xs, int n_in)
{
    gan_node id;
    gan__gnode *nd;
    int i;
    id.id = -1;
    for (i = 0; i < n_in; i++)
        if (!gan__node_ok(g, xs[i])) return id;
    if (!gan__grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(gan__gnode)) ||
        !gan__grow((void **)&g->edges, &g->cap_edges, g->n_edges + n_in, sizeof(int))) {
        gan__graph_error(g, "out of memory", g->n_nodes);
        return id;
    }
    nd = &g->nodes[g->n_nodes];
    memset(nd, 0, sizeof *nd);
    nd->first_in = g->n_edges;
    nd->n_in = n_in;
    for (i = 0; i < n_in; i++) g->edges[g->n_edges++] = xs[i].id;
    if (layer) {
        const gan__op *op = &gan__ops[layer->kind];
        gan_shape *shapes = (gan_shape *)GAN_MALLOC((size_t)n_in * sizeof(gan_shape));
        const char *err;
        if (!shapes) {
            g->n_edges -= n_in;
            gan__graph_error(g, "out of memory", g->n_nodes);
            return id;
        }
        for (i = 0; i < n_in; i++) shapes[i] = g->nodes[xs[i].id].layer.out;
        nd->layer = *layer;
        nd->layer.in = shapes[0];
        /* after a failure the shapes downstream of it mean nothing: plan no more (and assert no more) */
        err = g->error ? NULL : op->plan(&nd->layer, shapes, n_in, &nd->sizes);
        GAN_FREE(shapes);
        if (err) gan__graph_error(g, err, g->n_nodes);
    }
    id.id = g->n_nodes++;
    return id;
}

GANDEF gan_node gan_input(gan_graph *g, gan_shape shape)
{
    gan_node id;
    GAN_ASSERT(g && "gan_input: NULL graph");
    GAN_ASSERT(shape.c > 0 && shape.h > 0 && shape.w > 0 && "gan_input: the shape must be positive");
    id = gan__graph_add(g, NULL, NULL, 0);
    if (id.id < 0) return id;
    g->nodes[id.id].is_input = 1;
    g->nodes[id.id].layer.in = g->nodes[id.id].layer.out = shape;
    if (shape.c <= 0 || shape.h <= 0 || shape.w <= 0) gan__graph_error(g, "an input shape that is not positive", id.id);
    g->n_inputs++;
    return id;
}

GANDEF gan_node gan_apply(gan_graph *g, gan_layer layer, gan_node x)
{
    int ok = (int)layer.kind >= 0 && (int)layer.kind < GAN__N_OPS && gan__ops[layer.kind].arity == 1;
    GAN_ASSERT(g && "gan_apply: NULL graph");
    GAN_ASSERT(ok && "gan_apply takes a one-input layer; joins are gan_add, gan_mul, gan_concat, gan_inner");
    if (!ok) {
        gan_node failed;
        failed.id = -1;
        gan__graph_error(g, "gan_apply takes a one-input layer; joins are gan_add, gan_mul, gan_concat, gan_inner", g->n_nodes);
        return failed;
    }
    return gan__graph_add(g, &layer, &x, 1);
}

GANDEF gan_node gan_chain(gan_graph *g, gan_node x, const gan_layer *layers, int n_layers)
{
    int i;
    GAN_ASSERT(layers && n_layers > 0 && "gan_chain needs layers");
    for (i = 0; i < n_layers; i++) x = gan_apply(g, layers[i], x);
    return x;
}

/* A join of two nodes. */
static gan_node gan__join(gan_graph *g, gan_layer_kind kind, gan_node a, gan_node b)
{
    gan_layer L = gan__layer_new(kind);
    gan_node xs[2];
    GAN_ASSERT(g && "a join needs a graph");
    xs[0] = a;
    xs[1] = b;
    return gan__graph_add(g, &L, xs, 2);
}

GANDEF gan_node gan_add(gan_graph *g, gan_node a, gan_node b) { return gan__join(g, GAN_ADD, a, b); }

GANDEF gan_node gan_mul(gan_graph *g, gan_node a, gan_node b) { return gan__join(g, GAN_MUL, a, b); }

GANDEF gan_node gan_inner(gan_graph *g, gan_node a, gan_node b) { return gan__join(g, GAN_INNER, a, b); }

GANDEF gan_node gan_concat(gan_graph *g, const gan_node *xs, int n)
{
    gan_layer L = gan__layer_new(GAN_CONCAT);
    GAN_ASSERT(g && xs && n >= 1 && "gan_concat needs at least one node");
    if (!xs || n < 1) {
        gan_node failed;
        failed.id = -1;
        gan__graph_error(g, "gan_concat needs at least one node", g->n_nodes);
        return failed;
    }
    return gan__graph_add(g, &L, xs, n);
}

GANDEF void gan_output(gan_graph *g, gan_node y)
{
    int i;
    GAN_ASSERT(g && "gan_output: NULL graph");
    if (!gan__node_ok(g, y)) return;
    for (i = 0; i < g->n_outputs; i++) {
        GAN_ASSERT(g->outputs[i] != y.id && "gan_output: the node is an output already");
        if (g->outputs[i] == y.id) {
            gan__graph_error(g, "the node is an output already", y.id);
            return;
        }
    }
    if (!gan__grow((void **)&g->outputs, &g->cap_outputs, g->n_outputs + 1, sizeof(int))) {
        gan__graph_error(g, "out of memory", y.id);
        return;
    }
    g->outputs[g->n_outputs++] = y.id;
}

GANDEF void gan_name(gan_graph *g, gan_node node, const char *name)
{
    size_t len;
    GAN_ASSERT(g && name && "gan_name: NULL argument");
    if (!gan__node_ok(g, node)) return;
    len = strlen(name);
    GAN_ASSERT(len > 0 && len < GAN_NAME_MAX && "gan_name: names have 1 to GAN_NAME_MAX - 1 characters");
    if (len == 0 || len >= GAN_NAME_MAX) {
        gan__graph_error(g, "a name that is empty or longer than GAN_NAME_MAX - 1 characters", node.id);
        return;
    }
    memcpy(g->nodes[node.id].name, name, len + 1);
}

GANDEF gan_shape gan_node_shape(const gan_graph *g, gan_node node)
{
    GAN_ASSERT(g && node.id >= 0 && node.id < g->n_nodes && "gan_node_shape: a node of this graph");
    return g->nodes[node.id].layer.out;
}

/* ==== net ==== */

/* The largest arena gan_net_build will ask for: a plan beyond it is refused before any allocation. */
#ifndef GAN_MAX_ARENA_BYTES
#define GAN_MAX_ARENA_BYTES ((size_t)1 << (sizeof(size_t) >= 8 ? 39 : 30))
#endif

/* A tensor's name: its node's, a dot, and the longest role ("running_mean"). */
#define GAN__TENSOR_NAME_MAX (GAN_NAME_MAX + sizeof ".running_mean")

/* A node of a built network. */
typedef struct gan__pnode {
    gan_layer *layer;   /* NULL for an input */
    int first_in, n_in; /* its input edges: plan->edges[first_in .. first_in + n_in) */
    int first_out, n_out; /* the edges it feeds: plan->out_edges[first_out ...], latest consumer first */
    int index;          /* position among the inputs or among the layers */
    int root;           /* the node whose memory holds its output: itself, or a view's source */
    int keep;           /* the training output survives the forward: read by backward, or an output */
    int reaches;        /* an output's gradient reaches it */
    int is_output;
    gan_shape shape;
    size_t count;       /* values per sample */
    gan_tensor act;     /* the training forward's output */
    gan_float *saved;   /* the training forward's saved values */
    gan_float *iact, *isaved; /* the same for gan_net_infer */
    gan_float *grad;    /* dL/d this output, in backward (inputs: what gan_net_input_grad returns) */
    gan_tensor dx;      /* inputs: grad as a tensor */
    gan_float *pgrad, *tan; /* gan_net_penalty: the primal adjoint, and the tangent */
    gan_float *tgrad;       /* ... and the tangent adjoint, where the dual reads it: grad, kept */
    /* per call */
    unsigned char need;  /* backward: its gradient is needed */
    unsigned char pzero; /* penalty: its primal adjoint is zero */
    unsigned char feeds; /* penalty: a gradient flows from the first output to it */
    unsigned char down;  /* penalty: it depends on the input differentiated and feeds the first output */
    const char *name;
} gan__pnode;

/* Node src feeds input `slot` of node dst. */
typedef struct gan__pedge {
    int src, dst, slot;
    int diff; /* a gradient flows along it (not into Embedding's class index) */
    int own;  /* its gradient goes to a buffer of its own, added to src's before src's backward; else
                 it is the first to reach src and writes src's buffer itself */
    gan_float *grad, *pgrad;
    unsigned char pzero;
} gan__pedge;

/* The block that holds region S and the scratch: the memory that lives only inside one call. One
   network's own, or shared by several that never run at the same time (gan_net_share_scratch). */
typedef struct gan__transient {
    void *block;     /* what GAN_MALLOC returned */
    gan_float *base; /* aligned */
    size_t count;    /* values */
    int users;       /* networks pointing into it */
} gan__transient;

typedef struct gan__plan gan__plan;
struct gan__plan {
    int n_nodes, n_edges;
    gan__pnode *nodes;
    gan__pedge *edges;
    int *out_edges, *inputs, *outputs; /* edge indices by source; node ids of the inputs and outputs */
    gan_shape *edge_shapes;            /* the source's shape of each edge, so a node's are contiguous */
    const gan_float **xs, **txs;       /* per-call pointer scratch, one per input of the widest node */
    gan_float **dxs, **dtxs;
    char (*param_names)[GAN__TENSOR_NAME_MAX];
    char (*names)[GAN_NAME_MAX];
    unsigned flags;
    gan__mode last_mode;               /* of the last training forward */
    size_t bytes_params, bytes_train, bytes_shared, bytes_work; /* for gan_net_print */
    gan__transient *transient;         /* region S and the scratch */
    size_t transient_count;            /* the values of it this network needs */
    gan_net *share_next;               /* the ring of networks sharing it (alone: this one) */
};

/* Where each buffer went: indices into the request lists of the two planned regions, or
   GAN__NO_BUFFER. */
typedef struct gan__slots {
    int act, saved, iact, isaved, grad, pgrad, tgrad, tan;
} gan__slots;

#define GAN__NO_BUFFER (-1)

/* count rounded up to whole alignment blocks; SIZE_MAX stays SIZE_MAX */
static size_t gan__round_up(size_t count)
{
    return count > SIZE_MAX - GAN__ALIGN_FLOATS ? SIZE_MAX : (count + GAN__ALIGN_FLOATS - 1) / GAN__ALIGN_FLOATS * GAN__ALIGN_FLOATS;
}

/* Carves aligned pieces from a block of header memory in planning order; base NULL only counts. */
typedef struct gan__carver {
    char *base;
    size_t used;
} gan__carver;

/* Every piece of the header starts on this boundary, enough for any of its types. */
#define GAN__HEADER_ALIGN 16

static void *gan__carve_bytes(gan__carver *cv, size_t n, size_t count)
{
    void *p = cv->base ? cv->base + cv->used : NULL;
    size_t bytes = gan__mul(n, count);
    cv->used = gan__add(cv->used, bytes > SIZE_MAX - GAN__HEADER_ALIGN ? SIZE_MAX
                                                                       : (bytes + GAN__HEADER_ALIGN - 1) / GAN__HEADER_ALIGN * GAN__HEADER_ALIGN);
    return p;
}


/* Steps of the planned schedules. Training forward (region A): inputs at 0, node k at k + 1, then the
   end. The shared region S holds three schedules one after another -- inference, backward, the
   penalty -- because they never run at once; an input's gradient lives through all of them (it is
   returned to the caller and stays valid until the next backward). Backward visits nodes last to
   first: node k adds up its gradient at sum_step and runs at op_step. */
typedef struct gan__steps {
    int n;       /* nodes */
    int infer0;  /* inference: inputs at infer0, node k at infer0 + k + 1 */
    int back0;   /* backward: seeds at back0 */
    int tan0;    /* penalty: tangents, like inference */
    int dual0;   /* penalty: dual backward, like backward */
    int end;     /* after everything */
} gan__steps;

static int gan__sum_step(const gan__steps *s, int base, int k) { return base + 1 + 2 * (s->n - 1 - k); }
static int gan__op_step(const gan__steps *s, int base, int k) { return base + 2 + 2 * (s->n - 1 - k); }

/* Planning one region: the plan, the schedules' steps, the batch, the requests made so far (at most
   cap), and where each node's and each edge's requests went. */
typedef struct gan__planning {
    const gan__plan *P;
    const gan__sizes *sizes;
    gan__steps st;
    size_t batch;
    gan__req *reqs;
    int n, cap;
    gan__slots *ns, *es;
} gan__planning;

/* The request for a buffer of `count` values in use over [first, last]; returns its index. */
static int gan__request(gan__planning *pl, size_t count, int first, int last)
{
    gan__req *r = &pl->reqs[pl->n];
    GAN_ASSERT(pl->n < pl->cap && "gan_net_build: more buffer requests than planned for");
    r->size = gan__round_up(count);
    r->off = 0;
    r->first = first;
    r->last = last;
    return pl->n++;
}

/* The last step a forward output is read, in a schedule where node k runs at base + k + 1: its
   consumers' steps, or `end` if kept for backward and kept_to_end. */
static int gan__last_read(const gan__plan *P, int r, int base, int end, int kept_to_end)
{
    int k, e, last = base + (P->nodes[r].layer ? r + 1 : 0);
    for (k = 0; k < P->n_nodes; k++) {
        const gan__pnode *nd = &P->nodes[k];
        if (nd->root != r) continue;
        if (nd->keep && kept_to_end) return end;
        for (e = 0; e < nd->n_out; e++) {
            int dst = P->edges[P->out_edges[nd->first_out + e]].dst;
            if (base + dst + 1 > last) last = base + dst + 1;
        }
        if (nd->is_output && base + P->n_nodes + 1 > last) last = base + P->n_nodes + 1;
    }
    return last;
}

/* The node whose forward output node k may write its own over, or -1: k works in place, and its one
   input is a layer's own output (not a view, not a network output) that k alone reads and that no
   backward reads (when training). A ReLU after a BatchNorm then needs no memory of its own. */
static int gan__in_place_source(const gan__plan *P, int k, int training)
{
    const gan__pnode *nd = &P->nodes[k], *src;
    int r, m;
    if (!nd->layer || nd->root != k || nd->n_in != 1 || !(gan__ops[nd->layer->kind].flags & GAN__IN_PLACE)) return -1;
    r = P->edges[nd->first_in].src;
    src = &P->nodes[r];
    if (!src->layer || src->root != r || src->is_output || (training && src->keep) || src->n_out != 1 ||
        src->count != nd->count)
        return -1;
    for (m = r + 1; m < P->n_nodes; m++)
        if (P->nodes[m].root == r) return -1; /* a view of it reads it too */
    return r;
}

/* The node whose gradient buffer node k's backward may write dL/dx over its dL/dy in, or -1: k works
   in place, and its one input is a layer that passes dL/dx on to nothing else (k is its only
   consumer and writes its buffer first: a network output, seeded from outside, never has such an edge). */
static int gan__in_place_grad(const gan__plan *P, int k)
{
    const gan__pnode *nd = &P->nodes[k], *src;
    const gan__pedge *ed;
    if (!nd->layer || !nd->reaches || nd->n_in != 1 || !(gan__ops[nd->layer->kind].flags & GAN__IN_PLACE)) return -1;
    ed = &P->edges[nd->first_in];
    src = &P->nodes[ed->src];
    if (!ed->diff || ed->own || !src->layer || !src->reaches || src->n_out != 1 || src->count != nd->count)
        return -1;
    return ed->src;
}

/* Requests for a forward schedule in which node k runs at base + k + 1 and that ends at `end`: each
   root's output until its last reader, and each layer's saved values. The training forward keeps
   what backward reads until `end`; inference keeps an output only until its consumers have run and
   saved values only during their own call. */
static void gan__request_forward(gan__planning *pl, int base, int end, int training)
{
    const gan__plan *P = pl->P;
    int k;
    for (k = 0; k < P->n_nodes; k++) {
        const gan__pnode *nd = &P->nodes[k];
        int t = base + (nd->layer ? k + 1 : 0);
        if (nd->root == k) {
            int r = gan__in_place_source(P, k, training), last = gan__last_read(P, k, base, end, training), idx;
            if (r >= 0) { /* y over x: x's buffer, in use until y's last reader */
                idx = training ? pl->ns[r].act : pl->ns[r].iact;
                if (pl->reqs[idx].last < last) pl->reqs[idx].last = last;
            } else {
                idx = gan__request(pl, gan__mul(pl->batch, nd->count), t, last);
            }
            *(training ? &pl->ns[k].act : &pl->ns[k].iact) = idx;
        }
        if (nd->layer) {
            const gan__sizes *z = &pl->sizes[nd->index];
            size_t count = gan__add(z->saved_fixed, gan__mul(pl->batch, z->saved_per_sample));
            if (count) *(training ? &pl->ns[k].saved : &pl->ns[k].isaved) = gan__request(pl, count, t, training ? end : t);
        }
    }
}

/* Requests for one backward-like schedule (backward, or the penalty's dual backward when dual):
   each reaching node's gradient from its first writer to its own step, each own edge from its
   consumer's step to its source's sum step. Inputs: the backward's persist; the dual's are not needed.
   With GAN_BUILD_PENALTY, the gradient of a node whose dual reads its tangent adjoint lives on to
   the end, not in place, and is that adjoint (the dual asks for primal adjoints only): the tangent
   adjoints obey the same linear backward from the same seed (1 a sample at the first output) as the
   penalty's first backward, gan_net_penalty's step 1. */
static void gan__request_grads(gan__planning *pl, int base, int dual)
{
    const gan__plan *P = pl->P;
    const gan__steps *s = &pl->st;
    int k, e;
    for (k = 0; k < P->n_nodes; k++) {
        const gan__pnode *nd = &P->nodes[k];
        int first = s->end, last;
        int keeps = (P->flags & GAN_BUILD_PENALTY) && nd->layer && gan__reads_tangent_adjoint(nd->layer);
        if (!nd->layer && dual) continue;
        if (!nd->layer && !dual) {
            pl->ns[k].grad = gan__request(pl, gan__mul(pl->batch, nd->count), 0, s->end);
            continue;
        }
        if (!nd->reaches) continue;
        if (nd->is_output) first = base;
        for (e = 0; e < nd->n_out; e++) {
            const gan__pedge *ed = &P->edges[P->out_edges[nd->first_out + e]];
            if (ed->diff && P->nodes[ed->dst].reaches && gan__op_step(s, base, ed->dst) < first)
                first = gan__op_step(s, base, ed->dst);
        }
        last = gan__op_step(s, base, k);
        if (dual) {
            pl->ns[k].pgrad = gan__request(pl, gan__mul(pl->batch, nd->count), first, last);
            pl->ns[k].tgrad = keeps ? pl->ns[k].grad : GAN__NO_BUFFER;
            continue;
        }
        if (keeps) last = s->end;
        if (!keeps && gan__in_place_grad(P, k) >= 0) { /* dL/dx over dL/dy: one buffer from dL/dy's first
                                                         writer to the end of dL/dx's use */
            int src = gan__in_place_grad(P, k), idx = pl->ns[src].grad;
            if (pl->reqs[idx].first > first) pl->reqs[idx].first = first;
            pl->ns[k].grad = idx;
            continue;
        }
        pl->ns[k].grad = gan__request(pl, gan__mul(pl->batch, nd->count), first, last);
    }
    for (e = 0; e < P->n_edges; e++) {
        const gan__pedge *ed = &P->edges[e];
        const gan__pnode *src = &P->nodes[ed->src];
        int idx;
        if (!ed->own || (dual && !src->layer)) continue;
        idx = gan__request(pl, gan__mul(pl->batch, src->count), gan__op_step(s, base, ed->dst),
                           gan__sum_step(s, base, ed->src));
        *(dual ? &pl->es[e].pgrad : &pl->es[e].grad) = idx;
    }
}

/* Fills the node and edge tables from the graph: views' roots, who reaches an output, which
   training outputs survive the forward, and which edge writes its source's gradient first. */
static void gan__plan_graph(gan__plan *P, const gan_graph *g, gan_layer *layers, const int *outputs, int n_outputs)
{
    int k, e, i, n_layers = 0, n_inputs = 0, at;
    for (k = 0; k < g->n_nodes; k++) {
        const gan__gnode *gn = &g->nodes[k];
        gan__pnode *nd = &P->nodes[k];
        nd->first_in = gn->first_in;
        nd->n_in = gn->n_in;
        nd->shape = gn->layer.out;
        nd->count = gan__count(nd->shape);
        nd->root = k;
        if (gn->is_input) {
            nd->index = n_inputs;
            P->inputs[n_inputs++] = k;
        } else {
            nd->index = n_layers;
            nd->layer = &layers[n_layers++];
            if (gan__ops[gn->layer.kind].flags & GAN__VIEW) nd->root = P->nodes[g->edges[gn->first_in]].root;
        }
        for (i = 0; i < gn->n_in; i++) {
            gan__pedge *ed = &P->edges[gn->first_in + i];
            ed->src = g->edges[gn->first_in + i];
            ed->dst = k;
            ed->slot = i;
            ed->diff = !(gan__ops[gn->layer.kind].flags & GAN__LABEL_IN);
            P->edge_shapes[gn->first_in + i] = g->nodes[ed->src].layer.out;
            P->nodes[ed->src].n_out++;
        }
    }
    for (i = 0; i < n_outputs; i++) {
        P->outputs[i] = outputs[i];
        P->nodes[outputs[i]].is_output = 1;
    }
    /* consumers grouped by source, latest consumer first (the order backward reaches them) */
    for (k = 0, at = 0; k < P->n_nodes; k++) {
        P->nodes[k].first_out = at;
        at += P->nodes[k].n_out;
        P->nodes[k].n_out = 0;
    }
    for (e = P->n_edges - 1; e >= 0; e--) {
        gan__pnode *src = &P->nodes[P->edges[e].src];
        P->out_edges[src->first_out + src->n_out++] = e;
    }
    for (k = P->n_nodes - 1; k >= 0; k--) {
        gan__pnode *nd = &P->nodes[k];
        int first_writer = nd->is_output != 0;
        nd->reaches = nd->is_output != 0;
        for (e = 0; e < nd->n_out; e++) {
            gan__pedge *ed = &P->edges[P->out_edges[nd->first_out + e]];
            if (!ed->diff || !P->nodes[ed->dst].reaches) continue;
            nd->reaches = 1;
            ed->own = first_writer;
            first_writer = 1;
        }
    }
    for (k = 0; k < P->n_nodes; k++) {
        gan__pnode *nd = &P->nodes[k];
        unsigned needs = nd->layer ? gan__needs(nd->layer) : 0;
        if (!nd->layer || nd->is_output) P->nodes[nd->root].keep = 1;
        if (needs & GAN__NEEDS_Y) P->nodes[nd->root].keep = 1;
        if (needs & GAN__NEEDS_X)
            for (i = 0; i < nd->n_in; i++) P->nodes[P->nodes[P->edges[nd->first_in + i].src].root].keep = 1;
    }
    for (k = 0; k < P->n_nodes; k++) P->nodes[k].keep = P->nodes[P->nodes[k].root].keep;
}

/* What makes a graph unbuildable besides what gan_apply and the joins found. NULL if nothing. */
static const char *gan__graph_problem(const gan_graph *g, int *node)
{
    int k;
    for (k = 0; k < g->n_nodes; k++) {
        const gan__gnode *gn = &g->nodes[k];
        *node = k;
        if (!gn->is_input && (gan__ops[gn->layer.kind].flags & GAN__LABEL_IN) && !g->nodes[g->edges[gn->first_in]].is_input)
            return "a class index (the input of an Embedding) must come straight from a network input";
    }
    return NULL;
}

/* Does a node hold tensors that are named (parameters or running statistics)? */
static int gan__has_tensors(const gan__pnode *nd, const gan__sizes *sizes)
{
    return nd->layer && (nd->layer->nW || nd->layer->nb || sizes[nd->index].buffers);
}

/* Two nodes with named tensors under one name (given, or a default index) would give two tensors one
   name. 0 and the error if so. */
static int gan__names_unique(const gan__plan *P, const gan__sizes *sizes)
{
    int k, j;
    for (k = 0; k < P->n_nodes; k++)
        for (j = 0; j < k && gan__has_tensors(&P->nodes[k], sizes); j++)
            if (gan__has_tensors(&P->nodes[j], sizes) && strcmp(P->nodes[j].name, P->nodes[k].name) == 0)
                return gan__fail("gan_net_build: nodes %d and %d are both named '%s'", j, k, P->nodes[k].name);
    return 1;
}

/* ---- spectral normalization ---- */

/* torch.nn.functional.normalize's floor under a vector's norm */
#define GAN__SN_EPS 1e-12

/* x = x / max(||x||, eps) */
static void gan__sn_normalize(gan_float *x, size_t n)
{
    double sum = 0, norm;
    size_t j;
    for (j = 0; j < n; j++) sum += (double)x[j] * x[j];
    norm = sqrt(sum);
    if (norm < GAN__SN_EPS) norm = GAN__SN_EPS;
    for (j = 0; j < n; j++) x[j] = (gan_float)(x[j] / norm);
}

/* W (out x in k k) -> sn_w = W / sigma with sigma = u^T W v; when `update`, one power iteration
   first: v = W^T u / ||W^T u||, then u = W v / ||W v||. Returns sigma. */
static double gan__sn_weight(gan_layer *L, int update)
{
    size_t rows = (size_t)L->out_ch, cols = L->nW / rows, i, j;
    const gan_float *W = L->W;
    gan_float *u = L->sn_u, *v = L->sn_v;
    double sigma = 0;
    if (update) {
        memset(v, 0, cols * sizeof(gan_float));
        for (i = 0; i < rows; i++) gan__axpy_row(v, W + i * cols, u[i], (int)cols);
        gan__sn_normalize(v, cols);
        for (i = 0; i < rows; i++) {
            double dot = 0;
            for (j = 0; j < cols; j++) dot += (double)W[i * cols + j] * v[j];
            u[i] = (gan_float)dot;
        }
        gan__sn_normalize(u, rows);
    }
    for (i = 0; i < rows; i++) {
        double dot = 0;
        for (j = 0; j < cols; j++) dot += (double)W[i * cols + j] * v[j];
        sigma += u[i] * dot;
    }
    sigma = (gan_float)sigma; /* the sigma kept for the backward and for gan__sn_restore, to the bit */
    for (j = 0; j < L->nW; j++) L->sn_w[j] = (gan_float)(W[j] / sigma);
    return sigma;
}

/* dL/dW += (G - <G, W / sigma> u v^T) / sigma for G = dL/d(W / sigma): with u and v held fixed,
   dsigma/dW = u v^T. */
static void gan__sn_fold(gan_layer *L)
{
    size_t rows = (size_t)L->out_ch, cols = L->nW / rows, i, j;
    const gan_float *G = L->sn_dw, *Wn = L->sn_w, *u = L->sn_u, *v = L->sn_v;
    double c = 0, inv = 1 / (double)L->sn_sigma;
    for (j = 0; j < L->nW; j++) c += (double)G[j] * Wn[j];
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++)
            L->dW[i * cols + j] += (gan_float)((G[i * cols + j] - c * u[i] * v[j]) * inv);
}

/* Around every op call of a spectrally normalized layer: its kernels see W / sigma and a gradient of
   their own as W and dW (gan__sn_begin swaps them in, gan__sn_end back), and a call that accumulated
   parameter gradients has them carried through sigma into dL/dW. */
static void gan__sn_swap(gan_layer *L)
{
    gan_float *t = L->W;
    L->W = L->sn_w;
    L->sn_w = t;
    t = L->dW;
    L->dW = L->sn_dw;
    L->sn_dw = t;
}

static void gan__sn_begin(gan_layer *L, int dparams)
{
    if (!L->spectral) return;
    if (dparams) memset(L->sn_dw, 0, L->nW * sizeof(gan_float));
    gan__sn_swap(L);
}

static void gan__sn_end(gan_layer *L, int dparams)
{
    if (!L->spectral) return;
    gan__sn_swap(L);
    if (dparams) gan__sn_fold(L);
}

/* After sampling, which normalized with its own sigma, W / sigma is the last training forward's again
   (a backward may follow). */
static void gan__sn_restore(gan_net *net)
{
    int i;
    size_t j;
    for (i = 0; i < net->n_layers; i++) {
        gan_layer *L = &net->layers[i];
        if (L->spectral && L->sn_sigma != 0)
            for (j = 0; j < L->nW; j++) L->sn_w[j] = (gan_float)(L->W[j] / (double)L->sn_sigma);
    }
}

/* A layer's buffers (state that is not a parameter): BatchNorm's running mean and variance, a
   spectral norm's u and v. Returns how many; when p is not NULL, fills in buffer j's role, data and
   length. */
static int gan__buffers_of(const gan_layer *L, int j, gan_param *p)
{
    int n = (L->run_mean ? 2 : 0) + (L->spectral ? 2 : 0);
    if (p && j >= 0 && j < n) {
        if (L->run_mean) {
            p->role = j == 0 ? "running_mean" : "running_var";
            p->data = j == 0 ? L->run_mean : L->run_var;
            p->count = (size_t)L->in.c;
        } else {
            p->role = j == 0 ? "weight_u" : "weight_v";
            p->data = j == 0 ? L->sn_u : L->sn_v;
            p->count = j == 0 ? (size_t)L->out_ch : L->nW / (size_t)L->out_ch;
        }
    }
    return n;
}

/* Lays out the arena: parameters | gradients | first moments | second moments (each contiguous, so
   zero-grad and the optimizer are single loops) | running statistics (with the blocks before,
   everything a checkpoint holds) | training activations and saved values (region A). Then, in a block
   of its own that networks may share (gan_net_share_scratch), the memory that lives only inside a
   call: inference, gradients and the penalty's buffers (region S) | scratch. With base NULL it only
   counts; returns the arena's values (the block's are rg->size_s + rg->work). */
/* The planned regions and the scratch, in values, and where they start once the memory exists. */
typedef struct gan__regions {
    size_t size_a, size_s, work;
    gan_float *a, *s;
} gan__regions;

static size_t gan__arena_layout(gan_net *net, gan_float *base, gan_float *transient, const gan__sizes *sizes,
                                gan__regions *rg)
{
    size_t params = 0, off = 0, at;
    int i;
    for (i = 0; i < net->n_layers; i++) params = gan__add(params, gan__round_up(gan__add(net->layers[i].nW, net->layers[i].nb)));
    net->n_params = params;
    if (base) {
        net->params = base;
        net->grads = base + params;
        net->opt_m = base + 2 * params;
        net->opt_v = base + 3 * params;
    }
    at = gan__mul(params, 4);
    for (i = 0; i < net->n_layers; i++) {
        gan_layer *L = &net->layers[i];
        size_t half = gan__round_up(sizes[i].buffers / 2);
        if (base) {
            L->W = L->nW ? net->params + off : NULL;
            L->dW = L->nW ? net->grads + off : NULL;
            L->b = L->nb ? net->params + off + L->nW : NULL;
            L->db = L->nb ? net->grads + off + L->nW : NULL;
            L->run_mean = sizes[i].buffers ? base + at : NULL;
            L->run_var = sizes[i].buffers ? base + at + half : NULL;
        }
        off = gan__add(off, gan__round_up(gan__add(L->nW, L->nb)));
        if (sizes[i].buffers) at = gan__add(at, gan__mul(2, half));
        if (L->spectral) { /* u (out rows), v (in k k columns), W / sigma, dL/d(W / sigma) */
            size_t rows = gan__round_up((size_t)L->out_ch), cols = gan__round_up(L->nW / (size_t)L->out_ch);
            size_t w = gan__round_up(L->nW);
            if (base) {
                L->sn_u = base + at;
                L->sn_v = L->sn_u + rows;
                L->sn_w = L->sn_v + cols;
                L->sn_dw = L->sn_w + w;
            }
            at = gan__add(at, gan__add(gan__add(rows, cols), gan__mul(2, w)));
        }
    }
    if (base) {
        rg->a = base + at;
        rg->s = transient;
        for (i = 0; i < net->n_layers; i++) {
            net->layers[i].pack = rg->s + rg->size_s;
            net->layers[i].work = net->layers[i].pack + GAN__PACK_FLOATS;
        }
    }
    return gan__add(at, rg->size_a);
}

/* A call-local block of count values (NULL if out of memory), with one user. */
static gan__transient *gan__transient_new(size_t count)
{
    gan__transient *t = (gan__transient *)GAN_MALLOC(sizeof *t);
    if (!t) return NULL;
    t->block = GAN_MALLOC(count * sizeof(gan_float) + GAN__ALIGN_BYTES);
    if (!t->block) {
        GAN_FREE(t);
        return NULL;
    }
    t->base = (gan_float *)gan__align_up(t->block);
    t->count = count;
    t->users = 1;
    return t; /* not cleared: every call writes what it reads there, and pages never touched stay
                 out of memory (the blocks that gan_net_share_scratch replaces cost nothing) */
}

/* One user fewer; the last frees the block. NULL: nothing. */
static void gan__transient_release(gan__transient *t)
{
    if (!t || --t->users > 0) return;
    GAN_FREE(t->block);
    GAN_FREE(t);
}

/* Moves every pointer of the network into its call-local block to the same place in `to`. */
static void gan__net_rebase(gan_net *net, gan__transient *to)
{
    gan__plan *P = net->plan;
    gan_float *from = P->transient->base;
    int k, e;
#define GAN__MOVE(ptr) ((ptr) = (ptr) ? to->base + ((ptr) - from) : (ptr))
    for (k = 0; k < P->n_nodes; k++) {
        gan__pnode *nd = &P->nodes[k];
        GAN__MOVE(nd->iact);
        GAN__MOVE(nd->isaved);
        GAN__MOVE(nd->grad);
        GAN__MOVE(nd->pgrad);
        GAN__MOVE(nd->tgrad);
        GAN__MOVE(nd->tan);
        nd->dx.data = nd->grad;
    }
    for (e = 0; e < P->n_edges; e++) {
        GAN__MOVE(P->edges[e].grad);
        GAN__MOVE(P->edges[e].pgrad);
    }
    for (k = 0; k < net->n_layers; k++) {
        GAN__MOVE(net->layers[k].pack);
        GAN__MOVE(net->layers[k].work);
    }
#undef GAN__MOVE
    P->transient = to;
}

/* Over the ring of networks sharing net's block: the largest need (into *need), and with `to` each
   moved there. Returns how many there are. */
static int gan__ring_visit(gan_net *net, size_t *need, gan__transient *to)
{
    gan_net *n = net;
    int users = 0;
    do {
        if (n->plan->transient_count > *need) *need = n->plan->transient_count;
        if (to) gan__net_rebase(n, to);
        users++;
        n = n->plan->share_next;
    } while (n != net);
    return users;
}

GANDEF int gan_net_share_scratch(gan_net *a, gan_net *b)
{
    gan__transient *t, *ta, *tb;
    gan_net *next;
    size_t need = 0;
    int users;
    GAN_ASSERT(a && b && "gan_net_share_scratch: NULL network");
    ta = a->plan->transient;
    tb = b->plan->transient;
    if (ta == tb) return 1;
    gan__ring_visit(a, &need, NULL);
    gan__ring_visit(b, &need, NULL);
    t = gan__transient_new(need);
    if (!t) return gan__fail("gan_net_share_scratch: out of memory for a block of %.1f MiB", (double)need * sizeof(gan_float) / 1048576.0);
    users = gan__ring_visit(a, &need, t) + gan__ring_visit(b, &need, t);
    t->users = users;
    ta->users = tb->users = 1;
    gan__transient_release(ta);
    gan__transient_release(tb);
    next = a->plan->share_next; /* the two rings become one */
    a->plan->share_next = b->plan->share_next;
    b->plan->share_next = next;
    return 1;
}

/* The header block: the struct, its layers, the plan, its tables and the layers' sizes, carved in
   one order. With cv->base NULL it only counts. */
/* The most inputs of any node (at least 1): the length of the per-call pointer scratch. */
static size_t gan__widest(const gan_graph *g)
{
    size_t most = 1;
    int k;
    for (k = 0; k < g->n_nodes; k++)
        if ((size_t)g->nodes[k].n_in > most) most = (size_t)g->nodes[k].n_in;
    return most;
}

static gan_net *gan__net_header(gan__carver *cv, const gan_graph *g, int n_layers, int n_outputs, int n_params,
                                gan__sizes **sizes)
{
    size_t slots = gan__widest(g);
    gan_net *net = (gan_net *)gan__carve_bytes(cv, sizeof(gan_net), 1);
    gan_layer *layers = (gan_layer *)gan__carve_bytes(cv, sizeof(gan_layer), (size_t)n_layers);
    gan__plan *P = (gan__plan *)gan__carve_bytes(cv, sizeof(gan__plan), 1);
    gan__pnode *nodes = (gan__pnode *)gan__carve_bytes(cv, sizeof(gan__pnode), (size_t)g->n_nodes);
    gan__pedge *edges = (gan__pedge *)gan__carve_bytes(cv, sizeof(gan__pedge), (size_t)g->n_edges);
    int *out_edges = (int *)gan__carve_bytes(cv, sizeof(int), (size_t)g->n_edges);
    int *inputs = (int *)gan__carve_bytes(cv, sizeof(int), (size_t)g->n_inputs);
    int *outputs = (int *)gan__carve_bytes(cv, sizeof(int), (size_t)n_outputs);
    gan_shape *edge_shapes = (gan_shape *)gan__carve_bytes(cv, sizeof(gan_shape), (size_t)g->n_edges);
    const gan_float **xs = (const gan_float **)gan__carve_bytes(cv, sizeof(gan_float *), slots);
    const gan_float **txs = (const gan_float **)gan__carve_bytes(cv, sizeof(gan_float *), slots);
    gan_float **dxs = (gan_float **)gan__carve_bytes(cv, sizeof(gan_float *), slots);
    gan_float **dtxs = (gan_float **)gan__carve_bytes(cv, sizeof(gan_float *), slots);
    char(*names)[GAN_NAME_MAX] = (char(*)[GAN_NAME_MAX])gan__carve_bytes(cv, GAN_NAME_MAX, (size_t)g->n_nodes);
    char(*param_names)[GAN__TENSOR_NAME_MAX] = (char(*)[GAN__TENSOR_NAME_MAX])gan__carve_bytes(
        cv, GAN__TENSOR_NAME_MAX, (size_t)n_params + 2 * (size_t)n_layers);
    gan__sizes *s = (gan__sizes *)gan__carve_bytes(cv, sizeof(gan__sizes), (size_t)n_layers);
    if (!cv->base) return NULL;
    net->layers = layers;
    net->plan = P;
    P->nodes = nodes;
    P->edges = edges;
    P->out_edges = out_edges;
    P->inputs = inputs;
    P->outputs = outputs;
    P->edge_shapes = edge_shapes;
    P->xs = xs;
    P->txs = txs;
    P->dxs = dxs;
    P->dtxs = dtxs;
    P->names = names;
    P->param_names = param_names;
    *sizes = s;
    return net;
}

/* name = prefix followed by the decimal digits of v. */
static void gan__name_number(char *name, const char *prefix, size_t v)
{
    char digits[24];
    int n = 0;
    size_t len = strlen(prefix);
    memcpy(name, prefix, len);
    do digits[n++] = (char)('0' + v % 10); while ((v /= 10) && n < 24);
    while (n > 0) name[len++] = digits[--n];
    name[len] = 0;
}

static void gan__plan_free(gan__req *reqs, int *order, gan__slots *slots) /* build's scratch */
{
    GAN_FREE(reqs);
    GAN_FREE(order);
    GAN_FREE(slots);
}

GANDEF gan_net *gan_net_build(const gan_graph *g, int max_batch, unsigned flags, gan_rng *rng)
{
    gan_net *net;
    gan__plan *P;
    gan__carver cv;
    gan__req *reqs = NULL;
    gan__slots *slots = NULL;
    gan__sizes *sizes = NULL;
    gan__planning pl;
    gan__regions rg;
    int *order = NULL, k, i, e, nr_a, n_layers, n_params = 0, n_outputs, bad, one_output;
    const int *outputs;
    size_t header, B = (size_t)max_batch, cap;
    const char *problem;

    GAN_ASSERT(g && rng && "gan_net_build needs a graph and an rng");
    GAN_ASSERT(max_batch > 0 && "gan_net_build: max_batch must be positive");
    gan_threads(); /* the first network starts the thread pool (one thread per core) unless the */
    gan__isa();    /* program chose; so do the kernels: nothing of the kind happens inside a step */
    for (k = 0; k < GAN__N_OPS; k++) GAN_ASSERT(gan__ops[k].kind == (gan_layer_kind)k && "gan__ops is in gan_layer_kind's order");
    if (max_batch <= 0) {
        gan__fail("gan_net_build: max_batch must be positive");
        return NULL;
    }
    if (g->error) {
        gan__fail("gan_net_build: node %d: %s", g->error_node, g->error);
        return NULL;
    }
    if (!g->n_inputs || g->n_inputs == g->n_nodes || (!g->n_outputs && g->nodes[g->n_nodes - 1].is_input)) {
        gan__fail("gan_net_build: a network needs an input and a layer (and, unmarked, its last node is its output)");
        return NULL;
    }
    problem = gan__graph_problem(g, &bad);
    if (problem) {
        gan__fail("gan_net_build: node %d: %s", bad, problem);
        return NULL;
    }
    one_output = g->n_nodes - 1;
    outputs = g->n_outputs ? g->outputs : &one_output;
    n_outputs = g->n_outputs ? g->n_outputs : 1;
    n_layers = g->n_nodes - g->n_inputs;
    for (k = 0; k < g->n_nodes; k++)
        if (!g->nodes[k].is_input) n_params += (g->nodes[k].layer.nW > 0) + (g->nodes[k].layer.nb > 0);

    /* One block for the struct, the layers, the plan and its tables. */
    cv.base = NULL;
    cv.used = 0;
    gan__net_header(&cv, g, n_layers, n_outputs, n_params, &sizes);
    header = cv.used;
    cv.base = (char *)GAN_MALLOC(header);
    if (!cv.base) {
        gan__fail("gan_net_build: out of memory for the network's description");
        return NULL;
    }
    memset(cv.base, 0, header);
    cv.used = 0;
    net = gan__net_header(&cv, g, n_layers, n_outputs, n_params, &sizes);
    P = net->plan;
    net->n_layers = n_layers;
    net->n_inputs = g->n_inputs;
    net->n_outputs = n_outputs;
    net->max_batch = max_batch;
    net->training = 1;
    P->n_nodes = g->n_nodes;
    P->n_edges = g->n_edges;
    P->flags = flags;
    P->last_mode = GAN__TRAIN;
    for (k = 0, i = 0; k < g->n_nodes; k++) {
        if (g->nodes[k].is_input) continue;
        net->layers[i] = g->nodes[k].layer;
        net->layers[i].max_batch = max_batch;
        sizes[i++] = g->nodes[k].sizes;
    }
    gan__plan_graph(P, g, net->layers, outputs, n_outputs);
    for (k = 0; k < g->n_nodes; k++) {
        gan__pnode *nd = &P->nodes[k];
        if (g->nodes[k].name[0]) memcpy(P->names[k], g->nodes[k].name, GAN_NAME_MAX);
        else if (nd->layer) gan__name_number(P->names[k], "", (size_t)nd->index);
        else gan__name_number(P->names[k], "in", (size_t)nd->index);
        nd->name = P->names[k];
    }
    if (!gan__names_unique(P, sizes)) {
        GAN_FREE(net);
        return NULL;
    }

    /* Plan the two regions. A node makes at most 7 requests (act, saved, iact, isaved, grad, pgrad,
       tan) and an edge 2 (grad, pgrad). */
    cap = gan__add(gan__mul(7, (size_t)g->n_nodes), gan__mul(2, (size_t)g->n_edges));
    if (cap >= INT_MAX) { /* and so n_nodes + n_edges too */
        GAN_FREE(net);
        gan__fail("gan_net_build: too many nodes and edges to plan");
        return NULL;
    }
    reqs = (gan__req *)GAN_MALLOC(cap * sizeof(gan__req));
    order = (int *)GAN_MALLOC(cap * sizeof(int));
    slots = (gan__slots *)GAN_MALLOC(((size_t)g->n_nodes + (size_t)g->n_edges) * sizeof(gan__slots));
    if (!reqs || !order || !slots) {
        gan__plan_free(reqs, order, slots);
        GAN_FREE(net);
        gan__fail("gan_net_build: out of memory for planning");
        return NULL;
    }
    for (k = 0; k < g->n_nodes + g->n_edges; k++)
        slots[k].act = slots[k].saved = slots[k].iact = slots[k].isaved = slots[k].grad = slots[k].pgrad =
            slots[k].tgrad = slots[k].tan = GAN__NO_BUFFER;
    pl.P = P;
    pl.sizes = sizes;
    pl.batch = B;
    pl.reqs = reqs;
    pl.n = 0;
    pl.cap = (int)cap;
    pl.ns = slots;
    pl.es = slots + g->n_nodes;
    pl.st.n = g->n_nodes;
    pl.st.infer0 = 0;
    pl.st.back0 = g->n_nodes + 2;
    pl.st.tan0 = pl.st.back0 + 2 * g->n_nodes + 2;
    pl.st.dual0 = pl.st.tan0 + g->n_nodes + 2;
    pl.st.end = (flags & GAN_BUILD_PENALTY) ? pl.st.dual0 + 2 * g->n_nodes + 2 : pl.st.tan0;
    gan__request_forward(&pl, 0, g->n_nodes + 1, 1); /* region A: the training forward */
    nr_a = pl.n;
    rg.size_a = gan__place(reqs, nr_a, order);
    gan__request_forward(&pl, pl.st.infer0, pl.st.infer0 + g->n_nodes + 1, 0); /* region S: inference, */
    gan__request_grads(&pl, pl.st.back0, 0);                                      /* backward, */
    if (flags & GAN_BUILD_PENALTY) {                                              /* the penalty */
        for (k = 0; k < g->n_nodes; k++)
            pl.ns[k].tan = gan__request(&pl, gan__mul(B, P->nodes[k].count),
                                        pl.st.tan0 + (P->nodes[k].layer ? k + 1 : 0), pl.st.end);
        gan__request_grads(&pl, pl.st.dual0, 1);
    }
    rg.size_s = gan__place(reqs + nr_a, pl.n - nr_a, order);
    for (k = 0, rg.work = 0; k < n_layers; k++) {
        int chunk = sizes[k].work_chunk < max_batch ? sizes[k].work_chunk : max_batch;
        size_t work = gan__add(sizes[k].work_chunk > 0 ? gan__mul(sizes[k].work, (size_t)chunk) : sizes[k].work,
                               gan__round_up(sizes[k].work_fixed));
        if (work > rg.work) rg.work = work;
    }
    rg.work = gan__add(gan__round_up(rg.work), GAN__PACK_FLOATS);

    /* The arena and the call-local block, checked against GAN_MAX_ARENA_BYTES before they are
       allocated. */
    net->arena_count = gan__arena_layout(net, NULL, NULL, sizes, &rg);
    P->transient_count = gan__add(rg.size_s, rg.work);
    if (gan__add(net->arena_count, P->transient_count) > (GAN_MAX_ARENA_BYTES - 2 * GAN__ALIGN_BYTES) / sizeof(gan_float)) {
        gan__plan_free(reqs, order, slots);
        GAN_FREE(net);
        gan__fail("gan_net_build: the network needs more than GAN_MAX_ARENA_BYTES (sizes overflow or are absurd)");
        return NULL;
    }
    net->arena_block = GAN_MALLOC(net->arena_count * sizeof(gan_float) + GAN__ALIGN_BYTES);
    P->transient = gan__transient_new(P->transient_count);
    if (!net->arena_block || !P->transient) {
        gan__plan_free(reqs, order, slots);
        GAN_FREE(net->arena_block);
        gan__transient_release(P->transient);
        GAN_FREE(net);
        gan__fail("gan_net_build: out of memory for the arena");
        return NULL;
    }
    P->share_next = net;
    net->arena = (gan_float *)gan__align_up(net->arena_block);
    memset(net->arena, 0, net->arena_count * sizeof(gan_float));
    gan__arena_layout(net, net->arena, P->transient->base, sizes, &rg);
    P->bytes_params = (size_t)(rg.a - net->arena) * sizeof(gan_float);
    P->bytes_train = rg.size_a * sizeof(gan_float);
    P->bytes_shared = rg.size_s * sizeof(gan_float);
    P->bytes_work = rg.work * sizeof(gan_float);

    /* Point every node and edge at its buffers (a view at its root's). */
#define GAN__SLOT(region, idx) ((idx) == GAN__NO_BUFFER ? (gan_float *)NULL : (region) + reqs[idx].off)
    for (k = 0; k < g->n_nodes; k++) {
        gan__pnode *nd = &P->nodes[k];
        const gan__slots *ns = &pl.ns[k], *root = &pl.ns[nd->root];
        nd->act = gan_tensor_make(GAN__SLOT(rg.a, root->act), 0, nd->shape.c, nd->shape.h, nd->shape.w);
        nd->saved = GAN__SLOT(rg.a, ns->saved);
        nd->iact = GAN__SLOT(rg.s, root->iact);
        nd->isaved = GAN__SLOT(rg.s, ns->isaved);
        nd->grad = GAN__SLOT(rg.s, ns->grad);
        nd->pgrad = GAN__SLOT(rg.s, ns->pgrad);
        nd->tgrad = GAN__SLOT(rg.s, ns->tgrad);
        nd->tan = GAN__SLOT(rg.s, ns->tan);
        nd->dx = gan_tensor_make(nd->grad, 0, nd->shape.c, nd->shape.h, nd->shape.w);
        if (nd->layer) nd->layer->saved = nd->saved;
    }
    for (e = 0; e < g->n_edges; e++) {
        P->edges[e].grad = GAN__SLOT(rg.s, pl.es[e].grad);
        P->edges[e].pgrad = GAN__SLOT(rg.s, pl.es[e].pgrad);
    }
#undef GAN__SLOT
    gan__plan_free(reqs, order, slots);

    /* Parameter and buffer names: "<node>.<role>", in gan_net_param / gan_net_buffer order. */
    for (k = 0, i = 0; k < g->n_nodes; k++) {
        gan__pnode *nd = &P->nodes[k];
        const char *roles[4];
        int r, n_roles = 0;
        if (!nd->layer) continue;
        if (nd->layer->nW) roles[n_roles++] = nd->layer->spectral ? "weight_orig" : "weight";
        if (nd->layer->nb) roles[n_roles++] = "bias";
        if (nd->layer->run_mean) {
            roles[n_roles++] = "running_mean";
            roles[n_roles++] = "running_var";
        }
        if (nd->layer->spectral) {
            roles[n_roles++] = "weight_u";
            roles[n_roles++] = "weight_v";
        }
        for (r = 0; r < n_roles; r++, i++) {
            size_t len = strlen(nd->name);
            memcpy(P->param_names[i], nd->name, len);
            P->param_names[i][len] = '.';
            memcpy(P->param_names[i] + len + 1, roles[r], strlen(roles[r]) + 1);
        }
    }

    for (i = 0; i < n_layers; i++) {
        gan_layer *L = &net->layers[i];
        size_t j;
        if (L->run_var)
            for (j = 0; j < (size_t)L->in.c; j++) L->run_var[j] = 1;
        if (gan__ops[L->kind].flags & GAN__RANDOM) {
            uint64_t hi = gan_rng_u32(rng), lo = gan_rng_u32(rng); /* two statements: a fixed order */
            gan_rng_seed(&L->rng, (hi << 32) | lo);
        }
    }
    gan_net_init(net, GAN_INIT_PYTORCH, rng);
    for (i = 0; i < n_layers; i++) { /* u and v start as random unit vectors, as in PyTorch */
        gan_layer *L = &net->layers[i];
        gan_param u, v;
        if (!L->spectral) continue;
        gan__buffers_of(L, 0, &u);
        gan__buffers_of(L, 1, &v);
        gan_fill_normal(u.data, u.count, 0, 1, rng);
        gan_fill_normal(v.data, v.count, 0, 1, rng);
        gan__sn_normalize(u.data, u.count);
        gan__sn_normalize(v.data, v.count);
    }
    net->opt = gan_adam((gan_float)GAN__ADAM_LR, (gan_float)GAN__ADAM_BETA1, (gan_float)GAN__ADAM_BETA2);
    return net;
}

GANDEF gan_net *gan_net_create(gan_shape in, const gan_layer *layers, int n_layers, int max_batch,
                               gan_rng *rng)
{
    gan_graph *g;
    gan_net *net;
    GAN_ASSERT(layers && n_layers > 0 && rng && "gan_net_create needs layers and an rng");
    GAN_ASSERT(in.c > 0 && in.h > 0 && in.w > 0 && max_batch > 0 && "input shape and max_batch must be positive");
    g = gan_graph_new();
    if (!g) {
        gan__fail("gan_net_create: out of memory for the network's description");
        return NULL;
    }
    gan_output(g, gan_chain(g, gan_input(g, in), layers, n_layers));
    net = gan_net_build(g, max_batch, 0, rng);
    gan_graph_free(g);
    return net;
}

GANDEF void gan_net_free(gan_net *net)
{
    gan_net *prev;
    if (!net) return;
    for (prev = net; prev->plan->share_next != net; prev = prev->plan->share_next) continue;
    prev->plan->share_next = net->plan->share_next; /* out of the ring of networks sharing the block */
    gan__transient_release(net->plan->transient);
    GAN_FREE(net->arena_block);
    GAN_FREE(net);
}

GANDEF size_t gan_net_arena_bytes(const gan_net *net)
{
    GAN_ASSERT(net && "gan_net_arena_bytes: NULL network");
    return (net->arena_count + net->plan->transient_count) * sizeof(gan_float);
}

GANDEF void gan_net_init(gan_net *net, gan_init scheme, gan_rng *rng)
{
    int i;
    GAN_ASSERT(net && rng && "gan_net_init: NULL network or rng");
    for (i = 0; i < net->n_layers; i++) gan_layer_init(&net->layers[i], scheme, rng);
}

GANDEF void gan_net_set_training(gan_net *net, int training)
{
    GAN_ASSERT(net && "gan_net_set_training: NULL network");
    net->training = training ? 1 : 0;
}

/* ---- running it ---- */

/* The forward call of node k on n samples, in the training memory or the inference memory. */
static gan__fwd gan__node_call(gan_net *net, int k, int n, gan__mode mode, int infer)
{
    gan__plan *P = net->plan;
    const gan__pnode *nd = &P->nodes[k];
    gan__fwd f;
    int i;
    for (i = 0; i < nd->n_in; i++) {
        const gan__pnode *src = &P->nodes[P->edges[nd->first_in + i].src];
        P->xs[i] = infer ? src->iact : src->act.data;
    }
    f.n = n;
    f.n_in = nd->n_in;
    f.in = P->edge_shapes + nd->first_in;
    f.x = P->xs;
    f.y = infer ? nd->iact : nd->act.data;
    f.saved = infer ? nd->isaved : nd->saved;
    f.mode = mode;
    f.bias = 1;
    return f;
}

static int gan__trainable(const gan_layer *L) { return (L->nW || L->nb) && !L->frozen; }

/* A forward's inputs: input i's shape, one batch n with 1 <= n <= limit, valid class indices. 0 and
   the reason otherwise (a wrong shape is also a programmer error and stops at GAN_ASSERT). */
static int gan__check_inputs(const gan_net *net, const gan_tensor *xs, int limit, const char *who)
{
    const gan__plan *P = net->plan;
    int i, k, n = xs[0].n;
    for (i = 0; i < net->n_inputs; i++) {
        const gan_tensor *x = &xs[i];
        gan_shape s = P->nodes[P->inputs[i]].shape;
        int ok = x->data && x->c == s.c && x->h == s.h && x->w == s.w;
        GAN_ASSERT(ok && "input shape must match the network's");
        if (!ok) return gan__fail("%s: input %d must be data of shape (%d, %d, %d)", who, i, s.c, s.h, s.w);
        GAN_ASSERT(x->n == n && "every input must have the same batch");
        if (x->n != n) return gan__fail("%s: input %d has batch %d, input 0 %d", who, i, x->n, n);
    }
    GAN_ASSERT(n > 0 && n <= limit && "batch must be between 1 and the network's max_batch");
    if (n <= 0 || n > limit) return gan__fail("%s: batch %d is not between 1 and %d", who, n, limit);
    for (k = 0; k < P->n_nodes; k++) {
        const gan__pnode *nd = &P->nodes[k];
        const gan_float *label;
        if (!nd->layer || !(gan__ops[nd->layer->kind].flags & GAN__LABEL_IN)) continue;
        label = xs[P->nodes[P->edges[nd->first_in].src].index].data;
        for (i = 0; i < n; i++)
            if (!gan__label_ok(label[i], nd->layer->in_ch))
                return gan__fail("%s: node '%s' (%s): sample %d's class index is not an integer in [0, %d)", who,
                                 nd->name, gan__ops[nd->layer->kind].name, i, nd->layer->in_ch);
    }
    return 1;
}

/* Batch statistics need more than one value per channel in a call of n samples. */
static int gan__check_batch_stats(const gan_net *net, int n, gan__mode mode, const char *who)
{
    const gan__plan *P = net->plan;
    int k;
    if (mode == GAN__EVAL) return 1;
    for (k = 0; k < P->n_nodes; k++) {
        const gan__pnode *nd = &P->nodes[k];
        if (nd->layer && (gan__ops[nd->layer->kind].flags & GAN__NORMS_BATCH) && (size_t)n * nd->shape.h * nd->shape.w < 2)
            return gan__fail("%s: node '%s' (%s) with batch statistics needs more than one value per channel, "
                             "and a call of %d samples of (%d, %d, %d) gives one",
                             who, nd->name, gan__ops[nd->layer->kind].name, n, nd->shape.c, nd->shape.h, nd->shape.w);
    }
    return 1;
}

/* Every layer, first to first-made to last; a view needs nothing done, its memory is its source's. */
static void gan__forward_nodes(gan_net *net, int n, gan__mode mode, int infer)
{
    gan__plan *P = net->plan;
    int k;
    for (k = 0; k < P->n_nodes; k++) {
        gan__pnode *nd = &P->nodes[k];
        gan__fwd f;
        if (!nd->layer || (gan__ops[nd->layer->kind].flags & GAN__VIEW)) continue;
        f = gan__node_call(net, k, n, mode, infer);
        if (nd->layer->spectral) {
            double sigma = gan__sn_weight(nd->layer, mode == GAN__TRAIN && !infer);
            if (!infer) nd->layer->sn_sigma = (gan_float)sigma;
        }
        gan__sn_begin(nd->layer, 0);
        gan__ops[nd->layer->kind].forward(nd->layer, &f);
        gan__sn_end(nd->layer, 0);
    }
}

/* The training forward: inputs copied in (memmove: one may be this network's own buffer), then the layers. */
static int gan__forward(gan_net *net, const gan_tensor *xs, gan__mode mode, const char *who)
{
    gan__plan *P = net->plan;
    int i, k, n;
    if (!gan__check_inputs(net, xs, net->max_batch, who) || !gan__check_batch_stats(net, xs[0].n, mode, who)) return 0;
    n = xs[0].n;
    for (i = 0; i < net->n_inputs; i++) {
        gan__pnode *in = &P->nodes[P->inputs[i]];
        memmove(in->act.data, xs[i].data, (size_t)n * in->count * sizeof(gan_float));
    }
    net->batch = n;
    P->last_mode = mode;
    for (k = 0; k < P->n_nodes; k++) {
        P->nodes[k].act.n = n;
        if (P->nodes[k].layer) P->nodes[k].layer->last_training = mode == GAN__TRAIN;
    }
    gan__forward_nodes(net, n, mode, 0);
    return 1;
}

GANDEF int gan_net_forward_multi(gan_net *net, const gan_tensor *xs)
{
    GAN_ASSERT(net && xs && "gan_net_forward_multi: NULL argument");
    return gan__forward(net, xs, net->training ? GAN__TRAIN : GAN__EVAL, "gan_net_forward");
}

/* The one-input, one-output calls on a network with several: a programmer error, refused in every build. */
static int gan__single(const gan_net *net, int inputs, int outputs, const char *who)
{
    int ok = (!inputs || net->n_inputs == 1) && (!outputs || net->n_outputs == 1);
    GAN_ASSERT(ok && "the network has several inputs or outputs: use the _multi call");
    return ok ? 1 : gan__fail("%s: the network has %d inputs and %d outputs: use %s_multi", who, net->n_inputs,
                              net->n_outputs, who);
}

GANDEF const gan_tensor *gan_net_forward(gan_net *net, const gan_tensor *x)
{
    GAN_ASSERT(net && x && x->data && "gan_net_forward: NULL argument");
    if (!gan__single(net, 1, 0, "gan_net_forward")) return NULL;
    return gan_net_forward_multi(net, x) ? gan_net_output(net) : NULL;
}

/* Which nodes' gradients a backward needs, first to last (the inputs' `need` is set by the caller):
   a layer's when it has trainable parameters and dparams, or when one of its inputs' is. */
static void gan__mark_need(gan__plan *P, int dparams)
{
    int k, i;
    for (k = 0; k < P->n_nodes; k++) {
        gan__pnode *nd = &P->nodes[k];
        if (!nd->layer) continue;
        nd->need = dparams && gan__trainable(nd->layer);
        for (i = 0; i < nd->n_in; i++) {
            const gan__pedge *ed = &P->edges[nd->first_in + i];
            if (ed->diff && P->nodes[ed->src].need) nd->need = 1;
        }
    }
}

/* Where the gradient along edge e goes: its own buffer, or straight into its source's. */
static gan_float *gan__edge_target(gan__plan *P, const gan__pedge *ed)
{
    return ed->own ? ed->grad : P->nodes[ed->src].grad;
}

/* dst += src over count values */
static void gan__add_into(gan_float *GAN__RESTRICT dst, const gan_float *GAN__RESTRICT src, size_t count)
{
    size_t j;
    for (j = 0; j < count; j++) dst[j] += src[j];
}

/* The backward through every node that needs it, last to first. Node k first adds the gradients
   that came along its own-buffer edges to the one written straight into its buffer (the sum rule
   where paths meet, in a fixed order), then runs its op. Seeds are in the outputs' buffers. */
static void gan__backward_nodes(gan_net *net, int dparams)
{
    gan__plan *P = net->plan;
    int k, i, n = net->batch;
    for (k = P->n_nodes - 1; k >= 0; k--) {
        gan__pnode *nd = &P->nodes[k];
        gan__fwd f;
        gan__bwd b;
        if (!nd->need || !nd->reaches) continue;
        for (i = 0; i < nd->n_out; i++) {
            const gan__pedge *ed = &P->edges[P->out_edges[nd->first_out + i]];
            if (ed->own && P->nodes[ed->dst].need) gan__add_into(nd->grad, ed->grad, (size_t)n * nd->count);
        }
        if (!nd->layer) continue;
        f = gan__node_call(net, k, n, P->last_mode, 0);
        for (i = 0; i < nd->n_in; i++) {
            const gan__pedge *ed = &P->edges[nd->first_in + i];
            P->dxs[i] = ed->diff && P->nodes[ed->src].need ? gan__edge_target(P, ed) : NULL;
        }
        b.dy = nd->grad;
        b.dx = P->dxs;
        b.dparams = b.dbias = dparams && gan__trainable(nd->layer);
        gan__sn_begin(nd->layer, b.dparams);
        gan__ops[nd->layer->kind].backward(nd->layer, &f, &b);
        gan__sn_end(nd->layer, b.dparams);
    }
    for (i = 0; i < net->n_inputs; i++) {
        gan__pnode *in = &P->nodes[P->inputs[i]];
        in->dx.n = in->need ? n : 0; /* n = 0: this backward did not compute it */
        if (in->need && !in->reaches) memset(in->grad, 0, (size_t)n * in->count * sizeof(gan_float));
    }
}

GANDEF int gan_net_backward_multi(gan_net *net, const gan_tensor *dys, unsigned what)
{
    gan__plan *P;
    int i;
    GAN_ASSERT(net && dys && "gan_net_backward_multi: NULL argument");
    P = net->plan;
    GAN_ASSERT(net->batch > 0 && "gan_net_backward needs a forward first");
    if (net->batch <= 0) return gan__fail("gan_net_backward: no forward to go back through");
    for (i = 0; i < net->n_outputs; i++) {
        const gan_tensor *dy = &dys[i];
        const gan__pnode *o = &P->nodes[P->outputs[i]];
        int ok = !dy->data || (dy->n == net->batch && dy->c == o->shape.c && dy->h == o->shape.h && dy->w == o->shape.w);
        GAN_ASSERT(ok && "dy must have the shape of the last forward's output");
        if (!ok) return gan__fail("gan_net_backward: dL/doutput %d must have the last forward's batch %d and shape (%d, %d, %d)",
                                  i, net->batch, o->shape.c, o->shape.h, o->shape.w);
    }
    for (i = 0; i < net->n_inputs; i++) P->nodes[P->inputs[i]].need = (what & GAN_GRAD_INPUTS) != 0;
    gan__mark_need(P, (what & GAN_GRAD_PARAMS) != 0);
    for (i = 0; i < net->n_outputs; i++) { /* copied (memmove) first, so dy may be any buffer of this network */
        gan__pnode *o = &P->nodes[P->outputs[i]];
        size_t bytes = (size_t)net->batch * o->count * sizeof(gan_float);
        if (!o->need) continue;
        if (dys[i].data) memmove(o->grad, dys[i].data, bytes);
        else memset(o->grad, 0, bytes);
    }
    gan__backward_nodes(net, (what & GAN_GRAD_PARAMS) != 0);
    return 1;
}

GANDEF const gan_tensor *gan_net_backward(gan_net *net, const gan_tensor *dy)
{
    GAN_ASSERT(net && dy && dy->data && "gan_net_backward: NULL argument");
    if (!gan__single(net, 0, 1, "gan_net_backward")) return NULL;
    return gan_net_backward_multi(net, dy, GAN_GRAD_PARAMS | GAN_GRAD_INPUTS) ? gan_net_input_grad(net, 0) : NULL;
}

GANDEF const gan_tensor *gan_net_backward_input(gan_net *net, const gan_tensor *dy)
{
    GAN_ASSERT(net && dy && dy->data && "gan_net_backward_input: NULL argument");
    if (!gan__single(net, 0, 1, "gan_net_backward")) return NULL;
    return gan_net_backward_multi(net, dy, GAN_GRAD_INPUTS) ? gan_net_input_grad(net, 0) : NULL;
}

GANDEF int gan_net_infer_multi(gan_net *net, gan_tensor *ys, const gan_tensor *xs, gan_stats stats)
{
    gan__plan *P;
    gan__mode mode = stats == GAN_STATS_BATCH ? GAN__BATCH_STATS : GAN__EVAL;
    int i, n, c0, m, B, chunks, k;
    GAN_ASSERT(net && ys && xs && "gan_net_infer: NULL argument");
    P = net->plan;
    B = net->max_batch;
    if (!gan__check_inputs(net, xs, INT_MAX, "gan_net_infer")) return 0;
    n = xs[0].n;
    for (i = 0; i < net->n_outputs; i++) {
        const gan_tensor *y = &ys[i];
        gan_shape s = P->nodes[P->outputs[i]].shape;
        int ok = !y->data || (y->n == n && y->c == s.c && y->h == s.h && y->w == s.w);
        GAN_ASSERT(ok && "gan_net_infer: y must have the output's shape and x's batch");
        if (!ok) return gan__fail("gan_net_infer: output %d must be %d samples of (%d, %d, %d)", i, n, s.c, s.h, s.w);
    }
    /* as few chunks as max_batch allows, as equal as can be (a chunk's batch statistics are its own) */
    chunks = n / B + (n % B != 0); /* (n + B - 1) / B would overflow an int near INT_MAX */
    if (!gan__check_batch_stats(net, n / chunks, mode, "gan_net_infer")) return 0;
    for (c0 = 0, k = 0; c0 < n; c0 += m, k++) {
        m = n / chunks + (k < n % chunks);
        for (i = 0; i < net->n_inputs; i++) {
            const gan__pnode *in = &P->nodes[P->inputs[i]];
            memmove(in->iact, xs[i].data + (size_t)c0 * in->count, (size_t)m * in->count * sizeof(gan_float));
        }
        gan__forward_nodes(net, m, mode, 1);
        for (i = 0; i < net->n_outputs; i++) {
            const gan__pnode *o = &P->nodes[P->outputs[i]];
            if (ys[i].data) memcpy(ys[i].data + (size_t)c0 * o->count, o->iact, (size_t)m * o->count * sizeof(gan_float));
        }
    }
    gan__sn_restore(net);
    return 1;
}

GANDEF int gan_net_infer(gan_net *net, gan_tensor *y, const gan_tensor *x, gan_stats stats)
{
    GAN_ASSERT(net && y && x && "gan_net_infer: NULL argument");
    if (!gan__single(net, 1, 1, "gan_net_infer")) return 0;
    return gan_net_infer_multi(net, y, x, stats);
}

/* ---- gradient penalties ---- */

/* dst += src (or dst = src while dst is still zero), tracking which adjoints are identically zero. */
static void gan__gather(gan_float *dst, unsigned char *dst_zero, const gan_float *src, unsigned char src_zero, size_t count)
{
    if (src_zero) return;
    if (*dst_zero) memcpy(dst, src, count * sizeof(gan_float));
    else gan__add_into(dst, src, count);
    *dst_zero = 0;
}

/* The dual backward: the primal adjoints from the last node to the first, each node's dual reading
   its tangent adjoint where the penalty's first backward left it (its gradient, kept by the plan:
   gan__request_grads). A node whose tangent is zero (it does not depend on the input
   differentiated) needs only its ordinary backward on the primal adjoint; one with that zero too is
   skipped. Inputs get no adjoints (nothing asks for them); parameters get dL/dW from both halves. */
static void gan__dual_nodes(gan_net *net, gan__mode mode)
{
    gan__plan *P = net->plan;
    int k, i, n = net->batch;
    for (k = P->n_nodes - 1; k >= 0; k--) {
        gan__pnode *nd = &P->nodes[k];
        const gan__op *op;
        gan__fwd f;
        gan__bwd pb;
        gan__dual_call d;
        int wrote_p;
        if (!nd->layer || !nd->reaches) continue;
        op = &gan__ops[nd->layer->kind];
        for (i = 0; i < nd->n_out; i++) {
            gan__pedge *ed = &P->edges[P->out_edges[nd->first_out + i]];
            if (!ed->own) continue;
            gan__gather(nd->pgrad, &nd->pzero, ed->pgrad, ed->pzero, (size_t)n * nd->count);
        }
        if (nd->pzero && !nd->down) continue;
        f = gan__node_call(net, k, n, mode, 0);
        for (i = 0; i < nd->n_in; i++) {
            const gan__pedge *ed = &P->edges[nd->first_in + i];
            const gan__pnode *src = &P->nodes[ed->src];
            int to = ed->diff && src->layer != NULL;
            P->dxs[i] = to ? (ed->own ? ed->pgrad : src->pgrad) : NULL;
            P->dtxs[i] = NULL;
            P->txs[i] = src->tan;
        }
        pb.dy = nd->pgrad;
        pb.dx = P->dxs;
        pb.dparams = pb.dbias = gan__trainable(nd->layer);
        d.tx = P->txs;
        d.tan = pb;
        d.tan.dy = nd->tgrad;
        d.tan.dx = P->dtxs;
        d.primal_zero = nd->pzero;
        gan__sn_begin(nd->layer, pb.dparams);
        if (!nd->down) {
            if (!nd->pzero) op->backward(nd->layer, &f, &pb);
            wrote_p = !nd->pzero;
        } else {
            wrote_p = op->dual(op, nd->layer, &f, &pb, &d);
        }
        gan__sn_end(nd->layer, pb.dparams);
        for (i = 0; i < nd->n_in; i++) {
            gan__pedge *ed = &P->edges[nd->first_in + i];
            gan__pnode *src = &P->nodes[ed->src];
            if (P->dxs[i]) *(ed->own ? &ed->pzero : &src->pzero) = (unsigned char)!wrote_p;
        }
    }
}

/* P = scale mean_i phi(||g_i||) with scale = weight (WGAN-GP) or weight / 2 (R1, R2); writes
   v_i = dP/dg_i = scale / n phi'(||g_i||) g_i / ||g_i||, taking (||g|| - 1) / ||g|| as 0 at ||g|| = 0
   (the subgradient PyTorch's norm backward gives there). Returns P. */
static double gan__penalty_seed(gan_float *v, const gan_float *g, int n, size_t D, gan_penalty_kind kind, gan_float weight)
{
    double total = 0, scale = kind == GAN_PENALTY_R1 || kind == GAN_PENALTY_R2 ? 0.5 * weight : weight;
    size_t j;
    int i;
    for (i = 0; i < n; i++) {
        const gan_float *gi = g + (size_t)i * D;
        double sq = 0, norm, phi, coef;
        for (j = 0; j < D; j++) sq += (double)gi[j] * gi[j];
        norm = sqrt(sq);
        if (kind == GAN_PENALTY_R1 || kind == GAN_PENALTY_R2) {
            phi = sq;
            coef = 2; /* phi'(norm) / norm */
        } else {
            double d = kind == GAN_PENALTY_WGAN_GP_ONE_SIDED && norm < 1 ? 0 : norm - 1;
            phi = d * d;
            coef = norm > 0 ? 2 * d / norm : 0;
        }
        total += phi;
        for (j = 0; j < D; j++) v[(size_t)i * D + j] = (gan_float)(scale / n * coef * gi[j]);
    }
    return scale * total / n;
}

GANDEF int gan_net_penalty(gan_net *net, gan_float *penalty, const gan_tensor *xs, int wrt, gan_penalty_kind kind,
                           gan_float weight)
{
    gan__plan *P;
    gan__pnode *x, *out;
    gan__mode mode;
    int k, i, n;
    GAN_ASSERT(net && penalty && xs && "gan_net_penalty: NULL argument");
    P = net->plan;
    GAN_ASSERT(wrt >= 0 && wrt < net->n_inputs && "gan_net_penalty: wrt must name an input");
    if (!(P->flags & GAN_BUILD_PENALTY))
        return gan__fail("gan_net_penalty: the network was built without GAN_BUILD_PENALTY (gan_net_build's flags)");
    if (wrt < 0 || wrt >= net->n_inputs) return gan__fail("gan_net_penalty: input %d does not exist", wrt);
    x = &P->nodes[P->inputs[wrt]];
    out = &P->nodes[P->outputs[0]];
    if (out->count != 1 || !out->layer)
        return gan__fail("gan_net_penalty: the first output must be a layer holding one value per sample");
    mode = net->training ? GAN__TRAIN : GAN__EVAL;
    /* The tangent's path: nodes that depend on x and feed the first output. Only there must every
       node pass the penalty (an auxiliary head with BatchNorm, say, does not enter P). */
    for (k = P->n_nodes - 1; k >= 0; k--) {
        gan__pnode *nd = &P->nodes[k];
        nd->feeds = nd == out;
        for (i = 0; i < nd->n_out; i++) {
            const gan__pedge *ed = &P->edges[P->out_edges[nd->first_out + i]];
            if (ed->diff && P->nodes[ed->dst].feeds) nd->feeds = 1;
        }
    }
    for (k = 0; k < P->n_nodes; k++) {
        gan__pnode *nd = &P->nodes[k];
        nd->down = nd == x;
        for (i = 0; i < nd->n_in; i++)
            if (P->edges[nd->first_in + i].diff && P->nodes[P->edges[nd->first_in + i].src].down) nd->down = 1;
    }
    if (!x->feeds)
        return gan__fail("gan_net_penalty: input %d does not reach the first output, so its gradient is 0 by "
                         "construction (a wrong wrt?)", wrt);
    for (k = 0; k < P->n_nodes; k++) {
        gan__pnode *nd = &P->nodes[k];
        nd->down = nd->down && nd->feeds;
        unsigned flags = nd->layer ? gan__ops[nd->layer->kind].flags : 0;
        if (nd->down && mode == GAN__TRAIN && (flags & (GAN__NORMS_BATCH | GAN__RANDOM)))
            return gan__fail("gan_net_penalty: node '%s' (%s) in training mode %s, so a per-sample input gradient "
                             "is not defined; evaluation mode, or LayerNorm in a critic",
                             nd->name, gan__ops[nd->layer->kind].name,
                             flags & GAN__RANDOM ? "draws noise" : "mixes the samples");
    }
    if (!gan__forward(net, xs, mode, "gan_net_penalty")) return 0;
    n = net->batch;

    /* 1. g_i = dD(x_i)/dx_i: a backward for x's gradient alone, seeded with 1 per sample */
    for (i = 0; i < net->n_inputs; i++) P->nodes[P->inputs[i]].need = i == wrt;
    gan__mark_need(P, 0);
    for (i = 0; i < net->n_outputs; i++) {
        gan__pnode *o = &P->nodes[P->outputs[i]];
        if (o->need) memset(o->grad, 0, (size_t)n * o->count * sizeof(gan_float));
    }
    for (i = 0; i < n && out->need; i++) out->grad[i] = 1;
    gan__backward_nodes(net, 0);

    /* 2. P and its gradient v = dP/dg, held fixed: dP/dtheta = d<v, g>/dtheta, and <v_i, g_i> is the
          forward-mode derivative of D at x_i along v_i */
    *penalty = (gan_float)gan__penalty_seed(x->tan, x->grad, n, x->count, kind, weight);

    /* 3. tangents: D's forward-mode derivative along v, node by node */
    for (k = 0; k < P->n_nodes; k++) {
        gan__pnode *nd = &P->nodes[k];
        gan__fwd f;
        if (nd == x) continue;
        if (!nd->down) {
            memset(nd->tan, 0, (size_t)n * nd->count * sizeof(gan_float));
            continue;
        }
        f = gan__node_call(net, k, n, mode, 0);
        for (i = 0; i < nd->n_in; i++) P->txs[i] = P->nodes[P->edges[nd->first_in + i].src].tan;
        gan__sn_begin(nd->layer, 0);
        gan__ops[nd->layer->kind].tangent(&gan__ops[nd->layer->kind], nd->layer, &f, P->txs, nd->tan);
        gan__sn_end(nd->layer, 0);
    }

    /* 4. backpropagate sum_i <v_i, g_i>: the primal adjoints, with the tangent adjoints (seeded 1 a
          sample at the output) read where step 1 left them as its gradients */
    for (k = 0; k < P->n_nodes; k++) P->nodes[k].pzero = 1;
    for (k = 0; k < P->n_edges; k++) P->edges[k].pzero = 1;
    gan__dual_nodes(net, mode);
    return 1;
}

/* ---- training ---- */

/* n values of x set to 0; x may be NULL when n is 0 (a network without parameters). */
static void gan__clear(gan_float *x, size_t n)
{
    if (n) memset(x, 0, n * sizeof(gan_float));
}

GANDEF void gan_net_zero_grad(gan_net *net)
{
    GAN_ASSERT(net && "gan_net_zero_grad: NULL network");
    gan__clear(net->grads, net->n_params);
}

GANDEF void gan_net_set_optim(gan_net *net, gan_optim opt)
{
    GAN_ASSERT(net && "gan_net_set_optim: NULL network");
    net->opt = opt;
    net->opt.step = 0;
    gan__clear(net->opt_m, net->n_params);
    gan__clear(net->opt_v, net->n_params);
}

GANDEF void gan_net_step(gan_net *net)
{
    int i;
    GAN_ASSERT(net && "gan_net_step: NULL network");
    net->opt.step++;
    for (i = 0; i < net->n_layers; i++) {
        gan_layer *L = &net->layers[i];
        gan_optim o = net->opt;
        size_t at;
        if (!gan__trainable(L)) continue;
        at = (size_t)((L->W ? L->W : L->b) - net->params);
        o.lr = net->opt.lr * L->lr_mult;
        gan_optim_update(net->params + at, net->opt_m + at, net->opt_v + at, net->grads + at, &o, L->nW + L->nb);
    }
}

/* dst's buffers = src's, for two layers of one layout. */
static void gan__copy_buffers(gan_layer *dst, const gan_layer *src)
{
    int j, n = gan__buffers_of(src, 0, NULL);
    for (j = 0; j < n; j++) {
        gan_param a, b;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        gan__buffers_of(src, j, &a);
        gan__buffers_of(dst, j, &b);
        memcpy(b.data, a.data, a.count * sizeof(gan_float));
    }
    dst->batches_tracked = src->batches_tracked;
}

/* Two planned layers that hold their parameters and statistics in one layout: the same kind,
   hyper-parameters that shape them, and shapes. */
static int gan__same_layer(const gan_layer *a, const gan_layer *b)
{
    return a->kind == b->kind && a->in_ch == b->in_ch && a->out_ch == b->out_ch && a->k == b->k &&
           a->has_bias == b->has_bias && a->affine == b->affine && a->nW == b->nW && a->nb == b->nb &&
           a->in.c == b->in.c && a->in.h == b->in.h && a->in.w == b->in.w && a->out.c == b->out.c &&
           a->out.h == b->out.h && a->out.w == b->out.w && !a->run_mean == !b->run_mean && a->spectral == b->spectral;
}

GANDEF int gan_net_copy_params(gan_net *dst, const gan_net *src)
{
    int i;
    GAN_ASSERT(dst && src && "gan_net_copy_params: NULL argument");
    if (dst->n_layers != src->n_layers)
        return gan__fail("gan_net_copy_params: %d layers into %d", src->n_layers, dst->n_layers);
    for (i = 0; i < src->n_layers; i++) {
        const gan_layer *a = &src->layers[i], *b = &dst->layers[i];
        if (!gan__same_layer(a, b))
            return gan__fail("gan_net_copy_params: layer %d is %s (%d, %d, %d) -> (%d, %d, %d) with %z + %z parameters in "
                             "one and %s (%d, %d, %d) -> (%d, %d, %d) with %z + %z in the other",
                             i, gan__ops[a->kind].name, a->in.c, a->in.h, a->in.w, a->out.c, a->out.h, a->out.w, a->nW,
                             a->nb, gan__ops[b->kind].name, b->in.c, b->in.h, b->in.w, b->out.c, b->out.h, b->out.w,
                             b->nW, b->nb);
    }
    for (i = 0; i < src->n_layers; i++) {
        const gan_layer *a = &src->layers[i];
        gan_layer *b = &dst->layers[i];
        if (a->nW) memcpy(b->W, a->W, a->nW * sizeof(gan_float));
        if (a->nb) memcpy(b->b, a->b, a->nb * sizeof(gan_float));
        gan__copy_buffers(b, a);
    }
    return 1;
}

/* ---- looking inside ---- */

GANDEF const gan_tensor *gan_net_output(const gan_net *net) { return gan_net_output_at(net, 0); }

GANDEF const gan_tensor *gan_net_output_at(const gan_net *net, int i)
{
    GAN_ASSERT(net && i >= 0 && i < net->n_outputs && "output index out of range");
    return &net->plan->nodes[net->plan->outputs[i]].act;
}

GANDEF const gan_tensor *gan_net_input_grad(const gan_net *net, int i)
{
    GAN_ASSERT(net && i >= 0 && i < net->n_inputs && "input index out of range");
    return &net->plan->nodes[net->plan->inputs[i]].dx;
}

GANDEF gan_shape gan_net_input_shape(const gan_net *net, int i)
{
    GAN_ASSERT(net && i >= 0 && i < net->n_inputs && "input index out of range");
    return net->plan->nodes[net->plan->inputs[i]].shape;
}

GANDEF gan_layer *gan_net_layer(gan_net *net, int i)
{
    GAN_ASSERT(net && i >= 0 && i < net->n_layers && "layer index out of range");
    return &net->layers[i];
}

GANDEF gan_layer *gan_net_node_layer(gan_net *net, gan_node node)
{
    GAN_ASSERT(net && node.id >= 0 && node.id < net->plan->n_nodes && "a node of the graph this network was built from");
    return net->plan->nodes[node.id].layer;
}

GANDEF const gan_tensor *gan_net_layer_output(const gan_net *net, int i)
{
    const gan__plan *P;
    int k;
    GAN_ASSERT(net && i >= 0 && i < net->n_layers && "layer index out of range");
    P = net->plan;
    for (k = 0; k < P->n_nodes; k++)
        if (P->nodes[k].layer == &net->layers[i]) return P->nodes[k].keep ? &P->nodes[k].act : NULL;
    return NULL;
}

/* The shape of a layer's weight as PyTorch lays it out. */
static int gan__weight_shape(const gan_layer *L, int *shape)
{
    switch (L->kind) {
    case GAN_LINEAR: shape[0] = L->out_ch; shape[1] = L->in_ch; return 2;
    case GAN_EMBEDDING: shape[0] = L->in_ch; shape[1] = L->out_ch; return 2;
    case GAN_CONV2D: shape[0] = L->out_ch; shape[1] = L->in_ch; shape[2] = shape[3] = L->k; return 4;
    case GAN_CONV_TRANSPOSE2D: shape[0] = L->in_ch; shape[1] = L->out_ch; shape[2] = shape[3] = L->k; return 4;
    case GAN_LAYERNORM:
        shape[0] = L->in.c; shape[1] = L->in.h; shape[2] = L->in.w;
        return 3;
    default: shape[0] = (int)L->nW; return 1;
    }
}

/* The name of the i-th tensor of layer `layer` (weight, bias, then buffers). */
static const char *gan__tensor_name(const gan_net *net, int layer, int i)
{
    int l, at = 0;
    for (l = 0; l < layer; l++) {
        const gan_layer *L = &net->layers[l];
        at += (L->nW > 0) + (L->nb > 0) + gan__buffers_of(L, 0, NULL);
    }
    return net->plan->param_names[at + i];
}

/* Parameters in order: for each layer, its weight then its bias. */
GANDEF int gan_net_param_count(const gan_net *net)
{
    int i, count = 0;
    GAN_ASSERT(net && "gan_net_param_count: NULL network");
    for (i = 0; i < net->n_layers; i++) count += (net->layers[i].nW > 0) + (net->layers[i].nb > 0);
    return count;
}

GANDEF gan_param gan_net_param(gan_net *net, int index)
{
    gan_param p;
    int i, k = index;
    GAN_ASSERT(net && "gan_net_param: NULL network");
    memset(&p, 0, sizeof p);
    GAN_ASSERT(index >= 0 && index < gan_net_param_count(net) && "parameter index out of range");
    for (i = 0; i < net->n_layers; i++) {
        gan_layer *L = &net->layers[i];
        if (L->nW && k-- == 0) {
            p.data = L->W;
            p.grad = L->dW;
            p.count = L->nW;
            p.ndim = gan__weight_shape(L, p.shape);
            p.name = gan__tensor_name(net, i, 0);
        } else if (L->nb && k-- == 0) {
            p.data = L->b;
            p.grad = L->db;
            p.count = L->nb;
            p.ndim = L->kind == GAN_LAYERNORM ? gan__weight_shape(L, p.shape) : 1; /* LayerNorm: (C, H, W) */
            if (p.ndim == 1) p.shape[0] = (int)L->nb;
            p.name = gan__tensor_name(net, i, L->nW > 0);
        } else {
            continue;
        }
        p.layer = i;
        p.role = p.data != L->W ? "bias" : L->spectral ? "weight_orig" : "weight";
        p.m = net->opt_m + (p.data - net->params);
        p.v = net->opt_v + (p.data - net->params);
        break;
    }
    return p;
}

/* Buffers in order: for each layer, BatchNorm's running_mean and running_var, or a spectral norm's
   weight_u and weight_v. */
GANDEF int gan_net_buffer_count(const gan_net *net)
{
    int i, count = 0;
    GAN_ASSERT(net && "gan_net_buffer_count: NULL network");
    for (i = 0; i < net->n_layers; i++) count += gan__buffers_of(&net->layers[i], 0, NULL);
    return count;
}

GANDEF gan_param gan_net_buffer(gan_net *net, int index)
{
    gan_param p;
    int i;
    GAN_ASSERT(net && "gan_net_buffer: NULL network");
    memset(&p, 0, sizeof p);
    GAN_ASSERT(index >= 0 && index < gan_net_buffer_count(net) && "buffer index out of range");
    for (i = 0; i < net->n_layers; i++) {
        gan_layer *L = &net->layers[i];
        int n = gan__buffers_of(L, index, &p);
        if (index < n) {
            p.layer = i;
            p.name = gan__tensor_name(net, i, (L->nW > 0) + (L->nb > 0) + index);
            p.ndim = 1;
            p.shape[0] = (int)p.count;
            break;
        }
        index -= n;
    }
    return p;
}

#ifndef GAN_NO_STDIO
GANDEF void gan_net_print(const gan_net *net, FILE *f)
{
    const gan__plan *P = net->plan;
    const double MiB = 1024.0 * 1024.0;
    size_t total = 0;
    int k, i;
    fprintf(f, "  #  %-14s %-15s %-22s %-18s parameters\n", "name", "kind", "inputs", "output (C, H, W)");
    for (k = 0; k < P->n_nodes; k++) {
        const gan__pnode *nd = &P->nodes[k];
        const gan_layer *L = nd->layer;
        char shape[48], inputs[64], num[8];
        size_t at = 0;
        inputs[0] = 0;
        for (i = 0; i < nd->n_in && at < sizeof inputs - 1; i++) {
            const char *s = P->nodes[P->edges[nd->first_in + i].src].name;
            if (i) inputs[at++] = ',';
            while (*s && at < sizeof inputs - 1) inputs[at++] = *s++;
            inputs[at] = 0;
        }
        sprintf(shape, "(%d, %d, %d)", nd->shape.c, nd->shape.h, nd->shape.w);
        if (L) sprintf(num, "%3d", nd->index);
        else sprintf(num, "   ");
        fprintf(f, "%s  %-14s %-15s %-22s %-18s %lu\n", num, nd->name,
                !L ? "input" : gan__ops[L->kind].name, inputs,
                shape, (unsigned long)(L ? L->nW + L->nb : 0));
        if (L) total += L->nW + L->nb;
    }
    fprintf(f, "     %lu parameters, arena %.2f MiB for batches up to %d (parameters, gradients, moments and "
               "statistics %.2f; training activations %.2f; gradients and sampling %.2f; scratch %.2f)\n",
            (unsigned long)total, (double)gan_net_arena_bytes(net) / MiB, net->max_batch, (double)P->bytes_params / MiB,
            (double)P->bytes_train / MiB, (double)P->bytes_shared / MiB, (double)P->bytes_work / MiB);
    if (P->share_next != net) {
        int others = 0;
        const gan_net *n;
        for (n = P->share_next; n != net; n = n->plan->share_next) others++;
        fprintf(f, "     the last two (%.2f MiB) in a block shared with %d other network%s\n",
                (double)P->transient->count * sizeof(gan_float) / MiB, others, others == 1 ? "" : "s");
    }
}
#endif

/* ==== train ==== */

/* ---- losses of a GAN ---- */

/* The scalar functions the adversarial losses are made of, each of D's output value x. */
typedef enum gan__term {
    GAN__SOFTPLUS_NEG, /* softplus(-x) = -log sigmoid(x)        */
    GAN__SOFTPLUS,     /* softplus(x)  = -log(1 - sigmoid(x))   */
    GAN__NEG_SOFTPLUS, /* -softplus(x) = log(1 - sigmoid(x))    */
    GAN__HALF_SQ_ONE,  /* (x - 1)^2 / 2                         */
    GAN__HALF_SQ,      /* x^2 / 2                               */
    GAN__HINGE_NEG,    /* max(0, 1 - x)                         */
    GAN__HINGE_POS,    /* max(0, 1 + x)                         */
    GAN__NEG,          /* -x                                    */
    GAN__SAME          /* x                                     */
} gan__term;

/* term(x), and *d = dterm/dx. softplus(x) = max(x, 0) + log(1 + exp(-|x|)) has no overflow for any
   x, and its derivative is sigmoid(x); the hinges take the derivative 0 at their kink, as PyTorch's
   relu does. */
static double gan__term_at(gan__term term, double x, double *d)
{
    double e = exp(-fabs(x)), sig = x >= 0 ? 1 / (1 + e) : e / (1 + e), sig_neg = x >= 0 ? e / (1 + e) : 1 / (1 + e);
    double sp = (x > 0 ? x : 0) + log1p(e), sp_neg = (x < 0 ? -x : 0) + log1p(e);
    switch (term) {
    case GAN__SOFTPLUS_NEG: *d = -sig_neg; return sp_neg;
    case GAN__SOFTPLUS: *d = sig; return sp;
    case GAN__NEG_SOFTPLUS: *d = -sig; return -sp;
    case GAN__HALF_SQ_ONE: *d = x - 1; return (x - 1) * (x - 1) / 2;
    case GAN__HALF_SQ: *d = x; return x * x / 2;
    case GAN__HINGE_NEG: *d = x < 1 ? -1 : 0; return x < 1 ? 1 - x : 0;
    case GAN__HINGE_POS: *d = x > -1 ? 1 : 0; return x > -1 ? 1 + x : 0;
    case GAN__NEG: *d = -1; return -x;
    case GAN__SAME: *d = 1; return x;
    }
    *d = 0;
    return 0;
}

/* Each loss once: D's term for real outputs, D's for fake ones, G's, and whether D's outputs are
   logits (then the reported D(x) is their sigmoid). */
typedef struct gan__loss_row {
    const char *name;
    gan__term d_real, d_fake, g_fake;
    int logits;
} gan__loss_row;

static const gan__loss_row gan__losses[] = {
    { "minimax", GAN__SOFTPLUS_NEG, GAN__SOFTPLUS, GAN__NEG_SOFTPLUS, 1 },
    { "non-saturating", GAN__SOFTPLUS_NEG, GAN__SOFTPLUS, GAN__SOFTPLUS_NEG, 1 },
    { "least squares", GAN__HALF_SQ_ONE, GAN__HALF_SQ, GAN__HALF_SQ_ONE, 0 },
    { "hinge", GAN__HINGE_NEG, GAN__HINGE_POS, GAN__NEG, 0 },
    { "wasserstein", GAN__NEG, GAN__SAME, GAN__NEG, 0 }
};

static const gan__loss_row *gan__loss_of(gan_loss loss)
{
    GAN_ASSERT((unsigned)loss < sizeof gan__losses / sizeof gan__losses[0] && "not a gan_loss");
    return &gan__losses[(unsigned)loss < sizeof gan__losses / sizeof gan__losses[0] ? loss : 0];
}

/* The mean of term over n values; grad[i] = d(mean)/dx[i] when grad is not NULL. 0 for n = 0. */
static double gan__term_mean(gan_float *grad, const gan_float *x, size_t n, gan__term term)
{
    double sum = 0, d;
    size_t i;
    if (n == 0) return 0;
    GAN_ASSERT(x && "a loss of n > 0 values needs them");
    for (i = 0; i < n; i++) {
        sum += gan__term_at(term, x[i], &d);
        if (grad) grad[i] = (gan_float)(d / (double)n);
    }
    return sum / (double)n;
}

GANDEF gan_float gan_loss_d(gan_float *d_real_grad, gan_float *d_fake_grad, const gan_float *real, size_t n_real,
                            const gan_float *fake, size_t n_fake, gan_loss loss)
{
    const gan__loss_row *row = gan__loss_of(loss);
    return (gan_float)(gan__term_mean(d_real_grad, real, n_real, row->d_real) +
                       gan__term_mean(d_fake_grad, fake, n_fake, row->d_fake));
}

GANDEF gan_float gan_loss_g(gan_float *grad, const gan_float *fake, size_t n, gan_loss loss)
{
    return (gan_float)gan__term_mean(grad, fake, n, gan__loss_of(loss)->g_fake);
}

GANDEF const char *gan_loss_name(gan_loss loss) { return gan__loss_of(loss)->name; }

/* The mean D output as reported: sigmoid of logits, the raw value otherwise. */
static gan_float gan__mean_output(const gan_float *x, size_t n, gan_loss loss)
{
    int logits = gan__loss_of(loss)->logits;
    double sum = 0;
    size_t i;
    for (i = 0; i < n; i++) sum += logits ? 1 / (1 + exp(-(double)x[i])) : x[i];
    return (gan_float)(sum / (double)n);
}

/* ---- the papers' recipes ---- */

/* One row per family: its name, loss, penalty, clipping, D steps and optimizer (the same for G and D). */
typedef struct gan__family_row {
    const char *name;
    gan_loss loss;
    gan_penalty_kind penalty;
    double penalty_weight, clip;
    int n_critic;
    gan_optim_kind optim;
    double lr, beta1, beta2; /* Adam's betas; RMSProp's alpha is beta2 */
} gan__family_row;

static const gan__family_row gan__families[GAN_FAMILY_COUNT] = {
    { "minimax", GAN_LOSS_MINIMAX, GAN_PENALTY_WGAN_GP, 0, 0, 1, GAN_ADAM, 2e-4, 0.5, 0.999 },
    { "ns", GAN_LOSS_NONSATURATING, GAN_PENALTY_WGAN_GP, 0, 0, 1, GAN_ADAM, 2e-4, 0.5, 0.999 },
    { "lsgan", GAN_LOSS_LEAST_SQUARES, GAN_PENALTY_WGAN_GP, 0, 0, 1, GAN_ADAM, 2e-4, 0.5, 0.999 },
    { "hinge", GAN_LOSS_HINGE, GAN_PENALTY_WGAN_GP, 0, 0, 1, GAN_ADAM, 2e-4, 0.5, 0.999 },
    { "wgan", GAN_LOSS_WASSERSTEIN, GAN_PENALTY_WGAN_GP, 0, 0.01, 5, GAN_RMSPROP, 5e-5, 0, 0.99 },
    { "wgan-gp", GAN_LOSS_WASSERSTEIN, GAN_PENALTY_WGAN_GP, 10, 0, 5, GAN_ADAM, 1e-4, 0, 0.9 },
    { "r1", GAN_LOSS_NONSATURATING, GAN_PENALTY_R1, 10, 0, 1, GAN_ADAM, 1e-4, 0, 0.99 }
};

static const gan__family_row *gan__family_of(gan_family family)
{
    GAN_ASSERT((unsigned)family < GAN_FAMILY_COUNT && "not a gan_family");
    return &gan__families[(unsigned)family < GAN_FAMILY_COUNT ? family : 0];
}

GANDEF const char *gan_family_name(gan_family family) { return gan__family_of(family)->name; }

GANDEF int gan_family_parse(gan_family *family, const char *name)
{
    int i;
    GAN_ASSERT(family && name && "gan_family_parse: NULL argument");
    for (i = 0; i < GAN_FAMILY_COUNT; i++)
        if (strcmp(name, gan__families[i].name) == 0) {
            *family = (gan_family)i;
            return 1;
        }
    return gan__fail("unknown GAN loss family '%s': minimax, ns, lsgan, hinge, wgan, wgan-gp or r1", name);
}

GANDEF gan_train_config gan_default_train(gan_family family)
{
    const gan__family_row *row = gan__family_of(family);
    gan_train_config c;
    memset(&c, 0, sizeof c);
    c.loss = row->loss;
    c.penalty = row->penalty;
    c.penalty_weight = (gan_float)row->penalty_weight;
    c.clip = (gan_float)row->clip;
    c.n_critic = row->n_critic;
    c.batch = 64;
    c.pack = 1;
    c.opt_d = row->optim == GAN_ADAM ? gan_adam((gan_float)row->lr, (gan_float)row->beta1, (gan_float)row->beta2)
                                     : gan_rmsprop((gan_float)row->lr, (gan_float)row->beta2);
    c.opt_g = c.opt_d;
    c.seed = 1;
    return c;
}

/* ---- the trainer ---- */

/* The shape of a network's output i as planned (before any forward). */
static gan_shape gan__output_shape(const gan_net *net, int i)
{
    const gan__plan *P = net->plan;
    return P->nodes[P->outputs[i]].shape;
}

/* A network of a conditional GAN takes its label as input 1, of shape (1, 1, 1). */
static int gan__check_role(const gan_net *net, const char *who, int classes)
{
    int want = classes > 0 ? 2 : 1;
    if (net->n_inputs != want)
        return gan__fail("gan_trainer_create: %s has %d inputs; %s", who, net->n_inputs,
                         classes > 0 ? "a conditional GAN's take the sample and the label (1, 1, 1)"
                                     : "an unconditional GAN's take one (cfg.classes is 0)");
    if (classes > 0 && !gan__shape_eq(gan_net_input_shape(net, 1), gan_chw(1, 1, 1)))
        return gan__fail("gan_trainer_create: %s's input 1 must be the label, of shape (1, 1, 1)", who);
    return 1;
}

/* Whether G, D and G_ema fit each other and cfg (see gan_trainer_create): 1, or 0 and the reason. */
static int gan__trainer_check(gan_net *G, gan_net *D, gan_net *G_ema, const gan_train_config *cfg)
{
    int B = cfg->batch, pack = cfg->pack;
    gan_shape x, dx;
    if (B < 1 || cfg->n_critic < 1 || pack < 1 || cfg->classes < 0 || B % pack != 0)
        return gan__fail("gan_trainer_create: batch %d, n_critic %d and pack %d must be at least 1, with pack "
                         "dividing batch, and classes %d must not be negative", B, cfg->n_critic, pack, cfg->classes);
    if (pack > 1 && cfg->classes > 0)
        return gan__fail("gan_trainer_create: packing joins samples of different labels, so a conditional GAN "
                         "cannot pack");
    if (!(cfg->ema_decay >= 0 && cfg->ema_decay < 1) || (cfg->ema_decay > 0) != (G_ema != NULL))
        return gan__fail("gan_trainer_create: an EMA needs both G_ema and a decay in (0, 1), and neither is "
                         "without the other");
    if (!(cfg->penalty_weight >= 0) || !(cfg->clip >= 0))
        return gan__fail("gan_trainer_create: penalty_weight and clip must not be negative");
    if (!gan__check_role(G, "G", cfg->classes) || !gan__check_role(D, "D", cfg->classes)) return 0;
    if (G->n_outputs != 1) return gan__fail("gan_trainer_create: G has %d outputs; it needs one", G->n_outputs);
    x = gan__output_shape(G, 0);
    dx = gan_net_input_shape(D, 0);
    if ((long long)dx.c != (long long)x.c * pack || dx.h != x.h || dx.w != x.w) /* long long: pack may be huge */
        return gan__fail("gan_trainer_create: G makes (%d, %d, %d), so with pack %d D's input must be (%z, %d, %d), "
                         "and it is (%d, %d, %d)", x.c, x.h, x.w, pack, (size_t)x.c * (size_t)pack, x.h, x.w, dx.c, dx.h,
                         dx.w);
    if (!gan__shape_eq(gan__output_shape(D, 0), gan_chw(1, 1, 1)))
        return gan__fail("gan_trainer_create: D's first output must be one value per sample");
    if (G->max_batch < B || D->max_batch < B / pack)
        return gan__fail("gan_trainer_create: batch %d needs G's max_batch >= %d (it is %d) and D's >= %d (it is %d)",
                         B, B, G->max_batch, B / pack, D->max_batch);
    if (cfg->penalty_weight > 0 && !(D->plan->flags & GAN_BUILD_PENALTY))
        return gan__fail("gan_trainer_create: a penalty needs D built with GAN_BUILD_PENALTY");
    if (G_ema && (G_ema->n_params != G->n_params || G_ema->n_inputs != G->n_inputs))
        return gan__fail("gan_trainer_create: G_ema must be built from G's graph");
    if (G_ema && !gan_net_copy_params(G_ema, G)) return 0;
    return 1;
}

GANDEF gan_trainer *gan_trainer_create(gan_net *G, gan_net *D, gan_net *G_ema, const gan_train_config *cfg)
{
    gan_trainer *t;
    size_t z_count, x_count, B, total;
    GAN_ASSERT(G && D && cfg && "gan_trainer_create: NULL argument");
    if (!gan__trainer_check(G, D, G_ema, cfg)) return NULL;
    /* one block: z, the real batch and the interpolates, then the real labels, G's labels and dL/dD */
    B = (size_t)cfg->batch;
    z_count = gan__count(gan_net_input_shape(G, 0));
    x_count = gan__count(gan__output_shape(G, 0));
    total = gan__add(gan__add(gan__mul(z_count, B), gan__mul(gan__mul(x_count, B), 2)), gan__mul(B, 3));
    if (total > SIZE_MAX / sizeof(gan_float)) {
        gan__fail("gan_trainer_create: its batches overflow size_t");
        return NULL;
    }
    t = (gan_trainer *)GAN_MALLOC(sizeof *t);
    if (t) memset(t, 0, sizeof *t);
    if (!t || !(t->block = (gan_float *)GAN_MALLOC(total * sizeof(gan_float))) ||
        !(t->d_dys = (gan_tensor *)GAN_MALLOC((size_t)D->n_outputs * sizeof(gan_tensor)))) {
        gan_trainer_free(t);
        gan__fail("gan_trainer_create: out of memory for %z values of batches", total);
        return NULL;
    }
    /* the step runs G, D and G_ema one after another, never two at once: one call-local block */
    if (!gan_net_share_scratch(G, D) || (G_ema && !gan_net_share_scratch(G, G_ema))) {
        gan_trainer_free(t);
        return NULL;
    }
    memset(t->d_dys, 0, (size_t)D->n_outputs * sizeof(gan_tensor));
    memset(t->block, 0, total * sizeof(gan_float));
    t->z = t->block;
    t->x_real = t->z + z_count * B;
    t->x_mix = t->x_real + x_count * B;
    t->y_real = t->x_mix + x_count * B;
    t->y_fake = t->y_real + B;
    t->d_grad = t->y_fake + B;
    t->G = G;
    t->D = D;
    t->G_ema = G_ema;
    t->cfg = *cfg;
    t->z_shape = gan_net_input_shape(G, 0);
    t->x_shape = gan__output_shape(G, 0);
    t->z_count = z_count;
    t->x_count = x_count;
    gan_rng_seed(&t->rng, cfg->seed);
    gan_net_set_optim(G, cfg->opt_g);
    gan_net_set_optim(D, cfg->opt_d);
    return t;
}

GANDEF void gan_trainer_free(gan_trainer *t)
{
    if (!t) return;
    GAN_FREE(t->block);
    GAN_FREE(t->d_dys);
    GAN_FREE(t);
}

/* An integer uniform in [0, n): the high word of a 32 x 32-bit product, with Lemire's rejection of
   the few values that would favour some results. */
static uint32_t gan__rng_below(gan_rng *rng, uint32_t n)
{
    uint64_t m = (uint64_t)gan_rng_u32(rng) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t floor_ = (uint32_t)(0u - n) % n;
        while (low < floor_) {
            m = (uint64_t)gan_rng_u32(rng) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

/* ||g|| over a network's gradient block (its alignment padding is 0). */
static gan_float gan__grad_norm(const gan_net *net)
{
    double acc[GAN__LANES] = { 0 };
    const gan_float *g = net->grads;
    GAN__RUN_SUM(acc, net->n_params, (double)g[j] * g[j]);
    return (gan_float)sqrt(gan__lanes_total(acc));
}

/* x~ = G(z, labels) in training mode: the fake batch, in G's arena until G's next forward. */
static const gan_tensor *gan__generate(gan_trainer *t, const gan_float *labels)
{
    gan_tensor xs[2];
    int B = t->cfg.batch;
    xs[0] = gan_tensor_make(t->z, B, t->z_shape.c, t->z_shape.h, t->z_shape.w);
    xs[1] = gan_tensor_make((gan_float *)labels, B, 1, 1, 1);
    return gan_net_forward_multi(t->G, xs) ? gan_net_output(t->G) : NULL;
}

/* D on the batch x (B samples of G's output, so B / pack of D's input) with the labels; its outputs. */
static const gan_float *gan__judge(gan_trainer *t, const gan_float *x, const gan_float *labels)
{
    gan_tensor xs[2];
    int B = t->cfg.batch, pack = t->cfg.pack;
    xs[0] = gan_tensor_make((gan_float *)x, B / pack, t->x_shape.c * pack, t->x_shape.h, t->x_shape.w);
    xs[1] = gan_tensor_make((gan_float *)labels, B / pack, 1, 1, 1);
    return gan_net_forward_multi(t->D, xs) ? gan_net_output(t->D)->data : NULL;
}

/* D's backward from d_grad at its first output (an auxiliary output gets no gradient): into its
   parameter gradients (GAN_GRAD_PARAMS) or only to its input (GAN_GRAD_INPUTS). */
static int gan__judge_backward(gan_trainer *t, unsigned what)
{
    t->d_dys[0] = gan_tensor_make(t->d_grad, t->cfg.batch / t->cfg.pack, 1, 1, 1);
    return gan_net_backward_multi(t->D, t->d_dys, what);
}

/* The penalty's points: the interpolates x_hat = e x + (1 - e) x~ with e ~ U(0, 1) per D sample
   (WGAN-GP), the real batch (R1) or the fake one (R2). */
static int gan__penalize(gan_trainer *t, gan_float *value, const gan_float *fake)
{
    const gan_train_config *c = &t->cfg;
    int B = c->batch, pack = c->pack, i;
    size_t per = t->x_count * (size_t)pack, j;
    const gan_float *at = t->x_real;
    gan_tensor xs[2];
    if (c->penalty == GAN_PENALTY_WGAN_GP || c->penalty == GAN_PENALTY_WGAN_GP_ONE_SIDED) {
        for (i = 0; i < B / pack; i++) {
            gan_float e = gan_rng_uniform(&t->rng);
            const gan_float *xr = t->x_real + i * per, *xf = fake + i * per;
            gan_float *xm = t->x_mix + i * per;
            for (j = 0; j < per; j++) xm[j] = e * xr[j] + (1 - e) * xf[j];
        }
        at = t->x_mix;
    } else if (c->penalty == GAN_PENALTY_R2) {
        at = fake;
    }
    xs[0] = gan_tensor_make((gan_float *)at, B / pack, t->x_shape.c * pack, t->x_shape.h, t->x_shape.w);
    xs[1] = gan_tensor_make(t->y_real, B / pack, 1, 1, 1);
    return gan_net_penalty(t->D, value, xs, 0, c->penalty, c->penalty_weight);
}

/* One D step: a real batch, a fake one from G, L_D (and the penalty), D's update and clipping. */
static int gan__d_step(gan_trainer *t, gan_step_stats *s, gan_real_fn real, void *user)
{
    const gan_train_config *c = &t->cfg;
    int B = c->batch, nd = c->batch / c->pack;
    const gan_tensor *fake;
    const gan_float *out;
    gan_float penalty = 0;
    size_t j;
    if (!real(user, t->x_real, c->classes > 0 ? t->y_real : NULL, B))
        return gan__fail("gan_train_step: the real-batch callback returned 0");
    t->real_seen += B;
    gan_fill_normal(t->z, t->z_count * (size_t)B, 0, 1, &t->rng);
    if (!(fake = gan__generate(t, t->y_real))) return 0;

    gan_net_zero_grad(t->D);
    if (!(out = gan__judge(t, t->x_real, t->y_real))) return 0;
    s->d_real = gan__mean_output(out, (size_t)nd, c->loss);
    s->d_loss = gan_loss_d(t->d_grad, NULL, out, (size_t)nd, NULL, 0, c->loss);
    if (!gan__judge_backward(t, GAN_GRAD_PARAMS)) return 0;
    if (!(out = gan__judge(t, fake->data, t->y_real))) return 0;
    s->d_fake = gan__mean_output(out, (size_t)nd, c->loss);
    s->d_loss += gan_loss_d(NULL, t->d_grad, NULL, 0, out, (size_t)nd, c->loss);
    if (!gan__judge_backward(t, GAN_GRAD_PARAMS)) return 0;
    if (c->penalty_weight > 0 && !gan__penalize(t, &penalty, fake->data)) return 0;
    s->penalty = penalty;
    s->d_grad_norm = gan__grad_norm(t->D);
    if (!gan__finite(s->d_loss + penalty + s->d_grad_norm))
        return gan__fail("gan_train_step: step %z: D's loss, penalty or gradient is not finite, so D was not updated "
                         "(a learning rate too high?)", (size_t)(t->steps + 1));
    gan_net_step(t->D);
    t->d_steps++;
    if (c->clip > 0)
        for (j = 0; j < t->D->n_params; j++) {
            gan_float *w = &t->D->params[j];
            *w = *w > c->clip ? c->clip : *w < -c->clip ? -c->clip : *w;
        }
    return 1;
}

/* G_ema = decay G_ema + (1 - decay) G over the parameters; buffers copied (BatchNorm's running
   statistics, since an average of running averages is not the statistics of any network, and a
   spectral norm's u and v). */
static void gan__ema_update(gan_trainer *t)
{
    gan_float decay = t->cfg.ema_decay;
    const gan_net *G = t->G;
    gan_net *E = t->G_ema;
    size_t j;
    int i;
    for (j = 0; j < G->n_params; j++) E->params[j] = decay * E->params[j] + (1 - decay) * G->params[j];
    for (i = 0; i < G->n_layers; i++) gan__copy_buffers(&E->layers[i], &G->layers[i]);
}

GANDEF int gan_train_step(gan_trainer *t, gan_step_stats *stats, gan_real_fn real, void *user)
{
    const gan_train_config *c;
    gan_step_stats s;
    const gan_tensor *fake;
    const gan_float *out, *labels;
    gan_tensor dfake;
    int k, B, i;
    GAN_ASSERT(t && real && "gan_train_step: NULL argument");
    c = &t->cfg;
    B = c->batch;
    memset(&s, 0, sizeof s);
    for (k = 0; k < c->n_critic; k++)
        if (!gan__d_step(t, &s, real, user)) return 0;

    /* the G step: with one D step G's last forward is still the fake batch D just judged */
    labels = t->y_real;
    if (c->n_critic > 1) {
        gan_fill_normal(t->z, t->z_count * (size_t)B, 0, 1, &t->rng);
        for (i = 0; i < B && c->classes > 0; i++) t->y_fake[i] = (gan_float)gan__rng_below(&t->rng, (uint32_t)c->classes);
        labels = t->y_fake;
        if (!gan__generate(t, labels)) return 0;
    }
    fake = gan_net_output(t->G);
    if (!(out = gan__judge(t, fake->data, labels))) return 0;
    s.g_loss = gan_loss_g(t->d_grad, out, (size_t)(B / c->pack), c->loss);
    if (!gan__judge_backward(t, GAN_GRAD_INPUTS)) return 0;
    dfake = *gan_net_input_grad(t->D, 0);
    dfake = gan_tensor_make(dfake.data, B, t->x_shape.c, t->x_shape.h, t->x_shape.w); /* unpacked: the same memory */
    gan_net_zero_grad(t->G);
    if (!gan_net_backward_multi(t->G, &dfake, GAN_GRAD_PARAMS)) return 0;
    s.g_grad_norm = gan__grad_norm(t->G);
    if (!gan__finite(s.g_loss + s.g_grad_norm))
        return gan__fail("gan_train_step: step %z: G's loss or gradient is not finite, so G was not updated "
                         "(a learning rate too high?)", (size_t)(t->steps + 1));
    gan_net_step(t->G);
    t->steps++;
    if (t->G_ema) gan__ema_update(t);
    if (stats) *stats = s;
    return 1;
}

GANDEF int gan_trainer_sample(gan_trainer *t, gan_tensor *y, const gan_tensor *z, const gan_float *labels,
                              gan_stats stats)
{
    gan_tensor xs[2];
    GAN_ASSERT(t && y && z && "gan_trainer_sample: NULL argument");
    GAN_ASSERT((t->cfg.classes == 0 || labels) && "a conditional G samples with labels");
    xs[0] = *z;
    xs[1] = gan_tensor_make((gan_float *)labels, z->n, 1, 1, 1);
    return gan_net_infer_multi(t->G_ema ? t->G_ema : t->G, y, xs, stats);
}

/* ==== data ==== */

/* CRC-32 of ISO 3309 / ITU-T V.42 (gzip, PNG): reflected polynomial 0xEDB88320, register preset to
   all ones and inverted at the end. crc is the value so far (0 to start), so a long input may be
   fed in pieces. One table look-up per byte; the table is the CRC of each byte value alone. */
static uint32_t gan__crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    static const uint32_t table[256] = {
        0x00000000u, 0x77073096u, 0xEE0E612Cu, 0x990951BAu, 0x076DC419u, 0x706AF48Fu, 0xE963A535u, 0x9E6495A3u,
        0x0EDB8832u, 0x79DCB8A4u, 0xE0D5E91Eu, 0x97D2D988u, 0x09B64C2Bu, 0x7EB17CBDu, 0xE7B82D07u, 0x90BF1D91u,
        0x1DB71064u, 0x6AB020F2u, 0xF3B97148u, 0x84BE41DEu, 0x1ADAD47Du, 0x6DDDE4EBu, 0xF4D4B551u, 0x83D385C7u,
        0x136C9856u, 0x646BA8C0u, 0xFD62F97Au, 0x8A65C9ECu, 0x14015C4Fu, 0x63066CD9u, 0xFA0F3D63u, 0x8D080DF5u,
        0x3B6E20C8u, 0x4C69105Eu, 0xD56041E4u, 0xA2677172u, 0x3C03E4D1u, 0x4B04D447u, 0xD20D85FDu, 0xA50AB56Bu,
        0x35B5A8FAu, 0x42B2986Cu, 0xDBBBC9D6u, 0xACBCF940u, 0x32D86CE3u, 0x45DF5C75u, 0xDCD60DCFu, 0xABD13D59u,
        0x26D930ACu, 0x51DE003Au, 0xC8D75180u, 0xBFD06116u, 0x21B4F4B5u, 0x56B3C423u, 0xCFBA9599u, 0xB8BDA50Fu,
        0x2802B89Eu, 0x5F058808u, 0xC60CD9B2u, 0xB10BE924u, 0x2F6F7C87u, 0x58684C11u, 0xC1611DABu, 0xB6662D3Du,
        0x76DC4190u, 0x01DB7106u, 0x98D220BCu, 0xEFD5102Au, 0x71B18589u, 0x06B6B51Fu, 0x9FBFE4A5u, 0xE8B8D433u,
        0x7807C9A2u, 0x0F00F934u, 0x9609A88Eu, 0xE10E9818u, 0x7F6A0DBBu, 0x086D3D2Du, 0x91646C97u, 0xE6635C01u,
        0x6B6B51F4u, 0x1C6C6162u, 0x856530D8u, 0xF262004Eu, 0x6C0695EDu, 0x1B01A57Bu, 0x8208F4C1u, 0xF50FC457u,
        0x65B0D9C6u, 0x12B7E950u, 0x8BBEB8EAu, 0xFCB9887Cu, 0x62DD1DDFu, 0x15DA2D49u, 0x8CD37CF3u, 0xFBD44C65u,
        0x4DB26158u, 0x3AB551CEu, 0xA3BC0074u, 0xD4BB30E2u, 0x4ADFA541u, 0x3DD895D7u, 0xA4D1C46Du, 0xD3D6F4FBu,
        0x4369E96Au, 0x346ED9FCu, 0xAD678846u, 0xDA60B8D0u, 0x44042D73u, 0x33031DE5u, 0xAA0A4C5Fu, 0xDD0D7CC9u,
        0x5005713Cu, 0x270241AAu, 0xBE0B1010u, 0xC90C2086u, 0x5768B525u, 0x206F85B3u, 0xB966D409u, 0xCE61E49Fu,
        0x5EDEF90Eu, 0x29D9C998u, 0xB0D09822u, 0xC7D7A8B4u, 0x59B33D17u, 0x2EB40D81u, 0xB7BD5C3Bu, 0xC0BA6CADu,
        0xEDB88320u, 0x9ABFB3B6u, 0x03B6E20Cu, 0x74B1D29Au, 0xEAD54739u, 0x9DD277AFu, 0x04DB2615u, 0x73DC1683u,
        0xE3630B12u, 0x94643B84u, 0x0D6D6A3Eu, 0x7A6A5AA8u, 0xE40ECF0Bu, 0x9309FF9Du, 0x0A00AE27u, 0x7D079EB1u,
        0xF00F9344u, 0x8708A3D2u, 0x1E01F268u, 0x6906C2FEu, 0xF762575Du, 0x806567CBu, 0x196C3671u, 0x6E6B06E7u,
        0xFED41B76u, 0x89D32BE0u, 0x10DA7A5Au, 0x67DD4ACCu, 0xF9B9DF6Fu, 0x8EBEEFF9u, 0x17B7BE43u, 0x60B08ED5u,
        0xD6D6A3E8u, 0xA1D1937Eu, 0x38D8C2C4u, 0x4FDFF252u, 0xD1BB67F1u, 0xA6BC5767u, 0x3FB506DDu, 0x48B2364Bu,
        0xD80D2BDAu, 0xAF0A1B4Cu, 0x36034AF6u, 0x41047A60u, 0xDF60EFC3u, 0xA867DF55u, 0x316E8EEFu, 0x4669BE79u,
        0xCB61B38Cu, 0xBC66831Au, 0x256FD2A0u, 0x5268E236u, 0xCC0C7795u, 0xBB0B4703u, 0x220216B9u, 0x5505262Fu,
        0xC5BA3BBEu, 0xB2BD0B28u, 0x2BB45A92u, 0x5CB36A04u, 0xC2D7FFA7u, 0xB5D0CF31u, 0x2CD99E8Bu, 0x5BDEAE1Du,
        0x9B64C2B0u, 0xEC63F226u, 0x756AA39Cu, 0x026D930Au, 0x9C0906A9u, 0xEB0E363Fu, 0x72076785u, 0x05005713u,
        0x95BF4A82u, 0xE2B87A14u, 0x7BB12BAEu, 0x0CB61B38u, 0x92D28E9Bu, 0xE5D5BE0Du, 0x7CDCEFB7u, 0x0BDBDF21u,
        0x86D3D2D4u, 0xF1D4E242u, 0x68DDB3F8u, 0x1FDA836Eu, 0x81BE16CDu, 0xF6B9265Bu, 0x6FB077E1u, 0x18B74777u,
        0x88085AE6u, 0xFF0F6A70u, 0x66063BCAu, 0x11010B5Cu, 0x8F659EFFu, 0xF862AE69u, 0x616BFFD3u, 0x166CCF45u,
        0xA00AE278u, 0xD70DD2EEu, 0x4E048354u, 0x3903B3C2u, 0xA7672661u, 0xD06016F7u, 0x4969474Du, 0x3E6E77DBu,
        0xAED16A4Au, 0xD9D65ADCu, 0x40DF0B66u, 0x37D83BF0u, 0xA9BCAE53u, 0xDEBB9EC5u, 0x47B2CF7Fu, 0x30B5FFE9u,
        0xBDBDF21Cu, 0xCABAC28Au, 0x53B39330u, 0x24B4A3A6u, 0xBAD03605u, 0xCDD70693u, 0x54DE5729u, 0x23D967BFu,
        0xB3667A2Eu, 0xC4614AB8u, 0x5D681B02u, 0x2A6F2B94u, 0xB40BBE37u, 0xC30C8EA1u, 0x5A05DF1Bu, 0x2D02EF8Du
    };
    size_t i;
    crc = ~crc;
    for (i = 0; i < n; i++) crc = (crc >> 8) ^ table[(crc ^ p[i]) & 0xFFu];
    return ~crc;
}

/* The largest file, and the largest decompressed gzip stream, the data loaders take. */
#ifndef GAN_MAX_DATA_BYTES
#define GAN_MAX_DATA_BYTES ((size_t)1 << (sizeof(size_t) >= 8 ? 32 : 30))
#endif

/* ---- inflate (RFC 1951) ---- */

#define GAN__FAST_BITS 10 /* codes of at most this many bits decode with one table look-up */
#define GAN__MAX_BITS 15  /* the longest Huffman code deflate allows (RFC 1951 3.2.7) */

/* A canonical Huffman code (RFC 1951 3.2.2): how many codes each length has, the symbols in code
   order (by length, then by symbol), and a table indexed by the next GAN__FAST_BITS input bits holding
   (symbol << 4) | length for the codes that short (0: a longer code, or no code). */
typedef struct gan__huffman {
    uint16_t fast[1 << GAN__FAST_BITS];
    uint16_t count[GAN__MAX_BITS + 1];
    uint16_t symbol[288];
} gan__huffman;

/* Inflate's state: the input with a bit buffer over it (bits are taken from the low end, RFC 1951
   3.1.1; those past nbits are 0 or input not yet counted), the output so far (out_cap <= max_len,
   the allocation is at least 1 byte), and the current block's two codes. who starts every message. */
typedef struct gan__inflate {
    const uint8_t *in;
    size_t in_len, in_pos;
    uint64_t bits;
    int nbits;
    uint8_t *out;
    size_t out_len, out_cap, max_len, member_start;
    const char *who;
    gan__huffman lit, dist;
} gan__inflate;

/* Tops a bit buffer over in[0, in_len) up to at least 56 bits, or to the end of the input. With 8
   bytes left it ORs in a whole little-endian word and counts only the whole bytes that fit: the bits
   above nbits are then the next input bits, the same ones the next top-up ORs in again. */
static void gan__refill(const uint8_t *in, size_t in_len, size_t *pos, uint64_t *bits, int *nbits)
{
    if (in_len - *pos >= 8) {
        const uint8_t *p = in + *pos;
        uint64_t w = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
                     (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
        *bits |= w << *nbits;
        *pos += (size_t)((63 - *nbits) >> 3);
        *nbits |= 56;
        return;
    }
    while (*nbits <= 56 && *pos < in_len) {
        *bits |= (uint64_t)in[(*pos)++] << *nbits;
        *nbits += 8;
    }
}

static void gan__inflate_refill(gan__inflate *s) { gan__refill(s->in, s->in_len, &s->in_pos, &s->bits, &s->nbits); }

static int gan__inflate_truncated(const gan__inflate *s)
{
    return gan__fail("%s: truncated gzip data (it ends inside a deflate block)", s->who);
}

/* The next n (<= 16) bits as a number, first bit lowest; -1 when the input ends first. */
static int gan__inflate_bits(gan__inflate *s, int n)
{
    int v;
    if (s->nbits < n) gan__inflate_refill(s);
    if (s->nbits < n) return -1;
    v = (int)(s->bits & ((1u << n) - 1u));
    s->bits >>= n;
    s->nbits -= n;
    return v;
}

/* The symbol of code h that bits begin with, for a code longer than the fast table's: -2 if none of
   15 bits. Bit by bit, code first bit highest (3.1.1): the codes of one length are consecutive numbers
   from first, and the next length's start at (first + count) << 1 (3.2.2). */
static int gan__huffman_slow(const gan__huffman *h, uint64_t bits, unsigned *len)
{
    unsigned code = 0, first = 0, index = 0, n;
    for (n = 1; n <= GAN__MAX_BITS; n++) {
        unsigned count = h->count[n];
        code |= (unsigned)(bits & 1u);
        bits >>= 1;
        if (code - first < count) {
            *len = n;
            return h->symbol[index + code - first];
        }
        index += count;
        first = (first + count) << 1;
        code <<= 1;
    }
    return -2;
}

/* The next symbol of code h: -1 when the input ends inside it, -2 for bits that are no code. */
static int gan__inflate_symbol(gan__inflate *s, const gan__huffman *h)
{
    unsigned e, len = 0;
    int sym;
    if (s->nbits < GAN__MAX_BITS) gan__inflate_refill(s);
    e = h->fast[s->bits & ((1u << GAN__FAST_BITS) - 1u)];
    if (e) {
        len = e & 15u;
        sym = (int)(e >> 4);
    } else if ((sym = gan__huffman_slow(h, s->bits, &len)) < 0) {
        return s->nbits < GAN__MAX_BITS ? -1 : -2;
    }
    if ((int)len > s->nbits) return -1;
    s->bits >>= len;
    s->nbits -= (int)len;
    return sym;
}

/* The code with the given lengths of n symbols (0: no code), RFC 1951 3.2.2. Returns the code space
   left over, in units of a 15-bit code: 0 for a complete code, > 0 for an incomplete one, < 0 for
   over-subscribed lengths (then h is not usable). */
static int gan__huffman_build(gan__huffman *h, const uint8_t *lengths, int n)
{
    uint16_t offset[GAN__MAX_BITS + 1], next[GAN__MAX_BITS + 1];
    int len, sym, left = 1;
    unsigned code = 0;
    memset(h->count, 0, sizeof h->count);
    for (sym = 0; sym < n; sym++) h->count[lengths[sym]]++;
    for (len = 1; len <= GAN__MAX_BITS; len++) {
        left = (left << 1) - h->count[len];
        if (left < 0) return left;
    }
    /* first code of each length (3.2.2 step 2) and where its symbols start in code order */
    offset[1] = 0;
    next[1] = 0;
    for (len = 1; len < GAN__MAX_BITS; len++) {
        code = (code + h->count[len]) << 1;
        next[len + 1] = (uint16_t)code;
        offset[len + 1] = (uint16_t)(offset[len] + h->count[len]);
    }
    memset(h->fast, 0, sizeof h->fast);
    for (sym = 0; sym < n; sym++) {
        unsigned c, rev = 0, i;
        len = lengths[sym];
        if (!len) continue;
        h->symbol[offset[len]++] = (uint16_t)sym;
        c = next[len]++;
        if (len > GAN__FAST_BITS) continue;
        /* the code's bits arrive first bit highest, the table is indexed first bit lowest */
        for (i = 0; i < (unsigned)len; i++) rev |= ((c >> i) & 1u) << (len - 1 - (int)i);
        for (i = rev; i < (1u << GAN__FAST_BITS); i += 1u << len) h->fast[i] = (uint16_t)((unsigned)sym << 4 | (unsigned)len);
    }
    return left;
}

/* Whether a code with space left over is one deflate allows (as zlib does): a literal/length or
   distance code of one symbol, coded in one bit, or a distance code of none (3.2.7: all literals). */
static int gan__huffman_sparse_ok(const gan__huffman *h, int n)
{
    int codes = n - h->count[0];
    return codes == 0 || (codes == 1 && h->count[1] == 1);
}

/* Fails with the message for what gan__inflate_symbol returned (-1 or -2). */
static int gan__inflate_bad_symbol(const gan__inflate *s, int sym, const char *what)
{
    if (sym == -1) return gan__inflate_truncated(s);
    return gan__fail("%s: corrupt deflate data (bits that are no %s code)", s->who, what);
}

/* Room for n more output bytes: the buffer doubles (up to max_len) when it is full. */
static int gan__inflate_room(gan__inflate *s, size_t n)
{
    size_t cap;
    uint8_t *p;
    if (s->out_cap - s->out_len >= n) return 1;
    if (n > s->max_len - s->out_len)
        return gan__fail("%s: the gzip data inflates to more than %z bytes (max_len): refused as corrupt or a "
                         "decompression bomb", s->who, s->max_len);
    cap = s->out_cap > s->max_len / 2 ? s->max_len : s->out_cap * 2;
    if (cap < s->out_len + n) cap = s->out_len + n;
    if (cap < 4096) cap = s->max_len < 4096 ? s->max_len : 4096;
    p = (uint8_t *)GAN_MALLOC(cap);
    if (!p) return gan__fail("%s: out of memory for %z bytes of inflated data", s->who, cap);
    if (s->out_len) memcpy(p, s->out, s->out_len);
    GAN_FREE(s->out);
    s->out = p;
    s->out_cap = cap;
    return 1;
}

/* A stored block (3.2.4): to the byte boundary, LEN and its complement NLEN, then LEN bytes as they are. */
static int gan__inflate_stored(gan__inflate *s)
{
    size_t len;
    /* the bit buffer's whole bytes go back to the input, the partial one is dropped */
    s->in_pos -= (size_t)(s->nbits / 8);
    s->bits = 0;
    s->nbits = 0;
    if (s->in_len - s->in_pos < 4) return gan__inflate_truncated(s);
    len = (size_t)s->in[s->in_pos] | (size_t)s->in[s->in_pos + 1] << 8;
    if ((len ^ ((size_t)s->in[s->in_pos + 2] | (size_t)s->in[s->in_pos + 3] << 8)) != 0xffffu)
        return gan__fail("%s: corrupt deflate data (a stored block's length and its complement disagree)", s->who);
    s->in_pos += 4;
    if (s->in_len - s->in_pos < len) return gan__inflate_truncated(s);
    if (!gan__inflate_room(s, len)) return 0;
    if (len) memcpy(s->out + s->out_len, s->in + s->in_pos, len);
    s->out_len += len;
    s->in_pos += len;
    return 1;
}

/* The symbols of a Huffman block until end-of-block (3.2.5): literals, and length / distance pairs
   copying from the output so far (of this member: each gzip member is a deflate stream of its own).
   This is inflate's hot loop: the bit buffer and the output live in locals (byte stores could alias s),
   one top-up per symbol is enough for a length, a distance and their extra bits (15 + 5 + 15 + 13
   bits), and each size is checked against nbits as its bits are taken. */
static int gan__inflate_codes(gan__inflate *s)
{
    static const uint16_t len_base[29] = { 3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                           31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258 };
    static const uint8_t len_extra[29] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                           2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0 };
    static const uint16_t dist_base[30] = { 1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,    65,    97,    129,
                                            193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577 };
    static const uint8_t dist_extra[30] = { 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6,
                                            6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13 };
    const gan__huffman *lit = &s->lit, *dist = &s->dist;
    const uint8_t *in = s->in;
    size_t in_len = s->in_len, pos = s->in_pos, out_len = s->out_len, out_cap = s->out_cap;
    uint64_t bits = s->bits;
    int nbits = s->nbits, status = -1; /* 1 end-of-block, 0 failed (message set), -1 truncated */
    uint8_t *out = s->out;
    for (;;) {
        unsigned e, n = 0, extra;
        int sym;
        size_t len, back;
        uint8_t *dst;
        if (nbits < 48) gan__refill(in, in_len, &pos, &bits, &nbits);
        /* the literal/length symbol */
        e = lit->fast[bits & ((1u << GAN__FAST_BITS) - 1u)];
        if (e) {
            n = e & 15u;
            sym = (int)(e >> 4);
        } else if ((sym = gan__huffman_slow(lit, bits, &n)) < 0) {
            if (nbits >= GAN__MAX_BITS) status = gan__fail("%s: corrupt deflate data (bits that are no literal/length code)", s->who);
            break;
        }
        if ((int)n > nbits) break;
        bits >>= n;
        nbits -= (int)n;
        if (sym < 256) {
            if (out_len == out_cap) {
                s->out_len = out_len;
                if (!gan__inflate_room(s, 1)) {
                    status = 0;
                    break;
                }
                out = s->out;
                out_cap = s->out_cap;
            }
            out[out_len++] = (uint8_t)sym;
            continue;
        }
        if (sym == 256) {
            status = 1;
            break;
        }
        sym -= 257;
        if (sym >= 29) {
            status = gan__fail("%s: corrupt deflate data (length symbol %d does not exist)", s->who, sym + 257);
            break;
        }
        /* its extra bits, then the distance symbol and its extra bits */
        n = len_extra[sym];
        if ((int)n > nbits) break;
        extra = (unsigned)(bits & ((1u << n) - 1u));
        bits >>= n;
        nbits -= (int)n;
        len = (size_t)len_base[sym] + extra;
        e = dist->fast[bits & ((1u << GAN__FAST_BITS) - 1u)];
        if (e) {
            n = e & 15u;
            sym = (int)(e >> 4);
        } else if ((sym = gan__huffman_slow(dist, bits, &n)) < 0) {
            if (nbits >= GAN__MAX_BITS) status = gan__fail("%s: corrupt deflate data (bits that are no distance code)", s->who);
            break;
        }
        if ((int)n > nbits) break;
        bits >>= n;
        nbits -= (int)n;
        if (sym >= 30) {
            status = gan__fail("%s: corrupt deflate data (distance symbol %d does not exist)", s->who, sym);
            break;
        }
        n = dist_extra[sym];
        if ((int)n > nbits) break;
        extra = (unsigned)(bits & ((1u << n) - 1u));
        bits >>= n;
        nbits -= (int)n;
        back = (size_t)dist_base[sym] + extra;
        if (back > out_len - s->member_start) {
            status = gan__fail("%s: corrupt deflate data (a match %z bytes back, %z bytes into the stream)", s->who, back,
                               out_len - s->member_start);
            break;
        }
        if (out_cap - out_len < len) {
            s->out_len = out_len;
            if (!gan__inflate_room(s, len)) {
                status = 0;
                break;
            }
            out = s->out;
            out_cap = s->out_cap;
        }
        dst = out + out_len;
        if (back >= 8 && out_cap - out_len >= len + 7) {
            /* 8 bytes at a time (the last piece may write up to 7 bytes past the match, within the
               buffer): each piece reads only bytes written before it */
            size_t i;
            for (i = 0; i < len; i += 8) memcpy(dst + i, dst + i - back, 8);
        } else if (back == 1) {
            memset(dst, dst[-1], len);
        } else {
            /* an overlapping copy repeats the last back bytes: forwards, byte by byte */
            size_t i;
            for (i = 0; i < len; i++) dst[i] = dst[(ptrdiff_t)i - (ptrdiff_t)back];
        }
        out_len += len;
    }
    s->in_pos = pos;
    s->bits = bits;
    s->nbits = nbits;
    s->out_len = out_len;
    return status < 0 ? gan__inflate_truncated(s) : status;
}

/* The codes of a fixed Huffman block (3.2.6). */
static void gan__inflate_fixed(gan__inflate *s)
{
    uint8_t lengths[288];
    int i;
    for (i = 0; i < 288; i++) lengths[i] = (uint8_t)(i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8);
    gan__huffman_build(&s->lit, lengths, 288);
    /* 32 distance codes of 5 bits, 30 and 31 meaning nothing (gan__inflate_codes refuses them) */
    for (i = 0; i < 32; i++) lengths[i] = 5;
    gan__huffman_build(&s->dist, lengths, 32);
}

/* The codes of a dynamic Huffman block from its header (3.2.7): HLIT, HDIST, HCLEN, the code-length
   code, then the literal/length and distance code lengths in it, run-length coded by 16, 17 and 18. */
static int gan__inflate_dynamic(gan__inflate *s)
{
    static const uint8_t order[19] = { 16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15 };
    uint8_t lengths[286 + 30];
    int hlit, hdist, hclen, i, n, left;
    if ((hlit = gan__inflate_bits(s, 5)) < 0 || (hdist = gan__inflate_bits(s, 5)) < 0 ||
        (hclen = gan__inflate_bits(s, 4)) < 0)
        return gan__inflate_truncated(s);
    hlit += 257;
    hdist += 1;
    hclen += 4;
    if (hlit > 286 || hdist > 30)
        return gan__fail("%s: corrupt deflate data (%d literal/length and %d distance codes; at most 286 and 30)",
                         s->who, hlit, hdist);
    memset(lengths, 0, 19);
    for (i = 0; i < hclen; i++) {
        int v = gan__inflate_bits(s, 3);
        if (v < 0) return gan__inflate_truncated(s);
        lengths[order[i]] = (uint8_t)v;
    }
    /* the code-length code is read into lit, which is built for real only afterwards */
    if (gan__huffman_build(&s->lit, lengths, 19) != 0)
        return gan__fail("%s: corrupt deflate data (an over-subscribed or incomplete code-length code)", s->who);
    for (n = 0; n < hlit + hdist;) {
        int sym = gan__inflate_symbol(s, &s->lit), rep, v = 0;
        if (sym < 0) return gan__inflate_bad_symbol(s, sym, "code-length");
        if (sym < 16) {
            lengths[n++] = (uint8_t)sym;
            continue;
        }
        if (sym == 16) {
            if (n == 0) return gan__fail("%s: corrupt deflate data (a repeat of the previous code length before any)", s->who);
            v = lengths[n - 1];
            rep = gan__inflate_bits(s, 2);
            rep = rep < 0 ? rep : 3 + rep;
        } else if (sym == 17) {
            rep = gan__inflate_bits(s, 3);
            rep = rep < 0 ? rep : 3 + rep;
        } else {
            rep = gan__inflate_bits(s, 7);
            rep = rep < 0 ? rep : 11 + rep;
        }
        if (rep < 0) return gan__inflate_truncated(s);
        if (rep > hlit + hdist - n)
            return gan__fail("%s: corrupt deflate data (code lengths repeated past the %d the block declares)", s->who,
                             hlit + hdist);
        while (rep--) lengths[n++] = (uint8_t)v;
    }
    if (lengths[256] == 0) return gan__fail("%s: corrupt deflate data (a block without an end-of-block code)", s->who);
    left = gan__huffman_build(&s->lit, lengths, hlit);
    if (left < 0 || (left > 0 && !gan__huffman_sparse_ok(&s->lit, hlit)))
        return gan__fail("%s: corrupt deflate data (%s literal/length code)", s->who,
                         left < 0 ? "an over-subscribed" : "an incomplete");
    left = gan__huffman_build(&s->dist, lengths + hlit, hdist);
    if (left < 0 || (left > 0 && !gan__huffman_sparse_ok(&s->dist, hdist)))
        return gan__fail("%s: corrupt deflate data (%s distance code)", s->who, left < 0 ? "an over-subscribed" : "an incomplete");
    return 1;
}

/* One deflate stream from in[in_pos], blocks until the final one (3.2.3); the input position ends on
   the byte after it. */
static int gan__inflate_stream(gan__inflate *s)
{
    int final, type;
    s->bits = 0;
    s->nbits = 0;
    do {
        if ((final = gan__inflate_bits(s, 1)) < 0 || (type = gan__inflate_bits(s, 2)) < 0) return gan__inflate_truncated(s);
        if (type == 0) {
            if (!gan__inflate_stored(s)) return 0;
        } else if (type == 1) {
            gan__inflate_fixed(s);
            if (!gan__inflate_codes(s)) return 0;
        } else if (type == 2) {
            if (!gan__inflate_dynamic(s) || !gan__inflate_codes(s)) return 0;
        } else {
            return gan__fail("%s: corrupt deflate data (block type 3 is reserved)", s->who);
        }
    } while (!final);
    s->in_pos -= (size_t)(s->nbits / 8);
    return 1;
}

/* ---- gzip (RFC 1952) ---- */

static uint32_t gan__le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Skips a member's header (RFC 1952 2.3) at in[*pos]: the magic 1f 8b, CM = 8 (deflate), no reserved
   FLG bit, then FEXTRA's field, FNAME's and FCOMMENT's zero-terminated strings, FHCRC's CRC-16 (the low
   half of the CRC-32 of the header before it), each as its flag says. */
static int gan__gzip_header(const uint8_t *in, size_t len, size_t *pos, const char *who)
{
    size_t p = *pos;
    unsigned flags;
    int k;
    if (len - p < 10) {
        if (len - p >= 2 && (in[p] != 0x1f || in[p + 1] != 0x8b)) return gan__fail("%s: not gzip data (no 1f 8b magic)", who);
        return gan__fail("%s: truncated gzip header (%z bytes)", who, len - p);
    }
    if (in[p] != 0x1f || in[p + 1] != 0x8b) return gan__fail("%s: not gzip data (no 1f 8b magic)", who);
    if (in[p + 2] != 8) return gan__fail("%s: gzip compression method %d is not deflate (8)", who, (int)in[p + 2]);
    flags = in[p + 3];
    if (flags & 0xe0u) return gan__fail("%s: gzip header with reserved flag bits set", who);
    p += 10;
    if (flags & 4u) { /* FEXTRA: XLEN, then XLEN bytes */
        size_t xlen;
        if (len - p < 2) return gan__fail("%s: truncated gzip header (in FEXTRA)", who);
        xlen = (size_t)in[p] | (size_t)in[p + 1] << 8;
        p += 2;
        if (len - p < xlen) return gan__fail("%s: truncated gzip header (in FEXTRA)", who);
        p += xlen;
    }
    for (k = 0; k < 2; k++) { /* FNAME, then FCOMMENT */
        if (!(flags & (k ? 16u : 8u))) continue;
        while (p < len && in[p]) p++;
        if (p == len) return gan__fail("%s: truncated gzip header (in %s)", who, k ? "FCOMMENT" : "FNAME");
        p++;
    }
    if (flags & 2u) { /* FHCRC */
        if (len - p < 2) return gan__fail("%s: truncated gzip header (in FHCRC)", who);
        if ((gan__crc32(0, in + *pos, p - *pos) & 0xffffu) != ((uint32_t)in[p] | (uint32_t)in[p + 1] << 8))
            return gan__fail("%s: gzip header CRC-16 mismatch (a corrupt header)", who);
        p += 2;
    }
    *pos = p;
    return 1;
}

/* gan_gunzip with who starting the messages. */
static int gan__gunzip(uint8_t **out, size_t *out_len, const uint8_t *in, size_t in_len, size_t max_len, const char *who)
{
    gan__inflate *s;
    size_t pos = 0, cap;
    int ok = 1;
    *out = NULL;
    *out_len = 0;
    if (in_len < 18) {
        if (in_len >= 2 && (in[0] != 0x1f || in[1] != 0x8b)) return gan__fail("%s: not gzip data (no 1f 8b magic)", who);
        return gan__fail("%s: truncated gzip data (%z bytes; a gzip stream has at least 18)", who, in_len);
    }
    s = (gan__inflate *)GAN_MALLOC(sizeof *s);
    if (!s) return gan__fail("%s: out of memory for inflate's state", who);
    memset(s, 0, sizeof *s);
    s->in = in;
    s->in_len = in_len;
    s->max_len = max_len;
    s->who = who;
    /* The last member's ISIZE as a first size, believed only within max_len and deflate's largest
       ratio (1032 : 1, runs of 258 bytes in 2 bits): a lie costs a copy or some unused memory. */
    cap = gan__le32(in + in_len - 4);
    if (cap > max_len) cap = max_len;
    if (cap > gan__mul(in_len, 1032)) cap = gan__mul(in_len, 1032);
    s->out = (uint8_t *)GAN_MALLOC(cap ? cap : 1);
    s->out_cap = cap;
    if (!s->out) ok = gan__fail("%s: out of memory for %z bytes of inflated data", who, cap);
    while (ok && pos < in_len) {
        uint32_t crc;
        size_t n;
        if (pos > 0 && in[pos] != 0x1f)
            ok = gan__fail("%s: %z trailing bytes after the gzip data", who, in_len - pos);
        else if (gan__gzip_header(in, in_len, &pos, who)) {
            s->in_pos = pos;
            s->member_start = s->out_len;
            ok = gan__inflate_stream(s);
        } else {
            ok = 0;
        }
        if (!ok) break;
        /* the trailer (2.3.1): CRC-32 and ISIZE (the length mod 2^32) of this member's data */
        pos = s->in_pos;
        if (in_len - pos < 8) {
            ok = gan__fail("%s: truncated gzip data (in the CRC-32 and ISIZE trailer)", who);
            break;
        }
        n = s->out_len - s->member_start;
        crc = gan__crc32(0, s->out + s->member_start, n);
        if (crc != gan__le32(in + pos))
            ok = gan__fail("%s: gzip CRC-32 mismatch (the data is corrupt)", who);
        else if ((uint32_t)n != gan__le32(in + pos + 4))
            ok = gan__fail("%s: gzip ISIZE mismatch (%z bytes inflated; the trailer disagrees)", who, n);
        pos += 8;
    }
    if (ok) {
        *out = s->out;
        *out_len = s->out_len;
    } else {
        GAN_FREE(s->out);
    }
    GAN_FREE(s);
    return ok;
}

GANDEF int gan_gunzip(uint8_t **out, size_t *out_len, const uint8_t *in, size_t in_len, size_t max_len)
{
    GAN_ASSERT(out && out_len && (in || in_len == 0));
    return gan__gunzip(out, out_len, in, in_len, max_len, "gan_gunzip");
}

/* ---- IDX files ---- */

/* Checks an IDX file (a big-endian header: 0, 0, type 8 = unsigned byte, the number of dimensions,
   then each size as 32 bits) of min_dims..max_dims sizes and exactly the bytes they multiply to. */
static int gan__idx_header(const uint8_t *p, size_t len, int min_dims, int max_dims, int *dims, int *ndims,
                           size_t *count, const char *name, const char *what)
{
    size_t header, total = 1, item = 1;
    int k;
    if (len < 4) return gan__fail("%s: truncated IDX %s file (%z bytes, no header)", name, what, len);
    if (p[0] != 0 || p[1] != 0 || p[2] != 8 || p[3] < min_dims || p[3] > max_dims)
        return gan__fail("%s: not an IDX %s file of unsigned bytes (magic %d %d %d %d, expected 0 0 8 %d%s)", name, what,
                         (int)p[0], (int)p[1], (int)p[2], (int)p[3], min_dims, max_dims > min_dims ? " or 4" : "");
    *ndims = p[3];
    header = 4 + 4 * (size_t)*ndims;
    if (len < header) return gan__fail("%s: truncated IDX %s file (%z bytes, in the header)", name, what, len);
    for (k = 0; k < *ndims; k++) {
        uint32_t v = (uint32_t)p[4 + 4 * k] << 24 | (uint32_t)p[5 + 4 * k] << 16 | (uint32_t)p[6 + 4 * k] << 8 | p[7 + 4 * k];
        if (v == 0 || v > INT_MAX)
            return gan__fail("%s: IDX %s size %d is %z (sizes are 1 to INT_MAX)", name, what, k, (size_t)v);
        dims[k] = (int)v;
        total = gan__mul(total, v);
        if (k > 0) item = gan__mul(item, v);
    }
    if (item > INT_MAX) return gan__fail("%s: the IDX %s sizes make items of more than INT_MAX bytes each", name, what);
    if (total > GAN_MAX_DATA_BYTES)
        return gan__fail("%s: the IDX %s sizes multiply to more than GAN_MAX_DATA_BYTES (%z)", name, what,
                         (size_t)GAN_MAX_DATA_BYTES);
    if (len - header < total)
        return gan__fail("%s: truncated IDX %s file (the header declares %z data bytes, the file has %z)", name, what,
                         total, len - header);
    if (len - header > total)
        return gan__fail("%s: %z trailing bytes after the %z data bytes the IDX %s header declares", name,
                         len - header - total, total, what);
    *count = total;
    return 1;
}

/* One IDX file, gzipped or not -> *data, a GAN_MALLOC'd block of exactly its data bytes, and its sizes.
   own: NULL, or the GAN_MALLOC'd in itself, which this call takes over (kept as *data or freed). */
static int gan__idx_take(uint8_t **data, int *dims, int *ndims, const uint8_t *in, size_t len, uint8_t *own,
                         int min_dims, int max_dims, const char *name, const char *what)
{
    size_t count = 0;
    *data = NULL;
    if (len >= 2 && in[0] == 0x1f && in[1] == 0x8b) {
        uint8_t *z;
        size_t z_len;
        int ok = gan__gunzip(&z, &z_len, in, len, GAN_MAX_DATA_BYTES, name);
        GAN_FREE(own);
        if (!ok) return 0;
        in = own = z;
        len = z_len;
    }
    if (!gan__idx_header(in, len, min_dims, max_dims, dims, ndims, &count, name, what)) {
        GAN_FREE(own);
        return 0;
    }
    if (own) {
        /* the data moves to the front of the block it is in: no second copy of a large file */
        memmove(own, own + (len - count), count);
        *data = own;
        return 1;
    }
    *data = (uint8_t *)GAN_MALLOC(count);
    if (!*data) return gan__fail("%s: out of memory for %z bytes of IDX %s", name, count, what);
    memcpy(*data, in + (len - count), count);
    return 1;
}

/* gan_dataset_from_idx with each file's own name and, for each, a block it may take over (see gan__idx_take). */
static int gan__dataset_idx(gan_dataset *d, const uint8_t *images, size_t images_len, uint8_t *images_own,
                            const uint8_t *labels, size_t labels_len, uint8_t *labels_own, const char *images_name,
                            const char *labels_name)
{
    int dims[4] = { 0, 0, 0, 0 }, ndims = 3, ldims[1] = { 0 }, lndims = 1;
    size_t i;
    memset(d, 0, sizeof *d);
    if (!gan__idx_take(&d->pixels, dims, &ndims, images, images_len, images_own, 3, 4, images_name, "images")) {
        GAN_FREE(labels_own);
        return 0;
    }
    d->n = dims[0];
    d->c = ndims == 4 ? dims[1] : 1;
    d->h = dims[ndims - 2];
    d->w = dims[ndims - 1];
    if (labels) {
        if (!gan__idx_take(&d->labels, ldims, &lndims, labels, labels_len, labels_own, 1, 1, labels_name, "labels")) {
            gan_dataset_free(d);
            return 0;
        }
        if (ldims[0] != d->n) {
            gan__fail("%s: %d labels for the %d images of %s", labels_name, ldims[0], d->n, images_name);
            gan_dataset_free(d);
            return 0;
        }
        for (i = 0; i < (size_t)d->n; i++)
            if (d->labels[i] >= d->classes) d->classes = d->labels[i] + 1;
    }
    return 1;
}

GANDEF int gan_dataset_from_idx(gan_dataset *d, const uint8_t *images, size_t images_len, const uint8_t *labels,
                                size_t labels_len, const char *name)
{
    GAN_ASSERT(d && (images || images_len == 0) && (labels || labels_len == 0));
    if (!name) name = "gan_dataset_from_idx";
    return gan__dataset_idx(d, images, images_len, NULL, labels, labels_len, NULL, name, name);
}

#ifndef GAN_NO_STDIO
/* The whole file at path -> a GAN_MALLOC'd block (at least 1 byte allocated). */
static int gan__read_file(uint8_t **data, size_t *len, const char *path)
{
    FILE *f = fopen(path, "rb");
    long size;
    *data = NULL;
    *len = 0;
    if (!f) return gan__fail("%s: cannot open the file", path);
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return gan__fail("%s: cannot find the file's size", path);
    }
    if ((unsigned long)size > GAN_MAX_DATA_BYTES) {
        fclose(f);
        return gan__fail("%s: the file is larger than GAN_MAX_DATA_BYTES (%z)", path, (size_t)GAN_MAX_DATA_BYTES);
    }
    *data = (uint8_t *)GAN_MALLOC(size ? (size_t)size : 1);
    if (!*data) {
        fclose(f);
        return gan__fail("%s: out of memory for the file's %z bytes", path, (size_t)size);
    }
    if (fread(*data, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        GAN_FREE(*data);
        *data = NULL;
        return gan__fail("%s: read error", path);
    }
    fclose(f);
    *len = (size_t)size;
    return 1;
}

GANDEF int gan_dataset_load_idx(gan_dataset *d, const char *images_path, const char *labels_path)
{
    uint8_t *images, *labels = NULL;
    size_t images_len, labels_len = 0;
    GAN_ASSERT(d && images_path);
    memset(d, 0, sizeof *d);
    if (!gan__read_file(&images, &images_len, images_path)) return 0;
    if (labels_path && !gan__read_file(&labels, &labels_len, labels_path)) {
        GAN_FREE(images);
        return 0;
    }
    return gan__dataset_idx(d, images, images_len, images, labels, labels_len, labels, images_path,
                            labels_path ? labels_path : "");
}

/* buf = the concatenation of the n strings of parts; 0 when it does not fit in cap bytes. */
static int gan__path(char *buf, size_t cap, const char *const *parts, int n)
{
    size_t at = 0;
    int k;
    for (k = 0; k < n; k++) {
        const char *p = parts[k];
        while (*p) {
            if (at + 1 >= cap) return 0;
            buf[at++] = *p++;
        }
    }
    buf[at] = 0;
    return 1;
}

/* buf = dir/sub/<split><file><suffix> (dir/<split>... when sub is NULL), the path of one MNIST file. */
static int gan__mnist_path(char *buf, size_t cap, const char *dir, const char *sub, const char *split,
                           const char *file, const char *suffix)
{
    const char *parts[7];
    parts[0] = dir;
    parts[1] = "/";
    parts[2] = sub ? sub : "";
    parts[3] = sub ? "/" : "";
    parts[4] = split;
    parts[5] = file;
    parts[6] = suffix;
    return gan__path(buf, cap, parts, 7);
}

/* Whether path names a file that opens for reading. */
static int gan__file_exists(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

#define GAN__PATH_MAX 1024

GANDEF int gan_dataset_load(gan_dataset *d, const char *dir, const char *name, gan_split split)
{
    static const char *const prefix[2] = { "train", "t10k" };
    static const char *const suffix[2] = { ".gz", "" };
    char images[GAN__PATH_MAX], labels[GAN__PATH_MAX];
    const char *sub = name && *name ? (strcmp(name, "fashion") == 0 ? "fashion-mnist" : name) : NULL;
    const char *tried = split == GAN_SPLIT_TRAIN ? "train" : split == GAN_SPLIT_TEST ? "t10k" : "{train,t10k}";
    int k, place, z;
    GAN_ASSERT(d && (split == GAN_SPLIT_TRAIN || split == GAN_SPLIT_TEST || split == GAN_SPLIT_ANY));
    memset(d, 0, sizeof *d);
    if (!dir || !*dir) dir = ".";
    /* the set's own directory first: dir/ itself may hold another set */
    for (place = sub ? 0 : 1; place < 2; place++) {
        const char *in = place ? NULL : sub;
        for (k = split == GAN_SPLIT_TEST; k <= (split != GAN_SPLIT_TRAIN); k++) {
            for (z = 0; z < 2; z++) {
                int found = 0, zl;
                if (!gan__mnist_path(images, sizeof images, dir, in, prefix[k], "-images-idx3-ubyte", suffix[z]))
                    return gan__fail("gan_dataset_load: the directory name %s is too long", dir);
                if (!gan__file_exists(images)) continue;
                /* the labels beside the images, either compressed or not */
                for (zl = 0; zl < 2 && !found; zl++)
                    found = gan__mnist_path(labels, sizeof labels, dir, in, prefix[k], "-labels-idx1-ubyte", suffix[zl]) &&
                            gan__file_exists(labels);
                return gan_dataset_load_idx(d, images, found ? labels : NULL);
            }
        }
    }
    if (sub)
        return gan__fail("gan_dataset_load: no %s images (point GAN_DATA or --data at the directory that holds them): "
                         "tried %s/%s/ and %s/ for %s-images-idx3-ubyte[.gz]", name, dir, sub, dir, tried);
    return gan__fail("gan_dataset_load: no images (point GAN_DATA or --data at the directory that holds them): "
                     "tried %s/ for %s-images-idx3-ubyte[.gz]", dir, tried);
}
#endif

GANDEF void gan_dataset_free(gan_dataset *d)
{
    if (!d) return;
    GAN_FREE(d->pixels);
    GAN_FREE(d->labels);
    memset(d, 0, sizeof *d);
}

/* ---- the procedural shapes ---- */

/* A uniform float in [lo, hi) from 24 random bits, as gan_rng_uniform in the float build: the same
   numbers in the double build. */
static float gan__shape_uniform(gan_rng *rng, float lo, float hi)
{
    return lo + (hi - lo) * ((float)(gan_rng_u32(rng) >> 8) * (1.0f / 16777216.0f));
}

/* Draws one shape into img (size x size bytes) and returns its kind. Each shape is a signed distance
   d(p) to its edge, negative inside; a pixel's coverage is clamp(0.5 - d, 0, 1) at its centre, the
   exact area for a straight edge crossing the pixel, which gives the soft border a renderer would.
   Every length is given for 16 x 16 and scaled by size / 16. */
static int gan__draw_shape(uint8_t *img, int size, gan_rng *rng)
{
    int kind = (int)(gan_rng_u32(rng) % 4);
    float s = (float)size / 16.0f;
    float ink = gan__shape_uniform(rng, 0.5f, 1.0f); /* brightness of the shape on a black background */
    float r = 0, t = 0, hw, hh, cx, cy;              /* radius, half line width, half extents, centre */
    int x, y;
    switch (kind) {
    case 0: /* disc */
        r = gan__shape_uniform(rng, 2.5f * s, 6.0f * s);
        hw = hh = r;
        break;
    case 1: /* ring */
        r = gan__shape_uniform(rng, 3.5f * s, 6.5f * s);
        t = gan__shape_uniform(rng, 0.7f * s, 1.3f * s);
        hw = hh = r + t;
        break;
    case 2: /* square */
        hw = hh = gan__shape_uniform(rng, 2.0f * s, 5.5f * s);
        break;
    default: /* bar, lying or standing */
        hw = gan__shape_uniform(rng, 4.5f * s, 7.0f * s);
        hh = gan__shape_uniform(rng, 1.0f * s, 1.8f * s);
        if (gan_rng_u32(rng) & 1) {
            float tmp = hw;
            hw = hh;
            hh = tmp;
        }
        break;
    }
    /* the centre anywhere that keeps the whole shape, and half a pixel more, inside the image */
    cx = gan__shape_uniform(rng, hw + 0.5f, (float)size - hw - 0.5f);
    cy = gan__shape_uniform(rng, hh + 0.5f, (float)size - hh - 0.5f);
    for (y = 0; y < size; y++) {
        for (x = 0; x < size; x++) {
            float px = (float)x + 0.5f - cx, py = (float)y + 0.5f - cy, d, cover;
            if (kind == 0) {
                d = sqrtf(px * px + py * py) - r;
            } else if (kind == 1) {
                d = fabsf(sqrtf(px * px + py * py) - r) - t;
            } else {
                float dx = fabsf(px) - hw, dy = fabsf(py) - hh;
                d = dx > dy ? dx : dy;
            }
            cover = 0.5f - d;
            cover = cover < 0.0f ? 0.0f : cover > 1.0f ? 1.0f : cover;
            img[(size_t)y * (size_t)size + (size_t)x] = (uint8_t)(255.0f * ink * cover + 0.5f);
        }
    }
    return kind;
}

GANDEF int gan_dataset_shapes(gan_dataset *d, int n, int size, uint64_t seed)
{
    gan_rng rng;
    size_t pixels = gan__mul(gan__mul((size_t)(n > 0 ? n : 0), (size_t)(size > 0 ? size : 0)), (size_t)(size > 0 ? size : 0));
    int i;
    GAN_ASSERT(d && n >= 1 && size >= 8);
    memset(d, 0, sizeof *d);
    if ((size_t)size * (size_t)size > INT_MAX || pixels > GAN_MAX_DATA_BYTES)
        return gan__fail("gan_dataset_shapes: %d images of %d x %d are more than GAN_MAX_DATA_BYTES", n, size, size);
    d->pixels = (uint8_t *)GAN_MALLOC(pixels);
    d->labels = (uint8_t *)GAN_MALLOC((size_t)n);
    if (!d->pixels || !d->labels) {
        gan_dataset_free(d);
        return gan__fail("gan_dataset_shapes: out of memory for %d images of %d x %d", n, size, size);
    }
    d->n = n;
    d->c = 1;
    d->h = d->w = size;
    d->classes = 4;
    gan_rng_seed(&rng, seed);
    for (i = 0; i < n; i++) d->labels[i] = (uint8_t)gan__draw_shape(d->pixels + (size_t)i * (size_t)size * (size_t)size, size, &rng);
    return 1;
}

/* ---- batches ---- */

GANDEF void gan_dataset_batch(const gan_dataset *d, gan_float *x, gan_float *labels, const int *index, int n)
{
    size_t per, j;
    int i;
    GAN_ASSERT(d && d->pixels && x && index && n >= 0);
    GAN_ASSERT(!labels || d->labels); /* labels asked of a set without them */
    per = (size_t)d->c * (size_t)d->h * (size_t)d->w;
    for (i = 0; i < n; i++) {
        const uint8_t *p;
        gan_float *dst = x + (size_t)i * per;
        GAN_ASSERT(index[i] >= 0 && index[i] < d->n);
        p = d->pixels + (size_t)index[i] * per;
        for (j = 0; j < per; j++) dst[j] = (gan_float)p[j] / (gan_float)127.5 - 1;
        if (labels) labels[i] = (gan_float)d->labels[index[i]];
    }
}

/* Fisher-Yates (Knuth's Algorithm P) on a[0 .. n - 1]: uniform whatever order it starts from. */
static void gan__shuffle(int *a, int n, gan_rng *rng)
{
    int i;
    for (i = n - 1; i > 0; i--) {
        int j = (int)gan__rng_below(rng, (uint32_t)i + 1u), t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* A fresh order for the next pass. */
static void gan__loader_shuffle(gan_loader *l) { gan__shuffle(l->order, l->data->n, &l->rng); }

GANDEF int gan_loader_init(gan_loader *l, const gan_dataset *d, uint64_t seed)
{
    int i;
    GAN_ASSERT(l && d && d->n >= 1 && d->pixels);
    memset(l, 0, sizeof *l);
    l->order = (int *)GAN_MALLOC(gan__mul((size_t)d->n, sizeof(int)));
    if (!l->order) return gan__fail("gan_loader_init: out of memory for the order of %d samples", d->n);
    l->data = d;
    for (i = 0; i < d->n; i++) l->order[i] = i;
    gan_rng_seed(&l->rng, seed);
    gan__loader_shuffle(l);
    return 1;
}

GANDEF void gan_loader_free(gan_loader *l)
{
    if (!l) return;
    GAN_FREE(l->order);
    memset(l, 0, sizeof *l);
}

GANDEF void gan_loader_next(gan_loader *l, gan_float *x, gan_float *labels, int n)
{
    const gan_dataset *d;
    size_t per;
    int done = 0;
    GAN_ASSERT(l && l->order && x && n >= 0);
    d = l->data;
    per = (size_t)d->c * (size_t)d->h * (size_t)d->w;
    while (done < n) {
        /* the rest of this pass, at most */
        int take = d->n - l->pos < n - done ? d->n - l->pos : n - done;
        gan_dataset_batch(d, x + (size_t)done * per, labels ? labels + done : NULL, l->order + l->pos, take);
        done += take;
        l->pos += take;
        if (l->pos == d->n) {
            l->epoch++;
            l->pos = 0;
            gan__loader_shuffle(l);
        }
    }
}

GANDEF int gan_loader_real(void *user, gan_float *x, gan_float *labels, int n)
{
    gan_loader_next((gan_loader *)user, x, labels, n);
    return 1;
}

GANDEF double gan_loader_epochs(const gan_loader *l)
{
    GAN_ASSERT(l && l->data);
    return (double)l->epoch + (double)l->pos / (double)l->data->n;
}

/* ==== images ==== */

/* ---- output to a callback ---- */

/* Hands n bytes to the callback, once: *ok becomes 0 at the first refusal, and nothing is written after. */
static void gan__emit(gan_write_fn write, void *user, int *ok, const void *data, size_t n)
{
    if (*ok && n > 0 && !write(user, data, n)) *ok = 0;
}

/* v as 4 bytes, most significant first (PNG lengths and fields, IDX dims, zlib's Adler-32). */
static void gan__put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Adler-32 of RFC 1950 section 8.2: s1 = 1 + the bytes, s2 = the sum of the s1s, both mod 65521.
   adler is the value so far (1 to start). The sums are reduced every 5552 bytes, the most for which
   s2 cannot pass 2^32 - 1 (255 n (n + 1) / 2 + (n + 1) (65521 - 1) < 2^32). */
static uint32_t gan__adler32(uint32_t adler, const uint8_t *p, size_t n)
{
    uint32_t s1 = adler & 0xFFFFu, s2 = adler >> 16;
    while (n > 0) {
        size_t k = n < 5552 ? n : 5552;
        n -= k;
        while (k--) {
            s1 += *p++;
            s2 += s1;
        }
        s1 %= 65521u;
        s2 %= 65521u;
    }
    return (s2 << 16) | s1;
}

/* ---- PNG: rows and their filters (PNG specification, section 9) ---- */

/* Paeth's predictor (PNG section 9.4): of a (left), b (up) and c (up-left), the one nearest to
   a + b - c, preferring a, then b. */
static int gan__paeth(int a, int b, int c)
{
    int pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* The predictor of filter type t (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth; PNG section 9.2) from a,
   b and c; the row loops below inline it per type, this is for a row's first pixel, where a = c = 0. */
static int gan__png_predict(int t, int a, int b, int c)
{
    switch (t) {
    case 1: return a;
    case 2: return b;
    case 3: return (a + b) >> 1;
    case 4: return gan__paeth(a, b, c);
    default: return 0;
    }
}

/* The cost of a residue r in the filter heuristic: |r| read as a signed byte. */
static unsigned gan__residue_cost(unsigned r)
{
    r &= 255u;
    return r < 128 ? r : 256 - r;
}

/* The sum of gan__residue_cost over bytes [bpp, n) of a row filtered with type t (a row with one above
   unless t is 0 or 1), or some sum >= limit once it is clear the sum reaches limit. A loop per type,
   in pieces of 512 bytes between the checks against limit. */
static size_t gan__png_filter_cost(const uint8_t *row, const uint8_t *up, size_t n, size_t bpp, int t, size_t limit)
{
    size_t i = bpp, sum = 0;
    while (i < n && sum < limit) {
        size_t end = n - i > 512 ? i + 512 : n;
        switch (t) {
        case 0: for (; i < end; i++) sum += gan__residue_cost(row[i]); break;
        case 1: for (; i < end; i++) sum += gan__residue_cost((unsigned)(row[i] - row[i - bpp])); break;
        case 2: for (; i < end; i++) sum += gan__residue_cost((unsigned)(row[i] - up[i])); break;
        case 3: for (; i < end; i++) sum += gan__residue_cost((unsigned)(row[i] - ((row[i - bpp] + up[i]) >> 1))); break;
        default:
            for (; i < end; i++) sum += gan__residue_cost((unsigned)(row[i] - gan__paeth(row[i - bpp], up[i], up[i - bpp])));
            break;
        }
    }
    return sum;
}

/* The filter for one row: the type whose residues, read as signed bytes, have the smallest sum of
   absolute values (the PNG specification's suggested heuristic, section 12.8). up is the row above,
   NULL for the first row, which tries None and Sub only (there Up is None and Paeth is Sub). The
   previous row's type is tried first and kept on a tie, so the other sums can stop as soon as they
   pass the best one. */
static int gan__png_choose_filter(const uint8_t *row, const uint8_t *up, size_t n, size_t bpp, int previous)
{
    size_t best_cost = 0, i;
    int k, best = 0, tries = up ? 5 : 2;
    if (previous >= tries) previous = 0;
    for (k = 0; k < tries && (k == 0 || best_cost > 0); k++) {
        /* the order: previous, then the others from 0 up */
        int t = k == 0 ? previous : k - 1 < previous ? k - 1 : k;
        size_t cost = 0, limit = k == 0 ? SIZE_MAX : best_cost;
        /* the first pixel's bytes have no left neighbours: a = c = 0 */
        for (i = 0; i < n && i < bpp; i++) cost += gan__residue_cost((unsigned)(row[i] - gan__png_predict(t, 0, up ? up[i] : 0, 0)));
        if (n > bpp && cost < limit) cost += gan__png_filter_cost(row, up, n, bpp, t, limit - cost);
        if (k == 0 || cost < best_cost) {
            best = t;
            best_cost = cost;
        }
    }
    return best;
}

/* out[0 .. to - from) = bytes [from, to) of a row filtered with type t: each byte minus its predictor,
   mod 256. up may be NULL only for types 0 and 1. */
static void gan__png_filter(uint8_t *out, const uint8_t *row, const uint8_t *up, size_t from, size_t to,
                            size_t bpp, int t)
{
    size_t i = from;
    for (; i < to && i < bpp; i++) out[i - from] = (uint8_t)(row[i] - gan__png_predict(t, 0, up ? up[i] : 0, 0));
    switch (t) {
    case 0: memcpy(out + (i - from), row + i, to - i); break;
    case 1: for (; i < to; i++) out[i - from] = (uint8_t)(row[i] - row[i - bpp]); break;
    case 2: for (; i < to; i++) out[i - from] = (uint8_t)(row[i] - up[i]); break;
    case 3: for (; i < to; i++) out[i - from] = (uint8_t)(row[i] - ((row[i - bpp] + up[i]) >> 1)); break;
    default:
        for (; i < to; i++) out[i - from] = (uint8_t)(row[i] - gan__paeth(row[i - bpp], up[i], up[i - bpp]));
        break;
    }
}

/* ---- PNG: deflate (RFC 1951) with LZ77 and the fixed Huffman codes, in a zlib stream (RFC 1950) ---- */

#define GAN__WSIZE 32768u         /* LZ77 window: the largest distance (RFC 1951 section 3.2.5) */
#define GAN__MIN_MATCH 3
#define GAN__MAX_MATCH 258
#define GAN__LOOKAHEAD (GAN__MAX_MATCH + GAN__MIN_MATCH + 1) /* bytes kept ahead of the match position */
#define GAN__BLOCK_BYTES 16384u   /* input per deflate block; a block's bytes stay in the window */
#define GAN__HASH_BITS 15
#define GAN__CHAIN 4              /* candidates tried per position: a short chain */
#define GAN__NICE_MATCH 128       /* a match this long ends the search */
#define GAN__IDAT_BYTES 32768u    /* the most data per IDAT chunk */

/* A token of a block: a literal byte (< 256), or GAN__MATCH | (distance - 1) << 8 | (length - 3). */
#define GAN__MATCH 0x80000000u

/* RFC 1951 section 3.2.5: the base length of length codes 257..285 and their extra bits; the base
   distance of distance codes 0..29 and theirs. */
static const uint16_t gan__len_base[29] = { 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51,
                                            59, 67, 83, 99, 115, 131, 163, 195, 227, 258 };
static const uint8_t gan__len_extra[29] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3,
                                            4, 4, 4, 4, 5, 5, 5, 5, 0 };
static const uint16_t gan__dist_base[30] = { 1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385,
                                             513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577 };
static const uint8_t gan__dist_extra[30] = { 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8,
                                             9, 9, 10, 10, 11, 11, 12, 12, 13, 13 };

/* One PNG encoding: the source rows, the filtered stream they make (the zlib data), the LZ77 window
   over it, the block being collected and the IDAT chunk being filled. */
typedef struct gan__png {
    gan_write_fn write;
    void *user;
    int ok;                    /* 0 once the callback refused */
    /* the filtered stream: a filter-type byte, then the row's filtered bytes, for each row */
    const uint8_t *pixels;
    size_t row_bytes, stride, bpp;
    int h, y, type;            /* next byte: row y, byte x of its 1 + row_bytes (x = 0: the type) */
    size_t x;
    uint32_t adler;
    /* the window: win[0 .. have) is the stream from position base; pos indexes the next byte to code */
    uint8_t *win;
    size_t cap, have, pos, block;  /* block: where the current block's input starts in win */
    uint32_t base;             /* stream position of win[0], mod 2^32 (the hash tables' positions) */
    uint32_t *head, *prev;     /* the latest position of each 3-byte hash; the one before, by position */
    uint32_t hash_shift, prev_mask;
    uint32_t *tok;
    size_t n_tok;
    /* output: bits not yet a whole byte, and the IDAT chunk's data */
    uint32_t bits;
    int n_bits;
    uint8_t *out;
    size_t n_out, out_cap;
    /* the fixed Huffman codes (RFC 1951 section 3.2.6), bit-reversed so they go out LSB first */
    uint16_t lit_code[288];
    uint8_t lit_len[288];
    uint8_t dist_code[30];
    uint8_t len_sym[256];      /* length - 3 -> length code - 257 */
    uint8_t dist_sym[512];     /* distance - 1 -> distance code: [v] below 256, [256 + (v >> 7)] above */
} gan__png;

/* One chunk: its length, type and data, then the CRC-32 of type and data (PNG section 5.3). */
static void gan__png_chunk(gan__png *s, const char *type, const uint8_t *data, size_t n)
{
    uint8_t head[8], crc[4];
    gan__put_be32(head, (uint32_t)n);
    memcpy(head + 4, type, 4);
    gan__put_be32(crc, gan__crc32(gan__crc32(0, head + 4, 4), data, n));
    gan__emit(s->write, s->user, &s->ok, head, 8);
    gan__emit(s->write, s->user, &s->ok, data, n);
    gan__emit(s->write, s->user, &s->ok, crc, 4);
}

/* Appends one byte of the zlib stream; a full buffer goes out as an IDAT chunk. */
static void gan__png_byte(gan__png *s, unsigned b)
{
    s->out[s->n_out++] = (uint8_t)b;
    if (s->n_out == s->out_cap) {
        gan__png_chunk(s, "IDAT", s->out, s->n_out);
        s->n_out = 0;
    }
}

/* Appends the n (<= 16) low bits of v, least significant first (RFC 1951 section 3.1.1). */
static void gan__png_bits(gan__png *s, uint32_t v, int n)
{
    s->bits |= v << s->n_bits;
    s->n_bits += n;
    while (s->n_bits >= 8) {
        gan__png_byte(s, s->bits & 255u);
        s->bits >>= 8;
        s->n_bits -= 8;
    }
}

/* Pads to a byte boundary with zero bits. */
static void gan__png_align(gan__png *s)
{
    if (s->n_bits > 0) gan__png_bits(s, 0, 8 - s->n_bits);
}

/* The n low bits of v in reverse order: Huffman codes are defined most significant bit first. */
static uint32_t gan__reverse_bits(uint32_t v, int n)
{
    uint32_t r = 0;
    int i;
    for (i = 0; i < n; i++) r |= ((v >> i) & 1u) << (n - 1 - i);
    return r;
}

/* The fixed codes of RFC 1951 section 3.2.6 (literal/length 0-143: 8 bits from 00110000, 144-255: 9
   bits from 110010000, 256-279: 7 bits from 0000000, 280-287: 8 bits from 11000000; distances: 5
   bits, the code itself), and the tables from a length or a distance to its code. */
static void gan__png_codes(gan__png *s)
{
    int i, code;
    for (i = 0; i < 288; i++) {
        int n = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
        uint32_t c = i < 144 ? 0x30u + (uint32_t)i : i < 256 ? 0x190u + (uint32_t)(i - 144)
                   : i < 280 ? (uint32_t)(i - 256) : 0xC0u + (uint32_t)(i - 280);
        s->lit_code[i] = (uint16_t)gan__reverse_bits(c, n);
        s->lit_len[i] = (uint8_t)n;
    }
    for (i = 0; i < 30; i++) s->dist_code[i] = (uint8_t)gan__reverse_bits((uint32_t)i, 5);
    for (i = 0; i < 512; i++) {
        int v = i < 256 ? i : (i - 256) << 7; /* distance - 1 */
        for (code = 0; code < 29 && gan__dist_base[code + 1] <= v + 1; code++) continue;
        s->dist_sym[i] = (uint8_t)code;
    }
    /* 258 has code 285 of its own, though 284 with all its extra bits set would reach it too */
    for (i = 0; i < 256; i++) {
        for (code = 0; code < 27 && gan__len_base[code + 1] <= i + 3; code++) continue;
        s->len_sym[i] = (uint8_t)(i == 255 ? 28 : code);
    }
}

/* The distance code of a distance d - 1 = v in 0..32767 (RFC 1951 section 3.2.5), from the table
   gan__png_codes fills: the codes from 16 on span multiples of 128, so v >> 7 finds them. */
static int gan__dist_sym(const gan__png *s, uint32_t v)
{
    return v < 256 ? s->dist_sym[v] : s->dist_sym[256 + (v >> 7)];
}

/* Fills out[0 .. n) with the next bytes of the filtered stream (fewer at its end); returns how many. */
static size_t gan__png_produce(gan__png *s, uint8_t *out, size_t n)
{
    size_t done = 0;
    while (done < n && s->y < s->h) {
        const uint8_t *row = s->pixels + (size_t)s->y * s->stride, *up = s->y > 0 ? row - s->stride : NULL;
        if (s->x == 0) {
            s->type = gan__png_choose_filter(row, up, s->row_bytes, s->bpp, s->type);
            out[done++] = (uint8_t)s->type;
            s->x = 1;
        } else {
            size_t from = s->x - 1, k = s->row_bytes - from;
            if (k > n - done) k = n - done;
            gan__png_filter(out + done, row, up, from, from + k, s->bpp, s->type);
            done += k;
            s->x += k;
        }
        if (s->x == s->row_bytes + 1) {
            s->y++;
            s->x = 0;
        }
    }
    s->adler = gan__adler32(s->adler, out, done);
    return done;
}

/* Keeps GAN__LOOKAHEAD bytes ahead of pos while the stream lasts: when the window is full, the bytes
   older than both the last 32 KiB and the current block's start are dropped first. */
static void gan__png_fill(gan__png *s)
{
    if (s->have - s->pos >= GAN__LOOKAHEAD || s->y >= s->h) return;
    if (s->have == s->cap) {
        size_t keep_from = s->pos > GAN__WSIZE ? s->pos - GAN__WSIZE : 0;
        if (keep_from > s->block) keep_from = s->block;
        memmove(s->win, s->win + keep_from, s->have - keep_from);
        s->have -= keep_from;
        s->pos -= keep_from;
        s->block -= keep_from;
        s->base += (uint32_t)keep_from;
    }
    s->have += gan__png_produce(s, s->win + s->have, s->cap - s->have);
}

/* The hash of the 3 bytes at p (Knuth's multiplicative hash), GAN__HASH_BITS bits or fewer. */
static uint32_t gan__png_hash(const gan__png *s, const uint8_t *p)
{
    return (((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16) * 2654435761u) >> s->hash_shift;
}

/* Enters window position i in the hash chains; returns the previous position with its hash. */
static uint32_t gan__png_insert(gan__png *s, size_t i)
{
    uint32_t h = gan__png_hash(s, s->win + i), at = s->base + (uint32_t)i, before = s->head[h];
    s->prev[at & s->prev_mask] = before;
    s->head[h] = at;
    return before;
}

/* The longest match for the bytes at pos among the chain from cand, as length (0 if under 3) and
   distance. The tables hold positions mod 2^32 and may be stale, so each candidate is only a guess:
   it must lie 1 to 32768 bytes back inside the window, and the bytes themselves are compared. */
static size_t gan__png_match(const gan__png *s, uint32_t cand, size_t *dist)
{
    const uint8_t *cur = s->win + s->pos;
    uint32_t at = s->base + (uint32_t)s->pos, d = at - cand;
    size_t best = 0, max = s->have - s->pos, chain = GAN__CHAIN;
    if (max > GAN__MAX_MATCH) max = GAN__MAX_MATCH;
    if (max < GAN__MIN_MATCH) return 0;
    while (chain-- > 0 && d >= 1 && d <= GAN__WSIZE && d <= s->pos) {
        const uint8_t *old = cur - d;
        uint32_t next_d;
        if (old[best] == cur[best]) {
            size_t n = 0;
            while (n < max && old[n] == cur[n]) n++;
            if (n > best) {
                best = n;
                *dist = d;
                if (n >= GAN__NICE_MATCH || n == max) break;
            }
        }
        next_d = at - s->prev[(at - d) & s->prev_mask];
        if (next_d <= d) break; /* overwritten by a newer position: the chain ends */
        d = next_d;
    }
    return best >= GAN__MIN_MATCH ? best : 0;
}

/* Writes the collected block, final or not: with the fixed codes (BTYPE 01, section 3.2.6) unless
   storing its bytes (BTYPE 00, section 3.2.4: aligned, LEN, NLEN, the bytes) takes fewer bits. */
static void gan__png_block(gan__png *s, int final)
{
    size_t len = s->pos - s->block, i, fixed = 3 + 7, stored;
    stored = 3 + (size_t)((8 - (s->n_bits + 3) % 8) % 8) + 32 + 8 * len;
    for (i = 0; i < s->n_tok; i++) {
        uint32_t t = s->tok[i];
        if (t & GAN__MATCH) {
            int ls = s->len_sym[t & 255u], ds = gan__dist_sym(s, (t >> 8) & 0x7FFFu);
            fixed += s->lit_len[257 + ls] + gan__len_extra[ls] + 5 + gan__dist_extra[ds];
        } else {
            fixed += s->lit_len[t];
        }
    }
    if (fixed < stored) {
        gan__png_bits(s, (uint32_t)final | 1u << 1, 3);
        for (i = 0; i < s->n_tok; i++) {
            uint32_t t = s->tok[i];
            if (t & GAN__MATCH) {
                uint32_t l = t & 255u, v = (t >> 8) & 0x7FFFu;
                int ls = s->len_sym[l], ds = gan__dist_sym(s, v);
                gan__png_bits(s, s->lit_code[257 + ls], s->lit_len[257 + ls]);
                gan__png_bits(s, l + 3 - gan__len_base[ls], gan__len_extra[ls]);
                gan__png_bits(s, s->dist_code[ds], 5);
                gan__png_bits(s, v + 1 - gan__dist_base[ds], gan__dist_extra[ds]);
            } else {
                gan__png_bits(s, s->lit_code[t], s->lit_len[t]);
            }
        }
        gan__png_bits(s, s->lit_code[256], s->lit_len[256]); /* end of block */
    } else {
        gan__png_bits(s, (uint32_t)final, 3);
        gan__png_align(s);
        gan__png_bits(s, (uint32_t)len & 0xFFFFu, 16);
        gan__png_bits(s, ~(uint32_t)len & 0xFFFFu, 16);
        for (i = 0; i < len;) { /* the bytes, straight into the chunk buffer */
            size_t k = len - i < s->out_cap - s->n_out ? len - i : s->out_cap - s->n_out;
            memcpy(s->out + s->n_out, s->win + s->block + i, k);
            s->n_out += k;
            i += k;
            if (s->n_out == s->out_cap) {
                gan__png_chunk(s, "IDAT", s->out, s->n_out);
                s->n_out = 0;
            }
        }
    }
    s->n_tok = 0;
    s->block = s->pos;
}

/* The zlib stream of the filtered rows: header 78 01 (deflate, 32 KiB window, no dictionary; 0x7801 is
   a multiple of 31), greedy LZ77 blocks, then the Adler-32 of the stream, most significant byte first. */
static void gan__png_deflate(gan__png *s)
{
    uint8_t adler[4];
    size_t i;
    gan__png_byte(s, 0x78);
    gan__png_byte(s, 0x01);
    for (;;) {
        size_t len = 0, dist = 0;
        gan__png_fill(s);
        if (s->pos == s->have || !s->ok) break;
        if (s->pos - s->block >= GAN__BLOCK_BYTES) gan__png_block(s, 0);
        if (s->have - s->pos >= GAN__MIN_MATCH) len = gan__png_match(s, gan__png_insert(s, s->pos), &dist);
        if (len > 0) {
            s->tok[s->n_tok++] = GAN__MATCH | (uint32_t)(dist - 1) << 8 | (uint32_t)(len - GAN__MIN_MATCH);
            for (i = 1; i < len && s->pos + i + GAN__MIN_MATCH <= s->have; i++) gan__png_insert(s, s->pos + i);
            s->pos += len;
        } else {
            s->tok[s->n_tok++] = s->win[s->pos++];
        }
    }
    gan__png_block(s, 1);
    gan__png_align(s);
    gan__put_be32(adler, s->adler);
    for (i = 0; i < 4; i++) gan__png_byte(s, adler[i]);
}

/* Checks the row size shared by the PNG and PNM writers: w comp bytes must fit the int stride. */
static int gan__image_row_bytes(const char *who, size_t *row_bytes, int w, int comp)
{
    *row_bytes = (size_t)w * (size_t)comp;
    if (*row_bytes > (size_t)INT_MAX) return gan__fail("%s: a row of %d pixels of %d bytes passes INT_MAX bytes", who, w, comp);
    return 1;
}

GANDEF int gan_png_write(gan_write_fn write, void *user, const uint8_t *pixels, int w, int h, int comp, int stride)
{
    static const uint8_t signature[8] = { 137, 80, 78, 71, 13, 10, 26, 10 };
    static const uint8_t colour_type[5] = { 0, 0, 4, 2, 6 }; /* by comp: gray, gray + alpha, RGB, RGBA */
    gan__png s;
    uint8_t ihdr[13], *mem;
    size_t total, hash_size, prev_size, tok_cap, bytes;
    GAN_ASSERT(write && pixels && "gan_png_write: NULL argument");
    GAN_ASSERT(w > 0 && h > 0 && comp >= 1 && comp <= 4 && "gan_png_write: w, h > 0 and comp 1 to 4");
    if (!(w > 0 && h > 0 && comp >= 1 && comp <= 4))
        return gan__fail("gan_png_write: a picture of %d x %d pixels of %d bytes (w, h > 0 and comp 1 to 4)", w, h, comp);
    memset(&s, 0, sizeof s);
    if (!gan__image_row_bytes("gan_png_write", &s.row_bytes, w, comp)) return 0;
    GAN_ASSERT((size_t)stride >= s.row_bytes && stride > 0 && "gan_png_write: stride must be at least w comp");
    if (!(stride > 0 && (size_t)stride >= s.row_bytes))
        return gan__fail("gan_png_write: stride %d is less than a row's %z bytes", stride, s.row_bytes);

    /* Working memory sized to the stream: the window, the hash tables and the tokens need no more
       than its length, the IDAT buffer no more than its stored size. */
    total = gan__mul((size_t)h, s.row_bytes + 1);
    s.cap = total < 2 * GAN__WSIZE ? total : 2 * GAN__WSIZE;
    tok_cap = total < GAN__BLOCK_BYTES ? total : GAN__BLOCK_BYTES; /* a token takes at least a byte */
    for (hash_size = 256; hash_size < ((size_t)1 << GAN__HASH_BITS) && hash_size < total; hash_size *= 2) continue;
    for (prev_size = 256; prev_size < GAN__WSIZE && prev_size < total; prev_size *= 2) continue;
    s.out_cap = gan__add(total, 5 * (total / GAN__BLOCK_BYTES + 1) + 6);
    if (s.out_cap > GAN__IDAT_BYTES) s.out_cap = GAN__IDAT_BYTES;
    bytes = (hash_size + prev_size + tok_cap) * sizeof(uint32_t) + s.cap + s.out_cap;
    mem = (uint8_t *)GAN_MALLOC(bytes);
    if (!mem) return gan__fail("gan_png_write: out of memory for %z bytes of working memory", bytes);
    s.head = (uint32_t *)(void *)mem;
    s.prev = s.head + hash_size;
    s.tok = s.prev + prev_size;
    s.win = (uint8_t *)(s.tok + tok_cap);
    s.out = s.win + s.cap;
    memset(s.head, 0, hash_size * sizeof(uint32_t));
    memset(s.prev, 0, prev_size * sizeof(uint32_t));
    for (s.hash_shift = 32; ((size_t)1 << (32 - s.hash_shift)) < hash_size; s.hash_shift--) continue;
    s.prev_mask = (uint32_t)prev_size - 1;
    s.write = write;
    s.user = user;
    s.ok = 1;
    s.pixels = pixels;
    s.stride = (size_t)stride;
    s.bpp = (size_t)comp;
    s.h = h;
    s.adler = 1;
    gan__png_codes(&s);

    /* signature, IHDR (width, height, bit depth 8, colour type, deflate, adaptive filters, no interlace) */
    gan__emit(write, user, &s.ok, signature, 8);
    gan__put_be32(ihdr, (uint32_t)w);
    gan__put_be32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8;
    ihdr[9] = colour_type[comp];
    ihdr[10] = ihdr[11] = ihdr[12] = 0;
    gan__png_chunk(&s, "IHDR", ihdr, 13);
    gan__png_deflate(&s);
    if (s.n_out > 0) gan__png_chunk(&s, "IDAT", s.out, s.n_out);
    gan__png_chunk(&s, "IEND", NULL, 0);
    GAN_FREE(mem);
    return s.ok ? 1 : gan__fail("gan_png_write: the write callback failed");
}

/* ---- PGM / PPM, IDX ---- */

/* Writes the decimal digits of v >= 0 at p; returns how many. */
static size_t gan__decimal(char *p, int v)
{
    char digits[12];
    size_t n = 0, i;
    do digits[n++] = (char)('0' + v % 10); while ((v /= 10) > 0);
    for (i = 0; i < n; i++) p[i] = digits[n - 1 - i];
    return n;
}

GANDEF int gan_pnm_write(gan_write_fn write, void *user, const uint8_t *pixels, int w, int h, int comp, int stride)
{
    char head[40];
    size_t n = 0, row_bytes;
    int ok = 1, y;
    GAN_ASSERT(write && pixels && "gan_pnm_write: NULL argument");
    GAN_ASSERT(w > 0 && h > 0 && (comp == 1 || comp == 3) && "gan_pnm_write: w, h > 0 and comp 1 (PGM) or 3 (PPM)");
    if (!(w > 0 && h > 0 && (comp == 1 || comp == 3)))
        return gan__fail("gan_pnm_write: a picture of %d x %d pixels of %d bytes (w, h > 0 and comp 1 or 3)", w, h, comp);
    if (!gan__image_row_bytes("gan_pnm_write", &row_bytes, w, comp)) return 0;
    GAN_ASSERT((size_t)stride >= row_bytes && "gan_pnm_write: stride must be at least w comp");
    if (!(stride > 0 && (size_t)stride >= row_bytes))
        return gan__fail("gan_pnm_write: stride %d is less than a row's %z bytes", stride, row_bytes);
    /* "P5" (gray) or "P6" (RGB), width, height and maxval, each followed by one whitespace byte */
    head[n++] = 'P';
    head[n++] = comp == 1 ? '5' : '6';
    head[n++] = '\n';
    n += gan__decimal(head + n, w);
    head[n++] = ' ';
    n += gan__decimal(head + n, h);
    memcpy(head + n, "\n255\n", 5);
    n += 5;
    gan__emit(write, user, &ok, head, n);
    for (y = 0; y < h && ok; y++) gan__emit(write, user, &ok, pixels + (size_t)y * (size_t)stride, row_bytes);
    return ok ? 1 : gan__fail("gan_pnm_write: the write callback failed");
}

GANDEF int gan_idx_write(gan_write_fn write, void *user, const uint8_t *data, int ndim, const int *dims)
{
    uint8_t head[4 + 4 * 4];
    size_t count = 1;
    int ok = 1, i;
    GAN_ASSERT(write && dims && ndim >= 1 && ndim <= 4 && "gan_idx_write: NULL argument or ndim not 1 to 4");
    head[0] = head[1] = 0;
    head[2] = 0x08; /* unsigned byte */
    head[3] = (uint8_t)ndim;
    for (i = 0; i < ndim; i++) {
        GAN_ASSERT(dims[i] >= 0 && "gan_idx_write: a negative dimension");
        count = gan__mul(count, (size_t)dims[i]);
        gan__put_be32(head + 4 + 4 * i, (uint32_t)dims[i]);
    }
    if (count == SIZE_MAX) return gan__fail("gan_idx_write: the %d dimensions hold more than SIZE_MAX bytes", ndim);
    GAN_ASSERT((data || count == 0) && "gan_idx_write: NULL data");
    gan__emit(write, user, &ok, head, 4 + 4 * (size_t)ndim);
    gan__emit(write, user, &ok, data, count);
    return ok ? 1 : gan__fail("gan_idx_write: the write callback failed");
}

#ifndef GAN_NO_STDIO
/* ---- crash-safe files ---- */

/* Where the bytes of a save go: a file, through a 64 KiB buffer. */
typedef struct gan__out_file {
#ifdef GAN__POSIX_FILES
    int fd;
#else
    FILE *f;
#endif
    uint8_t *buf;
    size_t used;
    int failed;
} gan__out_file;

#define GAN__OUT_BUFFER ((size_t)1 << 16)

/* The buffer's bytes into the file; 0 on a write error (a full disk). */
static int gan__out_drain(gan__out_file *o)
{
#ifdef GAN__POSIX_FILES
    const uint8_t *p = o->buf;
    size_t n = o->used;
    while (n > 0) {
        ssize_t w = write(o->fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return 0;
        p += w;
        n -= (size_t)w;
    }
#else
    if (o->used && fwrite(o->buf, 1, o->used, o->f) != o->used) return 0;
#endif
    o->used = 0;
    return 1;
}

/* gan_write_fn of a save. */
static int gan__out_write(void *user, const void *data, size_t n)
{
    gan__out_file *o = (gan__out_file *)user;
    const uint8_t *p = (const uint8_t *)data;
    while (n > 0 && !o->failed) {
        size_t take = GAN__OUT_BUFFER - o->used < n ? GAN__OUT_BUFFER - o->used : n;
        memcpy(o->buf + o->used, p, take);
        o->used += take;
        p += take;
        n -= take;
        if (o->used == GAN__OUT_BUFFER && !gan__out_drain(o)) o->failed = 1;
    }
    return !o->failed;
}

/* Opens the temporary file; 0 if it cannot be created. */
static int gan__out_open(gan__out_file *o, const char *tmp)
{
#ifdef GAN__POSIX_FILES
    do o->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666); while (o->fd < 0 && errno == EINTR);
    return o->fd >= 0;
#else
    return (o->f = fopen(tmp, "wb")) != NULL;
#endif
}

/* Drains, syncs to the disk and closes; 0 if any of it failed (the file is closed either way). */
static int gan__out_close(gan__out_file *o)
{
    int ok = !o->failed && gan__out_drain(o);
#ifdef GAN__POSIX_FILES
    /* EINVAL, ENOTSUP: a device or pipe that cannot be synced (/dev/null), written all the same */
    if (ok && fsync(o->fd) != 0 && errno != EINVAL && errno != ENOTSUP) ok = 0;
    if (close(o->fd) != 0) ok = 0;
#else
    if (ok && fflush(o->f) != 0) ok = 0;
    if (fclose(o->f) != 0) ok = 0;
#endif
    return ok;
}

/* After the rename: the folder's entry made durable too (best effort: a folder that cannot be
   opened for reading changes nothing about the file). */
static void gan__sync_folder(const char *path)
{
#ifdef GAN__POSIX_FILES
    size_t n = strlen(path);
    char *dir;
    int fd;
    while (n > 0 && path[n - 1] != '/') n--;
    dir = (char *)GAN_MALLOC(n + 2);
    if (!dir) return;
    if (n == 0) {
        dir[0] = '.';
        dir[1] = 0;
    } else {
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    GAN_FREE(dir);
#else
    (void)path;
#endif
}

/* Is path an existing file that is not a regular one (a device such as /dev/null, a pipe)? Such a
   file is written where it is: a new file renamed over it would replace the device. */
static int gan__special_file(const char *path)
{
#ifdef GAN__POSIX_FILES
    struct stat st;
    return stat(path, &st) == 0 && !S_ISREG(st.st_mode);
#else
    (void)path;
    return 0;
#endif
}

/* gan_save_file with `who` naming the caller in messages. */
static int gan__save(const char *who, const char *path, gan_encode_fn encode, void *ctx)
{
    gan__out_file o;
    char why[GAN__ERROR_MAX];
    size_t n;
    char *tmp;
    int ok, direct;
    GAN_ASSERT(path && encode && "a save needs a path and an encoder");
    n = strlen(path);
    direct = gan__special_file(path);
    memset(&o, 0, sizeof o);
    tmp = (char *)GAN_MALLOC(n + 5);
    o.buf = (uint8_t *)GAN_MALLOC(GAN__OUT_BUFFER);
    if (!tmp || !o.buf) {
        GAN_FREE(tmp);
        GAN_FREE(o.buf);
        return gan__fail("%s: %s: out of memory", who, path);
    }
    memcpy(tmp, path, n); /* the file written: path itself when direct, else path.tmp */
    memcpy(tmp + n, direct ? "" : ".tmp", direct ? 1 : 5);
    if (!gan__out_open(&o, tmp)) {
        gan__fail("%s: cannot %s %s", who, direct ? "open" : "create", tmp);
        GAN_FREE(tmp);
        GAN_FREE(o.buf);
        return 0;
    }
    gan__error[0] = 0;
    ok = encode(ctx, gan__out_write, &o);
    memcpy(why, gan__error, GAN__ERROR_MAX);
    if (!gan__out_close(&o) || o.failed) {
        if (direct) ok = gan__fail("%s: cannot write %s (is the device full?)", who, path);
        else ok = gan__fail("%s: cannot write %s (is the disk full?); %s is as it was", who, tmp, path);
    } else if (!ok) {
        gan__fail("%s: %s: %s", who, path, why);
    }
    if (ok && !direct) {
        int moved = rename(tmp, path) == 0;
#if defined(_WIN32)
        if (!moved) { /* Windows renames onto no existing file */
            remove(path);
            moved = rename(tmp, path) == 0;
        }
#endif
        if (!moved) ok = gan__fail("%s: cannot rename %s to %s", who, tmp, path);
    }
    if (ok && !direct) gan__sync_folder(path);
    else if (!ok && !direct) remove(tmp);
    GAN_FREE(tmp);
    GAN_FREE(o.buf);
    return ok;
}

GANDEF int gan_save_file(const char *path, gan_encode_fn encode, void *ctx)
{
    return gan__save("gan_save_file", path, encode, ctx);
}

/* The saves of pictures and IDX files: their arguments, and encoders that take them. */
typedef struct gan__image_args {
    const uint8_t *pixels;
    int w, h, comp, stride;
    int ndim;
    const int *dims;
} gan__image_args;

static int gan__encode_png(void *ctx, gan_write_fn write, void *user)
{
    const gan__image_args *a = (const gan__image_args *)ctx;
    return gan_png_write(write, user, a->pixels, a->w, a->h, a->comp, a->stride);
}

static int gan__encode_pnm(void *ctx, gan_write_fn write, void *user)
{
    const gan__image_args *a = (const gan__image_args *)ctx;
    return gan_pnm_write(write, user, a->pixels, a->w, a->h, a->comp, a->stride);
}

static int gan__encode_idx(void *ctx, gan_write_fn write, void *user)
{
    const gan__image_args *a = (const gan__image_args *)ctx;
    return gan_idx_write(write, user, a->pixels, a->ndim, a->dims);
}

static gan__image_args gan__image_of(const uint8_t *pixels, int w, int h, int comp, int stride)
{
    gan__image_args a;
    memset(&a, 0, sizeof a);
    a.pixels = pixels;
    a.w = w;
    a.h = h;
    a.comp = comp;
    a.stride = stride;
    return a;
}

GANDEF int gan_png_save(const char *path, const uint8_t *pixels, int w, int h, int comp, int stride)
{
    gan__image_args a = gan__image_of(pixels, w, h, comp, stride);
    return gan__save("gan_png_save", path, gan__encode_png, &a);
}

GANDEF int gan_pnm_save(const char *path, const uint8_t *pixels, int w, int h, int comp, int stride)
{
    gan__image_args a = gan__image_of(pixels, w, h, comp, stride);
    return gan__save("gan_pnm_save", path, gan__encode_pnm, &a);
}

GANDEF int gan_idx_save(const char *path, const uint8_t *data, int ndim, const int *dims)
{
    gan__image_args a = gan__image_of(data, 0, 0, 0, 0);
    a.ndim = ndim;
    a.dims = dims;
    return gan__save("gan_idx_save", path, gan__encode_idx, &a);
}
#endif

/* ---- grids of samples ---- */

#define GAN__GRID_BORDER 80 /* the border's gray level: apart from black and white backgrounds and from the
                                mid-gray (x = 0, 128) of an untrained generator's tiles */

GANDEF void gan_to_bytes(uint8_t *out, const gan_float *x, size_t n)
{
    size_t i;
    GAN_ASSERT((out && x) || n == 0);
    for (i = 0; i < n; i++) {
        double v = ((double)x[i] + 1.0) * 127.5;
        /* !(v > 0) also takes NaN; v + 0.5 floored rounds half up, round()'s way for v >= 0 */
        out[i] = !(v > 0) ? 0 : v >= 255 ? 255 : (uint8_t)(v + 0.5);
    }
}

/* The extent count (size scale + pad) + pad of a grid along one axis, if it fits an int. */
static int gan__grid_extent(int *out, int count, int size, int pad, int scale)
{
    size_t e = gan__add(gan__mul((size_t)count, gan__add(gan__mul((size_t)size, (size_t)scale), (size_t)pad)), (size_t)pad);
    if (e > (size_t)INT_MAX) return 0;
    *out = (int)e;
    return 1;
}

/* W and H of a grid, or 0 (without a message) if a size is not positive (pad negative) or W, H or
   W H 4 do not fit. */
static int gan__grid_dims(int *W, int *H, int n, int h, int w, int cols, int pad, int scale)
{
    int across, down;
    if (!(n > 0 && h > 0 && w > 0 && cols > 0 && pad >= 0 && scale > 0)) return 0;
    across = n < cols ? n : cols;
    down = n / cols + (n % cols != 0);
    return gan__grid_extent(W, across, w, pad, scale) && gan__grid_extent(H, down, h, pad, scale) &&
           gan__mul(gan__mul((size_t)*W, (size_t)*H), 4) != SIZE_MAX;
}

GANDEF int gan_grid_size(int *W, int *H, int n, int h, int w, int cols, int pad, int scale)
{
    GAN_ASSERT(W && H && "gan_grid_size: NULL argument");
    if (!gan__grid_dims(W, H, n, h, w, cols, pad, scale))
        return gan__fail("gan_grid_size: a grid of %d images of %d x %d, %d a row, scale %d and pad %d, is empty or too "
                         "large (n, h, w, cols and scale must be positive, pad not negative)",
                         n, h, w, cols, scale, pad);
    return 1;
}

GANDEF void gan_grid(uint8_t *out, const gan_float *x, int n, int c, int h, int w, int cols, int pad, int scale)
{
    int W, H, i, ch, yy, xx, k;
    size_t plane = (size_t)h * (size_t)w, row = 0;
    int fits = gan__grid_dims(&W, &H, n, h, w, cols, pad, scale);
    GAN_ASSERT(fits && "gan_grid: the grid does not fit an int (check it with gan_grid_size)");
    GAN_ASSERT(out && x && (c == 1 || c == 3) && "gan_grid: NULL argument, or c not 1 or 3");
    (void)fits;
    row = (size_t)W * (size_t)c;
    memset(out, GAN__GRID_BORDER, row * (size_t)H);
    for (i = 0; i < n; i++) {
        size_t x0 = (size_t)pad + (size_t)(i % cols) * ((size_t)w * (size_t)scale + (size_t)pad);
        size_t y0 = (size_t)pad + (size_t)(i / cols) * ((size_t)h * (size_t)scale + (size_t)pad);
        for (ch = 0; ch < c; ch++) {
            const gan_float *src = x + ((size_t)i * (size_t)c + (size_t)ch) * plane;
            for (yy = 0; yy < h; yy++) {
                /* draw one source row at its first output row, then copy that row scale - 1 times */
                uint8_t *dst = out + (y0 + (size_t)yy * (size_t)scale) * row + x0 * (size_t)c + (size_t)ch;
                for (xx = 0; xx < w; xx++) {
                    uint8_t v;
                    gan_to_bytes(&v, src + (size_t)yy * (size_t)w + (size_t)xx, 1);
                    for (k = 0; k < scale; k++) dst[((size_t)xx * (size_t)scale + (size_t)k) * (size_t)c] = v;
                }
            }
        }
        for (yy = 0; yy < h; yy++) {
            uint8_t *first = out + (y0 + (size_t)yy * (size_t)scale) * row + x0 * (size_t)c;
            for (k = 1; k < scale; k++) memcpy(first + (size_t)k * row, first, (size_t)w * (size_t)scale * (size_t)c);
        }
    }
}

#ifndef GAN_NO_STDIO
GANDEF int gan_grid_save(const char *path, const gan_float *x, int n, int c, int h, int w, int cols, int scale)
{
    const int pad = 2;
    int W, H, ok;
    size_t bytes;
    uint8_t *pixels;
    GAN_ASSERT(path && (c == 1 || c == 3) && "gan_grid_save: NULL path, or c not 1 or 3");
    if (!gan_grid_size(&W, &H, n, h, w, cols, pad, scale)) return 0;
    if (W > INT_MAX / c) return gan__fail("gan_grid_save: %s: a row of the %d x %d grid passes INT_MAX bytes", path, W, H);
    bytes = (size_t)W * (size_t)H * (size_t)c;
    pixels = (uint8_t *)GAN_MALLOC(bytes);
    if (!pixels) return gan__fail("gan_grid_save: %s: out of memory for a %d x %d grid", path, W, H);
    gan_grid(pixels, x, n, c, h, w, cols, pad, scale);
    ok = gan_png_save(path, pixels, W, H, c, W * c);
    GAN_FREE(pixels);
    return ok;
}
#endif

/* ---- 2-D scatter plots ---- */

GANDEF void gan_plot_fill(uint8_t *rgb, int W, int H, const uint8_t color[3])
{
    size_t i, n = (size_t)W * (size_t)H;
    GAN_ASSERT(rgb && color && W > 0 && H > 0 && "gan_plot_fill: NULL argument or empty picture");
    for (i = 0; i < n; i++) memcpy(rgb + 3 * i, color, 3);
}

/* The pixel nearest the data coordinate v on an axis of n pixels from v0 (pixel 0) to v1 (pixel n - 1),
   as a double, so that a point far outside stays representable. */
static double gan__plot_pixel(gan_float v, gan_float v0, gan_float v1, int n)
{
    return floor(((double)v - (double)v0) / ((double)v1 - (double)v0) * (double)(n - 1) + 0.5);
}

GANDEF void gan_plot_points(uint8_t *rgb, int W, int H, const gan_float *xy, int n, gan_float x0, gan_float x1,
                            gan_float y0, gan_float y1, int r, const uint8_t color[3])
{
    int i;
    GAN_ASSERT(rgb && color && (xy || n == 0) && W > 0 && H > 0 && n >= 0 && r >= 0 && "gan_plot_points: bad argument");
    GAN_ASSERT(x0 < x1 && y0 < y1 && "gan_plot_points: the window needs x0 < x1 and y0 < y1");
    for (i = 0; i < n; i++) {
        double px = gan__plot_pixel(xy[2 * i], x0, x1, W), py = (double)(H - 1) - gan__plot_pixel(xy[2 * i + 1], y0, y1, H);
        long long cx, cy, rr = (long long)r * r, x, y;
        /* also false for NaN: a disc wholly outside is skipped before any conversion to an integer */
        if (!(px >= -(double)r && px <= (double)W - 1 + r && py >= -(double)r && py <= (double)H - 1 + r)) continue;
        cx = (long long)px;
        cy = (long long)py;
        for (y = cy - r < 0 ? 0 : cy - r; y <= cy + r && y < H; y++)
            for (x = cx - r < 0 ? 0 : cx - r; x <= cx + r && x < W; x++)
                if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= rr) memcpy(rgb + 3 * ((size_t)y * (size_t)W + (size_t)x), color, 3);
    }
}

GANDEF void gan_plot_axes(uint8_t *rgb, int W, int H, gan_float x0, gan_float x1, gan_float y0, gan_float y1,
                          const uint8_t color[3])
{
    double px = gan__plot_pixel(0, x0, x1, W), py = (double)(H - 1) - gan__plot_pixel(0, y0, y1, H);
    int i;
    GAN_ASSERT(rgb && color && W > 0 && H > 0 && x0 < x1 && y0 < y1 && "gan_plot_axes: bad argument");
    if (px >= 0 && px <= W - 1)
        for (i = 0; i < H; i++) memcpy(rgb + 3 * ((size_t)i * (size_t)W + (size_t)px), color, 3);
    if (py >= 0 && py <= H - 1)
        for (i = 0; i < W; i++) memcpy(rgb + 3 * ((size_t)py * (size_t)W + (size_t)i), color, 3);
}

/* ==== checkpoint ==== */

/* safetensors' dtypes with their sizes; a file may hold any, gan.h writes the first five. */
typedef enum gan__dtype {
    GAN__F32, GAN__F64, GAN__I32, GAN__I64, GAN__U64,
    GAN__F16, GAN__BF16, GAN__I16, GAN__I8, GAN__U32, GAN__U16, GAN__U8, GAN__BOOL, GAN__DTYPES
} gan__dtype;

static const struct {
    const char *name;
    int size;
} gan__dtypes[GAN__DTYPES] = {
    { "F32", 4 }, { "F64", 8 }, { "I32", 4 }, { "I64", 8 }, { "U64", 8 },
    { "F16", 2 }, { "BF16", 2 }, { "I16", 2 }, { "I8", 1 }, { "U32", 4 }, { "U16", 2 }, { "U8", 1 }, { "BOOL", 1 }
};

#ifdef GAN_DOUBLE
#define GAN__DT_FLOAT GAN__F64
#else
#define GAN__DT_FLOAT GAN__F32
#endif

#define GAN__CK_FORMAT "gan.h checkpoint"
#define GAN__CK_VERSION "1"
#define GAN__CK_MAX_DIMS 8
#define GAN__CK_NAME_MAX (3 * GAN_NAME_MAX)
/* A header past 16 MiB is refused before anything is allocated for it (a network's is a few KiB). */
#define GAN__CK_MAX_HEADER ((uint64_t)1 << 24)
/* The shortest JSON a tensor entry and a metadata entry can take, which bound how many a header of
   a given length can hold: "":{"dtype":"U8","shape":[],"data_offsets":[0,0]} and "":"". */
#define GAN__CK_MIN_TENSOR_TEXT 50
#define GAN__CK_MIN_META_TEXT 5
/* Metadata strings are few (a dozen, and the caller's); duplicates are looked for pair by pair. */
#define GAN__CK_MAX_META 4096

/* The optimizer's moment tensors m and v by kind (NULL: not used by it, not stored). */
static const char *const gan__moment_names[3][2] = {
    { "momentum_buffer", NULL },        /* GAN_SGD */
    { "exp_avg", "exp_avg_sq" },        /* GAN_ADAM */
    { "momentum_buffer", "square_avg" } /* GAN_RMSPROP */
};
static const char *const gan__optim_names[3] = { "sgd", "adam", "rmsprop" };
static const char *const gan__penalty_names[5] = { "wgan-gp", "wgan-gp-one-sided", "r1", "r2", "none" };
static const char *const gan__parts[3] = { "G", "D", "G_ema" };

static int gan__little_endian(void)
{
    const uint16_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* count values of `size` bytes from src to dst, byte-reversed on a big-endian machine (the file's
   order is little-endian). */
static void gan__copy_le(void *dst, const void *src, size_t count, int size)
{
    size_t i;
    int b;
    if (gan__little_endian()) {
        memcpy(dst, src, count * (size_t)size);
        return;
    }
    for (i = 0; i < count; i++)
        for (b = 0; b < size; b++) ((uint8_t *)dst)[i * size + b] = ((const uint8_t *)src)[i * size + size - 1 - b];
}

/* ---- writing: a sink that counts, checksums and writes ---- */

typedef struct gan__sink {
    gan_write_fn write;  /* NULL: count (and checksum) only */
    void *user;
    int ok;
    uint64_t length;     /* bytes passed so far */
    int crc_on;
    uint32_t crc;
} gan__sink;

static void gan__sink_put(gan__sink *s, const void *p, size_t n)
{
    s->length += n;
    if (s->crc_on) s->crc = gan__crc32(s->crc, (const uint8_t *)p, n);
    if (s->write && s->ok && n && !s->write(s->user, p, n)) s->ok = 0;
}

static void gan__sink_str(gan__sink *s, const char *text) { gan__sink_put(s, text, strlen(text)); }

static void gan__sink_u64(gan__sink *s, uint64_t v)
{
    char digits[24];
    int n = 0;
    do digits[sizeof digits - 1 - n++] = (char)('0' + v % 10); while ((v /= 10) != 0);
    gan__sink_put(s, digits + sizeof digits - n, (size_t)n);
}

/* A JSON string: quotes, and escapes for '"', '\\' and control characters. */
static void gan__sink_json(gan__sink *s, const char *text)
{
    static const char hex[] = "0123456789abcdef";
    const char *run = text;
    gan__sink_put(s, "\"", 1);
    for (; *text; text++) {
        unsigned char c = (unsigned char)*text;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        gan__sink_put(s, run, (size_t)(text - run));
        if (c == '"' || c == '\\') {
            char e[2];
            e[0] = '\\';
            e[1] = (char)c;
            gan__sink_put(s, e, 2);
        } else {
            char e[6] = { '\\', 'u', '0', '0', 0, 0 };
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            gan__sink_put(s, e, 6);
        }
        run = text + 1;
    }
    gan__sink_put(s, run, (size_t)(text - run));
    gan__sink_put(s, "\"", 1);
}

/* count values of `size` bytes in little-endian order. */
static void gan__sink_le(gan__sink *s, const void *data, size_t count, int size)
{
    uint8_t chunk[1024];
    size_t per = sizeof chunk / (size_t)size, i;
    if (gan__little_endian()) {
        gan__sink_put(s, data, count * (size_t)size);
        return;
    }
    for (i = 0; i < count; i += per) {
        size_t n = count - i < per ? count - i : per;
        gan__copy_le(chunk, (const uint8_t *)data + i * size, n, size);
        gan__sink_put(s, chunk, n * (size_t)size);
    }
}

/* ---- what a checkpoint holds, described once for writing and reading ---- */

/* The trainer's and loader's scalars, staged: written from here, read into here and checked before
   any of it reaches the trainer. */
typedef struct gan__ck_optim {
    int64_t step;
    gan_float lr, momentum, beta1, beta2, alpha, eps, weight_decay;
} gan__ck_opt;

typedef struct gan__ck_stage {
    int64_t steps, d_steps, real_seen, batch, n_critic, pack, classes;
    uint64_t seed, rng[2];
    gan_float penalty_weight, clip, ema_decay;
    gan__ck_opt opt[2];                   /* G, D */
    int64_t data_pos, data_epoch;
    uint64_t data_rng[2];
} gan__ck_stage;

/* A visit of every tensor: the writer's passes emit them, the reader's check and copy them. A
   staged tensor (a scalar of the stage, a random stream) is read even when checking, into memory
   that is not yet the trainer's. */
typedef struct gan__ckv gan__ckv;
struct gan__ckv {
    int (*tensor)(gan__ckv *v, const char *name, gan__dtype dt, int ndim, const int64_t *shape, void *data,
                  int staged);
    int store;                  /* reading, second pass: the values go to the networks */
    /* writing */
    gan__sink *sink;
    uint64_t offset;            /* the next tensor's first byte in the data */
    /* reading */
    const gan_checkpoint *ck;
    unsigned char *used;        /* per entry of ck: visited */
};

/* a + b + c into buf (GAN__CK_NAME_MAX bytes), cut short if it must be (names are checked when the
   graph is built, so only a pathological part name is cut). */
static const char *gan__ck_name(char *buf, const char *a, const char *b, const char *c)
{
    size_t at = 0;
    const char *parts[3];
    int i;
    parts[0] = a;
    parts[1] = b;
    parts[2] = c;
    for (i = 0; i < 3; i++)
        for (; parts[i] && *parts[i] && at < GAN__CK_NAME_MAX - 1; parts[i]++) buf[at++] = *parts[i];
    buf[at] = 0;
    return buf;
}

static int gan__ck_scalar(gan__ckv *v, const char *name, gan__dtype dt, void *data)
{
    return v->tensor(v, name, dt, 0, NULL, data, 1);
}

/* A random stream as U64 [2]: its state and increment (odd, as PCG32 needs it). */
static int gan__ck_rng(gan__ckv *v, const char *name, gan_rng *rng, int store)
{
    uint64_t pair[2];
    int64_t two = 2;
    pair[0] = rng->state;
    pair[1] = rng->inc;
    if (!v->tensor(v, name, GAN__U64, 1, &two, pair, 1)) return 0;
    if (store) {
        rng->state = pair[0];
        rng->inc = pair[1] | 1u;
    }
    return 1;
}

/* The name of the node whose layer is net->layers[i]. */
static const char *gan__layer_node_name(const gan_net *net, int i)
{
    const gan__plan *P = net->plan;
    int k;
    for (k = 0; k < P->n_nodes; k++)
        if (P->nodes[k].layer == &net->layers[i]) return P->nodes[k].name;
    return "?";
}

/* A network's state_dict as "<part>.<name>": parameters, buffers, BatchNorm's num_batches_tracked;
   with streams, each Dropout's stream as "rng.<part>.<node>". */
static int gan__ck_net(gan__ckv *v, gan_net *net, const char *part, int streams)
{
    char name[GAN__CK_NAME_MAX], dot[GAN__CK_NAME_MAX];
    int i, d, n;
    gan__ck_name(dot, part, ".", NULL);
    for (n = gan_net_param_count(net), i = 0; i < n; i++) {
        gan_param p = gan_net_param(net, i);
        int64_t shape[4];
        for (d = 0; d < p.ndim; d++) shape[d] = p.shape[d];
        if (!v->tensor(v, gan__ck_name(name, dot, p.name, NULL), GAN__DT_FLOAT, p.ndim, shape, p.data, 0)) return 0;
    }
    for (n = gan_net_buffer_count(net), i = 0; i < n; i++) {
        gan_param p = gan_net_buffer(net, i);
        int64_t count = (int64_t)p.count;
        if (!v->tensor(v, gan__ck_name(name, dot, p.name, NULL), GAN__DT_FLOAT, 1, &count, p.data, 0)) return 0;
    }
    for (i = 0; i < net->n_layers; i++) {
        gan_layer *L = &net->layers[i];
        const char *node = gan__layer_node_name(net, i);
        if (L->run_mean &&
            !v->tensor(v, gan__ck_name(name, dot, node, ".num_batches_tracked"), GAN__I64, 0, NULL, &L->batches_tracked, 0))
            return 0;
        if (streams && L->kind == GAN_DROPOUT) {
            char rng_part[GAN__CK_NAME_MAX];
            gan__ck_name(rng_part, "rng.", dot, NULL);
            if (!gan__ck_rng(v, gan__ck_name(name, rng_part, node, NULL), &L->rng, v->store)) return 0;
        }
    }
    return 1;
}

/* An optimizer's step count and hyper-parameters (staged), under pre = "opt.<part>.". */
static int gan__ck_optim_scalars(gan__ckv *v, const char *part, gan__ck_opt *o)
{
    char name[GAN__CK_NAME_MAX], pre[GAN__CK_NAME_MAX];
    gan__ck_name(pre, "opt.", part, ".");
    return gan__ck_scalar(v, gan__ck_name(name, pre, "step", NULL), GAN__I64, &o->step) &&
           gan__ck_scalar(v, gan__ck_name(name, pre, "lr", NULL), GAN__DT_FLOAT, &o->lr) &&
           gan__ck_scalar(v, gan__ck_name(name, pre, "momentum", NULL), GAN__DT_FLOAT, &o->momentum) &&
           gan__ck_scalar(v, gan__ck_name(name, pre, "beta1", NULL), GAN__DT_FLOAT, &o->beta1) &&
           gan__ck_scalar(v, gan__ck_name(name, pre, "beta2", NULL), GAN__DT_FLOAT, &o->beta2) &&
           gan__ck_scalar(v, gan__ck_name(name, pre, "alpha", NULL), GAN__DT_FLOAT, &o->alpha) &&
           gan__ck_scalar(v, gan__ck_name(name, pre, "eps", NULL), GAN__DT_FLOAT, &o->eps) &&
           gan__ck_scalar(v, gan__ck_name(name, pre, "weight_decay", NULL), GAN__DT_FLOAT, &o->weight_decay);
}

/* The optimizer of a network: its moments by parameter (those its kind uses), then its scalars. */
static int gan__ck_optim(gan__ckv *v, gan_net *net, const char *part, gan_optim_kind kind, gan__ck_opt *o)
{
    char name[GAN__CK_NAME_MAX], pre[GAN__CK_NAME_MAX], base[GAN__CK_NAME_MAX];
    int i, d, n = gan_net_param_count(net), which;
    gan__ck_name(pre, "opt.", part, ".");
    for (i = 0; i < n; i++) {
        gan_param p = gan_net_param(net, i);
        int64_t shape[4];
        for (d = 0; d < p.ndim; d++) shape[d] = p.shape[d];
        gan__ck_name(base, pre, p.name, ".");
        for (which = 0; which < 2; which++) {
            const char *moment = gan__moment_names[kind][which];
            if (moment && !v->tensor(v, gan__ck_name(name, base, moment, NULL), GAN__DT_FLOAT, p.ndim, shape,
                                     which ? p.v : p.m, 0))
                return 0;
        }
    }
    return gan__ck_optim_scalars(v, part, o);
}

/* The trainer's own scalars and stream. */
static int gan__ck_settings(gan__ckv *v, gan__ck_stage *s)
{
    int64_t two = 2;
    return v->tensor(v, "train.rng", GAN__U64, 1, &two, s->rng, 1) &&
           gan__ck_scalar(v, "train.steps", GAN__I64, &s->steps) &&
           gan__ck_scalar(v, "train.d_steps", GAN__I64, &s->d_steps) &&
           gan__ck_scalar(v, "train.real_seen", GAN__I64, &s->real_seen) &&
           gan__ck_scalar(v, "train.batch", GAN__I64, &s->batch) &&
           gan__ck_scalar(v, "train.n_critic", GAN__I64, &s->n_critic) &&
           gan__ck_scalar(v, "train.pack", GAN__I64, &s->pack) &&
           gan__ck_scalar(v, "train.classes", GAN__I64, &s->classes) &&
           gan__ck_scalar(v, "train.penalty_weight", GAN__DT_FLOAT, &s->penalty_weight) &&
           gan__ck_scalar(v, "train.clip", GAN__DT_FLOAT, &s->clip) &&
           gan__ck_scalar(v, "train.ema_decay", GAN__DT_FLOAT, &s->ema_decay) &&
           gan__ck_scalar(v, "train.seed", GAN__U64, &s->seed);
}

/* The loader: its order (read into place only when storing, after it was checked), position,
   epoch and stream. */
static int gan__ck_data(gan__ckv *v, gan_loader *l, gan__ck_stage *s)
{
    int64_t n = l->data->n, two = 2;
    return v->tensor(v, "data.order", GAN__I32, 1, &n, l->order, 0) &&
           gan__ck_scalar(v, "data.pos", GAN__I64, &s->data_pos) &&
           gan__ck_scalar(v, "data.epoch", GAN__I64, &s->data_epoch) &&
           v->tensor(v, "data.rng", GAN__U64, 1, &two, s->data_rng, 1);
}

/* Every tensor of a trainer checkpoint, in the file's order. */
static int gan__ck_trainer(gan__ckv *v, gan_trainer *t, gan_loader *data, gan__ck_stage *s, const gan_optim_kind *kinds)
{
    gan_net *nets[3];
    int p;
    nets[0] = t->G;
    nets[1] = t->D;
    nets[2] = t->G_ema;
    for (p = 0; p < 3; p++)
        if (nets[p] && !gan__ck_net(v, nets[p], gan__parts[p], p < 2)) return 0;
    for (p = 0; p < 2; p++)
        if (!gan__ck_optim(v, nets[p], gan__parts[p], kinds[p], &s->opt[p])) return 0;
    return gan__ck_settings(v, s) && (!data || gan__ck_data(v, data, s));
}

static void gan__ck_stage_optim(gan__ck_opt *o, const gan_optim *opt)
{
    o->step = opt->step;
    o->lr = opt->lr;
    o->momentum = opt->momentum;
    o->beta1 = opt->beta1;
    o->beta2 = opt->beta2;
    o->alpha = opt->alpha;
    o->eps = opt->eps;
    o->weight_decay = opt->weight_decay;
}

static gan__ck_stage gan__ck_stage_of(const gan_trainer *t, const gan_loader *data)
{
    gan__ck_stage s;
    memset(&s, 0, sizeof s);
    s.steps = t->steps;
    s.d_steps = t->d_steps;
    s.real_seen = t->real_seen;
    s.batch = t->cfg.batch;
    s.n_critic = t->cfg.n_critic;
    s.pack = t->cfg.pack;
    s.classes = t->cfg.classes;
    s.seed = t->cfg.seed;
    s.rng[0] = t->rng.state;
    s.rng[1] = t->rng.inc;
    s.penalty_weight = t->cfg.penalty_weight;
    s.clip = t->cfg.clip;
    s.ema_decay = t->cfg.ema_decay;
    gan__ck_stage_optim(&s.opt[0], &t->G->opt);
    gan__ck_stage_optim(&s.opt[1], &t->D->opt);
    if (data) {
        s.data_pos = data->pos;
        s.data_epoch = data->epoch;
        s.data_rng[0] = data->rng.state;
        s.data_rng[1] = data->rng.inc;
    }
    return s;
}

/* ---- the architecture as text ---- */

/* A string under construction: what does not fit is counted, not written. */
typedef struct gan__text {
    char *p;
    size_t n, cap;
} gan__text;

static void gan__text_str(gan__text *t, const char *s)
{
    for (; *s; s++, t->n++)
        if (t->n + 1 < t->cap) t->p[t->n] = *s;
    if (t->cap) t->p[t->n < t->cap ? t->n : t->cap - 1] = 0;
}

static void gan__text_int(gan__text *t, long long v)
{
    char digits[24];
    int n = 0;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    digits[sizeof digits - 1] = 0;
    do digits[sizeof digits - 2 - n++] = (char)('0' + u % 10); while ((u /= 10) != 0);
    if (v < 0) digits[sizeof digits - 2 - n++] = '-';
    gan__text_str(t, digits + sizeof digits - 1 - n);
}

/* One item per node, "; " between them: "<name> <kind>(<inputs>) CxHxW" and, for a layer, its
   integer hyper-parameters "k s p o bias affine sn". Floats (slopes, probabilities) are left out:
   they do not decide the shapes, and text would make them depend on the locale. */
static void gan__ck_arch(gan__text *t, const gan_net *net)
{
    const gan__plan *P = net->plan;
    int k, i;
    for (k = 0; k < P->n_nodes; k++) {
        const gan__pnode *nd = &P->nodes[k];
        const gan_layer *L = nd->layer;
        if (k) gan__text_str(t, "; ");
        gan__text_str(t, nd->name);
        gan__text_str(t, " ");
        gan__text_str(t, L ? gan__ops[L->kind].name : "input");
        gan__text_str(t, "(");
        for (i = 0; i < nd->n_in; i++) {
            if (i) gan__text_str(t, ",");
            gan__text_str(t, P->nodes[P->edges[nd->first_in + i].src].name);
        }
        gan__text_str(t, ") ");
        gan__text_int(t, nd->shape.c);
        gan__text_str(t, "x");
        gan__text_int(t, nd->shape.h);
        gan__text_str(t, "x");
        gan__text_int(t, nd->shape.w);
        if (L) {
            const int hyper[7] = { L->k, L->stride, L->pad, L->out_pad, L->has_bias, L->affine, L->spectral };
            static const char *const key[7] = { " k", " s", " p", " o", " bias", " affine", " sn" };
            for (i = 0; i < 7; i++) {
                gan__text_str(t, key[i]);
                gan__text_int(t, hyper[i]);
            }
        }
    }
}

/* net's architecture text, GAN_MALLOC'd; NULL (with the message) if out of memory. */
static char *gan__ck_arch_text(const gan_net *net)
{
    gan__text t;
    memset(&t, 0, sizeof t);
    gan__ck_arch(&t, net);
    t.cap = t.n + 1;
    t.p = (char *)GAN_MALLOC(t.cap);
    if (!t.p) {
        gan__fail("checkpoint: out of memory for an architecture's description");
        return NULL;
    }
    t.n = 0;
    gan__ck_arch(&t, net);
    return t.p;
}

/* ---- writing ---- */

/* Header pass: one JSON entry per tensor, its bytes placed after the previous one's. */
static int gan__ck_header_tensor(gan__ckv *v, const char *name, gan__dtype dt, int ndim, const int64_t *shape,
                                 void *data, int staged)
{
    uint64_t count = 1;
    int d;
    (void)data;
    (void)staged;
    gan__sink_put(v->sink, ",", 1);
    gan__sink_json(v->sink, name);
    gan__sink_str(v->sink, ":{\"dtype\":\"");
    gan__sink_str(v->sink, gan__dtypes[dt].name);
    gan__sink_str(v->sink, "\",\"shape\":[");
    for (d = 0; d < ndim; d++) {
        if (d) gan__sink_put(v->sink, ",", 1);
        gan__sink_u64(v->sink, (uint64_t)shape[d]);
        count *= (uint64_t)shape[d];
    }
    gan__sink_str(v->sink, "],\"data_offsets\":[");
    gan__sink_u64(v->sink, v->offset);
    gan__sink_put(v->sink, ",", 1);
    v->offset += count * (uint64_t)gan__dtypes[dt].size;
    gan__sink_u64(v->sink, v->offset);
    gan__sink_str(v->sink, "]}");
    return 1;
}

/* Data pass: the values, little-endian. */
static int gan__ck_data_tensor(gan__ckv *v, const char *name, gan__dtype dt, int ndim, const int64_t *shape,
                               void *data, int staged)
{
    size_t count = 1;
    int d;
    (void)name;
    (void)staged;
    for (d = 0; d < ndim; d++) count *= (size_t)shape[d];
    gan__sink_le(v->sink, data, count, gan__dtypes[dt].size);
    return 1;
}

/* What one file holds: a trainer (with its loader) or one network. */
typedef struct gan__ck_src {
    gan_trainer *t;
    gan_loader *data;
    gan__ck_stage stage;
    gan_optim_kind kinds[2];
    gan_net *net;               /* t NULL: this network, as part */
    const char *part;
    const gan_meta *meta;
    int n_meta;
    char *arch[3];              /* per part (GAN_MALLOC'd) */
    const char *arch_part[3];
} gan__ck_src;

static int gan__ck_visit(gan__ckv *v, gan__ck_src *src)
{
    return src->t ? gan__ck_trainer(v, src->t, src->data, &src->stage, src->kinds)
                  : gan__ck_net(v, src->net, src->part, 0);
}

static void gan__sink_meta(gan__sink *s, const char *key, const char *prefix, const char *value)
{
    char name[GAN__CK_NAME_MAX];
    gan__sink_json(s, gan__ck_name(name, prefix, key, NULL));
    gan__sink_put(s, ":", 1);
    gan__sink_json(s, value);
    gan__sink_put(s, ",", 1);
}

/* The header: __metadata__ (crc32 last, with these digits), then the tensors. */
static void gan__ck_header(gan__sink *s, gan__ck_src *src, const char *crc_digits)
{
    gan__ckv v;
    char key[GAN__CK_NAME_MAX];
    int i;
    gan__sink_str(s, "{\"__metadata__\":{");
    gan__sink_meta(s, "format", NULL, GAN__CK_FORMAT);
    gan__sink_meta(s, "format_version", NULL, GAN__CK_VERSION);
    gan__sink_meta(s, "gan.h", NULL, GAN__VERSION_TEXT);
    gan__sink_meta(s, "kind", NULL, src->t ? "trainer" : "net");
    for (i = 0; i < 3; i++)
        if (src->arch[i]) gan__sink_meta(s, gan__ck_name(key, "arch.", src->arch_part[i], NULL), NULL, src->arch[i]);
    if (src->t) {
        gan__sink_meta(s, "train.loss", NULL, gan_loss_name(src->t->cfg.loss));
        gan__sink_meta(s, "train.penalty", NULL,
                       src->t->cfg.penalty_weight > 0 ? gan__penalty_names[src->t->cfg.penalty] : "none");
        gan__sink_meta(s, "opt.G.kind", NULL, gan__optim_names[src->kinds[0]]);
        gan__sink_meta(s, "opt.D.kind", NULL, gan__optim_names[src->kinds[1]]);
    }
    for (i = 0; i < src->n_meta; i++) gan__sink_meta(s, src->meta[i].key, "user.", src->meta[i].value);
    gan__sink_str(s, "\"crc32\":\"");
    gan__sink_str(s, crc_digits);
    gan__sink_str(s, "\"}");
    memset(&v, 0, sizeof v);
    v.tensor = gan__ck_header_tensor;
    v.sink = s;
    gan__ck_visit(&v, src);
    gan__sink_put(s, "}", 1);
}

/* The whole file into s: the header's length, the header padded with spaces so the data start on
   an 8-byte boundary, the data. */
static void gan__ck_file(gan__sink *s, gan__ck_src *src, uint64_t header_len, uint64_t pad, const char *crc_digits)
{
    uint8_t len[8];
    gan__ckv v;
    int b;
    for (b = 0; b < 8; b++) len[b] = (uint8_t)((header_len + pad) >> (8 * b));
    gan__sink_put(s, len, 8);
    gan__ck_header(s, src, crc_digits);
    for (; pad > 0; pad--) gan__sink_put(s, " ", 1);
    memset(&v, 0, sizeof v);
    v.tensor = gan__ck_data_tensor;
    v.sink = s;
    gan__ck_visit(&v, src);
}

/* Three passes: the header's length, the CRC (over the file with its digits zero), the file. */
static int gan__ck_write(gan_write_fn write, void *user, gan__ck_src *src, const char *who)
{
    static const char hex[] = "0123456789abcdef";
    gan__sink s;
    uint64_t header_len, pad;
    char digits[9];
    int i, ok = 1;
    GAN_ASSERT(write && "a checkpoint needs a write callback");
    for (i = 0; i < src->n_meta; i++) GAN_ASSERT(src->meta[i].key && src->meta[i].value && "a gan_meta with NULL");
    for (i = 0; i < 3 && ok; i++)
        if (src->arch_part[i] && !(src->arch[i] = gan__ck_arch_text(i == 0 && !src->t ? src->net
                                                                   : i == 0 ? src->t->G : i == 1 ? src->t->D : src->t->G_ema)))
            ok = 0;
    if (ok) {
        memset(&s, 0, sizeof s);
        gan__ck_header(&s, src, "00000000");
        header_len = s.length;
        pad = (8 - (8 + header_len) % 8) % 8;
        memset(&s, 0, sizeof s);
        s.crc_on = 1;
        gan__ck_file(&s, src, header_len, pad, "00000000");
        for (i = 0; i < 8; i++) digits[i] = hex[(s.crc >> (28 - 4 * i)) & 15];
        digits[8] = 0;
        memset(&s, 0, sizeof s);
        s.write = write;
        s.user = user;
        s.ok = 1;
        gan__ck_file(&s, src, header_len, pad, digits);
        if (!s.ok) ok = gan__fail("%s: the write callback failed", who);
    }
    for (i = 0; i < 3; i++) GAN_FREE(src->arch[i]);
    return ok;
}

GANDEF int gan_trainer_write(gan_write_fn write, void *user, const gan_trainer *t, const gan_loader *data,
                             const gan_meta *meta, int n_meta)
{
    gan__ck_src src;
    GAN_ASSERT(t && (meta || n_meta == 0) && n_meta >= 0 && "gan_trainer_write: NULL trainer or meta");
    memset(&src, 0, sizeof src);
    src.t = (gan_trainer *)t;
    src.data = (gan_loader *)data;
    src.stage = gan__ck_stage_of(t, data);
    src.kinds[0] = t->G->opt.kind;
    src.kinds[1] = t->D->opt.kind;
    src.meta = meta;
    src.n_meta = n_meta;
    src.arch_part[0] = "G";
    src.arch_part[1] = "D";
    if (t->G_ema) src.arch_part[2] = "G_ema";
    return gan__ck_write(write, user, &src, "gan_trainer_write");
}

GANDEF int gan_net_write(gan_write_fn write, void *user, const gan_net *net, const char *part)
{
    gan__ck_src src;
    GAN_ASSERT(net && part && *part && "gan_net_write: NULL network or empty part name");
    memset(&src, 0, sizeof src);
    src.net = (gan_net *)net;
    src.part = part;
    src.arch_part[0] = part;
    return gan__ck_write(write, user, &src, "gan_net_write");
}

#ifndef GAN_NO_STDIO
typedef struct gan__ck_save_args {
    const gan_trainer *t;
    const gan_loader *data;
    const gan_meta *meta;
    int n_meta;
    const gan_net *net;
    const char *part;
} gan__ck_save_args;

static int gan__encode_trainer(void *ctx, gan_write_fn write, void *user)
{
    const gan__ck_save_args *a = (const gan__ck_save_args *)ctx;
    return gan_trainer_write(write, user, a->t, a->data, a->meta, a->n_meta);
}

static int gan__encode_net(void *ctx, gan_write_fn write, void *user)
{
    const gan__ck_save_args *a = (const gan__ck_save_args *)ctx;
    return gan_net_write(write, user, a->net, a->part);
}

GANDEF int gan_trainer_save(const char *path, const gan_trainer *t, const gan_loader *data, const gan_meta *meta,
                            int n_meta)
{
    gan__ck_save_args a;
    memset(&a, 0, sizeof a);
    a.t = t;
    a.data = data;
    a.meta = meta;
    a.n_meta = n_meta;
    return gan__save("gan_trainer_save", path, gan__encode_trainer, &a);
}

GANDEF int gan_net_save(const char *path, const gan_net *net, const char *part)
{
    gan__ck_save_args a;
    memset(&a, 0, sizeof a);
    a.net = net;
    a.part = part;
    return gan__save("gan_net_save", path, gan__encode_net, &a);
}
#endif

/* ---- reading: the header's JSON ---- */

typedef struct gan__ck_entry {
    const char *name;
    gan__dtype dtype;
    int ndim;
    uint64_t shape[GAN__CK_MAX_DIMS];
    uint64_t begin, end;        /* within the data */
} gan__ck_entry;

struct gan_checkpoint {
    char *name;                 /* for messages (owned) */
    uint8_t *owned;             /* the file's bytes, when gan_checkpoint_open read them */
    const uint8_t *data;        /* the tensors' bytes */
    uint64_t data_len;
    gan__ck_entry *entries;     /* sorted by name */
    int n_entries;
    const char **meta;          /* n_meta key, value pairs */
    int n_meta;
    void *block;                /* entries, meta and their strings: one allocation */
};

/* A cursor over the header; the first problem found is kept with where it was. */
typedef struct gan__json {
    const uint8_t *at, *start, *end;
    char *out;                  /* where decoded strings go */
    const char *why;
    size_t where;
    gan_checkpoint *ck;
    int cap_entries, cap_meta;
    size_t crc_at;              /* the crc32 digits' offset in the header (0: none yet) */
} gan__json;

static int gan__js_fail(gan__json *j, const char *why)
{
    if (!j->why) {
        j->why = why;
        j->where = (size_t)(j->at - j->start);
    }
    return 0;
}

static void gan__js_ws(gan__json *j)
{
    while (j->at < j->end && (*j->at == ' ' || *j->at == '\t' || *j->at == '\n' || *j->at == '\r')) j->at++;
}

static int gan__js_char(gan__json *j, char c)
{
    gan__js_ws(j);
    if (j->at >= j->end || *j->at != (uint8_t)c) return 0;
    j->at++;
    return 1;
}

/* A hexadecimal digit's value, or 16 for anything else (upper case only when `upper`). */
static unsigned gan__hex_digit(uint8_t c, int upper)
{
    if (c >= '0' && c <= '9') return (unsigned)(c - '0');
    if (c >= 'a' && c <= 'f') return (unsigned)(c - 'a') + 10u;
    if (upper && c >= 'A' && c <= 'F') return (unsigned)(c - 'A') + 10u;
    return 16u;
}

static int gan__js_hex4(gan__json *j, unsigned *v)
{
    int i;
    *v = 0;
    if (j->end - j->at < 4) return gan__js_fail(j, "a \\u escape is cut short");
    for (i = 0; i < 4; i++) {
        uint8_t c = *j->at++;
        unsigned d = gan__hex_digit(c, 1);
        if (d == 16) return gan__js_fail(j, "a \\u escape with a character that is not hexadecimal");
        *v = *v * 16 + d;
    }
    return 1;
}

/* A JSON string, decoded (UTF-8) into j->out and NUL-terminated; *s points at it. Decoding never
   lengthens the text, so out has room for as many bytes as the header. */
static int gan__js_string(gan__json *j, const char **s)
{
    char *o = j->out;
    if (!gan__js_char(j, '"')) return gan__js_fail(j, "expected a string");
    for (;;) {
        uint8_t c;
        if (j->at >= j->end) return gan__js_fail(j, "a string is not closed");
        c = *j->at++;
        if (c == '"') break;
        if (c < 0x20) return gan__js_fail(j, "a control character inside a string");
        if (c != '\\') {
            *o++ = (char)c;
            continue;
        }
        if (j->at >= j->end) return gan__js_fail(j, "a string is not closed");
        c = *j->at++;
        switch (c) {
        case '"': case '\\': case '/': *o++ = (char)c; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned u, lo;
            if (!gan__js_hex4(j, &u)) return 0;
            if (u >= 0xDC00 && u < 0xE000) return gan__js_fail(j, "a lone low surrogate in a \\u escape");
            if (u >= 0xD800 && u < 0xDC00) {
                if (j->end - j->at < 2 || j->at[0] != '\\' || j->at[1] != 'u')
                    return gan__js_fail(j, "a high surrogate without its low half");
                j->at += 2;
                if (!gan__js_hex4(j, &lo)) return 0;
                if (lo < 0xDC00 || lo >= 0xE000) return gan__js_fail(j, "a high surrogate without its low half");
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (u == 0) return gan__js_fail(j, "a NUL character (\\u0000) inside a string");
            if (u < 0x80) {
                *o++ = (char)u;
            } else if (u < 0x800) {
                *o++ = (char)(0xC0 | (u >> 6));
                *o++ = (char)(0x80 | (u & 63));
            } else if (u < 0x10000) {
                *o++ = (char)(0xE0 | (u >> 12));
                *o++ = (char)(0x80 | ((u >> 6) & 63));
                *o++ = (char)(0x80 | (u & 63));
            } else {
                *o++ = (char)(0xF0 | (u >> 18));
                *o++ = (char)(0x80 | ((u >> 12) & 63));
                *o++ = (char)(0x80 | ((u >> 6) & 63));
                *o++ = (char)(0x80 | (u & 63));
            }
            break;
        }
        default: return gan__js_fail(j, "an unknown escape in a string");
        }
    }
    *o++ = 0;
    *s = j->out;
    j->out = o;
    return 1;
}

/* A non-negative integer (what shapes and offsets are), below 2^63. */
static int gan__js_uint(gan__json *j, uint64_t *v)
{
    const uint64_t limit = (uint64_t)1 << 63;
    gan__js_ws(j);
    if (j->at >= j->end || *j->at < '0' || *j->at > '9') return gan__js_fail(j, "expected a non-negative integer");
    if (*j->at == '0' && j->end - j->at > 1 && j->at[1] >= '0' && j->at[1] <= '9')
        return gan__js_fail(j, "an integer with a leading zero");
    *v = 0;
    while (j->at < j->end && *j->at >= '0' && *j->at <= '9') {
        unsigned d = (unsigned)(*j->at++ - '0');
        if (*v > (limit - d) / 10) return gan__js_fail(j, "an integer too large");
        *v = *v * 10 + d;
    }
    if (j->at < j->end && (*j->at == '.' || *j->at == 'e' || *j->at == 'E' || *j->at == '-'))
        return gan__js_fail(j, "expected an integer, found a fraction or exponent");
    return 1;
}

/* [n, n, ...] of at most `max` integers; *count of them. */
static int gan__js_uints(gan__json *j, uint64_t *v, int max, int *count)
{
    *count = 0;
    if (!gan__js_char(j, '[')) return gan__js_fail(j, "expected '['");
    if (gan__js_char(j, ']')) return 1;
    do {
        if (*count == max) return gan__js_fail(j, "too many integers in a list");
        if (!gan__js_uint(j, &v[(*count)++])) return 0;
    } while (gan__js_char(j, ','));
    return gan__js_char(j, ']') ? 1 : gan__js_fail(j, "expected ',' or ']'");
}

/* {"dtype": "...", "shape": [...], "data_offsets": [b, e]}, each once, in any order. */
static int gan__js_tensor(gan__json *j, gan__ck_entry *e)
{
    int seen = 0, field, n, d;
    uint64_t offsets[2];
    if (!gan__js_char(j, '{')) return gan__js_fail(j, "expected '{' opening a tensor's entry");
    do {
        const char *key, *value;
        char *mark = j->out;
        if (!gan__js_string(j, &key)) return 0;
        if (!gan__js_char(j, ':')) return gan__js_fail(j, "expected ':'");
        field = !strcmp(key, "dtype") ? 1 : !strcmp(key, "shape") ? 2 : !strcmp(key, "data_offsets") ? 4 : 0;
        if (!field) return gan__js_fail(j, "a tensor entry has a key other than dtype, shape and data_offsets");
        if (seen & field) return gan__js_fail(j, "a tensor entry repeats a key");
        seen |= field;
        if (field == 1) {
            if (!gan__js_string(j, &value)) return 0;
            for (d = 0; d < GAN__DTYPES && strcmp(value, gan__dtypes[d].name); d++) continue;
            if (d == GAN__DTYPES) return gan__js_fail(j, "an unknown dtype");
            e->dtype = (gan__dtype)d;
        } else if (field == 2) {
            if (!gan__js_uints(j, e->shape, GAN__CK_MAX_DIMS, &e->ndim)) return 0;
        } else {
            if (!gan__js_uints(j, offsets, 2, &n)) return 0;
            if (n != 2) return gan__js_fail(j, "data_offsets must hold two integers");
            e->begin = offsets[0];
            e->end = offsets[1];
        }
        j->out = mark; /* the keys and the dtype are not kept */
    } while (gan__js_char(j, ','));
    if (!gan__js_char(j, '}')) return gan__js_fail(j, "expected ',' or '}' in a tensor's entry");
    return seen == 7 ? 1 : gan__js_fail(j, "a tensor entry lacks dtype, shape or data_offsets");
}

/* {"key": "value", ...}: strings only, as safetensors' __metadata__ is. */
static int gan__js_meta(gan__json *j)
{
    gan_checkpoint *ck = j->ck;
    if (!gan__js_char(j, '{')) return gan__js_fail(j, "__metadata__ must be an object");
    if (gan__js_char(j, '}')) return 1;
    do {
        const char **pair;
        const uint8_t *value_at;
        if (ck->n_meta == j->cap_meta) return gan__js_fail(j, "more metadata strings than the 4096 a checkpoint may have");
        pair = ck->meta + 2 * ck->n_meta;
        if (!gan__js_string(j, &pair[0])) return 0;
        if (!gan__js_char(j, ':')) return gan__js_fail(j, "expected ':'");
        gan__js_ws(j);
        value_at = j->at;
        if (!gan__js_string(j, &pair[1])) return gan__js_fail(j, "a metadata value that is not a string");
        if (!strcmp(pair[0], "crc32")) {
            if (j->at - value_at != 10) return gan__js_fail(j, "crc32 must be 8 hexadecimal digits");
            j->crc_at = (size_t)(value_at + 1 - j->start);
        }
        ck->n_meta++;
    } while (gan__js_char(j, ','));
    return gan__js_char(j, '}') ? 1 : gan__js_fail(j, "expected ',' or '}' in __metadata__");
}

/* The header: one object of tensor entries and (at most once) __metadata__, then only spaces. */
static int gan__js_header(gan__json *j)
{
    gan_checkpoint *ck = j->ck;
    int had_meta = 0;
    if (!gan__js_char(j, '{')) return gan__js_fail(j, "the header must be a JSON object");
    if (!gan__js_char(j, '}')) {
        do {
            const char *key;
            if (!gan__js_string(j, &key)) return 0;
            if (!gan__js_char(j, ':')) return gan__js_fail(j, "expected ':'");
            if (!strcmp(key, "__metadata__")) {
                if (had_meta++) return gan__js_fail(j, "__metadata__ twice");
                if (!gan__js_meta(j)) return 0;
            } else {
                gan__ck_entry *e;
                if (ck->n_entries == j->cap_entries) return gan__js_fail(j, "more tensors than the header can hold");
                e = &ck->entries[ck->n_entries++];
                memset(e, 0, sizeof *e);
                e->name = key;
                if (!gan__js_tensor(j, e)) return 0;
            }
        } while (gan__js_char(j, ','));
        if (!gan__js_char(j, '}')) return gan__js_fail(j, "expected ',' or '}'");
    }
    gan__js_ws(j);
    return j->at == j->end ? 1 : gan__js_fail(j, "bytes after the header's closing brace");
}

/* ---- reading: the file ---- */

static int gan__ck_by_name(const void *a, const void *b)
{
    return strcmp(((const gan__ck_entry *)a)->name, ((const gan__ck_entry *)b)->name);
}

static int gan__ck_by_offset(const void *a, const void *b)
{
    uint64_t x = ((const gan__ck_entry *)a)->begin, y = ((const gan__ck_entry *)b)->begin;
    return x < y ? -1 : x > y;
}

/* "F32 [64, 128, 4, 4]" into buf (96 bytes; a longer one is cut). */
static const char *gan__ck_shape_text(char *buf, gan__dtype dt, int ndim, const uint64_t *shape)
{
    gan__text t;
    int d;
    t.p = buf;
    t.n = 0;
    t.cap = 96;
    buf[0] = 0;
    gan__text_str(&t, gan__dtypes[dt].name);
    gan__text_str(&t, " [");
    for (d = 0; d < ndim; d++) {
        if (d) gan__text_str(&t, ", ");
        gan__text_int(&t, (long long)shape[d]);
    }
    gan__text_str(&t, "]");
    return buf;
}

/* The checks of a parsed header: sizes that match the shapes, tensors that tile the data exactly,
   names once each, the format, and the CRC. */
static int gan__ck_check(gan_checkpoint *ck, const uint8_t *bytes, uint64_t header_len, size_t crc_at)
{
    int i;
    uint64_t at = 0;
    uint32_t crc;
    const char *format, *version;
    for (i = 0; i < ck->n_entries; i++) {
        gan__ck_entry *e = &ck->entries[i];
        uint64_t bytes_of = (uint64_t)gan__dtypes[e->dtype].size;
        int d;
        for (d = 0; d < e->ndim; d++) {
            if (e->shape[d] && bytes_of > ((uint64_t)1 << 62) / e->shape[d])
                return gan__fail("%s: tensor %s: its shape's size overflows", ck->name, e->name);
            bytes_of *= e->shape[d];
        }
        if (e->begin > e->end || e->end - e->begin != bytes_of)
            return gan__fail("%s: tensor %s: its data_offsets span %z bytes, and its dtype and shape need %z", ck->name,
                             e->name, (size_t)(e->end >= e->begin ? e->end - e->begin : 0), (size_t)bytes_of);
        if (e->end > ck->data_len)
            return gan__fail("%s: tensor %s ends at byte %z of the data, past its end (%z): the file is cut short",
                             ck->name, e->name, (size_t)e->end, (size_t)ck->data_len);
    }
    /* in order of their bytes, each must start where the one before ended */
    qsort(ck->entries, (size_t)ck->n_entries, sizeof *ck->entries, gan__ck_by_offset);
    for (i = 0; i < ck->n_entries && ck->entries[i].begin == at; i++) at = ck->entries[i].end;
    if (i < ck->n_entries)
        return gan__fail("%s: tensor %s starts at byte %z of the data, where byte %z was expected (tensors overlap or "
                         "leave a gap)", ck->name, ck->entries[i].name, (size_t)ck->entries[i].begin, (size_t)at);
    if (at != ck->data_len)
        return gan__fail("%s: %z bytes after the last tensor", ck->name, (size_t)(ck->data_len - at));
    qsort(ck->entries, (size_t)ck->n_entries, sizeof *ck->entries, gan__ck_by_name);
    for (i = 1; i < ck->n_entries; i++)
        if (!strcmp(ck->entries[i - 1].name, ck->entries[i].name))
            return gan__fail("%s: tensor %s appears twice", ck->name, ck->entries[i].name);
    for (i = 0; i < ck->n_meta; i++) {
        int k;
        for (k = 0; k < i; k++)
            if (!strcmp(ck->meta[2 * k], ck->meta[2 * i]))
                return gan__fail("%s: metadata %s appears twice", ck->name, ck->meta[2 * i]);
    }
    format = gan_checkpoint_meta(ck, "format");
    version = gan_checkpoint_meta(ck, "format_version");
    if (!format || strcmp(format, GAN__CK_FORMAT))
        return gan__fail("%s: not a gan.h checkpoint (its metadata has no format \"" GAN__CK_FORMAT "\")", ck->name);
    if (!version || strcmp(version, GAN__CK_VERSION))
        return gan__fail("%s: format version %s, and this gan.h reads version " GAN__CK_VERSION, ck->name,
                         version ? version : "(none)");
    if (!crc_at) return gan__fail("%s: its metadata has no crc32", ck->name);
    /* every byte, with the 8 digits of the stored CRC read as '0' */
    crc = gan__crc32(0, bytes, 8 + crc_at);
    crc = gan__crc32(crc, (const uint8_t *)"00000000", 8);
    crc = gan__crc32(crc, bytes + 8 + crc_at + 8, (size_t)(header_len - crc_at - 8));
    crc = gan__crc32(crc, ck->data, (size_t)ck->data_len);
    {
        uint32_t stored = 0;
        for (i = 0; i < 8; i++) {
            uint8_t c = bytes[8 + crc_at + i];
            unsigned d = gan__hex_digit(c, 0);
            if (d == 16) return gan__fail("%s: crc32 must be 8 lowercase hexadecimal digits", ck->name);
            stored = stored << 4 | d;
        }
        if (stored != crc) return gan__fail("%s: CRC-32 mismatch: the file is damaged", ck->name);
    }
    return 1;
}

GANDEF gan_checkpoint *gan_checkpoint_parse(const uint8_t *bytes, size_t n, const char *name)
{
    gan_checkpoint *ck;
    gan__json j;
    uint64_t header_len = 0;
    size_t name_len, cap_strings, need;
    int b;
    GAN_ASSERT((bytes || n == 0) && "gan_checkpoint_parse: NULL bytes");
    if (!name) name = "checkpoint";
    if (n < 8) {
        gan__fail("%s: %z bytes, too short for a safetensors header", name, n);
        return NULL;
    }
    for (b = 7; b >= 0; b--) header_len = header_len << 8 | bytes[b];
    if (header_len > n - 8) {
        gan__fail("%s: the header's length (%z bytes) runs past the end of the file (%z bytes): cut short?", name,
                  (size_t)(header_len < SIZE_MAX ? header_len : SIZE_MAX), n);
        return NULL;
    }
    if (header_len > GAN__CK_MAX_HEADER || header_len < 2) {
        gan__fail("%s: a header of %z bytes is not plausible (2 to 16 MiB)", name, (size_t)header_len);
        return NULL;
    }
    /* one block: the struct, the entries, the metadata pairs, the strings and the name */
    name_len = strlen(name) + 1;
    memset(&j, 0, sizeof j);
    j.cap_entries = (int)(header_len / GAN__CK_MIN_TENSOR_TEXT + 1);
    j.cap_meta = (int)(header_len / GAN__CK_MIN_META_TEXT + 1);
    if (j.cap_meta > GAN__CK_MAX_META) j.cap_meta = GAN__CK_MAX_META;
    cap_strings = (size_t)header_len + 1;
    need = sizeof *ck + (size_t)j.cap_entries * sizeof(gan__ck_entry) + (size_t)j.cap_meta * 2 * sizeof(char *) +
           cap_strings + name_len;
    ck = (gan_checkpoint *)GAN_MALLOC(need);
    if (!ck) {
        gan__fail("%s: out of memory for a header of %z bytes", name, (size_t)header_len);
        return NULL;
    }
    memset(ck, 0, sizeof *ck);
    ck->block = ck;
    ck->entries = (gan__ck_entry *)(ck + 1);
    ck->meta = (const char **)(ck->entries + j.cap_entries);
    j.out = (char *)(ck->meta + 2 * j.cap_meta);
    ck->name = j.out + cap_strings;
    memcpy(ck->name, name, name_len);
    ck->data = bytes + 8 + header_len;
    ck->data_len = n - 8 - header_len;
    j.ck = ck;
    j.start = j.at = bytes + 8;
    j.end = j.start + header_len;
    if (!gan__js_header(&j)) {
        gan__fail("%s: header byte %z: %s", name, j.where, j.why);
        gan_checkpoint_close(ck);
        return NULL;
    }
    if (!gan__ck_check(ck, bytes, header_len, j.crc_at)) {
        gan_checkpoint_close(ck);
        return NULL;
    }
    return ck;
}

GANDEF void gan_checkpoint_close(gan_checkpoint *ck)
{
    if (!ck) return;
    GAN_FREE(ck->owned);
    GAN_FREE(ck->block);
}

GANDEF const char *gan_checkpoint_meta(const gan_checkpoint *ck, const char *key)
{
    int i;
    GAN_ASSERT(ck && key && "gan_checkpoint_meta: NULL argument");
    for (i = 0; i < ck->n_meta; i++)
        if (!strcmp(ck->meta[2 * i], key)) return ck->meta[2 * i + 1];
    return NULL;
}

#ifndef GAN_NO_STDIO
GANDEF gan_checkpoint *gan_checkpoint_open(const char *path)
{
    uint8_t *bytes;
    size_t n;
    gan_checkpoint *ck;
    GAN_ASSERT(path && "gan_checkpoint_open: NULL path");
    if (!gan__read_file(&bytes, &n, path)) return NULL;
    ck = gan_checkpoint_parse(bytes, n, path);
    if (!ck) {
        GAN_FREE(bytes);
        return NULL;
    }
    ck->owned = bytes;
    return ck;
}
#endif

/* ---- reading: into a trainer or a network ---- */

static int gan__ck_find(const gan_checkpoint *ck, const char *name)
{
    int lo = 0, hi = ck->n_entries - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(ck->entries[mid].name, name);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* The reader's visit: the tensor must be in the file with this dtype and shape; its values are
   copied when storing, or when staged. */
static int gan__ck_read_tensor(gan__ckv *v, const char *name, gan__dtype dt, int ndim, const int64_t *shape,
                               void *data, int staged)
{
    const gan_checkpoint *ck = v->ck;
    const gan__ck_entry *e;
    uint64_t want[GAN__CK_MAX_DIMS];
    char a[96], b[96];
    size_t count = 1;
    int i = gan__ck_find(ck, name), d, same;
    for (d = 0; d < ndim; d++) {
        want[d] = (uint64_t)shape[d];
        count *= (size_t)shape[d];
    }
    if (i < 0) return gan__fail("%s: it has no tensor %s (%s)", ck->name, name, gan__ck_shape_text(a, dt, ndim, want));
    e = &ck->entries[i];
    same = e->dtype == dt && e->ndim == ndim;
    for (d = 0; d < ndim && same; d++) same = e->shape[d] == want[d];
    if (!same)
        return gan__fail("%s: %s is %s in the file and %s here", ck->name, name,
                         gan__ck_shape_text(a, e->dtype, e->ndim, e->shape), gan__ck_shape_text(b, dt, ndim, want));
    if (v->used) v->used[i] = 1;
    if (staged || v->store) gan__copy_le(data, ck->data + e->begin, count, gan__dtypes[dt].size);
    return 1;
}

/* The file's "arch.<part>" against net's: the first node that differs is named with both texts. */
static int gan__ck_same_arch(const gan_checkpoint *ck, const gan_net *net, const char *part)
{
    char key[GAN__CK_NAME_MAX], a[72], b[72];
    const char *file = gan_checkpoint_meta(ck, gan__ck_name(key, "arch.", part, NULL)), *x, *y;
    char *mine;
    int node = 0, same;
    size_t i;
    if (!file) return gan__fail("%s: it holds no network %s (no %s in its metadata)", ck->name, part, key);
    if (!(mine = gan__ck_arch_text(net))) return 0;
    same = !strcmp(file, mine);
    if (!same) {
        /* the start of the first item ("; "-separated) where they part */
        for (x = file, y = mine, i = 0; file[i] && file[i] == mine[i]; i++)
            if (file[i] == ';') {
                node++;
                x = file + i + 2;
                y = mine + i + 2;
            }
        for (i = 0; i + 1 < sizeof a && x[i] && x[i] != ';'; i++) a[i] = x[i];
        a[i] = 0;
        for (i = 0; i + 1 < sizeof b && y[i] && y[i] != ';'; i++) b[i] = y[i];
        b[i] = 0;
        gan__fail("%s: %s's node %d is \"%s\" in the file and \"%s\" here", ck->name, part, node, a, b);
    }
    GAN_FREE(mine);
    return same;
}

/* A kind stored by name in the metadata: its index in names, or -1 with the message. */
static int gan__ck_kind(const gan_checkpoint *ck, const char *key, const char *const *names, int n)
{
    const char *value = gan_checkpoint_meta(ck, key);
    int i;
    for (i = 0; value && i < n; i++)
        if (!strcmp(value, names[i])) return i;
    gan__fail("%s: %s is %s%s%s, not one this gan.h knows", ck->name, key, value ? "\"" : "(missing)",
              value ? value : "", value ? "\"" : "");
    return -1;
}

static gan_optim gan__ck_optim_of(const gan__ck_opt *o, gan_optim_kind kind)
{
    gan_optim opt;
    memset(&opt, 0, sizeof opt);
    opt.kind = kind;
    opt.lr = o->lr;
    opt.momentum = o->momentum;
    opt.beta1 = o->beta1;
    opt.beta2 = o->beta2;
    opt.alpha = o->alpha;
    opt.eps = o->eps;
    opt.weight_decay = o->weight_decay;
    opt.step = o->step;
    return opt;
}

/* The trainer's settings of a file: its stage read (staged tensors only) and its kinds, checked
   for range. */
static int gan__ck_settings_of(const gan_checkpoint *ck, gan__ck_stage *s, gan_train_config *cfg,
                               gan_optim_kind *kinds)
{
    static const char *const opt_keys[2] = { "opt.G.kind", "opt.D.kind" };
    const char *kind = gan_checkpoint_meta(ck, "kind");
    const char *loss_names[5];
    gan__ckv v;
    int p, loss, penalty;
    for (p = 0; p < 5; p++) loss_names[p] = gan_loss_name((gan_loss)p);
    if (!kind || strcmp(kind, "trainer"))
        return gan__fail("%s: it holds %s, not a trainer", ck->name, kind ? kind : "(no kind)");
    if ((loss = gan__ck_kind(ck, "train.loss", loss_names, 5)) < 0 ||
        (penalty = gan__ck_kind(ck, "train.penalty", gan__penalty_names, 5)) < 0)
        return 0;
    if (penalty == 4) penalty = 0; /* "none": the weight is 0, the kind unused */
    for (p = 0; p < 2; p++) {
        int k = gan__ck_kind(ck, opt_keys[p], gan__optim_names, 3);
        if (k < 0) return 0;
        kinds[p] = (gan_optim_kind)k;
    }
    memset(&v, 0, sizeof v);
    v.tensor = gan__ck_read_tensor;
    v.ck = ck;
    if (!gan__ck_settings(&v, s) || !gan__ck_optim_scalars(&v, "G", &s->opt[0]) ||
        !gan__ck_optim_scalars(&v, "D", &s->opt[1]))
        return 0;
    if (s->batch < 1 || s->batch > INT_MAX || s->n_critic < 1 || s->n_critic > INT_MAX || s->pack < 1 ||
        s->pack > INT_MAX || s->classes < 0 || s->classes > INT_MAX || s->steps < 0 || s->d_steps < 0 ||
        s->real_seen < 0 || s->opt[0].step < 0 || s->opt[1].step < 0)
        return gan__fail("%s: a count or setting out of range (batch, n_critic, pack, classes, steps)", ck->name);
    memset(cfg, 0, sizeof *cfg);
    cfg->loss = (gan_loss)loss;
    cfg->penalty = (gan_penalty_kind)penalty;
    cfg->penalty_weight = s->penalty_weight;
    cfg->clip = s->clip;
    cfg->n_critic = (int)s->n_critic;
    cfg->batch = (int)s->batch;
    cfg->pack = (int)s->pack;
    cfg->classes = (int)s->classes;
    cfg->opt_g = gan__ck_optim_of(&s->opt[0], kinds[0]);
    cfg->opt_d = gan__ck_optim_of(&s->opt[1], kinds[1]);
    cfg->opt_g.step = cfg->opt_d.step = 0;
    cfg->ema_decay = s->ema_decay;
    cfg->seed = s->seed;
    return 1;
}

GANDEF int gan_checkpoint_config(const gan_checkpoint *ck, gan_train_config *cfg)
{
    gan__ck_stage s;
    gan_optim_kind kinds[2];
    gan_train_config c;
    GAN_ASSERT(ck && cfg && "gan_checkpoint_config: NULL argument");
    memset(&s, 0, sizeof s);
    if (!gan__ck_settings_of(ck, &s, &c, kinds)) return 0;
    *cfg = c;
    return 1;
}

/* The loader's order in the file must be a permutation of 0 .. n - 1. */
static int gan__ck_check_order(const gan_checkpoint *ck, int n)
{
    const gan__ck_entry *e = &ck->entries[gan__ck_find(ck, "data.order")];
    uint8_t *seen = (uint8_t *)GAN_MALLOC((size_t)n / 8 + 1);
    int i, ok = 1;
    if (!seen) return gan__fail("%s: out of memory", ck->name);
    memset(seen, 0, (size_t)n / 8 + 1);
    for (i = 0; i < n && ok; i++) {
        int32_t k;
        gan__copy_le(&k, ck->data + e->begin + 4 * (size_t)i, 1, 4);
        if (k < 0 || k >= n || (seen[k / 8] >> (k % 8) & 1))
            ok = gan__fail("%s: data.order is not a permutation of the %d samples (entry %d)", ck->name, n, i);
        else
            seen[k / 8] |= (uint8_t)(1u << (k % 8));
    }
    GAN_FREE(seen);
    return ok;
}

/* An entry the visit did not ask for, among those whose names start with one of the n prefixes
   (n = 0: among all), is refused by name. */
static int gan__ck_unused(const gan_checkpoint *ck, const unsigned char *used, const char *const *prefixes, int n,
                          const char *what)
{
    int i, p;
    for (i = 0; i < ck->n_entries; i++) {
        int concerned = n == 0;
        if (used[i]) continue;
        for (p = 0; p < n; p++) concerned |= !strncmp(ck->entries[i].name, prefixes[p], strlen(prefixes[p]));
        if (concerned) return gan__fail("%s: its tensor %s is not part of %s", ck->name, ck->entries[i].name, what);
    }
    return 1;
}

GANDEF int gan_checkpoint_load(const gan_checkpoint *ck, gan_trainer *t, gan_loader *data)
{
    gan__ck_stage s;
    gan_train_config cfg;
    gan_optim_kind kinds[2];
    gan__ckv v;
    unsigned char *used;
    int ok, p, i;
    GAN_ASSERT(ck && t && "gan_checkpoint_load: NULL argument");
    s = gan__ck_stage_of(t, data);
    if (!gan__ck_settings_of(ck, &s, &cfg, kinds) || !gan__ck_same_arch(ck, t->G, "G") ||
        !gan__ck_same_arch(ck, t->D, "D"))
        return 0;
    if (t->G_ema ? !gan__ck_same_arch(ck, t->G_ema, "G_ema") : gan_checkpoint_meta(ck, "arch.G_ema") != NULL)
        return t->G_ema ? 0 : gan__fail("%s: it holds a G_ema, and this trainer has none", ck->name);
    used = (unsigned char *)GAN_MALLOC((size_t)ck->n_entries + 1);
    if (!used) return gan__fail("%s: out of memory", ck->name);
    memset(used, 0, (size_t)ck->n_entries + 1);
    memset(&v, 0, sizeof v);
    v.tensor = gan__ck_read_tensor;
    v.ck = ck;
    v.used = used;
    /* first everything is checked, then it is stored */
    ok = gan__ck_trainer(&v, t, data, &s, kinds);
    for (i = 0; ok && !data && i < ck->n_entries; i++) used[i] |= !strncmp(ck->entries[i].name, "data.", 5);
    ok = ok && gan__ck_unused(ck, used, NULL, 0, "this trainer");
    if (ok && data && (s.data_pos < 0 || s.data_pos > data->data->n || s.data_epoch < 0))
        ok = gan__fail("%s: data.pos or data.epoch out of range", ck->name);
    ok = ok && (!data || gan__ck_check_order(ck, data->data->n));
    ok = ok && gan__trainer_check(t->G, t->D, t->G_ema, &cfg);
    if (ok) {
        gan_net *nets[2];
        nets[0] = t->G;
        nets[1] = t->D;
        for (p = 0; p < 2; p++) { /* the moments an optimizer kind does not store are zero */
            memset(nets[p]->opt_m, 0, nets[p]->n_params * sizeof(gan_float));
            memset(nets[p]->opt_v, 0, nets[p]->n_params * sizeof(gan_float));
        }
        v.store = 1;
        gan__ck_trainer(&v, t, data, &s, kinds);
        t->cfg = cfg;
        t->G->opt = gan__ck_optim_of(&s.opt[0], kinds[0]);
        t->D->opt = gan__ck_optim_of(&s.opt[1], kinds[1]);
        t->rng.state = s.rng[0];
        t->rng.inc = s.rng[1] | 1u;
        t->steps = s.steps;
        t->d_steps = s.d_steps;
        t->real_seen = s.real_seen;
        if (data) {
            data->pos = (int)s.data_pos;
            data->epoch = s.data_epoch;
            data->rng.state = s.data_rng[0];
            data->rng.inc = s.data_rng[1] | 1u;
        }
    }
    GAN_FREE(used);
    return ok;
}

GANDEF int gan_checkpoint_load_net(const gan_checkpoint *ck, gan_net *net, const char *part)
{
    char dot[GAN__CK_NAME_MAX];
    const char *prefixes[1];
    gan__ckv v;
    unsigned char *used;
    int ok;
    GAN_ASSERT(ck && net && part && "gan_checkpoint_load_net: NULL argument");
    if (!gan__ck_same_arch(ck, net, part)) return 0;
    used = (unsigned char *)GAN_MALLOC((size_t)ck->n_entries + 1);
    if (!used) return gan__fail("%s: out of memory", ck->name);
    memset(used, 0, (size_t)ck->n_entries + 1);
    memset(&v, 0, sizeof v);
    v.tensor = gan__ck_read_tensor;
    v.ck = ck;
    v.used = used;
    prefixes[0] = gan__ck_name(dot, part, ".", NULL);
    ok = gan__ck_net(&v, net, part, 0) && gan__ck_unused(ck, used, prefixes, 1, "this network");
    if (ok) {
        v.store = 1;
        gan__ck_net(&v, net, part, 0);
    }
    GAN_FREE(used);
    return ok;
}

/* ==== eval ==== */

/* The most dimensions a Gaussian, and the eigendecomposition, take: d^2 doubles must fit comfortably
   (and Jacobi's d^3 work per sweep stays in seconds). */
#define GAN__MAX_GAUSSIAN_D 4096


GANDEF gan_graph *gan_classifier_graph(gan_shape in, int classes)
{
    gan_graph *g;
    gan_layer L[6];
    gan_node x, f;
    gan_shape s;
    GAN_ASSERT(in.c > 0 && in.h >= 4 && in.w >= 4 && classes >= 2 && "gan_classifier_graph: images of at least 4 x 4, 2 or more classes");
    if (!(g = gan_graph_new())) return NULL;
    x = gan_input(g, in);
    L[0] = gan_conv2d(in.c, 32, 3, 1, 1);
    L[1] = gan_relu();
    L[2] = gan_avgpool2x();
    L[3] = gan_conv2d(32, 64, 3, 1, 1);
    L[4] = gan_relu();
    L[5] = gan_avgpool2x();
    x = gan_apply(g, gan_flatten(), gan_chain(g, x, L, 6));
    if (x.id < 0) { /* a node could not be added (out of memory) */
        gan_graph_free(g);
        return NULL;
    }
    s = gan_node_shape(g, x);
    f = gan_apply(g, gan_relu(), gan_apply(g, gan_linear(s.c, GAN_CLASSIFIER_FEATURES), x));
    gan_name(g, f, "features");
    x = gan_apply(g, gan_linear(GAN_CLASSIFIER_FEATURES, classes), gan_apply(g, gan_dropout(0.5f), f));
    gan_name(g, x, "logits");
    gan_output(g, x);
    gan_output(g, f);
    return g;
}

GANDEF gan_net *gan_classifier_create(gan_shape in, int classes, int max_batch, uint64_t seed)
{
    gan_graph *g = gan_classifier_graph(in, classes);
    gan_net *net;
    gan_rng rng;
    if (!g) return (gan_net *)(void *)(size_t)gan__fail("gan_classifier_create: out of memory");
    gan_rng_seed(&rng, seed);
    net = gan_net_build(g, max_batch, 0, &rng);
    gan_graph_free(g);
    return net;
}

/* The checks every classifier call shares: the range lies in d, d's images fit the input, and the
   logits (output 0, one value per class) cover d's labels. *classes = the logits' count. */
static int gan__classifier_check(int *classes, const gan_net *net, const gan_dataset *d, int first, int count,
                                 const char *who)
{
    gan_shape in = gan_net_input_shape(net, 0), y = net->plan->nodes[net->plan->outputs[0]].shape;
    if (!d || !d->pixels || first < 0 || count < 1 || first > d->n - count)
        return gan__fail("%s: images %d to %d are not in the set of %d", who, first, first + count - 1, d ? d->n : 0);
    if (d->c != in.c || d->h != in.h || d->w != in.w)
        return gan__fail("%s: the set's images are %d x %d x %d, the network takes %d x %d x %d", who, d->c, d->h, d->w,
                         in.c, in.h, in.w);
    *classes = y.c * y.h * y.w;
    if (d->labels && d->classes > *classes)
        return gan__fail("%s: the set has %d classes, the network's output %d values", who, d->classes, *classes);
    return 1;
}

GANDEF int gan_classifier_train(gan_net *net, const gan_dataset *d, int first, int count, int epochs, uint64_t seed,
                                double *loss)
{
    int classes, B, i, e, at, ok = 1;
    size_t per = 0;
    int *order = NULL;
    gan_float *x = NULL, *t = NULL, *dy = NULL;
    gan_tensor *dys = NULL;
    double sum = 0;
    gan_rng rng;
    GAN_ASSERT(net && epochs >= 1 && "gan_classifier_train: a network and at least one epoch");
    if (!gan__classifier_check(&classes, net, d, first, count, "gan_classifier_train")) return 0;
    if (!d->labels) return gan__fail("gan_classifier_train: the set has no labels");
    B = net->max_batch;
    per = (size_t)d->c * (size_t)d->h * (size_t)d->w;
    order = (int *)GAN_MALLOC((size_t)count * sizeof(int));
    x = (gan_float *)GAN_MALLOC(gan__mul(gan__mul((size_t)B, per), sizeof(gan_float)));
    t = (gan_float *)GAN_MALLOC((size_t)B * sizeof(gan_float));
    dy = (gan_float *)GAN_MALLOC(gan__mul((size_t)B * (size_t)classes, sizeof(gan_float)));
    dys = (gan_tensor *)GAN_MALLOC((size_t)net->n_outputs * sizeof(gan_tensor));
    if (!order || !x || !t || !dy || !dys) ok = gan__fail("gan_classifier_train: out of memory");
    gan_rng_seed(&rng, seed);
    for (i = 0; ok && i < count; i++) order[i] = first + i;
    gan_net_set_training(net, 1);
    for (e = 0; ok && e < epochs; e++) {
        gan__shuffle(order, count, &rng);
        sum = 0;
        for (at = 0; ok && at < count; at += B) {
            int n = count - at < B ? count - at : B;
            gan_tensor in = gan_tensor_make(x, n, d->c, d->h, d->w);
            gan_dataset_batch(d, x, t, order + at, n);
            if (!gan_net_forward_multi(net, &in)) { ok = 0; break; }
            sum += (double)gan_softmax_xent(dy, gan_net_output_at(net, 0)->data, t, (size_t)n, classes) * n;
            for (i = 0; i < net->n_outputs; i++) { /* only the logits have a loss */
                gan_shape o = net->plan->nodes[net->plan->outputs[i]].shape;
                dys[i] = gan_tensor_make(i ? NULL : dy, n, o.c, o.h, o.w);
            }
            gan_net_zero_grad(net);
            if (!gan_net_backward_multi(net, dys, GAN_GRAD_PARAMS)) { ok = 0; break; }
            gan_net_step(net);
        }
    }
    gan_net_set_training(net, 0);
    if (ok && loss) *loss = sum / count;
    GAN_FREE(order);
    GAN_FREE(x);
    GAN_FREE(t);
    GAN_FREE(dy);
    GAN_FREE(dys);
    return ok;
}

GANDEF int gan_classify(gan_float *probs, gan_float *features, gan_net *net, const gan_dataset *d, int first,
                        int count)
{
    int classes, B, at, i, k, ok = 1;
    size_t per;
    int *index;
    gan_float *x, *logits;
    gan_tensor *ys;
    GAN_ASSERT(net && "gan_classify: a network");
    if (!gan__classifier_check(&classes, net, d, first, count, "gan_classify")) return 0;
    if (features) {
        gan_shape f = net->n_outputs >= 2 ? net->plan->nodes[net->plan->outputs[1]].shape : gan_chw(0, 0, 0);
        if (f.c * f.h * f.w != GAN_CLASSIFIER_FEATURES)
            return gan__fail("gan_classify: features need an output 1 of %d values (gan_classifier_graph)",
                             GAN_CLASSIFIER_FEATURES);
    }
    B = net->max_batch;
    per = (size_t)d->c * (size_t)d->h * (size_t)d->w;
    index = (int *)GAN_MALLOC((size_t)B * sizeof(int));
    x = (gan_float *)GAN_MALLOC(gan__mul(gan__mul((size_t)B, per), sizeof(gan_float)));
    logits = (gan_float *)GAN_MALLOC(gan__mul((size_t)B * (size_t)classes, sizeof(gan_float)));
    ys = (gan_tensor *)GAN_MALLOC((size_t)net->n_outputs * sizeof(gan_tensor));
    if (!index || !x || !logits || !ys) ok = gan__fail("gan_classify: out of memory");
    for (at = 0; ok && at < count; at += B) {
        int n = count - at < B ? count - at : B;
        gan_tensor in = gan_tensor_make(x, n, d->c, d->h, d->w);
        for (i = 0; i < n; i++) index[i] = first + at + i;
        gan_dataset_batch(d, x, NULL, index, n);
        for (i = 0; i < net->n_outputs; i++) { /* the logits, the features when wanted, nothing else */
            gan_shape o = net->plan->nodes[net->plan->outputs[i]].shape;
            ys[i] = gan_tensor_make(NULL, n, o.c, o.h, o.w);
        }
        ys[0].data = logits;
        if (features) ys[1].data = features + (size_t)at * GAN_CLASSIFIER_FEATURES;
        if (!gan_net_infer_multi(net, ys, &in, GAN_STATS_RUNNING)) { ok = 0; break; }
        for (i = 0; probs && i < n; i++) { /* softmax: exp(z - log sum exp z) */
            const gan_float *z = logits + (size_t)i * classes;
            gan_float *p = probs + ((size_t)at + i) * classes;
            double lse = gan__log_sum_exp(z, classes);
            for (k = 0; k < classes; k++) p[k] = (gan_float)exp((double)z[k] - lse);
        }
    }
    GAN_FREE(index);
    GAN_FREE(x);
    GAN_FREE(logits);
    GAN_FREE(ys);
    return ok;
}

GANDEF void gan_gaussian_free(gan_gaussian *g)
{
    if (!g) return;
    GAN_FREE(g->mean);
    GAN_FREE(g->cov);
    g->mean = g->cov = NULL;
    g->d = 0;
}

GANDEF int gan_gaussian_fit(gan_gaussian *g, const gan_float *x, int n, int d)
{
    int i, j, r;
    GAN_ASSERT(g && x && "gan_gaussian_fit: a Gaussian and the rows");
    g->d = 0;
    g->mean = g->cov = NULL;
    if (n < 2 || d < 1 || (size_t)d > GAN__MAX_GAUSSIAN_D)
        return gan__fail("gan_gaussian_fit: %d rows of %d values (2 rows or more, 1 to %z values)", n, d,
                         (size_t)GAN__MAX_GAUSSIAN_D);
    g->mean = (double *)GAN_MALLOC((size_t)d * sizeof(double));
    g->cov = (double *)GAN_MALLOC((size_t)d * (size_t)d * sizeof(double));
    if (!g->mean || !g->cov) {
        gan_gaussian_free(g);
        return gan__fail("gan_gaussian_fit: out of memory for %d dimensions", d);
    }
    g->d = d;
    for (j = 0; j < d; j++) g->mean[j] = 0;
    for (r = 0; r < n; r++)
        for (j = 0; j < d; j++) g->mean[j] += x[(size_t)r * d + j];
    for (j = 0; j < d; j++) g->mean[j] /= n;
    for (i = 0; i < d * d; i++) g->cov[i] = 0;
    for (r = 0; r < n; r++) { /* the upper triangle of sum (x - mean)(x - mean)^T */
        const gan_float *row = x + (size_t)r * d;
        for (i = 0; i < d; i++) {
            double a = row[i] - g->mean[i];
            double *c = g->cov + (size_t)i * d;
            if (a == 0) continue;
            for (j = i; j < d; j++) c[j] += a * (row[j] - g->mean[j]);
        }
    }
    for (i = 0; i < d; i++)
        for (j = i; j < d; j++) {
            g->cov[(size_t)i * d + j] /= n - 1;
            g->cov[(size_t)j * d + i] = g->cov[(size_t)i * d + j];
        }
    for (i = 0; i < d * d; i++)
        if (!gan__finite(g->cov[i])) {
            gan_gaussian_free(g);
            return gan__fail("gan_gaussian_fit: a value is not finite");
        }
    return 1;
}

GANDEF int gan_classifier_gaussian(gan_gaussian *g, gan_net *net, const gan_dataset *d, int first, int count)
{
    gan_float *f;
    int ok;
    GAN_ASSERT(g && "gan_classifier_gaussian: a Gaussian");
    g->d = 0;
    g->mean = g->cov = NULL;
    if (count < 2) return gan__fail("gan_classifier_gaussian: %d images (needs 2 or more)", count);
    f = (gan_float *)GAN_MALLOC(gan__mul((size_t)count * GAN_CLASSIFIER_FEATURES, sizeof(gan_float)));
    if (!f) return gan__fail("gan_classifier_gaussian: out of memory for %d images' features", count);
    ok = gan_classify(NULL, f, net, d, first, count) && gan_gaussian_fit(g, f, count, GAN_CLASSIFIER_FEATURES);
    GAN_FREE(f);
    return ok;
}

/* Cyclic Jacobi (Golub & Van Loan, Matrix Computations, 8.5): each rotation J(p, q, theta) zeroes
   a[p][q] of A <- J^T A J; V <- V J collects them. A sweep visits every pair above the diagonal; it
   stops when the off-diagonal sum of squares is below (eps * ||A||_F)^2, which takes a handful of
   sweeps. a: n x n working copy, destroyed. */
static int gan__jacobi(double *a, double *v, int n)
{
    int sweep, p, q, k;
    double total = 0;
    for (k = 0; k < n * n; k++) total += a[k] * a[k];
    if (v)
        for (p = 0; p < n; p++)
            for (q = 0; q < n; q++) v[(size_t)p * n + q] = p == q;
    for (sweep = 0; sweep < 100; sweep++) {
        double off = 0;
        for (p = 0; p < n; p++)
            for (q = p + 1; q < n; q++) off += 2 * a[(size_t)p * n + q] * a[(size_t)p * n + q];
        if (off <= DBL_EPSILON * DBL_EPSILON * total) return 1;
        for (p = 0; p < n - 1; p++)
            for (q = p + 1; q < n; q++) {
                double apq = a[(size_t)p * n + q], app, aqq, theta, t, c, s;
                if (apq == 0) continue;
                app = a[(size_t)p * n + p];
                aqq = a[(size_t)q * n + q];
                theta = (aqq - app) / (2 * apq); /* cot(2 angle); t = tan(angle), the smaller root */
                t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                c = 1 / sqrt(t * t + 1);
                s = t * c;
                for (k = 0; k < n; k++) { /* columns p and q of A J */
                    double akp = a[(size_t)k * n + p], akq = a[(size_t)k * n + q];
                    a[(size_t)k * n + p] = c * akp - s * akq;
                    a[(size_t)k * n + q] = s * akp + c * akq;
                }
                for (k = 0; k < n; k++) { /* rows p and q of J^T (A J) */
                    double apk = a[(size_t)p * n + k], aqk = a[(size_t)q * n + k];
                    a[(size_t)p * n + k] = c * apk - s * aqk;
                    a[(size_t)q * n + k] = s * apk + c * aqk;
                }
                a[(size_t)p * n + q] = a[(size_t)q * n + p] = 0;
                if (v)
                    for (k = 0; k < n; k++) {
                        double vkp = v[(size_t)k * n + p], vkq = v[(size_t)k * n + q];
                        v[(size_t)k * n + p] = c * vkp - s * vkq;
                        v[(size_t)k * n + q] = s * vkp + c * vkq;
                    }
            }
    }
    return 0;
}

GANDEF int gan_eigen_symmetric(double *values, double *vectors, const double *a, int n)
{
    double *w, top = 0, scale;
    size_t nn;
    int i, j, ok;
    GAN_ASSERT(values && a && n >= 1 && "gan_eigen_symmetric: a matrix and room for its values");
    if ((size_t)n > GAN__MAX_GAUSSIAN_D)
        return gan__fail("gan_eigen_symmetric: %d x %d is past the %z rows it takes", n, n, (size_t)GAN__MAX_GAUSSIAN_D);
    nn = (size_t)n * (size_t)n;
    for (i = 0; (size_t)i < nn; i++)
        if (!gan__finite(a[i])) return gan__fail("gan_eigen_symmetric: a value is not finite");
    if (!(w = (double *)GAN_MALLOC(nn * sizeof(double))))
        return gan__fail("gan_eigen_symmetric: out of memory for %d x %d", n, n);
    for (i = 0; (size_t)i < nn; i++) top = fabs(a[i]) > top ? fabs(a[i]) : top;
    scale = top > 0 ? top : 1; /* work on a / max |a_ij|: the sums of squares neither overflow nor underflow */
    for (i = 0; i < n; i++) /* symmetrized, so rounding in a caller's product does not bias it */
        for (j = 0; j < n; j++) w[(size_t)i * n + j] = (a[(size_t)i * n + j] / scale + a[(size_t)j * n + i] / scale) / 2;
    ok = gan__jacobi(w, vectors, n);
    for (i = 0; i < n; i++) values[i] = w[(size_t)i * n + i] * scale;
    GAN_FREE(w);
    if (!ok) return gan__fail("gan_eigen_symmetric: no convergence in 100 sweeps");
    for (i = 1; i < n; i++) { /* ascending, the vectors' columns with them (insertion: n is small) */
        for (j = i; j > 0 && values[j - 1] > values[j]; j--) {
            double t = values[j];
            int k;
            values[j] = values[j - 1];
            values[j - 1] = t;
            for (k = 0; vectors && k < n; k++) {
                t = vectors[(size_t)k * n + j];
                vectors[(size_t)k * n + j] = vectors[(size_t)k * n + j - 1];
                vectors[(size_t)k * n + j - 1] = t;
            }
        }
    }
    return 1;
}

/* c = a b, all d x d row-major doubles (c apart from a and b); the Frechet distance's two products */
static void gan__matmul_d(double *c, const double *a, const double *b, int d)
{
    int i, j, k;
    for (i = 0; i < d; i++) {
        double *row = c + (size_t)i * d;
        for (j = 0; j < d; j++) row[j] = 0;
        for (k = 0; k < d; k++) {
            double aik = a[(size_t)i * d + k];
            const double *bk = b + (size_t)k * d;
            for (j = 0; j < d; j++) row[j] += aik * bk[j];
        }
    }
}

GANDEF int gan_frechet_distance(double *fd, const gan_gaussian *a, const gan_gaussian *b)
{
    int d, i, j, k, ok = 0;
    double *vals, *vecs, *root, *m, dist = 0, tr = 0;
    size_t dd;
    GAN_ASSERT(fd && a && b && a->mean && b->mean && "gan_frechet_distance: two fitted Gaussians");
    if (a->d != b->d) return gan__fail("gan_frechet_distance: %d against %d dimensions", a->d, b->d);
    d = a->d;
    if (d < 1 || (size_t)d > GAN__MAX_GAUSSIAN_D)
        return gan__fail("gan_frechet_distance: %d dimensions (1 to %z)", d, (size_t)GAN__MAX_GAUSSIAN_D);
    dd = (size_t)d * (size_t)d;
    vals = (double *)GAN_MALLOC((size_t)d * sizeof(double));
    vecs = (double *)GAN_MALLOC(dd * sizeof(double));
    root = (double *)GAN_MALLOC(dd * sizeof(double));
    m = (double *)GAN_MALLOC(dd * sizeof(double));
    if (!vals || !vecs || !root || !m) {
        gan__fail("gan_frechet_distance: out of memory for %d dimensions", d);
        goto done;
    }
    /* S_a^(1/2) = Q diag(sqrt(max(l, 0))) Q^T, summed over k in order, one rank-one term at a time */
    if (!gan_eigen_symmetric(vals, vecs, a->cov, d)) goto done;
    memset(root, 0, dd * sizeof(double));
    for (k = 0; k < d; k++) {
        double r = sqrt(vals[k] > 0 ? vals[k] : 0);
        for (i = 0; i < d; i++)
            for (j = 0; j < d; j++) root[(size_t)i * d + j] += vecs[(size_t)i * d + k] * r * vecs[(size_t)j * d + k];
    }
    /* M = S_a^(1/2) S_b S_a^(1/2): symmetric positive semi-definite, with the eigenvalues of S_a S_b */
    gan__matmul_d(vecs, root, b->cov, d);
    gan__matmul_d(m, vecs, root, d);
    if (!gan_eigen_symmetric(vals, NULL, m, d)) goto done;
    for (i = 0; i < d; i++) tr += sqrt(vals[i] > 0 ? vals[i] : 0);
    for (i = 0; i < d; i++) {
        double diff = a->mean[i] - b->mean[i];
        dist += diff * diff + a->cov[(size_t)i * d + i] + b->cov[(size_t)i * d + i];
    }
    *fd = dist - 2 * tr > 0 ? dist - 2 * tr : 0; /* a Gaussian against itself can round to just below 0 */
    ok = 1;
done:
    GAN_FREE(vals);
    GAN_FREE(vecs);
    GAN_FREE(root);
    GAN_FREE(m);
    return ok;
}

GANDEF int gan_eval_images(gan_image_scores *s, gan_net *net, const gan_dataset *d, int first, int count,
                           const gan_gaussian *reference)
{
    int classes, i, k, ok;
    int *hist = NULL;
    gan_float *probs, *f = NULL;
    gan_gaussian g;
    double conf = 0, kl = 0;
    long right = 0;
    GAN_ASSERT(s && net && "gan_eval_images: scores and a classifier");
    memset(s, 0, sizeof *s);
    if (!gan__classifier_check(&classes, net, d, first, count, "gan_eval_images")) return 0;
    if (reference && count < 2) return gan__fail("gan_eval_images: a Frechet distance needs 2 images or more");
    probs = (gan_float *)GAN_MALLOC(gan__mul((size_t)count * (size_t)classes, sizeof(gan_float)));
    hist = (int *)GAN_MALLOC((size_t)classes * sizeof(int));
    if (reference) f = (gan_float *)GAN_MALLOC(gan__mul((size_t)count * GAN_CLASSIFIER_FEATURES, sizeof(gan_float)));
    ok = probs && hist && (!reference || f);
    if (!ok) gan__fail("gan_eval_images: out of memory for %d images", count);
    ok = ok && gan_classify(probs, f, net, d, first, count);
    for (k = 0; ok && k < classes; k++) hist[k] = 0;
    for (i = 0; ok && i < count; i++) {
        const gan_float *p = probs + (size_t)i * classes;
        int best = 0;
        for (k = 1; k < classes; k++) best = p[k] > p[best] ? k : best;
        hist[best]++;
        conf += p[best];
        right += d->labels && d->labels[first + i] == best;
    }
    if (ok) {
        s->n = count;
        s->classes = classes;
        for (k = 0; k < classes; k++) {
            double pk = (double)hist[k] / count;
            s->covered += pk >= 0.01;
            if (hist[k]) kl += pk * log(classes * pk);
        }
        s->kl = kl;
        s->confidence = conf / count;
        s->labelled = d->labels != NULL;
        s->accuracy = s->labelled ? (double)right / count : 0;
    }
    if (ok && reference) {
        ok = gan_gaussian_fit(&g, f, count, GAN_CLASSIFIER_FEATURES);
        ok = ok && gan_frechet_distance(&s->frechet, &g, reference);
        s->compared = ok;
        gan_gaussian_free(&g);
    }
    GAN_FREE(probs);
    GAN_FREE(hist);
    GAN_FREE(f);
    return ok;
}

/* -- 2-D modes -- */

GANDEF int gan_eval_modes(gan_mode_scores *s, const gan_float *xy, int n, const gan_float *centres, int k, gan_float sigma)
{
    int *held, *hit, i, j, good = 0;
    double r2, kl = 0;
    GAN_ASSERT(s && "gan_eval_modes: NULL scores");
    memset(s, 0, sizeof *s);
    if (n < 1) return gan__fail("gan_eval_modes: %d points; it needs at least 1", n);
    if (k < 1) return gan__fail("gan_eval_modes: %d centres; it needs at least 1", k);
    /* !(sigma > 0) also refuses NaN; an infinite sigma would make every point good */
    if (!(sigma > 0) || !gan__finite((double)sigma))
        return gan__fail("gan_eval_modes: sigma must be finite and greater than 0");
    GAN_ASSERT(xy && centres && "gan_eval_modes: NULL points or centres");
    for (j = 0; j < k; j++)
        if (!gan__finite((double)centres[2 * (size_t)j]) || !gan__finite((double)centres[2 * (size_t)j + 1]))
            return gan__fail("gan_eval_modes: centre %d is not finite", j);
    for (i = 0; i < n; i++)
        if (!gan__finite((double)xy[2 * (size_t)i]) || !gan__finite((double)xy[2 * (size_t)i + 1]))
            return gan__fail("gan_eval_modes: point %d is not finite", i);
    /* held[j]: the high-quality samples whose nearest centre is j; hit[j]: some sample within 3 sigma
       of centre j (not necessarily its nearest: centres closer than 6 sigma share samples) */
    held = (int *)GAN_MALLOC(gan__mul(gan__mul((size_t)k, 2), sizeof(int)));
    if (!held) return gan__fail("gan_eval_modes: out of memory for %d centres", k);
    hit = held + k;
    memset(held, 0, 2 * (size_t)k * sizeof(int));
    /* squared distances against (3 sigma)^2, all in double: a float point and centre differ exactly,
       and a point at 3 sigma on the nose (r2 exact for a dyadic sigma) counts as within */
    r2 = 3 * (double)sigma;
    r2 *= r2;
    for (i = 0; i < n; i++) {
        double px = (double)xy[2 * (size_t)i], py = (double)xy[2 * (size_t)i + 1], best = HUGE_VAL;
        int at = 0;
        for (j = 0; j < k; j++) {
            double dx = px - (double)centres[2 * (size_t)j], dy = py - (double)centres[2 * (size_t)j + 1];
            double d2 = dx * dx + dy * dy;
            if (d2 <= r2) hit[j] = 1;
            if (d2 < best) { /* strict: the lowest index wins a tie */
                best = d2;
                at = j;
            }
        }
        if (best <= r2) {
            good++;
            held[at]++;
        }
    }
    for (j = 0; j < k; j++) {
        s->modes += hit[j];
        /* h_j >= 0.2 n / k as 5 k h_j >= n in 64 bits: exact, where 0.2 in binary is not */
        s->modes_fair += (int64_t)5 * k * held[j] >= (int64_t)n;
        if (held[j] > 0) {
            double p = (double)held[j] / good;
            kl += p * log((double)k * p);
        }
    }
    s->high_quality = (double)good / n;
    /* an empty histogram is scored as the worst one (all on one mode); a tiny negative sum is rounding
       of an even one, whose terms are each log 1 = 0 only when k p_j rounds to 1 exactly */
    s->kl = good == 0 ? log((double)k) : kl > 0 ? kl : 0;
    GAN_FREE(held);
    return 1;
}

#if defined(__clang__)
#pragma STDC FP_CONTRACT DEFAULT
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif
#endif /* GAN_IMPLEMENTATION_DONE */
#endif /* GAN_IMPLEMENTATION */

/*
   HISTORY
      0.5.3  (2026-12)  speed: the packing's short copies stay inline loops (no memcpy calls), whole
                        panels of A packed in fixed-width loops that vectorize, the layout regroups
                        copied in vector loops; a bias gradient sums each channel in one run of
                        double lanes over all samples (one rounding to float, not one a sample);
                        col2im's fused product packs its B once a thread, not once a group; two
                        threads: window tables, plans and prepacked weights built on both, a
                        one-channel layer's col2im product shared by samples, in fewer chunks, a
                        Linear layer's bias on the threads, and a lock-free hand-off to the pool
                        whose waiting threads poll 50 us, then yield between polls for about 0.5 ms
                        more, before they sleep.
      0.5.2  (2026-12)  speed: AVX-512 convolutions without the gather instruction (im2col panels
                        through per-call gather plans, col2im by image rows fused with the product
                        that makes its columns); the penalty's dual backward carries the primal
                        adjoint only (the tangent adjoints are its first backward's gradients).
      0.5.1  (2026-12)  speed: an AVX-512 edge kernel for partial tiles (only the rows and column
                        vectors they reach), transposed operands packed through a 16 x 16 register
                        transpose, GEMM column splits in 16-column strips, the penalty's LayerNorm
                        passes on the threads, BatchNorm1d's loops vectorized.
      0.5.0  (2026-12)  measuring samples: a small classifier trained by gan.h on the real data, the
                        classes covered, class KL, confidence and label accuracy of generated images,
                        the Frechet distance of Gaussians fitted in double to its features (a Jacobi
                        symmetric eigendecomposition), the modes of 2-D mixtures, softmax cross-entropy.
      0.4.0  (2026-12)  GAN training: the GAN step (gan_trainer) with minimax, non-saturating, least
                        squares, hinge and Wasserstein losses, weight clipping, WGAN-GP and R1,
                        PacGAN packing, conditional labels and an EMA of G; the papers' recipes;
                        spectral normalization; MNIST-format data through a built-in inflate, a
                        procedural data set and a shuffling loader; PNG, PGM/PPM and IDX writers,
                        sample grids and scatter plots.
      0.3.1  (2026-12)  speed: elementwise loops compiled per instruction set and vectorized, im2col
                        windows gathered straight into the GEMM's panels, col2im as per-pixel sums,
                        weights packed once per call, the remaining layers on the threads, threads
                        that poll briefly before sleeping; memory: ReLU, LeakyReLU and BatchNorm in
                        place, col2im's columns in small parts.
      0.3.0  (2026-12)  speed: GEMM micro-kernels for AVX-512, AVX2 and a baseline chosen at run time,
                        packing buffers in the arena, a thread pool (gan_set_threads) with the same
                        bits for any thread count, convolutions batched over chunks of samples,
                        optimizer moments flushed below the smallest normal, fused multiply-adds
                        only where written.
      0.2.0  (2026-12)  networks are graphs: joins, several inputs and outputs, liveness-planned memory
                        with overflow-safe sizes, sampling beside training, exact gradient penalties,
                        per-layer learning rates and freezing, parameter names.
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
