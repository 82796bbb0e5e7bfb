/*
 * Object cache internals shared by the slab, magazine and kmem_alloc layers
 * and by the statistics code.  Field prefixes: cache_ (cache), slab_
 * (slab), bc_ (bufctl), mag_ (magazine), ml_ (magazine list), mt_
 * (magazine type), cc_ (per-CPU cache slot), cpu_ (per-CPU/thread record).
 *
 * Lock order:
 *   kmem_cache_list_lock -> kmem_cpu_list_lock -> cache_depot_lock ->
 *   cache_lock -> (vmem locks)
 * No lock is held across a constructor, destructor or reclaim callback,
 * except that destructors may run under kmem_cache_list_lock during a
 * global purge: they must not create or destroy caches.
 */
#ifndef KMEM_SLAB_IMPL_H
#define KMEM_SLAB_IMPL_H

#include "../base/base.h"
#include "../vmem/vmem_impl.h"
#include "../debug/track.h"
#include <kmem/kmem.h>

/* Internal cache flags (illumos values); the debug ones are in kmem.h. */
#define KMF_NOMAGAZINE	0x00000020	/* no per-CPU layer */
#define KMF_HASH	0x00000200	/* large slabs: external bufctls, hash */

/* Debug settings for caches created from now on (KMEM_DEBUG, debug.c). */
extern int kmem_debug_flags;
extern uint32_t kmem_debug_mtbf;
extern uint32_t kmem_maxverify;
extern uint32_t kmem_audit_frames;
extern size_t kmem_minfirewall;		/* 0: no firewall */
extern vmem_t *kmem_firewall_arena;


#define KMEM_VOID_FRACTION	8	/* never waste more than 1/8 of a slab */
#define KMEM_SLAB_WASTE		32	/* and at most 1/32 where it can */
#define KMEM_HASH_INITIAL	64

/*
 * A bufctl tracks one free buffer.  In a small slab it is just the link
 * word inside the free buffer (bc_next only); in a large slab it is an
 * external structure that also names the buffer and its slab, and that
 * sits in the cache's hash table while the buffer is allocated.
 */
typedef struct kmem_bufctl {
	struct kmem_bufctl	*bc_next;
	void			*bc_addr;
	struct kmem_slab	*bc_slab;
} kmem_bufctl_t;

/*
 * A slab: one contiguous piece of the cache's arena cut into chunks.
 * Chunks are handed out in three ways: from slab_head (free buffers that
 * hold constructed state), from slab_raw (buffers that were never
 * constructed, or whose constructor failed) and, in small slabs, by
 * bumping slab_bump through the chunks that were never used.
 */
typedef struct kmem_slab {
	struct kmem_cache	*slab_cache;
	void			*slab_mem;	/* start of the slab's memory */
	char			*slab_base;	/* first chunk (after color) */
	kmem_list_t		slab_link;	/* partial or complete list */
	kmem_bufctl_t		*slab_head;	/* free, constructed */
	kmem_bufctl_t		*slab_raw;	/* free, not constructed */
	uint32_t		slab_refcnt;	/* allocated buffers */
	uint32_t		slab_chunks;	/* buffers in the slab */
	uint32_t		slab_bump;	/* small: chunks ever used */
	uint32_t		slab_nhead;	/* buffers on slab_head */
} kmem_slab_t;

/*
 * A magazine: an array of rounds (constructed buffers).  It knows its own
 * capacity, so magazines of a size a cache has outgrown can still be used
 * and freed (see the magazine layer's theory statement).
 */
typedef struct kmem_magazine {
	struct kmem_magazine	*mag_next;
	uint32_t		mag_size;	/* capacity in rounds */
	uint32_t		mag_rounds;	/* rounds, while detached */
	void			*mag_round[];
} kmem_magazine_t;

/* A depot list of full or empty magazines with its working set. */
typedef struct kmem_maglist {
	kmem_magazine_t	*ml_list;
	uint64_t	ml_total;	/* magazines on the list */
	uint64_t	ml_min;		/* low-water mark this interval */
	uint64_t	ml_reaplimit;	/* idle for a whole interval */
	uint64_t	ml_alloc;	/* magazines taken from the list */
	uint64_t	ml_capacity;	/* sum of the magazines' mag_size */
} kmem_maglist_t;

typedef struct kmem_magtype {
	int		mt_magsize;	/* rounds per magazine */
	size_t		mt_align;
	size_t		mt_minbuf;	/* used when chunksize > minbuf */
	size_t		mt_maxbuf;	/* stop growing at this chunk size */
	struct kmem_cache *mt_cache;	/* where magazines come from */
} kmem_magtype_t;

/* One cache's slot in a per-CPU (per-thread) record. */
/* 32 bytes, so that finding a slot is one shift. */
typedef struct kmem_cpu_cache {
	kmem_magazine_t	*cc_loaded;	/* magazine in use */
	kmem_magazine_t	*cc_ploaded;	/* previous: full or empty */
	int32_t		cc_rounds;	/* rounds in cc_loaded */
	int16_t		cc_prounds;	/* rounds in cc_ploaded */
	int16_t		cc_magsize;	/* 0: slot not in use */
	uint64_t	cc_free;	/* frees served here (allocations are */
					/* derived: alloc = free + in use) */
} kmem_cpu_cache_t;

_Static_assert(sizeof (kmem_cpu_cache_t) == 32, "cpu cache slot size");

struct kmem_cache {
	/* Properties (constant after creation). */
	char		cache_name[KMEM_CACHE_NAMELEN + 1];
	size_t		cache_bufsize;
	size_t		cache_align;
	size_t		cache_chunksize;
	size_t		cache_slabsize;
	size_t		cache_bufctl;	/* small slabs: link offset in chunk */
	size_t		cache_buftag;	/* guarded caches: buftag offset */
	size_t		cache_audit;	/* audited caches: audit bufctl offset */
	uint32_t	cache_audit_depth; /* frames each audit bufctl holds */
	size_t		cache_maxcolor;
	int		cache_flags;	/* KMF_* */
	uint32_t	cache_verify;	/* debug: bytes filled and checked */
	int		cache_cflags;	/* KMC_* */
	kmem_constructor_t *cache_constructor;
	kmem_destructor_t *cache_destructor;
	kmem_reclaim_t	*cache_reclaim;
	void		*cache_private;
	vmem_t		*cache_arena;
	uint32_t	cache_cpu_index; /* fast paths' slot: cache_slot, or */
					/* UINT32_MAX to send every */
					/* transaction to the slow path */
	uint32_t	cache_slot;	/* slot in per-CPU records; 0: none */
	uint32_t	cache_mtbf;	/* fail 1 KM_NOSLEEP alloc in this */
	uint32_t	cache_mtbf_count;
	kmem_list_t	cache_link;	/* kmem_cache_list */

	/* Slab layer (cache_lock). */
	kmem_lock_t	cache_lock;
	kmem_list_t	cache_partial;	/* slabs with free chunks */
	kmem_list_t	cache_complete;	/* slabs with none */
	size_t		cache_color;
	uint64_t	cache_nempty;	/* empty slabs kept on cache_partial */
	kmem_bufctl_t	**cache_hash_table;
	size_t		cache_hash_mask;
	int		cache_hash_shift;
	uint64_t	cache_buftotal;	/* chunks in all slabs */
	uint64_t	cache_bufslab;	/* free chunks in slabs */
	uint64_t	cache_bufmax;
	uint64_t	cache_constructed_slab;	/* constructed, free in slabs */
	uint64_t	cache_slab_create;
	uint64_t	cache_slab_destroy;
	uint64_t	cache_slab_alloc;
	uint64_t	cache_slab_free;
	uint64_t	cache_alloc_fail;
	uint64_t	cache_hash_rescale;
	uint64_t	cache_hash_lookup_depth;
	uint64_t	cache_ctor_calls;
	uint64_t	cache_dtor_calls;

	/* Depot layer (cache_depot_lock). */
	kmem_lock_t	cache_depot_lock;
	kmem_magtype_t	*cache_magtype;
	kmem_maglist_t	cache_full;
	kmem_maglist_t	cache_empty;
	uint64_t	cache_depot_contention;
	uint64_t	cache_depot_contention_prev;
	uint64_t	cache_depot_traffic_prev;	/* alloc + free at growth */
	uint64_t	cache_depot_alloc;
	uint64_t	cache_depot_free;
	uint64_t	cache_reap;
	uint64_t	cache_resize;	/* magazine growths (depot lock) */

	/* Per-CPU layer: frees not counted in live records. */
	uint64_t	cache_cpu_free;
	kmem_magazine_t	*cache_detached;	/* purge in progress */
};

/* Guarded or fault-injected caches take the slow paths for everything. */
static inline uint32_t
kmem_cache_fast_index(const kmem_cache_t *cp)
{
	return ((cp->cache_flags & KMF_BUFTAG) || cp->cache_mtbf != 0 ?
	    UINT32_MAX : cp->cache_slot);
}

/* slab.c */
size_t kmem_slab_mem_align(const kmem_cache_t *cp);
int kmem_slab_cache_init(kmem_cache_t *cp);
void *kmem_slab_alloc(kmem_cache_t *cp, int kmflag);
int kmem_slab_alloc_batch(kmem_cache_t *cp, int kmflag, void **bufs, int n);
void kmem_slab_free(kmem_cache_t *cp, void *buf);
void kmem_slab_free_raw(kmem_cache_t *cp, void *buf);
bool kmem_slab_cache_fini(kmem_cache_t *cp);
void kmem_slab_reap(kmem_cache_t *cp);
void kmem_slab_hash_update(kmem_cache_t *cp);
bool kmem_slab_is_valid(kmem_cache_t *cp, kmem_slab_t *sp);
typedef int kmem_slab_walk_fn(kmem_cache_t *cp, kmem_slab_t *sp,
    bool partial, void *arg);
int kmem_slab_walk(kmem_cache_t *cp, kmem_slab_walk_fn *fn, void *arg);
kmem_slab_t *kmem_slab_find(kmem_cache_t *cp, const void *addr, void **chunkp);
bool kmem_cache_slabs_are_valid(kmem_cache_t *cp);

/*
 * Set by a layer that must find a kmem_alloc buffer's cache from its
 * address alone (the malloc library): called with each kmem_alloc slab's
 * chunks (from its first buffer, after the colour: chunks * chunksize
 * bytes) when it is created (owner = its cache) and destroyed (NULL).
 */
typedef void kmem_slab_map_fn(void *first, size_t size, kmem_cache_t *owner);
extern kmem_slab_map_fn *kmem_slab_map_hook;

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
extern kmem_cache_t *kmem_slab_cache;
extern kmem_cache_t *kmem_bufctl_cache;
extern vmem_t *kmem_metadata_arena;

#endif /* KMEM_SLAB_IMPL_H */
