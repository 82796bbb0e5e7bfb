/*
 * vmem: a general-purpose resource allocator.
 *
 * Theory of operation
 * -------------------
 * Concepts.  An arena manages a set of integer ranges: addresses of memory,
 * or identifiers that are no memory at all.  Its unit is the quantum (a
 * power of two); every size, alignment and address it hands out is a
 * multiple of it.  The ranges it manages are spans, which come either from
 * vmem_add() or are imported on demand from a source (another arena, or a
 * function that asks the platform for pages).  A span is cut into segments,
 * each allocated or free.
 *
 * Data structures.  Every segment is on the arena list: a circular list in
 * which each span marker is followed by the segments of that span in
 * address order.  Spans follow one another in the order they were added,
 * so adding a span is constant time and segments never coalesce across
 * spans (an imported span must go back to its source whole).  A second
 * link, next-of-kin, puts each free segment on one of 64 freelists --
 * list n holds free segments of size [2^n, 2^(n+1)) -- and each allocated
 * segment on a hash chain keyed by its start address.  A bitmap says which
 * freelists are not empty.
 *
 * Allocation.  The default policy is instant fit: a request of size s is
 * served from the first non-empty list whose segments are all at least s
 * (list highbit(s)-1 if s is a power of two, else the one above), found
 * with one bit scan, so allocation is constant time however many segments
 * exist.  VM_BESTFIT searches from the list that may hold fits and takes
 * the smallest fitting segment of the first list that has one; VM_FIRSTFIT
 * takes the first fitting segment in that search; VM_NEXTFIT walks the
 * arena list from a rotor, so identifiers are reused as late as possible.
 * Constraints (align, phase, nocross, minaddr, maxaddr) are checked per
 * segment; an instant-fit request with constraints that the guaranteed
 * lists cannot meet falls back to the best-fit search.  The chosen free
 * segment is split into at most three: free head, allocated middle, free
 * tail.
 *
 * Free.  The hash gives the segment in constant time (the table grows as
 * soon as chains average two, and vmem_update() shrinks it when idle); it
 * is coalesced with free neighbours, and a span that becomes entirely free
 * and was imported goes back to its source.
 *
 * Import, sleep, fail.  When nothing fits, an arena with a source imports
 * a span large enough for the request under any alignment (the root arena
 * imports pages from the platform, within the memory budget: vmem_pages.c);
 * if that fails, or there is no source, the allocation runs the reclaim
 * hook once (kmem reaps its caches) unless it is VM_NOSLEEP|VM_NORMALPRI,
 * then fails if VM_NOSLEEP, or else waits until some memory or resource is
 * freed anywhere and tries again (vmem_memwait_*: no polling, no lost
 * wake-up).  A VM_SLEEP allocation in a context that the platform says
 * cannot sleep is reported and fails instead of hanging.
 *
 * Quantum caches.  An arena created with qcache_max > 0 fronts the sizes
 * quantum, 2*quantum, ... qcache_max with kmem object caches (reached
 * through vmi_hooks, set by kmem at start-up: vmem never calls up a
 * layer directly).  Those allocations get kmem's per-CPU magazines and
 * suffer no fragmentation; vmem_xalloc() and vmem_xfree() bypass them and
 * must be paired.
 *
 * Locking and context.  One lock per arena, vm_lock, protects everything
 * in it.  It is never held across calls to the source, the quantum caches
 * or the reclaim hook, so arenas may import from each other in any tree
 * shape.  Segment structures come from a per-arena reserve that is topped
 * up before an operation begins (vmem_seg.c).  VM_SLEEP allocations may
 * block; everything else never sleeps.  vk_mem_inuse and vk_mem_total are
 * stored atomically (kmem_counter_add()) under vm_lock, because
 * vmem_size() reads them without it.
 *
 * Invariants (vmi_is_valid() in vmem_seg.c checks them).
 *  1. The segments of each span tile it exactly, in address order.
 *  2. No two adjacent segments of a span are both free.
 *  3. Every free segment is on the freelist its size selects; the freemap
 *     mirrors which freelists are non-empty.
 *  4. The hash holds exactly the allocated segments, and the statistics
 *     vk_mem_inuse and vk_mem_total equal the allocated and spanned bytes.
 *  5. vm_nwhole counts the free segments that are whole imported spans,
 *     and vm_qdirect the allocated segments marked vs_direct.
 */
#include "vmem_impl.h"

kmem_lock_t vmem_list_lock = KMEM_LOCK_INIT;
vmem_t *vmem_list;
const vmem_hooks_t *vmi_hooks;

void
vmi_hooks_set(const vmem_hooks_t *hooks)
{
	vmi_hooks = hooks;
}

void
vmi_hook_wait(bool begin)
{
	if (vmi_hooks != NULL && vmi_hooks->vh_wait != NULL)
		vmi_hooks->vh_wait(begin);
}

/* Add a span and return its single free segment.  Reserve >= 2. */
static vmem_seg_t *
vmem_span_create(vmem_t *vmp, uintptr_t start, size_t size, bool import)
{
	vmem_seg_t *span = vmi_seg_get(vmp);
	vmem_seg_t *vsp = vmi_seg_get(vmp);

	span->vs_start = vsp->vs_start = start;
	span->vs_end = vsp->vs_end = start + size;
	span->vs_type = VMEM_SPAN;
	span->vs_import = import;
	vmem_arena_insert_after(vmp->vm_seg0.vs_aprev, span);
	vmem_arena_insert_after(span, vsp);
	vmi_freelist_insert(vmp, vsp);
	vmp->vm_nwhole += import;
	kmem_counter_add(&vmp->vm_kstat.vk_mem_total, size);
	if (vmp->vm_hi == 0 || start < vmp->vm_lo)
		kmem_store_relaxed(&vmp->vm_lo, start);
	if (start + size > vmp->vm_hi)
		kmem_store_relaxed(&vmp->vm_hi, start + size);
	if (import) {
		vmp->vm_kstat.vk_mem_import += size;
		vmp->vm_kstat.vk_import++;
	}
	return (vsp);
}

/* A VM_SLEEP request may wait here (not in an interrupt, nor in reclaim). */
static bool
vmem_may_sleep(void)
{
	return (kmem_plat_may_sleep() && (vmi_hooks == NULL ||
	    vmi_hooks->vh_reclaiming == NULL || !vmi_hooks->vh_reclaiming()));
}

/* ---- fitting ---- */

typedef struct vmem_req {
	size_t		vr_size;
	size_t		vr_align;
	size_t		vr_phase;
	size_t		vr_nocross;
	uintptr_t	vr_min;
	uintptr_t	vr_max;		/* exclusive; 0 means no limit */
	bool		vr_end;		/* VM_ENDALLOC: prefer high */
	bool		vr_plain;	/* no constraint beyond the quantum */
} vmem_req_t;

/* Lowest (or highest) address in vsp that satisfies the request, or 0. */
static uintptr_t
vmem_fit(const vmem_req_t *r, const vmem_seg_t *vsp)
{
	uintptr_t start = kmem_max(vsp->vs_start, r->vr_min);
	uintptr_t end = vsp->vs_end;
	uintptr_t addr;

	if (r->vr_max != 0 && r->vr_max < end)
		end = r->vr_max;
	if (start >= end || end - start < r->vr_size)
		return (0);
	if (!r->vr_end) {
		addr = start + P2PHASE(r->vr_phase - start, r->vr_align);
		if (r->vr_nocross != 0 &&
		    P2CROSS(addr, addr + r->vr_size - 1, r->vr_nocross)) {
			addr = P2ALIGN(addr + r->vr_size - 1, r->vr_nocross);
			addr += P2PHASE(r->vr_phase - addr, r->vr_align);
		}
		if (addr < start || addr > end || end - addr < r->vr_size)
			return (0);
	} else {
		addr = end - r->vr_size;
		addr -= P2PHASE(addr - r->vr_phase, r->vr_align);
		if (r->vr_nocross != 0 &&
		    P2CROSS(addr, addr + r->vr_size - 1, r->vr_nocross)) {
			addr = P2ALIGN(addr + r->vr_size - 1, r->vr_nocross) -
			    r->vr_size;
			addr -= P2PHASE(addr - r->vr_phase, r->vr_align);
		}
		if (addr < start || addr > end - r->vr_size)
			return (0);
	}
	if (r->vr_nocross != 0 &&
	    P2CROSS(addr, addr + r->vr_size - 1, r->vr_nocross))
		return (0);
	return (addr);
}

/* Search freelists from list `first` upwards; best picks the smallest. */
static vmem_seg_t *
vmem_search(vmem_t *vmp, const vmem_req_t *r, int first, bool best,
    uintptr_t *addrp)
{
	uint64_t map = first >= VMEM_FREELISTS ? 0 :
	    vmp->vm_freemap & ~(((uint64_t)1 << first) - 1);

	while (map != 0) {
		int n = lowbit(map) - 1;
		vmem_seg_t *found = NULL;
		map &= map - 1;
		for (vmem_seg_t *vsp = vmp->vm_freelist[n]; vsp != NULL;
		    vsp = vsp->vs_knext) {
			vmp->vm_kstat.vk_search++;
			uintptr_t addr = vmem_fit(r, vsp);
			if (addr == 0)
				continue;
			if (found == NULL || vs_size(vsp) < vs_size(found)) {
				found = vsp;
				*addrp = addr;
			}
			if (!best)
				break;
		}
		if (found != NULL)
			return (found);
	}
	return (NULL);
}

static vmem_seg_t *
vmem_find(vmem_t *vmp, const vmem_req_t *r, int vmflag, uintptr_t *addrp)
{
	int floor = vmi_freelist_index(r->vr_size);

	if ((vmflag & (VM_BESTFIT | VM_FIRSTFIT)) == 0) {
		/* Instant fit: lists whose every member is big enough. */
		size_t need = r->vr_size;
		if (r->vr_align > vmp->vm_quantum)
			need += r->vr_align - vmp->vm_quantum;
		int first = IS_P2(need) ? vmi_freelist_index(need) :
		    vmi_freelist_index(need) + 1;
		uint64_t map = first >= VMEM_FREELISTS ? 0 :
		    vmp->vm_freemap & ~(((uint64_t)1 << first) - 1);
		if (r->vr_plain && map != 0) {
			vmem_seg_t *vsp = vmp->vm_freelist[lowbit(map) - 1];
			vmp->vm_kstat.vk_search++;
			*addrp = r->vr_end ? vsp->vs_end - r->vr_size :
			    vsp->vs_start;
			return (vsp);
		}
		vmem_seg_t *vsp = vmem_search(vmp, r, first, false, addrp);
		if (vsp != NULL || first == floor)
			return (vsp);
		return (vmem_search(vmp, r, floor, true, addrp));
	}
	return (vmem_search(vmp, r, floor, (vmflag & VM_BESTFIT) != 0, addrp));
}

/* Next fit: walk the arena list from the rotor. */
static vmem_seg_t *
vmem_find_next(vmem_t *vmp, const vmem_req_t *r, uintptr_t *addrp)
{
	vmem_seg_t *rotor = &vmp->vm_rotor;

	for (vmem_seg_t *vsp = rotor->vs_anext; vsp != rotor;
	    vsp = vsp->vs_anext) {
		if (vsp->vs_type != VMEM_FREE)
			continue;
		vmp->vm_kstat.vk_search++;
		if ((*addrp = vmem_fit(r, vsp)) != 0)
			return (vsp);
	}
	return (NULL);
}

/*
 * Move the rotor to just after allocated segment vsp.  The rotor keeps the
 * free segments on either side of it apart; once it leaves, they merge.
 */
static void
vmem_rotor_move(vmem_t *vmp, vmem_seg_t *vsp)
{
	vmem_seg_t *rotor = &vmp->vm_rotor;
	vmem_seg_t *prev = rotor->vs_aprev, *next = rotor->vs_anext;

	vmem_arena_remove(rotor);
	if (prev->vs_type == VMEM_FREE && next->vs_type == VMEM_FREE) {
		vmi_freelist_delete(vmp, prev);
		vmi_freelist_delete(vmp, next);
		vmem_arena_remove(next);
		prev->vs_end = next->vs_end;
		vmi_seg_put(vmp, next);
		vmi_freelist_insert(vmp, prev);
		vmp->vm_nwhole += vmem_seg_is_whole(prev);
	}
	vmem_arena_insert_after(vsp, rotor);
}

/* Carve [addr, addr+size) out of free segment vsp.  Reserve >= 2. */
static void
vmem_seg_alloc(vmem_t *vmp, vmem_seg_t *vsp, uintptr_t addr, size_t size)
{
	vmp->vm_nwhole -= vmem_seg_is_whole(vsp);
	vmi_freelist_delete(vmp, vsp);
	if (addr + size < vsp->vs_end) {
		vmem_seg_t *tail = vmi_seg_get(vmp);
		tail->vs_start = addr + size;
		tail->vs_end = vsp->vs_end;
		vmem_arena_insert_after(vsp, tail);
		vmi_freelist_insert(vmp, tail);
		vsp->vs_end = addr + size;
	}
	if (addr > vsp->vs_start) {
		vmem_seg_t *head = vmi_seg_get(vmp);
		head->vs_start = vsp->vs_start;
		head->vs_end = addr;
		vmem_arena_insert_after(vsp->vs_aprev, head);
		vmi_freelist_insert(vmp, head);
		vsp->vs_start = addr;
	}
	vmi_hash_insert(vmp, vsp);
	vsp->vs_direct = 0;
	kmem_counter_add(&vmp->vm_kstat.vk_mem_inuse, size);
	vmp->vm_kstat.vk_alloc++;
}

/*
 * The size of a span that holds r under any alignment, and the alignment
 * to ask the source for; 0 if it overflows.
 */
static size_t
vmem_import_size(const vmem_t *vmp, const vmem_req_t *r, size_t *alignp)
{
	size_t squantum = vmp->vm_source != NULL ?
	    vmp->vm_source->vm_quantum : kmem_plat_pagesize();
	size_t align = kmem_max(r->vr_align, squantum);
	size_t need = r->vr_size + r->vr_phase;
	size_t size = P2ROUNDUP(need, align);

	*alignp = align;
	if (need < r->vr_size || size < need)
		return (0);			/* wrapped */
	if (r->vr_align > squantum && !(vmp->vm_cflags & VMC_XALIGN)) {
		size += r->vr_align - squantum;
		if (size < r->vr_align - squantum)
			return (0);
	}
	size_t rounded = P2ROUNDUP(kmem_max(size, vmp->vm_min_import),
	    squantum);
	return (rounded < size ? 0 : rounded);
}

/* Import a span big enough for r from the source.  vm_lock not held. */
static bool
vmem_import(vmem_t *vmp, const vmem_req_t *r, int vmflag, uintptr_t *startp,
    size_t *sizep)
{
	size_t align;
	size_t size = vmem_import_size(vmp, r, &align);
	void *va;

	if (size == 0)
		return (false);		/* overflow */
	/*
	 * Never wait inside the source: this arena's frees (of quantum-cached
	 * sizes above all) never reach the source, so the waiting is done in
	 * vmi_xalloc_req(), which retries everything on any free anywhere.
	 */
	vmflag = (vmflag & VM_PUSHPAGE) | VM_NOSLEEP | VM_NORMALPRI;
	if (vmp->vm_ximport) {
		va = vmp->vm_source_alloc(vmp->vm_source, &size, align, vmflag);
	} else {
		vmem_alloc_t *afunc = (vmem_alloc_t *)(void *)vmp->vm_source_alloc;
		va = afunc(vmp->vm_source, size, vmflag);
	}
	if (va == NULL)
		return (false);
	*startp = (uintptr_t)va;
	*sizep = size;
	return (true);
}

/*
 * Why r could never be satisfied, even if everything were freed, or NULL
 * if it could: no span of an arena without a source fits it, or the
 * spans an arena would import are larger than the memory budget (the root
 * arena) or than its source could ever give.  Custom import functions
 * are taken to succeed some day.  Called without vm_lock.
 */
static const char *
vmem_never_reason(vmem_t *vmp, const vmem_req_t *r, int vmflag)
{
	bool fits = false;

	kmem_lock_enter(&vmp->vm_lock);
	for (vmem_seg_t *vsp = vmp->vm_seg0.vs_anext; vsp != &vmp->vm_seg0 &&
	    !fits; vsp = vsp->vs_anext)
		fits = vsp->vs_type == VMEM_SPAN && vmem_fit(r, vsp) != 0;
	kmem_lock_exit(&vmp->vm_lock);
	if (fits)
		return (NULL);
	if (vmp->vm_source_alloc == NULL)
		return ("no span of the arena can hold it");

	size_t align;
	size_t size = vmem_import_size(vmp, r, &align);
	if (size == 0)
		return ("its size overflows");
	if (vmp->vm_source_alloc == vmi_pages_import)
		return (vmi_pages_within_budget(size, vmflag) ? NULL :
		    "larger than the memory budget");
	if (vmp->vm_source_alloc != vmi_xalloc_import &&
	    vmp->vm_source_alloc != (vmem_ximport_t *)(void *)vmem_alloc)
		return (NULL);
	vmem_req_t sr = { .vr_size = size, .vr_align = align };
	return (vmem_never_reason(vmp->vm_source, &sr, vmflag));
}

/* Whether size bytes at align could ever be had from vmp (kmem's waits). */
bool
vmi_can_ever_alloc(vmem_t *vmp, size_t size, size_t align, int vmflag)
{
	vmem_req_t r = { .vr_size = P2ROUNDUP(size, vmp->vm_quantum),
	    .vr_align = kmem_max(align, vmp->vm_quantum) };

	return (r.vr_size >= size && vmem_never_reason(vmp, &r, vmflag) ==
	    NULL);
}

static void
vmem_check_params(vmem_t *vmp, const vmem_req_t *r)
{
	size_t q = vmp->vm_quantum;

	if (r->vr_size == 0)
		kmi_panic("vmem_xalloc(%p, %zu, %zu, %zu, %zu): size == 0",
		    (void *)vmp, r->vr_size, r->vr_align, r->vr_phase,
		    r->vr_nocross);
	if ((r->vr_align | r->vr_phase | r->vr_nocross) & (q - 1))
		kmi_panic("vmem_xalloc(%p, %zu, %zu, %zu, %zu): parameters "
		    "not vm_quantum aligned", (void *)vmp, r->vr_size,
		    r->vr_align, r->vr_phase, r->vr_nocross);
	if (!IS_P2(r->vr_align) || !IS_P2(r->vr_nocross) ||
	    r->vr_phase >= r->vr_align ||
	    (r->vr_max != 0 && r->vr_min >= r->vr_max) ||
	    ((r->vr_min | r->vr_max) & (q - 1)))
		kmi_panic("vmem_xalloc(%p, %zu, %zu, %zu, %zu, %p, %p): "
		    "parameters inconsistent or invalid", (void *)vmp,
		    r->vr_size, r->vr_align, r->vr_phase, r->vr_nocross,
		    (void *)r->vr_min, (void *)r->vr_max);
	if (r->vr_nocross != 0 &&
	    r->vr_size + P2PHASE(r->vr_phase, r->vr_align) > r->vr_nocross)
		kmi_panic("vmem_xalloc(%p, %zu, %zu, %zu, %zu): "
		    "overconstrained allocation", (void *)vmp, r->vr_size,
		    r->vr_align, r->vr_phase, r->vr_nocross);
}

/*
 * One attempt at r: a free segment, else a span imported from the source.
 * vm_lock held (dropped around the source's functions).  Returns the
 * allocated segment, or NULL; *retryp says whether retained spans just
 * went back to the source, so that another attempt may succeed at once.
 */
static vmem_seg_t *
vmem_attempt(vmem_t *vmp, const vmem_req_t *r, int vmflag, bool *retryp)
{
	vmem_seg_t *vsp = NULL;
	uintptr_t addr = 0, start;
	size_t ssize;

	*retryp = false;
	if (!vmi_seg_reserve(vmp, VMEM_MINFREE)) {
		/* No memory for segment structures: retained spans hold it. */
		kmem_lock_exit(&vmp->vm_lock);
		*retryp = vmi_release_all_retained();
		kmem_lock_enter(&vmp->vm_lock);
		return (NULL);
	}
	vsp = (vmflag & VM_NEXTFIT) ? vmem_find_next(vmp, r, &addr) :
	    vmem_find(vmp, r, vmflag, &addr);
	if (vsp != NULL) {
		vmem_seg_alloc(vmp, vsp, addr, r->vr_size);
		if (vmflag & VM_NEXTFIT)
			vmem_rotor_move(vmp, vsp);
		return (vsp);
	}
	if (vmp->vm_source_alloc == NULL || vmp->vm_nsegfree < VMEM_MINFREE)
		return (NULL);
	kmem_lock_exit(&vmp->vm_lock);
	bool ok = vmem_import(vmp, r, vmflag, &start, &ssize);
	kmem_lock_enter(&vmp->vm_lock);
	if (!ok) {
		*retryp = vmi_release_retained(vmp);
		return (NULL);
	}
	if (vmi_seg_reserve(vmp, VMEM_MINFREE)) {
		vsp = vmem_span_create(vmp, start, ssize, true);
		if ((addr = vmem_fit(r, vsp)) != 0) {
			vmem_seg_alloc(vmp, vsp, addr, r->vr_size);
			return (vsp);
		}
		/* The span cannot meet the constraints. */
		VERIFY(vmi_span_release(vmp, vsp, &start, &ssize));
	}
	kmem_lock_exit(&vmp->vm_lock);
	vmp->vm_source_free(vmp->vm_source, (void *)start, ssize);
	kmem_lock_enter(&vmp->vm_lock);
	return (NULL);
}

/*
 * Allocate r: attempt; reclaim once (unless VM_NOSLEEP|VM_NORMALPRI);
 * then fail (VM_NOSLEEP) or wait for memory and attempt again.  qcache,
 * when not NULL, is the quantum cache that could not serve this request:
 * a segment the arena serves is marked vs_direct, and while waiting a
 * buffer freed to that cache serves as well.
 */
static void *
vmem_xalloc_req(vmem_t *vmp, const vmem_req_t *r, int vmflag, void *qcache)
{
	bool reclaimed = false, waiting = false, retry;
	uint64_t gen = 0;
	void *va = NULL;

	kmem_lock_enter(&vmp->vm_lock);
	for (;;) {
		vmem_seg_t *vsp = vmem_attempt(vmp, r, vmflag, &retry);
		if (vsp != NULL) {
			if (qcache != NULL) {
				vsp->vs_direct = 1;
				kmem_store_relaxed(&vmp->vm_qdirect,
				    vmp->vm_qdirect + 1);
			}
			va = (void *)vsp->vs_start;
			break;
		}
		if (retry)
			continue;
		if (!reclaimed && (vmflag & (VM_NOSLEEP | VM_NORMALPRI)) !=
		    (VM_NOSLEEP | VM_NORMALPRI) && vmi_hooks != NULL &&
		    vmi_hooks->vh_reclaim != NULL) {
			reclaimed = true;
			kmem_lock_exit(&vmp->vm_lock);
			vmi_hooks->vh_reclaim(vmflag);
			kmem_lock_enter(&vmp->vm_lock);
			continue;
		}
		if (waiting && qcache != NULL) {
			kmem_lock_exit(&vmp->vm_lock);
			va = vmi_hooks->vh_qcache_alloc(qcache,
			    (vmflag & VM_PUSHPAGE) | VM_NOSLEEP | VM_NORMALPRI);
			kmem_lock_enter(&vmp->vm_lock);
			if (va != NULL)
				break;
		}
		if ((vmflag & VM_NOSLEEP) || !vmem_may_sleep()) {
			vmp->vm_kstat.vk_fail++;
			kmem_lock_exit(&vmp->vm_lock);
			if (waiting)
				vmi_memwait_exit();
			if (!(vmflag & VM_NOSLEEP))
				kmi_warn("vmem_xalloc('%s', %zu): VM_SLEEP "
				    "allocation in a context that cannot sleep "
				    "(an interrupt, or a reclaim callback)",
				    vmp->vm_name, r->vr_size);
			if (vmflag & VM_PANIC)
				kmi_panic("vmem_xalloc('%s', %zu): cannot "
				    "satisfy mandatory allocation", vmp->vm_name,
				    r->vr_size);
			return (NULL);
		}
		/* Register first, try once more, then sleep (vmem_pages.c). */
		kmem_lock_exit(&vmp->vm_lock);
		if (!waiting) {
			const char *never = vmem_never_reason(vmp, r, vmflag);
			if (never != NULL)
				kmi_panic("vmem_xalloc('%s', %zu, %zu, %zu, %zu, "
				    "%p, %p, VM_SLEEP): can never be satisfied: "
				    "%s", vmp->vm_name, r->vr_size, r->vr_align,
				    r->vr_phase, r->vr_nocross, (void *)r->vr_min,
				    (void *)r->vr_max, never);
			vmi_memwait_enter(&gen);
			waiting = true;
		} else {
			vmp->vm_kstat.vk_wait++;
			vmi_memwait_sleep(&gen);
		}
		kmem_lock_enter(&vmp->vm_lock);
	}
	ASSERT_EXPENSIVE(vmi_is_valid(vmp));
	kmem_lock_exit(&vmp->vm_lock);
	if (waiting)
		vmi_memwait_exit();
	return (va);
}

void *
vmem_xalloc(vmem_t *vmp, size_t size, size_t align, size_t phase,
    size_t nocross, void *minaddr, void *maxaddr, int vmflag)
{
	vmem_req_t r = {
		.vr_size = P2ROUNDUP(size, vmp->vm_quantum),
		.vr_align = align == 0 ? vmp->vm_quantum : align,
		.vr_phase = phase, .vr_nocross = nocross,
		.vr_min = (uintptr_t)minaddr, .vr_max = (uintptr_t)maxaddr,
		.vr_end = (vmflag & VM_ENDALLOC) != 0,
	};

	r.vr_plain = r.vr_align <= vmp->vm_quantum && phase == 0 &&
	    nocross == 0 && r.vr_min == 0 && r.vr_max == 0;
	if (size == 0 || r.vr_size < size)
		r.vr_size = size;	/* let the checks report it */
	vmem_check_params(vmp, &r);
	return (vmem_xalloc_req(vmp, &r, vmflag, NULL));
}

void
vmem_xfree(vmem_t *vmp, void *vaddr, size_t size)
{
	uintptr_t start;
	size_t ssize;
	bool release;

	size = P2ROUNDUP(size, vmp->vm_quantum);
	kmem_lock_enter(&vmp->vm_lock);
	vmem_seg_t *vsp = vmi_hash_delete(vmp, (uintptr_t)vaddr, size);
	if (vsp->vs_direct)
		kmem_store_relaxed(&vmp->vm_qdirect, vmp->vm_qdirect - 1);
	kmem_counter_add(&vmp->vm_kstat.vk_mem_inuse, -(uint64_t)size);
	vmp->vm_kstat.vk_free++;

	vmem_seg_t *next = vsp->vs_anext;
	if (next->vs_type == VMEM_FREE) {
		vmi_freelist_delete(vmp, next);
		vmem_arena_remove(next);
		vsp->vs_end = next->vs_end;
		vmi_seg_put(vmp, next);
	}
	vmem_seg_t *prev = vsp->vs_aprev;
	if (prev->vs_type == VMEM_FREE) {
		vmi_freelist_delete(vmp, prev);
		vmem_arena_remove(prev);
		vsp->vs_start = prev->vs_start;
		vmi_seg_put(vmp, prev);
	}
	vmi_freelist_insert(vmp, vsp);
	vmp->vm_nwhole += vmem_seg_is_whole(vsp);
	release = !(vmp->vm_cflags & VMC_RETAIN) &&
	    vmi_span_release(vmp, vsp, &start, &ssize);
	ASSERT_EXPENSIVE(vmi_is_valid(vmp));
	kmem_lock_exit(&vmp->vm_lock);
	if (release)
		vmp->vm_source_free(vmp->vm_source, (void *)start, ssize);
	vmi_memwait_signal();
}

void *
vmem_alloc(vmem_t *vmp, size_t size, int vmflag)
{
	if (size - 1 < vmp->vm_qcache_max) {
		/*
		 * The quantum cache, without waiting or reclaiming; if it
		 * cannot serve (its slabs no longer fit: the arena's last
		 * segments are in pieces, or memory is short), the arena
		 * serves the request itself with the caller's flags.
		 */
		void *cache = vmp->vm_qcache[(size - 1) >> vmp->vm_qshift];
		void *va = vmi_hooks->vh_qcache_alloc(cache,
		    (vmflag & (VM_PUSHPAGE | KMI_POPULATE)) | VM_NOSLEEP |
		    VM_NORMALPRI);
		if (KMEM_LIKELY(va != NULL))
			return (va);
		vmem_req_t r = { .vr_size = P2ROUNDUP(size, vmp->vm_quantum),
		    .vr_align = vmp->vm_quantum, .vr_plain = true };
		return (vmem_xalloc_req(vmp, &r, vmflag, cache));
	}
	return (vmem_xalloc(vmp, size, vmp->vm_quantum, 0, 0, NULL, NULL,
	    vmflag));
}

/*
 * A free of a quantum-cache size: first the cheap checks that need no
 * lock (inside the arena's spans, on a quantum boundary), then a segment
 * the arena served itself goes back to it.  Under KMEM_DEBUG the quantum
 * caches have no magazines, so the slab layer checks every free fully.
 */
static void
vmem_qcache_free(vmem_t *vmp, void *vaddr, size_t size)
{
	uintptr_t addr = (uintptr_t)vaddr;

	if (addr < kmem_load_relaxed(&vmp->vm_lo) ||
	    addr + size > kmem_load_relaxed(&vmp->vm_hi) ||
	    P2PHASE(addr, vmp->vm_quantum) != 0)
		kmi_panic("vmem_free('%s', %p, %zu): bad free: not a segment "
		    "of the arena", vmp->vm_name, vaddr, size);
	if (KMEM_UNLIKELY(kmem_load_relaxed(&vmp->vm_qdirect) != 0)) {
		kmem_lock_enter(&vmp->vm_lock);
		vmem_seg_t *vsp = vmi_hash_find(vmp, addr);
		bool direct = vsp != NULL && vsp->vs_direct;
		kmem_lock_exit(&vmp->vm_lock);
		if (direct) {
			vmem_xfree(vmp, vaddr, size);
			return;
		}
	}
	vmi_hooks->vh_qcache_free(vmp->vm_qcache[(size - 1) >> vmp->vm_qshift],
	    vaddr);
}

void
vmem_free(vmem_t *vmp, void *vaddr, size_t size)
{
	if (size - 1 < vmp->vm_qcache_max)
		vmem_qcache_free(vmp, vaddr, size);
	else
		vmem_xfree(vmp, vaddr, size);
}

/* An import function for arenas whose spans must honour an alignment. */
void *
vmi_xalloc_import(vmem_t *src, size_t *sizep, size_t align, int vmflag)
{
	return (vmem_xalloc(src, *sizep, align, 0, 0, NULL, NULL, vmflag));
}

/*
 * Add [vaddr, vaddr+size) to the arena.  A span that wraps around the
 * address space or overlaps one of the arena's spans is a programming
 * error: every address in the overlap would be handed out twice.
 */
void *
vmem_add(vmem_t *vmp, void *vaddr, size_t size, int vmflag)
{
	uintptr_t start = (uintptr_t)vaddr, end = start + size;

	(void)vmflag;
	if (vaddr == NULL || size == 0)
		kmi_panic("vmem_add('%s', %p, %zu): bad arguments",
		    vmp->vm_name, vaddr, size);
	if (P2PHASE(start | size, vmp->vm_quantum) != 0)
		kmi_panic("vmem_add('%s', %p, %zu): misaligned", vmp->vm_name,
		    vaddr, size);
	if (end <= start)
		kmi_panic("vmem_add('%s', %p, %zu): span wraps around the "
		    "address space", vmp->vm_name, vaddr, size);
	kmem_lock_enter(&vmp->vm_lock);
	for (vmem_seg_t *vsp = vmp->vm_seg0.vs_anext; vsp != &vmp->vm_seg0;
	    vsp = vsp->vs_anext)
		if (vsp->vs_type == VMEM_SPAN && start < vsp->vs_end &&
		    vsp->vs_start < end)
			kmi_panic("vmem_add('%s', %p, %zu): overlaps span "
			    "[%p, %p)", vmp->vm_name, vaddr, size,
			    (void *)vsp->vs_start, (void *)vsp->vs_end);
	if (!vmi_seg_reserve(vmp, VMEM_MINFREE)) {
		kmem_lock_exit(&vmp->vm_lock);
		return (NULL);
	}
	vmem_span_create(vmp, start, size, false);
	kmem_lock_exit(&vmp->vm_lock);
	vmi_memwait_signal();
	return (vaddr);
}

int
vmem_contains(vmem_t *vmp, void *vaddr, size_t size)
{
	uintptr_t start = (uintptr_t)vaddr, end = start + size;
	int found = 0;

	kmem_lock_enter(&vmp->vm_lock);
	for (vmem_seg_t *vsp = vmp->vm_seg0.vs_anext; vsp != &vmp->vm_seg0;
	    vsp = vsp->vs_anext) {
		if (vsp->vs_type == VMEM_SPAN && start >= vsp->vs_start &&
		    end <= vsp->vs_end && end > start) {
			found = 1;
			break;
		}
	}
	kmem_lock_exit(&vmp->vm_lock);
	return (found);
}

void
vmem_walk(vmem_t *vmp, int typemask,
    void (*func)(void *arg, void *vaddr, size_t size), void *arg)
{
	kmem_lock_enter(&vmp->vm_lock);
	if (!vmi_seg_reserve(vmp, VMEM_MINFREE + 1)) {
		kmem_lock_exit(&vmp->vm_lock);
		return;
	}
	vmem_seg_t *walker = vmi_seg_get(vmp);
	walker->vs_type = VMEM_WALKER;
	vmem_arena_insert_after(&vmp->vm_seg0, walker);
	while (walker->vs_anext != &vmp->vm_seg0) {
		vmem_seg_t *vsp = walker->vs_anext;
		vmem_arena_remove(walker);
		vmem_arena_insert_after(vsp, walker);
		if (!(vsp->vs_type & typemask & (VMEM_ALLOC | VMEM_FREE |
		    VMEM_SPAN)))
			continue;
		uintptr_t start = vsp->vs_start;
		size_t size = vs_size(vsp);
		if (typemask & VMEM_REENTRANT) {
			kmem_lock_exit(&vmp->vm_lock);
			func(arg, (void *)start, size);
			kmem_lock_enter(&vmp->vm_lock);
		} else {
			func(arg, (void *)start, size);
		}
	}
	vmem_arena_remove(walker);
	vmi_seg_put(vmp, walker);
	kmem_lock_exit(&vmp->vm_lock);
}

size_t
vmem_size(vmem_t *vmp, int typemask)
{
	uint64_t size = 0;

	if (typemask & VMEM_ALLOC)
		size += kmem_load_relaxed(&vmp->vm_kstat.vk_mem_inuse);
	if (typemask & VMEM_FREE)
		size += kmem_load_relaxed(&vmp->vm_kstat.vk_mem_total) -
		    kmem_load_relaxed(&vmp->vm_kstat.vk_mem_inuse);
	return ((size_t)size);
}
