/*
 * Large buffers: whole pages past the size classes, from kmem_oversize,
 * and a small cache of the ones freed last.
 *
 * Theory of operation
 * -------------------
 * A freed large buffer's pages are resident.  Giving them straight back
 * to vmem and taking fresh pages for the next request faults every page
 * in again: a loop of 1-25 MiB buffers spent most of its time there.
 * Keeping them all resident until the periodic update (every free segment
 * of kmem_oversize is discarded there) let the same loop's resident set
 * reach 1.8 times its live heap, since a request larger than any hole
 * takes fresh address space while the holes stay resident.
 *
 * So the large buffers of the faces that free without a size (the owner
 * map's: malloc) stay here when freed, still allocated in vmem's terms:
 * at most KMEM_LARGE_SLOTS of them, and at most an eighth of the large
 * memory in use in bytes (KMEM_LARGE_MIN at least).  A request takes the
 * smallest cached buffer that holds it if that is at most twice the
 * request (the owner map records the buffer's real size; a face that
 * counts what it allocates, malloc(9), asks for the exact size); the
 * pages past
 * the request are discarded, so the excess is address space, not
 * resident memory.  A buffer leaves the cache, oldest first, when the
 * limits are passed, when it sat unused through a whole update interval,
 * at kmem_reap(), and when memory is short (vmem's reclaim and wait
 * hooks; while anyone waits for memory nothing is kept); its
 * pages are discarded before vmem gets it back.  So freed large buffers
 * hold at most the cache's limit of resident memory.
 *
 * Large pages.  Filling a new large buffer faults once per page, and on
 * a virtual machine a fault is dear: the malloc suite's 1-25 MiB loop
 * took 3.4 s without large pages and 0.6-1.7 s with them, on the same
 * policy (this host's figures).  Buffers of 2 MiB
 * and more from vmem are offered to the platform's large pages
 * (kmem_plat_large_pages(): transparent huge pages), one fault per
 * 2 MiB; the offer is withdrawn before the pages go back to vmem, where
 * slabs may reuse them.  kmem_init(9)'s nohugepages turns this off.
 *
 * (kmem_free() of a
 * large kmem_alloc() buffer still goes straight to vmem: its size is the
 * caller's word, which vmem checks, and its pages are discarded at the
 * next update.)
 *
 * Walkers: a cached buffer is free.  ::findleaks leaves it out, ::whatis
 * says so; the cache is a global (kmem_large_cache), so a debugger reads
 * it from a core.
 *
 * Locking: kmem_large_cache.lc_lock protects the table; vmem and the
 * platform are called without it.
 */
#include "kmem_alloc_impl.h"

kmem_large_cache_t kmem_large_cache = { .lc_lock = KMEM_LOCK_INIT };
bool kmi_large_hugepages = true;	/* kmem_init(9): nohugepages */

static bool
large_huge(size_t size)
{
	return (kmi_large_hugepages && size >= KMEM_LARGE_HUGE);
}

void
kmi_large_advise(void *buf, size_t size)
{
	if (large_huge(size))
		kmem_plat_large_pages(buf, size, true);
}

/* The cache's byte limit: an eighth of the large memory in use. */
static size_t
large_limit(void)
{
	size_t inuse = vmem_size(kmem_oversize_arena, VMEM_ALLOC);
	size_t cached = kmem_load_relaxed(&kmem_large_cache.lc_bytes);

	inuse = inuse > cached ? inuse - cached : 0;
	return (kmem_max(inuse / 8, (size_t)KMEM_LARGE_MIN));
}

/* Drop entry i (its buffer now the caller's).  lc_lock held. */
static kmem_large_t
large_remove(kmem_large_cache_t *lc, uint32_t i)
{
	kmem_large_t e = lc->lc_ent[i];

	for (uint32_t j = i + 1; j < lc->lc_n; j++)
		lc->lc_ent[j - 1] = lc->lc_ent[j];
	kmem_store_relaxed(&lc->lc_n, lc->lc_n - 1);
	kmem_store_relaxed(&lc->lc_bytes, lc->lc_bytes - e.le_size);
	return (e);
}

static void
large_discard_cb(void *arg, void *va, size_t size)
{
	(void)arg;
	kmem_plat_discard(va, size);
}

/*
 * Give a buffer back to vmem, its pages still resident, where a request
 * that misses the cache may reuse them.  Once more than limit bytes went
 * back so since the last time, every free page of kmem_oversize and of
 * its source is discarded (a walk of their free segments, under their
 * locks: nothing allocated is touched).
 */
static void
large_release(const kmem_large_t *e, size_t limit)
{
	kmem_large_cache_t *lc = &kmem_large_cache;

	if (large_huge(e->le_size))	/* its pages may serve slabs next */
		kmem_plat_large_pages((void *)e->le_addr, e->le_size, false);
	vmem_xfree(kmem_oversize_arena, (void *)e->le_addr, e->le_size);
	kmem_lock_enter(&lc->lc_lock);
	lc->lc_dirty += e->le_size;
	bool discard = lc->lc_dirty > limit;
	if (discard)
		lc->lc_dirty = 0;
	kmem_lock_exit(&lc->lc_lock);
	if (discard) {
		vmem_walk(kmem_oversize_arena, VMEM_FREE, large_discard_cb,
		    NULL);
		vmem_walk(vmem_source(kmem_oversize_arena), VMEM_FREE,
		    large_discard_cb, NULL);
	}
}

void *
kmi_large_take(size_t size, bool exact, size_t *sizep)
{
	kmem_large_cache_t *lc = &kmem_large_cache;
	size_t most = !exact && size <= SIZE_MAX / 2 ? 2 * size : size;
	uint32_t best = UINT32_MAX;

	if (kmem_load_relaxed(&lc->lc_n) == 0)
		return (NULL);
	kmem_lock_enter(&lc->lc_lock);
	for (uint32_t i = 0; i < lc->lc_n; i++) {
		size_t s = lc->lc_ent[i].le_size;
		if (s >= size && s <= most &&
		    (best == UINT32_MAX || s < lc->lc_ent[best].le_size))
			best = i;
	}
	kmem_large_t e = { 0, 0, 0 };
	if (best != UINT32_MAX)
		e = large_remove(lc, best);
	kmem_lock_exit(&lc->lc_lock);
	if (e.le_addr == 0)
		return (NULL);
	if (e.le_size > size)		/* the excess is not resident */
		kmem_plat_discard((void *)(e.le_addr + size),
		    e.le_size - size);
	*sizep = e.le_size;
	return ((void *)e.le_addr);
}

void
kmi_large_free(void *buf, size_t size)
{
	kmem_large_cache_t *lc = &kmem_large_cache;
	kmem_large_t out[KMEM_LARGE_SLOTS + 1];
	uint32_t nout = 0;
	size_t limit = large_limit();

	/* Larger than the whole cache, or someone waits for memory: vmem */
	/* must see it (and wake the waiter). */
	if (size > limit || vmi_memwait_active()) {
		out[nout++] = (kmem_large_t){ (uintptr_t)buf, size, 0 };
	} else {
		kmem_lock_enter(&lc->lc_lock);
		while (lc->lc_n > 0 && (lc->lc_n == KMEM_LARGE_SLOTS ||
		    lc->lc_bytes + size > limit))
			out[nout++] = large_remove(lc, 0);
		lc->lc_ent[lc->lc_n] = (kmem_large_t){ (uintptr_t)buf, size,
		    lc->lc_epoch };
		kmem_store_relaxed(&lc->lc_bytes, lc->lc_bytes + size);
		kmem_store_relaxed(&lc->lc_n, lc->lc_n + 1);
		kmem_lock_exit(&lc->lc_lock);
	}
	for (uint32_t i = 0; i < nout; i++)
		large_release(&out[i], limit);
}

/*
 * Give back every cached buffer (all: kmem_reap(), memory pressure), or
 * those that sat unused since the update before the last (the periodic
 * update).
 */
void
kmi_large_flush(bool all)
{
	kmem_large_cache_t *lc = &kmem_large_cache;
	kmem_large_t out[KMEM_LARGE_SLOTS];
	uint32_t nout = 0;

	kmem_lock_enter(&lc->lc_lock);
	if (!all)
		lc->lc_epoch++;
	for (uint32_t i = 0; i < lc->lc_n; ) {
		if (all || lc->lc_ent[i].le_epoch + 1 < lc->lc_epoch)
			out[nout++] = large_remove(lc, i);
		else
			i++;
	}
	kmem_lock_exit(&lc->lc_lock);
	for (uint32_t i = 0; i < nout; i++)
		large_release(&out[i], 0);
}

bool
kmi_large_holds(uintptr_t addr, size_t size)
{
	const kmem_large_cache_t *lc = &kmem_large_cache;

	for (uint32_t i = 0; i < lc->lc_n; i++)
		if (addr >= lc->lc_ent[i].le_addr && addr + size <=
		    lc->lc_ent[i].le_addr + lc->lc_ent[i].le_size)
			return (true);
	return (false);
}

void
kmi_large_fork(int phase)
{
	if (phase == VMEM_FORK_PREPARE)
		kmem_lock_enter(&kmem_large_cache.lc_lock);
	else if (phase == VMEM_FORK_PARENT)
		kmem_lock_exit(&kmem_large_cache.lc_lock);
	else
		kmem_lock_init(&kmem_large_cache.lc_lock);
}
