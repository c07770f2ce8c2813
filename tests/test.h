/* tests/test.h - the tiny harness every test program shares.
   Each check prints one line: "PASS name", "FAIL name: why" or "SKIP name: why".
   tests/run counts those lines over all programs; a program's exit status is 1 if any check failed. */
#ifndef GAN_TEST_H
#define GAN_TEST_H

#include <stdarg.h>
#include <stdio.h>

static int gan_test_passed, gan_test_failed, gan_test_skipped;

/* A program that never skips must still build with -Werror. */
#if defined(__GNUC__) || defined(__clang__)
#define TEST_MAYBE_UNUSED __attribute__((unused))
#else
#define TEST_MAYBE_UNUSED
#endif

/* Report one check: ok != 0 passes; otherwise the printf-style detail says why it failed. */
TEST_MAYBE_UNUSED static void test_report(const char *name, int ok, const char *fmt, ...)
{
    va_list ap;
    if (ok) {
        printf("PASS %s\n", name);
        gan_test_passed++;
        return;
    }
    printf("FAIL %s: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    gan_test_failed++;
}

/* A check that could not run here: say why. Skips never count as passes. */
TEST_MAYBE_UNUSED static void test_skip(const char *name, const char *fmt, ...)
{
    va_list ap;
    printf("SKIP %s: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    gan_test_skipped++;
}

/* The last line of each program, and its exit status. */
TEST_MAYBE_UNUSED static int test_finish(void)
{
    printf("%d passed, %d failed, %d skipped\n", gan_test_passed, gan_test_failed, gan_test_skipped);
    fflush(stdout);
    return gan_test_failed ? 1 : 0;
}

#endif
