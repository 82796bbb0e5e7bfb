/*
 * NetBSD uvm_km(9) on kmem: page-granular allocations from vmem arenas of
 * their own, one per type, so that a free names the type it was
 * allocated with or is reported.
 *
 *   UVM_KMF_WIRED	pages from kmem's heap (the memory budget), backed
 *			at once (every page written) and locked in memory
 *			where the platform allows (kmem_plat_wire());
 *   UVM_KMF_PAGEABLE	pages from kmem's heap, zero-filled (hosted, zeroing
 *			them touches them);
 *   UVM_KMF_VAONLY	address space only: mappings of the platform's that
 *			nothing touches (hosted, no memory is used until the
 *			caller touches it), outside the memory budget.
 *
 * Waiting is vmem's: a request without UVM_KMF_NOWAIT waits for frees;
 * with UVM_KMF_CANFAIL, one that could never be satisfied returns 0.
 * Address space is nobody's to free: a VA-only request the platform
 * cannot map returns 0 with UVM_KMF_CANFAIL or NOWAIT, and panics
 * otherwise.
 */
#include "bsd_impl.h"
#include <kmem/bsd/uvm_km.h>

struct vm_map {
	const char	*vm_name;
};
static struct vm_map kmem_uvm_kernel_map = { "kernel_map" };
struct vm_map *kernel_map = &kmem_uvm_kernel_map;

static vmem_t *uvm_arenas[3];		/* wired, pageable, VA only */
static const char *const uvm_names[3] = { "uvm_km_wired",
	"uvm_km_pageable", "uvm_km_va" };

static void *
uvm_va_import(vmem_t *src, size_t size, int vmflag)
{
	(void)src;
	(void)vmflag;
	return (kmem_plat_map(size));
}

static void
uvm_va_release(vmem_t *src, void *va, size_t size)
{
	(void)src;
	kmem_plat_unmap(va, size);
}

/* 0 wired, 1 pageable, 2 VA only; panics unless exactly one is given. */
static int
uvm_type(int flags, const char *fn)
{
	switch (flags & UVM_KMF_TYPEMASK) {
	case UVM_KMF_WIRED:
		return (0);
	case UVM_KMF_PAGEABLE:
		return (1);
	case UVM_KMF_VAONLY:
		return (2);
	}
	kmi_panic("%s: flags 0x%x: exactly one of UVM_KMF_WIRED, "
	    "UVM_KMF_PAGEABLE and UVM_KMF_VAONLY is required", fn,
	    (unsigned)flags);
}

static vmem_t *
uvm_arena(int type)
{
	vmem_t *vmp = kmem_load_acquire(&uvm_arenas[type]);

	if (vmp != NULL)
		return (vmp);
	if (!kmem_face_init())
		kmi_panic("uvm_km_alloc: kmem could not start (see "
		    "kmem_init(9))");
	/* No lock (none to hold across fork): the first to publish wins. */
	size_t page = kmem_plat_pagesize();
	vmem_t *mine = type == 2 ? vmem_create(uvm_names[type], NULL, 0, page,
	    uvm_va_import, uvm_va_release, NULL, 0, VM_SLEEP) :
	    vmem_create(uvm_names[type], NULL, 0, page, vmem_alloc, vmem_free,
	    vmem_source(kmem_oversize_arena), 0, VM_SLEEP);
	if (kmem_cas(&uvm_arenas[type], &vmp, mine))
		return (mine);
	vmem_destroy(mine);
	return (vmp);
}

static void
uvm_check(const struct vm_map *map, size_t size, size_t align,
    const char *fn)
{
	size_t page = kmem_plat_pagesize();

	if (map == NULL)
		kmi_panic("%s: no map", fn);
	if (size == 0)
		kmi_panic("%s: size 0", fn);
	if (align % page != 0)
		kmi_panic("%s: alignment %zu is not a multiple of the page "
		    "size (%zu)", fn, align, page);
}

vaddr_t
uvm_km_alloc(struct vm_map *map, vsize_t size, vsize_t align, int flags)
{
	int type = uvm_type(flags, "uvm_km_alloc");
	size_t page = kmem_plat_pagesize();

	uvm_check(map, size, align, "uvm_km_alloc");
	vmem_t *vmp = uvm_arena(type);
	bool nowait = (flags & (UVM_KMF_NOWAIT | UVM_KMF_TRYLOCK)) != 0;
	if (size > SIZE_MAX - page) {
		if (nowait || (flags & UVM_KMF_CANFAIL))
			return (0);
		kmi_panic("uvm_km_alloc: size %zu is larger than the address "
		    "space", (size_t)size);
	}
	size_t rsize = P2ROUNDUP(size, page);
	align = kmem_max(align, page);
	/* Address space is not freed by others: VA only never waits. */
	bool sleep = !nowait && !(flags & UVM_KMF_CANFAIL) && type != 2;
	void *va = vmem_xalloc(vmp, rsize, align, 0, 0, NULL, NULL,
	    sleep ? VM_SLEEP : VM_NOSLEEP);
	if (va == NULL && !nowait && type != 2 && (flags & UVM_KMF_CANFAIL)) {
		size_t budget, meta;
		if (kmem_face_could_ever(rsize + align - page, KM_SLEEP,
		    &budget, &meta))
			va = vmem_xalloc(vmp, rsize, align, 0, 0, NULL, NULL,
			    VM_SLEEP);
	}
	if (va == NULL && type == 2 && !nowait && !(flags & UVM_KMF_CANFAIL))
		kmi_panic("uvm_km_alloc: no address space for %zu bytes "
		    "aligned to %zu (UVM_KMF_VAONLY)", rsize, (size_t)align);
	if (va == NULL)
		return (0);
	if (type == 0) {
		if (flags & UVM_KMF_ZERO)
			memset(va, 0, rsize);
		else
			for (size_t off = 0; off < rsize; off += page)
				((volatile char *)va)[off] = 0;
		(void) kmem_plat_wire(va, rsize, true);
	} else if (type == 1) {
		memset(va, 0, rsize);
	}
	return ((vaddr_t)va);
}

void
uvm_km_free(struct vm_map *map, vaddr_t addr, vsize_t size, int flags)
{
	int type = uvm_type(flags, "uvm_km_free");
	size_t page = kmem_plat_pagesize();

	uvm_check(map, size, 0, "uvm_km_free");
	size_t rsize = P2ROUNDUP(size, page);
	vmem_t *vmp = kmem_load_acquire(&uvm_arenas[type]);
	if (vmp == NULL || (addr & (page - 1)) != 0 ||
	    !vmem_contains(vmp, (void *)addr, rsize))
		kmi_panic("uvm_km_free(%p, %zu, 0x%x): not a %s allocation",
		    (void *)addr, (size_t)size, (unsigned)flags,
		    uvm_names[type]);
	if (type == 0)
		(void) kmem_plat_wire((void *)addr, rsize, false);
	vmem_xfree(vmp, (void *)addr, rsize);
}
