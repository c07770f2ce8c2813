#!/usr/bin/python3
"""peers.py - the GANs of examples/dcgan.c, wgan.c and cgan.c trained again in PyTorch, for comparing
the quality of their samples with ours (issue 11).

RUN
    /usr/bin/python3 bench/peers.py RUN [RUN ...] [--seed N] [--threads N] [--data DIR]
                                    [--steps N] [--samples N] [--out DIR]
    (or --run RUN). RUN is one of
        dcgan          examples/dcgan.c's defaults: the reference DCGAN on MNIST, non-saturating
                       loss, 1500 steps
        dcgan-fashion  the same on Fashion-MNIST's 60,000 training images, 1500 steps
        wgan-gp        examples/wgan.c's defaults: the same G, a LayerNorm critic, WGAN-GP, 800 G steps
                       of 5 critic steps each
        cgan           examples/cgan.c's defaults (the label-map D, not --projection), 2000 steps
    --seed N     torch.manual_seed (weights, noise, the penalty's eps), the data order and the dumped
                 samples' noise follow from it; default 1
    --threads N  torch.set_num_threads (and OMP_NUM_THREADS); default 1
    --data DIR   the MNIST-layout IDX files (.gz or not) in DIR, DIR/mnist or DIR/fashion-mnist, as
                 gan_dataset_load looks for them (the training split when present, else t10k);
                 default: $GAN_DATA, else ../shared/data beside the repository
    --steps N, --samples N  fewer steps or samples, for trying it out (defaults: the examples' steps,
                 10000 samples)
    --out DIR    where the files go; default bench/peers
    Written for Debian 12's python3-torch (1.13, CPU only): apt-get install -y python3-torch.

WHAT IT WRITES (for each run, in bench/peers/)
    RUN-seedN.idx.gz         the samples: IDX3 unsigned bytes, 10000 x 28 x 28, gzipped with mtime 0
                             (byte-for-byte the same file for the same samples); pixel =
                             round((x + 1) 127.5) clamped to [0, 255], rounding half up as
                             gan_to_bytes does. G is in evaluation mode (BatchNorm's running
                             statistics), as the examples' --dump is by default.
    cgan-seedN-labels.idx.gz the class each cgan sample was asked for: IDX1, sample i is of class i mod 10
                             (the examples' --dump-labels).
    RUN-seedN.txt            one line: run, seed, threads, steps, epochs, training wall-clock seconds,
                             torch version, CPU, the last step's D and G losses (and their means over
                             the last 100 steps; wgan-gp also its penalty).
    Progress goes to stderr every 100 steps.
    The dumps in bench/peers/ were made by this script, so CI compares our samples with PyTorch's
    without torch installed.

WHAT IS THE SAME AS IN THE C EXAMPLES
    G: z (100) [+ Embedding(10, 10) of the label, cgan] -> Linear(-, 6272, no bias) -> BatchNorm1d
       -> ReLU -> (128, 7, 7) -> ConvTranspose2d(128, 64, 4, 2, 1, no bias) -> BatchNorm2d -> ReLU
       -> ConvTranspose2d(64, 1, 4, 2, 1) -> Tanh
    D: x (1, 28, 28) [+ Embedding(10, 784) of the label as a second channel, cgan]
       -> Conv2d(-, 64, 4, 2, 1) -> LeakyReLU(0.2) -> Conv2d(64, 128, 4, 2, 1, no bias)
       -> BatchNorm2d (LayerNorm([128, 7, 7]) for wgan-gp) -> LeakyReLU(0.2) -> Flatten -> Linear(6272, 1)
    GAN_INIT_DCGAN: Linear and convolution weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0,
    LayerNorm weight 1 and bias 0, Embeddings N(0, 1) (gan.h keeps nn.Embedding's init under every scheme).
    BatchNorm eps 1e-5, momentum 0.1, unbiased running variance; LayerNorm eps 1e-5 (PyTorch's defaults,
    which gan.h follows).
    Batch 64; images p / 127.5 - 1 (gan_dataset_batch); a fresh permutation each pass over the data,
    a batch running on into the next pass where one ends (gan_loader_next).
    Non-saturating (dcgan, cgan), as gan_train_step runs it with one D step: a real batch, z ~ N(0, 1),
    one fake batch G(z) (G in training mode); D's loss BCE(D(x), 1) + BCE(D(G(z)), 0) with logits, D
    judging the real and the fake batch in separate passes (so BatchNorm sees each alone); Adam step
    of D; then G's step reuses that same fake batch, judged by the updated D: BCE(D(G(z)), 1), and only
    G moves. Adam(2e-4, 0.5, 0.999), eps 1e-8, for both. cgan: the fakes of the D step carry the real
    batch's labels, and since the G step reuses them, so does the G step (gan_train_step draws
    uniform labels for G only when n_critic > 1).
    WGAN-GP (wgan-gp): 5 critic steps, each with a fresh real batch and a fresh fake one (G in
    training mode, so its BatchNorm's running statistics move at every critic step, as in gan.h);
    the critic's loss mean D(G(z)) - mean D(x) + 10 mean((||grad D(x_hat)|| - 1)^2), x_hat =
    e x + (1 - e) G(z) with e ~ U(0, 1) per sample; then a G step on a fresh z: -mean D(G(z)).
    Adam(1e-4, 0, 0.9) for both.

WHAT DIFFERS, AND WHY
    The random numbers: torch's generator is not gan.h's, so the initial weights, the noise, the data
    order and e differ draw by draw though not in distribution; a peer run is another seed, not the
    same run. The float arithmetic (summation order, GEMM kernels) differs in the last bits, and GAN
    training amplifies that, so only statistics of the samples can be compared.

SETUP (bench/torch_bench.py's, reused from it): OPENBLAS_NUM_THREADS=1, glibc's MALLOC_MMAP_THRESHOLD_
    and MALLOC_TRIM_THRESHOLD_ at 1 GiB, OPENBLAS_CORETYPE=SkylakeX on Intel family 6 model 207 and unset
    on AMD, plus OMP_NUM_THREADS=threads; the script re-executes itself once with that environment.

HOW LONG (training wall-clock at --threads 1 on the 2-core "Intel(R) Xeon(R) Processor" VM, family 6
    model 207, torch 1.13 with OpenBLAS; the .txt files hold each dump's own figure)
    The seed-1 dumps in bench/peers/ were made while other people's jobs kept the load average near
    5 to 6 on the two cores, so their times are 3 to 4 times an unloaded run's:
        dcgan 958 s, cgan 1707 s, dcgan-fashion 745 s (the load falling), wgan-gp 3403 s.
    With only this script on the machine (two runs side by side, one core each):
        dcgan seeds 2 and 3: 251 s and 248 s (0.17 s a step); dcgan seed 1 again: 345 s, its dump
        byte-for-byte the one in bench/peers/ (same seed and thread count, same file);
        100 steps of cgan: 40 s (so about 13 minutes for 2000); 100 G steps of wgan-gp: 159 s
        (about 21 minutes for 800).
    Seeds 2 and 3 of cgan, dcgan-fashion and wgan-gp were made on a 2-core AMD EPYC Zen 4 (cpu="AMD
    EPYC" in their .txt), one thread, beside three or four other single-threaded runs, so their
    train_s are inflated likewise; on that machine at equal load a DCGAN step of this script takes
    about 1.45 times one of dcgan.c --pack 2 (farm-bench, bench/quality.sh's header).
"""

import gzip
import os
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch_bench  # noqa: E402  (its environment setup; it imports no torch at the top)

BATCH = 64
ZDIM = 100
EMB = 10            # length of cgan's G label vector
CLASSES = 10
SIDE = 28
CHUNK = 500         # samples generated at once when dumping
EVERY = 100         # steps between progress lines

# name: (data set, training recipe, G steps)
RUNS = {
    "dcgan": ("mnist", "ns", 1500),
    "dcgan-fashion": ("fashion", "ns", 1500),
    "wgan-gp": ("mnist", "wgan-gp", 800),
    "cgan": ("mnist", "ns-conditional", 2000),
}


# ---------------------------------------------------------------------------------------------
# Command line and environment


def usage(msg=None):
    if msg:
        sys.stderr.write("peers: %s\n" % msg)
    sys.stderr.write("usage: %s RUN [RUN ...] | --run RUN  [--seed N] [--threads N] [--data DIR] [--steps N] "
                     "[--samples N] [--out DIR]\n    RUN: %s\n" % (sys.argv[0], ", ".join(RUNS)))
    sys.exit(2)


def parse_args(argv):
    opts = {"runs": [], "seed": 1, "threads": 1, "data": None, "steps": None, "samples": 10000,
            "out": os.path.join(HERE, "peers")}
    numbers = {"--seed": ("seed", 0), "--threads": ("threads", 1), "--steps": ("steps", 1),
               "--samples": ("samples", 1)}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            sys.stdout.write(__doc__)
            sys.exit(0)
        if not a.startswith("--"):
            opts["runs"].append(a)
            i += 1
            continue
        if i + 1 >= len(argv):
            usage("no value after " + a)
        v = argv[i + 1]
        if a == "--run":
            opts["runs"].append(v)
        elif a == "--data":
            opts["data"] = v
        elif a == "--out":
            opts["out"] = v
        elif a in numbers:
            key, lo = numbers[a]
            try:
                opts[key] = int(v)
            except ValueError:
                usage("bad value of %s: %s" % (a, v))
            if opts[key] < lo:
                usage("%s must be at least %d" % (a, lo))
        else:
            usage("unknown flag " + a)
        i += 2
    if not opts["runs"]:
        usage("no run named")
    for r in opts["runs"]:
        if r not in RUNS:
            usage("unknown run '%s'" % r)
    if opts["data"] is None:
        opts["data"] = os.environ.get("GAN_DATA") or os.path.join(HERE, "..", "..", "shared", "data")
    return opts


def ensure_env(threads):
    """torch_bench's environment plus OMP_NUM_THREADS; re-executes once if this process lacks it
    (glibc's malloc, OpenBLAS and libgomp read theirs at start-up)."""
    env = torch_bench.wanted_env()
    env["OMP_NUM_THREADS"] = str(threads)
    keys = ("OPENBLAS_NUM_THREADS", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "OPENBLAS_CORETYPE",
            "OMP_NUM_THREADS")
    if any(os.environ.get(k) != env.get(k) for k in keys):
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable] + torch_bench.interpreter_flags() + sys.argv, env)


# ---------------------------------------------------------------------------------------------
# IDX files


def read_idx(path):
    """(dims, bytes) of an IDX file of unsigned bytes, gzipped when the name ends in .gz."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    if magic >> 8 != 0x08:
        raise ValueError("%s: not an IDX file of unsigned bytes (magic 0x%08x)" % (path, magic))
    nd = magic & 0xff
    dims = struct.unpack(">%dI" % nd, raw[4:4 + 4 * nd])
    body = raw[4 + 4 * nd:]
    count = 1
    for d in dims:
        count *= d
    if len(body) != count:
        raise ValueError("%s: %d bytes of data for dimensions %s" % (path, len(body), dims))
    return dims, body


def idx_bytes(data, dims):
    """An IDX file of unsigned bytes: magic 0x000008NN, the dimensions big-endian, then the data."""
    return struct.pack(">I", 0x0800 | len(dims)) + struct.pack(">%dI" % len(dims), *dims) + bytes(data)


def write_gz(path, payload):
    """payload gzipped with mtime 0 and no file name, so equal payloads give equal files."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(gzip.compress(payload, compresslevel=9, mtime=0))
    os.replace(tmp, path)


def find_file(data_dir, dataset, stem):
    """gan_dataset_load's search: DIR/mnist or DIR/fashion-mnist, then DIR; .gz or not."""
    sub = "fashion-mnist" if dataset == "fashion" else "mnist"
    for d in (os.path.join(data_dir, sub), data_dir):
        for name in (stem + ".gz", stem):
            p = os.path.join(d, name)
            if os.path.isfile(p):
                return p
    return None


def load_dataset(torch, data_dir, dataset):
    """(images uint8 n x 28 x 28, labels int64 n, path): the training split when present, else t10k."""
    for split in ("train", "t10k"):
        img = find_file(data_dir, dataset, split + "-images-idx3-ubyte")
        lab = find_file(data_dir, dataset, split + "-labels-idx1-ubyte")
        if img and lab:
            dims, pixels = read_idx(img)
            ldims, labels = read_idx(lab)
            if len(dims) != 3 or dims[1:] != (SIDE, SIDE) or ldims != dims[:1]:
                raise ValueError("%s, %s: want n x 28 x 28 images and n labels" % (img, lab))
            x = torch.frombuffer(bytearray(pixels), dtype=torch.uint8).view(dims[0], 1, SIDE, SIDE)
            y = torch.frombuffer(bytearray(labels), dtype=torch.uint8).long()
            return x, y, img
    raise FileNotFoundError("no %s IDX files in %s" % (dataset, data_dir))


# ---------------------------------------------------------------------------------------------
# The networks


def make_nets(torch, conditional, layernorm):
    nn = torch.nn

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.label = nn.Embedding(CLASSES, EMB) if conditional else None
            self.body = nn.Sequential(
                nn.Linear(ZDIM + (EMB if conditional else 0), 128 * 7 * 7, bias=False),
                nn.BatchNorm1d(128 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (128, 7, 7)),
                nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())

        def forward(self, z, labels=None):
            if self.label is not None:
                z = torch.cat([z, self.label(labels)], 1)  # gan_concat order: z first
            return self.body(z)

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.label = nn.Embedding(CLASSES, SIDE * SIDE) if conditional else None
            self.body = nn.Sequential(
                nn.Conv2d(2 if conditional else 1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
                nn.Conv2d(64, 128, 4, 2, 1, bias=False),
                nn.LayerNorm([128, 7, 7]) if layernorm else nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
                nn.Flatten(), nn.Linear(128 * 7 * 7, 1))

        def forward(self, x, labels=None):
            if self.label is not None:  # the label as an image, the second channel
                x = torch.cat([x, self.label(labels).view(-1, 1, SIDE, SIDE)], 1)
            return self.body(x)

    return Generator(), Discriminator()


def init_dcgan(torch, net):
    """GAN_INIT_DCGAN as gan_layer_init applies it."""
    nn = torch.nn
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                m.weight.normal_(0, 0.02)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.weight.normal_(1, 0.02)
                m.bias.zero_()
            elif isinstance(m, nn.LayerNorm):
                m.weight.fill_(1)
                m.bias.zero_()
            elif isinstance(m, nn.Embedding):
                m.weight.normal_(0, 1)


# ---------------------------------------------------------------------------------------------
# Training


class Loader:
    """gan_loader: a fresh permutation for each pass; a batch continues into the next pass."""

    def __init__(self, torch, images, labels, seed):
        self.torch, self.images, self.labels = torch, images, labels
        self.gen = torch.Generator().manual_seed(seed)
        self.n = images.shape[0]
        self.order = torch.randperm(self.n, generator=self.gen)
        self.pos = 0
        self.epoch = 0

    def next(self, n):
        parts = []
        while n > 0:
            take = min(n, self.n - self.pos)
            parts.append(self.order[self.pos:self.pos + take])
            self.pos += take
            n -= take
            if self.pos == self.n:
                self.epoch += 1
                self.pos = 0
                self.order = self.torch.randperm(self.n, generator=self.gen)
        idx = self.torch.cat(parts)
        x = self.images[idx].float() / 127.5 - 1  # float32, as gan_dataset_batch computes it
        return x, self.labels[idx]

    def epochs(self):
        return self.epoch + self.pos / self.n


def set_trainable(net, on):
    for p in net.parameters():
        p.requires_grad_(on)


def train_ns(torch, G, D, loader, steps, conditional, progress):
    """gan_train_step with the non-saturating loss and one D step (dcgan, cgan)."""
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    bce = torch.nn.BCEWithLogitsLoss()
    ones = torch.ones(BATCH, 1)
    zeros = torch.zeros(BATCH, 1)
    for step in range(steps):
        x, y = loader.next(BATCH)
        labels = y if conditional else None
        fake = G(torch.randn(BATCH, ZDIM), labels)
        # D step: real and fake batches in separate passes, one update
        set_trainable(D, True)
        opt_d.zero_grad(set_to_none=True)
        out_real = D(x, labels)
        out_fake = D(fake.detach(), labels)
        d_loss = bce(out_real, ones) + bce(out_fake, zeros)
        d_loss.backward()
        opt_d.step()
        # G step: the same fake batch (and labels), through the updated D; D's weights take no gradient
        set_trainable(D, False)
        opt_g.zero_grad(set_to_none=True)
        g_loss = bce(D(fake, labels), ones)
        g_loss.backward()
        opt_g.step()
        progress(step, d_loss.item(), g_loss.item(), torch.sigmoid(out_real).mean().item(),
                 torch.sigmoid(out_fake).mean().item(), 0.0)


def train_wgan_gp(torch, G, D, loader, steps, progress, n_critic=5, weight=10.0):
    """gan_train_step with the WGAN-GP recipe: n_critic critic steps, then one G step on fresh z."""
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.0, 0.9), eps=1e-8)
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.0, 0.9), eps=1e-8)
    for step in range(steps):
        set_trainable(D, True)
        for _ in range(n_critic):
            x, _ = loader.next(BATCH)
            with torch.no_grad():
                fake = G(torch.randn(BATCH, ZDIM))  # training mode: G's running statistics move
            opt_d.zero_grad(set_to_none=True)
            out_real = D(x)
            out_fake = D(fake)
            d_loss = out_fake.mean() - out_real.mean()
            e = torch.rand(BATCH, 1, 1, 1)
            x_hat = (e * x + (1 - e) * fake).requires_grad_(True)
            grad, = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
            penalty = weight * ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
            (d_loss + penalty).backward()
            opt_d.step()
        set_trainable(D, False)
        opt_g.zero_grad(set_to_none=True)
        g_loss = -D(G(torch.randn(BATCH, ZDIM))).mean()
        g_loss.backward()
        opt_g.step()
        # as gan.h reports them: the last critic step's figures, its loss without the penalty
        progress(step, d_loss.item(), g_loss.item(), out_real.mean().item(), out_fake.mean().item(),
                 penalty.item())


class Progress:
    """Means since the last line, a line every EVERY steps on stderr, and the last 100 steps' means."""

    def __init__(self, name, total, loader):
        self.name, self.total, self.loader = name, total, loader
        self.t0 = time.perf_counter()
        self.sums = [0.0] * 5
        self.n = 0
        self.recent = []  # (d_loss, g_loss, penalty) of the last 100 steps
        self.last = None

    def __call__(self, step, d_loss, g_loss, d_real, d_fake, penalty):
        for i, v in enumerate((d_loss, g_loss, d_real, d_fake, penalty)):
            self.sums[i] += v
        self.n += 1
        self.last = (d_loss, g_loss, penalty)
        self.recent.append(self.last)
        del self.recent[:-100]
        done = step + 1
        if done % EVERY == 0 or done == self.total:
            m = [s / self.n for s in self.sums]
            spent = time.perf_counter() - self.t0
            left = spent / done * (self.total - done)
            sys.stderr.write("%s: step %5d/%d  epoch %6.2f  D %8.4f  G %8.4f  D(x) %7.3f  D(G(z)) %7.3f%s"
                             "  %6.1f s  %dm%02ds left\n"
                             % (self.name, done, self.total, self.loader.epochs(), m[0], m[1], m[2], m[3],
                                "  penalty %7.4f" % m[4] if m[4] else "", spent, left // 60, left % 60))
            sys.stderr.flush()
            self.sums = [0.0] * 5
            self.n = 0

    def means(self):
        k = len(self.recent)
        return tuple(sum(r[i] for r in self.recent) / k for i in range(3))


# ---------------------------------------------------------------------------------------------
# Sampling


def to_bytes(torch, x):
    """gan_to_bytes: round((x + 1) 127.5) half up, clamped to [0, 255], NaN to 0."""
    v = (x.double() + 1.0) * 127.5
    v = torch.nan_to_num(v, nan=0.0)
    return torch.floor(v + 0.5).clamp(0, 255).to(torch.uint8)


def dump(torch, G, n, seed, conditional):
    """n samples of G in evaluation mode from their own noise stream, as uint8 n x 28 x 28 bytes."""
    G.eval()
    gen = torch.Generator().manual_seed(seed + 0x5eed)
    z = torch.randn(n, ZDIM, generator=gen)
    labels = torch.arange(n) % CLASSES
    chunks = []
    with torch.no_grad():
        for lo in range(0, n, CHUNK):
            x = G(z[lo:lo + CHUNK], labels[lo:lo + CHUNK] if conditional else None)
            chunks.append(to_bytes(torch, x))
    return torch.cat(chunks).reshape(n, SIDE, SIDE).contiguous().numpy().tobytes(), labels


def run(torch, name, opts):
    dataset, recipe, default_steps = RUNS[name]
    seed, threads = opts["seed"], opts["threads"]
    steps = opts["steps"] or default_steps
    conditional = recipe == "ns-conditional"
    images, labels, path = load_dataset(torch, opts["data"], dataset)
    sys.stderr.write("%s: %d images from %s, seed %d, threads %d, %d steps\n"
                     % (name, images.shape[0], path, seed, threads, steps))

    torch.manual_seed(seed)
    G, D = make_nets(torch, conditional, layernorm=recipe == "wgan-gp")
    init_dcgan(torch, G)
    init_dcgan(torch, D)
    G.train()
    D.train()
    loader = Loader(torch, images, labels, seed + 1)
    progress = Progress(name, steps, loader)
    t0 = time.perf_counter()
    if recipe == "wgan-gp":
        train_wgan_gp(torch, G, D, loader, steps, progress)
    else:
        train_ns(torch, G, D, loader, steps, conditional, progress)
    seconds = time.perf_counter() - t0

    pixels, sample_labels = dump(torch, G, opts["samples"], seed, conditional)
    os.makedirs(opts["out"], exist_ok=True)
    stem = os.path.join(opts["out"], "%s-seed%d" % (name, seed))
    n = opts["samples"]
    write_gz(stem + ".idx.gz", idx_bytes(pixels, (n, SIDE, SIDE)))
    written = [stem + ".idx.gz"]
    if conditional:
        write_gz(stem + "-labels.idx.gz", idx_bytes(sample_labels.to(torch.uint8).numpy().tobytes(), (n,)))
        written.append(stem + "-labels.idx.gz")

    d_last, g_last, p_last = progress.last
    d_mean, g_mean, p_mean = progress.means()
    cpu = torch_bench.cpu_info()
    line = ("run=%s seed=%d threads=%d steps=%d epochs=%.2f train_s=%.1f torch=%s cpu=\"%s\" "
            "d_loss=%.4f g_loss=%.4f d_loss_last100=%.4f g_loss_last100=%.4f"
            % (name, seed, threads, steps, loader.epochs(), seconds, torch.__version__, cpu["model name"],
               d_last, g_last, d_mean, g_mean))
    if recipe == "wgan-gp":
        line += " penalty=%.4f penalty_last100=%.4f" % (p_last, p_mean)
    line += " samples=%d dataset=%s\n" % (n, dataset)
    with open(stem + ".txt", "w") as f:
        f.write(line)
    written.append(stem + ".txt")
    sys.stderr.write("%s: trained in %.1f s; wrote %s\n" % (name, seconds, ", ".join(written)))
    sys.stdout.write(line)
    sys.stdout.flush()


def main():
    opts = parse_args(sys.argv[1:])
    ensure_env(opts["threads"])
    try:
        import torch
    except Exception as e:  # ImportError, or a broken install failing at import
        sys.stderr.write("peers: cannot import torch with %s (%s); apt-get install -y python3-torch\n"
                         % (sys.executable, e))
        return 1
    torch.set_num_threads(opts["threads"])
    for name in opts["runs"]:
        run(torch, name, opts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
