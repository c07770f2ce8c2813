/* tests/test_release.c - misuse in a release build: NDEBUG is defined before every include, so
   GAN_ASSERT is compiled out, as in a user's -DNDEBUG program. gan.h's doc block ("ERRORS") promises
   that the shape and batch checks of building and running a network hold there too, returning NULL
   or 0 with gan_last_error(); the issue "Reliability" asks that a void function, which cannot
   return an error, stop the program with a message (a documented handler the user may override)
   rather than overflow the heap. So each misuse below must end one of two ways:

     refused   the call returns NULL or 0 and gan_last_error() says why;
     stopped   the program dies with a message on stderr: SIGABRT or a non-zero exit, never
               SIGSEGV, never a sanitizer's report, never a silent return.

   The cases: a batch above the planned maximum (gan_net_forward, gan_net_penalty), a dL/dy whose
   batch or shape is not the forward's (gan_net_backward, gan_net_backward_input), gan_net_infer
   with y or x of the wrong shape, gan_layer_forward and gan_layer_backward with a y, dx or batch
   that does not fit the layer (stopped: they are void), a Conv2d of stride 0 (which only the
   constructor's assert refuses), and the sizes that wrap size_t, again without asserts.

   Every case runs in a child process (fork), so a hole is reported by name and does not hide the
   others. Build it also with -fsanitize=address,undefined to see whether the heap is overflowed:
   a call that returns after writing out of bounds is then a sanitizer's report, not a pass. The
   buffers handed to gan_layer_forward have a guard zone after them, so even without a sanitizer a
   write past their end is seen. */
#define NDEBUG
#define _POSIX_C_SOURCE 200809L /* fork, pipe, dup2, alarm, waitpid under -std=c99 */

#include <stdlib.h>

/* The allocator the library sees: it remembers the largest request and refuses any above
   ABSURD_BYTES (see the size cases). */
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

#include <limits.h>
#include <stdio.h>
#include <string.h>

#if defined(__unix__) || defined(__APPLE__)
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#define HAVE_FORK 1
#else
#define HAVE_FORK 0
#endif

#ifndef NDEBUG
#error "tests/test_release.c tests the NDEBUG build"
#endif

/* ---- children (as in tests/test_hostile.c) ----------------------------------------------------- */

/* A child that is still running after this many seconds is killed by SIGALRM (a hang). */
#define CHILD_SECONDS 10
/* A child whose function returned exits with RETURNED + its return value (0: all went as it wanted;
   otherwise the function says why on stderr), so a return is told apart from an exit of a handler
   or a sanitizer. */
#define RETURNED 100

typedef int (*child_fn)(void *arg);

typedef struct child_result {
    int ran;           /* 0: fork or pipe failed */
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

/* fn(arg) must return 0: the misuse was refused with a message (or, for the size cases, whatever
   fn checks held), with nothing from a sanitizer. */
static void expect_refusal(child_fn fn, void *arg, const char *what)
{
#if HAVE_FORK
    child_result r;
    char name[320];
    snprintf(name, sizeof name, "release: %s", what);
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

/* fn(arg) must stop the program with a message: SIGABRT or a non-zero exit of the library's own
   (not fn returning, not a sanitizer), and something on stderr. */
static void expect_death(child_fn fn, void *arg, const char *what)
{
#if HAVE_FORK
    child_result r;
    char name[320];
    int stopped;
    snprintf(name, sizeof name, "release: %s stops the program with a message", what);
    run_child(fn, arg, &r);
    if (!r.ran) {
        test_skip(name, "fork or pipe failed");
        return;
    }
    stopped = (r.signaled && r.sig == SIGABRT) || (r.exited && r.code != 0 && r.code < RETURNED);
    test_report(name, stopped && !sanitizer_spoke(&r) && strlen(r.err) > 0, "%s", fate(&r));
#else
    (void)fn;
    (void)arg;
    test_skip(what, "no fork() here to contain a crash");
#endif
}

/* ---- the networks ------------------------------------------------------------------------------ */

enum { IN = 2, OUT = 3, MAXB = 4 };

static gan_net *build_chain(gan_layer *L, int n, gan_shape in, int max_batch, unsigned flags)
{
    gan_rng rng;
    gan_graph *g = gan_graph_new();
    gan_net *net;
    gan_rng_seed(&rng, 1);
    if (!g) _exit(RETURNED + 9);
    gan_chain(g, gan_input(g, in), L, n);
    net = gan_net_build(g, max_batch, flags, &rng);
    gan_graph_free(g);
    if (!net) {
        fprintf(stderr, "could not build the test's network: %s\n", gan_last_error());
        _exit(RETURNED + 9);
    }
    return net;
}

/* Linear(2, 3) -> Tanh at max batch 4 */
static gan_net *small_net(void)
{
    gan_layer L[2];
    L[0] = gan_linear(IN, OUT);
    L[1] = gan_tanh();
    return build_chain(L, 2, gan_chw(IN, 1, 1), MAXB, 0);
}

/* Linear(2, 1) at max batch 4, built for penalties */
static gan_net *critic(void)
{
    gan_layer L = gan_linear(IN, 1);
    return build_chain(&L, 1, gan_chw(IN, 1, 1), MAXB, GAN_BUILD_PENALTY);
}

/* room for a batch well above the maximum, so a call that reads it reads memory of ours */
static gan_float xbuf[4 * MAXB * (IN + 1)], ybuf[4 * MAXB * (OUT + 1)], dybuf[4 * MAXB * (OUT + 1)];

/* 1 when the call returned NULL (or 0) and left a message; else says what it did on stderr. */
static int refused(int returned_something, const char *call)
{
    if (returned_something) {
        fprintf(stderr, "%s was accepted (returned non-NULL / 1)\n", call);
        return 0;
    }
    if (strlen(gan_last_error()) == 0) {
        fprintf(stderr, "%s returned NULL / 0 without a message\n", call);
        return 0;
    }
    return 1;
}

/* ---- gan_net_forward, gan_net_backward ---------------------------------------------------------- */

/* a forward of n samples of (c, 1, 1): *(const int (*)[2])a = { n, c } */
static int forward_refused(void *a)
{
    const int *nc = (const int *)a;
    gan_net *net = small_net();
    gan_tensor x = gan_tensor_make(xbuf, nc[0], nc[1], 1, 1);
    return refused(gan_net_forward(net, &x) != NULL, "gan_net_forward") ? 0 : 1;
}

/* forward of 2 samples, then a backward with dL/dy of n samples of (c, 1, 1); *(const int (*)[3])a =
   { n, c, input_only } */
static int backward_refused(void *a)
{
    const int *nc = (const int *)a;
    gan_net *net = small_net();
    gan_tensor x = gan_tensor_make(xbuf, 2, IN, 1, 1), dy = gan_tensor_make(dybuf, nc[0], nc[1], 1, 1);
    if (!gan_net_forward(net, &x)) {
        fprintf(stderr, "the forward of 2 samples failed: %s\n", gan_last_error());
        return 9;
    }
    if (nc[2]) return refused(gan_net_backward_input(net, &dy) != NULL, "gan_net_backward_input") ? 0 : 1;
    return refused(gan_net_backward(net, &dy) != NULL, "gan_net_backward") ? 0 : 1;
}

static void check_forward_backward(void)
{
    static const int over[2] = { MAXB + 1, IN }, zero[2] = { 0, IN }, negative[2] = { -1, IN }, shape[2] = { 2, IN + 1 };
    static const int more[3] = { 3, OUT, 0 }, fewer[3] = { 1, OUT, 0 }, above[3] = { MAXB + 1, OUT, 0 };
    static const int channels[3] = { 2, OUT + 1, 0 }, more_input[3] = { 3, OUT, 1 }, above_input[3] = { MAXB + 1, OUT, 1 };
    expect_refusal(forward_refused, (void *)over, "gan_net_forward of 5 samples at max_batch 4 returns NULL with a message");
    expect_refusal(forward_refused, (void *)zero, "gan_net_forward of 0 samples returns NULL with a message");
    expect_refusal(forward_refused, (void *)negative, "gan_net_forward of -1 samples returns NULL with a message");
    expect_refusal(forward_refused, (void *)shape, "gan_net_forward of an input of the wrong shape returns NULL with a message");
    expect_refusal(backward_refused, (void *)more, "gan_net_backward with dy of 3 samples after a forward of 2 returns NULL with a message");
    expect_refusal(backward_refused, (void *)fewer, "gan_net_backward with dy of 1 sample after a forward of 2 returns NULL with a message");
    expect_refusal(backward_refused, (void *)above, "gan_net_backward with dy of 5 samples (above max_batch 4) returns NULL with a message");
    expect_refusal(backward_refused, (void *)channels, "gan_net_backward with dy of the wrong shape returns NULL with a message");
    expect_refusal(backward_refused, (void *)more_input,
                   "gan_net_backward_input with dy of 3 samples after a forward of 2 returns NULL with a message");
    expect_refusal(backward_refused, (void *)above_input,
                   "gan_net_backward_input with dy of 5 samples (above max_batch 4) returns NULL with a message");
}

/* ---- gan_net_infer, gan_net_penalty ------------------------------------------------------------- */

/* infer of x (n, c) into y (m, d): *(const int (*)[4])a = { n, c, m, d } */
static int infer_refused(void *a)
{
    const int *s = (const int *)a;
    gan_net *net = small_net();
    gan_tensor x = gan_tensor_make(xbuf, s[0], s[1], 1, 1), y = gan_tensor_make(ybuf, s[2], s[3], 1, 1);
    return refused(gan_net_infer(net, &y, &x, GAN_STATS_RUNNING), "gan_net_infer") ? 0 : 1;
}

/* the WGAN-GP penalty at x (n, c) with respect to input wrt: *(const int (*)[3])a = { n, c, wrt } */
static int penalty_refused(void *a)
{
    const int *s = (const int *)a;
    gan_net *net = critic();
    gan_tensor x = gan_tensor_make(xbuf, s[0], s[1], 1, 1);
    gan_float P = 0;
    return refused(gan_net_penalty(net, &P, &x, s[2], GAN_PENALTY_WGAN_GP, 10), "gan_net_penalty") ? 0 : 1;
}

static void check_infer_penalty(void)
{
    static const int y_fewer[4] = { 3, IN, 2, OUT }, y_more[4] = { 3, IN, 4, OUT }, y_shape[4] = { 3, IN, 3, OUT - 1 };
    static const int x_shape[4] = { 3, IN + 1, 3, OUT };
    static const int p_over[3] = { MAXB + 1, IN, 0 }, p_shape[3] = { 2, IN + 1, 0 }, p_wrt[3] = { 2, IN, 1 };
    expect_refusal(infer_refused, (void *)y_fewer, "gan_net_infer of 3 samples into a y of 2 returns 0 with a message");
    expect_refusal(infer_refused, (void *)y_more, "gan_net_infer of 3 samples into a y of 4 returns 0 with a message");
    expect_refusal(infer_refused, (void *)y_shape, "gan_net_infer into a y of the wrong shape returns 0 with a message");
    expect_refusal(infer_refused, (void *)x_shape, "gan_net_infer of an x of the wrong shape returns 0 with a message");
    expect_refusal(penalty_refused, (void *)p_over, "gan_net_penalty at 5 samples (above max_batch 4) returns 0 with a message");
    expect_refusal(penalty_refused, (void *)p_shape, "gan_net_penalty at an x of the wrong shape returns 0 with a message");
    expect_refusal(penalty_refused, (void *)p_wrt, "gan_net_penalty with respect to input 1 of a one-input critic returns 0 with a message");
}

/* ---- gan_layer_forward, gan_layer_backward ------------------------------------------------------ */

/* A heap block of `count` floats for a tensor, followed by `guard` floats of a pattern: if the call
   returns, the pattern says whether it wrote past the tensor's end. */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
static const size_t guard = 0; /* AddressSanitizer guards the block's end itself, and reports a write past it */
#else
static const size_t guard = 1024;
#endif
#define GUARD_VALUE ((gan_float)-12345.5)

static gan_float *guarded(size_t count)
{
    gan_float *p = (gan_float *)malloc((count + guard) * sizeof(gan_float));
    size_t j;
    if (!p) _exit(RETURNED + 9);
    for (j = 0; j < count; j++) p[j] = 0;
    for (j = 0; j < guard; j++) p[count + j] = GUARD_VALUE;
    return p;
}

/* What a call that should have stopped did instead, for the report; returns fn's code. */
static int returned_anyway(const gan_float *p, size_t count, const char *call)
{
    size_t j, past = 0;
    (void)p;
    (void)count;
    for (j = 0; j < guard; j++) past += p[count + j] != GUARD_VALUE;
    if (past) fprintf(stderr, "%s returned after writing %zu values past the end of its output\n", call, past);
    else fprintf(stderr, "%s returned silently\n", call);
    return past ? 2 : 1;
}

/* The Linear(2, 3) of small_net (max batch 4) on its own, into a y of 1 x 2 values: 1 x 3 fit. */
static int layer_forward_small_y(void *a)
{
    gan_net *net = small_net();
    gan_float *y = guarded(1 * (OUT - 1));
    gan_tensor x = gan_tensor_make(xbuf, 1, IN, 1, 1), yt = gan_tensor_make(y, 1, OUT - 1, 1, 1);
    (void)a;
    gan_layer_forward(gan_net_layer(net, 0), &yt, &x, 1);
    return returned_anyway(y, 1 * (OUT - 1), "gan_layer_forward");
}

/* The same Linear with y of 4 samples for an x of 1 (y.n != x.n: the layer writes x.n rows). */
static int layer_forward_batch_mismatch(void *a)
{
    gan_net *net = small_net();
    gan_float *y = guarded(1 * OUT);
    gan_tensor x = gan_tensor_make(xbuf, 4, IN, 1, 1), yt = gan_tensor_make(y, 1, OUT, 1, 1);
    (void)a;
    gan_layer_forward(gan_net_layer(net, 0), &yt, &x, 1);
    return returned_anyway(y, 1 * OUT, "gan_layer_forward");
}

/* A Dropout (in training, its mask saved in the arena for max_batch 2 samples) run on 64 samples:
   the mask of the other 62 has nowhere to go. The last layer of its network, so the mask is near
   the arena's end. */
static int layer_forward_over_max_batch(void *a)
{
    enum { N = 64, C = 16 };
    gan_layer L[2];
    gan_net *net;
    gan_float *x = guarded(N * C), *y = guarded(N * C);
    gan_tensor xt = gan_tensor_make(x, N, C, 1, 1), yt = gan_tensor_make(y, N, C, 1, 1);
    (void)a;
    L[0] = gan_tanh();
    L[1] = gan_dropout(0.5f);
    net = build_chain(L, 2, gan_chw(C, 1, 1), 2, 0);
    gan_layer_forward(gan_net_layer(net, 1), &yt, &xt, 1);
    return returned_anyway(y, N * C, "gan_layer_forward");
}

/* The Linear's backward with dx of 1 x 1 values where 1 x 2 fit. */
static int layer_backward_small_dx(void *a)
{
    gan_net *net = small_net();
    gan_float *dx = guarded(1);
    gan_tensor x = gan_tensor_make(xbuf, 1, IN, 1, 1), y = gan_tensor_make(ybuf, 1, OUT, 1, 1);
    gan_tensor dy = gan_tensor_make(dybuf, 1, OUT, 1, 1), dxt = gan_tensor_make(dx, 1, 1, 1, 1);
    gan_layer *L = gan_net_layer(net, 0);
    (void)a;
    gan_layer_forward(L, &y, &x, 1);
    gan_layer_backward(L, &dxt, &dy, &x, &y);
    return returned_anyway(dx, 1, "gan_layer_backward");
}

static void check_layer_calls(void)
{
    expect_death(layer_forward_small_y, NULL, "gan_layer_forward of Linear(2, 3) into a y of shape (2, 1, 1)");
    expect_death(layer_forward_batch_mismatch, NULL, "gan_layer_forward of 4 samples into a y of 1");
    expect_death(layer_forward_over_max_batch, NULL, "gan_layer_forward of a Dropout on 64 samples at max_batch 2");
    expect_death(layer_backward_small_dx, NULL, "gan_layer_backward of Linear(2, 3) into a dx of shape (1, 1, 1)");
}

/* ---- pictures ---------------------------------------------------------------------------------- */

/* gan_grid_size returns 0 with a message for a grid that is not possible; cols = 0 is one. Its
   locals divide n by cols before its assert, which NDEBUG removes anyway. */
static int grid_no_columns(void *a)
{
    int W = 0, H = 0;
    (void)a;
    return refused(gan_grid_size(&W, &H, 4, 8, 8, 0, 2, 1), "gan_grid_size") ? 0 : 1;
}

static int discard(void *user, const void *data, size_t n)
{
    (void)user;
    (void)data;
    (void)n;
    return 1;
}

static uint8_t pixels[16 * 16 * 4];

/* gan_png_write or gan_pnm_write (which = 0, 1) of w x h pixels of comp bytes, stride w comp (at
   least 1): *(const int (*)[4])a = { which, w, h, comp }. The writers assert their sizes; without
   the asserts they must still refuse, not write a broken file or index past their tables. */
static int writer_refused(void *a)
{
    const int *s = (const int *)a;
    int stride = s[1] * s[3] > 0 ? s[1] * s[3] : 1;
    if (s[0] == 0) return refused(gan_png_write(discard, NULL, pixels, s[1], s[2], s[3], stride), "gan_png_write") ? 0 : 1;
    return refused(gan_pnm_write(discard, NULL, pixels, s[1], s[2], s[3], stride), "gan_pnm_write") ? 0 : 1;
}

static void check_pictures(void)
{
    static const int png_comp5[4] = { 0, 4, 4, 5 }, png_w0[4] = { 0, 0, 4, 1 }, png_h_neg[4] = { 0, 4, -4, 1 };
    static const int pnm_comp2[4] = { 1, 4, 4, 2 };
    expect_refusal(grid_no_columns, NULL, "gan_grid_size with cols = 0 returns 0 with a message");
    expect_refusal(writer_refused, (void *)png_comp5, "gan_png_write of 5 bytes a pixel returns 0 with a message");
    expect_refusal(writer_refused, (void *)png_w0, "gan_png_write of width 0 returns 0 with a message");
    expect_refusal(writer_refused, (void *)png_h_neg, "gan_png_write of height -4 returns 0 with a message");
    expect_refusal(writer_refused, (void *)pnm_comp2, "gan_pnm_write of 2 bytes a pixel returns 0 with a message");
}

/* ---- building ---------------------------------------------------------------------------------- */

/* A Conv2d of stride 0: only gan_conv2d's assert refuses it, and the plan divides by the stride. */
static int conv_stride_zero(void *a)
{
    gan_rng rng;
    gan_layer conv = gan_conv2d(1, 2, 3, 0, 1);
    (void)a;
    gan_rng_seed(&rng, 1);
    return refused(gan_net_create(gan_chw(1, 4, 4), &conv, 1, 2, &rng) != NULL, "gan_net_create") ? 0 : 1;
}

/* A chain of one layer on input shape `in` at max_batch must be refused: NULL, a message, and no
   request above ABSURD_BYTES on the way. */
typedef struct wrap_case {
    gan_layer layer;
    gan_shape in;
    int max_batch;
} wrap_case;

static int refused_before_allocating(void *a)
{
    const wrap_case *c = (const wrap_case *)a;
    gan_rng rng;
    gan_rng_seed(&rng, 1);
    largest_request = 0;
    if (!refused(gan_net_create(c->in, &c->layer, 1, c->max_batch, &rng) != NULL, "gan_net_create")) return 1;
    if (largest_request > ABSURD_BYTES) {
        fprintf(stderr, "asked the allocator for %zu bytes before refusing (\"%s\")\n", largest_request, gan_last_error());
        return 3;
    }
    return 0;
}

static void check_building(void)
{
    static wrap_case linear, layernorm, relu;
    expect_refusal(conv_stride_zero, NULL, "gan_net_create of a Conv2d of stride 0 returns NULL with a message");
    linear.layer = gan_linear(INT_MAX, INT_MAX);
    linear.in = gan_chw(INT_MAX, 1, 1);
    linear.max_batch = 1;
    expect_refusal(refused_before_allocating, &linear,
                   "gan_net_create of Linear(INT_MAX, INT_MAX) returns NULL with a message, allocating nothing absurd");
    layernorm.layer = gan_layernorm();
    layernorm.in = gan_chw(1 << 30, 1 << 30, 4);
    layernorm.max_batch = 1;
    expect_refusal(refused_before_allocating, &layernorm,
                   "gan_net_create of a LayerNorm on (2^30, 2^30, 4) returns NULL with a message, allocating nothing absurd");
    relu.layer = gan_relu();
    relu.in = gan_chw(65536, 65536, 65536);
    relu.max_batch = 65536;
    expect_refusal(refused_before_allocating, &relu,
                   "gan_net_create of a ReLU on (65536, 65536, 65536) at max batch 65536 returns NULL with a message, "
                   "allocating nothing absurd");
}

int main(void)
{
    /* no worker threads: a forked child has only the thread that forked */
    gan_set_threads(1);
    check_forward_backward();
    check_infer_penalty();
    check_layer_calls();
    check_pictures();
    check_building();
    return test_finish();
}
