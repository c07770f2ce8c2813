#!/bin/sh
# tests/resume_check.sh BUILD_DIR - the training examples' checkpoints (--save, --save-every,
# --resume, Ctrl-C; examples/train_flags.h): one "PASS name", "FAIL name: why" or "SKIP name: why"
# line per check, then "N passed, N failed"; the exit status is 1 when any check failed.
#
# It runs BUILD_DIR/{dcgan,wgan,cgan,gan,toy2d} (run `make` first); any that is missing is compiled
# into the temporary directory with $CC (default cc) -O2 ... -lm. Every run uses --dataset builtin
# (no file read, whatever GAN_DATA says) and a few steps of small batches: about 30 s on 2 cores with
# another job on them. Everything is written under one mktemp -d directory, removed at the end.
#
# The checks:
#   NAME identical   run A: --steps 2N --save a.st --threads 2; run B: --steps N --save b1.st
#                    --threads 1, then --resume b1.st --steps 2N --save b2.st --threads 1; a.st and
#                    b2.st must be the same bytes (cmp): the checkpoint holds everything a step
#                    depends on and nothing that differs between the runs (paths, threads, totals),
#                    across processes and thread counts. For dcgan, wgan (wgan-gp), cgan, gan (its
#                    Dropout streams) and toy2d (its own real-data stream; --decay 0, since the
#                    decay is laid over --steps)
#   save-every       --steps 3 --save-every 2 saves at step 2 and at step 3
#   nothing to train --resume of a step-N checkpoint with --steps N: exit 0, it says so
#   contradiction    --resume b1.st --batch 32 (the checkpoint's is 16): exit 2, both values named;
#                    likewise wgan's --n-critic 3 against its 5, and cgan's --projection
#   another example  wgan --resume of dcgan's checkpoint: refused, exit 1
#   SIGINT           a long run in the background, sent SIGINT once it trains: exit 130, its --save
#                    file written (no .tmp left), and a resume from it trains on for 2 steps (exit 0)
#   SIGINT twice     the same with a second SIGINT as soon as it says it is saving (while it writes)
#   SIGTERM          without --save: exit 143 and OUT/dcgan_interrupted.st, which resumes
#   damaged          one byte changed in the header, one in the data, the file cut in half: each
#                    refused with exit status 1 and a message naming the file
#   failed step      (python3) b1.st with NaN in D's last weight and its CRC-32 made right again:
#                    the resume's first step fails (exit 1, the message names the step) and the
#                    --save file, a copy of b1.st, is left as it was

set -u
# shellcheck disable=SC2034 # check_lib.sh's program reads BUILD
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-cc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/resume_check.XXXXXX") || exit 1
bg=
cleanup() {
    if [ -n "$bg" ]; then kill -KILL "$bg" 2>/dev/null; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

. "$ROOT/tests/check_lib.sh" # program (its pass, fail and skip are replaced below, to count)
passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
skip() { echo "SKIP $1: $2"; }

EXAMPLES="dcgan wgan cgan gan toy2d"
for e in $EXAMPLES; do
    # shellcheck disable=SC2034 # read through eval below
    p=$(program "$e" "examples/$e.c") || p=
    eval "BIN_$e=\$p"
done

# The flags of each example's runs: small, quick and the same in every run of a check.
flags() {
    case $1 in
    dcgan) echo "--dataset builtin --batch 16" ;;
    wgan) echo "--dataset builtin --batch 8" ;;
    cgan) echo "--dataset builtin --batch 16" ;;
    gan) echo "--dataset builtin --batch 16" ;;
    toy2d) echo "--batch 64 --decay 0" ;;
    esac
}
# N of each identity check: 2N steps in all.
half() {
    case $1 in
    wgan) echo 2 ;;
    toy2d) echo 50 ;;
    *) echo 4 ;;
    esac
}

# run LOG CMD...: runs CMD with stdout in LOG and stderr in LOG.err; returns its exit status.
run() {
    run_log=$1
    shift
    "$@" >"$run_log" 2>"$run_log.err"
}

# why LOG: the last lines of a run's stderr, on one line.
why() { tail -n 2 "$1.err" | tr '\n' ' '; }

# ---- the same bytes, interrupted or not ----
for e in $EXAMPLES; do
    eval "b=\$BIN_$e"
    if [ -z "$b" ]; then
        fail "$e identical" "examples/$e.c does not compile"
        continue
    fi
    n=$(half "$e")
    d="$tmp/$e"
    mkdir -p "$d"
    # shellcheck disable=SC2046 # flags are words
    if ! run "$d/a.log" "$b" $(flags "$e") --steps $((2 * n)) --save "$d/a.st" --threads 2 --out "$d/a"; then
        fail "$e identical" "run A exited $?: $(why "$d/a.log")"
    elif ! run "$d/b1.log" "$b" $(flags "$e") --steps "$n" --save "$d/b1.st" --threads 1 --out "$d/b"; then
        fail "$e identical" "run B's first half exited $?: $(why "$d/b1.log")"
    elif ! run "$d/b2.log" "$b" --resume "$d/b1.st" --steps $((2 * n)) --save "$d/b2.st" --threads 1 --out "$d/b"; then
        fail "$e identical" "run B's resume exited $?: $(why "$d/b2.log")"
    elif ! grep -q "resumed .* at step $n" "$d/b2.log"; then
        fail "$e identical" "the resume did not say it went on from step $n"
    elif cmp "$d/a.st" "$d/b2.st" >"$d/cmp.log" 2>&1; then
        pass "$e identical"
    else
        fail "$e identical" "$(cat "$d/cmp.log")"
    fi
done

# shellcheck disable=SC2154 # set through eval above
D=$BIN_dcgan
if [ -z "$D" ]; then
    fail "dcgan" "examples/dcgan.c does not compile: the other checks need it"
    echo "$passed passed, $failed failed"
    exit 1
fi
B1=$tmp/dcgan/b1.st
N=$(half dcgan)
# shellcheck disable=SC2046
set -- $(flags dcgan)

# ---- --save-every ----
if run "$tmp/every.log" "$D" "$@" --steps 3 --save-every 2 --save "$tmp/every.st" --out "$tmp/every" &&
    grep -q "^saved step 2 to $tmp/every.st" "$tmp/every.log" && grep -q "^saved step 3 to $tmp/every.st" "$tmp/every.log"; then
    pass "save-every"
else
    fail "save-every" "no save at step 2 and at step 3: $(grep '^saved' "$tmp/every.log" | tr '\n' ' ')$(why "$tmp/every.log")"
fi

# ---- a total that is done already ----
if [ ! -f "$B1" ]; then
    skip "nothing to train" "no checkpoint from dcgan identical"
elif run "$tmp/done.log" "$D" --resume "$B1" --steps "$N" --out "$tmp/done" && grep -q "nothing to train" "$tmp/done.log"; then
    pass "nothing to train"
else
    fail "nothing to train" "exit $?, or no 'nothing to train' line: $(why "$tmp/done.log")"
fi

# ---- flags that contradict the checkpoint ----
# contradicts NAME WANT1 WANT2 CMD...: exit 2 and both strings in the message
contradicts() {
    name=$1
    want1=$2
    want2=$3
    shift 3
    run "$tmp/contra.log" "$@"
    rc=$?
    if [ $rc -eq 2 ] && grep -q -e "$want1" "$tmp/contra.log.err" && grep -q -e "$want2" "$tmp/contra.log.err"; then
        pass "$name"
        sed -n 1p "$tmp/contra.log.err"
    else
        fail "$name" "exit $rc (2 wanted), message: $(why "$tmp/contra.log")"
    fi
}
if [ -f "$B1" ]; then
    contradicts "contradiction dcgan --batch" "--batch 32" "batch 16" "$D" --resume "$B1" --batch 32 --steps 10
else
    skip "contradiction dcgan --batch" "no checkpoint from dcgan identical"
fi
if [ -n "$BIN_wgan" ] && [ -f "$tmp/wgan/b1.st" ]; then
    contradicts "contradiction wgan --n-critic" "--n-critic 3" "n_critic 5" "$BIN_wgan" --resume "$tmp/wgan/b1.st" --n-critic 3
else
    skip "contradiction wgan --n-critic" "no checkpoint from wgan identical"
fi
if [ -n "$BIN_cgan" ] && [ -f "$tmp/cgan/b1.st" ]; then
    contradicts "contradiction cgan --projection" "--projection" "projection off" "$BIN_cgan" --resume "$tmp/cgan/b1.st" --projection
else
    skip "contradiction cgan --projection" "no checkpoint from cgan identical"
fi
if [ -n "$BIN_wgan" ] && [ -f "$B1" ]; then
    run "$tmp/other.log" "$BIN_wgan" --resume "$B1"
    rc=$?
    if [ $rc -eq 1 ] && grep -q "not a checkpoint of wgan" "$tmp/other.log.err"; then
        pass "another example's checkpoint"
    else
        fail "another example's checkpoint" "exit $rc (1 wanted): $(why "$tmp/other.log")"
    fi
fi

# ---- signals ----
# interrupt NAME FILE SIGNAL STATUS OUT ARGS...: dcgan ARGS --out OUT in the background; once it
# trains (its step-0 picture, OUT/dcgan_step000000.png, is drawn in the training loop, after the
# handlers are set, and appears whole: saves rename a finished file), SIGNAL (a second one right
# after when NAME says "twice"); then exit status STATUS, FILE complete, and a resume of 2 more
# steps from it.
interrupt() {
    name=$1
    file=$2
    sig=$3
    want=$4
    out=$5
    shift 5
    log=$tmp/sig.log
    rm -f "$log" "$log.err"
    "$D" "$@" --out "$out" --steps 1000000 --threads 1 >"$log" 2>"$log.err" &
    bg=$!
    i=0
    while [ ! -f "$out/dcgan_step000000.png" ] && kill -0 "$bg" 2>/dev/null && [ $i -lt 300 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    sleep 0.5 # a few steps
    kill -"$sig" "$bg" 2>/dev/null
    case $name in
    *twice*) # the second one as soon as it says it saves (stderr is unbuffered): while it writes
        i=0
        while ! grep -q "saving the run" "$log.err" && kill -0 "$bg" 2>/dev/null && [ $i -lt 5000 ]; do
            i=$((i + 1))
        done
        kill -"$sig" "$bg" 2>/dev/null
        ;;
    esac
    i=0
    while kill -0 "$bg" 2>/dev/null && [ $i -lt 600 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if kill -0 "$bg" 2>/dev/null; then
        kill -KILL "$bg"
        wait "$bg" 2>/dev/null
        bg=
        fail "$name" "still running 60 s after SIG$sig"
        return
    fi
    wait "$bg"
    rc=$?
    bg=
    k=$(sed -n "s/^saved step \([0-9]*\) to .*/\1/p" "$log" | tail -n 1)
    if [ $rc -ne "$want" ]; then
        fail "$name" "exit status $rc ($want wanted): $(why "$log")"
    elif [ ! -f "$file" ] || [ -z "$k" ]; then
        fail "$name" "no checkpoint $file: $(why "$log")"
    elif [ -f "$file.tmp" ]; then
        fail "$name" "$file.tmp was left behind"
    elif ! grep -q "stopped after step $k" "$log.err"; then
        fail "$name" "it did not say where it stopped: $(why "$log")"
    elif ! run "$tmp/sig2.log" "$D" --resume "$file" --steps $((k + 2)) --save "$tmp/sig2.st" --threads 1 --out "$tmp/sig2"; then
        fail "$name" "resuming $file exited $?: $(why "$tmp/sig2.log")"
    elif ! grep -q "^saved step $((k + 2)) to" "$tmp/sig2.log"; then
        fail "$name" "the resume from step $k did not save step $((k + 2))"
    else
        pass "$name"
        sed -n 1p "$log.err"
    fi
}
interrupt "SIGINT" "$tmp/int.st" INT 130 "$tmp/int" "$@" --save "$tmp/int.st"
interrupt "SIGINT twice" "$tmp/int2.st" INT 130 "$tmp/int2" "$@" --save "$tmp/int2.st"
interrupt "SIGTERM" "$tmp/term/dcgan_interrupted.st" TERM 143 "$tmp/term" "$@"

# ---- damaged files ----
# damaged NAME FILE: a resume from FILE is refused with exit status 1, naming it
damaged() {
    run "$tmp/bad.log" "$D" --resume "$2" --steps 10 --out "$tmp/bad"
    rc=$?
    if [ $rc -eq 1 ] && grep -q "$2" "$tmp/bad.log.err"; then
        pass "$1"
        sed -n 1p "$tmp/bad.log.err"
    else
        fail "$1" "exit $rc (1 wanted), message: $(why "$tmp/bad.log")"
    fi
}
# flip FILE OFFSET: byte OFFSET of FILE changed (+1 mod 256) in place
flip() {
    old=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    # shellcheck disable=SC2059 # the format is the byte's octal escape
    printf "\\$(printf %03o $(((old + 1) % 256)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
if [ -f "$B1" ]; then
    size=$(wc -c <"$B1" | tr -d ' ')
    cp "$B1" "$tmp/header.st"
    flip "$tmp/header.st" 200
    damaged "damaged header" "$tmp/header.st"
    cp "$B1" "$tmp/data.st"
    flip "$tmp/data.st" $((size / 2))
    damaged "damaged data" "$tmp/data.st"
    head -c $((size / 2)) "$B1" >"$tmp/cut.st"
    damaged "cut short" "$tmp/cut.st"
else
    skip "damaged" "no checkpoint from dcgan identical"
fi

# ---- a step that fails leaves the last good checkpoint alone ----
if ! command -v python3 >/dev/null 2>&1; then
    skip "failed step" "no python3 to write a checkpoint with NaN"
elif [ ! -f "$B1" ]; then
    skip "failed step" "no checkpoint from dcgan identical"
elif ! python3 - "$B1" "$tmp/nan.st" <<'EOF'
import json, struct, sys, zlib
data = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + n])
begin = header["D.6.weight"]["data_offsets"][0]   # D's last Linear: every logit is NaN
data[8 + n + begin:8 + n + begin + 4] = struct.pack("<f", float("nan"))
at = data.index(b'"crc32":"') + len(b'"crc32":"')
data[at:at + 8] = b"00000000"
data[at:at + 8] = b"%08x" % (zlib.crc32(bytes(data)) & 0xffffffff)
open(sys.argv[2], "wb").write(data)
EOF
then
    fail "failed step" "python3 could not write the checkpoint with NaN"
else
    cp "$B1" "$tmp/keep.st"
    run "$tmp/nan.log" "$D" --resume "$tmp/nan.st" --steps $((N + 2)) --save "$tmp/keep.st" --save-every 1 --out "$tmp/nan"
    rc=$?
    if [ $rc -ne 1 ]; then
        fail "failed step" "exit status $rc (1 wanted): $(why "$tmp/nan.log")"
    elif ! grep -q "step" "$tmp/nan.log.err"; then
        fail "failed step" "the message does not name the step: $(why "$tmp/nan.log")"
    elif ! cmp "$B1" "$tmp/keep.st" >/dev/null 2>&1; then
        fail "failed step" "the --save file was written over"
    else
        pass "failed step"
        sed -n 1p "$tmp/nan.log.err"
    fi
fi

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
