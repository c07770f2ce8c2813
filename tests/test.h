/* tests/test.h - the tiny harness every test program shares.
   Each check prints one line: "PASS name", "FAIL name: why" or "SKIP name: why".
   tests/run counts those lines over all programs; a program's exit status is 1 if any check failed. */
#ifndef GAN_TEST_H
#define GAN_TEST_H

#include <stdarg.h>
#include <stdio.h>

static int gan_test_passed, gan_test_failed, gan_test_skipped;

/* Report one check: ok != 0 passes; otherwise the printf-style detail says why it failed. */
static void test_report(const char *name, int ok, const char *fmt, ...)
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
static void test_skip(const char *name, const char *fmt, ...)
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
static int test_finish(void)
{
    printf("%d passed, %d failed, %d skipped\n", gan_test_passed, gan_test_failed, gan_test_skipped);
    fflush(stdout);
    return gan_test_failed ? 1 : 0;
}

#endif
