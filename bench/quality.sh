#!/usr/bin/env bash
# bench/quality.sh [BUILD_DIR] - the sample-quality table of issue 11: our examples trained for each
# seed, their samples scored by build/evaluate (gan.h's eval section) beside PyTorch's (bench/peers/),
# and a summary of the medians. Run by `make quality`; not by CI (it takes hours: per seed at one
# thread on a 2-core AMD EPYC Zen 4 with other runs beside it, about 80 s for each toy2d, 8 minutes
# for dcgan, 8 for dcgan on Fashion, 12 for cgan and 21 for wgan-gp; two invocations with different
# QUALITY_RUNS may share the machine, one core each).
#
# For each seed of QUALITY_SEEDS, each run of QUALITY_RUNS:
#   toy2d      toy2d --dist ring8, toy2d --dist grid25       (their final "modes" line)
#   dcgan      dcgan $DCGAN_Q      --dump N OUT/dcgan-seedS.idx                       (MNIST)
#   wgan-gp    wgan $WGAN_Q (wgan-gp, its default loss) --dump N OUT/wgan-gp-seedS.idx (MNIST)
#   cgan       cgan $CGAN_Q       --dump N OUT/cgan-seedS.idx --dump-labels OUT/cgan-seedS-labels.idx
#   dcgan-fashion  dcgan $DCGAN_Q --dataset fashion --dump N OUT/dcgan-fashion-seedS.idx
# The settings of the table (DCGAN_Q, CGAN_Q below) are what gan.h offers beyond the reference
# models that the peers run, as issue 11 allows when our run stays within the peer's wall clock at
# the same thread count:
#   DCGAN_Q  --pack 2 --lr 3e-4 --steps 2000: PacGAN2 (D judges pairs, so each D pass is on half as
#            many samples and a step takes about 0.7 of the peer's), a learning rate of 3e-4 for both
#            nets, and 2000 steps (12.8 epochs of MNIST, 2.1 of Fashion) where the peer runs 1500
#   WGAN_Q   --pack 2 --lr 2e-4 --steps 900: PacGAN2 in the critic (a G step of 5 critic steps
#            then takes about 0.8 of the peer's), Adam at 2e-4 where the recipe has 1e-4 (betas
#            0, 0.9 kept), and 900 G steps where the peer runs 800
#   CGAN_Q   --projection: the projection discriminator, the same 2000 steps as the peer (a step
#            costs about what the peer's does)
# The step-time ratios were measured with farm-bench on a 2-core AMD EPYC Zen 4, one thread each,
# our example against bench/peers.py on short runs of the same step ratio, run in turn: DCGAN
# 400 steps of ours (pack 2) against 400 of the peer's, CPU ratio 0.69 (wall 0.72), so 2000 steps
# cost about 0.92 of the peer's 1500; WGAN-GP 90 G steps against 80, CPU 0.79 (wall 0.74); cGAN
# 300 against 300, CPU 1.00 (wall 1.04).
# then build/evaluate --calibrate on the MNIST dumps, ours and bench/peers/{dcgan,wgan-gp,cgan}-seed*.idx.gz
# (cgan's with its -labels file), and build/evaluate --dataset fashion --calibrate on the Fashion
# ones and bench/peers/dcgan-fashion-seed*.idx.gz. A peer dump that is not there is skipped with a
# message. Each run's wall-clock seconds (date +%s.%N around it) go to OUT/times/RUN-seedS.txt, which
# an earlier run of the same name and seed had written: so the table may be made in parts, and two
# invocations with different QUALITY_RUNS may share one OUT at the same time (one core each).
#
# Environment (every one optional):
#   GAN_DATA              the data directory (MNIST in GAN_DATA/mnist, Fashion in GAN_DATA/fashion-mnist);
#                         default ../shared/data beside the repository
#   QUALITY_SEEDS         default "1 2 3"
#   QUALITY_RUNS          default "toy2d dcgan wgan-gp cgan dcgan-fashion" (they run in this order
#                         whatever the order given); set but empty: no runs, only the evaluation and
#                         summary, which score whatever dumps OUT holds
#   QUALITY_THREADS       --threads of every run, default 1
#   QUALITY_SAMPLES       the N of each --dump, default 10000
#   QUALITY_OUT           where everything goes, default out/quality
#   QUALITY_TOY2D_FLAGS, QUALITY_DCGAN_FLAGS, QUALITY_WGAN_FLAGS, QUALITY_CGAN_FLAGS,
#   QUALITY_FASHION_FLAGS (dcgan on Fashion), QUALITY_EVAL_FLAGS (both evaluate runs)
#                         extra flags for that program, after the script's own and the table's
#                         settings (so they win where a flag is given twice); default empty
#                         (e.g. QUALITY_DCGAN_FLAGS="--ema 0.999 --steps 3000")
#
# What it writes in OUT: RUN-seedS.log (each run's output), the dumps, times.txt (the lines of
# times/, "RUN seed seconds status"), eval-mnist.txt and eval-fashion.txt (evaluate's output: its "row" lines are
# described at the top of examples/evaluate.c), summary.txt (what it prints last). The summary has
# one line per model and source ("ours": the median over our seeds; "peer": the median over the
# peer dumps there are): fd, kl, covered, label accuracy (cgan) and the runs' seconds (ours: the
# whole run, wall clock; peer: train_s from bench/peers/RUN-seedS.txt), then the calibration rows
# to read them against, then toy2d's modes, high-quality share, fair modes and KL per seed and
# their medians.
# The exit status is 1 when any run failed (the summary is printed all the same).

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
BUILD=${1:-build}
DATA=${GAN_DATA:-$ROOT/../shared/data}
SEEDS=${QUALITY_SEEDS:-1 2 3}
RUNS=" ${QUALITY_RUNS-toy2d dcgan wgan-gp cgan dcgan-fashion} "
DCGAN_Q=(--pack 2 --lr 3e-4 --steps 2000)
CGAN_Q=(--projection)
WGAN_Q=(--pack 2 --lr 2e-4 --steps 900)
THREADS=${QUALITY_THREADS:-1}
N=${QUALITY_SAMPLES:-10000}
OUT=${QUALITY_OUT:-out/quality}
read -r -a TOY2D_FLAGS <<<"${QUALITY_TOY2D_FLAGS:-}"
read -r -a DCGAN_FLAGS <<<"${QUALITY_DCGAN_FLAGS:-}"
read -r -a WGAN_FLAGS <<<"${QUALITY_WGAN_FLAGS:-}"
read -r -a CGAN_FLAGS <<<"${QUALITY_CGAN_FLAGS:-}"
read -r -a FASHION_FLAGS <<<"${QUALITY_FASHION_FLAGS:-}"
read -r -a EVAL_FLAGS <<<"${QUALITY_EVAL_FLAGS:-}"

for p in toy2d dcgan wgan cgan evaluate; do
    if [ ! -x "$BUILD/$p" ]; then
        echo "quality: no $BUILD/$p (run make first)" >&2
        exit 1
    fi
done
mkdir -p "$OUT" || exit 1
mkdir -p "$OUT/times" || exit 1
failed=0

now() { date +%s.%N; }

# timed NAME SEED CMD...: runs CMD with its output in OUT/NAME-seedSEED.log (echoed as it comes),
# and writes "NAME SEED seconds status" to OUT/times/NAME-seedSEED.txt.
timed() {
    local name=$1 seed=$2 t0 t1 rc
    shift 2
    echo "+ $*"
    t0=$(now)
    "$@" 2>&1 | tee "$OUT/$name-seed$seed.log"
    rc=${PIPESTATUS[0]}
    t1=$(now)
    awk -v n="$name" -v s="$seed" -v a="$t0" -v b="$t1" -v r="$rc" 'BEGIN { printf "%s %s %.1f %d\n", n, s, b - a, r }' \
        >"$OUT/times/$name-seed$seed.txt"
    if [ "$rc" -ne 0 ]; then
        echo "quality: $name seed $seed failed (exit status $rc)"
        failed=1
    fi
    return "$rc"
}

echo "quality: data $DATA, seeds $SEEDS, threads $THREADS, $N samples a dump, output in $OUT"
common=(--threads "$THREADS")
wanted() { case "$RUNS" in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
for s in $SEEDS; do
    if wanted toy2d; then
        for dist in ring8 grid25; do
            timed "toy2d-$dist" "$s" "$BUILD/toy2d" --dist "$dist" --seed "$s" "${common[@]}" --out "$OUT/toy2d-$dist-seed$s" \
                "${TOY2D_FLAGS[@]}"
            grep '^modes ' "$OUT/toy2d-$dist-seed$s.log" | sed "s/^/toy2d $dist seed $s: /"
        done
    fi
    wanted dcgan && timed dcgan "$s" "$BUILD/dcgan" --data "$DATA" --dataset mnist --seed "$s" "${common[@]}" \
        --out "$OUT/dcgan-seed$s" --dump "$N" "$OUT/dcgan-seed$s.idx" "${DCGAN_Q[@]}" "${DCGAN_FLAGS[@]}"
    wanted wgan-gp && timed wgan-gp "$s" "$BUILD/wgan" --data "$DATA" --dataset mnist --seed "$s" "${common[@]}" \
        --out "$OUT/wgan-gp-seed$s" --dump "$N" "$OUT/wgan-gp-seed$s.idx" "${WGAN_Q[@]}" "${WGAN_FLAGS[@]}"
    wanted cgan && timed cgan "$s" "$BUILD/cgan" --data "$DATA" --dataset mnist --seed "$s" "${common[@]}" \
        --out "$OUT/cgan-seed$s" --dump "$N" "$OUT/cgan-seed$s.idx" --dump-labels "$OUT/cgan-seed$s-labels.idx" \
        "${CGAN_Q[@]}" "${CGAN_FLAGS[@]}"
    wanted dcgan-fashion && timed dcgan-fashion "$s" "$BUILD/dcgan" --data "$DATA" --dataset fashion --seed "$s" \
        "${common[@]}" --out "$OUT/dcgan-fashion-seed$s" --dump "$N" "$OUT/dcgan-fashion-seed$s.idx" "${DCGAN_Q[@]}" \
        "${FASHION_FLAGS[@]}"
done

# The files of one evaluate run: our dumps of RUN for each seed, then the peers' (with labels files).
# add_files RUN: appends to the array files.
add_files() {
    local run=$1 s f lab found=0
    for s in $SEEDS; do
        f="$OUT/$run-seed$s.idx"
        if [ ! -f "$f" ]; then
            echo "quality: no $f (its run failed) to evaluate"
            continue
        fi
        lab="$OUT/$run-seed$s-labels.idx"
        if [ -f "$lab" ]; then files+=("$f:$lab"); else files+=("$f"); fi
    done
    for f in bench/peers/"$run"-seed*.idx.gz; do
        [ -f "$f" ] || continue
        case "$f" in *-labels.idx.gz) continue ;; esac
        found=1
        lab="${f%.idx.gz}-labels.idx.gz"
        if [ -f "$lab" ]; then
            files+=("$f:$lab")
        else
            [ "$run" = cgan ] && echo "quality: $f has no labels file $lab: no label accuracy for it"
            files+=("$f")
        fi
    done
    [ "$found" = 1 ] || echo "quality: skip the peer of $run: no bench/peers/$run-seed*.idx.gz"
}

# evaluate_set NAME DATASET RUN...: build/evaluate --calibrate on DATASET with RUN's dumps, into
# OUT/eval-NAME.txt.
evaluate_set() {
    local name=$1 dataset=$2 run
    shift 2
    files=()
    for run in "$@"; do add_files "$run"; done
    timed "eval-$name" all "$BUILD/evaluate" --data "$DATA" --dataset "$dataset" "${common[@]}" "${EVAL_FLAGS[@]}" \
        --calibrate "${files[@]}"
    cp "$OUT/eval-$name-seedall.log" "$OUT/eval-$name.txt"
}
evaluate_set mnist mnist dcgan wgan-gp cgan
evaluate_set fashion fashion dcgan-fashion

# ---- the summary ---------------------------------------------------------------------------------

summarize() {
    local inputs=("$OUT/times.txt") f
    cat "$OUT"/times/*.txt >"$OUT/times.txt" 2>/dev/null
    for f in bench/peers/*-seed*.txt "$OUT/eval-mnist.txt" "$OUT/eval-fashion.txt"; do
        [ -f "$f" ] && inputs+=("$f")
    done
    awk -v out="$OUT/" '
    function median(list,    n, a, i, j, t) {
        n = split(list, a, " ")
        if (n == 0) return "-"
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function add(key, field, value) { if (value != "" && value != "-") v[key, field] = v[key, field] " " value }
    function show(key, field, fmt,    m) { m = median(v[key, field]); return m == "-" ? "-" : sprintf(fmt, m) }
    # times.txt: "RUN seed seconds status"
    FILENAME ~ /times\.txt$/ { if ($4 == 0) add($1 SUBSEP "ours", "sec", $3); next }
    # bench/peers/RUN-seedS.txt: key=value fields, train_s among them
    FILENAME ~ /^bench\/peers\// {
        run = FILENAME; sub(/^bench\/peers\//, "", run); sub(/-seed[0-9]+\.txt$/, "", run)
        for (i = 1; i <= NF; i++) if ($i ~ /^train_s=/) add(run SUBSEP "peer", "sec", substr($i, 9))
        next
    }
    $1 == "classifier" { for (i = 2; i <= NF; i++) if ($i ~ /^(epochs|acc)=/) cls[FILENAME] = cls[FILENAME] " " $i; next }
    $1 == "row" {
        name = $2; src = "ours"
        if (name ~ /^bench\/peers\//) src = "peer"
        else if (index(name, out) != 1) { calib[++nc] = FILENAME "|" $0; next }
        run = name; sub(/.*\//, "", run); sub(/-seed[0-9]+\.idx(\.gz)?$/, "", run)
        key = run SUBSEP src
        if (!(key in seen)) { seen[key] = 1; order[++nk] = key }
        n[key]++
        for (i = 3; i <= NF; i++) { e = index($i, "="); add(key, substr($i, 1, e - 1), substr($i, e + 1)) }
    }
    END {
        printf "%-14s %-5s %5s %9s %7s %8s %7s %9s\n", "model", "from", "sets", "fd", "kl", "covered", "acc", "seconds"
        for (k = 1; k <= nk; k++) {
            split(order[k], p, SUBSEP)
            printf "%-14s %-5s %5d %9s %7s %8s %7s %9s\n", p[1], p[2], n[order[k]], show(order[k], "fd", "%.2f"),
                show(order[k], "kl", "%.4f"), show(order[k], "covered", "%g"), show(order[k], "acc", "%.4f"),
                show(order[k], "sec", "%.0f")
        }
        print ""
        print "(medians over the sets; seconds: ours the whole run, wall clock; the peer its training, train_s)"
        print "calibration rows (real data; the top of examples/evaluate.c says what each is):"
        for (i = 1; i <= nc; i++) {
            split(calib[i], q, "|"); f = q[1]; sub(/.*eval-/, "", f); sub(/\.txt$/, "", f)
            $0 = q[2]
            printf "  %-8s %-9s %s %s %s %s %s %s\n", f, $2, $3, $4, $5, $6, $7, $8
        }
        for (f in cls) { g = f; sub(/.*eval-/, "", g); sub(/\.txt$/, "", g); printf "  %-8s %-9s%s (held out)\n", g, "classifier", cls[f] }
    }' "${inputs[@]}"

    echo
    echo "toy2d (2500 samples of G, scored by gan_eval_modes):"
    for dist in ring8 grid25; do
        for s in $SEEDS; do
            line=$(grep '^modes ' "$OUT/toy2d-$dist-seed$s.log" 2>/dev/null | sed 's/ (2500 .*//')
            sec=$(awk -v n="toy2d-$dist" -v s="$s" '$1 == n && $2 == s { print $3 }' "$OUT/times.txt")
            echo "  $dist seed $s: ${line:-no result} (${sec:-?} s)"
        done
        for s in $SEEDS; do grep '^modes ' "$OUT/toy2d-$dist-seed$s.log" 2>/dev/null; done |
            awk -v d="$dist" '
            function median(a, n,    i, j, t) {
                for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
                return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
            }
            { m[++n] = $2 + 0; k = $4; sub(/,/, "", k); q[n] = $7 + 0; fm[n] = $10 + 0; kl[n] = $14 + 0 }
            END {
                if (n) printf "  %s median: modes %g of %s, high quality %.1f %%, fair %g of %s, kl %.4f\n", d, median(m, n), k,
                    median(q, n), median(fm, n), k, median(kl, n)
            }'
    done
}
echo
echo "==== summary"
summarize | tee "$OUT/summary.txt"
exit $failed
