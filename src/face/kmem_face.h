/*
 * The face header: what a personality on kmem (libc malloc, NetBSD
 * malloc(9)/kmem(9)/pool(9), DragonFly kmalloc(9)) needs from the core,
 * and all it may include.  A face translates its names, flags and rules
 * into these calls; it never reaches into a layer's internals.
 *
 *   allocation	kmem_alloc()/kmem_free() and the object caches (public),
 *		plus the inline fast paths below for faces that look the
 *		size class up themselves;
 *   ownership	the owner map (src/owner/): from an address to its cache
 *		or large buffer in constant time, for frees without a size;
 *   large	buffers past the size classes, recorded in the owner map;
 *   set-up	kmem_face_init(): the owner map enabled, kmem started.
 */
#ifndef KMEM_FACE_H
#define KMEM_FACE_H

#include <kmem/kmem.h>
#include <kmem/vmem.h>
#include "../owner/owner.h"

/* The largest size the kmem_alloc size classes serve. */
#define KMEM_FACE_CLASS_MAX	KMEM_BIG_MAXBUF

/* The cache of the smallest class of at least size (1..CLASS_MAX). */
static KMEM_ALWAYS_INLINE kmem_cache_t *
kmem_face_class(size_t size)
{
	return (kmem_alloc_class(size));
}

/* A buffer from this CPU's (thread's) magazine, if it has one. */
static KMEM_ALWAYS_INLINE bool
kmem_face_alloc_fast(kmem_cache_t *cp, void **bufp)
{
	return (kmem_magazine_alloc(cp, bufp));
}

/* A buffer back to this CPU's magazine, if it has room. */
static KMEM_ALWAYS_INLINE bool
kmem_face_free_fast(kmem_cache_t *cp, void *buf)
{
	return (kmem_magazine_free(cp, buf));
}

/* The rest of kmem_cache_free(): depot, slab layer, debug checks. */
static inline void
kmem_face_free_slow(kmem_cache_t *cp, void *buf)
{
	kmi_cache_free_slow(cp, buf);
}

static inline size_t
kmem_face_bufsize(const kmem_cache_t *cp)
{
	return (cp->cache_bufsize);
}

static inline size_t
kmem_face_align(const kmem_cache_t *cp)
{
	return (cp->cache_align);
}

/* Whether cp checks its buffers (KMEM_DEBUG): it reports bad frees. */
static inline bool
kmem_face_guarded(const kmem_cache_t *cp)
{
	return ((cp->cache_flags & KMF_BUFTAG) != 0);
}

/* Enable the owner map and start kmem; false if it cannot start. */
static inline bool
kmem_face_init(void)
{
	return (kmi_owner_enable() && (kmi_is_ready() ||
	    kmem_init(NULL) == 0));
}

#endif /* KMEM_FACE_H */
