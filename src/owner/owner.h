/*
 * The owner map: from any address to what owns it, in constant time
 * (owner.c has the theory).  Internal to the core; faces reach it
 * through src/face/kmem_face.h.
 */
#ifndef KMEM_OWNER_H
#define KMEM_OWNER_H

#include "../kmem_alloc/kmem_alloc_impl.h"

#define KMEM_OWNER_VA_BITS	48	/* the address space the map covers */
/*
 * An entry per 4 KiB granule, whatever the page size (at least 4 KiB:
 * kmi_owner_enable() checks): a shift by a constant on the free path.
 */
#define KMEM_OWNER_SHIFT	12
#define KMEM_OWNER_GRANULE	((size_t)1 << KMEM_OWNER_SHIFT)
#define KMEM_OWNER_LEAF_BITS	18	/* granules per leaf: 1 GiB */
#define KMEM_OWNER_ROOT_ENTRIES	((size_t)1 << \
	(KMEM_OWNER_VA_BITS - KMEM_OWNER_SHIFT - KMEM_OWNER_LEAF_BITS))
#define KMEM_OWNER_LEAF_ENTRIES	((size_t)1 << KMEM_OWNER_LEAF_BITS)
#define KMEM_OWNER_NCLASS	128	/* kmem_alloc caches: 63 today */

/*
 * A kmem_alloc cache as the owner checks see it: its chunk size
 * 2^oc_shift * d, the inverse of d modulo 2^64, and the chunks in each of
 * its slabs.  Written once, before oc_cache is published; never freed.
 * The large class has no chunks.
 */
typedef struct kmem_owner_class {
	kmem_cache_t	*oc_cache;
	uint64_t	oc_inverse;
	uint64_t	oc_shift;
	uint64_t	oc_chunks;	/* 64 bits: compared without a load */
	uint32_t	oc_free_index;	/* the per-CPU slot a free's fast */
					/* path uses: cache_slot, or */
					/* UINT32_MAX (guarded: none) -- */
					/* one load less than through */
					/* oc_cache */
} kmem_owner_class_t;

/* A granule: its class (NULL: nothing of kmem's), and where its buffer is. */
typedef struct kmem_owner {
	const kmem_owner_class_t *ow_class;
	union {
		uintptr_t ow_first;	/* a slab's page: its first buffer */
		size_t	ow_size;	/* a large buffer's page: its size */
	};
} kmem_owner_t;

extern KMEM_HIDDEN kmem_owner_t *kmem_owner_root[KMEM_OWNER_ROOT_ENTRIES];
extern KMEM_HIDDEN const kmem_owner_t kmi_owner_none;
extern KMEM_HIDDEN const kmem_owner_class_t kmi_owner_large;

/* The entry for buf's granule (kmi_owner_none where nothing is mapped). */
static KMEM_ALWAYS_INLINE const kmem_owner_t *
kmem_owner_get(const void *buf)
{
	uintptr_t pn = (uintptr_t)buf >> KMEM_OWNER_SHIFT;
	size_t ri = pn >> KMEM_OWNER_LEAF_BITS;

	if (KMEM_UNLIKELY(ri >= KMEM_OWNER_ROOT_ENTRIES))
		return (&kmi_owner_none);
	kmem_owner_t *leaf = kmem_load_acquire(&kmem_owner_root[ri]);
	return (KMEM_LIKELY(leaf != NULL) ?
	    &leaf[pn & (KMEM_OWNER_LEAF_ENTRIES - 1)] : &kmi_owner_none);
}

/* The class of the page whose entry is ow (NULL: nothing of kmem's). */
static KMEM_ALWAYS_INLINE const kmem_owner_class_t *
kmem_owner_class(const kmem_owner_t *ow)
{
	return (kmem_load_acquire(&ow->ow_class));
}

/* Does buf start one of the chunks of the slab ow (class oc) maps? */
static KMEM_ALWAYS_INLINE bool
kmem_owner_holds(const kmem_owner_class_t *oc, const kmem_owner_t *ow,
    const void *buf)
{
	uint64_t x = (uint64_t)((uintptr_t)buf - ow->ow_first) *
	    oc->oc_inverse;
	unsigned k = (unsigned)oc->oc_shift;

	return (((x >> k) | (x << (-k & 63))) < oc->oc_chunks);
}

/*
 * The cache of which buf starts a chunk, per its page's entry ow; NULL
 * if buf starts none (a large buffer, a bad pointer, nothing of kmem's).
 */
static inline kmem_cache_t *
kmem_owner_cache(const kmem_owner_t *ow, const void *buf)
{
	const kmem_owner_class_t *oc = kmem_owner_class(ow);

	return (oc != NULL && kmem_owner_holds(oc, ow, buf) ? oc->oc_cache :
	    NULL);
}

/* The size of the large buffer that starts at buf, or 0 if none does. */
static inline size_t
kmem_owner_large_size(const kmem_owner_t *ow, const void *buf)
{
	return (kmem_load_acquire(&ow->ow_class) == &kmi_owner_large &&
	    P2PHASE((uintptr_t)buf, KMEM_OWNER_GRANULE) == 0 ?
	    ow->ow_size : 0);
}

bool kmi_owner_enable(void);
void *kmi_owner_large_alloc(size_t size, size_t align, int kmflag,
    bool exact);
void kmi_owner_large_free(void *buf, size_t size);

#endif /* KMEM_OWNER_H */
