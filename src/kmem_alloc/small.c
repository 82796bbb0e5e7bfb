/*
 * kmem_small: the arena of the small kmem_alloc classes' slabs (buffers up
 * to KMEM_ALLOC_SMALL_MAX), so that those slabs, and only those, can be
 * had in large pages.
 *
 * Theory of operation
 * -------------------
 * A program that builds a large heap of small objects takes a fault for
 * every page it fills, and on a virtual machine a fault is dear: the
 * malloc suite's `frag` workload (some 560 MiB of objects of 16 to 1000
 * bytes) spent 0.95 s of its 2.0 s in the kernel, glibc 0.5 s for its
 * 300 MiB.  The slabs of small buffers are dense -- a page of one holds
 * several buffers, each of which its program writes -- so large pages cost
 * them next to nothing.  Not so the slabs of larger classes, of which a
 * program may touch a page in a buffer of 64 KiB: given large pages for
 * the whole heap, the suite's `mixed` workload peaked at 542 MiB instead
 * of 125.
 *
 * So the small classes' slabs come from kmem_small, which imports from
 * the heap in naturally aligned chunks of KMEM_SMALL_CHUNK (2 MiB: the
 * large page of x86-64 and of arm64 with 4 KiB pages; just the request
 * when a chunk no longer fits the memory budget), and once it holds
 * KMEM_SMALL_HUGE_AFTER (32 MiB, so that a small program's footprint is
 * never rounded up to large pages) it offers each new chunk to the
 * platform's large pages (kmem_plat_large_pages(): transparent huge pages
 * in user space; a kernel's platform may do nothing).  The offer is
 * withdrawn from a chunk when free pages of it are given back
 * (kmi_small_discard(), from kmem_update() and kmem_reap()): a large page
 * given back in part is split, and from then on the chunk is kept in small
 * pages, so that the system's background collapsing (khugepaged) cannot
 * make what was given back resident again.  A chunk that goes back to the
 * heap, where other arenas' slabs may reuse it, loses the offer too.
 * kmem_init(9)'s nohugepages turns all of this off, as for large buffers.
 * Only whole chunks (spans of the arena aligned to and a multiple of
 * KMEM_SMALL_CHUNK) are ever offered or withdrawn: the memory around a
 * span imported at the budget's edge may not be kmem's.
 *
 * Separate slabs cost sharing: a small class's empty slab no longer serves
 * a larger class.  The suite's `xthread` (buffers of 16 bytes to 8 KiB)
 * peaked at 20.3 MiB instead of 20.0, `small` at 4.1 instead of 4.0.
 *
 * Walkers: kmem_small is an arena under the heap like kmem_default, and
 * its allocated segments are the small classes' slabs; a debugger finds it
 * through the root kmem_small_arena (docs/internals.md).
 */
#include "kmem_alloc_impl.h"

vmem_t *kmem_small_arena;
static bool small_offered;	/* some chunk was offered large pages */

/* Is [va, va + size) a whole chunk, or whole chunks? */
static bool
small_chunks(uintptr_t va, size_t size)
{
	return (P2PHASE(va, KMEM_SMALL_CHUNK) == 0 &&
	    P2PHASE(size, KMEM_SMALL_CHUNK) == 0);
}

/* The arena's import: whole chunks if the budget allows, naturally aligned. */
void *
kmi_small_import(vmem_t *src, size_t *sizep, size_t align, int vmflag)
{
	size_t size = P2ROUNDUP(*sizep, KMEM_SMALL_CHUNK);
	size_t held = vmem_size(kmem_small_arena, VMEM_ALLOC | VMEM_FREE);
	void *va = size < *sizep ? NULL : vmem_xalloc(src, size,
	    kmem_max(align, KMEM_SMALL_CHUNK), 0, 0, NULL, NULL, vmflag);

	if (va == NULL) {
		size = *sizep;
		va = vmem_xalloc(src, size, align, 0, 0, NULL, NULL, vmflag);
		if (va == NULL)
			return (NULL);
	}
	*sizep = size;
	if (kmi_large_hugepages && held >= KMEM_SMALL_HUGE_AFTER &&
	    small_chunks((uintptr_t)va, size)) {
		kmem_store_relaxed(&small_offered, true);
		kmem_plat_large_pages(va, size, true);
	}
	return (va);
}

/* A span going back to the heap: a chunk's offer withdrawn. */
void
kmi_small_release(vmem_t *src, void *va, size_t size)
{
	if (kmem_load_relaxed(&small_offered) &&
	    small_chunks((uintptr_t)va, size))
		kmem_plat_large_pages(va, size, false);
	vmem_xfree(src, va, size);
}

static void
small_discard_cb(void *arg, uintptr_t span, size_t span_size, void *va,
    size_t size)
{
	(void)arg;
	if (kmem_load_relaxed(&small_offered) &&
	    small_chunks(span, span_size)) {
		uintptr_t lo = P2ALIGN((uintptr_t)va, KMEM_SMALL_CHUNK);
		uintptr_t hi = P2ROUNDUP((uintptr_t)va + size,
		    KMEM_SMALL_CHUNK);
		kmem_plat_large_pages((void *)lo, hi - lo, false);
	}
	kmem_plat_discard(va, size);
}

/*
 * Give the free pages of kmem_small back to the platform (kmem_update(),
 * kmem_reap()); the chunks they lie in lose the offer of large pages.
 */
void
kmi_small_discard(void)
{
	if (kmem_small_arena != NULL)
		vmi_walk_free(kmem_small_arena, small_discard_cb, NULL);
}
