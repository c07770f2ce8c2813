/* tests/flaky_alloc.h - gan.h's allocator hooks as a failing, counting allocator, for the checks that
   running out of memory is a runtime failure: include before gan.h, set fail_at = N to fail the Nth
   call from now on counted in calls (0: never), and compare live, the blocks held, around a call. */
#ifndef GAN_FLAKY_ALLOC_H
#define GAN_FLAKY_ALLOC_H

#ifdef GAN_H_INCLUDE
#error "include tests/flaky_alloc.h before gan.h"
#endif

#include <stdlib.h>

static long fail_at, calls, live;

static void *flaky_malloc(size_t n)
{
    void *p;
    if (++calls == fail_at) return NULL;
    p = malloc(n);
    if (p) live++;
    return p;
}

static void counted_free(void *p)
{
    if (p) live--;
    free(p);
}

#define GAN_MALLOC(n) flaky_malloc(n)
#define GAN_FREE(p) counted_free(p)

#endif
