/* bench/peak.c - this machine's FP32 peak per core, for each x86 instruction set it has: the ceiling
   to hold bench.c's GEMM figures against. Nothing is asserted.

   cc -O2 bench/peak.c -o peak -lpthread && ./peak            (./peak --isa avx2 runs only that one)

   bench/bench.c includes this file with PEAK_NO_MAIN defined, to use its kernels and timing functions
   (isas, isa_missing, size_run, run_gflops, pin_to, run_two) without its main().

   Builds with gcc and clang under -std=c99 or -std=gnu99 and needs no -march flag: each kernel is
   compiled for its own instruction set (target attribute) and chosen at run time with
   __builtin_cpu_supports, so one binary reports every level the CPU has. x86 and Linux only
   (sched_setaffinity).

   One figure per line, "NAME VALUE UNIT key=value ...", in bench.c's format:
      peak.gflops   GFLOP/s of one FP32 kernel; isa= avx512 (512-bit FMA), avx2 (256-bit FMA, needs
                    AVX2 and FMA) or baseline (128-bit SSE2 multiply then add: no FMA, so a
                    multiply-add pair counts as 2 flops a lane, as an FMA does); threads= 1 or 2.
      peak.speedup  GFLOP/s of two threads over one thread, same isa.
   Lines starting with "#" are comments (and skipped figures, with the reason).

   Each kernel runs 16 independent chains, one vector register each, so the loop is bound by the FP
   pipes' throughput and not by latency (16 in flight cover 4-cycle FMA latency on 2 pipes with room
   to spare). The FMA kernels run x = x * x + x from x in [-0.625, -0.25]: it creeps towards 0 and
   stalls, rounded, at about -4e-8, so no lane overflows or goes denormal, and it needs no register
   beyond the chain's own, which is what lets 16 chains fit AVX2's 16 registers without spilling.
   The baseline runs x = x * x + c (c = 0.1875, every lane settles on 0.25); the add reads c from
   memory through one line of asm because gcc and clang would otherwise keep c in a register and
   spill two chains. The chains start from values read from a volatile, so the compiler cannot
   merge them, and their sum is stored to a volatile, so it cannot drop the loop.
   The loop is sized to last about 0.25 s and the best of 3 runs is kept. One thread runs pinned
   to the first CPU this process may use (cpu 0 on an unrestricted machine); the two-thread figure
   (only when at least 2 CPUs are online) runs the same loop at the same time on the first two
   such CPUs, one thread pinned to each, and sums their GFLOP/s. On a machine with SMT those two
   CPUs can be hyperthreads of one core, which halves the speedup. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET; an includer defines it before its first header */
#endif

#if !defined(__x86_64__) && !defined(__i386__)
#error "bench/peak.c measures x86 instruction sets only"
#endif

#include <errno.h>
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHAINS 16
#define RUNS 3
#define RUN_S 0.25

/* Read at run time so the compiler knows neither the start values nor c. */
static volatile float chain_start[CHAINS] = { -0.250f, -0.275f, -0.300f, -0.325f, -0.350f, -0.375f,
                                              -0.400f, -0.425f, -0.450f, -0.475f, -0.500f, -0.525f,
                                              -0.550f, -0.575f, -0.600f, -0.625f };
static volatile float chain_c = 0.1875f;
static volatile float sink; /* where the chains' sum goes (one thread), so the loop is not dead code */

#define REP16(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)

/* Each kernel runs iters iterations of CHAINS vector multiply-adds and returns the chains' sum. */
typedef float (*kernel_fn)(long iters);

__attribute__((target("avx512f"), noinline)) static float kernel_avx512(long iters)
{
#define DECL(i) __m512 a##i = _mm512_set1_ps(chain_start[i]);
#define STEP(i) a##i = _mm512_fmadd_ps(a##i, a##i, a##i);
#define SUM(i) s = _mm512_add_ps(s, a##i);
    __m512 s = _mm512_setzero_ps();
    float out[16];
    long n;
    int i;
    REP16(DECL)
    for (n = 0; n < iters; n++) {
        REP16(STEP)
    }
    REP16(SUM)
    _mm512_storeu_ps(out, s);
    for (i = 1; i < 16; i++) out[0] += out[i];
    return out[0];
#undef DECL
#undef STEP
#undef SUM
}

__attribute__((target("avx2,fma"), noinline)) static float kernel_avx2(long iters)
{
#define DECL(i) __m256 a##i = _mm256_set1_ps(chain_start[i]);
#define STEP(i) a##i = _mm256_fmadd_ps(a##i, a##i, a##i);
#define SUM(i) s = _mm256_add_ps(s, a##i);
    __m256 s = _mm256_setzero_ps();
    float out[8];
    long n;
    int i;
    REP16(DECL)
    for (n = 0; n < iters; n++) {
        REP16(STEP)
    }
    REP16(SUM)
    _mm256_storeu_ps(out, s);
    for (i = 1; i < 8; i++) out[0] += out[i];
    return out[0];
#undef DECL
#undef STEP
#undef SUM
}

/* sse2 is implied on x86-64; the attribute is for 32-bit builds. The asm is the addps that _mm_add_ps
   would give, but "m" keeps c in memory (the stack) and so leaves all 16 registers to the chains. */
__attribute__((target("sse2"), noinline)) static float kernel_baseline(long iters)
{
#define DECL(i) __m128 a##i = _mm_set1_ps(chain_start[i]);
#define STEP(i) a##i = _mm_mul_ps(a##i, a##i); __asm__("addps %1, %0" : "+x"(a##i) : "m"(c));
#define SUM(i) s = _mm_add_ps(s, a##i);
    __m128 c = _mm_set1_ps(chain_c), s = _mm_setzero_ps();
    float out[4];
    long n;
    int i;
    REP16(DECL)
    for (n = 0; n < iters; n++) {
        REP16(STEP)
    }
    REP16(SUM)
    _mm_storeu_ps(out, s);
    for (i = 1; i < 4; i++) out[0] += out[i];
    return out[0];
#undef DECL
#undef STEP
#undef SUM
}

typedef struct {
    const char *name;
    kernel_fn fn;
    int lanes; /* floats in one vector */
} isa;

static const isa isas[] = {
    { "avx512", kernel_avx512, 16 },
    { "avx2", kernel_avx2, 8 },
    { "baseline", kernel_baseline, 4 },
};
#define NISAS ((int)(sizeof isas / sizeof isas[0]))

/* NULL when the CPU (and OS) can run the isa, else why not. */
static const char *isa_missing(const isa *k)
{
    if (k->fn == kernel_avx512) return __builtin_cpu_supports("avx512f") ? NULL : "CPU lacks avx512f";
    if (k->fn == kernel_avx2) {
        if (!__builtin_cpu_supports("avx2")) return "CPU lacks avx2";
        return __builtin_cpu_supports("fma") ? NULL : "CPU lacks fma";
    }
    return __builtin_cpu_supports("sse2") ? NULL : "CPU lacks sse2";
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* GFLOP/s of one run of iters iterations on the calling thread; the chains' sum goes to *out. */
static double run_gflops(const isa *k, long iters, volatile float *out)
{
    double t0 = now_s(), t;
    *out = k->fn(iters);
    t = now_s() - t0;
    return (double)iters * CHAINS * k->lanes * 2 / t * 1e-9;
}

/* Iterations for a run of about RUN_S: double from a short run until one lasts 20 ms, then scale.
   This also brings the core up to its clock before anything is kept. */
static long size_run(const isa *k)
{
    long iters = 1 << 14;
    double t0, t;
    for (;;) {
        t0 = now_s();
        sink = k->fn(iters);
        t = now_s() - t0;
        if (t >= 0.02) break;
        iters *= 2;
    }
    return (long)((double)iters * RUN_S / t) + 1;
}

static int pin_to(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set); /* 0: the calling thread */
}

typedef struct {
    const isa *k;
    long iters;
    int cpu, pinned;
    pthread_barrier_t *start;
    double gflops;
    volatile float sink; /* each thread its own, so the two do not write one variable */
} worker;

static void *run_worker(void *arg)
{
    worker *w = (worker *)arg;
    w->pinned = pin_to(w->cpu) == 0;
    pthread_barrier_wait(w->start); /* both threads start their run together */
    w->gflops = run_gflops(w->k, w->iters, &w->sink);
    return NULL;
}

/* Best of RUNS of two threads at once, GFLOP/s summed; 0 when a thread could not be started. */
static double run_two(const isa *k, long iters, const int cpus[2], int *pinned)
{
    double best = 0;
    int r, i;
    *pinned = 1;
    for (r = 0; r < RUNS; r++) {
        pthread_barrier_t start;
        pthread_t tid[2];
        worker w[2];
        pthread_barrier_init(&start, NULL, 2);
        for (i = 0; i < 2; i++) {
            w[i].k = k;
            w[i].iters = iters;
            w[i].cpu = cpus[i];
            w[i].start = &start;
            w[i].gflops = 0;
            w[i].pinned = 0;
            if (pthread_create(&tid[i], NULL, run_worker, &w[i]) != 0) {
                if (i == 1) { /* release and reap the first thread before giving up */
                    pthread_barrier_wait(&start);
                    pthread_join(tid[0], NULL);
                }
                pthread_barrier_destroy(&start);
                return 0;
            }
        }
        for (i = 0; i < 2; i++) pthread_join(tid[i], NULL);
        pthread_barrier_destroy(&start);
        if (!w[0].pinned || !w[1].pinned) *pinned = 0;
        if (w[0].gflops + w[1].gflops > best) best = w[0].gflops + w[1].gflops;
    }
    return best;
}

#ifndef PEAK_NO_MAIN
int main(int argc, char **argv)
{
    const char *only = NULL;
    double one[NISAS];
    long iters[NISAS];
    int run[NISAS], cpus[2], ncpus = 0, online, i, r, cpu, pinned;
    cpu_set_t allowed;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--isa") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--isa avx512|avx2|baseline]\n", argv[0]);
            return 2;
        }
    }
    if (only) {
        for (i = 0; i < NISAS && strcmp(isas[i].name, only) != 0; i++) {
        }
        if (i == NISAS) {
            fprintf(stderr, "peak: unknown isa '%s' (avx512, avx2 or baseline)\n", only);
            return 2;
        }
    }

    /* The first two CPUs this process may run on: cpu 0 and 1 unless a cpuset or taskset says not. */
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
        fprintf(stderr, "peak: sched_getaffinity: %s\n", strerror(errno));
        return 1;
    }
    for (cpu = 0; cpu < CPU_SETSIZE && ncpus < 2; cpu++)
        if (CPU_ISSET(cpu, &allowed)) cpus[ncpus++] = cpu;
    online = (int)sysconf(_SC_NPROCESSORS_ONLN);

    __builtin_cpu_init();
    printf("# peak: FP32, %d independent chains a kernel, best of %d runs of about %.2f s, "
           "one thread pinned to cpu %d\n", CHAINS, RUNS, RUN_S, cpus[0]);
    fflush(stdout);

    if (pin_to(cpus[0]) != 0)
        printf("# warning: cannot pin to cpu %d (%s); running unpinned\n", cpus[0], strerror(errno));
    for (i = 0; i < NISAS; i++) {
        const char *why;
        run[i] = 0;
        if (only && strcmp(isas[i].name, only) != 0) continue;
        why = isa_missing(&isas[i]);
        if (why) {
            printf("# skip isa=%s: %s\n", isas[i].name, why);
            continue;
        }
        run[i] = 1;
        iters[i] = size_run(&isas[i]);
        one[i] = 0;
        for (r = 0; r < RUNS; r++) {
            double g = run_gflops(&isas[i], iters[i], &sink);
            if (g > one[i]) one[i] = g;
        }
        printf("peak.gflops %.1f GFLOP/s isa=%s threads=1\n", one[i], isas[i].name);
        fflush(stdout);
    }

    if (online < 2 || ncpus < 2) {
        printf("# skip threads=2: %d CPU(s) online, %d usable by this process\n", online, ncpus);
        return 0;
    }
    for (i = 0; i < NISAS; i++) {
        double two;
        if (!run[i]) continue;
        two = run_two(&isas[i], iters[i], cpus, &pinned);
        if (two == 0) {
            printf("# skip isa=%s threads=2: cannot start a thread\n", isas[i].name);
            continue;
        }
        if (!pinned) printf("# warning: cannot pin to cpus %d and %d; ran unpinned\n", cpus[0], cpus[1]);
        printf("peak.gflops %.1f GFLOP/s isa=%s threads=2\n", two, isas[i].name);
        printf("peak.speedup %.2f x isa=%s threads=2\n", two / one[i], isas[i].name);
        fflush(stdout);
    }
    return 0;
}
#endif /* PEAK_NO_MAIN */
