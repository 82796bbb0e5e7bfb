/*
 * Telling a memory checker about kmem's buffers, an opt-in build flag:
 * -DKMEM_TRACK_ASAN for AddressSanitizer (the asan build of the tests) or
 * -DKMEM_TRACK_VALGRIND for Valgrind's memcheck (the debug build, which
 * the tests run under valgrind).  A buffer is inaccessible while it is free
 * in a magazine or slab, so a client's use after free is caught inside
 * kmem's caches, not only at the page level; memcheck also sees a fresh
 * buffer of a cache without a constructor as undefined, so reading it
 * before writing it is reported as it is for malloc.  kmem's own accesses
 * to free buffers (the slab layer's link word, destructors, the debug
 * checks) open what they touch.  In every other build these are empty
 * inline functions.
 *
 *   kmem_track_poison(a, n)	a..a+n is free: no access
 *   kmem_track_unpoison(a, n)	a..a+n may be used, its contents defined
 *   kmem_track_undefined(a, n)	a..a+n may be used, its contents garbage
 */
#ifndef KMEM_TRACK_H
#define KMEM_TRACK_H

#include <stddef.h>

#if defined(KMEM_TRACK_ASAN)
void __asan_poison_memory_region(void const volatile *addr, size_t size);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#define	KMEM_TRACK_POISON(a, n)		__asan_poison_memory_region(a, n)
#define	KMEM_TRACK_UNPOISON(a, n)	__asan_unpoison_memory_region(a, n)
#define	KMEM_TRACK_UNDEFINED(a, n)	__asan_unpoison_memory_region(a, n)
#elif defined(KMEM_TRACK_VALGRIND)
#include <valgrind/memcheck.h>
#define	KMEM_TRACK_POISON(a, n)		VALGRIND_MAKE_MEM_NOACCESS(a, n)
#define	KMEM_TRACK_UNPOISON(a, n)	VALGRIND_MAKE_MEM_DEFINED(a, n)
#define	KMEM_TRACK_UNDEFINED(a, n)	VALGRIND_MAKE_MEM_UNDEFINED(a, n)
#else
#define	KMEM_TRACK_POISON(a, n)		((void)(a), (void)(n))
#define	KMEM_TRACK_UNPOISON(a, n)	((void)(a), (void)(n))
#define	KMEM_TRACK_UNDEFINED(a, n)	((void)(a), (void)(n))
#endif

static inline void
kmem_track_poison(const void *addr, size_t size)
{
	KMEM_TRACK_POISON(addr, size);
}

static inline void
kmem_track_unpoison(const void *addr, size_t size)
{
	KMEM_TRACK_UNPOISON(addr, size);
}

static inline void
kmem_track_undefined(const void *addr, size_t size)
{
	KMEM_TRACK_UNDEFINED(addr, size);
}

#endif /* KMEM_TRACK_H */
