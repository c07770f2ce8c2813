/* bench/bench.c - how fast gan.h runs on this machine, and how close to the machine's peak. Nothing
   is asserted; the targets named below are printed beside the figures, not checked.

   make bench                       (or: cc -O2 bench/bench.c -lm && ./a.out; run it from the repository
                                     root, where section 7 finds examples/)
   ./bench [--quick] [--threads N] [--only LIST] [--rss-exe PATH]
      --quick        fewer repetitions and a shorter time budget per figure (the memory child's 100
                     steps stay 100)
      --threads N    run the step benchmarks (and the memory child) at N threads only; by default at 1
                     and 2 (1 only on a one-CPU machine), the memory child at one thread per core
      --only LIST    comma-separated sections: peak, gemm, layers, step, rss, build (step also
                     measures the peak: its percentages need it)
      --rss-exe PATH the program the memory child runs (default: this one): make bench names
                     build/bench, so that the OpenBLAS build's figure does not count the pages that
                     loading OpenBLAS costs (about 2.5 MiB) in a program that never calls it

   One figure per line, "NAME VALUE UNIT key=value ...", so runs can be compared with grep and diff.
   Lines starting with "#" are comments, and figures skipped with the reason. In the order printed:

   1. peak.gflops     FP32 GFLOP/s of bench/peak.c's FMA kernel (included from peak.c, which states the
                      method) for each instruction set the CPU has: threads=1 pinned to the first usable
                      CPU, threads=2 one thread pinned to each of the first two, summed (per_core= is
                      half that). peak.speedup: the 2-thread figure over the 1-thread one.
   2. gemm.gflops     GFLOP/s (2 M N K / seconds) of one GEMM, at one thread (gan_set_threads(1)):
                      impl=naive (gan_gemm_naive), impl=ours isa=... (gan_gemm with gan_set_isa forcing
                      each kernel set this build and CPU have), impl=openblas (cblas_sgemm on one thread,
                      when built with -DBENCH_OPENBLAS -lopenblas; make bench does that when a program
                      including <cblas.h> links). Shapes: every GEMM the reference DCGAN's layers run at
                      batch 64, as gan.h runs them with the kernels it picks - a convolution one GEMM
                      per chunk of samples (at most ceil(1024 / plane), as even as can be), plane =
                      OH OW of the side im2col reads (Conv2d: its output; ConvTranspose2d: its input),
                      and the products col2im sums (Conv2d's dx, ConvTranspose2d's forward) one per
                      part of ceil(256 / plane) samples of a chunk, so N (forward, dx) or K (dW) is
                      samples * plane, the samples named in the shape's .nS; forward, dW (beta = 1,
                      as the layers accumulate) and dx of each layer; then squares of 256, 512 and
                      1024. per_step= is how often one dcgan.step
                      (section 4) runs the shape.
      gemm.dcgan_weighted  total FLOPs over total seconds of the DCGAN shapes, each counted per_step
                      times: the GEMM speed a dcgan.step sees, for each implementation measured on all.
      gemm.ratio      ours (the kernel set gan.h picks by itself) over OpenBLAS, for each square and for
                      the weighted DCGAN figure (the target is >= 0.90).
   3. layer.ms        milliseconds of one layer's forward or backward (parameter and input gradients)
                      at batch 64 in the reference DCGAN, at one thread, on activations of our own;
                      net.ms the whole forward + backward of G or D.
   4. dcgan.step      milliseconds of one training step at batch 64, at threads=1 and 2, written with
                      the calls that do only the work needed: G makes the fake batch once (training
                      mode); the D step runs D forward on a real batch and backward with
                      GAN_GRAD_PARAMS only (no input gradient for real images), forward on the fake
                      batch and backward params only, an Adam step; the G step runs D forward on the
                      fake batch again, gan_net_backward_input (D's gradients untouched), G backward with
                      GAN_GRAD_PARAMS only (no gradient for z), an Adam step. Non-saturating
                      BCE-with-logits (gan_bce_logits_const), Adam(2e-4, 0.5, 0.999), GAN_INIT_DCGAN,
                      a fresh z every step, real batches from a pool of 10 uniform in [-1, 1].
      dcgan.imgs_per_s  64 / the step time.
      dcgan.train_step  the same step through the library's GAN step (gan_train_step with
                      gan_default_train(GAN_FAMILY_NONSATURATING)): it also reports D(x), D(G(z)) and
                      both gradient norms, and copies each real batch in through its callback.
      dcgan.pct_peak  10.29 GFLOP (the issue's count of a step's work) / step time / the peak of the
                      kernel set in use at that thread count (section 1: the 1-thread figure for
                      threads=1, the summed 2-thread figure for threads=2).
      dcgan.speedup   step time at 1 thread over step time at 2; dcgan.scaling: that over the peak
                      kernel's own peak.speedup (the target is >= 0.9).
   5. wgan_gp.g_iter and its imgs_per_s, pct_peak (59.7 GFLOP an iteration), speedup and scaling, the
                      same way: one WGAN-GP generator iteration = 5 critic steps, then one G step. The
                      critic is D with BatchNorm(128) replaced by gan_layernorm(), built from a graph
                      with GAN_BUILD_PENALTY. A critic step: G makes a fake batch (training mode, no
                      backward), critic forward real (loss -mean) and backward params only, forward
                      fake (loss +mean) and backward params only, gan_net_penalty with
                      GAN_PENALTY_WGAN_GP, weight 10, at x_hat = eps real + (1 - eps) fake (eps uniform
                      per sample), an Adam(1e-4, 0, 0.9) step. The G step: loss -mean C(G(z)), through
                      gan_net_backward_input of the critic. PyTorch's default initialization (as
                      torch_bench.py). wgan_gp.critic_step: the median critic step of those iterations.
   6. dcgan.peak_rss  ru_maxrss, in MiB, of a child process (this program re-executed with a hidden
                      flag, reaped with wait4) that runs 100 dcgan.steps over 10,000 28 x 28 images
                      held as bytes (random for now), each batch of 64 converted to floats in [-1, 1]
                      (the target is < 48 MiB). It runs first, before this process has allocated
                      anything, though it is printed here: a forked child's ru_maxrss counts what the
                      parent had resident at the fork (the page tables are copied, and exec keeps the
                      high-water mark), so a child forked later would report the parent's size.
   7. build.s         seconds of one `cc -O2 examples/dcgan.c -o /tmp/... -lm`.

   Timing: each value is the median of several repetitions (clock_gettime, CLOCK_MONOTONIC; reps= says
   how many) after one untimed call; a repetition of a fast operation loops it until it lasts a few
   milliseconds. An operation whose untimed call already takes longer than its budget (the naive
   GEMM on the large shapes) is reported from that one call (reps=1). The whole run takes about a
   minute on 2 cores at about 250 GFLOP/s a core (about 35 s with --quick); the machine's other work
   shows up as noise, most in the 2-thread figures, so the load average is printed at the start and
   the end.

   The reference DCGAN (28 x 28 x 1 images, latent 100):
      G: Linear(100, 6272), BatchNorm, ReLU, reshape (128, 7, 7), ConvTranspose2d(128, 64, 4, 2, 1),
         BatchNorm, ReLU, ConvTranspose2d(64, 1, 4, 2, 1), Tanh
      D: Conv2d(1, 64, 4, 2, 1), LeakyReLU(0.2), Conv2d(64, 128, 4, 2, 1), BatchNorm, LeakyReLU(0.2),
         Flatten, Linear(6272, 1) */
#define _GNU_SOURCE /* before any header: clock_gettime, getloadavg, wait4, setenv, mkstemp under -std=c99,
                       and sched_setaffinity for peak.c */
#define GAN_IMPLEMENTATION
#include "../gan.h"

#if defined(__x86_64__) || defined(__i386__)
#define PEAK_NO_MAIN
#include "peak.c"
#define HAVE_PEAK 1
#endif

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef BENCH_OPENBLAS
#include <cblas.h>
#endif

#define BATCH 64
#define LATENT 100
#define IMG (28 * 28)
#define POOL 10               /* real batches the step benchmarks cycle through */
#define DCGAN_GFLOP 10.29     /* the issue's count of one dcgan.step's work */
#define WGAN_GP_GFLOP 59.7    /* and of one WGAN-GP generator iteration's */
#define CRITIC_STEPS 5
#define RSS_STEPS 100
#define RSS_IMAGES 10000
#define CONV_COLS 1024        /* gan.h's GAN__CONV_COLS: the columns one convolution GEMM aims for */
#define COL_COLS 256          /* and GAN__COL_COLS: the columns of one part of col2im's paths */

/* ---- options ----------------------------------------------------------------------------------- */

enum { SEC_PEAK = 1, SEC_GEMM = 2, SEC_LAYERS = 4, SEC_STEP = 8, SEC_RSS = 16, SEC_BUILD = 32, SEC_ALL = 63 };

static struct {
    int quick;
    int threads; /* 0: the step benchmarks at 1 and 2 threads */
    int only;    /* SEC_* bits */
    const char *rss_exe; /* the memory child's program; NULL: this one */
} opt = { 0, 0, SEC_ALL, NULL };

/* How long one figure is measured: min_reps to max_reps repetitions, more than min_reps only while
   less than budget_s has been spent; a repetition loops the operation until it lasts rep_s. With
   once_if_slow (the naive GEMM only), an operation whose untimed first call alone exceeds the budget
   is reported from that call: on the large shapes it takes about a second. */
typedef struct {
    int min_reps, max_reps;
    double budget_s, rep_s;
    int once_if_slow;
} timing;

#define MAX_REPS 32
static const timing t_gemm = { 5, 9, 0.10, 0.005, 0 }, t_gemm_quick = { 3, 3, 0.03, 0.002, 0 };
static const timing t_layer = { 5, 11, 0.20, 0.010, 0 }, t_layer_quick = { 3, 3, 0.05, 0.005, 0 };
static const timing t_step = { 5, 25, 2.0, 0, 0 }, t_step_quick = { 3, 5, 0.5, 0, 0 };
static const timing t_wgan = { 5, 9, 4.0, 0, 0 }, t_wgan_quick = { 2, 3, 1.0, 0, 0 };

/* ---- timing ------------------------------------------------------------------------------------ */

static double clock_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* What is being timed: fn(ctx) does one operation. */
typedef void (*bench_fn)(void *ctx);

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Median seconds of one fn(ctx); *reps_out = repetitions behind it. The untimed first call warms
   caches and sizes a repetition; when it alone exceeds the budget (and once_if_slow) it is the answer. */
static double time_median(bench_fn fn, void *ctx, const timing *t, int *reps_out)
{
    double times[MAX_REPS], t0, first, spent = 0;
    long inner = 1, i;
    int reps = 0, max_reps = t->max_reps < MAX_REPS ? t->max_reps : MAX_REPS;

    t0 = clock_s();
    fn(ctx);
    first = clock_s() - t0;
    if (t->once_if_slow && first >= t->budget_s) {
        *reps_out = 1;
        return first;
    }
    if (first < t->rep_s) inner = (long)(t->rep_s / (first > 1e-7 ? first : 1e-7)) + 1;
    while (reps < max_reps && (reps < t->min_reps || spent < t->budget_s)) {
        t0 = clock_s();
        for (i = 0; i < inner; i++) fn(ctx);
        times[reps] = (clock_s() - t0) / (double)inner;
        spent += times[reps] * (double)inner;
        reps++;
    }
    *reps_out = reps;
    return median(times, reps);
}

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    return p;
}

static gan_float *alloc_floats(size_t n, gan_rng *rng)
{
    gan_float *p = (gan_float *)xmalloc(n * sizeof *p);
    gan_fill_uniform(p, n, -1, 1, rng);
    return p;
}

/* Stops the run when a network call fails (they return NULL or 0 and set gan_last_error()). */
static void must(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "bench: %s failed: %s\n", what, gan_last_error());
        exit(1);
    }
}

static double load1(void)
{
    double l[1];
    return getloadavg(l, 1) == 1 ? l[0] : -1;
}

/* /proc/cpuinfo's first "model name", or "?". */
static void cpu_model(char *out, size_t size)
{
    char line[256];
    FILE *f = fopen("/proc/cpuinfo", "r");
    snprintf(out, size, "?");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            size_t n;
            colon++;
            while (*colon == ' ' || *colon == '\t') colon++;
            n = strcspn(colon, "\n");
            snprintf(out, size, "%.*s", (int)n, colon);
            break;
        }
    }
    fclose(f);
}

/* ---- 1. peak ----------------------------------------------------------------------------------- */

/* GFLOP/s of the peak kernel by gan_isa (index GAN_ISA_BASELINE..GAN_ISA_AVX512), at 1 thread and at 2
   (summed); 0 where not measured. */
static double peak_1[GAN_ISA_AVX512 + 1], peak_2[GAN_ISA_AVX512 + 1];
static int peak_measured;

#ifdef HAVE_PEAK
/* peak.c names its kernels as gan_isa_name does. */
static gan_isa isa_by_name(const char *name)
{
    int k;
    for (k = GAN_ISA_BASELINE; k <= GAN_ISA_AVX512; k++)
        if (strcmp(gan_isa_name((gan_isa)k), name) == 0) return (gan_isa)k;
    return GAN_ISA_AUTO;
}
#endif

/* The kernel set gan.h picks by itself (GAN_ISA_AUTO). */
static gan_isa isa_auto(void)
{
    gan_set_isa(GAN_ISA_AUTO);
    return gan_isa_in_use();
}

static void measure_peak(void)
{
#ifdef HAVE_PEAK
    long iters[NISAS];
    int run[NISAS], cpus[2], ncpus = 0, online, i, r, cpu, pinned;
    cpu_set_t allowed;

    /* The first two CPUs this process may run on, as peak.c chooses them. */
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
        printf("# skip peak: sched_getaffinity: %s\n", strerror(errno));
        return;
    }
    for (cpu = 0; cpu < CPU_SETSIZE && ncpus < 2; cpu++)
        if (CPU_ISSET(cpu, &allowed)) cpus[ncpus++] = cpu;
    online = (int)sysconf(_SC_NPROCESSORS_ONLN);
    __builtin_cpu_init();
    printf("# peak (bench/peak.c): FP32, %d independent chains a kernel, best of %d runs of about %.2f s, "
           "one thread pinned to cpu %d\n", CHAINS, RUNS, RUN_S, cpus[0]);
    fflush(stdout);
    if (pin_to(cpus[0]) != 0)
        printf("# warning: cannot pin to cpu %d (%s); running unpinned\n", cpus[0], strerror(errno));
    for (i = 0; i < NISAS; i++) {
        const char *why = isa_missing(&isas[i]);
        double best = 0;
        run[i] = 0;
        if (why) {
            printf("# skip peak isa=%s: %s\n", isas[i].name, why);
            continue;
        }
        run[i] = 1;
        iters[i] = size_run(&isas[i]);
        for (r = 0; r < RUNS; r++) {
            double g = run_gflops(&isas[i], iters[i], &sink);
            if (g > best) best = g;
        }
        peak_1[isa_by_name(isas[i].name)] = best;
        printf("peak.gflops %.1f GFLOP/s isa=%s threads=1\n", best, isas[i].name);
        fflush(stdout);
    }
    if (online < 2 || ncpus < 2) {
        printf("# skip peak threads=2: %d CPU(s) online, %d usable by this process\n", online, ncpus);
    } else {
        for (i = 0; i < NISAS; i++) {
            double two;
            if (!run[i]) continue;
            two = run_two(&isas[i], iters[i], cpus, &pinned);
            if (two == 0) {
                printf("# skip peak isa=%s threads=2: cannot start a thread\n", isas[i].name);
                continue;
            }
            if (!pinned) printf("# warning: cannot pin to cpus %d and %d; ran unpinned\n", cpus[0], cpus[1]);
            peak_2[isa_by_name(isas[i].name)] = two;
            printf("peak.gflops %.1f GFLOP/s isa=%s threads=2 per_core=%.1f\n", two, isas[i].name, two / 2);
            printf("peak.speedup %.2f x isa=%s threads=1->2\n", two / peak_1[isa_by_name(isas[i].name)],
                   isas[i].name);
            fflush(stdout);
        }
    }
    /* Back to every allowed CPU: gan.h's worker threads, started later, inherit this thread's mask. */
    if (sched_setaffinity(0, sizeof allowed, &allowed) != 0)
        printf("# warning: cannot restore the CPU mask (%s): the 2-thread figures may share one CPU\n",
               strerror(errno));
    peak_measured = 1;
#else
    printf("# skip peak: bench/peak.c measures x86 instruction sets only\n");
#endif
}

/* The peak of the kernel set in use at a thread count, or 0 when it was not measured. */
static double peak_at(gan_isa isa, int threads)
{
    if (!peak_measured || isa < GAN_ISA_BASELINE || isa > GAN_ISA_AVX512) return 0;
    return threads == 1 ? peak_1[isa] : threads == 2 ? peak_2[isa] : 0;
}

/* ---- 2. GEMM ----------------------------------------------------------------------------------- */

/* Result columns: naive, ours per kernel set (GAN_ISA_BASELINE..AVX512), OpenBLAS. */
enum { COL_NAIVE, COL_OURS, COL_OPENBLAS = COL_OURS + GAN_ISA_AVX512, NCOLS };

typedef struct {
    char shape[40];
    int ta, tb, M, N, K;
    gan_float beta;
    int samples;  /* samples in the chunk (convolutions), else 0 */
    int per_step; /* runs in one dcgan.step */
} gemm_shape;

#define MAX_SHAPES 48
static gemm_shape shapes[MAX_SHAPES];
static int n_shapes;

static void add_shape(const char *layer, const char *pass, const char *suffix, int ta, int tb, int M, int N,
                      int K, gan_float beta, int samples, int per_step)
{
    gemm_shape *s = &shapes[n_shapes++];
    if (n_shapes > MAX_SHAPES) {
        fprintf(stderr, "bench: too many GEMM shapes\n");
        exit(1);
    }
    snprintf(s->shape, sizeof s->shape, "%s.%s%s", layer, pass, suffix);
    s->ta = ta;
    s->tb = tb;
    s->M = M;
    s->N = N;
    s->K = K;
    s->beta = beta;
    s->samples = samples;
    s->per_step = per_step;
}

/* Linear(in, out) at batch 64: y = x W^T, dW += dy^T x, dx = dy W, as gan.h's Linear calls them.
   fwd, dw, dx: how many times one dcgan.step runs each pass. */
static void add_linear(const char *layer, int in, int out, int fwd, int dw, int dx)
{
    add_shape(layer, "fwd", "", 0, 1, BATCH, out, in, 0, 0, fwd);
    add_shape(layer, "dW", "", 1, 0, out, in, BATCH, 1, 0, dw);
    add_shape(layer, "dx", "", 0, 0, BATCH, in, out, 0, 0, dx);
}

/* A shape run `times` more times in a step: counted on the shape already listed, else added. */
static void add_conv_shape(const char *layer, const char *pass, int ta, int tb, int M, int N, int K, gan_float beta,
                           int samples, int times)
{
    char suffix[16], name[sizeof shapes[0].shape];
    int i;
    if (times == 0) return;
    snprintf(suffix, sizeof suffix, ".n%d", samples);
    snprintf(name, sizeof name, "%s.%s%s", layer, pass, suffix); /* add_shape's name */
    for (i = 0; i < n_shapes; i++)
        if (strcmp(shapes[i].shape, name) == 0 && shapes[i].N == N && shapes[i].K == K) {
            shapes[i].per_step += times;
            return;
        }
    add_shape(layer, pass, suffix, ta, tb, M, N, K, beta, samples, times);
}

/* A convolution (transpose: ConvTranspose2d) with plane = OH OW of the side im2col reads, its GEMMs as
   gan.h runs them at batch 64 with the kernels it picks here: the batch in chunks
   of at most ceil(CONV_COLS / plane) samples, as even as can be (64 samples of at most 21 run as
   4 x 16); Conv2d y = W col and dW += dY col^T per chunk, dcol = W^T dY per part of the chunk of
   ceil(COL_COLS / plane) samples (the part col2im sums); ConvTranspose2d col = W^T X per part,
   dW += X dcol^T and dX = W dcol per chunk. A dW whose C k k is narrower than a tile (NR, read from
   gan.h's own kernel table) and shorter than M runs per part, transposed (gan__conv_dW), so its K is
   the part's columns. The
   shape's name ends in .nS, S the samples of its chunk or part. */
static void add_conv(const char *layer, int transpose, int in_ch, int out_ch, int k, int plane, int fwd, int dw,
                     int dx)
{
    int ckk = (transpose ? out_ch : in_ch) * k * k, other = transpose ? in_ch : out_ch;
    int most = (CONV_COLS + plane - 1) / plane, pieces, chunk, part = (COL_COLS + plane - 1) / plane, s0, t0;
    int narrow_dW = ckk < gan__isa()->nr && other > ckk;
    if (most > BATCH) most = BATCH;
    pieces = (BATCH + most - 1) / most;
    chunk = (BATCH + pieces - 1) / pieces;
    if (part > chunk) part = chunk;
    for (s0 = 0; s0 < BATCH; s0 += chunk) {
        int nc = BATCH - s0 < chunk ? BATCH - s0 : chunk, cols = nc * plane;
        if (!transpose) {
            add_conv_shape(layer, "fwd", 0, 0, out_ch, cols, ckk, 0, nc, fwd);
            if (!narrow_dW) add_conv_shape(layer, "dW", 0, 1, out_ch, ckk, cols, 1, nc, dw);
        } else {
            add_conv_shape(layer, "dx", 0, 0, in_ch, cols, ckk, 0, nc, dx);
            if (!narrow_dW) add_conv_shape(layer, "dW", 0, 1, in_ch, ckk, cols, 1, nc, dw);
        }
        for (t0 = 0; t0 < nc; t0 += part) {
            int nt = nc - t0 < part ? nc - t0 : part, pcols = nt * plane;
            if (!transpose) add_conv_shape(layer, "dx", 1, 0, ckk, pcols, out_ch, 0, nt, dx);
            else add_conv_shape(layer, "fwd", 1, 0, ckk, pcols, in_ch, 0, nt, fwd);
            if (narrow_dW) add_conv_shape(layer, "dW", 0, 1, other, ckk, pcols, 1, nt, dw);
        }
    }
}

/* The DCGAN's GEMMs with their counts in one dcgan.step: D runs forward 3 times (real, fake, fake
   for G), its weight gradients twice (the D step), its input gradients 3 times except the first
   layer's, needed only in the G step; G runs everything once, except the gradient for z. */
static void make_shapes(void)
{
    n_shapes = 0;
    add_linear("G.linear", LATENT, 128 * 7 * 7, 1, 1, 0);
    add_conv("G.convT1", 1, 128, 64, 4, 7 * 7, 1, 1, 1);
    add_conv("G.convT2", 1, 64, 1, 4, 14 * 14, 1, 1, 1);
    add_conv("D.conv1", 0, 1, 64, 4, 14 * 14, 3, 2, 1);
    add_conv("D.conv2", 0, 64, 128, 4, 7 * 7, 3, 2, 3);
    add_linear("D.linear", 128 * 7 * 7, 1, 3, 2, 3);
}

typedef struct {
    int col; /* COL_* */
    const gemm_shape *s;
    const gan_float *A, *B;
    gan_float *C;
} gemm_case;

static void run_gemm(void *ctx)
{
    gemm_case *g = (gemm_case *)ctx;
    const gemm_shape *s = g->s;
    /* Leading dimensions of row-major op(A) = M x K and op(B) = K x N as stored. */
    int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    if (g->col == COL_NAIVE) {
        gan_gemm_naive(s->ta, s->tb, s->M, s->N, s->K, 1, g->A, lda, g->B, ldb, s->beta, g->C, s->N);
    } else if (g->col == COL_OPENBLAS) {
#ifdef BENCH_OPENBLAS
#ifdef GAN_DOUBLE
        cblas_dgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans,
                    s->M, s->N, s->K, 1, g->A, lda, g->B, ldb, s->beta, g->C, s->N);
#else
        cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans,
                    s->M, s->N, s->K, 1, g->A, lda, g->B, ldb, s->beta, g->C, s->N);
#endif
#endif
    } else {
        gan_gemm(s->ta, s->tb, s->M, s->N, s->K, 1, g->A, lda, g->B, ldb, s->beta, g->C, s->N);
    }
}

static double flops_of(const gemm_shape *s)
{
    return 2.0 * s->M * s->N * s->K;
}

/* Times one shape with one implementation (ours: with the kernel set already forced); prints the
   figure and returns the median seconds. */
static double bench_gemm(int col, const gemm_shape *s, gan_rng *rng, const timing *t)
{
    gemm_case g;
    timing tn = *t;
    gan_float *A = alloc_floats((size_t)s->M * s->K, rng), *B = alloc_floats((size_t)s->K * s->N, rng);
    gan_float *C = alloc_floats((size_t)s->M * s->N, rng);
    char impl[40], extra[40] = "";
    double sec;
    int reps;
    g.col = col;
    g.s = s;
    g.A = A;
    g.B = B;
    g.C = C;
    tn.once_if_slow = col == COL_NAIVE;
    sec = time_median(run_gemm, &g, &tn, &reps);
    if (col == COL_NAIVE) snprintf(impl, sizeof impl, "naive");
    else if (col == COL_OPENBLAS) snprintf(impl, sizeof impl, "openblas");
    else snprintf(impl, sizeof impl, "ours isa=%s", gan_isa_name((gan_isa)(col - COL_OURS + GAN_ISA_BASELINE)));
    if (s->samples) snprintf(extra, sizeof extra, " samples=%d", s->samples);
    printf("gemm.gflops %.2f GFLOP/s impl=%s shape=%s ta=%d tb=%d M=%d N=%d K=%d%s per_step=%d reps=%d\n",
           flops_of(s) / sec * 1e-9, impl, s->shape, s->ta, s->tb, s->M, s->N, s->K, extra, s->per_step, reps);
    fflush(stdout);
    free(A);
    free(B);
    free(C);
    return sec;
}

/* Every implementation on one shape, into secs[COL_*] (0: not measured). naive_ok: run the naive one. */
static void bench_shape(const gemm_shape *s, int naive_ok, int have_openblas, const timing *t, gan_rng *rng,
                        double *secs)
{
    int col;
    for (col = 0; col < NCOLS; col++) {
        secs[col] = 0;
        if (col == COL_NAIVE && !naive_ok) continue;
        if (col == COL_OPENBLAS && !have_openblas) continue;
        if (col >= COL_OURS && col < COL_OPENBLAS) {
            gan_isa isa = (gan_isa)(col - COL_OURS + GAN_ISA_BASELINE);
            if (!gan_set_isa(isa)) continue; /* the skip was said once, at the start */
        }
        secs[col] = bench_gemm(col, s, rng, t);
    }
    gan_set_isa(GAN_ISA_AUTO);
}

static const char *col_name(int col, char *buf, size_t size)
{
    if (col == COL_NAIVE) snprintf(buf, size, "naive");
    else if (col == COL_OPENBLAS) snprintf(buf, size, "openblas");
    else snprintf(buf, size, "ours isa=%s", gan_isa_name((gan_isa)(col - COL_OURS + GAN_ISA_BASELINE)));
    return buf;
}

static void section_gemm(gan_rng *rng)
{
    const timing *t = opt.quick ? &t_gemm_quick : &t_gemm;
    static double secs[MAX_SHAPES][NCOLS];
    double sq_secs[3][NCOLS], naive512 = 0, step_flops = 0;
    int i, col, have_openblas = 0, k, n;
    gan_isa best = isa_auto();
    char name[40];

    gan_set_threads(1);
#ifdef BENCH_OPENBLAS
    /* One thread, as ours runs here: the comparison is of kernels, not of core counts. */
    openblas_set_num_threads(1);
    have_openblas = 1;
    {
        const char *ct = getenv("OPENBLAS_CORETYPE");
        printf("# openblas: %s; core %s; OPENBLAS_CORETYPE=%s; 1 thread\n", openblas_get_config(),
               openblas_get_corename(), ct ? ct : "unset");
    }
#else
    printf("# skip impl=openblas: built without OpenBLAS (make bench uses it when libopenblas-dev is installed)\n");
#endif
    for (k = GAN_ISA_BASELINE; k <= GAN_ISA_AVX512; k++)
        if (!gan_set_isa((gan_isa)k)) printf("# skip impl=ours isa=%s: %s\n", gan_isa_name((gan_isa)k), gan_last_error());
    gan_set_isa(GAN_ISA_AUTO);
    printf("# gemm: one thread; gan.h picks isa=%s by itself; the naive GEMM runs once on shapes where one call "
           "exceeds %.2f s\n", gan_isa_name(best), t->budget_s);
    fflush(stdout);

    make_shapes();
    for (i = 0; i < n_shapes; i++) {
        bench_shape(&shapes[i], 1, have_openblas, t, rng, secs[i]);
        step_flops += shapes[i].per_step * flops_of(&shapes[i]);
    }
    for (k = 0, n = 256; n <= 1024; n *= 2, k++) {
        gemm_shape s;
        memset(&s, 0, sizeof s);
        snprintf(s.shape, sizeof s.shape, "square%d", n);
        s.M = s.N = s.K = n;
        /* The naive loop grows as n^3 with no cache reuse; at 1024 it runs only if 512 was quick. */
        bench_shape(&s, n < 1024 || naive512 * 8 < 1.0, have_openblas, t, rng, sq_secs[k]);
        if (n == 512) naive512 = sq_secs[k][COL_NAIVE];
        if (n == 1024 && sq_secs[k][COL_NAIVE] == 0)
            printf("# skip impl=naive shape=square1024: about %.0f s a run (8 x the 512 one)\n", naive512 * 8);
    }

    /* FLOPs over seconds, each DCGAN shape counted as often as a step runs it. */
    printf("# gemm.dcgan_weighted: %d shapes, %.2f GFLOP of GEMM in one dcgan.step as counted here\n", n_shapes,
           step_flops * 1e-9);
    {
        double weighted[NCOLS];
        for (col = 0; col < NCOLS; col++) {
            double f = 0, s = 0;
            int all = 1;
            for (i = 0; i < n_shapes; i++) {
                if (!shapes[i].per_step) continue;
                if (secs[i][col] == 0) all = 0;
                f += shapes[i].per_step * flops_of(&shapes[i]);
                s += shapes[i].per_step * secs[i][col];
            }
            weighted[col] = all && s > 0 ? f / s * 1e-9 : 0;
            if (weighted[col] > 0)
                printf("gemm.dcgan_weighted %.2f GFLOP/s impl=%s shapes=%d gflop_per_step=%.2f\n", weighted[col],
                       col_name(col, name, sizeof name), n_shapes, f * 1e-9);
        }
        if (have_openblas) {
            int ours = COL_OURS + best - GAN_ISA_BASELINE;
            for (k = 0, n = 256; n <= 1024; n *= 2, k++)
                if (sq_secs[k][ours] > 0 && sq_secs[k][COL_OPENBLAS] > 0)
                    printf("gemm.ratio %.3f x what=ours/openblas isa=%s shape=square%d target=0.90\n",
                           sq_secs[k][COL_OPENBLAS] / sq_secs[k][ours], gan_isa_name(best), n);
            if (weighted[ours] > 0 && weighted[COL_OPENBLAS] > 0)
                printf("gemm.ratio %.3f x what=ours/openblas isa=%s shape=dcgan_weighted target=0.90\n",
                       weighted[ours] / weighted[COL_OPENBLAS], gan_isa_name(best));
        } else {
            printf("# skip gemm.ratio: built without OpenBLAS\n");
        }
    }
    fflush(stdout);
}

/* ---- the reference DCGAN ----------------------------------------------------------------------- */

static gan_net *make_G(gan_rng *rng)
{
    gan_layer g_layers[] = {
        gan_linear(LATENT, 128 * 7 * 7), gan_batchnorm(128 * 7 * 7), gan_relu(), gan_reshape(128, 7, 7),
        gan_conv_transpose2d(128, 64, 4, 2, 1, 0), gan_batchnorm(64), gan_relu(),
        gan_conv_transpose2d(64, 1, 4, 2, 1, 0), gan_tanh()
    };
    gan_net *G = gan_net_create(gan_chw(LATENT, 1, 1), g_layers, GAN_COUNT(g_layers), BATCH, rng);
    must(G != NULL, "gan_net_create(G)");
    return G;
}

/* D, or with critic = 1 the WGAN-GP critic: BatchNorm(128) replaced by LayerNorm, built from a graph
   with GAN_BUILD_PENALTY so gan_net_penalty has its memory. */
static gan_net *make_D(int critic, gan_rng *rng)
{
    gan_layer d_layers[] = {
        gan_conv2d(1, 64, 4, 2, 1), gan_leaky_relu(0.2f), gan_conv2d(64, 128, 4, 2, 1),
        critic ? gan_layernorm() : gan_batchnorm(128), gan_leaky_relu(0.2f), gan_flatten(),
        gan_linear(128 * 7 * 7, 1)
    };
    gan_net *D;
    if (!critic) {
        D = gan_net_create(gan_chw(1, 28, 28), d_layers, GAN_COUNT(d_layers), BATCH, rng);
    } else {
        gan_graph *g = gan_graph_new();
        must(g != NULL, "gan_graph_new");
        gan_chain(g, gan_input(g, gan_chw(1, 28, 28)), d_layers, GAN_COUNT(d_layers));
        D = gan_net_build(g, BATCH, GAN_BUILD_PENALTY, rng);
        gan_graph_free(g);
    }
    must(D != NULL, critic ? "gan_net_build(critic)" : "gan_net_create(D)");
    return D;
}

/* ---- 3. layers --------------------------------------------------------------------------------- */

typedef struct {
    gan_layer *layer;
    gan_tensor x, y, dx, dy;
} layer_case;

static void run_layer_forward(void *ctx)
{
    layer_case *c = (layer_case *)ctx;
    gan_layer_forward(c->layer, &c->y, &c->x, 1);
}

static void run_layer_backward(void *ctx)
{
    layer_case *c = (layer_case *)ctx;
    gan_layer_backward(c->layer, &c->dx, &c->dy, &c->x, &c->y);
}

static const char *kind_name(gan_layer_kind kind)
{
    switch (kind) {
    case GAN_LINEAR: return "linear";
    case GAN_CONV2D: return "conv2d";
    case GAN_CONV_TRANSPOSE2D: return "conv_transpose2d";
    case GAN_BATCHNORM: return "batchnorm";
    case GAN_LAYERNORM: return "layernorm";
    case GAN_RELU: return "relu";
    case GAN_LEAKY_RELU: return "leaky_relu";
    case GAN_TANH: return "tanh";
    case GAN_SIGMOID: return "sigmoid";
    case GAN_DROPOUT: return "dropout";
    case GAN_RESHAPE: return "reshape";
    case GAN_FLATTEN: return "flatten";
    case GAN_UPSAMPLE2X: return "upsample2x";
    default: return "other"; /* the reference DCGAN has no other kind */
    }
}

static gan_tensor batch_of(gan_float *data, gan_shape s)
{
    return gan_tensor_make(data, BATCH, s.c, s.h, s.w);
}

/* Times each layer of net on its own, in training mode, on activations of our own: one forward of x
   layer by layer through buffers we hold (the network's arena reuses its memory), the gradients
   into two buffers of our own. */
static void bench_layers(const char *name, gan_net *net, const gan_tensor *x, gan_rng *rng, const timing *t)
{
    size_t most = 0;
    gan_float *dx, *dy, **acts;
    int i, reps_f, reps_b;

    acts = (gan_float **)xmalloc(((size_t)net->n_layers + 1) * sizeof *acts);
    acts[0] = x->data;
    for (i = 0; i < net->n_layers; i++) {
        gan_layer *l = gan_net_layer(net, i);
        size_t in = (size_t)l->in.c * l->in.h * l->in.w, out = (size_t)l->out.c * l->out.h * l->out.w;
        gan_tensor xi = batch_of(acts[i], l->in), yi;
        if (in > most) most = in;
        if (out > most) most = out;
        acts[i + 1] = alloc_floats(out * BATCH, rng);
        yi = batch_of(acts[i + 1], l->out);
        gan_layer_forward(l, &yi, &xi, 1);
    }
    dx = alloc_floats(most * BATCH, rng);
    dy = alloc_floats(most * BATCH, rng);
    for (i = 0; i < net->n_layers; i++) {
        layer_case c;
        gan_layer *l = gan_net_layer(net, i);
        double fwd, bwd;
        c.layer = l;
        c.x = batch_of(acts[i], l->in);
        c.y = batch_of(acts[i + 1], l->out);
        c.dx = batch_of(dx, l->in);
        c.dy = batch_of(dy, l->out);
        fwd = time_median(run_layer_forward, &c, t, &reps_f);
        bwd = time_median(run_layer_backward, &c, t, &reps_b);
        printf("layer.ms %.3f ms net=%s layer=%d kind=%s pass=fwd batch=%d threads=1 in=%dx%dx%d out=%dx%dx%d "
               "reps=%d\n", fwd * 1e3, name, i, kind_name(l->kind), BATCH, l->in.c, l->in.h, l->in.w, l->out.c,
               l->out.h, l->out.w, reps_f);
        printf("layer.ms %.3f ms net=%s layer=%d kind=%s pass=bwd batch=%d threads=1 in=%dx%dx%d out=%dx%dx%d "
               "reps=%d\n", bwd * 1e3, name, i, kind_name(l->kind), BATCH, l->in.c, l->in.h, l->in.w, l->out.c,
               l->out.h, l->out.w, reps_b);
        fflush(stdout);
    }
    for (i = 1; i <= net->n_layers; i++) free(acts[i]);
    free(acts);
    free(dx);
    free(dy);
}

typedef struct {
    gan_net *net;
    const gan_tensor *x, *dy;
} net_case;

static void run_net(void *ctx)
{
    net_case *c = (net_case *)ctx;
    gan_net_forward(c->net, c->x);
    gan_net_backward(c->net, c->dy);
}

static void bench_net(const char *name, gan_net *net, const gan_tensor *x, const gan_tensor *dy, const timing *t)
{
    net_case c;
    int reps;
    double s;
    c.net = net;
    c.x = x;
    c.dy = dy;
    s = time_median(run_net, &c, t, &reps);
    printf("net.ms %.3f ms net=%s pass=fwd+bwd batch=%d threads=1 reps=%d\n", s * 1e3, name, BATCH, reps);
    fflush(stdout);
}

static void section_layers(gan_rng *rng)
{
    const timing *t = opt.quick ? &t_layer_quick : &t_layer;
    gan_net *G, *D;
    gan_float *z, *real, *dimg, *dlogit;
    gan_tensor tz, treal, tdimg, tdlogit;

    gan_set_threads(1);
    G = make_G(rng);
    D = make_D(0, rng);
    gan_net_init(G, GAN_INIT_DCGAN, rng);
    gan_net_init(D, GAN_INIT_DCGAN, rng);
    z = alloc_floats((size_t)BATCH * LATENT, rng);
    gan_fill_normal(z, (size_t)BATCH * LATENT, 0, 1, rng);
    real = alloc_floats((size_t)BATCH * IMG, rng);
    dimg = alloc_floats((size_t)BATCH * IMG, rng);
    dlogit = alloc_floats(BATCH, rng);
    tz = gan_tensor_make(z, BATCH, LATENT, 1, 1);
    treal = gan_tensor_make(real, BATCH, 1, 28, 28);
    tdimg = gan_tensor_make(dimg, BATCH, 1, 28, 28);
    tdlogit = gan_tensor_make(dlogit, BATCH, 1, 1, 1);

    bench_layers("G", G, &tz, rng, t);
    bench_layers("D", D, &treal, rng, t);
    bench_net("G", G, &tz, &tdimg, t);
    bench_net("D", D, &treal, &tdlogit, t);

    gan_net_free(G);
    gan_net_free(D);
    free(z);
    free(real);
    free(dimg);
    free(dlogit);
}

/* ---- 4. the DCGAN step ------------------------------------------------------------------------- */

typedef struct {
    gan_net *G, *D;
    gan_rng rng;
    gan_float *z, *dlogit;
    gan_tensor tz, real, dl; /* real.data: the batch of this step, set by the caller */
} dcgan_case;

static void dcgan_init(dcgan_case *c, gan_rng *rng)
{
    c->G = make_G(rng);
    c->D = make_D(0, rng);
    gan_net_init(c->G, GAN_INIT_DCGAN, rng);
    gan_net_init(c->D, GAN_INIT_DCGAN, rng);
    gan_net_set_optim(c->G, gan_adam(2e-4f, 0.5f, 0.999f));
    gan_net_set_optim(c->D, gan_adam(2e-4f, 0.5f, 0.999f));
    must(gan_net_share_scratch(c->G, c->D), "gan_net_share_scratch"); /* as gan_trainer_create does */
    c->rng = *rng;
    c->z = (gan_float *)xmalloc((size_t)BATCH * LATENT * sizeof(gan_float));
    c->dlogit = (gan_float *)xmalloc(BATCH * sizeof(gan_float));
    c->tz = gan_tensor_make(c->z, BATCH, LATENT, 1, 1);
    c->real = gan_tensor_make(NULL, BATCH, 1, 28, 28);
    c->dl = gan_tensor_make(c->dlogit, BATCH, 1, 1, 1);
}

static void dcgan_free(dcgan_case *c)
{
    gan_net_free(c->G);
    gan_net_free(c->D);
    free(c->z);
    free(c->dlogit);
}

/* One training step doing only the work it needs (see the header, section 4). */
static void dcgan_step(dcgan_case *c)
{
    const gan_tensor *fake, *logits, *dfake;

    gan_fill_normal(c->z, (size_t)BATCH * LATENT, 0, 1, &c->rng);
    fake = gan_net_forward(c->G, &c->tz); /* once: D reads it twice, G's backward once */
    must(fake != NULL, "G forward");

    /* D step: real images want no input gradient, nor do the fakes (G is not being trained here). */
    gan_net_zero_grad(c->D);
    logits = gan_net_forward(c->D, &c->real);
    must(logits != NULL, "D forward (real)");
    gan_bce_logits_const(c->dlogit, logits->data, 1, BATCH);
    must(gan_net_backward_multi(c->D, &c->dl, GAN_GRAD_PARAMS), "D backward (real)");
    logits = gan_net_forward(c->D, fake);
    must(logits != NULL, "D forward (fake)");
    gan_bce_logits_const(c->dlogit, logits->data, 0, BATCH);
    must(gan_net_backward_multi(c->D, &c->dl, GAN_GRAD_PARAMS), "D backward (fake)");
    gan_net_step(c->D);

    /* G step: D is not updated here, so only its input gradient; G needs no gradient for z. */
    gan_net_zero_grad(c->G);
    logits = gan_net_forward(c->D, fake);
    must(logits != NULL, "D forward (G step)");
    gan_bce_logits_const(c->dlogit, logits->data, 1, BATCH); /* non-saturating: fakes labelled real */
    dfake = gan_net_backward_input(c->D, &c->dl);
    must(dfake != NULL, "D backward_input");
    must(gan_net_backward_multi(c->G, dfake, GAN_GRAD_PARAMS), "G backward");
    gan_net_step(c->G);
}

typedef struct {
    dcgan_case dc;
    gan_float *pool; /* POOL batches of real images */
    int next;
} dcgan_bench;

static void run_dcgan(void *ctx)
{
    dcgan_bench *b = (dcgan_bench *)ctx;
    b->dc.real.data = b->pool + (size_t)(b->next++ % POOL) * BATCH * IMG;
    dcgan_step(&b->dc);
}

/* The step through gan_train_step, real batches copied in from the pool by its callback. */
typedef struct {
    gan_trainer *t;
    const gan_float *pool;
    int next;
} train_bench;

static int pool_real(void *user, gan_float *x, gan_float *labels, int n)
{
    train_bench *b = (train_bench *)user;
    (void)labels;
    memcpy(x, b->pool + (size_t)(b->next++ % POOL) * BATCH * IMG, (size_t)n * IMG * sizeof(gan_float));
    return 1;
}

static void run_train_step(void *ctx)
{
    train_bench *b = (train_bench *)ctx;
    must(gan_train_step(b->t, NULL, pool_real, b), "gan_train_step");
}

/* ---- 5. the WGAN-GP generator iteration -------------------------------------------------------- */

typedef struct {
    gan_net *G, *C;
    gan_rng rng;
    gan_float *pool, *z, *xhat, *minus, *plus; /* minus, plus: d(-mean)/dy and d(+mean)/dy */
    gan_tensor tz, txhat, tminus, tplus;
    int next;
    double critic_s[MAX_REPS * CRITIC_STEPS + CRITIC_STEPS]; /* each critic step's seconds */
    int n_critic;
} wgan_case;

static void wgan_critic_step(wgan_case *c)
{
    const gan_tensor *fake, *out;
    gan_tensor real;
    gan_float gp, eps;
    int i;
    size_t j;

    real = gan_tensor_make(c->pool + (size_t)(c->next++ % POOL) * BATCH * IMG, BATCH, 1, 28, 28);
    gan_fill_normal(c->z, (size_t)BATCH * LATENT, 0, 1, &c->rng);
    fake = gan_net_forward(c->G, &c->tz); /* training mode, no backward: G is not trained here */
    must(fake != NULL, "G forward (critic step)");

    gan_net_zero_grad(c->C);
    out = gan_net_forward(c->C, &real);
    must(out != NULL, "critic forward (real)");
    must(gan_net_backward_multi(c->C, &c->tminus, GAN_GRAD_PARAMS), "critic backward (real)");
    out = gan_net_forward(c->C, fake);
    must(out != NULL, "critic forward (fake)");
    must(gan_net_backward_multi(c->C, &c->tplus, GAN_GRAD_PARAMS), "critic backward (fake)");
    for (i = 0; i < BATCH; i++) {
        const gan_float *r = real.data + (size_t)i * IMG, *f = fake->data + (size_t)i * IMG;
        gan_float *x = c->xhat + (size_t)i * IMG;
        eps = gan_rng_uniform(&c->rng);
        for (j = 0; j < IMG; j++) x[j] = eps * r[j] + (1 - eps) * f[j];
    }
    must(gan_net_penalty(c->C, &gp, &c->txhat, 0, GAN_PENALTY_WGAN_GP, 10), "gan_net_penalty");
    gan_net_step(c->C);
}

static void run_wgan(void *ctx)
{
    wgan_case *c = (wgan_case *)ctx;
    const gan_tensor *fake, *out, *dfake;
    int k;

    for (k = 0; k < CRITIC_STEPS; k++) {
        double t0 = clock_s();
        wgan_critic_step(c);
        if (c->n_critic < (int)(sizeof c->critic_s / sizeof c->critic_s[0])) c->critic_s[c->n_critic++] = clock_s() - t0;
    }
    gan_net_zero_grad(c->G);
    gan_fill_normal(c->z, (size_t)BATCH * LATENT, 0, 1, &c->rng);
    fake = gan_net_forward(c->G, &c->tz);
    must(fake != NULL, "G forward (G step)");
    out = gan_net_forward(c->C, fake);
    must(out != NULL, "critic forward (G step)");
    dfake = gan_net_backward_input(c->C, &c->tminus); /* loss -mean C(G(z)) */
    must(dfake != NULL, "critic backward_input");
    must(gan_net_backward_multi(c->G, dfake, GAN_GRAD_PARAMS), "G backward (G step)");
    gan_net_step(c->G);
}

/* ---- 4 and 5: at each thread count ------------------------------------------------------------- */

/* The three figures of one step benchmark at one thread count. */
static void print_step(const char *name, const char *unit_name, double sec, int threads, int reps, double gflop,
                       gan_isa isa)
{
    double peak = peak_at(isa, threads);
    printf("%s.%s %.2f ms threads=%d batch=%d reps=%d\n", name, unit_name, sec * 1e3, threads, BATCH, reps);
    printf("%s.imgs_per_s %.1f img/s threads=%d batch=%d\n", name, BATCH / sec, threads, BATCH);
    if (peak > 0)
        printf("%s.pct_peak %.1f %% threads=%d gflop=%.2f gflops=%.1f peak_gflops=%.1f isa=%s\n", name,
               100 * gflop / sec / peak, threads, gflop, gflop / sec, peak, gan_isa_name(isa));
    else
        printf("# skip %s.pct_peak threads=%d: no peak measured for isa=%s at %d thread(s)\n", name, threads,
               gan_isa_name(isa), threads);
    fflush(stdout);
}

static void print_scaling(const char *name, double t1, double t2, gan_isa isa)
{
    double peak_speedup = peak_at(isa, 1) > 0 ? peak_at(isa, 2) / peak_at(isa, 1) : 0;
    printf("%s.speedup %.2f x threads=1->2\n", name, t1 / t2);
    if (peak_speedup > 0)
        printf("%s.scaling %.2f of_peak_speedup speedup=%.2f peak_speedup=%.2f isa=%s target=0.9\n", name,
               t1 / t2 / peak_speedup, t1 / t2, peak_speedup, gan_isa_name(isa));
    else
        printf("# skip %s.scaling: the peak kernel's 1->2 speed-up was not measured\n", name);
    fflush(stdout);
}

static void section_steps(gan_rng *rng)
{
    const timing *ts = opt.quick ? &t_step_quick : &t_step, *tw = opt.quick ? &t_wgan_quick : &t_wgan;
    int counts[2], n_counts = 0, i, reps, online = (int)sysconf(_SC_NPROCESSORS_ONLN);
    double dcgan_s[2] = { 0, 0 }, wgan_s[2] = { 0, 0 };
    gan_isa isa = isa_auto();
    gan_float *pool = alloc_floats((size_t)POOL * BATCH * IMG, rng);
    dcgan_bench db;
    wgan_case wc;

    if (opt.threads) {
        counts[n_counts++] = opt.threads;
    } else {
        counts[n_counts++] = 1;
        if (online >= 2) counts[n_counts++] = 2;
        else printf("# skip threads=2: %d CPU online\n", online);
    }
    printf("# steps: isa=%s; %s\n", gan_isa_name(isa),
           opt.threads ? "--threads given: no speed-up figures" : "threads=1, then threads=2");

    memset(&db, 0, sizeof db);
    dcgan_init(&db.dc, rng);
    db.pool = pool;
    for (i = 0; i < n_counts; i++) {
        int got = gan_set_threads(counts[i]);
        if (got != counts[i]) printf("# warning: gan_set_threads(%d) gave %d: %s\n", counts[i], got, gan_last_error());
        dcgan_s[i] = time_median(run_dcgan, &db, ts, &reps);
        print_step("dcgan", "step", dcgan_s[i], counts[i], reps, DCGAN_GFLOP, isa);
    }
    if (n_counts == 2 && counts[0] == 1 && counts[1] == 2) print_scaling("dcgan", dcgan_s[0], dcgan_s[1], isa);
    dcgan_free(&db.dc);
    {
        gan_train_config cfg = gan_default_train(GAN_FAMILY_NONSATURATING);
        gan_net *G = make_G(rng), *D = make_D(0, rng);
        train_bench tb;
        gan_net_init(G, GAN_INIT_DCGAN, rng);
        gan_net_init(D, GAN_INIT_DCGAN, rng);
        cfg.batch = BATCH;
        tb.t = gan_trainer_create(G, D, NULL, &cfg);
        must(tb.t != NULL, "gan_trainer_create");
        tb.pool = pool;
        tb.next = 0;
        for (i = 0; i < n_counts; i++) {
            double sec;
            gan_set_threads(counts[i]);
            sec = time_median(run_train_step, &tb, ts, &reps);
            printf("dcgan.train_step %.2f ms threads=%d batch=%d reps=%d what=gan_train_step vs_step=%.2f\n", sec * 1e3,
                   counts[i], BATCH, reps, sec / dcgan_s[i]);
            fflush(stdout);
        }
        gan_trainer_free(tb.t);
        gan_net_free(G);
        gan_net_free(D);
    }

    memset(&wc, 0, sizeof wc);
    wc.G = make_G(rng);
    wc.C = make_D(1, rng);
    gan_net_set_optim(wc.G, gan_adam(1e-4f, 0, 0.9f));
    gan_net_set_optim(wc.C, gan_adam(1e-4f, 0, 0.9f));
    must(gan_net_share_scratch(wc.G, wc.C), "gan_net_share_scratch");
    wc.rng = *rng;
    wc.pool = pool;
    wc.z = (gan_float *)xmalloc((size_t)BATCH * LATENT * sizeof(gan_float));
    wc.xhat = (gan_float *)xmalloc((size_t)BATCH * IMG * sizeof(gan_float));
    wc.minus = (gan_float *)xmalloc(BATCH * sizeof(gan_float));
    wc.plus = (gan_float *)xmalloc(BATCH * sizeof(gan_float));
    for (i = 0; i < BATCH; i++) {
        wc.minus[i] = -(gan_float)1 / BATCH;
        wc.plus[i] = (gan_float)1 / BATCH;
    }
    wc.tz = gan_tensor_make(wc.z, BATCH, LATENT, 1, 1);
    wc.txhat = gan_tensor_make(wc.xhat, BATCH, 1, 28, 28);
    wc.tminus = gan_tensor_make(wc.minus, BATCH, 1, 1, 1);
    wc.tplus = gan_tensor_make(wc.plus, BATCH, 1, 1, 1);
    for (i = 0; i < n_counts; i++) {
        int got = gan_set_threads(counts[i]);
        if (got != counts[i]) printf("# warning: gan_set_threads(%d) gave %d: %s\n", counts[i], got, gan_last_error());
        wc.n_critic = 0;
        wgan_s[i] = time_median(run_wgan, &wc, tw, &reps);
        print_step("wgan_gp", "g_iter", wgan_s[i], counts[i], reps, WGAN_GP_GFLOP, isa);
        /* the critic steps of the timed iterations (the first CRITIC_STEPS are the untimed call's) */
        if (wc.n_critic > CRITIC_STEPS)
            printf("wgan_gp.critic_step %.2f ms threads=%d batch=%d reps=%d\n",
                   median(wc.critic_s + CRITIC_STEPS, wc.n_critic - CRITIC_STEPS) * 1e3, counts[i], BATCH,
                   wc.n_critic - CRITIC_STEPS);
    }
    if (n_counts == 2 && counts[0] == 1 && counts[1] == 2) print_scaling("wgan_gp", wgan_s[0], wgan_s[1], isa);
    gan_net_free(wc.G);
    gan_net_free(wc.C);
    free(wc.z);
    free(wc.xhat);
    free(wc.minus);
    free(wc.plus);
    free(pool);
    gan_set_threads(1);
}

/* ---- 6. peak resident memory of training ------------------------------------------------------- */

/* The child's work (--rss-child THREADS): RSS_STEPS dcgan.steps over RSS_IMAGES images held as bytes.
   Its one line of output goes to the parent through a pipe. */
static int rss_child(int threads)
{
    gan_rng rng;
    dcgan_case dc;
    unsigned char *images;
    gan_float *batch;
    size_t n_bytes = (size_t)RSS_IMAGES * IMG, j;
    double t0;
    int step, i, got;

    gan_rng_seed(&rng, 7);
    got = gan_set_threads(threads);
    images = (unsigned char *)xmalloc(n_bytes);
    for (j = 0; j < n_bytes; j++) images[j] = (unsigned char)(gan_rng_u32(&rng) >> 24);
    batch = (gan_float *)xmalloc((size_t)BATCH * IMG * sizeof(gan_float));
    dcgan_init(&dc, &rng);
    dc.real.data = batch;
    t0 = clock_s();
    for (step = 0; step < RSS_STEPS; step++) {
        for (i = 0; i < BATCH; i++) {
            const unsigned char *img = images + (size_t)((step * BATCH + i) % RSS_IMAGES) * IMG;
            gan_float *x = batch + (size_t)i * IMG;
            for (j = 0; j < IMG; j++) x[j] = (gan_float)img[j] * (gan_float)(2.0 / 255) - 1;
        }
        dcgan_step(&dc);
    }
    printf("# dcgan.peak_rss child: %d steps in %.1f s at %d thread(s); images %.1f MiB as bytes, arenas G %.1f MiB "
           "and D %.1f MiB (their call-local blocks shared: gan_net_share_scratch)\n", RSS_STEPS, clock_s() - t0, got, n_bytes / 1048576.0,
           gan_net_arena_bytes(dc.G) / 1048576.0, gan_net_arena_bytes(dc.D) / 1048576.0);
    fflush(stdout);
    dcgan_free(&dc);
    free(batch);
    free(images);
    return 0;
}

static char rss_report[1024]; /* what section 6 prints, measured at the start */

static void measure_rss(const char *argv0)
{
    int fd[2], status, threads = opt.threads; /* 0: one per core */
    char arg[16], out[512];
    size_t got = 0;
    ssize_t r;
    struct rusage ru, self;
    pid_t pid;

    getrusage(RUSAGE_SELF, &self);
    if (pipe(fd) != 0) {
        snprintf(rss_report, sizeof rss_report, "# skip dcgan.peak_rss: pipe: %s\n", strerror(errno));
        return;
    }
    fflush(stdout);
    snprintf(arg, sizeof arg, "%d", threads);
    pid = fork();
    if (pid < 0) {
        snprintf(rss_report, sizeof rss_report, "# skip dcgan.peak_rss: fork: %s\n", strerror(errno));
        close(fd[0]);
        close(fd[1]);
        return;
    }
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        setenv("OPENBLAS_NUM_THREADS", "1", 1); /* a bench_openblas child loads OpenBLAS but never calls it */
        if (opt.rss_exe) execl(opt.rss_exe, opt.rss_exe, "--rss-child", arg, (char *)NULL);
        execl("/proc/self/exe", argv0, "--rss-child", arg, (char *)NULL);
        execl(argv0, argv0, "--rss-child", arg, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    while (got + 1 < sizeof out && (r = read(fd[0], out + got, sizeof out - 1 - got)) > 0) got += (size_t)r;
    out[got] = 0;
    close(fd[0]);
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(rss_report, sizeof rss_report, "%s# skip dcgan.peak_rss: the child failed (status %d)\n", out,
                 status);
        return;
    }
    /* ru_maxrss is in KiB on Linux */
    snprintf(rss_report, sizeof rss_report,
             "%sdcgan.peak_rss %.1f MiB steps=%d images=%d storage=uint8 batch=%d threads=%s target=48 "
             "parent_at_fork=%.1f\n", out, ru.ru_maxrss / 1024.0, RSS_STEPS, RSS_IMAGES, BATCH,
             threads ? arg : "cores", self.ru_maxrss / 1024.0);
}

/* ---- 7. compile time --------------------------------------------------------------------------- */

static void section_build(void)
{
    const char *src = "examples/dcgan.c", *wanted = "dcgan.c";
    char bin[] = "/tmp/gan_bench_cc_XXXXXX";
    int fd, status;
    double t0, sec;
    pid_t pid;

    if (access(src, R_OK) != 0) {
        printf("# skip build.s: no examples/dcgan.c here (run from the repository root)\n");
        return;
    }
    fd = mkstemp(bin);
    if (fd < 0) {
        printf("# skip build.s: mkstemp: %s\n", strerror(errno));
        return;
    }
    close(fd);
    fflush(stdout);
    t0 = clock_s();
    pid = fork();
    if (pid == 0) {
        execlp("cc", "cc", "-O2", src, "-o", bin, "-lm", (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("# skip build.s: cc -O2 %s failed\n", src);
        unlink(bin);
        return;
    }
    sec = clock_s() - t0;
    unlink(bin);
    printf("build.s %.2f s what=cc-O2 example=%s wanted=%s reps=1\n", sec, strrchr(src, '/') + 1, wanted);
    fflush(stdout);
}

/* ---- main -------------------------------------------------------------------------------------- */

static int parse_only(const char *list)
{
    static const struct {
        const char *name;
        int bit;
    } names[] = { { "peak", SEC_PEAK }, { "gemm", SEC_GEMM }, { "layers", SEC_LAYERS },
                  { "step", SEC_STEP }, { "rss", SEC_RSS },   { "build", SEC_BUILD } };
    int bits = 0, i;
    while (*list) {
        size_t n = strcspn(list, ",");
        for (i = 0; i < GAN_COUNT(names); i++)
            if (strlen(names[i].name) == n && strncmp(names[i].name, list, n) == 0) break;
        if (i == GAN_COUNT(names)) return 0;
        bits |= names[i].bit;
        list += n;
        if (*list == ',') list++;
    }
    return bits;
}

static int usage(const char *argv0)
{
    fprintf(stderr, "usage: %s [--quick] [--threads N] [--only peak,gemm,layers,step,rss,build] [--rss-exe PATH]\n",
            argv0);
    return 2;
}

int main(int argc, char **argv)
{
    gan_rng rng;
    char model[128];
    double start = clock_s();
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            opt.quick = 1;
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            opt.threads = atoi(argv[++i]);
            if (opt.threads < 1) return usage(argv[0]);
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            opt.only = parse_only(argv[++i]);
            if (!opt.only) return usage(argv[0]);
        } else if (strcmp(argv[i], "--rss-exe") == 0 && i + 1 < argc) {
            opt.rss_exe = argv[++i];
        } else if (strcmp(argv[i], "--rss-child") == 0 && i + 1 < argc) {
            return rss_child(atoi(argv[++i]));
        } else {
            return usage(argv[0]);
        }
    }
    if (opt.only & SEC_STEP) opt.only |= SEC_PEAK;

    cpu_model(model, sizeof model);
    printf("# gan.h %d.%d.%d bench: medians (reps= each), gan_float of %d bytes; cpu=\"%s\" cores=%d load1=%.2f%s\n",
           GAN_VERSION_MAJOR, GAN_VERSION_MINOR, GAN_VERSION_PATCH, (int)sizeof(gan_float), model,
           (int)sysconf(_SC_NPROCESSORS_ONLN), load1(), opt.quick ? " --quick" : "");
    fflush(stdout);

    /* First, while this process is small (see the header, section 6). */
    if (opt.only & SEC_RSS) measure_rss(argv[0]);

    gan_rng_seed(&rng, 42);
    gan_set_threads(1);
    if (opt.only & SEC_PEAK) measure_peak();
    if (opt.only & SEC_GEMM) section_gemm(&rng);
    if (opt.only & SEC_LAYERS) section_layers(&rng);
    if (opt.only & SEC_STEP) section_steps(&rng);
    if (opt.only & SEC_RSS) {
        fputs(rss_report, stdout);
        fflush(stdout);
    }
    if (opt.only & SEC_BUILD) section_build();
    printf("# bench done in %.0f s, load1=%.2f\n", clock_s() - start, load1());
    return 0;
}
