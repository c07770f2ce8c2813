#!/usr/bin/env bash
# tests/ci_reliability.sh BUILD_DIR - the reliability runs .ci/run adds after make test and make check,
# each bounded in time (make check already runs every test program under ASan and UBSan):
#
#   1. ThreadSanitizer: the programs whose kernels run on the thread pool (tests/test_speed.c,
#      tests/test_conv_paths.c, tests/test_checkpoint.c), built with clang -fsanitize=thread, at two
#      threads: no data race may be reported.
#   2. valgrind memcheck of one short training run with a save and a resume (build/dcgan on the
#      built-in shapes): 0 errors, and no byte definitely, indirectly or possibly lost.
#   3. A smoke fuzz: make fuzz FUZZ_SECONDS (default 10) for each harness.
#
# One PASS, FAIL or SKIP line per check; the last line "N passed, N failed"; exit status 1 on a failure.
# TSAN_TIMEOUT and VALGRIND_TIMEOUT (seconds) bound each run.
set -u
build="${1:-build}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1
passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; }
tmp="$(mktemp -d "${TMPDIR:-/tmp}/gan_rel.XXXXXX")" || exit 1
trap 'rm -rf "$tmp"' EXIT
timeout_tsan="${TSAN_TIMEOUT:-900}"
timeout_vg="${VALGRIND_TIMEOUT:-900}"

# ---- ThreadSanitizer ---------------------------------------------------------------------------
if ! command -v clang >/dev/null 2>&1; then
    skip "tsan: clang is not installed"
elif ! echo 'int main(void){return 0;}' | clang -x c - -fsanitize=thread -o "$tmp/probe" 2>/dev/null ||
    ! "$tmp/probe" 2>/dev/null; then
    skip "tsan: clang -fsanitize=thread does not build or run here"
else
    for t in test_speed test_conv_paths test_checkpoint; do
        if ! clang -std=c99 -O1 -g -fsanitize=thread tests/$t.c -o "$tmp/$t" -lm 2>"$tmp/$t.build"; then
            fail "tsan $t: does not build: $(head -3 "$tmp/$t.build")"
            continue
        fi
        # halt_on_error makes a race fatal, so a report cannot hide behind PASS lines
        TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" timeout "$timeout_tsan" "$tmp/$t" >"$tmp/$t.out" 2>&1
        rc=$?
        if [ "$rc" -eq 0 ] && ! grep -q 'ThreadSanitizer' "$tmp/$t.out"; then
            pass "tsan $t: $(tail -n 1 "$tmp/$t.out"), no race reported"
        else
            fail "tsan $t: status $rc; $(grep -m1 -A3 'WARNING: ThreadSanitizer' "$tmp/$t.out" | tr '\n' ' ')$(grep -m1 '^FAIL' "$tmp/$t.out")"
        fi
    done
fi

# ---- valgrind memcheck -------------------------------------------------------------------------
if ! command -v valgrind >/dev/null 2>&1; then
    skip "valgrind: not installed"
elif [ ! -x "$build/dcgan" ]; then
    skip "valgrind: $build/dcgan is not built (run make first)"
else
    vg=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible
        --errors-for-leak-kinds=definite,indirect,possible)
    common=(--dataset builtin --batch 16 --threads 2 --out "$tmp/out")
    for run in first resumed; do
        if [ "$run" = first ]; then
            args=("${common[@]}" --steps 2 --save "$tmp/vg.st")
        else
            args=("${common[@]}" --steps 3 --resume "$tmp/vg.st" --save "$tmp/vg2.st")
        fi
        timeout "$timeout_vg" "${vg[@]}" "$build/dcgan" "${args[@]}" >"$tmp/vg_$run.out" 2>&1
        rc=$?
        summary="$(grep -m1 'ERROR SUMMARY' "$tmp/vg_$run.out" | sed 's/^==[0-9]*== //')"
        if [ "$rc" -eq 0 ] && grep -q 'ERROR SUMMARY: 0 errors' "$tmp/vg_$run.out"; then
            pass "valgrind dcgan ($run run): $summary"
        else
            fail "valgrind dcgan ($run run): status $rc, ${summary:-no summary}; $(grep -m3 -E 'Invalid|uninitialised|lost' "$tmp/vg_$run.out" | tr '\n' ' ')"
        fi
    done
fi

# ---- smoke fuzz --------------------------------------------------------------------------------
make --no-print-directory fuzz BUILD="$build" FUZZ_SECONDS="${FUZZ_SECONDS:-10}" >"$tmp/fuzz.out" 2>&1
rc=$?
grep -E '^(PASS|FAIL|SKIP) ' "$tmp/fuzz.out" | sed 's/^/    /'
p=$(grep -c '^PASS ' "$tmp/fuzz.out")
f=$(grep -c '^FAIL ' "$tmp/fuzz.out")
if [ "$rc" -eq 0 ] && [ "$f" -eq 0 ] && [ "$p" -gt 0 ]; then
    pass "make fuzz FUZZ_SECONDS=${FUZZ_SECONDS:-10}: $p harnesses, no crash"
else
    fail "make fuzz: status $rc, $f failing harnesses; $(tail -n 3 "$tmp/fuzz.out" | tr '\n' ' ')"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
