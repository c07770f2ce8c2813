#!/bin/sh
# tests/examples_check.sh BUILD_DIR - short training runs of the training examples, each judged with
# pass marks set for its length: one "PASS name", "FAIL name: why" or "SKIP name: why" line per
# check; the exit status is 1 when any check failed.
#
# It runs BUILD_DIR/{toy2d,dcgan,wgan,cgan,gan} and BUILD_DIR/sample_check (tests/sample_check.c);
# any that is missing is compiled into a temporary directory with $CC (default cc) -O2 ... -lm.
# With GAN_DATA set (a directory with MNIST's IDX files) the image examples train on MNIST, else on
# the built-in shapes; both are calibrated. About 4 minutes on 2 cores.
#
# The checks:
#   help, bad flag       --help exits 0; an unknown flag and a bad value exit 2
#   checker              sample_check fails uniform noise, an untrained DCGAN's samples (--steps 0) and
#                        a trained run's first sample repeated (a collapsed G); it passes the real data
#   toy2d                ring8, 3000 steps: all 8 modes covered and fair (gan_eval_modes), at least 40 %
#                        high-quality samples
#   dcgan                400 steps: exit 0 (finite losses) and its --dump passes sample_check
#   wgan-gp, wgan, cgan, gan (MLP), cgan --projection
#                        shorter runs: exit 0 and sample_check --loose passes their --dump

set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-cc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/examples_check.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
failed=0

. "$ROOT/tests/check_lib.sh" # pass, fail, skip, program

# run LOG CMD...: prints the command, runs it with its output in LOG; returns its exit status.
run() {
    log=$1
    shift
    echo "+ $*"
    "$@" >"$log" 2>&1
}

CHECK=$(program sample_check tests/sample_check.c) || { fail sample_check "does not compile"; exit 1; }
EXAMPLES="toy2d dcgan wgan cgan gan"
for e in $EXAMPLES; do
    # shellcheck disable=SC2034 # read through eval below
    p=$(program "$e" "examples/$e.c") || p=
    eval "BIN_$e=\$p"
done

if [ -n "${GAN_DATA:-}" ]; then
    echo "data: GAN_DATA=$GAN_DATA (the examples take MNIST from it when it has it)"
else
    echo "data: GAN_DATA is not set, so the image examples train on the built-in shapes"
fi

# --help, an unknown flag and a bad value
for e in $EXAMPLES; do
    eval "b=\$BIN_$e"
    if [ -z "$b" ]; then
        fail "$e" "examples/$e.c does not compile"
        continue
    fi
    run "$tmp/help.log" "$b" --help
    rc=$?
    if [ $rc -eq 0 ] && grep -q '^usage:' "$tmp/help.log"; then pass "$e --help"; else fail "$e --help" "exit $rc, or no usage line"; fi
    run "$tmp/bad.log" "$b" --no-such-flag
    rc=$?
    if [ $rc -eq 2 ] && grep -q '^usage:' "$tmp/bad.log"; then pass "$e bad flag"; else fail "$e bad flag" "exit $rc (2 wanted), or no usage line on stderr"; fi
    run "$tmp/bad.log" "$b" --steps many
    rc=$?
    if [ $rc -eq 2 ]; then pass "$e bad value"; else fail "$e bad value" "--steps many exited $rc, not 2"; fi
done

# judge NAME DUMP [--loose]: sample_check on a dump; prints its figures
judge() {
    name=$1
    dump=$2
    shift 2
    if "$CHECK" "$@" "$dump" >"$tmp/judge.log" 2>&1; then
        pass "$name"
        sed -n 1p "$tmp/judge.log"
    else
        fail "$name" "$(grep '^FAIL' "$tmp/judge.log" | sed 's/^FAIL [^:]*: //')"
        sed -n 1p "$tmp/judge.log"
    fi
}

# trained NAME LOG DUMP [--loose] -- CMD...: runs a training command, then judges its dump
trained() {
    name=$1
    log=$2
    dump=$3
    shift 3
    opt=
    if [ "$1" = "--loose" ]; then
        opt=--loose
        shift
    fi
    shift # --
    if run "$log" "$@"; then
        grep '^trained in' "$log"
        judge "$name" "$dump" $opt
    else
        fail "$name" "exit status $? (non-finite losses, or an error): $(tail -n 2 "$log" | tr '\n' ' ')"
    fi
}

# the checker itself
if "$CHECK" --uniform 500 28 28 >"$tmp/u.log" 2>&1; then
    fail "checker rejects uniform noise" "it passed: $(sed -n 1p "$tmp/u.log")"
else
    pass "checker rejects uniform noise"
fi

if [ -n "$BIN_toy2d" ]; then
    if run "$tmp/toy2d.log" "$BIN_toy2d" --dist ring8 --steps 3000 --out "$tmp/toy2d"; then
        line=$(grep '^modes ' "$tmp/toy2d.log")
        echo "$line"
        modes=$(echo "$line" | awk '{ print $2 }')
        share=$(echo "$line" | awk '{ print $7 }')
        fair=$(echo "$line" | awk '{ print $10 }')
        if [ "$modes" = 8 ] && [ "$fair" = 8 ] && awk "BEGIN { exit !($share >= 40) }"; then
            pass "toy2d ring8"
        else
            fail "toy2d ring8" "modes $modes of 8, fair $fair of 8 (8 wanted), high quality $share % (40 wanted)"
        fi
    else
        fail "toy2d ring8" "exit status $?: $(tail -n 2 "$tmp/toy2d.log" | tr '\n' ' ')"
    fi
fi

if [ -n "$BIN_dcgan" ]; then
    if run "$tmp/dc0.log" "$BIN_dcgan" --steps 0 --out "$tmp/dc0" --dump 500 "$tmp/dc0.idx" &&
        ! "$CHECK" --loose "$tmp/dc0.idx" >"$tmp/u.log" 2>&1; then
        pass "checker rejects an untrained G"
    else
        fail "checker rejects an untrained G" "$(sed -n 1p "$tmp/u.log")"
    fi
    trained "dcgan 400 steps" "$tmp/dc.log" "$tmp/dc.idx" -- "$BIN_dcgan" --steps 400 --out "$tmp/dc" --dump 500 "$tmp/dc.idx"
    if [ ! -f "$tmp/dc.idx" ]; then
        skip "checker rejects a collapsed G" "the dcgan run left no dump to repeat"
    elif "$CHECK" --loose --collapse "$tmp/dc.idx" >"$tmp/u.log" 2>&1; then
        fail "checker rejects a collapsed G" "it passed: $(sed -n 1p "$tmp/u.log")"
    else
        pass "checker rejects a collapsed G"
    fi
fi

if [ -n "$BIN_wgan" ]; then
    trained "wgan-gp 150 steps" "$tmp/wgp.log" "$tmp/wgp.idx" --loose -- "$BIN_wgan" --loss wgan-gp --steps 150 --out "$tmp/wgp" --dump 500 "$tmp/wgp.idx"
    trained "wgan 150 steps" "$tmp/wc.log" "$tmp/wc.idx" --loose -- "$BIN_wgan" --loss wgan --steps 150 --out "$tmp/wc" --dump 500 "$tmp/wc.idx"
fi

if [ -n "$BIN_cgan" ]; then
    trained "cgan 300 steps" "$tmp/cg.log" "$tmp/cg.idx" --loose -- "$BIN_cgan" --steps 300 --out "$tmp/cg" --dump 500 "$tmp/cg.idx" --dump-labels "$tmp/cg_labels.idx"
    if [ -f "$tmp/cg_labels.idx" ] && [ "$(wc -c <"$tmp/cg_labels.idx" | tr -d ' ')" = 508 ]; then
        pass "cgan --dump-labels"
    else
        fail "cgan --dump-labels" "no IDX file of 500 labels (8 header bytes + 500)"
    fi
    trained "cgan --projection 300 steps" "$tmp/cgp.log" "$tmp/cgp.idx" --loose -- "$BIN_cgan" --projection --steps 300 --out "$tmp/cgp" --dump 500 "$tmp/cgp.idx"
fi

if [ -n "$BIN_gan" ]; then
    trained "gan (MLP) 1500 steps" "$tmp/gan.log" "$tmp/gan.idx" --loose -- "$BIN_gan" --steps 1500 --out "$tmp/gan" --dump 500 "$tmp/gan.idx"
fi

exit $failed
