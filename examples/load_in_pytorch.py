#!/usr/bin/python3
"""load_in_pytorch.py - open a gan.h checkpoint in PyTorch and draw samples from the reference DCGAN.

    /usr/bin/python3 examples/load_in_pytorch.py CHECKPOINT [options]

CHECKPOINT is a file gan.h wrote: gan_net_save(path, G, "G") (one network) or gan_trainer_save (a
whole run: G, D, G_ema, optimizers, ...). The script reads it with nothing but json, zlib and
torch.frombuffer (no safetensors package needed), checks its CRC-32, builds examples/dcgan.c's
generator as a torch.nn module, loads the file's weights into it with load_state_dict(strict=True)
and generates images in evaluation mode (BatchNorm's running statistics, as gan.h's
gan_net_infer(..., GAN_STATS_RUNNING) and gan_trainer_sample do).

Examples (run.safetensors from, say, ./dcgan --ema 0.999 --save run.safetensors):
    load_in_pytorch.py run.safetensors                      64 samples from seed 0 -> pytorch_samples.png
    load_in_pytorch.py run.safetensors --seed 3 --n 16 --out grid.png
    load_in_pytorch.py run.safetensors --part G --z z.f32 --out-raw y.f32
    load_in_pytorch.py run.safetensors --list               what the file holds (needs no torch)

Options:
    --part G_ema|G   which generator of a trainer checkpoint (default: G_ema when the file has one,
                     else G; a gan_net_save file holds the part it was saved as)
    --z FILE         the noise: raw little-endian float32, N x 100 values (N = its size / 400);
                     otherwise --n N samples of N(0, 1) from torch's generator seeded with --seed S
    --n N, --seed S  (64, 0)
    --out FILE.png   a grid of the samples as gan_grid_save draws it: --cols per row (8), each pixel
                     --scale x --scale (2), a border of gray 80; default pytorch_samples.png unless
                     --out-raw is given alone
    --out-raw FILE   the samples as raw little-endian float32, N x 1 x 28 x 28, in [-1, 1]
    --list           list the metadata and every tensor (name, dtype, shape) and exit
    --no-crc         skip the CRC-32 check (to look at a file that fails it)

The format (gan.h's "---- checkpoint ----" section; the safetensors layout): 8 bytes of little-endian
header length; a JSON header, an object that maps each tensor's name to {"dtype", "shape",
"data_offsets": [begin, end]} (byte offsets into the data that follows the header) and holds
"__metadata__", an object of strings ("format": "gan.h checkpoint", "format_version": "1",
"arch.<part>", ..., "crc32"); then the tensors' little-endian bytes. "crc32" is 8 hex digits of the
CRC-32 (gzip's and zlib.crc32's) of every byte of the file with those 8 digits read as '0'. Tensor
names are "<part>.<name>", part G, D or G_ema; with "<part>." stripped they are the network's PyTorch
state_dict: a graph's node is named by gan_name or, unnamed, by its index among the layers, so
dcgan.c's chain of 9 layers has nn.Sequential's names ("0.weight", "1.running_mean",
"1.num_batches_tracked", ...).

Exit status: 0; 1 when the file is not a readable gan.h checkpoint (it says what is wrong: a CRC
mismatch, a truncated file, ...) or its network is not the reference DCGAN generator; 2 for a bad
command line.
"""

import argparse
import json
import re
import struct
import sys
import zlib
from array import array

torch = None  # imported when first needed (need_torch), so --list and the file checks run without it
nn = None

FORMAT = "gan.h checkpoint"
FORMAT_VERSION = "1"
ZDIM = 100

# safetensors dtype -> (bytes per value, array typecode for byte swapping, torch dtype name).
# PyTorch before 2.3 has no uint64: U64 (gan.h's random streams) is read as int64 of the same bits.
DTYPES = {
    "F32": (4, "f", "float32"),
    "F64": (8, "d", "float64"),
    "I32": (4, "i", "int32"),
    "I64": (8, "q", "int64"),
    "U64": (8, "q", "int64"),
}


class CheckpointError(Exception):
    """A file that is not a readable gan.h checkpoint, or one that does not fit the model."""


def need_torch():
    global torch, nn
    if torch is None:
        try:
            import torch as _torch
            from torch import nn as _nn
        except ImportError:
            raise CheckpointError("this needs PyTorch, and %s has no torch module" % sys.executable)
        torch, nn = _torch, _nn
    return torch


# ---- reading the file ---------------------------------------------------------------------------


class Checkpoint:
    """A gan.h checkpoint read whole: .meta (the __metadata__ strings), .entries (name -> (dtype,
    shape, begin, end) in the header's order) and .tensor(name) / .state_dict(part) as torch tensors."""

    def __init__(self, path, check_crc=True):
        self.path = path
        with open(path, "rb") as f:
            self.data = f.read()
        data = self.data
        if len(data) < 8:
            raise CheckpointError("%d bytes: too short for the 8-byte header length" % len(data))
        (header_len,) = struct.unpack("<Q", data[:8])
        if header_len > len(data) - 8:
            raise CheckpointError("its first 8 bytes give a header of %d bytes, and only %d follow: not a gan.h "
                                  "checkpoint, or one cut short" % (header_len, len(data) - 8))
        self.header_bytes = data[8:8 + header_len]
        self.data_start = 8 + header_len
        try:
            header = json.loads(self.header_bytes.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise CheckpointError("its header is not JSON (%s)" % e)
        if not isinstance(header, dict):
            raise CheckpointError("its header is not a JSON object")

        meta = header.pop("__metadata__", {})
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise CheckpointError("its __metadata__ is not an object of strings")
        self.meta = meta
        if meta.get("format") != FORMAT:
            raise CheckpointError('not a gan.h checkpoint (its metadata has no format "%s")' % FORMAT)
        if meta.get("format_version") != FORMAT_VERSION:
            raise CheckpointError("format version %s; this script reads version %s"
                                  % (meta.get("format_version"), FORMAT_VERSION))

        data_len = len(data) - self.data_start
        self.entries = {}
        for name, e in header.items():
            try:
                dtype, shape, (begin, end) = e["dtype"], list(e["shape"]), e["data_offsets"]
            except (TypeError, KeyError, ValueError):
                raise CheckpointError("tensor %s: not an entry {dtype, shape, data_offsets}" % name)
            if not all(type(v) is int for v in shape + [begin, end]):
                raise CheckpointError("tensor %s: its shape and data_offsets must be integers" % name)
            if dtype not in DTYPES:
                raise CheckpointError("tensor %s: dtype %s, which gan.h does not write" % (name, dtype))
            count = 1
            for d in shape:
                if d < 0:
                    raise CheckpointError("tensor %s: a negative dimension in its shape %s" % (name, shape))
                count *= d
            if not (0 <= begin <= end) or end - begin != count * DTYPES[dtype][0]:
                raise CheckpointError("tensor %s: its data_offsets span %d bytes, and %s %s needs %d"
                                      % (name, end - begin, dtype, shape, count * DTYPES[dtype][0]))
            if end > data_len:
                raise CheckpointError("tensor %s ends at byte %d of the data, past its end (%d): the file is cut short"
                                      % (name, end, data_len))
            self.entries[name] = (dtype, shape, begin, end)
        at = 0  # the tensors tile the data exactly, as gan.h writes (and demands when it reads)
        for name, (_, _, begin, end) in sorted(self.entries.items(), key=lambda kv: kv[1][2]):
            if begin != at:
                raise CheckpointError("tensor %s starts at byte %d of the data, where %d was expected" % (name, begin, at))
            at = end
        if at != data_len:
            raise CheckpointError("%d bytes after the last tensor" % (data_len - at))
        if check_crc:
            self._check_crc()

    def _check_crc(self):
        """CRC-32 of every byte of the file, the 8 digits of "crc32" read as '0', against those digits."""
        stored = self.meta.get("crc32")
        if stored is None:
            raise CheckpointError("its metadata has no crc32 (--no-crc reads it anyway)")
        if not re.fullmatch(r"[0-9A-Fa-f]{8}", stored):
            raise CheckpointError("its crc32 %r is not 8 hexadecimal digits" % stored)
        # Where the digits are: the value of the key "crc32" (an opening quote not escaped), found in
        # the header's text, since json does not say where it read a value.
        hits = [m for m in re.finditer(rb'"crc32"\s*:\s*"([0-9A-Fa-f]{8})"', self.header_bytes)
                if (m.start() - len(self.header_bytes[:m.start()].rstrip(b"\\"))) % 2 == 0]
        if len(hits) != 1:
            raise CheckpointError("cannot tell where its crc32 digits are in the header (%d candidates)" % len(hits))
        at = 8 + hits[0].start(1)
        view = memoryview(self.data)
        crc = zlib.crc32(view[:at])
        crc = zlib.crc32(b"00000000", crc)
        crc = zlib.crc32(view[at + 8:], crc)
        if crc != int(stored, 16):
            raise CheckpointError("CRC-32 mismatch: the file says %s, its bytes give %08x: it is corrupted (or was "
                                  "changed after gan.h wrote it)" % (stored.lower(), crc))

    def tensor(self, name):
        """One tensor as a writable torch tensor of its own (the bytes are copied)."""
        need_torch()
        dtype, shape, begin, end = self.entries[name]
        _, code, torch_name = DTYPES[dtype]
        raw = bytearray(self.data[self.data_start + begin:self.data_start + end])  # a copy: writable
        if sys.byteorder != "little":  # the file is little-endian; torch.frombuffer reads native order
            a = array(code, bytes(raw))
            a.byteswap()
            raw = bytearray(a.tobytes())
        if not raw:
            return torch.empty(shape, dtype=getattr(torch, torch_name))
        return torch.frombuffer(raw, dtype=getattr(torch, torch_name)).reshape(shape)

    def parts(self):
        """The parts ("G", "D", "G_ema", ...) whose networks the file holds, in the file's order."""
        out = []
        for name in self.entries:
            part = name.split(".", 1)[0]
            if "." in name and part not in ("opt", "rng", "train", "data") and part not in out:
                out.append(part)
        return out

    def state_dict(self, part):
        """The network `part` as a PyTorch state_dict: its tensors with "<part>." stripped."""
        prefix = part + "."
        sd = {name[len(prefix):]: self.tensor(name) for name in self.entries if name.startswith(prefix)}
        if not sd:
            raise CheckpointError("it holds no network %s (it has: %s)" % (part, ", ".join(self.parts()) or "none"))
        return sd


# ---- the model ----------------------------------------------------------------------------------


def dcgan_generator():
    """examples/dcgan.c's generator() as an nn.Sequential: its 9 layers in the same order, so the
    indices (gan.h's names for unnamed nodes) and the state_dict are the same."""
    return nn.Sequential(
        nn.Linear(ZDIM, 128 * 7 * 7, bias=False),              # 0  gan_no_bias(gan_linear(ZDIM, 128 * 7 * 7))
        nn.BatchNorm1d(128 * 7 * 7),                           # 1  gan_batchnorm(128 * 7 * 7), on (6272, 1, 1)
        nn.ReLU(),                                             # 2
        nn.Unflatten(1, (128, 7, 7)),                          # 3  gan_reshape(128, 7, 7)
        nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False),      # 4  gan_no_bias(gan_conv_transpose2d(128, 64, 4, 2, 1, 0))
        nn.BatchNorm2d(64),                                    # 5
        nn.ReLU(),                                             # 6
        nn.ConvTranspose2d(64, 1, 4, 2, 1),                    # 7  gan_conv_transpose2d(64, 1, 4, 2, 1, 0)
        nn.Tanh(),                                             # 8
    )


# gan.h's "arch.<part>" metadata: one item per node, "<name> <kind>(<inputs>) CxHxW ...". The nodes
# the model above stands for; weights alone would not tell a ReLU from a LeakyReLU.
DCGAN_G_NODES = [("in0", "input"), ("0", "Linear"), ("1", "BatchNorm"), ("2", "ReLU"), ("3", "Reshape"),
                 ("4", "ConvTranspose2d"), ("5", "BatchNorm"), ("6", "ReLU"), ("7", "ConvTranspose2d"),
                 ("8", "Tanh")]


def check_arch(ck, part):
    """Refuses a file whose part is not made of DCGAN_G_NODES (names and kinds, in order)."""
    arch = ck.meta.get("arch." + part)
    if arch is None:
        return  # a file without it: the strict load still checks names and shapes
    nodes = []
    for item in arch.split("; "):
        m = re.match(r"(\S+) (\w+)\(", item)
        nodes.append(m.groups() if m else (item, "?"))
    for i in range(max(len(nodes), len(DCGAN_G_NODES))):
        have = "%s %s" % nodes[i] if i < len(nodes) else "missing"
        want = "%s %s" % DCGAN_G_NODES[i] if i < len(DCGAN_G_NODES) else "missing"
        if have != want:
            raise CheckpointError("its %s is not examples/dcgan.c's generator: its arch.%s has \"%s\" where the "
                                  "model has \"%s\"" % (part, part, have, want))


def load_generator(ck, part):
    """The reference generator with the file's part loaded (strictly), in evaluation mode."""
    check_arch(ck, part)
    sd = ck.state_dict(part)
    model = dcgan_generator()
    if sd.get("0.weight") is not None and sd["0.weight"].dtype == torch.float64:
        model = model.double()  # a GAN_DOUBLE build's file
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise CheckpointError("its %s does not fit the reference DCGAN generator: %s" % (part, e))
    return model.eval()


# ---- pictures -----------------------------------------------------------------------------------


def to_bytes(values):
    """gan_to_bytes: round((x + 1) 127.5) clamped to 0..255, NaN to 0."""
    out = bytearray(len(values))
    for i, x in enumerate(values):
        v = (x + 1.0) * 127.5
        out[i] = 0 if not v > 0 else 255 if v >= 255 else int(v + 0.5)
    return out


def grid(y, cols, scale, pad=2, border=80):
    """gan_grid: the n images of y (n, c, h, w), c 1 or 3, min(n, cols) a row, each pixel scale x
    scale, pad pixels of gray `border` around the tiles. Returns (W, H, c, bytes), channels interleaved."""
    n, c, h, w = y.shape
    if c not in (1, 3):
        raise CheckpointError("pictures are of 1 or 3 channels; the samples have %d" % c)
    across = min(n, cols)
    down = (n + cols - 1) // cols
    W, H = across * (w * scale + pad) + pad, down * (h * scale + pad) + pad
    out = bytearray([border]) * (W * H * c)
    for i in range(n):
        pix = to_bytes(y[i].permute(1, 2, 0).reshape(-1).tolist())  # h x w x c, interleaved
        x0, y0 = pad + (i % cols) * (w * scale + pad), pad + (i // cols) * (h * scale + pad)
        for r in range(h):
            row = bytearray()
            for px in range(w):
                row += pix[(r * w + px) * c:(r * w + px + 1) * c] * scale
            for s in range(scale):
                at = ((y0 + r * scale + s) * W + x0) * c
                out[at:at + len(row)] = row
    return W, H, c, bytes(out)


def png_bytes(W, H, c, pixels):
    """A minimal PNG: 8-bit gray or RGB, not interlaced, filter 0 on every row, deflated by zlib."""
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    stride = W * c
    raw = b"".join(b"\x00" + pixels[r * stride:(r + 1) * stride] for r in range(H))
    ihdr = struct.pack(">IIBBBBB", W, H, 8, 0 if c == 1 else 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def write_raw_f32(path, t):
    a = array("f", t.to(torch.float32).reshape(-1).tolist())
    if sys.byteorder != "little":
        a.byteswap()
    with open(path, "wb") as f:
        a.tofile(f)


def read_z(path):
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    if not raw or len(raw) % (4 * ZDIM):
        raise CheckpointError("%s: %d bytes, not a whole number of %d float32 vectors" % (path, len(raw), ZDIM))
    if sys.byteorder != "little":
        a = array("f", bytes(raw))
        a.byteswap()
        raw = bytearray(a.tobytes())
    return torch.frombuffer(raw, dtype=torch.float32).reshape(-1, ZDIM)


# ---- the command line ---------------------------------------------------------------------------


def list_file(ck):
    print("%s: %s, %d tensors, %d bytes" % (ck.path, ck.meta.get("kind", "?"), len(ck.entries), len(ck.data)))
    for k, v in ck.meta.items():
        if k.startswith("arch."):
            print("  %s:" % k)
            for item in v.split("; "):
                print("      %s" % item)
        else:
            print("  %s: %s" % (k, v))
    for name, (dtype, shape, _, _) in ck.entries.items():
        print("  %-40s %-4s %s" % (name, dtype, shape))


def main(argv=None):
    ap = argparse.ArgumentParser(description="Open a gan.h checkpoint in PyTorch and sample the reference DCGAN's "
                                 "generator (see the top of this file).")
    ap.add_argument("checkpoint")
    ap.add_argument("--part", choices=["G_ema", "G"], help="default: G_ema when present, else G")
    ap.add_argument("--z", metavar="FILE", help="noise: raw little-endian float32, N x 100")
    ap.add_argument("--n", type=int, default=64, help="samples when there is no --z (64)")
    ap.add_argument("--seed", type=int, default=0, help="torch seed of the noise when there is no --z (0)")
    ap.add_argument("--out", metavar="FILE.png", help="the grid of samples (default pytorch_samples.png)")
    ap.add_argument("--out-raw", metavar="FILE", help="the samples as raw little-endian float32")
    ap.add_argument("--cols", type=int, default=8)
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--list", action="store_true", help="list the file's metadata and tensors, and exit")
    ap.add_argument("--no-crc", action="store_true", help="skip the CRC-32 check")
    args = ap.parse_args(argv)
    if args.n < 1 or args.cols < 1 or args.scale < 1:
        ap.error("--n, --cols and --scale must be at least 1")

    try:
        ck = Checkpoint(args.checkpoint, check_crc=not args.no_crc)
        if args.list:
            list_file(ck)
            return 0
        need_torch()
        parts = ck.parts()
        part = args.part or ("G_ema" if "G_ema" in parts else "G")
        model = load_generator(ck, part)
        dtype = next(model.parameters()).dtype
        if args.z:
            z = read_z(args.z)
        else:
            z = torch.randn(args.n, ZDIM, generator=torch.Generator().manual_seed(args.seed))
        with torch.no_grad():
            y = model(z.to(dtype))
        y = y.reshape(-1, 1, 28, 28)
        out = args.out or (None if args.out_raw else "pytorch_samples.png")
        if args.out_raw:
            write_raw_f32(args.out_raw, y)
        if out:
            with open(out, "wb") as f:
                f.write(png_bytes(*grid(y, args.cols, args.scale)))
        print("%s: %s (gan.h %s, %s file): %d samples -> %s" % (
            args.checkpoint, part, ck.meta.get("gan.h", "?"), ck.meta.get("kind", "?"), y.shape[0],
            ", ".join(p for p in (out, args.out_raw) if p)))
    except CheckpointError as e:
        print("load_in_pytorch: %s: %s" % (args.checkpoint, e), file=sys.stderr)
        return 1
    except OSError as e:
        print("load_in_pytorch: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
