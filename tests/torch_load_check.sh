#!/bin/sh
# tests/torch_load_check.sh [BUILD_DIR] - a DCGAN generator saved by gan.h, loaded into PyTorch by
# examples/load_in_pytorch.py, makes the same images. One "PASS name", "FAIL name: why" or
# "SKIP name: why" line per check; the last line is "N passed, N failed"; the exit status is 1 when
# any check failed.
#
# It runs BUILD_DIR/torch_export when there is one, else compiles tests/torch_export.c into a
# temporary directory with $CC (default cc) -std=c99 $TORCH_EXPORT_CFLAGS ... -lm; the flags default
# to -O1 -DGAN_NO_DISPATCH, which compiles gan.h in about a third of -O2's CPU time and changes
# nothing that is checked here (the whole check: about 15 s of CPU, 20 s on 2 busy cores; the
# compile is half of it, each of the four imports of torch about 2 s). torch_export trains
# examples/dcgan.c's G and D 6 steps with an EMA of G, writes G with gan_net_save and the whole trainer
# with gan_trainer_save, and G(z), G_ema(z) of 16 noise vectors in evaluation mode. PyTorch is
# Debian's python3-torch, run as /usr/bin/python3 (OMP_NUM_THREADS defaults to 1 here).
#
# The checks:
#   torch_export         compiles and runs
#   net G                the gan_net_save file (its only part, G): max |PyTorch - gan.h| < 1e-5
#   trainer G_ema        the trainer file, default part (G_ema): the same against G_ema(z)
#   trainer G            the trainer file, --part G
#   ema differs          G_ema(z) is not G(z) (else the G_ema check would prove nothing)
#   png grid             the script's PNG is gan_grid's picture of the same samples (within 1 level)
#   list                 --list names the tensors (without importing torch)
#   corrupted            a file with one data byte changed is refused: exit 1, "CRC-32 mismatch"
#   truncated            a file cut short is refused: exit 1, "cut short"
# Without torch the comparisons are skipped ("SKIP name: /usr/bin/python3 has no torch"); list,
# corrupted and truncated still run.

set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-cc}
CFLAGS_EXPORT=${TORCH_EXPORT_CFLAGS:--O1 -DGAN_NO_DISPATCH}
PY=/usr/bin/python3
SCRIPT=$ROOT/examples/load_in_pytorch.py
TOL=1e-5
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export OMP_NUM_THREADS
tmp=$(mktemp -d "${TMPDIR:-/tmp}/torch_load_check.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
skip() { echo "SKIP $1: $2"; }
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
    exit $?
}

if [ ! -x "$PY" ]; then
    for c in torch_export "net G" "trainer G_ema" "trainer G" "ema differs" "png grid" list corrupted truncated; do
        skip "$c" "there is no $PY"
    done
    finish
fi

# ---- the C side ----
if [ -x "$BUILD/torch_export" ]; then
    EXPORT=$BUILD/torch_export
else
    EXPORT=$tmp/torch_export
    echo "+ $CC -std=c99 $CFLAGS_EXPORT tests/torch_export.c -o $EXPORT -lm"
    # shellcheck disable=SC2086 # the flags are words
    if ! $CC -std=c99 $CFLAGS_EXPORT "$ROOT/tests/torch_export.c" -o "$EXPORT" -lm >"$tmp/cc.log" 2>&1; then
        cat "$tmp/cc.log"
        fail torch_export "tests/torch_export.c does not compile"
        finish
    fi
fi
mkdir "$tmp/out"
echo "+ $EXPORT $tmp/out"
"$EXPORT" "$tmp/out" >"$tmp/export.log" 2>&1
rc=$?
cat "$tmp/export.log"
if [ "$rc" -eq 0 ]; then
    pass torch_export
else
    fail torch_export "exit status $rc (output above)"
    finish
fi
O=$tmp/out

# compare NAME A B: max |A - B| over two raw float32 files, with the PASS or FAIL line.
compare() {
    if r=$("$PY" - "$2" "$3" "$TOL" <<'EOF'
import sys
from array import array
def floats(path):
    a = array("f")
    with open(path, "rb") as f:
        a.frombytes(f.read())
    if sys.byteorder != "little":
        a.byteswap()
    return a
a, b, tol = floats(sys.argv[1]), floats(sys.argv[2]), float(sys.argv[3])
if len(a) != len(b) or not a:
    print("%d values against %d" % (len(a), len(b)))
    sys.exit(1)
d = max(abs(x - y) if x == x and y == y else float("inf") for x, y in zip(a, b))
print("max abs difference %.3g over %d values" % (d, len(a)))
sys.exit(0 if d < tol else 1)
EOF
    ); then
        pass "$1: $r"
    else
        fail "$1" "$r (tolerance $TOL)"
    fi
}

# script LOG ARGS...: runs the script with its stdout and stderr in LOG; its exit status.
script() {
    log=$1
    shift
    echo "+ load_in_pytorch.py $*" | sed "s|$tmp|\$tmp|g"
    "$PY" "$SCRIPT" "$@" >"$log" 2>&1
}

# ---- the PyTorch side ----
if "$PY" -c 'import torch' >/dev/null 2>&1; then
    if script "$tmp/net.log" "$O/G.safetensors" --z "$O/z.f32" --out-raw "$tmp/net_G.f32" --out "$tmp/net_G.png" &&
        grep -q ': G (' "$tmp/net.log"; then
        compare "net G" "$O/y_G.f32" "$tmp/net_G.f32"
    else
        fail "net G" "the script failed on G.safetensors: $(cat "$tmp/net.log")"
    fi
    if script "$tmp/ema.log" "$O/trainer.safetensors" --z "$O/z.f32" --out-raw "$tmp/trainer_G_ema.f32" &&
        grep -q ': G_ema (' "$tmp/ema.log"; then
        compare "trainer G_ema" "$O/y_G_ema.f32" "$tmp/trainer_G_ema.f32"
    else
        fail "trainer G_ema" "the script failed, or its default part was not G_ema: $(cat "$tmp/ema.log")"
    fi
    if script "$tmp/tg.log" "$O/trainer.safetensors" --part G --z "$O/z.f32" --out-raw "$tmp/trainer_G.f32"; then
        compare "trainer G" "$O/y_G.f32" "$tmp/trainer_G.f32"
    else
        fail "trainer G" "the script failed: $(cat "$tmp/tg.log")"
    fi
    if r=$("$PY" - "$O/y_G.f32" "$O/y_G_ema.f32" <<'EOF'
import sys
from array import array
a, b = array("f"), array("f")
a.frombytes(open(sys.argv[1], "rb").read())
b.frombytes(open(sys.argv[2], "rb").read())
d = max(abs(x - y) for x, y in zip(a, b))
print("max |G(z) - G_ema(z)| %.3g" % d)
sys.exit(0 if d > 1e-3 else 1)
EOF
    ); then
        pass "ema differs: $r"
    else
        fail "ema differs" "$r: G_ema is G, so the G_ema check shows nothing"
    fi
    # the script's grid against gan_grid's (pixels may differ by one level where a value's rounding
    # falls either way by the last bits of float)
    if [ -f "$tmp/net_G.png" ] && r=$("$PY" - "$tmp/net_G.png" "$O/grid_G.u8" "$O/grid_G.txt" "$ROOT/tests" <<'EOF'
import struct, sys, zlib
sys.path.insert(0, sys.argv[4])
import png_check
data = open(sys.argv[1], "rb").read()
want = open(sys.argv[2], "rb").read()
W, H = map(int, open(sys.argv[3]).read().split())
try:
    found = png_check.chunks(data)
    w, h, depth, colour = struct.unpack(">IIBB", found[0][1][:10])
    if (w, h, depth, colour) != (W, H, 8, 0):
        raise png_check.Bad("IHDR %d x %d depth %d colour %d, gan_grid's is %d x %d gray" % (w, h, depth, colour, W, H))
    pixels, _ = png_check.unfilter(zlib.decompress(b"".join(p for k, p in found if k == b"IDAT")), W, H, 1)
except (png_check.Bad, zlib.error) as e:
    print("not a good PNG: %s" % e)
    sys.exit(1)
off = [i for i in range(len(want)) if pixels[i] != want[i]]
worst = max([abs(pixels[i] - want[i]) for i in off] or [0])
print("%d x %d, %d of %d pixels off by at most %d" % (W, H, len(off), len(want), worst))
sys.exit(0 if worst <= 1 else 1)
EOF
    ); then
        pass "png grid: $r"
    else
        fail "png grid" "${r:-no PNG}"
    fi
else
    for c in "net G" "trainer G_ema" "trainer G" "ema differs" "png grid"; do
        skip "$c" "$PY has no torch"
    done
fi

# ---- the file checks (no torch needed) ----
if script "$tmp/list.log" "$O/trainer.safetensors" --list &&
    grep -q '^  G_ema\.1\.running_var  *F32  *\[6272\]' "$tmp/list.log" &&
    grep -q '^  G\.5\.num_batches_tracked  *I64  *\[\]' "$tmp/list.log" &&
    grep -q '^  opt\.G\.0\.weight\.exp_avg ' "$tmp/list.log"; then
    pass "list: $(head -n 1 "$tmp/list.log" | sed "s|$tmp|\$tmp|g")"
else
    fail list "$(cat "$tmp/list.log")"
fi

# one byte of the data changed (the middle of G.0.weight): the CRC must catch it
cp "$O/G.safetensors" "$tmp/bad.safetensors"
"$PY" - "$tmp/bad.safetensors" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(1000000)
    b = f.read(1)
    f.seek(1000000)
    f.write(bytes([b[0] ^ 0x10]))
EOF
script "$tmp/bad.log" "$tmp/bad.safetensors" --z "$O/z.f32" --out-raw "$tmp/bad.f32"
rc=$?
if [ "$rc" -eq 1 ] && grep -q 'CRC-32 mismatch' "$tmp/bad.log" && [ ! -e "$tmp/bad.f32" ]; then
    pass "corrupted: exit 1, $(sed "s|$tmp|\$tmp|g" "$tmp/bad.log")"
else
    fail corrupted "exit status $rc, output: $(cat "$tmp/bad.log")"
fi

# the last 100 bytes missing
size=$(wc -c <"$O/G.safetensors")
head -c $((size - 100)) "$O/G.safetensors" >"$tmp/short.safetensors"
script "$tmp/short.log" "$tmp/short.safetensors" --z "$O/z.f32" --out-raw "$tmp/short.f32"
rc=$?
if [ "$rc" -eq 1 ] && grep -q 'cut short' "$tmp/short.log" && [ ! -e "$tmp/short.f32" ]; then
    pass "truncated: exit 1, $(sed "s|$tmp|\$tmp|g" "$tmp/short.log")"
else
    fail truncated "exit status $rc, output: $(cat "$tmp/short.log")"
fi

finish
