/*
 * vmem segment mechanics: where segment structures come from, the
 * power-of-two freelists, and the hash of allocated segments.  The theory
 * statement for vmem is at the top of vmem.c.
 *
 * Segment supply.  Segments are carved from pages mapped straight from the
 * platform into one global pool (a leaf lock).  Each arena keeps a private
 * reserve and tops it up to VMEM_MINFREE before an operation, so that once
 * an operation has started under vm_lock it never runs out of segments
 * half-way through a split.
 */
#include "vmem_impl.h"

#define VMEM_SEG_CHUNK	(64 * 1024)

static kmem_lock_t vmem_segpool_lock = KMEM_LOCK_INIT;
static vmem_seg_t *vmem_segpool;	/* given back, by vs_knext */
/* The newest chunk's segments never handed out: touched only when taken */
/* (a chunk linked whole made 64 KiB resident at start-up). */
static vmem_seg_t *vmem_segpool_next, *vmem_segpool_end;
/*
 * Every chunk of segments, linked through its first segment (by
 * vs_anext), which spans the chunk: a debugger's root, and memory a leak
 * scan must not read as pointers (segments name buffers).  Chunks are
 * never unmapped.
 */
vmem_seg_t *vmem_seg_chunks;

/* vmem's own structures: counted in the budget, may use the reserve. */
void *
vmi_meta_alloc(size_t size)
{
	return (vmi_pages_map(P2ROUNDUP(size, kmem_plat_pagesize()), 0,
	    VM_PUSHPAGE));
}

void
vmi_meta_free(void *p, size_t size)
{
	vmi_pages_unmap(p, P2ROUNDUP(size, kmem_plat_pagesize()));
}

static bool
vmem_segpool_refill(void)
{
	vmem_seg_t *chunk = vmi_meta_alloc(VMEM_SEG_CHUNK);
	size_t n = VMEM_SEG_CHUNK / sizeof (vmem_seg_t);

	if (chunk == NULL)
		return (false);
	chunk[0].vs_start = (uintptr_t)chunk;
	chunk[0].vs_end = (uintptr_t)chunk + VMEM_SEG_CHUNK;
	chunk[0].vs_anext = vmem_seg_chunks;
	vmem_seg_chunks = &chunk[0];
	vmem_segpool_next = &chunk[1];
	vmem_segpool_end = &chunk[n];
	return (true);
}

/* A segment from the pool, or NULL.  vmem_segpool_lock held. */
static vmem_seg_t *
vmem_segpool_take(void)
{
	vmem_seg_t *vsp = vmem_segpool;

	if (vsp != NULL) {
		vmem_segpool = vsp->vs_knext;
		return (vsp);
	}
	if (vmem_segpool_next == vmem_segpool_end && !vmem_segpool_refill())
		return (NULL);
	return (vmem_segpool_next++);
}

kmem_lock_t *
vmi_segpool_lockp(void)
{
	return (&vmem_segpool_lock);
}

/* Top the arena's reserve up to n segments.  Called with vm_lock held. */
bool
vmi_seg_reserve(vmem_t *vmp, unsigned n)
{
	if (vmp->vm_nsegfree >= n)
		return (true);
	kmem_lock_enter(&vmem_segpool_lock);
	while (vmp->vm_nsegfree < n) {
		vmem_seg_t *vsp = vmem_segpool_take();
		if (vsp == NULL)
			break;
		vsp->vs_knext = vmp->vm_segfree;
		vmp->vm_segfree = vsp;
		vmp->vm_nsegfree++;
	}
	kmem_lock_exit(&vmem_segpool_lock);
	return (vmp->vm_nsegfree >= n);
}

vmem_seg_t *
vmi_seg_get(vmem_t *vmp)
{
	vmem_seg_t *vsp = vmp->vm_segfree;

	VERIFY(vsp != NULL);
	vmp->vm_segfree = vsp->vs_knext;
	vmp->vm_nsegfree--;
	memset(vsp, 0, sizeof (*vsp));
	return (vsp);
}

void
vmi_seg_put(vmem_t *vmp, vmem_seg_t *vsp)
{
	vsp->vs_type = 0;
	vsp->vs_knext = vmp->vm_segfree;
	vmp->vm_segfree = vsp;
	vmp->vm_nsegfree++;
}

/* Give the arena's whole reserve back to the global pool. */
void
vmi_seg_release_all(vmem_t *vmp)
{
	kmem_lock_enter(&vmem_segpool_lock);
	while (vmp->vm_segfree != NULL) {
		vmem_seg_t *vsp = vmp->vm_segfree;
		vmp->vm_segfree = vsp->vs_knext;
		vsp->vs_knext = vmem_segpool;
		vmem_segpool = vsp;
	}
	vmp->vm_nsegfree = 0;
	kmem_lock_exit(&vmem_segpool_lock);
}

/* ---- freelists: vm_freelist[n] holds free segments of [2^n, 2^(n+1)) ---- */

int
vmi_freelist_index(size_t size)
{
	return (highbit(size) - 1);
}

void
vmi_freelist_insert(vmem_t *vmp, vmem_seg_t *vsp)
{
	int n = vmi_freelist_index(vs_size(vsp));

	vsp->vs_type = VMEM_FREE;
	vsp->vs_kprev = NULL;
	vsp->vs_knext = vmp->vm_freelist[n];
	if (vsp->vs_knext != NULL)
		vsp->vs_knext->vs_kprev = vsp;
	vmp->vm_freelist[n] = vsp;
	vmp->vm_freemap |= (uint64_t)1 << n;
}

void
vmi_freelist_delete(vmem_t *vmp, vmem_seg_t *vsp)
{
	int n = vmi_freelist_index(vs_size(vsp));

	ASSERT(vsp->vs_type == VMEM_FREE);
	if (vsp->vs_kprev != NULL)
		vsp->vs_kprev->vs_knext = vsp->vs_knext;
	else
		vmp->vm_freelist[n] = vsp->vs_knext;
	if (vsp->vs_knext != NULL)
		vsp->vs_knext->vs_kprev = vsp->vs_kprev;
	if (vmp->vm_freelist[n] == NULL)
		vmp->vm_freemap &= ~((uint64_t)1 << n);
	vsp->vs_knext = vsp->vs_kprev = NULL;
}

/* ---- hash of allocated segments ---- */

static inline vmem_seg_t **
vmem_hash_bucket(vmem_t *vmp, uintptr_t addr)
{
	int s = vmp->vm_hash_shift;
	uintptr_t h = (addr + (addr >> s) + (addr >> (2 * s))) >> vmp->vm_qshift;
	return (&vmp->vm_hash_table[h & vmp->vm_hash_mask]);
}

void
vmi_hash_insert(vmem_t *vmp, vmem_seg_t *vsp)
{
	vmem_seg_t **bucket = vmem_hash_bucket(vmp, vsp->vs_start);

	vsp->vs_type = VMEM_ALLOC;
	vsp->vs_knext = *bucket;
	*bucket = vsp;
	vmp->vm_nbusy++;
	/* Grow as soon as chains average two: free stays constant time. */
	if (vmp->vm_nbusy > 2 * (vmp->vm_hash_mask + 1))
		vmi_hash_rescale(vmp, 4 * (vmp->vm_hash_mask + 1));
}

/* The allocated segment that starts at addr, or NULL; vm_lock held. */
vmem_seg_t *
vmi_hash_find(vmem_t *vmp, uintptr_t addr)
{
	vmem_seg_t *vsp = *vmem_hash_bucket(vmp, addr);

	while (vsp != NULL && vsp->vs_start != addr)
		vsp = vsp->vs_knext;
	return (vsp);
}

/* Unhash the segment [addr, addr+size); panics on a bad free. */
vmem_seg_t *
vmi_hash_delete(vmem_t *vmp, uintptr_t addr, size_t size)
{
	vmem_seg_t **prev = vmem_hash_bucket(vmp, addr);
	vmem_seg_t *vsp;

	for (vsp = *prev; vsp != NULL; vsp = vsp->vs_knext) {
		vmp->vm_kstat.vk_lookup++;
		if (vsp->vs_start == addr)
			break;
		prev = &vsp->vs_knext;
	}
	if (vsp == NULL)
		kmi_panic("vmem_free('%s', %p, %zu): bad free: no segment "
		    "allocated there", vmp->vm_name, (void *)addr, size);
	if (vs_size(vsp) != size)
		kmi_panic("vmem_free('%s', %p, %zu): bad free: wrong size "
		    "(allocated %zu)", vmp->vm_name, (void *)addr, size,
		    vs_size(vsp));
	*prev = vsp->vs_knext;
	vmp->vm_nbusy--;
	return (vsp);
}

/*
 * Move every allocated segment to a table of nbuckets (a power of two).
 * If no memory can be had for the new table the old one stays: chains get
 * longer, nothing breaks.
 */
void
vmi_hash_rescale(vmem_t *vmp, size_t nbuckets)
{
	size_t old_n = vmp->vm_hash_mask + 1;
	vmem_seg_t **old = vmp->vm_hash_table;
	vmem_seg_t **table;

	nbuckets = kmem_max(nbuckets, VMEM_HASH_INITIAL);
	if (nbuckets == old_n)
		return;
	if (nbuckets == VMEM_HASH_INITIAL) {
		table = vmp->vm_hash0;
		memset(table, 0, sizeof (vmp->vm_hash0));
	} else if ((table = vmi_meta_alloc(nbuckets * sizeof (void *))) ==
	    NULL) {
		return;
	}
	vmp->vm_hash_table = table;
	vmp->vm_hash_mask = nbuckets - 1;
	vmp->vm_hash_shift = highbit(vmp->vm_hash_mask);
	for (size_t i = 0; i < old_n; i++) {
		vmem_seg_t *vsp = old[i];
		while (vsp != NULL) {
			vmem_seg_t *next = vsp->vs_knext;
			vmem_seg_t **bucket = vmem_hash_bucket(vmp, vsp->vs_start);
			vsp->vs_knext = *bucket;
			*bucket = vsp;
			vsp = next;
		}
	}
	if (old != vmp->vm_hash0)
		vmi_meta_free(old, old_n * sizeof (void *));
}

void
vmi_hash_fini(vmem_t *vmp)
{
	if (vmp->vm_hash_table != vmp->vm_hash0)
		vmi_meta_free(vmp->vm_hash_table,
		    (vmp->vm_hash_mask + 1) * sizeof (void *));
	vmp->vm_hash_table = vmp->vm_hash0;
	vmp->vm_hash_mask = VMEM_HASH_INITIAL - 1;
}

/*
 * The arena's invariants, checked by kmem_verify() and expensive asserts.
 * Called with vm_lock held.
 *  1. The arena list is doubly linked and every span's segments are in
 *     address order, contiguous, and lie inside the span.
 *  2. No two adjacent segments of one span are both free (coalesced).
 *  3. Every free segment is on the freelist its size selects, and the
 *     freemap bit of every list is set exactly when the list is not empty.
 *  4. The hash holds exactly the allocated segments; the byte counts of
 *     allocated segments and spans match vk_mem_inuse and vk_mem_total.
 */
bool
vmi_is_valid(vmem_t *vmp)
{
	uint64_t inuse = 0, total = 0, nfree = 0, nbusy = 0, nwhole = 0;
	uint64_t ndirect = 0;
	vmem_seg_t *span = NULL;
	uintptr_t expect = 0;

	for (vmem_seg_t *vsp = vmp->vm_seg0.vs_anext; vsp != &vmp->vm_seg0;
	    vsp = vsp->vs_anext) {
		if (vsp->vs_anext->vs_aprev != vsp)
			return (false);
		switch (vsp->vs_type) {
		case VMEM_SPAN:
			if (span != NULL && expect != span->vs_end)
				return (false);
			span = vsp;
			expect = vsp->vs_start;
			total += vs_size(vsp);
			break;
		case VMEM_ALLOC:
		case VMEM_FREE:
			if (span == NULL || vsp->vs_start != expect ||
			    vsp->vs_end <= vsp->vs_start ||
			    vsp->vs_end > span->vs_end)
				return (false);
			expect = vsp->vs_end;
			if (vsp->vs_type == VMEM_ALLOC) {
				inuse += vs_size(vsp);
				nbusy++;
				ndirect += vsp->vs_direct;
			} else {
				nfree++;
				nwhole += vsp->vs_aprev == span &&
				    span->vs_import && vs_size(span) ==
				    vs_size(vsp);
				if (vsp->vs_anext->vs_type == VMEM_FREE)
					return (false);
			}
			break;
		default:	/* rotor, walker markers */
			break;
		}
	}
	if (span != NULL && expect != span->vs_end)
		return (false);
	for (int n = 0; n < VMEM_FREELISTS; n++) {
		bool bit = (vmp->vm_freemap >> n) & 1;
		if (bit != (vmp->vm_freelist[n] != NULL))
			return (false);
		for (vmem_seg_t *vsp = vmp->vm_freelist[n]; vsp != NULL;
		    vsp = vsp->vs_knext) {
			if (vsp->vs_type != VMEM_FREE ||
			    vmi_freelist_index(vs_size(vsp)) != n)
				return (false);
			nfree--;
		}
	}
	uint64_t nhashed = 0;
	for (size_t i = 0; i <= vmp->vm_hash_mask; i++)
		for (vmem_seg_t *vsp = vmp->vm_hash_table[i]; vsp != NULL;
		    vsp = vsp->vs_knext) {
			if (vsp->vs_type != VMEM_ALLOC)
				return (false);
			nhashed++;
		}
	return (nfree == 0 && nhashed == nbusy && nbusy == vmp->vm_nbusy &&
	    nwhole == vmp->vm_nwhole && ndirect == vmp->vm_qdirect &&
	    inuse == vmp->vm_kstat.vk_mem_inuse &&
	    total == vmp->vm_kstat.vk_mem_total);
}
