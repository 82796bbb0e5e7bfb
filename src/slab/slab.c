/*
 * The slab layer: object caches carved out of vmem arenas.
 *
 * Theory of operation
 * -------------------
 * Concepts.  A cache hands out buffers of one size (bufsize), each in a
 * chunk of cache_chunksize bytes that also holds whatever per-buffer state
 * the cache needs.  Chunks live in slabs: pieces of the cache's arena of
 * cache_slabsize bytes.  A slab's kmem_slab_t records which chunks are
 * free; a bufctl tracks one free buffer.
 *
 * Two layouts (Bonwick 1994).  Small buffers (a chunk at most 1/8 of a
 * page, and the cache may write to its buffers) use small slabs: one page
 * whose kmem_slab_t sits at its end, found from any buffer by rounding the
 * address; the bufctl is just a link word in the free chunk.  Everything
 * else uses large slabs (KMF_HASH): the slab size is chosen so that at most
 * 1/8 of it is wasted, kmem_slab_t and one external kmem_bufctl_t per chunk
 * come from the kmi_slab_cache and kmi_bufctl_cache, and a hash table
 * maps an allocated buffer back to its bufctl.  KMC_NOTOUCH caches (whose
 * "buffers" may be no memory at all, e.g. identifiers) always use large
 * slabs.  Slabs are coloured: each new slab starts its first chunk
 * cache_align bytes further in, up to the slack the layout leaves, so that
 * buffers of different slabs fall on different cache lines.  A firewall
 * cache (KMF_FIREWALL, debug.c) has one buffer per slab, placed to end
 * where its arena's guard page begins.
 *
 * Constructed state.  A constructor runs the first time a chunk leaves the
 * slab layer; after that the buffer keeps its constructed state while it is
 * free, in a magazine or in its slab, and the destructor runs only when the
 * slab itself is destroyed.  So the link word of a free buffer must not
 * overlap the object: caches with a constructor place it after the buffer
 * (cache_bufctl), caches without one place it at offset 0.  A slab hands
 * out chunks from slab_head (free, constructed), then slab_raw (never
 * constructed: large-slab chunks not yet used, or chunks whose constructor
 * failed), then, in small slabs, by bumping slab_bump through chunks never
 * touched -- so creating a slab costs O(1) and touches no buffer memory.
 *
 * Slab lists.  Slabs with free chunks are on cache_partial, the rest on
 * cache_complete.  Allocation takes the first partial slab.  A slab that
 * gains a free chunk after being complete goes to the head (it is the
 * fullest); a slab that becomes empty goes to the tail, and beyond
 * KMEM_KEEP_EMPTY empty slabs -- or whenever anyone waits for memory, or
 * in a firewall cache -- it is destroyed at once, its memory returned to
 * the arena.
 * kmi_slab_reap() destroys the empty slabs kept.
 *
 * Memory.  The slab layer never sleeps or reclaims inside vmem; when no
 * slab can be had it fails, and kmem_cache_alloc() decides (see
 * magazine.c).  Every free to a slab wakes whoever waits for memory.
 * A big cache of buffers of a quarter page or less, whose users write
 * every page, has each new slab made resident in one step, and so is a
 * quantum cache's slab it takes a page from (slab_populates()).
 *
 * Locking and context.  cache_lock protects the slab lists, the hash and
 * the slab-layer statistics.  It is dropped around slab creation (which
 * may sleep for memory with KM_SLEEP), constructors and destructors.
 *
 * Invariants (kmi_slab_is_valid(), kmi_cache_slabs_are_valid(), in
 * slab_check.c).
 *  1. For each slab: refcnt + free chunks (head + raw + never bumped) ==
 *     chunks; every bufctl names a chunk of that slab.
 *  2. A slab is on cache_complete iff it has no free chunk.
 *  3. cache_buftotal and cache_bufslab equal the sums over all slabs of
 *     chunks and free chunks; cache_nempty counts the empty slabs kept.
 *  4. The hash holds exactly the allocated buffers of a KMF_HASH cache.
 */
#include "slab_impl.h"

static void slab_free_raw(kmem_cache_t *cp, void *buf);

#define KMEM_KEEP_EMPTY	1
#define KMEM_POPULATE_AFTER	(1024 * 1024)

kmem_cache_t *kmi_slab_cache;
kmem_cache_t *kmi_bufctl_cache;
vmem_t *kmem_metadata_arena;
/*
 * Hashed caches' tables, packed (illumos's kmem_hash arena): from the
 * page-quantum metadata arena each 512-byte initial table took a page.
 */
vmem_t *kmem_hash_arena;
kmem_slab_map_fn *kmi_slab_map_hook;

/*
 * Tell the hook (the owner map) that a kmem_alloc slab's chunks now
 * belong to cp, or (owner == NULL) no longer do.  false if the hook had
 * no memory to enter a new slab.
 */
static inline bool
slab_map(kmem_cache_t *cp, const kmem_slab_t *sp, kmem_cache_t *owner)
{
	kmem_slab_map_fn *hook = kmem_load_acquire(&kmi_slab_map_hook);

	return (hook == NULL || !(cp->cache_cflags & KMC_KMEM_ALLOC) ||
	    hook(sp->slab_base, sp->slab_chunks * cp->cache_chunksize,
	    owner));
}

static int slab_hash_init(kmem_cache_t *cp);

static size_t
slab_small_size(const kmem_cache_t *cp)
{
	return (kmem_max(kmem_plat_pagesize(), cp->cache_arena->vm_quantum));
}

/* The least wasteful slab size so far (slab_small/large_slabsize()). */
typedef struct slab_choice {
	size_t	sc_size;
	size_t	sc_waste;
} slab_choice_t;

/* Consider a slab of size bytes losing waste; true if good enough. */
static bool
slab_consider(slab_choice_t *c, size_t size, size_t waste)
{
	if (c->sc_size == 0 || waste * c->sc_size < c->sc_waste * size) {
		c->sc_size = size;
		c->sc_waste = waste;
	}
	return (waste * KMEM_SLAB_WASTE <= size);
}

/*
 * A small slab's size: the smallest power-of-two multiple of a page that
 * holds the chunk and loses at most 1/KMEM_SLAB_WASTE of itself to the
 * slab record and the remainder (224-byte chunks lose 7% of 4 KiB, 1.6%
 * of 8 KiB); else the least wasteful up to 8 pages.
 */
static size_t
slab_small_slabsize(size_t small, size_t chunk)
{
	slab_choice_t c = { 0, 0 };

	for (size_t s = small; s <= 8 * small || c.sc_size == 0; s *= 2) {
		if (s - sizeof (kmem_slab_t) >= chunk && slab_consider(&c, s,
		    s - (s - sizeof (kmem_slab_t)) / chunk * chunk))
			break;
	}
	return (c.sc_size);
}

/*
 * A hashed slab's size: the smallest multiple of q (the arena's quantum,
 * or the alignment) that loses at most 1/KMEM_SLAB_WASTE of itself to
 * the remainder (640-byte chunks lose 6% of 4 KiB, 2% of 16 KiB); else
 * the least wasteful up to 8 chunks or 16 quanta.  Sizes the arena's
 * quantum caches serve (up to qmax) are q times a power of two: those
 * tile the quantum caches' slabs, 12 KiB would lose 6% of each.
 */
static size_t
slab_large_slabsize(size_t chunk, size_t q, size_t qmax)
{
	size_t max = kmem_max(P2ROUNDUP(8 * chunk, q), 16 * q);
	slab_choice_t c = { 0, 0 };
	size_t s = P2ROUNDUP(chunk, q);

	if (s <= qmax)
		for (s = q; s < chunk; s *= 2)
			continue;
	for (; s <= max; s = s < qmax ? 2 * s : s + q)
		if (slab_consider(&c, s, s % chunk))
			break;
	return (c.sc_size);
}

/* Choose chunk, slab and colour layout.  0 on success. */
int
kmi_slab_cache_init(kmem_cache_t *cp)
{
	size_t align = cp->cache_align;
	size_t bufsize = cp->cache_bufsize;
	size_t small = slab_small_size(cp);

	kmem_lock_init(&cp->cache_lock);
	kmem_list_init(&cp->cache_partial);
	kmem_list_init(&cp->cache_complete);

	if (cp->cache_cflags & KMC_NOTOUCH) {
		cp->cache_chunksize = P2ROUNDUP(bufsize, align);
	} else if (cp->cache_flags & KMF_FIREWALL) {
		/* One buffer per slab, ending where the guard page begins, */
		/* so aligned to a page at most. */
		cp->cache_align = kmem_min(align, cp->cache_arena->vm_quantum);
		cp->cache_chunksize = P2ROUNDUP(bufsize, cp->cache_align);
		cp->cache_flags |= KMF_HASH;
		cp->cache_slabsize = P2ROUNDUP(cp->cache_chunksize,
		    cp->cache_arena->vm_quantum);
		cp->cache_maxcolor = cp->cache_slabsize - cp->cache_chunksize;
		return (slab_hash_init(cp));
	} else if (cp->cache_flags & KMF_BUFTAG) {
		/* The debug layer's tag follows the buffer. */
		cp->cache_chunksize = P2ROUNDUP(cp->cache_debug->do_layout(cp),
		    align);
	} else if (cp->cache_constructor != NULL) {
		cp->cache_bufctl = P2ROUNDUP(bufsize, sizeof (void *));
		cp->cache_chunksize = P2ROUNDUP(cp->cache_bufctl +
		    sizeof (void *), align);
	} else {
		cp->cache_bufctl = 0;
		cp->cache_chunksize = P2ROUNDUP(kmem_max(bufsize,
		    sizeof (void *)), align);
	}
	size_t chunk = cp->cache_chunksize;
	size_t preset = cp->cache_slabsize;	/* a page allocator's page */

	if (preset != 0 && !(cp->cache_cflags & KMC_QCACHE))
		small = preset;
	/* A preset slab too small for its record takes hashed slabs. */
	bool fits = preset == 0 || preset >= sizeof (kmem_slab_t) +
	    KMEM_VOID_FRACTION * chunk;
	if ((cp->cache_cflags & KMC_NOHASH) ||
	    (!(cp->cache_cflags & KMC_NOTOUCH) && fits &&
	    chunk <= small / KMEM_VOID_FRACTION)) {
		size_t slabsize = preset != 0 ? preset :
		    slab_small_slabsize(small, chunk);
		if (slabsize < sizeof (kmem_slab_t) + chunk)
			return (-1);	/* no chunk fits the preset slab */
		cp->cache_slabsize = slabsize;
		cp->cache_maxcolor = P2ALIGN((slabsize - sizeof (kmem_slab_t)) %
		    chunk, align);
		return (0);
	}

	cp->cache_flags |= KMF_HASH;
	if (cp->cache_slabsize == 0) {	/* quantum caches preset it */
		cp->cache_slabsize = slab_large_slabsize(chunk,
		    kmem_max(cp->cache_arena->vm_quantum, align),
		    cp->cache_arena->vm_qcache_max);
	}
	if (cp->cache_slabsize < chunk)
		return (-1);		/* no chunk fits the preset slab */
	cp->cache_maxcolor = P2ALIGN(cp->cache_slabsize -
	    (cp->cache_slabsize / chunk) * chunk, align);
	return (slab_hash_init(cp));
}

/*
 * A hashed cache's table comes with its first slab (slab_hash_ensure()):
 * most size classes of a program are never used, and each table took a
 * page of kmem_metadata: made lazily, a small program's resident set
 * shrank by 172 KiB.
 */
static int
slab_hash_init(kmem_cache_t *cp)
{
	cp->cache_hash_table = NULL;
	cp->cache_hash_mask = KMEM_HASH_INITIAL - 1;
	cp->cache_hash_shift = highbit(cp->cache_chunksize) - 1;
	return (0);
}

/*
 * Make sure a hashed cache has its table, allocated as slab_create()
 * allocates its metadata.  cache_lock not held.
 */
static bool
slab_hash_ensure(kmem_cache_t *cp, int kmflag)
{
	if (slab_is_small(cp) ||
	    kmem_load_acquire(&cp->cache_hash_table) != NULL)
		return (true);
	kmem_bufctl_t **table = vmem_alloc(kmem_hash_arena,
	    KMEM_HASH_INITIAL * sizeof (void *),
	    (kmflag & KM_PUSHPAGE) | KM_NOSLEEP_LAZY);
	if (table == NULL)
		return (false);
	memset(table, 0, KMEM_HASH_INITIAL * sizeof (void *));
	kmem_lock_enter(&cp->cache_lock);
	if (cp->cache_hash_table == NULL) {
		kmem_store_release(&cp->cache_hash_table, table);
		table = NULL;
	}
	kmem_lock_exit(&cp->cache_lock);
	if (table != NULL)		/* another thread's came first */
		vmem_free(kmem_hash_arena, table,
		    KMEM_HASH_INITIAL * sizeof (void *));
	return (true);
}

/*
 * The slab layer caches constructed state; guarded caches construct and
 * destroy on every transaction instead (debug.c), so here they have none.
 */
static inline kmem_constructor_t *
slab_ctor(const kmem_cache_t *cp)
{
	return ((cp->cache_flags & KMF_BUFTAG) ? NULL : cp->cache_constructor);
}

static inline kmem_destructor_t *
slab_dtor(const kmem_cache_t *cp)
{
	return ((cp->cache_flags & KMF_BUFTAG) ? NULL : cp->cache_destructor);
}

/*
 * Slabs come from vmem_alloc() (and so from the arena's quantum caches)
 * unless the cache is itself a quantum cache, or its slabs need more than
 * the arena's quantum alignment.
 */
static bool
slab_needs_xalloc(const kmem_cache_t *cp)
{
	size_t q = cp->cache_arena->vm_quantum;

	return ((cp->cache_cflags & KMC_QCACHE) || cp->cache_align > q ||
	    (slab_is_small(cp) && cp->cache_slabsize > q));
}

/* The alignment of a slab's memory in its arena. */
size_t
kmi_slab_mem_align(const kmem_cache_t *cp)
{
	if (!slab_needs_xalloc(cp))
		return (cp->cache_arena->vm_quantum);
	return (slab_is_small(cp) ? cp->cache_slabsize :
	    kmem_max(cp->cache_align, cp->cache_arena->vm_quantum));
}

/*
 * Whether to make a new slab's pages resident at once (vmi_populate()),
 * rather than a page fault for each page as its chunks are handed out:
 *  - a slab of buffers of at most a quarter page, which start on every
 *    page, so that its users write every page as the slab fills; in a
 *    cache holding KMEM_POPULATE_AFTER bytes of slabs already (most
 *    caches of a small program never do, and a cache used a little at a
 *    time costs no more than the pages it uses);
 *  - a quantum cache's slab that such a slab asks a piece of
 *    (KMI_POPULATE, passed on by vmem_alloc()): more of the same follow.
 * Only what the slab itself spans is made resident, never free space that
 * other requests may take (and only memory kmem maps: vmi_populate()).
 * Cache lock.
 */
static bool
slab_populates(const kmem_cache_t *cp, int kmflag)
{
	if (kmflag & KMI_POPULATE)
		return (true);
	return (!(cp->cache_cflags & KMC_NOTOUCH) &&
	    cp->cache_chunksize <= slab_small_size(cp) / 4 &&
	    cp->cache_buftotal * cp->cache_chunksize >= KMEM_POPULATE_AFTER);
}

/*
 * Slab memory never sleeps or reclaims inside vmem: when it cannot be had,
 * kmem_cache_alloc() decides whether to reclaim, fail or wait, and then
 * retries from the top (a freed buffer may serve as well as a new slab).
 */
static void *
slab_mem_alloc(kmem_cache_t *cp, int kmflag, bool populate)
{
	vmem_t *vmp = cp->cache_arena;
	int vmflag = (kmflag & VM_PUSHPAGE) | VM_NOSLEEP | VM_NORMALPRI;
	void *mem;

	if (slab_needs_xalloc(cp)) {
		mem = vmem_xalloc(vmp, cp->cache_slabsize,
		    kmi_slab_mem_align(cp), 0, 0, NULL, NULL, vmflag);
		if (mem != NULL && populate)
			vmi_populate(vmp, mem, cp->cache_slabsize);
	} else {
		mem = vmem_alloc(vmp, cp->cache_slabsize,
		    vmflag | (populate ? KMI_POPULATE : 0));
	}
	return (mem);
}

static void
slab_mem_free(kmem_cache_t *cp, void *mem)
{
	vmem_t *vmp = cp->cache_arena;

	if (slab_needs_xalloc(cp))
		vmem_xfree(vmp, mem, cp->cache_slabsize);
	else
		vmem_free(vmp, mem, cp->cache_slabsize);
}

static void
slab_bufctls_free(kmem_bufctl_t *bcp)
{
	while (bcp != NULL) {
		kmem_bufctl_t *next = bcp->bc_next;
		kmem_cache_free(kmi_bufctl_cache, bcp);
		bcp = next;
	}
}

/* Make a new slab; no lock held. */
static kmem_slab_t *
slab_create(kmem_cache_t *cp, int kmflag)
{
	kmem_slab_t *sp;

	kmem_lock_enter(&cp->cache_lock);
	size_t color = cp->cache_color;
	cp->cache_color = color + cp->cache_align > cp->cache_maxcolor ? 0 :
	    color + cp->cache_align;
	if (cp->cache_flags & KMF_FIREWALL)	/* the buffer ends the slab */
		color = cp->cache_maxcolor;
	bool populate = slab_populates(cp, kmflag);
	kmem_lock_exit(&cp->cache_lock);

	void *mem = slab_mem_alloc(cp, kmflag, populate);
	if (mem == NULL)
		return (NULL);

	int metaflag = (kmflag & KM_PUSHPAGE) | KM_NOSLEEP_LAZY;
	if (slab_is_small(cp)) {
		sp = slab_of_small(cp, mem);
	} else if ((sp = kmem_cache_alloc(kmi_slab_cache, metaflag)) == NULL) {
		slab_mem_free(cp, mem);
		return (NULL);
	}
	memset(sp, 0, sizeof (*sp));
	sp->slab_cache = cp;
	sp->slab_mem = mem;
	sp->slab_base = (char *)mem + color;
	kmem_list_init(&sp->slab_link);
	if (slab_is_small(cp)) {
		sp->slab_chunks = (uint32_t)((cp->cache_slabsize -
		    sizeof (kmem_slab_t) - color) / cp->cache_chunksize);
		return (sp);
	}
	sp->slab_chunks = (uint32_t)((cp->cache_slabsize - color) /
	    cp->cache_chunksize);
	for (uint32_t i = sp->slab_chunks; i-- > 0; ) {
		kmem_bufctl_t *bcp = kmem_cache_alloc(kmi_bufctl_cache,
		    metaflag);
		if (bcp == NULL) {
			slab_bufctls_free(sp->slab_raw);
			kmem_cache_free(kmi_slab_cache, sp);
			slab_mem_free(cp, mem);
			return (NULL);
		}
		bcp->bc_addr = sp->slab_base + i * cp->cache_chunksize;
		bcp->bc_slab = sp;
		bcp->bc_next = sp->slab_raw;
		sp->slab_raw = bcp;
	}
	return (sp);
}

/* Destroy an unlinked slab: destructors, bufctls, memory.  No lock held. */
static void
slab_destroy(kmem_cache_t *cp, kmem_slab_t *sp)
{
	uint64_t ndtor = 0;

	/* Destructors may run, and the memory goes back clean. */
	kmem_track_unpoison(sp->slab_mem, cp->cache_slabsize);
	for (kmem_bufctl_t *bcp = sp->slab_head; bcp != NULL;
	    bcp = bcp->bc_next) {
		void *buf = slab_bufctl_buf(cp, bcp);
		/* The link lies outside the object: the destructor keeps it. */
		if (slab_dtor(cp) != NULL) {
			cp->cache_destructor(buf, cp->cache_private);
			ndtor++;
		}
	}
	if (ndtor != 0)
		kmem_fetch_add(&cp->cache_dtor_calls, ndtor);
	void *mem = sp->slab_mem;
	(void)slab_map(cp, sp, NULL);
	if (!slab_is_small(cp)) {
		slab_bufctls_free(sp->slab_head);
		slab_bufctls_free(sp->slab_raw);
		kmem_cache_free(kmi_slab_cache, sp);
	}
	slab_mem_free(cp, mem);
}

static void
slab_hash_rescale(kmem_cache_t *cp, size_t nbuckets)
{
	size_t old_n = cp->cache_hash_mask + 1;
	kmem_bufctl_t **old = cp->cache_hash_table;
	/* Under cache_lock: no reclaim, which could need this very lock. */
	kmem_bufctl_t **table = vmem_alloc(kmem_hash_arena,
	    nbuckets * sizeof (void *), VM_NOSLEEP | VM_NORMALPRI);

	if (table == NULL)
		return;
	memset(table, 0, nbuckets * sizeof (void *));
	kmem_store_release(&cp->cache_hash_table, table);	/* see */
	cp->cache_hash_mask = nbuckets - 1;		/* slab_hash_ensure() */
	for (size_t i = 0; i < old_n; i++) {
		kmem_bufctl_t *bcp = old[i];
		while (bcp != NULL) {
			kmem_bufctl_t *next = bcp->bc_next;
			kmem_bufctl_t **bucket = slab_hash_bucket(cp,
			    bcp->bc_addr);
			bcp->bc_next = *bucket;
			*bucket = bcp;
			bcp = next;
		}
	}
	cp->cache_hash_rescale++;
	vmem_free(kmem_hash_arena, old, old_n * sizeof (void *));
}

/* Periodic: size the hash to about one buffer per bucket. */
void
kmi_slab_hash_update(kmem_cache_t *cp)
{
	if (slab_is_small(cp))
		return;
	kmem_lock_enter(&cp->cache_lock);
	if (cp->cache_hash_table == NULL) {	/* no slab yet */
		kmem_lock_exit(&cp->cache_lock);
		return;
	}
	size_t want = kmem_max(KMEM_HASH_INITIAL,
	    kmem_hash_size(cp->cache_buftotal));
	if (kmem_hash_rescale_due(want, cp->cache_hash_mask + 1))
		slab_hash_rescale(cp, want);
	kmem_lock_exit(&cp->cache_lock);
}

/*
 * Take one chunk from the first partial slab, which exists.  Sets
 * *construct if the chunk has never been constructed.  cache_lock held.
 */
static void *
slab_take(kmem_cache_t *cp, bool *construct)
{
	kmem_slab_t *sp = KMEM_CONTAINER(cp->cache_partial.next, kmem_slab_t,
	    slab_link);
	kmem_bufctl_t *bcp;
	void *buf;

	*construct = false;
	if ((bcp = sp->slab_head) != NULL) {
		kmem_track_unpoison(bcp, sizeof (void *));	/* it leaves */
		sp->slab_head = bcp->bc_next;
		sp->slab_nhead--;
		cp->cache_constructed_slab--;
	} else if ((bcp = sp->slab_raw) != NULL) {
		kmem_track_unpoison(bcp, sizeof (void *));
		sp->slab_raw = bcp->bc_next;
		*construct = true;
	} else {
		ASSERT(slab_is_small(cp));
		ASSERT3U(sp->slab_bump, <, sp->slab_chunks);
		bcp = (kmem_bufctl_t *)(sp->slab_base + sp->slab_bump++ *
		    cp->cache_chunksize + cp->cache_bufctl);
		*construct = true;
	}
	if (slab_is_small(cp)) {
		buf = (char *)bcp - cp->cache_bufctl;
	} else {
		kmem_bufctl_t **bucket = slab_hash_bucket(cp, bcp->bc_addr);
		buf = bcp->bc_addr;
		bcp->bc_next = *bucket;
		*bucket = bcp;
		if (cp->cache_flags & KMF_BUFTAG)	/* for audit's bc_slab */
			cp->cache_debug->do_link(cp, buf, bcp);
		if (cp->cache_buftotal - cp->cache_bufslab >
		    2 * (cp->cache_hash_mask + 1))
			slab_hash_rescale(cp, 4 * (cp->cache_hash_mask + 1));
	}
	if (sp->slab_refcnt++ == 0)
		cp->cache_nempty--;
	ASSERT_EXPENSIVE(kmi_slab_is_valid(cp, sp));
	cp->cache_bufslab--;
	cp->cache_slab_alloc++;
	if (!slab_has_free(cp, sp)) {
		kmem_list_remove(&sp->slab_link);
		kmem_list_insert_head(&cp->cache_complete, &sp->slab_link);
	}
	return (buf);
}

/* Make sure cache_partial is not empty; false if no slab can be had. */
static bool
slab_ensure_partial(kmem_cache_t *cp, int kmflag)
{
	while (kmem_list_empty(&cp->cache_partial)) {
		kmem_lock_exit(&cp->cache_lock);
		kmem_slab_t *sp = slab_hash_ensure(cp, kmflag) ?
		    slab_create(cp, kmflag) : NULL;
		kmem_lock_enter(&cp->cache_lock);
		if (sp == NULL)
			return (false);
		/* Mapped under the lock: a late kmi_owner_enable() walks */
		/* the lists under it and so misses no slab. */
		if (!slab_map(cp, sp, cp)) {
			kmem_lock_exit(&cp->cache_lock);
			slab_destroy(cp, sp);	/* as if none could be had */
			kmem_lock_enter(&cp->cache_lock);
			return (false);
		}
		kmem_list_insert_head(&cp->cache_partial, &sp->slab_link);
		cp->cache_slab_create++;
		cp->cache_buftotal += sp->slab_chunks;
		cp->cache_bufslab += sp->slab_chunks;
		cp->cache_nempty++;
		if (cp->cache_buftotal > cp->cache_bufmax)
			cp->cache_bufmax = cp->cache_buftotal;
	}
	return (true);
}

#define SLAB_BATCH_MAX	64	/* bits in a batch's construct_map */

/* kmi_slab_alloc_batch() for at most SLAB_BATCH_MAX buffers. */
static int
slab_alloc_batch(kmem_cache_t *cp, int kmflag, void **bufs, int n)
{
	uint64_t construct_map = 0;
	int got = 0;

	ASSERT3U(n, <=, SLAB_BATCH_MAX);
	kmem_lock_enter(&cp->cache_lock);
	while (got < n && slab_ensure_partial(cp, got == 0 ? kmflag :
	    kmflag | KM_NOSLEEP | KM_NORMALPRI)) {
		bool construct;
		bufs[got] = slab_take(cp, &construct);
		if (construct)
			construct_map |= (uint64_t)1 << got;
		got++;
	}
	kmem_lock_exit(&cp->cache_lock);
	if (construct_map != 0 && (cp->cache_flags & KMF_BUFTAG)) {
		for (int i = 0; i < got; i++)
			if ((construct_map >> i) & 1)
				cp->cache_debug->do_fresh(cp, bufs[i]);
		return (got);
	}
	if (construct_map == 0 || cp->cache_constructor == NULL)
		return (got);

	/* Constructors run with no lock held; a failure ends the batch. */
	int ok = 0;
	for (int i = 0; i < got; i++) {
		if (!((construct_map >> i) & 1) ||
		    cp->cache_constructor(bufs[i], cp->cache_private,
		    kmflag) == 0) {
			if ((construct_map >> i) & 1)
				kmem_fetch_add(&cp->cache_ctor_calls, 1);
			bufs[ok++] = bufs[i];
			continue;
		}
		slab_free_raw(cp, bufs[i]);
		for (int j = i + 1; j < got; j++) {
			if ((construct_map >> j) & 1)
				slab_free_raw(cp, bufs[j]);
			else
				kmi_slab_free(cp, bufs[j]);
		}
		return (ok == 0 ? -1 : ok);
	}
	return (ok);
}

/*
 * Allocate up to n buffers from the slab layer under one acquisition of
 * cache_lock per SLAB_BATCH_MAX buffers (plus one per new slab),
 * constructing those never constructed.  Returns how many it got: fewer
 * than n if no more memory can be had or a constructor fails; -1 if a
 * constructor failed before any buffer could be had (so the caller does
 * not wait for memory in vain).
 */
int
kmi_slab_alloc_batch(kmem_cache_t *cp, int kmflag, void **bufs, int n)
{
	int got = 0;

	while (got < n) {
		int want = n - got < SLAB_BATCH_MAX ? n - got : SLAB_BATCH_MAX;
		int more = slab_alloc_batch(cp, got == 0 ? kmflag :
		    kmflag | KM_NOSLEEP | KM_NORMALPRI, bufs + got, want);
		if (more < 0)
			return (got == 0 ? -1 : got);
		got += more;
		if (more < want)
			break;
	}
	return (got);
}

/*
 * Allocate a buffer from the slab layer, constructing it if it has never
 * been constructed.  Returns NULL when no slab can be had or the
 * constructor fails.
 */
void *
kmi_slab_alloc(kmem_cache_t *cp, int kmflag)
{
	void *buf;

	return (kmi_slab_alloc_batch(cp, kmflag, &buf, 1) == 1 ? buf : NULL);
}

/* Find buf's slab and bufctl; cache_lock held.  Panics on a bad address. */
static kmem_slab_t *
slab_lookup(kmem_cache_t *cp, void *buf, kmem_bufctl_t **bcpp)
{
	kmem_slab_t *sp;

	if (slab_is_small(cp)) {
		sp = slab_of_small(cp, buf);
		if (!slab_small_holds(cp, sp, buf))
			kmi_panic("kmem_cache_free(%s, %p): invalid free: "
			    "buffer not in cache", cp->cache_name, buf);
		*bcpp = (kmem_bufctl_t *)((char *)buf + cp->cache_bufctl);
		return (sp);
	}
	kmem_bufctl_t **prev = cp->cache_hash_table == NULL ? NULL :
	    slab_hash_bucket(cp, buf);	/* no table: no slab yet */
	kmem_bufctl_t *bcp;
	for (bcp = prev != NULL ? *prev : NULL; bcp != NULL;
	    bcp = bcp->bc_next) {
		cp->cache_hash_lookup_depth++;
		if (bcp->bc_addr == buf)
			break;
		prev = &bcp->bc_next;
	}
	if (bcp == NULL)
		kmi_panic("kmem_cache_free(%s, %p): invalid free: buffer not "
		    "in cache", cp->cache_name, buf);
	*prev = bcp->bc_next;
	*bcpp = bcp;
	return (bcp->bc_slab);
}

static void
slab_free_common(kmem_cache_t *cp, void *buf, bool constructed)
{
	kmem_bufctl_t *bcp;

	kmem_lock_enter(&cp->cache_lock);
	kmem_slab_t *sp = slab_lookup(cp, buf, &bcp);
	bool was_complete = !slab_has_free(cp, sp);

	if (constructed || slab_ctor(cp) == NULL) {
		slab_link_write(cp, bcp, sp->slab_head);
		sp->slab_head = bcp;
		sp->slab_nhead++;
		cp->cache_constructed_slab++;
	} else {
		slab_link_write(cp, bcp, sp->slab_raw);
		sp->slab_raw = bcp;
	}
	cp->cache_bufslab++;
	cp->cache_slab_free++;
	uint32_t left = --sp->slab_refcnt;
	ASSERT_EXPENSIVE(kmi_slab_is_valid(cp, sp));
	if (left == 0) {
		kmem_list_remove(&sp->slab_link);
		/* Keep no empty slab while anyone waits for memory. */
		if (cp->cache_nempty >= KMEM_KEEP_EMPTY ||
		    vmi_memwait_active() || (cp->cache_flags & KMF_FIREWALL)) {
			cp->cache_buftotal -= sp->slab_chunks;
			cp->cache_bufslab -= sp->slab_chunks;
			cp->cache_constructed_slab -= sp->slab_nhead;
			cp->cache_slab_destroy++;
			kmem_lock_exit(&cp->cache_lock);
			slab_destroy(cp, sp);
			return;
		}
		cp->cache_nempty++;
		kmem_list_insert_tail(&cp->cache_partial, &sp->slab_link);
	} else if (was_complete) {
		kmem_list_remove(&sp->slab_link);
		kmem_list_insert_head(&cp->cache_partial, &sp->slab_link);
	}
	kmem_lock_exit(&cp->cache_lock);
	vmi_memwait_signal();		/* a buffer is free for a waiter */
}

/* Return a constructed buffer to its slab. */
void
kmi_slab_free(kmem_cache_t *cp, void *buf)
{
	slab_free_common(cp, buf, true);
}

/* Return a buffer whose constructor failed. */
static void
slab_free_raw(kmem_cache_t *cp, void *buf)
{
	slab_free_common(cp, buf, false);
}

/*
 * Run the destructor on every constructed buffer the slabs hold free
 * (pool_cache_invalidate(9)): each is taken as an allocation takes it,
 * destroyed, and returned unconstructed.  Not a client transaction: the
 * allocation and free counts are left as they were.
 */
void
kmi_slab_destruct_free(kmem_cache_t *cp)
{
	kmem_destructor_t *dtor = slab_dtor(cp);

	if (slab_ctor(cp) == NULL || dtor == NULL)
		return;
	for (;;) {
		kmem_slab_t *sp = NULL;
		kmem_lock_enter(&cp->cache_lock);
		for (kmem_list_t *lp = cp->cache_partial.next;
		    lp != &cp->cache_partial && sp == NULL; lp = lp->next) {
			kmem_slab_t *s = KMEM_CONTAINER(lp, kmem_slab_t,
			    slab_link);
			if (s->slab_head != NULL)
				sp = s;
		}
		if (sp == NULL) {
			kmem_lock_exit(&cp->cache_lock);
			return;
		}
		kmem_list_remove(&sp->slab_link);	/* slab_take()'s */
		kmem_list_insert_head(&cp->cache_partial, &sp->slab_link);
		bool construct;
		void *buf = slab_take(cp, &construct);
		ASSERT(!construct);
		cp->cache_slab_alloc--;
		kmem_lock_exit(&cp->cache_lock);
		kmem_track_unpoison(buf, cp->cache_bufsize);
		dtor(buf, cp->cache_private);
		kmem_fetch_add(&cp->cache_dtor_calls, 1);
		slab_free_raw(cp, buf);	/* raw buffers stay open, as new */
		kmem_lock_enter(&cp->cache_lock);
		cp->cache_slab_free--;
		kmem_lock_exit(&cp->cache_lock);
	}
}

/* Unlink every empty slab from cache_partial onto *list; cache_lock held. */
static void
slab_take_empty(kmem_cache_t *cp, kmem_list_t *list)
{
	kmem_list_t *lp = cp->cache_partial.next;

	while (lp != &cp->cache_partial) {
		kmem_slab_t *sp = KMEM_CONTAINER(lp, kmem_slab_t, slab_link);
		lp = lp->next;
		if (sp->slab_refcnt != 0)
			continue;
		kmem_list_remove(&sp->slab_link);
		kmem_list_insert_tail(list, &sp->slab_link);
		cp->cache_buftotal -= sp->slab_chunks;
		cp->cache_bufslab -= sp->slab_chunks;
		cp->cache_constructed_slab -= sp->slab_nhead;
		cp->cache_nempty--;
		cp->cache_slab_destroy++;
	}
}

static void
slab_destroy_list(kmem_cache_t *cp, kmem_list_t *list)
{
	while (!kmem_list_empty(list)) {
		kmem_slab_t *sp = KMEM_CONTAINER(list->next, kmem_slab_t,
		    slab_link);
		kmem_list_remove(&sp->slab_link);
		slab_destroy(cp, sp);
	}
}

/* Destroy the empty slabs the cache keeps. */
void
kmi_slab_reap(kmem_cache_t *cp)
{
	kmem_list_t list;

	kmem_list_init(&list);
	kmem_lock_enter(&cp->cache_lock);
	slab_take_empty(cp, &list);
	kmem_lock_exit(&cp->cache_lock);
	slab_destroy_list(cp, &list);
}

/*
 * Tear down the slab layer of a cache being destroyed.  Returns false if
 * buffers are still allocated; their slabs are then left alone (the client
 * may still use them) and everything else is freed.
 */
bool
kmi_slab_cache_fini(kmem_cache_t *cp)
{
	bool empty;

	kmi_slab_reap(cp);
	kmem_lock_enter(&cp->cache_lock);
	empty = cp->cache_buftotal == 0;
	kmem_lock_exit(&cp->cache_lock);
	if (empty && cp->cache_hash_table != NULL)
		vmem_free(kmem_hash_arena, cp->cache_hash_table,
		    (cp->cache_hash_mask + 1) * sizeof (void *));
	return (empty);
}
