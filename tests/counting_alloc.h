/* tests/counting_alloc.h - gan.h's allocator hooks as counters, for the checks that nothing is
   allocated during training: include before gan.h, then compare alloc_count and free_count around
   the loop. */
#ifndef GAN_COUNTING_ALLOC_H
#define GAN_COUNTING_ALLOC_H

#ifdef GAN_H_INCLUDE
#error "include tests/counting_alloc.h before gan.h"
#endif

#include <stdlib.h>

static long alloc_count, free_count;

static void *counting_malloc(size_t n)
{
    alloc_count++;
    return malloc(n);
}

static void counting_free(void *p)
{
    if (p) free_count++;
    free(p);
}

#define GAN_MALLOC(n) counting_malloc(n)
#define GAN_FREE(p) counting_free(p)

#endif
