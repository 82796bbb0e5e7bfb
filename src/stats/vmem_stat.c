/*
 * vmem observability: named statistics (the illumos per-arena kstats),
 * walking every arena, and the ::vmem table.
 */
#include "stats_impl.h"

typedef struct vmem_stat_name {
	const char	*vsn_name;
	size_t		vsn_offset;
} vmem_stat_name_t;

#define VMEM_STAT(n, f)	{ n, offsetof(vmem_kstat_t, f) }
static const vmem_stat_name_t vmem_stat_names[] = {
	VMEM_STAT("mem_inuse", vk_mem_inuse),
	VMEM_STAT("mem_import", vk_mem_import),
	VMEM_STAT("mem_total", vk_mem_total),
	VMEM_STAT("alloc", vk_alloc),
	VMEM_STAT("free", vk_free),
	VMEM_STAT("wait", vk_wait),
	VMEM_STAT("fail", vk_fail),
	VMEM_STAT("lookup", vk_lookup),
	VMEM_STAT("search", vk_search),
	VMEM_STAT("import", vk_import),
	VMEM_STAT("export", vk_export),
	VMEM_STAT("populate", vk_populate),
};

/* Returns the named statistic; unknown names return 0. */
uint64_t
vmem_stat(vmem_t *vmp, const char *name)
{
	uint64_t v = 0;

	kmem_lock_enter(&vmp->vm_lock);
	if (kmi_strcmp(name, "segments") == 0) {
		for (vmem_seg_t *vsp = vmp->vm_seg0.vs_anext;
		    vsp != &vmp->vm_seg0; vsp = vsp->vs_anext)
			v += (vsp->vs_type & (VMEM_ALLOC | VMEM_FREE)) != 0;
	} else if (kmi_strcmp(name, "hash_size") == 0) {
		v = vmp->vm_hash_mask + 1;
	} else if (kmi_strcmp(name, "qcache_max") == 0) {
		v = vmp->vm_qcache_max;
	} else if (kmi_strcmp(name, "quantum") == 0) {
		v = vmp->vm_quantum;
	} else {
		for (size_t i = 0; i < sizeof (vmem_stat_names) /
		    sizeof (vmem_stat_names[0]); i++) {
			if (kmi_strcmp(name, vmem_stat_names[i].vsn_name) == 0)
				v = *(uint64_t *)(void *)((char *)&vmp->vm_kstat +
				    vmem_stat_names[i].vsn_offset);
		}
	}
	kmem_lock_exit(&vmp->vm_lock);
	return (v);
}

typedef struct vmem_print_arg {
	kmem_print_fn	*vpa_pr;
	void		*vpa_arg;
} vmem_print_arg_t;

static int
vmem_print_one(vmem_t *vmp, void *arg)
{
	vmem_print_arg_t *vpa = arg;
	char name[2 * 8 + VMEM_NAMELEN + 1];
	size_t depth = 0;
	vmem_kstat_t ks;

	for (vmem_t *src = vmp->vm_source; src != NULL && depth < 8;
	    src = src->vm_source)
		depth++;
	memset(name, ' ', 2 * depth);
	kmi_strlcpy(name + 2 * depth, vmp->vm_name, VMEM_NAMELEN + 1);
	kmem_lock_enter(&vmp->vm_lock);
	ks = vmp->vm_kstat;
	kmem_lock_exit(&vmp->vm_lock);
	kmi_printf(vpa->vpa_pr, vpa->vpa_arg,
	    "%-26s %14lu %14lu %14lu %13lu %6lu", name,
	    (unsigned long)ks.vk_mem_inuse, (unsigned long)ks.vk_mem_total,
	    (unsigned long)ks.vk_mem_import, (unsigned long)ks.vk_alloc,
	    (unsigned long)ks.vk_fail);
	return (0);
}

void
vmem_print(void (*pr)(void *arg, const char *line), void *arg)
{
	vmem_print_arg_t vpa = { pr, arg };

	kmi_printf(pr, arg, "%-26s %14s %14s %14s %13s %6s", "vmem name",
	    "memory in use", "memory total", "memory import", "alloc succeed",
	    "fail");
	kmi_printf(pr, arg, "%s", "-------------------------- -------------- "
	    "-------------- -------------- ------------- ------");
	vmem_arena_walk(vmem_print_one, &vpa);
}

/* One arena's row: the table's columns by their vmem_stat(9) names. */
static int
vmem_json_one(vmem_t *vmp, void *arg)
{
	kmem_json_t *kj = arg;
	vmem_kstat_t ks;

	kmem_lock_enter(&vmp->vm_lock);
	ks = vmp->vm_kstat;
	kmem_lock_exit(&vmp->vm_lock);
	kmi_json_row(kj, NULL);
	kmi_json_str(kj, "name", vmp->vm_name);
	kmi_json_str(kj, "source", vmp->vm_source != NULL ?
	    vmp->vm_source->vm_name : NULL);
	kmi_json_u64(kj, "mem_inuse", ks.vk_mem_inuse);
	kmi_json_u64(kj, "mem_total", ks.vk_mem_total);
	kmi_json_u64(kj, "mem_import", ks.vk_mem_import);
	kmi_json_u64(kj, "alloc", ks.vk_alloc);
	kmi_json_u64(kj, "fail", ks.vk_fail);
	kmi_json_u64(kj, "populate", ks.vk_populate);
	kmi_json_close(kj);
	return (0);
}

void
vmi_json_arenas(kmem_json_t *kj)
{
	kmi_json_list(kj, "arenas");
	(void)vmem_arena_walk(vmem_json_one, kj);
	kmi_json_close(kj);
}

/* The ::vmem table as JSON: every arena in creation order. */
void
vmem_print_json(void (*pr)(void *arg, const char *line), void *arg)
{
	kmem_json_t kj;

	kmi_json_begin(&kj, pr, arg, "vmem");
	vmi_json_arenas(&kj);
	kmi_json_end(&kj);
}
