#!/usr/bin/env bash
# tests/fuzz/run.sh - builds the fuzz harnesses and runs each for a while (what `make fuzz` runs).
#
#   tests/fuzz/run.sh [OUT_DIR [SECONDS [HARNESS ...]]]      defaults: build/fuzz, 60, every tests/fuzz/fuzz_*.c
#
# Each harness is built with $FUZZ_CC (clang) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
# -O1 -g into OUT_DIR/NAME, and run for SECONDS (-max_total_time) on a copy of its seed corpus
# (OUT_DIR/corpus/NAME: what libFuzzer adds stays out of tests/fuzz/corpus), one job, one process.
# One line per harness:
#   PASS fuzz_gunzip: 123456 execs, 0 crashes
#   FAIL fuzz_gunzip: a crash after 1234 execs: OUT_DIR/artifacts/fuzz_gunzip/crash-...   (then the
#        sanitizer's summary, the top of its stack and the command that reproduces it)
#   SKIP fuzz_checkpoint: gan.h has no gan_checkpoint_parse yet
# and the exit status is 1 if any harness failed (or did not build).
#
# Without libFuzzer (clang -fsanitize=fuzzer does not link: Debian's libclang-rt-14-dev is missing)
# it says so and builds each harness with tests/fuzz/main_standalone.c instead, under ASan and UBSan
# when the compiler has them, and runs the committed corpus through it once.
set -u

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

out="${1:-build/fuzz}"
seconds="${2:-60}"
shift $(($# < 2 ? $# : 2))
cc="${FUZZ_CC:-clang}"
if [ $# -gt 0 ]; then
    harnesses=("$@")
else
    harnesses=()
    for f in tests/fuzz/fuzz_*.c; do harnesses+=("$(basename "$f" .c)"); done
fi
# (0 is refused too: -max_total_time=0 would mean no limit)
case "$seconds" in '' | *[!0-9]* | 0) echo "run.sh: SECONDS must be a whole number above 0, not '$seconds'" >&2; exit 2 ;; esac

mkdir -p "$out"
san=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
flags=(-std=c99 -O1 -g)

# libFuzzer, or the corpus-only fallback
probe='#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }'
if printf '%s\n' "$probe" | "$cc" -fsanitize=fuzzer "${san[@]}" -x c - -o "$out/probe" >/dev/null 2>&1; then
    mode=libfuzzer
else
    mode=corpus
    if ! command -v "$cc" >/dev/null 2>&1; then cc="${CC:-cc}"; fi
    echo "run.sh: $cc -fsanitize=fuzzer does not link here (Debian: apt-get install libclang-rt-14-dev):"
    echo "        no fuzzing; each harness runs its committed corpus once instead"
    printf 'int main(void) { return 0; }\n' >"$out/probe.c"
    if ! { "$cc" "${san[@]}" "$out/probe.c" -o "$out/probe" && "$out/probe"; } >/dev/null 2>&1; then
        echo "        ($cc has no ASan/UBSan either: built without sanitizers)"
        san=()
    fi
fi
rm -f "$out/probe" "$out/probe.c"

# what a harness needs of gan.h before it can build: fuzz_checkpoint was written before gan.h had its parser
needs() {
    case "$1" in
        fuzz_checkpoint) echo gan_checkpoint_parse ;;
    esac
}

# libFuzzer's length options: fuzz_net reads at most 197 bytes (5 of header, 12 layers of up to 4,
# 48 calls of up to 3), and starts at that length at once, since short inputs make short call
# sequences; the parsers get room for a few stored blocks and multi-member files, reached gradually
length_options() {
    case "$1" in
        fuzz_net) echo -max_len=256 -len_control=0 ;;
        *) echo -max_len=8192 ;;
    esac
}

failed=0
for name in "${harnesses[@]}"; do
    src="tests/fuzz/$name.c"
    if [ ! -f "$src" ]; then
        echo "FAIL $name: no $src"
        failed=1
        continue
    fi
    need="$(needs "$name")"
    if [ -n "$need" ] && ! grep -q "$need" gan.h; then
        echo "SKIP $name: gan.h has no $need yet"
        continue
    fi

    # build, when the binary is older than what it is made of
    if [ "$mode" = libfuzzer ]; then
        bin="$out/$name"
        sources=("$src")
        build=("$cc" "${flags[@]}" -fsanitize=fuzzer "${san[@]}" "$src" -o "$bin" -lm)
    else
        bin="$out/$name.plain"
        sources=("$src" tests/fuzz/main_standalone.c)
        build=("$cc" "${flags[@]}" "${san[@]}" "$src" tests/fuzz/main_standalone.c -o "$bin" -lm)
    fi
    # again when a source is newer, or the command differs from the one that built it (FUZZ_CC, say)
    stale=0
    [ -x "$bin" ] && [ "$(cat "$bin.cmd" 2>/dev/null)" = "${build[*]}" ] || stale=1
    for f in "${sources[@]}" gan.h; do [ "$f" -nt "$bin" ] && stale=1; done
    if [ "$stale" -eq 1 ]; then
        rm -f "$bin.cmd"
        if ! "${build[@]}" >"$out/$name.build.log" 2>&1; then
            echo "FAIL $name: does not build ($out/$name.build.log):"
            head -n 20 "$out/$name.build.log"
            rm -f "$bin"
            failed=1
            continue
        fi
        printf '%s\n' "${build[*]}" >"$bin.cmd"
    fi

    corpus="tests/fuzz/corpus/$name"
    log="$out/$name.log"
    if [ "$mode" = corpus ]; then
        if [ ! -d "$corpus" ]; then
            echo "SKIP $name: no corpus ($corpus) to run without libFuzzer"
            continue
        fi
        if "$bin" "$corpus" >"$log" 2>&1; then
            ran="$(sed -n 's/^main_standalone: ran \([0-9]*\) inputs$/\1/p' "$log")"
            echo "PASS $name: ${ran:-0} inputs of its corpus (no libFuzzer: no fuzzing), 0 crashes"
        else
            echo "FAIL $name: a corpus input crashed it ($log):"
            grep -E '^(SUMMARY|fuzz_[a-z]*: invariant)' "$log" | head -n 5
            failed=1
        fi
        continue
    fi

    # a fresh copy of the corpus each run: the committed one never grows
    work="$out/corpus/$name"
    artifacts="$out/artifacts/$name"
    rm -rf "$work" "$artifacts"
    mkdir -p "$work" "$artifacts"
    if [ -d "$corpus" ]; then cp -R "$corpus"/. "$work"/; fi
    # (length_options unquoted: it is one or two options)
    "$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 $(length_options "$name") \
        -artifact_prefix="$artifacts/" "$work" >"$log" 2>&1
    rc=$?
    execs="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)"
    crash="$(find "$artifacts" -type f | head -n 1)"
    if [ "$rc" -eq 0 ] && [ -z "$crash" ]; then
        echo "PASS $name: ${execs:-0} execs, 0 crashes"
    else
        echo "FAIL $name: a crash after ${execs:-?} execs: ${crash:-no artifact (exit status $rc)} (log: $log)"
        grep -E '^(SUMMARY|fuzz_[a-z]*: invariant|==[0-9]+==ERROR)' "$log" | head -n 5
        # the first stack (where it happened, not where the memory came from), without the machinery
        awk '/^    #[0-9]+ / { if (!done) { started = 1; print }; next } started { done = 1 }' "$log" |
            grep -v -E 'fuzzer::|__sanitizer|libc\.so|pthread_kill|raise|abort|libc_start|_start|in main ' | head -n 8
        [ -n "$crash" ] && echo "     reproduce: $bin $crash"
        failed=1
    fi
done
exit "$failed"
