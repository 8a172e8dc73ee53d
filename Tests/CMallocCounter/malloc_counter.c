// Counts the heap allocations of each thread, for tests that assert that a code path allocates
// nothing. Linked only into the test runner: with glibc, an executable that defines `malloc` and its
// relatives interposes them for the whole process (libswiftCore included); each definition counts
// and forwards to glibc's own entry points (`__libc_malloc`...), so behaviour is unchanged. `free`
// is left alone. The counter is thread-local, so tests running in parallel do not see each other.

#include "malloc_counter.h"

#if defined(__GLIBC__) && defined(__linux__)
#include <errno.h>
#include <stddef.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static _Thread_local int64_t thread_count;

int64_t vane_test_thread_malloc_count(void) { return thread_count; }

void *malloc(size_t size) {
    thread_count++;
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    thread_count++;
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    thread_count++;
    return __libc_realloc(pointer, size);
}

void *memalign(size_t alignment, size_t size) {
    thread_count++;
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    thread_count++;
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    thread_count++;
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL) return ENOMEM;
    *result = pointer;
    return 0;
}
#else
int64_t vane_test_thread_malloc_count(void) { return -1; }
#endif
