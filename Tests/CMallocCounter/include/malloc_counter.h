#ifndef VANE_MALLOC_COUNTER_H
#define VANE_MALLOC_COUNTER_H

#include <stdint.h>

/// Heap allocations (malloc, calloc, realloc, memalign, aligned_alloc, posix_memalign) made so far
/// by the calling thread, or -1 where allocations cannot be counted (not glibc).
int64_t vane_test_thread_malloc_count(void);

#endif
