# Makefile for gan.h: the header needs no build step; this builds what ships beside it.
#
#   make          every example, test and the benchmark, into build/
#   make test     build, then tests/run: every test program plus the compiler and option checks
#   make check    the slower quality runs: every test program again under ASan and UBSan
#                 (it does not repeat make test; CI runs both)
#   make bench    GEMM and DCGAN layer timings (OpenBLAS for comparison when it is installed)
#   make demo     build and run examples/tiny_gan.c
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

.PHONY: all test check bench demo clean

all: $(EXAMPLES) $(TESTS) $(BUILD)/bench

$(BUILD) $(BUILD)/san:
	mkdir -p $@

# Examples and the benchmark include "../gan.h" so that each also builds alone (cc -O2 FILE.c -lm).
$(BUILD)/%: examples/%.c gan.h | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LDFLAGS) $(LDLIBS)

$(BUILD)/test_%: tests/test_%.c $(TEST_HEADERS) gan.h | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LDFLAGS) $(LDLIBS)

$(BUILD)/san/test_%: tests/test_%.c $(TEST_HEADERS) gan.h | $(BUILD)/san
	$(SAN_CC) $(CPPFLAGS) $(SAN_CFLAGS) -o $@ $< $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench: bench/bench.c gan.h | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LDFLAGS) $(LDLIBS)

# The same benchmark with OpenBLAS's sgemm beside ours. Built only by `make bench`, and only when a
# test program that includes <cblas.h> and links -lopenblas compiles (Debian: libopenblas-dev).
OPENBLAS_LIBS ?= -lopenblas
OPENBLAS_PROBE = printf '\#include <cblas.h>\nint main(void) { openblas_set_num_threads(1); return 0; }\n' \
                 | $(CC) -x c - -o /dev/null $(OPENBLAS_LIBS) >/dev/null 2>&1

$(BUILD)/bench_openblas: bench/bench.c gan.h | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DBENCH_OPENBLAS -o $@ $< $(LDFLAGS) $(OPENBLAS_LIBS) $(LDLIBS)

test: all
	tests/run $(BUILD)

check: $(SAN_TESTS)
	tests/run --programs-only $(BUILD)/san

bench: $(BUILD)/bench
	@if $(OPENBLAS_PROBE); then \
	    $(MAKE) --no-print-directory $(BUILD)/bench_openblas && $(BUILD)/bench_openblas; \
	else \
	    $(BUILD)/bench; \
	fi

demo: $(BUILD)/tiny_gan
	$(BUILD)/tiny_gan

clean:
	rm -rf $(BUILD)
