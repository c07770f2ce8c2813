#!/usr/bin/python3
"""torch_bench.py - the training steps of bench/bench.c, in PyTorch, for reading side by side.

RUN
    /usr/bin/python3 bench/torch_bench.py [--quick] [--threads 1,2]
    --quick      fewer repetitions, for trying it out.
    --threads    comma-separated thread counts; each benchmark runs once per count (default 1,2).
    Written for Debian 12's python3-torch (1.13, CPU only). Nothing in the tests needs it; when torch
    cannot be imported it prints one '#' line and exits 0.

WHAT IT RUNS
    The reference DCGAN of bench/bench.c (28 x 28 x 1 images, latent 100, batch 64):
        G: Linear(100, 6272), BatchNorm1d, ReLU, reshape (128, 7, 7), ConvTranspose2d(128, 64, 4, 2, 1),
           BatchNorm2d, ReLU, ConvTranspose2d(64, 1, 4, 2, 1), Tanh
        D: Conv2d(1, 64, 4, 2, 1), LeakyReLU(0.2), Conv2d(64, 128, 4, 2, 1), BatchNorm2d, LeakyReLU(0.2),
           Flatten, Linear(6272, 1)
    torch.dcgan.step      one training step: G makes a fake batch once; D step on the real batch
                          (target 1) and the detached fake batch (target 0); G step through D
                          (target 1). BCEWithLogitsLoss, Adam(2e-4, betas (0.5, 0.999)) for each net.
    torch.dcgan.peak_rss  ru_maxrss of the process that ran the DCGAN steps (steps= counts the
                          warm-up; the peak stops growing after the first few).
    torch.wgan_gp.g_iter  one WGAN-GP generator iteration: 5 critic steps, then 1 G step. The critic
                          is D with BatchNorm2d(128) replaced by LayerNorm([128, 7, 7]). Critic loss
                          C(fake).mean() - C(real).mean() + 10 * ((|grad_x C(x_hat)|_2 - 1)^2).mean(),
                          x_hat = eps * real + (1 - eps) * fake, eps uniform per sample, the gradient
                          from torch.autograd.grad(..., create_graph=True); G loss -C(G(z)).mean().
                          Adam(1e-4, betas (0.0, 0.9)) for each net.
    torch.wgan_gp.critic_step  one of those critic steps alone (fake batch made under no_grad).
    Real images are uniform in [-1, 1], a fixed pool of 10 batches; only the timing matters.
    Each figure is the median of individually timed steps (time.perf_counter) after 3 untimed ones:
    97 DCGAN steps and 15 WGAN-GP iterations, or fewer (at least 5) once about 12 s have been spent
    on one (benchmark, threads); --quick times at most 20 and 4 within about 3 s.
    gflops is the work per step (10.29 GFLOP for the DCGAN step, 59.7 GFLOP for the WGAN-GP
    generator iteration, as counted for gan.h) over the median time.

OUTPUT
    One figure per line, "NAME VALUE UNIT key=value ...", as bench/bench.c prints them. Lines
    starting with '#' are comments (the setup, and any benchmark that failed, with the reason).

SETUP (applied before torch starts; the fastest for torch on these 2-core machines)
    OPENBLAS_NUM_THREADS=1   when torch's BLAS is OpenBLAS, its own thread pool would run on top of
                             torch's OpenMP threads and oversubscribe the cores. OpenBLAS reads it
                             once, when it is loaded, so it has to be set before torch is imported.
    MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ = 1 GiB
                             by default glibc serves large blocks with mmap (above 128 KiB, a limit
                             that adapts only up to 32 MiB) and trims freed memory off the heap, so
                             each step's tensors come back as fresh pages, faulted in and zeroed
                             again. glibc reads these at process start only, so the script
                             re-executes itself (os.execve) with them set.
    torch.set_num_threads(n) (and OMP_NUM_THREADS=n) for the thread count being measured.
    OPENBLAS_CORETYPE        SkylakeX on Intel family 6 model 207, which Debian 12's OpenBLAS does not
                             recognise (it would pick a slower kernel); removed on AMD, where one
                             inherited from the environment (e.g. Haswell) names a slower kernel than
                             the AVX-512 one OpenBLAS detects.
    Each (benchmark, thread count) runs in its own child process, so the thread pools are set up
    once for that count and ru_maxrss is that benchmark's alone.

TORCH'S BLAS
    Debian's torch calls whichever libblas.so.3 the alternatives system points at: the netlib
    reference code (libblas3, a few GFLOP/s) unless OpenBLAS (libopenblas0-pthread) is installed.
    torch 1.13 runs Conv2d through oneDNN but Linear and ConvTranspose2d through that BLAS
    (ConvTranspose2d as im2col + GEMM), so with the reference BLAS those layers dominate the step.
    The '#' line names the library loaded, and a '#' note follows when it is the reference one.
    The load average is printed at the start and the end: other work on the cores slows the
    2-thread runs most, since torch's OpenMP threads wait for each other at every layer.
"""

import os
import subprocess
import sys
import time

BATCH = 64
LATENT = 100
WARMUP = 3
DCGAN_GFLOP = 10.29
WGAN_GP_GFLOP = 59.7
CRITIC_STEPS = 5
MALLOC_THRESHOLD = str(1 << 30)


def cpu_info():
    """vendor, family, model and model name of the first CPU in /proc/cpuinfo."""
    info = {"vendor_id": "?", "cpu family": "?", "model": "?", "model name": "?"}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor's block is enough
                key, _, value = line.partition(":")
                key = key.strip()
                if key in info:
                    info[key] = value.strip()
    except OSError:
        pass
    return info


def wanted_env():
    """The environment the benchmark runs in: os.environ with the setup above applied."""
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = "1"
    env["MALLOC_MMAP_THRESHOLD_"] = MALLOC_THRESHOLD
    env["MALLOC_TRIM_THRESHOLD_"] = MALLOC_THRESHOLD
    cpu = cpu_info()
    if cpu["vendor_id"] == "GenuineIntel" and cpu["cpu family"] == "6" and cpu["model"] == "207":
        env["OPENBLAS_CORETYPE"] = "SkylakeX"
    elif cpu["vendor_id"] == "AuthenticAMD":
        env.pop("OPENBLAS_CORETYPE", None)
    return env


def interpreter_flags():
    """The interpreter's own options (e.g. -S, -X ...), kept when re-executing and for children."""
    orig = getattr(sys, "orig_argv", None)
    if not orig or len(orig) <= len(sys.argv):
        return []
    return orig[1:len(orig) - len(sys.argv)]


def ensure_env():
    """Re-executes this script when the environment is not yet the wanted one: glibc's malloc and
    OpenBLAS read theirs only at start-up. After the re-exec it matches, so this happens once."""
    env = wanted_env()
    keys = ("OPENBLAS_NUM_THREADS", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "OPENBLAS_CORETYPE")
    if any(os.environ.get(k) != env.get(k) for k in keys):
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable] + interpreter_flags() + sys.argv, env)


class Plan:
    """How many timed repetitions a child runs: up to max_reps, at least min_reps, and no more once
    budget_s seconds have been spent timing (the reference BLAS makes a step about 5 x slower)."""

    def __init__(self, max_reps, min_reps, budget_s):
        self.max_reps, self.min_reps, self.budget_s = int(max_reps), int(min_reps), float(budget_s)


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


# ---------------------------------------------------------------------------------------------
# Children: one benchmark at one thread count, printing its own lines.


def make_nets(torch, critic_norm):
    nn = torch.nn
    G = nn.Sequential(
        nn.Linear(LATENT, 128 * 7 * 7), nn.BatchNorm1d(128 * 7 * 7), nn.ReLU(),
        nn.Unflatten(1, (128, 7, 7)),
        nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())
    D = nn.Sequential(
        nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 4, 2, 1), critic_norm, nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(128 * 7 * 7, 1))
    return G, D


def time_steps(step, plan):
    """Seconds of each timed call of step(), after WARMUP untimed ones: plan.max_reps calls, or fewer
    (but at least plan.min_reps) once plan.budget_s seconds have been spent timing."""
    for _ in range(WARMUP):
        step()
    times = []
    while len(times) < plan.max_reps and (len(times) < plan.min_reps or sum(times) < plan.budget_s):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return times


def child_dcgan(torch, threads, plan):
    import resource
    nn = torch.nn
    G, D = make_nets(torch, nn.BatchNorm2d(128))
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    pool = [torch.rand(BATCH, 1, 28, 28) * 2 - 1 for _ in range(10)]
    ones = torch.ones(BATCH, 1)
    zeros = torch.zeros(BATCH, 1)
    count = [0]

    def step():
        real = pool[count[0] % len(pool)]
        count[0] += 1
        fake = G(torch.randn(BATCH, LATENT))
        opt_d.zero_grad(set_to_none=True)
        loss_d = bce(D(real), ones) + bce(D(fake.detach()), zeros)
        loss_d.backward()
        opt_d.step()
        # D's parameter gradients also accumulate here, as in the standard loop; the next D step
        # starts from zero_grad, so they are never used.
        opt_g.zero_grad(set_to_none=True)
        loss_g = bce(D(fake), ones)
        loss_g.backward()
        opt_g.step()

    times = time_steps(step, plan)
    reps = len(times)
    t = median(times)
    print("torch.dcgan.step %.1f ms threads=%d batch=%d reps=%d imgs_per_s=%.1f gflop=%.2f gflops=%.1f"
          % (t * 1e3, threads, BATCH, reps, BATCH / t, DCGAN_GFLOP, DCGAN_GFLOP / t))
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print("torch.dcgan.peak_rss %.1f MiB threads=%d steps=%d" % (rss_kib / 1024.0, threads, count[0]))


def child_wgan_gp(torch, threads, plan):
    nn = torch.nn
    G, C = make_nets(torch, nn.LayerNorm([128, 7, 7]))
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.0, 0.9))
    opt_c = torch.optim.Adam(C.parameters(), lr=1e-4, betas=(0.0, 0.9))
    pool = [torch.rand(BATCH, 1, 28, 28) * 2 - 1 for _ in range(10)]
    count = [0]
    critic_times = []

    def critic_step():
        real = pool[count[0] % len(pool)]
        count[0] += 1
        with torch.no_grad():
            fake = G(torch.randn(BATCH, LATENT))
        opt_c.zero_grad(set_to_none=True)
        eps = torch.rand(BATCH, 1, 1, 1)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(C(x_hat).sum(), x_hat, create_graph=True)
        penalty = ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
        loss_c = C(fake).mean() - C(real).mean() + 10 * penalty
        loss_c.backward()
        opt_c.step()

    def g_iter():
        for _ in range(CRITIC_STEPS):
            t0 = time.perf_counter()
            critic_step()
            critic_times.append(time.perf_counter() - t0)
        opt_g.zero_grad(set_to_none=True)
        loss_g = -C(G(torch.randn(BATCH, LATENT))).mean()
        loss_g.backward()
        opt_g.step()

    times = time_steps(g_iter, plan)
    reps = len(times)
    t = median(times)
    tc = median(critic_times[WARMUP * CRITIC_STEPS:])
    print("torch.wgan_gp.g_iter %.1f ms threads=%d batch=%d reps=%d critic_steps=%d gflop=%.2f gflops=%.1f"
          % (t * 1e3, threads, BATCH, reps, CRITIC_STEPS, WGAN_GP_GFLOP, WGAN_GP_GFLOP / t))
    print("torch.wgan_gp.critic_step %.1f ms threads=%d batch=%d reps=%d"
          % (tc * 1e3, threads, BATCH, reps * CRITIC_STEPS))


def run_child(bench, threads, plan):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    {"dcgan": child_dcgan, "wgan_gp": child_wgan_gp}[bench](torch, threads, plan)
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------------
# Parent: the setup line, then one child per (benchmark, thread count).


def loaded_blas():
    """Path of the BLAS library this process has mapped (after torch ran a matmul), or '?'."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                name = os.path.basename(path)
                if "blas" in name or "mkl_rt" in name or "mkl_core" in name:
                    return os.path.realpath(path)
    except OSError:
        pass
    return "?"


def blas_kind(path):
    """openblas, mkl, reference (Debian's libblas3, the netlib code) or other."""
    name = os.path.basename(path)
    if "openblas" in name:
        return "openblas"
    if "mkl" in name:
        return "mkl"
    if name.startswith("libblas.so") and os.path.basename(os.path.dirname(path)) == "blas":
        return "reference"
    return "other"


def parse_args(argv):
    opts = {"quick": False, "threads": [1, 2], "child": None}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--quick":
            opts["quick"] = True
        elif a == "--threads" and i + 1 < len(argv):
            i += 1
            opts["threads"] = [int(x) for x in argv[i].split(",") if x]
        elif a.startswith("--threads="):
            opts["threads"] = [int(x) for x in a.split("=", 1)[1].split(",") if x]
        elif a == "--child" and i + 5 < len(argv):
            opts["child"] = (argv[i + 1], int(argv[i + 2]), Plan(*argv[i + 3:i + 6]))
            i += 5
        else:
            sys.stderr.write("usage: %s [--quick] [--threads 1,2]\n" % sys.argv[0])
            sys.exit(2)
        i += 1
    if not opts["threads"] or min(opts["threads"]) < 1:
        sys.stderr.write("torch_bench: --threads needs positive counts\n")
        sys.exit(2)
    return opts


def main():
    opts = parse_args(sys.argv[1:])
    ensure_env()
    if opts["child"]:
        run_child(*opts["child"])
        return 0
    start = time.time()

    try:
        import torch
    except Exception as e:  # ImportError, or a broken install failing at import
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        print("# skip torch: cannot import torch with %s (%s)" % (sys.executable, reason))
        return 0
    torch.ones(8, 8) @ torch.ones(8, 8)  # loads the BLAS library, so loaded_blas() can name it
    cpu = cpu_info()
    blas = loaded_blas()
    # 100 DCGAN steps in all (warm-up included) unless the budget ends them first; the peak RSS
    # stops growing after the first few.
    if opts["quick"]:
        plans = {"dcgan": Plan(20, 3, 3.0), "wgan_gp": Plan(4, 3, 3.0)}
    else:
        plans = {"dcgan": Plan(100 - WARMUP, 5, 12.0), "wgan_gp": Plan(15, 5, 12.0)}
    print("# torch %s bench: medians after %d warm-up steps, one process per (benchmark, threads); "
          "OPENBLAS_NUM_THREADS=%s MALLOC_MMAP_THRESHOLD_=%s MALLOC_TRIM_THRESHOLD_=%s OPENBLAS_CORETYPE=%s "
          "torch.set_num_threads(n); blas=%s (%s) mkldnn=%s; cpu=\"%s\" vendor=%s family=%s model=%s cores=%d "
          "load1=%.2f"
          % (torch.__version__, WARMUP, os.environ["OPENBLAS_NUM_THREADS"],
             os.environ["MALLOC_MMAP_THRESHOLD_"], os.environ["MALLOC_TRIM_THRESHOLD_"],
             os.environ.get("OPENBLAS_CORETYPE", "unset"), blas, blas_kind(blas),
             int(torch.backends.mkldnn.is_available()), cpu["model name"], cpu["vendor_id"],
             cpu["cpu family"], cpu["model"], os.cpu_count() or 0, os.getloadavg()[0]))
    if blas_kind(blas) == "reference":
        # Linear layers and ConvTranspose2d (which torch 1.13 runs as im2col + GEMM, not through
        # oneDNN) then dominate the step; OpenBLAS takes libblas.so.3's place when it is installed.
        print("# note: torch's BLAS is the netlib reference libblas, not OpenBLAS; its GEMMs run at a "
              "few GFLOP/s (Debian's libopenblas0-pthread replaces it as libblas.so.3)")
    sys.stdout.flush()

    script = os.path.abspath(__file__)
    for bench in ("dcgan", "wgan_gp"):
        plan = plans[bench]
        for n in opts["threads"]:
            env = dict(os.environ)
            env["OMP_NUM_THREADS"] = str(n)  # libgomp sizes its first pool from this
            r = subprocess.run([sys.executable] + interpreter_flags()
                               + [script, "--child", bench, str(n), str(plan.max_reps),
                                  str(plan.min_reps), str(plan.budget_s)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True)
            sys.stdout.write(r.stdout)
            if r.returncode != 0:
                err = [l for l in r.stderr.splitlines() if l.strip()]
                print("# torch.%s threads=%d failed (exit %d): %s"
                      % (bench, n, r.returncode, err[-1] if err else "no message"))
            sys.stdout.flush()
    print("# torch bench done in %.0f s, load1=%.2f" % (time.time() - start, os.getloadavg()[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
