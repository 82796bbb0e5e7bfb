/*
 * The BSD malloc faces' shared internals: malloc types (malloc_type.c)
 * and the allocation paths (malloc.c).
 */
#ifndef KMEM_BSD_IMPL_H
#define KMEM_BSD_IMPL_H

#define KMEM_BSD_NO_NAME_MAP
#include <kmem/bsd/malloc.h>
#include <kmem/bsd/pool.h>
#include "../../src/face/kmem_face.h"

/* A type's per-CPU counters, from ks_counters (MALLOC_TYPE_NCOUNTERS). */
#define MT_ALLOCS	0	/* allocations */
#define MT_ALLOC_BYTES	1	/* their bytes */
#define MT_FREES	8	/* frees (a cache line on: the fast */
#define MT_FREE_BYTES	9	/* paths' stores do not alias) */

/* kmi_bsd_limit_take() */
#define LIMIT_OK	0
#define LIMIT_FULL	1	/* at the limit, and not to wait */
#define LIMIT_NEVER	2	/* larger than the limit itself */

#define KMEM_BSD_ALIGN	16	/* any object's alignment */

extern kmem_lock_t kmi_bsd_type_lock;
extern struct malloc_type *kmem_bsd_types;	/* registered types */
extern kmem_lock_t kmi_bsd_pool_lock;
extern struct pool *kmem_bsd_pools;		/* every pool */
extern struct pool_cache *kmem_bsd_pool_caches;	/* every pool cache */

bool kmi_bsd_type_register(struct malloc_type *type, const char *fn);
_Noreturn void kmi_bsd_type_bogus(const struct malloc_type *type, const char *fn);
uint32_t kmi_bsd_type_check(struct malloc_type *type, const char *fn);
void kmi_bsd_sample(struct malloc_type *type);
int kmi_bsd_limit_take(struct malloc_type *type, size_t bytes, bool wait,
    const char *fn);
void kmi_bsd_limit_give(struct malloc_type *type, size_t bytes);
void kmi_bsd_failed(struct malloc_type *type);
void kmi_bsd_debug_init(void);
void kmi_bsd_face_init(void);
void kmi_bsd_pool_fork_child(void);
unsigned long kmi_bsd_pool_failures(struct pool *pp);
void kmi_bsd_pool_table(void (*pr)(void *arg, const char *line), void *arg);
void kmi_bsd_pool_json(kmem_json_t *kj);
bool kmi_bsd_pool_report(const kmem_face_error_t *fe);

/*
 * The fast paths' key: the type's counters if it is a registered type
 * without a limit, else 0 (the slow path checks and registers it).
 */
static KMEM_ALWAYS_INLINE uint32_t
kmem_bsd_fast_key(const struct malloc_type *type)
{
	if (KMEM_UNLIKELY(type == NULL))
		return (0);
	uint32_t ctr = kmem_load_acquire(&type->ks_fast);

	return (KMEM_LIKELY(type->ks_magic == M_MAGIC) ? ctr : 0);
}

/* The tag a guarded buffer of type carries (0 is nobody's). */
static inline uintptr_t
kmem_bsd_tag(const struct malloc_type *type)
{
	return ((uintptr_t)type ^ (uintptr_t)0x6d616c6c6f6325ULL);
}

#endif /* KMEM_BSD_IMPL_H */
