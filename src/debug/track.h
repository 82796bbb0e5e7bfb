/*
 * Telling AddressSanitizer about kmem's buffers (built with
 * KMEM_TRACK_ASAN, as the ASan build of the tests is): a buffer is poisoned
 * while it is free in a magazine or slab, so a client's use after free is
 * caught inside kmem's caches, not only at the page level.  kmem's own
 * accesses to free buffers (the slab layer's link word, destructors, the
 * debug checks) unpoison what they touch.  In every other build these are
 * empty inline functions.
 */
#ifndef KMEM_TRACK_H
#define KMEM_TRACK_H

#include <stddef.h>

#if defined(KMEM_TRACK_ASAN)
void __asan_poison_memory_region(void const volatile *addr, size_t size);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);

static inline void
kmem_track_poison(const void *addr, size_t size)
{
	__asan_poison_memory_region(addr, size);
}

static inline void
kmem_track_unpoison(const void *addr, size_t size)
{
	__asan_unpoison_memory_region(addr, size);
}
#else
static inline void
kmem_track_poison(const void *addr, size_t size)
{
	(void)addr;
	(void)size;
}

static inline void
kmem_track_unpoison(const void *addr, size_t size)
{
	(void)addr;
	(void)size;
}
#endif

#endif /* KMEM_TRACK_H */
