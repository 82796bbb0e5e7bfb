/*
 * Slab layer internals: layout parameters, the slab functions, and where
 * a buffer lies in its slab.  The data model (struct kmem_cache, slabs,
 * bufctls, magazines, per-CPU records) and the lock order are in
 * ../model/kmem_types.h.
 */
#ifndef KMEM_SLAB_IMPL_H
#define KMEM_SLAB_IMPL_H

#include "../model/kmem_types.h"
#include "../base/track.h"



#define KMEM_VOID_FRACTION	8	/* never waste more than 1/8 of a slab */
#define KMEM_SLAB_WASTE		32	/* and at most 1/32 where it can */
#define KMEM_HASH_INITIAL	64

/* Guarded or fault-injected caches take the slow paths for everything. */
static inline uint32_t
kmem_cache_fast_index(const kmem_cache_t *cp)
{
	return ((cp->cache_flags & KMF_BUFTAG) || cp->cache_mtbf != 0 ?
	    UINT32_MAX : cp->cache_slot);
}

/* slab.c */
size_t kmi_slab_mem_align(const kmem_cache_t *cp);
int kmi_slab_cache_init(kmem_cache_t *cp);
void *kmi_slab_alloc(kmem_cache_t *cp, int kmflag);
void kmi_slab_destruct_free(kmem_cache_t *cp);
int kmi_slab_alloc_batch(kmem_cache_t *cp, int kmflag, void **bufs, int n);
void kmi_slab_free(kmem_cache_t *cp, void *buf);
bool kmi_slab_cache_fini(kmem_cache_t *cp);
void kmi_slab_reap(kmem_cache_t *cp);
void kmi_slab_hash_update(kmem_cache_t *cp);
bool kmi_slab_is_valid(kmem_cache_t *cp, kmem_slab_t *sp);
typedef int kmem_slab_walk_fn(kmem_cache_t *cp, kmem_slab_t *sp,
    bool partial, void *arg);
int kmi_slab_walk(kmem_cache_t *cp, kmem_slab_walk_fn *fn, void *arg);
kmem_slab_t *kmi_slab_find(kmem_cache_t *cp, const void *addr, void **chunkp);
kmem_slab_t *kmi_slab_find_locked(kmem_cache_t *cp, const void *addr,
    void **chunkp);
bool kmi_cache_slabs_are_valid(kmem_cache_t *cp);

/*
 * Set by a layer that must find a kmem_alloc buffer's cache from its
 * address alone (the malloc library): called with each kmem_alloc slab's
 * chunks (from its first buffer, after the colour: chunks * chunksize
 * bytes) when it is created (owner = its cache) and destroyed (NULL).
 */
typedef bool kmem_slab_map_fn(void *first, size_t size, kmem_cache_t *owner);
extern kmem_slab_map_fn *kmi_slab_map_hook;

/*
 * Where a buffer lies, and the free-list link word (slab.c, slab_check.c).
 */
static inline bool
slab_is_small(const kmem_cache_t *cp)
{
	return (!(cp->cache_flags & KMF_HASH));
}

/* The buffer a free bufctl stands for: embedded in it, or named. */
static inline void *
slab_bufctl_buf(const kmem_cache_t *cp, const kmem_bufctl_t *bcp)
{
	return (slab_is_small(cp) ? (char *)bcp - cp->cache_bufctl :
	    bcp->bc_addr);
}

static inline kmem_slab_t *
slab_of_small(const kmem_cache_t *cp, const void *buf)
{
	uintptr_t base = P2ALIGN((uintptr_t)buf, cp->cache_slabsize);
	return ((kmem_slab_t *)(base + cp->cache_slabsize -
	    sizeof (kmem_slab_t)));
}

/* Is buf the first byte of a chunk ever handed out of small slab sp? */
static inline bool
slab_small_holds(const kmem_cache_t *cp, const kmem_slab_t *sp,
    const void *buf)
{
	uintptr_t off = (uintptr_t)buf - (uintptr_t)sp->slab_base;

	return (sp->slab_cache == cp &&
	    (uintptr_t)buf >= (uintptr_t)sp->slab_base &&
	    off % cp->cache_chunksize == 0 &&
	    off / cp->cache_chunksize < sp->slab_bump);
}

/*
 * The link word of a small slab's free buffer lies inside the buffer when
 * the cache has no constructor and no buftag; with a memory checker's
 * tracking (track.h) the buffer is poisoned, so the link is unpoisoned
 * around every access and poisoned again while the buffer stays free.
 */
static inline bool
slab_link_in_buffer(const kmem_cache_t *cp)
{
	return (slab_is_small(cp) && cp->cache_bufctl < cp->cache_bufsize);
}

static inline kmem_bufctl_t *
slab_link_read(const kmem_cache_t *cp, kmem_bufctl_t *bcp)
{
	if (!slab_link_in_buffer(cp))
		return (bcp->bc_next);
	kmem_track_unpoison(bcp, sizeof (void *));
	kmem_bufctl_t *next = bcp->bc_next;
	kmem_track_poison(bcp, sizeof (void *));
	return (next);
}

static inline void
slab_link_write(const kmem_cache_t *cp, kmem_bufctl_t *bcp,
    kmem_bufctl_t *next)
{
	kmem_track_unpoison(bcp, sizeof (void *));
	bcp->bc_next = next;
	if (slab_link_in_buffer(cp))
		kmem_track_poison(bcp, sizeof (void *));
}

/* Does a free-list bufctl name a chunk of sp?  (A damaged list may not.) */
static inline bool
slab_bufctl_in_slab(const kmem_cache_t *cp, const kmem_slab_t *sp,
    const kmem_bufctl_t *bcp)
{
	const char *buf = slab_bufctl_buf(cp, bcp);
	size_t off = (size_t)(buf - sp->slab_base);

	if (buf < sp->slab_base || off % cp->cache_chunksize != 0 ||
	    off / cp->cache_chunksize >= sp->slab_chunks)
		return (false);
	return (slab_is_small(cp) || bcp->bc_slab == sp);
}

static inline bool
slab_has_free(const kmem_cache_t *cp, const kmem_slab_t *sp)
{
	return (sp->slab_head != NULL || sp->slab_raw != NULL ||
	    (slab_is_small(cp) && sp->slab_bump < sp->slab_chunks));
}

static inline kmem_bufctl_t **
slab_hash_bucket(const kmem_cache_t *cp, const void *buf)
{
	return (&cp->cache_hash_table[((uintptr_t)buf >> cp->cache_hash_shift) &
	    cp->cache_hash_mask]);
}

/* Caches the slab layer itself allocates from (set up by kmem_init). */
extern kmem_cache_t *kmi_slab_cache;
extern kmem_cache_t *kmi_bufctl_cache;
extern vmem_t *kmem_metadata_arena;
extern vmem_t *kmem_hash_arena;

#endif /* KMEM_SLAB_IMPL_H */
