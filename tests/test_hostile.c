/* tests/test_hostile.c - what a hostile caller gets from a debug build (asserts on; its twin
   tests/test_release.c is the NDEBUG build). The issue "Reliability" asks that every misuse end in
   one of two ways, never a third: a programmer error stops at GAN_ASSERT (SIGABRT, with the failed
   condition on stderr), and a runtime failure returns NULL or 0 with gan_last_error() set. A
   segfault, a heap overflow, a NaN where a limit exists or a silent success is a hole.

     1. NULL where a pointer is required (the net accessors and calls, the rng, the fills, the GEMM,
        im2col, one layer on its own): each call must die by SIGABRT, as "ERRORS" in gan.h's doc
        block promises for NULL. gan_net_free(NULL) is free(NULL): it must do nothing.
     2. Sizes that wrap size_t (Linear(INT_MAX, INT_MAX), a LayerNorm over 2^62 values, a ReLU whose
        max_batch x C x H x W is 2^64): NULL and a message, with no absurd allocation tried.
     3. gan_net_step on a network without trainable parameters does nothing.
     4. BCE-with-logits and the adversarial losses at infinite logits: their limits, never NaN.
     5. Further probes of a hostile user: the softmax cross-entropy at infinite logits,
        gan_grid_size with no columns, counts near INT_MAX that a call multiplies in int
        (gan_net_infer's chunks, gan_eval_modes' 2 k, gan_trainer_create's channels times pack),
        networks that do not fit a trainer, a loader asked for more than its set holds.

   Every call that may crash runs in a child process (fork), so one hole does not hide the others,
   and its stderr is caught to say what happened. The children run single-threaded: the parent
   calls gan_set_threads(1) before any fork, so no child inherits a pool whose workers it lacks. */
#define _POSIX_C_SOURCE 200809L /* fork, pipe, dup2, alarm, waitpid under -std=c99 */
#define _DEFAULT_SOURCE         /* and glibc's MAP_ANONYMOUS, MAP_NORESERVE */

#include <stdlib.h>

/* The allocator the library sees: it remembers the largest request and refuses any above
   ABSURD_BYTES, so a plan that should have been refused before allocating cannot pass as "out of
   memory" (and a test cannot make the machine swap). */
#define ABSURD_BYTES ((size_t)256 << 20)
static size_t largest_request;
static void *capped_malloc(size_t n)
{
    if (n > largest_request) largest_request = n;
    return n > ABSURD_BYTES ? NULL : malloc(n);
}
#define GAN_MALLOC(n) capped_malloc(n)
#define GAN_FREE(p) free(p)

#define GAN_IMPLEMENTATION
#include "../gan.h"
#include "test.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#if defined(__unix__) || defined(__APPLE__)
#include <signal.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif
#define HAVE_FORK 1
#else
#define HAVE_FORK 0
#endif

/* ---- children ---------------------------------------------------------------------------------- */

/* A child that is still running after this many seconds is killed by SIGALRM (a hang). */
#define CHILD_SECONDS 10
/* A child whose function returned exits with RETURNED + its return value (0: all went as it wanted;
   otherwise the function says why on stderr), so a return is told apart from an exit(1) of a
   sanitizer or a handler. */
#define RETURNED 100

typedef int (*child_fn)(void *arg);

typedef struct child_result {
    int ran;          /* 0: fork or pipe failed */
    int signaled, sig; /* killed by a signal */
    int exited, code;  /* exited with a status */
    char err[4096];    /* what it wrote to stderr (the start of it) */
} child_result;

#if HAVE_FORK
static void run_child(child_fn fn, void *arg, child_result *r)
{
    int fds[2], status = 0;
    size_t len = 0;
    pid_t pid;
    memset(r, 0, sizeof *r);
    fflush(stdout);
    fflush(stderr);
    if (pipe(fds) != 0) return;
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        int rc;
        close(fds[0]);
        dup2(fds[1], 2);
        close(fds[1]);
        alarm(CHILD_SECONDS);
        rc = fn(arg);
        fflush(stderr);
        _exit(RETURNED + rc);
    }
    close(fds[1]);
    for (;;) { /* read all of it, keeping the start: a child blocked on a full pipe never ends */
        char scratch[512];
        ssize_t got = len + 1 < sizeof r->err ? read(fds[0], r->err + len, sizeof r->err - 1 - len)
                                              : read(fds[0], scratch, sizeof scratch);
        if (got <= 0) break;
        if (len + 1 < sizeof r->err) len += (size_t)got;
    }
    r->err[len] = 0;
    close(fds[0]);
    waitpid(pid, &status, 0);
    r->ran = 1;
    r->signaled = WIFSIGNALED(status);
    r->sig = r->signaled ? WTERMSIG(status) : 0;
    r->exited = WIFEXITED(status);
    r->code = r->exited ? WEXITSTATUS(status) : 0;
}
#endif

static const char *signal_name(int sig)
{
#if HAVE_FORK
    switch (sig) {
    case SIGABRT: return "SIGABRT";
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGALRM: return "SIGALRM (a hang)";
    case SIGKILL: return "SIGKILL";
    }
#endif
    (void)sig;
    return "a signal";
}

/* A sanitizer's report in the child's stderr: a heap overflow, a wild read, undefined behaviour. */
static int sanitizer_spoke(const child_result *r)
{
    return strstr(r->err, "Sanitizer") != NULL || strstr(r->err, "runtime error:") != NULL;
}

/* The first line of the child's stderr, for a report (static storage, one at a time). */
static const char *first_line(const child_result *r)
{
    static char line[200];
    const char *s = r->err;
    size_t n;
    if (sanitizer_spoke(r)) { /* the report's own headline is more telling than what came before it */
        const char *a = strstr(r->err, "ERROR: "), *u = strstr(r->err, "runtime error:");
        s = a ? a : u ? u : s;
    }
    n = strcspn(s, "\n");
    if (n >= sizeof line) n = sizeof line - 1;
    memcpy(line, s, n);
    line[n] = 0;
    return n ? line : "(nothing on stderr)";
}

/* What became of the child, in words (static storage, one at a time). */
static const char *fate(const child_result *r)
{
    static char text[320];
    if (r->signaled)
        snprintf(text, sizeof text, "killed by %s; stderr: %s", signal_name(r->sig), first_line(r));
    else if (r->exited && r->code == RETURNED)
        snprintf(text, sizeof text, "returned normally%s%s", sanitizer_spoke(r) ? "; stderr: " : "",
                 sanitizer_spoke(r) ? first_line(r) : "");
    else if (r->exited && r->code > RETURNED)
        snprintf(text, sizeof text, "returned, wrongly: %s", first_line(r));
    else
        snprintf(text, sizeof text, "exited with status %d; stderr: %s", r->code, first_line(r));
    return text;
}

/* fn(arg) must stop at an assert: SIGABRT, with the failed condition on stderr. */
static void expect_death(child_fn fn, void *arg, const char *what)
{
#if HAVE_FORK
    child_result r;
    char name[256];
    snprintf(name, sizeof name, "hostile: %s stops at an assert (SIGABRT)", what);
    run_child(fn, arg, &r);
    if (!r.ran) {
        test_skip(name, "fork or pipe failed");
        return;
    }
    test_report(name, r.signaled && r.sig == SIGABRT && !sanitizer_spoke(&r) && strlen(r.err) > 0, "%s", fate(&r));
#else
    (void)fn;
    (void)arg;
    test_skip(what, "no fork() here to contain a crash");
#endif
}

/* fn(arg) must return 0 (what it checks held), with nothing from a sanitizer. */
static void expect_clean(child_fn fn, void *arg, const char *what)
{
#if HAVE_FORK
    child_result r;
    char name[320];
    snprintf(name, sizeof name, "hostile: %s", what);
    run_child(fn, arg, &r);
    if (!r.ran) {
        test_skip(name, "fork or pipe failed");
        return;
    }
    test_report(name, r.exited && r.code == RETURNED && !sanitizer_spoke(&r), "%s", fate(&r));
#else
    (void)fn;
    (void)arg;
    test_skip(what, "no fork() here to contain a crash");
#endif
}

/* ---- a small network for the calls that need a valid one beside the NULL ------------------------ */

enum { IN = 2, OUT = 3, MAXB = 4 };

static gan_net *small_net(void)
{
    gan_rng rng;
    gan_layer L[2];
    gan_net *net;
    L[0] = gan_linear(IN, OUT);
    L[1] = gan_tanh();
    gan_rng_seed(&rng, 1);
    net = gan_net_create(gan_chw(IN, 1, 1), L, 2, MAXB, &rng);
    if (!net) {
        fprintf(stderr, "could not build the small network: %s\n", gan_last_error());
        _exit(RETURNED + 9);
    }
    return net;
}

static gan_float xbuf[MAXB * IN], ybuf[MAXB * OUT], dybuf[MAXB * OUT], dxbuf[MAXB * IN];

/* ---- 1. NULL where the documentation promises an assert ---------------------------------------- */

/* NULL as the library meets it at run time (a create that failed, say): read through a volatile, so
   the compiler cannot see it is NULL and drop the call as undefined behaviour; what the library does
   with it is what is tested. Results go to volatile sinks for the same reason. */
static void *volatile nothing;
#define NOTHING ((void *)nothing)
#define NO_NET ((gan_net *)NOTHING)
#define NO_RNG ((gan_rng *)NOTHING)
#define NO_FLOATS ((gan_float *)NOTHING)
static volatile int isink;
static volatile gan_float fsink;

static int null_net_layer(void *a)
{
    (void)a;
    gan_net_layer(NO_NET, 0);
    return 0;
}
static int null_net_param(void *a)
{
    (void)a;
    gan_net_param(NO_NET, 0);
    return 0;
}
static int null_net_param_count(void *a)
{
    (void)a;
    isink = gan_net_param_count(NO_NET);
    return 0;
}
static int null_net_buffer(void *a)
{
    (void)a;
    gan_net_buffer(NO_NET, 0);
    return 0;
}
static int null_net_buffer_count(void *a)
{
    (void)a;
    isink = gan_net_buffer_count(NO_NET);
    return 0;
}
static int null_net_output(void *a)
{
    (void)a;
    gan_net_output(NO_NET);
    return 0;
}
static int null_net_forward_net(void *a)
{
    gan_tensor x = gan_tensor_make(xbuf, 1, IN, 1, 1);
    (void)a;
    gan_net_forward(NO_NET, &x);
    return 0;
}
static int null_net_forward_x(void *a)
{
    (void)a;
    gan_net_forward(small_net(), (const gan_tensor *)NOTHING);
    return 0;
}
static int null_net_backward_net(void *a)
{
    gan_tensor dy = gan_tensor_make(dybuf, 1, OUT, 1, 1);
    (void)a;
    gan_net_backward(NO_NET, &dy);
    return 0;
}
static int null_net_backward_dy(void *a)
{
    gan_net *net = small_net();
    gan_tensor x = gan_tensor_make(xbuf, 1, IN, 1, 1);
    (void)a;
    gan_net_forward(net, &x);
    gan_net_backward(net, (const gan_tensor *)NOTHING);
    return 0;
}
static int null_net_step(void *a)
{
    (void)a;
    gan_net_step(NO_NET);
    return 0;
}
static int null_net_zero_grad(void *a)
{
    (void)a;
    gan_net_zero_grad(NO_NET);
    return 0;
}
/* beyond the list: the other gan_net_* calls that take the network */
static int null_net_set_optim(void *a)
{
    (void)a;
    gan_net_set_optim(NO_NET, gan_sgd(0.1f, 0));
    return 0;
}
static int null_net_set_training(void *a)
{
    (void)a;
    gan_net_set_training(NO_NET, 1);
    return 0;
}
static int null_net_arena_bytes(void *a)
{
    (void)a;
    isink = (int)gan_net_arena_bytes(NO_NET);
    return 0;
}
static int null_net_init(void *a)
{
    gan_rng rng;
    (void)a;
    gan_rng_seed(&rng, 1);
    gan_net_init(NO_NET, GAN_INIT_DCGAN, &rng);
    return 0;
}
static int null_net_copy_params(void *a)
{
    (void)a;
    gan_net_copy_params(NO_NET, small_net());
    return 0;
}

static int null_free(void *a)
{
    (void)a;
    gan_net_free(NO_NET);
    return 0;
}

static int null_rng_seed(void *a)
{
    (void)a;
    gan_rng_seed(NO_RNG, 1);
    return 0;
}
static int null_rng_u32(void *a)
{
    (void)a;
    isink = (int)gan_rng_u32(NO_RNG);
    return 0;
}
static int null_rng_uniform(void *a)
{
    (void)a;
    fsink = gan_rng_uniform(NO_RNG);
    return 0;
}
static int null_rng_normal(void *a)
{
    (void)a;
    fsink = gan_rng_normal(NO_RNG);
    return 0;
}
static int null_fill_uniform_x(void *a)
{
    gan_rng rng;
    (void)a;
    gan_rng_seed(&rng, 1);
    gan_fill_uniform(NO_FLOATS, 4, 0, 1, &rng);
    return 0;
}
static int null_fill_uniform_rng(void *a)
{
    (void)a;
    gan_fill_uniform(xbuf, 4, 0, 1, NO_RNG);
    return 0;
}
static int null_fill_normal_x(void *a)
{
    gan_rng rng;
    (void)a;
    gan_rng_seed(&rng, 1);
    gan_fill_normal(NO_FLOATS, 4, 0, 1, &rng);
    return 0;
}
static int null_fill_normal_rng(void *a)
{
    (void)a;
    gan_fill_normal(xbuf, 4, 0, 1, NO_RNG);
    return 0;
}

/* a 4 x 4 x 4 product with one of its matrices NULL: which one is *(int *)a (0 A, 1 B, 2 C) */
static int null_gemm(void *a)
{
    static gan_float m[3][16];
    int which = *(const int *)a;
    gan_gemm(0, 0, 4, 4, 4, 1, which == 0 ? NO_FLOATS : m[0], 4, which == 1 ? NO_FLOATS : m[1], 4, 0,
             which == 2 ? NO_FLOATS : m[2], 4);
    return 0;
}
static int null_gemm_naive(void *a)
{
    static gan_float m[3][16];
    int which = *(const int *)a;
    gan_gemm_naive(0, 0, 4, 4, 4, 1, which == 0 ? NO_FLOATS : m[0], 4, which == 1 ? NO_FLOATS : m[1], 4, 0,
                   which == 2 ? NO_FLOATS : m[2], 4);
    return 0;
}

/* im2col / col2im of a 1 x 4 x 4 image with a 3 x 3 kernel, one argument NULL (0 col, 1 x, 2 geometry) */
static int null_im2col(void *a)
{
    static gan_float col[9 * 16], x[16];
    gan_conv_geom g = { 1, 4, 4, 3, 1, 1, 4, 4 };
    int which = *(const int *)a;
    gan_im2col(which == 0 ? NO_FLOATS : col, which == 1 ? NO_FLOATS : x, which == 2 ? (gan_conv_geom *)NOTHING : &g);
    return 0;
}
static int null_col2im(void *a)
{
    static gan_float col[9 * 16], x[16];
    gan_conv_geom g = { 1, 4, 4, 3, 1, 1, 4, 4 };
    int which = *(const int *)a;
    gan_col2im(which == 1 ? NO_FLOATS : x, which == 0 ? NO_FLOATS : col, which == 2 ? (gan_conv_geom *)NOTHING : &g);
    return 0;
}

static int null_layer_forward(void *a)
{
    gan_tensor x = gan_tensor_make(xbuf, 1, IN, 1, 1), y = gan_tensor_make(ybuf, 1, OUT, 1, 1);
    (void)a;
    gan_layer_forward((gan_layer *)NOTHING, &y, &x, 1);
    return 0;
}
static int null_layer_backward(void *a)
{
    gan_tensor x = gan_tensor_make(xbuf, 1, IN, 1, 1), y = gan_tensor_make(ybuf, 1, OUT, 1, 1);
    gan_tensor dy = gan_tensor_make(dybuf, 1, OUT, 1, 1), dx = gan_tensor_make(dxbuf, 1, IN, 1, 1);
    (void)a;
    gan_layer_backward((gan_layer *)NOTHING, &dx, &dy, &x, &y);
    return 0;
}

static void check_null(void)
{
    static const int A = 0, B = 1, C = 2;
    expect_death(null_net_layer, NULL, "gan_net_layer(NULL, 0)");
    expect_death(null_net_param, NULL, "gan_net_param(NULL, 0)");
    expect_death(null_net_param_count, NULL, "gan_net_param_count(NULL)");
    expect_death(null_net_buffer, NULL, "gan_net_buffer(NULL, 0)");
    expect_death(null_net_buffer_count, NULL, "gan_net_buffer_count(NULL)");
    expect_death(null_net_output, NULL, "gan_net_output(NULL)");
    expect_death(null_net_forward_net, NULL, "gan_net_forward(NULL, &x)");
    expect_death(null_net_forward_x, NULL, "gan_net_forward(net, NULL)");
    expect_death(null_net_backward_net, NULL, "gan_net_backward(NULL, &dy)");
    expect_death(null_net_backward_dy, NULL, "gan_net_backward(net, NULL)");
    expect_death(null_net_step, NULL, "gan_net_step(NULL)");
    expect_death(null_net_zero_grad, NULL, "gan_net_zero_grad(NULL)");
    expect_death(null_net_set_optim, NULL, "gan_net_set_optim(NULL, opt)");
    expect_death(null_net_set_training, NULL, "gan_net_set_training(NULL, 1)");
    expect_death(null_net_arena_bytes, NULL, "gan_net_arena_bytes(NULL)");
    expect_death(null_net_init, NULL, "gan_net_init(NULL, scheme, &rng)");
    expect_death(null_net_copy_params, NULL, "gan_net_copy_params(NULL, net)");
    /* gan.h does not say; free(NULL) and gan_dataset_free(NULL) do nothing, and so does the code */
    expect_clean(null_free, NULL, "gan_net_free(NULL) does nothing, as free(NULL)");

    expect_death(null_rng_seed, NULL, "gan_rng_seed(NULL, 1)");
    expect_death(null_rng_u32, NULL, "gan_rng_u32(NULL)");
    expect_death(null_rng_uniform, NULL, "gan_rng_uniform(NULL)");
    expect_death(null_rng_normal, NULL, "gan_rng_normal(NULL)");
    expect_death(null_fill_uniform_x, NULL, "gan_fill_uniform(NULL, 4, 0, 1, &rng)");
    expect_death(null_fill_uniform_rng, NULL, "gan_fill_uniform(x, 4, 0, 1, NULL)");
    expect_death(null_fill_normal_x, NULL, "gan_fill_normal(NULL, 4, 0, 1, &rng)");
    expect_death(null_fill_normal_rng, NULL, "gan_fill_normal(x, 4, 0, 1, NULL)");

    expect_death(null_gemm, (void *)&A, "gan_gemm(4 x 4 x 4) with A NULL");
    expect_death(null_gemm, (void *)&B, "gan_gemm(4 x 4 x 4) with B NULL");
    expect_death(null_gemm, (void *)&C, "gan_gemm(4 x 4 x 4) with C NULL");
    expect_death(null_gemm_naive, (void *)&A, "gan_gemm_naive(4 x 4 x 4) with A NULL");
    expect_death(null_gemm_naive, (void *)&C, "gan_gemm_naive(4 x 4 x 4) with C NULL");
    expect_death(null_im2col, (void *)&A, "gan_im2col(NULL col, x, &g)");
    expect_death(null_im2col, (void *)&B, "gan_im2col(col, NULL x, &g)");
    expect_death(null_im2col, (void *)&C, "gan_im2col(col, x, NULL geometry)");
    expect_death(null_col2im, (void *)&A, "gan_col2im(x, NULL col, &g)");
    expect_death(null_col2im, (void *)&C, "gan_col2im(x, col, NULL geometry)");
    expect_death(null_layer_forward, NULL, "gan_layer_forward(NULL layer, &y, &x, 1)");
    expect_death(null_layer_backward, NULL, "gan_layer_backward(NULL layer, &dx, &dy, &x, &y)");
}

/* ---- 2. sizes that wrap ------------------------------------------------------------------------ */

/* A chain of one layer on input shape `in` at max_batch must be refused: NULL, a message, and no
   request above ABSURD_BYTES on the way (the planner's overflow-checked sizes refuse it first). */
typedef struct wrap_case {
    gan_layer layer;
    gan_shape in;
    int max_batch;
} wrap_case;

static int refused_before_allocating(void *a)
{
    const wrap_case *c = (const wrap_case *)a;
    gan_rng rng;
    gan_net *net;
    gan_rng_seed(&rng, 1);
    largest_request = 0;
    net = gan_net_create(c->in, &c->layer, 1, c->max_batch, &rng);
    if (net) {
        fprintf(stderr, "built a network of %zu arena bytes\n", gan_net_arena_bytes(net));
        return 1;
    }
    if (strlen(gan_last_error()) == 0) {
        fprintf(stderr, "NULL without a message\n");
        return 2;
    }
    if (largest_request > ABSURD_BYTES) {
        fprintf(stderr, "asked the allocator for %zu bytes before refusing (\"%s\")\n", largest_request, gan_last_error());
        return 3;
    }
    return 0;
}

static void check_wrapping_sizes(void)
{
    static wrap_case linear, layernorm, relu;
    linear.layer = gan_linear(INT_MAX, INT_MAX);
    linear.in = gan_chw(INT_MAX, 1, 1);
    linear.max_batch = 1;
    expect_clean(refused_before_allocating, &linear,
                 "gan_net_create of Linear(INT_MAX, INT_MAX) returns NULL with a message, allocating nothing absurd");
    layernorm.layer = gan_layernorm();
    layernorm.in = gan_chw(1 << 30, 1 << 30, 4); /* 2^62 values a sample: 2^64 bytes */
    layernorm.max_batch = 1;
    expect_clean(refused_before_allocating, &layernorm,
                 "gan_net_create of a LayerNorm on (2^30, 2^30, 4) returns NULL with a message, allocating nothing absurd");
    relu.layer = gan_relu();
    relu.in = gan_chw(65536, 65536, 65536); /* 2^48 a sample, 2^64 at the max batch */
    relu.max_batch = 65536;
    expect_clean(refused_before_allocating, &relu,
                 "gan_net_create of a ReLU on (65536, 65536, 65536) at max batch 65536 returns NULL with a message, "
                 "allocating nothing absurd");
}

/* ---- 3. a step with nothing to train ----------------------------------------------------------- */

/* A chain of one ReLU has no parameters (its parameter block is empty): zero_grad, set_optim and
   step must do nothing, and the network must still run. */
static int step_without_params(void *a)
{
    gan_rng rng;
    gan_layer relu = gan_relu();
    gan_net *net;
    gan_float x[2] = { -1, 2 }, dy[2] = { 1, 1 };
    gan_tensor xt = gan_tensor_make(x, 2, 1, 1, 1), dyt = gan_tensor_make(dy, 2, 1, 1, 1);
    const gan_tensor *y;
    (void)a;
    gan_rng_seed(&rng, 1);
    net = gan_net_create(gan_chw(1, 1, 1), &relu, 1, 2, &rng);
    if (!net) {
        fprintf(stderr, "could not build a ReLU chain: %s\n", gan_last_error());
        return 1;
    }
    gan_net_set_optim(net, gan_sgd(0.1f, 0.9f));
    gan_net_zero_grad(net);
    gan_net_forward(net, &xt);
    gan_net_backward(net, &dyt);
    gan_net_step(net);
    gan_net_set_optim(net, gan_adam(0.1f, 0.9f, 0.999f));
    gan_net_step(net);
    y = gan_net_forward(net, &xt);
    if (!y || y->data[0] != 0 || y->data[1] != 2) {
        fprintf(stderr, "the ReLU no longer computes max(x, 0) after the steps\n");
        return 2;
    }
    gan_net_free(net);
    return 0;
}

/* A Linear that is frozen has parameters but nothing trainable: a step leaves them as they were. */
static int step_all_frozen(void *a)
{
    gan_rng rng;
    gan_layer lin = gan_linear(2, 2);
    gan_net *net;
    gan_float x[2] = { 1, 2 }, dy[2] = { 1, -1 }, before[6];
    gan_tensor xt = gan_tensor_make(x, 1, 2, 1, 1), dyt = gan_tensor_make(dy, 1, 2, 1, 1);
    gan_param w, b;
    (void)a;
    lin.frozen = 1;
    gan_rng_seed(&rng, 1);
    net = gan_net_create(gan_chw(2, 1, 1), &lin, 1, 1, &rng);
    if (!net) {
        fprintf(stderr, "could not build a frozen Linear: %s\n", gan_last_error());
        return 1;
    }
    w = gan_net_param(net, 0);
    b = gan_net_param(net, 1);
    memcpy(before, w.data, 4 * sizeof(gan_float));
    memcpy(before + 4, b.data, 2 * sizeof(gan_float));
    gan_net_zero_grad(net);
    gan_net_forward(net, &xt);
    gan_net_backward(net, &dyt);
    gan_net_step(net);
    if (memcmp(before, w.data, 4 * sizeof(gan_float)) != 0 || memcmp(before + 4, b.data, 2 * sizeof(gan_float)) != 0) {
        fprintf(stderr, "a step moved a frozen layer's parameters\n");
        return 2;
    }
    gan_net_free(net);
    return 0;
}

static void check_nothing_to_train(void)
{
    expect_clean(step_without_params, NULL,
                 "gan_net_step (and zero_grad, set_optim) on a chain of one ReLU, without parameters, does nothing");
    expect_clean(step_all_frozen, NULL, "gan_net_step on a network whose only layer is frozen leaves it as it was");
}

/* ---- 4. losses at infinite logits -------------------------------------------------------------- */

/* a == b, both infinite of one sign, or both finite and within a relative 1e-6 (NaN never matches) */
static int same_value(double a, double b)
{
    if (isinf(a) || isinf(b)) return a == b;
    return fabs(a - b) <= 1e-6 * (1 + fabs(b));
}

/* BCE-with-logits at x = +-inf against t, beside a finite logit 0.5 with target 1: the mean of the
   limit and softplus(-0.5), d/dx the limit of (sigmoid(x) - t) / 2. */
static void check_bce_limits(void)
{
    static const struct { double x, t, loss, grad; } cases[] = {
        { INFINITY, 1, 0, 0 },       /* sure and right */
        { INFINITY, 0, INFINITY, 1 }, /* sure and wrong */
        { -INFINITY, 0, 0, 0 },
        { -INFINITY, 1, INFINITY, -1 },
        { INFINITY, 0.25, INFINITY, 0.75 }, /* a soft target: (1 - t) x -> inf */
    };
    double finite_part = log1p(exp(-0.5)); /* softplus(-0.5): the logit 0.5 against 1 */
    double finite_grad = 1 / (1 + exp(-0.5)) - 1;
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gan_float x[2], t[2], g[2], gc[2], loss, loss_c;
        double want = (cases[i].loss + finite_part) / 2;
        char name[200];
        x[0] = (gan_float)cases[i].x;
        x[1] = 0.5f;
        t[0] = (gan_float)cases[i].t;
        t[1] = 1;
        loss = gan_bce_logits(g, x, t, 2);
        snprintf(name, sizeof name, "hostile: gan_bce_logits at x = %sinf, t = %g: loss %s, gradient %g / n",
                 cases[i].x > 0 ? "+" : "-", cases[i].t, isinf(cases[i].loss) ? "+inf" : "the limit", cases[i].grad);
        test_report(name, same_value(loss, want) && same_value(g[0], cases[i].grad / 2) && same_value(g[1], finite_grad / 2),
                    "loss %g (want %g), gradient %g, %g (want %g, %g)", (double)loss, want, (double)g[0], (double)g[1],
                    cases[i].grad / 2, finite_grad / 2);
        /* the constant-target form, on the infinite logit alone */
        loss_c = gan_bce_logits_const(gc, x, t[0], 1);
        snprintf(name, sizeof name, "hostile: gan_bce_logits_const at x = %sinf, t = %g: loss %s, gradient %g",
                 cases[i].x > 0 ? "+" : "-", cases[i].t, isinf(cases[i].loss) ? "+inf" : "0", cases[i].grad);
        test_report(name, same_value(loss_c, cases[i].loss) && same_value(gc[0], cases[i].grad),
                    "loss %g (want %g), gradient %g (want %g)", (double)loss_c, cases[i].loss, (double)gc[0], cases[i].grad);
    }
}

/* The scalar terms of gan.h's table of adversarial losses (its doc block), as the limits they have:
   softplus(x) = log(1 + e^x) -> x at +inf and 0 at -inf, its derivative sigmoid(x) -> 1 and 0. */
typedef enum { SP_NEG, SP, NEG_SP, HALF_SQ_ONE, HALF_SQ, HINGE_NEG, HINGE_POS, NEG, SAME } term;

static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double sigmoid(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }

static double term_value(term t, double x, double *d)
{
    switch (t) {
    case SP_NEG: *d = -sigmoid(-x); return softplus(-x);
    case SP: *d = sigmoid(x); return softplus(x);
    case NEG_SP: *d = -sigmoid(x); return -softplus(x);
    case HALF_SQ_ONE: *d = x - 1; return (x - 1) * (x - 1) / 2;
    case HALF_SQ: *d = x; return x * x / 2;
    case HINGE_NEG: *d = x < 1 ? -1 : 0; return x < 1 ? 1 - x : 0;
    case HINGE_POS: *d = x > -1 ? 1 : 0; return x > -1 ? 1 + x : 0;
    case NEG: *d = -1; return -x;
    case SAME: *d = 1; return x;
    }
    *d = 0;
    return 0;
}

/* L_D(real = {v, 0.3}, fake = {-0.4}) with v = +-inf, L_D(real = {0.3}, fake = {v, -0.4}) and
   L_G(fake = {v, -0.4}) for each loss: the limits of the mean and of each d/dx, never NaN. */
static void check_adversarial_limits(void)
{
    static const struct { gan_loss loss; term real, fake, g; } rows[] = {
        { GAN_LOSS_MINIMAX, SP_NEG, SP, NEG_SP },
        { GAN_LOSS_NONSATURATING, SP_NEG, SP, SP_NEG },
        { GAN_LOSS_LEAST_SQUARES, HALF_SQ_ONE, HALF_SQ, HALF_SQ_ONE },
        { GAN_LOSS_HINGE, HINGE_NEG, HINGE_POS, NEG },
        { GAN_LOSS_WASSERSTEIN, NEG, SAME, NEG },
    };
    size_t i;
    int s;
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++)
        for (s = 0; s < 2; s++) {
            double v = s ? -INFINITY : INFINITY, dv, d3, d4, want, want_dv, want_d3, want_d4;
            gan_float pair[2], other[1], gp[2], go[1], got;
            char name[200];
            const char *sign = s ? "-" : "+";
            pair[0] = (gan_float)v;
            /* D's real term at v */
            pair[1] = 0.3f;
            other[0] = -0.4f;
            want = (term_value(rows[i].real, v, &dv) + term_value(rows[i].real, 0.3f, &d3)) / 2 +
                   term_value(rows[i].fake, -0.4f, &d4);
            want_dv = dv / 2;
            want_d3 = d3 / 2;
            want_d4 = d4;
            got = gan_loss_d(gp, go, pair, 2, other, 1, rows[i].loss);
            snprintf(name, sizeof name, "hostile: gan_loss_d (%s) with a real output of %sinf: the limits", gan_loss_name(rows[i].loss), sign);
            test_report(name, same_value(got, want) && same_value(gp[0], want_dv) && same_value(gp[1], want_d3) && same_value(go[0], want_d4),
                        "loss %g (want %g), d/dreal %g, %g (want %g, %g), d/dfake %g (want %g)", (double)got, want, (double)gp[0],
                        (double)gp[1], want_dv, want_d3, (double)go[0], want_d4);
            /* D's fake term at v */
            pair[1] = -0.4f;
            other[0] = 0.3f;
            want = term_value(rows[i].real, 0.3f, &d3) + (term_value(rows[i].fake, v, &dv) + term_value(rows[i].fake, -0.4f, &d4)) / 2;
            got = gan_loss_d(go, gp, other, 1, pair, 2, rows[i].loss);
            snprintf(name, sizeof name, "hostile: gan_loss_d (%s) with a fake output of %sinf: the limits", gan_loss_name(rows[i].loss), sign);
            test_report(name, same_value(got, want) && same_value(gp[0], dv / 2) && same_value(gp[1], d4 / 2) && same_value(go[0], d3),
                        "loss %g (want %g), d/dfake %g, %g (want %g, %g), d/dreal %g (want %g)", (double)got, want, (double)gp[0],
                        (double)gp[1], dv / 2, d4 / 2, (double)go[0], d3);
            /* G's term at v */
            want = (term_value(rows[i].g, v, &dv) + term_value(rows[i].g, -0.4f, &d4)) / 2;
            got = gan_loss_g(gp, pair, 2, rows[i].loss);
            snprintf(name, sizeof name, "hostile: gan_loss_g (%s) with a fake output of %sinf: the limits", gan_loss_name(rows[i].loss), sign);
            test_report(name, same_value(got, want) && same_value(gp[0], dv / 2) && same_value(gp[1], d4 / 2),
                        "loss %g (want %g), d/dfake %g, %g (want %g, %g)", (double)got, want, (double)gp[0], (double)gp[1], dv / 2,
                        d4 / 2);
        }
}

/* ---- 5. further probes ------------------------------------------------------------------------- */

/* The softmax cross-entropy at an infinite logit: its limits, as for BCE. Row {+inf, 1} against
   label 0 is sure and right (loss 0, gradient 0), against label 1 sure and wrong (loss +inf,
   gradient (1, -1)); row {-inf, 1} is right against label 1 and wrong against 0. */
static void check_softmax_limits(void)
{
    static const struct { float x0; float label; double loss, g0, g1; } cases[] = {
        { INFINITY, 0, 0, 0, 0 },
        { INFINITY, 1, INFINITY, 1, -1 },
        { -INFINITY, 1, 0, 0, 0 },
        { -INFINITY, 0, INFINITY, -1, 1 }, /* softmax (0, 1) - onehot(0) */
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gan_float x[2], label = cases[i].label, g[2], loss;
        char name[160];
        x[0] = cases[i].x0;
        x[1] = 1;
        loss = gan_softmax_xent(g, x, &label, 1, 2);
        snprintf(name, sizeof name, "hostile: gan_softmax_xent of logits (%sinf, 1) against label %d: loss %s, gradient (%g, %g)",
                 cases[i].x0 > 0 ? "+" : "-", (int)cases[i].label, isinf(cases[i].loss) ? "+inf" : "0", cases[i].g0, cases[i].g1);
        test_report(name, same_value(loss, cases[i].loss) && same_value(g[0], cases[i].g0) && same_value(g[1], cases[i].g1),
                    "loss %g, gradient (%g, %g)", (double)loss, (double)g[0], (double)g[1]);
    }
}

/* gan_grid_size of no columns is a grid that cannot be (its doc: "1, or 0 with gan_last_error()"), in
   every build; it once divided n by cols before any check: SIGFPE. */
static int grid_no_columns(void *a)
{
    int W = 0, H = 0;
    (void)a;
    return gan_grid_size(&W, &H, 4, 8, 8, 0, 2, 1) == 0 && gan_last_error()[0] ? 0 : 1;
}

/* Sizes the planner refuses are one thing; a legal but huge count handed to a call is another.
   These map gigabytes of zero pages the kernel does not commit until touched (a correct library
   refuses before it reads more than a page of them); NULL where that is not possible here. */
static void *reserve(size_t bytes, int writable)
{
#if HAVE_FORK && defined(MAP_ANONYMOUS)
    void *p = mmap(NULL, bytes, PROT_READ | (writable ? PROT_WRITE : 0), MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
#else
    (void)bytes;
    (void)writable;
    return NULL;
#endif
}

/* gan_net_infer of INT_MAX samples at max_batch 2, per-chunk batch statistics, through a BatchNorm of
   one value a sample: the chunks are of 1 or 2 samples, and a chunk of one has no batch variance, so
   it must refuse at once. It computes chunks = (n + B - 1) / B in int, which wraps for n near
   INT_MAX; the chunk size then comes out 0 or negative. */
static int infer_int_max(void *a)
{
    gan_rng rng;
    gan_layer bn = gan_batchnorm(1);
    gan_net *net;
    size_t bytes = (size_t)INT_MAX * sizeof(gan_float);
    gan_float *x = (gan_float *)reserve(bytes, 0), *y = (gan_float *)reserve(bytes, 1);
    gan_tensor xt, yt;
    (void)a;
    if (!x || !y) return 7; /* reported as a skip */
    gan_rng_seed(&rng, 1);
    net = gan_net_create(gan_chw(1, 1, 1), &bn, 1, 2, &rng);
    if (!net) {
        fprintf(stderr, "could not build a BatchNorm: %s\n", gan_last_error());
        return 1;
    }
    xt = gan_tensor_make(x, INT_MAX, 1, 1, 1);
    yt = gan_tensor_make(y, INT_MAX, 1, 1, 1);
    if (gan_net_infer(net, &yt, &xt, GAN_STATS_BATCH)) {
        fprintf(stderr, "gan_net_infer accepted chunks of one sample for batch statistics\n");
        return 2;
    }
    if (!strstr(gan_last_error(), "more than one value")) {
        fprintf(stderr, "refused for another reason: %s\n", gan_last_error());
        return 3;
    }
    return 0;
}

/* gan_eval_modes of one point against k = 2^30 centres, the first NaN: it must say so. It loops
   j < 2 * k in int, which wraps for k > INT_MAX / 2, so the finiteness check never runs. */
static int modes_many_centres(void *a)
{
    int k = 1 << 30;
    gan_float *centres = (gan_float *)reserve((size_t)2 * (size_t)k * sizeof(gan_float), 1), xy[2] = { 0, 0 };
    gan_mode_scores s;
    (void)a;
    if (!centres) return 7;
    centres[0] = (gan_float)NAN;
    if (gan_eval_modes(&s, xy, 1, centres, k, 1)) {
        fprintf(stderr, "gan_eval_modes accepted a NaN centre\n");
        return 2;
    }
    if (!strstr(gan_last_error(), "centre 0 is not finite")) {
        fprintf(stderr, "refused, but not for the NaN centre: %s\n", gan_last_error());
        return 3;
    }
    return 0;
}

/* Like expect_clean, but a child that could not reserve its memory (code RETURNED + 7) is a skip. */
static void expect_clean_or_skip(child_fn fn, void *arg, const char *what)
{
#if HAVE_FORK
    child_result r;
    char name[320];
    snprintf(name, sizeof name, "hostile: %s", what);
    run_child(fn, arg, &r);
    if (!r.ran) {
        test_skip(name, "fork or pipe failed");
        return;
    }
    if (r.exited && r.code == RETURNED + 7 && !sanitizer_spoke(&r)) {
        test_skip(name, "could not map the gigabytes of zero pages it needs");
        return;
    }
    test_report(name, r.exited && r.code == RETURNED && !sanitizer_spoke(&r), "%s", fate(&r));
#else
    (void)fn;
    (void)arg;
    test_skip(what, "no fork() here to contain a crash");
#endif
}

/* gan_trainer_create with networks that do not fit: NULL and a message, for each way they can
   differ; and a pack so large that D's expected channels (G's channels times pack) pass INT_MAX,
   which it multiplies in int (undefined behaviour: UBSan's report is this check's failure). */
static gan_net *mlp(gan_shape in, int out, int max_batch)
{
    gan_rng rng;
    gan_layer L[2];
    gan_net *net;
    L[0] = gan_flatten();
    L[1] = gan_linear((int)(in.c * in.h * in.w), out);
    gan_rng_seed(&rng, 2);
    net = gan_net_create(in, L, 2, max_batch, &rng);
    if (!net) {
        fprintf(stderr, "could not build an MLP: %s\n", gan_last_error());
        _exit(RETURNED + 9);
    }
    return net;
}

static int trainer_misfits(void *a)
{
    gan_train_config cfg = gan_default_train(GAN_FAMILY_NONSATURATING);
    gan_net *G = mlp(gan_chw(4, 1, 1), 16, 8), *D_small = mlp(gan_chw(8, 1, 1), 1, 8);
    gan_net *D_two = mlp(gan_chw(16, 1, 1), 2, 8), *D_ok = mlp(gan_chw(16, 1, 1), 1, 8);
    gan_trainer *t;
    int bad = 0;
    (void)a;
    cfg.batch = 8;
    if ((t = gan_trainer_create(G, D_small, NULL, &cfg)) != NULL || !*gan_last_error()) {
        fprintf(stderr, "accepted a D whose input is not G's output\n");
        bad = 1;
    }
    gan_trainer_free(t);
    if ((t = gan_trainer_create(G, D_two, NULL, &cfg)) != NULL) {
        fprintf(stderr, "accepted a D of two values a sample\n");
        bad = 1;
    }
    gan_trainer_free(t);
    cfg.batch = 16;
    if ((t = gan_trainer_create(G, D_ok, NULL, &cfg)) != NULL) {
        fprintf(stderr, "accepted batch 16 for networks of max_batch 8\n");
        bad = 1;
    }
    gan_trainer_free(t);
    cfg.batch = cfg.pack = 1 << 30;
    if ((t = gan_trainer_create(G, D_ok, NULL, &cfg)) != NULL) {
        fprintf(stderr, "accepted pack 2^30\n");
        bad = 1;
    }
    gan_trainer_free(t);
    return bad;
}

/* gan_loader_next of more samples than the set holds runs on into further passes. */
static int loader_longer_than_set(void *a)
{
    static gan_float x[10 * 64];
    gan_dataset d;
    gan_loader l;
    int i, seen[3] = { 0, 0, 0 };
    (void)a;
    if (!gan_dataset_shapes(&d, 3, 8, 1) || !gan_loader_init(&l, &d, 1)) {
        fprintf(stderr, "could not make a set and a loader: %s\n", gan_last_error());
        return 1;
    }
    gan_loader_next(&l, x, NULL, 10);
    for (i = 0; i < 10; i++) { /* which image each sample is: its bytes say so */
        int j, m, match = -1;
        for (m = 0; m < 3 && match < 0; m++) {
            for (j = 0; j < 64 && x[i * 64 + j] == (gan_float)d.pixels[m * 64 + j] / (gan_float)127.5 - 1; j++) continue;
            if (j == 64) match = m;
        }
        if (match < 0) {
            fprintf(stderr, "sample %d is none of the set's images\n", i);
            return 2;
        }
        seen[match]++;
    }
    if (seen[0] < 3 || seen[1] < 3 || seen[2] < 3 || l.epoch != 3 || l.pos != 1) {
        fprintf(stderr, "10 samples of a set of 3: seen %d, %d, %d times, epoch %d, pos %d\n", seen[0], seen[1], seen[2],
                (int)l.epoch, l.pos);
        return 3;
    }
    gan_loader_free(&l);
    gan_dataset_free(&d);
    return 0;
}

static void check_further(void)
{
    check_softmax_limits();
    expect_clean(grid_no_columns, NULL, "gan_grid_size with cols = 0 returns 0 with a message");
    expect_clean_or_skip(infer_int_max, NULL,
                         "gan_net_infer of INT_MAX samples at max_batch 2 (batch statistics, one value a sample) "
                         "refuses chunks of one sample, at once");
    expect_clean_or_skip(modes_many_centres, NULL, "gan_eval_modes with 2^30 centres, the first NaN, says centre 0 is not finite");
    expect_clean(trainer_misfits, NULL,
                 "gan_trainer_create refuses networks that do not fit (shape, D's output, max_batch, pack 2^30) with no UB");
    expect_clean(loader_longer_than_set, NULL, "gan_loader_next of 10 samples from a set of 3 runs on through three more passes");
}

int main(void)
{
    /* no worker threads: a forked child has only the thread that forked */
    gan_set_threads(1);
    check_null();
    check_wrapping_sizes();
    check_nothing_to_train();
    check_bce_limits();
    check_adversarial_limits();
    check_further();
    return test_finish();
}
