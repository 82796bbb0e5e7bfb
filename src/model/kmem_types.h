/*
 * kmem's data model: the structures every layer above vmem shares and a
 * debugger reads from a live process or a core (docs/internals.md), in
 * one place, as illumos keeps them in kmem_impl.h.
 *
 * Field prefixes: cache_ (cache), slab_ (slab), bc_ (bufctl), mag_
 * (magazine), ml_ (magazine list), mt_ (magazine type), cc_ (per-CPU
 * cache slot), cpu_ (per-CPU/thread record).  vmem's are vm_, vs_, vk_
 * (../vmem/vmem_impl.h).
 *
 * Lock order (take left before right; never the other way):
 *   kmi_report_lock -> kmem_init_lock -> kmem_reclaim_lock ->
 *   kmem_cache_list_lock -> kmem_cpu_list_lock -> cache_depot_lock ->
 *   cache_lock -> vmem_list_lock -> vm_lock -> vmem_segpool lock ->
 *   vmem_pages locks
 * The log locks and the owner map's lock are leaves.  No lock is held
 * across a constructor, destructor or reclaim callback, except that
 * reclaim callbacks and destructors may run under kmem_cache_list_lock
 * during a reclaim or a global purge: they must not create or destroy
 * caches (they may allocate: kmi_reclaiming()).
 *
 * Why the cache is one structure for three layers: a slab allocator's
 * cache spans the slab layer (cache_lock), the depot (cache_depot_lock)
 * and the per-CPU slots (cache_slot into each record), and each layer's
 * fast path reads the others' constants; splitting it would cost a
 * pointer chase on every allocation.  Each group of fields below is
 * written only by its layer, under its lock.
 */
#ifndef KMEM_TYPES_H
#define KMEM_TYPES_H

#include "../base/base.h"
#include "../vmem/vmem_impl.h"
#include <kmem/kmem.h>

/*
 * The layout version: a debugger extension checks it before it reads
 * these structures (kmem_layout_version in the library).  Bump it when a
 * structure a debugger reads changes.
 */
#define KMEM_LAYOUT_VERSION	4

/* Internal cache flags (illumos values); the debug ones are in kmem.h. */
#define KMF_NOMAGAZINE	0x00000020	/* no per-CPU layer */
#define KMF_HASH	0x00000200	/* large slabs: external bufctls, hash */

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

typedef struct kmi_magtype {
	int		mt_magsize;	/* rounds per magazine */
	size_t		mt_align;
	size_t		mt_minbuf;	/* used when chunksize > minbuf */
	size_t		mt_maxbuf;	/* stop growing at this chunk size */
	struct kmem_cache *mt_cache;	/* where magazines come from */
} kmem_magtype_t;

/*
 * One cache's slot in a per-CPU (per-thread) record: a cache line, so
 * that finding a slot is one shift and no two slots share a line.
 */
typedef struct kmem_cpu_cache {
	kmem_magazine_t	*cc_loaded;	/* magazine in use */
	kmem_magazine_t	*cc_ploaded;	/* previous: full or empty */
	int32_t		cc_rounds;	/* rounds in cc_loaded */
	int16_t		cc_prounds;	/* rounds in cc_ploaded */
	int16_t		cc_magsize;	/* 0: slot not in use */
	uint64_t	cc_free;	/* frees served here (allocations are */
					/* derived: alloc = free + in use) */
	/* The private reserve (magazine.c): lists linked by mag_next. */
	kmem_magazine_t	*cc_rfull;	/* full magazines of cc_magsize */
	kmem_magazine_t	*cc_rempty;	/* empty magazines of cc_magsize */
	uint16_t	cc_nrfull;	/* magazines on cc_rfull */
	uint16_t	cc_nrempty;	/* magazines on cc_rempty */
	uint32_t	cc_rexchanges;	/* loads from the reserve since the */
					/* slot last asked for growth */
	uint16_t	cc_rminfull;	/* their low-water marks this */
	uint16_t	cc_rminempty;	/* interval (kmi_reserve_epoch) */
	uint16_t	cc_repoch;	/* the interval they belong to */
	uint16_t	cc_rallocs;	/* took a full magazine in it */
} kmem_cpu_cache_t;

_Static_assert(sizeof (kmem_cpu_cache_t) == 64, "cpu cache slot size");

/*
 * A debugged cache's checks (the debug layer's; kmem_debug(9)), set by
 * the cache layer when the cache's debug flags are decided, NULL for a
 * cache without buffer tags.  The slab and magazine layers call them only
 * on the slow paths that already test KMF_BUFTAG: neither includes the
 * debug layer for them.
 *   do_layout	lay out the tag (and audit record) after the buffer:
 *		sets cache_buftag, cache_bufctl, cache_audit; returns the
 *		chunk's end before alignment
 *   do_fresh	a buffer that was never handed out: fill, tag
 *   do_link	a hashed slab's buffer: its tag names its bufctl
 *   do_alloc	a buffer leaves the cache: check, construct (0, or the
 *		constructor failed)
 *   do_free	a buffer comes back: check (false: reported, not taken)
 */
struct kmem_cache;
typedef struct kmi_debug_ops {
	size_t	(*do_layout)(struct kmem_cache *cp);
	void	(*do_fresh)(struct kmem_cache *cp, void *buf);
	void	(*do_link)(struct kmem_cache *cp, void *buf,
		    kmem_bufctl_t *bcp);
	int	(*do_alloc)(struct kmem_cache *cp, void *buf, int kmflag);
	bool	(*do_free)(struct kmem_cache *cp, void *buf);
} kmem_debug_ops_t;

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
	const kmem_debug_ops_t *cache_debug;	/* KMF_BUFTAG caches */
	uint32_t	cache_cpu_index; /* fast paths' slot: cache_slot, or */
					/* UINT32_MAX to send every */
					/* transaction to the slow path */
	uint32_t	cache_slot;	/* slot in per-CPU records; 0: none */
	uint32_t	cache_class;	/* kmem_alloc_N: 1 + its class index */
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
	uint64_t	cache_free_uncounted;	/* frees of buffers whose */
					/* constructor failed (guarded) */

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

/*
 * The record a thread (hosted) or CPU (kernel) keeps: one slot per cache,
 * indexed by cache_slot.  cpu_busy and cpu_stop implement the
 * asymmetric handshake between the owner and a purger.
 */
/* Bits of cpu_stop: while any is set, the owner does not use its slots. */
#define KMEM_CPU_STOP_PURGE	0x1	/* a purger owns the slots */
#define KMEM_CPU_STOP_BYPASS	0x2	/* someone waits for memory */
#define KMEM_CPU_STOP_FORK	0x4	/* fork(2) or a leak scan: still */

typedef struct kmem_cpu {
	uint32_t	cpu_busy;	/* owner is using its slots */
	uint32_t	cpu_stop;	/* KMEM_CPU_STOP_*; written under */
					/* kmem_cpu_list_lock */
	uint32_t	cpu_ncc;	/* slots in cpu_cc */
	uint32_t	cpu_nctr;	/* counters in cpu_ctr */
	kmem_cpu_cache_t *cpu_cc;
	uint64_t	*cpu_ctr;	/* per-CPU counters (counter.c); */
					/* replaced under kmem_cpu_list_lock */
	kmem_cpu_cache_t *cpu_retired;	/* outgrown tables, freed at exit */
	kmem_list_t	cpu_link;	/* kmem_cpu_list */
	uint64_t	cpu_rbytes;	/* buffers its slots' reserves can */
					/* hold, in bytes (magazine.c) */
} kmem_cpu_t;

/* ---- the roots a debugger starts from (docs/internals.md) ---- */

extern kmem_lock_t kmem_cache_list_lock;
extern kmem_list_t kmem_cache_list;	/* every cache, by cache_link */
extern kmem_lock_t kmem_cpu_list_lock;
extern kmem_list_t kmem_cpu_list;	/* every per-CPU record, by cpu_link */
extern const uint32_t kmem_layout_version;
/* Per-CPU counters (magazine/counter.c): what no live record holds. */
#define KMEM_NCOUNTERS	16384
extern uint64_t kmem_counter_retired[KMEM_NCOUNTERS];

#endif /* KMEM_TYPES_H */
