/*
 * Magazine and depot layer internals.  See the theory statement in
 * magazine.c.
 */
#ifndef KMEM_MAGAZINE_IMPL_H
#define KMEM_MAGAZINE_IMPL_H

#include "../slab/slab_impl.h"

/*
 * The record a thread (hosted) or CPU (kernel) keeps: one slot per cache,
 * indexed by cache_cpu_index.  cpu_busy and cpu_stop implement the
 * asymmetric handshake between the owner and a purger.
 */
typedef struct kmem_cpu {
	uint32_t	cpu_busy;	/* owner is using its slots */
	uint32_t	cpu_stop;	/* a purger owns the slots */
	uint32_t	cpu_ncc;	/* slots in cpu_cc */
	uint32_t	cpu_pad;
	kmem_cpu_cache_t *cpu_cc;
	kmem_cpu_cache_t *cpu_retired;	/* outgrown tables, freed at exit */
	kmem_list_t	cpu_link;	/* kmem_cpu_list */
} kmem_cpu_t;

extern kmem_lock_t kmem_cache_list_lock;
extern kmem_list_t kmem_cache_list;
extern kmem_lock_t kmem_cpu_list_lock;
extern kmem_list_t kmem_cpu_list;
extern kmem_magtype_t kmem_magtype[];
extern const int kmem_nmagtype;
extern kmem_cache_t *kmem_cpu_record_cache;
extern bool kmem_cpu_enabled;

void kmem_magazine_destroy(kmem_cache_t *cp, kmem_magtype_t *mtp,
    kmem_magazine_t *mp, int nrounds);
void kmem_depot_ws_update(kmem_cache_t *cp);
void kmem_depot_ws_reap(kmem_cache_t *cp);
void kmem_depot_ws_zero(kmem_cache_t *cp);
void kmem_cpu_purge(kmem_cache_t *cp, kmem_magtype_t *new_magtype);
void kmem_magazine_resize(kmem_cache_t *cp);
uint64_t kmem_cpu_rounds(kmem_cache_t *cp, uint64_t *allocp,
    uint64_t *freep);
uint32_t kmem_cpu_index_alloc(void);
void kmem_cpu_index_free(uint32_t index);


/* cache.c */
void kmem_cache_bootstrap(void);
kmem_cache_t *kmem_cache_create_slab(const char *name, size_t bufsize,
    size_t align, kmem_constructor_t *ctor, kmem_destructor_t *dtor,
    kmem_reclaim_t *reclaim, void *private, vmem_t *vmp, int cflags,
    size_t slabsize);

#endif /* KMEM_MAGAZINE_IMPL_H */
