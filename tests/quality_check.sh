#!/bin/sh
# tests/quality_check.sh BUILD_DIR - the sample-quality scores of examples/evaluate.c (gan.h's eval
# section) checked against pass marks: one "PASS name", "FAIL name: why" or "SKIP name: why" line per
# check; the exit status is 1 when any check failed. Part of `make check` (tests/run --quality DIR).
#
# It runs BUILD_DIR/evaluate and BUILD_DIR/dcgan; either one missing is compiled into a temporary
# directory with $CC (default cc) -O2 ... -lm. It needs MNIST: GAN_DATA names a directory with
# t10k-images-idx3-ubyte(.gz) and its labels, in GAN_DATA/mnist or GAN_DATA itself; without it the
# data checks say SKIP. QUALITY_CHECK_THREADS (default 0: one thread per core) is passed to --threads;
# the numbers do not depend on it (gan.h gives the same bits for any thread count).
#
# Time: one DCGAN run of 300 steps (50 s of CPU) and one evaluate run (the classifier's 5 epochs,
# about 30 s of CPU, then the 26,000 calibration images, the DCGAN's 2000 and each peer dump's 10,000
# scored at 0.26 ms an image): 1.5 minutes of CPU in all. Measured at --threads 1 on the 2-core VM
# with its other core busy: 2 min 40 s to 3 min 43 s of wall clock (dcgan 99-119 s, evaluate
# 62-104 s, with two peer dumps).
#
# The checks, on one `evaluate --calibrate` of MNIST (classifier seed 1; its rows are described at the
# top of examples/evaluate.c), with the values measured for classifier seeds 1, 2, 3 in brackets:
#   help, bad flag     --help exits 0 with the usage line; an unknown flag and a bad value exit 2
#   classifier         held-out accuracy (digits 8000-9999) >= 0.97            [0.978, 0.981, 0.978]
#   real               digits 0-7999: covered == 10, fd <= 25                  [fd 12.5, 12.2, 13.7]
#   blurred            the same digits blurred 3x3: fd >= 35                   [fd 65.7, 105, 80.6]
#   repeated           one digit 2000 times: covered == 1, kl >= 2.30 (log 10 = 2.3026, every image
#                      in one class), fd >= 500                                [fd 1523, 1602, 1651]
#   noise              uniform random bytes: fd >= 400                         [fd 755, 900, 831]
#   dcgan 300 steps    build/dcgan --steps 300 --seed 1 --dump 2000 (MNIST): covered >= 8, fd <= 350
#                      [GAN seeds 1, 2, 3: covered 10, 10, 10; fd 205, 219, 199; with classifier
#                      seeds 2 and 3: 273, 278, 256 and 233, 231, 212]
#   peer dumps         each of bench/peers/{dcgan,wgan-gp,cgan}-seed*.idx.gz that is there (PyTorch's
#                      samples, bench/peers.py; cgan's with its -labels file): covered == 10 and a
#                      finite fd below 400, the noise mark [dcgan-seed1: fd 93.5, 131, 107;
#                      cgan-seed1: fd 11.2, label accuracy 0.956]. The Fashion-MNIST ones are left to
#                      bench/quality.sh: their classifier would double the time.
# Every mark sits between what the good sets scored and what the bad ones did, with room on either
# side for another CPU's kernels (other bits, so numbers that differ as another seed's do). Each check
# was seen to fail once, by hand, with a BUILD_DIR of stand-ins: a dcgan that dumps uniform noise, an
# evaluate whose classifier trains 1 epoch (held-out accuracy 0.93), with noise in place of the peer
# dumps and its calibration rows renamed (blurred's figures as "real", real's as "blurred" and
# "noise", noise's as "repeated").

set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-cc}
THREADS=${QUALITY_CHECK_THREADS:-0}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/quality_check.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
failed=0

. "$ROOT/tests/check_lib.sh" # pass, fail, skip, program

now() { date +%s.%N 2>/dev/null || date +%s; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }'; }

# judge NAME KIND ROW CONDITION: one PASS or FAIL line for evaluate's line KIND ("classifier", or
# "row" named ROW) in $tmp/eval.out. CONDITION is an awk expression over the line's key=value fields
# (n, covered, kl, conf, acc, fd as numbers; finite is 1 when fd is a plain number).
judge() {
    name=$1
    kind=$2
    row=$3
    cond=$4
    line=$(awk -v k="$kind" -v r="$row" '$1 == k && (k != "row" || $2 == r) { print; exit }' "$tmp/eval.out")
    if [ -z "$line" ]; then
        fail "$name" "evaluate printed no $kind line${row:+ for $row}"
        return
    fi
    if echo "$line" | awk '{
            for (i = 2; i <= NF; i++) { e = index($i, "="); if (e > 0) v[substr($i, 1, e - 1)] = substr($i, e + 1) }
            finite = v["fd"] ~ /^[0-9]+(\.[0-9]+)?$/
            n = v["n"] + 0; covered = v["covered"] + 0; kl = v["kl"] + 0; conf = v["conf"] + 0
            acc = v["acc"] + 0; fd = v["fd"] + 0
            exit !('"$cond"')
        }'; then
        pass "$name: $cond"
    else
        fail "$name" "not $cond: $(echo "$line" | tr -s ' ')"
    fi
}

EVAL=$(program evaluate examples/evaluate.c) || { fail evaluate "examples/evaluate.c does not compile"; exit 1; }

# --help, an unknown flag and a bad value (no data needed)
if "$EVAL" --help >"$tmp/help.log" 2>&1 && grep -q '^usage:' "$tmp/help.log"; then
    pass "evaluate --help"
else
    fail "evaluate --help" "not exit 0 with a usage line"
fi
"$EVAL" --no-such-flag >"$tmp/bad.log" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q '^usage:' "$tmp/bad.log"; then pass "evaluate bad flag"; else fail "evaluate bad flag" "exit $rc (2 wanted), or no usage line"; fi
"$EVAL" --epochs many >"$tmp/bad.log" 2>&1
rc=$?
if [ $rc -eq 2 ]; then pass "evaluate bad value"; else fail "evaluate bad value" "--epochs many exited $rc, not 2"; fi

data=${GAN_DATA:-}
if [ -z "$data" ]; then
    skip "sample quality" "GAN_DATA is not set (a directory with MNIST's t10k IDX files)"
    exit $failed
fi
found=
for f in "$data"/mnist/t10k-images-idx3-ubyte "$data"/mnist/t10k-images-idx3-ubyte.gz \
    "$data"/t10k-images-idx3-ubyte "$data"/t10k-images-idx3-ubyte.gz; do
    [ -f "$f" ] && found=$f
done
if [ -z "$found" ]; then
    skip "sample quality" "no t10k-images-idx3-ubyte(.gz) in $data/mnist or $data"
    exit $failed
fi
echo "data: GAN_DATA=$data"

# the short DCGAN run
files=
if DCGAN=$(program dcgan examples/dcgan.c); then
    echo "+ $DCGAN --data $data --dataset mnist --steps 300 --seed 1 --threads $THREADS --dump 2000 dcgan.idx"
    t0=$(now)
    if "$DCGAN" --data "$data" --dataset mnist --steps 300 --seed 1 --threads "$THREADS" --out "$tmp/dc" \
        --dump 2000 "$tmp/dcgan.idx" >"$tmp/dc.log" 2>&1; then
        echo "dcgan: $(grep '^trained in' "$tmp/dc.log"), $(since "$t0") s in all"
        files="$tmp/dcgan.idx"
    else
        fail "dcgan 300 steps" "exit status $?: $(tail -n 2 "$tmp/dc.log" | tr '\n' ' ')"
    fi
else
    fail "dcgan 300 steps" "examples/dcgan.c does not compile"
fi

# the committed peer dumps (MNIST's)
peers=
for f in "$ROOT"/bench/peers/dcgan-seed*.idx.gz "$ROOT"/bench/peers/wgan-gp-seed*.idx.gz \
    "$ROOT"/bench/peers/cgan-seed*.idx.gz; do
    [ -f "$f" ] || continue
    case "$f" in *-labels.idx.gz) continue ;; esac
    lab="${f%.idx.gz}-labels.idx.gz"
    if [ -f "$lab" ]; then
        files="$files $f:$lab"
    else
        files="$files $f"
    fi
    peers="$peers $f"
done

echo "+ $EVAL --data $data --dataset mnist --seed 1 --threads $THREADS --calibrate$(echo " $files" | sed "s|$ROOT/||g; s|$tmp/||g")"
t0=$(now)
# shellcheck disable=SC2086 # $files is a list of paths without blanks
"$EVAL" --data "$data" --dataset mnist --seed 1 --threads "$THREADS" --calibrate $files >"$tmp/eval.out" 2>"$tmp/eval.err"
rc=$?
cat "$tmp/eval.out"
echo "evaluate: $(since "$t0") s"
if [ $rc -eq 0 ]; then
    pass "evaluate --calibrate runs"
else
    fail "evaluate --calibrate runs" "exit status $rc: $(tail -n 3 "$tmp/eval.err" | tr '\n' ' ')"
fi

judge "classifier held-out accuracy" classifier "" "acc >= 0.97"
judge "real digits against the reference" row real "covered == 10 && finite && fd <= 25"
judge "blurred digits score worse" row blurred "finite && fd >= 35"
judge "one digit repeated is one class" row repeated "covered == 1 && kl >= 2.30 && finite && fd >= 500"
judge "uniform noise is far" row noise "finite && fd >= 400"
case "$files" in
*dcgan.idx*) judge "dcgan 300 steps" row "$tmp/dcgan.idx" "covered >= 8 && finite && fd <= 350" ;;
esac
if [ -z "$peers" ]; then
    skip "peer dumps" "none in bench/peers/ (bench/peers.py writes them)"
fi
for f in $peers; do
    judge "peer $(basename "$f")" row "$f" "covered == 10 && finite && fd < 400"
done

exit $failed
