/*
 * Arenas as wholes: creating and destroying them (with their quantum
 * caches), naming and walking them, the periodic hash rescaling, and
 * fork(2).  The theory statement is at the top of vmem.c.
 */
#include "vmem_impl.h"

/* ---- naming and walking arenas (the debugger's ::vmem, kmem_verify) ---- */

const char *
vmem_name(vmem_t *vmp)
{
	return (vmp->vm_name);
}

vmem_t *
vmem_source(vmem_t *vmp)
{
	return (vmp->vm_source);
}

/* Visit every arena in creation order; a non-zero return stops the walk. */
int
vmem_arena_walk(int (*func)(vmem_t *vmp, void *arg), void *arg)
{
	int rc = 0;

	kmem_lock_enter(&vmem_list_lock);
	for (vmem_t *vmp = vmem_list; vmp != NULL && rc == 0;
	    vmp = vmp->vm_next)
		rc = func(vmp, arg);
	kmem_lock_exit(&vmem_list_lock);
	return (rc);
}

/*
 * The nth arena of vmem_list, or NULL: for a reader that must not hold
 * vmem_list_lock while it takes locks that come before it (::kmastat
 * reads caches arena by arena).  Arenas created meanwhile come at the
 * end; one destroyed meanwhile shifts the rest.
 */
vmem_t *
vmi_arena_nth(unsigned n)
{
	kmem_lock_enter(&vmem_list_lock);
	vmem_t *vmp = vmem_list;
	for (; vmp != NULL && n > 0; n--)
		vmp = vmp->vm_next;
	kmem_lock_exit(&vmem_list_lock);
	return (vmp);
}

/* ---- creation and destruction ---- */

/*
 * The first arenas' structures (kmem's own, a few of its clients') come
 * from a static array, as illumos's vmem0[] does: mapped one to a page
 * they made 24 KiB resident at start-up for 7 KiB of structures.  Each
 * slot starts on its own cache line, so no two arenas' locks share one.
 * Later arenas take pages.  vmem_segpool_lock guards vb_used.
 */
#define VMEM_BOOT_ARENAS	12
typedef union vmem_boot {
	vmem_t	vb_arena;
	char	vb_pad[P2ROUNDUP(sizeof (vmem_t), KMEM_CACHE_LINE)];
} vmem_boot_t;
static _Alignas(KMEM_CACHE_LINE) vmem_boot_t vmem_boot[VMEM_BOOT_ARENAS];
static bool vmem_boot_used[VMEM_BOOT_ARENAS];

static vmem_t *
vmem_struct_alloc(void)
{
	vmem_t *vmp = NULL;

	kmem_lock_enter(vmi_segpool_lockp());
	for (int i = 0; i < VMEM_BOOT_ARENAS && vmp == NULL; i++) {
		if (!vmem_boot_used[i]) {
			vmem_boot_used[i] = true;
			vmp = &vmem_boot[i].vb_arena;
		}
	}
	kmem_lock_exit(vmi_segpool_lockp());
	return (vmp != NULL ? vmp : vmi_meta_alloc(sizeof (vmem_t)));
}

static void
vmem_struct_free(vmem_t *vmp)
{
	uintptr_t i = ((uintptr_t)vmp - (uintptr_t)vmem_boot) /
	    sizeof (vmem_boot_t);

	if ((uintptr_t)vmp < (uintptr_t)vmem_boot || i >= VMEM_BOOT_ARENAS) {
		vmi_meta_free(vmp, sizeof (*vmp));
		return;
	}
	memset(vmp, 0, sizeof (*vmp));	/* no stale span for a leak scan */
	kmem_lock_enter(vmi_segpool_lockp());
	vmem_boot_used[i] = false;
	kmem_lock_exit(vmi_segpool_lockp());
}

static vmem_t *
vmem_create_common(const char *name, void *base, size_t size, size_t quantum,
    vmem_ximport_t *afunc, bool ximport, vmem_free_t *ffunc, vmem_t *source,
    size_t qcache_max, int vmflag)
{
	if (name == NULL)
		kmi_panic("vmem_create(NULL, %p, %zu): bad arguments: no name",
		    base, size);
	if (quantum == 0 || !IS_P2(quantum))
		kmi_panic("vmem_create('%s'): quantum %zu is not a power of 2",
		    name, quantum);
	vmem_t *vmp = vmem_struct_alloc();
	if (vmp == NULL)
		return (NULL);
	memset(vmp, 0, sizeof (*vmp));
	kmi_strlcpy(vmp->vm_name, name, sizeof (vmp->vm_name));
	kmem_lock_init(&vmp->vm_lock);
	vmp->vm_cflags = vmflag & ~VM_KMFLAGS;
	vmp->vm_quantum = quantum;
	vmp->vm_qshift = highbit(quantum) - 1;
	vmp->vm_source_alloc = afunc;
	vmp->vm_ximport = ximport;
	vmp->vm_source_free = ffunc;
	vmp->vm_source = source;
	vmp->vm_trim_free = UINT64_MAX;		/* no trim tried yet */
	if (source == NULL && (afunc == (vmem_ximport_t *)(void *)vmem_alloc ||
	    afunc == vmi_xalloc_import))
		kmi_panic("vmem_create('%s'): imports from a NULL source "
		    "(kmem_default_arena before kmem started? call kmem_init() "
		    "first)", name);
	vmp->vm_seg0.vs_anext = vmp->vm_seg0.vs_aprev = &vmp->vm_seg0;
	vmp->vm_rotor.vs_type = VMEM_ROTOR;
	vmem_arena_insert_after(&vmp->vm_seg0, &vmp->vm_rotor);
	vmp->vm_hash_table = vmp->vm_hash0;
	vmp->vm_hash_mask = VMEM_HASH_INITIAL - 1;
	vmp->vm_hash_shift = highbit(vmp->vm_hash_mask);

	if (vmflag & VMC_NO_QCACHE)
		qcache_max = 0;
	/*
	 * Quantum caches are kmem caches: an arena that wants them before
	 * kmem is up is kmem's first use (the platform may set kmem up; if
	 * not, the arena has no quantum caches).  kmem_init() itself
	 * creates its quantum-cached arena only after the hooks are in
	 * place, so this never recurses.
	 */
	if (qcache_max != 0 && vmi_hooks == NULL)
		(void)kmem_plat_first_use();
	qcache_max = P2ALIGN(kmem_min(qcache_max,
	    (size_t)VMEM_NQCACHE_MAX << vmp->vm_qshift), quantum);
	if (qcache_max != 0 && vmi_hooks != NULL) {
		size_t slabsize = vmem_qcache_slabsize(qcache_max);
		for (size_t i = 0; i < (qcache_max >> vmp->vm_qshift); i++) {
			char qname[VMEM_NAMELEN + 16];
			size_t qsize = (i + 1) * quantum;
			kmi_snprintf(qname, sizeof (qname), "%s_%zu", name,
			    qsize);
			vmp->vm_qcache[i] = vmi_hooks->vh_qcache_create(qname,
			    qsize, quantum, slabsize, vmp);
			if (vmp->vm_qcache[i] == NULL) {
				vmem_destroy(vmp);
				return (NULL);
			}
			vmp->vm_qcache_max = qsize;
		}
	}
	if (base != NULL || size != 0) {
		if (vmem_add(vmp, base, size, vmflag) == NULL) {
			vmem_destroy(vmp);
			return (NULL);
		}
	}
	kmem_lock_enter(&vmem_list_lock);
	vmem_t **pp = &vmem_list;
	while (*pp != NULL)
		pp = &(*pp)->vm_next;
	*pp = vmp;
	kmem_lock_exit(&vmem_list_lock);
	return (vmp);
}

vmem_t *
vmem_create(const char *name, void *base, size_t size, size_t quantum,
    vmem_alloc_t *afunc, vmem_free_t *ffunc, vmem_t *source,
    size_t qcache_max, int vmflag)
{
	return (vmem_create_common(name, base, size, quantum,
	    (vmem_ximport_t *)(void *)afunc, false, ffunc, source, qcache_max,
	    vmflag));
}

vmem_t *
vmem_xcreate(const char *name, void *base, size_t size, size_t quantum,
    vmem_ximport_t *afunc, vmem_free_t *ffunc, vmem_t *source,
    size_t qcache_max, int vmflag)
{
	return (vmem_create_common(name, base, size, quantum, afunc, true,
	    ffunc, source, qcache_max, vmflag));
}

void
vmem_destroy(vmem_t *vmp)
{
	kmem_lock_enter(&vmem_list_lock);
	for (vmem_t **pp = &vmem_list; *pp != NULL; pp = &(*pp)->vm_next) {
		if (*pp == vmp) {
			*pp = vmp->vm_next;
			break;
		}
	}
	kmem_lock_exit(&vmem_list_lock);

	for (int i = 0; i < VMEM_NQCACHE_MAX; i++)
		if (vmp->vm_qcache[i] != NULL)
			vmi_hooks->vh_qcache_destroy(vmp->vm_qcache[i]);

	uint64_t leaked = vmp->vm_kstat.vk_mem_inuse;
	if (leaked != 0)
		kmi_warn("vmem_destroy('%s'): leaked %lu %s", vmp->vm_name,
		    (unsigned long)leaked, (vmp->vm_cflags & VMC_IDENTIFIER) ?
		    "identifiers" : "bytes");

	vmem_seg_t *vsp = vmp->vm_seg0.vs_anext;
	while (vsp != &vmp->vm_seg0) {
		vmem_seg_t *next = vsp->vs_anext;
		if (vsp->vs_type == VMEM_SPAN && vsp->vs_import &&
		    vmp->vm_source_free != NULL)
			vmp->vm_source_free(vmp->vm_source,
			    (void *)vsp->vs_start, vs_size(vsp));
		if (vsp != &vmp->vm_rotor)
			vmi_seg_put(vmp, vsp);
		vsp = next;
	}
	vmi_seg_release_all(vmp);
	vmi_hash_fini(vmp);
	vmem_struct_free(vmp);
}

/* Shrink or grow each hash table to about one segment per bucket. */
void
vmem_update(void)
{
	kmem_lock_enter(&vmem_list_lock);
	for (vmem_t *vmp = vmem_list; vmp != NULL; vmp = vmp->vm_next) {
		kmem_lock_enter(&vmp->vm_lock);
		size_t want = kmem_hash_size(vmp->vm_nbusy);
		if (kmem_hash_rescale_due(want, vmp->vm_hash_mask + 1))
			vmi_hash_rescale(vmp, want);
		kmem_lock_exit(&vmp->vm_lock);
	}
	kmem_lock_exit(&vmem_list_lock);
}

/*
 * fork(2): take every vmem lock before, so the child finds consistent
 * arenas; release them after in the parent; re-initialise them in the
 * child, which has only the forking thread.  Order: the arena list, each
 * arena, the segment pool, then vmem_pages.c's locks.
 */
void
vmi_fork(int phase)
{
	if (phase == VMEM_FORK_PREPARE) {
		kmem_lock_enter(&vmem_list_lock);
		for (vmem_t *vmp = vmem_list; vmp != NULL; vmp = vmp->vm_next)
			kmem_lock_enter(&vmp->vm_lock);
		kmem_lock_enter(vmi_segpool_lockp());
		vmi_pages_fork(phase);
		return;
	}
	vmi_pages_fork(phase);
	if (phase == VMEM_FORK_PARENT) {
		kmem_lock_exit(vmi_segpool_lockp());
		for (vmem_t *vmp = vmem_list; vmp != NULL; vmp = vmp->vm_next)
			kmem_lock_exit(&vmp->vm_lock);
		kmem_lock_exit(&vmem_list_lock);
	} else {
		kmem_lock_init(vmi_segpool_lockp());
		for (vmem_t *vmp = vmem_list; vmp != NULL; vmp = vmp->vm_next)
			kmem_lock_init(&vmp->vm_lock);
		kmem_lock_init(&vmem_list_lock);
	}
}
