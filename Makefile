# Makefile for gan.h: the header needs no build step; this builds what ships beside it.
#
#   make          every example, test and the benchmark, into build/
#   make test     build, then tests/run: every test program plus the compiler and option checks
#   make check    the slower quality runs: every test program again under ASan and UBSan, then short
#                 training runs of every example (tests/examples_check.sh, about 4 minutes on 2 cores)
#                 and the sample-quality scores of build/evaluate (tests/quality_check.sh, about 2 to 4
#                 minutes; it says SKIP without GAN_DATA) (it does not repeat make test; CI runs both)
#   make bench    peak FLOP/s, GEMM, layer and training-step timings (OpenBLAS beside ours when it is
#                 installed; PyTorch's figures after, when /usr/bin/python3 has torch); BENCH_ARGS=--quick
#   make quality  the sample-quality table of issue 11 (bench/quality.sh): our examples for 3 seeds and
#                 PyTorch's dumps in bench/peers/, scored by build/evaluate; hours, not run by CI;
#                 QUALITY_SEEDS, QUALITY_THREADS, QUALITY_DCGAN_FLAGS, ... (the script's header) set it
#   make fuzz     each fuzz harness of tests/fuzz/ (libFuzzer, ASan, UBSan) for FUZZ_SECONDS (60) on a
#                 copy of its seed corpus; FUZZ_SECONDS=10 is CI's smoke run (tests/ci_reliability.sh)
#   make demo     build examples/dcgan.c and train it: on MNIST when GAN_DATA is set or ../shared/data/mnist
#                 exists, else on gan.h's built-in shapes (it says which); pictures go to out/
#   make clean    remove build/
#
# CC, CFLAGS, LDFLAGS and LDLIBS can be overridden: make CC=clang CFLAGS='-O3 -march=native'.
# New files need no edit here: examples/NAME.c -> build/NAME, tests/test_NAME.c -> build/test_NAME.

CFLAGS ?= -std=c99 -O2 -Wall -Wextra -pedantic
LDLIBS ?= -lm
BUILD ?= build

# The sanitizer build of `make check`: flags that make the first error fatal, so a test cannot
# pass with a report printed above its PASS lines.
SAN_CC ?= $(CC)
SAN_CFLAGS ?= -std=c99 -O1 -g -Wall -Wextra -pedantic -fsanitize=address,undefined \
              -fno-sanitize-recover=all -fno-omit-frame-pointer

EXAMPLES := $(patsubst examples/%.c,$(BUILD)/%,$(wildcard examples/*.c))
TESTS    := $(patsubst tests/%.c,$(BUILD)/%,$(wildcard tests/test_*.c))
SAN_TESTS := $(patsubst tests/%.c,$(BUILD)/san/%,$(wildcard tests/test_*.c))
TEST_HEADERS := $(wildcard tests/*.h)

.PHONY: all test check bench quality demo fuzz clean

all: $(EXAMPLES) $(TESTS) $(BUILD)/bench

$(BUILD) $(BUILD)/san:
	mkdir -p $@

# Examples and the benchmark include "../gan.h" so that each also builds alone (cc -O2 FILE.c -lm);
# the training examples share their flags through examples/train_flags.h.
$(BUILD)/%: examples/%.c examples/train_flags.h gan.h | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LDFLAGS) $(LDLIBS)

# The checker make check runs on the examples' dumped samples (it does not include gan.h).
$(BUILD)/sample_check: tests/sample_check.c | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LDFLAGS) $(LDLIBS)

$(BUILD)/test_%: tests/test_%.c $(TEST_HEADERS) gan.h | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LDFLAGS) $(LDLIBS)

$(BUILD)/san/test_%: tests/test_%.c $(TEST_HEADERS) gan.h | $(BUILD)/san
	$(SAN_CC) $(CPPFLAGS) $(SAN_CFLAGS) -o $@ $< $(LDFLAGS) $(LDLIBS)

# bench.c includes bench/peak.c (the FMA-peak kernels) on x86.
$(BUILD)/bench: bench/bench.c bench/peak.c gan.h | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LDFLAGS) $(LDLIBS)

# The same benchmark with OpenBLAS's sgemm beside ours. Built only by `make bench`, and only when a
# test program that includes <cblas.h> and links -lopenblas compiles (Debian: libopenblas-dev).
OPENBLAS_LIBS ?= -lopenblas
OPENBLAS_PROBE = printf '\#include <cblas.h>\nint main(void) { openblas_set_num_threads(1); return 0; }\n' \
                 | $(CC) -x c - -o /dev/null $(OPENBLAS_LIBS) >/dev/null 2>&1

$(BUILD)/bench_openblas: bench/bench.c bench/peak.c gan.h | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DBENCH_OPENBLAS -o $@ $< $(LDFLAGS) $(OPENBLAS_LIBS) $(LDLIBS)

test: all
	tests/run $(BUILD)

check: $(SAN_TESTS) $(EXAMPLES) $(BUILD)/sample_check
	tests/run --programs-only --examples $(BUILD) --quality $(BUILD) $(BUILD)/san

# Arguments for build/bench (--quick, --threads N, --only LIST) and for bench/torch_bench.py.
BENCH_ARGS ?=
TORCH_BENCH_ARGS ?= $(filter --quick,$(BENCH_ARGS))

# OpenBLAS's kernel choice, for the bench commands only: Debian 12's OpenBLAS (0.3.21) does not know
# Intel family 6 model 207 and would fall back to a slower kernel, so it is named (SkylakeX); on AMD
# an OPENBLAS_CORETYPE inherited from the environment (Haswell, say) would override the AVX-512
# kernel OpenBLAS detects, so it is removed. The CPU is the first block of /proc/cpuinfo.
# PyTorch's figures follow when /usr/bin/python3 can import torch; the exit status is build/bench's.
# The memory figure's child runs build/bench, which does not load OpenBLAS.
bench: $(BUILD)/bench
	@cpu=$$(awk -F': *' '/^vendor_id/ { v = $$2 } /^cpu family/ { f = $$2 } /^model[\t ]*:/ { m = $$2 } \
	                   /^$$/ { exit } END { print v, f, m }' /proc/cpuinfo 2>/dev/null); \
	case "$$cpu" in \
	    AuthenticAMD*) unset OPENBLAS_CORETYPE ;; \
	    "GenuineIntel 6 207") OPENBLAS_CORETYPE=SkylakeX; export OPENBLAS_CORETYPE ;; \
	esac; \
	if $(OPENBLAS_PROBE); then \
	    $(MAKE) --no-print-directory $(BUILD)/bench_openblas && \
	        $(BUILD)/bench_openblas --rss-exe $(BUILD)/bench $(BENCH_ARGS); \
	else \
	    $(BUILD)/bench $(BENCH_ARGS); \
	fi; \
	status=$$?; \
	if /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then \
	    /usr/bin/python3 bench/torch_bench.py $(TORCH_BENCH_ARGS); \
	else \
	    echo '# skip torch: /usr/bin/python3 cannot import torch'; \
	fi; \
	exit $$status

# The quality table: every example is built first; data from GAN_DATA, else ../shared/data.
quality: $(EXAMPLES)
	bench/quality.sh $(BUILD)

# dcgan reads GAN_DATA itself; without it the Makefile points it at ../shared/data when MNIST is there.
demo: $(BUILD)/dcgan
	$(BUILD)/dcgan $(if $(GAN_DATA),,$(if $(wildcard ../shared/data/mnist),--data ../shared/data))

clean:
	rm -rf $(BUILD)

# make fuzz: each fuzz harness (tests/fuzz/fuzz_*.c: gzip, IDX, networks, checkpoints) built with clang,
# libFuzzer, ASan and UBSan into $(BUILD)/fuzz/ and run FUZZ_SECONDS on a copy of its seed corpus, one
# PASS or FAIL line each (tests/fuzz/run.sh; FUZZ_HARNESSES=fuzz_net picks some). FUZZ_SECONDS=10 is a
# smoke run. Without libFuzzer it runs each corpus once under the sanitizers, and says so.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_HARNESSES ?=

.PHONY: fuzz
fuzz:
	FUZZ_CC='$(FUZZ_CC)' tests/fuzz/run.sh $(BUILD)/fuzz $(FUZZ_SECONDS) $(FUZZ_HARNESSES)
