/*
 * The owner map: from any address to what owns it, in constant time.
 *
 * Theory of operation
 * -------------------
 * Faces whose free takes no size -- libc free(3), NetBSD free(9),
 * DragonFly kfree(9) -- must find a buffer's cache from its address
 * alone.  The owner map is a two-level radix table over the 48-bit
 * address space, one entry (two words) per 4 KiB granule (a page, or a
 * part of a larger one).  Once a face enables it
 * (kmi_owner_enable(): before kmem_init(), or later, when it maps the
 * slabs kmem already has), the slab layer reports every
 * kmem_alloc slab it lays out or destroys (kmi_slab_map_hook), so each
 * granule that holds a slab's chunks maps to its cache's class and to the
 * slab's first buffer; the first granule of a large buffer
 * (kmi_owner_large_alloc(): the kmem_oversize arena, through the cache of
 * freed large buffers, src/kmem_alloc/large.c) maps to the large class
 * and the buffer's size, which may exceed the request.  Leaves (one per GiB of address space)
 * are mapped on first use and never freed, so readers take no lock.
 *
 * Is a pointer the start of a buffer?  A class holds its cache's chunk
 * size c = 2^k * d (d odd) as k and the inverse of d modulo 2^64, so that
 * for the offset x of a pointer from its slab's first buffer (wrapped if
 * below it), rotr(x * inverse, k) is x / c when c divides x and exceeds
 * (2^64 - 1) / c otherwise (Granlund and Montgomery's divisibility
 * test): one multiply, one rotate and one comparison with the slab's
 * chunk count n say that x is 0, c, ... or (n - 1)c, with no division.
 * The large class has no chunks, so the same test sends its buffers to
 * the face's slow path.  A buffer freed twice still starts a chunk: only
 * KMEM_DEBUG catches that.
 *
 * Invariants.
 *  1. A granule's entry names a class only while a slab of that class's
 *     cache (or a large buffer starting in that granule) is there.
 *  2. Classes are never freed or changed once published: a reader that
 *     loaded one may use it after the slab is gone.
 */
#include "owner.h"

kmem_owner_t *kmem_owner_root[KMEM_OWNER_ROOT_ENTRIES];
const kmem_owner_t kmi_owner_none;
const kmem_owner_class_t kmi_owner_large;	/* no chunks */

static kmem_lock_t kmem_owner_lock = KMEM_LOCK_INIT;
static kmem_owner_class_t kmem_owner_classes[KMEM_OWNER_NCLASS];

static kmem_owner_t *
owner_leaf(uintptr_t pn)
{
	size_t ri = pn >> KMEM_OWNER_LEAF_BITS;
	kmem_owner_t *leaf = kmem_load_acquire(&kmem_owner_root[ri]);

	if (leaf != NULL)
		return (leaf);
	kmem_lock_enter(&kmem_owner_lock);
	if ((leaf = kmem_owner_root[ri]) == NULL &&
	    (leaf = kmem_plat_map(KMEM_OWNER_LEAF_ENTRIES *
	    sizeof (kmem_owner_t))) != NULL)
		kmem_store_release(&kmem_owner_root[ri], leaf);
	kmem_lock_exit(&kmem_owner_lock);
	return (leaf);
}

/*
 * Make sure the leaves covering [mem, mem+size) are mapped; false if one
 * cannot be (the platform has no memory for it), and the caller gives up
 * what it would have entered.
 */
static bool
owner_leaves(const void *mem, size_t size)
{
	uintptr_t first = (uintptr_t)mem >> KMEM_OWNER_SHIFT;
	uintptr_t last = ((uintptr_t)mem + size - 1) >> KMEM_OWNER_SHIFT;

	for (uintptr_t ri = first >> KMEM_OWNER_LEAF_BITS;
	    ri <= last >> KMEM_OWNER_LEAF_BITS; ri++)
		if (owner_leaf(ri << KMEM_OWNER_LEAF_BITS) == NULL)
			return (false);
	return (true);
}

/*
 * Map every granule of [mem, mem+size) to oc and first; owner_leaves()
 * said yes to the range before.  Clearing (oc NULL) a range whose leaves
 * never came skips them: nothing was entered there.
 */
static void
owner_set(void *mem, size_t size, const kmem_owner_class_t *oc,
    uintptr_t first)
{
	uintptr_t last = ((uintptr_t)mem + size - 1) >> KMEM_OWNER_SHIFT;

	for (uintptr_t pn = (uintptr_t)mem >> KMEM_OWNER_SHIFT; pn <= last;
	    pn++) {
		kmem_owner_t *leaf = owner_leaf(pn);
		if (leaf == NULL) {
			ASSERT(oc == NULL);
			continue;
		}
		kmem_owner_t *ow = &leaf[pn & (KMEM_OWNER_LEAF_ENTRIES - 1)];
		kmem_store_relaxed(&ow->ow_first, first);
		kmem_store_release(&ow->ow_class, oc);
	}
}

static void
class_init(kmem_owner_class_t *oc, kmem_cache_t *cp, size_t chunks)
{
	size_t chunk = cp->cache_chunksize;
	unsigned shift = (unsigned)lowbit(chunk) - 1;
	uint64_t odd = chunk >> shift, inverse = odd;

	for (int i = 0; i < 5; i++)	/* Newton: 3, 6, ... 96 good bits */
		inverse *= 2 - odd * inverse;
	oc->oc_inverse = inverse;
	oc->oc_shift = shift;
	oc->oc_chunks = chunks;
	oc->oc_free_index = (cp->cache_flags & KMF_BUFTAG) ||
	    cp->cache_slot == 0 ? UINT32_MAX : cp->cache_slot;
}

/* cp's class, made on its first slab (open addressing, never deleted). */
static kmem_owner_class_t *
class_of(kmem_cache_t *cp, size_t chunks)
{
	size_t h = (uintptr_t)cp / KMEM_CACHE_LINE;

	for (size_t probe = 0; probe < KMEM_OWNER_NCLASS; probe++) {
		kmem_owner_class_t *oc =
		    &kmem_owner_classes[(h + probe) % KMEM_OWNER_NCLASS];
		kmem_cache_t *owner = kmem_load_acquire(&oc->oc_cache);
		if (owner == NULL) {
			kmem_lock_enter(&kmem_owner_lock);
			if ((owner = oc->oc_cache) == NULL) {
				class_init(oc, cp, chunks);
				kmem_store_release(&oc->oc_cache, cp);
				owner = cp;
			}
			kmem_lock_exit(&kmem_owner_lock);
		}
		if (owner == cp) {
			/* The colour never costs a chunk (slab.c). */
			ASSERT3U(oc->oc_chunks, ==, chunks);
			return (oc);
		}
	}
	kmi_panic("kmem: more than %d kmem_alloc caches", KMEM_OWNER_NCLASS);
}

/*
 * The slab layer's hook: first..first+size are a slab's chunks (owner),
 * or no longer are (NULL).  false if the map has no room for the slab.
 */
static bool
owner_slab_map(void *first, size_t size, kmem_cache_t *owner)
{
	if (owner != NULL && !owner_leaves(first, size))
		return (false);
	owner_set(first, size, owner == NULL ? NULL :
	    class_of(owner, size / owner->cache_chunksize), (uintptr_t)first);
	return (true);
}

static int
owner_map_slab(kmem_cache_t *cp, kmem_slab_t *sp, bool partial, void *arg)
{
	(void)partial;
	(void)arg;
	if (!owner_slab_map(sp->slab_base,
	    sp->slab_chunks * cp->cache_chunksize, cp))
		kmi_panic("kmem: no memory for the owner map of the slabs "
		    "kmem already has");
	return (0);
}

static int
owner_map_cache(kmem_cache_t *cp, void *arg)
{
	(void)arg;
	if (cp->cache_cflags & KMC_KMEM_ALLOC) {
		kmem_lock_enter(&cp->cache_lock);
		(void)kmi_slab_walk(cp, owner_map_slab, NULL);
		kmem_lock_exit(&cp->cache_lock);
	}
	return (0);
}

/*
 * Keep the map from now on.  If kmem is already running, the slabs it
 * has are mapped too: the hook is set first, then each kmem_alloc cache's
 * lists are walked under its lock, under which new slabs are mapped and
 * listed (slab.c), so no slab is missed.  Large buffers allocated before
 * are not in the map; only the faces allocate those.  false if the map
 * cannot be had.
 */
static uint32_t kmem_owner_state;	/* 0 off, 1 being enabled, 2 on */

bool
kmi_owner_enable(void)
{
	if (kmem_load_acquire(&kmem_owner_state) == 2)
		return (true);
	if (kmem_plat_pagesize() < KMEM_OWNER_GRANULE)
		return (false);		/* slabs could share a granule */
	uint32_t off = 0;
	if (!kmem_cas(&kmem_owner_state, &off, 1)) {
		while (kmem_load_acquire(&kmem_owner_state) != 2)
			kmem_plat_yield();	/* another thread maps */
		return (true);
	}
	kmem_store_release(&kmi_slab_map_hook, owner_slab_map);
	if (kmi_is_ready())
		(void)kmem_cache_walk(owner_map_cache, NULL);
	kmem_store_release(&kmem_owner_state, 2);
	return (true);
}

/*
 * A large buffer: whole pages from kmem_oversize, aligned to align (at
 * least a page), its first granule mapped.  size > 0.  No request larger
 * than the map's address space, or aligned past it, can succeed.  Unless
 * exact, a kept freed buffer of up to twice the size may serve (the map
 * records its size: kmem_owner_large_size()).
 */
void *
kmi_owner_large_alloc(size_t size, size_t align, int kmflag, bool exact)
{
	size_t page = kmem_plat_pagesize();
	size_t limit = (size_t)1 << KMEM_OWNER_VA_BITS;

	if (size > limit - page || align >= limit)
		return (NULL);
	size_t rsize = P2ROUNDUP(size, page);
	void *buf = align <= page ? kmi_large_take(rsize, exact, &rsize) :
	    NULL;
	if (buf == NULL &&
	    (buf = vmem_xalloc(kmem_oversize_arena, rsize,
	    kmem_max(align, page), 0, 0, NULL, NULL,
	    kmflag & VM_KMFLAGS)) != NULL)
		kmi_large_advise(buf, rsize);
	if (buf == NULL)
		return (NULL);
	if (!owner_leaves(buf, KMEM_OWNER_GRANULE)) {
		kmi_large_free(buf, rsize);	/* kept for the next one */
		return (NULL);
	}
	/* Its first granule only: no other starts it. */
	owner_set(buf, KMEM_OWNER_GRANULE, &kmi_owner_large, rsize);
	return (buf);
}

/* Free a large buffer of size bytes (kmem_owner_large_size()): cached. */
void
kmi_owner_large_free(void *buf, size_t size)
{
	owner_set(buf, KMEM_OWNER_GRANULE, NULL, 0);
	kmi_large_free(buf, size);
}
