/*
 * vmem internals.  Field prefixes: vm_ arena, vs_ segment, vk_ statistic.
 *
 * Lock order: vmem_list_lock -> vm_lock -> vmem_segpool lock (a leaf).
 * vm_lock is never held across a call to the source arena, the quantum
 * caches or the reclaim hook.
 */
#ifndef KMEM_VMEM_IMPL_H
#define KMEM_VMEM_IMPL_H

#include "../base/base.h"
#include <kmem/vmem.h>

#define VMEM_FREELISTS		64
#define VMEM_HASH_INITIAL	16
#define VMEM_NQCACHE_MAX	16
#define VMEM_SEGS_PER_OP	4	/* worst case segments one operation uses */
#define VMEM_MINFREE		(2 * VMEM_SEGS_PER_OP)

/* Slab size of a quantum cache serving sizes up to qcache_max. */
static inline size_t
vmem_qcache_slabsize(size_t qcache_max)
{
	return (kmem_max((size_t)1 << highbit(3 * qcache_max), 64));
}

typedef struct vmem_seg {
	uintptr_t	vs_start;
	uintptr_t	vs_end;
	struct vmem_seg	*vs_knext;	/* next of kin: hash chain or freelist */
	struct vmem_seg	*vs_kprev;	/* freelist only */
	struct vmem_seg	*vs_anext;	/* arena list, in span order */
	struct vmem_seg	*vs_aprev;
	uint8_t		vs_type;	/* VMEM_ALLOC, VMEM_FREE, VMEM_SPAN, ... */
	uint8_t		vs_import;	/* span: imported from the source */
	uint8_t		vs_direct;	/* allocated: a quantum-cache size */
					/* served by the arena itself */
} vmem_seg_t;

static inline size_t
vs_size(const vmem_seg_t *vsp)
{
	return (vsp->vs_end - vsp->vs_start);
}

/* The arena list (vm_lock held). */
static inline void
vmem_arena_insert_after(vmem_seg_t *at, vmem_seg_t *vsp)
{
	vsp->vs_aprev = at;
	vsp->vs_anext = at->vs_anext;
	at->vs_anext->vs_aprev = vsp;
	at->vs_anext = vsp;
}

static inline void
vmem_arena_remove(vmem_seg_t *vsp)
{
	vsp->vs_aprev->vs_anext = vsp->vs_anext;
	vsp->vs_anext->vs_aprev = vsp->vs_aprev;
}

/*
 * Whether free segment vsp is a whole imported span, one that could go
 * back to the source (vm_nwhole counts them).
 */
static inline bool
vmem_seg_is_whole(const vmem_seg_t *vsp)
{
	const vmem_seg_t *span = vsp->vs_aprev;

	return (span->vs_type == VMEM_SPAN && span->vs_import &&
	    vs_size(span) == vs_size(vsp));
}

/* Statistics: the illumos per-arena kstats. */
typedef struct vmem_kstat {
	uint64_t	vk_mem_inuse;	/* bytes allocated */
	uint64_t	vk_mem_import;	/* bytes imported from the source */
	uint64_t	vk_mem_total;	/* bytes in all spans */
	uint64_t	vk_alloc;	/* successful allocations */
	uint64_t	vk_free;	/* frees */
	uint64_t	vk_wait;	/* allocations that waited */
	uint64_t	vk_fail;	/* failed allocations */
	uint64_t	vk_lookup;	/* hash chain steps on free */
	uint64_t	vk_search;	/* freelist segments examined */
	uint64_t	vk_import;	/* spans imported */
	uint64_t	vk_export;	/* spans given back */
	uint64_t	vk_populate;	/* bytes made resident at once */
} vmem_kstat_t;

/*
 * How vmem reaches the layer above it, set by kmem at start-up: the kmem
 * caches that serve as quantum caches, reclaim when an arena runs dry,
 * the switch that sends every free to the slab layer while anyone waits,
 * and whether the calling thread is inside a reclaim (it must not wait:
 * it holds what others would need to free memory for it).
 */
typedef struct vmem_hooks {
	void	*(*vh_qcache_create)(const char *name, size_t size,
		    size_t align, size_t slabsize, vmem_t *vmp);
	void	*(*vh_qcache_alloc)(void *cache, int vmflag);
	void	(*vh_qcache_free)(void *cache, void *buf);
	void	(*vh_qcache_destroy)(void *cache);
	void	(*vh_reclaim)(int vmflag);
	void	(*vh_wait)(bool begin);
	bool	(*vh_reclaiming)(void);	/* this thread is reclaiming */
} vmem_hooks_t;

struct vmem {
	char		vm_name[VMEM_NAMELEN + 1];
	kmem_lock_t	vm_lock;
	int		vm_cflags;
	size_t		vm_quantum;
	int		vm_qshift;
	size_t		vm_qcache_max;
	size_t		vm_min_import;
	vmem_ximport_t	*vm_source_alloc;
	vmem_free_t	*vm_source_free;
	vmem_t		*vm_source;
	bool		vm_ximport;	/* vm_source_alloc takes a size pointer */
	vmem_seg_t	vm_seg0;	/* arena list head */
	vmem_seg_t	vm_rotor;	/* next-fit position */
	vmem_seg_t	*vm_freelist[VMEM_FREELISTS];
	uint64_t	vm_freemap;	/* bit n: vm_freelist[n] not empty */
	vmem_seg_t	**vm_hash_table;
	size_t		vm_hash_mask;
	int		vm_hash_shift;
	size_t		vm_nbusy;	/* allocated segments (in the hash) */
	vmem_seg_t	*vm_segfree;	/* this arena's segment reserve */
	unsigned	vm_nsegfree;
	void		*vm_qcache[VMEM_NQCACHE_MAX];
	size_t		vm_qdirect;	/* segments with vs_direct set */
	size_t		vm_nwhole;	/* free segments that are whole */
					/* imported spans */
	uint64_t	vm_trim_free;	/* vk_free at the last fruitless trim */
	uintptr_t	vm_lo;		/* lowest span address ever */
	uintptr_t	vm_hi;		/* highest span end ever */
	vmem_kstat_t	vm_kstat;
	vmem_t		*vm_next;	/* all arenas */
	vmem_seg_t	*vm_hash0[VMEM_HASH_INITIAL];
};

/* vmem_seg.c: segment supply, freelists, hash. */
bool vmi_seg_reserve(vmem_t *vmp, unsigned n);
vmem_seg_t *vmi_seg_get(vmem_t *vmp);
void vmi_seg_put(vmem_t *vmp, vmem_seg_t *vsp);
void vmi_seg_release_all(vmem_t *vmp);
void vmi_freelist_insert(vmem_t *vmp, vmem_seg_t *vsp);
void vmi_freelist_delete(vmem_t *vmp, vmem_seg_t *vsp);
int vmi_freelist_index(size_t size);
void vmi_hash_insert(vmem_t *vmp, vmem_seg_t *vsp);
vmem_seg_t *vmi_hash_find(vmem_t *vmp, uintptr_t addr);
vmem_seg_t *vmi_hash_delete(vmem_t *vmp, uintptr_t addr, size_t size);
void vmi_hash_rescale(vmem_t *vmp, size_t nbuckets);
void vmi_hash_fini(vmem_t *vmp);
void *vmi_meta_alloc(size_t size);
void vmi_meta_free(void *p, size_t size);
bool vmi_is_valid(vmem_t *vmp);

/* vmem_release.c: giving imported memory back. */
bool vmi_span_release(vmem_t *vmp, vmem_seg_t *vsp, uintptr_t *startp,
    size_t *sizep);
bool vmi_release_retained(vmem_t *vmp);
bool vmi_release_all_retained(void);

/* vmem.c */
extern kmem_lock_t vmem_list_lock;
extern vmem_t *vmem_list;
extern vmem_seg_t *vmem_seg_chunks;	/* segments' pages (vmem_seg.c) */
vmem_t *vmi_arena_nth(unsigned n);
extern const vmem_hooks_t *vmi_hooks;
void vmi_hooks_set(const vmem_hooks_t *hooks);
void vmi_hook_wait(bool begin);
void *vmi_xalloc_import(vmem_t *src, size_t *sizep, size_t align,
    int vmflag);
bool vmi_can_ever_alloc(vmem_t *vmp, size_t size, size_t align,
    int vmflag);

/* fork(2) support (vmem.c, vmem_pages.c, vmem_seg.c). */
#define VMEM_FORK_PREPARE	0
#define VMEM_FORK_PARENT	1
#define VMEM_FORK_CHILD		2
void vmi_fork(int phase);
void vmi_pages_fork(int phase);
kmem_lock_t *vmi_segpool_lockp(void);

/* vmem_pages.c: memory from the platform under the budget; waiting. */
#define VMEM_PAGES_CHUNK	(1024 * 1024)	/* the root arena's import unit */
void *vmi_pages_map(size_t size, size_t align, int vmflag);
void *vmi_pages_import(vmem_t *src, size_t *sizep, size_t align,
    int vmflag);
void vmi_pages_release(vmem_t *src, void *va, size_t size);
bool vmi_pages_within_budget(size_t size, int vmflag);
void vmi_pages_set_budget(size_t bytes, bool explicit);
void vmi_pages_set_populate(bool on);
void vmi_populate(vmem_t *vmp, void *va, size_t size);
void vmi_pages_unmap(void *va, size_t size);
void vmi_pages_stat(size_t *budgetp, size_t *reservep, size_t *mappedp,
    size_t *peakp, uint64_t *failp);
void vmi_memwait_enter(uint64_t *genp);
void vmi_memwait_sleep(uint64_t *genp);
void vmi_memwait_exit(void);
void vmi_memwait_signal(void);
bool vmi_memwait_active(void);

#endif /* KMEM_VMEM_IMPL_H */
